/* selfmetrics.c — counters behind GET /metrics. One mutex guards a small table of actions; each
 * action keeps its status counts and a fixed-bucket latency histogram (Prometheus
 * cumulative buckets are computed at render time from per-bucket counts). */
#include "server/selfmetrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACTIONS 256
#define MAX_STATUSES 24

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,    10};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

struct action_stats {
    char name[64];
    struct {
        int status;
        uint64_t count;
    } by_status[MAX_STATUSES];
    size_t nstatus;
    uint64_t buckets[NBUCKETS + 1]; /* last one is +Inf only */
    uint64_t count;
    double sum_s;
};

struct owl_selfmetrics {
    pthread_mutex_t mu;
    struct action_stats *actions;
    size_t nactions;
    uint64_t bytes_in, bytes_out;
};

int owl_selfmetrics_new(owl_selfmetrics **out)
{
    owl_selfmetrics *m = calloc(1, sizeof *m);
    if (!m)
        return OWL_ENOMEM;
    m->actions = calloc(MAX_ACTIONS + 1, sizeof *m->actions);
    if (!m->actions) {
        free(m);
        return OWL_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return OWL_OK;
}

void owl_selfmetrics_free(owl_selfmetrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->actions);
    free(m);
}

/* Finds or adds the action's row; the extra row past MAX_ACTIONS collects the overflow. */
static struct action_stats *action_row(owl_selfmetrics *m, const char *name)
{
    for (size_t i = 0; i < m->nactions; i++)
        if (strcmp(m->actions[i].name, name) == 0)
            return &m->actions[i];
    struct action_stats *a;
    if (m->nactions < MAX_ACTIONS) {
        a = &m->actions[m->nactions++];
        snprintf(a->name, sizeof a->name, "%s", name);
    } else {
        a = &m->actions[MAX_ACTIONS];
        snprintf(a->name, sizeof a->name, "other");
    }
    return a;
}

void owl_selfmetrics_observe(owl_selfmetrics *m, const char *action, int status, size_t bytes_in,
                             size_t bytes_out, int64_t duration_ns)
{
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && secs > bucket_le[b])
        b++;
    pthread_mutex_lock(&m->mu);
    struct action_stats *a = action_row(m, action && *action ? action : "none");
    size_t i = 0;
    while (i < a->nstatus && a->by_status[i].status != status)
        i++;
    if (i == a->nstatus && a->nstatus < MAX_STATUSES)
        a->by_status[a->nstatus++].status = status;
    if (i < a->nstatus)
        a->by_status[i].count++;
    a->buckets[b]++;
    a->count++;
    a->sum_s += secs;
    m->bytes_in += bytes_in;
    m->bytes_out += bytes_out;
    pthread_mutex_unlock(&m->mu);
}

int owl_selfmetrics_render(owl_selfmetrics *m, const owl_selfmetrics_gauges *g, owl_buf *o)
{
    owl_buf_puts(o, "# HELP owl_build_info owld version.\n# TYPE owl_build_info gauge\n");
    owl_buf_printf(o, "owl_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
    owl_buf_puts(o, "# HELP owl_http_requests_total HTTP requests by action and status.\n"
                    "# TYPE owl_http_requests_total counter\n");
    pthread_mutex_lock(&m->mu);
    size_t n = m->nactions + (m->actions[MAX_ACTIONS].count ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        struct action_stats *a = i < m->nactions ? &m->actions[i] : &m->actions[MAX_ACTIONS];
        for (size_t s = 0; s < a->nstatus; s++)
            owl_buf_printf(o, "owl_http_requests_total{action=\"%s\",status=\"%d\"} %llu\n",
                           a->name, a->by_status[s].status,
                           (unsigned long long)a->by_status[s].count);
    }
    owl_buf_puts(o, "# HELP owl_http_request_duration_seconds Time from the first byte of a "
                    "request to its response being queued.\n"
                    "# TYPE owl_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        struct action_stats *a = i < m->nactions ? &m->actions[i] : &m->actions[MAX_ACTIONS];
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += a->buckets[b];
            owl_buf_printf(o,
                           "owl_http_request_duration_seconds_bucket{action=\"%s\",le=\"%g\"} "
                           "%llu\n",
                           a->name, bucket_le[b], (unsigned long long)cum);
        }
        owl_buf_printf(o,
                       "owl_http_request_duration_seconds_bucket{action=\"%s\",le=\"+Inf\"} %llu\n"
                       "owl_http_request_duration_seconds_sum{action=\"%s\"} %.6f\n"
                       "owl_http_request_duration_seconds_count{action=\"%s\"} %llu\n",
                       a->name, (unsigned long long)a->count, a->name, a->sum_s, a->name,
                       (unsigned long long)a->count);
    }
    uint64_t in = m->bytes_in, out = m->bytes_out;
    pthread_mutex_unlock(&m->mu);
    owl_buf_printf(o,
                   "# HELP owl_http_received_bytes_total Request bytes read from sockets.\n"
                   "# TYPE owl_http_received_bytes_total counter\n"
                   "owl_http_received_bytes_total %llu\n"
                   "# HELP owl_http_sent_bytes_total Response bytes queued to sockets.\n"
                   "# TYPE owl_http_sent_bytes_total counter\n"
                   "owl_http_sent_bytes_total %llu\n"
                   "# HELP owl_http_open_connections Connections currently open.\n"
                   "# TYPE owl_http_open_connections gauge\n"
                   "owl_http_open_connections %ld\n"
                   "# HELP owl_meta_records Records in the metadata store.\n"
                   "# TYPE owl_meta_records gauge\n"
                   "owl_meta_records %zu\n"
                   "# HELP owl_audit_events_total Audit events recorded since start.\n"
                   "# TYPE owl_audit_events_total counter\n"
                   "owl_audit_events_total %llu\n",
                   (unsigned long long)in, (unsigned long long)out, g->open_connections,
                   g->meta_records, (unsigned long long)g->audit_events);
    return o->data ? OWL_OK : OWL_ENOMEM;
}

/* ---- the store ---- */

#define MAX_TABLES 16

struct table_sums {
    const char *table;
    uint64_t rows, raw, stored, parts;
};

struct sums {
    struct table_sums t[MAX_TABLES];
    size_t n;
};

static int add_partition(void *ud, const owl_store_table_stats *p)
{
    struct sums *s = ud;
    size_t i = 0;
    while (i < s->n && strcmp(s->t[i].table, p->table) != 0)
        i++;
    if (i == s->n) {
        if (s->n == MAX_TABLES)
            return 0;
        s->t[s->n++].table = p->table;
    }
    s->t[i].rows += p->rows;
    s->t[i].raw += p->raw_bytes;
    s->t[i].stored += p->stored_bytes;
    s->t[i].parts += p->parts;
    return 0;
}

int owl_selfmetrics_render_store(owl_store *st, owl_buf *o)
{
    struct sums s;
    memset(&s, 0, sizeof s);
    owl_store_partitions(st, add_partition, &s, NULL);
    static const struct {
        const char *name, *help;
        size_t off;
    } per_table[] = {
        {"owl_store_rows", "Rows in the table (parts and memtables).",
         offsetof(struct table_sums, rows)},
        {"owl_store_raw_bytes", "Uncompressed size of the table's values.",
         offsetof(struct table_sums, raw)},
        {"owl_store_stored_bytes", "Bytes of the table's part files.",
         offsetof(struct table_sums, stored)},
        {"owl_store_parts", "Part files of the table.", offsetof(struct table_sums, parts)},
    };
    for (size_t k = 0; k < sizeof per_table / sizeof per_table[0]; k++) {
        owl_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", per_table[k].name, per_table[k].help,
                       per_table[k].name);
        for (size_t i = 0; i < s.n; i++) {
            const uint64_t *v = (const uint64_t *)((const char *)&s.t[i] + per_table[k].off);
            owl_buf_printf(o, "%s{table=\"%s\"} %llu\n", per_table[k].name, s.t[i].table,
                           (unsigned long long)*v);
        }
    }
    owl_store_stats ss;
    owl_store_stats_get(st, &ss);
    owl_buf_printf(o,
                   "# HELP owl_store_wal_bytes Bytes in live WAL segments.\n"
                   "# TYPE owl_store_wal_bytes gauge\nowl_store_wal_bytes %llu\n"
                   "# HELP owl_store_fsyncs_total WAL fsyncs (group commit shares them).\n"
                   "# TYPE owl_store_fsyncs_total counter\nowl_store_fsyncs_total %llu\n"
                   "# HELP owl_store_compactions_total Part merges.\n"
                   "# TYPE owl_store_compactions_total counter\nowl_store_compactions_total %llu\n"
                   "# HELP owl_store_quarantined_parts_total Parts moved to quarantine.\n"
                   "# TYPE owl_store_quarantined_parts_total counter\n"
                   "owl_store_quarantined_parts_total %llu\n",
                   (unsigned long long)ss.wal_bytes, (unsigned long long)ss.fsyncs,
                   (unsigned long long)ss.compactions, (unsigned long long)ss.quarantined);
    return o->data ? OWL_OK : OWL_ENOMEM;
}

/* insights.c — CloudWatch Logs Insights queries run over the logs table: StartQuery's queue,
 * the bounded pool of threads that runs the queries, their state and results for
 * GetQueryResults, StopQuery and DescribeQueries, GetLogRecord, and the saved query
 * definitions (owl_meta records of kind "insights-query"). The language is index/'s
 * (owl_ins_*); docs/insights.md says what is pushed down and every limit.
 *
 * Invariants: a query is in `all` from StartQuery until it is pruned (finished, beyond the
 * `keep` newest finished ones of its tenant); it is in the run queue only while Scheduled;
 * only the worker that took it writes its result, and it does so under mu; a query is freed
 * when its last reference (the list, a worker, a caller's view) goes. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"
#include "ingest/ingest.h"

#define KIND_DEF "insights-query"
#define MAX_QUERY_BYTES 10000
#define PTR_FIXED 32 /* hex of time (16) and row hash (16) before the group's hex */

enum { STOP_CANCEL = 1, STOP_TIMEOUT = 2, STOP_PAST = 3 }; /* positive: never an owl_err */

typedef struct iquery {
    char id[OWL_INSIGHTS_ID_LEN];
    char *tenant, *text;
    char **groups;
    size_t ngroups;
    int64_t start_ms, end_ms, create_ms;
    size_t limit;
    owl_ins_query *q;
    enum owl_insights_status status;
    atomic_int stop; /* STOP_CANCEL once StopQuery asked */
    atomic_uint_fast64_t scanned, matched, bytes; /* progress, read while running */
    owl_ins_result *res;
    char error[256];
    int refs;
    struct iquery *next_run; /* the run queue */
} iquery;

struct owl_insights {
    owl_logs *logs;
    owl_meta *meta;
    owl_insights_options opt;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t *threads;
    size_t nthreads;
    int stopping;
    iquery *head, *tail; /* Scheduled, oldest first */
    iquery **all;        /* every query kept, oldest first */
    size_t n, cap;
};

static const char *const status_names[] = {
    [OWL_INS_SCHEDULED] = "Scheduled", [OWL_INS_RUNNING] = "Running",
    [OWL_INS_COMPLETE] = "Complete",   [OWL_INS_FAILED] = "Failed",
    [OWL_INS_CANCELLED] = "Cancelled", [OWL_INS_TIMEOUT] = "Timeout",
};

const char *owl_insights_status_name(enum owl_insights_status s)
{
    return (unsigned)s < OWL_ARRAY_LEN(status_names) ? status_names[s] : "Unknown";
}

int owl_insights_status_parse(const char *name, enum owl_insights_status *out)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(status_names); i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum owl_insights_status)i;
            return OWL_OK;
        }
    return OWL_EINVAL;
}

void owl_insights_options_default(owl_insights_options *o)
{
    o->workers = 2;
    o->per_tenant = 30;
    o->timeout_ms = 60 * 60 * 1000;
    o->max_bytes = (size_t)256 << 20;
    o->keep = 100;
}

static int finished(enum owl_insights_status s)
{
    return s != OWL_INS_SCHEDULED && s != OWL_INS_RUNNING;
}

static void iq_free(iquery *iq)
{
    if (!iq)
        return;
    for (size_t i = 0; i < iq->ngroups; i++)
        free(iq->groups[i]);
    free(iq->groups);
    free(iq->tenant);
    free(iq->text);
    owl_ins_free(iq->q);
    owl_ins_result_free(iq->res);
    free(iq);
}

/* Drops one reference; mu held. */
static void iq_unref(iquery *iq)
{
    if (iq && --iq->refs == 0)
        iq_free(iq);
}

/* A random (version 4) UUID, as CloudWatch's query ids are. */
static int new_id(char out[OWL_INSIGHTS_ID_LEN])
{
    uint8_t b[16];
    if (owl_random(b, sizeof b) != OWL_OK)
        return OWL_EIO;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, OWL_INSIGHTS_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return OWL_OK;
}

/* ---- @ptr: where an event is, for GetLogRecord ----
 * 16 hex digits of the event time (ms, two's complement), 16 of owl_hash64 over its ingestion
 * time, stream and message, then the group name in hex. */

static uint64_t row_hash(const owl_logs_row *r)
{
    uint64_t h = owl_hash64(&r->ingest_ms, sizeof r->ingest_ms, 0x1f5);
    h = owl_hash64(r->stream.p, r->stream.n, h);
    return owl_hash64(r->message.p, r->message.n, h);
}

static void hex_u64(char *p, uint64_t v)
{
    static const char d[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        p[i] = d[v & 15];
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_u64_hex(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = unhex(p[i]);
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* ---- running a query ---- */

typedef struct feeder {
    owl_insights *in;
    iquery *iq;
    owl_ins_run *run;
    owl_bytes group;
    char *ptr;        /* PTR_FIXED + the group's hex (fixed per group) */
    size_t ptr_len;
    int want_ptr;
    int order;        /* owl_ins_time_order: rows come in that order, and stop once past */
    owl_ins_event *evs; /* a batch's events, when neither @ptr nor an order is wanted */
    size_t nevs;
    int times_only;   /* owl_ins_run_times_only: a batch's times alone */
    int64_t *times;
    size_t ntimes;
    int64_t deadline; /* monotonic ms */
    owl_error *err;
    int failed;       /* the run's error code once a feed failed */
} feeder;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int feed_rows(void *ud, const owl_logs_row *rows, size_t n)
{
    feeder *f = ud;
    int rc = 0, stop = atomic_load_explicit(&f->iq->stop, memory_order_relaxed);
    if (stop)
        return stop;
    if (mono_ms() > f->deadline)
        return STOP_TIMEOUT;
    uint64_t bytes = 0;
    size_t fed = 0;
    if (f->times_only) { /* the times alone */
        if (n > f->ntimes) {
            int64_t *t = realloc(f->times, n * sizeof *t);
            if (!t)
                return f->failed = owl_error_set(f->err, OWL_ENOMEM, "out of memory");
            f->times = t;
            f->ntimes = n;
        }
        for (size_t i = 0; i < n; i++) {
            f->times[i] = rows[i].time_ms;
            bytes += rows[i].message.n;
        }
        if ((rc = owl_ins_run_feed_times(f->run, f->times, n, f->err)) != OWL_OK)
            return f->failed = rc;
        fed = n;
    } else if (!f->want_ptr && !f->order) { /* the batch at once */
        if (n > f->nevs) {
            owl_ins_event *e = realloc(f->evs, n * sizeof *e);
            if (!e)
                return f->failed = owl_error_set(f->err, OWL_ENOMEM, "out of memory");
            f->evs = e;
            f->nevs = n;
        }
        for (size_t i = 0; i < n; i++) {
            f->evs[i] = (owl_ins_event){rows[i].time_ms, rows[i].ingest_ms, rows[i].message,
                                        rows[i].stream, f->group, {0}};
            bytes += rows[i].message.n;
        }
        if ((rc = owl_ins_run_feed_batch(f->run, f->evs, n, f->err)) != OWL_OK)
            return f->failed = rc;
        fed = n;
    }
    for (; fed < n; fed++) {
        const owl_logs_row *w = &rows[fed];
        if (f->order && owl_ins_run_past(f->run, w->time_ms)) {
            rc = STOP_PAST; /* no later row of this scan can be kept */
            break;
        }
        owl_ins_event ev = {w->time_ms, w->ingest_ms, w->message, w->stream, f->group, {0}};
        if (f->want_ptr) {
            hex_u64(f->ptr, (uint64_t)w->time_ms);
            hex_u64(f->ptr + 16, row_hash(w));
            ev.ptr = (owl_bytes){f->ptr, f->ptr_len};
        }
        bytes += w->message.n;
        if ((rc = owl_ins_run_feed(f->run, &ev, f->err)) != OWL_OK)
            return f->failed = rc;
    }
    atomic_fetch_add_explicit(&f->iq->matched, fed, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->iq->bytes, bytes, memory_order_relaxed);
    return rc;
}

/* Runs iq to its end; returns the final status and fills *res or err. */
static enum owl_insights_status run_query(owl_insights *in, iquery *iq, owl_ins_result **res,
                                          owl_error *err)
{
    owl_ins_limits lim = {.max_bytes = in->opt.max_bytes, .max_rows = iq->limit};
    owl_ins_run *run = NULL;
    feeder f = {.in = in, .iq = iq, .err = err, .deadline = mono_ms() + in->opt.timeout_ms,
                .want_ptr = !owl_ins_aggregating(iq->q), .order = owl_ins_time_order(iq->q)};
    unsigned cols = owl_ins_columns(iq->q);
    int rc = owl_ins_run_new(iq->q, &lim, &run, err);
    uint64_t scanned = 0;
    f.times_only = rc == OWL_OK && !f.order && owl_ins_run_times_only(run);
    for (size_t g = 0; rc == OWL_OK && g < iq->ngroups; g++) {
        size_t gl = strlen(iq->groups[g]);
        char *ptr = malloc(PTR_FIXED + 2 * gl + 1);
        if (!ptr) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < gl; i++)
            snprintf(ptr + PTR_FIXED + 2 * i, 3, "%02x", (unsigned char)iq->groups[g][i]);
        /* @log is "account:group", as CloudWatch shows it */
        size_t tl = strlen(iq->tenant);
        char *logname = malloc(tl + 1 + gl + 1);
        if (!logname) {
            free(ptr);
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        snprintf(logname, tl + gl + 2, "%s:%s", iq->tenant, iq->groups[g]);
        f.run = run;
        f.ptr = ptr;
        f.ptr_len = PTR_FIXED + 2 * gl;
        f.group = (owl_bytes){logname, tl + 1 + gl};
        owl_logs_scan_q q = {.group = iq->groups[g], .start_ms = iq->start_ms,
                             .end_ms = iq->end_ms, .filter = owl_ins_filter(iq->q),
                             .with_message = f.want_ptr || (cols & (1u << OWL_LOGS_MESSAGE)),
                             .order = f.order, .fn = feed_rows, .ud = &f};
        owl_scan_stats st;
        owl_error se = {0};
        rc = owl_logs_scan(in->logs, iq->tenant, &q, &st, &se);
        free(ptr);
        free(logname);
        scanned += st.rows_scanned;
        atomic_store_explicit(&iq->scanned, scanned, memory_order_relaxed);
        if (rc == OWL_ENOTFOUND || rc == STOP_PAST) /* deleted since StartQuery; or read */
            rc = OWL_OK;
        else if (rc != OWL_OK && !f.failed && rc != STOP_CANCEL && rc != STOP_TIMEOUT)
            owl_error_set(err, rc, "%s", se.msg[0] ? se.msg : owl_strerror(rc));
    }
    if (rc == OWL_OK)
        rc = owl_ins_run_finish(run, res, err);
    owl_ins_run_free(run);
    free(f.evs);
    free(f.times);
    if (rc == STOP_CANCEL)
        return OWL_INS_CANCELLED;
    if (rc == STOP_TIMEOUT) {
        owl_error_set(err, OWL_ETIMEOUT, "the query ran longer than %" PRId64 " ms",
                      in->opt.timeout_ms);
        return OWL_INS_TIMEOUT;
    }
    return rc == OWL_OK ? OWL_INS_COMPLETE : OWL_INS_FAILED;
}

/* Removes the oldest finished queries of tenant beyond opt.keep; mu held. */
static void prune(owl_insights *in, const char *tenant)
{
    size_t kept = 0;
    for (size_t i = in->n; i-- > 0;) {
        iquery *iq = in->all[i];
        if (strcmp(iq->tenant, tenant) != 0 || !finished(iq->status) || ++kept <= in->opt.keep)
            continue;
        memmove(in->all + i, in->all + i + 1, (in->n - i - 1) * sizeof *in->all);
        in->n--;
        iq_unref(iq);
    }
}

static void *worker(void *arg)
{
    owl_insights *in = arg;
    pthread_mutex_lock(&in->mu);
    for (;;) {
        while (!in->stopping && !in->head)
            pthread_cond_wait(&in->work, &in->mu);
        if (in->stopping)
            break;
        iquery *iq = in->head;
        in->head = iq->next_run;
        if (!in->head)
            in->tail = NULL;
        iq->next_run = NULL;
        iq->refs++;
        iq->status = OWL_INS_RUNNING;
        pthread_mutex_unlock(&in->mu);

        owl_ins_result *res = NULL;
        owl_error e = {0};
        enum owl_insights_status st = run_query(in, iq, &res, &e);

        pthread_mutex_lock(&in->mu);
        iq->status = st;
        iq->res = res;
        if (st == OWL_INS_FAILED || st == OWL_INS_TIMEOUT)
            owl_strlcpy(iq->error, e.msg[0] ? e.msg : "the query failed", sizeof iq->error);
        pthread_cond_broadcast(&in->done);
        prune(in, iq->tenant);
        iq_unref(iq);
    }
    pthread_mutex_unlock(&in->mu);
    return NULL;
}

/* ---- open, close ---- */

int owl_insights_open(owl_logs *logs, owl_meta *meta, const owl_insights_options *opts,
                      owl_insights **out, owl_error *err)
{
    owl_insights *in = calloc(1, sizeof *in);
    int rc = OWL_OK;
    *out = NULL;
    if (!in)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    owl_insights_options_default(&in->opt);
    if (opts) {
        if (opts->workers)
            in->opt.workers = opts->workers;
        if (opts->per_tenant)
            in->opt.per_tenant = opts->per_tenant;
        if (opts->timeout_ms > 0)
            in->opt.timeout_ms = opts->timeout_ms;
        if (opts->max_bytes)
            in->opt.max_bytes = opts->max_bytes;
        if (opts->keep)
            in->opt.keep = opts->keep;
    }
    in->logs = logs;
    in->meta = meta;
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->work, NULL);
    pthread_cond_init(&in->done, NULL);
    in->threads = calloc(in->opt.workers, sizeof *in->threads);
    if (!in->threads) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    for (; in->nthreads < in->opt.workers; in->nthreads++)
        if (pthread_create(&in->threads[in->nthreads], NULL, worker, in) != 0) {
            rc = owl_error_set(err, OWL_ENOMEM, "cannot start the Insights query threads");
            goto out;
        }
out:
    if (rc != OWL_OK) {
        owl_insights_close(in);
        return rc;
    }
    *out = in;
    return OWL_OK;
}

void owl_insights_shutdown(owl_insights *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    in->stopping = 1;
    for (size_t i = 0; i < in->n; i++)
        atomic_store(&in->all[i]->stop, STOP_CANCEL);
    pthread_cond_broadcast(&in->work);
    pthread_cond_broadcast(&in->done);
    pthread_mutex_unlock(&in->mu);
}

void owl_insights_close(owl_insights *in)
{
    if (!in)
        return;
    owl_insights_shutdown(in);
    for (size_t i = 0; i < in->nthreads; i++)
        pthread_join(in->threads[i], NULL);
    for (size_t i = 0; i < in->n; i++)
        iq_unref(in->all[i]);
    free(in->all);
    free(in->threads);
    pthread_cond_destroy(&in->done);
    pthread_cond_destroy(&in->work);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

/* ---- StartQuery ---- */

static iquery *iq_new(const char *tenant, const owl_insights_query *s)
{
    iquery *iq = calloc(1, sizeof *iq);
    if (!iq)
        return NULL;
    iq->refs = 1;
    iq->tenant = strdup(tenant);
    iq->text = strdup(s->query);
    iq->groups = calloc(s->ngroups, sizeof *iq->groups);
    if (!iq->tenant || !iq->text || !iq->groups) {
        iq_free(iq);
        return NULL;
    }
    for (; iq->ngroups < s->ngroups; iq->ngroups++)
        if (!(iq->groups[iq->ngroups] = strdup(s->groups[iq->ngroups]))) {
            iq_free(iq);
            return NULL;
        }
    iq->start_ms = s->start_ms;
    iq->end_ms = s->end_ms;
    iq->limit = s->limit;
    iq->create_ms = owl_now_ms();
    return iq;
}

int owl_insights_start(owl_insights *in, const char *tenant, const owl_insights_query *s,
                       char id[OWL_INSIGHTS_ID_LEN], owl_error *err)
{
    if (s->ngroups == 0 || s->ngroups > OWL_INSIGHTS_MAX_GROUPS)
        return owl_error_set(err, OWL_EINVAL, "A query reads 1 to %d log groups",
                             OWL_INSIGHTS_MAX_GROUPS);
    if (s->end_ms < s->start_ms)
        return owl_error_set(err, OWL_EINVAL, "endTime is before startTime");
    if (s->limit > OWL_INS_DEFAULT_MAX_ROWS)
        return owl_error_set(err, OWL_EINVAL, "limit must be 1 to %d", OWL_INS_DEFAULT_MAX_ROWS);
    size_t qn = strlen(s->query);
    if (qn == 0 || qn > MAX_QUERY_BYTES)
        return owl_error_set(err, OWL_EINVAL, "queryString must be 1 to %d characters",
                             MAX_QUERY_BYTES);
    for (size_t i = 0; i < s->ngroups; i++) {
        owl_logs_group g;
        owl_error ge = {0};
        if (owl_logs_get_group(in->logs, tenant, s->groups[i], &g, &ge) != OWL_OK)
            return owl_error_set(err, OWL_ENOTFOUND, "Log group '%.512s' does not exist",
                                 s->groups[i]);
    }
    owl_ins_query *q = NULL;
    int rc = owl_ins_parse(s->query, qn, &q, err);
    if (rc != OWL_OK)
        return rc;
    iquery *iq = iq_new(tenant, s);
    if (!iq || (rc = new_id(iq->id)) != OWL_OK) {
        owl_ins_free(q);
        iq_free(iq);
        return owl_error_set(err, iq ? OWL_EIO : OWL_ENOMEM, "cannot start a query");
    }
    iq->q = q;
    pthread_mutex_lock(&in->mu);
    if (in->stopping) {
        rc = owl_error_set(err, OWL_ECLOSED, "owld is shutting down");
        goto out;
    }
    size_t active = 0;
    for (size_t i = 0; i < in->n; i++)
        active += !finished(in->all[i]->status) && strcmp(in->all[i]->tenant, tenant) == 0;
    if (active >= in->opt.per_tenant) {
        rc = owl_error_set(err, OWL_ERANGE,
                           "Account maximum query concurrency limit of [%zu] reached.",
                           in->opt.per_tenant);
        goto out;
    }
    if (in->n == in->cap) {
        size_t nc = in->cap ? 2 * in->cap : 16;
        iquery **na = realloc(in->all, nc * sizeof *na);
        if (!na) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        in->all = na;
        in->cap = nc;
    }
    in->all[in->n++] = iq;
    if (in->tail)
        in->tail->next_run = iq;
    else
        in->head = iq;
    in->tail = iq;
    memcpy(id, iq->id, OWL_INSIGHTS_ID_LEN);
    iq = NULL;
    pthread_cond_signal(&in->work);
out:
    pthread_mutex_unlock(&in->mu);
    iq_free(iq);
    return rc;
}

/* ---- GetQueryResults, StopQuery, DescribeQueries ---- */

/* The query id of tenant; mu held. */
static iquery *find(owl_insights *in, const char *tenant, const char *id)
{
    for (size_t i = 0; i < in->n; i++)
        if (strcmp(in->all[i]->id, id) == 0 && strcmp(in->all[i]->tenant, tenant) == 0)
            return in->all[i];
    return NULL;
}

/* Fills v from iq and takes a reference for it; mu held. */
static void view_of(iquery *iq, owl_insights_view *v)
{
    memset(v, 0, sizeof *v);
    iq->refs++;
    v->ref_ = iq;
    v->id = iq->id;
    v->query = iq->text;
    v->groups = (const char *const *)iq->groups;
    v->ngroups = iq->ngroups;
    v->status = iq->status;
    v->create_ms = iq->create_ms;
    v->error = iq->error;
    v->res = iq->res;
    if (iq->res) {
        owl_ins_result_stats(iq->res, &v->stats);
    } else {
        v->stats.records_matched = 0;
        v->stats.bytes_scanned = atomic_load(&iq->bytes);
    }
    /* the store's rows examined, not only those that reached the query */
    uint64_t sc = atomic_load(&iq->scanned);
    if (sc > v->stats.records_scanned)
        v->stats.records_scanned = sc;
}

int owl_insights_get(owl_insights *in, const char *tenant, const char *id, int64_t wait_ms,
                     owl_insights_view *v, owl_error *err)
{
    int rc = OWL_OK;
    pthread_mutex_lock(&in->mu);
    iquery *iq = find(in, tenant, id);
    if (!iq) {
        rc = owl_error_set(err, OWL_ENOTFOUND, "Query does not exist: %.64s", id);
        goto out;
    }
    if (wait_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        iq->refs++; /* pruning may drop it from the list while we wait */
        while (!finished(iq->status) && !in->stopping &&
               pthread_cond_timedwait(&in->done, &in->mu, &ts) == 0)
            ;
        view_of(iq, v);
        iq_unref(iq);
        goto out;
    }
    view_of(iq, v);
out:
    pthread_mutex_unlock(&in->mu);
    return rc;
}

void owl_insights_view_release(owl_insights *in, owl_insights_view *v)
{
    if (!v || !v->ref_)
        return;
    pthread_mutex_lock(&in->mu);
    iq_unref(v->ref_);
    pthread_mutex_unlock(&in->mu);
    v->ref_ = NULL;
}

int owl_insights_stop(owl_insights *in, const char *tenant, const char *id, int *stopped,
                      owl_error *err)
{
    int rc = OWL_OK;
    *stopped = 0;
    pthread_mutex_lock(&in->mu);
    iquery *iq = find(in, tenant, id);
    if (!iq) {
        rc = owl_error_set(err, OWL_ENOTFOUND, "Query does not exist: %.64s", id);
    } else if (iq->status == OWL_INS_SCHEDULED) { /* never ran: out of the queue at once */
        iquery **pp = &in->head, *prev = NULL;
        while (*pp && *pp != iq)
            prev = *pp, pp = &(*pp)->next_run;
        if (*pp) {
            *pp = iq->next_run;
            if (in->tail == iq)
                in->tail = prev;
        }
        iq->next_run = NULL;
        iq->status = OWL_INS_CANCELLED;
        *stopped = 1;
        pthread_cond_broadcast(&in->done);
    } else if (iq->status == OWL_INS_RUNNING) {
        atomic_store(&iq->stop, STOP_CANCEL);
        *stopped = 1;
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

int owl_insights_list(owl_insights *in, const char *tenant, const char *group, int status,
                      int (*fn)(void *ud, const owl_insights_view *v), void *ud)
{
    int rc = 0;
    pthread_mutex_lock(&in->mu);
    for (size_t i = in->n; i-- > 0 && rc == 0;) { /* newest first */
        iquery *iq = in->all[i];
        if (strcmp(iq->tenant, tenant) != 0 || (status >= 0 && (int)iq->status != status))
            continue;
        int has = !group;
        for (size_t g = 0; g < iq->ngroups && !has; g++)
            has = strcmp(iq->groups[g], group) == 0;
        if (!has)
            continue;
        owl_insights_view v;
        view_of(iq, &v);
        rc = fn(ud, &v);
        iq_unref(iq);
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

/* ---- GetLogRecord ---- */

typedef struct finder {
    uint64_t hash;
    int64_t time_ms;
    owl_insights_record *out;
    int found, oom;
} finder;

static int find_row(void *ud, const owl_logs_row *rows, size_t n)
{
    finder *f = ud;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].time_ms != f->time_ms || row_hash(&rows[i]) != f->hash)
            continue;
        owl_insights_record *r = f->out;
        r->time_ms = rows[i].time_ms;
        r->ingest_ms = rows[i].ingest_ms;
        r->stream_len = rows[i].stream.n;
        owl_buf_reset(&r->text);
        if (owl_buf_append(&r->text, rows[i].stream.p, rows[i].stream.n) != OWL_OK ||
            owl_buf_putc(&r->text, 0) != OWL_OK ||
            owl_buf_append(&r->text, rows[i].message.p, rows[i].message.n) != OWL_OK) {
            f->oom = 1;
            return 1;
        }
        r->message_len = rows[i].message.n;
        f->found = 1;
        return 1;
    }
    return 0;
}

int owl_insights_record_get(owl_insights *in, const char *tenant, const char *ptr,
                            owl_insights_record *out, owl_error *err)
{
    size_t n = strlen(ptr);
    uint64_t t, h;
    char group[OWL_LOGS_NAME_MAX + 1];
    size_t gl = (n - PTR_FIXED) / 2;
    if (n <= PTR_FIXED || (n - PTR_FIXED) % 2 || gl > OWL_LOGS_NAME_MAX ||
        !parse_u64_hex(ptr, &t) || !parse_u64_hex(ptr + 16, &h))
        return owl_error_set(err, OWL_EINVAL, "The log record pointer is not valid.");
    for (size_t i = 0; i < gl; i++) {
        int a = unhex(ptr[PTR_FIXED + 2 * i]), b = unhex(ptr[PTR_FIXED + 2 * i + 1]);
        if (a < 0 || b < 0)
            return owl_error_set(err, OWL_EINVAL, "The log record pointer is not valid.");
        group[i] = (char)(a << 4 | b);
    }
    group[gl] = 0;
    finder f = {.hash = h, .time_ms = (int64_t)t, .out = out};
    owl_logs_scan_q q = {.group = group, .start_ms = (int64_t)t, .end_ms = (int64_t)t + 1,
                         .with_message = 1, .fn = find_row, .ud = &f};
    owl_error se = {0};
    int rc = owl_logs_scan(in->logs, tenant, &q, NULL, &se);
    if (f.oom)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc == 1)
        rc = OWL_OK;
    if (rc == OWL_OK && !f.found)
        rc = OWL_ENOTFOUND;
    if (rc == OWL_ENOTFOUND)
        return owl_error_set(err, rc, "The log record does not exist (or its group or stream "
                                      "was deleted).");
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "%s", se.msg);
    owl_strlcpy(out->group, group, sizeof out->group);
    return OWL_OK;
}

void owl_insights_record_free(owl_insights_record *r)
{
    if (r)
        owl_buf_free(&r->text);
}

/* ---- saved queries: PutQueryDefinition, DescribeQueryDefinitions, DeleteQueryDefinition ----
 * One owl_meta record per definition, id = its queryDefinitionId: {name, queryString,
 * logGroupNames: [...], lastModified (ms)}. */

int owl_insights_def_put(owl_insights *in, const char *tenant, const owl_insights_def *d,
                         char id[OWL_INSIGHTS_ID_LEN], owl_error *err)
{
    size_t nl = strlen(d->name), ql = strlen(d->query);
    if (nl == 0 || nl > 255)
        return owl_error_set(err, OWL_EINVAL, "name must be 1 to 255 characters");
    if (ql == 0 || ql > MAX_QUERY_BYTES)
        return owl_error_set(err, OWL_EINVAL, "queryString must be 1 to %d characters",
                             MAX_QUERY_BYTES);
    if (d->ngroups > OWL_INSIGHTS_MAX_GROUPS)
        return owl_error_set(err, OWL_EINVAL, "at most %d logGroupNames",
                             OWL_INSIGHTS_MAX_GROUPS);
    if (d->id && *d->id) {
        bson_t *old = NULL;
        if (strlen(d->id) >= OWL_INSIGHTS_ID_LEN ||
            owl_meta_get(in->meta, tenant, KIND_DEF, d->id, &old, NULL) != OWL_OK)
            return owl_error_set(err, OWL_ENOTFOUND, "Query definition does not exist: %.64s",
                                 d->id);
        bson_destroy(old);
        owl_strlcpy(id, d->id, OWL_INSIGHTS_ID_LEN);
    } else if (new_id(id) != OWL_OK) {
        return owl_error_set(err, OWL_EIO, "no random bytes for an id");
    }
    bson_t doc, arr;
    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "name", d->name);
    BSON_APPEND_UTF8(&doc, "queryString", d->query);
    BSON_APPEND_ARRAY_BEGIN(&doc, "logGroupNames", &arr);
    for (size_t i = 0; i < d->ngroups; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_UTF8(&arr, k, d->groups[i]);
    }
    bson_append_array_end(&doc, &arr);
    BSON_APPEND_INT64(&doc, "lastModified", owl_now_ms());
    int rc = owl_meta_put(in->meta, tenant, KIND_DEF, id, &doc, err);
    bson_destroy(&doc);
    return rc;
}

int owl_insights_def_delete(owl_insights *in, const char *tenant, const char *id,
                            owl_error *err)
{
    if (strlen(id) >= OWL_INSIGHTS_ID_LEN ||
        owl_meta_delete(in->meta, tenant, KIND_DEF, id, NULL) != OWL_OK)
        return owl_error_set(err, OWL_ENOTFOUND, "Query definition does not exist: %.64s", id);
    return OWL_OK;
}

typedef struct def_lister {
    const char *prefix;
    size_t limit, n;
    int (*fn)(void *ud, const char *id, const bson_t *doc);
    void *ud;
    char last[OWL_INSIGHTS_ID_LEN];
    int more, rc;
} def_lister;

static int list_def(void *ud, const char *tenant, const char *kind, const char *id,
                    const bson_t *doc)
{
    (void)tenant;
    (void)kind;
    def_lister *l = ud;
    bson_iter_t it;
    const char *name = bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it)
                           ? bson_iter_utf8(&it, NULL)
                           : "";
    if (l->prefix && strncmp(name, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    if (l->n == l->limit) { /* one more matches: the page ends before it */
        l->more = 1;
        return 1;
    }
    l->n++;
    owl_strlcpy(l->last, id, sizeof l->last);
    return (l->rc = l->fn(l->ud, id, doc)) != 0;
}

int owl_insights_def_list(owl_insights *in, const char *tenant, const char *prefix,
                          const char *after, size_t limit,
                          int (*fn)(void *ud, const char *id, const bson_t *doc), void *ud,
                          char next[OWL_INSIGHTS_ID_LEN], owl_error *err)
{
    def_lister l = {.prefix = prefix, .limit = limit, .fn = fn, .ud = ud};
    next[0] = 0;
    int rc = owl_meta_list(in->meta, tenant, KIND_DEF, after, 0, list_def, &l, err);
    if (rc != OWL_OK)
        return rc;
    if (l.rc)
        return l.rc;
    if (l.more)
        owl_strlcpy(next, l.last, OWL_INSIGHTS_ID_LEN);
    return OWL_OK;
}

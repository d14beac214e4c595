/* traces.c — spans kept by owl: every decoded span (OTLP, Zipkin, X-Ray) stored as a row of
 * the `spans` table, one partition per tenant; a trace read back whole by id without a time
 * range; searches for trace summaries; per-minute RED statistics of entry spans written
 * through the metrics module (namespace owl/Traces) with exemplar trace ids for alarms.
 *
 * Finding a trace without a time range: the table is clustered by trace_key (a hash of the
 * trace id), so each part holds its rows sorted by that key and every block of it a narrow
 * key range: a lookup (EQ on trace_key and trace_id over every day) decodes, per part, only
 * the block or two whose min/max hold the key, whatever the day.
 *
 * RED statistics: put counts every span (before any sampling) into an in-memory table
 * keyed (tenant, service, operation, minute) — entry spans only: server and consumer spans,
 * and roots — plus a per-service row (operation ""). A thread (or owl_traces_flush) writes the
 * counts gathered since the last write as statistic sets at the minute's start (rows of one
 * series and time merge when read, so several writes in a minute add up): every second for
 * the last RECENT_MS of minutes, every LATE_EVERY_MS for older ones; entries keep up to
 * EXEMPLARS trace ids (failed ones first, then the slowest) for EXEMPLAR_KEEP_MS, which the
 * alarm evidence provider reads.
 *
 * Locks: `mu` guards the RED table and the set of tenants whose retention is set; it is
 * never held across a store, metrics or alarms call. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/span_int.h"

#define MINUTE_NS 60000000000LL
#define MINUTE_MS 60000LL
#define EXEMPLARS 8
#define EXEMPLAR_KEEP_MS (3 * 3600000LL)
#define NBUCKETS 148          /* latency histogram: 4 per octave from 2^-10 ms */
#define HWIN 16               /* of which an entry holds 4 octaves in place (red.hwin) */
#define BUCKET_LO_LOG2 (-10.0)
#define MAX_CANDIDATES 100000 /* traces one search considers */
#define MAX_GETS_PER_PAGE 5000 /* traces one page reads whole before it stops early */
#define DEDUPE_MAX 64         /* earlier records of one span id a record is compared with */
#define RECENT_MS (5 * MINUTE_MS) /* minutes the flusher writes every second */
#define LATE_EVERY_MS 15000LL /* older ones (late spans, replays) at most this often */

/* ---- the RED table ---- */

typedef struct exemplar {
    uint8_t id[16];
    int64_t duration_ns;
    int failed;
    int status; /* enum owl_span_status */
} exemplar;

/* What an entry counts: an operation's or a service's entry spans (owl/Traces; a service's
 * are its node in owl/ServiceGraph too), an edge's calls (service = source, operation =
 * target) or a virtual node's (service = name, operation = type), both owl/ServiceGraph. */
enum red_kind { RK_OP = 0, RK_SERVICE, RK_EDGE, RK_VNODE };

typedef struct red {
    struct red *next;      /* hash chain */
    uint64_t hash;
    int kind;              /* enum red_kind */
    char *tenant, *service, *operation; /* one allocation: tenant\0service\0operation\0 */
    int64_t minute_ms;
    /* counts since the last write */
    uint64_t n, errors, faults, throttles;
    double sum_ms, min_ms, max_ms;
    /* the latency histogram: buckets hlo .. hlo + HWIN - 1 in hwin, and once the spans spread
     * wider, all NBUCKETS in wide (malloc'd, the entry's own). A day's replay makes an entry
     * per operation and minute, 59,000 of them; with every bucket in place they were 1 KiB
     * each, and their fresh pages cost span ingest more than their counting. */
    uint32_t *wide;
    int hlo;
    uint32_t hwin[HWIN];
    exemplar ex[EXEMPLARS];
    size_t nex;
    int pool;   /* its class in the table's pool (names within RED_NAMES), else -1: calloc'd */
} red;

/* The RED table's entries and wide histograms come from a pool of RED_BLOCK-byte blocks,
 * with a free list per size, not from a malloc each. A day's replay makes 59,000 entries
 * in the HTTP workers, and glibc extends a thread's heap one page at a time, each with an
 * mprotect call: 5,200 calls under bench/traces.sh's protobuf load (about 35 us each on the
 * build VM), and every allocation of the request path that found no free chunk went to the
 * heap's top past them, and faulted fresh pages, 1,500 calls more. The blocks stay until
 * owl_traces_free; freed entries serve the next ones. tr->mu guards the pool. */
#define RED_BLOCK ((size_t)256 << 10)
#define RED_NAMES 192 /* bytes of tenant\0service\0operation\0 (+1) an entry holds in place */
#define RED_NAMES_STEP 64 /* entries come in three sizes: names within 64, 128 or 192 bytes */
enum { POOL_WIDE = RED_NAMES / RED_NAMES_STEP, POOL_CLASSES }; /* 0..2: entries */
#define POOL_ALIGN(n) (((n) + 15) & ~(size_t)15)

typedef struct pool_item {
    struct pool_item *next;
} pool_item;

typedef struct red_pool {
    pool_item *free[POOL_CLASSES];
    void **blocks;
    size_t nblocks, capblocks;
    char *bump; /* the newest block's unused bytes */
    size_t left;
} red_pool;

static size_t pool_size(int cls)
{
    return cls < POOL_WIDE ? POOL_ALIGN(sizeof(red) + RED_NAMES_STEP * ((size_t)cls + 1))
                           : POOL_ALIGN(NBUCKETS * sizeof(uint32_t));
}

/* A zeroed item of class cls, or NULL when out of memory. */
static void *pool_take(red_pool *p, int cls)
{
    size_t sz = pool_size(cls);
    void *x = p->free[cls];
    if (x) {
        p->free[cls] = p->free[cls]->next;
    } else {
        if (p->left < sz) {
            if (p->nblocks == p->capblocks) {
                size_t cap = p->capblocks ? 2 * p->capblocks : 16;
                void **b = realloc(p->blocks, cap * sizeof *b);
                if (!b)
                    return NULL;
                p->blocks = b;
                p->capblocks = cap;
            }
            if (!(p->bump = malloc(RED_BLOCK)))
                return NULL;
            p->blocks[p->nblocks++] = p->bump;
            p->left = RED_BLOCK;
        }
        x = p->bump;
        p->bump += sz;
        p->left -= sz;
    }
    return memset(x, 0, sz);
}

static void pool_give(red_pool *p, int cls, void *x)
{
    if (!x)
        return;
    pool_item *it = x;
    it->next = p->free[cls];
    p->free[cls] = it;
}

static void pool_free(red_pool *p)
{
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    memset(p, 0, sizeof *p);
}

#define CELL_KEEP_SPANS 16384 /* cell arrays for more spans are not kept */
#define SCRATCH_KEPT 2         /* walk scratch mappings kept: one per part of a split walk */

struct owl_traces {
    owl_store *store;
    owl_metrics *metrics;
    owl_traces_options opts;
    pthread_mutex_t mu;
    red **tab;
    size_t tabcap, tabn;
    char **tenants; /* retention set for these */
    size_t ntenants;
    pthread_t thread;
    int running, stop;
    pthread_cond_t cv;
    int64_t late_ms; /* when the flusher last wrote every minute */
    owl_spares cells; /* cell arrays of finished puts, for the next ones */
    red_pool pool;    /* the RED entries' memory (mu) */
    owl_svcgraph *graph; /* the live service graph's pending joins (mu); NULL = none */
    owl_svcgraph_span *gspans; /* a put's spans as the graph reads them (mu) */
    size_t gcap;
    void *scratch[SCRATCH_KEPT]; /* walks' rows mappings kept for the next walks (mu) */
    size_t scratch_bytes[SCRATCH_KEPT];
    int64_t scratch_ms[SCRATCH_KEPT]; /* when each was given back */
};

void owl_traces_options_default(owl_traces_options *o)
{
    o->retention_days = 30;
    o->background = 1;
    o->graph = 1;
    o->graph_ttl_s = 30;
    o->graph_capacity = (size_t)1 << 20;
}

/* An entry's hash (red_get): its service row's from the tenant's hash, the minute and the
 * service's bytes; an operation's from its service row's. A put hashes the tenant once, and
 * a service once for the spans of one resource (which share its bytes). */
static uint64_t red_service_hash(uint64_t tenant_hash, int64_t minute, const owl_bytes *svc)
{
    return owl_hash64(svc->p, svc->n, owl_mix64(tenant_hash ^ (uint64_t)minute));
}

static uint64_t red_op_hash(uint64_t service_hash, const owl_bytes *op)
{
    return owl_hash64(op->p, op->n, service_hash ^ 1);
}

static int red_grow(owl_traces *tr)
{
    size_t cap = tr->tabcap ? tr->tabcap * 2 : 256;
    red **t = calloc(cap, sizeof *t);
    if (!t)
        return OWL_ENOMEM;
    for (size_t i = 0; i < tr->tabcap; i++)
        for (red *e = tr->tab[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = t[e->hash & (cap - 1)];
            t[e->hash & (cap - 1)] = e;
        }
    free(tr->tab);
    tr->tab = t;
    tr->tabcap = cap;
    return OWL_OK;
}

static int bytes_is(const char *s, const owl_bytes *b)
{
    return strlen(s) == b->n && memcmp(s, b->p, b->n) == 0;
}

static int red_is_service_row(const red *e)
{
    return e->kind == RK_SERVICE;
}

/* The entry of (tenant, service, operation or NULL = the service's own row, minute) of
 * kind RK_OP or RK_SERVICE (op NULL), or (tenant, source, target) of kind RK_EDGE, or
 * (tenant, name, type) of kind RK_VNODE, whose hash is h (red_service_hash, red_op_hash;
 * for the graph's kinds, red_op_hash's xor the kind), made when absent. NULL when out of
 * memory. Caller holds mu. */
static red *red_get(owl_traces *tr, const char *tenant, const owl_bytes *svc,
                    const owl_bytes *op, int kind, int64_t minute, uint64_t h)
{
    if (tr->tabcap) {
        for (red *e = tr->tab[h & (tr->tabcap - 1)]; e; e = e->next)
            if (e->hash == h && e->minute_ms == minute && e->kind == kind &&
                !strcmp(e->tenant, tenant) && bytes_is(e->service, svc) &&
                (!op || bytes_is(e->operation, op)))
                return e;
    }
    if ((tr->tabn + 1) * 2 > tr->tabcap && red_grow(tr) != OWL_OK)
        return NULL;
    size_t tl = strlen(tenant), ol = op ? op->n : 0, names = tl + svc->n + ol + 4;
    int cls = names <= RED_NAMES ? (int)((names - 1) / RED_NAMES_STEP) : -1;
    red *e = cls >= 0 ? pool_take(&tr->pool, cls) : calloc(1, sizeof *e + names);
    if (!e)
        return NULL;
    e->pool = cls;
    char *p = (char *)(e + 1);
    e->tenant = p;
    memcpy(p, tenant, tl + 1);
    e->service = p + tl + 1;
    memcpy(e->service, svc->p, svc->n);
    e->service[svc->n] = '\0';
    e->operation = e->service + svc->n + 1;
    memcpy(e->operation, op ? op->p : "", ol); /* a service's own row: operation "" */
    e->operation[ol] = '\0';
    e->hash = h;
    e->kind = kind;
    e->minute_ms = minute;
    e->next = tr->tab[h & (tr->tabcap - 1)];
    tr->tab[h & (tr->tabcap - 1)] = e;
    tr->tabn++;
    return e;
}

static int bucket_of(double ms)
{
    if (!(ms > 0))
        return 0;
    int b = (int)floor((log2(ms) - BUCKET_LO_LOG2) * 4.0);
    return b < 0 ? 0 : b >= NBUCKETS ? NBUCKETS - 1 : b;
}

static double bucket_mid(int b)
{
    return exp2(BUCKET_LO_LOG2 + (b + 0.5) / 4.0);
}

/* Counts bucket b in e's histogram; e->n already counts the span. */
static void hist_add(owl_traces *tr, red *e, int b)
{
    if (e->wide) {
        e->wide[b]++;
        return;
    }
    if (e->n > 1 && b >= e->hlo && b < e->hlo + HWIN) {
        e->hwin[b - e->hlo]++;
        return;
    }
    int lo = b, hi = b; /* the buckets held, with b */
    for (int i = 0; e->n > 1 && i < HWIN; i++)
        if (e->hwin[i]) {
            lo = e->hlo + i < lo ? e->hlo + i : lo;
            hi = e->hlo + i > hi ? e->hlo + i : hi;
        }
    if (hi - lo < HWIN) { /* the window moves (or, for the first span, centres on b) */
        int nlo = e->n > 1 ? lo : b - HWIN / 2;
        nlo = nlo < 0 ? 0 : nlo > NBUCKETS - HWIN ? NBUCKETS - HWIN : nlo;
        uint32_t w[HWIN] = {0};
        for (int i = 0; e->n > 1 && i < HWIN; i++)
            if (e->hwin[i])
                w[e->hlo + i - nlo] = e->hwin[i];
        memcpy(e->hwin, w, sizeof w);
        e->hlo = nlo;
        e->hwin[b - nlo]++;
        return;
    }
    if (!(e->wide = pool_take(&tr->pool, POOL_WIDE))) { /* counted at the window's edge */
        e->hwin[b < e->hlo ? 0 : HWIN - 1]++;
        return;
    }
    for (int i = 0; i < HWIN; i++)
        e->wide[e->hlo + i] = e->hwin[i];
    e->wide[b]++;
}

/* e's count of bucket b. */
static uint32_t bucket_count(const red *e, int b)
{
    return e->wide                              ? e->wide[b]
           : b >= e->hlo && b < e->hlo + HWIN ? e->hwin[b - e->hlo]
                                              : 0;
}

/* How many of e's buckets count spans. */
static size_t buckets_used(const red *e)
{
    size_t k = 0;
    for (int b = 0; b < NBUCKETS; b++)
        k += bucket_count(e, b) != 0;
    return k;
}

/* The counts of e since its last write, zero again. Caller holds mu. */
static void red_reset(owl_traces *tr, red *e)
{
    e->n = e->errors = e->faults = e->throttles = 0;
    e->sum_ms = e->min_ms = e->max_ms = 0;
    pool_give(&tr->pool, POOL_WIDE, e->wide);
    e->wide = NULL;
    memset(e->hwin, 0, sizeof e->hwin);
}

/* Frees an entry of the table. Caller holds mu. */
static void red_free(owl_traces *tr, red *e)
{
    pool_give(&tr->pool, POOL_WIDE, e->wide);
    if (e->pool >= 0)
        pool_give(&tr->pool, e->pool, e);
    else
        free(e);
}

static void red_count_v(owl_traces *tr, red *e, const uint8_t *trace_id, int64_t duration_ns,
                        enum owl_span_status status);

static void red_count(owl_traces *tr, red *e, const owl_span *s)
{
    red_count_v(tr, e, s->trace_id, s->duration_ns, s->status);
}

/* Counts a request of duration_ns ending in status of trace trace_id into e. */
static void red_count_v(owl_traces *tr, red *e, const uint8_t *trace_id, int64_t duration_ns,
                        enum owl_span_status status)
{
    double ms = (double)duration_ns / 1e6;
    if (e->n == 0 || ms < e->min_ms)
        e->min_ms = ms;
    if (e->n == 0 || ms > e->max_ms)
        e->max_ms = ms;
    e->n++;
    e->sum_ms += ms;
    e->errors += status == OWL_SPAN_ERROR || status == OWL_SPAN_THROTTLE;
    e->faults += status == OWL_SPAN_FAULT;
    e->throttles += status == OWL_SPAN_THROTTLE;
    hist_add(tr, e, bucket_of(ms));
    if (!trace_id) /* the service graph's entries keep none */
        return;
    /* exemplars: failed spans first, then the slowest */
    int failed = status != OWL_SPAN_OK;
    for (size_t i = 0; i < e->nex; i++)
        if (!memcmp(e->ex[i].id, trace_id, 16))
            return;
    size_t at = e->nex;
    if (e->nex == EXEMPLARS) {
        /* replace the weakest: an ok one before a failed one, then the fastest */
        size_t w = 0;
        for (size_t i = 1; i < e->nex; i++)
            if (e->ex[i].failed < e->ex[w].failed ||
                (e->ex[i].failed == e->ex[w].failed && e->ex[i].duration_ns < e->ex[w].duration_ns))
                w = i;
        if (failed < e->ex[w].failed ||
            (failed == e->ex[w].failed && duration_ns <= e->ex[w].duration_ns))
            return;
        at = w;
    } else {
        e->nex++;
    }
    memcpy(e->ex[at].id, trace_id, 16);
    e->ex[at].duration_ns = duration_ns;
    e->ex[at].failed = failed;
    e->ex[at].status = status;
}

/* 1 for the spans RED statistics count: where a request enters a service. */
static int is_entry(const owl_span *s)
{
    return s->kind == OWL_SPAN_SERVER || s->kind == OWL_SPAN_CONSUMER ||
           owl_traceid_is_zero(s->parent_id, 8);
}

/* ---- writing the statistics ---- */

#define EMIT_ENTRIES 200 /* entries a put writes: 1,000 datums */

/* The five datums of entry e under namespace ns and dims[0..ndims) at d; v, c its histogram's
 * nv buckets. */
static void entry_datums(owl_datum *d, const char *ns, const owl_dim *dims, size_t ndims,
                         const red *e, const double *v, const double *c, size_t nv)
{
    static const char *const names[4] = {"Requests", "Errors", "Faults", "Throttles"};
    double cnt = (double)e->n;
    double part[4] = {cnt, (double)e->errors, (double)e->faults, (double)e->throttles};
    for (int k = 0; k < 4; k++) {
        owl_datum *x = &d[k];
        x->id = (owl_metric_id){ns, names[k], dims, ndims};
        x->unit = "Count";
        x->time_ms = e->minute_ms;
        x->resolution = 60;
        x->has_stats = 1;
        /* n samples of 0 or 1: Sum = how many, Average = the rate, SampleCount = requests */
        x->count = cnt;
        x->sum = part[k];
        x->min = part[k] == cnt ? 1 : 0;
        x->max = part[k] > 0 ? 1 : 0;
    }
    owl_datum *x = &d[4];
    x->id = (owl_metric_id){ns, "Latency", dims, ndims};
    x->unit = "Milliseconds";
    x->time_ms = e->minute_ms;
    x->resolution = 60;
    x->values = v;
    x->counts = c;
    x->nvalues = nv;
    x->has_stats = 1;
    x->count = cnt;
    x->sum = e->sum_ms;
    x->min = e->min_ms;
    x->max = e->max_ms;
}

/* Writes the counts of es[0..n), n <= EMIT_ENTRIES, in one owl_metrics_put: operations and
 * services in owl/Traces, services (again), edges and virtual nodes in owl/ServiceGraph. */
static int emit_some(owl_traces *tr, const char *tenant, red **es, size_t n, int64_t now_ms,
                     owl_error *err)
{
    /* up to 10 datums per entry (a service row is written in both namespaces); dims and
     * histograms in arrays sized for all of them (as many values as the entries have
     * buckets in use, not NBUCKETS each) */
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        nb += buckets_used(es[i]);
    owl_datum *d = calloc(n * 10, sizeof *d);
    owl_dim *dims = calloc(n * 4, sizeof *dims);
    size_t nbv = nb ? nb : 1;
    double *vals = malloc(nbv * sizeof *vals), *cnts = malloc(nbv * sizeof *cnts);
    int rc = OWL_OK;
    if (!d || !dims || !vals || !cnts) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    size_t nd = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        red *e = es[i];
        double *v = vals + used, *c = cnts + used;
        size_t nv = 0;
        for (int b = 0; b < NBUCKETS; b++) {
            uint32_t k = bucket_count(e, b);
            if (k) {
                double mid = bucket_mid(b);
                v[nv] = mid < e->min_ms ? e->min_ms : mid > e->max_ms ? e->max_ms : mid;
                c[nv++] = k;
            }
        }
        used += nv;
        owl_dim *dm = dims + 4 * i;
        switch (e->kind) {
        case RK_OP:
            dm[0] = (owl_dim){"Service", e->service};
            dm[1] = (owl_dim){"Operation", e->operation};
            entry_datums(d + nd, OWL_TRACES_NS, dm, 2, e, v, c, nv);
            nd += 5;
            break;
        case RK_SERVICE:
            dm[0] = (owl_dim){"Service", e->service};
            entry_datums(d + nd, OWL_TRACES_NS, dm, 1, e, v, c, nv);
            nd += 5;
            dm[1] = (owl_dim){"Node", e->service};
            dm[2] = (owl_dim){"Type", "service"};
            entry_datums(d + nd, OWL_SERVICEGRAPH_NS, dm + 1, 2, e, v, c, nv);
            nd += 5;
            break;
        case RK_EDGE:
            dm[0] = (owl_dim){"Source", e->service};
            dm[1] = (owl_dim){"Target", e->operation};
            entry_datums(d + nd, OWL_SERVICEGRAPH_NS, dm, 2, e, v, c, nv);
            nd += 5;
            break;
        default: /* RK_VNODE */
            dm[0] = (owl_dim){"Node", e->service};
            dm[1] = (owl_dim){"Type", e->operation};
            entry_datums(d + nd, OWL_SERVICEGRAPH_NS, dm, 2, e, v, c, nv);
            nd += 5;
            break;
        }
    }
    enum owl_metric_fault fault;
    rc = owl_metrics_put(tr->metrics, tenant, d, nd, 0, now_ms, &fault, err);
out:
    free(d);
    free(dims);
    free(vals);
    free(cnts);
    return rc;
}

/* Writes the counts of es[0..n), EMIT_ENTRIES at a time: arrays for every entry at once were
 * tens of megabytes when a replay's flush wrote 30,000 entries, on fresh pages each time. */
static int emit(owl_traces *tr, const char *tenant, red **es, size_t n, int64_t now_ms,
                owl_error *err)
{
    int rc = OWL_OK;
    for (size_t at = 0; at < n && rc == OWL_OK; at += EMIT_ENTRIES)
        rc = emit_some(tr, tenant, es + at, n - at < EMIT_ENTRIES ? n - at : EMIT_ENTRIES,
                       now_ms, err);
    return rc;
}

/* A copy of e with its own strings (e may be freed while the copy is written); it takes
 * over e's wide histogram (e is reset next), which the flusher gives back to the pool once
 * the copy is written. */
static red *red_clone(red *e)
{
    size_t tl = strlen(e->tenant), sl = strlen(e->service), ol = strlen(e->operation);
    red *c = malloc(sizeof *c + tl + sl + ol + 4);
    if (!c)
        return NULL;
    *c = *e;
    char *p = (char *)(c + 1);
    c->tenant = memcpy(p, e->tenant, tl + 1);
    c->service = memcpy(p + tl + 1, e->service, sl + 1);
    c->operation = memcpy(p + tl + sl + 2, e->operation, ol + 1);
    c->next = NULL;
    c->wide = e->wide;
    e->wide = NULL;
    return c;
}

/* Writes the counts gathered so far: of every minute (all), or only of the minutes of the
 * last RECENT_MS (the others keep adding up until a write of all). */
static int flush_some(owl_traces *tr, int all, owl_error *err)
{
    if (!tr->metrics)
        return OWL_OK;
    int64_t now_ms = owl_now_ms();
    /* copy out what is pending (and reset it) under mu; write without it */
    pthread_mutex_lock(&tr->mu);
    size_t np = 0;
    red **pend = NULL;
    if (tr->tabn)
        pend = malloc(tr->tabn * sizeof *pend);
    for (size_t i = 0; pend && i < tr->tabcap; i++)
        for (red **pp = &tr->tab[i]; *pp;) {
            red *e = *pp;
            if (e->n && (all || e->minute_ms >= now_ms - RECENT_MS)) {
                red *c = red_clone(e);
                if (c)
                    pend[np++] = c;
                red_reset(tr, e);
            }
            if (e->n == 0 && e->minute_ms < now_ms - EXEMPLAR_KEEP_MS) {
                *pp = e->next;
                red_free(tr, e);
                tr->tabn--;
                continue;
            }
            pp = &e->next;
        }
    pthread_mutex_unlock(&tr->mu);
    if (!pend)
        return tr->tabn ? owl_error_set(err, OWL_ENOMEM, "out of memory") : OWL_OK;
    int rc = OWL_OK;
    /* per tenant; minutes the metrics module refuses (over 14 days back, 2 h ahead) are left
     * out: the spans themselves are stored whatever their time */
    size_t done = 0;
    while (done < np && rc == OWL_OK) {
        const char *tenant = NULL;
        size_t k = 0;
        for (size_t i = done; i < np; i++) {
            red *e = pend[i];
            if (!tenant)
                tenant = e->tenant;
            if (strcmp(e->tenant, tenant))
                continue;
            /* move to the front of the unprocessed range */
            pend[i] = pend[done + k];
            pend[done + k] = e;
            k++;
        }
        size_t m = 0;
        red **sel = pend + done;
        for (size_t i = 0; i < k; i++)
            if (sel[i]->minute_ms > now_ms - 14 * 86400000LL + 3600000 &&
                sel[i]->minute_ms < now_ms + 7200000 - MINUTE_MS)
                sel[m++] = sel[i];
        if (m)
            rc = emit(tr, tenant, sel, m, now_ms, err);
        done += k;
    }
    pthread_mutex_lock(&tr->mu);
    for (size_t i = 0; i < np; i++)
        pool_give(&tr->pool, POOL_WIDE, pend[i]->wide);
    pthread_mutex_unlock(&tr->mu);
    for (size_t i = 0; i < np; i++)
        free(pend[i]);
    free(pend);
    return rc;
}

int owl_traces_flush(owl_traces *tr, owl_error *err)
{
    return flush_some(tr, 1, err);
}

static void graph_hop(void *ud, const owl_svcgraph_hop *h);

#define SCRATCH_IDLE_MS 30000LL

void owl_traces_scratch_take(owl_traces *tr, void **p, size_t *bytes)
{
    *p = NULL;
    *bytes = 0;
    pthread_mutex_lock(&tr->mu);
    for (int i = 0; i < SCRATCH_KEPT && !*p; i++)
        if (tr->scratch[i]) {
            *p = tr->scratch[i];
            *bytes = tr->scratch_bytes[i];
            tr->scratch[i] = NULL;
            tr->scratch_bytes[i] = 0;
        }
    pthread_mutex_unlock(&tr->mu);
}

void owl_traces_scratch_give(owl_traces *tr, void *p, size_t bytes)
{
    if (!p)
        return;
    pthread_mutex_lock(&tr->mu);
    for (int i = 0; i < SCRATCH_KEPT && p; i++)
        if (!tr->scratch[i]) {
            tr->scratch[i] = p, p = NULL;
            tr->scratch_bytes[i] = bytes;
            tr->scratch_ms[i] = owl_now_ms();
        }
    pthread_mutex_unlock(&tr->mu);
    if (p)
        munmap(p, bytes);
}

/* Unmaps the kept scratch unused for SCRATCH_IDLE_MS (all: every one). Caller holds mu. */
static void scratch_drop(owl_traces *tr, int all)
{
    for (int i = 0; i < SCRATCH_KEPT; i++)
        if (tr->scratch[i] && (all || owl_now_ms() - tr->scratch_ms[i] >= SCRATCH_IDLE_MS)) {
            munmap(tr->scratch[i], tr->scratch_bytes[i]);
            tr->scratch[i] = NULL;
            tr->scratch_bytes[i] = 0;
        }
}

/* Every second: the recent minutes, which alarms watch; the older ones every LATE_EVERY_MS.
 * A replay or a backlog puts spans in hundreds of past minutes at once, and writing each of
 * their entries every second cost that load a sixth of its core (bench/traces.sh). */
static void *flusher(void *arg)
{
    owl_traces *tr = arg;
    pthread_mutex_lock(&tr->mu);
    while (!tr->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&tr->cv, &tr->mu, &ts);
        if (tr->stop)
            break;
        if (tr->graph) /* client spans whose callee never came: edges to virtual nodes */
            owl_svcgraph_expire(tr->graph, owl_now_ms() * 1000000, graph_hop, tr);
        scratch_drop(tr, 0);
        pthread_mutex_unlock(&tr->mu);
        owl_error err = {0};
        int64_t now = owl_now_ms();
        int all = now - tr->late_ms >= LATE_EVERY_MS;
        if (all)
            tr->late_ms = now;
        if (flush_some(tr, all, &err) != OWL_OK)
            owl_warn("traces: writing RED statistics: %s", err.msg);
        pthread_mutex_lock(&tr->mu);
    }
    pthread_mutex_unlock(&tr->mu);
    return NULL;
}

/* ---- alarm evidence: exemplar trace ids ---- */

static const char *dim_value(const owl_metric_id *id, const char *name)
{
    for (size_t i = 0; i < id->ndims; i++)
        if (!strcmp(id->dims[i].name, name))
            return id->dims[i].value;
    return NULL;
}

static int evidence(void *ud, const char *tenant, const owl_metric_id *id, int64_t start_ms,
                    int64_t end_ms, enum owl_alarm_state new_state, owl_buf *out)
{
    (void)new_state;
    owl_traces *tr = ud;
    const char *svc = dim_value(id, "Service"), *op = dim_value(id, "Operation");
    if (!svc)
        return OWL_ENOTFOUND;
    /* an alarm on a failure count gets the traces that failed that way; on the others
     * (Requests, Latency), failed ones first, then the slowest */
    int want = !strcmp(id->name, "Faults") ? 1 << OWL_SPAN_FAULT
               : !strcmp(id->name, "Errors") ? 1 << OWL_SPAN_ERROR | 1 << OWL_SPAN_THROTTLE
               : !strcmp(id->name, "Throttles") ? 1 << OWL_SPAN_THROTTLE
                                                : 0xf;
    exemplar got[16];
    size_t ngot = 0;
    pthread_mutex_lock(&tr->mu);
    for (size_t i = 0; i < tr->tabcap; i++)
        for (red *e = tr->tab[i]; e; e = e->next) {
            if (e->minute_ms + MINUTE_MS <= start_ms || e->minute_ms >= end_ms ||
                e->kind > RK_SERVICE || strcmp(e->tenant, tenant) || strcmp(e->service, svc) ||
                (op ? red_is_service_row(e) || strcmp(e->operation, op) : !red_is_service_row(e)))
                continue;
            for (size_t j = 0; j < e->nex; j++) {
                if (!(want & 1 << e->ex[j].status))
                    continue;
                size_t k = 0;
                while (k < ngot && memcmp(got[k].id, e->ex[j].id, 16))
                    k++;
                if (k < ngot)
                    continue;
                if (ngot < 16) {
                    got[ngot++] = e->ex[j];
                    continue;
                }
                size_t w = 0; /* the weakest kept */
                for (size_t q = 1; q < ngot; q++)
                    if (got[q].failed < got[w].failed ||
                        (got[q].failed == got[w].failed && got[q].duration_ns < got[w].duration_ns))
                        w = q;
                if (e->ex[j].failed > got[w].failed ||
                    (e->ex[j].failed == got[w].failed && e->ex[j].duration_ns > got[w].duration_ns))
                    got[w] = e->ex[j];
            }
        }
    pthread_mutex_unlock(&tr->mu);
    /* failed first, then slowest */
    for (size_t i = 1; i < ngot; i++)
        for (size_t j = i; j > 0; j--) {
            exemplar *a = &got[j - 1], *b = &got[j];
            if (a->failed > b->failed ||
                (a->failed == b->failed && a->duration_ns >= b->duration_ns))
                break;
            exemplar t = *a;
            *a = *b;
            *b = t;
        }
    int rc = owl_buf_puts(out, "{\"provider\":\"traces\",\"service\":");
    rc = rc ? rc : owl_buf_json_str(out, svc, strlen(svc));
    if (op) {
        rc = rc ? rc : owl_buf_puts(out, ",\"operation\":");
        rc = rc ? rc : owl_buf_json_str(out, op, strlen(op));
    }
    rc = rc ? rc : owl_buf_printf(out, ",\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"traces\":[",
                                  start_ms, end_ms);
    for (size_t i = 0; i < ngot && rc == OWL_OK; i++) {
        char hex[OWL_TRACEID_HEX_SIZE], xr[OWL_TRACEID_XRAY_SIZE];
        owl_traceid_to_hex(got[i].id, hex);
        owl_traceid_to_xray(got[i].id, xr);
        rc = owl_buf_printf(out,
                            "%s{\"traceId\":\"%s\",\"xrayTraceId\":\"%s\",\"durationNanos\":%" PRId64
                            ",\"status\":\"%s\"}",
                            i ? "," : "", hex, xr, got[i].duration_ns,
                            owl_span_status_name((enum owl_span_status)got[i].status));
    }
    return rc ? rc : owl_buf_puts(out, "]}");
}

/* ---- open, close ---- */

int owl_traces_open(owl_store *store, owl_metrics *metrics, owl_alarms *alarms,
                    const owl_traces_options *opts, owl_traces **out, owl_error *err)
{
    owl_traces *tr = calloc(1, sizeof *tr);
    if (!tr)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    tr->store = store;
    tr->metrics = metrics;
    if (opts)
        tr->opts = *opts;
    else
        owl_traces_options_default(&tr->opts);
    pthread_mutex_init(&tr->mu, NULL);
    pthread_cond_init(&tr->cv, NULL);
    tr->cells = (owl_spares)OWL_SPARES_INIT(CELL_KEEP_SPANS * OWL_SPANS_NCOLS * sizeof(owl_cell));
    int rc = OWL_OK;
    if (metrics && tr->opts.graph &&
        (rc = owl_svcgraph_new(tr->opts.graph_capacity,
                               (int64_t)(tr->opts.graph_ttl_s > 0 ? tr->opts.graph_ttl_s : 30) *
                                   1000000000LL,
                               &tr->graph, err)) != OWL_OK)
        goto fail;
    if (alarms &&
        (rc = owl_alarms_add_evidence(alarms, OWL_TRACES_NS, evidence, tr, err)) != OWL_OK)
        goto fail;
    if (metrics && tr->opts.background) {
        if (pthread_create(&tr->thread, NULL, flusher, tr) != 0) {
            rc = owl_error_set(err, OWL_ENOMEM, "cannot start the traces statistics thread");
            goto fail;
        }
        tr->running = 1;
    }
    *out = tr;
    return OWL_OK;
fail:
    owl_svcgraph_free(tr->graph);
    pthread_mutex_destroy(&tr->mu);
    pthread_cond_destroy(&tr->cv);
    free(tr);
    return rc;
}

void owl_traces_close(owl_traces *tr)
{
    if (!tr)
        return;
    if (tr->running) {
        pthread_mutex_lock(&tr->mu);
        tr->stop = 1;
        pthread_cond_signal(&tr->cv);
        pthread_mutex_unlock(&tr->mu);
        pthread_join(tr->thread, NULL);
    }
    if (tr->graph) { /* what still waits is written as it stands: kept, it would be lost */
        pthread_mutex_lock(&tr->mu);
        owl_svcgraph_expire(tr->graph, INT64_MAX, graph_hop, tr);
        pthread_mutex_unlock(&tr->mu);
    }
    owl_error err = {0};
    if (owl_traces_flush(tr, &err) != OWL_OK)
        owl_warn("traces: writing RED statistics at close: %s", err.msg);
    owl_svcgraph_free(tr->graph);
    free(tr->gspans);
    scratch_drop(tr, 1);
    for (size_t i = 0; i < tr->tabcap; i++)
        for (red *e = tr->tab[i], *nx; e; e = nx) {
            nx = e->next;
            red_free(tr, e);
        }
    free(tr->tab);
    pool_free(&tr->pool);
    owl_spares_free(&tr->cells);
    for (size_t i = 0; i < tr->ntenants; i++)
        free(tr->tenants[i]);
    free(tr->tenants);
    pthread_mutex_destroy(&tr->mu);
    pthread_cond_destroy(&tr->cv);
    free(tr);
}

/* ---- put ---- */

/* Sets the tenant's retention the first time it puts (the store writes nothing when the
 * value is already there, but this spares even the look-up). */
static int ensure_retention(owl_traces *tr, const char *tenant, owl_error *err)
{
    pthread_mutex_lock(&tr->mu);
    for (size_t i = 0; i < tr->ntenants; i++)
        if (!strcmp(tr->tenants[i], tenant)) {
            pthread_mutex_unlock(&tr->mu);
            return OWL_OK;
        }
    pthread_mutex_unlock(&tr->mu);
    int rc = owl_store_set_retention(tr->store, "spans", tenant, OWL_TRACES_PARTITION,
                                     tr->opts.retention_days, err);
    if (rc != OWL_OK)
        return rc;
    pthread_mutex_lock(&tr->mu);
    char **t = realloc(tr->tenants, (tr->ntenants + 1) * sizeof *t);
    char *c = strdup(tenant);
    if (t)
        tr->tenants = t;
    if (t && c)
        tr->tenants[tr->ntenants++] = c;
    else
        free(c);
    pthread_mutex_unlock(&tr->mu);
    return OWL_OK;
}

/* The order a put's spans go into the rows: each trace's together, the traces in the order
 * they first appear and a trace's spans in the order they came; spans older than `oldest`
 * left out. In order[0..*kept), span indexes; keys[j], span j's trace key. A batch holds
 * spans resource by resource (an OpenTelemetry collector's, say), so a trace's spans lie
 * far apart in it; a seal writes each trace's rows together, and gathers them from one
 * stretch of the memtable this way, whole cache lines at a time, instead of one cell from
 * each resource's stretch (the gather was a tenth of span ingest's time). */
static int trace_order(const owl_span *spans, size_t n, int64_t oldest, uint64_t *keys,
                       uint32_t *order, size_t *kept)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint64_t *slot_key = malloc(cap * sizeof *slot_key);
    uint32_t *slot_group = malloc(cap * sizeof *slot_group);
    uint32_t *group = malloc(n * sizeof *group), *start = malloc(n * sizeof *start);
    if (!slot_key || !slot_group || !group || !start) {
        free(slot_key), free(slot_group), free(group), free(start);
        return OWL_ENOMEM;
    }
    memset(slot_group, 0xff, cap * sizeof *slot_group); /* UINT32_MAX: empty */
    uint32_t ngroups = 0;
    for (size_t j = 0; j < n; j++) {
        if (spans[j].start_ns < oldest) {
            group[j] = UINT32_MAX;
            continue;
        }
        uint64_t k = keys[j] = owl_hash64_16(spans[j].trace_id, 0);
        size_t at = (size_t)k & (cap - 1); /* k is a hash already */
        while (slot_group[at] != UINT32_MAX && slot_key[at] != k)
            at = (at + 1) & (cap - 1);
        if (slot_group[at] == UINT32_MAX) {
            slot_key[at] = k;
            slot_group[at] = ngroups;
            start[ngroups++] = 0;
        }
        group[j] = slot_group[at];
        start[group[j]]++;
    }
    size_t at = 0; /* counts to the groups' first places */
    for (uint32_t g = 0; g < ngroups; g++) {
        size_t c = start[g];
        start[g] = (uint32_t)at;
        at += c;
    }
    for (size_t j = 0; j < n; j++)
        if (group[j] != UINT32_MAX)
            order[start[group[j]]++] = (uint32_t)j;
    *kept = at;
    free(slot_key), free(slot_group), free(group), free(start);
    return OWL_OK;
}

/* An edge the live graph found: counted for its source -> target, and for a virtual target
 * as that node's request. Caller holds mu. */
static void graph_hop(void *ud, const owl_svcgraph_hop *h)
{
    owl_traces *tr = ud;
    int64_t minute = h->start_ns / MINUTE_NS - (h->start_ns % MINUTE_NS < 0);
    minute *= MINUTE_MS;
    uint64_t th = owl_hash64(h->tenant, strlen(h->tenant), 0);
    owl_bytes src = {h->source, strlen(h->source)}, dst = {h->target, strlen(h->target)};
    enum owl_span_status st = h->status & OWL_FO_FAULT      ? OWL_SPAN_FAULT
                              : h->status & OWL_FO_THROTTLE ? OWL_SPAN_THROTTLE
                              : h->status & OWL_FO_ERROR    ? OWL_SPAN_ERROR
                                                            : OWL_SPAN_OK;
    uint64_t eh = red_op_hash(red_service_hash(th, minute, &src), &dst) ^ RK_EDGE;
    red *e = red_get(tr, h->tenant, &src, &dst, RK_EDGE, minute, eh);
    if (e)
        red_count_v(tr, e, NULL, h->duration_ns, st);
    if (strcmp(h->target_type, "service")) {
        owl_bytes type = {h->target_type, strlen(h->target_type)};
        uint64_t vh = red_op_hash(red_service_hash(th, minute, &dst), &type) ^ RK_VNODE;
        red *v = red_get(tr, h->tenant, &dst, &type, RK_VNODE, minute, vh);
        if (v)
            red_count_v(tr, v, NULL, h->duration_ns, st);
    }
}

/* Feeds the live graph the stored spans[0..n) (finished, not older than oldest). Caller
 * holds mu. */
static void graph_feed(owl_traces *tr, const char *tenant, const owl_span *spans, size_t n,
                       int64_t oldest)
{
    if (n > tr->gcap) {
        owl_svcgraph_span *g = realloc(tr->gspans, n * sizeof *g);
        if (!g)
            return; /* the graph misses this batch; the spans are stored */
        tr->gspans = g;
        tr->gcap = n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const owl_span *s = &spans[i];
        if (s->in_progress || s->start_ns < oldest)
            continue;
        static const unsigned bits[] = {0, OWL_FO_ERROR, OWL_FO_FAULT, OWL_FO_THROTTLE};
        tr->gspans[k++] = (owl_svcgraph_span){
            .trace_id = s->trace_id,
            .span_id = s->span_id,
            .parent_id = s->parent_id,
            .service = s->service.n ? s->service.p : "",
            .service_len = s->service.n,
            .peer = s->peer_service.n ? s->peer_service.p : "",
            .peer_len = s->peer_service.n,
            .kind = s->kind,
            .start_ns = s->start_ns,
            .duration_ns = s->duration_ns,
            .status = (unsigned)s->status < 4 ? bits[s->status] : 0,
        };
    }
    owl_svcgraph_add(tr->graph, tenant, tr->gspans, k, owl_now_ms() * 1000000, graph_hop, tr);
}

int owl_traces_put(owl_traces *tr, const char *tenant, const owl_span *spans, size_t n,
                   size_t *expired, owl_error *err)
{
    if (expired)
        *expired = 0;
    if (n == 0)
        return OWL_OK;
    int rc = ensure_retention(tr, tenant, err);
    if (rc != OWL_OK)
        return rc;
    /* columns built directly from the records: byte values point into them */
    size_t ncells;
    owl_cell *cells = owl_spares_take(&tr->cells, n * OWL_SPANS_NCOLS * sizeof *cells, &ncells);
    if (!cells)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    owl_rows rows = {.nrows = n};
    owl_cell *col[OWL_SPANS_NCOLS];
    for (size_t c = 0; c < OWL_SPANS_NCOLS; c++) {
        col[c] = cells + c * n;
        rows.cols[c] = col[c];
    }
    int64_t oldest = owl_traces_oldest_ns(tr, NULL);
    size_t kept = 0;
    uint64_t *keys = malloc(n * sizeof *keys);
    uint32_t *order = malloc(n * sizeof *order);
    if (!keys || !order || trace_order(spans, n, oldest, keys, order, &kept) != OWL_OK) {
        free(keys), free(order);
        owl_spares_give(&tr->cells, cells, ncells);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
#define B(x) ((owl_bytes){(x).n ? (x).p : "", (x).n})
    for (size_t i = 0; i < kept; i++) {
        const owl_span *s = &spans[order[i]];
        col[OWL_SPANS_TIME][i].i = s->start_ns;
        col[OWL_SPANS_TRACE_KEY][i].u = keys[order[i]];
        col[OWL_SPANS_TRACE_ID][i].b = (owl_bytes){s->trace_id, 16};
        col[OWL_SPANS_SPAN_ID][i].b = (owl_bytes){s->span_id, 8};
        col[OWL_SPANS_PARENT_ID][i].b = (owl_bytes){s->parent_id, 8};
        col[OWL_SPANS_SERVICE][i].b = B(s->service);
        col[OWL_SPANS_NAME][i].b = B(s->name);
        col[OWL_SPANS_KIND][i].i = s->kind;
        col[OWL_SPANS_DURATION][i].i = s->duration_ns;
        col[OWL_SPANS_STATUS][i].i = s->status;
        col[OWL_SPANS_STATUS_CODE][i].i = s->status_code;
        col[OWL_SPANS_STATUS_MSG][i].b = B(s->status_message);
        col[OWL_SPANS_HTTP_METHOD][i].b = B(s->http_method);
        col[OWL_SPANS_ROUTE][i].b = B(s->route);
        col[OWL_SPANS_URL][i].b = B(s->url);
        col[OWL_SPANS_HTTP_STATUS][i].i = s->http_status;
        col[OWL_SPANS_PEER_SERVICE][i].b = B(s->peer_service);
        col[OWL_SPANS_USER_AGENT][i].b = B(s->user_agent);
        col[OWL_SPANS_CLIENT_IP][i].b = B(s->client_ip);
        col[OWL_SPANS_IN_PROGRESS][i].i = s->in_progress != 0;
        col[OWL_SPANS_ATTRS][i].b = B(s->attrs);
        col[OWL_SPANS_RESOURCE][i].b = B(s->resource);
    }
#undef B
    free(keys), free(order);
    if (expired)
        *expired = n - kept;
    rows.nrows = kept;
    rc = kept ? owl_store_append(tr->store, "spans", tenant, OWL_TRACES_PARTITION, &rows, err)
              : OWL_OK;
    owl_spares_give(&tr->cells, cells, ncells);
    if (rc != OWL_OK || !tr->metrics)
        return rc;
    /* the statistics, after the spans are stored (a refused put counts nothing) */
    uint64_t th = owl_hash64(tenant, strlen(tenant), 0), svc_h = 0;
    const owl_bytes *svc = NULL; /* the service and minute svc_h is the service row's hash of */
    int64_t svc_minute = 0;
    pthread_mutex_lock(&tr->mu);
    for (size_t i = 0; i < n; i++) {
        const owl_span *s = &spans[i];
        if (!is_entry(s) || s->in_progress || s->start_ns < oldest)
            continue;
        int64_t minute = s->start_ns / MINUTE_NS - (s->start_ns % MINUTE_NS < 0);
        minute *= MINUTE_MS;
        if (!svc || svc->p != s->service.p || svc->n != s->service.n || svc_minute != minute) {
            svc = &s->service, svc_minute = minute;
            svc_h = red_service_hash(th, minute, svc);
        }
        red *e = red_get(tr, tenant, &s->service, &s->name, RK_OP, minute,
                         red_op_hash(svc_h, &s->name));
        red *a = red_get(tr, tenant, &s->service, NULL, RK_SERVICE, minute, svc_h);
        if (e)
            red_count(tr, e, s);
        if (a)
            red_count(tr, a, s);
    }
    if (tr->graph)
        graph_feed(tr, tenant, spans, n, oldest);
    pthread_mutex_unlock(&tr->mu);
    return OWL_OK;
}

owl_store *owl_traces_store(owl_traces *tr)
{
    return tr->store;
}

int64_t owl_traces_oldest_ns(const owl_traces *tr, int *days)
{
    if (days)
        *days = tr->opts.retention_days;
    return tr->opts.retention_days > 0
               ? (owl_now_ms() - (int64_t)tr->opts.retention_days * 86400000) * 1000000
               : INT64_MIN;
}

/* ---- get: one trace by id ---- */

typedef struct collect {
    owl_trace *t;
    size_t cap;
    int rc;
} collect;

/* A copy of b in arena a ("" for empty; p NULL when out of memory). */
static owl_bytes arena_bytes(owl_arena *a, owl_bytes b)
{
    if (b.n == 0)
        return (owl_bytes){"", 0};
    void *p = owl_arena_copy(a, b.p, b.n);
    return p ? (owl_bytes){p, b.n} : (owl_bytes){NULL, 0};
}

static int collect_rows(void *ud, const owl_batch *b)
{
    collect *c = ud;
    owl_trace *t = c->t;
    for (size_t r = 0; r < b->nrows; r++) {
        if (t->n == OWL_TRACE_MAX_SPANS) {
            t->truncated = 1;
            return 0;
        }
        if (t->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            owl_span *s = realloc(t->spans, cap * sizeof *s);
            if (!s)
                return c->rc = OWL_ENOMEM;
            t->spans = s;
            c->cap = cap;
        }
        owl_span *s = &t->spans[t->n];
        memset(s, 0, sizeof *s);
        owl_arena *a = &t->arena;
        memcpy(s->trace_id, b->cols[OWL_SPANS_TRACE_ID][r].b.p, 16);
        memcpy(s->span_id, b->cols[OWL_SPANS_SPAN_ID][r].b.p, 8);
        memcpy(s->parent_id, b->cols[OWL_SPANS_PARENT_ID][r].b.p, 8);
        s->service = arena_bytes(a, b->cols[OWL_SPANS_SERVICE][r].b);
        s->name = arena_bytes(a, b->cols[OWL_SPANS_NAME][r].b);
        s->kind = (enum owl_span_kind)b->cols[OWL_SPANS_KIND][r].i;
        s->start_ns = b->cols[OWL_SPANS_TIME][r].i;
        s->duration_ns = b->cols[OWL_SPANS_DURATION][r].i;
        s->status = (enum owl_span_status)b->cols[OWL_SPANS_STATUS][r].i;
        s->status_code = (int)b->cols[OWL_SPANS_STATUS_CODE][r].i;
        s->status_message = arena_bytes(a, b->cols[OWL_SPANS_STATUS_MSG][r].b);
        s->http_method = arena_bytes(a, b->cols[OWL_SPANS_HTTP_METHOD][r].b);
        s->route = arena_bytes(a, b->cols[OWL_SPANS_ROUTE][r].b);
        s->url = arena_bytes(a, b->cols[OWL_SPANS_URL][r].b);
        s->http_status = (int)b->cols[OWL_SPANS_HTTP_STATUS][r].i;
        s->peer_service = arena_bytes(a, b->cols[OWL_SPANS_PEER_SERVICE][r].b);
        s->user_agent = arena_bytes(a, b->cols[OWL_SPANS_USER_AGENT][r].b);
        s->client_ip = arena_bytes(a, b->cols[OWL_SPANS_CLIENT_IP][r].b);
        s->in_progress = (int)b->cols[OWL_SPANS_IN_PROGRESS][r].i;
        s->attrs = arena_bytes(a, b->cols[OWL_SPANS_ATTRS][r].b);
        s->resource = arena_bytes(a, b->cols[OWL_SPANS_RESOURCE][r].b);
        if (!s->resource.p || !s->service.p || !s->name.p || !s->status_message.p ||
            !s->http_method.p ||
            !s->route.p || !s->url.p || !s->peer_service.p || !s->user_agent.p ||
            !s->client_ip.p || !s->attrs.p)
            return c->rc = OWL_ENOMEM;
        t->n++;
    }
    return 0;
}

/* Records of one span: the same span id, kind and service. */
static int same_span(const owl_span *a, const owl_span *b)
{
    return !memcmp(a->span_id, b->span_id, 8) && a->kind == b->kind &&
           a->service.n == b->service.n && !memcmp(a->service.p, b->service.p, a->service.n);
}

/* b (a record of the same span as a, kept already) makes a redundant: a is in progress and b
 * finished (X-Ray's in-progress segment, then the completed one), or a repeats b exactly (a
 * batch its client retried). Records of one span id at other times (an instrumentation that
 * reports each message it receives under one id) are all kept. */
static int redundant(const owl_span *a, const owl_span *b)
{
    if (!same_span(a, b))
        return 0;
    if (a->in_progress && !b->in_progress)
        return 1;
    return a->start_ns == b->start_ns && a->duration_ns == b->duration_ns &&
           a->in_progress == b->in_progress && a->name.n == b->name.n &&
           !memcmp(a->name.p, b->name.p, a->name.n);
}

static int cmp_span_id(const void *x, const void *y, void *ud)
{
    const owl_span *s = ud;
    const uint32_t *a = x, *b = y;
    int c = memcmp(s[*a].span_id, s[*b].span_id, 8);
    if (c)
        return c;
    /* completed before in progress, then longer first, then the earlier record */
    if (s[*a].in_progress != s[*b].in_progress)
        return s[*a].in_progress - s[*b].in_progress;
    if (s[*a].duration_ns != s[*b].duration_ns)
        return s[*a].duration_ns > s[*b].duration_ns ? -1 : 1;
    return *a < *b ? -1 : *a > *b;
}

static int cmp_start(const void *x, const void *y, void *ud)
{
    const owl_span *s = ud;
    const uint32_t *a = x, *b = y;
    if (s[*a].start_ns != s[*b].start_ns)
        return s[*a].start_ns < s[*b].start_ns ? -1 : 1;
    return *a < *b ? -1 : *a > *b;
}

/* Finds the index (in by_id, sorted by span id) range of id. */
static size_t lower_id(const owl_span *s, const uint32_t *by_id, size_t n, const uint8_t *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(s[by_id[mid]].span_id, id, 8) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Arranges t's spans into the tree order owl_trace promises and fills parent, depth,
 * self_ns, start_ns and end_ns. */
static int build_tree(owl_trace *t)
{
    size_t n = t->n;
    owl_span *s = t->spans;
    uint32_t *by_id = malloc((n ? n : 1) * sizeof *by_id);
    if (!by_id)
        return OWL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        by_id[i] = (uint32_t)i;
    qsort_r(by_id, n, sizeof *by_id, cmp_span_id, s);
    /* dedupe: within a run of one span id (completed records first), drop the records
     * another kept one makes redundant; each is compared with at most DEDUPE_MAX earlier
     * ones, so a flood of records under one id costs linear time */
    char *drop = calloc(n ? n : 1, 1);
    if (!drop) {
        free(by_id);
        return OWL_ENOMEM;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !memcmp(s[by_id[j]].span_id, s[by_id[i]].span_id, 8))
            j++;
        for (size_t a = i; a < j; a++)
            for (size_t b = a > i + DEDUPE_MAX ? a - DEDUPE_MAX : i; b < a && !drop[by_id[a]];
                 b++)
                if (!drop[by_id[b]] && redundant(&s[by_id[a]], &s[by_id[b]]))
                    drop[by_id[a]] = 1;
        i = j;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!drop[i])
            s[m++] = s[i];
    free(drop);
    n = t->n = m;
    for (size_t i = 0; i < n; i++)
        by_id[i] = (uint32_t)i;
    qsort_r(by_id, n, sizeof *by_id, cmp_span_id, s);
    /* parents: the span of parent_id (a server record preferred: its children are the
     * server's work); a Zipkin shared server half goes under the client half of its id */
    int32_t *par = malloc((n ? n : 1) * sizeof *par);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    uint32_t *kids = malloc((n ? n : 1) * sizeof *kids);
    uint32_t *first = malloc((n + 1) * sizeof *first);
    int32_t *depth = owl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *depth);
    int32_t *parent = owl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *parent);
    int64_t *self = owl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *self);
    owl_span *sorted = owl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *sorted);
    uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
    int32_t *newidx = malloc((n ? n : 1) * sizeof *newidx);
    int rc = OWL_OK;
    if (!par || !order || !kids || !first || !depth || !parent || !self || !sorted || !stack ||
        !newidx) {
        rc = OWL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        par[i] = -1;
        size_t k = lower_id(s, by_id, n, s[i].span_id);
        /* the client half of a shared id is this server span's parent */
        if (s[i].kind == OWL_SPAN_SERVER) {
            for (size_t q = k; q < n && !memcmp(s[by_id[q]].span_id, s[i].span_id, 8); q++)
                if (s[by_id[q]].kind == OWL_SPAN_CLIENT && by_id[q] != i) {
                    par[i] = (int32_t)by_id[q];
                    break;
                }
            if (par[i] >= 0)
                continue;
        }
        if (owl_traceid_is_zero(s[i].parent_id, 8))
            continue;
        k = lower_id(s, by_id, n, s[i].parent_id);
        int32_t best = -1;
        for (size_t q = k; q < n && !memcmp(s[by_id[q]].span_id, s[i].parent_id, 8); q++) {
            if (by_id[q] == i)
                continue;
            if (best < 0 ||
                (s[by_id[q]].kind == OWL_SPAN_SERVER && s[best].kind != OWL_SPAN_SERVER))
                best = (int32_t)by_id[q];
        }
        par[i] = best;
    }
    /* break cycles (a malformed trace): walk up from each span; a span met twice loses its
     * parent */
    for (size_t i = 0; i < n; i++) {
        size_t steps = 0;
        for (int32_t p = par[i]; p >= 0; p = par[p])
            if (++steps > n) {
                par[i] = -1;
                break;
            }
    }
    /* children lists: spans sorted by start, then grouped by parent (counting sort) */
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, n, sizeof *order, cmp_start, s);
    memset(first, 0, (n + 1) * sizeof *first);
    for (size_t i = 0; i < n; i++)
        if (par[i] >= 0)
            first[par[i] + 1]++;
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    {
        uint32_t *fill = malloc((n ? n : 1) * sizeof *fill);
        if (!fill) {
            rc = OWL_ENOMEM;
            goto out;
        }
        memcpy(fill, first, n * sizeof *fill);
        for (size_t k = 0; k < n; k++) {
            uint32_t i = order[k];
            if (par[i] >= 0)
                kids[fill[par[i]]++] = i;
        }
        free(fill);
    }
    /* depth-first from each root: true roots (no parent id) by start, then the spans whose
     * parent is not in the trace, by start — so spans[0] is the trace's root when it has one */
    size_t out_n = 0;
    for (size_t k = 0; k < 2 * n; k++) {
        uint32_t r = order[k % n];
        if (par[r] >= 0 || (k < n) != owl_traceid_is_zero(s[r].parent_id, 8))
            continue;
        size_t sp = 0;
        stack[sp++] = r;
        while (sp) {
            uint32_t i = stack[--sp];
            newidx[i] = (int32_t)out_n;
            sorted[out_n] = s[i];
            depth[out_n] = par[i] >= 0 ? depth[newidx[par[i]]] + 1 : 0;
            parent[out_n] = par[i] >= 0 ? newidx[par[i]] : -1;
            out_n++;
            size_t lo = first[i], hi = i + 1 < n ? first[i + 1] : first[n];
            /* push in reverse so the earliest child comes out first */
            for (size_t q = hi; q > lo; q--)
                stack[sp++] = kids[q - 1];
        }
    }
    /* self time: duration minus the union of the children's intervals clamped into it; the
     * children come in start order in kids */
    t->start_ns = n ? INT64_MAX : 0;
    t->end_ns = n ? INT64_MIN : 0;
    for (size_t i = 0; i < n; i++) {
        const owl_span *x = &s[i];
        int64_t lo = x->start_ns, hi = x->start_ns + x->duration_ns, covered = 0, reach = lo;
        size_t a = first[i], b = i + 1 < n ? first[i + 1] : first[n];
        for (size_t q = a; q < b; q++) {
            const owl_span *c = &s[kids[q]];
            int64_t cs = c->start_ns < lo ? lo : c->start_ns;
            int64_t ce = c->start_ns + c->duration_ns;
            if (ce > hi)
                ce = hi;
            if (cs < reach)
                cs = reach;
            if (ce > cs) {
                covered += ce - cs;
                reach = ce;
            }
        }
        self[newidx[i]] = x->in_progress ? 0 : x->duration_ns - covered;
        if (x->start_ns < t->start_ns)
            t->start_ns = x->start_ns;
        if (hi > t->end_ns)
            t->end_ns = hi;
    }
    /* the spans now live in the arena, in tree order (the caller frees the unsorted ones) */
    t->parent = parent;
    t->depth = depth;
    t->self_ns = self;
    t->n = out_n;
    t->spans = sorted;
out:
    free(by_id);
    free(par);
    free(order);
    free(kids);
    free(first);
    free(stack);
    free(newidx);
    return rc;
}

void owl_trace_free(owl_trace *t)
{
    if (!t)
        return;
    owl_arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

/* Reads every row of trace id into t (unsorted spans in a malloc'd array *raw). */
static int read_trace(owl_traces *tr, const char *tenant, const uint8_t id[16], owl_trace *t,
                      owl_span **raw, owl_error *err)
{
    /* every column, in schema order: a batch's columns come in the order asked, so the
     * column numbers index them */
    size_t cols[OWL_SPANS_NCOLS];
    for (size_t c = 0; c < OWL_SPANS_NCOLS; c++)
        cols[c] = c;
    owl_pred preds[2] = {
        {.col = OWL_SPANS_TRACE_KEY, .op = OWL_PRED_EQ, .lo.u = owl_hash64(id, 16, 0)},
        {.col = OWL_SPANS_TRACE_ID, .op = OWL_PRED_EQ, .lo.b = {id, 16}},
    };
    const char *parts[] = {OWL_TRACES_PARTITION};
    collect c = {.t = t};
    owl_scan q = {
        .table = "spans",
        .tenant = tenant,
        .partitions = parts,
        .npartitions = 1,
        .start = INT64_MIN,
        .end = INT64_MAX,
        .cols = cols,
        .ncols = OWL_SPANS_NCOLS,
        .preds = preds,
        .npreds = 2,
        .fn = collect_rows,
        .ud = &c,
    };
    t->spans = NULL;
    int rc = owl_store_scan(tr->store, &q, NULL, err);
    *raw = t->spans;
    if (rc == OWL_OK && c.rc != OWL_OK)
        rc = owl_error_set(err, c.rc, "out of memory");
    return rc;
}

int owl_traces_get(owl_traces *tr, const char *tenant, const uint8_t id[16], owl_trace *t,
                   owl_error *err)
{
    memcpy(t->id, id, 16);
    owl_arena_init(&t->arena, 0);
    owl_span *raw = NULL;
    int rc = read_trace(tr, tenant, id, t, &raw, err);
    if (rc == OWL_OK && t->n == 0) {
        char hex[OWL_TRACEID_HEX_SIZE];
        owl_traceid_to_hex(id, hex);
        rc = owl_error_set(err, OWL_ENOTFOUND, "no trace %s", hex);
    }
    if (rc == OWL_OK && build_tree(t) != OWL_OK)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    free(raw);
    if (rc != OWL_OK) {
        t->spans = NULL;
        t->n = 0;
    }
    return rc;
}

/* ---- the filter language's view of a trace ---- */

static const char *cstr(owl_arena *a, const void *p, size_t n)
{
    if (n == 0)
        return "";
    char *s = owl_arena_alloc(a, n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* The string at path (a.b through documents) of doc, else an empty view. */
static owl_bytes path_str(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    uint32_t len = 0;
    const char *v = NULL;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f) &&
        BSON_ITER_HOLDS_UTF8(&f))
        v = bson_iter_utf8(&f, &len);
    return (owl_bytes){v, v ? len : 0};
}

/* The string member key (taken whole: OTLP keys hold dots) of the document member parent. */
static owl_bytes member_str(const bson_t *doc, const char *parent, const char *key)
{
    bson_iter_t it, sub;
    uint32_t len = 0;
    const char *v = NULL;
    if (bson_iter_init_find(&it, doc, parent) && BSON_ITER_HOLDS_DOCUMENT(&it) &&
        bson_iter_recurse(&it, &sub) && bson_iter_find(&sub, key) && BSON_ITER_HOLDS_UTF8(&sub))
        v = bson_iter_utf8(&sub, &len);
    return (owl_bytes){v, v ? len : 0};
}

void owl_span_more_of(owl_bytes attrs, owl_bytes resource, owl_span_more *m)
{
    memset(m, 0, sizeof *m);
    bson_t doc;
    if (attrs.n >= 5 && bson_init_static(&doc, attrs.p, attrs.n)) {
        m->user = path_str(&doc, "user");
        if (!m->user.n)
            m->user = member_str(&doc, "attributes", "enduser.id");
        m->service_type = path_str(&doc, "origin");
        m->az = path_str(&doc, "aws.ec2.availability_zone");
        m->instance_id = path_str(&doc, "aws.ec2.instance_id");
        m->arn = path_str(&doc, "resource_arn");
    }
    bson_t res; /* OTLP's resource: where the span ran */
    if (resource.n >= 5 && bson_init_static(&res, resource.p, resource.n)) {
        if (!m->az.n)
            m->az = member_str(&res, "resource", "cloud.availability_zone");
        if (!m->instance_id.n)
            m->instance_id = member_str(&res, "resource", "host.id");
    }
}

int owl_span_annotations(owl_bytes attrs, int (*fn)(void *ud, const owl_span_ann *a), void *ud)
{
    bson_t doc;
    bson_iter_t it, sub;
    if (attrs.n < 5 || !bson_init_static(&doc, attrs.p, attrs.n))
        return 0;
    if (!(bson_iter_init_find(&it, &doc, "annotations") && BSON_ITER_HOLDS_DOCUMENT(&it)) &&
        !(bson_iter_init_find(&it, &doc, "attributes") && BSON_ITER_HOLDS_DOCUMENT(&it)))
        return 0;
    if (!bson_iter_recurse(&it, &sub))
        return 0;
    while (bson_iter_next(&sub)) {
        owl_span_ann a = {.key = bson_iter_key(&sub)};
        a.key_n = strlen(a.key);
        if (BSON_ITER_HOLDS_UTF8(&sub)) {
            uint32_t len;
            a.str = bson_iter_utf8(&sub, &len);
            a.str_n = len;
            a.type = OWL_XF_ASTR;
        } else if (BSON_ITER_HOLDS_BOOL(&sub)) {
            a.type = OWL_XF_ABOOL;
            a.boolean = bson_iter_bool(&sub);
        } else if (BSON_ITER_HOLDS_NUMBER(&sub)) {
            a.type = OWL_XF_ANUM;
            a.num = bson_iter_as_double(&sub);
        } else {
            continue;
        }
        int rc = fn(ud, &a);
        if (rc)
            return rc;
    }
    return 0;
}

/* owl_trace_views' annotations of one span: counted, then copied into the arena. */
typedef struct ann_fill {
    owl_arena *a;
    owl_xf_annotation *v;
    size_t n;
} ann_fill;

static int ann_count(void *ud, const owl_span_ann *x)
{
    (void)x;
    ((ann_fill *)ud)->n++;
    return 0;
}

static int ann_copy(void *ud, const owl_span_ann *x)
{
    ann_fill *f = ud;
    owl_xf_annotation *y = &f->v[f->n];
    *y = (owl_xf_annotation){.type = (owl_xf_atype)x->type, .num = x->num,
                             .boolean = x->boolean};
    if (!(y->key = cstr(f->a, x->key, x->key_n)) ||
        (x->type == OWL_XF_ASTR && !(y->str = cstr(f->a, x->str, x->str_n))))
        return OWL_ENOMEM;
    f->n++;
    return 0;
}

/* Annotations: X-Ray's `annotations`, else the span's attributes (OTLP, Zipkin tags) —
 * their strings, numbers and booleans. */
static int annotations_of(owl_arena *a, owl_bytes attrs, owl_xf_span *v)
{
    ann_fill f = {a, NULL, 0};
    owl_span_annotations(attrs, ann_count, &f);
    if (!f.n)
        return OWL_OK;
    if (!(f.v = owl_arena_alloc(a, f.n * sizeof *f.v)))
        return OWL_ENOMEM;
    f.n = 0;
    if (owl_span_annotations(attrs, ann_copy, &f) != 0)
        return OWL_ENOMEM;
    v->annotations = f.v;
    v->n_annotations = f.n;
    return OWL_OK;
}

/* The non-empty string at path in doc (a.b through documents, a.N through arrays), else an
 * empty view. */
static owl_bytes doc_str(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    uint32_t n = 0;
    const char *p = NULL;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f) &&
        BSON_ITER_HOLDS_UTF8(&f))
        p = bson_iter_utf8(&f, &n);
    return (owl_bytes){p, p ? n : 0};
}

void owl_span_exception(owl_bytes attrs, owl_bytes *type, owl_bytes *msg)
{
    *type = *msg = (owl_bytes){NULL, 0};
    bson_t doc;
    if (attrs.n < 5 || !bson_init_static(&doc, attrs.p, attrs.n))
        return;
    bson_iter_t it, ev;
    if (bson_iter_init_find(&it, &doc, "events") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ev))
        while (bson_iter_next(&ev)) {
            const uint8_t *d;
            uint32_t dn;
            bson_t e;
            if (!BSON_ITER_HOLDS_DOCUMENT(&ev))
                continue;
            bson_iter_document(&ev, &dn, &d);
            owl_bytes name = {NULL, 0};
            if (bson_init_static(&e, d, dn))
                name = doc_str(&e, "name");
            if (name.n != 9 || memcmp(name.p, "exception", 9))
                continue;
            *type = doc_str(&e, "type");
            *msg = doc_str(&e, "message");
            return;
        }
    *type = doc_str(&doc, "cause.exceptions.0.type");
    *msg = doc_str(&doc, "cause.exceptions.0.message");
}

int owl_trace_views(owl_trace *t, owl_xf_span **views)
{
    owl_arena *a = &t->arena;
    owl_xf_span *v = owl_arena_alloc(a, (t->n ? t->n : 1) * sizeof *v);
    if (!v)
        return OWL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const owl_span *s = &t->spans[i];
        owl_xf_span *x = &v[i];
        memset(x, 0, sizeof *x);
        x->kind = owl_span_view_kind(s->kind);
        x->service = cstr(a, s->service.p, s->service.n);
        x->name = cstr(a, s->name.p, s->name.n);
        x->start_ns = s->start_ns;
        x->end_ns = s->start_ns + s->duration_ns;
        owl_span_view_flags(x, s->status, s->in_progress);
        x->http_method = cstr(a, s->http_method.p, s->http_method.n);
        x->http_url = cstr(a, s->url.p, s->url.n);
        x->http_useragent = cstr(a, s->user_agent.p, s->user_agent.n);
        x->http_clientip = cstr(a, s->client_ip.p, s->client_ip.n);
        x->http_status = s->http_status;
        x->parent = t->parent[i];
        x->remote_service = cstr(a, s->peer_service.p, s->peer_service.n);
        if (!x->service || !x->name || !x->http_method || !x->http_url || !x->http_useragent ||
            !x->http_clientip || !x->remote_service)
            return OWL_ENOMEM;
        owl_span_more m;
        owl_span_more_of(s->attrs, s->resource, &m);
        const owl_bytes *mb[5] = {&m.user, &m.service_type, &m.az, &m.instance_id, &m.arn};
        const char **mx[5] = {&x->user, &x->service_type, &x->availability_zone,
                              &x->instance_id, &x->resource_arn};
        for (int k = 0; k < 5; k++)
            if (mb[k]->n && !(*mx[k] = cstr(a, mb[k]->p, mb[k]->n)))
                return OWL_ENOMEM;
        if (annotations_of(a, s->attrs, x) != OWL_OK)
            return OWL_ENOMEM;
        owl_bytes et, em;
        owl_span_exception(s->attrs, &et, &em);
        if (et.n && !(x->exception_type = cstr(a, et.p, et.n)))
            return OWL_ENOMEM;
        if (em.n && !(x->exception_message = cstr(a, em.p, em.n)))
            return OWL_ENOMEM;
        if (!x->exception_message && s->status != OWL_SPAN_OK && s->status_message.n)
            x->exception_message = cstr(a, s->status_message.p, s->status_message.n);
    }
    *views = v;
    return OWL_OK;
}

/* ---- search ---- */

void owl_trace_page_free(owl_trace_page *p)
{
    if (!p)
        return;
    free(p->items);
    owl_arena_free(&p->arena);
    memset(p, 0, sizeof *p);
}

typedef struct cand {
    uint8_t id[16];
    int64_t start; /* the earliest matching span's start */
    int used;
} cand;

typedef struct cands {
    cand *tab;
    size_t cap, n;
    int full;
} cands;

static int cands_add(cands *c, const uint8_t *id, int64_t start)
{
    if (!c->cap || (c->n + 1) * 2 > c->cap) {
        if (c->n >= MAX_CANDIDATES) {
            /* still lower the start of a known candidate below */
            c->full = 1;
        } else {
            size_t cap = c->cap ? c->cap * 2 : 1024;
            cand *t = calloc(cap, sizeof *t);
            if (!t)
                return OWL_ENOMEM;
            for (size_t i = 0; i < c->cap; i++)
                if (c->tab[i].used) {
                    size_t h = owl_hash64(c->tab[i].id, 16, 7) & (cap - 1);
                    while (t[h].used)
                        h = (h + 1) & (cap - 1);
                    t[h] = c->tab[i];
                }
            free(c->tab);
            c->tab = t;
            c->cap = cap;
        }
    }
    size_t h = owl_hash64(id, 16, 7) & (c->cap - 1);
    while (c->tab[h].used) {
        if (!memcmp(c->tab[h].id, id, 16)) {
            if (start < c->tab[h].start)
                c->tab[h].start = start;
            return OWL_OK;
        }
        h = (h + 1) & (c->cap - 1);
    }
    if (c->full)
        return OWL_OK;
    memcpy(c->tab[h].id, id, 16);
    c->tab[h].start = start;
    c->tab[h].used = 1;
    c->n++;
    return OWL_OK;
}

static int cands_row(void *ud, const owl_batch *b)
{
    cands *c = ud;
    for (size_t r = 0; r < b->nrows; r++)
        if (cands_add(c, b->cols[0][r].b.p, b->cols[1][r].i) !=
            OWL_OK)
            return OWL_ENOMEM;
    return 0;
}

/* Newest first, then by id. */
static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->start != b->start)
        return a->start > b->start ? -1 : 1;
    return memcmp(a->id, b->id, 16);
}

static int parse_token(const char *tok, cand *after)
{
    /* "1." <start ns> "." <32 hex> */
    if (strncmp(tok, "1.", 2) != 0)
        return OWL_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(tok + 2, &end, 10);
    if (errno || end == tok + 2 || *end != '.' || strlen(end + 1) != 32)
        return OWL_EINVAL;
    owl_error e = {0};
    if (owl_traceid_from_hex(end + 1, 32, after->id, &e) != OWL_OK)
        return OWL_EINVAL;
    after->start = v;
    return OWL_OK;
}

/* Fills *s from t (strings copied into p's arena). */
static int summarize(owl_trace_page *p, const owl_trace *t, owl_trace_summary *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->id, t->id, 16);
    s->nspans = t->n;
    s->start_ns = t->start_ns;
    s->duration_ns = t->end_ns - t->start_ns;
    const owl_span *root = &t->spans[0];
    s->root_service = arena_bytes(&p->arena, root->service);
    s->root_operation = arena_bytes(&p->arena, root->name);
    s->root_duration_ns = root->in_progress ? -1 : root->duration_ns;
    s->http_status = root->http_status;
    s->http_method = arena_bytes(&p->arena, root->http_method);
    s->url = arena_bytes(&p->arena, root->url);
    s->user_agent = arena_bytes(&p->arena, root->user_agent);
    s->client_ip = arena_bytes(&p->arena, root->client_ip);
    s->services = owl_arena_alloc(&p->arena, t->n * sizeof *s->services);
    if (!s->services || !s->root_service.p || !s->root_operation.p || !s->http_method.p ||
        !s->url.p || !s->user_agent.p || !s->client_ip.p)
        return OWL_ENOMEM;
    size_t roots = 0;
    for (size_t i = 0; i < t->n; i++) {
        const owl_span *x = &t->spans[i];
        roots += t->parent[i] < 0;
        s->error |= x->status == OWL_SPAN_ERROR || x->status == OWL_SPAN_THROTTLE;
        s->fault |= x->status == OWL_SPAN_FAULT;
        s->throttle |= x->status == OWL_SPAN_THROTTLE;
        s->partial |= x->in_progress != 0;
        size_t k = 0;
        while (k < s->nservices && (s->services[k].n != x->service.n ||
                                    memcmp(s->services[k].p, x->service.p, x->service.n)))
            k++;
        if (k == s->nservices) {
            s->services[k] = arena_bytes(&p->arena, x->service);
            if (!s->services[k].p)
                return OWL_ENOMEM;
            s->nservices++;
        }
    }
    s->partial |= roots > 1;
    return OWL_OK;
}

static int status_holds(int want, const owl_trace_summary *s)
{
    switch (want) {
    case -1:
        return 1;
    case OWL_SPAN_OK:
        return !s->error && !s->fault && !s->throttle;
    case OWL_SPAN_ERROR:
        return s->error;
    case OWL_SPAN_FAULT:
        return s->fault;
    case OWL_SPAN_THROTTLE:
        return s->throttle;
    default:
        return 0;
    }
}

int owl_traces_search(owl_traces *tr, const char *tenant, const owl_trace_query *q,
                      owl_trace_page *page, owl_error *err)
{
    owl_arena_init(&page->arena, 0);
    page->next_token[0] = '\0';
    if (q->end_ns <= q->start_ns)
        return owl_error_set(err, OWL_EINVAL, "the end of the range must be after its start");
    size_t limit = q->limit ? q->limit : 100;
    if (limit > 1000)
        return owl_error_set(err, OWL_EINVAL, "limit must be at most 1000");
    cand after = {0};
    int have_after = 0;
    if (q->next_token && q->next_token[0]) {
        if (parse_token(q->next_token, &after) != OWL_OK)
            return owl_error_set(err, OWL_EINVAL, "next token is not one this server gave");
        have_after = 1;
    }
    /* 1. candidates: traces with a span in the range (of the service / operation) */
    owl_pred preds[2];
    size_t np = 0;
    if (q->service)
        preds[np++] = (owl_pred){.col = OWL_SPANS_SERVICE, .op = OWL_PRED_EQ,
                                 .lo.b = {q->service, strlen(q->service)}};
    if (q->operation)
        preds[np++] = (owl_pred){.col = OWL_SPANS_NAME, .op = OWL_PRED_EQ,
                                 .lo.b = {q->operation, strlen(q->operation)}};
    static const size_t cols[] = {OWL_SPANS_TRACE_ID, OWL_SPANS_TIME}; /* batch cols 0, 1 */
    const char *parts[] = {OWL_TRACES_PARTITION};
    cands c = {0};
    owl_scan sq = {
        .table = "spans",
        .tenant = tenant,
        .partitions = parts,
        .npartitions = 1,
        .start = q->start_ns,
        .end = q->end_ns,
        .cols = cols,
        .ncols = 2,
        .preds = np ? preds : NULL,
        .npreds = np,
        .fn = cands_row,
        .ud = &c,
    };
    int rc = owl_store_scan(tr->store, &sq, NULL, err);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory");
    cand *list = NULL;
    size_t nl = 0;
    if (rc == OWL_OK && c.n) {
        list = malloc(c.n * sizeof *list);
        if (!list)
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        for (size_t i = 0; list && i < c.cap; i++)
            if (c.tab[i].used)
                list[nl++] = c.tab[i];
    }
    free(c.tab);
    if (rc != OWL_OK) {
        free(list);
        return rc;
    }
    if (nl)
        qsort(list, nl, sizeof *list, cmp_cand);
    page->items = calloc(limit, sizeof *page->items);
    if (!page->items) {
        free(list);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    /* 2. each candidate after the token, read whole and checked */
    size_t i = 0;
    if (have_after)
        while (i < nl && cmp_cand(&list[i], &after) <= 0)
            i++;
    size_t gets = 0;
    const cand *last = NULL;
    for (; i < nl && page->n < limit && gets < MAX_GETS_PER_PAGE && rc == OWL_OK; i++) {
        owl_trace t = {0};
        gets++;
        last = &list[i];
        rc = owl_traces_get(tr, tenant, list[i].id, &t, err);
        if (rc == OWL_ENOTFOUND) { /* expired between the scan and now */
            owl_trace_free(&t);
            rc = OWL_OK;
            continue;
        }
        if (rc != OWL_OK) {
            owl_trace_free(&t);
            break;
        }
        page->scanned++;
        owl_trace_summary *s = &page->items[page->n];
        if ((rc = summarize(page, &t, s)) != OWL_OK) {
            owl_trace_free(&t);
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        int ok = status_holds(q->status, s) &&
                 (q->min_duration_ns < 0 || s->duration_ns >= q->min_duration_ns) &&
                 (q->max_duration_ns < 0 || s->duration_ns <= q->max_duration_ns);
        if (ok && q->filter) {
            owl_xf_span *v;
            if (owl_trace_views(&t, &v) != OWL_OK) {
                owl_trace_free(&t);
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
                break;
            }
            owl_xf_trace xt = {.spans = v, .n_spans = t.n, .root = 0};
            ok = owl_xf_match(q->filter, &xt);
        }
        owl_trace_free(&t);
        if (ok)
            page->n++;
    }
    if (rc == OWL_OK && i < nl && last) {
        char hex[OWL_TRACEID_HEX_SIZE];
        owl_traceid_to_hex(last->id, hex);
        snprintf(page->next_token, sizeof page->next_token, "1.%" PRId64 ".%s", last->start,
                 hex);
    }
    free(list);
    return rc;
}

/* ---- service and operation names ---- */

typedef struct names {
    char **v;
    size_t n, cap;
    int rc;
} names;

static int names_row(void *ud, const owl_batch *b)
{
    names *nm = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        owl_bytes x = b->cols[0][r].b;
        size_t k = 0;
        /* dictionary values repeat in runs: compare with the last one first */
        if (nm->n && strlen(nm->v[nm->n - 1]) == x.n && !memcmp(nm->v[nm->n - 1], x.p, x.n))
            continue;
        for (k = 0; k < nm->n; k++)
            if (strlen(nm->v[k]) == x.n && !memcmp(nm->v[k], x.p, x.n))
                break;
        if (k < nm->n) {
            /* move it last so runs are caught above */
            char *t = nm->v[k];
            memmove(nm->v + k, nm->v + k + 1, (nm->n - k - 1) * sizeof *nm->v);
            nm->v[nm->n - 1] = t;
            continue;
        }
        if (nm->n == OWL_TRACES_MAX_NAMES)
            continue;
        if (nm->n == nm->cap) {
            size_t cap = nm->cap ? nm->cap * 2 : 32;
            char **v = realloc(nm->v, cap * sizeof *v);
            if (!v)
                return nm->rc = OWL_ENOMEM;
            nm->v = v;
            nm->cap = cap;
        }
        char *s = malloc(x.n + 1);
        if (!s)
            return nm->rc = OWL_ENOMEM;
        memcpy(s, x.p, x.n);
        s[x.n] = '\0';
        nm->v[nm->n++] = s;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void owl_traces_names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int owl_traces_names(owl_traces *tr, const char *tenant, int64_t start_ns, int64_t end_ns,
                     const char *service, char ***out, size_t *n, owl_error *err)
{
    names nm = {0};
    size_t col = service ? OWL_SPANS_NAME : OWL_SPANS_SERVICE;
    owl_pred p = {.col = OWL_SPANS_SERVICE, .op = OWL_PRED_EQ,
                  .lo.b = {service ? service : "", service ? strlen(service) : 0}};
    const char *parts[] = {OWL_TRACES_PARTITION};
    owl_scan q = {
        .table = "spans",
        .tenant = tenant,
        .partitions = parts,
        .npartitions = 1,
        .start = start_ns,
        .end = end_ns,
        .cols = &col,
        .ncols = 1,
        .preds = service ? &p : NULL,
        .npreds = service ? 1 : 0,
        .fn = names_row,
        .ud = &nm,
    };
    int rc = owl_store_scan(tr->store, &q, NULL, err);
    if (rc == OWL_OK && nm.rc != OWL_OK)
        rc = owl_error_set(err, nm.rc, "out of memory");
    if (rc != OWL_OK) {
        owl_traces_names_free(nm.v, nm.n);
        return rc;
    }
    if (nm.n)
        qsort(nm.v, nm.n, sizeof *nm.v, cmp_str);
    *out = nm.v;
    *n = nm.n;
    return OWL_OK;
}

/* test_traces.c — ingest/traces.c: spans put and read back whole by id without a time range
 * (from memtables, from sealed parts of several days, after a reopen), the tree (order,
 * parents, depth, self time with overlapping and out-of-range children), in-progress records
 * replaced by completed ones, repeats dropped, Zipkin's shared span ids, tenants apart,
 * searches (service, operation, duration, status, filter expressions, pages that join up
 * exactly), and the RED statistics written into owl/Traces with exemplar evidence. */
#include <criterion/criterion.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/traceid.h"
#include "ingest/ingest.h"
#include "tests/unit/testfs.h"

#define T "000000000001"
#define T2 "000000000002"
#define MS 1000000LL

typedef struct env {
    char *dir;
    owl_meta *meta;
    owl_store *store;
    owl_metrics *metrics;
    owl_traces *tr;
} env;

static void env_open(env *e)
{
    char p[4200];
    owl_error err = {0};
    snprintf(p, sizeof p, "%s/meta", e->dir);
    cr_assert_eq(owl_meta_open(p, NULL, &e->meta, &err), OWL_OK, "%s", err.msg);
    owl_store_options so;
    owl_store_options_default(&so);
    so.background = 0;
    snprintf(p, sizeof p, "%s/store", e->dir);
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &e->store, &err), OWL_OK, "%s", err.msg);
    owl_metrics_options mo = {.background = 0};
    cr_assert_eq(owl_metrics_open(e->store, e->meta, &mo, &e->metrics, &err), OWL_OK, "%s",
                 err.msg);
    owl_traces_options o;
    owl_traces_options_default(&o);
    o.background = 0;
    cr_assert_eq(owl_traces_open(e->store, e->metrics, NULL, &o, &e->tr, &err), OWL_OK, "%s",
                 err.msg);
}

static void env_close(env *e)
{
    owl_traces_close(e->tr);
    owl_metrics_close(e->metrics);
    owl_store_close(e->store);
    owl_meta_close(e->meta);
}

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    e->dir = test_tmpdir("traces");
    env_open(e);
}

static void env_free(env *e)
{
    env_close(e);
    test_rm_rf(e->dir);
}

#define BS(s) ((owl_bytes){(s), sizeof(s) - 1})

static void tid(uint8_t id[16], unsigned n)
{
    memset(id, 0, 16);
    id[0] = 0xab;
    id[15] = (uint8_t)n;
    id[14] = (uint8_t)(n >> 8);
}

static void sid(uint8_t id[8], unsigned n)
{
    memset(id, 0, 8);
    id[0] = 0x5;
    id[7] = (uint8_t)n;
    id[6] = (uint8_t)(n >> 8);
}

static owl_span mkspan(unsigned trace, unsigned span, unsigned parent, const char *svc,
                       const char *name, int kind, int64_t start, int64_t dur)
{
    owl_span s;
    memset(&s, 0, sizeof s);
    tid(s.trace_id, trace);
    sid(s.span_id, span);
    if (parent)
        sid(s.parent_id, parent);
    s.service = (owl_bytes){svc, strlen(svc)};
    s.name = (owl_bytes){name, strlen(name)};
    s.kind = (enum owl_span_kind)kind;
    s.start_ns = start;
    s.duration_ns = dur;
    return s;
}

static void put(env *e, const char *tenant, const owl_span *s, size_t n)
{
    owl_error err = {0};
    size_t expired = 99;
    cr_assert_eq(owl_traces_put(e->tr, tenant, s, n, &expired, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(expired, 0);
}

static size_t find(const owl_trace *t, unsigned span, int kind)
{
    uint8_t id[8];
    sid(id, span);
    for (size_t i = 0; i < t->n; i++)
        if (!memcmp(t->spans[i].span_id, id, 8) && (kind < 0 || (int)t->spans[i].kind == kind))
            return i;
    cr_assert_fail("span %u not in the trace", span);
    return 0;
}

/* A trace: root A (0..100 ms) -> B (10..40) -> D (20..30), A -> C (30..120, past A's end),
 * sent in two batches in reverse order. */
static void put_tree(env *e, unsigned trace, int64_t t0, const char *tenant)
{
    owl_span s[4] = {
        mkspan(trace, 4, 2, "db", "query", OWL_SPAN_CLIENT, t0 + 20 * MS, 10 * MS),
        mkspan(trace, 3, 1, "front", "call-c", OWL_SPAN_CLIENT, t0 + 30 * MS, 90 * MS),
        mkspan(trace, 2, 1, "orders", "GET /orders", OWL_SPAN_SERVER, t0 + 10 * MS, 30 * MS),
        mkspan(trace, 1, 0, "front", "GET /", OWL_SPAN_SERVER, t0, 100 * MS),
    };
    put(e, tenant, s, 2);
    put(e, tenant, s + 2, 2);
}

Test(traces, tree_by_id_without_range)
{
    env e;
    env_init(&e);
    int64_t t0 = owl_now_ms() * MS - 3600000 * MS;
    put_tree(&e, 1, t0, T);
    put_tree(&e, 2, t0 + MS, T);
    owl_trace t = {0};
    owl_error err = {0};
    uint8_t id[16];
    tid(id, 1);
    cr_assert_eq(owl_traces_get(e.tr, T, id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 4);
    /* tree order: A, B, D, C */
    uint8_t want[4] = {1, 2, 4, 3};
    int32_t depth[4] = {0, 1, 2, 1};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(t.spans[i].span_id[7], want[i], "position %zu", i);
        cr_assert_eq(t.depth[i], depth[i]);
    }
    cr_assert_eq(t.parent[0], -1);
    cr_assert_eq(t.parent[1], 0);
    cr_assert_eq(t.parent[2], 1);
    cr_assert_eq(t.parent[3], 0);
    /* self: A 100 - (10..40 u 30..100) = 100 - 90 = 10; B 30 - 10 = 20; D 10; C 90 */
    cr_assert_eq(t.self_ns[0], 10 * MS);
    cr_assert_eq(t.self_ns[1], 20 * MS);
    cr_assert_eq(t.self_ns[2], 10 * MS);
    cr_assert_eq(t.self_ns[3], 90 * MS);
    cr_assert_eq(t.start_ns, t0);
    cr_assert_eq(t.end_ns, t0 + 120 * MS);
    cr_assert(t.spans[1].service.n == 6 && !memcmp(t.spans[1].service.p, "orders", 6));
    owl_trace_free(&t);
    /* another tenant sees nothing; an unknown id is not found */
    cr_assert_eq(owl_traces_get(e.tr, T2, id, &t, &err), OWL_ENOTFOUND);
    owl_trace_free(&t);
    tid(id, 77);
    cr_assert_eq(owl_traces_get(e.tr, T, id, &t, &err), OWL_ENOTFOUND);
    owl_trace_free(&t);
    /* a span older than the retention (30 days) is not kept, and said so */
    owl_span old = mkspan(1, 50, 1, "front", "old", OWL_SPAN_INTERNAL,
                          t0 - 31LL * 86400000 * MS, MS);
    size_t expired = 0;
    cr_assert_eq(owl_traces_put(e.tr, T, &old, 1, &expired, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(expired, 1);
    /* sealed into parts, of two days, then reopened: still whole */
    owl_span late = mkspan(1, 9, 4, "db", "late", OWL_SPAN_INTERNAL, t0 - 86400000 * MS, MS);
    put(&e, T, &late, 1);
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    env_close(&e);
    env_open(&e);
    tid(id, 1);
    cr_assert_eq(owl_traces_get(e.tr, T, id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 5);
    size_t l = find(&t, 9, -1);
    cr_assert_eq(t.depth[l], 3);
    cr_assert_eq(t.start_ns, t0 - 86400000 * MS);
    owl_trace_free(&t);
    env_free(&e);
}

Test(traces, in_progress_repeats_and_shared_ids)
{
    env e;
    env_init(&e);
    int64_t t0 = owl_now_ms() * MS - 60000 * MS;
    /* an X-Ray in-progress segment, then the completed one; a batch retried */
    owl_span ip = mkspan(5, 1, 0, "svc", "op", OWL_SPAN_SERVER, t0, 0);
    ip.in_progress = 1;
    owl_span done = mkspan(5, 1, 0, "svc", "op", OWL_SPAN_SERVER, t0, 50 * MS);
    owl_span kid = mkspan(5, 2, 1, "svc", "sub", OWL_SPAN_INTERNAL, t0 + MS, 5 * MS);
    put(&e, T, &kid, 1);
    put(&e, T, &ip, 1);
    put(&e, T, &done, 1);
    put(&e, T, &kid, 1);
    /* Zipkin: client and server halves of one span id */
    owl_span zc = mkspan(5, 3, 2, "svc", "call", OWL_SPAN_CLIENT, t0 + 2 * MS, 3 * MS);
    owl_span zs = mkspan(5, 3, 2, "backend", "serve", OWL_SPAN_SERVER, t0 + 2 * MS, 2 * MS);
    owl_span zk = mkspan(5, 4, 3, "backend", "work", OWL_SPAN_INTERNAL, t0 + 2 * MS, MS);
    owl_span zs_arr[3] = {zk, zs, zc};
    put(&e, T, zs_arr, 3);
    owl_trace t = {0};
    owl_error err = {0};
    cr_assert_eq(owl_traces_get(e.tr, T, done.trace_id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 5, "in-progress and repeated records dropped: %zu", t.n);
    size_t r = find(&t, 1, -1);
    cr_assert_eq(t.spans[r].in_progress, 0);
    cr_assert_eq(t.spans[r].duration_ns, 50 * MS);
    size_t c = find(&t, 3, OWL_SPAN_CLIENT), s = find(&t, 3, OWL_SPAN_SERVER),
           k = find(&t, 4, -1);
    cr_assert_eq(t.parent[s], (int32_t)c, "the server half sits under the client half");
    cr_assert_eq(t.parent[k], (int32_t)s, "children of a shared id go under the server half");
    cr_assert_eq(t.depth[k], 4);
    owl_trace_free(&t);
    /* records of one span id at other times (each message a consumer receives, reported
     * under one id) are all kept; an exact repeat of one of them is not */
    owl_span m1 = mkspan(7, 1, 0, "pusher", "receive", OWL_SPAN_SERVER, t0, 0);
    owl_span m2 = mkspan(7, 1, 0, "pusher", "receive", OWL_SPAN_SERVER, t0 + MS, 0);
    m1.in_progress = m2.in_progress = 1;
    owl_span ms[3] = {m1, m2, m2};
    put(&e, T, ms, 3);
    cr_assert_eq(owl_traces_get(e.tr, T, m1.trace_id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 2, "%zu", t.n);
    owl_trace_free(&t);
    /* only the in-progress record: it is kept */
    owl_span ip2 = mkspan(6, 1, 0, "svc", "op", OWL_SPAN_SERVER, t0, 0);
    ip2.in_progress = 1;
    put(&e, T, &ip2, 1);
    cr_assert_eq(owl_traces_get(e.tr, T, ip2.trace_id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(t.spans[0].in_progress, 1);
    cr_assert_eq(t.self_ns[0], 0);
    owl_trace_free(&t);
    env_free(&e);
}

Test(traces, cycles_and_orphans)
{
    env e;
    env_init(&e);
    int64_t t0 = owl_now_ms() * MS;
    owl_span s[3] = {
        mkspan(8, 1, 2, "a", "x", OWL_SPAN_SERVER, t0, MS),
        mkspan(8, 2, 1, "a", "y", OWL_SPAN_SERVER, t0 + MS, MS),
        mkspan(8, 3, 99, "b", "orphan", OWL_SPAN_SERVER, t0 + 2 * MS, MS),
    };
    put(&e, T, s, 3);
    owl_trace t = {0};
    owl_error err = {0};
    cr_assert_eq(owl_traces_get(e.tr, T, s[0].trace_id, &t, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(t.n, 3, "every span comes back, cycle or not");
    size_t o = find(&t, 3, -1);
    cr_assert_eq(t.parent[o], -1, "a span whose parent is missing is a root");
    int roots = 0;
    for (size_t i = 0; i < t.n; i++)
        roots += t.parent[i] < 0;
    cr_assert_geq(roots, 2);
    owl_trace_free(&t);
    env_free(&e);
}

static void search(env *e, owl_trace_query *q, owl_trace_page *p)
{
    owl_error err = {0};
    memset(p, 0, sizeof *p);
    cr_assert_eq(owl_traces_search(e->tr, T, q, p, &err), OWL_OK, "%s", err.msg);
}

static owl_trace_query q_all(int64_t a, int64_t b)
{
    return (owl_trace_query){.start_ns = a, .end_ns = b, .min_duration_ns = -1,
                             .max_duration_ns = -1, .status = -1};
}

Test(traces, search)
{
    env e;
    env_init(&e);
    int64_t t0 = owl_now_ms() * MS - 600000 * MS;
    /* 30 traces: front -> orders; every 3rd faulted in orders, every 5th slow */
    for (unsigned i = 0; i < 30; i++) {
        int64_t st = t0 + (int64_t)i * 1000 * MS;
        int64_t d = i % 5 == 0 ? 900 * MS : 20 * MS;
        owl_span s[2] = {
            mkspan(100 + i, 1, 0, "front", "GET /", OWL_SPAN_SERVER, st, d),
            mkspan(100 + i, 2, 1, "orders", i % 2 ? "GET /a" : "GET /b", OWL_SPAN_SERVER,
                   st + MS, MS),
        };
        if (i % 3 == 0) {
            s[1].status = OWL_SPAN_FAULT;
            s[1].http_status = 503;
        }
        s[0].http_status = 200;
        s[0].http_method = BS("GET");
        put(&e, T, s, 2);
    }
    owl_trace_page p;
    owl_trace_query q = q_all(t0, t0 + 3600000 * MS);
    search(&e, &q, &p);
    cr_assert_eq(p.n, 30);
    cr_assert_eq(p.next_token[0], '\0');
    /* newest first */
    for (size_t i = 1; i < p.n; i++)
        cr_assert_gt(p.items[i - 1].start_ns, p.items[i].start_ns);
    cr_assert_eq(p.items[0].nspans, 2);
    cr_assert_eq(p.items[0].nservices, 2);
    cr_assert(p.items[0].root_service.n == 5);
    cr_assert_eq(p.items[0].http_status, 200);
    owl_trace_page_free(&p);
    /* a range holding only the first 10 traces */
    q = q_all(t0, t0 + 10000 * MS);
    search(&e, &q, &p);
    cr_assert_eq(p.n, 10);
    owl_trace_page_free(&p);
    /* operation of a service */
    q = q_all(t0, t0 + 3600000 * MS);
    q.service = "orders";
    q.operation = "GET /a";
    search(&e, &q, &p);
    cr_assert_eq(p.n, 15);
    owl_trace_page_free(&p);
    /* status and duration */
    q = q_all(t0, t0 + 3600000 * MS);
    q.status = OWL_SPAN_FAULT;
    search(&e, &q, &p);
    cr_assert_eq(p.n, 10);
    for (size_t i = 0; i < p.n; i++)
        cr_assert(p.items[i].fault);
    owl_trace_page_free(&p);
    q.status = OWL_SPAN_OK;
    search(&e, &q, &p);
    cr_assert_eq(p.n, 20);
    owl_trace_page_free(&p);
    q = q_all(t0, t0 + 3600000 * MS);
    q.min_duration_ns = 500 * MS;
    search(&e, &q, &p);
    cr_assert_eq(p.n, 6);
    owl_trace_page_free(&p);
    q.min_duration_ns = -1;
    q.max_duration_ns = 500 * MS;
    search(&e, &q, &p);
    cr_assert_eq(p.n, 24);
    owl_trace_page_free(&p);
    /* a filter expression */
    owl_xf *f;
    owl_error err = {0};
    const char *fx = "service(\"orders\") { fault } AND responsetime > 0.5";
    cr_assert_eq(owl_xf_compile(fx, strlen(fx), &f, &err), OWL_OK, "%s", err.msg);
    q = q_all(t0, t0 + 3600000 * MS);
    q.filter = f;
    search(&e, &q, &p);
    /* faulted (i % 3 == 0) and slow (i % 5 == 0): 0, 15 */
    cr_assert_eq(p.n, 2, "%zu", p.n);
    owl_trace_page_free(&p);
    owl_xf_free(f);
    /* pages of 7 join up: every trace once */
    q = q_all(t0, t0 + 3600000 * MS);
    q.limit = 7;
    int seen[30] = {0};
    char tok[64] = "";
    size_t pages = 0, total = 0;
    do {
        q.next_token = tok[0] ? tok : NULL;
        search(&e, &q, &p);
        for (size_t i = 0; i < p.n; i++) {
            unsigned n = p.items[i].id[15] - 100;
            cr_assert_lt(n, 30u);
            cr_assert_eq(seen[n], 0, "trace %u twice", n);
            seen[n] = 1;
        }
        total += p.n;
        snprintf(tok, sizeof tok, "%s", p.next_token);
        owl_trace_page_free(&p);
        pages++;
    } while (tok[0] && pages < 10);
    cr_assert_eq(total, 30);
    cr_assert_eq(pages, 5);
    /* bad input */
    q = q_all(t0, t0 + 3600000 * MS);
    q.next_token = "nonsense";
    memset(&p, 0, sizeof p);
    cr_assert_eq(owl_traces_search(e.tr, T, &q, &p, &err), OWL_EINVAL);
    owl_trace_page_free(&p);
    q = q_all(t0, t0);
    cr_assert_eq(owl_traces_search(e.tr, T, &q, &p, &err), OWL_EINVAL);
    owl_trace_page_free(&p);
    env_free(&e);
}

Test(traces, views_for_filters)
{
    env e;
    env_init(&e);
    int64_t t0 = owl_now_ms() * MS;
    owl_span s = mkspan(9, 1, 0, "svc", "op", OWL_SPAN_SERVER, t0, MS);
    bson_t a = BSON_INITIALIZER, at;
    BSON_APPEND_DOCUMENT_BEGIN(&a, "attributes", &at);
    BSON_APPEND_UTF8(&at, "enduser.id", "alice");
    BSON_APPEND_INT64(&at, "cart.items", 3);
    BSON_APPEND_BOOL(&at, "vip", true);
    bson_append_document_end(&a, &at);
    s.attrs = (owl_bytes){bson_get_data(&a), a.len};
    put(&e, T, &s, 1);
    bson_destroy(&a);
    owl_trace t = {0};
    owl_error err = {0};
    cr_assert_eq(owl_traces_get(e.tr, T, s.trace_id, &t, &err), OWL_OK, "%s", err.msg);
    owl_xf_span *v;
    cr_assert_eq(owl_trace_views(&t, &v), OWL_OK);
    cr_assert_str_eq(v[0].user, "alice");
    cr_assert_eq(v[0].n_annotations, 3);
    owl_xf_trace xt = {.spans = v, .n_spans = t.n, .root = 0};
    const char *ok[] = {"annotation[\"cart.items\"] = 3", "user = \"alice\"", "annotation.vip = true"};
    for (size_t i = 0; i < 3; i++) {
        owl_xf *f;
        cr_assert_eq(owl_xf_compile(ok[i], strlen(ok[i]), &f, &err), OWL_OK, "%s", err.msg);
        cr_assert_eq(owl_xf_match(f, &xt), 1, "%s", ok[i]);
        owl_xf_free(f);
    }
    owl_trace_free(&t);
    env_free(&e);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The bucket of RED metric `metric` of (orders, op; NULL: the service's own row) for
 * minute, which must be there; bs holds it (the caller frees bs). */
static const owl_bucket *red_bucket(env *e, int64_t minute, const char *op, const char *metric,
                                    owl_bucket_set *bs)
{
    owl_dim dims[2] = {{"Service", "orders"}, {"Operation", op}};
    owl_metric_query mq = {0};
    mq.tenant = T;
    mq.id = (owl_metric_id){OWL_TRACES_NS, metric, dims, op ? 2 : 1};
    mq.start_ms = minute;
    mq.end_ms = minute + 60000;
    mq.period_s = 60;
    owl_error err = {0};
    memset(bs, 0, sizeof *bs);
    cr_assert_eq(owl_metrics_read(e->metrics, &mq, bs, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(bs->n, 1, "%s %s", op ? op : "(service)", metric);
    return &bs->b[0];
}

/* The minute's Latency of (orders, op) evaluated as statistic name. */
static double latency_stat(env *e, int64_t minute, const char *op, const char *name)
{
    owl_bucket_set bs;
    const owl_bucket *b = red_bucket(e, minute, op, "Latency", &bs);
    owl_stat st;
    owl_error err = {0};
    cr_assert_eq(owl_stat_parse(name, &st, &err), OWL_OK, "%s", err.msg);
    double v = 0;
    cr_assert_eq(owl_stat_eval(&st, b, &v), OWL_OK, "%s %s", op, name);
    owl_bucket_set_free(&bs);
    return v;
}

/* Latency percentiles from the RED histogram (4 buckets an octave: within 10% of the
 * spans' own): an operation whose spans stay within a few octaves, arriving up then down;
 * one whose 200 spans of 50 ms are followed by 200 of 10 ms (the entry's window of buckets
 * moves down, its counts with it); one whose 200 spans of 1 ms are followed by 200 spread
 * over 20 octaves (the window's counts go over to the whole histogram). */
Test(traces, red_latency_percentiles)
{
    env e;
    env_init(&e);
    int64_t minute = (owl_now_ms() / 60000 - 5) * 60000;
    enum { N = 400, OPS = 3 };
    static double v[OPS][N];
    const char *op[OPS] = {"GET /narrow", "GET /shift", "GET /wide"};
    uint64_t r = 12345;
    for (unsigned i = 0; i < N; i++) {
        v[0][i] = i < N / 2 ? 10 + 10.0 * i / N : 20 - 10.0 * (i - N / 2) / N;
        v[1][i] = i < N / 2 ? 50 : 10;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        v[2][i] = i < N / 2 ? 1 : 0.01 * pow(2, 20.0 * (double)(r >> 11) / 9007199254740992.0);
    }
    for (unsigned i = 0; i < N; i++) {
        owl_span s[OPS];
        for (unsigned k = 0; k < OPS; k++)
            s[k] = mkspan(1000 * (k + 1) + i, 1, 0, "orders", op[k], OWL_SPAN_SERVER,
                          minute * MS + (int64_t)i * MS, (int64_t)(v[k][i] * MS));
        put(&e, T, s, OPS);
    }
    owl_error err = {0};
    cr_assert_eq(owl_traces_flush(e.tr, &err), OWL_OK, "%s", err.msg);
    for (int k = 0; k < OPS; k++) {
        for (unsigned i = 0; i < N; i++) /* as stored: whole nanoseconds */
            v[k][i] = (double)(int64_t)(v[k][i] * MS) / MS;
        qsort(v[k], N, sizeof(double), cmp_dbl);
        const char *pn[] = {"p10", "p25", "p75", "p90", "p99"};
        const double pq[] = {0.10, 0.25, 0.75, 0.90, 0.99};
        for (int j = 0; j < 5; j++) {
            double want = v[k][(size_t)(pq[j] * N) - 1];
            double got = latency_stat(&e, minute, op[k], pn[j]);
            cr_assert(fabs(got - want) <= 0.1 * want, "%s %s: %g, the spans' %g", op[k], pn[j],
                      got, want);
        }
        cr_assert_float_eq(latency_stat(&e, minute, op[k], "Minimum"), v[k][0], 1e-9);
        cr_assert_float_eq(latency_stat(&e, minute, op[k], "Maximum"), v[k][N - 1], 1e-9);
        cr_assert_float_eq(latency_stat(&e, minute, op[k], "SampleCount"), N, 1e-9);
    }
    env_free(&e);
}

/* RED entries of minutes past the exemplars' 3 hours are freed by the flush that writes
 * them, and their memory serves the next entries: 300 operations (names of every size the
 * pool holds, and every 7th too long for it) whose spans spread over 20 octaves (a wide histogram), flushed;
 * then 300 more, of another minute, each with 4 spans of one latency and one 64 times slower
 * (wide again): nothing of the first round's counts or histograms may show in the second's. */
Test(traces, red_entries_freed_and_reused)
{
    env e;
    env_init(&e);
    enum { OPS = 300, SPANS0 = 20, SPANS1 = 5 };
    static char names[OPS][256];
    owl_span *s = calloc(OPS * SPANS0, sizeof *s);
    cr_assert_not_null(s);
    for (int round = 0; round < 2; round++) {
        int64_t minute = (owl_now_ms() / 60000 - 300 - 10 * round) * 60000;
        size_t n = 0;
        for (unsigned op = 0; op < OPS; op++) {
            int len = snprintf(names[op], sizeof names[op], "op-%u-%d-", op, round);
            size_t want = op % 7 == 0 ? 240 : op % 7 == 1 ? 100 : op % 7 == 2 ? 160 : 0;
            if (want) /* names beyond each of the pool's sizes (64, 128, 192 bytes) */
                memset(names[op] + len, 'x', want - (size_t)len), names[op][want] = '\0';
            for (unsigned k = 0; k < (round ? SPANS1 : SPANS0); k++) {
                int64_t ns = round ? (int64_t)(op + 1) * MS << (k == SPANS1 - 1 ? 6 : 0)
                                   : (int64_t)(0.01 * MS) << k;
                s[n++] = mkspan(100000 * (round + 1) + op, 1 + k, 0, "orders", names[op],
                                OWL_SPAN_SERVER, minute * MS + (int64_t)k * MS, ns);
            }
        }
        put(&e, T, s, n);
        owl_error err = {0};
        cr_assert_eq(owl_traces_flush(e.tr, &err), OWL_OK, "%s", err.msg);
        /* minutes over 3 hours old are read from the roll-ups */
        cr_assert_eq(owl_metrics_rollup(e.metrics, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
        for (unsigned op = 0; op < OPS; op++) {
            owl_bucket_set bs;
            const owl_bucket *b = red_bucket(&e, minute, names[op], "Requests", &bs);
            cr_assert_float_eq(b->sum, round ? SPANS1 : SPANS0, 1e-9, "round %d op %u: %g",
                               round, op, b->sum);
            owl_bucket_set_free(&bs);
            double lo = round ? op + 1 : 0.01, hi = round ? 64 * (op + 1) : 0.01 * (1 << (SPANS0 - 1));
            cr_assert_float_eq(latency_stat(&e, minute, names[op], "Minimum"), lo, 1e-6);
            cr_assert_float_eq(latency_stat(&e, minute, names[op], "Maximum"), hi, 1e-6);
            double p99 = latency_stat(&e, minute, names[op], "p99");
            cr_assert(fabs(p99 - hi) <= 0.1 * hi, "round %d op %u: p99 %g, want %g", round, op,
                      p99, hi);
            if (round) {
                double p10 = latency_stat(&e, minute, names[op], "p10");
                cr_assert(fabs(p10 - lo) <= 0.1 * lo, "op %u: p10 %g, want %g", op, p10, lo);
            }
        }
    }
    free(s);
    env_free(&e);
}

/* A flush of more entries than one metrics put takes (200): 450 operations of a minute,
 * each with its own count and latency, all written. */
Test(traces, red_flush_of_many_entries)
{
    env e;
    env_init(&e);
    int64_t minute = (owl_now_ms() / 60000 - 5) * 60000;
    enum { OPS = 450 };
    static char names[OPS][16];
    owl_span *s = calloc(OPS * 3, sizeof *s);
    size_t n = 0;
    for (unsigned op = 0; op < OPS; op++) {
        snprintf(names[op], sizeof names[op], "op-%u", op);
        for (unsigned k = 0; k <= op % 3; k++) /* 1, 2 or 3 spans */
            s[n++] = mkspan(1000 + op, 1 + k, 0, "orders", names[op], OWL_SPAN_SERVER,
                            minute * MS + (int64_t)k * MS, (int64_t)(op + 1) * MS);
    }
    put(&e, T, s, n);
    owl_error err = {0};
    cr_assert_eq(owl_traces_flush(e.tr, &err), OWL_OK, "%s", err.msg);
    owl_bucket_set bs;
    for (unsigned op = 0; op < OPS; op++) {
        const owl_bucket *b = red_bucket(&e, minute, names[op], "Requests", &bs);
        cr_assert_float_eq(b->sum, op % 3 + 1, 1e-9, "%s: %g", names[op], b->sum);
        owl_bucket_set_free(&bs);
        b = red_bucket(&e, minute, names[op], "Latency", &bs);
        cr_assert_float_eq(b->min, op + 1, 1e-9, "%s", names[op]);
        cr_assert_float_eq(b->max, op + 1, 1e-9, "%s", names[op]);
        owl_bucket_set_free(&bs);
    }
    const owl_bucket *b = red_bucket(&e, minute, NULL, "Requests", &bs);
    cr_assert_float_eq(b->sum, (double)n, 1e-9);
    owl_bucket_set_free(&bs);
    free(s);
    env_free(&e);
}

Test(traces, red_statistics)
{
    env e;
    env_init(&e);
    int64_t now = owl_now_ms();
    int64_t minute = (now / 60000 - 5) * 60000;
    /* 10 server spans of orders GET /a in one minute: 2 faults, 1 throttle; plus client
     * spans, which are not counted */
    for (unsigned i = 0; i < 10; i++) {
        owl_span s[2] = {
            mkspan(200 + i, 1, 7, "orders", "GET /a", OWL_SPAN_SERVER,
                   minute * MS + (int64_t)i * MS, (int64_t)(i + 1) * 10 * MS),
            mkspan(200 + i, 2, 1, "orders", "db", OWL_SPAN_CLIENT, minute * MS, MS),
        };
        if (i < 2)
            s[0].status = OWL_SPAN_FAULT;
        if (i == 2)
            s[0].status = OWL_SPAN_THROTTLE;
        put(&e, T, s, 2);
    }
    owl_error err = {0};
    cr_assert_eq(owl_traces_flush(e.tr, &err), OWL_OK, "%s", err.msg);
    const char *names[] = {"Requests", "Faults", "Throttles", "Errors"};
    double want[] = {10, 2, 1, 1};
    owl_bucket_set bs;
    for (size_t k = 0; k < 4; k++) {
        const owl_bucket *b = red_bucket(&e, minute, "GET /a", names[k], &bs);
        cr_assert_float_eq(b->sum, want[k], 1e-9, "%s: %g", names[k], b->sum);
        cr_assert_float_eq(b->count, 10, 1e-9, "%s", names[k]);
        owl_bucket_set_free(&bs);
    }
    /* a minute older than the exemplars are kept (3 h): its entry is written and dropped in
     * the same flush (the write must not read the dropped entry) */
    int64_t old_minute = (now / 60000 - 300) * 60000;
    owl_span o = mkspan(300, 1, 0, "orders", "GET /old", OWL_SPAN_SERVER, old_minute * MS, MS);
    put(&e, T, &o, 1);
    cr_assert_eq(owl_traces_flush(e.tr, &err), OWL_OK, "%s", err.msg);
    /* 5 h back is answered from the 60 s level (raw datapoints answer 3 h) */
    cr_assert_eq(owl_metrics_rollup(e.metrics, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    const owl_bucket *ob = red_bucket(&e, old_minute, "GET /old", "Requests", &bs);
    cr_assert_float_eq(ob->sum, 1, 1e-9); /* the macro evaluates its operands twice */
    owl_bucket_set_free(&bs);
    /* the service's own row, and the latency distribution */
    const owl_bucket *b = red_bucket(&e, minute, NULL, "Latency", &bs);
    cr_assert_float_eq(b->count, 10, 1e-9);
    cr_assert_float_eq(b->sum, 550, 1e-6);
    cr_assert_float_eq(b->min, 10, 1e-9);
    cr_assert_float_eq(b->max, 100, 1e-9);
    owl_bucket_set_free(&bs);
    env_free(&e);
}

/* ---- owl_traces_walk: a window's traces handed over whole ---- */

typedef struct walked {
    unsigned n;
    unsigned spans[64];   /* per trace number (< 64): spans handed over */
    int parents_ok[64];   /* every span's parent as its parent id says */
    char services[64][64];
} walked;

static int on_trace(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    walked *w = ud;
    unsigned k = id[15] | (unsigned)id[14] << 8;
    cr_assert_lt(k, 64);
    cr_assert_eq(w->spans[k], 0, "trace %u handed over twice", k);
    w->n++;
    w->spans[k] = (unsigned)t->n_spans;
    w->parents_ok[k] = 1;
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *s = &t->spans[i];
        /* put_tree's tree: 1 root; 2, 3 under 1; 4 under 2 (names say which) */
        const char *want = !strcmp(s->name, "GET /")         ? NULL
                           : !strcmp(s->name, "query")       ? "GET /orders"
                                                             : "GET /";
        const char *got = s->parent >= 0 ? t->spans[s->parent].name : NULL;
        if (!!want != !!got || (want && strcmp(want, got)))
            w->parents_ok[k] = 0;
        if (!strcmp(s->name, "GET /"))
            snprintf(w->services[k], sizeof w->services[k], "%s", s->service);
    }
    return 0;
}

Test(traces, walk_hands_each_window_trace_over_whole)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 2 * 3600000) * MS;
    /* traces 1..20 a minute apart, in two batches each, half of them sealed into parts */
    for (unsigned k = 1; k <= 10; k++)
        put_tree(&e, k, t0 + (int64_t)k * 60000 * MS, "t1");
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    for (unsigned k = 11; k <= 20; k++)
        put_tree(&e, k, t0 + (int64_t)k * 60000 * MS, "t1");
    /* trace 5 gets a late span in the memtable: a child of its root */
    owl_span late = mkspan(5, 9, 1, "front", "call-late", OWL_SPAN_CLIENT,
                           t0 + 5 * 60000 * MS + 50 * MS, 5 * MS);
    put(&e, "t1", &late, 1);
    put_tree(&e, 30, t0 + 3 * 60000 * MS, "t2"); /* another tenant's */

    /* the window of traces 3..17: each whole, once, in whatever part its spans are */
    walked w = {0};
    owl_trace_walk q = {.start_ns = t0 + 3 * 60000 * MS, .end_ns = t0 + 18 * 60000 * MS};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_trace, &w, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(w.n, 15);
    cr_assert_eq(q.traces, 15);
    cr_assert_eq(q.spans, 15 * 4 + 1);
    for (unsigned k = 1; k <= 20; k++) {
        int in = k >= 3 && k <= 17;
        cr_assert_eq(w.spans[k], in ? (k == 5 ? 5u : 4u) : 0u, "trace %u: %u spans", k,
                     w.spans[k]);
        if (in) {
            cr_assert(w.parents_ok[k], "trace %u: parents", k);
            cr_assert_str_eq(w.services[k], "front");
        }
    }
    cr_assert_eq(w.spans[30], 0);

    /* a filter reads each window trace whole and hands over those matching */
    owl_xf *f = NULL;
    const char *fx = "service(\"orders\") AND duration >= 0";
    cr_assert_eq(owl_xf_compile(fx, strlen(fx), &f, &err), OWL_OK, "%s", err.msg);
    walked w2 = {0};
    owl_trace_walk q2 = {.start_ns = t0, .end_ns = t0 + 60 * 60000 * MS, .filter = f};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q2, on_trace, &w2, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(w2.n, 20);
    owl_xf_free(f);

    /* at most max_traces */
    walked w3 = {0};
    owl_trace_walk q3 = {.start_ns = t0, .end_ns = t0 + 60 * 60000 * MS, .max_traces = 7};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q3, on_trace, &w3, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(w3.n, 7);
    cr_assert(q3.truncated);

    owl_trace_walk bad = {.start_ns = 5, .end_ns = 5};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &bad, on_trace, &w3, &err), OWL_EINVAL);
    env_free(&e);
}

static int walk_graph(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)id;
    return owl_svcgraph_trace(t, ud, NULL);
}

Test(traces, walk_puts_zipkin_server_halves_under_their_client_halves)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 3600000) * MS;
    owl_span s[3] = {
        mkspan(40, 1, 0, "front", "GET /", OWL_SPAN_SERVER, t0, 100 * MS),
        mkspan(40, 2, 1, "front", "call api", OWL_SPAN_CLIENT, t0 + 10 * MS, 50 * MS),
        mkspan(40, 2, 1, "api", "handle", OWL_SPAN_SERVER, t0 + 12 * MS, 45 * MS),
    };
    put(&e, "t1", s, 3);
    owl_span child = mkspan(40, 3, 2, "api", "db", OWL_SPAN_CLIENT, t0 + 20 * MS, 10 * MS);
    put(&e, "t1", &child, 1);
    owl_svcmap *m = NULL;
    cr_assert_eq(owl_svcmap_new(0, 1, &m), OWL_OK);
    owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 60000 * MS};
    owl_error err = {0};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, walk_graph, m, &err), OWL_OK, "%s", err.msg);
    size_t ne, nn;
    owl_svcmap_edge *ed = owl_svcmap_edges(m, &ne);
    owl_svcmap_node *nd = owl_svcmap_nodes(m, &nn);
    cr_assert_eq(ne, 1, "%zu edges", ne);
    cr_assert_str_eq(nd[ed[0].source].name, "front");
    cr_assert_str_eq(nd[ed[0].target].name, "api");
    cr_assert_eq(ed[0].st.requests, 1);
    owl_svcmap_free(m);
    env_free(&e);
}

Test(traces, split_walk_hands_over_what_one_walk_does)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 2 * 3600000) * MS;
    for (unsigned k = 1; k <= 40; k++)
        put_tree(&e, k, t0 + (int64_t)k * 1000 * MS, "t1");
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    for (unsigned k = 41; k <= 60; k++)
        put_tree(&e, k, t0 + (int64_t)k * 1000 * MS, "t1");
    walked one = {0}, parts[3] = {{0}};
    owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 3600000 * MS};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_trace, &one, &err), OWL_OK, "%s", err.msg);
    for (size_t np = 1; np <= 3; np++) {
        memset(parts, 0, sizeof parts);
        void *uds[3] = {&parts[0], &parts[1], &parts[2]};
        owl_trace_walk qs = {.start_ns = t0, .end_ns = t0 + 3600000 * MS};
        cr_assert_eq(owl_traces_walk_split(e.tr, "t1", &qs, np, on_trace, uds, &err), OWL_OK,
                     "%s", err.msg);
        cr_assert_eq(qs.traces, 60);
        cr_assert_eq(qs.spans, q.spans);
        for (unsigned k = 1; k <= 60; k++) {
            unsigned got = parts[0].spans[k] + parts[1].spans[k] + parts[2].spans[k];
            cr_assert_eq(got, one.spans[k], "%zu parts, trace %u: %u spans", np, k, got);
        }
    }
    owl_trace_walk bad = {.start_ns = t0, .end_ns = t0 + 1};
    void *uds[9] = {0};
    cr_assert_eq(owl_traces_walk_split(e.tr, "t1", &bad, 9, on_trace, uds, &err), OWL_EINVAL);
    env_free(&e);
}

/* ---- what failed a span: the same reading for a walk's views and a read trace's ---- */

typedef struct failed {
    char type[64], msg[64];
    unsigned seen;
} failed;

static int on_failed(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)id;
    failed *f = ud;
    for (size_t i = 0; i < t->n_spans; i++)
        if (t->spans[i].fault) {
            const char *et = t->spans[i].exception_type, *em = t->spans[i].exception_message;
            snprintf(f->type, sizeof f->type, "%s", et ? et : "-");
            snprintf(f->msg, sizeof f->msg, "%s", em ? em : "-");
            f->seen++;
        }
    return 0;
}

/* The flags of spans of each status (and one in progress), as a walk's views hand them
 * over, in trace order: error, fault, throttle, in_progress a byte each, then the remote
 * service when there is one. */
static int on_flags(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)id;
    char *out = ud;
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *x = &t->spans[i];
        char *o = out + strlen(out);
        const uint8_t f[4] = {x->error, x->fault, x->throttle, x->in_progress};
        for (int j = 0; j < 4; j++)
            *o++ = (char)('0' + (f[j] > 9 ? 9 : f[j]));
        *o = '\0';
        if (x->remote_service)
            snprintf(o, 16, "%.14s", x->remote_service);
        strcat(o, " ");
    }
    return 0;
}

Test(traces, status_flags_alike_by_walks_and_views)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 3600000) * MS;
    static const int status[] = {OWL_SPAN_OK, OWL_SPAN_ERROR, OWL_SPAN_FAULT,
                                 OWL_SPAN_THROTTLE, OWL_SPAN_OK};
    owl_span s[5];
    for (unsigned k = 0; k < 5; k++) {
        s[k] = mkspan(70, k + 1, k, "pay", "POST", OWL_SPAN_SERVER, t0 + k * MS, MS);
        s[k].status = status[k];
    }
    s[4].in_progress = 1, s[4].duration_ns = 0;
    s[2].kind = OWL_SPAN_CLIENT, s[2].peer_service = BS("bank");
    put(&e, "t1", s, 5);
    const char *want = "0000 1000 0100bank 1010 0001 ";
    for (int lean = 0; lean < 2; lean++) {
        /* a lean walk (bottlenecks') reads no peer */
        if (lean)
            want = "0000 1000 0100 1010 0001 ";
        char got[96] = "";
        owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 10 * MS, .lean = lean};
        owl_error err = {0};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_flags, got, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert_str_eq(got, want, "lean %d", lean);
    }
    owl_trace t = {0};
    uint8_t id[16];
    tid(id, 70);
    owl_error err = {0};
    cr_assert_eq(owl_traces_get(e.tr, "t1", id, &t, &err), OWL_OK, "%s", err.msg);
    owl_xf_span *v;
    cr_assert_eq(owl_trace_views(&t, &v), OWL_OK);
    owl_xf_trace xt = {v, t.n, -1, 0};
    char got[96] = "";
    on_flags(got, &xt, id);
    cr_assert_str_eq(got, "0000 1000 0100bank 1010 0001 ");
    owl_trace_free(&t);
    env_free(&e);
}

/* Each span of a walk's trace as "name<parent's name" ("-" for none), in trace order. */
static int on_parents(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)id;
    char *out = ud;
    for (size_t i = 0; i < t->n_spans; i++) {
        int32_t p = t->spans[i].parent;
        snprintf(out + strlen(out), 32, "%s<%s ", t->spans[i].name,
                 p >= 0 ? t->spans[p].name : "-");
    }
    return 0;
}

/* Zipkin's client and server halves of one span id, told apart by their services in a
 * walk's views as in a trace read whole: the server half under the client half, the id's
 * children under the server half; halves of one service are not taken for a call. */
Test(traces, walk_zipkin_halves)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 3600000) * MS;
    owl_span s[5] = {
        mkspan(80, 1, 0, "web", "root", OWL_SPAN_SERVER, t0, 10 * MS),
        mkspan(80, 2, 1, "web", "call", OWL_SPAN_CLIENT, t0 + MS, 5 * MS),
        mkspan(80, 2, 1, "backend", "serve", OWL_SPAN_SERVER, t0 + 2 * MS, 3 * MS),
        mkspan(80, 3, 2, "backend", "work", OWL_SPAN_INTERNAL, t0 + 3 * MS, MS),
        mkspan(81, 2, 0, "web", "alone", OWL_SPAN_CLIENT, t0 + MS, 5 * MS),
    };
    put(&e, "t1", s, 5);
    owl_span same = mkspan(81, 2, 0, "web", "same", OWL_SPAN_SERVER, t0 + 2 * MS, 3 * MS);
    put(&e, "t1", &same, 1);
    for (int lean = 0; lean < 2; lean++) {
        char got[256] = "";
        owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 10 * MS, .lean = lean};
        owl_error err = {0};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_parents, got, &err), OWL_OK, "%s",
                     err.msg);
        /* the two traces in the order of their keys */
        const char *a = "root<- call<root serve<call work<serve ", *b = "alone<- same<- ";
        cr_assert(strstr(got, a) && strstr(got, b) && strlen(got) == strlen(a) + strlen(b),
                  "lean %d: %s", lean, got);
    }
    env_free(&e);
}

Test(traces, exceptions_read_alike_by_walks_and_views)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 3600000) * MS;
    /* OTLP's exception event (lifted type and message), X-Ray's cause, a status message */
    bson_t *otlp = BCON_NEW("events", "[", "{", "name", BCON_UTF8("log"), "}", "{", "name",
                            BCON_UTF8("exception"), "type", BCON_UTF8("Timeout"), "message",
                            BCON_UTF8("card processor timed out"), "}", "]");
    bson_t *xray = BCON_NEW("cause", "{", "exceptions", "[", "{", "type", BCON_UTF8("IOError"),
                            "message", BCON_UTF8("disk"), "}", "]", "}");
    const bson_t *docs[3] = {otlp, xray, NULL};
    static const char *const want[3][2] = {
        {"Timeout", "card processor timed out"}, {"IOError", "disk"}, {"-", "gateway down"}};
    for (unsigned k = 0; k < 3; k++) {
        owl_span s = mkspan(50 + k, 1, 0, "pay", "POST", OWL_SPAN_SERVER, t0 + k * MS, MS);
        s.status = OWL_SPAN_FAULT;
        if (docs[k])
            s.attrs = (owl_bytes){bson_get_data(docs[k]), docs[k]->len};
        else
            s.status_message = BS("gateway down");
        put(&e, "t1", &s, 1);
        /* a walk reading failed spans' attributes */
        failed f = {0};
        owl_trace_walk q = {.start_ns = t0 + k * MS, .end_ns = t0 + (k + 1) * MS,
                            .exceptions = 1};
        owl_error err = {0};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_failed, &f, &err), OWL_OK, "%s", err.msg);
        cr_assert_eq(f.seen, 1);
        cr_assert_str_eq(f.type, want[k][0]);
        cr_assert_str_eq(f.msg, want[k][1]);
        /* a lean walk (bottlenecks') reads neither, but the span still faulted */
        failed l = {0};
        owl_trace_walk ql = {.start_ns = q.start_ns, .end_ns = q.end_ns, .lean = 1};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &ql, on_failed, &l, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert_eq(l.seen, 1);
        cr_assert_str_eq(l.type, "-");
        cr_assert_str_eq(l.msg, "-");
        /* the trace read back, as filters read it */
        owl_trace t = {0};
        uint8_t id[16];
        tid(id, 50 + k);
        cr_assert_eq(owl_traces_get(e.tr, "t1", id, &t, &err), OWL_OK, "%s", err.msg);
        owl_xf_span *v;
        cr_assert_eq(owl_trace_views(&t, &v), OWL_OK);
        owl_xf_trace xt = {v, t.n, -1, 0};
        failed g = {0};
        on_failed(&g, &xt, id);
        cr_assert_str_eq(g.type, want[k][0]);
        cr_assert_str_eq(g.msg, want[k][1]);
        owl_trace_free(&t);
    }
    bson_destroy(otlp);
    bson_destroy(xray);
    env_free(&e);
}

/* ---- a window longer than the walk's buffer ---- */

#define LONG_TRACES 30000u

typedef struct keyed {
    uint8_t seen[LONG_TRACES + 1];
    uint64_t last_key;
    unsigned n, out_of_order, bad;
} keyed;

static int on_keyed(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    keyed *k = ud;
    unsigned n = id[15] | (unsigned)id[14] << 8;
    uint64_t key = owl_hash64(id, 16, 0);
    k->out_of_order += key < k->last_key;
    k->last_key = key;
    cr_assert(n >= 1 && n <= LONG_TRACES && !k->seen[n], "trace %u twice or unknown", n);
    k->seen[n] = 1;
    k->n++;
    /* spans 1 <- 2 <- 3, each in its own place */
    int ok = t->n_spans == 3;
    for (size_t i = 0; ok && i < 3; i++) {
        const owl_xf_span *s = &t->spans[i];
        const char *want = !strcmp(s->name, "a") ? NULL : !strcmp(s->name, "b") ? "a" : "b";
        const char *got = s->parent >= 0 ? t->spans[s->parent].name : NULL;
        ok = !!want == !!got && (!want || !strcmp(want, got));
    }
    k->bad += !ok;
    return 0;
}

/* 90,000 spans, each trace's three in two sealed parts and the memtable: more rows than the
 * walk's buffer holds at once, so it hands traces over as the scan's floor passes them, moves
 * the waiting rows and grows; every trace comes once, whole, and in trace-key order. */
Test(traces, a_long_window_is_walked_in_key_order_across_parts_and_the_memtable)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 2 * 3600000) * MS;
    static owl_span batch[LONG_TRACES];
    owl_error err = {0};
    for (unsigned part = 0; part < 3; part++) {
        for (unsigned k = 1; k <= LONG_TRACES; k++) {
            int64_t at = t0 + (int64_t)k * 100 * MS + part * MS;
            batch[k - 1] = mkspan(k, part + 1, part, "svc", part == 0 ? "a" : part == 1 ? "b" : "c",
                                  part == 0 ? OWL_SPAN_SERVER : OWL_SPAN_INTERNAL, at,
                                  (3 - part) * 10 * MS);
        }
        put(&e, "t1", batch, LONG_TRACES);
        if (part < 2)
            cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    }
    keyed *k = calloc(1, sizeof *k);
    cr_assert_not_null(k);
    owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 3600000 * MS};
    cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_keyed, k, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(k->n, LONG_TRACES);
    cr_assert_eq(q.traces, LONG_TRACES);
    cr_assert_eq(q.spans, 3 * LONG_TRACES);
    cr_assert_eq(k->bad, 0, "%u traces not whole or wrongly parented", k->bad);
    cr_assert_eq(k->out_of_order, 0, "%u traces out of key order", k->out_of_order);
    free(k);
    env_free(&e);
}

/* ---- filters tested on a walk's own views, the same as on traces read whole ---- */

#define FT 96u

static int on_mark(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)t;
    uint8_t *seen = ud;
    unsigned k = id[15] | (unsigned)id[14] << 8;
    cr_assert(k < FT && !seen[k], "trace %u unknown or twice", k);
    seen[k] = 1;
    return 0;
}

/* FT traces whose HTTP fields, failures (OTLP exception events, status messages), peers,
 * annotations and users vary; each filter's walk (views from the walk's columns, or each
 * trace read whole when the filter reads annotations, users or types) hands over exactly the
 * traces that match when read whole with owl_traces_get. Sealed and memtable rows both. */
Test(traces, a_filtered_walk_matches_what_whole_traces_match)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 2 * 3600000) * MS;
    static const char *const methods[] = {"GET", "POST", "PUT"};
    char url[FT][32], ua[FT][24];
    bson_t *docs[FT];
    owl_error err = {0};
    for (unsigned k = 0; k < FT; k++) {
        int64_t at = t0 + (int64_t)k * 1000 * MS;
        owl_span s[3] = {
            mkspan(k, 1, 0, k % 3 ? "front" : "edge", "GET /", OWL_SPAN_SERVER, at,
                   (60 + (int64_t)(k % 5) * 10) * MS),
            mkspan(k, 2, 1, "front", "SELECT", OWL_SPAN_CLIENT, at + 5 * MS,
                   (int64_t)(k % 11) * 5 * MS),
            mkspan(k, 3, 1, k % 4 ? "pay" : "cart", "POST /charge", OWL_SPAN_SERVER,
                   at + 40 * MS, 30 * MS),
        };
        snprintf(url[k], sizeof url[k], "http://front/api/%u", k % 5);
        snprintf(ua[k], sizeof ua[k], "agent/%u", k % 2);
        s[0].http_method = (owl_bytes){methods[k % 3], strlen(methods[k % 3])};
        s[0].url = (owl_bytes){url[k], strlen(url[k])};
        s[0].user_agent = (owl_bytes){ua[k], strlen(ua[k])};
        s[0].client_ip = k % 2 ? BS("10.0.0.1") : BS("10.0.0.2");
        s[0].http_status = k % 7 == 0 ? 500 : k % 5 == 0 ? 404 : 200;
        s[0].status = k % 7 == 0 ? OWL_SPAN_FAULT : k % 5 == 0 ? OWL_SPAN_ERROR : OWL_SPAN_OK;
        if (k % 3 == 1)
            s[1].peer_service = BS("postgres");
        docs[k] = BCON_NEW("user", BCON_UTF8(k % 4 ? "ann" : "bob"), "annotations", "{",
                           "customer", BCON_UTF8(k % 3 ? "acme" : "initech"), "}", "events",
                           "[", "{", "name", BCON_UTF8("exception"), "type",
                           BCON_UTF8(k % 2 ? "Timeout" : "IOError"), "message",
                           BCON_UTF8("card declined"), "}", "]");
        if (k % 7 == 0) { /* pay faulted too: the origin, with an exception or a message */
            s[2].status = OWL_SPAN_FAULT;
            if (k % 2)
                s[2].attrs = (owl_bytes){bson_get_data(docs[k]), docs[k]->len};
            else
                s[2].status_message = BS("gateway down");
        }
        s[0].attrs = (owl_bytes){bson_get_data(docs[k]), docs[k]->len};
        put(&e, "t1", s, 3);
        if (k == FT / 2)
            cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    }
    static const char *const filters[] = {
        "service(\"pay\")",
        "edge(\"front\", \"cart\")",
        "http.status = 500",
        "http.status >= 400 AND http.method = \"POST\"",
        "http.url CONTAINS \"/api/3\"",
        "http.useragent = \"agent/1\" AND http.clientip = \"10.0.0.1\" OR http.method = \"PUT\"",
        "fault",
        "error AND NOT fault",
        "responsetime > 0.07",
        "duration > 0.075",
        "service(\"postgres\") { inferred }",
        "rootcause.fault.service { name = \"pay\" }",
        "rootcause.fault.exception { name = \"Timeout\" }",
        "rootcause.fault.entity { message = \"gateway down\" }",
        "annotation.customer = \"initech\"",
        "user = \"bob\"",
        "service(\"front\") AND annotation.customer = \"acme\" AND http.status = 200",
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(filters[i], strlen(filters[i]), &f, &err), OWL_OK, "%s: %s",
                     filters[i], err.msg);
        uint8_t want[FT] = {0}, got[FT] = {0};
        unsigned nwant = 0;
        for (unsigned k = 0; k < FT; k++) {
            owl_trace t = {0};
            uint8_t id[16];
            tid(id, k);
            cr_assert_eq(owl_traces_get(e.tr, "t1", id, &t, &err), OWL_OK, "%s", err.msg);
            owl_xf_span *v;
            cr_assert_eq(owl_trace_views(&t, &v), OWL_OK);
            owl_xf_trace xt = {v, t.n, -1, 0};
            want[k] = (uint8_t)owl_xf_match(f, &xt);
            nwant += want[k];
            owl_trace_free(&t);
        }
        owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 3600000 * MS, .filter = f};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, on_mark, got, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert(nwant > 0 && nwant < FT, "%s: %u of %u match: not a test", filters[i], nwant,
                  FT);
        cr_assert_eq(q.traces, nwant, "%s: %zu handed over, %u match", filters[i], q.traces,
                     nwant);
        for (unsigned k = 0; k < FT; k++)
            cr_assert_eq(got[k], want[k], "%s: trace %u", filters[i], k);
        owl_xf_free(f);
    }
    for (unsigned k = 0; k < FT; k++)
        bson_destroy(docs[k]);
    env_free(&e);
}

static int count_trace(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)t, (void)id;
    ++*(unsigned *)ud;
    return 0;
}

/* Annotations and URLs through a long walk: 30,000 traces whose root, still in the memtable
 * (sorted by the walk, waiting while the parts' blocks pass), has a URL and 0 to 2
 * annotations, and whose leaf (sealed) has one more: the rows' strings and annotations are
 * sorted with a memtable batch and copied with the waiting rows when the buffer is full. */
Test(traces, annotations_survive_a_long_walk)
{
    env e;
    env_init(&e);
    int64_t t0 = (owl_now_ms() - 2 * 3600000) * MS;
    static owl_span batch[LONG_TRACES];
    static bson_t *docs[2][LONG_TRACES];
    owl_error err = {0};
    for (unsigned part = 0; part < 3; part++) {
        unsigned role = 2 - part; /* the root (role 0) comes last: it stays in the memtable */
        for (unsigned k = 1; k <= LONG_TRACES; k++) {
            int64_t at = t0 + (int64_t)k * 100 * MS + role * MS;
            owl_span *s = &batch[k - 1];
            *s = mkspan(k, role + 1, role, "svc", role == 0 ? "a" : role == 1 ? "b" : "c",
                        role == 0 ? OWL_SPAN_SERVER : OWL_SPAN_INTERNAL, at,
                        (3 - role) * 10 * MS);
            static char urls[LONG_TRACES][24];
            if (role == 0) {
                snprintf(urls[k - 1], sizeof urls[k - 1], "http://x/k%u", k % 13);
                s->url = (owl_bytes){urls[k - 1], strlen(urls[k - 1])};
            }
            if (role == 1)
                continue;
            char c[16], z[16];
            snprintf(c, sizeof c, "c%u", k % 10);
            snprintf(z, sizeof z, "z%u", k % 7);
            bson_t *d = role == 0 ? (k % 3 == 0   ? BCON_NEW("annotations", "{", "}")
                                     : k % 3 == 1 ? BCON_NEW("annotations", "{", "customer",
                                                             BCON_UTF8(c), "}")
                                                  : BCON_NEW("annotations", "{", "customer",
                                                             BCON_UTF8(c), "n",
                                                             BCON_INT32((int32_t)k), "}"))
                                  : BCON_NEW("annotations", "{", "zone", BCON_UTF8(z), "}");
            docs[role / 2][k - 1] = d;
            s->attrs = (owl_bytes){bson_get_data(d), d->len};
        }
        put(&e, "t1", batch, LONG_TRACES);
        if (part < 2)
            cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    }
    static const char *const cases[] = {
        "annotation.customer = \"c3\"",
        "annotation.zone = \"z5\" AND annotation.n > 29000",
        "http.url BEGINSWITH \"http://x/k\" AND annotation.customer = \"c1\"",
    };
    unsigned want[3] = {0, 0, 0};
    for (unsigned k = 1; k <= LONG_TRACES; k++) {
        want[0] += k % 3 != 0 && k % 10 == 3;
        want[1] += k % 7 == 5 && k % 3 == 2 && k > 29000;
        want[2] += k % 3 != 0 && k % 10 == 1;
    }
    for (size_t i = 0; i < 3; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(cases[i], strlen(cases[i]), &f, &err), OWL_OK, "%s",
                     err.msg);
        unsigned got = 0;
        owl_trace_walk q = {.start_ns = t0, .end_ns = t0 + 3600000 * MS, .filter = f};
        cr_assert_eq(owl_traces_walk(e.tr, "t1", &q, count_trace, &got, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert(want[i] > 0);
        cr_assert_eq(got, want[i], "%s: %u of %u", cases[i], got, want[i]);
        owl_xf_free(f);
    }
    for (unsigned p = 0; p < 2; p++)
        for (unsigned k = 0; k < LONG_TRACES; k++)
            bson_destroy(docs[p][k]);
    env_free(&e);
}

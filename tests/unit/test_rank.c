/* test_rank.c — tracer/rank.c: the bottleneck and root-cause rankings on crafted traces with
 * known answers (a shop trace whose database call slowed against the baseline and has a slow
 * tail, faults starting in two places, an error at the root), the service filter, limits,
 * missing baselines, JSON escaping of odd names; every answer parsed back with libbson. */
#include <bson/bson.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tracer/tracer.h"

#define MS(x) ((int64_t)(x) * 1000000LL)

/* The shop trace: frontend GET / -> call cart -> cart GET /cart -> cart SELECT of db ms.
 * Self times: GET / 20 ms, call cart 4, GET /cart 16, SELECT db; duration db + 40. */
typedef struct shop {
    owl_xf_span s[4];
    owl_xf_trace t;
    uint8_t id[16];
} shop;

static void shop_make(shop *x, int64_t db, unsigned n)
{
    memset(x, 0, sizeof *x);
    x->s[0] = (owl_xf_span){.service = "frontend", .name = "GET /", .kind = OWL_XF_SERVER,
                            .start_ns = 0, .end_ns = MS(db + 40), .parent = -1};
    x->s[1] = (owl_xf_span){.service = "frontend", .name = "call cart", .kind = OWL_XF_CLIENT,
                            .start_ns = MS(10), .end_ns = MS(db + 30), .parent = 0,
                            .remote_service = "cart"};
    x->s[2] = (owl_xf_span){.service = "cart", .name = "GET /cart", .kind = OWL_XF_SERVER,
                            .start_ns = MS(12), .end_ns = MS(db + 28), .parent = 1};
    x->s[3] = (owl_xf_span){.service = "cart", .name = "SELECT", .kind = OWL_XF_CLIENT,
                            .start_ns = MS(15), .end_ns = MS(15 + db), .parent = 2};
    x->t = (owl_xf_trace){x->s, 4, -1, 0};
    x->id[0] = 0xab;
    x->id[15] = (uint8_t)n;
    x->id[14] = (uint8_t)(n >> 8);
}

static void add(owl_rank *r, shop *x, int baseline)
{
    owl_error err;
    cr_assert_eq(owl_rank_add(r, &x->t, x->id, baseline, &err), OWL_OK, "%s", err.msg);
}

static bson_t *parse(const owl_buf *b)
{
    bson_error_t e;
    bson_t *d = bson_new_from_json((const uint8_t *)b->data, (ssize_t)b->len, &e);
    cr_assert(d, "not JSON (%s): %s", e.message, b->data);
    return d;
}

static int64_t num(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "no %s", path);
    cr_assert(BSON_ITER_HOLDS_NUMBER(&f), "%s is not a number", path);
    return bson_iter_as_int64(&f);
}

static double dbl(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "no %s", path);
    cr_assert(BSON_ITER_HOLDS_NUMBER(&f), "%s is not a number", path);
    return bson_iter_as_double(&f);
}

static const char *str(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "no %s", path);
    cr_assert(BSON_ITER_HOLDS_UTF8(&f), "%s is not a string", path);
    return bson_iter_utf8(&f, NULL);
}

static int is_null(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "no %s", path);
    return BSON_ITER_HOLDS_NULL(&f);
}

static int has(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    return bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f);
}

static size_t len(const bson_t *d, const char *path)
{
    size_t n = 0;
    char p[128];
    for (;; n++) {
        snprintf(p, sizeof p, "%s.%zu", path, n);
        if (!has(d, p))
            return n;
    }
}

/* Window: 18 traces with SELECT 50 ms, 2 (numbers 7 and 13) with 500 ms; baseline: 20 with
 * 10 ms. */
static void feed_shop(owl_rank *r)
{
    shop x;
    for (unsigned i = 0; i < 20; i++) {
        shop_make(&x, i == 7 || i == 13 ? 500 : 50, i);
        add(r, &x, 0);
    }
    for (unsigned i = 0; i < 20; i++) {
        shop_make(&x, 10, 100 + i);
        add(r, &x, 1);
    }
}

Test(rank, bottlenecks)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(&(owl_rank_options){.examples = 3}, &r, NULL), OWL_OK);
    feed_shop(r);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(num(d, "traces"), 20);
    cr_assert_eq(num(d, "baselineTraces"), 20);
    cr_assert_eq(num(d, "p90DurationNanos"), MS(90)); /* the 18th of 20 durations */
    /* overall: SELECT 18 x 50 + 2 x 500 ms, then GET / 20 x 20, GET /cart 20 x 16, call cart */
    cr_assert_eq(len(d, "overall"), 4);
    cr_assert_str_eq(str(d, "overall.0.service"), "cart");
    cr_assert_str_eq(str(d, "overall.0.operation"), "SELECT");
    cr_assert_eq(num(d, "overall.0.selfNanos"), MS(1900));
    cr_assert_eq(num(d, "overall.0.traces"), 20);
    cr_assert_eq(num(d, "overall.0.meanSelfNanos"), MS(95));
    cr_assert_eq(num(d, "overall.0.baselineMeanSelfNanos"), MS(10));
    cr_assert_float_eq(dbl(d, "overall.0.change"), 8.5, 1e-6);
    cr_assert_float_eq(dbl(d, "overall.0.share"), 1900.0 / 2700.0, 1e-5);
    cr_assert_eq(len(d, "overall.0.examples"), 3);
    cr_assert_str_eq(str(d, "overall.0.examples.0"), "ab000000000000000000000000000007");
    cr_assert_str_eq(str(d, "overall.0.examples.1"), "ab00000000000000000000000000000d");
    cr_assert_str_eq(str(d, "overall.0.examples.2"), "ab000000000000000000000000000000");
    cr_assert_str_eq(str(d, "overall.1.operation"), "GET /");
    cr_assert_eq(num(d, "overall.1.selfNanos"), MS(400));
    cr_assert_float_eq(dbl(d, "overall.1.change"), 0, 1e-9);
    cr_assert_str_eq(str(d, "overall.2.operation"), "GET /cart");
    cr_assert_eq(num(d, "overall.2.selfNanos"), MS(320));
    cr_assert_str_eq(str(d, "overall.3.operation"), "call cart");
    cr_assert_eq(num(d, "overall.3.selfNanos"), MS(80));
    /* slow tail: the two traces over 90 ms */
    cr_assert_eq(len(d, "slowTail"), 4);
    cr_assert_str_eq(str(d, "slowTail.0.operation"), "SELECT");
    cr_assert_eq(num(d, "slowTail.0.selfNanos"), MS(1000));
    cr_assert_eq(num(d, "slowTail.0.traces"), 2);
    cr_assert_float_eq(dbl(d, "slowTail.0.share"), 1000.0 / 1080.0, 1e-5);
    cr_assert_eq(len(d, "slowTail.0.examples"), 2);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, service_filter_and_limit)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(&(owl_rank_options){.service = "cart", .limit = 1}, &r, NULL),
                 OWL_OK);
    feed_shop(r);
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "prefix:"); /* appended, not overwritten */
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    cr_assert(!strncmp(b.data, "prefix:{", 8));
    owl_buf j = {b.data + 7, b.len - 7, 0};
    bson_t *d = parse(&j);
    cr_assert_eq(len(d, "overall"), 1);
    cr_assert_str_eq(str(d, "overall.0.operation"), "SELECT");
    cr_assert_eq(len(d, "overall.0.examples"), 5); /* the default */
    cr_assert_eq(len(d, "slowTail"), 1);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, no_baseline_few_traces)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
    shop x;
    for (unsigned i = 0; i < 5; i++) {
        shop_make(&x, 10 * (i + 1), i);
        add(r, &x, 0);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    /* 5 traces: p90 by nearest rank is the largest, and nothing is above it */
    cr_assert_eq(num(d, "p90DurationNanos"), MS(90));
    cr_assert_eq(len(d, "slowTail"), 0);
    cr_assert(is_null(d, "overall.0.baselineMeanSelfNanos"));
    cr_assert(is_null(d, "overall.0.change"));
    bson_destroy(d);
    owl_buf_reset(&b);
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    d = parse(&b);
    /* No baseline: every operation grew from 0, growth unknown; SELECT (150 ms / 5) first. */
    cr_assert_eq(len(d, "latency"), 4);
    cr_assert_str_eq(str(d, "latency.0.operation"), "SELECT");
    cr_assert_eq(num(d, "latency.0.meanSelfNanos"), MS(30));
    cr_assert_eq(num(d, "latency.0.baselineMeanSelfNanos"), 0);
    cr_assert(is_null(d, "latency.0.growth"));
    cr_assert_eq(len(d, "faults"), 0);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, empty)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
    owl_xf_trace t = {NULL, 0, -1, 0};
    uint8_t id[16] = {1};
    cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK); /* not counted */
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    cr_assert_str_eq(b.data, "{\"traces\":0,\"baselineTraces\":0,\"p90DurationNanos\":0,"
                             "\"overall\":[],\"slowTail\":[]}");
    owl_buf_reset(&b);
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    cr_assert_str_eq(b.data, "{\"traces\":0,\"baselineTraces\":0,\"faultTraces\":0,\"errorTraces\":0,\"faults\":[],"
                             "\"errors\":[],\"latency\":[]}");
    owl_buf_free(&b);
    owl_rank_free(r);
    owl_rank_free(NULL);
}

Test(rank, rootcause)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
    shop x;
    for (unsigned i = 0; i < 10; i++) {
        shop_make(&x, i < 5 ? 30 : 10, i);
        if (i < 3) { /* SELECT failed and the fault went up */
            x.s[0].fault = x.s[1].fault = x.s[2].fault = x.s[3].fault = 1;
            x.s[3].exception_type = "SQLException";
            x.s[3].exception_message = "deadlock detected";
            x.s[2].exception_type = "HTTPError"; /* the caller's view: not the origin */
        } else if (i < 5) { /* GET /cart failed by itself */
            x.s[0].fault = x.s[1].fault = x.s[2].fault = 1;
            x.s[2].exception_type = "NullPointerException";
            x.s[2].exception_message = "cart is null";
        } else if (i == 5) {
            x.s[0].error = 1; /* a 404 at the front */
        } else if (i == 6) {
            x.s[3].throttle = x.s[3].error = 1; /* a throttled query, handled */
        }
        add(r, &x, 0);
    }
    for (unsigned i = 0; i < 10; i++) {
        shop_make(&x, 10, 100 + i);
        x.s[3].fault = 1; /* baseline failures are not counted */
        add(r, &x, 1);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(num(d, "traces"), 10);
    cr_assert_eq(num(d, "faultTraces"), 5);
    cr_assert_eq(num(d, "errorTraces"), 2);
    cr_assert_eq(len(d, "faults"), 2);
    cr_assert_str_eq(str(d, "faults.0.service"), "cart");
    cr_assert_str_eq(str(d, "faults.0.operation"), "SELECT");
    cr_assert_str_eq(str(d, "faults.0.exceptionType"), "SQLException");
    cr_assert_str_eq(str(d, "faults.0.message"), "deadlock detected");
    cr_assert_eq(num(d, "faults.0.count"), 3);
    cr_assert_float_eq(dbl(d, "faults.0.share"), 0.6, 1e-9);
    cr_assert_eq(len(d, "faults.0.examples"), 3);
    cr_assert_str_eq(str(d, "faults.0.examples.0"), "ab000000000000000000000000000000");
    cr_assert_str_eq(str(d, "faults.1.operation"), "GET /cart");
    cr_assert_str_eq(str(d, "faults.1.exceptionType"), "NullPointerException");
    cr_assert_eq(num(d, "faults.1.count"), 2);
    cr_assert_eq(len(d, "errors"), 2);
    cr_assert_str_eq(str(d, "errors.0.operation"), "SELECT"); /* ties: by service name */
    cr_assert_float_eq(dbl(d, "errors.0.share"), 0.5, 1e-9);
    cr_assert_str_eq(str(d, "errors.1.operation"), "GET /");
    cr_assert(is_null(d, "errors.1.exceptionType"));
    cr_assert(is_null(d, "errors.1.message"));
    /* latency: SELECT (5 x 30 + 5 x 10) / 10 = 20 ms against 10 */
    cr_assert_eq(len(d, "latency"), 1);
    cr_assert_str_eq(str(d, "latency.0.operation"), "SELECT");
    cr_assert_eq(num(d, "latency.0.meanSelfNanos"), MS(20));
    cr_assert_eq(num(d, "latency.0.baselineMeanSelfNanos"), MS(10));
    cr_assert_eq(num(d, "latency.0.deltaNanos"), MS(10));
    cr_assert_float_eq(dbl(d, "latency.0.growth"), 1.0, 1e-9);
    cr_assert_str_eq(str(d, "latency.0.examples.0"), "ab000000000000000000000000000000");
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, latency_counts_frequency)
{
    /* An operation called more often per trace grows although each call is as fast: the mean
     * is per trace, 0 where it is absent. */
    owl_rank *r;
    cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
    owl_xf_span s[4] = {
        {.service = "api", .name = "GET /", .kind = OWL_XF_SERVER, .end_ns = MS(100),
         .parent = -1},
        {.service = "api", .name = "cache", .kind = OWL_XF_CLIENT, .start_ns = MS(10),
         .end_ns = MS(20), .parent = 0},
        {.service = "api", .name = "cache", .kind = OWL_XF_CLIENT, .start_ns = MS(30),
         .end_ns = MS(40), .parent = 0},
        {.service = "api", .name = "cache", .kind = OWL_XF_CLIENT, .start_ns = MS(50),
         .end_ns = MS(60), .parent = 0},
    };
    uint8_t id[16] = {0};
    for (int i = 0; i < 4; i++) {
        owl_xf_trace t = {s, 4, -1, 0}; /* three calls, 30 ms */
        id[15] = (uint8_t)i;
        cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK);
        owl_xf_trace b = {s, i < 2 ? 2 : 1, -1, 0}; /* one call, or none */
        cr_assert_eq(owl_rank_add(r, &b, id, 1, NULL), OWL_OK);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(len(d, "latency"), 1);
    cr_assert_str_eq(str(d, "latency.0.operation"), "cache");
    cr_assert_eq(num(d, "latency.0.meanSelfNanos"), MS(30));
    cr_assert_eq(num(d, "latency.0.baselineMeanSelfNanos"), MS(5));
    cr_assert_eq(num(d, "latency.0.deltaNanos"), MS(25));
    cr_assert_float_eq(dbl(d, "latency.0.growth"), 5.0, 1e-9);
    bson_destroy(d);
    owl_buf_reset(&b);
    /* and in bottlenecks the per-trace contribution sums the three calls */
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    d = parse(&b);
    cr_assert_str_eq(str(d, "overall.0.operation"), "GET /");
    cr_assert_eq(num(d, "overall.0.selfNanos"), MS(280));
    cr_assert_eq(num(d, "overall.1.selfNanos"), MS(120));
    cr_assert_eq(num(d, "overall.1.traces"), 4);
    cr_assert_eq(num(d, "overall.1.meanSelfNanos"), MS(30));
    cr_assert_eq(num(d, "overall.1.baselineMeanSelfNanos"), MS(10)); /* in 2 traces of 4 */
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, json_escaping)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
    owl_xf_span s[1] = {{.service = "we\"ird\\svc\n", .name = "op\x01\xff", .kind = OWL_XF_SERVER,
                         .end_ns = 5, .parent = -1, .fault = 1, .exception_type = "E\t",
                         .exception_message = "bad \"quote\" \xc3\x28"}};
    owl_xf_trace t = {s, 1, -1, 0};
    uint8_t id[16];
    memset(id, 0xff, sizeof id);
    cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK);
    s[0].service = NULL; /* no service, no name: "" */
    s[0].name = "";
    cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_str_eq(str(d, "faults.0.service"), "");
    cr_assert_str_eq(str(d, "faults.1.service"), "we\"ird\\svc\n");
    cr_assert_str_eq(str(d, "faults.1.operation"), "op\x01\xef\xbf\xbd");
    cr_assert_str_eq(str(d, "faults.1.exceptionType"), "E\t");
    cr_assert_str_eq(str(d, "faults.1.message"), "bad \"quote\" \xef\xbf\xbd(");
    cr_assert_str_eq(str(d, "faults.1.examples.0"), "ffffffffffffffffffffffffffffffff");
    bson_destroy(d);
    owl_buf_reset(&b);
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    d = parse(&b);
    cr_assert_eq(len(d, "overall"), 2);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

Test(rank, many_keys_and_traces)
{
    /* Enough operations and traces to grow every table several times; the answer stays
     * exact: operation k of 1,000 appears in traces where t % 7 == k % 7 with k ns of self. */
    owl_rank *r;
    cr_assert_eq(owl_rank_new(&(owl_rank_options){.limit = 2000}, &r, NULL), OWL_OK);
    enum { K = 1000, T = 700 };
    static owl_xf_span s[K + 1];
    static char names[K][16];
    uint8_t id[16] = {0};
    for (int t = 0; t < T; t++) {
        size_t n = 1;
        int64_t at = 0;
        s[0] = (owl_xf_span){.service = "svc", .name = "root", .parent = -1};
        for (int k = 0; k < K; k++) {
            if (k % 7 != t % 7)
                continue;
            snprintf(names[k], sizeof names[k], "op%d", k);
            s[n++] = (owl_xf_span){.service = "svc", .name = names[k], .start_ns = at,
                                   .end_ns = at + k, .parent = 0};
            at += k;
        }
        s[0].end_ns = at;
        owl_xf_trace tr = {s, n, -1, 0};
        id[15] = (uint8_t)t, id[14] = (uint8_t)(t >> 8);
        cr_assert_eq(owl_rank_add(r, &tr, id, t % 2, NULL), OWL_OK);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(num(d, "traces"), T / 2);
    /* op0 lasts no time and is never on the path; the root is, with no self time */
    cr_assert_eq(len(d, "overall"), K);
    cr_assert_str_eq(str(d, "overall.999.operation"), "root");
    cr_assert_str_eq(str(d, "overall.0.operation"), "op999");
    cr_assert_eq(num(d, "overall.0.traces"), 50); /* even t with t % 7 == 5 */
    cr_assert_eq(num(d, "overall.0.selfNanos"), 50 * 999);
    cr_assert_eq(num(d, "overall.0.baselineMeanSelfNanos"), 999);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

Test(rank, p90_nearest_rank)
{
    /* Random durations with many repeats: the p90 is the ceil(0.9 N)-th smallest, and the
     * slow tail holds exactly the traces above it. */
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    static int64_t durs[400];
    for (int round = 0; round < 300; round++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 1 + (size_t)(rng >> 33) % 400, above = 0;
        int64_t range = 1 + (int64_t)((rng >> 20) % 50);
        owl_rank *r;
        cr_assert_eq(owl_rank_new(NULL, &r, NULL), OWL_OK);
        for (size_t i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            durs[i] = 1 + (int64_t)((rng >> 33) % (uint64_t)range);
            owl_xf_span s = {.service = "s", .name = "op", .end_ns = durs[i], .parent = -1};
            owl_xf_trace t = {&s, 1, -1, 0};
            uint8_t id[16] = {0};
            cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK);
        }
        qsort(durs, n, sizeof *durs, cmp_i64);
        int64_t p90 = durs[(9 * n + 9) / 10 - 1];
        for (size_t i = 0; i < n; i++)
            above += durs[i] > p90;
        owl_buf b = OWL_BUF_INIT;
        cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
        bson_t *d = parse(&b);
        cr_assert_eq(num(d, "p90DurationNanos"), p90, "round %d n %zu", round, n);
        if (above)
            cr_assert_eq(num(d, "slowTail.0.traces"), (int64_t)above);
        else
            cr_assert_eq(len(d, "slowTail"), 0);
        bson_destroy(d);
        owl_buf_free(&b);
        owl_rank_free(r);
    }
}

Test(rank, sort_added_ranks_what_got_slower)
{
    /* SELECT takes 200 ms in both windows; GET / grows from 20 to 30 ms of its own */
    for (int by_added = 0; by_added < 2; by_added++) {
        owl_rank *r;
        cr_assert_eq(owl_rank_new(&(owl_rank_options){.sort_added = by_added}, &r, NULL), OWL_OK);
        for (unsigned i = 0; i < 20; i++) {
            shop x;
            shop_make(&x, 200, i);
            add(r, &x, 1);
            shop_make(&x, 200, 100 + i);
            x.s[0].end_ns += MS(10);
            add(r, &x, 0);
        }
        owl_buf b = OWL_BUF_INIT;
        cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
        bson_t *d = parse(&b);
        /* by self time: SELECT (4,000 ms), then GET / (600); by time added: GET / (+200 ms),
         * then the unchanged ones (+0) by name */
        cr_assert_str_eq(str(d, "overall.0.operation"), by_added ? "GET /" : "SELECT");
        cr_assert_str_eq(str(d, "overall.1.operation"), by_added ? "GET /cart" : "GET /");
        cr_assert_eq(num(d, by_added ? "overall.0.addedNanos" : "overall.1.addedNanos"),
                     MS(200));
        cr_assert_eq(num(d, by_added ? "overall.1.addedNanos" : "overall.0.addedNanos"), 0);
        bson_destroy(d);
        owl_buf_free(&b);
        owl_rank_free(r);
    }
}

/* One shop trace of number i: slow every 7th, faulting (in SELECT, with one of two
 * exceptions) every 5th, in the baseline from 100 on. */
static void mixed_add(owl_rank *r, unsigned i)
{
    shop x;
    shop_make(&x, i % 7 == 0 ? 300 : 20 + i % 13, i);
    if (i % 5 == 0) {
        x.s[3].fault = x.s[2].fault = x.s[0].fault = 1;
        x.s[3].exception_type = i % 10 ? "Timeout" : "Refused";
    }
    add(r, &x, i >= 100);
}

Test(rank, merge_equals_one_accumulator)
{
    /* the traces fed to one accumulator, or in two parts merged in order: the same answers */
    owl_rank *one, *a, *b;
    owl_rank_options o = {.examples = 4, .limit = 20};
    cr_assert_eq(owl_rank_new(&o, &one, NULL), OWL_OK);
    cr_assert_eq(owl_rank_new(&o, &a, NULL), OWL_OK);
    cr_assert_eq(owl_rank_new(&o, &b, NULL), OWL_OK);
    for (unsigned i = 0; i < 160; i++) {
        mixed_add(one, i);
        mixed_add(i % 100 < 45 ? a : b, i); /* window 0..44 in a, 45..99 in b; baseline too */
    }
    cr_assert_eq(owl_rank_merge(a, b, NULL), OWL_OK);
    for (int k = 0; k < 2; k++) {
        owl_buf x = OWL_BUF_INIT, y = OWL_BUF_INIT;
        if (k == 0) {
            cr_assert_eq(owl_rank_bottlenecks_json(one, &x, NULL), OWL_OK);
            cr_assert_eq(owl_rank_bottlenecks_json(a, &y, NULL), OWL_OK);
        } else {
            cr_assert_eq(owl_rank_rootcause_json(one, &x, NULL), OWL_OK);
            cr_assert_eq(owl_rank_rootcause_json(a, &y, NULL), OWL_OK);
        }
        cr_assert_str_eq(y.data, x.data);
        owl_buf_free(&x);
        owl_buf_free(&y);
    }
    owl_rank_free(one);
    owl_rank_free(a);
    owl_rank_free(b);
}

/* Traces with a names_epoch let the ranking key (service, operation) by the strings'
 * addresses: within one epoch equal pointers are equal names, and a new epoch forgets them,
 * so the same buffers holding other names in the next walk count as other operations. */
Test(rank, names_epoch_keys_by_address_within_an_epoch)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(&(owl_rank_options){.examples = 1}, &r, NULL), OWL_OK);
    char svc[16], op[16];
    owl_xf_span s = {.service = svc, .name = op, .kind = OWL_XF_SERVER, .start_ns = 0,
                     .parent = -1};
    owl_xf_trace t = {&s, 1, -1, 0};
    uint8_t id[16] = {1};
    static const struct {
        const char *svc, *op;
        int64_t ms;
        uint64_t epoch;
    } feed[] = {{"a", "x", 10, 7}, {"a", "x", 10, 7}, {"b", "y", 30, 8}, {"b", "y", 30, 8},
                {"b", "y", 30, 0}, {"c", "z", 5, 0}, {"a", "x", 10, 9}};
    for (size_t i = 0; i < sizeof feed / sizeof feed[0]; i++) {
        strcpy(svc, feed[i].svc);
        strcpy(op, feed[i].op);
        s.end_ns = MS(feed[i].ms);
        t.names_epoch = feed[i].epoch;
        id[15] = (uint8_t)i;
        cr_assert_eq(owl_rank_add(r, &t, id, 0, NULL), OWL_OK);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(len(d, "overall"), 3, "%s", b.data);
    cr_assert_str_eq(str(d, "overall.0.service"), "b");
    cr_assert_eq(num(d, "overall.0.selfNanos"), MS(90));
    cr_assert_eq(num(d, "overall.0.traces"), 3);
    cr_assert_str_eq(str(d, "overall.1.service"), "a");
    cr_assert_eq(num(d, "overall.1.selfNanos"), MS(30));
    cr_assert_str_eq(str(d, "overall.2.service"), "c");
    cr_assert_str_eq(str(d, "overall.2.operation"), "z");
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

/* no_failures (a bottlenecks query's): faults are not traced to their origin, the critical
 * paths are counted as ever. */
Test(rank, no_failures_leaves_the_root_cause_lists_empty)
{
    owl_rank *r;
    cr_assert_eq(owl_rank_new(&(owl_rank_options){.no_failures = 1}, &r, NULL), OWL_OK);
    shop x;
    for (unsigned i = 0; i < 4; i++) {
        shop_make(&x, 30, i);
        x.s[0].fault = x.s[1].fault = x.s[2].fault = x.s[3].fault = 1;
        add(r, &x, 0);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_rank_rootcause_json(r, &b, NULL), OWL_OK);
    bson_t *d = parse(&b);
    cr_assert_eq(num(d, "traces"), 4);
    cr_assert_eq(num(d, "faultTraces"), 0, "%s", b.data);
    cr_assert_eq(len(d, "faults"), 0);
    bson_destroy(d);
    owl_buf_free(&b);
    b = (owl_buf)OWL_BUF_INIT;
    cr_assert_eq(owl_rank_bottlenecks_json(r, &b, NULL), OWL_OK);
    d = parse(&b);
    cr_assert_str_eq(str(d, "overall.0.operation"), "SELECT");
    cr_assert_eq(num(d, "overall.0.selfNanos"), MS(4 * 30));
    bson_destroy(d);
    owl_buf_free(&b);
    owl_rank_free(r);
}

/* test_metrics.c — analytics/metrics.c and catalog.c over a real store: CloudWatch's
 * datum rules, put/read for each kind of datum with exact count/sum/min/max per period,
 * period alignment, late and out-of-order data, roll-ups past each level's window with the
 * same figures, the catalog across reopen (ids, ListMetrics filters and pages,
 * RecentlyActive), a refused request storing nothing, and cumulative-to-delta state. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "tests/unit/testfs.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)

/* A whole hour two hours before the clock: the store's retention counts from the real clock,
 * so the data must be recent; reads then pass later "now"s to age it. */
static int64_t T0;

static void set_t0(void)
{
    T0 = (owl_now_ms() / HOUR) * HOUR - 2 * HOUR;
}

typedef struct env {
    char *dir;
    owl_meta *meta;
    owl_store *store;
    owl_metrics *m;
} env;

static owl_metrics_options small_windows(void)
{
    /* raw 1 h, 60 s 2 days, 300 s 5 days, 3600 s 30 days */
    owl_metrics_options o = {.keep_ms = {HOUR, 2 * DAY, 5 * DAY, 30 * DAY}, .grace_ms = 60000};
    return o;
}

static void env_open(env *e, const owl_metrics_options *o)
{
    char p[256];
    owl_error err = {0};
    snprintf(p, sizeof p, "%s/meta", e->dir);
    cr_assert_eq(owl_meta_open(p, &(owl_meta_options){.fsync = 0}, &e->meta, &err), OWL_OK, "%s",
                 err.msg);
    snprintf(p, sizeof p, "%s/store", e->dir);
    owl_store_options so;
    owl_store_options_default(&so);
    so.sync = OWL_SYNC_NONE;
    so.background = 0;
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &e->store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_metrics_open(e->store, e->meta, o, &e->m, &err), OWL_OK, "%s", err.msg);
}

static void env_close(env *e)
{
    owl_metrics_close(e->m);
    owl_store_close(e->store);
    owl_meta_close(e->meta);
    e->m = NULL, e->store = NULL, e->meta = NULL;
}

static env E;
#define NLEVELS_TEST 4
static void setup(void)
{
    set_t0();
    E.dir = test_tmpdir("metrics");
    owl_metrics_options o = small_windows();
    env_open(&E, &o);
}
static void teardown(void)
{
    env_close(&E);
    test_rm_rf(E.dir);
}

static const owl_dim host_a[] = {{"host", "a"}, {"az", "x"}};
static const owl_dim host_a_swapped[] = {{"az", "x"}, {"host", "a"}};

static owl_datum value(const char *name, int64_t t, double v, const double *vp)
{
    (void)v;
    owl_datum d = {.id = {"App", name, host_a, 2}, .unit = "Milliseconds", .time_ms = t,
                   .values = vp, .nvalues = 1};
    return d;
}

static void put(const owl_datum *d, size_t n, int64_t now)
{
    owl_error err = {0};
    enum owl_metric_fault f;
    cr_assert_eq(owl_metrics_put(E.m, "t1", d, n, OWL_PUT_CLOUDWATCH, now, &f, &err), OWL_OK,
                 "%s", err.msg);
}

static owl_bucket_set read_period(const char *name, int64_t start, int64_t end, int period,
                                  int64_t now)
{
    owl_bucket_set bs;
    owl_error err = {0};
    owl_metric_query q = {.tenant = "t1", .id = {"App", name, host_a_swapped, 2},
                          .start_ms = start, .end_ms = end, .period_s = period, .now_ms = now};
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, &err), OWL_OK, "%s", err.msg);
    return bs;
}

static int count_fn(void *ud, const owl_metric_id *id, int64_t last)
{
    (void)id, (void)last;
    (*(size_t *)ud)++;
    return 0;
}

/* ---- rules ---- */

static enum owl_metric_fault check1(owl_datum d)
{
    enum owl_metric_fault f = OWL_MF_NONE;
    owl_error err = {0};
    int rc = owl_metrics_check(&d, 1, OWL_PUT_CLOUDWATCH, T0, &f, &err);
    if (rc == OWL_OK)
        return OWL_MF_NONE;
    cr_assert_neq(err.msg[0], 0);
    return f;
}

Test(metrics, rules, .init = set_t0)
{
    double v = 1, nan = NAN, inf = INFINITY, vals[151], counts[2] = {1, -1};
    for (int i = 0; i < 151; i++)
        vals[i] = i;
    owl_datum ok = {.id = {"App", "Latency", host_a, 2}, .time_ms = T0, .values = &v, .nvalues = 1};
    cr_assert_eq(check1(ok), OWL_MF_NONE);
    owl_datum d = ok;
    d.id.ns = NULL;
    cr_assert_eq(check1(d), OWL_MF_MISSING);
    d = ok, d.id.ns = "AWS/EC2";
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.id.ns = ":bad";
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    char longname[300];
    memset(longname, 'a', 299);
    longname[299] = 0;
    d = ok, d.id.ns = longname;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.id.name = longname;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.id.name = "";
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.id.name = "tab\there";
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    owl_dim dims[31];
    for (int i = 0; i < 31; i++)
        dims[i] = (owl_dim){"d", "v"};
    d = ok, d.id.dims = dims, d.id.ndims = 31;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    owl_dim twice[] = {{"a", "1"}, {"a", "2"}};
    d = ok, d.id.dims = twice, d.id.ndims = 2;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.unit = "Parsecs";
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.unit = "Count/Second";
    cr_assert_eq(check1(d), OWL_MF_NONE);
    d = ok, d.values = &nan;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.values = &inf;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.values = vals, d.nvalues = 151;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.values = vals, d.nvalues = 150;
    cr_assert_eq(check1(d), OWL_MF_NONE);
    d = ok, d.values = vals, d.counts = counts, d.nvalues = 2;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.nvalues = 0;
    cr_assert_eq(check1(d), OWL_MF_MISSING);
    d = ok, d.has_stats = 1, d.count = 1, d.sum = 1, d.min = 1, d.max = 1;
    cr_assert_eq(check1(d), OWL_MF_COMBINATION);
    d.nvalues = 0;
    cr_assert_eq(check1(d), OWL_MF_NONE);
    d.min = 2;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d.min = 1, d.count = 0;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.time_ms = T0 - 15 * DAY;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.time_ms = T0 + 3 * HOUR;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.resolution = 5;
    cr_assert_eq(check1(d), OWL_MF_INVALID_VALUE);
    d = ok, d.resolution = 1;
    cr_assert_eq(check1(d), OWL_MF_NONE);
    /* 1,001 datums */
    owl_datum *many = calloc(1001, sizeof *many);
    for (int i = 0; i < 1001; i++)
        many[i] = ok;
    enum owl_metric_fault f;
    cr_assert_eq(owl_metrics_check(many, 1001, OWL_PUT_CLOUDWATCH, T0, &f, NULL), OWL_EINVAL);
    cr_assert_eq(f, OWL_MF_INVALID_VALUE);
    cr_assert_eq(owl_metrics_check(many, 1000, OWL_PUT_CLOUDWATCH, T0, &f, NULL), OWL_OK);
    free(many);
}

/* ---- put and read ---- */

Test(metrics, kinds_exact_per_period, .init = setup, .fini = teardown)
{
    double v1 = 10, v2 = 30, vals[] = {1, 2, 3}, counts[] = {2, 1, 1};
    owl_datum d[4] = {value("Latency", T0 + 1000, 0, &v1), value("Latency", T0 + 2000, 0, &v2)};
    d[2] = (owl_datum){.id = {"App", "Latency", host_a, 2}, .unit = "Milliseconds",
                       .time_ms = T0 + 3000, .values = vals, .counts = counts, .nvalues = 3};
    d[3] = (owl_datum){.id = {"App", "Latency", host_a, 2}, .unit = "Milliseconds",
                       .time_ms = T0 + 61000, .has_stats = 1, .count = 4, .sum = 100,
                       .min = 5, .max = 50};
    put(d, 4, T0 + 120000);
    owl_bucket_set bs = read_period("Latency", T0, T0 + 120000, 60, T0 + 120000);
    cr_assert_eq(bs.n, 2);
    cr_assert_eq(bs.b[0].time_ms, T0);
    cr_assert_float_eq(bs.b[0].count, 6, 1e-12);
    cr_assert_float_eq(bs.b[0].sum, 10 + 30 + 1 * 2 + 2 + 3, 1e-12);
    cr_assert_float_eq(bs.b[0].min, 1, 1e-12);
    cr_assert_float_eq(bs.b[0].max, 30, 1e-12);
    cr_assert_not_null(bs.b[0].sketch);
    cr_assert_str_eq(bs.b[0].unit, "Milliseconds");
    cr_assert_float_eq(bs.b[1].count, 4, 1e-12);
    cr_assert_float_eq(bs.b[1].sum, 100, 1e-12);
    cr_assert_float_eq(bs.b[1].min, 5, 1e-12);
    cr_assert_float_eq(bs.b[1].max, 50, 1e-12);
    cr_assert_null(bs.b[1].sketch, "a statistic set has no distribution");
    owl_bucket_set_free(&bs);
    /* ... unless its values are all equal (SampleCount 1, or Minimum = Maximum) */
    owl_datum eq = {.id = {"App", "Equal", host_a, 2}, .time_ms = T0 + 1000, .has_stats = 1,
                    .count = 3, .sum = 21, .min = 7, .max = 7};
    put(&eq, 1, T0 + 120000);
    bs = read_period("Equal", T0, T0 + 60000, 60, T0 + 120000);
    cr_assert_eq(bs.n, 1);
    owl_stat p50;
    double got;
    cr_assert_eq(owl_stat_parse("p50", &p50, NULL), OWL_OK);
    cr_assert_eq(owl_stat_eval(&p50, &bs.b[0], &got), OWL_OK);
    cr_assert_float_eq(got, 7, 0);
    owl_bucket_set_free(&bs);
    /* one period over both: merged */
    bs = read_period("Latency", T0, T0 + 120000, 120, T0 + 120000);
    cr_assert_eq(bs.n, 1);
    cr_assert_float_eq(bs.b[0].count, 10, 1e-12);
    cr_assert_float_eq(bs.b[0].max, 50, 1e-12);
    owl_bucket_set_free(&bs);
    /* a unit filter that matches nothing */
    owl_metric_query q = {.tenant = "t1", .id = {"App", "Latency", host_a, 2}, .unit = "Bytes",
                          .start_ms = T0, .end_ms = T0 + 120000, .period_s = 60,
                          .now_ms = T0 + 120000};
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, NULL), OWL_OK);
    cr_assert_eq(bs.n, 0);
}

Test(metrics, periods_align_and_bad_periods, .init = setup, .fini = teardown)
{
    double v[40];
    owl_datum d[40];
    for (int i = 0; i < 40; i++) {
        v[i] = i;
        d[i] = value("Req", T0 + i * 1000, 0, &v[i]);
        d[i].resolution = 1;
    }
    put(d, 40, T0 + 60000);
    static const int periods[] = {1, 5, 10, 30, 60};
    for (size_t p = 0; p < 5; p++) {
        owl_bucket_set bs = read_period("Req", T0, T0 + 60000, periods[p], T0 + 60000);
        size_t want = (40 + (size_t)periods[p] - 1) / (size_t)periods[p];
        cr_assert_eq(bs.n, want, "period %d: %zu buckets", periods[p], bs.n);
        double total = 0;
        for (size_t i = 0; i < bs.n; i++) {
            cr_assert_eq(bs.b[i].time_ms % (periods[p] * 1000), T0 % (periods[p] * 1000));
            total += bs.b[i].count;
        }
        cr_assert_float_eq(total, 40, 1e-12);
        owl_bucket_set_free(&bs);
    }
    owl_bucket_set bs;
    owl_metric_query q = {.tenant = "t1", .id = {"App", "Req", host_a, 2}, .start_ms = T0,
                          .end_ms = T0 + 60000, .period_s = 7};
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, NULL), OWL_EINVAL);
    q.period_s = 90;
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, NULL), OWL_EINVAL);
    q.period_s = 60, q.end_ms = T0;
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, NULL), OWL_EINVAL);
}

/* Sums every bucket of a read. */
static void totals(owl_bucket_set *bs, double *count, double *sum, double *min, double *max)
{
    *count = 0, *sum = 0, *min = INFINITY, *max = -INFINITY;
    for (size_t i = 0; i < bs->n; i++) {
        *count += bs->b[i].count;
        *sum += bs->b[i].sum;
        *min = fmin(*min, bs->b[i].min);
        *max = fmax(*max, bs->b[i].max);
    }
}

Test(metrics, rollups_past_each_window, .init = setup, .fini = teardown)
{
    /* one value a second for two hours; "now" is then moved on to age them */
    const int n = 7200;
    int64_t base = T0;
    double *v = malloc(n * sizeof *v);
    owl_datum *d = malloc(n * sizeof *d);
    double want_sum = 0;
    for (int i = 0; i < n; i++) {
        v[i] = (i * 7919) % 1000;
        want_sum += v[i];
        d[i] = value("Load", base + i * 1000LL, 0, &v[i]);
        d[i].resolution = 1;
    }
    for (int i = 0; i < n; i += 500)
        put(d + i, n - i < 500 ? (size_t)(n - i) : 500, base + 2 * HOUR);
    owl_error err = {0};
    /* roll as of 12 days later: every level rolls everything */
    const int64_t later = base + 12 * DAY;
    cr_assert_eq(owl_metrics_rollup(E.m, later, &err), OWL_OK, "%s", err.msg);
    double c, s, mn, mx;
    /* 12 days old: past the raw (1 h), 60 s (2 days) and 300 s (5 days) windows: only 3600 s
     * periods answer */
    owl_bucket_set bs = read_period("Load", base, base + 2 * HOUR, 60, later);
    cr_assert_eq(bs.n, 0, "60 s periods of 12-day-old data: %zu", bs.n);
    owl_bucket_set_free(&bs);
    bs = read_period("Load", base, base + 2 * HOUR, 300, later);
    cr_assert_eq(bs.n, 0);
    owl_bucket_set_free(&bs);
    bs = read_period("Load", base, base + 2 * HOUR, 3600, later);
    cr_assert_eq(bs.n, 2);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n, 1e-9);
    cr_assert_float_eq(s, want_sum, 1e-6);
    cr_assert_float_eq(mn, 0, 1e-12);
    cr_assert_float_eq(mx, 999, 1e-12);
    owl_bucket_set_free(&bs);
    /* the same data seen 3 days after it: 300 s periods answer, 60 s do not */
    bs = read_period("Load", base, base + 2 * HOUR, 60, base + 3 * DAY);
    cr_assert_eq(bs.n, 0);
    owl_bucket_set_free(&bs);
    bs = read_period("Load", base, base + 2 * HOUR, 300, base + 3 * DAY);
    cr_assert_eq(bs.n, 24);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n, 1e-9);
    cr_assert_float_eq(s, want_sum, 1e-6);
    owl_bucket_set_free(&bs);
    /* a day after: 60 s answers, 1 s does not */
    bs = read_period("Load", base, base + 2 * HOUR, 1, base + DAY);
    cr_assert_eq(bs.n, 0);
    owl_bucket_set_free(&bs);
    bs = read_period("Load", base, base + 2 * HOUR, 60, base + DAY);
    cr_assert_eq(bs.n, 120);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n, 1e-9);
    cr_assert_float_eq(s, want_sum, 1e-6);
    owl_bucket_set_free(&bs);
    /* p99 over the rolled hour is within the sketch's error of the exact one */
    owl_stat st;
    cr_assert_eq(owl_stat_parse("p99", &st, NULL), OWL_OK);
    bs = read_period("Load", base, base + HOUR, 3600, later);
    cr_assert_eq(bs.n, 1);
    double p99;
    cr_assert_eq(owl_stat_eval(&st, &bs.b[0], &p99), OWL_OK);
    cr_assert(fabs(p99 - 989) <= 0.01 * 989 + 1e-9, "p99 %g", p99);
    owl_bucket_set_free(&bs);
    /* reopen: watermarks come back from the markers, a second roll adds nothing */
    env_close(&E);
    owl_metrics_options o = small_windows();
    env_open(&E, &o);
    cr_assert_eq(owl_metrics_rollup(E.m, later, &err), OWL_OK, "%s", err.msg);
    bs = read_period("Load", base, base + 2 * HOUR, 3600, later);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n, 1e-9, "after reopen and a second roll: %g", c);
    owl_bucket_set_free(&bs);
    /* a late datapoint into an already rolled window lands in every level once */
    double late = 5000;
    owl_datum ld = value("Load", base + 10 * 1000, 0, &late);
    enum owl_metric_fault f;
    cr_assert_eq(owl_metrics_put(E.m, "t1", &ld, 1, OWL_PUT_CLOUDWATCH, base + DAY, &f, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_metrics_rollup(E.m, later, &err), OWL_OK, "%s", err.msg);
    bs = read_period("Load", base, base + 2 * HOUR, 3600, later);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n + 1, 1e-9);
    cr_assert_float_eq(mx, 5000, 1e-9);
    owl_bucket_set_free(&bs);
    bs = read_period("Load", base, base + 2 * HOUR, 60, base + DAY);
    totals(&bs, &c, &s, &mn, &mx);
    cr_assert_float_eq(c, n + 1, 1e-9);
    owl_bucket_set_free(&bs);
    free(v);
    free(d);
}

static int level_rows_fn(void *ud, const owl_store_table_stats *st)
{
    uint64_t *rows = ud;
    if (!strcmp(st->table, "metrics")) {
        int l = !strcmp(st->partition, "m60") ? 1 : !strcmp(st->partition, "m300") ? 2
              : !strcmp(st->partition, "m3600") ? 3 : 0;
        rows[l] += st->rows;
    }
    return 0;
}

/* A new tenant's first roll-up starts 15 days back: the empty windows before and after its
 * one datum take one marker each per level, not one per ROLL_CHUNK_WINDOWS (60) windows (360
 * for the 60 s level), and the datum is rolled all the same. */
Test(metrics, empty_windows_roll_in_one_step, .init = setup, .fini = teardown)
{
    const int64_t now = T0 + DAY;
    owl_error err = {0};
    double one = 7;
    owl_datum d = value("Sparse", T0, 0, &one);
    put(&d, 1, now);
    cr_assert_eq(owl_metrics_rollup(E.m, now, &err), OWL_OK, "%s", err.msg);
    uint64_t rows[NLEVELS_TEST] = {0};
    owl_store_partitions(E.store, level_rows_fn, rows, NULL);
    /* each level: the datum's window and at most two markers (the step ending with it and
     * the one after it) */
    for (int l = 1; l < NLEVELS_TEST; l++)
        cr_assert(rows[l] >= 1 && rows[l] <= 3, "level %d: %llu rows", l,
                  (unsigned long long)rows[l]);
    owl_bucket_set bs = read_period("Sparse", T0 - HOUR, T0 + HOUR, 3600, now);
    double c, sum, mn, mx;
    totals(&bs, &c, &sum, &mn, &mx);
    cr_assert_float_eq(c, 1, 1e-9);
    cr_assert_float_eq(sum, 7, 1e-9);
    owl_bucket_set_free(&bs);
    bs = read_period("Sparse", T0 - HOUR, T0 + HOUR, 60, now);
    totals(&bs, &c, &sum, &mn, &mx);
    cr_assert_float_eq(c, 1, 1e-9);
    owl_bucket_set_free(&bs);
    /* reopened, the watermarks come back from the markers: nothing is rolled twice */
    env_close(&E);
    owl_metrics_options o = small_windows();
    env_open(&E, &o);
    cr_assert_eq(owl_metrics_rollup(E.m, now, &err), OWL_OK, "%s", err.msg);
    bs = read_period("Sparse", T0 - HOUR, T0 + HOUR, 3600, now);
    totals(&bs, &c, &sum, &mn, &mx);
    cr_assert_float_eq(c, 1, 1e-9, "after reopen: %g", c);
    owl_bucket_set_free(&bs);
}

/* A backfill: an hour of late datums (single values, one Values + Counts and one statistic
 * set) into windows every level has rolled writes one row per window to each level, and
 * every period answers the same figures. */
Test(metrics, backfill_merges_late_datums_per_window, .init = setup, .fini = teardown)
{
    const int n = 3600;
    const int64_t base = T0, now = T0 + DAY;
    owl_error err = {0};
    double first = 1;
    owl_datum fd = value("Other", base - HOUR, 0, &first);
    put(&fd, 1, now);
    cr_assert_eq(owl_metrics_rollup(E.m, now, &err), OWL_OK, "%s", err.msg); /* all rolled */
    uint64_t before[NLEVELS_TEST] = {0}, after[NLEVELS_TEST] = {0};
    owl_store_partitions(E.store, level_rows_fn, before, NULL);
    double *v = malloc(n * sizeof *v), want_sum = 0, vals[] = {1, 2, 3}, counts[] = {1, 1, 2};
    owl_datum *d = malloc((n + 2) * sizeof *d);
    for (int i = 0; i < n; i++) {
        v[i] = 100 + (i * 7919) % 900;
        want_sum += v[i];
        d[i] = value("Back", base + i * 1000LL, 0, &v[i]);
    }
    d[n] = value("Back", base + 5 * 1000, 0, NULL);
    d[n].values = vals, d[n].counts = counts, d[n].nvalues = 3;
    d[n + 1] = value("Back", base + 6 * 1000, 0, NULL);
    d[n + 1].nvalues = 0, d[n + 1].has_stats = 1;
    d[n + 1].count = 10, d[n + 1].sum = 50, d[n + 1].min = 2, d[n + 1].max = 9;
    want_sum += 1 + 2 + 6 + 50;
    enum owl_metric_fault f;
    cr_assert_eq(owl_metrics_put(E.m, "t1", d, (size_t)n + 2, 0, now, &f, &err), OWL_OK, "%s",
                 err.msg); /* the native limit: more than CloudWatch's 1,000 datums */
    owl_store_partitions(E.store, level_rows_fn, after, NULL);
    cr_assert_eq(after[1] - before[1], 60, "m60 rows: %llu", (unsigned long long)(after[1] - before[1]));
    cr_assert_eq(after[2] - before[2], 12);
    cr_assert_eq(after[3] - before[3], 1);
    static const int periods[] = {60, 300, 3600};
    for (int k = 0; k < 3; k++) {
        owl_bucket_set bs = read_period("Back", base, base + HOUR, periods[k], now);
        double c, s, mn, mx;
        totals(&bs, &c, &s, &mn, &mx);
        cr_assert_float_eq(c, n + 4 + 10, 1e-9, "period %d", periods[k]);
        cr_assert_float_eq(s, want_sum, 1e-6, "period %d", periods[k]);
        cr_assert_float_eq(mn, 1, 0);
        cr_assert_float_eq(mx, 999, 0);
        owl_bucket_set_free(&bs);
    }
    free(v);
    free(d);
}

Test(metrics, refused_request_stores_nothing, .init = setup, .fini = teardown)
{
    double good = 1, nan = NAN;
    owl_datum d[2] = {value("Refused", T0, 0, &good), value("Refused", T0 + 1000, 0, &nan)};
    enum owl_metric_fault f;
    owl_error err = {0};
    cr_assert_eq(owl_metrics_put(E.m, "t1", d, 2, OWL_PUT_CLOUDWATCH, T0, &f, &err), OWL_EINVAL);
    cr_assert_eq(f, OWL_MF_INVALID_VALUE);
    owl_bucket_set bs = read_period("Refused", T0 - HOUR, T0 + HOUR, 60, T0);
    cr_assert_eq(bs.n, 0);
    /* and the series was not registered */
    size_t seen = 0;
    char next[OWL_METRIC_TOKEN];
    owl_metric_filter flt = {.name = "Refused"};
    cr_assert_eq(owl_metrics_list(E.m, "t1", &flt, NULL, 0, count_fn, &seen, next, NULL), OWL_OK);
    cr_assert_eq(seen, 0);
}

static int count_records(void *ud, const char *tenant, const char *kind, const char *id,
                         const bson_t *doc)
{
    (void)tenant, (void)kind, (void)id, (void)doc;
    ++*(size_t *)ud;
    return 0;
}

Test(metrics, catalog_list_reopen, .init = setup, .fini = teardown)
{
    double v = 1;
    char names[12][16];
    owl_datum d[12];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "M%02d", i);
        d[i] = value(names[i], T0 - (i < 6 ? 5 * HOUR : 0), 0, &v);
    }
    put(d, 12, T0);
    char next[OWL_METRIC_TOKEN];
    size_t seen = 0, pages = 0;
    const char *tok = NULL;
    char tokbuf[OWL_METRIC_TOKEN] = "";
    do {
        cr_assert_eq(owl_metrics_list(E.m, "t1", NULL, tok, 5, count_fn, &seen, next, NULL),
                     OWL_OK);
        pages++;
        strcpy(tokbuf, next);
        tok = tokbuf;
    } while (next[0]);
    cr_assert_eq(seen, 12);
    cr_assert_eq(pages, 3);
    owl_metric_filter recent = {.active_since_ms = T0 - 3 * HOUR};
    seen = 0;
    owl_metrics_list(E.m, "t1", &recent, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 6);
    owl_dim byval[] = {{"host", "a"}}, anyval[] = {{"az", NULL}}, other[] = {{"host", "b"}};
    owl_metric_filter f1 = {.ns = "App", .dims = byval, .ndims = 1};
    seen = 0;
    owl_metrics_list(E.m, "t1", &f1, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 12);
    owl_metric_filter f2 = {.dims = anyval, .ndims = 1, .name = "M03"};
    seen = 0;
    owl_metrics_list(E.m, "t1", &f2, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 1);
    owl_metric_filter f3 = {.dims = other, .ndims = 1};
    seen = 0;
    owl_metrics_list(E.m, "t1", &f3, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 0);
    cr_assert_eq(owl_metrics_list(E.m, "t1", NULL, "garbage", 0, count_fn, &seen, next, NULL),
                 OWL_EINVAL);
    seen = 0;
    owl_metrics_list(E.m, "other-tenant", NULL, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 0);
    /* reopen: the same series, same data, a new one gets a fresh id */
    env_close(&E);
    owl_metrics_options o = small_windows();
    env_open(&E, &o);
    seen = 0;
    owl_metrics_list(E.m, "t1", NULL, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 12);
    /* the 12 new series went into one set record; their last-active times came back */
    size_t sets = 0;
    cr_assert_eq(owl_meta_list(E.meta, "t1", "metric-series-set", NULL, 0, count_records, &sets,
                               NULL),
                 OWL_OK);
    cr_assert_eq(sets, 1);
    seen = 0;
    owl_metrics_list(E.m, "t1", &recent, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 6);
    /* M00 active again 5 hours on: its own record, which wins over the set's at the next open */
    double again = 2;
    owl_datum d0 = value("M00", T0, 0, &again);
    put(&d0, 1, T0);
    env_close(&E);
    env_open(&E, &o);
    seen = 0;
    owl_metrics_list(E.m, "t1", &recent, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 7);
    seen = 0;
    owl_metrics_list(E.m, "t1", NULL, NULL, 0, count_fn, &seen, next, NULL);
    cr_assert_eq(seen, 12);
    owl_bucket_set bs = read_period("M11", T0 - 60000, T0 + 60000, 60, T0);
    cr_assert_eq(bs.n, 1);
    owl_bucket_set_free(&bs);
    owl_datum nd = value("New", T0, 0, &v);
    put(&nd, 1, T0);
    bs = read_period("New", T0 - 60000, T0 + 60000, 60, T0);
    cr_assert_eq(bs.n, 1);
    cr_assert_float_eq(bs.b[0].count, 1, 1e-12);
    owl_bucket_set_free(&bs);
    /* M00's point is 5 hours old: past the raw window, so it reads from the 60 s roll-up */
    cr_assert_eq(owl_metrics_rollup(E.m, T0, NULL), OWL_OK);
    bs = read_period("M00", T0 - 6 * HOUR, T0, 60, T0);
    cr_assert_eq(bs.n, 1, "M00 must not share the new series' id");
    owl_bucket_set_free(&bs);
}

Test(metrics, delta_state, .init = setup, .fini = teardown)
{
    double cum[2], delta[2];
    const int64_t after = (owl_now_ms() + 1000) * 1000000; /* started after the open */
    cum[0] = 5, cum[1] = 50;
    cr_assert_eq(owl_metrics_delta(E.m, 42, after, cum, delta, 2), 1);
    cr_assert_float_eq(delta[0], 5, 0);
    cum[0] = 8, cum[1] = 80;
    cr_assert_eq(owl_metrics_delta(E.m, 42, after, cum, delta, 2), 0);
    cr_assert_float_eq(delta[0], 3, 0);
    cr_assert_float_eq(delta[1], 30, 0);
    cum[0] = 2, cum[1] = 20; /* went down: a reset */
    cr_assert_eq(owl_metrics_delta(E.m, 42, after, cum, delta, 2), 1);
    cr_assert_float_eq(delta[0], 2, 0);
    cum[0] = 3; /* a new start time: a reset */
    cr_assert_eq(owl_metrics_delta(E.m, 42, after + 1, cum, delta, 2), 1);
    cr_assert_eq(owl_metrics_delta(E.m, 43, after + 1, cum, delta, 2), 1, "another stream");
    /* a stream that started before the open (or did not say when): its first point is only a
     * baseline, as after a restart of owld; the next counts from it */
    cum[0] = 1000, cum[1] = 9000;
    cr_assert_eq(owl_metrics_delta(E.m, 44, 100, cum, delta, 2), OWL_METRICS_BASELINE);
    cr_assert(delta[0] == 0 && delta[1] == 0);
    cum[0] = 1004, cum[1] = 9040;
    cr_assert_eq(owl_metrics_delta(E.m, 44, 100, cum, delta, 2), 0);
    cr_assert(delta[0] == 4 && delta[1] == 40);
    cr_assert_eq(owl_metrics_delta(E.m, 45, 0, cum, delta, 2), OWL_METRICS_BASELINE);
}

static int rows_fn(void *ud, const owl_batch *b)
{
    const owl_cell *series = b->cols[0], *t = b->cols[1];
    uint64_t *last = ud; /* last[0] series, last[1] time, last[2] rows, last[3] out of order */
    for (size_t r = 0; r < b->nrows; r++) {
        if (last[2] && (series[r].u < last[0] ||
                        (series[r].u == last[0] && (uint64_t)t[r].i < last[1])))
            last[3]++;
        last[0] = series[r].u, last[1] = (uint64_t)t[r].i;
        last[2]++;
    }
    return 0;
}

/* The metrics table is clustered (OWL_COL_CLUSTER on series): sealed and compacted parts hold
 * each series' points together in time order, reads stay exact, ordered scans are refused. */
Test(metrics, clustered_parts, .init = setup, .fini = teardown)
{
    enum { SERIES = 20, POINTS = 300 };
    static double v[SERIES * POINTS];
    static owl_datum d[SERIES * POINTS];
    static char names[SERIES][16];
    for (int s = 0; s < SERIES; s++)
        snprintf(names[s], sizeof names[s], "C%02d", s);
    for (int round = 0; round < 4; round++) { /* four seals, then a compaction */
        for (int p = 0; p < POINTS / 4; p++)
            for (int s = 0; s < SERIES; s++) { /* interleaved, as scrapes arrive */
                int i = p * SERIES + s, tp = round * (POINTS / 4) + p;
                v[i] = s * 1000 + tp;
                d[i] = value(names[s], T0 + tp * 1000LL, 0, &v[i]);
            }
        for (int i = 0; i < SERIES * POINTS / 4; i += 500)
            put(d + i, 500, T0 + HOUR);
        owl_error ferr = {0};
        cr_assert_eq(owl_store_flush(E.store, &ferr), OWL_OK, "%s", ferr.msg);
    }
    cr_assert_eq(owl_store_compact(E.store, NULL), OWL_OK);
    /* one part's rows: series ascending, time ascending within each */
    size_t cols[] = {OWL_METRICS_SERIES, OWL_METRICS_TIME};
    const char *parts[] = {"m1"};
    uint64_t last[4] = {0};
    owl_scan q = {.table = "metrics", .tenant = "t1", .partitions = parts, .npartitions = 1,
                  .start = T0 - HOUR, .end = T0 + HOUR, .cols = cols, .ncols = 2,
                  .fn = rows_fn, .ud = last};
    cr_assert_eq(owl_store_scan(E.store, &q, NULL, NULL), OWL_OK);
    cr_assert_eq(last[2], SERIES * POINTS);
    cr_assert_eq(last[3], 0, "%llu rows out of (series, time) order", (unsigned long long)last[3]);
    char sdir[256];
    snprintf(sdir, sizeof sdir, "%s/store", E.dir);
    owl_error verr = {0};
    cr_assert_eq(owl_store_verify(sdir, NULL, NULL, &verr), OWL_OK, "verify: %s", verr.msg);
    for (int s = 0; s < SERIES; s++) {
        owl_bucket_set bs = read_period(names[s], T0, T0 + HOUR, 3600, T0 + HOUR);
        cr_assert_eq(bs.n, 1);
        cr_assert_float_eq(bs.b[0].count, POINTS, 0);
        cr_assert_float_eq(bs.b[0].min, s * 1000, 0);
        cr_assert_float_eq(bs.b[0].max, s * 1000 + POINTS - 1, 0);
        owl_bucket_set_free(&bs);
    }
    q.order = OWL_ORDER_ASC;
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(E.store, &q, NULL, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "clustered"), "%s", err.msg);
}

/* owl_metrics_read_many answers each query as owl_metrics_read does, in one scan a level:
 * 40 series (two units in some), one queried twice with a unit and once without, an unknown
 * series, sealed rows and memtable rows; queries that do not share times are refused. */
Test(metrics, read_many_answers_as_reads_do, .init = setup, .fini = teardown)
{
    char names[40][16];
    owl_datum d[40 * 3];
    double v[40 * 3];
    size_t nd = 0;
    for (int s = 0; s < 40; s++) {
        snprintf(names[s], sizeof names[s], "m%d", s);
        for (int k = 0; k < 3; k++, nd++) {
            v[nd] = s * 10 + k;
            d[nd] = value(names[s], T0 + 1000 + k * 61000, 0, &v[nd]);
            d[nd].values = &v[nd];
            if (s % 5 == 0 && k == 2)
                d[nd].unit = "Bytes"; /* a second unit in the same series */
        }
    }
    put(d, nd / 2, T0 + 240000);
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(E.store, &err), OWL_OK, "%s", err.msg);
    put(d + nd / 2, nd - nd / 2, T0 + 240000);
    owl_metric_query q[44];
    for (int s = 0; s < 40; s++)
        q[s] = (owl_metric_query){.tenant = "t1", .id = {"App", names[s], host_a_swapped, 2},
                                  .start_ms = T0, .end_ms = T0 + 240000, .period_s = 60,
                                  .now_ms = T0 + 240000};
    q[40] = q[5], q[40].unit = "Bytes";
    q[41] = q[5], q[41].unit = "Milliseconds";
    q[42] = q[0], q[42].id.name = "nothing";
    q[43] = q[17];
    owl_bucket_set many[44];
    cr_assert_eq(owl_metrics_read_many(E.m, q, 44, many, &err), OWL_OK, "%s", err.msg);
    for (int i = 0; i < 44; i++) {
        owl_bucket_set one;
        cr_assert_eq(owl_metrics_read(E.m, &q[i], &one, &err), OWL_OK, "%s", err.msg);
        cr_assert_eq(many[i].n, one.n, "query %d: %zu buckets, %zu alone", i, many[i].n, one.n);
        for (size_t b = 0; b < one.n; b++) {
            cr_assert_eq(many[i].b[b].time_ms, one.b[b].time_ms);
            cr_assert_float_eq(many[i].b[b].count, one.b[b].count, 0);
            cr_assert_float_eq(many[i].b[b].sum, one.b[b].sum, 0);
            cr_assert_str_eq(many[i].b[b].unit, one.b[b].unit);
        }
        owl_bucket_set_free(&one);
    }
    cr_assert_eq(many[42].n, 0, "an unknown series has no data");
    cr_assert_eq(many[40].n, 1, "m5's Bytes datum alone");
    cr_assert_eq(many[41].n, 2);
    cr_assert_float_eq(many[17].b[2].sum, 172, 0);
    for (int i = 0; i < 44; i++)
        owl_bucket_set_free(&many[i]);
    q[3].end_ms += 60000;
    cr_assert_eq(owl_metrics_read_many(E.m, q, 44, many, &err), OWL_EINVAL);
    for (int i = 0; i < 44; i++)
        cr_assert_eq(many[i].n, 0);
}

/* ---- partial rows combined when the store merges parts ---- */

/* A level's rows, told apart: datapoint rows, markers (series 0) and the largest marker. */
typedef struct level_rows {
    uint64_t rows, markers;
    int64_t last_marker;
} level_rows;

static int level_scan_fn(void *ud, const owl_batch *b)
{
    level_rows *lr = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        if (b->cols[0][r].u) {
            lr->rows++;
            continue;
        }
        lr->markers++;
        if (b->cols[1][r].i > lr->last_marker)
            lr->last_marker = b->cols[1][r].i;
    }
    return 0;
}

static level_rows scan_level(const char *part)
{
    size_t cols[] = {OWL_METRICS_SERIES, OWL_METRICS_TIME};
    const char *parts[] = {part};
    level_rows lr = {.last_marker = INT64_MIN};
    owl_scan q = {.table = "metrics", .tenant = "t1", .partitions = parts, .npartitions = 1,
                  .start = T0 - 10 * DAY, .end = T0 + 10 * DAY, .cols = cols, .ncols = 2,
                  .fn = level_scan_fn, .ud = &lr};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(E.store, &q, NULL, &err), OWL_OK, "%s", err.msg);
    return lr;
}

/* What the reads of the combining test answer: per query, its buckets' figures and two
 * quantiles of each bucket's distribution (NAN without one). */
enum { CQ = 3 * 4, CB = 64 };
typedef struct answer {
    size_t n[CQ];
    double fig[CQ][CB][6];
} answer;

static const char *const comb_unit[3] = {"Milliseconds", "Count", "Milliseconds"};
static const char *const comb_name[3] = {"Comb", "Comb", "Comb2"};

static void read_all(int64_t base, answer *a)
{
    /* periods and "now"s that answer from m60 (age a day), m300 (3 days), m3600 (6 days) */
    static const struct { int period; int64_t age; } rd[4] = {
        {60, DAY}, {300, 3 * DAY}, {3600, 6 * DAY}, {86400, 6 * DAY}};
    memset(a, 0, sizeof *a);
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 4; k++) {
            int q = s * 4 + k;
            owl_bucket_set bs;
            owl_error err = {0};
            owl_metric_query mq = {.tenant = "t1", .id = {"App", comb_name[s], host_a, 2},
                                   .unit = comb_unit[s], .start_ms = base - DAY,
                                   .end_ms = base + DAY, .period_s = rd[k].period,
                                   .now_ms = base + rd[k].age};
            cr_assert_eq(owl_metrics_read(E.m, &mq, &bs, &err), OWL_OK, "%s", err.msg);
            cr_assert(bs.n > 0 && bs.n <= CB, "query %d: %zu buckets", q, bs.n);
            a->n[q] = bs.n;
            for (size_t i = 0; i < bs.n; i++) {
                double *f = a->fig[q][i];
                f[0] = bs.b[i].count, f[1] = bs.b[i].sum, f[2] = bs.b[i].min;
                f[3] = bs.b[i].max, f[4] = f[5] = NAN;
                if (bs.b[i].sketch) {
                    cr_assert_eq(owl_sketch_quantile(bs.b[i].sketch, 0.5, &f[4]), OWL_OK);
                    cr_assert_eq(owl_sketch_quantile(bs.b[i].sketch, 0.99, &f[5]), OWL_OK);
                }
            }
            owl_bucket_set_free(&bs);
        }
}

/* Late datums put in five rounds, each sealed into parts of its own, leave five partial rows
 * per (series, unit, window) in each roll-up level; a compaction combines each run into one
 * row (units apart, markers kept, the raw level untouched) and every read answers as before:
 * counts, minima, maxima and quantiles the same, sums within 1e-12 relative. */
Test(metrics, compaction_combines_partial_rows, .init = setup, .fini = teardown)
{
    enum { ROUNDS = 5 };
    const int64_t base = T0, now = T0 + DAY;
    owl_error err = {0};
    double first = 1;
    owl_datum fd = value("Other", base - HOUR, 0, &first);
    put(&fd, 1, now);
    cr_assert_eq(owl_metrics_rollup(E.m, now, &err), OWL_OK, "%s", err.msg); /* all rolled */
    static double v[ROUNDS][3][60];
    static owl_datum d[3 * 60 + 2];
    double vals[] = {3, 7, 11}, counts[] = {1, 2, 1};
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 0;
        for (int s = 0; s < 3; s++)
            for (int m = 0; m < 60; m++) {
                v[round][s][m] = 0.1 * (1 + (round * 7 + s * 13 + m * 31) % 97);
                d[n] = value(comb_name[s], base + m * 60000LL + round * 1000, 0, &v[round][s][m]);
                d[n++].unit = comb_unit[s];
            }
        d[n] = value("Comb", base + 90000 + round * 1000, 0, NULL); /* Values + Counts */
        d[n].values = vals, d[n].counts = counts, d[n++].nvalues = 3;
        d[n] = value("Comb2", base + 150000 + round * 1000, 0, NULL); /* a statistic set */
        d[n].nvalues = 0, d[n].has_stats = 1;
        d[n].count = 4, d[n].sum = 10.5, d[n].min = 0.5, d[n].max = 6, d[n++].unit = comb_unit[2];
        enum owl_metric_fault f;
        cr_assert_eq(owl_metrics_put(E.m, "t1", d, n, 0, now, &f, &err), OWL_OK, "%s", err.msg);
        /* a marker a round in each level, sealed with the round's rows */
        cr_assert_eq(owl_metrics_rollup(E.m, now + (round + 1) * 2 * HOUR, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert_eq(owl_store_flush(E.store, &err), OWL_OK, "%s", err.msg);
    }
    static const char *const lvl[4] = {"m1", "m60", "m300", "m3600"};
    /* per level: the 3 (series, unit)s' windows in the hour, and Other's one */
    static const uint64_t windows[4] = {0, 3 * 60 + 1, 3 * 12 + 1, 3 + 1};
    level_rows before[4], after[4];
    for (int l = 0; l < 4; l++)
        before[l] = scan_level(lvl[l]);
    for (int l = 1; l < 4; l++)
        cr_assert_eq(before[l].rows, (windows[l] - 1) * ROUNDS + 1, "%s: %llu rows", lvl[l],
                     (unsigned long long)before[l].rows);
    static answer want, got;
    read_all(base, &want);
    cr_assert_eq(owl_store_compact(E.store, &err), OWL_OK, "%s", err.msg);
    for (int l = 0; l < 4; l++) {
        after[l] = scan_level(lvl[l]);
        cr_assert_eq(after[l].rows, l ? windows[l] : before[l].rows, "%s: %llu rows", lvl[l],
                     (unsigned long long)after[l].rows);
        cr_assert_eq(after[l].markers, before[l].markers, "%s markers", lvl[l]);
        cr_assert_eq(after[l].last_marker, before[l].last_marker, "%s watermark", lvl[l]);
    }
    read_all(base, &got);
    int exact = 1;
    for (int q = 0; q < CQ; q++) {
        cr_assert_eq(got.n[q], want.n[q], "query %d", q);
        for (size_t i = 0; i < want.n[q]; i++) {
            const double *w = want.fig[q][i], *g = got.fig[q][i];
            cr_assert_eq(g[0], w[0], "query %d bucket %zu count", q, i);
            cr_assert(fabs(g[1] - w[1]) <= 1e-12 * fabs(w[1]), "query %d bucket %zu sum %.17g "
                      "vs %.17g", q, i, g[1], w[1]);
            exact &= g[1] == w[1];
            for (int k = 2; k < 6; k++)
                cr_assert(g[k] == w[k] || (isnan(g[k]) && isnan(w[k])),
                          "query %d bucket %zu figure %d: %.17g vs %.17g", q, i, k, g[k], w[k]);
        }
    }
    cr_log_info("combined sums bit-exact: %s", exact ? "yes" : "no");
    /* the module reopened finds the same watermarks: a datum before them is late again */
    env_close(&E);
    owl_metrics_options o = small_windows();
    env_open(&E, &o);
    read_all(base, &got);
    cr_assert_eq(memcmp(got.n, want.n, sizeof got.n), 0);
}

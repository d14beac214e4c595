/* test_stats.c — analytics/stats.c: every accepted and refused statistic name, the five
 * exactly, and the sketch-based statistics against an exact computation on the same data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "analytics/analytics.h"

Test(stats, parse_forms)
{
    static const char *ok[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", "p99",
                               "p99.9", "p99.99", "p0", "p100", "tm90", "TM(10%:90%)",
                               "TM(150:1000)", "TM(:95%)", "TM(10%:)", "wm98", "WM(10%:90%)",
                               "tc90", "TC(0.005:0.030)", "ts90", "TS(80%:)", "PR(:300)",
                               "PR(100:2000)", "PR(10:)", "IQM"};
    static const char *bad[] = {"p101", "p99.999", "TM(5%)", "PR(10%:20%)", "average", "p",
                                "tm", "TM()", "TM(:)", "TM(10%:500)", "TM(90%:10%)", "tm(5%:6%)",
                                "TM(110%:)", "p-1", "iqm", "PR", "TM(1:2", "TM(1:2))", "",
                                "Sum ", "pr(1:2)"};
    owl_stat st;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(owl_stat_parse(ok[i], &st, NULL), OWL_OK, "%s", ok[i]);
        cr_assert_str_eq(st.name, ok[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(owl_stat_parse(bad[i], &st, NULL), OWL_EINVAL, "%s", bad[i]);
    cr_assert_eq(owl_stat_parse("TM(:95%)", &st, NULL), OWL_OK);
    cr_assert(st.kind == OWL_STAT_TM && st.pct && st.lo_open && !st.hi_open && st.hi == 95);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* exact reference: sorted v[0..n), percent bounds keep ranks (floor(aN), ceil(bN)] */
static double exact(const owl_stat *st, const double *v, size_t n)
{
    double s = 0, c = 0, L = 0, H = (double)n;
    if (st->kind == OWL_STAT_PCT) {
        size_t r = (size_t)ceil(st->lo / 100 * (double)n - 1e-9);
        return v[r ? r - 1 : 0];
    }
    if (st->pct) {
        if (!st->lo_open) L = floor(st->lo / 100 * (double)n + 1e-9);
        if (!st->hi_open) H = ceil(st->hi / 100 * (double)n - 1e-9);
    }
    double ws = 0;
    for (size_t i = 0; i < n; i++) {
        int in = st->pct ? (double)i >= L && (double)i < H
                         : (st->lo_open || v[i] > st->lo) && (st->hi_open || v[i] <= st->hi);
        if (in) s += v[i], c++;
        double x = v[i];
        if (st->pct) x = (double)i < L ? v[(size_t)L] : (double)i >= H ? v[(size_t)H - 1] : x;
        else { if (!st->lo_open && x < st->lo) x = st->lo; if (!st->hi_open && x > st->hi) x = st->hi; }
        ws += x;
    }
    switch (st->kind) {
    case OWL_STAT_TC: return c;
    case OWL_STAT_TS: return s;
    case OWL_STAT_PR: return 100 * c / (double)n;
    case OWL_STAT_WM: return ws / (double)n;
    default: return s / c;
    }
}

Test(stats, eval_against_exact)
{
    enum { N = 20000 };
    static double v[N];
    uint64_t r = 88172645463325252ull;
    owl_bucket b = {0};
    b.sketch = owl_sketch_new();
    b.min = INFINITY, b.max = -INFINITY;
    for (size_t i = 0; i < N; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        v[i] = exp(3 * ((double)(r >> 11) / 9007199254740992.0)) * 10; /* 10 .. 200, skewed */
        cr_assert_eq(owl_sketch_add(b.sketch, v[i], 1), OWL_OK);
        b.count++, b.sum += v[i];
        b.min = fmin(b.min, v[i]), b.max = fmax(b.max, v[i]);
    }
    qsort(v, N, sizeof *v, cmp);
    static const char *names[] = {"p50", "p99", "p99.9", "p0", "p100", "tm90", "TM(10%:90%)",
                                  "TM(20:100)", "IQM", "wm98", "WM(10%:90%)", "WM(20:100)",
                                  "tc90", "TC(10%:30%)", "ts90", "TS(80%:)"};
    owl_stat st;
    double got;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cr_assert_eq(owl_stat_parse(names[i], &st, NULL), OWL_OK);
        cr_assert_eq(owl_stat_eval(&st, &b, &got), OWL_OK, "%s", names[i]);
        double e = exact(&st, v, N);
        cr_assert(fabs(got - e) <= OWL_SKETCH_ALPHA * fabs(e) * 1.000001 + 1e-9,
                  "%s exact %.10g got %.10g", names[i], e, got);
    }
    /* PR counts values within alpha of a bound possibly on the wrong side */
    cr_assert_eq(owl_stat_parse("PR(20:100)", &st, NULL), OWL_OK);
    cr_assert_eq(owl_stat_eval(&st, &b, &got), OWL_OK);
    owl_stat in = st, out = st;
    in.lo *= 1 + OWL_SKETCH_ALPHA, in.hi *= 1 - OWL_SKETCH_ALPHA;
    out.lo *= 1 - OWL_SKETCH_ALPHA, out.hi *= 1 + OWL_SKETCH_ALPHA;
    cr_assert(got >= exact(&in, v, N) - 1e-9 && got <= exact(&out, v, N) + 1e-9, "%g", got);
    /* the five exactly */
    static const char *five[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};
    double want[] = {b.count, b.sum / b.count, b.sum, v[0], v[N - 1]};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(owl_stat_parse(five[i], &st, NULL), OWL_OK);
        cr_assert_eq(owl_stat_eval(&st, &b, &got), OWL_OK);
        cr_assert_eq(got, want[i], "%s", five[i]);
    }
    owl_sketch_free(b.sketch);
    b.sketch = NULL;
    cr_assert_eq(owl_stat_parse("p99", &st, NULL), OWL_OK);
    cr_assert_eq(owl_stat_eval(&st, &b, &got), OWL_ENOTFOUND);
}

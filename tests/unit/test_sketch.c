/* test_sketch.c — analytics/sketch.c and stats.c: the sketch's relative error <= 1% on
 * skewed data, merge equal to the union, the encoding round-trip and corrupt input, merging
 * encoded bytes equal to decoding and merging them, every
 * statistic against an exact computation, and every form of statistic name. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The exact nearest-rank q-quantile of sorted v. */
static double exact_q(const double *v, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n);
    if (r < 1)
        r = 1;
    return v[r - 1];
}

static unsigned long long rng = 88172645463325252ULL;
static double uni(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static void check_errors(double *v, size_t n, const char *what)
{
    owl_sketch *s = owl_sketch_new();
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(owl_sketch_add(s, v[i], 1), OWL_OK);
    qsort(v, n, sizeof *v, cmp_d);
    static const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        double got, want = exact_q(v, n, qs[k]);
        cr_assert_eq(owl_sketch_quantile(s, qs[k], &got), OWL_OK);
        cr_assert(fabs(got - want) <= OWL_SKETCH_ALPHA * fabs(want) + 1e-300,
                  "%s q=%g: got %.10g want %.10g", what, qs[k], got, want);
    }
    cr_assert_float_eq(owl_sketch_count(s), (double)n, 0);
    owl_sketch_free(s);
}

Test(sketch, relative_error_on_skewed_data)
{
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) /* lognormal */
        v[i] = exp(2 * sqrt(-2 * log(uni())) * cos(6.283185307179586 * uni()));
    check_errors(v, N, "lognormal");
    for (int i = 0; i < N; i++) /* pareto, alpha 1.2 */
        v[i] = pow(uni(), -1 / 1.2);
    check_errors(v, N, "pareto");
    for (int i = 0; i < N; i++) /* 1e-9 .. 1e9 */
        v[i] = pow(10, -9 + 18 * uni());
    check_errors(v, N, "wide range");
    for (int i = 0; i < N; i++) /* negative and positive, with zeros */
        v[i] = i % 7 == 0 ? 0 : (uni() - 0.5) * 1000;
    check_errors(v, N, "signed");
    for (int i = 0; i < N; i++) /* heavy duplicates */
        v[i] = i % 3 ? 42 : 7;
    check_errors(v, N, "duplicates");
    free(v);
}

Test(sketch, weights_merge_encoding)
{
    owl_sketch *a = owl_sketch_new(), *b = owl_sketch_new(), *u = owl_sketch_new();
    for (int i = 1; i <= 1000; i++) {
        owl_sketch_add(i % 2 ? a : b, i, 1);
        owl_sketch_add(u, i, 1);
    }
    cr_assert_eq(owl_sketch_merge(a, b), OWL_OK);
    owl_buf ea = OWL_BUF_INIT, eu = OWL_BUF_INIT;
    owl_sketch_encode(a, &ea);
    owl_sketch_encode(u, &eu);
    cr_assert_eq(ea.len, eu.len);
    cr_assert(memcmp(ea.data, eu.data, ea.len) == 0, "merge equals the union");
    owl_sketch *d;
    cr_assert_eq(owl_sketch_decode(ea.data, ea.len, &d), OWL_OK);
    double q1, q2;
    owl_sketch_quantile(d, 0.9, &q1);
    owl_sketch_quantile(u, 0.9, &q2);
    cr_assert_float_eq(q1, q2, 0);
    /* corrupt: every truncation and a bad version */
    for (size_t n = 0; n < ea.len; n++) {
        owl_sketch *x;
        cr_assert_neq(owl_sketch_decode(ea.data, n, &x), OWL_OK, "truncated at %zu", n);
        cr_assert_null(x);
    }
    ((unsigned char *)ea.data)[0] = 9;
    owl_sketch *x;
    cr_assert_eq(owl_sketch_decode(ea.data, ea.len, &x), OWL_ECORRUPT);
    /* weights: Values 1,2,3 with Counts 2,1,1 */
    owl_sketch *w = owl_sketch_new();
    owl_sketch_add(w, 1, 2), owl_sketch_add(w, 2, 1), owl_sketch_add(w, 3, 1.5);
    cr_assert_float_eq(owl_sketch_count(w), 4.5, 0);
    owl_buf ew = OWL_BUF_INIT;
    owl_sketch_encode(w, &ew);
    owl_sketch *wd;
    cr_assert_eq(owl_sketch_decode(ew.data, ew.len, &wd), OWL_OK);
    cr_assert_float_eq(owl_sketch_count(wd), 4.5, 0);
    cr_assert_eq(owl_sketch_add(w, NAN, 1), OWL_EINVAL);
    cr_assert_eq(owl_sketch_add(w, 1, 0), OWL_EINVAL);
    owl_sketch_free(a), owl_sketch_free(b), owl_sketch_free(u), owl_sketch_free(d);
    owl_sketch_free(w), owl_sketch_free(wd);
    owl_buf_free(&ea), owl_buf_free(&eu), owl_buf_free(&ew);
}

/* A value far below a store's lowest bucket (a span past the 4,096 buckets kept) folds into
 * the lowest kept bucket, adding or merging; it used to be written below the array (Values
 * 1e30 then 1e-10 in one datum, or rows of both in one period). */
Test(sketch, a_value_far_below_folds)
{
    owl_sketch *s = owl_sketch_new(), *lo = owl_sketch_new(), *m = owl_sketch_new();
    cr_assert_eq(owl_sketch_add(s, 1e30, 1), OWL_OK);
    cr_assert_eq(owl_sketch_add(s, -1e30, 1), OWL_OK);
    cr_assert_eq(owl_sketch_add(s, 1e-10, 2), OWL_OK);
    cr_assert_eq(owl_sketch_add(s, -1e-10, 2), OWL_OK);
    cr_assert_float_eq(owl_sketch_count(s), 6, 0);
    double q;
    cr_assert_eq(owl_sketch_quantile(s, 1, &q), OWL_OK);
    cr_assert(fabs(q - 1e30) <= OWL_SKETCH_ALPHA * 1e30, "max %g", q);
    cr_assert_eq(owl_sketch_quantile(s, 0.5, &q), OWL_OK);
    cr_assert(q < 0 && q > -1e30 * 1e-33, "the folded negatives: %g", q);
    cr_assert_eq(owl_sketch_quantile(s, 0.75, &q), OWL_OK);
    cr_assert(q > 0 && q < 1e30 * 1e-33, "the folded positives: %g", q);
    /* the same by merging a sketch of the small values into one of the large ones */
    cr_assert_eq(owl_sketch_add(lo, 1e-10, 2), OWL_OK);
    cr_assert_eq(owl_sketch_add(lo, -1e-10, 2), OWL_OK);
    cr_assert_eq(owl_sketch_add(m, 1e30, 1), OWL_OK);
    cr_assert_eq(owl_sketch_add(m, -1e30, 1), OWL_OK);
    cr_assert_eq(owl_sketch_merge(m, lo), OWL_OK);
    owl_buf es = OWL_BUF_INIT, em = OWL_BUF_INIT;
    cr_assert_eq(owl_sketch_encode(s, &es), OWL_OK);
    cr_assert_eq(owl_sketch_encode(m, &em), OWL_OK);
    cr_assert(es.len == em.len && memcmp(es.data, em.data, es.len) == 0);
    owl_sketch *d = NULL;
    cr_assert_eq(owl_sketch_decode(es.data, es.len, &d), OWL_OK);
    cr_assert_float_eq(owl_sketch_count(d), 6, 0);
    owl_sketch_free(s), owl_sketch_free(lo), owl_sketch_free(m), owl_sketch_free(d);
    owl_buf_free(&es), owl_buf_free(&em);
}

/* The encoding of s, for comparing sketches byte for byte. */
static owl_buf encoded(const owl_sketch *s)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_sketch_encode(s, &b), OWL_OK);
    return b;
}

static void same_sketch(const owl_sketch *a, const owl_sketch *b, int round)
{
    owl_buf ea = encoded(a), eb = encoded(b);
    double ca = owl_sketch_count(a), cb = owl_sketch_count(b);
    cr_assert(ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0, "round %d", round);
    cr_assert(memcmp(&ca, &cb, sizeof ca) == 0, "round %d: count %a, %a", round, ca, cb);
    owl_buf_free(&ea), owl_buf_free(&eb);
}

/* owl_sketch_merge_encoded leaves the sketch owl_sketch_decode + owl_sketch_merge would, to
 * the bit (fractional weights summed in the same order too), and corrupt bytes leave it as it
 * was; a stored store spanning more than the 4,096 buckets kept (only foreign bytes can) folds
 * as the decoded sketch would. */
Test(sketch, merge_encoded_equals_decode_and_merge)
{
    for (int round = 0; round < 400; round++) {
        owl_sketch *src = owl_sketch_new(), *a = owl_sketch_new(), *b = owl_sketch_new(), *d;
        for (int i = 0; i < round % 37; i++) {
            double v = round % 3 ? 50 + uni() * (round % 5 ? 10 : 1e4) : (uni() - 0.3) * 1e6;
            double w = round % 4 ? (double)(1 + i % 7) : uni() * 3;
            owl_sketch_add(src, i % 11 ? v : 0, w);
        }
        owl_sketch_add(src, 1, 1); /* never empty */
        for (int i = 0; i < round % 13; i++) {
            owl_sketch_add(a, 40 + 30 * uni(), round % 2 ? 1 : 0.5 + uni());
            owl_sketch_add(b, 40 + 30 * uni(), 1);
        }
        owl_sketch_merge(b, a); /* b: a copy of a */
        owl_sketch_free(a);
        a = owl_sketch_new();
        owl_sketch_merge(a, b);
        owl_buf e = encoded(src);
        cr_assert_eq(owl_sketch_decode(e.data, e.len, &d), OWL_OK);
        cr_assert_eq(owl_sketch_merge(a, d), OWL_OK);
        cr_assert_eq(owl_sketch_merge_encoded(b, e.data, e.len), OWL_OK);
        same_sketch(a, b, round);
        /* corrupt (a flipped bit that decoding refuses, or cut short): b unchanged */
        ((unsigned char *)e.data)[round % e.len] ^= (unsigned char)(1u << (round % 8));
        size_t n = round % 3 ? e.len : (size_t)round % e.len;
        owl_sketch *x = NULL;
        if (owl_sketch_decode(e.data, n, &x) != OWL_OK) {
            cr_assert_eq(owl_sketch_merge_encoded(b, e.data, n), OWL_ECORRUPT);
            same_sketch(a, b, round);
        }
        owl_sketch_free(x), owl_sketch_free(src), owl_sketch_free(a), owl_sketch_free(b);
        owl_sketch_free(d);
        owl_buf_free(&e);
    }
    /* into an empty sketch (decoded straight in): corrupt bytes leave it empty and usable */
    owl_sketch *src = owl_sketch_new(), *fresh = owl_sketch_new(), *e = owl_sketch_new();
    for (int i = 0; i < 40; i++)
        owl_sketch_add(src, i % 5 ? 10 + i * 3.5 : -(1 + i), 1 + i % 3);
    owl_buf es = encoded(src);
    for (size_t n = 0; n < es.len; n++) { /* every truncation */
        cr_assert_eq(owl_sketch_merge_encoded(e, es.data, n), OWL_ECORRUPT, "cut at %zu", n);
        same_sketch(e, fresh, (int)n);
    }
    cr_assert_eq(owl_sketch_merge_encoded(e, es.data, es.len), OWL_OK);
    same_sketch(e, src, -2);
    owl_sketch_free(src), owl_sketch_free(fresh), owl_sketch_free(e);
    owl_buf_free(&es);
    /* sparse, integer weights: index -3000 weight 1, index 3000 weight 2 */
    static const unsigned char wide[] = {1, 2, 2, 0xef, 0x2e, 1, 0xe0, 0x5d, 2, 0};
    owl_sketch *a = owl_sketch_new(), *b = owl_sketch_new(), *d;
    owl_sketch_add(a, 3, 1), owl_sketch_add(b, 3, 1);
    cr_assert_eq(owl_sketch_decode(wide, sizeof wide, &d), OWL_OK);
    cr_assert_eq(owl_sketch_merge(a, d), OWL_OK);
    cr_assert_eq(owl_sketch_merge_encoded(b, wide, sizeof wide), OWL_OK);
    same_sketch(a, b, -1);
    cr_assert_float_eq(owl_sketch_count(b), 4, 0);
    owl_sketch_free(a), owl_sketch_free(b), owl_sketch_free(d);
}

/* A pool's sketches and a cleared sketch behave as new ones: the same buckets for the same
 * values, past the buckets kept inside the sketch too, over several blocks of the pool. */
Test(sketch, pooled_and_cleared_sketches_are_new_ones)
{
    owl_sketch_pool pool = {0};
    owl_sketch *reused = owl_sketch_new();
    for (int k = 0; k < 600; k++) {
        owl_sketch *p = owl_sketch_pool_new(&pool), *n = owl_sketch_new();
        cr_assert_not_null(p);
        owl_sketch_clear(reused);
        for (int i = 0; i <= k % 50; i++) { /* from one bucket to a span of hundreds */
            double v = (k % 3 ? 1 : -1) * (1 + i * (k % 7 + 1) * 0.9);
            cr_assert_eq(owl_sketch_add(p, v, 1 + i % 4), OWL_OK);
            cr_assert_eq(owl_sketch_add(n, v, 1 + i % 4), OWL_OK);
            cr_assert_eq(owl_sketch_add(reused, v, 1 + i % 4), OWL_OK);
        }
        same_sketch(p, n, k);
        same_sketch(reused, n, k);
        owl_sketch_free(n);
    }
    owl_sketch_pool_free(&pool);
    cr_assert_null(pool.blocks);
    owl_sketch_free(reused);
}

static owl_stat parse(const char *s)
{
    owl_stat st;
    owl_error err = {0};
    cr_assert_eq(owl_stat_parse(s, &st, &err), OWL_OK, "%s: %s", s, err.msg);
    return st;
}

struct bucket_list {
    double v[4096], w[4096];
    size_t n;
};

static void collect_bucket(void *ud, double v, double w)
{
    struct bucket_list *l = ud;
    if (l->n < 4096)
        l->v[l->n] = v, l->w[l->n] = w, l->n++;
}

/* Clustered values (a roll-up window of a gauge) encode dense, spread ones sparse, negative
 * values in their own store: each decodes to the very buckets it had, and a dense span whose
 * end is empty, or a dense store of non-integer weights, is refused. */
Test(sketch, dense_and_sparse_stores)
{
    owl_sketch *s = owl_sketch_new();
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(owl_sketch_add(s, 100 + (i * 37 % 40), 1 + i % 3), OWL_OK);
        cr_assert_eq(owl_sketch_add(s, -(50 + (i * 13 % 7) * 0.5), 1), OWL_OK);
    }
    cr_assert_eq(owl_sketch_add(s, 1e9, 1), OWL_OK); /* a far outlier: the positive store */
    cr_assert_eq(owl_sketch_add(s, 0, 4), OWL_OK);
    owl_buf e = OWL_BUF_INIT;
    cr_assert_eq(owl_sketch_encode(s, &e), OWL_OK);
    cr_assert_eq(e.data[1] & 3, 3); /* zero weight, integer weights */
    cr_assert_eq(e.data[1] & 8, 8, "the negative store, 7 neighbouring buckets, is dense");
    cr_assert_eq(e.data[1] & 4, 0, "the positive store, with a gap of ~900 buckets, is sparse");
    owl_sketch *d = NULL;
    cr_assert_eq(owl_sketch_decode(e.data, e.len, &d), OWL_OK);
    static struct bucket_list a, b;
    a.n = b.n = 0;
    owl_sketch_visit(s, collect_bucket, &a);
    owl_sketch_visit(d, collect_bucket, &b);
    cr_assert_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        cr_assert(a.v[i] == b.v[i] && a.w[i] == b.w[i], "bucket %zu", i);
    for (size_t n = 0; n < e.len; n++) { /* every truncation refused */
        owl_sketch *x = NULL;
        cr_assert_neq(owl_sketch_decode(e.data, n, &x), OWL_OK, "truncated at %zu", n);
    }
    owl_sketch_free(d);

    /* positive values only, clustered: dense, and smaller than two bytes a bucket */
    owl_sketch *c = owl_sketch_new();
    for (int i = 0; i < 60; i++)
        owl_sketch_add(c, 50 + i * 0.7, 1);
    owl_buf ec = OWL_BUF_INIT;
    owl_sketch_encode(c, &ec);
    a.n = 0;
    owl_sketch_visit(c, collect_bucket, &a);
    cr_assert_eq(ec.data[1], 2 | 4);
    cr_assert_lt(ec.len, 2 * a.n, "%zu bytes for %zu buckets", ec.len, a.n);
    /* hand-made dense stores: [1, 0, 0] (an empty end), then weights of doubles */
    static const unsigned char empty_end[] = {1, 2 | 4, 3, 20, 1, 0, 0, 0};
    static const unsigned char good[] = {1, 2 | 4, 3, 20, 1, 0, 2, 0};
    static const unsigned char not_ints[] = {1, 4, 3, 20, 1, 0, 2, 0};
    owl_sketch *x = NULL;
    cr_assert_eq(owl_sketch_decode(empty_end, sizeof empty_end, &x), OWL_ECORRUPT);
    cr_assert_eq(owl_sketch_decode(not_ints, sizeof not_ints, &x), OWL_ECORRUPT);
    cr_assert_eq(owl_sketch_decode(good, sizeof good, &x), OWL_OK);
    cr_assert_float_eq(owl_sketch_count(x), 3, 0);
    owl_sketch_free(x), owl_sketch_free(c), owl_sketch_free(s);
    owl_buf_free(&e), owl_buf_free(&ec);
}


Test(stats, names)
{
    static const char *const ok[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum",
                                     "p99", "p99.9", "p0", "p100", "p50.25", "tm99", "tm10.5",
                                     "TM(10%:90%)", "TM(:95%)", "TM(5%:)", "TM(100:2000)",
                                     "wm90", "WM(10%:90%)", "tc90", "TC(:0.5)", "ts99",
                                     "TS(10%:)", "PR(10:20)", "PR(:300)", "IQM", "WM(1:2)"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        parse(ok[i]);
    static const char *const bad[] = {"", "average", "p101", "p99.999", "p", "p-1", "tm",
                                      "TM(5%)", "TM(:)", "TM(90%:10%)", "TM(10%:90)",
                                      "PR(10%:20%)", "XX(1:2)", "TM(10%:90%)x",
                                      "TM(1e400:2)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_stat st;
        owl_error err = {0};
        cr_assert_eq(owl_stat_parse(bad[i], &st, &err), OWL_EINVAL, "%s parsed", bad[i]);
        cr_assert_neq(err.msg[0], 0);
    }
    cr_assert_str_eq(parse("p99").name, "p99");
    cr_assert_eq(parse("tm90").kind, OWL_STAT_TM);
    cr_assert(parse("tm90").lo_open);
}

/* Exact statistics of v (n values) for comparison. */
static double exact(const char *stat, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    if (!strcmp(stat, "tm90") || !strcmp(stat, "TM(10%:90%)") || !strcmp(stat, "IQM")) {
        size_t lo = !strcmp(stat, "tm90") ? 0 : !strcmp(stat, "IQM") ? n / 4 : n / 10;
        size_t hi = !strcmp(stat, "IQM") ? 3 * n / 4 : 9 * n / 10;
        double t = 0;
        for (size_t i = lo; i < hi; i++)
            t += v[i];
        return t / (double)(hi - lo);
    }
    if (!strcmp(stat, "wm90")) {
        double cap = v[9 * n / 10 - 1], t = 0;
        for (size_t i = 0; i < n; i++)
            t += v[i] > cap ? cap : v[i];
        return t / (double)n;
    }
    if (!strcmp(stat, "tc90"))
        return (double)(9 * n / 10);
    if (!strcmp(stat, "ts90")) {
        double t = 0;
        for (size_t i = 0; i < 9 * n / 10; i++)
            t += v[i];
        return t;
    }
    if (!strcmp(stat, "PR(:500)")) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += v[i] <= 500;
        return 100.0 * (double)c / (double)n;
    }
    if (!strcmp(stat, "TM(100:500)")) {
        double t = 0;
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i] > 100 && v[i] <= 500)
                t += v[i], c++;
        return t / (double)c;
    }
    return NAN;
}

Test(stats, every_statistic_against_exact)
{
    enum { N = 10000 };
    double *v = malloc(N * sizeof *v);
    owl_bucket b = {.min = INFINITY, .max = -INFINITY, .sketch = owl_sketch_new()};
    for (int i = 0; i < N; i++) {
        v[i] = 1 + 999 * uni() * uni(); /* skewed towards small values */
        owl_sketch_add(b.sketch, v[i], 1);
        b.count += 1, b.sum += v[i];
        b.min = fmin(b.min, v[i]), b.max = fmax(b.max, v[i]);
    }
    double out;
    cr_assert_eq(owl_stat_eval(&(owl_stat){.kind = OWL_STAT_SAMPLECOUNT}, &b, &out), OWL_OK);
    cr_assert_float_eq(out, N, 0);
    owl_stat avg = parse("Average"), sum = parse("Sum"), mn = parse("Minimum"), mx = parse("Maximum");
    owl_stat_eval(&avg, &b, &out);
    cr_assert_float_eq(out, b.sum / N, 1e-12);
    owl_stat_eval(&sum, &b, &out);
    cr_assert_float_eq(out, b.sum, 1e-9);
    owl_stat_eval(&mn, &b, &out);
    cr_assert_float_eq(out, b.min, 0);
    owl_stat_eval(&mx, &b, &out);
    cr_assert_float_eq(out, b.max, 0);
    double *c = malloc(N * sizeof *c);
    memcpy(c, v, N * sizeof *v);
    qsort(c, N, sizeof *c, cmp_d);
    static const char *const pcts[] = {"p50", "p90", "p99", "p99.9"};
    static const double qv[] = {0.5, 0.9, 0.99, 0.999};
    for (int k = 0; k < 4; k++) {
        owl_stat st = parse(pcts[k]);
        cr_assert_eq(owl_stat_eval(&st, &b, &out), OWL_OK);
        double want = exact_q(c, N, qv[k]);
        cr_assert(fabs(out - want) <= 0.01 * want, "%s %g vs %g", pcts[k], out, want);
    }
    static const char *const ranged[] = {"tm90", "TM(10%:90%)", "IQM", "wm90", "tc90", "ts90",
                                         "PR(:500)", "TM(100:500)"};
    for (size_t k = 0; k < sizeof ranged / sizeof *ranged; k++) {
        owl_stat st = parse(ranged[k]);
        memcpy(c, v, N * sizeof *v);
        double want = exact(ranged[k], c, N);
        cr_assert_eq(owl_stat_eval(&st, &b, &out), OWL_OK, "%s", ranged[k]);
        /* sketch-based: within the sketch's 1% (counts within 1% of the data near a bound) */
        cr_assert(fabs(out - want) <= 0.02 * fabs(want) + 1e-9, "%s: %g vs exact %g",
                  ranged[k], out, want);
    }
    /* a bucket of statistic sets only: no percentiles */
    owl_bucket ss = {.count = 4, .sum = 100, .min = 5, .max = 50};
    owl_stat p99 = parse("p99");
    cr_assert_eq(owl_stat_eval(&p99, &ss, &out), OWL_ENOTFOUND);
    cr_assert_eq(owl_stat_eval(&avg, &ss, &out), OWL_OK);
    cr_assert_float_eq(out, 25, 0);
    owl_sketch_free(b.sketch);
    free(v);
    free(c);
}

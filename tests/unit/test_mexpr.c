/* test_mexpr.c — analytics/mexpr.c: every operator and function of metric math against
 * hand-computed series, alignment of series with different timestamps, precedence, and
 * malformed expressions with the position each error names. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

/* m1: 1 2 3 4 at t = 0, 60, 120, 180 s; m2: 10 20 _ 40 (no point at 120 s); m3: 5 at 60 s */
static int64_t t4[] = {0, 60000, 120000, 180000}, t3[] = {0, 60000, 180000}, t1[] = {60000};
static double v1[] = {1, 2, 3, 4}, v2[] = {10, 20, 40}, v3[] = {5};
static owl_ts s1 = {"m1", "one", 4, t4, v1}, s2 = {"m2", "two", 3, t3, v2},
              s3 = {"m3", "three", 1, t1, v3};
static owl_ts_list l1 = {&s1, 1}, l2 = {&s2, 1}, l3 = {&s3, 1};

static int lookup(void *ud, const char *id, const owl_ts_list **out)
{
    (void)ud;
    if (!strcmp(id, "m1"))
        *out = &l1;
    else if (!strcmp(id, "m2"))
        *out = &l2;
    else if (!strcmp(id, "m3"))
        *out = &l3;
    else
        return OWL_ENOTFOUND;
    return OWL_OK;
}

static int copy(const owl_ts *src, owl_ts *d)
{
    d->id = strdup(src->id);
    d->label = strdup(src->label);
    d->n = src->n;
    d->t = malloc(src->n * sizeof *d->t);
    d->v = malloc(src->n * sizeof *d->v);
    memcpy(d->t, src->t, src->n * sizeof *d->t);
    memcpy(d->v, src->v, src->n * sizeof *d->v);
    return OWL_OK;
}

static int all(void *ud, const char *filter, owl_ts_list *out)
{
    (void)ud;
    const owl_ts *src[] = {&s1, &s2, &s3};
    out->s = calloc(3, sizeof *out->s);
    out->n = 0;
    for (int i = 0; i < 3; i++)
        if (!filter || strstr(src[i]->label, filter))
            copy(src[i], &out->s[out->n++]);
    return OWL_OK;
}

static const owl_mexpr_env env = {.start_ms = 0, .end_ms = 240000, .period_s = 60,
                                  .lookup = lookup, .all = all};

static owl_ts_list run(const char *text)
{
    owl_mexpr *e;
    owl_error err = {0};
    cr_assert_eq(owl_mexpr_parse(text, &e, NULL, &err), OWL_OK, "%s: %s", text, err.msg);
    owl_ts_list out;
    cr_assert_eq(owl_mexpr_eval(e, &env, &out, &err), OWL_OK, "%s: %s", text, err.msg);
    owl_mexpr_free(e);
    return out;
}

/* Expects one series with points "t:v t:v ..." (t in seconds). */
static void expect(const char *text, const char *want)
{
    owl_ts_list l = run(text);
    cr_assert_eq(l.n, 1, "%s: %zu series", text, l.n);
    char got[512] = "";
    for (size_t i = 0; i < l.s[0].n; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s%lld:%g", i ? " " : "", (long long)(l.s[0].t[i] / 1000),
                 l.s[0].v[i]);
        strcat(got, p);
    }
    cr_assert_str_eq(got, want, "%s", text);
    owl_ts_list_free(&l);
}

Test(mexpr, arithmetic_and_alignment)
{
    expect("m1 + 1", "0:2 60:3 120:4 180:5");
    expect("m1 * 2 - 1", "0:1 60:3 120:5 180:7");
    expect("m1 + m2", "0:11 60:22 180:44"); /* only timestamps both have */
    expect("m2 / m1", "0:10 60:10 180:10");
    expect("m1 / 0", "");                   /* not finite: dropped */
    expect("-m1", "0:-1 60:-2 120:-3 180:-4");
    expect("2 ^ 3 ^ 2 * m3", "60:2560");    /* ^ is right-associative: 2^9 */
    expect("(1 + 2) * m3", "60:15");
    expect("1 + 2 * m3", "60:11");
    expect("m1 ^ 2", "0:1 60:4 120:9 180:16");
}

Test(mexpr, comparisons_and_logic)
{
    expect("m1 > 2", "0:0 60:0 120:1 180:1");
    expect("m1 >= 2 AND m1 < 4", "0:0 60:1 120:1 180:0");
    expect("m1 == 1 OR m1 == 4", "0:1 60:0 120:0 180:1");
    expect("m1 != 3", "0:1 60:1 120:0 180:1");
    expect("NOT (m1 > 2)", "0:1 60:1 120:0 180:0");
    expect("m1 <= 1 || m1 > 3 && m1 > 0", "0:1 60:0 120:0 180:1");
}

Test(mexpr, elementwise_functions)
{
    expect("ABS(-m1)", "0:1 60:2 120:3 180:4");
    expect("CEIL(m1 / 3)", "0:1 60:1 120:1 180:2");
    expect("FLOOR(m1 / 3)", "0:0 60:0 120:1 180:1");
    expect("LOG10(m2)", "0:1 60:1.30103 180:1.60206");
    expect("LOG(m3) * 0 + 1", "60:1");
    expect("abs(m3)", "60:5"); /* function names in any case */
}

Test(mexpr, walks)
{
    expect("DIFF(m2)", "60:10 180:20");
    expect("DIFF_TIME(m2)", "60:60 180:120");
    expect("RATE(m2)", "60:0.166667 180:0.166667");
    expect("RUNNING_SUM(m1)", "0:1 60:3 120:6 180:10");
}

Test(mexpr, fill_and_time_series)
{
    expect("FILL(m2, 0)", "0:10 60:20 120:0 180:40");
    expect("FILL(m2, REPEAT)", "0:10 60:20 120:20 180:40");
    expect("FILL(m2, LINEAR)", "0:10 60:20 120:30 180:40");
    expect("FILL(m3, 7)", "0:7 60:5 120:7 180:7");
    expect("FILL(m2, m1)", "0:10 60:20 120:3 180:40");
    expect("TIME_SERIES(3)", "0:3 60:3 120:3 180:3");
    expect("m1 * 0 + PERIOD(m1)", "0:60 60:60 120:60 180:60");
}

Test(mexpr, if_function)
{
    expect("IF(m1 > 2, m1, 0)", "0:0 60:0 120:3 180:4");
    expect("IF(m1 > 2, 100)", "120:100 180:100");
    expect("IF(m1 > 1, m2)", "60:20 180:40");
}

Test(mexpr, reductions)
{
    expect("m1 * 0 + AVG(m1)", "0:2.5 60:2.5 120:2.5 180:2.5");
    expect("m3 * 0 + MAX(m2) + MIN(m1) + SUM(m1) + DATAPOINT_COUNT(m1)", "60:55");
    expect("m3 * 0 + STDDEV(m1)", "60:1.11803");
    expect("SUM(METRICS())", "0:11 60:27 120:3 180:44");
    expect("AVG(METRICS())", "0:5.5 60:9 120:3 180:22");
    expect("MAX(METRICS(\"t\"))", "0:10 60:20 180:40");
}

Test(mexpr, arrays)
{
    owl_ts_list l = run("METRICS()");
    cr_assert_eq(l.n, 3);
    owl_ts_list_free(&l);
    l = run("METRICS(\"three\")");
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.s[0].label, "three");
    owl_ts_list_free(&l);
    l = run("METRICS() * 2");
    cr_assert_eq(l.n, 3);
    cr_assert_float_eq(l.s[2].v[0], 10, 1e-12);
    owl_ts_list_free(&l);
    l = run("SORT(METRICS(), MAX, DESC)");
    cr_assert_eq(l.n, 3);
    cr_assert_str_eq(l.s[0].label, "two");
    cr_assert_str_eq(l.s[1].label, "three");
    cr_assert_str_eq(l.s[2].label, "one");
    owl_ts_list_free(&l);
    l = run("SORT(METRICS(), SUM, ASC, 2)");
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.s[0].label, "three");
    owl_ts_list_free(&l);
    l = run("SLICE(METRICS(), 1, 3)");
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.s[0].label, "two");
    owl_ts_list_free(&l);
    expect("FIRST(METRICS())", "0:1 60:2 120:3 180:4");
    expect("LAST(METRICS())", "60:5");
}

static void bad(const char *text, size_t want_pos)
{
    owl_mexpr *e = NULL;
    owl_error err = {0};
    size_t pos = 0;
    cr_assert_eq(owl_mexpr_parse(text, &e, &pos, &err), OWL_EINVAL, "%s parsed", text);
    cr_assert_null(e);
    cr_assert_eq(pos, want_pos, "%s: position %zu, want %zu (%s)", text, pos, want_pos, err.msg);
    char at[32];
    snprintf(at, sizeof at, "at %zu:", want_pos);
    cr_assert(strstr(err.msg, at), "%s: %s", text, err.msg);
}

Test(mexpr, malformed)
{
    bad("", 1);
    bad("m1 +", 5);
    bad("(m1 + 2", 8);
    bad("FILL(m1, 0", 11);
    bad("m1 + * 2", 6);
    bad("m1 m2", 4);
    bad("m1 + 2)", 7);
    bad("\"open", 1);
    bad("m1 # 2", 4);
    bad("FILL(m1,)", 9);
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "m1");
    owl_mexpr *e;
    cr_assert_eq(owl_mexpr_parse(deep, &e, NULL, NULL), OWL_EINVAL);
    char *longtext = malloc(3000);
    memset(longtext, '1', 2999);
    longtext[2999] = 0;
    cr_assert_eq(owl_mexpr_parse(longtext, &e, NULL, NULL), OWL_EINVAL);
    free(longtext);
}

static void bad_eval(const char *text, const char *needle)
{
    owl_mexpr *e;
    owl_error err = {0};
    cr_assert_eq(owl_mexpr_parse(text, &e, NULL, &err), OWL_OK, "%s: %s", text, err.msg);
    owl_ts_list out;
    cr_assert_eq(owl_mexpr_eval(e, &env, &out, &err), OWL_EINVAL, "%s evaluated", text);
    cr_assert(strstr(err.msg, needle), "%s: %s", text, err.msg);
    owl_mexpr_free(e);
}

Test(mexpr, evaluation_errors)
{
    bad_eval("1 + 2", "must return a time series");
    bad_eval("AVG(m1)", "must return a time series");
    bad_eval("m9 + 1", "unknown id m9");
    bad_eval("NOPE(m1)", "unknown function NOPE");
    bad_eval("FILL(m1)", "FILL takes");
    bad_eval("SORT(METRICS(), BOGUS, ASC)", "SORT takes");
    bad_eval("m1 + \"x\"", "numbers or time series");
    bad_eval("METRICS() + METRICS()", "two arrays");
}

Test(mexpr, refs)
{
    owl_mexpr *e;
    cr_assert_eq(owl_mexpr_parse("m1 + FILL(m2, 0) * m1", &e, NULL, NULL), OWL_OK);
    char seen[64] = "";
    void fn(void *ud, const char *id) { strcat(ud, id), strcat(ud, ","); }
    owl_mexpr_refs(e, fn, seen);
    cr_assert_str_eq(seen, "m1,m2,m1,");
    owl_mexpr_free(e);
}

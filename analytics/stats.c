/* stats.c — CloudWatch's statistics over one bucket: the five exact ones from count, sum,
 * min and max, and the extended ones (percentiles, trimmed / winsorized means, trimmed count
 * and sum, percentile rank, IQM) from the bucket's sketch (docs/metrics.md "Statistics").
 * Ranges are (lo, hi]: a percent bound names a rank (lo% of the weight lies at or below it),
 * an absolute bound a value; an open side is the end of the data. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

static const struct {
    const char *name;
    enum owl_stat_kind kind;
} simple[] = {
    {"SampleCount", OWL_STAT_SAMPLECOUNT}, {"Average", OWL_STAT_AVERAGE},
    {"Sum", OWL_STAT_SUM},                 {"Minimum", OWL_STAT_MINIMUM},
    {"Maximum", OWL_STAT_MAXIMUM},         {"IQM", OWL_STAT_IQM},
};

/* The ranged statistics: shorthand prefix (tm99 = TM(:99%)), ranged form name. */
static const struct {
    const char *lower, *upper;
    enum owl_stat_kind kind;
} ranged[] = {
    {"tm", "TM", OWL_STAT_TM}, {"wm", "WM", OWL_STAT_WM}, {"tc", "TC", OWL_STAT_TC},
    {"ts", "TS", OWL_STAT_TS}, {NULL, "PR", OWL_STAT_PR},
};

/* A number with at most two decimals, 0..100 when pct; *end after it. */
static int number(const char *s, const char **end, int pct, double *out)
{
    const char *p = s;
    if (*p == '-' && !pct)
        p++;
    if (!isdigit((unsigned char)*p))
        return OWL_EINVAL;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        int d = 0;
        while (isdigit((unsigned char)p[d]))
            d++;
        if (d == 0 || (pct && d > 2))
            return OWL_EINVAL;
        p += d;
    }
    char buf[64];
    if ((size_t)(p - s) >= sizeof buf)
        return OWL_EINVAL;
    memcpy(buf, s, (size_t)(p - s));
    buf[p - s] = 0;
    *out = strtod(buf, NULL);
    if (!isfinite(*out) || (pct && (*out < 0 || *out > 100)))
        return OWL_EINVAL;
    *end = p;
    return OWL_OK;
}

/* "(a%:b%)" or "(a:b)" with either side optional (not both). */
static int range(const char *s, owl_stat *st, owl_error *err)
{
    const char *p = s;
    if (*p++ != '(')
        return owl_error_set(err, OWL_EINVAL, "expected '(' after %.2s", st->name);
    int sides_pct[2] = {-1, -1};
    double v[2] = {0, 0};
    int open[2] = {1, 1};
    for (int side = 0; side < 2; side++) {
        if (*p != ':' && *p != ')') {
            const char *e;
            if (number(p, &e, 0, &v[side]) != OWL_OK)
                return owl_error_set(err, OWL_EINVAL, "a bound of %s is not a number", s);
            open[side] = 0;
            sides_pct[side] = *e == '%';
            p = e + (*e == '%');
        }
        if (side == 0 && *p++ != ':')
            return owl_error_set(err, OWL_EINVAL, "expected ':' in %s", s);
    }
    if (*p != ')' || p[1])
        return owl_error_set(err, OWL_EINVAL, "expected ')' at the end of %s", s);
    if (open[0] && open[1])
        return owl_error_set(err, OWL_EINVAL, "%s needs at least one bound", s);
    int pct = sides_pct[0] >= 0 ? sides_pct[0] : sides_pct[1];
    if (!open[0] && !open[1] && sides_pct[0] != sides_pct[1])
        return owl_error_set(err, OWL_EINVAL, "both bounds of %s must be percentages or both values", s);
    if (pct && ((!open[0] && (v[0] < 0 || v[0] > 100)) || (!open[1] && (v[1] < 0 || v[1] > 100))))
        return owl_error_set(err, OWL_EINVAL, "percentages in %s must be 0 to 100", s);
    if (!open[0] && !open[1] && v[0] >= v[1])
        return owl_error_set(err, OWL_EINVAL, "the lower bound of %s must be below the upper", s);
    if (st->kind == OWL_STAT_PR && pct)
        return owl_error_set(err, OWL_EINVAL, "PR takes values, not percentages: %s", s);
    st->pct = pct;
    st->lo = v[0], st->hi = v[1];
    st->lo_open = open[0], st->hi_open = open[1];
    return OWL_OK;
}

int owl_stat_parse(const char *s, owl_stat *out, owl_error *err)
{
    owl_stat st = {0};
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= sizeof st.name)
        return owl_error_set(err, OWL_EINVAL, "a statistic must be 1 to %zu characters",
                             sizeof st.name - 1);
    memcpy(st.name, s, n + 1);
    for (size_t i = 0; i < OWL_ARRAY_LEN(simple); i++)
        if (strcmp(s, simple[i].name) == 0) {
            st.kind = simple[i].kind;
            if (st.kind == OWL_STAT_IQM) {
                st.pct = 1, st.lo = 25, st.hi = 75;
            }
            *out = st;
            return OWL_OK;
        }
    const char *e;
    if (s[0] == 'p') {
        st.kind = OWL_STAT_PCT;
        st.pct = 1;
        if (number(s + 1, &e, 1, &st.hi) != OWL_OK || *e)
            return owl_error_set(err, OWL_EINVAL,
                                 "%s is not a percentile: p followed by 0 to 100 with at most "
                                 "two decimals", s);
        st.lo = st.hi; /* the percentile, in both */
        *out = st;
        return OWL_OK;
    }
    for (size_t i = 0; i < OWL_ARRAY_LEN(ranged); i++) {
        size_t ul = strlen(ranged[i].upper);
        st.kind = ranged[i].kind;
        if (ranged[i].lower && strncmp(s, ranged[i].lower, 2) == 0 && s[2] != '(') {
            st.pct = 1, st.lo_open = 1;
            if (number(s + 2, &e, 1, &st.hi) != OWL_OK || *e)
                return owl_error_set(err, OWL_EINVAL, "%s: expected %s followed by a percentage",
                                     s, ranged[i].lower);
            *out = st;
            return OWL_OK;
        }
        if (strncmp(s, ranged[i].upper, ul) == 0 && s[ul] == '(') { /* case as CloudWatch's */
            int rc = range(s + ul, &st, err);
            if (rc == OWL_OK)
                *out = st;
            return rc;
        }
    }
    return owl_error_set(err, OWL_EINVAL, "unknown statistic %s", s);
}

/* ---- evaluation over the sketch ---- */

typedef struct walk {
    const owl_stat *st;
    double count;         /* the bucket's exact sample count */
    double min, max;      /* exact, to clamp representatives */
    double lo_rank, hi_rank; /* percent ranges as weights: (lo_rank, hi_rank] */
    double lo_val, hi_val;   /* WM clamps */
    double cum;
    double w_in, sum_in, sum_all;
} walk;

static double clamp(const walk *k, double v)
{
    return v < k->min ? k->min : v > k->max ? k->max : v;
}

static void range_fn(void *ud, double v, double w)
{
    walk *k = ud;
    v = clamp(k, v);
    const owl_stat *st = k->st;
    if (st->pct) {
        double a = k->cum, b = k->cum + w; /* this bucket's ranks: (a, b] */
        k->cum = b;
        double lo = a > k->lo_rank ? a : k->lo_rank, hi = b < k->hi_rank ? b : k->hi_rank;
        double in = hi > lo ? hi - lo : 0;
        k->w_in += in;
        k->sum_in += in * v;
        if (st->kind == OWL_STAT_WM) {
            double below = k->lo_rank > a ? (k->lo_rank < b ? k->lo_rank : b) - a : 0;
            double above = b > k->hi_rank ? b - (k->hi_rank > a ? k->hi_rank : a) : 0;
            k->sum_all += in * v + below * k->lo_val + above * k->hi_val;
        }
    } else {
        int in = (st->lo_open || v > st->lo) && (st->hi_open || v <= st->hi);
        if (in) {
            k->w_in += w;
            k->sum_in += w * v;
        }
        /* WM(a:b) with values: those outside clamped to the bounds */
        double x = !st->lo_open && v < st->lo ? st->lo : !st->hi_open && v > st->hi ? st->hi : v;
        k->sum_all += w * x;
    }
}

int owl_stat_eval(const owl_stat *st, const owl_bucket *b, double *out)
{
    switch (st->kind) {
    case OWL_STAT_SAMPLECOUNT:
        *out = b->count;
        return OWL_OK;
    case OWL_STAT_SUM:
        *out = b->sum;
        return OWL_OK;
    case OWL_STAT_AVERAGE:
        if (b->count <= 0)
            return OWL_ENOTFOUND;
        *out = b->sum / b->count;
        return OWL_OK;
    case OWL_STAT_MINIMUM:
        *out = b->min;
        return OWL_OK;
    case OWL_STAT_MAXIMUM:
        *out = b->max;
        return OWL_OK;
    default:
        break;
    }
    const owl_sketch *sk = b->sketch;
    double total = owl_sketch_count(sk);
    if (!sk || total <= 0)
        return OWL_ENOTFOUND;
    if (st->kind == OWL_STAT_PCT) {
        /* the exact ends where the sketch would only approximate them */
        if (st->hi >= 100) {
            *out = b->max;
            return OWL_OK;
        }
        if (st->hi <= 0) {
            *out = b->min;
            return OWL_OK;
        }
        double v;
        owl_sketch_quantile(sk, st->hi / 100, &v);
        *out = v < b->min ? b->min : v > b->max ? b->max : v;
        return OWL_OK;
    }
    walk k = {.st = st, .count = total, .min = b->min, .max = b->max};
    if (st->pct) {
        double lo = st->lo_open ? 0 : st->lo, hi = st->hi_open ? 100 : st->hi;
        k.lo_rank = lo / 100 * total;
        k.hi_rank = hi / 100 * total;
        if (st->kind == OWL_STAT_WM) {
            if (owl_sketch_quantile(sk, lo / 100, &k.lo_val) != OWL_OK ||
                owl_sketch_quantile(sk, hi / 100, &k.hi_val) != OWL_OK)
                return OWL_ENOTFOUND;
            k.lo_val = clamp(&k, lo <= 0 ? b->min : k.lo_val);
            k.hi_val = clamp(&k, hi >= 100 ? b->max : k.hi_val);
        }
    }
    owl_sketch_visit(sk, range_fn, &k);
    /* weights from the sketch are scaled to the exact sample count where they differ (a
     * bucket that mixes statistic sets keeps its sketch for the values it has) */
    double scale = b->count > 0 ? b->count / total : 1;
    switch (st->kind) {
    case OWL_STAT_TM:
    case OWL_STAT_IQM:
        if (k.w_in <= 0)
            return OWL_ENOTFOUND;
        *out = k.sum_in / k.w_in;
        return OWL_OK;
    case OWL_STAT_WM:
        *out = k.sum_all / total;
        return OWL_OK;
    case OWL_STAT_TC:
        *out = k.w_in * scale;
        return OWL_OK;
    case OWL_STAT_TS:
        *out = k.sum_in * scale;
        return OWL_OK;
    case OWL_STAT_PR:
        *out = 100 * k.w_in / total;
        return OWL_OK;
    default:
        return OWL_ENOTFOUND;
    }
}

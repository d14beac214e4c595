/* alarm.c — CloudWatch's evaluation of a metric alarm over its evaluation range: M out of N
 * (DatapointsToAlarm of EvaluationPeriods), TreatMissingData, EvaluateLowSampleCountPercentile.
 *
 * As CloudWatch documents it ("How alarm state is evaluated when data is missing"):
 *   - the range holds more periods than N (owl: N + 2);
 *   - at least N real datapoints in the range: the N most recent decide, and TreatMissingData
 *     plays no part;
 *   - fewer: every real datapoint in the range is evaluated, and the missing periods fill the
 *     rest, as few as possible: breaching, not breaching, or (missing, ignore) not counted;
 *   - at least M breaching: ALARM, else OK.
 * With missing or ignore and fewer than N real points, a real non-breaching point makes OK
 * (unless M breach anyway). When every real point breaches but fewer than M do, ignore keeps
 * the current state. missing keeps CloudWatch's guard against premature alarms: the
 * evaluated points are the real ones plus fills in the most recent missing periods; if the
 * oldest of them is a real breaching point (data stopped after breaching) the alarm goes to
 * ALARM, else (breaching data just arriving after a gap) INSUFFICIENT_DATA. No real point at
 * all: missing gives INSUFFICIENT_DATA, ignore keeps the state. These rules reproduce every
 * row of both of CloudWatch's tables (tests/unit/test_alarm.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

static const char *const state_names[] = {"OK", "ALARM", "INSUFFICIENT_DATA"};
static const char *const missing_names[] = {"missing", "ignore", "breaching", "notBreaching"};
static const char *const cmp_names[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                        "LessThanThreshold", "LessThanOrEqualToThreshold"};

const char *owl_alarm_state_name(enum owl_alarm_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "INSUFFICIENT_DATA";
}

const char *owl_alarm_missing_name(enum owl_alarm_missing m)
{
    return (unsigned)m < 4 ? missing_names[m] : "missing";
}

const char *owl_alarm_cmp_name(enum owl_alarm_cmp c)
{
    return (unsigned)c < 4 ? cmp_names[c] : "GreaterThanThreshold";
}

int owl_alarm_missing_parse(const char *s, enum owl_alarm_missing *out, owl_error *err)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, missing_names[i]) == 0) {
            *out = (enum owl_alarm_missing)i;
            return OWL_OK;
        }
    return owl_error_set(err, OWL_EINVAL,
                         "The value %s for parameter TreatMissingData is invalid: it must be one "
                         "of breaching, notBreaching, ignore, missing.", s ? s : "(none)");
}

int owl_alarm_cmp_parse(const char *s, enum owl_alarm_cmp *out, owl_error *err)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, cmp_names[i]) == 0) {
            *out = (enum owl_alarm_cmp)i;
            return OWL_OK;
        }
    if (s && (strcmp(s, "LessThanLowerOrGreaterThanUpperThreshold") == 0 ||
              strcmp(s, "LessThanLowerThreshold") == 0 ||
              strcmp(s, "GreaterThanUpperThreshold") == 0))
        return owl_error_set(err, OWL_EINVAL,
                             "The value %s for parameter ComparisonOperator is not supported: "
                             "anomaly detection bands are not available in owl yet.", s);
    return owl_error_set(err, OWL_EINVAL,
                         "The value %s for parameter ComparisonOperator is invalid: it must be "
                         "one of GreaterThanOrEqualToThreshold, GreaterThanThreshold, "
                         "LessThanThreshold, LessThanOrEqualToThreshold.", s ? s : "(none)");
}

int owl_alarm_breaches(enum owl_alarm_cmp c, double v, double t)
{
    switch (c) {
    case OWL_CMP_GE:
        return v >= t;
    case OWL_CMP_GT:
        return v > t;
    case OWL_CMP_LT:
        return v < t;
    case OWL_CMP_LE:
        return v <= t;
    }
    return 0;
}

void owl_alarm_evaluate(const owl_alarm_point *range, size_t n, int eval_periods,
                        int datapoints_to_alarm, enum owl_alarm_cmp cmp, double threshold,
                        enum owl_alarm_missing missing, int low_sample_ignore,
                        enum owl_alarm_state current, owl_alarm_verdict *out)
{
    size_t N = eval_periods < 1 ? 1 : (size_t)eval_periods;
    if (N > OWL_ALARM_MAX_EVAL_PERIODS)
        N = OWL_ALARM_MAX_EVAL_PERIODS;
    int M = datapoints_to_alarm < 1           ? 1
            : datapoints_to_alarm > (int)N ? (int)N
                                           : datapoints_to_alarm;
    memset(out, 0, sizeof *out);
    out->state = current;

    /* the real datapoints that count: the N most recent, or all when fewer */
    size_t k = 0, take[OWL_ALARM_MAX_EVAL_PERIODS];
    for (size_t i = n; i-- > 0 && k < N;)
        if (range[i].present)
            take[k++] = i;
    int b = 0, nb = 0, low = 0;
    for (size_t j = 0; j < k; j++) {
        out->used[j] = take[k - 1 - j]; /* oldest first */
        const owl_alarm_point *p = &range[out->used[j]];
        if (owl_alarm_breaches(cmp, p->value, threshold))
            b++;
        else
            nb++;
        low |= p->low_sample;
    }
    out->nused = k;
    out->breaching = b;
    out->evaluated = (int)N;
    if (low_sample_ignore && low) { /* wait for enough samples */
        out->retained = out->low_sample = 1;
        return;
    }
    if (k == N) {
        out->state = b >= M ? OWL_ALARM_ALARM : OWL_ALARM_OK;
        return;
    }
    int fill = (int)(N - k);
    out->filled = fill;
    switch (missing) {
    case OWL_MISSING_BREACHING:
        out->breaching = b + fill;
        out->state = b + fill >= M ? OWL_ALARM_ALARM : OWL_ALARM_OK;
        return;
    case OWL_MISSING_NOT_BREACHING:
        out->state = b >= M ? OWL_ALARM_ALARM : OWL_ALARM_OK;
        return;
    case OWL_MISSING_IGNORE:
    case OWL_MISSING_MISSING:
        break;
    }
    out->filled = 0; /* missing periods are not counted either way */
    if (k == 0) {
        out->evaluated = 0;
        if (missing == OWL_MISSING_IGNORE)
            out->retained = 1;
        else
            out->state = OWL_ALARM_INSUFFICIENT_DATA;
        return;
    }
    if (b >= M) {
        out->state = OWL_ALARM_ALARM;
        return;
    }
    if (nb > 0) {
        out->state = OWL_ALARM_OK;
        return;
    }
    if (missing == OWL_MISSING_IGNORE) {
        out->retained = 1;
        return;
    }
    /* every real point breaches, too few of them: the fills take the most recent missing
     * periods; the oldest evaluated point decides (see the opening comment) */
    size_t oldest_fill = n;
    int need = fill;
    for (size_t i = n; i-- > 0 && need > 0;)
        if (!range[i].present)
            oldest_fill = i, need--;
    out->state = out->used[0] < oldest_fill ? OWL_ALARM_ALARM : OWL_ALARM_INSUFFICIENT_DATA;
}

/* Whether a percentile of b rests on too few samples to judge (CloudWatch: fewer than
 * 10 / (1 - p) for p >= 0.5, else 10 / p; p99 needs 1,000). */
static int low_sample(const owl_stat *st, const owl_bucket *b)
{
    if (st->kind != OWL_STAT_PCT)
        return 0;
    double p = st->lo / 100;
    if (p <= 0 || p >= 1)
        return 0;
    return b->count < (p >= 0.5 ? 10 / (1 - p) : 10 / p);
}

/* The range an evaluation at now_ms reads: the eval_periods + 2 complete periods before
 * now, none present yet. */
static void range_init(const owl_alarm_spec *spec, int64_t now_ms, owl_alarm_range *range)
{
    int64_t step = (int64_t)spec->period_s * 1000;
    int64_t end = now_ms / step * step - (now_ms % step < 0 ? step : 0);
    memset(range, 0, sizeof *range);
    range->n = (size_t)spec->eval_periods + 2;
    range->period_s = spec->period_s;
    range->start_ms = end - (int64_t)range->n * step;
}

typedef struct range_ctx {
    const owl_alarm_spec *spec;
    owl_alarm_range *range;
} range_ctx;

/* Period k of the range from its bucket: a point when the statistic can be answered. */
static void range_point(void *ud, size_t k, const owl_bucket *b)
{
    range_ctx *x = ud;
    double v;
    if (k >= x->range->n || owl_stat_eval(&x->spec->stat, b, &v) != OWL_OK)
        return;
    owl_alarm_point *p = &x->range->p[k];
    p->present = 1;
    p->value = v;
    p->low_sample = low_sample(&x->spec->stat, b);
}

static int spec_ok(const owl_alarm_spec *spec, owl_error *err)
{
    if (spec->eval_periods < 1 || spec->eval_periods > OWL_ALARM_MAX_EVAL_PERIODS ||
        spec->period_s <= 0)
        return owl_error_set(err, OWL_EINVAL, "bad evaluation periods or period");
    return OWL_OK;
}

int owl_alarm_evaluate_metric(owl_metrics *m, const owl_alarm_spec *spec, int64_t now_ms,
                              enum owl_alarm_state current, owl_alarm_range *range,
                              owl_alarm_verdict *out, owl_error *err)
{
    int rc = spec_ok(spec, err);
    if (rc != OWL_OK)
        return rc;
    range_init(spec, now_ms, range);
    int64_t step = (int64_t)spec->period_s * 1000;
    owl_metric_query q = {.tenant = spec->tenant, .id = spec->id, .unit = spec->unit,
                          .start_ms = range->start_ms,
                          .end_ms = range->start_ms + (int64_t)range->n * step,
                          .period_s = spec->period_s, .now_ms = now_ms};
    owl_bucket_set bs = {0};
    if ((rc = owl_metrics_read(m, &q, &bs, err)) != OWL_OK)
        return rc;
    range_ctx x = {spec, range};
    for (size_t i = 0; i < bs.n; i++)
        if (bs.b[i].time_ms >= range->start_ms)
            range_point(&x, (size_t)((bs.b[i].time_ms - range->start_ms) / step), &bs.b[i]);
    owl_bucket_set_free(&bs);
    owl_alarm_evaluate(range->p, range->n, spec->eval_periods, spec->datapoints_to_alarm,
                       spec->cmp, spec->threshold, spec->missing, spec->low_sample_ignore,
                       current, out);
    return OWL_OK;
}

int owl_alarm_evaluate_watch(owl_metrics *m, owl_watch *w, const owl_alarm_spec *spec,
                             int64_t now_ms, enum owl_alarm_state current,
                             owl_alarm_range *range, owl_alarm_verdict *out, owl_error *err)
{
    int rc = spec_ok(spec, err);
    if (rc != OWL_OK)
        return rc;
    range_init(spec, now_ms, range);
    range_ctx x = {spec, range};
    owl_watch_visit(m, w, range->start_ms, range->n, range_point, &x);
    owl_alarm_evaluate(range->p, range->n, spec->eval_periods, spec->datapoints_to_alarm,
                       spec->cmp, spec->threshold, spec->missing, spec->low_sample_ignore,
                       current, out);
    return OWL_OK;
}

typedef struct math_src {
    owl_metrics *m;
    owl_watch *const *ws;
} math_src;

typedef struct ts_fill {
    const owl_stat *st;
    owl_ts *s;
} ts_fill;

static void ts_point(void *ud, size_t k, const owl_bucket *b)
{
    ts_fill *f = ud;
    double v;
    (void)k;
    if (owl_stat_eval(f->st, b, &v) == OWL_OK) {
        f->s->t[f->s->n] = b->time_ms;
        f->s->v[f->s->n++] = v;
    }
}

/* A MetricStat's series from its watch (owl_mquery_source). */
static int from_watch(void *ud, size_t i, const owl_mquery *q, int64_t start_ms, int64_t end_ms,
                      owl_ts *out, owl_error *err)
{
    math_src *src = ud;
    int64_t step = (int64_t)q->period_s * 1000;
    size_t n = (size_t)((end_ms - start_ms) / step);
    out->t = malloc((n ? n : 1) * sizeof *out->t);
    out->v = malloc((n ? n : 1) * sizeof *out->v);
    if (!out->t || !out->v)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    ts_fill f = {&q->stat, out};
    owl_watch_visit(src->m, src->ws[i], start_ms, n, ts_point, &f);
    return OWL_OK;
}

int owl_alarm_evaluate_math(owl_metrics *m, const owl_alarm_spec *spec, owl_mquery *qs,
                            size_t n, size_t ret, owl_watch *const *ws, int64_t now_ms,
                            enum owl_alarm_state current, owl_alarm_range *range,
                            owl_alarm_verdict *out, owl_error *err)
{
    int rc = spec_ok(spec, err);
    if (rc != OWL_OK)
        return rc;
    range_init(spec, now_ms, range);
    int64_t step = (int64_t)spec->period_s * 1000;
    int use_watches = ws != NULL;
    for (size_t i = 0; use_watches && i < n; i++)
        use_watches = qs[i].expr || ws[i];
    math_src src = {m, ws};
    owl_mquery_set set = {.qs = qs, .n = n, .tenant = spec->tenant, .m = m,
                          .start_ms = range->start_ms,
                          .end_ms = range->start_ms + (int64_t)range->n * step,
                          .source = use_watches ? from_watch : NULL, .source_ud = &src};
    for (size_t i = 0; i < n; i++)
        if (qs[i].expr && !qs[i].period_s)
            qs[i].period_s = spec->period_s;
    rc = owl_mquery_eval(&set, ret, err);
    if (rc == OWL_OK && qs[ret].result.n != 1)
        rc = owl_error_set(err, OWL_EINVAL,
                           "the alarm's expression %s gave %zu time series; it must give one",
                           qs[ret].id, qs[ret].result.n);
    if (rc == OWL_OK) {
        const owl_ts *s = &qs[ret].result.s[0];
        for (size_t j = 0; j < s->n; j++) {
            if (s->t[j] < range->start_ms || !isfinite(s->v[j]))
                continue;
            size_t k = (size_t)((s->t[j] - range->start_ms) / step);
            if (k < range->n)
                range->p[k] = (owl_alarm_point){.present = 1, .value = s->v[j]};
        }
        owl_alarm_evaluate(range->p, range->n, spec->eval_periods, spec->datapoints_to_alarm,
                           spec->cmp, spec->threshold, spec->missing, 0, current, out);
    }
    owl_mquery_reset(&set); /* the parsed expressions stay for the next evaluation */
    return rc;
}

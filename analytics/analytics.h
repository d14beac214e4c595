/* analytics.h — the public API of analytics/: CloudWatch-style metrics.
 *
 * A series is (tenant, namespace, metric name, dimensions); the catalog (catalog.c) gives
 * each a dense per-tenant id, durably, and answers ListMetrics. Datapoints are rows of the
 * store's `metrics` table (index/index.h, enum owl_metrics_col), one partition per
 * resolution level: "m1" (raw datapoints as pushed, 1 s or 60 s storage resolution), "m60",
 * "m300", "m3600" (roll-ups written by the roller, metrics.c). Every row is a mergeable
 * partial aggregate (count, sum, min, max, sketch), so late datapoints and several rows per
 * bucket merge at read time. Percentiles come from a mergeable relative-error sketch
 * (sketch.c, docs/metrics.md). Statistics (stats.c) and metric math (mexpr.c) work on what
 * owl_metrics_read returns. Every way in (CloudWatch's three protocols, OTLP, owl's JSON)
 * goes through owl_metrics_put; alarms read through owl_metrics_read.
 *
 * Threads: every function taking an owl_metrics is thread-safe. Sketches, bucket sets, time
 * series and expressions belong to their caller and are not shared. */
#ifndef OWL_ANALYTICS_H
#define OWL_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/index.h"

/* ---- CloudWatch's limits (PutMetricData, GetMetricStatistics) ---- */
#define OWL_METRIC_NS_MAX 255          /* namespace bytes */
#define OWL_METRIC_NAME_MAX 255        /* metric name bytes */
#define OWL_METRIC_MAX_DIMS 30
#define OWL_METRIC_DIM_NAME_MAX 255
#define OWL_METRIC_DIM_VALUE_MAX 1024
#define OWL_METRIC_MAX_VALUES 150      /* distinct Values of one datum */
#define OWL_METRIC_MAX_DATUMS 1000     /* MetricData entries of one request */
#define OWL_METRIC_MAX_PAST_MS (14LL * 86400 * 1000) /* timestamps at most 2 weeks back */
#define OWL_METRIC_MAX_AHEAD_MS (2LL * 3600 * 1000)  /* ... and 2 h ahead */
#define OWL_METRIC_MAX_DATAPOINTS 1440 /* GetMetricStatistics answer */

/* ---- series identity ---- */

typedef struct owl_dim {
    const char *name;
    const char *value; /* NULL in a filter: any value */
} owl_dim;

typedef struct owl_metric_id {
    const char *ns;
    const char *name;
    const owl_dim *dims; /* any order; identity sorts them by name */
    size_t ndims;
} owl_metric_id;

/* owl_metric_unit_canon — the canonical spelling of a CloudWatch unit ("Seconds", ...,
 * "Count/Second", "None") when unit names one (exact match, as CloudWatch), else NULL. */
const char *owl_metric_unit_canon(const char *unit);

/* ---- datapoints in ---- */

/* One datum of a PutMetricData request (or its equivalent from OTLP / owl's JSON). Exactly
 * one of: a single value (values -> 1 value, counts NULL, nvalues 1, has_stats 0); Values
 * with optional Counts (nvalues >= 1; counts NULL = each 1); a statistic set (nvalues 0,
 * has_stats 1); or a distribution with exact statistics (values + counts as the shape of
 * the distribution, e.g. an OTLP histogram's bucket midpoints, plus has_stats 1 whose
 * count/sum/min/max are the exact figures; only without OWL_PUT_CLOUDWATCH). */
typedef struct owl_datum {
    owl_metric_id id;
    const char *unit;       /* NULL = "None" */
    int64_t time_ms;
    int resolution;         /* StorageResolution: 1 or 60 (0 = 60) */
    const double *values;
    const double *counts;
    size_t nvalues;
    int has_stats;
    double count, sum, min, max;
} owl_datum;

/* Which CloudWatch rule a refused request broke: the handler answers with the code the
 * protocol gives it (query: InvalidParameterValue / MissingParameter /
 * InvalidParameterCombination; JSON and CBOR: the same names, awsQueryCompatible). */
enum owl_metric_fault {
    OWL_MF_NONE = 0,
    OWL_MF_INVALID_VALUE = 1, /* a value out of its range or not allowed (NaN, AWS/ ...) */
    OWL_MF_MISSING = 2,       /* a required parameter is absent */
    OWL_MF_COMBINATION = 3,   /* parameters that may not go together (Value + Values ...) */
};

enum owl_put_flags {
    OWL_PUT_CLOUDWATCH = 1u, /* CloudWatch's API rules: at most 1,000 datums and 150 values,
                              * no "AWS/" namespace, no distribution-with-statistics datums */
};

typedef struct owl_metrics owl_metrics;

typedef struct owl_metrics_options {
    /* How long each level answers queries, ms; 0 = CloudWatch's: raw 3 h, 60 s 15 days,
     * 300 s 63 days, 3600 s 455 days. Index 0 raw, 1 60 s, 2 300 s, 3 3600 s. */
    int64_t keep_ms[4];
    int64_t grace_ms;  /* a window is rolled up this long after it closes (0 = 60 s) */
    int background;    /* 1: a roller thread runs owl_metrics_rollup every second */
} owl_metrics_options;

/* owl_metrics_open — the metrics module over an open store (whose registry includes the
 * metrics table) and metadata store (the catalog's home); both must outlive it. Loads the
 * catalog, sets each level's store retention and, with opts->background, starts the roller.
 * opts NULL = defaults with background on. */
int owl_metrics_open(owl_store *store, owl_meta *meta, const owl_metrics_options *opts,
                     owl_metrics **out, owl_error *err);

/* owl_metrics_close — stops the roller and frees. Accepts NULL. */
void owl_metrics_close(owl_metrics *m);

/* owl_metrics_check — validates d[0..n) by CloudWatch's rules as of now_ms (names, lengths,
 * dimensions, units, NaN/Inf, exactly one kind of value, counts > 0, Values <= 150,
 * timestamps within 2 weeks back / 2 h ahead, StorageResolution 1 or 60, n <= 1,000 under
 * OWL_PUT_CLOUDWATCH). OWL_OK, or OWL_EINVAL with *fault and err naming the datum and
 * field ("MetricData.member.3.Value ..."; the handler may reword). Pure; no state. */
int owl_metrics_check(const owl_datum *d, size_t n, unsigned flags, int64_t now_ms,
                      enum owl_metric_fault *fault, owl_error *err);

/* owl_metrics_put — checks d[0..n) (owl_metrics_check), registers new series in the catalog
 * (durably, before any row names them) and appends the datapoints to the store in one append
 * (plus late-datapoint rows of already-rolled levels), returning only when they are durable
 * and readable. A refused request stores nothing. OWL_EINVAL (with *fault), OWL_ENOSPC,
 * OWL_EIO, OWL_ENOMEM. */
int owl_metrics_put(owl_metrics *m, const char *tenant, const owl_datum *d, size_t n,
                    unsigned flags, int64_t now_ms, enum owl_metric_fault *fault,
                    owl_error *err);

/* owl_metrics_rollup — rolls every closed window (older than now_ms - grace) of each level
 * into the next coarser one. The roller thread calls it; tests call it with a chosen now. */
int owl_metrics_rollup(owl_metrics *m, int64_t now_ms, owl_error *err);

/* owl_metrics_delta — cumulative-to-delta state for OTLP streams: stream is a hash of the
 * stream's identity (resource, scope, metric, attributes), start_ns its start time, cum[0..n)
 * its cumulative figures (count, sum, bucket counts ...). Fills delta[0..n) with the change
 * since the previous point of the stream and returns 0; returns 1 when there was no usable
 * previous point (first point, a new start time, or a figure went down: a reset), with
 * delta = cum (the counts since the stream started); returns OWL_METRICS_BASELINE with
 * delta = 0 for the first point seen of a stream that started (start_ns, 0 = unknown) before
 * this module was opened: what it counted earlier may be stored already (owld restarted) or
 * was never sent here, so the point is only the baseline for the next one (the OpenTelemetry
 * collector's cumulativetodelta "auto" rule). State is in memory, bounded (oldest streams
 * forgotten first): after a restart each stream loses at most what it counted between its
 * last point before and its first point after. */
#define OWL_METRICS_BASELINE 2
int owl_metrics_delta(owl_metrics *m, uint64_t stream, int64_t start_ns, const double *cum,
                      double *delta, size_t n);

/* ---- the sketch (sketch.c) ---- */

/* A mergeable sketch of a distribution of doubles (positive, negative and zero) whose
 * quantiles have relative error <= alpha (OWL_SKETCH_ALPHA, 1%); see docs/metrics.md. */
typedef struct owl_sketch owl_sketch;

#define OWL_SKETCH_ALPHA 0.01

/* owl_sketch_new — an empty sketch, or NULL when out of memory. */
owl_sketch *owl_sketch_new(void);
void owl_sketch_free(owl_sketch *s); /* accepts NULL */
/* owl_sketch_add — adds value v (finite) with weight w (> 0). OWL_OK, OWL_EINVAL, OWL_ENOMEM. */
int owl_sketch_add(owl_sketch *s, double v, double w);
/* owl_sketch_merge — adds every value of src into dst. OWL_OK or OWL_ENOMEM. */
int owl_sketch_merge(owl_sketch *dst, const owl_sketch *src);
double owl_sketch_count(const owl_sketch *s); /* total weight */
/* owl_sketch_quantile — the q-quantile (0 <= q <= 1) in *out; OWL_ENOTFOUND when empty. */
int owl_sketch_quantile(const owl_sketch *s, double q, double *out);
/* owl_sketch_rank — the fraction of weight at values <= v (for PR and TC/TS bounds). */
double owl_sketch_rank(const owl_sketch *s, double v);
/* owl_sketch_visit — calls fn(ud, value, weight) for each bucket in ascending value order,
 * value being the bucket's representative (what trimmed means sum). */
void owl_sketch_visit(const owl_sketch *s, void (*fn)(void *ud, double v, double w), void *ud);
/* owl_sketch_encode — appends the sketch's bytes (a versioned, self-describing format) to
 * out. owl_sketch_decode reads them back; OWL_ECORRUPT for anything malformed. */
int owl_sketch_encode(const owl_sketch *s, owl_buf *out);
int owl_sketch_decode(const void *p, size_t n, owl_sketch **out);

/* ---- buckets out ---- */

/* The aggregate of one series (and unit) over one period. */
typedef struct owl_bucket {
    int64_t time_ms;    /* period start */
    double count, sum, min, max;
    owl_sketch *sketch; /* the values' distribution; NULL when only statistic sets fell in
                         * the period (then percentiles and trimmed statistics are absent) */
    const char *unit;   /* the canonical unit of its datapoints (static string) */
} owl_bucket;

typedef struct owl_bucket_set {
    owl_bucket *b; /* ascending time, only periods holding data */
    size_t n;
} owl_bucket_set;

void owl_bucket_set_free(owl_bucket_set *bs); /* frees the sketches and array; keeps bs */

typedef struct owl_metric_query {
    const char *tenant;
    owl_metric_id id;      /* dimensions must match exactly, as CloudWatch's */
    const char *unit;      /* NULL: any unit */
    int64_t start_ms, end_ms; /* [start, end) */
    int period_s;          /* 1, 5, 10, 30 or a multiple of 60 */
    int64_t now_ms;        /* the age of data is measured from here; 0 = the clock */
} owl_metric_query;

/* owl_metrics_read — the buckets of q's series, periods aligned to multiples of period_s
 * since the epoch, from the finest level that both keeps that age (options keep_ms) and
 * divides the period: a range older than a level's window is answered from coarser ones
 * only. OWL_EINVAL (bad period, end <= start: err says which), OWL_ENOMEM, OWL_EIO; an
 * unknown series is an empty set. */
int owl_metrics_read(owl_metrics *m, const owl_metric_query *q, owl_bucket_set *out,
                     owl_error *err);

/* owl_metrics_read_many — owl_metrics_read of q[0..n) into out[0..n): queries sharing tenant,
 * times, period and now_ms (else OWL_EINVAL), of any series and units. The same buckets as n
 * reads, each level's stretch scanned once for all of them (by the range of their series
 * ids, rows told apart by series and unit): a map of a hundred series decodes each block
 * once, not once a series. On failure every out[i] is empty. */
int owl_metrics_read_many(owl_metrics *m, const owl_metric_query *q, size_t n,
                          owl_bucket_set *out, owl_error *err);

/* ---- recent buckets of watched series (recent.c): what alarms read ---- */

/* A watch keeps one series' buckets (one unit, or any) of its last periods in memory;
 * owl_metrics_put folds each stored datapoint into the watches of its series, so an
 * evaluator reads them without scanning the store. */
typedef struct owl_watch owl_watch;

/* owl_metrics_watch — a watch of tenant's series id (unit: NULL = any) in periods of
 * period_s (10, 30 or a multiple of 60) keeping the nperiods complete periods before now, and
 * the period holding now; sketches: keep each period's distribution (percentiles, trimmed
 * statistics), else the figures only. The series need not exist yet. Its buckets are there
 * after the next owl_metrics_watch_sync. OWL_EINVAL (bad period, nperiods 0 or over a day's
 * worth, unknown unit), OWL_ENOMEM. */
int owl_metrics_watch(owl_metrics *m, const char *tenant, const owl_metric_id *id,
                      const char *unit, int period_s, size_t nperiods, int sketches,
                      owl_watch **out, owl_error *err);

/* owl_metrics_unwatch — drops w. Accepts NULL. */
void owl_metrics_unwatch(owl_metrics *m, owl_watch *w);

/* owl_metrics_watch_sync — fills from the store the watches that need it: new ones, ones
 * whose series has appeared since, ones that missed a datapoint (one far in the future, out
 * of memory), with puts held back meanwhile (in slices of about 20 ms, so a put waits no
 * longer). OWL_OK, or the error of a read (that watch is tried again at the next call). */
int owl_metrics_watch_sync(owl_metrics *m, int64_t now_ms, owl_error *err);

/* owl_watch_gen — a number that changes whenever w takes a datapoint or is filled. */
uint64_t owl_watch_gen(owl_metrics *m, const owl_watch *w);

/* owl_watch_visit — calls fn(ud, k, bucket) for each of the n periods from start_ms (a
 * multiple of the period) that holds data; the bucket is valid during the call. Periods
 * older than the watch keeps have no data. The watch is locked during the calls: fn must not
 * call owl_metrics_* functions. */
void owl_watch_visit(owl_metrics *m, owl_watch *w, int64_t start_ms, size_t n,
                     void (*fn)(void *ud, size_t k, const owl_bucket *b), void *ud);

/* owl_metrics_set_wake — fn(ud) is called after a put that folded a datapoint into a watch,
 * or that registered new series while some watch waits for its series to exist (the alarm
 * evaluator wakes on it and binds that watch at once), under a lock of the module: fn must be quick and not
 * call owl_metrics_*. NULL: none; once this returns, no call of the old fn is running. */
void owl_metrics_set_wake(owl_metrics *m, void (*fn)(void *ud), void *ud);

/* ---- statistics (stats.c) ---- */

enum owl_stat_kind {
    OWL_STAT_SAMPLECOUNT = 1,
    OWL_STAT_AVERAGE,
    OWL_STAT_SUM,
    OWL_STAT_MINIMUM,
    OWL_STAT_MAXIMUM,
    OWL_STAT_PCT, /* pNN.NN */
    OWL_STAT_TM,  /* trimmed mean: tmNN, TM(a%:b%), TM(a:b) */
    OWL_STAT_WM,  /* winsorized mean */
    OWL_STAT_TC,  /* trimmed count */
    OWL_STAT_TS,  /* trimmed sum */
    OWL_STAT_PR,  /* percentile rank PR(a:b) */
    OWL_STAT_IQM, /* interquartile mean, = TM(25%:75%) */
};

typedef struct owl_stat {
    enum owl_stat_kind kind;
    int pct;          /* lo/hi are percentages (0..100), else absolute values */
    double lo, hi;    /* bounds; lo_open/hi_open when a side was left out ("TM(:95%)") */
    int lo_open, hi_open;
    char name[48];    /* as CloudWatch echoes it: "p99", "TM(10%:90%)", "Average" */
} owl_stat;

/* owl_stat_parse — a statistic's name as CloudWatch accepts it (the five, and the extended
 * statistics with the ranges CloudWatch allows). OWL_EINVAL with err saying why. */
int owl_stat_parse(const char *s, owl_stat *out, owl_error *err);

/* owl_stat_eval — st of bucket b into *out. OWL_OK, or OWL_ENOTFOUND when the bucket cannot
 * answer it (a percentile of statistic-set-only data, an empty trimmed range). */
int owl_stat_eval(const owl_stat *st, const owl_bucket *b, double *out);

/* ---- catalog and ListMetrics (catalog.c) ---- */

typedef struct owl_metric_filter {
    const char *ns;           /* NULL = any */
    const char *name;         /* NULL = any */
    const owl_dim *dims;      /* each must be present; value NULL = any value */
    size_t ndims;
    int64_t active_since_ms;  /* RecentlyActive=PT3H: last datapoint at or after; 0 = any */
} owl_metric_filter;

/* Called per matching series; id's strings are valid during the call only. Non-zero stops. */
typedef int (*owl_metric_list_fn)(void *ud, const owl_metric_id *id, int64_t last_ms);

/* owl_metrics_list — the tenant's series matching f in a stable order, at most limit
 * (0 = 500) after the page named by token (NULL or "" = first). *next gets the token of the
 * next page ("" when none; room for OWL_METRIC_TOKEN bytes). OWL_EINVAL for a token this
 * function did not give out. */
#define OWL_METRIC_TOKEN 64
int owl_metrics_list(owl_metrics *m, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err);

/* ---- time series and metric math (mexpr.c) ---- */

/* A time series: n points in ascending time. Owned by whoever holds it. */
typedef struct owl_ts {
    char *id;     /* the query id it came from, or NULL */
    char *label;  /* NULL = none */
    size_t n;
    int64_t *t;   /* ms */
    double *v;
} owl_ts;

typedef struct owl_ts_list {
    owl_ts *s;
    size_t n;
} owl_ts_list;

void owl_ts_list_free(owl_ts_list *l); /* frees each series and the array; keeps l */

typedef struct owl_mexpr owl_mexpr;

/* owl_mexpr_parse — parses a metric-math expression (CloudWatch's grammar: numbers, ids,
 * + - * / ^, comparisons, AND OR NOT, functions). OWL_EINVAL with err naming the 1-based
 * character position ("at 7: expected ')'"), *pos (may be NULL) gets it. */
int owl_mexpr_parse(const char *text, owl_mexpr **out, size_t *pos, owl_error *err);
void owl_mexpr_free(owl_mexpr *e); /* accepts NULL */

/* owl_mexpr_refs — calls fn for each id the expression names (to check they exist and find
 * cycles between expressions). */
void owl_mexpr_refs(const owl_mexpr *e, void (*fn)(void *ud, const char *id), void *ud);

/* What an expression is evaluated against. */
typedef struct owl_mexpr_env {
    int64_t start_ms, end_ms;
    int period_s;
    /* the series of a query id: fills *out (one or more series, owned by the callee, valid
     * until the evaluation ends); OWL_ENOTFOUND for an unknown id */
    int (*lookup)(void *ud, const char *id, const owl_ts_list **out);
    /* METRICS() / METRICS("s"): every MetricStat result (label containing s), in order */
    int (*all)(void *ud, const char *filter, owl_ts_list *out); /* out filled with copies */
    void *ud;
} owl_mexpr_env;

/* owl_mexpr_eval — evaluates e; out gets the resulting series (one, or several for functions
 * of arrays). A scalar result is OWL_EINVAL ("the expression must return a time series"),
 * as CloudWatch. OWL_EINVAL for type errors and unknown ids (err says which), OWL_ENOMEM. */
int owl_mexpr_eval(const owl_mexpr *e, const owl_mexpr_env *env, owl_ts_list *out,
                   owl_error *err);

/* ---- metric data queries (mquery.c): GetMetricData's, and metric-math alarms' ---- */

/* One query of a set: a MetricStat (expr NULL: metric, stat, unit, period) or an Expression
 * over the set's other ids (period: the expression's own, 0 = the set's). The fields below
 * "state" are owl_mquery_eval's. */
typedef struct owl_mquery {
    const char *id, *label, *expr;
    int return_data;
    int period_s;
    owl_metric_id metric;
    owl_stat stat;
    const char *unit;  /* NULL: any */
    /* state */
    owl_mexpr *e;      /* the parsed expression (parsed on first use when NULL) */
    owl_ts_list result;
    int done, busy;
} owl_mquery;

/* Where a MetricStat's series comes from: fills out (its t and v malloc'd) with the
 * statistic of each period of [start_ms, end_ms) that holds data. NULL: the store
 * (owl_metrics_read). */
typedef int (*owl_mquery_source)(void *ud, size_t i, const owl_mquery *q, int64_t start_ms,
                                 int64_t end_ms, owl_ts *out, owl_error *err);

typedef struct owl_mquery_set {
    owl_mquery *qs;
    size_t n;
    const char *tenant;
    owl_metrics *m;
    int64_t start_ms, end_ms;
    owl_mquery_source source; /* NULL: the store */
    void *source_ud;
} owl_mquery_set;

/* owl_mquery_eval — evaluates qs[i] (and what it refers to), once: its result is in
 * qs[i].result (one series for a MetricStat, one or more for an expression). OWL_EINVAL for
 * a bad expression, an unknown id or a cycle (err says which), OWL_ENOMEM, the read's
 * errors. */
int owl_mquery_eval(owl_mquery_set *set, size_t i, owl_error *err);

/* owl_mquery_clear — frees every query's result and parsed expression, ready for another
 * evaluation. */
void owl_mquery_clear(owl_mquery_set *set);

/* owl_mquery_reset — frees every query's result but keeps the parsed expressions, for
 * another evaluation of the same queries (a metric-math alarm, evaluated every period). */
void owl_mquery_reset(owl_mquery_set *set);

/* owl_mquery_id_ok — CloudWatch's rule for a query id: a lowercase letter, then letters,
 * digits and '_', at most 255. */
int owl_mquery_id_ok(const char *id);

/* ---- alarm evaluation (alarm.c) ---- */

enum owl_alarm_state { OWL_ALARM_OK = 0, OWL_ALARM_ALARM = 1, OWL_ALARM_INSUFFICIENT_DATA = 2 };

/* TreatMissingData. */
enum owl_alarm_missing {
    OWL_MISSING_MISSING = 0, /* the default */
    OWL_MISSING_IGNORE,
    OWL_MISSING_BREACHING,
    OWL_MISSING_NOT_BREACHING,
};

/* ComparisonOperator (the anomaly-detection band ones are refused by the parser). */
enum owl_alarm_cmp {
    OWL_CMP_GE = 0, /* GreaterThanOrEqualToThreshold */
    OWL_CMP_GT,     /* GreaterThanThreshold */
    OWL_CMP_LT,     /* LessThanThreshold */
    OWL_CMP_LE,     /* LessThanOrEqualToThreshold */
};

/* Names as CloudWatch spells them ("OK", "ALARM", "INSUFFICIENT_DATA"; "missing", ...;
 * "GreaterThanThreshold", ...). The parsers answer OWL_EINVAL with a message naming the
 * accepted values; the band operators with one saying anomaly detection is not there yet. */
const char *owl_alarm_state_name(enum owl_alarm_state s);
const char *owl_alarm_missing_name(enum owl_alarm_missing m);
const char *owl_alarm_cmp_name(enum owl_alarm_cmp c);
int owl_alarm_missing_parse(const char *s, enum owl_alarm_missing *out, owl_error *err);
int owl_alarm_cmp_parse(const char *s, enum owl_alarm_cmp *out, owl_error *err);

/* Whether value breaches threshold under c. */
int owl_alarm_breaches(enum owl_alarm_cmp c, double value, double threshold);

/* One period of an alarm's evaluation range: present (a datapoint exists), its value, and
 * low_sample (a percentile statistic computed from fewer samples than 10 / (1 - p), or
 * 10 / p below p50: EvaluateLowSampleCountPercentile). */
typedef struct owl_alarm_point {
    int present;
    double value;
    int low_sample;
} owl_alarm_point;

/* What owl_alarm_evaluate decided. used[0..nused) are the indexes (into the range) of the
 * real datapoints the decision rests on, oldest first; filled how many missing periods were
 * filled in (TreatMissingData); breaching how many of the evaluated points breach. */
typedef struct owl_alarm_verdict {
    enum owl_alarm_state state;
    int retained;       /* the state is the alarm's current one, kept (ignore, low samples) */
    int low_sample;     /* kept because a percentile had too few samples */
    size_t used[64];
    size_t nused;
    int filled, breaching, evaluated;
} owl_alarm_verdict;

#define OWL_ALARM_MAX_EVAL_PERIODS 64

/* owl_alarm_evaluate — CloudWatch's evaluation of a metric alarm ("How alarm state is
 * evaluated when data is missing", docs/api/alarms.md): range[0..n) is the evaluation
 * range, oldest period first (more periods than eval_periods: owl takes eval_periods + 2);
 * datapoints_to_alarm of eval_periods must breach for ALARM. low_sample_ignore:
 * EvaluateLowSampleCountPercentile "ignore". current is the alarm's state now. */
void owl_alarm_evaluate(const owl_alarm_point *range, size_t n, int eval_periods,
                        int datapoints_to_alarm, enum owl_alarm_cmp cmp, double threshold,
                        enum owl_alarm_missing missing, int low_sample_ignore,
                        enum owl_alarm_state current, owl_alarm_verdict *out);

/* A metric alarm's metric and rule, as owl_alarm_evaluate_metric reads them. */
typedef struct owl_alarm_spec {
    const char *tenant;
    owl_metric_id id;
    const char *unit;          /* NULL: any */
    owl_stat stat;             /* Statistic or ExtendedStatistic */
    int period_s;              /* 10, 30 or a multiple of 60 */
    int eval_periods, datapoints_to_alarm;
    enum owl_alarm_cmp cmp;
    double threshold;
    enum owl_alarm_missing missing;
    int low_sample_ignore;     /* EvaluateLowSampleCountPercentile "ignore" */
} owl_alarm_spec;

/* The evaluation range read for a verdict: n periods from start_ms, each a point. */
typedef struct owl_alarm_range {
    int64_t start_ms;
    int period_s;
    size_t n;
    owl_alarm_point p[OWL_ALARM_MAX_EVAL_PERIODS + 2];
} owl_alarm_range;

/* owl_alarm_evaluate_metric — evaluates spec at now_ms from the metrics module's buckets:
 * the range is the eval_periods + 2 complete periods before now (the period holding now is
 * not over), each period's statistic a point (none where the period holds no datapoint, or
 * the statistic cannot be answered), so a late datapoint inside the range counts at the next
 * evaluation. Fills *range (for StateReasonData) and *out. OWL_OK, or the error of the read
 * (OWL_EINVAL for a bad period, OWL_ENOMEM, OWL_EIO). */
int owl_alarm_evaluate_metric(owl_metrics *m, const owl_alarm_spec *spec, int64_t now_ms,
                              enum owl_alarm_state current, owl_alarm_range *range,
                              owl_alarm_verdict *out, owl_error *err);

/* owl_alarm_evaluate_watch — owl_alarm_evaluate_metric's verdict from a watch of the
 * alarm's series (owl_metrics_watch, period_s, eval_periods + 2 periods, sketches for the
 * statistics that need them) instead of a store read: what the evaluator uses. */
int owl_alarm_evaluate_watch(owl_metrics *m, owl_watch *w, const owl_alarm_spec *spec,
                             int64_t now_ms, enum owl_alarm_state current,
                             owl_alarm_range *range, owl_alarm_verdict *out, owl_error *err);

/* owl_alarm_evaluate_math — a metric-math alarm's verdict: qs[0..n) its Metrics, qs[ret]
 * the one returning data, which must give one series; spec's period, range and rule as a
 * metric alarm's (spec's metric and statistic unused). ws[i] (ws NULL, or ws[i] NULL: the
 * store) is the watch of MetricStat i. The queries' results are cleared before returning;
 * their parsed expressions stay in qs for the next evaluation (owl_mquery_clear frees them).
 * OWL_EINVAL when the expression cannot be evaluated or gives other than one series. */
int owl_alarm_evaluate_math(owl_metrics *m, const owl_alarm_spec *spec, owl_mquery *qs,
                            size_t n, size_t ret, owl_watch *const *ws, int64_t now_ms,
                            enum owl_alarm_state current, owl_alarm_range *range,
                            owl_alarm_verdict *out, owl_error *err);

/* ---- alarms kept by owl (alarms.c) ---- */

typedef struct owl_alarms owl_alarms;

#define OWL_ALARM_MAX_ACTIONS 5 /* of each kind, as CloudWatch */

/* A metric alarm as PutMetricAlarm gives it; actions[s] are the URLs or SNS topics to call
 * when the alarm enters state s (OK, ALARM, INSUFFICIENT_DATA). Strings are copied. */
typedef struct owl_alarm_def {
    const char *name;        /* 1-255 printable ASCII */
    const char *description; /* NULL or up to 1024 */
    owl_alarm_spec spec;     /* spec.tenant is the owner */
    int actions_enabled;
    const char *const *actions[3];
    size_t nactions[3];
    /* a composite alarm's ActionsSuppressor (an alarm name; NULL: none) and its
     * ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod in seconds */
    const char *suppressor;
    int suppressor_wait_s, suppressor_extension_s;
    /* a metric-math alarm's Metrics (NULL: the one metric of spec.id): at most
     * OWL_ALARM_MAX_METRICS queries, exactly one returning data, every MetricStat of the
     * alarm's period (spec.period_s); spec.id and spec.stat are then unused */
    const owl_mquery *metrics;
    size_t nmetrics;
} owl_alarm_def;
#define OWL_ALARM_MAX_METRICS 20

/* What a state change reports to the change hooks (actions, events); reason and
 * history_data (CloudWatch's HistoryData JSON, with StateReasonData) are valid during the
 * call. */
typedef struct owl_alarm_change {
    char tenant[256], name[256];
    enum owl_alarm_state old_state, new_state;
    int64_t time_ms;
    int actions_enabled;
    char *reason, *history_data;
    char *description;     /* NULL when none */
    char **actions;        /* the new state's actions (NULL-terminated), empty when disabled
                            * or held back by an ActionsSuppressor */
    char *evidence;        /* JSON the metric's provider gave (owl_alarms_add_evidence), or
                            * NULL */
    int deferred;          /* a change reported before whose held-back actions are now due */
} owl_alarm_change;
typedef void (*owl_alarm_change_fn)(void *ud, const owl_alarm_change *ch);

/* An alarm's state as owl_alarms_get reports it (reason_data malloc'd, caller frees). */
typedef struct owl_alarm_info {
    enum owl_alarm_state state;
    int64_t state_ms, config_ms;
    int actions_enabled;
    char reason[1024];
    char *reason_data;
} owl_alarm_info;

typedef struct owl_alarm_history_item {
    const char *alarm, *type, *summary, *data; /* type: ConfigurationUpdate, StateUpdate */
    int64_t time_ms;
} owl_alarm_history_item;
typedef int (*owl_alarm_history_fn)(void *ud, const owl_alarm_history_item *it);

/* owl_alarms_open — loads every alarm from the metadata store (kind "alarm"). */
int owl_alarms_open(owl_meta *meta, owl_metrics *metrics, owl_alarms **out, owl_error *err);
void owl_alarms_close(owl_alarms *as); /* accepts NULL */
/* owl_alarms_add_hook — fn(ud, change) is called for every state change, after it is
 * durable, outside the module's lock, from the thread that made it (the evaluator, or an API
 * call's); the webhook dispatcher is one hook, an event bus can be another. At most
 * OWL_ALARM_MAX_HOOKS; OWL_ERANGE past that. owl_alarms_remove_hook takes (fn, ud) off. */
#define OWL_ALARM_MAX_HOOKS 8
int owl_alarms_add_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud);
void owl_alarms_remove_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud);

/* An evidence provider: the module that owns a metric says what lies behind a change of an
 * alarm on it (recent matching log lines, exemplar trace ids). It appends ONE JSON value to
 * out about tenant's series id over [start_ms, end_ms) (the evaluation range) and returns
 * OWL_OK, or returns anything else to give none. It is called by the evaluator with the
 * alarms locked: it must be quick and must not call owl_alarms_*. */
typedef int (*owl_evidence_fn)(void *ud, const char *tenant, const owl_metric_id *id,
                               int64_t start_ms, int64_t end_ms,
                               enum owl_alarm_state new_state, owl_buf *out);

/* owl_alarms_add_evidence — registers fn for the metrics of namespace ns ("*": every
 * namespace; the first registered that matches answers). At most OWL_ALARM_MAX_EVIDENCE
 * (OWL_ERANGE). Its JSON goes into the change's history item ("evidence" in HistoryData)
 * and the webhook payload ("evidence"). */
#define OWL_ALARM_MAX_EVIDENCE 16
int owl_alarms_add_evidence(owl_alarms *as, const char *ns, owl_evidence_fn fn, void *ud,
                            owl_error *err);

/* owl_alarm_def_check — PutMetricAlarm's rules (name, period 10, 30 or n x 60, periods x
 * period <= 1 day, 1 <= DatapointsToAlarm <= EvaluationPeriods, finite threshold, at most 5
 * actions of each kind, each a webhook URL or an SNS topic ARN as owl_target_parse takes
 * them). OWL_EINVAL with CloudWatch's message. */
int owl_alarm_def_check(const owl_alarm_def *d, owl_error *err);

/* owl_alarms_put — creates the alarm (INSUFFICIENT_DATA, "Unchecked: Initial alarm
 * creation") or replaces its configuration (its state kept), durably, with a
 * ConfigurationUpdate history item. */
int owl_alarms_put(owl_alarms *as, const owl_alarm_def *d, int64_t now_ms, owl_error *err);

/* owl_alarms_delete — every named alarm, or none (OWL_ENOTFOUND naming the first unknown). */
int owl_alarms_delete(owl_alarms *as, const char *tenant, const char *const *names, size_t n,
                      owl_error *err);

/* owl_alarms_set_state — SetAlarmState: the state until the next evaluation decides. */
int owl_alarms_set_state(owl_alarms *as, const char *tenant, const char *name,
                         enum owl_alarm_state state, const char *reason,
                         const char *reason_data, int64_t now_ms, owl_error *err);

/* owl_alarms_tick — evaluates every alarm at now_ms; each change is written (alarm record,
 * StateUpdate history item with the reason and StateReasonData), then reported to the hook. */
int owl_alarms_tick(owl_alarms *as, int64_t now_ms, owl_error *err);

/* owl_alarms_get — the alarm's state, or OWL_ENOTFOUND. */
int owl_alarms_get(owl_alarms *as, const char *tenant, const char *name, owl_alarm_info *out);

/* owl_alarms_history — the tenant's history items (of one alarm, or all when alarm is
 * NULL), oldest first; fn returns non-zero to stop. */
int owl_alarms_history(owl_alarms *as, const char *tenant, const char *alarm,
                       owl_alarm_history_fn fn, void *ud, owl_error *err);

/* An alarm as DescribeAlarms shows it, valid during owl_alarms_list's callback. */
typedef struct owl_alarm_view {
    owl_alarm_def def;
    char *const *actions[3];
    enum owl_alarm_state state;
    const char *reason, *reason_data;
    int64_t state_ms, config_ms;
    const char *rule; /* a composite alarm's AlarmRule; NULL for a metric alarm */
    /* a composite's suppression in force: "WaitPeriod", "ExtensionPeriod", "Alarm", or NULL */
    const char *suppressed_by;
    char suppressed_reason[600];
} owl_alarm_view;
typedef int (*owl_alarm_list_fn)(void *ud, const owl_alarm_view *v);

/* owl_alarms_list — the tenant's alarms in name order; fn returns non-zero to stop. Holds the
 * module's lock: fn must not call owl_alarms_*. */
int owl_alarms_list(owl_alarms *as, const char *tenant, owl_alarm_list_fn fn, void *ud);

/* owl_alarms_start — an evaluator thread calling owl_alarms_tick every second; stopped by
 * owl_alarms_close. */
int owl_alarms_start(owl_alarms *as, owl_error *err);

/* owl_alarms_add_history — a history item of the alarm (type "Action" for deliveries). */
int owl_alarms_add_history(owl_alarms *as, const char *tenant, const char *alarm,
                           const char *type, int64_t time_ms, const char *summary,
                           const char *data, owl_error *err);

/* owl_alarms_set_actions_enabled — Enable/DisableAlarmActions: the named alarms of tenant
 * (unknown names are skipped, as CloudWatch does), each change durable. */
int owl_alarms_set_actions_enabled(owl_alarms *as, const char *tenant, const char *const *names,
                                   size_t n, int enabled, owl_error *err);

/* owl_alarms_put_composite — PutCompositeAlarm: d gives the name, description, actions and
 * d->spec.tenant (the rest of spec is unused); rule_text the AlarmRule (analytics/composite.h).
 * A composite is ALARM while its rule holds, else OK, re-evaluated in the same pass as any
 * change of a child (a tick, SetAlarmState); a rule that reaches its own alarm, directly or
 * through other composites, and a metric alarm's name are refused (OWL_EINVAL). */
int owl_alarms_put_composite(owl_alarms *as, const owl_alarm_def *d, const char *rule_text,
                             int64_t now_ms, owl_error *err);

/* What the evaluator did: alarms held, ticks run, the last tick and the last tick that
 * evaluated every metric alarm (the figure bench/alarms.sh reads through GET /metrics). */
typedef struct owl_alarm_tick_stats {
    int64_t at_ms;      /* when it ran (0: none yet) */
    size_t evaluated;   /* metric alarms evaluated in it */
    size_t changed;     /* state changes it made, composites included */
    int64_t took_ns;
} owl_alarm_tick_stats;
typedef struct owl_alarm_stats {
    size_t metric_alarms, composite_alarms;
    uint64_t ticks;
    owl_alarm_tick_stats last, last_full;
} owl_alarm_stats;
void owl_alarms_stats(owl_alarms *as, owl_alarm_stats *out);

/* owl_alarms_prune_history — deletes history items older than two weeks (CloudWatch keeps
 * them that long); the evaluator thread calls it hourly. *removed (may be NULL): how many. */
int owl_alarms_prune_history(owl_alarms *as, int64_t now_ms, size_t *removed, owl_error *err);

/* ---- alarm history pages (alarm_history.c) ---- */

#define OWL_HISTORY_PAGE_MAX 100 /* DescribeAlarmHistory's MaxRecords */
#define OWL_HISTORY_TOKEN 48     /* room for a page token and its NUL */

/* One page of DescribeAlarmHistory. Strings are borrowed for the call. */
typedef struct owl_alarm_history_query {
    const char *tenant;
    const char *alarm;        /* AlarmName; NULL: every alarm */
    const char *type;         /* HistoryItemType; NULL: every type */
    int64_t start_ms, end_ms; /* items with start_ms <= time < end_ms */
    int descending;           /* ScanBy TimestampDescending: the newest first */
    size_t max;               /* items per page, 1 to OWL_HISTORY_PAGE_MAX */
    const char *token;        /* NULL or "": the first page; else a token given out before */
    /* keep (may be NULL): whether an item belongs to the answer (AlarmTypes). Called while
     * the metadata store is read-locked: it must not call owl_meta_* nor owl_alarms_*. */
    int (*keep)(void *ud, const owl_alarm_history_item *it);
    void *keep_ud;
} owl_alarm_history_query;

/* owl_alarm_history_page — the page of q's items from the metadata store, oldest or newest
 * first, each given to fn (no lock held; non-zero stops, and then no token is given). next
 * gets the token of the next page, "" when this page is the last. A token stays valid while
 * items arrive and names a position, not a snapshot: each item present when the scan began
 * is given once. OWL_EINVAL for a max out of range or a token this function did not give out
 * to q->tenant for q's direction (err: "The service cannot find the NextToken you passed."),
 * OWL_ENOMEM. Thread-safe. */
int owl_alarm_history_page(owl_meta *meta, const owl_alarm_history_query *q,
                           owl_alarm_history_fn fn, void *ud, char next[OWL_HISTORY_TOKEN],
                           owl_error *err);

/* ---- alarm tags (alarm_tags.c) ---- */

/* CloudWatch's limits: characters are Unicode characters (UTF-8 code points). */
#define OWL_TAGS_MAX 50        /* tags of one alarm */
#define OWL_TAG_KEY_MAX 128    /* characters of a key (at least 1) */
#define OWL_TAG_VALUE_MAX 256  /* characters of a value (may be empty) */

typedef struct owl_tag {
    const char *key, *value;
} owl_tag;
typedef int (*owl_tag_fn)(void *ud, const owl_tag *tag);

/* The tags of every tenant's alarms, over a metadata store (kind "alarm-tags"), kept only
 * for alarms that exist in the alarms module it is given. */
typedef struct owl_alarm_tags owl_alarm_tags;

/* owl_alarm_tags_open — over meta and alarms, which must outlive it. First removes the
 * records of alarms that do not exist (a crash between the two writes of a creation or a
 * deletion leaves one; each is logged). OWL_ENOMEM, or the store's error. */
int owl_alarm_tags_open(owl_meta *meta, owl_alarms *alarms, owl_alarm_tags **out,
                        owl_error *err);
void owl_alarm_tags_close(owl_alarm_tags *t); /* accepts NULL */

/* owl_alarm_arn_parse — the alarm an ARN names, arn:PARTITION:cloudwatch:REGION:ACCOUNT:
 * alarm:NAME (any partition and region; NAME may hold ':'): *name points into arn. OWL_EINVAL
 * for anything else; OWL_ENOTFOUND when ACCOUNT is not tenant (no alarm of the caller's).
 * err says which. Pure. */
int owl_alarm_arn_parse(const char *arn, const char *tenant, const char **name, owl_error *err);

/* owl_alarm_tags_check — CloudWatch's rules for the tags of one request: at most 50, keys 1 to
 * 128 characters not beginning with "aws:" (any case), values 0 to 256 characters, no key
 * twice. OWL_EINVAL with err saying which. Pure. */
int owl_alarm_tags_check(const owl_tag *tags, size_t n, owl_error *err);

/* owl_alarm_tags_set — the tags of an alarm about to be created (before the alarm, so that
 * no alarm exists without the tags it was created with): tags[0..n) (checked as above)
 * replace the name's record, n = 0 removes it. The alarm need not exist yet; if its creation
 * fails, owl_alarm_tags_delete. Durable on OWL_OK. OWL_EINVAL (a rule, or a name that cannot
 * be an alarm's: empty or over 255 bytes), OWL_EIO, OWL_ENOSPC, OWL_ENOMEM. */
int owl_alarm_tags_set(owl_alarm_tags *t, const char *tenant, const char *alarm,
                       const owl_tag *tags, size_t n, owl_error *err);

/* owl_alarm_tags_add — TagResource: each tag is added, or replaces the value of its key.
 * Durable on OWL_OK; nothing changed otherwise. OWL_ENOTFOUND for an alarm that does not
 * exist; OWL_EINVAL for a rule, or when the alarm would hold more than 50 tags; store errors
 * as owl_alarm_tags_set. */
int owl_alarm_tags_add(owl_alarm_tags *t, const char *tenant, const char *alarm,
                       const owl_tag *tags, size_t n, owl_error *err);

/* owl_alarm_tags_remove — UntagResource: the tags of keys[0..n) go; keys the alarm does not
 * have are skipped. OWL_ENOTFOUND, OWL_EINVAL for a key that breaks the key rules, store
 * errors as above. */
int owl_alarm_tags_remove(owl_alarm_tags *t, const char *tenant, const char *alarm,
                          const char *const *keys, size_t n, owl_error *err);

/* owl_alarm_tags_delete — every tag of the alarm (after DeleteAlarms deleted it, or its
 * creation failed); OWL_OK when it had none. */
int owl_alarm_tags_delete(owl_alarm_tags *t, const char *tenant, const char *alarm,
                          owl_error *err);

/* owl_alarm_tags_list — ListTagsForResource: fn for each tag of the alarm in ascending key
 * order (bytewise), none when it has none; fn's strings are valid during the call, and
 * non-zero stops. OWL_ENOTFOUND, OWL_ENOMEM, OWL_EIO. Thread-safe, like every function
 * here. */
int owl_alarm_tags_list(owl_alarm_tags *t, const char *tenant, const char *alarm,
                        owl_tag_fn fn, void *ud, owl_error *err);

#endif

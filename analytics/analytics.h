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
} owl_alarm_def;

/* What a state change reports to the change hook (actions, events); reason and
 * history_data (CloudWatch's HistoryData JSON, with StateReasonData) are valid during the
 * call. */
typedef struct owl_alarm_change {
    char tenant[256], name[256];
    enum owl_alarm_state old_state, new_state;
    int64_t time_ms;
    int actions_enabled;
    char *reason, *history_data;
    char *description;     /* NULL when none */
    char **actions;        /* the new state's actions (NULL-terminated), empty when disabled */
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
void owl_alarms_set_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud);

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

/* owl_alarms_prune_history — deletes history items older than two weeks (CloudWatch keeps
 * them that long); the evaluator thread calls it hourly. *removed (may be NULL): how many. */
int owl_alarms_prune_history(owl_alarms *as, int64_t now_ms, size_t *removed, owl_error *err);

#endif

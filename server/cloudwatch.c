/* cloudwatch.c — the CloudWatch metrics actions (PutMetricData, GetMetricStatistics,
 * GetMetricData, ListMetrics) and alarm actions (PutMetricAlarm ... DescribeAlarmHistory,
 * the tags) as rows of the AWS action layer, so each is served in AWS query, JSON 1.0 and
 * Smithy RPC v2 CBOR at once, plus owl's native metrics API (POST /api/v1/metrics, GET
 * /api/v1/metrics/query in JSON or CSV). Handlers only translate: the rules and the numbers
 * are analytics/'s (docs/api/metrics.md, docs/api/alarms.md). */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "server/router.h"
#include "server/server.h"

#define PUT_MAX_BYTES (1024 * 1024) /* PutMetricData's request size limit */
#define MAX_STATS 5
#define MAX_EXT_STATS 10
#define MAX_QUERIES 500
#define GMD_MAX_DATAPOINTS 100800

/* ---- reading request documents ---- */

/* A number from a list element: a number, or (query protocol) its text. */
static int elem_double(const bson_iter_t *it, double *out)
{
    if (BSON_ITER_HOLDS_NUMBER(it)) {
        *out = bson_iter_as_double(it);
        return OWL_OK;
    }
    if (BSON_ITER_HOLDS_UTF8(it)) {
        const char *s = bson_iter_utf8(it, NULL);
        char *end;
        *out = strtod(s, &end);
        return *s && !*end ? OWL_OK : OWL_EINVAL;
    }
    return OWL_EINVAL;
}

static int fault_to_err(enum owl_metric_fault f)
{
    switch (f) {
    case OWL_MF_MISSING:
        return OWL_AWS_ERR_MissingParameter;
    case OWL_MF_COMBINATION:
        return OWL_AWS_ERR_InvalidParameterCombination;
    default:
        return OWL_AWS_ERR_InvalidParameterValue;
    }
}

/* The native API answers its own code for every rule. */
static int fail_rule(owl_aws_ctx *ctx, int cw_err, const char *msg)
{
    if (ctx->proto == OWL_AWS_NATIVE)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s", msg);
    return owl_aws_fail(ctx, (owl_aws_err)cw_err, "%s", msg);
}

/* Everything one request's datums point into. */
typedef struct datums {
    owl_datum *d;
    size_t n, cap;
    owl_dim *dims;     /* OWL_METRIC_MAX_DIMS per datum of the CloudWatch form */
    double *vals;      /* values and counts */
    size_t nvals, capvals;
} datums;

static void datums_free(datums *ds)
{
    free(ds->d);
    free(ds->dims);
    free(ds->vals);
}

static double *vals_take(datums *ds, size_t n)
{
    if (ds->nvals + n > ds->capvals)
        return NULL;
    double *p = ds->vals + ds->nvals;
    ds->nvals += n;
    return p;
}

/* The strings of fields kf and vf of one list element, {Name, Value} or {Key, Value} (each
 * left as it was when absent). */
static void field_pair(const bson_iter_t *it, const char *kf, const char *vf, const char **k,
                       const char **v)
{
    bson_iter_t d;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &d))
        return;
    while (bson_iter_next(&d)) {
        if (!BSON_ITER_HOLDS_UTF8(&d))
            continue;
        if (strcmp(bson_iter_key(&d), kf) == 0)
            *k = bson_iter_utf8(&d, NULL);
        else if (strcmp(bson_iter_key(&d), vf) == 0)
            *v = bson_iter_utf8(&d, NULL);
    }
}

static void dim_pair(const bson_iter_t *it, const char **name, const char **value)
{
    field_pair(it, "Name", "Value", name, value);
}

/* Dimensions at path (a list of {Name, Value}) into dims; *n their count. */
static int read_dims(owl_aws_ctx *ctx, const bson_t *in, const char *path, owl_dim *dims,
                     size_t *n)
{
    bson_iter_t it;
    *n = 0;
    int rc = owl_aws_get_list(ctx, in, path, &it);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK)
        return rc;
    while (bson_iter_next(&it)) {
        if (*n >= OWL_METRIC_MAX_DIMS + 1)
            break; /* the check names the limit */
        const char *name = NULL, *value = NULL;
        dim_pair(&it, &name, &value);
        if (!name || !value) {
            fail_rule(ctx, OWL_AWS_ERR_MissingParameter,
                      "Each dimension needs a Name and a Value.");
            return OWL_EINVAL;
        }
        if (*n < OWL_METRIC_MAX_DIMS + 1)
            dims[(*n)++] = (owl_dim){name, value};
    }
    return OWL_OK;
}

/* Values (and Counts) at path into ds; OWL_EINVAL after failing ctx. */
static int read_values(owl_aws_ctx *ctx, const bson_t *in, const char *path, datums *ds,
                       const double **out, size_t *n)
{
    bson_iter_t it;
    *out = NULL, *n = 0;
    int rc = owl_aws_get_list(ctx, in, path, &it);
    if (rc != OWL_OK)
        return rc;
    bson_iter_t c = it;
    size_t k = 0;
    while (bson_iter_next(&c))
        k++;
    if (k > OWL_METRIC_MAX_VALUES)
        return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterValue,
                         "The collection Values must not have a size greater than 150.");
    double *v = vals_take(ds, k);
    if (!v)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "out of value space");
    k = 0;
    while (bson_iter_next(&it))
        if (elem_double(&it, &v[k++]) != OWL_OK)
            return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterValue,
                             "Values and Counts must hold numbers.");
    *out = v, *n = k;
    return OWL_OK;
}

/* One MetricData entry (CloudWatch form) at index i. */
static int read_cw_datum(owl_aws_ctx *ctx, const bson_t *in, size_t i, const char *ns,
                         int64_t now, datums *ds)
{
    char path[96];
    owl_datum *d = &ds->d[ds->n];
    memset(d, 0, sizeof *d);
    d->id.ns = ns;
    d->time_ms = now;
    size_t len;
    snprintf(path, sizeof path, "MetricData.%zu.MetricName", i);
    if (owl_aws_get_str(ctx, in, path, &d->id.name, &len) == OWL_EINVAL)
        return OWL_EINVAL;
    snprintf(path, sizeof path, "MetricData.%zu.Unit", i);
    if (owl_aws_get_str(ctx, in, path, &d->unit, &len) == OWL_EINVAL)
        return OWL_EINVAL;
    snprintf(path, sizeof path, "MetricData.%zu.Timestamp", i);
    if (owl_aws_get_time_ms(ctx, in, path, &d->time_ms) == OWL_EINVAL)
        return OWL_EINVAL;
    int64_t res = 0;
    snprintf(path, sizeof path, "MetricData.%zu.StorageResolution", i);
    if (owl_aws_get_int(ctx, in, path, &res) == OWL_EINVAL)
        return OWL_EINVAL;
    d->resolution = res < 0 || res > 1000000 ? 2 : (int)res;
    owl_dim *dims = ds->dims + ds->n * (OWL_METRIC_MAX_DIMS + 1);
    snprintf(path, sizeof path, "MetricData.%zu.Dimensions", i);
    if (read_dims(ctx, in, path, dims, &d->id.ndims) != OWL_OK)
        return OWL_EINVAL;
    d->id.dims = dims;
    /* the value: Value, Values (+ Counts) or StatisticValues, exactly one */
    double value;
    int has_value = 0;
    snprintf(path, sizeof path, "MetricData.%zu.Value", i);
    int rc = owl_aws_get_double(ctx, in, path, &value);
    if (rc == OWL_EINVAL)
        return rc;
    has_value = rc == OWL_OK;
    const double *vals = NULL, *counts = NULL;
    size_t nv = 0, nc = 0;
    snprintf(path, sizeof path, "MetricData.%zu.Values", i);
    if ((rc = read_values(ctx, in, path, ds, &vals, &nv)) == OWL_EINVAL)
        return rc;
    int has_values = rc == OWL_OK;
    snprintf(path, sizeof path, "MetricData.%zu.Counts", i);
    if ((rc = read_values(ctx, in, path, ds, &counts, &nc)) == OWL_EINVAL)
        return rc;
    int has_counts = rc == OWL_OK;
    bson_iter_t sv;
    snprintf(path, sizeof path, "MetricData.%zu.StatisticValues", i);
    int has_stats = bson_iter_init(&sv, in) && bson_iter_find_descendant(&sv, path, &sv) &&
                    !BSON_ITER_HOLDS_NULL(&sv);
    char msg[200];
    if (has_value + has_values + has_stats > 1) {
        snprintf(msg, sizeof msg,
                 "The parameters MetricData.member.%zu.Value, MetricData.member.%zu.Values and "
                 "MetricData.member.%zu.StatisticValues are mutually exclusive.", i + 1, i + 1,
                 i + 1);
        return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterCombination, msg);
    }
    if (has_counts && !has_values) {
        snprintf(msg, sizeof msg, "The parameter MetricData.member.%zu.Counts needs Values.",
                 i + 1);
        return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterCombination, msg);
    }
    if (has_counts && nc != nv) {
        snprintf(msg, sizeof msg,
                 "The parameters MetricData.member.%zu.Values and MetricData.member.%zu.Counts "
                 "must be of the same size.", i + 1, i + 1);
        return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterValue, msg);
    }
    if (has_values && nv == 0) {
        snprintf(msg, sizeof msg, "The parameter MetricData.member.%zu.Values must not be empty.",
                 i + 1);
        return fail_rule(ctx, OWL_AWS_ERR_InvalidParameterValue, msg);
    }
    if (has_value) {
        double *v = vals_take(ds, 1);
        if (!v)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "out of value space");
        *v = value;
        d->values = v, d->nvalues = 1;
    } else if (has_values) {
        d->values = vals, d->counts = has_counts ? counts : NULL, d->nvalues = nv;
    } else if (has_stats) {
        static const char *const f[] = {"SampleCount", "Sum", "Minimum", "Maximum"};
        double *out[] = {&d->count, &d->sum, &d->min, &d->max};
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "MetricData.%zu.StatisticValues.%s", i, f[k]);
            rc = owl_aws_get_double(ctx, in, path, out[k]);
            if (rc == OWL_EINVAL)
                return rc;
            if (rc == OWL_ENOTFOUND) {
                snprintf(msg, sizeof msg,
                         "The parameter MetricData.member.%zu.StatisticValues.%s is required.",
                         i + 1, f[k]);
                return fail_rule(ctx, OWL_AWS_ERR_MissingParameter, msg);
            }
        }
        d->has_stats = 1;
    }
    ds->n++;
    return OWL_OK;
}

static int put_metric_data(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *ns;
    size_t len;
    if (ctx->rq->body_len > PUT_MAX_BYTES)
        return owl_aws_fail(ctx, OWL_AWS_ERR_RequestEntityTooLarge,
                            "Request size %zu exceeded 1048576 bytes", ctx->rq->body_len);
    int rc = owl_aws_get_str(ctx, in, "Namespace", &ns, &len);
    if (rc == OWL_EINVAL)
        return rc;
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter Namespace is required.");
    snprintf(call->resource, sizeof call->resource, "namespace/%.200s", ns);
    bson_iter_t it;
    rc = owl_aws_get_list(ctx, in, "MetricData", &it);
    if (rc == OWL_EINVAL)
        return rc;
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter MetricData is required.");
    size_t n = 0;
    while (bson_iter_next(&it))
        n++;
    if (n == 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter MetricData is required.");
    if (n > OWL_METRIC_MAX_DATUMS)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The collection MetricData must not have a size greater than 1000.");
    datums ds = {0};
    ds.cap = n;
    ds.capvals = n * (2 * OWL_METRIC_MAX_VALUES + 1);
    ds.d = calloc(n, sizeof *ds.d);
    ds.dims = calloc(n * (OWL_METRIC_MAX_DIMS + 1), sizeof *ds.dims);
    ds.vals = malloc(ds.capvals * sizeof *ds.vals);
    if (!ds.d || !ds.dims || !ds.vals) {
        datums_free(&ds);
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "out of memory");
    }
    int64_t now = owl_now_ms();
    for (size_t i = 0; i < n && rc != OWL_EINVAL; i++)
        rc = read_cw_datum(ctx, in, i, ns, now, &ds);
    if (rc != OWL_EINVAL) {
        enum owl_metric_fault f = OWL_MF_NONE;
        owl_error err = {0};
        rc = owl_metrics_put(call->srv->metrics, call->principal->tenant, ds.d, ds.n,
                             OWL_PUT_CLOUDWATCH, now, &f, &err);
        if (rc == OWL_EINVAL)
            fail_rule(ctx, fault_to_err(f), err.msg);
        else if (rc != OWL_OK)
            owl_aws_fail(ctx, rc == OWL_ENOSPC ? OWL_AWS_ERR_ServiceUnavailable
                                               : OWL_AWS_ERR_InternalServiceError,
                         "%s", err.msg);
    }
    datums_free(&ds);
    (void)out;
    return rc == OWL_OK ? OWL_OK : OWL_EINVAL;
}

/* ---- statistics of buckets ---- */

typedef struct statlist {
    owl_stat st[MAX_STATS + MAX_EXT_STATS];
    size_t n, nsimple;
} statlist;

static int read_stats(owl_aws_ctx *ctx, const bson_t *in, const char *field, int extended,
                      statlist *sl)
{
    bson_iter_t it;
    int rc = owl_aws_get_list(ctx, in, field, &it);
    if (rc != OWL_OK)
        return rc;
    size_t max = extended ? MAX_EXT_STATS : MAX_STATS, k = 0;
    while (bson_iter_next(&it)) {
        if (++k > max)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The collection %s must not have a size greater than %zu.",
                                field, max);
        if (!BSON_ITER_HOLDS_UTF8(&it))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "%s must hold strings.", field);
        const char *s = bson_iter_utf8(&it, NULL);
        owl_stat st;
        owl_error err = {0};
        if (owl_stat_parse(s, &st, &err) != OWL_OK ||
            (!extended && st.kind > OWL_STAT_MAXIMUM) || (extended && st.kind <= OWL_STAT_MAXIMUM))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter %s.member.%zu has an invalid value %s%s%s", field,
                                k, s, err.msg[0] ? ": " : "", err.msg);
        sl->st[sl->n++] = st;
    }
    return OWL_OK;
}

/* Reads Namespace, MetricName, Dimensions (prefix "" or "MetricStat.Metric.") of in. */
static int read_metric(owl_aws_ctx *ctx, const bson_t *in, const char *prefix, owl_metric_id *m,
                       owl_dim *dims)
{
    char path[128];
    size_t len;
    snprintf(path, sizeof path, "%sNamespace", prefix);
    int rc = owl_aws_get_str(ctx, in, path, &m->ns, &len);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter %s is required.",
                            path);
    if (rc != OWL_OK)
        return rc;
    snprintf(path, sizeof path, "%sMetricName", prefix);
    rc = owl_aws_get_str(ctx, in, path, &m->name, &len);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter %s is required.",
                            path);
    if (rc != OWL_OK)
        return rc;
    snprintf(path, sizeof path, "%sDimensions", prefix);
    if ((rc = read_dims(ctx, in, path, dims, &m->ndims)) != OWL_OK)
        return rc;
    if (m->ndims > OWL_METRIC_MAX_DIMS)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The collection %s must not have a size greater than 30.", path);
    m->dims = dims;
    return OWL_OK;
}

static int64_t required_time(owl_aws_ctx *ctx, const bson_t *in, const char *name, int *rc)
{
    int64_t t = 0;
    *rc = owl_aws_get_time_ms(ctx, in, name, &t);
    if (*rc == OWL_ENOTFOUND)
        *rc = owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter %s is required.",
                           name);
    return t;
}

static void append_double(bson_t *doc, const char *key, double v)
{
    BSON_APPEND_DOUBLE(doc, key, v);
}

static int get_metric_statistics(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_dim dims[OWL_METRIC_MAX_DIMS + 1];
    owl_metric_query q = {.tenant = call->principal->tenant};
    statlist sl = {0};
    int rc;
    if ((rc = read_metric(ctx, in, "", &q.id, dims)) != OWL_OK)
        return rc;
    q.start_ms = required_time(ctx, in, "StartTime", &rc);
    if (rc != OWL_OK)
        return rc;
    q.end_ms = required_time(ctx, in, "EndTime", &rc);
    if (rc != OWL_OK)
        return rc;
    int64_t period;
    if ((rc = owl_aws_get_int(ctx, in, "Period", &period)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter Period is required.");
    if (rc != OWL_OK)
        return rc;
    size_t len;
    if ((rc = owl_aws_get_str(ctx, in, "Unit", &q.unit, &len)) == OWL_EINVAL)
        return rc;
    if (q.unit && !owl_metric_unit_canon(q.unit))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter Unit has an invalid value %s.", q.unit);
    int r1 = read_stats(ctx, in, "Statistics", 0, &sl);
    if (r1 == OWL_EINVAL)
        return r1;
    sl.nsimple = sl.n;
    int r2 = read_stats(ctx, in, "ExtendedStatistics", 1, &sl);
    if (r2 == OWL_EINVAL)
        return r2;
    if (sl.n == 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter Statistics or ExtendedStatistics is required.");
    if (sl.nsimple && sl.n > sl.nsimple)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterCombination,
                            "You must specify either Statistics or ExtendedStatistics, but not "
                            "both.");
    if (period <= 0 || period > 86400 * 455 ||
        !(period == 1 || period == 5 || period == 10 || period == 30 || period % 60 == 0))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter Period must be 1, 5, 10, 30 or a multiple of 60.");
    if (q.start_ms >= q.end_ms)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter StartTime must be less than the parameter EndTime.");
    q.period_s = (int)period;
    int64_t pms = period * 1000;
    int64_t npoints = (q.end_ms - 1) / pms - q.start_ms / pms + 1;
    if (npoints > OWL_METRIC_MAX_DATAPOINTS)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterCombination,
                            "You have requested up to %" PRId64 " datapoints, which exceeds the "
                            "limit of 1440. You may reduce the datapoints requested by "
                            "increasing Period, or decreasing the time range.", npoints);
    snprintf(call->resource, sizeof call->resource, "metric/%.100s/%.100s", q.id.ns, q.id.name);
    owl_bucket_set bs;
    owl_error err = {0};
    if ((rc = owl_metrics_read(call->srv->metrics, &q, &bs, &err)) != OWL_OK)
        return owl_aws_fail(ctx, rc == OWL_EINVAL ? OWL_AWS_ERR_InvalidParameterValue
                                                  : OWL_AWS_ERR_InternalServiceError,
                            "%s", err.msg);
    BSON_APPEND_UTF8(out, "Label", q.id.name);
    bson_t arr, dp, ext;
    BSON_APPEND_ARRAY_BEGIN(out, "Datapoints", &arr);
    for (size_t i = 0; i < bs.n; i++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &dp);
        BSON_APPEND_DATE_TIME(&dp, "Timestamp", bs.b[i].time_ms);
        for (size_t k = 0; k < sl.nsimple; k++) {
            double v;
            if (owl_stat_eval(&sl.st[k], &bs.b[i], &v) == OWL_OK)
                append_double(&dp, sl.st[k].name, v);
        }
        if (sl.n > sl.nsimple) {
            BSON_APPEND_DOCUMENT_BEGIN(&dp, "ExtendedStatistics", &ext);
            for (size_t k = sl.nsimple; k < sl.n; k++) {
                double v;
                if (owl_stat_eval(&sl.st[k], &bs.b[i], &v) != OWL_OK)
                    continue;
                if (ctx->proto == OWL_AWS_QUERY) { /* a query-protocol map: entry/key/value */
                    bson_t e;
                    BSON_APPEND_DOCUMENT_BEGIN(&ext, "entry", &e);
                    BSON_APPEND_UTF8(&e, "key", sl.st[k].name);
                    append_double(&e, "value", v);
                    bson_append_document_end(&ext, &e);
                } else {
                    append_double(&ext, sl.st[k].name, v);
                }
            }
            bson_append_document_end(&dp, &ext);
        }
        BSON_APPEND_UTF8(&dp, "Unit", bs.b[i].unit ? bs.b[i].unit : "None");
        bson_append_document_end(&arr, &dp);
    }
    bson_append_array_end(out, &arr);
    owl_bucket_set_free(&bs);
    return OWL_OK;
}

/* ---- ListMetrics ---- */

typedef struct listout {
    bson_t *arr;
    size_t n;
} listout;

static int list_one(void *ud, const owl_metric_id *id, int64_t last)
{
    listout *lo = ud;
    bson_t m, dims, d;
    char key[24];
    snprintf(key, sizeof key, "%zu", lo->n++);
    BSON_APPEND_DOCUMENT_BEGIN(lo->arr, key, &m);
    BSON_APPEND_UTF8(&m, "Namespace", id->ns);
    BSON_APPEND_UTF8(&m, "MetricName", id->name);
    BSON_APPEND_ARRAY_BEGIN(&m, "Dimensions", &dims);
    for (size_t i = 0; i < id->ndims; i++) {
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&dims, key, &d);
        BSON_APPEND_UTF8(&d, "Name", id->dims[i].name);
        BSON_APPEND_UTF8(&d, "Value", id->dims[i].value);
        bson_append_document_end(&dims, &d);
    }
    bson_append_array_end(&m, &dims);
    bson_append_document_end(lo->arr, &m);
    (void)last;
    return 0;
}

static int list_metrics(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_metric_filter f = {0};
    owl_dim dims[OWL_METRIC_MAX_DIMS + 1];
    size_t len;
    const char *token = NULL, *recent = NULL;
    int rc;
    if ((rc = owl_aws_get_str(ctx, in, "Namespace", &f.ns, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "MetricName", &f.name, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "NextToken", &token, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "RecentlyActive", &recent, &len)) == OWL_EINVAL)
        return rc;
    bson_iter_t it;
    f.dims = dims;
    if (owl_aws_get_list(ctx, in, "Dimensions", &it) == OWL_OK) {
        while (bson_iter_next(&it)) {
            if (f.ndims == 10)
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                    "The collection Dimensions must not have a size greater "
                                    "than 10.");
            const char *name = NULL, *value = NULL;
            dim_pair(&it, &name, &value);
            if (!name)
                return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                    "Each dimension filter needs a Name.");
            dims[f.ndims++] = (owl_dim){name, value};
        }
    }
    if (recent) {
        if (strcmp(recent, "PT3H") != 0)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter RecentlyActive must be PT3H.");
        f.active_since_ms = owl_now_ms() - 3 * 3600 * 1000;
    }
    bson_t arr;
    char next[OWL_METRIC_TOKEN];
    owl_error err = {0};
    BSON_APPEND_ARRAY_BEGIN(out, "Metrics", &arr);
    listout lo = {&arr, 0};
    rc = owl_metrics_list(call->srv->metrics, call->principal->tenant, &f, token, 500, list_one,
                          &lo, next, &err);
    bson_append_array_end(out, &arr);
    if (rc == OWL_EINVAL)
        return owl_aws_fail(ctx, ctx->proto == OWL_AWS_NATIVE ? OWL_AWS_ERR_InvalidParameter
                                                              : OWL_AWS_ERR_InvalidNextToken,
                            "%s", err.msg);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    if (next[0])
        BSON_APPEND_UTF8(out, "NextToken", next);
    snprintf(call->resource, sizeof call->resource, "namespace/%.200s", f.ns ? f.ns : "*");
    return OWL_OK;
}

/* ---- GetMetricData ---- */

/* Query i of the list at field (MetricDataQueries, or PutMetricAlarm's Metrics) into q, its
 * dimensions into dims (room for OWL_METRIC_MAX_DIMS + 1). Strings point into in. */
static int read_mquery(owl_aws_ctx *ctx, const bson_t *in, const char *field, size_t i,
                       owl_mquery *q, owl_dim *dims)
{
    char path[128];
    size_t len;
    int rc;
    memset(q, 0, sizeof *q);
    q->return_data = 1;
    snprintf(path, sizeof path, "%s.%zu.Id", field, i);
    if ((rc = owl_aws_get_str(ctx, in, path, &q->id, &len)) == OWL_EINVAL)
        return rc;
    if (!owl_mquery_id_ok(q->id))
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                            "The value for parameter %s.member.%zu.Id must start with a "
                            "lowercase letter and hold only letters, digits and underscores.",
                            field, i + 1);
    snprintf(path, sizeof path, "%s.%zu.Label", field, i);
    if ((rc = owl_aws_get_str(ctx, in, path, &q->label, &len)) == OWL_EINVAL)
        return rc;
    snprintf(path, sizeof path, "%s.%zu.ReturnData", field, i);
    if ((rc = owl_aws_get_bool(ctx, in, path, &q->return_data)) == OWL_EINVAL)
        return rc;
    snprintf(path, sizeof path, "%s.%zu.Expression", field, i);
    if ((rc = owl_aws_get_str(ctx, in, path, &q->expr, &len)) == OWL_EINVAL)
        return rc;
    int64_t period = 0;
    bson_iter_t ms;
    snprintf(path, sizeof path, "%s.%zu.MetricStat", field, i);
    int has_stat = bson_iter_init(&ms, in) && bson_iter_find_descendant(&ms, path, &ms) &&
                   !BSON_ITER_HOLDS_NULL(&ms);
    if (!!q->expr == has_stat)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                            "The parameter %s.member.%zu must have exactly one of MetricStat "
                            "and Expression.", field, i + 1);
    if (q->expr) {
        size_t pos = 0;
        owl_error err = {0};
        if (owl_mexpr_parse(q->expr, &q->e, &pos, &err) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                                "Error in expression '%s': %s", q->id, err.msg);
        snprintf(path, sizeof path, "%s.%zu.Period", field, i);
        if ((rc = owl_aws_get_int(ctx, in, path, &period)) == OWL_EINVAL)
            return rc;
    } else {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "%s.%zu.MetricStat.Metric.", field, i);
        if ((rc = read_metric(ctx, in, prefix, &q->metric, dims)) != OWL_OK)
            return rc;
        snprintf(path, sizeof path, "%s.%zu.MetricStat.Period", field, i);
        if ((rc = owl_aws_get_int(ctx, in, path, &period)) == OWL_ENOTFOUND)
            return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                "The parameter %s is required.", path);
        if (rc != OWL_OK)
            return rc;
        const char *stat;
        snprintf(path, sizeof path, "%s.%zu.MetricStat.Stat", field, i);
        if ((rc = owl_aws_get_str(ctx, in, path, &stat, &len)) == OWL_ENOTFOUND)
            return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                "The parameter %s is required.", path);
        if (rc != OWL_OK)
            return rc;
        owl_error err = {0};
        if (owl_stat_parse(stat, &q->stat, &err) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                                "The value %s for parameter %s is not a statistic: %s", stat, path,
                                err.msg);
        snprintf(path, sizeof path, "%s.%zu.MetricStat.Unit", field, i);
        if ((rc = owl_aws_get_str(ctx, in, path, &q->unit, &len)) == OWL_EINVAL)
            return rc;
    }
    if (period == 0 && !q->expr)
        period = 60;
    if (period < 0 || period > 86400 * 455 ||
        (period && !(period == 1 || period == 5 || period == 10 || period == 30 ||
                     period % 60 == 0)))
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                            "The Period of %s.member.%zu must be 1, 5, 10, 30 or a multiple of "
                            "60.", field, i + 1);
    q->period_s = (int)period;
    return OWL_OK;
}

/* Every query of the list at field (1 to max) into *qs and *dims (caller frees both, and
 * the parsed expressions: owl_mquery_clear); ids unique. */
static int read_mqueries(owl_aws_ctx *ctx, const bson_t *in, const char *field, size_t max,
                         owl_mquery_set *set, owl_dim **dims)
{
    bson_iter_t it;
    int rc = owl_aws_get_list(ctx, in, field, &it);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter %s is required.",
                            field);
    if (rc != OWL_OK)
        return rc;
    size_t n = 0;
    while (bson_iter_next(&it))
        n++;
    if (n == 0 || n > max)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError, "%s must hold 1 to %zu queries.",
                            field, max);
    set->qs = calloc(n, sizeof *set->qs);
    *dims = calloc(n * (OWL_METRIC_MAX_DIMS + 1), sizeof **dims);
    if (!set->qs || !*dims)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = read_mquery(ctx, in, field, i, &set->qs[i],
                              *dims + i * (OWL_METRIC_MAX_DIMS + 1))) != OWL_OK)
            return rc;
        set->n = i + 1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(set->qs[k].id, set->qs[i].id) == 0)
                return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                                    "The Id %s is used by more than one query.", set->qs[i].id);
    }
    return OWL_OK;
}

static int get_metric_data(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_mquery_set g = {.tenant = call->principal->tenant, .m = call->srv->metrics};
    owl_dim *dims = NULL;
    owl_error err = {0};
    int rc;
    g.start_ms = required_time(ctx, in, "StartTime", &rc);
    if (rc != OWL_OK)
        return rc;
    g.end_ms = required_time(ctx, in, "EndTime", &rc);
    if (rc != OWL_OK)
        return rc;
    if (g.start_ms >= g.end_ms)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                            "The parameter StartTime must be less than the parameter EndTime.");
    const char *scan = NULL, *token = NULL;
    size_t len;
    int64_t maxdp = GMD_MAX_DATAPOINTS;
    if ((rc = owl_aws_get_str(ctx, in, "ScanBy", &scan, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "NextToken", &token, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_int(ctx, in, "MaxDatapoints", &maxdp)) == OWL_EINVAL)
        return rc;
    int desc = 1;
    if (scan && strcmp(scan, "TimestampAscending") == 0)
        desc = 0;
    else if (scan && strcmp(scan, "TimestampDescending") != 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ValidationError,
                            "ScanBy must be TimestampDescending or TimestampAscending.");
    if (maxdp <= 0 || maxdp > GMD_MAX_DATAPOINTS)
        maxdp = GMD_MAX_DATAPOINTS;
    uint64_t skip = 0;
    if (token && *token) {
        char *end;
        if (strncmp(token, "owlgmd1-", 8) != 0 || !(skip = strtoull(token + 8, &end, 16)) || *end)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidNextToken,
                                "The service cannot find the NextToken you passed.");
    }
    if ((rc = read_mqueries(ctx, in, "MetricDataQueries", MAX_QUERIES, &g, &dims)) != OWL_OK)
        goto out;
    for (size_t i = 0; i < g.n; i++) /* an expression's period: the one given, else 60 */
        if (!g.qs[i].period_s)
            g.qs[i].period_s = 60;
    snprintf(call->resource, sizeof call->resource, "queries/%zu", g.n);
    bson_t arr, r, ts, vs;
    BSON_APPEND_ARRAY_BEGIN(out, "MetricDataResults", &arr);
    uint64_t seen = 0, given = 0;
    int more = 0;
    size_t nres = 0;
    for (size_t i = 0; i < g.n; i++) {
        owl_mquery *q = &g.qs[i];
        if (!q->return_data)
            continue;
        if ((rc = owl_mquery_eval(&g, i, &err)) != OWL_OK) {
            owl_aws_fail(ctx, rc == OWL_EINVAL ? OWL_AWS_ERR_ValidationError
                                               : OWL_AWS_ERR_InternalServiceError,
                         "%s", err.msg);
            bson_append_array_end(out, &arr);
            goto out;
        }
        for (size_t k = 0; k < q->result.n; k++) {
            owl_ts *s = &q->result.s[k];
            char key[24];
            snprintf(key, sizeof key, "%zu", nres++);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &r);
            BSON_APPEND_UTF8(&r, "Id", q->id);
            BSON_APPEND_UTF8(&r, "Label", s->label ? s->label : q->label ? q->label : q->id);
            bson_t tarr = BSON_INITIALIZER, varr = BSON_INITIALIZER;
            size_t np = 0;
            for (size_t j = 0; j < s->n; j++) {
                size_t idx = desc ? s->n - 1 - j : j;
                if (seen++ < skip)
                    continue;
                if (given >= (uint64_t)maxdp) {
                    more = 1;
                    break;
                }
                given++;
                snprintf(key, sizeof key, "%zu", np++);
                BSON_APPEND_DATE_TIME(&tarr, key, s->t[idx]);
                BSON_APPEND_DOUBLE(&varr, key, s->v[idx]);
            }
            BSON_APPEND_ARRAY_BEGIN(&r, "Timestamps", &ts);
            bson_concat(&ts, &tarr);
            bson_append_array_end(&r, &ts);
            BSON_APPEND_ARRAY_BEGIN(&r, "Values", &vs);
            bson_concat(&vs, &varr);
            bson_append_array_end(&r, &vs);
            bson_destroy(&tarr);
            bson_destroy(&varr);
            BSON_APPEND_UTF8(&r, "StatusCode", more ? "PartialData" : "Complete");
            bson_append_document_end(&arr, &r);
        }
    }
    bson_append_array_end(out, &arr);
    if (more) {
        char next[40];
        snprintf(next, sizeof next, "owlgmd1-%" PRIx64, skip + given);
        BSON_APPEND_UTF8(out, "NextToken", next);
    }
    rc = OWL_OK;
out:
    owl_mquery_clear(&g);
    free(g.qs);
    free(dims);
    return rc;
}

/* ---- alarms ---- */

#define MAX_ALARM_NAMES 100

/* A list of strings at field (at most max), pointers into in. */
static int read_strings(owl_aws_ctx *ctx, const bson_t *in, const char *field, size_t max,
                        const char **out, size_t *n)
{
    bson_iter_t it;
    *n = 0;
    int rc = owl_aws_get_list(ctx, in, field, &it);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK)
        return rc;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_UTF8(&it))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s must hold strings.",
                                field);
        if (*n == max)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The collection %s must not have a size greater than %zu.",
                                field, max);
        out[(*n)++] = bson_iter_utf8(&it, NULL);
    }
    return OWL_OK;
}

/* What metric and composite alarms share: AlarmDescription, ActionsEnabled and the three
 * action lists (into acts, which d points at). */
static int read_alarm_common(owl_aws_ctx *ctx, const bson_t *in, owl_alarm_def *d,
                             const char *acts[3][OWL_ALARM_MAX_ACTIONS + 1])
{
    static const char *const fields[3] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    size_t len;
    int rc, enabled;
    if ((rc = owl_aws_get_str(ctx, in, "AlarmDescription", &d->description, &len)) == OWL_EINVAL)
        return rc;
    if ((rc = owl_aws_get_bool(ctx, in, "ActionsEnabled", &enabled)) == OWL_OK)
        d->actions_enabled = enabled;
    else if (rc == OWL_EINVAL)
        return rc;
    for (int k = 0; k < 3; k++) {
        if ((rc = read_strings(ctx, in, fields[k], OWL_ALARM_MAX_ACTIONS, acts[k],
                               &d->nactions[k])) != OWL_OK)
            return rc;
        d->actions[k] = acts[k];
    }
    return OWL_OK;
}

/* Tags (a list of {Key, Value}) into tags (room for OWL_TAGS_MAX + 1), checked by
 * CloudWatch's rules; OWL_ENOTFOUND when absent. */
static int read_tags(owl_aws_ctx *ctx, const bson_t *in, owl_tag *tags, size_t *n)
{
    bson_iter_t it;
    *n = 0;
    int rc = owl_aws_get_list(ctx, in, "Tags", &it);
    if (rc != OWL_OK)
        return rc;
    while (bson_iter_next(&it) && *n <= OWL_TAGS_MAX) { /* one more than allowed: refused */
        const char *k = NULL, *v = NULL;
        field_pair(&it, "Key", "Value", &k, &v);
        if (!k || !v)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "Each tag needs a Key and a Value.");
        tags[(*n)++] = (owl_tag){k, v};
    }
    owl_error err = {0};
    if (owl_alarm_tags_check(tags, *n, &err) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s", err.msg);
    return OWL_OK;
}

static int alarm_exists(owl_call *call, const char *name)
{
    owl_alarm_info info;
    if (owl_alarms_get(call->srv->alarms, call->principal->tenant, name, &info) != OWL_OK)
        return 0;
    free(info.reason_data);
    return 1;
}

/* PutMetricAlarm's and PutCompositeAlarm's Tags, before the alarm is written: a new alarm's
 * tags are stored first, so that no alarm exists without the tags it was created with (what
 * a crash leaves of them without the alarm is swept at the next start); an existing alarm's
 * are ignored, as CloudWatch does. *fresh: tags were stored (tags_undo them if the alarm is
 * then refused). A name no alarm can have is left to the alarms module to refuse. */
static int tags_for_new(owl_aws_ctx *ctx, const char *name, const owl_tag *tags, size_t n,
                        int *fresh)
{
    owl_call *call = ctx->ud;
    owl_error err = {0};
    *fresh = 0;
    if (n == 0 || alarm_exists(call, name))
        return OWL_OK;
    int rc = owl_alarm_tags_set(call->srv->alarm_tags, call->principal->tenant, name, tags, n,
                                &err);
    if (rc == OWL_EINVAL)
        return OWL_OK;
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    *fresh = 1;
    return OWL_OK;
}

/* The tags of an alarm the alarms module refused, or deleted. A failure is only logged: the
 * record left behind is swept at the next start. */
static void tags_undo(owl_call *call, const char *name)
{
    owl_error err = {0};
    if (owl_alarm_tags_delete(call->srv->alarm_tags, call->principal->tenant, name, &err) !=
        OWL_OK)
        owl_warn("alarm tags of %s/%s: %s", call->principal->tenant, name, err.msg);
}

/* PutMetricAlarm's work; a metric-math alarm's Metrics are read into *set and *mdims (the
 * caller frees them). */
static int put_alarm(owl_aws_ctx *ctx, const bson_t *in, owl_mquery_set *set, owl_dim **mdims)
{
    owl_call *call = ctx->ud;
    owl_dim dims[OWL_METRIC_MAX_DIMS + 1];
    const char *acts[3][OWL_ALARM_MAX_ACTIONS + 1];
    owl_alarm_def d = {.actions_enabled = 1};
    size_t len;
    int rc;
    d.spec.tenant = call->principal->tenant;
    if ((rc = owl_aws_get_str(ctx, in, "AlarmName", &d.name, &len)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter AlarmName is required.");
    if (rc != OWL_OK)
        return rc;
    if ((rc = read_alarm_common(ctx, in, &d, acts)) != OWL_OK)
        return rc;
    bson_iter_t mit;
    const char *stat = NULL, *ext = NULL, *s;
    int64_t period = 0, evals, dta;
    owl_error err = {0};
    if (owl_aws_get_list(ctx, in, "Metrics", &mit) == OWL_OK) {
        /* a metric-math alarm: the Metrics list instead of one metric */
        static const char *const single[] = {"MetricName", "Namespace", "Statistic",
                                             "ExtendedStatistic", "Period", "Unit",
                                             "Dimensions"};
        for (size_t k = 0; k < OWL_ARRAY_LEN(single); k++) {
            bson_iter_t x;
            if (bson_iter_init_find(&x, in, single[k]))
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterCombination,
                                    "Metrics cannot be given with %s.", single[k]);
        }
        if ((rc = read_mqueries(ctx, in, "Metrics", OWL_ALARM_MAX_METRICS, set, mdims)) !=
            OWL_OK)
            return rc;
        for (size_t i = 0; i < set->n; i++) /* the alarm's period: its MetricStats' */
            if (!set->qs[i].expr && !period)
                period = set->qs[i].period_s;
        for (size_t i = 0; i < set->n && !period; i++)
            period = set->qs[i].period_s;
        d.metrics = set->qs;
        d.nmetrics = set->n;
        d.spec.id = (owl_metric_id){"", "", NULL, 0};
        owl_stat_parse("SampleCount", &d.spec.stat, NULL);
        goto rule;
    }
    if ((rc = read_metric(ctx, in, "", &d.spec.id, dims)) != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_str(ctx, in, "Statistic", &stat, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "ExtendedStatistic", &ext, &len)) == OWL_EINVAL)
        return rc;
    if ((stat != NULL) == (ext != NULL))
        return owl_aws_fail(ctx, stat ? OWL_AWS_ERR_InvalidParameterCombination
                                      : OWL_AWS_ERR_MissingParameter,
                            "Exactly one of Statistic and ExtendedStatistic must be given.");
    if (owl_stat_parse(stat ? stat : ext, &d.spec.stat, &err) != OWL_OK ||
        (stat && d.spec.stat.kind > OWL_STAT_MAXIMUM) ||
        (ext && d.spec.stat.kind <= OWL_STAT_MAXIMUM))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter %s has an invalid value %s.",
                            stat ? "Statistic" : "ExtendedStatistic", stat ? stat : ext);
    if ((rc = owl_aws_get_str(ctx, in, "Unit", &d.spec.unit, &len)) == OWL_EINVAL)
        return rc;
    if (d.spec.unit && !owl_metric_unit_canon(d.spec.unit))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter Unit has an invalid value %s.", d.spec.unit);
    if ((rc = owl_aws_get_int(ctx, in, "Period", &period)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter Period is required.");
    if (rc != OWL_OK)
        return rc;
rule:
    if ((rc = owl_aws_get_int(ctx, in, "EvaluationPeriods", &evals)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter EvaluationPeriods is required.");
    if (rc != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_int(ctx, in, "DatapointsToAlarm", &dta)) == OWL_ENOTFOUND)
        dta = evals;
    else if (rc != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_double(ctx, in, "Threshold", &d.spec.threshold)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter Threshold is required.");
    if (rc != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_str(ctx, in, "ComparisonOperator", &s, &len)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter ComparisonOperator is required.");
    if (rc != OWL_OK)
        return rc;
    if (owl_alarm_cmp_parse(s, &d.spec.cmp, &err) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s", err.msg);
    d.spec.missing = OWL_MISSING_MISSING;
    if ((rc = owl_aws_get_str(ctx, in, "TreatMissingData", &s, &len)) == OWL_OK) {
        if (owl_alarm_missing_parse(s, &d.spec.missing, &err) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s", err.msg);
    } else if (rc == OWL_EINVAL) {
        return rc;
    }
    if ((rc = owl_aws_get_str(ctx, in, "EvaluateLowSampleCountPercentile", &s, &len)) == OWL_OK) {
        if (strcmp(s, "ignore") != 0 && strcmp(s, "evaluate") != 0)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter EvaluateLowSampleCountPercentile must be "
                                "evaluate or ignore.");
        d.spec.low_sample_ignore = strcmp(s, "ignore") == 0;
    } else if (rc == OWL_EINVAL) {
        return rc;
    }
    d.spec.period_s = period > 0 && period <= 86400 ? (int)period : -1;
    d.spec.eval_periods = evals > 0 && evals <= 100000 ? (int)evals : -1;
    d.spec.datapoints_to_alarm = dta > 0 && dta <= 100000 ? (int)dta : -1;
    owl_tag tags[OWL_TAGS_MAX + 1];
    size_t ntags;
    int fresh;
    if ((rc = read_tags(ctx, in, tags, &ntags)) == OWL_EINVAL)
        return rc;
    snprintf(call->resource, sizeof call->resource, "alarm/%.200s", d.name);
    if ((rc = tags_for_new(ctx, d.name, tags, ntags, &fresh)) != OWL_OK)
        return rc;
    if ((rc = owl_alarms_put(call->srv->alarms, &d, owl_now_ms(), &err)) != OWL_OK && fresh)
        tags_undo(call, d.name);
    if (rc == OWL_EINVAL)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s", err.msg);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    return OWL_OK;
}

static int put_metric_alarm(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_mquery_set set = {0};
    owl_dim *mdims = NULL;
    (void)out;
    int rc = put_alarm(ctx, in, &set, &mdims);
    owl_mquery_clear(&set);
    free(set.qs);
    free(mdims);
    return rc;
}

/* AlarmTypes into want_metric / want_comp: as CloudWatch, metric alarms only when absent. */
static int read_alarm_types(owl_aws_ctx *ctx, const bson_t *in, int *want_metric,
                            int *want_comp)
{
    const char *types[2];
    size_t n;
    int rc = read_strings(ctx, in, "AlarmTypes", 2, types, &n);
    *want_metric = n == 0, *want_comp = 0;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        if (!strcmp(types[i], "MetricAlarm"))
            *want_metric = 1;
        else if (!strcmp(types[i], "CompositeAlarm"))
            *want_comp = 1;
        else
            rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                              "The parameter AlarmTypes must hold CompositeAlarm or "
                              "MetricAlarm.");
    }
    return rc;
}

static void append_strs(bson_t *doc, const char *key, char *const *v)
{
    bson_t arr;
    char k[24];
    BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
    for (size_t i = 0; v && v[i]; i++) {
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_UTF8(&arr, k, v[i]);
    }
    bson_append_array_end(doc, &arr);
}

typedef struct describe_ctx {
    const char **names;
    size_t nnames;
    const char *prefix, *state, *after;
    const owl_metric_id *metric; /* DescribeAlarmsForMetric's filters */
    const owl_stat *stat;
    int64_t period;
    const char *unit;
    int composite; /* listing composite alarms, not metric ones */
    int64_t max;
    bson_t *arr;
    size_t n;
    char next[256];
    const char *tenant;
} describe_ctx;

/* The same metric: namespace, name and every dimension (in any order). */
static int same_metric(const owl_metric_id *a, const owl_metric_id *b)
{
    if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) || a->ndims != b->ndims)
        return 0;
    for (size_t i = 0; i < a->ndims; i++) {
        size_t j = 0;
        while (j < b->ndims && (strcmp(a->dims[i].name, b->dims[j].name) ||
                                strcmp(a->dims[i].value, b->dims[j].value)))
            j++;
        if (j == b->ndims)
            return 0;
    }
    return 1;
}

/* id's dimensions as CloudWatch's [{Name, Value}]. */
static void append_dims(bson_t *doc, const char *field, const owl_metric_id *id)
{
    bson_t dims, dd;
    char key[24];
    BSON_APPEND_ARRAY_BEGIN(doc, field, &dims);
    for (size_t i = 0; i < id->ndims; i++) {
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&dims, key, &dd);
        BSON_APPEND_UTF8(&dd, "Name", id->dims[i].name);
        BSON_APPEND_UTF8(&dd, "Value", id->dims[i].value);
        bson_append_document_end(&dims, &dd);
    }
    bson_append_array_end(doc, &dims);
}

/* A metric-math alarm's Metrics, as PutMetricAlarm took them. */
static void append_mqueries(bson_t *doc, const owl_mquery *qs, size_t n)
{
    bson_t arr, q, st, m;
    char key[24];
    BSON_APPEND_ARRAY_BEGIN(doc, "Metrics", &arr);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &q);
        BSON_APPEND_UTF8(&q, "Id", qs[i].id);
        if (qs[i].label)
            BSON_APPEND_UTF8(&q, "Label", qs[i].label);
        BSON_APPEND_BOOL(&q, "ReturnData", qs[i].return_data != 0);
        if (qs[i].expr) {
            BSON_APPEND_UTF8(&q, "Expression", qs[i].expr);
            if (qs[i].period_s)
                BSON_APPEND_INT32(&q, "Period", qs[i].period_s);
        } else {
            BSON_APPEND_DOCUMENT_BEGIN(&q, "MetricStat", &st);
            BSON_APPEND_DOCUMENT_BEGIN(&st, "Metric", &m);
            BSON_APPEND_UTF8(&m, "Namespace", qs[i].metric.ns);
            BSON_APPEND_UTF8(&m, "MetricName", qs[i].metric.name);
            append_dims(&m, "Dimensions", &qs[i].metric);
            bson_append_document_end(&st, &m);
            BSON_APPEND_INT32(&st, "Period", qs[i].period_s);
            BSON_APPEND_UTF8(&st, "Stat", qs[i].stat.name);
            if (qs[i].unit)
                BSON_APPEND_UTF8(&st, "Unit", qs[i].unit);
            bson_append_document_end(&q, &st);
        }
        bson_append_document_end(&arr, &q);
    }
    bson_append_array_end(doc, &arr);
}

static int describe_one(void *ud, const owl_alarm_view *v)
{
    describe_ctx *c = ud;
    const owl_alarm_spec *sp = &v->def.spec;
    if ((v->rule != NULL) != c->composite)
        return 0;
    if (c->after && strcmp(v->def.name, c->after) <= 0)
        return 0;
    if (c->prefix && strncmp(v->def.name, c->prefix, strlen(c->prefix)) != 0)
        return 0;
    if (c->state && strcmp(c->state, owl_alarm_state_name(v->state)) != 0)
        return 0;
    if (c->metric && !same_metric(c->metric, &sp->id))
        return 0;
    if ((c->stat && strcmp(c->stat->name, sp->stat.name) != 0) ||
        (c->period && c->period != sp->period_s) ||
        (c->unit && (!sp->unit || strcmp(c->unit, sp->unit) != 0)))
        return 0;
    if (c->nnames) {
        size_t i = 0;
        while (i < c->nnames && strcmp(c->names[i], v->def.name) != 0)
            i++;
        if (i == c->nnames)
            return 0;
    }
    if ((int64_t)c->n == c->max)
        return 1; /* a page is full */
    char key[24], arn[600];
    snprintf(key, sizeof key, "%zu", c->n++);
    bson_t a;
    BSON_APPEND_DOCUMENT_BEGIN(c->arr, key, &a);
    BSON_APPEND_UTF8(&a, "AlarmName", v->def.name);
    /* what metric and composite alarms share */
    snprintf(arn, sizeof arn, "arn:aws:cloudwatch:us-east-1:%s:alarm:%s", c->tenant, v->def.name);
    BSON_APPEND_UTF8(&a, "AlarmArn", arn);
    if (v->def.description)
        BSON_APPEND_UTF8(&a, "AlarmDescription", v->def.description);
    BSON_APPEND_DATE_TIME(&a, "AlarmConfigurationUpdatedTimestamp", v->config_ms);
    BSON_APPEND_BOOL(&a, "ActionsEnabled", v->def.actions_enabled != 0);
    append_strs(&a, "OKActions", v->actions[OWL_ALARM_OK]);
    append_strs(&a, "AlarmActions", v->actions[OWL_ALARM_ALARM]);
    append_strs(&a, "InsufficientDataActions", v->actions[OWL_ALARM_INSUFFICIENT_DATA]);
    BSON_APPEND_UTF8(&a, "StateValue", owl_alarm_state_name(v->state));
    BSON_APPEND_UTF8(&a, "StateReason", v->reason);
    if (v->reason_data[0])
        BSON_APPEND_UTF8(&a, "StateReasonData", v->reason_data);
    BSON_APPEND_DATE_TIME(&a, "StateUpdatedTimestamp", v->state_ms);
    snprintf(c->next, sizeof c->next, "%s", v->def.name); /* the last shown */
    if (c->composite) {
        BSON_APPEND_UTF8(&a, "AlarmRule", v->rule);
        if (v->def.suppressor) {
            BSON_APPEND_UTF8(&a, "ActionsSuppressor", v->def.suppressor);
            BSON_APPEND_INT32(&a, "ActionsSuppressorWaitPeriod", v->def.suppressor_wait_s);
            BSON_APPEND_INT32(&a, "ActionsSuppressorExtensionPeriod",
                              v->def.suppressor_extension_s);
        }
        if (v->suppressed_by) {
            BSON_APPEND_UTF8(&a, "ActionsSuppressedBy", v->suppressed_by);
            BSON_APPEND_UTF8(&a, "ActionsSuppressedReason", v->suppressed_reason);
        }
        bson_append_document_end(c->arr, &a);
        return 0;
    }
    if (v->def.metrics) {
        append_mqueries(&a, v->def.metrics, v->def.nmetrics);
    } else {
        BSON_APPEND_UTF8(&a, "MetricName", sp->id.name);
        BSON_APPEND_UTF8(&a, "Namespace", sp->id.ns);
        if (sp->stat.kind <= OWL_STAT_MAXIMUM)
            BSON_APPEND_UTF8(&a, "Statistic", sp->stat.name);
        else
            BSON_APPEND_UTF8(&a, "ExtendedStatistic", sp->stat.name);
        append_dims(&a, "Dimensions", &sp->id);
        BSON_APPEND_INT32(&a, "Period", sp->period_s);
        if (sp->unit)
            BSON_APPEND_UTF8(&a, "Unit", sp->unit);
    }
    BSON_APPEND_INT32(&a, "EvaluationPeriods", sp->eval_periods);
    BSON_APPEND_INT32(&a, "DatapointsToAlarm", sp->datapoints_to_alarm);
    BSON_APPEND_DOUBLE(&a, "Threshold", sp->threshold);
    BSON_APPEND_UTF8(&a, "ComparisonOperator", owl_alarm_cmp_name(sp->cmp));
    BSON_APPEND_UTF8(&a, "TreatMissingData", owl_alarm_missing_name(sp->missing));
    if (sp->stat.kind == OWL_STAT_PCT)
        BSON_APPEND_UTF8(&a, "EvaluateLowSampleCountPercentile",
                         sp->low_sample_ignore ? "ignore" : "evaluate");
    bson_append_document_end(c->arr, &a);
    return 0;
}

static int describe_alarms(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *names[MAX_ALARM_NAMES];
    describe_ctx c = {.names = names, .max = 50, .tenant = call->principal->tenant};
    size_t len;
    int rc;
    if ((rc = read_strings(ctx, in, "AlarmNames", MAX_ALARM_NAMES, names, &c.nnames)) != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_str(ctx, in, "AlarmNamePrefix", &c.prefix, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "StateValue", &c.state, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "NextToken", &c.after, &len)) == OWL_EINVAL)
        return rc;
    if (c.nnames && c.prefix)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterCombination,
                            "AlarmNames and AlarmNamePrefix cannot be given together.");
    if (c.state && strcmp(c.state, "OK") && strcmp(c.state, "ALARM") &&
        strcmp(c.state, "INSUFFICIENT_DATA"))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter StateValue must be OK, ALARM or INSUFFICIENT_DATA.");
    if ((rc = owl_aws_get_int(ctx, in, "MaxRecords", &c.max)) == OWL_OK) {
        if (c.max < 1 || c.max > 100)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter MaxRecords must be between 1 and 100.");
    } else if (rc == OWL_EINVAL) {
        return rc;
    }
    if (c.after && !strlen(c.after))
        c.after = NULL;
    int want_metric, want_comp;
    if ((rc = read_alarm_types(ctx, in, &want_metric, &want_comp)) != OWL_OK)
        return rc;
    bson_t arr, comp;
    describe_ctx cc = c;
    BSON_APPEND_ARRAY_BEGIN(out, "MetricAlarms", &arr);
    c.arr = &arr;
    if (want_metric)
        owl_alarms_list(call->srv->alarms, call->principal->tenant, describe_one, &c);
    bson_append_array_end(out, &arr);
    BSON_APPEND_ARRAY_BEGIN(out, "CompositeAlarms", &comp);
    cc.arr = &comp;
    cc.composite = 1;
    if (want_comp)
        owl_alarms_list(call->srv->alarms, call->principal->tenant, describe_one, &cc);
    bson_append_array_end(out, &comp);
    if ((int64_t)c.n == c.max && c.next[0]) {
        /* a token only when more follow: ask again past the last shown */
        describe_ctx more = c;
        bson_t scratch = BSON_INITIALIZER;
        more.arr = &scratch;
        more.after = c.next;
        more.n = 0;
        more.max = 1;
        owl_alarms_list(call->srv->alarms, call->principal->tenant, describe_one, &more);
        if (more.n)
            BSON_APPEND_UTF8(out, "NextToken", c.next);
        bson_destroy(&scratch);
    }
    return OWL_OK;
}

static int put_composite_alarm(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *acts[3][OWL_ALARM_MAX_ACTIONS + 1], *rule;
    owl_alarm_def d = {.actions_enabled = 1};
    size_t len;
    int rc;
    (void)out;
    d.spec.tenant = call->principal->tenant;
    static const char *const need[] = {"AlarmName", "AlarmRule"};
    const char **vals[] = {&d.name, &rule};
    for (int k = 0; k < 2; k++) {
        if ((rc = owl_aws_get_str(ctx, in, need[k], vals[k], &len)) == OWL_ENOTFOUND)
            return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                "The parameter %s is required.", need[k]);
        if (rc != OWL_OK)
            return rc;
    }
    if ((rc = read_alarm_common(ctx, in, &d, acts)) != OWL_OK)
        return rc; /* the module checks them as PutMetricAlarm's (owl_alarm_def_check) */
    if ((rc = owl_aws_get_str(ctx, in, "ActionsSuppressor", &d.suppressor, &len)) == OWL_EINVAL)
        return rc;
    static const char *const periods[] = {"ActionsSuppressorWaitPeriod",
                                          "ActionsSuppressorExtensionPeriod"};
    int *pv[] = {&d.suppressor_wait_s, &d.suppressor_extension_s};
    for (int k = 0; k < 2; k++) {
        int64_t v;
        if ((rc = owl_aws_get_int(ctx, in, periods[k], &v)) == OWL_EINVAL)
            return rc;
        if (rc == OWL_OK && !d.suppressor)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterCombination,
                                "%s is given only with ActionsSuppressor.", periods[k]);
        if (rc == OWL_ENOTFOUND && d.suppressor)
            return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                "The parameter %s is required with ActionsSuppressor.",
                                periods[k]);
        if (rc == OWL_OK && (v < 0 || v > 86400))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter %s must be 0 to 86400 seconds.", periods[k]);
        *pv[k] = rc == OWL_OK ? (int)v : 0;
    }
    owl_tag tags[OWL_TAGS_MAX + 1];
    size_t ntags;
    int fresh;
    if ((rc = read_tags(ctx, in, tags, &ntags)) == OWL_EINVAL)
        return rc;
    snprintf(call->resource, sizeof call->resource, "alarm/%.200s", d.name);
    if ((rc = tags_for_new(ctx, d.name, tags, ntags, &fresh)) != OWL_OK)
        return rc;
    owl_error err = {0};
    rc = owl_alarms_put_composite(call->srv->alarms, &d, rule, owl_now_ms(), &err);
    if (rc != OWL_OK && fresh)
        tags_undo(call, d.name);
    if (rc == OWL_EINVAL)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue, "%s", err.msg);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    return OWL_OK;
}

static int describe_alarms_for_metric(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_dim dims[OWL_METRIC_MAX_DIMS + 1];
    owl_metric_id id = {0};
    owl_stat st;
    describe_ctx c = {.max = INT64_MAX, .tenant = call->principal->tenant, .metric = &id};
    const char *stat = NULL, *ext = NULL;
    size_t len;
    int rc;
    if ((rc = read_metric(ctx, in, "", &id, dims)) != OWL_OK)
        return rc;
    if ((rc = owl_aws_get_str(ctx, in, "Statistic", &stat, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "ExtendedStatistic", &ext, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "Unit", &c.unit, &len)) == OWL_EINVAL)
        return rc;
    if (stat || ext) {
        if (owl_stat_parse(stat ? stat : ext, &st, NULL) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter %s has an invalid value.",
                                stat ? "Statistic" : "ExtendedStatistic");
        c.stat = &st;
    }
    if ((rc = owl_aws_get_int(ctx, in, "Period", &c.period)) == OWL_EINVAL)
        return rc;
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "MetricAlarms", &arr);
    c.arr = &arr;
    owl_alarms_list(call->srv->alarms, call->principal->tenant, describe_one, &c);
    bson_append_array_end(out, &arr);
    return OWL_OK;
}

static int set_actions(owl_aws_ctx *ctx, const bson_t *in, int enabled)
{
    owl_call *call = ctx->ud;
    const char *names[MAX_ALARM_NAMES];
    size_t n;
    int rc;
    if ((rc = read_strings(ctx, in, "AlarmNames", MAX_ALARM_NAMES, names, &n)) != OWL_OK)
        return rc;
    if (n == 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter AlarmNames is required.");
    owl_error err = {0};
    if (owl_alarms_set_actions_enabled(call->srv->alarms, call->principal->tenant, names, n,
                                       enabled, &err) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    return OWL_OK;
}

static int enable_alarm_actions(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    return set_actions(ctx, in, 1);
}

static int disable_alarm_actions(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    return set_actions(ctx, in, 0);
}

static int delete_alarms(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *names[MAX_ALARM_NAMES];
    size_t n;
    int rc;
    (void)out;
    if ((rc = read_strings(ctx, in, "AlarmNames", MAX_ALARM_NAMES, names, &n)) != OWL_OK)
        return rc;
    if (n == 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter AlarmNames is required.");
    owl_error err = {0};
    rc = owl_alarms_delete(call->srv->alarms, call->principal->tenant, names, n, &err);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFound,
                            "The alarm %s does not exist.", err.msg);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        tags_undo(call, names[i]);
    return OWL_OK;
}

/* ---- TagResource, UntagResource, ListTagsForResource ---- */

/* The answer to the tag module's failure: an unknown alarm is CloudWatch's
 * ResourceNotFoundException, with the 404 its TagResource family answers. */
static int tags_fail(owl_aws_ctx *ctx, int rc, const owl_error *err)
{
    owl_aws_err e = rc == OWL_EINVAL      ? OWL_AWS_ERR_InvalidParameterValue
                    : rc == OWL_ENOTFOUND ? OWL_AWS_ERR_ResourceNotFoundException404
                                          : OWL_AWS_ERR_InternalServiceError;
    return owl_aws_fail(ctx, e, "%s", err->msg);
}

/* The caller's alarm ResourceARN names into *name (pointing into in), or the answer given:
 * InvalidParameterValue for a malformed ARN, ResourceNotFoundException (404) for another
 * account's. Whether the alarm exists is the tag store's to say (tags_fail). */
static int arn_alarm(owl_aws_ctx *ctx, const bson_t *in, const char **name)
{
    owl_call *call = ctx->ud;
    const char *arn;
    size_t len;
    int rc = owl_aws_get_str(ctx, in, "ResourceARN", &arn, &len);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter ResourceARN is required.");
    if (rc != OWL_OK)
        return rc;
    owl_error err = {0};
    rc = owl_alarm_arn_parse(arn, call->principal->tenant, name, &err);
    snprintf(call->resource, sizeof call->resource, "alarm/%.200s",
             rc == OWL_OK ? *name : arn);
    return rc == OWL_OK ? OWL_OK : tags_fail(ctx, rc, &err);
}

static int tag_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_tag tags[OWL_TAGS_MAX + 1];
    const char *name;
    size_t n;
    int rc;
    (void)out;
    if ((rc = read_tags(ctx, in, tags, &n)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter, "The parameter Tags is required.");
    if (rc != OWL_OK || (rc = arn_alarm(ctx, in, &name)) != OWL_OK)
        return rc;
    owl_error err = {0};
    rc = owl_alarm_tags_add(call->srv->alarm_tags, call->principal->tenant, name, tags, n, &err);
    return rc == OWL_OK ? OWL_OK : tags_fail(ctx, rc, &err);
}

static int untag_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *keys[OWL_TAGS_MAX], *name;
    size_t n;
    int rc;
    bson_iter_t it;
    (void)out;
    if ((rc = owl_aws_get_list(ctx, in, "TagKeys", &it)) == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                            "The parameter TagKeys is required.");
    if (rc != OWL_OK ||
        (rc = read_strings(ctx, in, "TagKeys", OWL_TAGS_MAX, keys, &n)) != OWL_OK ||
        (rc = arn_alarm(ctx, in, &name)) != OWL_OK)
        return rc;
    owl_error err = {0};
    rc = owl_alarm_tags_remove(call->srv->alarm_tags, call->principal->tenant, name, keys, n,
                               &err);
    return rc == OWL_OK ? OWL_OK : tags_fail(ctx, rc, &err);
}

typedef struct tags_out {
    bson_t *arr;
    size_t n;
} tags_out;

static int tag_one(void *ud, const owl_tag *tag)
{
    tags_out *o = ud;
    char key[24];
    bson_t d;
    snprintf(key, sizeof key, "%zu", o->n++);
    BSON_APPEND_DOCUMENT_BEGIN(o->arr, key, &d);
    BSON_APPEND_UTF8(&d, "Key", tag->key);
    BSON_APPEND_UTF8(&d, "Value", tag->value);
    bson_append_document_end(o->arr, &d);
    return 0;
}

static int list_tags_for_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *name;
    int rc;
    if ((rc = arn_alarm(ctx, in, &name)) != OWL_OK)
        return rc;
    bson_t arr;
    owl_error err = {0};
    BSON_APPEND_ARRAY_BEGIN(out, "Tags", &arr);
    tags_out o = {&arr, 0};
    rc = owl_alarm_tags_list(call->srv->alarm_tags, call->principal->tenant, name, tag_one, &o,
                             &err);
    bson_append_array_end(out, &arr);
    return rc == OWL_OK ? OWL_OK : tags_fail(ctx, rc, &err);
}

static int set_alarm_state(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *name, *value, *reason, *data = NULL;
    size_t len;
    int rc;
    (void)out;
    static const char *const need[] = {"AlarmName", "StateValue", "StateReason"};
    const char **vals[] = {&name, &value, &reason};
    for (int k = 0; k < 3; k++) {
        if ((rc = owl_aws_get_str(ctx, in, need[k], vals[k], &len)) == OWL_ENOTFOUND)
            return owl_aws_fail(ctx, OWL_AWS_ERR_MissingParameter,
                                "The parameter %s is required.", need[k]);
        if (rc != OWL_OK)
            return rc;
    }
    if ((rc = owl_aws_get_str(ctx, in, "StateReasonData", &data, &len)) == OWL_EINVAL)
        return rc;
    enum owl_alarm_state st;
    if (!strcmp(value, "OK"))
        st = OWL_ALARM_OK;
    else if (!strcmp(value, "ALARM"))
        st = OWL_ALARM_ALARM;
    else if (!strcmp(value, "INSUFFICIENT_DATA"))
        st = OWL_ALARM_INSUFFICIENT_DATA;
    else
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter StateValue must be OK, ALARM or INSUFFICIENT_DATA.");
    if (strlen(reason) > 1023)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter StateReason must be at most 1023 characters.");
    if (data) {
        bson_t probe = BSON_INITIALIZER;
        owl_error jerr = {0};
        int ok = owl_aws_json_decode(data, strlen(data), &probe, &jerr) == OWL_OK;
        bson_destroy(&probe);
        if (!ok || strlen(data) > 4000)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidFormat,
                                "The parameter StateReasonData is not valid JSON (at most 4000 "
                                "characters).");
    }
    snprintf(call->resource, sizeof call->resource, "alarm/%.200s", name);
    owl_error err = {0};
    rc = owl_alarms_set_state(call->srv->alarms, call->principal->tenant, name, st, reason, data,
                              owl_now_ms(), &err);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFound, "The alarm %s does not exist.",
                            name);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    return OWL_OK;
}

/* ---- DescribeAlarmHistory ---- */

typedef struct history_ctx {
    char **composites; /* the tenant's composite alarms, in strcmp order (owl_alarms_list's) */
    size_t ncomp, capcomp;
    int oom;
    int want_metric, want_comp; /* AlarmTypes */
    bson_t *arr;
    size_t n;
} history_ctx;

static int collect_composite(void *ud, const owl_alarm_view *v)
{
    history_ctx *h = ud;
    if (!v->rule)
        return 0;
    if (h->ncomp == h->capcomp) {
        size_t cap = h->capcomp ? 2 * h->capcomp : 16;
        char **p = realloc(h->composites, cap * sizeof *p);
        if (!p)
            return h->oom = 1;
        h->composites = p, h->capcomp = cap;
    }
    if (!(h->composites[h->ncomp] = strdup(v->def.name)))
        return h->oom = 1;
    h->ncomp++;
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether an item's alarm is a composite one. An alarm deleted since is not known any more:
 * its items count as a metric alarm's. */
static int composite_item(const history_ctx *h, const owl_alarm_history_item *it)
{
    return h->ncomp && bsearch(&it->alarm, h->composites, h->ncomp, sizeof *h->composites,
                               by_str) != NULL;
}

static int history_keep(void *ud, const owl_alarm_history_item *it)
{
    const history_ctx *h = ud;
    return composite_item(h, it) ? h->want_comp : h->want_metric;
}

static int history_one(void *ud, const owl_alarm_history_item *it)
{
    history_ctx *h = ud;
    char key[24];
    snprintf(key, sizeof key, "%zu", h->n++);
    bson_t d;
    BSON_APPEND_DOCUMENT_BEGIN(h->arr, key, &d);
    BSON_APPEND_UTF8(&d, "AlarmName", it->alarm);
    BSON_APPEND_UTF8(&d, "AlarmType", composite_item(h, it) ? "CompositeAlarm" : "MetricAlarm");
    BSON_APPEND_DATE_TIME(&d, "Timestamp", it->time_ms);
    BSON_APPEND_UTF8(&d, "HistoryItemType", it->type);
    BSON_APPEND_UTF8(&d, "HistorySummary", it->summary ? it->summary : "");
    BSON_APPEND_UTF8(&d, "HistoryData", it->data ? it->data : "");
    bson_append_document_end(h->arr, &d);
    return 0;
}

static int describe_alarm_history(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_alarm_history_query q = {.tenant = call->principal->tenant, .start_ms = INT64_MIN,
                                 .end_ms = INT64_MAX, .descending = 1,
                                 .max = OWL_HISTORY_PAGE_MAX};
    history_ctx h = {0};
    const char *scan = NULL;
    size_t len;
    int64_t max;
    int rc;
    if ((rc = owl_aws_get_str(ctx, in, "AlarmName", &q.alarm, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "HistoryItemType", &q.type, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "ScanBy", &scan, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_str(ctx, in, "NextToken", &q.token, &len)) == OWL_EINVAL ||
        (rc = owl_aws_get_time_ms(ctx, in, "StartDate", &q.start_ms)) == OWL_EINVAL ||
        (rc = owl_aws_get_time_ms(ctx, in, "EndDate", &q.end_ms)) == OWL_EINVAL)
        return rc;
    if (q.type && strcmp(q.type, "ConfigurationUpdate") && strcmp(q.type, "StateUpdate") &&
        strcmp(q.type, "Action"))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter HistoryItemType must be ConfigurationUpdate, "
                            "StateUpdate or Action.");
    if (scan && strcmp(scan, "TimestampAscending") == 0)
        q.descending = 0;
    else if (scan && strcmp(scan, "TimestampDescending") != 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter ScanBy must be TimestampDescending or "
                            "TimestampAscending.");
    if (q.start_ms > q.end_ms)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                            "The parameter StartDate must not be after EndDate.");
    if ((rc = owl_aws_get_int(ctx, in, "MaxRecords", &max)) == OWL_OK) {
        if (max < 1 || max > OWL_HISTORY_PAGE_MAX)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterValue,
                                "The parameter MaxRecords must be between 1 and 100.");
        q.max = (size_t)max;
    } else if (rc == OWL_EINVAL) {
        return rc;
    }
    if ((rc = read_alarm_types(ctx, in, &h.want_metric, &h.want_comp)) != OWL_OK)
        return rc;
    snprintf(call->resource, sizeof call->resource, "alarm/%.200s", q.alarm ? q.alarm : "*");
    owl_alarms_list(call->srv->alarms, call->principal->tenant, collect_composite, &h);
    q.keep = history_keep, q.keep_ud = &h;
    bson_t arr;
    char next[OWL_HISTORY_TOKEN];
    owl_error err = {0};
    BSON_APPEND_ARRAY_BEGIN(out, "AlarmHistoryItems", &arr);
    h.arr = &arr;
    rc = h.oom ? owl_error_set(&err, OWL_ENOMEM, "out of memory")
               : owl_alarm_history_page(call->srv->meta, &q, history_one, &h, next, &err);
    bson_append_array_end(out, &arr);
    if (rc == OWL_EINVAL)
        rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidNextToken, "%s", err.msg);
    else if (rc != OWL_OK)
        rc = owl_aws_fail(ctx, OWL_AWS_ERR_InternalServiceError, "%s", err.msg);
    else if (next[0])
        BSON_APPEND_UTF8(out, "NextToken", next);
    for (size_t i = 0; i < h.ncomp; i++)
        free(h.composites[i]);
    free(h.composites);
    return rc;
}

/* ---- owl's native JSON ---- */

#define NATIVE_MAX_POINTS 1000000

/* One metrics[] entry of POST /api/v1/metrics at index i into ds (bulk form: many). */
static int read_native(owl_aws_ctx *ctx, const bson_t *in, size_t i, datums *ds, int64_t now)
{
    char path[96];
    size_t len;
    owl_datum base = {.time_ms = now};
    int rc;
    snprintf(path, sizeof path, "metrics.%zu.namespace", i);
    if ((rc = owl_aws_get_str(ctx, in, path, &base.id.ns, &len)) == OWL_EINVAL)
        return rc;
    snprintf(path, sizeof path, "metrics.%zu.name", i);
    if ((rc = owl_aws_get_str(ctx, in, path, &base.id.name, &len)) == OWL_EINVAL)
        return rc;
    snprintf(path, sizeof path, "metrics.%zu.unit", i);
    if ((rc = owl_aws_get_str(ctx, in, path, &base.unit, &len)) == OWL_EINVAL)
        return rc;
    int64_t res = 0;
    snprintf(path, sizeof path, "metrics.%zu.resolution", i);
    if ((rc = owl_aws_get_int(ctx, in, path, &res)) == OWL_EINVAL)
        return rc;
    base.resolution = res < 0 || res > 1000000 ? 2 : (int)res;
    /* dimensions: an object of name -> value */
    bson_iter_t it, d;
    owl_dim dims[OWL_METRIC_MAX_DIMS + 1];
    snprintf(path, sizeof path, "metrics.%zu.dimensions", i);
    if (bson_iter_init(&it, in) && bson_iter_find_descendant(&it, path, &d)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&d) || !bson_iter_recurse(&d, &it))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                "%s must be an object of names to values", path);
        while (bson_iter_next(&it)) {
            if (!BSON_ITER_HOLDS_UTF8(&it))
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                    "%s: dimension values are strings", path);
            if (base.id.ndims <= OWL_METRIC_MAX_DIMS)
                dims[base.id.ndims++] = (owl_dim){bson_iter_key(&it), bson_iter_utf8(&it, NULL)};
        }
    }
    /* dims live in ds->dims: one block per entry */
    owl_dim *keep = ds->dims + i * (OWL_METRIC_MAX_DIMS + 1);
    memcpy(keep, dims, base.id.ndims * sizeof *dims);
    base.id.dims = keep;
    snprintf(path, sizeof path, "metrics.%zu.timestamps", i);
    bson_iter_t ts, vs;
    if (owl_aws_get_list(ctx, in, path, &ts) == OWL_OK) { /* bulk form */
        snprintf(path, sizeof path, "metrics.%zu.values", i);
        if (owl_aws_get_list(ctx, in, path, &vs) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                "metrics.%zu: timestamps needs a values array", i);
        while (bson_iter_next(&ts)) {
            if (!bson_iter_next(&vs))
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                    "metrics.%zu: timestamps and values differ in length", i);
            if (ds->n == ds->cap || ds->nvals == ds->capvals)
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                    "too many datapoints in one request (at most %zu)", ds->cap);
            owl_datum *x = &ds->d[ds->n++];
            *x = base;
            double *v = vals_take(ds, 1), t;
            if (!BSON_ITER_HOLDS_NUMBER(&ts) || elem_double(&vs, v) != OWL_OK)
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                    "metrics.%zu: timestamps are epoch ms, values numbers", i);
            t = bson_iter_as_double(&ts);
            x->time_ms = (int64_t)t;
            x->values = v, x->nvalues = 1;
        }
        if (bson_iter_next(&vs))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                "metrics.%zu: timestamps and values differ in length", i);
        return OWL_OK;
    }
    if (ds->n == ds->cap)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "too many datapoints in one request");
    owl_datum *x = &ds->d[ds->n];
    *x = base;
    snprintf(path, sizeof path, "metrics.%zu.timestamp", i);
    if (bson_iter_init(&it, in) && bson_iter_find_descendant(&it, path, &d)) {
        if (BSON_ITER_HOLDS_NUMBER(&d))
            x->time_ms = (int64_t)bson_iter_as_double(&d);
        else if (!BSON_ITER_HOLDS_UTF8(&d) ||
                 owl_time_parse(bson_iter_utf8(&d, NULL), strlen(bson_iter_utf8(&d, NULL)),
                                &x->time_ms) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                "%s must be epoch ms or an RFC 3339 time", path);
    }
    double value;
    snprintf(path, sizeof path, "metrics.%zu.value", i);
    int hv = owl_aws_get_double(ctx, in, path, &value);
    if (hv == OWL_EINVAL)
        return hv;
    const double *vals = NULL, *counts = NULL;
    size_t nv = 0, nc = 0;
    snprintf(path, sizeof path, "metrics.%zu.values", i);
    int hvs = read_values(ctx, in, path, ds, &vals, &nv);
    if (hvs == OWL_EINVAL)
        return hvs;
    snprintf(path, sizeof path, "metrics.%zu.counts", i);
    int hc = read_values(ctx, in, path, ds, &counts, &nc);
    if (hc == OWL_EINVAL)
        return hc;
    snprintf(path, sizeof path, "metrics.%zu.stats", i);
    int hs = bson_iter_init(&it, in) && bson_iter_find_descendant(&it, path, &d);
    if ((hv == OWL_OK) + (hvs == OWL_OK) + hs != 1)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "metrics.%zu needs exactly one of value, values, stats", i);
    if (hc == OWL_OK && (hvs != OWL_OK || nc != nv))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "metrics.%zu: counts needs values of the same length", i);
    if (hv == OWL_OK) {
        double *v = vals_take(ds, 1);
        *v = value;
        x->values = v, x->nvalues = 1;
    } else if (hvs == OWL_OK) {
        x->values = vals, x->counts = hc == OWL_OK ? counts : NULL, x->nvalues = nv;
    } else {
        static const char *const f[] = {"count", "sum", "min", "max"};
        double *o[] = {&x->count, &x->sum, &x->min, &x->max};
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "metrics.%zu.stats.%s", i, f[k]);
            if (owl_aws_get_double(ctx, in, path, o[k]) != OWL_OK)
                return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s is required", path);
        }
        x->has_stats = 1;
    }
    ds->n++;
    return OWL_OK;
}


/* The stored datums of a native put: accepted, or the store's error in the native shape. */
static int native_store(owl_aws_ctx *ctx, const owl_datum *d, size_t n, int64_t now, bson_t *out)
{
    owl_call *call = ctx->ud;
    enum owl_metric_fault f;
    owl_error err = {0};
    int rc = owl_metrics_put(call->srv->metrics, call->principal->tenant, d, n, 0, now, &f, &err);
    if (rc == OWL_EINVAL)
        owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s", err.msg);
    else if (rc == OWL_ENOSPC)
        owl_aws_fail(ctx, OWL_AWS_ERR_InsufficientStorage, "%s", err.msg);
    else if (rc != OWL_OK)
        owl_aws_fail(ctx, OWL_AWS_ERR_InternalError, "%s", err.msg);
    else
        BSON_APPEND_INT64(out, "accepted", (int64_t)n);
    snprintf(call->resource, sizeof call->resource, "metrics/%zu", n);
    return rc == OWL_OK ? OWL_OK : OWL_EINVAL;
}

static int native_put_doc(owl_aws_ctx *ctx, const bson_t *in, bson_t *out);

/* POST /api/v1/metrics: a raw-body row. The bulk shapes are read straight from the JSON;
 * every other body is decoded to a document and read field by field (native_put_doc), which
 * answers every error. */
static int native_put(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const owl_aws_request *rq = ctx->rq;
    int64_t now = owl_now_ms();
    owl_native_metrics nm;
    (void)in;
    int rc = owl_native_metrics_parse(rq->body ? rq->body : "", rq->body_len, NATIVE_MAX_POINTS,
                                      now, &nm);
    if (rc == OWL_OK) {
        rc = native_store(ctx, nm.d, nm.n, now, out);
        owl_native_metrics_free(&nm);
        return rc;
    }
    if (rc == OWL_ENOMEM)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalError, "out of memory");
    bson_t doc = BSON_INITIALIZER;
    owl_error err = {0};
    if (rq->body_len && owl_aws_json_decode(rq->body, rq->body_len, &doc, &err) != OWL_OK)
        rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s", err.msg);
    else
        rc = native_put_doc(ctx, &doc, out);
    bson_destroy(&doc);
    return rc;
}

static int native_put_doc(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    bson_iter_t it, c;
    int rc = owl_aws_get_list(ctx, in, "metrics", &it);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "metrics is required");
    if (rc != OWL_OK)
        return rc;
    /* count datapoints first: bulk entries hold many */
    size_t entries = 0, points = 0;
    while (bson_iter_next(&it)) {
        entries++;
        bson_iter_t sub;
        uint32_t len = 0;
        const uint8_t *data = NULL;
        if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_document(&it, &len, &data);
            bson_t doc;
            if (bson_init_static(&doc, data, len) && bson_iter_init_find(&sub, &doc, "timestamps") &&
                BSON_ITER_HOLDS_ARRAY(&sub) && bson_iter_recurse(&sub, &c)) {
                while (bson_iter_next(&c))
                    points++;
                continue;
            }
        }
        points++;
    }
    if (points > NATIVE_MAX_POINTS)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "at most %d datapoints per request", NATIVE_MAX_POINTS);
    datums ds = {0};
    ds.cap = points;
    ds.capvals = points + entries * 2 * OWL_METRIC_MAX_VALUES + 1;
    ds.d = calloc(points ? points : 1, sizeof *ds.d);
    ds.dims = calloc(entries ? entries * (OWL_METRIC_MAX_DIMS + 1) : 1, sizeof *ds.dims);
    ds.vals = malloc(ds.capvals * sizeof *ds.vals);
    if (!ds.d || !ds.dims || !ds.vals) {
        datums_free(&ds);
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalError, "out of memory");
    }
    int64_t now = owl_now_ms();
    rc = OWL_OK;
    for (size_t i = 0; i < entries && rc == OWL_OK; i++)
        rc = read_native(ctx, in, i, &ds, now);
    if (rc == OWL_OK)
        rc = native_store(ctx, ds.d, ds.n, now, out);
    else
        snprintf(((owl_call *)ctx->ud)->resource, sizeof((owl_call *)ctx->ud)->resource,
                 "metrics/%zu", ds.n);
    datums_free(&ds);
    return rc == OWL_OK ? OWL_OK : OWL_EINVAL;
}

/* GET /api/v1/metrics/query: a raw route, since it answers CSV as well as JSON. */
static int native_query(owl_call *call)
{
    const char *q = call->req->query;
    char ns[256], name[256], unit[64], period[16], start[64], end[64];
    owl_metric_query mq = {.tenant = call->principal->tenant};
    owl_dim dims[OWL_METRIC_MAX_DIMS];
    char dimbuf[OWL_METRIC_MAX_DIMS][2][1100];
    statlist sl = {0};
    if (owl_query_param(q, "namespace", ns, sizeof ns) != 1 ||
        owl_query_param(q, "name", name, sizeof name) != 1) {
        owl_call_error(call, 400, "InvalidParameter", "namespace and name are required");
        return OWL_EINVAL;
    }
    mq.id.ns = ns, mq.id.name = name;
    int up = owl_query_param(q, "unit", unit, sizeof unit);
    int pp = owl_query_param(q, "period", period, sizeof period);
    int sp = owl_query_param(q, "start", start, sizeof start);
    int ep = owl_query_param(q, "end", end, sizeof end);
    if (up < 0 || pp < 0 || sp < 0 || ep < 0) {
        owl_call_error(call, 400, "InvalidParameter", "a query parameter is malformed or repeated");
        return OWL_EINVAL;
    }
    mq.unit = up ? unit : NULL;
    mq.period_s = pp ? atoi(period) : 60;
    mq.end_ms = owl_now_ms();
    mq.start_ms = mq.end_ms - 3 * 3600 * 1000;
    if ((sp && owl_time_parse(start, strlen(start), &mq.start_ms) != OWL_OK) ||
        (ep && owl_time_parse(end, strlen(end), &mq.end_ms) != OWL_OK)) {
        owl_call_error(call, 400, "InvalidParameter", "start and end are RFC 3339 or epoch ms");
        return OWL_EINVAL;
    }
    /* repeated parameters: dim.NAME=VALUE and stat=S, walked by hand */
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        char kv[2300];
        if (len < sizeof kv) {
            long n = owl_aws_percent_decode(p, len, kv, 1);
            char *eq = n > 0 ? strchr(kv, '=') : NULL;
            if (eq) {
                *eq = 0;
                if (strncmp(kv, "dim.", 4) == 0 && mq.id.ndims < OWL_METRIC_MAX_DIMS &&
                    strlen(kv + 4) < 1100 && strlen(eq + 1) < 1100) {
                    strcpy(dimbuf[mq.id.ndims][0], kv + 4);
                    strcpy(dimbuf[mq.id.ndims][1], eq + 1);
                    dims[mq.id.ndims] = (owl_dim){dimbuf[mq.id.ndims][0], dimbuf[mq.id.ndims][1]};
                    mq.id.ndims++;
                } else if (strcmp(kv, "stat") == 0) {
                    owl_error err = {0};
                    if (sl.n == OWL_ARRAY_LEN(sl.st) ||
                        owl_stat_parse(eq + 1, &sl.st[sl.n], &err) != OWL_OK) {
                        owl_call_error(call, 400, "InvalidParameter", "stat %s: %s", eq + 1,
                                       err.msg[0] ? err.msg : "too many statistics");
                        return OWL_EINVAL;
                    }
                    sl.n++;
                }
            }
        }
        p = amp ? amp + 1 : NULL;
    }
    mq.id.dims = dims;
    if (sl.n == 0) {
        static const char *const dflt[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};
        for (size_t i = 0; i < 5; i++)
            owl_stat_parse(dflt[i], &sl.st[sl.n++], NULL);
    }
    snprintf(call->resource, sizeof call->resource, "metric/%.100s/%.100s", ns, name);
    owl_bucket_set bs;
    owl_error err = {0};
    int rc = owl_metrics_read(call->srv->metrics, &mq, &bs, &err);
    if (rc != OWL_OK) {
        owl_call_error(call, rc == OWL_EINVAL ? 400 : 500,
                       rc == OWL_EINVAL ? "InvalidParameter" : "InternalError", "%s", err.msg);
        return rc;
    }
    const char *accept = owl_http_req_header(call->req, "accept");
    int csv = accept && strstr(accept, "text/csv");
    owl_buf *b = &call->resp->body;
    char ts[40];
    if (csv) {
        call->resp->content_type = "text/csv; charset=utf-8";
        owl_buf_puts(b, "timestamp");
        for (size_t k = 0; k < sl.n; k++)
            owl_buf_printf(b, ",%s", sl.st[k].name);
        owl_buf_putc(b, '\n');
        for (size_t i = 0; i < bs.n; i++) {
            owl_time_format_rfc3339(bs.b[i].time_ms, ts, sizeof ts);
            owl_buf_puts(b, ts);
            for (size_t k = 0; k < sl.n; k++) {
                double v;
                owl_buf_putc(b, ',');
                if (owl_stat_eval(&sl.st[k], &bs.b[i], &v) == OWL_OK)
                    owl_buf_printf(b, "%.17g", v);
            }
            owl_buf_putc(b, '\n');
        }
    } else {
        call->resp->content_type = "application/json";
        owl_buf_puts(b, "{\"namespace\":");
        owl_buf_json_str(b, ns, strlen(ns));
        owl_buf_puts(b, ",\"name\":");
        owl_buf_json_str(b, name, strlen(name));
        owl_buf_puts(b, ",\"dimensions\":{");
        for (size_t d = 0; d < mq.id.ndims; d++) {
            if (d)
                owl_buf_putc(b, ',');
            owl_buf_json_str(b, dims[d].name, strlen(dims[d].name));
            owl_buf_putc(b, ':');
            owl_buf_json_str(b, dims[d].value, strlen(dims[d].value));
        }
        owl_buf_printf(b, "},\"period\":%d,\"datapoints\":[", mq.period_s);
        for (size_t i = 0; i < bs.n; i++) {
            owl_time_format_rfc3339(bs.b[i].time_ms, ts, sizeof ts);
            owl_buf_printf(b, "%s{\"timestamp\":\"%s\",\"unit\":\"%s\"", i ? "," : "", ts,
                           bs.b[i].unit ? bs.b[i].unit : "None");
            for (size_t k = 0; k < sl.n; k++) {
                double v;
                if (owl_stat_eval(&sl.st[k], &bs.b[i], &v) != OWL_OK)
                    continue;
                owl_buf_putc(b, ',');
                owl_buf_json_str(b, sl.st[k].name, strlen(sl.st[k].name));
                owl_buf_printf(b, ":%.17g", v);
            }
            owl_buf_putc(b, '}');
        }
        owl_buf_puts(b, "]}");
    }
    owl_bucket_set_free(&bs);
    call->resp->status = 200;
    return OWL_OK;
}

/* ---- tables ---- */

static const owl_aws_op cw_ops[] = {
    {.name = "PutMetricData", .action = "cloudwatch:PutMetricData", .fn = put_metric_data},
    {.name = "GetMetricStatistics", .action = "cloudwatch:GetMetricStatistics",
     .fn = get_metric_statistics},
    {.name = "GetMetricData", .action = "cloudwatch:GetMetricData", .fn = get_metric_data},
    {.name = "ListMetrics", .action = "cloudwatch:ListMetrics", .fn = list_metrics},
    {.name = "PutMetricAlarm", .action = "cloudwatch:PutMetricAlarm", .fn = put_metric_alarm},
    {.name = "DescribeAlarms", .action = "cloudwatch:DescribeAlarms", .fn = describe_alarms},
    {.name = "DeleteAlarms", .action = "cloudwatch:DeleteAlarms", .fn = delete_alarms},
    {.name = "SetAlarmState", .action = "cloudwatch:SetAlarmState", .fn = set_alarm_state},
    {.name = "DescribeAlarmHistory", .action = "cloudwatch:DescribeAlarmHistory",
     .fn = describe_alarm_history},
    {.name = "PutCompositeAlarm", .action = "cloudwatch:PutCompositeAlarm",
     .fn = put_composite_alarm},
    {.name = "DescribeAlarmsForMetric", .action = "cloudwatch:DescribeAlarmsForMetric",
     .fn = describe_alarms_for_metric},
    {.name = "EnableAlarmActions", .action = "cloudwatch:EnableAlarmActions",
     .fn = enable_alarm_actions},
    {.name = "DisableAlarmActions", .action = "cloudwatch:DisableAlarmActions",
     .fn = disable_alarm_actions},
    {.name = "TagResource", .action = "cloudwatch:TagResource", .fn = tag_resource,
     .empty_result = 1},
    {.name = "UntagResource", .action = "cloudwatch:UntagResource", .fn = untag_resource,
     .empty_result = 1},
    {.name = "ListTagsForResource", .action = "cloudwatch:ListTagsForResource",
     .fn = list_tags_for_resource},
};

static const owl_aws_service cw_service = {
    .name = "monitoring",
    .signing_name = "monitoring",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_QUERY) | OWL_AWS_PROTO_BIT(OWL_AWS_JSON) |
                 OWL_AWS_PROTO_BIT(OWL_AWS_CBOR),
    .json_prefix = "GraniteServiceVersion20100801",
    .json_version = "1.0",
    .cbor_service = "GraniteServiceVersion20100801",
    .query_version = "2010-08-01",
    .xml_ns = "http://monitoring.amazonaws.com/doc/2010-08-01/",
    .query_compatible = 1,
    .ops = cw_ops,
    .nops = OWL_ARRAY_LEN(cw_ops),
};

static const owl_aws_op native_ops[] = {
    {.name = "PutMetrics", .action = "cloudwatch:PutMetricData", .fn = native_put,
     .method = "POST", .uri = "/api/v1/metrics", .raw_body = 1},
};

static const owl_aws_service native_service = {
    .name = "owl",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
    .ops = native_ops,
    .nops = OWL_ARRAY_LEN(native_ops),
};

static const owl_route metric_routes[] = {
    {.method = "GET", .pattern = "/api/v1/metrics/query",
     .action = "cloudwatch:GetMetricStatistics", .fn = native_query},
};

static const owl_aws_service *const metric_services[] = {&cw_service, &native_service};

const owl_route_table owl_cloudwatch_routes = {metric_routes, OWL_ARRAY_LEN(metric_routes),
                                               metric_services,
                                               OWL_ARRAY_LEN(metric_services)};

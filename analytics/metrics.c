/* metrics.c — datapoints in and buckets out: CloudWatch's rules (owl_metrics_check), the
 * write path (catalog ids, one store append), reads merged per period from the right
 * resolution level, the roller that turns raw rows into 60 s, 300 s and 3600 s roll-ups,
 * and the cumulative-to-delta state of OTLP streams. docs/metrics.md "Storage, roll-ups and
 * retention" has the design; the invariants it rests on:
 *
 *  1. Level L's watermark W(L) (per tenant) says every source row with time < W(L) is in
 *     L. The roller advances it by appending the rolled rows and a marker row (series 0,
 *     time = the new W) to L's partition in ONE owl_store_append, so after a crash W is the
 *     largest marker time and no window is rolled twice or lost.
 *  2. A datapoint older than W(L) when it is put is also written to L as a partial row, and
 *     put (shared) and the roller (exclusive, for its scan + append) hold one rwlock, so every
 *     datapoint is in each level exactly once.
 *  3. Rows are partial aggregates; a read merges every row of a (series, unit, period). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics_int.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"

#define NLEVELS 4
#define ROLL_CHUNK_WINDOWS 60       /* windows of a level rolled per roller step at most */
#define MAX_READ_BUCKETS 2000000    /* periods one read may span */
#define MAX_STREAMS (1u << 20)      /* cumulative streams remembered */

static const int64_t level_sec[NLEVELS] = {0, 60, 300, 3600}; /* 0: raw */
static const char *const level_part[NLEVELS] = {"m1", "m60", "m300", "m3600"};
static const int64_t default_keep_ms[NLEVELS] = {
    3LL * 3600 * 1000, 15LL * 86400 * 1000, 63LL * 86400 * 1000, 455LL * 86400 * 1000};

/* ---- units ---- */

/* With their lengths: a unit is matched by its length first (a datum's unit on every put, a
 * stored row's on every row a roll-up or read merges). units[0] is None. */
#define UNIT(s) {s, sizeof s - 1}
static const struct unit {
    const char *s;
    size_t n;
} units[] = {
    UNIT("None"),            UNIT("Seconds"),          UNIT("Microseconds"),
    UNIT("Milliseconds"),    UNIT("Bytes"),            UNIT("Kilobytes"),
    UNIT("Megabytes"),       UNIT("Gigabytes"),        UNIT("Terabytes"),
    UNIT("Bits"),            UNIT("Kilobits"),         UNIT("Megabits"),
    UNIT("Gigabits"),        UNIT("Terabits"),         UNIT("Percent"),
    UNIT("Count"),           UNIT("Bytes/Second"),     UNIT("Kilobytes/Second"),
    UNIT("Megabytes/Second"), UNIT("Gigabytes/Second"), UNIT("Terabytes/Second"),
    UNIT("Bits/Second"),     UNIT("Kilobits/Second"),  UNIT("Megabits/Second"),
    UNIT("Gigabits/Second"), UNIT("Terabits/Second"),  UNIT("Count/Second"),
};

/* The unit whose name is p[0..n), or NULL. */
static const char *unit_find(const void *p, size_t n)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(units); i++)
        if (units[i].n == n && memcmp(units[i].s, p, n) == 0)
            return units[i].s;
    return NULL;
}

const char *owl_metric_unit_canon(const char *unit)
{
    return unit ? unit_find(unit, strlen(unit)) : NULL;
}

/* The unit of a stored row ("" = None) as its static canonical string. */
static const char *unit_of_bytes(const void *p, size_t n)
{
    const char *u = unit_find(p, n);
    return u ? u : units[0].s;
}

const char *owl_metric_unit_stored(const char *canon)
{
    return !canon || canon == units[0].s ? "" : canon;
}

/* The canonical forms of the last two unit strings looked up: a request's datums take their
 * units from a few strings, often alternating (the RED statistics of one operation: Count
 * four times, then Milliseconds). */
typedef struct unit_memo {
    const char *given[2], *canon[2];
} unit_memo;

/* owl_metric_unit_canon of unit (NULL for NULL), through m. */
static const char *unit_canon_memo(unit_memo *m, const char *unit)
{
    if (unit == m->given[0])
        return m->canon[0];
    if (unit == m->given[1])
        return m->canon[1];
    const char *c = owl_metric_unit_canon(unit);
    m->given[1] = m->given[0], m->canon[1] = m->canon[0];
    m->given[0] = unit, m->canon[0] = c;
    return c;
}

/* ---- the module ---- */

typedef struct tenant_state {
    char name[256]; /* the store allows tenant names up to 255 bytes */
    int64_t wm[NLEVELS]; /* watermarks; wm[0] unused */
    int retention_set;
} tenant_state;

typedef struct stream {
    uint64_t key;
    int64_t start_ns;
    size_t n;
    double *v;
} stream;

struct owl_metrics {
    owl_store *store;
    owl_catalog *cat;
    int64_t keep_ms[NLEVELS];
    int64_t grace_ms;
    int64_t opened_ns;     /* when this process opened the module (delta baselines) */
    pthread_rwlock_t roll; /* invariant 2 */
    pthread_mutex_t mu;    /* tenants and streams */
    tenant_state *tenants;
    size_t ntenants;
    stream *streams; /* open addressing on key (0 = empty) */
    size_t nstreams, cap_streams;
    owl_recent *recent;      /* watched series (recent.c) */
    void (*wake)(void *ud);  /* after a put fed a watch */
    void *wake_ud;
    pthread_t thread;
    int running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stopping;
};

/* ---- checks ---- */

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int bad(enum owl_metric_fault *fault, enum owl_metric_fault f, owl_error *err,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(enum owl_metric_fault *fault, enum owl_metric_fault f, owl_error *err,
               const char *fmt, ...)
{
    if (fault)
        *fault = f;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = OWL_EINVAL;
    }
    return OWL_EINVAL;
}

/* CloudWatch accepts values of magnitude 2^-360 to 2^360 (and zero). */
static int value_ok(double v)
{
    double a = fabs(v);
    return isfinite(v) && (a == 0 || (a >= 0x1p-360 && a <= 0x1p360));
}

/* Checks one name; field is "MetricName" (dim 0) or "Dimensions.member.<dim>.<field>", built
 * only when there is an error to tell. */
static int check_name(size_t i, size_t dim, const char *field, const char *s, size_t max,
                      enum owl_metric_fault *fault, owl_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (s && n >= 1 && n <= max && !has_control(s))
        return OWL_OK;
    char f[64];
    if (dim)
        snprintf(f, sizeof f, "Dimensions.member.%zu.%s", dim, field);
    else
        snprintf(f, sizeof f, "%s", field);
    if (!s)
        return bad(fault, OWL_MF_MISSING, err,
                   "The parameter MetricData.member.%zu.%s is required.", i + 1, f);
    if (n < 1 || n > max)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The parameter MetricData.member.%zu.%s must be 1 to %zu characters.",
                   i + 1, f, max);
    return bad(fault, OWL_MF_INVALID_VALUE, err,
               "The parameter MetricData.member.%zu.%s must not contain control characters.",
               i + 1, f);
}

/* Whether a and b name the series the same way (the same strings, not just equal ones): the
 * bulk forms give many datums one identity, checked once. */
static int same_identity(const owl_datum *a, const owl_datum *b)
{
    return a->id.ns == b->id.ns && a->id.name == b->id.name && a->id.dims == b->id.dims &&
           a->id.ndims == b->id.ndims && a->unit == b->unit;
}

/* The parts of an identity that passed their checks last (the same strings pass again, so
 * they are not checked again): a request's datums mostly share their namespace, and the
 * several metrics of one source (the RED statistics of one operation) share dimensions. */
typedef struct passed {
    const char *ns;
    const owl_dim *dims;
    size_t ndims;
    int any_dims; /* dims and ndims are set */
    unit_memo units;
} passed;

static int check_ns(const owl_datum *d, unsigned flags, enum owl_metric_fault *fault,
                    owl_error *err)
{
    if (!d->id.ns)
        return bad(fault, OWL_MF_MISSING, err, "The parameter Namespace is required.");
    size_t nl = strlen(d->id.ns);
    if (nl < 1 || nl > OWL_METRIC_NS_MAX || d->id.ns[0] == ':' || has_control(d->id.ns))
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The value %s for parameter Namespace is invalid: 1 to 255 characters, not "
                   "starting with ':', no control characters.", d->id.ns);
    if ((flags & OWL_PUT_CLOUDWATCH) && strncmp(d->id.ns, "AWS/", 4) == 0)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The value AWS/ for parameter Namespace is invalid: namespaces starting "
                   "with AWS/ are reserved for AWS services.");
    return OWL_OK;
}

static int check_dims(const owl_datum *d, size_t i, enum owl_metric_fault *fault,
                      owl_error *err)
{
    int rc;
    if (d->id.ndims > OWL_METRIC_MAX_DIMS)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The collection MetricData.member.%zu.Dimensions must not have a size "
                   "greater than %d.", i + 1, OWL_METRIC_MAX_DIMS);
    for (size_t k = 0; k < d->id.ndims; k++) {
        if ((rc = check_name(i, k + 1, "Name", d->id.dims[k].name, OWL_METRIC_DIM_NAME_MAX,
                             fault, err)) != OWL_OK ||
            (rc = check_name(i, k + 1, "Value", d->id.dims[k].value, OWL_METRIC_DIM_VALUE_MAX,
                             fault, err)) != OWL_OK)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (strcmp(d->id.dims[j].name, d->id.dims[k].name) == 0)
                return bad(fault, OWL_MF_INVALID_VALUE, err,
                           "The parameter MetricData.member.%zu.Dimensions has the dimension "
                           "%s twice.", i + 1, d->id.dims[k].name);
    }
    return OWL_OK;
}

/* The checks of a datum's identity: namespace, name, dimensions and unit, in that order
 * (the first that fails is the one told), skipping the parts p says passed already. */
static int check_identity(const owl_datum *d, size_t i, unsigned flags, passed *p,
                          enum owl_metric_fault *fault, owl_error *err)
{
    int rc;
    if (!p->ns || d->id.ns != p->ns) {
        if ((rc = check_ns(d, flags, fault, err)) != OWL_OK)
            return rc;
        p->ns = d->id.ns;
    }
    if ((rc = check_name(i, 0, "MetricName", d->id.name, OWL_METRIC_NAME_MAX, fault, err)) !=
        OWL_OK)
        return rc;
    if (!p->any_dims || d->id.dims != p->dims || d->id.ndims != p->ndims) {
        if ((rc = check_dims(d, i, fault, err)) != OWL_OK)
            return rc;
        p->dims = d->id.dims, p->ndims = d->id.ndims, p->any_dims = 1;
    }
    if (d->unit && !unit_canon_memo(&p->units, d->unit))
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The parameter MetricData.member.%zu.Unit must be a value in the set [ "
                   "Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, "
                   "Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, "
                   "Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, "
                   "Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, "
                   "Gigabits/Second, Terabits/Second, Count/Second, None ].", i + 1);
    return OWL_OK;
}

/* The checks of a datum's values, time and resolution. */
static int check_values(const owl_datum *d, size_t i, unsigned flags, int64_t now_ms,
                        enum owl_metric_fault *fault, owl_error *err)
{
    if (d->nvalues == 0 && !d->has_stats)
        return bad(fault, OWL_MF_MISSING, err,
                   "The parameter MetricData.member.%zu.Value, Values or StatisticValues is "
                   "required.", i + 1);
    if ((flags & OWL_PUT_CLOUDWATCH) && d->nvalues > 0 && d->has_stats)
        return bad(fault, OWL_MF_COMBINATION, err,
                   "The parameters MetricData.member.%zu.Value (or Values) and "
                   "MetricData.member.%zu.StatisticValues are mutually exclusive.", i + 1, i + 1);
    if ((flags & OWL_PUT_CLOUDWATCH) && d->nvalues > OWL_METRIC_MAX_VALUES)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The collection MetricData.member.%zu.Values must not have a size greater "
                   "than %d.", i + 1, OWL_METRIC_MAX_VALUES);
    for (size_t k = 0; k < d->nvalues; k++) {
        if (!value_ok(d->values[k]))
            return bad(fault, OWL_MF_INVALID_VALUE, err,
                       "The value %g for parameter MetricData.member.%zu.Value%s is invalid: "
                       "values must be finite and of magnitude 2^-360 to 2^360 (or 0).",
                       d->values[k], i + 1, d->nvalues > 1 ? "s" : "");
        if (d->counts && (!isfinite(d->counts[k]) || d->counts[k] < 0 ||
                          d->counts[k] > 0x1p360))
            return bad(fault, OWL_MF_INVALID_VALUE, err,
                       "The value %g for parameter MetricData.member.%zu.Counts.member.%zu is "
                       "invalid: counts must be finite and not negative.", d->counts[k], i + 1,
                       k + 1);
    }
    if (d->has_stats) {
        if (!value_ok(d->sum) || !value_ok(d->min) || !value_ok(d->max) ||
            !isfinite(d->count) || d->count <= 0 || d->count > 0x1p360)
            return bad(fault, OWL_MF_INVALID_VALUE, err,
                       "The parameter MetricData.member.%zu.StatisticValues is invalid: "
                       "SampleCount must be positive and every figure finite.", i + 1);
        if (d->min > d->max)
            return bad(fault, OWL_MF_INVALID_VALUE, err,
                       "The parameter MetricData.member.%zu.StatisticValues is invalid: "
                       "Minimum must not be greater than Maximum.", i + 1);
    }
    if (d->time_ms < now_ms - OWL_METRIC_MAX_PAST_MS)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The parameter MetricData.member.%zu.Timestamp must specify a time no more "
                   "than two weeks in the past.", i + 1);
    if (d->time_ms > now_ms + OWL_METRIC_MAX_AHEAD_MS)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The parameter MetricData.member.%zu.Timestamp must specify a time no more "
                   "than two hours in the future.", i + 1);
    if (d->resolution != 0 && d->resolution != 1 && d->resolution != 60)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The value %d for parameter MetricData.member.%zu.StorageResolution is "
                   "invalid: it must be 1 or 60.", d->resolution, i + 1);
    return OWL_OK;
}

int owl_metrics_check(const owl_datum *d, size_t n, unsigned flags, int64_t now_ms,
                      enum owl_metric_fault *fault, owl_error *err)
{
    if (fault)
        *fault = OWL_MF_NONE;
    if (n == 0)
        return bad(fault, OWL_MF_MISSING, err, "The parameter MetricData is required.");
    if ((flags & OWL_PUT_CLOUDWATCH) && n > OWL_METRIC_MAX_DATUMS)
        return bad(fault, OWL_MF_INVALID_VALUE, err,
                   "The collection MetricData must not have a size greater than %d.",
                   OWL_METRIC_MAX_DATUMS);
    passed p = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = OWL_OK;
        if (i == 0 || !same_identity(&d[i], &d[i - 1]))
            rc = check_identity(&d[i], i, flags, &p, fault, err);
        if (rc == OWL_OK)
            rc = check_values(&d[i], i, flags, now_ms, fault, err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* ---- tenants (mu held) ---- */

static tenant_state *tenant_find(owl_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->ntenants; i++)
        if (strcmp(m->tenants[i].name, name) == 0)
            return &m->tenants[i];
    return NULL;
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step < 0)
        q--;
    return q * step;
}

/* The largest marker time in level l's partition of tenant, or INT64_MIN. */
typedef struct maxt {
    int64_t t;
} maxt;

static int max_time_fn(void *ud, const owl_batch *b)
{
    maxt *x = ud;
    for (size_t r = 0; r < b->nrows; r++)
        if (b->cols[0][r].i > x->t)
            x->t = b->cols[0][r].i;
    return 0;
}

static int64_t recover_watermark(owl_metrics *m, const char *tenant, int l)
{
    size_t cols[] = {OWL_METRICS_TIME};
    owl_pred p = {.col = OWL_METRICS_SERIES, .op = OWL_PRED_EQ, .lo.u = 0};
    const char *parts[] = {level_part[l]};
    maxt x = {INT64_MIN};
    owl_scan q = {.table = "metrics", .tenant = tenant, .partitions = parts, .npartitions = 1,
                  .start = INT64_MIN / 2, .end = INT64_MAX / 2, .cols = cols, .ncols = 1,
                  .preds = &p, .npreds = 1, .fn = max_time_fn, .ud = &x};
    owl_error err = {0};
    if (owl_store_scan(m->store, &q, NULL, &err) != OWL_OK)
        owl_warn("metrics: reading the %s watermark of %s: %s", level_part[l], tenant, err.msg);
    return x.t;
}

/* The state of tenant, created (watermarks recovered from the store) on first use. */
static tenant_state *tenant_get(owl_metrics *m, const char *name, int64_t now_ms)
{
    tenant_state *t = tenant_find(m, name);
    if (t || strlen(name) >= sizeof t->name)
        return t;
    tenant_state *ts = realloc(m->tenants, (m->ntenants + 1) * sizeof *ts);
    if (!ts)
        return NULL;
    m->tenants = ts;
    t = &ts[m->ntenants++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    for (int l = 1; l < NLEVELS; l++) {
        int64_t w = recover_watermark(m, name, l);
        /* no marker yet: start where the oldest acceptable datapoint would fall */
        if (w == INT64_MIN)
            w = floor_to(now_ms - OWL_METRIC_MAX_PAST_MS - 86400000LL, level_sec[l] * 1000);
        t->wm[l] = w;
    }
    return t;
}

/* Days of raw rows to keep: the raw window, or back to the 60 s level's watermark when the
 * roller is behind (after a stop), so no row goes before it is rolled. */
static int raw_days(const owl_metrics *m, int64_t wm1, int64_t now_ms)
{
    int days = (int)((m->keep_ms[0] + 86399999) / 86400000) + 1;
    int64_t behind = now_ms - wm1;
    int need = behind > 0 ? (int)((behind + 86399999) / 86400000) + 1 : 1;
    return need > days ? (need > 36500 ? 36500 : need) : days;
}

/* Store retention of each level: its keep window rounded up to days, plus one day (raw:
 * raw_days). */
static int set_retention(owl_metrics *m, const char *tenant, int64_t wm1, int64_t now_ms,
                         owl_error *err)
{
    for (int l = 0; l < NLEVELS; l++) {
        int days = l == 0 ? raw_days(m, wm1, now_ms)
                          : (int)((m->keep_ms[l] + 86399999) / 86400000) + 1;
        int rc = owl_store_set_retention(m->store, "metrics", tenant, level_part[l], days, err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* ---- rows ---- */

/* Rows being built, column-major, byte columns pointing into sk (offsets until fixed). */
typedef struct rowset {
    size_t n, cap;
    owl_cell *c[OWL_METRICS_NCOLS];
    owl_buf sk;
    const char *last_unit; /* the unit of row n - 1, as given to rowset_add */
} rowset;

static void rowset_free(rowset *rs)
{
    for (int c = 0; c < OWL_METRICS_NCOLS; c++)
        free(rs->c[c]);
    owl_buf_free(&rs->sk);
}

static int rowset_grow(rowset *rs, size_t need)
{
    if (rs->n + need <= rs->cap)
        return OWL_OK;
    size_t cap = rs->cap ? rs->cap : 64;
    while (cap < rs->n + need)
        cap *= 2;
    for (int c = 0; c < OWL_METRICS_NCOLS; c++) {
        owl_cell *p = realloc(rs->c[c], cap * sizeof *p);
        if (!p)
            return OWL_ENOMEM;
        rs->c[c] = p;
    }
    rs->cap = cap;
    return OWL_OK;
}

/* Appends one row; sketch (may be NULL) is encoded into rs->sk. */
static int rowset_add(rowset *rs, int64_t t, uint64_t series, const char *unit, int64_t res,
                      double count, double sum, double min, double max, const owl_sketch *sk,
                      int64_t flags)
{
    int rc = rowset_grow(rs, 1);
    if (rc != OWL_OK)
        return rc;
    size_t r = rs->n, off = rs->sk.len;
    if (sk && (rc = owl_sketch_encode(sk, &rs->sk)) != OWL_OK)
        return rc;
    if (r > 0 && rs->last_unit == unit) { /* the same unit as the row before: its bytes */
        rs->c[OWL_METRICS_UNIT][r].b = rs->c[OWL_METRICS_UNIT][r - 1].b;
    } else {
        const char *u = owl_metric_unit_stored(unit);
        rs->c[OWL_METRICS_UNIT][r].b = (owl_bytes){u, strlen(u)};
        rs->last_unit = unit;
    }
    rs->c[OWL_METRICS_TIME][r].i = t;
    rs->c[OWL_METRICS_SERIES][r].u = series;
    rs->c[OWL_METRICS_RES][r].i = res;
    rs->c[OWL_METRICS_COUNT][r].f = count;
    rs->c[OWL_METRICS_SUM][r].f = sum;
    rs->c[OWL_METRICS_MIN][r].f = min;
    rs->c[OWL_METRICS_MAX][r].f = max;
    /* an offset for now: the buffer may still move */
    rs->c[OWL_METRICS_SKETCH][r].b = (owl_bytes){(const void *)(uintptr_t)off, rs->sk.len - off};
    rs->c[OWL_METRICS_FLAGS][r].i = flags;
    rs->n++;
    return OWL_OK;
}

static void rowset_rows(rowset *rs, owl_rows *out)
{
    static const char empty[1];
    for (size_t r = 0; r < rs->n; r++) {
        owl_bytes *b = &rs->c[OWL_METRICS_SKETCH][r].b;
        b->p = b->n ? rs->sk.data + (uintptr_t)b->p : empty;
    }
    memset(out, 0, sizeof *out);
    out->nrows = rs->n;
    for (int c = 0; c < OWL_METRICS_NCOLS; c++)
        out->cols[c] = rs->c[c];
}

/* ---- merging rows into aggregates ---- */

typedef owl_agg agg;

/* Folds the figures of one part (count, sum, min, max, flags bit 0) into a; single says
 * the part is one single value, which a stays only while it holds nothing else. */
static void agg_fold(agg *a, double count, double sum, double min, double max, int flags,
                     int single)
{
    a->single = !a->used && single;
    if (!a->used) {
        a->min = min, a->max = max;
        a->used = 1;
    } else {
        a->min = min < a->min ? min : a->min;
        a->max = max > a->max ? max : a->max;
    }
    a->count += count;
    a->sum += sum;
    a->flags |= flags & 1;
}

/* A new sketch for an aggregate: from pool (a rollmap's, freed with it), or on its own when
 * pool is NULL (a read's buckets hand theirs out). */
static owl_sketch *agg_sketch(owl_sketch_pool *pool)
{
    return pool ? owl_sketch_pool_new(pool) : owl_sketch_new();
}

/* owl_agg_add's work, with unit the row's canonical unit when a is still unused (the
 * roller knows it already) and a's sketch, when it needs one, from pool (agg_sketch). */
static int agg_add_row(agg *a, const owl_cell *const *cols, size_t r, int sketch,
                       const char *unit, owl_sketch_pool *pool)
{
    double count = cols[OWL_METRICS_COUNT][r].f;
    double sum = cols[OWL_METRICS_SUM][r].f;
    double min = cols[OWL_METRICS_MIN][r].f;
    double max = cols[OWL_METRICS_MAX][r].f;
    owl_bytes skb = cols[OWL_METRICS_SKETCH][r].b;
    int64_t flags = cols[OWL_METRICS_FLAGS][r].i;
    int single = count == 1 && skb.n == 0 && !(flags & 1);
    if (single)
        min = max = sum;
    if (!a->used)
        a->unit = unit;
    agg_fold(a, count, sum, min, max, (int)(flags & 1), single);
    if (sketch && (single || skb.n)) {
        if (!a->sk && !(a->sk = agg_sketch(pool)))
            return OWL_ENOMEM;
        return single ? owl_sketch_add(a->sk, sum, 1)
                      : owl_sketch_merge_encoded(a->sk, skb.p, skb.n);
    }
    return OWL_OK;
}

int owl_agg_add(owl_agg *a, const owl_cell *const *cols, size_t r, int sketch)
{
    const char *unit = NULL;
    if (!a->used) {
        owl_bytes ub = cols[OWL_METRICS_UNIT][r].b;
        unit = unit_of_bytes(ub.p, ub.n);
    }
    return agg_add_row(a, cols, r, sketch, unit, NULL);
}

/* ---- combining a level's partial rows when the store merges parts (owl_combiner) ----
 * A row put late for a level (invariant 2) is a partial aggregate of its window beside the
 * roller's; a merge writes each run of them as one row, folded by owl_agg_add as a read
 * folds them (invariant 3), so every read answers the same from fewer rows. */

/* The roll-up levels only: the raw level's rows are datapoints, which owl_metrics_scan_raw
 * hands out one by one. */
static int comb_covers(const char *partition)
{
    for (int l = 1; l < NLEVELS; l++)
        if (!strcmp(partition, level_part[l]))
            return 1;
    return 0;
}

/* One (series, unit, window) at one resolution (the store matched series and time). Markers
 * (series 0) stay apart: each is a watermark (invariant 1), the largest kept as written. */
static int comb_same(const owl_cell *const *a, size_t ra, const owl_cell *const *b, size_t rb)
{
    owl_bytes ua = a[OWL_METRICS_UNIT][ra].b, ub = b[OWL_METRICS_UNIT][rb].b;
    return a[OWL_METRICS_SERIES][ra].u != 0 &&
           a[OWL_METRICS_RES][ra].i == b[OWL_METRICS_RES][rb].i &&
           (a[OWL_METRICS_FLAGS][ra].i & ~1) == (b[OWL_METRICS_FLAGS][rb].i & ~1) &&
           ua.n == ub.n && (ua.n == 0 || memcmp(ua.p, ub.p, ua.n) == 0);
}

static int comb_add(void *state, const owl_cell *const *cols, size_t r)
{
    return owl_agg_add(state, cols, r, 1);
}

/* The aggregate as the roller writes one (roll_step): its figures, its sketch encoded. */
static int comb_emit(void *state, owl_cell *const *out, size_t r, owl_arena *bytes)
{
    agg *a = state;
    owl_buf enc = {0};
    int rc = a->sk ? owl_sketch_encode(a->sk, &enc) : OWL_OK;
    void *p = rc == OWL_OK && enc.len ? owl_arena_copy(bytes, enc.data, enc.len) : NULL;
    if (rc == OWL_OK && enc.len && !p)
        rc = OWL_ENOMEM;
    out[OWL_METRICS_COUNT][r].f = a->count;
    out[OWL_METRICS_SUM][r].f = a->sum;
    out[OWL_METRICS_MIN][r].f = a->min;
    out[OWL_METRICS_MAX][r].f = a->max;
    out[OWL_METRICS_SKETCH][r].b = p ? (owl_bytes){p, enc.len} : (owl_bytes){"", 0};
    out[OWL_METRICS_FLAGS][r].i = (out[OWL_METRICS_FLAGS][r].i & ~1) | (a->flags & 1);
    owl_buf_free(&enc);
    owl_sketch_free(a->sk);
    a->sk = NULL;
    return rc;
}

static void comb_drop(void *state)
{
    agg *a = state;
    owl_sketch_free(a->sk);
    a->sk = NULL;
}

static const owl_combiner roll_combiner = {
    .covers = comb_covers,
    .same = comb_same,
    .state_bytes = sizeof(agg),
    .add = comb_add,
    .emit = comb_emit,
    .drop = comb_drop,
};

/* The columns every merge scan reads, in enum order (a batch's columns are the table's). */
static const size_t all_cols[OWL_METRICS_NCOLS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

/* ---- windows being merged: (series, unit, window start) -> aggregate ---- */

typedef struct rkey {
    uint64_t series;
    const char *unit;
    int64_t t;
} rkey;

typedef struct rollmap {
    rkey *keys;
    agg *aggs;     /* aggs[i] is set only where keys[i] is (a window's first row zeroes it) */
    owl_sketch_pool pool; /* the aggregates' sketches */
    size_t n, cap; /* cap a power of two; keys[i].unit NULL = empty */
    int64_t step_ms;
    int rc;
    /* the canonical unit of the row before (NULL: none yet) and the bytes a row stores for
     * it: the rows of a batch mostly repeat them (compared with these static bytes, as the
     * row before's own may be gone with its batch) */
    const char *last_unit, *last_stored;
    size_t last_n;
} rollmap;

/* The unit enters the hash by its distance from units[0]'s name, not its address: the
 * canonical names' addresses move with where the program is loaded, their distances do not,
 * so the table's order, and with it the order a roll-up writes its windows in (and the last
 * bits of the sums of windows merged from them), is the same from run to run. */
static size_t rk_hash(const rkey *k)
{
    return (size_t)owl_mix64(k->series * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k->t ^
                             ((uint64_t)(uintptr_t)k->unit - (uint64_t)(uintptr_t)units[0].s));
}

static agg *rollmap_get(rollmap *rm, const rkey *k)
{
    if ((rm->n + 1) * 2 > rm->cap) {
        size_t cap = rm->cap ? rm->cap * 2 : 1024;
        rkey *keys = calloc(cap, sizeof *keys);
        agg *aggs = malloc(cap * sizeof *aggs);
        if (!keys || !aggs) {
            free(keys), free(aggs);
            return NULL;
        }
        for (size_t i = 0; i < rm->cap; i++) {
            if (!rm->keys[i].unit)
                continue;
            size_t j = rk_hash(&rm->keys[i]) & (cap - 1);
            while (keys[j].unit)
                j = (j + 1) & (cap - 1);
            keys[j] = rm->keys[i];
            aggs[j] = rm->aggs[i];
        }
        free(rm->keys), free(rm->aggs);
        rm->keys = keys, rm->aggs = aggs, rm->cap = cap;
    }
    size_t j = rk_hash(k) & (rm->cap - 1);
    while (rm->keys[j].unit) {
        if (rm->keys[j].series == k->series && rm->keys[j].unit == k->unit &&
            rm->keys[j].t == k->t)
            return &rm->aggs[j];
        j = (j + 1) & (rm->cap - 1);
    }
    rm->keys[j] = *k;
    rm->n++;
    memset(&rm->aggs[j], 0, sizeof rm->aggs[j]);
    return &rm->aggs[j];
}

static void rollmap_free(rollmap *rm)
{
    owl_sketch_pool_free(&rm->pool);
    free(rm->keys);
    free(rm->aggs);
}

/* The aggregate of one datum: its row figures and (for Values) its sketch. */
typedef struct dagg {
    double count, sum, min, max;
    owl_sketch *sk; /* NULL for a single value or a statistic set; else the put's scratch */
    int64_t flags;
} dagg;

/* The put's scratch sketch, emptied (made on first use), or NULL when out of memory: a
 * datum's distribution lives only until its row is encoded and its late rows merged it, so
 * one sketch serves every datum of a put instead of one allocated and freed per datum. */
static owl_sketch *scratch_sketch(owl_sketch **scratch)
{
    if (*scratch)
        owl_sketch_clear(*scratch);
    else
        *scratch = owl_sketch_new();
    return *scratch;
}

static int datum_agg(const owl_datum *d, owl_sketch **scratch, dagg *a)
{
    memset(a, 0, sizeof *a);
    if (d->nvalues == 1 && !d->counts && !d->has_stats) {
        a->count = 1;
        a->sum = d->values[0];
        return OWL_OK; /* min/max 0: a single value row (index.h) */
    }
    if (d->nvalues > 0) {
        if (!(a->sk = scratch_sketch(scratch)))
            return OWL_ENOMEM;
        a->min = INFINITY, a->max = -INFINITY;
        for (size_t k = 0; k < d->nvalues; k++) {
            double w = d->counts ? d->counts[k] : 1;
            if (w <= 0)
                continue;
            int rc = owl_sketch_add(a->sk, d->values[k], w);
            if (rc != OWL_OK)
                return rc;
            a->count += w;
            a->sum += w * d->values[k];
            if (d->values[k] < a->min)
                a->min = d->values[k];
            if (d->values[k] > a->max)
                a->max = d->values[k];
        }
    }
    if (d->has_stats) { /* exact figures win over the shape's */
        a->count = d->count, a->sum = d->sum, a->min = d->min, a->max = d->max;
        if (!a->sk && (d->count == 1 || d->min == d->max)) {
            /* a set of one value, or of equal ones, is a distribution: percentiles work, as
             * CloudWatch allows for such sets */
            if (!(a->sk = scratch_sketch(scratch)))
                return OWL_ENOMEM;
            int rc = owl_sketch_add(a->sk, d->min, d->count);
            if (rc != OWL_OK)
                return rc;
        } else if (!a->sk) {
            a->flags = 1;
        }
    }
    if (a->count <= 0) /* every count was 0: nothing to store */
        a->sk = NULL;
    return OWL_OK;
}

/* Adds datum aggregate a to g as agg_add would add the row rowset_add makes of it. */
static int agg_add_datum(agg *g, const dagg *a, owl_sketch_pool *pool)
{
    int single = a->count == 1 && !a->sk && !(a->flags & 1);
    agg_fold(g, a->count, a->sum, single ? a->sum : a->min, single ? a->sum : a->max,
             (int)a->flags, single);
    if (!single && !a->sk)
        return OWL_OK;
    if (!g->sk && !(g->sk = agg_sketch(pool)))
        return OWL_ENOMEM;
    return single ? owl_sketch_add(g->sk, a->sum, 1) : owl_sketch_merge(g->sk, a->sk);
}

/* Adds aggregate src (of agg_add_datum / agg_merge) to g. */
static int agg_merge(agg *g, const agg *src, owl_sketch_pool *pool)
{
    agg_fold(g, src->count, src->sum, src->min, src->max, src->flags, src->single);
    if (!src->sk)
        return OWL_OK;
    if (!g->sk && !(g->sk = agg_sketch(pool)))
        return OWL_ENOMEM;
    return owl_sketch_merge(g->sk, src->sk);
}

int owl_metrics_put(owl_metrics *m, const char *tenant, const owl_datum *d, size_t n,
                    unsigned flags, int64_t now_ms, enum owl_metric_fault *fault, owl_error *err)
{
    int rc = owl_metrics_check(d, n, flags, now_ms, fault, err);
    if (rc != OWL_OK)
        return rc;
    uint64_t stack_ids[256];
    int64_t stack_t[256];
    owl_metric_id stack_mid[256];
    uint64_t *ids = n <= 256 ? stack_ids : malloc(n * sizeof *ids);
    int64_t *times = n <= 256 ? stack_t : malloc(n * sizeof *times);
    owl_metric_id *mids = n <= 256 ? stack_mid : malloc(n * sizeof *mids);
    rowset raw = {0}, late[NLEVELS] = {{0}};
    rollmap late_rm[NLEVELS] = {{0}};
    owl_sketch *scratch = NULL;
    tenant_state *ts;
    int64_t wm[NLEVELS];
    int fed = 0;
    if (!ids || !times || !mids) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        times[i] = d[i].time_ms;
        mids[i] = d[i].id;
    }
    uint64_t known = owl_catalog_added(m->cat);
    if ((rc = owl_catalog_resolve(m->cat, tenant, mids, times, n, ids, err)) != OWL_OK)
        goto out;
    /* new series: a watch waiting for one of them is bound by the evaluator's next sync,
     * which the wake below brings forward from its next tick */
    int grew = owl_catalog_added(m->cat) != known && owl_recent_unbound(m->recent);
    if (rowset_grow(&raw, n) != OWL_OK) { /* at most a row a datum */
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    pthread_rwlock_rdlock(&m->roll);
    pthread_mutex_lock(&m->mu);
    ts = tenant_get(m, tenant, now_ms);
    int need_retention = ts && !ts->retention_set;
    if (ts)
        memcpy(wm, ts->wm, sizeof wm);
    pthread_mutex_unlock(&m->mu);
    if (!ts) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto unlock;
    }
    if (need_retention) {
        if ((rc = set_retention(m, tenant, wm[1], now_ms, err)) != OWL_OK)
            goto unlock;
        pthread_mutex_lock(&m->mu);
        ts->retention_set = 1;
        pthread_mutex_unlock(&m->mu);
    }
    /* A level rolls no further than the finer one (roll_step), at a multiple of its own
     * step: a finer window holding a datum late for a coarser level lies wholly before that
     * level's watermark. So the coarser levels' late rows merge from the finer level's,
     * not datum by datum. */
    int derive[NLEVELS] = {0};
    for (int l = 2; l < NLEVELS; l++)
        derive[l] = wm[l] <= wm[l - 1] && wm[l] % (level_sec[l - 1] * 1000) == 0;
    unit_memo units_seen = {0};
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        dagg a;
        const char *unit = unit_canon_memo(&units_seen, d[i].unit);
        if ((rc = datum_agg(&d[i], &scratch, &a)) == OWL_OK && a.count > 0) {
            int res = d[i].resolution ? d[i].resolution : 60;
            rc = rowset_add(&raw, d[i].time_ms, ids[i], unit, res, a.count, a.sum, a.min, a.max,
                            a.sk, a.flags);
            for (int l = 1; l < NLEVELS && rc == OWL_OK; l++) {
                if (d[i].time_ms >= wm[l] || (l > 1 && derive[l]))
                    continue;
                /* late: the level already rolled this window (invariant 2). The late
                 * datums of one series and window merge into one row, as the roller would
                 * have merged them (a backfill of history writes a row a window, not a row
                 * a datum) */
                late_rm[l].step_ms = level_sec[l] * 1000;
                rkey k = {ids[i], unit ? unit : units[0].s,
                          floor_to(d[i].time_ms, late_rm[l].step_ms)};
                agg *g = rollmap_get(&late_rm[l], &k);
                rc = g ? agg_add_datum(g, &a, &late_rm[l].pool) : OWL_ENOMEM;
            }
        }
    }
    for (int l = 2; l < NLEVELS && rc == OWL_OK; l++) {
        if (!derive[l])
            continue;
        late_rm[l].step_ms = level_sec[l] * 1000;
        for (size_t i = 0; i < late_rm[l - 1].cap && rc == OWL_OK; i++) {
            const rkey *k = &late_rm[l - 1].keys[i];
            if (!k->unit || k->t >= wm[l])
                continue;
            rkey kl = {k->series, k->unit, floor_to(k->t, late_rm[l].step_ms)};
            agg *g = rollmap_get(&late_rm[l], &kl);
            rc = g ? agg_merge(g, &late_rm[l - 1].aggs[i], &late_rm[l].pool) : OWL_ENOMEM;
        }
    }
    if (rc != OWL_OK) {
        owl_error_set(err, rc, "out of memory");
        goto unlock;
    }
    owl_rows rows;
    rowset_rows(&raw, &rows);
    if (rows.nrows &&
        (rc = owl_store_append(m->store, "metrics", tenant, level_part[0], &rows, err)) != OWL_OK)
        goto unlock;
    fed = owl_recent_fold(m->recent, tenant, rows.cols, rows.nrows, now_ms);
    for (int l = 1; l < NLEVELS && rc == OWL_OK; l++) {
        for (size_t i = 0; i < late_rm[l].cap && rc == OWL_OK; i++) {
            const rkey *k = &late_rm[l].keys[i];
            const agg *g = &late_rm[l].aggs[i];
            if (!k->unit)
                continue;
            if (g->single) /* one single value: it keeps that form */
                rc = rowset_add(&late[l], k->t, k->series, k->unit, level_sec[l], 1, g->sum, 0,
                                0, NULL, 0);
            else
                rc = rowset_add(&late[l], k->t, k->series, k->unit, level_sec[l], g->count,
                                g->sum, g->min, g->max, g->sk, g->flags);
        }
        if (rc != OWL_OK || !late[l].n)
            continue;
        rowset_rows(&late[l], &rows);
        rc = owl_store_append(m->store, "metrics", tenant, level_part[l], &rows, err);
    }
unlock:
    pthread_rwlock_unlock(&m->roll);
    if (fed || (grew && rc == OWL_OK)) { /* under mu, so owl_metrics_set_wake(NULL) leaves
                                          * no call in flight */
        pthread_mutex_lock(&m->mu);
        if (m->wake)
            m->wake(m->wake_ud);
        pthread_mutex_unlock(&m->mu);
    }
out:
    owl_sketch_free(scratch);
    rowset_free(&raw);
    for (int l = 0; l < NLEVELS; l++) {
        rowset_free(&late[l]);
        rollmap_free(&late_rm[l]);
    }
    if (ids != stack_ids)
        free(ids);
    if (times != stack_t)
        free(times);
    if (mids != stack_mid)
        free(mids);
    return rc;
}

/* ---- reads ---- */

void owl_bucket_set_free(owl_bucket_set *bs)
{
    if (!bs)
        return;
    for (size_t i = 0; i < bs->n; i++)
        owl_sketch_free(bs->b[i].sketch);
    free(bs->b);
    bs->b = NULL;
    bs->n = 0;
}

/* One query of a read: the stored unit it wants (NULL: any) and its length, its buckets. */
typedef struct readctx {
    agg *aggs;
    int64_t start, period_ms;
    size_t nb;
    const char *unit;
    size_t unit_n;
} readctx;

/* A query of a read by its series, for finding a row's queries. */
typedef struct byseries {
    uint64_t series;
    uint32_t i;
} byseries;

/* The queries one scan answers: x[order[k].i] for k in 0..n, in series order. */
typedef struct readset {
    readctx *x;
    const byseries *order;
    size_t n;
    int rc;
} readset;

static int read_row(readctx *x, const owl_batch *b, size_t r)
{
    int64_t t = b->cols[OWL_METRICS_TIME][r].i;
    if (t < x->start)
        return OWL_OK;
    size_t k = (size_t)((t - x->start) / x->period_ms);
    if (k >= x->nb)
        return OWL_OK;
    return owl_agg_add(&x->aggs[k], b->cols, r, 1);
}

static int read_fn(void *ud, const owl_batch *b)
{
    readset *rs = ud;
    /* the first query of the row's series: rows come a series at a time (the table is
     * clustered by series), so the last row's answer is reused while the series repeats */
    uint64_t last = 0;
    size_t first = 0;
    int known = 0;
    for (size_t r = 0; r < b->nrows; r++) {
        uint64_t series = b->cols[OWL_METRICS_SERIES][r].u;
        owl_bytes u = b->cols[OWL_METRICS_UNIT][r].b;
        if (!known || series != last) {
            size_t lo = 0, hi = rs->n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (rs->order[mid].series < series)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            first = lo, last = series, known = 1;
        }
        for (size_t lo = first; lo < rs->n && rs->order[lo].series == series; lo++) {
            readctx *x = &rs->x[rs->order[lo].i];
            if (x->unit && (u.n != x->unit_n || memcmp(u.p, x->unit, u.n)))
                continue;
            int rc = read_row(x, b, r);
            if (rc != OWL_OK) {
                rs->rc = rc;
                return 1;
            }
        }
    }
    return 0;
}

/* Scans level l for [t0, t1) into the queries of rs: one series by its value (pruned by the
 * blocks' bloom and bounds), several by the range of their ids, told apart row by row. */
static int read_level(owl_metrics *m, const char *tenant, int l, int64_t t0, int64_t t1,
                      readset *rs, owl_error *err)
{
    uint64_t lo = rs->order[0].series, hi = rs->order[rs->n - 1].series;
    owl_pred p = lo == hi ? (owl_pred){.col = OWL_METRICS_SERIES, .op = OWL_PRED_EQ, .lo.u = lo}
                          : (owl_pred){.col = OWL_METRICS_SERIES, .op = OWL_PRED_RANGE,
                                       .lo.u = lo, .hi.u = hi + 1};
    const char *parts[] = {level_part[l]};
    owl_scan s = {.table = "metrics", .tenant = tenant, .partitions = parts,
                  .npartitions = 1, .start = t0, .end = t1, .cols = all_cols,
                  .ncols = OWL_METRICS_NCOLS, .preds = &p, .npreds = 1, .fn = read_fn, .ud = rs};
    int rc = owl_store_scan(m->store, &s, NULL, err);
    if (rc == 1 || rs->rc != OWL_OK) {
        rc = rs->rc;
        owl_error_set(err, rc, rc == OWL_ECORRUPT ? "a stored sketch is corrupt" : "out of memory");
    }
    return rc;
}

int owl_metrics_scan_raw(owl_metrics *m, const char *tenant, int64_t t0, int64_t t1,
                         owl_scan_fn fn, void *ud, owl_error *err)
{
    const char *parts[] = {level_part[0]};
    owl_scan s = {.table = "metrics", .tenant = tenant, .partitions = parts, .npartitions = 1,
                  .start = t0, .end = t1, .cols = all_cols, .ncols = OWL_METRICS_NCOLS,
                  .fn = fn, .ud = ud};
    return owl_store_scan(m->store, &s, NULL, err);
}

int64_t owl_metrics_raw_keep_ms(const owl_metrics *m)
{
    return m->keep_ms[0];
}

static int period_ok(int p)
{
    return p == 1 || p == 5 || p == 10 || p == 30 || (p >= 60 && p % 60 == 0);
}

/* The buckets of x into out (its sketches moved there); x's memory freed. */
static int read_out(readctx *x, owl_bucket_set *out, int rc, owl_error *err)
{
    size_t used = 0;
    for (size_t k = 0; k < x->nb; k++)
        used += x->aggs[k].used;
    if (rc == OWL_OK && used && !(out->b = calloc(used, sizeof *out->b)))
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t k = 0; k < x->nb; k++) {
        agg *a = &x->aggs[k];
        if (rc == OWL_OK && a->used) {
            out->b[out->n++] = (owl_bucket){.time_ms = x->start + (int64_t)k * x->period_ms,
                                            .count = a->count, .sum = a->sum, .min = a->min,
                                            .max = a->max, .sketch = a->sk, .unit = a->unit};
            a->sk = NULL;
        }
        owl_sketch_free(a->sk);
    }
    free(x->aggs);
    x->aggs = NULL;
    if (rc != OWL_OK)
        owl_bucket_set_free(out);
    return rc;
}

static int byseries_cmp(const void *a, const void *b)
{
    const byseries *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int owl_metrics_read_many(owl_metrics *m, const owl_metric_query *q, size_t n,
                          owl_bucket_set *out, owl_error *err)
{
    for (size_t i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    if (!n)
        return OWL_OK;
    if (!period_ok(q->period_s))
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter Period must be 1, 5, 10, 30 or a multiple of 60.");
    if (q->end_ms <= q->start_ms)
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter StartTime must be less than the parameter EndTime.");
    for (size_t i = 1; i < n; i++)
        if (strcmp(q[i].tenant, q->tenant) || q[i].start_ms != q->start_ms ||
            q[i].end_ms != q->end_ms || q[i].period_s != q->period_s ||
            q[i].now_ms != q->now_ms)
            return owl_error_set(err, OWL_EINVAL,
                                 "the queries of one read share tenant, times and period");
    int64_t pms = (int64_t)q->period_s * 1000;
    int64_t start = floor_to(q->start_ms, pms);
    int64_t end = floor_to(q->end_ms - 1, pms) + pms;
    if ((end - start) / pms > MAX_READ_BUCKETS)
        return owl_error_set(err, OWL_EINVAL, "the query spans more than %d periods",
                             MAX_READ_BUCKETS);
    readctx *x = calloc(n, sizeof *x);
    byseries *order = calloc(n, sizeof *order);
    int rc = x && order ? OWL_OK : owl_error_set(err, OWL_ENOMEM, "out of memory");
    size_t known = 0;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        x[i] = (readctx){.start = start, .period_ms = pms, .nb = (size_t)((end - start) / pms)};
        if (q[i].unit) {
            const char *canon = owl_metric_unit_canon(q[i].unit);
            if (!canon) {
                rc = owl_error_set(err, OWL_EINVAL,
                                   "The parameter Unit is not a CloudWatch unit.");
                break;
            }
            x[i].unit = owl_metric_unit_stored(canon);
            x[i].unit_n = strlen(x[i].unit);
        }
        uint64_t series;
        if (owl_catalog_find(m->cat, q[i].tenant, &q[i].id, &series) != OWL_OK)
            continue; /* an unknown series has no data */
        if (!(x[i].aggs = calloc(x[i].nb, sizeof *x[i].aggs)))
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        order[known++] = (byseries){series, (uint32_t)i};
    }
    if (rc == OWL_OK && known > 1)
        qsort(order, known, sizeof *order, byseries_cmp);
    int64_t now = q->now_ms ? q->now_ms : owl_now_ms();
    int64_t wm[NLEVELS] = {0};
    pthread_mutex_lock(&m->mu);
    tenant_state *ts = tenant_find(m, q->tenant);
    if (ts)
        memcpy(wm, ts->wm, sizeof wm);
    pthread_mutex_unlock(&m->mu);
    /* each period from one level: the coarsest that divides the period, keeps the period's
     * age and has rolled it; else the finest that divides and keeps it */
    readset rs = {x, order, known, OWL_OK};
    int64_t run_t0 = start;
    int run_l = -2;
    for (int64_t t = start; t <= end && rc == OWL_OK && known; t += pms) {
        int pick = -1;
        if (t < end) {
            int64_t age = now - t;
            int finest = -1;
            for (int l = 0; l < NLEVELS; l++) {
                if (l > 0 && pms % (level_sec[l] * 1000) != 0)
                    continue;
                if (age > m->keep_ms[l])
                    continue;
                if (finest < 0)
                    finest = l;
                if (l > 0 && ts && wm[l] >= t + pms)
                    pick = l;
            }
            if (pick < 0)
                pick = finest;
        }
        if (t == end || pick != run_l) {
            if (run_l >= 0 && t > run_t0)
                rc = read_level(m, q->tenant, run_l, run_t0, t, &rs, err);
            run_l = pick;
            run_t0 = t;
        }
    }
    for (size_t i = 0; x && i < n; i++) {
        int r = x[i].aggs ? read_out(&x[i], &out[i], rc, err) : rc;
        if (rc == OWL_OK)
            rc = r;
    }
    if (rc != OWL_OK)
        for (size_t i = 0; i < n; i++)
            owl_bucket_set_free(&out[i]);
    free(x);
    free(order);
    return rc;
}

int owl_metrics_read(owl_metrics *m, const owl_metric_query *q, owl_bucket_set *out,
                     owl_error *err)
{
    return owl_metrics_read_many(m, q, 1, out, err);
}

/* ---- roll-ups ---- */

/* Aggregates of one roll-up step, keyed by (series, unit, bucket). */
static int roll_fn(void *ud, const owl_batch *b)
{
    rollmap *rm = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        uint64_t series = b->cols[OWL_METRICS_SERIES][r].u;
        if (series == 0)
            continue; /* a marker of the source level */
        owl_bytes ub = b->cols[OWL_METRICS_UNIT][r].b;
        if (!rm->last_unit || ub.n != rm->last_n ||
            (ub.n && memcmp(ub.p, rm->last_stored, ub.n) != 0)) {
            rm->last_unit = unit_of_bytes(ub.p, ub.n);
            rm->last_stored = owl_metric_unit_stored(rm->last_unit);
            rm->last_n = strlen(rm->last_stored);
        }
        rkey k = {series, rm->last_unit, floor_to(b->cols[OWL_METRICS_TIME][r].i, rm->step_ms)};
        agg *a = rollmap_get(rm, &k);
        int rc = a ? agg_add_row(a, b->cols, r, 1, k.unit, &rm->pool) : OWL_ENOMEM;
        if (rc != OWL_OK) {
            rm->rc = rc;
            return 1;
        }
    }
    return 0;
}

/* Rolls level l of tenant t for [t->wm[l], upto) (roll lock held exclusively), and on
 * while those windows hold nothing: up to ROLL_CHUNK_WINDOWS more at a time, to at most
 * `last`. An empty stretch (a new tenant's 15 days back, a quiet night) then costs scans and
 * one marker instead of a marker, an fsync'd append, per ROLL_CHUNK_WINDOWS windows: a new
 * tenant's first RED statistics made 440 of them, 5% of owld's time under span ingest. */
static int roll_step(owl_metrics *m, tenant_state *t, int l, int64_t upto, int64_t last,
                     owl_error *err)
{
    int64_t step = level_sec[l] * 1000;
    rollmap rm = {.step_ms = step};
    const char *parts[] = {level_part[l - 1]};
    owl_scan s = {.table = "metrics", .tenant = t->name, .partitions = parts, .npartitions = 1,
                  .start = t->wm[l], .end = upto, .cols = all_cols, .ncols = OWL_METRICS_NCOLS,
                  .fn = roll_fn, .ud = &rm};
    int rc;
    for (;;) {
        rc = owl_store_scan(m->store, &s, NULL, err);
        if (rc != OWL_OK || rm.rc != OWL_OK || rm.n || upto >= last)
            break;
        s.start = upto;
        upto = last - upto > ROLL_CHUNK_WINDOWS * step ? upto + ROLL_CHUNK_WINDOWS * step : last;
        s.end = upto;
    }
    if (rc == 1 || rm.rc != OWL_OK)
        rc = owl_error_set(err, rm.rc, "rolling %s up: %s", level_part[l],
                           rm.rc == OWL_ECORRUPT ? "a stored sketch is corrupt" : "out of memory");
    rowset rs = {0};
    if (rc == OWL_OK) /* a row a window, and the marker */
        rc = rowset_grow(&rs, rm.n + 1);
    for (size_t i = 0; i < rm.cap && rc == OWL_OK; i++) {
        if (!rm.keys[i].unit)
            continue;
        agg *a = &rm.aggs[i];
        rc = rowset_add(&rs, rm.keys[i].t, rm.keys[i].series, rm.keys[i].unit, level_sec[l],
                        a->count, a->sum, a->min, a->max, a->sk, a->flags);
    }
    if (rc == OWL_OK) /* the marker: the new watermark, in the same append (invariant 1) */
        rc = rowset_add(&rs, upto, 0, NULL, level_sec[l], 0, 0, 0, 0, NULL, 0);
    if (rc == OWL_OK) {
        owl_rows rows;
        rowset_rows(&rs, &rows);
        rc = owl_store_append(m->store, "metrics", t->name, level_part[l], &rows, err);
    }
    if (rc == OWL_OK)
        t->wm[l] = upto;
    rowset_free(&rs);
    rollmap_free(&rm);
    return rc;
}

/* Tenant names with a raw metrics partition (collected first: owl_store_partitions holds the
 * store's lock while it calls back, so nothing here may scan). */
typedef struct names {
    char (*v)[256];
    size_t n, cap;
} names;

static int tenants_of_store(void *ud, const owl_store_table_stats *st)
{
    names *ns = ud;
    if (strcmp(st->table, "metrics") != 0 || strcmp(st->partition, level_part[0]) != 0)
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 8;
        char(*v)[256] = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return 1;
        ns->v = v, ns->cap = cap;
    }
    snprintf(ns->v[ns->n++], 256, "%s", st->tenant);
    return 0;
}

int owl_metrics_rollup(owl_metrics *m, int64_t now_ms, owl_error *err)
{
    int rc = OWL_OK;
    names ns = {0};
    owl_store_partitions(m->store, tenants_of_store, &ns, NULL);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < ns.n; i++)
        tenant_get(m, ns.v[i], now_ms);
    size_t nt = m->ntenants;
    pthread_mutex_unlock(&m->mu);
    free(ns.v);
    for (size_t i = 0; i < nt && rc == OWL_OK; i++) {
        for (int l = 1; l < NLEVELS && rc == OWL_OK; l++) {
            int64_t step = level_sec[l] * 1000;
            for (;;) {
                pthread_rwlock_wrlock(&m->roll);
                pthread_mutex_lock(&m->mu);
                tenant_state *t = &m->tenants[i];
                /* a level rolls only what its source has: raw up to now - grace, the others
                 * up to their source's watermark */
                int64_t limit = l == 1 ? now_ms - m->grace_ms : t->wm[l - 1];
                int64_t last = floor_to(limit, step), upto = last;
                if (upto - t->wm[l] > ROLL_CHUNK_WINDOWS * step)
                    upto = t->wm[l] + ROLL_CHUNK_WINDOWS * step;
                int more = upto > t->wm[l];
                pthread_mutex_unlock(&m->mu);
                if (more)
                    rc = roll_step(m, t, l, upto, last, err);
                pthread_rwlock_unlock(&m->roll);
                if (!more || rc != OWL_OK)
                    break;
            }
        }
        /* raw rows are kept until rolled: as the 60 s level moves on, fewer days */
        if (rc == OWL_OK) {
            pthread_mutex_lock(&m->mu);
            tenant_state *t = &m->tenants[i];
            char name[sizeof t->name];
            int64_t wm1 = t->wm[1];
            int known = t->retention_set;
            memcpy(name, t->name, sizeof name);
            pthread_mutex_unlock(&m->mu);
            if (known)
                rc = owl_store_set_retention(m->store, "metrics", name, level_part[0],
                                             raw_days(m, wm1, now_ms), err);
        }
    }
    return rc;
}

static void *roller(void *arg)
{
    owl_metrics *m = arg;
    pthread_mutex_lock(&m->stop_mu);
    while (!m->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&m->stop_cv, &m->stop_mu, &ts);
        if (m->stopping)
            break;
        pthread_mutex_unlock(&m->stop_mu);
        owl_error err = {0};
        if (owl_metrics_rollup(m, owl_now_ms(), &err) != OWL_OK)
            owl_warn("metrics roll-up: %s (retried in a second)", err.msg);
        pthread_mutex_lock(&m->stop_mu);
    }
    pthread_mutex_unlock(&m->stop_mu);
    return NULL;
}

/* ---- open / close ---- */

int owl_metrics_open(owl_store *store, owl_meta *meta, const owl_metrics_options *opts,
                     owl_metrics **out, owl_error *err)
{
    *out = NULL;
    owl_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    m->store = store;
    for (int l = 0; l < NLEVELS; l++)
        m->keep_ms[l] = opts && opts->keep_ms[l] > 0 ? opts->keep_ms[l] : default_keep_ms[l];
    m->grace_ms = opts && opts->grace_ms > 0 ? opts->grace_ms : 60000;
    m->opened_ns = owl_now_ms() * 1000000;
    pthread_rwlock_init(&m->roll, NULL);
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->stop_mu, NULL);
    pthread_cond_init(&m->stop_cv, NULL);
    int rc = owl_catalog_open(meta, &m->cat, err);
    if (rc == OWL_OK)
        rc = owl_store_set_combiner(store, "metrics", &roll_combiner, err);
    if (rc == OWL_OK && owl_recent_new(&m->recent) != OWL_OK)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc == OWL_OK && (!opts || opts->background)) {
        if (pthread_create(&m->thread, NULL, roller, m) != 0)
            rc = owl_error_set(err, OWL_ENOMEM, "cannot start the roll-up thread");
        else
            m->running = 1;
    }
    if (rc != OWL_OK) {
        owl_metrics_close(m);
        return rc;
    }
    *out = m;
    return OWL_OK;
}

void owl_metrics_close(owl_metrics *m)
{
    if (!m)
        return;
    if (m->running) {
        pthread_mutex_lock(&m->stop_mu);
        m->stopping = 1;
        pthread_cond_signal(&m->stop_cv);
        pthread_mutex_unlock(&m->stop_mu);
        pthread_join(m->thread, NULL);
    }
    owl_recent_free(m->recent);
    owl_catalog_close(m->cat);
    for (size_t i = 0; i < m->cap_streams; i++)
        free(m->streams[i].v);
    free(m->streams);
    free(m->tenants);
    pthread_rwlock_destroy(&m->roll);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->stop_mu);
    pthread_cond_destroy(&m->stop_cv);
    free(m);
}

/* ---- watches (recent.c) ---- */

int owl_metrics_watch(owl_metrics *m, const char *tenant, const owl_metric_id *id,
                      const char *unit, int period_s, size_t nperiods, int sketches,
                      owl_watch **out, owl_error *err)
{
    return owl_recent_watch(m->recent, tenant, id, unit, period_s, nperiods, sketches, out, err);
}

void owl_metrics_unwatch(owl_metrics *m, owl_watch *w)
{
    owl_recent_unwatch(m->recent, w);
}

int owl_metrics_watch_sync(owl_metrics *m, int64_t now_ms, owl_error *err)
{
    int rc = OWL_OK, more;
    do { /* in slices, letting the puts held back through between them */
        owl_error e = {0};
        pthread_rwlock_wrlock(&m->roll);
        int src = owl_recent_sync(m->recent, m, m->cat, now_ms, 20LL * 1000000, &more, &e);
        pthread_rwlock_unlock(&m->roll);
        if (src != OWL_OK && rc == OWL_OK) {
            rc = src;
            if (err)
                *err = e;
        }
    } while (more);
    return rc;
}

uint64_t owl_watch_gen(owl_metrics *m, const owl_watch *w)
{
    return owl_recent_gen(m->recent, w);
}

void owl_watch_visit(owl_metrics *m, owl_watch *w, int64_t start_ms, size_t n,
                     void (*fn)(void *ud, size_t k, const owl_bucket *b), void *ud)
{
    owl_recent_visit(m->recent, w, start_ms, n, fn, ud);
}

void owl_metrics_set_wake(owl_metrics *m, void (*fn)(void *ud), void *ud)
{
    pthread_mutex_lock(&m->mu);
    m->wake = fn;
    m->wake_ud = ud;
    pthread_mutex_unlock(&m->mu);
}

int owl_metrics_list(owl_metrics *m, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err)
{
    return owl_catalog_list(m->cat, tenant, f, token, limit, fn, ud, next, err);
}

/* ---- cumulative streams ---- */

static stream *stream_slot(owl_metrics *m, uint64_t key)
{
    if ((m->nstreams + 1) * 2 > m->cap_streams) {
        if (m->cap_streams >= MAX_STREAMS * 2) { /* full: forget every stream */
            for (size_t i = 0; i < m->cap_streams; i++) {
                free(m->streams[i].v);
                memset(&m->streams[i], 0, sizeof m->streams[i]);
            }
            m->nstreams = 0;
        } else {
            size_t cap = m->cap_streams ? m->cap_streams * 2 : 1024;
            stream *s = calloc(cap, sizeof *s);
            if (!s)
                return NULL;
            for (size_t i = 0; i < m->cap_streams; i++) {
                if (!m->streams[i].key)
                    continue;
                size_t j = owl_mix64(m->streams[i].key) & (cap - 1);
                while (s[j].key)
                    j = (j + 1) & (cap - 1);
                s[j] = m->streams[i];
            }
            free(m->streams);
            m->streams = s;
            m->cap_streams = cap;
        }
    }
    size_t j = owl_mix64(key) & (m->cap_streams - 1);
    while (m->streams[j].key && m->streams[j].key != key)
        j = (j + 1) & (m->cap_streams - 1);
    if (!m->streams[j].key) {
        m->streams[j].key = key;
        m->nstreams++;
    }
    return &m->streams[j];
}

int owl_metrics_delta(owl_metrics *m, uint64_t key, int64_t start_ns, const double *cum,
                      double *delta, size_t n)
{
    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    pthread_mutex_lock(&m->mu);
    stream *s = stream_slot(m, key);
    /* first seen, from a stream that started before this process: its earlier points may be
     * stored already (owld restarted) or were never sent to us; either way only what comes
     * after this point is new (the OpenTelemetry collector's cumulativetodelta "auto") */
    int baseline = (!s || !s->v) && (start_ns <= 0 || start_ns < m->opened_ns);
    int reset = !s || !s->v || s->n != n || s->start_ns != start_ns;
    for (size_t i = 0; !reset && i < n; i++)
        if (cum[i] < s->v[i])
            reset = 1;
    for (size_t i = 0; i < n; i++)
        delta[i] = baseline ? 0 : reset ? cum[i] : cum[i] - s->v[i];
    if (s) {
        if (s->n != n || !s->v) {
            free(s->v);
            s->v = malloc((n ? n : 1) * sizeof *s->v);
            s->n = s->v ? n : 0;
        }
        if (s->v)
            memcpy(s->v, cum, n * sizeof *cum);
        s->start_ns = start_ns;
    }
    pthread_mutex_unlock(&m->mu);
    return baseline ? OWL_METRICS_BASELINE : reset;
}

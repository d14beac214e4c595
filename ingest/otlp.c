/* otlp.c — OTLP/HTTP metrics: an ExportMetricsServiceRequest (protobuf, or OTLP's JSON
 * mapping transcoded to protobuf through the generated descriptors so both take one path)
 * turned into owl_datum rows as docs/otlp.md describes. Invariant: a point is either one
 * datum of the batch or counted in batch->rejected, never both; nothing is stored here
 * except through the one owl_metrics_put of owl_otlp_metrics_ingest. Also what every OTLP
 * decoder shares (otlp_int.h): the body to message step and AnyValue to BSON. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/utf8.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "google/rpc/status.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest export_req;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics res_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_pt;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hist_pt;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint exp_pt;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint summary_pt;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

#define REQ_DESC opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor
#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define NO_VALUE_FLAG OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

/* ---- protobuf wire helpers ---- */

static int get_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Walks p[0..n) as message desc, failing (-1) on a truncated field or nesting deeper than
 * OTLP_MAX_DEPTH. Only the shape matters: protobuf-c checks everything else. */
static int wire_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
                         int depth)
{
    if (depth > OTLP_MAX_DEPTH)
        return -1;
    size_t pos = 0;
    while (pos < n) {
        uint64_t tag, len;
        if (get_varint(p, n, &pos, &tag) != 0)
            return -1;
        switch (tag & 7) {
        case 0:
            if (get_varint(p, n, &pos, &len) != 0)
                return -1;
            break;
        case 1:
            if (n - pos < 8)
                return -1;
            pos += 8;
            break;
        case 5:
            if (n - pos < 4)
                return -1;
            pos += 4;
            break;
        case 2: {
            if (get_varint(p, n, &pos, &len) != 0 || len > n - pos)
                return -1;
            const ProtobufCFieldDescriptor *f =
                desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                wire_depth_ok(f->descriptor, p + pos, (size_t)len, depth + 1) != 0)
                return -1;
            pos += (size_t)len;
            break;
        }
        default:
            return -1; /* groups (3, 4) are not in OTLP */
        }
    }
    return 0;
}

/* ---- AnyValue and strings as BSON (otlp_int.h), for the logs and traces decoders ---- */

#define V(kind) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##kind

const char *owl_otlp_utf8(const char *s, size_t *n, owl_buf *tmp)
{
    return owl_otlp_utf8n(s, strlen(s), n, tmp);
}

const char *owl_otlp_utf8n(const char *s, size_t len, size_t *n, owl_buf *tmp)
{
    *n = len;
    if (owl_utf8_ascii(s, len) || owl_log_decoded_utf8_ok(s, len))
        return s;
    owl_buf_reset(tmp);
    if (owl_log_decoded_utf8(s, len, tmp) != OWL_OK || owl_buf_putc(tmp, '\0') != OWL_OK)
        return NULL;
    *n = tmp->len - 1;
    return tmp->data;
}

int owl_otlp_bson_scalar(bson_t *doc, const char *key, size_t klen, int vcase, const char *s,
                         size_t slen, int64_t num, double dbl, owl_buf *tmp)
{
    size_t n;
    bool ok;
    switch (vcase) {
    case V(STRING_VALUE):
        s = owl_otlp_utf8n(s, slen, &n, tmp);
        ok = s && bson_append_utf8(doc, key, (int)klen, s, (int)n);
        break;
    case V(BOOL_VALUE):
        ok = bson_append_bool(doc, key, (int)klen, num != 0);
        break;
    case V(INT_VALUE):
        ok = bson_append_int64(doc, key, (int)klen, num);
        break;
    case V(DOUBLE_VALUE):
        ok = bson_append_double(doc, key, (int)klen, dbl);
        break;
    default: /* no value, or an empty one */
        ok = bson_append_null(doc, key, (int)klen);
        break;
    }
    return ok ? OWL_OK : OWL_ENOMEM;
}

int owl_otlp_bson_any(bson_t *doc, const char *key, size_t klen, const any_t *v)
{
    bson_t sub;
    bool ok;
    switch (v ? v->value_case : V(_NOT_SET)) {
    case V(BYTES_VALUE):
        ok = bson_append_binary(doc, key, (int)klen, BSON_SUBTYPE_BINARY, v->bytes_value.data,
                                (uint32_t)v->bytes_value.len);
        break;
    case V(ARRAY_VALUE):
        if (!(ok = bson_append_array_begin(doc, key, (int)klen, &sub)))
            break;
        for (size_t i = 0; ok && i < v->array_value->n_values; i++) {
            char ik[24];
            int il = snprintf(ik, sizeof ik, "%zu", i);
            ok = owl_otlp_bson_any(&sub, ik, (size_t)il, v->array_value->values[i]) == OWL_OK;
        }
        ok = bson_append_array_end(doc, &sub) && ok;
        break;
    case V(KVLIST_VALUE):
        if (!(ok = bson_append_document_begin(doc, key, (int)klen, &sub)))
            break;
        ok = owl_otlp_bson_kvs(&sub, v->kvlist_value->values, v->kvlist_value->n_values) ==
             OWL_OK;
        ok = bson_append_document_end(doc, &sub) && ok;
        break;
    default: {
        owl_buf tmp = OWL_BUF_INIT;
        int vc = v ? (int)v->value_case : V(_NOT_SET);
        const char *s = vc == V(STRING_VALUE) ? v->string_value : "";
        int64_t num = vc == V(BOOL_VALUE)  ? v->bool_value != 0
                      : vc == V(INT_VALUE) ? v->int_value
                                           : 0;
        int rc = owl_otlp_bson_scalar(doc, key, klen, vc, s, strlen(s), num,
                                      vc == V(DOUBLE_VALUE) ? v->double_value : 0, &tmp);
        owl_buf_free(&tmp);
        return rc;
    }
    }
    return ok ? OWL_OK : OWL_ENOMEM;
}

int owl_otlp_bson_kvs(bson_t *doc, kv_t **kvs, size_t n)
{
    owl_buf tmp = OWL_BUF_INIT;
    int rc = OWL_OK;
    for (size_t i = 0; rc == OWL_OK && i < n; i++) {
        size_t kl;
        const char *k = owl_otlp_utf8(kvs[i]->key, &kl, &tmp);
        rc = k ? owl_otlp_bson_any(doc, k, kl, kvs[i]->value) : OWL_ENOMEM;
    }
    owl_buf_free(&tmp);
    return rc;
}

/* ---- building the batch ---- */

typedef struct ctx {
    owl_otlp_batch *b;
    int64_t now_ms;
    owl_otlp_delta_fn delta;
    void *ud;
    const char *ns;
    uint64_t res_hash;   /* resource + scope identity, the start of every stream hash */
    const metric_t *m;
    const char *name;    /* m->name copied into the batch (the request is freed) */
    size_t point;        /* index of the point within its metric */
} ctx;

static void reject(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(ctx *c, const char *fmt, ...)
{
    if (c->b->rejected++ == 0) {
        char why[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(c->b->message, sizeof c->b->message, "metric %.40s point %zu: %s",
                 c->m->name ? c->m->name : "", c->point, why);
    }
}

static char *astrdup(owl_arena *a, const char *s, size_t n)
{
    char *d = owl_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void fmt_double(double d, char out[32])
{
    snprintf(out, 32, "%.15g", d);
    if (strtod(out, NULL) != d)
        snprintf(out, 32, "%.17g", d);
}

/* An attribute value as text: strings as they are, other scalars as JSON would write them,
 * bytes in hex, arrays and key-value lists as JSON. */
static int render_any(const any_t *v, owl_buf *o, int top)
{
    char t[32];
    if (!v)
        return OWL_OK;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return top ? owl_buf_puts(o, v->string_value)
                   : owl_buf_json_str(o, v->string_value, strlen(v->string_value));
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return owl_buf_puts(o, v->bool_value ? "true" : "false");
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return owl_buf_printf(o, "%lld", (long long)v->int_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        fmt_double(v->double_value, t);
        return owl_buf_puts(o, t);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        for (size_t i = 0; i < v->bytes_value.len; i++)
            if (owl_buf_printf(o, "%02x", v->bytes_value.data[i]) != OWL_OK)
                return OWL_ENOMEM;
        return OWL_OK;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        int rc = owl_buf_putc(o, '[');
        for (size_t i = 0; rc == OWL_OK && i < v->array_value->n_values; i++) {
            if (i)
                rc = owl_buf_putc(o, ',');
            if (rc == OWL_OK)
                rc = render_any(v->array_value->values[i], o, 0);
        }
        return rc == OWL_OK ? owl_buf_putc(o, ']') : rc;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        int rc = owl_buf_putc(o, '{');
        for (size_t i = 0; rc == OWL_OK && i < v->kvlist_value->n_values; i++) {
            const kv_t *kv = v->kvlist_value->values[i];
            if (i)
                rc = owl_buf_putc(o, ',');
            if (rc == OWL_OK)
                rc = owl_buf_json_str(o, kv->key, strlen(kv->key));
            if (rc == OWL_OK)
                rc = owl_buf_putc(o, ':');
            if (rc == OWL_OK)
                rc = render_any(kv->value, o, 0);
        }
        return rc == OWL_OK ? owl_buf_putc(o, '}') : rc;
    }
    default:
        return top ? OWL_OK : owl_buf_puts(o, "null");
    }
}

/* UCUM units (what OTLP carries) to CloudWatch's; anything else is "None". A "{thing}"
 * annotation alone counts things. */
static const struct {
    const char *ucum, *cw;
} units[] = {
    {"s", "Seconds"}, {"ms", "Milliseconds"}, {"us", "Microseconds"},
    {"By", "Bytes"}, {"KBy", "Kilobytes"}, {"MBy", "Megabytes"}, {"GBy", "Gigabytes"},
    {"TBy", "Terabytes"}, {"KiBy", "Kilobytes"}, {"MiBy", "Megabytes"},
    {"GiBy", "Gigabytes"}, {"TiBy", "Terabytes"}, {"bit", "Bits"}, {"kbit", "Kilobits"},
    {"Kibit", "Kilobits"}, {"Mbit", "Megabits"}, {"Mibit", "Megabits"},
    {"Gbit", "Gigabits"}, {"Gibit", "Gigabits"}, {"Tbit", "Terabits"},
    {"%", "Percent"}, {"1", "None"}, {"", "None"}, {"By/s", "Bytes/Second"},
    {"KBy/s", "Kilobytes/Second"}, {"KiBy/s", "Kilobytes/Second"},
    {"MBy/s", "Megabytes/Second"}, {"MiBy/s", "Megabytes/Second"},
    {"GBy/s", "Gigabytes/Second"}, {"GiBy/s", "Gigabytes/Second"},
    {"bit/s", "Bits/Second"}, {"kbit/s", "Kilobits/Second"}, {"Mbit/s", "Megabits/Second"},
    {"Gbit/s", "Gigabits/Second"}, {"1/s", "Count/Second"},
};

static const char *unit_of(const char *u)
{
    if (!u)
        return "None";
    for (size_t i = 0; i < OWL_ARRAY_LEN(units); i++)
        if (strcmp(units[i].ucum, u) == 0)
            return units[i].cw;
    size_t n = strlen(u);
    if (n >= 2 && u[0] == '{' && u[n - 1] == '}' && !memchr(u + 1, '}', n - 2))
        return "Count";
    if (n >= 4 && u[0] == '{' && strcmp(u + n - 2, "/s") == 0 && u[n - 3] == '}')
        return "Count/Second";
    return "None";
}

/* A new datum for the current point with its dimensions from attrs; NULL when refused
 * (counted) or out of memory (*oom set). */
static owl_datum *new_datum(ctx *c, kv_t **attrs, size_t nattrs, uint64_t t_ns,
                            uint64_t *stream, int *oom)
{
    owl_otlp_batch *b = c->b;
    owl_buf tmp = OWL_BUF_INIT;
    owl_datum *d = NULL;
    *oom = 0;
    if (nattrs > OWL_METRIC_MAX_DIMS) {
        reject(c, "%zu attributes (at most %d dimensions)", nattrs, OWL_METRIC_MAX_DIMS);
        goto out;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        owl_datum *nd = realloc(b->d, cap * sizeof *nd);
        if (!nd)
            goto nomem;
        b->d = nd;
        b->cap = cap;
    }
    owl_dim *dims = owl_arena_alloc(&b->arena, (nattrs ? nattrs : 1) * sizeof *dims);
    if (!dims)
        goto nomem;
    uint64_t h = owl_hash64(c->m->name, strlen(c->m->name), c->res_hash);
    for (size_t i = 0; i < nattrs; i++) {
        owl_buf_reset(&tmp);
        if (render_any(attrs[i]->value, &tmp, 1) != OWL_OK)
            goto nomem;
        dims[i].name = astrdup(&b->arena, attrs[i]->key, strlen(attrs[i]->key));
        dims[i].value = astrdup(&b->arena, tmp.data ? tmp.data : "", tmp.len);
        if (!dims[i].name || !dims[i].value)
            goto nomem;
        h = owl_hash64(dims[i].name, strlen(dims[i].name) + 1, h);
        h = owl_hash64(dims[i].value, tmp.len + 1, h);
    }
    d = &b->d[b->n];
    memset(d, 0, sizeof *d);
    d->id.ns = c->ns;
    d->id.name = c->name;
    d->id.dims = dims;
    d->id.ndims = nattrs;
    d->unit = unit_of(c->m->unit);
    d->resolution = 60;
    d->time_ms = t_ns ? (int64_t)(t_ns / 1000000u) : c->now_ms;
    if (stream)
        *stream = h;
    goto out;
nomem:
    *oom = 1;
    d = NULL;
out:
    owl_buf_free(&tmp);
    return d;
}

static double *dup_doubles(ctx *c, const double *v, size_t n)
{
    double *d = owl_arena_alloc(&c->b->arena, (n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

/* Gauge and sum points. */
static int number_points(ctx *c, number_pt **pts, size_t n, int cumulative, int monotonic)
{
    for (size_t i = 0; i < n; i++) {
        const number_pt *p = pts[i];
        double v;
        int oom;
        uint64_t stream;
        c->point = i;
        if (p->flags & NO_VALUE_FLAG)
            continue; /* a stale marker, not a value */
        if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
            v = p->as_double;
        else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
            v = (double)p->as_int;
        else {
            reject(c, "no value");
            continue;
        }
        if (!isfinite(v)) {
            reject(c, "value is NaN or infinite");
            continue;
        }
        owl_datum *d = new_datum(c, p->attributes, p->n_attributes, p->time_unix_nano,
                                 &stream, &oom);
        if (oom)
            return OWL_ENOMEM;
        if (!d)
            continue;
        if (cumulative && monotonic) {
            /* a counter: what it counted since its previous point */
            double dv = v;
            if (c->delta(c->ud, stream ^ 0x5355u, (int64_t)p->start_time_unix_nano, &v, &dv,
                         1) == OWL_METRICS_BASELINE)
                continue; /* only the baseline of the next point */
            v = dv;
        }
        d->values = dup_doubles(c, &v, 1);
        if (!d->values)
            return OWL_ENOMEM;
        d->nvalues = 1;
        c->b->n++;
    }
    return OWL_OK;
}

/* Fills d as a distribution: reps/counts (only buckets with a count), exact statistics. */
static int distribution(ctx *c, owl_datum *d, const double *reps, const double *counts,
                        size_t n, double count, double sum, double min, double max)
{
    double *v = owl_arena_alloc(&c->b->arena, (n ? n : 1) * sizeof *v);
    double *k = owl_arena_alloc(&c->b->arena, (n ? n : 1) * sizeof *k);
    if (!v || !k)
        return OWL_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (counts[i] <= 0)
            continue;
        /* a bucket's representative lies within the point's observed range */
        double r = reps[i] < min ? min : reps[i] > max ? max : reps[i];
        v[m] = r;
        k[m] = counts[i];
        m++;
    }
    d->values = v;
    d->counts = k;
    d->nvalues = m;
    d->has_stats = 1;
    d->count = count;
    d->sum = sum;
    d->min = min;
    d->max = max;
    return OWL_OK;
}

/* Histogram points (explicit bounds). Cumulative ones give deltas of count, sum and the
 * bucket counts; min and max are taken as sent (the SDKs' delta min/max, or the stream's). */

/* (Re)allocates a histogram point's work arrays for nb buckets: cumulative and delta figures
 * (nb + 2: count, sum and the buckets) and one representative per bucket. OWL_ENOMEM leaves
 * them NULL (the caller frees). */
static int bucket_arrays(size_t nb, double **cum, double **dl, double **reps)
{
    free(*cum);
    free(*dl);
    free(*reps);
    *cum = malloc((nb + 2) * sizeof **cum);
    *dl = malloc((nb + 2) * sizeof **dl);
    *reps = malloc((nb ? nb : 1) * sizeof **reps);
    return *cum && *dl && *reps ? OWL_OK : OWL_ENOMEM;
}

static int hist_points(ctx *c, hist_pt **pts, size_t n, int cumulative)
{
    int rc = OWL_OK;
    double *cum = NULL, *dl = NULL, *reps = NULL;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        const hist_pt *p = pts[i];
        int oom;
        uint64_t stream;
        size_t nb = p->n_bucket_counts;
        c->point = i;
        if (p->flags & NO_VALUE_FLAG)
            continue;
        if (nb == 0 || nb != p->n_explicit_bounds + 1) {
            if (nb == 0 && p->count == 0)
                continue; /* nothing recorded */
            reject(c, "%zu bucket counts for %zu bounds", nb, p->n_explicit_bounds);
            continue;
        }
        int bad = 0;
        double total = 0;
        for (size_t j = 0; j < nb; j++)
            total += (double)p->bucket_counts[j];
        for (size_t j = 0; j < p->n_explicit_bounds; j++)
            if (!isfinite(p->explicit_bounds[j]) ||
                (j && p->explicit_bounds[j] <= p->explicit_bounds[j - 1]))
                bad = 1;
        int has_sum = p->has_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__HAS_SUM_SUM;
        int has_min = p->has_min_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__HAS_MIN_MIN;
        int has_max = p->has_max_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__HAS_MAX_MAX;
        if (bad || total != (double)p->count || (has_sum && !isfinite(p->sum)) ||
            (has_min && !isfinite(p->min)) || (has_max && !isfinite(p->max)) ||
            (has_min && has_max && p->min > p->max)) {
            reject(c, "bounds, counts, sum, min or max inconsistent or not finite");
            continue;
        }
        if ((rc = bucket_arrays(nb, &cum, &dl, &reps)) != OWL_OK)
            break;
        const double *b = p->explicit_bounds;
        size_t nbd = p->n_explicit_bounds;
        double lo = has_min ? p->min : (nbd ? b[0] : 0);
        double hi = has_max ? p->max : (nbd ? b[nbd - 1] : 0);
        for (size_t j = 0; j < nb; j++) {
            if (nbd == 0)
                reps[j] = has_sum && p->count ? p->sum / (double)p->count : 0;
            else if (j == 0)
                reps[j] = has_min ? p->min : b[0];
            else if (j == nb - 1)
                reps[j] = has_max ? p->max : b[nbd - 1];
            else
                reps[j] = b[j - 1] / 2 + b[j] / 2; /* no overflow near DBL_MAX */
        }
        cum[0] = (double)p->count;
        /* without a sum, the representatives' weighted sum stands in for it */
        double sum = 0;
        for (size_t j = 0; j < nb; j++)
            sum += reps[j] * (double)p->bucket_counts[j];
        cum[1] = has_sum ? p->sum : sum;
        if (!isfinite(cum[1])) {
            reject(c, "the sum of the observations is beyond doubles");
            continue;
        }
        for (size_t j = 0; j < nb; j++)
            cum[2 + j] = (double)p->bucket_counts[j];
        memcpy(dl, cum, (nb + 2) * sizeof *dl);
        owl_datum *d = new_datum(c, p->attributes, p->n_attributes, p->time_unix_nano,
                                 &stream, &oom);
        if (oom) {
            rc = OWL_ENOMEM;
            break;
        }
        if (!d)
            continue;
        if (cumulative) {
            for (size_t j = 0; j < nbd; j++)
                stream = owl_hash64(&b[j], sizeof b[j], stream); /* new bounds, new stream */
            c->delta(c->ud, stream ^ 0x4849u, (int64_t)p->start_time_unix_nano, cum, dl,
                     nb + 2);
        }
        if (dl[0] <= 0)
            continue; /* nothing new since the previous point */
        for (size_t j = 0; j < nb; j++) {
            if (!has_min && reps[j] < lo && dl[2 + j] > 0)
                lo = reps[j];
            if (!has_max && reps[j] > hi && dl[2 + j] > 0)
                hi = reps[j];
        }
        /* one bound sent, the other from the buckets: the sent one wins */
        if (!has_max && hi < lo)
            hi = lo;
        if (!has_min && lo > hi)
            lo = hi;
        rc = distribution(c, d, reps, dl + 2, nb, dl[0], dl[1], lo, hi);
        if (rc == OWL_OK)
            c->b->n++;
    }
    free(cum);
    free(dl);
    free(reps);
    return rc;
}

/* Exponential histogram points: bucket i of scale s covers (base^i, base^(i+1)] with
 * base = 2^(2^-s); its representative is the midpoint in log space, base^(i+0.5). */
static int exp_points(ctx *c, exp_pt **pts, size_t n, int cumulative)
{
    int rc = OWL_OK;
    double *cum = NULL, *dl = NULL, *reps = NULL;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        const exp_pt *p = pts[i];
        int oom;
        uint64_t stream;
        c->point = i;
        if (p->flags & NO_VALUE_FLAG)
            continue;
        size_t np = p->positive ? p->positive->n_bucket_counts : 0;
        size_t nn = p->negative ? p->negative->n_bucket_counts : 0;
        size_t nb = 1 + np + nn;
        int has_sum = p->has_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__HAS_SUM_SUM;
        int has_min = p->has_min_case == OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__HAS_MIN_MIN;
        int has_max = p->has_max_case == OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__HAS_MAX_MAX;
        if (p->count == 0)
            continue;
        if (p->scale < -10 || p->scale > 20 || nb > 4096 || (has_sum && !isfinite(p->sum)) ||
            (has_min && !isfinite(p->min)) || (has_max && !isfinite(p->max)) ||
            (has_min && has_max && p->min > p->max)) {
            reject(c, "scale, bucket count, sum, min or max out of range");
            continue;
        }
        if ((rc = bucket_arrays(nb, &cum, &dl, &reps)) != OWL_OK)
            break;
        double base_log2 = ldexp(1.0, -p->scale); /* log2(base) */
        int bad = 0;
        double total = (double)p->zero_count;
        reps[0] = 0;
        cum[2] = (double)p->zero_count;
        for (size_t j = 0; j < np; j++) {
            double r = exp2(((double)p->positive->offset + (double)j + 0.5) * base_log2);
            reps[1 + j] = r;
            cum[3 + j] = (double)p->positive->bucket_counts[j];
            total += cum[3 + j];
            if (!isfinite(r) && cum[3 + j] > 0)
                bad = 1;
        }
        for (size_t j = 0; j < nn; j++) {
            double r = -exp2(((double)p->negative->offset + (double)j + 0.5) * base_log2);
            reps[1 + np + j] = r;
            cum[3 + np + j] = (double)p->negative->bucket_counts[j];
            total += cum[3 + np + j];
            if (!isfinite(r) && cum[3 + np + j] > 0)
                bad = 1;
        }
        if (bad || total != (double)p->count) {
            reject(c, "bucket counts do not add up to count, or a bucket lies beyond doubles");
            continue;
        }
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        for (size_t j = 0; j < nb; j++) {
            if (cum[2 + j] <= 0 || !isfinite(reps[j]))
                continue;
            sum += reps[j] * cum[2 + j];
            lo = reps[j] < lo ? reps[j] : lo;
            hi = reps[j] > hi ? reps[j] : hi;
        }
        cum[0] = (double)p->count;
        cum[1] = has_sum ? p->sum : sum;
        if (!isfinite(cum[1])) {
            reject(c, "the sum of the observations is beyond doubles");
            continue;
        }
        memcpy(dl, cum, (nb + 2) * sizeof *dl);
        owl_datum *d = new_datum(c, p->attributes, p->n_attributes, p->time_unix_nano,
                                 &stream, &oom);
        if (oom) {
            rc = OWL_ENOMEM;
            break;
        }
        if (!d)
            continue;
        if (cumulative) {
            /* a change of scale or offsets moves every bucket: a new stream */
            int32_t shape[5] = {p->scale, p->positive ? p->positive->offset : 0,
                                p->negative ? p->negative->offset : 0, (int32_t)np,
                                (int32_t)nn};
            stream = owl_hash64(shape, sizeof shape, stream);
            c->delta(c->ud, stream ^ 0x4548u, (int64_t)p->start_time_unix_nano, cum, dl,
                     nb + 2);
        }
        if (dl[0] <= 0)
            continue;
        if (has_min)
            lo = p->min;
        if (has_max)
            hi = p->max;
        if (!isfinite(lo) && !isfinite(hi))
            lo = hi = 0; /* only zeros */
        if (!has_max && !(hi >= lo))
            hi = lo;
        if (!has_min && !(lo <= hi))
            lo = hi;
        rc = distribution(c, d, reps, dl + 2, nb, dl[0], dl[1], lo, hi);
        if (rc == OWL_OK)
            c->b->n++;
    }
    free(cum);
    free(dl);
    free(reps);
    return rc;
}

/* Summary points: a statistic set when the 0 and 1 quantiles give min and max (count and
 * sum are cumulative, turned into deltas); otherwise refused (CloudWatch needs min/max). */
static int summary_points(ctx *c, summary_pt **pts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const summary_pt *p = pts[i];
        int oom, has_lo = 0, has_hi = 0;
        uint64_t stream;
        double lo = 0, hi = 0;
        c->point = i;
        if (p->flags & NO_VALUE_FLAG)
            continue;
        for (size_t j = 0; j < p->n_quantile_values; j++) {
            if (p->quantile_values[j]->quantile == 0) {
                lo = p->quantile_values[j]->value;
                has_lo = 1;
            } else if (p->quantile_values[j]->quantile == 1) {
                hi = p->quantile_values[j]->value;
                has_hi = 1;
            }
        }
        if (!has_lo || !has_hi || !isfinite(lo) || !isfinite(hi) || lo > hi ||
            !isfinite(p->sum)) {
            reject(c, "a summary needs finite quantiles 0 and 1 (min and max) and sum");
            continue;
        }
        owl_datum *d = new_datum(c, p->attributes, p->n_attributes, p->time_unix_nano,
                                 &stream, &oom);
        if (oom)
            return OWL_ENOMEM;
        if (!d)
            continue;
        double cum[2] = {(double)p->count, p->sum}, dl[2] = {cum[0], cum[1]};
        c->delta(c->ud, stream ^ 0x5355u, (int64_t)p->start_time_unix_nano, cum, dl, 2);
        if (dl[0] <= 0)
            continue;
        d->has_stats = 1;
        d->count = dl[0];
        d->sum = dl[1];
        d->min = lo;
        d->max = hi;
        c->b->n++;
    }
    return OWL_OK;
}

static int metric(ctx *c, const metric_t *m)
{
    c->m = m;
    c->point = 0;
    if (!m->name[0]) {
        reject(c, "a metric has no name");
        return OWL_OK;
    }
    c->name = astrdup(&c->b->arena, m->name, strlen(m->name));
    if (!c->name)
        return OWL_ENOMEM;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return number_points(c, m->gauge->data_points, m->gauge->n_data_points, 0, 0);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return number_points(c, m->sum->data_points, m->sum->n_data_points,
                             m->sum->aggregation_temporality == CUMULATIVE,
                             m->sum->is_monotonic);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return hist_points(c, m->histogram->data_points, m->histogram->n_data_points,
                           m->histogram->aggregation_temporality == CUMULATIVE);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return exp_points(c, m->exponential_histogram->data_points,
                          m->exponential_histogram->n_data_points,
                          m->exponential_histogram->aggregation_temporality == CUMULATIVE);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return summary_points(c, m->summary->data_points, m->summary->n_data_points);
    default:
        reject(c, "a metric without data");
        return OWL_OK;
    }
}

/* The namespace of a resource: "otel/<service.name>", or "otel" when it has none. */
static const char *namespace_of(ctx *c, const Opentelemetry__Proto__Resource__V1__Resource *r)
{
    for (size_t i = 0; r && i < r->n_attributes; i++) {
        const kv_t *kv = r->attributes[i];
        if (strcmp(kv->key, "service.name") == 0 && kv->value &&
            kv->value->value_case ==
                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
            kv->value->string_value[0]) {
            size_t n = strlen(kv->value->string_value);
            char *s = owl_arena_alloc(&c->b->arena, n + 6);
            if (s)
                snprintf(s, n + 6, "otel/%s", kv->value->string_value);
            return s;
        }
    }
    return "otel";
}

/* The identity of a resource and scope, as their packed bytes hashed. */
static int packed_hash(const ProtobufCMessage *msg, uint64_t seed, uint64_t *out)
{
    if (!msg) {
        *out = owl_mix64(seed + 1);
        return OWL_OK;
    }
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return OWL_ENOMEM;
    protobuf_c_message_pack(msg, p);
    *out = owl_hash64(p, n, seed);
    free(p);
    return OWL_OK;
}

void owl_otlp_batch_free(owl_otlp_batch *b)
{
    if (!b)
        return;
    free(b->d);
    owl_arena_free(&b->arena);
    b->d = NULL;
    b->n = b->cap = 0;
    b->rejected = 0;
    b->message[0] = '\0';
}

static void *mem_alloc(void *mem, size_t n)
{
    return owl_arena_alloc(mem, n);
}

static void mem_free(void *mem, void *p)
{
    (void)mem, (void)p; /* freed with the arena */
}

int owl_otlp_request_wire(const ProtobufCMessageDescriptor *desc, enum owl_otlp_encoding enc,
                          const void *body, size_t n, owl_buf *json, const uint8_t **p,
                          size_t *len, owl_error *err)
{
    *p = body ? body : (const void *)"";
    *len = n;
    if (enc == OWL_OTLP_PROTOBUF)
        return OWL_OK;
    if (enc != OWL_OTLP_JSON)
        return owl_error_set(err, OWL_EINVAL, "unknown encoding");
    int rc = owl_otlp_json_wire(desc, body, n, json, err);
    *p = json->data ? (const uint8_t *)json->data : (const uint8_t *)"";
    *len = json->len;
    return rc;
}

int owl_otlp_unpack(const ProtobufCMessageDescriptor *desc, enum owl_otlp_encoding enc,
                    const void *body, size_t n, owl_arena *mem, ProtobufCMessage **out,
                    owl_error *err)
{
    ProtobufCAllocator al = {mem_alloc, mem_free, mem};
    owl_buf wire = OWL_BUF_INIT;
    const uint8_t *p;
    *out = NULL;
    int rc = owl_otlp_request_wire(desc, enc, body, n, &wire, &p, &n, err);
    if (rc != OWL_OK)
        goto out;
    if (wire_depth_ok(desc, p, n, 0) != 0) {
        rc = owl_error_set(err, OWL_EINVAL,
                           "malformed protobuf: truncated field or nesting deeper than %d",
                           OTLP_MAX_DEPTH);
        goto out;
    }
    *out = protobuf_c_message_unpack(desc, &al, n, p);
    if (!*out)
        rc = owl_error_set(err, OWL_EINVAL, "malformed protobuf %s", desc->short_name);
out:
    owl_buf_free(&wire);
    return rc;
}

ProtobufCMessage *owl_otlp_unpack_at(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                                     size_t n, int depth, owl_arena *mem)
{
    ProtobufCAllocator al = {mem_alloc, mem_free, mem};
    if (wire_depth_ok(desc, p, n, depth) != 0)
        return NULL;
    return protobuf_c_message_unpack(desc, &al, n, p);
}

int owl_otlp_metrics_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                            int64_t now_ms, owl_otlp_delta_fn delta, void *ud,
                            owl_otlp_batch *out, owl_error *err)
{
    export_req *req = NULL;
    ctx c = {.b = out, .now_ms = now_ms, .delta = delta, .ud = ud};
    owl_arena mem;
    owl_arena_init(&mem, OTLP_UNPACK_BLOCK);
    if (!out->arena.block_size)
        owl_arena_init(&out->arena, 64 * 1024);
    int rc = owl_otlp_unpack(&REQ_DESC, enc, body, n, &mem, (ProtobufCMessage **)&req, err);
    for (size_t i = 0; rc == OWL_OK && i < req->n_resource_metrics; i++) {
        const res_metrics *rm = req->resource_metrics[i];
        uint64_t rh;
        c.ns = namespace_of(&c, rm->resource);
        if (!c.ns) {
            rc = OWL_ENOMEM;
            break;
        }
        rc = packed_hash((const ProtobufCMessage *)rm->resource, 0x6f746c70u, &rh);
        for (size_t j = 0; rc == OWL_OK && j < rm->n_scope_metrics; j++) {
            const scope_metrics *sm = rm->scope_metrics[j];
            rc = packed_hash((const ProtobufCMessage *)sm->scope, rh, &c.res_hash);
            for (size_t k = 0; rc == OWL_OK && k < sm->n_metrics; k++)
                rc = metric(&c, sm->metrics[k]);
        }
    }
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding OTLP metrics");
    owl_arena_free(&mem);
    return rc;
}

static int store_delta(void *ud, uint64_t stream, int64_t start_ns, const double *cum,
                       double *dl, size_t n)
{
    int rc = owl_metrics_delta(ud, stream, start_ns, cum, dl, n);
    if (rc < 0) /* no delta state: the figures since the stream started */
        memcpy(dl, cum, n * sizeof *dl);
    return rc;
}

int owl_otlp_metrics_ingest(owl_metrics *m, const char *tenant, enum owl_otlp_encoding enc,
                            const void *body, size_t n, int64_t now_ms, owl_otlp_batch *out,
                            owl_error *err)
{
    int rc = owl_otlp_metrics_decode(enc, body, n, now_ms, store_delta, m, out, err);
    if (rc != OWL_OK)
        return rc;
    /* CloudWatch's checks refuse a whole request; OTLP refuses points: check each datum
     * alone and keep the good ones in place. */
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        enum owl_metric_fault fault = OWL_MF_NONE;
        owl_error cerr = {0};
        int crc = owl_metrics_check(&out->d[i], 1, 0, now_ms, &fault, &cerr);
        if (crc == OWL_EINVAL) {
            if (out->rejected++ == 0)
                snprintf(out->message, sizeof out->message, "metric %.60s: %.180s",
                         out->d[i].id.name, cerr.msg);
            continue;
        }
        if (crc != OWL_OK)
            return owl_error_set(err, crc, "checking datapoints: %s",
                                 cerr.msg[0] ? cerr.msg : owl_strerror(crc));
        out->d[kept++] = out->d[i];
    }
    out->n = kept;
    if (kept == 0)
        return OWL_OK;
    enum owl_metric_fault fault = OWL_MF_NONE;
    return owl_metrics_put(m, tenant, out->d, kept, 0, now_ms, &fault, err);
}

int owl_otlp_response(enum owl_otlp_encoding enc, const char *field, size_t rejected,
                      const char *message, const ProtobufCMessage *resp, owl_buf *out)
{
    if (enc == OWL_OTLP_JSON) {
        if (!rejected)
            return owl_buf_puts(out, "{}");
        int rc = owl_buf_printf(out, "{\"partialSuccess\":{\"%s\":\"%zu\",\"errorMessage\":",
                                field, rejected);
        if (rc == OWL_OK)
            rc = owl_buf_json_str(out, message ? message : "", message ? strlen(message) : 0);
        return rc == OWL_OK ? owl_buf_puts(out, "}}") : rc;
    }
    size_t n = protobuf_c_message_get_packed_size(resp);
    if (owl_buf_reserve(out, n + 1) != OWL_OK)
        return OWL_ENOMEM;
    protobuf_c_message_pack(resp, (uint8_t *)out->data + out->len);
    out->len += n;
    return OWL_OK;
}

int owl_otlp_metrics_response(enum owl_otlp_encoding enc, size_t rejected,
                              const char *message, owl_buf *out)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
    if (rejected) {
        ps.rejected_data_points = (int64_t)rejected;
        ps.error_message = (char *)(message ? message : "");
        r.partial_success = &ps;
    }
    return owl_otlp_response(enc, "rejectedDataPoints", rejected, message,
                             (const ProtobufCMessage *)&r, out);
}

int owl_otlp_status(enum owl_otlp_encoding enc, int code, const char *message, owl_buf *out)
{
    if (enc == OWL_OTLP_JSON) {
        int rc = owl_buf_printf(out, "{\"code\":%d,\"message\":", code);
        if (rc == OWL_OK)
            rc = owl_buf_json_str(out, message ? message : "", message ? strlen(message) : 0);
        return rc == OWL_OK ? owl_buf_putc(out, '}') : rc;
    }
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = code;
    st.message = (char *)(message ? message : "");
    size_t n = protobuf_c_message_get_packed_size((const ProtobufCMessage *)&st);
    if (owl_buf_reserve(out, n + 1) != OWL_OK)
        return OWL_ENOMEM;
    protobuf_c_message_pack((const ProtobufCMessage *)&st, (uint8_t *)out->data + out->len);
    out->len += n;
    return OWL_OK;
}

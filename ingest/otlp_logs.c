/* otlp_logs.c — OTLP/HTTP logs: an ExportLogsServiceRequest (protobuf, or OTLP JSON through
 * the same descriptors as metrics: otlp_int.h) turned into owl_log_events grouped by
 * (log group, log stream), as docs/otlp.md's logs section describes. Invariant: each log
 * record is either one event of out or counted in out->rejected, never both. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "common/utf8.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"
#include "ingest/otlp_wire.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest export_req;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs res_logs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs scope_logs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord log_rec;
typedef Opentelemetry__Proto__Resource__V1__Resource resource_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

#define REQ_DESC opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor
#define V(kind) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##kind

/* Where a resource's records go (docs/otlp.md). */
#define GROUP_ATTR "aws.log.group.names"
#define DEFAULT_SERVICE "unknown_service"
#define DEFAULT_STREAM "default"

/* The decode of one request: the resource's names and attrs parts, built once per resource
 * (and scope) and shared by its records. */
typedef struct ctx {
    owl_log_decoded *d;
    int64_t now_ms;
    owl_buf group, stream;
    const char *bad_group; /* an explicit aws.log.group.names that is not a valid name */
    bson_t res, scope;     /* the resource attributes; the scope's name and version */
    size_t ri, si, li;     /* where the current record is, for the refusal message */
    owl_bytes shared;      /* the attrs of a record with no attributes of its own in this
                              scope (resource + scope only), made once; .p NULL: not yet */
    owl_buf msg;           /* the current record's message, reused record after record */
} ctx;

/* One log record as both readings give it: the general path from protobuf-c's message, the
 * protobuf fast path from the wire. Texts are views, without NUL (the general path's stop at
 * their first NUL, as protobuf-c's strings do; the fast path declines one holding a NUL). */
typedef struct rec {
    uint64_t time_ns, observed_ns;
    int32_t severity;
    owl_bytes severity_text, event_name; /* empty: absent */
    int has_text;                        /* body is a string: body_text */
    owl_bytes body_text;
    const any_t *body; /* otherwise (has_text 0): any other body, or NULL for none */
    owl_bytes trace_id, span_id;
    kv_t *const *attrs;
    size_t nattrs;
} rec;

static void reject(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(ctx *c, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    owl_log_decoded_reject(c->d, "resource %zu scope %zu record %zu: %s", c->ri, c->si, c->li,
                           why);
}

/* ---- AnyValue as JSON text and as BSON ---- */

static int base64(const uint8_t *p, size_t n, owl_buf *o)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char t[4] = {tab[v >> 18], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        if (owl_buf_append(o, t, 4) != OWL_OK)
            return OWL_ENOMEM;
    }
    return OWL_OK;
}

/* v as JSON text (protobuf's JSON mapping for bytes: base64; non-finite doubles as the
 * strings "NaN", "Infinity", "-Infinity"). At the top (the log message; a string body never
 * comes here) bytes and non-finite doubles go without quotes, and an empty value gives "". */
static int json_any(const any_t *v, owl_buf *o, int top)
{
    const char *q = top ? "" : "\"";
    int rc = OWL_OK;
    if (!v)
        return top ? OWL_OK : owl_buf_puts(o, "null");
    switch (v->value_case) {
    case V(STRING_VALUE): /* at the top, record() takes the string as it is */
        return owl_buf_json_str(o, v->string_value, strlen(v->string_value));
    case V(BOOL_VALUE):
        return owl_buf_puts(o, v->bool_value ? "true" : "false");
    case V(INT_VALUE):
        return owl_buf_printf(o, "%lld", (long long)v->int_value);
    case V(DOUBLE_VALUE): {
        double d = v->double_value;
        char t[32];
        if (isnan(d))
            return owl_buf_printf(o, "%sNaN%s", q, q);
        if (isinf(d))
            return owl_buf_printf(o, "%s%sInfinity%s", q, d < 0 ? "-" : "", q);
        snprintf(t, sizeof t, "%.15g", d);
        if (strtod(t, NULL) != d)
            snprintf(t, sizeof t, "%.17g", d);
        return owl_buf_puts(o, t);
    }
    case V(BYTES_VALUE):
        if ((rc = owl_buf_puts(o, q)) == OWL_OK &&
            (rc = base64(v->bytes_value.data, v->bytes_value.len, o)) == OWL_OK)
            rc = owl_buf_puts(o, q);
        return rc;
    case V(ARRAY_VALUE):
        rc = owl_buf_putc(o, '[');
        for (size_t i = 0; rc == OWL_OK && i < v->array_value->n_values; i++) {
            if (i)
                rc = owl_buf_putc(o, ',');
            if (rc == OWL_OK)
                rc = json_any(v->array_value->values[i], o, 0);
        }
        return rc == OWL_OK ? owl_buf_putc(o, ']') : rc;
    case V(KVLIST_VALUE):
        rc = owl_buf_putc(o, '{');
        for (size_t i = 0; rc == OWL_OK && i < v->kvlist_value->n_values; i++) {
            const kv_t *kv = v->kvlist_value->values[i];
            if (i)
                rc = owl_buf_putc(o, ',');
            if (rc == OWL_OK)
                rc = owl_buf_json_str(o, kv->key, strlen(kv->key));
            if (rc == OWL_OK)
                rc = owl_buf_putc(o, ':');
            if (rc == OWL_OK)
                rc = json_any(kv->value, o, 0);
        }
        return rc == OWL_OK ? owl_buf_putc(o, '}') : rc;
    default:
        return top ? OWL_OK : owl_buf_puts(o, "null");
    }
}

/* ---- where a resource's records go ---- */

static const any_t *attr(const resource_t *r, const char *key)
{
    for (size_t i = 0; r && i < r->n_attributes; i++)
        if (strcmp(r->attributes[i]->key, key) == 0)
            return r->attributes[i]->value;
    return NULL;
}

/* The attribute's string (the first element's, for an array of strings), or NULL. */
static const char *attr_str(const resource_t *r, const char *key, int first_of_array)
{
    const any_t *v = attr(r, key);
    if (v && first_of_array && v->value_case == V(ARRAY_VALUE) && v->array_value->n_values)
        v = v->array_value->values[0];
    if (v && v->value_case == V(STRING_VALUE) && v->string_value[0])
        return v->string_value;
    return NULL;
}

/* Appends s to o made a valid name: bytes the name may not hold become '_', the whole of o
 * cut at 512 bytes (for a stream, on a character boundary after UTF-8 repair). */
static int sanitized(owl_buf *o, const char *s, int group)
{
    owl_buf t = OWL_BUF_INIT;
    int rc = owl_log_decoded_utf8(s, strlen(s), &t);
    for (size_t i = 0; rc == OWL_OK && i < t.len; i++) {
        char ch = t.data[i];
        char one[1] = {ch};
        if (group ? !owl_log_decoded_group_ok(one, 1) : (ch == ':' || ch == '*'))
            t.data[i] = '_';
    }
    size_t n = t.len, room = OWL_LOG_NAME_MAX - o->len;
    if (n > room) {
        n = room;
        while (n && ((unsigned char)t.data[n] & 0xC0) == 0x80)
            n--; /* t.data[n] continues a character: cut before that character */
    }
    if (rc == OWL_OK)
        rc = owl_buf_append(o, t.data, n);
    owl_buf_free(&t);
    return rc;
}

static int route(ctx *c, const resource_t *r)
{
    const char *g = attr_str(r, GROUP_ATTR, 1);
    const char *s = attr_str(r, "service.instance.id", 0);
    int rc;
    owl_buf_reset(&c->group);
    owl_buf_reset(&c->stream);
    c->bad_group = NULL;
    if (g) {
        if (!owl_log_decoded_group_ok(g, strlen(g)))
            c->bad_group = g;
        rc = owl_buf_puts(&c->group, g);
    } else {
        const char *svc = attr_str(r, "service.name", 0);
        rc = owl_buf_puts(&c->group, "/otel/");
        if (rc == OWL_OK)
            rc = sanitized(&c->group, svc ? svc : DEFAULT_SERVICE, 1);
    }
    if (!s)
        s = attr_str(r, "host.name", 0);
    if (rc == OWL_OK)
        rc = sanitized(&c->stream, s ? s : DEFAULT_STREAM, 0);
    if (rc == OWL_OK && c->stream.len == 0)
        rc = owl_buf_puts(&c->stream, DEFAULT_STREAM);
    return rc;
}

/* ---- one record ---- */

static const char *severity_name(int num)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    return num >= 1 && num <= 24 ? names[(num - 1) / 4] : NULL;
}

static int attrs_of(ctx *c, const rec *r, owl_bytes *out)
{
    bson_t doc = BSON_INITIALIZER, sub;
    int rc = OWL_OK;
    *out = (owl_bytes){NULL, 0};
    /* a record without attributes of its own shares its scope's one copy (the store keeps
     * the bytes once per run of equal values) */
    int plain = r->nattrs == 0 && r->event_name.n == 0;
    if (plain && c->shared.p) {
        *out = c->shared;
        return OWL_OK;
    }
    if (r->nattrs) {
        if (!bson_append_document_begin(&doc, "attributes", -1, &sub)) {
            rc = OWL_ENOMEM;
        } else {
            rc = owl_otlp_bson_kvs(&sub, (kv_t **)r->attrs, r->nattrs);
            if (!bson_append_document_end(&doc, &sub) && rc == OWL_OK)
                rc = OWL_ENOMEM;
        }
    }
    if (rc == OWL_OK && !bson_empty(&c->res) &&
        !bson_append_document(&doc, "resource", -1, &c->res))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_empty(&c->scope) &&
        !bson_append_document(&doc, "scope", -1, &c->scope))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && r->event_name.n) {
        owl_buf tmp = OWL_BUF_INIT;
        size_t n;
        const char *s = owl_otlp_utf8n(r->event_name.p, r->event_name.n, &n, &tmp);
        if (!s || !bson_append_utf8(&doc, "event_name", -1, s, (int)n))
            rc = OWL_ENOMEM;
        owl_buf_free(&tmp);
    }
    if (rc == OWL_OK && !bson_empty(&doc)) {
        void *p = owl_arena_copy(&c->d->arena, bson_get_data(&doc), doc.len);
        if (p)
            *out = (owl_bytes){p, doc.len};
        else
            rc = OWL_ENOMEM;
    }
    if (rc == OWL_OK && plain && out->p)
        c->shared = *out;
    bson_destroy(&doc);
    return rc;
}

/* A string body into the decode's arena, repaired when it is not UTF-8. OWL_EUNSUPPORTED
 * when it holds a NUL (only a fast path's text can: it declines then). */
static int body_text(ctx *c, owl_bytes t, owl_bytes *out)
{
    if (!owl_utf8_valid(t.p, t.n)) /* the common case, checked 8 bytes at a time */
        return memchr(t.p, 0, t.n) ? OWL_EUNSUPPORTED
                                   : owl_log_decoded_text(c->d, t.p, t.n, out);
    void *p = owl_arena_copy(&c->d->arena, t.p, t.n);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, t.n};
    return OWL_OK;
}

static int record(ctx *c, const rec *r)
{
    owl_log_event ev;
    owl_buf *msg = &c->msg;
    int rc = OWL_OK;
    owl_buf_reset(msg);
    memset(&ev, 0, sizeof ev);
    if (c->bad_group) {
        reject(c, "%s is not a valid log group name", GROUP_ATTR);
        return OWL_OK;
    }
    if (r->trace_id.n != 0 && r->trace_id.n != sizeof ev.trace_id) {
        reject(c, "trace_id of %zu bytes (16 expected)", r->trace_id.n);
        return OWL_OK;
    }
    if (r->span_id.n != 0 && r->span_id.n != sizeof ev.span_id) {
        reject(c, "span_id of %zu bytes (8 expected)", r->span_id.n);
        return OWL_OK;
    }
    /* a string body (the common case) goes to the decode's arena as it is (checked once,
     * repaired only when it is not UTF-8); other kinds are rendered as JSON first */
    if (r->has_text)
        rc = body_text(c, r->body_text, &ev.message);
    else if ((rc = json_any(r->body, msg, 1)) == OWL_OK)
        rc = owl_log_decoded_text(c->d, msg->data ? msg->data : "", msg->len, &ev.message);
    if (rc != OWL_OK)
        return rc;
    if (ev.message.n > OWL_LOG_MESSAGE_MAX) {
        reject(c, "a message of %zu bytes (at most %d)", ev.message.n, OWL_LOG_MESSAGE_MAX);
        return OWL_OK;
    }
    ev.time_ms = r->time_ns       ? (int64_t)(r->time_ns / 1000000u)
                 : r->observed_ns ? (int64_t)(r->observed_ns / 1000000u)
                                  : c->now_ms;
    if (r->trace_id.n)
        memcpy(ev.trace_id, r->trace_id.p, sizeof ev.trace_id);
    if (r->span_id.n)
        memcpy(ev.span_id, r->span_id.p, sizeof ev.span_id);
    const char *sev = severity_name(r->severity);
    if (r->severity_text.n)
        rc = owl_log_decoded_text(c->d, r->severity_text.p, r->severity_text.n, &ev.severity);
    else if (sev)
        rc = owl_log_decoded_text(c->d, sev, strlen(sev), &ev.severity);
    if (rc != OWL_OK || (rc = attrs_of(c, r, &ev.attrs)) != OWL_OK)
        return rc;
    return owl_log_decoded_add(c->d, c->group.data, c->group.len, c->stream.data,
                               c->stream.len, &ev);
}

/* The general path's record: r as a rec. */
static int record_msg(ctx *c, const log_rec *r)
{
    rec x = {.time_ns = r->time_unix_nano,
             .observed_ns = r->observed_time_unix_nano,
             .severity = (int32_t)r->severity_number,
             .severity_text = {r->severity_text, r->severity_text ? strlen(r->severity_text) : 0},
             .event_name = {r->event_name, r->event_name ? strlen(r->event_name) : 0},
             .trace_id = {r->trace_id.data, r->trace_id.len},
             .span_id = {r->span_id.data, r->span_id.len},
             .attrs = r->attributes,
             .nattrs = r->n_attributes};
    if (r->body && r->body->value_case == V(STRING_VALUE)) {
        x.has_text = 1;
        x.body_text = (owl_bytes){r->body->string_value, strlen(r->body->string_value)};
    } else {
        x.body = r->body;
    }
    return record(c, &x);
}

static int scope_doc(bson_t *doc, const scope_t *s)
{
    owl_buf tmp = OWL_BUF_INIT;
    int ok = 1;
    size_t n;
    bson_reinit(doc);
    if (s && s->name && s->name[0]) {
        const char *v = owl_otlp_utf8(s->name, &n, &tmp);
        ok = v && bson_append_utf8(doc, "name", -1, v, (int)n);
    }
    if (ok && s && s->version && s->version[0]) {
        const char *v = owl_otlp_utf8(s->version, &n, &tmp);
        ok = v && bson_append_utf8(doc, "version", -1, v, (int)n);
    }
    owl_buf_free(&tmp);
    return ok ? OWL_OK : OWL_ENOMEM;
}

static size_t count_records(const export_req *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_logs; i++)
        for (size_t j = 0; j < req->resource_logs[i]->n_scope_logs; j++)
            n += req->resource_logs[i]->scope_logs[j]->n_log_records;
    return n;
}

static int resource(ctx *c, const res_logs *rl)
{
    const resource_t *r = rl->resource;
    int rc = route(c, r);
    bson_reinit(&c->res);
    if (rc == OWL_OK && r)
        rc = owl_otlp_bson_kvs(&c->res, r->attributes, r->n_attributes);
    for (c->si = 0; rc == OWL_OK && c->si < rl->n_scope_logs; c->si++) {
        const scope_logs *sl = rl->scope_logs[c->si];
        rc = scope_doc(&c->scope, sl->scope);
        c->shared = (owl_bytes){NULL, 0}; /* a new resource or scope: new shared attrs */
        for (c->li = 0; rc == OWL_OK && c->li < sl->n_log_records; c->li++)
            rc = record_msg(c, sl->log_records[c->li]);
    }
    return rc;
}

/* ---- the protobuf fast path ----
 * Requests are read from the wire straight into records: the request, ResourceLogs,
 * ScopeLogs, LogRecord and a string body are walked here; a resource, a scope and each
 * attribute are small and unpacked by protobuf-c (owl_otlp_unpack_at) at their depth. It
 * declines (OWL_EUNSUPPORTED) whatever it is not sure to read as protobuf-c would (a message
 * field given twice, which protobuf-c merges; a body other than a string; a NUL in a text;
 * a wire type other than the field's; more records than allowed; anything malformed), and
 * the general path (protobuf-c's unpack of the whole request) then answers. */

#define RL_DESC opentelemetry__proto__logs__v1__resource_logs__descriptor
#define SL_DESC opentelemetry__proto__logs__v1__scope_logs__descriptor
#define LR_DESC opentelemetry__proto__logs__v1__log_record__descriptor

/* A body (AnyValue): only a string, or nothing, is read here. */
static int fast_body(owl_bytes b, rec *r)
{
    owl_wire w = owl_wire_of(b);
    uint32_t f;
    int wt;
    r->has_text = 0;
    r->body = NULL;
    while (w.p < w.end) {
        if (owl_wire_tag(&w, &f, &wt) != 0)
            return -1;
        if (f == 1 && wt == OWL_WT_LEN) { /* a NUL in it is found by body_text */
            if (owl_wire_bytes(&w, &r->body_text) != 0)
                return -1;
            r->has_text = 1;
        } else if (owl_wire_skip(&w, &ANY_DESC, f, wt) != 0) {
            return -1;
        }
    }
    return 0;
}

typedef struct fast {
    ctx *c;
    owl_arena *mem;
    size_t records, max_records;
    kv_t **kvs;
    size_t kv_cap;
} fast;

/* The bytes b of a record's attribute k unpacked into x->kvs[k] (grown in the arena):
 * OWL_OK, OWL_EUNSUPPORTED when protobuf-c refuses them, OWL_ENOMEM. */
static int keep_kv(fast *x, owl_bytes b, size_t k)
{
    if (k == x->kv_cap) {
        size_t cap = x->kv_cap ? 2 * x->kv_cap : 16;
        kv_t **a = owl_arena_alloc(x->mem, cap * sizeof *a);
        if (!a)
            return OWL_ENOMEM;
        if (k)
            memcpy(a, x->kvs, k * sizeof *a);
        x->kvs = a, x->kv_cap = cap;
    }
    x->kvs[k] = (kv_t *)owl_otlp_unpack_at(&KV_DESC, b.p, b.n, 4, x->mem);
    return x->kvs[k] ? OWL_OK : OWL_EUNSUPPORTED;
}

static int fast_record(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_wire w = owl_wire_of(b);
    rec r = {0};
    uint32_t f;
    int wt, rc, seen_body = 0;
    uint64_t v;
    owl_bytes kv;
    size_t nkv = 0;
    if (++x->records > x->max_records)
        return OWL_EUNSUPPORTED;
    while (w.p < w.end) {
        if (owl_wire_tag(&w, &f, &wt) != 0)
            return OWL_EUNSUPPORTED;
        int bad;
        switch (OWL_WIRE_FW(f, wt)) {
        case OWL_WIRE_FW(1, OWL_WT_I64):
            bad = owl_wire_fixed64(&w, &r.time_ns);
            break;
        case OWL_WIRE_FW(11, OWL_WT_I64):
            bad = owl_wire_fixed64(&w, &r.observed_ns);
            break;
        case OWL_WIRE_FW(2, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            r.severity = (int32_t)(uint32_t)v; /* protobuf-c keeps an enum's low 32 bits */
            break;
        case OWL_WIRE_FW(3, OWL_WT_LEN):
            bad = owl_wire_text(&w, &r.severity_text);
            break;
        case OWL_WIRE_FW(5, OWL_WT_LEN):
            bad = seen_body++ || owl_wire_bytes(&w, &kv) || fast_body(kv, &r);
            break;
        case OWL_WIRE_FW(6, OWL_WT_LEN): /* an attribute, unpacked by protobuf-c */
            bad = owl_wire_bytes(&w, &kv);
            if (!bad && (rc = keep_kv(x, kv, nkv++)) != OWL_OK)
                return rc;
            break;
        case OWL_WIRE_FW(7, OWL_WT_VARINT): /* dropped_attributes_count, flags: not kept */
        case OWL_WIRE_FW(8, OWL_WT_I32):
            bad = owl_wire_over(&w, wt);
            break;
        case OWL_WIRE_FW(9, OWL_WT_LEN):
            bad = owl_wire_bytes(&w, &r.trace_id);
            break;
        case OWL_WIRE_FW(10, OWL_WT_LEN):
            bad = owl_wire_bytes(&w, &r.span_id);
            break;
        case OWL_WIRE_FW(12, OWL_WT_LEN):
            bad = owl_wire_text(&w, &r.event_name);
            break;
        default:
            bad = owl_wire_skip(&w, &LR_DESC, f, wt);
        }
        if (bad)
            return OWL_EUNSUPPORTED;
    }
    r.attrs = x->kvs;
    r.nattrs = nkv;
    return record(x->c, &r);
}

/* A ScopeLogs: its scope first (it may come after the records on the wire), then its
 * records in order. */
static int fast_scope_logs(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_bytes one;
    int seen;
    const scope_t *sc = NULL;
    if (owl_wire_outer_scan(b, &SL_DESC, &one, &seen) != 0 ||
        (seen && !(sc = (const scope_t *)owl_otlp_unpack_at(&SCOPE_DESC, one.p, one.n, 3,
                                                            x->mem))))
        return OWL_EUNSUPPORTED;
    int rc = scope_doc(&x->c->scope, sc);
    x->c->shared = (owl_bytes){NULL, 0};
    return rc == OWL_OK ? owl_wire_each(x, b, fast_record, &x->c->li) : rc;
}

/* A ResourceLogs: its resource first, then its ScopeLogs in order. */
static int fast_resource_logs(void *ud, owl_bytes b)
{
    fast *x = ud;
    ctx *c = x->c;
    owl_bytes one;
    int seen;
    const resource_t *r = NULL;
    if (owl_wire_outer_scan(b, &RL_DESC, &one, &seen) != 0 ||
        (seen && !(r = (const resource_t *)owl_otlp_unpack_at(&RES_DESC, one.p, one.n, 2,
                                                              x->mem))))
        return OWL_EUNSUPPORTED;
    int rc = route(c, r);
    bson_reinit(&c->res);
    if (rc == OWL_OK && r)
        rc = owl_otlp_bson_kvs(&c->res, r->attributes, r->n_attributes);
    return rc == OWL_OK ? owl_wire_each(x, b, fast_scope_logs, &c->si) : rc;
}

/* The request: OWL_OK with every record decoded into c, OWL_EUNSUPPORTED (the caller starts
 * again with the general path), OWL_ENOMEM. */
static int fast_request(ctx *c, const uint8_t *p, size_t n, size_t max_records, owl_arena *mem)
{
    fast x = {.c = c, .mem = mem, .max_records = max_records};
    return owl_wire_list(&x, (owl_bytes){p, n}, &REQ_DESC, 1, fast_resource_logs, &c->ri);
}

/* The general path: protobuf-c's unpack of the whole request (wire bytes p[0..n)). */
static int general(ctx *c, const uint8_t *p, size_t n, size_t max_events, owl_arena *mem,
                   owl_error *err)
{
    export_req *req = NULL;
    int rc = owl_otlp_unpack(&REQ_DESC, OWL_OTLP_PROTOBUF, p, n, mem, (ProtobufCMessage **)&req,
                             err);
    if (rc != OWL_OK)
        return rc;
    size_t total = count_records(req);
    if (total > max_events)
        return owl_error_set(err, OWL_ETOOBIG, "%zu log records in one request (at most %zu)",
                             total, max_events);
    for (c->ri = 0; rc == OWL_OK && c->ri < req->n_resource_logs; c->ri++)
        rc = resource(c, req->resource_logs[c->ri]);
    return rc;
}

int owl_otlp_logs_decode_path(enum owl_otlp_encoding enc, const void *body, size_t n,
                              int64_t now_ms, size_t max_events, enum owl_otlp_path path,
                              owl_log_decoded *out, owl_error *err)
{
    ctx c = {.d = out, .now_ms = now_ms, .group = OWL_BUF_INIT, .stream = OWL_BUF_INIT,
             .msg = OWL_BUF_INIT};
    owl_arena mem;
    owl_buf json = OWL_BUF_INIT;
    owl_arena_init(&mem, OTLP_UNPACK_BLOCK);
    bson_init(&c.res);
    bson_init(&c.scope);
    const uint8_t *p;
    int rc = owl_log_decoded_begin(out);
    if (rc == OWL_OK) /* JSON: to wire bytes, then as protobuf */
        rc = owl_otlp_request_wire(&REQ_DESC, enc, body, n, &json, &p, &n, err);
    if (rc == OWL_OK && path != OWL_OTLP_GENERAL) {
        rc = fast_request(&c, p, n, max_events, &mem);
        if (rc == OWL_EUNSUPPORTED && path == OWL_OTLP_AUTO) { /* start again */
            owl_arena_reset(&mem);
            rc = owl_log_decoded_begin(out);
            if (rc == OWL_OK)
                rc = general(&c, p, n, max_events, &mem, err);
        }
    } else if (rc == OWL_OK) {
        rc = general(&c, p, n, max_events, &mem, err);
    }
    if (rc == OWL_OK)
        rc = owl_log_decoded_finish(out);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding OTLP logs");
    owl_arena_free(&mem);
    owl_buf_free(&json);
    bson_destroy(&c.res);
    bson_destroy(&c.scope);
    owl_buf_free(&c.group);
    owl_buf_free(&c.stream);
    owl_buf_free(&c.msg);
    return rc;
}

int owl_otlp_logs_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                         int64_t now_ms, size_t max_events, owl_log_decoded *out,
                         owl_error *err)
{
    return owl_otlp_logs_decode_path(enc, body, n, now_ms, max_events, OWL_OTLP_AUTO, out,
                                     err);
}

int owl_otlp_logs_response(enum owl_otlp_encoding enc, size_t rejected, const char *message,
                           owl_buf *out)
{
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse r =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
    if (rejected) {
        ps.rejected_log_records = (int64_t)rejected;
        ps.error_message = (char *)(message ? message : "");
        r.partial_success = &ps;
    }
    return owl_otlp_response(enc, "rejectedLogRecords", rejected, message,
                             (const ProtobufCMessage *)&r, out);
}

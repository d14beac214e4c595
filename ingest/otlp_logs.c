/* otlp_logs.c — OTLP/HTTP logs: an ExportLogsServiceRequest (protobuf, or OTLP JSON through
 * the same descriptors as metrics: otlp_int.h) turned into owl_log_events grouped by
 * (log group, log stream), as docs/otlp.md's logs section describes. Invariant: each log
 * record is either one event of out or counted in out->rejected, never both. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"
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

static int attrs_of(ctx *c, const log_rec *r, owl_bytes *out)
{
    bson_t doc = BSON_INITIALIZER, sub;
    int rc = OWL_OK;
    *out = (owl_bytes){NULL, 0};
    /* a record without attributes of its own shares its scope's one copy (the store keeps
     * the bytes once per run of equal values) */
    int plain = r->n_attributes == 0 && !(r->event_name && r->event_name[0]);
    if (plain && c->shared.p) {
        *out = c->shared;
        return OWL_OK;
    }
    if (r->n_attributes) {
        if (!bson_append_document_begin(&doc, "attributes", -1, &sub)) {
            rc = OWL_ENOMEM;
        } else {
            rc = owl_otlp_bson_kvs(&sub, r->attributes, r->n_attributes);
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
    if (rc == OWL_OK && r->event_name && r->event_name[0]) {
        owl_buf tmp = OWL_BUF_INIT;
        size_t n;
        const char *s = owl_otlp_utf8(r->event_name, &n, &tmp);
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

static int record(ctx *c, const log_rec *r)
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
    if (r->trace_id.len != 0 && r->trace_id.len != sizeof ev.trace_id) {
        reject(c, "trace_id of %zu bytes (16 expected)", r->trace_id.len);
        return OWL_OK;
    }
    if (r->span_id.len != 0 && r->span_id.len != sizeof ev.span_id) {
        reject(c, "span_id of %zu bytes (8 expected)", r->span_id.len);
        return OWL_OK;
    }
    /* a string body (the common case) goes to the decode's arena as it is (checked once,
     * repaired only when it is not UTF-8); other kinds are rendered as JSON first */
    if (r->body && r->body->value_case == V(STRING_VALUE)) {
        const char *b = r->body->string_value;
        rc = owl_log_decoded_text(c->d, b, strlen(b), &ev.message);
    } else if ((rc = json_any(r->body, msg, 1)) == OWL_OK) {
        rc = owl_log_decoded_text(c->d, msg->data ? msg->data : "", msg->len, &ev.message);
    }
    if (rc != OWL_OK)
        return rc;
    if (ev.message.n > OWL_LOG_MESSAGE_MAX) {
        reject(c, "a message of %zu bytes (at most %d)", ev.message.n, OWL_LOG_MESSAGE_MAX);
        return OWL_OK;
    }
    ev.time_ms = r->time_unix_nano          ? (int64_t)(r->time_unix_nano / 1000000u)
                 : r->observed_time_unix_nano ? (int64_t)(r->observed_time_unix_nano / 1000000u)
                                              : c->now_ms;
    if (r->trace_id.len)
        memcpy(ev.trace_id, r->trace_id.data, sizeof ev.trace_id);
    if (r->span_id.len)
        memcpy(ev.span_id, r->span_id.data, sizeof ev.span_id);
    const char *sev = r->severity_text && r->severity_text[0] ? r->severity_text
                                                              : severity_name(r->severity_number);
    if ((sev && (rc = owl_log_decoded_text(c->d, sev, strlen(sev), &ev.severity))) ||
        (rc = attrs_of(c, r, &ev.attrs)))
        return rc;
    return owl_log_decoded_add(c->d, c->group.data, c->group.len, c->stream.data,
                               c->stream.len, &ev);
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
            rc = record(c, sl->log_records[c->li]);
    }
    return rc;
}

int owl_otlp_logs_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                         int64_t now_ms, size_t max_events, owl_log_decoded *out,
                         owl_error *err)
{
    export_req *req = NULL;
    ctx c = {.d = out, .now_ms = now_ms, .group = OWL_BUF_INIT, .stream = OWL_BUF_INIT,
             .msg = OWL_BUF_INIT};
    owl_arena mem;
    owl_arena_init(&mem, OTLP_UNPACK_BLOCK);
    bson_init(&c.res);
    bson_init(&c.scope);
    int rc = owl_log_decoded_begin(out);
    if (rc == OWL_OK)
        rc = owl_otlp_unpack(&REQ_DESC, enc, body, n, &mem, (ProtobufCMessage **)&req, err);
    if (rc != OWL_OK)
        goto out;
    size_t total = count_records(req);
    if (total > max_events) {
        rc = owl_error_set(err, OWL_ETOOBIG, "%zu log records in one request (at most %zu)",
                           total, max_events);
        goto out;
    }
    for (c.ri = 0; rc == OWL_OK && c.ri < req->n_resource_logs; c.ri++)
        rc = resource(&c, req->resource_logs[c.ri]);
    if (rc == OWL_OK)
        rc = owl_log_decoded_finish(out);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding OTLP logs");
out:
    owl_arena_free(&mem);
    bson_destroy(&c.res);
    bson_destroy(&c.scope);
    owl_buf_free(&c.group);
    owl_buf_free(&c.stream);
    owl_buf_free(&c.msg);
    return rc;
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

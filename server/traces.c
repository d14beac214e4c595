/* traces.c — span ingest and trace queries over HTTP (docs/api/traces.md):
 *   POST /v1/traces                 OTLP/HTTP, protobuf or JSON (answer in the same encoding)
 *   POST /api/v2/spans              Zipkin v2 JSON (202, as Zipkin answers)
 *   POST /api/v1/spans              Zipkin v1 JSON, converted to v2 by Zipkin's rules
 *   GET  /api/v1/traces/{id}        one trace as a tree (32 hex, X-Ray 1-..., or 16 hex)
 *   GET  /api/v1/traces/{id}/logs   the trace's log lines across the tenant's log groups
 *   GET  /api/v1/traces             trace summaries (service, operation, duration, status,
 *                                   X-Ray filter expression, pages)
 *   GET  /api/traces/{id}, /api/services, /api/services/{service}/operations
 *                                   the Jaeger query API's shapes, for Jaeger UI
 * Every way in stores through owl_traces_put, so spans of one trace may come from all. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/traceid.h"
#include "server/server.h"

#define INGEST_MAX_SPANS 100000 /* spans of one request (its body is within max_body_bytes) */
#define MS_NS 1000000LL


/* The status of a failed decode or store: 413 too many spans, 400 a bad body, 507 a full
 * disk, 503 otherwise (clients retry those). */
static int fail_status(int rc)
{
    return rc == OWL_ETOOBIG ? 413 : rc == OWL_EINVAL ? 400 : rc == OWL_ENOSPC ? 507 : 503;
}

static const char *fail_code(int http)
{
    return http == 413 ? "PayloadTooLarge" : http == 400 ? "BadRequest"
           : http == 507 ? "InsufficientStorage" : "StoreUnavailable";
}

/* Spans the store would never return (started before the retention) count as refused. */
static void expired_message(owl_call *call, owl_span_decoded *d, size_t expired)
{
    int days;
    owl_traces_oldest_ns(call->srv->traces, &days);
    if (!expired)
        return;
    if (!d->rejected)
        snprintf(d->message, sizeof d->message,
                 "%zu spans started before the trace retention (%d days): not kept", expired,
                 days);
    d->rejected += expired;
}

static int export_traces(owl_call *call)
{
    owl_http_req *req = call->req;
    owl_http_resp *resp = call->resp;
    owl_span_decoded d = {0};
    owl_error err = {0};
    enum owl_otlp_encoding enc = owl_otlp_encoding_of(owl_http_req_header(req, "content-type"));
    snprintf(call->resource, sizeof call->resource, "tenant/%s/otlp/traces",
             call->principal->tenant);
    int rc = OWL_EINVAL;
    if (!enc) {
        owl_otlp_reply_status(call, OWL_OTLP_JSON, 415, OWL_RPC_INVALID_ARGUMENT,
                              "UnsupportedMediaType",
                              "Content-Type must be application/x-protobuf or application/json");
        goto out;
    }
    size_t expired = 0;
    rc = owl_otlp_traces_decode(enc, req->body.data, req->body.len, INGEST_MAX_SPANS, &d, &err);
    if (rc == OWL_OK)
        rc = owl_traces_put(call->srv->traces, call->principal->tenant, d.spans, d.n, &expired,
                            &err);
    if (rc != OWL_OK) {
        int http = fail_status(rc);
        owl_otlp_reply_status(call, enc, http,
                              http < 500 ? OWL_RPC_INVALID_ARGUMENT : OWL_RPC_UNAVAILABLE,
                              fail_code(http), err.msg[0] ? err.msg : owl_strerror(rc));
        goto out;
    }
    resp->status = 200;
    resp->content_type = owl_otlp_media_type(enc);
    owl_buf_reset(&resp->body);
    expired_message(call, &d, expired);
    rc = owl_otlp_traces_response(enc, d.rejected, d.message[0] ? d.message : NULL, &resp->body);
out:
    owl_span_decoded_free(&d);
    return rc;
}

/* Zipkin's collector answers 202 with no body; a body that is not a span list is a 400 with
 * a message. Spans refused one by one are counted in the X-Owl-Rejected header (Zipkin has
 * no partial answer). */
typedef int (*zipkin_decode_fn)(const void *, size_t, int64_t, size_t, owl_span_decoded *,
                                owl_error *);

static int zipkin_spans(owl_call *call, zipkin_decode_fn decode)
{
    owl_http_req *req = call->req;
    owl_span_decoded d = {0};
    owl_error err = {0};
    const char *ct = owl_http_req_header(req, "content-type");
    size_t ctn = ct ? strcspn(ct, "; \t") : 0;
    snprintf(call->resource, sizeof call->resource, "tenant/%s/zipkin/spans",
             call->principal->tenant);
    int rc = OWL_EINVAL;
    if (ct && !(ctn == 16 && strncasecmp(ct, "application/json", ctn) == 0)) {
        owl_call_error(call, 415, "UnsupportedMediaType",
                       "Content-Type must be application/json (Zipkin v2 JSON; protobuf and "
                       "thrift are not read)");
        goto out;
    }
    size_t expired = 0;
    rc = decode(req->body.data, req->body.len, owl_now_ms() * MS_NS, INGEST_MAX_SPANS, &d, &err);
    if (rc == OWL_OK)
        rc = owl_traces_put(call->srv->traces, call->principal->tenant, d.spans, d.n, &expired,
                            &err);
    if (rc != OWL_OK) {
        int http = fail_status(rc);
        owl_call_error(call, http, http == 400 ? "InvalidParameter" : fail_code(http), "%s",
                       err.msg[0] ? err.msg : owl_strerror(rc));
        goto out;
    }
    expired_message(call, &d, expired);
    char n[32];
    snprintf(n, sizeof n, "%zu", d.rejected);
    call->resp->status = 202;
    owl_buf_reset(&call->resp->body);
    owl_http_resp_header(call->resp, "X-Owl-Rejected", n);
    if (d.rejected)
        owl_warn("zipkin: %zu spans refused: %s", d.rejected, d.message);
out:
    owl_span_decoded_free(&d);
    return rc;
}

static int zipkin_v2(owl_call *call)
{
    return zipkin_spans(call, owl_zipkin_decode);
}

static int zipkin_v1(owl_call *call)
{
    return zipkin_spans(call, owl_zipkin_v1_decode);
}

/* ---- reading ---- */

/* The trace id of a path: 32 hex, X-Ray's form, or 16 hex. 400 answered when malformed. */
static int path_id(owl_call *call, uint8_t id[16])
{
    const char *v = owl_call_param(call, "id");
    owl_error err = {0};
    if (!v || owl_traceid_parse(v, strlen(v), id, &err) != OWL_OK) {
        owl_call_error(call, 400, "InvalidParameter",
                       "the trace id must be 32 hex digits, 16 hex digits or X-Ray's "
                       "1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx: %s",
                       err.msg[0] ? err.msg : "missing");
        return OWL_EINVAL;
    }
    snprintf(call->resource, sizeof call->resource, "trace/%.64s", v);
    return OWL_OK;
}

static int get_trace(owl_call *call, owl_trace *t)
{
    uint8_t id[16];
    if (path_id(call, id) != OWL_OK)
        return OWL_EINVAL;
    owl_error err = {0};
    int rc = owl_traces_get(call->srv->traces, call->principal->tenant, id, t, &err);
    if (rc == OWL_ENOTFOUND)
        owl_call_error(call, 404, "TraceNotFound", "%s", err.msg);
    else if (rc != OWL_OK)
        owl_call_error_from(call, rc, err.msg);
    return rc;
}

static int put_str_member(owl_buf *b, const char *name, owl_bytes v)
{
    if (!v.n)
        return OWL_OK;
    int rc = owl_buf_printf(b, ",\"%s\":", name);
    return rc ? rc : owl_buf_json_str(b, v.p, v.n);
}

/* The members put_span writes itself: a member of attrs with one of these names (X-Ray's
 * own "http" and "service" objects) goes under "raw" instead, so no key is written twice. */
static const char *const own_keys[] = {
    "spanId", "parentSpanId", "service",   "name",     "kind",      "startTimeUnixNano",
    "durationNanos", "selfNanos", "depth", "status",   "statusCode", "statusMessage",
    "http",   "peerService",  "userAgent", "clientIp", "inProgress", "raw",
    NULL};

static int is_own_key(const char *k)
{
    for (size_t i = 0; own_keys[i]; i++)
        if (!strcmp(own_keys[i], k))
            return 1;
    return 0;
}

/* The members of the attrs document appended to the span object being written. */
static int put_attrs(owl_buf *b, owl_bytes attrs)
{
    bson_t doc, mine = BSON_INITIALIZER, clash = BSON_INITIALIZER;
    bson_iter_t it;
    if (attrs.n < 5 || !bson_init_static(&doc, attrs.p, attrs.n) || bson_empty(&doc) ||
        !bson_iter_init(&it, &doc))
        return OWL_OK;
    while (bson_iter_next(&it))
        bson_append_iter(is_own_key(bson_iter_key(&it)) ? &clash : &mine, NULL, 0, &it);
    int rc = owl_aws_json_members(&mine, b);
    if (rc == OWL_OK && !bson_empty(&clash)) {
        bson_t wrap = BSON_INITIALIZER;
        bson_append_document(&wrap, "raw", 3, &clash);
        rc = owl_aws_json_members(&wrap, b);
        bson_destroy(&wrap);
    }
    bson_destroy(&mine);
    bson_destroy(&clash);
    return rc;
}

static int put_span(owl_buf *b, const owl_trace *t, size_t i, const uint8_t *on_path,
                    const int64_t *cself)
{
    const owl_span *s = &t->spans[i];
    char sid[OWL_SPANID_HEX_SIZE], pid[OWL_SPANID_HEX_SIZE];
    owl_traceid_span_to_hex(s->span_id, sid);
    int rc = owl_buf_printf(b, "{\"spanId\":\"%s\"", sid);
    if (!rc && !owl_traceid_is_zero(s->parent_id, 8)) {
        owl_traceid_span_to_hex(s->parent_id, pid);
        rc = owl_buf_printf(b, ",\"parentSpanId\":\"%s\"", pid);
    }
    rc = rc ? rc : owl_buf_puts(b, ",\"service\":");
    rc = rc ? rc : owl_buf_json_str(b, s->service.p, s->service.n);
    rc = rc ? rc : owl_buf_puts(b, ",\"name\":");
    rc = rc ? rc : owl_buf_json_str(b, s->name.p, s->name.n);
    rc = rc ? rc : owl_buf_printf(b, ",\"kind\":\"%s\",\"startTimeUnixNano\":\"%" PRId64
                                  "\",\"durationNanos\":%" PRId64 ",\"selfNanos\":%" PRId64
                                  ",\"depth\":%d,\"status\":\"%s\",\"statusCode\":%d",
                                  owl_span_kind_name(s->kind), s->start_ns, s->duration_ns,
                                  t->self_ns[i], (int)t->depth[i],
                                  owl_span_status_name(s->status), s->status_code);
    if (!rc && on_path[i])
        rc = owl_buf_printf(b, ",\"critical\":true,\"criticalSelfNanos\":%" PRId64, cself[i]);
    rc = rc ? rc : put_str_member(b, "statusMessage", s->status_message);
    if (!rc && (s->http_method.n || s->route.n || s->url.n || s->http_status)) {
        rc = owl_buf_puts(b, ",\"http\":{");
        int first = 1;
        const char *names[] = {"method", "route", "url"};
        owl_bytes vals[] = {s->http_method, s->route, s->url};
        for (int k = 0; k < 3 && !rc; k++) {
            if (!vals[k].n)
                continue;
            rc = owl_buf_printf(b, "%s\"%s\":", first ? "" : ",", names[k]);
            rc = rc ? rc : owl_buf_json_str(b, vals[k].p, vals[k].n);
            first = 0;
        }
        if (!rc && s->http_status)
            rc = owl_buf_printf(b, "%s\"status\":%d", first ? "" : ",", s->http_status);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    rc = rc ? rc : put_str_member(b, "peerService", s->peer_service);
    rc = rc ? rc : put_str_member(b, "userAgent", s->user_agent);
    rc = rc ? rc : put_str_member(b, "clientIp", s->client_ip);
    if (!rc && s->in_progress)
        rc = owl_buf_puts(b, ",\"inProgress\":true");
    rc = rc ? rc : put_attrs(b, s->resource); /* resource, scope */
    rc = rc ? rc : put_attrs(b, s->attrs);
    return rc ? rc : owl_buf_putc(b, '}');
}

static int reply_json(owl_call *call, owl_buf *b, int rc)
{
    if (rc == OWL_OK && b->data)
        rc = owl_http_resp_json(call->resp, 200, b->data, b->len);
    else
        owl_call_error(call, 500, "InternalError", "out of memory");
    owl_buf_free(b);
    return rc;
}

static int native_trace(owl_call *call)
{
    owl_trace t = {0};
    int rc = get_trace(call, &t);
    if (rc != OWL_OK) {
        owl_trace_free(&t);
        return rc;
    }
    /* the critical path, over the spans as the filter language reads them */
    owl_xf_span *v = NULL;
    uint8_t *on_path = owl_arena_alloc(&t.arena, t.n ? t.n : 1);
    int64_t *cself = owl_arena_alloc(&t.arena, (t.n ? t.n : 1) * sizeof *cself);
    owl_error err = {0};
    if (!on_path || !cself || owl_trace_views(&t, &v) != OWL_OK) {
        owl_trace_free(&t);
        owl_call_error(call, 500, "InternalError", "out of memory");
        return OWL_ENOMEM;
    }
    owl_xf_trace xt = {.spans = v, .n_spans = t.n, .root = t.n ? 0 : -1};
    if (owl_critpath(&xt, on_path, cself, &err) != OWL_OK) {
        owl_trace_free(&t);
        owl_call_error(call, 500, "InternalError", "out of memory");
        return OWL_ENOMEM;
    }
    owl_buf b = OWL_BUF_INIT;
    char hex[OWL_TRACEID_HEX_SIZE], xr[OWL_TRACEID_XRAY_SIZE];
    owl_traceid_to_hex(t.id, hex);
    owl_traceid_to_xray(t.id, xr);
    rc = owl_buf_printf(&b,
                        "{\"traceId\":\"%s\",\"xrayTraceId\":\"%s\",\"spanCount\":%zu,"
                        "\"truncated\":%s,\"startTimeUnixNano\":\"%" PRId64
                        "\",\"durationNanos\":%" PRId64 ",\"services\":[",
                        hex, xr, t.n, t.truncated ? "true" : "false", t.start_ns,
                        t.end_ns - t.start_ns);
    size_t nsv = 0;
    for (size_t i = 0; i < t.n && !rc; i++) {
        size_t k = 0;
        while (k < i && (t.spans[k].service.n != t.spans[i].service.n ||
                         memcmp(t.spans[k].service.p, t.spans[i].service.p,
                                t.spans[i].service.n)))
            k++;
        if (k < i)
            continue;
        rc = nsv++ ? owl_buf_putc(&b, ',') : OWL_OK;
        rc = rc ? rc : owl_buf_json_str(&b, t.spans[i].service.p, t.spans[i].service.n);
    }
    rc = rc ? rc : owl_buf_puts(&b, "],\"spans\":[");
    for (size_t i = 0; i < t.n && !rc; i++) {
        rc = i ? owl_buf_putc(&b, ',') : OWL_OK;
        rc = rc ? rc : put_span(&b, &t, i, on_path, cself);
    }
    rc = rc ? rc : owl_buf_puts(&b, "]}");
    owl_trace_free(&t);
    return reply_json(call, &b, rc);
}

/* ---- a trace's log lines ---- */

#define TRACE_LOGS_WIDEN_MS (5 * 60000LL) /* around the trace's spans (clock skew, lag) */
#define TRACE_LOGS_RECENT_MS 86400000LL   /* no spans found: the last 24 hours... */
#define TRACE_LOGS_AHEAD_MS 7200000LL     /* ...and the 2 hours ahead owl accepts events */

/* The default range of a trace's logs: its spans' [first start, last end] widened by
 * TRACE_LOGS_WIDEN_MS each side when the trace is found, else the recent hours. */
static int trace_logs_range(owl_call *call, const uint8_t id[16], int64_t *start,
                            int64_t *end)
{
    owl_trace t = {0};
    owl_error err = {0};
    int rc = owl_traces_get(call->srv->traces, call->principal->tenant, id, &t, &err);
    if (rc == OWL_OK && t.n) {
        *start = t.start_ns / MS_NS - TRACE_LOGS_WIDEN_MS;
        *end = t.end_ns / MS_NS + 1 + TRACE_LOGS_WIDEN_MS;
    } else if (rc == OWL_OK || rc == OWL_ENOTFOUND) {
        int64_t now = owl_now_ms();
        *start = now - TRACE_LOGS_RECENT_MS;
        *end = now + TRACE_LOGS_AHEAD_MS;
        rc = OWL_OK;
    } else
        owl_call_error_from(call, rc, err.msg);
    owl_trace_free(&t);
    return rc;
}

static int trace_logs(owl_call *call)
{
    owl_logs_trace_q q = {0};
    char lim[32], tok[OWL_SCAN_CURSOR_TEXT];
    int has_start = 0, has_end = 0;
    if (path_id(call, q.trace_id) != OWL_OK ||
        owl_call_time(call, "start", &q.start_ms, &has_start) != OWL_OK ||
        owl_call_time(call, "end", &q.end_ms, &has_end) != OWL_OK)
        return OWL_EINVAL;
    int lr = owl_query_param(call->req->query, "limit", lim, sizeof lim);
    if (lr < 0)
        lim[0] = 0; /* malformed: answered as a bad limit */
    if (owl_call_limit(call, lim, lr != 0, 1000, OWL_LOGS_MAX_PAGE, &q.limit) != OWL_OK)
        return OWL_EINVAL;
    int tr = owl_query_param(call->req->query, "next_token", tok, sizeof tok);
    if (tr < 0) {
        owl_call_error(call, 400, "InvalidParameter", "next_token is not a token owl made");
        return OWL_EINVAL;
    }
    q.token = tr ? tok : NULL;
    if (!has_start || !has_end) {
        int64_t s, e;
        if (trace_logs_range(call, q.trace_id, &s, &e) != OWL_OK)
            return OWL_EIO;
        q.start_ms = has_start ? q.start_ms : s;
        q.end_ms = has_end ? q.end_ms : e;
    }
    owl_logs_page pg;
    owl_error err = {0};
    int rc = owl_logs_trace_events(call->srv->logs, call->principal->tenant, &q, &pg, &err);
    if (rc != OWL_OK) {
        owl_call_error_from(call, rc, err.msg);
        return rc;
    }
    bson_t out = BSON_INITIALIZER, arr;
    char hex[OWL_TRACEID_HEX_SIZE], xr[OWL_TRACEID_XRAY_SIZE];
    owl_traceid_to_hex(q.trace_id, hex);
    owl_traceid_to_xray(q.trace_id, xr);
    BSON_APPEND_UTF8(&out, "trace_id", hex);
    BSON_APPEND_UTF8(&out, "xray_trace_id", xr);
    BSON_APPEND_DATE_TIME(&out, "start", q.start_ms);
    BSON_APPEND_DATE_TIME(&out, "end", q.end_ms);
    BSON_APPEND_ARRAY_BEGIN(&out, "events", &arr);
    for (size_t i = 0; i < pg.n; i++) {
        char key[24];
        bson_t d;
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        owl_logs_event_doc(&d, &pg.ev[i], 1); /* across groups */
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(&out, &arr);
    if (pg.next[0])
        BSON_APPEND_UTF8(&out, "next_token", pg.next);
    owl_logs_page_free(&pg);
    owl_buf b = OWL_BUF_INIT;
    rc = owl_aws_json_encode(&out, 1, &b);
    bson_destroy(&out);
    return reply_json(call, &b, rc);
}

/* ---- searches ---- */


static int num_param(owl_call *call, const char *name, double *out, int *present)
{
    char v[64], *end;
    int r = owl_query_param(call->req->query, name, v, sizeof v);
    *present = r == 1;
    if (r == 0)
        return OWL_OK;
    double d = r == 1 ? strtod(v, &end) : -1;
    if (r < 0 || end == v || *end || !(d >= 0) || d > 1e12) {
        owl_call_error(call, 400, "InvalidParameter", "%s must be a number >= 0", name);
        return OWL_EINVAL;
    }
    *out = d;
    return OWL_OK;
}

static int native_search(owl_call *call)
{
    owl_trace_query q = {.min_duration_ns = -1, .max_duration_ns = -1, .status = -1};
    char service[1024], operation[1024], status[16], filter[OWL_XF_MAX_LEN + 1], limit[16],
        token[128];
    int64_t now = owl_now_ms(), start_ms = now - 3600000, end_ms = now + 1;
    int hs, he, r;
    double dmin = 0, dmax = 0;
    int hmin, hmax;
    snprintf(call->resource, sizeof call->resource, "tenant/%s/traces", call->principal->tenant);
    if (owl_call_time(call, "start", &start_ms, &hs) != OWL_OK ||
        owl_call_time(call, "end", &end_ms, &he) != OWL_OK ||
        num_param(call, "min_duration_ms", &dmin, &hmin) != OWL_OK ||
        num_param(call, "max_duration_ms", &dmax, &hmax) != OWL_OK)
        return OWL_EINVAL;
    if (hs && !he && start_ms >= end_ms)
        end_ms = start_ms + 3600000;
    if (end_ms <= start_ms) {
        owl_call_error(call, 400, "InvalidParameter", "end must be after start");
        return OWL_EINVAL;
    }
    q.start_ns = start_ms > INT64_MAX / MS_NS ? INT64_MAX - 1 : start_ms * MS_NS;
    q.end_ns = end_ms > INT64_MAX / MS_NS ? INT64_MAX : end_ms * MS_NS;
    if (hmin)
        q.min_duration_ns = (int64_t)(dmin * 1e6);
    if (hmax)
        q.max_duration_ns = (int64_t)(dmax * 1e6);
    const struct {
        const char *name;
        char *buf;
        size_t size;
        const char **to;
    } strs[] = {
        {"service", service, sizeof service, &q.service},
        {"operation", operation, sizeof operation, &q.operation},
        {"next_token", token, sizeof token, &q.next_token},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        r = owl_query_param(call->req->query, strs[i].name, strs[i].buf, strs[i].size);
        if (r < 0) {
            owl_call_error(call, 400, "InvalidParameter",
                           "%s is malformed, given twice or too long", strs[i].name);
            return OWL_EINVAL;
        }
        if (r == 1)
            *strs[i].to = strs[i].buf;
    }
    r = owl_query_param(call->req->query, "status", status, sizeof status);
    if (r == 1) {
        static const char *const st[] = {"ok", "error", "fault", "throttle"};
        for (int k = 0; k < 4; k++)
            if (!strcmp(status, st[k]))
                q.status = k;
    }
    if (r < 0 || (r == 1 && q.status < 0)) {
        owl_call_error(call, 400, "InvalidParameter",
                       "status must be ok, error, fault or throttle");
        return OWL_EINVAL;
    }
    r = owl_query_param(call->req->query, "limit", limit, sizeof limit);
    size_t lim;
    if (owl_call_limit(call, limit, r == 1, 20, 1000, &lim) != OWL_OK)
        return OWL_EINVAL;
    q.limit = lim;
    owl_xf *f = NULL;
    owl_error err = {0};
    r = owl_query_param(call->req->query, "filter", filter, sizeof filter);
    if (r < 0) {
        owl_call_error(call, 400, "InvalidParameter",
                       "filter is malformed, given twice or longer than %d bytes",
                       OWL_XF_MAX_LEN);
        return OWL_EINVAL;
    }
    if (r == 1 && owl_xf_compile(filter, strlen(filter), &f, &err) != OWL_OK) {
        owl_call_error(call, 400, "InvalidFilterExpression", "%s", err.msg);
        return OWL_EINVAL;
    }
    q.filter = f;
    owl_trace_page p = {0};
    int rc = owl_traces_search(call->srv->traces, call->principal->tenant, &q, &p, &err);
    owl_xf_free(f);
    if (rc != OWL_OK) {
        owl_call_error_from(call, rc, err.msg);
        owl_trace_page_free(&p);
        return rc;
    }
    owl_buf b = OWL_BUF_INIT;
    rc = owl_buf_puts(&b, "{\"traces\":[");
    for (size_t i = 0; i < p.n && !rc; i++) {
        const owl_trace_summary *s = &p.items[i];
        char hex[OWL_TRACEID_HEX_SIZE], xr[OWL_TRACEID_XRAY_SIZE];
        owl_traceid_to_hex(s->id, hex);
        owl_traceid_to_xray(s->id, xr);
        rc = owl_buf_printf(&b, "%s{\"traceId\":\"%s\",\"xrayTraceId\":\"%s\",\"rootService\":",
                            i ? "," : "", hex, xr);
        rc = rc ? rc : owl_buf_json_str(&b, s->root_service.p, s->root_service.n);
        rc = rc ? rc : owl_buf_puts(&b, ",\"rootOperation\":");
        rc = rc ? rc : owl_buf_json_str(&b, s->root_operation.p, s->root_operation.n);
        rc = rc ? rc : owl_buf_printf(&b, ",\"startTimeUnixNano\":\"%" PRId64
                                      "\",\"durationNanos\":%" PRId64
                                      ",\"spanCount\":%zu,\"services\":[",
                                      s->start_ns, s->duration_ns, s->nspans);
        for (size_t k = 0; k < s->nservices && !rc; k++) {
            rc = k ? owl_buf_putc(&b, ',') : OWL_OK;
            rc = rc ? rc : owl_buf_json_str(&b, s->services[k].p, s->services[k].n);
        }
        rc = rc ? rc : owl_buf_printf(&b, "],\"error\":%s,\"fault\":%s,\"throttle\":%s,"
                                      "\"partial\":%s}",
                                      s->error ? "true" : "false", s->fault ? "true" : "false",
                                      s->throttle ? "true" : "false",
                                      s->partial ? "true" : "false");
    }
    rc = rc ? rc : owl_buf_putc(&b, ']');
    if (!rc && p.next_token[0])
        rc = owl_buf_printf(&b, ",\"nextToken\":\"%s\"", p.next_token);
    rc = rc ? rc : owl_buf_putc(&b, '}');
    owl_trace_page_free(&p);
    return reply_json(call, &b, rc);
}

/* ---- the Jaeger query API's shapes ---- */

static int jaeger_value(owl_buf *b, bson_iter_t *it)
{
    if (BSON_ITER_HOLDS_UTF8(it)) {
        uint32_t n;
        const char *v = bson_iter_utf8(it, &n);
        int rc = owl_buf_puts(b, "\"type\":\"string\",\"value\":");
        return rc ? rc : owl_buf_json_str(b, v, n);
    }
    if (BSON_ITER_HOLDS_BOOL(it))
        return owl_buf_printf(b, "\"type\":\"bool\",\"value\":%s",
                              bson_iter_bool(it) ? "true" : "false");
    if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
        return owl_buf_printf(b, "\"type\":\"int64\",\"value\":%" PRId64, bson_iter_as_int64(it));
    if (BSON_ITER_HOLDS_DOUBLE(it)) {
        double d = bson_iter_double(it);
        return owl_buf_printf(b, "\"type\":\"float64\",\"value\":%.17g", d == d ? d : 0);
    }
    /* arrays, documents, binary: their JSON as a string */
    bson_t one = BSON_INITIALIZER;
    owl_buf j = OWL_BUF_INIT;
    int rc = bson_append_iter(&one, "v", 1, it) ? owl_aws_json_encode(&one, 0, &j) : OWL_ENOMEM;
    if (rc == OWL_OK && j.len >= 6) /* {"v":X} */
        rc = owl_buf_puts(b, "\"type\":\"string\",\"value\":");
    if (rc == OWL_OK && j.len >= 6)
        rc = owl_buf_json_str(b, j.data + 5, j.len - 6);
    owl_buf_free(&j);
    bson_destroy(&one);
    return rc;
}

/* Tags of a document member (attributes, resource) as Jaeger's [{key,type,value}]. */
static int jaeger_tags(owl_buf *b, const bson_t *doc, const char *member, int *first)
{
    bson_iter_t it, sub;
    if (!bson_iter_init_find(&it, doc, member) || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &sub))
        return OWL_OK;
    int rc = OWL_OK;
    while (!rc && bson_iter_next(&sub)) {
        rc = *first ? OWL_OK : owl_buf_putc(b, ',');
        *first = 0;
        rc = rc ? rc : owl_buf_puts(b, "{\"key\":");
        rc = rc ? rc : owl_buf_json_str(b, bson_iter_key(&sub), bson_iter_key_len(&sub));
        rc = rc ? rc : owl_buf_putc(b, ',');
        rc = rc ? rc : jaeger_value(b, &sub);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    return rc;
}

static int jaeger_trace(owl_call *call)
{
    owl_trace t = {0};
    int rc = get_trace(call, &t);
    if (rc != OWL_OK) {
        owl_trace_free(&t);
        return rc;
    }
    char hex[OWL_TRACEID_HEX_SIZE];
    owl_traceid_to_hex(t.id, hex);
    owl_buf b = OWL_BUF_INIT;
    rc = owl_buf_printf(&b, "{\"data\":[{\"traceID\":\"%s\",\"spans\":[", hex);
    /* processes: one per distinct service, p1, p2, ... in tree order */
    size_t *proc = calloc(t.n ? t.n : 1, sizeof *proc);
    size_t nproc = 0;
    for (size_t i = 0; proc && i < t.n; i++) {
        size_t k = 0;
        while (k < i && (t.spans[k].service.n != t.spans[i].service.n ||
                         memcmp(t.spans[k].service.p, t.spans[i].service.p,
                                t.spans[i].service.n)))
            k++;
        proc[i] = k < i ? proc[k] : ++nproc;
    }
    if (!proc)
        rc = OWL_ENOMEM;
    for (size_t i = 0; i < t.n && !rc; i++) {
        const owl_span *s = &t.spans[i];
        char sid[OWL_SPANID_HEX_SIZE], pid[OWL_SPANID_HEX_SIZE];
        owl_traceid_span_to_hex(s->span_id, sid);
        rc = owl_buf_printf(&b, "%s{\"traceID\":\"%s\",\"spanID\":\"%s\",\"flags\":1,"
                                "\"operationName\":",
                            i ? "," : "", hex, sid);
        rc = rc ? rc : owl_buf_json_str(&b, s->name.p, s->name.n);
        rc = rc ? rc : owl_buf_puts(&b, ",\"references\":[");
        if (!rc && !owl_traceid_is_zero(s->parent_id, 8)) {
            owl_traceid_span_to_hex(s->parent_id, pid);
            rc = owl_buf_printf(&b, "{\"refType\":\"CHILD_OF\",\"traceID\":\"%s\","
                                    "\"spanID\":\"%s\"}",
                                hex, pid);
        }
        rc = rc ? rc : owl_buf_printf(&b, "],\"startTime\":%" PRId64 ",\"duration\":%" PRId64
                                      ",\"tags\":[{\"key\":\"span.kind\",\"type\":\"string\","
                                      "\"value\":\"%s\"}",
                                      s->start_ns / 1000, s->duration_ns / 1000,
                                      owl_span_kind_name(s->kind));
        if (!rc && s->status != OWL_SPAN_OK)
            rc = owl_buf_puts(&b, ",{\"key\":\"error\",\"type\":\"bool\",\"value\":true}");
        if (!rc && s->http_status)
            rc = owl_buf_printf(&b, ",{\"key\":\"http.status_code\",\"type\":\"int64\","
                                    "\"value\":%d}",
                                s->http_status);
        bson_t doc;
        int have = s->attrs.n >= 5 && bson_init_static(&doc, s->attrs.p, s->attrs.n);
        int first = 0;
        if (!rc && have)
            rc = jaeger_tags(&b, &doc, "attributes", &first);
        rc = rc ? rc : owl_buf_puts(&b, "],\"logs\":[");
        bson_iter_t it, ev;
        if (!rc && have && bson_iter_init_find(&it, &doc, "events") &&
            BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &ev)) {
            int n = 0;
            while (!rc && bson_iter_next(&ev)) {
                bson_t e;
                uint32_t len;
                const uint8_t *data;
                if (!BSON_ITER_HOLDS_DOCUMENT(&ev))
                    continue;
                bson_iter_document(&ev, &len, &data);
                if (!bson_init_static(&e, data, len))
                    continue;
                bson_iter_t f;
                int64_t ts = bson_iter_init_find(&f, &e, "time_ns") && BSON_ITER_HOLDS_NUMBER(&f)
                                 ? bson_iter_as_int64(&f) / 1000
                                 : s->start_ns / 1000;
                rc = owl_buf_printf(&b, "%s{\"timestamp\":%" PRId64
                                        ",\"fields\":[{\"key\":\"event\",",
                                    n++ ? "," : "", ts);
                if (!rc && bson_iter_init_find(&f, &e, "name"))
                    rc = jaeger_value(&b, &f);
                else if (!rc)
                    rc = owl_buf_puts(&b, "\"type\":\"string\",\"value\":\"\"");
                rc = rc ? rc : owl_buf_putc(&b, '}');
                int ff = 0;
                rc = rc ? rc : jaeger_tags(&b, &e, "attributes", &ff);
                rc = rc ? rc : owl_buf_puts(&b, "]}");
            }
        }
        rc = rc ? rc : owl_buf_printf(&b, "],\"processID\":\"p%zu\",\"warnings\":null}", proc[i]);
    }
    rc = rc ? rc : owl_buf_puts(&b, "],\"processes\":{");
    size_t done = 0;
    for (size_t i = 0; i < t.n && !rc; i++) {
        if (proc[i] != done + 1)
            continue;
        done++;
        const owl_span *s = &t.spans[i];
        rc = owl_buf_printf(&b, "%s\"p%zu\":{\"serviceName\":", done > 1 ? "," : "", done);
        rc = rc ? rc : owl_buf_json_str(&b, s->service.p, s->service.n);
        rc = rc ? rc : owl_buf_puts(&b, ",\"tags\":[");
        bson_t doc;
        int first = 1;
        if (!rc && s->resource.n >= 5 && bson_init_static(&doc, s->resource.p, s->resource.n))
            rc = jaeger_tags(&b, &doc, "resource", &first);
        rc = rc ? rc : owl_buf_puts(&b, "]}");
    }
    rc = rc ? rc : owl_buf_puts(&b, "},\"warnings\":null}],\"total\":0,\"limit\":0,\"offset\":0,"
                                    "\"errors\":null}");
    free(proc);
    owl_trace_free(&t);
    return reply_json(call, &b, rc);
}

/* /api/services and /api/services/{service}/operations: names seen over `lookback` (Jaeger
 * UI's parameter, e.g. "2d"; default 7 days). */
static int jaeger_names(owl_call *call, const char *service)
{
    int64_t now = owl_now_ms(), back = 7 * 86400000LL;
    char lb[32];
    if (owl_query_param(call->req->query, "lookback", lb, sizeof lb) == 1) {
        char *end;
        double v = strtod(lb, &end);
        int64_t unit = *end == 'h' ? 3600000 : *end == 'd' ? 86400000 : *end == 'm' ? 60000 : 0;
        if (v > 0 && unit && end[1] == '\0' && v * (double)unit < 4e12)
            back = (int64_t)(v * (double)unit);
    }
    snprintf(call->resource, sizeof call->resource, "tenant/%s/services", call->principal->tenant);
    char **v = NULL;
    size_t n = 0;
    owl_error err = {0};
    int rc = owl_traces_names(call->srv->traces, call->principal->tenant, (now - back) * MS_NS,
                              (now + 1) * MS_NS, service, &v, &n, &err);
    if (rc != OWL_OK) {
        owl_call_error_from(call, rc, err.msg);
        return rc;
    }
    owl_buf b = OWL_BUF_INIT;
    rc = owl_buf_puts(&b, "{\"data\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? owl_buf_putc(&b, ',') : OWL_OK;
        rc = rc ? rc : owl_buf_json_str(&b, v[i], strlen(v[i]));
    }
    rc = rc ? rc : owl_buf_printf(&b, "],\"total\":%zu,\"limit\":0,\"offset\":0,"
                                      "\"errors\":null}", n);
    owl_traces_names_free(v, n);
    return reply_json(call, &b, rc);
}

static int jaeger_services(owl_call *call)
{
    return jaeger_names(call, NULL);
}

static int jaeger_operations(owl_call *call)
{
    return jaeger_names(call, owl_call_param(call, "service"));
}

static const owl_route traces_routes[] = {
    {.method = "POST", .pattern = "/v1/traces", .action = "xray:PutTraceSegments",
     .fn = export_traces},
    {.method = "POST", .pattern = "/api/v2/spans", .action = "xray:PutTraceSegments",
     .fn = zipkin_v2},
    {.method = "POST", .pattern = "/api/v1/spans", .action = "xray:PutTraceSegments",
     .fn = zipkin_v1},
    {.method = "GET", .pattern = "/api/v1/traces/{id}", .action = "xray:BatchGetTraces",
     .fn = native_trace},
    /* log lines: read with the logs read's action, as GET /api/v1/logs/events */
    {.method = "GET", .pattern = "/api/v1/traces/{id}/logs", .action = "logs:FilterLogEvents",
     .fn = trace_logs},
    {.method = "GET", .pattern = "/api/v1/traces", .action = "xray:GetTraceSummaries",
     .fn = native_search},
    {.method = "GET", .pattern = "/api/traces/{id}", .action = "xray:BatchGetTraces",
     .fn = jaeger_trace},
    {.method = "GET", .pattern = "/api/services", .action = "xray:GetTraceSummaries",
     .fn = jaeger_services},
    {.method = "GET", .pattern = "/api/services/{service}/operations",
     .action = "xray:GetTraceSummaries", .fn = jaeger_operations},
};

const owl_route_table owl_traces_routes = {traces_routes, OWL_ARRAY_LEN(traces_routes), NULL, 0};

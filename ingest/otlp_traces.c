/* otlp_traces.c — OTLP/HTTP traces: an ExportTraceServiceRequest (protobuf, or OTLP JSON
 * through the same descriptors as metrics and logs: otlp_int.h) turned into owl_span
 * records as docs/otlp.md's traces section describes; the span status rule all decoders
 * share. Invariant: each span of the request is either one record of out or counted in
 * out->rejected, never both, and every kept record holds the invariants of ingest.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"
#include "ingest/span_int.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest export_req;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans res_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Event event_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Link link_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

#define REQ_DESC opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
#define V(kind) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##kind
#define STATUS_ERROR OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR

#define DEFAULT_SERVICE "unknown_service"
#define KIND_BIT(k) (1u << (k))

/* ---- the names and the status rule ---- */

const char *owl_span_kind_name(enum owl_span_kind k)
{
    static const char *const names[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

const char *owl_span_status_name(enum owl_span_status s)
{
    static const char *const names[] = {"ok", "error", "fault", "throttle"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

enum owl_span_status owl_span_status_of(int failed, int http_status)
{
    if (http_status == 429)
        return OWL_SPAN_THROTTLE;
    if (http_status >= 400 && http_status <= 499)
        return OWL_SPAN_ERROR;
    if (http_status >= 500 && http_status <= 599)
        return OWL_SPAN_FAULT;
    return failed ? OWL_SPAN_FAULT : OWL_SPAN_OK;
}

/* ---- semantic conventions: the attributes each field is read from, current name first ---- */

static const char *const K_METHOD[] = {"http.request.method", "http.method", NULL};
static const char *const K_STATUS[] = {"http.response.status_code", "http.status_code", NULL};
static const char *const K_URL[] = {"url.full", "http.url", NULL};
static const char *const K_PATH[] = {"url.path", "http.target", NULL};
static const char *const K_ROUTE[] = {"http.route", NULL};
static const char *const K_AGENT[] = {"user_agent.original", "http.user_agent", NULL};
static const char *const K_CLIENT[] = {"client.address", "http.client_ip", NULL};
static const char *const K_PEER[] = {"peer.service", NULL};
static const char *const K_DB[] = {"db.system.name", "db.system", NULL};
static const char *const K_DB_NAME[] = {"db.namespace", "db.name", NULL};
static const char *const K_MSG[] = {"messaging.system", NULL};
static const char *const K_MSG_DEST[] = {"messaging.destination.name", "messaging.destination",
                                         NULL};
static const char *const K_RPC[] = {"rpc.service", NULL};
static const char *const K_ADDR[] = {"server.address", "net.peer.name", NULL};

#define OUTBOUND (KIND_BIT(OWL_SPAN_CLIENT) | KIND_BIT(OWL_SPAN_PRODUCER))

/* The peer service: the first row whose kind matches and whose first attribute is present
 * gives "first" or "first:second" (docs/otlp.md "Peer service"). A server's own
 * server.address is not a peer, so addresses count on outbound spans only. */
static const struct peer_rule {
    unsigned kinds;
    const char *const *first, *const *second;
} peer_rules[] = {
    {~0u, K_PEER, NULL},
    {OUTBOUND | KIND_BIT(OWL_SPAN_CONSUMER), K_DB, K_DB_NAME},
    {OUTBOUND | KIND_BIT(OWL_SPAN_CONSUMER), K_MSG, K_MSG_DEST},
    {OUTBOUND, K_RPC, NULL},
    {OUTBOUND, K_ADDR, NULL},
};

/* The value of the first of keys among kvs[0..n) present, or NULL. */
static const any_t *find(kv_t **kvs, size_t n, const char *const *keys)
{
    for (; *keys; keys++)
        for (size_t i = 0; i < n; i++)
            if (kvs[i]->value && strcmp(kvs[i]->key, *keys) == 0)
                return kvs[i]->value;
    return NULL;
}

/* The string of the first of keys that holds a non-empty string, or NULL. */
static const char *find_str(kv_t **kvs, size_t n, const char *const *keys)
{
    for (; *keys; keys++) {
        const char *const one[] = {*keys, NULL};
        const any_t *v = find(kvs, n, one);
        if (v && v->value_case == V(STRING_VALUE) && v->string_value[0])
            return v->string_value;
    }
    return NULL;
}

/* The HTTP status code (an int, or a string of digits as older instrumentations send),
 * 0 when absent or outside 100..599: such a value stays in the attributes only. */
static int http_status(kv_t **kvs, size_t n)
{
    const any_t *v = find(kvs, n, K_STATUS);
    long code = 0;
    if (!v)
        return 0;
    if (v->value_case == V(INT_VALUE))
        code = v->int_value >= 100 && v->int_value <= 599 ? (long)v->int_value : 0;
    else if (v->value_case == V(STRING_VALUE) && strlen(v->string_value) == 3) {
        for (const char *p = v->string_value; *p; p++)
            code = *p >= '0' && *p <= '9' ? code * 10 + (*p - '0') : -1000;
    }
    return code >= 100 && code <= 599 ? (int)code : 0;
}

void owl_span_vreject(owl_span_decoded *d, const char *where, const char *fmt, va_list ap)
{
    if (d->rejected++ == 0) { /* a long reason is cut: the message is bounded */
        int k = snprintf(d->message, sizeof d->message, "%s: ", where);
        if (k >= 0 && (size_t)k < sizeof d->message)
            vsnprintf(d->message + k, sizeof d->message - (size_t)k, fmt, ap);
    }
}

const char *owl_span_url_path(const char *s, size_t n, size_t *len)
{
    const char *end = s + n, *p = NULL;
    for (const char *q = s; q + 3 <= end; q++)
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            p = q + 3;
            break;
        }
    if (!p)
        return NULL;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    if (p == end || *p != '/') {
        *len = 1;
        return "/";
    }
    const char *q = p;
    while (q < end && *q != '?' && *q != '#')
        q++;
    *len = (size_t)(q - p);
    return p;
}

/* ---- the decode ---- */

typedef struct ctx {
    owl_span_decoded *d;
    const char *service;
    bson_t res, scope;       /* the resource attributes; the scope's name, version, attributes */
    owl_bytes shared;        /* {resource, scope} of the current scope, in the arena */
    size_t ri, si, pi;       /* where the current span is, for the refusal message */
    owl_buf tmp;
} ctx;

static void reject(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(ctx *c, const char *fmt, ...)
{
    char where[96];
    snprintf(where, sizeof where, "resource %zu scope %zu span %zu", c->ri, c->si, c->pi);
    va_list ap;
    va_start(ap, fmt);
    owl_span_vreject(c->d, where, fmt, ap);
    va_end(ap);
}

/* A copy of s[0..n) in the arena, invalid UTF-8 repaired. */
static int text(ctx *c, const char *s, size_t n, owl_bytes *out)
{
    if (!owl_log_decoded_utf8_ok(s, n)) {
        owl_buf_reset(&c->tmp);
        if (owl_log_decoded_utf8(s, n, &c->tmp) != OWL_OK)
            return OWL_ENOMEM;
        s = c->tmp.data;
        n = c->tmp.len;
    }
    void *p = owl_arena_copy(&c->d->arena, n ? s : "", n);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, n};
    return OWL_OK;
}

static int text_z(ctx *c, const char *s, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    return s && *s ? text(c, s, strlen(s), out) : OWL_OK;
}

/* "first" or "first:second" of the first peer rule that applies. */
static int peer_of(ctx *c, const span_t *s, enum owl_span_kind kind, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    for (size_t i = 0; i < sizeof peer_rules / sizeof *peer_rules; i++) {
        const struct peer_rule *r = &peer_rules[i];
        const char *a, *b;
        if (!(r->kinds & KIND_BIT(kind)) || !(a = find_str(s->attributes, s->n_attributes,
                                                             r->first)))
            continue;
        b = r->second ? find_str(s->attributes, s->n_attributes, r->second) : NULL;
        if (!b)
            return text_z(c, a, out);
        owl_buf both = OWL_BUF_INIT;
        int rc = owl_buf_printf(&both, "%s:%s", a, b);
        if (rc == OWL_OK)
            rc = text(c, both.data, both.len, out);
        owl_buf_free(&both);
        return rc;
    }
    return OWL_OK;
}

/* method, route, url, status code, user agent, client address */
static int http_fields(ctx *c, const span_t *s, owl_span *o)
{
    kv_t **a = s->attributes;
    size_t n = s->n_attributes;
    const char *url = find_str(a, n, K_URL), *route = find_str(a, n, K_ROUTE);
    int rc;
    o->http_status = http_status(a, n);
    if ((rc = text_z(c, find_str(a, n, K_METHOD), &o->http_method)) ||
        (rc = text_z(c, url, &o->url)) ||
        (rc = text_z(c, find_str(a, n, K_AGENT), &o->user_agent)) ||
        (rc = text_z(c, find_str(a, n, K_CLIENT), &o->client_ip)))
        return rc;
    if (route)
        return text_z(c, route, &o->route);
    const char *path = find_str(a, n, K_PATH);
    size_t len = 0;
    if (path)
        len = strcspn(path, "?#"); /* http.target carries the query */
    else if (url)
        path = owl_span_url_path(url, strlen(url), &len);
    return path && len ? text(c, path, len, &o->route) : OWL_OK;
}

static int append_hex(bson_t *doc, const char *key, const uint8_t *id, size_t n)
{
    char hex[OWL_TRACEID_HEX_SIZE];
    if (n == 16)
        owl_traceid_to_hex(id, hex);
    else
        owl_traceid_span_to_hex(id, hex);
    return bson_append_utf8(doc, key, -1, hex, (int)(2 * n)) ? OWL_OK : OWL_ENOMEM;
}

static int append_str(bson_t *doc, const char *key, const char *s, owl_buf *tmp)
{
    size_t n;
    if (!s || !*s)
        return OWL_OK;
    s = owl_otlp_utf8(s, &n, tmp);
    return s && bson_append_utf8(doc, key, -1, s, (int)n) ? OWL_OK : OWL_ENOMEM;
}

static int append_kvs(bson_t *doc, const char *key, kv_t **kvs, size_t n)
{
    bson_t sub;
    if (!n)
        return OWL_OK;
    if (!bson_append_document_begin(doc, key, -1, &sub))
        return OWL_ENOMEM;
    int rc = owl_otlp_bson_kvs(&sub, kvs, n);
    return bson_append_document_end(doc, &sub) && rc == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

static int append_count(bson_t *doc, const char *key, uint32_t n)
{
    return !n || bson_append_int64(doc, key, -1, n) ? OWL_OK : OWL_ENOMEM;
}

/* An event: {name, time_ns, attributes}; an exception event also lifts exception.type,
 * .message and .stacktrace to type, message, stacktrace (the rest stays in attributes). */
static int event_doc(ctx *c, bson_t *doc, const event_t *e)
{
    static const char *const lifted[] = {"exception.type", "exception.message",
                                         "exception.stacktrace"};
    int exc = strcmp(e->name, "exception") == 0, rc;
    if ((rc = append_str(doc, "name", e->name, &c->tmp)) != OWL_OK ||
        !bson_append_int64(doc, "time_ns", -1, (int64_t)e->time_unix_nano))
        return rc ? rc : OWL_ENOMEM;
    if (exc)
        for (size_t i = 0; i < 3; i++) {
            const char *const key[] = {lifted[i], NULL};
            const char *v = find_str(e->attributes, e->n_attributes, key);
            if ((rc = append_str(doc, lifted[i] + 10, v, &c->tmp)) != OWL_OK)
                return rc;
        }
    bson_t sub;
    if (!bson_append_document_begin(doc, "attributes", -1, &sub))
        return OWL_ENOMEM;
    for (size_t i = 0; rc == OWL_OK && i < e->n_attributes; i++) {
        const char *k = e->attributes[i]->key;
        int skip = 0;
        for (size_t j = 0; exc && j < 3; j++)
            skip |= strcmp(k, lifted[j]) == 0 && e->attributes[i]->value &&
                    e->attributes[i]->value->value_case == V(STRING_VALUE);
        if (!skip)
            rc = owl_otlp_bson_kvs(&sub, &e->attributes[i], 1);
    }
    if (!bson_append_document_end(doc, &sub) && rc == OWL_OK)
        rc = OWL_ENOMEM;
    if (rc != OWL_OK)
        return rc;
    return append_count(doc, "dropped_attributes_count", e->dropped_attributes_count);
}

static int link_doc(ctx *c, bson_t *doc, const link_t *l)
{
    int rc;
    if ((rc = append_hex(doc, "trace_id", l->trace_id.data, 16)) ||
        (rc = append_hex(doc, "span_id", l->span_id.data, 8)) ||
        (rc = append_str(doc, "trace_state", l->trace_state, &c->tmp)) ||
        (rc = append_kvs(doc, "attributes", l->attributes, l->n_attributes)) ||
        (rc = append_count(doc, "dropped_attributes_count", l->dropped_attributes_count)))
        return rc;
    return append_count(doc, "flags", l->flags);
}

/* Appends the array key of n items built by fn. */
static int append_list(ctx *c, bson_t *doc, const char *key, void *const *items, size_t n,
                       int (*fn)(ctx *, bson_t *, const void *))
{
    bson_t arr, el;
    int rc = OWL_OK;
    if (!n)
        return OWL_OK;
    if (!bson_append_array_begin(doc, key, -1, &arr))
        return OWL_ENOMEM;
    for (size_t i = 0; rc == OWL_OK && i < n; i++) {
        char ik[24];
        int il = snprintf(ik, sizeof ik, "%zu", i);
        if (!bson_append_document_begin(&arr, ik, il, &el))
            rc = OWL_ENOMEM;
        else {
            rc = fn(c, &el, items[i]);
            if (!bson_append_document_end(&arr, &el) && rc == OWL_OK)
                rc = OWL_ENOMEM;
        }
    }
    return bson_append_array_end(doc, &arr) && rc == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

static int event_fn(ctx *c, bson_t *doc, const void *e) { return event_doc(c, doc, e); }
static int link_fn(ctx *c, bson_t *doc, const void *l) { return link_doc(c, doc, l); }

/* The {resource, scope} document every span of the current scope shares (one arena copy). */
static int shared_of(ctx *c)
{
    bson_t doc = BSON_INITIALIZER;
    int rc = OWL_OK;
    c->shared = (owl_bytes){NULL, 0};
    if (!bson_empty(&c->res) && !bson_append_document(&doc, "resource", -1, &c->res))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_empty(&c->scope) &&
        !bson_append_document(&doc, "scope", -1, &c->scope))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_empty(&doc)) {
        void *p = owl_arena_copy(&c->d->arena, bson_get_data(&doc), doc.len);
        if (p)
            c->shared = (owl_bytes){p, doc.len};
        else
            rc = OWL_ENOMEM;
    }
    bson_destroy(&doc);
    return rc;
}

/* attrs: {attributes, events, links, trace_state, flags, dropped_*} */
static int attrs_of(ctx *c, const span_t *s, owl_bytes *out)
{
    bson_t doc = BSON_INITIALIZER;
    int rc = OWL_OK;
    *out = (owl_bytes){NULL, 0};
    if (rc == OWL_OK)
        rc = append_kvs(&doc, "attributes", s->attributes, s->n_attributes);
    if (rc == OWL_OK)
        rc = append_list(c, &doc, "events", (void *const *)s->events, s->n_events, event_fn);
    if (rc == OWL_OK)
        rc = append_list(c, &doc, "links", (void *const *)s->links, s->n_links, link_fn);
    if (rc == OWL_OK)
        rc = append_str(&doc, "trace_state", s->trace_state, &c->tmp);
    if (rc == OWL_OK)
        rc = append_count(&doc, "flags", s->flags);
    if (rc == OWL_OK)
        rc = append_count(&doc, "dropped_attributes_count", s->dropped_attributes_count);
    if (rc == OWL_OK)
        rc = append_count(&doc, "dropped_events_count", s->dropped_events_count);
    if (rc == OWL_OK)
        rc = append_count(&doc, "dropped_links_count", s->dropped_links_count);
    if (rc == OWL_OK && !bson_empty(&doc)) {
        void *p = owl_arena_copy(&c->d->arena, bson_get_data(&doc), doc.len);
        if (p)
            *out = (owl_bytes){p, doc.len};
        else
            rc = OWL_ENOMEM;
    }
    bson_destroy(&doc);
    return rc;
}

/* Why s cannot be a record, or NULL when it can (why[] holds the text). */
static const char *refusal(const span_t *s, char *why, size_t n)
{
    if (s->trace_id.len != 16)
        snprintf(why, n, "trace_id of %zu bytes (16 expected)", s->trace_id.len);
    else if (owl_traceid_is_zero(s->trace_id.data, 16))
        snprintf(why, n, "trace_id is all zero");
    else if (s->span_id.len != 8)
        snprintf(why, n, "span_id of %zu bytes (8 expected)", s->span_id.len);
    else if (owl_traceid_is_zero(s->span_id.data, 8))
        snprintf(why, n, "span_id is all zero");
    else if (s->parent_span_id.len != 0 && s->parent_span_id.len != 8)
        snprintf(why, n, "parent_span_id of %zu bytes (8 or none expected)",
                 s->parent_span_id.len);
    else if (!s->name || !s->name[0])
        snprintf(why, n, "no name");
    else if ((unsigned)s->kind > OWL_SPAN_CONSUMER)
        snprintf(why, n, "kind %d is not a SpanKind", (int)s->kind);
    else if (s->status && (unsigned)s->status->code > STATUS_ERROR)
        snprintf(why, n, "status code %d is not a StatusCode", (int)s->status->code);
    else if (!s->start_time_unix_nano)
        snprintf(why, n, "no start_time_unix_nano");
    else if (!s->end_time_unix_nano)
        snprintf(why, n, "no end_time_unix_nano");
    else if (s->start_time_unix_nano > INT64_MAX || s->end_time_unix_nano > INT64_MAX)
        snprintf(why, n, "a time past 2262");
    else if (s->end_time_unix_nano < s->start_time_unix_nano)
        snprintf(why, n, "ends %llu ns before it starts",
                 (unsigned long long)(s->start_time_unix_nano - s->end_time_unix_nano));
    else {
        for (size_t i = 0; i < s->n_links; i++)
            if (s->links[i]->trace_id.len != 16 || s->links[i]->span_id.len != 8) {
                snprintf(why, n, "link %zu: ids of %zu and %zu bytes (16 and 8 expected)", i,
                         s->links[i]->trace_id.len, s->links[i]->span_id.len);
                return why;
            }
        for (size_t i = 0; i < s->n_events; i++)
            if (s->events[i]->time_unix_nano > INT64_MAX) {
                snprintf(why, n, "event %zu: a time past 2262", i);
                return why;
            }
        return NULL;
    }
    return why;
}

static int span(ctx *c, const span_t *s)
{
    char why[160];
    if (refusal(s, why, sizeof why)) {
        reject(c, "%s", why);
        return OWL_OK;
    }
    owl_span *o = &c->d->spans[c->d->n];
    int rc;
    memset(o, 0, sizeof *o);
    memcpy(o->trace_id, s->trace_id.data, 16);
    memcpy(o->span_id, s->span_id.data, 8);
    if (s->parent_span_id.len)
        memcpy(o->parent_id, s->parent_span_id.data, 8);
    o->kind = (enum owl_span_kind)s->kind;
    o->start_ns = (int64_t)s->start_time_unix_nano;
    o->duration_ns = (int64_t)(s->end_time_unix_nano - s->start_time_unix_nano);
    o->status_code = s->status ? (int)s->status->code : 0;
    if ((rc = text_z(c, c->service, &o->service)) || (rc = text_z(c, s->name, &o->name)) ||
        (rc = text_z(c, s->status ? s->status->message : NULL, &o->status_message)) ||
        (rc = http_fields(c, s, o)) || (rc = peer_of(c, s, o->kind, &o->peer_service)) ||
        (rc = attrs_of(c, s, &o->attrs)))
        return rc;
    o->status = owl_span_status_of(o->status_code == STATUS_ERROR, o->http_status);
    o->resource = c->shared;
    c->d->n++;
    return OWL_OK;
}

static int scope_doc(ctx *c, const scope_t *s)
{
    int rc = OWL_OK;
    bson_reinit(&c->scope);
    if (!s)
        return OWL_OK;
    if ((rc = append_str(&c->scope, "name", s->name, &c->tmp)) ||
        (rc = append_str(&c->scope, "version", s->version, &c->tmp)))
        return rc;
    return append_kvs(&c->scope, "attributes", s->attributes, s->n_attributes);
}

static int resource(ctx *c, const res_spans *rs)
{
    const Opentelemetry__Proto__Resource__V1__Resource *r = rs->resource;
    const char *const k_service[] = {"service.name", NULL};
    int rc = OWL_OK;
    c->service = r ? find_str(r->attributes, r->n_attributes, k_service) : NULL;
    if (!c->service)
        c->service = DEFAULT_SERVICE;
    bson_reinit(&c->res);
    if (r)
        rc = owl_otlp_bson_kvs(&c->res, r->attributes, r->n_attributes);
    for (c->si = 0; rc == OWL_OK && c->si < rs->n_scope_spans; c->si++) {
        const scope_spans *ss = rs->scope_spans[c->si];
        rc = scope_doc(c, ss->scope);
        if (rc == OWL_OK)
            rc = shared_of(c);
        for (c->pi = 0; rc == OWL_OK && c->pi < ss->n_spans; c->pi++)
            rc = span(c, ss->spans[c->pi]);
    }
    return rc;
}

static size_t count_spans(const export_req *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++)
        for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
            n += req->resource_spans[i]->scope_spans[j]->n_spans;
    return n;
}

void owl_span_decoded_free(owl_span_decoded *d)
{
    if (!d)
        return;
    owl_arena_free(&d->arena);
    memset(d, 0, sizeof *d);
}

int owl_otlp_traces_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                           size_t max_spans, owl_span_decoded *out, owl_error *err)
{
    export_req *req = NULL;
    ctx c = {.d = out, .tmp = OWL_BUF_INIT};
    bson_init(&c.res);
    bson_init(&c.scope);
    owl_span_decoded_free(out);
    owl_arena_init(&out->arena, 64 * 1024);
    owl_arena mem;
    owl_arena_init(&mem, OTLP_UNPACK_BLOCK);
    int rc = owl_otlp_unpack(&REQ_DESC, enc, body, n, &mem, (ProtobufCMessage **)&req, err);
    if (rc != OWL_OK)
        goto out;
    size_t total = count_spans(req);
    if (total > max_spans) {
        rc = owl_error_set(err, OWL_ETOOBIG, "%zu spans in one request (at most %zu)", total,
                           max_spans);
        goto out;
    }
    if (total && !(out->spans = owl_arena_alloc(&out->arena, total * sizeof *out->spans)))
        rc = OWL_ENOMEM;
    for (c.ri = 0; rc == OWL_OK && c.ri < req->n_resource_spans; c.ri++)
        rc = resource(&c, req->resource_spans[c.ri]);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding OTLP traces");
out:
    if (rc != OWL_OK) {
        out->spans = NULL;
        out->n = out->rejected = 0;
        out->message[0] = '\0';
    }
    owl_arena_free(&mem);
    bson_destroy(&c.res);
    bson_destroy(&c.scope);
    owl_buf_free(&c.tmp);
    return rc;
}

int owl_otlp_traces_response(enum owl_otlp_encoding enc, size_t rejected, const char *message,
                             owl_buf *out)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    if (rejected) {
        ps.rejected_spans = (int64_t)rejected;
        ps.error_message = (char *)(message ? message : "");
        r.partial_success = &ps;
    }
    return owl_otlp_response(enc, "rejectedSpans", rejected, message,
                             (const ProtobufCMessage *)&r, out);
}

/* otlp_traces.c — OTLP/HTTP traces: an ExportTraceServiceRequest (protobuf, or OTLP JSON
 * through the same descriptors as metrics and logs: otlp_int.h) turned into owl_span
 * records as docs/otlp.md's traces section describes; the span status rule all decoders
 * share. Two readings of a request, one record(): the general path (protobuf-c's unpack of
 * the whole request) and a protobuf fast path over the wire bytes, which gives the same
 * records or declines. Invariant: each span of the request is either one record of out or
 * counted in out->rejected, never both, and every kept record holds the invariants of
 * ingest.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "common/traceid.h"
#include "common/utf8.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"
#include "ingest/otlp_jtext.h"
#include "ingest/otlp_wire.h"
#include "ingest/span_int.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest export_req;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans res_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Event event_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Link link_t;
typedef Opentelemetry__Proto__Resource__V1__Resource resource_t;
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

/* ---- what the other span decoders share (span_int.h) ---- */

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

/* ---- semantic conventions: the attributes each field is read from, current name first ---- */

/* Every attribute name a field of the record is read from. */
#define ATTR_NAMES(X)                                                                          \
    X(HTTP_REQUEST_METHOD, "http.request.method")                                              \
    X(HTTP_METHOD, "http.method")                                                              \
    X(HTTP_RESPONSE_STATUS_CODE, "http.response.status_code")                                  \
    X(HTTP_STATUS_CODE, "http.status_code")                                                    \
    X(URL_FULL, "url.full")                                                                    \
    X(HTTP_URL, "http.url")                                                                    \
    X(URL_PATH, "url.path")                                                                    \
    X(HTTP_TARGET, "http.target")                                                              \
    X(HTTP_ROUTE, "http.route")                                                                \
    X(USER_AGENT_ORIGINAL, "user_agent.original")                                              \
    X(HTTP_USER_AGENT, "http.user_agent")                                                      \
    X(CLIENT_ADDRESS, "client.address")                                                        \
    X(HTTP_CLIENT_IP, "http.client_ip")                                                        \
    X(PEER_SERVICE, "peer.service")                                                            \
    X(DB_SYSTEM_NAME, "db.system.name")                                                        \
    X(DB_SYSTEM, "db.system")                                                                  \
    X(DB_NAMESPACE, "db.namespace")                                                            \
    X(DB_NAME, "db.name")                                                                      \
    X(MESSAGING_SYSTEM, "messaging.system")                                                    \
    X(MESSAGING_DESTINATION_NAME, "messaging.destination.name")                                \
    X(MESSAGING_DESTINATION, "messaging.destination")                                          \
    X(RPC_SERVICE, "rpc.service")                                                              \
    X(SERVER_ADDRESS, "server.address")                                                        \
    X(NET_PEER_NAME, "net.peer.name")

enum {
#define X(id, name) A_##id,
    ATTR_NAMES(X)
#undef X
    A_COUNT,
    A_END = -1 /* ends a list below */
};

static const struct {
    const char *name;
    size_t len;
} attr_names[A_COUNT] = {
#define X(id, name) {name, sizeof name - 1},
    ATTR_NAMES(X)
#undef X
};

static const int K_METHOD[] = {A_HTTP_REQUEST_METHOD, A_HTTP_METHOD, A_END};
static const int K_STATUS[] = {A_HTTP_RESPONSE_STATUS_CODE, A_HTTP_STATUS_CODE, A_END};
static const int K_URL[] = {A_URL_FULL, A_HTTP_URL, A_END};
static const int K_PATH[] = {A_URL_PATH, A_HTTP_TARGET, A_END};
static const int K_ROUTE[] = {A_HTTP_ROUTE, A_END};
static const int K_AGENT[] = {A_USER_AGENT_ORIGINAL, A_HTTP_USER_AGENT, A_END};
static const int K_CLIENT[] = {A_CLIENT_ADDRESS, A_HTTP_CLIENT_IP, A_END};
static const int K_PEER[] = {A_PEER_SERVICE, A_END};
static const int K_DB[] = {A_DB_SYSTEM_NAME, A_DB_SYSTEM, A_END};
static const int K_DB_NAME[] = {A_DB_NAMESPACE, A_DB_NAME, A_END};
static const int K_MSG[] = {A_MESSAGING_SYSTEM, A_END};
static const int K_MSG_DEST[] = {A_MESSAGING_DESTINATION_NAME, A_MESSAGING_DESTINATION, A_END};
static const int K_RPC[] = {A_RPC_SERVICE, A_END};
static const int K_ADDR[] = {A_SERVER_ADDRESS, A_NET_PEER_NAME, A_END};

#define OUTBOUND (KIND_BIT(OWL_SPAN_CLIENT) | KIND_BIT(OWL_SPAN_PRODUCER))

/* The peer service: the first row whose kind matches and whose first attribute is present
 * gives "first" or "first:second" (docs/otlp.md "Peer service"). A server's own
 * server.address is not a peer, so addresses count on outbound spans only. */
static const struct peer_rule {
    unsigned kinds;
    const int *first, *second;
} peer_rules[] = {
    {~0u, K_PEER, NULL},
    {OUTBOUND | KIND_BIT(OWL_SPAN_CONSUMER), K_DB, K_DB_NAME},
    {OUTBOUND | KIND_BIT(OWL_SPAN_CONSUMER), K_MSG, K_MSG_DEST},
    {OUTBOUND, K_RPC, NULL},
    {OUTBOUND, K_ADDR, NULL},
};

/* ---- one span as both readings give it ---- */

#define NO_VALUE (-1) /* attr.vcase of a KeyValue without a value */

/* One attribute of a span. Texts are views without NUL: the general path's end at their
 * first NUL, as protobuf-c's strings do; the fast path leaves a KeyValue whose texts hold one
 * to protobuf-c. */
typedef struct attr {
    owl_bytes key;
    kv_t *kv;      /* protobuf-c's KeyValue, which the attrs document is then made from; NULL:
                      read from the wire by the fast path, the value below */
    int vcase;     /* the value's V(...), V(_NOT_SET) for an empty AnyValue; NO_VALUE: none */
    owl_bytes str; /* V(STRING_VALUE) */
    int64_t num;   /* V(INT_VALUE); V(BOOL_VALUE): 0 or 1 */
    double dbl;    /* V(DOUBLE_VALUE) */
} attr;

/* A span: the general path's from protobuf-c's Span, the fast path's from the wire. Events
 * and links are protobuf-c's in both. */
typedef struct rec {
    owl_bytes trace_id, span_id, parent_id; /* as sent */
    owl_bytes name, trace_state;            /* texts; empty: absent */
    int32_t kind;
    uint64_t start_ns, end_ns;
    int32_t status_code; /* 0 without a status */
    owl_bytes status_message;
    uint32_t flags, dropped_attrs, dropped_events, dropped_links;
    const attr *attrs;
    size_t nattrs;
    event_t *const *events;
    size_t nevents;
    link_t *const *links;
    size_t nlinks;
} rec;

/* The decode of one request: the resource's and scope's parts, built once and shared by
 * their spans, and buffers reused span after span. */
typedef struct ctx {
    owl_span_decoded *d;
    owl_bytes service;       /* the resource's service name, in the arena (one copy) */
    bson_t res, scope;       /* the resource attributes; the scope's name, version, attributes */
    owl_bytes shared;        /* {resource, scope} of the current scope, in the arena */
    size_t ri, si, pi;       /* where the current span is, for the refusal message */
    bson_t doc;              /* the current span's attrs document */
    owl_buf attrs;           /* the current span's attributes (attr[]) */
    owl_buf events, links;   /* the fast path's: the current span's (event_t *[], link_t *[]) */
    owl_buf tmp, tmp2, join; /* UTF-8 repairs (a key's, a value's); "system:name" */
    owl_buf bw;              /* attrs_of's document when it writes the BSON itself */
    /* the current record's texts are valid UTF-8 without NUL (the direct path's: its reader
     * declined any other), which text() and attrs_direct then need not check again */
    int valid;
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

/* A protobuf-c string as a view (NULL: empty). */
static owl_bytes z(const char *s)
{
    return s ? (owl_bytes){s, strlen(s)} : (owl_bytes){"", 0};
}

/* A copy of s[0..n) in the arena, invalid UTF-8 repaired. */
static int text(ctx *c, const char *s, size_t n, owl_bytes *out)
{
    if (!c->valid && !owl_utf8_ascii(s, n) && !owl_log_decoded_utf8_ok(s, n)) {
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

/* text() of v, or nothing (*out empty) when v is empty. */
static int text_v(ctx *c, owl_bytes v, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    return v.n ? text(c, v.p, v.n, out) : OWL_OK;
}

/* ---- the fields read from attributes ---- */

/* The attributes each field is read from, found in one pass over a span's attributes. */
typedef struct slots {
    uint32_t seen;           /* bit k: at[k] is set */
    const attr *at[A_COUNT]; /* the first attribute named attr_names[k] that has a value */
} slots;

_Static_assert(A_COUNT <= 32, "slots.seen has a bit for each name");

/* s filled from the n attributes at a, as a search of the list for each name would fill it.
 * Only the slots found are written: a span without any of these names (most) costs no more. */
static void index_attrs(const attr *a, size_t n, slots *s)
{
    s->seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].vcase == NO_VALUE)
            continue;
        for (int k = 0; k < A_COUNT; k++)
            if (a[i].key.n == attr_names[k].len &&
                memcmp(a[i].key.p, attr_names[k].name, a[i].key.n) == 0) {
                if (!(s->seen & 1u << k))
                    s->at[k] = &a[i];
                s->seen |= 1u << k;
                break;
            }
    }
}

/* The value of the first of keys present, or NULL. */
static const attr *find(const slots *s, const int *keys)
{
    for (; *keys != A_END; keys++)
        if (s->seen & 1u << *keys)
            return s->at[*keys];
    return NULL;
}

/* The string of the first of keys that holds a non-empty string; empty when none does. */
static owl_bytes find_str(const slots *s, const int *keys)
{
    for (; *keys != A_END; keys++) {
        const attr *a = s->seen & 1u << *keys ? s->at[*keys] : NULL;
        if (a && a->vcase == V(STRING_VALUE) && a->str.n)
            return a->str;
    }
    return (owl_bytes){NULL, 0};
}

/* The HTTP status code (an int, or a string of digits as older instrumentations send),
 * 0 when absent or outside 100..599: such a value stays in the attributes only. */
static int http_status(const slots *slot)
{
    const attr *a = find(slot, K_STATUS);
    long code = 0;
    if (!a)
        return 0;
    if (a->vcase == V(INT_VALUE))
        code = a->num >= 100 && a->num <= 599 ? (long)a->num : 0;
    else if (a->vcase == V(STRING_VALUE) && a->str.n == 3) {
        for (size_t i = 0; i < 3; i++) {
            char ch = ((const char *)a->str.p)[i];
            code = ch >= '0' && ch <= '9' ? code * 10 + (ch - '0') : -1000;
        }
    }
    return code >= 100 && code <= 599 ? (int)code : 0;
}

/* "first" or "first:second" of the first peer rule that applies. */
static int peer_of(ctx *c, const slots *slot, enum owl_span_kind kind, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    for (size_t i = 0; i < sizeof peer_rules / sizeof *peer_rules; i++) {
        const struct peer_rule *r = &peer_rules[i];
        owl_bytes a, b = {NULL, 0};
        if (!(r->kinds & KIND_BIT(kind)) || !(a = find_str(slot, r->first)).n)
            continue;
        if (r->second)
            b = find_str(slot, r->second);
        if (!b.n)
            return text_v(c, a, out);
        owl_buf_reset(&c->join);
        if (owl_buf_append(&c->join, a.p, a.n) != OWL_OK || owl_buf_putc(&c->join, ':') != OWL_OK ||
            owl_buf_append(&c->join, b.p, b.n) != OWL_OK)
            return OWL_ENOMEM;
        return text(c, c->join.data, c->join.len, out);
    }
    return OWL_OK;
}

/* method, route, url, status code, user agent, client address */
static int http_fields(ctx *c, const slots *slot, owl_span *o)
{
    owl_bytes url = find_str(slot, K_URL), route = find_str(slot, K_ROUTE), path;
    int rc;
    o->http_status = http_status(slot);
    if ((rc = text_v(c, find_str(slot, K_METHOD), &o->http_method)) ||
        (rc = text_v(c, url, &o->url)) ||
        (rc = text_v(c, find_str(slot, K_AGENT), &o->user_agent)) ||
        (rc = text_v(c, find_str(slot, K_CLIENT), &o->client_ip)))
        return rc;
    if (route.n)
        return text_v(c, route, &o->route);
    const char *p = NULL;
    size_t len = 0;
    if ((path = find_str(slot, K_PATH)).n) { /* http.target carries the query */
        p = path.p;
        while (len < path.n && p[len] != '?' && p[len] != '#')
            len++;
    } else if (url.n) {
        p = owl_span_url_path(url.p, url.n, &len);
    }
    return p && len ? text(c, p, len, &o->route) : OWL_OK;
}

/* ---- the attrs and resource documents ---- */

static int append_hex(bson_t *doc, const char *key, const uint8_t *id, size_t n)
{
    char hex[OWL_TRACEID_HEX_SIZE];
    if (n == 16)
        owl_traceid_to_hex(id, hex);
    else
        owl_traceid_span_to_hex(id, hex);
    return bson_append_utf8(doc, key, -1, hex, (int)(2 * n)) ? OWL_OK : OWL_ENOMEM;
}

/* Appends text s (UTF-8 repaired) under key, nothing when s is empty. */
static int append_text(bson_t *doc, const char *key, owl_bytes s, owl_buf *tmp)
{
    size_t n;
    if (!s.n)
        return OWL_OK;
    const char *v = owl_otlp_utf8n(s.p, s.n, &n, tmp);
    return v && bson_append_utf8(doc, key, -1, v, (int)n) ? OWL_OK : OWL_ENOMEM;
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

/* Appends a to doc as owl_otlp_bson_kvs appends its KeyValue: protobuf-c's through it, one
 * read from the wire the same way here (tests and fuzz_otlp_traces compare the bytes). */
static int append_attr(ctx *c, bson_t *doc, const attr *a)
{
    size_t kl;
    const char *k;
    if (a->kv)
        return owl_otlp_bson_kvs(doc, (kv_t **)&a->kv, 1);
    if (!(k = owl_otlp_utf8n(a->key.p, a->key.n, &kl, &c->tmp)))
        return OWL_ENOMEM;
    return owl_otlp_bson_scalar(doc, k, kl, a->vcase, a->str.p, a->str.n, a->num, a->dbl,
                                &c->tmp2);
}

/* The string of the first of kvs named key that has a value, when it is a non-empty string;
 * NULL otherwise (a resource's service.name, an exception event's lifted attributes). */
static const char *kv_str(kv_t *const *kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kvs[i]->value && strcmp(kvs[i]->key, key) == 0)
            return kvs[i]->value->value_case == V(STRING_VALUE) && kvs[i]->value->string_value[0]
                       ? kvs[i]->value->string_value
                       : NULL;
    return NULL;
}

/* An event: {name, time_ns, attributes}; an exception event also lifts exception.type,
 * .message and .stacktrace to type, message, stacktrace (the rest stays in attributes). */
static int event_doc(ctx *c, bson_t *doc, const event_t *e)
{
    static const char *const lifted[] = {"exception.type", "exception.message",
                                         "exception.stacktrace"};
    int exc = strcmp(e->name, "exception") == 0, rc;
    if ((rc = append_text(doc, "name", z(e->name), &c->tmp)) != OWL_OK ||
        !bson_append_int64(doc, "time_ns", -1, (int64_t)e->time_unix_nano))
        return rc ? rc : OWL_ENOMEM;
    if (exc)
        for (size_t i = 0; i < 3; i++) {
            const char *v = kv_str(e->attributes, e->n_attributes, lifted[i]);
            if ((rc = append_text(doc, lifted[i] + 10, z(v), &c->tmp)) != OWL_OK)
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
        (rc = append_text(doc, "trace_state", z(l->trace_state), &c->tmp)) ||
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

/* A copy of doc in the arena (empty when doc is). */
static int doc_copy(ctx *c, const bson_t *doc, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    if (bson_empty(doc))
        return OWL_OK;
    void *p = owl_arena_copy(&c->d->arena, bson_get_data(doc), doc->len);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, doc->len};
    return OWL_OK;
}

/* The {resource, scope} document every span of the current scope shares (one arena copy). */
static int shared_of(ctx *c)
{
    bson_t doc = BSON_INITIALIZER;
    int rc = OWL_OK;
    if (!bson_empty(&c->res) && !bson_append_document(&doc, "resource", -1, &c->res))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_empty(&c->scope) &&
        !bson_append_document(&doc, "scope", -1, &c->scope))
        rc = OWL_ENOMEM;
    c->shared = (owl_bytes){NULL, 0};
    if (rc == OWL_OK)
        rc = doc_copy(c, &doc, &c->shared);
    bson_destroy(&doc);
    return rc;
}

/* ---- the attrs document written directly ----
 *
 * A span whose attributes are all scalars read from the wire and that has no events and no
 * links (nearly every span) gets its attrs document written here byte by byte, as libbson
 * would write it: libbson's appends cost 400-500 instructions each, a sixth of a protobuf
 * span's decode. Layout (bsonspec.org): a document is an int32 length (itself and the
 * terminating 0 included), its elements, 0; an element a type byte, the key and a 0, the
 * value: 0x02 string (int32 length with its 0, the bytes, 0), 0x08 bool (1 byte), 0x12 int64
 * and 0x01 double (8 bytes little-endian), 0x0A null (nothing), 0x03 document. Tests
 * compare the bytes with the libbson path's (otlp_traces/fast_path_reads_the_common_records
 * and the others through both_paths). */

/* The span's counts at the end of its attrs document, each when not 0, in this order. */
static const char *const span_count_names[4] = {"flags", "dropped_attributes_count",
                                                "dropped_events_count", "dropped_links_count"};

static void span_counts(const rec *r, uint32_t out[4])
{
    out[0] = r->flags, out[1] = r->dropped_attrs, out[2] = r->dropped_events;
    out[3] = r->dropped_links;
}

/* Room for an element of at most n bytes at the end of b: where to write it, then ended by
 * bw_put; NULL when out of memory. One reserve an element, not one a part of it. */
static uint8_t *bw_room(owl_buf *b, size_t n)
{
    return owl_buf_reserve(b, n) == OWL_OK ? (uint8_t *)b->data + b->len : NULL;
}

/* Ends what was written in bw_room's room at o (the buffer's NUL after it, as owl_buf keeps). */
static void bw_put(owl_buf *b, uint8_t *o)
{
    *o = 0;
    b->len = (size_t)(o - (uint8_t *)b->data);
}

/* An element's type and key at o; where its value goes. */
static uint8_t *bw_key(uint8_t *o, uint8_t type, const char *key, size_t klen)
{
    o[0] = type;
    memcpy(o + 1, key, klen);
    o[klen + 1] = 0;
    return o + klen + 2;
}

static int bw_str(owl_buf *b, const char *key, size_t klen, const char *v, size_t n)
{
    uint8_t *o = bw_room(b, klen + n + 7);
    if (!o)
        return OWL_ENOMEM;
    o = bw_key(o, 0x02, key, klen);
    owl_put32le(o, (uint32_t)n + 1);
    memcpy(o + 4, v, n);
    o[4 + n] = 0;
    bw_put(b, o + 5 + n);
    return OWL_OK;
}

/* An element whose value is the first size bytes of v little-endian: 8 (int64, double), 4
 * (a document's length, filled in by bw_end), 1 (bool), 0 (null). */
static int bw_fixed(owl_buf *b, uint8_t type, const char *key, size_t klen, uint64_t v,
                    size_t size)
{
    uint8_t *o = bw_room(b, klen + 10);
    if (!o)
        return OWL_ENOMEM;
    o = bw_key(o, type, key, klen);
    owl_put64le(o, v); /* all eight fit the room; those past size are not counted */
    bw_put(b, o + size);
    return OWL_OK;
}

/* Ends the document whose length field is at b->data + at. */
static int bw_end(owl_buf *b, size_t at)
{
    uint8_t *o = bw_room(b, 1);
    if (!o || b->len + 1 - at > INT32_MAX)
        return OWL_ENOMEM;
    *o = 0;
    bw_put(b, o + 1);
    owl_put32le(b->data + at, (uint32_t)(b->len - at));
    return OWL_OK;
}

/* s as BSON text, as owl_otlp_utf8n gives it (*n its length; NULL when out of memory):
 * itself when c's texts are known valid. */
static const char *bw_text(ctx *c, owl_bytes s, size_t *n, owl_buf *tmp)
{
    if (c->valid) {
        *n = s.n;
        return s.p;
    }
    return owl_otlp_utf8n(s.p, s.n, n, tmp);
}

/* attrs_of's document for r written directly when it can be (r as the head comment of this
 * section says): OWL_OK with *out set, or DECLINE (libbson's path then) or OWL_ENOMEM. */
#define BW_DECLINE 1
static int attrs_direct(ctx *c, const rec *r, owl_bytes *out)
{
    static const uint8_t zero4[4] = {0};
    if (r->nevents || r->nlinks)
        return BW_DECLINE;
    for (size_t i = 0; i < r->nattrs; i++)
        if (r->attrs[i].kv)
            return BW_DECLINE;
    uint32_t counts[4];
    span_counts(r, counts);
    *out = (owl_bytes){NULL, 0};
    if (!r->nattrs && !r->trace_state.n && !(counts[0] | counts[1] | counts[2] | counts[3]))
        return OWL_OK; /* empty, as doc_copy leaves it */
    owl_buf *b = &c->bw;
    owl_buf_reset(b);
    if (owl_buf_append(b, zero4, 4) != OWL_OK)
        return OWL_ENOMEM;
    if (r->nattrs) {
        size_t sub = b->len + 12; /* past the type and "attributes" */
        if (bw_fixed(b, 0x03, "attributes", 10, 0, 4) != OWL_OK)
            return OWL_ENOMEM;
        for (size_t i = 0; i < r->nattrs; i++) {
            const attr *a = &r->attrs[i];
            size_t kl, n;
            const char *k = bw_text(c, a->key, &kl, &c->tmp), *v;
            if (!k)
                return OWL_ENOMEM;
            int rc;
            uint64_t x;
            switch (a->vcase) {
            case V(STRING_VALUE):
                v = bw_text(c, a->str, &n, &c->tmp2);
                rc = v ? bw_str(b, k, kl, v, n) : OWL_ENOMEM;
                break;
            case V(BOOL_VALUE):
                rc = bw_fixed(b, 0x08, k, kl, a->num != 0, 1);
                break;
            case V(INT_VALUE):
                rc = bw_fixed(b, 0x12, k, kl, (uint64_t)a->num, 8);
                break;
            case V(DOUBLE_VALUE):
                memcpy(&x, &a->dbl, 8);
                rc = bw_fixed(b, 0x01, k, kl, x, 8);
                break;
            default: /* no value, or an empty one */
                rc = bw_fixed(b, 0x0A, k, kl, 0, 0);
                break;
            }
            if (rc != OWL_OK)
                return OWL_ENOMEM;
        }
        if (bw_end(b, sub) != OWL_OK)
            return OWL_ENOMEM;
    }
    if (r->trace_state.n) {
        size_t n;
        const char *v = bw_text(c, r->trace_state, &n, &c->tmp);
        if (!v || bw_str(b, "trace_state", 11, v, n) != OWL_OK)
            return OWL_ENOMEM;
    }
    for (int i = 0; i < 4; i++)
        if (counts[i] && bw_fixed(b, 0x12, span_count_names[i], strlen(span_count_names[i]),
                                  counts[i], 8) != OWL_OK)
            return OWL_ENOMEM;
    if (bw_end(b, 0) != OWL_OK)
        return OWL_ENOMEM;
    void *p = owl_arena_copy(&c->d->arena, b->data, b->len);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, b->len};
    return OWL_OK;
}

/* attrs: {attributes, events, links, trace_state, flags, dropped_*} */
static int attrs_of(ctx *c, const rec *r, owl_bytes *out)
{
    int rd = attrs_direct(c, r, out);
    if (rd != BW_DECLINE)
        return rd;
    bson_t *doc = &c->doc, sub;
    int rc = OWL_OK;
    bson_reinit(doc);
    if (r->nattrs) {
        if (!bson_append_document_begin(doc, "attributes", -1, &sub))
            return OWL_ENOMEM;
        for (size_t i = 0; rc == OWL_OK && i < r->nattrs; i++)
            rc = append_attr(c, &sub, &r->attrs[i]);
        if (!bson_append_document_end(doc, &sub) && rc == OWL_OK)
            rc = OWL_ENOMEM;
    }
    if (rc == OWL_OK)
        rc = append_list(c, doc, "events", (void *const *)r->events, r->nevents, event_fn);
    if (rc == OWL_OK)
        rc = append_list(c, doc, "links", (void *const *)r->links, r->nlinks, link_fn);
    if (rc == OWL_OK)
        rc = append_text(doc, "trace_state", r->trace_state, &c->tmp);
    uint32_t counts[4];
    span_counts(r, counts);
    for (int i = 0; rc == OWL_OK && i < 4; i++)
        rc = append_count(doc, span_count_names[i], counts[i]);
    return rc == OWL_OK ? doc_copy(c, doc, out) : rc;
}

/* ---- one span ---- */

/* Why s cannot be a record, or NULL when it can (why[] holds the text). */
static const char *refusal(const rec *s, char *why, size_t n)
{
    if (s->trace_id.n != 16)
        snprintf(why, n, "trace_id of %zu bytes (16 expected)", s->trace_id.n);
    else if (owl_traceid_is_zero(s->trace_id.p, 16))
        snprintf(why, n, "trace_id is all zero");
    else if (s->span_id.n != 8)
        snprintf(why, n, "span_id of %zu bytes (8 expected)", s->span_id.n);
    else if (owl_traceid_is_zero(s->span_id.p, 8))
        snprintf(why, n, "span_id is all zero");
    else if (s->parent_id.n != 0 && s->parent_id.n != 8)
        snprintf(why, n, "parent_span_id of %zu bytes (8 or none expected)", s->parent_id.n);
    else if (!s->name.n)
        snprintf(why, n, "no name");
    else if ((uint32_t)s->kind > OWL_SPAN_CONSUMER)
        snprintf(why, n, "kind %d is not a SpanKind", (int)s->kind);
    else if ((uint32_t)s->status_code > STATUS_ERROR)
        snprintf(why, n, "status code %d is not a StatusCode", (int)s->status_code);
    else if (!s->start_ns)
        snprintf(why, n, "no start_time_unix_nano");
    else if (!s->end_ns)
        snprintf(why, n, "no end_time_unix_nano");
    else if (s->start_ns > INT64_MAX || s->end_ns > INT64_MAX)
        snprintf(why, n, "a time past 2262");
    else if (s->end_ns < s->start_ns)
        snprintf(why, n, "ends %llu ns before it starts",
                 (unsigned long long)(s->start_ns - s->end_ns));
    else {
        for (size_t i = 0; i < s->nlinks; i++)
            if (s->links[i]->trace_id.len != 16 || s->links[i]->span_id.len != 8) {
                snprintf(why, n, "link %zu: ids of %zu and %zu bytes (16 and 8 expected)", i,
                         s->links[i]->trace_id.len, s->links[i]->span_id.len);
                return why;
            }
        for (size_t i = 0; i < s->nevents; i++)
            if (s->events[i]->time_unix_nano > INT64_MAX) {
                snprintf(why, n, "event %zu: a time past 2262", i);
                return why;
            }
        return NULL;
    }
    return why;
}

/* r refused (counted in c->d) or made the next record of c->d. */
static int record(ctx *c, const rec *r)
{
    char why[160];
    slots slot;
    if (refusal(r, why, sizeof why)) {
        reject(c, "%s", why);
        return OWL_OK;
    }
    owl_span *o = &c->d->spans[c->d->n];
    int rc;
    memset(o, 0, sizeof *o);
    memcpy(o->trace_id, r->trace_id.p, 16);
    memcpy(o->span_id, r->span_id.p, 8);
    if (r->parent_id.n)
        memcpy(o->parent_id, r->parent_id.p, 8);
    o->kind = (enum owl_span_kind)r->kind;
    o->start_ns = (int64_t)r->start_ns;
    o->duration_ns = (int64_t)(r->end_ns - r->start_ns);
    o->status_code = r->status_code;
    o->service = c->service;
    index_attrs(r->attrs, r->nattrs, &slot);
    if ((rc = text_v(c, r->name, &o->name)) ||
        (rc = text_v(c, r->status_message, &o->status_message)))
        return rc;
    /* without any of the names, every field read from them stays empty */
    if (slot.seen && ((rc = http_fields(c, &slot, o)) ||
                      (rc = peer_of(c, &slot, o->kind, &o->peer_service))))
        return rc;
    if ((rc = attrs_of(c, r, &o->attrs)))
        return rc;
    o->status = owl_span_status_of(o->status_code == STATUS_ERROR, o->http_status);
    o->resource = c->shared;
    c->d->n++;
    return OWL_OK;
}

/* The resource's part, shared by its spans: the service name (one arena copy) and the
 * attributes document. r may be NULL. */
static int resource_begin(ctx *c, const resource_t *r)
{
    const char *svc = r ? kv_str(r->attributes, r->n_attributes, "service.name") : NULL;
    int rc = text_v(c, z(svc ? svc : DEFAULT_SERVICE), &c->service);
    bson_reinit(&c->res);
    if (rc == OWL_OK && r)
        rc = owl_otlp_bson_kvs(&c->res, r->attributes, r->n_attributes);
    return rc;
}

/* The scope's part: its document, then the {resource, scope} one its spans share. s may be
 * NULL. */
static int scope_begin(ctx *c, const scope_t *s)
{
    int rc = OWL_OK;
    bson_reinit(&c->scope);
    if (s && ((rc = append_text(&c->scope, "name", z(s->name), &c->tmp)) ||
              (rc = append_text(&c->scope, "version", z(s->version), &c->tmp)) ||
              (rc = append_kvs(&c->scope, "attributes", s->attributes, s->n_attributes))))
        return rc;
    return shared_of(c);
}

/* Arrays of spans of requests decoded, kept for the next ones (util.h, owl_spares). */
#define SPANS_KEEP 16384 /* arrays for more spans are not kept */
static owl_spares spans_spares = OWL_SPARES_INIT(SPANS_KEEP * sizeof(owl_span));

/* Gives d's spans back to spans_spares when they came from there; d then has none. */
static void spans_release(owl_span_decoded *d)
{
    if (d->spans_cap)
        owl_spares_give(&spans_spares, d->spans, d->spans_cap);
    d->spans = NULL;
    d->spans_cap = 0;
}

/* Room for n records. */
static int spans_alloc(ctx *c, size_t n)
{
    c->d->spans = NULL;
    if (n && !(c->d->spans = owl_spares_take(&spans_spares, n * sizeof *c->d->spans,
                                             &c->d->spans_cap)))
        return OWL_ENOMEM;
    return OWL_OK;
}

/* ---- the general path: protobuf-c's unpack of the whole request ---- */

static attr attr_of_kv(kv_t *kv)
{
    attr a = {.key = z(kv->key), .kv = kv, .vcase = NO_VALUE};
    const any_t *v = kv->value;
    if (!v)
        return a;
    a.vcase = (int)v->value_case;
    if (v->value_case == V(STRING_VALUE))
        a.str = z(v->string_value);
    else if (v->value_case == V(INT_VALUE))
        a.num = v->int_value;
    else if (v->value_case == V(BOOL_VALUE))
        a.num = v->bool_value != 0;
    else if (v->value_case == V(DOUBLE_VALUE))
        a.dbl = v->double_value;
    return a;
}

static int span(ctx *c, const span_t *s)
{
    const Opentelemetry__Proto__Trace__V1__Status *st = s->status;
    rec r = {.trace_id = {s->trace_id.data, s->trace_id.len},
             .span_id = {s->span_id.data, s->span_id.len},
             .parent_id = {s->parent_span_id.data, s->parent_span_id.len},
             .name = z(s->name),
             .trace_state = z(s->trace_state),
             .kind = (int32_t)s->kind,
             .start_ns = s->start_time_unix_nano,
             .end_ns = s->end_time_unix_nano,
             .status_code = st ? (int32_t)st->code : 0,
             .status_message = z(st ? st->message : NULL),
             .flags = s->flags,
             .dropped_attrs = s->dropped_attributes_count,
             .dropped_events = s->dropped_events_count,
             .dropped_links = s->dropped_links_count,
             .nattrs = s->n_attributes,
             .events = s->events,
             .nevents = s->n_events,
             .links = s->links,
             .nlinks = s->n_links};
    owl_buf_reset(&c->attrs);
    for (size_t i = 0; i < s->n_attributes; i++) {
        attr a = attr_of_kv(s->attributes[i]);
        if (owl_buf_append(&c->attrs, &a, sizeof a) != OWL_OK)
            return OWL_ENOMEM;
    }
    r.attrs = (const attr *)c->attrs.data;
    return record(c, &r);
}

static int resource(ctx *c, const res_spans *rs)
{
    int rc = resource_begin(c, rs->resource);
    for (c->si = 0; rc == OWL_OK && c->si < rs->n_scope_spans; c->si++) {
        const scope_spans *ss = rs->scope_spans[c->si];
        rc = scope_begin(c, ss->scope);
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

/* The request's wire bytes p[0..n) unpacked into mem, then each span. */
static int general(ctx *c, const uint8_t *p, size_t n, size_t max_spans, owl_arena *mem,
                   owl_error *err)
{
    export_req *req = NULL;
    int rc = owl_otlp_unpack(&REQ_DESC, OWL_OTLP_PROTOBUF, p, n, mem, (ProtobufCMessage **)&req,
                             err);
    if (rc != OWL_OK)
        return rc;
    size_t total = count_spans(req);
    if (total > max_spans)
        return owl_error_set(err, OWL_ETOOBIG, "%zu spans in one request (at most %zu)", total,
                             max_spans);
    rc = spans_alloc(c, total);
    for (c->ri = 0; rc == OWL_OK && c->ri < req->n_resource_spans; c->ri++)
        rc = resource(c, req->resource_spans[c->ri]);
    return rc;
}

/* ---- the protobuf fast path ----
 * Requests are read from the wire straight into records: the request, ResourceSpans,
 * ScopeSpans, Span, its Status and the common attributes (a KeyValue whose value is a
 * string, bool, int, double or nothing) are walked here; a resource, a scope, each event
 * and link, and any other attribute are small or rare and unpacked by protobuf-c
 * (owl_otlp_unpack_at) at their depth. It declines (OWL_EUNSUPPORTED) whatever it is not sure
 * to read as protobuf-c would (a message field given twice, which protobuf-c merges; a NUL in
 * a span's text; a known field of another wire type; more spans than allowed; anything
 * malformed), and the general path then answers. */

#define RS_DESC opentelemetry__proto__trace__v1__resource_spans__descriptor
#define SS_DESC opentelemetry__proto__trace__v1__scope_spans__descriptor
#define SPAN_DESC opentelemetry__proto__trace__v1__span__descriptor
#define EVENT_DESC opentelemetry__proto__trace__v1__span__event__descriptor
#define LINK_DESC opentelemetry__proto__trace__v1__span__link__descriptor
#define STATUS_DESC opentelemetry__proto__trace__v1__status__descriptor

/* How deep each message sits in a request (owl_otlp_unpack_at's depth). */
enum { RES_DEPTH = 2, SCOPE_DEPTH = 3, SPAN_PART_DEPTH = 4 /* KeyValue, Event, Link */ };

/* An AnyValue b into a: a string, bool, int, double or nothing (the last one given wins, as
 * in protobuf-c's oneof); -1 for any other (an array, a list, bytes) or a malformed one. */
static int wire_any(owl_bytes b, attr *a)
{
    owl_wire w = owl_wire_of(b);
    uint64_t key, v = 0;
    a->vcase = V(_NOT_SET);
    while (w.p < w.end) {
        if (owl_wire_key(&w, &key) != 0)
            return -1;
        int bad;
        switch (key) {
        case OWL_WIRE_FW(1, OWL_WT_LEN):
            bad = owl_wire_text(&w, &a->str);
            a->vcase = V(STRING_VALUE);
            break;
        case OWL_WIRE_FW(2, OWL_WT_VARINT):
            bad = owl_wire_bool(&w, &a->num);
            a->vcase = V(BOOL_VALUE);
            break;
        case OWL_WIRE_FW(3, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            a->num = (int64_t)v;
            a->vcase = V(INT_VALUE);
            break;
        case OWL_WIRE_FW(4, OWL_WT_I64):
            bad = owl_wire_fixed64(&w, &v);
            memcpy(&a->dbl, &v, sizeof a->dbl);
            a->vcase = V(DOUBLE_VALUE);
            break;
        default:
            bad = owl_wire_skip(&w, &ANY_DESC, (uint32_t)(key >> 3), (int)(key & 7));
        }
        if (bad)
            return -1;
    }
    return 0;
}

/* A KeyValue b into a when wire_any reads its value and its key holds no NUL; -1 otherwise
 * (a value given twice, which protobuf-c merges, included). */
static int wire_kv(owl_bytes b, attr *a)
{
    owl_wire w = owl_wire_of(b);
    uint32_t f;
    int wt, seen = 0;
    owl_bytes v;
    *a = (attr){.key = {"", 0}, .vcase = NO_VALUE};
    while (w.p < w.end) {
        if (owl_wire_tag(&w, &f, &wt) != 0)
            return -1;
        int bad;
        if (f == 1 && wt == OWL_WT_LEN)
            bad = owl_wire_text(&w, &a->key);
        else if (f == 2 && wt == OWL_WT_LEN)
            bad = seen++ || owl_wire_bytes(&w, &v) || wire_any(v, a);
        else
            bad = owl_wire_skip(&w, &KV_DESC, f, wt);
        if (bad)
            return -1;
    }
    return 0;
}

/* A Status b into r; -1 when malformed or holding what the fast path does not read. */
static int wire_status(owl_bytes b, rec *r)
{
    owl_wire w = owl_wire_of(b);
    uint32_t f;
    int wt;
    uint64_t v = 0;
    while (w.p < w.end) {
        if (owl_wire_tag(&w, &f, &wt) != 0)
            return -1;
        int bad;
        if (f == 2 && wt == OWL_WT_LEN)
            bad = owl_wire_text(&w, &r->status_message);
        else if (f == 3 && wt == OWL_WT_VARINT) {
            bad = owl_wire_varint(&w, 10, &v);
            r->status_code = (int32_t)(uint32_t)v; /* protobuf-c keeps an enum's low 32 bits */
        } else {
            bad = owl_wire_skip(&w, &STATUS_DESC, f, wt);
        }
        if (bad)
            return -1;
    }
    return 0;
}

typedef struct fast {
    ctx *c;
    owl_arena *mem;
    size_t spans, max_spans; /* counted so far by the first pass; the most allowed */
} fast;

/* The span's attribute b, as wire_kv reads it or else unpacked by protobuf-c, appended to
 * c->attrs. OWL_EUNSUPPORTED when protobuf-c refuses it; OWL_ENOMEM. */
static int fast_attr(fast *x, owl_bytes b)
{
    attr a;
    if (wire_kv(b, &a) != 0) {
        kv_t *kv = (kv_t *)owl_otlp_unpack_at(&KV_DESC, b.p, b.n, SPAN_PART_DEPTH, x->mem);
        if (!kv)
            return OWL_EUNSUPPORTED;
        a = attr_of_kv(kv);
    }
    return owl_buf_append(&x->c->attrs, &a, sizeof a) == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

/* The message b of type desc (an event, a link) unpacked by protobuf-c, its pointer appended
 * to list. OWL_EUNSUPPORTED when protobuf-c refuses it; OWL_ENOMEM. */
static int fast_unpacked(fast *x, const ProtobufCMessageDescriptor *desc, owl_bytes b,
                         owl_buf *list)
{
    ProtobufCMessage *m = owl_otlp_unpack_at(desc, b.p, b.n, SPAN_PART_DEPTH, x->mem);
    if (!m)
        return OWL_EUNSUPPORTED;
    return owl_buf_append(list, &m, sizeof m) == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

static int fast_span(void *ud, owl_bytes b)
{
    fast *x = ud;
    ctx *c = x->c;
    owl_wire w = owl_wire_of(b);
    rec r = {.name = {"", 0}};
    int rc = OWL_OK, seen_status = 0;
    uint64_t key, v = 0;
    owl_bytes m;
    owl_buf_reset(&c->attrs);
    owl_buf_reset(&c->events);
    owl_buf_reset(&c->links);
    while (rc == OWL_OK && w.p < w.end) {
        if (owl_wire_key(&w, &key) != 0)
            return OWL_EUNSUPPORTED;
        int bad;
        switch (key) {
        case OWL_WIRE_FW(1, OWL_WT_LEN):
            bad = owl_wire_bytes(&w, &r.trace_id);
            break;
        case OWL_WIRE_FW(2, OWL_WT_LEN):
            bad = owl_wire_bytes(&w, &r.span_id);
            break;
        case OWL_WIRE_FW(3, OWL_WT_LEN):
            bad = owl_wire_text(&w, &r.trace_state);
            break;
        case OWL_WIRE_FW(4, OWL_WT_LEN):
            bad = owl_wire_bytes(&w, &r.parent_id);
            break;
        case OWL_WIRE_FW(5, OWL_WT_LEN):
            bad = owl_wire_text(&w, &r.name);
            break;
        case OWL_WIRE_FW(6, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            r.kind = (int32_t)(uint32_t)v; /* protobuf-c keeps an enum's low 32 bits */
            break;
        case OWL_WIRE_FW(7, OWL_WT_I64):
            bad = owl_wire_fixed64(&w, &r.start_ns);
            break;
        case OWL_WIRE_FW(8, OWL_WT_I64):
            bad = owl_wire_fixed64(&w, &r.end_ns);
            break;
        case OWL_WIRE_FW(9, OWL_WT_LEN):
            if (!(bad = owl_wire_bytes(&w, &m)))
                rc = fast_attr(x, m);
            break;
        case OWL_WIRE_FW(10, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            r.dropped_attrs = (uint32_t)v;
            break;
        case OWL_WIRE_FW(11, OWL_WT_LEN):
            if (!(bad = owl_wire_bytes(&w, &m)))
                rc = fast_unpacked(x, &EVENT_DESC, m, &c->events);
            break;
        case OWL_WIRE_FW(12, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            r.dropped_events = (uint32_t)v;
            break;
        case OWL_WIRE_FW(13, OWL_WT_LEN):
            if (!(bad = owl_wire_bytes(&w, &m)))
                rc = fast_unpacked(x, &LINK_DESC, m, &c->links);
            break;
        case OWL_WIRE_FW(14, OWL_WT_VARINT):
            bad = owl_wire_varint(&w, 10, &v);
            r.dropped_links = (uint32_t)v;
            break;
        case OWL_WIRE_FW(15, OWL_WT_LEN):
            bad = seen_status++ || owl_wire_bytes(&w, &m) || wire_status(m, &r);
            break;
        case OWL_WIRE_FW(16, OWL_WT_I32):
            bad = owl_wire_fixed32(&w, &r.flags);
            break;
        default:
            bad = owl_wire_skip(&w, &SPAN_DESC, (uint32_t)(key >> 3), (int)(key & 7));
        }
        if (bad)
            return OWL_EUNSUPPORTED;
    }
    if (rc != OWL_OK)
        return rc;
    r.attrs = (const attr *)c->attrs.data;
    r.nattrs = c->attrs.len / sizeof(attr);
    r.events = (event_t *const *)c->events.data;
    r.nevents = c->events.len / sizeof(event_t *);
    r.links = (link_t *const *)c->links.data;
    r.nlinks = c->links.len / sizeof(link_t *);
    return record(c, &r);
}

/* The first pass: the spans counted (declined past max_spans), outer messages checked. */
static int count_span(void *ud, owl_bytes b)
{
    fast *x = ud;
    (void)b;
    return ++x->spans > x->max_spans ? OWL_EUNSUPPORTED : OWL_OK;
}

static int count_scope(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_bytes one;
    int seen;
    size_t i;
    if (owl_wire_outer_scan(b, &SS_DESC, &one, &seen) != 0)
        return OWL_EUNSUPPORTED;
    return owl_wire_each(x, b, count_span, &i);
}

static int count_resource(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_bytes one;
    int seen;
    size_t i;
    if (owl_wire_outer_scan(b, &RS_DESC, &one, &seen) != 0)
        return OWL_EUNSUPPORTED;
    return owl_wire_each(x, b, count_scope, &i);
}

/* A ScopeSpans: its scope first (it may come after the spans on the wire), then its spans
 * in order. */
static int fast_scope_spans(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_bytes one;
    int seen;
    const scope_t *sc = NULL;
    if (owl_wire_outer_scan(b, &SS_DESC, &one, &seen) != 0 ||
        (seen && !(sc = (const scope_t *)owl_otlp_unpack_at(&SCOPE_DESC, one.p, one.n,
                                                            SCOPE_DEPTH, x->mem))))
        return OWL_EUNSUPPORTED;
    int rc = scope_begin(x->c, sc);
    return rc == OWL_OK ? owl_wire_each(x, b, fast_span, &x->c->pi) : rc;
}

/* A ResourceSpans: its resource first, then its ScopeSpans in order. */
static int fast_resource_spans(void *ud, owl_bytes b)
{
    fast *x = ud;
    owl_bytes one;
    int seen;
    const resource_t *r = NULL;
    if (owl_wire_outer_scan(b, &RS_DESC, &one, &seen) != 0 ||
        (seen && !(r = (const resource_t *)owl_otlp_unpack_at(&RES_DESC, one.p, one.n,
                                                              RES_DEPTH, x->mem))))
        return OWL_EUNSUPPORTED;
    int rc = resource_begin(x->c, r);
    return rc == OWL_OK ? owl_wire_each(x, b, fast_scope_spans, &x->c->si) : rc;
}

/* The request p[0..n): OWL_OK with every span decoded into c, OWL_EUNSUPPORTED (the caller
 * starts again with the general path), OWL_ENOMEM. */
static int fast_request(ctx *c, const uint8_t *p, size_t n, size_t max_spans, owl_arena *mem)
{
    fast x = {.c = c, .mem = mem, .max_spans = max_spans};
    owl_bytes req = {p, n};
    int rc = owl_wire_list(&x, req, &REQ_DESC, 1, count_resource, &c->ri);
    if (rc == OWL_OK)
        rc = spans_alloc(c, x.spans);
    return rc == OWL_OK ? owl_wire_list(&x, req, &REQ_DESC, 1, fast_resource_spans, &c->ri) : rc;
}

/* ---- the JSON direct path ----
 * A JSON body read once, straight into records, without its transcoding to wire bytes and the
 * walk of those: the request, each ResourceSpans, ScopeSpans, Span, its Status and each
 * attribute whose value is a string, bool, int, double or nothing, every value read by the
 * transcoder's own readers (otlp_jtext.h), so it is what the transcoder would have written
 * and the protobuf fast path read back. Strings without escapes are views into the body;
 * ids are decoded from hex into the span's bytes. A resource, a scope, each event and link
 * are transcoded (owl_otlp_json_fast_at) and unpacked at their depth, as the protobuf fast
 * path unpacks them. Anything else declines (OWL_EUNSUPPORTED) the whole
 * request, and the caller starts again on the wire: a name it does not read (unknown, or a
 * proto name such as "trace_id"), a name given twice, an escape in a name, a value of another
 * kind (an array, a key-value list or bytes in an AnyValue, an AnyValue with two values, an
 * enum by name), an id that is not 32, 16 or no hex digits, a resource after its scopes or a
 * scope after its spans, a span the record refuses, more spans than allowed, anything
 * malformed. So every message and odd case still comes from the wire path's code. */

/* How many containers deep a resource, a scope and a span's event or link sit in a body (the
 * request's object is 1): owl_otlp_json_fast_at's limits then count as in the transcoding of
 * the whole body. */
enum { RES_JDEPTH = 4, SCOPE_JDEPTH = 6, PART_JDEPTH = 9 };

/* The names the direct path reads, in any object: lowerCamelCase, as SDKs send them. */
enum {
    N_NONE = -1,
    N_RESOURCE_SPANS, N_RESOURCE, N_SCOPE_SPANS, N_SCHEMA_URL, N_SCOPE, N_SPANS,
    N_TRACE_ID, N_SPAN_ID, N_TRACE_STATE, N_PARENT_SPAN_ID, N_FLAGS, N_NAME, N_KIND,
    N_START, N_END, N_ATTRIBUTES, N_DROPPED_ATTRIBUTES, N_EVENTS, N_DROPPED_EVENTS, N_LINKS,
    N_DROPPED_LINKS, N_STATUS, N_CODE, N_MESSAGE, N_KEY, N_VALUE, N_STRING_VALUE,
    N_BOOL_VALUE, N_INT_VALUE, N_DOUBLE_VALUE
};

#define N_COUNT (N_DOUBLE_VALUE + 1)

/* Each name as a member starts in the text, '"' before it and '":' after, zero-padded to 32
 * bytes: what jd_member compares with the text when it guesses the next name. */
static const struct {
    char text[32];
    unsigned len;  /* the name's with its quotes and colon */
    uint32_t mask; /* the first len bits: those of the compare that count */
} jquoted[N_COUNT] = {
#define Q(id, lit) [id] = {"\"" lit "\":", sizeof lit + 2, (1u << (sizeof lit + 2)) - 1}
    Q(N_RESOURCE_SPANS, "resourceSpans"), Q(N_RESOURCE, "resource"),
    Q(N_SCOPE_SPANS, "scopeSpans"), Q(N_SCHEMA_URL, "schemaUrl"), Q(N_SCOPE, "scope"),
    Q(N_SPANS, "spans"), Q(N_TRACE_ID, "traceId"), Q(N_SPAN_ID, "spanId"),
    Q(N_TRACE_STATE, "traceState"), Q(N_PARENT_SPAN_ID, "parentSpanId"), Q(N_FLAGS, "flags"),
    Q(N_NAME, "name"), Q(N_KIND, "kind"), Q(N_START, "startTimeUnixNano"),
    Q(N_END, "endTimeUnixNano"), Q(N_ATTRIBUTES, "attributes"),
    Q(N_DROPPED_ATTRIBUTES, "droppedAttributesCount"), Q(N_EVENTS, "events"),
    Q(N_DROPPED_EVENTS, "droppedEventsCount"), Q(N_LINKS, "links"),
    Q(N_DROPPED_LINKS, "droppedLinksCount"), Q(N_STATUS, "status"), Q(N_CODE, "code"),
    Q(N_MESSAGE, "message"), Q(N_KEY, "key"), Q(N_VALUE, "value"),
    Q(N_STRING_VALUE, "stringValue"), Q(N_BOOL_VALUE, "boolValue"),
    Q(N_INT_VALUE, "intValue"), Q(N_DOUBLE_VALUE, "doubleValue"),
#undef Q
};

/* 1 when the text at k (32 bytes readable) starts with name e quoted and its colon. */
static inline int jquoted_at(const char *k, int e)
{
#ifdef __SSE2__
    const char *t = jquoted[e].text;
    uint32_t eq = (unsigned)_mm_movemask_epi8(
                      _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                                     _mm_loadu_si128((const __m128i *)(const void *)t))) |
                  (unsigned)_mm_movemask_epi8(
                      _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(k + 16)),
                                     _mm_loadu_si128((const __m128i *)(const void *)(t + 16))))
                      << 16;
    return (~eq & jquoted[e].mask) == 0;
#else
    return memcmp(k, jquoted[e].text, jquoted[e].len) == 0;
#endif
}

/* The name k[0..kl), or N_NONE: by length, then compared whole (a memcmp of a constant size,
 * which the compiler writes as a few loads). */
static int jname(const char *k, size_t kl)
{
#define IS(lit, id)                                                                            \
    if (memcmp(k, lit, sizeof lit - 1) == 0)                                                   \
        return id;
    switch (kl) {
    case 3: IS("key", N_KEY) break;
    case 4: IS("name", N_NAME) IS("kind", N_KIND) IS("code", N_CODE) break;
    case 5: IS("value", N_VALUE) IS("spans", N_SPANS) IS("scope", N_SCOPE) IS("flags", N_FLAGS)
            IS("links", N_LINKS) break;
    case 6: IS("spanId", N_SPAN_ID) IS("status", N_STATUS) IS("events", N_EVENTS) break;
    case 7: IS("traceId", N_TRACE_ID) IS("message", N_MESSAGE) break;
    case 8: IS("intValue", N_INT_VALUE) IS("resource", N_RESOURCE) break;
    case 9: IS("boolValue", N_BOOL_VALUE) IS("schemaUrl", N_SCHEMA_URL) break;
    case 10: IS("attributes", N_ATTRIBUTES) IS("scopeSpans", N_SCOPE_SPANS)
             IS("traceState", N_TRACE_STATE) break;
    case 11: IS("stringValue", N_STRING_VALUE) IS("doubleValue", N_DOUBLE_VALUE) break;
    case 12: IS("parentSpanId", N_PARENT_SPAN_ID) break;
    case 13: IS("resourceSpans", N_RESOURCE_SPANS) break;
    case 15: IS("endTimeUnixNano", N_END) break;
    case 17: IS("startTimeUnixNano", N_START) IS("droppedLinksCount", N_DROPPED_LINKS) break;
    case 18: IS("droppedEventsCount", N_DROPPED_EVENTS) break;
    case 22: IS("droppedAttributesCount", N_DROPPED_ATTRIBUTES) break;
    default: break;
    }
    return N_NONE;
#undef IS
}

#define JNAME_MAX 23 /* longer than any name jname knows */

/* The kinds of object, as jd_member's previous name at an object's start (each its own
 * guess of the first name). */
enum { O_REQUEST = N_COUNT, O_RESOURCE_SPANS, O_SCOPE_SPANS, O_SPAN, O_KV, O_ANY, O_STATUS,
       O_END };

typedef struct jd {
    ctx *c;
    owl_arena *mem;
    const char *body, *p, *end;
    owl_buf tmp;  /* a string with escapes, decoded (then copied into mem) */
    owl_buf wire; /* a resource's or scope's transcoding */
    size_t max_spans, hint; /* the most spans allowed; room made for the first records */
    int8_t after[O_END]; /* [n]: the name found last after name n, or first in an object
                            of kind n (O_...); N_NONE: none yet */
} jd;

/* Into the object at x->p: *more 1 when a member follows, 0 past an empty one. */
static inline int jd_open(jd *x, int *more)
{
    if (*x->p != '{')
        return OWL_EUNSUPPORTED;
    x->p++;
    if (owl_jt_next(&x->p, x->end) != OWL_OK)
        return OWL_EUNSUPPORTED;
    *more = *x->p != '}';
    x->p += !*more;
    return OWL_OK;
}

/* jd_member's name when it is not the one guessed: scanned a byte at a time to the first
 * quote (names are short) and looked up; a name holding an escape, a control byte or a byte
 * past ASCII is then none of jname's, and declines. Not inlined: most names are guessed. */
__attribute__((noinline)) static int jd_member_scan(jd *x, uint32_t *seen, int *name)
{
    int prev = *name;
    const char *k = x->p + 1, *q = k, *stop = x->end - k > JNAME_MAX ? k + JNAME_MAX : x->end;
    while (q < stop && *q != '"')
        q++;
    if (q >= stop)
        return OWL_EUNSUPPORTED;
    *name = jname(k, (size_t)(q - k));
    if (*name == N_NONE || *seen & 1u << *name)
        return OWL_EUNSUPPORTED;
    *seen |= 1u << *name;
    x->after[prev] = (int8_t)*name;
    x->p = q + 1;
    if (owl_jt_past(&x->p, x->end, ':') != OWL_OK || owl_jt_next(&x->p, x->end) != OWL_OK)
        return OWL_EUNSUPPORTED;
    return OWL_OK;
}

/* The next member's name (*name, N_NONE declined), not given before in its object (*seen),
 * x->p then at its value. *name holds the previous member's name on the way in (the object's
 * kind, O_..., at its first): senders write the members of each object in one order, so the
 * name that followed it last time (x->after) is tried first, compared whole with its quotes
 * and colon, before jd_member_scan. Inlined, for seen and name to stay in registers. */
__attribute__((always_inline)) static inline int jd_member(jd *x, uint32_t *seen, int *name)
{
    if (owl_jt_next(&x->p, x->end) != OWL_OK || *x->p != '"')
        return OWL_EUNSUPPORTED;
    int e = x->after[*name];
    if (e == N_NONE || x->end - x->p < 32 || !jquoted_at(x->p, e))
        return jd_member_scan(x, seen, name);
    if (*seen & 1u << e)
        return OWL_EUNSUPPORTED;
    *seen |= 1u << e;
    *name = e;
    x->p += jquoted[e].len;
    return owl_jt_next(&x->p, x->end);
}

/* After a member (close '}') or an element (']'): *more 1 when another follows. */
static inline int jd_sep(jd *x, char close, int *more)
{
    return (*more = owl_jt_sep(&x->p, x->end, close)) < 0 ? OWL_EUNSUPPORTED : OWL_OK;
}

/* null, which the transcoder takes for an absent field: 1 past it, 0 for another value. */
static inline int jd_null(jd *x)
{
    return *x->p == 'n' && owl_jt_lit(&x->p, x->end, "null", 4) == OWL_OK;
}

/* A string value: a view into the body, or one with escapes decoded and copied into mem.
 * Inlined (as jd_id and jd_time are), for its caller's frame to serve: a call less at each
 * of a span's values. */
__attribute__((always_inline)) static inline int jd_text(jd *x, owl_bytes *v)
{
    const char *s;
    size_t n;
    int rc;
    if (*x->p != '"')
        return OWL_EUNSUPPORTED;
    if ((rc = owl_jt_str(&x->p, x->end, &x->tmp, &s, &n)) != OWL_OK)
        return rc;
    if (n && (s < x->body || s >= x->end) && !(s = owl_arena_copy(x->mem, s, n)))
        return OWL_ENOMEM;
    *v = (owl_bytes){s, n};
    return OWL_OK;
}

/* An id: 32 or 16 hex digits, or none, as bytes at o (room for 16) and their view in *v. */
__attribute__((always_inline)) static inline int jd_id(jd *x, uint8_t *o, owl_bytes *v)
{
    const char *s = x->p + 1;
    if (*x->p != '"')
        return OWL_EUNSUPPORTED;
    int len = owl_jt_id_len(s, (size_t)(x->end - s));
    if (len < 0)
        return OWL_EUNSUPPORTED;
    size_t k = (size_t)len;
    if (k && !(owl_jt_hex16(s, o) && (k == 8 || owl_jt_hex16(s + 16, o + 8))))
        return OWL_EUNSUPPORTED;
    *v = (owl_bytes){o, k};
    x->p = s + 2 * k + 1;
    return OWL_OK;
}

/* An integer of protobuf type t (is_signed: of a signed type), as the transcoder reads it. */
static int jd_int(jd *x, ProtobufCType t, int is_signed, uint64_t *u)
{
    int rc;
    if (owl_jt_one_digit(&x->p, x->end, u))
        return OWL_OK;
    if ((rc = owl_jt_int(&x->p, x->end, &x->tmp, is_signed, u)) != OWL_OK)
        return rc;
    return owl_jt_fits(t, *u) ? OWL_OK : OWL_EUNSUPPORTED;
}

/* An enum by number (a name declines) as the protobuf fast path keeps it. */
static int jd_enum(jd *x, int32_t *v)
{
    uint64_t u = 0;
    int rc = *x->p == '"' ? OWL_EUNSUPPORTED : jd_int(x, PROTOBUF_C_TYPE_ENUM, 1, &u);
    *v = (int32_t)(int64_t)u;
    return rc;
}

static int jd_u32(jd *x, ProtobufCType t, uint32_t *v)
{
    uint64_t u = 0;
    int rc = jd_int(x, t, 0, &u);
    *v = (uint32_t)u;
    return rc;
}

/* A fixed64 time: the 19 quoted digits SDKs send, else as any integer. */
__attribute__((always_inline)) static inline int jd_time(jd *x, uint64_t *v)
{
    if (owl_jt_nanos(&x->p, x->end, v))
        return OWL_OK;
    return owl_jt_int(&x->p, x->end, &x->tmp, 0, v);
}

/* The elements of the array at x->p, each read by fn (an empty array reads none). */
static int jd_array(jd *x, int (*fn)(jd *))
{
    int more, rc;
    if (*x->p != '[')
        return OWL_EUNSUPPORTED;
    x->p++;
    if (owl_jt_next(&x->p, x->end) != OWL_OK)
        return OWL_EUNSUPPORTED;
    if (*x->p == ']') {
        x->p++;
        return OWL_OK;
    }
    do {
        if (owl_jt_next(&x->p, x->end) != OWL_OK)
            return OWL_EUNSUPPORTED;
        if ((rc = fn(x)) != OWL_OK || (rc = jd_sep(x, ']', &more)) != OWL_OK)
            return rc;
    } while (more);
    return OWL_OK;
}

static int jd_unpacked(jd *x, const ProtobufCMessageDescriptor *desc, int depth, int at,
                       const void **out);

/* An element of a span's events or links: transcoded and unpacked by protobuf-c, as the
 * protobuf fast path unpacks it (its document is made from protobuf-c's struct), its
 * pointer appended to the span's list. */
static int jd_part(jd *x, const ProtobufCMessageDescriptor *desc, owl_buf *list)
{
    const void *m;
    int rc = jd_unpacked(x, desc, PART_JDEPTH, SPAN_PART_DEPTH, &m);
    if (rc != OWL_OK)
        return rc;
    return owl_buf_append(list, &m, sizeof m) == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

static int jd_event(jd *x)
{
    return jd_part(x, &EVENT_DESC, &x->c->events);
}

static int jd_link(jd *x)
{
    return jd_part(x, &LINK_DESC, &x->c->links);
}

/* An AnyValue into a: one string, bool, int or double, or nothing (a null member is absent,
 * as in the transcoder). */
static int jd_any(jd *x, attr *a)
{
    uint32_t seen = 0;
    int more, name = O_ANY, rc;
    double d;
    uint64_t u;
    a->vcase = V(_NOT_SET);
    if ((rc = jd_open(x, &more)) != OWL_OK)
        return rc;
    while (more) {
        if ((rc = jd_member(x, &seen, &name)) != OWL_OK)
            return rc;
        if (!jd_null(x)) {
            if (a->vcase != V(_NOT_SET))
                return OWL_EUNSUPPORTED; /* protobuf-c keeps the last: the wire path's case */
            switch (name) {
            case N_STRING_VALUE:
                rc = jd_text(x, &a->str);
                a->vcase = V(STRING_VALUE);
                break;
            case N_BOOL_VALUE:
                rc = owl_jt_bool(&x->p, x->end, &u);
                a->num = (int64_t)u;
                a->vcase = V(BOOL_VALUE);
                break;
            case N_INT_VALUE:
                rc = jd_int(x, PROTOBUF_C_TYPE_INT64, 1, &u);
                a->num = (int64_t)u;
                a->vcase = V(INT_VALUE);
                break;
            case N_DOUBLE_VALUE:
                rc = owl_jt_double(&x->p, x->end, &x->tmp, &d);
                a->dbl = d;
                a->vcase = V(DOUBLE_VALUE);
                break;
            default:
                return OWL_EUNSUPPORTED;
            }
            if (rc != OWL_OK)
                return rc;
        }
        if ((rc = jd_sep(x, '}', &more)) != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* A KeyValue of a span's attributes, appended to c->attrs. */
static int jd_kv(jd *x)
{
    attr a = {.key = {"", 0}, .vcase = NO_VALUE};
    uint32_t seen = 0;
    int more, name = O_KV, rc;
    if ((rc = jd_open(x, &more)) != OWL_OK)
        return rc;
    while (more) {
        if ((rc = jd_member(x, &seen, &name)) != OWL_OK)
            return rc;
        if (jd_null(x))
            rc = OWL_OK;
        else if (name == N_KEY)
            rc = jd_text(x, &a.key);
        else if (name == N_VALUE)
            rc = jd_any(x, &a);
        else
            return OWL_EUNSUPPORTED;
        if (rc != OWL_OK || (rc = jd_sep(x, '}', &more)) != OWL_OK)
            return rc;
    }
    return owl_buf_append(&x->c->attrs, &a, sizeof a) == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

/* A Status into r. */
static int jd_status(jd *x, rec *r)
{
    uint32_t seen = 0;
    int more, name = O_STATUS, rc;
    if ((rc = jd_open(x, &more)) != OWL_OK)
        return rc;
    while (more) {
        if ((rc = jd_member(x, &seen, &name)) != OWL_OK)
            return rc;
        if (jd_null(x))
            rc = OWL_OK;
        else if (name == N_CODE)
            rc = jd_enum(x, &r->status_code);
        else if (name == N_MESSAGE)
            rc = jd_text(x, &r->status_message);
        else
            return OWL_EUNSUPPORTED;
        if (rc != OWL_OK || (rc = jd_sep(x, '}', &more)) != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* Room for one more record: the direct path does not count the spans first, so the array
 * grows (a body's size / 256 at first, about what the SDKs' spans take). */
static int jd_room(jd *x)
{
    owl_span_decoded *d = x->c->d;
    size_t cap;
    if ((d->n + 1) * sizeof *d->spans <= d->spans_cap)
        return OWL_OK;
    size_t want = d->n ? 2 * d->n : x->hint;
    owl_span *s = owl_spares_take(&spans_spares, want * sizeof *s, &cap);
    if (!s)
        return OWL_ENOMEM;
    if (d->n)
        memcpy(s, d->spans, d->n * sizeof *s);
    spans_release(d);
    d->spans = s;
    d->spans_cap = cap;
    return OWL_OK;
}

static int jd_span(jd *x)
{
    ctx *c = x->c;
    rec r = {.name = {"", 0}};
    uint8_t ids[48]; /* trace, span and parent ids, 16 bytes each at most */
    uint32_t seen = 0;
    int more, name = O_SPAN, rc;
    owl_buf_reset(&c->attrs);
    owl_buf_reset(&c->events);
    owl_buf_reset(&c->links);
    if ((rc = jd_open(x, &more)) != OWL_OK)
        return rc;
    while (more) {
        if ((rc = jd_member(x, &seen, &name)) != OWL_OK)
            return rc;
        if (jd_null(x))
            rc = OWL_OK;
        else
            switch (name) {
            case N_TRACE_ID:
                rc = jd_id(x, ids, &r.trace_id);
                break;
            case N_SPAN_ID:
                rc = jd_id(x, ids + 16, &r.span_id);
                break;
            case N_PARENT_SPAN_ID:
                rc = jd_id(x, ids + 32, &r.parent_id);
                break;
            case N_TRACE_STATE:
                rc = jd_text(x, &r.trace_state);
                break;
            case N_NAME:
                rc = jd_text(x, &r.name);
                break;
            case N_KIND:
                rc = jd_enum(x, &r.kind);
                break;
            case N_START:
                rc = jd_time(x, &r.start_ns);
                break;
            case N_END:
                rc = jd_time(x, &r.end_ns);
                break;
            case N_ATTRIBUTES:
                rc = jd_array(x, jd_kv);
                break;
            case N_DROPPED_ATTRIBUTES:
                rc = jd_u32(x, PROTOBUF_C_TYPE_UINT32, &r.dropped_attrs);
                break;
            case N_DROPPED_EVENTS:
                rc = jd_u32(x, PROTOBUF_C_TYPE_UINT32, &r.dropped_events);
                break;
            case N_DROPPED_LINKS:
                rc = jd_u32(x, PROTOBUF_C_TYPE_UINT32, &r.dropped_links);
                break;
            case N_FLAGS:
                rc = jd_u32(x, PROTOBUF_C_TYPE_FIXED32, &r.flags);
                break;
            case N_EVENTS:
                rc = jd_array(x, jd_event);
                break;
            case N_LINKS:
                rc = jd_array(x, jd_link);
                break;
            case N_STATUS:
                rc = jd_status(x, &r);
                break;
            default:
                return OWL_EUNSUPPORTED;
            }
        if (rc != OWL_OK || (rc = jd_sep(x, '}', &more)) != OWL_OK)
            return rc;
    }
    if (c->d->n == x->max_spans)
        return OWL_EUNSUPPORTED; /* the wire path says how many */
    if ((rc = jd_room(x)) != OWL_OK)
        return rc;
    r.attrs = (const attr *)c->attrs.data;
    r.nattrs = c->attrs.len / sizeof(attr);
    r.events = (event_t *const *)c->events.data;
    r.nevents = c->events.len / sizeof(event_t *);
    r.links = (link_t *const *)c->links.data;
    r.nlinks = c->links.len / sizeof(link_t *);
    c->valid = 1; /* owl_jt_str checked each text */
    rc = record(c, &r);
    c->valid = 0;
    if (rc != OWL_OK)
        return rc;
    c->pi++;
    return c->d->rejected ? OWL_EUNSUPPORTED : OWL_OK; /* the wire path words the refusal */
}

/* The message of type desc at x->p (a resource, a scope: `depth` containers deep)
 * transcoded and unpacked as the protobuf fast path unpacks it at `at`. */
static int jd_unpacked(jd *x, const ProtobufCMessageDescriptor *desc, int depth, int at,
                       const void **out)
{
    owl_buf_reset(&x->wire);
    int rc = owl_otlp_json_fast_at(desc, &x->p, x->end, depth, &x->wire);
    if (rc != OWL_OK)
        return rc;
    *out = owl_otlp_unpack_at(desc, x->wire.len ? (const uint8_t *)x->wire.data
                                                : (const uint8_t *)"",
                              x->wire.len, at, x->mem);
    return *out ? OWL_OK : OWL_EUNSUPPORTED;
}

/* A ResourceSpans or a ScopeSpans, as a level: its head (a resource, a scope), unpacked and
 * begun, then its list (of ScopeSpans, of spans), each element read by each; a head after
 * the list declines. *inner, the list elements' index, starts at 0; *index, the level's own,
 * moves on once it is read. */
struct jd_level {
    int kind, head, list; /* the object's kind (O_...) and its members' names (N_...) */
    const ProtobufCMessageDescriptor *desc;
    int jdepth, depth; /* the head's depths, as jd_unpacked takes them */
    int (*begin)(ctx *c, const void *head); /* NULL head: none was sent */
    int (*each)(jd *x);
};

static int jd_level_read(jd *x, const struct jd_level *lv, size_t *index, size_t *inner)
{
    ctx *c = x->c;
    uint32_t seen = 0;
    int more, name = lv->kind, rc, begun = 0;
    const void *head;
    owl_bytes url;
    if ((rc = jd_open(x, &more)) != OWL_OK)
        return rc;
    *inner = 0;
    while (more) {
        if ((rc = jd_member(x, &seen, &name)) != OWL_OK)
            return rc;
        if (jd_null(x))
            rc = OWL_OK;
        else if (name == lv->head && !begun) {
            if ((rc = jd_unpacked(x, lv->desc, lv->jdepth, lv->depth, &head)) == OWL_OK)
                rc = lv->begin(c, head);
            begun = 1;
        } else if (name == lv->list) {
            if (!begun && (rc = lv->begin(c, NULL)) != OWL_OK)
                return rc;
            begun = 1;
            rc = jd_array(x, lv->each);
        } else if (name == N_SCHEMA_URL) {
            rc = jd_text(x, &url);
        } else {
            return OWL_EUNSUPPORTED;
        }
        if (rc != OWL_OK || (rc = jd_sep(x, '}', &more)) != OWL_OK)
            return rc;
    }
    (*index)++;
    return OWL_OK;
}

static int jd_scope_begin(ctx *c, const void *head)
{
    return scope_begin(c, head);
}

static int jd_resource_begin(ctx *c, const void *head)
{
    return resource_begin(c, head);
}

/* A ScopeSpans: its scope, then its spans. */
static int jd_scope_spans(jd *x)
{
    static const struct jd_level lv = {O_SCOPE_SPANS, N_SCOPE,       N_SPANS,        &SCOPE_DESC,
                                       SCOPE_JDEPTH,  SCOPE_DEPTH,   jd_scope_begin, jd_span};
    return jd_level_read(x, &lv, &x->c->si, &x->c->pi);
}

/* A ResourceSpans: its resource, then its ScopeSpans. */
static int jd_resource_spans(jd *x)
{
    static const struct jd_level lv = {O_RESOURCE_SPANS, N_RESOURCE, N_SCOPE_SPANS,
                                       &RES_DESC,        RES_JDEPTH, RES_DEPTH,
                                       jd_resource_begin, jd_scope_spans};
    return jd_level_read(x, &lv, &x->c->ri, &x->c->si);
}

/* The JSON request body[0..n): OWL_OK with every span decoded into c, OWL_EUNSUPPORTED (the
 * caller starts again on the wire path), OWL_ENOMEM. */
static int direct_request(ctx *c, const char *body, size_t n, size_t max_spans,
                          owl_arena *mem)
{
    jd x = {.c = c, .mem = mem, .body = body, .p = body, .end = body + n,
            .tmp = OWL_BUF_INIT, .wire = OWL_BUF_INIT, .max_spans = max_spans,
            .hint = n / 256 + 1};
    uint32_t seen = 0;
    int more, name = O_REQUEST, rc = OWL_EUNSUPPORTED;
    memset(x.after, N_NONE, sizeof x.after);
    if (x.hint > max_spans)
        x.hint = max_spans ? max_spans : 1;
    c->ri = 0;
    if (!n || owl_jt_next(&x.p, x.end) != OWL_OK || (rc = jd_open(&x, &more)) != OWL_OK)
        goto out;
    while (more) {
        if ((rc = jd_member(&x, &seen, &name)) != OWL_OK)
            goto out;
        if (jd_null(&x))
            rc = OWL_OK;
        else if (name == N_RESOURCE_SPANS)
            rc = jd_array(&x, jd_resource_spans);
        else
            rc = OWL_EUNSUPPORTED;
        if (rc != OWL_OK || (rc = jd_sep(&x, '}', &more)) != OWL_OK)
            goto out;
    }
    owl_jt_ws(&x.p, x.end);
    if (x.p != x.end)
        rc = OWL_EUNSUPPORTED;
out:
    owl_buf_free(&x.tmp);
    owl_buf_free(&x.wire);
    return rc;
}

/* ---- the decode ---- */

void owl_span_decoded_free(owl_span_decoded *d)
{
    if (!d)
        return;
    spans_release(d);
    owl_arena_free(&d->arena);
    memset(d, 0, sizeof *d);
}

/* out emptied for a decode. */
static void begin(owl_span_decoded *out)
{
    owl_span_decoded_free(out);
    owl_arena_init(&out->arena, 64 * 1024);
}

int owl_otlp_traces_decode_path(enum owl_otlp_encoding enc, const void *body, size_t n,
                                size_t max_spans, enum owl_otlp_path path,
                                owl_span_decoded *out, owl_error *err)
{
    ctx c = {.d = out, .attrs = OWL_BUF_INIT, .events = OWL_BUF_INIT, .links = OWL_BUF_INIT,
             .tmp = OWL_BUF_INIT, .tmp2 = OWL_BUF_INIT, .join = OWL_BUF_INIT,
             .bw = OWL_BUF_INIT};
    owl_arena mem;
    owl_buf json = OWL_BUF_INIT;
    const uint8_t *p;
    owl_arena_init(&mem, OTLP_UNPACK_BLOCK);
    bson_init(&c.res);
    bson_init(&c.scope);
    bson_init(&c.doc);
    begin(out);
    int rc = OWL_EUNSUPPORTED;
    if (enc == OWL_OTLP_JSON && (path == OWL_OTLP_AUTO || path == OWL_OTLP_DIRECT)) {
        rc = direct_request(&c, body, n, max_spans, &mem);
        if (rc != OWL_EUNSUPPORTED || path == OWL_OTLP_DIRECT)
            goto out;
        owl_arena_reset(&mem); /* start again on the wire */
        begin(out);
    } else if (path == OWL_OTLP_DIRECT) {
        goto out;
    }
    rc = owl_otlp_request_wire(&REQ_DESC, enc, body, n, &json, &p, &n, err);
    if (rc == OWL_OK && path != OWL_OTLP_GENERAL) {
        rc = fast_request(&c, p, n, max_spans, &mem);
        if (rc == OWL_EUNSUPPORTED && path != OWL_OTLP_FAST) { /* start again */
            owl_arena_reset(&mem);
            begin(out);
            rc = general(&c, p, n, max_spans, &mem, err);
        }
    } else if (rc == OWL_OK) {
        rc = general(&c, p, n, max_spans, &mem, err);
    }
out:
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding OTLP traces");
    if (rc != OWL_OK) {
        spans_release(out);
        out->n = out->rejected = 0;
        out->message[0] = '\0';
    }
    owl_arena_free(&mem);
    owl_buf_free(&json);
    bson_destroy(&c.res);
    bson_destroy(&c.scope);
    bson_destroy(&c.doc);
    owl_buf_free(&c.attrs);
    owl_buf_free(&c.events);
    owl_buf_free(&c.links);
    owl_buf_free(&c.tmp);
    owl_buf_free(&c.tmp2);
    owl_buf_free(&c.bw);
    owl_buf_free(&c.join);
    return rc;
}

int owl_otlp_traces_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                           size_t max_spans, owl_span_decoded *out, owl_error *err)
{
    return owl_otlp_traces_decode_path(enc, body, n, max_spans, OWL_OTLP_AUTO, out, err);
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

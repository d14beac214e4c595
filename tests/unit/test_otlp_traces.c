/* test_otlp_traces.c — OTLP traces decoding (ingest/otlp_traces.c) and the trace-id mapping
 * (common/traceid.c): protobuf requests built with the generated protobuf-c structs and
 * packed, the same spans written in OTLP JSON by hand; every mapping rule of docs/otlp.md's
 * traces section (ids, kinds, times, status, HTTP fields in both semantic conventions, peer
 * service, attrs with events, exceptions, links and every AnyValue type), spans refused one
 * by one beside kept ones, bodies refused whole, the answers, the OTLP project's examples. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
typedef Opentelemetry__Proto__Common__V1__AnyValue AV;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans Scope;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans Res;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Req;

#define MAX 10000
#define AV_(k) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##k

#define TRACE_HEX "5b8efff798038103d269b633813fc60c"
#define SPAN_HEX "eee19b7ec3c1b174"
#define PARENT_HEX "eee19b7ec3c1b173"

/* ---- building protobuf requests: every pointer malloc'd, freed by free_unpacked ---- */

static AV *av(int which)
{
    AV *v = calloc(1, sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = which;
    return v;
}

static AV *av_str(const char *s)
{
    AV *v = av(AV_(STRING_VALUE));
    v->string_value = strdup(s);
    return v;
}

static AV *av_int(int64_t i)
{
    AV *v = av(AV_(INT_VALUE));
    v->int_value = i;
    return v;
}

static KV *kv(const char *k, AV *v)
{
    KV *p = malloc(sizeof *p);
    opentelemetry__proto__common__v1__key_value__init(p);
    p->key = strdup(k);
    p->value = v;
    return p;
}

static void *dup_ptrs(void *const *p, size_t n)
{
    void **d = malloc((n ? n : 1) * sizeof *d);
    if (n)
        memcpy(d, p, n * sizeof *d);
    return d;
}

static void unhex(const char *s, ProtobufCBinaryData *out)
{
    out->len = strlen(s) / 2;
    out->data = malloc(out->len + 1);
    for (size_t i = 0; i < out->len; i++) {
        unsigned b;
        sscanf(s + 2 * i, "%2x", &b);
        out->data[i] = (uint8_t)b;
    }
}

static Span *span(const char *trace, const char *sid, const char *parent, const char *name,
                  int kind, uint64_t start, uint64_t end)
{
    Span *s = malloc(sizeof *s);
    opentelemetry__proto__trace__v1__span__init(s);
    unhex(trace, &s->trace_id);
    unhex(sid, &s->span_id);
    if (parent)
        unhex(parent, &s->parent_span_id);
    s->name = strdup(name);
    s->kind = kind;
    s->start_time_unix_nano = start;
    s->end_time_unix_nano = end;
    return s;
}

static void span_attrs(Span *s, KV **a, size_t n)
{
    s->attributes = dup_ptrs((void *const *)a, n);
    s->n_attributes = n;
}

static void span_status(Span *s, int code, const char *msg)
{
    s->status = malloc(sizeof *s->status);
    opentelemetry__proto__trace__v1__status__init(s->status);
    s->status->code = code;
    if (msg)
        s->status->message = strdup(msg);
}

/* One resource (service.name = service, or none when NULL) and one scope lib/1.0 holding
 * spans[0..n), packed into *out (malloc'd); the structs are freed. */
static size_t pack(const char *service, Span **spans, size_t n, uint8_t **out)
{
    Scope *sc = malloc(sizeof *sc);
    opentelemetry__proto__trace__v1__scope_spans__init(sc);
    sc->scope = malloc(sizeof *sc->scope);
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc->scope);
    sc->scope->name = strdup("lib");
    sc->scope->version = strdup("1.0");
    sc->spans = dup_ptrs((void *const *)spans, n);
    sc->n_spans = n;
    Res *r = malloc(sizeof *r);
    opentelemetry__proto__trace__v1__resource_spans__init(r);
    r->resource = malloc(sizeof *r->resource);
    opentelemetry__proto__resource__v1__resource__init(r->resource);
    KV *a[1] = {service ? kv("service.name", av_str(service)) : NULL};
    r->resource->attributes = dup_ptrs((void *const *)a, service ? 1 : 0);
    r->resource->n_attributes = service ? 1 : 0;
    r->scope_spans = dup_ptrs((void *const *)&sc, 1);
    r->n_scope_spans = 1;
    Req *q = malloc(sizeof *q);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(q);
    q->resource_spans = dup_ptrs((void *const *)&r, 1);
    q->n_resource_spans = 1;
    size_t len = protobuf_c_message_get_packed_size(&q->base);
    *out = malloc(len + 1);
    protobuf_c_message_pack(&q->base, *out);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return len;
}

static void decode_pb(const uint8_t *p, size_t n, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, p, n, MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
}

static void decode_json(const char *s, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_traces_decode(OWL_OTLP_JSON, s, strlen(s), MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
}

static int bytes_eq(owl_bytes b, const char *s)
{
    return b.n == strlen(s) && (b.n == 0 || memcmp(b.p, s, b.n) == 0);
}

#define STR_EQ(b, s) cr_assert(bytes_eq((b), (s)), "got \"%.*s\", want \"%s\"", \
                               (int)(b).n, (const char *)(b).p, (s))

/* A request of one span of kind `kind` with the JSON attribute list attrs ("" for none). */
static void one_json(int kind, const char *attrs, int status_code, owl_span_decoded *d)
{
    char body[8192];
    snprintf(body, sizeof body,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
             "\"value\":{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"spans\":[{"
             "\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"name\":\"op\","
             "\"kind\":%d,\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"3000\","
             "\"status\":{\"code\":%d},\"attributes\":[%s]}]}]}]}",
             kind, status_code, attrs);
    decode_json(body, d);
    cr_assert_eq(d->n, 1, "%s", d->message);
}

/* The attrs document of s as relaxed extended JSON (bson_free it). */
static char *attrs_json(const owl_span *s)
{
    bson_t doc;
    cr_assert(bson_init_static(&doc, s->attrs.p, s->attrs.n));
    return bson_as_relaxed_extended_json(&doc, NULL);
}

/* ---- the id helpers ---- */

Test(traceid, w3c_hex_both_ways)
{
    uint8_t id[16];
    char hex[OWL_TRACEID_HEX_SIZE];
    cr_assert_eq(owl_traceid_from_hex(TRACE_HEX, 32, id, NULL), OWL_OK);
    cr_assert_eq(id[0], 0x5b);
    cr_assert_eq(id[15], 0x0c);
    owl_traceid_to_hex(id, hex);
    cr_assert_str_eq(hex, TRACE_HEX);
    /* upper case is read (the OTLP examples use it), lower case written */
    cr_assert_eq(owl_traceid_from_hex("5B8EFFF798038103D269B633813FC60C", 32, id, NULL), OWL_OK);
    owl_traceid_to_hex(id, hex);
    cr_assert_str_eq(hex, TRACE_HEX);
}

Test(traceid, xray_and_w3c_are_the_same_id)
{
    uint8_t a[16], b[16];
    char x[OWL_TRACEID_XRAY_SIZE], h[OWL_TRACEID_HEX_SIZE];
    cr_assert_eq(owl_traceid_from_xray("1-5f84c7a1-e7d1852db8c4fd35d88bf49a", 35, a, NULL),
                 OWL_OK);
    cr_assert_eq(owl_traceid_from_hex("5f84c7a1e7d1852db8c4fd35d88bf49a", 32, b, NULL), OWL_OK);
    cr_assert_eq(memcmp(a, b, 16), 0);
    /* the epoch seconds are the first four bytes */
    cr_assert_eq((uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3],
                 0x5f84c7a1u);
    owl_traceid_to_xray(b, x);
    cr_assert_str_eq(x, "1-5f84c7a1-e7d1852db8c4fd35d88bf49a");
    owl_traceid_to_hex(a, h);
    cr_assert_str_eq(h, "5f84c7a1e7d1852db8c4fd35d88bf49a");
    /* owl_traceid_parse tells the forms apart */
    cr_assert_eq(owl_traceid_parse(x, strlen(x), b, NULL), OWL_OK);
    cr_assert_eq(memcmp(a, b, 16), 0);
    cr_assert_eq(owl_traceid_parse(h, strlen(h), b, NULL), OWL_OK);
    cr_assert_eq(memcmp(a, b, 16), 0);
}

Test(traceid, zipkin_64_bit_is_left_padded)
{
    uint8_t id[16], want[16] = {0};
    char h[OWL_TRACEID_HEX_SIZE];
    cr_assert_eq(owl_traceid_from_hex("463ac35c9f6413ad", 16, id, NULL), OWL_OK);
    want[8] = 0x46, want[9] = 0x3a, want[10] = 0xc3, want[11] = 0x5c;
    want[12] = 0x9f, want[13] = 0x64, want[14] = 0x13, want[15] = 0xad;
    cr_assert_eq(memcmp(id, want, 16), 0);
    owl_traceid_to_hex(id, h);
    cr_assert_str_eq(h, "0000000000000000463ac35c9f6413ad");
    /* the same id in its 128-bit form */
    uint8_t id2[16];
    cr_assert_eq(owl_traceid_parse(h, 32, id2, NULL), OWL_OK);
    cr_assert_eq(memcmp(id, id2, 16), 0);
}

Test(traceid, span_ids_both_ways)
{
    uint8_t id[8];
    char h[OWL_SPANID_HEX_SIZE];
    cr_assert_eq(owl_traceid_span_from_hex("EEE19B7EC3C1B174", 16, id, NULL), OWL_OK);
    cr_assert_eq(id[0], 0xee);
    cr_assert_eq(id[7], 0x74);
    owl_traceid_span_to_hex(id, h);
    cr_assert_str_eq(h, SPAN_HEX);
}

static void refused(int rc, const owl_error *err, const char *needle)
{
    cr_assert_eq(rc, OWL_EINVAL);
    cr_assert(strstr(err->msg, needle), "message \"%s\" lacks \"%s\"", err->msg, needle);
}

Test(traceid, bad_ids_are_refused_with_a_reason)
{
    uint8_t id[16];
    owl_error err = {0};
    refused(owl_traceid_from_hex("abc", 3, id, &err), &err, "3 characters");
    refused(owl_traceid_from_hex(TRACE_HEX "00", 34, id, &err), &err, "34 characters");
    refused(owl_traceid_from_hex("5b8efff798038103d269b633813fc6zc", 32, id, &err), &err,
            "'z' at offset 30");
    refused(owl_traceid_from_hex("00000000000000000000000000000000", 32, id, &err), &err,
            "all zero");
    refused(owl_traceid_from_hex("0000000000000000", 16, id, &err), &err, "all zero");
    refused(owl_traceid_from_xray("2-5f84c7a1-e7d1852db8c4fd35d88bf49a", 35, id, &err), &err,
            "version");
    refused(owl_traceid_from_xray("1-5f84c7a1xe7d1852db8c4fd35d88bf49a", 35, id, &err), &err,
            "offset 10");
    refused(owl_traceid_from_xray("1-5f84c7a1-e7d1852db8c4fd35d88bf4", 33, id, &err), &err,
            "33 characters");
    refused(owl_traceid_from_xray("1-5f84g7a1-e7d1852db8c4fd35d88bf49a", 35, id, &err), &err,
            "'g' at offset 6");
    refused(owl_traceid_from_xray("1-00000000-000000000000000000000000", 35, id, &err), &err,
            "all zero");
    refused(owl_traceid_parse("1-5f84c7a1-e7d1852db8c4fd35d88bf49", 34, id, &err), &err,
            "34 characters");
    refused(owl_traceid_span_from_hex("0000000000000000", 16, id, &err), &err, "all zero");
    refused(owl_traceid_span_from_hex("eee19b7ec3c1b17", 15, id, &err), &err, "15 characters");
    refused(owl_traceid_span_from_hex("eee19b7ec3c1b17\x01", 16, id, &err), &err,
            "byte 0x01 at offset 15");
}

/* ---- one request in both encodings ---- */

/* Three spans: a server root with HTTP attributes, an error status and an exception event;
 * a client child with a link and old-convention attributes; a bare internal span in another
 * trace. */
static const char both_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"checkout\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},\"spans\":["
    "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" PARENT_HEX "\",\"name\":\"POST /cart\","
    "\"kind\":\"SPAN_KIND_SERVER\",\"startTimeUnixNano\":\"1700000000000000000\","
    "\"endTimeUnixNano\":\"1700000000250000000\",\"traceState\":\"a=1\",\"flags\":1,"
    "\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"POST\"}},"
    "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/cart\"}},"
    "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"503\"}},"
    "{\"key\":\"url.full\",\"value\":{\"stringValue\":\"http://shop/cart?x=1\"}}],"
    "\"events\":[{\"timeUnixNano\":\"1700000000100000000\",\"name\":\"exception\","
    "\"attributes\":[{\"key\":\"exception.type\",\"value\":{\"stringValue\":\"IOError\"}},"
    "{\"key\":\"exception.message\",\"value\":{\"stringValue\":\"disk\"}},"
    "{\"key\":\"exception.escaped\",\"value\":{\"boolValue\":true}}]}],"
    "\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":\"boom\"}},"
    "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"parentSpanId\":\""
    PARENT_HEX "\",\"name\":\"GET\",\"kind\":3,\"startTimeUnixNano\":1700000000010000000,"
    "\"endTimeUnixNano\":\"1700000000020000000\","
    "\"attributes\":[{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}},"
    "{\"key\":\"http.status_code\",\"value\":{\"intValue\":404}},"
    "{\"key\":\"http.url\",\"value\":{\"stringValue\":\"http://stock:8080/items/7?q\"}},"
    "{\"key\":\"net.peer.name\",\"value\":{\"stringValue\":\"stock\"}}],"
    "\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":"
    "\"0102030405060708\",\"attributes\":[{\"key\":\"l\",\"value\":{\"intValue\":\"1\"}}]}]},"
    "{\"traceId\":\"0000000000000000463ac35c9f6413ad\",\"spanId\":\"463ac35c9f6413ad\","
    "\"name\":\"work\",\"kind\":1,\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":\"5\"}"
    "]}]}]}";

static size_t both_pb(uint8_t **out)
{
    Span *s[3];
    s[0] = span(TRACE_HEX, PARENT_HEX, NULL, "POST /cart", 2, 1700000000000000000ull,
                1700000000250000000ull);
    s[0]->trace_state = strdup("a=1");
    s[0]->flags = 1;
    KV *a0[4] = {kv("http.request.method", av_str("POST")), kv("http.route", av_str("/cart")),
                 kv("http.response.status_code", av_int(503)),
                 kv("url.full", av_str("http://shop/cart?x=1"))};
    span_attrs(s[0], a0, 4);
    Event *e = malloc(sizeof *e);
    opentelemetry__proto__trace__v1__span__event__init(e);
    e->time_unix_nano = 1700000000100000000ull;
    e->name = strdup("exception");
    AV *t = av(AV_(BOOL_VALUE));
    t->bool_value = 1;
    KV *ea[3] = {kv("exception.type", av_str("IOError")), kv("exception.message", av_str("disk")),
                 kv("exception.escaped", t)};
    e->attributes = dup_ptrs((void *const *)ea, 3);
    e->n_attributes = 3;
    s[0]->events = dup_ptrs((void *const *)&e, 1);
    s[0]->n_events = 1;
    span_status(s[0], 2, "boom");

    s[1] = span(TRACE_HEX, SPAN_HEX, PARENT_HEX, "GET", 3, 1700000000010000000ull,
                1700000000020000000ull);
    KV *a1[4] = {kv("http.method", av_str("GET")), kv("http.status_code", av_int(404)),
                 kv("http.url", av_str("http://stock:8080/items/7?q")),
                 kv("net.peer.name", av_str("stock"))};
    span_attrs(s[1], a1, 4);
    Link *l = malloc(sizeof *l);
    opentelemetry__proto__trace__v1__span__link__init(l);
    unhex("0102030405060708090a0b0c0d0e0f10", &l->trace_id);
    unhex("0102030405060708", &l->span_id);
    KV *la[1] = {kv("l", av_int(1))};
    l->attributes = dup_ptrs((void *const *)la, 1);
    l->n_attributes = 1;
    s[1]->links = dup_ptrs((void *const *)&l, 1);
    s[1]->n_links = 1;

    s[2] = span("0000000000000000463ac35c9f6413ad", "463ac35c9f6413ad", NULL, "work", 1, 5, 5);

    Scope *sc = malloc(sizeof *sc);
    opentelemetry__proto__trace__v1__scope_spans__init(sc);
    sc->scope = malloc(sizeof *sc->scope);
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc->scope);
    sc->scope->name = strdup("lib");
    sc->scope->version = strdup("1.0");
    sc->spans = dup_ptrs((void *const *)s, 3);
    sc->n_spans = 3;
    Res *r = malloc(sizeof *r);
    opentelemetry__proto__trace__v1__resource_spans__init(r);
    r->resource = malloc(sizeof *r->resource);
    opentelemetry__proto__resource__v1__resource__init(r->resource);
    KV *ra[2] = {kv("service.name", av_str("checkout")), kv("host.name", av_str("h1"))};
    r->resource->attributes = dup_ptrs((void *const *)ra, 2);
    r->resource->n_attributes = 2;
    r->scope_spans = dup_ptrs((void *const *)&sc, 1);
    r->n_scope_spans = 1;
    Req *q = malloc(sizeof *q);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(q);
    q->resource_spans = dup_ptrs((void *const *)&r, 1);
    q->n_resource_spans = 1;
    size_t len = protobuf_c_message_get_packed_size(&q->base);
    *out = malloc(len + 1);
    protobuf_c_message_pack(&q->base, *out);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return len;
}

static int same_bytes(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

Test(otlp_traces, json_and_protobuf_give_identical_records)
{
    owl_span_decoded dj, dp;
    uint8_t *p;
    size_t n = both_pb(&p);
    decode_pb(p, n, &dp);
    free(p);
    decode_json(both_json, &dj);
    cr_assert_eq(dp.n, 3, "%s", dp.message);
    cr_assert_eq(dj.n, 3, "%s", dj.message);
    cr_assert_eq(dp.rejected + dj.rejected, 0);
    for (size_t i = 0; i < 3; i++) {
        const owl_span *a = &dj.spans[i], *b = &dp.spans[i];
        cr_assert_eq(memcmp(a->trace_id, b->trace_id, 16), 0);
        cr_assert_eq(memcmp(a->span_id, b->span_id, 8), 0);
        cr_assert_eq(memcmp(a->parent_id, b->parent_id, 8), 0);
        cr_assert_eq(a->kind, b->kind);
        cr_assert_eq(a->start_ns, b->start_ns);
        cr_assert_eq(a->duration_ns, b->duration_ns);
        cr_assert_eq(a->status, b->status);
        cr_assert_eq(a->status_code, b->status_code);
        cr_assert_eq(a->http_status, b->http_status);
        cr_assert_eq(a->in_progress, b->in_progress);
        const owl_bytes *fa[] = {&a->service, &a->name, &a->status_message, &a->http_method,
                                 &a->route, &a->url, &a->peer_service, &a->user_agent,
                                 &a->client_ip, &a->attrs};
        const owl_bytes *fb[] = {&b->service, &b->name, &b->status_message, &b->http_method,
                                 &b->route, &b->url, &b->peer_service, &b->user_agent,
                                 &b->client_ip, &b->attrs};
        for (size_t k = 0; k < sizeof fa / sizeof *fa; k++)
            cr_assert(same_bytes(*fa[k], *fb[k]), "span %zu field %zu differs", i, k);
    }
    /* and what they are */
    const owl_span *s = &dj.spans[0];
    char h[OWL_TRACEID_HEX_SIZE];
    owl_traceid_to_hex(s->trace_id, h);
    cr_assert_str_eq(h, TRACE_HEX);
    cr_assert(owl_traceid_is_zero(s->parent_id, 8));
    STR_EQ(s->service, "checkout");
    STR_EQ(s->name, "POST /cart");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    cr_assert_eq(s->start_ns, 1700000000000000000ll);
    cr_assert_eq(s->duration_ns, 250000000);
    cr_assert_eq(s->status, OWL_SPAN_FAULT);
    cr_assert_eq(s->status_code, 2);
    STR_EQ(s->status_message, "boom");
    STR_EQ(s->http_method, "POST");
    STR_EQ(s->route, "/cart");
    STR_EQ(s->url, "http://shop/cart?x=1");
    cr_assert_eq(s->http_status, 503);
    cr_assert_eq(s->peer_service.n, 0);
    s = &dj.spans[1];
    char ph[OWL_SPANID_HEX_SIZE];
    owl_traceid_span_to_hex(s->parent_id, ph);
    cr_assert_str_eq(ph, PARENT_HEX);
    cr_assert_eq(s->kind, OWL_SPAN_CLIENT);
    cr_assert_eq(s->status, OWL_SPAN_ERROR);
    STR_EQ(s->http_method, "GET");
    STR_EQ(s->route, "/items/7");
    cr_assert_eq(s->http_status, 404);
    STR_EQ(s->peer_service, "stock");
    s = &dj.spans[2];
    cr_assert_eq(s->kind, OWL_SPAN_INTERNAL);
    cr_assert_eq(s->duration_ns, 0);
    cr_assert_eq(s->status, OWL_SPAN_OK);
    owl_traceid_to_hex(s->trace_id, h);
    cr_assert_str_eq(h, "0000000000000000463ac35c9f6413ad");
    owl_span_decoded_free(&dj);
    owl_span_decoded_free(&dp);
}

Test(otlp_traces, attrs_hold_resource_scope_attributes_events_links)
{
    owl_span_decoded d;
    decode_json(both_json, &d);
    /* resource and scope: one document the spans of the scope share (the same bytes) */
    bson_t rdoc;
    cr_assert(bson_init_static(&rdoc, d.spans[0].resource.p, d.spans[0].resource.n));
    char *j = bson_as_relaxed_extended_json(&rdoc, NULL);
    cr_assert_str_eq(
        j, "{ \"resource\" : { \"service.name\" : \"checkout\", \"host.name\" : \"h1\" }, "
           "\"scope\" : { \"name\" : \"lib\", \"version\" : \"1.0\" } }");
    bson_free(j);
    cr_assert(d.spans[1].resource.p == d.spans[0].resource.p, "one copy per scope");
    j = attrs_json(&d.spans[0]);
    cr_assert_str_eq(
        j, "{ \"attributes\" : { "
           "\"http.request.method\" : \"POST\", \"http.route\" : \"/cart\", "
           "\"http.response.status_code\" : 503, \"url.full\" : \"http://shop/cart?x=1\" }, "
           "\"events\" : [ { \"name\" : \"exception\", \"time_ns\" : 1700000000100000000, "
           "\"type\" : \"IOError\", \"message\" : \"disk\", \"attributes\" : { "
           "\"exception.escaped\" : true } } ], \"trace_state\" : \"a=1\", \"flags\" : 1 }");
    bson_free(j);
    j = attrs_json(&d.spans[1]);
    cr_assert(strstr(j, "\"links\" : [ { \"trace_id\" : \"0102030405060708090a0b0c0d0e0f10\", "
                        "\"span_id\" : \"0102030405060708\", \"attributes\" : { \"l\" : 1 } } ]"),
              "%s", j);
    bson_free(j);
    owl_span_decoded_free(&d);
}

Test(otlp_traces, attributes_of_every_anyvalue_type)
{
    owl_span_decoded d;
    one_json(1,
             "{\"key\":\"s\",\"value\":{\"stringValue\":\"x\"}},"
             "{\"key\":\"b\",\"value\":{\"boolValue\":false}},"
             "{\"key\":\"i\",\"value\":{\"intValue\":\"-9007199254740993\"}},"
             "{\"key\":\"d\",\"value\":{\"doubleValue\":1.5}},"
             "{\"key\":\"y\",\"value\":{\"bytesValue\":\"AQID\"}},"
             "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1},"
             "{\"stringValue\":\"two\"}]}}},"
             "{\"key\":\"k\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\","
             "\"value\":{\"boolValue\":true}}]}}},"
             "{\"key\":\"n\",\"value\":{}}",
             0, &d);
    bson_t doc;
    bson_iter_t it;
    cr_assert(bson_init_static(&doc, d.spans[0].attrs.p, d.spans[0].attrs.n));
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.s", &it));
    cr_assert_str_eq(bson_iter_utf8(&it, NULL), "x");
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.b", &it));
    cr_assert(BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it));
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.i", &it));
    cr_assert(BSON_ITER_HOLDS_INT64(&it));
    cr_assert_eq(bson_iter_int64(&it), -9007199254740993ll);
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.d", &it));
    cr_assert(BSON_ITER_HOLDS_DOUBLE(&it) && bson_iter_double(&it) == 1.5);
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.y", &it));
    cr_assert(BSON_ITER_HOLDS_BINARY(&it));
    uint32_t bl;
    const uint8_t *bp;
    bson_iter_binary(&it, NULL, &bl, &bp);
    cr_assert(bl == 3 && bp[0] == 1 && bp[2] == 3);
    cr_assert(bson_iter_init(&it, &doc) &&
              bson_iter_find_descendant(&it, "attributes.a.1", &it));
    cr_assert_str_eq(bson_iter_utf8(&it, NULL), "two");
    cr_assert(bson_iter_init(&it, &doc) &&
              bson_iter_find_descendant(&it, "attributes.k.in", &it));
    cr_assert(BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it));
    cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "attributes.n", &it));
    cr_assert(BSON_ITER_HOLDS_NULL(&it));
    owl_span_decoded_free(&d);
}

/* ---- HTTP fields in both semantic conventions ---- */

Test(otlp_traces, http_fields_old_and_current_conventions)
{
    static const struct {
        const char *attrs;
        const char *method, *route, *url;
        int status;
    } t[] = {
        {"{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"PUT\"}},"
         "{\"key\":\"http.method\",\"value\":{\"stringValue\":\"OLD\"}},"
         "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":201}},"
         "{\"key\":\"http.status_code\",\"value\":{\"intValue\":500}},"
         "{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/a/b\"}}",
         "PUT", "/a/b", "", 201},
        {"{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}},"
         "{\"key\":\"http.status_code\",\"value\":{\"stringValue\":\"302\"}},"
         "{\"key\":\"http.target\",\"value\":{\"stringValue\":\"/search?q=1#f\"}}",
         "GET", "/search", "", 302},
        {"{\"key\":\"http.url\",\"value\":{\"stringValue\":\"https://h:1/x/y?z\"}}", "", "/x/y",
         "https://h:1/x/y?z", 0},
        {"{\"key\":\"url.full\",\"value\":{\"stringValue\":\"https://h\"}},"
         "{\"key\":\"http.url\",\"value\":{\"stringValue\":\"https://old/\"}}",
         "", "/", "https://h", 0},
        {"{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/users/:id\"}},"
         "{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/users/7\"}}",
         "", "/users/:id", "", 0},
        /* a status that is no HTTP status stays in the attributes only */
        {"{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":999}}", "", "", "", 0},
        {"{\"key\":\"http.status_code\",\"value\":{\"stringValue\":\"4o4\"}}", "", "", "", 0},
        {"{\"key\":\"url.full\",\"value\":{\"stringValue\":\"not a url\"}}", "", "", "not a url",
         0},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        owl_span_decoded d;
        one_json(2, t[i].attrs, 0, &d);
        const owl_span *s = &d.spans[0];
        STR_EQ(s->http_method, t[i].method);
        STR_EQ(s->route, t[i].route);
        STR_EQ(s->url, t[i].url);
        cr_assert_eq(s->http_status, t[i].status, "case %zu", i);
        owl_span_decoded_free(&d);
    }
}

Test(otlp_traces, user_agent_and_client_address)
{
    owl_span_decoded d;
    one_json(2,
             "{\"key\":\"user_agent.original\",\"value\":{\"stringValue\":\"curl/8\"}},"
             "{\"key\":\"client.address\",\"value\":{\"stringValue\":\"10.0.0.1\"}}",
             0, &d);
    STR_EQ(d.spans[0].user_agent, "curl/8");
    STR_EQ(d.spans[0].client_ip, "10.0.0.1");
    owl_span_decoded_free(&d);
    one_json(2,
             "{\"key\":\"http.user_agent\",\"value\":{\"stringValue\":\"old/1\"}},"
             "{\"key\":\"http.client_ip\",\"value\":{\"stringValue\":\"10.0.0.2\"}}",
             0, &d);
    STR_EQ(d.spans[0].user_agent, "old/1");
    STR_EQ(d.spans[0].client_ip, "10.0.0.2");
    owl_span_decoded_free(&d);
}

/* ---- status ---- */

Test(otlp_traces, status_rules)
{
    static const struct {
        int kind, code, http;
        enum owl_span_status want;
    } t[] = {
        {2, 0, 0, OWL_SPAN_OK},        {2, 1, 0, OWL_SPAN_OK},
        {2, 2, 0, OWL_SPAN_FAULT},     /* ERROR on a server span */
        {3, 2, 0, OWL_SPAN_FAULT},     /* ... on a client span without a response */
        {1, 2, 0, OWL_SPAN_FAULT},     {2, 2, 404, OWL_SPAN_ERROR},
        {2, 2, 429, OWL_SPAN_THROTTLE}, {2, 2, 503, OWL_SPAN_FAULT},
        {2, 2, 200, OWL_SPAN_FAULT},   {2, 0, 404, OWL_SPAN_ERROR},
        {3, 0, 400, OWL_SPAN_ERROR},   {3, 0, 429, OWL_SPAN_THROTTLE},
        {5, 0, 500, OWL_SPAN_FAULT},   {4, 1, 599, OWL_SPAN_FAULT},
        {2, 0, 302, OWL_SPAN_OK},      {2, 1, 499, OWL_SPAN_ERROR},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        owl_span_decoded d;
        char a[128] = "";
        if (t[i].http)
            snprintf(a, sizeof a,
                     "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":%d}}",
                     t[i].http);
        one_json(t[i].kind, a, t[i].code, &d);
        cr_assert_eq(d.spans[0].status, t[i].want, "case %zu: %s", i,
                     owl_span_status_name(d.spans[0].status));
        cr_assert_eq(d.spans[0].status_code, t[i].code);
        owl_span_decoded_free(&d);
    }
    cr_assert_str_eq(owl_span_status_name(OWL_SPAN_THROTTLE), "throttle");
    cr_assert_str_eq(owl_span_status_name(9), "?");
}

Test(otlp_traces, kinds)
{
    static const char *const names[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    for (int k = 0; k <= 5; k++) {
        owl_span_decoded d;
        one_json(k, "", 0, &d);
        cr_assert_eq(d.spans[0].kind, (enum owl_span_kind)k);
        cr_assert_str_eq(owl_span_kind_name(d.spans[0].kind), names[k]);
        owl_span_decoded_free(&d);
    }
    cr_assert_str_eq(owl_span_kind_name(6), "?");
}

/* ---- peer service ---- */

Test(otlp_traces, peer_service_rule)
{
    static const struct {
        int kind;
        const char *attrs, *want;
    } t[] = {
        {2, "{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"billing\"}}", "billing"},
        {3, "{\"key\":\"db.system\",\"value\":{\"stringValue\":\"postgresql\"}},"
            "{\"key\":\"db.name\",\"value\":{\"stringValue\":\"orders\"}},"
            "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"pg1\"}}",
         "postgresql:orders"},
        {3, "{\"key\":\"db.system.name\",\"value\":{\"stringValue\":\"mysql\"}},"
            "{\"key\":\"db.namespace\",\"value\":{\"stringValue\":\"shop\"}}",
         "mysql:shop"},
        {3, "{\"key\":\"db.system\",\"value\":{\"stringValue\":\"redis\"}}", "redis"},
        {3, "{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"cache\"}},"
            "{\"key\":\"db.system\",\"value\":{\"stringValue\":\"redis\"}}",
         "cache"},
        {4, "{\"key\":\"messaging.system\",\"value\":{\"stringValue\":\"kafka\"}},"
            "{\"key\":\"messaging.destination.name\",\"value\":{\"stringValue\":\"orders\"}},"
            "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"broker\"}}",
         "kafka:orders"},
        {5, "{\"key\":\"messaging.system\",\"value\":{\"stringValue\":\"rabbitmq\"}},"
            "{\"key\":\"messaging.destination\",\"value\":{\"stringValue\":\"q\"}}",
         "rabbitmq:q"},
        {3, "{\"key\":\"rpc.system\",\"value\":{\"stringValue\":\"grpc\"}},"
            "{\"key\":\"rpc.service\",\"value\":{\"stringValue\":\"shop.Cart\"}},"
            "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"cart\"}}",
         "shop.Cart"},
        {3, "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"api.example\"}}",
         "api.example"},
        {3, "{\"key\":\"net.peer.name\",\"value\":{\"stringValue\":\"old.example\"}}",
         "old.example"},
        /* a server's server.address, db or rpc attributes name itself, not a peer */
        {2, "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"me\"}},"
            "{\"key\":\"rpc.service\",\"value\":{\"stringValue\":\"shop.Cart\"}}",
         ""},
        {1, "{\"key\":\"db.system\",\"value\":{\"stringValue\":\"sqlite\"}}", ""},
        {5, "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"broker\"}}", ""},
        {3, "{\"key\":\"peer.service\",\"value\":{\"intValue\":5}}", ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        owl_span_decoded d;
        one_json(t[i].kind, t[i].attrs, 0, &d);
        STR_EQ(d.spans[0].peer_service, t[i].want);
        owl_span_decoded_free(&d);
    }
}

/* ---- service, UTF-8 ---- */

Test(otlp_traces, service_default_and_utf8_repair)
{
    owl_span_decoded d;
    Span *s[1] = {span(TRACE_HEX, SPAN_HEX, NULL, "bad \xff name", 2, 1, 2)};
    uint8_t *p;
    size_t n = pack(NULL, s, 1, &p);
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.n, 1);
    STR_EQ(d.spans[0].service, "unknown_service");
    STR_EQ(d.spans[0].name, "bad \xef\xbf\xbd name");
    owl_span_decoded_free(&d);
}

/* ---- refusals ---- */

/* Decodes a batch of good, bad, good spans (protobuf) and checks the bad one alone was
 * refused with a message holding why. */
static void refused_alone(Span *bad, const char *why)
{
    owl_span_decoded d;
    Span *s[3] = {span(TRACE_HEX, "0000000000000001", NULL, "a", 2, 10, 20), bad,
                  span(TRACE_HEX, "0000000000000003", NULL, "c", 2, 10, 20)};
    uint8_t *p;
    size_t n = pack("svc", s, 3, &p);
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.n, 2, "%s kept", why);
    cr_assert_eq(d.rejected, 1);
    STR_EQ(d.spans[0].name, "a");
    STR_EQ(d.spans[1].name, "c");
    cr_assert(strstr(d.message, "resource 0 scope 0 span 1: ") == d.message, "%s", d.message);
    cr_assert(strstr(d.message, why), "\"%s\" lacks \"%s\"", d.message, why);
    owl_span_decoded_free(&d);
}

Test(otlp_traces, bad_spans_refused_one_by_one)
{
    refused_alone(span("5b8efff798038103d269b633813fc6", SPAN_HEX, NULL, "x", 2, 1, 2),
                  "trace_id of 15 bytes");
    refused_alone(span("", SPAN_HEX, NULL, "x", 2, 1, 2), "trace_id of 0 bytes");
    refused_alone(span("00000000000000000000000000000000", SPAN_HEX, NULL, "x", 2, 1, 2),
                  "trace_id is all zero");
    refused_alone(span(TRACE_HEX, "0000000000000000", NULL, "x", 2, 1, 2), "span_id is all zero");
    refused_alone(span(TRACE_HEX, "00000000000001", NULL, "x", 2, 1, 2), "span_id of 7 bytes");
    refused_alone(span(TRACE_HEX, SPAN_HEX, "0102", "x", 2, 1, 2), "parent_span_id of 2 bytes");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "", 2, 1, 2), "no name");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "x", 9, 1, 2), "kind 9");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 0, 2), "no start_time");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 1, 0), "no end_time");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 20, 10), "ends 10 ns before");
    refused_alone(span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 1, 1ull << 63), "past 2262");
    Span *st = span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 1, 2);
    span_status(st, 7, NULL);
    refused_alone(st, "status code 7");
    Span *sl = span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 1, 2);
    Link *l = malloc(sizeof *l);
    opentelemetry__proto__trace__v1__span__link__init(l);
    unhex("0102", &l->trace_id);
    sl->links = dup_ptrs((void *const *)&l, 1);
    sl->n_links = 1;
    refused_alone(sl, "link 0: ids of 2 and 0 bytes");
}

Test(otlp_traces, json_span_refused_alone_and_the_answer_names_it)
{
    owl_span_decoded d;
    decode_json("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
                "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"name\":\"ok\","
                "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"},"
                "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"name\":\"late\","
                "\"startTimeUnixNano\":\"9\",\"endTimeUnixNano\":\"2\"},"
                "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "00\",\"name\":\"long\","
                "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"}]}]}]}",
                &d);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.rejected, 2);
    cr_assert_str_eq(d.message, "resource 0 scope 0 span 1: ends 7 ns before it starts");
    owl_buf o = OWL_BUF_INIT;
    cr_assert_eq(owl_otlp_traces_response(OWL_OTLP_JSON, d.rejected, d.message, &o), OWL_OK);
    cr_assert_eq(owl_buf_putc(&o, '\0'), OWL_OK);
    cr_assert_str_eq(o.data, "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":"
                             "\"resource 0 scope 0 span 1: ends 7 ns before it starts\"}}");
    owl_buf_reset(&o);
    cr_assert_eq(owl_otlp_traces_response(OWL_OTLP_JSON, 0, NULL, &o), OWL_OK);
    cr_assert_eq(o.len, 2);
    owl_buf_reset(&o);
    cr_assert_eq(owl_otlp_traces_response(OWL_OTLP_PROTOBUF, 2, "why", &o), OWL_OK);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
            NULL, o.len, (const uint8_t *)o.data);
    cr_assert(r && r->partial_success);
    cr_assert_eq(r->partial_success->rejected_spans, 2);
    cr_assert_str_eq(r->partial_success->error_message, "why");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    owl_buf_reset(&o);
    cr_assert_eq(owl_otlp_traces_response(OWL_OTLP_PROTOBUF, 0, NULL, &o), OWL_OK);
    cr_assert_eq(o.len, 0);
    owl_buf_free(&o);
    owl_span_decoded_free(&d);
}

static void body_refused(enum owl_otlp_encoding enc, const void *p, size_t n, int want,
                         const char *needle)
{
    owl_span_decoded d = {0};
    owl_error err = {0};
    int rc = owl_otlp_traces_decode(enc, p, n, MAX, &d, &err);
    cr_assert_eq(rc, want, "rc %d: %s", rc, err.msg);
    cr_assert_eq(d.n, 0);
    cr_assert(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
    owl_span_decoded_free(&d);
}

Test(otlp_traces, unreadable_bodies_refused_whole)
{
    uint8_t *p;
    Span *s[1] = {span(TRACE_HEX, SPAN_HEX, NULL, "x", 2, 1, 2)};
    size_t n = pack("svc", s, 1, &p);
    for (size_t cut = 1; cut < n; cut += 7)
        body_refused(OWL_OTLP_PROTOBUF, p, n - cut, OWL_EINVAL, "malformed protobuf");
    free(p);
    static const char *const bad[][2] = {
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":5}]}]}]}", "name"},
        {"{\"resourceSpans\":{}}", "resource_spans must be an array"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}",
         "trace_id"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_NOPE\"}]}]}]}",
         "kind"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":true}]}]}]}",
         "start_time_unix_nano"},
        {"{\"resourceSpans\":[", "malformed JSON"},
        {"[]", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        body_refused(OWL_OTLP_JSON, bad[i][0], strlen(bad[i][0]), OWL_EINVAL, bad[i][1]);
    body_refused(0, "{}", 2, OWL_EINVAL, "encoding");
}

Test(otlp_traces, too_many_spans_refuse_the_body)
{
    owl_span_decoded d = {0};
    owl_error err = {0};
    Span *s[3] = {span(TRACE_HEX, SPAN_HEX, NULL, "a", 2, 1, 2),
                  span(TRACE_HEX, SPAN_HEX, NULL, "b", 2, 1, 2),
                  span(TRACE_HEX, SPAN_HEX, NULL, "c", 2, 1, 2)};
    uint8_t *p;
    size_t n = pack("svc", s, 3, &p);
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, p, n, 2, &d, &err), OWL_ETOOBIG);
    cr_assert_str_eq(err.msg, "3 spans in one request (at most 2)");
    cr_assert_eq(d.n, 0);
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, p, n, 3, &d, &err), OWL_OK);
    cr_assert_eq(d.n, 3);
    free(p);
    owl_span_decoded_free(&d);
    owl_span_decoded_free(NULL);
    /* an empty request is a valid one */
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_JSON, "{}", 2, 3, &d, &err), OWL_OK);
    cr_assert_eq(d.n + d.rejected, 0);
    owl_span_decoded_free(&d);
}

/* ---- real data: the OTLP project's example and Jaeger's fixtures ($OWL_TEST_DATA/otlp) ---- */

static char *read_data(const char *name)
{
    char path[4096];
    const char *data = getenv("OWL_TEST_DATA"), *src = getenv("OWL_SRCDIR");
    if (data && *data)
        snprintf(path, sizeof path, "%s/otlp/%s", data, name);
    else if (src && *src)
        snprintf(path, sizeof path, "%s/../shared/data/otlp/%s", src, name);
    else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_otlp_traces.c");
        snprintf(path, sizeof path, "%.*s../shared/data/otlp/%s", tail ? (int)(tail - me) : 0,
                 me, name);
    }
    char *buf = NULL;
    size_t n;
    if (owl_read_file(path, 1u << 20, &buf, &n, NULL) != OWL_OK)
        cr_skip_test("OTLP examples not found: %s (set OWL_TEST_DATA)", path);
    return buf;
}

Test(otlp_traces, specification_example)
{
    owl_span_decoded d;
    char *body = read_data("opentelemetry-proto/trace.json");
    decode_json(body, &d);
    free(body);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.rejected, 0);
    const owl_span *s = &d.spans[0];
    char h[OWL_TRACEID_HEX_SIZE], x[OWL_TRACEID_XRAY_SIZE], sp[OWL_SPANID_HEX_SIZE];
    owl_traceid_to_hex(s->trace_id, h);
    cr_assert_str_eq(h, "5b8efff798038103d269b633813fc60c");
    owl_traceid_to_xray(s->trace_id, x);
    cr_assert_str_eq(x, "1-5b8efff7-98038103d269b633813fc60c");
    owl_traceid_span_to_hex(s->span_id, sp);
    cr_assert_str_eq(sp, "eee19b7ec3c1b174");
    owl_traceid_span_to_hex(s->parent_id, sp);
    cr_assert_str_eq(sp, "eee19b7ec3c1b173");
    STR_EQ(s->service, "my.service");
    STR_EQ(s->name, "I'm a server span");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    cr_assert_eq(s->start_ns, 1544712660000000000ll);
    cr_assert_eq(s->duration_ns, 1000000000);
    cr_assert_eq(s->status, OWL_SPAN_OK);
    char *j = attrs_json(s);
    cr_assert_str_eq(j, "{ \"attributes\" : { \"my.span.attr\" : \"some value\" } }");
    bson_free(j);
    bson_t rdoc;
    cr_assert(bson_init_static(&rdoc, s->resource.p, s->resource.n));
    j = bson_as_relaxed_extended_json(&rdoc, NULL);
    cr_assert_str_eq(j, "{ \"resource\" : { \"service.name\" : \"my.service\" }, \"scope\" : { "
                        "\"name\" : \"my.library\", \"version\" : \"1.0.0\", \"attributes\" : { "
                        "\"my.scope.attribute\" : \"some scope attribute\" } } }");
    bson_free(j);
    owl_span_decoded_free(&d);
}

Test(otlp_traces, jaeger_fixtures)
{
    owl_span_decoded d;
    char *body = read_data("jaeger/memory_otel_traces_01.json");
    decode_json(body, &d);
    free(body);
    cr_assert_eq(d.n, 4, "%s", d.message);
    for (size_t i = 0; i < 4; i++) {
        const owl_span *s = &d.spans[i];
        cr_assert_eq(s->kind, (enum owl_span_kind)(2 + i));
        cr_assert_eq(s->status, OWL_SPAN_FAULT); /* ERROR, no HTTP status */
        cr_assert_eq(s->duration_ns, 5000);
        STR_EQ(s->service, "service-x");
        cr_assert(s->peer_service.n > 0);
        char *j = attrs_json(s);
        cr_assert(strstr(j, "\"events\" : [ {") && strstr(j, "\"links\" : [ {"), "%s", j);
        bson_free(j);
    }
    owl_span_decoded_free(&d);

    body = read_data("jaeger/jaeger-ui_otlp2jaeger-multi-in-combined.json");
    decode_json(body, &d);
    free(body);
    cr_assert_eq(d.n, 4, "%s", d.message);
    size_t roots = 0;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(memcmp(d.spans[i].trace_id, d.spans[0].trace_id, 16), 0);
        roots += owl_traceid_is_zero(d.spans[i].parent_id, 8);
    }
    cr_assert_eq(roots, 1);
    STR_EQ(d.spans[3].name, "main");
    owl_span_decoded_free(&d);
}

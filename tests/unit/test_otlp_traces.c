/* test_otlp_traces.c — OTLP traces decoding (ingest/otlp_traces.c) and the trace-id mapping
 * (common/traceid.c): protobuf requests built with the generated protobuf-c structs and
 * packed, the same spans written in OTLP JSON by hand; every mapping rule of docs/otlp.md's
 * traces section (ids, kinds, times, status, HTTP fields in both semantic conventions, peer
 * service, attrs with events, exceptions, links and every AnyValue type), spans refused one
 * by one beside kept ones, bodies refused whole, the answers, the OTLP project's examples.
 * Every request decoded here is also decoded by each path alone: the fast path must give the
 * general path's result or decline; which bodies it takes and declines is tested last. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/traceid.h"
#include "common/util.h"
#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "tests/unit/testfs.h"
#include "tests/unit/wirebuf.h"
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

/* ---- the two paths: the same result, or the fast one declines ---- */

/* x and y hold the same records (every field, texts and documents byte for byte), refusals
 * and first refusal message. */
static void assert_same(const owl_span_decoded *x, const owl_span_decoded *y)
{
    cr_assert_eq(x->n, y->n, "%zu records against %zu", x->n, y->n);
    cr_assert_eq(x->rejected, y->rejected);
    cr_assert_str_eq(x->message, y->message);
    for (size_t i = 0; i < x->n; i++) {
        const owl_span *a = &x->spans[i], *b = &y->spans[i];
        cr_assert_eq(memcmp(a->trace_id, b->trace_id, 16), 0, "span %zu", i);
        cr_assert_eq(memcmp(a->span_id, b->span_id, 8), 0, "span %zu", i);
        cr_assert_eq(memcmp(a->parent_id, b->parent_id, 8), 0, "span %zu", i);
        cr_assert_eq(a->kind, b->kind, "span %zu", i);
        cr_assert_eq(a->start_ns, b->start_ns, "span %zu", i);
        cr_assert_eq(a->duration_ns, b->duration_ns, "span %zu", i);
        cr_assert_eq(a->status, b->status, "span %zu", i);
        cr_assert_eq(a->status_code, b->status_code, "span %zu", i);
        cr_assert_eq(a->http_status, b->http_status, "span %zu", i);
        cr_assert_eq(a->in_progress, b->in_progress, "span %zu", i);
        const owl_bytes *fa[] = {&a->service, &a->name, &a->status_message, &a->http_method,
                                 &a->route, &a->url, &a->peer_service, &a->user_agent,
                                 &a->client_ip, &a->attrs, &a->resource};
        const owl_bytes *fb[] = {&b->service, &b->name, &b->status_message, &b->http_method,
                                 &b->route, &b->url, &b->peer_service, &b->user_agent,
                                 &b->client_ip, &b->attrs, &b->resource};
        for (size_t k = 0; k < sizeof fa / sizeof *fa; k++)
            cr_assert(same_bytes(*fa[k], *fb[k]), "span %zu field %zu differs", i, k);
    }
}

/* Decodes the JSON body p[0..n) by the direct path alone, by the wire path (the body
 * transcoded, then the fast path or the general one: what owld did before the direct path)
 * and by the general path alone: the direct path declines (OWL_EUNSUPPORTED, nothing
 * decoded) or gives exactly the other two's result; a body the wire path refuses is
 * declined. Returns the direct path's answer. */
static int direct_and_wire(const void *p, size_t n, size_t max)
{
    owl_span_decoded d = {0}, w = {0}, g = {0};
    owl_error ed = {0}, ew = {0}, eg = {0};
    int rd = owl_otlp_traces_decode_path(OWL_OTLP_JSON, p, n, max, OWL_OTLP_DIRECT, &d, &ed);
    int rw = owl_otlp_traces_decode_path(OWL_OTLP_JSON, p, n, max, OWL_OTLP_WIRE, &w, &ew);
    int rg = owl_otlp_traces_decode_path(OWL_OTLP_JSON, p, n, max, OWL_OTLP_GENERAL, &g, &eg);
    if (rd == OWL_OK) {
        cr_assert_eq(rw, OWL_OK, "the direct path took a body the wire path refused: %s",
                     ew.msg);
        cr_assert_eq(rg, OWL_OK, "the direct path took a body the general path refused: %s",
                     eg.msg);
        assert_same(&d, &w);
        assert_same(&d, &g);
    } else {
        cr_assert_eq(rd, OWL_EUNSUPPORTED, "the direct path refused instead of declining: %s",
                     ed.msg);
        cr_assert_eq(d.n + d.rejected, 0, "a declined decode holds records");
    }
    owl_span_decoded_free(&d);
    owl_span_decoded_free(&w);
    owl_span_decoded_free(&g);
    return rd;
}

/* Decodes p[0..n) by the fast path alone and by the general path alone: the fast one
 * declines (OWL_EUNSUPPORTED) or gives the general one's result; a body the general path
 * refuses is declined. Returns the fast path's answer. */
static int both_paths(enum owl_otlp_encoding enc, const void *p, size_t n, size_t max)
{
    owl_span_decoded f = {0}, g = {0};
    owl_error ef = {0}, eg = {0};
    int rf = owl_otlp_traces_decode_path(enc, p, n, max, OWL_OTLP_FAST, &f, &ef);
    int rg = owl_otlp_traces_decode_path(enc, p, n, max, OWL_OTLP_GENERAL, &g, &eg);
    if (rf == OWL_OK) {
        cr_assert_eq(rg, OWL_OK, "the fast path took a body the general one refused: %s",
                     eg.msg);
        assert_same(&f, &g);
    } else if (!(enc == OWL_OTLP_JSON && rf == rg)) { /* JSON's transcoding refuses for both */
        cr_assert_eq(rf, OWL_EUNSUPPORTED, "the fast path refused instead of declining: %s",
                     ef.msg);
    }
    if (rf != OWL_OK)
        cr_assert_eq(f.n + f.rejected, 0, "a declined decode holds records");
    owl_span_decoded_free(&f);
    owl_span_decoded_free(&g);
    if (enc == OWL_OTLP_JSON)
        direct_and_wire(p, n, max);
    return rf;
}

static void decode_pb(const uint8_t *p, size_t n, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, p, n, MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    both_paths(OWL_OTLP_PROTOBUF, p, n, MAX);
}

static void decode_json(const char *s, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_traces_decode(OWL_OTLP_JSON, s, strlen(s), MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    both_paths(OWL_OTLP_JSON, s, strlen(s), MAX);
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
    assert_same(&dj, &dp);
    for (size_t i = 1; i < 3; i++) /* the resource's one copy of its service name */
        cr_assert(dp.spans[i].service.p == dp.spans[0].service.p &&
                  dj.spans[i].service.p == dj.spans[0].service.p);
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
    if (enc == OWL_OTLP_PROTOBUF || enc == OWL_OTLP_JSON)
        cr_assert_neq(both_paths(enc, p, n, MAX), OWL_OK);
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
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, p, n, 2), OWL_EUNSUPPORTED);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, p, n, 3), OWL_OK);
    free(p);
    owl_span_decoded_free(&d);
    owl_span_decoded_free(NULL);
    /* an empty request is a valid one */
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_JSON, "{}", 2, 3, &d, &err), OWL_OK);
    cr_assert_eq(d.n + d.rejected, 0);
    owl_span_decoded_free(&d);
}

/* ---- real data: the OTLP project's example and Jaeger's fixtures ($OWL_TEST_DATA/otlp) ---- */

Test(otlp_traces, specification_example)
{
    owl_span_decoded d;
    char *body = test_data("otlp/opentelemetry-proto/trace.json", 1u << 20, NULL);
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
    char *body = test_data("otlp/jaeger/memory_otel_traces_01.json", 1u << 20, NULL);
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

    body = test_data("otlp/jaeger/jaeger-ui_otlp2jaeger-multi-in-combined.json", 1u << 20, NULL);
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

/* ---- the protobuf fast path (otlp_traces.c) ---- */

static Scope *scope_of(const char *name, Span **spans, size_t n)
{
    Scope *sc = malloc(sizeof *sc);
    opentelemetry__proto__trace__v1__scope_spans__init(sc);
    if (name) {
        sc->scope = malloc(sizeof *sc->scope);
        opentelemetry__proto__common__v1__instrumentation_scope__init(sc->scope);
        sc->scope->name = strdup(name);
        KV *a[1] = {kv("scope.attr", av_int(3))};
        sc->scope->attributes = dup_ptrs((void *const *)a, 1);
        sc->scope->n_attributes = 1;
    }
    sc->spans = dup_ptrs((void *const *)spans, n);
    sc->n_spans = n;
    return sc;
}

/* A resource of attributes a[0..na) (none at all when a is NULL) and scopes sc[0..n). */
static Res *res_of(KV **a, size_t na, Scope **sc, size_t n)
{
    Res *r = malloc(sizeof *r);
    opentelemetry__proto__trace__v1__resource_spans__init(r);
    if (a) {
        r->resource = malloc(sizeof *r->resource);
        opentelemetry__proto__resource__v1__resource__init(r->resource);
        r->resource->attributes = dup_ptrs((void *const *)a, na);
        r->resource->n_attributes = na;
    }
    r->scope_spans = dup_ptrs((void *const *)sc, n);
    r->n_scope_spans = n;
    return r;
}

static size_t pack_req(Res **rs, size_t n, uint8_t **out)
{
    Req *q = malloc(sizeof *q);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(q);
    q->resource_spans = dup_ptrs((void *const *)rs, n);
    q->n_resource_spans = n;
    size_t len = protobuf_c_message_get_packed_size(&q->base);
    *out = malloc(len + 1);
    protobuf_c_message_pack(&q->base, *out);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return len;
}

static Event *event_of(const char *name, uint64_t t, KV **a, size_t n)
{
    Event *e = malloc(sizeof *e);
    opentelemetry__proto__trace__v1__span__event__init(e);
    e->name = strdup(name);
    e->time_unix_nano = t;
    e->attributes = dup_ptrs((void *const *)a, n);
    e->n_attributes = n;
    return e;
}

static Link *link_of(const char *trace, const char *sid, KV **a, size_t n)
{
    Link *l = malloc(sizeof *l);
    opentelemetry__proto__trace__v1__span__link__init(l);
    unhex(trace, &l->trace_id);
    unhex(sid, &l->span_id);
    l->attributes = dup_ptrs((void *const *)a, n);
    l->n_attributes = n;
    return l;
}

/* A span holding every field the fast path reads and attributes of every kind of value. */
static Span *full_span(void)
{
    Span *s = span(TRACE_HEX, SPAN_HEX, PARENT_HEX, "POST /cart \xff", 2, 1700000000000000000ull,
                   1700000000250000000ull);
    s->trace_state = strdup("a=1,b=\xc3");
    s->flags = 0x301;
    AV *b = av(AV_(BOOL_VALUE)), *d = av(AV_(DOUBLE_VALUE)), *nan_ = av(AV_(DOUBLE_VALUE));
    AV *y = av(AV_(BYTES_VALUE)), *arr = av(AV_(ARRAY_VALUE));
    AV *kvl = av(AV_(KVLIST_VALUE)), *empty = av(AV_(_NOT_SET));
    b->bool_value = 1;
    d->double_value = -2.5;
    nan_->double_value = NAN;
    y->bytes_value.len = 3;
    y->bytes_value.data = malloc(3);
    memcpy(y->bytes_value.data, "\0\1\xff", 3);
    arr->array_value = malloc(sizeof *arr->array_value);
    opentelemetry__proto__common__v1__array_value__init(arr->array_value);
    AV *items[2] = {av_int(1), av_str("two")};
    arr->array_value->values = dup_ptrs((void *const *)items, 2);
    arr->array_value->n_values = 2;
    kvl->kvlist_value = malloc(sizeof *kvl->kvlist_value);
    opentelemetry__proto__common__v1__key_value_list__init(kvl->kvlist_value);
    KV *in[1] = {kv("in", av_str("side"))};
    kvl->kvlist_value->values = dup_ptrs((void *const *)in, 1);
    kvl->kvlist_value->n_values = 1;
    KV *a[] = {kv("http.request.method", av_str("POST")),
               kv("http.response.status_code", av_int(503)),
               kv("url.full", av_str("http://shop/cart?x=1")),
               kv("http.route", NULL), /* no value: null, and not the route */
               kv("http.route", av_str("/cart")),
               kv("http.route", av_str("/second")), /* a key given twice is kept twice */
               kv("user_agent.original", av_str("curl/8 \xfe")),
               kv("client.address", av_str("10.0.0.1")),
               kv("peer.service", av_str("billing")),
               kv("flag", b), kv("ratio", d), kv("nan", nan_), kv("raw", y), kv("list", arr),
               kv("map", kvl), kv("empty", empty), kv("bad \xc0 key", av_str("bad \xe2\x82 value")),
               kv("neg", av_int(-9007199254740993ll)), kv("", av_str("no key"))};
    span_attrs(s, a, sizeof a / sizeof *a);
    s->dropped_attributes_count = 3;
    AV *esc = av(AV_(BOOL_VALUE));
    esc->bool_value = 1;
    KV *ea[] = {kv("exception.type", av_str("IOError")), kv("exception.message", av_str("disk")),
                kv("exception.stacktrace", av_str("at x\nat y")), kv("exception.escaped", esc)};
    KV *ea2[1] = {kv("retry", av_int(2))};
    Event *ev[2] = {event_of("exception", 1700000000100000000ull, ea, 4),
                    event_of("retry", 1700000000200000000ull, ea2, 1)};
    ev[1]->dropped_attributes_count = 1;
    s->events = dup_ptrs((void *const *)ev, 2);
    s->n_events = 2;
    s->dropped_events_count = 4;
    KV *la[1] = {kv("l", av_int(1))};
    Link *ln[2] = {link_of("0102030405060708090a0b0c0d0e0f10", "0102030405060708", la, 1),
                   link_of(TRACE_HEX, PARENT_HEX, NULL, 0)};
    ln[1]->trace_state = strdup("k=v");
    ln[1]->flags = 1;
    ln[1]->dropped_attributes_count = 7;
    s->links = dup_ptrs((void *const *)ln, 2);
    s->n_links = 2;
    s->dropped_links_count = 5;
    span_status(s, 2, "boom \xff");
    return s;
}

Test(otlp_traces, fast_path_reads_the_common_records)
{
    /* built by protobuf-c: every field, several resources and scopes, a refusal among them */
    Span *s1[4] = {full_span(),
                   span(TRACE_HEX, "0000000000000002", SPAN_HEX, "SELECT", 3, 10, 20),
                   span(TRACE_HEX, "0000000000000003", NULL, "bad kind", -1, 10, 20),
                   span(TRACE_HEX, "0000000000000004", NULL, "send", 4, 10, 20)};
    KV *db[4] = {kv("db.system", av_str("postgresql")), kv("db.name", av_str("orders")),
                 kv("http.status_code", av_str("404")), kv("http.target", av_str("/q?x#f"))};
    span_attrs(s1[1], db, 4);
    KV *mq[2] = {kv("messaging.system", av_str("kafka")),
                 kv("messaging.destination.name", av_str("orders"))};
    span_attrs(s1[3], mq, 2);
    span_status(s1[3], 1, NULL);
    Span *s2[1] = {span(TRACE_HEX, "0000000000000005", NULL, "internal", 1, 10, 20)};
    KV *ad[1] = {kv("server.address", av_str("me"))};
    span_attrs(s2[0], ad, 1);
    Span *s3[1] = {span(TRACE_HEX, "0000000000000006", NULL, "other", 0, 10, 10)};
    Scope *sc1[2] = {scope_of("lib", s1, 4), scope_of(NULL, s2, 1)};
    Scope *sc2[1] = {scope_of("other", s3, 1)};
    KV *ra[3] = {kv("service.name", av_str("checkout \xff")), kv("host.name", av_str("h1")),
                 kv("n", av_int(1))};
    Res *rs[3] = {res_of(ra, 3, sc1, 2), res_of(NULL, 0, sc2, 1), res_of(NULL, 0, NULL, 0)};
    uint8_t *p;
    size_t n = pack_req(rs, 3, &p);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, p, n, MAX), OWL_OK);
    owl_span_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.n, 5);
    cr_assert_eq(d.rejected, 1);
    cr_assert_str_eq(d.message, "resource 0 scope 0 span 2: kind -1 is not a SpanKind");
    STR_EQ(d.spans[0].service, "checkout \xef\xbf\xbd");
    cr_assert(d.spans[1].service.p == d.spans[0].service.p, "one copy per resource");
    STR_EQ(d.spans[0].route, "/cart");
    STR_EQ(d.spans[0].peer_service, "billing");
    STR_EQ(d.spans[1].peer_service, "postgresql:orders");
    STR_EQ(d.spans[1].route, "/q");
    cr_assert_eq(d.spans[1].http_status, 404);
    STR_EQ(d.spans[2].peer_service, "kafka:orders");
    STR_EQ(d.spans[3].peer_service, "");
    STR_EQ(d.spans[4].service, "unknown_service");
    char *j = attrs_json(&d.spans[0]);
    cr_assert(strstr(j, "\"http.route\" : null, \"http.route\" : \"/cart\", \"http.route\" : "
                        "\"/second\""), "%s", j);
    cr_assert(strstr(j, "\"empty\" : null") && strstr(j, "\"\" : \"no key\""), "%s", j);
    bson_free(j);
    owl_span_decoded_free(&d);

    /* by hand: fields out of order and given twice (the last counts), unknown fields of every
     * wire type at every level, the value kinds' odd encodings, a scope after its spans and a
     * resource after its scopes, a KeyValue whose texts hold a NUL (protobuf-c reads it) */
    wb sp = {.n = 0}, st = {.n = 0}, any = {.n = 0}, kvm = {.n = 0}, sl = {.n = 0},
       rl = {.n = 0}, req = {.n = 0}, res = {.n = 0}, scope = {.n = 0}, ev = {.n = 0};
    wb_tag(&st, 1, 0), wb_varint(&st, 5); /* reserved field 1: unknown */
    wb_tag(&st, 3, 0), wb_varint(&st, 1);
    wb_str(&st, 2, "first");
    wb_str(&st, 2, "last message");
    wb_tag(&st, 3, 0), wb_varint(&st, 2);
    wb_sub(&sp, 15, &st);
    wb_tag(&sp, 99, 0), wb_varint(&sp, 1);
    wb_tag(&sp, 98, 5), wb_put(&sp, "abcd", 4);
    wb_fixed64(&sp, 97, 1);
    wb_str(&sp, 96, "unknown");
    wb_kv(&sp, 9, "http.request.method", "GET");
    wb_str(&sp, 5, "old name");
    wb_fixed64(&sp, 8, 3000);
    wb_fixed64(&sp, 7, 1000);
    wb_str(&sp, 5, "op");
    wb_tag(&sp, 6, 0), wb_varint(&sp, 1);
    wb_tag(&sp, 6, 0), wb_varint(&sp, 3); /* client */
    wb_ld(&sp, 1, "\1\2\3", 3);
    wb_ld(&sp, 1, "\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16);
    wb_ld(&sp, 2, "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8);
    wb_tag(&sp, 16, 5), wb_put(&sp, "\1\1\0\0", 4);
    wb_tag(&sp, 10, 0), wb_varint(&sp, 0x100000002ull); /* uint32: the low 32 bits */
    wb_tag(&sp, 12, 0), wb_varint(&sp, 4);
    wb_tag(&sp, 14, 0), wb_varint(&sp, 5);
    /* field 2^29 + 7: unknown to protobuf-c, not start_time_unix_nano (7) */
    wb_tag(&sp, 0x20000007u, 1), wb_put(&sp, "\1\0\0\0\0\0\0\0", 8);
    /* values: a string then an int (the int wins), unknown fields, bools of odd varints, a
     * negative int, a NaN with a payload, a key given twice, no value, an empty value */
    wb_str(&any, 1, "replaced");
    wb_tag(&any, 3, 0), wb_varint(&any, (uint64_t)-7);
    wb_tag(&any, 50, 0), wb_varint(&any, 1);
    wb_tag(&any, 51, 5), wb_put(&any, "abcd", 4);
    wb_fixed64(&any, 52, 9);
    wb_str(&any, 53, "x");
    wb_str(&kvm, 1, "first key");
    wb_sub(&kvm, 2, &any);
    wb_str(&kvm, 1, "int");
    wb_tag(&kvm, 40, 0), wb_varint(&kvm, 1);
    wb_sub(&sp, 9, &kvm);
    static const struct {
        const char *key, *val;
        size_t n;
    } vals[] = {
        {"t2", "\x10\x80\x01", 3},                                 /* bool 128: true */
        {"f2", "\x10\x80\x00", 3},                                 /* bool, two bytes: false */
        {"t10", "\x10\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 11}, /* bit 65 only: true */
        {"nan", "\x21\x01\x00\x00\x00\x00\x00\xf8\x7f", 9},
        {"s", "\x0a\x00", 2}, /* an empty string */
        {"e", "", 0},         /* an empty AnyValue */
    };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        wb one = {.n = 0}, v = {.n = 0};
        wb_put(&v, vals[i].val, vals[i].n);
        wb_str(&one, 1, vals[i].key);
        wb_sub(&one, 2, &v);
        wb_sub(&sp, 9, &one);
    }
    wb kn = {.n = 0}, kz = {.n = 0}, kp = {.n = 0}, vz = {.n = 0};
    wb_str(&kn, 1, "no value");
    wb_sub(&sp, 9, &kn);
    wb_ld(&kz, 1, "nul\0key", 7); /* protobuf-c's key ends at the NUL */
    wb_ld(&vz, 1, "nul\0value", 9);
    wb_sub(&kz, 2, &vz);
    wb_sub(&sp, 9, &kz);
    wb km = {.n = 0}, va = {.n = 0}, vnone = {.n = 0};
    wb_str(&km, 1, "merged"); /* a value given twice: protobuf-c merges them */
    wb_tag(&va, 3, 0), wb_varint(&va, 5);
    wb_sub(&km, 2, &va);
    wb_sub(&km, 2, &vnone);
    wb_sub(&sp, 9, &km);
    wb_str(&kp, 1, "padded"); /* a length as the JSON fast path writes it */
    wb_tag(&kp, 2, 2), wb_put(&kp, "\x83\x80\x80\x80\x00", 5), wb_put(&kp, "\x0a\x01x", 3);
    wb_sub(&sp, 9, &kp);
    wb_fixed64(&ev, 1, 2000);
    wb_str(&ev, 2, "exception");
    wb_kv(&ev, 3, "exception.type", "E");
    wb_sub(&sp, 11, &ev);
    wb zero_id = sp; /* the span twice: the second refused for its zero span id */
    wb_sub(&sl, 2, &sp);
    wb_ld(&zero_id, 2, "\0\0\0\0\0\0\0\0", 8);
    wb_sub(&sl, 2, &zero_id);
    wb_str(&scope, 1, "late scope");
    wb_str(&scope, 2, "9");
    wb_sub(&sl, 1, &scope);
    wb_str(&sl, 3, "https://schema");
    wb_tag(&sl, 70, 0), wb_varint(&sl, 1);
    wb_sub(&rl, 2, &sl);
    wb_kv(&res, 1, "service.name", "late");
    wb_sub(&rl, 1, &res);
    wb_str(&rl, 3, "https://schema");
    wb_tag(&rl, 1000, 5), wb_put(&rl, "abcd", 4); /* reserved: unknown */
    wb_sub(&req, 1, &rl);
    wb_tag(&req, 7, 0), wb_varint(&req, 1);
    wb_sub(&req, 1, &rl);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, MAX), OWL_OK);
    decode_pb(req.b, req.n, &d);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.rejected, 2);
    cr_assert_str_eq(d.message, "resource 0 scope 0 span 1: span_id is all zero");
    const owl_span *s = &d.spans[0];
    STR_EQ(s->name, "op");
    STR_EQ(s->service, "late");
    cr_assert_eq(s->kind, OWL_SPAN_CLIENT);
    cr_assert_eq(s->start_ns, 1000);
    cr_assert_eq(s->duration_ns, 2000);
    cr_assert_eq(s->status_code, 2);
    STR_EQ(s->status_message, "last message");
    STR_EQ(s->http_method, "GET");
    j = attrs_json(s);
    cr_assert(strstr(j, "\"int\" : -7, \"t2\" : true, \"f2\" : false, \"t10\" : true, "
                        "\"nan\" : { \"$numberDouble\" : \"NaN\" }, \"s\" : \"\", \"e\" : null, "
                        "\"no value\" : null, "
                        "\"nul\" : \"nul\", \"merged\" : "),
              "%s", j);
    cr_assert(strstr(j, "\"padded\" : \"x\" }"), "%s", j); /* merged: as protobuf-c merges */
    cr_assert(strstr(j, "\"flags\" : 257, \"dropped_attributes_count\" : 2, "
                        "\"dropped_events_count\" : 4, \"dropped_links_count\" : 5"),
              "%s", j);
    bson_free(j);
    owl_span_decoded_free(&d);

    /* the JavaScript SDK's JSON export, through JSON's transcoding */
    char path[4096], *body = NULL;
    size_t len;
    const char *src = getenv("OWL_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/otlp/sdk_traces_json.json",
             src ? src : "..");
    cr_assert_eq(owl_read_file(path, 1u << 20, &body, &len, NULL), OWL_OK, "%s", path);
    cr_assert_eq(both_paths(OWL_OTLP_JSON, body, len, MAX), OWL_OK);
    free(body);
    cr_assert_eq(both_paths(OWL_OTLP_JSON, both_json, strlen(both_json), MAX), OWL_OK);
}

/* A valid span named name, with the bytes extra (more fields) after its own. */
static void wb_span(wb *ss, const char *name, const wb *extra)
{
    wb s = {.n = 0};
    wb_ld(&s, 1, "\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16);
    wb_ld(&s, 2, "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8);
    wb_str(&s, 5, name);
    wb_tag(&s, 6, 0), wb_varint(&s, 2);
    wb_fixed64(&s, 7, 1000);
    wb_fixed64(&s, 8, 2000);
    if (extra)
        wb_put(&s, extra->b, extra->n);
    wb_sub(ss, 2, &s);
}

/* A request of one resource (service.name = svc) and one ScopeSpans of the given bytes. */
static void wb_request(wb *req, const wb *scope_spans)
{
    wb res = {.n = 0}, rs = {.n = 0};
    wb_kv(&res, 1, "service.name", "svc");
    wb_sub(&rs, 1, &res);
    wb_sub(&rs, 2, scope_spans);
    req->n = 0;
    wb_sub(req, 1, &rs);
}

/* req is declined by the fast path, and what owld answers is the general path's. */
static void declined(const wb *req, size_t max, const char *what)
{
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req->b, req->n, max), OWL_EUNSUPPORTED, "%s",
                 what);
    owl_span_decoded a = {0}, g = {0};
    owl_error ea = {0}, eg = {0};
    int ra = owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, req->b, req->n, max, &a, &ea);
    int rg = owl_otlp_traces_decode_path(OWL_OTLP_PROTOBUF, req->b, req->n, max,
                                         OWL_OTLP_GENERAL, &g, &eg);
    cr_assert_eq(ra, rg, "%s", what);
    if (ra == OWL_OK)
        assert_same(&a, &g);
    else
        cr_assert_str_eq(ea.msg, eg.msg, "%s", what);
    owl_span_decoded_free(&a);
    owl_span_decoded_free(&g);
}

Test(otlp_traces, fast_path_declines_what_it_does_not_read)
{
    static const struct {
        const char *what;
        const char *extra; /* bytes appended to a span's */
        size_t n;
    } cases[] = {
        {"a status given twice (protobuf-c merges them)", "\x7a\x02\x18\x01\x7a\x02\x18\x02", 8},
        {"a name holding a NUL", "\x2a\x03x\0y", 5},
        {"a trace state holding a NUL", "\x1a\x02a\0", 4},
        {"a status message holding a NUL", "\x7a\x04\x12\x02m\0", 6},
        {"kind as a string", "\x32\x01x", 3},
        {"a start time as a varint", "\x38\x05", 2},
        {"a trace id as a varint", "\x08\x05", 2},
        {"flags as a varint", "\x80\x01\x05", 3},
        {"attributes as a varint", "\x48\x05", 2},
        {"a status code as a string", "\x7a\x03\x1a\x01x", 5},
        {"a status message as a varint", "\x7a\x02\x10\x01", 4},
        {"a group (wire type 3)", "\x9b\x06\x9c\x06", 4},
        {"wire type 7", "\x0f", 1},
        {"field 0", "\x00\x01", 2},
        {"a truncated fixed64", "\x39\x01\x02", 3},
        {"a length past the end", "\x2a\x09x", 3},
        {"a tag of six bytes", "\x80\x80\x80\x80\x80\x01", 6},
        {"a varint of eleven bytes", "\x30\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12},
        {"an unknown varint of eleven bytes",
         "\x98\x06\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 13},
        {"a length of six bytes", "\x2a\x81\x80\x80\x80\x80\x00", 7},
        {"an attribute protobuf-c refuses", "\x4a\x02\x08\x01", 4},
        {"an attribute value protobuf-c refuses", "\x4a\x04\x12\x02\x0a\x05", 6},
        {"an event protobuf-c refuses", "\x5a\x02\x08\x01", 4},
        {"a link protobuf-c refuses", "\x6a\x02\x08\x01", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        wb ss = {.n = 0}, extra = {.n = 0}, req = {.n = 0};
        wb_put(&extra, cases[i].extra, cases[i].n);
        wb_span(&ss, "kept", NULL);
        wb_span(&ss, "x", &extra);
        wb_request(&req, &ss);
        declined(&req, MAX, cases[i].what);
    }
    /* an attribute nested deeper than OTLP_MAX_DEPTH */
    wb deep = {.n = 0}, ss = {.n = 0}, req = {.n = 0}, extra = {.n = 0};
    for (int i = 0; i < 40; i++) {
        wb arr = {.n = 0}, any = {.n = 0};
        wb_sub(&arr, 1, &deep);
        wb_sub(&any, 5, &arr);
        deep = any;
    }
    wb kvd = {.n = 0};
    wb_str(&kvd, 1, "deep");
    wb_sub(&kvd, 2, &deep);
    wb_sub(&extra, 9, &kvd);
    wb_span(&ss, "x", &extra);
    wb_request(&req, &ss);
    declined(&req, MAX, "an attribute nested past the limit");
    /* one level up: a scope or a resource given twice, a schema_url of another type, an
     * unknown group in the request */
    wb sc = {.n = 0}, rs = {.n = 0}, res = {.n = 0};
    ss.n = 0;
    wb_str(&sc, 1, "lib");
    wb_sub(&ss, 1, &sc);
    wb_sub(&ss, 1, &sc);
    wb_span(&ss, "x", NULL);
    wb_request(&req, &ss);
    declined(&req, MAX, "a scope given twice");
    ss.n = 0;
    wb_span(&ss, "x", NULL);
    wb_tag(&ss, 3, 0), wb_varint(&ss, 1);
    wb_request(&req, &ss);
    declined(&req, MAX, "a schema_url as a varint");
    ss.n = 0;
    wb_span(&ss, "x", NULL);
    wb_kv(&res, 1, "service.name", "a");
    wb_sub(&rs, 1, &res);
    wb_sub(&rs, 1, &res);
    wb_sub(&rs, 2, &ss);
    req.n = 0;
    wb_sub(&req, 1, &rs);
    declined(&req, MAX, "a resource given twice");
    wb_request(&req, &ss);
    wb_put(&req, "\x1b\x1c", 2);
    declined(&req, MAX, "a group in the request");
    /* more spans than allowed: declined, and refused whole by the general path */
    ss.n = 0;
    for (int i = 0; i < 3; i++)
        wb_span(&ss, "x", NULL);
    wb_request(&req, &ss);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, 3), OWL_OK);
    declined(&req, 2, "more spans than allowed");
    owl_span_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_PROTOBUF, req.b, req.n, 2, &d, &err),
                 OWL_ETOOBIG);
    cr_assert_str_eq(err.msg, "3 spans in one request (at most 2)");
    owl_span_decoded_free(&d);
}

/* ---- the JSON direct path (otlp_traces.c) ---- */

/* events and links of each kind, an exception among them */
static const char jaeger_like[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
    "\"value\":{\"stringValue\":\"s\"}},{\"key\":\"list\",\"value\":{\"arrayValue\":"
    "{\"values\":[{\"intValue\":1}]}}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\""
    TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"name\":\"op\",\"kind\":4,"
    "\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"3000\",\"events\":[{\"name\":"
    "\"exception\",\"timeUnixNano\":\"2000\",\"attributes\":[{\"key\":\"exception.type\","
    "\"value\":{\"stringValue\":\"E\"}},{\"key\":\"x\",\"value\":{\"kvlistValue\":"
    "{\"values\":[]}}}],\"droppedAttributesCount\":1},{}],\"links\":[{\"traceId\":\""
    TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\",\"traceState\":\"t\",\"flags\":1}],"
    "\"status\":{\"code\":2}}]}]}]}";

/* A request of one span whose fields after its own are extra (a JSON text starting with a
 * comma, or ""), its resource and scope members res and scope ("" for none). */
static char *direct_body(const char *res, const char *scope, const char *extra)
{
    static char body[8192];
    snprintf(body, sizeof body,
             "{\"resourceSpans\":[{%s\"scopeSpans\":[{%s\"spans\":[{\"traceId\":\"" TRACE_HEX
             "\",\"spanId\":\"" SPAN_HEX "\",\"name\":\"op\",\"kind\":2,"
             "\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"3000\"%s}]}]}]}",
             res, scope, extra);
    return body;
}

static int direct(const char *body)
{
    return direct_and_wire(body, strlen(body), MAX);
}

Test(otlp_traces, direct_path_reads_what_sdks_send)
{
    static const char res[] = "\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                              "\"value\":{\"stringValue\":\"svc\"}}],"
                              "\"droppedAttributesCount\":1},";
    static const char scope[] = "\"scope\":{\"name\":\"lib\",\"version\":\"1\"},";
    static const char *const takes[] = {
        "",
        ",\"parentSpanId\":\"" PARENT_HEX "\"",
        ",\"parentSpanId\":\"\",\"traceState\":\"k=v\",\"flags\":257",
        ",\"status\":{\"code\":2,\"message\":\"boom\"}",
        ",\"status\":{},\"events\":[],\"links\":[ ]",
        ",\"status\":null,\"events\":null,\"links\":null,\"traceState\":null",
        ",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}},"
        "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"404\"}},"
        "{\"key\":\"b\",\"value\":{\"boolValue\":true}},{\"key\":\"f\",\"value\":"
        "{\"boolValue\":false}},{\"key\":\"d\",\"value\":{\"doubleValue\":1.5}},"
        "{\"key\":\"n\",\"value\":{\"doubleValue\":\"NaN\"}},{\"key\":\"i\",\"value\":"
        "{\"intValue\":-7}},{\"key\":\"e\",\"value\":{}},{\"key\":\"none\"},"
        "{\"key\":\"nv\",\"value\":null},{\"value\":{\"stringValue\":\"no key\"}},"
        "{\"key\":\"sn\",\"value\":{\"stringValue\":null,\"intValue\":3}},"
        "{\"key\":\"url.full\",\"value\":{\"stringValue\":\"http://h/a/b?q\"}}]",
        ",\"attributes\":[{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"db\"}},"
        "{\"key\":\"esc\\u00e9\\n\",\"value\":{\"stringValue\":\"caf\\u00e9 \\\"q\\\"\"}},"
        "{\"key\":\"utf8 \xc3\xa9\",\"value\":{\"stringValue\":\"\xe2\x82\xac\"}}]",
        ",\"droppedAttributesCount\":4294967295,\"droppedEventsCount\":4,"
        "\"droppedLinksCount\":5",
        " , \"flags\" : 3 ,\n \"traceState\" : \"x\" ",
    };
    owl_span_decoded d = {0};
    owl_error err = {0};
    for (size_t i = 0; i < sizeof takes / sizeof *takes; i++) {
        cr_assert_eq(direct(direct_body(res, scope, takes[i])), OWL_OK, "case %zu", i);
        cr_assert_eq(direct(direct_body("", "", takes[i])), OWL_OK, "case %zu", i);
    }
    /* whitespace everywhere, fields in another order, a scope and resource left out */
    static const char spaced[] =
        " {\n \"resourceSpans\" : [ { \"scopeSpans\" : [ { \"spans\" : [ { \"name\" : \"op\" ,"
        " \"endTimeUnixNano\" : 3000 , \"startTimeUnixNano\" : \"1000\" , \"kind\" : 1 ,"
        " \"spanId\" : \"" SPAN_HEX "\" , \"traceId\" : \"5B8EFFF798038103D269B633813FC60C\" ,"
        " \"attributes\" : [ { \"value\" : { \"intValue\" : 5 } , \"key\" : \"k\" } ] } ] ,"
        " \"schemaUrl\" : \"u\" } ] , \"schemaUrl\" : \"u\" } ]\t}\r\n";
    cr_assert_eq(direct(spaced), OWL_OK);
    cr_assert_eq(direct("{}"), OWL_OK);
    cr_assert_eq(direct("{\"resourceSpans\":[]}"), OWL_OK);
    cr_assert_eq(direct("{\"resourceSpans\":[{}]}"), OWL_OK);
    cr_assert_eq(direct("{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"scope\":{},"
                        "\"spans\":[]}]}]}"),
                 OWL_OK);
    /* several resources and scopes: each span gets its own service and document */
    char many[4096];
    snprintf(many, sizeof many,
             "{\"resourceSpans\":[{%s\"scopeSpans\":[{%s\"spans\":[%s,%s]},{\"spans\":[%s]}]},"
             "{\"scopeSpans\":[{%s\"spans\":[%s]}]}]}",
             res, scope, "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\","
             "\"name\":\"a\",\"startTimeUnixNano\":1,\"endTimeUnixNano\":2}",
             "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" PARENT_HEX "\","
             "\"name\":\"b\",\"startTimeUnixNano\":1,\"endTimeUnixNano\":2}",
             "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\","
             "\"name\":\"c\",\"startTimeUnixNano\":1,\"endTimeUnixNano\":2}",
             scope, "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\","
             "\"name\":\"d\",\"startTimeUnixNano\":1,\"endTimeUnixNano\":2}");
    cr_assert_eq(direct(many), OWL_OK);
    cr_assert_eq(owl_otlp_traces_decode_path(OWL_OTLP_JSON, many, strlen(many), MAX,
                                             OWL_OTLP_DIRECT, &d, &err),
                 OWL_OK);
    cr_assert_eq(d.n, 4);
    STR_EQ(d.spans[2].service, "svc");
    STR_EQ(d.spans[3].service, "unknown_service");
    cr_assert(d.spans[0].resource.p == d.spans[1].resource.p); /* one copy a scope */
    cr_assert(!same_bytes(d.spans[1].resource, d.spans[2].resource));
    owl_span_decoded_free(&d);
    /* the bodies the other tests name: both_json, the SDK's export */
    cr_assert_eq(direct(both_json), OWL_EUNSUPPORTED); /* its kind and status code by name */
    cr_assert_eq(direct(jaeger_like), OWL_OK);
    char path[4096], *body = NULL;
    size_t len;
    const char *src = getenv("OWL_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/otlp/sdk_traces_json.json",
             src ? src : "..");
    cr_assert_eq(owl_read_file(path, 1u << 20, &body, &len, NULL), OWL_OK, "%s", path);
    cr_assert_eq(direct_and_wire(body, len, MAX), OWL_OK);
    free(body);
    /* a request of many spans: the records array grows past its first guess */
    owl_buf big = OWL_BUF_INIT;
    owl_buf_printf(&big, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (int i = 0; i < 3000; i++)
        owl_buf_printf(&big, "%s{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"%016x\","
                              "\"name\":\"s%d\",\"kind\":%d,\"startTimeUnixNano\":\"%d\","
                              "\"endTimeUnixNano\":\"%d\"}",
                        i ? "," : "", i + 1, i, i % 6, i + 1, 2 * i + 2);
    owl_buf_printf(&big, "]}]}]}");
    cr_assert_eq(direct_and_wire(big.data, big.len, MAX), OWL_OK);
    cr_assert_eq(direct_and_wire(big.data, big.len, 3000), OWL_OK);
    cr_assert_eq(direct_and_wire(big.data, big.len, 2999), OWL_EUNSUPPORTED);
    owl_buf_free(&big);
}

Test(otlp_traces, direct_path_declines_what_it_does_not_read)
{
    static const char *const extra[] = {
        ",\"events\":[{\"name\":\"e\",\"timeUnixNano\":\"9300000000000000000\"}]",
        ",\"events\":[{\"name\":5}]",
        ",\"events\":[{}, null]",
        ",\"links\":[{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" TRACE_HEX "\"}]",
        ",\"parent_span_id\":\"" PARENT_HEX "\"", /* a proto name */
        ",\"unknownField\":1",
        ",\"kind\":3",                               /* given twice */
        ",\"na\\u006de\":\"x\"",                     /* an escape in a name */
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[]}}}]",
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"kvlistValue\":{}}}]",
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"bytesValue\":\"AQI=\"}}]",
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"x\",\"intValue\":1}}]",
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"boolValue\":1}}]",
        ",\"attributes\":[{\"key\":\"a\",\"key\":\"b\"}]",
        ",\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":\"1.5\"}}]",
        ",\"attributes\":[null]",
        ",\"attributes\":{}",
        ",\"status\":{\"code\":\"STATUS_CODE_ERROR\"}",
        ",\"status\":{\"code\":3}",                  /* refused span */
        ",\"status\":{\"code\":2,\"deprecatedCode\":1}",
        ",\"parentSpanId\":\"" TRACE_HEX "\"",       /* refused span */
        ",\"parentSpanId\":\"0\"",
        ",\"parentSpanId\":\"eee19b7ec3c1b17g\"",
        ",\"parentSpanId\":\"" PARENT_HEX "0\"",
        ",\"flags\":4294967296",
        ",\"droppedLinksCount\":-1",
        ",\"droppedLinksCount\":1.5",
        ",\"traceState\":5",
        ",\"traceState\":\"\x01\"",
        ",\"traceState\":\"\xff\"",
        ",\"traceState\":\"\\u0000\"",
        ",\"name\\\"\":1",
    };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        cr_assert_eq(direct(direct_body("", "", extra[i])), OWL_EUNSUPPORTED, "case %zu: %s", i,
                     extra[i]);
    static const char *const whole[] = {
        "",
        " ",
        "[]",
        "{\"resourceSpans\":[]} x",
        "{\"resourceSpans\":[]",
        "{\"resource_spans\":[]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[],\"resource\":{}}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[],\"scope\":{}}]}]}",
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":5}}]}",
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[],\"attributes\":[]}}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"name\":1}}]}]}",
        "{\"resourceSpans\":[{\"schemaUrl\":1}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"x\"}]}]}]}", /* refused */
    };
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++)
        cr_assert_eq(direct(whole[i]), OWL_EUNSUPPORTED, "body %zu: %s", i, whole[i]);
    /* a protobuf body is not the direct path's */
    owl_span_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_traces_decode_path(OWL_OTLP_PROTOBUF, "", 0, MAX, OWL_OTLP_DIRECT,
                                             &d, &err),
                 OWL_EUNSUPPORTED);
    owl_span_decoded_free(&d);
    /* what it declines is answered by the wire path, refusals and messages included */
    const char *refused = direct_body("", "", ",\"status\":{\"code\":3}");
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_JSON, refused, strlen(refused), MAX, &d, &err),
                 OWL_OK);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(d.rejected, 1);
    cr_assert_str_eq(d.message, "resource 0 scope 0 span 0: status code 3 is not a StatusCode");
    owl_span_decoded_free(&d);
}

/* Every body of a records file of bench/traces_bodies.py ("LEN [ITEMS]\n", LEN bytes, an
 * optional "\n") named by $OWL_TRACES_RECORDS (skipped when unset): the direct path must take
 * each and give the wire path's and the general path's records. */
Test(otlp_traces, direct_path_on_recorded_bodies)
{
    const char *path = getenv("OWL_TRACES_RECORDS");
    if (!path)
        cr_skip_test("OWL_TRACES_RECORDS not set");
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    size_t bodies = 0, taken = 0, len;
    char line[64];
    while (fgets(line, sizeof line, f)) {
        len = strtoull(line, NULL, 10);
        char *b = malloc(len ? len : 1);
        cr_assert(b && fread(b, 1, len, f) == len);
        int c = fgetc(f);
        if (c != '\n' && c != EOF)
            ungetc(c, f);
        bodies++;
        taken += direct_and_wire(b, len, 1000000) == OWL_OK;
        free(b);
    }
    fclose(f);
    cr_log_info("direct path: %zu of %zu bodies taken, each the same as the wire path's",
                taken, bodies);
    fprintf(stderr, "direct path: %zu of %zu bodies taken, each the same as the wire path's\n",
            taken, bodies);
    cr_assert_eq(taken, bodies);
}

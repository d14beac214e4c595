/* test_client_otlp.c — client/otlp_encode.c: span records with odd content (empty strings,
 * UTF-8, control characters and invalid bytes, 128 attributes, long values, no parent, a
 * remote parent, negative ints, NaN and infinite doubles) encoded in both forms, then read
 * back two ways: unpacked to protobuf-c's structs (the generated unpack for protobuf, the
 * server's JSON transcoding for JSON) and compared field by field, and decoded by the server
 * (owl_otlp_traces_decode) and compared on every field it keeps. Built from the client's
 * sources plus the server's libraries. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/unit/client_renamed.h"

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "client_oom.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Req;
#define AV_(k) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##k
#define S(lit) ((char *)(lit))

/* ---- the records ---- */

static owl__attr attrs0[] = {
    {S("str"), OWL__ATTR_STR, {.s = S("x")}},
    {S("empty"), OWL__ATTR_STR, {.s = S("")}},
    {S("neg"), OWL__ATTR_INT, {.i = -9007199254740993ll}},
    {S("min"), OWL__ATTR_INT, {.i = INT64_MIN}},
    {S("zero"), OWL__ATTR_INT, {.i = 0}},
    {S("dbl"), OWL__ATTR_DOUBLE, {.d = 1.5}},
    {S("yes"), OWL__ATTR_BOOL, {.b = 1}},
    {S("no"), OWL__ATTR_BOOL, {.b = 0}},
};
static owl__attr ev_attrs[] = {{S("attempt"), OWL__ATTR_INT, {.i = 2}}};
static owl__event events0[] = {
    {S("retry"), 1700000000000500000ull, ev_attrs, 1},
    {S("plain \xe2\x9c\x93"), 1700000000000600000ull, NULL, 0},
};
static owl__link links0[] = {
    {{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
      0x20},
     {0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28},
     S("k=v")},
    {{0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}, {0x41, 0, 0, 0, 0, 0, 0, 0xfe}, NULL},
};
static owl__span_record r0 = {
    .trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
    .span_id = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
    .trace_state = S("congo=t61rcWkgMzE"),
    .name = S("GET /cart"),
    .kind = OWL_KIND_SERVER,
    .start_ns = 1700000000000000000ull,
    .end_ns = 1700000000001500000ull,
    .attrs = attrs0,
    .nattrs = sizeof attrs0 / sizeof *attrs0,
    .dropped_attrs = 2,
    .events = events0,
    .nevents = 2,
    .dropped_events = 3,
    .links = links0,
    .nlinks = 2,
    .dropped_links = 4,
    .status = OWL_STATUS_ERROR,
    .status_message = S("boom \"quoted\"\n"),
};

/* Odd strings: UTF-8, every kind of control character, an invalid byte (JSON sends U+FFFD, as
 * the server repairs protobuf's), doubles JSON has no number for. */
static owl__attr attrs1[] = {
    {S("ctl\x02key"), OWL__ATTR_STR, {.s = S("v\r\n\x1b\b\f\t/\\")}},
    {S("utf8"), OWL__ATTR_STR, {.s = S("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80")}},
    {S("bad"), OWL__ATTR_STR, {.s = S("a\xff" "b\xc3")}},
    {S("nan"), OWL__ATTR_DOUBLE, {.d = NAN}},
    {S("inf"), OWL__ATTR_DOUBLE, {.d = INFINITY}},
    {S("ninf"), OWL__ATTR_DOUBLE, {.d = -INFINITY}},
    {S("tiny"), OWL__ATTR_DOUBLE, {.d = 4.9406564584124654e-324}},
    {S("big"), OWL__ATTR_DOUBLE, {.d = 1.7976931348623157e308}},
    {S("tenth"), OWL__ATTR_DOUBLE, {.d = 0.1}},
    {S("negzero"), OWL__ATTR_DOUBLE, {.d = -0.0}},
    {S("neg"), OWL__ATTR_DOUBLE, {.d = -2.5e-10}},
};
static owl__span_record r1 = {
    .trace_id = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3,
                 0xf2, 0xf1, 0xf0},
    .span_id = {0, 0, 0, 0, 0, 0, 0, 1},
    .parent_span_id = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9},
    .parent_remote = 1,
    .name = S("na\xc3\xafve \xe2\x9c\x93\n\t\"q\"\\\x01\x1f\x7f end"),
    .kind = OWL_KIND_CLIENT,
    .start_ns = 1,
    .end_ns = 9223372036854775807ull,
    .attrs = attrs1,
    .nattrs = sizeof attrs1 / sizeof *attrs1,
    .status = OWL_STATUS_OK,
};

/* 128 attributes, long values among them: the span's length needs a 3-byte varint. */
static owl__attr attrs2[OWL__MAX_ATTRS];
static char keys2[OWL__MAX_ATTRS][8];
static char longval[OWL__MAX_STR + 1];
static owl__span_record r2 = {
    .trace_id = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9},
    .span_id = {8, 8, 8, 8, 8, 8, 8, 8},
    .parent_span_id = {7, 7, 7, 7, 7, 7, 7, 7},
    .name = S("many"),
    .kind = OWL_KIND_INTERNAL,
    .start_ns = 1700000000000000000ull,
    .end_ns = 1700000000000000000ull,
    .attrs = attrs2,
    .nattrs = OWL__MAX_ATTRS,
    .dropped_attrs = 1000,
};

/* The smallest: under 128 bytes, so its length is one byte where two were kept. */
static owl__span_record r3 = {
    .trace_id = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    .span_id = {0, 0, 0, 0, 0, 0, 0, 2},
    .name = S("c"),
    .kind = OWL_KIND_CONSUMER,
    .start_ns = 5,
    .end_ns = 5,
};

static owl__span_record r4 = {
    .trace_id = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
    .span_id = {0, 0, 0, 0, 0, 0, 0, 3},
    .name = S("p"),
    .kind = OWL_KIND_PRODUCER,
    .start_ns = 5,
    .end_ns = 6,
    .status = OWL_STATUS_ERROR,
};

static const owl__span_record *recs[] = {&r0, &r1, &r2, &r3, &r4};
#define NRECS (sizeof recs / sizeof *recs)

static void fill_r2(void)
{
    memset(longval, 'L', OWL__MAX_STR);
    for (int i = 0; i < OWL__MAX_ATTRS; i++) {
        snprintf(keys2[i], sizeof keys2[i], "k%d", i);
        attrs2[i].key = keys2[i];
        switch (i % 4) {
        case 0:
            attrs2[i].type = OWL__ATTR_STR;
            attrs2[i].v.s = longval + (i % 8 ? OWL__MAX_STR - i : 0);
            break;
        case 1:
            attrs2[i].type = OWL__ATTR_INT;
            attrs2[i].v.i = -(int64_t)i * 1000003;
            break;
        case 2:
            attrs2[i].type = OWL__ATTR_DOUBLE;
            attrs2[i].v.d = i / 7.0;
            break;
        default:
            attrs2[i].type = OWL__ATTR_BOOL;
            attrs2[i].v.b = i % 8 == 3;
        }
    }
}

/* The resource as owl__tracer_resource gives it, and the resource attributes to be sent. */
#define SERVICE "checkout \xc3\xa9"
#define RESOURCE "deployment.environment=prod,team=a%2Cb%20c%25,empty="
static const char *const want_res[] = {
    "service.name", SERVICE,         "deployment.environment", "prod",
    "team",         "a,b c%",        "empty",                  "",
    "telemetry.sdk.name", "libowl",  "telemetry.sdk.language", "c",
    "telemetry.sdk.version", OWL_VERSION_STRING, NULL};

/* ---- expected strings: a JSON body has U+FFFD for each byte that is not UTF-8 ---- */

static char *repaired(const char *s)
{
    size_t n = strlen(s);
    char *r = malloc(3 * n + 1), *w = r;
    while (n) {
        size_t q = (unsigned char)*s < 0x80 ? 1 : owl__utf8_seq((const unsigned char *)s, n);
        if (q) {
            memcpy(w, s, q);
            w += q;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
        }
        s += q ? q : 1;
        n -= q ? q : 1;
    }
    *w = '\0';
    return r;
}

static void str_is(const char *got, const char *want, int fix)
{
    char *w = fix ? repaired(want) : strdup(want);
    cr_assert_str_eq(got ? got : "", w);
    free(w);
}

/* ---- read back as protobuf-c's structs ---- */

static void check_kv(const KV *kv, const owl__attr *a, int json)
{
    str_is(kv->key, a->key, json);
    cr_assert_not_null(kv->value, "%s", a->key);
    switch (a->type) {
    case OWL__ATTR_STR:
        cr_assert_eq(kv->value->value_case, AV_(STRING_VALUE), "%s", a->key);
        str_is(kv->value->string_value, a->v.s, json);
        break;
    case OWL__ATTR_INT:
        cr_assert_eq(kv->value->value_case, AV_(INT_VALUE), "%s", a->key);
        cr_assert_eq(kv->value->int_value, a->v.i, "%s", a->key);
        break;
    case OWL__ATTR_BOOL:
        cr_assert_eq(kv->value->value_case, AV_(BOOL_VALUE), "%s", a->key);
        cr_assert_eq(kv->value->bool_value, a->v.b, "%s", a->key);
        break;
    case OWL__ATTR_DOUBLE:
        cr_assert_eq(kv->value->value_case, AV_(DOUBLE_VALUE), "%s", a->key);
        if (isnan(a->v.d))
            cr_assert(isnan(kv->value->double_value), "%s", a->key);
        else
            cr_assert(memcmp(&kv->value->double_value, &a->v.d, 8) == 0, "%s: %.17g", a->key,
                      kv->value->double_value);
    }
}

static void check_bytes(ProtobufCBinaryData b, const uint8_t *want, size_t n)
{
    cr_assert_eq(b.len, n);
    cr_assert(memcmp(b.data, want, n) == 0);
}

static void check_span(const Span *s, const owl__span_record *r, int json)
{
    static const uint8_t zero[8];
    check_bytes(s->trace_id, r->trace_id, 16);
    check_bytes(s->span_id, r->span_id, 8);
    str_is(s->trace_state, r->trace_state ? r->trace_state : "", json);
    if (memcmp(r->parent_span_id, zero, 8) == 0)
        cr_assert_eq(s->parent_span_id.len, 0);
    else
        check_bytes(s->parent_span_id, r->parent_span_id, 8);
    cr_assert_eq(s->flags, 0x101u | (r->parent_remote ? 0x200u : 0), "flags %x", s->flags);
    str_is(s->name, r->name, json);
    cr_assert_eq((int)s->kind, (int)r->kind);
    cr_assert_eq(s->start_time_unix_nano, r->start_ns);
    cr_assert_eq(s->end_time_unix_nano, r->end_ns);
    cr_assert_eq(s->n_attributes, r->nattrs);
    for (uint32_t i = 0; i < r->nattrs; i++)
        check_kv(s->attributes[i], &r->attrs[i], json);
    cr_assert_eq(s->dropped_attributes_count, r->dropped_attrs);
    cr_assert_eq(s->n_events, r->nevents);
    for (uint32_t i = 0; i < r->nevents; i++) {
        const owl__event *e = &r->events[i];
        cr_assert_eq(s->events[i]->time_unix_nano, e->time_ns);
        str_is(s->events[i]->name, e->name, json);
        cr_assert_eq(s->events[i]->n_attributes, e->nattrs);
        for (uint32_t j = 0; j < e->nattrs; j++)
            check_kv(s->events[i]->attributes[j], &e->attrs[j], json);
        cr_assert_eq(s->events[i]->dropped_attributes_count, 0);
    }
    cr_assert_eq(s->dropped_events_count, r->dropped_events);
    cr_assert_eq(s->n_links, r->nlinks);
    for (uint32_t i = 0; i < r->nlinks; i++) {
        const owl__link *l = &r->links[i];
        check_bytes(s->links[i]->trace_id, l->trace_id, 16);
        check_bytes(s->links[i]->span_id, l->span_id, 8);
        str_is(s->links[i]->trace_state, l->trace_state ? l->trace_state : "", json);
        cr_assert_eq(s->links[i]->n_attributes, 0);
        cr_assert_eq(s->links[i]->flags, 0);
    }
    cr_assert_eq(s->dropped_links_count, r->dropped_links);
    if (r->status == OWL_STATUS_UNSET && !r->status_message)
        cr_assert(!s->status || (s->status->code == 0 && !*s->status->message));
    else {
        cr_assert_not_null(s->status);
        cr_assert_eq((int)s->status->code, (int)r->status);
        str_is(s->status->message, r->status_message ? r->status_message : "", json);
    }
}

static void check_req(const Req *q, const owl__span_record *const *rs, size_t n, int json)
{
    cr_assert_eq(q->n_resource_spans, 1);
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *r = q->resource_spans[0];
    cr_assert_not_null(r->resource);
    size_t na = 0;
    while (want_res[2 * na])
        na++;
    cr_assert_eq(r->resource->n_attributes, na);
    for (size_t i = 0; i < na; i++) {
        const KV *kv = r->resource->attributes[i];
        cr_assert_str_eq(kv->key, want_res[2 * i]);
        cr_assert_eq(kv->value->value_case, AV_(STRING_VALUE), "%s", kv->key);
        cr_assert_str_eq(kv->value->string_value, want_res[2 * i + 1]);
    }
    cr_assert_eq(r->n_scope_spans, 1);
    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = r->scope_spans[0];
    cr_assert_not_null(ss->scope);
    cr_assert_str_eq(ss->scope->name, "libowl");
    cr_assert_str_eq(ss->scope->version, OWL_VERSION_STRING);
    cr_assert_eq(ss->n_spans, n);
    for (size_t i = 0; i < n; i++)
        check_span(ss->spans[i], rs[i], json);
}

/* ---- read back by the server ---- */

static void bytes_is(owl_bytes b, const char *want)
{
    char *w = repaired(want);
    cr_assert(b.n == strlen(w) && (!b.n || memcmp(b.p, w, b.n) == 0), "got \"%.*s\", want \"%s\"",
              (int)b.n, (const char *)b.p, w);
    free(w);
}

/* it at a document member: its children, compared in order with attrs[0..n). */
static void bson_attrs_are(bson_iter_t *it, const owl__attr *a, uint32_t n)
{
    bson_iter_t c;
    cr_assert(BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &c));
    for (uint32_t i = 0; i < n; i++) {
        char *k = repaired(a[i].key);
        cr_assert(bson_iter_next(&c), "attribute %u missing", i);
        cr_assert_str_eq(bson_iter_key(&c), k);
        free(k);
        switch (a[i].type) {
        case OWL__ATTR_STR: {
            char *v = repaired(a[i].v.s);
            cr_assert(BSON_ITER_HOLDS_UTF8(&c), "%s", a[i].key);
            cr_assert_str_eq(bson_iter_utf8(&c, NULL), v);
            free(v);
            break;
        }
        case OWL__ATTR_INT:
            cr_assert(BSON_ITER_HOLDS_INT(&c), "%s", a[i].key);
            cr_assert_eq(bson_iter_as_int64(&c), a[i].v.i, "%s", a[i].key);
            break;
        case OWL__ATTR_BOOL:
            cr_assert(BSON_ITER_HOLDS_BOOL(&c), "%s", a[i].key);
            cr_assert_eq(bson_iter_bool(&c), a[i].v.b != 0, "%s", a[i].key);
            break;
        case OWL__ATTR_DOUBLE:
            cr_assert(BSON_ITER_HOLDS_DOUBLE(&c), "%s", a[i].key);
            if (isnan(a[i].v.d))
                cr_assert(isnan(bson_iter_double(&c)));
            else
                cr_assert(bson_iter_double(&c) == a[i].v.d, "%s", a[i].key);
        }
    }
    cr_assert(!bson_iter_next(&c), "more attributes than sent");
}

static int64_t member_int(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &it))
        return 0;
    return bson_iter_as_int64(&it);
}

static const char *member_str(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &it) ||
        !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    return bson_iter_utf8(&it, NULL);
}

static void check_attrs_doc(const owl_span *s, const owl__span_record *r)
{
    bson_t doc;
    bson_iter_t it;
    char path[64], hex[OWL_TRACEID_HEX_SIZE];

    if (!s->attrs.n) {
        cr_assert(!r->nattrs && !r->nevents && !r->nlinks);
        return;
    }
    cr_assert(bson_init_static(&doc, s->attrs.p, s->attrs.n));
    if (r->nattrs) {
        cr_assert(bson_iter_init_find(&it, &doc, "attributes"));
        bson_attrs_are(&it, r->attrs, r->nattrs);
    }
    for (uint32_t i = 0; i < r->nevents; i++) {
        const owl__event *e = &r->events[i];
        snprintf(path, sizeof path, "events.%u.name", i);
        str_is(member_str(&doc, path), e->name, 1);
        snprintf(path, sizeof path, "events.%u.time_ns", i);
        cr_assert_eq(member_int(&doc, path), (int64_t)e->time_ns);
        if (e->nattrs) {
            snprintf(path, sizeof path, "events.%u.attributes", i);
            cr_assert(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, path, &it));
            bson_attrs_are(&it, e->attrs, e->nattrs);
        }
    }
    for (uint32_t i = 0; i < r->nlinks; i++) {
        const owl__link *l = &r->links[i];
        owl_traceid_to_hex(l->trace_id, hex);
        snprintf(path, sizeof path, "links.%u.trace_id", i);
        cr_assert_str_eq(member_str(&doc, path), hex);
        snprintf(path, sizeof path, "links.%u.span_id", i);
        for (int j = 0; j < 8; j++)
            sprintf(hex + 2 * j, "%02x", l->span_id[j]);
        cr_assert_str_eq(member_str(&doc, path), hex);
        snprintf(path, sizeof path, "links.%u.trace_state", i);
        str_is(member_str(&doc, path), l->trace_state ? l->trace_state : "", 1);
    }
    snprintf(path, sizeof path, "events.%u", r->nevents);
    cr_assert(!bson_iter_init(&it, &doc) || !bson_iter_find_descendant(&it, path, &it));
    snprintf(path, sizeof path, "links.%u", r->nlinks);
    cr_assert(!bson_iter_init(&it, &doc) || !bson_iter_find_descendant(&it, path, &it));
    str_is(member_str(&doc, "trace_state"), r->trace_state ? r->trace_state : "", 1);
    cr_assert_eq(member_int(&doc, "flags"), 0x101 | (r->parent_remote ? 0x200 : 0));
    cr_assert_eq(member_int(&doc, "dropped_attributes_count"), r->dropped_attrs);
    cr_assert_eq(member_int(&doc, "dropped_events_count"), r->dropped_events);
    cr_assert_eq(member_int(&doc, "dropped_links_count"), r->dropped_links);
}

static void check_resource_doc(const owl_span *s)
{
    bson_t doc;
    bson_iter_t it, c;
    cr_assert(bson_init_static(&doc, s->resource.p, s->resource.n));
    cr_assert(bson_iter_init_find(&it, &doc, "resource") && bson_iter_recurse(&it, &c));
    for (size_t i = 0; want_res[2 * i]; i++) {
        cr_assert(bson_iter_next(&c));
        cr_assert_str_eq(bson_iter_key(&c), want_res[2 * i]);
        cr_assert_str_eq(bson_iter_utf8(&c, NULL), want_res[2 * i + 1]);
    }
    cr_assert(!bson_iter_next(&c));
    cr_assert_str_eq(member_str(&doc, "scope.name"), "libowl");
    cr_assert_str_eq(member_str(&doc, "scope.version"), OWL_VERSION_STRING);
}

static void check_decoded(enum owl_otlp_encoding enc, const owl__cbuf *b,
                          const owl__span_record *const *rs, size_t n)
{
    static const uint8_t zero[8];
    owl_span_decoded d = {0};
    owl_error err = {0};

    cr_assert_eq(owl_otlp_traces_decode(enc, b->p, b->len, 1000, &d, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert_eq(d.rejected, 0, "%s", d.message);
    cr_assert_eq(d.n, n);
    for (size_t i = 0; i < n; i++) {
        const owl_span *s = &d.spans[i];
        const owl__span_record *r = rs[i];
        cr_assert(memcmp(s->trace_id, r->trace_id, 16) == 0);
        cr_assert(memcmp(s->span_id, r->span_id, 8) == 0);
        cr_assert(memcmp(s->parent_id, memcmp(r->parent_span_id, zero, 8) ? r->parent_span_id
                                                                         : zero, 8) == 0);
        bytes_is(s->service, SERVICE);
        bytes_is(s->name, r->name);
        cr_assert_eq((int)s->kind, (int)r->kind);
        cr_assert_eq(s->start_ns, (int64_t)r->start_ns);
        cr_assert_eq(s->duration_ns, (int64_t)(r->end_ns - r->start_ns));
        cr_assert_eq(s->status_code, (int)r->status);
        bytes_is(s->status_message, r->status_message ? r->status_message : "");
        check_attrs_doc(s, r);
        check_resource_doc(s);
    }
    owl_span_decoded_free(&d);
}

/* ---- the tests ---- */

static void encode(int json, const owl__span_record *const *rs, size_t n, owl__cbuf *b)
{
    int rc = json ? owl__otlp_traces_json(rs, n, SERVICE, RESOURCE, b)
                  : owl__otlp_traces_pb(rs, n, SERVICE, RESOURCE, b);
    cr_assert_eq(rc, 0);
    cr_assert_eq(b->nomem, 0);
}

Test(client_otlp, protobuf_unpacks_to_every_field)
{
    owl__cbuf b = {0};
    fill_r2();
    encode(0, recs, NRECS, &b);
    Req *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, b.len, b.p);
    cr_assert_not_null(q);
    check_req(q, recs, NRECS, 0);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
        q, NULL);
    owl__cbuf_free(&b);
}

Test(client_otlp, json_reads_as_the_same_request)
{
    owl__cbuf b = {0};
    owl_arena mem;
    ProtobufCMessage *m = NULL;
    owl_error err = {0};

    fill_r2();
    encode(1, recs, NRECS, &b);
    owl_arena_init(&mem, 0);
    const ProtobufCMessageDescriptor *desc =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    cr_assert_eq(owl_otlp_unpack(desc, OWL_OTLP_JSON, b.p, b.len, &mem, &m, &err), OWL_OK, "%s",
                 err.msg);
    check_req((const Req *)m, recs, NRECS, 1);
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

Test(client_otlp, server_decodes_both_encodings)
{
    fill_r2();
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        encode(json, recs, NRECS, &b);
        check_decoded(json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, &b, recs, NRECS);
        owl__cbuf_free(&b);
    }
}

/* The JSON text itself: member names, ids in lowercase hex, 64-bit integers as strings, enums
 * as numbers, escapes, doubles, fields left out at their default. */
Test(client_otlp, json_text_of_a_small_request)
{
    static owl__attr a[] = {
        {S("q\"\\\x01\xc3\xa9"), OWL__ATTR_STR, {.s = S("\n\xff")}},
        {S("i"), OWL__ATTR_INT, {.i = -3}},
        {S("d"), OWL__ATTR_DOUBLE, {.d = 0.25}},
        {S("n"), OWL__ATTR_DOUBLE, {.d = -INFINITY}},
        {S("b"), OWL__ATTR_BOOL, {.b = 1}},
    };
    owl__span_record r = r3;
    r.trace_id[0] = 0xAB;
    r.attrs = a;
    r.nattrs = 5;
    r.parent_span_id[7] = 0xC;
    r.parent_remote = 1;
    const owl__span_record *one[] = {&r};
    owl__cbuf b = {0};

    owl__cbuf_put(&b, "kept", 4);
    cr_assert_eq(owl__otlp_traces_json(one, 1, "s", "", &b), 0);
    owl__cbuf_put(&b, "", 1);
    cr_assert_str_eq(
        (char *)b.p,
        "kept{\"resourceSpans\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"s\"}},"
        "{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"libowl\"}},"
        "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}},"
        "{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"" OWL_VERSION_STRING
        "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"libowl\",\"version\":\"" OWL_VERSION_STRING
        "\"},\"spans\":[{\"traceId\":\"ab000000000000000000000000000001\","
        "\"spanId\":\"0000000000000002\",\"parentSpanId\":\"000000000000000c\",\"flags\":769,"
        "\"name\":\"c\",\"kind\":5,\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":\"5\","
        "\"attributes\":[{\"key\":\"q\\\"\\\\\\u0001\xc3\xa9\",\"value\":{\"stringValue\":"
        "\"\\n\\ufffd\"}},{\"key\":\"i\",\"value\":{\"intValue\":\"-3\"}},"
        "{\"key\":\"d\",\"value\":{\"doubleValue\":0.25}},"
        "{\"key\":\"n\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
        "{\"key\":\"b\",\"value\":{\"boolValue\":true}}]}]}]}]}");
    owl__cbuf_free(&b);
}

/* Appending keeps what the buffer held; no spans is still a request (the resource alone); a
 * resource that sets an SDK attribute replaces that one. */
Test(client_otlp, appends_and_empty_request_and_sdk_override)
{
    owl__cbuf b = {0};
    owl__cbuf_put(&b, "\x01\x02", 2);
    cr_assert_eq(owl__otlp_traces_pb(NULL, 0, "svc", "telemetry.sdk.name=mine", &b), 0);
    cr_assert(b.len > 2 && b.p[0] == 1 && b.p[1] == 2);
    Req *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, b.len - 2, b.p + 2);
    cr_assert_not_null(q);
    cr_assert_eq(q->n_resource_spans, 1);
    const Opentelemetry__Proto__Resource__V1__Resource *res = q->resource_spans[0]->resource;
    cr_assert_eq(res->n_attributes, 4);
    cr_assert_str_eq(res->attributes[0]->value->string_value, "svc");
    cr_assert_str_eq(res->attributes[1]->key, "telemetry.sdk.name");
    cr_assert_str_eq(res->attributes[1]->value->string_value, "mine");
    cr_assert_str_eq(res->attributes[2]->key, "telemetry.sdk.language");
    cr_assert_str_eq(res->attributes[3]->key, "telemetry.sdk.version");
    cr_assert_eq(q->resource_spans[0]->scope_spans[0]->n_spans, 0);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
        q, NULL);
    owl__cbuf_free(&b);
}

/* Varint lengths of every width the encoder keeps room for and moves from: one span of
 * 128 attributes of 4,096 bytes (a 3-byte length inside a 4-byte request length region). */
Test(client_otlp, long_spans_keep_their_lengths)
{
    static owl__attr big[OWL__MAX_ATTRS];
    owl__span_record r = r3;
    fill_r2();
    for (int i = 0; i < OWL__MAX_ATTRS; i++) {
        big[i] = attrs2[i];
        big[i].type = OWL__ATTR_STR;
        big[i].v.s = longval;
    }
    r.attrs = big;
    r.nattrs = OWL__MAX_ATTRS;
    const owl__span_record *rs[] = {&r, &r3, &r};
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        int rc = json ? owl__otlp_traces_json(rs, 3, SERVICE, RESOURCE, &b)
                      : owl__otlp_traces_pb(rs, 3, SERVICE, RESOURCE, &b);
        cr_assert_eq(rc, 0);
        cr_assert(b.len > 3 * OWL__MAX_ATTRS * OWL__MAX_STR / 2);
        check_decoded(json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, &b, rs, 3);
        owl__cbuf_free(&b);
    }
}

/* The process's address space capped a few MB above what it uses: encoding 10 spans of 512 KB
 * runs out of memory part way, and the buffer is left as it was given. */

Test(client_otlp, out_of_memory_leaves_the_buffer)
{
#ifdef __SANITIZE_ADDRESS__
    cr_skip_test("ASan reserves its shadow memory up front and aborts where malloc would fail");
#endif
    static owl__attr big[OWL__MAX_ATTRS];
    owl__span_record r = r3;
    const owl__span_record *rs[10];
    fill_r2();
    for (int i = 0; i < OWL__MAX_ATTRS; i++)
        big[i] = (owl__attr){keys2[i], OWL__ATTR_STR, {.s = longval}};
    r.attrs = big;
    r.nattrs = OWL__MAX_ATTRS;
    for (int i = 0; i < 10; i++)
        rs[i] = &r;
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl__cbuf_put(&b, "prefix", 6);
        size_t cap = b.cap;
        struct rlimit old;
        oom_cap(&old);
        int rc = json ? owl__otlp_traces_json(rs, 10, SERVICE, RESOURCE, &b)
                      : owl__otlp_traces_pb(rs, 10, SERVICE, RESOURCE, &b);
        oom_uncap(&old);
        cr_assert_eq(rc, OWL_ERR_NOMEM);
        cr_assert_eq(b.len, 6);
        cr_assert_eq(b.nomem, 0);
        cr_assert(b.cap >= cap && memcmp(b.p, "prefix", 6) == 0);
        /* and the buffer is usable again */
        cr_assert_eq(owl__otlp_traces_pb(rs, 1, SERVICE, RESOURCE, &b), 0);
        cr_assert(b.len > 6 + OWL__MAX_ATTRS * OWL__MAX_STR);
        owl__cbuf_free(&b);
    }
}

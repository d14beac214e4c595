/* test_otlp_logs.c — OTLP logs decoding (ingest/otlp_logs.c): protobuf requests built with
 * the generated protobuf-c structs and packed, the same requests written in OTLP JSON by
 * hand; every mapping rule of docs/otlp.md's logs section (group, stream, time, message,
 * severity, ids, attrs), records refused one by one, bodies refused whole, the answers. Every
 * protobuf request decoded here is also decoded by each path alone: the fast path must give
 * the general path's result or decline; which bodies it takes and declines is tested last. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/util.h"
#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "tests/unit/testfs.h"
#include "tests/unit/wirebuf.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
typedef Opentelemetry__Proto__Common__V1__AnyValue AV;
typedef Opentelemetry__Proto__Logs__V1__LogRecord Rec;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs Scope;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs Res;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest Req;

#define NOW_MS 1767225600000LL /* 2026-01-01 */
#define MAX 10000
#define AV_(k) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##k

/* ---- building requests: every pointer malloc'd, freed by free_unpacked ---- */

static AV *av_str(const char *s)
{
    AV *v = malloc(sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = AV_(STRING_VALUE);
    v->string_value = strdup(s);
    return v;
}

static AV *av_int(int64_t i)
{
    AV *v = malloc(sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = AV_(INT_VALUE);
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

/* An array value of n strings. */
static AV *av_strs(const char *const *s, size_t n)
{
    AV *v = malloc(sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = AV_(ARRAY_VALUE);
    v->array_value = malloc(sizeof *v->array_value);
    opentelemetry__proto__common__v1__array_value__init(v->array_value);
    v->array_value->n_values = n;
    v->array_value->values = malloc((n ? n : 1) * sizeof(AV *));
    for (size_t i = 0; i < n; i++)
        v->array_value->values[i] = av_str(s[i]);
    return v;
}

static Rec *rec(uint64_t t_ns, AV *body)
{
    Rec *r = malloc(sizeof *r);
    opentelemetry__proto__logs__v1__log_record__init(r);
    r->time_unix_nano = t_ns;
    r->body = body;
    return r;
}

static Scope *scope(const char *name, const char *version, Rec **recs, size_t n)
{
    Scope *s = malloc(sizeof *s);
    opentelemetry__proto__logs__v1__scope_logs__init(s);
    if (name) {
        s->scope = malloc(sizeof *s->scope);
        opentelemetry__proto__common__v1__instrumentation_scope__init(s->scope);
        s->scope->name = strdup(name);
        if (version)
            s->scope->version = strdup(version);
    }
    s->log_records = dup_ptrs((void *const *)recs, n);
    s->n_log_records = n;
    return s;
}

static Res *res(KV **attrs, size_t na, Scope **scopes, size_t ns)
{
    Res *r = malloc(sizeof *r);
    opentelemetry__proto__logs__v1__resource_logs__init(r);
    r->resource = malloc(sizeof *r->resource);
    opentelemetry__proto__resource__v1__resource__init(r->resource);
    r->resource->attributes = dup_ptrs((void *const *)attrs, na);
    r->resource->n_attributes = na;
    r->scope_logs = dup_ptrs((void *const *)scopes, ns);
    r->n_scope_logs = ns;
    return r;
}

/* Packs a request of resources rs[0..n) into *out (malloc'd) and frees the structs. */
static size_t pack(Res **rs, size_t n, uint8_t **out)
{
    Req *q = malloc(sizeof *q);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(q);
    q->resource_logs = dup_ptrs((void *const *)rs, n);
    q->n_resource_logs = n;
    size_t len = protobuf_c_message_get_packed_size(&q->base);
    *out = malloc(len + 1);
    protobuf_c_message_pack(&q->base, *out);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return len;
}

/* A request of one resource (one attribute k=v, or none when k is NULL) and one scope
 * holding recs[0..n). */
static size_t pack1(const char *k, const char *v, Rec **recs, size_t n, uint8_t **out)
{
    KV *a[1] = {k ? kv(k, av_str(v)) : NULL};
    Scope *s[1] = {scope("lib", "1.0", recs, n)};
    Res *r[1] = {res(a, k ? 1 : 0, s, 1)};
    return pack(r, 1, out);
}

static void assert_same(const owl_log_decoded *x, const owl_log_decoded *y);

/* Decodes p[0..n) by the fast path alone and by the general path alone: the fast one
 * declines (OWL_EUNSUPPORTED) or gives the general one's result. Returns the fast path's
 * answer. */
static int both_paths(enum owl_otlp_encoding enc, const void *p, size_t n, size_t max)
{
    owl_log_decoded f = {0}, g = {0};
    owl_error ef = {0}, eg = {0};
    int rf = owl_otlp_logs_decode_path(enc, p, n, NOW_MS, max, OWL_OTLP_FAST, &f, &ef);
    int rg = owl_otlp_logs_decode_path(enc, p, n, NOW_MS, max, OWL_OTLP_GENERAL, &g, &eg);
    if (rf == OWL_OK) {
        cr_assert_eq(rg, OWL_OK, "the fast path took a body the general one refused: %s",
                     eg.msg);
        assert_same(&f, &g);
    } else {
        cr_assert_eq(rf, OWL_EUNSUPPORTED, "the fast path refused instead of declining: %s",
                     ef.msg);
        cr_assert_eq(f.nb, 0);
    }
    owl_log_decoded_free(&f);
    owl_log_decoded_free(&g);
    return rf;
}

static int decode_pb(const uint8_t *p, size_t n, owl_log_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, p, n, NOW_MS, MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    both_paths(OWL_OTLP_PROTOBUF, p, n, MAX);
    return rc;
}

/* Packs resources rs[0..n) into a request and decodes it (protobuf) into d. */
static void decode_res(Res **rs, size_t n, owl_log_decoded *d)
{
    uint8_t *p;
    size_t len = pack(rs, n, &p);
    decode_pb(p, len, d);
    free(p);
}

static int decode_json(const char *s, owl_log_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    int rc = owl_otlp_logs_decode(OWL_OTLP_JSON, s, strlen(s), NOW_MS, MAX, d, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    return rc;
}

static int bytes_eq(owl_bytes b, const char *s)
{
    return b.n == strlen(s) && (b.n == 0 || memcmp(b.p, s, b.n) == 0);
}

#define MSG_EQ(b, s) cr_assert(bytes_eq((b), (s)), "got \"%.*s\", want \"%s\"", \
                               (int)(b).n, (const char *)(b).p, (s))

/* ---- group and stream ---- */

/* The group and stream one record of a resource with these attributes goes to. */
static void route_of(KV **attrs, size_t na, owl_log_decoded *d)
{
    Rec *r[1] = {rec(1, av_str("x"))};
    Scope *s[1] = {scope(NULL, NULL, r, 1)};
    Res *rs[1] = {res(attrs, na, s, 1)};
    decode_res(rs, 1, d);
    cr_assert_eq(d->nb, 1);
    cr_assert_eq(d->b[0].n, 1);
}

Test(otlp_logs, group_from_aws_log_group_names_string_or_first_of_array)
{
    owl_log_decoded d;
    KV *a1[2] = {kv("aws.log.group.names", av_str("/aws/app")), kv("service.name", av_str("s"))};
    route_of(a1, 2, &d);
    cr_assert_str_eq(d.b[0].group, "/aws/app");
    owl_log_decoded_free(&d);
    const char *names[2] = {"/first/group", "second"};
    KV *a2[2] = {kv("service.name", av_str("s")), kv("aws.log.group.names", av_strs(names, 2))};
    route_of(a2, 2, &d);
    cr_assert_str_eq(d.b[0].group, "/first/group");
    owl_log_decoded_free(&d);
    /* an empty array or a non-string: the service name decides */
    KV *a3[2] = {kv("service.name", av_str("s")), kv("aws.log.group.names", av_strs(names, 0))};
    route_of(a3, 2, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/s");
    owl_log_decoded_free(&d);
}

Test(otlp_logs, group_from_service_name_and_unknown_service)
{
    owl_log_decoded d;
    KV *a1[1] = {kv("service.name", av_str("checkout"))};
    route_of(a1, 1, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/checkout");
    owl_log_decoded_free(&d);
    route_of(NULL, 0, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/unknown_service");
    owl_log_decoded_free(&d);
    /* the SDKs' default name has a ':' a group name may not hold */
    KV *a2[1] = {kv("service.name", av_str("unknown_service:node app"))};
    route_of(a2, 1, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/unknown_service_node_app");
    owl_log_decoded_free(&d);
    KV *a3[1] = {kv("service.name", av_int(42))}; /* not a string: as if absent */
    route_of(a3, 1, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/unknown_service");
    owl_log_decoded_free(&d);
}

Test(otlp_logs, long_service_name_is_cut_to_512)
{
    owl_log_decoded d;
    char name[700];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    KV *a[1] = {kv("service.name", av_str(name))};
    route_of(a, 1, &d);
    cr_assert_eq(strlen(d.b[0].group), 512);
    cr_assert(strncmp(d.b[0].group, "/otel/aaa", 9) == 0);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, stream_from_instance_id_then_host_name_then_default)
{
    owl_log_decoded d;
    KV *a1[2] = {kv("host.name", av_str("web-1")), kv("service.instance.id", av_str("i-42"))};
    route_of(a1, 2, &d);
    cr_assert_str_eq(d.b[0].stream, "i-42");
    owl_log_decoded_free(&d);
    KV *a2[1] = {kv("host.name", av_str("web-1"))};
    route_of(a2, 1, &d);
    cr_assert_str_eq(d.b[0].stream, "web-1");
    owl_log_decoded_free(&d);
    route_of(NULL, 0, &d);
    cr_assert_str_eq(d.b[0].stream, "default");
    owl_log_decoded_free(&d);
    KV *a3[1] = {kv("service.instance.id", av_str("pod:a*b"))};
    route_of(a3, 1, &d);
    cr_assert_str_eq(d.b[0].stream, "pod_a_b");
    owl_log_decoded_free(&d);
}

Test(otlp_logs, invalid_explicit_group_refuses_its_records_only)
{
    KV *a1[1] = {kv("aws.log.group.names", av_str("bad group!"))};
    KV *a2[1] = {kv("service.name", av_str("ok"))};
    Rec *r1[2] = {rec(1, av_str("a")), rec(2, av_str("b"))};
    Rec *r2[1] = {rec(3, av_str("c"))};
    Scope *s1[1] = {scope(NULL, NULL, r1, 2)};
    Scope *s2[1] = {scope(NULL, NULL, r2, 1)};
    Res *rs[2] = {res(a1, 1, s1, 1), res(a2, 1, s2, 1)};
    uint8_t *p;
    size_t n = pack(rs, 2, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.rejected, 2);
    cr_assert_str_eq(d.message,
                     "resource 0 scope 0 record 0: aws.log.group.names is not a valid log "
                     "group name");
    cr_assert_eq(d.nb, 1);
    cr_assert_str_eq(d.b[0].group, "/otel/ok");
    cr_assert_eq(d.events, 1);
    MSG_EQ(d.b[0].ev[0].message, "c");
    owl_log_decoded_free(&d);
}

/* ---- time, message, severity, ids ---- */

Test(otlp_logs, time_then_observed_time_then_now)
{
    Rec *r[3] = {rec(1700000000123456789ull, av_str("t")), rec(0, av_str("o")),
                 rec(0, av_str("n"))};
    r[0]->observed_time_unix_nano = 1800000000000000000ull;
    r[1]->observed_time_unix_nano = 1700000000999000000ull;
    uint8_t *p;
    size_t n = pack1(NULL, NULL, r, 3, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.b[0].n, 3);
    /* sorted by time */
    cr_assert_eq(d.b[0].ev[0].time_ms, 1700000000123);
    MSG_EQ(d.b[0].ev[0].message, "t");
    cr_assert_eq(d.b[0].ev[1].time_ms, 1700000000999);
    MSG_EQ(d.b[0].ev[1].message, "o");
    cr_assert_eq(d.b[0].ev[2].time_ms, NOW_MS);
    MSG_EQ(d.b[0].ev[2].message, "n");
    owl_log_decoded_free(&d);
}

Test(otlp_logs, body_kinds_as_message)
{
    const char *want[] = {"plain text", "-42", "1.5", "true", "{\"k\":\"v\",\"n\":[1,\"x\"]}",
                          "[\"a\",2.25]", "AAH/", "", "NaN"};
    size_t nw = sizeof want / sizeof *want;
    AV *b[9];
    b[0] = av_str("plain text");
    b[1] = av_int(-42);
    b[2] = malloc(sizeof(AV));
    opentelemetry__proto__common__v1__any_value__init(b[2]);
    b[2]->value_case = AV_(DOUBLE_VALUE);
    b[2]->double_value = 1.5;
    b[3] = malloc(sizeof(AV));
    opentelemetry__proto__common__v1__any_value__init(b[3]);
    b[3]->value_case = AV_(BOOL_VALUE);
    b[3]->bool_value = 1;
    /* {"k":"v","n":[1,"x"]} */
    b[4] = malloc(sizeof(AV));
    opentelemetry__proto__common__v1__any_value__init(b[4]);
    b[4]->value_case = AV_(KVLIST_VALUE);
    b[4]->kvlist_value = malloc(sizeof *b[4]->kvlist_value);
    opentelemetry__proto__common__v1__key_value_list__init(b[4]->kvlist_value);
    AV *arr = av_strs(NULL, 0);
    arr->array_value->values = realloc(arr->array_value->values, 2 * sizeof(AV *));
    arr->array_value->values[0] = av_int(1);
    arr->array_value->values[1] = av_str("x");
    arr->array_value->n_values = 2;
    KV *kvs[2] = {kv("k", av_str("v")), kv("n", arr)};
    b[4]->kvlist_value->values = dup_ptrs((void *const *)kvs, 2);
    b[4]->kvlist_value->n_values = 2;
    b[5] = av_strs((const char *const[]){"a"}, 1);
    b[5]->array_value->values = realloc(b[5]->array_value->values, 2 * sizeof(AV *));
    AV *dbl = malloc(sizeof *dbl);
    opentelemetry__proto__common__v1__any_value__init(dbl);
    dbl->value_case = AV_(DOUBLE_VALUE);
    dbl->double_value = 2.25;
    b[5]->array_value->values[1] = dbl;
    b[5]->array_value->n_values = 2;
    b[6] = malloc(sizeof(AV));
    opentelemetry__proto__common__v1__any_value__init(b[6]);
    b[6]->value_case = AV_(BYTES_VALUE);
    b[6]->bytes_value.len = 3;
    b[6]->bytes_value.data = malloc(3);
    memcpy(b[6]->bytes_value.data, "\x00\x01\xff", 3);
    b[7] = NULL; /* no body */
    b[8] = malloc(sizeof(AV));
    opentelemetry__proto__common__v1__any_value__init(b[8]);
    b[8]->value_case = AV_(DOUBLE_VALUE);
    b[8]->double_value = NAN;
    Rec *r[9];
    for (size_t i = 0; i < nw; i++)
        r[i] = rec(1000000u * (i + 1), b[i]);
    uint8_t *p;
    size_t n = pack1(NULL, NULL, r, nw, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.b[0].n, nw);
    for (size_t i = 0; i < nw; i++)
        MSG_EQ(d.b[0].ev[i].message, want[i]);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, invalid_utf8_in_protobuf_strings_becomes_replacement_char)
{
    Rec *r[1] = {rec(1, av_str("a\xff" "b\xc3"))};
    uint8_t *p;
    size_t n = pack1("service.instance.id", "i\xfe", r, 1, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    MSG_EQ(d.b[0].ev[0].message, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    cr_assert_str_eq(d.b[0].stream, "i\xEF\xBF\xBD");
    owl_log_decoded_free(&d);
}

Test(otlp_logs, severity_text_wins_else_number_ranges)
{
    static const struct {
        int num;
        const char *text, *want;
    } cases[] = {
        {0, NULL, ""},        {1, NULL, "TRACE"},   {4, NULL, "TRACE"}, {5, NULL, "DEBUG"},
        {8, NULL, "DEBUG"},   {9, NULL, "INFO"},    {12, NULL, "INFO"}, {13, NULL, "WARN"},
        {16, NULL, "WARN"},   {17, NULL, "ERROR"},  {20, NULL, "ERROR"}, {21, NULL, "FATAL"},
        {24, NULL, "FATAL"},  {25, NULL, ""},       {9, "Information", "Information"},
        {0, "notice", "notice"},
    };
    size_t nc = sizeof cases / sizeof *cases;
    Rec *r[16];
    for (size_t i = 0; i < nc; i++) {
        r[i] = rec(1000000u * (i + 1), av_str("m"));
        r[i]->severity_number = cases[i].num;
        if (cases[i].text)
            r[i]->severity_text = strdup(cases[i].text);
    }
    uint8_t *p;
    size_t n = pack1(NULL, NULL, r, nc, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.b[0].n, nc);
    for (size_t i = 0; i < nc; i++)
        MSG_EQ(d.b[0].ev[i].severity, cases[i].want);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, trace_and_span_ids_copied_wrong_lengths_refused)
{
    Rec *r[4] = {rec(1000000, av_str("ok")), rec(2000000, av_str("bad trace")),
                 rec(3000000, av_str("bad span")), rec(4000000, av_str("no ids"))};
    r[0]->trace_id = (ProtobufCBinaryData){16, (uint8_t *)strdup("0123456789abcdef")};
    r[0]->span_id = (ProtobufCBinaryData){8, (uint8_t *)strdup("ABCDEFGH")};
    r[1]->trace_id = (ProtobufCBinaryData){15, (uint8_t *)strdup("0123456789abcde")};
    r[2]->span_id = (ProtobufCBinaryData){9, (uint8_t *)strdup("ABCDEFGHI")};
    uint8_t *p;
    size_t n = pack1(NULL, NULL, r, 4, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.rejected, 2);
    cr_assert_str_eq(d.message, "resource 0 scope 0 record 1: trace_id of 15 bytes (16 expected)");
    cr_assert_eq(d.events, 2);
    MSG_EQ(d.b[0].ev[0].message, "ok");
    cr_assert(memcmp(d.b[0].ev[0].trace_id, "0123456789abcdef", 16) == 0);
    cr_assert(memcmp(d.b[0].ev[0].span_id, "ABCDEFGH", 8) == 0);
    MSG_EQ(d.b[0].ev[1].message, "no ids");
    static const uint8_t zero[16];
    cr_assert(memcmp(d.b[0].ev[1].trace_id, zero, 16) == 0);
    cr_assert(memcmp(d.b[0].ev[1].span_id, zero, 8) == 0);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, oversized_message_refused)
{
    char *big = malloc(OWL_LOG_MESSAGE_MAX + 2);
    memset(big, 'x', OWL_LOG_MESSAGE_MAX + 1);
    big[OWL_LOG_MESSAGE_MAX + 1] = '\0';
    Rec *r[2] = {rec(1, av_str(big)), rec(2, av_str("small"))};
    big[OWL_LOG_MESSAGE_MAX] = '\0'; /* exactly the limit: kept */
    r[0]->body->string_value[OWL_LOG_MESSAGE_MAX] = 'x';
    Rec *r2[1] = {rec(3, av_str(big))};
    free(big);
    Rec *all[3] = {r[0], r[1], r2[0]};
    uint8_t *p;
    size_t n = pack1(NULL, NULL, all, 3, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.rejected, 1);
    cr_assert(strstr(d.message, "record 0: a message of 1048551 bytes"), "%s", d.message);
    cr_assert_eq(d.events, 2);
    cr_assert_eq(d.b[0].ev[1].message.n, OWL_LOG_MESSAGE_MAX);
    owl_log_decoded_free(&d);
}

/* ---- attrs ---- */

Test(otlp_logs, attrs_document_layout)
{
    Rec *r[2] = {rec(1000000, av_str("with")), rec(2000000, av_str("without"))};
    KV *ra[3] = {kv("http.status", av_int(503)), kv("user", av_str("ann")),
                 kv("tags", av_strs((const char *const[]){"a", "b"}, 2))};
    r[0]->attributes = dup_ptrs((void *const *)ra, 3);
    r[0]->n_attributes = 3;
    r[0]->event_name = strdup("checkout.failed");
    uint8_t *p;
    size_t n = pack1("service.name", "shop", r, 2, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    bson_t doc;
    bson_iter_t it;
    owl_bytes a = d.b[0].ev[0].attrs;
    cr_assert(bson_init_static(&doc, a.p, a.n));
    cr_assert(bson_iter_init_find(&it, &doc, "attributes"));
    cr_assert(bson_iter_init(&it, &doc));
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    cr_assert_str_eq(json,
                     "{ \"attributes\" : { \"http.status\" : 503, \"user\" : \"ann\", \"tags\" : "
                     "[ \"a\", \"b\" ] }, \"resource\" : { \"service.name\" : \"shop\" }, "
                     "\"scope\" : { \"name\" : \"lib\", \"version\" : \"1.0\" }, "
                     "\"event_name\" : \"checkout.failed\" }");
    bson_free(json);
    a = d.b[0].ev[1].attrs;
    cr_assert(bson_init_static(&doc, a.p, a.n));
    json = bson_as_relaxed_extended_json(&doc, NULL);
    cr_assert_str_eq(json, "{ \"resource\" : { \"service.name\" : \"shop\" }, \"scope\" : { "
                           "\"name\" : \"lib\", \"version\" : \"1.0\" } }");
    bson_free(json);
    owl_log_decoded_free(&d);
}

/* Records without attributes of their own share one attrs document per scope (same bytes,
 * one copy); a record with attributes between them gets its own, and the next scope gets a
 * new shared one naming that scope. */
Test(otlp_logs, plain_records_of_a_scope_share_one_attrs_copy)
{
    Rec *r1[3] = {rec(1000000, av_str("a")), rec(2000000, av_str("b")), rec(3000000, av_str("c"))};
    KV *ra[1] = {kv("user", av_str("ann"))};
    r1[1]->attributes = dup_ptrs((void *const *)ra, 1);
    r1[1]->n_attributes = 1;
    Rec *r2[1] = {rec(4000000, av_str("d"))};
    Scope *sc[2] = {scope("lib", "1.0", r1, 3), scope("other", NULL, r2, 1)};
    KV *attrs[1] = {kv("service.name", av_str("shop"))};
    Res *rs[1] = {res(attrs, 1, sc, 2)};
    owl_log_decoded d;
    decode_res(rs, 1, &d);
    cr_assert_eq(d.nb, 1);
    cr_assert_eq(d.b[0].n, 4);
    const owl_log_event *ev = d.b[0].ev; /* sorted by time: a, b, c, d */
    MSG_EQ(ev[0].message, "a");
    MSG_EQ(ev[3].message, "d");
    cr_assert_eq(ev[0].attrs.p, ev[2].attrs.p, "a and c share one copy");
    cr_assert_eq(ev[0].attrs.n, ev[2].attrs.n);
    cr_assert_neq(ev[1].attrs.p, ev[0].attrs.p);
    cr_assert_gt(ev[1].attrs.n, ev[0].attrs.n);
    cr_assert_neq(ev[3].attrs.p, ev[0].attrs.p);
    bson_t doc;
    cr_assert(bson_init_static(&doc, ev[3].attrs.p, ev[3].attrs.n));
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    cr_assert_str_eq(json, "{ \"resource\" : { \"service.name\" : \"shop\" }, \"scope\" : { "
                           "\"name\" : \"other\" } }");
    bson_free(json);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, no_attributes_no_resource_no_scope_gives_empty_attrs)
{
    Rec *r[1] = {rec(1, av_str("m"))};
    Scope *s[1] = {scope(NULL, NULL, r, 1)};
    Res *rs[1] = {res(NULL, 0, s, 1)};
    owl_log_decoded d;
    decode_res(rs, 1, &d);
    cr_assert_eq(d.b[0].ev[0].attrs.n, 0);
    owl_log_decoded_free(&d);
}

/* ---- grouping ---- */

Test(otlp_logs, records_grouped_by_group_and_stream_and_sorted_stably)
{
    KV *a1[2] = {kv("service.name", av_str("a")), kv("host.name", av_str("h1"))};
    KV *a2[2] = {kv("service.name", av_str("b")), kv("host.name", av_str("h1"))};
    KV *a3[2] = {kv("service.name", av_str("a")), kv("host.name", av_str("h1"))};
    Rec *r1[2] = {rec(5000000, av_str("a5")), rec(3000000, av_str("a3"))};
    Rec *r2[1] = {rec(1000000, av_str("b1"))};
    Rec *r3[2] = {rec(3000000, av_str("a3bis")), rec(1000000, av_str("a1"))};
    Scope *s1[1] = {scope(NULL, NULL, r1, 2)};
    Scope *s2[1] = {scope(NULL, NULL, r2, 1)};
    Scope *s3[1] = {scope(NULL, NULL, r3, 2)};
    Res *rs[3] = {res(a1, 2, s1, 1), res(a2, 2, s2, 1), res(a3, 2, s3, 1)};
    uint8_t *p;
    size_t n = pack(rs, 3, &p);
    owl_log_decoded d;
    decode_pb(p, n, &d);
    free(p);
    cr_assert_eq(d.nb, 2);
    cr_assert_eq(d.events, 5);
    cr_assert_str_eq(d.b[0].group, "/otel/a");
    cr_assert_str_eq(d.b[0].stream, "h1");
    cr_assert_eq(d.b[0].n, 4);
    MSG_EQ(d.b[0].ev[0].message, "a1");
    MSG_EQ(d.b[0].ev[1].message, "a3");
    MSG_EQ(d.b[0].ev[2].message, "a3bis");
    MSG_EQ(d.b[0].ev[3].message, "a5");
    cr_assert_str_eq(d.b[1].group, "/otel/b");
    cr_assert_eq(d.b[1].n, 1);
    owl_log_decoded_free(&d);
}

/* ---- both encodings ---- */

static void assert_same(const owl_log_decoded *x, const owl_log_decoded *y)
{
    cr_assert_eq(x->nb, y->nb);
    cr_assert_eq(x->rejected, y->rejected);
    cr_assert_str_eq(x->message, y->message);
    for (size_t i = 0; i < x->nb; i++) {
        cr_assert_str_eq(x->b[i].group, y->b[i].group);
        cr_assert_str_eq(x->b[i].stream, y->b[i].stream);
        cr_assert_eq(x->b[i].n, y->b[i].n);
        for (size_t j = 0; j < x->b[i].n; j++) {
            const owl_log_event *a = &x->b[i].ev[j], *b = &y->b[i].ev[j];
            cr_assert_eq(a->time_ms, b->time_ms);
            cr_assert(same_bytes(a->message, b->message));
            cr_assert(same_bytes(a->severity, b->severity));
            cr_assert(memcmp(a->trace_id, b->trace_id, 16) == 0);
            cr_assert(memcmp(a->span_id, b->span_id, 8) == 0);
            cr_assert(same_bytes(a->attrs, b->attrs));
        }
    }
}

/* The request of the OTLP specification's logs example, and two more records. */
static const char *json_req =
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h-1\"}}]},"
    "\"scopeLogs\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},"
    "\"logRecords\":[{\"timeUnixNano\":\"1544712660300000000\","
    "\"observedTimeUnixNano\":\"1544712660300000000\",\"severityNumber\":10,"
    "\"severityText\":\"Information\",\"traceId\":\"5B8EFFF798038103D269B633813FC60C\","
    "\"spanId\":\"EEE19B7EC3C1B174\",\"body\":{\"stringValue\":\"Example log record\"},"
    "\"attributes\":[{\"key\":\"string.attribute\",\"value\":{\"stringValue\":\"some string\"}},"
    "{\"key\":\"boolean.attribute\",\"value\":{\"boolValue\":true}},"
    "{\"key\":\"int.attribute\",\"value\":{\"intValue\":\"10\"}},"
    "{\"key\":\"double.attribute\",\"value\":{\"doubleValue\":637.704}},"
    "{\"key\":\"array.attribute\",\"value\":{\"arrayValue\":{\"values\":["
    "{\"stringValue\":\"many\"},{\"stringValue\":\"values\"}]}}},"
    "{\"key\":\"map.attribute\",\"value\":{\"kvlistValue\":{\"values\":["
    "{\"key\":\"some.map.key\",\"value\":{\"stringValue\":\"some value\"}}]}}}]},"
    "{\"time_unix_nano\":1544712661000000000,\"severity_number\":\"SEVERITY_NUMBER_ERROR\","
    "\"body\":{\"intValue\":7}},"
    "{\"timeUnixNano\":\"1544712662000000000\",\"traceId\":\"abcd\","
    "\"body\":{\"stringValue\":\"short id\"}}"
    "]}]}]}";

static size_t pb_req(uint8_t **out)
{
    KV *ra[2] = {kv("service.name", av_str("my.service")), kv("host.name", av_str("h-1"))};
    Rec *r[3] = {rec(1544712660300000000ull, av_str("Example log record")),
                 rec(1544712661000000000ull, av_int(7)),
                 rec(1544712662000000000ull, av_str("short id"))};
    r[0]->observed_time_unix_nano = 1544712660300000000ull;
    r[0]->severity_number = 10;
    r[0]->severity_text = strdup("Information");
    r[0]->trace_id = (ProtobufCBinaryData){
        16, (uint8_t *)strdup("\x5B\x8E\xFF\xF7\x98\x03\x81\x03\xD2\x69\xB6\x33\x81\x3F\xC6\x0C")};
    r[0]->span_id = (ProtobufCBinaryData){8, (uint8_t *)strdup("\xEE\xE1\x9B\x7E\xC3\xC1\xB1\x74")};
    AV *d = malloc(sizeof *d), *bo = malloc(sizeof *bo), *kl = malloc(sizeof *kl);
    opentelemetry__proto__common__v1__any_value__init(d);
    d->value_case = AV_(DOUBLE_VALUE);
    d->double_value = 637.704;
    opentelemetry__proto__common__v1__any_value__init(bo);
    bo->value_case = AV_(BOOL_VALUE);
    bo->bool_value = 1;
    opentelemetry__proto__common__v1__any_value__init(kl);
    kl->value_case = AV_(KVLIST_VALUE);
    kl->kvlist_value = malloc(sizeof *kl->kvlist_value);
    opentelemetry__proto__common__v1__key_value_list__init(kl->kvlist_value);
    KV *inner[1] = {kv("some.map.key", av_str("some value"))};
    kl->kvlist_value->values = dup_ptrs((void *const *)inner, 1);
    kl->kvlist_value->n_values = 1;
    KV *at[6] = {kv("string.attribute", av_str("some string")), kv("boolean.attribute", bo),
                 kv("int.attribute", av_int(10)), kv("double.attribute", d),
                 kv("array.attribute", av_strs((const char *const[]){"many", "values"}, 2)),
                 kv("map.attribute", kl)};
    r[0]->attributes = dup_ptrs((void *const *)at, 6);
    r[0]->n_attributes = 6;
    r[1]->severity_number = 17;
    r[2]->trace_id = (ProtobufCBinaryData){2, (uint8_t *)strdup("\xab\xcd")};
    Scope *s[1] = {scope("my.library", "1.0.0", r, 3)};
    Res *rs[1] = {res(ra, 2, s, 1)};
    return pack(rs, 1, out);
}

Test(otlp_logs, json_and_protobuf_give_the_same_events)
{
    owl_log_decoded j, p;
    uint8_t *body;
    size_t n = pb_req(&body);
    decode_pb(body, n, &p);
    free(body);
    decode_json(json_req, &j);
    assert_same(&j, &p);
    cr_assert_eq(j.nb, 1);
    cr_assert_str_eq(j.b[0].group, "/otel/my.service");
    cr_assert_str_eq(j.b[0].stream, "h-1");
    cr_assert_eq(j.b[0].n, 2);
    cr_assert_eq(j.rejected, 1);
    cr_assert_str_eq(j.message, "resource 0 scope 0 record 2: trace_id of 2 bytes (16 expected)");
    const owl_log_event *e = &j.b[0].ev[0];
    cr_assert_eq(e->time_ms, 1544712660300);
    MSG_EQ(e->message, "Example log record");
    MSG_EQ(e->severity, "Information");
    cr_assert_eq(e->trace_id[0], 0x5B);
    cr_assert_eq(e->span_id[7], 0x74);
    MSG_EQ(j.b[0].ev[1].message, "7");
    MSG_EQ(j.b[0].ev[1].severity, "ERROR");
    owl_log_decoded_free(&j);
    owl_log_decoded_free(&p);
}

/* ---- whole requests refused ---- */

Test(otlp_logs, malformed_bodies_refused_whole)
{
    static const struct {
        enum owl_otlp_encoding enc;
        const char *body;
        size_t n;
        const char *why;
    } bad[] = {
        {OWL_OTLP_PROTOBUF, "\x0a\x05\x0a", 3, "malformed protobuf"},
        {OWL_OTLP_PROTOBUF, "\xff\xff\xff", 3, "malformed protobuf"},
        {OWL_OTLP_JSON, "{\"resourceLogs\":[", 17, "malformed JSON"},
        {OWL_OTLP_JSON, "[1]", 3, "malformed JSON"},
        {OWL_OTLP_JSON, "{\"resourceLogs\":{}}", 19, "must be an array"},
        {OWL_OTLP_JSON,
         "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"traceId\":\"xyz\"}]}]}]}", 0,
         "wrong type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_log_decoded d = {0};
        owl_error err = {0};
        size_t n = bad[i].n ? bad[i].n : strlen(bad[i].body);
        int rc = owl_otlp_logs_decode(bad[i].enc, bad[i].body, n, NOW_MS, MAX, &d, &err);
        cr_assert_eq(rc, OWL_EINVAL, "case %zu", i);
        cr_assert(strstr(err.msg, bad[i].why), "case %zu: %s", i, err.msg);
        cr_assert_eq(d.nb, 0);
        owl_log_decoded_free(&d);
    }
}

Test(otlp_logs, empty_body_is_an_empty_request)
{
    owl_log_decoded d = {0};
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, "", 0, NOW_MS, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(d.nb, 0);
    owl_log_decoded_free(&d);
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_JSON, "{}", 2, NOW_MS, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(d.nb, 0);
    owl_log_decoded_free(&d);
}

Test(otlp_logs, over_max_events_refused_whole)
{
    Rec *r[3] = {rec(1, av_str("a")), rec(2, av_str("b")), rec(3, av_str("c"))};
    uint8_t *p;
    size_t n = pack1(NULL, NULL, r, 3, &p);
    owl_log_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, p, n, NOW_MS, 2, &d, &err),
                 OWL_ETOOBIG);
    cr_assert_str_eq(err.msg, "3 log records in one request (at most 2)");
    cr_assert_eq(d.nb, 0);
    owl_log_decoded_free(&d);
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, p, n, NOW_MS, 3, &d, &err), OWL_OK);
    cr_assert_eq(d.events, 3);
    owl_log_decoded_free(&d);
    free(p);
}

Test(otlp_logs, decoded_is_reusable_and_free_accepts_null)
{
    owl_log_decoded d = {0};
    owl_log_decoded_free(NULL);
    owl_log_decoded_free(&d);
    decode_json(json_req, &d);
    /* decode again into the same without freeing: the first result is freed (valgrind) */
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_JSON, json_req, strlen(json_req), NOW_MS, MAX,
                                      &d, NULL), OWL_OK);
    cr_assert_eq(d.events, 2);
    owl_log_decoded_free(&d);
}

/* ---- the answer ---- */

Test(otlp_logs, response_both_encodings)
{
    owl_buf o = OWL_BUF_INIT;
    cr_assert_eq(owl_otlp_logs_response(OWL_OTLP_JSON, 0, NULL, &o), OWL_OK);
    cr_assert_str_eq(o.data, "{}");
    owl_buf_reset(&o);
    cr_assert_eq(owl_otlp_logs_response(OWL_OTLP_JSON, 2, "record 1: \"bad\"", &o), OWL_OK);
    cr_assert_str_eq(o.data, "{\"partialSuccess\":{\"rejectedLogRecords\":\"2\","
                             "\"errorMessage\":\"record 1: \\\"bad\\\"\"}}");
    owl_buf_reset(&o);
    cr_assert_eq(owl_otlp_logs_response(OWL_OTLP_PROTOBUF, 0, NULL, &o), OWL_OK);
    cr_assert_eq(o.len, 0);
    cr_assert_eq(owl_otlp_logs_response(OWL_OTLP_PROTOBUF, 3, "why", &o), OWL_OK);
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *r =
        opentelemetry__proto__collector__logs__v1__export_logs_service_response__unpack(
            NULL, o.len, (const uint8_t *)o.data);
    cr_assert(r && r->partial_success);
    cr_assert_eq(r->partial_success->rejected_log_records, 3);
    cr_assert_str_eq(r->partial_success->error_message, "why");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    owl_buf_free(&o);
}

/* ---- the OTLP project's example bodies ($OWL_TEST_DATA/otlp, data SOURCE.md) ---- */

Test(otlp_logs, specification_examples)
{
    owl_log_decoded d;
    char *body = test_data("otlp/opentelemetry-proto/logs.json", 1u << 20, NULL);
    decode_json(body, &d);
    free(body);
    cr_assert_eq(d.nb, 1);
    cr_assert_str_eq(d.b[0].group, "/otel/my.service");
    cr_assert_str_eq(d.b[0].stream, "default");
    cr_assert_eq(d.b[0].n, 1);
    MSG_EQ(d.b[0].ev[0].message, "Example log record");
    MSG_EQ(d.b[0].ev[0].severity, "Information");
    cr_assert_eq(d.b[0].ev[0].time_ms, 1544712660300);
    cr_assert_eq(d.b[0].ev[0].trace_id[15], 0x0C);
    owl_log_decoded_free(&d);

    body = test_data("otlp/opentelemetry-proto/events.json", 1u << 20, NULL);
    decode_json(body, &d);
    free(body);
    cr_assert_eq(d.events, 1);
    const owl_log_event *e = &d.b[0].ev[0];
    cr_assert(e->message.n > 2 && ((const char *)e->message.p)[0] == '{', "%.*s",
              (int)e->message.n, (const char *)e->message.p);
    bson_t doc;
    bson_iter_t it;
    cr_assert(bson_init_static(&doc, e->attrs.p, e->attrs.n));
    cr_assert(bson_iter_init_find(&it, &doc, "event_name") && BSON_ITER_HOLDS_UTF8(&it));
    cr_assert_str_eq(bson_iter_utf8(&it, NULL), "browser.page_view");
    owl_log_decoded_free(&d);
}

/* ---- the protobuf fast path (otlp_logs.c) ---- */

/* A request of one resource (aws.log.group.names = /g, service.instance.id = s1) and one
 * ScopeLogs of the given bytes. */
static void wb_request(wb *req, const wb *scope_logs)
{
    wb res = {.n = 0}, rl = {.n = 0};
    wb_kv(&res, 1, "aws.log.group.names", "/g");
    wb_kv(&res, 1, "service.instance.id", "s1");
    wb_sub(&rl, 1, &res);
    wb_sub(&rl, 2, scope_logs);
    req->n = 0;
    wb_sub(req, 1, &rl);
}

/* A record of time t with a string body (none when body is NULL), plus the bytes extra (more
 * fields) after it. */
static void wb_record(wb *sl, uint64_t t, const char *body, const wb *extra)
{
    wb r = {.n = 0}, any = {.n = 0};
    wb_fixed64(&r, 1, t);
    if (body) {
        wb_str(&any, 1, body);
        wb_sub(&r, 5, &any);
    }
    if (extra)
        wb_put(&r, extra->b, extra->n);
    wb_sub(sl, 2, &r);
}

Test(otlp_logs, fast_path_reads_the_common_records)
{
    /* built by protobuf-c: every field the fast path reads, several resources and scopes */
    Rec *a[3] = {rec(3000000000, av_str("third")), rec(1000000000, av_str("first \xff")),
                 rec(0, av_str("no time"))};
    a[0]->severity_number = 17;
    a[1]->severity_text = strdup("Warning");
    a[1]->observed_time_unix_nano = 5;
    a[2]->observed_time_unix_nano = 2000000000;
    a[0]->trace_id = (ProtobufCBinaryData){16, (uint8_t *)strdup("0123456789abcdef")};
    a[0]->span_id = (ProtobufCBinaryData){8, (uint8_t *)strdup("01234567")};
    a[1]->trace_id = (ProtobufCBinaryData){3, (uint8_t *)strdup("abc")}; /* refused */
    KV *ra[2] = {kv("http.method", av_str("GET")), kv("n", av_int(7))};
    a[2]->attributes = dup_ptrs((void *const *)ra, 2);
    a[2]->n_attributes = 2;
    a[2]->event_name = strdup("ev");
    Rec *b[2] = {rec(4000000000, av_str("other")), rec(4000000000, av_str("same time"))};
    KV *attrs[2] = {kv("service.name", av_str("svc")), kv("host.name", av_str("h1"))};
    Scope *s1[2] = {scope("lib", "1.0", a, 3), scope(NULL, NULL, b, 1)};
    Scope *s2[1] = {scope("other", NULL, b + 1, 1)};
    Res *rs[2] = {res(attrs, 2, s1, 2), res(NULL, 0, s2, 1)};
    uint8_t *p;
    size_t n = pack(rs, 2, &p);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, p, n, MAX), OWL_OK);
    free(p);

    /* by hand: a scope after its records, a resource after its scopes, unknown fields of
     * every wire type, a field given twice (the last one counts), an invalid UTF-8 body */
    wb sl = {.n = 0}, extra = {.n = 0}, req = {.n = 0}, res2 = {.n = 0}, rl = {.n = 0},
       scope2 = {.n = 0};
    wb_tag(&extra, 2, 0), wb_varint(&extra, 9);
    wb_tag(&extra, 2, 0), wb_varint(&extra, 13); /* severity 13: WARN */
    wb_tag(&extra, 99, 0), wb_varint(&extra, 1);
    wb_tag(&extra, 98, 5), wb_put(&extra, "abcd", 4);
    wb_fixed64(&extra, 97, 1);
    wb_str(&extra, 96, "unknown");
    wb_tag(&extra, 8, 5), wb_put(&extra, "\1\0\0\0", 4); /* flags */
    wb_tag(&extra, 7, 0), wb_varint(&extra, 3);         /* dropped_attributes_count */
    wb_fixed64(&extra, (1u << 29) + 1, 5000000000u); /* unknown: not time_unix_nano (1) */
    wb_record(&sl, 1000000000, "one", &extra);
    wb_record(&sl, 2000000000, "bad \xc0\xaf utf", NULL);
    wb_str(&scope2, 1, "late scope");
    wb_sub(&sl, 1, &scope2);
    wb_str(&sl, 3, "https://schema");
    wb_sub(&rl, 2, &sl);
    wb_kv(&res2, 1, "service.name", "late");
    wb_sub(&rl, 1, &res2);
    wb_sub(&req, 1, &rl);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, MAX), OWL_OK);
    owl_log_decoded d = {0};
    decode_pb(req.b, req.n, &d);
    cr_assert_str_eq(d.b[0].group, "/otel/late");
    MSG_EQ(d.b[0].ev[0].severity, "WARN");
    cr_assert_eq(d.b[0].ev[0].time_ms, 1000);
    MSG_EQ(d.b[0].ev[1].message, "bad \xef\xbf\xbd\xef\xbf\xbd utf");
    owl_log_decoded_free(&d);

    /* the JavaScript SDK's JSON export, through JSON's transcoding */
    char path[4096], *body = NULL;
    size_t len;
    const char *src = getenv("OWL_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/otlp/sdk_logs_json.json",
             src ? src : "..");
    cr_assert_eq(owl_read_file(path, 1u << 20, &body, &len, NULL), OWL_OK, "%s", path);
    cr_assert_eq(both_paths(OWL_OTLP_JSON, body, len, MAX), OWL_OK);
    free(body);
}

Test(otlp_logs, fast_path_declines_what_it_does_not_read)
{
    static const struct {
        const char *what;
        const char *extra; /* bytes appended to a record's */
        size_t n;
        int body; /* the record has a string body before them */
    } cases[] = {
        {"a second body (protobuf-c merges them)", "\x2a\x03\x0a\x01x", 5, 1},
        {"a body that is not a string", "\x2a\x02\x18\x05", 4, 0},
        {"a body string, then an int", "\x2a\x05\x0a\x01x\x18\x05", 7, 0},
        {"a string body holding a NUL", "\x2a\x04\x0a\x02x\0", 6, 0},
        {"a severity text holding a NUL", "\x1a\x02x\0", 4, 1},
        {"an event name holding a NUL", "\x62\x02x\0", 4, 1},
        {"time as a varint", "\x08\x05", 2, 1},
        {"a trace id as a varint", "\x48\x05", 2, 1},
        {"a group (wire type 3)", "\x9b\x06\x9c\x06", 4, 1},
        {"wire type 7", "\x0f", 1, 1},
        {"field 0", "\x00\x01", 2, 1},
        {"a truncated fixed64", "\x09\x01\x02", 3, 1},
        {"a length past the end", "\x1a\x09x", 3, 1},
        {"a tag of six bytes", "\x80\x80\x80\x80\x80\x01", 6, 1},
        {"a varint of eleven bytes", "\x10\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12, 1},
        {"a length of six bytes", "\x1a\x81\x80\x80\x80\x80\x00", 7, 1},
        {"an attribute that is not a KeyValue", "\x32\x02\x08\x01", 4, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        wb sl = {.n = 0}, extra = {.n = 0}, req = {.n = 0};
        wb_put(&extra, cases[i].extra, cases[i].n);
        wb_record(&sl, 1000000000, "kept", NULL);
        wb_record(&sl, 2000000000, cases[i].body ? "x" : NULL, &extra);
        wb_request(&req, &sl);
        cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, MAX), OWL_EUNSUPPORTED,
                     "case %zu: %s", i, cases[i].what);
        /* what owld answers is the general path's */
        owl_log_decoded a = {0}, g = {0};
        owl_error ea = {0}, eg = {0};
        int ra = owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, req.b, req.n, NOW_MS, MAX, &a, &ea);
        int rg = owl_otlp_logs_decode_path(OWL_OTLP_PROTOBUF, req.b, req.n, NOW_MS, MAX,
                                           OWL_OTLP_GENERAL, &g, &eg);
        cr_assert_eq(ra, rg, "case %zu", i);
        if (ra == OWL_OK)
            assert_same(&a, &g);
        else
            cr_assert_str_eq(ea.msg, eg.msg);
        owl_log_decoded_free(&a);
        owl_log_decoded_free(&g);
    }
    /* a message field given twice one level up: a scope, a resource */
    wb sl = {.n = 0}, sc = {.n = 0}, req = {.n = 0}, rl = {.n = 0}, res = {.n = 0};
    wb_str(&sc, 1, "lib");
    wb_sub(&sl, 1, &sc);
    wb_sub(&sl, 1, &sc);
    wb_record(&sl, 1000000000, "x", NULL);
    wb_request(&req, &sl);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, MAX), OWL_EUNSUPPORTED);
    sl.n = 0;
    wb_record(&sl, 1000000000, "x", NULL);
    wb_kv(&res, 1, "service.name", "a");
    wb_sub(&rl, 1, &res);
    wb_sub(&rl, 1, &res);
    wb_sub(&rl, 2, &sl);
    wb_sub(&req, 1, &rl);
    req.n = 0;
    wb_sub(&req, 1, &rl);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, MAX), OWL_EUNSUPPORTED);
    /* more records than allowed: declined, and refused whole by the general path */
    sl.n = 0;
    for (int i = 0; i < 3; i++)
        wb_record(&sl, 1000000000, "x", NULL);
    wb_request(&req, &sl);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, 3), OWL_OK);
    cr_assert_eq(both_paths(OWL_OTLP_PROTOBUF, req.b, req.n, 2), OWL_EUNSUPPORTED);
    owl_log_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, req.b, req.n, NOW_MS, 2, &d, &err),
                 OWL_ETOOBIG);
    cr_assert_str_eq(err.msg, "3 log records in one request (at most 2)");
    owl_log_decoded_free(&d);
}

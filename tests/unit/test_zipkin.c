/* test_zipkin.c — Zipkin v2 JSON decoding (ingest/zipkin.c): every mapping of
 * docs/api/traces-ingest.md (ids of 64 and 128 bits, kinds, times, missing timestamp and
 * duration, endpoints, tags to the HTTP fields, the error tag, annotations, shared and debug,
 * the attrs layout), the same span as OTLP JSON decoding to the same record, spans refused
 * one by one beside kept ones, bodies refused whole, and the Zipkin project's test traces
 * ($OWL_TEST_DATA/traces-zipkin). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/traceid.h"
#include "common/util.h"
#include "ingest/ingest.h"
#include "tests/unit/testfs.h"

#define NOW 1700000000000000000ll
#define STR_EQ(b, s)                                                                             \
    cr_assert((b).n == strlen(s) && memcmp((b).p, s, (b).n) == 0, "%.*s != %s", (int)(b).n,  \
              (const char *)(b).p, s)

static void decode(const char *body, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    cr_assert_eq(owl_zipkin_decode(body, strlen(body), NOW, 100000, d, &err), OWL_OK, "%s",
                 err.msg);
}

static char *attrs_json(const owl_span *s)
{
    bson_t doc;
    cr_assert(bson_init_static(&doc, s->attrs.p, s->attrs.n));
    return bson_as_relaxed_extended_json(&doc, NULL);
}

static void hex_eq(const uint8_t *id, size_t n, const char *want)
{
    char h[OWL_TRACEID_HEX_SIZE];
    if (n == 16)
        owl_traceid_to_hex(id, h);
    else
        owl_traceid_span_to_hex(id, h);
    cr_assert_str_eq(h, want);
}

Test(zipkin, every_field)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"5b8efff798038103d269b633813fc60c\", \"id\": \"eee19b7ec3c1b174\","
           " \"parentId\": \"eee19b7ec3c1b173\", \"kind\": \"SERVER\", \"name\": \"get /api\","
           " \"timestamp\": 1544712660000000, \"duration\": 1500, \"debug\": true,"
           " \"localEndpoint\": {\"serviceName\": \"frontend\", \"ipv4\": \"10.0.0.1\","
           " \"port\": 8080}, \"remoteEndpoint\": {\"serviceName\": \"browser\","
           " \"ipv6\": \"2001:db8::c001\"},"
           " \"tags\": {\"http.method\": \"GET\", \"http.path\": \"/api/x?y=1\","
           " \"http.url\": \"http://h/api/x?y=1\", \"http.status_code\": \"200\","
           " \"http.user_agent\": \"curl/8\", \"n\": 5},"
           " \"annotations\": [{\"timestamp\": 1544712660000100, \"value\": \"ws\"}],"
           " \"unknownField\": [1]}]",
           &d);
    cr_assert_eq(d.n, 1, "%s", d.message);
    const owl_span *s = &d.spans[0];
    hex_eq(s->trace_id, 16, "5b8efff798038103d269b633813fc60c");
    hex_eq(s->span_id, 8, "eee19b7ec3c1b174");
    hex_eq(s->parent_id, 8, "eee19b7ec3c1b173");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    STR_EQ(s->name, "get /api");
    STR_EQ(s->service, "frontend");
    cr_assert_eq(s->start_ns, 1544712660000000000ll);
    cr_assert_eq(s->duration_ns, 1500000);
    cr_assert_eq(s->in_progress, 0);
    STR_EQ(s->http_method, "GET");
    STR_EQ(s->route, "/api/x");
    STR_EQ(s->url, "http://h/api/x?y=1");
    cr_assert_eq(s->http_status, 200);
    STR_EQ(s->user_agent, "curl/8");
    STR_EQ(s->client_ip, "2001:db8::c001"); /* a server's remote endpoint is its client */
    STR_EQ(s->peer_service, "browser");
    cr_assert_eq(s->status, OWL_SPAN_OK);
    cr_assert_eq(s->status_code, 0);
    cr_assert_eq(s->status_message.n, 0);
    char *j = attrs_json(s);
    cr_assert_str_eq(
        j, "{ \"resource\" : { \"service.name\" : \"frontend\" }, \"attributes\" : { "
           "\"http.method\" : \"GET\", \"http.path\" : \"/api/x?y=1\", \"http.url\" : "
           "\"http://h/api/x?y=1\", \"http.status_code\" : \"200\", \"http.user_agent\" : "
           "\"curl/8\", \"n\" : 5 }, \"events\" : [ { \"name\" : \"ws\", \"time_ns\" : "
           "1544712660000100000, \"attributes\" : {  } } ], \"zipkin\" : { \"local_endpoint\" "
           ": { \"serviceName\" : \"frontend\", \"ipv4\" : \"10.0.0.1\", \"port\" : 8080 }, "
           "\"remote_endpoint\" : { \"serviceName\" : \"browser\", \"ipv6\" : "
           "\"2001:db8::c001\" }, \"debug\" : true } }");
    bson_free(j);
    owl_span_decoded_free(&d);
}

/* The same span through OTLP JSON and Zipkin: the same record (attrs aside, which name
 * their source's structure). */
Test(zipkin, same_record_as_otlp)
{
    owl_span_decoded z, o;
    owl_error err = {0};
    const char *otlp =
        "{\"resourceSpans\": [{\"resource\": {\"attributes\": [{\"key\": \"service.name\","
        " \"value\": {\"stringValue\": \"cart\"}}]}, \"scopeSpans\": [{\"spans\": [{"
        "\"traceId\": \"5b8efff798038103d269b633813fc60c\", \"spanId\": \"eee19b7ec3c1b174\","
        " \"parentSpanId\": \"eee19b7ec3c1b173\", \"name\": \"post /pay\", \"kind\": 3,"
        " \"startTimeUnixNano\": \"1544712660000000000\", \"endTimeUnixNano\":"
        " \"1544712660002000000\", \"status\": {\"code\": 2, \"message\": \"boom\"},"
        " \"attributes\": [{\"key\": \"http.method\", \"value\": {\"stringValue\": \"POST\"}},"
        " {\"key\": \"http.url\", \"value\": {\"stringValue\": \"https://pay/v1/pay?x\"}},"
        " {\"key\": \"http.status_code\", \"value\": {\"intValue\": 503}},"
        " {\"key\": \"peer.service\", \"value\": {\"stringValue\": \"payments\"}}]}]}]}]}";
    memset(&o, 0, sizeof o);
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_JSON, otlp, strlen(otlp), 10, &o, &err), OWL_OK,
                 "%s", err.msg);
    decode("[{\"traceId\": \"5b8efff798038103d269b633813fc60c\", \"id\": \"eee19b7ec3c1b174\","
           " \"parentId\": \"eee19b7ec3c1b173\", \"kind\": \"CLIENT\", \"name\": \"post /pay\","
           " \"timestamp\": 1544712660000000, \"duration\": 2000,"
           " \"localEndpoint\": {\"serviceName\": \"cart\"},"
           " \"remoteEndpoint\": {\"serviceName\": \"payments\"},"
           " \"tags\": {\"http.method\": \"POST\", \"http.url\": \"https://pay/v1/pay?x\","
           " \"http.status_code\": \"503\", \"error\": \"boom\"}}]",
           &z);
    cr_assert_eq(z.n, 1, "%s", z.message);
    cr_assert_eq(o.n, 1, "%s", o.message);
    const owl_span *a = &z.spans[0], *b = &o.spans[0];
    cr_assert_eq(memcmp(a->trace_id, b->trace_id, 16), 0);
    cr_assert_eq(memcmp(a->span_id, b->span_id, 8), 0);
    cr_assert_eq(memcmp(a->parent_id, b->parent_id, 8), 0);
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->start_ns, b->start_ns);
    cr_assert_eq(a->duration_ns, b->duration_ns);
    cr_assert_eq(a->status, OWL_SPAN_FAULT);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->status_code, b->status_code);
    cr_assert_eq(a->http_status, b->http_status);
    cr_assert_eq(a->in_progress, b->in_progress);
    const owl_bytes *fa[] = {&a->service, &a->name, &a->status_message, &a->http_method,
                             &a->route, &a->url, &a->peer_service};
    const owl_bytes *fb[] = {&b->service, &b->name, &b->status_message, &b->http_method,
                             &b->route, &b->url, &b->peer_service};
    for (size_t i = 0; i < sizeof fa / sizeof *fa; i++)
        cr_assert(fa[i]->n == fb[i]->n && memcmp(fa[i]->p, fb[i]->p, fa[i]->n) == 0,
                  "field %zu: %.*s != %.*s", i, (int)fa[i]->n, (const char *)fa[i]->p,
                  (int)fb[i]->n, (const char *)fb[i]->p);
    STR_EQ(a->route, "/v1/pay");
    owl_span_decoded_free(&z);
    owl_span_decoded_free(&o);
}

Test(zipkin, ids_64_and_128_bits)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"48485a3953bb6124\", \"id\": \"48485a3953bb6124\"},"
           " {\"traceId\": \"000000000000000048485a3953bb6124\", \"id\": \"1\"},"
           " {\"traceId\": \"463ac35c9f6413ad48485a3953bb6124\", \"id\": \"ABCDEF0123456789\","
           " \"parentId\": \"0000000000000000\"},"
           " {\"traceId\": \"abc\", \"id\": \"2\", \"parentId\": \"2\"},"
           " {\"traceId\": \"1463ac35c9f6413ad48485a3953bb612\", \"id\": \"3\","
           " \"parentId\": \"0a\"}]",
           &d);
    cr_assert_eq(d.n, 5, "%s", d.message);
    /* a 64-bit id is the 128-bit one with 8 zero bytes in front, whichever way it is sent */
    hex_eq(d.spans[0].trace_id, 16, "000000000000000048485a3953bb6124");
    cr_assert_eq(memcmp(d.spans[0].trace_id, d.spans[1].trace_id, 16), 0);
    hex_eq(d.spans[1].span_id, 8, "0000000000000001");
    hex_eq(d.spans[2].trace_id, 16, "463ac35c9f6413ad48485a3953bb6124");
    hex_eq(d.spans[2].span_id, 8, "abcdef0123456789");
    cr_assert(owl_traceid_is_zero(d.spans[2].parent_id, 8)); /* all-zero parent: a root */
    hex_eq(d.spans[3].trace_id, 16, "00000000000000000000000000000abc");
    cr_assert(owl_traceid_is_zero(d.spans[3].parent_id, 8)); /* its own parent: a root */
    hex_eq(d.spans[4].parent_id, 8, "000000000000000a");
    /* absent kind, name and service */
    cr_assert_eq(d.spans[0].kind, OWL_SPAN_INTERNAL);
    STR_EQ(d.spans[0].name, "unknown");
    STR_EQ(d.spans[0].service, "unknown_service");
    owl_span_decoded_free(&d);
}

Test(zipkin, kinds)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"a\", \"id\": \"1\", \"kind\": \"CLIENT\"},"
           " {\"traceId\": \"a\", \"id\": \"2\", \"kind\": \"SERVER\"},"
           " {\"traceId\": \"a\", \"id\": \"3\", \"kind\": \"PRODUCER\"},"
           " {\"traceId\": \"a\", \"id\": \"4\", \"kind\": \"CONSUMER\"},"
           " {\"traceId\": \"a\", \"id\": \"5\", \"kind\": null}]",
           &d);
    cr_assert_eq(d.n, 5, "%s", d.message);
    enum owl_span_kind want[] = {OWL_SPAN_CLIENT, OWL_SPAN_SERVER, OWL_SPAN_PRODUCER,
                                 OWL_SPAN_CONSUMER, OWL_SPAN_INTERNAL};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(d.spans[i].kind, want[i]);
    owl_span_decoded_free(&d);
}

/* A client and the server sharing its span id: two records, told apart by kind and service;
 * the server half is marked shared, a client's shared flag is dropped as Zipkin drops it. */
Test(zipkin, shared_spans)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"a\", \"parentId\": \"1\", \"id\": \"2\", \"kind\": \"CLIENT\","
           " \"name\": \"get\", \"timestamp\": 10, \"duration\": 9, \"shared\": true,"
           " \"localEndpoint\": {\"serviceName\": \"web\"}},"
           " {\"traceId\": \"a\", \"parentId\": \"1\", \"id\": \"2\", \"kind\": \"SERVER\","
           " \"name\": \"get\", \"timestamp\": 12, \"duration\": 5, \"shared\": true,"
           " \"localEndpoint\": {\"serviceName\": \"api\"},"
           " \"remoteEndpoint\": {\"ipv4\": \"10.1.2.3\"}}]",
           &d);
    cr_assert_eq(d.n, 2, "%s", d.message);
    cr_assert_eq(memcmp(d.spans[0].span_id, d.spans[1].span_id, 8), 0);
    cr_assert_eq(d.spans[0].kind, OWL_SPAN_CLIENT);
    cr_assert_eq(d.spans[1].kind, OWL_SPAN_SERVER);
    STR_EQ(d.spans[1].client_ip, "10.1.2.3");
    cr_assert_eq(d.spans[0].client_ip.n, 0);
    char *j0 = attrs_json(&d.spans[0]), *j1 = attrs_json(&d.spans[1]);
    cr_assert(!strstr(j0, "shared"), "%s", j0);
    cr_assert(strstr(j1, "\"shared\" : true"), "%s", j1);
    bson_free(j0);
    bson_free(j1);
    owl_span_decoded_free(&d);
}

/* No duration: kept, duration 0 and in progress. No timestamp: the earliest annotation, else
 * the time of receipt, and attrs say which. */
Test(zipkin, missing_timestamp_and_duration)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"a\", \"id\": \"1\", \"timestamp\": 1000},"
           " {\"traceId\": \"a\", \"id\": \"2\", \"timestamp\": 1000, \"duration\": 0},"
           " {\"traceId\": \"a\", \"id\": \"3\", \"annotations\": [{\"timestamp\": 7,"
           " \"value\": \"b\"}, {\"timestamp\": 5, \"value\": \"a\"}]},"
           " {\"traceId\": \"a\", \"id\": \"4\", \"duration\": 3, \"timestamp\": null}]",
           &d);
    cr_assert_eq(d.n, 4, "%s", d.message);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(d.spans[i].in_progress, 1);
        cr_assert_eq(d.spans[i].duration_ns, 0);
    }
    cr_assert_eq(d.spans[0].start_ns, 1000000);
    cr_assert_eq(d.spans[2].start_ns, 5000);
    cr_assert_eq(d.spans[3].start_ns, NOW);
    cr_assert_eq(d.spans[3].duration_ns, 3000);
    cr_assert_eq(d.spans[3].in_progress, 0);
    char *j = attrs_json(&d.spans[2]);
    cr_assert(strstr(j, "\"start_from\" : \"annotation\""), "%s", j);
    bson_free(j);
    j = attrs_json(&d.spans[3]);
    cr_assert(strstr(j, "\"start_from\" : \"receipt\""), "%s", j);
    bson_free(j);
    j = attrs_json(&d.spans[0]);
    cr_assert(!strstr(j, "start_from"), "%s", j);
    bson_free(j);
    owl_span_decoded_free(&d);
}

/* The error tag marks the span failed (any value, even empty); its value is the message;
 * with an HTTP status the shared rule decides; OpenTelemetry's otel.status_code counts too. */
Test(zipkin, error_tag_and_status)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"a\", \"id\": \"1\", \"tags\": {\"error\": \"\"}},"
           " {\"traceId\": \"a\", \"id\": \"2\", \"tags\": {\"error\": \"404\","
           " \"http.status_code\": \"404\"}},"
           " {\"traceId\": \"a\", \"id\": \"3\", \"tags\": {\"http.status_code\": 429}},"
           " {\"traceId\": \"a\", \"id\": \"4\", \"tags\": {\"http.status_code\": \"503\"}},"
           " {\"traceId\": \"a\", \"id\": \"5\", \"tags\": {\"otel.status_code\": \"ERROR\","
           " \"otel.status_description\": \"bad\"}},"
           " {\"traceId\": \"a\", \"id\": \"6\", \"tags\": {\"otel.status_code\": \"OK\","
           " \"http.status_code\": \"2000\"}},"
           " {\"traceId\": \"a\", \"id\": \"7\", \"tags\": {\"error\": true}}]",
           &d);
    cr_assert_eq(d.n, 7, "%s", d.message);
    cr_assert_eq(d.spans[0].status, OWL_SPAN_FAULT);
    cr_assert_eq(d.spans[0].status_code, 2);
    cr_assert_eq(d.spans[0].status_message.n, 0);
    cr_assert_eq(d.spans[1].status, OWL_SPAN_ERROR);
    STR_EQ(d.spans[1].status_message, "404");
    cr_assert_eq(d.spans[2].status, OWL_SPAN_THROTTLE);
    cr_assert_eq(d.spans[2].status_code, 0);
    cr_assert_eq(d.spans[3].status, OWL_SPAN_FAULT);
    cr_assert_eq(d.spans[4].status, OWL_SPAN_FAULT);
    STR_EQ(d.spans[4].status_message, "bad");
    cr_assert_eq(d.spans[5].status, OWL_SPAN_OK);
    cr_assert_eq(d.spans[5].status_code, 1);
    cr_assert_eq(d.spans[5].http_status, 0); /* out of range: attrs only */
    cr_assert_eq(d.spans[6].status, OWL_SPAN_FAULT);
    owl_span_decoded_free(&d);
}

Test(zipkin, route_and_peer)
{
    owl_span_decoded d;
    decode("[{\"traceId\": \"a\", \"id\": \"1\", \"kind\": \"CLIENT\", \"tags\": {"
           " \"http.route\": \"/u/{id}\", \"http.path\": \"/u/7\", \"peer.service\": \"p\"},"
           " \"remoteEndpoint\": {\"serviceName\": \"users\"}},"
           " {\"traceId\": \"a\", \"id\": \"2\", \"kind\": \"CLIENT\", \"tags\": {"
           " \"http.url\": \"http://h:8/a/b?c#d\", \"peer.service\": \"p\"}},"
           " {\"traceId\": \"a\", \"id\": \"3\", \"tags\": {\"http.url\": \"http://h\"},"
           " \"localEndpoint\": {\"serviceName\": \"\"}, \"remoteEndpoint\": {}}]",
           &d);
    cr_assert_eq(d.n, 3, "%s", d.message);
    STR_EQ(d.spans[0].route, "/u/{id}");
    STR_EQ(d.spans[0].peer_service, "users"); /* the remote endpoint names the peer */
    STR_EQ(d.spans[1].route, "/a/b");
    STR_EQ(d.spans[1].peer_service, "p");
    STR_EQ(d.spans[2].route, "/");
    STR_EQ(d.spans[2].service, "unknown_service");
    cr_assert_eq(d.spans[2].peer_service.n, 0);
    char *j = attrs_json(&d.spans[2]);
    cr_assert(!strstr(j, "resource") && !strstr(j, "remote_endpoint"), "%s", j);
    bson_free(j);
    owl_span_decoded_free(&d);
}

/* Each bad span refused alone with its reason; the good ones around it kept. */
Test(zipkin, bad_spans_refused_one_by_one)
{
    static const struct {
        const char *span, *why;
    } bad[] = {
        {"5", "not a JSON object"},
        {"{\"id\": \"1\"}", "no traceId"},
        {"{\"traceId\": \"a\"}", "no id"},
        {"{\"traceId\": \"xyz\", \"id\": \"1\"}", "traceId:"},
        {"{\"traceId\": \"0000000000000000\", \"id\": \"1\"}", "traceId:"},
        {"{\"traceId\": \"123456789012345678901234567890123\", \"id\": \"1\"}", "traceId:"},
        {"{\"traceId\": \"a\", \"id\": \"0\"}", "id:"},
        {"{\"traceId\": \"a\", \"id\": \"12345678901234567\"}", "id:"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"parentId\": \"g\"}", "parentId:"},
        {"{\"traceId\": 5, \"id\": \"1\"}", "traceId has the wrong type"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"kind\": \"client\"}", "kind \"client\""},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"duration\": -1}", "negative duration"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"timestamp\": -5}", "negative timestamp"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"timestamp\": 9223372036854776}", "past 2262"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"timestamp\": 1.5}", "timestamp has the wrong"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"shared\": 1}", "shared has the wrong"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"tags\": []}", "tags has the wrong"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"tags\": {\"k\": null}}", "tag \"k\""},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"tags\": {\"k\": {}}}", "tag \"k\""},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"annotations\": [{\"value\": \"x\"}]}",
         "annotation 0: timestamp"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"annotations\": [{\"timestamp\": 1}]}",
         "annotation 0: value"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"annotations\": [3]}", "annotation 0 is not"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"localEndpoint\": {\"serviceName\": 3}}",
         "localEndpoint:"},
        {"{\"traceId\": \"a\", \"id\": \"1\", \"remoteEndpoint\": 3}", "remoteEndpoint has"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[512];
        owl_span_decoded d;
        snprintf(body, sizeof body,
                 "[{\"traceId\": \"a\", \"id\": \"1\"}, %s, {\"traceId\": \"b\", \"id\": \"2\"}]",
                 bad[i].span);
        decode(body, &d);
        cr_assert_eq(d.n, 2, "%s: %s", bad[i].span, d.message);
        cr_assert_eq(d.rejected, 1, "%s", bad[i].span);
        cr_assert(strncmp(d.message, "span 1: ", 8) == 0 && strstr(d.message, bad[i].why),
                  "%s: %s", bad[i].span, d.message);
        hex_eq(d.spans[1].trace_id, 16, "0000000000000000000000000000000b");
        owl_span_decoded_free(&d);
    }
}

Test(zipkin, bodies_refused_whole)
{
    static const char *const bodies[] = {
        "", "{}", "{\"traceId\": \"a\", \"id\": \"1\"}", "[", "[{\"traceId\": \"a\"}",
        "[] []", "[{\"id\": \"1\", \"id\": \"2\"}]", "\"x\"", "nul",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        owl_span_decoded d = {0};
        owl_error err = {0};
        cr_assert_eq(owl_zipkin_decode(bodies[i], strlen(bodies[i]), NOW, 10, &d, &err),
                     OWL_EINVAL, "%s", bodies[i]);
        cr_assert(err.msg[0] && d.n == 0 && d.rejected == 0, "%s", bodies[i]);
        owl_span_decoded_free(&d);
    }
    owl_span_decoded d = {0};
    owl_error err = {0};
    const char *three = "[{\"traceId\": \"a\", \"id\": \"1\"}, 1, 2]";
    cr_assert_eq(owl_zipkin_decode(three, strlen(three), NOW, 2, &d, &err), OWL_ETOOBIG);
    cr_assert(strstr(err.msg, "3 spans"), "%s", err.msg);
    cr_assert_eq(d.n + d.rejected, 0);
    owl_span_decoded_free(&d);
    decode("[]", &d);
    cr_assert_eq(d.n + d.rejected, 0);
    owl_span_decoded_free(&d);
    owl_span_decoded_free(NULL);
}

/* ---- real data: the Zipkin project's test traces ($OWL_TEST_DATA/traces-zipkin) ---- */

static void decode_file(const char *name, owl_span_decoded *d)
{
    size_t n;
    owl_error err = {0};
    char rel[256];
    snprintf(rel, sizeof rel, "traces-zipkin/%s", name);
    char *body = test_data(rel, 4u << 20, &n);
    memset(d, 0, sizeof *d);
    int rc = owl_zipkin_decode(body, n, NOW, 100000, d, &err);
    free(body);
    cr_assert_eq(rc, OWL_OK, "%s: %s", name, err.msg);
    cr_assert_eq(d->rejected, 0, "%s: %s", name, d->message);
}

/* The distinct services of d's spans (a plain quadratic count, independent of the decoder). */
static size_t count_services(const owl_span_decoded *d)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t j = 0;
        while (j < i && !(d->spans[j].service.n == d->spans[i].service.n &&
                          memcmp(d->spans[j].service.p, d->spans[i].service.p,
                                 d->spans[i].service.n) == 0))
            j++;
        k += j == i;
    }
    return k;
}

Test(zipkin, every_file_decodes)
{
    static const struct {
        const char *name;
        size_t spans, services;
    } files[] = {
        {"ascend.json", 8, 3},
        {"envoy.json", 1, 1},
        {"messaging-kafka.json", 28, 2},
        {"messaging.json", 4, 2},
        {"messaging2.json", 11, 4},
        {"simple-db-p6.json", 5, 1},
        {"skew.json", 4, 2},
        {"smartthings-mobile-web-install.json", 1041, 16},
        {"smartthings-oauth-authorization.json", 175, 8},
        {"yelp.json", 16, 6},
    };
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        owl_span_decoded d;
        decode_file(files[f].name, &d);
        cr_assert_eq(d.n, files[f].spans, "%s", files[f].name);
        cr_assert_eq(count_services(&d), files[f].services, "%s", files[f].name);
        for (size_t i = 1; i < d.n; i++) /* every file holds one trace */
            cr_assert_eq(memcmp(d.spans[i].trace_id, d.spans[0].trace_id, 16), 0, "%s",
                         files[f].name);
        owl_span_decoded_free(&d);
    }
}

Test(zipkin, smartthings_mobile_install)
{
    owl_span_decoded d;
    decode_file("smartthings-mobile-web-install.json", &d);
    cr_assert_eq(d.n, 1041);
    cr_assert_eq(count_services(&d), 16);
    static const char *const names[] = {
        "account", "alice",  "auth",      "bookie",      "bouncer", "coreSrv",
        "dove",    "execution", "gizmo",  "guardian",    "oreck",   "paperboy",
        "platformapi", "pusher", "stLogin", "strongman",
    };
    for (size_t k = 0; k < 16; k++) {
        size_t i = 0;
        while (i < d.n && !(d.spans[i].service.n == strlen(names[k]) &&
                            memcmp(d.spans[i].service.p, names[k], d.spans[i].service.n) == 0))
            i++;
        cr_assert(i < d.n, "service %s missing", names[k]);
    }
    size_t client = 0, server = 0, open = 0, failed = 0, named_unknown = 0, received = 0;
    for (size_t i = 0; i < d.n; i++) {
        const owl_span *s = &d.spans[i];
        client += s->kind == OWL_SPAN_CLIENT;
        server += s->kind == OWL_SPAN_SERVER;
        open += s->in_progress;
        failed += s->status_code == 2;
        named_unknown += s->name.n == 7 && memcmp(s->name.p, "unknown", 7) == 0;
        received += s->start_ns == NOW;
        cr_assert_geq(s->duration_ns, 0);
    }
    cr_assert_eq(client, 628); /* figures of the data set's SOURCE.md */
    cr_assert_eq(server, 326);
    cr_assert_eq(open, 175);   /* spans without duration */
    cr_assert_eq(failed, 2);   /* the error tags */
    cr_assert_eq(named_unknown, 1);
    cr_assert_eq(received, 84); /* no timestamp and no annotation */
    owl_span_decoded_free(&d);
}

/* ---- Zipkin v1 ---- */

static void decode_v1(const char *body, owl_span_decoded *d)
{
    owl_error err = {0};
    memset(d, 0, sizeof *d);
    cr_assert_eq(owl_zipkin_v1_decode(body, strlen(body), NOW, 100000, d, &err), OWL_OK, "%s",
                 err.msg);
}

Test(zipkin, v1_client_and_server_in_one_span)
{
    owl_span_decoded d;
    decode_v1("[{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\","
              "\"parentId\":\"6b221d5bc9e6496c\",\"name\":\"get /api\",\"timestamp\":1000000,"
              "\"duration\":20000,\"annotations\":["
              "{\"timestamp\":1000000,\"value\":\"cs\",\"endpoint\":{\"serviceName\":\"front\"}},"
              "{\"timestamp\":1002000,\"value\":\"sr\",\"endpoint\":{\"serviceName\":\"back\"}},"
              "{\"timestamp\":1005000,\"value\":\"cache miss\",\"endpoint\":{\"serviceName\":\"back\"}},"
              "{\"timestamp\":1017000,\"value\":\"ss\",\"endpoint\":{\"serviceName\":\"back\"}},"
              "{\"timestamp\":1020000,\"value\":\"cr\",\"endpoint\":{\"serviceName\":\"front\"}}],"
              "\"binaryAnnotations\":["
              "{\"key\":\"sa\",\"value\":true,\"endpoint\":{\"serviceName\":\"back\",\"ipv4\":\"10.0.0.2\"}},"
              "{\"key\":\"ca\",\"value\":true,\"endpoint\":{\"serviceName\":\"front\",\"ipv4\":\"10.0.0.1\"}},"
              "{\"key\":\"http.status_code\",\"value\":\"503\",\"endpoint\":{\"serviceName\":\"back\"}},"
              "{\"key\":\"http.path\",\"value\":\"/api\",\"endpoint\":{\"serviceName\":\"front\"}}]}]",
              &d);
    cr_assert_eq(d.n, 2, "%zu (%s)", d.n, d.message);
    const owl_span *c = &d.spans[0], *s = &d.spans[1];
    cr_assert_eq(c->kind, OWL_SPAN_CLIENT);
    STR_EQ(c->service, "front");
    STR_EQ(c->peer_service, "back");
    cr_assert_eq(c->start_ns, 1000000000LL);
    cr_assert_eq(c->duration_ns, 20000000LL);
    STR_EQ(c->route, "/api");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    STR_EQ(s->service, "back");
    cr_assert_eq(s->start_ns, 1002000000LL, "the server half's own times");
    cr_assert_eq(s->duration_ns, 15000000LL);
    cr_assert_eq(s->http_status, 503);
    cr_assert_eq(s->status, OWL_SPAN_FAULT);
    cr_assert(!memcmp(c->span_id, s->span_id, 8), "one span id, two halves");
    hex_eq(c->trace_id, 16, "00000000000000005af7183fb1d4cf5f");
    hex_eq(s->parent_id, 8, "6b221d5bc9e6496c");
    char *j = attrs_json(s);
    cr_assert(strstr(j, "\"shared\" : true"), "%s", j);
    cr_assert(strstr(j, "cache miss"), "the server's annotation is its event: %s", j);
    cr_assert(strstr(j, "10.0.0.1"), "ca is the server's remote endpoint: %s", j);
    bson_free(j);
    owl_span_decoded_free(&d);
}

Test(zipkin, v1_local_producer_and_refusals)
{
    owl_span_decoded d;
    decode_v1("[{\"traceId\":\"a\",\"id\":\"b\",\"name\":\"compute\",\"timestamp\":5,"
              "\"duration\":7,\"binaryAnnotations\":[{\"key\":\"lc\",\"value\":\"worker\","
              "\"endpoint\":{\"serviceName\":\"batch\"}},{\"key\":\"n\",\"value\":3}]},"
              "{\"traceId\":\"a\",\"id\":\"c\",\"parentId\":\"b\",\"name\":\"send\","
              "\"annotations\":[{\"timestamp\":9,\"value\":\"ms\",\"endpoint\":"
              "{\"serviceName\":\"batch\"}}]},"
              "{\"traceId\":\"a\",\"id\":\"d\",\"timestamp\":\"x\"},"
              "7,"
              "{\"id\":\"e\"}]",
              &d);
    cr_assert_eq(d.n, 2, "%zu", d.n);
    cr_assert_eq(d.rejected, 3, "%zu", d.rejected);
    cr_assert(strstr(d.message, "span 2: timestamp"), "%s", d.message);
    cr_assert_eq(d.spans[0].kind, OWL_SPAN_INTERNAL);
    STR_EQ(d.spans[0].service, "batch");
    cr_assert_eq(d.spans[0].duration_ns, 7000);
    cr_assert_eq(d.spans[1].kind, OWL_SPAN_PRODUCER);
    cr_assert_eq(d.spans[1].start_ns, 9000);
    cr_assert_eq(d.spans[1].in_progress, 1, "a producer span without duration");
    owl_span_decoded_free(&d);
    owl_error err = {0};
    memset(&d, 0, sizeof d);
    cr_assert_eq(owl_zipkin_v1_decode("{}", 2, NOW, 10, &d, &err), OWL_EINVAL);
    owl_span_decoded_free(&d);
    cr_assert_eq(owl_zipkin_v1_decode("[1,2,3]", 7, NOW, 2, &d, &err), OWL_ETOOBIG);
    owl_span_decoded_free(&d);
}

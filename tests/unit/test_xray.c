/* test_xray.c — X-Ray segment documents (ingest/xray.c): every row of docs/api/xray-ingest.md's
 * mapping (kinds, services, peer services, ids, times, HTTP fields, flags and HTTP statuses,
 * cause, annotations of each type, attrs), nested subsegments, independent subsegments and
 * the array form, in-progress documents, documents refused one by one beside kept ones with
 * their UnprocessedTraceSegments entries, bodies refused whole, the daemon's datagram header,
 * and the real segment documents of $OWL_TEST_DATA/xray. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "tests/unit/testfs.h"

#define MAX 10000
#define TRACE "1-5f84c7a1-e7d1852db8c4fd35d88bf49a"
#define TRACE_HEX "5f84c7a1e7d1852db8c4fd35d88bf49a"

static int bytes_eq(owl_bytes b, const char *s)
{
    return b.n == strlen(s) && (b.n == 0 || memcmp(b.p, s, b.n) == 0);
}

#define STR_EQ(b, s) cr_assert(bytes_eq((b), (s)), "got \"%.*s\", want \"%s\"", \
                               (int)(b).n, (const char *)(b).p, (s))

/* A PutTraceSegments body of the given documents (NULL-terminated), each escaped. */
static char *body_of(const char *first, ...)
{
    owl_buf b = OWL_BUF_INIT;
    va_list ap;
    owl_buf_puts(&b, "{\"TraceSegmentDocuments\":[");
    va_start(ap, first);
    size_t i = 0;
    for (const char *d = first; d; d = va_arg(ap, const char *)) {
        if (i++)
            owl_buf_putc(&b, ',');
        owl_buf_json_str(&b, d, strlen(d));
    }
    va_end(ap);
    owl_buf_puts(&b, "]}");
    return owl_buf_steal(&b);
}

/* Decodes the documents (NULL-terminated) as one request, which must be accepted. */
static void decode(owl_xray_decoded *x, const char *first, ...)
{
    owl_buf b = OWL_BUF_INIT;
    owl_error err = {0};
    va_list ap;
    owl_buf_puts(&b, "{\"TraceSegmentDocuments\":[");
    va_start(ap, first);
    size_t i = 0;
    for (const char *d = first; d; d = va_arg(ap, const char *)) {
        if (i++)
            owl_buf_putc(&b, ',');
        owl_buf_json_str(&b, d, strlen(d));
    }
    va_end(ap);
    owl_buf_puts(&b, "]}");
    memset(x, 0, sizeof *x);
    int rc = owl_xray_decode_docs(b.data, b.len, MAX, x, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    owl_buf_free(&b);
}

/* A segment document: the fields around `extra` (members with a leading comma, or ""). */
static char *seg(const char *id, const char *name, const char *extra)
{
    char *s = NULL;
    cr_assert(asprintf(&s,
                       "{\"trace_id\":\"" TRACE "\",\"id\":\"%s\",\"name\":\"%s\","
                       "\"start_time\":1602537377.25,\"end_time\":1602537377.75%s}",
                       id, name, extra) > 0);
    return s;
}

static char *attrs_json(const owl_span *s)
{
    bson_t doc;
    if (!s->attrs.n)
        return bson_strdup("");
    cr_assert(bson_init_static(&doc, s->attrs.p, s->attrs.n));
    return bson_as_relaxed_extended_json(&doc, NULL);
}

static void id_eq(const uint8_t *id, const char *hex)
{
    char h[OWL_SPANID_HEX_SIZE];
    owl_traceid_span_to_hex(id, h);
    cr_assert_str_eq(h, hex);
}

/* The one refusal of x: its code and a part of its message. */
static void refused(const owl_xray_decoded *x, size_t i, const char *code, const char *part)
{
    cr_assert_gt(x->spans.rejected, i);
    const owl_xray_unprocessed *u = &x->unprocessed[i];
    cr_assert_str_eq(u->error_code, code, "got %s (%.*s)", u->error_code, (int)u->message.n,
                     (const char *)u->message.p);
    cr_assert(memmem(u->message.p, u->message.n, part, strlen(part)),
              "message \"%.*s\" lacks \"%s\"", (int)u->message.n, (const char *)u->message.p,
              part);
}

/* ---- the segment itself ---- */

Test(xray, minimal_segment)
{
    owl_xray_decoded x;
    char *d = seg("70de5b6f19ff9a0a", "example.com", "");
    decode(&x, d, NULL);
    free(d);
    cr_assert_eq(x.spans.n, 1);
    cr_assert_eq(x.spans.rejected, 0);
    const owl_span *s = &x.spans.spans[0];
    char h[OWL_TRACEID_HEX_SIZE];
    owl_traceid_to_hex(s->trace_id, h);
    cr_assert_str_eq(h, TRACE_HEX); /* the X-Ray and W3C forms are one id */
    id_eq(s->span_id, "70de5b6f19ff9a0a");
    cr_assert(owl_traceid_is_zero(s->parent_id, 8));
    STR_EQ(s->service, "example.com");
    STR_EQ(s->name, "example.com");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    cr_assert_eq(s->start_ns, 1602537377250000000ll);
    cr_assert_eq(s->duration_ns, 500000000);
    cr_assert_eq(s->status, OWL_SPAN_OK);
    cr_assert_eq(s->status_code, 0);
    cr_assert_eq(s->in_progress, 0);
    cr_assert_eq(s->attrs.n, 0);
    cr_assert_eq(s->peer_service.n, 0);
    owl_xray_decoded_free(&x);
    owl_xray_decoded_free(&x);
    owl_xray_decoded_free(NULL);
}

Test(xray, times_as_integers_and_exponents)
{
    owl_xray_decoded x;
    decode(&x,
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
           "\"start_time\":1.478293361271E9,\"end_time\":1478293362}",
           NULL);
    cr_assert_eq(x.spans.n, 1);
    /* a double holds 1478293361.271 to about 0.2 us */
    cr_assert_lt(llabs(x.spans.spans[0].start_ns - 1478293361271000000ll), 1000);
    cr_assert_lt(llabs(x.spans.spans[0].duration_ns - 729000000), 1000);
    owl_xray_decoded_free(&x);
}

Test(xray, http_fields_and_parent)
{
    owl_xray_decoded x;
    char *d = seg("70de5b6f19ff9a0a", "api",
                  ",\"parent_id\":\"1c9dfa0a2b6bb1cd\",\"http\":{\"request\":{\"method\":\"POST\","
                  "\"url\":\"https://api.example.com/cart/items?x=1\",\"user_agent\":\"curl/8\","
                  "\"client_ip\":\"10.0.0.7\",\"x_forwarded_for\":true},\"response\":{\"status\":"
                  "201,\"content_length\":12}},\"user\":\"alice\",\"origin\":\"AWS::EC2::Instance\"");
    decode(&x, d, NULL);
    free(d);
    const owl_span *s = &x.spans.spans[0];
    id_eq(s->parent_id, "1c9dfa0a2b6bb1cd");
    cr_assert_eq(s->kind, OWL_SPAN_SERVER);
    STR_EQ(s->service, "api");
    STR_EQ(s->http_method, "POST");
    STR_EQ(s->url, "https://api.example.com/cart/items?x=1");
    STR_EQ(s->route, "/cart/items");
    STR_EQ(s->user_agent, "curl/8");
    STR_EQ(s->client_ip, "10.0.0.7");
    cr_assert_eq(s->http_status, 201);
    cr_assert_eq(s->status, OWL_SPAN_OK);
    char *j = attrs_json(s);
    cr_assert_str_eq(j, "{ \"http\" : { \"request\" : { \"method\" : \"POST\", \"url\" : "
                        "\"https://api.example.com/cart/items?x=1\", \"user_agent\" : "
                        "\"curl/8\", \"client_ip\" : \"10.0.0.7\", \"x_forwarded_for\" : true }, "
                        "\"response\" : { \"status\" : 201, \"content_length\" : 12 } }, "
                        "\"user\" : \"alice\", \"origin\" : \"AWS::EC2::Instance\" }");
    bson_free(j);
    owl_xray_decoded_free(&x);
}

Test(xray, url_without_path_and_odd_status)
{
    owl_xray_decoded x;
    char *a = seg("70de5b6f19ff9a0a", "a",
                  ",\"http\":{\"request\":{\"url\":\"http://h:80\"},\"response\":{\"status\":700}}");
    char *b = seg("70de5b6f19ff9a0b", "b", ",\"http\":{\"request\":{\"url\":\"not-a-url\"}}");
    decode(&x, a, b, NULL);
    free(a);
    free(b);
    cr_assert_eq(x.spans.n, 2);
    STR_EQ(x.spans.spans[0].route, "/");
    cr_assert_eq(x.spans.spans[0].http_status, 0); /* outside 100..599: kept in attrs only */
    cr_assert_eq(x.spans.spans[1].route.n, 0);
    owl_xray_decoded_free(&x);
}

/* ---- status: the flags, then the HTTP status ---- */

static enum owl_span_status status_of(const char *flags, int http, int *code)
{
    owl_xray_decoded x;
    char extra[256];
    int k = snprintf(extra, sizeof extra, "%s", flags);
    if (http)
        snprintf(extra + k, sizeof extra - (size_t)k, ",\"http\":{\"response\":{\"status\":%d}}",
                 http);
    char *d = seg("70de5b6f19ff9a0a", "svc", extra);
    decode(&x, d, NULL);
    free(d);
    cr_assert_eq(x.spans.n, 1);
    enum owl_span_status st = x.spans.spans[0].status;
    *code = x.spans.spans[0].status_code;
    owl_xray_decoded_free(&x);
    return st;
}

Test(xray, status_flags_and_http)
{
    static const struct {
        const char *flags;
        int http, code;
        enum owl_span_status want;
    } rows[] = {
        {"", 0, 0, OWL_SPAN_OK},
        {"", 200, 0, OWL_SPAN_OK},
        {"", 404, 0, OWL_SPAN_ERROR},
        {"", 429, 0, OWL_SPAN_THROTTLE},
        {"", 503, 0, OWL_SPAN_FAULT},
        {",\"error\":true", 0, 1, OWL_SPAN_ERROR},
        {",\"error\":true", 404, 1, OWL_SPAN_ERROR},
        {",\"error\":true", 200, 1, OWL_SPAN_ERROR},
        {",\"error\":true,\"throttle\":true", 429, 3, OWL_SPAN_THROTTLE},
        {",\"throttle\":true", 0, 2, OWL_SPAN_THROTTLE},
        {",\"fault\":true", 0, 4, OWL_SPAN_FAULT},
        {",\"fault\":true", 400, 4, OWL_SPAN_FAULT}, /* ddbSample's PutItem: the flag wins */
        {",\"fault\":true,\"error\":true", 0, 5, OWL_SPAN_FAULT},
        {",\"fault\":true,\"throttle\":true,\"error\":true", 429, 7, OWL_SPAN_FAULT},
        {",\"error\":false,\"fault\":false,\"throttle\":false", 500, 0, OWL_SPAN_FAULT},
        {",\"error\":false", 0, 0, OWL_SPAN_OK},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        int code;
        enum owl_span_status st = status_of(rows[i].flags, rows[i].http, &code);
        cr_assert_eq(st, rows[i].want, "row %zu: got %s", i, owl_span_status_name(st));
        cr_assert_eq(code, rows[i].code, "row %zu", i);
    }
}

Test(xray, cause_exceptions)
{
    owl_xray_decoded x;
    char *d = seg("70de5b6f19ff9a0a", "svc",
                  ",\"fault\":true,\"cause\":{\"working_directory\":\"/app\",\"paths\":[\"/a\"],"
                  "\"exceptions\":[{\"id\":\"3e9e11e3ab3fba60\",\"type\":\"IOError\",\"message\":"
                  "\"disk full\",\"remote\":true,\"stack\":[{\"path\":\"a.go\",\"line\":3,"
                  "\"label\":\"main\"}]},{\"message\":\"second\"}]}");
    char *e = seg("70de5b6f19ff9a0b", "svc", ",\"fault\":true,\"cause\":\"3e9e11e3ab3fba60\"");
    decode(&x, d, e, NULL);
    free(d);
    free(e);
    cr_assert_eq(x.spans.n, 2);
    const owl_span *s = &x.spans.spans[0];
    cr_assert_eq(s->status, OWL_SPAN_FAULT);
    STR_EQ(s->status_message, "disk full");
    char *j = attrs_json(s);
    cr_assert_str_eq(j, "{ \"fault\" : true, \"cause\" : { \"working_directory\" : \"/app\", "
                        "\"paths\" : [ \"/a\" ], \"exceptions\" : [ { \"id\" : "
                        "\"3e9e11e3ab3fba60\", \"type\" : \"IOError\", \"message\" : \"disk "
                        "full\", \"remote\" : true, \"stack\" : [ { \"path\" : \"a.go\", "
                        "\"line\" : 3, \"label\" : \"main\" } ] }, { \"message\" : \"second\" } "
                        "] } }");
    bson_free(j);
    j = attrs_json(&x.spans.spans[1]);
    cr_assert_str_eq(j, "{ \"fault\" : true, \"cause\" : \"3e9e11e3ab3fba60\" }");
    bson_free(j);
    cr_assert_eq(x.spans.spans[1].status_message.n, 0);
    owl_xray_decoded_free(&x);
}

Test(xray, annotations_of_each_type_and_metadata)
{
    owl_xray_decoded x;
    char *d = seg("70de5b6f19ff9a0a", "svc",
                  ",\"annotations\":{\"customer\":\"c-42\",\"items\":3,\"big\":12345678901,"
                  "\"ratio\":0.5,\"vip\":true,\"gold\":false,\"dotted.key\":\"ok\"},"
                  "\"metadata\":{\"default\":{\"nested\":{\"a\":[1,null,{\"b\":\"c\"}]}},"
                  "\"debug\":null},\"aws\":{\"account_id\":\"123\"},\"sql\":{\"url\":\"pg://db\","
                  "\"sanitized_query\":\"SELECT 1\"},\"service\":{\"version\":\"1.2\"},"
                  "\"precursor_ids\":[\"1c9dfa0a2b6bb1cd\"],\"Dummy\":false");
    decode(&x, d, NULL);
    free(d);
    char *j = attrs_json(&x.spans.spans[0]);
    cr_assert_str_eq(
        j, "{ \"annotations\" : { \"customer\" : \"c-42\", \"items\" : 3, \"big\" : 12345678901, "
           "\"ratio\" : 0.5, \"vip\" : true, \"gold\" : false, \"dotted.key\" : \"ok\" }, "
           "\"metadata\" : { \"default\" : { \"nested\" : { \"a\" : [ 1, null, { \"b\" : \"c\" } "
           "] } }, \"debug\" : null }, \"aws\" : { \"account_id\" : \"123\" }, \"sql\" : { "
           "\"url\" : \"pg://db\", \"sanitized_query\" : \"SELECT 1\" }, \"service\" : { "
           "\"version\" : \"1.2\" }, \"precursor_ids\" : [ \"1c9dfa0a2b6bb1cd\" ], \"Dummy\" : "
           "false }");
    bson_free(j);
    owl_xray_decoded_free(&x);
}

/* ---- subsegments ---- */

static const char *const NESTED3 =
    "{\"trace_id\":\"" TRACE "\",\"id\":\"1000000000000001\",\"name\":\"shop\","
    "\"start_time\":100,\"end_time\":110,\"subsegments\":["
    "{\"id\":\"2000000000000001\",\"name\":\"handler\",\"start_time\":101,\"end_time\":109,"
    " \"subsegments\":["
    "  {\"id\":\"3000000000000001\",\"name\":\"DynamoDB\",\"namespace\":\"aws\","
    "   \"start_time\":102,\"end_time\":103,\"aws\":{\"operation\":\"GetItem\","
    "   \"table_name\":\"t\"},\"http\":{\"response\":{\"status\":200}},\"subsegments\":["
    "    {\"id\":\"4000000000000001\",\"name\":\"attempt\",\"start_time\":102.1,"
    "     \"end_time\":102.9,\"error\":true}]},"
    "  {\"id\":\"3000000000000002\",\"name\":\"pay.example.com\",\"namespace\":\"remote\","
    "   \"start_time\":104,\"end_time\":108,\"http\":{\"request\":{\"method\":\"GET\","
    "   \"url\":\"https://pay.example.com/charge\"},\"response\":{\"status\":503}}}]},"
    "{\"id\":\"2000000000000002\",\"name\":\"render\",\"start_time\":109,\"end_time\":110}]}";

Test(xray, nested_three_levels)
{
    owl_xray_decoded x;
    decode(&x, NESTED3, NULL);
    cr_assert_eq(x.spans.n, 6);
    static const struct {
        const char *id, *parent, *name, *peer;
        enum owl_span_kind kind;
        enum owl_span_status status;
    } want[] = {
        {"1000000000000001", NULL, "shop", "", OWL_SPAN_SERVER, OWL_SPAN_OK},
        {"2000000000000001", "1000000000000001", "handler", "", OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"3000000000000001", "2000000000000001", "DynamoDB", "DynamoDB", OWL_SPAN_CLIENT,
         OWL_SPAN_OK},
        {"4000000000000001", "3000000000000001", "attempt", "", OWL_SPAN_INTERNAL,
         OWL_SPAN_ERROR},
        {"3000000000000002", "2000000000000001", "pay.example.com", "pay.example.com",
         OWL_SPAN_CLIENT, OWL_SPAN_FAULT},
        {"2000000000000002", "1000000000000001", "render", "", OWL_SPAN_INTERNAL, OWL_SPAN_OK},
    };
    for (size_t i = 0; i < 6; i++) {
        const owl_span *s = &x.spans.spans[i];
        char h[OWL_TRACEID_HEX_SIZE];
        id_eq(s->span_id, want[i].id);
        if (want[i].parent)
            id_eq(s->parent_id, want[i].parent);
        else
            cr_assert(owl_traceid_is_zero(s->parent_id, 8));
        owl_traceid_to_hex(s->trace_id, h);
        cr_assert_str_eq(h, TRACE_HEX);
        STR_EQ(s->service, "shop"); /* every subsegment is its segment's service's work */
        STR_EQ(s->name, want[i].name);
        STR_EQ(s->peer_service, want[i].peer);
        cr_assert_eq(s->kind, want[i].kind, "span %zu", i);
        cr_assert_eq(s->status, want[i].status, "span %zu", i);
    }
    cr_assert_eq(x.spans.spans[3].start_ns, 102100000000ll);
    cr_assert_eq(x.spans.spans[3].duration_ns, 800000000);
    STR_EQ(x.spans.spans[4].route, "/charge");
    cr_assert_eq(x.spans.spans[4].http_status, 503);
    char *j = attrs_json(&x.spans.spans[2]);
    cr_assert_str_eq(j, "{ \"namespace\" : \"aws\", \"aws\" : { \"operation\" : \"GetItem\", "
                        "\"table_name\" : \"t\" }, \"http\" : { \"response\" : { \"status\" : "
                        "200 } } }");
    bson_free(j);
    owl_xray_decoded_free(&x);
}

Test(xray, independent_subsegment)
{
    owl_xray_decoded x;
    decode(&x,
           "{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"parent_id\":\"1000000000000001\","
           "\"id\":\"5000000000000001\",\"name\":\"S3\",\"namespace\":\"aws\",\"start_time\":100,"
           "\"end_time\":101,\"origin\":\"AWS::EC2::Instance\",\"subsegments\":[{\"id\":"
           "\"5000000000000002\",\"name\":\"marshal\",\"start_time\":100,\"end_time\":100.5}]}",
           "{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"parent_id\":\"1000000000000001\","
           "\"id\":\"5000000000000003\",\"name\":\"work\",\"start_time\":100,\"end_time\":101}",
           NULL);
    cr_assert_eq(x.spans.n, 3);
    const owl_span *s = &x.spans.spans[0];
    id_eq(s->parent_id, "1000000000000001");
    cr_assert_eq(s->kind, OWL_SPAN_CLIENT);
    STR_EQ(s->peer_service, "S3");
    STR_EQ(s->service, "AWS::EC2::Instance");
    id_eq(x.spans.spans[1].parent_id, "5000000000000001");
    STR_EQ(x.spans.spans[1].service, "AWS::EC2::Instance");
    cr_assert_eq(x.spans.spans[1].kind, OWL_SPAN_INTERNAL);
    cr_assert_eq(x.spans.spans[2].kind, OWL_SPAN_INTERNAL);
    STR_EQ(x.spans.spans[2].service, "unknown_service");
    char *j = attrs_json(&x.spans.spans[2]);
    cr_assert_str_eq(j, "{ \"type\" : \"subsegment\" }");
    bson_free(j);
    owl_xray_decoded_free(&x);
}

Test(xray, array_of_subsegments)
{
    owl_xray_decoded x;
    decode(&x,
           "[{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"parent_id\":\"1000000000000001\","
           "\"id\":\"6000000000000001\",\"name\":\"a\",\"start_time\":100,\"end_time\":101},"
           "{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"parent_id\":\"1000000000000001\","
           "\"id\":\"6000000000000002\",\"name\":\"b\",\"start_time\":100,\"end_time\":101}]",
           "[{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"parent_id\":\"1000000000000001\","
           "\"id\":\"6000000000000003\",\"name\":\"c\",\"start_time\":100,\"end_time\":101},"
           "{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"id\":\"6000000000000004\","
           "\"name\":\"d\",\"start_time\":100,\"end_time\":101}]",
           "[]", "[1]", NULL);
    cr_assert_eq(x.spans.n, 2);
    cr_assert_eq(x.spans.rejected, 3);
    refused(&x, 0, "MissingParentId", "[1].");
    STR_EQ(x.unprocessed[0].id, "6000000000000003");
    refused(&x, 1, "MalformedDocument", "empty array");
    refused(&x, 2, "MalformedDocument", "element 0");
    owl_xray_decoded_free(&x);
}

/* ---- in-progress documents ---- */

Test(xray, in_progress)
{
    owl_xray_decoded x;
    decode(&x,
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"slow\","
           "\"start_time\":100,\"in_progress\":true,\"subsegments\":[{\"id\":\"2000000000000001\","
           "\"name\":\"step\",\"start_time\":100,\"end_time\":100.5},{\"id\":\"2000000000000002\","
           "\"name\":\"step2\",\"start_time\":100.5,\"in_progress\":true}]}",
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"slow\","
           "\"start_time\":100,\"end_time\":130,\"in_progress\":false}",
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0b\",\"name\":\"x\","
           "\"start_time\":100,\"end_time\":130,\"in_progress\":true}",
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0c\",\"name\":\"x\","
           "\"start_time\":100,\"in_progress\":false}",
           NULL);
    cr_assert_eq(x.spans.n, 4);
    cr_assert_eq(x.spans.spans[0].in_progress, 1);
    cr_assert_eq(x.spans.spans[0].duration_ns, 0);
    cr_assert_eq(x.spans.spans[1].in_progress, 0);
    cr_assert_eq(x.spans.spans[2].in_progress, 1);
    cr_assert_eq(x.spans.spans[2].duration_ns, 0);
    /* the completed document of the same span: the store keeps it over the first */
    cr_assert_eq(x.spans.spans[3].in_progress, 0);
    cr_assert_eq(x.spans.spans[3].duration_ns, 30000000000ll);
    cr_assert_eq(memcmp(x.spans.spans[0].span_id, x.spans.spans[3].span_id, 8), 0);
    cr_assert_eq(x.spans.rejected, 2);
    refused(&x, 0, "InvalidEndTime", "end_time given with in_progress true");
    refused(&x, 1, "MissingEndTime", "no end_time");
    owl_xray_decoded_free(&x);
}

/* ---- refusals: each document alone ---- */

Test(xray, malformed_documents_refused_one_by_one)
{
    static const struct {
        const char *doc, *code, *part;
    } bad[] = {
        {"{\"trace_id\":\"" TRACE "\",\"name\":\"a\",\"start_time\":1,\"end_time\":2}",
         "MissingId", "no id"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0\",\"name\":\"a\",\"start_time\":1,"
         "\"end_time\":2}", "InvalidId", "id"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0g\",\"name\":\"a\",\"start_time\":1,"
         "\"end_time\":2}", "InvalidId", "id"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"0000000000000000\",\"name\":\"a\",\"start_time\":1,"
         "\"end_time\":2}", "InvalidId", "zero"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":7,\"name\":\"a\",\"start_time\":1,\"end_time\":2}",
         "InvalidId", "id is not a string"},
        {"{\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\",\"start_time\":1,\"end_time\":2}",
         "MissingTraceId", "no trace_id"},
        {"{\"trace_id\":\"" TRACE_HEX "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":1,\"end_time\":2}", "InvalidTraceId", "trace_id"},
        {"{\"trace_id\":\"2-5f84c7a1-e7d1852db8c4fd35d88bf49a\",\"id\":\"70de5b6f19ff9a0a\","
         "\"name\":\"a\",\"start_time\":1,\"end_time\":2}", "InvalidTraceId", "trace_id"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"start_time\":1,"
         "\"end_time\":2}", "MissingName", "no name"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"\",\"start_time\":1,"
         "\"end_time\":2}", "MissingName", "no name"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":[\"a\"],"
         "\"start_time\":1,\"end_time\":2}", "InvalidName", "name is not a string"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"end_time\":2}", "MissingStartTime", "no start_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":\"1\",\"end_time\":2}", "InvalidStartTime", "start_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":-5,\"end_time\":2}", "InvalidStartTime", "start_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":1e12,\"end_time\":1e12}", "InvalidStartTime", "2262"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":9.5}", "InvalidEndTime", "before start_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":true}", "InvalidEndTime", "end_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"fault\":\"yes\"}", "InvalidField",
         "fault is not a boolean"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"in_progress\":1}", "InvalidField",
         "in_progress is not a boolean"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"http\":{\"response\":{\"status\":\"200\"}}}",
         "InvalidField", "http.response.status is not a number"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"http\":{\"request\":{\"method\":1}}}",
         "InvalidField", "http.request.method is not a string"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"http\":[]}", "InvalidField",
         "http is not an object"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"annotations\":{\"k\":{\"x\":1}}}",
         "InvalidField", "annotation \"k\" is not a string, number or boolean"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"annotations\":{\"k\":[1]}}", "InvalidField",
         "annotation"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"annotations\":{\"k\":null}}", "InvalidField",
         "annotation"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"cause\":200}", "InvalidField",
         "cause is neither an exception id nor an object"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"cause\":{\"exceptions\":[{\"message\":3}]}}",
         "InvalidField", "cause.exceptions[0].message is not a string"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"cause\":{\"exceptions\":{}}}", "InvalidField",
         "cause.exceptions is not an array"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"metadata\":\"m\"}", "InvalidField",
         "metadata is not an object"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"aws\":1}", "InvalidField", "aws is not an object"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"user\":5}", "InvalidField", "user is not a string"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"precursor_ids\":[1]}", "InvalidField",
         "precursor_ids"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"type\":\"segment\"}", "InvalidField",
         "type \"segment\""},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"parent_id\":\"xyz\"}", "InvalidParentId",
         "parent_id"},
        {"{\"type\":\"subsegment\",\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\","
         "\"name\":\"a\",\"start_time\":10,\"end_time\":11}", "MissingParentId", "parent_id"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"subsegments\":{}}", "InvalidField",
         "subsegments is not an array"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"subsegments\":[5]}", "InvalidField",
         "subsegments[0] is not an object"},
        /* a fault three levels down refuses the whole document, named by its path */
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"subsegments\":[{\"id\":\"2000000000000001\","
         "\"name\":\"b\",\"start_time\":10,\"end_time\":11},{\"id\":\"2000000000000002\","
         "\"name\":\"c\",\"start_time\":10,\"end_time\":11,\"subsegments\":[{\"id\":"
         "\"3000000000000001\",\"name\":\"d\",\"start_time\":10,\"end_time\":9}]}]}",
         "InvalidEndTime", "subsegments[1].subsegments[0].end_time"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"subsegments\":[{\"id\":\"2000000000000001\","
         "\"name\":\"b\",\"namespace\":\"invalidNs\",\"start_time\":10,\"end_time\":11}]}",
         "InvalidField", "subsegments[0].namespace \"invalidNs\""},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
         "\"start_time\":10,\"end_time\":11,\"subsegments\":[{\"id\":\"2000000000000001\","
         "\"trace_id\":\"1-5f84c7a1-e7d1852db8c4fd35d88bf49b\",\"name\":\"b\",\"start_time\":10,"
         "\"end_time\":11}]}", "InvalidTraceId", "differs"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\"",
         "MalformedDocument", "not valid JSON"},
        {"{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"id\":\"70de5b6f19ff9a0a\","
         "\"name\":\"a\",\"start_time\":10,\"end_time\":11}", "MalformedDocument", "twice"},
        {"\"a string\"", "MalformedDocument", "a JSON object or an array"},
        {"", "MalformedDocument", "a JSON object or an array"},
        {"[{\"a\":1}] {}", "MalformedDocument", "not valid JSON"},
    };
    size_t n = sizeof bad / sizeof *bad;
    /* each bad document between two good ones: the good ones are all kept */
    char good[512];
    for (size_t i = 0; i < n; i++) {
        owl_xray_decoded x;
        snprintf(good, sizeof good,
                 "{\"trace_id\":\"" TRACE "\",\"id\":\"10000000000000%02zx\",\"name\":\"ok\","
                 "\"start_time\":10,\"end_time\":11,\"subsegments\":[{\"id\":\"2000000000000009\","
                 "\"name\":\"s\",\"start_time\":10,\"end_time\":11}]}",
                 i);
        cr_log_info("case %zu", i);
        decode(&x, good, bad[i].doc, good, NULL);
        cr_assert_eq(x.spans.n, 4, "case %zu: %zu kept (%s)", i, x.spans.n, x.spans.message);
        cr_assert_eq(x.spans.rejected, 1, "case %zu kept", i);
        STR_EQ(x.spans.spans[0].name, "ok");
        STR_EQ(x.spans.spans[2].name, "ok");
        refused(&x, 0, bad[i].code, bad[i].part);
        cr_assert(strncmp(x.spans.message, "document 1: ", 12) == 0, "%s", x.spans.message);
        owl_xray_decoded_free(&x);
    }
}

Test(xray, name_length)
{
    char name[260], *d;
    owl_xray_decoded x;
    memset(name, 'n', 200);
    name[200] = '\0';
    d = seg("70de5b6f19ff9a0a", name, "");
    decode(&x, d, NULL);
    free(d);
    cr_assert_eq(x.spans.n, 1);
    owl_xray_decoded_free(&x);
    /* 200 characters of two bytes each are 200 characters */
    for (int i = 0; i < 100; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[200] = '\0';
    char two[420];
    for (int i = 0; i < 200; i++)
        memcpy(two + 2 * i, "\xc3\xa9", 2);
    two[400] = '\0';
    d = seg("70de5b6f19ff9a0a", two, "");
    decode(&x, d, NULL);
    free(d);
    cr_assert_eq(x.spans.n, 1);
    owl_xray_decoded_free(&x);
    memset(name, 'n', 201);
    name[201] = '\0';
    d = seg("70de5b6f19ff9a0a", name, "");
    decode(&x, d, NULL);
    free(d);
    cr_assert_eq(x.spans.n, 0);
    refused(&x, 0, "InvalidName", "201 characters");
    owl_xray_decoded_free(&x);
}

Test(xray, document_too_large)
{
    owl_buf b = OWL_BUF_INIT;
    owl_xray_decoded x;
    owl_buf_puts(&b, "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
                     "\"start_time\":10,\"end_time\":11,\"metadata\":{\"x\":\"");
    for (int i = 0; i < OWL_XRAY_MAX_DOC; i++)
        owl_buf_putc(&b, 'x');
    owl_buf_puts(&b, "\"}}");
    decode(&x, b.data, NULL);
    cr_assert_eq(x.spans.n, 0);
    refused(&x, 0, "DocumentTooLarge", "65536");
    owl_buf_free(&b);
    owl_xray_decoded_free(&x);
}

Test(xray, bodies_refused_whole)
{
    static const char *const bodies[] = {
        "",
        "{}",
        "{\"TraceSegmentDocuments\":null}",
        "{\"TraceSegmentDocuments\":\"{}\"}",
        "{\"TraceSegmentDocuments\":[{}]}",
        "{\"TraceSegmentDocuments\":[\"{}\",5]}",
        "[\"{}\"]",
        "{\"TraceSegmentDocuments\":[\"{}\"]",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        owl_xray_decoded x = {0};
        owl_error err = {0};
        int rc = owl_xray_decode_docs(bodies[i], strlen(bodies[i]), MAX, &x, &err);
        cr_assert_eq(rc, OWL_EINVAL, "body %zu", i);
        cr_assert_neq(err.msg[0], '\0');
        cr_assert_eq(x.spans.n + x.spans.rejected, 0);
        owl_xray_decoded_free(&x);
    }
    /* an empty list is a valid request */
    owl_xray_decoded x = {0};
    cr_assert_eq(owl_xray_decode_docs("{\"TraceSegmentDocuments\":[]}", 28, MAX, &x, NULL),
                 OWL_OK);
    cr_assert_eq(x.spans.n + x.spans.rejected, 0);
    owl_buf o = OWL_BUF_INIT;
    cr_assert_eq(owl_xray_unprocessed_json(&x, &o), OWL_OK);
    cr_assert_str_eq(o.data, "{\"UnprocessedTraceSegments\":[]}");
    owl_buf_free(&o);
    owl_xray_decoded_free(&x);
}

Test(xray, too_many_spans)
{
    owl_xray_decoded x = {0};
    owl_error err = {0};
    char *body = body_of(NESTED3, NESTED3, NULL);
    int rc = owl_xray_decode_docs(body, strlen(body), 11, &x, &err);
    cr_assert_eq(rc, OWL_ETOOBIG, "%d %s", rc, err.msg);
    cr_assert(strstr(err.msg, "12"), "%s", err.msg);
    cr_assert_eq(x.spans.n + x.spans.rejected, 0);
    cr_assert_eq(owl_xray_decode_docs(body, strlen(body), 12, &x, &err), OWL_OK);
    cr_assert_eq(x.spans.n, 12);
    free(body);
    owl_xray_decoded_free(&x);
}

Test(xray, unprocessed_answer)
{
    owl_xray_decoded x;
    owl_buf o = OWL_BUF_INIT;
    decode(&x,
           "{\"trace_id\":\"" TRACE "\",\"name\":\"a\",\"start_time\":1,\"end_time\":2}",
           "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\","
           "\"start_time\":10,\"end_time\":9}",
           "{\"trace_id\":\"1-x\",\"id\":\"ab\\\"c\",\"name\":\"a\",\"start_time\":10,"
           "\"end_time\":11}",
           NULL);
    cr_assert_eq(x.spans.rejected, 3);
    cr_assert_eq(owl_xray_unprocessed_json(&x, &o), OWL_OK);
    cr_assert_str_eq(o.data,
                     "{\"UnprocessedTraceSegments\":[{\"ErrorCode\":\"MissingId\",\"Message\":"
                     "\"no id\"},{\"Id\":\"70de5b6f19ff9a0a\",\"ErrorCode\":\"InvalidEndTime\","
                     "\"Message\":\"end_time 1000000000 ns before start_time\"},{\"Id\":"
                     "\"ab\\\"c\",\"ErrorCode\":\"InvalidId\",\"Message\":\"id: span id: 4 "
                     "characters (16 hex digits expected)\"}]}");
    cr_assert_str_eq(x.spans.message, "document 0: no id");
    owl_buf_free(&o);
    owl_xray_decoded_free(&x);
}

/* ---- the daemon's datagrams ---- */

Test(xray, datagram_header)
{
    static const char doc[] = "{\"trace_id\":\"" TRACE "\",\"id\":\"70de5b6f19ff9a0a\","
                              "\"name\":\"udp\",\"start_time\":10,\"end_time\":11}";
    static const char *const good[] = {"{\"format\":\"json\",\"version\":1}\n",
                                       "{\"format\": \"json\", \"version\": 1}\n",
                                       " { \"version\":1 , \"format\":\"json\" } \r\n"};
    static const char *const bad[] = {
        "",
        "{\"format\":\"json\",\"version\":1}",   /* no newline: the document is the header */
        "{\"format\":\"json\",\"version\":2}\n",
        "{\"format\":\"xml\",\"version\":1}\n",
        "{\"format\":\"json\",\"version\":\"1\"}\n",
        "{\"format\":\"json\",\"version\":1.0}\n",
        "{\"format\":\"json\"}\n",
        "{\"format\":\"json\",\"version\":1,\"x\":0}\n",
        "{\"format\":\"json\",\"version\":1}{}\n",
        "\n",
    };
    owl_xray_decoded x = {0};
    owl_error err = {0};
    char buf[512];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int n = snprintf(buf, sizeof buf, "%s%s", good[i], doc);
        cr_assert_eq(owl_xray_decode_datagram(buf, (size_t)n, MAX, &x, &err), OWL_OK, "%zu: %s",
                     i, err.msg);
        cr_assert_eq(x.spans.n, 1);
        STR_EQ(x.spans.spans[0].name, "udp");
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int n = snprintf(buf, sizeof buf, "%s%s", bad[i], i == 1 ? "" : doc);
        err.msg[0] = '\0';
        cr_assert_eq(owl_xray_decode_datagram(buf, (size_t)n, MAX, &x, &err), OWL_EINVAL,
                     "bad header %zu accepted", i);
        cr_assert(strstr(err.msg, "header"), "%zu: %s", i, err.msg);
        cr_assert_eq(x.spans.n + x.spans.rejected, 0);
    }
    /* a good header and a bad document: one unprocessed entry */
    int n = snprintf(buf, sizeof buf, "{\"format\":\"json\",\"version\":1}\n{\"id\":5}");
    cr_assert_eq(owl_xray_decode_datagram(buf, (size_t)n, MAX, &x, &err), OWL_OK);
    cr_assert_eq(x.spans.n, 0);
    refused(&x, 0, "InvalidId", "id is not a string");
    /* a header and nothing after it */
    n = snprintf(buf, sizeof buf, "{\"format\":\"json\",\"version\":1}\n");
    cr_assert_eq(owl_xray_decode_datagram(buf, (size_t)n, MAX, &x, &err), OWL_OK);
    refused(&x, 0, "MalformedDocument", "JSON object");
    owl_xray_decoded_free(&x);
}

/* ---- real data: segment documents from the OpenTelemetry collector's X-Ray receiver ---- */

/* Decodes a sample file as the daemon datagram it is, and as a PutTraceSegments document. */
static void sample(const char *name, owl_xray_decoded *x)
{
    size_t n;
    owl_error err = {0};
    char *data = NULL;
    char rel[256];
    snprintf(rel, sizeof rel, "xray/%s", name);
    data = test_data(rel, 1u << 20, &n);
    memset(x, 0, sizeof *x);
    cr_assert_eq(owl_xray_decode_datagram(data, n, MAX, x, &err), OWL_OK, "%s: %s", name,
                 err.msg);
    const char *doc = memchr(data, '\n', n) + 1;
    char *copy = strndup(doc, n - (size_t)(doc - data));
    owl_xray_decoded y;
    decode(&y, copy, NULL);
    cr_assert_eq(y.spans.n, x->spans.n);
    cr_assert_eq(y.spans.rejected, x->spans.rejected);
    for (size_t i = 0; i < y.spans.n; i++) {
        cr_assert_eq(y.spans.spans[i].start_ns, x->spans.spans[i].start_ns);
        cr_assert_eq(y.spans.spans[i].attrs.n, x->spans.spans[i].attrs.n);
        cr_assert_eq(memcmp(y.spans.spans[i].attrs.p, x->spans.spans[i].attrs.p,
                            y.spans.spans[i].attrs.n), 0);
    }
    owl_xray_decoded_free(&y);
    free(copy);
    free(data);
}

Test(xray, sample_ddb_faulted_tree)
{
    owl_xray_decoded x;
    sample("ddbSample.txt", &x);
    cr_assert_eq(x.spans.rejected, 0, "%s", x.spans.message);
    cr_assert_eq(x.spans.n, 18);
    /* depth-first, as nested: name, depth, kind, status */
    static const struct {
        const char *name;
        int parent; /* index of the parent record, -1 for the root */
        enum owl_span_kind kind;
        enum owl_span_status status;
    } want[] = {
        {"DDB", -1, OWL_SPAN_SERVER, OWL_SPAN_FAULT},
        {"DDB.DescribeExistingTableAndPutToMissingTable", 0, OWL_SPAN_INTERNAL, OWL_SPAN_FAULT},
        {"dynamodb", 1, OWL_SPAN_CLIENT, OWL_SPAN_OK},
        {"marshal", 2, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"attempt", 2, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"connect", 4, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"dns", 5, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"dial", 5, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"tls", 5, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"request", 4, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"response", 4, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"unmarshal", 2, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"dynamodb", 1, OWL_SPAN_CLIENT, OWL_SPAN_FAULT},
        {"marshal", 12, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"attempt", 12, OWL_SPAN_INTERNAL, OWL_SPAN_FAULT},
        {"request", 14, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"response", 14, OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {"wait", 12, OWL_SPAN_INTERNAL, OWL_SPAN_FAULT},
    };
    size_t faults = 0;
    for (size_t i = 0; i < 18; i++) {
        const owl_span *s = &x.spans.spans[i];
        STR_EQ(s->name, want[i].name);
        STR_EQ(s->service, "DDB");
        cr_assert_eq(s->kind, want[i].kind, "%zu", i);
        cr_assert_eq(s->status, want[i].status, "%zu %s", i, owl_span_status_name(s->status));
        if (want[i].parent < 0)
            cr_assert(owl_traceid_is_zero(s->parent_id, 8));
        else
            cr_assert_eq(memcmp(s->parent_id, x.spans.spans[want[i].parent].span_id, 8), 0,
                         "%zu", i);
        cr_assert_eq(memcmp(s->trace_id, x.spans.spans[0].trace_id, 16), 0);
        cr_assert_geq(s->duration_ns, 0);
        faults += s->status == OWL_SPAN_FAULT;
    }
    cr_assert_eq(faults, 5);
    /* DDB -> DynamoDB: the two calls name their peer; the failed one keeps its 400 and why */
    STR_EQ(x.spans.spans[2].peer_service, "dynamodb");
    cr_assert_eq(x.spans.spans[2].http_status, 200);
    STR_EQ(x.spans.spans[12].peer_service, "dynamodb");
    cr_assert_eq(x.spans.spans[12].http_status, 400);
    STR_EQ(x.spans.spans[12].status_message,
           "ResourceNotFoundException: Requested resource not found");
    char h[OWL_TRACEID_XRAY_SIZE];
    owl_traceid_to_xray(x.spans.spans[0].trace_id, h);
    cr_assert_str_eq(h, "1-5f29ab21-d4ebf299219a65bd5c31d6da");
    /* annotations stay a sub-document of their own */
    bson_t doc;
    bson_iter_t it;
    cr_assert(bson_init_static(&doc, x.spans.spans[1].attrs.p, x.spans.spans[1].attrs.n));
    cr_assert(bson_iter_init_find(&it, &doc, "annotations"));
    cr_assert(BSON_ITER_HOLDS_DOCUMENT(&it));
    cr_assert(bson_iter_init_find(&it, &doc, "metadata"));
    owl_xray_decoded_free(&x);
}

Test(xray, sample_server)
{
    static const char *const files[] = {"serverSample.txt", "awsValidAwsFields.txt",
                                        "awsMissingAwsField.txt"};
    for (size_t i = 0; i < 3; i++) {
        owl_xray_decoded x;
        sample(files[i], &x);
        cr_assert_eq(x.spans.n, 1, "%s: %s", files[i], x.spans.message);
        const owl_span *s = &x.spans.spans[0];
        STR_EQ(s->service, "SampleServer");
        cr_assert_eq(s->kind, OWL_SPAN_SERVER);
        STR_EQ(s->http_method, "GET");
        STR_EQ(s->url, "http://localhost:8000/");
        STR_EQ(s->route, "/");
        STR_EQ(s->client_ip, "127.0.0.1");
        STR_EQ(s->user_agent, "Go-http-client/1.1");
        cr_assert_eq(s->http_status, 200);
        cr_assert_eq(s->status, OWL_SPAN_OK);
        cr_assert_eq(s->start_ns / 1000, 1596648396639944ll); /* .6399446 s, to the double */
        owl_xray_decoded_free(&x);
    }
}

Test(xray, sample_independent_subsegment)
{
    owl_xray_decoded x;
    sample("minOtherFields.txt", &x);
    cr_assert_eq(x.spans.n, 1, "%s", x.spans.message);
    const owl_span *s = &x.spans.spans[0];
    id_eq(s->parent_id, "defdfd9912dc5a56");
    cr_assert_eq(s->kind, OWL_SPAN_INTERNAL);
    STR_EQ(s->service, "AWS::EC2::Instance");
    cr_assert_eq(s->status, OWL_SPAN_THROTTLE);
    owl_xray_decoded_free(&x);
}

Test(xray, sample_causes)
{
    owl_xray_decoded x;
    /* an exception id (not hex, as the SDK sample sends it) is kept */
    sample("minCauseIsExceptionId.txt", &x);
    cr_assert_eq(x.spans.n, 1, "%s", x.spans.message);
    cr_assert_eq(x.spans.spans[0].status, OWL_SPAN_FAULT);
    owl_xray_decoded_free(&x);
    /* a number is neither form of cause: refused */
    sample("minCauseIsInvalid.txt", &x);
    cr_assert_eq(x.spans.n, 0);
    refused(&x, 0, "InvalidField", "cause is neither");
    STR_EQ(x.unprocessed[0].id, "5cc4a447f5d4d696");
    owl_xray_decoded_free(&x);
}

/* The Python SDK (aws-xray-sdk 2.15) writes "namespace": "local" on every plain subsegment:
 * an internal span of the segment's service, the namespace kept in attrs. */
Test(xray, namespace_local)
{
    owl_xray_decoded x;
    decode(&x,
           "{\"trace_id\":\"" TRACE "\",\"id\":\"1000000000000001\",\"name\":\"py\","
           "\"start_time\":100,\"end_time\":110,\"subsegments\":[{\"id\":\"2000000000000001\","
           "\"name\":\"parse\",\"namespace\":\"local\",\"start_time\":101,\"end_time\":102}]}",
           NULL);
    cr_assert_eq(x.spans.n, 2);
    cr_assert_eq(x.spans.rejected, 0);
    cr_assert_eq(x.spans.spans[1].kind, OWL_SPAN_INTERNAL);
    cr_assert_eq(x.spans.spans[1].peer_service.n, 0);
    owl_xray_decoded_free(&x);
}

/* test_xfilter.c — tracer/xfilter.c: X-Ray filter expressions. A table of expressions, each
 * matched against hand-built traces (a 3-service shop trace whose DB call faulted behind an
 * ok root, a throttled one, an in-progress one, AWS's own examples with a Lambda service and
 * function sharing a name, and an empty trace) with the exact result expected; on every case
 * owl_xf_may_match must not refuse a trace that matches. Malformed expressions with the code
 * and the position their error names; the pre-check's pruning; cyclic parents. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/tracer.h"

#define MS(x) ((int64_t)(x) * 1000000LL)

/* ---- T0: frontend -> cart -> orders-db (inferred, faulted); frontend -> inventory ---- */
static const owl_xf_annotation t0_ann0[] = {
    {.key = "gameid", .type = OWL_XF_ASTR, .str = "817DL6VO"},
    {.key = "age", .type = OWL_XF_ANUM, .num = 31},
    {.key = "vip", .type = OWL_XF_ABOOL, .boolean = 1},
    {.key = "user.id", .type = OWL_XF_ASTR, .str = "u-17"},
};
static const owl_xf_annotation t0_ann2[] = {{.key = "retries", .type = OWL_XF_ANUM, .num = 2}};
static const owl_xf_span t0_spans[] = {
    {.service = "frontend", .service_type = "AWS::EC2::Instance", .name = "GET /api/cart",
     .kind = OWL_XF_SERVER, .start_ns = MS(0), .end_ns = MS(2500), .http_method = "GET",
     .http_url = "https://shop.example.com/api/cart?id=7", .http_status = 200,
     .http_useragent = "curl/8.5.0", .http_clientip = "203.0.113.9", .user = "alice",
     .availability_zone = "eu-west-1a", .instance_id = "i-0abc", .annotations = t0_ann0,
     .n_annotations = 4, .parent = -1},
    {.service = "frontend", .service_type = "AWS::EC2::Instance", .name = "cart",
     .kind = OWL_XF_CLIENT, .start_ns = MS(100), .end_ns = MS(2300), .fault = 1,
     .http_method = "GET", .http_url = "http://cart.internal/cart/7", .http_status = 500,
     .parent = 0, .remote_service = "cart"},
    {.service = "cart", .service_type = "AWS::ECS::Container", .name = "GET /cart/{id}",
     .kind = OWL_XF_SERVER, .start_ns = MS(200), .end_ns = MS(2200), .fault = 1,
     .http_method = "GET", .http_url = "http://cart.internal/cart/7", .http_status = 500,
     .annotations = t0_ann2, .n_annotations = 1, .parent = 1, .exception_type = "HTTPError"},
    {.service = "cart", .service_type = "AWS::ECS::Container", .name = "GetItem",
     .kind = OWL_XF_CLIENT, .start_ns = MS(300), .end_ns = MS(2100), .fault = 1,
     .resource_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders", .parent = 2,
     .remote_service = "orders-db", .remote_type = "AWS::DynamoDB::Table",
     .exception_type = "ProvisionedThroughputExceededException",
     .exception_message = "Rate exceeded"},
    {.service = "cart", .service_type = "AWS::ECS::Container", .name = "render",
     .kind = OWL_XF_INTERNAL, .start_ns = MS(2100), .end_ns = MS(2150), .parent = 2},
    {.service = "frontend", .service_type = "AWS::EC2::Instance", .name = "inventory",
     .kind = OWL_XF_CLIENT, .start_ns = MS(100), .end_ns = MS(400), .http_status = 200,
     .parent = 0, .remote_service = "inventory"},
    {.service = "inventory", .name = "GET /stock", .kind = OWL_XF_SERVER, .start_ns = MS(150),
     .end_ns = MS(350), .http_status = 200, .user = "svc-inventory", .parent = 5},
};

/* ---- T1: api throttled (429), calling auth ---- */
static const owl_xf_annotation t1_ann[] = {
    {.key = "tenant", .type = OWL_XF_ASTR, .str = "acme"},
    {.key = "priority", .type = OWL_XF_ABOOL, .boolean = 0},
    {.key = "weight", .type = OWL_XF_ANUM, .num = 2.5},
};
static const owl_xf_span t1_spans[] = {
    {.service = "api", .name = "POST /v2/orders", .kind = OWL_XF_SERVER, .start_ns = MS(0),
     .end_ns = MS(50), .throttle = 1, .http_method = "POST",
     .http_url = "https://api.example.com/v2/orders", .http_status = 429, .user = "bob",
     .annotations = t1_ann, .n_annotations = 3, .parent = -1},
    {.service = "api", .name = "auth", .kind = OWL_XF_CLIENT, .start_ns = MS(5), .end_ns = MS(20),
     .parent = 0, .remote_service = "auth"},
    {.service = "auth", .name = "GET /check", .kind = OWL_XF_SERVER, .start_ns = MS(6),
     .end_ns = MS(19), .http_method = "GET", .http_url = "http://auth/check", .http_status = 200,
     .parent = 1},
};

/* ---- T2: a worker still running; its S3 call got a 404 ---- */
static const owl_xf_span t2_spans[] = {
    {.service = "worker", .name = "consume", .kind = OWL_XF_CONSUMER, .start_ns = MS(10000),
     .in_progress = 1, .parent = -1},
    {.service = "worker", .name = "resize", .kind = OWL_XF_INTERNAL, .start_ns = MS(10000),
     .end_ns = MS(10500), .parent = 0},
    {.service = "worker", .name = "GetObject", .kind = OWL_XF_CLIENT, .start_ns = MS(10100),
     .end_ns = MS(10200), .error = 1, .http_method = "GET",
     .http_url = "https://photos.s3.amazonaws.com/x.jpg", .http_status = 404, .parent = 1,
     .remote_service = "photos", .remote_type = "AWS::S3::Bucket"},
};

/* ---- T3: no spans ---- */

/* ---- T4: AWS's examples: api.example.com -> backend.example.com (404), random-name ---- */
static const owl_xf_span t4_spans[] = {
    {.service = "api.example.com", .name = "GET /v2/items", .kind = OWL_XF_SERVER,
     .start_ns = MS(0), .end_ns = MS(800), .error = 1, .http_method = "GET",
     .http_url = "http://api.example.com/v2/items?x=1", .http_status = 404,
     .http_useragent = "Mozilla/5.0", .parent = -1},
    {.service = "api.example.com", .name = "backend", .kind = OWL_XF_CLIENT, .start_ns = MS(10),
     .end_ns = MS(300), .error = 1, .http_status = 404, .parent = 0,
     .remote_service = "backend.example.com"},
    {.service = "backend.example.com", .name = "GET /items", .kind = OWL_XF_SERVER,
     .start_ns = MS(20), .end_ns = MS(290), .error = 1, .http_status = 404, .parent = 1},
    {.service = "api.example.com", .name = "Invoke", .kind = OWL_XF_CLIENT, .start_ns = MS(300),
     .end_ns = MS(700), .parent = 0, .remote_service = "random-name",
     .remote_type = "AWS::Lambda"},
    {.service = "random-name", .service_type = "AWS::Lambda", .name = "Invoke",
     .kind = OWL_XF_SERVER, .start_ns = MS(310), .end_ns = MS(690), .parent = 3},
    {.service = "random-name", .service_type = "AWS::Lambda::Function", .name = "handler",
     .kind = OWL_XF_SERVER, .start_ns = MS(320), .end_ns = MS(680), .error = 1,
     .http_status = 400, .parent = 4},
};

static const owl_xf_trace traces[] = {
    {t0_spans, sizeof t0_spans / sizeof *t0_spans, -1, 0},
    {t1_spans, sizeof t1_spans / sizeof *t1_spans, 0, 0},
    {t2_spans, sizeof t2_spans / sizeof *t2_spans, -1, 0},
    {NULL, 0, -1, 0},
    {t4_spans, sizeof t4_spans / sizeof *t4_spans, -1, 0},
};
#define NTRACES (sizeof traces / sizeof *traces)

typedef struct mcase {
    const char *expr;
    int want[NTRACES]; /* T0 T1 T2 T3 T4 */
} mcase;

/* Matches expr against every trace, checking each result and the pre-check's soundness. */
static void run_cases(const mcase *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        owl_xf *f = NULL;
        owl_error err = {0};
        int rc = owl_xf_compile(cs[i].expr, strlen(cs[i].expr), &f, &err);
        cr_assert_eq(rc, OWL_OK, "compile [%s]: %s", cs[i].expr, err.msg);
        for (size_t t = 0; t < NTRACES; t++) {
            int got = owl_xf_match(f, &traces[t]);
            cr_expect_eq(got, cs[i].want[t], "[%s] on T%zu: got %d, want %d", cs[i].expr, t, got,
                         cs[i].want[t]);
            const char *svc[16];
            owl_xf_summary s;
            cr_assert_eq(owl_xf_summarize(&traces[t], svc, 16, &s, NULL), OWL_OK);
            if (got)
                cr_expect(owl_xf_may_match(f, &s), "[%s] on T%zu: pre-check refused a match",
                          cs[i].expr, t);
        }
        owl_xf_free(f);
    }
}

#define RUN(cs) run_cases(cs, sizeof cs / sizeof *cs)

/*                                         T0 T1 T2 T3 T4 */
static const mcase boolean_cases[] = {
    {"ok", {1, 0, 1, 0, 0}},
    {"!ok", {0, 1, 0, 1, 1}},
    {"ok = true", {1, 0, 1, 0, 0}},
    {"ok = false", {0, 1, 0, 1, 1}},
    {"ok != true", {0, 1, 0, 1, 1}},
    {"ok != false", {1, 0, 1, 0, 0}},
    {"OK = TRUE", {1, 0, 1, 0, 0}},
    {"error", {0, 1, 0, 0, 1}},
    {"!error", {1, 0, 1, 1, 0}},
    {"error = false", {1, 0, 1, 1, 0}},
    {"fault", {0, 0, 0, 0, 0}},
    {"fault = false", {1, 1, 1, 1, 1}},
    {"throttle", {0, 1, 0, 0, 0}},
    {"throttle = true", {0, 1, 0, 0, 0}},
    {"partial", {0, 0, 1, 0, 0}},
    {"!partial", {1, 1, 0, 1, 1}},
    {"partial = false", {1, 1, 0, 1, 1}},
    {"inferred", {1, 0, 1, 0, 0}},
    {"!inferred", {0, 1, 0, 1, 1}},
    {"root", {1, 1, 1, 0, 1}},
    {"NOT ok", {0, 1, 0, 1, 1}},
    {"not ok", {0, 1, 0, 1, 1}},
    {"!!ok", {1, 0, 1, 0, 0}},
    {"ok !partial duration < 3", {1, 0, 0, 0, 0}},
    {"error AND throttle", {0, 1, 0, 0, 0}},
    {"error and !throttle", {0, 0, 0, 0, 1}},
};

static const mcase number_cases[] = {
    {"responsetime > 2", {1, 0, 0, 0, 0}},
    {"responsetime = 2.5", {1, 0, 0, 0, 0}},
    {"responsetime < 0.1", {0, 1, 0, 0, 0}},
    {"responseTime <= 0.05", {0, 1, 0, 0, 0}},
    {"responsetime >= 0", {1, 1, 0, 0, 1}},
    {"responsetime != 0.8", {1, 1, 0, 0, 0}},
    {"duration >= 5 AND duration <= 8", {0, 0, 0, 0, 0}},
    {"duration >= 2.5 AND duration <= 8", {1, 0, 0, 0, 0}},
    {"duration = 0.5", {0, 0, 1, 0, 0}},
    {"duration < 1", {0, 1, 1, 0, 1}},
    {"duration > 0.049", {1, 1, 1, 0, 1}},
    {"duration < 1e3", {1, 1, 1, 0, 1}},
    {"duration > 25e-3", {1, 1, 1, 0, 1}},
    {"duration > .6", {1, 0, 0, 0, 1}},
    {"duration > -1", {1, 1, 1, 0, 1}},
    {"http.status = 200", {1, 0, 0, 0, 0}},
    {"http.status != 200", {0, 1, 0, 0, 1}},
    {"http.status >= 400 AND http.status < 500", {0, 1, 0, 0, 1}},
    {"http.status = 429", {0, 1, 0, 0, 0}},
    {"http.status > 0", {1, 1, 0, 0, 1}},
    {"!(http.status > 0)", {0, 0, 1, 1, 0}},
    {"HTTP.STATUS = 404", {0, 0, 0, 0, 1}},
};

static const mcase string_cases[] = {
    {"http.url CONTAINS \"/api/\"", {1, 0, 0, 0, 0}},
    {"http.url CONTAINS \"/v2/\"", {0, 1, 0, 0, 1}},
    {"http.url BEGINSWITH \"https://\"", {1, 1, 0, 0, 0}},
    {"http.url ENDSWITH \"?id=7\"", {1, 0, 0, 0, 0}},
    {"http.url = \"https://api.example.com/v2/orders\"", {0, 1, 0, 0, 0}},
    {"http.url != \"https://api.example.com/v2/orders\"", {1, 0, 0, 0, 1}},
    {"http.url contains \"/API/\"", {0, 0, 0, 0, 0}},
    {"http.url", {1, 1, 0, 0, 1}},
    {"!http.url", {0, 0, 1, 1, 0}},
    {"http.url CONTAINS \"\"", {1, 1, 0, 0, 1}},
    {"http.url AND responseTime > 2", {1, 0, 0, 0, 0}},
    {"http.method = \"GET\"", {1, 0, 0, 0, 1}},
    {"http.method = \"get\"", {0, 0, 0, 0, 0}},
    {"http.method != \"GET\"", {0, 1, 0, 0, 0}},
    {"http.useragent BEGINSWITH \"curl/\"", {1, 0, 0, 0, 0}},
    {"http.useragent CONTAINS \"Mozilla\"", {0, 0, 0, 0, 1}},
    {"http.clientip = \"203.0.113.9\"", {1, 0, 0, 0, 0}},
    {"http.clientip BEGINSWITH \"203.\"", {1, 0, 0, 0, 0}},
    {"user = \"alice\"", {1, 0, 0, 0, 0}},
    {"user = \"svc-inventory\"", {1, 0, 0, 0, 0}},
    {"user CONTAINS \"\"", {1, 1, 0, 0, 0}},
    {"user != \"alice\"", {1, 1, 0, 0, 0}},
    {"!(user = \"alice\")", {0, 1, 1, 1, 1}},
    {"user ENDSWITH \"ob\"", {0, 1, 0, 0, 0}},
    {"name = \"frontend\"", {1, 0, 0, 0, 0}},
    {"name = \"worker\"", {0, 0, 1, 0, 0}},
    {"type = \"AWS::EC2::Instance\"", {1, 0, 0, 0, 0}},
    {"type", {1, 0, 0, 0, 0}},
    {"availabilityzone = \"eu-west-1a\"", {1, 0, 0, 0, 0}},
    {"instance.id BEGINSWITH \"i-\"", {1, 0, 0, 0, 0}},
    {"resource.arn CONTAINS \":table/orders\"", {1, 0, 0, 0, 0}},
    {"http.url = \"a\\\"b\"", {0, 0, 0, 0, 0}},
};

static const mcase annotation_cases[] = {
    {"annotation.gameid = \"817DL6VO\"", {1, 0, 0, 0, 0}},
    {"annotation.gameid = \"817dl6vo\"", {0, 0, 0, 0, 0}},
    {"annotation.gameid != \"x\"", {1, 0, 0, 0, 0}},
    {"annotation.gameid CONTAINS \"DL6\"", {1, 0, 0, 0, 0}},
    {"annotation.gameid", {1, 0, 0, 0, 0}},
    {"!annotation.gameid", {0, 1, 1, 1, 1}},
    {"annotation.age > 29", {1, 0, 0, 0, 0}},
    {"annotation.age = 31", {1, 0, 0, 0, 0}},
    {"annotation.age < 31", {0, 0, 0, 0, 0}},
    {"annotation.age = \"31\"", {0, 0, 0, 0, 0}},
    {"annotation.vip = true", {1, 0, 0, 0, 0}},
    {"annotation.vip", {1, 0, 0, 0, 0}},
    {"annotation.vip = false", {0, 0, 0, 0, 0}},
    {"annotation.vip != false", {1, 0, 0, 0, 0}},
    {"annotation.priority = false", {0, 1, 0, 0, 0}},
    {"annotation.priority", {0, 1, 0, 0, 0}},
    {"annotation.priority = true", {0, 0, 0, 0, 0}},
    {"annotation.weight > 2", {0, 1, 0, 0, 0}},
    {"annotation.weight = 2.5", {0, 1, 0, 0, 0}},
    {"annotation.tenant BEGINSWITH \"ac\"", {0, 1, 0, 0, 0}},
    {"annotation.tenant ENDSWITH \"me\"", {0, 1, 0, 0, 0}},
    {"annotation.tenant = 5", {0, 0, 0, 0, 0}},
    {"annotation.retries >= 2", {1, 0, 0, 0, 0}},
    {"annotation[retries] = 2", {1, 0, 0, 0, 0}},
    {"annotation[\"user.id\"] = \"u-17\"", {1, 0, 0, 0, 0}},
    {"annotation[\"gameid\"]", {1, 0, 0, 0, 0}},
    {"annotation.GAMEID", {0, 0, 0, 0, 0}},
    {"ANNOTATION.gameid", {1, 0, 0, 0, 0}},
    {"annotation.age > 29 AND annotation.vip", {1, 0, 0, 0, 0}},
    {"annotation.missing OR annotation.weight", {0, 1, 0, 0, 0}},
};

static const mcase service_cases[] = {
    {"service(\"cart\")", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { fault }", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { fault = true AND http.status = 500 }", {1, 0, 0, 0, 0}},
    {"service(\"frontend\") { fault }", {0, 0, 0, 0, 0}},
    {"service(\"frontend\") { ok }", {1, 0, 0, 0, 0}},
    {"service(\"orders-db\")", {1, 0, 0, 0, 0}},
    {"service(\"orders-db\") { fault }", {1, 0, 0, 0, 0}},
    {"service(\"orders-db\") { inferred }", {1, 0, 0, 0, 0}},
    {"service(\"orders-db\") { root }", {0, 0, 0, 0, 0}},
    {"service(\"cart\") { inferred }", {0, 0, 0, 0, 0}},
    {"service(id(type: \"AWS::DynamoDB::Table\")) { fault }", {1, 0, 0, 0, 0}},
    {"service(id(name: \"cart\", type: \"AWS::ECS::Container\"))", {1, 0, 0, 0, 0}},
    {"service(id(name: \"cart\", type: \"AWS::EC2::Instance\"))", {0, 0, 0, 0, 0}},
    {"service() { fault }", {1, 0, 0, 0, 0}},
    {"service() { throttle }", {0, 1, 0, 0, 0}},
    {"service() { error }", {0, 1, 1, 0, 1}},
    {"service()", {1, 1, 1, 0, 1}},
    {"!service()", {0, 0, 0, 1, 0}},
    {"!service(\"payments\")", {1, 1, 1, 1, 1}},
    {"service(\"inventory\") { responsetime < 0.3 }", {1, 0, 0, 0, 0}},
    {"service(\"inventory\") { user = \"svc-inventory\" }", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { user CONTAINS \"\" }", {0, 0, 0, 0, 0}},
    {"service(\"cart\") { duration >= 2 }", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { duration > 2 }", {0, 0, 0, 0, 0}},
    {"service(\"cart\") { resource.arn ENDSWITH \"/orders\" }", {1, 0, 0, 0, 0}},
    {"service(\"frontend\") { root }", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { root = false }", {1, 0, 0, 0, 0}},
    {"service(\"cart\") { name = \"cart\" AND type = \"AWS::ECS::Container\" }", {1, 0, 0, 0, 0}},
    {"service(\"auth\") { ok }", {0, 1, 0, 0, 0}},
    {"service(\"api\") { throttle }", {0, 1, 0, 0, 0}},
    {"service(\"worker\") { partial }", {0, 0, 1, 0, 0}},
    {"service(\"worker\") { ok }", {0, 0, 1, 0, 0}},
    {"service(\"photos\") { error }", {0, 0, 1, 0, 0}},
    {"service(\"photos\") { http.status = 404 AND http.url CONTAINS \"x.jpg\" }", {0, 0, 1, 0, 0}},
    {"service(\"photos\") { partial }", {0, 0, 0, 0, 0}},
    {"service(\"api.example.com\") { fault }", {0, 0, 0, 0, 0}},
    {"service(\"api.example.com\") { error }", {0, 0, 0, 0, 1}},
    {"service(\"random-name\") { error }", {0, 0, 0, 0, 1}},
    {"service(id(name: \"random-name\", type: \"AWS::Lambda::Function\")) { error }",
     {0, 0, 0, 0, 1}},
    {"service(id(name: \"random-name\", type: \"AWS::Lambda\")) { error }", {0, 0, 0, 0, 0}},
    {"service(id(type: \"AWS::Lambda::Function\")) { error }", {0, 0, 0, 0, 1}},
    {"service(id(type: \"AWS::Lambda::Function\", name: \"random-name\"))", {0, 0, 0, 0, 1}},
    {"service(\"Cart\")", {0, 0, 0, 0, 0}},
    {"SERVICE(\"cart\") {FAULT}", {1, 0, 0, 0, 0}},
    {"service(\"cart\"){fault}AND ok", {1, 0, 0, 0, 0}},
};

static const mcase edge_cases[] = {
    {"edge(\"frontend\", \"cart\")", {1, 0, 0, 0, 0}},
    {"edge(\"frontend\", \"cart\") { fault }", {1, 0, 0, 0, 0}},
    {"edge(\"cart\", \"frontend\")", {0, 0, 0, 0, 0}},
    {"edge(\"cart\", \"orders-db\") { fault }", {1, 0, 0, 0, 0}},
    {"edge(\"cart\", \"orders-db\") { inferred AND responsetime >= 1.8 }", {1, 0, 0, 0, 0}},
    {"edge(\"frontend\", \"orders-db\")", {0, 0, 0, 0, 0}},
    {"edge(\"frontend\", \"inventory\") { ok }", {1, 0, 0, 0, 0}},
    {"edge(\"frontend\", \"inventory\") { error }", {0, 0, 0, 0, 0}},
    {"edge(\"api\", \"auth\") { ok AND http.status = 200 }", {0, 1, 0, 0, 0}},
    {"edge(\"worker\", \"photos\") { http.status = 404 }", {0, 0, 1, 0, 0}},
    {"edge(\"api.example.com\", \"backend.example.com\") { error }", {0, 0, 0, 0, 1}},
    {"edge(\"api.example.com\", \"backend.example.com\") { fault }", {0, 0, 0, 0, 0}},
    {"edge(id(name: \"api.example.com\"), id(name: \"random-name\", type: \"AWS::Lambda\"))",
     {0, 0, 0, 0, 1}},
    {"edge(id(name: \"api.example.com\"), id(type: \"AWS::Lambda::Function\"))", {0, 0, 0, 0, 0}},
    {"edge(\"random-name\", \"random-name\") { error }", {0, 0, 0, 0, 1}},
    {"!edge(\"frontend\", \"cart\")", {0, 1, 1, 1, 1}},
    {"http.url BEGINSWITH \"http://api.example.com/\" AND http.url CONTAINS \"/v2/\" AND "
     "!service(\"api.example.com\")",
     {0, 0, 0, 0, 0}},
    {"http.url BEGINSWITH \"http://api.example.com/\" AND http.url CONTAINS \"/v2/\" AND "
     "!service(\"payments\")",
     {0, 0, 0, 0, 1}},
};

static const mcase precedence_cases[] = {
    {"ok OR fault AND error", {1, 0, 1, 0, 0}},
    {"(ok OR fault) AND error", {0, 0, 0, 0, 0}},
    {"NOT ok OR ok", {1, 1, 1, 1, 1}},
    {"NOT (ok OR error)", {0, 0, 0, 1, 0}},
    {"!ok AND ok", {0, 0, 0, 0, 0}},
    {"ok AND (service(\"cart\") { fault } OR service(\"photos\") { error })", {1, 0, 1, 0, 0}},
    {"error OR partial OR inferred", {1, 1, 1, 0, 1}},
    {"((((ok))))", {1, 0, 1, 0, 0}},
    {"ok\tAND\n!partial", {1, 0, 0, 0, 0}},
};

/* Root causes. T0: the fault starts at cart's GetItem call to orders-db (inferred); the
 * response time's largest share is that call too (1.8 s of 2.5). T1: the throttle (an error
 * too) is the root's own; api holds most of the time. T2: the 404 starts at GetObject to
 * photos (inferred); the root is in progress, so no response-time cause. T4: the error starts
 * at random-name's function handler, which also holds most of the time (0.36 s of 0.8). */
static const mcase rootcause_cases[] = {
    {"rootcause.fault.service", {1, 0, 0, 0, 0}},
    {"!rootcause.fault.service", {0, 1, 1, 1, 1}},
    {"rootcause.fault.service { name = \"cart\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { last and name = \"cart\" }", {0, 0, 0, 0, 0}},
    {"rootcause.fault.service { last and inferred and name = \"orders-db\" and "
     "type = \"AWS::DynamoDB::Table\" }",
     {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { first and name = \"frontend\" and index = 0 }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { index = 1 AND name = \"cart\" AND !inferred }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { index > 2 }", {0, 0, 0, 0, 0}},
    {"rootcause.fault.service { NOT name = \"cart\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.entity { last and name = \"GetItem\" and remote }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.entity { first and name = \"GET /api/cart\" and !remote }",
     {1, 0, 0, 0, 0}},
    {"rootcause.fault.entity { index = 1 and remote and name = \"cart\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.entity { name = \"render\" }", {0, 0, 0, 0, 0}}, /* not on the chain */
    {"rootcause.fault.entity { message = \"Rate exceeded\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.exception { last and name = \"ProvisionedThroughputExceededException\" }",
     {1, 0, 0, 0, 0}},
    {"rootcause.fault.exception { first and name = \"HTTPError\" and !message }",
     {1, 0, 0, 0, 0}},
    {"rootcause.fault.exception { message CONTAINS \"Rate\" AND index = 1 }", {1, 0, 0, 0, 0}},
    {"rootcause.error.service", {0, 1, 1, 0, 1}},
    {"rootcause.error.service { name = \"api\" }", {0, 1, 0, 0, 0}},
    {"rootcause.throttle.service", {0, 1, 0, 0, 0}},
    {"rootcause.throttle.service { last and first and name = \"api\" }", {0, 1, 0, 0, 0}},
    {"rootcause.error.service { last and inferred and name = \"photos\" and "
     "type = \"AWS::S3::Bucket\" }",
     {0, 0, 1, 0, 0}},
    {"rootcause.error.service { name = \"worker\" and first }", {0, 0, 1, 0, 0}},
    {"rootcause.error.service { last and type = \"AWS::Lambda::Function\" }", {0, 0, 0, 0, 1}},
    {"rootcause.error.service { index = 1 and type = \"AWS::Lambda\" }", {0, 0, 0, 0, 1}},
    {"rootcause.error.entity { last and name = \"handler\" }", {0, 0, 0, 0, 1}},
    {"rootcause.error.exception", {0, 0, 0, 0, 0}},
    {"rootcause.responsetime.service", {1, 1, 0, 0, 1}},
    {"rootcause.responsetime.service { last and name = \"orders-db\" and inferred }",
     {1, 0, 0, 0, 0}},
    {"rootcause.responsetime.service { name = \"frontend\" }", {1, 0, 0, 0, 0}},
    {"rootcause.responsetime.service { last and name = \"api\" }", {0, 1, 0, 0, 0}},
    {"rootcause.responsetime.service { last and type = \"AWS::Lambda::Function\" }",
     {0, 0, 0, 0, 1}},
    {"rootcause.responsetime.entity { remote and coverage > 0.7 }", {1, 0, 0, 0, 0}},
    {"rootcause.responsetime.entity { last and coverage > 0.449 and coverage < 0.451 }",
     {0, 0, 0, 0, 1}},
    {"rootcause.responsetime.entity { first and coverage = 1 }", {1, 1, 0, 0, 1}},
    {"ok AND rootcause.responsetime.service { name = \"cart\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { name = \"cart\" } OR rootcause.error.service { name = \"api\" }",
     {1, 1, 0, 0, 0}},
    {"ROOTCAUSE.FAULT.SERVICE { NAME = \"cart\" }", {1, 0, 0, 0, 0}},
    {"rootcause.fault.service { (name = \"x\" OR name = \"cart\") AND index != 0 }",
     {1, 0, 0, 0, 0}},
};

Test(xfilter, boolean_keywords) { RUN(boolean_cases); }
Test(xfilter, number_keywords) { RUN(number_cases); }
Test(xfilter, string_keywords) { RUN(string_cases); }
Test(xfilter, annotations) { RUN(annotation_cases); }
Test(xfilter, service) { RUN(service_cases); }
Test(xfilter, edge) { RUN(edge_cases); }
Test(xfilter, precedence) { RUN(precedence_cases); }
Test(xfilter, rootcause) { RUN(rootcause_cases); }

/* ---- malformed expressions: the code and the 1-based position named ---- */

typedef struct bad {
    const char *expr;
    int code;
    size_t pos;
    const char *says; /* a part of the message */
} bad;

static const bad bad_cases[] = {
    {"", OWL_EINVAL, 1, "expected a filter expression"},
    {"   ", OWL_EINVAL, 4, "expected a filter expression"},
    {"responsetime >", OWL_EINVAL, 15, "expected a value"},
    {"responsetime", OWL_EINVAL, 13, "comparison operator"},
    {"duration >= 5 AND", OWL_EINVAL, 18, "expected a keyword"},
    {"ok OR", OWL_EINVAL, 6, "expected a keyword"},
    {"NOT", OWL_EINVAL, 4, "expected a keyword"},
    {"!!", OWL_EINVAL, 3, "expected a keyword"},
    {"ok = maybe", OWL_EINVAL, 6, "expected a value"},
    {"ok = 1", OWL_EINVAL, 6, "expected true or false"},
    {"http.url = 5", OWL_EINVAL, 12, "expected a quoted string"},
    {"http.url = abc", OWL_EINVAL, 12, "expected a value"},
    {"http.url > \"a\"", OWL_EINVAL, 10, "do not apply"},
    {"ok < true", OWL_EINVAL, 4, "only = and !="},
    {"duration CONTAINS \"x\"", OWL_EINVAL, 10, "does not apply"},
    {"duration = \"5\"", OWL_EINVAL, 12, "expected a number"},
    {"service(\"a\" {fault}", OWL_EINVAL, 13, "expected ')'"},
    {"service(\"a\") { }", OWL_EINVAL, 16, "expected a filter expression"},
    {"service(\"a\") { fault", OWL_EINVAL, 21, "expected '}'"},
    {"service", OWL_EINVAL, 8, "expected '(' after service"},
    {"service(cart)", OWL_EINVAL, 9, "quoted service name"},
    {"edge(\"a\") {error}", OWL_EINVAL, 9, "expected ','"},
    {"edge(\"a\", \"b\", \"c\")", OWL_EINVAL, 14, "expected ')'"},
    {"edge()", OWL_EINVAL, 6, "quoted service name"},
    {"(ok", OWL_EINVAL, 4, "expected ')'"},
    {"ok)", OWL_EINVAL, 3, "AND, OR or the end"},
    {"ok }", OWL_EINVAL, 4, "AND, OR or the end"},
    {"http.url = \"abc", OWL_EINVAL, 12, "unterminated string"},
    {"foo = 1", OWL_EINVAL, 1, "unknown keyword"},
    {"ok AND okay", OWL_EINVAL, 8, "unknown keyword"},
    {"annotation. = 1", OWL_EINVAL, 12, "annotation key"},
    {"annotation.a.b = 1", OWL_EINVAL, 12, "annotation key"},
    {"annotation[] = 1", OWL_EINVAL, 12, "expected an annotation key"},
    {"annotation[\"\"]", OWL_EINVAL, 12, "empty annotation key"},
    {"annotation[x = 1", OWL_EINVAL, 14, "expected ']'"},
    {"annotation = 1", OWL_EINVAL, 12, "'.' or '['"},
    {"annotation.age > \"x\"", OWL_EINVAL, 18, "need a number"},
    {"annotation.name CONTAINS 5", OWL_EINVAL, 26, "need a quoted string"},
    {"annotation.x =", OWL_EINVAL, 15, "expected a value"},
    {"service(\"a\") { annotation.x }", OWL_EINVAL, 16, "inside service() or edge()"},
    {"service(\"a\") { service(\"b\") }", OWL_EINVAL, 16, "cannot be nested"},
    {"edge(\"a\", \"b\") { edge(\"b\", \"c\") }", OWL_EINVAL, 18, "cannot be nested"},
    {"id(name: \"x\")", OWL_EINVAL, 1, "only inside service() or edge()"},
    {"service(id(name: \"a\", name: \"b\"))", OWL_EINVAL, 23, "given twice"},
    {"service(id(color: \"a\"))", OWL_EINVAL, 12, "name: or type:"},
    {"service(id(name \"a\"))", OWL_EINVAL, 17, "expected ':'"},
    {"service(id(name: a))", OWL_EINVAL, 18, "expected a quoted string"},
    {"service(id())", OWL_EINVAL, 12, "name: or type:"},
    {"ok && error", OWL_EINVAL, 4, "use AND, OR"},
    {"ok || error", OWL_EINVAL, 4, "use AND, OR"},
    {"duration > 5s", OWL_EINVAL, 13, "after a number"},
    {"duration > 1e", OWL_EINVAL, 14, "exponent"},
    {"duration > -", OWL_EINVAL, 12, "expected a number"},
    {"duration > 1.2.3", OWL_EINVAL, 15, "after a number"},
    {"duration > 1e999", OWL_EINVAL, 12, "out of range"},
    {"ok = true false", OWL_EINVAL, 11, "unknown keyword"},
    {"ok ; error", OWL_EINVAL, 4, "unexpected ';'"},
    {"user = 'alice'", OWL_EINVAL, 8, "unexpected '''"},
    {"user = \"caf\xc3\xa9\" \xc3\xa9", OWL_EINVAL, 16, "unexpected byte 0xc3"},
    {"ok AND rootcause.json = #[{}]", OWL_EUNSUPPORTED, 8, "rootcause"},
    {"rootcause.fault.service { ok }", OWL_EINVAL, 27, "unknown keyword 'ok' inside"},
    {"rootcause.fault.service { coverage > 0.5 }", OWL_EINVAL, 27, "does not apply"},
    {"rootcause.fault.entity { coverage > 0.5 }", OWL_EINVAL, 26, "does not apply"},
    {"rootcause.fault.service { remote }", OWL_EINVAL, 27, "does not apply"},
    {"rootcause.responsetime.entity { message = \"x\" }", OWL_EINVAL, 33, "does not apply"},
    {"rootcause.responsetime.exception { name = \"x\" }", OWL_EINVAL, 24, "no exceptions"},
    {"rootcause.latency.service", OWL_EINVAL, 11, "expected fault, error"},
    {"rootcause", OWL_EINVAL, 10, "expected fault, error"},
    {"rootcause.fault", OWL_EINVAL, 16, "expected .service"},
    {"rootcause.fault.node", OWL_EINVAL, 17, "expected .service"},
    {"rootcause.fault.service.name", OWL_EINVAL, 17, "expected .service"},
    {"rootcause.fault.service { name = traces }", OWL_EINVAL, 34, "expected a value"},
    {"rootcause.fault.service { index > \"a\" }", OWL_EINVAL, 35, "expected a number"},
    {"rootcause.fault.service { last = 1 }", OWL_EINVAL, 34, "expected true or false"},
    {"rootcause.fault.service { }", OWL_EINVAL, 27, "expected a filter expression"},
    {"rootcause.fault.service { name = \"a\"", OWL_EINVAL, 37, "expected '}'"},
    {"service(\"a\") { rootcause.fault.service }", OWL_EINVAL, 16, "inside service()"},
    {"rootcause.fault.service { service(\"a\") }", OWL_EINVAL, 27, "unknown keyword 'service'"},
    {"rootcause.fault.service { rootcause.error.service }", OWL_EINVAL, 27, "unknown keyword"},
    {"rootcause.fault.service { annotation.x }", OWL_EINVAL, 27, "unknown keyword"},
    {"group.name = \"high_response_time\" AND user = \"alice\"", OWL_EUNSUPPORTED, 1, "groups"},
    {"group.arn = \"arn:aws:xray:x\"", OWL_EUNSUPPORTED, 1, "groups"},
    {"json = #[{}]", OWL_EUNSUPPORTED, 1, "json"},
    {"ok AND first", OWL_EINVAL, 8, "'first' applies only inside rootcause"},
    {"service(\"a\") { last }", OWL_EINVAL, 16, "'last' applies only"},
    {"remote", OWL_EINVAL, 1, "'remote' applies only"},
    {"index > 5", OWL_EINVAL, 1, "'index' applies only"},
    {"coverage > 0.7", OWL_EINVAL, 1, "'coverage' applies only"},
    {"message = \"denied\"", OWL_EINVAL, 1, "'message' applies only"},
    {"ok = #[1]", OWL_EUNSUPPORTED, 6, "JSON values"},
};

Test(xfilter, malformed)
{
    char want[32];
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad *b = &bad_cases[i];
        owl_xf *f = (owl_xf *)1;
        owl_error err = {0};
        int rc = owl_xf_compile(b->expr, strlen(b->expr), &f, &err);
        cr_expect_eq(rc, b->code, "[%s]: rc %d, want %d (%s)", b->expr, rc, b->code, err.msg);
        cr_expect_null(f, "[%s]: *out not NULL after a refusal", b->expr);
        snprintf(want, sizeof want, "at position %zu", b->pos);
        cr_expect(strstr(err.msg, want) != NULL, "[%s]: \"%s\" does not say %s", b->expr,
                  err.msg, want);
        cr_expect(strstr(err.msg, b->says) != NULL, "[%s]: \"%s\" does not say \"%s\"", b->expr,
                  err.msg, b->says);
    }
}

Test(xfilter, limits)
{
    owl_xf *f = NULL;
    owl_error err = {0};
    /* length: 2000 bytes compile, 2001 do not */
    char buf[OWL_XF_MAX_LEN + 2];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, "ok", 2);
    cr_expect_eq(owl_xf_compile(buf, OWL_XF_MAX_LEN, &f, &err), OWL_OK, "%s", err.msg);
    owl_xf_free(f);
    cr_expect_eq(owl_xf_compile(buf, OWL_XF_MAX_LEN + 1, &f, &err), OWL_EINVAL);
    cr_expect(strstr(err.msg, "longer than 2000 bytes at position 2001") != NULL, "%s", err.msg);
    /* nesting: 64 levels compile, the 65th is refused where it opens */
    char deep[300];
    size_t n = 0;
    for (int i = 0; i < 63; i++)
        deep[n++] = '(';
    memcpy(deep + n, "ok", 2), n += 2;
    for (int i = 0; i < 63; i++)
        deep[n++] = ')';
    cr_expect_eq(owl_xf_compile(deep, n, &f, &err), OWL_OK, "%s", err.msg);
    cr_expect_eq(owl_xf_match(f, &traces[0]), 1);
    owl_xf_free(f);
    n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    cr_expect_eq(owl_xf_compile(deep, n, &f, &err), OWL_EINVAL);
    cr_expect(strstr(err.msg, "nesting deeper than 64 at position 65") != NULL, "%s", err.msg);
    n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '!';
    memcpy(deep + n, "ok", 2), n += 2;
    cr_expect_eq(owl_xf_compile(deep, n, &f, &err), OWL_EINVAL);
    cr_expect(strstr(err.msg, "nesting deeper than 64 at position 64") != NULL, "%s", err.msg);
    /* a NUL byte inside the text, and inside a string */
    cr_expect_eq(owl_xf_compile("ok\0", 3, &f, &err), OWL_EINVAL);
    cr_expect(strstr(err.msg, "NUL byte at position 3") != NULL, "%s", err.msg);
    cr_expect_eq(owl_xf_compile("user = \"a\0b\"", 12, &f, &err), OWL_EINVAL);
    cr_expect(strstr(err.msg, "NUL byte at position 10") != NULL, "%s", err.msg);
    cr_expect_eq(owl_xf_compile(NULL, 0, &f, &err), OWL_EINVAL);
    cr_expect_null(f);
    /* a long chain of implicit ANDs evaluates (recursion bounded by the length) */
    char chain[OWL_XF_MAX_LEN];
    n = 0;
    while (n + 3 <= sizeof chain)
        memcpy(chain + n, "ok ", 3), n += 3;
    cr_expect_eq(owl_xf_compile(chain, n, &f, &err), OWL_OK, "%s", err.msg);
    cr_expect_eq(owl_xf_match(f, &traces[0]), 1);
    cr_expect_eq(owl_xf_match(f, &traces[1]), 0);
    owl_xf_free(f);
    owl_xf_free(NULL);
}

/* Only the given bytes are read: a text that is not NUL-terminated compiles. */
Test(xfilter, length_bounded)
{
    const char text[] = "faultXYZ";
    owl_xf *f = NULL;
    cr_assert_eq(owl_xf_compile(text, 5, &f, NULL), OWL_OK);
    cr_expect_eq(owl_xf_match(f, &traces[0]), 0);
    owl_xf_free(f);
    cr_assert_eq(owl_xf_compile(text, 8, &f, NULL), OWL_EINVAL);
}

/* Parents forming a cycle, or pointing outside the trace, read as "no parent" or end the walk. */
Test(xfilter, bad_parents)
{
    owl_xf_span sp[3] = {
        {.service = "a", .kind = OWL_XF_SERVER, .start_ns = 5, .end_ns = 10, .parent = 1},
        {.service = "a", .kind = OWL_XF_CLIENT, .start_ns = 6, .end_ns = 9, .fault = 1,
         .parent = 0, .remote_service = "b"},
        {.service = "c", .kind = OWL_XF_SERVER, .start_ns = 1, .end_ns = 2, .parent = 99},
    };
    owl_xf_trace t = {sp, 3, -1, 0};
    const char *exprs[] = {"service(\"a\") { fault }", "service(\"b\") { fault }",
                           "edge(\"a\", \"b\")", "name = \"c\"", "root", "service() { ok }"};
    const int want[] = {0, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(exprs[i], strlen(exprs[i]), &f, NULL), OWL_OK);
        cr_expect_eq(owl_xf_match(f, &t), want[i], "[%s]", exprs[i]);
        owl_xf_free(f);
    }
    t.root = 7; /* out of range: found again */
    owl_xf *f = NULL;
    cr_assert_eq(owl_xf_compile("name = \"c\"", 10, &f, NULL), OWL_OK);
    cr_expect_eq(owl_xf_match(f, &t), 1);
    owl_xf_free(f);
}

/* ---- the pre-check on summaries ---- */

static int may(const char *expr, const owl_xf_summary *s)
{
    owl_xf *f = NULL;
    cr_assert_eq(owl_xf_compile(expr, strlen(expr), &f, NULL), OWL_OK, "%s", expr);
    int r = owl_xf_may_match(f, s);
    owl_xf_free(f);
    return r;
}

Test(xfilter, may_match_prunes)
{
    const char *svc[] = {"api", "db"};
    owl_xf_summary s = {.services = svc, .n_services = 2, .duration_ns = MS(3000),
                        .root_duration_ns = MS(2000), .any_error = 1};
    cr_expect_eq(may("service(\"api\")", &s), 1);
    cr_expect_eq(may("service(\"web\")", &s), 0);
    cr_expect_eq(may("!service(\"web\")", &s), 1);
    cr_expect_eq(may("service(\"api\") { fault }", &s), 0);
    cr_expect_eq(may("service(\"api\") { error }", &s), 1);
    cr_expect_eq(may("service(\"api\") { !fault }", &s), 1);
    cr_expect_eq(may("edge(\"api\", \"db\")", &s), 1);
    cr_expect_eq(may("edge(\"api\", \"web\")", &s), 0);
    cr_expect_eq(may("service(id(type: \"AWS::X\"))", &s), 1);
    cr_expect_eq(may("fault", &s), 0);
    cr_expect_eq(may("!fault", &s), 1);
    cr_expect_eq(may("fault = false", &s), 1);
    cr_expect_eq(may("throttle", &s), 0);
    cr_expect_eq(may("error", &s), 1);
    cr_expect_eq(may("partial", &s), 0);
    cr_expect_eq(may("!partial", &s), 1);
    cr_expect_eq(may("duration > 5", &s), 0);
    cr_expect_eq(may("duration >= 3", &s), 1);
    cr_expect_eq(may("NOT duration >= 3", &s), 0);
    cr_expect_eq(may("responsetime > 2", &s), 0);
    cr_expect_eq(may("responsetime = 2", &s), 1);
    cr_expect_eq(may("fault OR duration > 5", &s), 0);
    cr_expect_eq(may("fault OR annotation.x", &s), 1);
    cr_expect_eq(may("ok AND service(\"web\")", &s), 0);
    cr_expect_eq(may("rootcause.fault.service", &s), 0);
    cr_expect_eq(may("!rootcause.fault.service", &s), 1);
    cr_expect_eq(may("rootcause.throttle.entity { last }", &s), 0);
    cr_expect_eq(may("rootcause.error.service", &s), 1);
    cr_expect_eq(may("rootcause.error.service { name = \"api\" }", &s), 1);
    cr_expect_eq(may("rootcause.error.service { name = \"web\" }", &s), 0);
    cr_expect_eq(may("rootcause.error.service { !(name = \"web\") }", &s), 1);
    cr_expect_eq(may("rootcause.error.service { name = \"web\" OR last }", &s), 1);
    cr_expect_eq(may("rootcause.error.entity { name = \"web\" }", &s), 1); /* an operation */
    cr_expect_eq(may("rootcause.responsetime.service { name = \"db\" }", &s), 1);
    cr_expect_eq(may("rootcause.responsetime.service { name = \"web\" }", &s), 0);
    s.root_duration_ns = -1;
    cr_expect_eq(may("responsetime > 2", &s), 1);
    cr_expect_eq(may("rootcause.responsetime.service", &s), 0); /* no finished root */
    s.root_duration_ns = 0;
    cr_expect_eq(may("rootcause.responsetime.entity", &s), 0);
    s.duration_ns = -1;
    cr_expect_eq(may("duration >= 0", &s), 0);
}

/* Root causes on traces past the sizes kept on the C stack (64 spans here, 128 in
 * owl_critpath), and chains that end in a cycle. */
Test(xfilter, rootcause_large_and_cycles)
{
    enum { N = 1000 };
    static owl_xf_span sp[N];
    static char names[N][16];
    /* a root over N - 1 sequential calls to services s0 .. s9; s7's calls are slowest, and
     * call 500 (to s0) faulted inside s3's handler */
    sp[0] = (owl_xf_span){.service = "front", .name = "GET /", .kind = OWL_XF_SERVER,
                          .end_ns = 0, .parent = -1};
    int64_t at = 0;
    for (int i = 1; i < N; i++) {
        int64_t d = i % 10 == 7 ? 30 : 10;
        snprintf(names[i], sizeof names[i], "s%d", i % 10);
        sp[i] = (owl_xf_span){.service = "front", .name = "call", .kind = OWL_XF_CLIENT,
                              .start_ns = at, .end_ns = at + d, .parent = 0,
                              .remote_service = names[i]};
        at += d;
    }
    sp[0].end_ns = at;
    sp[500].fault = 1;
    owl_xf_trace t = {sp, N, -1, 0};
    const char *svc[16];
    owl_xf_summary sum;
    cr_assert_eq(owl_xf_summarize(&t, svc, 16, &sum, NULL), OWL_OK);
    static const struct {
        const char *expr;
        int want;
    } cases[] = {
        {"rootcause.responsetime.service { last and inferred and name = \"s7\" }", 1},
        {"rootcause.responsetime.service { first and name = \"front\" and index = 0 }", 1},
        {"rootcause.responsetime.entity { last and remote and coverage < 0.02 }", 1},
        {"rootcause.fault.service { last and inferred and name = \"s0\" }", 1},
        {"rootcause.fault.entity { index = 1 and last }", 1},
        {"rootcause.error.service", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(cases[i].expr, strlen(cases[i].expr), &f, NULL), OWL_OK);
        int got = owl_xf_match(f, &t);
        cr_expect_eq(got, cases[i].want, "[%s]", cases[i].expr);
        if (got)
            cr_expect(owl_xf_may_match(f, &sum), "[%s]: pre-check refused a match",
                      cases[i].expr);
        owl_xf_free(f);
    }
    /* 0 -> 1 -> 2 -> 1: the fault at 0 hangs off a cycle; 1, on it, reads as the top. */
    owl_xf_span cy[3] = {
        {.service = "x", .name = "a", .start_ns = 1, .end_ns = 2, .fault = 1, .parent = 1},
        {.service = "y", .name = "b", .start_ns = 1, .end_ns = 2, .parent = 2},
        {.service = "z", .name = "c", .start_ns = 1, .end_ns = 2, .parent = 1},
    };
    owl_xf_trace tc = {cy, 3, -1, 0};
    static const struct {
        const char *expr;
        int want;
    } ccases[] = {
        {"rootcause.fault.service { first and name = \"y\" }", 1},
        {"rootcause.fault.service { last and index = 1 and name = \"x\" }", 1},
        {"rootcause.fault.service { name = \"z\" }", 0},
        {"rootcause.fault.entity { first and name = \"b\" }", 1},
        {"rootcause.responsetime.service", 0}, /* no root: every span has a parent */
    };
    for (size_t i = 0; i < sizeof ccases / sizeof *ccases; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(ccases[i].expr, strlen(ccases[i].expr), &f, NULL), OWL_OK);
        cr_expect_eq(owl_xf_match(f, &tc), ccases[i].want, "[%s]", ccases[i].expr);
        owl_xf_free(f);
    }
}

Test(xfilter, summarize)
{
    const char *svc[4];
    owl_xf_summary s;
    cr_assert_eq(owl_xf_summarize(&traces[0], svc, 4, &s, NULL), OWL_OK);
    cr_expect_eq(s.n_services, 4); /* frontend, cart, orders-db, inventory */
    cr_expect_str_eq(svc[2], "orders-db");
    cr_expect_eq(s.duration_ns, MS(2500));
    cr_expect_eq(s.root_duration_ns, MS(2500));
    cr_expect(s.any_fault && !s.any_error && !s.any_throttle && !s.any_in_progress);
    cr_assert_eq(owl_xf_summarize(&traces[2], svc, 4, &s, NULL), OWL_OK);
    cr_expect_eq(s.duration_ns, MS(500));
    cr_expect_eq(s.root_duration_ns, -1);
    cr_expect(s.any_in_progress && s.any_error);
    owl_error err = {0};
    cr_expect_eq(owl_xf_summarize(&traces[0], svc, 3, &s, &err), OWL_ERANGE);
    cr_expect(strstr(err.msg, "more than 3 services") != NULL, "%s", err.msg);
    cr_assert_eq(owl_xf_summarize(&traces[3], svc, 4, &s, NULL), OWL_OK);
    cr_expect_eq(s.n_services, 0);
    cr_expect_eq(s.duration_ns, -1);
}

/* Compiling the same text twice gives the same answers (no hidden state). */
Test(xfilter, compile_twice)
{
    const char *e = "service(\"cart\") { fault } AND annotation.age > 29 OR throttle";
    owl_xf *a = NULL, *b = NULL;
    cr_assert_eq(owl_xf_compile(e, strlen(e), &a, NULL), OWL_OK);
    cr_assert_eq(owl_xf_compile(e, strlen(e), &b, NULL), OWL_OK);
    for (size_t t = 0; t < NTRACES; t++)
        cr_expect_eq(owl_xf_match(a, &traces[t]), owl_xf_match(b, &traces[t]));
    cr_expect_eq(owl_xf_match(a, &traces[0]), 1);
    cr_expect_eq(owl_xf_match(a, &traces[1]), 1);
    cr_expect_eq(owl_xf_match(a, &traces[2]), 0);
    owl_xf_free(a);
    owl_xf_free(b);
}

/* Times from the network may span the whole int64 range: durations saturate, never wrap. */
Test(xfilter, extreme_times)
{
    owl_xf_span sp[] = {{.service = "a", .kind = OWL_XF_SERVER, .start_ns = INT64_MIN,
                         .end_ns = INT64_MAX, .parent = -1}};
    owl_xf_trace t = {sp, 1, -1, 0};
    const char *exprs[] = {"duration > 9e9", "responsetime > 9e9", "duration < 0"};
    const int want[] = {1, 1, 0};
    for (size_t i = 0; i < 3; i++) {
        owl_xf *f = NULL;
        cr_assert_eq(owl_xf_compile(exprs[i], strlen(exprs[i]), &f, NULL), OWL_OK);
        cr_expect_eq(owl_xf_match(f, &t), want[i], "[%s]", exprs[i]);
        const char *svc[2];
        owl_xf_summary s;
        cr_assert_eq(owl_xf_summarize(&t, svc, 2, &s, NULL), OWL_OK);
        cr_expect_eq(s.duration_ns, INT64_MAX);
        cr_expect_eq(owl_xf_may_match(f, &s), want[i], "[%s]", exprs[i]);
        owl_xf_free(f);
    }
}

/* owl_xf_reads: which of the less common span fields an expression reads. */
Test(xfilter, reads_names_the_fields_an_expression_needs)
{
    static const struct {
        const char *x;
        unsigned want;
    } cases[] = {
        {"service(\"a\") AND duration > 1 AND fault", 0},
        {"edge(\"a\", \"b\") { responsetime > 1 }", 0},
        {"http.status = 500", OWL_XF_READS_HTTP},
        {"NOT http.url CONTAINS \"x\"", OWL_XF_READS_HTTP},
        {"rootcause.fault.exception { name = \"E\" }", OWL_XF_READS_EXCEPTIONS},
        {"rootcause.fault.entity { message = \"m\" }", OWL_XF_READS_EXCEPTIONS},
        {"rootcause.fault.service { name = \"s\" }", 0},
        {"annotation.k = \"v\"", OWL_XF_READS_ATTRS},
        {"user = \"bob\" OR http.method = \"GET\"", OWL_XF_READS_ATTRS | OWL_XF_READS_HTTP},
        {"service(id(name: \"a\", type: \"AWS::EC2::Instance\"))", OWL_XF_READS_ATTRS},
        {"availabilityzone = \"z\"", OWL_XF_READS_ATTRS},
        {"type = \"t\"", OWL_XF_READS_ATTRS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl_xf *f = NULL;
        owl_error err = {0};
        cr_assert_eq(owl_xf_compile(cases[i].x, strlen(cases[i].x), &f, &err), OWL_OK, "%s: %s",
                     cases[i].x, err.msg);
        cr_assert_eq(owl_xf_reads(f), cases[i].want, "%s: %u", cases[i].x, owl_xf_reads(f));
        owl_xf_free(f);
    }
    cr_assert_eq(owl_xf_reads(NULL), 0);
}

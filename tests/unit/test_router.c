/* test_router.c — route matching for every dispatch kind, parameters, form parsing and the
 * protocol-shaped errors (server/router.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "server/router.h"

static int h_ok(owl_call *c)
{
    (void)c;
    return 0;
}

static const owl_route routes[] = {
    {.method = "GET", .pattern = "/api/v1/keys", .action = "iam:ListKeys", .fn = h_ok},
    {.method = "POST", .pattern = "/api/v1/keys", .action = "iam:CreateKey", .fn = h_ok},
    {.method = "GET", .pattern = "/api/v1/keys/{id}", .action = "iam:GetKey", .fn = h_ok},
    {.method = "GET", .pattern = "/a/{x}/b/{y}", .action = "t:Two", .fn = h_ok},
    {.method = "POST", .pattern = "/TraceSegments", .action = "xray:PutTraceSegments",
     .fn = h_ok, .proto = OWL_PROTO_AWS_REST},
};
static const owl_aws_op ops[] = {
    {OWL_PROTO_AWS_QUERY, "sts", "GetCallerIdentity", "sts:GetCallerIdentity", h_ok},
    {OWL_PROTO_AWS_JSON, "logs", "Logs_20140328.CreateLogGroup", "logs:CreateLogGroup", h_ok},
    {OWL_PROTO_AWS_CBOR, "monitoring", "GraniteServiceVersion20100801/PutMetricData",
     "cloudwatch:PutMetricData", h_ok},
};
static const owl_route_table table = {routes, 5, ops, 3};

static owl_http_header hdrs[4];
static owl_http_req req;
static owl_http_resp resp;
static owl_call call;
static owl_router router;

static void setup_req(const char *method, const char *path, const char *query, const char *body)
{
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    memset(&call, 0, sizeof call);
    memset(&router, 0, sizeof router);
    owl_router_add(&router, &table);
    req.method = method;
    req.path = (char *)path;
    req.query = (char *)query;
    req.headers = hdrs;
    req.nheaders = 0;
    strcpy(req.request_id, "11111111-2222-4333-8444-555555555555");
    if (body)
        owl_buf_puts(&req.body, body);
    call.req = &req;
    call.resp = &resp;
}

static void add_header(char *name, char *value)
{
    hdrs[req.nheaders].name = name;
    hdrs[req.nheaders].value = value;
    req.nheaders++;
}

static void teardown_req(void)
{
    owl_call_cleanup(&call);
    owl_buf_free(&req.body);
    owl_buf_free(&resp.body);
    owl_buf_free(&resp.headers);
}

Test(router, native_paths_and_params)
{
    owl_match m;
    setup_req("GET", "/api/v1/keys/OWLABC%2Fx", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, NULL), OWL_OK);
    cr_assert_not_null(m.route);
    cr_assert_str_eq(m.action, "iam:GetKey");
    cr_assert_str_eq(owl_call_param(&call, "id"), "OWLABC/x");
    teardown_req();

    setup_req("POST", "/api/v1/keys/", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "iam:CreateKey");
    teardown_req();

    setup_req("GET", "/a/1/b/2", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(owl_call_param(&call, "x"), "1");
    cr_assert_str_eq(owl_call_param(&call, "y"), "2");
    teardown_req();

    setup_req("GET", "/a/1/b", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.route);
    cr_assert_eq(call.nparams, 0);
    teardown_req();

    setup_req("DELETE", "/api/v1/keys", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.route);
    cr_assert(m.method_mismatch);
    teardown_req();

    owl_error e;
    setup_req("GET", "/api/v1/keys/ab%zz", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, &e), OWL_EINVAL);
    cr_assert_eq(call.nparams, 0);
    teardown_req();

    setup_req("GET", "/api/v1/keys//", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.route);
    teardown_req();

    setup_req("HEAD", "/api/v1/keys", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "iam:ListKeys");
    teardown_req();

    setup_req("POST", "/TraceSegments", "", "{}");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_REST);
    teardown_req();
}

Test(router, aws_json_target)
{
    owl_match m;
    setup_req("POST", "/", "", "{}");
    add_header("x-amz-target", "Logs_20140328.CreateLogGroup");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_JSON);
    cr_assert_str_eq(m.action, "logs:CreateLogGroup");
    teardown_req();

    setup_req("POST", "/", "", "{}");
    add_header("x-amz-target", "Logs_20140328.Nope");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_JSON);
    cr_assert_null(m.op);
    cr_assert_str_eq(m.op_name, "Logs_20140328.Nope");
    teardown_req();
}

Test(router, aws_query_form)
{
    owl_match m;
    setup_req("POST", "/", "", "Action=GetCallerIdentity&Version=2011-06-15&X=a+b%21");
    add_header("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    add_header("authorization", "AWS4-HMAC-SHA256 Credential=K/20261121/us-east-1/sts/aws4_request, "
                                "SignedHeaders=host, Signature=00");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_QUERY);
    cr_assert_str_eq(m.action, "sts:GetCallerIdentity");
    cr_assert_str_eq(owl_call_form(&call, "X"), "a b!");
    teardown_req();

    /* signed for another service: no match */
    setup_req("POST", "/", "", "Action=GetCallerIdentity");
    add_header("content-type", "application/x-www-form-urlencoded");
    add_header("authorization", "AWS4-HMAC-SHA256 Credential=K/20261121/us-east-1/monitoring/"
                                "aws4_request, SignedHeaders=host, Signature=00");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.op);
    teardown_req();

    setup_req("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "sts:GetCallerIdentity");
    teardown_req();

    owl_error e;
    setup_req("POST", "/", "", "Action=Get%ZZ");
    add_header("content-type", "application/x-www-form-urlencoded");
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, &e), OWL_EINVAL);
    teardown_req();
}

Test(router, smithy_cbor_path)
{
    owl_match m;
    setup_req("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "", "");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_CBOR);
    cr_assert_str_eq(m.action, "cloudwatch:PutMetricData");
    teardown_req();
}

Test(router, query_param_decoding)
{
    char v[16];
    cr_assert_eq(owl_query_param("a=1&b=x%20y+z&c", "b", v, sizeof v), 1);
    cr_assert_str_eq(v, "x y z");
    cr_assert_eq(owl_query_param("a=1&c", "c", v, sizeof v), 1);
    cr_assert_str_eq(v, "");
    cr_assert_eq(owl_query_param("a=1", "b", v, sizeof v), 0);
    cr_assert_eq(owl_query_param("a=12345678901234567890", "a", v, sizeof v), -1);
    cr_assert_eq(owl_query_param("a=%G1", "a", v, sizeof v), -1);
    char out[8];
    cr_assert_eq(owl_percent_decode("%4", 2, out, 0), -1);
    cr_assert_eq(owl_percent_decode("%41", 3, out, 0), 1);
}

Test(router, errors_per_protocol)
{
    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_QUERY;
    owl_call_error(&call, 403, "SignatureDoesNotMatch", "bad <sig>");
    cr_assert_eq(resp.status, 403);
    cr_assert(strstr(resp.body.data, "<Code>SignatureDoesNotMatch</Code>"));
    cr_assert(strstr(resp.body.data, "bad &lt;sig&gt;"));
    cr_assert(strstr(resp.body.data, "<Type>Sender</Type>"));
    cr_assert_str_eq(call.error_code, "SignatureDoesNotMatch");
    teardown_req();

    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_JSON;
    owl_call_error(&call, 400, "UnknownOperationException", "nope");
    cr_assert_str_eq(resp.body.data,
                     "{\"__type\":\"UnknownOperationException\",\"message\":\"nope\"}");
    cr_assert(strstr(resp.headers.data, "x-amzn-ErrorType: UnknownOperationException"));
    teardown_req();

    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_CBOR;
    owl_call_error(&call, 400, "X", "m");
    const unsigned char want[] = {0xa2, 0x66, '_', '_', 't', 'y', 'p', 'e', 0x61, 'X',
                                  0x67, 'm',  'e', 's', 's', 'a', 'g', 'e', 0x61, 'm'};
    cr_assert_eq(resp.body.len, sizeof want);
    cr_assert_eq(memcmp(resp.body.data, want, sizeof want), 0);
    teardown_req();

    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_NATIVE;
    owl_call_error_from(&call, OWL_ENOTFOUND, "no such key");
    cr_assert_eq(resp.status, 404);
    cr_assert(strstr(resp.body.data, "\"code\":\"ResourceNotFound\""));
    teardown_req();
}

Test(router, call_limit)
{
    size_t n = 0;
    setup_req("GET", "/x", "", NULL);
    cr_assert_eq(owl_call_limit(&call, "", 0, 100, 1000, &n), OWL_OK);
    cr_assert_eq(n, 100);
    cr_assert_eq(owl_call_limit(&call, "1000", 1, 100, 1000, &n), OWL_OK);
    cr_assert_eq(n, 1000);
    const char *bad[] = {"0", "1001", "-5", "12x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(owl_call_limit(&call, bad[i], 1, 100, 1000, &n), OWL_EINVAL, "%s", bad[i]);
        cr_assert_eq(resp.status, 400);
        cr_assert(strstr(resp.body.data, "limit must be 1 to 1000") != NULL);
    }
    teardown_req();
}

/* test_router.c — route matching for every dispatch kind (raw routes with parameters, and
 * the action layer's services through ingest/), and the protocol-shaped errors
 * (server/router.c). The codecs themselves are tested in test_ingest.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "server/router.h"

static int h_ok(owl_call *c)
{
    (void)c;
    return 0;
}

static int a_ok(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)ctx, (void)in;
    BSON_APPEND_UTF8(out, "ok", "yes");
    return 0;
}

static const owl_route routes[] = {
    {.method = "GET", .pattern = "/healthz", .action = "owl:Healthz", .fn = h_ok},
    {.method = "GET", .pattern = "/a/{x}/b/{y}", .action = "t:Two", .fn = h_ok},
};
static const owl_aws_op key_ops[] = {
    {.name = "ListKeys", .action = "iam:ListKeys", .fn = a_ok, .method = "GET",
     .uri = "/api/v1/keys"},
    {.name = "CreateKey", .action = "iam:CreateKey", .fn = a_ok, .method = "POST",
     .uri = "/api/v1/keys"},
    {.name = "GetKey", .action = "iam:GetKey", .fn = a_ok, .method = "GET",
     .uri = "/api/v1/keys/{id}"},
};
static const owl_aws_service native = {.name = "owl",
                                       .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
                                       .ops = key_ops, .nops = 3};
static const owl_aws_op xray_ops[] = {
    {.name = "PutTraceSegments", .action = "xray:PutTraceSegments", .fn = a_ok,
     .method = "POST", .uri = "/TraceSegments"},
};
static const owl_aws_service xray = {.name = "xray", .signing_name = "xray",
                                     .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_REST_JSON),
                                     .ops = xray_ops, .nops = 1};
static const owl_aws_op sts_ops[] = {
    {.name = "GetCallerIdentity", .action = "sts:GetCallerIdentity", .fn = a_ok},
};
static const owl_aws_service sts = {.name = "sts", .signing_name = "sts",
                                    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_QUERY),
                                    .xml_ns = "https://sts.amazonaws.com/doc/2011-06-15/",
                                    .ops = sts_ops, .nops = 1};
static const owl_aws_op logs_ops[] = {
    {.name = "CreateLogGroup", .action = "logs:CreateLogGroup", .fn = a_ok},
};
static const owl_aws_service logs = {.name = "logs", .signing_name = "logs",
                                     .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_JSON),
                                     .json_prefix = "Logs_20140328", .json_version = "1.1",
                                     .ops = logs_ops, .nops = 1};
static const owl_aws_op cw_ops[] = {
    {.name = "PutMetricData", .action = "cloudwatch:PutMetricData", .fn = a_ok},
};
static const owl_aws_service cw = {
    .name = "cloudwatch", .signing_name = "monitoring",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_JSON) | OWL_AWS_PROTO_BIT(OWL_AWS_CBOR) |
                 OWL_AWS_PROTO_BIT(OWL_AWS_QUERY),
    .json_prefix = "GraniteServiceVersion20100801", .json_version = "1.0",
    .cbor_service = "GraniteServiceVersion20100801",
    .xml_ns = "http://monitoring.amazonaws.com/doc/2010-08-01/", .query_compatible = 1,
    .ops = cw_ops, .nops = 1};
static const owl_aws_service *const services[] = {&native, &xray, &sts, &logs, &cw};
static const owl_route_table table = {routes, 2, services, 5};

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

Test(router, raw_routes_and_params)
{
    owl_match m;
    setup_req("GET", "/a/1/b/x%2Fy", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, NULL), OWL_OK);
    cr_assert_not_null(m.route);
    cr_assert_str_eq(m.action, "t:Two");
    cr_assert_str_eq(owl_call_param(&call, "x"), "1");
    cr_assert_str_eq(owl_call_param(&call, "y"), "x/y");
    teardown_req();

    setup_req("GET", "/a/1/b", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.route);
    cr_assert_null(m.op);
    cr_assert_eq(call.nparams, 0);
    teardown_req();

    owl_error e;
    setup_req("GET", "/a/%zz/b/2", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, &e), OWL_EINVAL);
    cr_assert_eq(call.nparams, 0);
    teardown_req();

    /* issue 9, point 8: %00 in a path parameter is refused, not cut at */
    setup_req("GET", "/a/1%00.json/b/2", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, &e), OWL_EINVAL);
    cr_assert_eq(call.nparams, 0);
    teardown_req();

    setup_req("HEAD", "/healthz", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "owl:Healthz");
    teardown_req();

    setup_req("POST", "/healthz", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.route);
    cr_assert(m.method_mismatch);
    teardown_req();
}

Test(router, native_service_rows)
{
    owl_match m;
    setup_req("GET", "/api/v1/keys/OWLABC%2Fx", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, NULL), OWL_OK);
    cr_assert_null(m.route);
    cr_assert_not_null(m.op);
    cr_assert_eq(m.proto, OWL_PROTO_NATIVE);
    cr_assert_str_eq(m.action, "iam:GetKey");
    cr_assert_eq(call.svc, &native);
    owl_router_serve(&call, &m);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(resp.body.data, "{\"ok\":\"yes\"}");
    teardown_req();

    setup_req("POST", "/api/v1/keys/", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "iam:CreateKey");
    teardown_req();

    setup_req("DELETE", "/api/v1/keys", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.op);
    cr_assert(m.method_mismatch);
    teardown_req();

    setup_req("GET", "/api/v1/keys//", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_null(m.op);
    teardown_req();

    setup_req("HEAD", "/api/v1/keys", "", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "iam:ListKeys");
    teardown_req();

    /* a bad escape in a label is the row's 400, in owl's shape */
    setup_req("GET", "/api/v1/keys/ab%zz", "", NULL);
    cr_assert_eq(owl_router_match(&router, &req, &call, &m, NULL), OWL_OK);
    cr_assert_not_null(m.op);
    owl_router_serve(&call, &m);
    cr_assert_eq(resp.status, 400);
    cr_assert(strstr(resp.body.data, "\"code\":\"InvalidParameter\""));
    cr_assert_str_eq(call.error_code, "InvalidParameter");
    teardown_req();

    /* a body that is not JSON */
    setup_req("POST", "/api/v1/keys", "", "{\"policy\":[");
    owl_router_match(&router, &req, &call, &m, NULL);
    owl_router_serve(&call, &m);
    cr_assert_eq(resp.status, 400);
    cr_assert_str_eq(call.error_code, "InvalidParameter");
    teardown_req();

    setup_req("POST", "/TraceSegments", "", "{}");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_REST);
    cr_assert_str_eq(m.action, "xray:PutTraceSegments");
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
    owl_router_serve(&call, &m);
    cr_assert_str_eq(resp.content_type, "application/x-amz-json-1.1");
    teardown_req();

    setup_req("POST", "/", "", "{}");
    add_header("x-amz-target", "Logs_20140328.Nope");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_JSON);
    cr_assert_null(m.op);
    cr_assert_eq(call.svc, &logs);
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
    owl_router_serve(&call, &m);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(resp.content_type, "text/xml");
    cr_assert(strstr(resp.body.data, "<GetCallerIdentityResult><ok>yes</ok>"));
    teardown_req();

    /* signed for another service: no match */
    setup_req("POST", "/", "", "Action=GetCallerIdentity");
    add_header("content-type", "application/x-www-form-urlencoded");
    add_header("authorization", "AWS4-HMAC-SHA256 Credential=K/20261121/us-east-1/monitoring/"
                                "aws4_request, SignedHeaders=host, Signature=00");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_QUERY);
    cr_assert_null(m.op);
    teardown_req();

    setup_req("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15", NULL);
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_str_eq(m.action, "sts:GetCallerIdentity");
    teardown_req();

    /* a bad escape elsewhere in the form: the op's 400 MalformedQueryString, in XML */
    setup_req("POST", "/", "", "Action=GetCallerIdentity&X=%ZZ");
    add_header("content-type", "application/x-www-form-urlencoded");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_not_null(m.op);
    owl_router_serve(&call, &m);
    cr_assert_eq(resp.status, 400);
    cr_assert(strstr(resp.body.data, "<Code>MalformedQueryString</Code>"));
    teardown_req();

    /* an Action that does not decode is no action */
    setup_req("POST", "/", "", "Action=Get%ZZ");
    add_header("content-type", "application/x-www-form-urlencoded");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_QUERY);
    cr_assert_null(m.op);
    cr_assert_str_eq(m.op_name, "");
    teardown_req();
}

Test(router, smithy_cbor_path)
{
    owl_match m;
    setup_req("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "", "");
    owl_router_match(&router, &req, &call, &m, NULL);
    cr_assert_eq(m.proto, OWL_PROTO_AWS_CBOR);
    cr_assert_str_eq(m.action, "cloudwatch:PutMetricData");
    owl_router_serve(&call, &m);
    cr_assert_str_eq(resp.content_type, "application/cbor");
    cr_assert(strstr(resp.headers.data, "smithy-protocol: rpc-v2-cbor\r\n"));
    const unsigned char want[] = {0xa1, 0x62, 'o', 'k', 0x63, 'y', 'e', 's'};
    cr_assert_eq(resp.body.len, sizeof want);
    cr_assert_eq(memcmp(resp.body.data, want, sizeof want), 0);
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
    cr_assert_eq(owl_aws_percent_decode("%4", 2, out, 0), -1);
    cr_assert_eq(owl_aws_percent_decode("%41", 3, out, 0), 1);
    /* issue 9, point 8: %00 and a repeated name are malformed, never truncated or resolved */
    cr_assert_eq(owl_query_param("tenant=123%00x", "tenant", v, sizeof v), -1);
    cr_assert_eq(owl_query_param("a%00=1", "a", v, sizeof v), 0, "a name with %00 is no name");
    cr_assert_eq(owl_query_param("limit=1&limit=2", "limit", v, sizeof v), -1);
    cr_assert_eq(owl_query_param("limit=1&lim%69t=1", "limit", v, sizeof v), -1);
    cr_assert_eq(owl_query_param("limit=1&other=1&other=2", "limit", v, sizeof v), 1,
                 "a repeated other parameter is that parameter's reader's business");
    cr_assert_eq(owl_aws_percent_decode("%00", 3, out, 0), -1);
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

    /* the service's JSON version decides the content type (1.0 for CloudWatch), and an
     * awsQueryCompatible service adds the query error code */
    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_JSON;
    call.svc = &cw;
    owl_call_error(&call, 400, "InvalidParameterValue", "bad");
    cr_assert_str_eq(resp.content_type, "application/x-amz-json-1.0");
    cr_assert(strstr(resp.headers.data, "x-amzn-query-error: InvalidParameterValue;Sender\r\n"));
    teardown_req();

    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_JSON;
    call.svc = &logs;
    owl_call_error(&call, 400, "X", "m");
    cr_assert_str_eq(resp.content_type, "application/x-amz-json-1.1");
    cr_assert_null(strstr(resp.headers.data, "x-amzn-query-error"));
    teardown_req();

    /* an unknown JSON service: the request's own content type */
    setup_req("GET", "/x", "", NULL);
    add_header("content-type", "application/x-amz-json-1.0");
    call.proto = OWL_PROTO_AWS_JSON;
    owl_call_error(&call, 400, "X", "m");
    cr_assert_str_eq(resp.content_type, "application/x-amz-json-1.0");
    teardown_req();

    setup_req("GET", "/x", "", NULL);
    call.proto = OWL_PROTO_AWS_QUERY;
    owl_call_error_from(&call, OWL_EAGAIN, "busy");
    cr_assert_eq(resp.status, 503);
    cr_assert(strstr(resp.body.data, "<Type>Receiver</Type><Code>ServiceUnavailable</Code>"));
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

Test(router, page_limit)
{
    bson_t in = BSON_INITIALIZER;
    owl_aws_ctx ctx = {.proto = OWL_AWS_NATIVE};
    size_t n = 0;
    cr_assert_eq(owl_aws_page_limit(&ctx, &in, 100, 1000, &n), OWL_OK);
    cr_assert_eq(n, 100);
    BSON_APPEND_UTF8(&in, "limit", "1000");
    cr_assert_eq(owl_aws_page_limit(&ctx, &in, 100, 1000, &n), OWL_OK);
    cr_assert_eq(n, 1000);
    bson_destroy(&in);
    const char *bad[] = {"0", "1001", "-5", "12x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bson_t b = BSON_INITIALIZER;
        owl_aws_ctx c = {.proto = OWL_AWS_NATIVE};
        BSON_APPEND_UTF8(&b, "limit", bad[i]);
        cr_assert_eq(owl_aws_page_limit(&c, &b, 100, 1000, &n), OWL_EINVAL, "%s", bad[i]);
        cr_assert_eq(c.status, 400);
        cr_assert_str_eq(c.code, "InvalidParameter");
        cr_assert_str_eq(c.message, "limit must be 1 to 1000");
        bson_destroy(&b);
    }
}

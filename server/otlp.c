/* otlp.c — POST /v1/metrics, OTLP/HTTP's metrics export: protobuf or JSON in, the answer in
 * the request's encoding. OTLP's error rules: 400 with a google.rpc.Status for a body that
 * is not a request (clients do not retry), 415 for another Content-Type, 500/503 for store
 * failures (clients retry); refused points are a 200 with partial_success. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

enum owl_otlp_encoding owl_otlp_encoding_of(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = strcspn(ct, "; \t");
    if (n == 22 && strncasecmp(ct, "application/x-protobuf", n) == 0)
        return OWL_OTLP_PROTOBUF;
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
        return OWL_OTLP_JSON;
    return 0;
}

const char *owl_otlp_media_type(enum owl_otlp_encoding enc)
{
    return enc == OWL_OTLP_JSON ? "application/json" : "application/x-protobuf";
}

int owl_otlp_reply_status(owl_call *call, enum owl_otlp_encoding enc, int http, int code,
                          const char *label, const char *message)
{
    owl_http_resp *resp = call->resp;
    snprintf(call->error_code, sizeof call->error_code, "%s", label);
    owl_buf_reset(&resp->body);
    resp->status = http;
    resp->content_type = owl_otlp_media_type(enc);
    return owl_otlp_status(enc, code, message, &resp->body);
}

static int export_metrics(owl_call *call)
{
    owl_http_req *req = call->req;
    owl_http_resp *resp = call->resp;
    owl_otlp_batch batch = {0};
    owl_error err = {0};
    int rc;
    enum owl_otlp_encoding enc = owl_otlp_encoding_of(owl_http_req_header(req, "content-type"));
    snprintf(call->resource, sizeof call->resource, "tenant/%s/otlp/metrics",
             call->principal->tenant);
    if (!enc) {
        /* the client's encoding is unknown: answer in JSON, the readable one */
        rc = owl_otlp_reply_status(call, OWL_OTLP_JSON, 415, OWL_RPC_INVALID_ARGUMENT,
                                   "UnsupportedMediaType",
                                   "Content-Type must be application/x-protobuf or application/json");
        goto out;
    }
    if (!call->srv->metrics) {
        rc = owl_otlp_reply_status(call, enc, 503, OWL_RPC_UNAVAILABLE, "ServiceUnavailable",
                                   "the metrics module is not open");
        goto out;
    }
    rc = owl_otlp_metrics_ingest(call->srv->metrics, call->principal->tenant, enc,
                                 req->body.data, req->body.len, owl_now_ms(), &batch, &err);
    if (rc == OWL_EINVAL) {
        owl_otlp_reply_status(call, enc, 400, OWL_RPC_INVALID_ARGUMENT, "BadRequest",
                              err.msg);
        goto out;
    }
    if (rc != OWL_OK) {
        /* a full disk or an I/O error: retryable as OTLP defines it */
        owl_otlp_reply_status(call, enc, rc == OWL_ENOSPC ? 507 : 503,
                              rc == OWL_ENOSPC ? OWL_RPC_UNAVAILABLE : OWL_RPC_INTERNAL,
                              rc == OWL_ENOSPC ? "InsufficientStorage" : "StoreUnavailable",
                              err.msg[0] ? err.msg : owl_strerror(rc));
        if (rc != OWL_ENOSPC)
            resp->status = rc == OWL_ENOMEM ? 503 : 500;
        goto out;
    }
    resp->status = 200;
    resp->content_type = owl_otlp_media_type(enc);
    owl_buf_reset(&resp->body);
    rc = owl_otlp_metrics_response(enc, batch.rejected, batch.message, &resp->body);
out:
    owl_otlp_batch_free(&batch);
    return rc;
}

static const owl_route otlp_routes[] = {
    {.method = "POST", .pattern = "/v1/metrics", .action = "cloudwatch:PutMetricData",
     .fn = export_metrics},
};

const owl_route_table owl_otlp_routes = {otlp_routes, OWL_ARRAY_LEN(otlp_routes), NULL, 0};

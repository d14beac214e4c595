/* xray.c — AWS X-Ray's API in its REST-JSON protocol (docs/api/xray.md), so `aws xray` and
 * the SDKs work against owld:
 *   PutTraceSegments   POST /TraceSegments   segment documents in (xray.c decodes them)
 *   BatchGetTraces     POST /Traces          traces by id as segment documents (xray_render.c)
 *   GetTraceSummaries  POST /TraceSummaries  summaries of a time range, FilterExpression, pages
 *   GetServiceGraph    POST /ServiceGraph    the service map of a time range (servicemap.c's)
 *   GetTraceGraph      POST /TraceGraph      the service map of given traces
 * All of them go through the traces module (ingest/traces.c), as OTLP and Zipkin spans do. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/traceid.h"
#include "server/server.h"

#define PUT_MAX_SPANS 100000  /* segments and subsegments of one PutTraceSegments */
#define BATCH_MAX_IDS 5       /* X-Ray's limit of TraceIds per BatchGetTraces */
#define SUMMARY_PAGE 100      /* summaries per GetTraceSummaries page */
#define MAX_RANGE_S (24 * 3600) /* StartTime..EndTime of one GetTraceSummaries */

static owl_call *call_of(owl_aws_ctx *ctx)
{
    return ctx->ud;
}

static const char *tenant_of(owl_aws_ctx *ctx)
{
    return call_of(ctx)->principal->tenant;
}

static owl_traces *traces_of(owl_aws_ctx *ctx)
{
    return call_of(ctx)->srv->traces;
}

static int store_fail(owl_aws_ctx *ctx, int rc, const char *msg)
{
    return owl_aws_fail(ctx, rc == OWL_ENOSPC || rc == OWL_EIO ? OWL_AWS_ERR_ServiceUnavailable
                                                               : OWL_AWS_ERR_InternalFailure,
                        "%s", msg);
}

/* ---- PutTraceSegments ---- */

static int put_trace_segments(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)in;
    owl_xray_decoded d = {0};
    owl_error err = {0};
    snprintf(call_of(ctx)->resource, sizeof call_of(ctx)->resource, "tenant/%s/xray/segments",
             tenant_of(ctx));
    int rc = owl_xray_decode_docs(ctx->rq->body, ctx->rq->body_len, PUT_MAX_SPANS, &d, &err);
    if (rc == OWL_EINVAL || rc == OWL_ETOOBIG)
        rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s", err.msg);
    else if (rc != OWL_OK)
        rc = store_fail(ctx, rc, err.msg);
    else if ((rc = owl_traces_put(traces_of(ctx), tenant_of(ctx), d.spans.spans, d.spans.n,
                                  NULL, &err)) != OWL_OK)
        rc = rc == OWL_EINVAL ? owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s",
                                             err.msg)
                              : store_fail(ctx, rc, err.msg);
    if (rc == OWL_OK) {
        bson_t arr, e;
        char k[16];
        const char *key;
        BSON_APPEND_ARRAY_BEGIN(out, "UnprocessedTraceSegments", &arr);
        size_t nk = 0;
        for (size_t i = 0; i < d.spans.rejected; i++) {
            const owl_xray_unprocessed *u = &d.unprocessed[i];
            bson_uint32_to_string((uint32_t)nk++, &key, k, sizeof k);
            bson_append_document_begin(&arr, key, -1, &e);
            if (u->id.n)
                bson_append_utf8(&e, "Id", 2, u->id.p, (int)u->id.n);
            BSON_APPEND_UTF8(&e, "ErrorCode", u->error_code);
            bson_append_utf8(&e, "Message", 7, u->message.n ? u->message.p : "",
                             (int)u->message.n);
            bson_append_document_end(&arr, &e);
        }
        /* documents the store would never return (started before the retention) were left
         * out by the put: each is named by its top span (one whose parent is not also too
         * old in this request) */
        int days;
        int64_t oldest = owl_traces_oldest_ns(traces_of(ctx), &days);
        for (size_t i = 0; i < d.spans.n; i++) {
            const owl_span *s = &d.spans.spans[i];
            if (s->start_ns >= oldest)
                continue;
            int top = 1;
            for (size_t j = 0; j < d.spans.n && top; j++)
                top = !(d.spans.spans[j].start_ns < oldest &&
                        !memcmp(d.spans.spans[j].span_id, s->parent_id, 8) &&
                        !memcmp(d.spans.spans[j].trace_id, s->trace_id, 16));
            if (!top)
                continue;
            char id[OWL_SPANID_HEX_SIZE];
            owl_traceid_span_to_hex(s->span_id, id);
            bson_uint32_to_string((uint32_t)nk++, &key, k, sizeof k);
            bson_append_document_begin(&arr, key, -1, &e);
            BSON_APPEND_UTF8(&e, "Id", id);
            BSON_APPEND_UTF8(&e, "ErrorCode", "SegmentTooOld");
            char msg[96];
            snprintf(msg, sizeof msg, "started before the trace retention (%d days): not kept",
                     days);
            BSON_APPEND_UTF8(&e, "Message", msg);
            bson_append_document_end(&arr, &e);
        }
        bson_append_array_end(out, &arr);
    }
    owl_xray_decoded_free(&d);
    return rc;
}

/* ---- BatchGetTraces ---- */

static int batch_get_traces(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    bson_iter_t it;
    int rc = owl_aws_get_list(ctx, in, "TraceIds", &it);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "TraceIds is required");
    if (rc != OWL_OK)
        return rc;
    const char *ids[BATCH_MAX_IDS];
    size_t nids = 0;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_UTF8(&it))
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                                "TraceIds must be strings");
        if (nids == BATCH_MAX_IDS)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                                "at most %d TraceIds per request", BATCH_MAX_IDS);
        ids[nids++] = bson_iter_utf8(&it, NULL);
    }
    snprintf(call_of(ctx)->resource, sizeof call_of(ctx)->resource, "tenant/%s/xray/traces",
             tenant_of(ctx));
    bson_t traces, unproc;
    BSON_APPEND_ARRAY_BEGIN(out, "Traces", &traces);
    size_t nt = 0, nu = 0;
    const char *missing[BATCH_MAX_IDS];
    owl_buf docs = OWL_BUF_INIT;
    rc = OWL_OK;
    for (size_t i = 0; i < nids && rc == OWL_OK; i++) {
        uint8_t id[16];
        owl_error err = {0};
        owl_trace t = {0};
        if (owl_traceid_parse(ids[i], strlen(ids[i]), id, &err) != OWL_OK) {
            missing[nu++] = ids[i]; /* X-Ray lists ids it cannot read as unprocessed */
            continue;
        }
        int g = owl_traces_get(traces_of(ctx), tenant_of(ctx), id, &t, &err);
        if (g == OWL_ENOTFOUND) {
            missing[nu++] = ids[i];
            owl_trace_free(&t);
            continue;
        }
        owl_xray_doc *d = NULL;
        size_t nd = 0;
        owl_buf_reset(&docs);
        if (g != OWL_OK || owl_xray_render(&t, &docs, &d, &nd) != OWL_OK) {
            rc = g != OWL_OK ? store_fail(ctx, g, err.msg)
                             : owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
            owl_trace_free(&t);
            free(d);
            break;
        }
        char k[16], xr[OWL_TRACEID_XRAY_SIZE];
        const char *key;
        bson_t tr, segs, seg;
        bson_uint32_to_string((uint32_t)nt++, &key, k, sizeof k);
        bson_append_document_begin(&traces, key, -1, &tr);
        owl_traceid_to_xray(t.id, xr);
        BSON_APPEND_UTF8(&tr, "Id", xr);
        BSON_APPEND_DOUBLE(&tr, "Duration", (double)(t.end_ns - t.start_ns) / 1e9);
        BSON_APPEND_BOOL(&tr, "LimitExceeded", t.truncated != 0);
        BSON_APPEND_ARRAY_BEGIN(&tr, "Segments", &segs);
        for (size_t s = 0; s < nd; s++) {
            bson_uint32_to_string((uint32_t)s, &key, k, sizeof k);
            bson_append_document_begin(&segs, key, -1, &seg);
            BSON_APPEND_UTF8(&seg, "Id", d[s].id);
            bson_append_utf8(&seg, "Document", 8, docs.data + d[s].off, (int)d[s].len);
            bson_append_document_end(&segs, &seg);
        }
        bson_append_array_end(&tr, &segs);
        bson_append_document_end(&traces, &tr);
        free(d);
        owl_trace_free(&t);
    }
    owl_buf_free(&docs);
    bson_append_array_end(out, &traces);
    if (rc != OWL_OK)
        return rc;
    BSON_APPEND_ARRAY_BEGIN(out, "UnprocessedTraceIds", &unproc);
    for (size_t i = 0; i < nu; i++) {
        char k[16];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
        bson_append_utf8(&unproc, key, -1, missing[i], -1);
    }
    bson_append_array_end(out, &unproc);
    return OWL_OK;
}

/* ---- GetTraceSummaries ---- */

static void service_id(bson_t *parent, const char *key, owl_bytes name)
{
    bson_t sid, names;
    bson_append_document_begin(parent, key, -1, &sid);
    bson_append_utf8(&sid, "Name", 4, name.n ? name.p : "", (int)name.n);
    BSON_APPEND_ARRAY_BEGIN(&sid, "Names", &names);
    bson_append_utf8(&names, "0", 1, name.n ? name.p : "", (int)name.n);
    bson_append_array_end(&sid, &names);
    bson_append_document_end(parent, &sid);
}

/* The request's StartTime and EndTime (both required, end after start, at most max_ms
 * apart, which `what` names), or the protocol's error answered. */
static int time_range(owl_aws_ctx *ctx, const bson_t *in, int64_t max_ms, const char *what,
                      int64_t *start_ms, int64_t *end_ms)
{
    int rc;
    if ((rc = owl_aws_get_time_ms(ctx, in, "StartTime", start_ms)) == OWL_ENOTFOUND ||
        (rc == OWL_OK &&
         (rc = owl_aws_get_time_ms(ctx, in, "EndTime", end_ms)) == OWL_ENOTFOUND))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "StartTime and EndTime are required");
    if (rc != OWL_OK)
        return rc;
    if (*end_ms <= *start_ms)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "EndTime must be after StartTime");
    if (*end_ms - *start_ms > max_ms)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "the time range may be at most %s", what);
    return OWL_OK;
}

static int get_trace_summaries(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    int64_t start_ms, end_ms;
    int rc = time_range(ctx, in, (int64_t)MAX_RANGE_S * 1000, "24 hours", &start_ms, &end_ms);
    if (rc != OWL_OK)
        return rc;
    const char *trt = NULL, *fx = NULL, *token = NULL;
    size_t n;
    if (owl_aws_get_str(ctx, in, "TimeRangeType", &trt, &n) == OWL_EINVAL ||
        owl_aws_get_str(ctx, in, "FilterExpression", &fx, &n) == OWL_EINVAL ||
        owl_aws_get_str(ctx, in, "NextToken", &token, &n) == OWL_EINVAL)
        return OWL_EINVAL;
    if (trt && strcmp(trt, "TraceId") && strcmp(trt, "Event") && strcmp(trt, "Service"))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "TimeRangeType must be TraceId, Event or Service");
    owl_xf *f = NULL;
    owl_error err = {0};
    if (fx && *fx && owl_xf_compile(fx, strlen(fx), &f, &err) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s", err.msg);
    snprintf(call_of(ctx)->resource, sizeof call_of(ctx)->resource, "tenant/%s/xray/summaries",
             tenant_of(ctx));
    owl_trace_query q = {
        .start_ns = start_ms * 1000000,
        .end_ns = end_ms * 1000000,
        .min_duration_ns = -1,
        .max_duration_ns = -1,
        .status = -1,
        .filter = f,
        .limit = SUMMARY_PAGE,
        .next_token = token,
    };
    owl_trace_page p = {0};
    rc = owl_traces_search(traces_of(ctx), tenant_of(ctx), &q, &p, &err);
    owl_xf_free(f);
    if (rc != OWL_OK) {
        owl_trace_page_free(&p);
        return rc == OWL_EINVAL
                   ? owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s", err.msg)
                   : store_fail(ctx, rc, err.msg);
    }
    bson_t list, s, http, sids, ann, users;
    BSON_APPEND_ARRAY_BEGIN(out, "TraceSummaries", &list);
    for (size_t i = 0; i < p.n; i++) {
        const owl_trace_summary *x = &p.items[i];
        char k[16], xr[OWL_TRACEID_XRAY_SIZE];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
        bson_append_document_begin(&list, key, -1, &s);
        owl_traceid_to_xray(x->id, xr);
        BSON_APPEND_UTF8(&s, "Id", xr);
        BSON_APPEND_DOUBLE(&s, "StartTime", (double)x->start_ns / 1e9);
        BSON_APPEND_DOUBLE(&s, "Duration", (double)x->duration_ns / 1e9);
        if (x->root_duration_ns >= 0)
            BSON_APPEND_DOUBLE(&s, "ResponseTime", (double)x->root_duration_ns / 1e9);
        BSON_APPEND_BOOL(&s, "HasFault", x->fault);
        BSON_APPEND_BOOL(&s, "HasError", x->error);
        BSON_APPEND_BOOL(&s, "HasThrottle", x->throttle);
        BSON_APPEND_BOOL(&s, "IsPartial", x->partial);
        BSON_APPEND_DOCUMENT_BEGIN(&s, "Http", &http);
        if (x->url.n)
            bson_append_utf8(&http, "HttpURL", -1, x->url.p, (int)x->url.n);
        if (x->http_status)
            BSON_APPEND_INT32(&http, "HttpStatus", x->http_status);
        if (x->http_method.n)
            bson_append_utf8(&http, "HttpMethod", -1, x->http_method.p, (int)x->http_method.n);
        if (x->user_agent.n)
            bson_append_utf8(&http, "UserAgent", -1, x->user_agent.p, (int)x->user_agent.n);
        if (x->client_ip.n)
            bson_append_utf8(&http, "ClientIp", -1, x->client_ip.p, (int)x->client_ip.n);
        bson_append_document_end(&s, &http);
        BSON_APPEND_DOCUMENT_BEGIN(&s, "Annotations", &ann);
        bson_append_document_end(&s, &ann);
        BSON_APPEND_ARRAY_BEGIN(&s, "Users", &users);
        bson_append_array_end(&s, &users);
        BSON_APPEND_ARRAY_BEGIN(&s, "ServiceIds", &sids);
        for (size_t v = 0; v < x->nservices; v++) {
            char vk[16];
            const char *vkey;
            bson_uint32_to_string((uint32_t)v, &vkey, vk, sizeof vk);
            service_id(&sids, vkey, x->services[v]);
        }
        bson_append_array_end(&s, &sids);
        service_id(&s, "EntryPoint", x->root_service);
        BSON_APPEND_INT32(&s, "Revision", 1);
        bson_append_document_end(&list, &s);
    }
    bson_append_array_end(out, &list);
    BSON_APPEND_DOUBLE(out, "ApproximateTime", (double)(owl_now_ms() / 1000));
    BSON_APPEND_INT64(out, "TracesProcessedCount", (int64_t)p.scanned);
    if (p.next_token[0])
        BSON_APPEND_UTF8(out, "NextToken", p.next_token);
    owl_trace_page_free(&p);
    return OWL_OK;
}

/* ---- GetServiceGraph, GetTraceGraph ---- */

/* Appends map m as X-Ray's Services list (and with whole, StartTime, EndTime and
 * ContainsOldGroupVersions) to out. */
static int put_map(owl_aws_ctx *ctx, const owl_svcmap *m, int whole, bson_t *out)
{
    owl_buf b = OWL_BUF_INIT;
    owl_error err = {0};
    bson_error_t berr;
    int rc = owl_svcmap_xray_json(m, &b, &err);
    bson_t *doc = rc == OWL_OK ? bson_new_from_json((const uint8_t *)b.data, (ssize_t)b.len, &berr)
                               : NULL;
    owl_buf_free(&b);
    if (!doc)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "%s",
                            rc == OWL_OK ? "the service graph did not render" : err.msg);
    bson_iter_t it;
    if (bson_iter_init(&it, doc))
        while (bson_iter_next(&it))
            if (whole || !strcmp(bson_iter_key(&it), "Services"))
                bson_append_iter(out, NULL, 0, &it);
    bson_destroy(doc);
    return OWL_OK;
}

static int get_service_graph(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    int64_t start_ms, end_ms; /* at most 30 days: owl's bound, X-Ray publishes none */
    int rc = time_range(ctx, in, 30 * 86400000LL, "30 days", &start_ms, &end_ms);
    if (rc != OWL_OK)
        return rc;
    snprintf(call_of(ctx)->resource, sizeof call_of(ctx)->resource, "tenant/%s/xray/servicegraph",
             tenant_of(ctx));
    owl_svcmap *m = NULL;
    owl_error err = {0};
    if ((rc = owl_svcmap_new(start_ms, end_ms, &m)) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
    rc = owl_servicemap_from_statistics(call_of(ctx)->srv, tenant_of(ctx), start_ms, end_ms, m,
                                        &err);
    rc = rc == OWL_OK ? put_map(ctx, m, 1, out)
         : rc == OWL_EINVAL ? owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s", err.msg)
                            : store_fail(ctx, rc, err.msg);
    owl_svcmap_free(m);
    return rc;
}

static int get_trace_graph(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    bson_iter_t it;
    int rc = owl_aws_get_list(ctx, in, "TraceIds", &it);
    if (rc == OWL_ENOTFOUND)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "TraceIds is required");
    if (rc != OWL_OK)
        return rc;
    snprintf(call_of(ctx)->resource, sizeof call_of(ctx)->resource, "tenant/%s/xray/tracegraph",
             tenant_of(ctx));
    owl_svcmap *m = NULL;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t nids = 0;
    /* the traces' times are known once they are read: a first map collects them */
    for (int pass = 0; pass < 2 && rc == OWL_OK; pass++) {
        int64_t from = lo == INT64_MAX ? 0 : lo / 1000000;
        int64_t to = hi == INT64_MIN ? 1 : (hi + 999999) / 1000000 + 1;
        if (pass == 1 && owl_svcmap_new(from, to, &m) != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
        owl_aws_get_list(ctx, in, "TraceIds", &it);
        while (rc == OWL_OK && bson_iter_next(&it)) {
            if (!BSON_ITER_HOLDS_UTF8(&it)) {
                rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                                  "TraceIds must be strings");
                break;
            }
            if (pass == 0 && ++nids > BATCH_MAX_IDS) {
                rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                                  "at most %d TraceIds per request", BATCH_MAX_IDS);
                break;
            }
            const char *text = bson_iter_utf8(&it, NULL);
            uint8_t id[16];
            owl_error err = {0};
            owl_trace t = {0};
            if (owl_traceid_parse(text, strlen(text), id, &err) != OWL_OK)
                continue; /* as BatchGetTraces: an id it cannot read is no trace */
            int g = owl_traces_get(traces_of(ctx), tenant_of(ctx), id, &t, &err);
            owl_xf_span *v = NULL;
            if (g == OWL_OK && pass == 0) {
                lo = t.start_ns < lo ? t.start_ns : lo;
                hi = t.end_ns > hi ? t.end_ns : hi;
            } else if (g == OWL_OK && owl_trace_views(&t, &v) == OWL_OK) {
                owl_xf_trace xt = {.spans = v, .n_spans = t.n, .root = -1};
                if (owl_svcgraph_trace(&xt, m, &err) != OWL_OK)
                    rc = owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
            } else if (g == OWL_OK) {
                rc = owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
            } else if (g != OWL_ENOTFOUND) {
                rc = store_fail(ctx, g, err.msg);
            }
            owl_trace_free(&t);
        }
    }
    if (rc == OWL_OK)
        rc = put_map(ctx, m, 0, out);
    owl_svcmap_free(m);
    return rc;
}

static const owl_aws_op xray_ops[] = {
    {.name = "PutTraceSegments", .action = "xray:PutTraceSegments", .fn = put_trace_segments,
     .method = "POST", .uri = "/TraceSegments", .raw_body = 1},
    {.name = "BatchGetTraces", .action = "xray:BatchGetTraces", .fn = batch_get_traces,
     .method = "POST", .uri = "/Traces"},
    {.name = "GetTraceSummaries", .action = "xray:GetTraceSummaries",
     .fn = get_trace_summaries, .method = "POST", .uri = "/TraceSummaries"},
    {.name = "GetServiceGraph", .action = "xray:GetServiceGraph", .fn = get_service_graph,
     .method = "POST", .uri = "/ServiceGraph"},
    {.name = "GetTraceGraph", .action = "xray:GetTraceGraph", .fn = get_trace_graph,
     .method = "POST", .uri = "/TraceGraph"},
};

static const owl_aws_service xray_service = {
    .name = "xray",
    .signing_name = "xray",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_REST_JSON),
    .ops = xray_ops,
    .nops = OWL_ARRAY_LEN(xray_ops),
};

static const owl_aws_service *const xray_services[] = {&xray_service};

const owl_route_table owl_xray_routes = {NULL, 0, xray_services, OWL_ARRAY_LEN(xray_services)};

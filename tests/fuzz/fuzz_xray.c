/* fuzz_xray.c — X-Ray segment documents (ingest/xray.c) on arbitrary bytes: the first byte
 * picks how the rest is sent (0: as a PutTraceSegments body, 1: as a daemon datagram, 2: as
 * the one document of a PutTraceSegments body, escaped, so the fuzzer reaches the document
 * rules without writing JSON escapes). A refused request decodes nothing and says why; each
 * refused document has a known ErrorCode and a message; every kept span holds the record's
 * invariants (ingest.h: ids not zero, duration >= 0 and 0 when in progress, service and name
 * non-empty valid UTF-8, the kinds X-Ray maps to, the status its flags and HTTP status give,
 * a client span's peer its name, HTTP status 0 or 100..599, attrs a valid BSON document);
 * the UnprocessedTraceSegments answer is a JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"

#define MAX_SPANS 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int text_ok(owl_bytes b, int required)
{
    if (required && b.n == 0)
        return 0;
    return b.n == 0 || owl_log_decoded_utf8_ok(b.p, b.n);
}

static int same(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void check_span(const owl_span *s)
{
    if (owl_traceid_is_zero(s->trace_id, 16) || owl_traceid_is_zero(s->span_id, 8))
        abort();
    if (s->duration_ns < 0 || s->start_ns <= 0 || (s->in_progress && s->duration_ns))
        abort();
    if (s->kind != OWL_SPAN_SERVER && s->kind != OWL_SPAN_CLIENT && s->kind != OWL_SPAN_INTERNAL)
        abort();
    if (s->http_status && (s->http_status < 100 || s->http_status > 599))
        abort();
    if ((unsigned)s->status_code > 7)
        abort();
    enum owl_span_status want = s->status_code & 4   ? OWL_SPAN_FAULT
                                : s->status_code & 2 ? OWL_SPAN_THROTTLE
                                : s->status_code & 1 ? OWL_SPAN_ERROR
                                                     : owl_span_status_of(0, s->http_status);
    if (s->status != want)
        abort();
    if ((s->kind == OWL_SPAN_CLIENT) != (s->peer_service.n != 0) ||
        (s->peer_service.n && !same(s->peer_service, s->name)))
        abort();
    if (!text_ok(s->service, 1) || !text_ok(s->name, 1) || !text_ok(s->status_message, 0) ||
        !text_ok(s->http_method, 0) || !text_ok(s->route, 0) || !text_ok(s->url, 0) ||
        !text_ok(s->peer_service, 0) || !text_ok(s->user_agent, 0) ||
        !text_ok(s->client_ip, 0))
        abort();
    if (s->attrs.n) {
        bson_t doc;
        if (!bson_init_static(&doc, s->attrs.p, s->attrs.n) ||
            !bson_validate(&doc, BSON_VALIDATE_NONE, NULL) || bson_empty(&doc))
            abort();
    }
}

static void check_unprocessed(const owl_xray_unprocessed *u)
{
    static const char *const codes[] = {
        "MalformedDocument", "DocumentTooLarge", "MissingId",        "InvalidId",
        "MissingTraceId",    "InvalidTraceId",   "MissingName",      "InvalidName",
        "MissingStartTime",  "InvalidStartTime", "MissingEndTime",   "InvalidEndTime",
        "MissingParentId",   "InvalidParentId",  "InvalidField",     NULL};
    size_t i = 0;
    while (codes[i] && (!u->error_code || strcmp(codes[i], u->error_code) != 0))
        i++;
    if (!codes[i] || !u->message.n || !text_ok(u->message, 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_xray_decoded x = {0};
    owl_error err = {0};
    owl_buf body = OWL_BUF_INIT, o = OWL_BUF_INIT;
    size_t docs = 0;
    int rc;
    if (size < 1)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        rc = owl_xray_decode_docs(rest, n, MAX_SPANS, &x, &err);
        docs = SIZE_MAX; /* unknown: at most as many as the body's bytes */
        break;
    case 1:
        rc = owl_xray_decode_datagram(rest, n, MAX_SPANS, &x, &err);
        docs = 1;
        break;
    default:
        if (owl_buf_puts(&body, "{\"TraceSegmentDocuments\":[") ||
            owl_buf_json_str(&body, rest, n) || owl_buf_puts(&body, "]}"))
            abort();
        rc = owl_xray_decode_docs(body.data, body.len, MAX_SPANS, &x, &err);
        docs = 1;
        if (rc == OWL_EINVAL && !memchr(rest, '\0', n))
            abort(); /* a well-formed body is never refused whole (a NUL in a string is) */
        break;
    }
    if (rc != OWL_OK && rc != OWL_EINVAL && rc != OWL_ETOOBIG)
        abort();
    if (rc != OWL_OK && (x.spans.n || x.spans.rejected || !err.msg[0]))
        abort(); /* a refused request decodes nothing and says why */
    if (x.spans.rejected > docs || x.spans.n > MAX_SPANS)
        abort();
    if (x.spans.rejected && !x.spans.message[0])
        abort();
    for (size_t i = 0; i < x.spans.rejected; i++)
        check_unprocessed(&x.unprocessed[i]);
    for (size_t i = 0; i < x.spans.n; i++)
        check_span(&x.spans.spans[i]);
    if (owl_xray_unprocessed_json(&x, &o) != OWL_OK)
        abort();
    bson_t answer = BSON_INITIALIZER;
    if (owl_aws_json_decode(o.data, o.len, &answer, NULL) != OWL_OK)
        abort();
    bson_destroy(&answer);
    owl_buf_free(&o);
    owl_buf_free(&body);
    owl_xray_decoded_free(&x);
    return 0;
}

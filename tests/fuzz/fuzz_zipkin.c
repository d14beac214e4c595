/* fuzz_zipkin.c — Zipkin v2 JSON decoding (ingest/zipkin.c) on arbitrary bytes as the body of
 * POST /api/v2/spans, and as a v1 body (POST /api/v1/spans). A refused body decodes nothing and says why; a refused span says why;
 * kept + refused never exceed the request's limit; every kept span holds the record's
 * invariants (ingest.h: ids not zero, duration >= 0 and 0 when in progress, service and
 * name non-empty valid UTF-8, enums in range, the status the shared rule gives, HTTP status
 * 0 or 100..599, attrs a valid BSON document). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"

#define NOW 1700000000000000000ll
#define MAX 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int text_ok(owl_bytes b, int required)
{
    if (required && b.n == 0)
        return 0;
    return b.n == 0 || owl_log_decoded_utf8_ok(b.p, b.n);
}

static void check_span(const owl_span *s)
{
    if (owl_traceid_is_zero(s->trace_id, 16) || owl_traceid_is_zero(s->span_id, 8))
        abort();
    if (!memcmp(s->span_id, s->parent_id, 8))
        abort(); /* never its own parent */
    if (s->duration_ns < 0 || s->start_ns < 0 || (s->in_progress && s->duration_ns))
        abort();
    if ((unsigned)s->kind > OWL_SPAN_CONSUMER || s->kind == OWL_SPAN_UNSPECIFIED ||
        (unsigned)s->status > OWL_SPAN_THROTTLE)
        abort();
    if (s->http_status && (s->http_status < 100 || s->http_status > 599))
        abort();
    if (s->status != owl_span_status_of(s->status_code == 2, s->http_status))
        abort();
    if (!text_ok(s->service, 1) || !text_ok(s->name, 1) || !text_ok(s->status_message, 0) ||
        !text_ok(s->http_method, 0) || !text_ok(s->route, 0) || !text_ok(s->url, 0) ||
        !text_ok(s->peer_service, 0) || !text_ok(s->user_agent, 0) ||
        !text_ok(s->client_ip, 0))
        abort();
    bson_t doc;
    if (!s->attrs.n || !bson_init_static(&doc, s->attrs.p, s->attrs.n) ||
        !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        abort(); /* a Zipkin span always has the zipkin member */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_span_decoded d = {0};
    owl_error err = {0};
    int rc = owl_zipkin_decode(data, size, NOW, MAX, &d, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL && rc != OWL_ETOOBIG)
        abort();
    if (rc != OWL_OK && (d.n || d.rejected || !err.msg[0]))
        abort(); /* a refused body decodes nothing and says why */
    if (rc == OWL_OK && d.rejected && strncmp(d.message, "span ", 5) != 0)
        abort(); /* a refused span says which and why */
    if (d.n + d.rejected > MAX)
        abort();
    for (size_t i = 0; i < d.n; i++)
        check_span(&d.spans[i]);
    owl_span_decoded_free(&d);
    /* the same bytes as a v1 body: each v1 span gives at most two records */
    memset(&err, 0, sizeof err);
    rc = owl_zipkin_v1_decode(data, size, NOW, MAX, &d, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL && rc != OWL_ETOOBIG)
        abort();
    if (rc != OWL_OK && (d.n || d.rejected || !err.msg[0]))
        abort();
    if (rc == OWL_OK && d.rejected && strncmp(d.message, "span ", 5) != 0)
        abort();
    if (d.n > 2 * MAX || d.rejected > 2 * MAX)
        abort();
    for (size_t i = 0; i < d.n; i++)
        check_span(&d.spans[i]);
    owl_span_decoded_free(&d);
    return 0;
}

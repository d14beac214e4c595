/* fuzz_otlp_traces.c — OTLP traces decoding (ingest/otlp_traces.c) and the trace-id parsers
 * (common/traceid.c) on arbitrary bytes: the first byte picks the encoding (even: protobuf,
 * odd: JSON), the rest is the body. A refused body decodes nothing and says why; every kept
 * span holds the record's invariants (ingest.h: ids not zero, duration >= 0, service and
 * name non-empty valid UTF-8, enums in range, HTTP status 0 or 100..599, attrs and resource
 * valid BSON documents), kept + refused never exceed the request, and the answer encodes.
 * Differential too (and so for JSON the direct path, OWL_OTLP_DIRECT, against the wire path
 * and the general one): the fast path (OWL_OTLP_FAST) either declines or gives exactly the
 * general path's decode (every field of every record, byte for byte, the refusals and the
 * first refusal's message), and declines every body the general path refuses. The body is
 * also read as a trace id and a span id: whatever parses is non-zero and comes back the same
 * through its text forms. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"

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
    if (s->duration_ns < 0 || s->start_ns <= 0 || s->in_progress)
        abort();
    if ((unsigned)s->kind > OWL_SPAN_CONSUMER || (unsigned)s->status > OWL_SPAN_THROTTLE)
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
    if (s->attrs.n) {
        bson_t doc;
        if (!bson_init_static(&doc, s->attrs.p, s->attrs.n) ||
            !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
            abort();
    }
    if (s->resource.n) {
        bson_t doc;
        if (!bson_init_static(&doc, s->resource.p, s->resource.n) ||
            !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
            abort();
    }
}

static int same_bytes(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void check_same(const owl_span_decoded *a, const owl_span_decoded *b)
{
    if (a->n != b->n || a->rejected != b->rejected || strcmp(a->message, b->message) != 0)
        abort();
    for (size_t i = 0; i < a->n; i++) {
        const owl_span *x = &a->spans[i], *y = &b->spans[i];
        if (memcmp(x->trace_id, y->trace_id, 16) || memcmp(x->span_id, y->span_id, 8) ||
            memcmp(x->parent_id, y->parent_id, 8) || x->kind != y->kind ||
            x->start_ns != y->start_ns || x->duration_ns != y->duration_ns ||
            x->status != y->status || x->status_code != y->status_code ||
            x->http_status != y->http_status || x->in_progress != y->in_progress)
            abort();
        if (!same_bytes(x->service, y->service) || !same_bytes(x->name, y->name) ||
            !same_bytes(x->status_message, y->status_message) ||
            !same_bytes(x->http_method, y->http_method) || !same_bytes(x->route, y->route) ||
            !same_bytes(x->url, y->url) || !same_bytes(x->peer_service, y->peer_service) ||
            !same_bytes(x->user_agent, y->user_agent) ||
            !same_bytes(x->client_ip, y->client_ip) || !same_bytes(x->attrs, y->attrs) ||
            !same_bytes(x->resource, y->resource))
            abort();
    }
}

/* The two readings of one body. */
static void differential(enum owl_otlp_encoding enc, const uint8_t *p, size_t n)
{
    owl_span_decoded fast = {0}, general = {0};
    owl_error e1 = {0}, e2 = {0};
    int rf = owl_otlp_traces_decode_path(enc, p, n, 1000, OWL_OTLP_FAST, &fast, &e1);
    int rg = owl_otlp_traces_decode_path(enc, p, n, 1000, OWL_OTLP_GENERAL, &general, &e2);
    if (rf == OWL_OK) {
        if (rg != OWL_OK)
            abort(); /* taken by the fast path, refused by the general one */
        check_same(&fast, &general);
    } else if (rf != OWL_EUNSUPPORTED && !(enc == OWL_OTLP_JSON && rf == rg)) {
        abort(); /* the fast path declines; only JSON's transcoding refuses for both */
    }
    if (rf != OWL_OK && (fast.n || fast.rejected))
        abort(); /* a declined decode holds nothing */
    if (enc == OWL_OTLP_JSON) {
        /* the direct path: declines, or gives the wire path's records and the general one's */
        owl_span_decoded direct = {0}, wire = {0};
        owl_error e3 = {0}, e4 = {0};
        int rd = owl_otlp_traces_decode_path(enc, p, n, 1000, OWL_OTLP_DIRECT, &direct, &e3);
        int rw = owl_otlp_traces_decode_path(enc, p, n, 1000, OWL_OTLP_WIRE, &wire, &e4);
        if (rd == OWL_OK) {
            if (rw != OWL_OK || rg != OWL_OK)
                abort(); /* taken by the direct path, refused by the others */
            check_same(&direct, &wire);
            check_same(&direct, &general);
        } else if (rd != OWL_EUNSUPPORTED || direct.n || direct.rejected) {
            abort(); /* the direct path only declines, and then holds nothing */
        }
        owl_span_decoded_free(&direct);
        owl_span_decoded_free(&wire);
    }
    owl_span_decoded_free(&fast);
    owl_span_decoded_free(&general);
}

static void check_ids(const uint8_t *data, size_t size)
{
    uint8_t id[16], back[16], sid[8], sback[8];
    char hex[OWL_TRACEID_HEX_SIZE], xray[OWL_TRACEID_XRAY_SIZE], shex[OWL_SPANID_HEX_SIZE];
    owl_error err = {0};
    if (owl_traceid_parse((const char *)data, size, id, &err) == OWL_OK) {
        if (owl_traceid_is_zero(id, 16))
            abort();
        owl_traceid_to_hex(id, hex);
        owl_traceid_to_xray(id, xray);
        if (owl_traceid_from_hex(hex, 32, back, NULL) != OWL_OK || memcmp(id, back, 16) ||
            owl_traceid_from_xray(xray, 35, back, NULL) != OWL_OK || memcmp(id, back, 16))
            abort();
    } else if (!err.msg[0]) {
        abort();
    }
    if (owl_traceid_span_from_hex((const char *)data, size, sid, NULL) == OWL_OK) {
        owl_traceid_span_to_hex(sid, shex);
        if (owl_traceid_is_zero(sid, 8) ||
            owl_traceid_span_from_hex(shex, 16, sback, NULL) != OWL_OK || memcmp(sid, sback, 8))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_span_decoded d = {0};
    owl_error err = {0};
    owl_buf o = OWL_BUF_INIT;
    if (size < 1)
        return 0;
    check_ids(data, size);
    enum owl_otlp_encoding enc = (data[0] & 1) ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF;
    int rc = owl_otlp_traces_decode(enc, data + 1, size - 1, 1000, &d, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL && rc != OWL_ETOOBIG)
        abort();
    if (rc != OWL_OK && (d.n || d.rejected || !err.msg[0]))
        abort(); /* a refused body decodes nothing and says why */
    if (rc == OWL_OK && d.rejected && !d.message[0])
        abort(); /* a refused span says why */
    if (d.n + d.rejected > 1000)
        abort();
    for (size_t i = 0; i < d.n; i++)
        check_span(&d.spans[i]);
    differential(enc, data + 1, size - 1);
    if (owl_otlp_traces_response(enc, d.rejected, d.message, &o) != OWL_OK)
        abort();
    owl_buf_free(&o);
    owl_span_decoded_free(&d);
    return 0;
}

/* fuzz_otlp_logs.c — OTLP logs decoding (ingest/otlp_logs.c) of arbitrary bytes: the first
 * byte picks the encoding (even: protobuf, odd: JSON), the rest is the body. A refused body
 * decodes nothing and says why; whatever decodes must be storable: valid group and stream
 * names, events in time order, messages of valid UTF-8 within OWL_LOG_MESSAGE_MAX, attrs a
 * valid BSON document, and the answer encodes. Differential too: the fast path
 * (OWL_OTLP_FAST) either declines or gives exactly the general path's decode (batches,
 * events, refusals and the first refusal's message), and declines every body the general
 * path refuses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/otlp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decoded(const owl_log_decoded *d)
{
    size_t total = 0;
    for (size_t i = 0; i < d->nb; i++) {
        const owl_log_batch *b = &d->b[i];
        if (!owl_log_decoded_group_ok(b->group, strlen(b->group)) ||
            !owl_log_decoded_stream_ok(b->stream, strlen(b->stream)) || b->n == 0)
            abort();
        for (size_t j = 0; j < b->n; j++) {
            const owl_log_event *e = &b->ev[j];
            if (j && e->time_ms < b->ev[j - 1].time_ms)
                abort();
            if (e->message.n > OWL_LOG_MESSAGE_MAX ||
                !owl_log_decoded_utf8_ok(e->message.p, e->message.n) ||
                !owl_log_decoded_utf8_ok(e->severity.p, e->severity.n))
                abort();
            if (e->attrs.n) {
                bson_t doc;
                if (!bson_init_static(&doc, e->attrs.p, e->attrs.n) ||
                    !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
                    abort();
            }
        }
        total += b->n;
    }
    if (total != d->events)
        abort();
}

static int same_bytes(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void check_same(const owl_log_decoded *a, const owl_log_decoded *b)
{
    if (a->nb != b->nb || a->events != b->events || a->rejected != b->rejected ||
        strcmp(a->message, b->message) != 0)
        abort();
    for (size_t i = 0; i < a->nb; i++) {
        const owl_log_batch *x = &a->b[i], *y = &b->b[i];
        if (strcmp(x->group, y->group) != 0 || strcmp(x->stream, y->stream) != 0 ||
            x->n != y->n)
            abort();
        for (size_t j = 0; j < x->n; j++) {
            const owl_log_event *e = &x->ev[j], *f = &y->ev[j];
            if (e->time_ms != f->time_ms || !same_bytes(e->message, f->message) ||
                !same_bytes(e->severity, f->severity) || !same_bytes(e->attrs, f->attrs) ||
                memcmp(e->trace_id, f->trace_id, sizeof e->trace_id) != 0 ||
                memcmp(e->span_id, f->span_id, sizeof e->span_id) != 0)
                abort();
        }
    }
}

/* The two readings of one body. */
static void differential(enum owl_otlp_encoding enc, const uint8_t *p, size_t n)
{
    owl_log_decoded fast = {0}, general = {0};
    owl_error e1 = {0}, e2 = {0};
    int rf = owl_otlp_logs_decode_path(enc, p, n, 1767225600000LL, 1000, OWL_OTLP_FAST, &fast,
                                       &e1);
    int rg = owl_otlp_logs_decode_path(enc, p, n, 1767225600000LL, 1000, OWL_OTLP_GENERAL,
                                       &general, &e2);
    if (rf == OWL_OK) {
        if (rg != OWL_OK)
            abort(); /* taken by the fast path, refused by the general one */
        check_same(&fast, &general);
    } else if (rf != OWL_EUNSUPPORTED && !(enc == OWL_OTLP_JSON && rf == rg)) {
        abort(); /* the fast path declines; only JSON's transcoding refuses for both */
    }
    owl_log_decoded_free(&fast);
    owl_log_decoded_free(&general);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_log_decoded d = {0};
    owl_error err = {0};
    owl_buf o = OWL_BUF_INIT;
    if (size < 1)
        return 0;
    enum owl_otlp_encoding enc = (data[0] & 1) ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF;
    int rc = owl_otlp_logs_decode(enc, data + 1, size - 1, 1767225600000LL, 1000, &d, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL && rc != OWL_ETOOBIG)
        abort();
    if (rc != OWL_OK && (d.nb || d.events || !err.msg[0]))
        abort(); /* a refused body decodes nothing and says why */
    if (rc == OWL_OK && d.rejected && !d.message[0])
        abort(); /* a refused record says why */
    check_decoded(&d);
    differential(enc, data + 1, size - 1);
    if (owl_otlp_logs_response(enc, d.rejected, d.message, &o) != OWL_OK)
        abort();
    owl_buf_free(&o);
    owl_log_decoded_free(&d);
    return 0;
}

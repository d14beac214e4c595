/* fuzz_otlp_logs.c — OTLP logs decoding (ingest/otlp_logs.c) of arbitrary bytes: the first
 * byte picks the encoding (even: protobuf, odd: JSON), the rest is the body. A refused body
 * decodes nothing and says why; whatever decodes must be storable: valid group and stream
 * names, events in time order, messages of valid UTF-8 within OWL_LOG_MESSAGE_MAX, attrs a
 * valid BSON document, and the answer encodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/log_decoded.h"

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
    if (owl_otlp_logs_response(enc, d.rejected, d.message, &o) != OWL_OK)
        abort();
    owl_buf_free(&o);
    owl_log_decoded_free(&d);
    return 0;
}

/* fuzz_rawlog.c — raw log lines (ingest/rawlog.c) of arbitrary bytes: the first byte picks
 * the decoder (even: text/plain, odd: NDJSON), the rest is the body. Every non-empty line is
 * one event or one refusal; text events keep their line's bytes (or its UTF-8 repair) and
 * every event is storable: valid UTF-8 within OWL_LOG_MESSAGE_MAX, in time order, attrs a
 * valid BSON document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/log_decoded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t non_empty_lines(const char *s, size_t n)
{
    size_t lines = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n, len = e - i;
        if (len && s[e - 1] == '\r')
            len--;
        lines += len != 0;
        i = e + 1;
    }
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_log_decoded d = {0};
    owl_error err = {0};
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    int ndjson = data[0] & 1;
    int rc = ndjson ? owl_rawlog_decode_ndjson(body, n, "/fuzz", "s", 1767225600000LL, 5000,
                                               &d, &err)
                    : owl_rawlog_decode_text(body, n, "/fuzz", "s", 1767225600000LL, 5000, &d,
                                             &err);
    size_t lines = non_empty_lines(body, n);
    if (rc == OWL_ETOOBIG) {
        if (lines <= 5000 || d.nb || !err.msg[0])
            abort();
        owl_log_decoded_free(&d);
        return 0;
    }
    if (rc != OWL_OK || d.events + d.rejected != lines || d.nb > 1)
        abort();
    if (!ndjson && d.rejected)
        abort(); /* no text line of a fuzz input reaches the size limit */
    for (size_t i = 0; i < d.nb; i++) {
        const owl_log_batch *b = &d.b[i];
        if (strcmp(b->group, "/fuzz") || strcmp(b->stream, "s") || b->n != d.events)
            abort();
        for (size_t j = 0; j < b->n; j++) {
            const owl_log_event *e = &b->ev[j];
            if ((j && e->time_ms < b->ev[j - 1].time_ms) || e->message.n == 0 ||
                e->message.n > OWL_LOG_MESSAGE_MAX ||
                !owl_log_decoded_utf8_ok(e->message.p, e->message.n) || e->severity.n)
                abort();
            if (!ndjson && e->attrs.n)
                abort();
            if (e->attrs.n) {
                bson_t doc;
                if (!bson_init_static(&doc, e->attrs.p, e->attrs.n) ||
                    !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
                    abort();
            }
        }
    }
    if (!ndjson && owl_log_decoded_utf8_ok(body, n))
        for (size_t j = 0; j < d.events; j++) /* valid text: each message is a line as sent */
            if (!memmem(body, n, d.b[0].ev[j].message.p, d.b[0].ev[j].message.n))
                abort();
    owl_log_decoded_free(&d);
    return 0;
}

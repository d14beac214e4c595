/* fuzz_client_answer.c — what libowl's exporter (client/export.c) reads of a collector's
 * answers, on arbitrary bytes: the partial-success count of an Export*ServiceResponse in
 * protobuf and in OTLP/JSON for each signal, and a Retry-After value. The first byte picks
 * the signal (traces, logs, metrics) and the encoding; the rest is the body, and its first
 * line (up to 300 bytes) is also read as a Retry-After value. Nothing crashes or reads past
 * the input (ASan, UBSan); a Retry-After is -1 (unreadable) or a delay >= 0; a body of
 * fewer than 2 bytes rejects nothing. Built from the client's sources alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sig = data[0] % (OWL__SIG_COUNT + 1), json = data[0] >> 7;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint64_t rejected = owl__rejected_count(sig, json, body, n);
    if (n < 2 && rejected != 0)
        abort(); /* no room for a tag and a count */
    /* each encoding over the same bytes too: neither reads past them */
    owl__rejected_count(sig, !json, body, n);
    const uint8_t *nl = memchr(body, '\n', n < 300 ? n : 300);
    size_t line = nl ? (size_t)(nl - body) : (n < 300 ? n : 300);
    int64_t ms = owl__retry_after_ms((const char *)body, line);
    if (ms < -1)
        abort();
    return 0;
}

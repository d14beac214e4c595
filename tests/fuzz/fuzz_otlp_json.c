/* fuzz_otlp_json.c — differential libFuzzer target for OTLP JSON to protobuf wire
 * (ingest/otlp_json.c): the first byte picks the request (mod 3: traces, logs, metrics), the
 * rest is the body. The fast path answers OK, UNSUPPORTED (the buffer back as it was) or
 * ENOMEM; when OK, the general path accepts the body too and both wires unpack to messages that
 * pack to the same bytes (the fast path may pad nested lengths, so raw bytes may differ); a
 * body the general path refuses is never OK on the fast path. owl_otlp_json_wire answers as the
 * general path does, with the same message. Both paths append after bytes already there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PRE "pre"
#define PRE_LEN 3

static const ProtobufCMessageDescriptor *const descs[3] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
};

/* w's bytes after PRE as desc, packed again (malloc'd, *len bytes); aborts when they do not
 * unpack. */
static uint8_t *repack(const ProtobufCMessageDescriptor *desc, const owl_buf *w, size_t *len)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, w->len - PRE_LEN,
                                                    (const uint8_t *)w->data + PRE_LEN);
    if (!m)
        abort();
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len + 1);
    if (!p || protobuf_c_message_pack(m, p) != *len)
        abort();
    protobuf_c_message_free_unpacked(m, NULL);
    return p;
}

static void same_message(const ProtobufCMessageDescriptor *desc, const owl_buf *a,
                         const owl_buf *b)
{
    size_t alen, blen;
    uint8_t *pa = repack(desc, a, &alen), *pb = repack(desc, b, &blen);
    if (alen != blen || memcmp(pa, pb, alen) != 0)
        abort();
    free(pa);
    free(pb);
}

static void start(owl_buf *w)
{
    if (owl_buf_append(w, PRE, PRE_LEN) != OWL_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n == 0)
        return 0;
    const ProtobufCMessageDescriptor *desc = descs[d[0] % 3];
    const char *body = (const char *)d + 1;
    size_t len = n - 1;
    owl_buf fw = OWL_BUF_INIT, gw = OWL_BUF_INIT, ww = OWL_BUF_INIT;
    owl_error gerr = {0}, werr = {0};
    start(&fw);
    start(&gw);
    start(&ww);

    int frc = owl_otlp_json_fast(desc, body, len, &fw);
    if (frc != OWL_OK && frc != OWL_EUNSUPPORTED && frc != OWL_ENOMEM)
        abort();
    if (fw.len < PRE_LEN || memcmp(fw.data, PRE, PRE_LEN) != 0)
        abort();
    if (frc == OWL_EUNSUPPORTED && fw.len != PRE_LEN)
        abort();

    int grc = owl_otlp_json_general(desc, body, len, &gw, &gerr);
    if (grc != OWL_OK && grc != OWL_EINVAL && grc != OWL_ENOMEM)
        abort();
    if (grc == OWL_EINVAL && !gerr.msg[0])
        abort();
    if (frc == OWL_OK) {
        if (grc != OWL_OK)
            abort(); /* the fast path took a body the general one refuses */
        same_message(desc, &fw, &gw);
    }

    int wrc = owl_otlp_json_wire(desc, body, len, &ww, &werr);
    if (grc != OWL_ENOMEM && wrc != OWL_ENOMEM) {
        if (wrc != grc || (wrc == OWL_EINVAL && !werr.msg[0]))
            abort();
        if (wrc == OWL_OK)
            same_message(desc, &ww, &gw);
    }
    owl_buf_free(&fw);
    owl_buf_free(&gw);
    owl_buf_free(&ww);
    return 0;
}

/* sampler.c — the tracer's sampling decision at a span's start (docs/client.md "Samplers"):
 * OTEL_TRACES_SAMPLER's samplers and "xray" (parent-based, roots by xray_sampler.c's rules).
 * TraceIdRatioBased's draw is the trace id's last 8 bytes as a big-endian number shifted
 * right by one (63 random bits, as the Go SDK does):
 * sampled when below ratio * 2^63, so a decision is deterministic per trace id and a trace
 * sampled at one ratio is sampled at every higher one, the two properties OTel requires. */
#include "client_int.h"

#define TWO_63 9223372036854775808.0

owl__sampling owl__sampling_of(enum owl__sampler kind, double ratio)
{
    if (!(ratio >= 0)) /* also NaN */
        ratio = 0;
    if (ratio > 1)
        ratio = 1;
    /* ratio 1: 2^63, above every 63-bit draw */
    return (owl__sampling){kind, (uint64_t)(ratio * TWO_63)};
}

static int by_ratio(const owl__sampling *s, const uint8_t tid[16])
{
    uint64_t draw = 0;
    for (int i = 8; i < 16; i++)
        draw = draw << 8 | tid[i];
    return (draw >> 1) < s->bound;
}

int owl__sampler_decide(const owl__sampling *s, const uint8_t trace_id[16], int parent_sampled,
                        const owl__sample_req *req)
{
    switch (s->kind) {
    case OWL__SAMPLER_ALWAYS_ON:
        return 1;
    case OWL__SAMPLER_ALWAYS_OFF:
        return 0;
    case OWL__SAMPLER_TRACEIDRATIO:
        return by_ratio(s, trace_id);
    case OWL__SAMPLER_PARENTBASED_ALWAYS_OFF:
        return parent_sampled > 0;
    case OWL__SAMPLER_PARENTBASED_TRACEIDRATIO:
        return parent_sampled < 0 ? by_ratio(s, trace_id) : parent_sampled;
    case OWL__SAMPLER_XRAY:
        return parent_sampled < 0 ? owl__xray_sample(req, trace_id) : parent_sampled;
    case OWL__SAMPLER_PARENTBASED_ALWAYS_ON:
        break;
    }
    return parent_sampled != 0;
}

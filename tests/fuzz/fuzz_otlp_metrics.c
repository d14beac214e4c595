/* fuzz_otlp_metrics.c — OTLP metrics decoding (ingest/otlp.c) of arbitrary bytes: the first
 * byte picks the encoding (even: protobuf, odd: JSON), the rest is the body. Whatever
 * decodes must give datums owl could store: finite values, positive counts, named series,
 * at most 30 dimensions, exact statistics that hold min <= max. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stateless deltas: every point is a stream's first, as after a restart. */
static int first_point(void *ud, uint64_t stream, int64_t start_ns, const double *cum,
                       double *delta, size_t n)
{
    memcpy(delta, cum, n * sizeof *cum);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owl_otlp_batch b = {0};
    owl_error err = {0};
    owl_buf o = OWL_BUF_INIT;
    if (size < 1)
        return 0;
    enum owl_otlp_encoding enc = (data[0] & 1) ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF;
    int rc = owl_otlp_metrics_decode(enc, data + 1, size - 1, 1767225600000LL, first_point,
                                     NULL, &b, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_EINVAL && (b.n || !err.msg[0]))
        abort(); /* a refused body stores nothing and says why */
    for (size_t i = 0; i < b.n; i++) {
        const owl_datum *d = &b.d[i];
        if (!d->id.ns || !d->id.name || !d->id.name[0] || !d->unit ||
            d->id.ndims > OWL_METRIC_MAX_DIMS)
            abort();
        for (size_t j = 0; j < d->id.ndims; j++)
            if (!d->id.dims[j].name || !d->id.dims[j].value)
                abort();
        for (size_t j = 0; j < d->nvalues; j++)
            if (!isfinite(d->values[j]) || (d->counts && !(d->counts[j] > 0)))
                abort();
        if (d->has_stats && (!isfinite(d->sum) || !(d->count > 0) || !(d->min <= d->max)))
            abort();
        if (!d->has_stats && d->nvalues != 1)
            abort();
    }
    if (owl_otlp_metrics_response(enc, b.rejected, b.message, &o) != OWL_OK)
        abort();
    owl_buf_free(&o);
    owl_otlp_batch_free(&b);
    return 0;
}

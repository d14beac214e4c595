/* fuzz_sketch.c — libFuzzer target for owl_sketch_decode (analytics/sketch.c): arbitrary bytes
 * decode to OK or ECORRUPT; whatever decodes answers quantiles and re-encodes to bytes that
 * decode to a sketch encoding the same again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    owl_sketch *s = NULL, *t = NULL;
    owl_buf a = OWL_BUF_INIT, b = OWL_BUF_INIT;
    int rc = owl_sketch_decode(d, n, &s);
    if (rc != OWL_OK && rc != OWL_ECORRUPT && rc != OWL_ENOMEM)
        abort();
    if (rc == OWL_OK) {
        double q;
        if (owl_sketch_quantile(s, 0.5, &q) != OWL_OK || owl_sketch_encode(s, &a) != OWL_OK ||
            owl_sketch_decode(a.data, a.len, &t) != OWL_OK || owl_sketch_encode(t, &b) != OWL_OK ||
            a.len != b.len || memcmp(a.data, b.data, a.len))
            abort();
    }
    owl_sketch_free(s);
    owl_sketch_free(t);
    owl_buf_free(&a);
    owl_buf_free(&b);
    return 0;
}

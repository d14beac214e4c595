/* fuzz_native_metrics.c — differential libFuzzer target for owl's direct reading of native
 * metrics bodies (ingest/metrics_json.c). Any input either falls back (OWL_EUNSUPPORTED) or
 * reads into datums; a body that reads must also decode with the general JSON decoder, and its
 * document, read the way the general path reads it (server/cloudwatch.c, read_native), must
 * name the very datums: namespace, name, unit, resolution, dimensions, times and values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const char *str_of(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key))
        return NULL;
    if (!BSON_ITER_HOLDS_UTF8(&it))
        abort();
    return bson_iter_utf8(&it, NULL);
}

static void same_str(const char *a, const char *b)
{
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
        abort();
}

/* Checks datums x[0..) of entry e against the entry's document; returns how many it used. */
static size_t check_entry(const bson_t *e, const owl_datum *x, size_t avail)
{
    bson_iter_t it, a, b;
    const char *ns = str_of(e, "namespace"), *name = str_of(e, "name"), *unit = str_of(e, "unit");
    int res = 0;
    if (bson_iter_init_find(&it, e, "resolution")) {
        int64_t v = bson_iter_as_int64(&it);
        res = v < 0 || v > 1000000 ? 2 : (int)v;
    }
    size_t k = 0;
    if (bson_iter_init_find(&it, e, "timestamps")) {
        bson_iter_t vs;
        if (!bson_iter_recurse(&it, &a) || !bson_iter_init_find(&vs, e, "values") ||
            !bson_iter_recurse(&vs, &b))
            abort();
        while (bson_iter_next(&a)) {
            if (!bson_iter_next(&b) || k >= avail)
                abort();
            if (x[k].time_ms != (int64_t)bson_iter_as_double(&a) || x[k].nvalues != 1 ||
                x[k].values[0] != bson_iter_as_double(&b))
                abort();
            k++;
        }
        if (bson_iter_next(&b))
            abort();
    } else {
        if (!bson_iter_init_find(&it, e, "value") || avail < 1 ||
            x[0].values[0] != bson_iter_as_double(&it) || x[0].nvalues != 1)
            abort();
        if (bson_iter_init_find(&it, e, "timestamp") &&
            x[0].time_ms != (int64_t)bson_iter_as_double(&it))
            abort();
        k = 1;
    }
    for (size_t i = 0; i < k; i++) {
        same_str(x[i].id.ns, ns);
        same_str(x[i].id.name, name);
        same_str(x[i].unit, unit);
        if (x[i].resolution != res || x[i].counts || x[i].has_stats)
            abort();
        size_t nd = 0;
        if (bson_iter_init_find(&it, e, "dimensions") && bson_iter_recurse(&it, &a))
            while (bson_iter_next(&a)) {
                if (nd >= x[i].id.ndims || strcmp(x[i].id.dims[nd].name, bson_iter_key(&a)) ||
                    strcmp(x[i].id.dims[nd].value, bson_iter_utf8(&a, NULL)))
                    abort();
                nd++;
            }
        if (nd != x[i].id.ndims)
            abort();
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    owl_native_metrics m;
    int rc = owl_native_metrics_parse((const char *)d, n, 5000, 77, &m);
    if (rc != OWL_OK) {
        if (rc != OWL_EUNSUPPORTED && rc != OWL_ENOMEM)
            abort();
        return 0;
    }
    bson_t doc = BSON_INITIALIZER;
    if (owl_aws_json_decode((const char *)d, n, &doc, NULL) != OWL_OK)
        abort(); /* read directly, refused by the decoder */
    bson_iter_t it, arr;
    size_t used = 0;
    if (!bson_iter_init_find(&it, &doc, "metrics") || !bson_iter_recurse(&it, &arr))
        abort();
    while (bson_iter_next(&arr)) {
        uint32_t len;
        const uint8_t *data;
        bson_t e;
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
            abort();
        bson_iter_document(&arr, &len, &data);
        if (!bson_init_static(&e, data, len))
            abort();
        used += check_entry(&e, m.d + used, m.n - used);
    }
    if (used != m.n)
        abort();
    bson_destroy(&doc);
    owl_native_metrics_free(&m);
    return 0;
}

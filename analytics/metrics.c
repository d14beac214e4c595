/* metrics.c — SCAFFOLDING: replaced by the datapoint store and roll-ups (helper f-metrics).
 * owl_metrics_open succeeds so owld starts; every other call answers OWL_EUNSUPPORTED. */
#include <stdlib.h>
#include "analytics/analytics_int.h"
struct owl_metrics { int unused; };
const char *owl_metric_unit_canon(const char *unit) { return NULL; }
int owl_metrics_open(owl_store *store, owl_meta *meta, const owl_metrics_options *opts,
                     owl_metrics **out, owl_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? OWL_OK : OWL_ENOMEM;
}
void owl_metrics_close(owl_metrics *m) { free(m); }
int owl_metrics_check(const owl_datum *d, size_t n, unsigned flags, int64_t now_ms,
                      enum owl_metric_fault *fault, owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_metrics_put(owl_metrics *m, const char *tenant, const owl_datum *d, size_t n,
                    unsigned flags, int64_t now_ms, enum owl_metric_fault *fault,
                    owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_metrics_rollup(owl_metrics *m, int64_t now_ms, owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_metrics_delta(owl_metrics *m, uint64_t stream, int64_t start_ns, const double *cum,
                      double *delta, size_t n) { return OWL_EUNSUPPORTED; }
void owl_bucket_set_free(owl_bucket_set *bs) { (void)bs; }
int owl_metrics_read(owl_metrics *m, const owl_metric_query *q, owl_bucket_set *out,
                     owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_metrics_list(owl_metrics *m, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err) { return OWL_EUNSUPPORTED; }

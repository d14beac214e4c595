/* catalog.c — SCAFFOLDING: replaced by the series catalog (helper f-metrics). */
#include "analytics/analytics_int.h"
int owl_catalog_open(owl_meta *meta, owl_catalog **out, owl_error *err) { *out = NULL; return OWL_OK; }
void owl_catalog_close(owl_catalog *c) { (void)c; }
int owl_catalog_resolve(owl_catalog *c, const char *tenant, const owl_metric_id *ids,
                        const int64_t *time_ms, size_t n, uint64_t *out, owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_catalog_find(owl_catalog *c, const char *tenant, const owl_metric_id *id, uint64_t *out) { return OWL_ENOTFOUND; }
int owl_catalog_list(owl_catalog *c, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err) { return OWL_EUNSUPPORTED; }

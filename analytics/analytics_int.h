/* analytics_int.h — what the files of analytics/ share (private to the folder): the series
 * catalog (catalog.c) that metrics.c resolves series through. */
#ifndef OWL_ANALYTICS_INT_H
#define OWL_ANALYTICS_INT_H

#include "analytics/analytics.h"

typedef struct owl_catalog owl_catalog;

/* owl_catalog_open — loads every series of every tenant from meta (kind "metric-series")
 * into memory. meta must outlive the catalog. */
int owl_catalog_open(owl_meta *meta, owl_catalog **out, owl_error *err);

/* owl_catalog_close — frees. Accepts NULL. */
void owl_catalog_close(owl_catalog *c);

/* owl_catalog_resolve — the dense ids (1, 2, ... per tenant, never reused) of ids[0..n) of
 * tenant in out[0..n), registering the series not yet known durably (owl_meta_put) before
 * returning, so no row can name an id the catalog would not know after a crash. time_ms[i]
 * is the datum's time: it moves the series' last-active time forward (kept in memory; written
 * with the series record at most once an hour, so RecentlyActive survives a restart to within
 * an hour). Concurrent callers registering the same series get the same id. OWL_OK, OWL_EIO,
 * OWL_ENOSPC, OWL_ENOMEM (no id of a failed call is used by any row). */
int owl_catalog_resolve(owl_catalog *c, const char *tenant, const owl_metric_id *ids,
                        const int64_t *time_ms, size_t n, uint64_t *out, owl_error *err);

/* owl_catalog_find — the id of a known series (dimensions in any order); OWL_ENOTFOUND. */
int owl_catalog_find(owl_catalog *c, const char *tenant, const owl_metric_id *id,
                     uint64_t *out);

/* owl_catalog_list — owl_metrics_list's work (same contract). */
int owl_catalog_list(owl_catalog *c, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err);

#endif

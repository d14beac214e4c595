/* analytics_int.h — what the files of analytics/ share (private to the folder): the series
 * catalog (catalog.c) that metrics.c resolves series through, the merge of stored sketch
 * bytes (sketch.c), and the aggregates rows merge into (metrics.c). */
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

/* owl_catalog_added — how many series were registered since open (a number that grows
 * whenever one is). */
uint64_t owl_catalog_added(owl_catalog *c);

/* owl_catalog_list — owl_metrics_list's work (same contract). */
int owl_catalog_list(owl_catalog *c, const char *tenant, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err);

/* owl_sketch_merge_encoded (sketch.c) — merges the sketch encoded in p[0..n) into dst, as
 * owl_sketch_decode then owl_sketch_merge would (the same dst to the bit) without building
 * the decoded sketch. OWL_ECORRUPT (dst unchanged), OWL_ENOMEM. */
int owl_sketch_merge_encoded(owl_sketch *dst, const void *p, size_t n);

/* owl_sketch_pool (sketch.c) — sketches made in blocks and freed all at once, for callers
 * that make many and drop them together (the roller: one a window rolled). Zero-initialize
 * it ({0}). owl_sketch_pool_new — an empty sketch of p, or NULL when out of memory; it is
 * never given to owl_sketch_free. owl_sketch_pool_free — frees every sketch of p (p is then
 * empty again). */
typedef struct owl_sketch_pool {
    struct owl_sketch_block *blocks;
} owl_sketch_pool;

owl_sketch *owl_sketch_pool_new(owl_sketch_pool *p);
void owl_sketch_pool_free(owl_sketch_pool *p);

/* owl_sketch_clear (sketch.c) — empties s, keeping its memory for the values to come: the
 * same sketch as a new one, for a caller that builds many in turn. Cannot fail. */
void owl_sketch_clear(owl_sketch *s);

/* ---- merging rows into aggregates (metrics.c) ---- */

/* The figures of the rows of one (series, unit, period), merged. */
typedef struct owl_agg {
    double count, sum, min, max;
    owl_sketch *sk;
    const char *unit; /* canonical (static) */
    int flags, used;
    int single; /* holds one part only, a single value (sum) */
} owl_agg;

/* owl_agg_add — adds row r of a metrics-table batch (cols in the table's column order) to a;
 * sketch 0 leaves the distribution out (figures only). OWL_ENOMEM, OWL_ECORRUPT (a sketch
 * that does not decode). */
int owl_agg_add(owl_agg *a, const owl_cell *const *cols, size_t r, int sketch);

/* owl_metric_unit_stored — what a row stores for a canonical unit: "" for None. */
const char *owl_metric_unit_stored(const char *canon);

/* owl_metrics_scan_raw — fn over the raw level's rows of tenant in [t0, t1) (every column,
 * in the table's order). owl_metrics_raw_keep_ms — how far back the raw level answers. */
int owl_metrics_scan_raw(owl_metrics *m, const char *tenant, int64_t t0, int64_t t1,
                         owl_scan_fn fn, void *ud, owl_error *err);
int64_t owl_metrics_raw_keep_ms(const owl_metrics *m);

/* ---- recent buckets of watched series (recent.c) ---- */

typedef struct owl_recent owl_recent;

int owl_recent_new(owl_recent **out);
void owl_recent_free(owl_recent *r); /* accepts NULL; frees every watch left */

/* owl_recent_watch, owl_recent_unwatch, owl_recent_gen, owl_recent_visit — the work of
 * owl_metrics_watch, owl_metrics_unwatch, owl_watch_gen and owl_watch_visit. */
int owl_recent_watch(owl_recent *r, const char *tenant, const owl_metric_id *id,
                     const char *unit, int period_s, size_t nperiods, int sketches,
                     owl_watch **out, owl_error *err);
void owl_recent_unwatch(owl_recent *r, owl_watch *w);
uint64_t owl_recent_gen(owl_recent *r, const owl_watch *w);
void owl_recent_visit(owl_recent *r, owl_watch *w, int64_t start_ms, size_t n,
                      void (*fn)(void *ud, size_t k, const owl_bucket *b), void *ud);

/* owl_recent_fold — adds the rows just stored for tenant (a metrics-table batch of the raw
 * level) to the watches of their series; now_ms is the put's clock. Called with the
 * metrics module's roll lock held shared. Returns whether any watch took a row. */
int owl_recent_fold(owl_recent *r, const char *tenant, const owl_cell *const *cols,
                    size_t nrows, int64_t now_ms);

/* owl_recent_unbound — whether some watch waits for its series to exist (read without a
 * lock: a put that registered series wakes the evaluator only then). */
int owl_recent_unbound(owl_recent *r);

/* owl_recent_sync — owl_metrics_watch_sync's work; the caller holds the roll lock
 * exclusively, so no fold runs. At most budget_ns spent (0: no bound); *more says whether
 * watches are left to fill. */
int owl_recent_sync(owl_recent *r, owl_metrics *m, owl_catalog *cat, int64_t now_ms,
                    int64_t budget_ns, int *more, owl_error *err);

#endif

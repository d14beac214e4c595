/* metrics.h — owld's self-metrics, rendered in the Prometheus text exposition format at
 * GET /metrics: requests by action and status, a latency histogram per action, bytes in and
 * out, open connections. Recording is thread-safe and cheap (one short critical section). */
#ifndef OWL_METRICS_H
#define OWL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/index.h"

typedef struct owl_metrics owl_metrics;

/* owl_metrics_new — OWL_OK or OWL_ENOMEM. Free with owl_metrics_free. */
int owl_metrics_new(owl_metrics **out);

/* owl_metrics_free — accepts NULL. */
void owl_metrics_free(owl_metrics *m);

/* owl_metrics_observe — counts one finished request. action NULL counts as "none" (requests
 * the HTTP layer answered itself). At most 256 distinct actions are tracked; more are
 * counted as "other". */
void owl_metrics_observe(owl_metrics *m, const char *action, int status, size_t bytes_in,
                         size_t bytes_out, int64_t duration_ns);

/* Extra gauges sampled at render time. */
typedef struct owl_metrics_gauges {
    long open_connections;
    size_t meta_records;
    uint64_t audit_events;
} owl_metrics_gauges;

/* owl_metrics_render — appends the exposition text to out. OWL_OK or OWL_ENOMEM. */
int owl_metrics_render(owl_metrics *m, const owl_metrics_gauges *g, owl_buf *out);

/* owl_metrics_render_store — appends the store's figures: per table rows, raw bytes,
 * stored bytes and parts (summed over tenants and partitions), and store-wide WAL bytes,
 * fsyncs, compactions and quarantined parts. */
int owl_metrics_render_store(owl_store *st, owl_buf *out);

#endif

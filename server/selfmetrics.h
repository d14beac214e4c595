/* selfmetrics.h — owld's self-metrics, rendered in the Prometheus text exposition format at
 * GET /metrics: requests by action and status, a latency histogram per action, bytes in and
 * out, open connections. Recording is thread-safe and cheap (one short critical section). */
#ifndef OWL_SELFMETRICS_H
#define OWL_SELFMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/index.h"

typedef struct owl_selfmetrics owl_selfmetrics;

/* owl_selfmetrics_new — OWL_OK or OWL_ENOMEM. Free with owl_selfmetrics_free. */
int owl_selfmetrics_new(owl_selfmetrics **out);

/* owl_selfmetrics_free — accepts NULL. */
void owl_selfmetrics_free(owl_selfmetrics *m);

/* owl_selfmetrics_observe — counts one finished request. action NULL counts as "none" (requests
 * the HTTP layer answered itself). At most 256 distinct actions are tracked; more are
 * counted as "other". */
void owl_selfmetrics_observe(owl_selfmetrics *m, const char *action, int status, size_t bytes_in,
                             size_t bytes_out, int64_t duration_ns);

/* Extra gauges sampled at render time. */
typedef struct owl_selfmetrics_gauges {
    long open_connections;
    size_t meta_records;
    uint64_t audit_events;
} owl_selfmetrics_gauges;

/* owl_selfmetrics_render — appends the exposition text to out. OWL_OK or OWL_ENOMEM. */
int owl_selfmetrics_render(owl_selfmetrics *m, const owl_selfmetrics_gauges *g, owl_buf *out);

/* owl_selfmetrics_render_store — appends the store's figures: per table rows, raw bytes,
 * stored bytes and parts (summed over tenants and partitions), and store-wide WAL bytes,
 * fsyncs, compactions and quarantined parts. */
int owl_selfmetrics_render_store(owl_store *st, owl_buf *out);

#endif

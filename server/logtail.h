/* logtail.h — live tail of CloudWatch Logs: a hub of subscribed streams that the logs module
 * tells of every stored batch (owl_logs_set_sink), and the route GET /api/v1/logs/tail.
 *
 * Each subscriber is a detached SSE stream (server/http.h) of one tenant's log group, with an
 * optional exact stream name and a compiled filter pattern (owl_fpat). Publishing first reads
 * an atomic subscriber count, so puts cost one load when nobody tails; otherwise each event
 * is formatted once and queued on every matching stream without waiting for any socket (a full
 * stream drops it and the reader is told, `event: dropped`). Subscribers whose connection
 * ended are released on the next publish. Same design as the audit tail (server/tail.h). */
#ifndef OWL_LOGTAIL_H
#define OWL_LOGTAIL_H

#include <stddef.h>
#include <stdint.h>

#include "server/http.h"
#include "server/router.h"

typedef struct owl_logtail owl_logtail;

/* owl_logtail_new — an empty hub. OWL_OK or OWL_ENOMEM. */
int owl_logtail_new(owl_logtail **out);

/* owl_logtail_free — closes and releases every subscribed stream. Accepts NULL. Nothing may
 * publish to t any more (remove the logs sink first). */
void owl_logtail_free(owl_logtail *t);

/* owl_logtail_subscribe — adds stream for the events of tenant's log group `group`, only
 * those of log stream `stream` when not NULL, only those whose message matches `pattern`
 * when not NULL (the hub takes ownership of pattern on OWL_OK). Takes over the caller's stream
 * reference on OWL_OK; on error (OWL_EINVAL for a name too long, OWL_ENOMEM) both stay with
 * the caller. Thread-safe. */
int owl_logtail_subscribe(owl_logtail *t, owl_http_stream *stream, const char *tenant,
                          const char *group, const char *stream_name, owl_fpat *pattern);

/* owl_logtail_publish — an owl_logs_sink_fn (ud = the hub): sends each of ev[0..n) as
 * "event: log" with data {timestamp, ingestionTime, logStreamName, message[, severity,
 * traceId, spanId]} to every matching subscriber and releases those whose connection ended.
 * Returns at once when nobody is subscribed. Thread-safe; never waits for a socket. */
void owl_logtail_publish(void *ud, const char *tenant, const char *group, const char *stream,
                         const owl_log_event *ev, size_t n, int64_t ingest_ms);

/* owl_logtail_subscribers — streams subscribed now (some may have ended since the last
 * publish). */
size_t owl_logtail_subscribers(owl_logtail *t);

/* The route table: GET /api/v1/logs/tail (logs:StartLiveTail). */
extern const owl_route_table owl_logtail_routes;

#endif

/* tail.h — live tail of the audit trail: a hub of subscribed streams that owld publishes
 * every recorded audit event to, and the route GET /api/v1/audit/tail that subscribes.
 *
 * Each subscriber is a detached SSE stream (server/http.h) of one tenant with an optional
 * exact action filter. Publishing formats the event once and queues it on each matching
 * stream without waiting for any socket; a stream that is full drops it (the HTTP layer
 * counts it and tells the reader). Subscribers whose connection ended are released on the
 * next publish. */
#ifndef OWL_TAIL_H
#define OWL_TAIL_H

#include <stddef.h>

#include "server/audit.h"
#include "server/http.h"
#include "server/router.h"

typedef struct owl_tail owl_tail;

/* owl_tail_new — an empty hub. OWL_OK or OWL_ENOMEM. */
int owl_tail_new(owl_tail **out);

/* owl_tail_free — closes and releases every subscribed stream. Accepts NULL. */
void owl_tail_free(owl_tail *t);

/* owl_tail_subscribe — adds stream for tenant's events (action: exact filter, or NULL).
 * Takes over the caller's stream reference on OWL_OK; on error (OWL_EINVAL for a tenant or
 * action too long, OWL_ENOMEM) the reference stays with the caller. */
int owl_tail_subscribe(owl_tail *t, owl_http_stream *stream, const char *tenant,
                       const char *action);

/* owl_tail_publish — sends ev as "event: audit" to every matching subscriber and releases
 * those whose connection ended. Thread-safe; never waits for a socket. t may be NULL. */
void owl_tail_publish(owl_tail *t, const owl_audit_event *ev);

/* owl_tail_subscribers — streams subscribed now (some may have ended since the last
 * publish). */
size_t owl_tail_subscribers(owl_tail *t);

/* The route table: GET /api/v1/audit/tail (audit:TailEvents). */
extern const owl_route_table owl_tail_routes;

#endif

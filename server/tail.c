/* tail.c — the live audit tail: a mutex-guarded array of subscribers fanned out to on each
 * audit event, and the GET /api/v1/audit/tail handler that detaches its response as an SSE
 * stream and subscribes it.
 *
 * Lock order: the hub's mutex, then a stream's (inside owl_http_stream_write); the HTTP
 * layer never calls back into the hub, so a worker closing a stream cannot deadlock with a
 * publisher. */
#include "server/tail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/keys.h"
#include "server/policy.h"
#include "server/server.h"

typedef struct tail_sub {
    owl_http_stream *stream; /* the hub's reference */
    char tenant[OWL_TENANT_LEN + 1];
    char action[64];         /* "" = every action */
} tail_sub;

struct owl_tail {
    pthread_mutex_t mu;
    tail_sub *subs;
    size_t n, cap;
};

int owl_tail_new(owl_tail **out)
{
    owl_tail *t = calloc(1, sizeof *t);
    if (!t)
        return OWL_ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return OWL_OK;
}

void owl_tail_free(owl_tail *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        owl_http_stream_close(t->subs[i].stream);
        owl_http_stream_release(t->subs[i].stream);
    }
    free(t->subs);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int owl_tail_subscribe(owl_tail *t, owl_http_stream *stream, const char *tenant,
                       const char *action)
{
    if (!t || !stream || !tenant || strlen(tenant) > OWL_TENANT_LEN ||
        (action && strlen(action) >= sizeof ((tail_sub *)0)->action))
        return OWL_EINVAL;
    int rc = OWL_OK;
    pthread_mutex_lock(&t->mu);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tail_sub *s = realloc(t->subs, cap * sizeof *s);
        if (!s) {
            rc = OWL_ENOMEM;
            goto out;
        }
        t->subs = s;
        t->cap = cap;
    }
    tail_sub *u = &t->subs[t->n++];
    u->stream = stream;
    owl_strlcpy(u->tenant, tenant, sizeof u->tenant);
    owl_strlcpy(u->action, action ? action : "", sizeof u->action);
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

static int sub_matches(const tail_sub *u, const owl_audit_event *ev)
{
    return strcmp(u->tenant, ev->tenant) == 0 && (!u->action[0] || strcmp(u->action, ev->action) == 0);
}

void owl_tail_publish(owl_tail *t, const owl_audit_event *ev)
{
    if (!t || !ev)
        return;
    owl_buf json = OWL_BUF_INIT, sse = OWL_BUF_INIT;
    int formatted = 0, fmt_rc = OWL_OK;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n;) {
        tail_sub *u = &t->subs[i];
        int rc;
        if (sub_matches(u, ev)) {
            if (!formatted) { /* once per event, only when someone listens */
                formatted = 1;
                fmt_rc = owl_audit_event_json(&json, ev);
                if (fmt_rc == OWL_OK)
                    fmt_rc = owl_http_sse_format(&sse, "audit", json.data, json.len);
            }
            rc = fmt_rc == OWL_OK ? owl_http_stream_write(u->stream, sse.data, sse.len) : fmt_rc;
        } else {
            rc = owl_http_stream_write(u->stream, NULL, 0); /* only asks: still open? */
        }
        if (rc == OWL_ECLOSED) {
            owl_http_stream_release(u->stream);
            t->subs[i] = t->subs[--t->n];
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&t->mu);
    owl_buf_free(&json);
    owl_buf_free(&sse);
}

size_t owl_tail_subscribers(owl_tail *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ------------------------------------------------------------------ route */

static int audit_tail(owl_call *call)
{
    owl_server *s = call->srv;
    const owl_principal *p = call->principal;
    char action[64], asked[OWL_TENANT_LEN + 2];
    int ra = owl_query_param(call->req->query, "action", action, sizeof action);
    if (ra < 0) {
        owl_call_error(call, 400, "InvalidParameter", "action is too long or malformed");
        return OWL_EINVAL;
    }
    /* tenant= as on GET /api/v1/audit: 12 digits; another tenant needs the cross-tenant grant */
    int rt = owl_query_param(call->req->query, "tenant", asked, sizeof asked);
    if (rt < 0 || (rt > 0 && !owl_tenant_valid(asked))) {
        owl_call_error(call, 400, "InvalidParameter", "tenant must be 12 digits");
        return OWL_EINVAL;
    }
    const char *tenant = rt > 0 ? asked : p->tenant;
    if (strcmp(tenant, p->tenant) != 0 && !owl_keys_cross_tenant(s, p)) {
        owl_call_error(call, 403, "AccessDenied",
                       "key %s may tail its own tenant's audit trail only (another tenant "
                       "needs %s)", p->key_id, OWL_POLICY_CROSS_TENANT);
        return OWL_EINVAL;
    }
    snprintf(call->resource, sizeof call->resource, "tenant/%s", tenant);
    if (!s->tail) {
        owl_call_error(call, 503, "ServiceUnavailable", "the live tail is not available");
        return OWL_EINVAL;
    }
    owl_http_stream *st = owl_http_resp_detach_stream(call->resp, 200, "text/event-stream", NULL);
    if (!st) {
        owl_call_error(call, 500, "InternalError", "cannot start the event stream");
        return OWL_ENOMEM;
    }
    int rc = owl_tail_subscribe(s->tail, st, tenant, ra ? action : NULL);
    if (rc != OWL_OK) {
        /* the head is out: end the stream rather than answer with an error */
        owl_http_stream_close(st);
        owl_http_stream_release(st);
    }
    return rc;
}

static const owl_route tail_routes[] = {
    {.method = "GET", .pattern = "/api/v1/audit/tail", .action = "audit:TailEvents",
     .fn = audit_tail},
};

const owl_route_table owl_tail_routes = {tail_routes, OWL_ARRAY_LEN(tail_routes), NULL, 0};

/* logtail.c — the live tail of CloudWatch Logs: a mutex-guarded array of subscribers fanned out
 * to on each stored batch (the logs module's sink), and the GET /api/v1/logs/tail handler that
 * detaches its response as an SSE stream and subscribes it.
 *
 * Invariant: `n` (read atomically without the mutex) is never 0 while a subscriber is in the
 * array, so a publish that reads 0 may skip everything. Lock order: the hub's mutex, then a
 * stream's (inside owl_http_stream_write); the HTTP layer never calls back into the hub. */
#include "server/logtail.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

typedef struct lsub {
    owl_http_stream *stream; /* the hub's reference */
    char tenant[OWL_TENANT_LEN + 1];
    char *group;
    char *stream_name;       /* NULL = every stream of the group */
    owl_fpat *pat;           /* NULL = every event */
} lsub;

struct owl_logtail {
    pthread_mutex_t mu;
    lsub *subs;
    size_t cap;
    atomic_size_t n;         /* written under mu */
};

int owl_logtail_new(owl_logtail **out)
{
    owl_logtail *t = calloc(1, sizeof *t);
    if (!t)
        return OWL_ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    atomic_init(&t->n, 0);
    *out = t;
    return OWL_OK;
}

static void sub_free(lsub *u)
{
    owl_http_stream_release(u->stream);
    free(u->group);
    free(u->stream_name);
    owl_fpat_free(u->pat);
}

void owl_logtail_free(owl_logtail *t)
{
    if (!t)
        return;
    size_t n = atomic_load(&t->n);
    for (size_t i = 0; i < n; i++) {
        owl_http_stream_close(t->subs[i].stream);
        sub_free(&t->subs[i]);
    }
    free(t->subs);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int owl_logtail_subscribe(owl_logtail *t, owl_http_stream *stream, const char *tenant,
                          const char *group, const char *stream_name, owl_fpat *pattern)
{
    if (!t || !stream || !tenant || !group || strlen(tenant) > OWL_TENANT_LEN ||
        strlen(group) > OWL_LOGS_NAME_MAX ||
        (stream_name && strlen(stream_name) > OWL_LOGS_NAME_MAX))
        return OWL_EINVAL;
    lsub u = {.stream = stream, .group = strdup(group),
              .stream_name = stream_name ? strdup(stream_name) : NULL};
    if (!u.group || (stream_name && !u.stream_name)) {
        free(u.group);
        free(u.stream_name);
        return OWL_ENOMEM;
    }
    owl_strlcpy(u.tenant, tenant, sizeof u.tenant);
    int rc = OWL_OK;
    pthread_mutex_lock(&t->mu);
    size_t n = atomic_load(&t->n);
    if (n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        lsub *s = realloc(t->subs, cap * sizeof *s);
        if (!s) {
            rc = OWL_ENOMEM;
            goto out;
        }
        t->subs = s;
        t->cap = cap;
    }
    u.pat = pattern; /* owned from here on */
    t->subs[n] = u;
    atomic_store(&t->n, n + 1);
out:
    pthread_mutex_unlock(&t->mu);
    if (rc != OWL_OK) {
        free(u.group);
        free(u.stream_name);
    }
    return rc;
}

/* Appends ev as the event's JSON to json (reset first). */
static int event_json(owl_buf *json, const char *stream, const owl_log_event *e, int64_t ingest)
{
    static const uint8_t zero[16];
    char hex[33];
    owl_buf_reset(json);
    int rc = owl_buf_printf(json, "{\"timestamp\":%lld,\"ingestionTime\":%lld,\"logStreamName\":",
                            (long long)e->time_ms, (long long)ingest);
    if (rc == OWL_OK)
        rc = owl_buf_json_str(json, stream, strlen(stream));
    if (rc == OWL_OK)
        rc = owl_buf_append(json, ",\"message\":", 11);
    if (rc == OWL_OK)
        rc = owl_buf_json_str(json, (const char *)e->message.p, e->message.n);
    if (rc == OWL_OK && e->severity.n) {
        rc = owl_buf_append(json, ",\"severity\":", 12);
        if (rc == OWL_OK)
            rc = owl_buf_json_str(json, (const char *)e->severity.p, e->severity.n);
    }
    if (rc == OWL_OK && memcmp(e->trace_id, zero, 16) != 0) {
        owl_hex(e->trace_id, 16, hex);
        rc = owl_buf_printf(json, ",\"traceId\":\"%s\"", hex);
    }
    if (rc == OWL_OK && memcmp(e->span_id, zero, 8) != 0) {
        owl_hex(e->span_id, 8, hex);
        rc = owl_buf_printf(json, ",\"spanId\":\"%s\"", hex);
    }
    if (rc == OWL_OK)
        rc = owl_buf_putc(json, '}');
    return rc;
}

static int sub_wants(const lsub *u, const char *tenant, const char *group, const char *stream)
{
    return strcmp(u->tenant, tenant) == 0 && strcmp(u->group, group) == 0 &&
           (!u->stream_name || strcmp(u->stream_name, stream) == 0);
}

void owl_logtail_publish(void *ud, const char *tenant, const char *group, const char *stream,
                         const owl_log_event *ev, size_t n, int64_t ingest_ms)
{
    owl_logtail *t = ud;
    /* the one cost of a put nobody tails */
    if (!t || atomic_load_explicit(&t->n, memory_order_relaxed) == 0)
        return;
    owl_buf json = OWL_BUF_INIT, sse = OWL_BUF_INIT;
    pthread_mutex_lock(&t->mu);
    size_t ns = atomic_load(&t->n);
    for (size_t k = 0; k < ns;) {
        lsub *u = &t->subs[k];
        int rc = OWL_OK;
        if (!sub_wants(u, tenant, group, stream)) {
            rc = owl_http_stream_write(u->stream, NULL, 0); /* only asks: still open? */
        } else {
            /* the batch is formatted per subscriber: patterns differ, and a batch usually
             * has one reader */
            owl_buf_reset(&sse);
            for (size_t i = 0; i < n && rc == OWL_OK; i++) {
                const owl_log_event *e = &ev[i];
                if (u->pat && !owl_fpat_match(u->pat, (const char *)e->message.p, e->message.n))
                    continue;
                rc = event_json(&json, stream, e, ingest_ms);
                if (rc == OWL_OK)
                    rc = owl_http_sse_format(&sse, "log", json.data, json.len);
                if (rc == OWL_OK) {
                    /* one write per event: a full buffer drops (and counts) single events */
                    rc = owl_http_stream_write(u->stream, sse.data, sse.len);
                    owl_buf_reset(&sse);
                    if (rc == OWL_EAGAIN)
                        rc = OWL_OK;
                }
            }
        }
        if (rc == OWL_ECLOSED) {
            sub_free(u);
            t->subs[k] = t->subs[--ns];
            atomic_store(&t->n, ns);
            continue;
        }
        k++;
    }
    pthread_mutex_unlock(&t->mu);
    owl_buf_free(&json);
    owl_buf_free(&sse);
}

size_t owl_logtail_subscribers(owl_logtail *t)
{
    return t ? atomic_load(&t->n) : 0;
}

/* ------------------------------------------------------------------ route */

static int logs_tail(owl_call *call)
{
    owl_server *s = call->srv;
    const char *q = call->req->query;
    char group[OWL_LOGS_NAME_MAX + 1], stream[OWL_LOGS_NAME_MAX + 1];
    char pattern[OWL_FPAT_MAX_LEN + 1];
    int rg = owl_query_param(q, "group", group, sizeof group);
    int rs = owl_query_param(q, "stream", stream, sizeof stream);
    int rp = owl_query_param(q, "pattern", pattern, sizeof pattern);
    if (rg <= 0 || !owl_logs_group_name_ok(group)) {
        owl_call_error(call, 400, "InvalidParameter",
                       "group is required: a log group name of 1 to %d characters",
                       OWL_LOGS_NAME_MAX);
        return OWL_EINVAL;
    }
    snprintf(call->resource, sizeof call->resource, "log-group/%.240s", group);
    if (rs < 0 || (rs > 0 && !owl_logs_stream_name_ok(stream))) {
        owl_call_error(call, 400, "InvalidParameter",
                       "stream must be a log stream name of 1 to %d bytes", OWL_LOGS_NAME_MAX);
        return OWL_EINVAL;
    }
    if (rp < 0) {
        owl_call_error(call, 400, "InvalidParameter", "pattern must be at most %d bytes",
                       OWL_FPAT_MAX_LEN);
        return OWL_EINVAL;
    }
    owl_logs_group g;
    owl_error e = {0};
    int rc = owl_logs_get_group(s->logs, call->principal->tenant, group, &g, &e);
    if (rc != OWL_OK) {
        owl_call_error_from(call, rc, e.msg[0] ? e.msg : owl_strerror(rc));
        return rc;
    }
    owl_fpat *pat = NULL;
    if (rp > 0 && (rc = owl_fpat_compile(pattern, strlen(pattern), &pat, &e)) != OWL_OK) {
        owl_call_error(call, rc == OWL_EINVAL ? 400 : 500,
                       rc == OWL_EINVAL ? "InvalidParameter" : "InternalError",
                       "invalid pattern: %s", e.msg);
        return rc;
    }
    if (!s->logtail) {
        owl_fpat_free(pat);
        owl_call_error(call, 503, "ServiceUnavailable", "the live tail is not available");
        return OWL_EINVAL;
    }
    owl_http_stream *st = owl_http_resp_detach_stream(call->resp, 200, "text/event-stream", NULL);
    if (!st) {
        owl_fpat_free(pat);
        owl_call_error(call, 500, "InternalError", "cannot start the event stream");
        return OWL_ENOMEM;
    }
    rc = owl_logtail_subscribe(s->logtail, st, call->principal->tenant, group,
                               rs ? stream : NULL, pat);
    if (rc != OWL_OK) {
        /* the head is out: end the stream rather than answer with an error */
        owl_fpat_free(pat);
        owl_http_stream_close(st);
        owl_http_stream_release(st);
    }
    return rc;
}

static const owl_route logtail_routes[] = {
    {.method = "GET", .pattern = "/api/v1/logs/tail", .action = "logs:StartLiveTail",
     .fn = logs_tail},
};

const owl_route_table owl_logtail_routes = {logtail_routes, OWL_ARRAY_LEN(logtail_routes),
                                            NULL, 0};

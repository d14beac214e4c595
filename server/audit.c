/* audit.c — audit events as rows of the store's audit table, and the newest-first query
 * behind GET /api/v1/audit. A query scans the time range once and keeps the `limit + 1`
 * newest matching events in a min-heap, so memory stays bounded by the page size. */
#include "server/audit.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct owl_audit {
    owl_store *store;
    int retention_days;
    pthread_mutex_t mu;
    uint64_t recorded;
};

int owl_audit_open(owl_store *store, int retention_days, owl_audit **out, owl_error *err)
{
    owl_audit *a = calloc(1, sizeof *a);
    if (!a)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    a->store = store;
    a->retention_days = retention_days;
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return OWL_OK;
}

void owl_audit_close(owl_audit *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* The store keeps retention per partition and writes it only when it changes, so setting it
 * with every event costs a lookup (and keeps up with every tenant, however many). */
static void ensure_retention(owl_audit *a, const char *tenant)
{
    owl_error err = {0};
    if (owl_store_set_retention(a->store, "audit", tenant, "audit", a->retention_days, &err) !=
        OWL_OK)
        owl_warn("audit: retention for tenant %s not set: %s", tenant, err.msg);
}

static owl_bytes text(const char *s)
{
    return (owl_bytes){s, strlen(s)};
}

/* One event as a row of the audit table. */
static int event_row(owl_rowbuf *rb, const owl_audit_event *ev)
{
    static const struct {
        size_t col;
        size_t off;
    } texts[] = {
        {OWL_AUDIT_KEY_ID, offsetof(owl_audit_event, key_id)},
        {OWL_AUDIT_SOURCE, offsetof(owl_audit_event, source)},
        {OWL_AUDIT_USER_AGENT, offsetof(owl_audit_event, user_agent)},
        {OWL_AUDIT_ACTION, offsetof(owl_audit_event, action)},
        {OWL_AUDIT_RESOURCE, offsetof(owl_audit_event, resource)},
        {OWL_AUDIT_ERROR_CODE, offsetof(owl_audit_event, error_code)},
        {OWL_AUDIT_REQUEST_ID, offsetof(owl_audit_event, request_id)},
    };
    int rc = owl_rowbuf_begin_row(rb);
    rc = rc ? rc : owl_rowbuf_set_i64(rb, OWL_AUDIT_TIME, ev->time_ms);
    rc = rc ? rc : owl_rowbuf_set_i64(rb, OWL_AUDIT_STATUS, ev->status);
    rc = rc ? rc : owl_rowbuf_set_i64(rb, OWL_AUDIT_DURATION_US, ev->duration_us);
    for (size_t i = 0; i < OWL_ARRAY_LEN(texts) && rc == OWL_OK; i++) {
        const char *v = (const char *)ev + texts[i].off;
        rc = owl_rowbuf_set_bytes(rb, texts[i].col, v, strlen(v));
    }
    return rc ? rc : owl_rowbuf_end_row(rb);
}

int owl_audit_record(owl_audit *a, const owl_audit_event *ev, owl_error *err)
{
    const char *tenant = ev->tenant[0] ? ev->tenant : OWL_AUDIT_NO_TENANT;
    ensure_retention(a, tenant);
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, &owl_audit_schema);
    int rc = event_row(&rb, ev);
    if (rc != OWL_OK)
        owl_error_set(err, rc, "audit: out of memory");
    else
        rc = owl_store_append(a->store, "audit", tenant, "audit", owl_rowbuf_rows(&rb), err);
    owl_rowbuf_free(&rb);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&a->mu);
        a->recorded++;
        pthread_mutex_unlock(&a->mu);
    }
    return rc;
}

uint64_t owl_audit_count(owl_audit *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->recorded;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* ---- query ---- */

/* Order: newer first, then larger request id first. cmp > 0 when x comes before y. */
static int order(const owl_audit_event *x, const owl_audit_event *y)
{
    if (x->time_ms != y->time_ms)
        return x->time_ms > y->time_ms ? 1 : -1;
    return strcmp(x->request_id, y->request_id);
}

struct query_ctx {
    const owl_audit_query *q;
    const char *tenant;
    int have_token;
    owl_audit_event token; /* only time_ms and request_id used */
    owl_audit_event *heap; /* min-heap by order(): heap[0] is the last of those kept */
    size_t n, cap;
};

static void copy_bytes(char *dst, size_t dstsz, const owl_bytes *b)
{
    size_t n = b->n < dstsz - 1 ? b->n : dstsz - 1;
    memcpy(dst, b->p, n);
    dst[n] = '\0';
}

static void heap_swap(owl_audit_event *a, owl_audit_event *b)
{
    owl_audit_event t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(struct query_ctx *c, const owl_audit_event *ev)
{
    if (c->n < c->cap) {
        size_t i = c->n++;
        c->heap[i] = *ev;
        while (i && order(&c->heap[i], &c->heap[(i - 1) / 2]) < 0) {
            heap_swap(&c->heap[i], &c->heap[(i - 1) / 2]);
            i = (i - 1) / 2;
        }
        return;
    }
    if (order(ev, &c->heap[0]) <= 0)
        return;
    c->heap[0] = *ev;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n && order(&c->heap[l], &c->heap[m]) < 0)
            m = l;
        if (r < c->n && order(&c->heap[r], &c->heap[m]) < 0)
            m = r;
        if (m == i)
            break;
        heap_swap(&c->heap[i], &c->heap[m]);
        i = m;
    }
}

static int collect(void *ud, const owl_batch *b)
{
    struct query_ctx *c = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        owl_audit_event ev;
        memset(&ev, 0, sizeof ev);
        ev.time_ms = b->cols[OWL_AUDIT_TIME][r].i;
        copy_bytes(ev.request_id, sizeof ev.request_id, &b->cols[OWL_AUDIT_REQUEST_ID][r].b);
        if (c->have_token && order(&ev, &c->token) >= 0)
            continue;
        if (strcmp(b->tenant, OWL_AUDIT_NO_TENANT) != 0)
            owl_strlcpy(ev.tenant, b->tenant, sizeof ev.tenant);
        copy_bytes(ev.key_id, sizeof ev.key_id, &b->cols[OWL_AUDIT_KEY_ID][r].b);
        copy_bytes(ev.source, sizeof ev.source, &b->cols[OWL_AUDIT_SOURCE][r].b);
        copy_bytes(ev.user_agent, sizeof ev.user_agent, &b->cols[OWL_AUDIT_USER_AGENT][r].b);
        copy_bytes(ev.action, sizeof ev.action, &b->cols[OWL_AUDIT_ACTION][r].b);
        copy_bytes(ev.resource, sizeof ev.resource, &b->cols[OWL_AUDIT_RESOURCE][r].b);
        ev.status = (int)b->cols[OWL_AUDIT_STATUS][r].i;
        copy_bytes(ev.error_code, sizeof ev.error_code, &b->cols[OWL_AUDIT_ERROR_CODE][r].b);
        ev.duration_us = b->cols[OWL_AUDIT_DURATION_US][r].i;
        heap_push(c, &ev);
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    return order((const owl_audit_event *)b, (const owl_audit_event *)a);
}

static void event_json(owl_buf *o, const owl_audit_event *ev)
{
    char t[40];
    owl_time_format_rfc3339(ev->time_ms, t, sizeof t);
    owl_buf_printf(o, "{\"event_time\":\"%s\",\"event_id\":", t);
    owl_buf_json_str(o, ev->request_id, strlen(ev->request_id));
    owl_buf_puts(o, ",\"tenant\":");
    owl_buf_json_str(o, ev->tenant, strlen(ev->tenant));
    owl_buf_puts(o, ",\"key_id\":");
    owl_buf_json_str(o, ev->key_id, strlen(ev->key_id));
    owl_buf_puts(o, ",\"source_ip\":");
    owl_buf_json_str(o, ev->source, strlen(ev->source));
    owl_buf_puts(o, ",\"user_agent\":");
    owl_buf_json_str(o, ev->user_agent, strlen(ev->user_agent));
    owl_buf_puts(o, ",\"action\":");
    owl_buf_json_str(o, ev->action, strlen(ev->action));
    owl_buf_puts(o, ",\"resource\":");
    owl_buf_json_str(o, ev->resource, strlen(ev->resource));
    owl_buf_printf(o, ",\"status\":%d,\"error_code\":", ev->status);
    owl_buf_json_str(o, ev->error_code, strlen(ev->error_code));
    owl_buf_printf(o, ",\"duration_ms\":%.3f}", (double)ev->duration_us / 1000.0);
}

/* next_token is "<epoch ms>.<request id>" of the last event of the previous page. */
static int parse_token(const char *tok, owl_audit_event *out)
{
    char *end;
    long long t = strtoll(tok, &end, 10);
    if (end == tok || *end != '.' || strlen(end + 1) >= sizeof out->request_id)
        return OWL_EINVAL;
    out->time_ms = t;
    owl_strlcpy(out->request_id, end + 1, sizeof out->request_id);
    return OWL_OK;
}

int owl_audit_query_json(owl_audit *a, const owl_audit_query *q, owl_buf *o, owl_error *err)
{
    struct query_ctx c = {.q = q, .cap = q->limit + 1};
    if (q->next_token) {
        if (parse_token(q->next_token, &c.token) != OWL_OK)
            return owl_error_set(err, OWL_EINVAL, "next_token is not valid");
        c.have_token = 1;
    }
    c.heap = calloc(c.cap, sizeof *c.heap);
    if (!c.heap)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    owl_pred preds[2];
    size_t np = 0;
    if (q->action)
        preds[np++] = (owl_pred){.col = OWL_AUDIT_ACTION, .op = OWL_PRED_EQ, .lo.b = text(q->action)};
    if (q->key_id)
        preds[np++] = (owl_pred){.col = OWL_AUDIT_KEY_ID, .op = OWL_PRED_EQ, .lo.b = text(q->key_id)};
    size_t cols[OWL_AUDIT_NCOLS];
    for (size_t i = 0; i < OWL_AUDIT_NCOLS; i++)
        cols[i] = i;
    const char *parts[] = {"audit"};
    const char *tenants[2] = {q->tenant, OWL_AUDIT_NO_TENANT};
    int rc = OWL_OK;
    for (int t = 0; t < (q->include_untenanted ? 2 : 1) && rc == OWL_OK; t++) {
        owl_scan s = {
            .table = "audit", .tenant = tenants[t], .partitions = parts, .npartitions = 1,
            .start = q->start_ms, .end = q->end_ms == INT64_MAX ? INT64_MAX : q->end_ms + 1,
            .cols = cols, .ncols = OWL_AUDIT_NCOLS, .preds = preds, .npreds = np, .fn = collect, .ud = &c,
        };
        rc = owl_store_scan(a->store, &s, NULL, err);
    }
    if (rc == OWL_OK) {
        qsort(c.heap, c.n, sizeof *c.heap, cmp_desc);
        size_t shown = c.n < q->limit ? c.n : q->limit;
        owl_buf_puts(o, "{\"events\":[");
        for (size_t i = 0; i < shown; i++) {
            if (i)
                owl_buf_putc(o, ',');
            event_json(o, &c.heap[i]);
        }
        owl_buf_putc(o, ']');
        if (c.n > q->limit)
            owl_buf_printf(o, ",\"next_token\":\"%lld.%s\"", (long long)c.heap[shown - 1].time_ms,
                           c.heap[shown - 1].request_id);
        owl_buf_putc(o, '}');
        if (!o->data)
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    free(c.heap);
    return rc;
}

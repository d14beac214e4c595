/* audit.c — audit events as rows of the store's audit table, and the newest-first query
 * behind GET /api/v1/audit. A page is an ordered scan (newest first, limit, resume cursor) of
 * each tenant asked for; with the untenanted events too, the two pages are merged and the
 * cursor of the last event shown resumes both. next_token is that cursor as text. */
#include "server/audit.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 1024 /* failure groups held in memory at most */

struct owl_audit {
    owl_store *store;
    int retention_days;
    pthread_mutex_t mu;
    uint64_t recorded;
    int failing;                         /* the last append failed; under mu */
    pthread_mutex_t groups_mu;           /* the failure groups; taken before mu */
    owl_audit_event groups[MAX_GROUPS];  /* pending, count >= 1 each */
    size_t ngroups;
};

int owl_audit_open(owl_store *store, int retention_days, owl_audit **out, owl_error *err)
{
    owl_audit *a = calloc(1, sizeof *a);
    if (!a)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    a->store = store;
    a->retention_days = retention_days;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->groups_mu, NULL);
    *out = a;
    return OWL_OK;
}

void owl_audit_close(owl_audit *a)
{
    if (!a)
        return;
    owl_error err = {0};
    if (owl_audit_flush(a, INT64_MAX, &err) != OWL_OK)
        owl_errorf("audit: failed authentications not written at close: %s", err.msg);
    pthread_mutex_destroy(&a->groups_mu);
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
    rc = rc ? rc : owl_rowbuf_set_i64(rb, OWL_AUDIT_COUNT, ev->count > 1 ? ev->count : 0);
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
    pthread_mutex_lock(&a->mu);
    if (rc == OWL_OK)
        a->recorded++;
    a->failing = rc != OWL_OK;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* flush_locked — writes the groups whose minute is before `minute` (all with INT64_MAX),
 * keeping the others (and any that failed) in order. Under groups_mu. */
static int flush_locked(owl_audit *a, int64_t minute, owl_error *err)
{
    int rc = OWL_OK;
    size_t keep = 0;
    for (size_t i = 0; i < a->ngroups; i++) {
        owl_audit_event *g = &a->groups[i];
        if (g->time_ms / 60000 < minute && rc == OWL_OK)
            rc = owl_audit_record(a, g, err);
        if (g->time_ms / 60000 >= minute || rc != OWL_OK)
            a->groups[keep++] = *g;
    }
    a->ngroups = keep;
    return rc;
}

int owl_audit_flush(owl_audit *a, int64_t now_ms, owl_error *err)
{
    pthread_mutex_lock(&a->groups_mu);
    int rc = flush_locked(a, now_ms == INT64_MAX ? INT64_MAX : now_ms / 60000, err);
    pthread_mutex_unlock(&a->groups_mu);
    return rc;
}

int owl_audit_record_failure(owl_audit *a, const owl_audit_event *ev, owl_error *err)
{
    int64_t minute = ev->time_ms / 60000;
    pthread_mutex_lock(&a->groups_mu);
    int rc = flush_locked(a, minute, err);
    if (a->ngroups == MAX_GROUPS) { /* full of this minute's groups: write them all now */
        int frc = flush_locked(a, INT64_MAX, err);
        rc = rc ? rc : frc;
    }
    size_t i = 0;
    for (; i < a->ngroups; i++) {
        const owl_audit_event *g = &a->groups[i];
        if (g->time_ms / 60000 == minute && strcmp(g->source, ev->source) == 0 &&
            strcmp(g->key_id, ev->key_id) == 0)
            break;
    }
    if (i < a->ngroups) {
        a->groups[i].count++;
    } else if (a->ngroups < MAX_GROUPS) {
        a->groups[a->ngroups] = *ev;
        a->groups[a->ngroups++].count = 1;
    } else { /* the store refuses writes and the table is full: the event is written alone
              * (and will most likely fail too; the caller logs it) */
        pthread_mutex_unlock(&a->groups_mu);
        int wrc = owl_audit_record(a, ev, err);
        return rc ? rc : wrc;
    }
    pthread_mutex_unlock(&a->groups_mu);
    return rc;
}

int owl_audit_failing(owl_audit *a)
{
    pthread_mutex_lock(&a->mu);
    int f = a->failing;
    pthread_mutex_unlock(&a->mu);
    return f;
}

uint64_t owl_audit_count(owl_audit *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->recorded;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* ---- query ---- */

/* One tenant's page: events newest first, with their scan keys. */
struct page {
    owl_audit_event *ev;
    uint64_t *keys;
    size_t n, cap;
};

static void copy_bytes(char *dst, size_t dstsz, const owl_bytes *b)
{
    size_t n = b->n < dstsz - 1 ? b->n : dstsz - 1;
    memcpy(dst, b->p, n);
    dst[n] = '\0';
}

static int collect(void *ud, const owl_batch *b)
{
    struct page *pg = ud;
    if (pg->n + b->nrows > pg->cap) { /* the limit bounds it: a scan returns at most limit */
        size_t cap = pg->n + b->nrows;
        owl_audit_event *ev = realloc(pg->ev, cap * sizeof *ev);
        if (ev)
            pg->ev = ev;
        uint64_t *keys = realloc(pg->keys, cap * sizeof *keys);
        if (keys)
            pg->keys = keys;
        if (!ev || !keys)
            return OWL_ENOMEM;
        pg->cap = cap;
    }
    for (size_t r = 0; r < b->nrows; r++) {
        owl_audit_event *ev = &pg->ev[pg->n];
        memset(ev, 0, sizeof *ev);
        ev->time_ms = b->cols[OWL_AUDIT_TIME][r].i;
        if (strcmp(b->tenant, OWL_AUDIT_NO_TENANT) != 0)
            owl_strlcpy(ev->tenant, b->tenant, sizeof ev->tenant);
        copy_bytes(ev->request_id, sizeof ev->request_id, &b->cols[OWL_AUDIT_REQUEST_ID][r].b);
        copy_bytes(ev->key_id, sizeof ev->key_id, &b->cols[OWL_AUDIT_KEY_ID][r].b);
        copy_bytes(ev->source, sizeof ev->source, &b->cols[OWL_AUDIT_SOURCE][r].b);
        copy_bytes(ev->user_agent, sizeof ev->user_agent, &b->cols[OWL_AUDIT_USER_AGENT][r].b);
        copy_bytes(ev->action, sizeof ev->action, &b->cols[OWL_AUDIT_ACTION][r].b);
        copy_bytes(ev->resource, sizeof ev->resource, &b->cols[OWL_AUDIT_RESOURCE][r].b);
        ev->status = (int)b->cols[OWL_AUDIT_STATUS][r].i;
        copy_bytes(ev->error_code, sizeof ev->error_code, &b->cols[OWL_AUDIT_ERROR_CODE][r].b);
        ev->duration_us = b->cols[OWL_AUDIT_DURATION_US][r].i;
        ev->count = b->cols[OWL_AUDIT_COUNT][r].i;
        pg->keys[pg->n++] = b->keys[r];
    }
    return 0;
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
    owl_buf_printf(o, ",\"duration_ms\":%.3f", (double)ev->duration_us / 1000.0);
    if (ev->count > 1)
        owl_buf_printf(o, ",\"count\":%lld", (long long)ev->count);
    owl_buf_putc(o, '}');
}

/* 1 when event i of page a comes before event j of page b (newest first, then larger key:
 * the scan's DESC order). */
static int newer(const struct page *a, size_t i, const struct page *b, size_t j)
{
    if (a->ev[i].time_ms != b->ev[j].time_ms)
        return a->ev[i].time_ms > b->ev[j].time_ms;
    return a->keys[i] > b->keys[j];
}

/* Writes the first `limit` events of the merged pages and the cursor after the last one
 * shown (its count includes the cursor's own when the position did not move). */
static void write_page(owl_buf *o, struct page *pg, size_t npg, size_t limit, int more,
                       const owl_scan_cursor *after)
{
    size_t at[2] = {0, 0}, shown = 0;
    owl_scan_cursor next = {0, 0, 0, OWL_ORDER_DESC};
    if (after)
        next = *after;
    owl_buf_puts(o, "{\"events\":[");
    while (shown < limit) {
        int k = -1;
        for (size_t p = 0; p < npg; p++)
            if (at[p] < pg[p].n && (k < 0 || newer(&pg[p], at[p], &pg[k], at[k])))
                k = (int)p;
        if (k < 0)
            break;
        const owl_audit_event *ev = &pg[k].ev[at[k]];
        uint64_t key = pg[k].keys[at[k]++];
        if (shown++)
            owl_buf_putc(o, ',');
        event_json(o, ev);
        if (next.count && next.time == ev->time_ms && next.key == key)
            next.count++;
        else
            next = (owl_scan_cursor){ev->time_ms, key, 1, OWL_ORDER_DESC};
    }
    for (size_t p = 0; p < npg; p++)
        more |= at[p] < pg[p].n;
    owl_buf_putc(o, ']');
    if (more && shown) {
        char tok[OWL_SCAN_CURSOR_TEXT];
        owl_scan_cursor_format(&next, tok);
        owl_buf_printf(o, ",\"next_token\":\"%s\"", tok);
    }
    owl_buf_putc(o, '}');
}

int owl_audit_query_json(owl_audit *a, const owl_audit_query *q, owl_buf *o, owl_error *err)
{
    /* the pending failure groups first, so a lookup shows them (one row per group per
     * lookup at most: lookups are authenticated, so this does not amplify failures) */
    owl_error ferr = {0};
    if (owl_audit_flush(a, INT64_MAX, &ferr) != OWL_OK)
        owl_warn("audit: failed authentications not written before a lookup: %s", ferr.msg);
    owl_scan_cursor after;
    if (q->next_token && (owl_scan_cursor_parse(q->next_token, &after) != OWL_OK ||
                          after.order != OWL_ORDER_DESC))
        return owl_error_set(err, OWL_EINVAL, "next_token is not valid");
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
    struct page pg[2];
    memset(pg, 0, sizeof pg);
    size_t npg = q->include_untenanted ? 2 : 1;
    int rc = OWL_OK, more = 0;
    /* each scan returns its tenant's first `limit` events after the cursor; the merged page
     * takes the first `limit` of both */
    for (size_t t = 0; t < npg && rc == OWL_OK; t++) {
        int m = 0;
        owl_scan s = {
            .table = "audit", .tenant = tenants[t], .partitions = parts, .npartitions = 1,
            .start = q->start_ms, .end = q->end_ms == INT64_MAX ? INT64_MAX : q->end_ms + 1,
            .cols = cols, .ncols = OWL_AUDIT_NCOLS, .preds = preds, .npreds = np, .fn = collect,
            .ud = &pg[t], .order = OWL_ORDER_DESC, .limit = q->limit,
            .after = q->next_token ? &after : NULL, .more = &m,
        };
        rc = owl_store_scan(a->store, &s, NULL, err);
        more |= m;
    }
    if (rc == OWL_OK) {
        write_page(o, pg, npg, q->limit, more, q->next_token ? &after : NULL);
        if (!o->data)
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    for (size_t t = 0; t < 2; t++)
        free(pg[t].ev), free(pg[t].keys);
    return rc;
}

int owl_audit_event_json(owl_buf *out, const owl_audit_event *ev)
{
    /* every field is bounded (about 600 bytes of text, at most 6 bytes each once escaped),
     * so with this room reserved event_json cannot fail half-way */
    if (owl_buf_reserve(out, 4096) != OWL_OK)
        return OWL_ENOMEM;
    event_json(out, ev);
    return OWL_OK;
}

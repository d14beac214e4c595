/* audit.c — the audit journal (format in audit.h) and its in-memory ring of recent events.
 * Invariant: the ring holds the newest events in seq order; ring[(head + i) % cap] is the
 * i-th oldest of `count`. One mutex serialises appends and queries. */
#include "server/audit.h"

#include <bson/bson.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUDIT_MAGIC "OWLAUDT"
#define AUDIT_VERSION 1
#define HEADER_SIZE 16
#define MAX_RECORD (64 * 1024)

struct owl_audit {
    pthread_mutex_t mu;
    int fd;
    char path[4096];
    off_t end;
    owl_audit_event *ring;
    size_t cap, head, count;
    uint64_t next_seq;
    uint64_t recorded;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void ring_push(owl_audit *a, const owl_audit_event *ev)
{
    if (a->count < a->cap) {
        a->ring[(a->head + a->count) % a->cap] = *ev;
        a->count++;
    } else {
        a->ring[a->head] = *ev;
        a->head = (a->head + 1) % a->cap;
    }
}

static void copy_str(char *dst, size_t dstsz, const bson_iter_t *it)
{
    uint32_t len = 0;
    const char *s = BSON_ITER_HOLDS_UTF8(it) ? bson_iter_utf8(it, &len) : "";
    if (len >= dstsz)
        len = (uint32_t)dstsz - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static int event_from_bson(const uint8_t *data, size_t n, owl_audit_event *ev)
{
    bson_t doc;
    bson_iter_t it;
    if (!bson_init_static(&doc, data, n) || !bson_validate(&doc, BSON_VALIDATE_NONE, NULL) ||
        !bson_iter_init(&it, &doc))
        return OWL_ECORRUPT;
    memset(ev, 0, sizeof *ev);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "seq")) ev->seq = (uint64_t)bson_iter_as_int64(&it);
        else if (!strcmp(k, "time")) ev->time_ms = bson_iter_as_int64(&it);
        else if (!strcmp(k, "tenant")) copy_str(ev->tenant, sizeof ev->tenant, &it);
        else if (!strcmp(k, "key_id")) copy_str(ev->key_id, sizeof ev->key_id, &it);
        else if (!strcmp(k, "source")) copy_str(ev->source, sizeof ev->source, &it);
        else if (!strcmp(k, "user_agent")) copy_str(ev->user_agent, sizeof ev->user_agent, &it);
        else if (!strcmp(k, "action")) copy_str(ev->action, sizeof ev->action, &it);
        else if (!strcmp(k, "resource")) copy_str(ev->resource, sizeof ev->resource, &it);
        else if (!strcmp(k, "status")) ev->status = (int)bson_iter_as_int64(&it);
        else if (!strcmp(k, "error")) copy_str(ev->error_code, sizeof ev->error_code, &it);
        else if (!strcmp(k, "request_id")) copy_str(ev->request_id, sizeof ev->request_id, &it);
        else if (!strcmp(k, "duration_us")) ev->duration_us = bson_iter_as_int64(&it);
    }
    return OWL_OK;
}

static void event_to_bson(const owl_audit_event *ev, bson_t *doc)
{
    BSON_APPEND_INT64(doc, "seq", (int64_t)ev->seq);
    BSON_APPEND_INT64(doc, "time", ev->time_ms);
    BSON_APPEND_UTF8(doc, "tenant", ev->tenant);
    BSON_APPEND_UTF8(doc, "key_id", ev->key_id);
    BSON_APPEND_UTF8(doc, "source", ev->source);
    BSON_APPEND_UTF8(doc, "user_agent", ev->user_agent);
    BSON_APPEND_UTF8(doc, "action", ev->action);
    BSON_APPEND_UTF8(doc, "resource", ev->resource);
    BSON_APPEND_INT32(doc, "status", ev->status);
    BSON_APPEND_UTF8(doc, "error", ev->error_code);
    BSON_APPEND_UTF8(doc, "request_id", ev->request_id);
    BSON_APPEND_INT64(doc, "duration_us", ev->duration_us);
}

/* Text fields may come from the network: keep them valid UTF-8 for BSON by replacing
 * anything outside printable ASCII. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

static int write_header(int fd, owl_error *err)
{
    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h, AUDIT_MAGIC, 8);
    put_u32(h + 8, AUDIT_VERSION);
    put_u32(h + 12, owl_crc32c(0, h, 12));
    if (pwrite(fd, h, HEADER_SIZE, 0) != HEADER_SIZE || ftruncate(fd, HEADER_SIZE) != 0 ||
        fdatasync(fd) != 0)
        return owl_error_set(err, owl_err_from_errno(errno), "audit: write header: %s",
                             strerror(errno));
    return OWL_OK;
}

/* Reads every record, keeping the newest in the ring; truncates a bad tail. */
static int load(owl_audit *a, owl_error *err)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0)
        return owl_error_set(err, OWL_EIO, "audit: stat: %s", strerror(errno));
    unsigned char h[HEADER_SIZE];
    if (st.st_size < HEADER_SIZE) {
        a->end = HEADER_SIZE;
        return write_header(a->fd, err);
    }
    if (pread(a->fd, h, HEADER_SIZE, 0) != HEADER_SIZE || memcmp(h, AUDIT_MAGIC, 8) != 0 ||
        get_u32(h + 12) != owl_crc32c(0, h, 12))
        return owl_error_set(err, OWL_ECORRUPT, "audit: %s has a bad header", a->path);
    if (get_u32(h + 8) != AUDIT_VERSION)
        return owl_error_set(err, OWL_EUNSUPPORTED, "audit: %s has version %u, this owld reads 1",
                             a->path, get_u32(h + 8));
    off_t off = HEADER_SIZE;
    unsigned char *rec = malloc(MAX_RECORD);
    if (!rec)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (;;) {
        unsigned char rh[8];
        if (pread(a->fd, rh, 8, off) != 8)
            break;
        uint32_t n = get_u32(rh);
        if (n < 5 || n > MAX_RECORD || pread(a->fd, rec, n, off + 8) != (ssize_t)n ||
            owl_crc32c(0, rec, n) != get_u32(rh + 4))
            break;
        owl_audit_event ev;
        if (event_from_bson(rec, n, &ev) != OWL_OK)
            break;
        ring_push(a, &ev);
        if (ev.seq >= a->next_seq)
            a->next_seq = ev.seq + 1;
        off += 8 + (off_t)n;
    }
    free(rec);
    if (off < st.st_size) {
        owl_warn("audit: dropping %lld bytes of torn or corrupt tail at offset %lld of %s",
                 (long long)(st.st_size - off), (long long)off, a->path);
        if (ftruncate(a->fd, off) != 0 || fdatasync(a->fd) != 0)
            return owl_error_set(err, OWL_EIO, "audit: truncate: %s", strerror(errno));
    }
    a->end = off;
    return OWL_OK;
}

int owl_audit_open(const char *data_dir, size_t max_events, owl_audit **out, owl_error *err)
{
    char dir[4000];
    int rc;
    owl_audit *a = calloc(1, sizeof *a);
    if (!a)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    a->fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    a->next_seq = 1;
    a->cap = max_events ? max_events : 1;
    a->ring = calloc(a->cap, sizeof *a->ring);
    if (!a->ring) {
        rc = owl_error_set(err, OWL_ENOMEM, "audit: out of memory for %zu events", a->cap);
        goto fail;
    }
    snprintf(dir, sizeof dir, "%s/audit", data_dir);
    if ((rc = owl_mkdir_p(dir, 0700, err)) != OWL_OK)
        goto fail;
    snprintf(a->path, sizeof a->path, "%s/audit.owa", dir);
    a->fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "audit: open %s: %s", a->path,
                           strerror(errno));
        goto fail;
    }
    if ((rc = load(a, err)) != OWL_OK)
        goto fail;
    *out = a;
    return OWL_OK;
fail:
    owl_audit_close(a);
    return rc;
}

void owl_audit_close(owl_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0) {
        fdatasync(a->fd);
        close(a->fd);
    }
    pthread_mutex_destroy(&a->mu);
    free(a->ring);
    free(a);
}

int owl_audit_record(owl_audit *a, owl_audit_event *ev, owl_error *err)
{
    int rc = OWL_OK;
    sanitize(ev->tenant), sanitize(ev->key_id), sanitize(ev->source);
    sanitize(ev->user_agent), sanitize(ev->action), sanitize(ev->resource);
    sanitize(ev->error_code), sanitize(ev->request_id);
    pthread_mutex_lock(&a->mu);
    ev->seq = a->next_seq++;
    bson_t doc = BSON_INITIALIZER;
    event_to_bson(ev, &doc);
    unsigned char rh[8];
    put_u32(rh, doc.len);
    put_u32(rh + 4, owl_crc32c(0, bson_get_data(&doc), doc.len));
    struct iovec_like {
        const void *p;
        size_t n;
    } parts[2] = {{rh, 8}, {bson_get_data(&doc), doc.len}};
    off_t at = a->end;
    for (int i = 0; i < 2 && rc == OWL_OK; i++) {
        ssize_t w = pwrite(a->fd, parts[i].p, parts[i].n, at);
        if (w != (ssize_t)parts[i].n) {
            int e = w < 0 ? errno : ENOSPC;
            rc = owl_error_set(err, owl_err_from_errno(e), "audit: write: %s", strerror(e));
            if (ftruncate(a->fd, a->end) != 0)
                owl_warn("audit: could not cut a partial record: %s", strerror(errno));
        }
        at += (off_t)parts[i].n;
    }
    if (rc == OWL_OK)
        a->end = at;
    bson_destroy(&doc);
    ring_push(a, ev);
    a->recorded++;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int owl_audit_sync(owl_audit *a)
{
    return fdatasync(a->fd) == 0 ? OWL_OK : owl_err_from_errno(errno);
}

uint64_t owl_audit_count(owl_audit *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->recorded;
    pthread_mutex_unlock(&a->mu);
    return n;
}

static int matches(const owl_audit_event *ev, const owl_audit_query *q)
{
    if (ev->time_ms < q->start_ms || ev->time_ms > q->end_ms)
        return 0;
    if (q->before_seq && ev->seq >= q->before_seq)
        return 0;
    int tenant_ok = (q->tenant && strcmp(ev->tenant, q->tenant) == 0) ||
                    (q->include_untenanted && ev->tenant[0] == '\0');
    if (!tenant_ok)
        return 0;
    if (q->action && strcmp(ev->action, q->action) != 0)
        return 0;
    if (q->key_id && strcmp(ev->key_id, q->key_id) != 0)
        return 0;
    return 1;
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

int owl_audit_query_json(owl_audit *a, const owl_audit_query *q, owl_buf *o)
{
    size_t found = 0;
    uint64_t last_seq = 0;
    int more = 0;
    owl_buf_puts(o, "{\"events\":[");
    pthread_mutex_lock(&a->mu);
    for (size_t i = a->count; i-- > 0;) {
        const owl_audit_event *ev = &a->ring[(a->head + i) % a->cap];
        if (!matches(ev, q))
            continue;
        if (found == q->limit) {
            more = 1;
            break;
        }
        if (found)
            owl_buf_putc(o, ',');
        event_json(o, ev);
        last_seq = ev->seq;
        found++;
    }
    pthread_mutex_unlock(&a->mu);
    owl_buf_putc(o, ']');
    if (more)
        owl_buf_printf(o, ",\"next_token\":\"%llu\"", (unsigned long long)last_seq);
    owl_buf_putc(o, '}');
    return o->data ? OWL_OK : OWL_ENOMEM;
}

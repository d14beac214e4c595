/* http.c — the per-connection HTTP/1.1 engine: http-parser framing, limits, body decoding,
 * response serialization and the response helpers. loop.c owns sockets and threads; the
 * same code runs for sockets and for in-memory connections (tests, fuzzing).
 *
 * Invariant (see http_int.h): one request is parsed, handled and its response queued
 * before the next pipelined one is parsed (the parser pauses in on_message_complete), so
 * responses leave in request order; the header block and the body never grow past
 * their limits in memory. A body is read only after the head hook let it (the hook runs in
 * on_headers_complete, before 100 Continue), and every body byte a request may hold is
 * first taken from the server-wide budget (buffered_take) and given back in req_reset.
 * A body of declared length is received straight into its buffer (body_room), so its
 * bytes are copied once, by the kernel. A detached stream (owl_http_resp_detach_stream) is
 * the one piece shared with other threads: its queue, counters and connection pointer live
 * under its own mutex; everything else here stays on the connection's worker thread. */
#include "server/http_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <zlib.h>
#include <zstd.h>

#define OUT_HIGH (256u << 10)    /* parse no further pipelined request above this output */
#define STREAM_HIGH (1u << 20)   /* a streaming handler waits for the socket above this */
#define LINGER_NS (2000LL * 1000000)
#define READ_CHUNK (64u << 10)
#define READS_PER_EVENT 4        /* fairness between connections of one worker */
#define DEC_CHUNK (64u << 10)    /* decompression output step */
#define ZSTD_WINDOW_LOG_MAX 24   /* 16 MiB: refuse frames that need more decoder memory */
#define STREAM_BUFFER_DEFAULT (256u << 10)
#define STREAM_HEARTBEAT_DEFAULT_MS 15000
#define STREAM_STALL_DEFAULT_MS 30000
#define STREAM_BUFFER_MIN 256    /* room for the dropped notice and a heartbeat */
#define PREAUTH_BODY_DEFAULT (64u << 10)
#define MAX_BUFFERED_DEFAULT (256u << 20)

enum { CB_NONE, CB_FIELD, CB_VALUE };

/* ------------------------------------------------------------------ small pieces */

static const struct {
    int status;
    const char *text;
} status_texts[] = {
    {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
    {202, "Accepted"}, {204, "No Content"}, {206, "Partial Content"},
    {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"}, {304, "Not Modified"},
    {307, "Temporary Redirect"}, {308, "Permanent Redirect"}, {400, "Bad Request"},
    {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Timeout"},
    {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
    {412, "Precondition Failed"}, {413, "Payload Too Large"}, {414, "URI Too Long"},
    {415, "Unsupported Media Type"}, {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"}, {422, "Unprocessable Entity"}, {425, "Too Early"},
    {426, "Upgrade Required"}, {428, "Precondition Required"}, {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
    {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
};

const char *owl_http_status_text(int status)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(status_texts); i++)
        if (status_texts[i].status == status)
            return status_texts[i].text;
    return "Unknown";
}

const char *owl_http_req_header(const owl_http_req *req, const char *lname)
{
    if (!req || !lname)
        return NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Fills out with a random (version 4) UUID. Random bytes come from a per-thread pool so
 * a request costs a getrandom call only every 16 requests. */
static void gen_uuid(char out[37])
{
    static __thread unsigned char pool[256];
    static __thread size_t left;
    static __thread uint64_t fallback;
    if (left < 16) {
        if (owl_random(pool, sizeof pool) != OWL_OK) {
            /* getrandom failing is near impossible; ids must still differ */
            for (size_t i = 0; i < sizeof pool; i += 8) {
                uint64_t z = (uint64_t)owl_mono_ns() + (fallback += 0x9e3779b97f4a7c15ULL);
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                memcpy(pool + i, &z, 8);
            }
        }
        left = sizeof pool;
    }
    unsigned char b[16];
    memcpy(b, pool + sizeof pool - left, 16);
    left -= 16;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    owl_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* IMF-fixdate of the current second, cached per thread; locale-independent. */
static const char *http_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static __thread time_t cached = -1;
    static __thread char text[40];
    time_t t = time(NULL);
    if (t != cached) {
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        cached = t;
    }
    return text;
}

/* 1 when s holds CR or LF — never allowed inside a header line. */
static int has_ctl(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* ------------------------------------------------------------------ response helpers */

int owl_http_resp_header(owl_http_resp *resp, const char *name, const char *value)
{
    if (!resp || !name || !*name || !value || has_ctl(name) || has_ctl(value) ||
        strchr(name, ':'))
        return OWL_EINVAL;
    size_t mark = resp->headers.len;
    int rc = owl_buf_printf(&resp->headers, "%s: %s\r\n", name, value);
    if (rc != OWL_OK && resp->headers.data) {
        resp->headers.len = mark;
        resp->headers.data[mark] = '\0';
    }
    return rc;
}

static int resp_set(owl_http_resp *resp, int status, const char *ctype, const char *p, size_t n)
{
    owl_buf_reset(&resp->body);
    int rc = owl_buf_append(&resp->body, p, n);
    if (rc != OWL_OK)
        return rc;
    resp->status = status;
    resp->content_type = ctype;
    return OWL_OK;
}

int owl_http_resp_json(owl_http_resp *resp, int status, const char *json, size_t len)
{
    return resp_set(resp, status, "application/json", json, len);
}

int owl_http_resp_text(owl_http_resp *resp, int status, const char *text, size_t len)
{
    return resp_set(resp, status, "text/plain; charset=utf-8", text, len);
}

int owl_http_resp_error(owl_http_resp *resp, int status, const char *code, const char *fmt, ...)
{
    owl_buf msg = OWL_BUF_INIT, json = OWL_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = owl_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (rc == OWL_OK)
        rc = owl_buf_puts(&json, "{\"error\":{\"code\":");
    if (rc == OWL_OK)
        rc = owl_buf_json_str(&json, code, strlen(code));
    if (rc == OWL_OK)
        rc = owl_buf_puts(&json, ",\"message\":");
    if (rc == OWL_OK)
        rc = owl_buf_json_str(&json, msg.data ? msg.data : "", msg.len);
    if (rc == OWL_OK)
        rc = owl_buf_puts(&json, "}}");
    if (rc == OWL_OK)
        rc = resp_set(resp, status, "application/json", json.data, json.len);
    owl_buf_free(&msg);
    owl_buf_free(&json);
    return rc;
}

static void resp_init(owl_http_resp *resp, owl_http_conn *c)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    resp->content_type = "application/json";
    resp->conn = c;
}

static void resp_free(owl_http_resp *resp)
{
    owl_buf_free(&resp->headers);
    owl_buf_free(&resp->body);
}

/* ------------------------------------------------------------------ decompression */

static int dec_identity(const void *in, size_t n, size_t max, owl_buf *out, owl_error *err)
{
    if (n > max)
        return owl_error_set(err, OWL_ETOOBIG, "body of %zu bytes exceeds the limit of %zu",
                             n, max);
    if (owl_buf_append(out, in, n) != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    return OWL_OK;
}

/* Room for the next output step: never more than one byte past max, so a bomb is
 * caught after producing at most max + 1 bytes. Returns 0 when already past max. */
static size_t dec_room(const owl_buf *out, size_t base, size_t max)
{
    size_t produced = out->len - base;
    if (produced > max)
        return 0;
    size_t room = max - produced + 1;
    return room > DEC_CHUNK ? DEC_CHUNK : room;
}

/* zlib-family decoder: wbits 15+16 = gzip (several members allowed), 15 = zlib, -15 = raw. */
static int dec_zlib(const unsigned char *in, size_t n, int wbits, size_t max, owl_buf *out,
                    owl_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, wbits) != Z_OK)
        return owl_error_set(err, OWL_ENOMEM, "cannot initialise inflate");
    size_t base = out->len, fed = 0;
    int rc = OWL_OK;
    for (;;) {
        if (zs.avail_in == 0 && fed < n) {
            size_t take = n - fed > UINT_MAX ? UINT_MAX : n - fed;
            zs.next_in = (Bytef *)(uintptr_t)(in + fed);
            zs.avail_in = (uInt)take;
            fed += take;
        }
        size_t room = dec_room(out, base, max);
        if (room == 0) {
            rc = owl_error_set(err, OWL_ETOOBIG, "decompressed body exceeds %zu bytes", max);
            goto out;
        }
        if (owl_buf_reserve(out, room) != OWL_OK) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)room;
        int z = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (z == Z_STREAM_END) {
            size_t rest = zs.avail_in + (n - fed);
            if (rest == 0)
                break;
            /* gzip allows concatenated members (RFC 1952 2.2) */
            if (wbits > 15 && zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            rc = owl_error_set(err, OWL_EINVAL, "trailing bytes after compressed data");
            goto out;
        }
        if (z == Z_OK)
            continue;
        if (z == Z_BUF_ERROR && zs.avail_in == 0 && fed == n) {
            rc = owl_error_set(err, OWL_EINVAL, "compressed data is truncated");
            goto out;
        }
        if (z == Z_MEM_ERROR) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        rc = owl_error_set(err, OWL_EINVAL, "compressed data is corrupt: %s",
                           zs.msg ? zs.msg : "inflate failed");
        goto out;
    }
    if (out->len - base > max)
        rc = owl_error_set(err, OWL_ETOOBIG, "decompressed body exceeds %zu bytes", max);
out:
    inflateEnd(&zs);
    if (rc != OWL_OK)
        out->len = base;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

static int dec_zstd(const void *in, size_t n, size_t max, owl_buf *out, owl_error *err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return owl_error_set(err, OWL_ENOMEM, "cannot create zstd context");
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
    size_t base = out->len, last = 1;
    int rc = OWL_OK;
    ZSTD_inBuffer ib = {in, n, 0};
    for (;;) {
        size_t room = dec_room(out, base, max);
        if (room == 0) {
            rc = owl_error_set(err, OWL_ETOOBIG, "decompressed body exceeds %zu bytes", max);
            goto out;
        }
        if (owl_buf_reserve(out, room) != OWL_OK) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        ZSTD_outBuffer ob = {out->data + out->len, room, 0};
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(r)) {
            rc = owl_error_set(err, OWL_EINVAL, "zstd data is corrupt: %s", ZSTD_getErrorName(r));
            goto out;
        }
        last = r;
        if (ib.pos == ib.size && ob.pos < room)
            break;
    }
    if (last != 0)
        rc = owl_error_set(err, OWL_EINVAL, "zstd data is truncated");
    else if (out->len - base > max)
        rc = owl_error_set(err, OWL_ETOOBIG, "decompressed body exceeds %zu bytes", max);
out:
    ZSTD_freeDCtx(d);
    if (rc != OWL_OK)
        out->len = base;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

/* Compares a header value token (blanks around it ignored) with name, case-insensitively. */
static int token_is(const char *v, const char *name)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(name);
    if (strncasecmp(v, name, n) != 0)
        return 0;
    for (v += n; *v; v++)
        if (*v != ' ' && *v != '\t')
            return 0;
    return 1;
}

/* 0 identity, 1 gzip, 2 deflate, 3 zstd, -1 unknown. */
static int encoding_kind(const char *enc)
{
    if (!enc || token_is(enc, "identity") || token_is(enc, ""))
        return 0;
    if (token_is(enc, "gzip") || token_is(enc, "x-gzip"))
        return 1;
    if (token_is(enc, "deflate"))
        return 2;
    if (token_is(enc, "zstd"))
        return 3;
    return -1;
}

int owl_http_decompress(const char *encoding, const void *in, size_t n, size_t max, owl_buf *out,
                        owl_error *err)
{
    const unsigned char *p = in;
    switch (encoding_kind(encoding)) {
    case 0:
        return dec_identity(in, n, max, out, err);
    case 1:
        return dec_zlib(p, n, 15 + 16, max, out, err);
    case 2:
        /* "deflate" means zlib (RFC 9110 8.4.1.2) but some clients send raw deflate:
         * a valid zlib header (CM 8, check bits) decides */
        if (n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0)
            return dec_zlib(p, n, 15, max, out, err);
        return dec_zlib(p, n, -15, max, out, err);
    case 3:
        return dec_zstd(in, n, max, out, err);
    default:
        return owl_error_set(err, OWL_EUNSUPPORTED, "unsupported Content-Encoding \"%s\"",
                             encoding);
    }
}

/* ------------------------------------------------------------------ output */

static size_t conn_pending(const owl_http_conn *c)
{
    return c->wbuf.len - c->wpos;
}

/* Writes queued output: to the socket until it would block, or, for an in-memory
 * connection, into mem_out. A write error marks the connection dead. */
static void conn_flush(owl_http_conn *c)
{
    while (c->wpos < c->wbuf.len && !c->dead) {
        size_t n = c->wbuf.len - c->wpos;
        if (c->fd < 0) {
            if (owl_buf_append(&c->mem_out, c->wbuf.data + c->wpos, n) != OWL_OK)
                c->dead = 1;
            c->sent_total += n;
            c->wpos = c->wbuf.len;
            break;
        }
        ssize_t w = send(c->fd, c->wbuf.data + c->wpos, n, MSG_NOSIGNAL);
        if (w > 0) {
            c->wpos += (size_t)w;
            c->last_io = owl_mono_ns();
            c->sent_total += (uint64_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            c->dead = 1;
        }
    }
    if (c->wpos >= c->wbuf.len || c->dead) {
        owl_buf_free(&c->wbuf);
        c->wpos = 0;
    }
}

/* Queues bytes for the current response. A failed allocation kills the connection:
 * half a response must never be followed by another. */
static void out_append(owl_http_conn *c, const void *p, size_t n)
{
    if (c->dead)
        return;
    if (c->wpos > 0 && c->wpos >= c->wbuf.len / 2) {
        owl_buf_consume(&c->wbuf, c->wpos);
        c->wpos = 0;
    }
    if (owl_buf_append(&c->wbuf, p, n) != OWL_OK) {
        c->dead = 1;
        return;
    }
    c->resp_bytes += n;
}

static void out_printf(owl_http_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_printf(owl_http_conn *c, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) {
        c->dead = 1; /* callers only format short, bounded lines */
        return;
    }
    out_append(c, small, (size_t)n);
}

static int status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

/* Serializes the status line and headers. body_len < 0 means chunked. keep says whether
 * the connection stays open after this response. */
static void out_head(owl_http_conn *c, const owl_http_resp *resp, int status, const char *ctype,
                     long long body_len, int keep)
{
    out_printf(c, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, owl_http_status_text(status),
               http_date());
    if (status_has_body(status)) {
        const char *ct = ctype && !has_ctl(ctype) ? ctype : "application/json";
        out_append(c, "Content-Type: ", 14);
        out_append(c, ct, strlen(ct));
        if (body_len < 0)
            out_printf(c, "\r\nTransfer-Encoding: chunked\r\n");
        else
            out_printf(c, "\r\nContent-Length: %lld\r\n", body_len);
    }
    if (!keep)
        out_printf(c, "Connection: close\r\n");
    else if (c->req.http_major == 1 && c->req.http_minor == 0)
        out_printf(c, "Connection: keep-alive\r\n");
    out_printf(c, "x-owl-request-id: %s\r\n", c->req.request_id);
    if (resp && resp->headers.len)
        out_append(c, resp->headers.data, resp->headers.len);
    out_append(c, "\r\n", 2);
}

/* ------------------------------------------------------------------ request state */

static size_t preauth_max(const owl_http_conn *c)
{
    return c->lim->preauth_body_bytes ? c->lim->preauth_body_bytes : PREAUTH_BODY_DEFAULT;
}

/* Takes n bytes of the server-wide body budget for this request. 0, or -1 when they would
 * pass max_buffered_bytes (nothing taken). */
static int buffered_take(owl_http_conn *c, size_t n)
{
    if (!c->buffered || n == 0)
        return 0;
    size_t cap = c->lim->max_buffered_bytes ? c->lim->max_buffered_bytes : MAX_BUFFERED_DEFAULT;
    size_t old = atomic_fetch_add(c->buffered, n);
    if (old > cap || n > cap - old) {
        atomic_fetch_sub(c->buffered, n);
        return -1;
    }
    c->reserved += n;
    return 0;
}

static void buffered_release(owl_http_conn *c)
{
    if (c->buffered && c->reserved)
        atomic_fetch_sub(c->buffered, c->reserved);
    c->reserved = 0;
}

/* ------------------------------------------------------------------ spare bodies */

/* Each thread keeps the allocations of a few finished request bodies (up to SPARE_BODIES
 * of at most SPARE_BODY_MAX bytes) for the next requests it reads, so a stream of 1 MB bodies
 * on a few connections lands in memory already mapped instead of fresh pages: a page fault
 * costs more than copying the page. Freed with the thread (a pthread key's destructor). */
#define SPARE_BODIES 4
#define SPARE_BODY_MAX ((size_t)4 << 20)
struct spares {
    owl_buf b[SPARE_BODIES];
    size_t n;
};
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_ok;

static void spare_free(void *p)
{
    struct spares *sp = p;
    for (size_t i = 0; i < sp->n; i++)
        owl_buf_free(&sp->b[i]);
    free(sp);
}

static void spare_init(void)
{
    spare_ok = pthread_key_create(&spare_key, spare_free) == 0;
}

static struct spares *spares(int create)
{
    pthread_once(&spare_once, spare_init);
    if (!spare_ok)
        return NULL;
    struct spares *sp = pthread_getspecific(spare_key);
    if (!sp && create && (sp = calloc(1, sizeof *sp)) && pthread_setspecific(spare_key, sp) != 0) {
        free(sp);
        sp = NULL;
    }
    return sp;
}

/* Moves b's allocation into this thread's spares when there is room and b is small enough;
 * frees b otherwise. b is then empty. */
static void spare_put(owl_buf *b)
{
    struct spares *sp = b->data && b->cap <= SPARE_BODY_MAX ? spares(1) : NULL;
    if (sp && sp->n < SPARE_BODIES) {
        owl_buf_reset(b);
        sp->b[sp->n++] = *b;
        *b = (owl_buf)OWL_BUF_INIT;
        return;
    }
    owl_buf_free(b);
}

/* Gives b (empty, unallocated) a spare of this thread's holding more than need bytes. */
static void spare_take(owl_buf *b, size_t need)
{
    struct spares *sp = b->data ? NULL : spares(0);
    for (size_t i = 0; sp && i < sp->n; i++)
        if (sp->b[i].cap > need) {
            *b = sp->b[i];
            sp->b[i] = sp->b[--sp->n];
            return;
        }
}

/* Frees everything of the current request; the connection is ready for the next one. */
static void req_reset(owl_http_conn *c)
{
    if (c->req.auth && c->req.auth_free)
        c->req.auth_free(c->req.auth);
    resp_free(&c->reject);
    memset(&c->reject, 0, sizeof c->reject);
    c->rejected = c->limited = 0;
    c->body_max = c->body_declared = 0;
    buffered_release(c);
    free(c->req.headers);
    spare_put(&c->req.body);
    owl_buf_free(&c->req.wire_body);
    owl_buf_free(&c->url);
    owl_buf_free(&c->hdrs);
    free(c->spans);
    memset(&c->req, 0, sizeof c->req);
    c->spans = NULL;
    c->nspans = c->capspans = 0;
    c->last_cb = CB_NONE;
    c->in_req = c->url_seen = c->target_done = c->headers_done = c->msg_done = c->id_done = 0;
    c->hdr_bytes = c->req_bytes = c->resp_bytes = 0;
    c->fail_status = 0;
    c->fail_code = NULL;
    c->fail_msg[0] = '\0';
    c->head = c->keep = c->stream_open = 0;
}

/* Records why the parser must stop; returned from a callback it aborts http_parser. */
static int fail(owl_http_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(owl_http_conn *c, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
    c->fail_status = status;
    c->fail_code = code;
    return -1;
}

static int fail_nomem(owl_http_conn *c)
{
    return fail(c, 500, "InternalError", "out of memory");
}

/* Splits the request target into path and query, appended to url after its NUL:
 * url = target "\0" path "\0" query "\0". Idempotent. */
static int req_finish_target(owl_http_conn *c)
{
    if (c->target_done)
        return OWL_OK;
    size_t tlen = c->url.len;
    if (owl_buf_putc(&c->url, '\0') != OWL_OK)
        return OWL_ENOMEM;
    const char *t = c->url.data;
    size_t ps = 0;
    /* absolute-form (RFC 9112 3.2.2): the path starts after scheme://authority */
    const char *sch = memmem(t, tlen, "://", 3);
    if (tlen && t[0] != '/' && sch) {
        const char *slash = memchr(sch + 3, '/', tlen - (size_t)(sch + 3 - t));
        const char *q = memchr(sch + 3, '?', tlen - (size_t)(sch + 3 - t));
        if (slash && (!q || slash < q))
            ps = (size_t)(slash - t);
        else
            ps = q ? (size_t)(q - t) : tlen;
    }
    size_t pe = ps;
    while (pe < tlen && t[pe] != '?' && t[pe] != '#')
        pe++;
    size_t qs = pe < tlen && t[pe] == '?' ? pe + 1 : pe, qe = qs;
    while (qe < tlen && t[qe] != '#')
        qe++;
    size_t path_off = c->url.len;
    int rc = OWL_OK;
    if (tlen && t[0] != '/' && sch && ps == pe)
        rc = owl_buf_putc(&c->url, '/');
    /* url.data may move while appending: copy from offsets */
    if (rc == OWL_OK)
        rc = owl_buf_reserve(&c->url, (pe - ps) + (qe - qs) + 2);
    if (rc != OWL_OK)
        return rc;
    owl_buf_append(&c->url, c->url.data + ps, pe - ps);
    owl_buf_putc(&c->url, '\0');
    size_t query_off = c->url.len;
    owl_buf_append(&c->url, c->url.data + qs, qe - qs);
    c->req.target = c->url.data;
    c->req.path = c->url.data + path_off;
    c->req.query = c->url.data + query_off;
    c->req.method = http_method_str((enum http_method)c->parser.method);
    c->target_done = 1;
    return OWL_OK;
}

static void req_ensure_id(owl_http_conn *c)
{
    if (!c->id_done) {
        gen_uuid(c->req.request_id);
        c->id_done = 1;
    }
}

static void trim_value(char *v, char **start)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    *start = v;
}

/* Builds req.headers from the spans once the header block is complete. */
static int req_build_headers(owl_http_conn *c)
{
    if (c->last_cb == CB_FIELD) {
        /* a field without any value callback: treat as empty value */
        if (owl_buf_putc(&c->hdrs, '\0') != OWL_OK)
            return OWL_ENOMEM;
        c->spans[c->nspans - 1].value = c->hdrs.len;
    }
    if (c->last_cb != CB_NONE && owl_buf_putc(&c->hdrs, '\0') != OWL_OK)
        return OWL_ENOMEM;
    if (c->nspans == 0)
        return OWL_OK;
    c->req.headers = calloc(c->nspans, sizeof *c->req.headers);
    if (!c->req.headers)
        return OWL_ENOMEM;
    for (size_t i = 0; i < c->nspans; i++) {
        char *name = c->hdrs.data + c->spans[i].name;
        for (char *q = name; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q + ('a' - 'A'));
        c->req.headers[i].name = name;
        trim_value(c->hdrs.data + c->spans[i].value, &c->req.headers[i].value);
    }
    c->req.nheaders = c->nspans;
    return OWL_OK;
}

/* Whether the response being queued may keep the connection open. The stop flag is read
 * directly so a handler running while stop() is called already answers "close". */
static int conn_keep(const owl_http_conn *c, const owl_http_resp *resp)
{
    int stop = c->stopping || (c->stop_flag && atomic_load(c->stop_flag));
    return c->req.keep_alive && !resp->close && !stop && !c->parser.upgrade;
}

/* ------------------------------------------------------------------ strict input
 *
 * Debian builds http-parser without HTTP_PARSER_STRICT, so it takes a space inside a header
 * name ("Content-Length : 2" frames the body), tabs and bytes >= 0x80 in the target, any
 * HTTP/d.d version, obs-fold continuation lines, bare LF line ends and any two bytes where
 * a chunk's CRLF belongs. The checks below restore what RFC 9112 requires; each failure is
 * a 400 and closes the connection. */

/* RFC 9110 tchar: the bytes a header name may hold. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Headers that must appear at most once: where two readers (framing, SigV4, routing, the
 * handler) could pick different copies, the request is refused instead. */
static const char *const single_headers[] = {
    "host", "authorization", "content-length", "transfer-encoding", "content-type",
    "content-encoding", "expect", "x-amz-target", "x-amz-date", "x-amz-content-sha256",
    "x-amz-security-token", "x-amz-decoded-content-length",
};

/* The request line and header block as a whole, once complete: OWL_OK or the parser is
 * failed with 400. */
static int req_strict_head(owl_http_conn *c, const http_parser *p)
{
    if (p->http_major != 1 || p->http_minor > 1)
        return fail(c, 400, "BadRequest", "unsupported HTTP version %u.%u (1.0 and 1.1 only)",
                    p->http_major, p->http_minor);
    for (size_t i = 0; i < c->req.nheaders; i++) {
        const char *name = c->req.headers[i].name;
        int single = 0;
        for (size_t k = 0; k < OWL_ARRAY_LEN(single_headers) && !single; k++)
            single = strcmp(name, single_headers[k]) == 0;
        for (size_t j = i + 1; single && j < c->req.nheaders; j++)
            if (strcmp(name, c->req.headers[j].name) == 0)
                return fail(c, 400, "BadRequest", "header %s is given more than once", name);
    }
    return OWL_OK;
}

/* Where frame_scan is in the message (frame_state). */
enum {
    FR_START,                           /* before the request line (CR/LF skipped) */
    FR_LINE, FR_LINE_CR,                /* request line */
    FR_HSTART, FR_HLINE, FR_HLINE_CR,   /* header lines */
    FR_HEND_CR,                         /* the empty line ending the header block */
    FR_BODY,                            /* an identity body or none: http-parser counts it */
    FR_CSTART, FR_CSIZE, FR_CBWS, FR_CEXT, FR_CSIZE_CR, /* chunk-size [ext] CRLF */
    FR_CDATA, FR_CDATA_END, FR_CDATA_CR,                /* chunk-data CRLF */
    FR_TSTART, FR_TLINE, FR_TLINE_CR, FR_TEND_CR,       /* trailer section, final CRLF */
    FR_DONE,
};

static int frame_bad(owl_http_conn *c, const char *what)
{
    if (!c->fail_status) /* a callback's own refusal (413, ...) stands */
        fail(c, 400, "BadRequest", "malformed HTTP request: %s", what);
    return -1;
}

/* Follows the bytes http-parser has consumed (p[0..n)), in order across calls, and checks
 * the line structure and chunk framing the non-strict parser lets through. 0, or -1 with
 * the connection's failure set. */
static int frame_scan(owl_http_conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        int hex = owl_hex_digit(ch);
        switch (c->frame_state) {
        case FR_START:
            if (ch != '\r' && ch != '\n')
                c->frame_state = FR_LINE;
            break;
        case FR_LINE:
        case FR_HLINE:
        case FR_TLINE:
            if (ch == '\n')
                return frame_bad(c, "a line ends in LF without CR");
            if (ch == '\r')
                c->frame_state++; /* the matching *_CR state */
            break;
        case FR_LINE_CR:
        case FR_HLINE_CR:
        case FR_TLINE_CR:
            if (ch != '\n')
                return frame_bad(c, "CR not followed by LF");
            c->frame_state = c->frame_state == FR_TLINE_CR ? FR_TSTART : FR_HSTART;
            break;
        case FR_HSTART:
        case FR_TSTART:
            if (ch == ' ' || ch == '\t')
                return frame_bad(c, "obsolete line folding (a header line starts with a blank)");
            if (ch == '\n')
                return frame_bad(c, "a line ends in LF without CR");
            c->frame_state = ch == '\r' ? (c->frame_state == FR_HSTART ? FR_HEND_CR : FR_TEND_CR)
                                        : (c->frame_state == FR_HSTART ? FR_HLINE : FR_TLINE);
            break;
        case FR_HEND_CR:
            if (ch != '\n')
                return frame_bad(c, "CR not followed by LF");
            c->frame_state = (c->parser.flags & F_CHUNKED) ? FR_CSTART : FR_BODY;
            break;
        case FR_BODY:
        case FR_DONE:
            return 0;
        case FR_CSTART:
            if (hex < 0)
                return frame_bad(c, "chunk size expected");
            c->frame_left = (uint64_t)hex;
            c->frame_state = FR_CSIZE;
            break;
        case FR_CSIZE:
            if (hex >= 0) {
                if (c->frame_left >> 60)
                    return frame_bad(c, "chunk size too large");
                c->frame_left = c->frame_left << 4 | (uint64_t)hex;
            } else if (ch == ';') {
                c->frame_state = FR_CEXT;
            } else if (ch == ' ' || ch == '\t') {
                c->frame_state = FR_CBWS;
            } else if (ch == '\r') {
                c->frame_state = FR_CSIZE_CR;
            } else {
                return frame_bad(c, "bad character in a chunk size");
            }
            break;
        case FR_CBWS:
            if (ch == ';')
                c->frame_state = FR_CEXT;
            else if (ch != ' ' && ch != '\t')
                return frame_bad(c, "only a chunk extension may follow a chunk size");
            break;
        case FR_CEXT:
            if (ch == '\r')
                c->frame_state = FR_CSIZE_CR;
            else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return frame_bad(c, "control character in a chunk extension");
            break;
        case FR_CSIZE_CR:
            if (ch != '\n')
                return frame_bad(c, "chunk size line not ended by CRLF");
            c->frame_state = c->frame_left ? FR_CDATA : FR_TSTART;
            break;
        case FR_CDATA: {
            uint64_t take = n - i < c->frame_left ? n - i : c->frame_left;
            c->frame_left -= take;
            i += (size_t)take - 1;
            if (c->frame_left == 0)
                c->frame_state = FR_CDATA_END;
            break;
        }
        case FR_CDATA_END:
            if (ch != '\r')
                return frame_bad(c, "chunk data not followed by CRLF");
            c->frame_state = FR_CDATA_CR;
            break;
        case FR_CDATA_CR:
            if (ch != '\n')
                return frame_bad(c, "chunk data not followed by CRLF");
            c->frame_state = FR_CSTART;
            break;
        case FR_TEND_CR:
            if (ch != '\n')
                return frame_bad(c, "CR not followed by LF");
            c->frame_state = FR_DONE;
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ parser callbacks */

/* The request timer starts here: CR/LF between pipelined requests do not start it. */
static int on_message_begin(http_parser *p)
{
    owl_http_conn *c = p->data;
    c->in_req = 1;
    c->req_start = owl_mono_ns();
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    owl_http_conn *c = p->data;
    c->url_seen = 1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)at[i] <= 0x20 || (unsigned char)at[i] >= 0x7f)
            return fail(c, 400, "BadRequest",
                        "malformed HTTP request: control or non-ASCII byte in the target");
    if (owl_buf_append(&c->url, at, n) != OWL_OK)
        return fail_nomem(c);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    owl_http_conn *c = p->data;
    if (c->headers_done)
        return 0; /* chunked trailers are not kept */
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i]))
            return fail(c, 400, "BadRequest",
                        "malformed HTTP request: header name with a blank or a separator");
    if (c->last_cb != CB_FIELD) {
        if (c->last_cb == CB_VALUE && owl_buf_putc(&c->hdrs, '\0') != OWL_OK)
            return fail_nomem(c);
        if (c->nspans == c->capspans) {
            size_t cap = c->capspans ? c->capspans * 2 : 16;
            owl_http_hspan *s = realloc(c->spans, cap * sizeof *s);
            if (!s)
                return fail_nomem(c);
            c->spans = s;
            c->capspans = cap;
        }
        c->spans[c->nspans].name = c->hdrs.len;
        c->spans[c->nspans].value = 0;
        c->nspans++;
        c->last_cb = CB_FIELD;
    }
    if (owl_buf_append(&c->hdrs, at, n) != OWL_OK)
        return fail_nomem(c);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    owl_http_conn *c = p->data;
    if (c->headers_done)
        return 0;
    if (c->last_cb != CB_VALUE) {
        if (c->nspans == 0 || owl_buf_putc(&c->hdrs, '\0') != OWL_OK)
            return fail_nomem(c);
        c->spans[c->nspans - 1].value = c->hdrs.len;
        c->last_cb = CB_VALUE;
    }
    if (owl_buf_append(&c->hdrs, at, n) != OWL_OK)
        return fail_nomem(c);
    return 0;
}

/* Asks the head hook about the request whose header block is complete. 0 to go on
 * (c->body_max set), -1 to stop the parser (a rejection, or out of memory). */
static int head_verdict(owl_http_conn *c)
{
    if (!c->cb->head)
        return 0;
    req_ensure_id(c);
    memcpy(c->req.remote_addr, c->peer, sizeof c->req.remote_addr);
    c->req.start_mono_ns = c->req_start;
    resp_init(&c->reject, c); /* freed by req_reset whatever the verdict */
    switch (c->cb->head(c->cb->ud, &c->req, &c->reject)) {
    case OWL_HTTP_HEAD_ACCEPT:
        return 0;
    case OWL_HTTP_HEAD_LIMITED:
        c->limited = 1;
        if (c->body_max > preauth_max(c))
            c->body_max = preauth_max(c);
        return 0;
    default:
        c->rejected = 1;
        return -1; /* conn_parse_error sends c->reject */
    }
}

static int on_headers_complete(http_parser *p)
{
    owl_http_conn *c = p->data;
    if (req_build_headers(c) != OWL_OK || req_finish_target(c) != OWL_OK)
        return fail_nomem(c);
    if (req_strict_head(c, p) != OWL_OK)
        return -1;
    c->headers_done = 1;
    c->req.http_major = p->http_major;
    c->req.http_minor = p->http_minor;
    c->req.keep_alive = http_should_keep_alive(p);
    c->head = p->method == HTTP_HEAD;
    size_t max = c->lim->max_body_bytes;
    c->body_max = max;
    int has_len = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_len && p->content_length > max)
        return fail(c, 413, "PayloadTooLarge",
                    "request body of %llu bytes exceeds the limit of %zu bytes",
                    (unsigned long long)p->content_length, max);
    /* http-parser de-chunks; any other transfer coding would reach the handler encoded */
    const char *te = owl_http_req_header(&c->req, "transfer-encoding");
    if (te && !token_is(te, "chunked"))
        return fail(c, 501, "NotImplemented", "unsupported Transfer-Encoding \"%.64s\"", te);
    const char *enc = owl_http_req_header(&c->req, "content-encoding");
    if (encoding_kind(enc) < 0)
        return fail(c, 415, "UnsupportedMediaType", "unsupported Content-Encoding \"%.64s\"",
                    enc);
    int rc = head_verdict(c);
    if (rc != 0)
        return rc;
    if (has_len && p->content_length > c->body_max)
        return fail(c, 413, "PayloadTooLarge",
                    "a request without credentials may carry at most %zu body bytes, not %llu",
                    c->body_max, (unsigned long long)p->content_length);
    /* a declared body takes its share of the global budget now, before any byte of it
     * comes, with the buffer sized once (no doubling reallocations on the way) */
    if (has_len && p->content_length > 0) {
        if (buffered_take(c, (size_t)p->content_length) != 0)
            return fail(c, 503, "ServiceUnavailable",
                        "too many request bodies are being received; retry later");
        spare_take(&c->req.body, (size_t)p->content_length);
        if (owl_buf_reserve(&c->req.body, (size_t)p->content_length) != OWL_OK)
            return fail_nomem(c);
        if (!(p->flags & F_CHUNKED))
            c->body_declared = (size_t)p->content_length;
    }
    const char *expect = owl_http_req_header(&c->req, "expect");
    int body_expected = (p->flags & F_CHUNKED) || (has_len && p->content_length > 0);
    if (expect && token_is(expect, "100-continue") && body_expected &&
        (p->http_major > 1 || p->http_minor >= 1)) {
        out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    return 0;
}

/* The body is over this request's limit. */
static int fail_body_max(owl_http_conn *c)
{
    if (c->limited)
        return fail(c, 413, "PayloadTooLarge",
                    "a request without credentials may carry at most %zu body bytes",
                    c->body_max);
    return fail(c, 413, "PayloadTooLarge", "request body exceeds the limit of %zu bytes",
                c->body_max);
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    owl_http_conn *c = p->data;
    owl_buf *b = &c->req.body;
    size_t max = c->body_max;
    if (n > max || b->len > max - n)
        return fail_body_max(c);
    if (b->data && at == b->data + b->len && n < b->cap - b->len) {
        /* received in place (body_room): the bytes are already where they belong */
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    if (owl_buf_append(b, at, n) != OWL_OK)
        return fail_nomem(c);
    return 0;
}

/* A chunk that declares more than the body limit allows is refused before its bytes come
 * (http-parser puts the chunk's declared size in content_length). */
static int on_chunk_header(http_parser *p)
{
    owl_http_conn *c = p->data;
    size_t max = c->body_max;
    if (p->content_length > (uint64_t)max || c->req.body.len > max - (size_t)p->content_length)
        return fail_body_max(c);
    /* a chunked body takes its budget chunk by chunk, as each is declared */
    if (buffered_take(c, (size_t)p->content_length) != 0)
        return fail(c, 503, "ServiceUnavailable",
                    "too many request bodies are being received; retry later");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    owl_http_conn *c = p->data;
    c->msg_done = 1;
    http_parser_pause(p, 1); /* the next pipelined request waits for this response */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------------ responses */

static void report_done(owl_http_conn *c, const owl_http_resp *resp, int with_req)
{
    if (!c->cb->done)
        return;
    int64_t dur = c->in_req ? owl_mono_ns() - c->req_start : 0;
    c->cb->done(c->cb->ud, with_req ? &c->req : NULL, resp, c->req_bytes, c->resp_bytes, dur);
}

/* Answers an error the HTTP layer found itself and closes the connection. */
static void conn_error(owl_http_conn *c, int status, const char *code, const char *msg)
{
    owl_http_resp resp;
    resp_init(&resp, c);
    int with_req = c->url_seen && req_finish_target(c) == OWL_OK;
    req_ensure_id(c);
    c->req.start_mono_ns = c->req_start;
    c->req.wire_bytes = c->req_bytes;
    memcpy(c->req.remote_addr, c->peer, sizeof c->req.remote_addr);
    if (owl_http_resp_error(&resp, status, code, "%s", msg) != OWL_OK)
        resp.status = status;
    if (status == 503)
        owl_http_resp_header(&resp, "Retry-After", "1");
    out_head(c, &resp, status, resp.content_type, (long long)resp.body.len, 0);
    if (!c->head && status_has_body(status))
        out_append(c, resp.body.data, resp.body.len);
    c->closing = 1;
    c->linger = 1;
    report_done(c, &resp, with_req);
    resp_free(&resp);
    req_reset(c);
    conn_flush(c);
}

/* Sends the head hook's answer to a refused request and closes: no body byte was kept and
 * no 100 Continue went out; what the client still sends is drained (bounded) and dropped. */
static void conn_send_reject(owl_http_conn *c)
{
    owl_http_resp *resp = &c->reject;
    int body = status_has_body(resp->status);
    out_head(c, resp, resp->status, resp->content_type, body ? (long long)resp->body.len : 0, 0);
    if (body && !c->head)
        out_append(c, resp->body.data, resp->body.len);
    c->closing = 1;
    c->linger = 1;
    c->req.wire_bytes = c->req_bytes;
    report_done(c, resp, 1);
    req_reset(c);
    conn_flush(c);
}

/* Replaces the raw body by its decoded form per Content-Encoding. 0 or an HTTP status. */
static int req_decode_body(owl_http_conn *c, char *msg, size_t msgsz, const char **code)
{
    const char *enc = owl_http_req_header(&c->req, "content-encoding");
    if (encoding_kind(enc) == 0 || c->req.body.len == 0)
        return 0;
    owl_buf out = OWL_BUF_INIT;
    owl_error err;
    owl_error_clear(&err);
    int rc = owl_http_decompress(enc, c->req.body.data, c->req.body.len,
                                 c->lim->max_body_bytes, &out, &err);
    if (rc == OWL_OK && buffered_take(c, out.cap) != 0) {
        owl_buf_free(&out);
        *code = "ServiceUnavailable";
        snprintf(msg, msgsz, "too many request bodies are being received; retry later");
        return 503;
    }
    if (rc == OWL_OK) {
        /* keep the bytes as sent: SigV4 signs the body before decoding */
        owl_buf_free(&c->req.wire_body);
        c->req.wire_body = c->req.body;
        c->req.body = out;
        return 0;
    }
    owl_buf_free(&out);
    switch (rc) {
    case OWL_ETOOBIG:
        *code = "PayloadTooLarge";
        snprintf(msg, msgsz, "decompressed request body exceeds the limit of %zu bytes",
                 c->lim->max_body_bytes);
        return 413;
    case OWL_EUNSUPPORTED:
        *code = "UnsupportedMediaType";
        snprintf(msg, msgsz, "%s", err.msg);
        return 415;
    case OWL_ENOMEM:
        *code = "InternalError";
        snprintf(msg, msgsz, "out of memory");
        return 500;
    default:
        *code = "BadRequest";
        snprintf(msg, msgsz, "request body could not be decoded: %s", err.msg);
        return 400;
    }
}

/* Runs one complete request through the handler and queues its response. */
static void conn_dispatch(owl_http_conn *c)
{
    c->msg_done = 0;
    http_parser_pause(&c->parser, 0);
    char msg[OWL_ERROR_MSG_MAX + 64];
    const char *code = NULL;
    int status = req_decode_body(c, msg, sizeof msg, &code);
    if (status) {
        conn_error(c, status, code, msg);
        return;
    }
    req_ensure_id(c);
    memcpy(c->req.remote_addr, c->peer, sizeof c->req.remote_addr);
    c->req.start_mono_ns = c->req_start;
    c->req.wire_bytes = c->req_bytes;

    owl_http_resp resp;
    resp_init(&resp, c);
    c->cb->handle(c->cb->ud, &c->req, &resp);
    if (resp.detached) {
        if (resp.close)
            c->stream_keep = 0;
        /* a live stream decides when the connection ends (stream_finish); one born ended
         * (HEAD) is an ordinary response */
        c->keep = c->stream ? 1 : c->stream_keep;
    } else if (resp.streaming) {
        if (c->stream_open)
            owl_http_resp_stream_end(&resp);
        if (resp.close)
            c->keep = 0;
    } else {
        c->keep = conn_keep(c, &resp);
        int body = status_has_body(resp.status);
        out_head(c, &resp, resp.status, resp.content_type,
                 body ? (long long)resp.body.len : 0, c->keep);
        if (body && !c->head)
            out_append(c, resp.body.data, resp.body.len);
    }
    if (!c->keep)
        c->closing = 1;
    report_done(c, &resp, 1);
    resp_free(&resp);
    req_reset(c);
    conn_flush(c);
}

/* Maps a parser stop that was not a completed message to the layer's answer. */
static void conn_parse_error(owl_http_conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->rejected && !c->fail_status) {
        conn_send_reject(c);
    } else if (c->fail_status) {
        char msg[sizeof c->fail_msg];
        memcpy(msg, c->fail_msg, sizeof msg);
        conn_error(c, c->fail_status, c->fail_code, msg);
    } else if (e == HPE_HEADER_OVERFLOW) {
        conn_error(c, 431, "RequestHeaderFieldsTooLarge", "request header block is too large");
    } else if (e == HPE_CLOSED_CONNECTION) {
        c->closing = 1; /* bytes after a message that ended the connection */
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
        conn_error(c, 400, "BadRequest", msg);
    }
}

/* Parses p[0..n) request by request; returns how many bytes were used. Stops early when
 * the connection is closing or the output is over OUT_HIGH (the rest waits in rbuf). */
static size_t conn_parse(owl_http_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n && !c->closing && !c->dead && !c->stream) {
        if (conn_pending(c) > OUT_HIGH)
            break;
        size_t feed = n - off;
        if (!c->headers_done) {
            /* feed no more than the header limit allows, so an over-long block is
             * noticed exactly at the limit, whatever the parser buffers internally */
            size_t max = c->lim->max_header_bytes;
            size_t room = max > c->hdr_bytes ? max - c->hdr_bytes : 0;
            if (room == 0) {
                conn_error(c, 431, "RequestHeaderFieldsTooLarge",
                           "request line and headers exceed the limit");
                break;
            }
            if (feed > room)
                feed = room;
        }
        size_t used = http_parser_execute(&c->parser, &parser_settings, p + off, feed);
        int misframed = frame_scan(c, p + off, used) != 0;
        off += used;
        c->req_bytes += used;
        if (!c->headers_done)
            c->hdr_bytes += used;
        if (misframed) {
            conn_parse_error(c); /* before dispatch: a misframed request is never handled */
            break;
        }
        if (c->msg_done)
            c->frame_state = FR_START;
        if (c->msg_done) {
            conn_dispatch(c);
            continue;
        }
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used < feed) {
            conn_parse_error(c);
            break;
        }
    }
    if (c->closing && off < n)
        c->linger = 1; /* unread requests: drain them so our reply is not reset */
    return off;
}

/* Processes what waits in rbuf. */
static void conn_resume(owl_http_conn *c)
{
    size_t used = conn_parse(c, c->rbuf.data, c->rbuf.len);
    if (used >= c->rbuf.len || c->closing || c->dead)
        owl_buf_free(&c->rbuf);
    else
        owl_buf_consume(&c->rbuf, used);
}

/* Where the next received bytes may go to be parsed in place: the reserved tail of a
 * declared body being read. Returns how many bytes fit there (*at set), or 0 when they
 * must go to a scratch buffer. The room is exactly what the body still lacks, so the
 * message ends with its last byte: no byte of the next request lands in the body, and
 * none of the buffer is still unparsed when the request is reset. body_declared is set
 * when the head is accepted and cleared by req_reset, which every refusal and answer goes
 * through, so a closing or lingering connection never reads here. Bytes the parser leaves
 * (output over OUT_HIGH) are kept in rbuf as any others. */
static size_t body_room(owl_http_conn *c, char **at)
{
    owl_buf *b = &c->req.body;
    if (c->body_declared <= b->len)
        return 0;
    *at = b->data + b->len;
    return c->body_declared - b->len;
}

/* New bytes from the client (p may be body_room's tail). */
static void conn_input(owl_http_conn *c, const char *p, size_t n)
{
    c->last_io = owl_mono_ns();
    if (c->closing || c->dead)
        return;
    if (c->rbuf.len) {
        if (owl_buf_append(&c->rbuf, p, n) != OWL_OK) {
            c->dead = 1;
            return;
        }
        conn_resume(c);
        return;
    }
    size_t used = conn_parse(c, p, n);
    if (used < n && !c->closing && !c->dead &&
        owl_buf_append(&c->rbuf, p + used, n - used) != OWL_OK)
        c->dead = 1;
}

static void stream_pump(owl_http_conn *c);

/* After any event: flush, resume held-back requests, and move a closing connection on to
 * lingering or closed. */
static void conn_settle(owl_http_conn *c)
{
    for (;;) {
        conn_flush(c);
        if (c->stream && c->peer_eof)
            c->dead = 1; /* the reader hung up: writers learn it through OWL_ECLOSED */
        if (c->stream && !c->dead)
            stream_pump(c);
        if (c->dead || c->closing || c->stream || !c->rbuf.len || conn_pending(c) > OUT_HIGH)
            break;
        conn_resume(c);
    }
    if (c->dead)
        return;
    if (c->closing)
        owl_buf_free(&c->rbuf);
    if (c->peer_eof && !c->rbuf.len && !c->closing)
        c->closing = 1; /* nothing more can arrive; a partial request stays unanswered */
    if (c->closing && !conn_pending(c) && !c->lingering) {
        if (c->linger && c->fd >= 0 && !c->peer_eof) {
            shutdown(c->fd, SHUT_WR);
            c->lingering = 1;
            c->linger_until = owl_mono_ns() + LINGER_NS;
        } else {
            c->dead = 1;
        }
    }
    if (c->lingering && c->peer_eof)
        c->dead = 1;
}

/* ------------------------------------------------------------------ streaming */

/* Flushes a stream's output; above STREAM_HIGH waits for the socket (the handler runs on
 * the loop thread, so this is the only place its output can drain) up to the idle timeout. */
static int stream_flush(owl_http_conn *c)
{
    conn_flush(c);
    while (!c->dead && c->fd >= 0 && conn_pending(c) > STREAM_HIGH) {
        int64_t left = c->last_io + (int64_t)c->lim->idle_timeout_ms * 1000000 - owl_mono_ns();
        if (left <= 0) {
            c->dead = 1;
            return OWL_ETIMEOUT;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int ms = (int)(left / 1000000) + 1;
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
            c->dead = 1;
            break;
        }
        conn_flush(c);
    }
    return c->dead ? OWL_ECLOSED : OWL_OK;
}

int owl_http_resp_stream_begin(owl_http_resp *resp, int status, const char *content_type)
{
    if (!resp || !resp->conn || resp->streaming)
        return OWL_EINVAL;
    owl_http_conn *c = resp->conn;
    resp->status = status;
    resp->content_type = content_type ? content_type : "application/octet-stream";
    resp->streaming = 1;
    resp->stream_bytes = 0;
    c->keep = conn_keep(c, resp);
    int body = status_has_body(status);
    out_head(c, resp, status, resp->content_type, body ? -1 : 0, c->keep);
    c->stream_open = body && !c->head;
    return stream_flush(c);
}

int owl_http_resp_stream_write(owl_http_resp *resp, const void *p, size_t n)
{
    if (!resp || !resp->conn || !resp->streaming || resp->detached)
        return OWL_EINVAL;
    owl_http_conn *c = resp->conn;
    if (n == 0)
        return OWL_OK;
    if (c->dead)
        return OWL_ECLOSED;
    resp->stream_bytes += n;
    if (!c->stream_open)
        return OWL_OK; /* HEAD or a status without body: nothing is sent */
    out_printf(c, "%zx\r\n", n);
    out_append(c, p, n);
    out_append(c, "\r\n", 2);
    return stream_flush(c);
}

int owl_http_sse_format(owl_buf *out, const char *event, const char *data, size_t n)
{
    if (!out || (event && has_ctl(event)) || (!data && n))
        return OWL_EINVAL;
    if (!data)
        data = "";
    size_t mark = out->len;
    int rc = OWL_OK;
    if (event)
        rc = owl_buf_printf(out, "event: %s\n", event);
    size_t i = 0;
    do {
        const char *nl = n > i ? memchr(data + i, '\n', n - i) : NULL;
        size_t end = nl ? (size_t)(nl - data) : n, len = end - i;
        if (len && data[i + len - 1] == '\r')
            len--;
        if (rc == OWL_OK)
            rc = owl_buf_puts(out, "data: ");
        if (rc == OWL_OK)
            rc = owl_buf_append(out, data + i, len);
        if (rc == OWL_OK)
            rc = owl_buf_putc(out, '\n');
        i = end + 1;
    } while (i < n);
    if (rc == OWL_OK)
        rc = owl_buf_putc(out, '\n');
    if (rc != OWL_OK && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int owl_http_resp_sse(owl_http_resp *resp, const char *event, const char *data, size_t n)
{
    if (!resp || !resp->streaming || resp->detached)
        return OWL_EINVAL;
    owl_buf ev = OWL_BUF_INIT;
    int rc = owl_http_sse_format(&ev, event, data, n);
    if (rc == OWL_OK)
        rc = owl_http_resp_stream_write(resp, ev.data, ev.len);
    owl_buf_free(&ev);
    return rc;
}

int owl_http_resp_stream_end(owl_http_resp *resp)
{
    if (!resp || !resp->conn || !resp->streaming || resp->detached)
        return OWL_EINVAL;
    owl_http_conn *c = resp->conn;
    if (!c->stream_open)
        return c->dead ? OWL_ECLOSED : OWL_OK;
    c->stream_open = 0;
    out_append(c, "0\r\n\r\n", 5);
    return stream_flush(c);
}

/* ------------------------------------------------------------------ detached streams */

/* The state writers and the worker share. Lock order: a stream's mu, then (inside wake())
 * the worker's ready lock; nothing is called with mu held that could take mu again. */
struct owl_http_stream {
    pthread_mutex_t mu;
    int refs;                /* the caller's and the connection's */
    owl_http_conn *conn;     /* NULL once the connection let go: writes get OWL_ECLOSED */
    owl_buf q;               /* framed chunks waiting for the worker */
    size_t inflight;         /* bytes handed to the connection and not yet sent */
    size_t max_buffer;
    int sse;
    int closing;             /* final chunk queued; writes get OWL_ECLOSED */
    int broken;              /* the final chunk could not be queued: close the connection */
    int woken;               /* wake() was called and the worker has not pumped since */
    uint64_t dropped_unreported; /* SSE events dropped since the last "event: dropped" */
    owl_http_stream_stats st;
};

static void stream_unref(owl_http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    owl_buf_free(&s->q);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void stream_wake_locked(owl_http_stream *s)
{
    if (s->woken || !s->conn)
        return;
    s->woken = 1;
    if (s->conn->wake)
        s->conn->wake(s->conn->wake_ud, s->conn);
}

/* Bytes n payload bytes take as one chunk: hex size, CRLF, payload, CRLF. */
static size_t chunk_size(size_t n)
{
    char head[24];
    return (size_t)snprintf(head, sizeof head, "%zx\r\n", n) + n + 2;
}

/* Appends p as one chunk when it fits in the bound with `reserve` bytes to spare. */
static int stream_chunk_locked(owl_http_stream *s, const void *p, size_t n, size_t reserve)
{
    char head[24];
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    size_t framed = (size_t)hl + n + 2;
    if (s->q.len + s->inflight + framed + reserve > s->max_buffer)
        return OWL_EAGAIN;
    if (owl_buf_reserve(&s->q, framed) != OWL_OK)
        return OWL_ENOMEM;
    owl_buf_append(&s->q, head, (size_t)hl);
    owl_buf_append(&s->q, p, n);
    owl_buf_append(&s->q, "\r\n", 2);
    return OWL_OK;
}

/* SSE: tells the reader how many events it lost, once there is room for the notice and
 * `reserve` more bytes (the event about to follow: a notice alone would fit in gaps no
 * event fits in, and the reader would get one notice per lost event). */
static void stream_report_drops_locked(owl_http_stream *s, size_t reserve)
{
    if (!s->sse || !s->dropped_unreported)
        return;
    char ev[96];
    int n = snprintf(ev, sizeof ev, "event: dropped\ndata: {\"dropped\":%llu}\n\n",
                     (unsigned long long)s->dropped_unreported);
    if (stream_chunk_locked(s, ev, (size_t)n, reserve) == OWL_OK)
        s->dropped_unreported = 0;
}

/* How often a stream's reader progress is sampled: a quarter of the stall timeout. */
static int64_t stream_check_ns(const owl_http_conn *c)
{
    return c->stream_stall_ns / 4 > 0 ? c->stream_stall_ns / 4 : 1;
}

owl_http_stream *owl_http_resp_detach_stream(owl_http_resp *resp, int status,
                                             const char *content_type,
                                             const owl_http_stream_opts *opts)
{
    if (!resp || !resp->conn || resp->streaming || !status_has_body(status) ||
        (content_type && has_ctl(content_type)))
        return NULL;
    owl_http_conn *c = resp->conn;
    owl_http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    const char *ct = content_type ? content_type : "application/octet-stream";
    s->sse = strncasecmp(ct, "text/event-stream", 17) == 0;
    if (s->sse && owl_http_resp_header(resp, "Cache-Control", "no-cache") != OWL_OK) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    const owl_http_limits *l = c->lim;
    size_t maxb = opts && opts->max_buffer ? opts->max_buffer
                  : l->stream_buffer_bytes ? l->stream_buffer_bytes : STREAM_BUFFER_DEFAULT;
    s->max_buffer = maxb < STREAM_BUFFER_MIN ? STREAM_BUFFER_MIN : maxb;
    int hb = opts && opts->heartbeat_ms ? opts->heartbeat_ms
             : l->stream_heartbeat_ms ? l->stream_heartbeat_ms : STREAM_HEARTBEAT_DEFAULT_MS;
    int stall = opts && opts->stall_timeout_ms > 0 ? opts->stall_timeout_ms
                : l->stream_stall_ms > 0 ? l->stream_stall_ms : STREAM_STALL_DEFAULT_MS;

    resp->status = status;
    resp->content_type = ct;
    resp->streaming = resp->detached = 1;
    c->stream_keep = conn_keep(c, resp);
    out_head(c, resp, status, ct, -1, c->stream_keep);
    if (c->head || c->dead) {
        /* nothing may follow the head: the stream is born ended */
        s->refs = 1;
        s->closing = 1;
        return s;
    }
    s->refs = 2;
    s->conn = c;
    s->st.open = 1;
    /* the kernel's send buffer would otherwise grow (autotuning, up to megabytes) for a
     * reader that does not read, beyond the bound; the kernel doubles the value given */
    int sndbuf = s->max_buffer > INT_MAX / 2 ? INT_MAX / 2 : (int)s->max_buffer;
    if (c->fd >= 0)
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int64_t now = owl_mono_ns();
    c->stream = s;
    c->stream_hb_ns = s->sse && hb > 0 ? (int64_t)hb * 1000000 : 0;
    c->stream_hb_at = now + c->stream_hb_ns;
    c->stream_stall_ns = (int64_t)stall * 1000000;
    c->stream_progress = now;
    c->stream_acked = c->sent_total;
    c->stream_check_at = now + stream_check_ns(c);
    return s;
}

int owl_http_stream_write(owl_http_stream *s, const void *p, size_t n)
{
    if (!s || (!p && n))
        return OWL_EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = OWL_OK;
    if (!s->conn || s->closing) {
        rc = OWL_ECLOSED;
        goto out;
    }
    if (n == 0)
        goto out;
    stream_report_drops_locked(s, chunk_size(n));
    /* an event may not overtake the notice of the ones lost before it */
    rc = s->dropped_unreported ? OWL_EAGAIN : stream_chunk_locked(s, p, n, 0);
    if (rc == OWL_OK) {
        s->st.written++;
        s->st.bytes += n;
    } else if (rc == OWL_EAGAIN) {
        s->st.dropped++;
        if (s->sse)
            s->dropped_unreported++;
    }
    stream_wake_locked(s);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int owl_http_stream_sse(owl_http_stream *s, const char *event, const char *data, size_t n)
{
    if (!s)
        return OWL_EINVAL;
    owl_buf ev = OWL_BUF_INIT;
    int rc = owl_http_sse_format(&ev, event, data, n);
    if (rc == OWL_OK)
        rc = owl_http_stream_write(s, ev.data, ev.len);
    owl_buf_free(&ev);
    return rc;
}

/* Queues the final chunk (after the drop notice when it fits). Caller holds mu. */
static void stream_end_locked(owl_http_stream *s)
{
    if (s->closing)
        return;
    stream_report_drops_locked(s, 0);
    /* without memory for five bytes the body cannot end properly: the connection closes */
    if (owl_buf_append(&s->q, "0\r\n\r\n", 5) != OWL_OK)
        s->broken = 1;
    s->closing = 1;
    stream_wake_locked(s);
}

int owl_http_stream_close(owl_http_stream *s)
{
    if (!s)
        return OWL_EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = s->conn ? OWL_OK : OWL_ECLOSED;
    if (s->conn)
        stream_end_locked(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void owl_http_stream_release(owl_http_stream *s)
{
    if (s)
        stream_unref(s);
}

void owl_http_stream_get_stats(owl_http_stream *s, owl_http_stream_stats *out)
{
    if (!s || !out)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->queued = s->q.len + s->inflight;
    out->open = s->conn && !s->closing;
    pthread_mutex_unlock(&s->mu);
}

/* The stream has sent its final chunk: the connection is an ordinary one again (or closes). */
static void stream_finish(owl_http_conn *c)
{
    owl_http_conn_stream_detach(c);
    if (!c->stream_keep)
        c->closing = 1;
}

/* Worker side: moves the stream's queue into wbuf once wbuf is empty (so at most
 * max_buffer bytes wait in owld), sends, and ends the stream after its final chunk. */
static void stream_pump(owl_http_conn *c)
{
    owl_http_stream *s = c->stream;
    int finished = 0;
    pthread_mutex_lock(&s->mu);
    s->woken = 0;
    if (conn_pending(c) == 0) {
        stream_report_drops_locked(s, 0);
        if (s->q.len) {
            owl_buf_free(&c->wbuf);
            c->wbuf = s->q;
            c->wpos = 0;
            s->q = (owl_buf)OWL_BUF_INIT;
            c->stream_hb_at = owl_mono_ns() + c->stream_hb_ns;
        }
        finished = s->closing;
        if (s->broken)
            c->stream_keep = 0;
    }
    pthread_mutex_unlock(&s->mu);
    conn_flush(c);
    pthread_mutex_lock(&s->mu);
    s->inflight = conn_pending(c);
    pthread_mutex_unlock(&s->mu);
    if (finished)
        stream_finish(c);
}

void owl_http_conn_on_wake(owl_http_conn *c)
{
    if (!c->stream || c->dead)
        return;
    conn_settle(c);
}

void owl_http_conn_stream_detach(owl_http_conn *c)
{
    owl_http_stream *s = c->stream;
    if (!s)
        return;
    c->stream = NULL;
    pthread_mutex_lock(&s->mu);
    s->conn = NULL;
    s->inflight = 0;
    owl_buf_free(&s->q);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* Samples the reader's progress: bytes waiting for it are ours (wbuf) plus the kernel's
 * send queue (SIOCOUTQ: not yet acknowledged); the reader progressed when that backlog is
 * empty or the acknowledged count moved. A reader that does not read stops acknowledging
 * once its receive window is full, whatever owld or the kernel still buffer. 1 when there
 * was no progress for the stall timeout. */
static int stream_stalled(owl_http_conn *c, int64_t now)
{
    c->stream_check_at = now + stream_check_ns(c);
    uint64_t backlog = conn_pending(c), acked = c->sent_total;
    int outq = 0;
    if (c->fd >= 0 && ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq > 0) {
        backlog += (uint64_t)outq;
        acked -= (uint64_t)outq;
    }
    if (backlog == 0 || acked != c->stream_acked) {
        c->stream_acked = acked;
        c->stream_progress = now;
        return 0;
    }
    return now - c->stream_progress >= c->stream_stall_ns;
}

/* A quiet SSE stream gets a comment line, so a vanished reader is found by the write. */
static void stream_heartbeat(owl_http_conn *c, int64_t now)
{
    owl_http_stream *s = c->stream;
    c->stream_hb_at = now + c->stream_hb_ns;
    pthread_mutex_lock(&s->mu);
    if (!s->closing)
        stream_chunk_locked(s, ": keepalive\n\n", 13, 0); /* no room: output is pending anyway */
    pthread_mutex_unlock(&s->mu);
    conn_settle(c);
}

/* ------------------------------------------------------------------ connections */

owl_http_conn *owl_http_conn_new(const owl_http_limits *lim, const owl_http_callbacks *cb,
                                 int fd, const char *peer)
{
    owl_http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
    c->lim = lim;
    c->cb = cb;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->last_io = owl_mono_ns();
    return c;
}

void owl_http_conn_free(owl_http_conn *c)
{
    if (!c)
        return;
    owl_http_conn_stream_detach(c);
    req_reset(c);
    owl_buf_free(&c->rbuf);
    owl_buf_free(&c->wbuf);
    owl_buf_free(&c->mem_out);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void owl_http_conn_on_readable(owl_http_conn *c)
{
    static __thread char buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_EVENT; i++) {
        if (c->dead || c->peer_eof || c->fd < 0)
            break;
        if (!c->lingering && (c->closing || c->rbuf.len))
            break; /* backpressure: the bytes already here are not parsed yet */
        /* a body's bytes go straight to its buffer, READ_CHUNK at a time as other input */
        char *at = buf;
        size_t want = body_room(c, &at);
        if (want == 0 || want > sizeof buf)
            want = sizeof buf;
        ssize_t r = recv(c->fd, at, want, 0);
        if (r > 0) {
            if (!c->lingering)
                conn_input(c, at, (size_t)r);
            else if ((c->drained += (size_t)r) > preauth_max(c))
                c->dead = 1; /* a refused body is not read to its end */
        } else if (r == 0) {
            c->peer_eof = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            c->dead = 1;
        }
    }
    conn_settle(c);
}

void owl_http_conn_on_writable(owl_http_conn *c)
{
    conn_settle(c);
}

unsigned owl_http_conn_interest(const owl_http_conn *c)
{
    if (c->dead)
        return OWL_HTTP_CLOSE;
    size_t pending = conn_pending(c);
    if (c->lingering)
        return OWL_HTTP_WANT_READ;
    if (c->closing || c->peer_eof)
        return pending ? OWL_HTTP_WANT_WRITE : OWL_HTTP_CLOSE;
    if (c->stopping && !c->in_req && !pending && !c->rbuf.len && !c->stream)
        return OWL_HTTP_CLOSE;
    unsigned want = pending ? OWL_HTTP_WANT_WRITE : 0;
    if (!c->rbuf.len)
        want |= OWL_HTTP_WANT_READ;
    return want;
}

int64_t owl_http_conn_deadline(const owl_http_conn *c)
{
    if (c->dead)
        return 0;
    if (c->lingering)
        return c->linger_until;
    if (c->stream) {
        /* a stream is not idle: it waits for its heartbeat or for a stalled reader */
        int64_t d = c->stream_hb_ns ? c->stream_hb_at : INT64_MAX;
        return c->stream_check_at < d ? c->stream_check_at : d;
    }
    int64_t idle = c->last_io + (int64_t)c->lim->idle_timeout_ms * 1000000;
    int64_t d = INT64_MAX;
    if (conn_pending(c) || (!c->in_req && !c->closing))
        d = idle; /* stalled output, or an idle keep-alive connection */
    if (c->in_req && !c->closing) {
        int64_t r = c->req_start + (int64_t)c->lim->read_timeout_ms * 1000000;
        if (r < d)
            d = r;
    }
    return d;
}

void owl_http_conn_on_timeout(owl_http_conn *c, int64_t now)
{
    if (c->dead)
        return;
    if (c->lingering) {
        if (now >= c->linger_until)
            c->dead = 1;
        return;
    }
    if (c->stream) {
        if (now >= c->stream_check_at && stream_stalled(c, now)) {
            owl_warn("http: dropping the stream to %s: its reader took nothing for %lld ms",
                     c->peer, (long long)((now - c->stream_progress) / 1000000));
            c->dead = 1;
        } else if (c->stream_hb_ns && now >= c->stream_hb_at) {
            stream_heartbeat(c, now);
        }
        return;
    }
    int64_t idle = c->last_io + (int64_t)c->lim->idle_timeout_ms * 1000000;
    if (c->in_req && !c->closing &&
        now >= c->req_start + (int64_t)c->lim->read_timeout_ms * 1000000) {
        conn_error(c, 408, "RequestTimeout", "request not received within the read timeout");
        conn_settle(c);
        return;
    }
    if (now >= idle && (conn_pending(c) || !c->in_req))
        c->dead = 1;
}

void owl_http_conn_reject(owl_http_conn *c, int status, const char *code, const char *msg)
{
    conn_error(c, status, code, msg);
    conn_settle(c);
}

void owl_http_conn_shutdown(owl_http_conn *c)
{
    c->stopping = 1;
    owl_http_stream *s = c->stream;
    if (!s)
        return;
    c->stream_keep = 0;
    pthread_mutex_lock(&s->mu);
    stream_end_locked(s);
    pthread_mutex_unlock(&s->mu);
    conn_settle(c);
}

/* ------------------------------------------------------------------ in-memory */

owl_http_conn *owl_http_conn_mem_new(const owl_http_limits *lim, const owl_http_callbacks *cb)
{
    return owl_http_conn_new(lim, cb, -1, "127.0.0.1");
}

int owl_http_conn_mem_feed(owl_http_conn *c, const void *data, size_t n)
{
    if (c->dead || c->closing)
        return OWL_ECLOSED;
    /* the bytes go where recv would put them (owl_http_conn_on_readable), so the tests and
     * the fuzz target take the in-place body path owld takes */
    const char *p = data;
    while (n && !c->closing && !c->dead) {
        char *at;
        size_t room = body_room(c, &at);
        if (room == 0) {
            conn_input(c, p, n);
            break;
        }
        size_t k = n < room ? n : room;
        memcpy(at, p, k);
        conn_input(c, at, k);
        p += k;
        n -= k;
    }
    conn_settle(c);
    return c->dead || c->closing ? OWL_ECLOSED : OWL_OK;
}

const owl_buf *owl_http_conn_mem_output(const owl_http_conn *c)
{
    return &c->mem_out;
}

int owl_http_conn_mem_closed(const owl_http_conn *c)
{
    return owl_http_conn_interest(c) == OWL_HTTP_CLOSE;
}

void owl_http_conn_mem_free(owl_http_conn *c)
{
    owl_http_conn_free(c);
}

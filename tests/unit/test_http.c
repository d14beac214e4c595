/* test_http.c — server/http.c and server/loop.c: the connection engine through in-memory
 * connections (framing, pipelining, limits, decoding, responses, streaming), then a real
 * server on 127.0.0.1 talked to with plain sockets (keep-alive, timeouts, connection
 * limit, graceful stop). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/common.h"
#include "server/http.h"
#include "server/http_int.h"

/* ------------------------------------------------------------------ test handler */

/* FNV-1a 64 of p[0..n): a body's fingerprint, as /sum answers it. */
static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* What /sum answers for a body: its length, fingerprint and whether a NUL follows it. */
static void sum_text(const char *p, size_t n, int nul, char out[96])
{
    snprintf(out, 96, "len=%zu fnv=%016llx nul=%d", n, (unsigned long long)fnv(p, n), nul);
}

static atomic_int n_done, n_done_noreq, n_handled;
/* the stream the last /detach request produced, handed to the test (any thread) */
static owl_http_stream *_Atomic g_stream;
static owl_http_stream_opts g_opts;
static atomic_int last_done_status;
static atomic_long last_bytes_in, last_bytes_out;
static char last_action[64];

static void handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    atomic_fetch_add(&n_handled, 1);
    const char *p = req->path;
    if (strcmp(p, "/echo") == 0) {
        owl_http_resp_text(resp, 200, req->body.data ? req->body.data : "", req->body.len);
    } else if (strcmp(p, "/sum") == 0) {
        char sum[96];
        const char *b = req->body.data ? req->body.data : "";
        sum_text(b, req->body.len, b[req->body.len] == '\0', sum);
        owl_http_resp_text(resp, 200, sum, strlen(sum));
    } else if (strcmp(p, "/wire") == 0) {
        owl_http_resp_text(resp, 200, req->wire_body.data ? req->wire_body.data : "",
                           req->wire_body.len);
    } else if (strcmp(p, "/info") == 0) {
        owl_buf b = OWL_BUF_INIT;
        const char *xa = owl_http_req_header(req, "x-a");
        owl_buf_printf(&b, "%s|%s|%s|%s|%zu|%d.%d|%s|%zu", req->method, req->target, req->path,
                       req->query, req->nheaders, req->http_major, req->http_minor,
                       xa ? xa : "-", req->wire_bytes);
        owl_http_resp_text(resp, 200, b.data, b.len);
        owl_buf_free(&b);
    } else if (strcmp(p, "/headers") == 0) {
        /* every header as name=value; */
        owl_buf b = OWL_BUF_INIT;
        for (size_t i = 0; i < req->nheaders; i++)
            owl_buf_printf(&b, "%s=%s;", req->headers[i].name, req->headers[i].value);
        owl_http_resp_text(resp, 200, b.data ? b.data : "", b.len);
        owl_buf_free(&b);
    } else if (strcmp(p, "/stream") == 0) {
        owl_http_resp_stream_begin(resp, 200, "text/plain");
        owl_http_resp_stream_write(resp, "hello", 5);
        owl_http_resp_stream_write(resp, "", 0);
        owl_http_resp_stream_write(resp, " world", 6);
        owl_http_resp_stream_end(resp);
    } else if (strcmp(p, "/nostreamend") == 0) {
        owl_http_resp_stream_begin(resp, 200, "text/plain");
        owl_http_resp_stream_write(resp, "abc", 3);
    } else if (strcmp(p, "/sse") == 0) {
        owl_http_resp_stream_begin(resp, 200, "text/event-stream");
        owl_http_resp_sse(resp, "update", "a\nb", 3);
        owl_http_resp_sse(resp, NULL, "c", 1);
    } else if (strcmp(p, "/detach") == 0 || strcmp(p, "/detach-plain") == 0) {
        int sse = strcmp(p, "/detach") == 0;
        owl_http_stream *st = owl_http_resp_detach_stream(
            resp, 200, sse ? "text/event-stream" : "text/plain", &g_opts);
        cr_assert_not_null(st);
        cr_assert_null(owl_http_resp_detach_stream(resp, 200, "text/plain", NULL));
        resp->action = "test:Detach";
        atomic_store(&g_stream, st);
    } else if (strcmp(p, "/slow") == 0) {
        usleep(500 * 1000);
        owl_http_resp_text(resp, 200, "slow done", 9);
    } else if (strcmp(p, "/big") == 0) {
        size_t n = 200 * 1024;
        char *big = malloc(n);
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        owl_http_resp_text(resp, 200, big, n);
        free(big);
    } else if (strcmp(p, "/stopme") == 0 && ud) {
        owl_http_server_stop(*(owl_http_server **)ud);
        owl_http_resp_text(resp, 200, "stopping", 8);
    } else if (strcmp(p, "/whoami") == 0) {
        const char *who = req->auth ? req->auth : "-";
        owl_http_resp_text(resp, 200, who, strlen(who));
    } else if (strcmp(p, "/close") == 0) {
        resp->close = 1;
        owl_http_resp_json(resp, 200, "{}", 2);
    } else if (strcmp(p, "/error") == 0) {
        owl_http_resp_error(resp, 404, "NotFound", "no %s here", "thing");
        owl_http_resp_header(resp, "x-extra", "1");
        resp->action = "test:Error";
    } else {
        owl_http_resp_json(resp, 200, "{\"ok\":true}", 11);
    }
}

static void done(void *ud, const owl_http_req *req, const owl_http_resp *resp, size_t bytes_in,
                 size_t bytes_out, int64_t duration_ns)
{
    (void)ud;
    (void)duration_ns;
    atomic_fetch_add(&n_done, 1);
    if (!req)
        atomic_fetch_add(&n_done_noreq, 1);
    atomic_store(&last_done_status, resp->status);
    atomic_store(&last_bytes_in, (long)bytes_in);
    atomic_store(&last_bytes_out, (long)bytes_out);
    snprintf(last_action, sizeof last_action, "%s", resp->action ? resp->action : "");
}

static owl_http_callbacks cbs = {handle, done, NULL, NULL};
static owl_http_limits lims = OWL_HTTP_DEFAULT_LIMITS;

/* ------------------------------------------------------------------ response parsing */

typedef struct tresp {
    int status;
    int nh;
    char name[32][64];
    char value[32][256];
    owl_buf body;
} tresp;

static const char *th(const tresp *r, const char *name)
{
    for (int i = 0; i < r->nh; i++)
        if (strcasecmp(r->name[i], name) == 0)
            return r->value[i];
    return NULL;
}

/* Parses the response at out[*off..n); 1 when a complete one was parsed. head: no body. */
static int next_resp(const char *out, size_t n, size_t *off, int head, tresp *r)
{
    memset(r, 0, sizeof *r);
    const char *s = out + *off, *end = out + n;
    const char *hend = memmem(s, (size_t)(end - s), "\r\n\r\n", 4);
    if (!hend || sscanf(s, "HTTP/1.1 %d", &r->status) != 1)
        return 0;
    const char *line = memchr(s, '\n', (size_t)(hend - s)) + 1;
    while (line < hend + 2) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && r->nh < 32) {
            snprintf(r->name[r->nh], 64, "%.*s", (int)(colon - line), line);
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            snprintf(r->value[r->nh], 256, "%.*s", (int)(eol - v), v);
            r->nh++;
        }
        line = eol + 2;
    }
    const char *b = hend + 4;
    const char *te = th(r, "transfer-encoding");
    const char *cl = th(r, "content-length");
    if (head || r->status == 100 || r->status == 204 || r->status == 304) {
        /* nothing */
    } else if (te && strcmp(te, "chunked") == 0) {
        for (;;) {
            const char *eol = memmem(b, (size_t)(end - b), "\r\n", 2);
            if (!eol)
                return 0;
            size_t len = strtoul(b, NULL, 16);
            b = eol + 2;
            if ((size_t)(end - b) < len + 2)
                return 0;
            if (len == 0) {
                b += 2;
                break;
            }
            owl_buf_append(&r->body, b, len);
            b += len + 2;
        }
    } else if (cl) {
        size_t len = strtoul(cl, NULL, 10);
        if ((size_t)(end - b) < len)
            return 0;
        owl_buf_append(&r->body, b, len);
        b += len;
    }
    *off = (size_t)(b - out);
    return 1;
}

static void tresp_free(tresp *r)
{
    owl_buf_free(&r->body);
}

static int is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return 1;
}

static owl_http_conn *mem_conn(const owl_http_limits *l)
{
    owl_http_conn *c = owl_http_conn_mem_new(l ? l : &lims, &cbs);
    cr_assert_not_null(c);
    return c;
}

static int feed_str(owl_http_conn *c, const char *s)
{
    return owl_http_conn_mem_feed(c, s, strlen(s));
}

static const char *out_of(owl_http_conn *c, size_t *n)
{
    const owl_buf *o = owl_http_conn_mem_output(c);
    *n = o->len;
    return o->data ? o->data : "";
}

/* Feeds s and parses exactly one response from the new output. */
static void one_resp(owl_http_conn *c, const char *s, size_t *off, tresp *r)
{
    feed_str(c, s);
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert(next_resp(o, n, off, 0, r), "no complete response in: %.*s", (int)n, o);
}

/* ------------------------------------------------------------------ in-memory tests */

Test(http_mem, simple_get)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", &off, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(th(&r, "content-type"), "application/json");
    cr_assert_str_eq(th(&r, "content-length"), "11");
    cr_assert_str_eq(r.body.data, "{\"ok\":true}");
    cr_assert(is_uuid4(th(&r, "x-owl-request-id")), "request id %s", th(&r, "x-owl-request-id"));
    cr_assert_not_null(th(&r, "date"));
    cr_assert_null(th(&r, "connection"));
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    cr_assert_eq(n_done, 1);
    cr_assert_eq(last_done_status, 200);
    cr_assert_eq(last_bytes_in, 28);
    size_t n;
    out_of(c, &n);
    cr_assert_eq((size_t)last_bytes_out, n);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, request_fields)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "GET /info?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nX-A:   v1  \r\nx-a: v2\r\n\r\n", &off,
             &r);
    cr_assert_str_eq(r.body.data, "GET|/info?a=1&b=%20|/info|a=1&b=%20|3|1.1|v1|63");
    tresp_free(&r);
    one_resp(c, "GET /headers HTTP/1.1\r\nHOST: h\r\nX-Empty:\r\nX-B: 2\r\n\r\n", &off, &r);
    cr_assert_str_eq(r.body.data, "host=h;x-empty=;x-b=2;");
    tresp_free(&r);
    one_resp(c, "GET http://example.com/info?q HTTP/1.1\r\nHost: h\r\n\r\n", &off, &r);
    cr_assert_str_eq(r.body.data, "GET|http://example.com/info?q|/info|q|1|1.1|-|51");
    tresp_free(&r);
    one_resp(c, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &off, &r);
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, keep_alive_two_requests)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r1, r2;
    one_resp(c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", &off, &r1);
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    one_resp(c, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", &off, &r2);
    cr_assert_eq(r1.status, 200);
    cr_assert_eq(r2.status, 200);
    cr_assert_str_neq(th(&r1, "x-owl-request-id"), th(&r2, "x-owl-request-id"));
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    tresp_free(&r1);
    tresp_free(&r2);
    owl_http_conn_mem_free(c);
}

Test(http_mem, http10_keep_alive_rules)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &off, &r);
    cr_assert_str_eq(th(&r, "connection"), "keep-alive");
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    tresp_free(&r);
    one_resp(c, "GET /a HTTP/1.0\r\n\r\n", &off, &r);
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(feed_str(c, "GET / HTTP/1.1\r\n\r\n"), OWL_ECLOSED);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    c = mem_conn(NULL);
    off = 0;
    one_resp(c, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", &off, &r);
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    c = mem_conn(NULL);
    off = 0;
    one_resp(c, "GET /close HTTP/1.1\r\n\r\n", &off, &r);
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, pipelined_in_order)
{
    owl_http_conn *c = mem_conn(NULL);
    feed_str(c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
                "\r\nPOST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nthree");
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    const char *want[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        tresp r;
        cr_assert(next_resp(o, n, &off, 0, &r), "response %d missing", i);
        cr_assert_str_eq(r.body.data, want[i]);
        tresp_free(&r);
    }
    cr_assert_eq(off, n);
    cr_assert_eq(n_handled, 3);
    owl_http_conn_mem_free(c);
}

Test(http_mem, chunked_body)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c,
             "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
             &off, &r);
    cr_assert_str_eq(r.body.data, "hello world");
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, content_length_byte_by_byte)
{
    owl_http_conn *c = mem_conn(NULL);
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
                      "GET /a HTTP/1.1\r\n\r\n";
    for (size_t i = 0; req[i]; i++)
        cr_assert_eq(owl_http_conn_mem_feed(c, req + i, 1), OWL_OK);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_str_eq(r.body.data, "0123456789");
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_str_eq(r.body.data, "{\"ok\":true}");
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, expect_100_continue)
{
    owl_http_conn *c = mem_conn(NULL);
    feed_str(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert_eq(n, 25);
    cr_assert(memcmp(o, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    cr_assert_eq(n_handled, 0);
    feed_str(c, "body");
    o = out_of(c, &n);
    size_t off = 25;
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "body");
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, header_block_over_limit_431)
{
    owl_http_limits l = lims;
    l.max_header_bytes = 100;
    /* exactly at the limit is accepted */
    char req[256], pad[128];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    const char *head = "GET / HTTP/1.1\r\nX: ";
    size_t fill = 100 - strlen(head) - 4;
    snprintf(req, sizeof req, "%s%.*s\r\n\r\n", head, (int)fill, pad);
    cr_assert_eq(strlen(req), 100);
    owl_http_conn *c = mem_conn(&l);
    size_t off = 0;
    tresp r;
    one_resp(c, req, &off, &r);
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    /* one byte more is not */
    snprintf(req, sizeof req, "%s%.*sb\r\n\r\n", head, (int)fill, pad);
    c = mem_conn(&l);
    off = 0;
    one_resp(c, req, &off, &r);
    cr_assert_eq(r.status, 431);
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert(strstr(r.body.data, "\"code\":\"RequestHeaderFieldsTooLarge\""));
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(n_handled, 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    /* a header block arriving in many small pieces is caught too */
    c = mem_conn(&l);
    feed_str(c, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 20 && !owl_http_conn_mem_closed(c); i++)
        feed_str(c, "X-Long: 0123456789\r\n");
    size_t n;
    const char *o = out_of(c, &n);
    off = 0;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 431);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, content_length_over_limit_413_without_body)
{
    owl_http_limits l = lims;
    l.max_body_bytes = 1000;
    owl_http_conn *c = mem_conn(&l);
    size_t off = 0;
    tresp r;
    one_resp(c, "POST /echo HTTP/1.1\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
             &off, &r);
    cr_assert_eq(r.status, 413, "status %d", r.status);
    cr_assert(strstr(r.body.data, "\"code\":\"PayloadTooLarge\""));
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(n_handled, 0);
    cr_assert_eq(n_done, 1);
    cr_assert_eq(n_done_noreq, 0);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, chunked_over_limit_413)
{
    owl_http_limits l = lims;
    l.max_body_bytes = 10;
    owl_http_conn *c = mem_conn(&l);
    feed_str(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n");
    size_t n;
    out_of(c, &n);
    cr_assert_eq(n, 0);
    size_t off = 0;
    tresp r;
    one_resp(c, "5\r\nghijk\r\n", &off, &r);
    cr_assert_eq(r.status, 413);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(n_handled, 0);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

/* A chunk declaring more than the limit is refused at its header, without its bytes. */
Test(http_mem, chunk_header_over_limit_413_at_once)
{
    owl_http_limits l = lims;
    l.max_body_bytes = 1000;
    owl_http_conn *c = mem_conn(&l);
    size_t off = 0;
    tresp r;
    one_resp(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n", &off,
             &r);
    cr_assert_eq(r.status, 413);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

static void gzip_buf(const void *in, size_t n, int wbits, owl_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    owl_buf_reserve(out, deflateBound(&zs, n));
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)(out->cap - 1);
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out->len = zs.total_out;
    deflateEnd(&zs);
}

static void post_encoded(const char *enc, const owl_buf *body, tresp *r)
{
    owl_http_conn *c = mem_conn(NULL);
    char head[256];
    snprintf(head, sizeof head,
             "POST /echo HTTP/1.1\r\nContent-Encoding: %s\r\nContent-Length: %zu\r\n\r\n", enc,
             body->len);
    feed_str(c, head);
    owl_http_conn_mem_feed(c, body->data, body->len);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    cr_assert(next_resp(o, n, &off, 0, r));
    owl_http_conn_mem_free(c);
}

/* The body as sent stays available (SigV4 signs it); plain bodies keep wire_body empty. */
Test(http_mem, wire_body_kept_for_encoded_requests)
{
    owl_buf z = OWL_BUF_INIT;
    gzip_buf("signed bytes", 12, 15 + 16, &z);
    owl_http_conn *c = mem_conn(NULL);
    char head[256];
    snprintf(head, sizeof head,
             "POST /wire HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
             z.len);
    feed_str(c, head);
    owl_http_conn_mem_feed(c, z.data, z.len);
    feed_str(c, "POST /wire HTTP/1.1\r\nContent-Length: 5\r\n\r\nplain");
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, z.len);
    cr_assert_eq(memcmp(r.body.data, z.data, z.len), 0);
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.body.len, 0);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
    owl_buf_free(&z);
}

Test(http_mem, compressed_bodies)
{
    const char *text = "the quick brown fox jumps over the lazy dog, the quick brown fox";
    size_t tn = strlen(text);
    struct {
        const char *enc;
        int wbits;
    } cases[] = {{"gzip", 15 + 16}, {"x-gzip", 15 + 16}, {"deflate", 15}, {"deflate", -15}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl_buf z = OWL_BUF_INIT;
        gzip_buf(text, tn, cases[i].wbits, &z);
        tresp r;
        post_encoded(cases[i].enc, &z, &r);
        cr_assert_eq(r.status, 200, "%s/%d: %d", cases[i].enc, cases[i].wbits, r.status);
        cr_assert_str_eq(r.body.data, text);
        tresp_free(&r);
        owl_buf_free(&z);
    }
    owl_buf z = OWL_BUF_INIT;
    owl_buf_reserve(&z, ZSTD_compressBound(tn));
    z.len = ZSTD_compress(z.data, z.cap, text, tn, 3);
    cr_assert(!ZSTD_isError(z.len));
    tresp r;
    post_encoded("ZSTD", &z, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, text);
    tresp_free(&r);
    /* corrupt compressed data is a client error */
    z.data[z.len / 2] ^= 0x55;
    z.data[0] ^= 0x55;
    post_encoded("zstd", &z, &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body.data, "BadRequest"));
    tresp_free(&r);
    owl_buf_free(&z);
}

/* 64 MiB of zeros gzip-compressed into ~64 KiB. */
static void make_bomb(owl_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    static char zeros[1 << 16];
    char tmp[1 << 16];
    for (int i = 0; i <= 1024; i++) {
        zs.next_in = (Bytef *)zeros;
        zs.avail_in = i < 1024 ? sizeof zeros : 0;
        int flush = i < 1024 ? Z_NO_FLUSH : Z_FINISH;
        do {
            zs.next_out = (Bytef *)tmp;
            zs.avail_out = sizeof tmp;
            deflate(&zs, flush);
            owl_buf_append(out, tmp, sizeof tmp - zs.avail_out);
        } while (zs.avail_out == 0);
    }
    deflateEnd(&zs);
}

Test(http_mem, gzip_bomb_413)
{
    owl_buf bomb = OWL_BUF_INIT;
    make_bomb(&bomb);
    cr_assert_lt(bomb.len, 200 * 1024);
    owl_http_limits l = lims;
    l.max_body_bytes = 1 << 20;
    owl_http_conn *c = mem_conn(&l);
    char head[256];
    snprintf(head, sizeof head,
             "POST /echo HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
             bomb.len);
    feed_str(c, head);
    owl_http_conn_mem_feed(c, bomb.data, bomb.len);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 413);
    cr_assert(strstr(r.body.data, "PayloadTooLarge"));
    cr_assert_eq(n_handled, 0);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    owl_buf out = OWL_BUF_INIT;
    owl_error err;
    cr_assert_eq(owl_http_decompress("gzip", bomb.data, bomb.len, 1000, &out, &err),
                 OWL_ETOOBIG);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(owl_http_decompress("gzip", bomb.data, bomb.len, 64u << 20, &out, &err), OWL_OK);
    cr_assert_eq(out.len, 64u << 20);
    owl_buf_free(&out);
    owl_buf_free(&bomb);
}

Test(http_mem, decompress_api)
{
    owl_buf out = OWL_BUF_INIT, z = OWL_BUF_INIT;
    owl_error err;
    cr_assert_eq(owl_http_decompress("br", "x", 1, 10, &out, &err), OWL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "br"));
    cr_assert_eq(owl_http_decompress(NULL, "abc", 3, 3, &out, &err), OWL_OK);
    cr_assert_str_eq(out.data, "abc");
    owl_buf_reset(&out);
    cr_assert_eq(owl_http_decompress("identity", "abcd", 4, 3, &out, &err), OWL_ETOOBIG);
    gzip_buf("abcdef", 6, 15 + 16, &z);
    cr_assert_eq(owl_http_decompress("gzip", z.data, z.len, 6, &out, &err), OWL_OK);
    cr_assert_str_eq(out.data, "abcdef");
    owl_buf_reset(&out);
    cr_assert_eq(owl_http_decompress("gzip", z.data, z.len, 5, &out, &err), OWL_ETOOBIG);
    cr_assert_eq(owl_http_decompress("gzip", z.data, z.len - 3, 100, &out, &err), OWL_EINVAL);
    cr_assert_eq(owl_http_decompress("gzip", "garbage!", 8, 100, &out, &err), OWL_EINVAL);
    /* two gzip members back to back decode as one body */
    owl_buf two = OWL_BUF_INIT;
    owl_buf_append(&two, z.data, z.len);
    owl_buf_append(&two, z.data, z.len);
    cr_assert_eq(owl_http_decompress("gzip", two.data, two.len, 100, &out, &err), OWL_OK);
    cr_assert_str_eq(out.data, "abcdefabcdef");
    owl_buf_reset(&out);
    cr_assert_eq(owl_http_decompress("zstd", "\x28\xb5\x2f\xfd", 4, 100, &out, &err), OWL_EINVAL);
    owl_buf_free(&two);
    owl_buf_free(&out);
    owl_buf_free(&z);
}

Test(http_mem, unknown_encoding_415)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "POST /echo HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\n", &off,
             &r);
    cr_assert_eq(r.status, 415);
    cr_assert(strstr(r.body.data, "\"code\":\"UnsupportedMediaType\""));
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, malformed_400)
{
    const char *bad[] = {
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "GET / HTTP/9.9.9\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "\x01\x02\x03 junk\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        owl_http_conn *c = mem_conn(NULL);
        size_t off = 0;
        tresp r;
        one_resp(c, bad[i], &off, &r);
        cr_assert_eq(r.status, 400, "case %zu: %d", i, r.status);
        cr_assert(strstr(r.body.data, "\"code\":\"BadRequest\""));
        cr_assert(is_uuid4(th(&r, "x-owl-request-id")));
        cr_assert_eq(owl_http_conn_mem_closed(c), 1);
        tresp_free(&r);
        owl_http_conn_mem_free(c);
    }
    cr_assert_eq(n_handled, 0);
    cr_assert_geq(n_done_noreq, 1); /* the junk line never gave a request */
}

/* issue 9, point 8: what the non-strict http-parser lets through is refused with 400 before
 * the handler runs, whether the bytes arrive at once or one by one. */
static const char *const strict_bad[] = {
    "GET /info HTTP/9.9\r\nHost: a\r\n\r\n",
    "GET /info HTTP/2.0\r\n\r\n",
    "GET /info HTTP/0.9\r\n\r\n",
    "GET /info HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "GET /info HTTP/1.1\r\nAuthorization: Bearer A:x\r\nauthorization: Bearer B:y\r\n\r\n",
    "GET /info HTTP/1.1\r\nX-Amz-Target: A.B\r\nX-Amz-Target: C.D\r\n\r\n",
    "GET /info HTTP/1.1\r\nX-Amz-Date: 1\r\nX-Amz-Date: 1\r\n\r\n",
    "GET /info HTTP/1.1\r\nX-Amz-Content-Sha256: a\r\nX-Amz-Content-Sha256: b\r\n\r\n",
    "POST /echo HTTP/1.1\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n",
    "POST /echo HTTP/1.1\r\nContent-Length : 2\r\n\r\nab",
    "POST /echo HTTP/1.1\r\nContent-Length\t: 2\r\n\r\nab",
    "GET /info HTTP/1.1\r\nX A: 1\r\n\r\n",
    "GET /info HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
    "GET /info HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n",
    "GET /info HTTP/1.1\nHost: a\n\n",
    "GET /info HTTP/1.1\r\nHost: a\n\r\n",
    "GET /in\tfo HTTP/1.1\r\n\r\n",
    "GET /in\xc3\xa9 HTTP/1.1\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\rXab\r\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2 junk\r\nab\r\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\rX",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n x\r\n\r\n",
};

static void strict_case(const char *req, int byte_by_byte, size_t i)
{
    owl_http_conn *c = mem_conn(NULL);
    if (byte_by_byte) {
        for (size_t k = 0; req[k] && !owl_http_conn_mem_closed(c); k++)
            owl_http_conn_mem_feed(c, req + k, 1);
    } else {
        feed_str(c, req);
    }
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r), "case %zu (%s): no response: %.*s", i,
              byte_by_byte ? "bytewise" : "whole", (int)n, o);
    cr_assert_eq(r.status, 400, "case %zu (%s): %d %s", i, byte_by_byte ? "bytewise" : "whole",
                 r.status, r.body.data ? r.body.data : "");
    cr_assert(strstr(r.body.data, "\"code\":\"BadRequest\""));
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, strict_framing_400)
{
    for (size_t i = 0; i < sizeof strict_bad / sizeof strict_bad[0]; i++) {
        strict_case(strict_bad[i], 0, i);
        strict_case(strict_bad[i], 1, i);
    }
    cr_assert_eq(n_handled, 0, "no misframed request reached the handler");
}

/* The strict checks keep what RFC 9112 allows: HTTP/1.0, chunk extensions, trailers, blank
 * lines before a request, pipelining, and a header that repeats where it may. */
Test(http_mem, strict_framing_allows_valid)
{
    const char *req =
        "\r\nGET /info HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=\"v\"\r\nabc\r\nA \t;x\r\n0123456789\r\n0\r\nT-1: x\r\nT-2: y\r\n\r\n"
        "GET /headers HTTP/1.1\r\nAccept: a\r\nAccept: b\r\nHost: h\r\n\r\n"
        "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        owl_http_conn *c = mem_conn(NULL);
        if (bytewise)
            for (size_t k = 0; req[k]; k++)
                owl_http_conn_mem_feed(c, req + k, 1);
        else
            feed_str(c, req);
        size_t n, off = 0;
        const char *o = out_of(c, &n);
        tresp r;
        const char *want[] = {NULL, "abc0123456789", "accept=a;accept=b;host=h;", "xyz"};
        for (size_t i = 0; i < 4; i++) {
            cr_assert(next_resp(o, n, &off, 0, &r), "response %zu missing: %.*s", i, (int)n, o);
            cr_assert_eq(r.status, 200, "response %zu: %d", i, r.status);
            if (want[i])
                cr_assert_str_eq(r.body.data, want[i]);
            tresp_free(&r);
        }
        cr_assert_eq(owl_http_conn_mem_closed(c), 0);
        owl_http_conn_mem_free(c);
    }
}

Test(http_mem, unsupported_transfer_coding_501)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", &off,
             &r);
    cr_assert_eq(r.status, 501);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, head_has_no_body)
{
    owl_http_conn *c = mem_conn(NULL);
    feed_str(c, "HEAD /x HTTP/1.1\r\n\r\nHEAD /stream HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 1, &r));
    cr_assert_str_eq(th(&r, "content-length"), "11");
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 1, &r));
    cr_assert_str_eq(th(&r, "transfer-encoding"), "chunked");
    tresp_free(&r);
    /* the GET response starts right after the HEAD responses' headers */
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_str_eq(r.body.data, "{\"ok\":true}");
    cr_assert_eq(off, n);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, streaming_chunked)
{
    owl_http_conn *c = mem_conn(NULL);
    feed_str(c, "GET /stream HTTP/1.1\r\n\r\nGET /nostreamend HTTP/1.1\r\n\r\n"
                "GET /x HTTP/1.1\r\n\r\n");
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    cr_assert(strstr(o, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_str_eq(th(&r, "transfer-encoding"), "chunked");
    cr_assert_str_eq(th(&r, "content-type"), "text/plain");
    cr_assert_null(th(&r, "content-length"));
    cr_assert(is_uuid4(th(&r, "x-owl-request-id")));
    cr_assert_str_eq(r.body.data, "hello world");
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r)); /* ended by the layer */
    cr_assert_str_eq(r.body.data, "abc");
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    cr_assert_eq(off, n);
    owl_http_conn_mem_free(c);
}

Test(http_mem, sse_format)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "GET /sse HTTP/1.1\r\n\r\n", &off, &r);
    cr_assert_str_eq(th(&r, "content-type"), "text/event-stream");
    cr_assert_str_eq(r.body.data, "event: update\ndata: a\ndata: b\n\ndata: c\n\n");
    tresp_free(&r);
    owl_http_conn_mem_free(c);
}

Test(http_mem, error_helper_and_headers)
{
    owl_http_conn *c = mem_conn(NULL);
    size_t off = 0;
    tresp r;
    one_resp(c, "GET /error HTTP/1.1\r\n\r\n", &off, &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body.data,
                     "{\"error\":{\"code\":\"NotFound\",\"message\":\"no thing here\"}}");
    cr_assert_str_eq(th(&r, "x-extra"), "1");
    cr_assert_str_eq(last_action, "test:Error");
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    owl_http_resp resp;
    memset(&resp, 0, sizeof resp);
    cr_assert_eq(owl_http_resp_header(&resp, "x-a", "b\r\nInjected: 1"), OWL_EINVAL);
    cr_assert_eq(owl_http_resp_header(&resp, "x:a", "b"), OWL_EINVAL);
    cr_assert_eq(owl_http_resp_header(&resp, "x-a", "b"), OWL_OK);
    cr_assert_str_eq(resp.headers.data, "x-a: b\r\n");
    cr_assert_eq(owl_http_resp_stream_begin(&resp, 200, "text/plain"), OWL_EINVAL);
    owl_buf_free(&resp.headers);
    cr_assert_str_eq(owl_http_status_text(431), "Request Header Fields Too Large");
    cr_assert_str_eq(owl_http_status_text(299), "Unknown");
}

Test(http_mem, read_timeout_408)
{
    owl_http_limits l = lims;
    l.read_timeout_ms = 300;
    owl_http_conn *c = mem_conn(&l);
    feed_str(c, "GET / HTTP/1.1\r\nHost");
    int64_t d = owl_http_conn_deadline(c);
    cr_assert_gt(d, owl_mono_ns());
    cr_assert_leq(d, owl_mono_ns() + 300 * 1000000LL);
    owl_http_conn_on_timeout(c, d - 1);
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    owl_http_conn_on_timeout(c, d);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 408);
    cr_assert(strstr(r.body.data, "RequestTimeout"));
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    /* an idle keep-alive connection just closes, silently */
    c = mem_conn(&l);
    off = 0;
    one_resp(c, "GET / HTTP/1.1\r\n\r\n", &off, &r);
    tresp_free(&r);
    d = owl_http_conn_deadline(c);
    owl_http_conn_on_timeout(c, d);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    out_of(c, &n);
    cr_assert_eq(n, off);
    owl_http_conn_mem_free(c);
}

Test(http_mem, many_pipelined_large_responses)
{
    owl_http_conn *c = mem_conn(NULL);
    owl_buf reqs = OWL_BUF_INIT;
    for (int i = 0; i < 20; i++)
        owl_buf_puts(&reqs, "GET /big HTTP/1.1\r\n\r\n");
    owl_http_conn_mem_feed(c, reqs.data, reqs.len);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    for (int i = 0; i < 20; i++) {
        tresp r;
        cr_assert(next_resp(o, n, &off, 0, &r));
        cr_assert_eq(r.body.len, 200 * 1024);
        tresp_free(&r);
    }
    owl_buf_free(&reqs);
    owl_http_conn_mem_free(c);
}

/* ------------------------------------------------------------------ socket tests */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Reads until one full response is in acc (from *off); returns 0 on EOF/timeout first. */
static int read_resp(int fd, owl_buf *acc, size_t *off, tresp *r)
{
    for (;;) {
        if (acc->len > *off && next_resp(acc->data, acc->len, off, 0, r))
            return 1;
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return 0;
        owl_buf_append(acc, buf, (size_t)n);
    }
}

/* 1 when the peer closed (recv returns 0) within ms. */
static int closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char b[256];
    return recv(fd, b, sizeof b, 0) == 0;
}

static owl_http_server *start_server(const owl_http_limits *l, int workers)
{
    owl_http_server *s = NULL;
    owl_error err;
    int rc = owl_http_server_create("127.0.0.1", 0, workers, l ? l : &lims, &cbs, &s, &err);
    cr_assert_eq(rc, OWL_OK, "create: %s", err.msg);
    cr_assert_gt(owl_http_server_port(s), 0);
    cr_assert_eq(owl_http_server_start(s, &err), OWL_OK, "start: %s", err.msg);
    return s;
}

static int64_t now_ms(void)
{
    return owl_mono_ns() / 1000000;
}

Test(http_sock, keep_alive, .timeout = 20)
{
    owl_http_server *s = start_server(NULL, 2);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_str_eq(r.body.data, "hello");
    tresp_free(&r);
    send_str(fd, "GET /info HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    cr_assert(strncmp(r.body.data, "GET|/info|", 10) == 0);
    tresp_free(&r);
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_str_eq(r.body.data, "{\"ok\":true}");
    tresp_free(&r);
    cr_assert_eq(owl_http_server_connections(s), 1);
    close(fd);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
    cr_assert_eq(n_handled, 3);
}

Test(http_sock, read_timeout_408, .timeout = 20)
{
    owl_http_limits l = lims;
    l.read_timeout_ms = 300;
    owl_http_server *s = start_server(&l, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    int64_t t0 = now_ms();
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    int64_t dt = now_ms() - t0;
    cr_assert_eq(r.status, 408);
    cr_assert_geq(dt, 290);
    cr_assert_lt(dt, 1000);
    cr_assert(closed_within(fd, 1000));
    tresp_free(&r);
    close(fd);

    /* one byte every 50 ms does not extend the deadline */
    fd = tcp_connect(owl_http_server_port(s));
    const char *req = "GET / HTTP/1.1\r\nHost: slowloris.example\r\n"
                      "X-Pad: aaaaaaaaaaaaaaaaaa\r\n\r\n";
    t0 = now_ms();
    int got408 = 0;
    for (size_t i = 0; req[i] && now_ms() - t0 < 3000; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            got408 = 1;
            break;
        }
    }
    cr_assert(got408, "no reply while dribbling");
    acc.len = 0;
    off = 0;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 408);
    cr_assert_lt(now_ms() - t0, 1000);
    tresp_free(&r);
    close(fd);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

Test(http_sock, idle_timeout_closes, .timeout = 20)
{
    owl_http_limits l = lims;
    l.idle_timeout_ms = 300;
    owl_http_server *s = start_server(&l, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    send_str(fd, "GET / HTTP/1.1\r\n\r\n");
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    tresp_free(&r);
    int64_t t0 = now_ms();
    cr_assert(closed_within(fd, 2000));
    int64_t dt = now_ms() - t0;
    cr_assert_geq(dt, 250);
    cr_assert_lt(dt, 1000);
    close(fd);
    usleep(200 * 1000);
    cr_assert_eq(owl_http_server_connections(s), 0);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

Test(http_sock, max_connections_503, .timeout = 20)
{
    owl_http_limits l = lims;
    l.max_connections = 2;
    owl_http_server *s = start_server(&l, 2);
    int port = owl_http_server_port(s);
    int fds[2];
    owl_buf acc = OWL_BUF_INIT;
    tresp r;
    for (int i = 0; i < 2; i++) {
        fds[i] = tcp_connect(port);
        send_str(fds[i], "GET / HTTP/1.1\r\n\r\n");
        size_t off = 0;
        acc.len = 0;
        cr_assert(read_resp(fds[i], &acc, &off, &r));
        cr_assert_eq(r.status, 200);
        tresp_free(&r);
    }
    int fd = tcp_connect(port);
    send_str(fd, "GET / HTTP/1.1\r\n\r\n");
    size_t off = 0;
    acc.len = 0;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(r.body.data, "\"code\":\"ServiceUnavailable\""));
    cr_assert(closed_within(fd, 3000));
    tresp_free(&r);
    close(fd);
    /* after one closes, a new connection is served again */
    close(fds[0]);
    usleep(300 * 1000);
    fd = tcp_connect(port);
    send_str(fd, "GET / HTTP/1.1\r\n\r\n");
    off = 0;
    acc.len = 0;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    close(fd);
    close(fds[1]);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

struct stopper {
    owl_http_server *s;
    int delay_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *st = arg;
    usleep((useconds_t)st->delay_ms * 1000);
    owl_http_server_stop(st->s);
    return NULL;
}

Test(http_sock, stop_lets_slow_handler_finish, .timeout = 20)
{
    owl_http_server *s = start_server(NULL, 2);
    int port = owl_http_server_port(s);
    int idle = tcp_connect(port); /* an idle keep-alive connection is closed by stop */
    send_str(idle, "GET / HTTP/1.1\r\n\r\n");
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(idle, &acc, &off, &r));
    tresp_free(&r);

    int fd = tcp_connect(port);
    send_str(fd, "GET /slow HTTP/1.1\r\n\r\n");
    usleep(100 * 1000);
    struct stopper st = {s, 0};
    pthread_t t;
    int64_t t0 = now_ms();
    pthread_create(&t, NULL, stop_later, &st);
    off = 0;
    acc.len = 0;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "slow done");
    cr_assert_str_eq(th(&r, "connection"), "close");
    tresp_free(&r);
    cr_assert(closed_within(fd, 2000));
    cr_assert(closed_within(idle, 2000));
    pthread_join(t, NULL);
    cr_assert_lt(now_ms() - t0, 3000);
    /* nobody listens any more */
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_neq(connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    close(c2);
    close(fd);
    close(idle);
    owl_http_server_stop(s); /* idempotent */
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

Test(http_sock, stop_from_handler, .timeout = 20)
{
    static owl_http_server *srv;
    owl_http_callbacks cb2 = {handle, done, &srv, NULL};
    owl_error err;
    cr_assert_eq(owl_http_server_create("127.0.0.1", 0, 2, &lims, &cb2, &srv, &err), OWL_OK);
    cr_assert_eq(owl_http_server_start(srv, &err), OWL_OK);
    int fd = tcp_connect(owl_http_server_port(srv));
    send_str(fd, "GET /stopme HTTP/1.1\r\n\r\n");
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_str_eq(r.body.data, "stopping");
    cr_assert_str_eq(th(&r, "connection"), "close");
    cr_assert(closed_within(fd, 2000));
    tresp_free(&r);
    owl_buf_free(&acc);
    close(fd);
    owl_http_server_destroy(srv); /* joins the workers */
}

Test(http_sock, bind_errors, .timeout = 20)
{
    owl_http_server *s = start_server(NULL, 2), *s2 = NULL;
    owl_error err;
    int rc = owl_http_server_create("127.0.0.1", owl_http_server_port(s), 1, &lims, &cbs, &s2,
                                    &err);
    cr_assert_eq(rc, OWL_EIO);
    cr_assert_null(s2);
    cr_assert(strstr(err.msg, "in use"), "message: %s", err.msg);
    rc = owl_http_server_create("not an address!", 0, 1, &lims, &cbs, &s2, &err);
    cr_assert_eq(rc, OWL_EINVAL);
    rc = owl_http_server_create("localhost", 0, 1, &lims, &cbs, &s2, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    owl_http_server_destroy(s2);
    s2 = NULL;
    if (owl_http_server_create("::1", 0, 2, &lims, &cbs, &s2, &err) == OWL_OK) {
        cr_assert_eq(owl_http_server_start(s2, &err), OWL_OK);
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                                  .sin6_port = htons((uint16_t)owl_http_server_port(s2))};
        a6.sin6_addr = in6addr_loopback;
        cr_assert_eq(connect(fd, (struct sockaddr *)&a6, sizeof a6), 0);
        send_str(fd, "GET /info HTTP/1.1\r\n\r\n");
        owl_buf acc = OWL_BUF_INIT;
        size_t off = 0;
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r));
        cr_assert_eq(r.status, 200);
        tresp_free(&r);
        owl_buf_free(&acc);
        close(fd);
        owl_http_server_destroy(s2);
    }
    owl_http_server_destroy(NULL);
    owl_http_server_destroy(s);
}

Test(http_sock, pipelined_backpressure, .timeout = 30)
{
    owl_http_server *s = start_server(NULL, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    int rcv = 65536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    owl_buf reqs = OWL_BUF_INIT;
    for (int i = 0; i < 60; i++)
        owl_buf_printf(&reqs, "GET /%s HTTP/1.1\r\n\r\n", i % 2 ? "big" : "info");
    send_all(fd, reqs.data, reqs.len);
    usleep(300 * 1000); /* let the server hit its output high-water mark */
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    for (int i = 0; i < 60; i++) {
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r), "response %d", i);
        if (i % 2)
            cr_assert_eq(r.body.len, 200 * 1024);
        else
            cr_assert(strncmp(r.body.data, "GET|/info|", 10) == 0);
        tresp_free(&r);
    }
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&reqs);
    owl_http_server_destroy(s);
}

Test(http_sock, thousand_idle_connections, .timeout = 60)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < 2200)
        cr_skip_test("RLIMIT_NOFILE hard limit too low");
    if (rl.rlim_cur < 2200) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    owl_http_server *s = start_server(NULL, 2);
    int port = owl_http_server_port(s);
    enum { N = 1000 };
    static int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = tcp_connect(port);
    for (int i = 0; i < 100 && owl_http_server_connections(s) < N; i++)
        usleep(20 * 1000);
    cr_assert_eq(owl_http_server_connections(s), N);
    int fd = tcp_connect(port);
    send_str(fd, "GET /x HTTP/1.1\r\n\r\n");
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    close(fd);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

Test(http_sock, emfile_does_not_crash, .timeout = 30)
{
    owl_log_set_level(OWL_LOG_OFF); /* the expected shedding warning is noise here */
    owl_http_server *s = start_server(NULL, 1);
    int port = owl_http_server_port(s);
    int keep = tcp_connect(port);
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    send_str(keep, "GET /x HTTP/1.1\r\n\r\n"); /* make sure it is accepted */
    cr_assert(read_resp(keep, &acc, &off, &r));
    tresp_free(&r);
    /* leave the process (server and test share it) almost no descriptors */
    struct rlimit rl, old;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = dup(0);
    rl = old;
    rl.rlim_cur = (rlim_t)probe + 8;
    close(probe);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int fds[64], n = 0;
    for (; n < 64; n++) {
        fds[n] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[n] < 0)
            break;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connect(fds[n], (struct sockaddr *)&a, sizeof a);
    }
    usleep(500 * 1000);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    usleep(300 * 1000);
    /* the server still works on the connection it already had, and on new ones */
    send_str(keep, "GET /x HTTP/1.1\r\n\r\n");
    cr_assert(read_resp(keep, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    int fd = tcp_connect(port);
    send_str(fd, "GET /x HTTP/1.1\r\n\r\n");
    off = 0;
    acc.len = 0;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    close(fd);
    close(keep);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

/* ------------------------------------------------------------------ detached streams */

/* Decodes the chunked body that follows the first header block of out into body; *ended
 * is set once the final chunk was seen. Returns 0 when the framing is broken. */
static int dechunk(const char *out, size_t n, owl_buf *body, int *ended)
{
    const char *p = memmem(out, n, "\r\n\r\n", 4);
    *ended = 0;
    owl_buf_reset(body);
    if (!p)
        return 1;
    p += 4;
    const char *end = out + n;
    while (p < end) {
        const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!nl)
            return 1; /* incomplete: more will come */
        char *e;
        unsigned long sz = strtoul(p, &e, 16);
        if (e != nl)
            return 0;
        if ((size_t)(end - (nl + 2)) < sz + 2)
            return 1;
        if (memcmp(nl + 2 + sz, "\r\n", 2) != 0)
            return 0;
        if (sz == 0) {
            *ended = 1;
            return 1;
        }
        owl_buf_append(body, nl + 2, sz);
        p = nl + 2 + sz + 2;
    }
    return 1;
}

static atomic_int n_wakes;

static void count_wake(void *ud, owl_http_conn *c)
{
    (void)ud;
    (void)c;
    atomic_fetch_add(&n_wakes, 1);
}

/* Starts a detached stream on an in-memory connection; returns the stream. */
static owl_http_stream *mem_detach(owl_http_conn *c, const char *req)
{
    atomic_store(&g_stream, NULL);
    feed_str(c, req);
    owl_http_stream *st = atomic_load(&g_stream);
    cr_assert_not_null(st);
    return st;
}

struct feeder {
    owl_http_stream *st;
    int first, count;
    int ok, eagain, closed;
};

static void *feed_events(void *arg)
{
    struct feeder *f = arg;
    for (int i = f->first; i < f->first + f->count; i++) {
        char d[32];
        int n = snprintf(d, sizeof d, "%d", i);
        int rc = owl_http_stream_sse(f->st, "e", d, (size_t)n);
        if (rc == OWL_OK)
            f->ok++;
        else if (rc == OWL_EAGAIN)
            f->eagain++;
        else if (rc == OWL_ECLOSED)
            f->closed++;
    }
    return NULL;
}

Test(http_stream, sse_fed_from_another_thread_then_pipelined_request)
{
    g_opts = (owl_http_stream_opts){0};
    atomic_store(&n_wakes, 0);
    owl_http_conn *c = mem_conn(NULL);
    c->wake = count_wake;
    owl_http_stream *st = mem_detach(c, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /info HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert(strstr(o, "HTTP/1.1 200 OK\r\n"));
    cr_assert(strstr(o, "Content-Type: text/event-stream\r\n"));
    cr_assert(strstr(o, "Transfer-Encoding: chunked\r\n"));
    cr_assert(strstr(o, "Cache-Control: no-cache\r\n"));
    cr_assert_null(strstr(o, "GET|/info"), "a request was parsed while the stream lives");
    cr_assert_eq(last_done_status, 200);

    struct feeder f = {.st = st, .first = 0, .count = 100};
    pthread_t t;
    pthread_create(&t, NULL, feed_events, &f);
    pthread_join(t, NULL);
    cr_assert_eq(f.ok, 100);
    cr_assert_geq(n_wakes, 1);
    cr_assert_leq(n_wakes, 1, "wakes coalesce until the worker runs: %d", n_wakes);
    owl_http_conn_on_wake(c);

    owl_buf body = OWL_BUF_INIT, want = OWL_BUF_INIT;
    int ended;
    o = out_of(c, &n);
    cr_assert(dechunk(o, n, &body, &ended));
    for (int i = 0; i < 100; i++)
        owl_buf_printf(&want, "event: e\ndata: %d\n\n", i);
    cr_assert_eq(body.len, want.len);
    cr_assert(memcmp(body.data, want.data, want.len) == 0);
    cr_assert_not(ended);

    cr_assert_eq(owl_http_stream_close(st), OWL_OK);
    cr_assert_eq(owl_http_stream_close(st), OWL_OK, "close is idempotent");
    cr_assert_eq(owl_http_stream_sse(st, "e", "late", 4), OWL_ECLOSED);
    owl_http_conn_on_wake(c);
    o = out_of(c, &n);
    cr_assert(dechunk(o, n, &body, &ended));
    cr_assert(ended);
    /* the held-back pipelined request is answered after the final chunk */
    const char *fin = strstr(o, "\r\n0\r\n\r\n");
    cr_assert_not_null(fin);
    cr_assert(strstr(fin, "GET|/info|/info||"), "%s", fin);
    cr_assert_not(owl_http_conn_mem_closed(c));
    owl_http_stream_stats ss;
    owl_http_stream_get_stats(st, &ss);
    cr_assert_eq(ss.written, 100);
    cr_assert_eq(ss.dropped, 0);
    cr_assert_eq(ss.open, 0);
    owl_http_stream_release(st);
    owl_buf_free(&body);
    owl_buf_free(&want);
    owl_http_conn_mem_free(c);
}

Test(http_stream, buffer_bound_and_drop_notice)
{
    g_opts = (owl_http_stream_opts){.max_buffer = 1024};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "GET /detach HTTP/1.1\r\n\r\n");
    char data[90];
    memset(data, 'x', sizeof data);
    int ok = 0, dropped = 0;
    for (int i = 0; i < 50; i++) {
        int rc = owl_http_stream_sse(st, "e", data, sizeof data);
        cr_assert(rc == OWL_OK || rc == OWL_EAGAIN, "rc %d", rc);
        rc == OWL_OK ? ok++ : dropped++;
    }
    /* one event is 90 + 18 bytes of SSE and 5 of chunk framing: 9 fit in 1024 */
    cr_assert_eq(ok, 9);
    cr_assert_eq(dropped, 41);
    owl_http_stream_stats ss;
    owl_http_stream_get_stats(st, &ss);
    cr_assert_eq(ss.dropped, 41);
    cr_assert_leq(ss.queued, 1024);
    owl_http_conn_on_wake(c); /* the reader took everything: room again */
    cr_assert_eq(owl_http_stream_sse(st, "e", "after", 5), OWL_OK);
    owl_http_conn_on_wake(c);
    size_t n;
    const char *o = out_of(c, &n);
    owl_buf body = OWL_BUF_INIT;
    int ended;
    cr_assert(dechunk(o, n, &body, &ended));
    const char *notice = strstr(body.data, "event: dropped\ndata: {\"dropped\":41}\n\n");
    cr_assert_not_null(notice, "%s", body.data);
    cr_assert(strcmp(notice + 37, "event: e\ndata: after\n\n") == 0, "%s", notice);
    owl_http_stream_get_stats(st, &ss);
    cr_assert_eq(ss.written, 10);
    cr_assert_eq(ss.queued, 0);
    owl_http_stream_release(st); /* the connection still holds its reference */
    owl_http_conn_mem_free(c);
    owl_buf_free(&body);
}

Test(http_stream, drop_notice_sent_by_worker_when_producer_is_quiet)
{
    g_opts = (owl_http_stream_opts){.max_buffer = 512};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "GET /detach HTTP/1.1\r\n\r\n");
    char data[200];
    memset(data, 'y', sizeof data);
    int rc;
    while ((rc = owl_http_stream_sse(st, NULL, data, sizeof data)) == OWL_OK)
        ;
    cr_assert_eq(rc, OWL_EAGAIN);
    owl_http_conn_on_wake(c);
    owl_http_conn_on_wake(c); /* the second pump finds room for the notice */
    size_t n;
    const char *o = out_of(c, &n);
    owl_buf body = OWL_BUF_INIT;
    int ended;
    cr_assert(dechunk(o, n, &body, &ended));
    cr_assert_not_null(strstr(body.data, "event: dropped\ndata: {\"dropped\":1}\n\n"));
    owl_http_stream_release(st);
    owl_http_conn_mem_free(c);
    owl_buf_free(&body);
}

Test(http_stream, plain_chunked_refuses_when_full)
{
    g_opts = (owl_http_stream_opts){.max_buffer = 256};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "GET /detach-plain HTTP/1.1\r\n\r\n");
    cr_assert_eq(owl_http_stream_write(st, "hello", 5), OWL_OK);
    cr_assert_eq(owl_http_stream_write(st, "", 0), OWL_OK);
    char big[300];
    memset(big, 'z', sizeof big);
    cr_assert_eq(owl_http_stream_write(st, big, sizeof big), OWL_EAGAIN);
    cr_assert_eq(owl_http_stream_write(st, " world", 6), OWL_OK);
    cr_assert_eq(owl_http_stream_write(NULL, "x", 1), OWL_EINVAL);
    cr_assert_eq(owl_http_stream_write(st, NULL, 1), OWL_EINVAL);
    cr_assert_eq(owl_http_stream_close(st), OWL_OK);
    owl_http_conn_on_wake(c);
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert(strstr(o, "Content-Type: text/plain\r\n"));
    cr_assert_null(strstr(o, "Cache-Control"));
    const char *b = strstr(o, "\r\n\r\n");
    cr_assert_str_eq(b + 4, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    owl_http_stream_stats ss;
    owl_http_stream_get_stats(st, &ss);
    cr_assert_eq(ss.dropped, 1);
    cr_assert_eq(ss.written, 2);
    owl_http_stream_release(st);
    owl_http_conn_mem_free(c);
}

Test(http_stream, writes_after_connection_gone_are_eclosed)
{
    g_opts = (owl_http_stream_opts){0};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "GET /detach HTTP/1.1\r\n\r\n");
    cr_assert_eq(owl_http_stream_sse(st, NULL, "a", 1), OWL_OK);
    owl_http_conn_mem_free(c); /* the client went away */
    cr_assert_eq(owl_http_stream_sse(st, NULL, "b", 1), OWL_ECLOSED);
    cr_assert_eq(owl_http_stream_write(st, NULL, 0), OWL_ECLOSED);
    cr_assert_eq(owl_http_stream_close(st), OWL_ECLOSED);
    owl_http_stream_stats ss;
    owl_http_stream_get_stats(st, &ss);
    cr_assert_eq(ss.open, 0);
    owl_http_stream_release(st); /* last reference: freed here (ASan checks) */
    owl_http_stream_release(NULL);
}

Test(http_stream, close_keepalive_off_closes_connection)
{
    g_opts = (owl_http_stream_opts){0};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "GET /detach HTTP/1.1\r\nConnection: close\r\n\r\n");
    size_t n;
    cr_assert(strstr(out_of(c, &n), "Connection: close\r\n"));
    cr_assert_eq(owl_http_stream_close(st), OWL_OK);
    owl_http_conn_on_wake(c);
    cr_assert(owl_http_conn_mem_closed(c));
    owl_http_stream_release(st);
    owl_http_conn_mem_free(c);
}

Test(http_stream, head_request_gets_an_ended_stream)
{
    g_opts = (owl_http_stream_opts){0};
    owl_http_conn *c = mem_conn(NULL);
    owl_http_stream *st = mem_detach(c, "HEAD /detach HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
    cr_assert_eq(owl_http_stream_sse(st, NULL, "a", 1), OWL_ECLOSED);
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert(strstr(o, "{\"ok\":true}"), "the next request is served at once: %s", o);
    owl_http_stream_release(st);
    owl_http_conn_mem_free(c);
    c = mem_conn(NULL);
    st = mem_detach(c, "HEAD /detach HTTP/1.1\r\nConnection: close\r\n\r\n");
    cr_assert(owl_http_conn_mem_closed(c), "HEAD with Connection: close closes");
    owl_http_stream_release(st);
    owl_http_conn_mem_free(c);
}

Test(http_stream, sse_format_rules)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_http_sse_format(&b, "x", "a\r\nb\n\nc", 7), OWL_OK);
    cr_assert_str_eq(b.data, "event: x\ndata: a\ndata: b\ndata: \ndata: c\n\n");
    owl_buf_reset(&b);
    cr_assert_eq(owl_http_sse_format(&b, NULL, NULL, 0), OWL_OK);
    cr_assert_str_eq(b.data, "data: \n\n");
    size_t keep = b.len;
    cr_assert_eq(owl_http_sse_format(&b, "bad\nname", "a", 1), OWL_EINVAL);
    cr_assert_eq(b.len, keep);
    cr_assert_eq(owl_http_sse_format(&b, NULL, NULL, 3), OWL_EINVAL);
    owl_buf_free(&b);
}

/* ---- detached streams on a real server ---- */

/* Sends req, reads the response head; returns the stream the handler detached. */
static owl_http_stream *sock_detach(int fd, const char *req, owl_buf *acc)
{
    atomic_store(&g_stream, NULL);
    send_str(fd, req);
    while (!memmem(acc->data ? acc->data : "", acc->len, "\r\n\r\n", 4)) {
        char b[4096];
        ssize_t r = recv(fd, b, sizeof b, 0);
        cr_assert_gt(r, 0);
        owl_buf_append(acc, b, (size_t)r);
    }
    owl_http_stream *st;
    while (!(st = atomic_load(&g_stream)))
        usleep(1000);
    return st;
}

/* Reads until the chunked body holds want bytes, ends, or EOF/timeout (5 s SO_RCVTIMEO). */
static int read_body(int fd, owl_buf *acc, owl_buf *body, size_t want, int *ended, int *eof)
{
    *eof = 0;
    for (;;) {
        cr_assert(dechunk(acc->data, acc->len, body, ended));
        if (*ended || body->len >= want)
            return 1;
        char b[65536];
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r <= 0) {
            *eof = r == 0;
            return 0;
        }
        owl_buf_append(acc, b, (size_t)r);
    }
}

Test(http_stream_sock, concurrent_producers_all_delivered, .timeout = 30)
{
    g_opts = (owl_http_stream_opts){.max_buffer = 8u << 20};
    owl_http_server *s = start_server(NULL, 2);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf acc = OWL_BUF_INIT, body = OWL_BUF_INIT;
    owl_http_stream *st = sock_detach(fd, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\n", &acc);
    struct feeder f[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct feeder){.st = st, .first = i * 10000, .count = 2000};
        pthread_create(&t[i], NULL, feed_events, &f[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(f[i].ok, 2000);
    }
    cr_assert_eq(owl_http_stream_close(st), OWL_OK);
    int ended, eof;
    read_body(fd, &acc, &body, SIZE_MAX, &ended, &eof);
    cr_assert(ended);
    /* every event arrived whole, and each producer's in its own order */
    int next[4] = {0, 10000, 20000, 30000}, events = 0;
    for (const char *p = body.data; p && *p;) {
        int v;
        cr_assert_eq(sscanf(p, "event: e\ndata: %d\n\n", &v), 1, "at %.40s", p);
        cr_assert_eq(v, next[v / 10000]++);
        events++;
        p = strstr(p, "\n\n");
        p = p ? p + 2 : NULL;
    }
    cr_assert_eq(events, 8000);
    owl_http_stream_release(st);
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&body);
    owl_http_server_destroy(s);
}

Test(http_stream_sock, client_disconnect_gives_eclosed, .timeout = 20)
{
    g_opts = (owl_http_stream_opts){0};
    owl_http_server *s = start_server(NULL, 2);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf acc = OWL_BUF_INIT;
    owl_http_stream *st = sock_detach(fd, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\n", &acc);
    cr_assert_eq(owl_http_server_connections(s), 1);
    close(fd);
    int64_t t0 = now_ms();
    int rc;
    while ((rc = owl_http_stream_sse(st, NULL, "x", 1)) == OWL_OK && now_ms() - t0 < 5000)
        usleep(5000);
    cr_assert_eq(rc, OWL_ECLOSED);
    cr_assert_lt(now_ms() - t0, 1000, "the disconnect was noticed in %lld ms",
                 (long long)(now_ms() - t0));
    cr_assert_eq(owl_http_server_connections(s), 0);
    owl_http_stream_release(st);
    owl_buf_free(&acc);
    owl_http_server_destroy(s);
}

Test(http_stream_sock, heartbeat_and_stop_sends_final_chunk, .timeout = 20)
{
    g_opts = (owl_http_stream_opts){.heartbeat_ms = 150};
    owl_http_server *s = start_server(NULL, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf acc = OWL_BUF_INIT, body = OWL_BUF_INIT;
    owl_http_stream *st = sock_detach(fd, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\n", &acc);
    int ended, eof;
    cr_assert(read_body(fd, &acc, &body, 13, &ended, &eof));
    cr_assert_str_eq(body.data, ": keepalive\n\n");
    cr_assert_eq(owl_http_stream_sse(st, "e", "last", 4), OWL_OK);
    struct stopper sp = {s, 0};
    pthread_t t;
    int64_t t0 = now_ms();
    pthread_create(&t, NULL, stop_later, &sp);
    read_body(fd, &acc, &body, SIZE_MAX, &ended, &eof);
    cr_assert(ended, "the stream ends with its final chunk on stop");
    cr_assert(strstr(body.data, "event: e\ndata: last\n\n"));
    cr_assert(closed_within(fd, 2000));
    pthread_join(t, NULL);
    cr_assert_lt(now_ms() - t0, 2000);
    cr_assert_eq(owl_http_stream_sse(st, NULL, "x", 1), OWL_ECLOSED);
    owl_http_stream_release(st);
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&body);
    owl_http_server_destroy(s);
}

Test(http_stream_sock, slow_reader_dropped_after_stall, .timeout = 30)
{
    g_opts = (owl_http_stream_opts){.stall_timeout_ms = 500, .heartbeat_ms = -1};
    owl_http_server *s = start_server(NULL, 2);
    int port = owl_http_server_port(s);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    owl_buf acc = OWL_BUF_INIT;
    owl_http_stream *st = sock_detach(fd, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\n", &acc);
    /* the client reads nothing more: the socket buffers fill, then the queue */
    char data[16384];
    memset(data, 'q', sizeof data);
    int64_t t0 = now_ms();
    int rc, eagain = 0;
    while ((rc = owl_http_stream_sse(st, NULL, data, sizeof data)) != OWL_ECLOSED &&
           now_ms() - t0 < 10000) {
        if (rc == OWL_EAGAIN) {
            eagain++;
            usleep(2000);
        }
    }
    cr_assert_eq(rc, OWL_ECLOSED, "the stalled stream was not closed");
    cr_assert_gt(eagain, 0);
    owl_http_stream_stats ss;
    owl_http_stream_get_stats(st, &ss);
    cr_assert_gt(ss.dropped, 0);
    cr_assert_leq(ss.queued, 256u << 10);
    /* the server still serves others */
    int other = tcp_connect(port);
    send_str(other, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    owl_buf acc2 = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(other, &acc2, &off, &r));
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    owl_http_stream_release(st);
    close(other);
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&acc2);
    owl_http_server_destroy(s);
}

/* ------------------------------------------------------------------ the head hook */

static atomic_int n_head, n_auth_freed;

static void auth_free_counted(void *p)
{
    atomic_fetch_add(&n_auth_freed, 1);
    free(p);
}

/* A head hook as owld's: no Authorization -> small allowance; "good" -> a principal for
 * the handler; anything else -> 401 at once. The body is never there yet. */
static int head_hook(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    (void)ud;
    atomic_fetch_add(&n_head, 1);
    cr_assert_eq(req->body.len, 0);
    cr_assert_not_null(req->path);
    const char *a = owl_http_req_header(req, "authorization");
    if (!a)
        return OWL_HTTP_HEAD_LIMITED;
    if (strcmp(a, "good") != 0) {
        owl_http_resp_error(resp, 401, "Unauthorized", "bad credentials");
        resp->action = "test:Refused";
        return OWL_HTTP_HEAD_REJECT;
    }
    req->auth = strdup("principal-1");
    req->auth_free = auth_free_counted;
    return OWL_HTTP_HEAD_ACCEPT;
}

static owl_http_callbacks hook_cbs = {handle, done, NULL, head_hook};

static owl_http_conn *hook_conn(const owl_http_limits *l, atomic_size_t *buffered)
{
    owl_http_conn *c = owl_http_conn_mem_new(l ? l : &lims, &hook_cbs);
    cr_assert_not_null(c);
    c->buffered = buffered;
    return c;
}

/* A refused head: answered 401 and closed at once, no 100 Continue, no body byte kept,
 * nothing taken from the global budget, the handler never runs. */
Test(http_hook, rejected_head_never_buffers_the_body)
{
    atomic_size_t buffered = 0;
    const char *heads[] = {
        "POST /echo HTTP/1.1\r\nHost: a\r\nAuthorization: bad\r\nContent-Length: 16777216\r\n"
        "Expect: 100-continue\r\n\r\n",
        /* body bytes in the same segment as the head */
        "POST /echo HTTP/1.1\r\nHost: a\r\nAuthorization: bad\r\nContent-Length: 16777216\r\n"
        "\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "POST /echo HTTP/1.1\r\nHost: a\r\nAuthorization: bad\r\nTransfer-Encoding: chunked\r\n"
        "Expect: 100-continue\r\n\r\n1000\r\nyyyy",
    };
    for (size_t i = 0; i < OWL_ARRAY_LEN(heads); i++) {
        owl_http_conn *c = hook_conn(NULL, &buffered);
        int rc = feed_str(c, heads[i]);
        cr_assert_eq(rc, OWL_ECLOSED, "case %zu", i);
        size_t n, off = 0;
        const char *o = out_of(c, &n);
        cr_assert_null(memmem(o, n, "100 Continue", 12), "case %zu: %.*s", i, (int)n, o);
        tresp r;
        cr_assert(next_resp(o, n, &off, 0, &r));
        cr_assert_eq(r.status, 401);
        cr_assert_str_eq(th(&r, "connection"), "close");
        cr_assert_not_null(strstr(r.body.data, "\"Unauthorized\""));
        cr_assert_eq(off, n, "nothing after the 401");
        cr_assert_null(c->req.body.data, "case %zu: the body buffer was allocated", i);
        cr_assert_eq(c->reserved, 0);
        cr_assert_eq(atomic_load(&buffered), 0);
        cr_assert_eq(owl_http_conn_mem_closed(c), 1);
        tresp_free(&r);
        owl_http_conn_mem_free(c);
    }
    cr_assert_eq(n_handled, 0);
    cr_assert_eq(n_head, 3);
    cr_assert_eq(last_done_status, 401);
    cr_assert_str_eq(last_action, "test:Refused");
}

/* An accepted head: 100 Continue goes out after the hook, the body is read, the handler
 * gets the hook's principal, freed once with the request; the budget is given back. */
Test(http_hook, accepted_head_reads_the_body_and_reuses_the_principal)
{
    atomic_size_t buffered = 0;
    owl_http_conn *c = hook_conn(NULL, &buffered);
    feed_str(c, "POST /echo HTTP/1.1\r\nHost: a\r\nAuthorization: good\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    size_t n;
    const char *o = out_of(c, &n);
    cr_assert_eq(n, 25);
    cr_assert(memcmp(o, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    cr_assert_eq(n_head, 1);
    cr_assert_eq(atomic_load(&buffered), 5, "the declared body holds its budget");
    feed_str(c, "hello");
    o = out_of(c, &n);
    size_t off = 25;
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "hello");
    tresp_free(&r);
    cr_assert_eq(atomic_load(&buffered), 0);
    cr_assert_eq(n_auth_freed, 1);
    /* the handler sees the principal; keep-alive goes on */
    one_resp(c, "GET /whoami HTTP/1.1\r\nHost: a\r\nAuthorization: good\r\n\r\n", &off, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "principal-1");
    tresp_free(&r);
    cr_assert_eq(n_auth_freed, 2);
    /* pipelined: refused request after an accepted one; the first is answered first */
    feed_str(c, "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Length: 2\r\n\r\nok"
                "POST /echo HTTP/1.1\r\nAuthorization: bad\r\nContent-Length: 9999\r\n\r\n");
    o = out_of(c, &n);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "ok");
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 401);
    tresp_free(&r);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(n_handled, 3);
    owl_http_conn_mem_free(c);
    cr_assert_eq(n_auth_freed, 3);
}

/* No credentials: a body up to preauth_body_bytes is read (the handler decides), a larger
 * declared one is refused at once (no 100 Continue), a chunked one once it passes. */
Test(http_hook, requests_without_credentials_get_a_small_allowance)
{
    owl_http_limits l = lims;
    l.preauth_body_bytes = 1024;
    owl_http_conn *c = hook_conn(&l, NULL);
    size_t off = 0, n;
    tresp r;
    one_resp(c, "POST /whoami HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &off, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "-");
    tresp_free(&r);
    feed_str(c, "POST /echo HTTP/1.1\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n");
    const char *o = out_of(c, &n);
    cr_assert_null(memmem(o, n, "100 Continue", 12));
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 413);
    cr_assert_not_null(strstr(r.body.data, "without credentials"));
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    tresp_free(&r);
    owl_http_conn_mem_free(c);

    c = hook_conn(&l, NULL);
    off = 0;
    feed_str(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'z', sizeof chunk);
    feed_str(c, "258\r\n");
    owl_http_conn_mem_feed(c, chunk, sizeof chunk);
    feed_str(c, "\r\n258\r\n");
    o = out_of(c, &n);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 413);
    cr_assert_leq(c->req.body.cap, 2048);
    tresp_free(&r);
    owl_http_conn_mem_free(c);
    cr_assert_eq(n_handled, 1);
}

/* The global budget: a body that would pass max_buffered_bytes gets 503 with Retry-After
 * and a closed connection; what others hold is given back when their requests end.
 * Decompressed bodies count too. */
Test(http_hook, global_cap_503)
{
    atomic_size_t buffered = 0;
    owl_http_limits l = lims;
    l.max_buffered_bytes = 100000;
    owl_http_conn *a = hook_conn(&l, &buffered);
    feed_str(a, "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Length: 80000\r\n\r\n");
    cr_assert_eq(atomic_load(&buffered), 80000);

    const char *over[] = {
        "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Length: 30000\r\n"
        "Expect: 100-continue\r\n\r\n",
        "POST /echo HTTP/1.1\r\nAuthorization: good\r\nTransfer-Encoding: chunked\r\n\r\n"
        "7530\r\n",
    };
    for (size_t i = 0; i < OWL_ARRAY_LEN(over); i++) {
        owl_http_conn *b = hook_conn(&l, &buffered);
        feed_str(b, over[i]);
        size_t n, off = 0;
        const char *o = out_of(b, &n);
        cr_assert_null(memmem(o, n, "100 Continue", 12));
        tresp r;
        cr_assert(next_resp(o, n, &off, 0, &r), "case %zu", i);
        cr_assert_eq(r.status, 503, "case %zu", i);
        cr_assert_str_eq(th(&r, "retry-after"), "1");
        cr_assert_not_null(strstr(r.body.data, "ServiceUnavailable"));
        cr_assert_eq(owl_http_conn_mem_closed(b), 1);
        tresp_free(&r);
        owl_http_conn_mem_free(b);
        cr_assert_eq(atomic_load(&buffered), 80000, "case %zu", i);
    }
    /* a small one still fits */
    owl_http_conn *b = hook_conn(&l, &buffered);
    size_t off = 0;
    tresp r;
    one_resp(b, "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Length: 4\r\n\r\nfits", &off,
             &r);
    cr_assert_eq(r.status, 200);
    tresp_free(&r);
    /* the first ends: its budget comes back */
    char *body = malloc(80000);
    memset(body, 'q', 80000);
    owl_http_conn_mem_feed(a, body, 80000);
    size_t n;
    const char *o = out_of(a, &n);
    off = 0;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, 80000);
    tresp_free(&r);
    cr_assert_eq(atomic_load(&buffered), 0);
    owl_http_conn_mem_free(a);

    /* gzip: 2000 wire bytes inflating to 200000 pass the cap once decoded */
    owl_buf z = OWL_BUF_INIT;
    char *plain = calloc(1, 200000);
    gzip_buf(plain, 200000, 15 + 16, &z);
    char head[256];
    snprintf(head, sizeof head,
             "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Encoding: gzip\r\n"
             "Content-Length: %zu\r\n\r\n", z.len);
    off = 0;
    feed_str(b, head);
    owl_http_conn_mem_feed(b, z.data, z.len);
    o = out_of(b, &n);
    cr_assert(next_resp(o, n, &off, 0, &r)); /* the earlier "fits" */
    tresp_free(&r);
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 503);
    tresp_free(&r);
    cr_assert_eq(atomic_load(&buffered), 0);
    owl_http_conn_mem_free(b);
    owl_buf_free(&z);
    free(plain);
    free(body);
}

/* ------------------------------------------------------------------ bodies received in place
 *
 * A body of declared length is received straight into its buffer (http.c body_room);
 * in-memory connections copy each feed to where recv would have put it. These check that
 * every byte lands once and in order, whatever the writes, and that nothing of the next
 * request, a chunked body, a refused one or a short one goes there. */

/* n bytes of a fixed pseudo-random sequence picked by seed: a byte lost, doubled or moved
 * changes the body's fingerprint. */
static char *body_bytes(size_t n, uint32_t seed)
{
    char *b = malloc(n ? n : 1);
    cr_assert_not_null(b);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (char)(x >> 7);
    }
    return b;
}

/* Appends a POST /sum of body_bytes(n, seed) to out, with Content-Length or chunked (in
 * chunks of chunk bytes). */
static void put_sum_req(owl_buf *out, size_t n, uint32_t seed, size_t chunk)
{
    char *b = body_bytes(n, seed);
    if (!chunk) {
        owl_buf_printf(out, "POST /sum HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", n);
        owl_buf_append(out, b, n);
    } else {
        owl_buf_puts(out, "POST /sum HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (size_t i = 0; i < n; i += chunk) {
            size_t k = n - i < chunk ? n - i : chunk;
            owl_buf_printf(out, "%zx\r\n", k);
            owl_buf_append(out, b + i, k);
            owl_buf_puts(out, "\r\n");
        }
        owl_buf_puts(out, "0\r\n\r\n");
    }
    free(b);
}

/* Parses the next response of o[*off..n) and checks it is /sum's for body_bytes(len, seed). */
static void expect_sum(const char *o, size_t n, size_t *off, size_t len, uint32_t seed,
                       const char *what)
{
    char *b = body_bytes(len, seed);
    char want[96];
    sum_text(b, len, 1, want);
    free(b);
    tresp r;
    cr_assert(next_resp(o, n, off, 0, &r), "%s: no response", what);
    cr_assert_eq(r.status, 200, "%s: status %d %s", what, r.status, r.body.data);
    cr_assert_str_eq(r.body.data, want, "%s", what);
    tresp_free(&r);
}

/* Feeds data[0..n) in pieces of the sizes given (cycled). */
static void feed_pieces(owl_http_conn *c, const char *data, size_t n, const size_t *sizes,
                        size_t nsizes)
{
    for (size_t i = 0, k = 0; i < n; k++) {
        size_t step = sizes[k % nsizes] < n - i ? sizes[k % nsizes] : n - i;
        cr_assert_eq(owl_http_conn_mem_feed(c, data + i, step), OWL_OK);
        i += step;
    }
}

/* The body buffer is reserved once with the head and filled in place, piece by piece; the
 * last piece carries the next request too. */
Test(http_mem, declared_body_in_many_small_writes)
{
    atomic_size_t buffered = 0;
    owl_http_conn *c = mem_conn(NULL);
    c->buffered = &buffered;
    size_t len = 300000;
    char *body = body_bytes(len, 1);
    feed_str(c, "POST /sum HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\n");
    const char *buf = c->req.body.data;
    cr_assert_not_null(buf, "the declared body is reserved with the head");
    cr_assert_geq(c->req.body.cap, len + 1);
    cr_assert_eq(atomic_load(&buffered), len);
    size_t at = 0;
    for (size_t k = 1; at + k < len - 1000; at += k, k = k * 3 + 1) {
        cr_assert_eq(owl_http_conn_mem_feed(c, body + at, k), OWL_OK);
        cr_assert_eq(c->req.body.data, buf, "the body buffer moved");
        cr_assert_eq(c->req.body.len, at + k);
    }
    owl_buf last = OWL_BUF_INIT;
    owl_buf_append(&last, body + at, len - at);
    owl_buf_puts(&last, "GET /sum HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(owl_http_conn_mem_feed(c, last.data, last.len), OWL_OK);
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    expect_sum(o, n, &off, len, 1, "the body");
    expect_sum(o, n, &off, 0, 0, "the request after it");
    cr_assert_eq(off, n);
    cr_assert_eq(atomic_load(&buffered), 0);
    cr_assert_eq(n_handled, 2);
    owl_buf_free(&last);
    free(body);
    owl_http_conn_mem_free(c);
}

/* One write holds the end of a body, whole requests (declared, chunked, none) and the start
 * of another: each request gets its own bytes. */
Test(http_mem, declared_body_and_next_requests_in_one_write)
{
    owl_buf all = OWL_BUF_INIT;
    put_sum_req(&all, 5000, 1, 0);
    put_sum_req(&all, 70000, 2, 0);
    put_sum_req(&all, 9000, 3, 4096);
    owl_buf_puts(&all, "GET /sum HTTP/1.1\r\nHost: a\r\n\r\n");
    put_sum_req(&all, 100000, 4, 0);
    /* split inside the first body, then inside the last one */
    size_t head1 = (size_t)(strstr(all.data, "\r\n\r\n") + 4 - all.data);
    size_t cuts[][2] = {{head1 + 10, all.len - 30000}, {head1, all.len - 1}, {1, all.len - 99999}};
    for (size_t i = 0; i < OWL_ARRAY_LEN(cuts); i++) {
        owl_http_conn *c = mem_conn(NULL);
        size_t a = cuts[i][0], b = cuts[i][1];
        cr_assert_eq(owl_http_conn_mem_feed(c, all.data, a), OWL_OK);
        cr_assert_eq(owl_http_conn_mem_feed(c, all.data + a, b - a), OWL_OK);
        cr_assert_eq(owl_http_conn_mem_feed(c, all.data + b, all.len - b), OWL_OK);
        size_t n, off = 0;
        const char *o = out_of(c, &n);
        expect_sum(o, n, &off, 5000, 1, "first");
        expect_sum(o, n, &off, 70000, 2, "second");
        expect_sum(o, n, &off, 9000, 3, "chunked");
        expect_sum(o, n, &off, 0, 0, "no body");
        expect_sum(o, n, &off, 100000, 4, "last");
        cr_assert_eq(off, n, "case %zu", i);
        owl_http_conn_mem_free(c);
    }
    cr_assert_eq(n_handled, 5 * OWL_ARRAY_LEN(cuts));
    owl_buf_free(&all);
}

/* A keep-alive connection: bodies of many sizes in turn, each in pieces that end and start
 * anywhere; a smaller body after a larger one gets its own end (NUL-terminated, no bytes of
 * the buffer it reuses). */
Test(http_mem, declared_bodies_of_many_sizes_in_sequence)
{
    static const size_t lens[] = {0, 1, 2, 65535, 65536, 65537, 1 << 20, 10, 200000, 3, 70000};
    static const size_t pieces[] = {1, 977, 65536, 3, 100000, 4096};
    owl_http_conn *c = mem_conn(NULL);
    owl_buf all = OWL_BUF_INIT;
    for (size_t i = 0; i < OWL_ARRAY_LEN(lens); i++)
        put_sum_req(&all, lens[i], (uint32_t)i + 10, i == 7 ? 3 : 0);
    feed_pieces(c, all.data, all.len, pieces, OWL_ARRAY_LEN(pieces));
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    for (size_t i = 0; i < OWL_ARRAY_LEN(lens); i++)
        expect_sum(o, n, &off, lens[i], (uint32_t)i + 10, "in sequence");
    cr_assert_eq(off, n);
    cr_assert_eq(owl_http_conn_mem_closed(c), 0);
    owl_buf_free(&all);
    owl_http_conn_mem_free(c);
}

/* Chunked bodies are not read in place (their length is not known): in pieces, in chunks of
 * every size, after a declared body on the same connection. */
Test(http_mem, chunked_bodies_in_pieces)
{
    static const size_t pieces[] = {5, 1, 4095, 70001};
    owl_http_conn *c = mem_conn(NULL);
    owl_buf all = OWL_BUF_INIT;
    put_sum_req(&all, 20000, 1, 0);
    put_sum_req(&all, 150000, 2, 70000);
    put_sum_req(&all, 3000, 3, 1);
    put_sum_req(&all, 10, 4, 0);
    feed_pieces(c, all.data, all.len, pieces, OWL_ARRAY_LEN(pieces));
    size_t n, off = 0;
    const char *o = out_of(c, &n);
    expect_sum(o, n, &off, 20000, 1, "declared");
    expect_sum(o, n, &off, 150000, 2, "large chunks");
    expect_sum(o, n, &off, 3000, 3, "one-byte chunks");
    expect_sum(o, n, &off, 10, 4, "declared after chunked");
    cr_assert_eq(off, n);
    owl_buf_free(&all);
    owl_http_conn_mem_free(c);
}

/* A declared length over the limit is answered 413 at the head: the bytes that follow, in
 * the same write or later, are never buffered nor taken from the budget. */
Test(http_mem, declared_body_over_limit_413_buffers_nothing)
{
    atomic_size_t buffered = 0;
    owl_http_limits l = lims;
    l.max_body_bytes = 1000;
    l.preauth_body_bytes = 100;
    const char *heads[] = {
        "POST /echo HTTP/1.1\r\nAuthorization: good\r\nContent-Length: 1001\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", /* no credentials */
    };
    char *body = body_bytes(1001, 7);
    for (size_t i = 0; i < OWL_ARRAY_LEN(heads); i++) {
        owl_http_conn *c = hook_conn(&l, &buffered);
        owl_buf first = OWL_BUF_INIT;
        owl_buf_puts(&first, heads[i]);
        owl_buf_append(&first, body, 50);
        cr_assert_eq(owl_http_conn_mem_feed(c, first.data, first.len), OWL_ECLOSED);
        cr_assert_eq(owl_http_conn_mem_feed(c, body + 50, 951), OWL_ECLOSED);
        size_t n, off = 0;
        const char *o = out_of(c, &n);
        tresp r;
        cr_assert(next_resp(o, n, &off, 0, &r));
        cr_assert_eq(r.status, 413, "case %zu", i);
        cr_assert_str_eq(th(&r, "connection"), "close");
        cr_assert_eq(off, n);
        cr_assert_null(c->req.body.data, "case %zu: the body buffer was allocated", i);
        cr_assert_eq(c->reserved, 0);
        cr_assert_eq(atomic_load(&buffered), 0);
        tresp_free(&r);
        owl_buf_free(&first);
        owl_http_conn_mem_free(c);
    }
    cr_assert_eq(n_handled, 0);
    free(body);
}

/* A client that declares a length and stops short: nothing is handled, the bytes that came
 * are held with their budget until the read timeout answers 408 and gives it back. */
Test(http_mem, declared_body_cut_short_408)
{
    atomic_size_t buffered = 0;
    owl_http_limits l = lims;
    l.read_timeout_ms = 300;
    owl_http_conn *c = mem_conn(&l);
    c->buffered = &buffered;
    char *body = body_bytes(40000, 5);
    feed_str(c, "POST /sum HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    owl_http_conn_mem_feed(c, body, 40000);
    size_t n;
    out_of(c, &n);
    cr_assert_eq(n, 0);
    cr_assert_eq(c->req.body.len, 40000);
    cr_assert_eq(atomic_load(&buffered), 100000);
    owl_http_conn_on_timeout(c, owl_http_conn_deadline(c));
    const char *o = out_of(c, &n);
    size_t off = 0;
    tresp r;
    cr_assert(next_resp(o, n, &off, 0, &r));
    cr_assert_eq(r.status, 408);
    cr_assert_eq(owl_http_conn_mem_closed(c), 1);
    cr_assert_eq(atomic_load(&buffered), 0);
    cr_assert_eq(n_handled, 0);
    tresp_free(&r);
    free(body);
    owl_http_conn_mem_free(c);
}

/* Sends data[0..n) in pieces of the sizes given (cycled), pausing now and then so the
 * server sees them in separate reads. */
static void send_pieces(int fd, const char *data, size_t n, const size_t *sizes, size_t nsizes)
{
    for (size_t i = 0, k = 0; i < n; k++) {
        size_t step = sizes[k % nsizes] < n - i ? sizes[k % nsizes] : n - i;
        send_all(fd, data + i, step);
        i += step;
        if (k % 7 == 0)
            usleep(1000);
    }
}

/* Over a socket: bodies of many sizes, one request at a time in pieces and then all
 * pipelined in one stream, each intact. */
Test(http_sock, declared_bodies_of_many_sizes, .timeout = 30)
{
    static const size_t lens[] = {0, 1, 65535, 65536, 65537, 1400000, 10, 200000, 3};
    static const size_t pieces[] = {1, 977, 65536, 3, 300000, 4096};
    owl_http_server *s = start_server(NULL, 2);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf acc = OWL_BUF_INIT, all = OWL_BUF_INIT;
    size_t off = 0;
    for (size_t i = 0; i < OWL_ARRAY_LEN(lens); i++) {
        owl_buf one = OWL_BUF_INIT;
        put_sum_req(&one, lens[i], (uint32_t)i, i == 6 ? 4 : 0);
        send_pieces(fd, one.data, one.len, pieces, OWL_ARRAY_LEN(pieces));
        size_t at = off;
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r), "request %zu", i);
        tresp_free(&r);
        expect_sum(acc.data, acc.len, &at, lens[i], (uint32_t)i, "one at a time");
        owl_buf_free(&one);
        put_sum_req(&all, lens[i], (uint32_t)i, i == 6 ? 4 : 0);
    }
    send_all(fd, all.data, all.len);
    for (size_t i = 0; i < OWL_ARRAY_LEN(lens); i++) {
        size_t at = off;
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r), "pipelined %zu", i);
        tresp_free(&r);
        expect_sum(acc.data, acc.len, &at, lens[i], (uint32_t)i, "pipelined");
    }
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&all);
    owl_http_server_destroy(s);
    cr_assert_eq(n_handled, 2 * OWL_ARRAY_LEN(lens));
}

/* A client that declares a length, sends part of it and closes: no answer, nothing
 * handled, and the server goes on serving others. */
Test(http_sock, declared_body_cut_short_by_close, .timeout = 20)
{
    owl_http_server *s = start_server(NULL, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf req = OWL_BUF_INIT;
    put_sum_req(&req, 300000, 1, 0);
    send_all(fd, req.data, req.len - 100000);
    usleep(50 * 1000);
    shutdown(fd, SHUT_WR);
    cr_assert(closed_within(fd, 2000), "the server answered or kept the connection");
    close(fd);
    fd = tcp_connect(owl_http_server_port(s));
    send_all(fd, req.data, req.len);
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0, at = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    tresp_free(&r);
    expect_sum(acc.data, acc.len, &at, 300000, 1, "the next client");
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&req);
    owl_http_server_destroy(s);
    cr_assert_eq(n_handled, 1);
}

/* Over the limit by its declared length: 413 at once, the body sent anyway is drained (not
 * kept) so the client reads the answer instead of a reset. */
Test(http_sock, declared_body_over_limit_413, .timeout = 20)
{
    owl_http_limits l = lims;
    l.max_body_bytes = 100000;
    owl_http_server *s = start_server(&l, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    owl_buf req = OWL_BUF_INIT;
    put_sum_req(&req, 100001, 1, 0);
    send_all(fd, req.data, req.len);
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    tresp r;
    cr_assert(read_resp(fd, &acc, &off, &r));
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(th(&r, "connection"), "close");
    tresp_free(&r);
    cr_assert(closed_within(fd, 3000));
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&req);
    owl_http_server_destroy(s);
    cr_assert_eq(n_handled, 0);
}

struct sender {
    int fd;
    const owl_buf *data;
};

static void *sender_main(void *p)
{
    struct sender *sd = p;
    send_all(sd->fd, sd->data->data, sd->data->len);
    return NULL;
}

/* A body arriving while the server holds back (its output over the high-water mark, the
 * client not reading): the bytes wait unparsed and the body is still whole afterwards. */
Test(http_sock, declared_body_behind_backpressure, .timeout = 30)
{
    owl_http_server *s = start_server(NULL, 1);
    int fd = tcp_connect(owl_http_server_port(s));
    int rcv = 65536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    owl_buf all = OWL_BUF_INIT;
    for (int i = 0; i < 8; i++)
        owl_buf_puts(&all, "GET /big HTTP/1.1\r\n\r\n");
    put_sum_req(&all, 1000000, 3, 0);
    put_sum_req(&all, 5, 4, 0);
    struct sender sd = {fd, &all};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, sender_main, &sd), 0);
    usleep(300 * 1000); /* let the server hit its output high-water mark */
    owl_buf acc = OWL_BUF_INIT;
    size_t off = 0;
    for (int i = 0; i < 8; i++) {
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r), "response %d", i);
        cr_assert_eq(r.body.len, 200 * 1024);
        tresp_free(&r);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        size_t at = off;
        tresp r;
        cr_assert(read_resp(fd, &acc, &off, &r), "body %d", i);
        tresp_free(&r);
        expect_sum(acc.data, acc.len, &at, i ? 5 : 1000000, (uint32_t)i + 3, "after the wait");
    }
    close(fd);
    owl_buf_free(&acc);
    owl_buf_free(&all);
    owl_http_server_destroy(s);
}

/* fuzz_http.c — libFuzzer target for the HTTP connection engine (server/http.c) through
 * in-memory connections, plus owl_http_decompress on raw input.
 *
 * Input: byte 0 selects the limits (small ones reach 431/413 paths), where the input is
 * split into two feeds, and whether the read timeout fires at the end; the rest is what a
 * client sends. A head hook accepts, limits or refuses each request by its header count.
 * Invariants checked: output is empty or starts with an HTTP/1.1 status line, a refused
 * request never reaches the handler, every byte taken from the global body budget is given
 * back, and nothing leaks or overflows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "server/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int fz_head(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    (void)ud;
    switch (req->nheaders % 3) {
    case 0:
        req->auth = strdup("principal");
        req->auth_free = free;
        return OWL_HTTP_HEAD_ACCEPT;
    case 1:
        return OWL_HTTP_HEAD_LIMITED;
    default:
        owl_http_resp_error(resp, 401, "Unauthorized", "refused %s", req->path);
        return OWL_HTTP_HEAD_REJECT;
    }
}

static void fz_handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    (void)ud;
    if (req->nheaders % 3 == 2 || (req->nheaders % 3 == 0 && !req->auth))
        __builtin_trap(); /* the hook's verdict was not kept */
    const char *ct = owl_http_req_header(req, "content-type");
    switch ((strlen(req->path) + req->nheaders) % 6) {
    case 0:
        owl_http_resp_json(resp, 200, req->body.data ? req->body.data : "{}",
                           req->body.data ? req->body.len : 2);
        break;
    case 1:
        owl_http_resp_stream_begin(resp, 200, "text/event-stream");
        owl_http_resp_sse(resp, ct, req->body.data, req->body.len);
        owl_http_resp_sse(resp, NULL, req->query, strlen(req->query));
        owl_http_resp_stream_end(resp);
        break;
    case 2:
        owl_http_resp_header(resp, "x-target", req->target);
        owl_http_resp_error(resp, 404, "NotFound", "no route for %s %s", req->method, req->path);
        break;
    case 3:
        resp->close = 1;
        owl_http_resp_text(resp, 204, "", 0);
        break;
    case 5: {
        /* a detached stream, ended at once: pipelined requests resume after its chunk */
        owl_http_stream *st = owl_http_resp_detach_stream(resp, 200, ct, NULL);
        owl_http_stream_sse(st, req->query[0] ? req->query : NULL, req->body.data,
                            req->body.len);
        owl_http_stream_write(st, req->target, strlen(req->target));
        owl_http_stream_close(st);
        owl_http_stream_release(st);
        break;
    }
    default:
        owl_http_resp_stream_begin(resp, 200, ct); /* left to the layer to end */
        owl_http_resp_stream_write(resp, req->body.data, req->body.len);
        break;
    }
}

static void fz_done(void *ud, const owl_http_req *req, const owl_http_resp *resp,
                    size_t bytes_in, size_t bytes_out, int64_t duration_ns)
{
    (void)ud;
    (void)bytes_in;
    (void)duration_ns;
    if (bytes_out == 0 || resp->status < 100 || resp->status > 599)
        __builtin_trap();
    if (req && (!req->method || strlen(req->request_id) != 36))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static const owl_http_callbacks cb = {fz_handle, fz_done, NULL, fz_head};
    static const owl_http_limits big = OWL_HTTP_DEFAULT_LIMITS;
    static const owl_http_limits small = {64, 32, 1000, 1000, 10, 100, 0, 0, 0, 16, 48};
    static atomic_size_t buffered;
    if (n < 1)
        return 0;
    uint8_t ctl = d[0];
    d++;
    n--;
    if ((ctl & 0x0f) == 0x0f) {
        static const char *encs[] = {"gzip", "deflate", "zstd", "identity"};
        owl_buf out = OWL_BUF_INIT;
        owl_http_decompress(encs[(ctl >> 4) & 3], d, n, 1 << 16, &out, NULL);
        owl_buf_free(&out);
        return 0;
    }
    owl_http_conn *c = owl_http_conn_mem_new((ctl & 1) ? &small : &big, &cb);
    if (!c)
        return 0;
    c->buffered = &buffered;
    size_t split = n * (size_t)(ctl >> 2) / 64;
    owl_http_conn_mem_feed(c, d, split);
    owl_http_conn_mem_feed(c, d + split, n - split);
    if (ctl & 2)
        owl_http_conn_on_timeout(c, owl_http_conn_deadline(c));
    const owl_buf *o = owl_http_conn_mem_output(c);
    if (o->len && (o->len < 12 || memcmp(o->data, "HTTP/1.1 ", 9) != 0))
        __builtin_trap();
    owl_http_conn_mem_free(c);
    if (atomic_load(&buffered) != 0)
        __builtin_trap();
    return 0;
}

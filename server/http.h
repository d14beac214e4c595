/* http.h — owld's HTTP/1.1 server: worker threads with epoll loops over non-blocking
 * sockets, http-parser for framing, and the limits every connection lives under.
 *
 * Contract with the layer above (router): the server hands over one complete request at a
 * time per connection — headers parsed, body de-chunked and decompressed, all within the
 * limits — and the handler fills an owl_http_resp on the same thread. Before that, the
 * optional head hook sees each request's header block before any body byte is buffered or
 * 100 Continue sent, and decides whether (and how much of) the body is read at all; bodies
 * held in memory across all connections are capped (max_buffered_bytes). Responses on a
 * connection go out in request order (pipelining). Errors the HTTP layer detects itself
 * (400, 408, 413, 415, 431, 503) are answered here with a JSON body
 * {"error":{"code":"...","message":"..."}} and reported through the done hook. */
#ifndef OWL_HTTP_H
#define OWL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct owl_http_header {
    char *name;  /* lowercased, NUL-terminated */
    char *value; /* leading/trailing blanks trimmed, NUL-terminated */
} owl_http_header;

typedef struct owl_http_req {
    const char *method;        /* "GET", "POST", ... */
    char *target;              /* raw request-target as received ("/a%20b?x=1") */
    char *path;                /* raw (still percent-encoded) path part of target */
    char *query;               /* raw query after '?', "" when none */
    owl_http_header *headers;  /* in arrival order; repeated names stay separate entries */
    size_t nheaders;
    owl_buf body;              /* de-chunked and decompressed; len 0 when no body */
    owl_buf wire_body;         /* the de-chunked body before decompression, kept only when a
                                * Content-Encoding was applied (SigV4 hashes what was sent);
                                * len 0 otherwise */
    int http_major, http_minor;
    int keep_alive;            /* the client wants the connection kept */
    char remote_addr[64];      /* peer IP address as text */
    char request_id[37];       /* UUID v4 text, also sent as x-owl-request-id */
    int64_t start_mono_ns;     /* owl_mono_ns() when the first byte of this request arrived */
    size_t wire_bytes;         /* bytes read from the socket for this request */
    /* set by the head hook (owl_http_callbacks.head) for the handler to reuse, e.g. the
     * principal it authenticated; auth_free(auth) runs when the request is freed */
    void *auth;
    void (*auth_free)(void *auth);
} owl_http_req;

/* owl_http_req_header — value of the first header named lname (lowercase), or NULL. */
const char *owl_http_req_header(const owl_http_req *req, const char *lname);

typedef struct owl_http_conn owl_http_conn;

typedef struct owl_http_resp {
    int status;               /* default 200 */
    const char *content_type; /* default "application/json" */
    owl_buf headers;          /* extra header lines, each "Name: value\r\n" */
    owl_buf body;
    const char *action;       /* label for metrics/audit ("iam:CreateKey"); NULL = none */
    int close;                /* set to close the connection after this response */
    /* streaming state, owned by the HTTP layer */
    owl_http_conn *conn;
    int streaming;            /* 1 after owl_http_resp_stream_begin or _detach_stream */
    int detached;             /* 1 after owl_http_resp_detach_stream */
    size_t stream_bytes;
} owl_http_resp;

/* owl_http_resp_header — adds "name: value". OWL_OK or OWL_ENOMEM. */
int owl_http_resp_header(owl_http_resp *resp, const char *name, const char *value);

/* owl_http_resp_json — sets status, content type application/json, and body (copied). */
int owl_http_resp_json(owl_http_resp *resp, int status, const char *json, size_t len);

/* owl_http_resp_text — sets status, text/plain; charset=utf-8 and the body (copied). */
int owl_http_resp_text(owl_http_resp *resp, int status, const char *text, size_t len);

/* owl_http_resp_error — status + {"error":{"code":code,"message":message}}. */
int owl_http_resp_error(owl_http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* owl_http_resp_stream_begin — sends the status line and headers now with
 * Transfer-Encoding: chunked; the body is then sent with owl_http_resp_stream_write and
 * closed by owl_http_resp_stream_end (or by the layer when the handler returns). */
int owl_http_resp_stream_begin(owl_http_resp *resp, int status, const char *content_type);

/* owl_http_resp_stream_write — sends n bytes as one chunk (n = 0 is a no-op). */
int owl_http_resp_stream_write(owl_http_resp *resp, const void *p, size_t n);

/* owl_http_resp_sse — sends one server-sent event ("event: E\ndata: line\n...\n\n") on a
 * stream begun with content type text/event-stream. event may be NULL. */
int owl_http_resp_sse(owl_http_resp *resp, const char *event, const char *data, size_t n);

/* owl_http_resp_stream_end — sends the last (empty) chunk. */
int owl_http_resp_stream_end(owl_http_resp *resp);

/* ---- long-lived streams: responses that outlive the handler call ----
 *
 * A handler turns its response into a stream with owl_http_resp_detach_stream and returns;
 * any thread may then feed it. Bytes written go into a bounded per-connection queue and the
 * connection's worker thread moves them to the socket (the writer never waits for the
 * socket). A connection with a live stream parses no further request; when the stream is
 * closed with owl_http_stream_close and kept alive, pipelined requests resume after it.
 *
 * Ownership (the one rule): detach returns a stream holding ONE reference for the caller;
 * the connection holds its own. Whoever holds the caller's reference may write and close
 * from any thread, and must call owl_http_stream_release exactly once when done with it —
 * after closing it, or after a write returned OWL_ECLOSED because the connection went away
 * (client disconnect, stall timeout, server stop). The memory lives until both references
 * are gone, so writing to a stream whose connection died is safe and returns OWL_ECLOSED;
 * using the pointer after release is not.
 *
 * Buffer and drop policy: at most max_buffer bytes (default 256 KiB) of a stream wait in
 * owld (queued plus handed to the socket but not yet sent), and the socket's kernel send
 * buffer is set to the same size (no autotuning to megabytes). A write that does not fit is
 * not queued and returns OWL_EAGAIN. On an SSE stream (content type text/event-stream) the
 * event is counted as dropped, and before the next event that fits the stream carries
 * "event: dropped" with data {"dropped":N} (events lost since the last such notice); on a
 * plain chunked stream nothing is queued and the caller may retry or close. A stream whose
 * reader acknowledges none of the bytes waiting for it (in owld or in the kernel's send
 * queue) for stall_timeout_ms is closed: the slow reader is dropped. SSE streams get a comment line (": keepalive") after heartbeat_ms without
 * output, so dead peers are noticed. On server stop each stream gets its final chunk after
 * what is already queued and the connection closes within shutdown_grace_ms. */
typedef struct owl_http_stream owl_http_stream;

typedef struct owl_http_stream_opts {
    size_t max_buffer;    /* bytes waiting in owld at most; 0 = the server's default */
    int heartbeat_ms;     /* SSE keepalive comment after this long idle; 0 = default, <0 off */
    int stall_timeout_ms; /* close when pending bytes make no progress this long; 0 = default */
} owl_http_stream_opts;

typedef struct owl_http_stream_stats {
    uint64_t written;     /* writes queued (events on an SSE stream) */
    uint64_t dropped;     /* writes refused for lack of room (OWL_EAGAIN) */
    uint64_t bytes;       /* payload bytes queued */
    size_t queued;        /* bytes waiting in owld now (queue + unsent socket output) */
    int open;             /* 0 once writes return OWL_ECLOSED */
} owl_http_stream_stats;

/* owl_http_resp_detach_stream — called by a handler: sends status and headers with
 * Transfer-Encoding: chunked (SSE adds Cache-Control: no-cache) and returns the stream that
 * outlives the handler, holding one reference for the caller (see the ownership rule above).
 * opts may be NULL. For a HEAD request the stream is returned already ended. NULL when resp
 * is not a handler's response, is already streaming, status has no body (1xx, 204, 304), or
 * out of memory; the response is then unchanged. */
owl_http_stream *owl_http_resp_detach_stream(owl_http_resp *resp, int status,
                                             const char *content_type,
                                             const owl_http_stream_opts *opts);

/* owl_http_stream_write — queues n bytes as one chunk (all or nothing; on an SSE stream p
 * must hold whole events, e.g. from owl_http_sse_format). Thread-safe, never blocks.
 * OWL_OK queued (n = 0 too); OWL_EAGAIN no room (dropped, see the policy above);
 * OWL_ECLOSED the stream ended or was closed; OWL_EINVAL NULL stream or data;
 * OWL_ENOMEM. */
int owl_http_stream_write(owl_http_stream *s, const void *p, size_t n);

/* owl_http_stream_sse — owl_http_sse_format + owl_http_stream_write of one event. Same
 * results, plus OWL_EINVAL for an event name holding CR or LF. */
int owl_http_stream_sse(owl_http_stream *s, const char *event, const char *data, size_t n);

/* owl_http_stream_close — ends the stream after what is queued (the final chunk is sent);
 * later writes return OWL_ECLOSED. Does not release the caller's reference. Thread-safe,
 * idempotent: OWL_OK, or OWL_ECLOSED when the connection was already gone. */
int owl_http_stream_close(owl_http_stream *s);

/* owl_http_stream_release — drops the caller's reference; s must not be used afterwards.
 * Does not close the stream by itself unless this was the last reference (the connection
 * already let go). Accepts NULL. */
void owl_http_stream_release(owl_http_stream *s);

/* owl_http_stream_get_stats — counters of s (thread-safe snapshot). */
void owl_http_stream_get_stats(owl_http_stream *s, owl_http_stream_stats *out);

/* owl_http_sse_format — appends one server-sent event to out: "event: E\n" (when event is
 * not NULL), one "data: " line per line of data (CR LF or LF separated), and a blank line.
 * OWL_OK, OWL_EINVAL (event holds CR or LF), OWL_ENOMEM (out keeps its old length). */
int owl_http_sse_format(owl_buf *out, const char *event, const char *data, size_t n);

/* owl_http_status_text — "OK", "Not Found", ... for a status code; "Unknown" otherwise. */
const char *owl_http_status_text(int status);

typedef struct owl_http_limits {
    size_t max_header_bytes;  /* request line + header block; over -> 431 (default 16 KiB) */
    size_t max_body_bytes;    /* body on the wire and decompressed; over -> 413 (16 MiB) */
    int read_timeout_ms;      /* a started request must be complete within this; -> 408 */
    int idle_timeout_ms;      /* keep-alive connection with no request in progress closes */
    int max_connections;      /* accepted beyond this are answered 503 and closed */
    int shutdown_grace_ms;    /* SIGTERM: in-flight requests get this long */
    /* defaults of owl_http_stream_opts (0 = the value shown in OWL_HTTP_DEFAULT_LIMITS) */
    size_t stream_buffer_bytes; /* per-stream bytes waiting in owld (256 KiB) */
    int stream_heartbeat_ms;    /* SSE keepalive interval (15000; <0 = off) */
    int stream_stall_ms;        /* slow reader closed after no progress this long (30000) */
    /* bodies before authentication (see owl_http_callbacks.head) */
    size_t preauth_body_bytes;  /* body a head hook verdict OWL_HTTP_HEAD_LIMITED allows:
                                 * more -> 413 and close (64 KiB; 0 = that default) */
    size_t max_buffered_bytes;  /* request bodies buffered across all connections of a
                                 * server (wire and decompressed); a body that would pass it
                                 * -> 503 with Retry-After and close (256 MiB; 0 = default) */
} owl_http_limits;

/* Defaults named in docs/operations.md. */
#define OWL_HTTP_DEFAULT_LIMITS {16384, 16u << 20, 30000, 60000, 4096, 4000, 256u << 10, 15000, \
                                 30000, 64u << 10, 256u << 20}

/* What the head hook decided about a request whose header block is complete. */
enum owl_http_head_verdict {
    OWL_HTTP_HEAD_ACCEPT = 0, /* authenticated (or needs the body to tell): body up to
                               * max_body_bytes, 100 Continue sent when asked for */
    OWL_HTTP_HEAD_LIMITED,    /* no credentials: body up to preauth_body_bytes; a larger
                               * declared or received body gets 413 and the connection closes */
    OWL_HTTP_HEAD_REJECT,     /* the hook filled resp (e.g. 401): it is sent at once with
                               * Connection: close, no 100 Continue, no body byte is kept */
};

typedef struct owl_http_callbacks {
    /* handle — called on a worker thread for each complete request. */
    void (*handle)(void *ud, owl_http_req *req, owl_http_resp *resp);
    /* done — called after every response is queued, including the layer's own errors;
     * req is NULL when no request line was parsed. */
    void (*done)(void *ud, const owl_http_req *req, const owl_http_resp *resp,
                 size_t bytes_in, size_t bytes_out, int64_t duration_ns);
    void *ud;
    /* head — optional; called on the worker thread when a request's header block is
     * complete, before any body byte is buffered and before 100 Continue: req has method,
     * target, path, query and headers (body empty). Returns an owl_http_head_verdict; on
     * OWL_HTTP_HEAD_REJECT resp (status, body, headers) is the answer. It may set req->auth
     * and req->auth_free for the handler. NULL = every request OWL_HTTP_HEAD_ACCEPT. */
    int (*head)(void *ud, owl_http_req *req, owl_http_resp *resp);
} owl_http_callbacks;

typedef struct owl_http_server owl_http_server;

/* owl_http_server_create — binds and listens on host:port (port 0 picks a free one) for
 * `workers` threads (0 = one per online CPU). Nothing runs until start.
 * Errors: OWL_EINVAL (bad address), OWL_EIO (bind/listen failed, message says why). */
int owl_http_server_create(const char *host, int port, int workers, const owl_http_limits *lim,
                           const owl_http_callbacks *cb, owl_http_server **out, owl_error *err);

/* owl_http_server_port — the port actually bound. */
int owl_http_server_port(const owl_http_server *s);

/* owl_http_server_start — starts the worker threads. */
int owl_http_server_start(owl_http_server *s, owl_error *err);

/* owl_http_server_stop — stops accepting, lets in-flight requests finish (up to
 * shutdown_grace_ms), closes idle connections and joins the workers. Idempotent. */
void owl_http_server_stop(owl_http_server *s);

/* owl_http_server_destroy — stops if needed and frees everything. Accepts NULL. */
void owl_http_server_destroy(owl_http_server *s);

/* owl_http_server_connections — connections currently open (for /metrics). */
long owl_http_server_connections(const owl_http_server *s);

/* ---- pieces exposed for unit tests and fuzzing ---- */

/* owl_http_decompress — decodes body per Content-Encoding ("gzip", "x-gzip", "deflate",
 * "zstd", "identity"; NULL = identity) into out, failing with OWL_ETOOBIG as soon as the
 * output would exceed max, OWL_EUNSUPPORTED for unknown encodings, OWL_EINVAL for
 * malformed data. */
int owl_http_decompress(const char *encoding, const void *in, size_t n, size_t max, owl_buf *out,
                        owl_error *err);

#endif

/* http_int.h — private to server/: one HTTP/1.1 connection as a byte-driven state machine
 * (http.c) that the epoll loop (loop.c), the unit tests and the fuzz target all drive.
 *
 * Invariants: requests on a connection are parsed one at a time and the next pipelined one
 * only after the previous response is queued; unparsed bytes sit in rbuf only while the
 * output is over its high-water mark (backpressure); once `closing` is set no further
 * request is parsed, and the connection ends when its output is flushed (after an optional
 * lingering read that drains what the client still sends, so it sees our error reply).
 * Bytes of a declared body may be received straight into req.body's reserved tail
 * (http.c body_room), never more than the body still lacks.
 * A detached stream (c->stream) is fed by other threads through its own locked queue; only
 * the worker moves that queue into wbuf (when wbuf is empty), and no request is parsed
 * while it is attached. */
#ifndef OWL_HTTP_INT_H
#define OWL_HTTP_INT_H

#include <http_parser.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server/http.h"

/* One parsed header's place in owl_http_conn.hdrs (offsets, since the buffer may move). */
typedef struct owl_http_hspan {
    size_t name, value;
} owl_http_hspan;

struct owl_http_conn {
    /* ---- transport; fd, list links and `registered` belong to loop.c ---- */
    int fd;                            /* socket (owned; closed by free), -1 = in-memory */
    char peer[64];                     /* peer IP text */
    struct owl_http_conn *prev, *next; /* the worker's connection list */
    uint32_t registered;               /* epoll events currently registered */
    int reaped;                        /* closed by the loop; freed after the event batch */
    owl_buf mem_out;                   /* in-memory connections: every byte written */
    const atomic_int *stop_flag;       /* server stop requested (any thread), or NULL */
    /* wake(ud, c): a stream of c has output for the worker. Called from any thread with the
     * stream's lock held: must not block nor call back into the stream. NULL = nobody is
     * told (in-memory connections: the caller runs owl_http_conn_on_wake itself). */
    void (*wake)(void *ud, owl_http_conn *c);
    void *wake_ud;
    struct owl_http_conn *ready_prev, *ready_next; /* the worker's ready list (its lock) */
    int in_ready;                      /* on that list (under the worker's ready lock) */
    /* bytes of request bodies buffered by every connection of the server (loop.c points it
     * at the server's counter; tests at their own; NULL = no global cap) */
    atomic_size_t *buffered;

    /* ---- engine state, private to http.c ---- */
    const owl_http_limits *lim;
    const owl_http_callbacks *cb;
    http_parser parser;
    owl_buf rbuf;       /* received but not yet parsed (only while backpressured) */
    owl_buf wbuf;       /* serialized output; wbuf.data[wpos..len) still to send */
    size_t wpos;

    /* request being read */
    owl_http_req req;
    owl_buf url;                /* target, then (after parsing) "\0path\0query" */
    owl_buf hdrs;               /* header names and values, NUL-separated */
    owl_http_hspan *spans;
    size_t nspans, capspans;
    int last_cb;                /* 0 none, 1 header field, 2 header value */
    int in_req;                 /* a request's first byte has arrived */
    int url_seen, target_done, headers_done, msg_done, id_done;
    size_t hdr_bytes;           /* bytes of request line + headers so far */
    size_t req_bytes;           /* wire bytes of this request */
    size_t resp_bytes;          /* bytes queued for this request's response(s) */
    int64_t req_start;          /* owl_mono_ns() of the request's first byte */
    int frame_state;            /* strict framing check (http.c frame_scan), 0 = a new message */
    uint64_t frame_left;        /* chunk data bytes still to come */
    int fail_status;            /* set by parser callbacks to reject the request */
    const char *fail_code;
    char fail_msg[160];
    size_t body_max;            /* this request's body limit (the head hook's verdict) */
    size_t body_declared;       /* Content-Length of an identity body, reserved in req.body
                                 * (0 = none or chunked): the rest is received in place */
    int limited;                /* verdict OWL_HTTP_HEAD_LIMITED: no credentials */
    size_t reserved;            /* bytes this request holds in *buffered */
    int rejected;               /* the head hook refused the request: `reject` is the answer */
    owl_http_resp reject;
    size_t drained;             /* bytes read and dropped while lingering */

    /* response being produced */
    int head;                   /* request method was HEAD: no body bytes */
    int keep;                   /* the response in flight keeps the connection */
    int stream_open;            /* chunked stream begun and not yet ended */

    /* connection state */
    int closing;                /* no more requests; close once output is flushed */
    int linger;                 /* on close, drain input for a while first */
    int lingering;              /* write side shut, draining input until linger_until */
    int peer_eof;               /* the client closed its sending side */
    int dead;                   /* close now */
    int stopping;               /* server is draining: answer with Connection: close */
    int64_t last_io;            /* owl_mono_ns() of the last read, write or accept */
    int64_t linger_until;

    /* detached stream (owl_http_resp_detach_stream) */
    owl_http_stream *stream;    /* the connection's reference, NULL when none */
    int stream_keep;            /* the connection stays open once the stream ends */
    int64_t stream_hb_ns;       /* SSE heartbeat interval, 0 = off */
    int64_t stream_hb_at;       /* next heartbeat when nothing else was sent */
    int64_t stream_stall_ns;    /* a reader with no progress this long is dropped */
    int64_t stream_progress;    /* owl_mono_ns() when the reader last made progress */
    int64_t stream_check_at;    /* next sample of the reader's progress */
    uint64_t stream_acked;      /* bytes the reader had acknowledged at the last sample */
    uint64_t sent_total;        /* bytes the socket (or mem_out) accepted, ever */
};

/* What the loop should do next with a connection (owl_http_conn_interest). */
enum { OWL_HTTP_WANT_READ = 1, OWL_HTTP_WANT_WRITE = 2, OWL_HTTP_CLOSE = 4 };

/* owl_http_conn_new — a connection over socket fd (non-blocking; -1 for in-memory) from
 * peer (IP text, may be NULL). lim and cb must outlive it. NULL when out of memory (the fd
 * is then left open for the caller). */
owl_http_conn *owl_http_conn_new(const owl_http_limits *lim, const owl_http_callbacks *cb,
                                 int fd, const char *peer);

/* owl_http_conn_free — frees all state and closes the fd. Accepts NULL. */
void owl_http_conn_free(owl_http_conn *c);

/* owl_http_conn_on_readable — reads what the socket has (bounded per call), parses it and
 * runs complete requests through the handler. */
void owl_http_conn_on_readable(owl_http_conn *c);

/* owl_http_conn_on_writable — flushes output; resumes parsing held-back requests. */
void owl_http_conn_on_writable(owl_http_conn *c);

/* owl_http_conn_interest — OWL_HTTP_WANT_READ/WRITE bits, or OWL_HTTP_CLOSE. */
unsigned owl_http_conn_interest(const owl_http_conn *c);

/* owl_http_conn_deadline — owl_mono_ns() time of the next timeout (read, idle, stalled
 * write, linger) that owl_http_conn_on_timeout must see. */
int64_t owl_http_conn_deadline(const owl_http_conn *c);

/* owl_http_conn_on_timeout — applies the timeouts due at now: 408 for a request not
 * complete within read_timeout_ms, closing for idle or stalled connections. */
void owl_http_conn_on_timeout(owl_http_conn *c, int64_t now);

/* owl_http_conn_on_wake — a stream fed from another thread has output, or was closed: move
 * its queue to the socket (only when earlier output is gone, so the bound holds) and end it
 * on the wire once closed. Worker thread only; cheap when there is nothing to do. */
void owl_http_conn_on_wake(owl_http_conn *c);

/* owl_http_conn_stream_detach — the connection lets go of its stream (before it is closed):
 * writers get OWL_ECLOSED from now on and wake() is never called for c again. Idempotent;
 * owl_http_conn_free calls it too. */
void owl_http_conn_stream_detach(owl_http_conn *c);

/* owl_http_conn_reject — answers status with the JSON error body and closes (used for 503
 * when over max_connections). */
void owl_http_conn_reject(owl_http_conn *c, int status, const char *code, const char *msg);

/* owl_http_conn_shutdown — the server is stopping: idle connections close, the request in
 * progress may finish and is answered with Connection: close, a stream gets its final
 * chunk after what is queued and the connection closes once that is sent. */
void owl_http_conn_shutdown(owl_http_conn *c);

/* ---- in-memory connections (tests, fuzzing): the same engine without a socket ---- */

/* owl_http_conn_mem_new — NULL when out of memory. lim and cb must outlive it. */
owl_http_conn *owl_http_conn_mem_new(const owl_http_limits *lim, const owl_http_callbacks *cb);

/* owl_http_conn_mem_feed — processes n received bytes. OWL_OK, or OWL_ECLOSED once the
 * connection has closed (later bytes are ignored). */
int owl_http_conn_mem_feed(owl_http_conn *c, const void *data, size_t n);

/* owl_http_conn_mem_output — every byte the connection has written so far. */
const owl_buf *owl_http_conn_mem_output(const owl_http_conn *c);

/* owl_http_conn_mem_closed — 1 once the connection would have been closed. */
int owl_http_conn_mem_closed(const owl_http_conn *c);

/* owl_http_conn_mem_free — same as owl_http_conn_free. Accepts NULL. */
void owl_http_conn_mem_free(owl_http_conn *c);

#endif

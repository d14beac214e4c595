/* ex_http.h — what the example services share (client/examples/README.md): a minimal HTTP/1.1
 * server and client on loopback, one request a connection, with libowl's context carried in
 * the headers. Not part of libowl: a real service uses its own HTTP library, handing libowl
 * the same two header callbacks. */
#ifndef OWL_EX_HTTP_H
#define OWL_EX_HTTP_H

#include <owl/owl.h>
#include <stddef.h>

#define EX_MAX_HEADERS 32

typedef struct ex_request {
    char method[16];
    char path[512];
    int nheaders;
    char *name[EX_MAX_HEADERS], *value[EX_MAX_HEADERS]; /* into the request's buffer */
} ex_request;

/* ex_header — an owl_header_get_fn over an ex_request (names matched case-insensitively). */
const char *ex_header(void *request, const char *name);

/* A service's handler: writes its answer's body (NUL-terminated, at most cap bytes) and
 * returns the HTTP status. Called on a thread of its own per request. */
typedef int (*ex_handler)(const ex_request *rq, char *body, size_t cap);

/* ex_port — the TCP port in environment variable var (1..65535), or exits with a message. */
int ex_port(const char *var);

/* ex_service — the example's main: sets libowl up for service `name` (OWL_* / OTEL_*
 * environment, log lines on stderr), serves HTTP on 127.0.0.1:port with h until SIGTERM or
 * SIGINT, waits for requests in flight, then flushes and shuts libowl down. Returns the exit
 * status. */
int ex_service(const char *name, int port, ex_handler h);

/* ex_call — sends `method path` to 127.0.0.1:port inside a client span (child of the
 * thread's current span) whose context is injected in W3C and X-Ray form; the span ends with
 * the answer's status. Returns that status, or -1 when the call failed (the span then records
 * the error). */
int ex_call(const char *method, int port, const char *path);

/* ex_sleep_ms — sleeps ms milliseconds. */
void ex_sleep_ms(int ms);

#endif

/* ex_http.c — the example services' HTTP (ex_http.h): a blocking server on loopback, a thread
 * per connection, one request a connection; and the client call. Each request served is a
 * SERVER span continuing the caller's context; each call made is a CLIENT span whose context
 * goes out in the request's headers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ex_http.h"

static volatile sig_atomic_t stopping;
static atomic_int in_flight;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

void ex_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

int ex_port(const char *var)
{
    const char *v = getenv(var);
    char *end;
    long p = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || p < 1 || p > 65535) {
        fprintf(stderr, "set %s to a TCP port (1-65535)\n", var);
        exit(2);
    }
    return (int)p;
}

const char *ex_header(void *request, const char *name)
{
    const ex_request *rq = request;
    for (int i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->name[i], name) == 0)
            return rq->value[i];
    return NULL;
}

/* Writes all of p[0..n); 0, or -1. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads a request's or answer's head (up to the blank line) into buf; its length, or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)n;
    }
    return -1;
}

/* Splits a request head in place: the request line, then "Name: value" lines. */
static int parse_request(char *head, ex_request *rq)
{
    char *line = head, *eol = strstr(line, "\r\n");
    if (!eol)
        return -1;
    *eol = '\0';
    if (sscanf(line, "%15s %511s", rq->method, rq->path) != 2)
        return -1;
    rq->nheaders = 0;
    for (line = eol + 2; (eol = strstr(line, "\r\n")) && eol != line; line = eol + 2) {
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon || rq->nheaders == EX_MAX_HEADERS)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        rq->name[rq->nheaders] = line;
        rq->value[rq->nheaders++] = v;
    }
    return 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    default: return "Status";
    }
}

typedef struct conn {
    int fd;
    ex_handler h;
} conn;

/* One connection: its request becomes a SERVER span continuing the caller's trace. */
static void *serve_conn(void *arg)
{
    conn c = *(conn *)arg;
    free(arg);
    char head[8192], body[4096], out[4608];
    ex_request rq;
    ssize_t n = read_head(c.fd, head, sizeof head);
    if (n > 0 && parse_request(head, &rq) == 0) {
        char route[512];
        snprintf(route, sizeof route, "%.*s", (int)strcspn(rq.path, "?"), rq.path);
        owl_context *parent = owl_extract(ex_header, &rq, OWL_PROPAGATE_ALL, NULL);
        owl_span *s = owl_span_start_http(OWL_KIND_SERVER, rq.method, route, "127.0.0.1",
                                          parent, 0);
        owl_context_free(parent);
        body[0] = '\0';
        int status = c.h(&rq, body, sizeof body);
        owl_span_set_http(s, rq.method, route, status);
        owl_log(status >= 500 ? OWL_LOG_ERROR : OWL_LOG_INFO, "%s %s -> %d", rq.method,
                rq.path, status);
        owl_span_end(s);
        size_t blen = strlen(body);
        int len = snprintf(out, sizeof out,
                           "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s",
                           status, reason(status), blen, body);
        write_all(c.fd, out, (size_t)len < sizeof out ? (size_t)len : sizeof out - 1);
    }
    close(c.fd);
    atomic_fetch_sub(&in_flight, 1);
    return NULL;
}

int ex_service(const char *name, int port, ex_handler h)
{
    owl_config *cfg = owl_config_new();
    if (!cfg || owl_config_set(cfg, "service.name", name) ||
        (!getenv("OWL_LOG_STDERR") && owl_config_set(cfg, "log.stderr", "1")) || owl_init(cfg)) {
        fprintf(stderr, "%s: libowl set-up failed\n", name);
        return 1;
    }
    owl_config_free(cfg);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 128)) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d: %s\n", name, port, strerror(errno));
        owl_shutdown(0);
        return 1;
    }
    owl_log(OWL_LOG_INFO, "%s listening on 127.0.0.1:%d", name, port);
    while (!stopping) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept(lfd, NULL, NULL);
        conn *c = fd >= 0 ? malloc(sizeof *c) : NULL;
        pthread_t t;
        if (!c) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        *c = (conn){fd, h};
        atomic_fetch_add(&in_flight, 1);
        if (pthread_create(&t, NULL, serve_conn, c) != 0) {
            atomic_fetch_sub(&in_flight, 1);
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    close(lfd);
    while (atomic_load(&in_flight) > 0)
        ex_sleep_ms(10);
    owl_log(OWL_LOG_INFO, "%s stopping", name);
    int rc = owl_shutdown(5000);
    fprintf(stderr, "%s: stopped (%s); spans dropped %llu, logs dropped %llu\n", name,
            rc ? owl_client_strerror(rc) : "everything sent",
            (unsigned long long)owl_dropped_spans(), (unsigned long long)owl_dropped_logs());
    return 0;
}

/* The outgoing request's headers, as libowl injects them. */
typedef struct out_headers {
    char buf[2048];
    size_t n;
} out_headers;

static int add_header(void *carrier, const char *name, const char *value)
{
    out_headers *o = carrier;
    int w = snprintf(o->buf + o->n, sizeof o->buf - o->n, "%s: %s\r\n", name, value);
    if (w < 0 || (size_t)w >= sizeof o->buf - o->n)
        return -1;
    o->n += (size_t)w;
    return 0;
}

int ex_call(const char *method, int port, const char *path)
{
    char url[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    owl_span *s = owl_span_start_http(OWL_KIND_CLIENT, method, url, NULL, NULL, 0);
    owl_span_set_str(s, "server.address", "127.0.0.1");
    owl_span_set_int(s, "server.port", port);
    out_headers hs = {.n = 0};
    owl_context *ctx = owl_span_context(s);
    if (ctx)
        owl_inject(ctx, add_header, &hs, OWL_PROPAGATE_ALL);
    owl_context_free(ctx);

    errno = 0;
    int status = -1, fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[3072], head[8192];
    int len = snprintf(req, sizeof req,
                       "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n%.*s\r\n",
                       method, path, port, (int)hs.n, hs.buf);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write_all(fd, req, (size_t)len) == 0 && read_head(fd, head, sizeof head) > 0)
        sscanf(head, "HTTP/1.%*d %d", &status);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (status < 0) {
        const char *why = err ? strerror(err) : "no answer";
        owl_span_record_exception(s, "ConnectionError", why, NULL);
        owl_log(OWL_LOG_ERROR, "%s %s failed: %s", method, url, why);
    }
    owl_span_set_http(s, method, url, status < 0 ? 0 : status);
    owl_span_end(s);
    return status;
}

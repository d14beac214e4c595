/* test_client_export.c — client/export.c against an in-test OTLP/HTTP server (127.0.0.1, an
 * ephemeral port; a thread a connection): it reads each request (Content-Length), gunzips it,
 * decodes it with owld's owl_otlp_traces_decode and counts the spans by name, and answers as
 * a test programs it (statuses, Retry-After, partial success, a stall). Cases: shutdown and
 * flush deliver, queue overflow accounting, retries (503 + Retry-After, 429, nothing
 * listening), refusal (400), partial success, gzip / none, protobuf / JSON, api_key and
 * headers, flush timeout, the metrics hook, fork; and the hot path's micro-benchmark. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/unit/client_renamed.h"

#include "ingest/ingest.h"

#define KIND_INTERNAL 1 /* owl_client_span_kind's OWL_KIND_INTERNAL */

/* ---- the server ---- */

#define MAX_NAMES 4096

static struct {
    int fd, port;
    pthread_t th;
    atomic_int quit;
    pthread_mutex_t lock;
    /* the program: statuses answered in turn (then 200), with Retry-After when set */
    int status[8], nstatus, retry_after, rejected;
    int stall; /* 1: requests wait until it is 0 (or quit) */
    /* what arrived */
    int requests, metrics_requests, decode_errors;
    uint64_t spans;
    uint64_t at_ms[16]; /* each traces request's arrival */
    unsigned by_name[MAX_NAMES];
    char ctype[64], cenc[32], auth[128], tenant[64], agent[64];
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Header `name`'s value in the request head h (NUL-terminated) copied to out ("" when absent). */
static void header(const char *h, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    size_t n = strlen(name);
    for (const char *p = strstr(h, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            v += strspn(v, " ");
            size_t len = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
            return;
        }
    }
}

/* body[0..n) gunzipped into *out (malloc'd); its length, or -1. */
static long gunzip(const uint8_t *body, size_t n, uint8_t **out)
{
    z_stream z = {0};
    size_t cap = 1 << 20;
    *out = malloc(cap);
    if (inflateInit2(&z, 31) != Z_OK)
        return -1;
    z.next_in = (uint8_t *)body;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    int rc;
    while ((rc = inflate(&z, Z_NO_FLUSH)) == Z_OK && z.avail_out == 0) {
        *out = realloc(*out, cap * 2);
        z.next_out = *out + cap;
        z.avail_out = (uInt)cap;
        cap *= 2;
    }
    long len = rc == Z_STREAM_END ? (long)z.total_out : -1;
    inflateEnd(&z);
    return len;
}

/* Counts the spans of a traces request (srv.lock held). */
static void count_spans(const char *ctype, const uint8_t *body, size_t n)
{
    owl_span_decoded d = {0};
    owl_error err = {0};
    enum owl_otlp_encoding enc = strstr(ctype, "json") ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF;
    if (owl_otlp_traces_decode(enc, body, n, 100000, &d, &err) != OWL_OK || d.rejected) {
        srv.decode_errors++;
    } else {
        srv.spans += d.n;
        for (size_t i = 0; i < d.n; i++) {
            char name[16];
            snprintf(name, sizeof name, "%.*s", (int)d.spans[i].name.n,
                     (const char *)d.spans[i].name.p);
            int k = atoi(name + 1);
            if (k >= 0 && k < MAX_NAMES)
                srv.by_name[k]++;
        }
    }
    owl_span_decoded_free(&d);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one request into head (NUL-terminated) and *body; -1 at the connection's end. */
static int read_request(int fd, char *head, size_t cap, uint8_t **body, size_t *n)
{
    size_t len = 0;
    while (len < cap - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (atomic_load(&srv.quit))
            return -1;
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(fd, head + len, 1) != 1)
            return -1;
        len++;
        head[len] = 0;
        if (len >= 4 && !memcmp(head + len - 4, "\r\n\r\n", 4))
            break;
    }
    char cl[32];
    header(head, "Content-Length", cl, sizeof cl);
    *n = (size_t)atol(cl);
    *body = malloc(*n + 1);
    return read_full(fd, *body, *n);
}

static void respond(int fd, const char *ctype, int status, int retry_after, int rejected)
{
    char body[128] = "", resp[512];
    size_t blen = 0;
    if (status == 200 && rejected) {
        if (strstr(ctype, "json")) {
            blen = (size_t)snprintf(body, sizeof body,
                                    "{\"partialSuccess\":{\"rejectedSpans\":\"%d\"}}", rejected);
        } else { /* field 1 { field 1 varint } */
            body[0] = 0x0a, body[1] = 2, body[2] = 0x08, body[3] = (char)rejected;
            blen = 4;
        }
    }
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                     ctype, blen);
    if (retry_after >= 0)
        n += snprintf(resp + n, sizeof resp - (size_t)n, "Retry-After: %d\r\n", retry_after);
    n += snprintf(resp + n, sizeof resp - (size_t)n, "\r\n");
    if (write(fd, resp, (size_t)n) != n || (blen && write(fd, body, blen) != (ssize_t)blen))
        return;
}

static void *conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char head[4096];
    uint8_t *body;
    size_t n;
    while (read_request(fd, head, sizeof head, &body, &n) == 0) {
        char ctype[64], cenc[32];
        header(head, "Content-Type", ctype, sizeof ctype);
        header(head, "Content-Encoding", cenc, sizeof cenc);
        uint8_t *plain = body;
        long plen = (long)n;
        if (!strcmp(cenc, "gzip"))
            plen = gunzip(body, n, &plain);
        for (;;) { /* a stall holds the request until released */
            pthread_mutex_lock(&srv.lock);
            int stall = srv.stall;
            pthread_mutex_unlock(&srv.lock);
            if (!stall || atomic_load(&srv.quit))
                break;
            usleep(10000);
        }
        pthread_mutex_lock(&srv.lock);
        int status = 200, retry_after = -1, rejected = 0;
        if (!strncmp(head, "POST /v1/metrics ", 17)) {
            srv.metrics_requests++;
        } else {
            if (srv.requests < 16)
                srv.at_ms[srv.requests] = mono_ms();
            status = srv.requests < srv.nstatus ? srv.status[srv.requests] : 200;
            srv.requests++;
            retry_after = status != 200 ? srv.retry_after : -1;
            rejected = srv.rejected;
            memcpy(srv.ctype, ctype, sizeof ctype);
            memcpy(srv.cenc, cenc, sizeof cenc);
            header(head, "Authorization", srv.auth, sizeof srv.auth);
            header(head, "x-tenant", srv.tenant, sizeof srv.tenant);
            header(head, "User-Agent", srv.agent, sizeof srv.agent);
            if (plen < 0)
                srv.decode_errors++;
            else if (status == 200)
                count_spans(ctype, plain, (size_t)plen);
        }
        pthread_mutex_unlock(&srv.lock);
        if (plain != body)
            free(plain);
        free(body);
        if (!atomic_load(&srv.quit))
            respond(fd, ctype, status, retry_after, rejected);
    }
    close(fd);
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.quit)) {
        struct pollfd p = {srv.fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(srv.fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t th;
        pthread_create(&th, NULL, conn, (void *)(intptr_t)fd);
        pthread_detach(th);
    }
    return NULL;
}

/* A listening socket on 127.0.0.1:0; its port. */
static int listen_any(int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(*fd >= 0);
    cr_assert_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(*fd, 64), 0);
    getsockname(*fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void server_start(void)
{
    signal(SIGPIPE, SIG_IGN);
    srv.port = listen_any(&srv.fd);
    pthread_create(&srv.th, NULL, acceptor, NULL);
}

static void server_stop(void)
{
    atomic_store(&srv.quit, 1);
    pthread_join(srv.th, NULL);
    close(srv.fd);
}

/* ---- the client's side ---- */

/* A configuration sending to the server (or to port), then name=value pairs, NULL-ended. */
static owl_config *config(int port, ...)
{
    owl_config *c = owl_config_new();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    cr_assert_eq(owl_config_set(c, "endpoint", url), 0);
    cr_assert_eq(owl_config_set(c, "export.interval", "3600000"), 0); /* flushes decide */
    va_list ap;
    va_start(ap, port);
    for (const char *k; (k = va_arg(ap, const char *));)
        cr_assert_eq(owl_config_set(c, k, va_arg(ap, const char *)), 0, "%s", k);
    va_end(ap);
    return c;
}

static void init(owl_config *c)
{
    cr_assert_eq(owl_init(c), 0);
    owl_config_free(c);
}

/* Ends n spans named "s<first + i>". */
static void spans(int first, int n)
{
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", first + i);
        owl_client_span *s = owl_span_start(name, KIND_INTERNAL, NULL, 0);
        cr_assert(owl_span_sampled(s));
        owl_span_end(s);
    }
}

static uint64_t delivered(void)
{
    pthread_mutex_lock(&srv.lock);
    uint64_t n = srv.spans;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

TestSuite(export, .init = server_start, .fini = server_stop, .timeout = 30);

Test(export, shutdown_delivers_everything)
{
    init(config(srv.port, NULL));
    spans(0, 1000);
    cr_assert_eq(owl_shutdown(10000), 0);
    cr_assert_eq(delivered(), 1000, "all arrive before owl_shutdown returns");
    cr_assert_eq(owl_dropped_spans(), 0);
    cr_assert_eq(srv.decode_errors, 0);
    cr_assert_geq(srv.requests, 2, "batches of at most 512");
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(srv.by_name[i], 1, "span %d arrives once", i);
    cr_assert_eq(owl_flush(0), OWL_ERR_INVAL, "not set up");
    cr_assert_eq(owl_shutdown(0), OWL_ERR_INVAL);
}

Test(export, flush_sends_what_ended_before)
{
    init(config(srv.port, NULL));
    spans(0, 10);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_eq(delivered(), 10);
    cr_assert_eq(owl_flush(5000), 0, "nothing to send");
    spans(10, 5);
    cr_assert_eq(owl_flush(-1), 0);
    cr_assert_eq(delivered(), 15);
    cr_assert_eq(owl_shutdown(5000), 0);
    cr_assert_eq(owl_dropped_spans(), 0);
}

Test(export, batch_size_wakes_the_thread)
{
    init(config(srv.port, "batch.size", "10", NULL)); /* the interval is an hour */
    spans(0, 10);
    uint64_t t0 = mono_ms();
    while (delivered() < 10 && mono_ms() - t0 < 5000)
        usleep(5000);
    cr_assert_eq(delivered(), 10, "a full batch is sent without a flush");
    owl_shutdown(5000);
}

Test(export, overflow_drops_the_oldest)
{
    init(config(srv.port, "queue.size", "8", "batch.size", "4", NULL));
    pthread_mutex_lock(&srv.lock);
    srv.stall = 1;
    pthread_mutex_unlock(&srv.lock);
    spans(0, 200);
    usleep(100000);
    uint64_t dropped_stalled = owl_dropped_spans();
    cr_assert_geq(dropped_stalled, 200 - 8 - 4 * 2, "at most a queue and the batches in flight");
    pthread_mutex_lock(&srv.lock);
    srv.stall = 0;
    pthread_mutex_unlock(&srv.lock);
    cr_assert_eq(owl_shutdown(10000), 0);
    cr_assert_eq(owl_dropped_spans(), 200 - delivered(), "dropped %llu delivered %llu",
                 (unsigned long long)owl_dropped_spans(), (unsigned long long)delivered());
    for (int i = 192; i < 200; i++)
        cr_assert_eq(srv.by_name[i], 1, "the newest (%d) is kept", i);
}

Test(export, retry_after_503)
{
    srv.status[0] = 503;
    srv.nstatus = 1;
    srv.retry_after = 1;
    init(config(srv.port, NULL));
    spans(0, 5);
    cr_assert_eq(owl_flush(10000), 0);
    cr_assert_eq(srv.requests, 2);
    cr_assert_geq(srv.at_ms[1] - srv.at_ms[0], 990, "Retry-After: 1 honoured (%llu ms)",
                  (unsigned long long)(srv.at_ms[1] - srv.at_ms[0]));
    cr_assert_eq(delivered(), 5);
    cr_assert_eq(owl_shutdown(1000), 0);
    cr_assert_eq(owl_dropped_spans(), 0);
}

Test(export, retry_429_with_backoff)
{
    srv.status[0] = 429;
    srv.nstatus = 1;
    srv.retry_after = -1;
    init(config(srv.port, NULL));
    spans(0, 5);
    cr_assert_eq(owl_flush(10000), 0);
    cr_assert_eq(srv.requests, 2);
    cr_assert_geq(srv.at_ms[1] - srv.at_ms[0], 750, "backoff of about a second");
    cr_assert_eq(delivered(), 5);
    owl_shutdown(1000);
}

Test(export, nothing_listening_dropped_after_timeout)
{
    int fd, port = listen_any(&fd);
    close(fd); /* a port nothing listens on */
    init(config(port, "timeout", "1500", NULL));
    spans(0, 7);
    uint64_t t0 = mono_ms();
    cr_assert_eq(owl_flush(10000), 0);
    uint64_t took = mono_ms() - t0;
    cr_assert_eq(owl_dropped_spans(), 7);
    cr_assert(took >= 700 && took <= 2500, "retried once, then dropped within the timeout (%llu)",
              (unsigned long long)took);
    owl_shutdown(0);
}

Test(export, status_400_not_retried)
{
    srv.status[0] = 400;
    srv.nstatus = 1;
    srv.retry_after = -1;
    init(config(srv.port, NULL));
    spans(0, 6);
    uint64_t t0 = mono_ms();
    cr_assert_eq(owl_flush(10000), 0);
    cr_assert_lt(mono_ms() - t0, 500, "dropped at once");
    cr_assert_eq(srv.requests, 1);
    cr_assert_eq(owl_dropped_spans(), 6);
    owl_shutdown(1000);
}

Test(export, partial_success_counted)
{
    srv.rejected = 3;
    init(config(srv.port, NULL));
    spans(0, 10);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_eq(owl_dropped_spans(), 3, "protobuf partial_success");
    cr_assert_eq(owl_shutdown(1000), 0);
    srv.rejected = 2;
    init(config(srv.port, "protocol", "http/json", NULL));
    spans(0, 10);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_eq(owl_dropped_spans(), 2, "JSON partialSuccess.rejectedSpans");
    owl_shutdown(1000);
}

Test(export, gzip_and_none)
{
    init(config(srv.port, "compression", "gzip", NULL));
    spans(0, 3);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_str_eq(srv.cenc, "gzip");
    cr_assert_eq(owl_shutdown(1000), 0);
    init(config(srv.port, NULL)); /* the default: none, as OpenTelemetry's SDKs */
    spans(3, 3);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_str_eq(srv.cenc, "");
    cr_assert_eq(delivered(), 6);
    cr_assert_eq(srv.decode_errors, 0);
    owl_shutdown(1000);
}

Test(export, protobuf_and_json)
{
    init(config(srv.port, NULL));
    spans(0, 3);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_str_eq(srv.ctype, "application/x-protobuf");
    cr_assert_eq(owl_shutdown(1000), 0);
    init(config(srv.port, "protocol", "http/json", NULL));
    spans(3, 4);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_str_eq(srv.ctype, "application/json");
    cr_assert_eq(delivered(), 7);
    cr_assert_eq(srv.decode_errors, 0);
    owl_shutdown(1000);
}

Test(export, api_key_headers_user_agent)
{
    init(config(srv.port, "api_key", "s3cret", "headers", "x-tenant=acme%20co", NULL));
    spans(0, 1);
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_str_eq(srv.auth, "Bearer s3cret");
    cr_assert_str_eq(srv.tenant, "acme co");
    cr_assert_str_eq(srv.agent, "libowl/" OWL_VERSION_STRING);
    owl_shutdown(1000);
}

Test(export, flush_times_out_on_a_server_that_never_answers)
{
    srv.stall = 1;
    init(config(srv.port, NULL));
    spans(0, 4);
    uint64_t t0 = mono_ms();
    cr_assert_eq(owl_flush(300), OWL_ERR_TIMEOUT);
    uint64_t took = mono_ms() - t0;
    cr_assert(took >= 290 && took < 1000, "flush within its bound (%llu)", (unsigned long long)took);
    t0 = mono_ms();
    cr_assert_eq(owl_shutdown(300), OWL_ERR_TIMEOUT);
    took = mono_ms() - t0;
    cr_assert(took < 1500, "the slow request interrupted at stop's deadline (%llu)",
              (unsigned long long)took);
    cr_assert_eq(owl_dropped_spans(), 4);
}

static int collected;

static int collect(void *ud, const char *service_name, const char *resource, int json,
                   owl__cbuf *out)
{
    (void)ud, (void)resource, (void)json;
    cr_assert_str_eq(service_name, "metered");
    __atomic_add_fetch(&collected, 1, __ATOMIC_SEQ_CST);
    owl__cbuf_put(out, "\x0a\x00", 2); /* one empty ResourceMetrics */
    return 0;
}

Test(export, metrics_collected_at_flush_and_stop)
{
    owl__exporter_set_collector(collect, NULL);
    init(config(srv.port, "service.name", "metered", NULL));
    cr_assert_eq(owl_flush(5000), 0);
    cr_assert_eq(__atomic_load_n(&collected, __ATOMIC_SEQ_CST), 1);
    cr_assert_eq(srv.metrics_requests, 1, "posted to /v1/metrics");
    cr_assert_eq(owl_shutdown(5000), 0);
    cr_assert_eq(__atomic_load_n(&collected, __ATOMIC_SEQ_CST), 2);
    cr_assert_eq(srv.metrics_requests, 2);
    owl__exporter_set_collector(NULL, NULL);
}

static atomic_int flowing;

static void *parent_spans(void *arg)
{
    (void)arg;
    int n = 0;
    while (atomic_load(&flowing)) {
        owl_span_end(owl_span_start("p0", KIND_INTERNAL, NULL, 0));
        n++;
        if (n % 64 == 0)
            usleep(1000);
    }
    return (void *)(intptr_t)n;
}

/* The child's spans arrive once (its own thread), the parent's once (never re-sent by the
 * child, whose inherited queue is emptied). */
Test(export, fork_while_spans_flow)
{
    alarm(20);
    init(config(srv.port, "export.interval", "50", NULL));
    atomic_store(&flowing, 1);
    pthread_t th;
    pthread_create(&th, NULL, parent_spans, NULL);
    usleep(50000);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 100; i++)
            owl_span_end(owl_span_start("s1", KIND_INTERNAL, NULL, 0));
        int rc = owl_shutdown(5000);
        _exit(rc == 0 && owl_dropped_spans() == 0 ? 0 : 3);
    }
    usleep(50000);
    atomic_store(&flowing, 0);
    void *n;
    pthread_join(th, &n);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child shut down clean");
    cr_assert_eq(owl_shutdown(5000), 0);
    cr_assert_eq(owl_dropped_spans(), 0);
    cr_assert_eq(srv.by_name[1], 100, "the child's spans, once");
    cr_assert_eq(srv.by_name[0], (unsigned)(intptr_t)n, "the parent's, once (%u of %d)",
                 srv.by_name[0], (int)(intptr_t)n);
}

/* ---- the hot path: logged, not asserted ---- */

static double bench(int n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        owl_span_end(owl_span_start("s0", KIND_INTERNAL, NULL, 0));
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

static void null_sink(void *ud, const owl__span_record *r)
{
    (void)ud, (void)r;
}

/* Chunks of 1,000 spans timed, each then flushed untimed (the thread sends while the next
 * chunk is timed only when the flush returned early: it does not). */
static double bench_chunked(int n)
{
    double total = 0;
    for (int done = 0; done < n; done += 1000) {
        total += bench(1000) * 1000;
        owl_flush(10000);
    }
    return total / n;
}

/* Sampled start+end three ways: to a sink (test_client_span's figure); into the queue, in
 * chunks of 1,000 flushed between (the queue's own cost: the records are freed by the
 * exporter's thread); into the default queue with the thread sending as fast as it can (the
 * producer outruns it: the drop-oldest path, whose free is the producer's). */
Test(export, bench_start_end_queued)
{
    int n = getenv("OWL_SPAN_BENCH_N") ? atoi(getenv("OWL_SPAN_BENCH_N")) : 1000000;
    owl__set_span_sink(null_sink, NULL);
    init(config(srv.port, NULL));
    double sink = bench(n);
    owl_shutdown(0);
    owl__set_span_sink(NULL, NULL);
    init(config(srv.port, "compression", "none", NULL));
    double queued = bench_chunked(n / 10);
    owl_shutdown(10000);
    uint64_t sent = delivered();
    init(config(srv.port, "export.interval", "100", "compression", "none", NULL));
    double busy = bench(n);
    owl_shutdown(10000);
    fprintf(stderr,
            "# span start+end, sampled: sink %.1f ns (%d spans), queue %.1f ns (%d spans in "
            "chunks of 1000, %llu delivered), queue outrun %.1f ns (%d spans, %llu delivered, "
            "%llu dropped)\n",
            sink, n, queued, n / 10, (unsigned long long)sent, busy, n,
            (unsigned long long)(delivered() - sent), (unsigned long long)owl_dropped_spans());
}

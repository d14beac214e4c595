/* loadgen.c — the shop's customers (client/examples/README.md): REQUESTS checkouts (GET
 * /checkout?item=N on FRONTEND_PORT) from CONCURRENCY threads, or for SECONDS when given, then
 * prints one line: requests, answers by status, and the mean time. Not instrumented: the
 * frontend's spans are the traces' roots, as a browser's requests would be. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, requests = 300, concurrency = 4;
static double seconds;
static atomic_int next, ok, failed, other;
static _Atomic long long total_us;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int get(int item)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[256], buf[1024];
    int len = snprintf(req, sizeof req,
                       "GET /checkout?item=%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Connection: close\r\n\r\n",
                       item, port);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, req, (size_t)len, MSG_NOSIGNAL) == len) {
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            sscanf(buf, "HTTP/1.%*d %d", &status);
        }
    }
    if (fd >= 0)
        close(fd);
    return status;
}

static void *customer(void *arg)
{
    double end = *(double *)arg;
    for (;;) {
        int i = atomic_fetch_add(&next, 1);
        if (seconds > 0 ? now() >= end : i >= requests)
            break;
        double t0 = now();
        int st = get(i % 50 + 1);
        atomic_fetch_add(&total_us, (long long)((now() - t0) * 1e6));
        atomic_fetch_add(st == 200 ? &ok : st == 502 ? &failed : &other, 1);
    }
    return NULL;
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : dflt;
}

int main(void)
{
    port = env_int("FRONTEND_PORT", 0);
    if (!port) {
        fprintf(stderr, "set FRONTEND_PORT\n");
        return 2;
    }
    requests = env_int("REQUESTS", requests);
    concurrency = env_int("CONCURRENCY", concurrency);
    seconds = env_int("SECONDS", 0);
    double end = now() + seconds;
    pthread_t t[64];
    if (concurrency > 64)
        concurrency = 64;
    for (int i = 0; i < concurrency; i++)
        pthread_create(&t[i], NULL, customer, &end);
    for (int i = 0; i < concurrency; i++)
        pthread_join(t[i], NULL);
    int n = ok + failed + other;
    printf("loadgen: %d requests: %d ok (200), %d failed (502), %d other; mean %.1f ms\n", n,
           (int)ok, (int)failed, (int)other, n ? (double)total_us / n / 1e3 : 0.0);
    return other ? 1 : 0;
}

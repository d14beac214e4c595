/* client_export.c — the instrumented program t_client_export.sh builds from client/: it sends
 * spans to a real owld, and keeps ending spans while owld is away.
 *   client_export send URL KEY        a trace of 3 spans, owl_shutdown: prints the trace id
 *   client_export away URL KEY N DIR  N spans, each owl_span_end timed, in two halves: the
 *       first with owld stopped; then DIR/up is awaited (owld started), the second half ends
 *       and DIR/half is written a quarter in (owld is killed -9 then); then DIR/back is
 *       awaited (owld started again) and one trace is ended and flushed (recovery). Prints
 *       "max_ns P999_ns rss_kb_before rss_kb_after dropped_stopped dropped trace_id flush_rc
 *       max_cpu_ns blocked_calls preempted_calls max_unswitched_ns calls_over_1ms_cpu": besides
 *       each end's wall time, its thread CPU time and whether the thread switched during it,
 *       voluntarily (it blocked: waited on a lock or I/O) or not (preempted by the kernel, which
 *       a wall-clock figure cannot tell from the call's own work on a loaded machine). A call's
 *       thread CPU time is not exact on the CI VMs: without IRQ time accounting
 *       (CONFIG_IRQ_TIME_ACCOUNTING unset) a softirq round (up to 2 ms of network receive) that
 *       interrupts it is charged to it, and with steal time subtracted in bursts a call not
 *       switched out can read more CPU than wall time (611 us against at most 83 us seen). */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "owl/owl.h"

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static int init(const char *url, const char *key)
{
    owl_config *c = owl_config_new();
    int rc = !c || owl_config_set(c, "endpoint", url) || owl_config_set(c, "api_key", key) ||
             owl_config_set(c, "service.name", "export-it") ||
             owl_config_set(c, "timeout", "2000") || owl_config_set(c, "export.interval", "200") ||
             owl_init(c);
    owl_config_free(c);
    return rc;
}

/* A root with two children; its trace id written as hex into hex[33]. */
static void trace(char hex[33])
{
    owl_span *root = owl_span_start("GET /checkout", OWL_KIND_SERVER, NULL, OWL_SPAN_ROOT);
    owl_span_set_http(root, "GET", "/checkout", 200);
    owl_span_end(owl_span_start("load-cart", OWL_KIND_INTERNAL, NULL, 0));
    owl_span_end(owl_span_start("SELECT carts", OWL_KIND_CLIENT, NULL, 0));
    uint8_t tid[16];
    owl_span_ids(root, tid, NULL);
    owl_span_end(root);
    for (int i = 0; i < 16; i++)
        sprintf(hex + 2 * i, "%02x", tid[i]);
}

static void await_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int i = 0; i < 6000 && access(path, F_OK); i++)
        usleep(10000);
}

static void touch(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static int cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t max_cpu, max_unswitched;
static long blocked, preempted, over_cpu; /* over_cpu: calls over 1 ms of CPU */

/* Ends spans [from, to) of the run, each end's wall time into ns[]; its CPU time and context
 * switches into the figures above. */
static void end_spans(uint32_t *ns, long from, long to, long mark, const char *dir)
{
    for (long i = from; i < to; i++) {
        owl_span *s = owl_span_start("work", OWL_KIND_INTERNAL, NULL, 0);
        owl_span_set_int(s, "i", i);
        struct rusage u0, u1;
        getrusage(RUSAGE_THREAD, &u0);
        uint64_t c0 = cpu_ns(), t0 = mono_ns();
        owl_span_end(s);
        uint64_t d = mono_ns() - t0, c = cpu_ns() - c0;
        getrusage(RUSAGE_THREAD, &u1);
        ns[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        int vol = u1.ru_nvcsw != u0.ru_nvcsw, invol = u1.ru_nivcsw != u0.ru_nivcsw;
        blocked += vol;
        preempted += invol;
        over_cpu += c >= 1000000;
        max_cpu = c > max_cpu ? c : max_cpu;
        if (!vol && !invol && d > max_unswitched)
            max_unswitched = d;
        if (i == mark)
            touch(dir, "half");
        if (i % 1000 == 999)
            usleep(1000); /* a service's pace: about a span a microsecond, in bursts */
    }
}

int main(int argc, char **argv)
{
    char hex[33];
    if (argc == 4 && !strcmp(argv[1], "send")) {
        if (init(argv[2], argv[3]))
            return 2;
        trace(hex);
        int rc = owl_shutdown(10000);
        printf("%s %d %llu\n", hex, rc, (unsigned long long)owl_dropped_spans());
        return rc != 0;
    }
    if (argc != 6 || strcmp(argv[1], "away"))
        return 2;
    long n = atol(argv[4]);
    const char *dir = argv[5];
    uint32_t *ns = calloc((size_t)n, sizeof *ns);
    if (!ns || init(argv[2], argv[3]))
        return 2;
    memset(ns, 1, (size_t)n * sizeof *ns); /* its pages in RSS before the baseline */
    long before = rss_kb();
    end_spans(ns, 0, n / 2, -1, dir);
    uint64_t dropped_stopped = owl_dropped_spans();
    touch(dir, "stopped-done");
    await_file(dir, "up");
    end_spans(ns, n / 2, n, n / 2 + n / 4, dir);
    long after = rss_kb();
    touch(dir, "killed-done");
    await_file(dir, "back");
    trace(hex);
    int rc = owl_flush(10000);
    qsort(ns, (size_t)n, sizeof *ns, cmp);
    printf("%u %u %ld %ld %llu %llu %s %d %llu %ld %ld %llu %ld\n", ns[n - 1],
           ns[n - 1 - n / 1000], before, after, (unsigned long long)dropped_stopped,
           (unsigned long long)owl_dropped_spans(), hex, rc, (unsigned long long)max_cpu, blocked,
           preempted, (unsigned long long)max_unswitched, over_cpu);
    owl_shutdown(5000);
    free(ns);
    return 0;
}

/* client_spans.c — libowl's side of bench/client.sh: the cost of a span to the program that
 * makes it, and the rate at which its exporter gets spans into owld.
 *   client_spans unsampled N RUNS URL KEY        sampler always_off: N start+end a run
 *   client_spans sampled N CHUNK RUNS URL KEY    always_on, the exporter sending to owld: N
 *       start+end a run in chunks of CHUNK, owl_flush between chunks (untimed), so the queue
 *       never overflows and what is timed is the program's cost while the exporter runs
 *   client_spans export M SERVICE URL KEY        always_on: M spans ended as fast as the loop
 *       goes (the queue holds M: none dropped for room), in traces of 1,000 spans under a
 *       remote parent, then owl_shutdown
 * The timing modes print "run_ns=X" (ns a span, wall clock) and "cpu_ns=X" (ns a span of the
 * calling thread's own CPU time, CLOCK_THREAD_CPUTIME_ID: what the span calls cost the thread
 * that makes them, without the exporter thread's turns on a shared CPU) and "proc_ns=X" (ns a
 * span of the whole process's CPU time, every thread, from the run's first span until its
 * flush returned: what tracing costs in all, the exporter's work included) for each run;
 * export prints "t0_ns=" (the
 * wall clock at the first span), "ended_ns=" (after the last owl_span_end), "done_ns=" (after
 * owl_shutdown returned) and "dropped=". Spans are named "bench", kind internal, no attributes
 * (as the OpenTelemetry SDK peers make theirs), each the thread's current span until it ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "owl/owl.h"

#define TRACE_SPANS 1000 /* export mode: spans under one parent, so owld's search counts them */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* owl_init with the sampler given and owld at url (key: its API key); 0 or an OWL_ERR_*. */
static int init(const char *sampler, const char *url, const char *key, const char *service,
                const char *queue)
{
    owl_config *c = owl_config_new();
    if (!c)
        return OWL_ERR_NOMEM;
    int rc = owl_config_set(c, "sampler", sampler);
    if (!rc)
        rc = owl_config_set(c, "endpoint", url);
    if (!rc)
        rc = owl_config_set(c, "api_key", key);
    if (!rc)
        rc = owl_config_set(c, "service.name", service);
    if (!rc && queue)
        rc = owl_config_set(c, "queue.size", queue);
    if (!rc)
        rc = owl_init(c);
    owl_config_free(c);
    return rc;
}

/* n spans started and ended; the ns they took (and *cpu the thread's CPU ns), flushing
 * (untimed) after each chunk. */
static uint64_t spans(long n, long chunk, uint64_t *cpu)
{
    uint64_t spent = 0;
    *cpu = 0;
    for (long done = 0; done < n;) {
        long k = n - done < chunk ? n - done : chunk;
        uint64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t0 = clock_ns(CLOCK_MONOTONIC);
        for (long i = 0; i < k; i++)
            owl_span_end(owl_span_start("bench", OWL_KIND_INTERNAL, NULL, 0));
        spent += clock_ns(CLOCK_MONOTONIC) - t0;
        *cpu += clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        done += k;
        if (done < n && owl_flush(60000))
            fprintf(stderr, "client_spans: owl_flush timed out\n");
    }
    return spent;
}

static int timed(const char *sampler, long n, long chunk, int runs, const char *url,
                 const char *key)
{
    int rc = init(sampler, url, key, "bench-client-spans", NULL);
    if (rc) {
        fprintf(stderr, "client_spans: owl_init: %s\n", owl_client_strerror(rc));
        return 1;
    }
    uint64_t cpu;
    spans(n / 10 < chunk ? n / 10 : chunk, chunk, &cpu); /* warm-up: pool, caches, connection */
    owl_flush(60000);
    for (int r = 0; r < runs; r++) {
        uint64_t p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        uint64_t ns = spans(n, chunk, &cpu);
        owl_flush(60000);
        uint64_t proc = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - p0;
        printf("run_ns=%.1f\ncpu_ns=%.1f\nproc_ns=%.1f\n", (double)ns / (double)n,
               (double)cpu / (double)n, (double)proc / (double)n);
    }
    rc = owl_shutdown(60000);
    printf("dropped=%llu\n", (unsigned long long)owl_dropped_spans());
    return rc != 0;
}

static int export(long m, const char *service, const char *url, const char *key)
{
    char queue[32];
    snprintf(queue, sizeof queue, "%ld", m);
    int rc = init("always_on", url, key, service, queue);
    if (rc) {
        fprintf(stderr, "client_spans: owl_init: %s\n", owl_client_strerror(rc));
        return 1;
    }
    uint8_t tid[16], sid[8] = {0xb, 0xe, 0xc, 0x4, 0, 0, 0, 1};
    srand((unsigned)clock_ns(CLOCK_REALTIME));
    for (int i = 0; i < 8; i++)
        tid[i] = (uint8_t)(rand() | 1);
    owl_context *parent = NULL;
    uint64_t t0 = clock_ns(CLOCK_REALTIME);
    for (long i = 0; i < m; i++) {
        if (i % TRACE_SPANS == 0) {
            owl_context_free(parent);
            for (int b = 0; b < 8; b++)
                tid[8 + b] = (uint8_t)((i / TRACE_SPANS) >> (8 * (7 - b)));
            parent = owl_context_new(tid, sid, 1);
        }
        owl_span_end(owl_span_start("bench", OWL_KIND_INTERNAL, parent, 0));
    }
    uint64_t ended = clock_ns(CLOCK_REALTIME);
    owl_context_free(parent);
    rc = owl_shutdown(300000);
    uint64_t done = clock_ns(CLOCK_REALTIME);
    printf("t0_ns=%llu\nended_ns=%llu\ndone_ns=%llu\ndropped=%llu\n", (unsigned long long)t0,
           (unsigned long long)ended, (unsigned long long)done,
           (unsigned long long)owl_dropped_spans());
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "unsampled"))
        return timed("always_off", atol(argv[2]), atol(argv[2]), atoi(argv[3]), argv[4], argv[5]);
    if (argc == 7 && !strcmp(argv[1], "sampled"))
        return timed("always_on", atol(argv[2]), atol(argv[3]), atoi(argv[4]), argv[5], argv[6]);
    if (argc == 6 && !strcmp(argv[1], "export"))
        return export(atol(argv[2]), argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: client_spans unsampled N RUNS URL KEY\n"
                    "       client_spans sampled N CHUNK RUNS URL KEY\n"
                    "       client_spans export M SERVICE URL KEY\n");
    return 2;
}

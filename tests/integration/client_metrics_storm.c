/* client_metrics_storm.c — libowl's metrics from many threads at once, for
 * t_client_metrics_storm.sh (built from client/ alone, with ThreadSanitizer and plain): 4
 * threads make the same and their own series concurrently and record into every kind, while
 * a fifth collects in both encodings without pause. Prints the counter's total and exits 0
 * when the last collection holds it exactly (its as_double field, tag 0x21, with the bits of
 * threads x iterations), 1 otherwise. Usage: client_metrics_storm ITERATIONS */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define THREADS 4

static owl_metric *counter, *updown, *gauge, *hist;
static long iterations;
static atomic_int finished;
static pthread_barrier_t go;

static void *recorder(void *arg)
{
    char mine[16];
    snprintf(mine, sizeof mine, "t%ld", (long)(intptr_t)arg);
    pthread_barrier_wait(&go);
    owl_metric *shared = owl_metric_series(counter, "a", "1", "b", "2", NULL);
    owl_metric *level = owl_metric_series(updown, "thread", mine, NULL);
    for (long i = 0; i < iterations; i++) {
        /* series asked for again while others record: the mutex's path, both orders */
        if (i % 64 == 0 && (owl_metric_series(counter, "b", "2", "a", "1", NULL) != shared ||
                            !owl_metric_series(hist, "thread", mine, "i", i % 128 ? "x" : "y",
                                               NULL)))
            return (void *)1;
        owl_metric_add(shared, 1);
        owl_metric_add(level, i % 2 ? -1 : 1);
        owl_metric_set(gauge, (double)i);
        owl_metric_record(owl_metric_series(hist, "thread", mine, NULL), (double)(i % 300));
    }
    atomic_fetch_add(&finished, 1);
    return NULL;
}

static void *collector(void *arg)
{
    owl__cbuf b = {0};
    (void)arg;
    for (int json = 0; atomic_load(&finished) < THREADS; json ^= 1) {
        b.len = 0;
        if (owl__metrics_collect(NULL, "storm", "", json, &b) != 0)
            return (void *)1;
    }
    owl__cbuf_free(&b);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[THREADS], c;
    void *bad = NULL;
    owl__cbuf b = {0};

    iterations = argc > 1 ? atol(argv[1]) : 100000;
    counter = owl_counter("storm.adds", "1", NULL);
    updown = owl_updown_counter("storm.level", NULL, NULL);
    gauge = owl_gauge("storm.last", NULL, NULL);
    hist = owl_histogram("storm.values", "ms", NULL, NULL, 0);
    if (!counter || !updown || !gauge || !hist)
        return 1;
    pthread_barrier_init(&go, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, recorder, (void *)(intptr_t)i);
    pthread_create(&c, NULL, collector, NULL);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad = bad ? bad : r;
    }
    void *r;
    pthread_join(c, &r);
    bad = bad ? bad : r;
    pthread_barrier_destroy(&go);

    double want = (double)THREADS * (double)iterations;
    uint8_t field[9] = {0x21};
    memcpy(field + 1, &want, 8); /* little-endian hosts: the wire's byte order */
    if (owl__metrics_collect(NULL, "storm", "", 0, &b) != 0)
        return 1;
    int found = memmem(b.p, b.len, field, sizeof field) != NULL;
    printf("counter total %.0f %s\n", want, found ? "collected exactly" : "NOT collected");
    owl__cbuf_free(&b);
    return bad || !found;
}

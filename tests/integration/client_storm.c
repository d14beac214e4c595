/* client_storm.c — the multi-threaded span storm t_client_storm.sh builds with ThreadSanitizer
 * and runs under valgrind (Criterion's runner does not start under TSan): 4 threads, twice (the
 * second round's threads reuse the pooled handles of the first), each starting and ending
 * nested spans, attributes, events, links, and spans handed to another thread to end. Prints
 * the sampled spans the sink got and owl_dropped_spans; exits 1 when they do not add up.
 * With `export`, no sink: the spans go through the exporter's queue (1,024 slots) and thread
 * to an endpoint where nothing listens, so every sampled span is dropped and counted once.
 *   usage: client_storm [ITERATIONS a thread a round, default 100000] [export] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static _Atomic unsigned long sunk, sampled;
static owl_span *_Atomic handoff[4];
static long iterations = 100000;

static void sink(void *ud, const owl__span_record *r)
{
    (void)ud, (void)r;
    atomic_fetch_add(&sunk, 1);
}

static void *storm(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < iterations; i++) {
        owl_span *a = owl_span_start("a", OWL_KIND_SERVER, NULL, 0);
        owl_span *b = owl_span_start("b", OWL_KIND_CLIENT, NULL, 0);
        atomic_fetch_add(&sampled, (unsigned long)(owl_span_sampled(a) + owl_span_sampled(b)));
        if (i % 16 == 0) {
            owl_span_set_int(b, "i", i);
            owl_span_add_event(b, "e");
            owl_context *c = owl_span_context(b);
            owl_span_add_link(a, c);
            owl_span *x = owl_span_start("x", OWL_KIND_INTERNAL, c, OWL_SPAN_DETACHED);
            atomic_fetch_add(&sampled, (unsigned long)owl_span_sampled(x));
            owl_context_free(c);
            x = atomic_exchange(&handoff[(id + 1) % 4], x); /* ended by another thread */
            owl_span_end(x);
        }
        owl_span_end(b);
        owl_span_end(a);
        if (owl_current_span())
            abort(); /* both ended: the thread has no current span */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iterations = atol(argv[1]);
    int export = argc > 2 && !strcmp(argv[2], "export");
    owl_config *c = owl_config_new();
    if (!c || owl_config_set(c, "sampler", "traceidratio") ||
        owl_config_set(c, "sampler.arg", "0.5"))
        return 1;
    if (export && (owl_config_set(c, "endpoint", "http://127.0.0.1:9") ||
                   owl_config_set(c, "queue.size", "1024") ||
                   owl_config_set(c, "batch.size", "256") ||
                   owl_config_set(c, "export.interval", "10") ||
                   owl_config_set(c, "timeout", "200")))
        return 1;
    if (!export)
        owl__set_span_sink(sink, NULL);
    if (owl_init(c))
        return 1;
    owl_config_free(c);
    for (int round = 0; round < 2; round++) {
        pthread_t th[4];
        for (long i = 0; i < 4; i++)
            if (pthread_create(&th[i], NULL, storm, (void *)i))
                return 1;
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    for (int i = 0; i < 4; i++)
        owl_span_end(atomic_exchange(&handoff[i], NULL));
    unsigned long n = atomic_load(&sunk);
    unsigned long dropped = (unsigned long)owl_dropped_spans();
    owl_shutdown(0);
    if (export) {
        n = atomic_load(&sampled);
        dropped = (unsigned long)owl_dropped_spans();
        printf("sampled %lu dropped %lu\n", n, dropped);
        return n == dropped ? 0 : 1;
    }
    printf("sunk %lu dropped %lu\n", n, dropped);
    /* about half of the 2 x 4 x iterations x (2 + 1/16) spans are sampled */
    double all = 8.0 * (double)iterations * (2 + 1.0 / 16);
    return n > all * 0.4 && n < all * 0.6 && dropped == 0 ? 0 : 1;
}

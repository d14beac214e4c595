/* logs_trace.c — the CPU cost of finding a trace's log lines, for instruction counts under
 * callgrind. It stores N events in G log groups over two days, each of a random trace but K
 * of them (K / G a group, every 7th event from the middle of the group's range: a trace's
 * lines come within a minute or two), seals them into parts, then reads that trace's events
 * one way:
 *   trace   owl_logs_trace_events over every group (GET /api/v1/traces/{id}/logs)
 *   filter  owl_logs_filter_events with trace_id, group by group (GET /api/v1/logs/events)
 *   client  owl_logs_filter_events without it, every page of every group, the events of the
 *           trace kept by the caller (what a client had to do before trace_id)
 * and prints how many it found. Count only the read with callgrind's --toggle-collect.
 *
 * Build (from the repository top, against a build directory B, e.g. build):
 *   B=build; gcc -std=gnu11 -O2 -g -D_GNU_SOURCE -I. -I$B -o /tmp/logs_trace bench/logs_trace.c \
 *     -Wl,--start-group $B/ingest/libowlingest.a $B/tracer/libowltracer.a \
 *     $B/ingest/libowlotlppb.a $B/analytics/libowlanalytics.a $B/index/libowlindex.a \
 *     $B/common/libowlcommon.a -Wl,--end-group $(pkg-config --cflags --libs libbson-1.0) \
 *     -lprotobuf-c -lzstd -lpcre2-8 -lcbor -lz -lm -lpthread
 * Run (a fresh DIR each time):
 *   valgrind --tool=callgrind --toggle-collect=read_trace /tmp/logs_trace trace DIR 200000 4 20
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "index/index.h"
#include "ingest/ingest.h"

#define TENANT "000000000001"
#define BATCH 10000

static void die(const char *what, const owl_error *err)
{
    fprintf(stderr, "logs_trace: %s: %s\n", what, err->msg);
    exit(1);
}

/* Every page of group g without a trace id; counts the events of trace id. */
static size_t client_side(owl_logs *lg, const char *g, const uint8_t id[16])
{
    owl_logs_filter q = {.group = g, .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                         .limit = OWL_LOGS_MAX_PAGE};
    char tok[OWL_SCAN_CURSOR_TEXT + 4];
    size_t found = 0;
    owl_error err = {0};
    for (;;) {
        owl_logs_page pg;
        if (owl_logs_filter_events(lg, TENANT, &q, &pg, &err) != OWL_OK)
            die("filter", &err);
        for (size_t i = 0; i < pg.n; i++)
            found += memcmp(pg.ev[i].trace_id, id, 16) == 0;
        snprintf(tok, sizeof tok, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!tok[0])
            return found;
        q.token = tok;
    }
}

/* The read measured: the events of trace id, found the way `mode` says. */
__attribute__((noinline)) static size_t read_trace(owl_logs *lg, const char *mode, size_t ngroups,
                                                   const uint8_t id[16])
{
    owl_error err = {0};
    owl_logs_page pg;
    size_t found = 0;
    if (!strcmp(mode, "trace")) {
        owl_logs_trace_q q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 1000};
        memcpy(q.trace_id, id, 16);
        if (owl_logs_trace_events(lg, TENANT, &q, &pg, &err) != OWL_OK)
            die("trace", &err);
        found = pg.n;
        owl_logs_page_free(&pg);
        return found;
    }
    for (size_t g = 0; g < ngroups; g++) {
        char name[32];
        snprintf(name, sizeof name, "/svc/%zu", g);
        if (!strcmp(mode, "client")) {
            found += client_side(lg, name, id);
            continue;
        }
        owl_logs_filter q = {.group = name, .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                             .limit = 1000, .trace_id = id};
        if (owl_logs_filter_events(lg, TENANT, &q, &pg, &err) != OWL_OK)
            die("filter", &err);
        found += pg.n;
        owl_logs_page_free(&pg);
    }
    return found;
}

/* n events of group g from t0 over two days; k of them, every 7th from the middle on, of
 * trace id, the others of random traces. */
static void fill(owl_logs *lg, const char *g, size_t n, int64_t t0, size_t k,
                 const uint8_t id[16], uint64_t *seq, uint64_t *rng)
{
    owl_log_event *ev = calloc(BATCH, sizeof *ev);
    char(*msg)[80] = calloc(BATCH, sizeof *msg);
    owl_error err = {0};
    if (!ev || !msg)
        exit(1);
    for (size_t done = 0; done < n;) {
        size_t m = n - done < BATCH ? n - done : BATCH;
        for (size_t i = 0; i < m; i++, (*seq)++) {
            ev[i] = (owl_log_event){0};
            ev[i].time_ms = t0 + (int64_t)((done + i) * (2 * 86400000ULL) / n);
            int len = snprintf(msg[i], sizeof msg[i], "GET /api/orders/%" PRIu64
                               " 200 took %" PRIu64 " ms user=u%" PRIu64, *seq,
                               *rng % 900, *rng % 97);
            ev[i].message = (owl_bytes){msg[i], (size_t)len};
            size_t at = done + i;
            if (at >= n / 2 && at < n / 2 + 7 * k && (at - n / 2) % 7 == 0) {
                memcpy(ev[i].trace_id, id, 16);
            } else {
                for (int b = 0; b < 16; b++) {
                    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
                    ev[i].trace_id[b] = (uint8_t)(*rng >> 56);
                }
            }
        }
        if (owl_logs_put(lg, TENANT, g, "s", ev, m, OWL_LOGS_CREATE | OWL_LOGS_ANY_BATCH, NULL,
                         &err) != OWL_OK)
            die("put", &err);
        done += m;
    }
    free(ev);
    free(msg);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: logs_trace trace|filter|client DIR N GROUPS K\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    size_t n = strtoull(argv[3], NULL, 10), ng = strtoull(argv[4], NULL, 10),
           k = strtoull(argv[5], NULL, 10);
    if (!n || !ng || k < ng || 7 * k > n)
        return 2;
    char p[4096];
    owl_error err = {0};
    owl_meta *meta;
    owl_store *store;
    owl_logs *lg;
    owl_store_options so;
    owl_store_options_default(&so);
    so.background = 0;
    snprintf(p, sizeof p, "%s/meta", dir);
    if (owl_meta_open(p, NULL, &meta, &err) != OWL_OK)
        die("meta", &err);
    snprintf(p, sizeof p, "%s/store", dir);
    if (owl_store_open(p, NULL, 0, &so, &store, &err) != OWL_OK)
        die("store", &err);
    if (owl_logs_open(meta, store, NULL, &lg, &err) != OWL_OK)
        die("logs", &err);
    uint8_t id[16];
    memset(id, 0x5b, sizeof id);
    uint64_t seq = 1, rng = 42;
    int64_t t0 = owl_now_ms() - 3 * 86400000LL;
    for (size_t g = 0; g < ng; g++) {
        char name[32];
        snprintf(name, sizeof name, "/svc/%zu", g);
        fill(lg, name, n / ng, t0, k / ng, id, &seq, &rng);
    }
    if (owl_store_flush(store, &err) != OWL_OK)
        die("flush", &err);
    size_t found = read_trace(lg, mode, ng, id);
    printf("%s: %zu events of the trace among %zu in %zu groups\n", mode, found, n, ng);
    owl_logs_close(lg);
    owl_store_close(store);
    owl_meta_close(meta);
    return 0;
}

/* ingest_cost.c — the CPU cost of span ingest without HTTP, for instruction counts under
 * callgrind (this shared VM's wall times swing by a third; instruction counts do not). It
 * decodes OTLP/HTTP trace bodies, protobuf or JSON, as owld's POST /v1/traces does, puts
 * their spans (owl_traces_put: the WAL record, the memtable, the RED statistics), then
 * closes the traces module (writing the RED statistics) and seals every memtable into parts.
 * The live service graph (owl/ServiceGraph) is fed as owld feeds it; --no-graph turns it off
 * (owl_traces_options.graph = 0), so the two counts give the graph's cost at ingest.
 * Compaction is kept off, so that the janitor's first merge does not land inside the run.
 * The bodies are bench/traces_bodies.py's records files ("LEN [ITEMS]\n" + LEN bytes, an
 * optional "\n"), as bench/loadgen sends them.
 *
 * Build (from the repository top, against a build directory B, e.g. build):
 *   B=build; gcc -std=gnu11 -O2 -g -D_GNU_SOURCE -I. -I$B -Iingest/otlp -I$B/ingest/otlp \
 *     -o /tmp/ingest_cost bench/ingest_cost.c -Wl,--start-group $B/ingest/libowlingest.a \
 *     $B/tracer/libowltracer.a $B/ingest/libowlotlppb.a $B/analytics/libowlanalytics.a \
 *     $B/index/libowlindex.a $B/common/libowlcommon.a -Wl,--end-group \
 *     $(pkg-config --cflags --libs libbson-1.0) -lprotobuf-c -lzstd -lpcre2-8 -lcbor -lz -lm -lpthread
 * Run:
 *   python3 bench/traces_bodies.py --data ../shared/data --out /tmp/tr --spans 2000000 --extra 0
 *   valgrind --tool=callgrind /tmp/ingest_cost /tmp/tr/pb.rec pb 60 /tmp/ic.d
 *   (a fresh DIR each run; add --decode-only for the decoder alone, --rollup to also roll the
 *   RED statistics up as the metrics roller would, --no-graph to leave the service graph out.)
 * bench/servicemap.sh builds and runs it this way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "index/index.h"
#include "ingest/ingest.h"

static int fail(const char *what, const owl_error *err)
{
    fprintf(stderr, "ingest_cost: %s: %s\n", what, err->msg[0] ? err->msg : "failed");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: ingest_cost RECORDS pb|json REQUESTS DIR [--decode-only] "
                        "[--rollup] [--no-graph]\n");
        return 2;
    }
    int json = strcmp(argv[2], "json") == 0, decode_only = 0, rollup = 0, graph = 1;
    size_t want = strtoul(argv[3], NULL, 10), n = 0;
    for (int i = 5; i < argc; i++) {
        decode_only |= strcmp(argv[i], "--decode-only") == 0;
        rollup |= strcmp(argv[i], "--rollup") == 0;
        graph &= strcmp(argv[i], "--no-graph") != 0;
    }
    FILE *f = fopen(argv[1], "rb");
    char **body = calloc(want ? want : 1, sizeof *body);
    size_t *len = calloc(want ? want : 1, sizeof *len);
    if (!f || !body || !len) {
        perror(argv[1]);
        return 1;
    }
    /* every body read before any work, so the file's reading is not counted */
    for (char line[64]; n < want && fgets(line, sizeof line, f); n++) {
        len[n] = strtoul(line, NULL, 10);
        if (!(body[n] = malloc(len[n] ? len[n] : 1)) || fread(body[n], 1, len[n], f) != len[n]) {
            fprintf(stderr, "ingest_cost: %s: record %zu is cut short\n", argv[1], n);
            return 1;
        }
        int c = fgetc(f);
        if (c != '\n' && c != EOF)
            ungetc(c, f);
    }
    fclose(f);

    owl_error err = {0};
    char dir[4200];
    owl_meta *meta;
    owl_store *store;
    owl_metrics *metrics;
    owl_traces *traces;
    snprintf(dir, sizeof dir, "%s/meta", argv[4]);
    if (owl_meta_open(dir, NULL, &meta, &err) != OWL_OK)
        return fail("opening the metadata store", &err);
    owl_store_options so;
    owl_store_options_default(&so);
    so.compact_min_parts = (size_t)1 << 30;
    snprintf(dir, sizeof dir, "%s/store", argv[4]);
    if (owl_store_open(dir, NULL, 0, &so, &store, &err) != OWL_OK)
        return fail("opening the store", &err);
    owl_metrics_options mo = {.background = 0};
    if (owl_metrics_open(store, meta, &mo, &metrics, &err) != OWL_OK)
        return fail("opening the metrics module", &err);
    owl_traces_options to;
    owl_traces_options_default(&to);
    to.background = 0;
    to.graph = graph;
    if (owl_traces_open(store, metrics, NULL, &to, &traces, &err) != OWL_OK)
        return fail("opening the traces module", &err);

    size_t spans = 0;
    for (size_t i = 0; i < n; i++) {
        owl_span_decoded d = {0};
        int rc = owl_otlp_traces_decode(json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, body[i], len[i],
                                        OWL_TRACE_MAX_SPANS, &d, &err);
        if (rc == OWL_OK && !decode_only)
            rc = owl_traces_put(traces, "default", d.spans, d.n, NULL, &err);
        spans += d.n;
        owl_span_decoded_free(&d);
        if (rc != OWL_OK)
            return fail("a request", &err);
    }
    owl_traces_close(traces);
    if (rollup) {
        int64_t now = owl_now_ms();
        if (owl_metrics_rollup(metrics, now, &err) != OWL_OK ||
            owl_metrics_rollup(metrics, now + 61000, &err) != OWL_OK)
            return fail("rolling up", &err);
    }
    if (owl_store_flush(store, &err) != OWL_OK)
        return fail("sealing", &err);
    owl_metrics_close(metrics);
    owl_store_close(store);
    owl_meta_close(meta);
    printf("requests=%zu spans=%zu\n", n, spans);
    for (size_t i = 0; i < n; i++)
        free(body[i]);
    free(body);
    free(len);
    return 0;
}

/* filterpat.c — how fast owl_fpat_match runs on the ingest path, and that it allocates nothing
 * in the common cases. For each pattern: ns per event and MB/s over the lines of a file
 * (repeated to about 50 MB of messages), beside the floor of the same work done by hand
 * (one memmem per event for a term; nothing cheaper exists for a substring search), and the
 * number of malloc calls made by owl's code per event (counted with ld's --wrap; PCRE2's
 * own allocations, one match block per regex search, are outside that count and said so).
 *
 * Build (from the repository top):
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -I. $(pkg-config --cflags libbson-1.0) \
 *       -Wl,--wrap=malloc -o /tmp/fpat_bench bench/filterpat.c index/filterpat.c \
 *       common/[a-z]*.c $(pkg-config --libs libpcre2-8) -lpthread -lm
 * Run: /tmp/fpat_bench [DATA_DIR]   (default $OWL_TEST_DATA, else ../shared/data) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "index/index.h"

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static unsigned long mallocs;

void *__wrap_malloc(size_t n)
{
    mallocs++;
    return __real_malloc(n);
}

typedef struct lines {
    char *buf;
    size_t *off, *len, n, bytes;
} lines;

static int load(const char *path, lines *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t cap = 0, used = 0, lcap = 0;
    char *line = NULL;
    size_t lc = 0;
    ssize_t len;
    memset(l, 0, sizeof *l);
    while ((len = getline(&line, &lc, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (used + (size_t)len > cap) {
            cap = (used + (size_t)len) * 2 + 4096;
            l->buf = realloc(l->buf, cap);
        }
        if (l->n == lcap) {
            lcap = lcap ? lcap * 2 : 1024;
            l->off = realloc(l->off, lcap * sizeof *l->off);
            l->len = realloc(l->len, lcap * sizeof *l->len);
        }
        memcpy(l->buf + used, line, (size_t)len);
        l->off[l->n] = used;
        l->len[l->n++] = (size_t)len;
        used += (size_t)len;
    }
    l->bytes = used;
    free(line);
    fclose(f);
    return l->n ? 0 : -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void row(const char *what, const lines *l, const char *pat, const char *floor_term)
{
    owl_fpat *p = NULL;
    owl_error err = {0};
    if (owl_fpat_compile(pat, strlen(pat), &p, &err) != OWL_OK) {
        printf("%-44s compile failed: %s\n", pat, err.msg);
        return;
    }
    size_t reps = 50000000 / (l->bytes + 1) + 1, hits = 0, events = reps * l->n;
    unsigned long m0 = mallocs;
    double t0 = now();
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < l->n; i++)
            hits += (size_t)owl_fpat_match(p, l->buf + l->off[i], l->len[i]);
    double dt = now() - t0;
    unsigned long am = mallocs - m0;
    double floor_ns = 0;
    if (floor_term) {
        size_t fh = 0, tn = strlen(floor_term);
        double f0 = now();
        for (size_t r = 0; r < reps; r++)
            for (size_t i = 0; i < l->n; i++)
                fh += memmem(l->buf + l->off[i], l->len[i], floor_term, tn) != NULL;
        floor_ns = (now() - f0) * 1e9 / (double)events;
        if (fh != hits)
            printf("  (floor found %zu, the pattern %zu)\n", fh, hits);
    }
    printf("%-8s %-52s %8.1f ns/event %8.0f MB/s  %6zu hits/pass  %.3f mallocs/event",
           what, pat, dt * 1e9 / (double)events, (double)l->bytes * (double)reps / dt / 1e6,
           hits / reps, (double)am / (double)events);
    if (floor_term)
        printf("  | memmem floor %.1f ns/event", floor_ns);
    printf("\n");
    owl_fpat_free(p);
}

/* 2000 one-line CloudTrail-like events (the shared samples are pretty-printed arrays). */
static void synth_json(lines *l)
{
    static const char *names[] = {"GetBucketAcl", "PutObject", "ConsoleLogin", "DescribeInstances"};
    static const char *types[] = {"AWSService", "IAMUser", "Root", "AssumedRole"};
    char ev[512];
    memset(l, 0, sizeof *l);
    l->buf = malloc(2000 * sizeof ev);
    l->off = malloc(2000 * sizeof *l->off);
    l->len = malloc(2000 * sizeof *l->len);
    for (int k = 0; k < 2000; k++) {
        int n = snprintf(ev, sizeof ev,
                         "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"%s\","
                         "\"accountId\":\"7000%05d\"},\"eventTime\":\"2021-12-02T22:%02d:%02dZ\","
                         "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"%s\","
                         "\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.0.%d.%d\","
                         "\"latency\":%d,\"readOnly\":%s%s}",
                         types[k % 4], k, k / 60 % 60, k % 60, names[k % 4], k / 256, k % 256,
                         k * 37 % 1000, k % 3 ? "true" : "false",
                         k % 17 == 0 ? ",\"errorCode\":\"AccessDenied\"" : "");
        memcpy(l->buf + l->bytes, ev, (size_t)n);
        l->off[l->n] = l->bytes;
        l->len[l->n++] = (size_t)n;
        l->bytes += (size_t)n;
    }
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : getenv("OWL_TEST_DATA");
    char path[4096];
    lines hdfs, apache, json;
    if (!data || !*data)
        data = "../shared/data";
    snprintf(path, sizeof path, "%s/loghub/HDFS/HDFS_2k.log", data);
    if (load(path, &hdfs) != 0) {
        fprintf(stderr, "%s not found\n", path);
        return 77;
    }
    snprintf(path, sizeof path, "%s/other/opensearch-catalog/apache_access.log", data);
    if (load(path, &apache) != 0) {
        fprintf(stderr, "%s not found\n", path);
        return 77;
    }
    synth_json(&json);
    printf("HDFS_2k: %zu lines, %zu bytes; apache_access: %zu lines, %zu bytes; "
           "CloudTrail-like JSON: %zu lines, %zu bytes\n", hdfs.n, hdfs.bytes, apache.n,
           apache.bytes, json.n, json.bytes);
    row("terms", &hdfs, "PacketResponder", "PacketResponder");
    row("terms", &hdfs, "?WARN ?ERROR", NULL);
    row("terms", &hdfs, "\"Received block\" -\"size 67108864\"", NULL);
    row("regex", &hdfs, "%blk_-[0-9]+%", NULL);
    row("spaced", &hdfs, "[date, time, pid, level = INFO, component = dfs.DataNode*, ...]",
        NULL);
    row("spaced", &apache, "[ip, identity, user, timestamp, request, status = 404, bytes, ...]",
        NULL);
    row("terms", &apache, "\"GET /favicon.ico\"", "GET /favicon.ico");
    row("json", &json, "{ $.eventName = \"*Acl\" }", NULL);
    row("json", &json, "{ $.userIdentity.type = Root || $.errorCode = \"AccessDenied\" }", NULL);
    row("json", &json, "{ $.latency >= 500 && $.readOnly IS TRUE }", NULL);
    return 0;
}

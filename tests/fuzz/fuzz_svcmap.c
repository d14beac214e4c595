/* fuzz_svcmap.c — libFuzzer target for the service map's writers (tracer/svcmap.c), whose
 * names come from the network (span service names, peer names, X-Ray segment names). The
 * input is a program: 16 bytes of window, then operations, each a byte and its operands —
 * add a node (name bytes as given, a type from a table or from the input), add an edge,
 * count a request (raw double bits: NaN, infinities, negatives) into a node or edge, or
 * overwrite a node's or edge's figures with raw bytes (a caller's own figures). Checked:
 * owl's JSON and the X-Ray JSON parse (libbson) and list every node and edge; the DOT is
 * valid UTF-8 without control bytes, its quoted strings close on their line with only known
 * escapes, '&' only as "&amp;", outside strings only DOT's own punctuation, one statement
 * per node and edge; counted figures keep ok + errors + faults = requests and ordered
 * percentiles within [min, max]; the same map gives the same bytes twice. */
#include <bson/bson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "tracer/tracer.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const char *types[] = {"service", "database", "queue", "external", "remote", "client",
                              "AWS::DynamoDB::Table", "AWS::Lambda::Function",
                              "Database::SQL", NULL};

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static int take(reader *r, void *out, size_t k)
{
    if (r->n < k)
        return 0;
    memcpy(out, r->p, k);
    r->p += k;
    r->n -= k;
    return 1;
}

/* A NUL-terminated copy of the next len bytes (NUL bytes inside become 'x'). */
static char *take_str(reader *r)
{
    uint8_t len = 0;
    if (!take(r, &len, 1) || r->n < len)
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < len; i++)
        s[i] = r->p[i] ? (char)r->p[i] : 'x';
    s[len] = '\0';
    r->p += len;
    r->n -= len;
    return s;
}

/* The DOT rules of docs/api/service-map.md, checked on the bytes. */
static void check_dot(const owl_buf *b, size_t statements)
{
    if (!owl_utf8_valid(b->data, b->len))
        abort();
    size_t opened = 0, closed = 0, stmts = 0;
    const char *s = b->data, *end = b->data + b->len;
    while (s < end) {
        if (s[0] == '/' && s + 1 < end && s[1] == '/') { /* a comment line */
            while (s < end && *s != '\n')
                s++;
            continue;
        }
        unsigned char c = (unsigned char)*s;
        if (c == '"') {
            for (s++;; s++) {
                if (s >= end || *s == '\n' || (unsigned char)*s < 0x20 || *s == 0x7f)
                    abort(); /* a string must close on its line, with no control byte */
                if (*s == '\\') {
                    s++;
                    if (s >= end || (*s != '"' && *s != '\\' && *s != 'n'))
                        abort();
                } else if (*s == '&') {
                    if (end - s < 5 || memcmp(s, "&amp;", 5) != 0)
                        abort();
                } else if (*s == '"') {
                    break;
                }
            }
            s++;
            continue;
        }
        if (c == '{')
            opened++;
        else if (c == '}')
            closed++;
        else if (c == '[' && s > b->data && s[-1] == ' ' && end - s > 7 &&
                 memcmp(s, "[label=", 7) == 0)
            stmts++;
        else if (!(c == '\n' || c == ' ' || c == '[' || c == ']' || c == '=' || c == ';' ||
                   c == ',' || c == '-' || c == '>' || c == '.' || c == '_' || c == '#' ||
                   (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            abort(); /* outside strings only DOT's own words and punctuation */
        s++;
    }
    if (opened != 1 || closed != 1 || stmts != statements)
        abort();
}

/* JSON text that must parse and hold an array `key` of `want` entries at `path`. */
static void check_json(const owl_buf *b, const char *path, uint32_t want)
{
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)b->data, (ssize_t)b->len, &be);
    if (!doc)
        abort();
    bson_iter_t it, f, a;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_ARRAY(&f) || !bson_iter_recurse(&f, &a))
        abort();
    uint32_t k = 0;
    while (bson_iter_next(&a))
        k++;
    if (k != want)
        abort();
    bson_destroy(doc);
}

static void check_counted(const owl_svcmap_stats *st)
{
    if (st->errors + st->faults > st->requests || st->throttles > st->errors)
        abort();
    if (st->requests == 0)
        return;
    double p50 = owl_svcmap_percentile(st, 50), p90 = owl_svcmap_percentile(st, 90),
           p99 = owl_svcmap_percentile(st, 99);
    if (!(st->min_ms <= p50 && p50 <= p90 && p90 <= p99 && p99 <= st->max_ms))
        abort();
    if (!isfinite(st->sum_ms) || st->min_ms < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    reader r = {d, n};
    int64_t win[2] = {0, 60000};
    take(&r, win, sizeof win);
    owl_svcmap *m = NULL;
    if (owl_svcmap_new(win[0], win[1], &m) != OWL_OK)
        abort();
    int raw = 0; /* some figures were written by hand: the counting invariants do not hold */
    uint8_t op;
    while (take(&r, &op, 1)) {
        size_t nn, ne, idx;
        owl_svcmap_node *nodes = owl_svcmap_nodes(m, &nn);
        owl_svcmap_edge *edges = owl_svcmap_edges(m, &ne);
        switch (op % 4) {
        case 0: {
            char *name = take_str(&r);
            if (!name)
                goto done;
            const char *t = types[(op >> 2) % (sizeof types / sizeof types[0])];
            char *own = t ? NULL : take_str(&r);
            if (owl_svcmap_node_at(m, name, t ? t : own, &idx) != OWL_OK || idx > nn)
                abort();
            free(name);
            free(own);
            break;
        }
        case 1: {
            uint8_t ab[2];
            if (!take(&r, ab, 2) || nn == 0)
                goto done;
            if (owl_svcmap_edge_at(m, ab[0] % nn, ab[1] % nn, &idx) != OWL_OK || idx > ne)
                abort();
            break;
        }
        case 2: {
            uint8_t pick;
            double ms;
            if (!take(&r, &pick, 1) || !take(&r, &ms, sizeof ms))
                goto done;
            owl_svcmap_stats *st = (op & 4) ? (ne ? &edges[pick % ne].st : NULL)
                                            : (nn ? &nodes[pick % nn].st : NULL);
            if (st)
                owl_svcmap_count(st, ms, op >> 3);
            break;
        }
        default: {
            uint8_t pick;
            struct {
                uint64_t c[4];
                double t[3];
                uint16_t b;
                uint64_t h;
            } f;
            if (!take(&r, &pick, 1) || !take(&r, &f, sizeof f))
                goto done;
            owl_svcmap_stats *st = (op & 4) ? (ne ? &edges[pick % ne].st : NULL)
                                            : (nn ? &nodes[pick % nn].st : NULL);
            if (st) {
                st->requests = f.c[0], st->errors = f.c[1], st->faults = f.c[2];
                st->throttles = f.c[3], st->sum_ms = f.t[0], st->min_ms = f.t[1];
                st->max_ms = f.t[2], st->hist[f.b % OWL_SVCMAP_NBUCKETS] = f.h;
                raw = 1;
            }
            break;
        }
        }
    }
done:;
    size_t nn, ne;
    owl_svcmap_nodes(m, &nn);
    owl_svcmap_edges(m, &ne);
    owl_buf j = OWL_BUF_INIT, x = OWL_BUF_INIT, dot = OWL_BUF_INIT, again = OWL_BUF_INIT;
    if (owl_svcmap_json(m, &j, NULL) != OWL_OK || owl_svcmap_xray_json(m, &x, NULL) != OWL_OK ||
        owl_svcmap_dot(m, &dot, NULL) != OWL_OK || owl_svcmap_dot(m, &again, NULL) != OWL_OK)
        abort();
    if (again.len != dot.len || memcmp(again.data, dot.data, dot.len) != 0)
        abort();
    check_json(&j, "services", (uint32_t)nn);
    check_json(&j, "edges", (uint32_t)ne);
    check_json(&x, "Services", (uint32_t)nn);
    check_dot(&dot, nn + ne);
    if (!raw) {
        owl_svcmap_node *nodes = owl_svcmap_nodes(m, &nn);
        owl_svcmap_edge *edges = owl_svcmap_edges(m, &ne);
        for (size_t i = 0; i < nn; i++)
            check_counted(&nodes[i].st);
        for (size_t i = 0; i < ne; i++)
            check_counted(&edges[i].st);
    }
    owl_buf_free(&j);
    owl_buf_free(&x);
    owl_buf_free(&dot);
    owl_buf_free(&again);
    owl_svcmap_free(m);
    return 0;
}

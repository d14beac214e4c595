/* svcmap.c — a service map as data: nodes and edges with request, error, fault and throttle
 * counts and a latency histogram, written as owl's JSON, a Graphviz digraph, its SVG (libgvc,
 * in-process) or X-Ray's GetServiceGraph answer. Conventions (labels, colours, shapes,
 * escaping, the X-Ray type mapping): docs/api/service-map.md.
 *
 * Invariants: a node's name is unique and an edge's (source, target) is unique, each found
 * through an open-addressing table keyed by SipHash under a per-map random key (names come
 * from the network); every writer lists nodes by name and edges by (source name, target
 * name), so the same map always gives the same bytes; a writer that fails leaves out as it
 * found it. Graphviz keeps global state and is not thread-safe: every call into it holds
 * gv_lock. */
#include "tracer/tracer.h"

#include <gvc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

/* ---- the map ---- */

#define MS_MAX 1e12            /* a response time above (31 years) is read as this */
#define BUCKET_LO_LOG2 (-10.0) /* bucket 0 starts at 2^-10 ms */
#define NO_SLOT UINT32_MAX     /* an empty slot of a lookup table */

struct owl_svcmap {
    int64_t start_ms, end_ms;
    owl_svcmap_node *nodes;
    size_t n_nodes, cap_nodes;
    const char **names, **types; /* the map's own copies: callers may write nodes[] */
    owl_svcmap_edge *edges;
    size_t n_edges, cap_edges;
    size_t *esrc, *etgt;         /* likewise for edges' ends */
    uint32_t *ntab, *etab;       /* node / edge index per slot, NO_SLOT when empty */
    size_t ntab_cap, etab_cap;   /* powers of two, at least twice the entries */
    uint64_t key[2];             /* SipHash key */
    owl_arena strings;
};

int owl_svcmap_new(int64_t start_ms, int64_t end_ms, owl_svcmap **out)
{
    *out = NULL;
    owl_svcmap *m = calloc(1, sizeof *m);
    if (!m)
        return OWL_ENOMEM;
    m->start_ms = start_ms;
    m->end_ms = end_ms;
    owl_arena_init(&m->strings, 64 * 1024);
    if (owl_random(m->key, sizeof m->key) != OWL_OK) {
        /* getrandom failing is near impossible; a key from the clock and the address still
         * keeps chosen names from colliding on purpose across maps */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        m->key[0] = owl_mix64((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)m);
        m->key[1] = owl_mix64((uint64_t)ts.tv_sec + m->key[0]);
    }
    *out = m;
    return OWL_OK;
}

void owl_svcmap_free(owl_svcmap *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->names);
    free(m->types);
    free(m->edges);
    free(m->esrc);
    free(m->etgt);
    free(m->ntab);
    free(m->etab);
    owl_arena_free(&m->strings);
    free(m);
}

static uint64_t name_hash(const owl_svcmap *m, const char *s, size_t n)
{
    return owl_hash64_keyed(m->key, s, n);
}

static uint64_t edge_hash(const owl_svcmap *m, size_t s, size_t t)
{
    uint64_t k[2] = {(uint64_t)s, (uint64_t)t};
    return owl_hash64_keyed(m->key, k, sizeof k);
}

/* Puts entry i of hash h in the first free slot from h of table t (cap slots, a power of
 * two, not full). */
static void slot_put(uint32_t *t, size_t cap, uint64_t h, size_t i)
{
    size_t s = (size_t)h & (cap - 1);
    while (t[s] != NO_SLOT)
        s = (s + 1) & (cap - 1);
    t[s] = (uint32_t)i;
}

/* A table of cap slots (a power of two) holding entries 0..n-1, edges by their ends or nodes
 * by name; NULL when out of memory. */
static uint32_t *table_build(const owl_svcmap *m, size_t cap, size_t n, int edges)
{
    uint32_t *t = malloc(cap * sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0xff, cap * sizeof *t);
    for (size_t i = 0; i < n; i++)
        slot_put(t, cap, edges ? edge_hash(m, m->esrc[i], m->etgt[i])
                               : name_hash(m, m->names[i], strlen(m->names[i])), i);
    return t;
}

/* Indexes entry i (hash h) in *tab (*cap slots): first rebuilt twice as large from entries
 * 0..i-1 when i would make it over half full. OWL_ENOMEM (*tab unchanged). */
static int index_put(const owl_svcmap *m, uint32_t **tab, size_t *cap, size_t i, uint64_t h,
                     int edges)
{
    if (2 * (i + 1) > *cap) {
        size_t tcap = *cap ? *cap * 2 : 32;
        uint32_t *t = table_build(m, tcap, i, edges);
        if (!t)
            return OWL_ENOMEM;
        free(*tab);
        *tab = t;
        *cap = tcap;
    }
    slot_put(*tab, *cap, h, i);
    return OWL_OK;
}

/* Makes room for one more entry in the array *a of *cap elements of size sz. */
static int grow(void **a, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return OWL_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*a, nc * sz);
    if (!p)
        return OWL_ENOMEM;
    *a = p;
    *cap = nc;
    return OWL_OK;
}

int owl_svcmap_node_at(owl_svcmap *m, const char *name, const char *type, size_t *idx)
{
    if (!name)
        name = "";
    if (!type || !*type)
        type = "service";
    size_t len = strlen(name);
    uint64_t h = name_hash(m, name, len);
    if (m->ntab) {
        for (size_t s = (size_t)h & (m->ntab_cap - 1); m->ntab[s] != NO_SLOT;
             s = (s + 1) & (m->ntab_cap - 1)) {
            if (strcmp(m->names[m->ntab[s]], name) == 0) {
                *idx = m->ntab[s];
                return OWL_OK;
            }
        }
    }
    if (m->n_nodes >= NO_SLOT - 1)
        return OWL_ENOMEM;
    /* every array first, then the entry: a failure leaves the map as it was */
    size_t cap = m->cap_nodes;
    if (grow((void **)&m->nodes, &cap, m->n_nodes, sizeof *m->nodes) != OWL_OK)
        return OWL_ENOMEM;
    cap = m->cap_nodes;
    if (grow((void **)&m->names, &cap, m->n_nodes, sizeof *m->names) != OWL_OK)
        return OWL_ENOMEM;
    cap = m->cap_nodes;
    if (grow((void **)&m->types, &cap, m->n_nodes, sizeof *m->types) != OWL_OK)
        return OWL_ENOMEM;
    m->cap_nodes = cap;
    const char *nc = owl_arena_copy(&m->strings, name, len + 1);
    const char *tc = owl_arena_copy(&m->strings, type, strlen(type) + 1);
    if (!nc || !tc)
        return OWL_ENOMEM;
    size_t i = m->n_nodes;
    m->names[i] = nc;
    m->types[i] = tc;
    if (index_put(m, &m->ntab, &m->ntab_cap, i, h, 0) != OWL_OK)
        return OWL_ENOMEM;
    memset(&m->nodes[i], 0, sizeof m->nodes[i]);
    m->nodes[i].name = nc;
    m->nodes[i].type = tc;
    m->n_nodes++;
    *idx = i;
    return OWL_OK;
}

int owl_svcmap_edge_at(owl_svcmap *m, size_t source, size_t target, size_t *idx)
{
    if (source >= m->n_nodes || target >= m->n_nodes)
        return OWL_EINVAL;
    uint64_t h = edge_hash(m, source, target);
    if (m->etab) {
        for (size_t s = (size_t)h & (m->etab_cap - 1); m->etab[s] != NO_SLOT;
             s = (s + 1) & (m->etab_cap - 1)) {
            uint32_t e = m->etab[s];
            if (m->esrc[e] == source && m->etgt[e] == target) {
                *idx = e;
                return OWL_OK;
            }
        }
    }
    if (m->n_edges >= NO_SLOT - 1)
        return OWL_ENOMEM;
    size_t cap = m->cap_edges;
    if (grow((void **)&m->edges, &cap, m->n_edges, sizeof *m->edges) != OWL_OK)
        return OWL_ENOMEM;
    cap = m->cap_edges;
    if (grow((void **)&m->esrc, &cap, m->n_edges, sizeof *m->esrc) != OWL_OK)
        return OWL_ENOMEM;
    cap = m->cap_edges;
    if (grow((void **)&m->etgt, &cap, m->n_edges, sizeof *m->etgt) != OWL_OK)
        return OWL_ENOMEM;
    m->cap_edges = cap;
    size_t i = m->n_edges;
    m->esrc[i] = source;
    m->etgt[i] = target;
    if (index_put(m, &m->etab, &m->etab_cap, i, h, 1) != OWL_OK)
        return OWL_ENOMEM;
    memset(&m->edges[i], 0, sizeof m->edges[i]);
    m->edges[i].source = source;
    m->edges[i].target = target;
    m->n_edges++;
    *idx = i;
    return OWL_OK;
}

owl_svcmap_node *owl_svcmap_nodes(owl_svcmap *m, size_t *n)
{
    *n = m->n_nodes;
    return m->nodes;
}

owl_svcmap_edge *owl_svcmap_edges(owl_svcmap *m, size_t *n)
{
    *n = m->n_edges;
    return m->edges;
}

/* ---- figures ---- */

int owl_svcmap_bucket(double ms)
{
    if (!(ms > 0))
        return 0;
    double b = floor((log2(ms) - BUCKET_LO_LOG2) * 4.0);
    return b < 0 ? 0 : b >= OWL_SVCMAP_NBUCKETS ? OWL_SVCMAP_NBUCKETS - 1 : (int)b;
}

/* The bucket's bounds in ms: [2^(-10 + b/4), 2^(-10 + (b+1)/4)). */
static double bucket_upper(int b)
{
    return exp2(BUCKET_LO_LOG2 + (b + 1) / 4.0);
}

static double bucket_mid(int b)
{
    return exp2(BUCKET_LO_LOG2 + (b + 0.5) / 4.0);
}

void owl_svcmap_count(owl_svcmap_stats *st, double ms, unsigned status)
{
    if (!(ms > 0))
        ms = 0; /* NaN and negative times (skewed clocks) count as instant */
    else if (ms > MS_MAX)
        ms = MS_MAX;
    if (st->requests == 0 || ms < st->min_ms)
        st->min_ms = ms;
    if (st->requests == 0 || ms > st->max_ms)
        st->max_ms = ms;
    st->requests++;
    st->sum_ms += ms;
    st->hist[owl_svcmap_bucket(ms)]++;
    /* one outcome per request, so that ok + errors + faults = requests: a fault is what the
     * caller finally got; a throttle is an error too (X-Ray's rule) */
    if (status & OWL_FO_FAULT) {
        st->faults++;
    } else if (status & OWL_FO_THROTTLE) {
        st->throttles++;
        st->errors++;
    } else if (status & OWL_FO_ERROR) {
        st->errors++;
    }
}

/* Adds the figures of b into a. */
static void stats_add(owl_svcmap_stats *a, const owl_svcmap_stats *b)
{
    if (!b->requests)
        return;
    if (a->requests == 0 || b->min_ms < a->min_ms)
        a->min_ms = b->min_ms;
    if (a->requests == 0 || b->max_ms > a->max_ms)
        a->max_ms = b->max_ms;
    a->requests += b->requests;
    a->errors += b->errors;
    a->faults += b->faults;
    a->throttles += b->throttles;
    a->sum_ms += b->sum_ms;
    for (int i = 0; i < OWL_SVCMAP_NBUCKETS; i++)
        a->hist[i] += b->hist[i];
}

int owl_svcmap_merge(owl_svcmap *dst, const owl_svcmap *src)
{
    for (size_t i = 0; i < src->n_nodes; i++) {
        size_t k;
        int rc = owl_svcmap_node_at(dst, src->names[i], src->types[i], &k);
        if (rc != OWL_OK)
            return rc;
        stats_add(&dst->nodes[k].st, &src->nodes[i].st);
    }
    for (size_t i = 0; i < src->n_edges; i++) {
        size_t a, b, k;
        int rc = owl_svcmap_node_at(dst, src->names[src->esrc[i]], src->types[src->esrc[i]], &a);
        size_t t = src->etgt[i];
        rc = rc ? rc : owl_svcmap_node_at(dst, src->names[t], src->types[t], &b);
        rc = rc ? rc : owl_svcmap_edge_at(dst, a, b, &k);
        if (rc != OWL_OK)
            return rc;
        stats_add(&dst->edges[k].st, &src->edges[i].st);
    }
    return OWL_OK;
}

double owl_svcmap_percentile(const owl_svcmap_stats *st, double p)
{
    uint64_t n = 0;
    for (int b = 0; b < OWL_SVCMAP_NBUCKETS; b++)
        n = n + st->hist[b] < n ? UINT64_MAX : n + st->hist[b];
    if (n == 0)
        return 0;
    if (!(p > 0))
        p = 0;
    else if (p > 100)
        p = 100;
    double r = ceil(p / 100.0 * (double)n); /* nearest rank, 1-based */
    uint64_t rank = r < 1 ? 1 : r >= (double)n ? n : (uint64_t)r;
    uint64_t seen = 0;
    int b = 0;
    for (; b < OWL_SVCMAP_NBUCKETS - 1; b++) {
        seen = seen + st->hist[b] < seen ? UINT64_MAX : seen + st->hist[b];
        if (seen >= rank)
            break;
    }
    double v = bucket_mid(b);
    if (st->min_ms <= st->max_ms) {
        if (v < st->min_ms)
            v = st->min_ms;
        if (v > st->max_ms)
            v = st->max_ms;
    }
    return v;
}

/* What every writer reads of a node's or an edge's figures. */
typedef struct figs {
    uint64_t req, ok, err, flt, thr;
    double p50, p90, p99;
} figs;

static void figs_of(const owl_svcmap_stats *st, figs *f)
{
    f->req = st->requests;
    f->err = st->errors;
    f->flt = st->faults;
    f->thr = st->throttles;
    uint64_t bad = f->err + f->flt < f->err ? UINT64_MAX : f->err + f->flt;
    f->ok = f->req > bad ? f->req - bad : 0;
    f->p50 = owl_svcmap_percentile(st, 50);
    f->p90 = owl_svcmap_percentile(st, 90);
    f->p99 = owl_svcmap_percentile(st, 99);
}

static double rate(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0;
}

/* ---- the order every writer lists things in ---- */

typedef struct order {
    size_t *node;  /* node indexes by name */
    size_t *rank;  /* rank[i]: node i's place in node[] */
    size_t *edge;  /* edge indexes by (source name, target name) */
} order;

static int by_name(const void *a, const void *b, void *arg)
{
    const char *const *names = arg;
    return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

static int by_ends(const void *a, const void *b, void *arg)
{
    const order *o = ((const void *const *)arg)[0];
    const owl_svcmap *m = ((const void *const *)arg)[1];
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    size_t xs = o->rank[m->esrc[x]], ys = o->rank[m->esrc[y]];
    if (xs != ys)
        return xs < ys ? -1 : 1;
    size_t xt = o->rank[m->etgt[x]], yt = o->rank[m->etgt[y]];
    return xt < yt ? -1 : xt > yt;
}

static void order_free(order *o)
{
    free(o->node);
    free(o->rank);
    free(o->edge);
}

static int order_make(const owl_svcmap *m, order *o)
{
    o->node = malloc((m->n_nodes + 1) * sizeof *o->node);
    o->rank = malloc((m->n_nodes + 1) * sizeof *o->rank);
    o->edge = malloc((m->n_edges + 1) * sizeof *o->edge);
    if (!o->node || !o->rank || !o->edge) {
        order_free(o);
        return OWL_ENOMEM;
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        o->node[i] = i;
    qsort_r(o->node, m->n_nodes, sizeof *o->node, by_name, (void *)m->names);
    for (size_t i = 0; i < m->n_nodes; i++)
        o->rank[o->node[i]] = i;
    for (size_t i = 0; i < m->n_edges; i++)
        o->edge[i] = i;
    const void *arg[2] = {o, m};
    qsort_r(o->edge, m->n_edges, sizeof *o->edge, by_ends, (void *)arg);
    return OWL_OK;
}

/* ---- number writers ---- */

/* A JSON number: the shortest of %.15g / %.17g that reads back as v; a value that is not a
 * finite number (only a caller's own figures can be) is written 0. */
static int put_num(owl_buf *b, double v)
{
    char t[40];
    if (!isfinite(v) || v == 0)
        return owl_buf_putc(b, '0');
    snprintf(t, sizeof t, "%.15g", v);
    if (strtod(t, NULL) != v)
        snprintf(t, sizeof t, "%.17g", v);
    return owl_buf_puts(b, t);
}

/* A count as a JSON integer, at most INT64_MAX (what every JSON reader takes as an int64). */
static int put_count(owl_buf *b, uint64_t v)
{
    return owl_buf_put_i64(b, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* ---- owl's JSON ---- */

static int json_figs(owl_buf *b, const owl_svcmap_stats *st)
{
    figs f;
    figs_of(st, &f);
    int rc = owl_buf_puts(b, "\"requests\":");
    rc = rc ? rc : put_count(b, f.req);
    rc = rc ? rc : owl_buf_puts(b, ",\"ok\":");
    rc = rc ? rc : put_count(b, f.ok);
    rc = rc ? rc : owl_buf_puts(b, ",\"errors\":");
    rc = rc ? rc : put_count(b, f.err);
    rc = rc ? rc : owl_buf_puts(b, ",\"faults\":");
    rc = rc ? rc : put_count(b, f.flt);
    rc = rc ? rc : owl_buf_puts(b, ",\"throttles\":");
    rc = rc ? rc : put_count(b, f.thr);
    rc = rc ? rc : owl_buf_puts(b, ",\"errorRate\":");
    rc = rc ? rc : put_num(b, rate(f.err, f.req));
    rc = rc ? rc : owl_buf_puts(b, ",\"faultRate\":");
    rc = rc ? rc : put_num(b, rate(f.flt, f.req));
    rc = rc ? rc : owl_buf_puts(b, ",\"throttleRate\":");
    rc = rc ? rc : put_num(b, rate(f.thr, f.req));
    rc = rc ? rc : owl_buf_puts(b, ",\"sumMs\":");
    rc = rc ? rc : put_num(b, st->sum_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"minMs\":");
    rc = rc ? rc : put_num(b, st->min_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"maxMs\":");
    rc = rc ? rc : put_num(b, st->max_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"p50\":");
    rc = rc ? rc : put_num(b, f.p50);
    rc = rc ? rc : owl_buf_puts(b, ",\"p90\":");
    rc = rc ? rc : put_num(b, f.p90);
    rc = rc ? rc : owl_buf_puts(b, ",\"p99\":");
    rc = rc ? rc : put_num(b, f.p99);
    rc = rc ? rc : owl_buf_puts(b, ",\"histogram\":[");
    const char *sep = "";
    for (int i = 0; rc == OWL_OK && i < OWL_SVCMAP_NBUCKETS; i++) {
        if (!st->hist[i])
            continue;
        rc = owl_buf_puts(b, sep);
        rc = rc ? rc : owl_buf_puts(b, "{\"ms\":");
        rc = rc ? rc : put_num(b, bucket_upper(i));
        rc = rc ? rc : owl_buf_puts(b, ",\"count\":");
        rc = rc ? rc : put_count(b, st->hist[i]);
        rc = rc ? rc : owl_buf_putc(b, '}');
        sep = ",";
    }
    return rc ? rc : owl_buf_putc(b, ']');
}

static int json_str(owl_buf *b, const char *s)
{
    return owl_buf_json_str(b, s, strlen(s));
}

static int json_body(const owl_svcmap *m, const order *o, owl_buf *b)
{
    int rc = owl_buf_puts(b, "{\"startTime\":");
    rc = rc ? rc : owl_buf_put_i64(b, m->start_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"endTime\":");
    rc = rc ? rc : owl_buf_put_i64(b, m->end_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"services\":[");
    for (size_t k = 0; rc == OWL_OK && k < m->n_nodes; k++) {
        size_t i = o->node[k];
        rc = owl_buf_puts(b, k ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : json_str(b, m->names[i]);
        rc = rc ? rc : owl_buf_puts(b, ",\"type\":");
        rc = rc ? rc : json_str(b, m->types[i]);
        rc = rc ? rc : owl_buf_putc(b, ',');
        rc = rc ? rc : json_figs(b, &m->nodes[i].st);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    rc = rc ? rc : owl_buf_puts(b, "],\"edges\":[");
    for (size_t k = 0; rc == OWL_OK && k < m->n_edges; k++) {
        size_t e = o->edge[k], s = m->esrc[e], t = m->etgt[e];
        rc = owl_buf_puts(b, k ? ",{\"source\":" : "{\"source\":");
        rc = rc ? rc : json_str(b, m->names[s]);
        rc = rc ? rc : owl_buf_puts(b, ",\"target\":");
        rc = rc ? rc : json_str(b, m->names[t]);
        rc = rc ? rc : owl_buf_puts(b, ",\"sourceType\":");
        rc = rc ? rc : json_str(b, m->types[s]);
        rc = rc ? rc : owl_buf_puts(b, ",\"targetType\":");
        rc = rc ? rc : json_str(b, m->types[t]);
        rc = rc ? rc : owl_buf_putc(b, ',');
        rc = rc ? rc : json_figs(b, &m->edges[e].st);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    return rc ? rc : owl_buf_puts(b, "]}");
}

/* Runs a writer with the map's order, out restored to its length on failure. */
static int write_sorted(const owl_svcmap *m, owl_buf *out, owl_error *err,
                        int (*body)(const owl_svcmap *, const order *, owl_buf *))
{
    size_t len0 = out->len;
    order o;
    int rc = order_make(m, &o);
    if (rc != OWL_OK)
        goto out;
    rc = body(m, &o, out);
    order_free(&o);
out:
    if (rc != OWL_OK) {
        if (out->data) {
            out->len = len0;
            out->data[len0] = '\0';
        }
        return owl_error_set(err, rc, "service map: %s", owl_strerror(rc));
    }
    return OWL_OK;
}

int owl_svcmap_json(const owl_svcmap *m, owl_buf *out, owl_error *err)
{
    return write_sorted(m, out, err, json_body);
}

/* ---- Graphviz DOT ---- */

#define LABEL_MAX_CHARS 80 /* code points of a name shown in a label; the tooltip has all */

/* Health, worst first: the first whose share of requests is over 1% colours the node or
 * edge. Pale fills under black text, the strong colour on the border, the edge and its
 * label (dark enough to read on white). */
static const struct health {
    const char *what, *line, *fill;
} healths[] = {
    {"faults", "#c62828", "#ffebee"},    /* red */
    {"throttles", "#6a1b9a", "#f3e5f5"}, /* purple */
    {"errors", "#b26a00", "#fff4d6"},    /* yellow (amber: plain yellow is unreadable) */
    {"ok", "#2e7d32", "#e8f5e9"},        /* green */
};

static const struct health *health_of(const owl_svcmap_stats *st)
{
    /* x > 1% of r, in integers: x * 100 > r, that is x > r / 100 (integer division) */
    uint64_t q = st->requests / 100;
    if (st->faults > q)
        return &healths[0];
    if (st->throttles > q)
        return &healths[1];
    if (st->errors > q)
        return &healths[2];
    return &healths[3];
}

/* Shapes by type, the first prefix that matches (exact types end with '\0' in the match). */
static const struct shape {
    const char *prefix;
    int exact;
    const char *shape, *style;
} shapes[] = {
    {"service", 1, "box", "rounded,filled"},
    {"client", 1, "ellipse", "filled"},
    {"database", 1, "cylinder", "filled"},
    {"Database::", 0, "cylinder", "filled"},
    {"AWS::DynamoDB", 0, "cylinder", "filled"},
    {"AWS::RDS", 0, "cylinder", "filled"},
    {"AWS::S3", 0, "cylinder", "filled"},
    {"AWS::ElastiCache", 0, "cylinder", "filled"},
    {"queue", 1, "cds", "filled"},
    {"AWS::SQS", 0, "cds", "filled"},
    {"AWS::SNS", 0, "cds", "filled"},
    {"AWS::Kinesis", 0, "cds", "filled"},
    {"AWS::Events", 0, "cds", "filled"},
    /* where instrumented code runs: a service */
    {"AWS::EC2::Instance", 1, "box", "rounded,filled"},
    {"AWS::ECS::Container", 1, "box", "rounded,filled"},
    {"AWS::EKS::Container", 1, "box", "rounded,filled"},
    {"AWS::ElasticBeanstalk::Environment", 1, "box", "rounded,filled"},
    {"AWS::Lambda", 0, "box", "rounded,filled"},
    {"AWS::ApiGateway::Stage", 1, "box", "rounded,filled"},
};

static const struct shape *shape_of(const char *type)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t n = strlen(shapes[i].prefix);
        if (strncmp(type, shapes[i].prefix, n) == 0 && (!shapes[i].exact || type[n] == '\0'))
            return &shapes[i];
    }
    static const struct shape other = {"", 0, "component", "filled"}; /* external, remote */
    return &other;
}

/* The text of s in a DOT quoted string, at most max code points of it (then "…"; 0 = all):
 * '"' and '\' escaped, '&' as "&amp;" (Graphviz reads HTML entities in labels), control
 * characters as their Unicode "control pictures" (U+2400 + c, DEL U+2421), other UTF-8 kept
 * and invalid bytes as U+FFFD. */
static int dot_text(owl_buf *b, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), chars = 0;
    int rc = OWL_OK;
    for (size_t i = 0; rc == OWL_OK && i < n; chars++) {
        if (max && chars == max)
            return owl_buf_puts(b, "\xe2\x80\xa6");
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = owl_buf_append(b, esc, 2);
            i++;
        } else if (c == '&') {
            rc = owl_buf_puts(b, "&amp;");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char pic[4];
            rc = owl_buf_append(b, pic, owl_utf8_put(pic, c == 0x7f ? 0x2421 : 0x2400 + c));
            i++;
        } else if (c < 0x80) {
            rc = owl_buf_putc(b, (char)c);
            i++;
        } else {
            size_t l = owl_utf8_seq(u + i, n - i);
            rc = l ? owl_buf_append(b, u + i, l) : owl_buf_puts(b, "\xef\xbf\xbd");
            i += l ? l : 1;
        }
    }
    return rc;
}

/* A figure in a label: three significant digits, no exponent below a million. */
static void fmt_fig(char *t, size_t n, double v)
{
    if (!isfinite(v) || v <= 0)
        snprintf(t, n, "0");
    else if (v >= 1e6)
        snprintf(t, n, "%.3g", v);
    else if (v >= 100)
        snprintf(t, n, "%.0f", v);
    else if (v >= 1)
        snprintf(t, n, "%.3g", v);
    else
        snprintf(t, n, "%.2g", v);
}

/* "N req/min\np99 X ms" and, for nodes or when there are faults, "\nF% faults". */
static int dot_figs(owl_buf *b, const owl_svcmap_stats *st, double minutes, int node)
{
    char rq[40], p99[40], fp[40];
    fmt_fig(rq, sizeof rq, (double)st->requests / minutes);
    fmt_fig(p99, sizeof p99, owl_svcmap_percentile(st, 99));
    int rc = owl_buf_printf(b, "%s req/min\\np99 %s ms", rq, p99);
    if (rc == OWL_OK && (node || st->faults)) {
        fmt_fig(fp, sizeof fp, 100.0 * rate(st->faults, st->requests));
        rc = owl_buf_printf(b, "\\n%s%% faults", fp);
    }
    return rc;
}

static int dot_body(const owl_svcmap *m, const order *o, owl_buf *b)
{
    double minutes = ((double)m->end_ms - (double)m->start_ms) / 60000.0;
    if (!(minutes >= 1))
        minutes = 1;
    int rc = owl_buf_printf(b,
                            "// owl service map, window [%lld, %lld) ms\n"
                            "digraph \"owl_service_map\" {\n"
                            "  graph [rankdir=LR, charset=\"UTF-8\", fontname=\"Helvetica\"];\n"
                            "  node [fontname=\"Helvetica\", fontsize=10, penwidth=1.5];\n"
                            "  edge [fontname=\"Helvetica\", fontsize=9];\n",
                            (long long)m->start_ms, (long long)m->end_ms);
    for (size_t k = 0; rc == OWL_OK && k < m->n_nodes; k++) {
        size_t i = o->node[k];
        const struct health *h = health_of(&m->nodes[i].st);
        const struct shape *s = shape_of(m->types[i]);
        rc = owl_buf_printf(b, "  n%zu [label=\"", k);
        rc = rc ? rc : dot_text(b, m->names[i], LABEL_MAX_CHARS);
        rc = rc ? rc : owl_buf_puts(b, "\\n");
        rc = rc ? rc : dot_figs(b, &m->nodes[i].st, minutes, 1);
        rc = rc ? rc : owl_buf_puts(b, "\", tooltip=\"");
        rc = rc ? rc : dot_text(b, m->names[i], 0);
        rc = rc ? rc : owl_buf_puts(b, " (");
        rc = rc ? rc : dot_text(b, m->types[i], 0);
        rc = rc ? rc : owl_buf_printf(b, ")\", shape=%s, style=\"%s\", color=\"%s\", "
                                         "fillcolor=\"%s\"%s];\n",
                                      s->shape, s->style, h->line, h->fill,
                                      h == &healths[3] ? "" : ", penwidth=2.5");
    }
    for (size_t k = 0; rc == OWL_OK && k < m->n_edges; k++) {
        size_t e = o->edge[k];
        const struct health *h = health_of(&m->edges[e].st);
        rc = owl_buf_printf(b, "  n%zu -> n%zu [label=\"", o->rank[m->esrc[e]],
                            o->rank[m->etgt[e]]);
        rc = rc ? rc : dot_figs(b, &m->edges[e].st, minutes, 0);
        rc = rc ? rc : owl_buf_printf(b, "\", color=\"%s\", fontcolor=\"%s\"%s];\n", h->line,
                                      h->line, h == &healths[3] ? "" : ", penwidth=2");
    }
    return rc ? rc : owl_buf_puts(b, "}\n");
}

int owl_svcmap_dot(const owl_svcmap *m, owl_buf *out, owl_error *err)
{
    return write_sorted(m, out, err, dot_body);
}

/* ---- SVG through libgvc ---- */

#define SVG_MAX_ELEMENTS 4000 /* nodes + edges: 2,000 nodes and 3,900 edges took dot 6.5 s */

/* Graphviz also sets LC_NUMERIC to "C" while it works and restores it after: owld never
 * leaves the C locale, so other threads' number formatting sees no change. */
static pthread_mutex_t gv_lock = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gv_ctx; /* made on first use, kept: plugins load once */

/* The message for err: Graphviz's last error of this call, one line, or what failed when it
 * said nothing. Called with gv_lock held. */
static int gv_fail(owl_error *err, int code, const char *what)
{
    char *said = agerrors() >= AGERR ? aglasterr() : NULL;
    size_t n = said ? strlen(said) : 0;
    for (size_t i = 0; i < n; i++)
        if (said[i] == '\n' || said[i] == '\r')
            said[i] = ' ';
    while (n && said[n - 1] == ' ')
        said[--n] = '\0';
    owl_error_set(err, code, "Graphviz: %s%s%s", what, n ? ": " : "", n ? said : "");
    free(said);
    return code;
}

/* Lays out and renders the DOT text; called with gv_lock held. */
static int gv_render(const char *text, owl_buf *out, owl_error *err)
{
    graph_t *g = NULL;
    char *svg = NULL;
    unsigned int len = 0;
    int rc = OWL_OK;
    if (!gv_ctx && !(gv_ctx = gvContext())) {
        rc = gv_fail(err, OWL_ENOMEM, "no context");
        goto out;
    }
    if (!(g = agmemread(text))) {
        rc = gv_fail(err, OWL_EIO, "cannot read the map");
        goto out;
    }
    if (gvLayout(gv_ctx, g, "dot") != 0) {
        rc = gv_fail(err, OWL_EIO, "layout failed");
        goto out;
    }
    if (gvRenderData(gv_ctx, g, "svg", &svg, &len) != 0 || !svg) {
        rc = gv_fail(err, OWL_EIO, "SVG rendering failed");
        goto out;
    }
    if (owl_buf_append(out, svg, len) != OWL_OK)
        rc = owl_error_set(err, OWL_ENOMEM, "service map: %s", owl_strerror(OWL_ENOMEM));
out:
    if (svg)
        gvFreeRenderData(svg);
    if (g) {
        gvFreeLayout(gv_ctx, g); /* a no-op on a graph never laid out */
        agclose(g);
    }
    return rc;
}

int owl_svcmap_svg(const owl_svcmap *m, owl_buf *out, owl_error *err)
{
    owl_buf dot = OWL_BUF_INIT;
    int rc;
    if (m->n_nodes + m->n_edges > SVG_MAX_ELEMENTS) {
        rc = owl_error_set(err, OWL_ETOOBIG,
                           "service map of %zu nodes and %zu edges is too large to draw (at "
                           "most %d together): ask for DOT",
                           m->n_nodes, m->n_edges, SVG_MAX_ELEMENTS);
        goto out;
    }
    if ((rc = owl_svcmap_dot(m, &dot, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&gv_lock);
    /* Graphviz prints its messages on stderr unless told otherwise. Its own log, read back
     * with aglasterr, is the safe way: with a message function set (agseterrf), Graphviz
     * 2.42 crashes on a message over 1 KB (it reuses a va_list), and a warning can quote a
     * whole attribute value. With the level at AGMAX nothing is printed. */
    agerrlevel_t old = agseterr(AGMAX);
    agreseterrors();
    rc = gv_render(dot.data, out, err);
    agseterr(old);
    pthread_mutex_unlock(&gv_lock);
out:
    owl_buf_free(&dot);
    return rc;
}

/* ---- X-Ray's GetServiceGraph ---- */

/* owl's types as X-Ray names them; AWS types and X-Ray's own ("client", "remote", any
 * "AWS::..." or "Database::...") pass as they are, as does any type not listed. */
static const struct xtype {
    const char *owl, *xray;
} xtypes[] = {
    {"database", "Database::SQL"},
    {"queue", "remote"},
    {"external", "remote"},
};

static const char *xray_type(const char *t)
{
    for (size_t i = 0; i < sizeof xtypes / sizeof xtypes[0]; i++)
        if (strcmp(t, xtypes[i].owl) == 0)
            return xtypes[i].xray;
    return t;
}

/* Epoch seconds with milliseconds, as X-Ray's REST-JSON timestamps. */
static int put_secs(owl_buf *b, int64_t ms)
{
    return owl_buf_printf(b, "%.3f", (double)ms / 1000.0);
}

static int xray_stats(owl_buf *b, const owl_svcmap_stats *st)
{
    figs f;
    figs_of(st, &f);
    uint64_t other_err = f.err > f.thr ? f.err - f.thr : 0;
    int rc = owl_buf_puts(b, "{\"OkCount\":");
    rc = rc ? rc : put_count(b, f.ok);
    rc = rc ? rc : owl_buf_puts(b, ",\"ErrorStatistics\":{\"ThrottleCount\":");
    rc = rc ? rc : put_count(b, f.thr);
    rc = rc ? rc : owl_buf_puts(b, ",\"OtherCount\":");
    rc = rc ? rc : put_count(b, other_err);
    rc = rc ? rc : owl_buf_puts(b, ",\"TotalCount\":");
    rc = rc ? rc : put_count(b, f.err);
    rc = rc ? rc : owl_buf_puts(b, "},\"FaultStatistics\":{\"OtherCount\":");
    rc = rc ? rc : put_count(b, f.flt);
    rc = rc ? rc : owl_buf_puts(b, ",\"TotalCount\":");
    rc = rc ? rc : put_count(b, f.flt);
    rc = rc ? rc : owl_buf_puts(b, "},\"TotalCount\":");
    rc = rc ? rc : put_count(b, f.req);
    rc = rc ? rc : owl_buf_puts(b, ",\"TotalResponseTime\":");
    rc = rc ? rc : put_num(b, st->sum_ms / 1000.0);
    return rc ? rc : owl_buf_putc(b, '}');
}

/* A HistogramEntry list: each non-empty bucket's middle (within min and max) in seconds,
 * its count an Integer in X-Ray's model, so at most INT32_MAX. */
static int xray_hist(owl_buf *b, const owl_svcmap_stats *st)
{
    int rc = owl_buf_putc(b, '[');
    const char *sep = "";
    for (int i = 0; rc == OWL_OK && i < OWL_SVCMAP_NBUCKETS; i++) {
        if (!st->hist[i])
            continue;
        double v = bucket_mid(i);
        if (st->min_ms <= st->max_ms)
            v = v < st->min_ms ? st->min_ms : v > st->max_ms ? st->max_ms : v;
        rc = owl_buf_puts(b, sep);
        rc = rc ? rc : owl_buf_puts(b, "{\"Value\":");
        rc = rc ? rc : put_num(b, v / 1000.0);
        rc = rc ? rc : owl_buf_puts(b, ",\"Count\":");
        rc = rc ? rc : owl_buf_put_i64(b, st->hist[i] > INT32_MAX ? INT32_MAX
                                                                  : (int64_t)st->hist[i]);
        rc = rc ? rc : owl_buf_putc(b, '}');
        sep = ",";
    }
    return rc ? rc : owl_buf_putc(b, ']');
}

static int xray_window(owl_buf *b, const owl_svcmap *m)
{
    int rc = owl_buf_puts(b, "\"StartTime\":");
    rc = rc ? rc : put_secs(b, m->start_ms);
    rc = rc ? rc : owl_buf_puts(b, ",\"EndTime\":");
    return rc ? rc : put_secs(b, m->end_ms);
}

static int xray_edges(owl_buf *b, const owl_svcmap *m, const order *o, size_t *k, size_t src)
{
    int rc = owl_buf_puts(b, ",\"Edges\":[");
    for (const char *sep = ""; rc == OWL_OK && *k < m->n_edges && m->esrc[o->edge[*k]] == src;
         (*k)++, sep = ",") {
        size_t e = o->edge[*k];
        rc = owl_buf_puts(b, sep);
        rc = rc ? rc : owl_buf_puts(b, "{\"ReferenceId\":");
        rc = rc ? rc : owl_buf_put_i64(b, (int64_t)o->rank[m->etgt[e]]);
        rc = rc ? rc : owl_buf_putc(b, ',');
        rc = rc ? rc : xray_window(b, m);
        rc = rc ? rc : owl_buf_puts(b, ",\"SummaryStatistics\":");
        rc = rc ? rc : xray_stats(b, &m->edges[e].st);
        rc = rc ? rc : owl_buf_puts(b, ",\"ResponseTimeHistogram\":");
        rc = rc ? rc : xray_hist(b, &m->edges[e].st);
        rc = rc ? rc : owl_buf_puts(b, ",\"Aliases\":[]}");
    }
    return rc ? rc : owl_buf_putc(b, ']');
}

static int xray_body(const owl_svcmap *m, const order *o, owl_buf *b)
{
    /* a root is a node no other node calls (a service calling itself stays a root) */
    uint8_t *called = calloc(m->n_nodes + 1, 1);
    if (!called)
        return OWL_ENOMEM;
    for (size_t e = 0; e < m->n_edges; e++)
        if (m->esrc[e] != m->etgt[e])
            called[m->etgt[e]] = 1;
    int rc = owl_buf_puts(b, "{\"Services\":[");
    size_t k = 0; /* the next edge in order: edges come grouped by source, in node order */
    for (size_t r = 0; rc == OWL_OK && r < m->n_nodes; r++) {
        size_t i = o->node[r];
        rc = owl_buf_puts(b, r ? ",{\"ReferenceId\":" : "{\"ReferenceId\":");
        rc = rc ? rc : owl_buf_put_i64(b, (int64_t)r);
        rc = rc ? rc : owl_buf_puts(b, ",\"Name\":");
        rc = rc ? rc : json_str(b, m->names[i]);
        rc = rc ? rc : owl_buf_puts(b, ",\"Names\":[");
        rc = rc ? rc : json_str(b, m->names[i]);
        rc = rc ? rc : owl_buf_puts(b, called[i] ? "],\"Root\":false" : "],\"Root\":true");
        rc = rc ? rc : owl_buf_puts(b, ",\"Type\":");
        rc = rc ? rc : json_str(b, xray_type(m->types[i]));
        rc = rc ? rc : owl_buf_puts(b, ",\"State\":\"active\",");
        rc = rc ? rc : xray_window(b, m);
        rc = rc ? rc : xray_edges(b, m, o, &k, i);
        rc = rc ? rc : owl_buf_puts(b, ",\"SummaryStatistics\":");
        rc = rc ? rc : xray_stats(b, &m->nodes[i].st);
        rc = rc ? rc : owl_buf_puts(b, ",\"DurationHistogram\":");
        rc = rc ? rc : xray_hist(b, &m->nodes[i].st);
        rc = rc ? rc : owl_buf_puts(b, ",\"ResponseTimeHistogram\":");
        rc = rc ? rc : xray_hist(b, &m->nodes[i].st);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    rc = rc ? rc : owl_buf_puts(b, "],");
    rc = rc ? rc : xray_window(b, m);
    rc = rc ? rc : owl_buf_puts(b, ",\"ContainsOldGroupVersions\":false}");
    free(called);
    return rc;
}

int owl_svcmap_xray_json(const owl_svcmap *m, owl_buf *out, owl_error *err)
{
    return write_sorted(m, out, err, xray_body);
}

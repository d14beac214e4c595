/* rank.c — rankings over many traces: the bottlenecks (operations by critical-path self time,
 * overall and in the slow tail, against a baseline) and the root causes (where faults and
 * errors start, which operations' self time grew) of GET /api/v1/bottlenecks and
 * /api/v1/rootcause. The figures and owl's choices: docs/service-map.md
 * ("Bottlenecks", "Root cause"), the JSON: docs/api/bottlenecks.md.
 *
 * Memory: one record per (service, operation) and per failure group, and per window trace its
 * id, duration and one compact contribution (key, self time) per operation on its critical
 * path — kept because the slow tail is only known once the window's p90 is. A baseline trace
 * leaves nothing behind but sums. */
#include "tracer/tracer.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/traceid.h"

#define EXAMPLES_MAX 100 /* examples per row: the table of example slots is keys x this */
#define NEAR 2048        /* slots of the key cache by name pointers (a power of two) */

/* A (service, operation) pair. stamp/slot find its contribution in the trace being added. */
typedef struct key {
    const char *svc, *op;
    uint64_t hash;
    uint64_t base_sum, base_n; /* baseline: self time summed, traces on whose path it is */
    uint64_t stamp;
    size_t slot;
} key;

/* A root-cause group: (service, operation, exception type, message), for faults or errors. */
typedef struct group {
    const char *svc, *op, *etype, *emsg; /* etype, emsg: NULL = none */
    uint64_t hash, count;
    uint8_t (*ex)[16];                   /* the first examples' trace ids */
    size_t nex;
} group;

typedef struct gtab {
    group *g;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = empty; capacity mask + 1, at most half full */
    size_t mask;
    uint64_t traces; /* window traces with such a failure */
} gtab;

/* A window trace: its contributions are con[off .. next trace's off). */
typedef struct wtrace {
    uint8_t id[16];
    int64_t dur;
    size_t off;
} wtrace;

struct owl_rank {
    char *service;
    size_t limit, examples;
    int by_added, no_failures;
    uint64_t seed;
    owl_arena strs;

    key *keys;
    size_t nkeys, capkeys;
    uint32_t *kslot;
    size_t kmask;

    wtrace *tr;
    size_t ntr, captr;
    uint32_t *ckey; /* contributions: key index and self time, in parallel arrays */
    int64_t *cself;
    size_t ncon, capcon;

    uint64_t base_traces;
    gtab faults, errors;

    /* the keys of recent (service, operation) pointers of traces with names_epoch `epoch`:
     * equal pointers there are equal names, so most spans skip hashing their strings */
    struct {
        const char *svc, *op;
        uint32_t k1; /* key index + 1; 0 = empty */
    } near[NEAR];
    uint64_t epoch;

    uint8_t *on_path; /* scratch for owl_critpath */
    int64_t *self;
    size_t scap;
    uint64_t stamp;
};

/* ---- building ---- */

static const char *nz(const char *s)
{
    return s ? s : "";
}

static int set(const char *s)
{
    return s && *s;
}

/* NULL and "" are one value. */
static int eq(const char *a, const char *b)
{
    return !strcmp(nz(a), nz(b));
}

static const char *keep(owl_rank *r, const char *s)
{
    if (!set(s))
        return NULL;
    size_t n = strlen(s) + 1;
    return owl_arena_copy(&r->strs, s, n);
}

static uint64_t hstr(const char *s, uint64_t h)
{
    s = nz(s);
    size_t n = strlen(s);
    return owl_hash64(s, n, h ^ n);
}

/* Slots entry idx, whose hash h is already stored at offset hoff of base[idx] (entries of
 * stride bytes), in a table of index + 1 per slot (0 = empty) kept at most half full: rebuilt
 * twice as large from base[0 .. idx] when it would be more. */
static int slot_add(uint32_t **slot, size_t *mask, const void *base, size_t stride, size_t hoff,
                    size_t idx, uint64_t h)
{
    size_t cap = *slot ? *mask + 1 : 0;
    if (idx + 1 <= cap / 2) {
        size_t j = h & *mask;
        while ((*slot)[j])
            j = (j + 1) & *mask;
        (*slot)[j] = (uint32_t)(idx + 1);
        return OWL_OK;
    }
    size_t nc = cap ? 2 * cap : 64;
    while (idx + 1 > nc / 2)
        nc *= 2;
    uint32_t *ns = calloc(nc, sizeof *ns);
    if (!ns)
        return OWL_ENOMEM;
    for (size_t i = 0; i <= idx; i++) {
        uint64_t hi;
        memcpy(&hi, (const char *)base + i * stride + hoff, sizeof hi);
        size_t j = hi & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = (uint32_t)(i + 1);
    }
    free(*slot);
    *slot = ns;
    *mask = nc - 1;
    return OWL_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return OWL_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * size);
    if (!np)
        return OWL_ENOMEM;
    *p = np;
    *cap = c;
    return OWL_OK;
}

/* The index of key (svc, op), added when new. */
static int key_at(owl_rank *r, const char *svc, const char *op, uint32_t *out)
{
    uint64_t h = hstr(op, hstr(svc, r->seed));
    size_t j = h & r->kmask;
    for (uint32_t s; r->kslot && (s = r->kslot[j]); j = (j + 1) & r->kmask) {
        const key *k = &r->keys[s - 1];
        if (k->hash == h && eq(k->svc, svc) && eq(k->op, op)) {
            *out = s - 1;
            return OWL_OK;
        }
    }
    if (r->nkeys >= UINT32_MAX - 1)
        return OWL_ENOMEM;
    if (grow((void **)&r->keys, &r->capkeys, r->nkeys + 1, sizeof *r->keys) != OWL_OK)
        return OWL_ENOMEM;
    key *k = &r->keys[r->nkeys];
    memset(k, 0, sizeof *k);
    k->hash = h;
    if ((set(svc) && !(k->svc = keep(r, svc))) || (set(op) && !(k->op = keep(r, op))))
        return OWL_ENOMEM;
    if (slot_add(&r->kslot, &r->kmask, r->keys, sizeof *r->keys, offsetof(key, hash), r->nkeys,
                 h) != OWL_OK)
        return OWL_ENOMEM;
    *out = (uint32_t)r->nkeys++;
    return OWL_OK;
}

/* The group (svc, op, etype, emsg) of gt, made (count 0) when absent; NULL when out of
 * memory. */
static group *group_at(owl_rank *r, gtab *gt, const char *svc, const char *op,
                       const char *etype, const char *emsg)
{
    uint64_t h = hstr(emsg, hstr(etype, hstr(op, hstr(svc, r->seed))));
    size_t j = h & gt->mask;
    for (uint32_t x; gt->slot && (x = gt->slot[j]); j = (j + 1) & gt->mask) {
        group *c = &gt->g[x - 1];
        if (c->hash == h && eq(c->svc, svc) && eq(c->op, op) && eq(c->etype, etype) &&
            eq(c->emsg, emsg))
            return c;
    }
    if (gt->n >= UINT32_MAX - 1 ||
        grow((void **)&gt->g, &gt->cap, gt->n + 1, sizeof *gt->g) != OWL_OK)
        return NULL;
    group *g = &gt->g[gt->n];
    memset(g, 0, sizeof *g);
    g->hash = h;
    if ((set(svc) && !(g->svc = keep(r, svc))) || (set(op) && !(g->op = keep(r, op))) ||
        (set(etype) && !(g->etype = keep(r, etype))) ||
        (set(emsg) && !(g->emsg = keep(r, emsg))) ||
        !(g->ex = owl_arena_alloc(&r->strs, r->examples * 16)))
        return NULL;
    if (slot_add(&gt->slot, &gt->mask, gt->g, sizeof *gt->g, offsetof(group, hash), gt->n, h) !=
        OWL_OK)
        return NULL;
    gt->n++;
    return g;
}

/* Counts trace id into the group of the failing span s. */
static int group_add(owl_rank *r, gtab *gt, const owl_xf_span *s, const uint8_t id[16])
{
    group *g = group_at(r, gt, s->service, s->name, s->exception_type, s->exception_message);
    if (!g)
        return OWL_ENOMEM;
    if (g->nex < r->examples)
        memcpy(g->ex[g->nex++], id, 16);
    g->count++;
    return OWL_OK;
}

int owl_rank_new(const owl_rank_options *o, owl_rank **out, owl_error *err)
{
    *out = NULL;
    owl_rank *r = calloc(1, sizeof *r);
    if (!r)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    owl_arena_init(&r->strs, 64 << 10);
    r->limit = o && o->limit ? o->limit : 10;
    r->by_added = o && o->sort_added;
    r->no_failures = o && o->no_failures;
    r->examples = o && o->examples ? o->examples : 5;
    if (r->examples > EXAMPLES_MAX)
        r->examples = EXAMPLES_MAX;
    if (owl_random(&r->seed, sizeof r->seed) != OWL_OK)
        r->seed = (uint64_t)(uintptr_t)r ^ 0x6f776c72616e6bull;
    if (o && set(o->service) && !(r->service = strdup(o->service))) {
        owl_rank_free(r);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    *out = r;
    return OWL_OK;
}

static void gtab_free(gtab *g)
{
    free(g->g);
    free(g->slot);
}

void owl_rank_free(owl_rank *r)
{
    if (!r)
        return;
    free(r->service);
    owl_arena_free(&r->strs);
    free(r->keys);
    free(r->kslot);
    free(r->tr);
    free(r->ckey);
    free(r->cself);
    gtab_free(&r->faults);
    gtab_free(&r->errors);
    free(r->on_path);
    free(r->self);
    free(r);
}

/* Counts src's group g (its count and first examples) into dst's table of the same kind. */
static int group_merge(owl_rank *r, gtab *gt, const group *g)
{
    group *d = group_at(r, gt, g->svc, g->op, g->etype, g->emsg);
    if (!d)
        return OWL_ENOMEM;
    for (size_t i = 0; i < g->nex && d->nex < r->examples; i++)
        memcpy(d->ex[d->nex++], g->ex[i], 16);
    d->count += g->count;
    return OWL_OK;
}

int owl_rank_merge(owl_rank *dst, const owl_rank *src, owl_error *err)
{
    uint32_t *map = malloc((src->nkeys ? src->nkeys : 1) * sizeof *map);
    int rc = map ? OWL_OK : OWL_ENOMEM;
    for (size_t k = 0; rc == OWL_OK && k < src->nkeys; k++) {
        const key *sk = &src->keys[k];
        if ((rc = key_at(dst, sk->svc, sk->op, &map[k])) == OWL_OK) {
            dst->keys[map[k]].base_sum += sk->base_sum;
            dst->keys[map[k]].base_n += sk->base_n;
        }
    }
    if (rc == OWL_OK &&
        (grow((void **)&dst->tr, &dst->captr, dst->ntr + src->ntr, sizeof *dst->tr) != OWL_OK ||
         grow((void **)&dst->ckey, &dst->capcon, dst->ncon + src->ncon, sizeof *dst->ckey) !=
             OWL_OK))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK) { /* cself shares capcon with ckey: grown to the same capacity */
        int64_t *cs = realloc(dst->cself, dst->capcon * sizeof *cs);
        if (cs)
            dst->cself = cs;
        else
            rc = OWL_ENOMEM;
    }
    if (rc == OWL_OK) {
        for (size_t i = 0; i < src->ntr; i++) {
            dst->tr[dst->ntr + i] = src->tr[i];
            dst->tr[dst->ntr + i].off += dst->ncon;
        }
        for (size_t c = 0; c < src->ncon; c++) {
            dst->ckey[dst->ncon + c] = map[src->ckey[c]];
            dst->cself[dst->ncon + c] = src->cself[c];
        }
        dst->ntr += src->ntr;
        dst->ncon += src->ncon;
        dst->base_traces += src->base_traces;
    }
    const gtab *from[2] = {&src->faults, &src->errors};
    gtab *to[2] = {&dst->faults, &dst->errors};
    for (int t = 0; t < 2 && rc == OWL_OK; t++) {
        for (size_t i = 0; i < from[t]->n && rc == OWL_OK; i++)
            rc = group_merge(dst, to[t], &from[t]->g[i]);
        to[t]->traces += from[t]->traces;
    }
    free(map);
    return rc == OWL_OK ? OWL_OK : owl_error_set(err, OWL_ENOMEM, "out of memory");
}

/* The key cache's slot of a (service, operation) pair of interned names: the service's
 * address times an odd constant, the operation's xor'd in, the top bits of that times the
 * golden ratio (Fibonacci hashing). owl_mix64 took 13 instructions a span on the path; over
 * 2M spans this cut the cache's misses (key_at calls) from 4,157 to 289 as well. */
static size_t near_at(const char *svc, const char *op)
{
    uint64_t x = (uint64_t)(uintptr_t)svc * 0xff51afd7ed558ccdull ^ (uint64_t)(uintptr_t)op;
    return (size_t)((x * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctz(NEAR)));
}

/* The contributions of t's critical path, appended at con[ncon ..): one per operation, its
 * self time summed over the trace. *dur: the root's duration (the self times' sum). */
static int contribute(owl_rank *r, const owl_xf_trace *t, int64_t *dur, owl_error *err)
{
    size_t n = t->n_spans;
    if (n > r->scap) {
        uint8_t *op = realloc(r->on_path, n);
        if (op)
            r->on_path = op;
        int64_t *sf = op ? realloc(r->self, n * sizeof *sf) : NULL;
        if (!sf)
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
        r->self = sf;
        r->scap = n;
    }
    if (r->ncon + n > r->capcon) { /* room for one contribution per span */
        size_t c = r->capcon ? 2 * r->capcon : 4096;
        while (c < r->ncon + n)
            c *= 2;
        uint32_t *ck = realloc(r->ckey, c * sizeof *ck);
        if (ck)
            r->ckey = ck;
        int64_t *cs = ck ? realloc(r->cself, c * sizeof *cs) : NULL;
        if (!cs)
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
        r->cself = cs;
        r->capcon = c;
    }
    int rc = owl_critpath(t, r->on_path, r->self, err);
    if (rc != OWL_OK)
        return rc;
    if (t->names_epoch != r->epoch) {
        memset(r->near, 0, sizeof r->near);
        r->epoch = t->names_epoch;
    }
    r->stamp++;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!r->on_path[i])
            continue;
        const owl_xf_span *s = &t->spans[i];
        uint32_t k;
        /* two slots a pair (at and its neighbour): a direct-mapped table let two keys of
         * one slot evict each other, trace after trace, into key_at's string hashing */
        size_t at = near_at(s->service, s->name);
        if (r->epoch && r->near[at].k1 && r->near[at].svc == s->service &&
            r->near[at].op == s->name) {
            k = r->near[at].k1 - 1;
        } else if (r->epoch && r->near[at ^ 1].k1 && r->near[at ^ 1].svc == s->service &&
                   r->near[at ^ 1].op == s->name) {
            k = r->near[at ^ 1].k1 - 1;
        } else {
            if (key_at(r, s->service, s->name, &k) != OWL_OK)
                return owl_error_set(err, OWL_ENOMEM, "out of memory");
            if (r->epoch) {
                if (r->near[at].k1 && !r->near[at ^ 1].k1)
                    at ^= 1;
                r->near[at].svc = s->service;
                r->near[at].op = s->name;
                r->near[at].k1 = k + 1;
            }
        }
        key *kp = &r->keys[k];
        if (kp->stamp != r->stamp) {
            kp->stamp = r->stamp;
            kp->slot = r->ncon;
            r->ckey[r->ncon] = k;
            r->cself[r->ncon++] = 0;
        }
        r->cself[kp->slot] += r->self[i];
        sum += r->self[i];
    }
    *dur = sum;
    return OWL_OK;
}

int owl_rank_add(owl_rank *r, const owl_xf_trace *t, const uint8_t id[16], int baseline,
                 owl_error *err)
{
    if (!t || !t->n_spans || !t->spans)
        return OWL_OK;
    size_t mark = r->ncon;
    int64_t dur = 0;
    int rc = contribute(r, t, &dur, err);
    if (rc != OWL_OK) {
        r->ncon = mark;
        return rc;
    }
    if (baseline) {
        for (size_t c = mark; c < r->ncon; c++) {
            key *k = &r->keys[r->ckey[c]];
            k->base_sum += (uint64_t)r->cself[c];
            k->base_n++;
        }
        r->ncon = mark;
        r->base_traces++;
        return OWL_OK;
    }
    if (grow((void **)&r->tr, &r->captr, r->ntr + 1, sizeof *r->tr) != OWL_OK) {
        r->ncon = mark;
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    wtrace *w = &r->tr[r->ntr];
    memcpy(w->id, id, 16);
    w->dur = dur;
    w->off = mark;
    static const unsigned which[2] = {OWL_FO_FAULT, OWL_FO_ERROR | OWL_FO_THROTTLE};
    gtab *tabs[2] = {&r->faults, &r->errors};
    for (int i = 0; i < 2 && !r->no_failures; i++) {
        int32_t o = owl_fault_origin(t, which[i]);
        if (o < 0)
            continue;
        if (group_add(r, tabs[i], &t->spans[o], id) != OWL_OK) {
            r->ncon = mark;
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        tabs[i]->traces++;
    }
    r->ntr++;
    return OWL_OK;
}

/* ---- aggregation ---- */

/* The p90 of the window's trace durations by nearest rank: the ceil(0.9 N)-th smallest. */
static int p90_of(const owl_rank *r, int64_t *out)
{
    *out = 0;
    size_t n = r->ntr;
    if (!n)
        return OWL_OK;
    int64_t *d = malloc(n * sizeof *d);
    if (!d)
        return OWL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = r->tr[i].dur;
    size_t k = (9 * n + 9) / 10 - 1, lo = 0, hi = n - 1;
    while (lo < hi) { /* quickselect, Hoare partition around the middle value */
        int64_t pv = d[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (d[i] < pv)
                i++;
            while (d[j] > pv)
                j--;
            if (i <= j) {
                int64_t x = d[i];
                d[i] = d[j], d[j] = x;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    *out = d[k];
    free(d);
    return OWL_OK;
}

/* Per key over a set of window traces: self time summed, traces, the examples' heap. */
typedef struct ex {
    int64_t self;
    size_t tr;
} ex;

typedef struct agg {
    uint64_t *sum, *n;
    ex *heap;     /* key k's heap: heap[k * E .. + nheap[k]), least contribution on top */
    size_t *nheap;
    uint64_t dur_sum; /* end-to-end time of the traces counted */
    uint64_t traces;
} agg;

static void agg_free(agg *a)
{
    free(a->sum);
    free(a->n);
    free(a->heap);
    free(a->nheap);
}

/* e ranks below f as an example: less self time, or as much in a later trace. */
static int ex_less(const ex *e, const ex *f)
{
    return e->self < f->self || (e->self == f->self && e->tr > f->tr);
}

static void heap_push(ex *h, size_t *n, size_t cap, ex e)
{
    size_t i;
    if (*n < cap) {
        i = (*n)++;
        while (i > 0 && ex_less(&e, &h[(i - 1) / 2])) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = e;
        return;
    }
    if (!ex_less(&h[0], &e))
        return;
    i = 0; /* replace the least and sift down */
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && ex_less(&h[c + 1], &h[c]))
            c++;
        if (!ex_less(&h[c], &e))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

/* Aggregates the window traces longer than min_dur (all of them when min_dur < 0). */
static int aggregate(const owl_rank *r, int64_t min_dur, agg *a)
{
    size_t nk = r->nkeys ? r->nkeys : 1, E = r->examples;
    memset(a, 0, sizeof *a);
    a->sum = calloc(nk, sizeof *a->sum);
    a->n = calloc(nk, sizeof *a->n);
    a->heap = malloc(nk * E * sizeof *a->heap);
    a->nheap = calloc(nk, sizeof *a->nheap);
    if (!a->sum || !a->n || !a->heap || !a->nheap) {
        agg_free(a);
        return OWL_ENOMEM;
    }
    for (size_t t = 0; t < r->ntr; t++) {
        const wtrace *w = &r->tr[t];
        if (min_dur >= 0 && w->dur <= min_dur)
            continue;
        a->traces++;
        a->dur_sum += (uint64_t)w->dur;
        size_t end = t + 1 < r->ntr ? r->tr[t + 1].off : r->ncon;
        for (size_t c = w->off; c < end; c++) {
            uint32_t k = r->ckey[c];
            a->sum[k] += (uint64_t)r->cself[c];
            a->n[k]++;
            heap_push(a->heap + (size_t)k * E, &a->nheap[k], E, (ex){r->cself[c], t});
        }
    }
    return OWL_OK;
}

/* ---- JSON ---- */

/* A JSON writer that stops writing at the first failure and remembers it. */
typedef struct jw {
    owl_buf *b;
    int rc;
} jw;

static void put(jw *w, const char *s)
{
    if (w->rc == OWL_OK)
        w->rc = owl_buf_puts(w->b, s);
}

static void put_str(jw *w, const char *s)
{
    if (w->rc == OWL_OK)
        w->rc = owl_buf_json_str(w->b, nz(s), strlen(nz(s)));
}

static void put_str_or_null(jw *w, const char *s)
{
    if (set(s))
        put_str(w, s);
    else
        put(w, "null");
}

static void put_i64(jw *w, int64_t v)
{
    if (w->rc == OWL_OK)
        w->rc = owl_buf_put_i64(w->b, v);
}

static void put_u64(jw *w, uint64_t v)
{
    put_i64(w, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* A finite double, or null. */
static void put_f(jw *w, double v, int valid)
{
    if (!valid || !isfinite(v))
        put(w, "null");
    else if (w->rc == OWL_OK)
        w->rc = owl_buf_printf(w->b, "%.6g", v);
}

static void put_id(jw *w, const uint8_t id[16])
{
    char hex[OWL_TRACEID_HEX_SIZE];
    owl_traceid_to_hex(id, hex);
    put(w, "\"");
    put(w, hex);
    put(w, "\"");
}

/* sum / n rounded to the nearest nanosecond (0 for n = 0). */
static int64_t mean(uint64_t sum, uint64_t n)
{
    if (!n)
        return 0;
    double m = (double)sum / (double)n;
    return m >= 9.2e18 ? INT64_MAX : (int64_t)llround(m);
}

/* Key k's examples from its heap, the largest contribution first. */
static void put_examples(jw *w, const owl_rank *r, const agg *a, uint32_t k)
{
    size_t E = r->examples, n = a->nheap[k];
    ex tmp[EXAMPLES_MAX];
    memcpy(tmp, a->heap + (size_t)k * E, n * sizeof *tmp);
    for (size_t i = 1; i < n; i++) { /* at most EXAMPLES_MAX: insertion sort */
        ex x = tmp[i];
        size_t j = i;
        for (; j > 0 && ex_less(&tmp[j - 1], &x); j--)
            tmp[j] = tmp[j - 1];
        tmp[j] = x;
    }
    put(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(w, ",");
        put_id(w, r->tr[tmp[i].tr].id);
    }
    put(w, "]");
}

typedef struct row {
    const char *svc, *op;
    uint32_t k;
    int64_t v; /* the figure rows sort on, descending */
} row;

static int row_cmp(const void *x, const void *y)
{
    const row *a = x, *b = y;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    int c = strcmp(nz(a->svc), nz(b->svc));
    return c ? c : strcmp(nz(a->op), nz(b->op));
}

/* The critical-path time the list's traces spent in key k beyond the baseline's mean: its
 * self time minus its traces times the baseline's mean self time (0 without a baseline). */
static int64_t added(const agg *a, const key *kp, uint32_t k)
{
    double base = kp->base_n ? (double)kp->base_sum / (double)kp->base_n : 0;
    double v = (double)a->sum[k] - (double)a->n[k] * base;
    return v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
}

/* The rows of one bottleneck list. */
static int put_bottlenecks(jw *w, const owl_rank *r, int64_t min_dur)
{
    agg a;
    if (aggregate(r, min_dur, &a) != OWL_OK)
        return OWL_ENOMEM;
    row *rows = malloc((r->nkeys ? r->nkeys : 1) * sizeof *rows);
    if (!rows) {
        agg_free(&a);
        return OWL_ENOMEM;
    }
    size_t nr = 0;
    for (uint32_t k = 0; k < r->nkeys; k++) {
        const key *kp = &r->keys[k];
        if (!a.n[k] || (r->service && !eq(kp->svc, r->service)))
            continue;
        int64_t v = a.sum[k] > INT64_MAX ? INT64_MAX : (int64_t)a.sum[k];
        if (r->by_added)
            v = added(&a, kp, k);
        rows[nr++] = (row){kp->svc, kp->op, k, v};
    }
    qsort(rows, nr, sizeof *rows, row_cmp);
    put(w, "[");
    for (size_t i = 0; i < nr && i < r->limit; i++) {
        const key *kp = &r->keys[rows[i].k];
        uint32_t k = rows[i].k;
        int64_t m = mean(a.sum[k], a.n[k]);
        int have_base = kp->base_n > 0;
        int64_t bm = mean(kp->base_sum, kp->base_n);
        put(w, i ? ",{\"service\":" : "{\"service\":");
        put_str(w, kp->svc);
        put(w, ",\"operation\":");
        put_str(w, kp->op);
        put(w, ",\"selfNanos\":");
        put_u64(w, a.sum[k]);
        put(w, ",\"share\":");
        put_f(w, a.dur_sum ? (double)a.sum[k] / (double)a.dur_sum : 0, 1);
        put(w, ",\"traces\":");
        put_u64(w, a.n[k]);
        put(w, ",\"meanSelfNanos\":");
        put_i64(w, m);
        put(w, ",\"baselineMeanSelfNanos\":");
        if (have_base)
            put_i64(w, bm);
        else
            put(w, "null");
        put(w, ",\"change\":");
        put_f(w, (double)m / (double)bm - 1, have_base && bm > 0);
        put(w, ",\"addedNanos\":");
        put_i64(w, added(&a, kp, k));
        put(w, ",\"examples\":");
        put_examples(w, r, &a, k);
        put(w, "}");
    }
    put(w, "]");
    free(rows);
    agg_free(&a);
    return OWL_OK;
}

int owl_rank_bottlenecks_json(owl_rank *r, owl_buf *out, owl_error *err)
{
    size_t mark = out->len;
    jw w = {out, OWL_OK};
    int64_t p90;
    int rc = p90_of(r, &p90);
    if (rc == OWL_OK) {
        put(&w, "{\"traces\":");
        put_u64(&w, r->ntr);
        put(&w, ",\"baselineTraces\":");
        put_u64(&w, r->base_traces);
        put(&w, ",\"p90DurationNanos\":");
        put_i64(&w, p90);
        put(&w, ",\"overall\":");
        rc = put_bottlenecks(&w, r, -1);
    }
    if (rc == OWL_OK) {
        put(&w, ",\"slowTail\":");
        rc = put_bottlenecks(&w, r, r->ntr ? p90 : INT64_MAX);
    }
    put(&w, "}");
    if (rc == OWL_OK)
        rc = w.rc;
    if (rc != OWL_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = 0;
        return owl_error_set(err, rc, "out of memory");
    }
    return OWL_OK;
}

static int group_cmp(const void *x, const void *y)
{
    const group *a = *(const group *const *)x, *b = *(const group *const *)y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int c = strcmp(nz(a->svc), nz(b->svc));
    if (!c)
        c = strcmp(nz(a->op), nz(b->op));
    if (!c)
        c = strcmp(nz(a->etype), nz(b->etype));
    return c ? c : strcmp(nz(a->emsg), nz(b->emsg));
}

static int put_groups(jw *w, const owl_rank *r, const gtab *gt)
{
    const group **v = malloc((gt->n ? gt->n : 1) * sizeof *v);
    if (!v)
        return OWL_ENOMEM;
    for (size_t i = 0; i < gt->n; i++)
        v[i] = &gt->g[i];
    qsort(v, gt->n, sizeof *v, group_cmp);
    put(w, "[");
    for (size_t i = 0; i < gt->n && i < r->limit; i++) {
        const group *g = v[i];
        put(w, i ? ",{\"service\":" : "{\"service\":");
        put_str(w, g->svc);
        put(w, ",\"operation\":");
        put_str(w, g->op);
        put(w, ",\"exceptionType\":");
        put_str_or_null(w, g->etype);
        put(w, ",\"message\":");
        put_str_or_null(w, g->emsg);
        put(w, ",\"count\":");
        put_u64(w, g->count);
        put(w, ",\"share\":");
        put_f(w, (double)g->count / (double)gt->traces, gt->traces > 0);
        put(w, ",\"examples\":[");
        for (size_t e = 0; e < g->nex; e++) {
            if (e)
                put(w, ",");
            put_id(w, g->ex[e]);
        }
        put(w, "]}");
    }
    put(w, "]");
    free(v);
    return OWL_OK;
}

/* Operations whose mean self time per trace grew against the baseline. */
static int put_latency(jw *w, const owl_rank *r)
{
    agg a;
    if (aggregate(r, -1, &a) != OWL_OK)
        return OWL_ENOMEM;
    row *rows = malloc((r->nkeys ? r->nkeys : 1) * sizeof *rows);
    if (!rows) {
        agg_free(&a);
        return OWL_ENOMEM;
    }
    size_t nr = 0;
    for (uint32_t k = 0; k < r->nkeys; k++) {
        const key *kp = &r->keys[k];
        int64_t d = mean(a.sum[k], r->ntr) - mean(kp->base_sum, r->base_traces);
        if (d > 0)
            rows[nr++] = (row){kp->svc, kp->op, k, d};
    }
    qsort(rows, nr, sizeof *rows, row_cmp);
    put(w, "[");
    for (size_t i = 0; i < nr && i < r->limit; i++) {
        uint32_t k = rows[i].k;
        const key *kp = &r->keys[k];
        int64_t m = mean(a.sum[k], r->ntr), bm = mean(kp->base_sum, r->base_traces);
        put(w, i ? ",{\"service\":" : "{\"service\":");
        put_str(w, kp->svc);
        put(w, ",\"operation\":");
        put_str(w, kp->op);
        put(w, ",\"meanSelfNanos\":");
        put_i64(w, m);
        put(w, ",\"baselineMeanSelfNanos\":");
        put_i64(w, bm);
        put(w, ",\"deltaNanos\":");
        put_i64(w, rows[i].v);
        put(w, ",\"growth\":");
        put_f(w, (double)m / (double)bm - 1, bm > 0);
        put(w, ",\"examples\":");
        put_examples(w, r, &a, k);
        put(w, "}");
    }
    put(w, "]");
    free(rows);
    agg_free(&a);
    return OWL_OK;
}

int owl_rank_rootcause_json(owl_rank *r, owl_buf *out, owl_error *err)
{
    size_t mark = out->len;
    jw w = {out, OWL_OK};
    put(&w, "{\"traces\":");
    put_u64(&w, r->ntr);
    put(&w, ",\"baselineTraces\":");
    put_u64(&w, r->base_traces);
    put(&w, ",\"faultTraces\":");
    put_u64(&w, r->faults.traces);
    put(&w, ",\"errorTraces\":");
    put_u64(&w, r->errors.traces);
    put(&w, ",\"faults\":");
    int rc = put_groups(&w, r, &r->faults);
    if (rc == OWL_OK) {
        put(&w, ",\"errors\":");
        rc = put_groups(&w, r, &r->errors);
    }
    if (rc == OWL_OK) {
        put(&w, ",\"latency\":");
        rc = put_latency(&w, r);
    }
    put(&w, "}");
    if (rc == OWL_OK)
        rc = w.rc;
    if (rc != OWL_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = 0;
        return owl_error_set(err, rc, "out of memory");
    }
    return OWL_OK;
}

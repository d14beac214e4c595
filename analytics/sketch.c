/* sketch.c — a mergeable relative-error quantile sketch (DDSketch-style, docs/metrics.md).
 *
 * A positive value v > 0 falls in bucket i = ceil(log(v) / log(gamma)), gamma = (1+a)/(1-a),
 * which covers (gamma^(i-1), gamma^i]; the bucket's representative 2 gamma^i / (gamma + 1)
 * is within relative error a of every value in it. Negative values use a second store on
 * |v|; values with |v| < OWL_SKETCH_MIN count as zero. Each store is a dense array of
 * weights over [off, off + n) that grows as needed and never spans more than MAX_BUCKETS
 * indexes: past that the lowest-magnitude buckets are folded into the lowest kept one (with
 * a = 1% 4096 buckets span a ratio of gamma^4096 ~ 1e35, so real data never folds).
 *
 * Encoding (owl_sketch_encode), all varints LEB128, zz = zigzag:
 *   byte   version (1)
 *   byte   flags: bit 0 zero weight present, bit 1 weights are integers (varints, else
 *          8-byte IEEE doubles little-endian)
 *   [w]    the zero weight when bit 0
 *   twice (positive store, then negative), sparse:  varint k (non-empty buckets), then k x
 *          (varint zz(index - previous index, previous starts at 0), w)
 *     or, when the store's flag says dense (bit 2 positive, bit 3 negative; integer weights
 *          only): varint span (buckets from the first non-empty to the last, 0 for none),
 *          then when span > 0 varint zz(first index) and span varint weights, 0 for an empty
 *          bucket. The encoder takes whichever is smaller: dense costs a byte a bucket where
 *          sparse costs two, and wins for the clustered values a roll-up window holds.
 * Decoding checks everything (OWL_ECORRUPT): version, flags, bounds, finite positive weights,
 * strictly increasing indexes, non-empty ends of a dense span, no trailing bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"
#include "common/endian.h"

#define MAX_BUCKETS 4096
#define OWL_SKETCH_MIN 1e-300
#define MAX_INDEX 200000 /* |log(1e308)/log(gamma)| is ~ 35,000: anything past is corrupt */

#define INLINE_BUCKETS 16 /* a store's first buckets, inside the sketch */

typedef struct store {
    int32_t off;  /* index of w[0] */
    uint32_t n;   /* buckets in use */
    uint32_t cap;
    double *w;    /* w[k] is 0 for every k in [n, cap): a store grows into zeroed room */
    /* w's room until it needs more: most sketches (a datum's values, a roll-up window's)
     * span a few dozen buckets at most, and a sketch is made for each window rolled */
    double in[INLINE_BUCKETS];
} store;

struct owl_sketch {
    store pos, neg;
    double zero;
    double count;
};

static double gamma_(void) { return (1 + OWL_SKETCH_ALPHA) / (1 - OWL_SKETCH_ALPHA); }
static double lg_gamma(void)
{
    static double v;
    if (v == 0)
        v = log(gamma_());
    return v;
}

static int32_t index_of(double v) /* v >= OWL_SKETCH_MIN */
{
    return (int32_t)ceil(log(v) / lg_gamma());
}

static double value_of(int32_t i)
{
    return 2 * exp(i * lg_gamma()) / (gamma_() + 1);
}

/* Readies zeroed memory as an empty sketch. */
static void sketch_init(owl_sketch *s)
{
    s->pos.w = s->pos.in, s->pos.cap = INLINE_BUCKETS;
    s->neg.w = s->neg.in, s->neg.cap = INLINE_BUCKETS;
}

owl_sketch *owl_sketch_new(void)
{
    owl_sketch *s = calloc(1, sizeof *s);
    if (s)
        sketch_init(s);
    return s;
}

static void store_clear(store *st)
{
    if (st->n)
        memset(st->w, 0, st->n * sizeof *st->w);
    st->off = 0;
    st->n = 0;
}

void owl_sketch_clear(owl_sketch *s)
{
    store_clear(&s->pos);
    store_clear(&s->neg);
    s->zero = s->count = 0;
}

/* Frees the bucket arrays s moved to the heap. */
static void sketch_release(owl_sketch *s)
{
    if (s->pos.w != s->pos.in)
        free(s->pos.w);
    if (s->neg.w != s->neg.in)
        free(s->neg.w);
}

void owl_sketch_free(owl_sketch *s)
{
    if (!s)
        return;
    sketch_release(s);
    free(s);
}

/* ---- pools: sketches made in blocks, freed together ---- */

#define POOL_BLOCK 256

struct owl_sketch_block {
    struct owl_sketch_block *next;
    size_t n; /* sketches handed out of s */
    owl_sketch s[POOL_BLOCK];
};

owl_sketch *owl_sketch_pool_new(owl_sketch_pool *p)
{
    struct owl_sketch_block *b = p->blocks;
    if (!b || b->n == POOL_BLOCK) {
        /* not calloc: a sketch is zeroed as it is handed out, while it is in the cache */
        if (!(b = malloc(sizeof *b)))
            return NULL;
        b->next = p->blocks;
        b->n = 0;
        p->blocks = b;
    }
    owl_sketch *s = &b->s[b->n++];
    memset(s, 0, sizeof *s);
    sketch_init(s);
    return s;
}

void owl_sketch_pool_free(owl_sketch_pool *p)
{
    while (p->blocks) {
        struct owl_sketch_block *b = p->blocks;
        for (size_t i = 0; i < b->n; i++)
            sketch_release(&b->s[i]);
        p->blocks = b->next;
        free(b);
    }
}

/* Makes room for index i in st (folding the lowest buckets when the span would pass
 * MAX_BUCKETS); returns the slot for i, or NULL when out of memory. */
static double *slot(store *st, int32_t i)
{
    if (st->n == 0) {
        st->off = i;
        st->n = 1;
        return &st->w[0];
    }
    int64_t lo = st->off, hi = (int64_t)st->off + st->n - 1;
    if (i >= lo && i <= hi)
        return &st->w[i - lo];
    int64_t nlo = i < lo ? i : lo, nhi = i > hi ? i : hi;
    if (nhi - nlo + 1 > MAX_BUCKETS) {
        /* fold everything below nhi - MAX_BUCKETS + 1 into that index */
        int64_t keep_lo = nhi - MAX_BUCKETS + 1;
        if (i < keep_lo) /* the new value itself folds: the store keeps [keep_lo, hi] */
            i = (int32_t)keep_lo, nlo = keep_lo;
        if (lo < keep_lo) {
            double folded = 0;
            int64_t upto = keep_lo - 1 < hi ? keep_lo - 1 : hi;
            for (int64_t k = lo; k <= upto; k++)
                folded += st->w[k - lo];
            if (keep_lo > hi) { /* every old bucket folds into one */
                st->off = (int32_t)keep_lo;
                st->n = 1;
                st->w[0] = folded;
                memset(st->w + 1, 0, (st->cap - 1) * sizeof *st->w);
            } else {
                size_t drop = (size_t)(keep_lo - lo);
                memmove(st->w, st->w + drop, (st->n - drop) * sizeof *st->w);
                memset(st->w + (st->n - drop), 0, drop * sizeof *st->w);
                st->n -= (uint32_t)drop;
                st->off = (int32_t)keep_lo;
                st->w[0] += folded;
            }
            lo = st->off;
            hi = (int64_t)st->off + st->n - 1;
            if (i >= lo && i <= hi)
                return &st->w[i - lo];
            nlo = i < lo ? i : lo;
            nhi = i > hi ? i : hi;
        }
    }
    uint32_t need = (uint32_t)(nhi - nlo + 1);
    if (need > st->cap) {
        uint32_t cap = st->cap * 2 > need ? st->cap * 2 : need + 16;
        if (cap > MAX_BUCKETS)
            cap = MAX_BUCKETS;
        double *w = st->w == st->in ? malloc(cap * sizeof *w) : realloc(st->w, cap * sizeof *w);
        if (!w)
            return NULL;
        if (st->w == st->in)
            memcpy(w, st->in, sizeof st->in);
        memset(w + st->cap, 0, (cap - st->cap) * sizeof *w);
        st->w = w;
        st->cap = cap;
    }
    if (nlo < lo) { /* shift up to make room below */
        size_t by = (size_t)(lo - nlo);
        memmove(st->w + by, st->w, st->n * sizeof *st->w);
        memset(st->w, 0, by * sizeof *st->w);
        st->off = (int32_t)nlo;
    }
    st->n = need;
    return &st->w[i - st->off];
}

int owl_sketch_add(owl_sketch *s, double v, double w)
{
    if (!s || !isfinite(v) || !isfinite(w) || w <= 0)
        return OWL_EINVAL;
    double a = fabs(v);
    if (a < OWL_SKETCH_MIN) {
        s->zero += w;
    } else {
        double *p = slot(v > 0 ? &s->pos : &s->neg, index_of(a));
        if (!p)
            return OWL_ENOMEM;
        *p += w;
    }
    s->count += w;
    return OWL_OK;
}

static int merge_store(store *dst, const store *src)
{
    for (uint32_t k = 0; k < src->n; k++) {
        if (src->w[k] == 0)
            continue;
        double *p = slot(dst, src->off + (int32_t)k);
        if (!p)
            return OWL_ENOMEM;
        *p += src->w[k];
    }
    return OWL_OK;
}

int owl_sketch_merge(owl_sketch *dst, const owl_sketch *src)
{
    int rc;
    if ((rc = merge_store(&dst->pos, &src->pos)) != OWL_OK ||
        (rc = merge_store(&dst->neg, &src->neg)) != OWL_OK)
        return rc;
    dst->zero += src->zero;
    dst->count += src->count;
    return OWL_OK;
}

double owl_sketch_count(const owl_sketch *s) { return s ? s->count : 0; }

void owl_sketch_visit(const owl_sketch *s, void (*fn)(void *ud, double v, double w), void *ud)
{
    /* ascending values: negatives from the largest magnitude down, zero, then positives */
    for (uint32_t k = s->neg.n; k-- > 0;)
        if (s->neg.w[k] > 0)
            fn(ud, -value_of(s->neg.off + (int32_t)k), s->neg.w[k]);
    if (s->zero > 0)
        fn(ud, 0, s->zero);
    for (uint32_t k = 0; k < s->pos.n; k++)
        if (s->pos.w[k] > 0)
            fn(ud, value_of(s->pos.off + (int32_t)k), s->pos.w[k]);
}

typedef struct qwalk {
    double target, cum, out, last;
    int found;
} qwalk;

static void quantile_fn(void *ud, double v, double w)
{
    qwalk *q = ud;
    q->last = v;
    if (q->found)
        return;
    q->cum += w;
    if (q->cum >= q->target) {
        q->out = v;
        q->found = 1;
    }
}

int owl_sketch_quantile(const owl_sketch *s, double q, double *out)
{
    if (!s || s->count <= 0)
        return OWL_ENOTFOUND;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* nearest rank: the smallest value whose cumulative weight reaches q * count; the
     * relative tolerance keeps 0.99 * 100 from missing rank 99 by a rounding error */
    qwalk w = {.target = q * s->count * (1 - 1e-12)};
    owl_sketch_visit(s, quantile_fn, &w);
    *out = w.found ? w.out : w.last; /* not found: rounding put the target past the end */
    return OWL_OK;
}

typedef struct rwalk {
    double v, below;
} rwalk;

static void rank_fn(void *ud, double v, double w)
{
    rwalk *r = ud;
    if (v <= r->v)
        r->below += w;
}

double owl_sketch_rank(const owl_sketch *s, double v)
{
    if (!s || s->count <= 0)
        return 0;
    rwalk r = {.v = v};
    owl_sketch_visit(s, rank_fn, &r);
    return r.below / s->count;
}

/* ---- encoding ---- */

/* The encoder writes straight into the output's reserved room (a datum's or a roll-up
 * window's sketch is a few dozen bytes; an append call per varint cost more than the rest
 * of the encoding). The largest a varint gets is 10 bytes, so a store takes at most two
 * varints plus two a slot. */
#define VARINT_MAX 10

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Whether weight w (never negative) is an integer below 2^53, which a varint holds exactly. */
static int integral(double w)
{
    return w >= 0 && w < 9007199254740992.0 && (double)(uint64_t)w == w;
}

static uint8_t *put_weight(uint8_t *p, double w, int ints)
{
    if (ints)
        return put_varint(p, (uint64_t)w);
    uint64_t bits;
    memcpy(&bits, &w, 8);
    owl_put64le(p, bits);
    return p + 8;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

static uint64_t zz64(int64_t d) { return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63); }

_Static_assert(MAX_BUCKETS <= UINT16_MAX + 1, "a store's slots fit uint16_t");

/* What one pass over a store tells the encoder. */
typedef struct store_plan {
    uint32_t lo, hi;   /* the non-empty ends (slots); lo > hi when the store is empty */
    uint64_t k;        /* non-empty buckets */
    int ints;          /* every non-empty weight an integer (below 2^53) */
    size_t index_size; /* sparse: the bytes of the index deltas */
    size_t weight_size; /* the bytes of the non-empty weights as varints (when ints) */
    uint16_t *nz;      /* the non-empty slots, k of them (a store spans MAX_BUCKETS at most):
                        * a roll-up window's latencies fill a few buckets of a hundred */
} store_plan;

static void plan_store(const store *st, store_plan *sp, uint16_t *nz)
{
    *sp = (store_plan){.lo = 1, .hi = 0, .ints = 1, .nz = nz};
    int64_t prev = 0;
    for (uint32_t i = 0; i < st->n; i++) {
        double w = st->w[i];
        if (w <= 0)
            continue;
        nz[sp->k] = (uint16_t)i;
        if (sp->k++ == 0)
            sp->lo = i;
        sp->hi = i;
        int64_t idx = (int64_t)st->off + i;
        sp->index_size += varint_size(zz64(idx - prev));
        prev = idx;
        if (!integral(w))
            sp->ints = 0;
        else
            sp->weight_size += varint_size((uint64_t)w);
    }
}

/* Whether the store encodes smaller dense than sparse (integer weights only): dense costs
 * its span, first index and a varint a bucket, 0 for an empty one; sparse its count and an
 * index delta and weight a non-empty bucket. */
static int dense_wins(const store *st, const store_plan *sp, int ints)
{
    if (!ints || sp->lo > sp->hi)
        return 0;
    uint32_t span = sp->hi - sp->lo + 1;
    size_t dense = varint_size(span) + varint_size(zz64((int64_t)st->off + sp->lo)) +
                   sp->weight_size + (span - sp->k);
    return dense < sp->index_size + sp->weight_size + varint_size(sp->k);
}

static uint8_t *put_store(uint8_t *p, const store *st, const store_plan *sp, int ints,
                          int dense)
{
    if (dense) {
        p = put_varint(p, sp->hi - sp->lo + 1);
        p = put_varint(p, zz64((int64_t)st->off + sp->lo));
        for (uint32_t i = sp->lo; i <= sp->hi; i++)
            p = put_varint(p, st->w[i] > 0 ? (uint64_t)st->w[i] : 0);
        return p;
    }
    p = put_varint(p, sp->k);
    int64_t prev = 0;
    for (uint64_t j = 0; j < sp->k; j++) {
        uint32_t i = sp->nz[j];
        int64_t idx = (int64_t)st->off + i;
        p = put_varint(p, zz64(idx - prev));
        prev = idx;
        p = put_weight(p, st->w[i], ints);
    }
    return p;
}

int owl_sketch_encode(const owl_sketch *s, owl_buf *out)
{
    store_plan pp, pn;
    uint16_t nzp[MAX_BUCKETS], nzn[MAX_BUCKETS];
    plan_store(&s->pos, &pp, nzp);
    plan_store(&s->neg, &pn, nzn);
    int ints = integral(s->zero) && pp.ints && pn.ints;
    int dpos = dense_wins(&s->pos, &pp, ints), dneg = dense_wins(&s->neg, &pn, ints);
    size_t most = 2 + VARINT_MAX + 4 * VARINT_MAX +
                  2 * VARINT_MAX * ((size_t)s->pos.n + s->neg.n);
    int rc = owl_buf_reserve(out, most);
    if (rc != OWL_OK)
        return rc;
    uint8_t *start = (uint8_t *)out->data + out->len, *p = start;
    *p++ = 1; /* version */
    *p++ = (uint8_t)((s->zero > 0 ? 1 : 0) | (ints ? 2 : 0) | (dpos ? 4 : 0) | (dneg ? 8 : 0));
    if (s->zero > 0)
        p = put_weight(p, s->zero, ints);
    p = put_store(p, &s->pos, &pp, ints, dpos);
    p = put_store(p, &s->neg, &pn, ints, dneg);
    out->len += (size_t)(p - start);
    out->data[out->len] = '\0';
    return OWL_OK;
}

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static int get_varint(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return OWL_ECORRUPT;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return OWL_OK;
        }
    }
    return OWL_ECORRUPT;
}

static int get_weight(reader *r, int ints, double *w)
{
    if (ints) {
        uint64_t v;
        if (get_varint(r, &v) != OWL_OK || v == 0 || v > (1ULL << 53))
            return OWL_ECORRUPT;
        *w = (double)v;
        return OWL_OK;
    }
    if (r->end - r->p < 8)
        return OWL_ECORRUPT;
    uint64_t bits = owl_get64le(r->p);
    r->p += 8;
    memcpy(w, &bits, 8);
    return isfinite(*w) && *w > 0 ? OWL_OK : OWL_ECORRUPT;
}

/* The ends of the indexes one store held, for owl_sketch_merge_encoded; lo > hi: none. */
typedef struct index_span {
    int64_t lo, hi;
} index_span;

/* Where a store's buckets go as they are read: nowhere (st NULL: only checked), through
 * slot(), or, placed, straight into the room made beforehand for every index they hold. */
typedef struct sink {
    store *st;
    int placed;
} sink;

static int put_at(sink to, int64_t i, double w)
{
    if (!to.st)
        return OWL_OK;
    if (to.placed) {
        to.st->w[i - to.st->off] += w;
        return OWL_OK;
    }
    double *p = slot(to.st, (int32_t)i);
    if (!p)
        return OWL_ENOMEM;
    *p += w;
    return OWL_OK;
}

static int get_dense(reader *r, sink to, double *count, index_span *sp)
{
    uint64_t span, zz, w;
    if (get_varint(r, &span) != OWL_OK || span > MAX_BUCKETS)
        return OWL_ECORRUPT;
    if (span == 0)
        return OWL_OK;
    if (get_varint(r, &zz) != OWL_OK || zz > 4 * (uint64_t)MAX_INDEX)
        return OWL_ECORRUPT;
    int64_t first = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    if (first < -MAX_INDEX || first + (int64_t)span - 1 > MAX_INDEX)
        return OWL_ECORRUPT;
    for (uint64_t i = 0; i < span; i++) {
        if (get_varint(r, &w) != OWL_OK || w > (1ULL << 53))
            return OWL_ECORRUPT;
        if (w == 0 && (i == 0 || i == span - 1))
            return OWL_ECORRUPT; /* the ends are non-empty buckets */
        if (w == 0)
            continue;
        int rc = put_at(to, first + (int64_t)i, (double)w);
        if (rc != OWL_OK)
            return rc;
        *count += (double)w;
    }
    sp->lo = first, sp->hi = first + (int64_t)span - 1;
    return OWL_OK;
}

/* Reads one store's buckets (ascending indexes) into to, adding each weight to *count; sp
 * gets the lowest and highest index read. */
static int get_store(reader *r, sink to, int ints, int dense, double *count, index_span *sp)
{
    uint64_t k;
    *sp = (index_span){1, 0};
    if (dense)
        return ints ? get_dense(r, to, count, sp) : OWL_ECORRUPT;
    if (get_varint(r, &k) != OWL_OK || k > MAX_BUCKETS)
        return OWL_ECORRUPT;
    int64_t prev = 0;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t zz;
        double w;
        if (get_varint(r, &zz) != OWL_OK || get_weight(r, ints, &w) != OWL_OK)
            return OWL_ECORRUPT;
        int64_t d = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
        if (i > 0 && d <= 0)
            return OWL_ECORRUPT;
        if (d > 2 * MAX_INDEX || d < -2 * MAX_INDEX)
            return OWL_ECORRUPT;
        int64_t idx = prev + d;
        if (idx > MAX_INDEX || idx < -MAX_INDEX)
            return OWL_ECORRUPT;
        prev = idx;
        int rc = put_at(to, idx, w);
        if (rc != OWL_OK)
            return rc;
        *count += w;
        if (i == 0)
            sp->lo = idx;
        sp->hi = idx;
    }
    return OWL_OK;
}

/* Reads the version and flags byte, and the zero weight when flag bit 0 says there is one
 * (*zero 0 when not). */
static int get_head(reader *r, int *flags, double *zero)
{
    *zero = 0;
    if (r->end - r->p < 2 || r->p[0] != 1 || (r->p[1] & ~15u))
        return OWL_ECORRUPT;
    *flags = r->p[1];
    r->p += 2;
    return *flags & 1 ? get_weight(r, *flags & 2, zero) : OWL_OK;
}

/* owl_sketch_decode's work, into s, which is empty (new or cleared). */
static int decode_into(owl_sketch *s, const void *p, size_t n)
{
    reader r = {p, (const uint8_t *)p + n};
    int flags, ints;
    double zero;
    index_span sp;
    int rc = get_head(&r, &flags, &zero);
    if (rc != OWL_OK)
        return rc;
    ints = flags & 2;
    s->zero = s->count = zero;
    if ((rc = get_store(&r, (sink){&s->pos, 0}, ints, flags & 4, &s->count, &sp)) != OWL_OK ||
        (rc = get_store(&r, (sink){&s->neg, 0}, ints, flags & 8, &s->count, &sp)) != OWL_OK)
        return rc;
    /* an empty sketch is never stored (rows hold at least one value) */
    return r.p == r.end && isfinite(s->count) && s->count > 0 ? OWL_OK : OWL_ECORRUPT;
}

int owl_sketch_decode(const void *p, size_t n, owl_sketch **out)
{
    owl_sketch *s = owl_sketch_new();
    int rc = s ? decode_into(s, p, n) : OWL_ENOMEM;
    if (rc != OWL_OK) {
        owl_sketch_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* Makes room in st for every index of sp, unless that needs a fold (the union passes
 * MAX_BUCKETS): then each bucket goes through slot() as owl_sketch_merge's would. The
 * room is what the buckets' slot() calls would have made one by one. */
static int make_room(store *st, index_span sp, sink *to)
{
    *to = (sink){st, 0};
    if (sp.lo > sp.hi)
        return OWL_OK;
    int64_t lo = st->n && st->off < sp.lo ? st->off : sp.lo;
    int64_t hi = st->n && (int64_t)st->off + st->n - 1 > sp.hi ? (int64_t)st->off + st->n - 1
                                                                : sp.hi;
    if (hi - lo >= MAX_BUCKETS)
        return OWL_OK;
    if (!slot(st, (int32_t)sp.lo) || !slot(st, (int32_t)sp.hi))
        return OWL_ENOMEM;
    to->placed = 1;
    return OWL_OK;
}

/* Into an empty sketch (a new window's) the bytes decode straight, as owl_sketch_decode
 * would; a corrupt end empties it again. Into one holding buckets they are read twice,
 * first only checked, so that corrupt bytes leave dst as it was. Each weight is added at its
 * index in the ascending order owl_sketch_merge walks the decoded sketch's buckets in, and
 * the count is summed in owl_sketch_decode's order, so dst ends the same to the bit, unless
 * the decoded sketch would have folded buckets of its own (a store spanning more than
 * MAX_BUCKETS indexes): that one is decoded and merged. */
int owl_sketch_merge_encoded(owl_sketch *dst, const void *p, size_t n)
{
    if (!dst->pos.n && !dst->neg.n && dst->zero == 0 && dst->count == 0) {
        int rc = decode_into(dst, p, n);
        if (rc != OWL_OK)
            owl_sketch_clear(dst);
        return rc;
    }
    reader r = {p, (const uint8_t *)p + n};
    int flags, ints;
    double zero, count, ignored = 0;
    index_span pos, neg;
    sink to_pos, to_neg;
    int rc = get_head(&r, &flags, &zero);
    if (rc != OWL_OK)
        return rc;
    ints = flags & 2;
    const uint8_t *stores = r.p;
    count = zero;
    if ((rc = get_store(&r, (sink){NULL, 0}, ints, flags & 4, &count, &pos)) != OWL_OK ||
        (rc = get_store(&r, (sink){NULL, 0}, ints, flags & 8, &count, &neg)) != OWL_OK)
        return rc;
    if (r.p != r.end || !isfinite(count) || count <= 0)
        return OWL_ECORRUPT;
    if (pos.hi - pos.lo >= MAX_BUCKETS || neg.hi - neg.lo >= MAX_BUCKETS) {
        owl_sketch *s;
        if ((rc = owl_sketch_decode(p, n, &s)) == OWL_OK)
            rc = owl_sketch_merge(dst, s);
        owl_sketch_free(s);
        return rc;
    }
    if ((rc = make_room(&dst->pos, pos, &to_pos)) != OWL_OK ||
        (rc = make_room(&dst->neg, neg, &to_neg)) != OWL_OK)
        return rc;
    r.p = stores;
    if ((rc = get_store(&r, to_pos, ints, flags & 4, &ignored, &pos)) != OWL_OK ||
        (rc = get_store(&r, to_neg, ints, flags & 8, &ignored, &neg)) != OWL_OK)
        return rc;
    dst->zero += zero;
    dst->count += count;
    return OWL_OK;
}

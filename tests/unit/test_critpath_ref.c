/* test_critpath_ref.c — tracer/critpath.c's owl_critpath against a reference: the algorithm as
 * it stood before its instructions were cut (commit 3d8ff8d), kept here verbatim under ref_
 * names, must give the same on_path and self_ns on 100,000 random trees (chains and fans,
 * overlaps, asynchronous children, skewed server halves, producers and consumers, missing
 * parents and cycles, given roots, spans in progress, equal times, times near the int64 ends). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/tracer.h"

/* ---- the reference: critpath.c at 3d8ff8d ---- */

#define REF_SMALL 128

/* A child of the span being walked that overlaps its window: its effective interval clamped
 * into the window [cs, ce), its effective end before that clamp, and the offset its own
 * subtree's times take (a server half moved into its caller carries its descendants along). */
typedef struct ref_kid {
    int64_t cs, ce, end, off;
    int32_t idx;
} ref_kid;

/* A span on the path to walk: its window [ws, we), the offset added to its raw times, and its
 * effective interval [ps, pe] (for telling asynchronous children and skew apart). */
typedef struct ref_frame {
    int64_t ws, we, off, ps, pe;
    int32_t span;
} ref_frame;

static int64_t ref_sadd(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t ref_ssub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t ref_end_of(const owl_xf_span *s)
{
    return s->in_progress || s->end_ns < s->start_ns ? s->start_ns : s->end_ns;
}

static int32_t ref_parent_of(const owl_xf_trace *t, size_t i)
{
    int32_t p = t->spans[i].parent;
    return (p >= 0 && (size_t)p < t->n_spans && (size_t)p != i) ? p : -1;
}

/* The same rule as xfilter.c's: t->root when in range, else the earliest span without a
 * parent (the first of equal starts). */
static int32_t ref_root_of(const owl_xf_trace *t)
{
    if (t->root >= 0 && (size_t)t->root < t->n_spans)
        return t->root;
    int32_t r = -1;
    for (size_t i = 0; i < t->n_spans; i++)
        if (ref_parent_of(t, i) < 0 && (r < 0 || t->spans[i].start_ns < t->spans[r].start_ns))
            r = (int32_t)i;
    return r;
}

static int ref_same_str(const char *a, const char *b)
{
    int sa = a && *a, sb = b && *b;
    if (!sa || !sb)
        return sa == sb;
    return !strcmp(a, b);
}

/* C is the server half of P's call: clock skew between the two services, not asynchrony,
 * explains C outliving P. OTLP says it with kinds; an X-Ray segment under a subsegment that
 * was not marked remote is a server span of another service. */
static int ref_server_half(const owl_xf_span *p, const owl_xf_span *c)
{
    return c->kind == OWL_XF_SERVER &&
           (p->kind == OWL_XF_CLIENT || !ref_same_str(p->service, c->service));
}

/* Children lists in CSR form: the children of p are child[first[p] .. first[p + 1]), in index
 * order. The root is nobody's child (a root given by the caller may have a parent, even one
 * of its own descendants). */
static void ref_build_children(const owl_xf_trace *t, int32_t root, int32_t *first, int32_t *child)
{
    size_t n = t->n_spans;
    memset(first, 0, (n + 1) * sizeof *first);
    for (size_t i = 0; i < n; i++) {
        int32_t p = ref_parent_of(t, i);
        if (p >= 0 && (int32_t)i != root)
            first[p + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    for (size_t i = 0; i < n; i++) {
        int32_t p = ref_parent_of(t, i);
        if (p >= 0 && (int32_t)i != root)
            child[first[p]++] = (int32_t)i;
    }
    /* first[p] now holds the end of p's list, the start of p + 1's: shift back by one. */
    memmove(first + 1, first, n * sizeof *first);
    first[0] = 0;
}

/* Order of the children as the walk meets them: the latest clamped end first, then the
 * earliest start, then the lowest index. */
static int ref_kid_before(const ref_kid *a, const ref_kid *b)
{
    if (a->ce != b->ce)
        return a->ce > b->ce;
    if (a->cs != b->cs)
        return a->cs < b->cs;
    return a->idx < b->idx;
}

static int ref_kid_cmp(const void *x, const void *y)
{
    const ref_kid *a = x, *b = y;
    return ref_kid_before(a, b) ? -1 : ref_kid_before(b, a) ? 1 : 0;
}

static void ref_sort_kids(ref_kid *k, size_t n)
{
    if (n > 16) {
        qsort(k, n, sizeof *k, ref_kid_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        ref_kid x = k[i];
        size_t j = i;
        for (; j > 0 && ref_kid_before(&x, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = x;
    }
}

/* Of children that all cover the current instant, the critical one ends last by its own
 * (effective) end, then starts first, then has the lowest index. */
static int ref_kid_wins(const ref_kid *a, const ref_kid *b)
{
    if (a->end != b->end)
        return a->end > b->end;
    return ref_kid_before(a, b);
}

/* A binary heap of indexes into k, the winner on top. */
static void ref_heap_push(const ref_kid *k, int32_t *h, size_t *n, int32_t x)
{
    size_t i = (*n)++;
    while (i > 0 && ref_kid_wins(&k[x], &k[h[(i - 1) / 2]])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static void ref_heap_pop(const ref_kid *k, int32_t *h, size_t *n)
{
    int32_t x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && ref_kid_wins(&k[h[c + 1]], &k[h[c]]))
            c++;
        if (!ref_kid_wins(&k[h[c]], &k[x]))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = x;
}

/* How far a child may end after its parent and still be its synchronous part: clocks are
 * read at slightly different moments (the OpenTelemetry JS SDK's client spans end a fraction
 * of a millisecond after the server span that awaited them), so a child's end within
 * OWL_CRIT_OVERHANG_NS or 1% of its parent's length past the parent's is clamped, not read as
 * asynchronous. (The one change since 3d8ff8d: the margin was 1 ms, a named constant now.) */
static int64_t ref_overhang(const ref_frame *f)
{
    int64_t pct = ref_ssub(f->pe, f->ps) / 100;
    return pct > OWL_CRIT_OVERHANG_NS ? pct : OWL_CRIT_OVERHANG_NS;
}

/* The synchronous children of f's span that overlap its window, into k (sorted); their
 * count. */
static size_t ref_gather(const owl_xf_trace *t, const ref_frame *f, const int32_t *first,
                     const int32_t *child, ref_kid *k)
{
    const owl_xf_span *p = &t->spans[f->span];
    size_t n = 0;
    if (p->kind == OWL_XF_PRODUCER)
        return 0;
    int64_t late = ref_sadd(f->pe, ref_overhang(f)); /* a child ending after this is asynchronous */
    for (int32_t j = first[f->span]; j < first[f->span + 1]; j++) {
        int32_t ci = child[j];
        const owl_xf_span *c = &t->spans[ci];
        if (c->kind == OWL_XF_CONSUMER)
            continue;
        int64_t c0 = c->start_ns, c1 = ref_end_of(c), off = f->off;
        if (off) /* most frames are not moved */
            c0 = ref_sadd(c0, off), c1 = ref_sadd(c1, off);
        if (ref_server_half(p, c) && (c1 > f->pe || c0 < f->ps)) {
            /* Move it into its caller, keeping its length when it fits: left so it ends with
             * the caller, or right so it starts with it but without passing its end. */
            int64_t d = c1 > f->pe ? ref_ssub(c1, f->pe) : ref_ssub(c0, f->ps);
            if (c1 <= f->pe && ref_ssub(c1, f->pe) > d)
                d = ref_ssub(c1, f->pe);
            c0 = ref_ssub(c0, d), c1 = ref_ssub(c1, d), off = ref_ssub(off, d);
        } else if (c1 > late) {
            continue; /* outlives its parent: asynchronous */
        }
        int64_t cs = c0 > f->ws ? c0 : f->ws, ce = c1 < f->we ? c1 : f->we;
        if (cs >= ce)
            continue;
        k[n++] = (ref_kid){cs, ce, c1, off, ci};
    }
    ref_sort_kids(k, n);
    return n;
}

/* Walks the frame f: its self time, and its critical children pushed onto stack[*top]. The
 * children enter the heap h as the instant `now` moves back past their clamped end; one that
 * starts at or after now lies wholly in time already accounted for and leaves it for good. */
static int64_t ref_walk(const owl_xf_trace *t, const ref_frame *f, const int32_t *first,
                    const int32_t *child, ref_kid *k, int32_t *h, ref_frame *stack, size_t *top)
{
    size_t nk = ref_gather(t, f, first, child, k), j = 0, nh = 0;
    int64_t now = f->we, self = 0;
    while (now > f->ws) {
        for (; j < nk && k[j].ce >= now; j++)
            ref_heap_push(k, h, &nh, (int32_t)j);
        while (nh && k[h[0]].cs >= now)
            ref_heap_pop(k, h, &nh);
        const ref_kid *c;
        if (nh) {
            c = &k[h[0]];
            ref_heap_pop(k, h, &nh);
        } else if (j < nk) {
            c = &k[j++]; /* nothing covers now: the next to end before it */
        } else {
            break;
        }
        int64_t ce = c->ce < now ? c->ce : now;
        self += now - ce;
        const owl_xf_span *cs = &t->spans[c->idx];
        stack[(*top)++] = (ref_frame){c->cs, ce, c->off, ref_sadd(cs->start_ns, c->off),
                                  ref_sadd(ref_end_of(cs), c->off), c->idx};
        now = c->cs;
    }
    return self + (now - f->ws);
}

static int ref_critpath(const owl_xf_trace *t, uint8_t *on_path, int64_t *self_ns, owl_error *err)
{
    size_t n = t ? t->n_spans : 0;
    if (!n)
        return OWL_OK;
    memset(on_path, 0, n);
    memset(self_ns, 0, n * sizeof *self_ns);
    int32_t root = ref_root_of(t);
    if (root < 0)
        return OWL_OK; /* every span has a parent: only cycles, no root */

    int32_t first_s[REF_SMALL + 1], child_s[REF_SMALL], heap_s[REF_SMALL];
    ref_kid kids_s[REF_SMALL];
    ref_frame stack_s[REF_SMALL];
    int32_t *first = first_s, *child = child_s, *heap_ix = heap_s;
    ref_kid *kids = kids_s;
    ref_frame *stack = stack_s;
    void *heap = NULL;
    if (n > REF_SMALL) {
        size_t ints = ((3 * n + 1) * sizeof(int32_t) + 15) & ~(size_t)15;
        heap = malloc(ints + n * sizeof(ref_kid) + n * sizeof(ref_frame));
        if (!heap)
            return owl_error_set(err, OWL_ENOMEM, "out of memory (critical path of %zu spans)",
                                 n);
        first = heap;
        child = first + n + 1;
        heap_ix = child + n;
        kids = (ref_kid *)((char *)heap + ints);
        stack = (ref_frame *)(kids + n);
    }
    ref_build_children(t, root, first, child);

    const owl_xf_span *r = &t->spans[root];
    int64_t r0 = r->start_ns, r1 = ref_end_of(r);
    if (r1 - (uint64_t)r0 > (uint64_t)INT64_MAX) /* a window longer than int64 holds */
        r1 = r0 + INT64_MAX;
    size_t top = 0;
    stack[top++] = (ref_frame){r0, r1, 0, r0, r1, root};
    while (top) {
        const ref_frame *f = &stack[--top]; /* read before ref_walk pushes over it */
        int32_t s = f->span;
        on_path[s] = 1;
        if (first[s] == first[s + 1]) { /* a leaf: its whole window is its own */
            self_ns[s] = f->we - f->ws;
            continue;
        }
        ref_frame fr = *f;
        self_ns[s] = ref_walk(t, &fr, first, child, kids, heap_ix, stack, &top);
    }
    free(heap);
    return OWL_OK;
}

/* ---- random trees ---- */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(rnd64() % n);
}

/* A time near one end of int64 or the other, or anywhere. */
static int64_t huge_time(void)
{
    switch (rnd(4)) {
    case 0: return INT64_MAX - (int64_t)rnd(1000);
    case 1: return INT64_MIN + (int64_t)rnd(1000);
    case 2: return (int64_t)rnd64();
    default: return rnd(2) ? INT64_MAX / 2 : INT64_MIN / 2;
    }
}

/* Span i's parent: mostly the span before (a chain, chainy of 8 times) or an earlier one (one of
 * the first three for a fan: dozens of children to sort), sometimes a bad one. */
static int32_t random_parent(size_t i, size_t n, unsigned chainy, int fan)
{
    if (!i)
        return rnd(20) ? -1 : (int32_t)rnd((uint32_t)n);
    switch (rnd(80)) {
    case 0: return -1;
    case 1: return (int32_t)(n + rnd(3));        /* out of range */
    case 2: return -2 - (int32_t)rnd(3);         /* negative */
    case 3: return (int32_t)i;                   /* itself */
    case 4: return (int32_t)rnd((uint32_t)n);    /* anywhere: may close a cycle */
    default: break;
    }
    if (fan)
        return (int32_t)rnd(i < 3 ? (uint32_t)i : 3);
    return rnd(8) < chainy ? (int32_t)i - 1 : (int32_t)rnd((uint32_t)i);
}

/* a + b wrapping around, as the times near the int64 ends need (no undefined overflow in the
 * generator; the code under test sees whatever comes out). */
static int64_t wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* A number in [0, m]. */
static int64_t upto(int64_t m)
{
    return (int64_t)(rnd64() % ((uint64_t)m + 1));
}

/* Times for a span under a parent spanning [ps, pe] (unit u ns: large units make equal times
 * common): inside it mostly, else overlapping its start or end, well after it (asynchronous),
 * just after it (within the overhang margin), moved out of it (skew), or of no length. */
static void random_times(owl_xf_span *x, int64_t ps, int64_t pe, int64_t u)
{
    uint64_t d = pe > ps ? (uint64_t)pe - (uint64_t)ps : 0;
    int64_t len = d > (uint64_t)1 << 40 ? (int64_t)1 << 40 : (int64_t)d;
    int64_t a, b;
    if (rnd(6)) { /* most of the parent: chains stay long */
        a = wrap(ps, upto(len / 16));
        b = wrap(ps, len - upto(len / 16));
    } else {
        int64_t from = upto(len);
        a = wrap(ps, from);
        b = wrap(a, upto(len - from));
    }
    switch (rnd(24)) {
    case 0: a = wrap(a, -u * (int64_t)rnd(5)); break;                /* starts early */
    case 1: b = wrap(b, u * (int64_t)rnd(5)); break;                 /* ends late */
    case 2: b = wrap(pe, 2 * OWL_CRIT_OVERHANG_NS + (int64_t)rnd(3) * len); break; /* async */
    case 3: b = wrap(pe, (int64_t)rnd(OWL_CRIT_OVERHANG_NS + 1)); break; /* in the margin */
    case 4: a = wrap(a, -len / 2), b = wrap(b, -len / 2); break;     /* skewed early */
    case 5: a = wrap(a, len / 2), b = wrap(b, len); break;           /* skewed late */
    case 6: b = a; break;                                            /* no length */
    default: break;
    }
    x->start_ns = a;
    x->end_ns = b;
}

static void random_tree(owl_xf_span *s, size_t n)
{
    static const char *const svcs[] = {"a", "b", "c", "", NULL};
    static const int64_t units[] = {1, 10, 1000, 1000000, 50000000};
    int64_t u = units[rnd(5)];
    unsigned chainy = rnd(9); /* 0: a random tree .. 8: a chain */
    int fan = rnd(10) == 0;
    unsigned kinds = rnd(3);  /* 0: all INTERNAL, 1: client/server pairs, 2: any kind */
    unsigned svc_n = 1 + rnd(5);
    for (size_t i = 0; i < n; i++) {
        owl_xf_span *x = &s[i];
        memset(x, 0, sizeof *x);
        x->service = svcs[rnd(svc_n)];
        x->name = "op";
        int32_t p = random_parent(i, n, chainy, fan);
        x->parent = p;
        if (kinds == 1)
            x->kind = p >= 0 && (size_t)p < i && s[p].kind == OWL_XF_CLIENT ? OWL_XF_SERVER
                                                                           : OWL_XF_CLIENT;
        else if (kinds == 2)
            x->kind = (owl_xf_kind)rnd(3); /* INTERNAL, SERVER or CLIENT */
        if (kinds && rnd(16) == 0)
            x->kind = rnd(2) ? OWL_XF_PRODUCER : OWL_XF_CONSUMER;
        if (p >= 0 && (size_t)p < i) {
            int64_t pe = s[p].in_progress || s[p].end_ns < s[p].start_ns ? s[p].start_ns
                                                                          : s[p].end_ns;
            random_times(x, s[p].start_ns, pe, u);
        } else {
            /* the first span mostly starts first: the root's tree is the trace's bulk */
            int64_t t0 = u * (int64_t)rnd(i ? 1000 : 10);
            x->start_ns = t0;
            x->end_ns = t0 + u * (int64_t)rnd(1000000);
        }
        x->in_progress = rnd(40) == 0;
        if (rnd(50) == 0)
            x->end_ns = wrap(x->start_ns, -1 - (int64_t)rnd(10));
        if (rnd(200) == 0)
            x->start_ns = huge_time();
        if (rnd(200) == 0)
            x->end_ns = huge_time();
    }
}

Test(critpath_ref, same_as_reference_on_random_trees)
{
    enum { N = 400, ROUNDS = 100000 };
    static owl_xf_span s[N];
    static uint8_t on[N], ref_on[N];
    static int64_t self[N], ref_self[N];
    size_t spans = 0, on_path = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + rnd(round % 16 == 0 ? N : round % 4 == 0 ? 130 : 60);
        random_tree(s, n);
        int32_t root = rnd(12) == 0 ? (int32_t)rnd((uint32_t)n + 2) - 1 : -1;
        owl_xf_trace t = {s, n, root, 0};
        memset(on, 0xee, sizeof on);
        memset(self, 0xee, sizeof self);
        memset(ref_on, 0x77, sizeof ref_on);
        memset(ref_self, 0x77, sizeof ref_self);
        cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
        cr_assert_eq(ref_critpath(&t, ref_on, ref_self, NULL), OWL_OK);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(on[i], ref_on[i], "round %d span %zu of %zu: on %d, reference %d",
                         round, i, n, on[i], ref_on[i]);
            cr_assert_eq(self[i], ref_self[i], "round %d span %zu of %zu: self %lld, "
                         "reference %lld", round, i, n, (long long)self[i],
                         (long long)ref_self[i]);
            on_path += on[i];
        }
        spans += n;
    }
    /* The trees are not degenerate: a good share of their spans is on the path. */
    cr_assert_gt(on_path, spans / 20, "%zu of %zu spans on the path", on_path, spans);
}

/* A server half so far from its client that the distance saturates: it moves by INT64_MIN
 * only, and its own end plus the offset it then carries (its descendants' frame of reference)
 * is one less than its moved end. Its child ends one past the asynchrony margin of the former,
 * inside that of the latter: it must be read as asynchronous, as the reference reads it. */
Test(critpath_ref, saturated_move_keeps_the_moved_child_s_own_end)
{
    owl_xf_span s[3] = {
        {.service = "a", .name = "call", .kind = OWL_XF_CLIENT, .start_ns = 100, .end_ns = 1000,
         .parent = -1},
        {.service = "b", .name = "serve", .kind = OWL_XF_SERVER, .start_ns = INT64_MIN + 10,
         .end_ns = INT64_MIN + 500, .parent = 0},
        {.service = "b", .name = "work", .kind = OWL_XF_INTERNAL, .start_ns = INT64_MIN + 20,
         .end_ns = INT64_MIN + OWL_CRIT_OVERHANG_NS + 501, .parent = 1},
    };
    owl_xf_trace t = {s, 3, -1, 0};
    uint8_t on[3], ref_on[3];
    int64_t self[3], ref_self[3];
    cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
    cr_assert_eq(ref_critpath(&t, ref_on, ref_self, NULL), OWL_OK);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(on[i], ref_on[i], "span %d", i);
        cr_expect_eq(self[i], ref_self[i], "span %d", i);
    }
    cr_expect_eq(on[2], 0);
    cr_expect_eq(self[1], 400);
}

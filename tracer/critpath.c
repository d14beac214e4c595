/* critpath.c — the critical path of one trace (owl_critpath) and where its failures start
 * (owl_fault_origin); the rules and owl's choices are in docs/service-map.md,
 * "Critical path" and "Root cause".
 *
 * Invariants: the walk is iterative (a work stack of path windows, each span entered at most
 * once, from its parent; an only critical child straight away, without the stack), so a chain
 * of 100,000 spans costs no C stack; the windows handed to a span's critical children and its
 * own pieces partition its window exactly, so on the path the self times add up to the root's
 * duration and none is negative. */
#include "tracer/tracer.h"

#include <stdlib.h>
#include <string.h>

/* Traces up to this many spans take their scratch from the C stack: no allocation at all for
 * the common trace (about 13 KiB of stack). */
#define SMALL 128

/* A child of the span being walked that overlaps its window: its effective interval clamped
 * into the window [cs, ce), its effective end before that clamp, and the offset its own
 * subtree's times take (a server half moved into its caller carries its descendants along;
 * `moved` says this one was, so its end is not simply its raw end plus off). */
typedef struct kid {
    int64_t cs, ce, end, off;
    int32_t idx, moved;
} kid;

/* A span on the path to walk: its window [ws, we), the offset added to its raw times, and its
 * effective interval [ps, pe] (for telling asynchronous children and skew apart). */
typedef struct frame {
    int64_t ws, we, off, ps, pe;
    int32_t span;
} frame;

static int64_t sadd(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t ssub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t end_of(const owl_xf_span *s)
{
    return s->in_progress || s->end_ns < s->start_ns ? s->start_ns : s->end_ns;
}

static int same_str(const char *a, const char *b)
{
    int sa = a && *a, sb = b && *b;
    if (!sa || !sb)
        return sa == sb;
    return !strcmp(a, b);
}

/* C is the server half of P's call: clock skew between the two services, not asynchrony,
 * explains C outliving P. OTLP says it with kinds; an X-Ray segment under a subsegment that
 * was not marked remote is a server span of another service. */
static int server_half(const owl_xf_span *p, const owl_xf_span *c)
{
    return c->kind == OWL_XF_SERVER &&
           (p->kind == OWL_XF_CLIENT || !same_str(p->service, c->service));
}

/* Children lists: head[p] is p's child of highest index and next[c] the child of p's next
 * lower index (-1 ends a list). Children mostly come in the order they ran; from the last back
 * they come close to the order gather sorts them in, the latest first. The root is nobody's
 * child (a root given by the caller may have a parent, even one of its own descendants).
 * Returns the root, by the same rule as xfilter.c's: t->root when in range, else the earliest
 * span without a parent (the first of equal starts); -1 when there is none. */
static int32_t link_children(const owl_xf_trace *t, int32_t *head, int32_t *next)
{
    size_t n = t->n_spans;
    int32_t given = t->root >= 0 && (size_t)t->root < n ? t->root : -1, r = -1;
    memset(head, 0xff, n * sizeof *head);
    for (size_t i = 0; i < n; i++) {
        int32_t p = t->spans[i].parent;
        if (p >= 0 && (size_t)p < n && (size_t)p != i) {
            if ((int32_t)i != given)
                next[i] = head[p], head[p] = (int32_t)i;
        } else if (r < 0 || t->spans[i].start_ns < t->spans[r].start_ns) {
            r = (int32_t)i;
        }
    }
    return given >= 0 ? given : r;
}

/* Order of the children as the walk meets them: the latest clamped end first, then the
 * earliest start, then the lowest index. */
static int kid_before(const kid *a, const kid *b)
{
    if (a->ce != b->ce)
        return a->ce > b->ce;
    if (a->cs != b->cs)
        return a->cs < b->cs;
    return a->idx < b->idx;
}

static int kid_cmp(const void *x, const void *y)
{
    const kid *a = x, *b = y;
    return kid_before(a, b) ? -1 : kid_before(b, a) ? 1 : 0;
}

static void sort_kids(kid *k, size_t n)
{
    if (n > 16) {
        qsort(k, n, sizeof *k, kid_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        kid x = k[i];
        size_t j = i;
        for (; j > 0 && kid_before(&x, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = x;
    }
}

/* Of children that all cover the current instant, the critical one ends last by its own
 * (effective) end, then starts first, then has the lowest index. */
static int kid_wins(const kid *a, const kid *b)
{
    if (a->end != b->end)
        return a->end > b->end;
    return kid_before(a, b);
}

/* A binary heap of indexes into k, the winner on top. */
static void heap_push(const kid *k, int32_t *h, size_t *n, int32_t x)
{
    size_t i = (*n)++;
    while (i > 0 && kid_wins(&k[x], &k[h[(i - 1) / 2]])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static void heap_pop(const kid *k, int32_t *h, size_t *n)
{
    int32_t x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && kid_wins(&k[h[c + 1]], &k[h[c]]))
            c++;
        if (!kid_wins(&k[h[c]], &k[x]))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = x;
}

/* How far a child may end after its parent and still be its synchronous part
 * (OWL_CRIT_OVERHANG_NS or 1% of the parent's length, tracer.h says why). */
static int64_t overhang(const frame *f)
{
    int64_t pct = ssub(f->pe, f->ps) / 100;
    return pct > OWL_CRIT_OVERHANG_NS ? pct : OWL_CRIT_OVERHANG_NS;
}

/* Child c (index ci) of f's span p as a kid in *k: 0 when it is not synchronous or does not
 * overlap f's window. (inline, as gather and frame_of: each runs once or twice a span, and out
 * of line their calls cost more than their work.) */
static inline int kid_of(const owl_xf_span *p, const frame *f, const owl_xf_span *c, int32_t ci,
                         kid *k)
{
    if (c->kind == OWL_XF_CONSUMER)
        return 0;
    int64_t c0 = c->start_ns, c1 = end_of(c), off = f->off;
    int moved = 0;
    if (off) /* most frames are not moved */
        c0 = sadd(c0, off), c1 = sadd(c1, off);
    if (c1 > f->pe || c0 < f->ps) { /* sticks out of its parent: skew or asynchrony */
        if (server_half(p, c)) {
            /* Move it into its caller, keeping its length when it fits: left so it ends with
             * the caller, or right so it starts with it but without passing its end. */
            int64_t d = c1 > f->pe ? ssub(c1, f->pe) : ssub(c0, f->ps);
            if (c1 <= f->pe && ssub(c1, f->pe) > d)
                d = ssub(c1, f->pe);
            c0 = ssub(c0, d), c1 = ssub(c1, d), off = ssub(off, d), moved = 1;
        } else if (c1 > f->pe && c1 > sadd(f->pe, overhang(f))) {
            return 0; /* outlives its parent (past the margin, worked out only then): async */
        }
    }
    int64_t cs = c0 > f->ws ? c0 : f->ws, ce = c1 < f->we ? c1 : f->we;
    if (cs >= ce)
        return 0;
    *k = (kid){cs, ce, c1, off, ci, moved};
    return 1;
}

/* The synchronous children of f's span that overlap its window, into k (sorted when more than
 * one); their count. */
static inline size_t gather(const owl_xf_trace *t, const frame *f, const int32_t *head,
                            const int32_t *next, kid *k)
{
    const owl_xf_span *p = &t->spans[f->span];
    if (p->kind == OWL_XF_PRODUCER)
        return 0;
    size_t n = 0;
    for (int32_t ci = head[f->span]; ci >= 0; ci = next[ci])
        n += (size_t)kid_of(p, f, &t->spans[ci], ci, &k[n]);
    if (n > 1)
        sort_kids(k, n);
    return n;
}

/* Into *f, the frame of the critical child c, its window [c->cs, ce). Its effective interval
 * is its raw one plus its offset: for a child that was not moved, kid_of computed that end
 * already (a moved one's differs from it when the move saturated). */
static inline void frame_of(const owl_xf_trace *t, const kid *c, int64_t ce, frame *f)
{
    const owl_xf_span *s = &t->spans[c->idx];
    f->ws = c->cs;
    f->we = ce;
    f->off = c->off;
    f->ps = c->off ? sadd(s->start_ns, c->off) : s->start_ns;
    f->pe = c->moved ? sadd(end_of(s), c->off) : c->end;
    f->span = c->idx;
}

/* Walks the frame f whose nk (more than one) kids are in k: its self time, and its critical
 * children pushed onto stack[*top]. The kids enter the heap h as the instant `now` moves back
 * past their clamped end; one that starts at or after now lies wholly in time already
 * accounted for and leaves it for good. */
static int64_t walk(const owl_xf_trace *t, const frame *f, const kid *k, size_t nk, int32_t *h,
                    frame *stack, size_t *top)
{
    size_t j = 0, nh = 0;
    int64_t now = f->we, self = 0;
    while (now > f->ws) {
        for (; j < nk && k[j].ce >= now; j++)
            heap_push(k, h, &nh, (int32_t)j);
        while (nh && k[h[0]].cs >= now)
            heap_pop(k, h, &nh);
        const kid *c;
        if (nh) {
            c = &k[h[0]];
            heap_pop(k, h, &nh);
        } else if (j < nk) {
            c = &k[j++]; /* nothing covers now: the next to end before it */
        } else {
            break;
        }
        int64_t ce = c->ce < now ? c->ce : now;
        self += now - ce;
        frame_of(t, c, ce, &stack[(*top)++]);
        now = c->cs;
    }
    return self + (now - f->ws);
}

int owl_critpath(const owl_xf_trace *t, uint8_t *on_path, int64_t *self_ns, owl_error *err)
{
    size_t n = t ? t->n_spans : 0;
    if (!n)
        return OWL_OK;
    memset(on_path, 0, n);
    memset(self_ns, 0, n * sizeof *self_ns);

    int32_t head_s[SMALL], next_s[SMALL], heap_s[SMALL];
    kid kids_s[SMALL];
    frame stack_s[SMALL];
    int32_t *head = head_s, *next = next_s, *heap_ix = heap_s;
    kid *kids = kids_s;
    frame *stack = stack_s;
    void *heap = NULL;
    if (n > SMALL) {
        size_t ints = (3 * n * sizeof(int32_t) + 15) & ~(size_t)15;
        heap = malloc(ints + n * sizeof(kid) + n * sizeof(frame));
        if (!heap)
            return owl_error_set(err, OWL_ENOMEM, "out of memory (critical path of %zu spans)",
                                 n);
        head = heap;
        next = head + n;
        heap_ix = next + n;
        kids = (kid *)((char *)heap + ints);
        stack = (frame *)(kids + n);
    }
    int32_t root = link_children(t, head, next);
    if (root < 0) { /* every span has a parent: only cycles, no root */
        free(heap);
        return OWL_OK;
    }

    const owl_xf_span *r = &t->spans[root];
    int64_t r0 = r->start_ns, r1 = end_of(r);
    if (r1 - (uint64_t)r0 > (uint64_t)INT64_MAX) /* a window longer than int64 holds */
        r1 = r0 + INT64_MAX;
    size_t top = 0;
    frame f = {r0, r1, 0, r0, r1, root};
    for (;;) {
        int32_t s = f.span;
        on_path[s] = 1;
        size_t nk = head[s] < 0 ? 0 : gather(t, &f, head, next, kids);
        if (nk == 1) {
            /* One kid, the common chain: walk would take it (it ends at the window's end or
             * is the next to end before it) with the window [cs, ce) and leave the rest to the
             * span; the same without the heap, and the path goes straight on into it. */
            self_ns[s] = (f.we - kids[0].ce) + (kids[0].cs - f.ws);
            frame_of(t, &kids[0], kids[0].ce, &f);
            continue;
        }
        self_ns[s] = nk ? walk(t, &f, kids, nk, heap_ix, stack, &top) : f.we - f.ws;
        if (!top)
            break;
        f = stack[--top];
    }
    free(heap);
    return OWL_OK;
}

/* ---- fault origin ---- */

static int32_t parent_of(const owl_xf_trace *t, size_t i)
{
    int32_t p = t->spans[i].parent;
    return (p >= 0 && (size_t)p < t->n_spans && (size_t)p != i) ? p : -1;
}

static int has_status(const owl_xf_span *s, unsigned which)
{
    return ((which & OWL_FO_FAULT) && s->fault) || ((which & OWL_FO_ERROR) && s->error) ||
           ((which & OWL_FO_THROTTLE) && s->throttle);
}

/* The depth of span i without memory: the number of its ancestors up to the first that has no
 * parent or lies on a cycle (a span on a cycle reads as having no parent). Brent's cycle
 * finding along the parent chain; O(chain length). */
static int32_t depth_walk(const owl_xf_trace *t, int32_t i)
{
    /* Find the cycle's length lam, if the chain has one. */
    int32_t power = 1, lam = 1, tort = i, hare = parent_of(t, i);
    while (hare >= 0 && hare != tort) {
        if (power == lam) {
            tort = hare;
            power *= 2;
            lam = 0;
        }
        hare = parent_of(t, hare);
        lam++;
    }
    if (hare < 0) { /* no cycle: count up to the top */
        int32_t d = 0;
        for (int32_t j = parent_of(t, i); j >= 0; j = parent_of(t, j))
            d++;
        return d;
    }
    /* mu, the distance from i to the first span on the cycle. */
    tort = hare = i;
    for (int32_t s = 0; s < lam; s++)
        hare = parent_of(t, hare);
    int32_t mu = 0;
    while (tort != hare) {
        tort = parent_of(t, tort);
        hare = parent_of(t, hare);
        mu++;
    }
    return mu;
}

/* Depths of the spans that need one, memoised in depth[] (-1 unknown, -2 on the walk being
 * made): each span is walked once, O(n) for the trace. */
static int32_t depth_memo(const owl_xf_trace *t, int32_t *depth, int32_t i)
{
    if (depth[i] >= 0)
        return depth[i];
    int32_t len = 0, j = i; /* j: the first span not walked (-1: the top was reached) */
    while (j >= 0 && depth[j] == -1) {
        depth[j] = -2;
        len++;
        j = parent_of(t, j);
    }
    int32_t base; /* depth of the last walked span */
    if (j < 0) {
        base = 0;
    } else if (depth[j] >= 0) {
        base = depth[j] + 1;
    } else {
        /* j is on this walk: from j on the walk is a cycle, whose spans read as parentless. */
        int32_t m = 0;
        for (int32_t x = i; x != j; x = parent_of(t, x))
            m++;
        int32_t x = i;
        for (int32_t k = 0; k < len; k++, x = parent_of(t, x))
            depth[x] = k < m ? m - k : 0;
        return depth[i];
    }
    int32_t x = i;
    for (int32_t k = 0; k < len; k++, x = parent_of(t, x))
        depth[x] = base + (len - 1 - k);
    return depth[i];
}

int32_t owl_fault_origin(const owl_xf_trace *t, unsigned which)
{
    if (!t || !t->n_spans || !t->spans)
        return -1;
    size_t n = t->n_spans, count = 0;
    int32_t only = -1;
    for (size_t i = 0; i < n; i++)
        if (has_status(&t->spans[i], which))
            count++, only = (int32_t)i;
    if (count <= 1)
        return only;

    /* Few failed spans (the usual case) are each walked up; many share the walk through
     * memoised depths (which fall back to walking when there is no memory for them). */
    int32_t depth_s[1024], *depth = NULL;
    if (count <= 8)
        depth = NULL;
    else if (n <= 1024)
        depth = depth_s;
    else
        depth = malloc(n * sizeof *depth);
    if (depth)
        for (size_t i = 0; i < n; i++)
            depth[i] = -1;
    int32_t best = -1, best_d = -1;
    for (size_t i = 0; i < n; i++) {
        const owl_xf_span *s = &t->spans[i];
        if (!has_status(s, which))
            continue;
        int32_t d = depth ? depth_memo(t, depth, (int32_t)i) : depth_walk(t, (int32_t)i);
        if (d > best_d || (d == best_d && s->start_ns < t->spans[best].start_ns))
            best = (int32_t)i, best_d = d;
    }
    if (depth != depth_s)
        free(depth);
    return best;
}

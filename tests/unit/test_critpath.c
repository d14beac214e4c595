/* test_critpath.c — tracer/critpath.c: the critical path of crafted trees with the exact self
 * times expected (sequential and overlapping children, asynchronous children, producer and
 * consumer, clock skew both ways, missing parents and several roots, cycles, spans in
 * progress, chains and fans of 100,000 spans), a randomized property test (on the path the
 * self times add up to the root's duration, none is negative, a path span's parent is on the
 * path), and the fault origin against a brute-force reference. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/tracer.h"

#define SP(svc, nm, k, s, e, p)                                                        \
    {.service = (svc), .name = (nm), .kind = OWL_XF_##k, .start_ns = (s), .end_ns = (e), \
     .parent = (p)}

#define MS 1000000LL

typedef struct res {
    uint8_t on[64];
    int64_t self[64];
} res;

/* Runs owl_critpath on spans[0..n) (root -1) and checks the sum invariant. */
static void run(const owl_xf_span *spans, size_t n, int32_t root, res *r)
{
    owl_xf_trace t = {spans, n, root, 0};
    owl_error err;
    cr_assert_leq(n, 64);
    memset(r, 0xee, sizeof *r);
    cr_assert_eq(owl_critpath(&t, r->on, r->self, &err), OWL_OK);
}

static void expect(const res *r, size_t n, const int64_t *self, const uint8_t *on)
{
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(r->on[i], on[i], "span %zu on path: %d, expected %d", i, r->on[i], on[i]);
        cr_expect_eq(r->self[i], self[i], "span %zu self %lld, expected %lld", i,
                     (long long)r->self[i], (long long)self[i]);
    }
}

Test(critpath, sequential_children)
{
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100, -1),
        SP("a", "A", INTERNAL, 10, 40, 0),
        SP("a", "B", INTERNAL, 50, 90, 0),
    };
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){30, 30, 40}, (uint8_t[]){1, 1, 1});
}

Test(critpath, overlapping_children)
{
    /* B ends last and is critical from 40; A covers what is left before it, up to 40. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100, -1),
        SP("a", "A", INTERNAL, 10, 60, 0),
        SP("a", "B", INTERNAL, 40, 90, 0),
        SP("a", "C", INTERNAL, 45, 55, 0), /* inside B's time: never critical */
    };
    res r;
    run(s, 4, -1, &r);
    expect(&r, 4, (int64_t[]){20, 30, 50, 0}, (uint8_t[]){1, 1, 1, 0});
}

Test(critpath, nested_and_tie)
{
    /* A2 and A3 end together: the earlier starting one (A3) is critical; A1 fills in. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100, -1),
        SP("a", "A", INTERNAL, 10, 90, 0),
        SP("a", "A1", INTERNAL, 20, 50, 1),
        SP("a", "A2", INTERNAL, 40, 80, 1),
        SP("a", "A3", INTERNAL, 30, 80, 1),
    };
    res r;
    run(s, 5, -1, &r);
    expect(&r, 5, (int64_t[]){20, 20, 10, 0, 50}, (uint8_t[]){1, 1, 1, 0, 1});
}

Test(critpath, async_children)
{
    /* a child outliving its parent by more than the margin (2 ms or 1%) is asynchronous */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100 * MS, -1),
        SP("a", "fire-and-forget", INTERNAL, 50 * MS, 150 * MS, 0), /* outlives its parent */
        SP("a", "under it", INTERNAL, 60 * MS, 70 * MS, 1),
        SP("a", "consume", CONSUMER, 10 * MS, 30 * MS, 0), /* a consumer is never waited on */
        SP("a", "send", PRODUCER, 30 * MS, 40 * MS, 0),    /* the send itself is synchronous */
        SP("b", "receive", CONSUMER, 35 * MS, 39 * MS, 4), /* its consumer is not */
        SP("b", "handle", INTERNAL, 35 * MS, 38 * MS, 4),  /* nor anything under a producer */
    };
    res r;
    run(s, 7, -1, &r);
    expect(&r, 7, (int64_t[]){90 * MS, 0, 0, 0, 10 * MS, 0, 0}, (uint8_t[]){1, 0, 0, 0, 1, 0, 0});
}

Test(critpath, a_child_ending_a_moment_after_its_parent_is_synchronous)
{
    /* The OpenTelemetry JS SDK ends a client span 0.4 ms after the server span that awaited
     * it: within the margin (2 ms or 1% of the parent), clamped, on the path. */
    const owl_xf_span s[] = {
        SP("a", "GET /checkout", SERVER, 0, 630 * MS, -1),
        SP("a", "POST", CLIENT, 150 * MS, 630 * MS + 400000, 0),
        SP("b", "POST /orders", SERVER, 160 * MS, 620 * MS, 1),
    };
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){150 * MS, 20 * MS, 460 * MS}, (uint8_t[]){1, 1, 1});
}

Test(critpath, the_overhang_margin_s_edges)
{
    /* A 2 ms parent (1% of it is under the margin): a child ending OWL_CRIT_OVERHANG_NS after
     * it is clamped and on the path; one nanosecond more and it is asynchronous. */
    const owl_xf_span in[] = {
        SP("a", "POST /charge", SERVER, 0, 2 * MS, -1),
        SP("a", "INSERT", CLIENT, MS, 2 * MS + OWL_CRIT_OVERHANG_NS, 0),
    };
    const owl_xf_span out[] = {
        SP("a", "POST /charge", SERVER, 0, 2 * MS, -1),
        SP("a", "INSERT", CLIENT, MS, 2 * MS + OWL_CRIT_OVERHANG_NS + 1, 0),
    };
    /* a 1 s parent: 1% of it (10 ms) is the margin */
    const owl_xf_span long_in[] = {
        SP("a", "GET /", SERVER, 0, 1000 * MS, -1),
        SP("a", "GET", CLIENT, 500 * MS, 1010 * MS, 0),
    };
    const owl_xf_span long_out[] = {
        SP("a", "GET /", SERVER, 0, 1000 * MS, -1),
        SP("a", "GET", CLIENT, 500 * MS, 1010 * MS + 1, 0),
    };
    res r;
    run(in, 2, -1, &r);
    expect(&r, 2, (int64_t[]){MS, MS}, (uint8_t[]){1, 1});
    run(out, 2, -1, &r);
    expect(&r, 2, (int64_t[]){2 * MS, 0}, (uint8_t[]){1, 0});
    run(long_in, 2, -1, &r);
    expect(&r, 2, (int64_t[]){500 * MS, 500 * MS}, (uint8_t[]){1, 1});
    run(long_out, 2, -1, &r);
    expect(&r, 2, (int64_t[]){1000 * MS, 0}, (uint8_t[]){1, 0});
}

Test(critpath, skew_server_late)
{
    /* The server half ends 30 after its client: moved 30 earlier, with its own child. */
    const owl_xf_span s[] = {
        SP("a", "call b", CLIENT, 0, 100, -1),
        SP("b", "handle", SERVER, 20, 130, 0),
        SP("b", "db", CLIENT, 30, 120, 1),
    };
    res r;
    run(s, 3, -1, &r);
    /* handle: [-10, 100) clamped to [0, 100); db: [0, 90). */
    expect(&r, 3, (int64_t[]){0, 10, 90}, (uint8_t[]){1, 1, 1});
}

Test(critpath, skew_server_early)
{
    /* The server half starts 40 before its client: moved 40 later, its child with it. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 90, 210, -1),
        SP("a", "call b", CLIENT, 100, 200, 0),
        SP("b", "handle", SERVER, 60, 160, 1),
        SP("b", "work", INTERNAL, 70, 150, 2),
    };
    res r;
    run(s, 4, -1, &r);
    /* handle: [100, 200); work: [110, 190). */
    expect(&r, 4, (int64_t[]){20, 0, 20, 80}, (uint8_t[]){1, 1, 1, 1});
}

Test(critpath, skew_server_longer_than_client)
{
    /* A server half longer than its client: moved right by no more than keeps its end inside,
     * then clamped to the client's start. */
    const owl_xf_span s[] = {
        SP("a", "call b", CLIENT, 100, 200, -1),
        SP("b", "handle", SERVER, 50, 190, 0),
        SP("b", "work", INTERNAL, 50, 100, 1), /* moved to [60, 110): [100, 110) remains */
    };
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){0, 90, 10}, (uint8_t[]){1, 1, 1});
}

Test(critpath, xray_segment_under_plain_subsegment)
{
    /* An X-Ray segment of another service under a subsegment not marked remote (INTERNAL)
     * is the server half of that call too. */
    const owl_xf_span s[] = {
        SP("a", "segment", SERVER, 0, 100, -1),
        SP("a", "subsegment", INTERNAL, 10, 90, 0),
        SP("b", "segment b", SERVER, 20, 95, 1),
    };
    res r;
    run(s, 3, -1, &r);
    /* segment b: [15, 90) */
    expect(&r, 3, (int64_t[]){20, 5, 75}, (uint8_t[]){1, 1, 1});
}

Test(critpath, child_starting_early_is_clamped)
{
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 10, 100, -1),
        SP("a", "early", INTERNAL, 0, 50, 0),
        SP("a", "before", INTERNAL, 0, 10, 0), /* all of it before the root: off the path */
    };
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){50, 40, 0}, (uint8_t[]){1, 1, 0});
}

Test(critpath, internal_child_late_is_async_not_skew)
{
    /* Only a server half is moved: a same-service client child that outlives (by more than
     * the tolerance) is async. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100 * MS, -1),
        SP("a", "call", CLIENT, 10 * MS, 103 * MS, 0),
    };
    res r;
    run(s, 2, -1, &r);
    expect(&r, 2, (int64_t[]){100 * MS, 0}, (uint8_t[]){1, 0});
}

Test(critpath, missing_parents_several_roots)
{
    const owl_xf_span s[] = {
        SP("a", "late root", SERVER, 50, 80, -1),
        SP("a", "orphan", SERVER, 0, 100, 99),  /* parent out of range: a root, the earliest */
        SP("a", "child", INTERNAL, 10, 20, 1),
        SP("a", "self-parent", INTERNAL, 5, 6, 3), /* its own parent: a root too */
        SP("a", "under late", INTERNAL, 55, 60, 0),
    };
    res r;
    run(s, 5, -1, &r);
    expect(&r, 5, (int64_t[]){0, 90, 10, 0, 0}, (uint8_t[]){0, 1, 1, 0, 0});
    /* The caller's root wins. */
    run(s, 5, 0, &r);
    expect(&r, 5, (int64_t[]){25, 0, 0, 0, 5}, (uint8_t[]){1, 0, 0, 0, 1});
}

Test(critpath, cycles)
{
    /* 1 and 2 are each other's parent: no root among them; the root span 0 is alone. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100, -1),
        SP("a", "x", INTERNAL, 10, 20, 2),
        SP("a", "y", INTERNAL, 10, 20, 1),
    };
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){100, 0, 0}, (uint8_t[]){1, 0, 0});
    /* A root given by the caller that is inside a cycle: its parent is ignored. */
    const owl_xf_span c[] = {
        SP("a", "root", SERVER, 0, 100, 2),
        SP("a", "child", INTERNAL, 10, 90, 0),
        SP("a", "grandchild", INTERNAL, 20, 80, 1),
    };
    run(c, 3, 0, &r);
    expect(&r, 3, (int64_t[]){20, 20, 60}, (uint8_t[]){1, 1, 1});
    /* Only a cycle: no root at all. */
    const owl_xf_span o[] = {
        SP("a", "x", INTERNAL, 10, 20, 1),
        SP("a", "y", INTERNAL, 10, 20, 0),
    };
    run(o, 2, -1, &r);
    expect(&r, 2, (int64_t[]){0, 0}, (uint8_t[]){0, 0});
}

Test(critpath, in_progress)
{
    owl_xf_span s[] = {
        SP("a", "root", SERVER, 0, 100, -1),
        SP("a", "running", INTERNAL, 10, 0, 0),
        SP("a", "under it", INTERNAL, 10, 20, 1),
    };
    s[1].in_progress = 1;
    res r;
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){100, 0, 0}, (uint8_t[]){1, 0, 0});
    s[0].in_progress = 1; /* the root in progress: a path of no length */
    run(s, 3, -1, &r);
    expect(&r, 3, (int64_t[]){0, 0, 0}, (uint8_t[]){1, 0, 0});
    /* An end before the start reads as in progress. */
    const owl_xf_span b[] = {SP("a", "root", SERVER, 100, 50, -1)};
    run(b, 1, -1, &r);
    expect(&r, 1, (int64_t[]){0}, (uint8_t[]){1});
}

Test(critpath, extreme_times)
{
    /* A root spanning the whole int64 range: the window is cut to INT64_MAX ns so that self
     * times still add up without overflow. */
    const owl_xf_span s[] = {
        SP("a", "root", SERVER, INT64_MIN, INT64_MAX, -1),
        SP("a", "child", INTERNAL, 0, INT64_MAX, 0),
    };
    res r;
    run(s, 2, -1, &r);
    cr_assert_eq(r.on[0], 1);
    int64_t sum = r.self[0] + (r.on[1] ? r.self[1] : 0);
    cr_assert_eq(sum, INT64_MAX);
    cr_assert_geq(r.self[0], 0);
    cr_assert_geq(r.self[1], 0);
}

Test(critpath, empty_and_null)
{
    owl_xf_trace t = {NULL, 0, -1, 0};
    cr_assert_eq(owl_critpath(&t, NULL, NULL, NULL), OWL_OK);
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), -1);
    cr_assert_eq(owl_fault_origin(NULL, OWL_FO_FAULT), -1);
}

/* ---- large traces ---- */

#define BIG 100000

Test(critpath, deep_chain)
{
    owl_xf_span *s = calloc(BIG, sizeof *s);
    uint8_t *on = malloc(BIG);
    int64_t *self = malloc(BIG * sizeof *self);
    cr_assert(s && on && self);
    for (int i = 0; i < BIG; i++) /* span i: [i, 2 BIG - i], under span i - 1 */
        s[i] = (owl_xf_span)SP("a", "op", INTERNAL, i, 2 * BIG - i, i - 1);
    owl_xf_trace t = {s, BIG, -1, 0};
    cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
    for (int i = 0; i < BIG - 1; i++) {
        cr_assert_eq(on[i], 1);
        cr_assert_eq(self[i], 2, "span %d self %lld", i, (long long)self[i]);
    }
    cr_assert_eq(self[BIG - 1], 2);
    /* Every span faulted: the deepest is the origin (memoised depths on the heap). */
    for (int i = 0; i < BIG; i++)
        s[i].fault = 1;
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), BIG - 1);
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_ERROR), -1);
    /* Reversed: the chain's top is the last span. */
    for (int i = 0; i < BIG; i++)
        s[i].parent = i + 1 < BIG ? i + 1 : -1;
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), 0);
    free(s);
    free(on);
    free(self);
}

Test(critpath, wide_fan)
{
    /* 100,000 sequential children of one root, given in reverse order, and as many
     * overlapping ones: each child covers its own time. */
    owl_xf_span *s = calloc(BIG + 1, sizeof *s);
    uint8_t *on = malloc(BIG + 1);
    int64_t *self = malloc((BIG + 1) * sizeof *self);
    cr_assert(s && on && self);
    s[0] = (owl_xf_span)SP("a", "root", SERVER, 0, 3 * (int64_t)BIG, -1);
    for (int i = 1; i <= BIG; i++) {
        int64_t st = 3 * (int64_t)(BIG - i) + 1;
        s[i] = (owl_xf_span)SP("a", "op", INTERNAL, st, st + 1, 0);
    }
    owl_xf_trace t = {s, BIG + 1, -1, 0};
    cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
    cr_assert_eq(self[0], 2 * (int64_t)BIG);
    for (int i = 1; i <= BIG; i++)
        cr_assert(on[i] && self[i] == 1);
    /* Child i: [i, i + 10]. The last is critical for its 10 ns; before it, of the ten that
     * cover each instant the one ending last wins, so every other child is critical 1 ns. */
    for (int i = 1; i <= BIG; i++) {
        s[i].start_ns = i;
        s[i].end_ns = i + 10;
    }
    s[0].end_ns = BIG + 10;
    cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
    cr_assert_eq(self[0], 1);
    for (int i = 1; i < BIG; i++)
        cr_assert(on[i] && self[i] == 1, "span %d: on %d self %lld", i, on[i],
                  (long long)self[i]);
    cr_assert(on[BIG] && self[BIG] == 10);
    free(s);
    free(on);
    free(self);
}

/* ---- property test ---- */

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Fills s[0..n) with a random trace: mostly a tree, with skew, async, in-progress spans, bad
 * parents and cycles. */
static void random_trace(owl_xf_span *s, size_t n)
{
    static const char *const svcs[] = {"a", "b", "c"};
    static const owl_xf_kind kinds[] = {OWL_XF_INTERNAL, OWL_XF_SERVER, OWL_XF_CLIENT,
                                        OWL_XF_PRODUCER, OWL_XF_CONSUMER};
    for (size_t i = 0; i < n; i++) {
        owl_xf_span *x = &s[i];
        memset(x, 0, sizeof *x);
        x->service = svcs[rnd(3)];
        x->name = "op";
        x->kind = kinds[rnd(5)];
        int32_t p = i ? (int32_t)rnd((uint32_t)i) : -1;
        switch (rnd(20)) {
        case 0: p = -1; break;
        case 1: p = (int32_t)(n + rnd(5)); break;
        case 2: p = (int32_t)rnd((uint32_t)n); break; /* may make a cycle */
        default: break;
        }
        x->parent = p;
        int64_t ps = p >= 0 && (size_t)p < i ? s[p].start_ns : 0;
        int64_t pe = p >= 0 && (size_t)p < i ? s[p].end_ns : 1000;
        int64_t len = pe > ps ? pe - ps : 1;
        x->start_ns = ps + (int64_t)rnd((uint32_t)len + 1) - (rnd(8) ? 0 : (int64_t)rnd(50));
        x->end_ns = x->start_ns + (int64_t)rnd((uint32_t)len + 1) + (rnd(8) ? 0 : (int64_t)rnd(80));
        x->in_progress = rnd(30) == 0;
        if (rnd(40) == 0)
            x->end_ns = x->start_ns - 5;
        x->fault = rnd(6) == 0;
        x->error = rnd(6) == 0;
        x->throttle = rnd(10) == 0;
    }
}

static int32_t ref_parent(const owl_xf_span *s, size_t n, size_t i)
{
    int32_t p = s[i].parent;
    return p >= 0 && (size_t)p < n && (size_t)p != i ? p : -1;
}

/* Brute force: span i lies on a cycle when walking up n steps returns to it. */
static int on_cycle(const owl_xf_span *s, size_t n, size_t i)
{
    int32_t j = ref_parent(s, n, i);
    for (size_t k = 0; k < n && j >= 0; k++, j = ref_parent(s, n, (size_t)j))
        if ((size_t)j == i)
            return 1;
    return 0;
}

static int32_t ref_depth(const owl_xf_span *s, size_t n, size_t i)
{
    int32_t d = 0;
    for (size_t j = i; !on_cycle(s, n, j) && ref_parent(s, n, j) >= 0;
         j = (size_t)ref_parent(s, n, j))
        d++;
    return d;
}

static int32_t ref_origin(const owl_xf_span *s, size_t n, unsigned which)
{
    int32_t best = -1, bd = -1;
    for (size_t i = 0; i < n; i++) {
        int st = ((which & OWL_FO_FAULT) && s[i].fault) || ((which & OWL_FO_ERROR) && s[i].error) ||
                 ((which & OWL_FO_THROTTLE) && s[i].throttle);
        if (!st)
            continue;
        int32_t d = ref_depth(s, n, i);
        if (d > bd || (d == bd && s[i].start_ns < s[best].start_ns))
            best = (int32_t)i, bd = d;
    }
    return best;
}

Test(critpath, random_property)
{
    enum { N = 300, ROUNDS = 3000 };
    owl_xf_span s[N];
    uint8_t on[N];
    int64_t self[N];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + rnd(round % 10 == 0 ? N : 40);
        random_trace(s, n);
        int32_t root = rnd(10) == 0 ? (int32_t)rnd((uint32_t)n) : -1;
        owl_xf_trace t = {s, n, root, 0};
        cr_assert_eq(owl_critpath(&t, on, self, NULL), OWL_OK);
        /* The root as critpath.c picks it. */
        int32_t r = root;
        if (r < 0)
            for (size_t i = 0; i < n; i++)
                if (ref_parent(s, n, i) < 0 && (r < 0 || s[i].start_ns < s[r].start_ns))
                    r = (int32_t)i;
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            cr_assert(on[i] <= 1);
            cr_assert_geq(self[i], 0, "round %d span %zu self %lld", round, i,
                          (long long)self[i]);
            if (!on[i]) {
                cr_assert_eq(self[i], 0);
                continue;
            }
            sum += self[i];
            if ((int32_t)i != r)
                cr_assert(ref_parent(s, n, i) >= 0 && on[ref_parent(s, n, i)],
                          "round %d: span %zu on the path without its parent", round, i);
        }
        if (r < 0) {
            cr_assert_eq(sum, 0);
        } else {
            cr_assert_eq(on[r], 1);
            int done = !s[r].in_progress && s[r].end_ns >= s[r].start_ns;
            int64_t e = done ? s[r].end_ns : s[r].start_ns;
            cr_assert_eq(sum, e - s[r].start_ns, "round %d: path %lld, root %lld", round,
                         (long long)sum, (long long)(e - s[r].start_ns));
        }
        static const unsigned whiches[] = {OWL_FO_FAULT, OWL_FO_ERROR | OWL_FO_THROTTLE,
                                           OWL_FO_THROTTLE};
        for (int w = 0; w < 3; w++)
            cr_assert_eq(owl_fault_origin(&t, whiches[w]), ref_origin(s, n, whiches[w]),
                         "round %d which %u", round, whiches[w]);
    }
}

/* ---- fault origin ---- */

Test(critpath, fault_origin)
{
    owl_xf_span s[] = {
        SP("front", "GET /", SERVER, 0, 100, -1),
        SP("front", "call cart", CLIENT, 10, 90, 0),
        SP("cart", "GET /cart", SERVER, 20, 80, 1),
        SP("cart", "db", CLIENT, 30, 70, 2),
        SP("front", "call stock", CLIENT, 5, 50, 0),
        SP("stock", "GET /stock", SERVER, 6, 40, 4),
    };
    owl_xf_trace t = {s, 6, -1, 0};
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), -1);
    s[0].fault = s[1].fault = s[2].fault = s[3].fault = 1;
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), 3);
    s[3].fault = 0; /* the db call was fine: the cart server faulted on its own */
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), 2);
    s[5].fault = 1; /* equal depth: the earlier start */
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), 5);
    s[5].fault = 0;
    s[5].throttle = 1;
    s[3].error = 1;
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_THROTTLE), 5);
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_ERROR), 3);
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_ERROR | OWL_FO_THROTTLE), 3); /* deeper */
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT | OWL_FO_ERROR), 3);
}

Test(critpath, fault_origin_large_with_cycle)
{
    /* More than 1,024 spans and more than eight failed ones: the memoised depths on the heap.
     * A chain of 2,000 hangs off a cycle of 3; the cycle's spans read as parentless. */
    enum { N = 2003 };
    owl_xf_span *s = calloc(N, sizeof *s);
    cr_assert(s);
    s[0] = (owl_xf_span)SP("a", "c0", INTERNAL, 0, 1, 2);
    s[1] = (owl_xf_span)SP("a", "c1", INTERNAL, 0, 1, 0);
    s[2] = (owl_xf_span)SP("a", "c2", INTERNAL, 0, 1, 1);
    for (int i = 3; i < N; i++)
        s[i] = (owl_xf_span)SP("a", "x", INTERNAL, i, i + 1, i == 3 ? 1 : i - 1);
    for (int i = 0; i < N; i += 7)
        s[i].fault = 1;
    owl_xf_trace t = {s, N, -1, 0};
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), ref_origin(s, N, OWL_FO_FAULT));
    cr_assert_eq(owl_fault_origin(&t, OWL_FO_FAULT), 2002);
    free(s);
}

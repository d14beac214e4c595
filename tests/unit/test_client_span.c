/* test_client_span.c — client/span.c and client/sampler.c: parents (local, remote, root), the
 * thread's current span, each sampler's decisions, attributes / events / links / status and
 * their limits, set_http, the finished records reaching the sink exactly once, ids, fork, a
 * multi-threaded storm and a start+end micro-benchmark (logged). Built from the client's
 * sources alone; reaches the internal sink hook through client_int.h. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

/* ---- a sink keeping copies of what it is given ---- */

typedef struct got {
    uint8_t trace_id[16], span_id[8], parent[8];
    char name[64];
    int kind, status, parent_remote;
    char status_message[64];
    char trace_state[128];
    uint32_t nattrs, dropped_attrs, nevents, dropped_events, nlinks, dropped_links;
    uint64_t start_ns, end_ns;
    owl__attr attrs[4]; /* the first four, strings duplicated */
    char event0[32];
    char exc_type[32], exc_msg[32];
} got;

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static got *seen;
static size_t nseen, capseen;
static uint64_t sunk; /* counted even past the kept copies */

static void sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    pthread_mutex_lock(&sink_lock);
    sunk++;
    if (nseen == capseen) {
        capseen = capseen ? 2 * capseen : 64;
        seen = realloc(seen, capseen * sizeof *seen);
    }
    got *g = &seen[nseen++];
    memset(g, 0, sizeof *g);
    memcpy(g->trace_id, r->trace_id, 16);
    memcpy(g->span_id, r->span_id, 8);
    memcpy(g->parent, r->parent_span_id, 8);
    snprintf(g->name, sizeof g->name, "%s", r->name);
    g->kind = r->kind;
    g->status = r->status;
    g->parent_remote = r->parent_remote;
    snprintf(g->status_message, sizeof g->status_message, "%s",
             r->status_message ? r->status_message : "");
    snprintf(g->trace_state, sizeof g->trace_state, "%s", r->trace_state ? r->trace_state : "");
    g->nattrs = r->nattrs;
    g->dropped_attrs = r->dropped_attrs;
    g->nevents = r->nevents;
    g->dropped_events = r->dropped_events;
    g->nlinks = r->nlinks;
    g->dropped_links = r->dropped_links;
    g->start_ns = r->start_ns;
    g->end_ns = r->end_ns;
    for (uint32_t i = 0; i < r->nattrs && i < 4; i++) {
        g->attrs[i] = r->attrs[i];
        g->attrs[i].key = strdup(r->attrs[i].key);
        if (r->attrs[i].type == OWL__ATTR_STR)
            g->attrs[i].v.s = strdup(r->attrs[i].v.s);
    }
    if (r->nevents) {
        snprintf(g->event0, sizeof g->event0, "%s", r->events[0].name);
        for (uint32_t j = 0; j < r->events[0].nattrs; j++) {
            const owl__attr *a = &r->events[0].attrs[j];
            if (!strcmp(a->key, "exception.type"))
                snprintf(g->exc_type, sizeof g->exc_type, "%s", a->v.s);
            if (!strcmp(a->key, "exception.message"))
                snprintf(g->exc_msg, sizeof g->exc_msg, "%s", a->v.s);
        }
    }
    pthread_mutex_unlock(&sink_lock);
}

static void clear_seen(void)
{
    for (size_t i = 0; i < nseen; i++) {
        for (uint32_t j = 0; j < seen[i].nattrs && j < 4; j++) {
            free(seen[i].attrs[j].key);
            if (seen[i].attrs[j].type == OWL__ATTR_STR)
                free(seen[i].attrs[j].v.s);
        }
    }
    free(seen);
    seen = NULL;
    nseen = capseen = 0;
    sunk = 0;
}

static void init_with(const char *sampler, const char *arg)
{
    owl_config *c = owl_config_new();
    cr_assert_not_null(c);
    cr_assert_eq(owl_config_set(c, "sampler", sampler), 0);
    if (arg)
        cr_assert_eq(owl_config_set(c, "sampler.arg", arg), 0);
    cr_assert_eq(owl_init(c), 0);
    owl_config_free(c);
}

static void setup(void)
{
    owl__set_span_sink(sink, NULL);
    init_with("always_on", NULL);
}

static void teardown(void)
{
    owl_shutdown(0);
    owl__set_span_sink(NULL, NULL);
    clear_seen();
}

static const got *find(const owl_span_kind kind, const char *name)
{
    for (size_t i = 0; i < nseen; i++)
        if (!strcmp(seen[i].name, name) && (int)kind == seen[i].kind)
            return &seen[i];
    return NULL;
}

static int is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* ---- carrier for extract ---- */

typedef struct hdr {
    const char *tp, *ts, *bag, *xray;
} hdr;

static const char *hget(void *carrier, const char *name)
{
    hdr *h = carrier;
    if (!strcasecmp(name, "traceparent"))
        return h->tp;
    if (!strcasecmp(name, "tracestate"))
        return h->ts;
    if (!strcasecmp(name, "baggage"))
        return h->bag;
    if (!strcasecmp(name, "x-amzn-trace-id"))
        return h->xray;
    return NULL;
}

static owl_context *extract(hdr h)
{
    int rc;
    owl_context *c = owl_extract(hget, &h, OWL_PROPAGATE_ALL, &rc);
    cr_assert_not_null(c);
    return c;
}

/* ---- parents ---- */

/* The sampler a configuration of `name` and `arg` (NULL: not set) makes, as owl_init makes
 * it: 0, or owl_config_set's refusal (OWL_ERR_INVAL) with *out unchanged. */
static int parse_sampler(const char *name, const char *arg, owl__sampling *out)
{
    owl_config *c = owl_config_new();
    cr_assert(c);
    int rc = owl_config_set(c, "sampler", name);
    if (rc == 0 && arg)
        rc = owl_config_set(c, "sampler.arg", arg);
    if (rc == 0) {
        double ratio;
        enum owl__sampler kind = owl__config_sampler(c, &ratio);
        *out = owl__sampling_of(kind, ratio);
    }
    owl_config_free(c);
    return rc;
}

Test(span, root_and_child_ids, .init = setup, .fini = teardown)
{
    owl_span *a = owl_span_start("a", OWL_KIND_SERVER, NULL, 0);
    owl_span *b = owl_span_start("b", OWL_KIND_INTERNAL, NULL, 0);
    uint8_t ta[16], sa[8], tb[16], sb[8];
    cr_assert_eq(owl_span_ids(a, ta, sa), 0);
    cr_assert_eq(owl_span_ids(b, tb, sb), 0);
    cr_assert_eq(memcmp(ta, tb, 16), 0, "a child keeps its parent's trace");
    cr_assert_neq(memcmp(sa, sb, 8), 0);
    cr_assert_eq(owl_span_sampled(a), 1);
    owl_span_end(b);
    owl_span_end(a);
    cr_assert_eq(nseen, 2);
    const got *ga = find(OWL_KIND_SERVER, "a"), *gb = find(OWL_KIND_INTERNAL, "b");
    cr_assert(ga && gb);
    cr_assert(is_zero(ga->parent, 8), "a root has no parent");
    cr_assert_eq(memcmp(gb->parent, sa, 8), 0);
    cr_assert_eq(memcmp(gb->trace_id, ta, 16), 0);
    cr_assert_eq(gb->parent_remote, 0);
    cr_assert(ga->start_ns > 1600000000000000000ull && ga->end_ns >= ga->start_ns);
    cr_assert_eq(owl_span_ids(NULL, ta, sa), OWL_ERR_INVAL);
    cr_assert_null(owl_span_start(NULL, OWL_KIND_INTERNAL, NULL, 0));
}

Test(span, remote_parent_carries_tracestate_and_baggage, .init = setup, .fini = teardown)
{
    owl_context *p = extract((hdr){.tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                   .ts = "vendor=x1,other=y", .bag = "user=alice,tier=gold"});
    owl_span *srv = owl_span_start("srv", OWL_KIND_SERVER, p, 0);
    owl_span *cli = owl_span_start("cli", OWL_KIND_CLIENT, NULL, 0); /* child of srv */
    owl_context *c = owl_span_context(cli);
    cr_assert_not_null(c);
    uint8_t tid[16], sid[8], csid[8];
    owl_span_ids(cli, NULL, csid);
    cr_assert_eq(owl_context_ids(c, tid, sid), 0);
    cr_assert_eq(memcmp(sid, csid, 8), 0);
    cr_assert_eq(tid[0], 0x4b);
    cr_assert_eq(tid[15], 0x36);
    cr_assert_eq(owl_context_sampled(c), 1);
    cr_assert_eq(owl_context_remote(c), 0);
    cr_assert_str_eq(owl_context_tracestate(c), "vendor=x1,other=y");
    cr_assert_str_eq(owl_baggage_get(c, "user"), "alice");
    cr_assert_str_eq(owl_baggage_get(c, "tier"), "gold");
    owl_context_free(c);
    owl_context_free(p); /* the spans keep their own copy */
    owl_span_end(cli);
    owl_span_end(srv);
    const got *gs = find(OWL_KIND_SERVER, "srv"), *gc = find(OWL_KIND_CLIENT, "cli");
    cr_assert(gs && gc);
    cr_assert_eq(gs->parent[0], 0x00);
    cr_assert_eq(gs->parent[1], 0xf0);
    cr_assert_eq(gs->parent_remote, 1);
    cr_assert_str_eq(gs->trace_state, "vendor=x1,other=y");
    cr_assert_str_eq(gc->trace_state, "vendor=x1,other=y");
}

Test(span, context_without_inheritance, .init = setup, .fini = teardown)
{
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_context *c = owl_span_context(s);
    cr_assert_str_eq(owl_context_tracestate(c), "");
    cr_assert_eq(owl_baggage_count(c), 0);
    /* a saved context as an explicit parent, on another span */
    owl_span *t = owl_span_start("t", OWL_KIND_INTERNAL, c, OWL_SPAN_DETACHED);
    uint8_t a[16], b[16];
    owl_span_ids(s, a, NULL);
    owl_span_ids(t, b, NULL);
    cr_assert_eq(memcmp(a, b, 16), 0);
    owl_span_end(t);
    owl_span_end(s);
    owl_context_free(c);
    cr_assert_null(owl_span_context(NULL));
}

Test(span, root_flag_starts_a_new_trace, .init = setup, .fini = teardown)
{
    owl_span *a = owl_span_start("a", OWL_KIND_INTERNAL, NULL, 0);
    owl_context *p = extract((hdr){.tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
    owl_span *r = owl_span_start("r", OWL_KIND_INTERNAL, p, OWL_SPAN_ROOT);
    uint8_t ta[16], tr[16];
    owl_span_ids(a, ta, NULL);
    owl_span_ids(r, tr, NULL);
    cr_assert_neq(memcmp(ta, tr, 16), 0);
    cr_assert_neq(tr[0], 0x4b);
    cr_assert_eq(owl_current_span(), r, "a root span is current unless detached");
    owl_span_end(r);
    cr_assert_eq(owl_current_span(), a);
    owl_span_end(a);
    owl_context_free(p);
    cr_assert(is_zero(find(OWL_KIND_INTERNAL, "r")->parent, 8));
}

/* ---- the current span ---- */

Test(span, current_nested_detached_out_of_order, .init = setup, .fini = teardown)
{
    cr_assert_null(owl_current_span());
    owl_span *a = owl_span_start("a", OWL_KIND_INTERNAL, NULL, 0);
    owl_span *b = owl_span_start("b", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_eq(owl_current_span(), b);
    owl_span *d = owl_span_start("d", OWL_KIND_INTERNAL, NULL, OWL_SPAN_DETACHED);
    cr_assert_eq(owl_current_span(), b, "a detached span is not made current");
    owl_span *c = owl_span_start("c", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_eq(owl_current_span(), c);
    owl_span_end(d);
    cr_assert_eq(owl_current_span(), c);
    owl_span_end(b); /* out of order: c stays current, and on its end a comes back */
    cr_assert_eq(owl_current_span(), c);
    owl_span_end(c);
    cr_assert_eq(owl_current_span(), a);
    owl_span_end(a);
    cr_assert_null(owl_current_span());
    owl_span_end(NULL);
}

Test(span, ending_the_outer_first_leaves_no_stale_current, .init = setup, .fini = teardown)
{
    owl_span *a = owl_span_start("a", OWL_KIND_INTERNAL, NULL, 0);
    owl_span *b = owl_span_start("b", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_end(a);
    /* a's handle is reused by the next span, which must not come back as b's previous */
    owl_span *x = owl_span_start("x", OWL_KIND_INTERNAL, NULL, OWL_SPAN_DETACHED);
    owl_span_end(b);
    cr_assert_null(owl_current_span());
    owl_span_end(x);
}

static void *thread_current(void *arg)
{
    (void)arg;
    if (owl_current_span())
        return (void *)1;
    owl_span *s = owl_span_start("t", OWL_KIND_INTERNAL, NULL, 0);
    void *bad = owl_current_span() == s ? NULL : (void *)2;
    uint8_t pid[8];
    owl_span_ids(s, NULL, pid);
    owl_span_end(s);
    return bad;
}

Test(span, threads_have_their_own_current, .init = setup, .fini = teardown)
{
    owl_span *m = owl_span_start("main", OWL_KIND_INTERNAL, NULL, 0);
    pthread_t th;
    void *res;
    pthread_create(&th, NULL, thread_current, NULL);
    pthread_join(th, &res);
    cr_assert_null(res);
    cr_assert_eq(owl_current_span(), m);
    owl_span_end(m);
    cr_assert(is_zero(find(OWL_KIND_INTERNAL, "t")->parent, 8), "the thread's span is a root");
}

/* ---- samplers ---- */

static void random_tid(uint8_t tid[16])
{
    owl_span *s = owl_span_start("x", OWL_KIND_INTERNAL, NULL, OWL_SPAN_DETACHED | OWL_SPAN_ROOT);
    owl_span_ids(s, tid, NULL);
    owl_span_end(s);
}

Test(sampler, ratio_over_100000_trace_ids)
{
    const double ratios[] = {0.1, 0.25, 0.5, 0.9};
    for (size_t k = 0; k < 4; k++) {
        owl__sampling smp;
        char arg[16];
        snprintf(arg, sizeof arg, "%g", ratios[k]);
        cr_assert_eq(parse_sampler("traceidratio", arg, &smp), 0);
        int n = 100000, yes = 0;
        for (int i = 0; i < n; i++) {
            uint8_t tid[16];
            random_tid(tid);
            yes += owl__sampler_decide(&smp, tid, 1, NULL); /* the parent is ignored */
        }
        double sd = sqrt(n * ratios[k] * (1 - ratios[k]));
        cr_assert(fabs(yes - n * ratios[k]) < 4 * sd, "ratio %g: %d of %d", ratios[k], yes, n);
    }
}

Test(sampler, ratio_ends_and_determinism)
{
    owl__sampling zero, one, half, quarter;
    cr_assert_eq(parse_sampler("traceidratio", "0", &zero), 0);
    cr_assert_eq(parse_sampler("traceidratio", "1", &one), 0);
    cr_assert_eq(parse_sampler("traceidratio", "0.5", &half), 0);
    cr_assert_eq(parse_sampler("traceidratio", "0.25", &quarter), 0);
    uint8_t max[16], min[16] = {0};
    memset(max, 0xff, 16);
    min[15] = 1;
    cr_assert_eq(owl__sampler_decide(&zero, min, -1, NULL), 0);
    cr_assert_eq(owl__sampler_decide(&one, max, -1, NULL), 1);
    /* the draw is the last 8 bytes, big-endian: 0x7f.. is below half, 0x80.. above */
    uint8_t lo[16] = {0}, hi[16] = {0};
    lo[8] = 0x7f;
    hi[8] = 0x80;
    cr_assert_eq(owl__sampler_decide(&half, lo, -1, NULL), 1);
    cr_assert_eq(owl__sampler_decide(&half, hi, -1, NULL), 0);
    for (int i = 0; i < 10000; i++) { /* sampled at 0.25 => sampled at 0.5 */
        uint8_t tid[16];
        random_tid(tid);
        if (owl__sampler_decide(&quarter, tid, -1, NULL))
            cr_assert_eq(owl__sampler_decide(&half, tid, -1, NULL), 1);
        cr_assert_eq(owl__sampler_decide(&half, tid, -1, NULL), owl__sampler_decide(&half, tid, -1, NULL));
    }
    owl__sampling s;
    cr_assert_eq(parse_sampler("traceidratio", "1.5", &s), OWL_ERR_INVAL);
    cr_assert_eq(parse_sampler("traceidratio", "abc", &s), OWL_ERR_INVAL);
    cr_assert_eq(parse_sampler("nope", NULL, &s), OWL_ERR_INVAL);
}

Test(sampler, kinds_and_parents)
{
    uint8_t tid[16] = {0};
    tid[8] = 0xff; /* not sampled by any ratio < 1 */
    static const struct {
        const char *name, *arg;
        int none, yes, no;
    } cases[] = {
        /* decisions for parent_sampled -1 (root or undecided), 1 and 0 */
        {"always_on", NULL, 1, 1, 1},
        {"always_off", NULL, 0, 0, 0},
        {"traceidratio", "0.5", 0, 0, 0},
        {"parentbased_always_on", NULL, 1, 1, 0},
        {"parentbased_always_off", NULL, 0, 1, 0},
        {"parentbased_traceidratio", "0.5", 0, 1, 0},
        {"xray", NULL, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl__sampling s;
        cr_assert_eq(parse_sampler(cases[i].name, cases[i].arg, &s), 0);
        cr_assert_eq(owl__sampler_decide(&s, tid, -1, NULL), cases[i].none, "%s root", cases[i].name);
        cr_assert_eq(owl__sampler_decide(&s, tid, 1, NULL), cases[i].yes, "%s yes", cases[i].name);
        cr_assert_eq(owl__sampler_decide(&s, tid, 0, NULL), cases[i].no, "%s no", cases[i].name);
    }
}

Test(sampler, tracer_parent_based_through_spans)
{
    owl__set_span_sink(sink, NULL);
    init_with("parentbased_always_off", NULL);
    owl_context *yes = extract((hdr){.tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
    owl_context *no = extract((hdr){.tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"});
    owl_context *undecided = extract((hdr){.xray = "Root=1-5759e988-bd862e3fe1be46a994272793;"
                                                   "Parent=53995c3f42cd8ad8;Sampled=?"});
    cr_assert_eq(owl_context_sampled(undecided), -1);
    owl_span *a = owl_span_start("a", OWL_KIND_SERVER, yes, OWL_SPAN_DETACHED);
    owl_span *b = owl_span_start("b", OWL_KIND_SERVER, no, OWL_SPAN_DETACHED);
    owl_span *c = owl_span_start("c", OWL_KIND_SERVER, undecided, OWL_SPAN_DETACHED);
    owl_span *r = owl_span_start("r", OWL_KIND_SERVER, NULL, 0);
    owl_span *k = owl_span_start("k", OWL_KIND_INTERNAL, NULL, 0); /* child of unsampled r */
    cr_assert_eq(owl_span_sampled(a), 1);
    cr_assert_eq(owl_span_sampled(b), 0);
    cr_assert_eq(owl_span_sampled(c), 0, "undecided: the root sampler (always_off) decides");
    cr_assert_eq(owl_span_sampled(r), 0);
    cr_assert_eq(owl_span_sampled(k), 0);
    owl_span_end(k);
    owl_span_end(r);
    owl_span_end(c);
    owl_span_end(b);
    owl_span_end(a);
    cr_assert_eq(nseen, 1);
    cr_assert_str_eq(seen[0].name, "a");
    owl_shutdown(0);
    /* parentbased_always_on: an undecided remote parent is a root decision, sampled */
    init_with("parentbased_always_on", NULL);
    c = owl_span_start("c", OWL_KIND_SERVER, undecided, 0);
    cr_assert_eq(owl_span_sampled(c), 1);
    owl_span *ch = owl_span_start("ch", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_eq(owl_span_sampled(ch), 1);
    owl_span_end(ch);
    owl_span_end(c);
    teardown();
    owl_context_free(yes);
    owl_context_free(no);
    owl_context_free(undecided);
}

/* ---- attributes, events, links, status ---- */

Test(span, attributes_replace_limits_utf8, .init = setup, .fini = teardown)
{
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_str(s, "k", "one");
    owl_span_set_str(s, "k", "two");
    owl_span_set_int(s, "n", 1);
    owl_span_set_int(s, "n", -42);
    owl_span_set_double(s, "d", 2.5);
    owl_span_set_bool(s, "b", 7);
    for (int i = 0; i < 130; i++) {
        char key[16];
        snprintf(key, sizeof key, "x%d", i);
        owl_span_set_int(s, key, i);
    }
    owl_span_set_str(s, "k", "three"); /* a replacement is not dropped at the limit */
    owl_span_end(s);
    const got *g = find(OWL_KIND_INTERNAL, "s");
    cr_assert_eq(g->nattrs, 128);
    cr_assert_eq(g->dropped_attrs, 6); /* 4 + 130 - 128 */
    cr_assert_str_eq(g->attrs[0].key, "k");
    cr_assert_str_eq(g->attrs[0].v.s, "three");
    cr_assert_eq(g->attrs[1].type, OWL__ATTR_INT);
    cr_assert_eq(g->attrs[1].v.i, -42);
    cr_assert_eq(g->attrs[2].type, OWL__ATTR_DOUBLE);
    cr_assert_eq(g->attrs[2].v.d, 2.5);
    cr_assert_eq(g->attrs[3].type, OWL__ATTR_BOOL);
    cr_assert_eq(g->attrs[3].v.b, 1);
}

static const owl__span_record *last_rec;
static size_t last_len;
static void len_sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    last_rec = r;
    last_len = strlen(r->attrs[0].v.s);
}

Test(span, string_cut_at_utf8_boundary, .init = setup, .fini = teardown)
{
    owl__set_span_sink(len_sink, NULL);
    char *v = malloc(5000);
    memset(v, 'a', 4095);
    strcpy(v + 4095, "\xc3\xa9tail"); /* é straddles byte 4,096 */
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_str(s, "v", v);
    owl_span_end(s);
    cr_assert_eq(last_len, 4095, "the cut falls before the 2-byte sequence");
    memset(v, 'a', 4094);
    strcpy(v + 4094, "\xc3\xa9tail"); /* é ends at byte 4,096 */
    s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_str(s, "v", v);
    owl_span_end(s);
    cr_assert_eq(last_len, 4096);
    free(v);
}

Test(span, events_exception_links_status, .init = setup, .fini = teardown)
{
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_record_exception(s, "IOError", "disk full", "at main()");
    for (int i = 0; i < 130; i++)
        owl_span_add_event(s, "tick");
    owl_context *l = extract((hdr){.tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                   .ts = "v=1"});
    for (int i = 0; i < 129; i++)
        owl_span_add_link(s, l);
    owl_span_add_link(s, NULL); /* ignored */
    owl_span_set_status(s, OWL_STATUS_ERROR, "later"); /* ERROR again: its message replaces */
    owl_span_end(s);
    const got *g = find(OWL_KIND_INTERNAL, "s");
    cr_assert_eq(g->nevents, 128);
    cr_assert_eq(g->dropped_events, 3);
    cr_assert_str_eq(g->event0, "exception");
    cr_assert_str_eq(g->exc_type, "IOError");
    cr_assert_str_eq(g->exc_msg, "disk full");
    cr_assert_eq(g->nlinks, 128);
    cr_assert_eq(g->dropped_links, 1);
    cr_assert_eq(g->status, OWL_STATUS_ERROR);
    cr_assert_str_eq(g->status_message, "later");
    owl_context_free(l);

    s = owl_span_start("e", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_record_exception(s, "Timeout", NULL, NULL);
    owl_span_end(s);
    g = find(OWL_KIND_INTERNAL, "e");
    cr_assert_eq(g->status, OWL_STATUS_ERROR);
    cr_assert_str_eq(g->status_message, "Timeout", "the type when there is no message");

    s = owl_span_start("ok", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_status(s, OWL_STATUS_OK, "ignored");
    owl_span_record_exception(s, "X", "y", NULL); /* OK is final */
    owl_span_end(s);
    g = find(OWL_KIND_INTERNAL, "ok");
    cr_assert_eq(g->status, OWL_STATUS_OK);
    cr_assert_str_eq(g->status_message, "");
    cr_assert_eq(g->nevents, 1);
}

/* The events' attributes as "name:key=value,...;" (last_event_attrs: the last event's count). */
static char events_seen[512];
static uint32_t last_event_attrs;
static void event_sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    size_t w = 0;
    events_seen[0] = 0;
    for (uint32_t i = 0; i < r->nevents && r->nevents < 8; i++) {
        const owl__event *e = &r->events[i];
        w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%s:", e->name);
        for (uint32_t k = 0; k < e->nattrs; k++) {
            const owl__attr *a = &e->attrs[k];
            w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%s=", a->key);
            if (a->type == OWL__ATTR_STR)
                w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%s,", a->v.s);
            else if (a->type == OWL__ATTR_INT)
                w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%lld,",
                                      (long long)a->v.i);
            else if (a->type == OWL__ATTR_DOUBLE)
                w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%g,", a->v.d);
            else
                w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, "%s,",
                                      a->v.b ? "true" : "false");
        }
        w += (size_t)snprintf(events_seen + w, sizeof events_seen - w, ";");
    }
    last_event_attrs = r->nevents ? r->events[r->nevents - 1].nattrs : 0;
}

Test(span, event_attributes, .init = setup, .fini = teardown)
{
    owl__set_span_sink(event_sink, NULL);
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_event_set_str(s, "before", "any event"); /* nothing to set it on */
    owl_span_add_event(s, "cache.miss");
    owl_span_event_set_str(s, "key", "order:42");
    owl_span_event_set_int(s, "tier", 1);
    owl_span_event_set_int(s, "tier", -2); /* replaces */
    owl_span_event_set_double(s, "load", 0.5);
    owl_span_event_set_bool(s, "hot", 7);
    owl_span_event_set_str(s, NULL, "x");
    owl_span_event_set_str(s, "null", NULL);
    owl_span_add_event(s, "plain");
    owl_span_record_exception(s, "E", "m", NULL);
    owl_span_event_set_bool(s, "exception.escaped", 1);
    owl_span_end(s);
    cr_assert_str_eq(events_seen, "cache.miss:key=order:42,tier=-2,load=0.5,hot=true,;plain:;"
                                  "exception:exception.type=E,exception.message=m,"
                                  "exception.escaped=true,;");

    s = owl_span_start("full", OWL_KIND_INTERNAL, NULL, 0);
    for (int i = 0; i < 128; i++)
        owl_span_add_event(s, "tick");
    owl_span_add_event(s, "lost"); /* past the limit: its attribute must not go to tick 128 */
    owl_span_event_set_int(s, "n", 1);
    owl_span_end(s);
    cr_assert_eq(last_event_attrs, 0);

    owl_span_event_set_int(NULL, "n", 1);
    owl_shutdown(0);
    init_with("always_off", NULL);
    s = owl_span_start("unsampled", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_add_event(s, "e");
    owl_span_event_set_double(s, "d", 1);
    owl_span_end(s);
}

static const owl__attr *attr(const owl__span_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attrs[i].key, key))
            return &r->attrs[i];
    return NULL;
}

static int http_status, http_code;
static char http_target[32], http_err[8];
static void http_sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    const owl__attr *a = attr(r, "http.route") ? attr(r, "http.route") : attr(r, "url.full");
    snprintf(http_target, sizeof http_target, "%s=%s", a->key, a->v.s);
    http_status = r->status;
    http_code = (int)attr(r, "http.response.status_code")->v.i;
    cr_assert_str_eq(attr(r, "http.request.method")->v.s, "GET");
    a = attr(r, "error.type");
    snprintf(http_err, sizeof http_err, "%s", a ? a->v.s : "");
}

Test(span, set_http_server_and_client, .init = setup, .fini = teardown)
{
    owl__set_span_sink(http_sink, NULL);
    static const struct {
        owl_span_kind kind;
        int code, status;
        const char *target, *err;
    } cases[] = {
        {OWL_KIND_SERVER, 200, OWL_STATUS_UNSET, "http.route=/x", ""},
        {OWL_KIND_SERVER, 404, OWL_STATUS_UNSET, "http.route=/x", ""},
        {OWL_KIND_SERVER, 503, OWL_STATUS_ERROR, "http.route=/x", "503"},
        {OWL_KIND_CLIENT, 204, OWL_STATUS_UNSET, "url.full=/x", ""},
        {OWL_KIND_CLIENT, 429, OWL_STATUS_ERROR, "url.full=/x", "429"},
        {OWL_KIND_CLIENT, 500, OWL_STATUS_ERROR, "url.full=/x", "500"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl_span *s = owl_span_start("h", cases[i].kind, NULL, 0);
        owl_span_set_http(s, "GET", "/x", cases[i].code);
        owl_span_end(s);
        cr_assert_eq(http_code, cases[i].code);
        cr_assert_eq(http_status, cases[i].status, "case %zu", i);
        cr_assert_str_eq(http_target, cases[i].target);
        cr_assert_str_eq(http_err, cases[i].err);
    }
}

/* ---- hand-off ---- */

Test(span, sink_gets_sampled_once_unsampled_never)
{
    owl__set_span_sink(sink, NULL);
    init_with("traceidratio", "0.5");
    int sampled = 0;
    for (int i = 0; i < 2000; i++) {
        owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
        sampled += owl_span_sampled(s);
        owl_span_set_str(s, "a", "b"); /* no effect on an unsampled span */
        owl_span_end(s);
    }
    cr_assert_eq(sunk, (uint64_t)sampled);
    cr_assert(sampled > 800 && sampled < 1200);
    for (size_t i = 0; i < nseen; i++)
        for (size_t j = i + 1; j < nseen; j++)
            cr_assert_neq(memcmp(seen[i].span_id, seen[j].span_id, 8), 0, "once each");
    cr_assert_eq(owl_dropped_spans(), 0);
    teardown();
}

Test(span, before_init_and_after_shutdown_nothing_is_exported)
{
    owl__set_span_sink(sink, NULL);
    owl_span *s = owl_span_start("before", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_not_null(s, "spans are made before owl_init");
    cr_assert_eq(owl_span_sampled(s), 0);
    owl_span_end(s);
    cr_assert_eq(owl_shutdown(0), OWL_ERR_INVAL);
    init_with("always_on", NULL);
    cr_assert_eq(owl_init(NULL), OWL_ERR_INVAL, "set up once");
    owl_span *late = owl_span_start("late", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_eq(owl_shutdown(0), 0);
    owl_span_end(late); /* ended after shutdown: not exported */
    cr_assert_eq(sunk, 0);
    cr_assert_eq(owl_dropped_spans(), 0);
    teardown();
}

/* Without a sink, records go to the exporter's queue, which sends to a port where nothing
 * listens: every one is dropped and counted, by the queue (4 slots), the failed send or
 * shutdown(0). test_client_export has the exact accounting. */
Test(span, dropped_counted_without_sink)
{
    owl_config *c = owl_config_new();
    cr_assert_eq(owl_config_set(c, "endpoint", "http://127.0.0.1:9"), 0);
    cr_assert_eq(owl_config_set(c, "queue.size", "4"), 0);
    cr_assert_eq(owl_init(c), 0); /* the default: parentbased_always_on */
    for (int i = 0; i < 10; i++)
        owl_span_end(owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0));
    owl_shutdown(0);
    cr_assert_eq(owl_dropped_spans(), 10);
    cr_assert_eq(owl_init(c), 0);
    cr_assert_eq(owl_dropped_spans(), 0, "counted since owl_init");
    cr_assert_eq(owl_shutdown(0), 0);
    owl_config_free(c);
}

Test(span, tracer_keeps_service_and_resource)
{
    char *svc, *res;
    cr_assert_eq(owl__tracer_resource(&svc, &res), OWL_ERR_INVAL);
    owl_config *c = owl_config_new();
    cr_assert_eq(owl_config_set(c, "service.name", "orders"), 0);
    cr_assert_eq(owl_config_set(c, "resource", "deployment.environment=prod"), 0);
    cr_assert_eq(owl_init(c), 0);
    owl_config_free(c); /* the tracer keeps its own copies */
    cr_assert_eq(owl__tracer_resource(&svc, &res), 0);
    cr_assert_str_eq(svc, "orders");
    cr_assert_str_eq(res, "deployment.environment=prod");
    free(svc);
    free(res);
    owl_shutdown(0);
    cr_assert_eq(owl__tracer_resource(&svc, &res), OWL_ERR_INVAL);
    cr_assert_null(svc);
}

static void *end_only(void *arg)
{
    owl_span_end(arg); /* this thread never starts a span */
    return NULL;
}

Test(span, spans_ended_on_another_thread)
{
    owl__set_span_sink(sink, NULL);
    init_with("always_on", NULL);
    owl_span *s = owl_span_start("handed", OWL_KIND_INTERNAL, NULL, 0);
    pthread_t th;
    pthread_create(&th, NULL, end_only, s);
    pthread_join(th, NULL);
    cr_assert_eq(sunk, 1);
    cr_assert_null(owl_current_span(), "the ended span is not current here any more");
    owl_span *n = owl_span_start("next", OWL_KIND_INTERNAL, NULL, 0);
    cr_assert_not_null(n);
    owl_span_end(n);
    cr_assert(is_zero(find(OWL_KIND_INTERNAL, "next")->parent, 8));
    teardown();
}

/* ---- ids ---- */

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(span, ids_never_zero_and_distinct)
{
    size_t n = 1000000;
    uint64_t *ids = malloc(n * sizeof *ids), *tids = malloc(n * sizeof *tids);
    for (size_t i = 0; i < n; i++) {
        owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, OWL_SPAN_DETACHED);
        uint8_t tid[16], sid[8];
        owl_span_ids(s, tid, sid);
        owl_span_end(s);
        cr_assert(!is_zero(tid, 16) && !is_zero(sid, 8));
        memcpy(&ids[i], sid, 8);
        memcpy(&tids[i], tid, 8);
    }
    qsort(ids, n, sizeof *ids, cmp64);
    qsort(tids, n, sizeof *tids, cmp64);
    for (size_t i = 1; i < n; i++) {
        cr_assert_neq(ids[i], ids[i - 1]);
        cr_assert_neq(tids[i], tids[i - 1]);
    }
    free(ids);
    free(tids);
}

Test(span, fork_child_ids_differ)
{
    owl_span_end(owl_span_start("warm", OWL_KIND_INTERNAL, NULL, 0)); /* seeds this thread */
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    uint8_t sid[8];
    owl_span *s = owl_span_start("s", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_ids(s, NULL, sid);
    owl_span_end(s);
    if (pid == 0) {
        ssize_t w = write(fd[1], sid, 8);
        _exit(w == 8 ? 0 : 1);
    }
    uint8_t child[8];
    cr_assert_eq(read(fd[0], child, 8), 8);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_neq(memcmp(sid, child, 8), 0, "the child re-seeded");
    close(fd[0]);
    close(fd[1]);
}

/* ---- a multi-threaded storm (run under valgrind and -fsanitize=thread too) ---- */

static void *storm(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        owl_span *a = owl_span_start("a", OWL_KIND_SERVER, NULL, 0);
        owl_span *b = owl_span_start("b", OWL_KIND_CLIENT, NULL, 0);
        if (i % 16 == 0) {
            owl_span_set_int(b, "i", i);
            owl_span_add_event(b, "e");
            owl_context *c = owl_span_context(b);
            owl_span_add_link(a, c);
            owl_context_free(c);
        }
        owl_span_end(b);
        owl_span_end(a);
    }
    return NULL;
}

static _Atomic uint64_t storm_count;
static void count_sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    (void)r;
    storm_count++;
}

Test(span, storm_4_threads, .timeout = 600)
{
    owl__set_span_sink(count_sink, NULL);
    init_with("traceidratio", "0.5");
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, storm, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* each trace is decided once for both its spans: about half of 800,000 */
    cr_assert(storm_count > 380000 && storm_count < 420000, "%llu",
              (unsigned long long)storm_count);
    cr_assert_eq(storm_count % 2, 0);
    owl_shutdown(0);
    owl__set_span_sink(NULL, NULL);
}

/* ---- the micro-benchmark: logged, not asserted ---- */

static double bench(int n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        owl_span_end(owl_span_start("bench", OWL_KIND_INTERNAL, NULL, 0));
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

static void null_sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    (void)r;
}

Test(span, bench_start_end, .timeout = 600)
{
    int n = getenv("OWL_SPAN_BENCH_N") ? atoi(getenv("OWL_SPAN_BENCH_N")) : 10000000;
    owl__set_span_sink(null_sink, NULL);
    init_with("always_off", NULL);
    double off = bench(n);
    owl_shutdown(0);
    init_with("always_on", NULL);
    double on = bench(n);
    owl_shutdown(0);
    owl__set_span_sink(NULL, NULL);
    cr_log_info("span start+end over %d spans: unsampled %.1f ns, sampled %.1f ns", n, off, on);
    /* and on stderr, which the TAP run's log keeps (--tap drops Criterion's info lines) */
    fprintf(stderr, "# span start+end over %d spans: unsampled %.1f ns, sampled %.1f ns\n", n,
            off, on);
}

/* test_svcgraph.c — the live service graph (tracer/svcgraph.c): callers and callees paired
 * whatever their order and batch, Zipkin's shared ids, virtual nodes after the ttl and when
 * the table is full, tenants kept apart, node types of peers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tracer/tracer.h"

typedef struct got {
    char lines[64][160];
    size_t n;
} got;

static void on_hop(void *ud, const owl_svcgraph_hop *h)
{
    got *g = ud;
    cr_assert(g->n < 64);
    snprintf(g->lines[g->n++], sizeof g->lines[0], "%s:%s->%s(%s) %lld %u", h->tenant, h->source,
             h->target, h->target_type, (long long)h->duration_ns, h->status);
}

static uint8_t trace_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t zero8[8];

/* A span of trace_a: id and parent are one-byte ids (0 = none). */
static owl_svcgraph_span sp(uint8_t *ids, int id, int parent, const char *svc, int kind,
                            const char *peer, int64_t dur, unsigned status)
{
    ids[0] = (uint8_t)id;
    ids[8] = (uint8_t)parent;
    return (owl_svcgraph_span){.trace_id = trace_a,
                               .span_id = ids,
                               .parent_id = parent ? ids + 8 : zero8,
                               .service = svc,
                               .service_len = strlen(svc),
                               .peer = peer ? peer : "",
                               .peer_len = peer ? strlen(peer) : 0,
                               .kind = kind,
                               .start_ns = 1000,
                               .duration_ns = dur,
                               .status = status};
}

#define SERVER 2
#define CLIENT 3
#define PRODUCER 4
#define CONSUMER 5
#define S 1000000000LL

/* ids live in one array so every span's bytes stay valid */
static uint8_t idb[32][16];

Test(svcgraph, caller_first_then_callee_in_another_batch)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[0], 1, 0, "front", SERVER, NULL, 50, 0),
                             sp(idb[1], 2, 1, "front", CLIENT, "orders", 40, OWL_FO_FAULT)};
    owl_svcgraph_add(g, "t", a, 2, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 0);
    owl_svcgraph_span b[] = {sp(idb[2], 3, 2, "orders", SERVER, NULL, 30, OWL_FO_FAULT)};
    owl_svcgraph_add(g, "t", b, 1, 2 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:front->orders(service) 30 1"); /* the callee's figures */
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r); /* the client span met its callee */
    cr_assert_eq(r.n, 1);
    owl_svcgraph_stats st;
    owl_svcgraph_get_stats(g, &st);
    cr_assert_eq(st.paired, 1);
    cr_assert_eq(st.virtual_, 0);
    owl_svcgraph_free(g);
}

Test(svcgraph, callee_first_then_caller)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span b[] = {sp(idb[2], 3, 2, "orders", SERVER, NULL, 30, 0),
                             sp(idb[3], 4, 3, "orders", CLIENT, "postgresql:orders", 10, 0)};
    owl_svcgraph_add(g, "t", b, 2, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 0);
    owl_svcgraph_span a[] = {sp(idb[1], 2, 1, "front", CLIENT, NULL, 40, 0),
                             sp(idb[0], 1, 0, "front", SERVER, NULL, 50, 0)};
    owl_svcgraph_add(g, "t", a, 2, 2 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:front->orders(service) 30 0");
    /* the database call has no callee: an edge to its virtual node once its ttl ends */
    owl_svcgraph_expire(g, 2 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    owl_svcgraph_expire(g, 31 * S, on_hop, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.lines[1], "t:orders->postgresql:orders(database) 10 0");
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r);
    cr_assert_eq(r.n, 2);
    owl_svcgraph_free(g);
}

Test(svcgraph, same_service_children_make_no_edge)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[4], 5, 6, "front", 1, NULL, 5, 0),
                             sp(idb[5], 6, 0, "front", SERVER, NULL, 50, 0),
                             sp(idb[6], 7, 6, "front", 1, NULL, 5, 0)};
    owl_svcgraph_add(g, "t", a, 3, 1 * S, on_hop, &r);
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r);
    cr_assert_eq(r.n, 0);
    owl_svcgraph_free(g);
}

Test(svcgraph, kindless_spans_pair_by_parent)
{
    /* Nezha's tables have no kinds: a span under another service's span is a call */
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[7], 8, 0, "gateway", 0, NULL, 90, 0)};
    owl_svcgraph_span b[] = {sp(idb[8], 9, 8, "contacts", 0, NULL, 70, OWL_FO_ERROR)};
    owl_svcgraph_add(g, "t", b, 1, 1 * S, on_hop, &r);
    owl_svcgraph_add(g, "t", a, 1, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:gateway->contacts(service) 70 2");
    owl_svcgraph_free(g);
}

Test(svcgraph, zipkin_shared_span_ids_count_once)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    /* client half (front, id 11) and server half (api, id 11), both under front's 10 */
    owl_svcgraph_span a[] = {sp(idb[9], 10, 0, "front", SERVER, NULL, 60, 0),
                             sp(idb[10], 11, 10, "front", CLIENT, "api", 50, 0)};
    owl_svcgraph_span b[] = {sp(idb[11], 11, 10, "api", SERVER, NULL, 45, 0)};
    owl_svcgraph_add(g, "t", b, 1, 1 * S, on_hop, &r);
    owl_svcgraph_add(g, "t", a, 2, 1 * S, on_hop, &r);
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r);
    cr_assert_eq(r.n, 1, "%zu edges: %s / %s", r.n, r.lines[0], r.lines[1]);
    cr_assert_str_eq(r.lines[0], "t:front->api(service) 45 0");
    owl_svcgraph_free(g);
}

Test(svcgraph, tenants_do_not_join)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[12], 12, 0, "front", CLIENT, NULL, 10, 0)};
    owl_svcgraph_span b[] = {sp(idb[13], 13, 12, "back", SERVER, NULL, 5, 0)};
    owl_svcgraph_add(g, "one", a, 1, 1 * S, on_hop, &r);
    owl_svcgraph_add(g, "two", b, 1, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 0);
    owl_svcgraph_add(g, "one", b, 1, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "one:front->back(service) 5 0");
    owl_svcgraph_free(g);
}

Test(svcgraph, a_full_table_ends_its_oldest)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(4, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[14], 14, 0, "front", PRODUCER, "kafka:orders", 3, 0)};
    owl_svcgraph_add(g, "t", a, 1, 1 * S, on_hop, &r);
    /* the ring holds what must be acted on at its end: client and producer spans */
    for (int i = 0; i < 4; i++) {
        owl_svcgraph_span x[] = {sp(idb[15 + i], 15 + i, 0, "other", CLIENT, "redis", 1, 0)};
        owl_svcgraph_add(g, "t", x, 1, 1 * S, on_hop, &r);
    }
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:front->kafka:orders(queue) 3 0");
    owl_svcgraph_stats st;
    owl_svcgraph_get_stats(g, &st);
    cr_assert_eq(st.evicted, 1);
    cr_assert_eq(st.pending, 4);
    owl_svcgraph_free(g);
}

Test(svcgraph, consumers_pair_with_producers)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {sp(idb[20], 20, 0, "shop", PRODUCER, "kafka:orders", 2, 0)};
    owl_svcgraph_span b[] = {sp(idb[21], 21, 20, "billing", CONSUMER, NULL, 8, 0)};
    owl_svcgraph_add(g, "t", a, 1, 1 * S, on_hop, &r);
    owl_svcgraph_add(g, "t", b, 1, 5 * S, on_hop, &r);
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:shop->billing(service) 8 0");
    owl_svcgraph_free(g);
}

Test(svcgraph, callees_whose_caller_never_came_are_no_edge)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span b[] = {sp(idb[22], 22, 23, "orders", SERVER, NULL, 8, 0)};
    owl_svcgraph_add(g, "t", b, 1, 1 * S, on_hop, &r);
    owl_svcgraph_expire(g, 100 * S, on_hop, &r);
    cr_assert_eq(r.n, 0);
    owl_svcgraph_stats st;
    owl_svcgraph_get_stats(g, &st);
    cr_assert_eq(st.pending, 0);
    owl_svcgraph_free(g);
}

Test(svcgraph, peer_types)
{
    cr_assert_str_eq(owl_svcgraph_peer_type("postgresql:orders", 17, NULL), "database");
    cr_assert_str_eq(owl_svcgraph_peer_type("redis", 5, NULL), "database");
    cr_assert_str_eq(owl_svcgraph_peer_type("kafka:orders", 12, NULL), "queue");
    cr_assert_str_eq(owl_svcgraph_peer_type("api.example.com", 15, NULL), "external");
    cr_assert_str_eq(owl_svcgraph_peer_type("DynamoDB", 8, "AWS::DynamoDB::Table"),
                     "AWS::DynamoDB::Table");
    cr_assert_str_eq(owl_svcgraph_peer_type("", 0, NULL), "external");
}

Test(svcgraph, a_whole_trace_in_one_batch_joins_within_it)
{
    owl_svcgraph *g;
    cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
    got r = {0};
    owl_svcgraph_span a[] = {
        sp(idb[24], 31, 30, "orders", SERVER, NULL, 30, OWL_FO_FAULT),
        sp(idb[25], 30, 29, "front", CLIENT, "orders", 40, OWL_FO_FAULT),
        sp(idb[26], 29, 0, "front", SERVER, NULL, 50, 0),
        sp(idb[27], 32, 31, "orders", CLIENT, "postgresql:orders", 10, 0),
    };
    owl_svcgraph_add(g, "t", a, 4, 1 * S, on_hop, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.lines[0], "t:front->orders(service) 30 1");
    owl_svcgraph_expire(g, INT64_MAX, on_hop, &r); /* only the database call is alone */
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.lines[1], "t:orders->postgresql:orders(database) 10 0");
    owl_svcgraph_free(g);
}

/* ---- the live graph against the whole-trace rule, on random traces in random batches ---- */

typedef struct tally {
    char key[64][48];
    unsigned count[64];
    size_t n;
} tally;

static void tally_add(tally *t, const char *src, const char *dst)
{
    char k[48];
    snprintf(k, sizeof k, "%s>%s", src, dst);
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->key[i], k)) {
            t->count[i]++;
            return;
        }
    cr_assert_lt(t->n, 64);
    snprintf(t->key[t->n], sizeof t->key[0], "%s", k);
    t->count[t->n++] = 1;
}

static void on_tally(void *ud, const owl_svcgraph_hop *h)
{
    tally_add(ud, h->source, h->target);
}

static unsigned tally_of(const tally *t, const char *k)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->key[i], k))
            return t->count[i];
    return 0;
}

Test(svcgraph, live_edges_equal_the_whole_trace_rule)
{
    static const char *const svcs[] = {"a", "b", "c", "d"};
    static const char *const peers[] = {"redis", "kafka:q", "api.example.com"};
    uint64_t rnd = 0x9e3779b97f4a7c15ull;
#define RND() (rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17, rnd)
    for (int round = 0; round < 200; round++) {
        enum { N = 24 };
        uint8_t tids[16], ids[N][16];
        owl_svcgraph_span sps[N];
        owl_xf_span views[N];
        memset(tids, 0, sizeof tids);
        tids[0] = (uint8_t)(round + 1);
        size_t n = 2 + RND() % (N - 1);
        for (size_t i = 0; i < n; i++) {
            memset(ids[i], 0, 16);
            ids[i][0] = (uint8_t)(i + 1);
            int parent = i ? (int)(RND() % i) : -1;
            if (parent >= 0)
                ids[i][8] = (uint8_t)(parent + 1);
            /* another service's span under an internal or consumer span is joined only in
             * one batch by the live graph (svcgraph.c): not drawn here */
            int pk = parent >= 0 ? sps[parent].kind : 0;
            const char *svc = parent >= 0 && (RND() % 3 || pk == 1 || pk == 5)
                                  ? views[parent].service
                                  : svcs[RND() % 4];
            int kind = (int)(RND() % 6);
            const char *peer = kind == CLIENT || kind == PRODUCER ? peers[RND() % 3] : NULL;
            sps[i] = (owl_svcgraph_span){.trace_id = tids, .span_id = ids[i],
                                         .parent_id = parent >= 0 ? ids[i] + 8 : zero8,
                                         .service = svc, .service_len = strlen(svc),
                                         .peer = peer ? peer : "", .peer_len = peer ? strlen(peer) : 0,
                                         .kind = kind, .start_ns = 0, .duration_ns = 5};
            views[i] = (owl_xf_span){.service = svc, .name = "op",
                                     .kind = kind == 2 ? OWL_XF_SERVER : kind == 3 ? OWL_XF_CLIENT
                                             : kind == 4 ? OWL_XF_PRODUCER
                                             : kind == 5 ? OWL_XF_CONSUMER : OWL_XF_INTERNAL,
                                     .start_ns = 0, .end_ns = 5, .parent = parent,
                                     .remote_service = peer};
        }
        /* the whole-trace rule */
        owl_svcmap *m;
        cr_assert_eq(owl_svcmap_new(0, 1, &m), OWL_OK);
        owl_xf_trace xt = {views, n, -1, 0};
        cr_assert_eq(owl_svcgraph_trace(&xt, m, NULL), OWL_OK);
        size_t ne, nn;
        owl_svcmap_edge *ed = owl_svcmap_edges(m, &ne);
        owl_svcmap_node *nd = owl_svcmap_nodes(m, &nn);
        /* the live graph: the spans shuffled, cut into 1 to 4 batches */
        owl_svcgraph_span order[N];
        memcpy(order, sps, n * sizeof *order);
        for (size_t i = n; i > 1; i--) {
            size_t j = RND() % i;
            owl_svcgraph_span x = order[i - 1];
            order[i - 1] = order[j];
            order[j] = x;
        }
        owl_svcgraph *g;
        cr_assert_eq(owl_svcgraph_new(0, 0, &g, NULL), OWL_OK);
        tally live = {0};
        size_t at = 0, batches = 1 + RND() % 4;
        for (size_t b = 0; b < batches && at < n; b++) {
            size_t k = b + 1 == batches ? n - at : RND() % (n - at + 1);
            owl_svcgraph_add(g, "t", order + at, k, (int64_t)(b + 1) * S, on_tally, &live);
            at += k;
        }
        owl_svcgraph_expire(g, INT64_MAX, on_tally, &live);
        owl_svcgraph_free(g);
        size_t total = 0;
        for (size_t e = 0; e < ne; e++) {
            char k[48];
            snprintf(k, sizeof k, "%s>%s", nd[ed[e].source].name, nd[ed[e].target].name);
            cr_assert_eq(tally_of(&live, k), ed[e].st.requests, "round %d: %s: live %u, trace %llu",
                         round, k, tally_of(&live, k), (unsigned long long)ed[e].st.requests);
            total += ed[e].st.requests;
        }
        size_t ltotal = 0;
        for (size_t i = 0; i < live.n; i++)
            ltotal += live.count[i];
        cr_assert_eq(ltotal, total, "round %d: live %zu edges, trace rule %zu", round, ltotal,
                     total);
        owl_svcmap_free(m);
    }
#undef RND
}

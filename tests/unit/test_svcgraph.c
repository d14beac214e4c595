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
    for (int i = 0; i < 4; i++) {
        owl_svcgraph_span x[] = {sp(idb[15 + i], 15 + i, 0, "other", SERVER, NULL, 1, 0)};
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

/* svcgraph.c — the live service graph fed at ingest (owl_svcgraph_add), which must find the
 * edges tracegraph.c finds in a whole trace from spans arriving in any order and batch. The
 * rules: tracer/tracer.h and docs/service-map.md "Nodes and edges".
 *
 * The live table: every span stays RING slots' worth of time (ttl) in a ring of entries,
 * oldest first; a hash chain per (tenant, trace, span id) finds the spans a newcomer joins.
 * A span is kept twice over when its parent has not come: as a possible caller under its
 * own id, and as a waiting callee under its parent's id. An entry leaves the ring when its
 * ttl ends or the ring is full; a client or producer span that never met a callee of
 * another service then becomes an edge to its virtual node. Names (tenants, services,
 * peers) are interned once; entries hold their ids. */
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "tracer/tracer.h"

/* ---- node types ---- */

/* OpenTelemetry's db.system and messaging.system values (semantic conventions 1.26). */
static const char *const db_systems[] = {
    "adabas",     "cache",     "cassandra",  "clickhouse", "cloudscape", "cockroachdb",
    "coldfusion", "cosmosdb",  "couchbase",  "couchdb",    "db2",        "derby",
    "dynamodb",   "edb",       "elasticsearch", "etcd",    "filemaker",  "firebird",
    "firstsql",   "geode",     "h2",         "hanadb",     "hbase",      "hive",
    "hsqldb",     "influxdb",  "informix",   "ingres",     "instantdb",  "interbase",
    "intersystems_cache", "mariadb", "maxdb", "memcached", "mongodb",    "mssql",
    "mssqlcompact", "mysql",   "neo4j",      "netezza",    "opensearch", "oracle",
    "other_sql",  "pervasive", "pointbase",  "postgresql", "progress",   "redis",
    "redshift",   "spanner",   "sqlite",     "sybase",     "teradata",   "trino",
    "vertica",    "sql",       "mongo",      "postgres",
};
static const char *const mq_systems[] = {
    "activemq", "aws_sqs", "aws_sns", "eventgrid", "eventhubs", "gcp_pubsub", "jms",
    "kafka",    "pulsar",  "rabbitmq", "rocketmq", "servicebus", "nats",     "sqs",
    "sns",      "amqp",    "mqtt",
};

static int in_list(const char *const *list, size_t n, const char *p, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], p, len))
            return 1;
    return 0;
}

const char *owl_svcgraph_peer_type(const char *peer, size_t n, const char *remote_type)
{
    if (remote_type && remote_type[0])
        return remote_type;
    const char *colon = peer ? memchr(peer, ':', n) : NULL;
    size_t sys = colon ? (size_t)(colon - peer) : n;
    if (peer && in_list(db_systems, OWL_ARRAY_LEN(db_systems), peer, sys))
        return "database";
    if (peer && in_list(mq_systems, OWL_ARRAY_LEN(mq_systems), peer, sys))
        return "queue";
    return "external";
}

/* ---- the live graph ---- */

#define NONE UINT32_MAX
#define MAX_NAMES 1000000

enum role { CALLER = 0, CALLEE = 1 };

typedef struct entry {
    uint64_t trace;   /* owl_hash64_16 of the trace id */
    uint64_t id;      /* CALLER: the span's id; CALLEE: its parent's */
    int64_t arrived;  /* ns */
    int64_t start_ns, duration_ns;
    uint32_t next;    /* hash chain; NONE ends it */
    uint32_t tenant, service, peer; /* name ids; peer NONE = none */
    uint8_t role, kind, status, live; /* live 0: a hole left by a join */
    uint8_t paired;   /* CALLER: a callee of another service has joined it */
} entry;

typedef struct name {
    char *s;
    size_t n;
    uint64_t h;
} name;

struct owl_svcgraph {
    entry *ring;
    size_t cap, head, count; /* oldest at head */
    uint32_t *bucket;        /* heads of the hash chains (ring slots) */
    size_t nbucket;
    int64_t ttl;
    name *names;             /* interned */
    size_t nnames, capnames;
    uint32_t *ntab;          /* open addressing over names */
    size_t ntabcap;
    owl_svcgraph_stats st;
};

static uint64_t key_hash(uint32_t tenant, uint64_t trace, uint64_t id)
{
    return owl_mix64(trace ^ owl_mix64(id ^ ((uint64_t)tenant << 32)));
}

static uint64_t id8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int owl_svcgraph_new(size_t capacity, int64_t ttl_ns, owl_svcgraph **out, owl_error *err)
{
    owl_svcgraph *g = calloc(1, sizeof *g);
    if (!g)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    g->cap = capacity ? capacity : (size_t)1 << 20;
    g->ttl = ttl_ns > 0 ? ttl_ns : 30000000000LL;
    g->nbucket = 16;
    while (g->nbucket < g->cap)
        g->nbucket *= 2;
    g->ring = malloc(g->cap * sizeof *g->ring);
    g->bucket = malloc(g->nbucket * sizeof *g->bucket);
    if (!g->ring || !g->bucket) {
        owl_svcgraph_free(g);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    memset(g->bucket, 0xff, g->nbucket * sizeof *g->bucket);
    *out = g;
    return OWL_OK;
}

void owl_svcgraph_free(owl_svcgraph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nnames; i++)
        free(g->names[i].s);
    free(g->names);
    free(g->ntab);
    free(g->ring);
    free(g->bucket);
    free(g);
}

void owl_svcgraph_get_stats(const owl_svcgraph *g, owl_svcgraph_stats *s)
{
    *s = g->st;
    s->pending = g->count;
}

/* The id of name p[0..n), interned when new; NONE when it cannot be. */
static uint32_t intern(owl_svcgraph *g, const char *p, size_t n)
{
    uint64_t h = owl_hash64(p, n, 7);
    if (g->ntabcap) {
        size_t mask = g->ntabcap - 1;
        for (size_t at = h & mask; g->ntab[at] != NONE; at = (at + 1) & mask) {
            const name *x = &g->names[g->ntab[at]];
            if (x->h == h && x->n == n && !memcmp(x->s, p, n))
                return g->ntab[at];
        }
    }
    if (g->nnames >= MAX_NAMES)
        return NONE;
    if ((g->nnames + 1) * 2 > g->ntabcap) { /* grow the index */
        size_t cap = g->ntabcap ? g->ntabcap * 2 : 64;
        uint32_t *t = malloc(cap * sizeof *t);
        if (!t)
            return NONE;
        memset(t, 0xff, cap * sizeof *t);
        for (uint32_t i = 0; i < g->nnames; i++) {
            size_t at = g->names[i].h & (cap - 1);
            while (t[at] != NONE)
                at = (at + 1) & (cap - 1);
            t[at] = i;
        }
        free(g->ntab);
        g->ntab = t;
        g->ntabcap = cap;
    }
    if (g->nnames == g->capnames) {
        size_t cap = g->capnames ? g->capnames * 2 : 64;
        name *v = realloc(g->names, cap * sizeof *v);
        if (!v)
            return NONE;
        g->names = v;
        g->capnames = cap;
    }
    char *s = malloc(n + 1);
    if (!s)
        return NONE;
    memcpy(s, p, n);
    s[n] = '\0';
    g->names[g->nnames] = (name){s, n, h};
    size_t at = h & (g->ntabcap - 1);
    while (g->ntab[at] != NONE)
        at = (at + 1) & (g->ntabcap - 1);
    g->ntab[at] = (uint32_t)g->nnames;
    return (uint32_t)g->nnames++;
}

static uint32_t *chain_of(owl_svcgraph *g, uint32_t tenant, uint64_t trace, uint64_t id)
{
    return &g->bucket[key_hash(tenant, trace, id) & (g->nbucket - 1)];
}

/* Takes ring slot k out of its hash chain. */
static void unlink_slot(owl_svcgraph *g, uint32_t k)
{
    entry *e = &g->ring[k];
    for (uint32_t *pp = chain_of(g, e->tenant, e->trace, e->id); *pp != NONE;
         pp = &g->ring[*pp].next)
        if (*pp == k) {
            *pp = e->next;
            return;
        }
}

static void hop(owl_svcgraph *g, owl_svcgraph_fn fn, void *ud, uint32_t tenant, uint32_t from,
                const char *to, const char *type, int64_t start, int64_t dur, unsigned status)
{
    owl_svcgraph_hop h = {.tenant = g->names[tenant].s,
                          .source = g->names[from].s,
                          .target = to,
                          .target_type = type,
                          .start_ns = start,
                          .duration_ns = dur,
                          .status = status};
    fn(ud, &h);
}

/* Ends the oldest entry: a client or producer span that met no callee is an edge to its
 * virtual node. */
static void retire(owl_svcgraph *g, owl_svcgraph_fn fn, void *ud)
{
    uint32_t k = (uint32_t)g->head;
    entry *e = &g->ring[k];
    if (e->live) {
        unlink_slot(g, k);
        if (e->role == CALLER && !e->paired && e->peer != NONE &&
            (e->kind == OWL_XF_CLIENT || e->kind == OWL_XF_PRODUCER)) {
            const name *p = &g->names[e->peer];
            hop(g, fn, ud, e->tenant, e->service, p->s, owl_svcgraph_peer_type(p->s, p->n, NULL),
                e->start_ns, e->duration_ns, e->status);
            g->st.virtual_++;
        }
    }
    g->head = (g->head + 1) % g->cap;
    g->count--;
}

void owl_svcgraph_expire(owl_svcgraph *g, int64_t now_ns, owl_svcgraph_fn fn, void *ud)
{
    while (g->count && (now_ns == INT64_MAX || g->ring[g->head].arrived + g->ttl <= now_ns))
        retire(g, fn, ud);
}

static void push(owl_svcgraph *g, const entry *x, owl_svcgraph_fn fn, void *ud)
{
    if (g->count == g->cap) {
        g->st.evicted += g->ring[g->head].live;
        retire(g, fn, ud);
    }
    uint32_t k = (uint32_t)((g->head + g->count) % g->cap);
    g->ring[k] = *x;
    uint32_t *b = chain_of(g, x->tenant, x->trace, x->id);
    g->ring[k].next = *b;
    *b = k;
    g->count++;
}

/* OTLP SpanKind numbers as the filter's kinds. */
static uint8_t kind_of(int k)
{
    return k == 2 ? OWL_XF_SERVER : k == 3 ? OWL_XF_CLIENT : k == 4 ? OWL_XF_PRODUCER
         : k == 5 ? OWL_XF_CONSUMER : OWL_XF_INTERNAL;
}

/* A span meeting the spans already there: as a callee (its parent here) and as a caller
 * (callees waiting for it). Returns whether its parent was found. */
static int join(owl_svcgraph *g, const entry *x, uint64_t parent, owl_svcgraph_fn fn, void *ud,
                int *paired)
{
    int found = 0;
    if (parent) {
        entry *other = NULL;
        uint32_t k = *chain_of(g, x->tenant, x->trace, parent);
        for (; k != NONE; k = g->ring[k].next) {
            entry *e = &g->ring[k];
            if (e->role != CALLER || e->trace != x->trace || e->id != parent ||
                e->tenant != x->tenant)
                continue;
            found = 1;
            if (e->service == x->service) { /* a span of its own service: no edge */
                other = NULL;
                break;
            }
            if (!other)
                other = e;
        }
        if (other) {
            other->paired = 1;
            hop(g, fn, ud, x->tenant, other->service, g->names[x->service].s, "service",
                x->start_ns, x->duration_ns, x->status);
            g->st.paired++;
        }
    }
    /* callees that came first; a twin sharing the span's id (Zipkin's client and server
     * halves of one call): the client half has met its callee, whose edge comes from the
     * server half's parent */
    int client = x->kind == OWL_XF_CLIENT || x->kind == OWL_XF_PRODUCER;
    for (uint32_t *pp = chain_of(g, x->tenant, x->trace, x->id); *pp != NONE;) {
        uint32_t k = *pp;
        entry *e = &g->ring[k];
        if (e->trace != x->trace || e->id != x->id || e->tenant != x->tenant ||
            (e->role == CALLER && e->service == x->service)) {
            pp = &e->next;
            continue;
        }
        if (e->role == CALLER) {
            if (client && e->kind == OWL_XF_SERVER)
                *paired = 1;
            else if (x->kind == OWL_XF_SERVER &&
                     (e->kind == OWL_XF_CLIENT || e->kind == OWL_XF_PRODUCER))
                e->paired = 1;
            pp = &e->next;
            continue;
        }
        if (e->service != x->service) {
            *paired = 1;
            hop(g, fn, ud, x->tenant, x->service, g->names[e->service].s, "service",
                e->start_ns, e->duration_ns, e->status);
            g->st.paired++;
        }
        *pp = e->next; /* joined: the slot stays in the ring as a hole */
        e->live = 0;
    }
    return found;
}

void owl_svcgraph_add(owl_svcgraph *g, const char *tenant, const owl_svcgraph_span *spans,
                      size_t n, int64_t now_ns, owl_svcgraph_fn fn, void *ud)
{
    owl_svcgraph_expire(g, now_ns, fn, ud);
    uint32_t t = intern(g, tenant, strlen(tenant));
    for (size_t i = 0; i < n; i++) {
        const owl_svcgraph_span *s = &spans[i];
        uint32_t svc = t == NONE ? NONE : intern(g, s->service, s->service_len);
        uint32_t peer = s->peer_len ? intern(g, s->peer, s->peer_len) : NONE;
        if (svc == NONE || (s->peer_len && peer == NONE)) {
            g->st.dropped++;
            continue;
        }
        entry x = {.trace = owl_hash64_16(s->trace_id, 0),
                   .id = id8(s->span_id),
                   .arrived = now_ns,
                   .start_ns = s->start_ns,
                   .duration_ns = s->duration_ns,
                   .tenant = t,
                   .service = svc,
                   .peer = peer,
                   .role = CALLER,
                   .kind = kind_of(s->kind),
                   .status = (uint8_t)s->status,
                   .live = 1};
        uint64_t parent = id8(s->parent_id);
        int paired = 0;
        int found = join(g, &x, parent, fn, ud, &paired);
        x.paired = (uint8_t)paired;
        push(g, &x, fn, ud);
        if (parent && !found) { /* wait for the parent too */
            x.role = CALLEE;
            x.id = parent;
            x.paired = 0;
            push(g, &x, fn, ud);
        }
    }
}

/* svcgraph.c — the live service graph fed at ingest (owl_svcgraph_add), which must find the
 * edges tracegraph.c finds in a whole trace from spans arriving in any order and batch. The
 * rules: tracer/tracer.h and docs/service-map.md "Nodes and edges".
 *
 * Two structures, so that most spans cost one cache miss:
 * - the span table, open addressing by (tenant, trace, span id) in windows of PROBE slots:
 *   every span of the last ttl seconds as a possible caller (its service and kind), and the
 *   callees waiting for a parent that has not come, under the parent's id. A slot is free
 *   again once its second is more than ttl old; a full window gives up its oldest slot.
 * - the ring, oldest first: only what must be acted on when its time ends — client and
 *   producer spans (an edge to their virtual node unless a callee of another service met
 *   them) and waiting callees (their figures, until their caller comes).
 * A batch is joined within itself first (a hash of its span ids, in cache): a trace sent
 * whole by one exporter or collector meets the tables only to be kept for later batches.
 * Names (tenants, services, peers) are interned once; entries hold their ids. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/hash.h"
#include "common/traceid.h"
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
#define PROBE 4 /* slots of a key's window: one cache line (the table is page-aligned) */
#define KEY_MASK ((UINT64_C(1) << 48) - 1) /* a slot keeps a key's low 48 bits */
#define RING_MASK ((UINT32_C(1) << 26) - 1) /* a slot's ring index; RING_MASK = none */

enum role { CALLER = 1, CALLEE = 2 };

/* A slot of the span table: a span as a possible caller, or a callee waiting for key's
 * span (its figures in its ring entry). 16 bytes, so a window of PROBE is one cache line:
 * each kept span costs one line fetched, where windows of eight 24-byte slots were three or
 * four (and the prefetches of eight spans ahead filled the core's line buffers). kq 0 =
 * free. */
typedef struct slot {
    uint64_t kq;      /* key_hash(tenant, trace, id) (48 bits, never 0) | second << 48: when
                         it came, seconds since the graph was made, mod 2^16 */
    uint32_t service; /* name id */
    uint32_t rrk;     /* its ring entry (a client, producer or callee; RING_MASK = none)
                         | role << 26 | kind << 28 */
} slot;

static uint64_t s_key(const slot *x)
{
    return x->kq & KEY_MASK;
}

static uint32_t s_ring(const slot *x)
{
    uint32_t r = x->rrk & RING_MASK;
    return r == RING_MASK ? NONE : r;
}

static uint8_t s_role(const slot *x)
{
    return (uint8_t)(x->rrk >> 26 & 3);
}

static uint8_t s_kind(const slot *x)
{
    return (uint8_t)(x->rrk >> 28 & 7);
}

static slot mkslot(uint64_t key, uint32_t svc, uint32_t now_s, uint32_t ring, uint8_t role,
                   uint8_t kind)
{
    return (slot){key | (uint64_t)(uint16_t)now_s << 48, svc,
                  (ring == NONE ? RING_MASK : ring) | (uint32_t)role << 26 |
                      (uint32_t)kind << 28};
}

/* A ring entry: a client or producer span (role CALLER), or a waiting callee (CALLEE). */
typedef struct entry {
    uint64_t key;     /* its slot's key */
    int64_t arrived;  /* ns */
    int64_t start_ns, duration_ns;
    uint32_t tenant, service, peer; /* name ids; peer NONE = none */
    uint8_t role, kind, status, live; /* live 0: joined, or left the span table */
    uint8_t paired;   /* CALLER: a callee of another service has met it */
} entry;

typedef struct name {
    char *s;
    size_t n;
    uint64_t h;
} name;

struct owl_svcgraph {
    slot *tab;               /* mmap'd: tabbytes */
    size_t tabmask, tabbytes;
    entry *ring;
    size_t cap, head, count; /* oldest at head */
    size_t waiting;          /* live callees in the ring */
    int64_t ttl, t0;
    uint32_t ttl_s;
    name *names;             /* interned */
    size_t nnames, capnames;
    uint32_t *ntab;          /* open addressing over names */
    size_t ntabcap;
    /* a batch's own join: its span ids hashed, its spans' parents and flags */
    uint32_t *bslot;
    size_t bcap;
    int32_t *bparent;
    uint8_t *bflag;
    uint64_t *btrace;  /* each span's trace hash (owl_hash64_16), computed once */
    uint32_t *bsvc;    /* each span's service name id */
    size_t bn;
    owl_svcgraph_stats st;
};

static uint64_t key_hash(uint32_t tenant, uint64_t trace, uint64_t id)
{
    uint64_t k = owl_mix64(trace ^ owl_mix64(id ^ ((uint64_t)tenant << 32))) & KEY_MASK;
    return k ? k : 1;
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
    if (g->cap > RING_MASK)
        g->cap = RING_MASK;
    g->ttl = ttl_ns > 0 ? ttl_ns : 30000000000LL;
    g->ttl_s = (uint32_t)((g->ttl + 999999999) / 1000000000);
    if (g->ttl_s > UINT16_MAX / 2) /* slots tell age in seconds mod 2^16 */
        g->ttl_s = UINT16_MAX / 2;
    size_t n = 64;
    while (n < 2 * g->cap)
        n *= 2;
    g->tabmask = n - 1;
    /* windows are aligned groups of PROBE slots; in huge pages where the kernel gives them
     * on request: every kept span reads a random window of these tens of megabytes, and with
     * 4 KiB pages each read was a TLB miss too */
    g->tabbytes = n * sizeof *g->tab;
    g->tab = mmap(NULL, g->tabbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->tab == MAP_FAILED)
        g->tab = NULL;
    else
        madvise(g->tab, g->tabbytes, MADV_HUGEPAGE);
    g->ring = malloc(g->cap * sizeof *g->ring);
    if (!g->tab || !g->ring) {
        owl_svcgraph_free(g);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }

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
    if (g->tab)
        munmap(g->tab, g->tabbytes);
    free(g->ring);
    free(g->bslot);
    free(g->bparent);
    free(g->bflag);
    free(g->btrace);
    free(g->bsvc);
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

static slot *window(const owl_svcgraph *g, uint64_t key)
{
    return &g->tab[key & g->tabmask & ~(uint64_t)(PROBE - 1)];
}

/* How long ago slot x came, in seconds (mod 2^16: one that came a multiple of 2^16 s ago
 * looks new, and could only be met by a span of its own key). */
static uint16_t age(const slot *x, uint32_t now_s)
{
    return (uint16_t)((uint16_t)now_s - (uint16_t)(x->kq >> 48));
}

/* 1 when slot x holds something of the last ttl seconds. */
static int fresh(const owl_svcgraph *g, const slot *x, uint32_t now_s)
{
    return x->kq && age(x, now_s) <= g->ttl_s;
}

/* Frees the span table's slot of ring entry e (a callee that is leaving). */
static void unslot(owl_svcgraph *g, uint32_t k)
{
    slot *w = window(g, g->ring[k].key);
    for (int i = 0; i < PROBE; i++)
        if (s_key(&w[i]) == g->ring[k].key && s_ring(&w[i]) == k) {
            w[i].kq = 0;
            return;
        }
}

/* Ends the oldest ring entry: a client or producer span that met no callee is an edge to
 * its virtual node; a callee whose caller never came is none. */
static void retire(owl_svcgraph *g, owl_svcgraph_fn fn, void *ud)
{
    uint32_t k = (uint32_t)g->head;
    entry *e = &g->ring[k];
    if (e->live && e->role == CALLEE) {
        unslot(g, k);
        g->waiting--;
    } else if (e->live && !e->paired && e->peer != NONE) {
        const name *p = &g->names[e->peer];
        hop(g, fn, ud, e->tenant, e->service, p->s, owl_svcgraph_peer_type(p->s, p->n, NULL),
            e->start_ns, e->duration_ns, e->status);
        g->st.virtual_++;
    }
    e->live = 0;
    g->head = (g->head + 1) % g->cap;
    g->count--;
}

void owl_svcgraph_expire(owl_svcgraph *g, int64_t now_ns, owl_svcgraph_fn fn, void *ud)
{
    while (g->count && (now_ns == INT64_MAX || g->ring[g->head].arrived + g->ttl <= now_ns))
        retire(g, fn, ud);
}

/* A new ring entry (the oldest ended first when the ring is full); its index. */
static uint32_t push(owl_svcgraph *g, const entry *x, owl_svcgraph_fn fn, void *ud)
{
    if (g->count == g->cap) {
        g->st.evicted += g->ring[g->head].live;
        retire(g, fn, ud);
    }
    uint32_t k = (uint32_t)((g->head + g->count) % g->cap);
    g->ring[k] = *x;
    g->count++;
    return k;
}

/* Takes a slot of key's window for x: a free or stale one, else the oldest (its span is
 * then forgotten early: counted evicted). */
static void put_slot(owl_svcgraph *g, slot x, uint32_t now_s)
{
    slot *w = window(g, s_key(&x)), *victim = &w[0];
    for (int i = 0; i < PROBE; i++) {
        if (!fresh(g, &w[i], now_s)) {
            victim = &w[i];
            break;
        }
        if (age(&w[i], now_s) > age(victim, now_s))
            victim = &w[i];
    }
    if (fresh(g, victim, now_s)) {
        g->st.evicted++;
        if (s_role(victim) == CALLEE && s_ring(victim) != NONE) { /* its ring entry too */
            g->ring[s_ring(victim)].live = 0;
            g->waiting--;
        }
    }
    *victim = x;
}

/* OTLP SpanKind numbers as the filter's kinds. */
static uint8_t kind_of(int k)
{
    return k == 2 ? OWL_XF_SERVER : k == 3 ? OWL_XF_CLIENT : k == 4 ? OWL_XF_PRODUCER
         : k == 5 ? OWL_XF_CONSUMER : OWL_XF_INTERNAL;
}

static int is_client(uint8_t kind)
{
    return kind == OWL_XF_CLIENT || kind == OWL_XF_PRODUCER;
}

/* Marks the client caller of slot c met (its ring entry, when it is still that span's). */
static void met(owl_svcgraph *g, const slot *c)
{
    uint32_t r = s_ring(c);
    if (r != NONE && g->ring[r].key == s_key(c) && g->ring[r].role == CALLER)
        g->ring[r].paired = 1;
}

/* Span i of the batch joins what earlier batches left: its parent (when not in the batch),
 * callees waiting for it, a twin sharing its id. Then it is kept for later batches. */
static void join_kept(owl_svcgraph *g, const owl_svcgraph_span *s, uint64_t trace,
                      uint32_t tenant, uint32_t svc, uint32_t peer, int parent_here, int paired,
                      uint32_t now_s, int64_t now_ns, owl_svcgraph_fn fn, void *ud)
{
    uint64_t parent = id8(s->parent_id);
    uint8_t kind = kind_of(s->kind);
    entry x = {.arrived = now_ns,
               .start_ns = s->start_ns,
               .duration_ns = s->duration_ns,
               .tenant = tenant,
               .service = svc,
               .peer = peer,
               .kind = kind,
               .status = (uint8_t)s->status,
               .live = 1};
    if (parent && !parent_here) {
        uint64_t pk = key_hash(tenant, trace, parent);
        slot *w = window(g, pk), *other = NULL;
        int found = 0;
        for (int i = 0; i < PROBE; i++) {
            if (s_key(&w[i]) != pk || s_role(&w[i]) != CALLER || !fresh(g, &w[i], now_s))
                continue;
            found = 1;
            if (w[i].service == svc) { /* a span of its own service: no edge */
                other = NULL;
                break;
            }
            if (!other)
                other = &w[i];
        }
        if (other) {
            met(g, other);
            hop(g, fn, ud, tenant, other->service, g->names[svc].s, "service", s->start_ns,
                s->duration_ns, s->status);
            g->st.paired++;
        } else if (!found) { /* wait for the parent */
            x.role = CALLEE;
            x.key = pk;
            uint32_t k = push(g, &x, fn, ud);
            put_slot(g, mkslot(pk, svc, now_s, k, CALLEE, kind), now_s);
            g->waiting++;
        }
    }
    /* an internal or consumer span is not kept for later batches: another service's span
     * under one (a call made without a client span) is joined only within one batch, and
     * most spans are internal ones (each kept would cost a cache miss) */
    if (s->kind == 1 || s->kind == 5)
        return;
    /* callees that came first, and a twin sharing the span's id (Zipkin's client and server
     * halves of one call: the client half has met its callee, whose edge comes from the
     * server half's parent) */
    uint64_t key = key_hash(tenant, trace, id8(s->span_id));
    slot *w = window(g, key);
    for (int i = 0; i < PROBE; i++) {
        if (s_key(&w[i]) != key || !fresh(g, &w[i], now_s) || w[i].service == svc)
            continue;
        if (s_role(&w[i]) == CALLER) {
            if (is_client(kind) && s_kind(&w[i]) == OWL_XF_SERVER)
                paired = 1;
            else if (kind == OWL_XF_SERVER && is_client(s_kind(&w[i])))
                met(g, &w[i]);
            continue;
        }
        entry *c = &g->ring[s_ring(&w[i])]; /* a callee waiting for this span */
        paired = 1;
        hop(g, fn, ud, tenant, svc, g->names[c->service].s, "service", c->start_ns,
            c->duration_ns, c->status);
        g->st.paired++;
        c->live = 0;
        g->waiting--;
        w[i].kq = 0;
    }
    uint32_t k = NONE;
    if (is_client(kind) && peer != NONE) { /* may become an edge to its virtual node */
        x.role = CALLER;
        x.key = key;
        x.paired = (uint8_t)paired;
        k = push(g, &x, fn, ud);
    }
    put_slot(g, mkslot(key, svc, now_s, k, CALLER, kind), now_s);
}

/* Room for a batch of n spans' own join. */
static int batch_room(owl_svcgraph *g, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (cap > g->bcap) {
        uint32_t *s = realloc(g->bslot, cap * sizeof *s);
        if (!s)
            return OWL_ENOMEM;
        g->bslot = s;
        g->bcap = cap;
    }
    if (n > g->bn) {
        int32_t *p = realloc(g->bparent, n * sizeof *p);
        if (p)
            g->bparent = p;
        uint8_t *f = p ? realloc(g->bflag, n) : NULL;
        if (f)
            g->bflag = f;
        uint64_t *t = f ? realloc(g->btrace, n * sizeof *t) : NULL;
        if (t)
            g->btrace = t;
        uint32_t *v = t ? realloc(g->bsvc, n * sizeof *v) : NULL;
        if (!v)
            return OWL_ENOMEM;
        g->bsvc = v;
        g->bn = n;
    }
    return OWL_OK;
}

/* The batch table's slot for id in the trace of span i: the slot of the batch's span with
 * that trace and id, or the empty slot where it would go. */
static uint32_t *batch_slot(const owl_svcgraph *g, const owl_svcgraph_span *spans, size_t i,
                            const uint8_t *id)
{
    size_t mask = g->bcap - 1, at = owl_mix64(g->btrace[i] ^ id8(id)) & mask;
    for (; g->bslot[at] != NONE; at = (at + 1) & mask) {
        const owl_svcgraph_span *o = &spans[g->bslot[at]];
        if (!memcmp(o->span_id, id, 8) && !memcmp(o->trace_id, spans[i].trace_id, 16))
            break;
    }
    return &g->bslot[at];
}

enum { B_PARENT_HERE = 1, B_PAIRED = 2 };

#define PREFETCH 8 /* spans ahead whose span table windows are fetched */

/* Fetches the windows join_kept will read for span s of trace hash trace. */
static void prefetch(const owl_svcgraph *g, uint32_t tenant, const owl_svcgraph_span *s,
                     uint64_t trace, uint8_t flag)
{
    if (s->kind == 1 || s->kind == 5) /* not kept (join_kept) */
        return;
    __builtin_prefetch(window(g, key_hash(tenant, trace, id8(s->span_id))), 1);
    if (!(flag & B_PARENT_HERE) && !owl_traceid_is_zero(s->parent_id, 8))
        __builtin_prefetch(window(g, key_hash(tenant, trace, id8(s->parent_id))), 0);
}

void owl_svcgraph_add(owl_svcgraph *g, const char *tenant, const owl_svcgraph_span *spans,
                      size_t n, int64_t now_ns, owl_svcgraph_fn fn, void *ud)
{
    owl_svcgraph_expire(g, now_ns, fn, ud);
    if (!g->t0)
        g->t0 = now_ns;
    uint32_t now_s = (uint32_t)((now_ns - g->t0) / 1000000000);
    uint32_t t = intern(g, tenant, strlen(tenant));
    if (t == NONE || batch_room(g, n) != OWL_OK) {
        g->st.dropped += n;
        return;
    }
    /* the batch's own join: each span's parent among the batch's spans (the first of a
     * repeated id; a server half before a client half sharing it) */
    memset(g->bslot, 0xff, g->bcap * sizeof *g->bslot);
    for (size_t i = 0; i < n; i++) {
        g->btrace[i] = owl_hash64_16(spans[i].trace_id, 0);
        g->bsvc[i] = intern(g, spans[i].service, spans[i].service_len);
        g->bflag[i] = 0;
        uint32_t *at = batch_slot(g, spans, i, spans[i].span_id);
        if (*at == NONE || (spans[i].kind == 2 && spans[*at].kind == 3))
            *at = (uint32_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        g->bparent[i] = -1;
        if (owl_traceid_is_zero(spans[i].parent_id, 8))
            continue;
        uint32_t p = *batch_slot(g, spans, i, spans[i].parent_id);
        if (p == NONE || p == i)
            continue;
        g->bparent[i] = (int32_t)p;
        g->bflag[i] |= B_PARENT_HERE;
        if (g->bsvc[p] != g->bsvc[i])
            g->bflag[p] |= B_PAIRED;
    }
    for (size_t i = 0; i < n; i++) {
        const owl_svcgraph_span *s = &spans[i];
        if (i + PREFETCH < n) /* the span table is far larger than the caches: fetch ahead */
            prefetch(g, t, &spans[i + PREFETCH], g->btrace[i + PREFETCH],
                     g->bflag[i + PREFETCH]);
        uint32_t sv = g->bsvc[i];
        uint32_t peer = s->peer_len ? intern(g, s->peer, s->peer_len) : NONE;
        if (sv == NONE || (s->peer_len && peer == NONE)) {
            g->st.dropped++;
            continue;
        }
        int32_t p = g->bparent[i];
        if (p >= 0 && g->bsvc[p] != sv && g->bsvc[p] != NONE) { /* an edge within the batch */
            hop(g, fn, ud, t, g->bsvc[p], g->names[sv].s, "service", s->start_ns,
                s->duration_ns, s->status);
            g->st.paired++;
        }
        join_kept(g, s, g->btrace[i], t, sv, peer, (g->bflag[i] & B_PARENT_HERE) != 0,
                  (g->bflag[i] & B_PAIRED) != 0, now_s, now_ns, fn, ud);
    }
}

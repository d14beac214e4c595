/* span.c — the tracer (owl_init, owl_shutdown) and its spans (owl/owl.h, docs/client.md
 * "Spans"). Invariants: span handles are never returned to malloc, only recycled through
 * per-thread free lists (a thread's list goes to a shared one when it exits), so a stale
 * pointer to a handle stays readable and its `serial` (its span id while live, 0 once ended)
 * tells whether it is still the span it was; a thread's current span and each span's
 * previous-current are kept as (pointer, serial) pairs and trusted only when they match. Only a
 * sampled span has a record (owl__span_record) and allocates: an unsampled one costs a
 * recycled handle and its ids. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* The tracestate and baggage a span inherited, shared by its descendants. */
typedef struct carry {
    atomic_uint refs;
    owl_context *ctx;
} carry;

struct owl_span {
    _Atomic uint64_t serial; /* span id as a number while live; 0 ended */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    int sampled;
    int was_current;       /* made current at start (not detached) */
    owl_span *prev;        /* the thread's current span when this one became current */
    uint64_t prev_serial;
    carry *carry;          /* NULL: nothing inherited */
    owl__span_record *rec; /* sampled only */
    owl_span *next_free;
};

/* ---- the tracer: set by owl_init, read on the hot path through atomics only ---- */

static struct {
    pthread_mutex_t lock; /* owl_init / owl_shutdown and the strings below */
    atomic_int on;
    _Atomic int kind;          /* enum owl__sampler */
    _Atomic uint64_t bound;
    char *service_name;
    char *resource;
} tracer = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- per-thread state: the id generator, the current span, recycled handles ---- */

/* A record of the pool while free: its first bytes link it. */
typedef struct free_rec {
    struct free_rec *next;
} free_rec;

typedef struct tstate {
    uint64_t rng;         /* wyrand's state */
    free_rec *recs;       /* pooled records this thread takes from */
    unsigned gen;         /* fork_gen when seeded; 0 never seeded */
    owl_span *cur;
    uint64_t cur_serial;
    owl_span *free;
    int registered;       /* the exit destructor is armed */
} tstate;

static TLS tstate ts;
static atomic_uint fork_gen = 1; /* bumped in a child after fork: every thread re-seeds */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static owl_span *_Atomic pool; /* handles of exited threads */

/* The record pool: ended records come back here from whichever thread frees them (mostly the
 * exporter's), pushed one by one; a thread whose own list is empty takes all at once (an
 * exchange, so no pop can meet a recycled head: no ABA). At most POOL_MAX wait here; more
 * are given back to malloc. */
#define POOL_MAX 8192
static free_rec *_Atomic rec_pool;
static atomic_long rec_pooled;

/* fork: the locks are held across it, so a child never starts with one held by a thread it
 * does not have (the exporter's last: one order, tracer, pool, exporter); the child's threads
 * (its one) re-seed, and its exporter starts its own thread. */
static void before_fork(void)
{
    pthread_mutex_lock(&tracer.lock);
    pthread_mutex_lock(&pool_lock);
    owl__exporter_atfork(0);
}

static void after_fork_parent(void)
{
    owl__exporter_atfork(1);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&tracer.lock);
}

static void after_fork_child(void)
{
    owl__clock_atfork_child();
    owl__exporter_atfork(2);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&tracer.lock);
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

/* A thread exits: its recycled handles go to the shared pool. */
static void recs_give_back(free_rec *list);

static void thread_exit(void *arg)
{
    tstate *t = arg;
    recs_give_back(t->recs);
    t->recs = NULL;
    owl_span *last = t->free;
    if (!last)
        return;
    while (last->next_free)
        last = last->next_free;
    pthread_mutex_lock(&pool_lock);
    last->next_free = atomic_load_explicit(&pool, memory_order_relaxed);
    atomic_store_explicit(&pool, t->free, memory_order_relaxed);
    pthread_mutex_unlock(&pool_lock);
    t->free = NULL;
}

static void init_once(void)
{
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Seeds from getrandom(2); should it fail (no entropy source), from the clock, the pid and the
 * state's address, which still differ between threads and processes. */
static void seed(tstate *t, unsigned gen)
{
    uint64_t x;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        x = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 32 ^ (uint64_t)getpid() << 16 ^
            (uint64_t)(uintptr_t)t;
    }
    t->rng = splitmix(&x);
    t->gen = gen;
}

/* wyrand (Wang Yi's): a Weyl sequence mixed by one 64x64->128-bit multiply, period 2^64 a
 * thread; it passes BigCrush and PractRand, and costs a fifth of xoshiro256**'s instructions,
 * three draws a span being a sixth of an unsampled span's work. */
static uint64_t next64(tstate *t)
{
    uint64_t x = t->rng += 0xa0761d6478bd642fu;
    unsigned __int128 m = (unsigned __int128)x * (x ^ 0xe7037ed1a0b428dbu);
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

static uint64_t nonzero64(tstate *t)
{
    uint64_t r;
    while (!(r = next64(t)))
        ;
    return r;
}

static void put64(uint8_t *b, uint64_t v)
{
    v = __builtin_bswap64(v); /* big-endian, as ids are written */
    memcpy(b, &v, 8);
}

static uint64_t get64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, 8);
    return __builtin_bswap64(v);
}

/* Arms the thread's exit destructor, which hands its recycled handles on. */
static void arm_exit(tstate *t)
{
    pthread_once(&once, init_once);
    pthread_setspecific(exit_key, t);
    t->registered = 1;
}

/* The thread's state, its generator seeded for this process. */
static tstate *thread_state(void)
{
    tstate *t = &ts;
    unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (__builtin_expect(t->gen != gen, 0)) {
        if (!t->registered)
            arm_exit(t);
        seed(t, atomic_load_explicit(&fork_gen, memory_order_relaxed));
    }
    return t;
}

static owl_span *live(owl_span *s, uint64_t serial)
{
    return s && atomic_load_explicit(&s->serial, memory_order_relaxed) == serial ? s : NULL;
}

static owl_span *take_handle(tstate *t)
{
    owl_span *s = t->free;
    if (!s && atomic_load_explicit(&pool, memory_order_relaxed)) { /* a peek; the lock decides */
        pthread_mutex_lock(&pool_lock);
        t->free = atomic_exchange_explicit(&pool, NULL, memory_order_relaxed);
        pthread_mutex_unlock(&pool_lock);
        s = t->free;
    }
    if (s) {
        t->free = s->next_free;
        return s;
    }
    return calloc(1, sizeof *s);
}

/* ---- time and text ---- */

/* The length of s cut to at most OWL__MAX_STR bytes, not inside a UTF-8 sequence. */
size_t owl__cut_len(const char *s)
{
    size_t n = strnlen(s, OWL__MAX_STR + 1);
    if (n > OWL__MAX_STR)
        for (n = OWL__MAX_STR; n && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
            ; /* s[n] continues a sequence: cut before it */
    return n;
}

static char *dup_cut(const char *s)
{
    size_t n = owl__cut_len(s);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ---- carried tracestate and baggage ---- */

static carry *carry_ref(carry *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

static void carry_unref(carry *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        owl_context_free(c->ctx);
        free(c);
    }
}

/* A carry of p's tracestate and baggage; NULL when it has neither, or out of memory (then
 * they are lost, the span still made). */
static carry *carry_of(const owl_context *p)
{
    if (!*owl_context_tracestate(p) && !owl_baggage_count(p))
        return NULL;
    carry *c = malloc(sizeof *c);
    if (!c || !(c->ctx = owl_context_copy(p))) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    return c;
}

/* ---- records ---- */

void owl__attr_clear(owl__attr *a)
{
    free(a->key);
    if (a->type == OWL__ATTR_STR)
        free(a->v.s);
}

void owl__span_record_free(owl__span_record *r)
{
    if (!r)
        return;
    if (r->attrs || r->events || r->links || r->trace_state || r->status_message) {
        /* a bare span (most, in a storm) owns nothing beyond its block: no free(NULL) calls */
        for (uint32_t i = 0; i < r->nattrs; i++)
            owl__attr_clear(&r->attrs[i]);
        for (uint32_t i = 0; i < r->nevents; i++) {
            for (uint32_t j = 0; j < r->events[i].nattrs; j++)
                owl__attr_clear(&r->events[i].attrs[j]);
            free(r->events[i].attrs);
            free(r->events[i].name);
        }
        for (uint32_t i = 0; i < r->nlinks; i++)
            free(r->links[i].trace_state);
        free(r->attrs);
        free(r->events);
        free(r->links);
        free(r->trace_state);
        free(r->status_message); /* the name is in r's block */
    }
    if (!r->pooled || atomic_load_explicit(&rec_pooled, memory_order_relaxed) >= POOL_MAX) {
        free(r);
        return;
    }
    free_rec *f = (free_rec *)r, *head = atomic_load_explicit(&rec_pool, memory_order_relaxed);
    do
        f->next = head;
    while (!atomic_compare_exchange_weak_explicit(&rec_pool, &head, f, memory_order_release,
                                                  memory_order_relaxed));
    atomic_fetch_add_explicit(&rec_pooled, 1, memory_order_relaxed);
}

/* Gives a list of free pooled records back to the pool (a thread's, as it exits). */
static void recs_give_back(free_rec *list)
{
    while (list) {
        free_rec *next = list->next;
        owl__span_record *r = (owl__span_record *)list;
        memset(r, 0, sizeof *r);
        r->pooled = 1;
        owl__span_record_free(r);
        list = next;
    }
}

/* A pooled record's block from t's list, refilled from the pool when empty; malloc'd when
 * the pool has none. Not zeroed. */
static owl__span_record *rec_take(tstate *t)
{
    if (!t->recs) {
        /* the count restarts with the pool: not walked (a chase through every record, a
         * sixth of start's time), so a push between the two exchanges is off by one until
         * the next take, which bounds the drift */
        t->recs = atomic_exchange_explicit(&rec_pool, NULL, memory_order_acquire);
        if (t->recs)
            atomic_store_explicit(&rec_pooled, 0, memory_order_relaxed);
    }
    free_rec *f = t->recs;
    if (f) {
        t->recs = f->next;
        return (owl__span_record *)f;
    }
    return malloc(sizeof(owl__span_record) + OWL__POOL_NAME);
}

/* At exit: the pool's records and the exiting thread's go back to malloc (threads still
 * running keep theirs, reachable from their state). */
__attribute__((destructor)) static void rec_pool_free(void)
{
    free_rec *lists[2] = {atomic_exchange(&rec_pool, NULL), ts.recs};
    ts.recs = NULL;
    for (int i = 0; i < 2; i++)
        for (free_rec *f = lists[i], *next; f; f = next) {
            next = f->next;
            free(f);
        }
}

/* A record for s, its name cut as attribute strings are and kept in the record's own block;
 * NULL out of memory. */
static owl__span_record *record_new(tstate *t, const owl_span *s, const char *name,
                                    owl_span_kind kind, const uint8_t parent_id[8],
                                    int parent_remote)
{
    size_t n = owl__cut_len(name);
    int pooled = n < OWL__POOL_NAME;
    owl__span_record *r = pooled ? rec_take(t) : malloc(sizeof *r + n + 1);
    if (!r)
        return NULL;
    /* every field set here, not a memset first: rep stos was a third of start's time */
    _Static_assert(sizeof(void *) != 8 || sizeof(owl__span_record) == 160,
                   "record_new sets every field of the record: a new one goes there too");
    memcpy(r->trace_id, s->trace_id, 16);
    memcpy(r->span_id, s->span_id, 8);
    memcpy(r->parent_span_id, parent_id, 8);
    r->parent_remote = parent_remote;
    r->trace_state = NULL;
    r->name = (char *)(r + 1);
    memcpy(r->name, name, n);
    r->name[n] = 0;
    r->kind = kind;
    r->start_ns = r->end_ns = 0;
    r->attrs = NULL;
    r->nattrs = r->dropped_attrs = 0;
    r->events = NULL;
    r->nevents = r->dropped_events = 0;
    r->event_lost = 0;
    r->links = NULL;
    r->nlinks = r->dropped_links = 0;
    r->status = OWL_STATUS_UNSET;
    r->status_message = NULL;
    r->pooled = pooled;
    if (s->carry) {
        const char *st = owl_context_tracestate(s->carry->ctx);
        if (*st && !(r->trace_state = strdup(st))) {
            owl__span_record_free(r);
            return NULL;
        }
    }
    return r;
}

/* Grows *arr (n elements of sz bytes, its capacity the power of two at or above n) by one
 * element when full; 0, or -1 out of memory (*arr unchanged). */
static int grow(void **arr, uint32_t n, size_t sz)
{
    if (n & (n - 1)) /* not a power of two: below capacity */
        return 0;
    void *a = realloc(*arr, (n ? 2 * (size_t)n : 1) * sz);
    if (!a)
        return -1;
    *arr = a;
    return 0;
}

/* ---- the tracer ---- */

OWL_API int owl_init(const owl_config *c)
{
    owl_config *own = NULL;
    owl__sampling smp;
    int rc = 0;
    pthread_mutex_lock(&tracer.lock);
    if (atomic_load(&tracer.on)) {
        rc = OWL_ERR_INVAL;
        goto out;
    }
    if (!c && !(c = own = owl_config_new())) {
        rc = OWL_ERR_NOMEM;
        goto out;
    }
    double ratio;
    enum owl__sampler kind = owl__config_sampler(c, &ratio);
    smp = owl__sampling_of(kind, ratio);
    const char *svc = owl_config_get(c, "service.name"), *res = owl_config_get(c, "resource");
    char *s = strdup(svc ? svc : "unknown_service"), *r = strdup(res ? res : "");
    if (!s || !r) {
        free(s);
        free(r);
        rc = OWL_ERR_NOMEM;
        goto out;
    }
    pthread_once(&once, init_once); /* the fork handlers, before the exporter's thread */
    if ((rc = owl__exporter_start(c, s, r))) {
        free(s);
        free(r);
        goto out;
    }
    tracer.service_name = s;
    tracer.resource = r;
    owl__log_configure(c, s);
    atomic_store(&tracer.kind, (int)smp.kind);
    atomic_store(&tracer.bound, smp.bound);
    atomic_store_explicit(&tracer.on, 1, memory_order_release);
out:
    pthread_mutex_unlock(&tracer.lock);
    /* outside tracer.lock: the xray poller's fork handler takes its own lock first */
    if (rc == 0 && smp.kind == OWL__SAMPLER_XRAY && (rc = owl__xray_start(c, svc)) != 0)
        owl_shutdown(0);
    owl_config_free(own);
    return rc;
}

/* owl_shutdown — spans end unexported from here on; the exporter sends what it holds within
 * timeout_ms, which also bounds the xray sampler's last report. */
OWL_API int owl_shutdown(int timeout_ms)
{
    int rc, was_on;
    pthread_mutex_lock(&tracer.lock);
    was_on = atomic_exchange(&tracer.on, 0);
    rc = was_on ? owl__exporter_stop(timeout_ms) : OWL_ERR_INVAL;
    owl__log_reset();
    free(tracer.service_name);
    free(tracer.resource);
    tracer.service_name = tracer.resource = NULL;
    pthread_mutex_unlock(&tracer.lock);
    if (was_on) /* even when the exporter timed out; nothing to stop unless the sampler is xray */
        owl__xray_stop(timeout_ms);
    return rc;
}

int owl__tracer_resource(char **service_name, char **resource)
{
    int rc = 0;
    *service_name = *resource = NULL;
    pthread_mutex_lock(&tracer.lock);
    if (!atomic_load(&tracer.on))
        rc = OWL_ERR_INVAL;
    else if (!(*service_name = strdup(tracer.service_name)) ||
             !(*resource = strdup(tracer.resource))) {
        free(*service_name);
        *service_name = NULL;
        rc = OWL_ERR_NOMEM;
    }
    pthread_mutex_unlock(&tracer.lock);
    return rc;
}

OWL_API int owl_flush(int timeout_ms)
{
    return owl__exporter_flush(timeout_ms);
}

OWL_API uint64_t owl_dropped_spans(void)
{
    return owl__exporter_dropped(OWL__SIG_TRACES);
}

OWL_API uint64_t owl_dropped_logs(void)
{
    return owl__exporter_dropped(OWL__SIG_LOGS);
}

/* ---- spans ---- */

static owl_span *current(tstate *t)
{
    return live(t->cur, t->cur_serial);
}

/* The parent's part of s: ids, flag and carry; *parent_sampled -1 when none or undecided. */
static void take_parent(owl_span *s, tstate *t, const owl_context *parent, unsigned flags,
                        uint8_t pid[8], int *parent_sampled, int *remote)
{
    const owl_span *ps;
    *parent_sampled = -1;
    *remote = 0;
    if (flags & OWL_SPAN_ROOT)
        return;
    if (parent) {
        if (owl_context_ids(parent, s->trace_id, pid) == 0) {
            *parent_sampled = owl_context_sampled(parent);
            *remote = owl_context_remote(parent);
        }
        s->carry = carry_of(parent);
    } else if ((ps = current(t))) {
        memcpy(s->trace_id, ps->trace_id, 16);
        memcpy(pid, ps->span_id, 8);
        *parent_sampled = ps->sampled;
        s->carry = carry_ref(ps->carry);
    }
}

static int decide(const uint8_t tid[16], int parent_sampled, const owl__sample_req *req)
{
    if (!atomic_load_explicit(&tracer.on, memory_order_acquire))
        return 0;
    enum owl__sampler kind =
        (enum owl__sampler)atomic_load_explicit(&tracer.kind, memory_order_relaxed);
    if (kind == OWL__SAMPLER_ALWAYS_OFF || kind == OWL__SAMPLER_ALWAYS_ON) /* no call, no bound */
        return kind == OWL__SAMPLER_ALWAYS_ON;
    owl__sampling smp = {kind, atomic_load_explicit(&tracer.bound, memory_order_relaxed)};
    return owl__sampler_decide(&smp, tid, parent_sampled, req);
}

static inline __attribute__((always_inline)) void recycle(tstate *t, owl_span *s)
{
    atomic_store_explicit(&s->serial, 0, memory_order_relaxed);
    carry_unref(s->carry);
    s->carry = NULL;
    s->rec = NULL;
    s->next_free = t->free;
    t->free = s;
}

/* owl_span_start's work, with what the xray sampler matches a root on (NULL: nothing). */
static inline owl_span *start(const char *name, owl_span_kind kind, const owl_context *parent,
                              unsigned flags, const owl__sample_req *req)
{
    tstate *t = thread_state();
    owl_span *s = take_handle(t);
    if (!s)
        return NULL;
    uint8_t pid[8] = {0};
    int parent_sampled, remote;
    s->carry = NULL;
    take_parent(s, t, parent, flags, pid, &parent_sampled, &remote);
    if (!get64(pid)) { /* a root: a new trace */
        put64(s->trace_id, nonzero64(t));
        put64(s->trace_id + 8, next64(t));
    }
    uint64_t serial = nonzero64(t);
    put64(s->span_id, serial);
    s->sampled = decide(s->trace_id, parent_sampled, req);
    s->rec = NULL;
    if (s->sampled) {
        uint64_t start = owl__now_ns();
        if (!(s->rec = record_new(t, s, name, kind, pid, remote))) {
            recycle(t, s);
            return NULL;
        }
        s->rec->start_ns = start;
    }
    s->was_current = !(flags & OWL_SPAN_DETACHED);
    if (s->was_current) {
        s->prev = current(t);
        s->prev_serial = s->prev ? t->cur_serial : 0;
        t->cur = s;
        t->cur_serial = serial;
    }
    atomic_store_explicit(&s->serial, serial, memory_order_relaxed);
    return s;
}

OWL_API owl_span *owl_span_start(const char *name, owl_span_kind kind, const owl_context *parent,
                                 unsigned flags)
{
    return name ? start(name, kind, parent, flags, NULL) : NULL;
}

/* s ends while not current: spans it was the previous-current of, on this thread's chain,
 * now restore its own previous-current. */
static void unlink_current(tstate *t, owl_span *s, uint64_t serial)
{
    int depth = 0;
    for (owl_span *p = current(t); p && depth < 1024; p = live(p->prev, p->prev_serial), depth++) {
        if (p->prev == s && p->prev_serial == serial) {
            p->prev = s->prev;
            p->prev_serial = s->prev_serial;
            return;
        }
    }
}

OWL_API void owl_span_end(owl_span *s)
{
    if (!s)
        return;
    tstate *t = &ts; /* needs no ids: no seeding */
    if (__builtin_expect(!t->registered, 0)) /* a thread that only ends spans */
        arm_exit(t);
    uint64_t serial = atomic_load_explicit(&s->serial, memory_order_relaxed);
    if (!serial)
        return; /* ended already: a caller's bug, made harmless when the handle is still free */
    if (s->rec) { /* not before its start, were the clock rescaled in between */
        uint64_t end = owl__now_ns();
        s->rec->end_ns = end > s->rec->start_ns ? end : s->rec->start_ns;
    }
    if (s->was_current) {
        if (t->cur == s && t->cur_serial == serial) {
            t->cur = live(s->prev, s->prev_serial);
            t->cur_serial = t->cur ? s->prev_serial : 0;
        } else {
            unlink_current(t, s, serial);
        }
    }
    owl__span_record *r = s->rec;
    recycle(t, s);
    if (r) {
        if (atomic_load_explicit(&tracer.on, memory_order_acquire))
            owl__export_span(r);
        else
            owl__span_record_free(r);
    }
}

OWL_API owl_span *owl_current_span(void)
{
    return current(&ts);
}

OWL_API int owl_span_ids(const owl_span *s, uint8_t trace_id[16], uint8_t span_id[8])
{
    if (!s)
        return OWL_ERR_INVAL;
    if (trace_id)
        memcpy(trace_id, s->trace_id, 16);
    if (span_id)
        memcpy(span_id, s->span_id, 8);
    return 0;
}

OWL_API int owl_span_sampled(const owl_span *s)
{
    return s ? s->sampled : 0;
}

OWL_API owl_context *owl_span_context(const owl_span *s)
{
    if (!s)
        return NULL;
    if (!s->carry)
        return owl_context_new(s->trace_id, s->span_id, s->sampled);
    owl_context *c = owl_context_copy(s->carry->ctx);
    if (c)
        owl__context_set_ids(c, s->trace_id, s->span_id, s->sampled);
    return c;
}

/* ---- attributes, events, links, status ---- */

/* The slot for key in attrs (existing or new, key owned), NULL when full (*dropped counted) or
 * out of memory. An existing slot's old string value is freed. */
owl__attr *owl__attr_slot(owl__attr **attrs, uint32_t *n, uint32_t *dropped, const char *key)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (strcmp((*attrs)[i].key, key) == 0) {
            if ((*attrs)[i].type == OWL__ATTR_STR)
                free((*attrs)[i].v.s);
            (*attrs)[i].type = OWL__ATTR_INT; /* nothing owned until the caller sets it */
            return &(*attrs)[i];
        }
    }
    if (*n == OWL__MAX_ATTRS) {
        if (dropped)
            (*dropped)++;
        return NULL;
    }
    char *k = dup_cut(key);
    if (!k || grow((void **)attrs, *n, sizeof **attrs)) {
        free(k);
        return NULL;
    }
    owl__attr *a = &(*attrs)[(*n)++];
    a->key = k;
    a->type = OWL__ATTR_INT;
    return a;
}

static owl__attr *span_attr(owl_span *s, const char *key)
{
    if (!s || !s->rec || !key)
        return NULL;
    return owl__attr_slot(&s->rec->attrs, &s->rec->nattrs, &s->rec->dropped_attrs, key);
}

void owl__attr_int(owl__attr *a, int64_t v)
{
    if (a) {
        a->type = OWL__ATTR_INT;
        a->v.i = v;
    }
}

void owl__attr_double(owl__attr *a, double v)
{
    if (a) {
        a->type = OWL__ATTR_DOUBLE;
        a->v.d = v;
    }
}

void owl__attr_bool(owl__attr *a, int v)
{
    if (a) {
        a->type = OWL__ATTR_BOOL;
        a->v.b = v != 0;
    }
}

/* Sets a string attribute in attrs; a value lost to memory leaves the attribute out. */
void owl__attr_put_str(owl__attr **attrs, uint32_t *n, uint32_t *dropped, const char *key,
                    const char *value)
{
    owl__attr *a = owl__attr_slot(attrs, n, dropped, key);
    if (!a)
        return;
    if (!(a->v.s = dup_cut(value))) {
        owl__attr_clear(a);
        *a = (*attrs)[--*n];
        return;
    }
    a->type = OWL__ATTR_STR;
}

OWL_API void owl_span_set_str(owl_span *s, const char *key, const char *value)
{
    if (s && s->rec && key && value)
        owl__attr_put_str(&s->rec->attrs, &s->rec->nattrs, &s->rec->dropped_attrs, key, value);
}

OWL_API void owl_span_set_int(owl_span *s, const char *key, int64_t value)
{
    owl__attr_int(span_attr(s, key), value);
}

OWL_API void owl_span_set_double(owl_span *s, const char *key, double value)
{
    owl__attr_double(span_attr(s, key), value);
}

OWL_API void owl_span_set_bool(owl_span *s, const char *key, int value)
{
    owl__attr_bool(span_attr(s, key), value);
}

/* A new event on s's record, NULL when s is not recorded, full (counted) or out of memory. */
static owl__event *add_event(owl_span *s, const char *name)
{
    if (!s || !s->rec || !name)
        return NULL;
    owl__span_record *r = s->rec;
    r->event_lost = 1;
    if (r->nevents == OWL__MAX_EVENTS) {
        r->dropped_events++;
        return NULL;
    }
    char *n = dup_cut(name);
    if (!n || grow((void **)&r->events, r->nevents, sizeof *r->events)) {
        free(n);
        return NULL;
    }
    owl__event *e = &r->events[r->nevents++];
    *e = (owl__event){.name = n, .time_ns = owl__now_ns()};
    r->event_lost = 0;
    return e;
}

OWL_API void owl_span_add_event(owl_span *s, const char *name)
{
    add_event(s, name);
}

/* ---- attributes of the last event (owl_span_event_set_*) ---- */

/* The last event of s's record when it was recorded, else NULL. */
static owl__event *last_event(owl_span *s)
{
    if (!s || !s->rec || !s->rec->nevents || s->rec->event_lost)
        return NULL;
    return &s->rec->events[s->rec->nevents - 1];
}

/* The slot for key in s's last event (OWL__MAX_ATTRS at most, no dropped count: OTLP's
 * event dropped_attributes_count is not kept by the record); NULL when none. */
static owl__attr *event_attr(owl_span *s, const char *key)
{
    owl__event *e = key ? last_event(s) : NULL;
    return e ? owl__attr_slot(&e->attrs, &e->nattrs, NULL, key) : NULL;
}

OWL_API void owl_span_event_set_str(owl_span *s, const char *key, const char *value)
{
    owl__event *e = key && value ? last_event(s) : NULL;
    if (e)
        owl__attr_put_str(&e->attrs, &e->nattrs, NULL, key, value);
}

OWL_API void owl_span_event_set_int(owl_span *s, const char *key, int64_t value)
{
    owl__attr_int(event_attr(s, key), value);
}

OWL_API void owl_span_event_set_double(owl_span *s, const char *key, double value)
{
    owl__attr_double(event_attr(s, key), value);
}

OWL_API void owl_span_event_set_bool(owl_span *s, const char *key, int value)
{
    owl__attr_bool(event_attr(s, key), value);
}

OWL_API void owl_span_set_status(owl_span *s, owl_status_code code, const char *message)
{
    /* OTel: UNSET is never set; OK is final */
    if (!s || !s->rec || code == OWL_STATUS_UNSET || s->rec->status == OWL_STATUS_OK)
        return;
    if (code != OWL_STATUS_OK && code != OWL_STATUS_ERROR)
        return;
    free(s->rec->status_message);
    s->rec->status_message = NULL;
    s->rec->status = code;
    if (code == OWL_STATUS_ERROR && message && *message)
        s->rec->status_message = dup_cut(message);
}

OWL_API void owl_span_record_exception(owl_span *s, const char *type, const char *message,
                                       const char *stacktrace)
{
    if (!type && !message)
        return;
    owl__event *e = add_event(s, "exception");
    if (e) {
        if (type)
            owl__attr_put_str(&e->attrs, &e->nattrs, NULL, "exception.type", type);
        if (message)
            owl__attr_put_str(&e->attrs, &e->nattrs, NULL, "exception.message", message);
        if (stacktrace)
            owl__attr_put_str(&e->attrs, &e->nattrs, NULL, "exception.stacktrace", stacktrace);
    }
    if (s && s->rec && s->rec->status == OWL_STATUS_UNSET)
        owl_span_set_status(s, OWL_STATUS_ERROR, message ? message : type);
}

OWL_API void owl_span_add_link(owl_span *s, const owl_context *c)
{
    uint8_t tid[16], sid[8];
    if (!s || !s->rec || owl_context_ids(c, tid, sid))
        return;
    owl__span_record *r = s->rec;
    if (r->nlinks == OWL__MAX_LINKS) {
        r->dropped_links++;
        return;
    }
    const char *st = owl_context_tracestate(c);
    char *dst = *st ? strdup(st) : NULL;
    if ((*st && !dst) || grow((void **)&r->links, r->nlinks, sizeof *r->links)) {
        free(dst);
        return;
    }
    owl__link *l = &r->links[r->nlinks++];
    memcpy(l->trace_id, tid, 16);
    memcpy(l->span_id, sid, 8);
    l->trace_state = dst;
}

/* owl_span_set_http — OTel's HTTP semantic conventions: the status code goes in
 * http.response.status_code, and a code that is an error (5xx; 4xx on the client's side, the
 * server's 4xx being the client's fault) also in error.type, with status ERROR and no
 * description. A client span's target is url.full, other kinds' http.route. */
OWL_API void owl_span_set_http(owl_span *s, const char *method, const char *route_or_url,
                               int status)
{
    if (!s || !s->rec)
        return;
    int client = s->rec->kind == OWL_KIND_CLIENT;
    if (method)
        owl_span_set_str(s, "http.request.method", method);
    if (route_or_url)
        owl_span_set_str(s, client ? "url.full" : "http.route", route_or_url);
    if (status <= 0)
        return;
    owl_span_set_int(s, "http.response.status_code", status);
    if (status >= 500 || (client && status >= 400)) {
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        owl_span_set_str(s, "error.type", code);
        owl_span_set_status(s, OWL_STATUS_ERROR, NULL);
    }
}

/* ---- HTTP spans: OTel's HTTP names and attributes, and what the xray sampler matches ---- */

/* The path (to '?' or '#') and host (without userinfo or port) of URL u ("scheme://auth/p")
 * into path[np] and host[nh], cut to fit; 0, or -1 when u is not a URL (then untouched). */
static int url_parts(const char *u, char *path, size_t np, char *host, size_t nh)
{
    const char *a = strstr(u, "://");
    if (!a || a == u)
        return -1;
    a += 3;
    size_t alen = strcspn(a, "/?#");
    const char *at = memchr(a, '@', alen), *h = at ? at + 1 : a;
    size_t hlen = alen - (size_t)(h - a);
    const char *colon = *h == '[' ? memchr(h, ']', hlen) : memchr(h, ':', hlen);
    if (colon)
        hlen = (size_t)(colon - h) + (*h == '[');
    snprintf(host, nh, "%.*s", (int)hlen, h);
    const char *p = a + alen;
    size_t plen = strcspn(p, "?#");
    snprintf(path, np, "%.*s", plen ? (int)plen : 1, plen ? p : "/");
    return 0;
}

OWL_API owl_span *owl_span_start_http(owl_span_kind kind, const char *method,
                                      const char *route_or_url, const char *host,
                                      const owl_context *parent, unsigned flags)
{
    if (!method)
        return NULL;
    char path[1024], url_host[256], name[1024];
    owl__sample_req req = {.method = method, .path = route_or_url, .host = host};
    int is_url = route_or_url &&
                 url_parts(route_or_url, path, sizeof path, url_host, sizeof url_host) == 0;
    if (is_url) {
        req.path = path;
        if (!host)
            req.host = url_host;
    }
    /* OTel: "{method} {route}" for a server's route, the method alone for a client or a URL */
    if (kind != OWL_KIND_CLIENT && route_or_url && !is_url)
        snprintf(name, sizeof name, "%s %s", method, route_or_url);
    else
        snprintf(name, sizeof name, "%s", method);
    owl_span *s = start(name, kind, parent, flags, &req);
    owl_span_set_http(s, method, route_or_url, 0);
    if (kind == OWL_KIND_SERVER && host)
        owl_span_set_str(s, "server.address", host);
    return s;
}

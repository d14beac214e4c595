/* export.c — the exporter (client_int.h "the exporter", docs/client.md "Export"): one thread a
 * process sends the span and log queues and the metrics collector's requests over OTLP/HTTP
 * with libcurl. Invariants: a queue is a bounded lock-free MPMC ring (per-slot sequence
 * numbers, after Vyukov) that a producer never waits on: when full, it takes the oldest record
 * itself, frees it and counts it dropped; every record handed over is sent, or counted in its
 * signal's dropped counter (but those a forked child inherits: the parent's to send). The hot
 * path takes no lock and makes no system call but the one wake-up a batch.size-full queue. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "client_int.h"

/* ---- the queues ---- */

typedef struct slot {
    _Atomic size_t seq; /* pos: free for the push at pos; pos + 1: holds that push's record */
    void *rec;
} slot;

typedef struct queue {
    _Alignas(64) _Atomic size_t head; /* next pop */
    _Alignas(64) _Atomic size_t tail; /* next push */
    _Alignas(64) slot *slots;
    size_t cap, mask;                 /* mask: cap - 1 when cap is a power of two, else 0 */
    void (*free_rec)(void *);
} queue;

static size_t slot_of(const queue *q, size_t pos)
{
    return q->mask ? pos & q->mask : pos % q->cap;
}

/* Takes the oldest record of q; NULL when empty. */
static void *pop(queue *q)
{
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        slot *s = &q->slots[slot_of(q, pos)];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t d = (intptr_t)(seq - (pos + 1));
        if (d == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                void *r = s->rec;
                atomic_store_explicit(&s->seq, pos + q->cap, memory_order_release);
                return r;
            }
        } else if (d < 0) {
            return NULL; /* the slot's push has not happened (or not finished) */
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

/* Puts r at q's tail: 0, or 1 when full (r not taken). */
static int try_push(queue *q, void *r, size_t *at)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        slot *s = &q->slots[slot_of(q, pos)];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t d = (intptr_t)(seq - pos);
        if (d == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                s->rec = r;
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                *at = pos;
                return 0;
            }
        } else if (d < 0) {
            return 1;
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

/* Records queued now (approximate while others push and pop). */
static size_t queued(queue *q)
{
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    return t - h <= q->cap ? t - h : 0;
}

/* Empties q, its records freed; the count of them. Only while no one else uses q. */
static size_t drain_free(queue *q)
{
    size_t n = 0;
    void *r;
    while ((r = pop(q))) {
        q->free_rec(r);
        n++;
    }
    return n;
}

/* Makes q empty as new, for a forked child: records the parent had queued are freed (a push
 * or pop another thread had half done at fork leaves its record unfreed: it is not known). */
static void reset(queue *q)
{
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (size_t pos = h; pos != t && t - h <= q->cap; pos++) {
        slot *s = &q->slots[slot_of(q, pos)];
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == pos + 1)
            q->free_rec(s->rec);
    }
    for (size_t i = 0; i < q->cap; i++)
        atomic_store_explicit(&q->slots[i].seq, i, memory_order_relaxed);
    atomic_store_explicit(&q->head, 0, memory_order_relaxed);
    atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
}

/* ---- the exporter's state ---- */

static const char *const signal_path[] = {"traces", "logs", "metrics"};
static const char *const rejected_key[] = {"rejectedSpans", "rejectedLogRecords",
                                           "rejectedDataPoints"};
#define SIG_METRICS OWL__SIG_COUNT

static struct {
    pthread_mutex_t lock; /* start/stop and everything below not atomic */
    pthread_cond_t wake;  /* the thread: work, flush or stop */
    pthread_cond_t done;  /* flush callers: flush_done moved */
    atomic_int on;
    _Atomic unsigned gen;        /* bumped in a forked child: its thread is to start */
    _Atomic unsigned thread_gen; /* the gen the running thread was started in */
    _Atomic int wake_pending;    /* a batch-full wake-up was sent and not yet seen */
    _Atomic uint64_t dropped[OWL__SIG_COUNT];
    _Atomic uint64_t abort_at; /* CLOCK_MONOTONIC ms at which sends give up (stop); 0 none */
    queue q[OWL__SIG_COUNT];
    pthread_t thread;
    int running, stopping;
    atomic_int cut_short; /* stop's deadline cut a send short */
    uint64_t flush_req, flush_done;
    /* the configuration, read by the thread */
    char *url[OWL__SIG_COUNT + 1];
    struct curl_slist *headers;
    char *service_name, *resource;
    int json, gzip;
    int64_t timeout_ms, interval_ms, metrics_ms;
    size_t batch;
    owl__collect_fn collect;
    void *collect_ud;
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Waits on cv until CLOCK_MONOTONIC ms `until` (the conds use that clock), ex.lock held. */
static void wait_until(pthread_cond_t *cv, uint64_t until)
{
    struct timespec t = {(time_t)(until / 1000), (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(cv, &ex.lock, &t);
}

static void init_conds(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&ex.wake, &a);
    pthread_cond_init(&ex.done, &a);
    pthread_condattr_destroy(&a);
}

/* fork (owl__exporter_atfork, from span.c's handlers): ex.lock is held across it so the
 * child's is free; the child has no thread (its condition variables may count the parent's
 * thread as a waiter: made anew), and its queues hold the parent's records, freed uncounted.
 * The thread's curl handle, perhaps mid-request, is not touched in the child. */
void owl__exporter_atfork(int phase)
{
    if (phase == 0) {
        pthread_mutex_lock(&ex.lock);
        return;
    }
    if (phase == 2) {
        init_conds();
        ex.running = 0;
        ex.stopping = 0;
        ex.flush_done = ex.flush_req;
        atomic_store(&ex.wake_pending, 0);
        if (atomic_load(&ex.on))
            for (int s = 0; s < OWL__SIG_COUNT; s++)
                reset(&ex.q[s]);
        atomic_fetch_add_explicit(&ex.gen, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&ex.lock);
}

static void init_once(void)
{
    init_conds();
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- one request ---- */

typedef struct reply {
    owl__cbuf body;
    int64_t retry_after_ms; /* -1: none */
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    if (r->body.len + size * n <= 65536) /* a partial-success answer is small */
        owl__cbuf_put(&r->body, p, size * n);
    return size * n;
}

int64_t owl__retry_after_ms(const char *value, size_t len)
{
    char v[256];
    if (len >= sizeof v)
        return -1;
    memcpy(v, value, len);
    v[len] = 0;
    if (strlen(v) != len)
        return -1; /* a NUL inside */
    char *s = v + strspn(v, " \t"), *end;
    errno = 0;
    long secs = strtol(s, &end, 10);
    if (end != s && secs >= 0 && strspn(end, " \t\r\n") == strlen(end))
        return errno || secs > INT64_MAX / 1000 ? -1 : (int64_t)secs * 1000;
    time_t at = curl_getdate(s, NULL), now = time(NULL);
    if (at == -1)
        return -1;
    return at > now ? (int64_t)(at - now) * 1000 : 0;
}

/* Retry-After: delay-seconds or an HTTP-date. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
        int64_t ms = owl__retry_after_ms(p + sizeof name - 1, len - (sizeof name - 1));
        if (ms >= 0)
            r->retry_after_ms = ms;
    }
    return len;
}

/* Aborts the transfer once stop's deadline has passed. */
static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)ud, (void)a, (void)b, (void)c, (void)d;
    uint64_t at = atomic_load_explicit(&ex.abort_at, memory_order_relaxed);
    return at && mono_ms() >= at;
}

/* The varint at *p (< end), advancing *p; -1 when malformed. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Export*ServiceResponse's partial_success (field 1) rejected count (its field 1), in protobuf;
 * 0 when absent or unreadable. */
static uint64_t rejected_pb(const uint8_t *p, const uint8_t *end, int depth)
{
    uint64_t key, v;
    while (p < end && varint(&p, end, &key) == 0) {
        unsigned wt = key & 7;
        if (wt == 0) {
            if (varint(&p, end, &v))
                return 0;
            if (depth == 1 && key >> 3 == 1)
                return v;
        } else if (wt == 2) {
            if (varint(&p, end, &v) || v > (uint64_t)(end - p))
                return 0;
            if (depth == 0 && key >> 3 == 1)
                return rejected_pb(p, p + v, 1);
            p += v;
        } else if (wt == 1 || wt == 5) {
            if ((size_t)(end - p) < (wt == 1 ? 8u : 4u))
                return 0;
            p += wt == 1 ? 8 : 4;
        } else {
            return 0;
        }
    }
    return 0;
}

/* The same in OTLP/JSON: "rejectedSpans": 3 or "3" (int64 may be a string). */
static uint64_t rejected_json(owl__cbuf *b, int sig)
{
    owl__cbuf_put(b, "", 1);
    if (b->nomem)
        return 0;
    char key[32];
    snprintf(key, sizeof key, "\"%s\"", rejected_key[sig]);
    const char *p = strstr((const char *)b->p, key);
    if (!p)
        return 0;
    p += strlen(key);
    p += strspn(p, " \t\r\n");
    if (*p++ != ':')
        return 0;
    p += strspn(p, " \t\r\n\"");
    return strtoull(p, NULL, 10);
}

uint64_t owl__rejected_count(int sig, int json, const uint8_t *body, size_t n)
{
    if (sig < 0 || sig > SIG_METRICS)
        return 0;
    if (!json)
        return rejected_pb(body, body + n, 0);
    owl__cbuf b = {0};
    owl__cbuf_put(&b, body, n);
    uint64_t v = rejected_json(&b, sig);
    owl__cbuf_free(&b);
    return v;
}

enum outcome { SENT, RETRY, REFUSED };

/* One POST of body[0..n) to sig's URL within timeout_ms; *rejected the partial-success count. */
static enum outcome post(CURL *h, int sig, const owl__cbuf *body, int64_t timeout_ms,
                         uint64_t *rejected, int64_t *retry_after_ms)
{
    reply r = {.retry_after_ms = -1};
    long status = 0;
    curl_easy_setopt(h, CURLOPT_URL, ex.url[sig]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body->p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *retry_after_ms = r.retry_after_ms;
    *rejected = 0;
    enum outcome o;
    if (rc != CURLE_OK || status == 429 || status == 502 || status == 503 || status == 504) {
        o = RETRY;
    } else if (status >= 200 && status < 300) {
        o = SENT;
        *rejected = ex.json ? rejected_json(&r.body, sig)
                            : rejected_pb(r.body.p, r.body.p + r.body.len, 0);
    } else {
        o = REFUSED;
    }
    owl__cbuf_free(&r.body);
    return o;
}

/* The delay before retry `attempt` (0 first): 1 s doubling to 5 s, less a tenth to a fifth at
 * random (so never the full second a Retry-After: 1 asks). */
static int64_t backoff_ms(int attempt, unsigned *rnd)
{
    int64_t d = attempt < 3 ? 1000ll << attempt : 5000;
    return d - d / 10 - (int64_t)(rand_r(rnd) % (unsigned)(d / 10 + 1));
}

/* Waits out a backoff until `until`, or stop's deadline when that comes first (stop wakes the
 * wait): 1 when stop's deadline cut it short, else 0. */
static int backoff_wait(uint64_t until)
{
    int cut = 0;
    pthread_mutex_lock(&ex.lock);
    for (;;) {
        uint64_t now = mono_ms(), at = atomic_load(&ex.abort_at);
        if (at && now >= at) {
            cut = 1;
            break;
        }
        if (now >= until)
            break;
        wait_until(&ex.wake, at && at < until ? at : until);
    }
    pthread_mutex_unlock(&ex.lock);
    return cut;
}

/* What the thread keeps from one request to the next, its own (a forked child's new thread
 * starts with its own): the easy handle, the batch, the encoded and the compressed bodies
 * and the deflate state, so a batch allocates nothing once they have grown to its size. */
#define KEEP_BYTES (4u << 20) /* a body's bytes kept for the next batch, at most */

typedef struct work {
    CURL *h;                      /* NULL: every send fails, its records counted dropped */
    void **batch;                 /* batch.size records */
    unsigned rnd;                 /* backoff jitter */
    owl__cbuf body, zipped;
    z_stream z;
    int z_ready;                  /* z initialised */
} work;

/* gzip of b into w->zipped (windowBits 31: a gzip header and trailer), at zlib's fastest
 * level: 3% more bytes than its default for 2.4 times fewer instructions on span batches,
 * the instrumented program's CPU being what counts (docs/client.md). The stream is reset,
 * not remade, for each body. 0, -1 no memory. */
static int gzip(work *w, const owl__cbuf *b)
{
    z_stream *z = &w->z;
    if (!w->z_ready) {
        *z = (z_stream){0};
        if (deflateInit2(z, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        w->z_ready = 1;
    } else if (deflateReset(z) != Z_OK) {
        return -1;
    }
    owl__cbuf *out = &w->zipped;
    uLong bound = deflateBound(z, (uLong)b->len);
    out->len = 0;
    if (out->cap < bound) {
        uint8_t *p = realloc(out->p, bound);
        if (!p)
            return -1;
        out->p = p;
        out->cap = bound;
    }
    z->next_in = b->p;
    z->avail_in = (uInt)b->len;
    z->next_out = out->p;
    z->avail_out = (uInt)out->cap;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return -1;
    out->len = z->total_out;
    return 0;
}

/* Sends body (encoded, not yet compressed) with OTLP's retries within timeout from now: the
 * count owld did not accept (n when the batch was dropped, the partial-success count else). */
static uint64_t send_body(work *w, int sig, const owl__cbuf *body, uint64_t n)
{
    const owl__cbuf *b = body;
    CURL *h = w->h;
    if (ex.gzip) {
        if (gzip(w, body))
            return n;
        b = &w->zipped;
    }
    uint64_t lost = n, deadline = mono_ms() + (uint64_t)ex.timeout_ms;
    for (int attempt = 0;; attempt++) {
        uint64_t now = mono_ms(), rejected, at = atomic_load(&ex.abort_at);
        int64_t retry_after;
        if (!h || now >= deadline || (at && now >= at))
            break;
        uint64_t until = at && at < deadline ? at : deadline;
        enum outcome o = post(h, sig, b, (int64_t)(until - now), &rejected, &retry_after);
        if (o == SENT) {
            lost = rejected < n ? rejected : n;
            break;
        }
        if (o == REFUSED)
            break;
        int64_t delay = retry_after >= 0 ? retry_after : backoff_ms(attempt, &w->rnd);
        if (mono_ms() + (uint64_t)delay >= deadline || backoff_wait(mono_ms() + (uint64_t)delay))
            break;
    }
    return lost;
}

/* Sends what q holds now (at most `limit`) in batches of batch.size; once stop's deadline has
 * passed, the rest is dropped unsent. */
static void send_queue(work *w, int sig, size_t limit)
{
    queue *q = &ex.q[sig];
    void **batch = w->batch;
    while (limit) {
        size_t n = 0;
        while (n < ex.batch && n < limit && (batch[n] = pop(q)))
            n++;
        if (!n)
            return;
        limit -= n;
        uint64_t lost = n, at = atomic_load(&ex.abort_at);
        if (!at || mono_ms() < at) {
            owl__cbuf *body = &w->body;
            body->len = 0;
            body->nomem = 0;
            int rc = sig == OWL__SIG_TRACES
                         ? (ex.json ? owl__otlp_traces_json : owl__otlp_traces_pb)(
                               (const owl__span_record *const *)batch, n, ex.service_name,
                               ex.resource, body)
                         : (ex.json ? owl__otlp_logs_json : owl__otlp_logs_pb)(
                               (const owl__log_record *const *)batch, n, ex.service_name,
                               ex.resource, body);
            if (rc == 0)
                lost = send_body(w, sig, body, n);
            if (body->cap > KEEP_BYTES) /* a batch of outsized records: not kept for the next */
                owl__cbuf_free(body);
            if (w->zipped.cap > KEEP_BYTES)
                owl__cbuf_free(&w->zipped);
        }
        at = atomic_load(&ex.abort_at);
        if (lost == n && at && mono_ms() >= at)
            atomic_store(&ex.cut_short, 1);
        for (size_t i = 0; i < n; i++)
            q->free_rec(batch[i]);
        if (lost)
            atomic_fetch_add_explicit(&ex.dropped[sig], lost, memory_order_relaxed);
    }
}

static void send_metrics(work *w)
{
    pthread_mutex_lock(&ex.lock);
    owl__collect_fn fn = ex.collect;
    void *ud = ex.collect_ud;
    pthread_mutex_unlock(&ex.lock);
    if (!fn)
        return;
    owl__cbuf body = {0};
    if (fn(ud, ex.service_name, ex.resource, ex.json, &body) == 0 && body.len)
        send_body(w, SIG_METRICS, &body, 1);
    owl__cbuf_free(&body);
}

/* A new easy handle set up for every request it will make (keep-alive: one a thread). */
static CURL *new_handle(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, ex.headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libowl/" OWL_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ex.timeout_ms);
    return h;
}

void owl__background_thread(void)
{
#ifdef SCHED_BATCH
    struct sched_param none = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &none); /* may fail (seccomp): no matter */
#endif
}

/* The thread: waits for the interval, a full batch, a flush or stop; sends; reports flushes
 * done. At stop, it sends what is queued until stop's deadline, then ends. */
static void *run(void *arg)
{
    (void)arg;
    owl__background_thread();
    work w = {.h = new_handle(), .batch = malloc(ex.batch * sizeof(void *))};
    w.rnd = (unsigned)mono_ms() ^ (unsigned)(uintptr_t)&w;
    uint64_t next_send = mono_ms() + (uint64_t)ex.interval_ms;
    uint64_t next_metrics = mono_ms() + (uint64_t)ex.metrics_ms;
    pthread_mutex_lock(&ex.lock);
    for (;;) {
        for (;;) {
            uint64_t now = mono_ms();
            if (ex.stopping || ex.flush_req != ex.flush_done ||
                atomic_load(&ex.wake_pending) || now >= next_send || now >= next_metrics)
                break;
            wait_until(&ex.wake, next_send < next_metrics ? next_send : next_metrics);
        }
        uint64_t ticket = ex.flush_req;
        int stopping = ex.stopping, flushing = stopping || ticket != ex.flush_done;
        atomic_store(&ex.wake_pending, 0);
        pthread_mutex_unlock(&ex.lock);
        for (int s = 0; s < OWL__SIG_COUNT; s++) {
            size_t n = queued(&ex.q[s]);
            if (w.batch)
                send_queue(&w, s, n);
        }
        next_send = mono_ms() + (uint64_t)ex.interval_ms;
        if (flushing || mono_ms() >= next_metrics) {
            send_metrics(&w);
            next_metrics = mono_ms() + (uint64_t)ex.metrics_ms;
        }
        pthread_mutex_lock(&ex.lock);
        ex.flush_done = ticket;
        pthread_cond_broadcast(&ex.done);
        if (stopping)
            break;
    }
    pthread_mutex_unlock(&ex.lock);
    free(w.batch);
    owl__cbuf_free(&w.body);
    owl__cbuf_free(&w.zipped);
    if (w.z_ready)
        deflateEnd(&w.z);
    curl_easy_cleanup(w.h);
    return NULL;
}

/* Starts the thread of this process when it has none (a child after fork); ex.lock held. */
static void ensure_thread_locked(void)
{
    unsigned gen = atomic_load(&ex.gen);
    if (!atomic_load(&ex.on) || ex.stopping || (ex.running && atomic_load(&ex.thread_gen) == gen))
        return;
    if (pthread_create(&ex.thread, NULL, run, NULL) == 0) {
        ex.running = 1;
        atomic_store(&ex.thread_gen, gen);
    }
}

static void ensure_thread(void)
{
    pthread_mutex_lock(&ex.lock);
    ensure_thread_locked();
    pthread_mutex_unlock(&ex.lock);
}

/* ---- the configuration ---- */

static void free_config(void)
{
    for (int s = 0; s <= OWL__SIG_COUNT; s++) {
        free(ex.url[s]);
        ex.url[s] = NULL;
    }
    curl_slist_free_all(ex.headers);
    ex.headers = NULL;
    free(ex.service_name);
    free(ex.resource);
    ex.service_name = ex.resource = NULL;
}

/* Appends "name: prefix value" to *l; 0, or -1 out of memory (*l freed and NULL). */
static int append_header(struct curl_slist **l, const char *name, const char *prefix,
                         const char *value)
{
    size_t n = strlen(name) + strlen(prefix) + strlen(value) + 3;
    char *line = malloc(n);
    struct curl_slist *t = NULL;
    if (line) {
        snprintf(line, n, "%s: %s%s", name, prefix, value);
        t = curl_slist_append(*l, line); /* copies line */
        free(line);
    }
    if (!t) {
        curl_slist_free_all(*l);
        *l = NULL;
        return -1;
    }
    *l = t;
    return 0;
}

struct curl_slist *owl__http_headers(const owl_config *c, const char *content_type, int gzip)
{
    struct curl_slist *l = NULL;
    if (append_header(&l, "Content-Type", "", content_type) ||
        (gzip && append_header(&l, "Content-Encoding", "", "gzip")))
        return NULL;
    const char *key = owl_config_get(c, "api_key");
    if (key && *key && append_header(&l, "Authorization", "Bearer ", key))
        return NULL;
    size_t nh = owl__config_header_count(c);
    for (size_t i = 0; i < nh; i++) {
        const char *k, *v;
        if (owl__config_header_at(c, i, &k, &v) == 0 && append_header(&l, k, "", v))
            return NULL;
    }
    return l;
}

static int read_config(const owl_config *c, const char *service_name, const char *resource)
{
    ex.json = owl__config_num(c, "protocol") == 1;
    ex.gzip = owl__config_num(c, "compression") == 0;
    ex.timeout_ms = owl__config_num(c, "timeout");
    ex.interval_ms = owl__config_num(c, "export.interval");
    ex.metrics_ms = owl__config_num(c, "metrics.interval");
    ex.batch = (size_t)owl__config_num(c, "batch.size");
    for (int s = 0; s <= OWL__SIG_COUNT; s++)
        if (!(ex.url[s] = owl__config_url(c, signal_path[s])))
            return -1;
    if (!(ex.service_name = strdup(service_name)) || !(ex.resource = strdup(resource)))
        return -1;
    ex.headers = owl__http_headers(c, ex.json ? "application/json" : "application/x-protobuf",
                                   ex.gzip);
    return ex.headers ? 0 : -1;
}

/* Sizes q for cap records (a new array unless it has that size: see owl__exporter_stop). */
static int queue_init(queue *q, size_t cap, void (*free_rec)(void *))
{
    if (q->slots)
        drain_free(q); /* pushed after the last stop: never counted */
    if (q->cap != cap) {
        slot *s = calloc(cap, sizeof *s);
        if (!s)
            return -1;
        free(q->slots);
        q->slots = s;
        q->cap = cap;
        q->mask = cap & (cap - 1) ? 0 : cap - 1;
    }
    for (size_t i = 0; i < cap; i++) {
        atomic_store_explicit(&q->slots[i].seq, i, memory_order_relaxed);
        q->slots[i].rec = NULL;
    }
    atomic_store(&q->head, 0);
    atomic_store(&q->tail, 0);
    q->free_rec = free_rec;
    return 0;
}

static void free_span(void *r)
{
    owl__span_record_free(r);
}

static void free_log(void *r)
{
    owl__log_record_free(r);
}

/* The queues' arrays outlive owl_shutdown (a span ending while it runs may still push into
 * them): freed at exit or resized by the next start. */
__attribute__((destructor)) static void free_queues(void)
{
    if (atomic_load(&ex.on))
        return; /* the thread may still use them */
    for (int s = 0; s < OWL__SIG_COUNT; s++) {
        if (!ex.q[s].slots)
            continue;
        drain_free(&ex.q[s]);
        free(ex.q[s].slots);
        ex.q[s].slots = NULL;
        ex.q[s].cap = 0;
    }
}

/* ---- the contract ---- */

int owl__exporter_start(const owl_config *c, const char *service_name, const char *resource)
{
    pthread_once(&ex_once, init_once);
    int rc = 0;
    pthread_mutex_lock(&ex.lock);
    if (atomic_load(&ex.on)) {
        rc = OWL_ERR_INVAL;
        goto out;
    }
    size_t cap = (size_t)owl__config_num(c, "queue.size");
    if (read_config(c, service_name, resource) || queue_init(&ex.q[0], cap, free_span) ||
        queue_init(&ex.q[1], cap, free_log)) {
        free_config();
        rc = OWL_ERR_NOMEM;
        goto out;
    }
    if (ex.batch > cap)
        ex.batch = cap;
    for (int s = 0; s < OWL__SIG_COUNT; s++)
        atomic_store(&ex.dropped[s], 0);
    atomic_store(&ex.abort_at, 0);
    atomic_store(&ex.wake_pending, 0);
    ex.stopping = 0;
    atomic_store(&ex.cut_short, 0);
    ex.flush_done = ex.flush_req;
    atomic_store(&ex.on, 1);
    ensure_thread_locked();
    if (!ex.running) {
        atomic_store(&ex.on, 0);
        free_config();
        rc = OWL_ERR_NOMEM;
    }
out:
    pthread_mutex_unlock(&ex.lock);
    return rc;
}

/* Queues r for signal sig (the exporter on): the hot path. 0. */
static int enqueue(int sig, void *r)
{
    if (__builtin_expect(atomic_load_explicit(&ex.gen, memory_order_relaxed) !=
                             atomic_load_explicit(&ex.thread_gen, memory_order_relaxed), 0))
        ensure_thread(); /* a forked child's first record */
    queue *q = &ex.q[sig];
    size_t pos;
    while (try_push(q, r, &pos)) {
        void *old = pop(q); /* full: the oldest makes room */
        if (old) {
            q->free_rec(old);
            atomic_fetch_add_explicit(&ex.dropped[sig], 1, memory_order_relaxed);
        }
    }
    if (pos + 1 - atomic_load_explicit(&q->head, memory_order_relaxed) >= ex.batch &&
        !atomic_load_explicit(&ex.wake_pending, memory_order_relaxed) &&
        !atomic_exchange(&ex.wake_pending, 1)) {
        pthread_mutex_lock(&ex.lock);
        pthread_cond_signal(&ex.wake);
        pthread_mutex_unlock(&ex.lock);
    }
    return 0;
}

static void (*_Atomic sink_fn)(void *, const owl__span_record *);
static void *_Atomic sink_ud;

int owl__export_span(owl__span_record *r)
{
    void (*fn)(void *, const owl__span_record *) =
        atomic_load_explicit(&sink_fn, memory_order_acquire);
    if (fn) {
        fn(atomic_load(&sink_ud), r);
        owl__span_record_free(r);
        return 0;
    }
    if (!atomic_load_explicit(&ex.on, memory_order_acquire)) {
        owl__span_record_free(r);
        return OWL_ERR_LIMIT;
    }
    return enqueue(OWL__SIG_TRACES, r);
}

static void (*_Atomic log_sink_fn)(void *, const owl__log_record *);
static void *_Atomic log_sink_ud;

int owl__export_log(owl__log_record *r)
{
    void (*fn)(void *, const owl__log_record *) =
        atomic_load_explicit(&log_sink_fn, memory_order_acquire);
    if (fn) {
        fn(atomic_load(&log_sink_ud), r);
        owl__log_record_free(r);
        return 0;
    }
    if (!atomic_load_explicit(&ex.on, memory_order_acquire)) {
        owl__log_record_free(r);
        return OWL_ERR_LIMIT;
    }
    return enqueue(OWL__SIG_LOGS, r);
}

void owl__set_span_sink(void (*fn)(void *ud, const owl__span_record *r), void *ud)
{
    atomic_store(&sink_ud, ud);
    atomic_store(&sink_fn, fn);
}

void owl__set_log_sink(void (*fn)(void *ud, const owl__log_record *r), void *ud)
{
    atomic_store(&log_sink_ud, ud);
    atomic_store(&log_sink_fn, fn);
}

/* Asks the thread for a flush and waits for it until deadline (0: none); ex.lock held.
 * 0 or OWL_ERR_TIMEOUT. */
static int flush_locked(uint64_t deadline)
{
    uint64_t ticket = ++ex.flush_req;
    pthread_cond_signal(&ex.wake);
    while (ex.running && ex.flush_done < ticket) {
        if (deadline && mono_ms() >= deadline)
            return OWL_ERR_TIMEOUT;
        if (deadline)
            wait_until(&ex.done, deadline);
        else
            pthread_cond_wait(&ex.done, &ex.lock);
    }
    return 0;
}

static uint64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : mono_ms() + (uint64_t)timeout_ms;
}

int owl__exporter_flush(int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&ex.lock);
    int rc = OWL_ERR_INVAL;
    if (atomic_load(&ex.on) && !ex.stopping) {
        ensure_thread_locked();
        rc = flush_locked(deadline);
    }
    pthread_mutex_unlock(&ex.lock);
    return rc;
}

int owl__exporter_stop(int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&ex.lock);
    if (!atomic_load(&ex.on) || ex.stopping) {
        pthread_mutex_unlock(&ex.lock);
        return OWL_ERR_INVAL;
    }
    ensure_thread_locked();
    int running = ex.running;
    ex.stopping = 1;
    atomic_store(&ex.abort_at, deadline);
    ex.flush_req++;
    pthread_cond_broadcast(&ex.wake);
    pthread_mutex_unlock(&ex.lock);
    if (running)
        pthread_join(ex.thread, NULL);
    pthread_mutex_lock(&ex.lock);
    atomic_store(&ex.on, 0);
    int rc = atomic_load(&ex.cut_short) ? OWL_ERR_TIMEOUT : 0;
    for (int s = 0; s < OWL__SIG_COUNT; s++) {
        size_t n = drain_free(&ex.q[s]);
        if (n) {
            atomic_fetch_add(&ex.dropped[s], n);
            rc = OWL_ERR_TIMEOUT;
        }
    }
    ex.running = 0;
    ex.stopping = 0;
    atomic_store(&ex.abort_at, 0);
    free_config();
    pthread_mutex_unlock(&ex.lock);
    return rc;
}

uint64_t owl__exporter_dropped(enum owl__signal s)
{
    return atomic_load_explicit(&ex.dropped[s], memory_order_relaxed);
}

void owl__exporter_set_collector(owl__collect_fn fn, void *ud)
{
    pthread_mutex_lock(&ex.lock);
    ex.collect = fn;
    ex.collect_ud = ud;
    pthread_mutex_unlock(&ex.lock);
}

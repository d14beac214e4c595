/* recent.c — the recent buckets of watched series. A watch is a ring of per-period
 * aggregates of one (tenant, series, unit) over its last periods. It is filled once from the
 * store (owl_recent_sync, while the metrics module's roll lock is held exclusively, so no put
 * is half done and no datapoint is counted twice) and then kept current by owl_metrics_put,
 * which folds every raw row it stores into the watches of its series (owl_recent_fold, under
 * the roll lock held shared). Alarms read their evaluation ranges here instead of scanning
 * parts: docs/metrics.md, "Alarm evaluation".
 *
 * A ring has nperiods + 3 slots: the kept complete periods, the one holding now, the next (a
 * client's clock a little ahead) and a spare, indexed by period number modulo the size; a
 * slot holds the period its start names, so a period the ring has moved past reads as empty.
 * A row for a period further ahead than the next is not folded: the watch notes the earliest
 * such period and is filled again from the store once that period comes within the ring. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"
#include "common/clock.h"
#include "common/hash.h"

#define NO_FUTURE INT64_MAX
#define BATCH_MIN 64 /* watches of a tenant filled by one scan of the raw level, not reads */

typedef struct slot {
    int64_t start;
    owl_agg a; /* a.used 0: empty */
} slot;

struct owl_watch {
    char tenant[256];
    uint64_t th;           /* hash of tenant */
    owl_metric_id id;      /* strings in strs */
    owl_dim *dims;
    char *strs;
    const char *unit;      /* canonical unit, NULL = any */
    const char *stored;    /* its stored form ("" = None) */
    size_t stored_len;
    int64_t period_ms;
    size_t nperiods, nslots;
    int sketches;
    uint64_t series;       /* the catalog's id; 0 until the series is known */
    int need_fill;         /* new, just bound, or it missed a datapoint */
    int filling;           /* in the batch being filled (owl_recent_sync) */
    int64_t fill_t0, fill_t1; /* the periods a fill reads */
    struct owl_watch *fill_next;
    int looked_up;         /* its series was looked for at least once */
    int64_t future_ms;     /* earliest period skipped for being ahead (NO_FUTURE: none) */
    uint64_t gen;
    slot *slots;
    owl_watch *next_hash;  /* the next bound watch in its table bucket */
    owl_watch *prev, *next;
};

struct owl_recent {
    pthread_mutex_t mu;
    owl_watch *all;
    owl_watch **table; /* bound watches by (tenant, series); cap a power of two */
    size_t cap;
    size_t nbound;     /* read without mu by fold's fast path */
    size_t nwatch;     /* watches, bound or not (read without mu by owl_recent_unbound) */
    uint64_t cat_seen; /* owl_catalog_added when unbound watches were last looked up */
    int64_t future_ms; /* earliest period any watch skipped (NO_FUTURE: none) */
};

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step < 0)
        q--;
    return q * step;
}

static slot *slot_of(owl_watch *w, int64_t p)
{
    int64_t k = floor_to(p, w->period_ms) / w->period_ms;
    int64_t i = k % (int64_t)w->nslots;
    return &w->slots[i < 0 ? i + (int64_t)w->nslots : i];
}

static void slots_clear(owl_watch *w)
{
    for (size_t i = 0; i < w->nslots; i++)
        owl_sketch_free(w->slots[i].a.sk);
    memset(w->slots, 0, w->nslots * sizeof *w->slots);
}

static size_t bucket_of(const owl_recent *r, uint64_t th, uint64_t series)
{
    return (size_t)owl_mix64(th ^ (series * 0x9e3779b97f4a7c15ULL)) & (r->cap - 1);
}

/* Adds w to the table (mu held). OWL_ENOMEM leaves it unbound. */
static int table_add(owl_recent *r, owl_watch *w)
{
    if ((r->nbound + 1) * 2 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        owl_watch **t = calloc(cap, sizeof *t);
        if (!t)
            return OWL_ENOMEM;
        owl_watch **old = r->table;
        size_t oldcap = r->cap;
        r->table = t, r->cap = cap;
        for (size_t i = 0; i < oldcap; i++)
            for (owl_watch *x = old[i], *nx; x; x = nx) {
                nx = x->next_hash;
                size_t b = bucket_of(r, x->th, x->series);
                x->next_hash = t[b];
                t[b] = x;
            }
        free(old);
    }
    size_t b = bucket_of(r, w->th, w->series);
    w->next_hash = r->table[b];
    r->table[b] = w;
    __atomic_store_n(&r->nbound, r->nbound + 1, __ATOMIC_RELEASE);
    return OWL_OK;
}

static void table_remove(owl_recent *r, owl_watch *w)
{
    for (owl_watch **p = &r->table[bucket_of(r, w->th, w->series)]; *p; p = &(*p)->next_hash)
        if (*p == w) {
            *p = w->next_hash;
            __atomic_store_n(&r->nbound, r->nbound - 1, __ATOMIC_RELEASE);
            return;
        }
}

int owl_recent_new(owl_recent **out)
{
    owl_recent *r = calloc(1, sizeof *r);
    if (!r)
        return OWL_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->future_ms = NO_FUTURE;
    *out = r;
    return OWL_OK;
}

static void watch_free(owl_watch *w)
{
    if (!w)
        return;
    if (w->slots)
        slots_clear(w);
    free(w->slots);
    free(w->dims);
    free(w->strs);
    free(w);
}

void owl_recent_free(owl_recent *r)
{
    if (!r)
        return;
    for (owl_watch *w = r->all, *nx; w; w = nx) {
        nx = w->next;
        watch_free(w);
    }
    free(r->table);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- watches ---- */

static int period_ok(int p)
{
    return p == 1 || p == 5 || p == 10 || p == 30 || (p >= 60 && p % 60 == 0);
}

/* A deep copy of id into w (its strings in one block). */
static int copy_id(owl_watch *w, const owl_metric_id *id)
{
    size_t need = strlen(id->ns) + strlen(id->name) + 2;
    for (size_t i = 0; i < id->ndims; i++)
        need += strlen(id->dims[i].name) + strlen(id->dims[i].value) + 2;
    char *p = w->strs = malloc(need);
    w->dims = id->ndims ? calloc(id->ndims, sizeof *w->dims) : NULL;
    if (!p || (id->ndims && !w->dims))
        return OWL_ENOMEM;
#define COPY(dst, src)                 \
    do {                               \
        size_t n_ = strlen(src) + 1;   \
        memcpy(p, (src), n_);          \
        (dst) = p;                     \
        p += n_;                       \
    } while (0)
    COPY(w->id.ns, id->ns);
    COPY(w->id.name, id->name);
    for (size_t i = 0; i < id->ndims; i++) {
        COPY(w->dims[i].name, id->dims[i].name);
        COPY(w->dims[i].value, id->dims[i].value);
    }
#undef COPY
    w->id.dims = w->dims;
    w->id.ndims = id->ndims;
    return OWL_OK;
}

int owl_recent_watch(owl_recent *r, const char *tenant, const owl_metric_id *id,
                       const char *unit, int period_s, size_t nperiods, int sketches,
                       owl_watch **out, owl_error *err)
{
    *out = NULL;
    if (!period_ok(period_s))
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter Period must be 1, 5, 10, 30 or a multiple of 60.");
    if (nperiods < 1 || nperiods * (size_t)period_s > 2 * 86400)
        return owl_error_set(err, OWL_EINVAL, "a watch keeps 1 period to two days' worth");
    if (strlen(tenant) >= sizeof ((owl_watch *)0)->tenant)
        return owl_error_set(err, OWL_EINVAL, "the tenant name is too long");
    const char *canon = NULL;
    if (unit && !(canon = owl_metric_unit_canon(unit)))
        return owl_error_set(err, OWL_EINVAL, "The parameter Unit is not a CloudWatch unit.");
    owl_watch *w = calloc(1, sizeof *w);
    if (!w)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    snprintf(w->tenant, sizeof w->tenant, "%s", tenant);
    w->th = owl_hash64(tenant, strlen(tenant), 0);
    w->unit = canon;
    if (canon) {
        w->stored = owl_metric_unit_stored(canon);
        w->stored_len = strlen(w->stored);
    }
    w->period_ms = (int64_t)period_s * 1000;
    w->nperiods = nperiods;
    w->nslots = nperiods + 3;
    w->sketches = sketches;
    w->need_fill = 1;
    w->future_ms = NO_FUTURE;
    if (copy_id(w, id) != OWL_OK || !(w->slots = calloc(w->nslots, sizeof *w->slots))) {
        watch_free(w);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&r->mu);
    w->next = r->all;
    if (r->all)
        r->all->prev = w;
    r->all = w;
    __atomic_store_n(&r->nwatch, r->nwatch + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->mu);
    *out = w;
    return OWL_OK;
}

void owl_recent_unwatch(owl_recent *r, owl_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&r->mu);
    if (w->series)
        table_remove(r, w);
    if (w->prev)
        w->prev->next = w->next;
    else
        r->all = w->next;
    if (w->next)
        w->next->prev = w->prev;
    __atomic_store_n(&r->nwatch, r->nwatch - 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->mu);
    watch_free(w);
}

/* ---- folding stored rows in ---- */

/* Row r of cols, of period p, into w's ring (mu held). */
static void slot_add(owl_watch *w, const owl_cell *const *cols, size_t r, int64_t p)
{
    slot *s = slot_of(w, p);
    if (s->a.used && s->start > p)
        return; /* older than the ring keeps */
    if (s->a.used && s->start < p) {
        owl_sketch_free(s->a.sk);
        memset(&s->a, 0, sizeof s->a);
    }
    s->start = p;
    if (owl_agg_add(&s->a, cols, r, w->sketches) != OWL_OK)
        w->need_fill = 1; /* out of memory: taken again from the store */
    w->gen++;
}

/* Whether row r of cols is of w's unit (any when w has none). */
static int unit_ok(const owl_watch *w, const owl_cell *const *cols, size_t r)
{
    if (!w->unit)
        return 1;
    owl_bytes u = cols[OWL_METRICS_UNIT][r].b;
    return u.n == w->stored_len && memcmp(u.p, w->stored, u.n) == 0;
}

/* Row r of cols into w (mu held); now_ms the put's clock. */
static void fold_row(owl_recent *rc, owl_watch *w, const owl_cell *const *cols, size_t r,
                     int64_t now_ms)
{
    int64_t p = floor_to(cols[OWL_METRICS_TIME][r].i, w->period_ms);
    if (p > floor_to(now_ms, w->period_ms) + w->period_ms) {
        if (p < w->future_ms)
            w->future_ms = p;
        if (p < rc->future_ms)
            rc->future_ms = p;
        return;
    }
    slot_add(w, cols, r, p);
}

int owl_recent_fold(owl_recent *rc, const char *tenant, const owl_cell *const *cols,
                    size_t nrows, int64_t now_ms)
{
    if (__atomic_load_n(&rc->nbound, __ATOMIC_ACQUIRE) == 0)
        return 0;
    uint64_t th = owl_hash64(tenant, strlen(tenant), 0);
    int took = 0;
    pthread_mutex_lock(&rc->mu);
    for (size_t r = 0; r < nrows && rc->cap; r++) {
        uint64_t series = cols[OWL_METRICS_SERIES][r].u;
        for (owl_watch *w = rc->table[bucket_of(rc, th, series)]; w; w = w->next_hash) {
            if (w->series != series || w->th != th || strcmp(w->tenant, tenant) != 0 ||
                !unit_ok(w, cols, r))
                continue;
            fold_row(rc, w, cols, r, now_ms);
            took = 1;
        }
    }
    pthread_mutex_unlock(&rc->mu);
    return took;
}

int owl_recent_unbound(owl_recent *r)
{
    return __atomic_load_n(&r->nwatch, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&r->nbound, __ATOMIC_ACQUIRE);
}

/* ---- filling from the store ---- */

/* The periods a fill of w at now_ms reads: the kept ones, the current and the next. */
static void fill_range(owl_watch *w, int64_t now_ms)
{
    int64_t cur = floor_to(now_ms, w->period_ms);
    w->fill_t0 = cur - (int64_t)w->nperiods * w->period_ms;
    w->fill_t1 = cur + 2 * w->period_ms;
}

static void filled(owl_watch *w)
{
    w->need_fill = 0;
    w->filling = 0;
    w->future_ms = NO_FUTURE;
    w->gen++;
}

/* w's ring from the store by one read (mu held). */
static int fill(owl_watch *w, owl_metrics *m, int64_t now_ms, owl_error *err)
{
    fill_range(w, now_ms);
    owl_metric_query q = {.tenant = w->tenant, .id = w->id, .unit = w->unit,
                          .start_ms = w->fill_t0, .end_ms = w->fill_t1,
                          .period_s = (int)(w->period_ms / 1000), .now_ms = now_ms};
    owl_bucket_set bs;
    int rc = owl_metrics_read(m, &q, &bs, err);
    if (rc != OWL_OK)
        return rc;
    slots_clear(w);
    for (size_t i = 0; i < bs.n; i++) {
        owl_bucket *b = &bs.b[i];
        slot *s = slot_of(w, b->time_ms);
        s->start = b->time_ms;
        s->a = (owl_agg){.count = b->count, .sum = b->sum, .min = b->min, .max = b->max,
                         .unit = b->unit, .used = 1, .flags = b->sketch ? 0 : 1};
        if (w->sketches) {
            s->a.sk = b->sketch;
            b->sketch = NULL;
        }
    }
    owl_bucket_set_free(&bs);
    filled(w);
    return OWL_OK;
}

typedef struct batch_ctx {
    owl_recent *r;
    uint64_t th;
    const char *tenant;
} batch_ctx;

static int batch_rows(void *ud, const owl_batch *b)
{
    batch_ctx *x = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        uint64_t series = b->cols[OWL_METRICS_SERIES][r].u;
        for (owl_watch *w = x->r->table[bucket_of(x->r, x->th, series)]; w; w = w->next_hash) {
            if (!w->filling || w->series != series || w->th != x->th ||
                strcmp(w->tenant, x->tenant) != 0 || !unit_ok(w, b->cols, r))
                continue;
            int64_t p = floor_to(b->cols[OWL_METRICS_TIME][r].i, w->period_ms);
            if (p >= w->fill_t0 && p < w->fill_t1)
                slot_add(w, b->cols, r, p);
        }
    }
    return 0;
}

/* The watches of list (one tenant's, all bound) from ONE scan of the raw level over their
 * periods, rather than a read each (mu held). */
static int fill_batch(owl_recent *r, owl_metrics *m, owl_watch *list, int64_t now_ms,
                      owl_error *err)
{
    int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    for (owl_watch *w = list; w; w = w->fill_next) {
        fill_range(w, now_ms);
        slots_clear(w);
        w->filling = 1;
        t0 = w->fill_t0 < t0 ? w->fill_t0 : t0;
        t1 = w->fill_t1 > t1 ? w->fill_t1 : t1;
    }
    batch_ctx x = {r, list->th, list->tenant};
    int rc = owl_metrics_scan_raw(m, list->tenant, t0, t1, batch_rows, &x, err);
    for (owl_watch *w = list; w; w = w->fill_next) {
        if (rc == OWL_OK)
            filled(w);
        else
            w->filling = 0; /* need_fill stays: tried again */
    }
    return rc;
}

int owl_recent_sync(owl_recent *r, owl_metrics *m, owl_catalog *cat, int64_t now_ms,
                    int64_t budget_ns, int *more, owl_error *err)
{
    int64_t t0 = owl_mono_ns();
    int rc = OWL_OK;
    *more = 0;
    pthread_mutex_lock(&r->mu);
    uint64_t added = owl_catalog_added(cat);
    int look = added != r->cat_seen;
    /* a skipped future period coming within reach (no ring spans more than two days) */
    if (r->future_ms != NO_FUTURE && now_ms + 2 * 86400 * 1000LL >= r->future_ms) {
        r->future_ms = NO_FUTURE;
        for (owl_watch *w = r->all; w; w = w->next) {
            if (w->future_ms == NO_FUTURE)
                continue;
            if (w->future_ms <= floor_to(now_ms, w->period_ms) + w->period_ms)
                w->need_fill = 1;
            else if (w->future_ms < r->future_ms)
                r->future_ms = w->future_ms;
        }
    }
    /* the watches to fill: bound ones that need it, and unbound ones whose series is
     * known now */
    owl_watch *todo = NULL;
    size_t ntodo = 0;
    for (owl_watch *w = r->all; w; w = w->next) {
        if (w->series && !w->need_fill)
            continue;
        if (!w->series) {
            if (w->looked_up && !look)
                continue;
            w->looked_up = 1;
            uint64_t series;
            if (owl_catalog_find(cat, w->tenant, &w->id, &series) != OWL_OK)
                continue;
            w->series = series;
            if (table_add(r, w) != OWL_OK) {
                w->series = 0;
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
                continue;
            }
        }
        w->fill_next = todo;
        todo = w;
        ntodo++;
    }
    /* many of one tenant, whose periods the raw level still keeps: one scan for them all;
     * the others: a read each, within the budget */
    int64_t raw_from = now_ms - owl_metrics_raw_keep_ms(m) + 60000;
    while (todo) {
        owl_watch *batch = NULL, *rest = NULL, *one = NULL;
        size_t nbatch = 0;
        const char *tenant = todo->tenant;
        for (owl_watch *w = todo, *nx; w; w = nx) {
            nx = w->fill_next;
            fill_range(w, now_ms);
            owl_watch **to = strcmp(w->tenant, tenant) != 0 ? &rest
                             : w->fill_t0 >= raw_from       ? &batch
                                                            : &one;
            w->fill_next = *to;
            *to = w;
            nbatch += to == &batch;
        }
        if (nbatch < BATCH_MIN) { /* few: a read each */
            while (batch) {
                owl_watch *w = batch;
                batch = w->fill_next;
                w->fill_next = one;
                one = w;
            }
        }
        owl_error e = {0};
        int frc = batch ? fill_batch(r, m, batch, now_ms, &e) : OWL_OK;
        for (owl_watch *w = one; w && frc == OWL_OK; w = w->fill_next) {
            if (budget_ns && owl_mono_ns() - t0 > budget_ns) {
                *more = 1;
                break;
            }
            frc = fill(w, m, now_ms, &e);
        }
        if (frc != OWL_OK && rc == OWL_OK) {
            rc = frc;
            if (err)
                *err = e;
        }
        if (*more)
            break;
        todo = rest;
    }
    if (!*more)
        r->cat_seen = added;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

uint64_t owl_recent_gen(owl_recent *r, const owl_watch *w)
{
    pthread_mutex_lock(&r->mu);
    uint64_t g = w->gen;
    pthread_mutex_unlock(&r->mu);
    return g;
}

void owl_recent_visit(owl_recent *r, owl_watch *w, int64_t start_ms, size_t n,
                      void (*fn)(void *ud, size_t k, const owl_bucket *b), void *ud)
{
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < n && w->series; k++) {
        int64_t p = start_ms + (int64_t)k * w->period_ms;
        slot *s = slot_of(w, p);
        if (!s->a.used || s->start != p)
            continue;
        owl_bucket b = {.time_ms = p, .count = s->a.count, .sum = s->a.sum, .min = s->a.min,
                        .max = s->a.max, .sketch = s->a.sk, .unit = s->a.unit};
        fn(ud, k, &b);
    }
    pthread_mutex_unlock(&r->mu);
}

/* metrics.c — libowl's instruments (owl/owl.h "metrics", docs/client.md "Metrics"): counters,
 * up-down counters, gauges and histograms with a series per attribute set, collected as
 * cumulative OTLP metrics for the exporter. Invariants: instruments and series are made under
 * one mutex and freed only when the process ends, so a handle stays valid for good; recording
 * takes no lock, only atomic operations on its series (doubles kept as their bits); a series
 * is sent once it holds a recording; a histogram's count is the total of its bucket counts as
 * read, so the two always agree (owld refuses a point where they do not). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_int.h"

#define MAX_PAIRS 16    /* attribute pairs a series */
#define MAX_SERIES 2000 /* an instrument's, its series without attributes included */
#define MAX_BOUNDS 64   /* a histogram's bucket bounds */
#define MAX_NAME 255    /* OTel's instrument name limit */

typedef struct instrument instrument;

/* A series, the handle the application records into. */
struct owl_metric {
    instrument *inst;
    owl__metric_kind kind;      /* the instrument's, here to spare recording a pointer chase */
    uint32_t nbounds;           /* histograms: the instrument's bounds */
    const double *bounds;
    _Atomic uint64_t value;     /* bits of the sum (counters, histograms) or last value (gauges) */
    _Atomic uint64_t min, max;  /* histograms: bits; +inf / -inf until the first recording */
    atomic_int recorded;        /* sums and gauges: set (release) once a value is stored */
    uint64_t start_ns;          /* when made: the points' start time */
    uint64_t hash;
    size_t keylen;
    const char *key;            /* canonical key: key NUL value NUL ..., pairs sorted by key */
    const owl__attr *attrs;     /* nattrs string attributes pointing into key */
    uint32_t nattrs;
    owl_metric *next;           /* the instrument's series in the order made */
    _Atomic uint64_t buckets[]; /* histograms: nbounds + 1 counts */
};

struct instrument {
    char *name, *unit, *description;
    owl__metric_kind kind;
    double *bounds; /* histograms */
    uint32_t nbounds;
    owl_metric *first, **tail; /* every series but overflow, the one without attributes first */
    size_t nseries;            /* the series in that list */
    owl_metric *overflow;      /* made when the limit is first reached */
    owl_metric **table;        /* series with attributes by key: open addressing, cap a power of 2 */
    size_t cap;
    instrument *next;
};

static struct {
    pthread_mutex_t lock; /* making instruments and series, collecting, freeing */
    instrument *first, **tail;
    int registered;       /* the collector given to the exporter */
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER, .tail = &reg.first};

static const owl__attr overflow_attr = {
    .key = (char *)"otel.metric.overflow", .type = OWL__ATTR_BOOL, .v.b = 1};

/* OpenTelemetry's default histogram bounds. */
static const double default_bounds[] = {0,   5,    10,   25,   50,   75,   100,  250,
                                        500, 750, 1000, 2500, 5000, 7500, 10000};

/* ---- doubles as bits ---- */

static uint64_t to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double of_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Adds v to the double at a; 1, or 0 when the sum would not be finite (a left as it was). */
static int add_double(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed), sum;
    do {
        double d = of_bits(old) + v;
        if (!isfinite(d))
            return 0;
        sum = to_bits(d);
    } while (!atomic_compare_exchange_weak_explicit(a, &old, sum, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 1;
}

/* Lowers (dir < 0) or raises (dir > 0) the double at a to v when v is beyond it. */
static void bound_double(_Atomic uint64_t *a, double v, int dir)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (dir < 0 ? v < of_bits(old) : v > of_bits(old))
        if (atomic_compare_exchange_weak_explicit(a, &old, to_bits(v), memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
}

/* ---- series ---- */

/* A new series of inst for the canonical key[0..keylen) of npairs pairs, start time now; NULL
 * when out of memory. One block: the series, its bucket counts, its attributes, its key. */
static owl_metric *series_new(instrument *inst, const char *key, size_t keylen, uint64_t hash,
                              uint32_t npairs)
{
    size_t nb = inst->kind == OWL__METRIC_HISTOGRAM ? (size_t)inst->nbounds + 1 : 0;
    size_t attrs_at = sizeof(owl_metric) + nb * sizeof(uint64_t);
    size_t key_at = attrs_at + npairs * sizeof(owl__attr);
    owl_metric *s = calloc(1, key_at + keylen);

    if (!s)
        return NULL;
    s->inst = inst;
    s->kind = inst->kind;
    s->nbounds = inst->nbounds;
    s->bounds = inst->bounds;
    atomic_init(&s->value, to_bits(0.0));
    atomic_init(&s->min, to_bits(INFINITY));
    atomic_init(&s->max, to_bits(-INFINITY));
    atomic_init(&s->recorded, 0);
    for (size_t i = 0; i < nb; i++)
        atomic_init(&s->buckets[i], 0);
    s->start_ns = owl__now_ns();
    s->hash = hash;
    s->keylen = keylen;
    char *k = (char *)s + key_at;
    memcpy(k, key, keylen);
    s->key = k;
    owl__attr *a = (owl__attr *)((char *)s + attrs_at);
    for (uint32_t i = 0; i < npairs; i++) {
        a[i].key = k;
        k += strlen(k) + 1;
        a[i].type = OWL__ATTR_STR;
        a[i].v.s = k;
        k += strlen(k) + 1;
    }
    s->attrs = a;
    s->nattrs = npairs;
    return s;
}

/* Where key[0..keylen) is or goes in inst's table (cap > its count). */
static owl_metric **slot(instrument *inst, const char *key, size_t keylen, uint64_t hash)
{
    for (size_t i = hash & (inst->cap - 1);; i = (i + 1) & (inst->cap - 1)) {
        owl_metric *s = inst->table[i];
        if (!s || (s->hash == hash && s->keylen == keylen && memcmp(s->key, key, keylen) == 0))
            return &inst->table[i];
    }
}

/* Room in inst's table for one more series (kept at most half full): 0 or OWL_ERR_NOMEM. */
static int table_room(instrument *inst)
{
    if (inst->cap && 2 * inst->nseries < inst->cap)
        return 0;
    size_t cap = inst->cap ? 2 * inst->cap : 16;
    owl_metric **old = inst->table, **t = calloc(cap, sizeof *t);
    if (!t)
        return OWL_ERR_NOMEM;
    size_t oldcap = inst->cap;
    inst->table = t;
    inst->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            *slot(inst, old[i]->key, old[i]->keylen, old[i]->hash) = old[i];
    free(old);
    return 0;
}

static void series_link(instrument *inst, owl_metric *s)
{
    *inst->tail = s;
    inst->tail = &s->next;
    inst->nseries++;
}

/* The series of key in inst (found or made; the overflow series past MAX_SERIES); NULL when
 * out of memory. Called with reg.lock held. */
static owl_metric *series_get(instrument *inst, const char *key, size_t keylen, uint64_t hash,
                              uint32_t npairs)
{
    if (inst->cap) {
        owl_metric *s = *slot(inst, key, keylen, hash);
        if (s)
            return s;
    }
    if (inst->nseries >= MAX_SERIES) {
        if (!inst->overflow && (inst->overflow = series_new(inst, "", 0, 0, 0))) {
            inst->overflow->attrs = &overflow_attr;
            inst->overflow->nattrs = 1;
        }
        return inst->overflow;
    }
    if (table_room(inst))
        return NULL;
    owl_metric *s = series_new(inst, key, keylen, hash, npairs);
    if (!s)
        return NULL;
    *slot(inst, key, keylen, hash) = s;
    series_link(inst, s);
    return s;
}

/* ---- instruments ---- */

/* OTel's instrument name rule: a letter, then letters, digits, '_', '.', '-', '/'. */
static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > MAX_NAME || !((*name | 0x20) >= 'a' && (*name | 0x20) <= 'z'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
            !strchr("_.-/", c))
            return 0;
    }
    return 1;
}

static void instrument_free(instrument *inst)
{
    if (!inst)
        return;
    for (owl_metric *s = inst->first, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    free(inst->overflow);
    free(inst->table);
    free(inst->bounds);
    free(inst->name);
    free(inst->unit);
    free(inst->description);
    free(inst);
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = 1;
    return d;
}

/* A new instrument with its series without attributes; NULL when out of memory. */
static instrument *instrument_new(const char *name, const char *unit, const char *description,
                                  owl__metric_kind kind, const double *bounds, uint32_t nb)
{
    instrument *inst = calloc(1, sizeof *inst);
    int failed = 0;

    if (!inst)
        return NULL;
    inst->tail = &inst->first;
    inst->kind = kind;
    inst->name = dup_or_null(name, &failed);
    inst->unit = dup_or_null(unit, &failed);
    inst->description = dup_or_null(description, &failed);
    if (nb) {
        inst->bounds = malloc(nb * sizeof *bounds);
        if (!inst->bounds)
            failed = 1;
        else
            memcpy(inst->bounds, bounds, nb * sizeof *bounds);
        inst->nbounds = nb;
    }
    owl_metric *base = failed ? NULL : series_new(inst, "", 0, 0, 0);
    if (!base) {
        instrument_free(inst);
        return NULL;
    }
    series_link(inst, base);
    return inst;
}

/* The instrument name (as owl_counter's), made or found: its series without attributes, NULL
 * for a bad name, a name made with another kind, or out of memory. */
static owl_metric *instrument_get(const char *name, const char *unit, const char *description,
                                  owl__metric_kind kind, const double *bounds, uint32_t nb)
{
    owl_metric *m = NULL;

    if (!name_ok(name))
        return NULL;
    pthread_mutex_lock(&reg.lock);
    for (instrument *i = reg.first; i; i = i->next) {
        if (strcasecmp(i->name, name) == 0) {
            m = i->kind == kind ? i->first : NULL;
            goto out;
        }
    }
    instrument *inst = instrument_new(name, unit, description, kind, bounds, nb);
    if (!inst)
        goto out;
    *reg.tail = inst;
    reg.tail = &inst->next;
    m = inst->first;
    if (!reg.registered) {
        owl__exporter_set_collector(owl__metrics_collect, NULL);
        reg.registered = 1;
    }
out:
    pthread_mutex_unlock(&reg.lock);
    return m;
}

OWL_API owl_metric *owl_counter(const char *name, const char *unit, const char *description)
{
    return instrument_get(name, unit, description, OWL__METRIC_COUNTER, NULL, 0);
}

OWL_API owl_metric *owl_updown_counter(const char *name, const char *unit,
                                       const char *description)
{
    return instrument_get(name, unit, description, OWL__METRIC_UPDOWN, NULL, 0);
}

OWL_API owl_metric *owl_gauge(const char *name, const char *unit, const char *description)
{
    return instrument_get(name, unit, description, OWL__METRIC_GAUGE, NULL, 0);
}

OWL_API owl_metric *owl_histogram(const char *name, const char *unit, const char *description,
                                  const double *bounds, size_t n)
{
    if (n == 0) {
        bounds = default_bounds;
        n = sizeof default_bounds / sizeof *default_bounds;
    }
    if (!bounds || n > MAX_BOUNDS)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
            return NULL;
    return instrument_get(name, unit, description, OWL__METRIC_HISTOGRAM, bounds, (uint32_t)n);
}

/* ---- series by attributes ---- */

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

OWL_API owl_metric *owl_metric_series(owl_metric *m, ...)
{
    const char *kv[2 * MAX_PAIRS];
    uint32_t n = 0, bad = 0;
    va_list ap;

    va_start(ap, m);
    for (const char *k; (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        if (!v || !*k || n == MAX_PAIRS) {
            bad = 1; /* an odd list, an empty key, too many pairs */
            break;
        }
        /* insertion by key, after equal keys: the order given is kept among them */
        uint32_t i = n++;
        for (; i && strcmp(kv[2 * (i - 1)], k) > 0; i--) {
            kv[2 * i] = kv[2 * (i - 1)];
            kv[2 * i + 1] = kv[2 * (i - 1) + 1];
        }
        kv[2 * i] = k;
        kv[2 * i + 1] = v;
    }
    va_end(ap);
    if (!m || bad)
        return NULL;
    /* a key given twice: its last value holds, as for a span's attributes */
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(kv[2 * i], kv[2 * (i + 1)]) == 0)
            continue;
        kv[2 * w] = kv[2 * i];
        kv[2 * w + 1] = kv[2 * i + 1];
        w++;
    }
    n = w;
    if (n == 0)
        return m->inst->first;

    size_t len[2 * MAX_PAIRS], keylen = 0;
    for (uint32_t i = 0; i < 2 * n; i++)
        keylen += (len[i] = owl__cut_len(kv[i])) + 1;
    char *key = malloc(keylen), *p = key;
    if (!key)
        return NULL;
    for (uint32_t i = 0; i < 2 * n; i++) {
        memcpy(p, kv[i], len[i]);
        p += len[i];
        *p++ = '\0';
    }
    pthread_mutex_lock(&reg.lock);
    owl_metric *s = series_get(m->inst, key, keylen, fnv1a(key, keylen), n);
    pthread_mutex_unlock(&reg.lock);
    free(key);
    return s;
}

/* ---- recording: no lock ---- */

static void mark_recorded(owl_metric *m)
{
    if (!atomic_load_explicit(&m->recorded, memory_order_relaxed))
        atomic_store_explicit(&m->recorded, 1, memory_order_release);
}

OWL_API void owl_metric_add(owl_metric *m, double v)
{
    if (!m || !isfinite(v) ||
        !(m->kind == OWL__METRIC_UPDOWN || (m->kind == OWL__METRIC_COUNTER && v >= 0)))
        return;
    if (add_double(&m->value, v))
        mark_recorded(m);
}

OWL_API void owl_metric_set(owl_metric *m, double v)
{
    if (!m || !isfinite(v) || m->kind != OWL__METRIC_GAUGE)
        return;
    atomic_store_explicit(&m->value, to_bits(v), memory_order_relaxed);
    mark_recorded(m);
}

/* The bucket of v: the first whose upper bound (inclusive) is >= v, the last past them all. */
static uint32_t bucket_of(const owl_metric *m, double v)
{
    uint32_t lo = 0, hi = m->nbounds;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (m->bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

OWL_API void owl_metric_record(owl_metric *m, double v)
{
    if (!m || !isfinite(v) || m->kind != OWL__METRIC_HISTOGRAM)
        return;
    /* min, max and sum before the bucket (release): a collection that counts this value in
     * its bucket (acquire) sees them too, so min <= max whenever count > 0 */
    bound_double(&m->min, v, -1);
    bound_double(&m->max, v, 1);
    add_double(&m->value, v); /* a sum past doubles keeps its last finite value */
    atomic_fetch_add_explicit(&m->buckets[bucket_of(m, v)], 1, memory_order_release);
}

/* ---- collection ---- */

/* s's point into p (buckets: room for nbounds + 1 counts): 1, or 0 when s holds nothing. */
static int snapshot(const owl_metric *s, uint64_t now, owl__metric_point *p, uint64_t *buckets)
{
    *p = (owl__metric_point){.attrs = s->attrs, .nattrs = s->nattrs, .start_ns = s->start_ns,
                             .time_ns = now};
    if (s->kind != OWL__METRIC_HISTOGRAM) {
        if (!atomic_load_explicit(&s->recorded, memory_order_acquire))
            return 0;
        p->value = of_bits(atomic_load_explicit(&s->value, memory_order_relaxed));
        return 1;
    }
    for (uint32_t i = 0; i <= s->nbounds; i++) {
        buckets[i] = atomic_load_explicit(&s->buckets[i], memory_order_acquire);
        p->count += buckets[i];
    }
    if (!p->count)
        return 0;
    p->sum = of_bits(atomic_load_explicit(&s->value, memory_order_relaxed));
    p->min = of_bits(atomic_load_explicit(&s->min, memory_order_relaxed));
    p->max = of_bits(atomic_load_explicit(&s->max, memory_order_relaxed));
    p->buckets = buckets;
    return 1;
}

/* The registry's points into ds (one per instrument with any), pts and bks, sized by the
 * caller for every series; the number of metrics. Called with reg.lock held. */
static size_t snapshot_all(uint64_t now, owl__metric_data *ds, owl__metric_point *pts,
                           uint64_t *bks)
{
    size_t nd = 0;
    for (instrument *i = reg.first; i; i = i->next) {
        owl__metric_data *d = &ds[nd];
        size_t nb = i->kind == OWL__METRIC_HISTOGRAM ? (size_t)i->nbounds + 1 : 0;
        *d = (owl__metric_data){.name = i->name, .unit = i->unit, .description = i->description,
                                .kind = i->kind, .bounds = i->bounds, .nbounds = i->nbounds,
                                .points = pts};
        for (owl_metric *s = i->first; s; s = s->next) {
            if (snapshot(s, now, &pts[d->npoints], bks)) {
                d->npoints++;
                bks += nb;
            }
        }
        if (i->overflow && snapshot(i->overflow, now, &pts[d->npoints], bks)) {
            d->npoints++;
            bks += nb;
        }
        pts += d->npoints;
        nd += d->npoints != 0;
    }
    return nd;
}

int owl__metrics_collect(void *ud, const char *service_name, const char *resource, int json,
                         owl__cbuf *out)
{
    size_t ninst = 0, nseries = 0, nbuckets = 0, nd;
    owl__metric_data *ds = NULL;
    owl__metric_point *pts = NULL;
    uint64_t *bks = NULL;
    int rc = OWL_ERR_NOMEM;

    (void)ud;
    pthread_mutex_lock(&reg.lock);
    for (instrument *i = reg.first; i; i = i->next) {
        size_t n = i->nseries + (i->overflow != NULL);
        ninst++;
        nseries += n;
        if (i->kind == OWL__METRIC_HISTOGRAM)
            nbuckets += n * ((size_t)i->nbounds + 1);
    }
    ds = malloc((ninst ? ninst : 1) * sizeof *ds);
    pts = malloc((nseries ? nseries : 1) * sizeof *pts);
    bks = malloc((nbuckets ? nbuckets : 1) * sizeof *bks);
    if (!ds || !pts || !bks) {
        pthread_mutex_unlock(&reg.lock);
        goto out;
    }
    nd = snapshot_all(owl__now_ns(), ds, pts, bks);
    pthread_mutex_unlock(&reg.lock);
    rc = 0;
    if (nd)
        rc = json ? owl__otlp_metrics_json(ds, nd, service_name, resource, out)
                  : owl__otlp_metrics_pb(ds, nd, service_name, resource, out);
out:
    free(ds);
    free(pts);
    free(bks);
    return rc;
}

/* Instruments live as long as the process: freed when it ends (or libowl is unloaded), so
 * leak checkers see nothing left. A thread still recording then is the application's race. */
__attribute__((destructor)) static void metrics_free_all(void)
{
    pthread_mutex_lock(&reg.lock);
    for (instrument *i = reg.first, *next; i; i = next) {
        next = i->next;
        instrument_free(i);
    }
    reg.first = NULL;
    reg.tail = &reg.first;
    pthread_mutex_unlock(&reg.lock);
}

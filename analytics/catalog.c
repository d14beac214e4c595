/* catalog.c — the series catalog: per tenant, series identity (namespace, metric name,
 * dimensions sorted by name) <-> a dense id 1, 2, 3 ... that rows of the metrics table carry.
 *
 * Invariants: an id is written to the metadata store before owl_catalog_resolve returns it,
 * so no stored row names an id a restart would not know. New series go in sets (kind
 * "metric-series-set", record id the first id as 16 hex digits, document {n: count, z: the
 * zstd-packed list of the n consecutive series, each ns NUL name NUL ndims-byte (name NUL
 * value NUL) x ndims, last as 8 bytes little-endian}): a request's new series cost one record
 * and one fsync, about 15 bytes a series where a document each took 330. A later last-active
 * time is a record of its own (kind "metric-series", the id, {ns, name, dims: [{n, v}],
 * last}); loading takes the latest of the two. Ids
 * are never reused (the next id is one past the largest loaded). Entries never move or go
 * away while the catalog is open, so readers hold pointers to them under the read lock and
 * the fast path (every series known) takes only that lock. The last-active time lives in
 * memory and is written with the record when it moved on by an hour or more. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "analytics/analytics_int.h"
#include "common/endian.h"
#include "common/hash.h"

#define KIND "metric-series"
#define KIND_SET "metric-series-set"
#define SET_MAX 4096        /* series in one set record */
#define SET_RAW_MAX (64u << 20) /* zstd frame content size accepted at load */
#define PERSIST_EVERY_MS (3600LL * 1000)

typedef struct entry {
    uint64_t id, h;
    char *ns, *name;
    owl_dim *dims; /* sorted by name */
    size_t ndims;
    _Atomic int64_t last_ms;
    _Atomic int64_t saved_ms; /* last_ms as last written */
} entry;

typedef struct tenant {
    char *name;
    entry **byid;   /* byid[id - 1] */
    size_t n, cap;
    entry **slots;  /* open addressing on h, capacity a power of two */
    size_t nslots;
} tenant;

struct owl_catalog {
    owl_meta *meta;
    pthread_rwlock_t lock;
    tenant **tenants;
    size_t ntenants;
    pthread_mutex_t save_mu; /* orders last-active writes of one series */
    _Atomic uint64_t added;  /* series registered since open (owl_catalog_added) */
};

/* ---- identity ---- */

static int dim_cmp(const void *a, const void *b)
{
    return strcmp(((const owl_dim *)a)->name, ((const owl_dim *)b)->name);
}

/* The dims of m sorted into out (room for OWL_METRIC_MAX_DIMS; callers checked the count). */
static void sorted_dims(const owl_metric_id *m, owl_dim *out)
{
    if (m->ndims == 0)
        return; /* dims may be NULL then, which memcpy must not see */
    memcpy(out, m->dims, m->ndims * sizeof *out);
    qsort(out, m->ndims, sizeof *out, dim_cmp);
}

/* A series' hash (in memory only: the slots) goes namespace, dimensions, then name, so that
 * datums differing in name only (a request's several metrics of one source) hash their
 * namespace and dimensions once (owl_catalog_resolve). */
static uint64_t hash_ns_dims(const owl_metric_id *m, const owl_dim *sorted)
{
    uint64_t h = owl_hash64(m->ns, strlen(m->ns), 0x6d65747269637331ULL);
    for (size_t i = 0; i < m->ndims; i++) {
        h = owl_hash64(sorted[i].name, strlen(sorted[i].name) + 1, h);
        h = owl_hash64(sorted[i].value, strlen(sorted[i].value) + 1, h);
    }
    return h;
}

static uint64_t hash_name(const owl_metric_id *m, uint64_t ns_dims)
{
    return owl_hash64(m->name, strlen(m->name), ns_dims);
}

static uint64_t hash_id(const owl_metric_id *m, const owl_dim *sorted)
{
    return hash_name(m, hash_ns_dims(m, sorted));
}

static int same(const entry *e, const owl_metric_id *m, const owl_dim *sorted)
{
    if (e->ndims != m->ndims || strcmp(e->ns, m->ns) != 0 || strcmp(e->name, m->name) != 0)
        return 0;
    for (size_t i = 0; i < m->ndims; i++)
        if (strcmp(e->dims[i].name, sorted[i].name) != 0 ||
            strcmp(e->dims[i].value, sorted[i].value) != 0)
            return 0;
    return 1;
}

static tenant *find_tenant(const owl_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->ntenants; i++)
        if (strcmp(c->tenants[i]->name, name) == 0)
            return c->tenants[i];
    return NULL;
}

static entry *lookup(const tenant *t, uint64_t h, const owl_metric_id *m, const owl_dim *sorted)
{
    if (!t || !t->nslots)
        return NULL;
    for (size_t i = h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
        entry *e = t->slots[i];
        if (!e)
            return NULL;
        if (e->h == h && same(e, m, sorted))
            return e;
    }
}

/* ---- building (write lock held) ---- */

static void entry_free(entry *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->ndims; i++) {
        free((char *)e->dims[i].name);
        free((char *)e->dims[i].value);
    }
    free(e->dims);
    free(e->ns);
    free(e->name);
    free(e);
}

static int slot_insert(entry **slots, size_t nslots, entry *e)
{
    for (size_t i = e->h & (nslots - 1);; i = (i + 1) & (nslots - 1))
        if (!slots[i]) {
            slots[i] = e;
            return OWL_OK;
        }
}

/* Adds e (id already set) to t; OWL_ENOMEM leaves t as it was. */
static int tenant_add(tenant *t, entry *e)
{
    if ((t->n + 1) * 2 > t->nslots) {
        size_t ns = t->nslots ? t->nslots * 2 : 64;
        entry **s = calloc(ns, sizeof *s);
        if (!s)
            return OWL_ENOMEM;
        for (size_t i = 0; i < t->nslots; i++)
            if (t->slots[i])
                slot_insert(s, ns, t->slots[i]);
        free(t->slots);
        t->slots = s;
        t->nslots = ns;
    }
    if (e->id > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < e->id)
            cap *= 2;
        entry **b = realloc(t->byid, cap * sizeof *b);
        if (!b)
            return OWL_ENOMEM;
        memset(b + t->cap, 0, (cap - t->cap) * sizeof *b);
        t->byid = b;
        t->cap = cap;
    }
    t->byid[e->id - 1] = e;
    if (e->id > t->n)
        t->n = e->id;
    slot_insert(t->slots, t->nslots, e);
    return OWL_OK;
}

static tenant *tenant_get(owl_catalog *c, const char *name)
{
    tenant *t = find_tenant(c, name);
    if (t)
        return t;
    tenant **ts = realloc(c->tenants, (c->ntenants + 1) * sizeof *ts);
    if (!ts)
        return NULL;
    c->tenants = ts;
    if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    c->tenants[c->ntenants++] = t;
    return t;
}

static entry *entry_new(const owl_metric_id *m, const owl_dim *sorted, uint64_t h)
{
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->h = h;
    e->ns = strdup(m->ns);
    e->name = strdup(m->name);
    e->dims = calloc(m->ndims ? m->ndims : 1, sizeof *e->dims);
    if (!e->ns || !e->name || !e->dims)
        goto fail;
    for (size_t i = 0; i < m->ndims; i++) {
        e->dims[i].name = strdup(sorted[i].name);
        e->dims[i].value = strdup(sorted[i].value);
        e->ndims = i + 1;
        if (!e->dims[i].name || !e->dims[i].value)
            goto fail;
    }
    e->ndims = m->ndims;
    return e;
fail:
    entry_free(e);
    return NULL;
}

static int entry_doc(const entry *e, int64_t last, bson_t *doc)
{
    bson_t arr, d;
    char key[24];
    BSON_APPEND_UTF8(doc, "ns", e->ns);
    BSON_APPEND_UTF8(doc, "name", e->name);
    BSON_APPEND_ARRAY_BEGIN(doc, "dims", &arr);
    for (size_t i = 0; i < e->ndims; i++) {
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        BSON_APPEND_UTF8(&d, "n", e->dims[i].name);
        BSON_APPEND_UTF8(&d, "v", e->dims[i].value);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(doc, &arr);
    BSON_APPEND_INT64(doc, "last", last);
    return OWL_OK;
}

static int save(owl_catalog *c, const char *tenant_name, const entry *e, int64_t last,
                owl_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%016" PRIx64, e->id);
    bson_t doc = BSON_INITIALIZER;
    entry_doc(e, last, &doc);
    int rc = owl_meta_put(c->meta, tenant_name, KIND, id, &doc, err);
    bson_destroy(&doc);
    return rc;
}

/* The packed list of the entries of ids first..first + n - 1 of t, in raw. */
static int pack_set(const tenant *t, uint64_t first, size_t n, owl_buf *raw)
{
    int rc = OWL_OK;
    for (size_t j = 0; j < n && rc == OWL_OK; j++) {
        const entry *e = t->byid[first - 1 + j];
        uint8_t nd = (uint8_t)e->ndims, last[8];
        owl_put64le(last, (uint64_t)atomic_load(&e->last_ms));
        rc = owl_buf_append(raw, e->ns, strlen(e->ns) + 1);
        rc |= owl_buf_append(raw, e->name, strlen(e->name) + 1);
        rc |= owl_buf_append(raw, &nd, 1);
        for (size_t k = 0; k < e->ndims; k++) {
            rc |= owl_buf_append(raw, e->dims[k].name, strlen(e->dims[k].name) + 1);
            rc |= owl_buf_append(raw, e->dims[k].value, strlen(e->dims[k].value) + 1);
        }
        rc |= owl_buf_append(raw, last, 8);
    }
    return rc == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

/* Saves the entries of ids first.. of t as set records, in one write (one fsync). */
static int save_new(owl_catalog *c, const char *tname, const tenant *t, uint64_t first,
                    owl_error *err)
{
    size_t total = (size_t)(t->n - first + 1), nrec = (total + SET_MAX - 1) / SET_MAX;
    char (*idb)[24] = calloc(nrec, sizeof *idb);
    const char **idp = calloc(nrec, sizeof *idp);
    bson_t **docs = calloc(nrec, sizeof *docs); /* bson_new's: bson_t wants 128-byte alignment */
    const bson_t **docp = calloc(nrec, sizeof *docp);
    owl_buf raw = OWL_BUF_INIT, packed = OWL_BUF_INIT;
    int rc = idb && idp && docs && docp ? OWL_OK : OWL_ENOMEM;
    for (size_t r = 0; r < nrec && rc == OWL_OK; r++) {
        uint64_t at = first + r * SET_MAX;
        size_t n = total - r * SET_MAX < SET_MAX ? total - r * SET_MAX : SET_MAX;
        owl_buf_reset(&raw);
        owl_buf_reset(&packed);
        if ((rc = pack_set(t, at, n, &raw)) != OWL_OK ||
            (rc = owl_buf_reserve(&packed, ZSTD_compressBound(raw.len))) != OWL_OK)
            break;
        size_t z = ZSTD_compress(packed.data, ZSTD_compressBound(raw.len), raw.data, raw.len, 3);
        if (ZSTD_isError(z)) {
            rc = OWL_ENOMEM;
            break;
        }
        packed.len = z;
        snprintf(idb[r], sizeof idb[r], "%016" PRIx64, at);
        idp[r] = idb[r];
        if (!(docs[r] = bson_new()) || !BSON_APPEND_INT32(docs[r], "n", (int32_t)n) ||
            !bson_append_binary(docs[r], "z", 1, BSON_SUBTYPE_BINARY,
                                (const uint8_t *)packed.data, (uint32_t)packed.len))
            rc = OWL_ENOMEM;
        docp[r] = docs[r];
    }
    if (rc == OWL_OK)
        rc = owl_meta_put_many(c->meta, tname, KIND_SET, nrec, idp, docp, err);
    else
        owl_error_set(err, rc, "out of memory");
    for (size_t r = 0; r < nrec && docs; r++)
        if (docs[r])
            bson_destroy(docs[r]);
    owl_buf_free(&raw);
    owl_buf_free(&packed);
    free(idb), free(idp), free(docs), free(docp);
    return rc;
}

/* Takes the entries of ids first.. out of t again (their save failed). */
static void tenant_drop_from(tenant *t, uint64_t first)
{
    for (uint64_t id = first; id <= t->n; id++) {
        entry_free(t->byid[id - 1]);
        t->byid[id - 1] = NULL;
    }
    t->n = first - 1;
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    for (uint64_t id = 1; id <= t->n; id++)
        if (t->byid[id - 1])
            slot_insert(t->slots, t->nslots, t->byid[id - 1]);
}

/* ---- open: load every record ---- */

typedef struct loader {
    owl_catalog *c;
    int rc;
} loader;

/* Adds series id num of tenant tname (or, when it is known already, takes the later
 * last-active time of the two). */
static int load_entry(loader *l, const char *tname, uint64_t num, const owl_metric_id *m,
                      int64_t last)
{
    tenant *t = tenant_get(l->c, tname);
    if (!t)
        return l->rc = OWL_ENOMEM;
    if (num <= t->cap && t->byid[num - 1]) {
        entry *e = t->byid[num - 1];
        if (last > atomic_load(&e->last_ms)) {
            atomic_store(&e->last_ms, last);
            atomic_store(&e->saved_ms, last);
        }
        return OWL_OK;
    }
    owl_dim sorted[OWL_METRIC_MAX_DIMS];
    sorted_dims(m, sorted);
    entry *e = entry_new(m, sorted, hash_id(m, sorted));
    if (!e)
        return l->rc = OWL_ENOMEM;
    e->id = num;
    atomic_store(&e->last_ms, last);
    atomic_store(&e->saved_ms, last);
    if (tenant_add(t, e) != OWL_OK) {
        entry_free(e);
        return l->rc = OWL_ENOMEM;
    }
    return OWL_OK;
}

/* A NUL-terminated string at *p before end, or NULL. */
static const char *take_str(const char **p, const char *end)
{
    const char *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    if (!z)
        return NULL;
    *p = z + 1;
    return s;
}

static int load_set(loader *l, const char *tname, uint64_t first, const bson_t *doc)
{
    bson_iter_t it;
    int32_t n = 0;
    uint32_t blen = 0;
    const uint8_t *bin = NULL;
    bson_subtype_t st;
    if (bson_iter_init_find(&it, doc, "n") && BSON_ITER_HOLDS_INT32(&it))
        n = bson_iter_int32(&it);
    if (bson_iter_init_find(&it, doc, "z") && BSON_ITER_HOLDS_BINARY(&it))
        bson_iter_binary(&it, &st, &blen, &bin);
    owl_buf raw = OWL_BUF_INIT;
    int rc = OWL_ECORRUPT;
    unsigned long long want = bin ? ZSTD_getFrameContentSize(bin, blen) : ZSTD_CONTENTSIZE_ERROR;
    if (n >= 1 && n <= SET_MAX && want != ZSTD_CONTENTSIZE_ERROR &&
        want != ZSTD_CONTENTSIZE_UNKNOWN && want <= SET_RAW_MAX) {
        rc = owl_buf_reserve(&raw, (size_t)want + 1);
        if (rc == OWL_OK) {
            size_t got = ZSTD_decompress(raw.data, (size_t)want + 1, bin, blen);
            if (ZSTD_isError(got) || got != want)
                rc = OWL_ECORRUPT;
            else
                raw.len = got;
        }
    }
    const char *p = raw.data, *end = raw.data + raw.len;
    for (int32_t j = 0; j < n && rc == OWL_OK; j++) {
        owl_dim dims[OWL_METRIC_MAX_DIMS];
        owl_metric_id m = {0};
        rc = OWL_ECORRUPT;
        if (!p || !(m.ns = take_str(&p, end)) || !(m.name = take_str(&p, end)) || p >= end ||
            (unsigned char)*p > OWL_METRIC_MAX_DIMS)
            break;
        m.ndims = (unsigned char)*p++;
        size_t k = 0;
        for (; k < m.ndims; k++)
            if (!(dims[k].name = take_str(&p, end)) || !(dims[k].value = take_str(&p, end)))
                break;
        if (k < m.ndims || end - p < 8)
            break;
        m.dims = dims;
        int64_t last = (int64_t)owl_get64le((const uint8_t *)p);
        p += 8;
        rc = load_entry(l, tname, first + (uint64_t)j, &m, last);
    }
    if (rc == OWL_OK && p != end)
        rc = OWL_ECORRUPT;
    owl_buf_free(&raw);
    if (rc == OWL_ECORRUPT)
        l->rc = OWL_ECORRUPT;
    return rc;
}

static int load_one(void *ud, const char *tname, const char *kind, const char *id,
                    const bson_t *doc)
{
    loader *l = ud;
    bson_iter_t it, ai, di;
    owl_dim dims[OWL_METRIC_MAX_DIMS];
    owl_metric_id m = {0};
    int64_t last = 0;
    char *end;
    uint64_t num = strtoull(id, &end, 16);
    if (*end || num == 0 || num > (1ULL << 40))
        return 0; /* not one of ours: skipped */
    if (strcmp(kind, KIND_SET) == 0)
        return load_set(l, tname, num, doc) != OWL_OK;
    if (bson_iter_init_find(&it, doc, "ns") && BSON_ITER_HOLDS_UTF8(&it))
        m.ns = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
        m.name = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, doc, "last") && BSON_ITER_HOLDS_INT64(&it))
        last = bson_iter_int64(&it);
    if (!m.ns || !m.name)
        return 0;
    if (bson_iter_init_find(&it, doc, "dims") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ai)) {
        while (bson_iter_next(&ai) && m.ndims < OWL_METRIC_MAX_DIMS) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&ai) || !bson_iter_recurse(&ai, &di))
                continue;
            const char *n = NULL, *v = NULL;
            while (bson_iter_next(&di)) {
                if (strcmp(bson_iter_key(&di), "n") == 0 && BSON_ITER_HOLDS_UTF8(&di))
                    n = bson_iter_utf8(&di, NULL);
                else if (strcmp(bson_iter_key(&di), "v") == 0 && BSON_ITER_HOLDS_UTF8(&di))
                    v = bson_iter_utf8(&di, NULL);
            }
            if (n && v)
                dims[m.ndims++] = (owl_dim){n, v};
        }
    }
    m.dims = dims;
    return load_entry(l, tname, num, &m, last) != OWL_OK;
}

int owl_catalog_open(owl_meta *meta, owl_catalog **out, owl_error *err)
{
    *out = NULL;
    owl_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    c->meta = meta;
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->save_mu, NULL);
    loader l = {c, OWL_OK};
    int rc = owl_meta_list(meta, NULL, KIND_SET, NULL, 0, load_one, &l, err);
    if (rc == OWL_OK && l.rc == OWL_OK)
        rc = owl_meta_list(meta, NULL, KIND, NULL, 0, load_one, &l, err);
    if (rc == OWL_OK && l.rc != OWL_OK)
        rc = owl_error_set(err, l.rc, l.rc == OWL_ECORRUPT
                                          ? "a record of the series catalog does not decode"
                                          : "out of memory loading the series catalog");
    if (rc != OWL_OK) {
        owl_catalog_close(c);
        return rc;
    }
    *out = c;
    return OWL_OK;
}

void owl_catalog_close(owl_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ntenants; i++) {
        tenant *t = c->tenants[i];
        for (size_t k = 0; k < t->n; k++)
            entry_free(t->byid[k]);
        free(t->byid);
        free(t->slots);
        free(t->name);
        free(t);
    }
    free(c->tenants);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->save_mu);
    free(c);
}

/* ---- resolve ---- */

static void touch(entry *e, int64_t t)
{
    int64_t cur = atomic_load(&e->last_ms);
    while (t > cur && !atomic_compare_exchange_weak(&e->last_ms, &cur, t))
        ;
}

/* Writes the last-active time of series whose in-memory time moved an hour past the saved. */
static int save_recent(owl_catalog *c, const char *tname, entry *const *es, size_t n,
                       owl_error *err)
{
    int rc = OWL_OK;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        entry *e = es[i];
        if (atomic_load(&e->last_ms) - atomic_load(&e->saved_ms) < PERSIST_EVERY_MS)
            continue;
        pthread_mutex_lock(&c->save_mu);
        int64_t last = atomic_load(&e->last_ms);
        if (last - atomic_load(&e->saved_ms) >= PERSIST_EVERY_MS) {
            rc = save(c, tname, e, last, err);
            if (rc == OWL_OK)
                atomic_store(&e->saved_ms, last);
        }
        pthread_mutex_unlock(&c->save_mu);
    }
    return rc;
}

/* Whether ids[i] names its namespace and dimensions with the very strings of ids[i - 1]. */
static int same_ns_dims(const owl_metric_id *ids, size_t i)
{
    return ids[i].ns == ids[i - 1].ns && ids[i].dims == ids[i - 1].dims &&
           ids[i].ndims == ids[i - 1].ndims;
}

/* Whether ids[i] names its series with the very strings of ids[i - 1]. */
static int same_as_previous(const owl_metric_id *ids, size_t i)
{
    return same_ns_dims(ids, i) && ids[i].name == ids[i - 1].name;
}

int owl_catalog_resolve(owl_catalog *c, const char *tname, const owl_metric_id *ids,
                        const int64_t *time_ms, size_t n, uint64_t *out, owl_error *err)
{
    owl_dim sorted[OWL_METRIC_MAX_DIMS];
    size_t missing = 0;
    entry *stack_es[64];
    entry **es = n <= 64 ? stack_es : malloc(n * sizeof *es);
    if (!es)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = OWL_OK;
    uint64_t ns_dims = 0; /* the hash of sorted's namespace and dimensions: ids[i - 1]'s */
    pthread_rwlock_rdlock(&c->lock);
    tenant *t = find_tenant(c, tname);
    for (size_t i = 0; i < n; i++) {
        /* the previous datum is often the same series (bulk forms): skip the lookup; or
         * another metric of the same source: keep its sorted dimensions and their hash */
        if (i > 0 && same_as_previous(ids, i)) {
            es[i] = es[i - 1];
        } else {
            if (i == 0 || !same_ns_dims(ids, i)) {
                sorted_dims(&ids[i], sorted);
                ns_dims = hash_ns_dims(&ids[i], sorted);
            }
            es[i] = lookup(t, hash_name(&ids[i], ns_dims), &ids[i], sorted);
        }
        missing += !es[i];
    }
    pthread_rwlock_unlock(&c->lock);
    if (missing) {
        pthread_rwlock_wrlock(&c->lock);
        t = tenant_get(c, tname);
        uint64_t first_new = t ? t->n + 1 : 0;
        for (size_t i = 0; i < n && t && rc == OWL_OK; i++) {
            if (es[i])
                continue;
            if (i > 0 && same_as_previous(ids, i)) {
                es[i] = es[i - 1]; /* resolved just before */
                continue;
            }
            sorted_dims(&ids[i], sorted);
            uint64_t h = hash_id(&ids[i], sorted);
            if ((es[i] = lookup(t, h, &ids[i], sorted)))
                continue; /* registered by another caller, or earlier in this request */
            entry *e = entry_new(&ids[i], sorted, h);
            if (!e) {
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
                break;
            }
            e->id = t->n + 1;
            atomic_store(&e->last_ms, time_ms[i]);
            atomic_store(&e->saved_ms, time_ms[i]);
            if ((rc = tenant_add(t, e)) != OWL_OK) {
                owl_error_set(err, rc, "out of memory");
                entry_free(e);
                break;
            }
            es[i] = e;
        }
        if (!t && rc == OWL_OK)
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        /* durable before any row can name them (the write lock keeps them from other
         * callers until then); taken back if they cannot be */
        if (t && t->n >= first_new) {
            if (rc == OWL_OK)
                rc = save_new(c, tname, t, first_new, err);
            if (rc != OWL_OK)
                tenant_drop_from(t, first_new);
            else
                atomic_fetch_add(&c->added, t->n - first_new + 1);
        }
        pthread_rwlock_unlock(&c->lock);
    }
    if (rc == OWL_OK) {
        for (size_t i = 0; i < n; i++) {
            out[i] = es[i]->id;
            touch(es[i], time_ms[i]);
        }
        rc = save_recent(c, tname, es, n, err);
    }
    if (es != stack_es)
        free(es);
    return rc;
}

int owl_catalog_find(owl_catalog *c, const char *tname, const owl_metric_id *id, uint64_t *out)
{
    if (id->ndims > OWL_METRIC_MAX_DIMS)
        return OWL_ENOTFOUND;
    owl_dim sorted[OWL_METRIC_MAX_DIMS];
    sorted_dims(id, sorted);
    for (size_t i = 0; i < id->ndims; i++)
        if (!sorted[i].name || !sorted[i].value)
            return OWL_ENOTFOUND;
    pthread_rwlock_rdlock(&c->lock);
    entry *e = lookup(find_tenant(c, tname), hash_id(id, sorted), id, sorted);
    if (e)
        *out = e->id;
    pthread_rwlock_unlock(&c->lock);
    return e ? OWL_OK : OWL_ENOTFOUND;
}

uint64_t owl_catalog_added(owl_catalog *c)
{
    return atomic_load(&c->added);
}

/* ---- list ---- */

static int matches(const entry *e, const owl_metric_filter *f)
{
    if (f->ns && strcmp(f->ns, e->ns) != 0)
        return 0;
    if (f->name && strcmp(f->name, e->name) != 0)
        return 0;
    for (size_t i = 0; i < f->ndims; i++) {
        size_t k = 0;
        while (k < e->ndims && strcmp(e->dims[k].name, f->dims[i].name) != 0)
            k++;
        if (k == e->ndims || (f->dims[i].value && strcmp(e->dims[k].value, f->dims[i].value)))
            return 0;
    }
    return !f->active_since_ms || atomic_load(&((entry *)e)->last_ms) >= f->active_since_ms;
}

#define TOKEN_PREFIX "owlm1-"

int owl_catalog_list(owl_catalog *c, const char *tname, const owl_metric_filter *f,
                     const char *token, size_t limit, owl_metric_list_fn fn, void *ud,
                     char next[OWL_METRIC_TOKEN], owl_error *err)
{
    uint64_t after = 0;
    next[0] = 0;
    if (limit == 0)
        limit = 500;
    if (token && *token) {
        char *end;
        if (strncmp(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
            return owl_error_set(err, OWL_EINVAL, "NextToken is not one this service gave out");
        after = strtoull(token + strlen(TOKEN_PREFIX), &end, 16);
        if (*end || after == 0)
            return owl_error_set(err, OWL_EINVAL, "NextToken is not one this service gave out");
    }
    owl_metric_filter none = {0};
    if (!f)
        f = &none;
    pthread_rwlock_rdlock(&c->lock);
    tenant *t = find_tenant(c, tname);
    size_t given = 0;
    int rc = OWL_OK;
    for (uint64_t id = after + 1; t && id <= t->n; id++) {
        entry *e = t->byid[id - 1];
        if (!e || !matches(e, f))
            continue;
        if (given == limit) {
            snprintf(next, OWL_METRIC_TOKEN, TOKEN_PREFIX "%" PRIx64, id - 1);
            break;
        }
        owl_metric_id m = {e->ns, e->name, e->dims, e->ndims};
        given++;
        if (fn(ud, &m, atomic_load(&e->last_ms)) != 0)
            break;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

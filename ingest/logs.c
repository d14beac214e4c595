/* logs.c — CloudWatch Logs kept by owl: log groups and streams in the metadata store, their
 * events in the `logs` table, one store partition per group incarnation.
 *
 * Records (metadata store, per tenant):
 *   kind "log-group", id the group's partition ("g" + 16 random hex digits):
 *     {name, created, retention (days, 0 = none), tags {key: value}};
 *   kind "log-stream", id "<partition>.<16 hex digits of a per-group sequence>":
 *     {name, created, first, last, ingest, seq} (the times 0 until the first event);
 *   kind "log-metric-filter", id "<partition>.f<16 random hex digits>": a metric filter
 *     (ingest/mfilter.h, owl_mf_doc), compiled at load into the group's cached set.
 * Invariants:
 *   1. every group and stream in memory has its record; creations and deletions are durable
 *      before they are reported. All metadata writes are made under `wmu`, so a flush of
 *      stream times never rewrites a record a deletion removed;
 *   2. stream times (first, last, ingest, seq) change in memory on every put and reach the
 *      metadata store lazily (owl_logs_flush: every flush_ms and at close); after a crash they
 *      may lag by that much, as CloudWatch's own "eventually consistent" fields do;
 *   3. an event is readable when its stream exists and the event was ingested at or after
 *      the stream's creation: a deleted stream's events, and those of an earlier stream of
 *      the same name, are never returned;
 *   4. a deleted group's partition is never read again (a new group gets a new partition)
 *      and is dropped from the store (owl_store_drop_partition); one a crash left behind is
 *      dropped at the next open.
 * Locks: `mu` guards the in-memory groups and streams (held briefly, never across store or
 * metadata calls); `wmu` (taken before mu) serialises metadata writes. */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/mfilter.h"

#define KIND_GROUP "log-group"
#define KIND_STREAM "log-stream"
#define KIND_MF "log-metric-filter"
#define DAY_MS 86400000LL
#define TOO_NEW_MS (2 * 3600000LL)
#define TOO_OLD_MS (14 * DAY_MS)
#define SPAN_MS DAY_MS

typedef struct lstream {
    char *name;
    char id[48];
    int64_t created, first, last, ingest;
    uint64_t seq;
    int dirty;
} lstream;

/* A group's metric filters as one immutable, reference-counted snapshot sorted by name: a
 * put takes a reference under mu and matches without any lock; a change of the filters
 * swaps in a new set. */
typedef struct mfset {
    int refs; /* atomic */
    size_t n;
    owl_mf *f[];
} mfset;

typedef struct lgroup {
    char tenant[256];
    char *name;
    char pid[24];
    int64_t created;
    int retention;
    bson_t tags;
    lstream **s; /* sorted by name */
    size_t n, cap;
    uint64_t next_seq;
    mfset *mf; /* NULL: no filters, nothing to do at ingest */
} lgroup;

struct owl_logs {
    owl_meta *meta;
    owl_store *store;
    owl_logs_options opt;
    pthread_mutex_t mu, wmu;
    lgroup **g; /* sorted by (tenant, name) */
    size_t n, cap;
    pthread_t flusher;
    int started, stop;
    pthread_cond_t cv;
    owl_metrics *metrics; /* where metric filters write; NULL: nowhere */
    owl_logs_sink_fn sink; /* owl_logs_set_sink: told of every stored batch */
    void *sink_ud;
};

static const int retention_values[] = {1,   3,   5,   7,    14,   30,   60,   90,
                                       120, 150, 180, 365,  400,  545,  731,  1096,
                                       1827, 2192, 2557, 2922, 3288, 3653};

int owl_logs_retention_ok(int days)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(retention_values); i++)
        if (retention_values[i] == days)
            return 1;
    return 0;
}

int owl_logs_group_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > OWL_LOGS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && !strchr(".-_/#", c))
            return 0;
    }
    return 1;
}

int owl_logs_stream_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= OWL_LOGS_NAME_MAX && !strpbrk(name, ":*");
}

void owl_logs_options_default(owl_logs_options *o)
{
    o->max_groups = 100000;
    o->max_streams = 100000;
    o->flush_ms = 5000;
    o->background = 1;
}

/* ---- in memory ---- */

static void stream_free(lstream *s)
{
    if (s)
        free(s->name), free(s);
}

static void mfset_unref(mfset *m)
{
    if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < m->n; i++)
        owl_mf_unref(m->f[i]);
    free(m);
}

/* A new set: old's filters but the one named drop (NULL: none), plus add (NULL: none), in
 * name order, each referenced. NULL when out of memory. */
static mfset *mfset_with(const mfset *old, owl_mf *add, const char *drop)
{
    size_t n = old ? old->n : 0;
    mfset *m = malloc(sizeof *m + (n + 1) * sizeof m->f[0]);
    if (!m)
        return NULL;
    m->refs = 1;
    m->n = 0;
    for (size_t i = 0; i < n; i++) {
        owl_mf *f = old->f[i];
        if (drop && strcmp(f->name, drop) == 0)
            continue;
        if (add && strcmp(add->name, f->name) < 0) {
            owl_mf_ref(add);
            m->f[m->n++] = add;
            add = NULL;
        }
        owl_mf_ref(f);
        m->f[m->n++] = f;
    }
    if (add) {
        owl_mf_ref(add);
        m->f[m->n++] = add;
    }
    return m;
}

static void group_free(lgroup *g)
{
    if (!g)
        return;
    mfset_unref(g->mf);
    for (size_t i = 0; i < g->n; i++)
        stream_free(g->s[i]);
    free(g->s);
    free(g->name);
    bson_destroy(&g->tags);
    free(g);
}

static int gcmp(const char *t1, const char *n1, const lgroup *g)
{
    int c = strcmp(t1, g->tenant);
    return c ? c : strcmp(n1, g->name);
}

/* Index of (tenant, name) in lg->g, or where it would go (*found 0). */
static size_t gfind(const owl_logs *lg, const char *tenant, const char *name, int *found)
{
    size_t lo = 0, hi = lg->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = gcmp(tenant, name, lg->g[mid]);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = 0;
    return lo;
}

static lgroup *group_get(const owl_logs *lg, const char *tenant, const char *name)
{
    int found;
    size_t i = gfind(lg, tenant, name, &found);
    return found ? lg->g[i] : NULL;
}

static size_t sfind(const lgroup *g, const char *name, int *found)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, g->s[mid]->name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = 0;
    return lo;
}

static lstream *stream_get(const lgroup *g, const char *name)
{
    int found;
    size_t i = sfind(g, name, &found);
    return found ? g->s[i] : NULL;
}

/* Grows *v (of *cap pointers) to hold one more; OWL_OK or OWL_ENOMEM. */
static int grow(void ***v, size_t n, size_t *cap)
{
    if (n < *cap)
        return OWL_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    void **p = realloc(*v, nc * sizeof *p);
    if (!p)
        return OWL_ENOMEM;
    *v = p;
    *cap = nc;
    return OWL_OK;
}

static int insert_at(void ***v, size_t *n, size_t *cap, size_t at, void *item)
{
    if (grow(v, *n, cap) != OWL_OK)
        return OWL_ENOMEM;
    memmove(*v + at + 1, *v + at, (*n - at) * sizeof **v);
    (*v)[at] = item;
    (*n)++;
    return OWL_OK;
}

static void remove_at(void **v, size_t *n, size_t at)
{
    memmove(v + at, v + at + 1, (*n - at - 1) * sizeof *v);
    (*n)--;
}

static size_t tenant_groups(const owl_logs *lg, const char *tenant)
{
    int found;
    size_t lo = gfind(lg, tenant, "", &found), hi = lo;
    while (hi < lg->n && strcmp(lg->g[hi]->tenant, tenant) == 0)
        hi++;
    return hi - lo;
}

/* ---- records ---- */

static void group_doc(const lgroup *g, bson_t *d)
{
    bson_init(d);
    BSON_APPEND_UTF8(d, "name", g->name);
    BSON_APPEND_INT64(d, "created", g->created);
    BSON_APPEND_INT32(d, "retention", g->retention);
    BSON_APPEND_DOCUMENT(d, "tags", &g->tags);
}

static void stream_doc(const lstream *s, bson_t *d)
{
    bson_init(d);
    BSON_APPEND_UTF8(d, "name", s->name);
    BSON_APPEND_INT64(d, "created", s->created);
    BSON_APPEND_INT64(d, "first", s->first);
    BSON_APPEND_INT64(d, "last", s->last);
    BSON_APPEND_INT64(d, "ingest", s->ingest);
    BSON_APPEND_INT64(d, "seq", (int64_t)s->seq);
}

static int64_t doc_i64(const bson_t *d, const char *k)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, k) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                          : 0;
}

static const char *doc_str(const bson_t *d, const char *k)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, k) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                        : NULL;
}

/* ---- loading ---- */

typedef struct load {
    owl_logs *lg;
    int rc;
    char (*orphans)[2][256];
    size_t norphans, cap;
} load;

static int load_group(void *ud, const char *tenant, const char *kind, const char *id,
                      const bson_t *doc)
{
    (void)kind;
    load *l = ud;
    const char *name = doc_str(doc, "name");
    if (!name || strlen(id) >= sizeof(((lgroup *)0)->pid)) {
        owl_warn("logs: group record %s/%s has no name: skipped", tenant, id);
        return 0;
    }
    lgroup *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(name))) {
        free(g);
        l->rc = OWL_ENOMEM;
        return 1;
    }
    owl_strlcpy(g->tenant, tenant, sizeof g->tenant);
    owl_strlcpy(g->pid, id, sizeof g->pid);
    g->created = doc_i64(doc, "created");
    g->retention = (int)doc_i64(doc, "retention");
    bson_iter_t it;
    uint32_t len;
    const uint8_t *p;
    if (bson_iter_init_find(&it, doc, "tags") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_iter_document(&it, &len, &p);
        bson_t t;
        bson_init_static(&t, p, len);
        bson_copy_to(&t, &g->tags);
    } else {
        bson_init(&g->tags);
    }
    int found;
    size_t at = gfind(l->lg, tenant, name, &found);
    if (found || insert_at((void ***)&l->lg->g, &l->lg->n, &l->lg->cap, at, g) != OWL_OK) {
        group_free(g);
        if (!found) {
            l->rc = OWL_ENOMEM;
            return 1;
        }
    }
    return 0;
}

/* Streams are loaded with a map from partition to group built once (below). */
typedef struct pidmap {
    const char *pid;
    lgroup *g;
} pidmap;

typedef struct sload {
    load *l;
    pidmap *map;
    size_t nmap;
} sload;

static int pidcmp(const void *a, const void *b)
{
    const pidmap *x = a, *y = b;
    int c = strcmp(x->pid, y->pid);
    return c ? c : strcmp(x->g->tenant, y->g->tenant);
}

/* The group a stream's or filter's record id ("<group pid>.<...>") belongs to, or NULL (its
 * group was deleted). */
static lgroup *owner_of(const sload *sl, const char *tenant, const char *id)
{
    char pid[24];
    const char *dot = strchr(id, '.');
    if (!dot || (size_t)(dot - id) >= sizeof pid)
        return NULL;
    memcpy(pid, id, (size_t)(dot - id));
    pid[dot - id] = 0;
    lgroup key = {.name = (char *)""};
    owl_strlcpy(key.tenant, tenant, sizeof key.tenant);
    pidmap k = {pid, &key}, *m = bsearch(&k, sl->map, sl->nmap, sizeof k, pidcmp);
    return m ? m->g : NULL;
}

/* Notes record (tenant, id) of a deleted group, removed after the listing; 1 (stop) when out
 * of memory. */
static int add_orphan(load *l, const char *tenant, const char *id)
{
    if (l->norphans == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->orphans, nc * sizeof *l->orphans);
        if (!p) {
            l->rc = OWL_ENOMEM;
            return 1;
        }
        l->orphans = p;
        l->cap = nc;
    }
    owl_strlcpy(l->orphans[l->norphans][0], tenant, 256);
    owl_strlcpy(l->orphans[l->norphans][1], id, 256);
    l->norphans++;
    return 0;
}

static int load_stream(void *ud, const char *tenant, const char *kind, const char *id,
                       const bson_t *doc)
{
    (void)kind;
    sload *sl = ud;
    load *l = sl->l;
    const char *dot = strchr(id, '.');
    const char *name = doc_str(doc, "name");
    lgroup *g = owner_of(sl, tenant, id);
    if (!g || !name) /* its group was deleted: remove the record after the listing */
        return add_orphan(l, tenant, id);
    lstream *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        l->rc = OWL_ENOMEM;
        return 1;
    }
    owl_strlcpy(s->id, id, sizeof s->id);
    s->created = doc_i64(doc, "created");
    s->first = doc_i64(doc, "first");
    s->last = doc_i64(doc, "last");
    s->ingest = doc_i64(doc, "ingest");
    s->seq = (uint64_t)doc_i64(doc, "seq");
    uint64_t n = strtoull(dot + 1, NULL, 16);
    if (n >= g->next_seq)
        g->next_seq = n + 1;
    int found;
    size_t at = sfind(g, name, &found);
    if (found || insert_at((void ***)&g->s, &g->n, &g->cap, at, s) != OWL_OK) {
        stream_free(s);
        if (!found) {
            l->rc = OWL_ENOMEM;
            return 1;
        }
    }
    return 0;
}

/* A metric filter record: compiled into its group's set; one of a deleted group is an
 * orphan, one that no longer reads is skipped with a warning (kept for inspection). */
static int load_mfilter(void *ud, const char *tenant, const char *kind, const char *id,
                        const bson_t *doc)
{
    (void)kind;
    sload *sl = ud;
    load *l = sl->l;
    lgroup *g = owner_of(sl, tenant, id);
    if (!g)
        return add_orphan(l, tenant, id);
    owl_mf *f;
    owl_error e = {0};
    int rc = owl_mf_from_doc(doc, id, &f, &e);
    if (rc == OWL_ENOMEM) {
        l->rc = rc;
        return 1;
    }
    if (rc != OWL_OK) {
        owl_warn("logs: %s: skipped", e.msg);
        return 0;
    }
    mfset *m = mfset_with(g->mf, f, f->name);
    owl_mf_unref(f);
    if (!m) {
        l->rc = OWL_ENOMEM;
        return 1;
    }
    mfset_unref(g->mf);
    g->mf = m;
    return 0;
}

static void *flusher(void *arg);

/* Partitions of the logs table that no group owns (a crash between a deletion's metadata
 * write and its drop), collected at open and dropped. */
typedef struct sweep {
    const pidmap *map;
    size_t nmap;
    char (*gone)[2][256];
    size_t n, cap;
    int oom;
} sweep;

static int sweep_one(void *ud, const owl_store_table_stats *t)
{
    sweep *w = ud;
    if (strcmp(t->table, "logs") != 0)
        return 0;
    size_t lo = 0, hi = w->nmap; /* the first entry of this pid (map sorted by pid, tenant) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(w->map[mid].pid, t->partition) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < w->nmap && strcmp(w->map[lo].pid, t->partition) == 0; lo++)
        if (strcmp(w->map[lo].g->tenant, t->tenant) == 0)
            return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        void *p = realloc(w->gone, cap * sizeof *w->gone);
        if (!p) {
            w->oom = 1;
            return 1;
        }
        w->gone = p;
        w->cap = cap;
    }
    owl_strlcpy(w->gone[w->n][0], t->tenant, 256);
    owl_strlcpy(w->gone[w->n][1], t->partition, 256);
    w->n++;
    return 0;
}

static int sweep_partitions(owl_store *store, const pidmap *map, size_t nmap, owl_error *err)
{
    sweep w = {map, nmap, NULL, 0, 0, 0};
    int rc = owl_store_partitions(store, sweep_one, &w, err);
    if (w.oom)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == OWL_OK && i < w.n; i++) {
        rc = owl_store_drop_partition(store, "logs", w.gone[i][0], w.gone[i][1], err);
        if (rc == OWL_ENOTFOUND)
            rc = OWL_OK;
    }
    if (rc == OWL_OK && w.n)
        owl_info("logs: dropped %zu partitions of deleted log groups", w.n);
    free(w.gone);
    return rc;
}

int owl_logs_open(owl_meta *meta, owl_store *store, const owl_logs_options *opts,
                  owl_logs **out, owl_error *err)
{
    int rc;
    load l = {0};
    sload sl = {0};
    owl_logs *lg = calloc(1, sizeof *lg);
    if (!lg)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    lg->meta = meta;
    lg->store = store;
    owl_logs_options_default(&lg->opt);
    if (opts)
        lg->opt = *opts;
    if (lg->opt.flush_ms <= 0)
        lg->opt.flush_ms = 5000;
    pthread_mutex_init(&lg->mu, NULL);
    pthread_mutex_init(&lg->wmu, NULL);
    pthread_cond_init(&lg->cv, NULL);
    l.lg = lg;
    if ((rc = owl_meta_list(meta, NULL, KIND_GROUP, NULL, 0, load_group, &l, err)) != OWL_OK)
        goto fail;
    if ((rc = l.rc) != OWL_OK)
        goto oom;
    sl.l = &l;
    sl.map = malloc((lg->n ? lg->n : 1) * sizeof *sl.map);
    if (!sl.map)
        goto oom;
    for (size_t i = 0; i < lg->n; i++)
        sl.map[i] = (pidmap){lg->g[i]->pid, lg->g[i]};
    sl.nmap = lg->n;
    qsort(sl.map, sl.nmap, sizeof *sl.map, pidcmp);
    if ((rc = owl_meta_list(meta, NULL, KIND_STREAM, NULL, 0, load_stream, &sl, err)) != OWL_OK)
        goto fail;
    if ((rc = l.rc) != OWL_OK)
        goto oom;
    for (size_t i = 0; i < l.norphans; i++)
        if ((rc = owl_meta_delete(meta, l.orphans[i][0], KIND_STREAM, l.orphans[i][1], err)) !=
                OWL_OK &&
            rc != OWL_ENOTFOUND)
            goto fail;
    if (l.norphans)
        owl_info("logs: removed %zu stream records of deleted groups", l.norphans);
    l.norphans = 0;
    if ((rc = owl_meta_list(meta, NULL, KIND_MF, NULL, 0, load_mfilter, &sl, err)) != OWL_OK)
        goto fail;
    if ((rc = l.rc) != OWL_OK)
        goto oom;
    for (size_t i = 0; i < l.norphans; i++)
        if ((rc = owl_meta_delete(meta, l.orphans[i][0], KIND_MF, l.orphans[i][1], err)) !=
                OWL_OK &&
            rc != OWL_ENOTFOUND)
            goto fail;
    if (l.norphans)
        owl_info("logs: removed %zu metric filter records of deleted groups", l.norphans);
    if ((rc = sweep_partitions(store, sl.map, sl.nmap, err)) != OWL_OK)
        goto fail;
    if (lg->opt.background) {
        if (pthread_create(&lg->flusher, NULL, flusher, lg) != 0) {
            rc = owl_error_set(err, OWL_ENOMEM, "cannot start the logs flusher thread");
            goto fail;
        }
        lg->started = 1;
    }
    free(l.orphans);
    free(sl.map);
    *out = lg;
    return OWL_OK;
oom:
    rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
fail:
    free(l.orphans);
    free(sl.map);
    owl_logs_close(lg);
    return rc;
}

/* ---- lazy persistence of stream times ---- */

int owl_logs_flush(owl_logs *lg, owl_error *err)
{
    int rc = OWL_OK;
    pthread_mutex_lock(&lg->wmu);
    /* tenant runs: groups are sorted by tenant, so one meta write per tenant */
    size_t gi = 0;
    while (rc == OWL_OK) {
        char tenant[256] = "";
        size_t n = 0, cap = 0;
        char **ids = NULL;
        bson_t *docs = NULL;
        const bson_t **dp = NULL;
        pthread_mutex_lock(&lg->mu);
        for (; gi < lg->n; gi++) {
            lgroup *g = lg->g[gi];
            if (*tenant && strcmp(tenant, g->tenant) != 0)
                break;
            for (size_t i = 0; i < g->n; i++) {
                lstream *s = g->s[i];
                if (!s->dirty)
                    continue;
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 64;
                    char **ni = realloc(ids, nc * sizeof *ni);
                    if (ni)
                        ids = ni;
                    bson_t *nd = realloc(docs, nc * sizeof *nd);
                    if (nd)
                        docs = nd;
                    if (!ni || !nd)
                        break;
                    cap = nc;
                }
                owl_strlcpy(tenant, g->tenant, sizeof tenant);
                ids[n] = strdup(s->id);
                if (!ids[n])
                    break;
                stream_doc(s, &docs[n]);
                s->dirty = 0;
                n++;
            }
        }
        pthread_mutex_unlock(&lg->mu);
        if (n == 0) {
            free(ids);
            free(docs);
            if (gi >= lg->n)
                break;
            continue;
        }
        dp = malloc(n * sizeof *dp);
        if (!dp)
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        else {
            for (size_t i = 0; i < n; i++)
                dp[i] = &docs[i];
            rc = owl_meta_put_many(lg->meta, tenant, KIND_STREAM, n, (const char *const *)ids,
                                   dp, err);
        }
        if (rc != OWL_OK) { /* mark them again: the next flush retries */
            pthread_mutex_lock(&lg->mu);
            for (size_t i = 0; i < lg->n; i++)
                if (strcmp(lg->g[i]->tenant, tenant) == 0)
                    for (size_t j = 0; j < lg->g[i]->n; j++)
                        lg->g[i]->s[j]->dirty = 1;
            pthread_mutex_unlock(&lg->mu);
        }
        for (size_t i = 0; i < n; i++)
            free(ids[i]), bson_destroy(&docs[i]);
        free(ids);
        free(docs);
        free(dp);
    }
    pthread_mutex_unlock(&lg->wmu);
    return rc;
}

static void *flusher(void *arg)
{
    owl_logs *lg = arg;
    pthread_mutex_lock(&lg->mu);
    while (!lg->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += lg->opt.flush_ms / 1000;
        ts.tv_nsec += (long)(lg->opt.flush_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&lg->cv, &lg->mu, &ts);
        if (lg->stop)
            break;
        pthread_mutex_unlock(&lg->mu);
        owl_error err = {0};
        if (owl_logs_flush(lg, &err) != OWL_OK)
            owl_warn("logs: stream times not persisted (retried): %s", err.msg);
        pthread_mutex_lock(&lg->mu);
    }
    pthread_mutex_unlock(&lg->mu);
    return NULL;
}

void owl_logs_close(owl_logs *lg)
{
    if (!lg)
        return;
    if (lg->started) {
        pthread_mutex_lock(&lg->mu);
        lg->stop = 1;
        pthread_cond_signal(&lg->cv);
        pthread_mutex_unlock(&lg->mu);
        pthread_join(lg->flusher, NULL);
    }
    owl_error err = {0};
    if (owl_logs_flush(lg, &err) != OWL_OK)
        owl_warn("logs: stream times not persisted at close: %s", err.msg);
    for (size_t i = 0; i < lg->n; i++)
        group_free(lg->g[i]);
    free(lg->g);
    pthread_mutex_destroy(&lg->mu);
    pthread_mutex_destroy(&lg->wmu);
    pthread_cond_destroy(&lg->cv);
    free(lg);
}

/* ---- groups ---- */

static int no_group(owl_error *err)
{
    return owl_error_set(err, OWL_ENOTFOUND, "The specified log group does not exist.");
}

static int no_stream(owl_error *err)
{
    return owl_error_set(err, OWL_ENOTFOUND, "The specified log stream does not exist.");
}

/* CloudWatch's tag rules, the same for log groups as for alarms (analytics/). */
static int check_tags(const char *const *keys, const char *const *values, size_t n,
                      owl_error *err)
{
    owl_tag t[OWL_LOGS_MAX_TAGS];
    if (n > OWL_LOGS_MAX_TAGS)
        return owl_error_set(err, OWL_EINVAL, "A log group can have at most %d tags",
                             OWL_LOGS_MAX_TAGS);
    for (size_t i = 0; i < n; i++)
        t[i] = (owl_tag){keys[i], values ? values[i] : ""};
    return owl_alarm_tags_check(t, n, err);
}

/* tags of t with keys[i] = values[i] set into *out (initialised here). */
static void tags_merge(const bson_t *t, const char *const *keys, const char *const *values,
                       size_t n, bson_t *out)
{
    bson_init(out);
    bson_iter_t it;
    if (t && bson_iter_init(&it, t))
        while (bson_iter_next(&it)) {
            int replaced = 0;
            for (size_t i = 0; i < n && !replaced; i++)
                replaced = strcmp(keys[i], bson_iter_key(&it)) == 0;
            if (!replaced)
                bson_append_iter(out, NULL, 0, &it);
        }
    for (size_t i = 0; i < n; i++) {
        int later = 0; /* a key given twice: the last value wins */
        for (size_t j = i + 1; j < n && !later; j++)
            later = strcmp(keys[i], keys[j]) == 0;
        if (!later)
            BSON_APPEND_UTF8(out, keys[i], values[i]);
    }
}

static int new_pid(char out[24], owl_error *err)
{
    unsigned char r[8];
    if (owl_random(r, sizeof r) != OWL_OK)
        return owl_error_set(err, OWL_EIO, "no randomness available");
    out[0] = 'g';
    owl_hex(r, sizeof r, out + 1);
    out[17] = 0;
    return OWL_OK;
}

int owl_logs_create_group(owl_logs *lg, const char *tenant, const char *name,
                          const char *const *keys, const char *const *values, size_t ntags,
                          owl_error *err)
{
    if (!owl_logs_group_name_ok(name))
        return owl_error_set(err, OWL_EINVAL,
                             "Log group name must be 1 to 512 characters of [.-_/#A-Za-z0-9]");
    if (ntags > OWL_LOGS_MAX_TAGS)
        return owl_error_set(err, OWL_EINVAL, "A log group can have at most %d tags",
                             OWL_LOGS_MAX_TAGS);
    int rc = check_tags(keys, values, ntags, err);
    if (rc != OWL_OK)
        return rc;
    lgroup *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(name))) {
        free(g);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    owl_strlcpy(g->tenant, tenant, sizeof g->tenant);
    g->created = owl_now_ms();
    tags_merge(NULL, keys, values, ntags, &g->tags);
    bson_t doc;
    bson_init(&doc);
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    int found;
    gfind(lg, tenant, name, &found);
    size_t have = tenant_groups(lg, tenant);
    pthread_mutex_unlock(&lg->mu);
    if (found) {
        rc = owl_error_set(err, OWL_EEXISTS, "The specified log group already exists");
        goto out;
    }
    if (have >= lg->opt.max_groups) {
        rc = owl_error_set(err, OWL_ERANGE, "Resource limit exceeded: at most %zu log groups",
                           lg->opt.max_groups);
        goto out;
    }
    if ((rc = new_pid(g->pid, err)) != OWL_OK)
        goto out;
    bson_destroy(&doc);
    group_doc(g, &doc);
    if ((rc = owl_meta_put(lg->meta, tenant, KIND_GROUP, g->pid, &doc, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&lg->mu);
    size_t at = gfind(lg, tenant, name, &found);
    rc = insert_at((void ***)&lg->g, &lg->n, &lg->cap, at, g);
    pthread_mutex_unlock(&lg->mu);
    if (rc != OWL_OK) {
        owl_meta_delete(lg->meta, tenant, KIND_GROUP, g->pid, NULL);
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    g = NULL;
out:
    pthread_mutex_unlock(&lg->wmu);
    bson_destroy(&doc);
    group_free(g);
    return rc;
}

int owl_logs_delete_group(owl_logs *lg, const char *tenant, const char *name, owl_error *err)
{
    int rc;
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, name);
    pthread_mutex_unlock(&lg->mu);
    if (!g) {
        rc = no_group(err);
        goto out;
    }
    /* the group record first: once it is gone the group is, whatever follows */
    if ((rc = owl_meta_delete(lg->meta, tenant, KIND_GROUP, g->pid, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&lg->mu);
    int found;
    size_t at = gfind(lg, tenant, name, &found);
    remove_at((void **)lg->g, &lg->n, at);
    pthread_mutex_unlock(&lg->mu);
    /* nothing else can reach g now (every change holds wmu, readers look it up under mu) */
    for (size_t i = 0; i < g->n; i++)
        if (owl_meta_delete(lg->meta, tenant, KIND_STREAM, g->s[i]->id, NULL) != OWL_OK)
            break; /* the rest are orphans, removed at the next open */
    for (size_t i = 0; g->mf && i < g->mf->n; i++)
        if (owl_meta_delete(lg->meta, tenant, KIND_MF, g->mf->f[i]->id, NULL) != OWL_OK)
            break; /* the same */
    owl_error e2 = {0};
    int drc = owl_store_drop_partition(lg->store, "logs", tenant, g->pid, &e2);
    if (drc != OWL_OK && drc != OWL_ENOTFOUND) /* none: nothing was ever put */
        owl_warn("logs: the events of deleted group %s (%s) not dropped (dropped at the next "
                 "open): %s", name, g->pid, e2.msg);
    group_free(g);
out:
    pthread_mutex_unlock(&lg->wmu);
    return rc;
}

static void group_info(const lgroup *g, owl_logs_group *o)
{
    owl_strlcpy(o->name, g->name, sizeof o->name);
    owl_strlcpy(o->partition, g->pid, sizeof o->partition);
    o->created_ms = g->created;
    o->retention_days = g->retention;
    o->stored_bytes = 0;
    o->metric_filters = g->mf ? g->mf->n : 0;
}

/* stored_bytes of v[0..n) from the store's per-partition figures (parts on disk plus
 * memtables; a group nothing was put into has none). */
static int fill_bytes(owl_logs *lg, const char *tenant, owl_logs_group *v, size_t n,
                      owl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t stored = 0, rows = 0;
        int rc = owl_store_partition_bytes(lg->store, "logs", tenant, v[i].partition, &stored,
                                           &rows, err);
        if (rc != OWL_OK && rc != OWL_ENOTFOUND)
            return rc;
        v[i].stored_bytes = rc == OWL_OK ? stored : 0;
    }
    return OWL_OK;
}

int owl_logs_get_group(owl_logs *lg, const char *tenant, const char *name, owl_logs_group *out,
                       owl_error *err)
{
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, name);
    if (g)
        group_info(g, out);
    pthread_mutex_unlock(&lg->mu);
    if (!g)
        return no_group(err);
    return fill_bytes(lg, tenant, out, 1, err);
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

int owl_logs_list_groups(owl_logs *lg, const char *tenant, const char *prefix,
                         const char *pattern, const char *after, size_t limit,
                         owl_logs_group *out, size_t *n, int *more, owl_error *err)
{
    *n = 0;
    *more = 0;
    pthread_mutex_lock(&lg->mu);
    int found;
    size_t i = gfind(lg, tenant, after ? after : "", &found);
    if (found)
        i++;
    for (; i < lg->n && strcmp(lg->g[i]->tenant, tenant) == 0; i++) {
        const lgroup *g = lg->g[i];
        if (prefix && strncmp(g->name, prefix, strlen(prefix)) != 0) {
            if (strcmp(g->name, prefix) > 0)
                break; /* sorted: no later name has the prefix */
            continue;
        }
        if (pattern && !contains_ci(g->name, pattern))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        group_info(g, &out[(*n)++]);
    }
    pthread_mutex_unlock(&lg->mu);
    return fill_bytes(lg, tenant, out, *n, err);
}

/* Rewrites the group record with a change made by fn under wmu; memory changes only once
 * the record is durable. */
static int group_update(owl_logs *lg, const char *tenant, const char *name,
                        void (*fn)(lgroup *tmp, void *ud), void *ud, char *pid,
                        owl_error *err)
{
    int rc;
    bson_t doc;
    bson_init(&doc);
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, name);
    lgroup tmp;
    if (g) {
        tmp = *g;
        bson_copy_to(&g->tags, &tmp.tags);
    }
    pthread_mutex_unlock(&lg->mu);
    if (!g) {
        rc = no_group(err);
        goto out;
    }
    fn(&tmp, ud);
    if (bson_count_keys(&tmp.tags) > OWL_LOGS_MAX_TAGS) {
        bson_destroy(&tmp.tags);
        rc = owl_error_set(err, OWL_EINVAL, "A log group can have at most %d tags",
                           OWL_LOGS_MAX_TAGS);
        goto out;
    }
    bson_destroy(&doc);
    group_doc(&tmp, &doc);
    rc = owl_meta_put(lg->meta, tenant, KIND_GROUP, g->pid, &doc, err);
    pthread_mutex_lock(&lg->mu);
    if (rc == OWL_OK) {
        g->retention = tmp.retention;
        bson_destroy(&g->tags);
        bson_copy_to(&tmp.tags, &g->tags);
        bson_destroy(&tmp.tags);
        if (pid)
            owl_strlcpy(pid, g->pid, 24);
    } else {
        bson_destroy(&tmp.tags);
    }
    pthread_mutex_unlock(&lg->mu);
out:
    pthread_mutex_unlock(&lg->wmu);
    bson_destroy(&doc);
    return rc;
}

static void set_ret(lgroup *t, void *ud)
{
    t->retention = *(int *)ud;
}

int owl_logs_set_retention(owl_logs *lg, const char *tenant, const char *name, int days,
                           owl_error *err)
{
    if (days != 0 && !owl_logs_retention_ok(days))
        return owl_error_set(err, OWL_EINVAL,
                             "1 validation error detected: Value '%d' at 'retentionInDays' "
                             "failed to satisfy constraint: Member must satisfy enum value set: "
                             "[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
                             "1096, 1827, 2192, 2557, 2922, 3288, 3653]",
                             days);
    char pid[24];
    int rc = group_update(lg, tenant, name, set_ret, &days, pid, err);
    if (rc != OWL_OK)
        return rc;
    /* the store's retention after the record: a crash between the two is repaired by the
     * next PutRetentionPolicy; reads check nothing else */
    return owl_store_set_retention(lg->store, "logs", tenant, pid, days, err);
}

typedef struct tagchange {
    const char *const *keys, *const *values;
    size_t n;
} tagchange;

static void add_tags(lgroup *t, void *ud)
{
    tagchange *c = ud;
    bson_t merged;
    tags_merge(&t->tags, c->keys, c->values, c->n, &merged);
    bson_destroy(&t->tags);
    bson_copy_to(&merged, &t->tags);
    bson_destroy(&merged);
}

static void drop_tags(lgroup *t, void *ud)
{
    tagchange *c = ud;
    bson_t kept;
    bson_init(&kept);
    bson_iter_t it;
    if (bson_iter_init(&it, &t->tags))
        while (bson_iter_next(&it)) {
            int gone = 0;
            for (size_t i = 0; i < c->n && !gone; i++)
                gone = strcmp(c->keys[i], bson_iter_key(&it)) == 0;
            if (!gone)
                bson_append_iter(&kept, NULL, 0, &it);
        }
    bson_destroy(&t->tags);
    bson_copy_to(&kept, &t->tags);
    bson_destroy(&kept);
}

int owl_logs_tag(owl_logs *lg, const char *tenant, const char *name, const char *const *keys,
                 const char *const *values, size_t n, owl_error *err)
{
    int rc = check_tags(keys, values, n, err);
    if (rc != OWL_OK)
        return rc;
    tagchange c = {keys, values, n};
    return group_update(lg, tenant, name, add_tags, &c, NULL, err);
}

int owl_logs_untag(owl_logs *lg, const char *tenant, const char *name,
                   const char *const *keys, size_t n, owl_error *err)
{
    tagchange c = {keys, NULL, n};
    return group_update(lg, tenant, name, drop_tags, &c, NULL, err);
}

int owl_logs_tags(owl_logs *lg, const char *tenant, const char *name, bson_t *out,
                  owl_error *err)
{
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, name);
    if (g)
        bson_copy_to(&g->tags, out);
    pthread_mutex_unlock(&lg->mu);
    return g ? OWL_OK : no_group(err);
}

/* ---- streams ---- */

/* Creates stream name in g (looked up again by (tenant, group) under the locks); with
 * exist_ok an existing stream is success. Caller holds wmu, not mu. */
static int stream_create_locked(owl_logs *lg, const char *tenant, const char *group,
                                const char *name, int exist_ok, owl_error *err)
{
    int rc = OWL_OK;
    lstream *s = calloc(1, sizeof *s);
    bson_t doc;
    bson_init(&doc);
    if (!s || !(s->name = strdup(name))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    int found = 0;
    if (g) {
        sfind(g, name, &found);
        snprintf(s->id, sizeof s->id, "%s.%016" PRIx64, g->pid, g->next_seq);
    }
    size_t have = g ? g->n : 0;
    pthread_mutex_unlock(&lg->mu);
    if (!g) {
        rc = no_group(err);
        goto out;
    }
    if (found) {
        if (!exist_ok)
            rc = owl_error_set(err, OWL_EEXISTS, "The specified log stream already exists");
        goto out;
    }
    if (have >= lg->opt.max_streams) {
        rc = owl_error_set(err, OWL_ERANGE,
                           "Resource limit exceeded: at most %zu log streams in a log group",
                           lg->opt.max_streams);
        goto out;
    }
    s->created = owl_now_ms();
    bson_destroy(&doc);
    stream_doc(s, &doc);
    if ((rc = owl_meta_put(lg->meta, tenant, KIND_STREAM, s->id, &doc, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&lg->mu);
    size_t at = sfind(g, name, &found);
    rc = insert_at((void ***)&g->s, &g->n, &g->cap, at, s);
    if (rc == OWL_OK)
        g->next_seq++;
    pthread_mutex_unlock(&lg->mu);
    if (rc != OWL_OK) {
        owl_meta_delete(lg->meta, tenant, KIND_STREAM, s->id, NULL);
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    s = NULL;
out:
    bson_destroy(&doc);
    stream_free(s);
    return rc;
}

int owl_logs_create_stream(owl_logs *lg, const char *tenant, const char *group,
                           const char *name, owl_error *err)
{
    if (!owl_logs_stream_name_ok(name))
        return owl_error_set(err, OWL_EINVAL,
                             "Log stream name must be 1 to 512 characters, without ':' or '*'");
    pthread_mutex_lock(&lg->wmu);
    int rc = stream_create_locked(lg, tenant, group, name, 0, err);
    pthread_mutex_unlock(&lg->wmu);
    return rc;
}

int owl_logs_delete_stream(owl_logs *lg, const char *tenant, const char *group,
                           const char *name, owl_error *err)
{
    int rc = OWL_OK;
    char id[48];
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    lstream *s = g ? stream_get(g, name) : NULL;
    if (s)
        owl_strlcpy(id, s->id, sizeof id);
    pthread_mutex_unlock(&lg->mu);
    if (!g)
        rc = no_group(err);
    else if (!s)
        rc = no_stream(err);
    else if ((rc = owl_meta_delete(lg->meta, tenant, KIND_STREAM, id, err)) == OWL_OK) {
        pthread_mutex_lock(&lg->mu);
        int found;
        size_t at = sfind(g, name, &found);
        remove_at((void **)g->s, &g->n, at);
        pthread_mutex_unlock(&lg->mu);
        stream_free(s);
    }
    pthread_mutex_unlock(&lg->wmu);
    return rc;
}

static void stream_info(const lstream *s, owl_logs_stream *o)
{
    owl_strlcpy(o->name, s->name, sizeof o->name);
    o->created_ms = s->created;
    o->first_event_ms = s->first;
    o->last_event_ms = s->last;
    o->last_ingest_ms = s->ingest;
    o->upload_seq = s->seq;
}

/* Order of streams for listing: by name, or by (last event, name). */
typedef struct skey {
    int64_t last;
    const lstream *s;
} skey;

static int skey_cmp(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return strcmp(x->s->name, y->s->name);
}

/* A listing token: "n:" name, or "t:" last-event ms ":" name (stream names hold no ':'). */
static int parse_token(const char *tok, enum owl_logs_order order, int64_t *last,
                       const char **name)
{
    if (order == OWL_LOGS_BY_NAME) {
        if (strncmp(tok, "n:", 2) != 0)
            return OWL_EINVAL;
        *name = tok + 2;
        return OWL_OK;
    }
    char *end;
    if (strncmp(tok, "t:", 2) != 0)
        return OWL_EINVAL;
    *last = strtoll(tok + 2, &end, 10);
    if (*end != ':')
        return OWL_EINVAL;
    *name = end + 1;
    return OWL_OK;
}

int owl_logs_list_streams(owl_logs *lg, const char *tenant, const char *group,
                          const char *prefix, enum owl_logs_order order, int descending,
                          const char *after, size_t limit, owl_logs_stream *out, size_t *n,
                          char next[OWL_LOGS_TOKEN_MAX], owl_error *err)
{
    int64_t alast = 0;
    const char *aname = NULL;
    char tok[OWL_LOGS_TOKEN_MAX];
    *n = 0;
    if (after) { /* after may be the caller's next: read it before next is written */
        if (strlen(after) >= sizeof tok)
            return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
        memcpy(tok, after, strlen(after) + 1);
        after = tok;
    }
    next[0] = 0;
    if (prefix && order != OWL_LOGS_BY_NAME)
        return owl_error_set(err, OWL_EINVAL,
                             "Cannot order by LastEventTime with a logStreamNamePrefix.");
    if (after && parse_token(after, order, &alast, &aname) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
    int rc = OWL_OK;
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    skey *v = g ? malloc((g->n ? g->n : 1) * sizeof *v) : NULL;
    if (!g)
        rc = no_group(err);
    else if (!v)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc != OWL_OK)
        goto out;
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!prefix || strncmp(g->s[i]->name, prefix, strlen(prefix)) == 0)
            v[m++] = (skey){order == OWL_LOGS_BY_NAME ? 0 : g->s[i]->last, g->s[i]};
    if (order != OWL_LOGS_BY_NAME)
        qsort(v, m, sizeof *v, skey_cmp);
    lstream tokstream = {.name = (char *)(aname ? aname : "")};
    skey tk = {alast, &tokstream};
    for (size_t k = 0; k < m; k++) {
        size_t i = descending ? m - 1 - k : k;
        if (aname) {
            int c = skey_cmp(&v[i], &tk);
            if (descending ? c >= 0 : c <= 0)
                continue;
        }
        if (*n == limit) {
            const skey *l = &v[descending ? i + 1 : i - 1];
            if (order == OWL_LOGS_BY_NAME)
                snprintf(next, OWL_LOGS_TOKEN_MAX, "n:%s", l->s->name);
            else
                snprintf(next, OWL_LOGS_TOKEN_MAX, "t:%" PRId64 ":%s", l->last, l->s->name);
            break;
        }
        stream_info(v[i].s, &out[(*n)++]);
    }
out:
    pthread_mutex_unlock(&lg->mu);
    free(v);
    return rc;
}

/* ---- PutLogEvents ---- */

/* Appends m to b with every byte of an invalid sequence replaced by U+FFFD; 1 when m was
 * valid (nothing appended then), 0 when the fixed copy is in b. */
static int utf8_fix(owl_bytes m, owl_buf *b, int *oom)
{
    if (owl_log_decoded_utf8_ok(m.p, m.n))
        return 1;
    owl_buf_reset(b);
    *oom = owl_log_decoded_utf8(m.p, m.n, b) != OWL_OK;
    return 0;
}

/* The whole-batch rules: OWL_OK or OWL_EINVAL with CloudWatch's text. */
static int batch_check(const owl_log_event *ev, size_t n, unsigned flags, owl_error *err)
{
    if (flags & OWL_LOGS_ANY_BATCH) { /* only the order: the rest is left out event by event */
        for (size_t i = 1; i < n; i++)
            if (ev[i].time_ms < ev[i - 1].time_ms)
                return owl_error_set(err, OWL_EINVAL,
                                     "Log events in a single PutLogEvents request must be in "
                                     "chronological order.");
        return OWL_OK;
    }
    if (n == 0)
        return owl_error_set(err, OWL_EINVAL,
                             "1 validation error detected: Value '[]' at 'logEvents' failed "
                             "to satisfy constraint: Member must have length greater than or "
                             "equal to 1");
    if (n > OWL_LOGS_MAX_BATCH_EVENTS)
        return owl_error_set(err, OWL_EINVAL,
                             "1 validation error detected: Value at 'logEvents' failed to "
                             "satisfy constraint: Member must have length less than or equal "
                             "to %d",
                             OWL_LOGS_MAX_BATCH_EVENTS);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].message.n == 0)
            return owl_error_set(err, OWL_EINVAL,
                                 "1 validation error detected: Value '' at "
                                 "'logEvents.%zu.member.message' failed to satisfy constraint: "
                                 "Member must have length greater than or equal to 1",
                                 i + 1);
        uint64_t one = ev[i].message.n + OWL_LOGS_EVENT_OVERHEAD;
        if (one > OWL_LOGS_MAX_EVENT_BYTES)
            return owl_error_set(err, OWL_EINVAL, "Log event too large: %" PRIu64
                                 " bytes exceeds limit of %d",
                                 one, OWL_LOGS_MAX_EVENT_BYTES);
        bytes += one;
        if (i && ev[i].time_ms < ev[i - 1].time_ms)
            return owl_error_set(err, OWL_EINVAL,
                                 "Log events in a single PutLogEvents request must be in "
                                 "chronological order.");
    }
    if (bytes > OWL_LOGS_MAX_BATCH_BYTES)
        return owl_error_set(err, OWL_EINVAL,
                             "Upload too large: %" PRIu64 " bytes exceeds limit of %d", bytes,
                             OWL_LOGS_MAX_BATCH_BYTES);
    return OWL_OK;
}

/* Looks up the stream for a put (creating group and stream with OWL_LOGS_CREATE); copies
 * what the append needs. */
static int put_target(owl_logs *lg, const char *tenant, const char *group, const char *stream,
                      unsigned flags, char pid[24], int *retention, owl_error *err)
{
    for (int pass = 0;; pass++) {
        pthread_mutex_lock(&lg->mu);
        lgroup *g = group_get(lg, tenant, group);
        lstream *s = g ? stream_get(g, stream) : NULL;
        if (s) {
            owl_strlcpy(pid, g->pid, 24);
            *retention = g->retention;
        }
        pthread_mutex_unlock(&lg->mu);
        if (s)
            return OWL_OK;
        if (!(flags & OWL_LOGS_CREATE) || pass)
            return g ? no_stream(err) : no_group(err);
        int rc;
        if (!g && (rc = owl_logs_create_group(lg, tenant, group, NULL, NULL, 0, err)) != OWL_OK &&
            rc != OWL_EEXISTS)
            return rc;
        if (!owl_logs_stream_name_ok(stream))
            return owl_error_set(err, OWL_EINVAL, "Log stream name must be 1 to 512 "
                                                  "characters, without ':' or '*'");
        pthread_mutex_lock(&lg->wmu);
        rc = stream_create_locked(lg, tenant, group, stream, 1, err);
        pthread_mutex_unlock(&lg->wmu);
        if (rc != OWL_OK)
            return rc;
    }
}

/* Which events of a checked batch are kept: [*lo, *hi), and what was refused in *res. */
static void classify(const owl_log_event *ev, size_t n, int retention, int64_t now,
                     owl_logs_put_result *res, size_t *lo, size_t *hi)
{
    size_t old_end = 0, exp_end = 0, new_start = n;
    while (old_end < n && ev[old_end].time_ms < now - TOO_OLD_MS)
        old_end++;
    if (retention > 0)
        while (exp_end < n && ev[exp_end].time_ms < now - (int64_t)retention * DAY_MS)
            exp_end++;
    while (new_start > 0 && ev[new_start - 1].time_ms > now + TOO_NEW_MS)
        new_start--;
    res->too_old_end = old_end ? (long)old_end : -1;
    res->expired_end = exp_end ? (long)exp_end : -1;
    res->too_new_start = new_start < n ? (long)new_start : -1;
    *lo = old_end > exp_end ? old_end : exp_end;
    *hi = new_start < *lo ? *lo : new_start;
}

/* An event the rules let through one by one: not empty, within OWL_LOGS_MAX_EVENT_BYTES. */
static int storable(const owl_log_event *e)
{
    return e->message.n > 0 && e->message.n + OWL_LOGS_EVENT_OVERHEAD <= OWL_LOGS_MAX_EVENT_BYTES;
}

static int append_rows(owl_logs *lg, const char *tenant, const char *pid, const char *stream,
                       const owl_log_event *ev, size_t n, int64_t ingest, unsigned flags,
                       owl_error *err)
{
    /* the rows' columns point at the events' bytes (copied once, into the WAL record and the
     * memtable); only a message with invalid UTF-8 is copied here, fixed (OWL_LOGS_UTF8: the
     * caller checked, the messages go as they are) */
    static const uint8_t zero[16];
    const owl_schema *sc = &owl_logs_schema;
    if (!n)
        return OWL_OK;
    owl_cell *cells = malloc(n * sc->ncols * sizeof *cells);
    owl_arena fixed;
    owl_arena_init(&fixed, 64 << 10);
    owl_buf one = OWL_BUF_INIT;
    if (!cells)
        return owl_error_set(err, OWL_ENOMEM, "cannot build the rows: out of memory");
    owl_rows rows = {0};
    owl_cell *col[OWL_LOGS_NCOLS];
    for (size_t c = 0; c < sc->ncols; c++)
        rows.cols[c] = col[c] = cells + c * n;
    const owl_cell dflt[] = {
        [OWL_LOGS_SEVERITY] = owl_col_default(OWL_TYPE_DICT),
        [OWL_LOGS_TRACE_ID] = owl_col_default(OWL_TYPE_ID16),
        [OWL_LOGS_SPAN_ID] = owl_col_default(OWL_TYPE_ID8),
        [OWL_LOGS_ATTRS] = owl_col_default(OWL_TYPE_BSON),
    };
    const owl_bytes sb = {stream, strlen(stream)}; /* one pointer: the memtable keeps one copy */
    int rc = OWL_OK, oom = 0;
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        const owl_log_event *e = &ev[i];
        owl_bytes m = e->message;
        if (!storable(e))
            continue; /* OWL_LOGS_ANY_BATCH: left out (batch_check refused it otherwise) */
        if (!(flags & OWL_LOGS_UTF8) && !utf8_fix(m, &one, &oom) && !oom) {
            void *c = owl_arena_copy(&fixed, one.data, one.len);
            oom = !c;
            m = (owl_bytes){c, one.len};
        }
        if (oom) {
            rc = OWL_ENOMEM;
            break;
        }
        col[OWL_LOGS_TIME][r].i = e->time_ms;
        col[OWL_LOGS_INGEST_TIME][r].i = ingest;
        col[OWL_LOGS_STREAM][r].b = sb;
        col[OWL_LOGS_MESSAGE][r].b = m;
        col[OWL_LOGS_SEVERITY][r] = e->severity.n ? (owl_cell){.b = e->severity}
                                                  : dflt[OWL_LOGS_SEVERITY];
        col[OWL_LOGS_TRACE_ID][r] = memcmp(e->trace_id, zero, 16)
                                        ? (owl_cell){.b = {e->trace_id, 16}}
                                        : dflt[OWL_LOGS_TRACE_ID];
        col[OWL_LOGS_SPAN_ID][r] = memcmp(e->span_id, zero, 8) ? (owl_cell){.b = {e->span_id, 8}}
                                                               : dflt[OWL_LOGS_SPAN_ID];
        col[OWL_LOGS_ATTRS][r] = e->attrs.n ? (owl_cell){.b = e->attrs} : dflt[OWL_LOGS_ATTRS];
        r++;
    }
    rows.nrows = r;
    if (rc != OWL_OK)
        rc = owl_error_set(err, rc, "cannot build the rows: %s", owl_strerror(rc));
    else
        rc = owl_store_append(lg->store, "logs", tenant, pid, &rows, err);
    free(cells);
    owl_arena_free(&fixed);
    owl_buf_free(&one);
    return rc;
}

/* Runs the stored events ev[0..n) (those storable) through the group's filters f[0..n) and
 * writes what they give with one owl_metrics_put. The events are stored already, so a failure
 * here is logged and the put still succeeds: the datapoints of this batch are lost, as a
 * CloudWatch metric filter's may be (backfill can write them again). */
static void apply_filters(owl_logs *lg, const char *tenant, const char *group, const mfset *mf,
                          const owl_log_event *ev, size_t n, int64_t now)
{
    owl_mf_agg *a = owl_mf_agg_new(mf->f, mf->n);
    const owl_datum *d;
    size_t nd = 0;
    int rc = a ? OWL_OK : OWL_ENOMEM;
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        if (storable(&ev[i]) &&
            owl_mf_agg_event(a, ev[i].time_ms, ev[i].message.p, ev[i].message.n) < 0)
            rc = OWL_ENOMEM;
    if (rc == OWL_OK)
        rc = owl_mf_agg_datums(a, now, &d, &nd);
    owl_error e = {0};
    enum owl_metric_fault fault;
    if (rc == OWL_OK && nd)
        rc = owl_metrics_put(lg->metrics, tenant, d, nd, 0, now, &fault, &e);
    if (rc != OWL_OK)
        owl_warn("logs: metric filters of group %s: %zu datapoints not written: %s", group, nd,
                 e.msg[0] ? e.msg : owl_strerror(rc));
    owl_mf_agg_free(a);
}

void owl_logs_set_sink(owl_logs *lg, owl_logs_sink_fn fn, void *ud)
{
    lg->sink = fn;
    lg->sink_ud = ud;
}

/* Tells the sink of ev[0..n) (stored at ingest) in runs of the events that were kept. */
static void tell_sink(owl_logs *lg, const char *tenant, const char *group, const char *stream,
                      const owl_log_event *ev, size_t n, int64_t ingest)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && storable(&ev[j]))
            j++;
        if (j > i)
            lg->sink(lg->sink_ud, tenant, group, stream, ev + i, j - i, ingest);
        i = j + 1;
    }
}

int owl_logs_put(owl_logs *lg, const char *tenant, const char *group, const char *stream,
                 const owl_log_event *ev, size_t n, unsigned flags, owl_logs_put_result *res,
                 owl_error *err)
{
    owl_logs_put_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    res->too_new_start = res->too_old_end = res->expired_end = -1;
    int rc = batch_check(ev, n, flags, err);
    if (rc != OWL_OK)
        return rc;
    char pid[24];
    int retention = 0;
    if ((rc = put_target(lg, tenant, group, stream, flags, pid, &retention, err)) != OWL_OK)
        return rc;
    int64_t now = owl_now_ms();
    size_t lo, hi;
    classify(ev, n, retention, now, res, &lo, &hi);
    if (!(flags & OWL_LOGS_ANY_BATCH) && hi > lo && ev[hi - 1].time_ms - ev[lo].time_ms > SPAN_MS)
        return owl_error_set(err, OWL_EINVAL,
                             "The batch of log events in a single PutLogEvents request cannot "
                             "span more than 24 hours.");
    /* the ingestion time is never before the stream's creation (invariant 3) */
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    lstream *s = g && strcmp(g->pid, pid) == 0 ? stream_get(g, stream) : NULL;
    if (s && s->created > now)
        now = s->created;
    mfset *mf = s && lg->metrics ? g->mf : NULL;
    if (mf)
        __atomic_add_fetch(&mf->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lg->mu);
    size_t keep = 0;
    for (size_t i = lo; i < hi; i++)
        keep += storable(&ev[i]);
    res->dropped = hi - lo - keep;
    if (keep && (rc = append_rows(lg, tenant, pid, stream, ev + lo, hi - lo, now, flags, err)) != OWL_OK) {
        mfset_unref(mf);
        return rc;
    }
    if (keep && lg->sink) /* durable and readable now (the live tail's promise) */
        tell_sink(lg, tenant, group, stream, ev + lo, hi - lo, now);
    if (keep && mf)
        apply_filters(lg, tenant, group, mf, ev + lo, hi - lo, now);
    mfset_unref(mf);
    res->stored = keep;
    pthread_mutex_lock(&lg->mu);
    g = group_get(lg, tenant, group);
    s = g && strcmp(g->pid, pid) == 0 ? stream_get(g, stream) : NULL;
    if (s) {
        if (keep) {
            if (!s->first || ev[lo].time_ms < s->first)
                s->first = ev[lo].time_ms;
            if (ev[hi - 1].time_ms > s->last)
                s->last = ev[hi - 1].time_ms;
            s->ingest = now;
        }
        s->seq++;
        s->dirty = 1;
        res->upload_seq = s->seq;
    }
    pthread_mutex_unlock(&lg->mu);
    return OWL_OK;
}

/* ---- reading events ---- */

void owl_logs_page_free(owl_logs_page *p)
{
    if (!p)
        return;
    free(p->ev);
    owl_buf_free(&p->text);
    memset(p, 0, sizeof *p);
}

/* A stream that may be read, as of the start of a read. */
typedef struct vis {
    const char *name; /* into names */
    int64_t created;
} vis;

static int vis_cmp(const void *a, const void *b)
{
    return strcmp(((const vis *)a)->name, ((const vis *)b)->name);
}

/* One group of a read across groups (owl_logs_trace_events): its partition, its name and
 * its streams that may be read. */
typedef struct rgroup {
    char pid[24];
    char *name;
    vis *v;
    size_t nv;
    char *strs;
} rgroup;

static int rgroup_cmp(const void *a, const void *b)
{
    return strcmp(((const rgroup *)a)->pid, ((const rgroup *)b)->pid);
}

/* The state of one paged scan. */
typedef struct reader {
    owl_logs_page *page;
    const vis *v;
    size_t nv;
    const rgroup *groups; /* a read across groups: sorted by pid; v and nv follow the batch's
                           * partition (NULL: one group's read, v and nv fixed) */
    size_t ngroups;
    const char *cur_part; /* the partition of the last batch and its group (NULL: none) */
    const rgroup *cur;
    const char *prefix;
    const owl_fpat *pat; /* FilterLogEvents' pattern, or NULL */
    size_t limit, bytes;
    int full; /* the page holds limit events or bytes: the next visible row sets more */
    const owl_scan_cursor *after;
    owl_scan_cursor pos, last; /* the scan's position; the cursor after the last row taken */
    int have_last;
    int oom;
    int64_t first_t; /* (time, key) of the first row taken and how many of it were taken */
    uint64_t first_k, first_count;
} reader;

static const vis *visible(const reader *r, const char *name, size_t len, int64_t ingest)
{
    char key[OWL_LOGS_NAME_MAX + 1];
    if (len > OWL_LOGS_NAME_MAX)
        return NULL;
    memcpy(key, name, len);
    key[len] = 0;
    vis k = {key, 0}, *f = bsearch(&k, r->v, r->nv, sizeof k, vis_cmp);
    if (!f || ingest < f->created)
        return NULL;
    if (r->prefix && strncmp(key, r->prefix, strlen(r->prefix)) != 0)
        return NULL;
    return f;
}

/* Columns every read asks for, in this order (the order key hashes their values). */
static const size_t read_cols[] = {OWL_LOGS_TIME,     OWL_LOGS_INGEST_TIME, OWL_LOGS_STREAM,
                                   OWL_LOGS_MESSAGE,  OWL_LOGS_SEVERITY,    OWL_LOGS_TRACE_ID,
                                   OWL_LOGS_SPAN_ID,  OWL_LOGS_ATTRS};

/* Writes v as exactly w decimal digits, zero-padded (v < 10^w). */
static void put_digits(char *p, uint64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
}

/* An event id: time, order key and rank as 20 + 20 + 6 digits (what "%020" PRId64 "%020"
 * PRIu64 "%06" PRIu64 gives, at a fraction of snprintf's cost: one per event read). */
static void event_id(char out[47], uint64_t t, uint64_t k, uint64_t rank)
{
    put_digits(out, t, 20);
    put_digits(out + 20, k, 20);
    put_digits(out + 40, rank, 6);
    out[46] = 0;
}

/* A read across groups: points r->v at the streams of the batch's partition's group; 0 when
 * the partition is no group's now (one a deleted group left for the store to drop). */
static int follow_group(reader *r, const char *partition)
{
    if (partition != r->cur_part) {
        rgroup k;
        owl_strlcpy(k.pid, partition, sizeof k.pid);
        r->cur = bsearch(&k, r->groups, r->ngroups, sizeof k, rgroup_cmp);
        r->cur_part = partition;
        if (r->cur)
            r->v = r->cur->v, r->nv = r->cur->nv;
    }
    return r->cur != NULL;
}

/* Appends s[0..n) and a NUL to the page's text; its offset in *off. */
static int put_text(owl_logs_page *pg, const void *s, size_t n, uintptr_t *off)
{
    *off = pg->text.len;
    int rc = owl_buf_append(&pg->text, s, n);
    return rc != OWL_OK ? rc : owl_buf_putc(&pg->text, 0);
}

static int take_row(void *ud, const owl_batch *b)
{
    reader *r = ud;
    owl_logs_page *pg = r->page;
    int in_group = !r->groups || follow_group(r, b->partition);
    for (size_t i = 0; i < b->nrows; i++) {
        int64_t t = b->cols[0][i].i, ingest = b->cols[1][i].i;
        uint64_t k = b->keys[i];
        /* the scan's position: rows of equal (time, key) are counted, the cursor's own
         * earlier rows included (owl_scan_cursor) */
        if (r->pos.count && r->pos.time == t && r->pos.key == k)
            r->pos.count++;
        else if (r->after && r->after->time == t && r->after->key == k)
            r->pos = (owl_scan_cursor){t, k, r->after->count + 1, r->after->order};
        else
            r->pos = (owl_scan_cursor){t, k, 1, r->pos.order};
        owl_bytes sn = b->cols[2][i].b, msg = b->cols[3][i].b;
        const vis *v = in_group ? visible(r, sn.p, sn.n, ingest) : NULL;
        if (!v || (r->pat && !owl_fpat_match(r->pat, msg.p, msg.n)))
            continue;
        if (r->full || pg->n == r->limit ||
            r->bytes + msg.n + OWL_LOGS_EVENT_OVERHEAD > OWL_LOGS_MAX_PAGE_BYTES) {
            pg->more = 1;
            return 1; /* stops the scan */
        }
        if (pg->n == pg->cap) {
            size_t nc = pg->cap ? pg->cap * 2 : 64;
            owl_logs_event *ne = realloc(pg->ev, nc * sizeof *ne);
            if (!ne) {
                r->oom = 1;
                return 1;
            }
            pg->ev = ne;
            pg->cap = nc;
        }
        owl_logs_event *e = &pg->ev[pg->n];
        memset(e, 0, sizeof *e);
        e->time_ms = t;
        e->ingest_ms = ingest;
        uintptr_t goff;
        if (r->groups) {
            if (put_text(pg, r->cur->name, strlen(r->cur->name), &goff) != OWL_OK) {
                r->oom = 1;
                return 1;
            }
            e->group = (const char *)goff;
        }
        /* offsets now; pointers once the text stops moving (fix_page) */
        e->stream = (const char *)(uintptr_t)pg->text.len;
        if (owl_buf_append(&pg->text, sn.p, sn.n) != OWL_OK ||
            owl_buf_putc(&pg->text, 0) != OWL_OK) {
            r->oom = 1;
            return 1;
        }
        e->message = (const char *)(uintptr_t)pg->text.len;
        e->message_len = msg.n;
        if (owl_buf_append(&pg->text, msg.p, msg.n) != OWL_OK ||
            owl_buf_putc(&pg->text, 0) != OWL_OK) {
            r->oom = 1;
            return 1;
        }
        owl_bytes sev = b->cols[4][i].b, tid = b->cols[5][i].b, sid = b->cols[6][i].b;
        e->severity = (const char *)(uintptr_t)pg->text.len;
        if (owl_buf_append(&pg->text, sev.p, sev.n) != OWL_OK ||
            owl_buf_putc(&pg->text, 0) != OWL_OK) {
            r->oom = 1;
            return 1;
        }
        if (tid.n == sizeof e->trace_id)
            memcpy(e->trace_id, tid.p, tid.n);
        if (sid.n == sizeof e->span_id)
            memcpy(e->span_id, sid.p, sid.n);
        owl_bytes at = b->cols[7][i].b;
        e->attrs = (const uint8_t *)(uintptr_t)pg->text.len;
        e->attrs_len = at.n;
        if (owl_buf_append(&pg->text, at.p, at.n) != OWL_OK) {
            r->oom = 1;
            return 1;
        }
        event_id(e->event_id, t < 0 ? 0 : (uint64_t)t, k, r->pos.count % 1000000);
        if (pg->n == 0)
            r->first_t = t, r->first_k = k, r->first_count = 0;
        if (t == r->first_t && k == r->first_k)
            r->first_count++;
        pg->n++;
        r->bytes += msg.n + OWL_LOGS_EVENT_OVERHEAD;
        r->last = r->pos;
        r->have_last = 1;
    }
    return 0;
}

/* Turns the page's text offsets into pointers (groups: the events carry their group's). */
static void fix_page(owl_logs_page *pg, int groups)
{
    for (size_t i = 0; i < pg->n; i++) {
        if (groups)
            pg->ev[i].group = pg->text.data + (uintptr_t)pg->ev[i].group;
        pg->ev[i].stream = pg->text.data + (uintptr_t)pg->ev[i].stream;
        pg->ev[i].message = pg->text.data + (uintptr_t)pg->ev[i].message;
        pg->ev[i].severity = pg->text.data + (uintptr_t)pg->ev[i].severity;
        pg->ev[i].attrs = (const uint8_t *)pg->text.data + (uintptr_t)pg->ev[i].attrs;
    }
}

/* Snapshot of the streams a read may return (all of g, or the names asked for). */
static int vis_snapshot(const lgroup *g, const char *const *names, size_t nnames, vis **out,
                        size_t *n, char **strs)
{
    size_t total = 0, cnt = 0;
    for (size_t i = 0; i < g->n; i++) {
        int want = !names;
        for (size_t j = 0; j < nnames && !want; j++)
            want = strcmp(names[j], g->s[i]->name) == 0;
        if (want)
            total += strlen(g->s[i]->name) + 1, cnt++;
    }
    vis *v = malloc((cnt ? cnt : 1) * sizeof *v);
    char *s = malloc(total ? total : 1);
    if (!v || !s) {
        free(v);
        free(s);
        return OWL_ENOMEM;
    }
    size_t k = 0, off = 0;
    for (size_t i = 0; i < g->n; i++) {
        int want = !names;
        for (size_t j = 0; j < nnames && !want; j++)
            want = strcmp(names[j], g->s[i]->name) == 0;
        if (!want)
            continue;
        size_t l = strlen(g->s[i]->name) + 1;
        memcpy(s + off, g->s[i]->name, l);
        v[k++] = (vis){s + off, g->s[i]->created};
        off += l;
    }
    *out = v;
    *n = cnt; /* g->s is sorted by name, so v is too */
    *strs = s;
    return OWL_OK;
}

/* Runs one ordered scan of partition pid (NULL: every logs partition of the tenant, r->groups
 * telling them apart) into r (limit events after `after`). */
static int run_scan(owl_logs *lg, const char *tenant, const char *pid, int64_t start,
                    int64_t end, enum owl_order order, const owl_pred *preds, size_t npreds,
                    reader *r, owl_error *err)
{
    /* the pattern's necessary condition prunes blocks; rows of equal (time, key) have equal
     * messages, so the positions counted in take_row are the same with or without it */
    const owl_filter *pf = r->pat ? owl_fpat_filter(r->pat, OWL_LOGS_MESSAGE) : NULL;
    const char *parts[] = {pid};
    r->pos = (owl_scan_cursor){0, 0, 0, order};
    owl_scan q = {.table = "logs", .tenant = tenant, .partitions = pid ? parts : NULL,
                  .npartitions = pid ? 1 : 0,
                  .start = start, .end = end, .cols = read_cols,
                  .ncols = OWL_ARRAY_LEN(read_cols), .preds = preds, .npreds = npreds,
                  .fn = take_row, .ud = r, .order = order, .after = r->after, .filter = pf};
    int rc = owl_store_scan(lg->store, &q, NULL, err);
    if (r->oom)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc == 1)
        rc = OWL_OK;
    if (rc == OWL_OK)
        fix_page(r->page, r->groups != NULL);
    return rc;
}

static void set_token(char *dst, char dir, const owl_scan_cursor *c)
{
    char t[OWL_SCAN_CURSOR_TEXT];
    owl_scan_cursor_format(c, t);
    snprintf(dst, OWL_SCAN_CURSOR_TEXT + 4, "%c/%s", dir, t);
}

/* Reverses a page gathered newest first. */
static void reverse(owl_logs_page *pg)
{
    for (size_t i = 0; i < pg->n / 2; i++) {
        owl_logs_event t = pg->ev[i];
        pg->ev[i] = pg->ev[pg->n - 1 - i];
        pg->ev[pg->n - 1 - i] = t;
    }
}

int owl_logs_get_events(owl_logs *lg, const char *tenant, const owl_logs_get *q,
                        owl_logs_page *out, owl_error *err)
{
    memset(out, 0, sizeof *out);
    owl_scan_cursor after;
    int have_after = 0, fwd = q->start_from_head;
    if (q->token) {
        if ((q->token[0] != 'f' && q->token[0] != 'b') || q->token[1] != '/')
            return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
        fwd = q->token[0] == 'f';
        if (strcmp(q->token + 2, "0") != 0) {
            if (owl_scan_cursor_parse(q->token + 2, &after) != OWL_OK ||
                after.order != (fwd ? OWL_ORDER_ASC : OWL_ORDER_DESC))
                return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
            have_after = 1;
        }
    }
    vis one;
    char pid[24];
    char sname[OWL_LOGS_NAME_MAX + 1];
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, q->group);
    lstream *s = g ? stream_get(g, q->stream) : NULL;
    if (s) {
        owl_strlcpy(pid, g->pid, sizeof pid);
        owl_strlcpy(sname, s->name, sizeof sname);
        one = (vis){sname, s->created};
    }
    pthread_mutex_unlock(&lg->mu);
    if (!g)
        return no_group(err);
    if (!s)
        return no_stream(err);
    owl_pred pred = {.col = OWL_LOGS_STREAM, .op = OWL_PRED_EQ,
                     .lo.b = {sname, strlen(sname)}};
    reader r = {.page = out, .v = &one, .nv = 1, .limit = q->limit,
                .after = have_after ? &after : NULL};
    int rc = run_scan(lg, tenant, pid, q->start_ms, q->end_ms,
                      fwd ? OWL_ORDER_ASC : OWL_ORDER_DESC, &pred, 1, &r, err);
    if (rc != OWL_OK) {
        owl_logs_page_free(out);
        return rc;
    }
    if (!fwd)
        reverse(out);
    if (out->n == 0) { /* the end: the token passed in, both ways */
        const char *same = q->token ? q->token : NULL;
        snprintf(out->forward, sizeof out->forward, "%s", same && fwd ? same : "f/0");
        snprintf(out->backward, sizeof out->backward, "%s", same && !fwd ? same : "b/0");
        if (same && fwd)
            snprintf(out->backward, sizeof out->backward, "b/0");
        return OWL_OK;
    }
    /* the scan's own direction is exact; the other end of the page is a cursor at its edge
     * row counting that row's copies in the page (exact unless the whole page is copies of
     * one event) */
    owl_scan_cursor edge = {r.first_t, r.first_k, r.first_count,
                            fwd ? OWL_ORDER_DESC : OWL_ORDER_ASC};
    set_token(fwd ? out->forward : out->backward, fwd ? 'f' : 'b', &r.last);
    set_token(fwd ? out->backward : out->forward, fwd ? 'b' : 'f', &edge);
    return OWL_OK;
}

/* EQ on the trace_id column: a block whose bloom filter lacks the id is not read. */
static owl_pred trace_pred(const uint8_t id[16])
{
    return (owl_pred){.col = OWL_LOGS_TRACE_ID, .op = OWL_PRED_EQ, .lo.b = {id, 16}};
}

/* A FilterLogEvents-style page's token: the cursor after its last event when more match. */
static void set_next(owl_logs_page *out, const reader *r)
{
    if (out->more && r->have_last) {
        char t[OWL_SCAN_CURSOR_TEXT];
        owl_scan_cursor_format(&r->last, t);
        snprintf(out->next, sizeof out->next, "%s", t);
    }
}

int owl_logs_filter_events(owl_logs *lg, const char *tenant, const owl_logs_filter *q,
                           owl_logs_page *out, owl_error *err)
{
    memset(out, 0, sizeof *out);
    if (q->streams && q->prefix)
        return owl_error_set(err, OWL_EINVAL,
                             "logStreamNames and logStreamNamePrefix are mutually exclusive");
    owl_scan_cursor after;
    if (q->token && (owl_scan_cursor_parse(q->token, &after) != OWL_OK ||
                     after.order != OWL_ORDER_ASC))
        return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
    owl_fpat *pat = NULL;
    if (q->pattern && *q->pattern) {
        owl_error pe = {0};
        int prc = owl_fpat_compile(q->pattern, strlen(q->pattern), &pat, &pe);
        if (prc != OWL_OK)
            return owl_error_set(err, prc, "Invalid filter pattern: %s", pe.msg);
    }
    vis *v = NULL;
    size_t nv = 0;
    char *strs = NULL, pid[24];
    int rc = OWL_OK;
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, q->group);
    if (g) {
        owl_strlcpy(pid, g->pid, sizeof pid);
        rc = vis_snapshot(g, q->streams, q->nstreams, &v, &nv, &strs);
    }
    pthread_mutex_unlock(&lg->mu);
    if (!g || rc != OWL_OK) {
        owl_fpat_free(pat);
        return !g ? no_group(err) : owl_error_set(err, rc, "out of memory");
    }
    owl_cell *set = NULL;
    owl_pred preds[2];
    size_t npreds = 0;
    if (q->streams) { /* prunes blocks by the stream's dictionary */
        set = malloc((nv ? nv : 1) * sizeof *set);
        if (!set) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nv; i++)
            set[i].b = (owl_bytes){v[i].name, strlen(v[i].name)};
        preds[npreds++] = (owl_pred){.col = OWL_LOGS_STREAM, .op = OWL_PRED_IN, .set = set,
                                     .nset = nv};
    }
    if (q->trace_id) /* prunes blocks by the trace_id column's bloom filter */
        preds[npreds++] = trace_pred(q->trace_id);
    if (nv == 0) /* none of the streams asked for exists: nothing to read */
        goto out;
    reader r = {.page = out, .v = v, .nv = nv, .prefix = q->prefix, .pat = pat,
                .limit = q->limit, .after = q->token ? &after : NULL};
    int64_t end = q->end_ms == INT64_MAX ? INT64_MAX : q->end_ms + 1;
    rc = run_scan(lg, tenant, pid, q->start_ms, end, OWL_ORDER_ASC, preds, npreds, &r, err);
    set_next(out, &r);
out:
    free(set);
    free(v);
    free(strs);
    owl_fpat_free(pat);
    if (rc != OWL_OK)
        owl_logs_page_free(out);
    return rc;
}

static void rgroups_free(rgroup *gs, size_t n)
{
    for (size_t i = 0; gs && i < n; i++) {
        free(gs[i].name);
        free(gs[i].v);
        free(gs[i].strs);
    }
    free(gs);
}

/* Snapshot of every group of tenant (*n of them in *out, sorted by partition). OWL_ENOMEM. */
static int rgroups_snapshot(owl_logs *lg, const char *tenant, rgroup **out, size_t *n)
{
    int found, rc = OWL_OK;
    *out = NULL, *n = 0;
    pthread_mutex_lock(&lg->mu);
    size_t first = gfind(lg, tenant, "", &found), cnt = tenant_groups(lg, tenant);
    rgroup *gs = calloc(cnt ? cnt : 1, sizeof *gs);
    for (size_t i = 0; gs && i < cnt && rc == OWL_OK; i++) {
        const lgroup *g = lg->g[first + i];
        owl_strlcpy(gs[i].pid, g->pid, sizeof gs[i].pid);
        gs[i].name = strdup(g->name);
        rc = gs[i].name ? vis_snapshot(g, NULL, 0, &gs[i].v, &gs[i].nv, &gs[i].strs)
                        : OWL_ENOMEM;
    }
    pthread_mutex_unlock(&lg->mu);
    if (!gs || rc != OWL_OK) {
        rgroups_free(gs, cnt);
        return OWL_ENOMEM;
    }
    qsort(gs, cnt, sizeof *gs, rgroup_cmp);
    *out = gs, *n = cnt;
    return OWL_OK;
}

int owl_logs_trace_events(owl_logs *lg, const char *tenant, const owl_logs_trace_q *q,
                          owl_logs_page *out, owl_error *err)
{
    memset(out, 0, sizeof *out);
    if (owl_traceid_is_zero(q->trace_id, sizeof q->trace_id))
        return owl_error_set(err, OWL_EINVAL, "the trace id is all zero");
    owl_scan_cursor after;
    if (q->token && (owl_scan_cursor_parse(q->token, &after) != OWL_OK ||
                     after.order != OWL_ORDER_ASC))
        return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
    rgroup *gs;
    size_t ng;
    if (rgroups_snapshot(lg, tenant, &gs, &ng) != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = OWL_OK;
    if (ng && q->start_ms < q->end_ms) {
        owl_pred pred = trace_pred(q->trace_id);
        reader r = {.page = out, .groups = gs, .ngroups = ng, .limit = q->limit,
                    .after = q->token ? &after : NULL};
        rc = run_scan(lg, tenant, NULL, q->start_ms, q->end_ms, OWL_ORDER_ASC, &pred, 1, &r,
                      err);
        set_next(out, &r);
    }
    rgroups_free(gs, ng);
    if (rc != OWL_OK)
        owl_logs_page_free(out);
    return rc;
}

/* ---- owl_logs_scan: every visible event of a group, unordered (Insights) ---- */

#define SCAN_BATCH 1024

typedef struct scanner {
    const owl_logs_scan_q *q;
    vis *v;
    size_t nv;
    const void *last_p; /* the stream value of the row before (a batch's dictionary values
                         * repeat pointers) and the visibility entry found for it */
    size_t last_n;
    const vis *last_v;
    owl_logs_row rows[SCAN_BATCH];
} scanner;

static int scan_rows(void *ud, const owl_batch *b)
{
    scanner *sc = ud;
    size_t k = 0;
    int rc;
    for (size_t i = 0; i < b->nrows; i++) {
        owl_bytes sn = b->cols[2][i].b;
        int64_t ingest = b->cols[1][i].i;
        if (sn.p != sc->last_p || sn.n != sc->last_n) {
            reader r = {.v = sc->v, .nv = sc->nv};
            sc->last_v = visible(&r, sn.p, sn.n, INT64_MAX);
            sc->last_p = sn.p;
            sc->last_n = sn.n;
        }
        if (!sc->last_v || ingest < sc->last_v->created)
            continue;
        sc->rows[k] = (owl_logs_row){b->cols[0][i].i, ingest, sn,
                                     sc->q->with_message ? b->cols[3][i].b : (owl_bytes){0}};
        if (++k == SCAN_BATCH) {
            if ((rc = sc->q->fn(sc->q->ud, sc->rows, k)) != 0)
                return rc;
            k = 0;
        }
    }
    return k ? sc->q->fn(sc->q->ud, sc->rows, k) : 0;
}

int owl_logs_scan(owl_logs *lg, const char *tenant, const owl_logs_scan_q *q,
                  owl_scan_stats *st, owl_error *err)
{
    vis *v = NULL;
    size_t nv = 0;
    char *strs = NULL, pid[24];
    int rc = OWL_OK;
    if (st)
        memset(st, 0, sizeof *st);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, q->group);
    if (g) {
        owl_strlcpy(pid, g->pid, sizeof pid);
        rc = vis_snapshot(g, NULL, 0, &v, &nv, &strs);
    }
    pthread_mutex_unlock(&lg->mu);
    if (!g)
        return no_group(err);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "out of memory");
    scanner *sc = malloc(sizeof *sc);
    if (!sc) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    *sc = (scanner){.q = q, .v = v, .nv = nv};
    if (nv == 0 || q->end_ms <= q->start_ms)
        goto out;
    static const size_t cols_msg[] = {OWL_LOGS_TIME, OWL_LOGS_INGEST_TIME, OWL_LOGS_STREAM,
                                      OWL_LOGS_MESSAGE};
    const char *parts[] = {pid};
    owl_scan s = {.table = "logs", .tenant = tenant, .partitions = parts, .npartitions = 1,
                  .start = q->start_ms, .end = q->end_ms, .cols = cols_msg,
                  .ncols = q->with_message ? 4 : 3, .fn = scan_rows, .ud = sc,
                  .filter = q->filter,
                  .order = q->order < 0 ? OWL_ORDER_DESC : q->order > 0 ? OWL_ORDER_ASC
                                                                        : OWL_ORDER_NONE};
    rc = owl_store_scan(lg->store, &s, st, err);
out:
    free(sc);
    free(v);
    free(strs);
    return rc;
}

/* ---- metric filters (definitions in mfilter.c; docs/api/logs.md "Metric filters") ---- */

void owl_logs_set_metrics(owl_logs *lg, owl_metrics *m)
{
    pthread_mutex_lock(&lg->mu);
    lg->metrics = m;
    pthread_mutex_unlock(&lg->mu);
}

static owl_mf *mf_find(const mfset *m, const char *name)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (strcmp(m->f[i]->name, name) == 0)
            return m->f[i];
    return NULL;
}

static int no_filter(owl_error *err)
{
    return owl_error_set(err, OWL_ENOTFOUND, "The specified metric filter does not exist.");
}

/* Swaps g's set for `next` (mu held by the caller); the old one is released after. */
static mfset *mf_swap(lgroup *g, mfset *next)
{
    mfset *old = g->mf;
    g->mf = next && next->n ? next : NULL;
    if (next && !next->n)
        mfset_unref(next);
    return old;
}

int owl_logs_put_mfilter(owl_logs *lg, const char *tenant, const char *group,
                         const owl_logs_mfilter *def, owl_error *err)
{
    owl_mf *f;
    int rc = owl_mf_new(def, "", owl_now_ms(), &f, err);
    if (rc != OWL_OK)
        return rc;
    bson_t doc;
    bson_init(&doc);
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    const owl_mf *old = g ? mf_find(g->mf, def->name) : NULL;
    size_t have = g && g->mf ? g->mf->n : 0;
    if (old)
        owl_strlcpy(f->id, old->id, sizeof f->id);
    pthread_mutex_unlock(&lg->mu);
    if (!g) {
        rc = no_group(err);
        goto out;
    }
    if (!old && have >= OWL_LOGS_MAX_METRIC_FILTERS) {
        rc = owl_error_set(err, OWL_ERANGE, "Resource limit exceeded: a log group can have at "
                           "most %d metric filters", OWL_LOGS_MAX_METRIC_FILTERS);
        goto out;
    }
    if (!old) {
        char r[24];
        if ((rc = new_pid(r, err)) != OWL_OK) /* 16 random hex digits after its 'g' */
            goto out;
        snprintf(f->id, sizeof f->id, "%s.f%s", g->pid, r + 1);
    }
    bson_destroy(&doc);
    owl_mf_doc(f, &doc);
    if ((rc = owl_meta_put(lg->meta, tenant, KIND_MF, f->id, &doc, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&lg->mu); /* g is still there: deletions hold wmu */
    mfset *next = mfset_with(g->mf, f, f->name);
    mfset *prev = next ? mf_swap(g, next) : NULL;
    pthread_mutex_unlock(&lg->mu);
    mfset_unref(prev);
    if (!next) { /* durable but not in memory: back out */
        if (!old)
            owl_meta_delete(lg->meta, tenant, KIND_MF, f->id, NULL);
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
out:
    pthread_mutex_unlock(&lg->wmu);
    bson_destroy(&doc);
    owl_mf_unref(f);
    return rc;
}

int owl_logs_delete_mfilter(owl_logs *lg, const char *tenant, const char *group,
                            const char *name, owl_error *err)
{
    int rc;
    char id[48];
    pthread_mutex_lock(&lg->wmu);
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    const owl_mf *f = g ? mf_find(g->mf, name) : NULL;
    if (f)
        owl_strlcpy(id, f->id, sizeof id);
    pthread_mutex_unlock(&lg->mu);
    if (!g || !f) {
        rc = !g ? no_group(err) : no_filter(err);
        goto out;
    }
    if ((rc = owl_meta_delete(lg->meta, tenant, KIND_MF, id, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&lg->mu);
    mfset *next = mfset_with(g->mf, NULL, name);
    mfset *prev = next ? mf_swap(g, next) : NULL;
    if (!next) { /* out of memory: the filter stays in memory until the next open */
        owl_warn("logs: metric filter %s deleted but still applied until restart", name);
    }
    pthread_mutex_unlock(&lg->mu);
    mfset_unref(prev);
out:
    pthread_mutex_unlock(&lg->wmu);
    return rc;
}

size_t owl_logs_mfilter_count(owl_logs *lg, const char *tenant, const char *group)
{
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    size_t n = g && g->mf ? g->mf->n : 0;
    pthread_mutex_unlock(&lg->mu);
    return n;
}

/* One filter picked by a listing, referenced so the lock can be dropped before the
 * caller's callback runs. */
typedef struct picked {
    char group[OWL_LOGS_NAME_MAX + 1];
    owl_mf *f;
} picked;

int owl_logs_list_mfilters(owl_logs *lg, const char *tenant, const char *group,
                           const char *prefix, const char *metric_name, const char *metric_ns,
                           const char *after, size_t limit, owl_logs_mfilter_fn fn, void *ud,
                           char next[OWL_LOGS_TOKEN_MAX], owl_error *err)
{
    next[0] = 0;
    char ag[OWL_LOGS_NAME_MAX + 1] = "";
    const char *af = NULL; /* the token: "<group>:<filter>", group names have no ':' */
    if (after) {
        const char *c = strchr(after, ':');
        if (!c || (size_t)(c - after) > OWL_LOGS_NAME_MAX)
            return owl_error_set(err, OWL_EINVAL, "The specified nextToken is invalid.");
        memcpy(ag, after, (size_t)(c - after));
        ag[c - after] = 0;
        af = c + 1;
    }
    picked *p = calloc(limit ? limit : 1, sizeof *p);
    if (!p)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    size_t n = 0;
    int more = 0, found_group = group == NULL;
    pthread_mutex_lock(&lg->mu);
    for (size_t i = 0; i < lg->n && !more; i++) {
        const lgroup *g = lg->g[i];
        if (strcmp(g->tenant, tenant) != 0 || (group && strcmp(g->name, group) != 0))
            continue;
        found_group = 1;
        int gc = af ? strcmp(g->name, ag) : 1;
        if (gc < 0)
            continue;
        for (size_t j = 0; g->mf && j < g->mf->n; j++) {
            owl_mf *f = g->mf->f[j];
            if ((gc == 0 && strcmp(f->name, af) <= 0) ||
                (prefix && strncmp(f->name, prefix, strlen(prefix)) != 0) ||
                (metric_name && (strcmp(f->mname, metric_name) != 0 ||
                                 (metric_ns && strcmp(f->mns, metric_ns) != 0))))
                continue;
            if (n == limit) {
                more = 1;
                break;
            }
            owl_strlcpy(p[n].group, g->name, sizeof p[n].group);
            owl_mf_ref(f);
            p[n++].f = f;
        }
    }
    pthread_mutex_unlock(&lg->mu);
    int rc = found_group ? OWL_OK : no_group(err);
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        owl_logs_mfilter v;
        owl_mf_view(p[i].f, &v);
        if (fn(ud, p[i].group, &v))
            break;
    }
    if (rc == OWL_OK && more && n)
        snprintf(next, OWL_LOGS_TOKEN_MAX, "%s:%s", p[n - 1].group, p[n - 1].f->name);
    for (size_t i = 0; i < n; i++)
        owl_mf_unref(p[i].f);
    free(p);
    return rc;
}

/* The filter `name` of (tenant, group), referenced, and the group's name copied. */
static int mf_get(owl_logs *lg, const char *tenant, const char *group, const char *name,
                  owl_mf **out, owl_error *err)
{
    pthread_mutex_lock(&lg->mu);
    lgroup *g = group_get(lg, tenant, group);
    owl_mf *f = g ? mf_find(g->mf, name) : NULL;
    if (f)
        owl_mf_ref(f);
    pthread_mutex_unlock(&lg->mu);
    *out = f;
    return !g ? no_group(err) : !f ? no_filter(err) : OWL_OK;
}

#define BACKFILL_PAGE 10000

int owl_logs_backfill(owl_logs *lg, const char *tenant, const char *group, const char *name,
                      int64_t start_ms, int64_t end_ms, owl_logs_backfill_result *res,
                      owl_error *err)
{
    memset(res, 0, sizeof *res);
    if (start_ms >= end_ms)
        return owl_error_set(err, OWL_EINVAL, "startTime must be before endTime");
    pthread_mutex_lock(&lg->mu);
    owl_metrics *metrics = lg->metrics;
    pthread_mutex_unlock(&lg->mu);
    if (!metrics)
        return owl_error_set(err, OWL_EUNSUPPORTED, "no metrics module to write to");
    owl_mf *f;
    int rc = mf_get(lg, tenant, group, name, &f, err);
    if (rc != OWL_OK)
        return rc;
    owl_mf *one[1] = {f};
    owl_mf_agg *a = owl_mf_agg_new(one, 1);
    owl_logs_page pg = {0};
    char token[OWL_SCAN_CURSOR_TEXT + 4] = "";
    if (!a) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    /* every readable event (FilterLogEvents' visibility rules), matched here so that
     * scanned counts them all */
    do {
        owl_logs_filter q = {.group = group, .start_ms = start_ms, .end_ms = end_ms - 1,
                             .token = token[0] ? token : NULL, .limit = BACKFILL_PAGE};
        if ((rc = owl_logs_filter_events(lg, tenant, &q, &pg, err)) != OWL_OK)
            goto out;
        for (size_t i = 0; i < pg.n; i++) {
            /* an event ingested while the filter existed was counted then */
            if (pg.ev[i].ingest_ms >= f->created) {
                res->skipped++;
                continue;
            }
            int m = owl_mf_agg_event(a, pg.ev[i].time_ms, pg.ev[i].message,
                                     pg.ev[i].message_len);
            if (m < 0) {
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
                goto out;
            }
            res->matched += m > 0;
        }
        res->scanned += pg.n;
        snprintf(token, sizeof token, "%s", pg.next);
        owl_logs_page_free(&pg);
    } while (token[0]);
    const owl_datum *d;
    size_t nd;
    int64_t now = owl_now_ms();
    if ((rc = owl_mf_agg_datums(a, now, &d, &nd)) != OWL_OK) {
        rc = owl_error_set(err, rc, "out of memory");
        goto out;
    }
    enum owl_metric_fault fault;
    if (nd && (rc = owl_metrics_put(metrics, tenant, d, nd, 0, now, &fault, err)) != OWL_OK)
        goto out;
    res->datapoints = nd;
out:
    owl_logs_page_free(&pg);
    owl_mf_agg_free(a);
    owl_mf_unref(f);
    return rc;
}

/* ---- evidence for alarms on metric-filter metrics ---- */

#define EVIDENCE_LINES 10
#define EVIDENCE_SCAN 1000 /* events read at most: the evaluator waits for this */

/* The first filter of tenant writing (ns, name) with the dimension names of id. */
static owl_mf *mf_of_metric(owl_logs *lg, const char *tenant, const owl_metric_id *id,
                            char group[OWL_LOGS_NAME_MAX + 1])
{
    owl_mf *hit = NULL;
    pthread_mutex_lock(&lg->mu);
    for (size_t i = 0; i < lg->n && !hit; i++) {
        const lgroup *g = lg->g[i];
        if (strcmp(g->tenant, tenant) != 0)
            continue;
        for (size_t j = 0; g->mf && j < g->mf->n && !hit; j++) {
            owl_mf *f = g->mf->f[j];
            if (strcmp(f->mns, id->ns) != 0 || strcmp(f->mname, id->name) != 0 ||
                f->ndims != id->ndims)
                continue;
            size_t same = 0;
            for (size_t k = 0; k < f->ndims; k++)
                for (size_t l = 0; l < id->ndims; l++)
                    same += strcmp(f->dname[k], id->dims[l].name) == 0;
            if (same != f->ndims)
                continue;
            owl_mf_ref(f);
            hit = f;
            owl_strlcpy(group, g->name, OWL_LOGS_NAME_MAX + 1);
        }
    }
    pthread_mutex_unlock(&lg->mu);
    return hit;
}

/* 1 when msg has the alarm's dimension values (always without dimensions). */
static int dims_match(const owl_mf *f, const owl_metric_id *id, const char *msg, size_t n,
                      owl_buf *scratch)
{
    for (size_t k = 0; k < f->ndims; k++) {
        const char *want = NULL;
        for (size_t l = 0; l < id->ndims; l++)
            if (strcmp(f->dname[k], id->dims[l].name) == 0)
                want = id->dims[l].value;
        owl_bytes t;
        if (want && (!owl_fpat_extract(f->pat, msg, n, f->dref[k], scratch, &t, NULL, NULL) ||
                     t.n != strlen(want) || memcmp(t.p, want, t.n) != 0))
            return 0;
    }
    return 1;
}

int owl_logs_evidence(void *ud, const char *tenant, const owl_metric_id *id, int64_t start_ms,
                      int64_t end_ms, enum owl_alarm_state new_state, owl_buf *out)
{
    (void)new_state;
    owl_logs *lg = ud;
    char group[OWL_LOGS_NAME_MAX + 1];
    owl_mf *f = mf_of_metric(lg, tenant, id, group);
    if (!f)
        return OWL_ENOTFOUND;
    owl_buf scratch = OWL_BUF_INIT;
    owl_logs_page pg = {0};
    char token[OWL_SCAN_CURSOR_TEXT + 4] = "";
    size_t lines = 0, read = 0;
    int rc = owl_buf_puts(out, "{\"provider\":\"logs\",\"logGroupName\":");
    rc = rc ? rc : owl_buf_json_str(out, group, strlen(group));
    rc = rc ? rc : owl_buf_puts(out, ",\"filterName\":");
    rc = rc ? rc : owl_buf_json_str(out, f->name, strlen(f->name));
    rc = rc ? rc : owl_buf_printf(out, ",\"from\":%lld,\"to\":%lld,\"lines\":[",
                                  (long long)start_ms, (long long)end_ms);
    while (rc == OWL_OK && lines < EVIDENCE_LINES && read < EVIDENCE_SCAN) {
        owl_logs_filter q = {.group = group, .start_ms = start_ms, .end_ms = end_ms - 1,
                             .token = token[0] ? token : NULL, .pattern = f->pattern,
                             .limit = f->ndims ? 100 : EVIDENCE_LINES};
        if ((rc = owl_logs_filter_events(lg, tenant, &q, &pg, NULL)) != OWL_OK)
            break;
        read += pg.n;
        for (size_t i = 0; i < pg.n && lines < EVIDENCE_LINES && rc == OWL_OK; i++) {
            const owl_logs_event *e = &pg.ev[i];
            if (!dims_match(f, id, e->message, e->message_len, &scratch))
                continue;
            rc = owl_buf_printf(out, "%s{\"timestamp\":%lld,\"logStreamName\":",
                                lines ? "," : "", (long long)e->time_ms);
            rc = rc ? rc : owl_buf_json_str(out, e->stream, strlen(e->stream));
            rc = rc ? rc : owl_buf_puts(out, ",\"message\":");
            rc = rc ? rc : owl_buf_json_str(out, e->message, e->message_len);
            rc = rc ? rc : owl_buf_puts(out, "}");
            lines++;
        }
        snprintf(token, sizeof token, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!token[0])
            break;
    }
    rc = rc ? rc : owl_buf_puts(out, "]}");
    owl_logs_page_free(&pg);
    owl_buf_free(&scratch);
    owl_mf_unref(f);
    return rc;
}

/* scan.c — scans. A scan takes references on the parts and memtables it needs (and each
 * memtable's row count) under the store mutex, then reads and filters them (pred.c) with no
 * store lock held, so callbacks may block or call the store, and appends never wait on them.
 *
 * Unordered scans hand over each block's or memtable run's matches as they come. Ordered
 * scans (ASC/DESC by (time, key)) merge their sources: every part is a source whose blocks are
 * in time order and are decoded only when their first time (last, for DESC) reaches the head
 * of the merge; every memtable is a source whose matches are sorted once. A source keeps the
 * rows of the blocks it decoded in order until they are returned; a block stays decoded while
 * rows of it wait (slots). The merge stops at the limit, after peeking whether one more row
 * matches. Cluster-ordered scans of a clustered table hand over the memtables' matches, then
 * the parts' blocks by their least cluster key, each batch with the floor of the keys still
 * to come. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "index/bloom.h"
#include "index/logtpl.h"
#include "index/pred.h"
#include "index/store_int.h"

/* What one scan holds on to: references taken under the store mutex. */
struct snap_item {
    struct ptn *p;
    struct part_ref *part;
    struct memtable *mem;
    size_t mem_rows; /* the memtable's rows at the snapshot */
    int64_t cutoff;
};

struct scan_ctx {
    owl_store *s;
    const owl_scan *q;
    const owl_schema *sc;
    owl_scan_stats *st;
    owl_error *err;
    int64_t start, end;        /* the current source's time range */
    size_t need[OWL_MAX_COLS]; /* columns to read: wanted + predicate columns */
    size_t nneed;
    size_t fdepth;             /* depth of q->filter (0: none) */
    uint32_t *sel;
    uint8_t *keep;             /* (2 * fdepth + 2) x cap: matches, then scratch */
    size_t cap;
    int judge;                 /* the filter has text leaves: template chunks are judged by
                                * judge_tpl before their rows are rebuilt */
    int sel_all;               /* the last filter_rows kept every row of a part block: emit
                                * hands fn its cells as they are */
    /* the batch being filled for fn */
    owl_cell *out[OWL_MAX_COLS];
    uint64_t *outkeys;
    size_t nout, outcap;
    const struct ptn *outp;
    /* limit */
    size_t emitted;
    int stop, more;
    uint64_t floor; /* OWL_ORDER_CLUSTER: the batches' floor (owl_batch.floor) */
};

/* ---------- filtering ---------- */

static int ensure_sel(struct scan_ctx *c, size_t n)
{
    if (n <= c->cap)
        return OWL_OK;
    uint32_t *sel = realloc(c->sel, n * sizeof *sel);
    if (!sel)
        return OWL_ENOMEM;
    c->sel = sel;
    uint8_t *keep = realloc(c->keep, (2 * c->fdepth + 2) * n);
    if (!keep)
        return OWL_ENOMEM;
    c->keep = keep;
    c->cap = n;
    return OWL_OK;
}

/* c->keep[0..n): 1 for the rows of cols in the scan's time range, not left out by the block's
 * reader (pre) and matching its predicates and filter. */
static void mark_rows(struct scan_ctx *c, owl_cell *const *cols, size_t n, int one_buf,
                      const uint8_t *pre)
{
    const owl_cell *times = cols[c->sc->time_col];
    uint8_t *keep = c->keep, *scratch = c->keep + n;
    for (size_t r = 0; r < n; r++)
        keep[r] = times[r].i >= c->start && times[r].i < c->end;
    if (pre) /* rows the block's reader left out: the filter certainly fails on them */
        for (size_t r = 0; r < n; r++)
            keep[r] &= pre[r];
    for (size_t i = 0; i < c->q->npreds; i++) {
        const owl_pred *pr = &c->q->preds[i];
        owl_pred_rows(c->sc->cols[pr->col].type, pr, cols[pr->col], n, one_buf, keep, scratch);
    }
    if (c->q->filter)
        owl_filter_rows(c->sc, c->q->filter, cols, n, one_buf, keep, scratch);
}

/* Filters rows [0, n) of cols (indexed by schema column) into c->sel; returns the count (or
 * -1 when out of memory). one_buf: each byte column's values live in one buffer (a decoded
 * part block), so the bytes between them may be read. inside: every row lies in the time
 * range (a part block by its footer's bounds), so without predicates all are kept untested. */
static long filter_rows(struct scan_ctx *c, owl_cell *const *cols, size_t n, int one_buf,
                        const uint8_t *pre, int inside)
{
    if (ensure_sel(c, n) != OWL_OK)
        return -1;
    size_t k = 0;
    if (inside && !pre && !c->q->npreds && !c->q->filter) {
        for (; k < n; k++)
            c->sel[k] = (uint32_t)k;
    } else {
        mark_rows(c, cols, n, one_buf, pre);
        for (size_t r = 0; r < n; r++) { /* no branch: keep[] is often mixed */
            c->sel[k] = (uint32_t)r;
            k += c->keep[r];
        }
    }
    c->sel_all = k == n && one_buf; /* a part block's cells stay put while fn runs */
    if (c->st) {
        c->st->rows_scanned += n;
        c->st->rows_matched += k;
    }
    return (long)k;
}

/* 1 when every row of part block b lies in the scan's time range (by the footer's bounds). */
static int block_inside(const struct scan_ctx *c, const owl_part *p, size_t b)
{
    size_t rows;
    int64_t lo, hi;
    owl_part_block(p, b, &rows, &lo, &hi);
    return lo >= c->start && hi < c->end;
}

/* 1 when p is a TOKEN or SUBSTR test of a column's own text (not of a path inside it): what
 * a chunk's stored bytes, and a template's, can rule out. */
static int text_leaf(const owl_pred *p)
{
    return (p->op == OWL_PRED_TOKEN || p->op == OWL_PRED_SUBSTR) && !p->path;
}

struct leaf_ctx {
    const owl_part *part;
    size_t b;
};

static int leaf_may(void *ud, const owl_pred *p)
{
    const struct leaf_ctx *l = ud;
    return owl_part_pred_may(l->part, l->b, p);
}

/* 0 when block b of r certainly has no match (footer statistics, then the stored bytes of
 * text predicates); counts it. */
static int block_wanted(struct scan_ctx *c, struct part_ref *r, size_t b, owl_block_data *bd,
                        int *rc)
{
    *rc = OWL_OK;
    if (c->st)
        c->st->blocks++;
    struct leaf_ctx l = {r->p, b};
    if (!owl_part_block_may_match(r->p, b, c->start, c->end, c->q->preds, c->q->npreds) ||
        (c->q->filter && !owl_filter_block_may(c->q->filter, leaf_may, &l))) {
        if (c->st)
            c->st->blocks_skipped++;
        return 0;
    }
    bd->bytes_read = 0;
    /* text the bloom let through must still appear in the chunk's stored bytes */
    int may = 1;
    for (size_t i = 0; i < c->q->npreds && may && *rc == OWL_OK; i++) {
        const owl_pred *pr = &c->q->preds[i];
        if (text_leaf(pr))
            *rc = owl_part_block_text_may(r->p, b, pr->col, &pr->text, bd, &may, c->err);
    }
    if (*rc == OWL_OK && !may) {
        if (c->st) {
            c->st->blocks_skipped++;
            c->st->bytes_read += bd->bytes_read;
        }
        return 0;
    }
    return *rc == OWL_OK;
}

/* Removes r from the day that lists it and drops that reference (caller holds s->mu). */
static void drop_part_locked(owl_store *s, struct ptn *p, struct part_ref *r)
{
    for (size_t j = 0; j < p->ndays; j++) {
        struct day *d = p->days[j];
        for (size_t k = 0; k < d->nparts; k++) {
            if (d->parts[k] != r)
                continue;
            memmove(d->parts + k, d->parts + k + 1, (d->nparts - k - 1) * sizeof *d->parts);
            d->nparts--;
            ptn_count_part(p, r, -1);
            owl__part_unref_locked(s, r);
            return;
        }
    }
}

/* The judge of a template (logtpl.h) of column col: 0 when a text leaf the scan's predicates
 * and filter need cannot match any of its rows. */
struct tpl_leaf {
    size_t col;
    const owl_logtpl_tpl *t;
};

static int tpl_leaf_may(void *ud, const owl_pred *p)
{
    const struct tpl_leaf *l = ud;
    if (!text_leaf(p) || p->col != l->col || !p->text.n || !p->text.p)
        return 1;
    return owl_logtpl_tpl_may_contain(l->t, p->text.p, p->text.n);
}

static int judge_tpl(void *ud, size_t col, const owl_logtpl_tpl *t)
{
    const struct scan_ctx *c = ud;
    struct tpl_leaf l = {col, t};
    for (size_t i = 0; i < c->q->npreds; i++)
        if (!tpl_leaf_may(&l, &c->q->preds[i]))
            return 0;
    return !c->q->filter || owl_filter_block_may(c->q->filter, tpl_leaf_may, &l);
}

/* 1 when f has a text leaf. */
static int has_text_leaf(const owl_filter *f)
{
    if (f->kind == OWL_FILTER_PRED)
        return text_leaf(f->pred);
    for (size_t i = 0; i < f->nkids; i++)
        if (has_text_leaf(&f->kids[i]))
            return 1;
    return 0;
}

/* Reads block b of r into bd. A corrupt part is quarantined: *gone = 1, OWL_OK. */
static int read_block(struct scan_ctx *c, const struct ptn *p, struct part_ref *r, size_t b,
                      owl_block_data *bd, int *gone)
{
    *gone = 0;
    bd->tpl_fn = c->judge ? judge_tpl : NULL;
    bd->tpl_ud = c;
    int rc = owl_part_read_block(r->p, b, c->need, c->nneed, bd, c->err);
    if (rc == OWL_ECORRUPT) {
        owl_errorf("store: %s is corrupt (%s); quarantined", r->path,
                   c->err ? c->err->msg : "checksum");
        pthread_mutex_lock(&c->s->mu);
        if (!r->quarantine) {
            r->quarantine = 1;
            c->s->quarantined++;
            /* p's lists and figures are the store's, written under mu: the scan reads p
             * through const elsewhere */
            drop_part_locked(c->s, (struct ptn *)p, r);
        }
        pthread_mutex_unlock(&c->s->mu);
        *gone = 1;
        return OWL_OK;
    }
    if (rc == OWL_OK && c->st)
        c->st->bytes_read += bd->bytes_read;
    return rc;
}

/* ---------- unordered scans ---------- */

/* Hands the selected rows of cols to fn, at most what the limit leaves. */
static int emit_sel(struct scan_ctx *c, const struct ptn *p, owl_cell *const *cols, size_t k)
{
    if (!k)
        return 0;
    if (c->q->limit) {
        if (c->emitted == c->q->limit) {
            c->more = 1, c->stop = 1;
            return 0;
        }
        if (k > c->q->limit - c->emitted) {
            k = c->q->limit - c->emitted;
            c->more = 1, c->stop = 1;
        }
    }
    if (k > c->outcap) {
        for (size_t i = 0; i < c->q->ncols; i++) {
            owl_cell *o = realloc(c->out[i], k * sizeof *o);
            if (!o)
                return OWL_ENOMEM;
            c->out[i] = o;
        }
        c->outcap = k;
    }
    owl_batch b = {.nrows = k, .tenant = p->tenant, .partition = p->name, .floor = c->floor};
    for (size_t i = 0; i < c->q->ncols; i++) {
        const owl_cell *src = cols[c->q->cols[i]];
        if (c->sel_all) { /* rows 0..k: the columns as they are */
            b.cols[i] = src;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            c->out[i][j] = src[c->sel[j]];
        b.cols[i] = c->out[i];
    }
    c->emitted += k;
    return c->q->fn(c->q->ud, &b);
}

static int scan_part(struct scan_ctx *c, const struct ptn *p, struct part_ref *r,
                     owl_block_data *bd)
{
    const owl_part_meta *pm = owl_part_get_meta(r->p);
    if (pm->max_time < c->start || pm->min_time >= c->end)
        return OWL_OK;
    if (c->st)
        c->st->parts++;
    for (size_t b = 0; b < pm->nblocks && !c->stop; b++) {
        int rc, gone;
        if (!block_wanted(c, r, b, bd, &rc)) {
            if (rc != OWL_OK)
                return rc;
            continue;
        }
        if ((rc = read_block(c, p, r, b, bd, &gone)) != OWL_OK || gone)
            return rc;
        long k = filter_rows(c, bd->cells, bd->nrows, 1, bd->pre_set ? bd->pre : NULL,
                             block_inside(c, r->p, b));
        if (k < 0)
            return OWL_ENOMEM;
        if ((rc = emit_sel(c, p, bd->cells, (size_t)k)) != 0)
            return rc;
    }
    return OWL_OK;
}

/* Rows [off, off + *len) of m as column arrays (one run inside a chunk, at most SCAN_BATCH). */
static void mem_cols(const struct memtable *m, const owl_schema *sc, size_t off, size_t n,
                     owl_cell **cols, size_t *len)
{
    size_t lim = n - off > SCAN_BATCH ? off + SCAN_BATCH : n;
    for (size_t i = 0; i < sc->ncols; i++)
        cols[i] = (owl_cell *)owl_mem_run(m, i, off, lim, len);
}

static int scan_mem(struct scan_ctx *c, const struct ptn *p, struct memtable *m, size_t n)
{
    int rc = 0;
    for (size_t off = 0, len = 0; off < n && rc == 0 && !c->stop; off += len) {
        owl_cell *cols[OWL_MAX_COLS] = {0};
        mem_cols(m, c->sc, off, n, cols, &len);
        long k = filter_rows(c, cols, len, 0, NULL, 0);
        rc = k < 0 ? OWL_ENOMEM : emit_sel(c, p, cols, (size_t)k);
    }
    return rc;
}

/* ---------- cluster-ordered scans ---------- */

/* A part read in cluster-key order: its next block and that block's least key. */
struct csrc {
    const struct snap_item *it;
    int64_t start; /* retention-adjusted start */
    size_t b, nb;
    uint64_t next;
};

static void csrc_down(struct csrc *h, size_t n, size_t i)
{
    struct csrc x = h[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && h[k + 1].next < h[k].next)
            k++;
        if (h[k].next >= x.next)
            break;
        h[i] = h[k];
        i = k;
    }
    h[i] = x;
}

/* 1 when the blocks of part p follow each other in cluster-key order by their statistics
 * (a part written before its table was clustered is in time order). */
static int part_in_key_order(const owl_part *p, size_t col, size_t nb)
{
    uint64_t lo, hi, prev = 0;
    for (size_t b = 0; b < nb; b++) {
        if (!owl_part_block_range_u(p, b, col, &lo, &hi) || lo < prev)
            return 0;
        prev = hi;
    }
    return 1;
}

static uint64_t block_min(const owl_part *p, size_t b, size_t col)
{
    uint64_t lo, hi;
    owl_part_block_range_u(p, b, col, &lo, &hi);
    return lo;
}

/* The memtables' rows and those of any part not in key order (in no order: floor 0 while
 * any may follow), then the other parts' blocks merged by their least cluster key: once a
 * block is taken, no later block holds a key below the least next key of every part. The
 * reader finishes what is left when the scan returns (the last floor may not reach it: a
 * last block without a match is not handed over). */
static int scan_clustered(struct scan_ctx *c, const struct snap_item *items, size_t nitems)
{
    size_t col = owl__cluster_col(c->sc);
    int64_t qstart = c->start;
    struct csrc *h = malloc((nitems ? nitems : 1) * sizeof *h);
    if (!h)
        return OWL_ENOMEM;
    size_t n = 0;
    int rc = OWL_OK;
    c->floor = 0;
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    for (size_t i = 0; i < nitems && rc == OWL_OK && !c->stop; i++) {
        c->start = qstart > items[i].cutoff ? qstart : items[i].cutoff;
        if (!items[i].part) {
            rc = scan_mem(c, items[i].p, items[i].mem, items[i].mem_rows);
            continue;
        }
        const owl_part_meta *pm = owl_part_get_meta(items[i].part->p);
        if (pm->max_time < c->start || pm->min_time >= c->end || !pm->nblocks)
            continue;
        if (!part_in_key_order(items[i].part->p, col, pm->nblocks)) {
            rc = scan_part(c, items[i].p, items[i].part, &bd);
            continue;
        }
        if (c->st)
            c->st->parts++;
        h[n++] = (struct csrc){&items[i], c->start, 0, pm->nblocks,
                               block_min(items[i].part->p, 0, col)};
    }
    for (size_t i = n / 2; i-- > 0;)
        csrc_down(h, n, i);
    while (rc == OWL_OK && n && !c->stop) {
        struct csrc top = h[0];
        size_t b = h[0].b++;
        if (h[0].b < h[0].nb)
            h[0].next = block_min(top.it->part->p, h[0].b, col);
        else
            h[0] = h[--n];
        if (n)
            csrc_down(h, n, 0);
        c->floor = n ? h[0].next : UINT64_MAX;
        c->start = top.start;
        int gone;
        if (!block_wanted(c, top.it->part, b, &bd, &rc))
            continue;
        if ((rc = read_block(c, top.it->p, top.it->part, b, &bd, &gone)) != OWL_OK)
            break;
        if (gone) { /* quarantined: its other blocks are gone too */
            for (size_t i = 0; i < n; i++)
                if (h[i].it == top.it) {
                    h[i] = h[--n];
                    for (size_t j = n / 2; j-- > 0;)
                        csrc_down(h, n, j);
                    break;
                }
            continue;
        }
        long k = filter_rows(c, bd.cells, bd.nrows, 1, bd.pre_set ? bd.pre : NULL,
                             block_inside(c, top.it->part->p, b));
        rc = k < 0 ? OWL_ENOMEM : emit_sel(c, top.it->p, bd.cells, (size_t)k);
    }
    owl_block_data_free(&bd);
    free(h);
    return rc;
}

/* ---------- ordered scans ---------- */

/* A decoded block (or a memtable's gathered matches) whose rows wait in a source. */
struct slot {
    owl_block_data bd;
    const owl_cell *cols[OWL_MAX_COLS]; /* wanted columns, by position in q->cols */
    owl_cell *own[OWL_MAX_COLS];        /* memtable slots: the gathered cells */
    size_t left;                        /* rows of it not yet returned or dropped */
    int mem;
};

struct orow {
    int64_t t;
    uint64_t key;
    uint32_t slot, row;
};

struct src {
    const struct snap_item *it;
    int64_t start;            /* retention-adjusted start */
    size_t nb, done;          /* part: blocks, blocks taken (in scan order) */
    struct orow *rows;        /* waiting rows in scan order, from head on */
    size_t head, n, cap;
    int gone;                 /* quarantined during the scan */
};

struct merge {
    struct scan_ctx *c;
    int desc;
    struct src *srcs;
    size_t nsrcs;
    size_t *heap, nheap;
    struct slot *slots;
    size_t nslots;
    uint64_t skipped;          /* rows equal to the cursor passed over so far */
    owl_scan_cursor last;      /* the position after the last row returned */
    int have_last;
};

/* Scan order of (t, key) pairs: < 0 when a comes first. */
static int ord(const struct merge *m, int64_t ta, uint64_t ka, int64_t tb, uint64_t kb)
{
    int r = ta != tb ? (ta < tb ? -1 : 1) : ka != kb ? (ka < kb ? -1 : 1) : 0;
    return m->desc ? -r : r;
}

static int cmp_asc(const void *a, const void *b)
{
    const struct orow *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_desc(const void *a, const void *b)
{
    return cmp_asc(b, a);
}

/* The tie-break key: tenant, partition and the wanted columns' values. */
static uint64_t seed_of(const struct ptn *p)
{
    return owl_hash64(p->name, strlen(p->name), owl_hash64(p->tenant, strlen(p->tenant), 0));
}

static uint64_t row_key(const struct scan_ctx *c, uint64_t h, owl_cell *const *cols, size_t r)
{
    for (size_t i = 0; i < c->q->ncols; i++) {
        size_t col = c->q->cols[i];
        const owl_cell *v = &cols[col][r];
        if (owl_type_is_bytes(c->sc->cols[col].type)) {
            h = owl_hash64(v->b.p, v->b.n, h + v->b.n);
        } else {
            uint8_t x[8];
            owl_put64le(x, v->u);
            h = owl_hash64(x, 8, h);
        }
    }
    return h;
}

/* 1 when (t, key) comes before or at the cursor's row, i.e. was returned by earlier pages
 * (equal rows are left to the merge, which skips `count` of them). */
static int before_cursor(const struct merge *m, int64_t t, uint64_t key)
{
    const owl_scan_cursor *a = m->c->q->after;
    return a && ord(m, t, key, a->time, a->key) < 0;
}

static int grow_rows(struct src *s, size_t extra)
{
    if (s->head && s->head == s->n)
        s->head = s->n = 0;
    if (s->n + extra <= s->cap)
        return OWL_OK;
    if (s->head) { /* reclaim the returned prefix first */
        memmove(s->rows, s->rows + s->head, (s->n - s->head) * sizeof *s->rows);
        s->n -= s->head, s->head = 0;
        if (s->n + extra <= s->cap)
            return OWL_OK;
    }
    size_t cap = (s->n + extra) * 2;
    struct orow *rows = realloc(s->rows, cap * sizeof *rows);
    if (!rows)
        return OWL_ENOMEM;
    s->rows = rows, s->cap = cap;
    return OWL_OK;
}

/* A slot with no waiting rows (any pending output was flushed before), or a new one. */
static int take_slot(struct merge *m, size_t *out)
{
    for (size_t i = 0; i < m->nslots; i++)
        if (!m->slots[i].left && !m->slots[i].mem) {
            *out = i;
            return OWL_OK;
        }
    struct slot *grown = realloc(m->slots, (m->nslots + 1) * sizeof *grown);
    if (!grown)
        return OWL_ENOMEM;
    m->slots = grown;
    memset(&m->slots[m->nslots], 0, sizeof *m->slots);
    *out = m->nslots++;
    return OWL_OK;
}

/* Queues the selected rows (c->sel) of cols into source s, as rows of slot si: row j of the
 * selection is the slot's row base + j when gathered, else its row c->sel[j]. Rows the cursor
 * has passed are dropped. */
static int queue_sel(struct merge *m, struct src *s, size_t si, owl_cell *const *cols, size_t k,
                     int gathered, size_t base)
{
    struct scan_ctx *c = m->c;
    if (grow_rows(s, k) != OWL_OK)
        return OWL_ENOMEM;
    uint64_t seed = seed_of(s->it->p);
    const owl_cell *times = cols[c->sc->time_col];
    size_t from = s->n;
    for (size_t j = 0; j < k; j++) {
        size_t r = c->sel[j];
        uint64_t key = row_key(c, seed, cols, r);
        if (before_cursor(m, times[r].i, key))
            continue;
        size_t row = gathered ? base + j : r;
        s->rows[s->n++] = (struct orow){times[r].i, key, (uint32_t)si, (uint32_t)row};
    }
    m->slots[si].left += s->n - from;
    if (s->n > s->head) /* (rows may still be NULL: qsort takes no null base) */
        qsort(s->rows + s->head, s->n - s->head, sizeof *s->rows, m->desc ? cmp_desc : cmp_asc);
    return OWL_OK;
}

/* A memtable source: every match gathered into one slot, sorted once. */
static int load_mem(struct merge *m, struct src *s)
{
    struct scan_ctx *c = m->c;
    size_t si, n = s->it->mem_rows;
    int rc = take_slot(m, &si);
    if (rc != OWL_OK)
        return rc;
    m->slots[si].mem = 1;
    size_t got = 0;
    for (size_t off = 0, len = 0; off < n; off += len) {
        owl_cell *cols[OWL_MAX_COLS] = {0};
        mem_cols(s->it->mem, c->sc, off, n, cols, &len);
        long k = filter_rows(c, cols, len, 0, NULL, 0);
        if (k < 0)
            return OWL_ENOMEM;
        if (!k)
            continue;
        struct slot *sl = &m->slots[si];
        for (size_t i = 0; i < c->q->ncols; i++) {
            owl_cell *o = realloc(sl->own[i], (got + (size_t)k) * sizeof *o);
            if (!o)
                return OWL_ENOMEM;
            sl->own[i] = o;
            sl->cols[i] = o;
            for (size_t j = 0; j < (size_t)k; j++)
                o[got + j] = cols[c->q->cols[i]][c->sel[j]];
        }
        if ((rc = queue_sel(m, s, si, cols, (size_t)k, 1, got)) != OWL_OK)
            return rc;
        got += (size_t)k;
    }
    return OWL_OK;
}

/* Block index of the source's next block in scan order. */
static size_t next_block(const struct merge *m, const struct src *s)
{
    return m->desc ? s->nb - 1 - s->done : s->done;
}

static int flush_out(struct merge *m);

/* Decodes the source's next block and queues its matches. */
static int load_block(struct merge *m, struct src *s)
{
    struct scan_ctx *c = m->c;
    size_t b = next_block(m, s), si;
    s->done++;
    c->start = s->start;
    int rc = flush_out(m); /* a slot about to be reused may back rows of the batch */
    if (rc == OWL_OK)
        rc = take_slot(m, &si);
    if (rc != OWL_OK)
        return rc;
    struct slot *sl = &m->slots[si];
    if (!block_wanted(c, s->it->part, b, &sl->bd, &rc))
        return rc;
    int gone;
    if ((rc = read_block(c, s->it->p, s->it->part, b, &sl->bd, &gone)) != OWL_OK)
        return rc;
    if (gone) {
        s->gone = 1, s->done = s->nb;
        return OWL_OK;
    }
    long k = filter_rows(c, sl->bd.cells, sl->bd.nrows, 1, sl->bd.pre_set ? sl->bd.pre : NULL,
                         block_inside(c, s->it->part->p, b));
    if (k < 0)
        return OWL_ENOMEM;
    for (size_t i = 0; i < c->q->ncols; i++)
        sl->cols[i] = sl->bd.cells[c->q->cols[i]];
    return queue_sel(m, s, si, sl->bd.cells, (size_t)k, 0, 0);
}

/* The source's next event: a waiting row (lazy 0) unless a block not yet decoded may hold a
 * row that comes first or ties (lazy 1, at that block's first time in scan order). 0 when the
 * source is exhausted. */
static int peek(const struct merge *m, const struct src *s, int64_t *t, uint64_t *key, int *lazy)
{
    int has_row = s->head < s->n;
    int has_blk = s->it->part && s->done < s->nb;
    int64_t bt = 0;
    if (has_blk) {
        int64_t lo, hi;
        owl_part_block(s->it->part->p, next_block(m, s), NULL, &lo, &hi);
        bt = m->desc ? hi : lo;
    }
    if (has_row && (!has_blk || ord(m, s->rows[s->head].t, 0, bt, 0) < 0)) {
        *t = s->rows[s->head].t, *key = s->rows[s->head].key, *lazy = 0;
        return 1;
    }
    if (has_blk) {
        *t = bt, *key = 0, *lazy = 1;
        return 1;
    }
    return 0;
}

/* Heap order of sources by their events: scan order of time, a pending block before rows of
 * its time, then key. */
static int src_before(const struct merge *m, size_t a, size_t b)
{
    int64_t ta, tb;
    uint64_t ka, kb;
    int la, lb;
    peek(m, &m->srcs[a], &ta, &ka, &la);
    peek(m, &m->srcs[b], &tb, &kb, &lb);
    if (ta != tb)
        return ord(m, ta, 0, tb, 0) < 0;
    if (la != lb)
        return la > lb;
    return ord(m, ta, ka, tb, kb) < 0;
}

static void sift_down(struct merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && src_before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && src_before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[best], m->heap[best] = t;
        i = best;
    }
}

/* Re-places the heap's top after its source changed; drops it when exhausted. */
static void fix_top(struct merge *m)
{
    int64_t t;
    uint64_t k;
    int lazy;
    if (!peek(m, &m->srcs[m->heap[0]], &t, &k, &lazy))
        m->heap[0] = m->heap[--m->nheap];
    if (m->nheap)
        sift_down(m, 0);
}

static int flush_out(struct merge *m)
{
    struct scan_ctx *c = m->c;
    if (!c->nout)
        return 0;
    owl_batch b = {.nrows = c->nout, .tenant = c->outp->tenant, .partition = c->outp->name,
                   .keys = c->outkeys};
    for (size_t i = 0; i < c->q->ncols; i++)
        b.cols[i] = c->out[i];
    c->nout = 0;
    return c->q->fn(c->q->ud, &b);
}

static int out_row(struct merge *m, const struct src *s, const struct orow *o)
{
    struct scan_ctx *c = m->c;
    int rc;
    if (c->nout && (c->outp != s->it->p || c->nout == SCAN_BATCH) && (rc = flush_out(m)) != 0)
        return rc;
    if (!c->outcap) {
        for (size_t i = 0; i < c->q->ncols; i++)
            if (!(c->out[i] = malloc(SCAN_BATCH * sizeof(owl_cell))))
                return OWL_ENOMEM;
        if (!(c->outkeys = malloc(SCAN_BATCH * sizeof *c->outkeys)))
            return OWL_ENOMEM;
        c->outcap = SCAN_BATCH;
    }
    const struct slot *sl = &m->slots[o->slot];
    for (size_t i = 0; i < c->q->ncols; i++)
        c->out[i][c->nout] = sl->cols[i][o->row];
    c->outkeys[c->nout++] = o->key;
    c->outp = s->it->p;
    return 0;
}

static int merge_run(struct merge *m)
{
    struct scan_ctx *c = m->c;
    const owl_scan_cursor *a = c->q->after;
    int rc = 0;
    if (a)
        m->last = *a, m->have_last = 1;
    while (m->nheap && rc == 0) {
        struct src *s = &m->srcs[m->heap[0]];
        int64_t t;
        uint64_t key;
        int lazy;
        peek(m, s, &t, &key, &lazy);
        if (lazy) {
            rc = load_block(m, s);
            fix_top(m);
            continue;
        }
        struct orow o = s->rows[s->head++];
        m->slots[o.slot].left--;
        fix_top(m);
        if (a && o.t == a->time && o.key == a->key && m->skipped < a->count) {
            m->skipped++;
            continue;
        }
        if (c->q->limit && c->emitted == c->q->limit) {
            c->more = 1;
            break;
        }
        if ((rc = out_row(m, s, &o)) != 0)
            break;
        c->emitted++;
        if (m->have_last && m->last.time == o.t && m->last.key == o.key)
            m->last.count++;
        else
            m->last = (owl_scan_cursor){o.t, o.key, 1, c->q->order};
        m->have_last = 1;
    }
    if (rc == 0)
        rc = flush_out(m);
    return rc;
}

static int scan_ordered(struct scan_ctx *c, const struct snap_item *items, size_t nitems)
{
    struct merge m = {.c = c, .desc = c->q->order == OWL_ORDER_DESC};
    int rc = OWL_OK;
    m.srcs = calloc(nitems ? nitems : 1, sizeof *m.srcs);
    m.heap = calloc(nitems ? nitems : 1, sizeof *m.heap);
    if (!m.srcs || !m.heap) {
        rc = OWL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nitems && rc == OWL_OK; i++) {
        struct src *s = &m.srcs[m.nsrcs];
        s->it = &items[i];
        s->start = c->q->start > items[i].cutoff ? c->q->start : items[i].cutoff;
        if (items[i].part) {
            const owl_part_meta *pm = owl_part_get_meta(items[i].part->p);
            if (pm->max_time < s->start || pm->min_time >= c->end)
                continue;
            if (c->st)
                c->st->parts++;
            s->nb = pm->nblocks;
        } else {
            c->start = s->start;
            rc = load_mem(&m, s);
        }
        m.nsrcs++;
    }
    for (size_t i = 0; i < m.nsrcs && rc == OWL_OK; i++) {
        int64_t t;
        uint64_t k;
        int lazy;
        if (!peek(&m, &m.srcs[i], &t, &k, &lazy))
            continue;
        size_t j = m.nheap++;
        m.heap[j] = i;
        while (j && src_before(&m, m.heap[j], m.heap[(j - 1) / 2])) {
            size_t p = (j - 1) / 2, tmp = m.heap[p];
            m.heap[p] = m.heap[j], m.heap[j] = tmp;
            j = p;
        }
    }
    if (rc == OWL_OK)
        rc = merge_run(&m);
    if (rc == OWL_OK && c->more && c->q->next)
        *c->q->next = m.last;
out:
    for (size_t i = 0; i < m.nslots; i++) {
        owl_block_data_free(&m.slots[i].bd);
        for (size_t k = 0; k < OWL_MAX_COLS; k++)
            free(m.slots[i].own[k]);
    }
    for (size_t i = 0; i < m.nsrcs; i++)
        free(m.srcs[i].rows);
    free(m.slots), free(m.srcs), free(m.heap);
    return rc;
}

/* ---------- the scan ---------- */

static int ptn_wanted(const owl_scan *q, const struct ptn *p, size_t table)
{
    if (p->table != table || strcmp(p->tenant, q->tenant) != 0)
        return 0;
    if (!q->partitions)
        return 1;
    for (size_t i = 0; i < q->npartitions; i++)
        if (!strcmp(q->partitions[i], p->name))
            return 1;
    return 0;
}

static int64_t retention_cutoff(const owl_schema *sc, const struct ptn *p, int64_t now_ms)
{
    if (p->retention_days <= 0)
        return INT64_MIN;
    return (now_ms / 1000 - (int64_t)p->retention_days * 86400) * sc->time_per_sec;
}

static int check_scan(const owl_schema *sc, const owl_scan *q, size_t *fdepth, owl_error *err)
{
    if (q->ncols > OWL_MAX_COLS || !q->fn || !q->tenant || (q->ncols && !q->cols) ||
        (q->npreds && !q->preds))
        return owl_error_set(err, OWL_EINVAL, "bad scan request");
    for (size_t i = 0; i < q->ncols; i++)
        if (q->cols[i] >= sc->ncols)
            return owl_error_set(err, OWL_EINVAL, "column %zu out of range", q->cols[i]);
    for (size_t i = 0; i < q->npreds; i++) {
        int rc = owl_pred_check(sc, &q->preds[i], err);
        if (rc != OWL_OK)
            return rc;
    }
    *fdepth = 0;
    if (q->filter) {
        int rc = owl_filter_check(sc, q->filter, fdepth, err);
        if (rc != OWL_OK)
            return rc;
    }
    if (q->order != OWL_ORDER_NONE && q->order != OWL_ORDER_ASC &&
        q->order != OWL_ORDER_DESC && q->order != OWL_ORDER_CLUSTER)
        return owl_error_set(err, OWL_EINVAL, "scan order %d unknown", (int)q->order);
    if (q->order == OWL_ORDER_CLUSTER && owl__cluster_col(sc) == SIZE_MAX)
        return owl_error_set(err, OWL_EINVAL, "table %s is not clustered: no cluster order",
                             sc->name);
    if (q->after && (q->order == OWL_ORDER_NONE || q->order == OWL_ORDER_CLUSTER ||
                     q->after->order != q->order))
        return owl_error_set(err, OWL_EINVAL, "a cursor needs the order it was made with");
    return OWL_OK;
}

/* Takes references on the parts and memtables of the wanted partitions and days. */
static int snapshot(owl_store *s, const owl_scan *q, size_t t, struct snap_item **out,
                    size_t *nout)
{
    const owl_schema *sc = s->schemas[t];
    struct snap_item *items = NULL;
    size_t nitems = 0, cap = 0;
    int rc = OWL_OK;
    int64_t now = owl_now_ms();
    int32_t d0 = day_of(sc, q->start > INT64_MIN ? q->start : INT64_MIN / 2);
    int32_t d1 = day_of(sc, q->end < INT64_MAX ? q->end - 1 : INT64_MAX / 2);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns && rc == OWL_OK; i++) {
        struct ptn *p = s->ptns[i];
        if (!ptn_wanted(q, p, t))
            continue;
        int64_t cutoff = retention_cutoff(sc, p, now);
        for (size_t j = 0; j < p->ndays && rc == OWL_OK; j++) {
            struct day *d = p->days[j];
            if (d->last < d0 || d->day > d1)
                continue;
            size_t want = d->nparts + d->nmems;
            if (nitems + want > cap) {
                size_t ncap = (nitems + want) * 2 + 8;
                struct snap_item *grown = realloc(items, ncap * sizeof *grown);
                if (!grown) {
                    rc = OWL_ENOMEM;
                    break;
                }
                items = grown, cap = ncap;
            }
            for (size_t k = 0; k < d->nparts; k++) {
                if (d->parts[k]->dead || d->parts[k]->quarantine)
                    continue;
                d->parts[k]->refs++;
                items[nitems++] = (struct snap_item){p, d->parts[k], NULL, 0, cutoff};
            }
            for (size_t k = 0; k < d->nmems; k++) {
                d->mems[k]->refs++;
                items[nitems++] =
                    (struct snap_item){p, NULL, d->mems[k], d->mems[k]->nrows, cutoff};
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    *out = items, *nout = nitems;
    return rc;
}

static void release(owl_store *s, struct snap_item *items, size_t nitems)
{
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < nitems; k++)
        if (items[k].part)
            owl__part_unref_locked(s, items[k].part);
        else if (--items[k].mem->refs == 0)
            owl_mem_free(s, items[k].mem);
    pthread_mutex_unlock(&s->mu);
    free(items);
}

int owl_store_scan(owl_store *s, const owl_scan *q, owl_scan_stats *stats, owl_error *err)
{
    size_t t;
    if (owl__find_table(s, q->table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", q->table);
    const owl_schema *sc = s->schemas[t];
    struct scan_ctx c = {.s = s, .q = q, .sc = sc, .st = stats, .err = err, .start = q->start,
                         .end = q->end};
    int rc = check_scan(sc, q, &c.fdepth, err);
    if (rc != OWL_OK)
        return rc;
    for (size_t i = 0; i < q->npreds && !c.judge; i++)
        c.judge = text_leaf(&q->preds[i]);
    if (q->filter && !c.judge)
        c.judge = has_text_leaf(q->filter);
    /* the ordered merge needs each part's blocks in time order, which a clustered table's
     * parts (OWL_COL_CLUSTER) are not */
    if ((q->order == OWL_ORDER_ASC || q->order == OWL_ORDER_DESC) &&
        owl__cluster_col(sc) != SIZE_MAX)
        return owl_error_set(err, OWL_EINVAL, "table %s is clustered: ordered scans are not "
                                              "supported", sc->name);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (q->more)
        *q->more = 0;
    const owl_scan_cursor *a = q->after;
    if (a && q->order == OWL_ORDER_ASC && a->time > c.start)
        c.start = a->time; /* rows before the cursor's time were returned already */
    if (a && q->order == OWL_ORDER_DESC && a->time < INT64_MAX && a->time + 1 < c.end)
        c.end = a->time + 1;
    int seen[OWL_MAX_COLS] = {0};
    seen[sc->time_col] = 1;
    for (size_t i = 0; i < q->ncols; i++)
        seen[q->cols[i]] = 1;
    for (size_t i = 0; i < q->npreds; i++)
        seen[q->preds[i].col] = 1;
    if (q->filter)
        owl_filter_cols(q->filter, seen);
    c.need[c.nneed++] = sc->time_col;
    for (size_t i = 0; i < sc->ncols; i++)
        if (seen[i] && i != sc->time_col)
            c.need[c.nneed++] = i;

    struct snap_item *items = NULL;
    size_t nitems = 0;
    rc = snapshot(s, q, t, &items, &nitems);
    int64_t qstart = c.start;
    if (rc == OWL_OK && q->order == OWL_ORDER_CLUSTER) {
        rc = scan_clustered(&c, items, nitems);
    } else if (rc == OWL_OK && q->order != OWL_ORDER_NONE) {
        struct owl_scan narrowed = *q;
        narrowed.start = qstart;
        c.q = &narrowed;
        rc = scan_ordered(&c, items, nitems);
        c.q = q;
    } else if (rc == OWL_OK) {
        owl_block_data bd;
        memset(&bd, 0, sizeof bd);
        for (size_t i = 0; i < nitems && rc == OWL_OK && !c.stop; i++) {
            c.start = qstart > items[i].cutoff ? qstart : items[i].cutoff;
            if (items[i].part)
                rc = scan_part(&c, items[i].p, items[i].part, &bd);
            else
                rc = scan_mem(&c, items[i].p, items[i].mem, items[i].mem_rows);
        }
        owl_block_data_free(&bd);
    }
    for (size_t k = 0; k < q->ncols; k++)
        free(c.out[k]);
    free(c.outkeys), free(c.sel), free(c.keep);
    release(s, items, nitems);
    if (q->more)
        *q->more = c.more;
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory during scan");
    return rc;
}

/* ---------- cursor tokens ----------
 * 26 bytes: version 1, order, time, key, count (int64/uint64 little-endian), as base64url
 * without padding (35 characters). */

#define CURSOR_BYTES 26
#define CURSOR_CHARS 35

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void owl_scan_cursor_format(const owl_scan_cursor *c, char out[OWL_SCAN_CURSOR_TEXT])
{
    uint8_t b[CURSOR_BYTES + 1] = {1, (uint8_t)c->order};
    owl_put64le(b + 2, (uint64_t)c->time);
    owl_put64le(b + 10, c->key);
    owl_put64le(b + 18, c->count);
    size_t o = 0;
    for (size_t i = 0; i < CURSOR_BYTES; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 |
                     (i + 2 < CURSOR_BYTES ? b[i + 2] : 0);
        size_t chars = CURSOR_BYTES - i >= 3 ? 4 : CURSOR_BYTES - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

int owl_scan_cursor_parse(const char *text, owl_scan_cursor *c)
{
    if (!text || strlen(text) != CURSOR_CHARS)
        return OWL_EINVAL;
    uint8_t b[CURSOR_BYTES + 2] = {0};
    size_t o = 0;
    for (size_t i = 0; i < CURSOR_CHARS; i += 4) {
        uint32_t v = 0;
        size_t chars = CURSOR_CHARS - i >= 4 ? 4 : CURSOR_CHARS - i;
        for (size_t k = 0; k < 4; k++) {
            const char *at = k < chars ? strchr(b64, text[i + k]) : b64;
            if (!at || !*at)
                return OWL_EINVAL;
            v = v << 6 | (uint32_t)(at - b64);
        }
        for (size_t k = 0; k < chars - 1; k++)
            b[o++] = (uint8_t)(v >> (16 - 8 * k));
        if (chars < 4 && (v & ((1u << (24 - 8 * (chars - 1))) - 1)) != 0)
            return OWL_EINVAL; /* bits past the last byte must be zero (one spelling only) */
    }
    if (o != CURSOR_BYTES || b[0] != 1 || (b[1] != OWL_ORDER_ASC && b[1] != OWL_ORDER_DESC))
        return OWL_EINVAL;
    c->order = (enum owl_order)b[1];
    c->time = (int64_t)owl_get64le(b + 2);
    c->key = owl_get64le(b + 10);
    c->count = owl_get64le(b + 18);
    return OWL_OK;
}

/* scan.c — scans: a snapshot of the parts and memtables a scan needs is taken under the
 * store mutex, then read and filtered (pred.c) with no store lock held. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index/pred.h"
#include "index/store_int.h"

/* ---------- scans ---------- */

struct scan_ctx {
    owl_store *s;
    const owl_scan *q;
    const owl_schema *sc;
    owl_scan_stats *st;
    int64_t start, end;
    size_t need[OWL_MAX_COLS]; /* columns to read: wanted + predicate columns */
    size_t nneed;
    owl_cell *out[OWL_MAX_COLS];
    size_t outcap;
    uint32_t *sel;
    uint8_t *keep; /* 2 x outcap: rows still matching, and text_pass's scratch */
    size_t selcap;
};

static int ensure_out(struct scan_ctx *c, size_t n)
{
    if (n <= c->outcap)
        return OWL_OK;
    for (size_t i = 0; i < c->q->ncols; i++) {
        owl_cell *p = realloc(c->out[i], n * sizeof *p);
        if (!p)
            return OWL_ENOMEM;
        c->out[i] = p;
    }
    uint32_t *sel = realloc(c->sel, n * sizeof *sel);
    if (!sel)
        return OWL_ENOMEM;
    c->sel = sel;
    uint8_t *keep = realloc(c->keep, 2 * n);
    if (!keep)
        return OWL_ENOMEM;
    c->keep = keep;
    c->outcap = n;
    return OWL_OK;
}

/* Filters rows [0, n) of cols (indexed by schema column) and emits the matches. one_buf:
 * each byte column's values live in one buffer (a decoded part block), so the bytes between
 * them may be read. */
static int emit(struct scan_ctx *c, const struct ptn *p, owl_cell *const *cols, size_t n,
                int one_buf)
{
    int rc = ensure_out(c, n);
    if (rc != OWL_OK)
        return rc;
    const owl_cell *times = cols[c->sc->time_col];
    uint8_t *keep = c->keep, *found = c->keep + n;
    for (size_t r = 0; r < n; r++)
        keep[r] = times[r].i >= c->start && times[r].i < c->end;
    for (size_t i = 0; i < c->q->npreds; i++) {
        const owl_pred *pr = &c->q->preds[i];
        owl_pred_rows(c->sc->cols[pr->col].type, pr, cols[pr->col], n, one_buf, keep, found);
    }
    size_t k = 0;
    for (size_t r = 0; r < n; r++)
        if (keep[r])
            c->sel[k++] = (uint32_t)r;
    if (c->st) {
        c->st->rows_scanned += n;
        c->st->rows_matched += k;
    }
    if (!k)
        return 0;
    owl_batch b = {.nrows = k, .tenant = p->tenant, .partition = p->name};
    for (size_t i = 0; i < c->q->ncols; i++) {
        const owl_cell *src = cols[c->q->cols[i]];
        for (size_t j = 0; j < k; j++)
            c->out[i][j] = src[c->sel[j]];
        b.cols[i] = c->out[i];
    }
    return c->q->fn(c->q->ud, &b);
}

/* Removes r from the day that lists it and drops that reference (caller holds s->mu). */
static void drop_part_locked(owl_store *s, const struct ptn *p, struct part_ref *r)
{
    for (size_t j = 0; j < p->ndays; j++) {
        struct day *d = p->days[j];
        for (size_t k = 0; k < d->nparts; k++) {
            if (d->parts[k] != r)
                continue;
            memmove(d->parts + k, d->parts + k + 1, (d->nparts - k - 1) * sizeof *d->parts);
            d->nparts--;
            owl__part_unref_locked(s, r);
            return;
        }
    }
}

static int scan_part(struct scan_ctx *c, const struct ptn *p, struct part_ref *r,
                     owl_block_data *bd, owl_error *err)
{
    const owl_part_meta *pm = owl_part_get_meta(r->p);
    if (pm->max_time < c->start || pm->min_time >= c->end)
        return OWL_OK;
    if (c->st)
        c->st->parts++;
    for (size_t b = 0; b < pm->nblocks; b++) {
        if (c->st)
            c->st->blocks++;
        if (!owl_part_block_may_match(r->p, b, c->start, c->end, c->q->preds, c->q->npreds)) {
            if (c->st)
                c->st->blocks_skipped++;
            continue;
        }
        bd->bytes_read = 0;
        /* text the bloom let through must still appear in the chunk's stored bytes */
        int rc = OWL_OK, may = 1;
        for (size_t i = 0; i < c->q->npreds && may && rc == OWL_OK; i++)
            if (c->q->preds[i].op == OWL_PRED_TOKEN || c->q->preds[i].op == OWL_PRED_SUBSTR)
                rc = owl_part_block_text_may(r->p, b, c->q->preds[i].col, &c->q->preds[i].text,
                                              bd, &may, err);
        if (rc == OWL_OK && !may) {
            if (c->st) {
                c->st->blocks_skipped++;
                c->st->bytes_read += bd->bytes_read;
            }
            continue;
        }
        if (rc == OWL_OK)
            rc = owl_part_read_block(r->p, b, c->need, c->nneed, bd, err);
        if (rc == OWL_ECORRUPT) {
            owl_errorf("store: %s is corrupt (%s); quarantined", r->path,
                       err ? err->msg : "checksum");
            pthread_mutex_lock(&c->s->mu);
            if (!r->quarantine) {
                r->quarantine = 1;
                c->s->quarantined++;
                drop_part_locked(c->s, p, r);
            }
            pthread_mutex_unlock(&c->s->mu);
            return OWL_OK;
        }
        if (rc != OWL_OK)
            return rc;
        if (c->st)
            c->st->bytes_read += bd->bytes_read;
        if ((rc = emit(c, p, bd->cells, bd->nrows, 1)) != 0)
            return rc;
    }
    return OWL_OK;
}

static int scan_mem(struct scan_ctx *c, const struct ptn *p, struct memtable *m)
{
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->nrows;
    for (size_t off = 0; off < n && rc == 0; off += SCAN_BATCH) {
        size_t len = n - off < SCAN_BATCH ? n - off : SCAN_BATCH;
        owl_cell *cols[OWL_MAX_COLS] = {0};
        for (size_t i = 0; i < c->sc->ncols; i++)
            cols[i] = m->cols[i] + off;
        rc = emit(c, p, cols, len, 0);
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

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

/* What one scan holds on to: references taken under the store mutex. */
struct snap_item {
    struct ptn *p;
    struct part_ref *part;
    struct memtable *mem;
    int64_t cutoff;
};

static int64_t retention_cutoff(const owl_schema *sc, const struct ptn *p, int64_t now_ms)
{
    if (p->retention_days <= 0)
        return INT64_MIN;
    return (now_ms / 1000 - (int64_t)p->retention_days * 86400) * sc->time_per_sec;
}

int owl_store_scan(owl_store *s, const owl_scan *q, owl_scan_stats *stats, owl_error *err)
{
    size_t t;
    if (owl__find_table(s, q->table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", q->table);
    const owl_schema *sc = s->schemas[t];
    if (q->ncols > OWL_MAX_COLS || !q->fn || !q->tenant)
        return owl_error_set(err, OWL_EINVAL, "bad scan request");
    for (size_t i = 0; i < q->ncols; i++)
        if (q->cols[i] >= sc->ncols)
            return owl_error_set(err, OWL_EINVAL, "column %zu out of range", q->cols[i]);
    for (size_t i = 0; i < q->npreds; i++)
        if (q->preds[i].col >= sc->ncols)
            return owl_error_set(err, OWL_EINVAL, "predicate column out of range");
    struct scan_ctx c = {.s = s, .q = q, .sc = sc, .st = stats, .start = q->start, .end = q->end};
    if (stats)
        memset(stats, 0, sizeof *stats);
    int seen[OWL_MAX_COLS] = {0};
    c.need[c.nneed++] = sc->time_col, seen[sc->time_col] = 1;
    for (size_t i = 0; i < q->ncols; i++)
        if (!seen[q->cols[i]])
            seen[q->cols[i]] = 1, c.need[c.nneed++] = q->cols[i];
    for (size_t i = 0; i < q->npreds; i++)
        if (!seen[q->preds[i].col])
            seen[q->preds[i].col] = 1, c.need[c.nneed++] = q->preds[i].col;

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
                items[nitems++] = (struct snap_item){p, d->parts[k], NULL, cutoff};
            }
            for (size_t k = 0; k < d->nmems; k++) {
                d->mems[k]->refs++;
                items[nitems++] = (struct snap_item){p, NULL, d->mems[k], cutoff};
            }
        }
    }
    pthread_mutex_unlock(&s->mu);

    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t i = 0;
    for (; i < nitems && rc == OWL_OK; i++) {
        c.start = q->start > items[i].cutoff ? q->start : items[i].cutoff;
        if (items[i].part)
            rc = scan_part(&c, items[i].p, items[i].part, &bd, err);
        else
            rc = scan_mem(&c, items[i].p, items[i].mem);
    }
    owl_block_data_free(&bd);
    for (size_t k = 0; k < c.q->ncols; k++)
        free(c.out[k]);
    free(c.sel);
    free(c.keep);
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < nitems; k++)
        if (items[k].part)
            owl__part_unref_locked(s, items[k].part);
        else if (--items[k].mem->refs == 0)
            owl_mem_free(items[k].mem);
    pthread_mutex_unlock(&s->mu);
    free(items);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory during scan");
    return rc;
}


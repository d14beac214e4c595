/* compact.c — retention (per-partition days, expired day directories deleted) and
 * compaction (merging a day's small parts, cold sparse days into spans: store.c invariants 4
 * and 5; and settling cold days: their sealed parts rewritten once at compact_zstd_level).
 * A merge writes the groups of a table's owl_combiner as one row each (docs/storage.md
 * "Combining rows at merges"). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "index/store_int.h"

/* ---------- retention ---------- */

void owl__retention_path(const struct ptn *p, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/RETENTION", p->dir);
}

int owl_store_set_retention(owl_store *s, const char *table, const char *tenant,
                            const char *partition, int days, owl_error *err)
{
    size_t t;
    if (owl__find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!owl__valid_name(tenant) || !owl__valid_name(partition) || days < 0 || days > 36500)
        return owl_error_set(err, OWL_EINVAL, "bad retention request (days 0..36500)");
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__get_ptn(s, t, tenant, partition);
    int same = p && !p->dropped && p->retention_days == days;
    pthread_mutex_unlock(&s->mu);
    if (same) /* the common case (callers repeat it with every event): no seal_mu */
        return OWL_OK;
    /* seal_mu orders it with drops, which remove RETENTION: a setting made after a drop
     * returned belongs to the partition started again, and stays */
    pthread_mutex_lock(&s->seal_mu);
    pthread_mutex_lock(&s->mu);
    p = owl__get_ptn(s, t, tenant, partition);
    char path[4200], text[32];
    if (p)
        p->dropped = 0;
    /* unchanged: nothing to write (RETENTION holds it already, or is absent for 0) */
    if (p && p->retention_days == days) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&s->seal_mu);
        return OWL_OK;
    }
    int rc = p ? owl_mkdir_p(p->dir, 0700, err) : OWL_ENOMEM;
    if (rc == OWL_OK) {
        owl__retention_path(p, path, sizeof path);
        int n = snprintf(text, sizeof text, "%d\n", days);
        rc = owl_write_file_atomic(path, text, (size_t)n, 0600, err);
    }
    if (rc == OWL_OK)
        p->retention_days = days;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->seal_mu);
    return rc;
}

void owl__remove_day_locked(owl_store *s, struct ptn *p, size_t j)
{
    struct day *d = p->days[j];
    for (size_t k = 0; k < d->nparts; k++) {
        struct part_ref *r = d->parts[k];
        ptn_count_part(p, r, -1);
        /* at once, not when the last scan lets go: rows arriving later for this day may
         * seal into a part of the same name; a scan reads on through its descriptor */
        if (!r->quarantine && unlink(r->path) == 0)
            r->unlinked = 1;
        r->dead = 1;
        owl__part_unref_locked(s, r);
    }
    for (size_t k = 0; k < d->nmems; k++) {
        p->mem_bytes -= d->mems[k]->raw_bytes;
        p->rows -= d->mems[k]->nrows;
        owl__mem_close_locked(s, d->mems[k]);
        if (--d->mems[k]->refs == 0)
            owl_mem_free(s, d->mems[k]);
    }
    free(d->parts);
    free(d->mems);
    free(d);
    memmove(p->days + j, p->days + j + 1, (p->ndays - j - 1) * sizeof *p->days);
    p->ndays--;
}

int owl_store_retire(owl_store *s, int64_t now_ms, owl_error *err)
{
    char **dirs = NULL;
    size_t ndirs = 0;
    pthread_mutex_lock(&s->seal_mu);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        if (p->retention_days <= 0)
            continue;
        int32_t keep_from = (int32_t)(now_ms / 86400000) - p->retention_days;
        for (size_t j = 0; j < p->ndays;) {
            if (p->days[j]->last >= keep_from) {
                j++;
                continue;
            }
            char **grown = realloc(dirs, (ndirs + 1) * sizeof *grown);
            if (grown) {
                dirs = grown;
                dirs[ndirs++] = owl__day_dir(p, p->days[j]->day, p->days[j]->last);
            }
            owl__remove_day_locked(s, p, j);
        }
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->seal_mu);
    /* Files still read by a scan are unlinked when it ends; the directory goes with the
     * last of them (rmdir fails harmlessly until then and is retried at the next pass). */
    for (size_t i = 0; i < ndirs; i++) {
        if (dirs[i] && rmdir(dirs[i]) != 0 && errno != ENOENT && errno != ENOTEMPTY)
            owl_warn("store: rmdir %s: %s", dirs[i], strerror(errno));
        free(dirs[i]);
    }
    free(dirs);
    int rc = owl__advance_checkpoint(s, err);
    if (rc == OWL_OK)
        rc = owl__drop_sweep(s, err);
    return rc;
}

/* ---------- compaction ---------- */

int owl_store_set_combiner(owl_store *s, const char *table, const owl_combiner *c,
                           owl_error *err)
{
    size_t t;
    if (!table || owl__find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table ? table : "(null)");
    if (!s->combiners)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    s->combiners[t] = c;
    pthread_mutex_unlock(&s->mu);
    return OWL_OK;
}

/* The combiner of p's rows, or NULL. Caller holds mu. */
static const owl_combiner *combiner_of(const owl_store *s, const struct ptn *p)
{
    const owl_combiner *cb = s->combiners ? s->combiners[p->table] : NULL;
    return cb && (!cb->covers || cb->covers(p->name)) ? cb : NULL;
}

/* ---- combining a merge's rows (owl_combiner) ---- */

/* Groups are looked for among the rows written last that share the incoming row's cluster
 * key and time (the run): rows of one group need not be adjacent in the merged order, which
 * sorts by key and time only (the metrics table's rows of one series and window in several
 * units alternate part by part). Each row of the run may head a group, with its state in
 * the slot of its place in the run. A run longer than RUN_MAX rows closes its groups and
 * starts again, so looking costs at most RUN_MAX tests a row. */
#define RUN_MAX 16

struct groups {
    const owl_combiner *cb;   /* NULL: no combining, every call below a no-op */
    size_t first;             /* the run's first row in the output */
    char *state;              /* RUN_MAX states of cb->state_bytes, slot i for row first + i */
    int open[RUN_MAX];        /* slot i holds rows folded in (its group has two or more) */
    owl_arena bytes;          /* combined rows' byte values until their block is written */
};

/* Groups for cb (may be NULL). OWL_ENOMEM. */
static int groups_init(struct groups *g, const owl_combiner *cb)
{
    memset(g, 0, sizeof *g);
    owl_arena_init(&g->bytes, 0);
    g->cb = cb;
    if (cb && !(g->state = calloc(RUN_MAX, cb->state_bytes ? cb->state_bytes : 1)))
        return OWL_ENOMEM;
    return OWL_OK;
}

static void *slot(const struct groups *g, size_t i)
{
    return g->state + i * g->cb->state_bytes;
}

static void groups_free(struct groups *g)
{
    for (size_t i = 0; g->cb && i < RUN_MAX; i++)
        if (g->open[i])
            g->cb->drop(slot(g, i));
    free(g->state);
    owl_arena_free(&g->bytes);
}

static int comb_err(int rc, owl_error *err)
{
    return rc == OWL_OK ? OWL_OK : owl_error_set(err, rc, "merge: combining rows: %s",
                                                 owl_strerror(rc));
}

/* Writes every open group's combined row over its first row in out; the run then starts at
 * row next. */
static int groups_close(struct groups *g, owl_cell *const *out, size_t next, owl_error *err)
{
    int rc = OWL_OK;
    for (size_t i = 0; g->cb && i < RUN_MAX; i++) {
        if (!g->open[i])
            continue;
        g->open[i] = 0;
        int e = g->cb->emit(slot(g, i), out, g->first + i, &g->bytes);
        if (rc == OWL_OK)
            rc = comb_err(e, err);
    }
    g->first = next;
    return rc;
}

/* Folds row b of bc into the group of a row of the run among out's rows [0, j) when one
 * takes it (*joined = 1); else the caller writes it as row j, in the run or starting one. */
static int groups_join(struct groups *g, const owl_schema *sc, size_t kc, owl_cell *const *out,
                       size_t j, owl_cell *const *bc, size_t b, int *joined, owl_error *err)
{
    *joined = 0;
    if (!g->cb || j == g->first)
        return OWL_OK;
    if (out[sc->time_col][j - 1].i != bc[sc->time_col][b].i ||
        (kc != SIZE_MAX && out[kc][j - 1].u != bc[kc][b].u))
        return groups_close(g, out, j, err);
    const owl_cell *const *x = (const owl_cell *const *)bc;
    for (size_t i = 0; i < j - g->first; i++) {
        if (!g->cb->same((const owl_cell *const *)out, g->first + i, x, b))
            continue;
        int rc = OWL_OK;
        if (!g->open[i]) {
            memset(slot(g, i), 0, g->cb->state_bytes);
            g->open[i] = 1;
            rc = g->cb->add(slot(g, i), (const owl_cell *const *)out, g->first + i);
        }
        if (rc == OWL_OK)
            rc = g->cb->add(slot(g, i), x, b);
        *joined = 1;
        return comb_err(rc, err);
    }
    return j - g->first == RUN_MAX ? groups_close(g, out, j, err) : OWL_OK;
}

/* ---- merging parts: streamed, or sorted whole ---- */

/* One source of a streamed merge: its part, the block decoded, a row cursor, and the key of
 * the row before the cursor (a source out of order sends the merge to sort_merge). */
struct msrc {
    owl_part *p;
    size_t nblocks, next; /* blocks, and the next to read */
    owl_block_data cur;
    size_t r;             /* the cursor's row in cur; cur.nrows when none is left */
    uint64_t k;           /* the cursor row's key: cluster column, time */
    int64_t t;
    int keyed;            /* k and t hold a row's key */
};

struct merge {
    const owl_schema *sc;
    size_t kc;            /* cluster column or SIZE_MAX */
    size_t cols[OWL_MAX_COLS];
    struct msrc *src;
    size_t nsrc;
    size_t *heap, nheap;  /* sources with a row left, least key on top */
    owl_block_data *retired; /* blocks read out, freed once the block they fed is written */
    size_t nretired, capretired;
};

/* Whether source a's cursor row comes before b's: the order owl__sort_time_idx gives the
 * rows of the sources concatenated (cluster key, time, then the source's place). */
static int msrc_before(const struct merge *m, size_t a, size_t b)
{
    const struct msrc *x = &m->src[a], *y = &m->src[b];
    if (x->k != y->k)
        return x->k < y->k;
    if (x->t != y->t)
        return x->t < y->t;
    return a < b;
}

static void heap_down(struct merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < m->nheap && msrc_before(m, m->heap[l], m->heap[best]))
            best = l;
        if (l + 1 < m->nheap && msrc_before(m, m->heap[l + 1], m->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Moves source x's cursor to its next row, reading its next block when the one decoded is
 * done (the old one is retired: cells of it may sit in the output block). OWL_OK (x->r ==
 * x->cur.nrows when none is left), OWL_EUNSUPPORTED when the source is out of order, or a
 * read error. */
static int msrc_step(struct merge *m, struct msrc *x, owl_error *err)
{
    uint64_t k = x->k;
    int64_t t = x->t;
    int keyed = x->keyed, first = x->cur.nrows == 0 && x->next == 0;
    if (first || ++x->r >= x->cur.nrows) {
        do {
            if (x->next == x->nblocks) {
                x->r = x->cur.nrows;
                return OWL_OK;
            }
            if (!first) {
                if (m->nretired == m->capretired) {
                    size_t cap = m->capretired ? 2 * m->capretired : 16;
                    owl_block_data *r = realloc(m->retired, cap * sizeof *r);
                    if (!r)
                        return owl_error_set(err, OWL_ENOMEM, "out of memory merging");
                    m->retired = r, m->capretired = cap;
                }
                m->retired[m->nretired++] = x->cur;
            }
            first = 0;
            memset(&x->cur, 0, sizeof x->cur);
            int rc = owl_part_read_block(x->p, x->next++, m->cols, m->sc->ncols, &x->cur, err);
            if (rc != OWL_OK)
                return rc;
        } while (x->cur.nrows == 0);
        x->r = 0;
    }
    x->t = x->cur.cells[m->sc->time_col][x->r].i;
    x->k = m->kc == SIZE_MAX ? 0 : x->cur.cells[m->kc][x->r].u;
    x->keyed = 1;
    return keyed && (x->k < k || (x->k == k && x->t < t)) ? OWL_EUNSUPPORTED : OWL_OK;
}

static void retire_free(struct merge *m)
{
    for (size_t i = 0; i < m->nretired; i++)
        owl_block_data_free(&m->retired[i]);
    m->nretired = 0;
}

/* Writes the rows of src, each part sorted as the writer wants, as one part: a k-way merge
 * through owl_part_writer, holding one decoded block per source and one output block, where
 * sort_merge holds every row twice over. With a combiner (cb, may be NULL) a row joining the
 * group of the output's last row is folded into it; a block is written only once its last
 * row's group is closed, so the group's first row and the source blocks it points into are
 * still held. OWL_EUNSUPPORTED (nothing written) when a source turns out not to be in order. */
static int stream_merge(owl_store *s, const owl_schema *sc, const owl_combiner *cb,
                        struct part_ref **src, size_t nsrc, size_t total, const char *path,
                        const owl_part_info *info, int zlevel, owl_error *err)
{
    struct merge m = {.sc = sc, .kc = owl__cluster_col(sc), .nsrc = nsrc};
    for (size_t c = 0; c < sc->ncols; c++)
        m.cols[c] = c;
    size_t br = s->opt.block_rows;
    owl_part_writer *w = NULL;
    struct groups g;
    owl_cell *out = malloc(sc->ncols * br * sizeof *out);
    m.src = calloc(nsrc, sizeof *m.src);
    m.heap = malloc(nsrc * sizeof *m.heap);
    int rc = groups_init(&g, cb);
    if (!out || !m.src || !m.heap || rc != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory merging %zu rows", total);
        goto out;
    }
    for (size_t i = 0; i < nsrc && rc == OWL_OK; i++) {
        m.src[i].p = src[i]->p;
        m.src[i].nblocks = owl_part_get_meta(src[i]->p)->nblocks;
        if ((rc = msrc_step(&m, &m.src[i], err)) == OWL_OK && m.src[i].r < m.src[i].cur.nrows)
            m.heap[m.nheap++] = i;
    }
    for (size_t i = m.nheap; rc == OWL_OK && i-- > 0;)
        heap_down(&m, i);
    if (rc == OWL_OK)
        rc = owl_part_writer_open(path, sc, info, total, br, zlevel, &w, err);
    owl_rows rows = {0};
    owl_cell *ocols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        rows.cols[c] = ocols[c] = out + c * br;
    size_t taken = 0, written = 0, j = 0; /* source rows read; rows written; rows in out */
    while (rc == OWL_OK && m.nheap) {
        if (taken == total) {
            rc = owl_error_set(err, OWL_ECORRUPT, "merge: the parts hold more rows than their "
                               "footers say");
            break;
        }
        struct msrc *x = &m.src[m.heap[0]];
        int joined;
        rc = groups_join(&g, sc, m.kc, ocols, j, x->cur.cells, x->r, &joined, err);
        if (rc == OWL_OK && !joined && j == br &&
            (rc = groups_close(&g, ocols, 0, err)) == OWL_OK) {
            rows.nrows = j;
            rc = owl_part_writer_add(w, &rows, err);
            retire_free(&m); /* the output block holds no cell of them any more */
            owl_arena_reset(&g.bytes);
            written += j, j = 0;
        }
        if (rc == OWL_OK && !joined) {
            for (size_t c = 0; c < sc->ncols; c++)
                out[c * br + j] = x->cur.cells[c][x->r];
            j++;
        }
        taken++;
        if (rc != OWL_OK || (rc = msrc_step(&m, x, err)) != OWL_OK)
            break;
        if (x->r >= x->cur.nrows)
            m.heap[0] = m.heap[--m.nheap];
        heap_down(&m, 0);
    }
    if (rc == OWL_OK && taken < total)
        rc = owl_error_set(err, OWL_ECORRUPT, "merge: the parts hold fewer rows than their "
                           "footers say");
    if (rc == OWL_OK && j && (rc = groups_close(&g, ocols, 0, err)) == OWL_OK) {
        rows.nrows = j;
        rc = owl_part_writer_add(w, &rows, err);
        written += j;
    }
    if (rc == OWL_OK && written < total)
        rc = owl_part_writer_end(w, err);
    if (rc == OWL_OK) {
        rc = owl_part_writer_finish(w, NULL, err);
        w = NULL;
    }
out:
    owl_part_writer_abort(w);
    groups_free(&g);
    retire_free(&m);
    free(m.retired);
    for (size_t i = 0; m.src && i < nsrc; i++)
        owl_block_data_free(&m.src[i].cur);
    free(m.src);
    free(m.heap);
    free(out);
    return rc;
}

/* Combines the groups of the n sorted rows of cols in place, leaving *kept rows; byte
 * values of combined rows in g's arena. */
static int combine_sorted(struct groups *g, const owl_schema *sc, owl_cell *const *cols,
                          size_t n, size_t *kept, owl_error *err)
{
    size_t kc = owl__cluster_col(sc), w = 0;
    int rc = OWL_OK, joined;
    for (size_t r = 0; r < n && rc == OWL_OK; r++) {
        if ((rc = groups_join(g, sc, kc, cols, w, cols, r, &joined, err)) != OWL_OK || joined)
            continue;
        for (size_t c = 0; w != r && c < sc->ncols; c++)
            cols[c][w] = cols[c][r];
        w++;
    }
    if (rc == OWL_OK)
        rc = groups_close(g, cols, w, err);
    *kept = w;
    return rc;
}

/* The same by reading every row of src at once and sorting them: for sources not in order
 * (stream_merge declined). */
static int sort_merge(owl_store *s, const owl_schema *sc, const owl_combiner *cb,
                      struct part_ref **src, size_t nsrc, size_t total, size_t nblocks,
                      const char *path, const owl_part_info *info, int zlevel, owl_error *err)
{
    struct groups g;
    int rc = groups_init(&g, cb);
    /* a merge's buffers are tens of megabytes: huge pages (owl_big_alloc) fault in 2 MiB at a
     * time, where malloc's fresh mappings would fault 4 KiB pages (Memory reuse in
     * docs/storage.md) */
    owl_block_data *bd = calloc(nblocks, sizeof *bd);
    size_t cells = total * sc->ncols;
    struct time_idx *ix = owl_big_alloc(total * sizeof *ix);
    struct time_idx *tmp = owl_big_alloc(total * sizeof *tmp);
    owl_cell *all = owl_big_alloc(cells * sizeof *all);
    owl_cell *sorted = owl_big_alloc(cells * sizeof *sorted);
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        cols[c] = c;
    if (!bd || !ix || !tmp || !all || !sorted || rc != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory merging %zu rows", total);
        goto out;
    }
    size_t row = 0, blk = 0;
    for (size_t i = 0; i < nsrc && rc == OWL_OK; i++) {
        const owl_part_meta *pm = owl_part_get_meta(src[i]->p);
        for (size_t k = 0; k < pm->nblocks && rc == OWL_OK; k++, blk++) {
            rc = owl_part_read_block(src[i]->p, k, cols, sc->ncols, &bd[blk], err);
            for (size_t r = 0; rc == OWL_OK && r < bd[blk].nrows; r++, row++)
                for (size_t c = 0; c < sc->ncols; c++)
                    all[c * total + row] = bd[blk].cells[c][r];
        }
    }
    if (rc != OWL_OK)
        goto out;
    size_t kc = owl__cluster_col(sc);
    for (size_t r = 0; r < total; r++)
        ix[r].t = all[sc->time_col * total + r].i, ix[r].i = r,
        ix[r].k = kc == SIZE_MAX ? 0 : all[kc * total + r].u;
    if (owl__sort_time_idx_buf(ix, total, tmp) != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory merging %zu rows", total);
        goto out;
    }
    owl_rows rows = {.nrows = total};
    owl_cell *scols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++) {
        for (size_t r = 0; r < total; r++)
            sorted[c * total + r] = all[c * total + ix[r].i];
        rows.cols[c] = scols[c] = sorted + c * total;
    }
    rc = combine_sorted(&g, sc, scols, total, &rows.nrows, err);
    if (rc == OWL_OK)
        rc = owl_part_write(path, sc, info, &rows, s->opt.block_rows, zlevel, NULL, err);
out:
    groups_free(&g);
    if (bd)
        for (size_t k = 0; k < nblocks; k++)
            owl_block_data_free(&bd[k]);
    free(bd);
    owl_big_free(ix, total * sizeof *ix);
    owl_big_free(tmp, total * sizeof *tmp);
    owl_big_free(all, cells * sizeof *all);
    owl_big_free(sorted, cells * sizeof *sorted);
    return rc;
}

/* Writes every row of src (the caller holds a reference on each), in the order a part
 * keeps, as one part at the path of unit d (sequence range first..last), then opens it as
 * *merged: at compact_zstd_level with a level above its sources', or (hot: a merge of a day
 * still receiving rows) at the seal's zstd_level with level 0, as sealed parts are, so that
 * settling rewrites it once the day is cold. Rows of the table's combiner's groups are
 * written combined (owl_store_set_combiner). Caller holds seal_mu, not mu. */
static int merge_write(owl_store *s, struct ptn *p, struct day *d, struct part_ref **src,
                       size_t nsrc, uint64_t first, uint64_t last, int hot,
                       struct part_ref **merged, owl_error *err)
{
    const owl_schema *sc = s->schemas[p->table];
    size_t total = 0, nblocks = 0;
    uint64_t max_lsn = 0;
    int level = 0;
    for (size_t i = 0; i < nsrc; i++) {
        const owl_part_meta *pm = owl_part_get_meta(src[i]->p);
        total += pm->rows;
        nblocks += pm->nblocks;
        if (pm->max_lsn > max_lsn)
            max_lsn = pm->max_lsn;
        if (src[i]->level > level)
            level = src[i]->level;
    }
    if (d->span)
        first = last = max_lsn;
    char *dir = owl__day_dir(p, d->day, d->last);
    if (!dir)
        return owl_error_set(err, OWL_ENOMEM, "out of memory merging %zu rows", total);
    char path[4096];
    int out_level = hot ? 0 : level + 1, zlevel = hot ? s->opt.zstd_level
                                                      : s->opt.compact_zstd_level;
    owl__part_path(p, d, first, last, out_level, path, sizeof path);
    owl_part_info info = {sc->name, p->tenant, p->name, d->day, max_lsn, out_level,
                          d->last - d->day + 1};
    int rc = owl_mkdir_p(dir, 0700, err);
    free(dir);
    pthread_mutex_lock(&s->mu);
    const owl_combiner *cb = combiner_of(s, p);
    pthread_mutex_unlock(&s->mu);
    if (rc == OWL_OK)
        rc = stream_merge(s, sc, cb, src, nsrc, total, path, &info, zlevel, err);
    if (rc == OWL_EUNSUPPORTED) {
        owl_error_clear(err);
        rc = sort_merge(s, sc, cb, src, nsrc, total, nblocks, path, &info, zlevel, err);
    }
    if (rc == OWL_OK && !(*merged = owl__open_part_ref(path, sc, first, last, out_level, err)))
        rc = OWL_EIO;
    return rc;
}

/* Takes a reference on each of n parts (caller holds mu). */
static void ref_parts(struct part_ref **src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        src[i]->refs++;
}

static void unref_parts(owl_store *s, struct part_ref **src, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        owl__part_unref_locked(s, src[i]);
    pthread_mutex_unlock(&s->mu);
}

/* Removes r from d's list (found by pointer: a scan may have quarantined it meanwhile), marks
 * it dead and drops d's reference. Returns the index it had, or SIZE_MAX. Caller holds mu. */
size_t owl__unlist_part_locked(owl_store *s, struct ptn *p, struct day *d, struct part_ref *r)
{
    for (size_t k = 0; k < d->nparts; k++) {
        if (d->parts[k] != r)
            continue;
        memmove(d->parts + k, d->parts + k + 1, (d->nparts - k - 1) * sizeof *d->parts);
        d->nparts--;
        ptn_count_part(p, r, -1);
        r->dead = 1;
        owl__part_unref_locked(s, r);
        return k;
    }
    return SIZE_MAX;
}

/* Inserts r at index at (clamped) of d's list; on failure r is dropped. Caller holds mu. */
static void insert_part_locked(owl_store *s, struct ptn *p, struct day *d, struct part_ref *r,
                               size_t at)
{
    if (owl__add_part_ref(p, d, r) != OWL_OK) {
        r->dead = 1;
        owl__part_unref_locked(s, r);
        return;
    }
    if (at < d->nparts - 1) {
        memmove(d->parts + at + 1, d->parts + at, (d->nparts - 1 - at) * sizeof *d->parts);
        d->parts[at] = r;
    }
}

/* Merges the parts [a, b) of day d into one part (caller holds seal_mu); hot as merge_write. */
static int merge_parts(owl_store *s, struct ptn *p, struct day *d, size_t a, size_t b, int hot,
                       owl_error *err)
{
    size_t nsrc = b - a;
    struct part_ref **src = calloc(nsrc, sizeof *src), *merged = NULL;
    if (!src)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    memcpy(src, d->parts + a, nsrc * sizeof *src);
    ref_parts(src, nsrc);
    pthread_mutex_unlock(&s->mu);
    int rc = merge_write(s, p, d, src, nsrc, src[0]->first, src[nsrc - 1]->last, hot, &merged,
                         err);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        /* the merged part takes the place of the first source, keeping the list in order */
        size_t at = SIZE_MAX;
        for (size_t i = 0; i < nsrc; i++) {
            size_t k = owl__unlist_part_locked(s, p, d, src[i]);
            if (at == SIZE_MAX)
                at = k;
        }
        insert_part_locked(s, p, d, merged, at == SIZE_MAX ? d->nparts : at);
        s->compactions++;
        pthread_mutex_unlock(&s->mu);
    }
    unref_parts(s, src, nsrc);
    free(src);
    return rc;
}

/* Span compaction (invariant 5). A unit is a candidate when it is a cold day (no memtable,
 * at least SPAN_COLD_DAYS old, under SPAN_SMALL_BYTES) or a span under SPAN_TARGET_BYTES with
 * no other unit inside its days. Runs of candidates adjacent in day order merge into one
 * span while the run stays within SPAN_TARGET_BYTES, SPAN_MAX_ROWS and the partition's
 * width limit (a span is dropped only when its last day expires, so with retention R a span
 * covers at most R/4 days). */
#define SPAN_COLD_DAYS 2
#define SPAN_SMALL_BYTES ((uint64_t)2 << 20)
#define SPAN_TARGET_BYTES ((uint64_t)8 << 20)
#define SPAN_MAX_ROWS ((uint64_t)1 << 19)
#define SPAN_MAX_DAYS 366

static int cmp_unit(const void *a, const void *b)
{
    const struct day *x = *(struct day *const *)a, *y = *(struct day *const *)b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->last > y->last ? -1 : x->last < y->last; /* a span before days inside it */
}

static uint64_t unit_bytes(const struct day *d, uint64_t *rows)
{
    uint64_t n = 0;
    for (size_t k = 0; k < d->nparts; k++) {
        const owl_part_meta *pm = owl_part_get_meta(d->parts[k]->p);
        n += pm->file_bytes;
        *rows += pm->rows;
    }
    return n;
}

/* Caller holds mu; units sorted (cmp_unit); i indexes u; bytes and rows are u[i]'s. */
static int span_candidate(struct day *const *u, size_t n, size_t i, uint64_t bytes,
                          uint64_t rows, int32_t today)
{
    const struct day *d = u[i];
    if (!d->nparts || d->nmems)
        return 0;
    for (size_t k = 0; k < d->nparts; k++)
        if (d->parts[k]->dead || d->parts[k]->quarantine)
            return 0;
    if (!d->span) {
        for (size_t j = 0; j < n; j++) /* a day inside a span stays a day */
            if (u[j]->span && u[j]->day <= d->day && d->day <= u[j]->last)
                return 0;
        return d->day <= today - SPAN_COLD_DAYS && bytes < SPAN_SMALL_BYTES;
    }
    /* a span half full is left alone, so spans are not rewritten again and again */
    return bytes < SPAN_TARGET_BYTES / 2 && rows < SPAN_MAX_ROWS / 2 &&
           (i + 1 == n || u[i + 1]->day > d->last);
}

/* Merges the units run[0..nrun) into one span (caller holds seal_mu). */
static int merge_span(owl_store *s, struct ptn *p, struct day **run, size_t nrun, owl_error *err)
{
    struct day span = {.day = run[0]->day, .span = 1};
    size_t nsrc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < nrun; i++) {
        nsrc += run[i]->nparts;
        if (run[i]->last > span.last)
            span.last = run[i]->last;
    }
    struct part_ref **src = calloc(nsrc, sizeof *src), *merged = NULL;
    if (src) {
        size_t o = 0;
        for (size_t i = 0; i < nrun; i++)
            for (size_t k = 0; k < run[i]->nparts; k++)
                src[o++] = run[i]->parts[k];
        ref_parts(src, nsrc);
    }
    pthread_mutex_unlock(&s->mu);
    if (!src)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = merge_write(s, p, &span, src, nsrc, 0, 0, 0, &merged, err);
    char **dirs = calloc(nrun, sizeof *dirs);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        struct day *d = owl__add_unit(p, span.day, span.last);
        if (d) {
            d->sealed_lsn = owl_part_get_meta(merged->p)->max_lsn;
            insert_part_locked(s, p, d, merged, 0);
        } else {
            merged->dead = 1;
            owl__part_unref_locked(s, merged);
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        for (size_t i = 0; rc == OWL_OK && i < nrun; i++) {
            struct day *u = run[i];
            for (size_t k = 0; k < nsrc; k++)
                owl__unlist_part_locked(s, p, u, src[k]);
            /* a day that took new rows meanwhile stays (its sealed_lsn still holds) */
            if (u->nparts || u->nmems)
                continue;
            for (size_t j = 0; j < p->ndays; j++)
                if (p->days[j] == u) {
                    if (dirs)
                        dirs[i] = owl__day_dir(p, u->day, u->last);
                    owl__remove_day_locked(s, p, j);
                    break;
                }
        }
        if (rc == OWL_OK)
            s->compactions++;
        pthread_mutex_unlock(&s->mu);
    }
    unref_parts(s, src, nsrc);
    /* empty now unless a scan still reads a file there; open removes it then */
    for (size_t i = 0; dirs && i < nrun; i++) {
        if (dirs[i])
            rmdir(dirs[i]);
        free(dirs[i]);
    }
    free(dirs);
    free(src);
    return rc;
}

/* Finds one run of span candidates in p and merges it; *merged = 1 when it did. */
static int span_pass(owl_store *s, struct ptn *p, int32_t today, int *merged, owl_error *err)
{
    *merged = 0;
    pthread_mutex_lock(&s->mu);
    size_t n = p->ndays;
    struct day **u = malloc((n ? n : 1) * sizeof *u), **run = malloc((n ? n : 1) * sizeof *run);
    if (!u || !run) {
        pthread_mutex_unlock(&s->mu);
        free(u), free(run);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    if (n) { /* a partition with no day yet (its retention set first) has days NULL */
        memcpy(u, p->days, n * sizeof *u);
        qsort(u, n, sizeof *u, cmp_unit);
    }
    int32_t width = p->retention_days > 0 ? p->retention_days / 4 : SPAN_MAX_DAYS;
    if (width > SPAN_MAX_DAYS)
        width = SPAN_MAX_DAYS;
    size_t nrun = 0;
    uint64_t bytes = 0, rows = 0;
    for (size_t i = 0; i <= n; i++) {
        uint64_t r = 0, b = i < n ? unit_bytes(u[i], &r) : 0;
        int cand = i < n && span_candidate(u, n, i, b, r, today);
        if (cand && (nrun == 0 || (bytes + b <= SPAN_TARGET_BYTES && rows + r <= SPAN_MAX_ROWS &&
                                   u[i]->last - run[0]->day < width))) {
            run[nrun++] = u[i];
            bytes += b, rows += r;
            continue;
        }
        if (nrun >= 2)
            break;
        /* start again from u[i] when it can begin a run */
        nrun = 0, bytes = 0, rows = 0;
        if (cand) {
            run[nrun++] = u[i];
            bytes = b, rows = r;
        }
    }
    pthread_mutex_unlock(&s->mu);
    int rc = OWL_OK;
    if (nrun >= 2 && width >= 2) {
        rc = merge_span(s, p, run, nrun, err);
        *merged = rc == OWL_OK;
    }
    free(u), free(run);
    return rc;
}

/* Settling. A sealed part is written at zstd_level, fast enough to keep up with ingest; a
 * merge writes at compact_zstd_level. A day that receives no more rows would keep its
 * sealed parts at the fast level for good when they are fewer than compact_min_parts (one,
 * most often), so a cold day is rewritten once. Cold: not today (UTC; a day ahead of the
 * clock counts too, as year-less log dates give), no memtable, and no row for
 * settle_age_ms. A cold day is settled when none of its parts has level 0 (a part of level 1
 * or more was written by a merge, at compact_zstd_level). Otherwise its first level-0 part,
 * with the parts after it up to compact_max_rows rows, is merged into one part of level >= 1;
 * the rewrite is never repeated, as its level says. A small day of the last SPAN_COLD_DAYS
 * waits: it may still join a span, which is written at compact_zstd_level too, and the span
 * pass runs first; unless its partition has a combiner, whose merge shrinks a backfilled
 * day's partial rows (metrics roll-ups: ~40x) for every read until then. Late rows for a settled day bring a level-0 part and the day is merged
 * once more. */
static int settle_candidate(const owl_store *s, const struct ptn *p, const struct day *d,
                            int32_t today, int64_t now)
{
    if (d->span || d->nmems || !d->nparts || d->day == today ||
        now - d->active_ms < s->opt.settle_age_ms ||
        s->opt.compact_zstd_level <= s->opt.zstd_level)
        return 0;
    uint64_t rows = 0;
    if (unit_bytes(d, &rows) < SPAN_SMALL_BYTES && d->day < today &&
        d->day > today - SPAN_COLD_DAYS && !combiner_of(s, p))
        return 0;
    for (size_t k = 0; k < d->nparts; k++)
        if (d->parts[k]->dead || d->parts[k]->quarantine)
            return 0;
    return 1;
}

/* The parts [*a, *b) of d to settle (*a == *b: none). Caller holds mu. */
static void settle_run(const owl_store *s, const struct day *d, size_t *a, size_t *b)
{
    size_t i = 0;
    while (i < d->nparts && d->parts[i]->level > 0)
        i++;
    *a = *b = i;
    if (i == d->nparts)
        return;
    uint64_t rows = owl_part_get_meta(d->parts[i]->p)->rows;
    for (*b = i + 1; *b < d->nparts; (*b)++) {
        uint64_t r = owl_part_get_meta(d->parts[*b]->p)->rows;
        if (rows + r > s->opt.compact_max_rows)
            break;
        rows += r;
    }
}

/* Partition i and its day j under mu (NULL past the end); valid while seal_mu is held, since
 * only its holders free days and partitions. */
static struct ptn *ptn_at(owl_store *s, size_t i, size_t j, struct day **d)
{
    pthread_mutex_lock(&s->mu);
    struct ptn *p = i < s->nptns ? s->ptns[i] : NULL;
    *d = p && j < p->ndays ? p->days[j] : NULL;
    pthread_mutex_unlock(&s->mu);
    return p;
}

/* The run of parts [*a, *b) of the day d to merge (*a == *b: none). Caller holds mu. Parts of
 * half the run limit or more are left alone (a merge rewrites every row of its sources: a
 * big part merged again with each few new ones would be rewritten over and over); from the
 * first smaller part on, the parts up to the limit, when they are compact_min_parts or more.
 * While the day still has memtables (rows arriving) the merge is *hot: the limit is a quarter
 * of compact_max_rows and only level-0 parts take part (merge_write writes them at the seal's
 * level, for the core the merge shares with ingest; a part a merge wrote at the compaction
 * level is not rewritten at a lower one). */
static void merge_run(const owl_store *s, const struct day *d, size_t *a, size_t *b, int *hot)
{
    *hot = d->nmems > 0;
    uint64_t cap = *hot ? s->opt.compact_max_rows / 4 : s->opt.compact_max_rows, rows = 0;
    size_t i = 0, n = d->nparts;
    while (i < n && (owl_part_get_meta(d->parts[i]->p)->rows >= cap / 2 ||
                     (*hot && d->parts[i]->level > 0)))
        i++;
    size_t e = i;
    while (e < n && !(*hot && d->parts[e]->level > 0)) {
        uint64_t r = owl_part_get_meta(d->parts[e]->p)->rows;
        if (e - i >= 2 && rows + r > cap)
            break;
        rows += r;
        e++;
    }
    *a = i;
    *b = e - i >= s->opt.compact_min_parts && e - i >= 2 ? e : i;
}

int owl_store_compact(owl_store *s, owl_error *err)
{
    int rc = OWL_OK;
    int32_t today = (int32_t)(owl_now_ms() / 86400000);
    int64_t now = owl_now_ms();
    for (size_t i = 0; rc == OWL_OK; i++) {
        pthread_mutex_lock(&s->mu);
        int more = i < s->nptns;
        pthread_mutex_unlock(&s->mu);
        if (!more)
            break;
        /* merges of many parts, then spans, then settling, one merge per seal_mu hold
         * (seconds at the compaction level); the janitor seals what filled meanwhile before
         * the next (seals and compaction share the background thread), and an append that
         * leaves its memtable twice full waits meanwhile (owl_store_append's backpressure),
         * so memory stays bounded */
        for (int pass = 0; pass < 3 && rc == OWL_OK; pass++)
            for (size_t j = 0; rc == OWL_OK;) {
                int merged = 0;
                struct day *d;
                pthread_mutex_lock(&s->seal_mu);
                struct ptn *p = ptn_at(s, i, j, &d);
                if (!p || (pass != 1 && !d)) {
                    pthread_mutex_unlock(&s->seal_mu);
                    break;
                }
                size_t a = 0, b = 0;
                int hot = 0;
                if (pass == 1) {
                    rc = span_pass(s, p, today, &merged, err);
                } else {
                    pthread_mutex_lock(&s->mu);
                    if (pass == 0 && !d->span)
                        merge_run(s, d, &a, &b, &hot);
                    else if (pass == 2 && settle_candidate(s, p, d, today, now))
                        settle_run(s, d, &a, &b);
                    pthread_mutex_unlock(&s->mu);
                    if (b > a && (rc = merge_parts(s, p, d, a, b, hot, err)) == OWL_OK)
                        merged = 1;
                }
                pthread_mutex_unlock(&s->seal_mu);
                if (merged && rc == OWL_OK)
                    rc = owl__seal_some(s, 0, err);
                if (pass == 1 && !merged)
                    break;
                if (pass != 1 && !merged)
                    j++; /* a day merged once may have another run: look again */
            }
    }
    return rc;
}


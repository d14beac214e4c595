/* memtable.c — memtables (rows appended in WAL order, read by scans without a lock) and
 * sealing them into parts, oldest first (store.c invariants 1-3). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/util.h"
#include "index/store_int.h"

struct memtable *owl_mem_new(owl_store *s, size_t table)
{
    struct memtable *m = NULL;
    if (s && s->spare_mem) {
        pthread_mutex_lock(&s->spare_mu);
        for (size_t k = 0; k < MEM_SPARES && !m; k++) {
            m = s->spare_mem[table * MEM_SPARES + k];
            s->spare_mem[table * MEM_SPARES + k] = NULL;
        }
        pthread_mutex_unlock(&s->spare_mu);
    }
    if (!m) {
        if (!(m = calloc(1, sizeof *m)))
            return NULL;
        owl_arena_init_big(&m->arena, ARENA_BLOCK);
    }
    m->created_ms = owl_now_ms();
    m->refs = 1;
    m->table = table;
    return m;
}

void owl__mem_close_locked(owl_store *s, struct memtable *m)
{
    m->closed = 1;
    pthread_cond_broadcast(&s->closed_cv);
}

void owl_mem_free(owl_store *s, struct memtable *m)
{
    if (!m)
        return;
    if (s && s->spare_mem) {
        pthread_mutex_lock(&s->spare_mu);
        struct memtable **slot = NULL;
        for (size_t k = 0; k < MEM_SPARES && !slot; k++)
            if (!s->spare_mem[m->table * MEM_SPARES + k])
                slot = &s->spare_mem[m->table * MEM_SPARES + k];
        if (slot) {
            owl_arena_reset(&m->arena);
            m->nrows = m->live_chunks = 0;
            m->min_lsn = m->max_lsn = m->raw_bytes = 0;
            m->varies = 0;
            m->created_ms = 0;
            m->refs = m->closed = 0;
            *slot = m;
        }
        pthread_mutex_unlock(&s->spare_mu);
        if (slot)
            return;
    }
    for (size_t k = 0; k < MEM_MAX_CHUNKS; k++)
        owl_big_free(m->chunk[k], m->chunk_bytes[k]);
    owl_arena_free(&m->arena);
    free(m);
}

/* Sets m->varies' bit of each column of rows src[0..n) not all equal to row 0's cell (first;
 * the memtable's own row 0, or src[0] when these rows begin it). */
static void note_varies(struct memtable *m, const owl_schema *sc, const owl_rows *r, size_t from,
                        size_t n, size_t at)
{
    for (size_t c = 0; c < sc->ncols; c++) {
        if (m->varies >> c & 1)
            continue;
        const owl_cell *src = r->cols[c] + from;
        const owl_cell *first = m->nrows + at ? owl_mem_cell(m, c, 0) : src;
        for (size_t i = 0; i < n; i++)
            if (!owl__same_cell(sc->cols[c].type, &src[i], first)) {
                m->varies |= 1u << c;
                break;
            }
    }
}

/* A memtable's cells are written around the cache: by the time anything reads them (a seal,
 * after the rest of the memtable has filled; a scan) they are long evicted, and a store that
 * misses the cache first reads the line from memory. Streamed (non-temporal) stores skip
 * that read: of span ingest's time, the appends' cell writes fell by a sixth. A cell is two
 * words, 16-byte aligned in a chunk (owl_big_alloc or malloc memory, 16-byte cells).
 * owl_mem_append ends with mem_stores_done, which orders these stores before the rows are
 * published (nrows, under s->mu) to readers on other threads. */
static inline void cell_put(owl_cell *dst, const owl_cell *src)
{
#ifdef __SSE2__
    _mm_stream_si128((__m128i *)dst, _mm_loadu_si128((const __m128i *)src));
#else
    *dst = *src;
#endif
}

static inline void cell_bytes(owl_cell *dst, const void *p, size_t n)
{
#ifdef __SSE2__
    _mm_stream_si128((__m128i *)dst, _mm_set_epi64x((long long)n, (long long)(uintptr_t)p));
#else
    dst->b.p = p;
    dst->b.n = n;
#endif
}

static inline void mem_stores_done(void)
{
#ifdef __SSE2__
    _mm_sfence();
#endif
}

/* Copies rows [from, from + n) of r into the chunks from row m->nrows + at on, all inside one
 * chunk. */
static int append_run(struct memtable *m, const owl_schema *sc, const owl_rows *r, size_t from,
                      size_t n, size_t at)
{
    size_t off, rows;
    size_t k = mem_chunk_of(m->nrows + at, &off, &rows);
    if (k >= m->live_chunks) { /* this use's first row in chunk k */
        size_t need = rows * sc->ncols * sizeof(owl_cell);
        if (m->chunk_bytes[k] < need) {
            owl_big_free(m->chunk[k], m->chunk_bytes[k]);
            m->chunk_bytes[k] = 0;
            if (!(m->chunk[k] = owl_big_alloc(need)))
                return OWL_ENOMEM;
            m->chunk_bytes[k] = need;
        }
        m->live_chunks = k + 1;
    }
    note_varies(m, sc, r, from, n, at);
    for (size_t c = 0; c < sc->ncols; c++) {
        owl_cell *dst = m->chunk[k] + c * rows + off;
        const owl_cell *src = r->cols[c] + from;
        if (!owl_type_is_bytes(sc->cols[c].type)) {
            for (size_t i = 0; i < n; i++)
                cell_put(&dst[i], &src[i]);
            m->raw_bytes += 8 * n;
            continue;
        }
        size_t w = owl_type_id_width(sc->cols[c].type);
        if (w == 8 || w == 16) { /* ids (of that width: validated) side by side, one take */
            uint8_t *p = owl_arena_alloc(&m->arena, n * w);
            if (!p)
                return OWL_ENOMEM;
            for (size_t i = 0; i < n; i++, p += w) {
                if (w == 16)
                    memcpy(p, src[i].b.p, 16);
                else
                    memcpy(p, src[i].b.p, 8);
                cell_bytes(&dst[i], p, w);
            }
            m->raw_bytes += n * w;
            continue;
        }
        const void *last = NULL;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && src[i].b.p == src[i - 1].b.p && src[i].b.n == src[i - 1].b.n) {
                /* the same bytes as the row before (a unit, say) */
                cell_bytes(&dst[i], last, src[i].b.n);
                m->raw_bytes += src[i].b.n;
                continue;
            }
            void *p = owl_arena_copy(&m->arena, src[i].b.p, src[i].b.n);
            if (!p)
                return OWL_ENOMEM;
            last = p;
            cell_bytes(&dst[i], p, src[i].b.n);
            m->raw_bytes += src[i].b.n;
        }
    }
    return OWL_OK;
}

int owl_mem_append(struct memtable *m, const owl_schema *sc, const owl_rows *r, size_t from,
                   size_t to, uint64_t lsn)
{
    size_t done = 0, n = to - from;
    while (done < n) {
        size_t off, rows;
        if (mem_chunk_of(m->nrows + done, &off, &rows) >= MEM_MAX_CHUNKS)
            return OWL_ENOMEM;
        size_t len = rows - off < n - done ? rows - off : n - done;
        int rc = append_run(m, sc, r, from + done, len, done);
        if (rc != OWL_OK)
            return rc;
        done += len;
    }
    mem_stores_done();
    if (!m->nrows)
        m->min_lsn = lsn;
    m->max_lsn = lsn;
    m->nrows += n;
    return OWL_OK;
}

static void mem_unref(owl_store *s, struct memtable *m)
{
    pthread_mutex_lock(&s->mu);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        owl_mem_free(s, m);
}

/* ---------- sealing ---------- */

size_t owl__cluster_col(const owl_schema *sc)
{
    for (size_t c = 0; c < sc->ncols; c++)
        if (sc->cols[c].flags & OWL_COL_CLUSTER)
            return c;
    return SIZE_MAX;
}

int owl__cmp_time_idx(const void *a, const void *b)
{
    const struct time_idx *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The sort key's 16 bytes, least significant first: time's 8 (its sign bit flipped, so
 * that the unsigned order of the bytes is the signed order of the times), then the cluster
 * key's 8. */
static inline unsigned key_byte(const struct time_idx *x, int pass)
{
    uint64_t v = pass < 8 ? (uint64_t)x->t ^ (1ull << 63) : x->k;
    return (unsigned)(v >> (8 * (pass & 7))) & 0xff;
}

/* One LSD radix pass over key byte `pass` from src into dst, stable, with that byte's
 * histogram in count (turned into the buckets' starts here). */
static void radix_pass(const struct time_idx *src, struct time_idx *dst, size_t n, int pass,
                       size_t *count)
{
    size_t pos = 0;
    for (int b = 0; b < 256; b++) {
        size_t c = count[b];
        count[b] = pos;
        pos += c;
    }
    for (size_t i = 0; i < n; i++)
        dst[count[key_byte(&src[i], pass)]++] = src[i];
}

int owl__sort_time_idx(struct time_idx *ix, size_t n)
{
    return owl__sort_time_idx_buf(ix, n, NULL);
}

static inline int idx_less(const struct time_idx *a, const struct time_idx *b)
{
    if (a->k != b->k)
        return a->k < b->k;
    if (a->t != b->t)
        return a->t < b->t;
    return a->i < b->i;
}

static void insertion_sort(struct time_idx *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct time_idx v = x[i];
        size_t j = i;
        for (; j > 0 && idx_less(&v, &x[j - 1]); j--)
            x[j] = x[j - 1];
        x[j] = v;
    }
}

static inline void idx_swap(struct time_idx *a, struct time_idx *b)
{
    struct time_idx t = *a;
    *a = *b;
    *b = t;
}

/* Quicksort (median of three; the smaller side first, so the stack stays O(log n)) down to
 * insertion sorts: a bucket of the top-bits pass, a trace's rows. The order is total (the
 * index breaks ties), so stability does not matter. */
static void quick_sort(struct time_idx *x, size_t n)
{
    while (n > 16) {
        struct time_idx *lo = x, *mid = x + n / 2, *hi = x + n - 1;
        if (idx_less(mid, lo))
            idx_swap(mid, lo);
        if (idx_less(hi, mid)) {
            idx_swap(hi, mid);
            if (idx_less(mid, lo))
                idx_swap(mid, lo);
        }
        struct time_idx p = *mid;
        size_t i = 0, j = n - 1;
        for (;;) { /* Hoare: x[0] <= p <= x[n - 1] stop both scans */
            while (idx_less(&x[i], &p))
                i++;
            while (idx_less(&p, &x[j]))
                j--;
            if (i >= j)
                break;
            idx_swap(&x[i++], &x[j--]);
        }
        size_t left = j + 1; /* x[0..j] <= p <= x[j+1..n) */
        if (left < n - left) {
            quick_sort(x, left);
            x += left, n -= left;
        } else {
            quick_sort(x + left, n - left);
            n = left;
        }
    }
    insertion_sort(x, n);
}

static int lsd_sort(struct time_idx *ix, size_t n, struct time_idx *tmp);

/* Cluster keys are hashes (a trace id's, say): one pass on their top bits leaves buckets of a
 * row or a trace's few rows, each finished on its own, instead of the 13 or so passes of an
 * LSD sort over keys and times. 0: the keys are too alike for it (a table without a cluster
 * column has them all 0), nothing done. */
static int top_bits_sort(struct time_idx *ix, size_t n, struct time_idx *tmp, int *done)
{
    int bits = 63 - __builtin_clzll(n); /* about a row a bucket */
    if (bits > 16)
        bits = 16;
    size_t nb = (size_t)1 << bits, most = 0;
    *done = 0;
    /* bucket b's count in at[b + 1], then its start in at[b]; the scatter moves at[b] to
     * its end, which is bucket b + 1's start */
    uint32_t *at = calloc(nb + 1, sizeof *at);
    if (!at)
        return OWL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        at[(ix[i].k >> (64 - bits)) + 1]++;
    for (size_t b = 1; b <= nb; b++) {
        if (at[b] > most)
            most = at[b];
        at[b] += at[b - 1];
    }
    if (most > n / 8) { /* a few keys, or keys of a few top bits */
        free(at);
        return OWL_OK;
    }
    for (size_t i = 0; i < n; i++) /* stable: a bucket holds its rows in index order */
        tmp[at[ix[i].k >> (64 - bits)]++] = ix[i];
    int rc = OWL_OK;
    for (size_t b = 0; b < nb && rc == OWL_OK; b++) {
        size_t from = b ? at[b - 1] : 0, len = at[b] - from;
        struct time_idx *x = tmp + from;
        if (len < 4096)
            quick_sort(x, len);
        else
            rc = lsd_sort(x, len, ix); /* ix's first len elements are free as scratch */
    }
    free(at);
    if (rc == OWL_OK) {
        memcpy(ix, tmp, n * sizeof *ix);
        *done = 1;
    }
    return rc;
}

int owl__sort_time_idx_buf(struct time_idx *ix, size_t n, struct time_idx *buf)
{
    if (n < 4096) { /* small: a comparison sort is as quick and needs no buffer */
        qsort(ix, n, sizeof *ix, owl__cmp_time_idx);
        return OWL_OK;
    }
    struct time_idx *tmp = buf ? buf : malloc(n * sizeof *tmp);
    if (!tmp)
        return OWL_ENOMEM;
    int done;
    int rc = top_bits_sort(ix, n, tmp, &done);
    if (rc == OWL_OK && !done)
        rc = lsd_sort(ix, n, tmp);
    if (tmp != buf)
        free(tmp);
    return rc;
}

/* LSD radix sort of ix[0..n) with tmp (n elements) as the other buffer. */
static int lsd_sort(struct time_idx *ix, size_t n, struct time_idx *tmp)
{
    /* LSD: time's bytes, then the cluster key's; each pass stable, so (k, t, i) order with i
     * the order the elements came in (callers fill ix by i). A byte's histogram does not
     * depend on the order, so all 16 are counted in one read; a byte the same in every
     * element needs no pass. */
    size_t (*count)[256] = calloc(16, sizeof *count);
    if (!count)
        return OWL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = (uint64_t)ix[i].t ^ (1ull << 63), k = ix[i].k;
        for (int byte = 0; byte < 8; byte++) {
            count[byte][(t >> (8 * byte)) & 0xff]++;
            count[8 + byte][(k >> (8 * byte)) & 0xff]++;
        }
    }
    struct time_idx *a = ix, *b = tmp;
    for (int pass = 0; pass < 16; pass++) {
        if (count[pass][key_byte(&ix[0], pass)] == n)
            continue;
        radix_pass(a, b, n, pass, count[pass]);
        struct time_idx *t = a;
        a = b;
        b = t;
    }
    free(count);
    if (a != ix)
        memcpy(ix, a, n * sizeof *ix);
    return OWL_OK;
}

/* Makes *p hold at least n elements of size elem (contents not kept). */
static int scratch_grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (*cap >= n)
        return OWL_OK;
    n += n / 4; /* memtables vary in size: room for the next, somewhat larger one */
    owl_big_free(*p, *cap * elem);
    *cap = 0;
    if (!(*p = owl_big_alloc(n * elem)))
        return OWL_ENOMEM;
    *cap = n;
    return OWL_OK;
}

void owl__seal_scratch_free(struct seal_scratch *sc)
{
    for (size_t c = 0; c < OWL_MAX_COLS; c++)
        owl_big_free(sc->cols[c], sc->col_rows[c] * sizeof(owl_cell));
    owl_big_free(sc->ix, sc->ix_rows * sizeof *sc->ix);
    owl_big_free(sc->tmp, sc->tmp_rows * sizeof *sc->tmp);
    memset(sc, 0, sizeof *sc);
}

#define SEAL_PREFETCH 16

/* The order a seal writes m's n rows in: z->ix[0..n) by (cluster key, time, arrival), *sorted
 * 1 when that is the order they came in (caller holds seal_mu). The index stays allocated
 * from one seal to the next: its memory is refilled instead of faulted in afresh. */
static int seal_order(owl_store *s, const owl_schema *sc, struct memtable *m, size_t n,
                      int *sorted)
{
    struct seal_scratch *z = &s->seal;
    if (scratch_grow((void **)&z->ix, &z->ix_rows, n, sizeof *z->ix) != OWL_OK)
        return OWL_ENOMEM;
    struct time_idx *ix = z->ix;
    size_t kc = owl__cluster_col(sc);
    for (size_t i = 0, len; i < n; i += len) {
        const owl_cell *t = owl_mem_run(m, sc->time_col, i, n, &len);
        for (size_t j = 0; j < len; j++)
            ix[i + j].t = t[j].i, ix[i + j].i = i + j, ix[i + j].k = 0;
    }
    if (kc != SIZE_MAX)
        for (size_t i = 0, len; i < n; i += len) {
            const owl_cell *k = owl_mem_run(m, kc, i, n, &len);
            for (size_t j = 0; j < len; j++)
                ix[i + j].k = k[j].u;
        }
    *sorted = 1;
    for (size_t i = 1; i < n && *sorted; i++)
        if (owl__cmp_time_idx(&ix[i - 1], &ix[i]) > 0)
            *sorted = 0;
    if (!*sorted && (scratch_grow((void **)&z->tmp, &z->tmp_rows, n, sizeof *z->tmp) != OWL_OK ||
                     owl__sort_time_idx_buf(ix, n, z->tmp) != OWL_OK))
        return OWL_ENOMEM;
    return OWL_OK;
}

/* Rows [r0, r0 + len) of the seal's order as an owl_rows over the store's seal buffers, which
 * hold one block (byte values still point into m's arena): refilled block after block, they
 * are still in the cache when the part writer encodes them. */
static int seal_block(owl_store *s, const owl_schema *sc, const struct memtable *m, size_t r0,
                      size_t len, int sorted, owl_rows *out)
{
    struct seal_scratch *z = &s->seal;
    const struct time_idx *ix = z->ix + r0;
    size_t vary[OWL_MAX_COLS], nvary = 0; /* the columns whose rows are gathered */
    memset(out, 0, sizeof *out);
    out->nrows = len;
    for (size_t c = 0; c < sc->ncols; c++) {
        if (scratch_grow((void **)&z->cols[c], &z->col_rows[c], len, sizeof(owl_cell)) != OWL_OK)
            return OWL_ENOMEM;
        owl_cell *col = z->cols[c];
        out->cols[c] = col;
        if (!(m->varies >> c & 1)) { /* one value in every row: no gather */
            const owl_cell v = *owl_mem_cell(m, c, 0);
            for (size_t i = 0; i < len; i++)
                col[i] = v;
        } else if (sorted) { /* rows in order already (the common case): runs of a chunk */
            for (size_t i = 0, run; i < len; i += run) {
                const owl_cell *src = owl_mem_run(m, c, r0 + i, r0 + len, &run);
                memcpy(col + i, src, run * sizeof *col);
            }
        } else
            vary[nvary++] = c;
    }
    /* the others: a gather from all over the memtable, bound by memory latency. Row by row,
     * so a row's cells (one per column, far apart) are fetched together and its chunk found
     * once; the cells a few rows ahead are asked for early. */
    for (size_t i = 0; nvary && i < len; i++) {
        size_t off, rows;
        if (i + SEAL_PREFETCH < len) {
            size_t k = mem_chunk_of(ix[i + SEAL_PREFETCH].i, &off, &rows);
            const owl_cell *row = m->chunk[k] + off;
            for (size_t j = 0; j < nvary; j++)
                __builtin_prefetch(row + vary[j] * rows);
        }
        size_t k = mem_chunk_of(ix[i].i, &off, &rows);
        const owl_cell *row = m->chunk[k] + off;
        for (size_t j = 0; j < nvary; j++)
            z->cols[vary[j]][i] = row[vary[j] * rows];
    }
    return OWL_OK;
}

/* m's n rows written as the part at path, block by block in the seal's order. */
static int write_sealed(owl_store *s, const owl_schema *sc, struct memtable *m, size_t n,
                        const owl_part_info *info, const char *path, owl_error *err)
{
    int sorted;
    owl_part_writer *pw = NULL;
    size_t br = s->opt.block_rows;
    if (seal_order(s, sc, m, n, &sorted) != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "out of memory sealing %zu rows", n);
    int rc = owl_part_writer_open(path, sc, info, n, br, s->opt.zstd_level, &pw, err);
    for (size_t r0 = 0; rc == OWL_OK && r0 < n; r0 += br) {
        owl_rows rows;
        size_t len = n - r0 < br ? n - r0 : br;
        rc = seal_block(s, sc, m, r0, len, sorted, &rows);
        if (rc != OWL_OK)
            owl_error_set(err, rc, "out of memory sealing %zu rows", n);
        else
            rc = owl_part_writer_add_checked(pw, &rows, err); /* checked on append */
    }
    if (rc != OWL_OK) {
        owl_part_writer_abort(pw);
        return rc;
    }
    return owl_part_writer_finish(pw, NULL, err);
}

static int seal_oldest(owl_store *s, struct ptn *p, struct day *d, owl_error *err)
{
    const owl_schema *sc = s->schemas[p->table];
    pthread_mutex_lock(&s->mu);
    if (!d->nmems) {
        pthread_mutex_unlock(&s->mu);
        return OWL_OK;
    }
    struct memtable *m = d->mems[0];
    if (d->nmems == 1) {
        d->last_sealing = 1;
        owl__mem_close_locked(s, m);
    }
    m->refs++;
    /* appends happen under mu and go to a new memtable from now on: these stay */
    size_t nrows = m->nrows;
    uint64_t max_lsn = m->max_lsn;
    uint64_t seq = d->next_seq;
    char *ddir = owl__day_dir(p, d->day, d->day);
    pthread_mutex_unlock(&s->mu);

    int rc = OWL_OK;
    char path[4096];
    if (nrows) {
        rc = ddir ? owl_mkdir_p(ddir, 0700, err) : OWL_ENOMEM;
        if (rc == OWL_OK) {
            owl_part_info info = {sc->name, p->tenant, p->name, d->day, max_lsn, 0, 1};
            owl__part_path(p, d, seq, seq, 0, path, sizeof path);
            rc = write_sealed(s, sc, m, nrows, &info, path, err);
        }
    }
    free(ddir);

    struct part_ref *r = NULL;
    if (rc == OWL_OK && nrows && !(r = owl__open_part_ref(path, sc, seq, seq, 0, err)))
        rc = err && err->code ? err->code : OWL_EIO;
    pthread_mutex_lock(&s->mu);
    if (rc == OWL_OK) {
        if (r && owl__add_part_ref(p, d, r) != OWL_OK) {
            owl__part_unref_locked(s, r);
            rc = OWL_ENOMEM;
        }
    }
    if (rc == OWL_OK) {
        if (nrows) {
            d->next_seq = seq + 1;
            if (max_lsn > d->sealed_lsn)
                d->sealed_lsn = max_lsn;
        }
        p->mem_bytes -= m->raw_bytes;
        p->rows -= m->nrows;
        memmove(d->mems, d->mems + 1, (d->nmems - 1) * sizeof *d->mems);
        d->nmems--;
        if (d->nmems == 0)
            d->last_sealing = 0;
        m->refs--; /* the day's reference */
    } else {
        /* the seal failed: the memtable stays first in line (retried before any newer
         * one, invariant 2) and, when it is the only one, takes appends again */
        d->last_sealing = 0;
        if (d->nmems == 1)
            m->closed = 0;
    }
    pthread_mutex_unlock(&s->mu);
    mem_unref(s, m);
    return rc;
}

/* Advances the WAL checkpoint as far as invariant 3 allows. */
int owl__advance_checkpoint(owl_store *s, owl_error *err)
{
    pthread_mutex_lock(&s->apply_mu);
    uint64_t cp = s->applied;
    pthread_mutex_unlock(&s->apply_mu);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns; i++)
        for (size_t j = 0; j < s->ptns[i]->ndays; j++) {
            struct day *d = s->ptns[i]->days[j];
            for (size_t k = 0; k < d->nmems; k++)
                if (d->mems[k]->nrows && d->mems[k]->min_lsn - 1 < cp)
                    cp = d->mems[k]->min_lsn - 1;
        }
    for (size_t i = 0; i < s->nptns; i++) /* a drop whose marker is not written yet */
        if (s->ptns[i]->drop_pending && s->ptns[i]->drop_pending - 1 < cp)
            cp = s->ptns[i]->drop_pending - 1;
    pthread_mutex_unlock(&s->mu);
    return owl_wal_checkpoint(s->wal, cp, err); /* a no-op unless cp moves it forward */
}

/* The lsn below which memtables are sealed so that the checkpoint can move on: the middle
 * of the lsns the WAL still holds once it holds more than wal_max_bytes, else 0. A quiet
 * memtable (the audit trail's, a partition receiving a row now and then) would otherwise pin
 * the checkpoint for memtable_age_ms while busy ones fill the WAL behind it. */
static uint64_t wal_pin_lsn(owl_store *s)
{
    owl_wal_stats ws;
    if (!s->wal)
        return 0;
    owl_wal_stats_get(s->wal, &ws);
    if (ws.bytes <= s->opt.wal_max_bytes || ws.last_lsn <= ws.checkpoint)
        return 0;
    return ws.checkpoint + (ws.last_lsn - ws.checkpoint) / 2 + 1;
}

#define CHECKPOINT_EVERY_MS 100

/* Seals memtables that are full, old, hold rows of the WAL's older half when the WAL has
 * grown past wal_max_bytes, or (force) any. */
int owl__seal_some(owl_store *s, int force, owl_error *err)
{
    int rc = OWL_OK;
    int64_t now = owl_now_ms(), moved = now;
    pthread_mutex_lock(&s->seal_mu);
    uint64_t pin = wal_pin_lsn(s);
    for (;;) {
        struct ptn *p = NULL;
        struct day *d = NULL;
        uint64_t oldest = UINT64_MAX;
        /* Of the memtables due, the one holding the oldest lsn goes first: it is what holds
         * the checkpoint back, so each seal lets the WAL free what it can. */
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->nptns; i++)
            for (size_t j = 0; j < s->ptns[i]->ndays; j++) {
                struct day *c = s->ptns[i]->days[j];
                if (!c->nmems)
                    continue;
                struct memtable *m = c->mems[0];
                uint64_t lsn = m->nrows ? m->min_lsn : UINT64_MAX;
                if ((!d || lsn < oldest) &&
                    (force || c->nmems > 1 || m->nrows >= s->opt.memtable_rows ||
                     m->raw_bytes >= s->opt.memtable_bytes ||
                     now - m->created_ms >= s->opt.memtable_age_ms || lsn < pin))
                    p = s->ptns[i], d = c, oldest = lsn;
            }
        pthread_mutex_unlock(&s->mu);
        if (!d)
            break;
        if ((rc = seal_oldest(s, p, d, err)) != OWL_OK)
            break;
        /* The checkpoint moves during the pass too, not only once it ends: under a steady
         * stream of appends a full memtable is waiting again by then, the pass may go on
         * for the whole burst, and the WAL would grow (on fresh pages) all the while. At
         * most every CHECKPOINT_EVERY_MS, as each move writes and fsyncs the checkpoint
         * file: a pass over many small memtables (a thousand quiet groups coming of age)
         * would otherwise write it once per seal. */
        int64_t t = owl_now_ms();
        if (t - moved >= CHECKPOINT_EVERY_MS) {
            if ((rc = owl__advance_checkpoint(s, err)) != OWL_OK)
                break;
            moved = t;
            pin = wal_pin_lsn(s);
        }
    }
    pthread_mutex_unlock(&s->seal_mu);
    /* also after a failed seal: what the pass sealed before it lets the WAL go */
    owl_error cerr = {0};
    int crc = owl__advance_checkpoint(s, rc == OWL_OK ? err : &cerr);
    return rc != OWL_OK ? rc : crc;
}

int owl_store_flush(owl_store *s, owl_error *err)
{
    return owl__seal_some(s, 1, err);
}


/* store_int.h — what the files of the columnar store share (private to index/store.c,
 * memtable.c, scan.c, compact.c): the store, its partition map (partition -> days/spans ->
 * memtables and parts) and the helpers each file lends the others. Locking: s->mu guards
 * the partition map, the day lists and every refcount; seal_mu serialises seals and
 * compactions; the invariants are listed at the top of store.c. */
#ifndef OWL_STORE_INT_H
#define OWL_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "index/index.h"
#include "index/part.h"
#include "index/wal.h"

#define NAME_MAX_LEN 255
#define MAX_VALUE_BYTES (16u << 20)
#define ARENA_BLOCK (2u << 20) /* a memtable arena block, header included: one huge page */
#define SCAN_BATCH 4096
#define COMPACT_MAX_ROWS (4u << 20)

/* ---------- memtables ---------- */

/* A memtable's rows live in chunks that never move (ncols x their rows cells, column-major):
 * chunk k holds MEM_CHUNK0 << k rows up to MEM_CHUNK_FLAT rows (chunks 0-4: a quiet memtable
 * stays small), then MEM_FLAT chunks of MEM_CHUNK_FLAT rows each (a chunk's first row touches
 * every column's part of it: a memtable a little past 64K rows touched all 23 MB of a
 * 64K-row chunk of spans, now at most 6 MB), then doubling again from 2 x MEM_CHUNK_FLAT.
 * So growing never copies and a reader that learnt
 * nrows (under s->mu) reads rows below it with no lock while the appender writes rows above
 * it. Byte values live in the arena, which never moves either. Only one thread appends at a
 * time (the lsn turn of store.c invariant 1), and it does so holding s->mu; the rows below a
 * published nrows are never written again. */
#define MEM_CHUNK0 1024
#define MEM_GEOM 5                                  /* chunks 0-4: 1K, 2K, 4K, 8K, 16K rows */
#define MEM_CHUNK_FLAT ((size_t)MEM_CHUNK0 << (MEM_GEOM - 1))
#define MEM_FLAT 32                                 /* then 32 chunks of 16K rows */
#define MEM_MAX_CHUNKS 64
#define MEM_SPARES 2 /* memtables kept per table for reuse */

struct memtable {
    size_t nrows;        /* rows visible to readers (written under s->mu) */
    owl_cell *chunk[MEM_MAX_CHUNKS];
    size_t chunk_bytes[MEM_MAX_CHUNKS]; /* allocated sizes (a recycled memtable keeps them) */
    size_t live_chunks;                 /* chunks [0, live_chunks) hold this use's rows */
    owl_arena arena;
    uint64_t min_lsn, max_lsn;
    int64_t created_ms;
    uint64_t raw_bytes;
    uint32_t varies; /* bit c: some row's cell of column c differs from row 0's (a seal copies
                      * the others' row 0 instead of gathering them) */
    int refs; /* guarded by the store mutex */
    int closed; /* takes no more appends (its seal began, or it was dropped); under mu */
    size_t table; /* the schema it holds rows of (s->schemas index) */
};

/* The chunk holding row r, the row's index inside it, and the chunk's row count. */
static inline size_t mem_chunk_of(size_t r, size_t *off, size_t *rows)
{
    const size_t geom = MEM_CHUNK0 * (((size_t)1 << MEM_GEOM) - 1); /* rows of chunks 0-4 */
    const size_t flat = geom + MEM_FLAT * MEM_CHUNK_FLAT;
    size_t unit = MEM_CHUNK0, first = 0, k0 = 0;
    if (r >= flat) { /* doubling again: chunk MEM_GEOM + MEM_FLAT holds 2 x MEM_CHUNK_FLAT */
        unit = 2 * MEM_CHUNK_FLAT, first = flat, k0 = MEM_GEOM + MEM_FLAT;
    } else if (r >= geom) {
        size_t i = (r - geom) / MEM_CHUNK_FLAT;
        *off = r - geom - i * MEM_CHUNK_FLAT;
        *rows = MEM_CHUNK_FLAT;
        return MEM_GEOM + i;
    }
    size_t q = (r - first) / unit + 1;
    size_t k = (size_t)(63 - __builtin_clzll((unsigned long long)q));
    *off = r - first - unit * (((size_t)1 << k) - 1);
    *rows = unit << k;
    return k0 + k;
}

/* owl__same_cell — 1 when cells a and b of a column of type t hold the same value (for
 * bytes: the same bytes, at the same address or not). For the WAL record's constant and run
 * columns and a memtable's `varies` bits. */
static inline int owl__same_cell(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    if (!owl_type_is_bytes(t))
        return a->u == b->u;
    if (a->b.n != b->b.n)
        return 0;
    if (a->b.n == 0 || a->b.p == b->b.p) /* the same bytes: a resource a batch's spans share */
        return 1;
    if (a->b.n >= 8) { /* ids and most texts differ in their first word: no call for those */
        uint64_t x, y;
        memcpy(&x, a->b.p, 8);
        memcpy(&y, b->b.p, 8);
        if (x != y)
            return 0;
    }
    return memcmp(a->b.p, b->b.p, a->b.n) == 0;
}

/* owl_mem_cell — the cell of row r, column c (r below a published nrows). */
static inline const owl_cell *owl_mem_cell(const struct memtable *m, size_t c, size_t r)
{
    size_t off, rows;
    size_t k = mem_chunk_of(r, &off, &rows);
    return m->chunk[k] + c * rows + off;
}

/* owl_mem_run — column c from row r on: a pointer to row r's cell and, in *len, how many rows
 * from r lie contiguously there (up to `limit` rows below which the caller reads). */
static inline const owl_cell *owl_mem_run(const struct memtable *m, size_t c, size_t r,
                                          size_t limit, size_t *len)
{
    size_t off, rows;
    size_t k = mem_chunk_of(r, &off, &rows);
    *len = rows - off < limit - r ? rows - off : limit - r;
    return m->chunk[k] + c * rows + off;
}

struct part_ref {
    owl_part *p;
    char *path;
    uint64_t first, last; /* sealed sequence range */
    int level;
    int refs;             /* guarded by the store mutex */
    int dead;             /* unlink when the last reference goes */
    int quarantine;       /* move to quarantine/ instead */
    int unlinked;         /* its file is unlinked already (a dropped or expired day: a new
                           * part of that day may take its name while a scan still reads
                           * this one through its descriptor) */
};

/* A day of a partition, or a span of days (span = 1: days day..last, parts only). */
struct day {
    int32_t day, last;
    int span;
    struct memtable **mems; /* oldest first; the last one takes appends unless sealing */
    size_t nmems;
    int last_sealing;       /* mems[nmems-1] is being sealed: appends need a new one */
    struct part_ref **parts;
    size_t nparts;
    uint64_t next_seq;
    uint64_t sealed_lsn;
    int64_t active_ms;      /* last append to the day, or when it was loaded (settling) */
};

/* A partition. Its figures (part_bytes, mem_bytes, rows) are kept current under s->mu by
 * every change of its lists: ptn_count_part when a part enters or leaves a day's list,
 * apply_rows and seal_oldest for memtables (owl_store_partition_bytes reads them).
 * Dropping (drop.c) empties it and keeps the struct, since scans hold pointers to it: a
 * dropped partition is unlisted until an append or a retention setting starts it again. */
struct ptn {
    size_t table;
    char *tenant, *name, *dir;
    int retention_days;
    struct day **days;
    size_t ndays;
    uint64_t part_bytes; /* file bytes of the listed parts */
    uint64_t mem_bytes;  /* raw bytes of the memtables */
    uint64_t rows;       /* rows of both */
    int dropped;         /* dropped and not started again */
    uint64_t drop_lsn;   /* the DROPPED marker's lsn: rows at or below it are gone (0: none) */
    uint64_t drop_pending; /* a drop at this lsn whose marker is not written yet (0: none) */
};

/* Counts part r in (sign 1) or out of (sign -1) p's figures. Caller holds mu. */
static inline void ptn_count_part(struct ptn *p, const struct part_ref *r, int sign)
{
    const owl_part_meta *pm = owl_part_get_meta(r->p);
    if (sign > 0)
        p->part_bytes += pm->file_bytes, p->rows += pm->rows;
    else
        p->part_bytes -= pm->file_bytes, p->rows -= pm->rows;
}

struct time_idx;

#define RECBUF_KEEP 4                  /* buffers kept */
#define RECBUF_MAX_KEPT ((size_t)8 << 20) /* larger ones are freed, not kept */

struct owl_store {
    char *dir;
    const owl_schema *const *schemas;
    size_t nschemas;
    owl_store_options opt;
    owl_wal *wal;
    pthread_mutex_t mu; /* the partition map, day lists, refcounts */
    struct ptn **ptns;
    size_t nptns;
    /* lsn-ordered application (invariant 1) */
    pthread_mutex_t apply_mu;
    pthread_cond_t apply_cv;
    uint64_t applied;
    pthread_mutex_t seal_mu; /* one seal or compaction at a time */
    /* background */
    pthread_t bg;
    int bg_running, stopping;
    pthread_cond_t closed_cv; /* a memtable was closed (with mu), or the store closes */
    int closing;              /* owl_store_close began (under mu) */
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    int bg_kick;
    /* encoded WAL records' buffers kept between appends, so a batch's record lands in memory
     * already mapped instead of fresh pages (page faults cost more than the copy) */
    pthread_mutex_t recbuf_mu;
    owl_buf recbufs[RECBUF_KEEP];
    size_t nrecbufs;
    /* sealing's buffers, kept from one seal to the next (seal_mu): the sorted columns and
     * the sort's index and buffer, refilled instead of faulted in afresh every seal */
    struct seal_scratch {
        owl_cell *cols[OWL_MAX_COLS];
        size_t col_rows[OWL_MAX_COLS];
        struct time_idx *ix, *tmp;
        size_t ix_rows, tmp_rows;
    } seal;
    /* per table, up to MEM_SPARES memtables freed by their last reader, kept with their
     * memory for the next ones of that table (owl_mem_new / owl_mem_free): refilling mapped
     * memory costs no page faults, and a table's memtables have its column count and similar
     * sizes. Two: while one memtable is sealed and one fills, a third may wait for its seal
     * (the janitor between merges), and a freed one given back to the kernel came back as
     * fresh pages, zeroed (16% of owld's time under a sustained PutLogEvents load). */
    pthread_mutex_t spare_mu;
    struct memtable **spare_mem; /* nschemas * MEM_SPARES */
    /* per table, how merges combine its rows (owl_store_set_combiner; NULL: they do not);
     * under mu. The array is NULL when it could not be allocated: no table combines */
    const owl_combiner **combiners;
    /* counters */
    uint64_t compactions, quarantined;
    owl_error open_err; /* why a part or WAL record stopped the open (replay_fn, load_day) */
};


static inline int64_t day_units(const owl_schema *sc)
{
    return 86400 * sc->time_per_sec;
}

static inline int32_t day_of(const owl_schema *sc, int64_t t)
{
    int64_t d = day_units(sc);
    return (int32_t)(t >= 0 ? t / d : -((-t + d - 1) / d));
}

/* ---------- memtable.c ---------- */

/* owl_mem_new — an empty memtable of table (a s->schemas index) with one reference (the
 * day's): s's spare one of that table when it has one (s may be NULL), else a new one. NULL
 * when out of memory. */
struct memtable *owl_mem_new(owl_store *s, size_t table);

/* owl__mem_close_locked — m takes no more appends: wakes appends waiting for it to be
 * (owl_store_append's backpressure). Caller holds mu. */
void owl__mem_close_locked(owl_store *s, struct memtable *m);

/* owl_mem_free — m (no references left) becomes s's spare memtable of its table, emptied but
 * keeping its memory, when s has none; else m and its values are freed (always when s is
 * NULL). Accepts m == NULL. */
void owl_mem_free(owl_store *s, struct memtable *m);

/* owl_mem_append — appends rows [from, to) of r (record lsn) to m. OWL_OK or OWL_ENOMEM
 * (the rows written so far are not counted in nrows, so no reader sees them). Caller holds
 * s->mu and is the only appender (store.c invariant 1). */
int owl_mem_append(struct memtable *m, const owl_schema *sc, const owl_rows *r, size_t from,
                   size_t to, uint64_t lsn);

struct time_idx {
    uint64_t k; /* the cluster column's value (OWL_COL_CLUSTER), 0 for other tables */
    int64_t t;
    size_t i;
};

/* owl__cmp_time_idx — qsort order of time_idx: by cluster key, time, then index (stable). */
int owl__cmp_time_idx(const void *a, const void *b);

/* owl__sort_time_idx — sorts ix[0..n), filled in index order (ix[r].i == r), into
 * owl__cmp_time_idx's order: a radix sort (one buffer of n elements), qsort when small.
 * OWL_OK or OWL_ENOMEM (ix untouched). */
int owl__sort_time_idx(struct time_idx *ix, size_t n);

/* owl__sort_time_idx_buf — the same with the caller's buffer tmp of n elements (NULL: one is
 * allocated when needed). */
int owl__sort_time_idx_buf(struct time_idx *ix, size_t n, struct time_idx *tmp);

/* owl__seal_scratch_free — frees the seal buffers (store close). */
void owl__seal_scratch_free(struct seal_scratch *sc);

/* owl__cluster_col — the index of sc's OWL_COL_CLUSTER column, or SIZE_MAX when none. */
size_t owl__cluster_col(const owl_schema *sc);

/* owl__seal_some — seals memtables that are full, old, or (force) every one, then advances
 * the WAL checkpoint. Errors from writing parts; a failed seal is retried later. */
int owl__seal_some(owl_store *s, int force, owl_error *err);

/* owl__advance_checkpoint — moves the WAL checkpoint as far as invariant 3 allows. */
int owl__advance_checkpoint(owl_store *s, owl_error *err);

/* ---------- store.c ---------- */

/* owl__pathf — snprintf for paths: -1 (and an empty string) when the result does not fit. */
int owl__pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* owl__valid_name — 1 for a tenant or partition name of 1..NAME_MAX_LEN bytes. */
int owl__valid_name(const char *s);

/* owl__find_table — the index of the table called name: OWL_OK or OWL_ENOTFOUND. */
int owl__find_table(const owl_store *s, const char *name, size_t *t);

/* owl__day_dir — the directory of unit (day, last) of p (malloc'd; NULL when out of memory). */
char *owl__day_dir(const struct ptn *p, int32_t day, int32_t last);

/* owl__find_ptn — the partition, or NULL when the store has none of that name. Holds mu. */
struct ptn *owl__find_ptn(owl_store *s, size_t table, const char *tenant, const char *name);

/* owl__get_ptn — the partition (created when absent); NULL when out of memory. Holds mu. */
struct ptn *owl__get_ptn(owl_store *s, size_t table, const char *tenant, const char *name);

/* owl__add_unit — adds a day (last == day) or span unit without parts to p. Holds mu. */
struct day *owl__add_unit(struct ptn *p, int32_t day, int32_t last);

/* owl__part_unref_locked — drops a reference to r; the last one closes the part and unlinks
 * (dead) or quarantines it. Holds mu. */
void owl__part_unref_locked(owl_store *s, struct part_ref *r);

/* owl__part_path — the file name of a part of unit d with the sealed range first..last. */
void owl__part_path(const struct ptn *p, const struct day *d, uint64_t first, uint64_t last,
                    int level, char *out, size_t outsz);

/* owl__add_part_ref — appends r to d's part list (d a unit of p) and counts it in p's
 * figures. OWL_OK or OWL_ENOMEM. Holds mu. */
int owl__add_part_ref(struct ptn *p, struct day *d, struct part_ref *r);

/* owl__open_part_ref — opens the part at path as a new reference (refs 1); NULL on failure
 * with err set by owl_part_open (or out of memory). */
struct part_ref *owl__open_part_ref(const char *path, const owl_schema *sc, uint64_t first,
                                    uint64_t last, int level, owl_error *err);

/* owl__drop_record — the WAL payload of a drop of (table, tenant, partition) into b (empty):
 * u8 0x80, str table, str tenant, str partition (read back by the replay). OWL_OK or
 * OWL_ENOMEM. */
int owl__drop_record(const char *table, const char *tenant, const char *partition, owl_buf *b);

/* ---------- compact.c ---------- */

/* owl__retention_path — <partition dir>/RETENTION. */
void owl__retention_path(const struct ptn *p, char *out, size_t outsz);

/* owl__remove_day_locked — removes p->days[j] with its parts (marked dead) and memtables.
 * Holds mu. */
void owl__remove_day_locked(owl_store *s, struct ptn *p, size_t j);

/* owl__unlist_part_locked — removes r from d's list (d a unit of p), marks it dead, takes it
 * out of p's figures and drops d's reference. Returns the index it had, or SIZE_MAX. Holds
 * mu. */
size_t owl__unlist_part_locked(owl_store *s, struct ptn *p, struct day *d, struct part_ref *r);

/* ---------- drop.c ---------- */

/* owl__drop_apply — replays the drop recorded at lsn on p: writes what makes it durable
 * beyond the WAL (RETENTION removed, the DROPPED marker) unless a marker already covers lsn,
 * then, under mu, removes p's memtables and every part at or below lsn. When the marker
 * cannot be written the drop still happens in memory, p->drop_pending holds the WAL
 * checkpoint below lsn (owl__advance_checkpoint) and the janitor writes it later; the error
 * is returned. Called by the replay at open, not holding mu. */
int owl__drop_apply(owl_store *s, struct ptn *p, uint64_t lsn, owl_error *err);

/* owl__drop_read_marker — p->drop_lsn from p's DROPPED marker (left 0 when there is none).
 * OWL_ECORRUPT for a marker that fails its checks (the open then fails: guessing could bring
 * dropped rows back). */
int owl__drop_read_marker(struct ptn *p, owl_error *err);

/* owl__drop_sweep — the janitor's part (run by owl_store_retire): writes markers still
 * pending, and for a dropped partition whose lsn the WAL checkpoint has passed and whose day
 * directories are all gone (rmdir retried here), removes the marker and the partition
 * directory. Takes seal_mu; the caller holds no lock. */
int owl__drop_sweep(owl_store *s, owl_error *err);

#endif

/* part.h — immutable columnar part files (private to index/).
 *
 * A part holds the rows of one (table, tenant, partition, day), sorted by time, in blocks
 * of block_rows rows. Each block stores each column as one packed chunk (encode.h:
 * encoding byte + values, then owl_chunk_pack: zstd + crc32c). Integers little-endian.
 *
 *   header   OFFSET SIZE MEANING
 *            0      8    magic "OWLPART\0"
 *            8      4    format version (6; 2 to 5 are still read: docs/storage.md
 *                        "Parts" says what each lacks; version 1 had an unpacked footer)
 *            12     4    crc32c of bytes 0..11
 *   chunks   16     ...  block 0 column 0, block 0 column 1, ..., block 1 column 0, ...
 *   footer   F      L    the BSON document (below), packed as a chunk (encode.h: codec,
 *                        crc32c, raw length, payload; zstd, or stored when zstd saves
 *                        under 10%)
 *   trailer  F+L    8    F, the footer offset
 *            F+L+8  4    L, the footer length
 *            F+L+12 4    crc32c of the footer
 *            F+L+16 8    magic "OWLPEND\0"
 *
 * Footer fields: v (int32, the format version, as in the header), table, tenant, partition (utf8), day (int32, days since
 * 1970-01-01 UTC), ndays (int32, present only when > 1: the part spans days day..day+ndays-1,
 * written by compaction of sparse partitions), rows (int64), min_time, max_time (int64), max_lsn (int64: highest WAL lsn
 * whose rows are in this part), level (int32: 0 sealed from a memtable, +1 per compaction),
 * raw_bytes (int64: uncompressed size of the values), cols (array of {name, type, flags (int32:
 * the owl_col_flags the blooms were built for)}, in the order of the chunks; readers match
 * them to their schema by name), blocks
 * (array of {rows (int32), min_time, max_time (int64), off (array of int64 chunk offsets, one per column),
 * len (array of int32 chunk lengths), min / max (arrays, one per column: int64 / double for
 * numeric columns, null otherwise), bloom (document: column index as key -> binary bloom
 * (bloom.h form) for OWL_COL_TOKENS and OWL_COL_BLOOM columns)}). min/max: TIME/I64 int64;
 * U64 the bit pattern as int64 (compare as unsigned); F64 double, null when the block holds a
 * NaN. Bloom items are owl_hash64(bytes, n, 0): tokens (owl_tokenize) and/or whole values
 * (numbers as their 8 little-endian bytes; none for F64). Details: docs/storage.md "Parts".
 * ID columns may be IDREF chunks (encode.h) whose rows name rows of another ID column of the
 * block (its position in the footer's cols); a read decodes that column first.
 * Message columns (STR + OWL_COL_TOKENS) written at zstd level >= 9 may be LOGTPL chunks
 * (logtpl.h) encoded with the block's time column values as the row times; readers pass the
 * same values back (reading the time chunk on the side when it was not asked for).
 * Files are written to NAME.tmp, fsynced, renamed, and the directory fsynced. */
#ifndef OWL_PART_H
#define OWL_PART_H

#include <stddef.h>
#include <stdint.h>

#include "common/endian.h"
#include "index/index.h"

struct owl_logtpl_tpl;

/* Column type classes shared by the part writer/reader and the store. */
static inline int owl_type_is_bytes(enum owl_type t)
{
    return t == OWL_TYPE_DICT || t == OWL_TYPE_STR || t == OWL_TYPE_BSON || t == OWL_TYPE_ID8 ||
           t == OWL_TYPE_ID16;
}

/* 8 or 16 for the fixed-width id types, 0 for every other type. */
static inline size_t owl_type_id_width(enum owl_type t)
{
    return t == OWL_TYPE_ID8 ? 8 : t == OWL_TYPE_ID16 ? 16 : 0;
}

typedef struct owl_part_info {
    const char *table;
    const char *tenant;
    const char *partition;
    int32_t day;
    uint64_t max_lsn;
    int32_t level;
    int32_t ndays; /* days covered from `day` on; 0 and 1 both mean that day only */
} owl_part_info;

/* owl_part_write — writes rows (sorted by the schema's time column, all in the days
 * info->day .. info->day + info->ndays - 1; the store keeps to that, the writer does not check it) as a part
 * at path (via path.tmp; on failure nothing is left at path and the .tmp is removed).
 * info->table may be NULL (else it must equal schema->name); tenant and partition are
 * required. block_rows is 1..2^20. *file_bytes (may be NULL) gets the file size. Errors:
 * OWL_EINVAL (no rows, unsorted, value sizes wrong for ID columns, a value over 64 MiB, a
 * non-empty BSON value that is not a document), OWL_EIO / OWL_ENOSPC, OWL_ENOMEM. */
int owl_part_write(const char *path, const owl_schema *schema, const owl_part_info *info,
                   const owl_rows *rows, size_t block_rows, int zstd_level, uint64_t *file_bytes,
                   owl_error *err);

/* owl_part_writer — the part owl_part_write would write of the same rows, given block by
 * block (a merge streams its sources through one without holding all rows at once). The
 * file is path.tmp until owl_part_writer_finish renames it. */
typedef struct owl_part_writer owl_part_writer;

/* owl_part_writer_open — a part of exactly nrows rows, in blocks of block_rows, for info
 * (copied). The same refusals as owl_part_write for schema, info and block_rows; OWL_EIO /
 * OWL_ENOMEM. On success *out must reach owl_part_writer_finish or owl_part_writer_abort. */
int owl_part_writer_open(const char *path, const owl_schema *schema, const owl_part_info *info,
                         size_t nrows, size_t block_rows, int zstd_level, owl_part_writer **out,
                         owl_error *err);

/* owl_part_bson_ok — 1 when the n bytes at p are a BSON cell as a part holds one: empty (no
 * document), or a document whose length prefix is its size and whose last byte is 0.
 * owl_store_append refuses rows with any other BSON cell. */
static inline int owl_part_bson_ok(const void *p, size_t n)
{
    return n == 0 || (n >= 5 && owl_get32le(p) == n && ((const uint8_t *)p)[n - 1] == 0);
}

/* owl_part_writer_add — the next block: block_rows rows (fewer only for the last: no block
 * may follow a short one), sorted
 * as owl_part_write wants them, after the rows added before. Its cells are read now and may
 * be freed on return. The same refusals as owl_part_write for the rows (OWL_EINVAL), or
 * OWL_EIO / OWL_ENOSPC / OWL_ENOMEM; the writer is then only good for abort. */
int owl_part_writer_add(owl_part_writer *pw, const owl_rows *rows, owl_error *err);

/* owl_part_writer_add_checked — owl_part_writer_add of rows known good: every column
 * present, sorted as owl_part_write wants them, and cells owl_store_append accepts (ids of
 * their width, values within its limit, BSON cells owl_part_bson_ok), as a seal's rows are,
 * from a memtable. Skips owl_part_writer_add's pass over every cell, which read the block a
 * second time from beyond the core's cache. */
int owl_part_writer_add_checked(owl_part_writer *pw, const owl_rows *rows, owl_error *err);

/* owl_part_writer_finish — footer, fsync, rename to path, fsync of its directory (on failure
 * nothing is left at path unless the rename was done). Frees pw whatever the result.
 * OWL_EINVAL when fewer rows than announced were added. *file_bytes may be NULL. */
int owl_part_writer_finish(owl_part_writer *pw, uint64_t *file_bytes, owl_error *err);

/* owl_part_writer_end — the rows added so far are all the part holds, fewer than announced
 * (a merge that combined rows, owl_combiner), before owl_part_writer_finish. Every block but
 * the last must have been full. OWL_EINVAL when no row was added; pw is then only good for
 * abort. */
int owl_part_writer_end(owl_part_writer *pw, owl_error *err);

/* owl_part_writer_abort — removes path.tmp and frees pw. Accepts NULL. */
void owl_part_writer_abort(owl_part_writer *pw);

typedef struct owl_part owl_part;

typedef struct owl_part_meta {
    int32_t day, last_day; /* last_day > day for a part spanning several days */
    uint64_t rows;
    int64_t min_time, max_time;
    uint64_t max_lsn;
    int32_t level;
    uint64_t raw_bytes;
    uint64_t file_bytes;
    size_t nblocks;
    const char *tenant;     /* owned by the part */
    const char *partition;
} owl_part_meta;

/* owl_part_open — opens path, checking header, trailer, footer checksum and that the
 * footer's table is the schema's. Columns are matched to the schema's by name (schema
 * evolution, docs/storage.md): column indexes given to the functions below are the schema's;
 * a schema column the part lacks reads as owl_col_default in every row (its block min/max is
 * 0, it has no bloom); a part column the schema lacks is ignored. schema may be NULL (tools
 * such as owl_store_verify): the columns are then taken from the footer as they are.
 * OWL_ECORRUPT (message says what failed), OWL_EUNSUPPORTED (a column whose type differs from
 * the schema's, or the schema's time column missing: the part is sound but not readable as
 * this schema; the message names part, column and both types), OWL_EIO, OWL_ENOTFOUND. */
int owl_part_open(const char *path, const owl_schema *schema, owl_part **out, owl_error *err);

/* owl_part_close — accepts NULL. */
void owl_part_close(owl_part *p);

const owl_part_meta *owl_part_get_meta(const owl_part *p);

/* owl_part_block — rows and time bounds of block b (< nblocks). */
void owl_part_block(const owl_part *p, size_t b, size_t *rows, int64_t *min_time,
                    int64_t *max_time);

/* owl_part_block_may_match — 0 when block b certainly has no row in [start, end) that
 * satisfies every predicate (by time bounds, per-column min/max, and bloom filters for
 * EQ/IN on OWL_COL_BLOOM columns and TOKEN/SUBSTR on OWL_COL_TOKENS columns); 1 otherwise
 * (also for b out of range). start >= end matches nothing. Never fails; thread-safe. */
int owl_part_block_may_match(const owl_part *p, size_t b, int64_t start, int64_t end,
                             const owl_pred *preds, size_t npreds);

/* owl_part_block_range_u — the least and greatest values of U64 column c in block b by the
 * block's statistics (its cluster keys, for a clustered table): 1, or 0 when they are not
 * both recorded or b or c is out of range. Never fails; thread-safe. */
int owl_part_block_range_u(const owl_part *p, size_t b, size_t c, uint64_t *min,
                           uint64_t *max);

/* owl_part_pred_may — the predicate table's block check (pred.h) of pr on block b: 0 only
 * when no row of the block can satisfy pr; 1 otherwise (also for b or the column out of
 * range). Never fails; thread-safe. */
int owl_part_pred_may(const owl_part *p, size_t b, const owl_pred *pr);

/* Decoded columns of one block. cells[c] is NULL for columns not read. Byte values point
 * into buffers owned by this struct. */
typedef struct owl_block_data {
    size_t nrows;
    owl_cell *cells[OWL_MAX_COLS];
    owl_buf raw[OWL_MAX_COLS];   /* unpacked chunk bytes per column, from raw_at[c] on: a
                                    stored chunk is read into raw[c] whole and left there */
    size_t raw_at[OWL_MAX_COLS];
    owl_buf text[OWL_MAX_COLS];  /* messages rebuilt from a template encoding (logtpl.h) */
    uint64_t bytes_read;
    owl_buf packed;              /* scratch: a compressed chunk as read from the file */
    uint64_t raw_part[OWL_MAX_COLS];    /* raw[c] holds the unpacked chunk of the part opened
                                           with this id (0: none; ids are never reused)... */
    size_t raw_block[OWL_MAX_COLS];     /* ...and of this block */
    int64_t *times;              /* the block's times, for template chunks that need them */
    size_t times_cap;
    /* Set by the caller (or left NULL): a judge of template chunks' templates (logtpl.h) for
     * column col; the rows of templates it says 0 to are not rebuilt (their value is empty)
     * and read_block sets pre[r] = 0 for them (pre_set). */
    int (*tpl_fn)(void *ud, size_t col, const struct owl_logtpl_tpl *t);
    void *tpl_ud;
    uint8_t *pre;                /* nrows when pre_set: 0 = row r was left out */
    size_t pre_cap;
    int pre_set;
} owl_block_data;

/* owl_part_read_block — reads and decodes the ncols columns listed in cols (schema indexes)
 * of block b into d (previous contents are reused/overwritten; columns not listed get
 * cells NULL, even one decoded for a listed column's references). d starts zeroed and is
 * released with owl_block_data_free. OWL_ECORRUPT when a chunk fails its checksum or
 * decoding (every column is then left NULL and nrows 0); OWL_EUNSUPPORTED for an IDREF
 * column whose reference column the schema dropped; OWL_EIO; OWL_EINVAL for b or a column
 * out of range. Threads may read one part concurrently, each
 * with its own d. */
int owl_part_read_block(owl_part *p, size_t b, const size_t *cols, size_t ncols,
                        owl_block_data *d, owl_error *err);

/* owl_part_block_text_may — judges from the stored bytes of block b's column c, without
 * decoding them, whether a row may contain `token` (as OWL_PRED_TOKEN's whole token or as
 * OWL_PRED_SUBSTR's bytes: the test is the same): *may = 0 when it certainly does not.
 * Values of every encoding but LOGTPL and IDREF are stored as their bytes, so the text must
 * appear in the unpacked chunk; an IDREF chunk without a reference column holds each of its
 * values as a literal, one with a reference column always says "may". A LOGTPL chunk keeps template text and string variables as bytes and
 * re-spells only integers, lowercase hex and UUIDs, i.e. words made of [0-9a-f] alone; so a
 * word of a row holding any other character is in the chunk as bytes, and each maximal
 * [A-Za-z0-9] piece of the text holding such a character, a part of such a word, must
 * appear in the chunk. The unpacked
 * chunk stays in d, and a following owl_part_read_block of the same block does not read it
 * again. Errors as owl_part_read_block. */
int owl_part_block_text_may(owl_part *p, size_t b, size_t c, const owl_bytes *token,
                             owl_block_data *d, int *may, owl_error *err);

/* owl_block_data_free — frees the buffers (the struct itself is the caller's). */
void owl_block_data_free(owl_block_data *d);

/* owl_part_verify — reads and decodes every chunk of every block. OWL_OK or OWL_ECORRUPT
 * naming the block and column. */
int owl_part_verify(owl_part *p, owl_error *err);

#endif

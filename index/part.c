/* part.c — immutable columnar part files: the writer (validate, encode + pack each block's
 * column chunks, BSON footer, trailer, fsync, rename), the reader (footer parsed once into
 * flat arrays), block pruning and block reads. Layout: the table in part.h; rules and choices
 * (min/max per type, bloom contents): docs/storage.md "Parts".
 *
 * Invariants: a file under its final name is complete (NAME.tmp, fsync, rename, dir fsync);
 * every byte read from disk is checked before use, so a bad file is OWL_ECORRUPT, never a
 * crash; owl_part_block_may_match returns 0 only when no row of the block can match. */
#include "common/endian.h"
#include "index/part.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/bloom.h"
#include "index/encode.h"
#include "index/logtpl.h"
#include "index/pred.h"

#define HDR_MAGIC "OWLPART"   /* 8 bytes with its NUL */
#define END_MAGIC "OWLPEND"
/* 2: the footer is packed (zstd); 3: version 2 blooms, ndays; 4: the F64 encodings XOR,
 * F64INT, F64DEC and F64SEG, and clustered parts (rows by series, then time); 5: the I64
 * encodings FOR and DFOR (bit-packed), which an owl reading 4 would refuse chunk by chunk as
 * corrupt; 6: the id encoding IDREF (references to other rows of the column or of another
 * column of the block), likewise. Everything else reads 6 and 5 as 4 (every check of
 * p->format is ">= 3"). */
#define FORMAT_VERSION 6
#define FORMAT_OLDEST 2 /* still read */
#define LOGTPL_MIN_LEVEL 9 /* zstd levels at which message columns try templates */
#define HDR_SIZE 16
#define TRAILER_SIZE 24
#define FOOTER_MIN 5                       /* the empty BSON document */
#define FOOTER_MAX ((uint64_t)1 << 30)
#define BLOCK_ROWS_MAX ((size_t)1 << 20)
#define VALUE_MAX ((size_t)64 << 20)        /* one DICT/STR/BSON value */
#define CHUNK_RAW_MAX ((size_t)1 << 30)     /* one encoded chunk before zstd */
#define CHUNK_MIN 6                        /* codec + crc + 1-byte varint */
#define WRITE_FLUSH ((size_t)4 << 20)
#define VALUE_PREFETCH 16 /* rows ahead whose value bytes are asked for early */
#define BLOOM_FP 0.01
#define PATH_LEN 4096
#define BLOOM_SEED 0 /* items are owl_hash64(bytes, n, 0), i.e. what owl_bloom_add hashes */

/* equal, not just fitting: decoders write strref i at i * sizeof(owl_strref) and the widening
 * loops read it back at i * sizeof(owl_cell) */
_Static_assert(sizeof(owl_strref) == sizeof(owl_cell), "strrefs decode in place over cells");
_Static_assert(sizeof(int64_t) <= sizeof(owl_cell) && sizeof(double) <= sizeof(owl_cell),
               "numbers decode in place over cells");

/* Per-column statistics of one block, and where its chunk lives. */
union num {
    int64_t i;
    double f;
};

struct chunk {
    uint64_t off;
    uint32_t len;
    uint8_t has_min, has_max;
    union num min, max;
};

struct pblock {
    uint32_t rows;
    int64_t min_time, max_time;
};

/* Columns are indexed as in the schema the part was opened with (as in the file when opened
 * without one); fmap maps the file's columns onto them. A schema column the file lacks is
 * `absent`: it reads as owl_col_default in every row, and its block statistics say so. */
struct owl_part {
    int fd;
    char *path;
    size_t ncols, time_col;
    enum owl_type types[OWL_MAX_COLS];
    unsigned flags[OWL_MAX_COLS]; /* as written in the file: they say what the blooms hold */
    char *names[OWL_MAX_COLS];
    uint8_t absent[OWL_MAX_COLS];
    size_t fcols;                    /* columns in the file */
    size_t fmap[OWL_MAX_COLS];       /* file column -> column, SIZE_MAX when not in the schema */
    enum owl_type ftypes[OWL_MAX_COLS]; /* file column types */
    uint64_t data_end;           /* footer offset F: chunks live in [HDR_SIZE, F) */
    int format;                  /* the footer's version (blooms are salted from 3 on) */
    uint64_t id;                 /* unique per open, keys chunks kept in owl_block_data */
    owl_part_meta meta;
    struct pblock *blocks;       /* nblocks */
    struct chunk *chunks;        /* nblocks x ncols, block-major */
    owl_bloom *blooms;           /* nblocks x ncols; nwords == 0 = none (never prunes);
                                    views into `footer` */
    void *footer_mem;            /* holds the footer document, kept for the blooms */
};

/* ---- small helpers shared by writer and reader ---- */

static int is_int(enum owl_type t)
{
    return t == OWL_TYPE_TIME || t == OWL_TYPE_I64 || t == OWL_TYPE_U64;
}

/* Which columns get a bloom: tokens of byte values, whole values of anything but F64 (float
 * equality is not bitwise, so hashing bit patterns could prune a match). */
static int wants_bloom(enum owl_type t, unsigned flags)
{
    return ((flags & OWL_COL_TOKENS) && owl_type_is_bytes(t) && !owl_type_id_width(t)) ||
           ((flags & OWL_COL_BLOOM) && t != OWL_TYPE_F64);
}

/* Format 3: each block's blooms carry a salt from the block's first time and index, so
 * blocks of near-identical content (a service logging the same lines every day) do not share
 * their false positives: a rare-term scan then reads about FP x blocks, not all of a kind. */
static uint64_t block_salt(int64_t min_time, size_t b)
{
    uint8_t x[16];
    owl_put64le(x, (uint64_t)min_time);
    owl_put64le(x + 8, (uint64_t)b);
    return owl_hash64(x, sizeof x, BLOOM_SEED) | 1;
}

static int check_schema(const owl_schema *s, owl_error *err)
{
    if (!s || !s->name || !s->cols || s->ncols == 0 || s->ncols > OWL_MAX_COLS ||
        s->time_col >= s->ncols || s->cols[s->time_col].type != OWL_TYPE_TIME)
        return owl_error_set(err, OWL_EINVAL, "part: bad schema");
    for (size_t c = 0; c < s->ncols; c++) {
        const owl_coldef *cd = &s->cols[c];
        if (!cd->name || cd->type < OWL_TYPE_TIME || cd->type > OWL_TYPE_BSON)
            return owl_error_set(err, OWL_EINVAL, "part: bad schema column %zu", c);
        /* one level of reference between two id columns of one type, as readers allow */
        if (cd->ref && (cd->ref > s->ncols || cd->ref - 1 == c || !owl_type_id_width(cd->type) ||
                        s->cols[cd->ref - 1].type != cd->type || s->cols[cd->ref - 1].ref))
            return owl_error_set(err, OWL_EINVAL, "part: column %s references a column it "
                                 "cannot", cd->name);
    }
    return OWL_OK;
}

/* ======================================================================================
 * Writer
 * ====================================================================================== */

#define RECENT 1024 /* direct-mapped filter of recent hashes: must be a power of two */
#define SEEN 256     /* direct-mapped cache of recent whole values: a power of two */
#define WORDS_BITS 11 /* direct-mapped filter of recent short tokens by their bytes: 2^11 keys */

/* A set of 64-bit hashes (open addressing; 0 kept aside), to count and replay the distinct
 * bloom items of one chunk. Log messages repeat a few tokens on every row ("GET", "status"),
 * so a small direct-mapped filter drops most repeats before they reach the (larger, colder)
 * table; `items` lists the distinct hashes in insertion order for the replay. */
struct hset {
    uint64_t *slots, *items;
    size_t cap, n;
    int zero;
    uint64_t recent[RECENT];
    uint64_t words[1u << WORDS_BITS]; /* keys of short tokens whose items are in the set (0: none) */
    uint64_t *mask;        /* tokens_to_set's owl_token_masks, mask_cap words each */
    size_t mask_cap;
};

static void hset_clear(struct hset *s)
{
    if (s->n)
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    memset(s->recent, 0, sizeof s->recent);
    memset(s->words, 0, sizeof s->words);
    s->n = 0;
    s->zero = 0;
}

static int hset_grow(struct hset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    uint64_t *items = realloc(s->items, cap / 2 * sizeof *items);
    if (items)
        s->items = items;
    if (!slots || !items) {
        free(slots);
        return OWL_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t h = s->slots[i];
        if (!h)
            continue;
        size_t pos = (size_t)h & (cap - 1);
        while (slots[pos])
            pos = (pos + 1) & (cap - 1);
        slots[pos] = h;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return OWL_OK;
}

/* Inserts h (not 0, not in the filter) into the table. */
static int hset_insert(struct hset *s, uint64_t h)
{
    if ((s->n + 1) * 2 > s->cap && hset_grow(s) != OWL_OK)
        return OWL_ENOMEM;
    size_t mask = s->cap - 1, pos = (size_t)h & mask;
    while (s->slots[pos]) {
        if (s->slots[pos] == h)
            return OWL_OK;
        pos = (pos + 1) & mask;
    }
    s->slots[pos] = h;
    s->items[s->n++] = h;
    return OWL_OK;
}

/* The per-token fast path: most calls end at the filter. */
static inline int hset_add(struct hset *s, uint64_t h)
{
    if (h == 0) {
        s->zero = 1;
        return OWL_OK;
    }
    uint64_t *r = &s->recent[(h >> 40) & (RECENT - 1)];
    if (*r == h)
        return OWL_OK;
    *r = h;
    return hset_insert(s, h);
}

/* The key of a token of 1 to 8 bytes at u[start..start+len) of u[0..n), for the filter of
 * short tokens: its bytes, little-endian, zero above (a token holds no NUL, so the length
 * is implied); for a number of OWL_NUM_TOKEN_MIN digits or more, the leading len - 3 digits
 * its bloom item keeps, with 0x80 | len in the top byte. The key of another token of 8 bytes
 * has no zero byte, of a shorter one a zero top byte, while a number's has a zero byte 6 and
 * a non-zero top byte: equal keys, equal items, so skipping a token whose key is in the
 * filter never loses an item. Never 0 (an empty slot). */
static inline uint64_t short_key(const uint8_t *u, size_t n, size_t start, size_t len,
                                 unsigned digits)
{
    uint64_t key = 0;
    if (n - start >= 8) {
        key = owl_get64le(u + start);
        if (len < 8)
            key &= ~0ull >> (64 - 8 * len);
    } else {
        for (size_t k = 0; k < len; k++)
            key |= (uint64_t)u[start + k] << (8 * k);
    }
    if (digits && len >= OWL_NUM_TOKEN_MIN)
        key = (key & (~0ull >> (64 - 8 * (len - OWL_NUM_TOKEN_DROP)))) |
              (uint64_t)(0x80 | len) << 56;
    return key;
}

/* The items of every token of p[0..n) into s. Log tokens are short (of Loghub's, half have 3
 * bytes or less, 89% 8 or less), so the per-byte loop of owl_token_next mispredicted at both
 * ends of nearly every one: the tokens are found instead as runs of bits of owl_token_masks.
 * A token of 8 bytes or less whose key (short_key) is in the direct-mapped filter `words`
 * is skipped before it is hashed. */
static int tokens_to_set(struct hset *s, const char *p, size_t n)
{
    const uint8_t *u = (const uint8_t *)p;
    size_t nw = (n + 63) / 64, start, len;
    unsigned digits;
    if (n == 0)
        return OWL_OK; /* no token (and s->mask may be NULL yet: no pointer sums on it) */
    if (nw > s->mask_cap) {
        uint64_t *m = realloc(s->mask, 2 * nw * sizeof *m);
        if (!m)
            return OWL_ENOMEM;
        s->mask = m, s->mask_cap = nw;
    }
    owl_token_masks(u, n, s->mask, s->mask + nw);
    owl_token_walk k;
    owl_token_walk_init(&k, s->mask, s->mask + nw, n);
    while (owl_token_walk_next(&k, &start, &len, &digits)) {
        if (len <= 8) {
            uint64_t key = short_key(u, n, start, len, digits);
            uint64_t *slot = &s->words[(key * 0x9e3779b97f4a7c15ull) >> (64 - WORDS_BITS)];
            if (*slot == key)
                continue;
            *slot = key;
        }
        if (hset_add(s, owl__token_item(p + start, len, (int)digits, FORMAT_VERSION)) != OWL_OK)
            return OWL_ENOMEM;
    }
    return OWL_OK;
}

/* The slot of a value in the writer's cache of recent values: owl_sample_key, cheaper than
 * hashing a whole log line (the cache compares exactly, so a poor spread only costs hits). */
static inline size_t seen_slot(const owl_bytes *b)
{
    return (size_t)(owl_mix64(owl_sample_key(b->p, b->n)) & (SEEN - 1));
}

struct writer {
    const owl_schema *s;
    const owl_rows *rows; /* all rows (owl_part_write), or the block's (owl_part_writer) */
    size_t nrows;         /* rows of the whole part */
    const char *tmp;      /* the file being written, for messages */
    int level;
    int fd;
    uint64_t written;     /* bytes already handed to write(2) */
    owl_buf out;          /* bytes not yet written */
    owl_buf enc;          /* the chunk being encoded */
    owl_buf alt, packed;  /* a message column's template encoding, and its packed form */
    owl_buf blooms;       /* serialized blooms, back to back */
    size_t *bloom_off;    /* nblocks x ncols into blooms */
    size_t *bloom_len;    /* 0 = no bloom */
    void *num;            /* block_rows x 8 bytes: int64 or double values */
    owl_strref *strs;     /* block_rows */
    uint8_t *fixed;       /* block_rows x 16 */
    uint8_t *fixed_ref;   /* block_rows x 16: the ids of the column an id column references */
    owl_idref_enc idref;
    int64_t *times;       /* block_rows: the block's time column, for template time hints */
    size_t *seg;          /* block_rows: a clustered block's runs of one series */
    struct hset set;
    owl_bytes seen[SEEN];  /* recent byte values whose items are in `set` (by hash slot) */
    struct pblock *blocks;
    struct chunk *chunks;
    size_t nblocks;
    uint64_t raw_bytes;
};

/* The index of s's OWL_COL_CLUSTER column, or SIZE_MAX when it has none. */
static size_t cluster_col(const owl_schema *s)
{
    for (size_t c = 0; c < s->ncols; c++)
        if (s->cols[c].flags & OWL_COL_CLUSTER)
            return c;
    return SIZE_MAX;
}

static int flush_out(struct writer *w, owl_error *err)
{
    int e = owl_write_all(w->fd, w->out.data, w->out.len);
    if (e)
        return owl_error_set(err, owl_err_from_errno(e), "write %s: %s", w->tmp, strerror(e));
    w->written += w->out.len;
    owl_buf_reset(&w->out);
    return OWL_OK;
}

static int check_cell_bytes(const owl_coldef *cd, const owl_cell *v, size_t r, owl_error *err)
{
    size_t want = owl_type_id_width(cd->type);
    if (want && v->b.n != want)
        return owl_error_set(err, OWL_EINVAL, "part: row %zu column %s: id of %zu bytes, want %zu",
                             r, cd->name, v->b.n, want);
    if (v->b.n > VALUE_MAX)
        return owl_error_set(err, OWL_EINVAL, "part: row %zu column %s: value of %zu bytes",
                             r, cd->name, v->b.n);
    if (v->b.n && !v->b.p)
        return owl_error_set(err, OWL_EINVAL, "part: row %zu column %s: NULL value", r, cd->name);
    if (cd->type == OWL_TYPE_BSON && !owl_part_bson_ok(v->b.p, v->b.n))
        return owl_error_set(err, OWL_EINVAL, "part: row %zu column %s: not a BSON document", r,
                             cd->name);
    return OWL_OK;
}

/* check_cell_bytes over a column's n cells. Nearly every column passes, so the cells are
 * first only told good or bad, in a few instructions each, by a loop per kind of column; a
 * bad one is then found again by check_cell_bytes for its message. */
static int check_col_bytes(const owl_coldef *cd, const owl_cell *v, size_t n, owl_error *err)
{
    size_t want = owl_type_id_width(cd->type);
    int bad = 0;
    if (want) {
        for (size_t r = 0; r < n; r++)
            bad |= (v[r].b.n != want) | !v[r].b.p;
    } else if (cd->type == OWL_TYPE_BSON) {
        for (size_t r = 0; r < n && !bad; r++) {
            /* the length prefix is read: ask for it early (values of a seal lie all over the
             * memtable's arena) */
            if (r + VALUE_PREFETCH < n)
                __builtin_prefetch(v[r + VALUE_PREFETCH].b.p);
            size_t len = v[r].b.n;
            bad = len && (len > VALUE_MAX || !v[r].b.p || !owl_part_bson_ok(v[r].b.p, len));
        }
    } else {
        /* the lengths OR'd (at least the longest: one of exactly VALUE_MAX may raise a false
         * alarm, which costs only the second pass) and those of NULL values */
        size_t any = 0, nul = 0;
        for (size_t r = 0; r < n; r++) {
            any |= v[r].b.n;
            nul |= v[r].b.p ? 0 : v[r].b.n;
        }
        bad = any > VALUE_MAX || nul;
    }
    for (size_t r = 0; bad && r < n; r++) {
        int rc = check_cell_bytes(cd, &v[r], r, err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* What the writer refuses of schema, info and block size, checked before a file is created. */
static int check_meta(const owl_schema *s, const owl_part_info *info, size_t block_rows,
                      owl_error *err)
{
    int rc = check_schema(s, err);
    if (rc != OWL_OK)
        return rc;
    if (!info || !info->tenant || !info->partition ||
        (info->table && strcmp(info->table, s->name) != 0) || info->level < 0 ||
        info->ndays < 0 || info->ndays > 36600)
        return owl_error_set(err, OWL_EINVAL, "part: bad part info");
    if (block_rows == 0 || block_rows > BLOCK_ROWS_MAX)
        return owl_error_set(err, OWL_EINVAL, "part: block_rows %zu outside 1..%zu", block_rows,
                             BLOCK_ROWS_MAX);
    return OWL_OK;
}

/* What the writer refuses of rows (all of a part's, or a block's), checked before they are
 * written. */
static int check_rows(const owl_schema *s, const owl_rows *rows, owl_error *err)
{
    int rc;
    if (!rows || rows->nrows == 0)
        return owl_error_set(err, OWL_EINVAL, "part: no rows");
    for (size_t c = 0; c < s->ncols; c++)
        if (!rows->cols[c])
            return owl_error_set(err, OWL_EINVAL, "part: column %s missing", s->cols[c].name);
    /* rows sorted by time, or by (cluster column, time) for a clustered table */
    size_t kc = cluster_col(s);
    const owl_cell *t = rows->cols[s->time_col], *k = kc == SIZE_MAX ? NULL : rows->cols[kc];
    for (size_t r = 1; r < rows->nrows; r++) {
        if (k && k[r].u != k[r - 1].u) {
            if (k[r].u < k[r - 1].u)
                return owl_error_set(err, OWL_EINVAL,
                                     "part: rows not sorted by the cluster column at row %zu", r);
            continue;
        }
        if (t[r].i < t[r - 1].i)
            return owl_error_set(err, OWL_EINVAL, "part: rows not sorted by time at row %zu", r);
    }
    for (size_t c = 0; c < s->ncols; c++)
        if (owl_type_is_bytes(s->cols[c].type) &&
            (rc = check_col_bytes(&s->cols[c], rows->cols[c], rows->nrows, err)) != OWL_OK)
            return rc;
    return OWL_OK;
}

static int check_input(const owl_schema *s, const owl_part_info *info, const owl_rows *rows,
                       size_t block_rows, owl_error *err)
{
    int rc = check_meta(s, info, block_rows, err);
    return rc != OWL_OK ? rc : check_rows(s, rows, err);
}

/* Integer columns: values into w->num, min/max (U64: the unsigned bounds' bit patterns). */
static int enc_ints(struct writer *w, enum owl_type t, const owl_cell *v, size_t n,
                    struct chunk *ch)
{
    int64_t *x = w->num;
    if (t == OWL_TYPE_U64) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = v[i].i;
            lo = v[i].u < lo ? v[i].u : lo;
            hi = v[i].u > hi ? v[i].u : hi;
        }
        ch->has_min = ch->has_max = 1;
        ch->min.i = (int64_t)lo;
        ch->max.i = (int64_t)hi;
    } else {
        int64_t lo = v[0].i, hi = v[0].i;
        for (size_t i = 0; i < n; i++) {
            x[i] = v[i].i;
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        ch->has_min = ch->has_max = 1;
        ch->min.i = lo;
        ch->max.i = hi;
    }
    w->raw_bytes += 8 * (uint64_t)n;
    return owl_enc_i64(x, n, &w->enc);
}

/* F64: min/max only when no value is NaN (NaN has no place in an order, so a block holding
 * one is never pruned by value). */
static int enc_doubles(struct writer *w, const owl_cell *v, size_t n, size_t r0,
                       struct chunk *ch)
{
    double *x = w->num;
    double lo = INFINITY, hi = -INFINITY;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = v[i].f;
        if (isnan(x[i]))
            nan = 1;
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    ch->has_min = ch->has_max = !nan;
    ch->min.f = lo;
    ch->max.f = hi;
    w->raw_bytes += 8 * (uint64_t)n;
    /* a clustered part: one segment per run of the clustering column (a series) */
    size_t kc = cluster_col(w->s), nseg = 0;
    if (kc == SIZE_MAX || n < 4)
        return owl_enc_f64(x, n, &w->enc);
    const owl_cell *k = w->rows->cols[kc] + r0;
    size_t *seg = w->seg;
    for (size_t i = 0, start = 0; i < n; i++)
        if (i + 1 == n || k[i + 1].u != k[i].u) {
            seg[nseg++] = i + 1 - start;
            start = i + 1;
        }
    return owl_enc_f64_seg(x, n, seg, nseg, &w->enc);
}

/* The n ids of `width` bytes (checked) at the cells, back to back into out. Inlined for each
 * constant width, where a copy is a move or two instead of a call. */
static inline void gather_ids(uint8_t *out, const owl_cell *v, size_t n, size_t width)
{
    for (size_t i = 0; i < n; i++) {
        if (i + VALUE_PREFETCH < n)
            __builtin_prefetch(v[i + VALUE_PREFETCH].b.p);
        memcpy(out + i * width, v[i].b.p, width);
    }
}

static void gather(uint8_t *out, const owl_cell *v, size_t n, size_t width)
{
    if (width == 8)
        gather_ids(out, v, n, 8);
    else
        gather_ids(out, v, n, 16);
}

/* Column c's n values from row r0 on. Id columns are FIXED, or IDREF when smaller: the
 * part's column list is the schema's, so the referenced column's position is its index. */
static int enc_bytes(struct writer *w, size_t c, size_t r0, size_t n)
{
    const owl_coldef *cd = &w->s->cols[c];
    const owl_cell *v = w->rows->cols[c] + r0;
    enum owl_type t = cd->type;
    size_t width = owl_type_id_width(t);
    if (width) {
        const uint8_t *ref = NULL;
        gather(w->fixed, v, n, width);
        if (cd->ref) {
            gather(w->fixed_ref, w->rows->cols[cd->ref - 1] + r0, n, width);
            ref = w->fixed_ref;
        }
        w->raw_bytes += (uint64_t)width * n;
        return owl_enc_id(&w->idref, w->fixed, width, n, ref, cd->ref ? cd->ref - 1 : 0,
                          &w->enc);
    }
    for (size_t i = 0; i < n; i++) {
        w->strs[i].p = v[i].b.p;
        w->strs[i].n = (uint32_t)v[i].b.n;
        w->raw_bytes += v[i].b.n;
    }
    /* DICT columns are declared few-valued; a BSON column's documents may be (a span's
     * resource) or not (its attributes) */
    return owl_enc_str(w->strs, n, t == OWL_TYPE_DICT ? 1 : t == OWL_TYPE_BSON ? OWL_DICT_PROBE : 0,
                       &w->enc);
}

/* Message columns (STR with token blooms) written at LOGTPL_MIN_LEVEL or above (compaction,
 * or an import asked for a high level) also try the template encoding (logtpl.h), which is
 * about 10x slower to encode than STR but stores log text 1.3x smaller than zstd -19. */
static int uses_templates(const owl_coldef *cd, int level)
{
    return cd->type == OWL_TYPE_STR && (cd->flags & OWL_COL_TOKENS) && level >= LOGTPL_MIN_LEVEL;
}

/* Replaces the packed STR chunk at out[before..] by the packed template encoding of the
 * same values (w->strs) when that is smaller. The encoding is given the rows' times (the
 * time column as stored: milliseconds in the logs table), so timestamps in the text cost
 * almost nothing; the reader passes the same values back. */
static int try_templates(struct writer *w, size_t r0, size_t n, size_t before, struct chunk *ch)
{
    const owl_cell *t = w->rows->cols[w->s->time_col] + r0;
    for (size_t i = 0; i < n; i++)
        w->times[i] = t[i].i;
    owl_buf_reset(&w->alt);
    owl_buf_reset(&w->packed);
    int rc = owl_enc_logtpl_time(w->strs, w->times, n, &w->alt);
    if (rc != OWL_OK || w->alt.len > CHUNK_RAW_MAX)
        return rc == OWL_ENOMEM ? rc : OWL_OK; /* STR it stays */
    if ((rc = owl_chunk_pack(w->alt.data, w->alt.len, w->level, &w->packed)) != OWL_OK)
        return rc;
    if (w->packed.len >= ch->len)
        return OWL_OK;
    w->out.len = before;
    if ((rc = owl_buf_append(&w->out, w->packed.data, w->packed.len)) != OWL_OK)
        return rc;
    ch->len = (uint32_t)w->packed.len;
    return OWL_OK;
}

/* Builds the bloom of one chunk (distinct items counted first, so the filter is sized for
 * them) and appends its serialized form to w->blooms. */
static int build_bloom(struct writer *w, enum owl_type t, unsigned flags, const owl_cell *v,
                       size_t n, size_t at)
{
    struct hset *s = &w->set;
    owl_bloom bl = {0};
    int rc = OWL_OK;
    hset_clear(s);
    memset(w->seen, 0, sizeof w->seen);
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        if (owl_type_is_bytes(t)) {
            /* a value equal to a recent one adds nothing: skip it (compared exactly) */
            const owl_bytes *b = &v[i].b;
            owl_bytes *seen = &w->seen[seen_slot(b)];
            if (seen->p && seen->n == b->n && (b->n == 0 || memcmp(seen->p, b->p, b->n) == 0))
                continue;
            if ((flags & OWL_COL_TOKENS) && !owl_type_id_width(t))
                rc = tokens_to_set(s, b->p, b->n);
            if (rc == OWL_OK && (flags & OWL_COL_BLOOM))
                rc = hset_add(s, owl_hash64(b->p, b->n, BLOOM_SEED));
            if (rc == OWL_OK && b->p)
                *seen = *b;
        } else {
            rc = hset_add(s, owl_pred_num_item(v[i].u));
        }
    }
    if (rc != OWL_OK)
        goto out;
    if ((rc = owl_bloom_init(&bl, s->n + (size_t)s->zero, BLOOM_FP)) != OWL_OK)
        goto out;
    size_t b = at / w->s->ncols;
    bl.salt = block_salt(w->blocks[b].min_time, b);
    if (s->zero)
        owl_bloom_add_hash(&bl, 0);
    for (size_t i = 0; i < s->n; i++)
        owl_bloom_add_hash(&bl, s->items[i]);
    w->bloom_off[at] = w->blooms.len;
    rc = owl_bloom_encode(&bl, &w->blooms);
    w->bloom_len[at] = w->blooms.len - w->bloom_off[at];
out:
    owl_bloom_free(&bl);
    return rc;
}

static int write_chunk(struct writer *w, size_t b, size_t c, size_t r0, size_t n,
                       owl_error *err)
{
    const owl_coldef *cd = &w->s->cols[c];
    const owl_cell *v = w->rows->cols[c] + r0;
    size_t at = b * w->s->ncols + c;
    struct chunk *ch = &w->chunks[at];
    int rc;

    owl_buf_reset(&w->enc);
    if (is_int(cd->type))
        rc = enc_ints(w, cd->type, v, n, ch);
    else if (cd->type == OWL_TYPE_F64)
        rc = enc_doubles(w, v, n, r0, ch);
    else
        rc = enc_bytes(w, c, r0, n);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "part: encoding block %zu column %s failed", b, cd->name);
    if (w->enc.len > CHUNK_RAW_MAX)
        return owl_error_set(err, OWL_EINVAL, "part: block %zu column %s encodes to %zu bytes "
                             "(over %zu): use smaller blocks", b, cd->name, w->enc.len,
                             CHUNK_RAW_MAX);
    if (wants_bloom(cd->type, cd->flags) &&
        (rc = build_bloom(w, cd->type, cd->flags, v, n, at)) != OWL_OK)
        return owl_error_set(err, rc, "part: bloom of block %zu column %s failed", b, cd->name);

    size_t before = w->out.len;
    ch->off = w->written + before;
    rc = cd->flags & OWL_COL_FAST ? owl_chunk_pack_fast(w->enc.data, w->enc.len, w->level, &w->out)
                                  : owl_chunk_pack(w->enc.data, w->enc.len, w->level, &w->out);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "part: packing block %zu column %s failed", b, cd->name);
    ch->len = (uint32_t)(w->out.len - before);
    if (uses_templates(cd, w->level) && (rc = try_templates(w, r0, n, before, ch)) != OWL_OK)
        return owl_error_set(err, rc, "part: template encoding of block %zu column %s failed",
                             b, cd->name);
    return OWL_OK;
}

static const char *key_of(uint32_t i, char *buf, size_t *len)
{
    const char *key;
    *len = bson_uint32_to_string(i, &key, buf, 16);
    return key;
}

static bool append_stat(bson_t *arr, const char *key, size_t klen, enum owl_type t, int has,
                        union num v)
{
    if (!has || !(is_int(t) || t == OWL_TYPE_F64))
        return bson_append_null(arr, key, (int)klen);
    if (t == OWL_TYPE_F64)
        return bson_append_double(arr, key, (int)klen, v.f);
    return bson_append_int64(arr, key, (int)klen, v.i);
}

/* One element of the footer's blocks array. */
static bool footer_block(const struct writer *w, size_t b, bson_t *blocks)
{
    const struct pblock *pb = &w->blocks[b];
    const struct chunk *row = &w->chunks[b * w->s->ncols];
    bson_t doc, off, len, mn, mx, bl;
    char kb[16], cb[16];
    size_t klen, clen;
    const char *key = key_of((uint32_t)b, kb, &klen);
    bool ok = bson_append_document_begin(blocks, key, (int)klen, &doc);
    if (!ok)
        return false;
    ok &= BSON_APPEND_INT32(&doc, "rows", (int32_t)pb->rows);
    ok &= BSON_APPEND_INT64(&doc, "min_time", pb->min_time);
    ok &= BSON_APPEND_INT64(&doc, "max_time", pb->max_time);
    if (!BSON_APPEND_ARRAY_BEGIN(&doc, "off", &off))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        const char *ck = key_of((uint32_t)c, cb, &clen);
        ok &= bson_append_int64(&off, ck, (int)clen, (int64_t)row[c].off);
    }
    ok &= bson_append_array_end(&doc, &off);
    if (!BSON_APPEND_ARRAY_BEGIN(&doc, "len", &len))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        const char *ck = key_of((uint32_t)c, cb, &clen);
        ok &= bson_append_int32(&len, ck, (int)clen, (int32_t)row[c].len);
    }
    ok &= bson_append_array_end(&doc, &len);
    if (!BSON_APPEND_ARRAY_BEGIN(&doc, "min", &mn))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        const char *ck = key_of((uint32_t)c, cb, &clen);
        ok &= append_stat(&mn, ck, clen, w->s->cols[c].type, row[c].has_min, row[c].min);
    }
    ok &= bson_append_array_end(&doc, &mn);
    if (!BSON_APPEND_ARRAY_BEGIN(&doc, "max", &mx))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        const char *ck = key_of((uint32_t)c, cb, &clen);
        ok &= append_stat(&mx, ck, clen, w->s->cols[c].type, row[c].has_max, row[c].max);
    }
    ok &= bson_append_array_end(&doc, &mx);
    if (!BSON_APPEND_DOCUMENT_BEGIN(&doc, "bloom", &bl))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        size_t at = b * w->s->ncols + c;
        if (!w->bloom_len[at])
            continue;
        const char *ck = key_of((uint32_t)c, cb, &clen);
        ok &= bson_append_binary(&bl, ck, (int)clen, BSON_SUBTYPE_BINARY,
                                 (const uint8_t *)w->blooms.data + w->bloom_off[at],
                                 (uint32_t)w->bloom_len[at]);
    }
    ok &= bson_append_document_end(&doc, &bl);
    ok &= bson_append_document_end(blocks, &doc);
    return ok;
}

static bool footer_doc(const struct writer *w, const owl_part_info *info, bson_t *doc)
{
    bson_t cols, blocks;
    char kb[16];
    size_t klen;
    bool ok = BSON_APPEND_INT32(doc, "v", FORMAT_VERSION);
    ok &= BSON_APPEND_UTF8(doc, "table", w->s->name);
    ok &= BSON_APPEND_UTF8(doc, "tenant", info->tenant);
    ok &= BSON_APPEND_UTF8(doc, "partition", info->partition);
    ok &= BSON_APPEND_INT32(doc, "day", info->day);
    if (info->ndays > 1)
        ok &= BSON_APPEND_INT32(doc, "ndays", info->ndays);
    ok &= BSON_APPEND_INT64(doc, "rows", (int64_t)w->nrows);
    int64_t lo = w->blocks[0].min_time, hi = w->blocks[0].max_time;
    for (size_t b = 1; b < w->nblocks; b++) {
        lo = w->blocks[b].min_time < lo ? w->blocks[b].min_time : lo;
        hi = w->blocks[b].max_time > hi ? w->blocks[b].max_time : hi;
    }
    ok &= BSON_APPEND_INT64(doc, "min_time", lo);
    ok &= BSON_APPEND_INT64(doc, "max_time", hi);
    ok &= BSON_APPEND_INT64(doc, "max_lsn", (int64_t)info->max_lsn);
    ok &= BSON_APPEND_INT32(doc, "level", info->level);
    ok &= BSON_APPEND_INT64(doc, "raw_bytes", (int64_t)w->raw_bytes);
    if (!ok || !BSON_APPEND_ARRAY_BEGIN(doc, "cols", &cols))
        return false;
    for (size_t c = 0; c < w->s->ncols; c++) {
        bson_t col;
        const char *key = key_of((uint32_t)c, kb, &klen);
        if (!bson_append_document_begin(&cols, key, (int)klen, &col))
            return false;
        ok &= BSON_APPEND_UTF8(&col, "name", w->s->cols[c].name);
        ok &= BSON_APPEND_INT32(&col, "type", (int32_t)w->s->cols[c].type);
        ok &= BSON_APPEND_INT32(&col, "flags", (int32_t)w->s->cols[c].flags);
        ok &= bson_append_document_end(&cols, &col);
    }
    ok &= bson_append_array_end(doc, &cols);
    if (!ok || !BSON_APPEND_ARRAY_BEGIN(doc, "blocks", &blocks))
        return false;
    for (size_t b = 0; b < w->nblocks; b++)
        if (!footer_block(w, b, &blocks))
            return false;
    ok &= bson_append_array_end(doc, &blocks);
    return ok;
}

/* Appends footer and trailer to w->out. */
static int write_footer(struct writer *w, const owl_part_info *info, owl_error *err)
{
    bson_t doc = BSON_INITIALIZER;
    int rc = OWL_OK;
    /* the reader refuses footers over FOOTER_MAX, so never write one */
    if (!footer_doc(w, info, &doc) || doc.len > FOOTER_MAX) {
        rc = owl_error_set(err, OWL_EINVAL, "part: footer over %llu bytes: write fewer rows "
                           "or larger blocks per part", (unsigned long long)FOOTER_MAX);
        goto out;
    }
    /* The footer repeats column names and block fields: packed (zstd) it shrinks to a third
     * or less, which matters for small parts. A footer that is mostly bloom bits hardly
     * shrinks: it is stored, and a reader then parses it where it read it, no copy. */
    owl_buf packed = OWL_BUF_INIT;
    if (owl_chunk_pack(bson_get_data(&doc), doc.len, 3, &packed) != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
        goto out;
    }
    if (packed.len * 10 > (size_t)doc.len * 9) {
        owl_buf_reset(&packed);
        if (owl_chunk_store(bson_get_data(&doc), doc.len, &packed) != OWL_OK) {
            owl_buf_free(&packed);
            rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
            goto out;
        }
    }
    uint64_t foff = w->written + w->out.len;
    uint8_t tr[TRAILER_SIZE];
    owl_put64le(tr, foff);
    owl_put32le(tr + 8, (uint32_t)packed.len);
    owl_put32le(tr + 12, owl_crc32c(0, packed.data, packed.len));
    memcpy(tr + 16, END_MAGIC, 8);
    if (owl_buf_append(&w->out, packed.data, packed.len) != OWL_OK ||
        owl_buf_append(&w->out, tr, sizeof tr) != OWL_OK)
        rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    owl_buf_free(&packed);
out:
    bson_destroy(&doc);
    return rc;
}

static int writer_alloc(struct writer *w, size_t nrows, size_t block_rows, owl_error *err)
{
    size_t ncols = w->s->ncols;
    w->nrows = nrows;
    size_t per = nrows < block_rows ? nrows : block_rows;
    w->nblocks = (nrows + block_rows - 1) / block_rows;
    w->blocks = calloc(w->nblocks, sizeof *w->blocks);
    w->chunks = calloc(w->nblocks * ncols, sizeof *w->chunks);
    w->bloom_off = calloc(w->nblocks * ncols, sizeof *w->bloom_off);
    w->bloom_len = calloc(w->nblocks * ncols, sizeof *w->bloom_len);
    w->num = malloc(per * 8);
    w->strs = malloc(per * sizeof *w->strs);
    w->fixed = malloc(per * 16);
    w->fixed_ref = malloc(per * 16);
    w->times = malloc(per * sizeof *w->times);
    w->seg = malloc(per * sizeof *w->seg);
    if (!w->blocks || !w->chunks || !w->bloom_off || !w->bloom_len || !w->num || !w->strs ||
        !w->fixed || !w->fixed_ref || !w->times || !w->seg)
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    return OWL_OK;
}

static void writer_free(struct writer *w)
{
    owl_buf_free(&w->out);
    owl_buf_free(&w->enc);
    owl_buf_free(&w->alt);
    owl_buf_free(&w->packed);
    owl_buf_free(&w->blooms);
    free(w->bloom_off);
    free(w->bloom_len);
    free(w->num);
    free(w->strs);
    free(w->fixed);
    free(w->fixed_ref);
    owl_idref_enc_free(&w->idref);
    free(w->times);
    free(w->seg);
    free(w->set.slots);
    free(w->set.items);
    free(w->set.mask);
    free(w->blocks);
    free(w->chunks);
}

static int write_header(struct writer *w, owl_error *err)
{
    uint8_t hdr[HDR_SIZE];
    memcpy(hdr, HDR_MAGIC, 8);
    owl_put32le(hdr + 8, FORMAT_VERSION);
    owl_put32le(hdr + 12, owl_crc32c(0, hdr, 12));
    int rc = owl_buf_append(&w->out, hdr, sizeof hdr);
    return rc == OWL_OK ? OWL_OK : owl_error_set(err, rc, "part: out of memory");
}

/* Block b: rows r0 .. r0 + n - 1 of w->rows, every column's chunk through w->out. */
static int write_block(struct writer *w, size_t b, size_t r0, size_t n, owl_error *err)
{
    const owl_cell *t = w->rows->cols[w->s->time_col];
    /* time-sorted rows: the first and last; a clustered part's block can hold several
     * series, each time-sorted: the true bounds */
    int64_t lo = t[r0].i, hi = t[r0 + n - 1].i;
    for (size_t r = r0; r < r0 + n; r++) {
        lo = t[r].i < lo ? t[r].i : lo;
        hi = t[r].i > hi ? t[r].i : hi;
    }
    w->blocks[b] = (struct pblock){(uint32_t)n, lo, hi};
    for (size_t c = 0; c < w->s->ncols; c++) {
        int rc = write_chunk(w, b, c, r0, n, err);
        if (rc == OWL_OK && w->out.len >= WRITE_FLUSH)
            rc = flush_out(w, err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

/* Header, then every block's chunks, then footer and trailer, through w->out (what is left
 * in it is written by commit_file). */
static int write_body(struct writer *w, size_t block_rows, const owl_part_info *info,
                      owl_error *err)
{
    int rc = write_header(w, err);
    for (size_t b = 0; rc == OWL_OK && b < w->nblocks; b++) {
        size_t r0 = b * block_rows;
        size_t n = w->nrows - r0 < block_rows ? w->nrows - r0 : block_rows;
        rc = write_block(w, b, r0, n, err);
    }
    return rc == OWL_OK ? write_footer(w, info, err) : rc;
}

/* Splits path into path.tmp and its directory; OWL_EINVAL when too long. */
static int tmp_and_dir(const char *path, char tmp[PATH_LEN], char dir[PATH_LEN], owl_error *err)
{
    if (!path || strlen(path) + 5 > PATH_LEN)
        return owl_error_set(err, OWL_EINVAL, "part: bad path");
    snprintf(tmp, PATH_LEN, "%s.tmp", path);
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, PATH_LEN, ".");
    else if (slash == path)
        snprintf(dir, PATH_LEN, "/");
    else
        snprintf(dir, PATH_LEN, "%.*s", (int)(slash - path), path);
    return OWL_OK;
}

/* The end of a part whose footer is in w->out: written out, fsynced, closed and renamed from
 * w->tmp to path (the caller fsyncs the directory). */
static int commit_file(struct writer *w, const char *path, owl_error *err)
{
    const char *tmp = w->tmp;
    int rc = flush_out(w, err);
    if (rc != OWL_OK)
        return rc;
    if (fsync(w->fd) != 0)
        return owl_error_set(err, owl_err_from_errno(errno), "fsync %s: %s", tmp,
                             strerror(errno));
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
        return owl_error_set(err, owl_err_from_errno(errno), "close %s: %s", tmp,
                             strerror(errno));
    if (rename(tmp, path) != 0)
        return owl_error_set(err, owl_err_from_errno(errno), "rename %s: %s", tmp,
                             strerror(errno));
    return OWL_OK;
}

int owl_part_write(const char *path, const owl_schema *schema, const owl_part_info *info,
                   const owl_rows *rows, size_t block_rows, int zstd_level, uint64_t *file_bytes,
                   owl_error *err)
{
    struct writer w = {.s = schema, .rows = rows, .level = zstd_level, .fd = -1};
    char tmp[PATH_LEN], dir[PATH_LEN];
    int rc, created = 0;

    if ((rc = tmp_and_dir(path, tmp, dir, err)) != OWL_OK)
        return rc;
    if ((rc = check_input(schema, info, rows, block_rows, err)) != OWL_OK)
        return rc;
    w.tmp = tmp;
    if ((rc = writer_alloc(&w, rows->nrows, block_rows, err)) != OWL_OK)
        goto out;
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", tmp, strerror(errno));
        goto out;
    }
    created = 1;
    if ((rc = write_body(&w, block_rows, info, err)) != OWL_OK)
        goto out;
    if ((rc = commit_file(&w, path, err)) != OWL_OK)
        goto out;
    created = 0;
    if ((rc = owl_fsync_dir(dir, err)) != OWL_OK)
        goto out;
    if (file_bytes)
        *file_bytes = w.written;
out:
    if (w.fd >= 0)
        close(w.fd);
    if (created)
        unlink(tmp);
    writer_free(&w);
    return rc;
}

/* ---- the same, block by block (owl_part_writer_*) ---- */

struct owl_part_writer {
    struct writer w;
    owl_part_info info;
    char *tenant, *partition; /* info's, owned */
    char path[PATH_LEN], tmp[PATH_LEN], dir[PATH_LEN];
    size_t block_rows, added, b;
    int short_block;          /* a block of fewer than block_rows was added: the last */
    uint64_t last_k;          /* the last row added: cluster key and time */
    int64_t last_t;
    size_t kc;                /* the cluster column, or SIZE_MAX */
};

void owl_part_writer_abort(owl_part_writer *pw)
{
    if (!pw)
        return;
    if (pw->w.fd >= 0) {
        close(pw->w.fd);
        unlink(pw->tmp);
    }
    writer_free(&pw->w);
    free(pw->tenant);
    free(pw->partition);
    free(pw);
}

int owl_part_writer_open(const char *path, const owl_schema *schema, const owl_part_info *info,
                         size_t nrows, size_t block_rows, int zstd_level, owl_part_writer **out,
                         owl_error *err)
{
    *out = NULL;
    int rc = check_meta(schema, info, block_rows, err);
    if (rc != OWL_OK)
        return rc;
    if (nrows == 0)
        return owl_error_set(err, OWL_EINVAL, "part: no rows");
    owl_part_writer *pw = calloc(1, sizeof *pw);
    if (!pw)
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    pw->w = (struct writer){.s = schema, .level = zstd_level, .fd = -1, .tmp = pw->tmp};
    pw->info = *info;
    pw->info.tenant = pw->tenant = strdup(info->tenant);
    pw->info.partition = pw->partition = strdup(info->partition);
    pw->block_rows = block_rows;
    pw->kc = cluster_col(schema);
    if (!pw->tenant || !pw->partition) {
        rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
        goto fail;
    }
    if ((rc = tmp_and_dir(path, pw->tmp, pw->dir, err)) != OWL_OK)
        goto fail;
    snprintf(pw->path, sizeof pw->path, "%s", path);
    if ((rc = writer_alloc(&pw->w, nrows, block_rows, err)) != OWL_OK)
        goto fail;
    pw->w.fd = open(pw->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (pw->w.fd < 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", pw->tmp,
                           strerror(errno));
        goto fail;
    }
    if ((rc = write_header(&pw->w, err)) != OWL_OK)
        goto fail;
    *out = pw;
    return OWL_OK;
fail:
    owl_part_writer_abort(pw);
    return rc;
}

static int writer_add(owl_part_writer *pw, const owl_rows *rows, int checked, owl_error *err)
{
    struct writer *w = &pw->w;
    int rc = checked ? OWL_OK : check_rows(w->s, rows, err);
    if (rc != OWL_OK)
        return rc;
    size_t want = w->nrows - pw->added < pw->block_rows ? w->nrows - pw->added : pw->block_rows;
    /* a short block ends the part early (owl_part_writer_end) */
    if (rows->nrows == 0 || rows->nrows > want || pw->short_block)
        return owl_error_set(err, OWL_EINVAL, "part: block %zu of %zu rows, want %zu", pw->b,
                             rows->nrows, want);
    if (rows->nrows < want)
        pw->short_block = 1;
    const owl_cell *t = rows->cols[w->s->time_col];
    uint64_t k0 = pw->kc == SIZE_MAX ? 0 : rows->cols[pw->kc][0].u;
    if (pw->added && (k0 < pw->last_k || (k0 == pw->last_k && t[0].i < pw->last_t)))
        return owl_error_set(err, OWL_EINVAL, "part: rows not sorted at block %zu", pw->b);
    w->rows = rows;
    rc = write_block(w, pw->b, 0, rows->nrows, err);
    w->rows = NULL;
    if (rc != OWL_OK)
        return rc;
    pw->last_k = pw->kc == SIZE_MAX ? 0 : rows->cols[pw->kc][rows->nrows - 1].u;
    pw->last_t = t[rows->nrows - 1].i;
    pw->added += rows->nrows;
    pw->b++;
    return OWL_OK;
}

int owl_part_writer_add(owl_part_writer *pw, const owl_rows *rows, owl_error *err)
{
    return writer_add(pw, rows, 0, err);
}

int owl_part_writer_add_checked(owl_part_writer *pw, const owl_rows *rows, owl_error *err)
{
    return writer_add(pw, rows, 1, err);
}

int owl_part_writer_end(owl_part_writer *pw, owl_error *err)
{
    if (!pw->added)
        return owl_error_set(err, OWL_EINVAL, "part: ended with no rows");
    pw->w.nrows = pw->added;
    pw->w.nblocks = pw->b;
    return OWL_OK;
}

int owl_part_writer_finish(owl_part_writer *pw, uint64_t *file_bytes, owl_error *err)
{
    int rc;
    if (pw->added != pw->w.nrows)
        rc = owl_error_set(err, OWL_EINVAL, "part: %zu rows added of %zu", pw->added,
                           pw->w.nrows);
    else if ((rc = write_footer(&pw->w, &pw->info, err)) == OWL_OK) {
        rc = commit_file(&pw->w, pw->path, err);
        if (rc != OWL_OK && pw->w.fd < 0)
            unlink(pw->tmp); /* closed, not renamed (abort unlinks it while open) */
        if (rc == OWL_OK && (rc = owl_fsync_dir(pw->dir, err)) == OWL_OK && file_bytes)
            *file_bytes = pw->w.written;
    }
    owl_part_writer_abort(pw);
    return rc;
}

/* ======================================================================================
 * Reader
 * ====================================================================================== */

static int corrupt(const owl_part *p, owl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int corrupt(const owl_part *p, owl_error *err, const char *fmt, ...)
{
    char msg[OWL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return owl_error_set(err, OWL_ECORRUPT, "part %s: %s", p->path, msg);
}

/* A part of a later format (its header's checksum holds): sound, but for a newer owl. Not
 * corruption, so the store refuses to open rather than quarantine it. */
static int newer(const owl_part *p, owl_error *err, unsigned v)
{
    return owl_error_set(err, OWL_EUNSUPPORTED,
                         "part %s: format version %u is newer than this program's %d (written "
                         "by a later owl)", p->path, v, FORMAT_VERSION);
}

/* Reads exactly n bytes at off; a short read is corruption (the size was checked first). */
static int read_at(const owl_part *p, void *buf, size_t n, uint64_t off, owl_error *err)
{
    size_t done;
    int e = owl_pread_full(p->fd, buf, n, off, &done);
    if (e)
        return owl_error_set(err, OWL_EIO, "read %s: %s", p->path, strerror(e));
    if (done < n)
        return corrupt(p, err, "unexpected end of file at %llu", (unsigned long long)(off + done));
    return OWL_OK;
}

/* Finds key in d with type t. */
static int field(const owl_part *p, const bson_t *d, const char *key, bson_type_t t,
                 bson_iter_t *it, owl_error *err)
{
    if (!bson_iter_init_find(it, d, key) || bson_iter_type(it) != t)
        return corrupt(p, err, "footer field %s missing or not of type %d", key, (int)t);
    return OWL_OK;
}

/* The sub-document or array at it, as a bson_t view. */
static int sub(const owl_part *p, const bson_iter_t *it, bson_t *out, owl_error *err)
{
    uint32_t len = 0;
    const uint8_t *data = NULL;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &len, &data);
    else if (BSON_ITER_HOLDS_ARRAY(it))
        bson_iter_array(it, &len, &data);
    if (!data || !bson_init_static(out, data, len))
        return corrupt(p, err, "footer field %s is not a valid document", bson_iter_key(it));
    return OWL_OK;
}

static int field_doc(const owl_part *p, const bson_t *d, const char *key, bson_type_t t,
                     bson_t *out, owl_error *err)
{
    bson_iter_t it;
    int rc = field(p, d, key, t, &it, err);
    return rc != OWL_OK ? rc : sub(p, &it, out, err);
}

static int field_i64(const owl_part *p, const bson_t *d, const char *key, int64_t *v,
                     owl_error *err)
{
    bson_iter_t it;
    int rc = field(p, d, key, BSON_TYPE_INT64, &it, err);
    if (rc == OWL_OK)
        *v = bson_iter_int64(&it);
    return rc;
}

static int field_i32(const owl_part *p, const bson_t *d, const char *key, int32_t *v,
                     owl_error *err)
{
    bson_iter_t it;
    int rc = field(p, d, key, BSON_TYPE_INT32, &it, err);
    if (rc == OWL_OK)
        *v = bson_iter_int32(&it);
    return rc;
}

/* A malloc'd copy of a utf8 field without embedded NULs. */
static int field_str(owl_part *p, const bson_t *d, const char *key, char **out, owl_error *err)
{
    bson_iter_t it;
    int rc = field(p, d, key, BSON_TYPE_UTF8, &it, err);
    if (rc != OWL_OK)
        return rc;
    uint32_t n = 0;
    const char *s = bson_iter_utf8(&it, &n);
    if (memchr(s, 0, n))
        return corrupt(p, err, "footer field %s holds a NUL", key);
    if (!(*out = strndup(s, n)))
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    return OWL_OK;
}

/* Iterates an array expecting exactly want elements (checked by count first). */
static int array_len(const owl_part *p, const bson_t *arr, const char *what, size_t want,
                     owl_error *err)
{
    size_t n = bson_count_keys(arr);
    if (n != want)
        return corrupt(p, err, "footer array %s has %zu elements, want %zu", what, n, want);
    return OWL_OK;
}

static const char *type_name(enum owl_type t)
{
    static const char *const names[] = {
        [OWL_TYPE_TIME] = "TIME", [OWL_TYPE_I64] = "I64",   [OWL_TYPE_U64] = "U64",
        [OWL_TYPE_F64] = "F64",   [OWL_TYPE_DICT] = "DICT", [OWL_TYPE_STR] = "STR",
        [OWL_TYPE_ID8] = "ID8",   [OWL_TYPE_ID16] = "ID16", [OWL_TYPE_BSON] = "BSON",
    };
    return t >= OWL_TYPE_TIME && t <= OWL_TYPE_BSON ? names[t] : "?";
}

/* Places file column k (name owned from here on) at its column: the same index without a
 * schema, else the schema column of the same name (none: ignored). */
static int place_col(owl_part *p, const owl_schema *s, size_t k, char *name, unsigned flags,
                     owl_error *err)
{
    size_t c = k;
    p->fmap[k] = SIZE_MAX;
    if (s && owl_schema_col(s, name, &c) != OWL_OK) {
        free(name);
        return OWL_OK;
    }
    if (p->names[c]) {
        free(name);
        return corrupt(p, err, "column %s appears twice", p->names[c]);
    }
    p->names[c] = name;
    if (s && p->ftypes[k] != s->cols[c].type)
        return owl_error_set(err, OWL_EUNSUPPORTED,
                             "part %s: column %s is %s in the part but %s in the schema of table "
                             "%s (a column's type cannot change)",
                             p->path, name, type_name(p->ftypes[k]), type_name(s->cols[c].type),
                             s->name);
    p->fmap[k] = c;
    p->types[c] = p->ftypes[k];
    p->flags[c] = flags;
    return OWL_OK;
}

/* The columns, matched to the schema's by name (s NULL: taken as the file says). */
static int parse_cols(owl_part *p, const owl_schema *s, const bson_t *footer, owl_error *err)
{
    bson_t cols;
    bson_iter_t it;
    int rc = field_doc(p, footer, "cols", BSON_TYPE_ARRAY, &cols, err);
    if (rc != OWL_OK)
        return rc;
    p->fcols = bson_count_keys(&cols);
    if (p->fcols == 0 || p->fcols > OWL_MAX_COLS)
        return corrupt(p, err, "%zu columns", p->fcols);
    if (!s)
        p->ncols = p->fcols;
    bson_iter_init(&it, &cols);
    for (size_t k = 0; bson_iter_next(&it); k++) {
        bson_t col;
        int32_t type, flags;
        char *name = NULL;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            return corrupt(p, err, "footer column %zu is not a document", k);
        if ((rc = sub(p, &it, &col, err)) || (rc = field_i32(p, &col, "type", &type, err)) ||
            (rc = field_i32(p, &col, "flags", &flags, err)) ||
            (rc = field_str(p, &col, "name", &name, err)))
            return rc;
        if (type < OWL_TYPE_TIME || type > OWL_TYPE_BSON) {
            free(name);
            return corrupt(p, err, "column %zu has unknown type %d", k, (int)type);
        }
        p->ftypes[k] = (enum owl_type)type;
        if ((rc = place_col(p, s, k, name, (unsigned)flags, err)) != OWL_OK)
            return rc;
    }
    if (!s) {
        for (p->time_col = 0; p->time_col < p->ncols; p->time_col++)
            if (p->types[p->time_col] == OWL_TYPE_TIME)
                break;
        if (p->time_col == p->ncols)
            return corrupt(p, err, "no time column");
        return OWL_OK;
    }
    if (!p->names[s->time_col])
        return owl_error_set(err, OWL_EUNSUPPORTED, "part %s has no column %s (the time column "
                             "of table %s)", p->path, s->cols[s->time_col].name, s->name);
    for (size_t c = 0; c < s->ncols; c++) {
        if (p->names[c])
            continue;
        /* added to the schema after the part was written: its default in every row */
        p->absent[c] = 1;
        p->types[c] = s->cols[c].type;
        p->flags[c] = 0;
        if (!(p->names[c] = strdup(s->cols[c].name)))
            return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    }
    return OWL_OK;
}

/* off/len arrays of one block: every chunk inside [HDR_SIZE, F). */
static int parse_offsets(owl_part *p, size_t b, const bson_t *blk, owl_error *err)
{
    bson_t off, len;
    bson_iter_t io, il;
    int rc;
    if ((rc = field_doc(p, blk, "off", BSON_TYPE_ARRAY, &off, err)) ||
        (rc = field_doc(p, blk, "len", BSON_TYPE_ARRAY, &len, err)) ||
        (rc = array_len(p, &off, "off", p->fcols, err)) ||
        (rc = array_len(p, &len, "len", p->fcols, err)))
        return rc;
    bson_iter_init(&io, &off);
    bson_iter_init(&il, &len);
    for (size_t k = 0; bson_iter_next(&io) && bson_iter_next(&il); k++) {
        if (!BSON_ITER_HOLDS_INT64(&io) || !BSON_ITER_HOLDS_INT32(&il))
            return corrupt(p, err, "block %zu: chunk offset/length of the wrong type", b);
        int64_t o = bson_iter_int64(&io);
        int32_t l = bson_iter_int32(&il);
        if (o < HDR_SIZE || l < CHUNK_MIN || (uint64_t)o > p->data_end ||
            (uint64_t)l > p->data_end - (uint64_t)o)
            return corrupt(p, err, "block %zu column %zu: chunk [%lld, +%d) outside the data",
                           b, k, (long long)o, (int)l);
        if (p->fmap[k] == SIZE_MAX)
            continue;
        struct chunk *ch = &p->chunks[b * p->ncols + p->fmap[k]];
        ch->off = (uint64_t)o;
        ch->len = (uint32_t)l;
    }
    return OWL_OK;
}

/* min or max array of one block: int64 for integer columns, double for F64, or null. */
static int parse_stats(owl_part *p, size_t b, const bson_t *blk, int is_max, owl_error *err)
{
    const char *key = is_max ? "max" : "min";
    bson_t arr;
    bson_iter_t it;
    int rc;
    if ((rc = field_doc(p, blk, key, BSON_TYPE_ARRAY, &arr, err)) ||
        (rc = array_len(p, &arr, key, p->fcols, err)))
        return rc;
    bson_iter_init(&it, &arr);
    for (size_t k = 0; bson_iter_next(&it); k++) {
        struct chunk scratch, *ch = p->fmap[k] == SIZE_MAX ? &scratch
                                                            : &p->chunks[b * p->ncols + p->fmap[k]];
        enum owl_type t = p->ftypes[k];
        union num v = {0};
        int has = 1;
        if (BSON_ITER_HOLDS_NULL(&it))
            has = 0;
        else if (is_int(t) && BSON_ITER_HOLDS_INT64(&it))
            v.i = bson_iter_int64(&it);
        else if (t == OWL_TYPE_F64 && BSON_ITER_HOLDS_DOUBLE(&it))
            v.f = bson_iter_double(&it);
        else
            return corrupt(p, err, "block %zu column %zu: %s of the wrong type", b, k, key);
        if (is_max) {
            ch->has_max = (uint8_t)has;
            ch->max = v;
        } else {
            ch->has_min = (uint8_t)has;
            ch->min = v;
        }
    }
    return OWL_OK;
}

/* Column index from a bloom key: decimal without leading zeros, < ncols. */
static int bloom_col(const char *key, size_t ncols, size_t *c)
{
    size_t v = 0, n = strlen(key);
    if (n == 0 || n > 2 || (n > 1 && key[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (key[i] < '0' || key[i] > '9')
            return -1;
        v = v * 10 + (size_t)(key[i] - '0');
    }
    if (v >= ncols)
        return -1;
    *c = v;
    return 0;
}

static int parse_blooms(owl_part *p, size_t b, const bson_t *blk, owl_error *err)
{
    bson_t doc;
    bson_iter_t it;
    int rc = field_doc(p, blk, "bloom", BSON_TYPE_DOCUMENT, &doc, err);
    if (rc != OWL_OK)
        return rc;
    bson_iter_init(&it, &doc);
    while (bson_iter_next(&it)) {
        size_t k;
        bson_subtype_t st;
        uint32_t len;
        const uint8_t *data;
        if (bloom_col(bson_iter_key(&it), p->fcols, &k) != 0 || !BSON_ITER_HOLDS_BINARY(&it))
            return corrupt(p, err, "block %zu: bad bloom entry %s", b, bson_iter_key(&it));
        /* the key is the file's column position; a column the schema dropped keeps its
         * bloom checked but unused */
        owl_bloom scratch = {0}, *bl =
            p->fmap[k] == SIZE_MAX ? &scratch : &p->blooms[b * p->ncols + p->fmap[k]];
        bson_iter_binary(&it, &st, &len, &data);
        if (st != BSON_SUBTYPE_BINARY || bl->nwords)
            return corrupt(p, err, "block %zu column %zu: bad or repeated bloom", b, k);
        rc = owl_bloom_view(data, len, bl);
        if (rc != OWL_OK)
            return corrupt(p, err, "block %zu column %zu: bad bloom", b, k);
        if (p->format >= 3)
            bl->salt = block_salt(p->blocks[b].min_time, b);
    }
    return OWL_OK;
}

static int parse_block(owl_part *p, size_t b, const bson_t *blk, owl_error *err)
{
    struct pblock *pb = &p->blocks[b];
    int32_t rows;
    int64_t lo, hi;
    int rc;
    if ((rc = field_i32(p, blk, "rows", &rows, err)) ||
        (rc = field_i64(p, blk, "min_time", &lo, err)) ||
        (rc = field_i64(p, blk, "max_time", &hi, err)))
        return rc;
    if (rows < 1 || (size_t)rows > BLOCK_ROWS_MAX)
        return corrupt(p, err, "block %zu: %d rows", b, (int)rows);
    /* blocks hold consecutive runs of time-sorted rows (of (cluster, time)-sorted rows in a
     * clustered part, whose blocks' time ranges may then overlap) */
    int clustered = 0;
    for (size_t c = 0; c < p->ncols; c++)
        clustered |= (p->flags[c] & OWL_COL_CLUSTER) != 0;
    if (lo > hi || lo < p->meta.min_time || hi > p->meta.max_time ||
        (b > 0 && !clustered && lo < p->blocks[b - 1].max_time))
        return corrupt(p, err, "block %zu: time bounds [%lld, %lld] out of order", b,
                       (long long)lo, (long long)hi);
    *pb = (struct pblock){(uint32_t)rows, lo, hi};
    if ((rc = parse_offsets(p, b, blk, err)) || (rc = parse_stats(p, b, blk, 0, err)) ||
        (rc = parse_stats(p, b, blk, 1, err)))
        return rc;
    for (size_t c = 0; c < p->ncols; c++) {
        /* an absent column holds its default, 0, in every row: min = max = 0 prunes right */
        struct chunk *ch = &p->chunks[b * p->ncols + c];
        if (p->absent[c] && (is_int(p->types[c]) || p->types[c] == OWL_TYPE_F64)) {
            ch->has_min = ch->has_max = 1;
            memset(&ch->min, 0, sizeof ch->min);
            memset(&ch->max, 0, sizeof ch->max);
            if (p->types[c] == OWL_TYPE_F64)
                ch->min.f = ch->max.f = 0.0;
        }
    }
    return parse_blooms(p, b, blk, err);
}

static int parse_blocks(owl_part *p, const bson_t *footer, owl_error *err)
{
    bson_t arr;
    bson_iter_t it;
    int rc = field_doc(p, footer, "blocks", BSON_TYPE_ARRAY, &arr, err);
    if (rc != OWL_OK)
        return rc;
    size_t nb = bson_count_keys(&arr);
    if (nb == 0 || nb > p->meta.rows)
        return corrupt(p, err, "%zu blocks for %llu rows", nb, (unsigned long long)p->meta.rows);
    p->blocks = calloc(nb, sizeof *p->blocks);
    p->chunks = calloc(nb * p->ncols, sizeof *p->chunks);
    p->blooms = calloc(nb * p->ncols, sizeof *p->blooms);
    if (!p->blocks || !p->chunks || !p->blooms)
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    p->meta.nblocks = nb;
    uint64_t sum = 0;
    bson_iter_init(&it, &arr);
    for (size_t b = 0; b < nb && bson_iter_next(&it); b++) {
        bson_t blk;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            return corrupt(p, err, "block %zu is not a document", b);
        if ((rc = sub(p, &it, &blk, err)) || (rc = parse_block(p, b, &blk, err)))
            return rc;
        sum += p->blocks[b].rows;
    }
    if (sum != p->meta.rows)
        return corrupt(p, err, "blocks hold %llu rows, the footer says %llu",
                       (unsigned long long)sum, (unsigned long long)p->meta.rows);
    int64_t lo = p->blocks[0].min_time, hi = p->blocks[nb - 1].max_time;
    for (size_t b = 0; b < nb; b++) {
        lo = p->blocks[b].min_time < lo ? p->blocks[b].min_time : lo;
        hi = p->blocks[b].max_time > hi ? p->blocks[b].max_time : hi;
    }
    if (lo != p->meta.min_time || hi != p->meta.max_time)
        return corrupt(p, err, "block time bounds disagree with the part's");
    return OWL_OK;
}

static int parse_footer(owl_part *p, const owl_schema *s, const uint8_t *data, size_t len,
                        owl_error *err)
{
    bson_t doc;
    size_t bad;
    int32_t v, day, level;
    int64_t rows, lo, hi, lsn, raw;
    char *table = NULL;
    int rc;
    if (!bson_init_static(&doc, data, len) || !bson_validate(&doc, BSON_VALIDATE_NONE, &bad))
        return corrupt(p, err, "footer is not a valid BSON document");
    if ((rc = field_i32(p, &doc, "v", &v, err)))
        return rc;
    if (v > FORMAT_VERSION && v < 1000)
        return newer(p, err, (unsigned)v);
    if (v < FORMAT_OLDEST || v > FORMAT_VERSION)
        return corrupt(p, err, "footer version %d", (int)v);
    p->format = v;
    if ((rc = field_str(p, &doc, "table", &table, err)))
        return rc;
    int same = !s || strcmp(table, s->name) == 0;
    free(table);
    if (!same)
        return corrupt(p, err, "part of another table (schema %s)", s->name);
    if ((rc = field_str(p, &doc, "tenant", (char **)&p->meta.tenant, err)) ||
        (rc = field_str(p, &doc, "partition", (char **)&p->meta.partition, err)) ||
        (rc = field_i32(p, &doc, "day", &day, err)) ||
        (rc = field_i64(p, &doc, "rows", &rows, err)) ||
        (rc = field_i64(p, &doc, "min_time", &lo, err)) ||
        (rc = field_i64(p, &doc, "max_time", &hi, err)) ||
        (rc = field_i64(p, &doc, "max_lsn", &lsn, err)) ||
        (rc = field_i32(p, &doc, "level", &level, err)) ||
        (rc = field_i64(p, &doc, "raw_bytes", &raw, err)))
        return rc;
    int32_t ndays = 1;
    bson_iter_t it;
    if (bson_iter_init_find(&it, &doc, "ndays")) {
        if (!BSON_ITER_HOLDS_INT32(&it))
            return corrupt(p, err, "footer field ndays is not an int32");
        ndays = bson_iter_int32(&it);
    }
    if (rows < 1 || lo > hi || level < 0 || raw < 0 || ndays < 1 || ndays > 36600)
        return corrupt(p, err, "footer values out of range");
    p->meta.day = day;
    p->meta.last_day = day + ndays - 1;
    p->meta.rows = (uint64_t)rows;
    p->meta.min_time = lo;
    p->meta.max_time = hi;
    p->meta.max_lsn = (uint64_t)lsn;
    p->meta.level = level;
    p->meta.raw_bytes = (uint64_t)raw;
    if ((rc = parse_cols(p, s, &doc, err)))
        return rc;
    return parse_blocks(p, &doc, err);
}

/* Header and trailer; sets p->data_end and the footer's length and crc. */
static int read_frame(owl_part *p, uint64_t size, uint32_t *flen, uint32_t *fcrc, owl_error *err)
{
    uint8_t hdr[HDR_SIZE], tr[TRAILER_SIZE];
    int rc;
    if (size < HDR_SIZE + FOOTER_MIN + TRAILER_SIZE)
        return corrupt(p, err, "file of %llu bytes is too short", (unsigned long long)size);
    if ((rc = read_at(p, hdr, sizeof hdr, 0, err)) ||
        (rc = read_at(p, tr, sizeof tr, size - TRAILER_SIZE, err)))
        return rc;
    if (memcmp(hdr, HDR_MAGIC, 8) != 0 || owl_get32le(hdr + 12) != owl_crc32c(0, hdr, 12))
        return corrupt(p, err, "bad header");
    if (owl_get32le(hdr + 8) > FORMAT_VERSION && owl_get32le(hdr + 8) < 1000)
        return newer(p, err, owl_get32le(hdr + 8));
    if (owl_get32le(hdr + 8) < FORMAT_OLDEST || owl_get32le(hdr + 8) > FORMAT_VERSION)
        return corrupt(p, err, "format version %u", owl_get32le(hdr + 8));
    if (memcmp(tr + 16, END_MAGIC, 8) != 0)
        return corrupt(p, err, "bad trailer magic");
    uint64_t foff = owl_get64le(tr);
    *flen = owl_get32le(tr + 8);
    *fcrc = owl_get32le(tr + 12);
    if (*flen < FOOTER_MIN || *flen > FOOTER_MAX || *flen > size - TRAILER_SIZE - HDR_SIZE ||
        foff != size - TRAILER_SIZE - *flen)
        return corrupt(p, err, "trailer says footer [%llu, +%u) in a file of %llu bytes",
                       (unsigned long long)foff, *flen, (unsigned long long)size);
    p->data_end = foff;
    return OWL_OK;
}

int owl_part_open(const char *path, const owl_schema *schema, owl_part **out, owl_error *err)
{
    owl_part *p = NULL;
    uint8_t *footer = NULL;
    uint32_t flen = 0, fcrc = 0;
    struct stat st;
    int rc;

    *out = NULL;
    if (!path)
        return owl_error_set(err, OWL_EINVAL, "part: no path");
    if (schema && (rc = check_schema(schema, err)) != OWL_OK)
        return rc;
    static _Atomic uint64_t next_id;
    p = calloc(1, sizeof *p);
    if (p) {
        p->id = ++next_id;
        p->fd = -1; /* so a failure before open() closes nothing */
    }
    if (!p || !(p->path = strdup(path))) {
        rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
        goto out;
    }
    if (schema) {
        p->ncols = schema->ncols;
        p->time_col = schema->time_col;
    }
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) {
        rc = owl_error_set(err, errno == ENOENT ? OWL_ENOTFOUND : owl_err_from_errno(errno),
                           "open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(p->fd, &st) != 0) {
        rc = owl_error_set(err, OWL_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = corrupt(p, err, "not a regular file");
        goto out;
    }
    p->meta.file_bytes = (uint64_t)st.st_size;
    if ((rc = read_frame(p, (uint64_t)st.st_size, &flen, &fcrc, err)))
        goto out;
    if (!(footer = malloc(flen))) {
        rc = owl_error_set(err, OWL_ENOMEM, "part: out of memory");
        goto out;
    }
    if ((rc = read_at(p, footer, flen, p->data_end, err)))
        goto out;
    if (owl_crc32c(0, footer, flen) != fcrc) {
        rc = corrupt(p, err, "footer checksum mismatch");
        goto out;
    }
    /* the trailer's crc covered every byte of the packed footer: no second crc pass; a
     * stored footer is parsed where it was read */
    const uint8_t *doc;
    size_t dlen;
    rc = owl_chunk_stored_view(footer, flen, &doc, &dlen);
    if (rc == OWL_OK) {
        p->footer_mem = footer;
        footer = NULL;
    } else if (rc == OWL_ENOTFOUND) {
        owl_buf unpacked = OWL_BUF_INIT;
        if (owl_chunk_unpack_checked(footer, flen, FOOTER_MAX, &unpacked) != OWL_OK) {
            owl_buf_free(&unpacked);
            rc = corrupt(p, err, "footer does not unpack");
            goto out;
        }
        p->footer_mem = unpacked.data; /* owned from here on */
        doc = (const uint8_t *)unpacked.data;
        dlen = unpacked.len;
    } else {
        rc = corrupt(p, err, "footer does not unpack");
        goto out;
    }
    rc = parse_footer(p, schema, doc, dlen, err);
out:
    free(footer);
    if (rc != OWL_OK)
        owl_part_close(p);
    else
        *out = p;
    return rc;
}

void owl_part_close(owl_part *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    /* the blooms are views into footer_mem: nothing of theirs to free */
    for (size_t c = 0; c < OWL_MAX_COLS; c++)
        free(p->names[c]);
    free(p->blooms);
    free(p->footer_mem);
    free(p->chunks);
    free(p->blocks);
    free((char *)p->meta.tenant);
    free((char *)p->meta.partition);
    free(p->path);
    free(p);
}

const owl_part_meta *owl_part_get_meta(const owl_part *p)
{
    return &p->meta;
}

void owl_part_block(const owl_part *p, size_t b, size_t *rows, int64_t *min_time,
                    int64_t *max_time)
{
    const struct pblock *pb = &p->blocks[b < p->meta.nblocks ? b : 0];
    if (rows)
        *rows = b < p->meta.nblocks ? pb->rows : 0;
    if (min_time)
        *min_time = pb->min_time;
    if (max_time)
        *max_time = pb->max_time;
}

/* ======================================================================================
 * Pruning. Each check answers "may some row of the block satisfy this?" and says 0 only
 * when the footer proves it cannot. The checks per operator live in pred.c's table; the part
 * hands them its footer's statistics of the column.
 * ====================================================================================== */

/* The footer's statistics of column c in block b, as the predicate table's block checks
 * read them (pred.h). */
static void col_stats(const owl_part *p, size_t b, size_t c, owl_pred_colstats *cs)
{
    const struct chunk *ch = &p->chunks[b * p->ncols + c];
    cs->type = p->types[c];
    cs->flags = p->flags[c];
    cs->has_min = ch->has_min, cs->has_max = ch->has_max;
    if (cs->type == OWL_TYPE_F64)
        cs->min.f = ch->min.f, cs->max.f = ch->max.f;
    else
        cs->min.i = ch->min.i, cs->max.i = ch->max.i;
    cs->bloom = &p->blooms[b * p->ncols + c];
    cs->format = p->format;
}

/* May a row equal v? */
static int value_may(const owl_part *p, size_t b, size_t c, const owl_cell *v)
{
    owl_pred_colstats cs;
    col_stats(p, b, c, &cs);
    return owl_pred_value_may(&cs, v);
}

int owl_part_block_range_u(const owl_part *p, size_t b, size_t c, uint64_t *min,
                           uint64_t *max)
{
    *min = 0, *max = UINT64_MAX;
    if (!p || b >= p->meta.nblocks || c >= p->ncols || p->types[c] != OWL_TYPE_U64)
        return 0;
    const struct chunk *ch = &p->chunks[b * p->ncols + c];
    if (!ch->has_min || !ch->has_max)
        return 0;
    *min = (uint64_t)ch->min.i, *max = (uint64_t)ch->max.i;
    return 1;
}

int owl_part_pred_may(const owl_part *p, size_t b, const owl_pred *pr)
{
    if (!p || b >= p->meta.nblocks || pr->col >= p->ncols)
        return 1;
    owl_pred_colstats cs;
    col_stats(p, b, pr->col, &cs);
    return owl_pred_block_may(&cs, pr);
}

int owl_part_block_may_match(const owl_part *p, size_t b, int64_t start, int64_t end,
                             const owl_pred *preds, size_t npreds)
{
    if (!p || b >= p->meta.nblocks)
        return 1;
    const struct pblock *pb = &p->blocks[b];
    if (start >= end || pb->max_time < start || pb->min_time >= end)
        return 0;
    for (size_t i = 0; i < npreds && preds; i++)
        if (!owl_part_pred_may(p, b, &preds[i]))
            return 0;
    return 1;
}

/* ======================================================================================
 * Block reads
 * ====================================================================================== */

/* Largest encoded chunk a well-formed writer produces for n values of type t. */
static size_t raw_limit(enum owl_type t, size_t n)
{
    if (is_int(t) || t == OWL_TYPE_F64)
        return 1 + 10 * n;
    if (owl_type_id_width(t))
        return 11 + owl_type_id_width(t) * n;
    return CHUNK_RAW_MAX;
}

/* Spreads n doubles decoded at the front of cells over the cells: backwards, since double i
 * sits at byte 8*i <= sizeof(owl_cell)*i. (Integers are decoded straight into the cells.) */
static void spread_f64(owl_cell *cells, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        double v;
        memcpy(&v, (char *)cells + 8 * i, 8);
        cells[i].f = v;
    }
}

/* Reads and unpacks chunk (b, c) into d->raw[c], unless it is there already (unpacked by
 * owl_part_block_text_may for the same part and block). The chunk is read into d->raw[c]:
 * a stored one (most of the OWL_COL_FAST columns' and of random ids) stays where it was
 * read, its raw bytes from d->raw_at[c] on, without a copy; a compressed one changes places
 * with d->packed and is unpacked from there into d->raw[c]. */
static int unpack_chunk(owl_part *p, size_t b, size_t c, owl_block_data *d, owl_error *err)
{
    const struct chunk *ch = &p->chunks[b * p->ncols + c];
    size_t n = p->blocks[b].rows, limit = raw_limit(p->types[c], n);
    owl_buf *in = &d->raw[c];
    int rc;
    if (d->raw_part[c] == p->id && d->raw_block[c] == b)
        return OWL_OK;
    d->raw_part[c] = 0;
    owl_buf_reset(in);
    if (owl_buf_reserve(in, ch->len) != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    if ((rc = read_at(p, in->data, ch->len, ch->off, err)) != OWL_OK)
        return rc;
    in->len = ch->len;
    in->data[ch->len] = '\0'; /* as an unpacked chunk's: the decoders may read it */
    d->bytes_read += ch->len;

    const uint8_t *raw;
    size_t rawn;
    rc = owl_chunk_view((const uint8_t *)in->data, ch->len, limit, &raw, &rawn);
    if (rc == OWL_OK) {
        d->raw_at[c] = (size_t)((const char *)raw - in->data);
    } else if (rc == OWL_ENOTFOUND) {
        owl_buf t = d->packed;
        d->packed = *in;
        *in = t;
        owl_buf_reset(in);
        d->raw_at[c] = 0;
        rc = owl_chunk_unpack_checked((const uint8_t *)d->packed.data, ch->len, limit, in);
    }
    if (rc == OWL_ENOMEM)
        return owl_error_set(err, rc, "part: out of memory");
    if (rc != OWL_OK)
        return corrupt(p, err, "block %zu column %s: bad chunk (checksum or length)", b,
                       p->names[c]);
    d->raw_part[c] = p->id;
    d->raw_block[c] = b;
    return OWL_OK;
}

/* Column c's unpacked chunk (unpack_chunk), *len bytes. */
static const uint8_t *raw_of(const owl_block_data *d, size_t c, size_t *len)
{
    *len = d->raw[c].len - d->raw_at[c];
    return (const uint8_t *)d->raw[c].data + d->raw_at[c];
}

/* The times of block b as int64s in d->times: from the time column's cells when this read
 * decoded them (have_cells), else read and decoded from its chunk on the side. */
static int block_times(owl_part *p, size_t b, owl_block_data *d, int have_cells)
{
    size_t n = p->blocks[b].rows, tc = p->time_col;
    if (d->times_cap < n) {
        int64_t *t = realloc(d->times, n * sizeof *t);
        if (!t)
            return OWL_ENOMEM;
        d->times = t, d->times_cap = n;
    }
    if (have_cells) {
        for (size_t i = 0; i < n; i++)
            d->times[i] = d->cells[tc][i].i;
        return OWL_OK;
    }
    /* the time column was not asked for, so d->raw[tc] is free to hold its chunk */
    int rc = unpack_chunk(p, b, tc, d, NULL);
    size_t len;
    const uint8_t *raw = raw_of(d, tc, &len);
    if (rc == OWL_OK)
        rc = owl_dec_i64(raw, len, n, d->times);
    return rc;
}

struct judge {
    owl_block_data *d;
    size_t col;
};

static int judge_tpl(void *ud, const owl_logtpl_tpl *t)
{
    const struct judge *j = ud;
    return j->d->tpl_fn(j->d->tpl_ud, j->col, t);
}

/* Decodes template chunk column c (times: NULL or the block's), through d's judge if any. */
static int dec_logtpl(owl_block_data *d, size_t c, const uint8_t *raw, size_t len, size_t n,
                      const int64_t *times, owl_strref *out)
{
    if (!d->tpl_fn)
        return owl_dec_logtpl_time(raw, len, n, times, out, &d->text[c]);
    if (d->pre_cap < n) {
        uint8_t *pre = realloc(d->pre, n);
        if (!pre)
            return OWL_ENOMEM;
        d->pre = pre, d->pre_cap = n;
    }
    if (!d->pre_set)
        memset(d->pre, 1, n);
    struct judge j = {d, c};
    size_t left = 0;
    int rc = owl_dec_logtpl_sel(raw, len, n, times, judge_tpl, &j, d->pre, &left, out,
                                &d->text[c]);
    if (rc == OWL_OK && left)
        d->pre_set = 1;
    return rc;
}

/* Decodes an id chunk into cells pointing at the chunk's own bytes, or, through refs (the
 * cells of the column an IDREF chunk references, NULL for none), at that column's. */
static int decode_ids(const uint8_t *raw, size_t len, size_t w, size_t n, const owl_cell *refs,
                      owl_cell *cells)
{
    if (len && raw[0] == OWL_ENC_IDREF)
        return owl_dec_idref(raw, len, w, n, refs, cells);
    const uint8_t *v;
    int rc = owl_dec_fixed(raw, len, w, n, &v);
    if (rc == OWL_OK)
        for (size_t i = 0; i < n; i++)
            cells[i].b = (owl_bytes){v + i * w, w};
    return rc;
}

static int decode_chunk(owl_part *p, size_t b, size_t c, owl_block_data *d, size_t n,
                        int have_times, const owl_cell *refs)
{
    enum owl_type t = p->types[c];
    size_t len;
    const uint8_t *raw = raw_of(d, c, &len);
    owl_cell *cells = d->cells[c];
    int rc;
    if (is_int(t)) {
        _Static_assert(sizeof(owl_cell) % sizeof(int64_t) == 0, "cells are whole int64s");
        rc = owl_dec_i64_stride(raw, len, n, (int64_t *)(void *)cells,
                                sizeof(owl_cell) / sizeof(int64_t));
    } else if (t == OWL_TYPE_F64) {
        if ((rc = owl_dec_f64(raw, len, n, (double *)(void *)cells)) == OWL_OK)
            spread_f64(cells, n);
    } else if (owl_type_id_width(t)) {
        rc = decode_ids(raw, len, owl_type_id_width(t), n, refs, cells);
    } else {
        /* strrefs are decoded over the cells (same stride) and widened in place */
        if (len && raw[0] == OWL_ENC_LOGTPL) {
            /* a template chunk may need the rows' times (its timestamps are stored
             * relative to them): try without, fetch them only when asked for */
            rc = dec_logtpl(d, c, raw, len, n, NULL, (owl_strref *)(void *)cells);
            if (rc == OWL_EINVAL && (rc = block_times(p, b, d, have_times)) == OWL_OK)
                rc = dec_logtpl(d, c, raw, len, n, d->times, (owl_strref *)(void *)cells);
        } else
            rc = owl_dec_str(raw, len, n, (owl_strref *)(void *)cells);
        if (rc == OWL_OK)
            for (size_t i = 0; i < n; i++) {
                owl_strref s;
                memcpy(&s, (char *)cells + i * sizeof(owl_cell), sizeof s);
                cells[i].b = (owl_bytes){s.p, s.n};
            }
    }
    return rc;
}

/* The columns one owl_part_read_block has decoded (bit c), and those of them whose IDREF
 * chunks reference another column. */
struct decoded {
    uint32_t done, cross;
};

static int read_chunk(owl_part *p, size_t b, size_t c, owl_block_data *d, int have_times,
                      struct decoded *dec, int as_ref, owl_error *err);

/* When column c's chunk (unpacked in d->raw[c]) is IDREF with a reference column: decodes
 * that column first unless this read did (it must not reference one itself: one level,
 * no chains or cycles) and points *refs at its cells. *refs stays NULL otherwise. as_ref:
 * c is being read for another column's references, so it may not have one of its own. */
static int id_refs(owl_part *p, size_t b, size_t c, owl_block_data *d, struct decoded *dec,
                   int as_ref, const owl_cell **refs, owl_error *err)
{
    size_t len, k;
    const uint8_t *raw = raw_of(d, c, &len);
    *refs = NULL;
    if (!owl_type_id_width(p->types[c]) || !len || raw[0] != OWL_ENC_IDREF)
        return OWL_OK;
    if (owl_idref_ref(raw, len, &k) != OWL_OK)
        return corrupt(p, err, "block %zu column %s: chunk does not decode", b, p->names[c]);
    if (k == SIZE_MAX)
        return OWL_OK;
    if (as_ref || k >= p->fcols || p->fmap[k] == c || p->ftypes[k] != p->types[c] ||
        (p->fmap[k] != SIZE_MAX && (dec->cross >> p->fmap[k] & 1)))
        return corrupt(p, err, "block %zu column %s: references file column %zu, which it "
                       "cannot", b, p->names[c], k);
    size_t r = p->fmap[k];
    if (r == SIZE_MAX)
        return owl_error_set(err, OWL_EUNSUPPORTED, "part %s: column %s refers to the rows of "
                             "a column the table no longer has", p->path, p->names[c]);
    int rc;
    if (!(dec->done >> r & 1) && (rc = read_chunk(p, b, r, d, 0, dec, 1, err)) != OWL_OK)
        return rc;
    dec->cross |= 1u << c;
    *refs = d->cells[r];
    return OWL_OK;
}

static int read_chunk(owl_part *p, size_t b, size_t c, owl_block_data *d, int have_times,
                      struct decoded *dec, int as_ref, owl_error *err)
{
    size_t n = p->blocks[b].rows;
    const char *name = p->names[c];
    dec->done |= 1u << c;
    if (p->absent[c]) {
        owl_cell *cells = realloc(d->cells[c], n * sizeof *cells), def;
        if (!cells)
            return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
        d->cells[c] = cells;
        def = owl_col_default(p->types[c]);
        for (size_t i = 0; i < n; i++)
            cells[i] = def;
        return OWL_OK;
    }
    const owl_cell *refs;
    int rc = unpack_chunk(p, b, c, d, err);
    if (rc != OWL_OK || (rc = id_refs(p, b, c, d, dec, as_ref, &refs, err)) != OWL_OK)
        return rc;
    /* the cells are decoded over d->raw[c] (and its arena) from here on: a later call must
     * unpack again rather than trust a buffer the decode may have changed */
    d->raw_part[c] = 0;
    owl_cell *cells = realloc(d->cells[c], n * sizeof *cells);
    if (!cells)
        return owl_error_set(err, OWL_ENOMEM, "part: out of memory");
    d->cells[c] = cells;
    rc = decode_chunk(p, b, c, d, n, have_times, refs);
    if (rc == OWL_ENOMEM)
        return owl_error_set(err, rc, "part: out of memory");
    if (rc == OWL_EIO)
        return owl_error_set(err, rc, "part: %s: reading block %zu's times failed", p->path, b);
    if (rc != OWL_OK)
        return corrupt(p, err, "block %zu column %s: chunk does not decode", b, name);
    return OWL_OK;
}

int owl_part_block_text_may(owl_part *p, size_t b, size_t c, const owl_bytes *token,
                             owl_block_data *d, int *may, owl_error *err)
{
    *may = 1;
    if (!p || !d || b >= p->meta.nblocks || c >= p->ncols)
        return owl_error_set(err, OWL_EINVAL, "part: bad block read");
    if (!token->n || !token->p || !owl_type_is_bytes(p->types[c]))
        return OWL_OK;
    if (p->absent[c]) {
        owl_cell def = owl_col_default(p->types[c]);
        *may = memmem(def.b.p, def.b.n, token->p, token->n) != NULL;
        return OWL_OK;
    }
    int rc = unpack_chunk(p, b, c, d, err);
    if (rc != OWL_OK)
        return rc;
    size_t len, k;
    const uint8_t *raw = raw_of(d, c, &len);
    if (len && raw[0] == OWL_ENC_LOGTPL)
        *may = owl_logtpl_may_contain(raw, len, token->p, token->n);
    else if (len && raw[0] == OWL_ENC_IDREF &&
             (owl_idref_ref(raw, len, &k) != OWL_OK || k != SIZE_MAX))
        *may = 1; /* values may be another column's bytes (a bad chunk: read_block says) */
    else /* every other encoding stores values as their bytes */
        *may = memmem(raw, len, token->p, token->n) != NULL;
    return OWL_OK;
}

int owl_part_read_block(owl_part *p, size_t b, const size_t *cols, size_t ncols,
                        owl_block_data *d, owl_error *err)
{
    int want[OWL_MAX_COLS] = {0};
    if (!p || !d || b >= p->meta.nblocks || (ncols && !cols))
        return owl_error_set(err, OWL_EINVAL, "part: bad block read");
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i] >= p->ncols)
            return owl_error_set(err, OWL_EINVAL, "part: column %zu out of range", cols[i]);
        want[cols[i]] = 1;
    }
    for (size_t c = 0; c < OWL_MAX_COLS; c++) {
        if (!want[c]) {
            free(d->cells[c]);
            d->cells[c] = NULL;
        }
    }
    d->nrows = p->blocks[b].rows;
    d->pre_set = 0;
    /* the time column first, so template chunks can use its values */
    int have_times = 0, rc = OWL_OK;
    struct decoded dec = {0, 0};
    for (size_t k = 0; k < p->ncols && rc == OWL_OK; k++) {
        size_t c = k == 0 ? p->time_col : k <= p->time_col ? k - 1 : k;
        if (!want[c] || (dec.done >> c & 1))
            continue;
        rc = read_chunk(p, b, c, d, have_times, &dec, 0, err);
        if (rc == OWL_OK && c == p->time_col)
            have_times = 1;
    }
    /* a column decoded only for another's references leaves its bytes in d->raw (the
     * other's cells point there) but no cells; after a failure no column is left, half
     * decoded or of an earlier block, for the caller to trust */
    for (size_t c = 0; c < p->ncols; c++)
        if (rc != OWL_OK || ((dec.done >> c & 1) && !want[c])) {
            free(d->cells[c]);
            d->cells[c] = NULL;
        }
    if (rc != OWL_OK)
        d->nrows = 0;
    return rc;
}

void owl_block_data_free(owl_block_data *d)
{
    if (!d)
        return;
    for (size_t c = 0; c < OWL_MAX_COLS; c++) {
        free(d->cells[c]);
        d->cells[c] = NULL;
        owl_buf_free(&d->raw[c]);
        owl_buf_free(&d->text[c]);
    }
    owl_buf_free(&d->packed);
    memset(d->raw_part, 0, sizeof d->raw_part);
    free(d->times);
    d->times = NULL;
    d->times_cap = 0;
    free(d->pre);
    d->pre = NULL;
    d->pre_cap = 0;
    d->pre_set = 0;
    d->nrows = 0;
}

/* ---- verify: beyond checksums, the decoded values must agree with what pruning trusts ---- */

/* 1 when row value v is consistent with the block's min/max and bloom: what pruning would
 * say of a predicate asking for v, except that a NaN is consistent only with a block that
 * keeps no min/max. */
static int value_consistent(const owl_part *p, size_t b, size_t c, const owl_cell *v)
{
    if (p->types[c] == OWL_TYPE_F64 && isnan(v->f))
        return !p->chunks[b * p->ncols + c].has_min;
    return value_may(p, b, c, v);
}

static int check_block(owl_part *p, size_t b, const owl_block_data *d, owl_error *err)
{
    const struct pblock *pb = &p->blocks[b];
    size_t tc = p->time_col;
    const owl_cell *t = d->cells[tc];
    int clustered = 0;
    for (size_t c = 0; c < p->ncols; c++)
        clustered |= (p->flags[c] & OWL_COL_CLUSTER) != 0;
    for (size_t r = 0; r < d->nrows; r++)
        if (t[r].i < pb->min_time || t[r].i > pb->max_time ||
            (r && !clustered && t[r].i < t[r - 1].i))
            return corrupt(p, err, "block %zu column %s: row %zu time outside the block's bounds "
                           "or out of order", b, p->names[tc], r);
    for (size_t c = 0; c < p->ncols; c++)
        for (size_t r = 0; r < d->nrows; r++)
            if (!value_consistent(p, b, c, &d->cells[c][r]))
                return corrupt(p, err, "block %zu column %s: row %zu disagrees with the "
                               "block's min/max or bloom", b, p->names[c], r);
    return OWL_OK;
}

int owl_part_verify(owl_part *p, owl_error *err)
{
    owl_block_data d;
    size_t cols[OWL_MAX_COLS];
    int rc = OWL_OK;
    memset(&d, 0, sizeof d);
    for (size_t c = 0; c < p->ncols; c++)
        cols[c] = c;
    for (size_t b = 0; b < p->meta.nblocks && rc == OWL_OK; b++) {
        rc = owl_part_read_block(p, b, cols, p->ncols, &d, err);
        if (rc == OWL_OK)
            rc = check_block(p, b, &d, err);
    }
    owl_block_data_free(&d);
    return rc;
}

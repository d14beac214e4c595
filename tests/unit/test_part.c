/* test_part.c — tests of index/part.c: round trips of every column type across block
 * boundaries, footer metadata, pruning that never skips a block holding a match (brute force
 * against a reference matcher on random data) yet skips absent tokens and ids, schema
 * mismatch, corruption of every file region and of footer fields, truncation, leftovers,
 * invalid input, and a timing-only benchmark of 1M synthetic log rows. Every test works in
 * its own mkdtemp dir under /tmp, removed at the end. */
#include <criterion/criterion.h>

#include <bson/bson.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/testfs.h"
#include "common/common.h"
#include "index/encode.h"
#include "index/bloom.h"
#include "index/logtpl.h"
#include "index/part.h"

/* ---- helpers ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t rndn(size_t n)
{
    return (size_t)(rnd() % n);
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void flip(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void copy_file(const char *from, const char *to, uint64_t limit)
{
    char *data;
    size_t n;
    cr_assert_eq(owl_read_file(from, 1u << 30, &data, &n, NULL), OWL_OK);
    if (n > limit)
        n = (size_t)limit;
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    free(data);
}

/* ---- data sets: rows in column-major form, strings in one arena ---- */

struct ds {
    size_t n, ncols;
    owl_cell *c[OWL_MAX_COLS];
    char *arena;
    size_t used, cap;
};

static void ds_init(struct ds *d, size_t n, size_t ncols, size_t arena)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->ncols = ncols;
    for (size_t c = 0; c < ncols; c++)
        cr_assert_not_null(d->c[c] = calloc(n ? n : 1, sizeof(owl_cell)));
    d->cap = arena;
    cr_assert_not_null(d->arena = malloc(arena));
}

static void ds_free(struct ds *d)
{
    for (size_t c = 0; c < d->ncols; c++)
        free(d->c[c]);
    free(d->arena);
}

static owl_bytes ds_put(struct ds *d, const void *p, size_t n)
{
    cr_assert(d->used + n <= d->cap, "arena full");
    memcpy(d->arena + d->used, p, n);
    owl_bytes b = {d->arena + d->used, n};
    d->used += n;
    return b;
}

static owl_rows ds_rows(const struct ds *d, size_t from, size_t n)
{
    owl_rows r = {.nrows = n};
    for (size_t c = 0; c < d->ncols; c++)
        r.cols[c] = d->c[c] + from;
    return r;
}

/* The all-types table. */
enum { C_TIME, C_I, C_U, C_F, C_LEVEL, C_MSG, C_SPAN, C_TRACE, C_ATTRS, C_NAME, NCOLS };

static const owl_coldef all_cols[NCOLS] = {
    {"time", OWL_TYPE_TIME, 0, 0},
    {"i", OWL_TYPE_I64, OWL_COL_BLOOM, 0},
    {"u", OWL_TYPE_U64, 0, 0},
    {"f", OWL_TYPE_F64, OWL_COL_BLOOM, 0},
    {"level", OWL_TYPE_DICT, OWL_COL_BLOOM, 0},
    {"msg", OWL_TYPE_STR, OWL_COL_TOKENS, 0},
    {"span", OWL_TYPE_ID8, 0, 0},
    {"trace", OWL_TYPE_ID16, OWL_COL_BLOOM, 0},
    {"attrs", OWL_TYPE_BSON, 0, 0},
    {"name", OWL_TYPE_STR, OWL_COL_TOKENS | OWL_COL_BLOOM, 0},
};
static const owl_schema all_schema = {"events", all_cols, NCOLS, C_TIME, 1000000000};

static const char *levels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *words[] = {
    "GET", "POST", "api", "v1", "users", "orders", "took", "ms", "status", "error",
    "timeout", "connect", "db", "cache", "miss", "hit", "retry", "user_id", "région", "ok",
    "fail", "payment", "queue", "worker", "shard", "lock", "held", "Request", "id", "x86_64",
};
static const char seps[] = " .-=/:,\t";

/* A message of random words and separators; block-specific words ("blkN") give pruning
 * something to find; a few messages hold raw bytes and NULs. */
static size_t gen_msg(char *out, size_t cap, size_t block)
{
    size_t n = 0, k = 1 + rndn(12);
    if (rndn(50) == 0)
        return 0;
    for (size_t i = 0; i < k && n + 40 < cap; i++) {
        if (rndn(6) == 0)
            n += (size_t)snprintf(out + n, cap - n, "blk%zu", block);
        else if (rndn(8) == 0)
            n += (size_t)snprintf(out + n, cap - n, "%u", (unsigned)rndn(100000));
        else
            n += (size_t)snprintf(out + n, cap - n, "%s", words[rndn(OWL_ARRAY_LEN(words))]);
        if (rndn(40) == 0) {
            out[n++] = '\0';
            out[n++] = (char)0xff;
        }
        if (i + 1 < k || rndn(4) == 0)
            out[n++] = seps[rndn(sizeof seps - 1)];
    }
    return n;
}

/* n random rows of the all-types table, time ascending (with ties); `block` groups rows for
 * the block-specific words. */
static void gen_all(struct ds *d, size_t n, size_t block_rows)
{
    ds_init(d, n, NCOLS, n * 400 + 1024);
    int64_t t = 1700000000000000000ll;
    for (size_t r = 0; r < n; r++) {
        char buf[256];
        uint8_t id[16];
        t += (int64_t)rndn(3) * 1000;
        d->c[C_TIME][r].i = t;
        int64_t iv = (int64_t)rndn(2001) - 1000;
        if (rndn(100) == 0)
            iv = rndn(2) ? INT64_MIN : INT64_MAX;
        d->c[C_I][r].i = iv;
        uint64_t uv = rndn(5000);
        if (rndn(50) == 0)
            uv = UINT64_MAX - rndn(1000);
        d->c[C_U][r].u = uv;
        double fv = ((double)rndn(20001) - 10000) / 8.0;
        if (r % 97 == 5)
            fv = -0.0;
        if (r % 389 == 11)
            fv = NAN;
        if (r % 401 == 13)
            fv = rndn(2) ? INFINITY : -INFINITY;
        d->c[C_F][r].f = fv;
        const char *lv = levels[rndn(4)];
        d->c[C_LEVEL][r].b = ds_put(d, lv, strlen(lv));
        size_t ml = gen_msg(buf, sizeof buf, r / block_rows);
        d->c[C_MSG][r].b = ds_put(d, buf, ml);
        for (int i = 0; i < 16; i++)
            id[i] = (uint8_t)rnd();
        d->c[C_SPAN][r].b = ds_put(d, id, 8);
        for (int i = 0; i < 16; i++)
            id[i] = (uint8_t)rnd();
        d->c[C_TRACE][r].b = ds_put(d, id, 16);
        if (rndn(3) == 0) {
            d->c[C_ATTRS][r].b = (owl_bytes){NULL, 0};
        } else {
            bson_t *doc = BCON_NEW("k", BCON_INT64((int64_t)r), "s", BCON_UTF8(lv));
            d->c[C_ATTRS][r].b = ds_put(d, bson_get_data(doc), doc->len);
            bson_destroy(doc);
        }
        int nl = snprintf(buf, sizeof buf, "svc-%u.%s", (unsigned)rndn(40), words[rndn(5)]);
        d->c[C_NAME][r].b = ds_put(d, buf, (size_t)nl);
    }
}

static const owl_part_info info_default = {"events", "acme", "group-1", 19675, 42, 0, 1};

static char *part_path(const char *dir, const char *name)
{
    char *p = malloc(4096);
    cr_assert_not_null(p);
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static void write_ok(const char *path, const owl_schema *s, const struct ds *d, size_t from,
                     size_t n, size_t block_rows, int level)
{
    owl_rows rows = ds_rows(d, from, n);
    owl_error e;
    owl_error_clear(&e);
    uint64_t fb = 0;
    int rc = owl_part_write(path, s, &info_default, &rows, block_rows, level, &fb, &e);
    cr_assert_eq(rc, OWL_OK, "write: %s (%s)", owl_errname(rc), e.msg);
    cr_assert_eq(fb, (uint64_t)file_size(path));
}

static owl_part *open_ok(const char *path, const owl_schema *s)
{
    owl_part *p = NULL;
    owl_error e;
    owl_error_clear(&e);
    int rc = owl_part_open(path, s, &p, &e);
    cr_assert_eq(rc, OWL_OK, "open: %s (%s)", owl_errname(rc), e.msg);
    cr_assert_not_null(p);
    return p;
}

static int open_rc(const char *path, const owl_schema *s, owl_error *e)
{
    owl_part *p = NULL;
    int rc = owl_part_open(path, s, &p, e);
    if (rc == OWL_OK)
        cr_assert_not_null(p);
    else
        cr_assert_null(p);
    owl_part_close(p);
    return rc;
}

static int cell_eq(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    switch (t) {
    case OWL_TYPE_TIME:
    case OWL_TYPE_I64:
    case OWL_TYPE_U64:
        return a->u == b->u;
    case OWL_TYPE_F64:
        return memcmp(&a->f, &b->f, 8) == 0;
    default:
        return a->b.n == b->b.n && (a->b.n == 0 || memcmp(a->b.p, b->b.p, a->b.n) == 0);
    }
}

/* Reads every block of the part at path and compares it with d[from, from+n). */
static void check_round_trip(const char *path, const owl_schema *s, const struct ds *d,
                             size_t from, size_t n, size_t block_rows)
{
    owl_part *p = open_ok(path, s);
    const owl_part_meta *m = owl_part_get_meta(p);
    cr_assert_eq(m->rows, n);
    cr_assert_eq(m->nblocks, (n + block_rows - 1) / block_rows);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < s->ncols; c++)
        cols[c] = c;
    size_t r = from;
    for (size_t b = 0; b < m->nblocks; b++) {
        owl_error e;
        int rc = owl_part_read_block(p, b, cols, s->ncols, &bd, &e);
        cr_assert_eq(rc, OWL_OK, "block %zu: %s", b, e.msg);
        size_t want = n - (r - from) < block_rows ? n - (r - from) : block_rows;
        cr_assert_eq(bd.nrows, want);
        for (size_t c = 0; c < s->ncols; c++)
            for (size_t i = 0; i < bd.nrows; i++)
                cr_assert(cell_eq(s->cols[c].type, &bd.cells[c][i], &d->c[c][r + i]),
                          "block %zu column %s row %zu differs", b, s->cols[c].name, i);
        r += bd.nrows;
    }
    cr_assert_eq(r, from + n);
    owl_error e;
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "verify: %s", e.msg);
    owl_block_data_free(&bd);
    owl_part_close(p);
}

/* ---- round trips ---- */

Test(part, round_trip_shapes)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 1;
    gen_all(&d, 3000, 128);
    struct {
        size_t from, n, block_rows;
    } cases[] = {
        {0, 3000, 128},  /* 23 full blocks and a short one */
        {5, 1, 128},     /* one row */
        {100, 128, 128}, /* exactly one block */
        {0, 384, 128},   /* exactly three blocks */
        {7, 200, 1},     /* one row per block */
        {0, 3000, 3000}, /* one big block */
        {11, 999, 7},
    };
    for (size_t k = 0; k < OWL_ARRAY_LEN(cases); k++) {
        char name[32];
        snprintf(name, sizeof name, "p%zu.owp", k);
        char *path = part_path(dir, name);
        for (int level = 1; level <= 3; level += 2) {
            write_ok(path, &all_schema, &d, cases[k].from, cases[k].n, cases[k].block_rows,
                     level);
            check_round_trip(path, &all_schema, &d, cases[k].from, cases[k].n,
                             cases[k].block_rows);
        }
        free(path);
    }
    ds_free(&d);
    test_rm_rf(dir);
}

/* A writer given fewer rows than announced (a merge that combined rows): a short block ends
 * it (no block may follow), finish refuses it until owl_part_writer_end, and the part then
 * ended is the part owl_part_write writes of the rows given. */
Test(part, writer_ended_early)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 3;
    gen_all(&d, 40, 4);
    char *path = part_path(dir, "w.owp"), *ref = part_path(dir, "ref.owp");
    owl_error e = {0};
    for (int k = 0; k < 3; k++) {
        owl_part_writer *w = NULL;
        owl_rows full = ds_rows(&d, 0, 4), part = ds_rows(&d, 4, 3), one = ds_rows(&d, 7, 1);
        cr_assert_eq(owl_part_writer_open(path, &all_schema, &info_default, 40, 4, 1, &w, &e),
                     OWL_OK, "%s", e.msg);
        cr_assert_eq(owl_part_writer_add(w, &full, &e), OWL_OK, "%s", e.msg);
        cr_assert_eq(owl_part_writer_add(w, &part, &e), OWL_OK, "%s", e.msg);
        if (k == 0) { /* a block after a short one */
            cr_assert_eq(owl_part_writer_add(w, &one, &e), OWL_EINVAL);
            owl_part_writer_abort(w);
            cr_assert_not(exists(path));
            continue;
        }
        if (k == 2)
            cr_assert_eq(owl_part_writer_end(w, &e), OWL_OK, "%s", e.msg);
        cr_assert_eq(owl_part_writer_finish(w, NULL, &e), k == 2 ? OWL_OK : OWL_EINVAL);
        cr_assert_eq(exists(path), k == 2);
    }
    write_ok(ref, &all_schema, &d, 0, 7, 4, 1);
    check_round_trip(path, &all_schema, &d, 0, 7, 4);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    cr_assert_eq(owl_read_file(path, 1 << 26, &a, &na, NULL), OWL_OK);
    cr_assert_eq(owl_read_file(ref, 1 << 26, &b, &nb, NULL), OWL_OK);
    cr_assert(na == nb && memcmp(a, b, na) == 0, "the ended part differs from owl_part_write's");
    free(a), free(b), free(path), free(ref);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Columns of one value repeated (CONST encodings, one-entry dictionaries), and long values. */
Test(part, round_trip_constant_and_long_values)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    size_t n = 500;
    ds_init(&d, n, NCOLS, n * 20000);
    char *big = malloc(10000);
    cr_assert_not_null(big);
    for (size_t i = 0; i < 10000; i++)
        big[i] = (char)('a' + i % 26);
    bson_t *doc = BCON_NEW("a", BCON_INT32(1));
    for (size_t r = 0; r < n; r++) {
        d.c[C_TIME][r].i = 5;
        d.c[C_I][r].i = -3;
        d.c[C_U][r].u = UINT64_MAX;
        d.c[C_F][r].f = 2.5;
        d.c[C_LEVEL][r].b = ds_put(&d, "INFO", 4);
        d.c[C_MSG][r].b = ds_put(&d, big, 1 + r * 19);
        d.c[C_SPAN][r].b = ds_put(&d, "\0\0\0\0\0\0\0\0", 8);
        d.c[C_TRACE][r].b = ds_put(&d, "0123456789abcdef", 16);
        d.c[C_ATTRS][r].b = ds_put(&d, bson_get_data(doc), doc->len);
        d.c[C_NAME][r].b = (owl_bytes){NULL, 0};
    }
    char *path = part_path(dir, "c.owp");
    write_ok(path, &all_schema, &d, 0, n, 64, 3);
    check_round_trip(path, &all_schema, &d, 0, n, 64);
    bson_destroy(doc);
    free(big);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- footer metadata ---- */

/* A span part (compaction of sparse days) records the days it covers. */
Test(part, span_days_round_trip)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 3;
    gen_all(&d, 50, 100);
    char *path = part_path(dir, "s.owp");
    owl_part_info info = {NULL, "t", "p", 19600, 7, 1, 45};
    owl_rows rows = ds_rows(&d, 0, 50);
    owl_error e;
    cr_assert_eq(owl_part_write(path, &all_schema, &info, &rows, 16, 3, NULL, &e), OWL_OK, "%s",
                 e.msg);
    owl_part *p = open_ok(path, &all_schema);
    cr_assert_eq(owl_part_get_meta(p)->day, 19600);
    cr_assert_eq(owl_part_get_meta(p)->last_day, 19644);
    owl_part_close(p);
    info.ndays = -1;
    cr_assert_eq(owl_part_write(path, &all_schema, &info, &rows, 16, 3, NULL, &e), OWL_EINVAL);
    ds_free(&d);
    free(path);
    test_rm_rf(dir);
}

Test(part, footer_meta)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 2;
    gen_all(&d, 1000, 100);
    char *path = part_path(dir, "m.owp");
    owl_part_info info = {NULL, "tenant-x", "log/group:1", 19676, 0xfedcba9876543210ull, 3, 1};
    owl_rows rows = ds_rows(&d, 0, 1000);
    uint64_t fb = 0;
    owl_error e;
    cr_assert_eq(owl_part_write(path, &all_schema, &info, &rows, 300, 3, &fb, &e), OWL_OK, "%s",
                 e.msg);
    uint64_t raw = 0;
    for (size_t c = 0; c < NCOLS; c++)
        for (size_t r = 0; r < 1000; r++)
            raw += all_cols[c].type <= OWL_TYPE_F64 ? 8 : d.c[c][r].b.n;

    owl_part *p = open_ok(path, &all_schema);
    const owl_part_meta *m = owl_part_get_meta(p);
    cr_assert_eq(m->day, 19676);
    cr_assert_eq(m->last_day, 19676);
    cr_assert_eq(m->rows, 1000);
    cr_assert_eq(m->min_time, d.c[C_TIME][0].i);
    cr_assert_eq(m->max_time, d.c[C_TIME][999].i);
    cr_assert_eq(m->max_lsn, 0xfedcba9876543210ull);
    cr_assert_eq(m->level, 3);
    cr_assert_eq(m->raw_bytes, raw);
    cr_assert_eq(m->file_bytes, fb);
    cr_assert_eq(m->file_bytes, (uint64_t)file_size(path));
    cr_assert_eq(m->nblocks, 4);
    cr_assert_str_eq(m->tenant, "tenant-x");
    cr_assert_str_eq(m->partition, "log/group:1");
    size_t total = 0;
    for (size_t b = 0; b < m->nblocks; b++) {
        size_t rowsb;
        int64_t lo, hi;
        owl_part_block(p, b, &rowsb, &lo, &hi);
        cr_assert_eq(rowsb, b < 3 ? 300 : 100);
        cr_assert_eq(lo, d.c[C_TIME][total].i);
        cr_assert_eq(hi, d.c[C_TIME][total + rowsb - 1].i);
        total += rowsb;
    }
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* read_block: only the asked columns, cells of others NULL, bytes_read counted, bad args. */
Test(part, read_block_columns)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 3;
    gen_all(&d, 700, 256);
    char *path = part_path(dir, "r.owp");
    write_ok(path, &all_schema, &d, 0, 700, 256, 3);
    owl_part *p = open_ok(path, &all_schema);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    owl_error e;
    size_t a[] = {C_MSG, C_TRACE, C_MSG};
    cr_assert_eq(owl_part_read_block(p, 2, a, 3, &bd, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(bd.nrows, 700 - 512);
    cr_assert_not_null(bd.cells[C_MSG]);
    cr_assert_not_null(bd.cells[C_TRACE]);
    cr_assert_null(bd.cells[C_TIME]);
    cr_assert_null(bd.cells[C_I]);
    uint64_t first = bd.bytes_read;
    cr_assert_gt(first, 0);
    for (size_t i = 0; i < bd.nrows; i++)
        cr_assert(cell_eq(OWL_TYPE_STR, &bd.cells[C_MSG][i], &d.c[C_MSG][512 + i]));
    size_t b1[] = {C_TIME};
    cr_assert_eq(owl_part_read_block(p, 0, b1, 1, &bd, &e), OWL_OK);
    cr_assert_eq(bd.nrows, 256);
    cr_assert_null(bd.cells[C_MSG]);
    cr_assert_gt(bd.bytes_read, first);
    for (size_t i = 0; i < bd.nrows; i++)
        cr_assert_eq(bd.cells[C_TIME][i].i, d.c[C_TIME][i].i);
    size_t bad[] = {NCOLS};
    cr_assert_eq(owl_part_read_block(p, 0, bad, 1, &bd, &e), OWL_EINVAL);
    cr_assert_eq(owl_part_read_block(p, 3, b1, 1, &bd, &e), OWL_EINVAL);
    cr_assert_eq(owl_part_read_block(p, 0, NULL, 0, &bd, &e), OWL_OK);
    owl_block_data_free(&bd);
    owl_block_data_free(&bd);
    owl_block_data_free(NULL);
    owl_part_close(p);
    owl_part_close(NULL);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- pruning ---- */

static int tokc(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c >= 0x80;
}

/* Reference matchers, written from the predicate definitions in index.h: TOKEN = the text
 * occurs with token boundaries at both ends; SUBSTR = plain substring. */
static int ref_token(const owl_bytes *v, const owl_bytes *t)
{
    const unsigned char *s = v->p, *x = t->p;
    if (t->n == 0)
        return 1;
    for (size_t i = 0; i + t->n <= v->n; i++) {
        if (memcmp(s + i, x, t->n) != 0)
            continue;
        int left = i == 0 || !tokc(s[i - 1]) || !tokc(x[0]);
        int right = i + t->n == v->n || !tokc(s[i + t->n]) || !tokc(x[t->n - 1]);
        if (left && right)
            return 1;
    }
    return 0;
}

static int ref_substr(const owl_bytes *v, const owl_bytes *t)
{
    return t->n == 0 || (v->n >= t->n && memmem(v->p, v->n, t->p, t->n) != NULL);
}

static int ref_cmp(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    switch (t) {
    case OWL_TYPE_U64:
        return a->u < b->u ? -1 : a->u > b->u;
    case OWL_TYPE_F64:
        return a->f < b->f ? -1 : a->f > b->f;
    default:
        return a->i < b->i ? -1 : a->i > b->i;
    }
}

static int is_bytes_t(enum owl_type t)
{
    return t >= OWL_TYPE_DICT;
}

static int ref_holds(const owl_schema *s, const owl_pred *p, const owl_cell *v)
{
    enum owl_type t = s->cols[p->col].type;
    int bytes = is_bytes_t(t);
    switch (p->op) {
    case OWL_PRED_EQ:
        return bytes ? cell_eq(t, v, &p->lo) : ref_cmp(t, v, &p->lo) == 0;
    case OWL_PRED_IN:
        for (size_t i = 0; i < p->nset; i++)
            if (bytes ? cell_eq(t, v, &p->set[i]) : ref_cmp(t, v, &p->set[i]) == 0)
                return 1;
        return 0;
    case OWL_PRED_RANGE:
        return !bytes && ref_cmp(t, v, &p->lo) >= 0 && ref_cmp(t, v, &p->hi) < 0;
    case OWL_PRED_TOKEN:
        return bytes && ref_token(&v->b, &p->text);
    case OWL_PRED_SUBSTR:
        return bytes && ref_substr(&v->b, &p->text);
    case OWL_PRED_EXISTS: /* path predicates only; these tests use none */
        return 0;
    }
    return 0;
}

/* Does some row of [r0, r0+n) fall in [start, end) and satisfy every predicate? */
static int ref_block(const owl_schema *s, const struct ds *d, size_t r0, size_t n,
                     int64_t start, int64_t end, const owl_pred *preds, size_t np)
{
    for (size_t r = r0; r < r0 + n; r++) {
        int64_t t = d->c[s->time_col][r].i;
        if (t < start || t >= end)
            continue;
        int ok = 1;
        for (size_t i = 0; i < np && ok; i++)
            ok = ref_holds(s, &preds[i], &d->c[preds[i].col][r]);
        if (ok)
            return 1;
    }
    return 0;
}

/* Storage for the values a random predicate points at. */
struct qbuf {
    owl_cell set[4];
    char text[4][64];
};

static owl_bytes rand_text(const struct ds *d, size_t c, char *buf)
{
    const owl_cell *v = &d->c[c][rndn(d->n)];
    switch (rndn(6)) {
    case 0: { /* absent word */
        int n = snprintf(buf, 64, "absent%u", (unsigned)rndn(1000));
        return (owl_bytes){buf, (size_t)n};
    }
    case 1: { /* vocabulary word or block word */
        int n = rndn(2) ? snprintf(buf, 64, "%s", words[rndn(OWL_ARRAY_LEN(words))])
                        : snprintf(buf, 64, "blk%u", (unsigned)rndn(40));
        return (owl_bytes){buf, (size_t)n};
    }
    case 2: /* a whole value */
        if (v->b.n <= 64) {
            if (v->b.n)
                memcpy(buf, v->b.p, v->b.n);
            return (owl_bytes){buf, v->b.n};
        }
        /* fall through */
    default: { /* a random piece of a value: fragments of tokens at either end */
        if (v->b.n == 0)
            return (owl_bytes){buf, 0};
        size_t a = rndn(v->b.n), n = 1 + rndn(v->b.n - a);
        if (n > 64)
            n = 64;
        memcpy(buf, (const char *)v->b.p + a, n);
        return (owl_bytes){buf, n};
    }
    }
}

static owl_cell rand_value(const struct ds *d, size_t c, char *buf)
{
    enum owl_type t = all_cols[c].type;
    owl_cell v = d->c[c][rndn(d->n)];
    if (!is_bytes_t(t)) {
        switch (rndn(4)) {
        case 0:
            v.u += (uint64_t)((int64_t)rndn(5) - 2); /* wraps, as a test value may */
            break;
        case 1:
            v.u = rnd();
            break;
        case 2:
            if (t == OWL_TYPE_F64)
                v.f = ((double)rndn(30000) - 15000) / 8.0;
            else
                v.i = (int64_t)rndn(3000) - 1500;
            break;
        default:
            break;
        }
        return v;
    }
    if (rndn(3) == 0) {
        size_t n = all_cols[c].type == OWL_TYPE_ID8 ? 8 : all_cols[c].type == OWL_TYPE_ID16 ? 16
                                                                                         : 1 + rndn(20);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + rndn(26));
        v.b = (owl_bytes){buf, n};
    }
    return v;
}

static void rand_pred(const struct ds *d, owl_pred *p, struct qbuf *q)
{
    size_t c = rndn(NCOLS);
    enum owl_type t = all_cols[c].type;
    memset(p, 0, sizeof *p);
    p->col = c;
    if (!is_bytes_t(t)) {
        switch (rndn(3)) {
        case 0:
            p->op = OWL_PRED_RANGE;
            p->lo = rand_value(d, c, q->text[0]);
            p->hi = rand_value(d, c, q->text[1]);
            if (ref_cmp(t, &p->hi, &p->lo) < 0 && rndn(4)) {
                owl_cell x = p->lo;
                p->lo = p->hi;
                p->hi = x;
            }
            return;
        case 1:
            p->op = OWL_PRED_EQ;
            p->lo = rand_value(d, c, q->text[0]);
            return;
        default:
            p->op = OWL_PRED_IN;
            p->nset = rndn(4) + (rndn(10) != 0);
            for (size_t i = 0; i < p->nset; i++)
                q->set[i] = rand_value(d, c, q->text[i]);
            p->set = q->set;
            return;
        }
    }
    switch (rndn(4)) {
    case 0:
        p->op = OWL_PRED_EQ;
        p->lo = rand_value(d, c, q->text[0]);
        break;
    case 1:
        p->op = OWL_PRED_IN;
        p->nset = 1 + rndn(4);
        for (size_t i = 0; i < p->nset; i++)
            q->set[i] = rand_value(d, c, q->text[i]);
        p->set = q->set;
        break;
    case 2:
        p->op = OWL_PRED_TOKEN;
        p->text = rand_text(d, c, q->text[0]);
        break;
    default:
        p->op = OWL_PRED_SUBSTR;
        p->text = rand_text(d, c, q->text[0]);
        break;
    }
}

/* Random data, random predicates: a block holding a matching row is never pruned. */
Test(part, pruning_never_wrong)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    size_t n = 6000, br = 200;
    rng = 4;
    gen_all(&d, n, br);
    char *path = part_path(dir, "q.owp");
    write_ok(path, &all_schema, &d, 0, n, br, 1);
    owl_part *p = open_ok(path, &all_schema);
    size_t nb = owl_part_get_meta(p)->nblocks, pruned = 0, total = 0, matched = 0;
    int64_t t0 = d.c[C_TIME][0].i, t1 = d.c[C_TIME][n - 1].i;
    for (int it = 0; it < 20000; it++) {
        owl_pred preds[3];
        struct qbuf qb[3];
        size_t np = 1 + rndn(it % 4 == 0 ? 3 : 1);
        for (size_t i = 0; i < np; i++)
            rand_pred(&d, &preds[i], &qb[i]);
        int64_t start = INT64_MIN, end = INT64_MAX;
        if (rndn(3) == 0) {
            start = t0 + (int64_t)rndn((size_t)(t1 - t0 + 1));
            end = start + (int64_t)rndn((size_t)(t1 - t0 + 1) / 4 + 1);
        }
        for (size_t b = 0; b < nb; b++) {
            int truth = ref_block(&all_schema, &d, b * br, br, start, end, preds, np);
            int may = owl_part_block_may_match(p, b, start, end, preds, np);
            cr_assert(may || !truth, "iteration %d block %zu: pruned a block with a match "
                      "(pred0 col %zu op %d)", it, b, preds[0].col, (int)preds[0].op);
            total++;
            pruned += !may;
            matched += truth;
        }
    }
    /* the random predicates must exercise both outcomes, or the test proves nothing */
    cr_assert_gt(pruned, total / 20, "pruned %zu of %zu", pruned, total);
    cr_assert_gt(matched, total / 20, "matched %zu of %zu", matched, total);
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

static size_t count_pruned(const owl_part *p, const owl_pred *pr)
{
    size_t nb = owl_part_get_meta(p)->nblocks, k = 0;
    for (size_t b = 0; b < nb; b++)
        k += !owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, pr, 1);
    return k;
}

/* Absent tokens, ids and values are pruned in most blocks; edge cases of each operator. */
Test(part, pruning_effective)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    size_t n = 8000, br = 200, nb = 40;
    rng = 5;
    gen_all(&d, n, br);
    char *path = part_path(dir, "e.owp");
    write_ok(path, &all_schema, &d, 0, n, br, 3);
    owl_part *p = open_ok(path, &all_schema);
    char buf[64];
    size_t tok = 0, id = 0, sub = 0, frag = 0, ival = 0, own = 0, tries = 50;
    for (size_t k = 0; k < tries; k++) {
        int len = snprintf(buf, sizeof buf, "zq%zux", k);
        owl_pred pr = {.col = C_MSG, .op = OWL_PRED_TOKEN, .text = {buf, (size_t)len}};
        tok += count_pruned(p, &pr);
        pr.op = OWL_PRED_SUBSTR; /* a bare word may be a fragment: never pruned */
        frag += count_pruned(p, &pr);
        char sb[80];
        len = snprintf(sb, sizeof sb, "ok zq%zux.api", k); /* bounded inside: pruned */
        pr.text = (owl_bytes){sb, (size_t)len};
        sub += count_pruned(p, &pr);
        uint8_t tid[16];
        for (int i = 0; i < 16; i++)
            tid[i] = (uint8_t)rnd();
        owl_pred pi = {.col = C_TRACE, .op = OWL_PRED_EQ, .lo.b = {tid, 16}};
        id += count_pruned(p, &pi);
        /* an i64 inside every block's min/max but absent: the value bloom prunes it */
        owl_pred pv = {.col = C_I, .op = OWL_PRED_EQ, .lo.i = 1001 + (int64_t)k};
        ival += count_pruned(p, &pv);
        /* a block's own word is found in its block and (mostly) not elsewhere */
        len = snprintf(buf, sizeof buf, "blk%zu", k % nb);
        owl_pred po = {.col = C_MSG, .op = OWL_PRED_TOKEN, .text = {buf, (size_t)len}};
        cr_assert(owl_part_block_may_match(p, k % nb, INT64_MIN, INT64_MAX, &po, 1));
        own += count_pruned(p, &po);
    }
    size_t all = tries * nb;
    cr_assert_geq(tok * 10, all * 9, "token pruned %zu/%zu", tok, all);
    cr_assert_geq(sub * 10, all * 9, "substr pruned %zu/%zu", sub, all);
    cr_assert_eq(frag, 0);
    cr_assert_geq(id * 10, all * 9, "trace id pruned %zu/%zu", id, all);
    cr_assert_geq(ival * 10, all * 9, "i64 value pruned %zu/%zu", ival, all);
    cr_assert_geq(own * 10, (all - tries) * 9, "own word pruned %zu/%zu", own, all - tries);

    /* numeric min/max: a range or value outside a block's true bounds is always pruned */
    size_t cols_mm[] = {C_TIME, C_I, C_U, C_F};
    size_t disjoint = 0;
    for (int it = 0; it < 400; it++) {
        size_t c = cols_mm[rndn(4)];
        enum owl_type t = all_cols[c].type;
        struct qbuf q;
        owl_pred pr = {.col = c, .op = rndn(2) ? OWL_PRED_RANGE : OWL_PRED_EQ};
        pr.lo = rand_value(&d, c, q.text[0]);
        pr.hi = rand_value(&d, c, q.text[1]);
        for (size_t b = 0; b < nb; b++) {
            owl_cell mn = d.c[c][b * br], mx = mn;
            int nan = 0;
            for (size_t r = b * br; r < (b + 1) * br; r++) {
                const owl_cell *v = &d.c[c][r];
                nan |= t == OWL_TYPE_F64 && isnan(v->f);
                if (ref_cmp(t, v, &mn) < 0 || (t == OWL_TYPE_F64 && isnan(mn.f)))
                    mn = *v;
                if (ref_cmp(t, v, &mx) > 0 || (t == OWL_TYPE_F64 && isnan(mx.f)))
                    mx = *v;
            }
            if (nan)
                continue;
            int out = pr.op == OWL_PRED_EQ
                          ? ref_cmp(t, &pr.lo, &mn) < 0 || ref_cmp(t, &pr.lo, &mx) > 0
                          : ref_cmp(t, &pr.hi, &mn) <= 0 || ref_cmp(t, &pr.lo, &mx) > 0;
            if (t == OWL_TYPE_F64 && (isnan(pr.lo.f) || isnan(pr.hi.f)))
                out = 0;
            if (!out)
                continue;
            disjoint++;
            cr_assert_not(owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &pr, 1),
                          "col %s op %d block %zu not pruned", all_cols[c].name, (int)pr.op, b);
        }
    }
    cr_assert_gt(disjoint, 100);
    owl_pred empty_in = {.col = C_I, .op = OWL_PRED_IN, .set = NULL, .nset = 0};
    cr_assert_eq(count_pruned(p, &empty_in), 0);
    owl_pred none = {.col = C_MSG, .op = OWL_PRED_TOKEN, .text = {"...", 3}};
    cr_assert_eq(count_pruned(p, &none), 0);
    owl_pred bad = {.col = 99, .op = OWL_PRED_EQ};
    cr_assert_eq(count_pruned(p, &bad), 0);

    /* time bounds */
    size_t rows;
    int64_t lo, hi;
    owl_part_block(p, 3, &rows, &lo, &hi);
    cr_assert(owl_part_block_may_match(p, 3, lo, lo + 1, NULL, 0));
    cr_assert(owl_part_block_may_match(p, 3, hi, hi + 1, NULL, 0));
    cr_assert_not(owl_part_block_may_match(p, 3, hi + 1, INT64_MAX, NULL, 0));
    cr_assert_not(owl_part_block_may_match(p, 3, INT64_MIN, lo, NULL, 0));
    cr_assert_not(owl_part_block_may_match(p, 3, 5, 5, NULL, 0));
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- schema mismatch ---- */

Test(part, schema_mismatch)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 6;
    gen_all(&d, 50, 16);
    char *path = part_path(dir, "s.owp");
    write_ok(path, &all_schema, &d, 0, 50, 16, 3);
    owl_coldef cols[NCOLS];
    owl_error e;
    memcpy(cols, all_cols, sizeof cols);
    owl_schema s = all_schema;
    s.cols = cols;

    s.name = "other";
    cr_assert_eq(open_rc(path, &s, &e), OWL_ECORRUPT);
    cr_assert(strstr(e.msg, "table"), "%s", e.msg);
    s.name = all_schema.name;
    /* a type change is refused, not taken for corruption (the store must not quarantine it) */
    cols[C_U].type = OWL_TYPE_I64;
    cr_assert_eq(open_rc(path, &s, &e), OWL_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "column u is U64 in the part but I64 in the schema of table events"),
              "%s", e.msg);
    cr_assert(strstr(e.msg, path), "%s", e.msg);
    cols[C_U].type = OWL_TYPE_U64;
    /* ... and so is a schema whose time column the part does not have */
    cols[C_TIME].name = "ts";
    cr_assert_eq(open_rc(path, &s, &e), OWL_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "no column ts"), "%s", e.msg);
    cols[C_TIME].name = "time";
    /* flags are not part of a column's identity: the file's own flags drive its blooms */
    cols[C_MSG].flags = 0;
    cols[C_LEVEL].flags = OWL_COL_TOKENS;
    cr_assert_eq(open_rc(path, &s, &e), OWL_OK);
    cr_assert_eq(open_rc(path, &all_schema, &e), OWL_OK);
    char *missing = part_path(dir, "nope.owp");
    cr_assert_eq(open_rc(missing, &all_schema, &e), OWL_ENOTFOUND);
    free(missing);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Schema evolution: a part opened with a schema that gained columns (one in the middle, one
 * at the end), lost one and reordered the rest reads every old column by name, the new ones
 * as their defaults, and prunes blocks as the part's own schema does. */
Test(part, schema_evolution)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 16;
    gen_all(&d, 400, 50);
    char *path = part_path(dir, "e.owp");
    write_ok(path, &all_schema, &d, 0, 400, 50, 3);
    /* new order: time, extra (new I64), level, msg, f, i, u, span, trace, attrs, note (new
     * STR), x8 (new ID8); "name" is gone */
    enum { N_TIME, N_EXTRA, N_LEVEL, N_MSG, N_F, N_I, N_U, N_SPAN, N_TRACE, N_ATTRS, N_NOTE,
           N_X8, N_N };
    static const owl_coldef ncols[N_N] = {
        {"time", OWL_TYPE_TIME, 0, 0},      {"extra", OWL_TYPE_I64, OWL_COL_BLOOM, 0},
        {"level", OWL_TYPE_DICT, OWL_COL_BLOOM, 0}, {"msg", OWL_TYPE_STR, OWL_COL_TOKENS, 0},
        {"f", OWL_TYPE_F64, OWL_COL_BLOOM, 0},      {"i", OWL_TYPE_I64, OWL_COL_BLOOM, 0},
        {"u", OWL_TYPE_U64, 0, 0},          {"span", OWL_TYPE_ID8, 0, 0},
        {"trace", OWL_TYPE_ID16, OWL_COL_BLOOM, 0}, {"attrs", OWL_TYPE_BSON, 0, 0},
        {"note", OWL_TYPE_STR, OWL_COL_TOKENS, 0},  {"x8", OWL_TYPE_ID8, 0, 0},
    };
    static const size_t old_of[N_N] = {C_TIME, SIZE_MAX, C_LEVEL, C_MSG, C_F, C_I, C_U, C_SPAN,
                                       C_TRACE, C_ATTRS, SIZE_MAX, SIZE_MAX};
    const owl_schema ns = {"events", ncols, N_N, N_TIME, 1000000000};
    owl_part *p = open_ok(path, &ns), *old = open_ok(path, &all_schema);
    owl_error e;
    const owl_part_meta *pm = owl_part_get_meta(p);
    cr_assert_eq(pm->rows, 400);
    size_t want[N_N];
    for (size_t c = 0; c < N_N; c++)
        want[c] = c;
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t row = 0;
    for (size_t b = 0; b < pm->nblocks; b++) {
        cr_assert_eq(owl_part_read_block(p, b, want, N_N, &bd, &e), OWL_OK, "%s", e.msg);
        for (size_t r = 0; r < bd.nrows; r++, row++)
            for (size_t c = 0; c < N_N; c++) {
                owl_cell v = old_of[c] == SIZE_MAX ? owl_col_default(ncols[c].type)
                                                   : d.c[old_of[c]][row];
                cr_assert(cell_eq(ncols[c].type, &bd.cells[c][r], &v), "row %zu column %s", row,
                          ncols[c].name);
            }
    }
    cr_assert_eq(row, 400);
    cr_assert_eq(bd.cells[N_X8][0].b.n, 8);
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    /* pruning: a new column's default (0, "") holds in every block, any other value in none */
    owl_pred zero = {.col = N_EXTRA, .op = OWL_PRED_EQ, .lo.i = 0};
    owl_pred five = {.col = N_EXTRA, .op = OWL_PRED_RANGE, .lo.i = 5, .hi.i = 9};
    owl_pred tok = {.col = N_NOTE, .op = OWL_PRED_TOKEN, .text = {"x", 1}};
    size_t kept5 = 0;
    for (size_t b = 0; b < pm->nblocks; b++) {
        cr_assert(owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &zero, 1));
        kept5 += (size_t)owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &five, 1);
        int may = 1;
        cr_assert_eq(owl_part_block_text_may(p, b, N_NOTE, &tok.text, &bd, &may, &e), OWL_OK);
        cr_assert_eq(may, 0);
    }
    cr_assert_eq(kept5, 0);
    /* old columns at new positions prune exactly as under the part's own schema */
    size_t pruned = 0;
    for (int k = 0; k < 200; k++) {
        owl_cell v = d.c[C_I][rndn(400)];
        v.i += (int64_t)rndn(3) - 1;
        owl_pred pn = {.col = N_I, .op = OWL_PRED_EQ, .lo = v};
        owl_pred po = {.col = C_I, .op = OWL_PRED_EQ, .lo = v};
        owl_pred ln = {.col = N_LEVEL, .op = OWL_PRED_EQ, .lo.b = {"NOPE", 4}};
        owl_pred lo = {.col = C_LEVEL, .op = OWL_PRED_EQ, .lo.b = {"NOPE", 4}};
        for (size_t b = 0; b < pm->nblocks; b++) {
            int a1 = owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &pn, 1);
            cr_assert_eq(a1, owl_part_block_may_match(old, b, INT64_MIN, INT64_MAX, &po, 1));
            int a2 = owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &ln, 1);
            cr_assert_eq(a2, owl_part_block_may_match(old, b, INT64_MIN, INT64_MAX, &lo, 1));
            pruned += (size_t)!a1 + (size_t)!a2;
        }
    }
    cr_assert_gt(pruned, 0, "min/max and blooms of moved columns still prune");
    owl_block_data_free(&bd);
    owl_part_close(p);
    owl_part_close(old);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- corruption ---- */

/* Trailer and footer position of a part. */
static void footer_pos(const char *path, uint64_t *foff, uint32_t *flen)
{
    uint64_t size = (uint64_t)file_size(path);
    uint8_t tr[24];
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, tr, 24, (off_t)(size - 24)), 24);
    close(fd);
    uint64_t o = 0;
    uint32_t l = 0;
    for (int i = 7; i >= 0; i--)
        o = o << 8 | tr[i];
    for (int i = 11; i >= 8; i--)
        l = l << 8 | tr[i];
    *foff = o;
    *flen = l;
}

static bson_t *read_footer(const char *path)
{
    uint64_t foff;
    uint32_t flen;
    footer_pos(path, &foff, &flen);
    uint8_t *buf = malloc(flen);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0 && buf);
    cr_assert_eq(pread(fd, buf, flen, (off_t)foff), (ssize_t)flen);
    close(fd);
    owl_buf raw = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_unpack(buf, flen, 1u << 30, &raw), OWL_OK);
    bson_t *doc = bson_new_from_data((const uint8_t *)raw.data, raw.len);
    cr_assert_not_null(doc);
    owl_buf_free(&raw);
    free(buf);
    return doc;
}

/* Offset and length of chunk (b, c), from the footer. */
static void chunk_pos(const char *path, size_t b, size_t c, uint64_t *off, uint32_t *len)
{
    bson_t *doc = read_footer(path);
    char key[64];
    bson_iter_t it, v;
    snprintf(key, sizeof key, "blocks.%zu.off.%zu", b, c);
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, key, &v));
    *off = (uint64_t)bson_iter_int64(&v);
    snprintf(key, sizeof key, "blocks.%zu.len.%zu", b, c);
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, key, &v));
    *len = (uint32_t)bson_iter_int32(&v);
    bson_destroy(doc);
}

/* Replaces the footer with doc (fresh crc and trailer), as a buggy or hostile writer would. */
static void replace_footer(const char *path, const bson_t *doc)
{
    uint64_t foff;
    uint32_t flen;
    footer_pos(path, &foff, &flen);
    cr_assert_eq(truncate(path, (off_t)foff), 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert(fd >= 0);
    uint8_t tr[24];
    owl_buf packed = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_pack(bson_get_data(doc), doc->len, 3, &packed), OWL_OK);
    uint32_t plen = (uint32_t)packed.len;
    uint32_t crc = owl_crc32c(0, packed.data, plen);
    for (int i = 0; i < 8; i++)
        tr[i] = (uint8_t)(foff >> (8 * i));
    for (int i = 0; i < 4; i++) {
        tr[8 + i] = (uint8_t)(plen >> (8 * i));
        tr[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    memcpy(tr + 16, "OWLPEND", 8);
    cr_assert_eq(write(fd, packed.data, plen), (ssize_t)plen);
    cr_assert_eq(write(fd, tr, 24), 24);
    owl_buf_free(&packed);
    close(fd);
}

/* Rewrites the footer through canonical extended JSON with the first `from` replaced. */
static void patch_footer(const char *path, const char *from, const char *to)
{
    bson_t *doc = read_footer(path);
    char *json = bson_as_canonical_extended_json(doc, NULL);
    cr_assert_not_null(json);
    char *at = strstr(json, from);
    cr_assert_not_null(at, "[%s] not in footer", from);
    size_t n = strlen(json) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    bson_error_t be;
    bson_t *nd = bson_new_from_json((const uint8_t *)out, -1, &be);
    cr_assert_not_null(nd, "patching [%s]: %s", from, be.message);
    replace_footer(path, nd);
    bson_destroy(nd);
    bson_destroy(doc);
    bson_free(json);
    free(out);
}

static char *fresh_copy(const char *dir, const char *src)
{
    char *path = part_path(dir, "x.owp");
    copy_file(src, path, UINT64_MAX);
    return path;
}

/* Without a schema (owl_store_verify), the part describes itself. */
Test(part, open_without_schema)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 14;
    gen_all(&d, 300, 64);
    char *path = part_path(dir, "n.owp");
    write_ok(path, &all_schema, &d, 0, 300, 64, 3);
    owl_part *p = NULL;
    owl_error e;
    cr_assert_eq(owl_part_open(path, NULL, &p, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(owl_part_get_meta(p)->rows, 300);
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t c = C_MSG;
    cr_assert_eq(owl_part_read_block(p, 4, &c, 1, &bd, &e), OWL_OK);
    for (size_t i = 0; i < bd.nrows; i++)
        cr_assert(cell_eq(OWL_TYPE_STR, &bd.cells[C_MSG][i], &d.c[C_MSG][256 + i]));
    owl_pred pr = {.col = C_MSG, .op = OWL_PRED_TOKEN, .text = {"absent123", 9}};
    cr_assert_eq(count_pruned(p, &pr) > 0, 1);
    owl_block_data_free(&bd);
    owl_part_close(p);
    /* a footer with an unknown column type or no time column is refused */
    patch_footer(path, "\"type\" : { \"$numberInt\" : \"4\" }",
                 "\"type\" : { \"$numberInt\" : \"42\" }");
    cr_assert_eq(open_rc(path, NULL, &e), OWL_ECORRUPT);
    write_ok(path, &all_schema, &d, 0, 300, 64, 3);
    patch_footer(path, "\"type\" : { \"$numberInt\" : \"1\" }",
                 "\"type\" : { \"$numberInt\" : \"2\" }");
    cr_assert_eq(open_rc(path, NULL, &e), OWL_ECORRUPT);
    cr_assert(strstr(e.msg, "time"), "%s", e.msg);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

Test(part, corrupt_header_trailer_footer)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 7;
    gen_all(&d, 400, 64);
    char *good = part_path(dir, "good.owp");
    write_ok(good, &all_schema, &d, 0, 400, 64, 3);
    uint64_t size = (uint64_t)file_size(good), foff;
    uint32_t flen;
    footer_pos(good, &foff, &flen);
    owl_error e;

    for (uint64_t off = 0; off < 16; off++) { /* header */
        char *x = fresh_copy(dir, good);
        flip(x, off, 0x20);
        cr_assert_eq(open_rc(x, &all_schema, &e), OWL_ECORRUPT, "header byte %llu",
                     (unsigned long long)off);
        free(x);
    }
    for (uint64_t off = size - 24; off < size; off++) { /* trailer */
        char *x = fresh_copy(dir, good);
        flip(x, off, 0x01);
        cr_assert_eq(open_rc(x, &all_schema, &e), OWL_ECORRUPT, "trailer byte %llu",
                     (unsigned long long)off);
        free(x);
    }
    for (uint64_t off = foff; off < foff + flen; off += 1 + flen / 97) { /* footer */
        char *x = fresh_copy(dir, good);
        flip(x, off, 0x04);
        cr_assert_eq(open_rc(x, &all_schema, &e), OWL_ECORRUPT, "footer byte %llu",
                     (unsigned long long)off);
        cr_assert(strstr(e.msg, "checksum"), "%s", e.msg);
        free(x);
    }
    uint64_t cuts[] = {0, 1, 15, 16, 40, size / 2, foff, foff + 1, size - 24, size - 1};
    for (size_t k = 0; k < OWL_ARRAY_LEN(cuts); k++) { /* truncated */
        char *x = part_path(dir, "t.owp");
        copy_file(good, x, cuts[k]);
        cr_assert_eq(open_rc(x, &all_schema, &e), OWL_ECORRUPT, "cut at %llu",
                     (unsigned long long)cuts[k]);
        free(x);
    }
    { /* bytes appended */
        char *x = fresh_copy(dir, good);
        FILE *f = fopen(x, "ab");
        fputc('z', f);
        fclose(f);
        cr_assert_eq(open_rc(x, &all_schema, &e), OWL_ECORRUPT);
        free(x);
    }
    cr_assert_eq(open_rc(good, &all_schema, &e), OWL_OK);
    free(good);
    ds_free(&d);
    test_rm_rf(dir);
}

Test(part, corrupt_chunk)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 8;
    gen_all(&d, 400, 64);
    char *good = part_path(dir, "good.owp");
    write_ok(good, &all_schema, &d, 0, 400, 64, 3);
    size_t targets[][2] = {{1, C_MSG}, {0, C_TIME}, {6, C_TRACE}, {3, C_F}, {2, C_LEVEL}};
    for (size_t k = 0; k < OWL_ARRAY_LEN(targets); k++) {
        size_t b = targets[k][0], c = targets[k][1];
        uint64_t off;
        uint32_t len;
        chunk_pos(good, b, c, &off, &len);
        uint64_t where[] = {0, 1, 4, 5, 6, len / 2, len - 1};
        for (size_t w = 0; w < OWL_ARRAY_LEN(where); w++) {
            char *x = fresh_copy(dir, good);
            flip(x, off + where[w], 0x10);
            owl_part *p = open_ok(x, &all_schema);
            owl_block_data bd;
            memset(&bd, 0, sizeof bd);
            owl_error e;
            size_t col = c, other = c == C_TIME ? C_I : C_TIME;
            cr_assert_eq(owl_part_read_block(p, b, &col, 1, &bd, &e), OWL_ECORRUPT,
                         "block %zu col %zu byte %llu", b, c, (unsigned long long)where[w]);
            cr_assert(strstr(e.msg, all_cols[c].name), "%s", e.msg);
            cr_assert_null(bd.cells[c]);
            cr_assert_eq(owl_part_read_block(p, b, &other, 1, &bd, &e), OWL_OK, "%s", e.msg);
            cr_assert_eq(owl_part_read_block(p, (b + 1) % 7, &col, 1, &bd, &e), OWL_OK);
            for (size_t i = 0; i < bd.nrows; i++)
                cr_assert(cell_eq(all_cols[c].type, &bd.cells[c][i],
                                  &d.c[c][((b + 1) % 7) * 64 + i]));
            cr_assert_eq(owl_part_verify(p, &e), OWL_ECORRUPT);
            char want[64];
            snprintf(want, sizeof want, "block %zu column %s", b, all_cols[c].name);
            cr_assert(strstr(e.msg, want), "%s", e.msg);
            owl_block_data_free(&bd);
            owl_part_close(p);
            free(x);
        }
    }
    free(good);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Footers with a valid checksum but wrong content are refused with a message. */
Test(part, corrupt_footer_fields)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 9;
    gen_all(&d, 300, 100);
    char *good = part_path(dir, "good.owp");
    write_ok(good, &all_schema, &d, 0, 300, 100, 3);
    struct {
        const char *from, *to;
    } cases[] = {
        {"\"v\" : { \"$numberInt\" : \"6\" }", "\"v\" : { \"$numberInt\" : \"1000\" }"},
        {"\"v\" : { \"$numberInt\" : \"6\" }", "\"v\" : { \"$numberInt\" : \"1\" }"},
        {"\"v\" : { \"$numberInt\" : \"6\" }", "\"v\" : { \"$numberLong\" : \"6\" }"},
        {"\"day\" : ", "\"ndays\" : { \"$numberInt\" : \"0\" }, \"day\" : "},
        {"\"day\" : ", "\"ndays\" : { \"$numberLong\" : \"2\" }, \"day\" : "},
        {"\"rows\" : { \"$numberLong\" : \"300\" }", "\"rows\" : { \"$numberLong\" : \"301\" }"},
        {"\"rows\" : { \"$numberLong\" : \"300\" }", "\"rows\" : { \"$numberLong\" : \"0\" }"},
        {"\"day\"", "\"dya\""},
        {"\"tenant\" : \"acme\"", "\"tenant\" : { \"$numberInt\" : \"1\" }"},
        {"\"min_time\"", "\"min_timex\""},
        {"\"level\" : { \"$numberInt\" : \"0\" }", "\"level\" : { \"$numberInt\" : \"-1\" }"},
        {"\"type\" : { \"$numberInt\" : \"1\" }", "\"type\" : { \"$numberInt\" : \"99\" }"},
        {"\"name\" : \"i\"", "\"name\" : \"time\""},
        {"\"flags\"", "\"flagz\""},
        {"\"blocks\" : [ ", "\"blocks\" : [ 1, "},
        {"\"rows\" : { \"$numberInt\" : \"100\" }", "\"rows\" : { \"$numberInt\" : \"99\" }"},
        {"\"rows\" : { \"$numberInt\" : \"100\" }", "\"rows\" : { \"$numberInt\" : \"0\" }"},
        {"\"off\" : [ { \"$numberLong\" : \"16\" }", "\"off\" : [ { \"$numberLong\" : \"3\" }"},
        {"\"off\" : [ { \"$numberLong\" : \"16\" }",
         "\"off\" : [ { \"$numberLong\" : \"99999999\" }"},
        {"\"off\" : [ { \"$numberLong\" : \"16\" }",
         "\"off\" : [ { \"$numberLong\" : \"16\" }, { \"$numberLong\" : \"16\" }"},
        {"\"len\" : [ { \"$numberInt\" : \"", "\"len\" : [ { \"$numberInt\" : \"9999"},
        {"\"len\" : [ { \"$numberInt\" : \"", "\"len\" : [ { \"$numberInt\" : \"-"},
        {"\"min\" : [ { \"$numberLong\"", "\"min\" : [ { \"$numberDouble\""},
        {"\"max\" : [ ", "\"max\" : [ null, "},
        {"\"bloom\" : { \"", "\"bloom\" : { \"9"},
        {"\"bloom\" : { \"", "\"bloom\" : { \"x\" : 1, \""},
        {"\"base64\" : \"Ag", "\"base64\" : \"Aw"},
        {"\"subType\" : \"00\"", "\"subType\" : \"80\""},
        {"\"min_time\" : { \"$numberLong\" : \"", "\"min_time\" : { \"$numberLong\" : \"-"},
    };
    owl_error e;
    for (size_t k = 0; k < OWL_ARRAY_LEN(cases); k++) {
        char *x = fresh_copy(dir, good);
        patch_footer(x, cases[k].from, cases[k].to);
        int rc = open_rc(x, &all_schema, &e);
        cr_assert_eq(rc, OWL_ECORRUPT, "case %zu (%s -> %s): %s", k, cases[k].from, cases[k].to,
                     owl_errname(rc));
        cr_assert_gt(strlen(e.msg), 0);
        free(x);
    }
    /* a later format (a newer owl wrote it) is refused, not taken for corruption */
    char *x = fresh_copy(dir, good);
    patch_footer(x, "\"v\" : { \"$numberInt\" : \"6\" }", "\"v\" : { \"$numberInt\" : \"7\" }");
    cr_assert_eq(open_rc(x, &all_schema, &e), OWL_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "newer than this program"), "%s", e.msg);
    free(x);
    /* formats 4 and 5 are still read (5 and 6 only added chunk encodings): the same part
     * verifies */
    static const char *const older[] = {"\"v\" : { \"$numberInt\" : \"5\" }",
                                        "\"v\" : { \"$numberInt\" : \"4\" }"};
    for (size_t k = 0; k < 2; k++) {
        x = fresh_copy(dir, good);
        patch_footer(x, "\"v\" : { \"$numberInt\" : \"6\" }", older[k]);
        owl_part *po = open_ok(x, &all_schema);
        cr_assert_eq(owl_part_verify(po, &e), OWL_OK, "%s", e.msg);
        owl_part_close(po);
        free(x);
    }
    /* the JSON detour itself changes nothing */
    x = fresh_copy(dir, good);
    patch_footer(x, "\"v\"", "\"v\"");
    owl_part *p = open_ok(x, &all_schema);
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    owl_part_close(p);
    free(x);
    free(good);
    ds_free(&d);
    test_rm_rf(dir);
}

/* A min/max that lies (valid checksums) is caught by verify, since pruning trusts it. */
Test(part, verify_catches_lying_stats)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 10;
    gen_all(&d, 300, 100);
    for (size_t r = 0; r < 300; r++)
        d.c[C_I][r].i = (int64_t)r;
    char *x = part_path(dir, "l.owp");
    write_ok(x, &all_schema, &d, 0, 300, 100, 3);
    /* move block 0's i64 max (99) below its real max */
    char from[160], to[160];
    long long tmax = (long long)d.c[C_TIME][99].i;
    snprintf(from, sizeof from, "\"max\" : [ { \"$numberLong\" : \"%lld\" }, "
             "{ \"$numberLong\" : \"99\" }", tmax);
    snprintf(to, sizeof to, "\"max\" : [ { \"$numberLong\" : \"%lld\" }, "
             "{ \"$numberLong\" : \"50\" }", tmax);
    patch_footer(x, from, to);
    owl_part *p = open_ok(x, &all_schema);
    owl_error e;
    cr_assert_eq(owl_part_verify(p, &e), OWL_ECORRUPT);
    cr_assert(strstr(e.msg, "block 0 column i"), "%s", e.msg);
    owl_part_close(p);
    free(x);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- invalid input and leftovers ---- */

Test(part, invalid_input_leaves_nothing)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 11;
    gen_all(&d, 100, 10);
    char *path = part_path(dir, "i.owp"), tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    owl_error e;
    owl_rows rows = ds_rows(&d, 0, 100);

    d.c[C_TIME][50].i = d.c[C_TIME][49].i - 1; /* unsorted */
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                 OWL_EINVAL);
    cr_assert(strstr(e.msg, "sorted"), "%s", e.msg);
    cr_assert_not(exists(path));
    cr_assert_not(exists(tmp));
    d.c[C_TIME][50].i = d.c[C_TIME][49].i;

    owl_bytes keep = d.c[C_TRACE][7].b; /* id of the wrong size */
    d.c[C_TRACE][7].b.n = 15;
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                 OWL_EINVAL);
    d.c[C_TRACE][7].b = keep;
    keep = d.c[C_SPAN][9].b;
    d.c[C_SPAN][9].b.n = 16;
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                 OWL_EINVAL);
    d.c[C_SPAN][9].b = keep;
    keep = d.c[C_ATTRS][3].b; /* not a BSON document */
    d.c[C_ATTRS][3].b = (owl_bytes){"abc", 3};
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                 OWL_EINVAL);
    d.c[C_ATTRS][3].b = keep;
    keep = d.c[C_MSG][3].b; /* NULL bytes with a length */
    d.c[C_MSG][3].b = (owl_bytes){NULL, 3};
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                 OWL_EINVAL);
    d.c[C_MSG][3].b = keep;

    owl_rows none = ds_rows(&d, 0, 0);
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &none, 10, 3, NULL, &e),
                 OWL_EINVAL);
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &rows, 0, 3, NULL, &e),
                 OWL_EINVAL);
    owl_rows holes = rows;
    holes.cols[C_NAME] = NULL;
    cr_assert_eq(owl_part_write(path, &all_schema, &info_default, &holes, 10, 3, NULL, &e),
                 OWL_EINVAL);
    owl_part_info other = info_default;
    other.table = "spans";
    cr_assert_eq(owl_part_write(path, &all_schema, &other, &rows, 10, 3, NULL, &e), OWL_EINVAL);
    owl_schema bad = all_schema;
    bad.time_col = C_I;
    cr_assert_eq(owl_part_write(path, &bad, &info_default, &rows, 10, 3, NULL, &e), OWL_EINVAL);
    cr_assert_not(exists(path));
    cr_assert_not(exists(tmp));

    /* a directory that does not exist: an error, and nothing anywhere */
    char nodir[4200];
    snprintf(nodir, sizeof nodir, "%s/no/such/p.owp", dir);
    cr_assert_neq(owl_part_write(nodir, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                  OWL_OK);
    /* rename fails (a non-empty directory holds the name): the .tmp is removed */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/f", path);
    cr_assert_eq(mkdir(path, 0700), 0);
    FILE *f = fopen(sub, "w");
    fclose(f);
    cr_assert_neq(owl_part_write(path, &all_schema, &info_default, &rows, 10, 3, NULL, &e),
                  OWL_OK);
    cr_assert_not(exists(tmp));
    unlink(sub);
    rmdir(path);

    /* the same rows, fixed, are fine */
    write_ok(path, &all_schema, &d, 0, 100, 10, 3);
    check_round_trip(path, &all_schema, &d, 0, 100, 10);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* A crash mid-write leaves NAME.tmp: it is not the part, and is not a part either. */
Test(part, tmp_left_behind_is_not_a_part)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 12;
    gen_all(&d, 200, 50);
    char *good = part_path(dir, "good.owp");
    write_ok(good, &all_schema, &d, 0, 200, 50, 3);
    char *path = part_path(dir, "crash.owp"), tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint64_t foff;
    uint32_t flen;
    footer_pos(good, &foff, &flen);
    owl_error e;
    uint64_t cuts[] = {10, foff / 2, foff, foff + flen};
    for (size_t k = 0; k < OWL_ARRAY_LEN(cuts); k++) {
        copy_file(good, tmp, cuts[k]);
        cr_assert_eq(open_rc(path, &all_schema, &e), OWL_ENOTFOUND);
        cr_assert_eq(open_rc(tmp, &all_schema, &e), OWL_ECORRUPT);
    }
    /* a later write of the same part replaces the leftover */
    write_ok(path, &all_schema, &d, 0, 200, 50, 3);
    cr_assert_not(exists(tmp));
    check_round_trip(path, &all_schema, &d, 0, 200, 50);
    free(path);
    free(good);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- benchmark: timing only ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { L_TIME, L_LEVEL, L_MSG, L_TRACE, L_NCOLS };
static const owl_coldef log_cols[L_NCOLS] = {
    {"time", OWL_TYPE_TIME, 0, 0},
    {"level", OWL_TYPE_DICT, 0, 0},
    {"message", OWL_TYPE_STR, OWL_COL_TOKENS, 0},
    {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM, 0},
};
static const owl_schema log_schema = {"logs", log_cols, L_NCOLS, L_TIME, 1000000000};
static const owl_coldef plain_cols[L_NCOLS] = {
    {"time", OWL_TYPE_TIME, 0, 0},
    {"level", OWL_TYPE_DICT, 0, 0},
    {"message", OWL_TYPE_STR, 0, 0},
    {"trace_id", OWL_TYPE_ID16, 0, 0},
};
static const owl_schema plain_schema = {"logs", plain_cols, L_NCOLS, L_TIME, 1000000000};

static void gen_logs(struct ds *d, size_t n)
{
    static const char *paths[] = {"/api/v1/users", "/api/v1/orders", "/api/v1/cart", "/health",
                                  "/api/v2/search", "/static/app.js"};
    static const char *verbs[] = {"GET", "POST", "PUT", "DELETE"};
    ds_init(d, n, L_NCOLS, n * 180);
    int64_t t = 1700000000000000000ll;
    for (size_t r = 0; r < n; r++) {
        char buf[256];
        uint8_t id[16];
        t += 500 + (int64_t)rndn(1500);
        d->c[L_TIME][r].i = t;
        const char *lv = levels[rndn(10) < 7 ? 1 : rndn(4)];
        d->c[L_LEVEL][r].b = ds_put(d, lv, strlen(lv));
        int len = snprintf(buf, sizeof buf,
                           "%s %s/%u HTTP/1.1 status=%u took=%ums user=u%05u region=eu-west-1 "
                           "req=%08x%08x cache=%s",
                           verbs[rndn(4)], paths[rndn(6)], (unsigned)rndn(100000),
                           rndn(20) ? 200 : 500, (unsigned)rndn(900), (unsigned)rndn(50000),
                           (unsigned)rnd(), (unsigned)rnd(), rndn(3) ? "hit" : "miss");
        d->c[L_MSG][r].b = ds_put(d, buf, (size_t)len);
        for (int i = 0; i < 16; i++)
            id[i] = (uint8_t)rnd();
        d->c[L_TRACE][r].b = ds_put(d, id, 16);
    }
}

/* At compaction levels message columns (STR + token blooms) may be stored as templates
 * (logtpl.h): the values come back byte for byte, verify passes, token pruning still works,
 * and the file is smaller than with plain strings at the same level. */
Test(part, message_templates_at_high_levels)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 7;
    gen_logs(&d, 5000);
    char *tpl = part_path(dir, "tpl.owp"), *plain = part_path(dir, "plain.owp");
    owl_part_info info = {"logs", "acme", "app", 19675, 1, 0, 1};
    owl_rows rows = ds_rows(&d, 0, 5000);
    owl_error we;
    for (int level = 9; level <= 19; level += 10) {
        cr_assert_eq(owl_part_write(tpl, &log_schema, &info, &rows, 1024, level, NULL, &we),
                     OWL_OK, "%s", we.msg);
        check_round_trip(tpl, &log_schema, &d, 0, 5000, 1024);
        cr_assert_eq(owl_part_write(plain, &plain_schema, &info, &rows, 1024, level, NULL, &we),
                     OWL_OK, "%s", we.msg);
        uint64_t tpl_bytes = 0, plain_bytes = 0, off;
        uint32_t len;
        for (size_t b = 0; b < 5; b++) {
            chunk_pos(tpl, b, L_MSG, &off, &len);
            tpl_bytes += len;
            chunk_pos(plain, b, L_MSG, &off, &len);
            plain_bytes += len;
        }
        cr_assert_lt(tpl_bytes, plain_bytes,
                     "level %d: message chunks %llu bytes with templates, %llu without", level,
                     (unsigned long long)tpl_bytes, (unsigned long long)plain_bytes);
        owl_part *p = open_ok(tpl, &log_schema);
        owl_error e;
        cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
        owl_pred absent = {.col = L_MSG, .op = OWL_PRED_TOKEN, .text = {"nosuchword", 10}};
        cr_assert_not(owl_part_block_may_match(p, 0, INT64_MIN, INT64_MAX, &absent, 1));
        owl_part_close(p);
    }
    free(tpl);
    free(plain);
    ds_free(&d);
    test_rm_rf(dir);
}

/* The raw encoding tag of block b's chunk of column c. */
static uint8_t chunk_tag(const char *path, size_t b, size_t c)
{
    uint64_t off;
    uint32_t len;
    chunk_pos(path, b, c, &off, &len);
    uint8_t *packed = malloc(len);
    int fd = open(path, O_RDONLY);
    cr_assert_eq(pread(fd, packed, len, (off_t)off), (ssize_t)len);
    close(fd);
    owl_buf raw = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_unpack(packed, len, 1u << 30, &raw), OWL_OK);
    uint8_t tag = (uint8_t)raw.data[0];
    owl_buf_free(&raw);
    free(packed);
    return tag;
}

/* A BSON column of few distinct documents (a span's resource) is stored as a dictionary,
 * one of documents all different as STR; both read back byte for byte. */
Test(part, bson_columns_take_a_dictionary_when_it_pays)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 23;
    size_t n = 4096;
    gen_all(&d, n, 2048);
    bson_t *docs[4];
    for (int k = 0; k < 4; k++)
        docs[k] = BCON_NEW("service.name", BCON_UTF8(levels[k]), "host.name", BCON_UTF8("node-7"));
    for (size_t r = 0; r < 2048; r++) { /* block 0: four documents (and none) */
        size_t k = rndn(5);
        d.c[C_ATTRS][r].b = k == 4 ? (owl_bytes){NULL, 0}
                                   : ds_put(&d, bson_get_data(docs[k]), docs[k]->len);
    }
    char *path = part_path(dir, "b.owp");
    write_ok(path, &all_schema, &d, 0, n, 2048, 1);
    cr_assert_eq(chunk_tag(path, 0, C_ATTRS), OWL_ENC_DICT);
    cr_assert_eq(chunk_tag(path, 1, C_ATTRS), OWL_ENC_STR, "documents all different");
    check_round_trip(path, &all_schema, &d, 0, n, 2048);
    for (int k = 0; k < 4; k++)
        bson_destroy(docs[k]);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Messages that spell their own row time: at level 19 the template chunk stores those
 * timestamps relative to the time column (it cannot be decoded without the times), and
 * reading the message column alone (the time chunk is then read on the side) or with the
 * time column gives every message back byte for byte. */
static const owl_schema log_ms_schema = {"logs", log_cols, L_NCOLS, L_TIME, 1000};

Test(part, message_templates_use_row_times)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 17;
    size_t n = 3000;
    ds_init(&d, n, L_NCOLS, n * 120);
    int64_t t = 1741000000123ll; /* 2025-03-03 */
    for (size_t r = 0; r < n; r++) {
        char buf[160], ts[40];
        uint8_t id[16] = {0};
        t += 1 + (int64_t)rndn(4000);
        d.c[L_TIME][r].i = t;
        d.c[L_LEVEL][r].b = ds_put(&d, "INFO", 4);
        owl_time_format_rfc3339(t, ts, sizeof ts);
        int len = snprintf(buf, sizeof buf, "%.10s %.12s INFO worker-%u handled id=%u", ts,
                           ts + 11, (unsigned)rndn(8), (unsigned)rndn(100000));
        d.c[L_MSG][r].b = ds_put(&d, buf, (size_t)len);
        d.c[L_TRACE][r].b = ds_put(&d, id, 16);
    }
    char *path = part_path(dir, "t.owp");
    owl_part_info info = {"logs", "acme", "app", 20150, 1, 0, 1};
    owl_rows rows = ds_rows(&d, 0, n);
    owl_error e;
    cr_assert_eq(owl_part_write(path, &log_ms_schema, &info, &rows, 1024, 19, NULL, &e), OWL_OK,
                 "%s", e.msg);
    /* the first block's message chunk needs the times */
    uint64_t off;
    uint32_t len;
    chunk_pos(path, 0, L_MSG, &off, &len);
    uint8_t *packed = malloc(len);
    int fd = open(path, O_RDONLY);
    cr_assert_eq(pread(fd, packed, len, (off_t)off), (ssize_t)len);
    close(fd);
    owl_buf raw = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_unpack(packed, len, 1u << 30, &raw), OWL_OK);
    cr_assert_eq((uint8_t)raw.data[0], OWL_ENC_LOGTPL);
    owl_strref *refs = malloc(1024 * sizeof *refs);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)raw.data, raw.len, 1024, refs, &arena),
                 OWL_EINVAL);
    free(refs), free(packed);
    owl_buf_free(&raw), owl_buf_free(&arena);

    owl_part *p = open_ok(path, &log_ms_schema);
    size_t only_msg[] = {L_MSG}, both[] = {L_MSG, L_TIME};
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    for (int k = 0; k < 2; k++) {
        size_t row = 0;
        for (size_t b = 0; b < owl_part_get_meta(p)->nblocks; b++) {
            cr_assert_eq(owl_part_read_block(p, b, k ? both : only_msg, k ? 2 : 1, &bd, &e),
                         OWL_OK, "%s", e.msg);
            cr_assert_eq(bd.cells[L_TIME] != NULL, k == 1, "only the columns asked for");
            for (size_t i = 0; i < bd.nrows; i++, row++) {
                const owl_bytes *want = &d.c[L_MSG][row].b, *got = &bd.cells[L_MSG][i].b;
                cr_assert(got->n == want->n && memcmp(got->p, want->p, got->n) == 0,
                          "row %zu: [%.*s] != [%.*s]", row, (int)got->n, (const char *)got->p,
                          (int)want->n, (const char *)want->p);
            }
        }
        cr_assert_eq(row, n);
    }
    owl_block_data_free(&bd);
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* owl_part_block_text_may never says "absent" for a token a row of the block has, for
 * template chunks (level 19) and plain ones (level 3): every token of every row of a block
 * is asked for. Words absent from the data are ruled out, digit and hex words are not
 * judged (templates may store them re-spelled), and the chunk it unpacked is reused. */
struct tokall {
    owl_part *p;
    size_t b;
    owl_block_data *d;
    size_t asked;
};

static int ask_token(void *ud, const char *t, size_t n)
{
    struct tokall *k = ud;
    owl_bytes tok = {t, n}, inner = {t + 1, n - 2};
    int may = 0;
    owl_error e;
    cr_assert_eq(owl_part_block_text_may(k->p, k->b, L_MSG, &tok, k->d, &may, &e), OWL_OK);
    cr_assert(may, "block %zu: token [%.*s] judged absent", k->b, (int)n, t);
    if (n >= 3) { /* a substring cut out of a word (SUBSTR) */
        cr_assert_eq(owl_part_block_text_may(k->p, k->b, L_MSG, &inner, k->d, &may, &e), OWL_OK);
        cr_assert(may, "block %zu: [%.*s] of [%.*s] judged absent", k->b, (int)inner.n,
                  inner.p, (int)n, t);
    }
    k->asked++;
    return 0;
}

Test(part, token_may_has_no_false_negatives)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 23;
    gen_logs(&d, 4000);
    /* words of every kind: hex ids, UUIDs, '_' joins, numbers with signs, non-ASCII */
    for (size_t r = 0; r < 4000; r += 3) {
        char buf[200];
        int len = snprintf(buf, sizeof buf,
                           "job_%zu id=%08x-%04x-4abc-8def-%012x key=A%zuB err=-%zu "
                           "caf\xc3\xa9 x%zuy_z %s",
                           r, (unsigned)rnd(), (unsigned)rndn(65536), (unsigned)rnd(), r % 50,
                           r % 7, r % 11, r % 2 ? "deadbeef" : "cafe12");
        d.c[L_MSG][r].b = ds_put(&d, buf, (size_t)len);
    }
    char *path = part_path(dir, "tm.owp");
    owl_part_info info = {"logs", "acme", "app", 19675, 1, 0, 1};
    owl_rows rows = ds_rows(&d, 0, 4000);
    owl_error e;
    for (int level = 3; level <= 19; level += 16) {
        cr_assert_eq(owl_part_write(path, &log_schema, &info, &rows, 1000, level, NULL, &e),
                     OWL_OK, "%s", e.msg);
        owl_part *p = open_ok(path, &log_schema);
        owl_block_data bd;
        memset(&bd, 0, sizeof bd);
        struct tokall k = {p, 0, &bd, 0};
        for (size_t b = 0; b < owl_part_get_meta(p)->nblocks; b++) {
            k.b = b;
            for (size_t r = b * 1000; r < (b + 1) * 1000; r++)
                owl_tokenize(d.c[L_MSG][r].b.p, d.c[L_MSG][r].b.n, ask_token, &k);
            /* phrases (TOKEN may hold separators) are judged piece by piece */
            owl_bytes phrase = {"status=200 took", 15}, absent = {"zebra", 5},
                      absent2 = {"qq77", 4}, digits = {"99999999", 8}, hex = {"abcdef01", 8};
            int may;
            cr_assert_eq(owl_part_block_text_may(p, b, L_MSG, &phrase, &bd, &may, &e), OWL_OK);
            cr_assert(may);
            cr_assert_eq(owl_part_block_text_may(p, b, L_MSG, &absent, &bd, &may, &e), OWL_OK);
            cr_assert_not(may, "level %d block %zu: zebra", level, b);
            cr_assert_eq(owl_part_block_text_may(p, b, L_MSG, &absent2, &bd, &may, &e), OWL_OK);
            cr_assert_not(may, "level %d block %zu: qq77", level, b);
            if (level == 19) { /* not judged in templates: they may be stored as numbers */
                cr_assert_eq(owl_part_block_text_may(p, b, L_MSG, &digits, &bd, &may, &e),
                             OWL_OK);
                cr_assert(may);
                cr_assert_eq(owl_part_block_text_may(p, b, L_MSG, &hex, &bd, &may, &e), OWL_OK);
                cr_assert(may);
            }
            /* the unpacked chunk is reused: reading the block adds no message bytes */
            bd.bytes_read = 0;
            size_t col = L_MSG;
            cr_assert_eq(owl_part_read_block(p, b, &col, 1, &bd, &e), OWL_OK, "%s", e.msg);
            cr_assert_eq(bd.bytes_read, 0);
            for (size_t i = 0; i < bd.nrows; i++) {
                const owl_bytes *want = &d.c[L_MSG][b * 1000 + i].b, *got = &bd.cells[L_MSG][i].b;
                cr_assert(got->n == want->n && memcmp(got->p, want->p, got->n) == 0);
            }
        }
        cr_assert_gt(k.asked, 40000);
        owl_block_data_free(&bd);
        owl_part_close(p);
    }
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Row r of d: an INFO line holding msg at time 1700000000000000000 + r, trace id zero. */
static void info_row(struct ds *d, size_t r, const char *msg, size_t len)
{
    static const uint8_t id[16];
    d->c[L_TIME][r].i = 1700000000000000000ll + (int64_t)r;
    d->c[L_LEVEL][r].b = ds_put(d, "INFO", 4);
    d->c[L_MSG][r].b = ds_put(d, msg, len);
    d->c[L_TRACE][r].b = ds_put(d, id, 16);
}

/* Rows [0, n) of d written as part NAME in dir (blocks of block_rows rows, zstd level),
 * opened and verified; *path gets the part's path (the caller frees it). */
static owl_part *write_verified(const char *dir, const char *name, struct ds *d, size_t n,
                                size_t block_rows, int level, char **path)
{
    *path = part_path(dir, name);
    owl_part_info info = {"logs", "acme", "app", 19675, 1, 0, 1};
    owl_rows rows = ds_rows(d, 0, n);
    owl_error e;
    cr_assert_eq(owl_part_write(*path, &log_schema, &info, &rows, block_rows, level, NULL, &e),
                 OWL_OK, "%s", e.msg);
    owl_part *p = open_ok(*path, &log_schema);
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    return p;
}

/* Format 3 blooms hold a number of 5+ digits as its length and all but its last 3 digits:
 * any number of the same thousand may match (no false negative, pruning like a min/max of
 * width 1000), numbers of other thousands or lengths are ruled out as other tokens are, and
 * shorter numbers are exact. verify agrees with the mapping. */
Test(part, numbers_share_bloom_items_by_thousand)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 29;
    size_t n = 500;
    ds_init(&d, n, L_NCOLS, n * 64);
    for (size_t r = 0; r < n; r++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "seq %zu port %zu", 4821000 + r, 1000 + r % 7);
        info_row(&d, r, buf, (size_t)len);
    }
    char *path;
    owl_part *p = write_verified(dir, "n.owp", &d, n, n, 3, &path);
    struct {
        const char *tok;
        int may; /* 1 must, 0 must not, -1 either (a 1% false positive is allowed) */
    } cases[] = {
        {"4821000", 1}, {"4821499", 1}, {"4821999", 1}, /* present, and the same thousand */
        {"1003", 1},    {"1006", 1},                    /* short numbers: exact */
        {"seq", 1},     {"port", 1},
    };
    for (size_t k = 0; k < OWL_ARRAY_LEN(cases); k++) {
        owl_pred pr = {.col = L_MSG, .op = OWL_PRED_TOKEN,
                       .text = {cases[k].tok, strlen(cases[k].tok)}};
        cr_assert_eq(owl_part_block_may_match(p, 0, INT64_MIN, INT64_MAX, &pr, 1), cases[k].may,
                     "token %s", cases[k].tok);
    }
    /* other thousands, other lengths, absent short numbers: ruled out but for a few false
     * positives */
    int passed = 0, asked = 0;
    char tok[32];
    for (int i = 0; i < 200; i++) {
        /* 7 digits of other thousands; 7 digits of this thousand's length but 48xxxxx not
         * 482xxxx; 4 digits absent (1000..1006 are present) */
        int v = i % 3 == 0 ? 4822000 + 1000 * i : i % 3 == 1 ? 4800000 + i : 2000 + i;
        int len = snprintf(tok, sizeof tok, "%d", v);
        owl_pred pr = {.col = L_MSG, .op = OWL_PRED_TOKEN, .text = {tok, (size_t)len}};
        passed += owl_part_block_may_match(p, 0, INT64_MIN, INT64_MAX, &pr, 1);
        asked++;
    }
    cr_assert_lt(passed, 10, "%d of %d absent numbers passed the bloom", passed, asked);
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* The writer skips a token of 8 bytes or less whose key is in its filter of recent short
 * tokens (part.c, short_key): tokens that share a key share a bloom item, so none is lost.
 * Numbers of 5 to 8 digits come before the plain tokens their kept digits spell ("12345",
 * then "12"), 8-byte tokens beside their prefixes, tokens end values (fewer than 8 bytes
 * left to read), and random short words of three letters make the filter's slots collide:
 * every token of every row probes present, and absent ones are ruled out. */
Test(part, short_token_filter_loses_no_token)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 31;
    size_t n = 3000;
    ds_init(&d, n, L_NCOLS, n * 160);
    static const char *fixed[] = {"12345", "12", "98765432", "98765", "98", "987", "abcdefgh",
                                  "abcdefg", "abcdefghi", "1234567", "1234", "12345678",
                                  "123456789", "_x", "caf\xc3\xa9", "9"};
    for (size_t r = 0; r < n; r++) {
        char buf[160];
        int len = 0;
        size_t k = r % OWL_ARRAY_LEN(fixed);
        for (size_t j = 0; j < 4; j++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s ",
                            fixed[(k + j) % OWL_ARRAY_LEN(fixed)]);
        for (int j = (int)rndn(6); j >= 0; j--) { /* random words of 1 to 9 bytes from "ab1" */
            size_t wl = 1 + rndn(9);
            for (size_t i = 0; i < wl; i++)
                buf[len++] = "ab1"[rndn(3)];
            buf[len++] = rndn(2) ? ' ' : '=';
        }
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s",
                        fixed[(r * 7) % OWL_ARRAY_LEN(fixed)]);
        info_row(&d, r, buf, (size_t)len);
    }
    char *path;
    owl_part *p = write_verified(dir, "st.owp", &d, n, 500, 1, &path);
    size_t asked = 0;
    for (size_t r = 0; r < n; r++) {
        const owl_bytes *v = &d.c[L_MSG][r].b;
        size_t i = 0, start;
        unsigned digits;
        while (owl_token_next(v->p, v->n, &i, &start, &digits)) {
            owl_pred pr = {.col = L_MSG, .op = OWL_PRED_TOKEN,
                           .text = {(const char *)v->p + start, i - start}};
            cr_assert(owl_part_block_may_match(p, r / 500, INT64_MIN, INT64_MAX, &pr, 1),
                      "block %zu: token [%.*s] of row %zu judged absent", r / 500,
                      (int)(i - start), (const char *)v->p + start, r);
            asked++;
        }
    }
    cr_assert_gt(asked, 20000);
    int passed = 0;
    /* not "12346": numbers of the same thousand share an item */
    static const char *absent[] = {"13345", "13", "97765", "abcdefgz", "abcdef", "c", "ab2",
                                   "99999", "1233", "zz"};
    for (size_t b = 0; b < n / 500; b++)
        for (size_t k = 0; k < OWL_ARRAY_LEN(absent); k++) {
            owl_pred pr = {.col = L_MSG, .op = OWL_PRED_TOKEN,
                           .text = {absent[k], strlen(absent[k])}};
            passed += owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &pr, 1);
        }
    cr_assert_lt(passed, 5, "%d absent tokens passed the blooms", passed);
    owl_part_close(p);
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

Test(part, bench_1m_log_rows, .timeout = 600)
{
#if defined(__SANITIZE_ADDRESS__)
    size_t n = 100000; /* sanitizers: a smoke run, the figures mean nothing */
#else
    size_t n = 1000000;
#endif
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 13;
    gen_logs(&d, n);
    uint64_t msg_bytes = 0;
    for (size_t r = 0; r < n; r++)
        msg_bytes += d.c[L_MSG][r].b.n;
    char *path = part_path(dir, "bench.owp");
    struct {
        int level;
        const owl_schema *s;
        const char *what;
    } runs[] = {{1, &log_schema, "blooms"}, {3, &log_schema, "blooms"},
                {1, &plain_schema, "no blooms"}, {3, &plain_schema, "no blooms"}};
    for (size_t k = 0; k < OWL_ARRAY_LEN(runs); k++) {
        int level = runs[k].level;
        const owl_schema *sc = runs[k].s;
        owl_rows rows = ds_rows(&d, 0, n);
        owl_part_info info = {"logs", "acme", "app", 19675, 1, 0, 1};
        owl_error e;
        uint64_t fb;
        double t0 = now_s();
        cr_assert_eq(owl_part_write(path, sc, &info, &rows, 8192, level, &fb, &e), OWL_OK, "%s",
                     e.msg);
        double tw = now_s() - t0;
        t0 = now_s();
        owl_part *p = open_ok(path, sc);
        double to = now_s() - t0;
        size_t nb = owl_part_get_meta(p)->nblocks;
        owl_block_data bd;
        memset(&bd, 0, sizeof bd);
        size_t col = L_MSG;
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            t0 = now_s();
            for (size_t b = 0; b < nb; b++)
                cr_assert_eq(owl_part_read_block(p, b, &col, 1, &bd, &e), OWL_OK);
            double tr = now_s() - t0;
            best = tr < best ? tr : best;
        }
        size_t all[] = {L_TIME, L_LEVEL, L_MSG, L_TRACE};
        t0 = now_s();
        for (size_t b = 0; b < nb; b++)
            cr_assert_eq(owl_part_read_block(p, b, all, 4, &bd, &e), OWL_OK);
        double ta = now_s() - t0;
        owl_pred pr = {.col = L_MSG, .op = OWL_PRED_TOKEN, .text = {"nosuchword", 10}};
        t0 = now_s();
        size_t skipped = 0;
        for (size_t b = 0; b < nb; b++)
            skipped += !owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &pr, 1);
        double tp = now_s() - t0;
        printf("part bench (zstd %d, %s, %zu rows, %zu blocks of 8192, message %.1f B avg): "
               "write %.0f rows/s (%.2f s, file %.1f MB, raw %.1f MB); open %.1f ms; "
               "read message column %.0f MB/s raw (%.3f s); all 4 columns %.0f rows/s; "
               "absent-token pruning %zu/%zu blocks in %.1f us\n",
               level, runs[k].what, n, nb, (double)msg_bytes / (double)n, (double)n / tw, tw,
               (double)fb / 1e6, (double)owl_part_get_meta(p)->raw_bytes / 1e6, to * 1e3,
               (double)msg_bytes / 1e6 / best, best, (double)n / ta, skipped, nb, tp * 1e6);
        fflush(stdout);
        owl_block_data_free(&bd);
        owl_part_close(p);
    }
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* ---- id columns stored as references (IDREF) ---- */

/* Spans as a clustered block holds them: trace by trace, each trace's id repeated, its
 * parents other rows' span ids (before and after), roots zero, a few parents outside. The
 * second pair of columns (x, y referencing x) is there for the crafted parts below. */
enum { S_TIME, S_TRACE, S_SPAN, S_PARENT, S_NAME, S_X, S_Y, S_NCOLS };
static const owl_coldef span_cols[S_NCOLS] = {
    {"time", OWL_TYPE_TIME, 0, 0},
    {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM, 0},
    {"span_id", OWL_TYPE_ID8, 0, 0},
    {"parent_id", OWL_TYPE_ID8, 0, 1 + S_SPAN},
    {"name", OWL_TYPE_STR, 0, 0},
    {"x", OWL_TYPE_ID8, 0, 0},
    {"y", OWL_TYPE_ID8, 0, 1 + S_X},
};
static const owl_schema span_schema = {"events", span_cols, S_NCOLS, S_TIME, 1000000000};

static void gen_spans(struct ds *d, size_t n)
{
    ds_init(d, n, S_NCOLS, n * 64);
    static const uint8_t zero[8];
    for (size_t r = 0; r < n;) {
        size_t len = 1 + rndn(40), t0 = r;
        uint8_t trace[16];
        for (size_t k = 0; k < 16; k++)
            trace[k] = (uint8_t)rnd();
        owl_bytes tb = ds_put(d, trace, 16);
        for (; r < n && r < t0 + len; r++) {
            uint8_t id[8];
            for (size_t k = 0; k < 8; k++)
                id[k] = (uint8_t)rnd();
            d->c[S_TIME][r].i = (int64_t)r;
            d->c[S_TRACE][r].b = tb;
            d->c[S_SPAN][r].b = ds_put(d, id, 8);
            d->c[S_NAME][r].b = ds_put(d, "op", 2);
            d->c[S_X][r].b = d->c[S_SPAN][r].b;
        }
        for (size_t i = t0; i < r; i++) {
            size_t k = rndn(20), j = t0 + rndn(r - t0);
            if (i == t0)
                d->c[S_PARENT][i].b = ds_put(d, zero, 8);
            else if (k == 0) {
                uint8_t id[8];
                for (size_t q = 0; q < 8; q++)
                    id[q] = (uint8_t)rnd();
                d->c[S_PARENT][i].b = ds_put(d, id, 8);
            } else
                d->c[S_PARENT][i].b = d->c[S_SPAN][k < 10 ? t0 : j].b;
            d->c[S_Y][i] = d->c[S_PARENT][i];
        }
    }
}

/* Block b read asking for cols (ncols of them) equals the rows written; the columns not
 * asked for are left NULL, whatever was decoded for the others' references. */
static void check_cols(owl_part *p, const struct ds *d, size_t b, size_t block_rows,
                       const size_t *cols, size_t ncols)
{
    owl_block_data bd;
    owl_error e;
    memset(&bd, 0, sizeof bd);
    cr_assert_eq(owl_part_read_block(p, b, cols, ncols, &bd, &e), OWL_OK, "%s", e.msg);
    for (size_t c = 0; c < S_NCOLS; c++) {
        int want = 0;
        for (size_t k = 0; k < ncols; k++)
            want |= cols[k] == c;
        if (!want) {
            cr_assert_null(bd.cells[c], "column %zu", c);
            continue;
        }
        for (size_t i = 0; i < bd.nrows; i++)
            cr_assert(cell_eq(span_cols[c].type, &bd.cells[c][i], &d->c[c][b * block_rows + i]),
                      "block %zu column %zu row %zu", b, c, i);
    }
    owl_block_data_free(&bd);
}

Test(part, id_references_round_trip)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 61;
    enum { N = 3000, BR = 512 };
    gen_spans(&d, N);
    char *path = part_path(dir, "s.owp");
    write_ok(path, &span_schema, &d, 0, N, BR, 3);
    /* trace ids are runs, parents references to the span ids, span ids literals */
    cr_assert_eq(chunk_tag(path, 0, S_TRACE), OWL_ENC_IDREF);
    cr_assert_eq(chunk_tag(path, 0, S_PARENT), OWL_ENC_IDREF);
    cr_assert_eq(chunk_tag(path, 0, S_SPAN), OWL_ENC_FIXED);
    owl_part *p = open_ok(path, &span_schema);
    owl_error e;
    cr_assert_eq(owl_part_verify(p, &e), OWL_OK, "%s", e.msg);
    static const size_t parent[] = {S_PARENT}, span[] = {S_SPAN}, both[] = {S_PARENT, S_SPAN},
                        rev[] = {S_SPAN, S_PARENT}, all[] = {0, 1, 2, 3, 4, 5, 6};
    for (size_t b = 0; b < (N + BR - 1) / BR; b++) {
        check_cols(p, &d, b, BR, parent, 1);
        check_cols(p, &d, b, BR, span, 1);
        check_cols(p, &d, b, BR, both, 2);
        check_cols(p, &d, b, BR, rev, 2);
        check_cols(p, &d, b, BR, all, S_NCOLS);
    }
    /* one block data reused from block to block, as scans do */
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    for (size_t b = 0; b < (N + BR - 1) / BR; b++) {
        cr_assert_eq(owl_part_read_block(p, b, parent, 1, &bd, &e), OWL_OK, "%s", e.msg);
        for (size_t i = 0; i < bd.nrows; i++)
            cr_assert(cell_eq(OWL_TYPE_ID8, &bd.cells[S_PARENT][i], &d.c[S_PARENT][b * BR + i]));
    }
    owl_block_data_free(&bd);
    owl_part_close(p);
    /* a schema whose references chain, point at another type or at the column itself is
     * refused by the writer */
    owl_coldef bad[S_NCOLS];
    owl_schema bs = span_schema;
    bs.cols = bad;
    static const unsigned refs[][2] = {{S_SPAN, 1 + S_PARENT}, {S_PARENT, 1 + S_TRACE},
                                       {S_PARENT, 1 + S_PARENT}, {S_PARENT, 1 + S_NCOLS},
                                       {S_NAME, 1 + S_SPAN}};
    for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
        memcpy(bad, span_cols, sizeof bad);
        bad[refs[k][0]].ref = refs[k][1];
        owl_rows rows = ds_rows(&d, 0, N);
        char *x = part_path(dir, "bad.owp");
        cr_assert_eq(owl_part_write(x, &bs, &info_default, &rows, BR, 3, NULL, &e), OWL_EINVAL,
                     "case %zu", k);
        free(x);
    }
    free(path);
    ds_free(&d);
    test_rm_rf(dir);
}

/* Replaces the first `from` of block 0's off or len array (the value of column c) by the
 * value column c2 has: the chunk of c becomes c2's. */
static void point_chunk(const char *path, size_t c, size_t c2)
{
    uint64_t off, off2;
    uint32_t len, len2;
    char from[128], to[128];
    chunk_pos(path, 0, c, &off, &len);
    chunk_pos(path, 0, c2, &off2, &len2);
    snprintf(from, sizeof from, "{ \"$numberLong\" : \"%llu\" }", (unsigned long long)off);
    snprintf(to, sizeof to, "{ \"$numberLong\" : \"%llu\" }", (unsigned long long)off2);
    patch_footer(path, from, to);
    /* the len array follows the off array: the first such value after "len" */
    bson_t *doc = read_footer(path);
    char *json = bson_as_canonical_extended_json(doc, NULL);
    char *at = strstr(json, "\"len\" : [ ");
    cr_assert_not_null(at);
    for (size_t k = 0; k < c; k++)
        at = strchr(at + 1, '}');
    snprintf(from, sizeof from, "{ \"$numberInt\" : \"%u\" }", len);
    char *v = strstr(at, from);
    cr_assert_not_null(v);
    /* patch_footer replaces the first occurrence: make ours the first by its prefix */
    char key[256];
    size_t pre = (size_t)(v - json) > 60 ? 60 : (size_t)(v - json);
    snprintf(key, sizeof key, "%.*s%s", (int)pre, v - pre, from);
    snprintf(to, sizeof to, "%.*s{ \"$numberInt\" : \"%u\" }", (int)pre, v - pre, len2);
    bson_free(json);
    bson_destroy(doc);
    patch_footer(path, key, to);
}

/* Crafted parts: a reference column of another width, and a chain (the column referenced
 * references one itself) are corrupt, whichever columns the read asks for. */
Test(part, id_references_refused)
{
    char *dir = test_tmpdir("part");
    struct ds d;
    rng = 62;
    enum { N = 300 };
    gen_spans(&d, N);
    char *good = part_path(dir, "g.owp");
    write_ok(good, &span_schema, &d, 0, N, N, 3);
    cr_assert_eq(chunk_tag(good, 0, S_PARENT), OWL_ENC_IDREF);
    cr_assert_eq(chunk_tag(good, 0, S_Y), OWL_ENC_IDREF);
    owl_error e;
    static const size_t parent[] = {S_PARENT}, all[] = {0, 1, 2, 3, 4, 5, 6};
    /* span_id said to be ID16 in the footer, its chunk trace_id's (which decodes as ID16):
     * parent_id's references name a column of another width */
    char *x = fresh_copy(dir, good);
    point_chunk(x, S_SPAN, S_TRACE);
    patch_footer(x, "{ \"name\" : \"span_id\", \"type\" : { \"$numberInt\" : \"7\" }",
                 "{ \"name\" : \"span_id\", \"type\" : { \"$numberInt\" : \"8\" }");
    owl_part *p = open_ok(x, NULL);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    static const size_t span[] = {S_SPAN};
    cr_assert_eq(owl_part_read_block(p, 0, span, 1, &bd, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(owl_part_read_block(p, 0, parent, 1, &bd, &e), OWL_ECORRUPT);
    cr_assert_eq(owl_part_verify(p, &e), OWL_ECORRUPT);
    owl_part_close(p);
    free(x);
    /* x's chunk replaced by y's (which references x): y's references now chain through x */
    x = fresh_copy(dir, good);
    point_chunk(x, S_X, S_Y);
    p = open_ok(x, &span_schema);
    static const size_t y[] = {S_Y}, xy[] = {S_X, S_Y}, xonly[] = {S_X};
    cr_assert_eq(owl_part_read_block(p, 0, y, 1, &bd, &e), OWL_ECORRUPT);
    cr_assert_eq(bd.nrows, 0);
    cr_assert_null(bd.cells[S_X]);
    cr_assert_null(bd.cells[S_Y]);
    cr_assert_eq(owl_part_read_block(p, 0, xy, 2, &bd, &e), OWL_ECORRUPT);
    cr_assert_eq(owl_part_read_block(p, 0, all, S_NCOLS, &bd, &e), OWL_ECORRUPT);
    /* x's chunk references itself now: refused alone too */
    cr_assert_eq(owl_part_read_block(p, 0, xonly, 1, &bd, &e), OWL_ECORRUPT);
    /* the columns that do not touch them still read */
    cr_assert_eq(owl_part_read_block(p, 0, parent, 1, &bd, &e), OWL_OK, "%s", e.msg);
    owl_block_data_free(&bd);
    owl_part_close(p);
    free(x);
    /* the chunk of x made parent_id's (references span_id): y -> x -> span_id chains */
    x = fresh_copy(dir, good);
    point_chunk(x, S_X, S_PARENT);
    p = open_ok(x, &span_schema);
    cr_assert_eq(owl_part_read_block(p, 0, y, 1, &bd, &e), OWL_ECORRUPT);
    cr_assert_eq(owl_part_read_block(p, 0, all, S_NCOLS, &bd, &e), OWL_ECORRUPT);
    cr_assert_eq(owl_part_read_block(p, 0, xonly, 1, &bd, &e), OWL_OK, "%s", e.msg);
    owl_block_data_free(&bd);
    owl_part_close(p);
    free(x);
    free(good);
    ds_free(&d);
    test_rm_rf(dir);
}

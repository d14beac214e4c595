/* fuzz_part.c — libFuzzer target for the part reader (index/part.c). A small valid part of
 * every column type is written once; each input then damages a copy of it, which is opened
 * (with and without a schema, and with an evolved schema that drops, adds and reorders
 * columns), verified, read block by block and pruned against a few predicates. Nothing may
 * crash or leak, and a file that opens must answer every call with OWL_OK or an error code.
 * Trace ids repeat and "parent" holds other rows' span ids, so their chunks are IDREF (runs,
 * and references to the span column, which reads need decoded first).
 * First input byte selects the damage (mod 3):
 *   0  the rest is (u16 offset, u8 xor mask) triples applied anywhere in the file
 *   1  the rest replaces the footer, with a correct trailer and checksum (reaches the BSON
 *      checks behind the crc)
 *   2  next byte picks a chunk; the rest becomes its raw content, stored uncompressed with a
 *      correct checksum and the chunk's length kept (reaches the column decoders) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "index/encode.h"
#include "index/part.h"

enum { C_TIME, C_I, C_U, C_F, C_LEVEL, C_MSG, C_SPAN, C_TRACE, C_ATTRS, C_PARENT, NCOLS };

static const owl_coldef cols[NCOLS] = {
    {"time", OWL_TYPE_TIME, 0},
    {"i", OWL_TYPE_I64, OWL_COL_BLOOM},
    {"u", OWL_TYPE_U64, 0},
    {"f", OWL_TYPE_F64, 0},
    {"level", OWL_TYPE_DICT, OWL_COL_BLOOM},
    {"msg", OWL_TYPE_STR, OWL_COL_TOKENS},
    {"span", OWL_TYPE_ID8, 0},
    {"trace", OWL_TYPE_ID16, OWL_COL_BLOOM},
    {"attrs", OWL_TYPE_BSON, 0},
    {"parent", OWL_TYPE_ID8, 0, 1 + C_SPAN},
};
static const owl_schema schema = {"events", cols, NCOLS, C_TIME, 1000};

/* The same table after schema evolution: "u" and "span" dropped (so "parent" references a
 * column the schema lacks), "extra" and "note" added, the rest reordered. Opening with it
 * maps the file's columns by name (docs/storage.md). */
enum { E_NOTE, E_MSG, E_TIME, E_EXTRA, E_LEVEL, E_I, E_TRACE, E_PARENT, NECOLS };
static const owl_coldef ecols[NECOLS] = {
    {"note", OWL_TYPE_STR, OWL_COL_TOKENS}, {"msg", OWL_TYPE_STR, OWL_COL_TOKENS},
    {"time", OWL_TYPE_TIME, 0},             {"extra", OWL_TYPE_I64, OWL_COL_BLOOM},
    {"level", OWL_TYPE_DICT, OWL_COL_BLOOM}, {"i", OWL_TYPE_I64, OWL_COL_BLOOM},
    {"trace", OWL_TYPE_ID16, OWL_COL_BLOOM}, {"parent", OWL_TYPE_ID8, 0},
};
static const owl_schema evolved = {"events", ecols, NECOLS, E_TIME, 1000};

#define ROWS 40
#define BLOCK_ROWS 16

static char dir[64], path[96];
static uint8_t *base;
static size_t base_len;
static uint64_t footer_off;
#define MAX_CHUNKS 64
static size_t chunk_off[MAX_CHUNKS], chunk_len[MAX_CHUNKS], nchunks;

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes the base part (deterministic rows) and keeps its bytes. */
static void init(void)
{
    static const char *msgs[] = {"GET /api/v1/users took 12ms", "db timeout: retry=3",
                                 "cache miss key=user:42", "", "payment ok id=7f3a"};
    static const char *levels[] = {"INFO", "WARN", "ERROR"};
    static owl_cell c[NCOLS][ROWS];
    static uint8_t ids[ROWS][24];
    bson_t *doc = BCON_NEW("k", BCON_INT32(1));
    snprintf(dir, sizeof dir, "/dev/shm/owl-fuzz-part-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/p.owp", dir);
    atexit(cleanup);
    for (size_t r = 0; r < ROWS; r++) {
        c[C_TIME][r].i = 1000 + (int64_t)r * 7 - (int64_t)(r % 3);
        if (r && c[C_TIME][r].i < c[C_TIME][r - 1].i)
            c[C_TIME][r].i = c[C_TIME][r - 1].i;
        c[C_I][r].i = (int64_t)(r * r) - 300;
        c[C_U][r].u = r % 5 == 0 ? UINT64_MAX - r : r * 11;
        c[C_F][r].f = (double)r / 4.0 - 3.0;
        c[C_LEVEL][r].b = (owl_bytes){levels[r % 3], strlen(levels[r % 3])};
        c[C_MSG][r].b = (owl_bytes){msgs[r % 5], strlen(msgs[r % 5])};
        for (int k = 0; k < 24; k++)
            ids[r][k] = (uint8_t)(r * 31 + (size_t)k * 7);
        c[C_SPAN][r].b = (owl_bytes){ids[r], 8};
        c[C_TRACE][r].b = (owl_bytes){ids[r - r % 5] + 8, 16};
        c[C_PARENT][r].b = (owl_bytes){ids[r % 5 ? r - r % 5 : r / 2], 8};
        c[C_ATTRS][r].b = r % 2 ? (owl_bytes){bson_get_data(doc), doc->len} : (owl_bytes){0};
    }
    owl_rows rows = {.nrows = ROWS};
    for (size_t k = 0; k < NCOLS; k++)
        rows.cols[k] = c[k];
    owl_part_info info = {"events", "t", "p", 0, 1, 0, 1};
    char *data = NULL;
    if (owl_part_write(path, &schema, &info, &rows, BLOCK_ROWS, 3, NULL, NULL) != OWL_OK ||
        owl_read_file(path, 1 << 20, &data, &base_len, NULL) != OWL_OK)
        abort();
    base = (uint8_t *)data;
    footer_off = get64(base + base_len - 24);
    bson_destroy(doc);
    /* chunks are contiguous from offset 16 in block-major order: their lengths (bytes read
     * per single-column block read, less the chunk of the column a reference column reads
     * as well) give their offsets */
    owl_part *p = NULL;
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    if (owl_part_open(path, &schema, &p, NULL) != OWL_OK)
        abort();
    size_t off = 16;
    for (size_t b = 0; b < owl_part_get_meta(p)->nblocks; b++) {
        size_t len[NCOLS];
        for (size_t k = 0; k < NCOLS && nchunks < MAX_CHUNKS; k++) {
            bd.bytes_read = 0;
            if (owl_part_read_block(p, b, &k, 1, &bd, NULL) != OWL_OK)
                abort();
            len[k] = (size_t)bd.bytes_read - (cols[k].ref ? len[cols[k].ref - 1] : 0);
            chunk_off[nchunks] = off;
            chunk_len[nchunks++] = len[k];
            off += len[k];
        }
    }
    if (off != footer_off)
        abort();
    owl_block_data_free(&bd);
    owl_part_close(p);
}

static void put_file(const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* Mode 1: base chunks + d as the footer + a matching trailer. */
static void with_footer(owl_buf *f, const uint8_t *d, size_t n)
{
    uint8_t tr[24];
    owl_buf_append(f, base, (size_t)footer_off);
    owl_buf_append(f, d, n);
    for (int i = 0; i < 8; i++)
        tr[i] = (uint8_t)(footer_off >> (8 * i));
    put32(tr + 8, (uint32_t)n);
    put32(tr + 12, owl_crc32c(0, d, n));
    memcpy(tr + 16, "OWLPEND", 8);
    owl_buf_append(f, tr, sizeof tr);
}

/* Mode 2: chunk `which` (block-major file order) replaced by a stored chunk holding d. */
static int with_chunk(owl_buf *f, uint8_t which, const uint8_t *d, size_t n)
{
    size_t k = which % nchunks, off = chunk_off[k], len = chunk_len[k];
    owl_buf_append(f, base, base_len);
    /* stored chunk: codec 0, crc, varint raw length r, r raw bytes; total exactly len */
    for (size_t r = len; r-- > 0;) {
        uint8_t v[10];
        size_t vl = owl_varint_put(v, r);
        if (5 + vl + r != len)
            continue;
        uint8_t *o = (uint8_t *)f->data + off;
        o[0] = 0;
        memcpy(o + 5, v, vl);
        for (size_t i = 0; i < r; i++)
            o[5 + vl + i] = i < n ? d[i] : 0;
        put32(o + 1, owl_crc32c(0, o + 5, len - 5));
        return 1;
    }
    return 0;
}

/* Opens the file under the evolved schema and reads, verifies and prunes every block. */
static void exercise_evolved(void)
{
    owl_part *p = NULL;
    owl_error e;
    if (owl_part_open(path, &evolved, &p, &e) != OWL_OK)
        return;
    (void)owl_part_verify(p, &e);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t all[NECOLS];
    for (size_t c = 0; c < NECOLS; c++)
        all[c] = c;
    owl_pred preds[] = {
        {.col = E_EXTRA, .op = OWL_PRED_EQ, .lo.i = 0},
        {.col = E_NOTE, .op = OWL_PRED_TOKEN, .text = {"timeout", 7}},
        {.col = E_MSG, .op = OWL_PRED_TOKEN, .text = {"timeout", 7}},
        {.col = E_I, .op = OWL_PRED_RANGE, .lo.i = -5, .hi.i = 5},
    };
    for (size_t b = 0; b < owl_part_get_meta(p)->nblocks; b++) {
        int may;
        for (size_t k = 0; k < OWL_ARRAY_LEN(preds); k++)
            (void)owl_part_block_may_match(p, b, INT64_MIN, INT64_MAX, &preds[k], 1);
        (void)owl_part_block_text_may(p, b, E_NOTE, &preds[1].text, &bd, &may, &e);
        if (owl_part_read_block(p, b, all, NECOLS, &bd, &e) == OWL_OK) {
            volatile uint8_t sink = 0;
            for (size_t c = 0; c < NECOLS; c++)
                for (size_t r = 0; r < bd.nrows; r++)
                    if (ecols[c].type >= OWL_TYPE_DICT && bd.cells[c][r].b.n)
                        sink ^= ((const uint8_t *)bd.cells[c][r].b.p)[bd.cells[c][r].b.n - 1];
            (void)sink;
        }
    }
    owl_block_data_free(&bd);
    owl_part_close(p);
}

static void exercise(void)
{
    owl_part *p = NULL;
    owl_error e;
    /* without a schema the footer alone describes the columns */
    if (owl_part_open(path, NULL, &p, &e) == OWL_OK)
        (void)owl_part_verify(p, &e);
    owl_part_close(p);
    p = NULL;
    if (owl_part_open(path, &schema, &p, &e) != OWL_OK)
        return;
    const owl_part_meta *m = owl_part_get_meta(p);
    (void)owl_part_verify(p, &e);
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t all[NCOLS];
    for (size_t c = 0; c < NCOLS; c++)
        all[c] = c;
    static const uint8_t tid[16] = {1, 2, 3};
    owl_cell set[2] = {{.i = 5}, {.i = -300}};
    owl_pred preds[] = {
        {.col = C_MSG, .op = OWL_PRED_TOKEN, .text = {"timeout", 7}},
        {.col = C_MSG, .op = OWL_PRED_SUBSTR, .text = {"a key=user:4", 12}},
        {.col = C_TRACE, .op = OWL_PRED_EQ, .lo.b = {tid, 16}},
        {.col = C_I, .op = OWL_PRED_IN, .set = set, .nset = 2},
        {.col = C_U, .op = OWL_PRED_RANGE, .lo.u = 10, .hi.u = 100},
        {.col = C_F, .op = OWL_PRED_RANGE, .lo.f = -1.0, .hi.f = 2.0},
        {.col = C_LEVEL, .op = OWL_PRED_EQ, .lo.b = {"WARN", 4}},
    };
    for (size_t b = 0; b < m->nblocks; b++) {
        size_t rows;
        int64_t lo, hi;
        owl_part_block(p, b, &rows, &lo, &hi);
        for (size_t k = 0; k < OWL_ARRAY_LEN(preds); k++)
            (void)owl_part_block_may_match(p, b, lo, hi + 1, &preds[k], 1);
        if (owl_part_read_block(p, b, all, NCOLS, &bd, &e) == OWL_OK) {
            /* touch every decoded value so a bad pointer shows up under ASan */
            volatile uint8_t sink = 0;
            for (size_t c = 0; c < NCOLS; c++)
                for (size_t r = 0; r < bd.nrows; r++)
                    if (cols[c].type >= OWL_TYPE_DICT && bd.cells[c][r].b.n)
                        sink ^= ((const uint8_t *)bd.cells[c][r].b.p)[bd.cells[c][r].b.n - 1];
            (void)sink;
        }
    }
    owl_block_data_free(&bd);
    owl_part_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!base)
        init();
    if (n < 1)
        return 0;
    owl_buf f = OWL_BUF_INIT;
    switch (d[0] % 3) {
    case 0:
        owl_buf_append(&f, base, base_len);
        for (size_t i = 1; i + 3 <= n; i += 3) {
            size_t off = ((size_t)d[i] | (size_t)d[i + 1] << 8) % base_len;
            f.data[off] ^= (char)d[i + 2];
        }
        break;
    case 1:
        with_footer(&f, d + 1, n - 1);
        break;
    default:
        if (n < 2 || !with_chunk(&f, d[1], d + 2, n - 2)) {
            owl_buf_free(&f);
            return 0;
        }
        break;
    }
    put_file((const uint8_t *)f.data, f.len);
    owl_buf_free(&f);
    exercise();
    exercise_evolved();
    return 0;
}

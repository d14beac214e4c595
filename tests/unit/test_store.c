/* test_store.c — the columnar store end to end (index/store.c over wal.c, part.c): appends
 * and scans with read-your-writes, predicates, reopen, retention, compaction, kill -9
 * recovery, corruption quarantine, torn WAL tails and a full disk. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "common/hash.h"
#include "common/util.h"
#include "index/encode.h"
#include "index/index.h"
#include "index/store_int.h"
#include "index/wal.h"
#include "tests/unit/testfs.h"

static const owl_schema *const schemas[] = {&owl_logs_schema};
static char tmp[64];

static void mkroot(void)
{
    strcpy(tmp, "/tmp/owl-store-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rmroot(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_assert_eq(system(cmd), 0);
}

static owl_store_options opts(int background)
{
    owl_store_options o = {
        .sync = OWL_SYNC_ALWAYS, .sync_interval_ms = 100, .memtable_rows = 100000,
        .memtable_bytes = 64u << 20, .memtable_age_ms = 1 << 30, .block_rows = 256,
        .zstd_level = 1, .compact_zstd_level = 3, .compact_min_parts = 4,
        .background = background,
    };
    return o;
}

static owl_store *open_store(const char *dir, int background)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(background);
    cr_assert_eq(owl_store_open(dir, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

/* One logs row in b (the other columns at their defaults). */
static void add_log(owl_rowbuf *b, int64_t t, int64_t ingest, const char *stream,
                    const char *msg, size_t n)
{
    cr_assert_eq(owl_rowbuf_begin_row(b), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_i64(b, OWL_LOGS_TIME, t), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_i64(b, OWL_LOGS_INGEST_TIME, ingest), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(b, OWL_LOGS_STREAM, stream, strlen(stream)), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(b, OWL_LOGS_MESSAGE, msg, n), OWL_OK);
    cr_assert_eq(owl_rowbuf_end_row(b), OWL_OK);
}

/* Appends n rows numbered from seq (ingest_time = seq, message "row <seq> <word>"). */
static int append_rows(owl_store *s, const char *partition, int64_t t0, int64_t step,
                       int64_t seq, size_t n, owl_error *err)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta"};
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    char msg[128];
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(msg, sizeof msg, "row %lld %s user=u%lld", (long long)(seq + (int64_t)i),
                           words[(seq + (int64_t)i) % 4], (long long)((seq + (int64_t)i) % 7));
        add_log(&b, t0 + (int64_t)i * step, seq + (int64_t)i,
                (seq + (int64_t)i) % 2 ? "odd" : "even", msg, (size_t)len);
    }
    int rc = owl_store_append(s, "logs", "000000000001", partition, owl_rowbuf_rows(&b), err);
    owl_rowbuf_free(&b);
    return rc;
}

struct collect {
    size_t n;
    int64_t *seqs;
    size_t cap;
};

static int collect_fn(void *ud, const owl_batch *b)
{
    struct collect *c = ud;
    for (size_t i = 0; i < b->nrows; i++) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->seqs = realloc(c->seqs, c->cap * sizeof *c->seqs);
        }
        c->seqs[c->n++] = b->cols[0][i].i;
    }
    return 0;
}

static size_t scan_seqs(owl_store *s, const char *partition, const owl_pred *preds, size_t np,
                        int64_t start, int64_t end, struct collect *c)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_MESSAGE};
    const char *parts[] = {partition};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .partitions = partition ? parts : NULL,
                  .npartitions = partition ? 1 : 0, .start = start, .end = end, .cols = cols,
                  .ncols = 2, .preds = preds, .npreds = np, .fn = collect_fn, .ud = c};
    owl_error err = {0};
    memset(c, 0, sizeof *c);
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    return c->n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static const int64_t T0 = 1795219200000LL; /* 2026-11-21T00:00:00Z */
static const int64_t DAY = 86400000LL;

static int one_partition(void *ud, const owl_store_table_stats *t)
{
    if (!strcmp(t->partition, "p"))
        *(owl_store_table_stats *)ud = *t;
    return 0;
}

/* A memtable's chunks: rows 0.. in order, each chunk's rows contiguous, 1K-16K rows
 * doubling, then 32 chunks of 16K, then doubling again from 32K; every row past 600,000 of
 * them reachable within MEM_MAX_CHUNKS. */
Test(store, memtable_chunks_tile_the_rows)
{
    size_t k0, off0, rows0;
    cr_assert_eq(mem_chunk_of(0, &off0, &rows0), 0);
    cr_assert_eq(off0, 0);
    cr_assert_eq(rows0, MEM_CHUNK0);
    size_t want_rows[MEM_MAX_CHUNKS];
    for (size_t k = 0; k < MEM_MAX_CHUNKS; k++)
        want_rows[k] = k < 5 ? (size_t)1024 << k : k < 37 ? 16384 : (size_t)32768 << (k - 37);
    k0 = 0;
    for (size_t r = 1; r < 3000000; r++) {
        size_t off, rows, k = mem_chunk_of(r, &off, &rows);
        if (off0 + 1 < rows0)
            cr_assert(k == k0 && off == off0 + 1 && rows == rows0, "row %zu: chunk %zu at %zu",
                      r, k, off);
        else
            cr_assert(k == k0 + 1 && off == 0, "row %zu: chunk %zu at %zu after %zu", r, k,
                      off, k0);
        cr_assert_eq(rows, want_rows[k], "chunk %zu: %zu rows", k, rows);
        k0 = k, off0 = off, rows0 = rows;
    }
    size_t off, rows;
    cr_assert_lt(mem_chunk_of((size_t)1 << 40, &off, &rows), MEM_MAX_CHUNKS);
}

/* Rows across the chunks' steps (1K-row to 16K-row chunks at 31,744, to 32K ones at 556,032)
 * come back whole from the memtable and from its seal. */
Test(store, memtable_rows_across_chunk_steps, .init = mkroot, .fini = rmroot)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.memtable_rows = 1000000; /* all of them in one memtable */
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    const size_t total = 600000, batch = 7000;
    for (size_t at = 0; at < total; at += batch) {
        size_t n = total - at < batch ? total - at : batch;
        cr_assert_eq(append_rows(s, "p", T0 + (int64_t)at, 1, (int64_t)at, n, &err), OWL_OK,
                     "%s", err.msg);
    }
    owl_store_table_stats st = {0};
    cr_assert_eq(owl_store_partitions(s, one_partition, &st, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(st.parts, 0, "sealed before the scan: %llu parts", (unsigned long long)st.parts);
    for (int sealed = 0; sealed < 2; sealed++) {
        struct collect c;
        cr_assert_eq(scan_seqs(s, "p", NULL, 0, T0, T0 + DAY, &c), total);
        qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
        for (size_t i = 0; i < c.n; i++)
            cr_assert_eq(c.seqs[i], (int64_t)i, "%s: row %zu", sealed ? "part" : "memtable", i);
        free(c.seqs);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    }
    owl_store_close(s);
}

Test(store, append_scan_reopen, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "g1", T0, 1000, 0, 1000, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(append_rows(s, "g1", T0 + DAY, 1000, 1000, 500, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "g2", T0, 1, 5000, 10, &err), OWL_OK);
    struct collect c;
    /* read-your-writes: nothing sealed yet */
    cr_assert_eq(scan_seqs(s, "g1", NULL, 0, INT64_MIN, INT64_MAX, &c), 1500);
    free(c.seqs);
    cr_assert_eq(scan_seqs(s, NULL, NULL, 0, INT64_MIN, INT64_MAX, &c), 1510);
    free(c.seqs);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(scan_seqs(s, "g1", NULL, 0, INT64_MIN, INT64_MAX, &c), 1500);
    qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.seqs[i], (int64_t)i);
    free(c.seqs);
    /* time range: only day two */
    cr_assert_eq(scan_seqs(s, "g1", NULL, 0, T0 + DAY, T0 + 2 * DAY, &c), 500);
    free(c.seqs);
    owl_store_close(s);
    s = open_store(tmp, 0);
    cr_assert_eq(scan_seqs(s, "g1", NULL, 0, INT64_MIN, INT64_MAX, &c), 1500);
    free(c.seqs);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.rows, 1510);
    cr_assert_geq(st.parts, 3);
    owl_store_close(s);
}

/* A block wholly inside a scan's time range keeps every row without testing them
 * (filter_rows' shortcut by the footer's bounds): 3,000 rows a millisecond apart in blocks of
 * 256, scanned in each order over ranges whose bounds fall inside blocks, on their first and
 * last rows and around them, return exactly the rows in range. */
Test(store, block_bounds_and_scan_ranges, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "g1", T0, 1, 0, 3000, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    static const int64_t edges[][2] = {{0, 3000}, {1, 2999},   {255, 257}, {256, 512},
                                       {255, 768}, {257, 511}, {0, 256},   {2800, 4000},
                                       {-5, 1},   {100, 101}, {511, 1024}, {768, 769}};
    static const enum owl_order orders[] = {OWL_ORDER_NONE, OWL_ORDER_ASC, OWL_ORDER_DESC};
    size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_MESSAGE};
    const char *parts[] = {"g1"};
    for (size_t e = 0; e < sizeof edges / sizeof *edges; e++)
        for (size_t o = 0; o < 3; o++) {
            struct collect c = {0};
            owl_scan q = {.table = "logs", .tenant = "000000000001", .partitions = parts,
                          .npartitions = 1, .start = T0 + edges[e][0], .end = T0 + edges[e][1],
                          .cols = cols, .ncols = 2, .fn = collect_fn, .ud = &c,
                          .order = orders[o]};
            cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
            int64_t lo = edges[e][0] < 0 ? 0 : edges[e][0];
            int64_t hi = edges[e][1] > 3000 ? 3000 : edges[e][1];
            cr_assert_eq((int64_t)c.n, hi - lo, "[%lld, %lld) order %zu: %zu rows",
                         (long long)edges[e][0], (long long)edges[e][1], o, c.n);
            qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
            for (size_t i = 0; i < c.n; i++)
                cr_assert_eq(c.seqs[i], lo + (int64_t)i);
            free(c.seqs);
        }
    owl_store_close(s);
}

/* A seal copies row 0's cell for a column every row agrees on and gathers the others: a
 * column equal in a whole first append and different in one row of the next, another equal
 * in every row (equal bytes at different addresses), rows out of time order over three
 * memtable chunks. */
struct cells_seen {
    size_t n;
    int64_t ingest[3000];
    char stream[3000][8], severity[3000][8];
    int row[3000];
};

static int cells_fn(void *ud, const owl_batch *b)
{
    struct cells_seen *c = ud;
    for (size_t i = 0; i < b->nrows && c->n < 3000; i++, c->n++) {
        c->ingest[c->n] = b->cols[0][i].i;
        snprintf(c->stream[c->n], 8, "%.*s", (int)b->cols[1][i].b.n, (const char *)b->cols[1][i].b.p);
        snprintf(c->severity[c->n], 8, "%.*s", (int)b->cols[2][i].b.n,
                 (const char *)b->cols[2][i].b.p);
        cr_assert_eq(sscanf((const char *)b->cols[3][i].b.p, "row %d", &c->row[c->n]), 1);
    }
    return 0;
}

static void expect_cells(owl_store *s)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_STREAM, OWL_LOGS_SEVERITY, OWL_LOGS_MESSAGE};
    struct cells_seen c = {0};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN, .end = INT64_MAX,
                  .cols = cols, .ncols = 4, .fn = cells_fn, .ud = &c};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(c.n, 3000);
    char seen[3000] = {0};
    for (size_t i = 0; i < c.n; i++) {
        cr_assert(c.row[i] >= 0 && c.row[i] < 3000 && !seen[c.row[i]], "row %d", c.row[i]);
        seen[c.row[i]] = 1;
        int odd = c.row[i] == 2150;
        cr_assert_eq(c.ingest[i], odd ? 8 : 7, "row %d", c.row[i]);
        cr_assert_str_eq(c.stream[i], odd ? "other" : "same", "row %d", c.row[i]);
        cr_assert_str_eq(c.severity[i], "INFO", "row %d", c.row[i]);
    }
}

Test(store, seal_keeps_columns_equal_in_every_row_and_in_some, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    for (int part = 0; part < 2; part++) {
        owl_rowbuf b;
        owl_rowbuf_init(&b, &owl_logs_schema);
        for (int i = 1500 * part; i < 1500 * part + 1500; i++) {
            char msg[32], sev[8];
            int len = snprintf(msg, sizeof msg, "row %d", i);
            strcpy(sev, "INFO");
            cr_assert_eq(owl_rowbuf_begin_row(&b), OWL_OK);
            cr_assert_eq(owl_rowbuf_set_i64(&b, OWL_LOGS_TIME, T0 + (3000 - i) * 1000), OWL_OK);
            cr_assert_eq(owl_rowbuf_set_i64(&b, OWL_LOGS_INGEST_TIME, i == 2150 ? 8 : 7), OWL_OK);
            const char *st = i == 2150 ? "other" : "same";
            cr_assert_eq(owl_rowbuf_set_bytes(&b, OWL_LOGS_STREAM, st, strlen(st)), OWL_OK);
            cr_assert_eq(owl_rowbuf_set_bytes(&b, OWL_LOGS_SEVERITY, sev, 4), OWL_OK);
            cr_assert_eq(owl_rowbuf_set_bytes(&b, OWL_LOGS_MESSAGE, msg, (size_t)len), OWL_OK);
            cr_assert_eq(owl_rowbuf_end_row(&b), OWL_OK);
        }
        cr_assert_eq(owl_store_append(s, "logs", "000000000001", "g", owl_rowbuf_rows(&b), &err),
                     OWL_OK, "%s", err.msg);
        owl_rowbuf_free(&b);
    }
    expect_cells(s); /* the memtable */
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.parts, 1);
    expect_cells(s); /* the sealed part */
    owl_store_close(s);
}

Test(store, predicates, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "g", T0, 10, 0, 2000, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "g", T0 + 20000, 10, 2000, 100, &err), OWL_OK); /* memtable */
    struct collect c;
    owl_pred eq = {.col = OWL_LOGS_STREAM, .op = OWL_PRED_EQ, .lo.b = {"odd", 3}};
    cr_assert_eq(scan_seqs(s, "g", &eq, 1, INT64_MIN, INT64_MAX, &c), 1050);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.seqs[i] % 2, 1);
    free(c.seqs);
    owl_pred tok = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"bravo", 5}};
    cr_assert_eq(scan_seqs(s, "g", &tok, 1, INT64_MIN, INT64_MAX, &c), 525);
    free(c.seqs);
    owl_pred tok2 = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"row 1234", 8}};
    cr_assert_eq(scan_seqs(s, "g", &tok2, 1, INT64_MIN, INT64_MAX, &c), 1);
    cr_assert_eq(c.seqs[0], 1234);
    free(c.seqs);
    owl_pred whole = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"brav", 4}};
    cr_assert_eq(scan_seqs(s, "g", &whole, 1, INT64_MIN, INT64_MAX, &c), 0);
    free(c.seqs);
    owl_pred sub = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_SUBSTR, .text = {"rav", 3}};
    cr_assert_eq(scan_seqs(s, "g", &sub, 1, INT64_MIN, INT64_MAX, &c), 525);
    free(c.seqs);
    owl_pred range = {.col = OWL_LOGS_INGEST_TIME, .op = OWL_PRED_RANGE, .lo.i = 100, .hi.i = 2050};
    cr_assert_eq(scan_seqs(s, "g", &range, 1, INT64_MIN, INT64_MAX, &c), 1950);
    free(c.seqs);
    owl_cell set[] = {{.i = 5}, {.i = 7}, {.i = 2099}, {.i = 99999}};
    owl_pred in = {.col = OWL_LOGS_INGEST_TIME, .op = OWL_PRED_IN, .set = set, .nset = 4};
    cr_assert_eq(scan_seqs(s, "g", &in, 1, INT64_MIN, INT64_MAX, &c), 3);
    free(c.seqs);
    owl_pred both[] = {eq, tok};
    cr_assert_eq(scan_seqs(s, "g", both, 2, INT64_MIN, INT64_MAX, &c), 525);
    free(c.seqs);
    /* a rare token is found and most blocks are skipped by their blooms */
    owl_scan_stats st;
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_pred rare = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"1777", 4}};
    memset(&c, 0, sizeof c);
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN, .end = INT64_MAX,
                  .cols = cols, .ncols = 1, .preds = &rare, .npreds = 1, .fn = collect_fn, .ud = &c};
    cr_assert_eq(owl_store_scan(s, &q, &st, &err), OWL_OK);
    cr_assert_eq(c.n, 1);
    cr_assert_gt(st.blocks_skipped, st.blocks / 2, "skipped %llu of %llu",
                 (unsigned long long)st.blocks_skipped, (unsigned long long)st.blocks);
    free(c.seqs);
    owl_store_close(s);
}

Test(store, bad_appends, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    owl_rows r = {0};
    cr_assert_eq(owl_store_append(s, "nope", "t", "p", &r, &err), OWL_EINVAL);
    cr_assert_eq(owl_store_append(s, "logs", "", "p", &r, &err), OWL_EINVAL);
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    add_log(&b, T0, T0, "", "x", 1);
    const owl_rows *rows = owl_rowbuf_rows(&b);
    ((owl_cell *)rows->cols[OWL_LOGS_TRACE_ID])[0].b.n = 15;
    cr_assert_eq(owl_store_append(s, "logs", "t", "p", rows, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "trace_id") != NULL, "%s", err.msg);
    ((owl_cell *)rows->cols[OWL_LOGS_TRACE_ID])[0].b.n = 16;
    /* a BSON cell that is no document: refused on append, as a seal (which takes the
     * memtable's rows unchecked) would not write it */
    static const uint8_t bad[2][6] = {{6, 0, 0, 0, 0, 1}, {5, 0, 0, 0, 0, 0}};
    for (int k = 0; k < 2; k++) {
        ((owl_cell *)rows->cols[OWL_LOGS_ATTRS])[0].b = (owl_bytes){bad[k], 6};
        cr_assert_eq(owl_store_append(s, "logs", "t", "p", rows, &err), OWL_EINVAL);
        cr_assert(strstr(err.msg, "attrs row 0: not a BSON document") != NULL, "%s", err.msg);
    }
    owl_rowbuf_free(&b);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "p", NULL, 0, INT64_MIN, INT64_MAX, &c), 0);
    free(c.seqs);
    owl_store_close(s);
}

static size_t count_files(const char *dir, const char *suffix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s -name '*%s' | wc -l", dir, suffix);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f) {
        if (fscanf(f, "%zu", &n) != 1)
            n = 0;
        pclose(f);
    }
    return n;
}

Test(store, retention, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    int64_t now = owl_now_ms();
    cr_assert_eq(append_rows(s, "r", now - 5 * DAY, 1, 0, 100, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "r", now - 2 * DAY, 1, 100, 100, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "r", now - 1000, 1, 200, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(count_files(tmp, ".owp"), 3);
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", 3, &err), OWL_OK);
    /* the same value again writes nothing (RETENTION keeps its inode); another one does */
    char rpath[256];
    struct stat st1, st2;
    snprintf(rpath, sizeof rpath, "%s/logs/000000000001/r/RETENTION", tmp);
    cr_assert_eq(stat(rpath, &st1), 0);
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", 3, &err), OWL_OK);
    cr_assert_eq(stat(rpath, &st2), 0);
    cr_assert_eq(st1.st_ino, st2.st_ino);
    cr_assert(st1.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
              st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", 4, &err), OWL_OK);
    char text[16] = "";
    FILE *rf = fopen(rpath, "r");
    cr_assert_not_null(rf);
    cr_assert_not_null(fgets(text, sizeof text, rf));
    fclose(rf);
    cr_assert_str_eq(text, "4\n");
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", 3, &err), OWL_OK);
    struct collect c;
    /* rows past retention are never returned, even before the janitor runs */
    cr_assert_eq(scan_seqs(s, "r", NULL, 0, INT64_MIN, INT64_MAX, &c), 200);
    free(c.seqs);
    cr_assert_eq(owl_store_retire(s, now, &err), OWL_OK);
    cr_assert_eq(count_files(tmp, ".owp"), 2);
    owl_store_close(s);
    s = open_store(tmp, 0); /* the retention setting is durable */
    cr_assert_eq(scan_seqs(s, "r", NULL, 0, INT64_MIN, INT64_MAX, &c), 200);
    free(c.seqs);
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", -1, &err), OWL_EINVAL);
    owl_store_close(s);
}

Test(store, compaction, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(append_rows(s, "c", T0 + k * 100000, 10, k * 300, 300, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    cr_assert_eq(count_files(tmp, ".owp"), 6);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "c", NULL, 0, INT64_MIN, INT64_MAX, &c), 1800);
    free(c.seqs);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(count_files(tmp, ".owp"), 1);
    cr_assert_eq(scan_seqs(s, "c", NULL, 0, INT64_MIN, INT64_MAX, &c), 1800);
    qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.seqs[i], (int64_t)i);
    free(c.seqs);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1);
    owl_store_close(s);
    s = open_store(tmp, 0);
    cr_assert_eq(scan_seqs(s, "c", NULL, 0, INT64_MIN, INT64_MAX, &c), 1800);
    free(c.seqs);
    owl_store_close(s);
}

/* The part files of partition dir ptn, names only, sorted, joined by spaces. */
static void part_names(const char *ptn, char *out, size_t outsz)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s/logs/000000000001/%s -name '*.owp' -printf '%%f\\n' | sort | tr '\\n' ' '", tmp, ptn);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, outsz - 1, f);
    out[n] = 0;
    pclose(f);
}

/* A merge rewrites every row of its sources: a part of half compact_max_rows is not merged
 * again with each few new parts (before, the day's first run always began with it), and a
 * day still receiving rows (a memtable) merges runs of at most a quarter of the limit. */
Test(store, big_parts_are_not_merged_again_and_hot_days_merge_short_runs, .init = mkroot,
     .fini = rmroot)
{
    owl_store_options o = opts(0);
    o.compact_max_rows = 1000;
    owl_store *s = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    int64_t seq = 0;
    for (int k = 0; k < 4; k++, seq += 250) {
        cr_assert_eq(append_rows(s, "t", T0 + seq * 10, 10, seq, 250, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    char first[512], names[1024];
    part_names("t", first, sizeof first);
    cr_assert_eq(count_files(tmp, ".owp"), 1, "%s", first);
    for (int k = 0; k < 4; k++, seq += 250) {
        cr_assert_eq(append_rows(s, "t", T0 + seq * 10, 10, seq, 250, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_names("t", names, sizeof names);
    cr_assert_eq(count_files(tmp, ".owp"), 2, "%s", names);
    cr_assert_not_null(strstr(names, first), "the 1000-row part %s was rewritten: %s", first,
                       names);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 2);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "t", NULL, 0, INT64_MIN, INT64_MAX, &c), 2000);
    free(c.seqs);

    /* a hot day: four parts of 100 rows and a memtable; runs stop at 250 rows (2 parts) */
    for (int k = 0; k < 4; k++, seq += 100) {
        cr_assert_eq(append_rows(s, "h", T0 + seq * 10, 10, seq, 100, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    cr_assert_eq(append_rows(s, "h", T0 + seq * 10, 10, seq, 10, &err), OWL_OK);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_names("h", names, sizeof names);
    cr_assert_eq(count_files(tmp, ".owp"), 6, "%s", names);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK); /* no memtable: the whole day is one run */
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_names("h", names, sizeof names);
    cr_assert_eq(count_files(tmp, ".owp"), 3, "%s", names);
    cr_assert_eq(scan_seqs(s, "h", NULL, 0, INT64_MIN, INT64_MAX, &c), 410);
    free(c.seqs);
    owl_store_close(s);
}

Test(store, merged_sources_left_by_a_crash_are_removed, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(append_rows(s, "m", T0 + k * 100000, 10, k * 100, 100, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    owl_store_close(s);
    /* keep copies of the sources, compact, then put the copies back: as if owld died after
     * renaming the merged part in but before unlinking its sources */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir %s/keep && cp $(find %s -name 'p-*.owp') %s/keep/", tmp, tmp,
             tmp);
    cr_assert_eq(system(cmd), 0);
    s = open_store(tmp, 0);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    owl_store_close(s);
    snprintf(cmd, sizeof cmd, "cp %s/keep/* $(dirname $(find %s/logs -name 'p-*.owp' | head -1))/",
             tmp, tmp);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/keep", tmp);
    cr_assert_eq(count_files(tmp, ".owp"), 9);
    s = open_store(tmp, 0);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "m", NULL, 0, INT64_MIN, INT64_MAX, &c), 400);
    free(c.seqs);
    owl_store_close(s);
}

/* Text predicates over a sealed block search the block's bytes in one pass: a hit must lie
 * inside one row (never across the boundary between two rows' bytes), TOKEN needs token
 * boundaries inside that row, and a later hit in the same row still counts after an earlier
 * one failed them. The same rows match in the memtable (per-row search) and in the part. */
Test(store, text_predicates_respect_row_boundaries, .init = mkroot, .fini = rmroot)
{
    static const char *msgs[] = {"abc", "def abc", "xabc abc", "abcx", "ab", "c", "", "abc"};
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    for (size_t i = 0; i < OWL_ARRAY_LEN(msgs); i++)
        add_log(&b, T0 + (int64_t)i, (int64_t)i, "s", msgs[i], strlen(msgs[i]));
    cr_assert_eq(owl_store_append(s, "logs", "000000000001", "tb", owl_rowbuf_rows(&b), &err),
                 OWL_OK);
    owl_rowbuf_free(&b);
    struct {
        enum owl_pred_op op;
        const char *text;
        const char *want; /* the matching rows' indexes */
    } cases[] = {
        {OWL_PRED_TOKEN, "abc", "0127"}, {OWL_PRED_SUBSTR, "abc", "01237"},
        {OWL_PRED_SUBSTR, "cdef", ""},   {OWL_PRED_SUBSTR, "abc", "01237"},
        {OWL_PRED_SUBSTR, "bc", "01237"}, {OWL_PRED_TOKEN, "c", "5"},
        {OWL_PRED_SUBSTR, "c", "012357"}, {OWL_PRED_TOKEN, "abcx", "3"},
        {OWL_PRED_SUBSTR, "abcab", ""},  {OWL_PRED_SUBSTR, "xab", "2"},
    };
    for (int sealed = 0; sealed < 2; sealed++) {
        for (size_t k = 0; k < OWL_ARRAY_LEN(cases); k++) {
            owl_pred pr = {.col = OWL_LOGS_MESSAGE, .op = cases[k].op,
                           .text = {cases[k].text, strlen(cases[k].text)}};
            struct collect c;
            if (scan_seqs(s, "tb", &pr, 1, INT64_MIN, INT64_MAX, &c))
                qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
            char got[16] = "";
            for (size_t i = 0; i < c.n && i < 15; i++)
                got[i] = (char)('0' + c.seqs[i]);
            cr_assert_str_eq(got, cases[k].want, "%s %s %s: got rows %s", sealed ? "part" : "memtable",
                             cases[k].op == OWL_PRED_TOKEN ? "token" : "substr", cases[k].text, got);
            free(c.seqs);
        }
        /* a time range and a text predicate together */
        owl_pred pr = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"abc", 3}};
        struct collect c;
        cr_assert_eq(scan_seqs(s, "tb", &pr, 1, T0 + 1, T0 + 7, &c), 2);
        free(c.seqs);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    owl_store_close(s);
}

/* Rows of template-encoded blocks whose template cannot hold a text leaf are left out before
 * they are rebuilt (logtpl.h's judge): every filter shape (a leaf, AND, OR, NOT, TOKEN and
 * SUBSTR, words in the templates, in string values and in none) must select exactly the rows
 * it selects in the memtable, where no template is involved, in unordered and ordered scans. */
static size_t scan_judged(owl_store *s, const owl_filter *f, enum owl_order order,
                          struct collect *c)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    const char *parts[] = {"tj"};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .partitions = parts,
                  .npartitions = 1, .start = INT64_MIN, .end = INT64_MAX, .cols = cols,
                  .ncols = 1, .filter = f, .order = order, .fn = collect_fn, .ud = c};
    owl_error err = {0};
    memset(c, 0, sizeof *c);
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    if (c->n)
        qsort(c->seqs, c->n, sizeof *c->seqs, cmp_i64);
    return c->n;
}

Test(store, template_judged_scans_equal_memtable, .init = mkroot, .fini = rmroot)
{
    static const char *const words[] = {"status", "time", "len", "ERROR", "blk", "user",
                                        "retries", "timeout7", "status: 2", "time: 0.1",
                                        "zzqx", "a", "in from", "7", "GET"};
    enum { NROWS = 3000, NW = sizeof words / sizeof words[0] };
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options so = opts(0);
    so.zstd_level = 9; /* parts written at 9 or above try templates for messages (part.c) */
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &so, &s, &err), OWL_OK, "%s", err.msg);
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NROWS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned a = (unsigned)(x % 1000), c = (unsigned)(x >> 20) % 97;
        char m[160];
        int n;
        switch ((x >> 40) % 7) {
        case 0: n = snprintf(m, sizeof m, "status: %u len: %u time: 0.%u", 200 + c % 5, a, c); break;
        case 1: n = snprintf(m, sizeof m, "GET /v2/%08x/servers HTTP/1.1 status: %u", a * 7919, 200 + c); break;
        case 2: n = snprintf(m, sizeof m, "user%u logged in from 10.0.%u.%u", c, a % 256, c); break;
        case 3: n = snprintf(m, sizeof m, "ERROR block blk_%u missing", a); break;
        case 4: n = snprintf(m, sizeof m, "timeout%u after %u retries", c % 9, a); break;
        case 5: n = snprintf(m, sizeof m, "INFO took %ums", a); break;
        default: n = snprintf(m, sizeof m, "plain words only"); break;
        }
        add_log(&b, T0 + i, i, "s", m, (size_t)n);
    }
    cr_assert_eq(owl_store_append(s, "logs", "000000000001", "tj", owl_rowbuf_rows(&b), &err),
                 OWL_OK);
    owl_rowbuf_free(&b);
    /* the filters: each word as TOKEN and SUBSTR, alone, under NOT, and ORed / ANDed with
     * the next word */
    enum { NF = NW * 2 * 4 };
    static owl_pred preds[NW * 2];
    static owl_filter leaf[NW * 2], kids[NF][2], tree[NF];
    for (int w = 0; w < NW; w++)
        for (int op = 0; op < 2; op++) {
            int k = w * 2 + op;
            preds[k] = (owl_pred){.col = OWL_LOGS_MESSAGE,
                                  .op = op ? OWL_PRED_SUBSTR : OWL_PRED_TOKEN,
                                  .text = {words[w], strlen(words[w])}};
            leaf[k] = (owl_filter){.kind = OWL_FILTER_PRED, .pred = &preds[k]};
        }
    for (int k = 0; k < NW * 2; k++) {
        int o = (k + 2) % (NW * 2);
        tree[4 * k] = leaf[k];
        kids[4 * k + 1][0] = leaf[k];
        tree[4 * k + 1] = (owl_filter){.kind = OWL_FILTER_NOT, .kids = kids[4 * k + 1], .nkids = 1};
        kids[4 * k + 2][0] = leaf[k], kids[4 * k + 2][1] = leaf[o];
        tree[4 * k + 2] = (owl_filter){.kind = OWL_FILTER_OR, .kids = kids[4 * k + 2], .nkids = 2};
        kids[4 * k + 3][0] = leaf[k], kids[4 * k + 3][1] = leaf[(k + 5) % (NW * 2)];
        tree[4 * k + 3] = (owl_filter){.kind = OWL_FILTER_AND, .kids = kids[4 * k + 3], .nkids = 2};
    }
    static struct collect mem[NF];
    size_t some = 0, none = 0;
    for (int f = 0; f < NF; f++) {
        scan_judged(s, &tree[f], OWL_ORDER_NONE, &mem[f]);
        some += mem[f].n > 0 && mem[f].n < NROWS;
        none += mem[f].n == 0;
    }
    cr_assert_gt(some, NF / 2, "%zu of %d filters select some rows but not all", some, NF);
    cr_assert_gt(none, 0);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    for (int f = 0; f < NF; f++)
        for (int ord = 0; ord < 2; ord++) {
            struct collect c;
            scan_judged(s, &tree[f], ord ? OWL_ORDER_ASC : OWL_ORDER_NONE, &c);
            const owl_filter *l = tree[f].kind == OWL_FILTER_PRED ? &tree[f] : &tree[f].kids[0];
            cr_assert_eq(c.n, mem[f].n, "filter %d (kind %d, %s \"%s\"), %s: %zu rows, %zu in the memtable",
                         f, (int)tree[f].kind, l->pred->op == OWL_PRED_TOKEN ? "token" : "substr",
                         (const char *)l->pred->text.p, ord ? "ordered" : "unordered", c.n, mem[f].n);
            for (size_t i = 0; i < c.n; i++)
                cr_assert_eq(c.seqs[i], mem[f].seqs[i], "filter %d row %zu", f, i);
            free(c.seqs);
        }
    for (int f = 0; f < NF; f++)
        free(mem[f].seqs);
    owl_store_close(s);
}

/* ---- spans: sparse cold days merged into one part ---- */

static size_t count_dirs(const char *dir, const char *pattern)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s/logs -mindepth 3 -maxdepth 3 -type d -name '%s' | wc -l",
             dir, pattern);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f) {
        if (fscanf(f, "%zu", &n) != 1)
            n = 0;
        pclose(f);
    }
    return n;
}

static void expect_seqs(owl_store *s, const char *partition, int64_t start, int64_t end,
                        size_t want, int64_t first)
{
    struct collect c;
    cr_assert_eq(scan_seqs(s, partition, NULL, 0, start, end, &c), want, "got %zu rows, want %zu",
                 c.n, want);
    qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.seqs[i], first + (int64_t)i, "row %zu is %lld", i, (long long)c.seqs[i]);
    free(c.seqs);
}

/* 30 old days of 10 rows each and today's rows: compaction leaves one span part for the 30
 * days (their day directories gone) and today's day alone; every scan, before and after a
 * reopen, returns each row once. */
Test(store, sparse_days_merge_into_a_span, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    int64_t now = owl_now_ms(), s0 = (now / DAY - 400) * DAY;
    for (int d = 0; d < 30; d++)
        cr_assert_eq(append_rows(s, "sp", s0 + d * DAY + 3600000, 1000, d * 10, 10, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "sp", now - 1000, 1, 300, 10, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(count_files(tmp, ".owp"), 31);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(count_files(tmp, ".owp"), 2);
    cr_assert_eq(count_files(tmp, "s-*.owp"), 1);
    cr_assert_eq(count_dirs(tmp, "*-*"), 1, "one span directory");
    cr_assert_eq(count_dirs(tmp, "????????"), 1, "only today's day directory is left");
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1);
    cr_assert_eq(st.rows, 310);
    for (int round = 0; round < 2; round++) {
        expect_seqs(s, "sp", INT64_MIN, INT64_MAX, 310, 0);
        /* a time range inside the span: days 5..9 only */
        expect_seqs(s, "sp", s0 + 5 * DAY, s0 + 10 * DAY, 50, 50);
        /* a range ending inside the first day of the span */
        expect_seqs(s, "sp", INT64_MIN, s0 + 3600000 + 5000, 5, 0);
        /* and one that starts after the span */
        expect_seqs(s, "sp", s0 + 30 * DAY, INT64_MAX, 10, 300);
        owl_store_close(s);
        s = open_store(tmp, 0);
    }
    /* compacting again changes nothing: the span is whole */
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    cr_assert_eq(count_files(tmp, ".owp"), 2);
    owl_store_close(s);
}

/* Rows that arrive later for a day inside a span go to a day of their own beside it, and
 * WAL records of days inside a span are not applied twice at replay: a child appends
 * today's rows first (they stay in a memtable, so the WAL checkpoint cannot pass them), then
 * 10 old days that seal as they fill, compacts them into a span, appends late rows for a
 * day inside it and dies without closing. Reopened, every row is there exactly once. */
Test(store, late_rows_and_replay_inside_a_span, .init = mkroot, .fini = rmroot)
{
    int64_t now = owl_now_ms(), s0 = (now / DAY - 100) * DAY;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        owl_store *s = NULL;
        owl_error err = {0};
        owl_store_options o = opts(0);
        o.memtable_rows = 10;
        if (owl_store_open(tmp, schemas, 1, &o, &s, &err) != OWL_OK)
            _exit(2);
        if (append_rows(s, "late", now - 1000, 1, 1000, 5, &err) != OWL_OK)
            _exit(3);
        for (int d = 0; d < 10; d++)
            if (append_rows(s, "late", s0 + d * DAY, 1000, d * 10, 10, &err) != OWL_OK)
                _exit(4);
        if (owl_store_compact(s, &err) != OWL_OK)
            _exit(5);
        if (append_rows(s, "late", s0 + 4 * DAY + 500, 1, 100, 5, &err) != OWL_OK)
            _exit(6);
        _exit(0); /* no close: memtables are lost, the WAL has every acknowledged row */
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    cr_assert_eq(count_files(tmp, "s-*.owp"), 1, "the child made a span");
    cr_assert_eq(count_files(tmp, ".owp"), 1, "and nothing else is sealed");
    owl_store *s = open_store(tmp, 0);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "late", NULL, 0, INT64_MIN, INT64_MAX, &c), 110);
    qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
    for (size_t i = 0; i < 105; i++)
        cr_assert_eq(c.seqs[i], (int64_t)i, "row %zu is %lld", i, (long long)c.seqs[i]);
    for (size_t i = 105; i < 110; i++)
        cr_assert_eq(c.seqs[i], (int64_t)(1000 + i - 105));
    free(c.seqs);
    cr_assert_eq(scan_seqs(s, "late", NULL, 0, s0 + 4 * DAY, s0 + 5 * DAY, &c), 15);
    free(c.seqs);
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    /* the late day is not merged into the span it lies in: it stays a day */
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    owl_store_close(s);
    s = open_store(tmp, 0);
    cr_assert_eq(scan_seqs(s, "late", NULL, 0, INT64_MIN, INT64_MAX, &c), 110);
    free(c.seqs);
    owl_store_close(s);
}

/* As if owld died after the span was renamed in but before its sources were unlinked: the
 * sources come back at open, are recognised as merged (days inside the span, lsn at most the
 * span's) and deleted, so no row is counted twice. */
Test(store, span_sources_left_by_a_crash_are_removed, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    int64_t s0 = (owl_now_ms() / DAY - 50) * DAY;
    for (int d = 0; d < 6; d++)
        cr_assert_eq(append_rows(s, "x", s0 + d * DAY, 1000, d * 10, 10, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    owl_store_close(s);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir %s/keep && cp -a $(dirname $(find %s/logs -name 'p-*.owp')) "
             "%s/keep/", tmp, tmp, tmp);
    cr_assert_eq(system(cmd), 0);
    s = open_store(tmp, 0);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    owl_store_close(s);
    cr_assert_eq(count_files(tmp, ".owp"), 1 + 6);
    snprintf(cmd, sizeof cmd, "cp -a %s/keep/* $(dirname $(dirname $(find %s/logs -name "
             "'s-*.owp')))/ && rm -rf %s/keep", tmp, tmp, tmp);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(count_files(tmp, ".owp"), 7);
    s = open_store(tmp, 0);
    expect_seqs(s, "x", INT64_MIN, INT64_MAX, 60, 0);
    owl_store_close(s);
    cr_assert_eq(count_files(tmp, ".owp"), 1, "the leftovers were deleted at open");
    cr_assert_eq(count_dirs(tmp, "????????"), 0, "and their day directories");
}

/* Retention and spans: rows past retention inside a kept span are hidden; the span's
 * directory goes when its last day expires. A span covers at most retention/4 days. */
Test(store, retention_with_spans, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    int64_t now = owl_now_ms(), today = now / DAY;
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "rs", 40, &err), OWL_OK);
    /* days today-45 .. today-26: 20 days of 10 rows */
    for (int d = 0; d < 20; d++)
        cr_assert_eq(append_rows(s, "rs", (today - 45 + d) * DAY + 1000, 1, d * 10, 10, &err),
                     OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    /* width limit 40/4 = 10 days: two spans of 10 days */
    cr_assert_eq(count_dirs(tmp, "*-*"), 2);
    cr_assert_eq(count_files(tmp, ".owp"), 2);
    /* rows older than now - 40 days are hidden: days today-45 .. today-40 (60 rows; the rows
     * sit in the first second of their day) */
    expect_seqs(s, "rs", INT64_MIN, INT64_MAX, 140, 60);
    /* the janitor keeps the first span until its last day (today-36) expires */
    cr_assert_eq(owl_store_retire(s, now, &err), OWL_OK);
    cr_assert_eq(count_dirs(tmp, "*-*"), 2);
    cr_assert_eq(owl_store_retire(s, now + 5 * DAY, &err), OWL_OK);
    cr_assert_eq(count_dirs(tmp, "*-*"), 1);
    owl_store_close(s);
}

/* A part that cannot be opened for a reason of the process's own (here: out of file
 * descriptors) fails the open; it is not quarantined as if it were corrupt, and a later open
 * with descriptors to spare serves every row. */
Test(store, open_errors_do_not_quarantine_healthy_parts, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    for (int k = 0; k < 40; k++) {
        cr_assert_eq(append_rows(s, "fd", T0 + k * 1000, 1, k * 10, 10, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    owl_store_close(s);
    cr_assert_eq(count_files(tmp, ".owp"), 40);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {24, 24};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(3);
        owl_store *c = NULL;
        owl_error e = {0};
        owl_store_options o = opts(0);
        int rc = owl_store_open(tmp, schemas, 1, &o, &c, &e);
        _exit(rc == OWL_OK ? 1 : 0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    char q[128];
    snprintf(q, sizeof q, "%s/quarantine", tmp);
    cr_assert_eq(count_files(q, ".owp"), 0, "healthy parts were quarantined");
    s = open_store(tmp, 0);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "fd", NULL, 0, INT64_MIN, INT64_MAX, &c), 400);
    free(c.seqs);
    owl_store_close(s);
}

/* ---- crash safety: kill -9 at random moments, 20 rounds ---- */

static void child_appender(const char *dir, int fd, int64_t base)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(1);
    o.memtable_rows = 2000; /* seal often so crashes land in every phase */
    o.memtable_age_ms = 50;
    if (owl_store_open(dir, schemas, 1, &o, &s, &err) != OWL_OK)
        _exit(3);
    for (int64_t seq = base;; seq += 50) {
        if (append_rows(s, "crash", T0 + seq, 1, seq, 50, &err) != OWL_OK)
            _exit(4);
        if (write(fd, &seq, sizeof seq) != sizeof seq)
            _exit(5);
    }
}

Test(store, kill9_recovery_20_rounds, .init = mkroot, .fini = rmroot, .timeout = 120)
{
    int64_t *acked = NULL;
    size_t nacked = 0, cap = 0;
    int64_t base = 0;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 20; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            child_appender(tmp, pfd[1], base);
        }
        close(pfd[1]);
        usleep(20000 + (useconds_t)(rand() % 200000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status), "child exited by itself: %d", WEXITSTATUS(status));
        int64_t seq;
        while (read(pfd[0], &seq, sizeof seq) == sizeof seq) {
            if (nacked == cap) {
                cap = cap ? 2 * cap : 1024;
                acked = realloc(acked, cap * sizeof *acked);
            }
            acked[nacked++] = seq;
            if (seq + 50 > base)
                base = seq + 50;
        }
        close(pfd[0]);
        /* unacknowledged appends may or may not be there; the next round starts past them */
        base += 100000;
        owl_store *s = open_store(tmp, 0);
        struct collect c;
        scan_seqs(s, "crash", NULL, 0, INT64_MIN, INT64_MAX, &c);
        qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
        for (size_t i = 1; i < c.n; i++)
            cr_assert_neq(c.seqs[i], c.seqs[i - 1], "row %lld present twice after round %d",
                          (long long)c.seqs[i], round);
        for (size_t a = 0; a < nacked; a++)
            for (int64_t k = 0; k < 50; k++) {
                int64_t want = acked[a] + k;
                cr_assert_not_null(bsearch(&want, c.seqs, c.n, sizeof *c.seqs, cmp_i64),
                                   "acknowledged row %lld lost after round %d", (long long)want,
                                   round);
            }
        free(c.seqs);
        owl_store_close(s);
    }
    cr_assert_gt(nacked, 20, "too few acknowledged batches (%zu) for a meaningful test", nacked);
    free(acked);
}

/* ---- corruption ---- */

static void first_part(const char *dir, char *out, size_t outsz)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s/logs -name 'p-*.owp' | sort | head -1", dir);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(out, (int)outsz, f));
    out[strcspn(out, "\n")] = '\0';
    pclose(f);
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void count_report(void *ud, const char *what)
{
    (void)what;
    (*(int *)ud)++;
}

Test(store, corrupt_chunk_quarantines_that_part, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "a", T0, 10, 0, 1000, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "a", T0 + 20000, 10, 1000, 1000, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    owl_store_close(s);
    int bad = 0;
    cr_assert_eq(owl_store_verify(tmp, count_report, &bad, &err), OWL_OK, "%s", err.msg);
    char path[512];
    first_part(tmp, path, sizeof path);
    flip_byte(path, 40); /* inside the first chunk */
    cr_assert_eq(owl_store_verify(tmp, count_report, &bad, &err), OWL_ECORRUPT);
    cr_assert_geq(bad, 1);
    s = open_store(tmp, 0);
    struct collect c;
    scan_seqs(s, "a", NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq(c.n, 1000, "the other part stays readable (got %zu rows)", c.n);
    free(c.seqs);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.quarantined, 1);
    owl_store_close(s);
    char q[256];
    snprintf(q, sizeof q, "%s/quarantine", tmp);
    cr_assert_eq(count_files(q, ".owp"), 1);
}

Test(store, corrupt_footer_quarantined_at_open, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "a", T0, 10, 0, 500, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "b", T0, 10, 500, 500, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    owl_store_close(s);
    char path[512];
    first_part(tmp, path, sizeof path);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    flip_byte(path, st.st_size - 40); /* inside the footer */
    s = open_store(tmp, 0);
    struct collect c;
    scan_seqs(s, NULL, NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq(c.n, 500);
    free(c.seqs);
    owl_store_stats ss;
    owl_store_stats_get(s, &ss);
    cr_assert_eq(ss.quarantined, 1);
    owl_store_close(s);
}

Test(store, wal_torn_mid_record_keeps_complete_records, .init = mkroot, .fini = rmroot)
{
    /* a child appends 10 acknowledged batches and is killed before sealing anything */
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        owl_store *s = NULL;
        owl_error err = {0};
        owl_store_options o = opts(0);
        if (owl_store_open(tmp, schemas, 1, &o, &s, &err) != OWL_OK)
            _exit(3);
        for (int k = 0; k < 10; k++)
            if (append_rows(s, "w", T0 + k * 1000, 1, k * 100, 100, &err) != OWL_OK)
                _exit(4);
        if (write(pfd[1], "x", 1) != 1)
            _exit(5);
        pause();
        _exit(0);
    }
    char x;
    cr_assert_eq(read(pfd[0], &x, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    /* cut the last WAL segment in the middle of its last record */
    char cmd[512], seg[512];
    snprintf(cmd, sizeof cmd, "ls %s/wal/wal-*.log | sort | tail -1", tmp);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(fgets(seg, sizeof seg, f));
    pclose(f);
    seg[strcspn(seg, "\n")] = '\0';
    size_t segn;
    unsigned char *segb = read_bytes(seg, &segn);
    cr_assert_eq(truncate(seg, (off_t)test_wal_records_end(segb, segn) - 100), 0);
    free(segb);
    owl_store *s = open_store(tmp, 0);
    struct collect c;
    scan_seqs(s, "w", NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq(c.n, 900, "every complete record kept, the torn one dropped (got %zu)", c.n);
    free(c.seqs);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "w", T0 + 50000, 1, 5000, 100, &err), OWL_OK, "%s", err.msg);
    owl_store_close(s);
    s = open_store(tmp, 0);
    scan_seqs(s, "w", NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq(c.n, 1000);
    free(c.seqs);
    owl_store_close(s);
}

/* ---- a full disk: a small tmpfs ---- */

Test(store, disk_full_then_space_returns, .init = mkroot, .fini = rmroot, .timeout = 60)
{
    char mnt[128];
    snprintf(mnt, sizeof mnt, "%s/small", tmp);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        cr_skip_test("needs root and tmpfs to make a small file system (errno %d)", errno);
        return;
    }
    char filler[192], dir[160];
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    snprintf(dir, sizeof dir, "%s/store", mnt);
    FILE *f = fopen(filler, "w");
    static char junk[4096];
    memset(junk, 'j', sizeof junk);
    for (int i = 0; i < 256; i++) /* 1 MiB we can give back later */
        fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    owl_store *s = open_store(dir, 0);
    owl_error err = {0};
    int64_t acked = 0;
    int rc = OWL_OK;
    for (int k = 0; k < 100000 && rc == OWL_OK; k++) {
        rc = append_rows(s, "full", T0 + k * 100, 1, k * 100, 100, &err);
        if (rc == OWL_OK)
            acked += 100;
    }
    cr_assert_eq(rc, OWL_ENOSPC, "got %d (%s)", rc, err.msg);
    struct collect c;
    scan_seqs(s, "full", NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq((int64_t)c.n, acked, "nothing half-visible: %zu rows, %lld acknowledged", c.n,
                 (long long)acked);
    free(c.seqs);
    cr_assert_eq(unlink(filler), 0);
    cr_assert_eq(append_rows(s, "full", T0 + 99999999, 1, 99999999, 100, &err), OWL_OK, "%s",
                 err.msg);
    owl_store_close(s);
    s = open_store(dir, 0);
    scan_seqs(s, "full", NULL, 0, INT64_MIN, INT64_MAX, &c);
    cr_assert_eq((int64_t)c.n, acked + 100);
    free(c.seqs);
    owl_store_close(s);
    umount(mnt);
}

/* Parts of different days share names (p-1-1-0.owp): quarantining them all keeps them all. */
Test(store, quarantine_keeps_parts_with_the_same_name, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    for (int d = 0; d < 3; d++)
        cr_assert_eq(append_rows(s, "q", T0 + d * DAY, 10, d * 100, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    owl_store_close(s);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "for f in $(find %s/logs -name 'p-1-1-0.owp'); do truncate -s -1 $f; done", tmp);
    cr_assert_eq(system(cmd), 0);
    s = open_store(tmp, 0);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.quarantined, 3);
    owl_store_close(s);
    char q[256];
    snprintf(q, sizeof q, "%s/quarantine", tmp);
    cr_assert_eq(count_files(q, ".owp"), 3);
}

/* ======================================================================================
 * Scans without locks, filter trees, BSON paths, order, limit and cursors
 * ====================================================================================== */

#include <pthread.h>

static double now_ms_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static owl_store *open_store_nosync(const char *dir)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.sync = OWL_SYNC_NONE; /* the figures below measure lock waits, not the disk */
    cr_assert_eq(owl_store_open(dir, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

struct sleeper {
    owl_store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, calls;
    int rc;
};

static int sleepy_fn(void *ud, const owl_batch *b)
{
    struct sleeper *z = ud;
    (void)b;
    pthread_mutex_lock(&z->mu);
    int first = z->calls++ == 0;
    z->entered = 1;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    if (first)
        sleep(2);
    return 0;
}

static void *sleepy_scan(void *arg)
{
    struct sleeper *z = arg;
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    const char *parts[] = {"slow"};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .partitions = parts,
                  .npartitions = 1, .start = INT64_MIN, .end = INT64_MAX, .cols = cols,
                  .ncols = 1, .fn = sleepy_fn, .ud = z};
    z->rc = owl_store_scan(z->s, &q, NULL, NULL);
    return NULL;
}

static double timed_append(owl_store *s, const char *partition, int64_t seq)
{
    owl_error err = {0};
    double t0 = now_ms_f();
    cr_assert_eq(append_rows(s, partition, T0 + seq, 1, seq, 10, &err), OWL_OK, "%s", err.msg);
    return now_ms_f() - t0;
}

/* The issue's scenario: a callback sleeping 2 s held appends up for 2.1 s. Appends to
 * another partition and to the scanned one must not wait for it, in a memtable or a part. */
Test(store, sleeping_scan_callback_does_not_delay_appends, .init = mkroot, .fini = rmroot,
     .timeout = 60)
{
    owl_store *s = open_store_nosync(tmp);
    owl_error err = {0};
    for (int flushed = 0; flushed < 2; flushed++) {
        cr_assert_eq(append_rows(s, "slow", T0, 1, 0, 100, &err), OWL_OK);
        if (flushed)
            cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
        double base = timed_append(s, "other", 100000);
        struct sleeper z = {.s = s};
        pthread_mutex_init(&z.mu, NULL);
        pthread_cond_init(&z.cv, NULL);
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, sleepy_scan, &z), 0);
        pthread_mutex_lock(&z.mu);
        while (!z.entered)
            pthread_cond_wait(&z.cv, &z.mu);
        pthread_mutex_unlock(&z.mu);
        double other = timed_append(s, "other", 200000 + flushed * 100);
        double same = timed_append(s, "slow", 300000 + flushed * 100);
        double t0 = now_ms_f();
        pthread_join(th, NULL);
        double waited = now_ms_f() - t0;
        printf("append during a 2 s scan callback (%s): other partition %.3f ms, same "
               "partition %.3f ms (alone %.3f ms); the scan still had %.0f ms to go\n",
               flushed ? "parts" : "memtable", other, same, base, waited);
        cr_assert_eq(z.rc, 0);
        cr_assert_gt(waited, 1000, "the appends finished while the callback slept");
        cr_assert_lt(other, 100.0, "append to another partition waited %.1f ms", other);
        cr_assert_lt(same, 100.0, "append to the scanned partition waited %.1f ms", same);
        pthread_mutex_destroy(&z.mu);
        pthread_cond_destroy(&z.cv);
    }
    owl_store_close(s);
}

struct nested {
    owl_store *s;
    int depth;
    size_t inner_rows;
    int appended;
};

static int count_fn(void *ud, const owl_batch *b)
{
    *(size_t *)ud += b->nrows;
    return 0;
}

static int nested_fn(void *ud, const owl_batch *b)
{
    struct nested *n = ud;
    (void)b;
    if (n->depth++)
        return 0;
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 1, .fn = count_fn,
                  .ud = &n->inner_rows};
    owl_error err = {0};
    int rc = owl_store_scan(n->s, &q, NULL, &err);
    if (rc == OWL_OK)
        rc = append_rows(n->s, "n", T0 + 5000, 1, 5000, 5, &err);
    n->appended = rc == OWL_OK;
    return rc;
}

Test(store, scan_and_append_from_inside_a_callback, .init = mkroot, .fini = rmroot, .timeout = 30)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "n", T0, 1, 0, 300, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "n", T0 + 1000, 1, 1000, 200, &err), OWL_OK);
    struct nested n = {.s = s};
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 1, .fn = nested_fn, .ud = &n};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(n.inner_rows, 500);
    cr_assert(n.appended);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "n", NULL, 0, INT64_MIN, INT64_MAX, &c), 505);
    free(c.seqs);
    owl_store_close(s);
}

/* ---- filter trees ---- */

static size_t scan_filter(owl_store *s, const owl_filter *f, const owl_pred *preds, size_t np,
                          struct collect *c, owl_scan_stats *st)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 1, .preds = preds, .npreds = np,
                  .filter = f, .fn = collect_fn, .ud = c};
    owl_error err = {0};
    memset(c, 0, sizeof *c);
    cr_assert_eq(owl_store_scan(s, &q, st, &err), OWL_OK, "%s", err.msg);
    if (c->n)
        qsort(c->seqs, c->n, sizeof *c->seqs, cmp_i64);
    return c->n;
}

/* The rows 0..n-1 for which want(seq) holds, against what the scan returned. */
static void expect_rows(struct collect *c, int64_t n, int (*want)(int64_t))
{
    size_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!want(i))
            continue;
        cr_assert_lt(k, c->n, "row %lld missing", (long long)i);
        cr_assert_eq(c->seqs[k], i, "row %lld: got %lld", (long long)i, (long long)c->seqs[k]);
        k++;
    }
    cr_assert_eq(k, c->n, "%zu rows returned, %zu expected", c->n, k);
    free(c->seqs);
}

static int w_alpha_or_bravo(int64_t i) { return i % 4 == 0 || i % 4 == 1; }
static int w_bravo(int64_t i) { return i % 4 == 1; }
static int w_even(int64_t i) { return i % 2 == 0; }
static int w_alpha_or_bravo_not_odd(int64_t i) { return w_alpha_or_bravo(i) && i % 2 == 0; }
static int w_ends(int64_t i) { return i < 100 || i >= 1100; }
static int w_not_ends(int64_t i) { return !w_ends(i); }
static int w_low_not_u3(int64_t i) { return i < 100 && i % 7 != 3; }

Test(store, or_not_filters_with_block_pruning, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    /* 1024 rows in parts (4 blocks of 256), 176 in the memtable */
    cr_assert_eq(append_rows(s, "f", T0, 10, 0, 1024, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "f", T0 + 10240, 10, 1024, 176, &err), OWL_OK);
    const int64_t N = 1200;
    owl_pred alpha = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"alpha", 5}};
    owl_pred bravo = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"bravo", 5}};
    owl_pred odd = {.col = OWL_LOGS_STREAM, .op = OWL_PRED_EQ, .lo.b = {"odd", 3}};
    owl_filter leaves[] = {{.kind = OWL_FILTER_PRED, .pred = &alpha},
                           {.kind = OWL_FILTER_PRED, .pred = &bravo},
                           {.kind = OWL_FILTER_PRED, .pred = &odd}};
    owl_filter or_ab = {.kind = OWL_FILTER_OR, .kids = leaves, .nkids = 2};
    owl_filter not_odd = {.kind = OWL_FILTER_NOT, .kids = &leaves[2], .nkids = 1};
    owl_filter both[] = {or_ab, not_odd};
    owl_filter and_f = {.kind = OWL_FILTER_AND, .kids = both, .nkids = 2};
    struct collect c;
    owl_scan_stats st;
    scan_filter(s, &or_ab, NULL, 0, &c, &st);
    expect_rows(&c, N, w_alpha_or_bravo);
    scan_filter(s, &not_odd, NULL, 0, &c, &st);
    expect_rows(&c, N, w_even);
    scan_filter(s, &and_f, NULL, 0, &c, &st);
    expect_rows(&c, N, w_alpha_or_bravo_not_odd);
    /* the filter is ANDed with preds */
    scan_filter(s, &or_ab, &odd, 1, &c, &st);
    expect_rows(&c, N, w_bravo);

    /* pruning: ingest_time has min/max per block; blocks 1 and 2 hold rows 256..767 */
    owl_pred lo = {.col = OWL_LOGS_INGEST_TIME, .op = OWL_PRED_RANGE, .lo.i = 0, .hi.i = 100};
    owl_pred hi = {.col = OWL_LOGS_INGEST_TIME, .op = OWL_PRED_RANGE, .lo.i = 1100,
                   .hi.i = 5000};
    owl_filter rl[] = {{.kind = OWL_FILTER_PRED, .pred = &lo}, {.kind = OWL_FILTER_PRED, .pred = &hi}};
    owl_filter ends = {.kind = OWL_FILTER_OR, .kids = rl, .nkids = 2};
    scan_filter(s, &ends, NULL, 0, &c, &st);
    expect_rows(&c, N, w_ends);
    cr_assert_eq(st.blocks, 4);
    cr_assert_eq(st.blocks_skipped, 3, "OR of two ranges prunes the blocks neither reaches");
    owl_filter not_ends = {.kind = OWL_FILTER_NOT, .kids = &ends, .nkids = 1};
    scan_filter(s, &not_ends, NULL, 0, &c, &st);
    expect_rows(&c, N, w_not_ends);
    cr_assert_eq(st.blocks_skipped, 0, "NOT never prunes");
    owl_pred u3 = {.col = OWL_LOGS_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"u3", 2}};
    owl_filter u3l = {.kind = OWL_FILTER_PRED, .pred = &u3};
    owl_filter not_u3 = {.kind = OWL_FILTER_NOT, .kids = &u3l, .nkids = 1};
    owl_filter low_kids[] = {rl[0], not_u3};
    owl_filter low = {.kind = OWL_FILTER_AND, .kids = low_kids, .nkids = 2};
    scan_filter(s, &low, NULL, 0, &c, &st);
    expect_rows(&c, N, w_low_not_u3);
    cr_assert_eq(st.blocks_skipped, 3, "AND prunes where one child certainly fails");

    /* malformed trees */
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 1, .fn = count_fn, .ud = &c.n};
    owl_filter chain[OWL_FILTER_MAX_DEPTH + 1];
    for (int i = 0; i < OWL_FILTER_MAX_DEPTH; i++)
        chain[i] = (owl_filter){.kind = OWL_FILTER_NOT, .kids = &chain[i + 1], .nkids = 1};
    chain[OWL_FILTER_MAX_DEPTH] = leaves[0];
    q.filter = &chain[0];
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    q.filter = &chain[1]; /* exactly the maximum depth is fine */
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    owl_filter two_not = {.kind = OWL_FILTER_NOT, .kids = leaves, .nkids = 2};
    q.filter = &two_not;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    owl_pred bad_col = {.col = 99, .op = OWL_PRED_EQ};
    owl_filter bad_leaf = {.kind = OWL_FILTER_PRED, .pred = &bad_col};
    owl_filter bad_or = {.kind = OWL_FILTER_OR, .kids = &bad_leaf, .nkids = 1};
    q.filter = &bad_or;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    owl_filter no_pred = {.kind = OWL_FILTER_PRED};
    q.filter = &no_pred;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    owl_filter bad_kind = {.kind = 42};
    q.filter = &bad_kind;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    owl_store_close(s);
}

/* ---- BSON paths ---- */

/* Appends n rows (seq from seq0) whose attrs are doc(seq) (or the raw bytes given). */
static void append_docs(owl_store *s, const char *partition, int64_t seq0, size_t n,
                        bson_t *(*doc)(int64_t), const owl_bytes *raw)
{
    owl_cell cells[OWL_LOGS_NCOLS][64];
    bson_t *docs[64] = {0};
    static const uint8_t zero[16];
    cr_assert_leq(n, 64);
    owl_rows rows = {.nrows = n};
    for (size_t i = 0; i < n; i++) {
        int64_t seq = seq0 + (int64_t)i;
        cells[OWL_LOGS_TIME][i].i = T0 + seq;
        cells[OWL_LOGS_INGEST_TIME][i].i = seq;
        cells[OWL_LOGS_STREAM][i].b = (owl_bytes){"s", 1};
        cells[OWL_LOGS_MESSAGE][i].b = (owl_bytes){"m", 1};
        cells[OWL_LOGS_SEVERITY][i].b = (owl_bytes){"", 0};
        cells[OWL_LOGS_TRACE_ID][i].b = (owl_bytes){zero, 16};
        cells[OWL_LOGS_SPAN_ID][i].b = (owl_bytes){zero, 8};
        if (raw) {
            cells[OWL_LOGS_ATTRS][i].b = *raw;
        } else {
            docs[i] = doc(seq);
            cells[OWL_LOGS_ATTRS][i].b = (owl_bytes){bson_get_data(docs[i]), docs[i]->len};
        }
    }
    for (int c = 0; c < OWL_LOGS_NCOLS; c++)
        rows.cols[c] = cells[c];
    owl_error err = {0};
    cr_assert_eq(owl_store_append(s, "logs", "000000000001", partition, &rows, &err), OWL_OK,
                 "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
}

/* seq % 10 == 9: no "http"; else http.status 500 (seq % 5 == 0) or 200 as int32, http.method
 * "POST" on odd rows else "GET", a: [seq as int64, "x"], d: seq * 0.5 (double). */
static bson_t *attrs_doc(int64_t seq)
{
    bson_t *d = bson_new(), http, a;
    if (seq % 10 != 9) {
        BSON_APPEND_DOCUMENT_BEGIN(d, "http", &http);
        BSON_APPEND_INT32(&http, "status", seq % 5 == 0 ? 500 : 200);
        BSON_APPEND_UTF8(&http, "method", seq % 2 ? "POST" : "GET");
        bson_append_document_end(d, &http);
    }
    BSON_APPEND_ARRAY_BEGIN(d, "a", &a);
    BSON_APPEND_INT64(&a, "0", seq);
    BSON_APPEND_UTF8(&a, "1", "x");
    bson_append_array_end(d, &a);
    BSON_APPEND_DOUBLE(d, "d", (double)seq * 0.5);
    return d;
}

static int w_500(int64_t i) { return i % 10 != 9 && i % 5 == 0; }
static int w_4xx_5xx(int64_t i) { return w_500(i); }
static int w_a0_10_20(int64_t i) { return i >= 10 && i < 20; }
static int w_post(int64_t i) { return i % 10 != 9 && i % 2; }
static int w_has_http(int64_t i) { return i % 10 != 9; }
static int w_no_http(int64_t i) { return i % 10 == 9; }
static int w_d_in(int64_t i) { return i == 3 || i == 8; }
static int w_none(int64_t i) { (void)i; return 0; }
static int w_all(int64_t i) { (void)i; return 1; }

static void check_paths(owl_store *s, int64_t n)
{
    struct collect c;
    owl_scan_stats st;
    owl_pred p = {.col = OWL_LOGS_ATTRS, .path = "http.status", .path_type = OWL_PATH_NUM,
                  .op = OWL_PRED_EQ, .lo.f = 500};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_500);
    p.op = OWL_PRED_RANGE, p.lo.f = 400, p.hi.f = 600;
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_4xx_5xx);
    /* a number does not equal its spelling as a string */
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "http.status", .path_type = OWL_PATH_STR,
                   .op = OWL_PRED_EQ, .lo.b = {"500", 3}};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_none);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "a.0", .path_type = OWL_PATH_NUM,
                   .op = OWL_PRED_RANGE, .lo.f = 10, .hi.f = 20};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_a0_10_20);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "a.1", .path_type = OWL_PATH_STR,
                   .op = OWL_PRED_EQ, .lo.b = {"x", 1}};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_all);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "http.method", .path_type = OWL_PATH_STR,
                   .op = OWL_PRED_EQ, .lo.b = {"POST", 4}};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_post);
    p.op = OWL_PRED_SUBSTR, p.text = (owl_bytes){"OS", 2};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_post);
    p.op = OWL_PRED_RANGE, p.lo.b = (owl_bytes){"P", 1}, p.hi.b = (owl_bytes){"Q", 1};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_post);
    owl_cell set[] = {{.f = 1.5}, {.f = 4.0}, {.f = 99}};
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "d", .path_type = OWL_PATH_NUM,
                   .op = OWL_PRED_IN, .set = set, .nset = 3};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_d_in);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "http", .op = OWL_PRED_EXISTS};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_has_http);
    owl_filter leaf = {.kind = OWL_FILTER_PRED, .pred = &p};
    owl_filter not_http = {.kind = OWL_FILTER_NOT, .kids = &leaf, .nkids = 1};
    scan_filter(s, &not_http, NULL, 0, &c, &st);
    expect_rows(&c, n, w_no_http);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "http.nope", .op = OWL_PRED_EXISTS};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_none);
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "a.7", .op = OWL_PRED_EXISTS};
    scan_filter(s, NULL, &p, 1, &c, &st);
    expect_rows(&c, n, w_none);
}

Test(store, bson_path_predicates, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    append_docs(s, "b", 0, 40, attrs_doc, NULL);
    check_paths(s, 40); /* memtable */
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    check_paths(s, 40); /* part */
    /* bad requests */
    struct collect c = {0};
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    owl_pred p = {.col = OWL_LOGS_MESSAGE, .path = "x", .op = OWL_PRED_EXISTS};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 1, .preds = &p, .npreds = 1,
                  .fn = count_fn, .ud = &c.n};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL, "a path on a STR column");
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .op = OWL_PRED_EXISTS};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL, "EXISTS without a path");
    p = (owl_pred){.col = OWL_LOGS_ATTRS, .path = "", .op = OWL_PRED_EQ};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL, "an empty path");
    owl_store_close(s);
}

Test(store, bson_path_on_malformed_documents_matches_nothing, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    /* length prefix and final NUL right (the part writer takes them), insides broken */
    static const uint8_t trunc_doc[] = {13, 0, 0, 0, 3, 'h', 't', 't', 'p', 0, 0xff, 0x7f, 0};
    static const uint8_t trunc_int[] = {12, 0, 0, 0, 0x10, 'h', 't', 't', 'p', 0, 1, 0};
    static const uint8_t bad_type[] = {12, 0, 0, 0, 0x77, 'h', 't', 't', 'p', 0, 1, 0};
    const owl_bytes raws[] = {{trunc_doc, sizeof trunc_doc}, {trunc_int, sizeof trunc_int},
                              {bad_type, sizeof bad_type}};
    for (int i = 0; i < 3; i++)
        append_docs(s, "m", i * 10, 10, NULL, &raws[i]);
    append_docs(s, "m", 30, 10, attrs_doc, NULL); /* good rows 30..39 */
    owl_error err = {0};
    for (int round = 0; round < 2; round++) {
        struct collect c;
        owl_scan_stats st;
        static const char *paths[] = {"http", "http.status", "http.status.x", "a.0"};
        for (int k = 0; k < 4; k++) {
            owl_pred p = {.col = OWL_LOGS_ATTRS, .path = paths[k], .op = OWL_PRED_EXISTS};
            scan_filter(s, NULL, &p, 1, &c, &st);
            for (size_t i = 0; i < c.n; i++)
                cr_assert_geq(c.seqs[i], 30, "%s matched malformed row %lld", paths[k],
                              (long long)c.seqs[i]);
            free(c.seqs);
        }
        if (!round)
            cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    }
    /* a value too short to be a document at all is refused on append (store/bad_appends) */
    owl_store_close(s);
}

/* ---- order, limit, cursor ---- */

struct orow_t {
    int64_t t, seq;
    uint64_t key;
};

struct opage {
    struct orow_t *rows;
    size_t n, cap;
};

static int opage_fn(void *ud, const owl_batch *b)
{
    struct opage *p = ud;
    cr_assert_not_null(b->keys);
    for (size_t i = 0; i < b->nrows; i++) {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 256;
            p->rows = realloc(p->rows, p->cap * sizeof *p->rows);
        }
        p->rows[p->n++] = (struct orow_t){b->cols[0][i].i, b->cols[1][i].i, b->keys[i]};
    }
    return 0;
}

/* One ordered page of partition "o" (NULL: every partition); returns more. */
static int ordered_page(owl_store *s, enum owl_order order, size_t limit,
                        const owl_scan_cursor *after, owl_scan_cursor *next, struct opage *out)
{
    size_t cols[] = {OWL_LOGS_TIME, OWL_LOGS_INGEST_TIME};
    int more = -1;
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 2, .fn = opage_fn, .ud = out,
                  .order = order, .limit = limit, .after = after, .next = next, .more = &more};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert(more == 0 || more == 1);
    return more;
}

static int row_cmp(const struct orow_t *a, const struct orow_t *b)
{
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

static void assert_sorted(const struct orow_t *r, size_t n, int desc)
{
    for (size_t i = 1; i < n; i++) {
        int c = row_cmp(&r[i - 1], &r[i]);
        cr_assert(desc ? c >= 0 : c <= 0, "row %zu out of order (t %lld after %lld)", i,
                  (long long)r[i].t, (long long)r[i - 1].t);
    }
}

/* Rows with times that repeat (seq / 3 * 7 % 1000) spread over several parts and the
 * memtable, across two days. */
static void fill_ordered(owl_store *s, int64_t nparts, int64_t per)
{
    owl_error err = {0};
    for (int64_t k = 0; k <= nparts; k++) {
        owl_rowbuf b;
        owl_rowbuf_init(&b, &owl_logs_schema);
        for (int64_t i = 0; i < per; i++) {
            int64_t seq = k * per + i;
            int64_t t = T0 + DAY - 500 + (seq / 3 * 7) % 1000; /* straddles midnight */
            add_log(&b, t, seq, "s", "msg", 3);
        }
        cr_assert_eq(owl_store_append(s, "logs", "000000000001", "o", owl_rowbuf_rows(&b),
                                      &err), OWL_OK);
        owl_rowbuf_free(&b);
        if (k < nparts) /* the last batch stays in the memtable */
            cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    }
}

Test(store, ordered_scans_with_limit_match_a_sorted_reference, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    fill_ordered(s, 3, 700); /* 3 parts (+ spans of two days), 700 rows in the memtable */
    const size_t N = 2800;
    struct opage all = {0}, ref = {0};
    /* reference: every row, unordered, sorted here by (time, key) */
    cr_assert_eq(ordered_page(s, OWL_ORDER_ASC, 0, NULL, NULL, &all), 0);
    cr_assert_eq(all.n, N);
    ref.rows = malloc(N * sizeof *ref.rows);
    memcpy(ref.rows, all.rows, N * sizeof *ref.rows);
    ref.n = N;
    qsort(ref.rows, N, sizeof *ref.rows, (int (*)(const void *, const void *))row_cmp);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(row_cmp(&all.rows[i], &ref.rows[i]), 0, "ASC differs at %zu", i);
    int64_t seen_seq[2800] = {0};
    for (size_t i = 0; i < N; i++)
        seen_seq[all.rows[i].seq]++;
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(seen_seq[i], 1, "row %zu returned %lld times", i, (long long)seen_seq[i]);
    static const size_t limits[] = {1, 7, 100, 2799, 2800, 5000};
    for (size_t li = 0; li < 6; li++) {
        for (int desc = 0; desc < 2; desc++) {
            struct opage p = {0};
            owl_scan_cursor next;
            int more = ordered_page(s, desc ? OWL_ORDER_DESC : OWL_ORDER_ASC, limits[li], NULL,
                                    &next, &p);
            size_t want = limits[li] < N ? limits[li] : N;
            cr_assert_eq(p.n, want, "limit %zu desc %d: %zu rows", limits[li], desc, p.n);
            cr_assert_eq(more, limits[li] < N);
            for (size_t i = 0; i < p.n; i++) {
                const struct orow_t *r = desc ? &ref.rows[N - 1 - i] : &ref.rows[i];
                cr_assert_eq(row_cmp(&p.rows[i], r), 0, "limit %zu desc %d row %zu", limits[li],
                             desc, i);
            }
            if (more) {
                cr_assert_eq(next.time, p.rows[p.n - 1].t);
                cr_assert_eq(next.key, p.rows[p.n - 1].key);
            }
            free(p.rows);
        }
    }
    /* the limit stops early: a page of 10 decodes few blocks of the parts */
    owl_scan_stats st;
    size_t cols[] = {OWL_LOGS_TIME, OWL_LOGS_INGEST_TIME};
    struct opage p = {0};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                  .end = INT64_MAX, .cols = cols, .ncols = 2, .fn = opage_fn, .ud = &p,
                  .order = OWL_ORDER_ASC, .limit = 10};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, &st, &err), OWL_OK);
    printf("ordered page of 10 over %zu rows: %llu of %llu blocks considered, %llu rows "
           "scanned\n", N, (unsigned long long)st.blocks, (unsigned long long)
           (N - 700 + 255) / 256, (unsigned long long)st.rows_scanned);
    cr_assert_lt(st.rows_scanned, 700 + 3 * 2 * 256, "the merge decoded more than it needed");
    free(p.rows);
    /* a cursor only resumes the order it was made with */
    owl_scan_cursor cur = {.time = T0, .key = 1, .count = 1, .order = OWL_ORDER_DESC};
    q.after = &cur;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    q.order = OWL_ORDER_NONE;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    free(all.rows), free(ref.rows);
    owl_store_close(s);
}

struct appender {
    owl_store *s;
    volatile int stop;
    int64_t added;
};

static void *append_loop(void *arg)
{
    struct appender *a = arg;
    owl_error err = {0};
    for (int64_t k = 0; !a->stop && k < 2000; k++) {
        owl_rowbuf b;
        owl_rowbuf_init(&b, &owl_logs_schema);
        for (int i = 0; i < 5; i++) {
            int64_t seq = 1000000 + k * 5 + i;
            add_log(&b, T0 + DAY - 500 + (seq * 13) % 1000, seq, "s", "msg", 3);
        }
        cr_assert_eq(owl_store_append(a->s, "logs", "000000000001", "o",
                                      owl_rowbuf_rows(&b), &err), OWL_OK, "%s", err.msg);
        owl_rowbuf_free(&b);
        a->added += 5;
        usleep(200);
    }
    return NULL;
}

/* Pages walked with the cursor (passed as its text token) while another thread appends, with
 * a flush and a compaction in the middle: every row there before the walk appears exactly
 * once, no row twice, in order. */
Test(store, cursor_walk_during_ingest_flush_and_compaction, .init = mkroot, .fini = rmroot,
     .timeout = 120)
{
    for (int desc = 0; desc < 2; desc++) {
        owl_store *s = open_store_nosync(tmp);
        fill_ordered(s, 4, 500); /* 4 parts + a memtable: 2500 rows */
        struct appender ap = {.s = s};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, append_loop, &ap), 0);
        enum owl_order order = desc ? OWL_ORDER_DESC : OWL_ORDER_ASC;
        char token[OWL_SCAN_CURSOR_TEXT] = "";
        struct opage walk = {0};
        int pages = 0, more = 1;
        owl_error err = {0};
        while (more) {
            owl_scan_cursor after, next;
            if (token[0])
                cr_assert_eq(owl_scan_cursor_parse(token, &after), OWL_OK);
            more = ordered_page(s, order, 37, token[0] ? &after : NULL, &next, &walk);
            if (more)
                owl_scan_cursor_format(&next, token);
            pages++;
            if (pages == 10)
                cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
            if (pages == 20)
                cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
            if (pages == 25)
                cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
            cr_assert_lt(pages, 2000);
        }
        ap.stop = 1;
        pthread_join(th, NULL);
        owl_store_stats stt;
        owl_store_stats_get(s, &stt);
        printf("cursor walk (%s): %d pages, %zu rows, %lld appended meanwhile, %llu "
               "compactions\n", desc ? "DESC" : "ASC", pages, walk.n, (long long)ap.added,
               (unsigned long long)stt.compactions);
        cr_assert_geq(stt.compactions, 1);
        assert_sorted(walk.rows, walk.n, desc);
        int64_t *count = calloc(2500, sizeof *count);
        int64_t *late = calloc(10000 + 1, sizeof *late);
        for (size_t i = 0; i < walk.n; i++) {
            int64_t seq = walk.rows[i].seq;
            if (seq < 2500) {
                count[seq]++;
            } else {
                cr_assert_geq(seq, 1000000);
                cr_assert_lt(seq - 1000000, 10000);
                cr_assert_eq(late[seq - 1000000]++, 0, "row %lld twice", (long long)seq);
            }
        }
        for (int64_t i = 0; i < 2500; i++)
            cr_assert_eq(count[i], 1, "row %lld seen %lld times", (long long)i,
                         (long long)count[i]);
        free(count), free(late), free(walk.rows);
        owl_store_close(s);
        rmroot();
        mkroot();
    }
}

Test(store, cursor_tokens_round_trip_and_reject_garbage)
{
    owl_scan_cursor c = {.time = -123456789012345, .key = 0xfedcba9876543210ull, .count = 42,
                         .order = OWL_ORDER_DESC}, d;
    char tok[OWL_SCAN_CURSOR_TEXT];
    owl_scan_cursor_format(&c, tok);
    cr_assert_lt(strlen(tok), OWL_SCAN_CURSOR_TEXT);
    for (const char *p = tok; *p; p++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    cr_assert_eq(owl_scan_cursor_parse(tok, &d), OWL_OK);
    cr_assert_eq(d.time, c.time);
    cr_assert_eq(d.key, c.key);
    cr_assert_eq(d.count, c.count);
    cr_assert_eq(d.order, c.order);
    static const char *bad[] = {"", "abc", "not a token at all, not at all....",
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* version 0 */
                                "1770000000.req-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(owl_scan_cursor_parse(bad[i], &d), OWL_EINVAL, "%s", bad[i]);
    cr_assert_eq(owl_scan_cursor_parse(NULL, &d), OWL_EINVAL);
    char t2[OWL_SCAN_CURSOR_TEXT];
    strcpy(t2, tok);
    t2[5] = '!';
    cr_assert_eq(owl_scan_cursor_parse(t2, &d), OWL_EINVAL);
    strcpy(t2, tok);
    t2[strlen(t2) - 1] = t2[strlen(t2) - 1] == 'B' ? 'C' : 'B'; /* stray bits past the end */
    int rc = owl_scan_cursor_parse(t2, &d);
    cr_assert(rc == OWL_EINVAL || d.count != c.count);
    /* an order that is neither ASC nor DESC */
    c.order = OWL_ORDER_NONE;
    owl_scan_cursor_format(&c, t2);
    cr_assert_eq(owl_scan_cursor_parse(t2, &d), OWL_EINVAL);
}

/* ---- WAL record versions ---- */

static void rec_str(owl_buf *b, const char *s)
{
    uint8_t v[10];
    cr_assert_eq(owl_buf_append(b, v, owl_varint_put(v, strlen(s))), OWL_OK);
    cr_assert_eq(owl_buf_append(b, s, strlen(s)), OWL_OK);
}

static void rec_u64(owl_buf *b, uint64_t x)
{
    uint8_t v[8];
    owl_put64le(v, x);
    cr_assert_eq(owl_buf_append(b, v, 8), OWL_OK);
}

static void rec_varint(owl_buf *b, uint64_t x)
{
    uint8_t v[10];
    cr_assert_eq(owl_buf_append(b, v, owl_varint_put(v, x)), OWL_OK);
}

/* A logs record of rows (time T0 + i s, ingest_time seq0 + i, stream "s", message "m<i>") in
 * version 2, or in version 3 with time as DELTA, ingest_time RAW, stream CONST and message
 * RAW, as a record an older or a newer owld left in the WAL. */
static void logs_record(owl_buf *b, int version, int64_t seq0, size_t n)
{
    static const char *const names[] = {"time", "ingest_time", "stream", "message"};
    static const uint8_t types[] = {OWL_TYPE_TIME, OWL_TYPE_I64, OWL_TYPE_DICT, OWL_TYPE_STR};
    char msg[32];
    cr_assert_eq(owl_buf_putc(b, (char)version), OWL_OK);
    rec_str(b, "logs");
    rec_str(b, "000000000001");
    rec_str(b, "old");
    rec_varint(b, 4);
    for (int c = 0; c < 4; c++) {
        rec_str(b, names[c]);
        cr_assert_eq(owl_buf_putc(b, (char)types[c]), OWL_OK);
    }
    rec_varint(b, n);
    if (version == 3) { /* DELTA: zigzag(T0 + 0 - 0), then zigzag(1000) for each next */
        cr_assert_eq(owl_buf_putc(b, 2), OWL_OK);
        rec_varint(b, (uint64_t)(T0 + DAY) << 1);
        for (size_t i = 1; i < n; i++)
            rec_varint(b, 2000);
    } else {
        for (size_t i = 0; i < n; i++)
            rec_u64(b, (uint64_t)(T0 + DAY + 1000 * (int64_t)i));
    }
    if (version == 3)
        cr_assert_eq(owl_buf_putc(b, 0), OWL_OK);
    for (size_t i = 0; i < n; i++)
        rec_u64(b, (uint64_t)(seq0 + (int64_t)i));
    if (version == 3) {
        cr_assert_eq(owl_buf_putc(b, 1), OWL_OK);
        rec_str(b, "s");
    } else {
        for (size_t i = 0; i < n; i++)
            rec_str(b, "s");
    }
    if (version == 3)
        cr_assert_eq(owl_buf_putc(b, 0), OWL_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(msg, sizeof msg, "m%zu", i);
        rec_str(b, msg);
    }
}

Test(store, wal_records_of_versions_2_and_3_replay, .init = mkroot, .fini = rmroot)
{
    char wdir[128];
    snprintf(wdir, sizeof wdir, "%s/wal", tmp);
    owl_wal_options wo = {OWL_WAL_SYNC_ALWAYS, 0, 1 << 20, 1 << 20, 0, 0};
    owl_wal *w = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_wal_open(wdir, &wo, NULL, NULL, &w, &err), OWL_OK, "%s", err.msg);
    for (int v = 2; v <= 3; v++) {
        owl_buf b = OWL_BUF_INIT;
        uint64_t lsn;
        logs_record(&b, v, v * 100, 5);
        struct iovec iov = {b.data, b.len};
        cr_assert_eq(owl_wal_append(w, &iov, 1, &lsn, &err), OWL_OK, "%s", err.msg);
        owl_buf_free(&b);
    }
    owl_wal_close(w);
    for (int round = 0; round < 2; round++) { /* replayed, then sealed and reopened */
        owl_store *s = open_store(tmp, 0);
        struct collect c;
        cr_assert_eq(scan_seqs(s, "old", NULL, 0, INT64_MIN, INT64_MAX, &c), 10);
        qsort(c.seqs, c.n, sizeof *c.seqs, cmp_i64);
        for (size_t i = 0; i < 10; i++)
            cr_assert_eq(c.seqs[i], (i < 5 ? 200 : 300) + (int64_t)(i % 5));
        free(c.seqs);
        owl_store_close(s);
    }
    /* a version 3 column of an unknown mode, or DELTA on a string column, is corrupt */
    for (int bad = 0; bad < 2; bad++) {
        rmroot();
        mkroot();
        snprintf(wdir, sizeof wdir, "%s/wal", tmp);
        cr_assert_eq(owl_wal_open(wdir, &wo, NULL, NULL, &w, &err), OWL_OK, "%s", err.msg);
        owl_buf b = OWL_BUF_INIT;
        uint64_t lsn;
        logs_record(&b, 3, 0, 5);
        /* the stream column's mode byte: before "s" (2 bytes) and 5 messages (3 each) */
        char *mode = b.data + b.len - 5 * 3 - 2 - 1;
        cr_assert_eq(*mode, 1);
        *mode = bad ? 2 : 7;
        struct iovec iov = {b.data, b.len};
        cr_assert_eq(owl_wal_append(w, &iov, 1, &lsn, &err), OWL_OK, "%s", err.msg);
        owl_buf_free(&b);
        owl_wal_close(w);
        owl_store *s = NULL;
        owl_store_options o = opts(0);
        cr_assert_neq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK);
        cr_assert(strstr(err.msg, "does not decode"), "%s", err.msg);
    }
}

/* ---- partition figures (owl_store_partition_bytes) ---- */

static int find_stats_fn(void *ud, const owl_store_table_stats *t)
{
    owl_store_table_stats *want = ud;
    if (!strcmp(t->partition, want->partition))
        *want = *t;
    return 0;
}

/* The figures owl_store_partitions computes by walking every part and memtable. */
static owl_store_table_stats walked(owl_store *s, const char *partition)
{
    owl_store_table_stats t;
    memset(&t, 0, sizeof t);
    owl_strlcpy(t.partition, partition, sizeof t.partition);
    owl_error err = {0};
    cr_assert_eq(owl_store_partitions(s, find_stats_fn, &t, &err), OWL_OK);
    return t;
}

static void part_bytes(owl_store *s, const char *partition, uint64_t *stored, uint64_t *rows)
{
    owl_error err = {0};
    cr_assert_eq(owl_store_partition_bytes(s, "logs", "000000000001", partition, stored, rows,
                                           &err), OWL_OK, "%s", err.msg);
}

Test(store, partition_bytes_follow_seals_compaction_and_retention, .init = mkroot,
     .fini = rmroot)
{
    owl_store *s = open_store(tmp, 0);
    owl_error err = {0};
    uint64_t stored, rows, before;
    cr_assert_eq(append_rows(s, "c", T0, 10, 0, 300, &err), OWL_OK);
    part_bytes(s, "c", &stored, &rows);
    owl_store_table_stats t = walked(s, "c");
    cr_assert_eq(rows, 300);
    cr_assert_eq(stored, t.raw_bytes, "a memtable counts its raw bytes");
    for (int k = 1; k < 6; k++) {
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
        cr_assert_eq(append_rows(s, "c", T0 + k * 100000, 10, k * 300, 300, &err), OWL_OK);
    }
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    part_bytes(s, "c", &stored, &rows);
    t = walked(s, "c");
    cr_assert_eq(t.parts, 6);
    cr_assert_eq(rows, 1800);
    cr_assert_eq(stored, t.stored_bytes, "parts count their file sizes");
    before = stored;
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_bytes(s, "c", &stored, &rows);
    t = walked(s, "c");
    cr_assert_eq(t.parts, 1);
    cr_assert_eq(rows, 1800);
    cr_assert_eq(stored, t.stored_bytes);
    cr_assert_lt(stored, before, "compaction shrinks the partition (%llu -> %llu bytes)",
                 (unsigned long long)before, (unsigned long long)stored);
    owl_store_close(s);

    s = open_store(tmp, 0); /* figures rebuilt at open from the parts */
    part_bytes(s, "c", &stored, &rows);
    cr_assert_eq(rows, 1800);
    cr_assert_eq(stored, walked(s, "c").stored_bytes);
    int64_t now = owl_now_ms();
    cr_assert_eq(append_rows(s, "r", now - 6 * DAY, 1, 0, 100, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "r", now - 1000, 1, 100, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    part_bytes(s, "r", &before, &rows);
    cr_assert_eq(rows, 200);
    cr_assert_eq(owl_store_set_retention(s, "logs", "000000000001", "r", 3, &err), OWL_OK);
    cr_assert_eq(owl_store_retire(s, now, &err), OWL_OK);
    part_bytes(s, "r", &stored, &rows);
    t = walked(s, "r");
    cr_assert_eq(rows, 100, "the expired day is gone from the figures");
    cr_assert_eq(stored, t.stored_bytes);
    cr_assert_lt(stored, before);
    owl_store_close(s);
}

/* ---- settling cold days (compact.c) ---- */

struct msg_row {
    int64_t seq;
    char msg[64];
};

struct msg_rows {
    struct msg_row *v;
    size_t n;
};

static int msg_collect_fn(void *ud, const owl_batch *b)
{
    struct msg_rows *c = ud;
    c->v = realloc(c->v, (c->n + b->nrows) * sizeof *c->v);
    for (size_t i = 0; i < b->nrows; i++) {
        struct msg_row *r = &c->v[c->n++];
        memset(r, 0, sizeof *r);
        r->seq = b->cols[0][i].i;
        size_t n = b->cols[1][i].b.n < sizeof r->msg - 1 ? b->cols[1][i].b.n : sizeof r->msg - 1;
        memcpy(r->msg, b->cols[1][i].b.p, n);
    }
    return 0;
}

static int cmp_msg_row(const void *a, const void *b)
{
    const struct msg_row *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct msg_rows all_rows(owl_store *s, const char *partition)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_MESSAGE};
    const char *parts[] = {partition};
    struct msg_rows c = {0};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .partitions = parts,
                  .npartitions = 1, .start = INT64_MIN, .end = INT64_MAX, .cols = cols,
                  .ncols = 2, .fn = msg_collect_fn, .ud = &c};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    qsort(c.v, c.n, sizeof *c.v, cmp_msg_row);
    return c;
}

static owl_store *open_settling(int settle_age_ms)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.zstd_level = 1;
    o.compact_zstd_level = 9;
    o.settle_age_ms = settle_age_ms;
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

static void ptn_file(const char *partition, int64_t day_ms, const char *name, char *out,
                     size_t outsz)
{
    char t[40];
    owl_time_format_rfc3339(day_ms, t, sizeof t);
    snprintf(out, outsz, "%s/logs/000000000001/%s/%.4s%.2s%.2s/%s", tmp, partition, t, t + 5,
             t + 8, name);
}

Test(store, a_lone_cold_part_settles_at_the_compaction_level_once, .init = mkroot,
     .fini = rmroot)
{
    int64_t now = owl_now_ms(), old = (now / DAY - 10) * DAY;
    owl_store *s = open_settling(1);
    owl_error err = {0};
    char sealed[512], settled[512], saved[600], cmd[1300];
    ptn_file("cold", old, "p-1-1-0.owp", sealed, sizeof sealed);
    ptn_file("cold", old, "p-1-1-1.owp", settled, sizeof settled);
    cr_assert_eq(append_rows(s, "cold", old, 10, 0, 5000, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "today", now - 1000, 0, 0, 50, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "small", now - DAY, 0, 0, 50, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert(file_exists(sealed));
    struct msg_rows before = all_rows(s, "cold");
    cr_assert_eq(before.n, 5000);
    uint64_t bytes0, bytes1, rows;
    part_bytes(s, "cold", &bytes0, &rows);
    snprintf(saved, sizeof saved, "%s/saved.owp", tmp);
    snprintf(cmd, sizeof cmd, "cp %s %s", sealed, saved);
    cr_assert_eq(system(cmd), 0);
    usleep(5000); /* past settle_age_ms */

    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_not(file_exists(sealed), "the sealed part was replaced");
    cr_assert(file_exists(settled), "one part at level 1: %s", settled);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1, "today's day and a small recent day are left alone");
    cr_assert_eq(count_files(tmp, "-0.owp"), 2);
    struct msg_rows after = all_rows(s, "cold");
    cr_assert_eq(after.n, before.n);
    cr_assert_eq(memcmp(after.v, before.v, before.n * sizeof *before.v), 0, "rows changed");
    free(after.v);
    part_bytes(s, "cold", &bytes1, &rows);
    cr_assert_eq(rows, 5000);
    cr_assert_lt(bytes1, bytes0, "settling shrinks the partition (%llu -> %llu bytes)",
                 (unsigned long long)bytes0, (unsigned long long)bytes1);
    cr_log_info("a lone part of 5000 rows: %llu bytes at zstd 1, %llu settled at 9",
                (unsigned long long)bytes0, (unsigned long long)bytes1);
    struct stat st1, st2;
    cr_assert_eq(stat(settled, &st1), 0);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    cr_assert_eq(stat(settled, &st2), 0);
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1, "a settled day is never rewritten again");
    cr_assert_eq(st1.st_ino, st2.st_ino);
    owl_store_close(s);

    /* as if the process died before unlinking the sealed part: both cover sequence 1, the
     * settled one is kept */
    snprintf(cmd, sizeof cmd, "mv %s %s", saved, sealed);
    cr_assert_eq(system(cmd), 0);
    s = open_settling(0);
    cr_assert_not(file_exists(sealed));
    cr_assert(file_exists(settled));
    after = all_rows(s, "cold");
    cr_assert_eq(after.n, before.n);
    cr_assert_eq(memcmp(after.v, before.v, before.n * sizeof *before.v), 0);
    free(after.v);
    part_bytes(s, "cold", &bytes0, &rows);
    cr_assert_eq(bytes0, bytes1);

    /* the default age (an hour without rows) holds a day just written */
    cr_assert_eq(append_rows(s, "warm", old, 10, 0, 500, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK);
    char warm[512];
    ptn_file("warm", old, "p-1-1-0.owp", warm, sizeof warm);
    cr_assert(file_exists(warm));
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 0);
    owl_store_close(s);
    free(before.v);
}

/* ---- streamed and hot merges (compact.c stream_merge, merge_run) ----
 * A merge streams its sources through owl_part_writer and must write exactly the part the
 * old read-everything-and-sort merge wrote: the rows stably sorted by (cluster column, time),
 * ties in source order, in blocks of block_rows. The oracle is owl_part_write of the rows
 * the test wrote, sorted so, compared byte for byte with the merged file. */

#define TENANT "000000000001"
#define MERGE_BLOCK_ROWS 7 /* rows per block: sources' and output's blocks never line up */

static const owl_schema *const both_schemas[] = {&owl_logs_schema, &owl_spans_schema};

static owl_store *open_merging(int settle_age_ms)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.block_rows = MERGE_BLOCK_ROWS;
    o.zstd_level = 1;
    o.compact_zstd_level = 9; /* message columns try templates (LOGTPL) at 9 */
    o.compact_min_parts = 4;
    o.settle_age_ms = settle_age_ms;
    cr_assert_eq(owl_store_open(tmp, both_schemas, 2, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

/* Rows column-major with their bytes owned: what a test wrote, or read back. */
struct tab {
    const owl_schema *sc;
    size_t n, cap;
    owl_cell *c[OWL_MAX_COLS];
};

static void tab_push(struct tab *t, const owl_cell *const *cols, size_t r)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        for (size_t c = 0; c < t->sc->ncols; c++)
            cr_assert_not_null(t->c[c] = realloc(t->c[c], t->cap * sizeof *t->c[c]));
    }
    for (size_t c = 0; c < t->sc->ncols; c++) {
        owl_cell v = cols[c][r];
        if (owl_type_is_bytes(t->sc->cols[c].type)) {
            char *p = malloc(v.b.n + 1);
            cr_assert_not_null(p);
            if (v.b.n)
                memcpy(p, v.b.p, v.b.n);
            v.b.p = p;
        }
        t->c[c][t->n] = v;
    }
    t->n++;
}

static void tab_free(struct tab *t)
{
    for (size_t c = 0; c < t->sc->ncols; c++) {
        for (size_t r = 0; owl_type_is_bytes(t->sc->cols[c].type) && r < t->n; r++)
            free((void *)t->c[c][r].b.p);
        free(t->c[c]);
    }
    memset(t->c, 0, sizeof t->c);
    t->n = t->cap = 0;
}

static owl_rows tab_rows(const struct tab *t)
{
    owl_rows rows = {.nrows = t->n};
    for (size_t c = 0; c < t->sc->ncols; c++)
        rows.cols[c] = t->c[c];
    return rows;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* The id column: group * 1000 + row, so the id says which seal wrote a row and in what order. */
static size_t id_col(const owl_schema *sc)
{
    return sc == &owl_spans_schema ? OWL_SPANS_DURATION : OWL_LOGS_INGEST_TIME;
}

/* Appends to w the n rows of group g: times among 16 values one unit apart from t0 and
 * (clustered) keys among 4, so (key, time) pairs repeat inside a group and across groups;
 * the id in id_col; every byte value differs from row to row. */
static void gen_group(struct tab *w, int64_t t0, int64_t unit, int g, int n, uint64_t *rng)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta"};
    static const uint64_t keys[] = {3, 7, (1ull << 63) | 5, UINT64_MAX - 1};
    const owl_schema *sc = w->sc;
    size_t kc = owl__cluster_col(sc);
    for (int i = 0; i < n; i++) {
        owl_cell row[OWL_MAX_COLS];
        const owl_cell *cols[OWL_MAX_COLS];
        char text[OWL_MAX_COLS][96];
        bson_t doc = BSON_INITIALIZER;
        for (size_t c = 0; c < sc->ncols; c++) {
            uint64_t x = xorshift(rng);
            char *b = text[c];
            int len = 0;
            cols[c] = &row[c];
            switch (sc->cols[c].type) {
            case OWL_TYPE_TIME:
                row[c].i = t0 + (int64_t)(x % 16) * unit;
                break;
            case OWL_TYPE_I64:
                row[c].i = c == id_col(sc) ? g * 1000 + i : (int64_t)x;
                break;
            case OWL_TYPE_U64:
                row[c].u = c == kc ? keys[x % 4] : x;
                break;
            case OWL_TYPE_F64:
                row[c].f = (double)(x % 100000) / 8;
                break;
            case OWL_TYPE_DICT:
                len = snprintf(b, 96, "%s-%d", words[x % 4], (int)(x % 3));
                break;
            case OWL_TYPE_STR:
                len = snprintf(b, 96, "g%d row %d %s user=u%d took %llums", g, i,
                               words[x % 4], (int)(x % 7), (unsigned long long)(x % 100000));
                break;
            case OWL_TYPE_ID8:
            case OWL_TYPE_ID16:
                len = (int)owl_type_id_width(sc->cols[c].type);
                for (int k = 0; k < len; k++)
                    b[k] = (char)(k == 0 ? (uint64_t)g : k == 1 ? (uint64_t)i : xorshift(rng));
                break;
            case OWL_TYPE_BSON:
                if (i % 2) {
                    bson_reinit(&doc);
                    BSON_APPEND_INT32(&doc, "c", (int32_t)c);
                    BSON_APPEND_INT32(&doc, "g", g);
                    BSON_APPEND_INT32(&doc, "i", i);
                    len = (int)doc.len;
                    memcpy(b, bson_get_data(&doc), doc.len);
                }
                break;
            }
            if (owl_type_is_bytes(sc->cols[c].type))
                row[c].b = (owl_bytes){b, (size_t)len};
        }
        tab_push(w, cols, 0);
        bson_destroy(&doc);
    }
}

/* Appends rows [from, w->n) of w to partition and, with flush, seals them into one part. */
static void write_group(owl_store *s, const struct tab *w, size_t from, const char *partition,
                        int flush)
{
    owl_error err = {0};
    owl_rows rows = {.nrows = w->n - from};
    for (size_t c = 0; c < w->sc->ncols; c++)
        rows.cols[c] = w->c[c] + from;
    cr_assert_eq(owl_store_append(s, w->sc->name, TENANT, partition, &rows, &err), OWL_OK,
                 "%s", err.msg);
    if (flush)
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
}

static int64_t id_of(const struct tab *t, size_t r)
{
    return t->c[id_col(t->sc)][r].i;
}

/* A row's sort key: (cluster key, time) or an id, then its index in its table. */
struct ord {
    uint64_t k;
    int64_t t;
    size_t i;
};

static int cmp_ord(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The rows of w whose group is in [g0, g1], in the order a merge of their seals keeps: w's
 * order (seal, then append) stably sorted by (cluster key, time). */
static struct tab merged_order(const struct tab *w, int g0, int g1)
{
    size_t kc = owl__cluster_col(w->sc), n = 0;
    struct ord *o = calloc(w->n, sizeof *o);
    cr_assert_not_null(o);
    for (size_t r = 0; r < w->n; r++) {
        int g = (int)(id_of(w, r) / 1000);
        if (g < g0 || g > g1)
            continue;
        o[n++] = (struct ord){kc == SIZE_MAX ? 0 : w->c[kc][r].u,
                              w->c[w->sc->time_col][r].i, r};
    }
    qsort(o, n, sizeof *o, cmp_ord);
    struct tab want = {.sc = w->sc};
    for (size_t j = 0; j < n; j++)
        tab_push(&want, (const owl_cell *const *)w->c, o[j].i);
    free(o);
    return want;
}

static int cell_eq(enum owl_type t, owl_cell a, owl_cell b)
{
    if (!owl_type_is_bytes(t))
        return a.u == b.u;
    return a.b.n == b.b.n && (a.b.n == 0 || memcmp(a.b.p, b.b.p, a.b.n) == 0);
}

/* got holds want's rows (every column) in want's order. */
static void expect_same_rows(const struct tab *got, const struct tab *want, const char *what)
{
    cr_assert_eq(got->n, want->n, "%s: %zu rows, want %zu", what, got->n, want->n);
    for (size_t r = 0; r < want->n; r++)
        for (size_t c = 0; c < want->sc->ncols; c++)
            cr_assert(cell_eq(want->sc->cols[c].type, got->c[c][r], want->c[c][r]),
                      "%s: row %zu (id %lld, want id %lld) differs in column %s", what, r,
                      (long long)id_of(got, r), (long long)id_of(want, r),
                      want->sc->cols[c].name);
}

/* t's rows by id (ids are unique). */
static struct tab by_id(const struct tab *t)
{
    struct ord *o = calloc(t->n + 1, sizeof *o);
    cr_assert_not_null(o);
    for (size_t r = 0; r < t->n; r++)
        o[r] = (struct ord){0, id_of(t, r), r};
    qsort(o, t->n, sizeof *o, cmp_ord);
    struct tab sorted = {.sc = t->sc};
    for (size_t r = 0; r < t->n; r++)
        tab_push(&sorted, (const owl_cell *const *)t->c, o[r].i);
    free(o);
    return sorted;
}

/* expect_same_rows as multisets. */
static void expect_same_row_set(const struct tab *got, const struct tab *want, const char *what)
{
    struct tab a = by_id(got), b = by_id(want);
    expect_same_rows(&a, &b, what);
    tab_free(&a), tab_free(&b);
}

/* Rows in merge order on their own terms: (cluster key, time) never falls, and rows alike in
 * both come in seal order, then in the order they were appended (their ids ascending). */
static void expect_merge_order(const struct tab *t, const char *what)
{
    size_t kc = owl__cluster_col(t->sc), tc = t->sc->time_col;
    for (size_t r = 1; r < t->n; r++) {
        uint64_t k0 = kc == SIZE_MAX ? 0 : t->c[kc][r - 1].u;
        uint64_t k1 = kc == SIZE_MAX ? 0 : t->c[kc][r].u;
        int64_t t0 = t->c[tc][r - 1].i, t1 = t->c[tc][r].i;
        cr_assert(k0 < k1 || (k0 == k1 && t0 <= t1), "%s: row %zu goes back in (key, time)",
                  what, r);
        if (k0 == k1 && t0 == t1)
            cr_assert_lt(id_of(t, r - 1), id_of(t, r), "%s: tie at row %zu out of seal order",
                         what, r);
    }
}

/* Rows alike in (key, time) from different groups next to each other in t: the ties the
 * merge has to order by source. */
static size_t cross_group_ties(const struct tab *t)
{
    size_t kc = owl__cluster_col(t->sc), tc = t->sc->time_col, n = 0;
    for (size_t r = 1; r < t->n; r++)
        n += (kc == SIZE_MAX || t->c[kc][r - 1].u == t->c[kc][r].u) &&
             t->c[tc][r - 1].i == t->c[tc][r].i && id_of(t, r - 1) / 1000 != id_of(t, r) / 1000;
    return n;
}

static int tab_collect_fn(void *ud, const owl_batch *b)
{
    struct tab *t = ud;
    for (size_t r = 0; r < b->nrows; r++)
        tab_push(t, b->cols, r);
    return 0;
}

/* Every row of partition, every column, in the order an unordered scan gives (parts in the
 * day's list order, each block by block, then memtables). */
static struct tab scan_all(owl_store *s, const owl_schema *sc, const char *partition)
{
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        cols[c] = c;
    const char *parts[] = {partition};
    struct tab t = {.sc = sc};
    owl_scan q = {.table = sc->name, .tenant = TENANT, .partitions = parts, .npartitions = 1,
                  .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = sc->ncols,
                  .fn = tab_collect_fn, .ud = &t};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    return t;
}

/* The part files of (table, partition): names sorted and joined by spaces into names; dir
 * gets the directory of one of them (the tests keep a partition's rows in one day). */
static void part_files(const char *table, const char *partition, char *names, size_t nsz,
                       char *dir, size_t dsz)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s/%s/%s/%s -name '*.owp' -printf '%%f\\n' | sort | "
             "tr '\\n' ' ' | sed 's/ $//'", tmp, table, TENANT, partition);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(names, 1, nsz - 1, f);
    names[n] = 0;
    pclose(f);
    snprintf(cmd, sizeof cmd, "dirname $(find %s/%s/%s/%s -name '*.owp' | head -1)", tmp, table,
             TENANT, partition);
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    n = fread(dir, 1, dsz - 1, f);
    dir[n] = 0;
    dir[strcspn(dir, "\n")] = 0;
    pclose(f);
}

/* Every row of the part file at path, block by block, with its blocks' sizes checked: full
 * blocks of MERGE_BLOCK_ROWS, the last one the rest. */
static struct tab part_rows(const char *path, const owl_schema *sc, owl_part **out)
{
    owl_error err = {0};
    owl_part *p = NULL;
    cr_assert_eq(owl_part_open(path, sc, &p, &err), OWL_OK, "%s: %s", path, err.msg);
    const owl_part_meta *pm = owl_part_get_meta(p);
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        cols[c] = c;
    struct tab t = {.sc = sc};
    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    cr_assert_eq(pm->nblocks, (pm->rows + MERGE_BLOCK_ROWS - 1) / MERGE_BLOCK_ROWS);
    for (size_t b = 0; b < pm->nblocks; b++) {
        cr_assert_eq(owl_part_read_block(p, b, cols, sc->ncols, &bd, &err), OWL_OK, "%s",
                     err.msg);
        size_t want = b + 1 < pm->nblocks ? MERGE_BLOCK_ROWS : pm->rows - b * MERGE_BLOCK_ROWS;
        cr_assert_eq(bd.nrows, want, "%s: block %zu holds %zu rows, want %zu", path, b,
                     bd.nrows, want);
        for (size_t r = 0; r < bd.nrows; r++)
            tab_push(&t, (const owl_cell *const *)bd.cells, r);
    }
    owl_block_data_free(&bd);
    *out = p;
    return t;
}

/* The merged part dir/name holds want's rows in want's order at level, and is byte for byte
 * the part owl_part_write writes of them (the merge before it streamed: sort_merge). */
static void expect_merged_part(const char *dir, const char *name, const char *partition,
                               const struct tab *want, int level, int zlevel)
{
    char path[1024], ref[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    owl_part *p = NULL;
    struct tab got = part_rows(path, want->sc, &p);
    const owl_part_meta *pm = owl_part_get_meta(p);
    cr_assert_eq(pm->level, level, "%s: level %d", name, (int)pm->level);
    expect_same_rows(&got, want, name);
    expect_merge_order(&got, name);
    tab_free(&got);

    owl_error err = {0};
    owl_rows rows = tab_rows(want);
    owl_part_info info = {want->sc->name, TENANT, partition, pm->day, pm->max_lsn, level, 1};
    snprintf(ref, sizeof ref, "%s/ref.owp", tmp);
    cr_assert_eq(owl_part_write(ref, want->sc, &info, &rows, MERGE_BLOCK_ROWS, zlevel, NULL,
                                &err), OWL_OK, "%s", err.msg);
    owl_part_close(p);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    cr_assert_eq(owl_read_file(path, 1 << 26, &a, &na, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_read_file(ref, 1 << 26, &b, &nb, &err), OWL_OK, "%s", err.msg);
    cr_assert(na == nb && memcmp(a, b, na) == 0,
              "%s (%zu bytes) is not the part the sorting merge writes (%zu bytes)", name, na,
              nb);
    free(a), free(b);
    unlink(ref);
}

/* Six seals of sc's rows in one day, compacted: one part of level 1 written as the sorting
 * merge wrote it, the same rows after a reopen. */
static void streamed_merge_case(const owl_schema *sc, int64_t t0, int64_t unit)
{
    const char *ptn = "merge";
    owl_store *s = open_merging(0);
    owl_error err = {0};
    uint64_t rng = 88172645463325252ull;
    struct tab w = {.sc = sc};
    char names[1024], dir[1024];
    for (int g = 0; g < 6; g++) {
        size_t from = w.n;
        gen_group(&w, t0, unit, g, 23 + 6 * g, &rng);
        write_group(s, &w, from, ptn, 1);
    }
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-1-0.owp p-2-2-0.owp p-3-3-0.owp p-4-4-0.owp p-5-5-0.owp "
                            "p-6-6-0.owp");
    struct tab want = merged_order(&w, 0, 5);
    cr_assert_gt(cross_group_ties(&want), 10, "the data must hold ties across seals");

    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-6-1.owp", "exactly one merged part");
    expect_merged_part(dir, "p-1-6-1.owp", ptn, &want, 1, 9);
    struct tab got = scan_all(s, sc, ptn);
    expect_same_rows(&got, &want, "scan after the merge");
    tab_free(&got);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1);
    owl_store_close(s);

    s = open_merging(0);
    got = scan_all(s, sc, ptn);
    expect_same_rows(&got, &want, "scan after a reopen");
    expect_same_row_set(&got, &w, "rows written");
    tab_free(&got);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-6-1.owp");
    owl_store_close(s);
    tab_free(&want), tab_free(&w);
}

Test(store, a_streamed_merge_of_a_clustered_table_orders_by_key_time_then_seal, .init = mkroot,
     .fini = rmroot)
{
    streamed_merge_case(&owl_spans_schema, (T0 + 3600000) * 1000000, 1000000);
}

Test(store, a_streamed_merge_of_logs_orders_by_time_then_seal, .init = mkroot, .fini = rmroot)
{
    streamed_merge_case(&owl_logs_schema, T0 + 3600000, 1);
}

/* ---- combining rows at merges (owl_combiner) ----
 * A test combiner on spans: rows of one trace key, time and service are one group; the
 * combined row keeps the first's columns but http_status (the sum, wrapping) and
 * status_message ("n=<rows>", bytes the combiner makes). */
struct comb_state {
    uint64_t sum, n;
};

static uint64_t msg_rows(owl_bytes b)
{
    char text[32];
    if (b.n < 3 || b.n >= sizeof text || memcmp(b.p, "n=", 2))
        return 1;
    memcpy(text, b.p, b.n);
    text[b.n] = 0;
    return strtoull(text + 2, NULL, 10);
}

static int comb_same(const owl_cell *const *a, size_t ra, const owl_cell *const *b, size_t rb)
{
    owl_bytes x = a[OWL_SPANS_SERVICE][ra].b, y = b[OWL_SPANS_SERVICE][rb].b;
    return x.n == y.n && (x.n == 0 || memcmp(x.p, y.p, x.n) == 0);
}

static int comb_add(void *state, const owl_cell *const *cols, size_t r)
{
    struct comb_state *st = state;
    st->sum += cols[OWL_SPANS_HTTP_STATUS][r].u;
    st->n += msg_rows(cols[OWL_SPANS_STATUS_MSG][r].b);
    return OWL_OK;
}

static int comb_emit(void *state, owl_cell *const *out, size_t r, owl_arena *bytes)
{
    struct comb_state *st = state;
    char text[32];
    int n = snprintf(text, sizeof text, "n=%llu", (unsigned long long)st->n);
    void *p = owl_arena_copy(bytes, text, (size_t)n);
    if (!p)
        return OWL_ENOMEM;
    out[OWL_SPANS_HTTP_STATUS][r].u = st->sum;
    out[OWL_SPANS_STATUS_MSG][r].b = (owl_bytes){p, (size_t)n};
    return OWL_OK;
}

static void comb_drop(void *state)
{
    (void)state;
}

static const owl_combiner test_combiner = {.same = comb_same,
                                           .state_bytes = sizeof(struct comb_state),
                                           .add = comb_add,
                                           .emit = comb_emit,
                                           .drop = comb_drop};

/* Per (trace key, time, service) of t: the rows it stands for and the sum of http_status. */
struct triple {
    uint64_t k;
    int64_t t;
    char svc[32];
    uint64_t rows, sum;
};

static int cmp_triple(const void *a, const void *b)
{
    const struct triple *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return strcmp(x->svc, y->svc);
}

static size_t triples(const struct tab *t, struct triple *out)
{
    size_t n = 0;
    for (size_t r = 0; r < t->n; r++) {
        struct triple x = {.k = t->c[OWL_SPANS_TRACE_KEY][r].u, .t = t->c[OWL_SPANS_TIME][r].i,
                           .rows = msg_rows(t->c[OWL_SPANS_STATUS_MSG][r].b),
                           .sum = t->c[OWL_SPANS_HTTP_STATUS][r].u};
        owl_bytes sv = t->c[OWL_SPANS_SERVICE][r].b;
        cr_assert_lt(sv.n, sizeof x.svc);
        memcpy(x.svc, sv.p, sv.n);
        size_t i = 0;
        while (i < n && cmp_triple(&out[i], &x) != 0)
            i++;
        if (i == n)
            out[n++] = x;
        else
            out[i].rows += x.rows, out[i].sum += x.sum;
    }
    qsort(out, n, sizeof *out, cmp_triple);
    return n;
}

/* Six seals of spans whose (key, time, service) repeat within and across seals, compacted
 * with the combiner: fewer rows, in merge order, each triple standing for the rows and the
 * http_status sum it had, in blocks as the writer lays them (every block full but the last);
 * without the combiner the same merge keeps every row. */
Test(store, a_merge_combines_rows_with_the_table_s_combiner, .init = mkroot, .fini = rmroot)
{
    const owl_schema *sc = &owl_spans_schema;
    for (int with = 0; with < 2; with++) {
        owl_store *s = open_merging(0);
        owl_error err = {0};
        if (with)
            cr_assert_eq(owl_store_set_combiner(s, "spans", &test_combiner, &err), OWL_OK);
        cr_assert_eq(owl_store_set_combiner(s, "nosuch", &test_combiner, &err), OWL_EINVAL);
        uint64_t rng = 88172645463325252ull;
        struct tab w = {.sc = sc};
        const char *ptn = with ? "comb" : "plain";
        for (int g = 0; g < 6; g++) {
            size_t from = w.n;
            gen_group(&w, (T0 + 3600000) * 1000000, 1000000, g, 23 + 6 * g, &rng);
            write_group(s, &w, from, ptn, 1);
        }
        cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
        char names[1024], dir[1024], path[2100];
        part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
        cr_assert_str_eq(names, "p-1-6-1.owp", "exactly one merged part");
        snprintf(path, sizeof path, "%s/%s", dir, names);
        owl_part *p = NULL;
        struct tab got = part_rows(path, sc, &p); /* checks the blocks' sizes */
        owl_part_close(p);
        expect_merge_order(&got, "combined");
        static struct triple want_t[2048], got_t[2048];
        size_t nw = triples(&w, want_t), ng = triples(&got, got_t);
        cr_assert_eq(ng, nw);
        for (size_t i = 0; i < nw; i++)
            cr_assert(!cmp_triple(&got_t[i], &want_t[i]) && got_t[i].rows == want_t[i].rows &&
                      got_t[i].sum == want_t[i].sum, "triple %zu", i);
        if (with) /* a group may split where a block ends: at most a row a block more */
            cr_assert(got.n >= nw && got.n <= nw + (got.n + MERGE_BLOCK_ROWS - 1) /
                      MERGE_BLOCK_ROWS && got.n < w.n, "%zu rows of %zu, %zu triples", got.n,
                      w.n, nw);
        else
            cr_assert_eq(got.n, w.n);
        struct tab scanned = scan_all(s, sc, ptn);
        expect_same_rows(&scanned, &got, "scan");
        tab_free(&scanned), tab_free(&got), tab_free(&w);
        owl_store_close(s);
    }
}

/* Yesterday's small day waits for the span pass instead of settling, unless its partition
 * has a combiner: then it settles (its two parts merged, its groups combined) at once. */
Test(store, a_small_recent_day_settles_when_its_rows_combine, .init = mkroot, .fini = rmroot)
{
    const owl_schema *sc = &owl_spans_schema;
    int64_t yesterday = (owl_now_ms() / DAY - 1) * DAY + 3600000;
    for (int with = 0; with < 2; with++) {
        owl_store *s = open_merging(1);
        owl_error err = {0};
        if (with)
            cr_assert_eq(owl_store_set_combiner(s, "spans", &test_combiner, &err), OWL_OK);
        uint64_t rng = 362436069ull;
        struct tab w = {.sc = sc};
        const char *ptn = with ? "comb" : "plain";
        for (int g = 0; g < 2; g++) {
            size_t from = w.n;
            gen_group(&w, yesterday * 1000000, 1000000, g, 30, &rng);
            write_group(s, &w, from, ptn, 1);
        }
        usleep(5000); /* past settle_age_ms */
        cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
        char names[1024], dir[1024];
        part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
        cr_assert_str_eq(names, with ? "p-1-2-1.owp" : "p-1-1-0.owp p-2-2-0.owp", "%s",
                         with ? "settled: one part" : "the small day waits");
        struct tab got = scan_all(s, sc, ptn);
        if (with)
            cr_assert_lt(got.n, w.n, "combined: %zu rows of %zu", got.n, w.n);
        else
            cr_assert_eq(got.n, w.n);
        tab_free(&got), tab_free(&w);
        owl_store_close(s);
    }
}

/* A day still receiving rows (a memtable) merges only its level-0 parts, into a level-0 part
 * at the seal's zstd level; once the day is cold, settling rewrites that part at the
 * compaction level. A part a quiet merge wrote (level 1) is left alone meanwhile. */
Test(store, a_hot_merge_writes_level_0_that_settling_rewrites_once_the_day_is_cold,
     .init = mkroot, .fini = rmroot)
{
    const owl_schema *sc = &owl_spans_schema;
    const char *ptn = "hot";
    int64_t t0 = (T0 + 3600000) * 1000000, unit = 1000000;
    owl_store *s = open_merging(1);
    owl_error err = {0};
    uint64_t rng = 2463534242ull;
    struct tab w = {.sc = sc};
    char names[1024], dir[1024], path[1200];
    for (int g = 0; g < 4; g++) {
        size_t from = w.n;
        gen_group(&w, t0, unit, g, 20 + 3 * g, &rng);
        write_group(s, &w, from, ptn, 1);
    }
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-4-1.owp", "no memtable: a quiet merge, level 1");
    snprintf(path, sizeof path, "%s/p-1-4-1.owp", dir);
    struct stat quiet0, quiet1;
    cr_assert_eq(stat(path, &quiet0), 0);

    for (int g = 4; g < 9; g++) { /* group 8 stays in a memtable */
        size_t from = w.n;
        gen_group(&w, t0, unit, g, 20 + 3 * g, &rng);
        write_group(s, &w, from, ptn, g < 8);
    }
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-4-1.owp p-5-8-0.owp", "a hot merge of the level-0 parts");
    cr_assert_eq(stat(path, &quiet1), 0);
    cr_assert_eq(quiet0.st_ino, quiet1.st_ino, "the level-1 part was rewritten");
    struct tab hot = merged_order(&w, 4, 7);
    cr_assert_gt(cross_group_ties(&hot), 5);
    expect_merged_part(dir, "p-5-8-0.owp", ptn, &hot, 0, 1);
    struct tab got = scan_all(s, sc, ptn);
    expect_same_row_set(&got, &w, "scan after the hot merge");
    tab_free(&got);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 2);
    usleep(5000); /* past settle_age_ms: only the memtable keeps the day from settling */
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 2, "a hot day is neither merged again nor settled");
    owl_store_close(s); /* seals group 8 into p-9-9-0 */

    s = open_merging(1);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-4-1.owp p-5-8-0.owp p-9-9-0.owp");
    expect_merged_part(dir, "p-5-8-0.owp", ptn, &hot, 0, 1);
    got = scan_all(s, sc, ptn);
    expect_same_row_set(&got, &w, "scan after a reopen");
    tab_free(&got);
    usleep(5000);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-4-1.owp p-5-9-1.owp", "the cold day settles");
    struct tab settled = merged_order(&w, 4, 8), quiet = merged_order(&w, 0, 3);
    expect_merged_part(dir, "p-5-9-1.owp", ptn, &settled, 1, 9);
    expect_merged_part(dir, "p-1-4-1.owp", ptn, &quiet, 1, 9);
    got = scan_all(s, sc, ptn);
    expect_same_row_set(&got, &w, "scan after settling");
    tab_free(&got);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    owl_store_stats_get(s, &st);
    cr_assert_eq(st.compactions, 1, "settled once");
    owl_store_close(s);

    s = open_merging(1);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-4-1.owp p-5-9-1.owp");
    got = scan_all(s, sc, ptn);
    expect_same_row_set(&got, &w, "scan after settling and a reopen");
    tab_free(&got);
    owl_store_close(s);
    tab_free(&hot), tab_free(&settled), tab_free(&quiet), tab_free(&w);
}

/* A source that is not in (cluster key, time) order (here a spans part written before the
 * table was clustered: by time alone) is found out in the middle of a streamed merge, after
 * output blocks were written; the merge starts again by sorting and writes the same part. */
Test(store, a_source_out_of_cluster_order_falls_back_to_the_sorting_merge, .init = mkroot,
     .fini = rmroot)
{
    const owl_schema *sc = &owl_spans_schema;
    const char *ptn = "flat";
    int64_t t0 = (T0 + 3600000) * 1000000, unit = 1000000;
    owl_store *s = open_merging(0);
    owl_error err = {0};
    uint64_t rng = 362436069ull;
    struct tab w = {.sc = sc};
    char names[1024], dir[1024], path[1200];
    for (int g = 0; g < 4; g++) {
        size_t from = w.n;
        gen_group(&w, t0, unit, g, 30, &rng);
        write_group(s, &w, from, ptn, 1);
    }
    owl_store_close(s);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p-4-4-0.owp", dir);
    owl_part *p4 = NULL;
    cr_assert_eq(owl_part_open(path, sc, &p4, &err), OWL_OK, "%s", err.msg);
    const owl_part_meta *m4 = owl_part_get_meta(p4);
    owl_part_info info = {sc->name, TENANT, ptn, m4->day, m4->max_lsn, 0, 1};
    owl_part_close(p4);

    /* group 4: the largest key for the earlier half of the times, a small one after, sorted
     * by time alone (stably), as the unclustered table was */
    size_t from = w.n;
    gen_group(&w, t0, unit, 4, 30, &rng);
    for (size_t r = from; r < w.n; r++)
        w.c[OWL_SPANS_TRACE_KEY][r].u =
            w.c[sc->time_col][r].i < t0 + 8 * unit ? UINT64_MAX : (uint64_t)3;
    struct tab g4 = {.sc = sc};
    for (int64_t t = t0; t < t0 + 16 * unit; t += unit)
        for (size_t r = from; r < w.n; r++)
            if (w.c[sc->time_col][r].i == t)
                tab_push(&g4, (const owl_cell *const *)w.c, r);
    cr_assert_eq(g4.n, w.n - from);
    owl_coldef flat_cols[OWL_SPANS_NCOLS];
    memcpy(flat_cols, sc->cols, sizeof flat_cols);
    flat_cols[OWL_SPANS_TRACE_KEY].flags = 0;
    owl_schema flat = *sc;
    flat.cols = flat_cols;
    owl_rows rows = tab_rows(&g4);
    snprintf(path, sizeof path, "%s/p-5-5-0.owp", dir);
    cr_assert_eq(owl_part_write(path, &flat, &info, &rows, MERGE_BLOCK_ROWS, 1, NULL, &err),
                 OWL_OK, "%s", err.msg);

    s = open_merging(0);
    struct tab got = scan_all(s, sc, ptn);
    expect_same_row_set(&got, &w, "scan of the five parts");
    tab_free(&got);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
    cr_assert_str_eq(names, "p-1-5-1.owp");
    cr_assert_eq(count_files(tmp, ".tmp"), 0, "the abandoned streamed part was removed");
    struct tab want = merged_order(&w, 0, 4);
    expect_merged_part(dir, "p-1-5-1.owp", ptn, &want, 1, 9);
    got = scan_all(s, sc, ptn);
    expect_same_rows(&got, &want, "scan after the merge");
    tab_free(&got);
    owl_store_close(s);
    s = open_merging(0);
    got = scan_all(s, sc, ptn);
    expect_same_rows(&got, &want, "scan after a reopen");
    tab_free(&got);
    owl_store_close(s);
    tab_free(&want), tab_free(&g4), tab_free(&w);
}

/* Sorts a[0..n) with owl__sort_time_idx and b, scratch of n, with qsort, expects the same
 * order, and frees both. */
static void expect_qsort_order(struct time_idx *a, struct time_idx *b, size_t n, int shape)
{
    memcpy(b, a, n * sizeof *a);
    qsort(b, n, sizeof *b, owl__cmp_time_idx);
    cr_assert_eq(owl__sort_time_idx(a, n), OWL_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert(a[i].k == b[i].k && a[i].t == b[i].t && a[i].i == b[i].i,
                  "n %zu shape %d: element %zu differs", n, shape, i);
    free(a);
    free(b);
}

/* The seal's and merge's sort: the radix sort gives exactly qsort's (key, time, index) order,
 * negative times and repeated keys and times included, at sizes either side of its cut-over. */
Test(store, radix_sort_matches_qsort)
{
    size_t sizes[] = {5, 4095, 4096, 100000};
    uint64_t x = 88172645463325252ull;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        struct time_idx *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        cr_assert(a && b);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            a[i].k = s % 2 ? 0 : (x % 3 ? x >> 40 : x); /* repeats, and full-width keys */
            a[i].t = (int64_t)((x >> 8) % 1000) - 500 + (s == 3 ? (int64_t)(x & 0xffff) << 30 : 0);
            a[i].i = i;
        }
        expect_qsort_order(a, b, n, -1);
    }
}

/* Hash-like cluster keys (a trace id's) take the sort's top-bits pass: buckets finished by
 * insertion, by qsort and, for one trace of 5,000 rows, by the LSD sort; keys of few top bits
 * fall back to the LSD sort. Always qsort's (key, time, index) order. */
Test(store, radix_sort_of_hashed_keys_matches_qsort)
{
    size_t sizes[] = {4096, 65536, 100000};
    uint64_t x = 2463534242ull;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int shape = 0; shape < 3; shape++) {
            size_t n = sizes[s];
            struct time_idx *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            cr_assert(a && b);
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                uint64_t trace = shape == 1 && i % 20 == 0 ? 7 : (x >> 3) % (n / 6 + 1);
                a[i].k = owl_mix64(trace) >> (shape == 2 ? 40 : 0); /* 2: few top bits */
                a[i].t = (int64_t)(x % 2000) - 1000;
                a[i].i = i;
            }
            expect_qsort_order(a, b, n, shape);
        }
}

/* WAL version 3's RUNS mode: a byte column whose values repeat row after row is written once
 * per run, and replay (the writer died before any seal) gives every row its own value back. */
static int stream_fn(void *ud, const owl_batch *b)
{
    char *out = ud;
    for (size_t i = 0; i < b->nrows; i++) {
        size_t at = strlen(out);
        snprintf(out + at, 4096 - at, "%lld=%.*s ", (long long)b->cols[0][i].i,
                 (int)b->cols[1][i].b.n, (const char *)b->cols[1][i].b.p);
    }
    return 0;
}

Test(store, wal_runs_of_repeated_values_replay, .init = mkroot, .fini = rmroot)
{
    static const char *streams[] = {"a", "a", "a", "b", "b", "resource-xyz", "resource-xyz",
                                    "resource-xyz", "resource-xyz", "c"};
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        owl_store *s = open_store(tmp, 0);
        owl_rowbuf b;
        owl_rowbuf_init(&b, &owl_logs_schema);
        for (size_t i = 0; i < 10; i++)
            add_log(&b, T0 + (int64_t)i, (int64_t)i, streams[i], "m", 1);
        owl_error err = {0};
        int rc = owl_store_append(s, "logs", "000000000001", "runs", owl_rowbuf_rows(&b), &err);
        _exit(rc == OWL_OK ? 0 : 1); /* no close: the rows live only in the WAL */
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int round = 0; round < 2; round++) { /* replayed, then sealed and reopened */
        owl_store *s = open_store(tmp, 0);
        size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_STREAM};
        char got[4096] = "";
        owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN,
                      .end = INT64_MAX, .cols = cols, .ncols = 2, .fn = stream_fn, .ud = got,
                      .order = OWL_ORDER_ASC};
        owl_error err = {0};
        cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
        cr_assert_str_eq(got, "0=a 1=a 2=a 3=b 4=b 5=resource-xyz 6=resource-xyz "
                              "7=resource-xyz 8=resource-xyz 9=c ");
        owl_store_close(s);
    }
}

/* The most rows any memtable of the store holds now. */
static size_t largest_memtable(owl_store *s)
{
    size_t most = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns; i++)
        for (size_t j = 0; j < s->ptns[i]->ndays; j++)
            for (size_t k = 0; k < s->ptns[i]->days[j]->nmems; k++)
                if (s->ptns[i]->days[j]->mems[k]->nrows > most)
                    most = s->ptns[i]->days[j]->mems[k]->nrows;
    pthread_mutex_unlock(&s->mu);
    return most;
}

struct bp_appender {
    owl_store *s;
    int batches;
    atomic_int done;
};

static void *bp_appender_main(void *arg)
{
    struct bp_appender *a = arg;
    owl_error err = {0};
    for (int i = 0; i < a->batches; i++) {
        if (append_rows(a->s, "g", T0 + i * 500, 1, (int64_t)i * 500, 500, &err) != OWL_OK)
            return NULL;
        atomic_fetch_add(&a->done, 1);
    }
    return NULL;
}

struct msgcheck {
    size_t n, bad;
};

static int msgcheck_fn(void *ud, const owl_batch *b)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta"};
    struct msgcheck *c = ud;
    char want[128];
    for (size_t i = 0; i < b->nrows; i++, c->n++) {
        long long seq = b->cols[0][i].i;
        int len = snprintf(want, sizeof want, "row %lld %s user=u%lld", seq, words[seq % 4],
                           seq % 7);
        if (b->cols[1][i].b.n != (size_t)len || memcmp(b->cols[1][i].b.p, want, (size_t)len))
            c->bad++;
    }
    return 0;
}

/* Seals that fall behind hold appends back: with the background seal blocked, an appender
 * stops once its memtable is twice full, and goes on when seals resume. Memtables freed by a
 * seal are refilled by later appends (the store's spare) and every row reads back intact. */
Test(store, appends_wait_for_seals_and_memtables_are_reused, .init = mkroot, .fini = rmroot,
     .timeout = 60)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(1);
    o.memtable_rows = 1000;
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    pthread_mutex_lock(&s->seal_mu); /* no seal can run */
    struct bp_appender a = {.s = s, .batches = 20};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, bp_appender_main, &a), 0);
    for (int i = 0; i < 50 && atomic_load(&a.done) < 3; i++)
        usleep(20000);
    usleep(300000);
    int held = atomic_load(&a.done);
    cr_assert_geq(held, 3, "the appender got %d batches in", held);
    cr_assert_lt(held, 20, "all 20 batches went in while no seal could run");
    cr_assert_leq(largest_memtable(s), 2 * 1000 + 500);
    pthread_mutex_unlock(&s->seal_mu);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(atomic_load(&a.done), 20);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    pthread_mutex_lock(&s->spare_mu);
    int spare = s->spare_mem[0] != NULL;
    pthread_mutex_unlock(&s->spare_mu);
    cr_assert(spare, "no sealed memtable was kept for reuse");
    /* another round refills the spare memtable; every message of both rounds reads back */
    struct bp_appender b = {.s = s, .batches = 20};
    bp_appender_main(&b);
    cr_assert_eq(atomic_load(&b.done), 20);
    size_t cols[] = {OWL_LOGS_INGEST_TIME, OWL_LOGS_MESSAGE};
    struct msgcheck c = {0};
    owl_scan q = {.table = "logs", .tenant = "000000000001", .start = INT64_MIN, .end = INT64_MAX,
                  .cols = cols, .ncols = 2, .fn = msgcheck_fn, .ud = &c};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(c.n, 20000);
    cr_assert_eq(c.bad, 0);
    owl_store_close(s);
}

/* The directory of partition name's day holding time t (a fresh string). */
static char *day_dir_of(owl_store *s, const char *name, int64_t t)
{
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__find_ptn(s, 0, "000000000001", name);
    char *dir = p ? owl__day_dir(p, (int32_t)(t / DAY), (int32_t)(t / DAY)) : NULL;
    pthread_mutex_unlock(&s->mu);
    cr_assert_not_null(dir, "no partition %s", name);
    return dir;
}

/* One pass of seals takes the memtable holding the oldest lsn first and moves the WAL
 * checkpoint as it goes and once it ends, also when a seal failed: a pass that stops at a
 * failing seal, or one that goes on for a whole burst of appends, has let the WAL free
 * everything it sealed before. Partition a is
 * first in the store's order but its memtable is the newer; its seal fails (a file stands
 * where its day directory goes). */
Test(store, seals_go_oldest_first_and_move_the_checkpoint_each, .init = mkroot, .fini = rmroot)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.memtable_age_ms = 50;
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(append_rows(s, "a", T0, 1, 0, 10, &err), OWL_OK, "%s", err.msg); /* lsn 1 */
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(append_rows(s, "b", T0, 1, 10, 10, &err), OWL_OK, "%s", err.msg); /* 2 */
    cr_assert_eq(append_rows(s, "a", T0 + DAY, 1, 20, 10, &err), OWL_OK, "%s", err.msg); /* 3 */
    char *dir = day_dir_of(s, "a", T0 + DAY);
    int fd = open(dir, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0, "%s: %s", dir, strerror(errno));
    close(fd);
    usleep(120000); /* both memtables are due by age */
    owl_wal_stats ws;
    owl_wal_stats_get(s->wal, &ws);
    cr_assert_eq(ws.checkpoint, 1);
    cr_assert_neq(owl__seal_some(s, 0, &err), OWL_OK, "a's seal should have failed");
    owl_wal_stats_get(s->wal, &ws);
    cr_assert_eq(ws.checkpoint, 2, "b (lsn 2) sealed first and the checkpoint moved past it; "
                 "it is %llu", (unsigned long long)ws.checkpoint);
    cr_assert_eq(unlink(dir), 0);
    free(dir);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    owl_wal_stats_get(s->wal, &ws);
    cr_assert_eq(ws.checkpoint, 3);
    struct collect c;
    cr_assert_eq(scan_seqs(s, NULL, NULL, 0, INT64_MIN, INT64_MAX, &c), 30);
    free(c.seqs);
    owl_store_close(s);
    s = open_store(tmp, 0);
    cr_assert_eq(scan_seqs(s, NULL, NULL, 0, INT64_MIN, INT64_MAX, &c), 30);
    free(c.seqs);
    owl_store_close(s);
}

/* A quiet memtable (one row, far from full or old) does not hold the WAL: once the live WAL
 * holds more than wal_max_bytes, the seals that follow take it too and the checkpoint passes
 * it. */
Test(store, a_quiet_memtable_is_sealed_once_the_wal_outgrows_its_limit, .init = mkroot,
     .fini = rmroot)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    o.memtable_rows = 1000;
    o.wal_max_bytes = 64 << 10;
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(append_rows(s, "quiet", T0, 1, 0, 1, &err), OWL_OK, "%s", err.msg);
    owl_wal_stats ws;
    int64_t seq = 1;
    for (int i = 0; i < 40; i++, seq += 500) {
        cr_assert_eq(append_rows(s, "busy", T0 + seq, 1, seq, 500, &err), OWL_OK, "%s", err.msg);
        owl_wal_stats_get(s->wal, &ws);
        if (ws.bytes <= o.wal_max_bytes)
            cr_assert_eq(ws.checkpoint, 0, "nothing passes the quiet row below the limit");
    }
    cr_assert_gt(ws.bytes, o.wal_max_bytes, "the WAL never outgrew %zu bytes", o.wal_max_bytes);
    cr_assert_gt(ws.checkpoint, 1, "the quiet memtable still holds the WAL at lsn 1");
    char *dir = day_dir_of(s, "quiet", T0);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0, "the quiet row was never sealed (%s)", dir);
    free(dir);
    struct collect c;
    cr_assert_eq(scan_seqs(s, "quiet", NULL, 0, INT64_MIN, INT64_MAX, &c), 1);
    free(c.seqs);
    owl_store_close(s);
}

/* ---- cluster-ordered scans ---- */

struct floors {
    struct tab t;
    uint64_t floor;   /* the highest floor a batch has promised */
    size_t batches, below;
    int fell;
};

static int floors_fn(void *ud, const owl_batch *b)
{
    struct floors *f = ud;
    f->batches++;
    for (size_t r = 0; r < b->nrows; r++) {
        f->below += b->cols[OWL_SPANS_TRACE_KEY][r].u < f->floor;
        tab_push(&f->t, b->cols, r);
    }
    f->fell |= b->floor < f->floor && b->floor != 0;
    if (b->floor > f->floor)
        f->floor = b->floor;
    return 0;
}

/* OWL_ORDER_CLUSTER: parts with interleaved trace keys (blocks of 7 rows), one written before
 * the table was clustered (in time order: its blocks each span the keys, so it is read with
 * the memtable, up front) and rows still in the memtable. Every row comes once, no row comes
 * with a key under a floor an earlier batch promised, the floors never fall once parts are
 * merged, and the last is past every key; other orders' rules hold. */
Test(store, a_cluster_ordered_scan_keeps_its_floors, .init = mkroot, .fini = rmroot)
{
    const owl_schema *sc = &owl_spans_schema;
    const char *ptn = "walk";
    int64_t t0 = (T0 + 3600000) * 1000000, unit = 1000000;
    owl_store *s = open_merging(0);
    owl_error err = {0};
    uint64_t rng = 0x2545f4914f6cdd1dull;
    struct tab w = {.sc = sc};
    for (int g = 0; g < 5; g++) {
        size_t from = w.n;
        gen_group(&w, t0, unit, g, 60, &rng);
        owl_cell *key = w.c[OWL_SPANS_TRACE_KEY];
        for (size_t r = from; r < w.n; r++) /* keys over the whole range, a few repeated */
            key[r].u = r % 5 || r == from ? xorshift(&rng) : key[r - 1].u;
        if (g == 4) { /* the last group stays in the memtable */
            write_group(s, &w, from, ptn, 0);
            break;
        }
        if (g == 3) { /* a part in time order alone, as before the table was clustered */
            char names[1024], dir[1024], path[1200];
            part_files(sc->name, ptn, names, sizeof names, dir, sizeof dir);
            struct tab g3 = {.sc = sc};
            for (int64_t t = t0; t < t0 + 16 * unit; t += unit)
                for (size_t r = from; r < w.n; r++)
                    if (w.c[sc->time_col][r].i == t)
                        tab_push(&g3, (const owl_cell *const *)w.c, r);
            owl_coldef flat_cols[OWL_SPANS_NCOLS];
            memcpy(flat_cols, sc->cols, sizeof flat_cols);
            flat_cols[OWL_SPANS_TRACE_KEY].flags = 0;
            owl_schema flat = *sc;
            flat.cols = flat_cols;
            owl_rows rows = tab_rows(&g3);
            owl_part_info info = {sc->name, TENANT, ptn, (int32_t)(t0 / 1000000 / 86400000),
                                  0, 0, 1};
            owl_store_close(s);
            snprintf(path, sizeof path, "%s/p-90-90-0.owp", dir);
            cr_assert_eq(owl_part_write(path, &flat, &info, &rows, MERGE_BLOCK_ROWS, 1, NULL,
                                        &err), OWL_OK, "%s", err.msg);
            tab_free(&g3);
            s = open_merging(0);
            continue;
        }
        write_group(s, &w, from, ptn, 1);
    }
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        cols[c] = c;
    const char *parts[] = {ptn};
    struct floors f = {.t = {.sc = sc}};
    owl_scan q = {.table = sc->name, .tenant = TENANT, .partitions = parts, .npartitions = 1,
                  .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = sc->ncols,
                  .fn = floors_fn, .ud = &f, .order = OWL_ORDER_CLUSTER};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    expect_same_row_set(&f.t, &w, "the cluster-ordered scan");
    cr_assert_eq(f.below, 0, "%zu rows came under a floor already promised", f.below);
    cr_assert(!f.fell, "a floor fell");
    cr_assert(f.batches > 20, "%zu batches: the parts' blocks were not merged", f.batches);
    uint64_t top = 0;
    for (size_t r = 0; r < w.n; r++)
        top = w.c[OWL_SPANS_TRACE_KEY][r].u > top ? w.c[OWL_SPANS_TRACE_KEY][r].u : top;
    cr_assert(f.floor > top || f.floor == UINT64_MAX, "the last floor is past every key");
    tab_free(&f.t);

    /* a limit counts rows; a cursor and an unclustered table are refused */
    struct floors g = {.t = {.sc = sc}};
    q.ud = &g;
    q.limit = 50;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(g.t.n, 50);
    tab_free(&g.t);
    owl_scan_cursor cur = {0, 0, 0, OWL_ORDER_CLUSTER};
    q.after = &cur;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    q.after = NULL;
    q.table = owl_logs_schema.name;
    q.ncols = 1;
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "not clustered"), "%s", err.msg);
    owl_store_close(s);
    tab_free(&w);
}

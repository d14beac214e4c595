/* test_registry.c — the table registry (index/tables.c): lookups, the schema-driven row
 * builder, and what the registry makes possible in the store: schema evolution (a table that
 * gained columns reopens its old parts and WAL records, version 1 and 2, with every row and
 * the new columns at their defaults; scans, pruning and compaction over both), a column type
 * change refused clearly, and replay refusing a WAL record of a table it does not know
 * without losing it. A store written by owl 790b61d is kept as a fixture
 * (tests/unit/fixtures/v1_store, found through OWL_SRCDIR). */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "index/index.h"
#include "tests/unit/testfs.h"

#define TENANT "000000000001"
#define T0 1768435200000LL /* 2026-01-15T00:00:00Z, the fixture's first row */

/* ---- the registry ---- */

Test(registry, lookups)
{
    size_t n = 0;
    const owl_schema *const *t = owl_tables(&n);
    cr_assert_geq(n, 2);
    int logs = 0, audit = 0;
    for (size_t i = 0; i < n; i++) {
        logs += t[i] == &owl_logs_schema;
        audit += t[i] == &owl_audit_schema;
        cr_assert_eq(owl_table_find(t[i]->name), t[i]);
    }
    cr_assert(logs == 1 && audit == 1);
    cr_assert_eq(owl_table_find("logs"), &owl_logs_schema);
    cr_assert_eq(owl_table_find("audit"), &owl_audit_schema);
    cr_assert_null(owl_table_find("nope"));
    cr_assert_null(owl_table_find(""));
    cr_assert_null(owl_table_find(NULL));

    size_t c = 99;
    cr_assert_eq(owl_schema_col(&owl_logs_schema, "message", &c), OWL_OK);
    cr_assert_eq(c, OWL_LOGS_MESSAGE);
    cr_assert_eq(owl_schema_col(&owl_audit_schema, "request_id", &c), OWL_OK);
    cr_assert_eq(c, OWL_AUDIT_REQUEST_ID);
    cr_assert_eq(owl_schema_col(&owl_audit_schema, "duration_us", &c), OWL_OK);
    cr_assert_eq(c, OWL_AUDIT_DURATION_US);
    c = 99;
    cr_assert_eq(owl_schema_col(&owl_logs_schema, "messag", &c), OWL_ENOTFOUND);
    cr_assert_eq(owl_schema_col(&owl_logs_schema, NULL, &c), OWL_ENOTFOUND);
    cr_assert_eq(c, 99, "untouched when not found");
}

/* Every registered schema is one the store accepts: named [a-z0-9_]+, unique table and column
 * names, one TIME column at time_col, at most OWL_MAX_COLS columns, known types. */
Test(registry, schemas_are_valid)
{
    size_t n;
    const owl_schema *const *t = owl_tables(&n);
    for (size_t i = 0; i < n; i++) {
        const owl_schema *sc = t[i];
        cr_assert(sc->name[0] && strspn(sc->name, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
                                     strlen(sc->name), "%s", sc->name);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(sc->name, t[j]->name);
        cr_assert(sc->ncols > 0 && sc->ncols <= OWL_MAX_COLS);
        cr_assert(sc->time_col < sc->ncols);
        cr_assert(sc->time_per_sec == 1000 || sc->time_per_sec == 1000000000);
        size_t times = 0;
        for (size_t c = 0; c < sc->ncols; c++) {
            cr_assert(sc->cols[c].name && sc->cols[c].name[0], "%s column %zu", sc->name, c);
            cr_assert(sc->cols[c].type >= OWL_TYPE_TIME && sc->cols[c].type <= OWL_TYPE_BSON);
            times += sc->cols[c].type == OWL_TYPE_TIME;
            size_t k;
            cr_assert_eq(owl_schema_col(sc, sc->cols[c].name, &k), OWL_OK);
            cr_assert_eq(k, c, "%s.%s is not unique", sc->name, sc->cols[c].name);
        }
        cr_assert_eq(times, 1);
        cr_assert_eq(sc->cols[sc->time_col].type, OWL_TYPE_TIME);
    }
}

/* ---- the row builder ---- */

enum { A_TIME, A_I, A_U, A_F, A_DICT, A_STR, A_ID8, A_ID16, A_BSON, A_N };
static const owl_coldef all_cols[A_N] = {
    {"time", OWL_TYPE_TIME, 0, 0}, {"i", OWL_TYPE_I64, 0, 0},     {"u", OWL_TYPE_U64, 0, 0},
    {"f", OWL_TYPE_F64, 0, 0},     {"d", OWL_TYPE_DICT, 0, 0},    {"s", OWL_TYPE_STR, 0, 0},
    {"id8", OWL_TYPE_ID8, 0, 0},   {"id16", OWL_TYPE_ID16, 0, 0}, {"b", OWL_TYPE_BSON, 0, 0},
};
static const owl_schema all_schema = {"all", all_cols, A_N, A_TIME, 1000};

static int zeros(const owl_bytes *b, size_t n)
{
    if (b->n != n || (n && !b->p))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)b->p)[i])
            return 0;
    return 1;
}

Test(rowbuf, unset_columns_get_defaults)
{
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, &all_schema);
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
    const owl_rows *r = owl_rowbuf_rows(&rb);
    cr_assert_eq(r->nrows, 1);
    cr_assert_eq(r->cols[A_TIME][0].i, 0);
    cr_assert_eq(r->cols[A_I][0].i, 0);
    cr_assert_eq(r->cols[A_U][0].u, 0);
    cr_assert(r->cols[A_F][0].f == 0.0);
    cr_assert(r->cols[A_DICT][0].b.n == 0 && r->cols[A_DICT][0].b.p);
    cr_assert(r->cols[A_STR][0].b.n == 0 && r->cols[A_STR][0].b.p);
    cr_assert(r->cols[A_BSON][0].b.n == 0 && r->cols[A_BSON][0].b.p, "no document: 0 bytes");
    cr_assert(zeros(&r->cols[A_ID8][0].b, 8));
    cr_assert(zeros(&r->cols[A_ID16][0].b, 16));
    for (int t = OWL_TYPE_TIME; t <= OWL_TYPE_BSON; t++) {
        owl_cell d = owl_col_default((enum owl_type)t);
        if (t == OWL_TYPE_ID8 || t == OWL_TYPE_ID16)
            cr_assert(zeros(&d.b, t == OWL_TYPE_ID8 ? 8 : 16));
        else if (t >= OWL_TYPE_DICT)
            cr_assert_eq(d.b.n, 0);
        else
            cr_assert_eq(d.u, 0);
    }
    for (size_t c = A_N; c < OWL_MAX_COLS; c++)
        cr_assert_null(r->cols[c]);
    owl_rowbuf_free(&rb);
}

Test(rowbuf, sets_by_index_and_name)
{
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, &all_schema);
    unsigned char id8[8], id16[16];
    memset(id8, 0xab, sizeof id8);
    memset(id16, 0xcd, sizeof id16);
    bson_t *doc = BCON_NEW("k", BCON_INT32(7));
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_TIME, 1234), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_I, -5), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_u64(&rb, A_U, UINT64_MAX), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_f64(&rb, A_F, 2.5), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_DICT, "INFO", 4), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_STR, "hello", 5), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_STR, "hello world", 11), OWL_OK, "last set wins");
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_ID8, id8, 8), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_ID16, id16, 16), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_BSON, bson_get_data(doc), doc->len), OWL_OK);
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
    /* the second row by name */
    owl_cell v;
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
    v.i = 99;
    cr_assert_eq(owl_rowbuf_set_named(&rb, "time", &v), OWL_OK);
    v.u = 7;
    cr_assert_eq(owl_rowbuf_set_named(&rb, "u", &v), OWL_OK);
    v.f = -1.25;
    cr_assert_eq(owl_rowbuf_set_named(&rb, "f", &v), OWL_OK);
    v.b = (owl_bytes){"named", 5};
    cr_assert_eq(owl_rowbuf_set_named(&rb, "s", &v), OWL_OK);
    v.b = (owl_bytes){id8, 8};
    cr_assert_eq(owl_rowbuf_set_named(&rb, "id8", &v), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_named(&rb, "nope", &v), OWL_ENOTFOUND);
    v.b = (owl_bytes){id8, 7};
    cr_assert_eq(owl_rowbuf_set_named(&rb, "id8", &v), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);

    const owl_rows *r = owl_rowbuf_rows(&rb);
    cr_assert_eq(r->nrows, 2);
    cr_assert_eq(r->cols[A_TIME][0].i, 1234);
    cr_assert_eq(r->cols[A_I][0].i, -5);
    cr_assert_eq(r->cols[A_U][0].u, UINT64_MAX);
    cr_assert(r->cols[A_F][0].f == 2.5);
    cr_assert(r->cols[A_DICT][0].b.n == 4 && !memcmp(r->cols[A_DICT][0].b.p, "INFO", 4));
    cr_assert(r->cols[A_STR][0].b.n == 11 && !memcmp(r->cols[A_STR][0].b.p, "hello world", 11));
    cr_assert(r->cols[A_ID8][0].b.n == 8 && !memcmp(r->cols[A_ID8][0].b.p, id8, 8));
    cr_assert(r->cols[A_ID16][0].b.n == 16 && !memcmp(r->cols[A_ID16][0].b.p, id16, 16));
    cr_assert(r->cols[A_BSON][0].b.n == doc->len &&
              !memcmp(r->cols[A_BSON][0].b.p, bson_get_data(doc), doc->len));
    cr_assert_eq(r->cols[A_TIME][1].i, 99);
    cr_assert_eq(r->cols[A_I][1].i, 0);
    cr_assert_eq(r->cols[A_U][1].u, 7);
    cr_assert(r->cols[A_F][1].f == -1.25);
    cr_assert(r->cols[A_STR][1].b.n == 5 && !memcmp(r->cols[A_STR][1].b.p, "named", 5));
    cr_assert(r->cols[A_ID8][1].b.n == 8 && !memcmp(r->cols[A_ID8][1].b.p, id8, 8));
    cr_assert(zeros(&r->cols[A_ID16][1].b, 16));
    cr_assert_eq(r->cols[A_BSON][1].b.n, 0);
    bson_destroy(doc);
    owl_rowbuf_free(&rb);
    owl_rowbuf_free(NULL);
}

Test(rowbuf, misuse_is_an_error)
{
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, &all_schema);
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_I, 1), OWL_EINVAL, "no row begun");
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_EINVAL, "a row is already begun");
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_N, 1), OWL_EINVAL, "column out of range");
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_U, 1), OWL_EINVAL, "U64 takes set_u64");
    cr_assert_eq(owl_rowbuf_set_u64(&rb, A_I, 1), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_f64(&rb, A_I, 1), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_i64(&rb, A_STR, 1), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_I, "x", 1), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_ID16, "0123456789abcde", 15), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_ID8, "", 0), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_STR, NULL, 3), OWL_EINVAL);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, A_STR, NULL, 0), OWL_OK, "an empty value");
    /* a begun row is not among the rows until it ends */
    cr_assert_eq(owl_rowbuf_rows(&rb)->nrows, 0);
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
    cr_assert_eq(owl_rowbuf_rows(&rb)->nrows, 1);
    owl_rowbuf_reset(&rb);
    cr_assert_eq(owl_rowbuf_rows(&rb)->nrows, 0);
    owl_rowbuf_free(&rb);
}

/* The byte buffer moves as it grows: rows() called between rows and after must still point
 * at the right bytes, every time. */
Test(rowbuf, rows_again_after_growth)
{
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, &owl_logs_schema);
    char msg[300];
    const size_t n = 5000;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(msg, sizeof msg, "message %zu %0*zu", i, (int)(i % 200), i);
        cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
        cr_assert_eq(owl_rowbuf_set_i64(&rb, OWL_LOGS_TIME, (int64_t)i), OWL_OK);
        cr_assert_eq(owl_rowbuf_set_bytes(&rb, OWL_LOGS_MESSAGE, msg, (size_t)len), OWL_OK);
        if (i % 3 == 0)
            cr_assert_eq(owl_rowbuf_set_bytes(&rb, OWL_LOGS_STREAM, "s", 1), OWL_OK);
        cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
        if (i % 1000 == 17)
            cr_assert_eq(owl_rowbuf_rows(&rb)->nrows, i + 1);
    }
    for (int pass = 0; pass < 2; pass++) {
        const owl_rows *r = owl_rowbuf_rows(&rb);
        cr_assert_eq(r->nrows, n);
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(msg, sizeof msg, "message %zu %0*zu", i, (int)(i % 200), i);
            cr_assert_eq(r->cols[OWL_LOGS_TIME][i].i, (int64_t)i);
            cr_assert(r->cols[OWL_LOGS_MESSAGE][i].b.n == (size_t)len &&
                      !memcmp(r->cols[OWL_LOGS_MESSAGE][i].b.p, msg, (size_t)len), "row %zu", i);
            cr_assert_eq(r->cols[OWL_LOGS_STREAM][i].b.n, i % 3 == 0 ? 1u : 0u);
            cr_assert(zeros(&r->cols[OWL_LOGS_TRACE_ID][i].b, 16));
        }
    }
    /* reused after reset: the old rows are gone, new ones read right */
    owl_rowbuf_reset(&rb);
    cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
    cr_assert_eq(owl_rowbuf_set_bytes(&rb, OWL_LOGS_MESSAGE, "again", 5), OWL_OK);
    cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
    const owl_rows *r = owl_rowbuf_rows(&rb);
    cr_assert(r->nrows == 1 && !memcmp(r->cols[OWL_LOGS_MESSAGE][0].b.p, "again", 5));
    owl_rowbuf_free(&rb);
}

/* ---- the store under an evolving schema ---- */

/* The logs table as it is, and as it could become: "host" added in the middle, "bytes"
 * (value blooms) at the end. */
enum { L_TIME, L_INGEST, L_HOST, L_STREAM, L_MESSAGE, L_SEVERITY, L_TRACE, L_SPAN, L_ATTRS,
       L_BYTES, L_N };
static const owl_coldef logs2_cols[L_N] = {
    [L_TIME] = {"time", OWL_TYPE_TIME, 0},
    [L_INGEST] = {"ingest_time", OWL_TYPE_I64, 0},
    [L_HOST] = {"host", OWL_TYPE_DICT, OWL_COL_BLOOM},
    [L_STREAM] = {"stream", OWL_TYPE_DICT, 0},
    [L_MESSAGE] = {"message", OWL_TYPE_STR, OWL_COL_TOKENS},
    [L_SEVERITY] = {"severity", OWL_TYPE_DICT, 0},
    [L_TRACE] = {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM},
    [L_SPAN] = {"span_id", OWL_TYPE_ID8, 0},
    [L_ATTRS] = {"attrs", OWL_TYPE_BSON, 0},
    [L_BYTES] = {"bytes", OWL_TYPE_I64, OWL_COL_BLOOM},
};
static const owl_schema logs2 = {"logs", logs2_cols, L_N, L_TIME, 1000};

static owl_store_options opts(void)
{
    owl_store_options o;
    owl_store_options_default(&o);
    o.background = 0;
    o.block_rows = 64;
    o.zstd_level = 1;
    o.compact_zstd_level = 3;
    o.memtable_age_ms = 1 << 30;
    return o;
}

static int open_with(const char *dir, const owl_schema *sc, owl_store **s, owl_error *err)
{
    owl_store_options o = opts();
    static const owl_schema *one[1]; /* the list must outlive the store */
    one[0] = sc;
    return owl_store_open(dir, sc ? one : NULL, sc ? 1 : 0, &o, s, err);
}

static owl_store *open_ok(const char *dir, const owl_schema *sc)
{
    owl_store *s = NULL;
    owl_error err = {0};
    int rc = open_with(dir, sc, &s, &err);
    cr_assert_eq(rc, OWL_OK, "open: %s: %s", owl_errname(rc), err.msg);
    return s;
}

/* Appends logs rows i in [from, to) under schema sc (the old logs or logs2): time T0 + 1000 i,
 * ingest_time i, stream "s<i%3>", message "row <i> <word>"; under logs2 also host "web" and
 * bytes 1000 + i. */
static int add_rows(owl_store *s, const owl_schema *sc, const char *ptn, int from, int to,
                    owl_error *err)
{
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta"};
    owl_rowbuf rb;
    owl_rowbuf_init(&rb, sc);
    char msg[64], stream[8];
    int rc = OWL_OK;
    for (int i = from; i < to && rc == OWL_OK; i++) {
        int ml = snprintf(msg, sizeof msg, "row %d %s", i, words[i % 4]);
        int sl = snprintf(stream, sizeof stream, "s%d", i % 3);
        owl_cell v;
        rc = owl_rowbuf_begin_row(&rb);
        v.i = T0 + 1000LL * i;
        rc = rc ? rc : owl_rowbuf_set_named(&rb, "time", &v);
        v.i = i;
        rc = rc ? rc : owl_rowbuf_set_named(&rb, "ingest_time", &v);
        v.b = (owl_bytes){stream, (size_t)sl};
        rc = rc ? rc : owl_rowbuf_set_named(&rb, "stream", &v);
        v.b = (owl_bytes){msg, (size_t)ml};
        rc = rc ? rc : owl_rowbuf_set_named(&rb, "message", &v);
        if (sc == &logs2) {
            rc = rc ? rc : owl_rowbuf_set_bytes(&rb, L_HOST, "web", 3);
            rc = rc ? rc : owl_rowbuf_set_i64(&rb, L_BYTES, 1000 + i);
        }
        rc = rc ? rc : owl_rowbuf_end_row(&rb);
    }
    if (rc == OWL_OK)
        rc = owl_store_append(s, "logs", TENANT, ptn, owl_rowbuf_rows(&rb), err);
    owl_rowbuf_free(&rb);
    return rc;
}

/* What a scan under logs2 saw, indexed by ingest_time (the row number i). */
#define MAXROWS 2000
struct seen {
    int count[MAXROWS];
    size_t rows;
    int bad; /* rows whose columns disagree with add_rows / the fixture */
    char why[200];
};

static void bad_row(struct seen *s, int64_t i, const char *what)
{
    if (!s->bad++)
        snprintf(s->why, sizeof s->why, "row %lld: %s", (long long)i, what);
}

/* Checks every column of each row against what add_rows (or the fixture) wrote for it: the
 * columns of the old schema as written, host and bytes as written when the row came under
 * logs2 (i >= new_from), else their defaults. Columns: all of logs2, in order. */
static int new_from = MAXROWS;
static int check_rows(void *ud, const owl_batch *b)
{
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta"};
    struct seen *s = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        int64_t i = b->cols[L_INGEST][r].i;
        char msg[64], stream[8];
        s->rows++;
        if (i < 0 || i >= MAXROWS) {
            bad_row(s, i, "ingest_time out of range");
            continue;
        }
        s->count[i]++;
        int ml = snprintf(msg, sizeof msg, "row %d %s", (int)i, words[i % 4]);
        int sl = snprintf(stream, sizeof stream, "s%d", (int)(i % 3));
        const owl_bytes *m = &b->cols[L_MESSAGE][r].b, *st = &b->cols[L_STREAM][r].b;
        const owl_bytes *host = &b->cols[L_HOST][r].b;
        if (b->cols[L_TIME][r].i != T0 + 1000 * i)
            bad_row(s, i, "time");
        if (m->n != (size_t)ml || memcmp(m->p, msg, m->n))
            bad_row(s, i, "message");
        if (st->n != (size_t)sl || memcmp(st->p, stream, st->n))
            bad_row(s, i, "stream");
        if (i >= new_from ? host->n != 3 || memcmp(host->p, "web", 3) : host->n != 0)
            bad_row(s, i, "host");
        if (b->cols[L_BYTES][r].i != (i >= new_from ? 1000 + i : 0))
            bad_row(s, i, "bytes");
        if (b->cols[L_SPAN][r].b.n != 8 || b->cols[L_ATTRS][r].b.n != 0)
            bad_row(s, i, "span_id / attrs");
    }
    return 0;
}

/* Scans partition ptn under logs2 with preds; every row checked, counted in *seen. */
static size_t scan2(owl_store *s, const char *ptn, const owl_pred *preds, size_t np,
                    struct seen *seen)
{
    static const size_t cols[L_N] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *parts[] = {ptn};
    memset(seen, 0, sizeof *seen);
    owl_scan q = {
        .table = "logs", .tenant = TENANT, .partitions = parts, .npartitions = 1,
        .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = L_N, .preds = preds,
        .npreds = np, .fn = check_rows, .ud = seen,
    };
    owl_error err = {0};
    int rc = owl_store_scan(s, &q, NULL, &err);
    cr_assert_eq(rc, OWL_OK, "scan: %s", err.msg);
    cr_assert_eq(seen->bad, 0, "%d bad rows, first %s", seen->bad, seen->why);
    return seen->rows;
}

/* Runs fn in a child that must exit 0; used to leave WAL records unsealed (no close). */
static void in_child(void (*fn)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(dir);
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

/* Under the old logs schema: rows 0..299 in two parts, 300..399 only in the WAL (version 2
 * records of 8 columns). */
static void write_old(const char *dir)
{
    owl_store *s = NULL;
    owl_error err = {0};
    if (open_with(dir, &owl_logs_schema, &s, &err) != OWL_OK || add_rows(s, &owl_logs_schema, "app", 0, 150, &err) ||
        owl_store_flush(s, &err) || add_rows(s, &owl_logs_schema, "app", 150, 300, &err) ||
        owl_store_flush(s, &err) || add_rows(s, &owl_logs_schema, "app", 300, 350, &err) ||
        add_rows(s, &owl_logs_schema, "app", 350, 400, &err))
        _exit(2);
    _exit(0); /* no close: rows 300..399 live in the WAL only */
}

static size_t count_parts(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s -name '*.owp' -not -path '*/quarantine/*' | wc -l", dir);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    unsigned long n = 0;
    cr_assert_eq(fscanf(f, "%lu", &n), 1);
    pclose(f);
    return n;
}

static size_t count_quarantined(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/quarantine | wc -l", dir);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    unsigned long n = 0;
    cr_assert_eq(fscanf(f, "%lu", &n), 1);
    pclose(f);
    return n;
}

Test(evolve, added_columns_read_as_defaults)
{
    char *dir = test_tmpdir("registry");
    in_child(write_old, dir);
    cr_assert_eq(count_parts(dir), 2);
    struct seen seen;
    new_from = MAXROWS;

    owl_store *s = open_ok(dir, &logs2);
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 400, "every old row, parts and WAL");
    for (int i = 0; i < 400; i++)
        cr_assert_eq(seen.count[i], 1, "row %d seen %d times", i, seen.count[i]);
    /* predicates on old columns (moved by one) and on the new ones */
    owl_pred tok = {.col = L_MESSAGE, .op = OWL_PRED_TOKEN, .text = {"bravo", 5}};
    cr_assert_eq(scan2(s, "app", &tok, 1, &seen), 100);
    owl_pred stream = {.col = L_STREAM, .op = OWL_PRED_EQ, .lo.b = {"s1", 2}};
    cr_assert_eq(scan2(s, "app", &stream, 1, &seen), 133);
    owl_pred ingest = {.col = L_INGEST, .op = OWL_PRED_RANGE, .lo.i = 100, .hi.i = 350};
    cr_assert_eq(scan2(s, "app", &ingest, 1, &seen), 250);
    owl_pred nohost = {.col = L_HOST, .op = OWL_PRED_EQ, .lo.b = {"", 0}};
    cr_assert_eq(scan2(s, "app", &nohost, 1, &seen), 400);
    owl_pred web = {.col = L_HOST, .op = OWL_PRED_EQ, .lo.b = {"web", 3}};
    cr_assert_eq(scan2(s, "app", &web, 1, &seen), 0);
    owl_pred zero = {.col = L_BYTES, .op = OWL_PRED_EQ, .lo.i = 0};
    cr_assert_eq(scan2(s, "app", &zero, 1, &seen), 400);

    /* new rows under the new schema: both kinds side by side, in memory and in parts */
    owl_error err = {0};
    new_from = 400;
    cr_assert_eq(add_rows(s, &logs2, "app", 400, 500, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(scan2(s, "app", &web, 1, &seen), 100);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(add_rows(s, &logs2, "app", 500, 520, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 520);
    cr_assert_eq(scan2(s, "app", &web, 1, &seen), 120);
    owl_pred big = {.col = L_BYTES, .op = OWL_PRED_RANGE, .lo.i = 1450, .hi.i = 1510};
    cr_assert_eq(scan2(s, "app", &big, 1, &seen), 60);
    owl_pred both[] = {web, tok};
    cr_assert_eq(scan2(s, "app", both, 2, &seen), 30);
    /* compaction merges old and new parts into parts of the current schema */
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    size_t before = count_parts(dir);
    cr_assert_geq(before, 4);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_lt(count_parts(dir), before, "compaction merged parts");
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 520);
    for (int i = 0; i < 520; i++)
        cr_assert_eq(seen.count[i], 1, "row %d seen %d times after compaction", i, seen.count[i]);
    cr_assert_eq(scan2(s, "app", &web, 1, &seen), 120);
    cr_assert_eq(scan2(s, "app", &nohost, 1, &seen), 400);
    owl_store_close(s);

    /* the merged part holds the new columns: a schema where host has another type is now
     * refused, where the old parts would have read it as absent */
    owl_coldef alt[L_N];
    memcpy(alt, logs2_cols, sizeof alt);
    alt[L_HOST].type = OWL_TYPE_STR;
    const owl_schema logs_alt = {"logs", alt, L_N, L_TIME, 1000};
    owl_store *x = NULL;
    cr_assert_eq(open_with(dir, &logs_alt, &x, &err), OWL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "column host is DICT in the part but STR"), "%s", err.msg);

    /* and reopened with the new schema, everything is still there */
    s = open_ok(dir, &logs2);
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 520);
    cr_assert_eq(scan2(s, "app", &web, 1, &seen), 120);
    owl_store_close(s);
    new_from = MAXROWS;
    test_rm_rf(dir);
}

/* A column whose type changed: the open fails naming part, column and both types; the part
 * is not quarantined, and the right schema reopens every row. */
Test(evolve, type_change_is_refused)
{
    char *dir = test_tmpdir("registry");
    owl_store *s = open_ok(dir, &owl_logs_schema);
    owl_error err = {0};
    cr_assert_eq(add_rows(s, &owl_logs_schema, "app", 0, 100, &err), OWL_OK);
    owl_store_close(s);

    owl_coldef changed[OWL_LOGS_NCOLS];
    memcpy(changed, owl_logs_schema.cols, sizeof changed);
    changed[OWL_LOGS_INGEST_TIME].type = OWL_TYPE_U64;
    owl_schema bad = owl_logs_schema;
    bad.cols = changed;
    cr_assert_eq(open_with(dir, &bad, &s, &err), OWL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "column ingest_time is I64 in the part but U64 in the schema of "
                              "table logs"), "%s", err.msg);
    cr_assert(strstr(err.msg, "/logs/" TENANT "/app/"), "names the part: %s", err.msg);
    cr_assert_eq(count_quarantined(dir), 0);
    cr_assert_eq(count_parts(dir), 1);

    s = open_ok(dir, &logs2);
    struct seen seen;
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 100);
    owl_store_close(s);
    test_rm_rf(dir);
}

/* The same for a WAL record (version 2) holding a column whose type changed. */
static void write_wal_only(const char *dir)
{
    owl_store *s = NULL;
    owl_error err = {0};
    if (open_with(dir, &owl_logs_schema, &s, &err) ||
        add_rows(s, &owl_logs_schema, "app", 0, 10, &err))
        _exit(2);
    _exit(0);
}

Test(evolve, type_change_in_the_wal_is_refused)
{
    char *dir = test_tmpdir("registry");
    in_child(write_wal_only, dir);
    cr_assert_eq(count_parts(dir), 0);
    owl_coldef changed[OWL_LOGS_NCOLS];
    memcpy(changed, owl_logs_schema.cols, sizeof changed);
    changed[OWL_LOGS_STREAM].type = OWL_TYPE_STR;
    owl_schema bad = owl_logs_schema;
    bad.cols = changed;
    owl_store *s = NULL;
    owl_error err = {0};
    cr_assert_eq(open_with(dir, &bad, &s, &err), OWL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "WAL record 1: column stream of table logs has type"), "%s",
              err.msg);
    s = open_ok(dir, &logs2);
    struct seen seen;
    cr_assert_eq(scan2(s, "app", NULL, 0, &seen), 10, "nothing was lost");
    owl_store_close(s);
    test_rm_rf(dir);
}

/* ---- replay and unknown tables ---- */

static void write_both_tables(const char *dir)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts();
    if (owl_store_open(dir, NULL, 0, &o, &s, &err) ||
        add_rows(s, &owl_logs_schema, "app", 0, 5, &err))
        _exit(2);
    for (int i = 0; i < 3; i++) {
        owl_rowbuf rb;
        char id[8];
        owl_rowbuf_init(&rb, &owl_audit_schema);
        snprintf(id, sizeof id, "req-%d", i);
        if (owl_rowbuf_begin_row(&rb) || owl_rowbuf_set_i64(&rb, OWL_AUDIT_TIME, T0 + i) ||
            owl_rowbuf_set_bytes(&rb, OWL_AUDIT_REQUEST_ID, id, strlen(id)) ||
            owl_rowbuf_set_i64(&rb, OWL_AUDIT_STATUS, 200) || owl_rowbuf_end_row(&rb) ||
            owl_store_append(s, "audit", TENANT, "audit", owl_rowbuf_rows(&rb), &err))
            _exit(3);
        owl_rowbuf_free(&rb);
    }
    if (add_rows(s, &owl_logs_schema, "app", 5, 10, &err))
        _exit(4);
    _exit(0);
}

static int count_rows(void *ud, const owl_batch *b)
{
    *(size_t *)ud += b->nrows;
    return 0;
}

static size_t count_table(owl_store *s, const char *table, const char *ptn)
{
    size_t n = 0, col = 0;
    const char *parts[] = {ptn};
    owl_scan q = {
        .table = table, .tenant = TENANT, .partitions = parts, .npartitions = 1,
        .start = INT64_MIN, .end = INT64_MAX, .cols = &col, .ncols = 1, .fn = count_rows,
        .ud = &n,
    };
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    return n;
}

Test(replay, refuses_a_table_it_does_not_know)
{
    char *dir = test_tmpdir("registry");
    in_child(write_both_tables, dir);
    owl_store *s = NULL;
    owl_error err = {0};
    /* records 1 (logs), 2..4 (audit), 5 (logs): the logs-only open stops at record 2 */
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(open_with(dir, &owl_logs_schema, &s, &err), OWL_EUNSUPPORTED);
        cr_assert_str_eq(err.msg, "WAL record 2 belongs to table 'audit', which this program "
                                  "does not know");
        cr_assert_null(s);
    }
    /* nothing was sealed, checkpointed or dropped: the registry's open recovers everything */
    cr_assert_eq(count_parts(dir), 0);
    s = open_ok(dir, NULL);
    cr_assert_eq(count_table(s, "logs", "app"), 10);
    cr_assert_eq(count_table(s, "audit", "audit"), 3);
    owl_store_close(s);
    s = open_ok(dir, NULL);
    cr_assert_eq(count_table(s, "audit", "audit"), 3);
    owl_store_close(s);
    /* sealed now, the WAL holds no audit record: a logs-only open works again */
    s = open_ok(dir, &owl_logs_schema);
    cr_assert_eq(count_table(s, "logs", "app"), 10);
    owl_store_close(s);
    test_rm_rf(dir);
}

/* ---- the store written by owl 790b61d ---- */

static void fixture_dir(char *out, size_t n)
{
    const char *src = getenv("OWL_SRCDIR");
    if (src && *src) {
        snprintf(out, n, "%s/tests/unit/fixtures/v1_store", src);
    } else {
        /* run by hand from a build directory: __FILE__ is the path the compiler was given */
        char file[4096];
        snprintf(file, sizeof file, "%s", __FILE__);
        snprintf(out, n, "%s/fixtures/v1_store", dirname(file));
    }
    cr_assert(file_exists(out), "fixture %s not found (set OWL_SRCDIR to the source tree)", out);
}

static void copy_fixture(const char *to)
{
    char from[4096], cmd[8400];
    fixture_dir(from, sizeof from);
    snprintf(cmd, sizeof cmd, "cp -R '%s'/. '%s'/ && chmod -R u+w '%s'", from, to, to);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Checks the fixture's rows (make_v1_store.c): 0..99 in the part, 100..111 in version 1 WAL
 * records; under logs2 host and bytes read as their defaults. */
struct fx {
    int count[112];
    int bad;
    char why[160];
};

static int check_fixture(void *ud, const owl_batch *b)
{
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta"};
    struct fx *f = ud;
    for (size_t r = 0; r < b->nrows; r++) {
        int64_t i = b->cols[L_INGEST][r].i;
        char msg[64], stream[8];
        unsigned char id[16];
        if (i < 0 || i >= 112) {
            f->bad++;
            continue;
        }
        f->count[i]++;
        int ml = snprintf(msg, sizeof msg, "row %d %s", (int)i, words[i % 4]);
        int sl = snprintf(stream, sizeof stream, "s%d", (int)(i % 3));
        const char *sev = i % 10 == 0 ? "ERROR" : "INFO";
        memset(id, i % 7 == 0 ? (int)(i & 0xff) : 0, sizeof id);
        const char *what = NULL;
        if (b->cols[L_TIME][r].i != T0 + 1000 * i)
            what = "time";
        else if (b->cols[L_MESSAGE][r].b.n != (size_t)ml ||
                 memcmp(b->cols[L_MESSAGE][r].b.p, msg, (size_t)ml))
            what = "message";
        else if (b->cols[L_STREAM][r].b.n != (size_t)sl ||
                 memcmp(b->cols[L_STREAM][r].b.p, stream, (size_t)sl))
            what = "stream";
        else if (b->cols[L_SEVERITY][r].b.n != strlen(sev) ||
                 memcmp(b->cols[L_SEVERITY][r].b.p, sev, strlen(sev)))
            what = "severity";
        else if (b->cols[L_TRACE][r].b.n != 16 || memcmp(b->cols[L_TRACE][r].b.p, id, 16))
            what = "trace_id";
        else if (!zeros(&b->cols[L_SPAN][r].b, 8) || b->cols[L_ATTRS][r].b.n != 0)
            what = "span_id / attrs";
        else if (b->cols[L_HOST][r].b.n != 0 || b->cols[L_BYTES][r].i != 0)
            what = "a new column is not at its default";
        if (what && !f->bad++)
            snprintf(f->why, sizeof f->why, "row %lld: %s", (long long)i, what);
    }
    return 0;
}

static void scan_fixture(owl_store *s, const owl_pred *pred, size_t want)
{
    static const size_t cols[L_N] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *parts[] = {"app"};
    struct fx f;
    memset(&f, 0, sizeof f);
    owl_scan q = {
        .table = "logs", .tenant = TENANT, .partitions = parts, .npartitions = 1,
        .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = L_N, .preds = pred,
        .npreds = pred ? 1 : 0, .fn = check_fixture, .ud = &f,
    };
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(f.bad, 0, "%d bad rows, first %s", f.bad, f.why);
    size_t n = 0;
    for (int i = 0; i < 112; i++) {
        cr_assert_leq(f.count[i], 1, "row %d twice", i);
        n += (size_t)f.count[i];
    }
    cr_assert_eq(n, want, "got %zu want %zu", n, want);
}

Test(fixture, v1_store_reopens_with_an_added_column)
{
    char *dir = test_tmpdir("registry");
    copy_fixture(dir);
    owl_store *s = open_ok(dir, &logs2);
    scan_fixture(s, NULL, 112);
    owl_pred trace = {.col = L_TRACE, .op = OWL_PRED_EQ};
    unsigned char id[16];
    memset(id, 14, sizeof id);
    trace.lo.b = (owl_bytes){id, 16};
    scan_fixture(s, &trace, 1);
    owl_pred host = {.col = L_HOST, .op = OWL_PRED_EQ, .lo.b = {"", 0}};
    scan_fixture(s, &host, 112);
    owl_pred sev = {.col = L_SEVERITY, .op = OWL_PRED_EQ, .lo.b = {"ERROR", 5}};
    scan_fixture(s, &sev, 12);
    /* sealed and compacted under the new schema, then read again */
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_store_compact(s, &err), OWL_OK, "%s", err.msg);
    owl_store_close(s);
    s = open_ok(dir, &logs2);
    scan_fixture(s, NULL, 112);
    owl_store_close(s);
    cr_assert_eq(count_quarantined(dir), 0);
    test_rm_rf(dir);
}

/* The fixture's WAL (version 1 records) and new version 2 records, written by a child that
 * dies without closing, replay together after a column was added. */
static void append_v2_to_fixture(const char *dir)
{
    owl_store *s = NULL;
    owl_error err = {0};
    if (open_with(dir, &owl_logs_schema, &s, &err) != OWL_OK)
        _exit(2);
    /* rows 112.. continue the fixture's numbering but are checked by check_rows */
    if (add_rows(s, &owl_logs_schema, "v2", 112, 140, &err))
        _exit(3);
    _exit(0);
}

Test(fixture, v1_and_v2_wal_records_replay_after_a_column_was_added)
{
    char *dir = test_tmpdir("registry");
    copy_fixture(dir);
    in_child(append_v2_to_fixture, dir);
    cr_assert_eq(count_parts(dir), 1, "only the fixture's part: every new row is in the WAL");
    owl_store *s = open_ok(dir, &logs2);
    scan_fixture(s, NULL, 112);
    struct seen seen;
    new_from = MAXROWS;
    cr_assert_eq(scan2(s, "v2", NULL, 0, &seen), 28);
    owl_store_close(s);
    /* closed: everything sealed under logs2; reopened, the same rows */
    s = open_ok(dir, &logs2);
    scan_fixture(s, NULL, 112);
    cr_assert_eq(scan2(s, "v2", NULL, 0, &seen), 28);
    owl_store_close(s);
    test_rm_rf(dir);
}

/* A time no day directory can be named for (before year 1, after 9999) is refused at append:
 * sealed, such a row would lie where no open finds it. */
Test(evolve, times_outside_the_years_1_to_9999_are_refused)
{
    char *dir = test_tmpdir("registry");
    owl_store *s = open_ok(dir, &owl_logs_schema);
    static const int64_t bad[] = {INT64_MIN, INT64_MAX, -62135596800001LL /* 0000-12-31 */,
                                  253402300800000LL /* 10000-01-01 */};
    static const int64_t good[] = {-62135596800000LL /* 0001-01-01 */, 0,
                                   253402300799999LL /* 9999-12-31T23:59:59.999 */};
    owl_error err = {0};
    for (size_t k = 0; k < 7; k++) {
        int ok = k >= 4;
        owl_rowbuf rb;
        owl_rowbuf_init(&rb, &owl_logs_schema);
        cr_assert_eq(owl_rowbuf_begin_row(&rb), OWL_OK);
        cr_assert_eq(owl_rowbuf_set_i64(&rb, OWL_LOGS_TIME, ok ? good[k - 4] : bad[k]), OWL_OK);
        cr_assert_eq(owl_rowbuf_end_row(&rb), OWL_OK);
        int rc = owl_store_append(s, "logs", TENANT, "t", owl_rowbuf_rows(&rb), &err);
        owl_rowbuf_free(&rb);
        cr_assert_eq(rc, ok ? OWL_OK : OWL_EINVAL, "case %zu: %s", k, err.msg);
        if (!ok)
            cr_assert(strstr(err.msg, "years 1 to 9999"), "%s", err.msg);
    }
    owl_store_close(s);
    s = open_ok(dir, &owl_logs_schema);
    cr_assert_eq(count_table(s, "logs", "t"), 3, "the storable rows reopen");
    owl_store_close(s);
    test_rm_rf(dir);
}

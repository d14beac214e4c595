/* fuzz_walrec.c — libFuzzer target for the store's WAL record decoder (index/store.c,
 * decode_record: versions 1, 2 and 3, columns matched by name; replay_drop: drop records,
 * 0x80, seed drop_logs). Each input becomes the payload
 * of the only record of a fresh store's WAL, which is then opened with the registry's audit
 * table and an evolved logs table (a column added, one dropped, the rest reordered). The
 * open must fail cleanly or replay the record; when it opens, every row is scanned (each
 * byte touched), the store closed (sealing the rows into parts) and opened again, which must
 * succeed and hold the same number of rows. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "index/index.h"
#include "index/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

enum { L_MESSAGE, L_TIME, L_HOST, L_INGEST, L_STREAM, L_SEVERITY, L_TRACE, L_SPAN, L_N };
static const owl_coldef logs_cols[L_N] = {
    {"message", OWL_TYPE_STR, OWL_COL_TOKENS}, {"time", OWL_TYPE_TIME, 0},
    {"host", OWL_TYPE_DICT, OWL_COL_BLOOM},    {"ingest_time", OWL_TYPE_I64, 0},
    {"stream", OWL_TYPE_DICT, 0},              {"severity", OWL_TYPE_DICT, 0},
    {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM}, {"span_id", OWL_TYPE_ID8, 0},
};
static const owl_schema logs = {"logs", logs_cols, L_N, L_TIME, 1000};
static const owl_schema *schemas[2];

static char base[64];

static void rm_tree(const char *dir, int keep_top)
{
    char path[4096];
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) != 0)
            rm_tree(path, 0);
    }
    if (dh)
        closedir(dh);
    if (!keep_top)
        rmdir(dir);
}

static void remove_base(void)
{
    rm_tree(base, 0);
}

struct count {
    const owl_schema *sc; /* of the table being scanned */
    uint64_t rows;
    uint32_t sum;         /* touches every value's bytes so ASan sees any bad pointer */
};

static int on_batch(void *ud, const owl_batch *b)
{
    struct count *c = ud;
    c->rows += b->nrows;
    for (size_t k = 0; k < c->sc->ncols; k++)
        for (size_t r = 0; r < b->nrows; r++) {
            const owl_cell *v = &b->cols[k][r];
            if (c->sc->cols[k].type >= OWL_TYPE_DICT)
                c->sum = owl_crc32c(c->sum, v->b.p, v->b.n);
            else
                c->sum = owl_crc32c(c->sum, &v->u, sizeof v->u);
        }
    return 0;
}

/* The partitions of the store, listed first: owl_store_partitions holds the store's lock
 * while it calls back, so the scans come after. */
struct ptns {
    owl_store_table_stats t[8];
    size_t n;
};

static int list_fn(void *ud, const owl_store_table_stats *t)
{
    struct ptns *p = ud;
    if (p->n == OWL_ARRAY_LEN(p->t))
        abort(); /* one record names one partition */
    p->t[p->n++] = *t;
    return 0;
}

static uint64_t count_rows(owl_store *s)
{
    struct count c = {NULL, 0, 0};
    struct ptns p;
    p.n = 0;
    if (owl_store_partitions(s, list_fn, &p, NULL) != OWL_OK)
        abort();
    for (size_t i = 0; i < p.n; i++) {
        const owl_store_table_stats *t = &p.t[i];
        const owl_schema *sc = !strcmp(t->table, "logs") ? &logs : &owl_audit_schema;
        size_t cols[OWL_MAX_COLS];
        for (size_t k = 0; k < sc->ncols; k++)
            cols[k] = k;
        const char *parts[] = {t->partition};
        owl_scan q = {
            .table = t->table, .tenant = t->tenant, .partitions = parts, .npartitions = 1,
            .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = sc->ncols,
            .fn = on_batch, .ud = &c,
        };
        c.sc = sc;
        if (owl_store_scan(s, &q, NULL, NULL) != OWL_OK)
            abort();
    }
    return c.rows;
}

static int open_store(owl_store **s)
{
    owl_store_options o;
    owl_store_options_default(&o);
    o.background = 0;
    o.sync = OWL_SYNC_NONE;
    o.block_rows = 64;
    o.zstd_level = 1;
    return owl_store_open(base, schemas, 2, &o, s, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!base[0]) {
        owl_log_set_level(OWL_LOG_OFF);
        schemas[0] = &logs;
        schemas[1] = &owl_audit_schema;
        snprintf(base, sizeof base, "%s/owl-fuzz-walrec-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(base))
            abort();
        atexit(remove_base);
    }
    rm_tree(base, 1);
    char wdir[128];
    snprintf(wdir, sizeof wdir, "%s/wal", base);
    owl_wal_options wo = {OWL_WAL_SYNC_NONE, 0, 1 << 20, 1 << 20, 0, 0};
    owl_wal *w = NULL;
    uint64_t lsn;
    struct iovec iov = {(void *)d, n};
    if (owl_wal_open(wdir, &wo, NULL, NULL, &w, NULL) != OWL_OK)
        abort();
    int rc = owl_wal_append(w, &iov, 1, &lsn, NULL);
    owl_wal_close(w);
    if (rc != OWL_OK)
        return 0;
    owl_store *s = NULL;
    if (open_store(&s) != OWL_OK)
        return 0;
    uint64_t rows = count_rows(s);
    owl_store_close(s);
    s = NULL;
    if (open_store(&s) != OWL_OK || count_rows(s) != rows)
        abort();
    owl_store_close(s);
    return 0;
}

/* test_drop.c — dropping a partition (index/drop.c): rows, files and figures go at once and
 * stay gone across reopen, WAL replay (with the marker lost, or parts a crash left behind)
 * and kill -9 at random moments; a later append starts an empty partition; a damaged marker
 * fails the open; a scan running during the drop keeps its snapshot; drops racing appends,
 * scans, seals and compactions leave the partition's figures right. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "index/index.h"

static const owl_schema *const schemas[] = {&owl_logs_schema};
static const char *TENANT = "000000000001";
static const int64_t T0 = 1795219200000LL; /* 2026-11-21T00:00:00Z */
static const int64_t DAY = 86400000LL;
static char tmp[64];

static void mkroot(void)
{
    strcpy(tmp, "/tmp/owl-drop-test-XXXXXX");
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
    owl_store_options o;
    owl_store_options_default(&o);
    o.memtable_age_ms = 1 << 30;
    o.block_rows = 256;
    o.zstd_level = 1;
    o.background = background;
    return o;
}

static owl_store *open_store(int background)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(background);
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

/* Appends n rows with ingest_time seq.. (the row's number), a second apart from t0. */
static int append_rows(owl_store *s, const char *partition, int64_t t0, int64_t seq, size_t n,
                       owl_error *err)
{
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    char msg[64];
    for (size_t i = 0; i < n; i++) {
        int64_t k = seq + (int64_t)i;
        int len = snprintf(msg, sizeof msg, "event %lld of the group", (long long)k);
        owl_rowbuf_begin_row(&b);
        owl_rowbuf_set_i64(&b, OWL_LOGS_TIME, t0 + (int64_t)i * 1000);
        owl_rowbuf_set_i64(&b, OWL_LOGS_INGEST_TIME, k);
        owl_rowbuf_set_bytes(&b, OWL_LOGS_STREAM, "s", 1);
        owl_rowbuf_set_bytes(&b, OWL_LOGS_MESSAGE, msg, (size_t)len);
        owl_rowbuf_end_row(&b);
    }
    int rc = owl_store_append(s, "logs", TENANT, partition, owl_rowbuf_rows(&b), err);
    owl_rowbuf_free(&b);
    return rc;
}

struct seqs {
    int64_t *v;
    size_t n, cap;
};

static int collect_fn(void *ud, const owl_batch *b)
{
    struct seqs *c = ud;
    for (size_t i = 0; i < b->nrows; i++) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->v = realloc(c->v, c->cap * sizeof *c->v);
        }
        c->v[c->n++] = b->cols[0][i].i;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The ingest_time of every row of partition (NULL: of the tenant), sorted. */
static struct seqs scan_seqs(owl_store *s, const char *partition)
{
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    const char *parts[] = {partition};
    struct seqs c = {0};
    owl_scan q = {.table = "logs", .tenant = TENANT, .partitions = partition ? parts : NULL,
                  .npartitions = partition ? 1 : 0, .start = INT64_MIN, .end = INT64_MAX,
                  .cols = cols, .ncols = 1, .fn = collect_fn, .ud = &c};
    owl_error err = {0};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    if (c.n)
        qsort(c.v, c.n, sizeof *c.v, cmp_i64);
    return c;
}

/* Checks that partition holds exactly the rows first..first+n-1. */
static void expect_rows(owl_store *s, const char *partition, int64_t first, size_t n)
{
    struct seqs c = scan_seqs(s, partition);
    cr_assert_eq(c.n, n, "%s holds %zu rows, expected %zu", partition, c.n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(c.v[i], first + (int64_t)i, "%s row %zu is %lld", partition, i,
                     (long long)c.v[i]);
    free(c.v);
}

static size_t count_files(const char *dir, const char *suffix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s -name '*%s' 2>/dev/null | wc -l", dir, suffix);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f) {
        if (fscanf(f, "%zu", &n) != 1)
            n = 0;
        pclose(f);
    }
    return n;
}

static void ptn_dir(const char *partition, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/logs/%s/%s", tmp, TENANT, partition);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_partitions_fn(void *ud, const owl_store_table_stats *t)
{
    (*(size_t *)ud)++;
    cr_assert_str_neq(t->partition, "g", "a dropped partition is listed");
    return 0;
}

Test(drop, removes_rows_files_and_figures, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(0);
    owl_error err = {0};
    char dir[256], path[300];
    uint64_t stored, rows;
    ptn_dir("g", dir, sizeof dir);
    cr_assert_eq(append_rows(s, "g", T0, 0, 200, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "g", T0 + DAY, 200, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "g", T0 + DAY, 300, 50, &err), OWL_OK); /* a memtable */
    cr_assert_eq(append_rows(s, "other", T0, 0, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_set_retention(s, "logs", TENANT, "g", 30, &err), OWL_OK);
    cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "g", &stored, &rows, &err), OWL_OK);
    cr_assert_eq(rows, 350);
    cr_assert_gt(stored, 0);
    cr_assert_eq(count_files(dir, ".owp"), 2);

    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "g", &err), OWL_OK, "%s", err.msg);
    expect_rows(s, "g", 0, 0);
    expect_rows(s, "other", 0, 100);
    expect_rows(s, NULL, 0, 100);
    cr_assert_eq(count_files(dir, ".owp"), 0, "parts no scan reads are unlinked at once");
    snprintf(path, sizeof path, "%s/DROPPED", dir);
    cr_assert(exists(path));
    snprintf(path, sizeof path, "%s/RETENTION", dir);
    cr_assert_not(exists(path), "the retention setting goes with the partition");
    cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "g", &stored, &rows, &err),
                 OWL_ENOTFOUND);
    size_t listed = 0;
    cr_assert_eq(owl_store_partitions(s, count_partitions_fn, &listed, &err), OWL_OK);
    cr_assert_eq(listed, 1);

    /* what cannot be dropped */
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "g", &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "never", &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_store_drop_partition(s, "nope", TENANT, "g", &err), OWL_EINVAL);
    cr_assert_eq(owl_store_drop_partition(s, "logs", "", "g", &err), OWL_EINVAL);
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "", &err), OWL_EINVAL);
    cr_assert_eq(owl_store_partition_bytes(s, "nope", TENANT, "g", &stored, &rows, &err),
                 OWL_EINVAL);
    cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "never", &stored, &rows, &err),
                 OWL_ENOTFOUND);
    owl_store_close(s);

    s = open_store(0);
    expect_rows(s, "g", 0, 0);
    expect_rows(s, "other", 0, 100);
    cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "g", &stored, &rows, &err),
                 OWL_ENOTFOUND);
    /* the janitor removes the marker and the directory once the WAL has passed the drop */
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(owl_store_retire(s, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    cr_assert_not(exists(dir), "%s is still there", dir);
    owl_store_close(s);
    s = open_store(0);
    expect_rows(s, "g", 0, 0);
    expect_rows(s, "other", 0, 100);
    owl_store_close(s);
}

Test(drop, append_after_drop_starts_a_new_partition, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(0);
    owl_error err = {0};
    uint64_t stored, rows;
    cr_assert_eq(append_rows(s, "g", T0, 0, 100, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(append_rows(s, "g", T0, 100, 20, &err), OWL_OK);
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "g", &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(append_rows(s, "g", T0, 1000, 30, &err), OWL_OK);
    expect_rows(s, "g", 1000, 30);
    cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "g", &stored, &rows, &err), OWL_OK);
    cr_assert_eq(rows, 30);
    /* a retention set now belongs to the new partition and survives a reopen */
    cr_assert_eq(owl_store_set_retention(s, "logs", TENANT, "g", 0, &err), OWL_OK);
    cr_assert_eq(owl_store_set_retention(s, "logs", TENANT, "g", 3650, &err), OWL_OK);
    owl_store_close(s);
    s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    cr_assert_eq(owl_store_retire(s, owl_now_ms(), &err), OWL_OK);
    expect_rows(s, "g", 1000, 30);
    /* dropped again: the new marker covers both */
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "g", &err), OWL_OK, "%s", err.msg);
    expect_rows(s, "g", 0, 0);
    owl_store_close(s);
    s = open_store(0);
    expect_rows(s, "g", 0, 0);
    owl_store_close(s);
}

/* A child appends, seals, appends into a memtable, drops and appends again, then dies
 * without closing: the WAL still holds the rows written before the drop. When keep_part is
 * set it also saves a copy of its part before the drop (restored by the parent as if the
 * unlink had not reached the disk). */
static void child_drop_then_die(int keep_part)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(0);
    if (owl_store_open(tmp, schemas, 1, &o, &s, &err) != OWL_OK)
        _exit(2);
    if (append_rows(s, "g", T0, 0, 100, &err) != OWL_OK || owl_store_flush(s, &err) != OWL_OK)
        _exit(3);
    if (append_rows(s, "g", T0, 100, 20, &err) != OWL_OK)
        _exit(4);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/logs/%s/g/20261121/p-1-1-0.owp %s/saved.owp", tmp, TENANT,
             tmp);
    if (keep_part && system(cmd) != 0)
        _exit(5);
    if (owl_store_drop_partition(s, "logs", TENANT, "g", &err) != OWL_OK)
        _exit(6);
    if (append_rows(s, "g", T0 + 500000, 1000, 30, &err) != OWL_OK)
        _exit(7);
    _exit(0); /* no close: the WAL holds every record */
}

static void run_child(int keep_part)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_drop_then_die(keep_part);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

Test(drop, replay_does_not_bring_rows_back, .init = mkroot, .fini = rmroot)
{
    run_child(0);
    owl_store *s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    owl_store_close(s);
    s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    owl_store_close(s);
}

Test(drop, replay_without_marker_redoes_the_drop, .init = mkroot, .fini = rmroot)
{
    /* as if the process died between the WAL record and the marker: the WAL's drop record
     * alone removes the rows before it, the part left behind, and writes the marker */
    run_child(1);
    char dir[256], path[512], cmd[1024];
    ptn_dir("g", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/DROPPED", dir);
    cr_assert_eq(unlink(path), 0);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/20261121 && mv %s/saved.owp %s/20261121/p-7-7-0.owp",
             dir, tmp, dir);
    cr_assert_eq(system(cmd), 0);
    owl_store *s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    cr_assert(exists(path), "the replayed drop writes its marker");
    owl_store_close(s);
    s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    owl_store_close(s);
}

Test(drop, marker_removes_parts_a_crash_left_behind, .init = mkroot, .fini = rmroot)
{
    run_child(1);
    owl_store *s = open_store(0);
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK); /* the WAL checkpoint passes the drop */
    owl_store_close(s);
    char dir[256], cmd[1024];
    ptn_dir("g", dir, sizeof dir);
    /* (the new partition sealed its own p-1-1-0 meanwhile: the old part comes back under
     * another name, which is not what identifies it) */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/20261121 && mv %s/saved.owp %s/20261121/p-7-7-0.owp",
             dir, tmp, dir);
    cr_assert_eq(system(cmd), 0);
    s = open_store(0);
    expect_rows(s, "g", 1000, 30);
    owl_store_close(s);
    cr_assert_eq(count_files(dir, "p-7-7-0.owp"), 0);
}

Test(drop, damaged_marker_fails_the_open, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(0);
    owl_error err = {0};
    cr_assert_eq(append_rows(s, "g", T0, 0, 10, &err), OWL_OK);
    cr_assert_eq(owl_store_drop_partition(s, "logs", TENANT, "g", &err), OWL_OK);
    owl_store_close(s);
    char path[512];
    ptn_dir("g", path, sizeof path);
    strcat(path, "/DROPPED");
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    uint8_t b[24];
    cr_assert_eq(fread(b, 1, sizeof b, f), sizeof b);
    for (size_t i = 0; i < sizeof b; i++) {
        uint8_t x = b[i] ^ 0x10;
        fseek(f, (long)i, SEEK_SET);
        fwrite(&x, 1, 1, f);
        fflush(f);
        owl_store_options o = opts(0);
        s = NULL;
        cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_ECORRUPT,
                     "byte %zu flipped", i);
        cr_assert_null(s);
        fseek(f, (long)i, SEEK_SET);
        fwrite(&b[i], 1, 1, f);
        fflush(f);
    }
    cr_assert_eq(ftruncate(fileno(f), 23), 0);
    fclose(f);
    owl_store_options o = opts(0);
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_ECORRUPT);
    cr_assert_str_neq(err.msg, "");
}

struct drop_in_scan {
    owl_store *s;
    size_t rows;
    int dropped;
};

static int drop_in_scan_fn(void *ud, const owl_batch *b)
{
    struct drop_in_scan *d = ud;
    d->rows += b->nrows;
    if (!d->dropped) {
        owl_error err = {0};
        cr_assert_eq(owl_store_drop_partition(d->s, "logs", TENANT, "g", &err), OWL_OK, "%s",
                     err.msg);
        d->dropped = 1;
    }
    return 0;
}

Test(drop, scan_running_during_the_drop_keeps_its_snapshot, .init = mkroot, .fini = rmroot)
{
    owl_store *s = open_store(0);
    owl_error err = {0};
    char dir[256];
    ptn_dir("g", dir, sizeof dir);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(append_rows(s, "g", T0 + k * DAY, k * 1000, 1000, &err), OWL_OK);
        cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    }
    size_t cols[] = {OWL_LOGS_INGEST_TIME};
    const char *parts[] = {"g"};
    struct drop_in_scan d = {s, 0, 0};
    owl_scan q = {.table = "logs", .tenant = TENANT, .partitions = parts, .npartitions = 1,
                  .start = INT64_MIN, .end = INT64_MAX, .cols = cols, .ncols = 1,
                  .fn = drop_in_scan_fn, .ud = &d};
    cr_assert_eq(owl_store_scan(s, &q, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(d.rows, 3000, "the running scan reads its snapshot to the end");
    expect_rows(s, "g", 0, 0);
    cr_assert_eq(count_files(dir, ".owp"), 0, "unlinked when the scan let go");
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    cr_assert_eq(owl_store_retire(s, owl_now_ms(), &err), OWL_OK);
    cr_assert_not(exists(dir));
    owl_store_close(s);
}

/* ---- kill -9 around a drop ---- */

/* Appends batches of 50 rows (seq from base), reporting each acknowledged batch's first seq
 * on fd; after `before` batches drops the partition and reports -1, then goes on. */
static void child_appender(int fd, const char *partition, int64_t base, int before)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(1);
    o.memtable_rows = 500; /* seal often so crashes land in every phase */
    o.memtable_age_ms = 30;
    if (owl_store_open(tmp, schemas, 1, &o, &s, &err) != OWL_OK)
        _exit(3);
    for (int64_t seq = base, k = 0;; seq += 50, k++) {
        if (k == before) {
            if (owl_store_drop_partition(s, "logs", TENANT, partition, &err) != OWL_OK)
                _exit(4);
            int64_t mark = -1;
            if (write(fd, &mark, sizeof mark) != sizeof mark)
                _exit(5);
        }
        if (append_rows(s, partition, T0 + seq * 1000, seq, 50, &err) != OWL_OK)
            _exit(6);
        if (write(fd, &seq, sizeof seq) != sizeof seq)
            _exit(7);
    }
}

Test(drop, kill9_around_the_drop_12_rounds, .init = mkroot, .fini = rmroot, .timeout = 120)
{
    srand((unsigned)time(NULL));
    int after_drop = 0, before_drop = 0;
    for (int round = 0; round < 12; round++) {
        char partition[16];
        snprintf(partition, sizeof partition, "k%d", round);
        int before = 2 + rand() % 30, pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            child_appender(pfd[1], partition, 0, before);
        }
        close(pfd[1]);
        int64_t seq, drop_seq = -1, acked[4096];
        size_t nacked = 0;
        int dropped = 0;
        if (round % 2) { /* every other round the kill comes only once the drop returned (on
                          * a loaded machine a random delay alone may never get there) */
            while (!dropped && read(pfd[0], &seq, sizeof seq) == sizeof seq) {
                if (seq == -1) {
                    dropped = 1;
                    drop_seq = (int64_t)before * 50;
                } else if (nacked < 4096) {
                    acked[nacked++] = seq;
                }
            }
            usleep((useconds_t)(rand() % 20000));
        } else {
            usleep(10000 + (useconds_t)(rand() % 150000));
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status), "child exited by itself: %d", WEXITSTATUS(status));
        while (read(pfd[0], &seq, sizeof seq) == sizeof seq) {
            if (seq == -1) {
                dropped = 1;
                drop_seq = (int64_t)before * 50;
            } else if (nacked < 4096) {
                acked[nacked++] = seq;
            }
        }
        close(pfd[0]);
        owl_store *s = open_store(0);
        struct seqs c = scan_seqs(s, partition);
        for (size_t i = 1; i < c.n; i++)
            cr_assert_neq(c.v[i], c.v[i - 1], "row %lld twice (round %d)", (long long)c.v[i],
                          round);
        size_t old_present = 0, old_acked = 0;
        for (size_t i = 0; i < c.n; i++)
            if (dropped)
                cr_assert_geq(c.v[i], drop_seq, "row %lld of the dropped partition is back "
                              "(round %d)", (long long)c.v[i], round);
        for (size_t a = 0; a < nacked; a++)
            for (int64_t k = 0; k < 50; k++) {
                int64_t want = acked[a] + k;
                int present = c.n && bsearch(&want, c.v, c.n, sizeof *c.v, cmp_i64);
                if (dropped && want >= drop_seq)
                    cr_assert(present, "acknowledged row %lld lost (round %d)", (long long)want,
                              round);
                if (!dropped) {
                    old_acked++;
                    old_present += present;
                }
            }
        /* a drop that was not acknowledged took effect entirely or not at all */
        if (!dropped)
            cr_assert(old_present == 0 || old_present == old_acked,
                      "%zu of %zu acknowledged rows present (round %d)", old_present, old_acked,
                      round);
        after_drop += dropped;
        before_drop += !dropped;
        free(c.v);
        owl_store_close(s);
    }
    cr_log_info("kill -9: %d rounds after the drop returned, %d before", after_drop,
                before_drop);
    cr_assert_gt(after_drop, 0, "no round got past the drop");
}

/* ---- drops racing appends, scans, seals and compactions ---- */

struct racer {
    owl_store *s;
    int id;
    volatile int *stop;
    size_t ops;
};

static void *race_appender(void *arg)
{
    struct racer *r = arg;
    owl_error err = {0};
    for (int64_t seq = 0; !*r->stop; seq += 20) {
        cr_assert_eq(append_rows(r->s, "g", T0 + (seq % 3) * DAY, seq, 20, &err), OWL_OK, "%s",
                     err.msg);
        r->ops++;
    }
    return NULL;
}

static void *race_scanner(void *arg)
{
    struct racer *r = arg;
    owl_error err = {0};
    while (!*r->stop) {
        struct seqs c = scan_seqs(r->s, "g");
        free(c.v);
        if (r->ops % 8 == 0)
            cr_assert_eq(owl_store_compact(r->s, &err), OWL_OK, "%s", err.msg);
        r->ops++;
    }
    return NULL;
}

static int figures_fn(void *ud, const owl_store_table_stats *t)
{
    owl_store_table_stats *out = ud;
    if (!strcmp(t->partition, "g"))
        *out = *t;
    return 0;
}

Test(drop, drops_racing_appends_scans_seals_and_compactions, .init = mkroot, .fini = rmroot,
     .timeout = 60)
{
    owl_store *s = NULL;
    owl_error err = {0};
    owl_store_options o = opts(1);
    o.memtable_rows = 300;
    o.memtable_age_ms = 20;
    o.compact_min_parts = 2;
    cr_assert_eq(owl_store_open(tmp, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    volatile int stop = 0;
    struct racer r[3] = {{s, 0, &stop, 0}, {s, 1, &stop, 0}, {s, 2, &stop, 0}};
    pthread_t th[3];
    pthread_create(&th[0], NULL, race_appender, &r[0]);
    pthread_create(&th[1], NULL, race_appender, &r[1]);
    pthread_create(&th[2], NULL, race_scanner, &r[2]);
    int drops = 0;
    for (int k = 0; k < 40; k++) {
        usleep(10000);
        int rc = owl_store_drop_partition(s, "logs", TENANT, "g", &err);
        cr_assert(rc == OWL_OK || rc == OWL_ENOTFOUND, "%s", err.msg);
        drops += rc == OWL_OK;
    }
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cr_assert_gt(drops, 10);
    cr_assert_gt(r[0].ops + r[1].ops, 50);
    /* the kept figures agree with a walk over every part and memtable */
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK);
    uint64_t stored = 0, rows = 0;
    owl_store_table_stats t;
    memset(&t, 0, sizeof t);
    cr_assert_eq(owl_store_partitions(s, figures_fn, &t, &err), OWL_OK);
    int rc = owl_store_partition_bytes(s, "logs", TENANT, "g", &stored, &rows, &err);
    if (rc == OWL_OK) {
        cr_assert_eq(rows, t.rows);
        cr_assert_eq(stored, t.stored_bytes);
        struct seqs c = scan_seqs(s, "g");
        cr_assert_eq(c.n, rows);
        free(c.v);
    } else {
        cr_assert_eq(rc, OWL_ENOTFOUND);
    }
    owl_store_close(s);
    s = open_store(0);
    uint64_t stored2 = 0, rows2 = 0;
    if (rc == OWL_OK) {
        cr_assert_eq(owl_store_partition_bytes(s, "logs", TENANT, "g", &stored2, &rows2, &err),
                     OWL_OK);
        cr_assert_eq(rows2, rows, "the rows after reopen are those before");
    }
    owl_store_close(s);
    cr_log_info("%d drops among %zu + %zu appends and %zu scans", drops, r[0].ops, r[1].ops,
                r[2].ops);
}

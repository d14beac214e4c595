/* test_wal.c — tests of index/wal.c, the write-ahead log: round trips over many segments,
 * lsn continuity across reopen, checkpoints, torn tails cut at every byte, corruption in
 * the last and in earlier segments, damage refused and repaired by owl_wal_recover (lsns
 * kept, gaps listed in lost-lsns), limits, group commit under 8 threads, the sync
 * policies, SIGKILL crash rounds and a real disk-full (tmpfs) run. Every test works in its
 * own mkdtemp dir under /tmp and removes it. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/testfs.h"
#include "common/common.h"
#include "index/wal.h"

/* ---- helpers ---- */

static void seg_path(const char *dir, uint64_t first, char *out, size_t n)
{
    snprintf(out, n, "%s/wal-%016llx.log", dir, (unsigned long long)first);
}

/* First lsns of the segment files in dir, sorted; returns how many (at most max). */
static size_t list_segments(const char *dir, uint64_t *firsts, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        unsigned long long v;
        char tail[8];
        if (strlen(de->d_name) == 24 && sscanf(de->d_name, "wal-%16llx%4s", &v, tail) == 2 &&
            strcmp(tail, ".log") == 0 && n < max)
            firsts[n++] = v;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && firsts[j - 1] > firsts[j]; j--) {
            uint64_t t = firsts[j];
            firsts[j] = firsts[j - 1];
            firsts[j - 1] = t;
        }
    return n;
}

/* Summed over the segment files of dir: their sizes (records 0), or the bytes their records
 * fill (records 1: headers included, end marks and whatever lies beyond them not; what
 * owl_wal_stats counts). */
static uint64_t sum_segments(const char *dir, int records)
{
    uint64_t f[4096], total = 0;
    char path[4096];
    size_t n = list_segments(dir, f, 4096);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        seg_path(dir, f[i], path, sizeof path);
        unsigned char *p = read_bytes(path, &len);
        total += records ? test_wal_records_end(p, len) : len;
        free(p);
    }
    return total;
}


/* Payloads are derived from an id so a replayed record can be checked on its own: 8 bytes
 * of id, then a pattern, with a length that depends on the id (8 + id % span). */
static size_t payload_len(uint64_t id, size_t span)
{
    return 8 + (size_t)((id * 2654435761u) % span);
}

static unsigned char *payload_make(uint64_t id, size_t span, size_t *n)
{
    *n = payload_len(id, span);
    unsigned char *p = malloc(*n);
    cr_assert_not_null(p);
    memcpy(p, &id, 8);
    for (size_t i = 8; i < *n; i++)
        p[i] = (unsigned char)(id * 31 + i * 131);
    return p;
}

/* 1 when p is a well-formed payload; its id goes to *id. */
static int payload_check(const void *p, size_t n, size_t span, uint64_t *id)
{
    const unsigned char *b = p;
    if (n < 8)
        return 0;
    memcpy(id, b, 8);
    if (n != payload_len(*id, span))
        return 0;
    for (size_t i = 8; i < n; i++)
        if (b[i] != (unsigned char)(*id * 31 + i * 131))
            return 0;
    return 1;
}

/* Replay collector: records lsns and payload copies; checks lsns are consecutive. */
typedef struct rec {
    uint64_t lsn;
    size_t n;
    unsigned char *data;
} rec;

typedef struct coll {
    rec *r;
    size_t n, cap;
    uint64_t fail_at; /* return fail_rc at this lsn (0 = never) */
    int fail_rc;
    int bad_order;
} coll;

static int coll_cb(void *ud, uint64_t lsn, const void *p, size_t n)
{
    coll *c = ud;
    if (c->fail_at && lsn == c->fail_at)
        return c->fail_rc;
    if (c->n && c->r[c->n - 1].lsn + 1 != lsn)
        c->bad_order = 1;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        if (!c->r)
            abort();
    }
    c->r[c->n].lsn = lsn;
    c->r[c->n].n = n;
    c->r[c->n].data = malloc(n ? n : 1);
    if (!c->r[c->n].data)
        abort();
    if (n)
        memcpy(c->r[c->n].data, p, n);
    c->n++;
    return 0;
}

static void coll_free(coll *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->r[i].data);
    free(c->r);
    memset(c, 0, sizeof *c);
}

static owl_wal_options opts_of(enum owl_wal_sync sync, size_t segment_bytes)
{
    owl_wal_options o;
    memset(&o, 0, sizeof o);
    o.sync = sync;
    o.segment_bytes = segment_bytes;
    return o;
}

static owl_wal *open_ok(const char *dir, const owl_wal_options *o, coll *c)
{
    owl_wal *w = NULL;
    owl_error e;
    owl_error_clear(&e);
    int rc = owl_wal_open(dir, o, c ? coll_cb : NULL, c, &w, &e);
    cr_assert_eq(rc, OWL_OK, "open %s: %s (%s)", dir, owl_errname(rc), e.msg);
    cr_assert_not_null(w);
    if (c)
        cr_assert_not(c->bad_order, "replayed lsns are not consecutive");
    return w;
}

/* Opens, replays into c (freed first), closes. */
static void replay_all(const char *dir, coll *c)
{
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 0);
    coll_free(c);
    owl_wal_close(open_ok(dir, &o, c));
}

static int open_rc(const char *dir, owl_error *e)
{
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 0);
    owl_wal *w = NULL;
    int rc = owl_wal_open(dir, &o, NULL, NULL, &w, e);
    cr_assert(rc == OWL_OK || w == NULL);
    owl_wal_close(w);
    return rc;
}

static uint64_t append_buf(owl_wal *w, const void *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    uint64_t lsn = 0;
    owl_error e;
    owl_error_clear(&e);
    int rc = owl_wal_append(w, &iov, 1, &lsn, &e);
    cr_assert_eq(rc, OWL_OK, "append: %s (%s)", owl_errname(rc), e.msg);
    return lsn;
}

static uint64_t append_id(owl_wal *w, uint64_t id, size_t span)
{
    size_t n;
    unsigned char *p = payload_make(id, span, &n);
    uint64_t lsn = append_buf(w, p, n);
    free(p);
    return lsn;
}

/* Checks c holds exactly the payloads of ids from..to (lsn = id + delta) in order. */
static void expect_ids(const coll *c, uint64_t from, uint64_t to, uint64_t delta, size_t span)
{
    cr_assert_eq(c->n, to - from + 1, "replayed %zu records, want %llu", c->n,
                 (unsigned long long)(to - from + 1));
    for (size_t i = 0; i < c->n; i++) {
        uint64_t id;
        cr_assert(payload_check(c->r[i].data, c->r[i].n, span, &id), "bad payload at %llu",
                  (unsigned long long)c->r[i].lsn);
        cr_assert_eq(id, from + i);
        cr_assert_eq(c->r[i].lsn, id + delta);
    }
}

/* A WAL of `count` records (ids 1..count, lsn == id) in dir, closed. */
static void make_log(const char *dir, size_t segment_bytes, uint64_t count, size_t span)
{
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, segment_bytes);
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= count; i++)
        cr_assert_eq(append_id(w, i, span), i);
    owl_wal_close(w);
}

static void copy_dir_files(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *de;
    char a[4096], b[4096];
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "lock") == 0)
            continue;
        size_t n;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        unsigned char *p = read_bytes(a, &n);
        write_bytes(b, p, n);
        free(p);
    }
    closedir(d);
}

/* ---- round trips ---- */

Test(wal, round_trip_many_segments)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 4096);
    owl_wal *w = open_ok(dir, &o, &c);
    cr_assert_eq(c.n, 0);
    for (uint64_t i = 1; i <= 3000; i++)
        cr_assert_eq(append_id(w, i, 300), i);
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.last_lsn, 3000);
    cr_assert_eq(st.appends, 3000);
    cr_assert_eq(st.checkpoint, 0);
    cr_assert_eq(st.bytes, sum_segments(dir, 1));
    owl_wal_close(w);
    uint64_t f[1024];
    size_t nseg = list_segments(dir, f, 1024);
    cr_assert_gt(nseg, 20, "only %zu segments", nseg);
    cr_assert_eq(f[0], 1);
    replay_all(dir, &c);
    expect_ids(&c, 1, 3000, 0, 300);
    coll_free(&c);
    test_rm_rf(dir);
}

/* ---- direct appends (O_DIRECT, SYNC_ALWAYS) ---- */

/* wal.c writes a direct append through a 1 MiB buffer in whole 4 KiB blocks */
#define T_DIO_BLK 4096u
#define T_DIO_CHUNK (1u << 20)

/* A record of exactly n bytes whose bytes depend on tag. */
static unsigned char *sized_make(uint64_t tag, size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(tag * 131 + i * 7 + (i >> 12));
    return p;
}

static void sized_append(owl_wal *w, uint64_t tag, size_t n, uint64_t want_lsn)
{
    unsigned char *p = sized_make(tag, n);
    cr_assert_eq(append_buf(w, p, n), want_lsn);
    free(p);
}

/* Checks c holds records 1..k with the lengths len[0..k) made by sized_make(lsn, len). */
static void expect_sized(const coll *c, const size_t *len, size_t k)
{
    cr_assert_eq(c->n, k, "replayed %zu records, want %zu", c->n, k);
    for (size_t i = 0; i < k; i++) {
        cr_assert_eq(c->r[i].lsn, i + 1);
        cr_assert_eq(c->r[i].n, len[i], "record %zu: %zu bytes, want %zu", i + 1, c->r[i].n,
                     len[i]);
        unsigned char *p = sized_make(i + 1, len[i]);
        cr_assert_eq(memcmp(c->r[i].data, p, len[i]), 0, "record %zu differs", i + 1);
        free(p);
    }
}

/* The segments of a (direct) and b (buffered) hold the same bytes up to and including their
 * end marks; a's files are whole blocks (the zeros after a mark are never read). */
static void same_segments(const char *a, const char *b)
{
    uint64_t fa[64], fb[64];
    char pa[4096], pb[4096];
    size_t na = list_segments(a, fa, 64), nb = list_segments(b, fb, 64);
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        size_t la, lb;
        cr_assert_eq(fa[i], fb[i]);
        seg_path(a, fa[i], pa, sizeof pa);
        seg_path(b, fb[i], pb, sizeof pb);
        unsigned char *x = read_bytes(pa, &la), *y = read_bytes(pb, &lb);
        size_t e = test_wal_records_end(y, lb);
        cr_assert_eq(test_wal_records_end(x, la), e, "%s: records end at %zu, buffered at %zu", pa,
                     test_wal_records_end(x, la), e);
        cr_assert_eq(la % T_DIO_BLK, 0, "%s: %zu bytes, not whole blocks", pa, la);
        cr_assert_geq(lb, e + 16);
        cr_assert_eq(memcmp(x, y, e + 16), 0, "%s differs from %s", pa, pb);
        size_t nz = e + 16;
        while (nz < la && x[nz] == 0)
            nz++;
        cr_assert_eq(nz, la, "%s: byte %zu past the end mark is %d", pa, nz, nz < la ? x[nz] : 0);
        free(x);
        free(y);
    }
}

/* Record lengths that land an append's end on and around block and buffer boundaries,
 * including the end mark cut by a full 1 MiB buffer going out (j < 16 bytes left). */
Test(wal, direct_appends_write_what_buffered_ones_do)
{
    char *a = test_tmpdir("wal"), *b = test_tmpdir("wal");
    owl_wal_options od = opts_of(OWL_WAL_SYNC_ALWAYS, 0), ob = od;
    ob.buffered = 1;
    owl_wal *wa = open_ok(a, &od, NULL), *wb = open_ok(b, &ob, NULL);
    owl_wal_stats st;
    owl_wal_stats_get(wb, &st);
    cr_assert_eq(st.direct, 0);
    owl_wal_stats_get(wa, &st);
    if (!st.direct) {
        owl_wal_close(wa);
        owl_wal_close(wb);
        test_rm_rf(a);
        test_rm_rf(b);
        cr_skip_test("the file system under /tmp refuses O_DIRECT");
    }
    static const size_t fixed[] = {0, 1, 15, 16, 17, 4031, 4032, 4033, 4063, 4064, 4065,
                                   4095, 4096, 4097, 100000};
    size_t len[2 * (OWL_ARRAY_LEN(fixed) + 19)], k = 0;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < OWL_ARRAY_LEN(fixed) + 19; i++) {
            if (i < OWL_ARRAY_LEN(fixed)) {
                len[k] = fixed[i];
            } else if (i < OWL_ARRAY_LEN(fixed) + 18) {
                size_t j = i - OWL_ARRAY_LEN(fixed);
                owl_wal_stats_get(wa, &st);
                size_t tail = (size_t)(st.bytes % T_DIO_BLK); /* one segment: its end */
                len[k] = T_DIO_CHUNK + j - tail - 32; /* tail + header + record + mark */
            } else {
                len[k] = 3 * T_DIO_CHUNK + 123;
            }
            k++;
            sized_append(wa, k, len[k - 1], k);
            sized_append(wb, k, len[k - 1], k);
        }
        /* reopened, the direct log takes its partial last block back from the file */
        owl_wal_close(wa);
        owl_wal_close(wb);
        coll c = {0};
        wa = open_ok(a, &od, &c);
        expect_sized(&c, len, k);
        coll_free(&c);
        wb = open_ok(b, &ob, NULL);
    }
    owl_wal_close(wa);
    owl_wal_close(wb);
    same_segments(a, b);
    coll c = {0};
    replay_all(a, &c);
    expect_sized(&c, len, k);
    coll_free(&c);
    test_rm_rf(a);
    test_rm_rf(b);
}

Test(wal, iovec_pieces_and_empty_record)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal *w = open_ok(dir, NULL, NULL);
    struct iovec iov[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    uint64_t lsn = 0;
    cr_assert_eq(owl_wal_append(w, iov, 3, &lsn, NULL), OWL_OK);
    cr_assert_eq(lsn, 1);
    cr_assert_eq(owl_wal_append(w, NULL, 0, &lsn, NULL), OWL_OK);
    cr_assert_eq(lsn, 2);
    cr_assert_eq(owl_wal_append(w, iov, -1, &lsn, NULL), OWL_EINVAL);
    cr_assert_eq(owl_wal_append(NULL, iov, 1, &lsn, NULL), OWL_EINVAL);
    owl_wal_close(w);
    replay_all(dir, &c);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[0].n, 8);
    cr_assert_eq(memcmp(c.r[0].data, "abcdefgh", 8), 0);
    cr_assert_eq(c.r[1].n, 0);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, lsns_consecutive_across_reopen)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_ALWAYS, 2048);
    for (uint64_t round = 0; round < 5; round++) {
        owl_wal *w = open_ok(dir, &o, &c);
        expect_ids(&c, 1, round * 40, 0, 100);
        for (uint64_t i = 1; i <= 40; i++)
            cr_assert_eq(append_id(w, round * 40 + i, 100), round * 40 + i);
        owl_wal_close(w);
        coll_free(&c);
    }
    replay_all(dir, &c);
    expect_ids(&c, 1, 200, 0, 100);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, bad_arguments)
{
    char *dir = test_tmpdir("wal");
    owl_wal *w = NULL;
    owl_wal_options o = opts_of((enum owl_wal_sync)7, 0);
    cr_assert_eq(owl_wal_open(dir, &o, NULL, NULL, &w, NULL), OWL_EINVAL);
    cr_assert_null(w);
    o = opts_of(OWL_WAL_SYNC_NONE, 0);
    o.max_record = (size_t)UINT32_MAX + 1;
    cr_assert_eq(owl_wal_open(dir, &o, NULL, NULL, &w, NULL), OWL_EINVAL);
    cr_assert_eq(owl_wal_open(NULL, NULL, NULL, NULL, &w, NULL), OWL_EINVAL);
    cr_assert_eq(owl_wal_open("", NULL, NULL, NULL, &w, NULL), OWL_EINVAL);
    owl_wal_close(NULL);
    test_rm_rf(dir);
}

Test(wal, second_owner_refused)
{
    char *dir = test_tmpdir("wal");
    owl_wal *w = open_ok(dir, NULL, NULL), *w2 = NULL;
    owl_error e;
    cr_assert_eq(owl_wal_open(dir, NULL, NULL, NULL, &w2, &e), OWL_EAGAIN);
    cr_assert_null(w2);
    owl_wal_close(w);
    w2 = open_ok(dir, NULL, NULL);
    owl_wal_close(w2);
    test_rm_rf(dir);
}

/* ---- checkpoints ---- */

Test(wal, checkpoint_deletes_segments_and_replay_skips)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 4096);
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= 1000; i++)
        append_id(w, i, 200);
    uint64_t before[1024], after[1024];
    size_t nb = list_segments(dir, before, 1024);
    owl_wal_stats st0, st;
    owl_wal_stats_get(w, &st0);
    cr_assert_eq(owl_wal_checkpoint(w, 1001, NULL), OWL_EINVAL);
    cr_assert_eq(owl_wal_checkpoint(w, 600, NULL), OWL_OK);
    size_t na = list_segments(dir, after, 1024);
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.checkpoint, 600);
    cr_assert_lt(na, nb);
    cr_assert_lt(st.bytes, st0.bytes);
    cr_assert_eq(st.bytes, sum_segments(dir, 1));
    /* The oldest survivor holds lsn 601, the one before it is gone. */
    cr_assert_leq(after[0], 601);
    cr_assert(na == 1 || after[1] > 601);
    for (size_t i = 0; i < nb; i++)
        if (before[i] < after[0]) {
            char p[4096];
            seg_path(dir, before[i], p, sizeof p);
            cr_assert_not(file_exists(p));
        }
    /* A lower checkpoint is a no-op. */
    cr_assert_eq(owl_wal_checkpoint(w, 10, NULL), OWL_OK);
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.checkpoint, 600);
    owl_wal_close(w);

    w = open_ok(dir, &o, &c);
    expect_ids(&c, 601, 1000, 0, 200);
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.checkpoint, 600);
    cr_assert_eq(append_id(w, 1001, 200), 1001);
    /* Checkpointing everything keeps the current segment and the lsn sequence. */
    cr_assert_eq(owl_wal_checkpoint(w, 1001, NULL), OWL_OK);
    cr_assert_eq(list_segments(dir, after, 1024), 1);
    owl_wal_close(w);
    coll_free(&c);
    w = open_ok(dir, &o, &c);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(append_id(w, 1002, 200), 1002);
    owl_wal_close(w);
    replay_all(dir, &c);
    expect_ids(&c, 1002, 1002, 0, 200);
    coll_free(&c);
    test_rm_rf(dir);
}

static void expect_verify(const char *dir, int want_rc, uint64_t want_records, int want_reports,
                          const char *needle);

/* Counts the spare-*.tmp files in dir. */
static size_t count_spares(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "spare-", 6) == 0;
    closedir(d);
    return n;
}

/* Checkpointed segments become spares (at most opts.spares), later segments are made from
 * them, and a reused file's old records beyond the end mark are never read: the log replays
 * exactly its records, verify finds nothing wrong, and reopening cuts nothing. */
Test(wal, checkpointed_segments_reused)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 4096);
    o.spares = 3;
    owl_wal *w = open_ok(dir, &o, NULL);
    owl_wal_stats st;
    for (uint64_t i = 1; i <= 3000; i++) {
        cr_assert_eq(append_id(w, i, 200), i);
        if (i % 150 == 0) {
            cr_assert_eq(owl_wal_checkpoint(w, i - 100, NULL), OWL_OK);
            owl_wal_stats_get(w, &st);
            cr_assert_leq(st.spares, 3);
            cr_assert_eq(count_spares(dir), st.spares);
            cr_assert_eq(st.bytes, sum_segments(dir, 1));
        }
    }
    owl_wal_stats_get(w, &st);
    cr_assert_gt(st.reused, 20, "only %llu segments reused", (unsigned long long)st.reused);
    /* some live segment is a reused file longer than its records and mark */
    uint64_t f[1024];
    size_t nseg = list_segments(dir, f, 1024), longer = 0;
    for (size_t i = 0; i < nseg; i++) {
        char p[4096];
        size_t n;
        seg_path(dir, f[i], p, sizeof p);
        unsigned char *d = read_bytes(p, &n);
        longer += n > test_wal_records_end(d, n) + 16;
        free(d);
    }
    cr_assert_gt(longer, 0, "no segment holds old bytes beyond its end mark");
    uint64_t files = sum_segments(dir, 0);
    owl_wal_close(w);
    expect_verify(dir, OWL_OK, 3000 - f[0] + 1, 0, NULL);
    w = open_ok(dir, &o, &c);
    expect_ids(&c, st.checkpoint + 1, 3000, 0, 200);
    cr_assert_eq(sum_segments(dir, 0), files, "reopening changed the segments' sizes");
    cr_assert_eq(append_id(w, 3001, 200), 3001);
    owl_wal_close(w);
    replay_all(dir, &c);
    expect_ids(&c, st.checkpoint + 1, 3001, 0, 200);
    coll_free(&c);

    /* spares -1 keeps none */
    test_rm_tree(dir);
    mkdir(dir, 0700);
    o.spares = -1;
    w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= 1000; i++) {
        append_id(w, i, 200);
        if (i % 100 == 0)
            cr_assert_eq(owl_wal_checkpoint(w, i - 50, NULL), OWL_OK);
    }
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.reused, 0);
    cr_assert_eq(count_spares(dir), 0);
    owl_wal_close(w);
    o.spares = -2;
    cr_assert_eq(owl_wal_open(dir, &o, NULL, NULL, &w, NULL), OWL_EINVAL);
    test_rm_rf(dir);
}

/* A process that dies with a reused segment current (its files copied as the page cache
 * holds them, no close): open replays every record written, verify reports nothing, and
 * the segments spares were made from are not cut. */
Test(wal, crash_with_reused_segment_current)
{
    char *dir = test_tmpdir("wal"), *copy = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 8192);
    owl_wal *w = open_ok(dir, &o, NULL);
    owl_wal_stats st;
    for (uint64_t i = 1; i <= 600; i++) {
        append_id(w, i, 300);
        if (i % 60 == 0)
            cr_assert_eq(owl_wal_checkpoint(w, i - 10, NULL), OWL_OK);
    }
    for (uint64_t i = 601; i <= 605; i++)
        append_id(w, i, 300);
    owl_wal_stats_get(w, &st);
    cr_assert_gt(st.reused, 0);
    uint64_t f[256];
    size_t nseg = list_segments(dir, f, 256);
    char p[4096];
    seg_path(dir, f[nseg - 1], p, sizeof p);
    size_t n;
    unsigned char *d = read_bytes(p, &n);
    size_t end = test_wal_records_end(d, n);
    free(d);
    cr_assert_gt(n, end + 16, "the current segment is not a reused one");
    copy_dir_files(dir, copy);
    owl_wal_close(w);
    expect_verify(copy, OWL_OK, 605 - f[0] + 1, 0, NULL);
    uint64_t files = sum_segments(copy, 0);
    w = open_ok(copy, &o, &c);
    expect_ids(&c, st.checkpoint + 1, 605, 0, 300);
    cr_assert_eq(sum_segments(copy, 0), files);
    owl_wal_close(w);
    coll_free(&c);
    test_rm_rf(copy);
    test_rm_rf(dir);
}

/* A checkpoint covering every record rolls a large current segment, which is then deleted:
 * the next open reads nothing, and lsns go on. */
Test(wal, full_checkpoint_rolls_a_large_segment)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 64u << 20);
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= 600; i++) /* about 2.4 MB in one segment */
        append_id(w, i, 4000);
    uint64_t segs[16];
    cr_assert_eq(list_segments(dir, segs, 16), 1);
    cr_assert_eq(owl_wal_checkpoint(w, 600, NULL), OWL_OK);
    cr_assert_eq(list_segments(dir, segs, 16), 1);
    cr_assert_eq(segs[0], 601, "the segment in use starts after the checkpoint");
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_lt(st.bytes, 1024);
    owl_wal_close(w);
    w = open_ok(dir, &o, &c);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(append_id(w, 601, 100), 601);
    owl_wal_close(w);
    coll_free(&c);
    replay_all(dir, &c);
    expect_ids(&c, 601, 601, 0, 100);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, checkpoint_on_empty_log_and_fresh_dir)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal *w = open_ok(dir, NULL, &c);
    cr_assert_eq(owl_wal_checkpoint(w, 0, NULL), OWL_OK);
    cr_assert_eq(owl_wal_checkpoint(w, 1, NULL), OWL_EINVAL);
    append_id(w, 1, 50);
    cr_assert_eq(owl_wal_checkpoint(w, 1, NULL), OWL_OK);
    owl_wal_close(w);
    /* Segments lost but the checkpoint kept: lsns continue above the checkpoint. */
    uint64_t f[16];
    char p[4096];
    size_t n = list_segments(dir, f, 16);
    for (size_t i = 0; i < n; i++) {
        seg_path(dir, f[i], p, sizeof p);
        unlink(p);
    }
    w = open_ok(dir, NULL, &c);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(append_id(w, 2, 50), 2);
    owl_wal_close(w);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, records_lost_below_checkpoint_restart_above_it)
{
    char *dir = test_tmpdir("wal");
    char p[4096];
    coll c = {0};
    owl_log_set_level(OWL_LOG_ERROR);
    make_log(dir, 0, 10, 50);
    owl_wal *w = open_ok(dir, NULL, NULL);
    cr_assert_eq(owl_wal_checkpoint(w, 10, NULL), OWL_OK);
    owl_wal_close(w);
    /* As if a power loss under SYNC_NONE took records 8..10 but kept the checkpoint. */
    seg_path(dir, 1, p, sizeof p);
    off_t keep = 24;
    for (uint64_t id = 1; id <= 7; id++)
        keep += 16 + (off_t)payload_len(id, 50);
    cr_assert_eq(truncate(p, keep), 0);
    w = open_ok(dir, NULL, &c);
    cr_assert_eq(c.n, 0);
    cr_assert_not(file_exists(p));
    cr_assert_eq(append_id(w, 11, 50), 11);
    owl_wal_close(w);
    replay_all(dir, &c);
    expect_ids(&c, 11, 11, 0, 50);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, corrupt_checkpoint_is_ecorrupt)
{
    char *dir = test_tmpdir("wal");
    char p[4096];
    owl_error e;
    make_log(dir, 0, 10, 50);
    owl_wal *w = open_ok(dir, NULL, NULL);
    cr_assert_eq(owl_wal_checkpoint(w, 5, NULL), OWL_OK);
    owl_wal_close(w);
    snprintf(p, sizeof p, "%s/checkpoint", dir);
    size_t n;
    unsigned char *good = read_bytes(p, &n);
    cr_assert_eq(n, 24);
    for (size_t i = 0; i < n; i++) {
        good[i] ^= 0x10;
        write_bytes(p, good, n);
        cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT, "flip at %zu", i);
        good[i] ^= 0x10;
    }
    write_bytes(p, good, n - 1);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    write_bytes(p, "garbage garbage garbage garbage", 31);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    write_bytes(p, "", 0);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    write_bytes(p, good, n);
    coll c = {0};
    replay_all(dir, &c);
    expect_ids(&c, 6, 10, 0, 50);
    coll_free(&c);
    free(good);
    test_rm_rf(dir);
}

/* Appenders race a checkpointer that keeps deleting segments under them. */
typedef struct cpctx {
    owl_wal *w;
    int t;
} cpctx;

static void *cp_appender(void *arg)
{
    cpctx *x = arg;
    for (uint64_t i = 0; i < 2000; i++) {
        size_t n;
        unsigned char *p = payload_make(((uint64_t)x->t << 32) | i, 100, &n);
        struct iovec iov = {p, n};
        if (owl_wal_append(x->w, &iov, 1, NULL, NULL) != OWL_OK)
            abort();
        free(p);
    }
    return NULL;
}

Test(wal, checkpoint_while_appending, .timeout = 60)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_INTERVAL, 2048);
    o.interval_ms = 5;
    owl_wal *w = open_ok(dir, &o, NULL);
    pthread_t th[4];
    cpctx x[4];
    for (int i = 0; i < 4; i++) {
        x[i] = (cpctx){w, i};
        cr_assert_eq(pthread_create(&th[i], NULL, cp_appender, &x[i]), 0);
    }
    uint64_t cp = 0;
    owl_wal_stats st;
    do {
        owl_wal_stats_get(w, &st);
        if (st.last_lsn > cp + 50) {
            cp = st.last_lsn - 50;
            cr_assert_eq(owl_wal_checkpoint(w, cp, NULL), OWL_OK);
        }
        usleep(1000);
    } while (st.last_lsn < 8000);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.bytes, sum_segments(dir, 1));
    owl_wal_close(w);
    replay_all(dir, &c);
    cr_assert_eq(c.n, 8000 - cp);
    cr_assert_eq(c.r[0].lsn, cp + 1);
    for (size_t i = 0; i < c.n; i++) {
        uint64_t id;
        cr_assert(payload_check(c.r[i].data, c.r[i].n, 100, &id));
    }
    coll_free(&c);
    test_rm_rf(dir);
}

/* ---- torn tails and corruption ---- */

/* The torn-tail tests use a one-segment log of T_COUNT records, payload span 41. */
#define T_COUNT 20

/* Writes data[0..n) as the only segment of a fresh copy, opens it and checks that
 * exactly `keep` records replay and that the next append gets lsn keep + 1. */
static void expect_recovers_to(const unsigned char *data, size_t n, uint64_t keep,
                               size_t want_size)
{
    char *dir = test_tmpdir("wal");
    char p[4096];
    coll c = {0};
    seg_path(dir, 1, p, sizeof p);
    write_bytes(p, data, n);
    owl_wal_options o = opts_of(OWL_WAL_SYNC_ALWAYS, 0);
    owl_wal *w = open_ok(dir, &o, &c);
    expect_ids(&c, 1, keep, 0, 41);
    cr_assert_eq((size_t)file_size(p), want_size, "size %zu after recovery of %zu bytes",
                 (size_t)file_size(p), n);
    cr_assert_eq(append_id(w, 100, 41), keep + 1);
    owl_wal_close(w);
    replay_all(dir, &c);
    cr_assert_eq(c.n, keep + 1);
    cr_assert_eq(c.r[keep].lsn, keep + 1);
    uint64_t id;
    cr_assert(payload_check(c.r[keep].data, c.r[keep].n, 41, &id) && id == 100);
    coll_free(&c);
    test_rm_rf(dir);
}

/* The records of a torn-tail base image of n bytes: all but the end mark after them
 * (checked to be there). */
static size_t torn_base_records(const unsigned char *data, size_t n)
{
    cr_assert_geq(n, 24 + 16);
    cr_assert_eq(test_wal_records_end(data, n), n - 16, "no end mark after the records");
    cr_assert_eq(memcmp(data + n - 16, "\xff\xff\xff\xff", 4), 0);
    return n - 16;
}

/* The base log of the torn-tail tests: ids 1..T_COUNT in one segment. */
static void make_torn_base(const char *dir)
{
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 0);
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= T_COUNT; i++)
        append_id(w, i, 41);
    owl_wal_close(w);
}

/* The torn-tail base log made in dir (warnings silenced) and its segment's bytes. */
static unsigned char *torn_base_image(const char *dir, size_t *n)
{
    char p[4096];
    owl_log_set_level(OWL_LOG_ERROR);
    make_torn_base(dir);
    seg_path(dir, 1, p, sizeof p);
    return read_bytes(p, n);
}

Test(wal, torn_tail_every_offset)
{
    char *dir = test_tmpdir("wal");
    unsigned char *data;
    size_t n;
    data = torn_base_image(dir, &n);
    n = torn_base_records(data, n);
    size_t last_len = payload_len(T_COUNT, 41);
    size_t start = n - 16 - last_len;
    for (size_t cut = start; cut < n; cut++)
        expect_recovers_to(data, cut, T_COUNT - 1, start);
    expect_recovers_to(data, n, T_COUNT, n);
    /* a cut inside the end mark keeps every record; a whole mark stays as it is */
    for (size_t cut = n + 1; cut < n + 16; cut++)
        expect_recovers_to(data, cut, T_COUNT, n);
    expect_recovers_to(data, n + 16, T_COUNT, n + 16);
    /* A cut inside the first record (and its header) keeps nothing but the segment. */
    for (size_t cut = 24; cut < 24 + 16 + 4; cut++)
        expect_recovers_to(data, cut, 0, 24);
    free(data);
    test_rm_rf(dir);
}

Test(wal, torn_tail_is_logged)
{
    char *dir = test_tmpdir("wal"), *copy = test_tmpdir("wal");
    char p[4096], logpath[4096];
    unsigned char *data;
    size_t n;
    make_torn_base(dir);
    seg_path(dir, 1, p, sizeof p);
    data = read_bytes(p, &n);
    n = torn_base_records(data, n);
    seg_path(copy, 1, p, sizeof p);
    write_bytes(p, data, n - 5);
    snprintf(logpath, sizeof logpath, "%s.log", copy);
    int saved = dup(2), lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(lf, 0);
    dup2(lf, 2);
    owl_wal_close(open_ok(copy, NULL, NULL));
    dup2(saved, 2);
    close(saved);
    close(lf);
    size_t ln;
    char *log = (char *)read_bytes(logpath, &ln);
    char want[256];
    size_t start = n - 16 - payload_len(T_COUNT, 41);
    snprintf(want, sizeof want, "at offset %zu: dropping %zu bytes", start, n - 5 - start);
    cr_assert_not_null(strstr(log, p), "log does not name the file: %s", log);
    cr_assert_not_null(strstr(log, want), "log lacks '%s': %s", want, log);
    free(log);
    unlink(logpath);
    free(data);
    test_rm_rf(copy);
    test_rm_rf(dir);
}

Test(wal, flipped_byte_in_last_record_drops_only_it)
{
    char *dir = test_tmpdir("wal");
    unsigned char *data;
    size_t n;
    data = torn_base_image(dir, &n);
    size_t full = n;
    n = torn_base_records(data, n);
    size_t start = n - 16 - payload_len(T_COUNT, 41);
    for (size_t i = start; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            data[i] ^= (unsigned char)(1u << bit);
            expect_recovers_to(data, n, T_COUNT - 1, start);
            data[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* a damaged end mark is a torn tail after the last record: every record stays */
    for (size_t i = n; i < full; i++) {
        data[i] ^= 0x01;
        expect_recovers_to(data, full, T_COUNT, n);
        data[i] ^= 0x01;
    }
    free(data);
    test_rm_rf(dir);
}

/* ---- damage that is not a torn tail, and explicit recovery ---- */

/* Replay checker that tolerates the lsn gaps recovery leaves: counts records, checks each
 * payload is the one its lsn was written with (id == lsn) and that lsns increase. */
typedef struct dcount {
    uint64_t n, last;
    int bad;
} dcount;

static int dcount_cb(void *ud, uint64_t lsn, const void *p, size_t n)
{
    dcount *d = ud;
    uint64_t id;
    if (!payload_check(p, n, 60, &id) || id != lsn || lsn <= d->last)
        d->bad = 1;
    d->last = lsn;
    d->n++;
    return 0;
}

static void count_line(void *ud, const char *line)
{
    (void)line;
    (*(int *)ud)++;
}

/* Flips one bit at `frac` percent of the bytes of the log's segments taken end to end
 * (skipping segment headers), checks open refuses naming the file and changes nothing,
 * verify reports it, recovery quarantines a byte-identical original and brings back every
 * record but the damaged one, and the log opens and appends again. */
static void damage_and_recover(size_t segment_bytes, uint64_t count, unsigned frac)
{
    char *dir = test_tmpdir("wal"), *qdir = test_tmpdir("walq");
    uint64_t f[4096];
    char p[4096], qp[4200];
    owl_error e;
    make_log(dir, segment_bytes, count, 60);
    size_t nseg = list_segments(dir, f, 4096);
    uint64_t total = sum_segments(dir, 0), at = total * frac / 100, i = 0;
    for (;; i++) {
        seg_path(dir, f[i], p, sizeof p);
        if ((uint64_t)file_size(p) > at)
            break;
        at -= (uint64_t)file_size(p);
    }
    cr_assert(i + 1 < nseg || segment_bytes == 0);
    if (at < 24)
        at = 24;
    size_t n, n2;
    unsigned char *data = read_bytes(p, &n);
    data[at] ^= 0x04;
    write_bytes(p, data, n);

    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    cr_assert_not_null(strstr(e.msg, p), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "offset"), "%s", e.msg);
    unsigned char *again = read_bytes(p, &n2);
    cr_assert(n2 == n && memcmp(again, data, n) == 0, "open changed the damaged segment");
    free(again);
    uint64_t good = 0;
    cr_assert_eq(owl_wal_verify(dir, NULL, NULL, &good, &e), OWL_ECORRUPT);

    owl_wal_salvage st;
    int lines = 0;
    cr_assert_eq(owl_wal_recover(dir, qdir, count_line, &lines, &st, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(st.files, 1);
    cr_assert_eq(st.regions, 1);
    cr_assert_eq(st.lost_lsns, 1);
    cr_assert_geq(lines, 2);
    snprintf(qp, sizeof qp, "%s/%s", qdir, strrchr(p, '/') + 1);
    unsigned char *q = read_bytes(qp, &n2);
    cr_assert(n2 == n && memcmp(q, data, n) == 0, "quarantined copy differs from the damaged file");
    free(q);
    cr_assert_eq(owl_wal_verify(dir, NULL, NULL, &good, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(good, count - 1);

    dcount d = {0, 0, 0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, segment_bytes);
    owl_wal *w = NULL;
    cr_assert_eq(owl_wal_open(dir, &o, dcount_cb, &d, &w, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(d.n, count - 1, "replayed %llu of %llu", (unsigned long long)d.n,
                 (unsigned long long)count);
    cr_assert_not(d.bad);
    cr_assert_eq(d.last, count);
    size_t pn;
    unsigned char *pl = payload_make(count + 1, 60, &pn);
    cr_assert_eq(append_buf(w, pl, pn), count + 1);
    free(pl);
    owl_wal_close(w);
    memset(&d, 0, sizeof d);
    cr_assert_eq(owl_wal_open(dir, &o, dcount_cb, &d, &w, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(d.n, count);
    cr_assert_not(d.bad);
    owl_wal_close(w);
    cr_assert_eq(owl_wal_recover(dir, qdir, NULL, NULL, &st, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(st.files, 0, "a second recovery found work");
    free(data);
    test_rm_rf(qdir);
    test_rm_rf(dir);
}

/* One segment of 2,000 records, a bit flipped at 10%. */
Test(wal, flipped_bit_at_10_percent_refuses_then_recovers)
{
    damage_and_recover(0, 2000, 10);
}

/* Many segments: damage inside a non-final one, and at 50%. */
Test(wal, flipped_bit_in_earlier_segment_recovers)
{
    damage_and_recover(4096, 2000, 10);
    damage_and_recover(4096, 2000, 50);
}

/* The first record of a non-first segment damaged: the lsn gap it leaves is accepted
 * because recovery listed it; deleting a segment instead is still corruption. */
Test(wal, recovered_gap_accepted_deleted_segment_refused)
{
    char *dir = test_tmpdir("wal"), *qdir = test_tmpdir("walq");
    uint64_t f[256];
    char p[4096];
    owl_error e;
    make_log(dir, 1024, 200, 60);
    size_t nseg = list_segments(dir, f, 256);
    cr_assert_geq(nseg, 4);
    seg_path(dir, f[2], p, sizeof p);
    size_t n;
    unsigned char *data = read_bytes(p, &n);
    data[24 + 20] ^= 0x80; /* first record's payload */
    write_bytes(p, data, n);
    free(data);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    owl_wal_salvage st;
    cr_assert_eq(owl_wal_recover(dir, qdir, NULL, NULL, &st, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(st.lost_lsns, 1);
    cr_assert_not(file_exists(p), "the damaged segment's name should be gone");
    dcount d = {0, 0, 0};
    owl_wal *w = NULL;
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 1024);
    cr_assert_eq(owl_wal_open(dir, &o, dcount_cb, &d, &w, &e), OWL_OK, "%s", e.msg);
    owl_wal_close(w);
    cr_assert_eq(d.n, 199);
    cr_assert_not(d.bad);
    /* a segment deleted by hand is not covered */
    nseg = list_segments(dir, f, 256);
    seg_path(dir, f[nseg - 2], p, sizeof p);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    test_rm_rf(qdir);
    test_rm_rf(dir);
}

Test(wal, zero_filled_tail_is_cut)
{
    char *dir = test_tmpdir("wal");
    unsigned char *data;
    size_t n;
    data = torn_base_image(dir, &n);
    n = torn_base_records(data, n);
    unsigned char *big = calloc(1, n + 4096);
    memcpy(big, data, n);
    expect_recovers_to(big, n + 4096, T_COUNT, n);
    free(big);
    free(data);
    test_rm_rf(dir);
}

/* Old records beyond the end mark (a reused file's) are not read and not cut; with the mark
 * damaged they are a torn tail (their lsns are below the log's) and are cut. */
Test(wal, old_bytes_beyond_end_mark)
{
    char *dir = test_tmpdir("wal");
    unsigned char *data;
    size_t n;
    data = torn_base_image(dir, &n);
    size_t recs = torn_base_records(data, n), old = recs - 24 - 7;
    unsigned char *img = malloc(n + old);
    memcpy(img, data, n);
    memcpy(img + n, data + 24 + 7, old); /* records 1..T_COUNT again, from a torn start */
    expect_recovers_to(img, n + old, T_COUNT, n + old);
    memcpy(img + n, data + 24, old); /* from a record boundary: whole old records */
    expect_recovers_to(img, n + old, T_COUNT, n + old);
    img[recs + 5] ^= 0x10;
    expect_recovers_to(img, n + old, T_COUNT, recs);
    free(img);
    free(data);
    test_rm_rf(dir);
}

Test(wal, damage_in_earlier_segment_is_ecorrupt)
{
    char *dir = test_tmpdir("wal"), *work = test_tmpdir("wal");
    uint64_t f[256];
    char p[4096];
    owl_error e;
    owl_log_set_level(OWL_LOG_ERROR);
    make_log(dir, 1024, 200, 60);
    size_t nseg = list_segments(dir, f, 256);
    cr_assert_geq(nseg, 4);
    seg_path(dir, f[1], p, sizeof p);
    size_t n;
    unsigned char *data = read_bytes(p, &n);
    /* Flip bytes of the second segment: its header, a record header, a payload, the end. */
    size_t spots[] = {0, 13, 21, 24, 28, 33, 40 + 7, n / 2, n - 1};
    for (size_t k = 0; k < OWL_ARRAY_LEN(spots); k++) {
        test_rm_tree(work);
        mkdir(work, 0700);
        copy_dir_files(dir, work);
        seg_path(work, f[1], p, sizeof p);
        data[spots[k]] ^= 0x41;
        write_bytes(p, data, n);
        data[spots[k]] ^= 0x41;
        owl_error_clear(&e);
        cr_assert_eq(open_rc(work, &e), OWL_ECORRUPT, "flip at %zu", spots[k]);
        cr_assert_not_null(strstr(e.msg, "wal-"), "message: %s", e.msg);
    }
    /* Truncated earlier segment: a torn tail that is not at the end of the log. */
    test_rm_tree(work);
    mkdir(work, 0700);
    copy_dir_files(dir, work);
    seg_path(work, f[1], p, sizeof p);
    write_bytes(p, data, n - 3);
    cr_assert_eq(open_rc(work, &e), OWL_ECORRUPT);
    /* A missing middle segment leaves a gap. */
    test_rm_tree(work);
    mkdir(work, 0700);
    copy_dir_files(dir, work);
    seg_path(work, f[2], p, sizeof p);
    unlink(p);
    cr_assert_eq(open_rc(work, &e), OWL_ECORRUPT);
    /* A missing first segment leaves records above the checkpoint unaccounted for. */
    test_rm_tree(work);
    mkdir(work, 0700);
    copy_dir_files(dir, work);
    seg_path(work, f[0], p, sizeof p);
    unlink(p);
    cr_assert_eq(open_rc(work, &e), OWL_ECORRUPT);
    /* The untouched original still opens. */
    coll c = {0};
    replay_all(dir, &c);
    expect_ids(&c, 1, 200, 0, 60);
    coll_free(&c);
    free(data);
    test_rm_rf(work);
    test_rm_rf(dir);
}

Test(wal, torn_header_of_last_segment)
{
    char *dir = test_tmpdir("wal");
    uint64_t f[256];
    char p[4096];
    coll c = {0};
    owl_error e;
    owl_log_set_level(OWL_LOG_ERROR);
    make_log(dir, 1024, 100, 60);
    size_t nseg = list_segments(dir, f, 256);
    /* A crash while creating segment 101: its header is short or garbage. */
    seg_path(dir, 101, p, sizeof p);
    for (size_t cut = 0; cut <= 24; cut += 6) {
        unsigned char junk[24];
        memset(junk, 0xab, sizeof junk);
        write_bytes(p, junk, cut);
        owl_wal *w = open_ok(dir, NULL, &c);
        expect_ids(&c, 1, 100, 0, 60);
        coll_free(&c);
        cr_assert_eq(list_segments(dir, f, 256), nseg);
        owl_wal_close(w);
    }
    /* A bad header with bytes after it is not a torn creation. */
    unsigned char junk[100];
    memset(junk, 0xab, sizeof junk);
    write_bytes(p, junk, sizeof junk);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    unlink(p);
    /* A torn segment that does not continue the sequence hides a gap. */
    seg_path(dir, 150, p, sizeof p);
    write_bytes(p, junk, 5);
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    unlink(p);
    /* A lone segment with a torn header: the log starts over at lsn 1. */
    char *d2 = test_tmpdir("wal");
    seg_path(d2, 1, p, sizeof p);
    write_bytes(p, "OWLWAL", 6);
    owl_wal *w = open_ok(d2, NULL, &c);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(append_id(w, 1, 60), 1);
    owl_wal_close(w);
    replay_all(d2, &c);
    expect_ids(&c, 1, 1, 0, 60);
    coll_free(&c);
    test_rm_rf(d2);
    test_rm_rf(dir);
}

Test(wal, temp_files_removed)
{
    char *dir = test_tmpdir("wal");
    char p1[4096], p2[4096];
    make_log(dir, 0, 3, 20);
    snprintf(p1, sizeof p1, "%s/checkpoint.tmp", dir);
    snprintf(p2, sizeof p2, "%s/wal-0000000000000004.log.tmp", dir);
    write_bytes(p1, "x", 1);
    write_bytes(p2, "y", 1);
    coll c = {0};
    replay_all(dir, &c);
    expect_ids(&c, 1, 3, 0, 20);
    cr_assert_not(file_exists(p1));
    cr_assert_not(file_exists(p2));
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, replay_callback_error_aborts_open)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal *w = NULL;
    owl_error e;
    make_log(dir, 512, 50, 40);
    c.fail_at = 30;
    c.fail_rc = OWL_EINTERNAL;
    cr_assert_eq(owl_wal_open(dir, NULL, coll_cb, &c, &w, &e), OWL_EINTERNAL);
    cr_assert_null(w);
    cr_assert_eq(e.code, OWL_EINTERNAL);
    cr_assert_eq(c.n, 29);
    coll_free(&c);
    /* Nothing was changed by the aborted open. */
    replay_all(dir, &c);
    expect_ids(&c, 1, 50, 0, 40);
    coll_free(&c);
    test_rm_rf(dir);
}

/* ---- offline verification ---- */

typedef struct reports {
    char text[8192];
    int n;
} reports;

static void on_report(void *ud, const char *what)
{
    reports *r = ud;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "%s\n", what);
    r->n++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Whole-directory snapshot: concatenated names and bytes, to prove verify changes nothing. */
static char *dir_image(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    owl_buf b = OWL_BUF_INIT;
    cr_assert_not_null(d);
    char names[64][256];
    size_t k = 0;
    while ((de = readdir(d)) != NULL && k < 64)
        if (de->d_name[0] != '.')
            snprintf(names[k++], sizeof names[0], "%s", de->d_name);
    closedir(d);
    qsort(names, k, sizeof names[0], cmp_name);
    for (size_t i = 0; i < k; i++) {
        char p[4096];
        size_t len;
        snprintf(p, sizeof p, "%s/%.255s", dir, names[i]);
        unsigned char *data = read_bytes(p, &len);
        owl_buf_append(&b, names[i], strlen(names[i]) + 1);
        owl_buf_append(&b, data, len);
        free(data);
    }
    *n = b.len;
    return owl_buf_steal(&b);
}

static void expect_verify(const char *dir, int want_rc, uint64_t want_records, int want_reports,
                          const char *needle)
{
    reports r;
    uint64_t recs = 99;
    owl_error e;
    size_t n1, n2;
    memset(&r, 0, sizeof r);
    char *before = dir_image(dir, &n1);
    int rc = owl_wal_verify(dir, on_report, &r, &recs, &e);
    char *after = dir_image(dir, &n2);
    cr_assert_eq(rc, want_rc, "verify: %s (%s) reports: %s", owl_errname(rc), e.msg, r.text);
    cr_assert_eq(recs, want_records, "verify counted %llu records", (unsigned long long)recs);
    cr_assert_eq(r.n, want_reports, "reports: %s", r.text);
    if (needle)
        cr_assert_not_null(strstr(r.text, needle), "'%s' not in: %s", needle, r.text);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0, "verify changed the directory");
    free(before);
    free(after);
}

Test(wal, verify_reports_without_changing_anything)
{
    char *dir = test_tmpdir("wal");
    uint64_t f[256];
    char p[4096], tmp[4096];
    owl_log_set_level(OWL_LOG_ERROR);
    make_log(dir, 1024, 200, 60);
    unlink(strcat(strcpy(p, dir), "/lock"));
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
    write_bytes(tmp, "x", 1); /* a leftover is not a problem, and verify leaves it */
    expect_verify(dir, OWL_OK, 200, 0, NULL);
    cr_assert_eq(owl_wal_verify(dir, NULL, NULL, NULL, NULL), OWL_OK);

    size_t nseg = list_segments(dir, f, 256), n;
    cr_assert_geq(nseg, 4);
    /* Torn tail of the last segment: reported (open would cut it), not cut. */
    seg_path(dir, f[nseg - 1], p, sizeof p);
    unsigned char *last = read_bytes(p, &n);
    write_bytes(p, last, n - 16 - 3);
    expect_verify(dir, OWL_ECORRUPT, 199, 1, "incomplete record");
    write_bytes(p, last, n);
    free(last);

    /* A flipped byte in an earlier segment, and the gap it leaves for the next one is not
     * reported twice. */
    seg_path(dir, f[1], p, sizeof p);
    unsigned char *mid = read_bytes(p, &n);
    mid[n - 16 - 2] ^= 1; /* in the last record, before the end mark */
    write_bytes(p, mid, n);
    expect_verify(dir, OWL_ECORRUPT, 199, 1, "bad checksum");
    mid[n - 16 - 2] ^= 1;
    write_bytes(p, mid, n);
    free(mid);

    /* A missing segment is a gap; a corrupt checkpoint is reported too. */
    seg_path(dir, f[2], p, sizeof p);
    unsigned char *gone = read_bytes(p, &n);
    unlink(p);
    snprintf(tmp, sizeof tmp, "%s/checkpoint", dir);
    write_bytes(tmp, "bogus", 5);
    reports r;
    memset(&r, 0, sizeof r);
    uint64_t recs;
    cr_assert_eq(owl_wal_verify(dir, on_report, &r, &recs, NULL), OWL_ECORRUPT);
    cr_assert_eq(r.n, 2, "%s", r.text);
    cr_assert_not_null(strstr(r.text, "expected"));
    cr_assert_not_null(strstr(r.text, "checkpoint"));
    unlink(tmp);
    write_bytes(p, gone, n);
    free(gone);
    expect_verify(dir, OWL_OK, 200, 0, NULL);
    cr_assert_eq(owl_wal_verify(NULL, NULL, NULL, NULL, NULL), OWL_EINVAL);
    test_rm_rf(dir);
}

/* ---- limits ---- */

Test(wal, max_record_enforced)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_ALWAYS, 0);
    o.max_record = 100;
    owl_wal *w = open_ok(dir, &o, NULL);
    unsigned char big[101];
    memset(big, 'x', sizeof big);
    cr_assert_eq(append_buf(w, big, 10), 1);
    struct iovec iov = {big, 101};
    uint64_t lsn = 0;
    owl_error e;
    cr_assert_eq(owl_wal_append(w, &iov, 1, &lsn, &e), OWL_ETOOBIG);
    cr_assert_eq(lsn, 0);
    struct iovec two[2] = {{big, 60}, {big, 41}};
    cr_assert_eq(owl_wal_append(w, two, 2, &lsn, &e), OWL_ETOOBIG);
    cr_assert_eq(append_buf(w, big, 100), 2);
    owl_wal_close(w);
    replay_all(dir, &c);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[1].n, 100);
    coll_free(&c);
    test_rm_rf(dir);
}

/* ---- group commit and sync policies ---- */

typedef struct gctx {
    owl_wal *w;
    uint64_t t;
    int failures;
} gctx;

static void *gc_appender(void *arg)
{
    gctx *x = arg;
    for (uint64_t i = 0; i < 1000; i++) {
        size_t n;
        unsigned char *p = payload_make((x->t << 32) | i, 120, &n);
        struct iovec iov = {p, n};
        if (owl_wal_append(x->w, &iov, 1, NULL, NULL) != OWL_OK)
            x->failures++;
        free(p);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(wal, group_commit_8_threads, .timeout = 120)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal *w = open_ok(dir, NULL, NULL);
    pthread_t th[8];
    gctx x[8];
    for (int i = 0; i < 8; i++) {
        x[i] = (gctx){w, (uint64_t)i, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, gc_appender, &x[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(x[i].failures, 0);
    }
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.appends, 8000);
    cr_assert_eq(st.last_lsn, 8000);
    cr_assert_lt(st.fsyncs, st.appends);
    printf("wal group commit: %llu appends, %llu fdatasyncs, %.2f appends per fdatasync\n",
           (unsigned long long)st.appends, (unsigned long long)st.fsyncs,
           (double)st.appends / (double)(st.fsyncs ? st.fsyncs : 1));
    fflush(stdout);
    owl_wal_close(w);
    replay_all(dir, &c);
    cr_assert_eq(c.n, 8000);
    uint64_t *ids = malloc(8000 * sizeof *ids);
    for (size_t i = 0; i < c.n; i++) {
        cr_assert(payload_check(c.r[i].data, c.r[i].n, 120, &ids[i]));
        cr_assert_lt(ids[i] >> 32, 8);
        cr_assert_lt(ids[i] & 0xffffffffu, 1000);
    }
    qsort(ids, 8000, sizeof *ids, cmp_u64);
    for (size_t i = 1; i < 8000; i++)
        cr_assert_neq(ids[i], ids[i - 1], "duplicate record");
    free(ids);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, interval_mode_syncs_in_background)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_INTERVAL, 0);
    o.interval_ms = 20;
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= 100; i++)
        append_id(w, i, 90);
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_lt(st.fsyncs, 100);
    int64_t t0 = owl_mono_ns();
    do {
        usleep(5000);
        owl_wal_stats_get(w, &st);
    } while (st.fsyncs == 0 && owl_mono_ns() - t0 < 2000000000LL);
    cr_assert_geq(st.fsyncs, 1, "the interval thread never synced");
    usleep(100000); /* five intervals: whatever the first round missed is synced now */
    owl_wal_stats_get(w, &st);
    uint64_t f1 = st.fsyncs;
    usleep(100000); /* nothing new to sync: no more fdatasyncs */
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.fsyncs, f1);
    cr_assert_eq(owl_wal_sync(w, NULL), OWL_OK);
    owl_wal_close(w);
    replay_all(dir, &c);
    expect_ids(&c, 1, 100, 0, 90);
    coll_free(&c);
    test_rm_rf(dir);
}

Test(wal, none_mode_never_syncs_appends)
{
    char *dir = test_tmpdir("wal");
    coll c = {0};
    owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 0);
    owl_wal *w = open_ok(dir, &o, NULL);
    for (uint64_t i = 1; i <= 200; i++)
        append_id(w, i, 90);
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.fsyncs, 0);
    cr_assert_eq(owl_wal_sync(w, NULL), OWL_OK); /* an explicit sync still syncs */
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.fsyncs, 1);
    owl_wal_close(w);
    replay_all(dir, &c);
    expect_ids(&c, 1, 200, 0, 90);
    coll_free(&c);
    test_rm_rf(dir);
}

/* ---- SIGKILL crash rounds ---- */

#define CRASH_SPAN 600
#define CRASH_BIG 70000

typedef struct crashctx {
    owl_wal *w;
    uint64_t base;
    int out;
} crashctx;

static size_t crash_len(uint64_t id)
{
    return (id & 63) == 7 ? CRASH_BIG : payload_len(id, CRASH_SPAN);
}

static void crash_fill(uint64_t id, unsigned char *p, size_t n)
{
    memcpy(p, &id, 8);
    for (size_t i = 8; i < n; i++)
        p[i] = (unsigned char)(id * 31 + i * 131);
}

static int crash_check(const unsigned char *p, size_t n, uint64_t *id)
{
    if (n < 8)
        return 0;
    memcpy(id, p, 8);
    if (n != crash_len(*id))
        return 0;
    for (size_t i = 8; i < n; i++)
        if (p[i] != (unsigned char)(*id * 31 + i * 131))
            return 0;
    return 1;
}

/* Child thread: appends forever, reporting each acknowledged (lsn, id) on the pipe. */
static void *crash_appender(void *arg)
{
    crashctx *x = arg;
    unsigned char *p = malloc(CRASH_BIG);
    if (!p)
        _exit(4);
    for (uint64_t i = 0;; i++) {
        uint64_t id = x->base | i, lsn, msg[2];
        size_t n = crash_len(id);
        crash_fill(id, p, n);
        struct iovec iov = {p, n};
        if (owl_wal_append(x->w, &iov, 1, &lsn, NULL) != OWL_OK)
            _exit(3);
        msg[0] = lsn;
        msg[1] = id;
        if (write(x->out, msg, sizeof msg) != (ssize_t)sizeof msg)
            _exit(5);
    }
    return NULL;
}

/* Child: two appenders, while this thread keeps checkpointing 300 records behind, so kills
 * also land in checkpoint writes and segment deletions. */
static void crash_child(const char *dir, int out, uint64_t round)
{
    owl_wal_options o = opts_of(OWL_WAL_SYNC_ALWAYS, 64 * 1024);
    owl_wal *w = NULL;
    pthread_t th[2];
    crashctx x[2];
    alarm(20);
    if (owl_wal_open(dir, &o, NULL, NULL, &w, NULL) != OWL_OK)
        _exit(2);
    for (int i = 0; i < 2; i++) {
        x[i] = (crashctx){w, (round << 40) | ((uint64_t)i << 32), out};
        if (pthread_create(&th[i], NULL, crash_appender, &x[i]) != 0)
            _exit(6);
    }
    for (;;) {
        owl_wal_stats st;
        usleep(5000);
        owl_wal_stats_get(w, &st);
        if (st.last_lsn > 300 && owl_wal_checkpoint(w, st.last_lsn - 300, NULL) != OWL_OK)
            _exit(7);
    }
}

typedef struct ack {
    uint64_t lsn, id;
} ack;

Test(wal, crash_sigkill_rounds, .timeout = 120)
{
    char *dir = test_tmpdir("wal");
    ack *acks = NULL;
    size_t nacks = 0, capacks = 0;
    unsigned seed;
    owl_random(&seed, sizeof seed);
    srand(seed);
    owl_log_set_level(OWL_LOG_ERROR);
    int64_t t0 = owl_mono_ns();
    size_t total_replayed = 0, checkpoints_seen = 0;
    for (uint64_t round = 0; round < 20; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            crash_child(dir, pfd[1], round);
            _exit(0);
        }
        close(pfd[1]);
        int delay_ms = 20 + rand() % 181;
        int64_t deadline = owl_mono_ns() + (int64_t)delay_ms * 1000000;
        unsigned char buf[65536];
        size_t have = 0;
        int killed = 0;
        for (;;) {
            int64_t left = (deadline - owl_mono_ns()) / 1000000;
            if (!killed && left <= 0) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd pf = {pfd[0], POLLIN, 0};
            if (!killed && poll(&pf, 1, (int)left) <= 0)
                continue;
            ssize_t r = read(pfd[0], buf + have, sizeof buf - have);
            if (r < 0 && errno == EINTR)
                continue;
            cr_assert_geq(r, 0);
            if (r == 0)
                break;
            have += (size_t)r;
            size_t whole = have - have % sizeof(ack);
            for (size_t i = 0; i < whole; i += sizeof(ack)) {
                if (nacks == capacks) {
                    capacks = capacks ? 2 * capacks : 1024;
                    acks = realloc(acks, capacks * sizeof *acks);
                    cr_assert_not_null(acks);
                }
                memcpy(&acks[nacks++], buf + i, sizeof(ack));
            }
            memmove(buf, buf + whole, have - whole);
            have -= whole;
        }
        close(pfd[0]);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %llu: child exited early (status %d)", (unsigned long long)round, status);

        /* Every acknowledged record above the checkpoint, exactly once, at its lsn;
         * everything else intact. */
        coll c = {0};
        owl_wal_options o = opts_of(OWL_WAL_SYNC_NONE, 0);
        owl_wal *w = open_ok(dir, &o, &c);
        owl_wal_stats st;
        owl_wal_stats_get(w, &st);
        owl_wal_close(w);
        uint64_t cp = st.checkpoint;
        total_replayed = c.n;
        checkpoints_seen += cp > 0;
        cr_assert_eq(st.last_lsn, cp + c.n);
        uint64_t *ids = malloc((c.n ? c.n : 1) * sizeof *ids);
        for (size_t i = 0; i < c.n; i++) {
            cr_assert_eq(c.r[i].lsn, cp + 1 + i);
            cr_assert(crash_check(c.r[i].data, c.r[i].n, &ids[i]),
                      "round %llu: lsn %llu is corrupt", (unsigned long long)round,
                      (unsigned long long)c.r[i].lsn);
        }
        for (size_t i = 0; i < nacks; i++) {
            if (acks[i].lsn <= cp)
                continue;
            cr_assert_leq(acks[i].lsn, cp + c.n, "round %llu: acknowledged lsn %llu lost",
                          (unsigned long long)round, (unsigned long long)acks[i].lsn);
            cr_assert_eq(ids[acks[i].lsn - cp - 1], acks[i].id,
                         "lsn %llu holds the wrong record", (unsigned long long)acks[i].lsn);
        }
        qsort(ids, c.n, sizeof *ids, cmp_u64);
        for (size_t i = 1; i < c.n; i++)
            cr_assert_neq(ids[i], ids[i - 1], "a record was replayed twice");
        free(ids);
        coll_free(&c);
    }
    printf("wal crash test: seed %u, 20 SIGKILL rounds, %zu acknowledged, %zu replayed above "
           "the checkpoint at the end, %zu rounds ended with a checkpoint, %.1f s\n",
           seed, nacks, total_replayed, checkpoints_seen, (double)(owl_mono_ns() - t0) / 1e9);
    fflush(stdout);
    cr_assert_gt(nacks, 0);
    free(acks);
    test_rm_rf(dir);
}

/* ---- disk full (tmpfs of 1 MiB; root only) ---- */

static char *full_base;
static int full_mounted;

static void full_cleanup(void)
{
    if (full_mounted && umount2(full_base, 0) != 0)
        umount2(full_base, MNT_DETACH);
    full_mounted = 0;
    if (full_base)
        test_rm_rf(full_base);
    full_base = NULL;
}

Test(wal, disk_full_then_recovers, .fini = full_cleanup)
{
    char wdir[4096], filler[4096];
    coll c = {0};
    owl_error e;
    if (geteuid() != 0)
        cr_skip_test("disk-full test needs root to mount a tmpfs");
    full_base = test_tmpdir("wal");
    /* In a private mount namespace the tmpfs cannot outlive this test process even if it
     * crashes; where unshare is refused the mount is global and .fini unmounts it. */
    if (unshare(CLONE_NEWNS) == 0)
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (mount("tmpfs", full_base, "tmpfs", 0, "size=1m") != 0)
        cr_skip_test("cannot mount a 1 MiB tmpfs on %s: %s", full_base, strerror(errno));
    full_mounted = 1;
    owl_log_set_level(OWL_LOG_ERROR);
    snprintf(filler, sizeof filler, "%s/filler", full_base);
    snprintf(wdir, sizeof wdir, "%s/wal", full_base);
    unsigned char *zeros = calloc(1, 128 * 1024);
    write_bytes(filler, zeros, 128 * 1024);
    free(zeros);

    owl_wal_options o = opts_of(OWL_WAL_SYNC_ALWAYS, 96 * 1024);
    owl_wal *w = open_ok(wdir, &o, NULL);
    uint64_t acked = 0;
    int rc = OWL_OK;
    for (uint64_t id = 1; id < 100000; id++) {
        size_t n;
        unsigned char *p = payload_make(id, 3000, &n);
        struct iovec iov = {p, n};
        uint64_t lsn = 0;
        rc = owl_wal_append(w, &iov, 1, &lsn, &e);
        free(p);
        if (rc != OWL_OK)
            break;
        cr_assert_eq(lsn, id);
        acked = id;
    }
    cr_assert_eq(rc, OWL_ENOSPC, "append failed with %s (%s)", owl_errname(rc), e.msg);
    cr_assert_gt(acked, 100);
    /* Still full, still refused, and nothing of the refused records is on disk. */
    size_t n;
    unsigned char *p = payload_make(acked + 1, 3000, &n);
    struct iovec iov = {p, n};
    cr_assert_eq(owl_wal_append(w, &iov, 1, NULL, NULL), OWL_ENOSPC);
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    cr_assert_eq(st.last_lsn, acked);
    cr_assert_eq(st.bytes, sum_segments(wdir, 1));
    owl_wal_close(w);
    w = open_ok(wdir, &o, &c);
    expect_ids(&c, 1, acked, 0, 3000);
    coll_free(&c);

    /* Space comes back: the refused lsn is reused by the next append. */
    cr_assert_eq(unlink(filler), 0);
    uint64_t lsn = 0;
    cr_assert_eq(owl_wal_append(w, &iov, 1, &lsn, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(lsn, acked + 1);
    free(p);
    for (uint64_t id = acked + 2; id <= acked + 10; id++)
        cr_assert_eq(append_id(w, id, 3000), id);
    owl_wal_close(w);
    replay_all(wdir, &c);
    expect_ids(&c, 1, acked + 10, 0, 3000);
    printf("wal disk full: %llu records fit in the 1 MiB tmpfs before ENOSPC\n",
           (unsigned long long)acked);
    fflush(stdout);
    coll_free(&c);
    cr_assert_eq(umount2(full_base, 0), 0, "umount %s: %s", full_base, strerror(errno));
    full_mounted = 0;
}

/* test_meta.c — tests of index/meta.c, the metadata store: CRUD and listing, durability
 * across reopen, journal recovery (torn tails at every byte, corrupt frames), damage with
 * valid records after it refused and repaired by owl_meta_recover, snapshot corruption, compaction and its crash windows, group commit under concurrency, write
 * failures, and SIGKILL crash rounds. Every test works in its own mkdtemp dir under /tmp. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/testfs.h"
#include "common/common.h"
#include "index/index.h"

/* ---- helpers ---- */

static owl_meta *open_opts(const char *dir, int fsync, size_t compact_min, double ratio)
{
    owl_meta_options o = {compact_min, ratio, fsync};
    owl_meta *m = NULL;
    owl_error e;
    owl_error_clear(&e);
    int rc = owl_meta_open(dir, &o, &m, &e);
    cr_assert_eq(rc, OWL_OK, "open %s: %s (%s)", dir, owl_errname(rc), e.msg);
    return m;
}

static owl_meta *open_fast(const char *dir)
{
    return open_opts(dir, 0, 0, 0);
}

static int open_rc(const char *dir, owl_error *e)
{
    owl_meta_options o = {0, 0, 0};
    owl_meta *m = NULL;
    int rc = owl_meta_open(dir, &o, &m, e);
    owl_meta_close(m);
    return rc;
}

static int put_str(owl_meta *m, const char *t, const char *k, const char *i, const char *v)
{
    bson_t *doc = BCON_NEW("v", BCON_UTF8(v));
    owl_error e;
    int rc = owl_meta_put(m, t, k, i, doc, &e);
    bson_destroy(doc);
    return rc;
}

static void put_ok(owl_meta *m, const char *t, const char *k, const char *i, const char *v)
{
    int rc = put_str(m, t, k, i, v);
    cr_assert_eq(rc, OWL_OK, "put %s/%s/%s: %s", t, k, i, owl_errname(rc));
}

/* The "v" of the record, malloc'd, or NULL when it is absent. */
static char *get_str(owl_meta *m, const char *t, const char *k, const char *i)
{
    bson_t *doc = NULL;
    bson_iter_t it;
    char *v = NULL;
    int rc = owl_meta_get(m, t, k, i, &doc, NULL);
    if (rc == OWL_ENOTFOUND)
        return NULL;
    cr_assert_eq(rc, OWL_OK, "get %s/%s/%s: %s", t, k, i, owl_errname(rc));
    if (bson_iter_init_find(&it, doc, "v") && BSON_ITER_HOLDS_UTF8(&it))
        v = strdup(bson_iter_utf8(&it, NULL));
    bson_destroy(doc);
    cr_assert_not_null(v);
    return v;
}

static void expect_val(owl_meta *m, const char *t, const char *k, const char *i, const char *want)
{
    char *v = get_str(m, t, k, i);
    if (!want)
        cr_assert_null(v, "%s/%s/%s should be absent, has %s", t, k, i, v);
    else
        cr_assert(v && strcmp(v, want) == 0, "%s/%s/%s: want %s, have %s", t, k, i, want,
                  v ? v : "(absent)");
    free(v);
}

/* Listing results as "tenant/kind/id=v" lines. */
typedef struct coll {
    char **items;
    size_t n, cap;
    size_t stop_after; /* callback returns non-zero after this many (0 = never) */
} coll;

static int coll_cb(void *ud, const char *t, const char *k, const char *i, const bson_t *doc)
{
    coll *c = ud;
    bson_iter_t it;
    const char *v = "";
    if (bson_iter_init_find(&it, doc, "v") && BSON_ITER_HOLDS_UTF8(&it))
        v = bson_iter_utf8(&it, NULL);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = realloc(c->items, c->cap * sizeof *c->items);
        cr_assert_not_null(c->items);
    }
    size_t len = strlen(t) + strlen(k) + strlen(i) + strlen(v) + 4;
    c->items[c->n] = malloc(len);
    snprintf(c->items[c->n], len, "%s/%s/%s=%s", t, k, i, v);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void coll_free(coll *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i]);
    free(c->items);
    memset(c, 0, sizeof *c);
}

static void list_into(owl_meta *m, const char *t, const char *k, const char *after, size_t limit,
                      coll *c)
{
    coll_free(c);
    cr_assert_eq(owl_meta_list(m, t, k, after, limit, coll_cb, c, NULL), OWL_OK);
}

static void expect_list(const coll *c, const char *const *want, size_t n)
{
    cr_assert_eq(c->n, n, "listed %zu records, want %zu", c->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(c->items[i], want[i]);
}

static void journal_path(const char *dir, unsigned gen, char *out, size_t n)
{
    snprintf(out, n, "%s/journal-%012u.owm", dir, gen);
}

static void snapshot_path(const char *dir, unsigned gen, char *out, size_t n)
{
    snprintf(out, n, "%s/snapshot-%012u.owm", dir, gen);
}

static void flip_byte(const char *path, off_t off)
{
    size_t n;
    unsigned char *p = read_bytes(path, &n);
    cr_assert_lt((size_t)off, n);
    p[off] ^= 0x5a;
    write_bytes(path, p, n);
    free(p);
}

/* The generation of the (single) journal in dir, or -1. */
static long current_gen(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    long gen = -1;
    while (d && (de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "journal-", 8) == 0 && strlen(de->d_name) == 24)
            gen = strtol(de->d_name + 8, NULL, 10);
    if (d)
        closedir(d);
    return gen;
}

/* ---- basic operations ---- */

Test(meta, put_get_delete)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 0);
    put_ok(m, "t1", "apikey", "k1", "one");
    put_ok(m, "t1", "apikey", "k2", "two");
    expect_val(m, "t1", "apikey", "k1", "one");
    expect_val(m, "t1", "apikey", "k2", "two");
    expect_val(m, "t2", "apikey", "k1", NULL);
    expect_val(m, "t1", "alarm", "k1", NULL);
    cr_assert_eq(owl_meta_count(m), 2);

    put_ok(m, "t1", "apikey", "k1", "uno");
    expect_val(m, "t1", "apikey", "k1", "uno");
    cr_assert_eq(owl_meta_count(m), 2);

    owl_error e;
    cr_assert_eq(owl_meta_delete(m, "t1", "apikey", "k1", &e), OWL_OK);
    expect_val(m, "t1", "apikey", "k1", NULL);
    cr_assert_eq(owl_meta_delete(m, "t1", "apikey", "k1", &e), OWL_ENOTFOUND);
    cr_assert_eq(owl_meta_delete(m, "t9", "apikey", "k2", &e), OWL_ENOTFOUND);
    bson_t *doc = NULL;
    cr_assert_eq(owl_meta_get(m, "t1", "apikey", "k1", &doc, &e), OWL_ENOTFOUND);
    cr_assert_null(doc);
    cr_assert_eq(owl_meta_count(m), 1);

    /* The stored doc is a copy: changing the caller's doc after put changes nothing. */
    bson_t *mine = BCON_NEW("v", BCON_UTF8("orig"));
    cr_assert_eq(owl_meta_put(m, "t1", "apikey", "k3", mine, NULL), OWL_OK);
    bson_reinit(mine);
    BSON_APPEND_UTF8(mine, "v", "changed");
    bson_destroy(mine);
    expect_val(m, "t1", "apikey", "k3", "orig");
    owl_meta_close(m);
    owl_meta_close(NULL);
    test_rm_rf(dir);
}

Test(meta, invalid_arguments)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char max255[256];
    memset(max255, 'b', 255);
    max255[255] = '\0';

    cr_assert_eq(put_str(m, "", "k", "i", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, "t", "", "i", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, "t", "k", "", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, longname, "k", "i", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, "t", longname, "i", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, "t", "k", longname, "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, "a/b", "k", "i", "v"), OWL_EINVAL);
    cr_assert_eq(put_str(m, NULL, "k", "i", "v"), OWL_EINVAL);
    cr_assert_eq(owl_meta_put(m, "t", "k", "i", NULL, NULL), OWL_EINVAL);
    cr_assert_eq(owl_meta_delete(m, "", "k", "i", NULL), OWL_EINVAL);
    bson_t *out = NULL;
    cr_assert_eq(owl_meta_get(m, "t", "k", longname, &out, NULL), OWL_EINVAL);

    /* 255 bytes is the limit, inclusive; '/' is fine in kinds and ids. */
    put_ok(m, max255, max255, max255, "max");
    expect_val(m, max255, max255, max255, "max");
    put_ok(m, "t", "k/x", "i/y", "slashes");

    /* Documents: 1 MiB is the limit. */
    size_t big = (1u << 20) + 16;
    char *s = malloc(big);
    memset(s, 'x', big - 1);
    s[big - 1] = '\0';
    bson_t *doc = bson_new();
    BSON_APPEND_UTF8(doc, "v", s);
    owl_error e;
    cr_assert_eq(owl_meta_put(m, "t", "k", "big", doc, &e), OWL_EINVAL);
    bson_destroy(doc);
    s[(1u << 20) - 64] = '\0'; /* just under 1 MiB as BSON */
    doc = bson_new();
    BSON_APPEND_UTF8(doc, "v", s);
    cr_assert_leq(doc->len, 1u << 20);
    cr_assert_eq(owl_meta_put(m, "t", "k", "big", doc, &e), OWL_OK, "%s", e.msg);
    bson_destroy(doc);
    free(s);
    cr_assert_eq(owl_meta_count(m), 3);
    owl_meta_close(m);

    /* And the large record survives reopen. */
    m = open_fast(dir);
    char *v = get_str(m, "t", "k", "big");
    cr_assert_eq(strlen(v), (1u << 20) - 64);
    free(v);
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, list_order_cursor_limit_tenants)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    /* inserted out of order, two tenants, two kinds */
    put_ok(m, "tb", "key", "c", "1");
    put_ok(m, "ta", "key", "b", "2");
    put_ok(m, "ta", "key", "a", "3");
    put_ok(m, "tb", "key", "a", "4");
    put_ok(m, "ta", "key", "c", "5");
    put_ok(m, "ta", "alarm", "a", "6");
    put_ok(m, "tc", "alarm", "z", "7");
    put_ok(m, "ta", "key", "aa", "8");
    coll c = {0};

    list_into(m, "ta", "key", NULL, 0, &c);
    const char *ta[] = {"ta/key/a=3", "ta/key/aa=8", "ta/key/b=2", "ta/key/c=5"};
    expect_list(&c, ta, 4);

    list_into(m, "tb", "key", NULL, 0, &c);
    const char *tb[] = {"tb/key/a=4", "tb/key/c=1"};
    expect_list(&c, tb, 2);

    list_into(m, "tz", "key", NULL, 0, &c);
    expect_list(&c, NULL, 0);
    list_into(m, "ta", "nosuch", NULL, 0, &c);
    expect_list(&c, NULL, 0);

    /* cursor is exclusive; cursors need not name existing ids */
    list_into(m, "ta", "key", "aa", 0, &c);
    expect_list(&c, ta + 2, 2);
    list_into(m, "ta", "key", "ab", 0, &c);
    expect_list(&c, ta + 2, 2);
    list_into(m, "ta", "key", "c", 0, &c);
    expect_list(&c, NULL, 0);

    /* limit, and paging through with limit + cursor */
    list_into(m, "ta", "key", NULL, 2, &c);
    expect_list(&c, ta, 2);
    list_into(m, "ta", "key", "aa", 1, &c);
    expect_list(&c, ta + 2, 1);

    /* all tenants: by tenant, then id; cursor "tenant/id" */
    list_into(m, NULL, "key", NULL, 0, &c);
    const char *all[] = {"ta/key/a=3", "ta/key/aa=8", "ta/key/b=2", "ta/key/c=5",
                         "tb/key/a=4", "tb/key/c=1"};
    expect_list(&c, all, 6);
    list_into(m, NULL, "key", "ta/c", 0, &c);
    expect_list(&c, all + 4, 2);
    list_into(m, NULL, "key", "ta/b", 3, &c);
    expect_list(&c, all + 3, 3);
    list_into(m, NULL, "key", "tb", 0, &c); /* tenant alone: from its first record */
    expect_list(&c, all + 4, 2);
    list_into(m, NULL, "alarm", NULL, 0, &c);
    const char *alarms[] = {"ta/alarm/a=6", "tc/alarm/z=7"};
    expect_list(&c, alarms, 2);

    /* the callback stops the walk */
    coll_free(&c);
    c.stop_after = 3;
    cr_assert_eq(owl_meta_list(m, NULL, "key", NULL, 0, coll_cb, &c, NULL), OWL_OK);
    expect_list(&c, all, 3);
    c.stop_after = 0;

    /* after deleting and reopening the same order holds */
    cr_assert_eq(owl_meta_delete(m, "ta", "key", "aa", NULL), OWL_OK);
    owl_meta_close(m);
    m = open_fast(dir);
    list_into(m, NULL, "key", NULL, 0, &c);
    const char *all2[] = {"ta/key/a=3", "ta/key/b=2", "ta/key/c=5", "tb/key/a=4",
                          "tb/key/c=1"};
    expect_list(&c, all2, 5);
    coll_free(&c);
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* Many ids in random order list sorted; exercises the tree's rebalancing. */
Test(meta, list_many_sorted)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    enum { N = 3000 };
    int *perm = malloc(N * sizeof *perm);
    for (int i = 0; i < N; i++)
        perm[i] = i;
    srand(7);
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "id%06d", perm[i]);
        put_ok(m, "t", "k", id, "x");
    }
    for (int i = 0; i < N; i += 3) { /* delete a third */
        snprintf(id, sizeof id, "id%06d", i);
        cr_assert_eq(owl_meta_delete(m, "t", "k", id, NULL), OWL_OK);
    }
    coll c = {0};
    list_into(m, "t", "k", NULL, 0, &c);
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            continue;
        char want[64];
        snprintf(want, sizeof want, "t/k/id%06d=x", i);
        cr_assert_str_eq(c.items[n], want);
        n++;
    }
    cr_assert_eq(c.n, n);
    /* paging with limit 100 visits the same sequence */
    size_t seen = 0;
    char cursor[64] = "";
    for (;;) {
        list_into(m, "t", "k", seen ? cursor : NULL, 100, &c);
        if (c.n == 0)
            break;
        seen += c.n;
        const char *last = strrchr(c.items[c.n - 1], '/') + 1;
        snprintf(cursor, sizeof cursor, "%.*s", (int)(strchr(last, '=') - last), last);
    }
    cr_assert_eq(seen, n);
    coll_free(&c);
    free(perm);
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, reopen_keeps_puts_replaces_and_deletes)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_opts(dir, 1, 0, 0);
    put_ok(m, "t1", "key", "a", "1");
    put_ok(m, "t1", "key", "b", "2");
    put_ok(m, "t2", "key", "a", "3");
    put_ok(m, "t1", "key", "a", "1b"); /* replace */
    cr_assert_eq(owl_meta_delete(m, "t1", "key", "b", NULL), OWL_OK);
    cr_assert_geq(owl_meta_fsyncs(m), 5);
    owl_meta_close(m);

    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 2);
    expect_val(m, "t1", "key", "a", "1b");
    expect_val(m, "t1", "key", "b", NULL);
    expect_val(m, "t2", "key", "a", "3");
    put_ok(m, "t1", "key", "b", "again");
    owl_meta_close(m);

    m = open_fast(dir);
    expect_val(m, "t1", "key", "b", "again");
    cr_assert_eq(owl_meta_count(m), 3);
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, second_open_is_refused)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_EAGAIN);
    owl_meta_close(m);
    cr_assert_eq(open_rc(dir, &e), OWL_OK);
    test_rm_rf(dir);
}

Test(meta, creates_nested_directory)
{
    char *dir = test_tmpdir("meta");
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    owl_meta *m = open_fast(sub);
    put_ok(m, "t", "k", "i", "v");
    owl_meta_close(m);
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    m = open_fast(sub);
    expect_val(m, "t", "k", "i", "v");
    owl_meta_close(m);
    char p[4096];
    test_rm_rf(strdup(sub));
    snprintf(p, sizeof p, "%s/a", dir);
    rmdir(p);
    test_rm_rf(dir);
}

/* ---- journal recovery ---- */

/* Truncating the journal anywhere inside the last record loses exactly that record, the
 * file is cut back to the previous record, and appends work afterwards. */
Test(meta, torn_tail_every_offset)
{
    char *dir = test_tmpdir("meta");
    char jp[4096], id[16];
    journal_path(dir, 0, jp, sizeof jp);
    enum { N = 5 };
    off_t ends[N];
    owl_meta *m = open_fast(dir);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "r%d", i);
        put_ok(m, "t", "k", id, id);
        ends[i] = file_size(jp);
    }
    owl_meta_close(m);
    size_t n;
    unsigned char *orig = read_bytes(jp, &n);
    cr_assert_eq((off_t)n, ends[N - 1]);

    owl_log_set_level(OWL_LOG_ERROR); /* one warning per offset otherwise */
    for (off_t cut = ends[N - 2]; cut < ends[N - 1]; cut++) {
        write_bytes(jp, orig, (size_t)cut);
        m = open_fast(dir);
        cr_assert_eq(owl_meta_count(m), N - 1, "cut at %lld", (long long)cut);
        for (int i = 0; i < N - 1; i++) {
            snprintf(id, sizeof id, "r%d", i);
            expect_val(m, "t", "k", id, id);
        }
        expect_val(m, "t", "k", "r4", NULL);
        cr_assert_eq(file_size(jp), ends[N - 2], "not cut back at %lld", (long long)cut);
        put_ok(m, "t", "k", "after", "x");
        owl_meta_close(m);
        m = open_fast(dir);
        cr_assert_eq(owl_meta_count(m), N);
        expect_val(m, "t", "k", "after", "x");
        owl_meta_close(m);
    }
    owl_log_set_level(OWL_LOG_INFO);
    free(orig);
    test_rm_rf(dir);
}

/* A flipped byte in the middle record is damage, not a torn tail (valid records follow):
 * open refuses with OWL_ECORRUPT naming the file, the offset and what is at stake, and
 * changes nothing. */
Test(meta, flipped_byte_mid_journal_refuses)
{
    char *dir = test_tmpdir("meta");
    char jp[4096], id[16];
    journal_path(dir, 0, jp, sizeof jp);
    off_t ends[5];
    owl_meta *m = open_fast(dir);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "r%d", i);
        put_ok(m, "t", "k", id, id);
        ends[i] = file_size(jp);
    }
    owl_meta_close(m);
    /* record 2 spans [ends[1], ends[2]); flip a byte in its payload */
    off_t mid = ends[1] + 8 + (ends[2] - ends[1] - 8) / 2;
    flip_byte(jp, mid);
    size_t n0, n1;
    unsigned char *before = read_bytes(jp, &n0);

    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    char want[128];
    snprintf(want, sizeof want, "checksum mismatch at offset %lld with 2 valid records",
             (long long)ends[1]);
    cr_assert_not_null(strstr(e.msg, want), "want '%s' in: %s", want, e.msg);
    cr_assert_not_null(strstr(e.msg, "journal-000000000000.owm"), "%s", e.msg);
    unsigned char *after = read_bytes(jp, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "open changed the journal");
    free(before);
    free(after);
    test_rm_rf(dir);
}

static void report_count(void *ud, const char *line)
{
    (void)line;
    (*(int *)ud)++;
}

/* 2,000 keys, one bit flipped at 10% of the journal: refused; owl_meta_recover brings back
 * exactly the 1,999 records outside the damaged one, the original lies byte-identical in
 * the quarantine, and the store opens and takes writes again. */
Test(meta, flipped_bit_at_10_percent_recovers_all_but_one, .timeout = 120)
{
    char *dir = test_tmpdir("meta");
    char jp[4096], qp[4200], id[16];
    char *qdir = test_tmpdir("metaq");
    enum { N = 2000 };
    journal_path(dir, 0, jp, sizeof jp);
    owl_meta *m = open_fast(dir);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "key%05d", i);
        put_ok(m, "t", "k", id, id);
    }
    owl_meta_close(m);
    off_t size = file_size(jp);
    size_t n;
    unsigned char *p = read_bytes(jp, &n);
    p[size / 10] ^= 0x10;
    write_bytes(jp, p, n);

    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    cr_assert_not_null(strstr(e.msg, jp), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "offset"), "%s", e.msg);

    owl_meta_salvage st;
    int lines = 0;
    cr_assert_eq(owl_meta_recover(dir, qdir, report_count, &lines, &st, &e), OWL_OK, "%s",
                 e.msg);
    cr_assert_eq(st.files, 1);
    cr_assert_eq(st.kept, N - 1);
    cr_assert_eq(st.regions, 1);
    cr_assert_geq(lines, 2);
    snprintf(qp, sizeof qp, "%s/journal-000000000000.owm", qdir);
    size_t qn;
    unsigned char *q = read_bytes(qp, &qn);
    cr_assert(qn == n && memcmp(p, q, n) == 0, "the quarantined copy is not the damaged file");
    free(q);

    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), N - 1);
    int missing = 0;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "key%05d", i);
        char *v = get_str(m, "t", "k", id);
        if (!v)
            missing++;
        else
            cr_assert_str_eq(v, id);
        free(v);
    }
    cr_assert_eq(missing, 1);
    put_ok(m, "t", "k", "later", "x");
    owl_meta_close(m);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), N);
    owl_meta_close(m);

    /* a second recover finds nothing to do */
    cr_assert_eq(owl_meta_recover(dir, qdir, NULL, NULL, &st, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(st.files, 0);
    free(p);
    test_rm_rf(qdir);
    test_rm_rf(dir);
}

/* A damaged snapshot: open refuses without changing any file; recovery keeps every other
 * record of the snapshot and the journal after it. */
Test(meta, damaged_snapshot_refuses_then_recovers)
{
    char *dir = test_tmpdir("meta");
    char sp[4096], jp[4096], qp[4200], id[16];
    char *qdir = test_tmpdir("metaq");
    snapshot_path(dir, 1, sp, sizeof sp);
    journal_path(dir, 1, jp, sizeof jp);
    owl_meta *m = open_fast(dir);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "s%03d", i);
        put_ok(m, "t", "k", id, id);
    }
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "j%03d", i);
        put_ok(m, "t", "k", id, id);
    }
    owl_meta_close(m);
    size_t n, jn;
    unsigned char *p = read_bytes(sp, &n);
    unsigned char *j0 = read_bytes(jp, &jn);
    p[n / 2] ^= 0x01;
    write_bytes(sp, p, n);
    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    cr_assert_not_null(strstr(e.msg, "snapshot-000000000001.owm"), "%s", e.msg);
    size_t n2, jn2;
    unsigned char *p2 = read_bytes(sp, &n2), *j2 = read_bytes(jp, &jn2);
    cr_assert(n2 == n && memcmp(p, p2, n) == 0, "the snapshot was changed");
    cr_assert(jn2 == jn && memcmp(j0, j2, jn) == 0, "the journal was changed");

    owl_meta_salvage st;
    cr_assert_eq(owl_meta_recover(dir, qdir, NULL, NULL, &st, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(st.files, 1);
    cr_assert_eq(st.kept, 99); /* only the rewritten snapshot counts */
    snprintf(qp, sizeof qp, "%s/snapshot-000000000001.owm", qdir);
    size_t qn;
    unsigned char *q = read_bytes(qp, &qn);
    cr_assert(qn == n && memcmp(p, q, n) == 0);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 109);
    put_ok(m, "t", "k", "later", "x");
    owl_meta_close(m);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 110);
    owl_meta_close(m);
    free(p);
    free(p2);
    free(j0);
    free(j2);
    free(q);
    test_rm_rf(qdir);
    test_rm_rf(dir);
}

/* A flipped length field is caught too (the crc covers the length bytes). */
Test(meta, flipped_length_stops_the_log)
{
    char *dir = test_tmpdir("meta");
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    off_t end1 = file_size(jp);
    put_ok(m, "t", "k", "b", "2");
    owl_meta_close(m);
    flip_byte(jp, end1); /* low byte of record 2's length */
    owl_log_set_level(OWL_LOG_ERROR);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 1);
    expect_val(m, "t", "k", "a", "1");
    owl_meta_close(m);
    cr_assert_eq(file_size(jp), end1);
    test_rm_rf(dir);
}

/* A frame with a valid checksum but a payload that is not a record is not a torn write:
 * open refuses (OWL_ECORRUPT) instead of dropping acknowledged records after it. */
Test(meta, checksummed_garbage_is_corrupt)
{
    char *dir = test_tmpdir("meta");
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    owl_meta_close(m);
    size_t n;
    unsigned char *p = read_bytes(jp, &n);
    bson_t *junk = BCON_NEW("op", BCON_UTF8("frobnicate"), "seq", BCON_INT64(99));
    unsigned char *q = malloc(n + 8 + junk->len);
    memcpy(q, p, n);
    uint32_t len = junk->len;
    memcpy(q + n, &len, 4); /* little-endian host */
    memcpy(q + n + 8, bson_get_data(junk), len);
    uint32_t crc = owl_crc32c(owl_crc32c(0, q + n, 4), q + n + 8, len);
    memcpy(q + n + 4, &crc, 4);
    write_bytes(jp, q, n + 8 + len);
    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    cr_assert_not_null(strstr(e.msg, "op"), "%s", e.msg);
    bson_destroy(junk);
    free(p);
    free(q);
    test_rm_rf(dir);
}

Test(meta, torn_journal_header_is_rewritten)
{
    char *dir = test_tmpdir("meta");
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    write_bytes(jp, "OWLME", 5);
    owl_log_set_level(OWL_LOG_ERROR);
    owl_meta *m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 0);
    cr_assert_eq(file_size(jp), 28);
    put_ok(m, "t", "k", "i", "v");
    owl_meta_close(m);
    m = open_fast(dir);
    expect_val(m, "t", "k", "i", "v");
    owl_meta_close(m);

    /* an empty file too */
    write_bytes(jp, "", 0);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 0);
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, bad_journal_header_is_corrupt)
{
    char *dir = test_tmpdir("meta");
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "i", "v");
    owl_meta_close(m);
    owl_error e;
    for (off_t off = 0; off < 28; off += 5) {
        flip_byte(jp, off);
        cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT, "header byte %lld", (long long)off);
        flip_byte(jp, off);
    }
    cr_assert_eq(open_rc(dir, &e), OWL_OK);
    test_rm_rf(dir);
}

/* ---- snapshots and compaction ---- */

Test(meta, corrupt_snapshot_fails_open)
{
    char *dir = test_tmpdir("meta");
    char sp[4096];
    snapshot_path(dir, 1, sp, sizeof sp);
    owl_meta *m = open_fast(dir);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        put_ok(m, "t", "k", id, id);
    }
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    owl_meta_close(m);
    cr_assert(file_exists(sp));
    size_t n;
    unsigned char *orig = read_bytes(sp, &n);
    owl_error e;

    /* a flipped byte anywhere: header, a record, the footer */
    off_t offs[] = {3, 20, 40, (off_t)n / 2, (off_t)n - 20, (off_t)n - 2};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        write_bytes(sp, orig, n);
        flip_byte(sp, offs[i]);
        cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT, "flip at %lld", (long long)offs[i]);
    }
    /* truncated (incomplete) */
    size_t cuts[] = {0, 10, 28, 40, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(sp, orig, cuts[i]);
        cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT, "cut at %zu", cuts[i]);
    }
    /* nothing was deleted by the failed opens: restoring the snapshot restores the store */
    write_bytes(sp, orig, n);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 10);
    owl_meta_close(m);
    free(orig);
    test_rm_rf(dir);
}

Test(meta, journal_without_snapshot_is_corrupt)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK); /* gen 1 */
    owl_meta_close(m);
    char sp[4096];
    snapshot_path(dir, 1, sp, sizeof sp);
    cr_assert_eq(unlink(sp), 0);
    owl_error e;
    cr_assert_eq(open_rc(dir, &e), OWL_ECORRUPT);
    test_rm_rf(dir);
}

/* A tiny deterministic PRNG so failures reproduce. */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

enum { MT = 3, MK = 2, MI = 60 };
static const char *const mtenants[MT] = {"acme", "beta", "zeta"};
static const char *const mkinds[MK] = {"apikey", "alarm"};

typedef struct model {
    int val[MT][MK][MI]; /* -1 absent */
} model;

static void model_ops(owl_meta *m, model *md, uint32_t *seed, int nops)
{
    char id[16], v[16];
    for (int n = 0; n < nops; n++) {
        int t = (int)(rnd(seed) % MT), k = (int)(rnd(seed) % MK), i = (int)(rnd(seed) % MI);
        snprintf(id, sizeof id, "id%03d", i);
        if (rnd(seed) % 3 == 0) {
            int rc = owl_meta_delete(m, mtenants[t], mkinds[k], id, NULL);
            cr_assert_eq(rc, md->val[t][k][i] >= 0 ? OWL_OK : OWL_ENOTFOUND);
            md->val[t][k][i] = -1;
        } else {
            int x = (int)(rnd(seed) % 100000);
            snprintf(v, sizeof v, "%d", x);
            put_ok(m, mtenants[t], mkinds[k], id, v);
            md->val[t][k][i] = x;
        }
    }
}

static void model_check(owl_meta *m, const model *md)
{
    char id[16], v[16];
    size_t live = 0;
    coll c = {0};
    for (int k = 0; k < MK; k++) {
        size_t pos = 0;
        list_into(m, NULL, mkinds[k], NULL, 0, &c);
        for (int t = 0; t < MT; t++) {
            for (int i = 0; i < MI; i++) {
                snprintf(id, sizeof id, "id%03d", i);
                if (md->val[t][k][i] < 0) {
                    expect_val(m, mtenants[t], mkinds[k], id, NULL);
                    continue;
                }
                snprintf(v, sizeof v, "%d", md->val[t][k][i]);
                expect_val(m, mtenants[t], mkinds[k], id, v);
                char want[64];
                snprintf(want, sizeof want, "%s/%s/%s=%s", mtenants[t], mkinds[k], id, v);
                cr_assert_lt(pos, c.n);
                cr_assert_str_eq(c.items[pos], want);
                pos++;
                live++;
            }
        }
        cr_assert_eq(pos, c.n);
    }
    coll_free(&c);
    cr_assert_eq(owl_meta_count(m), live);
}

Test(meta, compaction_keeps_the_map)
{
    char *dir = test_tmpdir("meta");
    model md;
    memset(&md, 0xff, sizeof md);
    uint32_t seed = 12345;
    char sp[4096], jp[4096];
    owl_meta *m = open_fast(dir);
    model_ops(m, &md, &seed, 3000);
    model_check(m, &md);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    model_check(m, &md);
    journal_path(dir, 0, jp, sizeof jp);
    cr_assert(!file_exists(jp), "generation 0 journal should be gone");
    snapshot_path(dir, 1, sp, sizeof sp);
    cr_assert(file_exists(sp));
    journal_path(dir, 1, jp, sizeof jp);
    cr_assert_eq(file_size(jp), 28);
    model_ops(m, &md, &seed, 1000);
    owl_meta_close(m);

    m = open_fast(dir);
    model_check(m, &md);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK); /* back to back, nothing new */
    model_ops(m, &md, &seed, 500);
    owl_meta_close(m);
    snapshot_path(dir, 3, sp, sizeof sp);
    cr_assert(file_exists(sp));

    m = open_fast(dir);
    model_check(m, &md);
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, compacting_an_empty_store)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    put_ok(m, "t", "k", "i", "v");
    cr_assert_eq(owl_meta_delete(m, "t", "k", "i", NULL), OWL_OK);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    owl_meta_close(m);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 0);
    put_ok(m, "t", "k", "i", "w");
    owl_meta_close(m);
    m = open_fast(dir);
    expect_val(m, "t", "k", "i", "w");
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, automatic_compaction)
{
    char *dir = test_tmpdir("meta");
    char jp[4096], id[16], v[16];
    owl_meta *m = open_opts(dir, 0, 4096, 2.0);
    for (int n = 0; n < 2000; n++) {
        snprintf(id, sizeof id, "k%d", n % 5);
        snprintf(v, sizeof v, "%d", n);
        put_ok(m, "t", "k", id, v);
    }
    journal_path(dir, 0, jp, sizeof jp);
    cr_assert(!file_exists(jp), "journal 0 should have been compacted away");
    /* the journal never grows far beyond the threshold */
    DIR *d = opendir(dir);
    struct dirent *de;
    int journals = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "journal-", 8) == 0) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            cr_assert_lt(file_size(p), 4096 + 200);
            journals++;
        }
    }
    closedir(d);
    cr_assert_eq(journals, 1);
    owl_meta_close(m);
    m = open_fast(dir);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "k%d", i);
        snprintf(v, sizeof v, "%d", 1995 + i);
        expect_val(m, "t", "k", id, v);
    }
    cr_assert_eq(owl_meta_count(m), 5);
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* Leftover .tmp files and files of older generations are removed on open; other files stay. */
Test(meta, open_removes_stale_files)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK); /* now generation 1 */
    put_ok(m, "t", "k", "b", "2");
    owl_meta_close(m);
    const char *stale[] = {"snapshot-000000000000.owm", "journal-000000000000.owm",
                           "snapshot-000000000002.owm.tmp", "journal-000000000002.owm.tmp",
                           "snapshot-000000000001.owm.tmp"};
    char p[4096];
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
        write_bytes(p, "garbage", 7);
    }
    snprintf(p, sizeof p, "%s/README", dir);
    write_bytes(p, "keep me", 7);
    m = open_fast(dir);
    expect_val(m, "t", "k", "a", "1");
    expect_val(m, "t", "k", "b", "2");
    owl_meta_close(m);
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
        cr_assert(!file_exists(p), "%s should be gone", stale[i]);
    }
    snprintf(p, sizeof p, "%s/README", dir);
    cr_assert(file_exists(p));
    test_rm_rf(dir);
}

/* Crash after snapshot N+1 was renamed into place but before journal N+1 existed: the files
 * are snapshot-1 (complete) plus generation 0's journal. Open uses snapshot 1, creates its
 * journal and removes generation 0. */
Test(meta, crash_between_snapshot_rename_and_journal_creation)
{
    char *dir = test_tmpdir("meta");
    char j0[4096], j1[4096], s1[4096];
    journal_path(dir, 0, j0, sizeof j0);
    journal_path(dir, 1, j1, sizeof j1);
    snapshot_path(dir, 1, s1, sizeof s1);
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    put_ok(m, "t", "k", "b", "2");
    cr_assert_eq(owl_meta_delete(m, "t", "k", "a", NULL), OWL_OK);
    owl_meta_close(m);
    size_t n;
    unsigned char *j0bytes = read_bytes(j0, &n);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_compact(m, NULL), OWL_OK);
    owl_meta_close(m);
    cr_assert_eq(unlink(j1), 0);
    write_bytes(j0, j0bytes, n);
    free(j0bytes);
    /* also the journal's .tmp, as if the crash came mid-creation */
    char jt[4200];
    snprintf(jt, sizeof jt, "%s.tmp", j1);
    write_bytes(jt, "OWL", 3);

    m = open_fast(dir);
    expect_val(m, "t", "k", "a", NULL);
    expect_val(m, "t", "k", "b", "2");
    cr_assert_eq(owl_meta_count(m), 1);
    cr_assert(file_exists(j1));
    cr_assert(!file_exists(j0));
    cr_assert(!file_exists(jt));
    put_ok(m, "t", "k", "c", "3");
    owl_meta_close(m);
    m = open_fast(dir);
    expect_val(m, "t", "k", "b", "2");
    expect_val(m, "t", "k", "c", "3");
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* A compaction that fails leaves the store on its old generation, usable and complete:
 * first the snapshot cannot be created, then (after the snapshot was renamed into place)
 * the new journal cannot, which must take the new snapshot back out. A directory squatting
 * on the .tmp name makes each step fail. */
Test(meta, failed_compaction_rolls_back)
{
    char *dir = test_tmpdir("meta");
    char squat[4200], s1[4096], j0[4096];
    snapshot_path(dir, 1, s1, sizeof s1);
    journal_path(dir, 0, j0, sizeof j0);
    owl_meta *m = open_fast(dir);
    put_ok(m, "t", "k", "a", "1");
    owl_error e;

    snprintf(squat, sizeof squat, "%s.tmp", s1);
    cr_assert_eq(mkdir(squat, 0700), 0);
    cr_assert_neq(owl_meta_compact(m, &e), OWL_OK);
    cr_assert(!file_exists(s1));
    cr_assert_eq(rmdir(squat), 0);
    put_ok(m, "t", "k", "b", "2");

    char jtmp[4200];
    journal_path(dir, 1, jtmp, sizeof jtmp);
    strcat(jtmp, ".tmp");
    cr_assert_eq(mkdir(jtmp, 0700), 0);
    cr_assert_neq(owl_meta_compact(m, &e), OWL_OK);
    cr_assert(!file_exists(s1), "snapshot 1 must be rolled back");
    cr_assert(file_exists(j0));
    put_ok(m, "t", "k", "c", "3");
    cr_assert_eq(rmdir(jtmp), 0);
    owl_meta_close(m);

    m = open_fast(dir);
    expect_val(m, "t", "k", "a", "1");
    expect_val(m, "t", "k", "b", "2");
    expect_val(m, "t", "k", "c", "3");
    cr_assert_eq(owl_meta_compact(m, &e), OWL_OK, "%s", e.msg);
    owl_meta_close(m);
    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 3);
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* ---- concurrency ---- */

typedef struct wargs {
    owl_meta *m;
    int tid;
    int n;
    int failures;
} wargs;

static void *writer(void *p)
{
    wargs *a = p;
    char t[16], id[32];
    snprintf(t, sizeof t, "tenant%d", a->tid % 3);
    for (int i = 0; i < a->n; i++) {
        snprintf(id, sizeof id, "w%d-%04d", a->tid, i);
        if (put_str(a->m, t, "key", id, id) != OWL_OK)
            a->failures++;
    }
    return NULL;
}

static volatile int readers_stop;

static int count_cb(void *ud, const char *t, const char *k, const char *i, const bson_t *doc)
{
    (*(size_t *)ud)++;
    return 0;
}

static void *reader(void *p)
{
    owl_meta *m = p;
    while (!readers_stop) {
        size_t n = 0;
        owl_meta_list(m, NULL, "key", NULL, 0, count_cb, &n, NULL);
        bson_t *doc = NULL;
        if (owl_meta_get(m, "tenant0", "key", "w0-0000", &doc, NULL) == OWL_OK)
            bson_destroy(doc);
    }
    return NULL;
}

Test(meta, concurrent_puts_share_fsyncs, .timeout = 300)
{
    char *dir = test_tmpdir("meta");
    enum { T = 8, N = 500 };
    owl_meta *m = open_opts(dir, 1, 0, 0);
    pthread_t th[T], rd;
    wargs a[T];
    readers_stop = 0;
    cr_assert_eq(pthread_create(&rd, NULL, reader, m), 0);
    for (int i = 0; i < T; i++) {
        a[i] = (wargs){m, i, N, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, writer, &a[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(a[i].failures, 0);
    }
    readers_stop = 1;
    pthread_join(rd, NULL);
    size_t fs = owl_meta_fsyncs(m);
    cr_log_info("%d puts took %zu fsyncs", T * N, fs);
    cr_assert_lt(fs, (size_t)(T * N), "no group commit: %zu fsyncs for %d puts", fs, T * N);
    cr_assert_gt(fs, 0);
    cr_assert_eq(owl_meta_count(m), T * N);
    owl_meta_close(m);

    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), T * N);
    char t[16], id[32];
    for (int w = 0; w < T; w++) {
        snprintf(t, sizeof t, "tenant%d", w % 3);
        for (int i = 0; i < N; i++) {
            snprintf(id, sizeof id, "w%d-%04d", w, i);
            expect_val(m, t, "key", id, id);
        }
    }
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* Threads racing puts and deletes on a few keys: whatever memory ends up holding must be
 * what replaying the journal gives, i.e. changes reach memory in journal order. */
typedef struct rargs {
    owl_meta *m;
    uint32_t seed;
} rargs;

static void *racer(void *p)
{
    rargs *a = p;
    char id[8], v[16];
    for (int n = 0; n < 300; n++) {
        snprintf(id, sizeof id, "k%u", rnd(&a->seed) % 4);
        if (rnd(&a->seed) % 2) {
            snprintf(v, sizeof v, "%u", rnd(&a->seed) % 1000);
            cr_assert_eq(put_str(a->m, "t", "k", id, v), OWL_OK);
        } else {
            int rc = owl_meta_delete(a->m, "t", "k", id, NULL);
            cr_assert(rc == OWL_OK || rc == OWL_ENOTFOUND);
        }
    }
    return NULL;
}

Test(meta, racing_puts_and_deletes_match_replay, .timeout = 300)
{
    char *dir = test_tmpdir("meta");
    for (int round = 0; round < 3; round++) {
        owl_meta *m = open_opts(dir, 1, round == 2 ? 2048 : 0, 1.0);
        pthread_t th[4];
        rargs a[4];
        for (int i = 0; i < 4; i++) {
            a[i] = (rargs){m, (uint32_t)(round * 100 + i + 1)};
            pthread_create(&th[i], NULL, racer, &a[i]);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        coll before = {0}, after = {0};
        list_into(m, "t", "k", NULL, 0, &before);
        owl_meta_close(m);
        m = open_fast(dir);
        list_into(m, "t", "k", NULL, 0, &after);
        cr_assert_eq(before.n, after.n);
        for (size_t i = 0; i < before.n; i++)
            cr_assert_str_eq(before.items[i], after.items[i]);
        coll_free(&before);
        coll_free(&after);
        owl_meta_close(m);
    }
    test_rm_rf(dir);
}

/* ---- write failures ---- */

/* RLIMIT_FSIZE makes the journal append fail part-way (a short write, then EFBIG): the put
 * fails with OWL_EIO, nothing partial stays in the file, memory is unchanged, and the store
 * works again once there is room. */
Test(meta, failed_append_leaves_nothing_behind)
{
    char *dir = test_tmpdir("meta");
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    owl_meta *m = open_opts(dir, 1, 0, 0);
    put_ok(m, "t", "k", "a", "1");
    off_t size = file_size(jp);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 10; /* room for part of the next frame only */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    owl_error e;
    bson_t *doc = BCON_NEW("v", BCON_UTF8("2"));
    cr_assert_eq(owl_meta_put(m, "t", "k", "b", doc, &e), OWL_EIO);
    cr_assert_eq(owl_meta_put(m, "t", "k", "a", doc, &e), OWL_EIO);
    cr_assert_eq(owl_meta_delete(m, "t", "k", "a", &e), OWL_EIO);
    cr_assert_eq(file_size(jp), size);
    expect_val(m, "t", "k", "a", "1");
    expect_val(m, "t", "k", "b", NULL);
    cr_assert_eq(owl_meta_count(m), 1);
    /* compaction cannot write its snapshot either, and changes nothing */
    lim.rlim_cur = 20;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cr_assert_neq(owl_meta_compact(m, &e), OWL_OK);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    cr_assert_eq(owl_meta_put(m, "t", "k", "b", doc, &e), OWL_OK, "%s", e.msg);
    bson_destroy(doc);
    owl_meta_close(m);
    m = open_fast(dir);
    expect_val(m, "t", "k", "a", "1");
    expect_val(m, "t", "k", "b", "2");
    owl_meta_close(m);
    test_rm_rf(dir);
}

/* ---- crash ---- */

/* A child writes with fsync on (and frequent compactions) and reports each acknowledged id
 * through a pipe; the parent SIGKILLs it at a random moment. Everything acknowledged must
 * be there after reopen. (SIGKILL keeps the page cache, so this tests the process-crash
 * path; power loss is what the torn-tail and fsync ordering are for.) */
static void crash_child(const char *dir, int wfd)
{
    owl_meta_options o = {4096, 1.5, 1};
    owl_meta *m = NULL;
    char id[32], v[32];
    if (owl_meta_open(dir, &o, &m, NULL) != OWL_OK)
        _exit(2);
    for (uint32_t i = 0; i < 100000; i++) {
        snprintf(v, sizeof v, "%u", i);
        snprintf(id, sizeof id, "r%06u", i);
        bson_t *doc = BCON_NEW("v", BCON_UTF8(v));
        /* "hot" is overwritten each time so the journal outgrows the live data */
        if (owl_meta_put(m, "t", "k", "hot", doc, NULL) != OWL_OK ||
            owl_meta_put(m, "t", "k", id, doc, NULL) != OWL_OK)
            _exit(3);
        bson_destroy(doc);
        if (write(wfd, &i, sizeof i) != sizeof i)
            _exit(4);
    }
    _exit(0);
}

Test(meta, sigkill_keeps_acknowledged_records, .timeout = 300)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    owl_log_set_level(OWL_LOG_ERROR);
    for (int round = 0; round < 10; round++) {
        char *dir = test_tmpdir("meta");
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(dir, p[1]);
        }
        close(p[1]);
        usleep(20000 + (useconds_t)(rand_r(&seed) % 280000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                  "child failed: status %d", status);
        uint32_t i, max = 0, acked = 0;
        uint32_t *ids = NULL;
        while (read(p[0], &i, sizeof i) == sizeof i) {
            ids = realloc(ids, (acked + 1) * sizeof *ids);
            ids[acked++] = i;
            max = i;
        }
        close(p[0]);
        owl_meta *m = open_fast(dir);
        char id[32], v[32];
        for (uint32_t n = 0; n < acked; n++) {
            snprintf(id, sizeof id, "r%06u", ids[n]);
            snprintf(v, sizeof v, "%u", ids[n]);
            expect_val(m, "t", "k", id, v);
        }
        if (acked) {
            char *hot = get_str(m, "t", "k", "hot");
            cr_assert_geq((uint32_t)strtoul(hot, NULL, 10), max);
            free(hot);
        }
        cr_log_info("round %d: %u acknowledged, %zu records after reopen, generation %ld",
                    round, acked, owl_meta_count(m), current_gen(dir));
        /* the store keeps working after the crash */
        put_ok(m, "t", "k", "after", "x");
        owl_meta_close(m);
        free(ids);
        test_rm_rf(dir);
    }
}

Test(meta, put_many_is_one_fsync_and_survives_reopen)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_opts(dir, 1, 0, 0);
    enum { N = 300 };
    char ids[N][16];
    const char *idp[N];
    bson_t docs[N];
    const bson_t *docp[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "s%04d", i);
        idp[i] = ids[i];
        bson_init(&docs[i]);
        BSON_APPEND_INT32(&docs[i], "v", i);
        docp[i] = &docs[i];
    }
    put_ok(m, "t1", "series", "s0007", "old"); /* replaced by the batch */
    size_t before = owl_meta_fsyncs(m);
    owl_error err = {0};
    cr_assert_eq(owl_meta_put_many(m, "t1", "series", N, idp, docp, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_meta_fsyncs(m) - before, 1);
    cr_assert_eq(owl_meta_count(m), N);
    /* a bad id anywhere refuses the batch before anything is written */
    idp[N / 2] = "";
    cr_assert_eq(owl_meta_put_many(m, "t2", "series", N, idp, docp, &err), OWL_EINVAL);
    cr_assert_eq(owl_meta_count(m), N);
    cr_assert_eq(owl_meta_put_many(m, "t2", "series", 0, idp, docp, &err), OWL_OK);
    owl_meta_close(m);
    for (int i = 0; i < N; i++)
        bson_destroy(&docs[i]);

    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), N);
    for (int i = 0; i < N; i += 37) {
        bson_t *got = NULL;
        bson_iter_t it;
        cr_assert_eq(owl_meta_get(m, "t1", "series", ids[i], &got, NULL), OWL_OK);
        cr_assert(bson_iter_init_find(&it, got, "v") && bson_iter_int32(&it) == i);
        bson_destroy(got);
    }
    owl_meta_close(m);
    test_rm_rf(dir);
}

Test(meta, put_mixed_kinds_is_one_fsync_and_survives_reopen)
{
    char *dir = test_tmpdir("meta");
    owl_meta *m = open_opts(dir, 1, 0, 0);
    bson_t a, h;
    bson_init(&a), bson_init(&h);
    BSON_APPEND_UTF8(&a, "v", "alarm");
    BSON_APPEND_UTF8(&h, "v", "history");
    const char *kinds[2] = {"alarm", "alarm-history"}, *ids[2] = {"cpu", "0001"};
    const bson_t *docs[2] = {&a, &h};
    size_t before = owl_meta_fsyncs(m);
    owl_error err = {0};
    cr_assert_eq(owl_meta_put_mixed(m, "t1", 2, kinds, ids, docs, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_meta_fsyncs(m) - before, 1);
    /* a bad kind refuses the whole batch before anything is written */
    const char *bad[2] = {"alarm", ""}, *ids2[2] = {"mem", "0002"};
    cr_assert_eq(owl_meta_put_mixed(m, "t1", 2, bad, ids2, docs, &err), OWL_EINVAL);
    cr_assert_eq(owl_meta_count(m), 2);
    owl_meta_close(m);
    bson_destroy(&a), bson_destroy(&h);

    m = open_fast(dir);
    cr_assert_eq(owl_meta_count(m), 2);
    char *v = get_str(m, "t1", "alarm", "cpu");
    cr_assert_str_eq(v, "alarm");
    free(v);
    v = get_str(m, "t1", "alarm-history", "0001");
    cr_assert_str_eq(v, "history");
    free(v);
    owl_meta_close(m);
    test_rm_rf(dir);
}

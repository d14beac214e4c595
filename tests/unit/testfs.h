/* testfs.h — file-system helpers shared by the unit tests: temporary directories, recursive
 * removal, whole-file reads and writes, where a WAL segment's records end. Criterion
 * assertions abort the test on failure. */
#ifndef OWL_TESTFS_H
#define OWL_TESTFS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

/* test_tmpdir — a fresh directory /tmp/owl-TAG-XXXXXX (caller frees, or test_rm_rf). */
static inline char *test_tmpdir(const char *tag)
{
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/owl-%s-XXXXXX", tag);
    char *d = strdup(tmpl);
    cr_assert_not_null(d);
    cr_assert_not_null(mkdtemp(d));
    return d;
}

/* test_rm_tree — removes dir and everything below it (recursive, so not inline). */
__attribute__((unused)) static void test_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        if (unlink(path) != 0)
            test_rm_tree(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* test_rm_rf — test_rm_tree, then frees the malloc'd name. */
static inline void test_rm_rf(char *dir)
{
    test_rm_tree(dir);
    free(dir);
}

static inline int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static inline off_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return st.st_size;
}

static inline void write_bytes(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static inline unsigned char *read_bytes(const char *path, size_t *n)
{
    char *p = NULL;
    cr_assert_eq(owl_read_file(path, (size_t)1 << 30, &p, n, NULL), OWL_OK, "read %s", path);
    return (unsigned char *)p;
}

/* test_data — the public data sets' file rel (a path below $OWL_TEST_DATA, else below
 * ../shared/data beside $OWL_SRCDIR or beside the source tree this header is in), whole, of
 * at most max bytes, its size in *n (may be NULL); the test is skipped when it is absent.
 * Caller frees. Not inline: inlined into test_xray.c, gcc 12 warns of a dangling pointer.
 */
/* test_wal_records_end — where the records of a WAL segment image p[0..n) end: at its end
 * mark (a length field of 0xffffffff) or at the end of the file (index/wal.h's layout). Direct
 * appends leave zeros after the mark, up to a 4 KiB block. */
__attribute__((unused)) static size_t test_wal_records_end(const unsigned char *p, size_t n)
{
    size_t off = 24;
    while (n - off >= 16) {
        uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
                       (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
        if (len == 0xffffffffu || len > n - off - 16)
            break;
        off += 16 + len;
    }
    return off;
}

__attribute__((unused, noinline)) static char *test_data(const char *rel, size_t max,
                                                         size_t *n)
{
    char path[4096];
    size_t len;
    const char *data = getenv("OWL_TEST_DATA"), *src = getenv("OWL_SRCDIR");
    if (data && *data)
        snprintf(path, sizeof path, "%s/%s", data, rel);
    else if (src && *src)
        snprintf(path, sizeof path, "%s/../shared/data/%s", src, rel);
    else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/testfs.h");
        snprintf(path, sizeof path, "%.*s../shared/data/%s", tail ? (int)(tail - me) : 0, me,
                 rel);
    }
    char *buf = NULL;
    if (owl_read_file(path, max, &buf, n ? n : &len, NULL) != OWL_OK)
        cr_skip_test("test data not found: %s (set OWL_TEST_DATA)", path);
    return buf;
}

#endif

/* test_common.c — common/: error table, buffers and JSON escaping, crc32c vectors, hashes, clock
 * formats, file helpers, alarm action targets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/common.h"

Test(err, names_and_texts)
{
    cr_assert_str_eq(owl_errname(OWL_ENOTFOUND), "NOTFOUND");
    cr_assert_str_eq(owl_strerror(OWL_ENOSPC), "no space left on device");
    cr_assert_str_eq(owl_errname(12345), "UNKNOWN");
    owl_error e;
    cr_assert_eq(owl_error_set(&e, OWL_EINVAL, "bad %d", 7), OWL_EINVAL);
    cr_assert_str_eq(e.msg, "bad 7");
    cr_assert_eq(owl_error_set(NULL, OWL_EIO, "x"), OWL_EIO);
}

Test(buf, append_printf_consume)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_buf_puts(&b, "hello"), OWL_OK);
    cr_assert_eq(owl_buf_printf(&b, " %s %d", "world", 42), OWL_OK);
    cr_assert_str_eq(b.data, "hello world 42");
    owl_buf_consume(&b, 6);
    cr_assert_str_eq(b.data, "world 42");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    owl_buf_printf(&b, "%s", big);
    cr_assert_eq(b.len, 8 + 999);
    owl_buf_free(&b);
    owl_buf_free(&b);
    cr_assert_null(b.data);
}

Test(buf, json_escaping)
{
    owl_buf b = OWL_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01\xc3\xa9\xff";
    owl_buf_json_str(&b, in, sizeof in - 1);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
    owl_buf_free(&b);
}

/* Every byte value alone and inside plain runs: the runs copied at once must give what a
 * byte-by-byte escape gives. */
Test(buf, json_escaping_every_byte)
{
    owl_buf b = OWL_BUF_INIT;
    for (int c = 0; c < 256; c++) {
        char in[5] = {'a', 'b', (char)c, 'c', 'd'};
        owl_buf_reset(&b);
        owl_buf_json_str(&b, in, sizeof in);
        char mid[16];
        if (c == '"' || c == '\\')
            snprintf(mid, sizeof mid, "\\%c", c);
        else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            snprintf(mid, sizeof mid, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
                                                          : c == '\b' ? 'b' : 'f');
        else if (c < 0x20)
            snprintf(mid, sizeof mid, "\\u%04x", c);
        else if (c >= 0x80)
            snprintf(mid, sizeof mid, "\xef\xbf\xbd"); /* a lone byte >= 0x80 is not UTF-8 */
        else
            snprintf(mid, sizeof mid, "%c", c);
        char want[32];
        snprintf(want, sizeof want, "\"ab%scd\"", mid);
        cr_expect_str_eq(b.data, want, "byte 0x%02x", c);
    }
    owl_buf_free(&b);
}

Test(buf, put_i64)
{
    owl_buf b = OWL_BUF_INIT;
    const int64_t v[] = {0, 7, -1, 10, 1796256000000, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char want[32];
        owl_buf_reset(&b);
        cr_assert_eq(owl_buf_put_i64(&b, v[i]), OWL_OK);
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        cr_expect_str_eq(b.data, want);
    }
    owl_buf_free(&b);
}

Test(crc32c, known_vectors)
{
    /* RFC 3720 B.4 test vectors */
    unsigned char zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i, dec[i] = (unsigned char)(31 - i);
    cr_assert_eq(owl_crc32c(0, zeros, 32), 0x8a9136aa);
    cr_assert_eq(owl_crc32c(0, ones, 32), 0x62a8ab43);
    cr_assert_eq(owl_crc32c(0, inc, 32), 0x46dd794e);
    cr_assert_eq(owl_crc32c(0, dec, 32), 0x113fdb5c);
    cr_assert_eq(owl_crc32c(0, "123456789", 9), 0xe3069283);
}

Test(crc32c, hw_equals_sw_and_chains)
{
    unsigned char data[1021];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n < sizeof data; n += 37) {
        cr_assert_eq(owl_crc32c(0, data, n), owl_crc32c_sw(0, data, n));
        uint32_t whole = owl_crc32c(0, data, n);
        uint32_t part = owl_crc32c(owl_crc32c(0, data, n / 3), data + n / 3, n - n / 3);
        cr_assert_eq(whole, part);
    }
}

/* the three-lane path (from 1,536 bytes on), its joins and the tail after it, at every
 * length around a lane boundary and from every alignment, against the table code */
Test(crc32c, three_lanes_equal_sw)
{
    static unsigned char data[4 * 1536 + 64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 7) + 5);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 1500; n + off <= sizeof data; n += n < 3200 ? 1 : 97) {
            uint32_t want = owl_crc32c_sw(0x12345678u, data + off, n);
            cr_assert_eq(owl_crc32c(0x12345678u, data + off, n), want, "n %zu off %zu", n, off);
        }
}

Test(clock, rfc3339_round_trip)
{
    char out[40];
    owl_time_format_rfc3339(0, out, sizeof out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    owl_time_format_rfc3339(1795239096123LL, out, sizeof out);
    cr_assert_str_eq(out, "2026-11-21T05:31:36.123Z");
    int64_t ms;
    cr_assert_eq(owl_time_parse(out, strlen(out), &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096123LL);
    cr_assert_eq(owl_time_parse("2026-11-21T06:31:36.5+01:00", 27, &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096500LL);
    cr_assert_eq(owl_time_parse("1795239096123", 13, &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096123LL);
    owl_time_format_rfc3339(-1, out, sizeof out);
    cr_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}

Test(clock, rejects_bad_times)
{
    int64_t ms = 7;
    const char *bad[] = {"", "2026-13-01T00:00:00Z", "2026-11-21T25:00:00Z", "2026-11-21T05:31:36",
                         "2026-11-21T05:31:36.Z", "12a", "2026-11-21T05:31:36+0100", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(owl_time_parse(bad[i], strlen(bad[i]), &ms), OWL_EINVAL, "%s", bad[i]);
    cr_assert_eq(ms, 7);
}

/* index/store.c keeps the days a part directory can be named for as these constants */
Test(clock, days_of_the_storable_years)
{
    cr_assert_eq(owl_days_from_civil(1, 1, 1), -719162);
    cr_assert_eq(owl_days_from_civil(9999, 12, 31), 2932896);
    cr_assert_eq(owl_days_from_civil(1970, 1, 1), 0);
}

Test(clock, amz_basic_format)
{
    int64_t s;
    cr_assert_eq(owl_time_parse_amz("20150830T123600Z", 16, &s), OWL_OK);
    cr_assert_eq(s, 1440938160);
    cr_assert_eq(owl_time_parse_amz("20150830T123600", 15, &s), OWL_EINVAL);
    cr_assert_eq(owl_time_parse_amz("2015083OT123600Z", 16, &s), OWL_EINVAL);
}

Test(util, hex_ct_strlcpy)
{
    char h[9], d[4];
    owl_hex("\x01\xab\xff\x00", 4, h);
    cr_assert_str_eq(h, "01abff00");
    cr_assert(owl_ct_equal("abc", "abc", 3));
    cr_assert_not(owl_ct_equal("abc", "abd", 3));
    cr_assert_eq(owl_strlcpy(d, "hello", sizeof d), 5);
    cr_assert_str_eq(d, "hel");
}

/* owl_link_aside keeps a file under its own name in the aside directory: a second file of the
 * same name gets ".1", the same file linked again is no new link, and the original may then
 * be replaced without touching the kept copy. */
Test(util, link_aside_keeps_the_bytes)
{
    char dir[] = "/tmp/owl-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], q[256], kept[300], *out;
    size_t n;
    snprintf(path, sizeof path, "%s/journal", dir);
    snprintf(q, sizeof q, "%s/aside/x", dir);
    cr_assert_eq(owl_write_file_atomic(path, "one", 3, 0600, NULL), OWL_OK);
    cr_assert_eq(owl_link_aside(path, q, NULL), OWL_OK);
    cr_assert_eq(owl_link_aside(path, q, NULL), OWL_OK); /* run again: nothing new */
    snprintf(kept, sizeof kept, "%s/journal.1", q);
    cr_assert_neq(access(kept, F_OK), 0);
    cr_assert_eq(owl_write_file_atomic(path, "two", 3, 0600, NULL), OWL_OK); /* replaced */
    cr_assert_eq(owl_link_aside(path, q, NULL), OWL_OK);
    cr_assert_eq(owl_read_file(kept, 16, &out, &n, NULL), OWL_OK);
    cr_assert(n == 3 && !memcmp(out, "two", 3));
    free(out);
    snprintf(kept, sizeof kept, "%s/journal", q);
    cr_assert_eq(owl_read_file(kept, 16, &out, &n, NULL), OWL_OK);
    cr_assert(n == 3 && !memcmp(out, "one", 3));
    free(out);
    owl_error err = {0};
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_assert_neq(owl_link_aside(path, q, &err), OWL_OK);
    cr_assert_neq(err.msg[0], 0);
}

Test(util, atomic_write_and_read)
{
    char dir[] = "/tmp/owl-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    cr_assert_eq(owl_mkdir_p(sub, 0700, NULL), OWL_OK);
    snprintf(path, sizeof path, "%s/a/b/f", dir);
    cr_assert_eq(owl_write_file_atomic(path, "data", 4, 0600, NULL), OWL_OK);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *out;
    size_t n;
    cr_assert_eq(owl_read_file(path, 100, &out, &n, NULL), OWL_OK);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(out, "data");
    free(out);
    owl_error e;
    cr_assert_eq(owl_read_file(path, 3, &out, &n, &e), OWL_ETOOBIG);
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_assert_eq(owl_read_file(path, 100, &out, &n, &e), OWL_ENOTFOUND);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

#include "common/logtime.h"

/* Lines shaped like each Loghub file's, with the instant each should yield. */
Test(logtime, known_formats)
{
    const int64_t now = 1795239096123LL; /* 2026-11-21 */
    struct {
        const char *line;
        const char *fmt;
        const char *want;
    } cases[] = {
        {"2015-10-18 18:01:47,978 INFO [main] x", "iso8601", "2015-10-18T18:01:47.978Z"},
        {"2016-09-28 04:30:30, Info CBS", "iso8601", "2016-09-28T04:30:30.000Z"},
        {"081109 203615 148 INFO dfs.DataNode", "yymmdd", "2008-11-09T20:36:15.000Z"},
        {"17/06/09 20:10:40 INFO executor", "yy/mm/dd", "2017-06-09T20:10:40.000Z"},
        {"Jun 14 15:16:01 combo sshd", "syslog", "2026-06-14T15:16:01.000Z"},
        {"Jul  1 09:00:55 calvisitor kernel", "syslog", "2026-07-01T09:00:55.000Z"},
        {"[Sun Dec 04 04:47:44 2005] [notice] x", "ctime", "2005-12-04T04:47:44.000Z"},
        {"03-17 16:13:38.811  1702  2395 D x", "logcat", "2026-03-17T16:13:38.811Z"},
        {"20171223-22:15:29:606|Step_LSC|1", "yyyymmdd-hms", "2017-12-23T22:15:29.606Z"},
        {"[10.30 16:49:06] chrome.exe - proxy", "mm.dd", "2026-10-30T16:49:06.000Z"},
        {"- 1117838570 2005.06.03 R02-M1", "epoch", "2005-06-03T22:42:50.000Z"},
        {"2026-01-01T10:00:00+02:00 x", "iso8601", "2026-01-01T08:00:00.000Z"},
        {"2026-01-01T10:00:00.250-0530 x", "iso8601", "2026-01-01T15:30:00.250Z"},
        {"2026-01-01T00:30:00+01 x", "iso8601", "2025-12-31T23:30:00.000Z"},
        {"2026-01-01T10:00:00Z x", "iso8601", "2026-01-01T10:00:00.000Z"},
        {"2026-01-01 10:00:00 -x (a dash, not a zone)", "iso8601", "2026-01-01T10:00:00.000Z"},
        {"2026-01-01T10:00:00+99:00 x", "iso8601", "2026-01-01T10:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 0;
        int f = owl_logtime_parse(cases[i].line, strlen(cases[i].line), now, &ms);
        cr_assert_geq(f, 0, "%s", cases[i].line);
        cr_assert_str_eq(owl_logtime_format_name(f), cases[i].fmt, "%s", cases[i].line);
        char t[40];
        owl_time_format_rfc3339(ms, t, sizeof t);
        cr_assert_str_eq(t, cases[i].want, "%s", cases[i].line);
    }
}

Test(logtime, rejects_and_stays_in_bounds)
{
    const char *bad[] = {"", "hello world", "2015-13-18 18:01:47", "081109 253615 x",
                         "Foo 14 15:16:01", "[", "- ", "- 12345", "2015-10-18 18:01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        cr_assert_eq(owl_logtime_parse(bad[i], strlen(bad[i]), 0, &ms), -1, "%s", bad[i]);
        cr_assert_eq(ms, 42);
    }
    /* a valid prefix cut short must not be read past n */
    const char *full = "2015-10-18 18:01:47,978";
    for (size_t n = 0; n < 19; n++) {
        int64_t ms;
        cr_assert_eq(owl_logtime_parse(full, n, 0, &ms), -1, "n=%zu", n);
    }
}

/* ---- arena ---- */

Test(arena, values_stay_put_and_keep_their_bytes)
{
    owl_arena a;
    owl_arena_init(&a, 256);
    char *ptrs[2000];
    char want[64];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(want, sizeof want, "value-%d", i);
        ptrs[i] = owl_arena_copy(&a, want, (size_t)n + 1);
        cr_assert_not_null(ptrs[i]);
    }
    /* many blocks later, every earlier value is where it was, unchanged */
    for (int i = 0; i < 2000; i++) {
        snprintf(want, sizeof want, "value-%d", i);
        cr_assert_str_eq(ptrs[i], want);
    }
    cr_assert_gt(a.bytes, 2000 * 8);
    owl_arena_free(&a);
    cr_assert_null(a.head);
    cr_assert_eq(a.bytes, 0);
    /* reusable after free */
    cr_assert_not_null(owl_arena_copy(&a, "x", 1));
    owl_arena_free(&a);
    owl_arena_free(NULL);
}

Test(arena, alloc_is_aligned_and_big_values_get_their_own_block)
{
    owl_arena a;
    owl_arena_init(&a, 1024);
    cr_assert_not_null(owl_arena_copy(&a, "abc", 3)); /* leaves the block unaligned */
    uint64_t *v = owl_arena_alloc(&a, 5 * sizeof *v);
    cr_assert_not_null(v);
    cr_assert_eq((uintptr_t)v % 8, 0);
    for (int i = 0; i < 5; i++)
        v[i] = (uint64_t)i * 3;
    char *small1 = owl_arena_copy(&a, "s1", 2);
    char big[4096];
    memset(big, 'b', sizeof big);
    char *pb = owl_arena_copy(&a, big, sizeof big); /* over a quarter of a block */
    char *small2 = owl_arena_copy(&a, "s2", 2);
    cr_assert_not_null(pb);
    cr_assert_eq(memcmp(pb, big, sizeof big), 0);
    /* the small values after the big one continue the current block */
    cr_assert_eq(small2, small1 + 2);
    cr_assert_not_null(owl_arena_alloc(&a, 0));
    cr_assert_not_null(owl_arena_copy(&a, NULL, 0));
    for (int i = 0; i < 5; i++)
        cr_assert_eq(v[i], (uint64_t)i * 3);
    owl_arena_free(&a);
}

Test(arena, default_block_size)
{
    owl_arena a;
    owl_arena_init(&a, 0);
    cr_assert_eq(a.block_size, (size_t)1 << 20);
    cr_assert_not_null(owl_arena_alloc(&a, 100));
    owl_arena_free(&a);
}

Test(arena, reset_keeps_ordinary_blocks_for_the_next_values)
{
    owl_arena a;
    owl_arena_init(&a, 1024);
    char big[2048];
    memset(big, 'b', sizeof big);
    char *first = owl_arena_copy(&a, "0123456789abcdef", 16);
    cr_assert_not_null(first);
    for (int i = 1; i < 100; i++) /* 1600 bytes: two ordinary blocks */
        cr_assert_not_null(owl_arena_copy(&a, "0123456789abcdef", 16));
    char *second_block = owl_arena_copy(&a, "x", 1);
    cr_assert_not_null(owl_arena_copy(&a, big, sizeof big));
    owl_arena_reset(&a);
    cr_assert_null(a.head);
    cr_assert_eq(a.bytes, 0);
    cr_assert_not_null(a.spare);
    /* the next values go to the kept blocks, the first block first, and read back */
    char *p[120];
    for (int i = 0; i < 120; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%014d", i);
        cr_assert_not_null(p[i] = owl_arena_copy(&a, v, 16));
    }
    cr_assert_eq(p[0], first);
    cr_assert_null(a.spare, "both kept blocks are in use again");
    int in_second = 0;
    for (int i = 0; i < 120; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%014d", i);
        cr_assert_eq(memcmp(p[i], v, 16), 0);
        in_second |= p[i] <= second_block && second_block < p[i] + 16;
    }
    cr_assert(in_second, "the second kept block was reused");
    owl_arena_reset(&a);
    owl_arena_free(&a); /* frees the kept blocks too (LeakSanitizer checks) */
    cr_assert_null(a.spare);
    owl_arena_reset(NULL);
}

Test(util, big_alloc_maps_2_mib_aligned_memory_from_its_threshold_on)
{
    size_t sizes[] = {1, 4096, OWL_BIG_MIN - 1, OWL_BIG_MIN, OWL_BIG_MIN + 1, 5 * OWL_BIG_MIN / 2};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        unsigned char *p = owl_big_alloc(sizes[k]);
        cr_assert_not_null(p);
        if (sizes[k] >= OWL_BIG_MIN)
            cr_assert_eq((uintptr_t)p % OWL_BIG_MIN, 0, "%zu bytes at %p", sizes[k], (void *)p);
        memset(p, 0xa5, sizes[k]); /* every byte writable (ASan checks the malloc'd ones) */
        cr_assert_eq(p[sizes[k] - 1], 0xa5);
        owl_big_free(p, sizes[k]);
    }
    owl_big_free(NULL, OWL_BIG_MIN);
}

Test(util, spares_hand_back_a_kept_array_large_enough)
{
    owl_spares s = OWL_SPARES_INIT(1000);
    size_t cap = 0, cap2 = 0;
    char *a = owl_spares_take(&s, 100, &cap);
    cr_assert_not_null(a);
    cr_assert_eq(cap, 112, "an eighth more than asked for: %zu", cap);
    memset(a, 1, cap); /* every byte writable (ASan) */
    owl_spares_give(&s, a, cap);
    /* a need up to its size takes the kept array, with its whole size */
    cr_assert_eq(owl_spares_take(&s, 112, &cap2), a);
    cr_assert_eq(cap2, 112);
    /* nothing kept any more: a new one */
    char *b = owl_spares_take(&s, 64, &cap);
    cr_assert_neq(b, a);
    cr_assert_eq(cap, 72);
    owl_spares_give(&s, a, 112);
    owl_spares_give(&s, b, 72);
    /* a larger need than any kept array: a new one, the kept ones stay */
    char *c = owl_spares_take(&s, 500, &cap);
    cr_assert(c != a && c != b);
    cr_assert_eq(cap, 562);
    owl_spares_give(&s, c, cap);
    cr_assert_eq(owl_spares_take(&s, 200, &cap), c, "the kept array large enough");
    owl_spares_give(&s, c, cap);
    /* more than keep_max bytes: asked for exactly, freed when given (LeakSanitizer sees it
     * otherwise), not kept */
    char *big = owl_spares_take(&s, 2000, &cap);
    cr_assert_eq(cap, 2000);
    owl_spares_give(&s, big, cap);
    char *d = owl_spares_take(&s, 900, &cap);
    cr_assert_eq(cap, 1000, "an eighth more, but kept (keep_max): %zu", cap);
    owl_spares_give(&s, d, cap);
    cr_assert_eq(owl_spares_take(&s, 950, &cap), d, "the array over keep_max was not kept");
    free(d);
    /* every place taken: a larger array takes the smallest one's place */
    char *x[OWL_SPARES + 1];
    size_t xc[OWL_SPARES + 1];
    for (size_t k = 0; k <= OWL_SPARES; k++)
        x[k] = owl_spares_take(&s, 700 + 8 * k, &xc[k]);
    owl_spares_free(&s);
    for (size_t k = 0; k <= OWL_SPARES; k++)
        owl_spares_give(&s, x[k], xc[k]);
    cr_assert_eq(owl_spares_take(&s, xc[OWL_SPARES], &cap), x[OWL_SPARES]);
    free(x[OWL_SPARES]);
    for (size_t k = 1; k < OWL_SPARES; k++) /* x[0], the smallest, went */
        cr_assert_neq(owl_spares_take(&s, 700, &cap), x[0]);
    owl_spares_give(&s, NULL, 0);
    for (size_t k = 1; k < OWL_SPARES; k++)
        free(x[k]);
    owl_spares_free(&s);
}

/* An ordinary arena's full-size blocks, freed with it, go to the next arena of that block
 * size (not under AddressSanitizer, which must see uses of freed arena memory). */
Test(arena, freed_blocks_serve_the_next_arena_of_their_size)
{
    owl_arena a, b, c;
    owl_arena_init(&a, 4096);
    char *p = owl_arena_alloc(&a, 100);
    cr_assert_not_null(p);
    memset(p, 'a', 100);
    owl_arena_free(&a);
    owl_arena_init(&c, 8192); /* another size: not that block */
    char *r = owl_arena_alloc(&c, 100);
    cr_assert_neq(r, p);
    owl_arena_init(&b, 4096);
    char *q = owl_arena_alloc(&b, 100);
    cr_assert_not_null(q);
    if (OWL_ARENA_POOLED)
        cr_assert_eq(q, p, "the freed arena's block");
    memset(q, 'b', 100);
    /* a value of its own block (over a quarter of the block size) is not pooled */
    char *big = owl_arena_alloc(&b, 3000);
    cr_assert_not_null(big);
    owl_arena_free(&b);
    owl_arena_free(&c);
}

Test(arena, big_arenas_start_small_then_take_whole_huge_pages_kept_by_reset)
{
    owl_arena a;
    owl_arena_init_big(&a, OWL_BIG_MIN);
    char *v = owl_arena_copy(&a, "abc", 3);
    cr_assert_not_null(v);
    /* a small arena stays small: its first block holds 64 KiB */
    cr_assert_eq((size_t)(a.end - a.cur), ((size_t)64 << 10) - 3);
    char val[1000];
    memset(val, 'v', sizeof val);
    size_t copies = 0;
    while (a.bytes < 3 * OWL_BIG_MIN) {
        cr_assert_not_null(owl_arena_copy(&a, val, sizeof val));
        copies++;
    }
    /* past block_size, blocks are whole 2 MiB maps, header included */
    cr_assert_eq((uintptr_t)a.head % OWL_BIG_MIN, 0);
    cr_assert_lt(a.block_size, OWL_BIG_MIN);
    cr_assert_geq(a.block_size, OWL_BIG_MIN - 64);
    char *big = owl_arena_alloc(&a, OWL_BIG_MIN); /* a block of its own */
    cr_assert_not_null(big);
    memset(big, 1, OWL_BIG_MIN);
    owl_arena_reset(&a);
    cr_assert_not_null(a.spare, "the full-size blocks are kept");
    char *w = owl_arena_copy(&a, "xyz", 3);
    cr_assert_not_null(w);
    cr_assert_eq((size_t)(a.end - a.cur), a.block_size - 3, "a kept block, full-size, refilled");
    for (size_t i = 0; i < copies; i++)
        cr_assert_not_null(owl_arena_copy(&a, val, sizeof val));
    owl_arena_free(&a);
}

Test(util, pwritev_all_writes_every_piece_at_the_offset)
{
    char path[] = "/tmp/owl-pwritev-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    /* more pieces than IOV_MAX, zero-length ones among them */
    enum { N = 3000 };
    static struct iovec iov[N];
    static char data[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        data[i] = (char)('a' + i % 26);
        iov[i] = (struct iovec){&data[i], i % 7 == 0 ? 0 : 1};
        total += iov[i].iov_len;
    }
    cr_assert_eq(owl_pwritev_all(fd, iov, N, 5), 0);
    static char back[N + 5];
    cr_assert_eq(pread(fd, back, sizeof back, 0), (ssize_t)(total + 5));
    for (int i = 0; i < 5; i++)
        cr_assert_eq(back[i], 0);
    size_t at = 5;
    for (int i = 0; i < N; i++)
        if (i % 7)
            cr_assert_eq(back[at++], data[i]);
    struct iovec none = {NULL, 0};
    cr_assert_eq(owl_pwritev_all(fd, &none, 1, 0), 0);
    cr_assert_eq(owl_pwritev_all(-1, iov + 1, 1, 0), EBADF);
    close(fd);
}

/* owl_hash64's output is on disk (bloom items in parts): these values were produced by the
 * function as it stood in index/bloom.c before it moved here and must never change. */
Test(hash, hash64_pinned_values)
{
    static const struct {
        const char *s;
        uint64_t seed, want;
    } v[] = {
        {"", 0, 0x58b38626cd777bb0ull},
        {"a", 0, 0x4f6798325b5036bbull},
        {"abc", 0, 0xc043dbe50089ab83ull},
        {"abcdefg", 0, 0x36c778c4869cacbaull},
        {"abcdefgh", 0, 0xb2656e34e861daafull},
        {"checkout", 0, 0x3675c3e1b1862dc9ull},
        {"hello, world: 0123456789abcdef", 0, 0x2317e7593d27e248ull},
        {"abc", 1, 0xdbfdd2f3694cb95aull},
        {"checkout", 0xdeadbeefull, 0x2a8b1913ef7d099aull},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(owl_hash64(v[i].s, strlen(v[i].s), v[i].seed), v[i].want, "\"%s\" seed %llu",
                     v[i].s, (unsigned long long)v[i].seed);
    cr_assert_eq(owl_hash64(NULL, 0, 0), 0x58b38626cd777bb0ull);
    cr_assert_eq(owl_mix64(0), 0);
    cr_assert_eq(owl_mix64(1), 0x5692161d966622d0ull);
    cr_assert_eq(owl_mix64(0x0123456789abcdefull), 0xee7fdcebc53230d7ull);
    /* the inline 16-byte form is the same function */
    const char *id = "0123456789abcdef";
    for (uint64_t seed = 0; seed < 4; seed++)
        cr_assert_eq(owl_hash64_16(id, seed), owl_hash64(id, 16, seed));
}

/* The reference SipHash-2-4 vectors (key 00 01 .. 0f, message 00 01 .. len-1). */
Test(hash, keyed_is_siphash24)
{
    const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint8_t m[64];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)i;
    cr_assert_eq(owl_hash64_keyed(key, m, 0), 0x726fdb47dd0e0e31ull);
    cr_assert_eq(owl_hash64_keyed(key, m, 1), 0x74f839c593dc67fdull);
    cr_assert_eq(owl_hash64_keyed(key, m, 15), 0xa129ca6149be45e5ull);
    cr_assert_eq(owl_hash64_keyed(key, m, 63), 0x958a324ceb064572ull);
    const uint64_t other[2] = {1, 2};
    cr_assert_neq(owl_hash64_keyed(other, m, 15), 0xa129ca6149be45e5ull);
}

/* ---- target.c: what an alarm action may name ---- */

#include "common/target.h"

static void target_bad(const char *s, const char *want)
{
    owl_target t;
    owl_error e = {0};
    cr_assert_eq(owl_target_parse(s, &t, &e), OWL_EINVAL, "%s was taken", s);
    cr_assert(strstr(e.msg, want), "%s: '%s' lacks '%s'", s, e.msg, want);
    cr_assert(strlen(e.msg) < 130, "a reason short enough to follow a value: %s", e.msg);
}

Test(target, webhook_urls)
{
    static const char *const good[] = {
        "http://h", "https://hooks.slack.com/services/T0/B0/x", "HTTPS://H:443/p?q=1#f",
        "http://[::1]:8080/hook", "http://user:pw@host/p", "http://127.0.0.1:9?x",
    };
    owl_target t;
    owl_error e = {0};
    for (size_t i = 0; i < OWL_ARRAY_LEN(good); i++) {
        cr_assert_eq(owl_target_parse(good[i], &t, &e), OWL_OK, "%s: %s", good[i], e.msg);
        cr_assert_eq(t.kind, OWL_TARGET_URL, "%s", good[i]);
    }
    target_bad("http://", "without a host");
    target_bad("https:///p", "without a host");
    target_bad("http://:80/", "without a host");
    target_bad("http://user@/", "without a host");
    target_bad("http://h:8x/", "port is not a number");
    target_bad("http://h:123456/", "port is not a number");
    target_bad("http://[::1/", "bad [IPv6] host");
    target_bad("http://[]/", "bad [IPv6] host");
    target_bad("http://h/a b", "a space");
    target_bad("http://h/\xc3\xa9", "non-ASCII");
    target_bad("ftp://h/x", "webhook URLs (http://, https://)");
    target_bad("hooks.example.com", "webhook URLs (http://, https://)");
    target_bad("", "webhook URLs (http://, https://)");
    char big[OWL_TARGET_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "http://h/", 9);
    big[sizeof big - 1] = '\0';
    target_bad(big, "longer than 1024 characters");
    big[OWL_TARGET_MAX] = '\0';
    cr_assert_eq(owl_target_parse(big, &t, &e), OWL_OK, "%s", e.msg);
}

Test(target, sns_topic_arns)
{
    owl_target t;
    owl_error e = {0};
    cr_assert_eq(owl_target_parse("arn:aws:sns:us-east-1:123456789012:ops", &t, &e), OWL_OK,
                 "%s", e.msg);
    cr_assert_eq(t.kind, OWL_TARGET_SNS);
    cr_assert_str_eq(t.partition, "aws");
    cr_assert_str_eq(t.region, "us-east-1");
    cr_assert_str_eq(t.account, "123456789012");
    cr_assert_str_eq(t.topic, "ops");
    cr_assert_eq(owl_target_parse("arn:aws-us-gov:sns:us-gov-west-1:000000000000:A_b-9.fifo",
                                  &t, &e), OWL_OK, "%s", e.msg);
    cr_assert_str_eq(t.topic, "A_b-9.fifo");
    target_bad("arn:aws:sns:us-east-1:123456789012:", "not an SNS topic name");
    target_bad("arn:aws:sns:us-east-1:123456789012:a.b", "not an SNS topic name");
    target_bad("arn:aws:sns:us-east-1:123456789012:ops:6d1b3a2c", "not an SNS topic name");
    target_bad("arn:aws:sns::123456789012:ops", "needs a region");
    target_bad("arn:aws:sns:us-east-1:12345678901:ops", "12 digits");
    target_bad("arn:aws:sns:us-east-1:12345678901x:ops", "12 digits");
    target_bad("arn:aws:sns:us-east-1", "not an ARN");
    target_bad("arn::sns:us-east-1:123456789012:ops", "not an ARN");
    target_bad("arn:AWS:sns:us-east-1:123456789012:ops", "not an ARN");
    /* CloudWatch's other actions: owl has nothing to run them with */
    target_bad("arn:aws:automate:us-east-1:ec2:stop", "not automate ARNs");
    target_bad("arn:aws:swf:us-east-1:123456789012:action/actions/AWS_EC2.InstanceId.Reboot/1.0",
               "not swf ARNs");
    target_bad("arn:aws:ssm:us-east-1:123456789012:opsitem:2", "not ssm ARNs");
    target_bad("arn:aws:lambda:us-east-1:123456789012:function:f", "owl supports webhook URLs "
               "and SNS topic ARNs");
}

Test(target, topic_names)
{
    char name[OWL_TARGET_TOPIC_MAX + 2];
    memset(name, 'x', sizeof name - 1);
    name[OWL_TARGET_TOPIC_MAX] = '\0';
    cr_assert(owl_target_topic_name_ok(name), "256 characters");
    memcpy(name + OWL_TARGET_TOPIC_MAX - 5, ".fifo", 5);
    cr_assert(owl_target_topic_name_ok(name), "256 characters with .fifo");
    name[OWL_TARGET_TOPIC_MAX] = 'x';
    name[OWL_TARGET_TOPIC_MAX + 1] = '\0';
    cr_assert(!owl_target_topic_name_ok(name), "257 characters");
    cr_assert(owl_target_topic_name_ok("a"));
    cr_assert(owl_target_topic_name_ok("a.fifo"));
    cr_assert(!owl_target_topic_name_ok(""));
    cr_assert(!owl_target_topic_name_ok(".fifo"));
    cr_assert(!owl_target_topic_name_ok("a.fifo.fifo"));
    cr_assert(!owl_target_topic_name_ok("a b"));
    cr_assert(!owl_target_topic_name_ok("a:b"));
}

#include <bson/bson.h>

#include "common/utf8.h"

/* Each case checked alone, and again inside ASCII padding long enough that the 8-byte path
 * runs before and after it. */
static void utf8_case(const char *s, size_t n, int want, const char *what)
{
    char padded[64];
    cr_assert(n + 20 <= sizeof padded);
    cr_assert_eq(owl_utf8_valid(s, n), want, "%s", what);
    memset(padded, 'a', sizeof padded);
    memcpy(padded + 11, s, n);
    cr_assert_eq(owl_utf8_valid(padded, n + 20), want, "%s (padded)", what);
    cr_assert_eq(bson_utf8_validate(s, n, false), (bool)want, "%s: libbson disagrees", what);
}
#define UTF8_OK(lit) utf8_case(lit, sizeof lit - 1, 1, #lit)
#define UTF8_BAD(lit, why) utf8_case(lit, sizeof lit - 1, 0, why)

Test(utf8, valid_sequences_of_each_length)
{
    cr_assert(owl_utf8_valid(NULL, 0));
    UTF8_OK("plain ASCII, longer than one word");
    UTF8_OK("\x01\x7f");
    UTF8_OK("\xc2\x80");             /* U+0080, the first 2-byte */
    UTF8_OK("\xc3\xa9t\xc3\xa9");    /* été */
    UTF8_OK("\xdf\xbf");             /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");         /* U+0800, the first 3-byte */
    UTF8_OK("\xe2\x82\xac");         /* € */
    UTF8_OK("\xed\x9f\xbf");         /* U+D7FF, just below the surrogates */
    UTF8_OK("\xee\x80\x80");         /* U+E000, just above them */
    UTF8_OK("\xef\xbf\xbf");         /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80");     /* U+10000, the first 4-byte */
    UTF8_OK("\xf0\x9f\x98\x80");     /* 😀 */
    UTF8_OK("\xf4\x8f\xbf\xbf");     /* U+10FFFF, the last */
}

Test(utf8, each_class_of_invalid_sequence)
{
    UTF8_BAD("a\0b", "NUL");
    UTF8_BAD("\xc0\x80", "overlong NUL");
    UTF8_BAD("\x80", "stray continuation");
    UTF8_BAD("a\xbf", "stray continuation after ASCII");
    UTF8_BAD("\xc1\xbf", "overlong 2-byte (C1)");
    UTF8_BAD("\xe0\x9f\xbf", "overlong 3-byte");
    UTF8_BAD("\xf0\x8f\xbf\xbf", "overlong 4-byte");
    UTF8_BAD("\xed\xa0\x80", "high surrogate D800");
    UTF8_BAD("\xed\xbf\xbf", "low surrogate DFFF");
    UTF8_BAD("\xf4\x90\x80\x80", "U+110000");
    UTF8_BAD("\xf5\x80\x80\x80", "lead F5");
    UTF8_BAD("\xff", "byte FF");
    UTF8_BAD("\xc3", "2-byte cut short");
    UTF8_BAD("\xe2\x82", "3-byte cut short");
    UTF8_BAD("\xf0\x9f\x98", "4-byte cut short");
    UTF8_BAD("\xc3(", "bad continuation");
    UTF8_BAD("\xe2\x82(", "bad third byte");
    UTF8_BAD("\xf0\x9f\x98(", "bad fourth byte");
}

/* ASCII of every length to 70 (the 16- and 8-byte steps and the look at the last eight)
 * with one odd sequence at every place: NUL, a stray continuation, a valid 2-, 3- and 4-byte
 * sequence, one cut short by the end, an overlong one; judged as libbson judges it (NUL
 * allowed: as the same bytes with 'a' for the NUL). */
Test(utf8, ascii_with_one_odd_sequence_anywhere)
{
    static const char *const odd[] = {"\x00", "\x80", "\xc3\xa9", "\xe2\x82\xac",
                                      "\xf0\x9f\x98\x80", "\xe2\x82", "\xc0\x80", "\x7f"};
    static const size_t oddn[] = {1, 1, 2, 3, 4, 2, 2, 1};
    char s[80], t[80];
    for (size_t len = 0; len <= 70; len++)
        for (size_t k = 0; k < OWL_ARRAY_LEN(odd); k++)
            for (size_t at = 0; at + oddn[k] <= len; at++) {
                memset(s, 'a' + (int)(at % 26), len);
                memcpy(s + at, odd[k], oddn[k]);
                int want = bson_utf8_validate(s, len, false) ? 1 : 0;
                char *h = malloc(len ? len : 1); /* exactly len: a read past it trips ASan */
                cr_assert_not_null(h);
                memcpy(h, s, len);
                cr_assert_eq(owl_utf8_valid(h, len), want, "len %zu, %zu at %zu", len, k, at);
                int ascii = 1;
                for (size_t i = 0; i < len; i++)
                    ascii &= (unsigned char)s[i] < 0x80;
                cr_assert_eq(owl_utf8_ascii(h, len), ascii, "ASCII: len %zu, %zu at %zu", len, k,
                             at);
                memcpy(t, s, len);
                for (size_t i = 0; i < len; i++)
                    t[i] = t[i] ? t[i] : 'a';
                cr_assert_eq(owl_utf8_well_formed(h, len), owl_utf8_valid(t, len),
                             "NUL allowed: len %zu, %zu at %zu", len, k, at);
                free(h);
            }
}

/* Random strings biased to the edges (bytes near the lead-byte and continuation bounds,
 * zeros, ASCII runs) judged the same as libbson's validator. */
Test(utf8, same_as_libbson_on_random_input)
{
    static const unsigned char edge[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                         0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
                                         0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff, 'a'};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char s[40];
    size_t valid = 0;
    for (int round = 0; round < 400000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % sizeof s);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned r = (unsigned)(x >> 32);
            s[i] = r % 4 == 0 ? edge[(r >> 8) % sizeof edge]
                   : r % 4 == 1 ? (unsigned char)(0x80 | (r >> 8 & 0x3f))
                   : r % 4 == 2 ? (unsigned char)(0x20 + (r >> 8) % 0x5f)
                                : (unsigned char)(r >> 8);
        }
        int mine = owl_utf8_valid((const char *)s, n);
        cr_assert_eq(mine, bson_utf8_validate((const char *)s, n, false) ? 1 : 0,
                     "round %d, %zu bytes", round, n);
        /* NUL allowed: as valid as the same bytes with every NUL made 'a' (libbson's own
         * allow_null also takes the overlong C0 80, so it is no oracle here) */
        unsigned char t[sizeof s];
        for (size_t i = 0; i < n; i++)
            t[i] = s[i] ? s[i] : 'a';
        cr_assert_eq(owl_utf8_well_formed((const char *)s, n),
                     owl_utf8_valid((const char *)t, n), "NUL allowed: round %d, %zu bytes",
                     round, n);
        valid += (size_t)mine;
    }
    cr_assert_gt(valid, 1000, "the generator must also make valid strings (%zu)", valid);
}

/* One escape (the text after its backslash): the result, the code point and how much of the
 * text it took. */
static void expect_escape(const char *text, int want, unsigned cp, size_t used)
{
    const char *p = text;
    unsigned got = 0xffffffffu;
    int rc = owl_json_escape(&p, text + strlen(text), &got);
    cr_assert_eq(rc, want, "\\%s: %d, want %d", text, rc, want);
    if (want != OWL_JSON_ESC_OK)
        return;
    cr_assert_eq(got, cp, "\\%s: U+%04X, want U+%04X", text, got, cp);
    cr_assert_eq((size_t)(p - text), used, "\\%s: took %zu bytes", text, (size_t)(p - text));
}

/* owl_json_str_run against a byte loop: every length to 56 (three 16-byte steps, an 8-byte
 * one and single bytes), the end byte ('"', '\\', each
 * control character, or none) at every place, the bytes around it drawn from those next to
 * the special ones (a borrow from one byte to the next is where word-at-a-time tests go
 * wrong) and past ASCII. */
Test(utf8, json_string_runs_end_where_a_byte_loop_ends_them)
{
    static const unsigned char near[] = {0x01, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f,
                                         0x80, 0xa2, 0xdc, 0xff, 'a',  '0',  0x22 ^ 0x80,
                                         0x5c ^ 0x80};
    unsigned char buf[64];
    uint64_t r = 99;
    for (size_t len = 0; len <= 56; len++)
        for (size_t at = 0; at <= len; at++)
            for (int endc = -1; endc < 34; endc++) {
                for (size_t i = 0; i < len; i++) {
                    r = r * 6364136223846793005ull + 1442695040888963407ull;
                    buf[i] = near[(r >> 33) % sizeof near];
                }
                if (at < len && endc >= 0)
                    buf[at] = endc == 32 ? '"' : endc == 33 ? '\\' : (unsigned char)endc;
                size_t want = 0;
                int want_high = 0;
                while (want < len && buf[want] != '"' && buf[want] != '\\' && buf[want] >= 0x20)
                    want_high |= buf[want++] >= 0x80;
                int high = 0;
                const char *got = owl_json_str_run((const char *)buf, (const char *)buf + len, &high);
                cr_assert_eq((size_t)(got - (const char *)buf), want, "len %zu at %zu end %d", len,
                             at, endc);
                cr_assert_eq(high, want_high, "len %zu at %zu end %d: high", len, at, endc);
            }
}

Test(utf8, json_escapes)
{
    static const char simple[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    for (size_t i = 0; i < sizeof simple - 1; i++) {
        char text[3] = {simple[i], 'x', 0};
        expect_escape(text, OWL_JSON_ESC_OK, (unsigned char)to[i], 1);
    }
    expect_escape("u00e9rest", OWL_JSON_ESC_OK, 0xe9, 5);
    expect_escape("u00E9", OWL_JSON_ESC_OK, 0xe9, 5);
    expect_escape("u0000", OWL_JSON_ESC_OK, 0, 5);
    expect_escape("uFFFF", OWL_JSON_ESC_OK, 0xffff, 5);
    expect_escape("ud83d\\ude00!", OWL_JSON_ESC_OK, 0x1f600, 11);
    expect_escape("uDBFF\\uDFFF", OWL_JSON_ESC_OK, 0x10ffff, 11);
    expect_escape("", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("x", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("'", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("u12", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("u12g4", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("U00e9", OWL_JSON_ESC_BAD, 0, 0);
    expect_escape("ude00", OWL_JSON_ESC_LONE, 0, 0);
    expect_escape("ud83d", OWL_JSON_ESC_LONE, 0, 0);
    expect_escape("ud83dx\\ude00", OWL_JSON_ESC_LONE, 0, 0);
    expect_escape("ud83d\\n", OWL_JSON_ESC_LONE, 0, 0);
    expect_escape("ud83d\\u0041", OWL_JSON_ESC_PAIR, 0, 0);
    expect_escape("ud83d\\ud83d", OWL_JSON_ESC_PAIR, 0, 0);
    expect_escape("ud83d\\ude0", OWL_JSON_ESC_PAIR, 0, 0);
}

typedef struct part_count {
    int runs;
    size_t index;
} part_count;

static void *count_part(void *arg)
{
    ((part_count *)arg)->runs++;
    return NULL;
}

Test(util, run_parts_runs_each_job_once)
{
    for (size_t n = 0; n <= OWL_RUN_PARTS_MAX; n++) {
        part_count jobs[OWL_RUN_PARTS_MAX] = {{0}};
        owl_run_parts(count_part, jobs, sizeof *jobs, n);
        for (size_t i = 0; i < OWL_RUN_PARTS_MAX; i++)
            cr_assert_eq(jobs[i].runs, i < n ? 1 : 0, "n %zu, job %zu ran %d times", n, i,
                         jobs[i].runs);
    }
}

/* test_logtpl.c — index/logtpl.c: exact round trips of the 16 Loghub samples (read from
 * $OWL_TEST_DATA/loghub at test time; reported as SKIP with the path when absent) with and without
 * row times, synthetic edge cases (empty messages, delimiters only, digits only, the format's
 * own control bytes, integers beyond int64, "-0", zero padding, UTF-8 and invalid UTF-8, NUL
 * bytes, very long lines, repeated ids, UUIDs and hex ids, odd times), random messages, and
 * damaged encodings (every truncation, byte flips, lying counts) failing cleanly. The bench
 * suite prints the decode speed of each Loghub sample; it asserts only correctness. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "common/logtime.h"
#include "index/encode.h"
#include "index/logtpl.h"

/* deterministic xorshift64* so failures reproduce */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static owl_strref sref(const char *s)
{
    return (owl_strref){s, (uint32_t)strlen(s)};
}

struct needle {
    const char *p;
    size_t n;
};

static int judge_needle(void *ud, const owl_logtpl_tpl *t)
{
    const struct needle *k = ud;
    return owl_logtpl_tpl_may_contain(t, k->p, k->n);
}

/* owl_dec_logtpl_sel of chunk p with a judge of `needle`: every row holding it is kept, and
 * rebuilt as v[r]; the rows left out are empty, counted, and do not hold it. Returns how many
 * were left out. */
static size_t check_sel(const uint8_t *p, size_t len, const owl_strref *v, const int64_t *times,
                        size_t n, const char *needle, size_t nl)
{
    owl_buf arena = OWL_BUF_INIT;
    owl_strref *out = calloc(n + 1, sizeof *out);
    uint8_t *keep = malloc(n + 1);
    memset(keep, 1, n + 1);
    struct needle k = {needle, nl};
    size_t left = 99;
    cr_assert_eq(owl_dec_logtpl_sel(p, len, n, times, judge_needle, &k, keep, &left, out, &arena),
                 OWL_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        int has = nl == 0 || (v[i].n && memmem(v[i].p, v[i].n, needle, nl));
        if (keep[i]) {
            cr_assert_eq(out[i].n, v[i].n, "kept row %zu: length %u, want %u", i, out[i].n, v[i].n);
            cr_assert(v[i].n == 0 || memcmp(out[i].p, v[i].p, v[i].n) == 0, "kept row %zu differs", i);
        } else {
            zeros++;
            cr_assert_eq(out[i].n, 0);
            cr_assert(!has, "row %zu holds \"%.*s\" but was left out", i, (int)nl, needle);
        }
    }
    cr_assert_eq(left, zeros);
    cr_assert_eq(keep[n], 1, "keep written past n");
    free(keep);
    free(out);
    owl_buf_free(&arena);
    return zeros;
}

/* check_sel with needles that are in the rows (a window of one, one of its words) and not */
static void check_sels(const uint8_t *p, size_t len, const owl_strref *v, const int64_t *times,
                       size_t n)
{
    static const char *const fixed[] = {"status", "ERROR", "len: ", "zzqx", "block_", "a"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_sel(p, len, v, times, n, fixed[i], strlen(fixed[i]));
    for (int k = 0; k < 3 && n; k++) {
        const owl_strref *r = &v[rnd() % n];
        if (!r->n)
            continue;
        size_t a = rnd() % r->n, b = a + 1 + rnd() % (r->n - a);
        check_sel(p, len, v, times, n, r->p + a, b - a);
    }
}

/* Encodes v (with times when given), checks the id byte, decodes from an exact-size heap copy
 * (so ASan sees any overread) and compares every message. Returns the encoded size. */
static size_t round_trip(const owl_strref *v, const int64_t *times, size_t n)
{
    owl_buf e = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_logtpl_time(v, times, n, &e), OWL_OK);
    cr_assert(e.len >= 1);
    cr_assert_eq((uint8_t)e.data[0], OWL_ENC_LOGTPL);
    uint8_t *copy = malloc(e.len);
    memcpy(copy, e.data, e.len);
    owl_strref *out = calloc(n + 1, sizeof *out);
    cr_assert_eq(owl_dec_logtpl_time(copy, e.len, n, times, out, &arena), OWL_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].n, v[i].n, "row %zu: length %u, want %u", i, out[i].n, v[i].n);
        cr_assert(v[i].n == 0 || memcmp(out[i].p, v[i].p, v[i].n) == 0, "row %zu differs", i);
    }
    check_sels(copy, e.len, v, times, n);
    /* the plain entry points agree when no times are involved */
    if (!times) {
        owl_buf e2 = OWL_BUF_INIT;
        cr_assert_eq(owl_enc_logtpl(v, n, &e2), OWL_OK);
        cr_assert(e2.len == e.len && memcmp(e2.data, e.data, e.len) == 0);
        cr_assert_eq(owl_dec_logtpl(copy, e.len, n, out, &arena), OWL_OK);
        owl_buf_free(&e2);
    }
    size_t len = e.len;
    free(out);
    free(copy);
    owl_buf_free(&e);
    owl_buf_free(&arena);
    return len;
}

static void round_trip_strs(const char *const *s, size_t n)
{
    owl_strref *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = sref(s[i]);
    round_trip(v, NULL, n);
    free(v);
}

#define RT(...)                                                                               \
    do {                                                                                      \
        static const char *const rt_[] = {__VA_ARGS__};                                       \
        round_trip_strs(rt_, sizeof rt_ / sizeof rt_[0]);                                     \
    } while (0)

/* ---- Loghub samples ---- */

struct sample {
    char *buf;
    size_t size, n;
    owl_strref *v;
    int64_t *t;
};

/* loghub_dir — the Loghub samples of the public data sets: $OWL_TEST_DATA/loghub (`make check`
 * sets OWL_TEST_DATA, by default to <srcdir>/../shared/data), else that default computed from
 * $OWL_SRCDIR or from the directory this test was compiled from. */
static const char *loghub_dir(void)
{
    static char dir[4096];
    const char *data = getenv("OWL_TEST_DATA"), *src = getenv("OWL_SRCDIR");
    if (data && *data) {
        snprintf(dir, sizeof dir, "%s/loghub", data);
    } else if (src && *src) {
        snprintf(dir, sizeof dir, "%s/../shared/data/loghub", src);
    } else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_logtpl.c");
        snprintf(dir, sizeof dir, "%.*s../shared/data/loghub", tail ? (int)(tail - me) : 0, me);
    }
    return dir;
}

/* Rows as the importer makes them (one per line, "\n" and "\r\n" dropped), each with the time
 * found at the start of one of its first fields (or the previous row's). 0 when absent. */
static int load_sample(const char *name, struct sample *s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s_2k.log", loghub_dir(), name, name);
    memset(s, 0, sizeof *s);
    if (owl_read_file(path, 1u << 30, &s->buf, &s->size, NULL) != OWL_OK)
        return 0;
    size_t cap = 4096;
    s->v = malloc(cap * sizeof *s->v);
    s->t = malloc(cap * sizeof *s->t);
    int64_t last = 1700000000000;
    for (size_t i = 0; i < s->size;) {
        char *nl = memchr(s->buf + i, '\n', s->size - i);
        size_t e = nl ? (size_t)(nl - s->buf) : s->size, len = e - i;
        if (len && s->buf[i + len - 1] == '\r')
            len--;
        if (s->n == cap) {
            cap *= 2;
            s->v = realloc(s->v, cap * sizeof *s->v);
            s->t = realloc(s->t, cap * sizeof *s->t);
        }
        for (size_t at = 0; at < len && at < 80; at++) {
            int64_t ms;
            if ((at == 0 || s->buf[i + at - 1] == ' ') &&
                owl_logtime_parse(s->buf + i + at, len - at, 1700000000000, &ms) >= 0) {
                last = ms;
                break;
            }
        }
        s->t[s->n] = last;
        s->v[s->n++] = (owl_strref){s->buf + i, (uint32_t)len};
        i = e + 1;
    }
    return 1;
}

static void free_sample(struct sample *s)
{
    free(s->buf);
    free(s->v);
    free(s->t);
}

static const char *const SAMPLES[] = {"Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop",
                                      "HealthApp", "Linux", "Mac", "OpenSSH", "OpenStack",
                                      "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"};
#define NSAMPLES (sizeof SAMPLES / sizeof SAMPLES[0])

Test(loghub, every_sample_round_trips_exactly)
{
    size_t found = 0;
    for (size_t k = 0; k < NSAMPLES; k++) {
        struct sample s;
        if (!load_sample(SAMPLES[k], &s))
            continue;
        found++;
        cr_assert_eq(s.n, 2000, "%s: %zu rows", SAMPLES[k], s.n);
        size_t plain = round_trip(s.v, NULL, s.n);
        size_t timed = round_trip(s.v, s.t, s.n);
        /* blocks of other sizes, as a part writer would cut them */
        for (size_t i = 0; i < s.n; i += 300)
            round_trip(s.v + i, s.t + i, s.n - i < 300 ? s.n - i : 300);
        round_trip(s.v, NULL, 1);
        /* smaller than the plain bytes, and the times only ever help */
        size_t raw = 0;
        for (size_t i = 0; i < s.n; i++)
            raw += s.v[i].n;
        cr_assert(plain < raw, "%s: %zu encoded bytes for %zu raw", SAMPLES[k], plain, raw);
        cr_assert(timed <= plain + 64, "%s: %zu with times, %zu without", SAMPLES[k], timed, plain);
        free_sample(&s);
    }
    if (!found)
        cr_skip_test("Loghub samples not found under %s (set OWL_TEST_DATA)", loghub_dir());
}

/* the judge leaves out most rows of a sample for a word few of its templates have */
Test(loghub, judged_decode_leaves_out_other_templates)
{
    struct sample s;
    if (!load_sample("OpenStack", &s))
        cr_skip_test("Loghub samples not found under %s (set OWL_TEST_DATA)", loghub_dir());
    owl_buf e = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_logtpl_time(s.v, s.t, s.n, &e), OWL_OK);
    size_t with = 0;
    for (size_t i = 0; i < s.n; i++)
        with += memmem(s.v[i].p, s.v[i].n, "status", 6) != NULL;
    size_t left = check_sel((const uint8_t *)e.data, e.len, s.v, s.t, s.n, "status", 6);
    cr_assert(with > 0 && with < s.n);
    /* every row without the word is left out: the word is in no other template, and in no
     * string value */
    cr_assert_eq(left, s.n - with, "%zu of %zu rows left out, %zu hold the word", left, s.n, with);
    owl_buf_free(&e);
    free_sample(&s);
}

Test(loghub, beats_str_plus_zstd)
{
    struct sample s;
    if (!load_sample("HDFS", &s))
        cr_skip_test("Loghub samples not found under %s (set OWL_TEST_DATA)", loghub_dir());
    owl_buf a = OWL_BUF_INIT, b = OWL_BUF_INIT, za = OWL_BUF_INIT, zb = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_str(s.v, s.n, 0, &a), OWL_OK);
    cr_assert_eq(owl_enc_logtpl(s.v, s.n, &b), OWL_OK);
    cr_assert_eq(owl_chunk_pack(a.data, a.len, 3, &za), OWL_OK);
    cr_assert_eq(owl_chunk_pack(b.data, b.len, 3, &zb), OWL_OK);
    cr_assert(zb.len * 3 < za.len * 2, "LOGTPL %zu vs STR %zu bytes at level 3", zb.len, za.len);
    owl_buf_free(&a);
    owl_buf_free(&b);
    owl_buf_free(&za);
    owl_buf_free(&zb);
    free_sample(&s);
}

/* ---- synthetic edge cases ---- */

Test(edge, empty_inputs)
{
    round_trip(NULL, NULL, 0);
    RT("");
    RT("", "", "");
    RT("", "a", "", "1", "");
}

Test(edge, delimiters_and_digits_only)
{
    RT(" ", "  ", "::", "[]()=,;/\\", " - - - ", "\t\t", "~!@#$%^&*_+{}|:\"<>?`'");
    RT("0", "1", "12", "0123456789", "9", "00", "000", "1 2 3", "1-2-3", "1.2.3.4:5");
    RT("a1", "1a", "a1b2c3", "xyz", "A", "_1_", "1_2");
}

Test(edge, control_bytes_of_the_format)
{
    static const char a[] = "a\x10" "b", b[] = "\x11", c[] = "\x12\x12", d[] = "x\ny\n",
                      e[] = "\x10\x11\x12\n 12 \x11 34 \x12", f[] = "7\x11" "8\x12" "9\n10";
    RT(a, b, c, d, e, f, "\x0f\x13", "\n", "\x10");
    /* the same tokens twice, around control bytes, so references are made */
    RT("abc1 \x12 abc1 \x11 abc1", "node42 \x10 node42", "\x12\x01 zz9 \x12\x01 zz9");
}

Test(edge, integers_at_and_beyond_int64)
{
    RT("9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
       "18446744073709551615", "99999999999999999999", "123456789012345678901234567890",
       "x=-9223372036854775808 y=9223372036854775807", "-1", "-12", "--5", "a-5", "5-3", "=-7");
}

Test(edge, zero_padding_and_negative_zero)
{
    RT("-0", "-00", "-007", "0", "00", "007", "0.5", "-0.5", "1e-05", "v=-0", "v=-01");
    /* one column of mixed widths and paddings */
    RT("n=7", "n=07", "n=007", "n=0", "n=00", "n=123", "n=-4", "n=0000000000000000001");
    /* fixed width, then a value that breaks it */
    RT("t=01", "t=02", "t=03", "t=4", "t=05");
}

Test(edge, utf8_invalid_utf8_and_nul)
{
    static const char u[] = "caf\xc3\xa9 12 \xe2\x82\xac 3 \xf0\x9f\x98\x80 x9",
                      bad[] = "\xff\xfe 12 \xc3 \x80\x80 7\xc3", nul[] = "a\0b 12\0 34";
    owl_strref v[] = {sref(u), sref(bad), {nul, sizeof nul - 1}, {"\0\0\0", 3}, {"\0" "5", 2}};
    round_trip(v, NULL, 5);
}

Test(edge, very_long_and_very_wide_lines)
{
    size_t big = 3u << 20;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++)
        s[i] = "ab 12:x-9.q"[rnd() % 11];
    char *digits = malloc(big);
    for (size_t i = 0; i < big; i++)
        digits[i] = (char)('0' + rnd() % 10);
    /* 600 variables in one line: references may only name the first 256 */
    owl_buf wide = OWL_BUF_INIT;
    for (int i = 0; i < 600; i++)
        owl_buf_printf(&wide, "k%d=v%d ", i % 300, i % 300);
    owl_strref v[] = {{s, (uint32_t)big}, {digits, (uint32_t)big}, {wide.data, (uint32_t)wide.len},
                      {s, 1000}, {wide.data, (uint32_t)wide.len}};
    round_trip(v, NULL, 5);
    free(s);
    free(digits);
    owl_buf_free(&wide);
}

Test(edge, ids_uuids_and_hex)
{
    RT("req-38101a0b-2096-447d-96ea-a692162415ae ok", "req-9bc36dd9-91c5-4314-898a-47625eb93b09 ok",
       "req-55db2d8d-cdb7-4b4b-993b-429be84c0c3e ok", "req-55DB2D8D-CDB7-4B4B-993B-429BE84C0C3E ok",
       "req-55db2d8d-cdb7-4b4b-993b-429be84c0c3 ok", "req-55db2d8d-cdb7-4b4b-993b-429be84c0c3ef ok",
       "req-55db2d8d-cdb7-4b4b-993b-429be84c0c3e-1 ok");
    RT("id 113d3a99c3da401fbd62cc2caa5b96d2", "id 54fadb412c4e40cdbaed9335e4c35a9e",
       "id 00000000000000000000000000000000", "id 12345678901234567890123456789012");
    RT("blk_-1608999687919862906 size 91178", "blk_7503483334202473044 size 233217",
       "blk_-3544583377289625738 size 91178");
    RT("R02-M1-N0-C:J12-U11 x R02-M1-N0-C:J12-U11", "R23-M0-N1-C:J05-U01 x R23-M0-N1-C:J05-U01",
       "R23-M0-N1-C:J05-U01 x R24-M0-N1-C:J05-U01");
}

/* Messages whose timestamp text follows each row's time, through every time field. */
Test(edge, time_fields)
{
    enum { N = 700 };
    int64_t t[N];
    char buf[N][96];
    owl_strref v[N];
    int64_t base = 1445144423722; /* 2015-10-18 05:00:23.722 UTC */
    for (size_t i = 0; i < N; i++) {
        t[i] = base + (int64_t)i * 7919 * 13;
        int64_t s = t[i] / 1000, ms = t[i] % 1000;
        time_t tt = (time_t)s;
        struct tm tm;
        gmtime_r(&tt, &tm);
        int len = snprintf(buf[i], sizeof buf[i],
                           "%04d-%02d-%02d %02d:%02d:%02d,%03d %02d%02d%02d %lld %lld %d%02d%02d h=%d x=%d",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                           tm.tm_sec, (int)ms, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)s,
                           (long long)t[i], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           (tm.tm_hour + 5) % 24, (int)(i % 3));
        v[i] = (owl_strref){buf[i], (uint32_t)len};
    }
    size_t with = round_trip(v, t, N), without = round_trip(v, NULL, N);
    cr_assert(with * 2 < without, "times should make the timestamps nearly free: %zu vs %zu", with,
              without);
    /* the chunk made with times cannot be decoded without them */
    owl_buf e = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    owl_strref out[N];
    cr_assert_eq(owl_enc_logtpl_time(v, t, N, &e), OWL_OK);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)e.data, e.len, N, out, &arena), OWL_EINVAL);
    /* other times decode to other text, never to a crash */
    int64_t t2[N];
    for (size_t i = 0; i < N; i++)
        t2[i] = t[i] + (int64_t)86400000 * 400 + 1234;
    cr_assert_eq(owl_dec_logtpl_time((const uint8_t *)e.data, e.len, N, t2, out, &arena), OWL_OK);
    owl_buf_free(&e);
    owl_buf_free(&arena);
}

Test(edge, extreme_times)
{
    enum { N = 64 };
    int64_t t[N];
    owl_strref v[N];
    static const int64_t odd[] = {INT64_MIN, INT64_MAX, -1, 0, 1, -86400000, 86399999,
                                  -62135596800000 /* year 1 */, 253402300799999 /* 9999 */};
    for (size_t i = 0; i < N; i++) {
        t[i] = odd[i % (sizeof odd / sizeof odd[0])] ^ (i < 9 ? 0 : (int64_t)(i % 3));
        v[i] = sref(i % 2 ? "2015 10 18 05 00 23 722" : "1 2 3 4 5 6 7");
    }
    round_trip(v, t, N);
    /* a decode with wild times must not crash whatever the chunk stored */
    for (size_t i = 0; i < N; i++)
        v[i] = sref("00 01 02 03 04 05 999");
    int64_t good[N], wild[N];
    for (size_t i = 0; i < N; i++) {
        good[i] = (int64_t)i * 1000;
        wild[i] = odd[i % (sizeof odd / sizeof odd[0])];
    }
    owl_buf e = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    owl_strref out[N];
    cr_assert_eq(owl_enc_logtpl_time(v, good, N, &e), OWL_OK);
    int rc = owl_dec_logtpl_time((const uint8_t *)e.data, e.len, N, wild, out, &arena);
    cr_assert(rc == OWL_OK || rc == OWL_ECORRUPT);
    owl_buf_free(&e);
    owl_buf_free(&arena);
}

Test(edge, many_templates_and_columns)
{
    enum { N = 5000 };
    char (*buf)[64] = malloc(N * sizeof *buf);
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        int len = snprintf(buf[i], sizeof buf[i], "w%zu word%zu: %llu=%llu", i % 977, i % 613,
                           (unsigned long long)(rnd() % 100000), (unsigned long long)i);
        v[i] = (owl_strref){buf[i], (uint32_t)len};
    }
    round_trip(v, NULL, N);
    free(buf);
    free(v);
}

Test(edge, arena_is_reset_and_reused)
{
    owl_strref a[] = {sref("first 1"), sref("first 22")}, b[] = {sref("second message 333")};
    owl_buf ea = OWL_BUF_INIT, eb = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    owl_strref out[2];
    cr_assert_eq(owl_enc_logtpl(a, 2, &ea), OWL_OK);
    cr_assert_eq(owl_enc_logtpl(b, 1, &eb), OWL_OK);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)ea.data, ea.len, 2, out, &arena), OWL_OK);
    cr_assert(out[1].n == 8 && memcmp(out[1].p, "first 22", 8) == 0);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)eb.data, eb.len, 1, out, &arena), OWL_OK);
    cr_assert(out[0].n == 18 && memcmp(out[0].p, "second message 333", 18) == 0);
    cr_assert_eq(arena.len, 18);
    /* appended after what out already holds */
    owl_buf_putc(&eb, 'x');
    size_t at = eb.len;
    cr_assert_eq(owl_enc_logtpl(a, 2, &eb), OWL_OK);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)eb.data + at, eb.len - at, 2, out, &arena), OWL_OK);
    cr_assert(out[0].n == 7 && memcmp(out[0].p, "first 1", 7) == 0);
    owl_buf_free(&ea);
    owl_buf_free(&eb);
    owl_buf_free(&arena);
}

/* Random messages over an alphabet heavy in digits, delimiters and the format's bytes. */
Test(edge, random_messages)
{
    static const char alpha[] = "0123456789abcdefxyzABZ-_:.,=/ []\x10\x11\x12\n\0\xff";
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + rnd() % 40;
        char *buf = malloc(n * 64);
        owl_strref *v = malloc(n * sizeof *v);
        int64_t *t = malloc(n * sizeof *t);
        for (size_t i = 0; i < n; i++) {
            size_t len = rnd() % 64;
            /* some rows repeat an earlier one with new digits, so templates repeat */
            if (i > 0 && rnd() % 2) {
                memcpy(buf + i * 64, v[i - 1].p, v[i - 1].n);
                len = v[i - 1].n;
                for (size_t k = 0; k < len; k++)
                    if (buf[i * 64 + k] >= '0' && buf[i * 64 + k] <= '9')
                        buf[i * 64 + k] = (char)('0' + rnd() % 10);
            } else {
                for (size_t k = 0; k < len; k++)
                    buf[i * 64 + k] = alpha[rnd() % (sizeof alpha - 1)];
            }
            v[i] = (owl_strref){buf + i * 64, (uint32_t)len};
            t[i] = (int64_t)(rnd() % 4000000000000ull) - 1000000000000;
        }
        round_trip(v, NULL, n);
        round_trip(v, t, n);
        free(buf);
        free(v);
        free(t);
    }
}

/* ---- damaged encodings ---- */

static void expect_bad(const uint8_t *p, size_t len, size_t n, const int64_t *times)
{
    owl_buf arena = OWL_BUF_INIT;
    owl_strref *out = calloc(n + 1, sizeof *out);
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    int rc = owl_dec_logtpl_time(copy, len, n, times, out, &arena);
    cr_assert_eq(rc, OWL_ECORRUPT, "len %zu n %zu: rc %d", len, n, rc);
    free(copy);
    free(out);
    owl_buf_free(&arena);
}

/* Decodes damaged input that may still be valid: it must not crash, and when accepted, the
 * messages must survive another round trip. */
static void try_decode(const uint8_t *p, size_t len, size_t n, const int64_t *times)
{
    owl_buf arena = OWL_BUF_INIT;
    owl_strref *out = calloc(n + 1, sizeof *out);
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    int rc = owl_dec_logtpl_time(copy, len, n, times, out, &arena);
    cr_assert(rc == OWL_OK || rc == OWL_ECORRUPT || (rc == OWL_EINVAL && !times), "rc %d", rc);
    if (rc == OWL_OK)
        round_trip(out, times, n);
    free(copy);
    free(out);
    owl_buf_free(&arena);
}

static void damage(const owl_strref *v, const int64_t *t, size_t n)
{
    owl_buf e = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_logtpl_time(v, t, n, &e), OWL_OK);
    const uint8_t *p = (const uint8_t *)e.data;
    for (size_t cut = 0; cut < e.len; cut++)
        expect_bad(p, cut, n, t);
    /* a trailing byte; another row count (the times array only has n rows) */
    owl_buf_putc(&e, 0);
    p = (const uint8_t *)e.data;
    expect_bad(p, e.len, n, t);
    e.len--;
    if (!t) {
        expect_bad(p, e.len, n + 1, NULL);
        if (n > 0)
            expect_bad(p, e.len, n - 1, NULL);
    }
    uint8_t *m = malloc(e.len);
    for (size_t i = 0; i < e.len; i++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x10, 0x7f};
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(m, p, e.len);
            m[i] ^= flips[f];
            try_decode(m, e.len, n, t);
        }
    }
    free(m);
    owl_buf_free(&e);
}

Test(corrupt, truncations_flips_and_lying_counts)
{
    owl_strref a[] = {sref("2015-10-18 18:01:47,978 INFO [main] pid 4242 blk_-16089 size 91178"),
                      sref("2015-10-18 18:01:48,963 INFO [main] pid 4242 blk_75034 size 233217"),
                      sref("2015-10-18 18:01:48,963 WARN x=007 y=-5 id 38101a0b-2096-447d-96ea-a692162415ae"),
                      sref("node42 node42 \x11 \x12\x01 \n end"),
                      sref(""),
                      sref("id 113d3a99c3da401fbd62cc2caa5b96d2 99999999999999999999")};
    int64_t t[] = {1445191307978, 1445191308963, 1445191308963, 0, 5, 6};
    damage(a, NULL, 6);
    damage(a, t, 6);
    damage(a, NULL, 1);
    damage(NULL, NULL, 0);
}

/* Enough rows that columns take their other layouts: DICT strings, HEX and UUID ids, planes,
 * time fields. */
Test(corrupt, damaged_dict_hex_uuid_and_time_columns)
{
    enum { N = 40 };
    char buf[N][160];
    owl_strref v[N];
    int64_t t[N];
    for (size_t i = 0; i < N; i++) {
        t[i] = 1445191307978 + (int64_t)i * 1500;
        int64_t s = t[i] / 1000;
        int len = snprintf(buf[i], sizeof buf[i],
                           "2015-10-18 18:%02d:%02d,%03d host%c%d req 7c9e6679-7425-40de-944b-e07fc1f90a%02d "
                           "sid 0a1b2c3d%02zx n=%05zu pid %d at %s",
                           (int)(s / 60 % 60), (int)(s % 60), (int)(t[i] % 1000), "abc"[i % 3],
                           (int)(i % 4), (int)(i * 7 % 100), i, i * 37, 4000 + (int)(i % 2),
                           (const char *[]){"zone1northeastxlarge", "zone22southwest", "z3"}[i * i % 3]);
        v[i] = (owl_strref){buf[i], (uint32_t)len};
    }
    round_trip(v, NULL, N);
    damage(v, NULL, N);
    damage(v, t, N);
}

Test(corrupt, crafted_headers)
{
    owl_strref out[4];
    owl_buf arena = OWL_BUF_INIT;
    /* wrong id, empty input */
    static const uint8_t wrong[] = {OWL_ENC_STR, 0};
    cr_assert_eq(owl_dec_logtpl(wrong, sizeof wrong, 0, out, &arena), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_logtpl(wrong, 0, 0, out, &arena), OWL_ECORRUPT);
    /* more templates than rows; a template without its end */
    static const uint8_t many[] = {OWL_ENC_LOGTPL, 3, 'a', '\n', 'b', '\n', 'c', '\n', 0, 0};
    cr_assert_eq(owl_dec_logtpl(many, sizeof many, 2, out, &arena), OWL_ECORRUPT);
    static const uint8_t open[] = {OWL_ENC_LOGTPL, 1, 'a', 'b'};
    cr_assert_eq(owl_dec_logtpl(open, sizeof open, 1, out, &arena), OWL_ECORRUPT);
    /* a reference to a value the row does not have yet; a bad escape */
    static const uint8_t ref[] = {OWL_ENC_LOGTPL, 1, 0x12, 0, '\n', 0, 0, 0};
    cr_assert_eq(owl_dec_logtpl(ref, sizeof ref, 1, out, &arena), OWL_ECORRUPT);
    static const uint8_t esc[] = {OWL_ENC_LOGTPL, 1, 0x10, 'x', '\n', 0, 0, 0};
    cr_assert_eq(owl_dec_logtpl(esc, sizeof esc, 1, out, &arena), OWL_ECORRUPT);
    /* a valid one-row chunk: template "a", no columns, template ids in 1 plane: new */
    static const uint8_t ok[] = {OWL_ENC_LOGTPL, 1, 'a', '\n', 0, 1, 0};
    cr_assert_eq(owl_dec_logtpl(ok, sizeof ok, 1, out, &arena), OWL_OK);
    cr_assert(out[0].n == 1 && out[0].p[0] == 'a');
    /* a template id naming a template not introduced yet */
    static const uint8_t early[] = {OWL_ENC_LOGTPL, 2, 'a', '\n', 'b', '\n', 0, 1, 2, 0};
    cr_assert_eq(owl_dec_logtpl(early, sizeof early, 2, out, &arena), OWL_ECORRUPT);
    /* a slot whose column is never filled, a column no slot uses */
    static const uint8_t slot[] = {OWL_ENC_LOGTPL, 1, 0x11, '\n', 1, 0x00, 0, 1, 0};
    cr_assert_eq(owl_dec_logtpl(slot, sizeof slot, 1, out, &arena), OWL_ECORRUPT);
    static const uint8_t unused[] = {OWL_ENC_LOGTPL, 1, 'a', '\n', 1, 0x00, 1, 0, 0};
    cr_assert_eq(owl_dec_logtpl(unused, sizeof unused, 1, out, &arena), OWL_ECORRUPT);
    /* one integer slot, CANON VARINT column, value 5: then a value that lies about its width */
    static const uint8_t one[] = {OWL_ENC_LOGTPL, 1, 0x11, '\n', 1, 0x00, 0, 1, 0, 10};
    cr_assert_eq(owl_dec_logtpl(one, sizeof one, 1, out, &arena), OWL_OK);
    cr_assert(out[0].n == 1 && out[0].p[0] == '5');
    static const uint8_t fixed[] = {OWL_ENC_LOGTPL, 1, 0x11, '\n', 1, 0x01, 2, 0, 1, 0, 0xc8, 0x01};
    cr_assert_eq(owl_dec_logtpl(fixed, sizeof fixed, 1, out, &arena), OWL_ECORRUPT);
    /* a TIME column without times, and with a field that does not exist */
    static const uint8_t timed[] = {OWL_ENC_LOGTPL, 1, 0x11, '\n', 1, 0x10, 3, 0, 1, 0, 0};
    cr_assert_eq(owl_dec_logtpl(timed, sizeof timed, 1, out, &arena), OWL_EINVAL);
    static const uint8_t nofield[] = {OWL_ENC_LOGTPL, 1, 0x11, '\n', 1, 0x10, 99, 0, 1, 0, 0};
    cr_assert_eq(owl_dec_logtpl(nofield, sizeof nofield, 1, out, &arena), OWL_ECORRUPT);
    owl_buf_free(&arena);
}

/* A few bytes that expand to more than OWL_LOGTPL_MAX_OUT must be refused, not allocated. */
Test(corrupt, decompression_bomb)
{
    enum { ROWS = 4096 };
    owl_buf b = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    owl_strref *out = calloc(ROWS, sizeof *out);
    /* one template of 300 KiB of literal text used by every row: 1.2 GiB */
    owl_buf_putc(&b, (char)OWL_ENC_LOGTPL);
    owl_buf_putc(&b, 1);
    for (int i = 0; i < 300 * 1024; i++)
        owl_buf_putc(&b, 'x');
    owl_buf_putc(&b, '\n');
    owl_buf_putc(&b, 0);
    owl_buf_putc(&b, 1);
    for (int i = 0; i < ROWS; i++)
        owl_buf_putc(&b, i == 0 ? 0 : 1);
    cr_assert_eq(owl_dec_logtpl((const uint8_t *)b.data, b.len, ROWS, out, &arena), OWL_ECORRUPT);
    owl_buf_free(&b);
    owl_buf_free(&arena);
    free(out);
}

/* ---- speed (prints; asserts correctness only) ---- */

Test(bench, loghub_decode_speed)
{
    double bytes = 0, secs = 0;
    for (size_t k = 0; k < NSAMPLES; k++) {
        struct sample s;
        if (!load_sample(SAMPLES[k], &s))
            continue;
        owl_buf e = OWL_BUF_INIT, arena = OWL_BUF_INIT;
        owl_strref *out = malloc(s.n * sizeof *out);
        size_t raw = 0;
        for (size_t i = 0; i < s.n; i++)
            raw += s.v[i].n;
        cr_assert_eq(owl_enc_logtpl_time(s.v, s.t, s.n, &e), OWL_OK);
        int64_t best = INT64_MAX;
        for (int rep = 0; rep < 5; rep++) {
            int64_t t0 = owl_mono_ns();
            for (int it = 0; it < 20; it++)
                cr_assert_eq(owl_dec_logtpl_time((const uint8_t *)e.data, e.len, s.n, s.t, out, &arena),
                             OWL_OK);
            int64_t d = owl_mono_ns() - t0;
            best = d < best ? d : best;
        }
        double sec = (double)best / 1e9 / 20;
        printf("bench logtpl: %-12s decode %6.0f MB/s of messages\n", SAMPLES[k], (double)raw / sec / 1e6);
        bytes += (double)raw;
        secs += sec;
        free(out);
        owl_buf_free(&e);
        owl_buf_free(&arena);
        free_sample(&s);
    }
    if (secs == 0)
        cr_skip_test("Loghub samples not found under %s (set OWL_TEST_DATA)", loghub_dir());
    printf("bench logtpl: all samples decode %.0f MB/s (best of 5 wall-clock runs)\n", bytes / secs / 1e6);
}

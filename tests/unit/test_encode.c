/* test_encode.c — index/encode.c: varints, round trips of every column encoding on edge values,
 * the encoding each input should choose, chunk packing with both codecs, and corrupt input
 * (every byte flipped, every truncation, lying lengths) returning errors instead of crashing.
 * The bench suite prints encode/decode throughput figures; it asserts only correctness. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/encode.h"

/* deterministic xorshift64* so failures reproduce */
static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* A heap copy of exactly n bytes, so ASan sees any read past the end. */
static uint8_t *exact_copy(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ---- varints and zigzag ---- */

Test(varint, round_trip_and_limits)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX,
                                    (uint64_t)1 << 63, UINT64_MAX, UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[10];
        size_t n = owl_varint_put(b, vals[i]);
        cr_assert(n >= 1 && n <= 10);
        const uint8_t *p = b;
        uint64_t v;
        cr_assert_eq(owl_varint_get(&p, b + n, &v), OWL_OK);
        cr_assert_eq(v, vals[i]);
        cr_assert_eq(p, b + n);
        /* every truncation fails */
        for (size_t t = 0; t < n; t++) {
            p = b;
            cr_assert_eq(owl_varint_get(&p, b + t, &v), OWL_ECORRUPT);
        }
    }
    uint8_t b[11];
    cr_assert_eq(owl_varint_put(b, UINT64_MAX), 10);
    /* 11 continuation bytes: too long */
    memset(b, 0x80, sizeof b);
    const uint8_t *p = b;
    uint64_t v;
    cr_assert_eq(owl_varint_get(&p, b + 11, &v), OWL_ECORRUPT);
    /* tenth byte carrying bits past 64 */
    memset(b, 0xff, 9);
    b[9] = 0x02;
    p = b;
    cr_assert_eq(owl_varint_get(&p, b + 10, &v), OWL_ECORRUPT);
    b[9] = 0x01;
    p = b;
    cr_assert_eq(owl_varint_get(&p, b + 10, &v), OWL_OK);
    cr_assert_eq(v, UINT64_MAX);
}

/* owl_varint_read (the inline reader of decoders' loops, one load for up to 8 bytes) reads
 * what owl_varint_get reads, whatever bytes follow: every length 1..10 at every bit width,
 * overlong forms, too-long and over-64-bit forms, and ends closer than 10 bytes. */
Test(varint, inline_reader_agrees)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint8_t b[24];
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)(x >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
        unsigned width = round % 65;
        uint64_t val = width == 64 ? x : x & ((1ull << width) - 1);
        size_t n = round % 3 == 0 ? owl_varint_put(b, val) : 0;
        if (round % 3 == 1) /* an overlong or arbitrary form: continuation bits as they fall */
            n = 1 + round % 12;
        size_t len = round % 5 == 0 ? n + (size_t)(x >> 60) % 3 : sizeof b;
        if (len > sizeof b)
            len = sizeof b;
        const uint8_t *p1 = b, *p2 = b;
        uint64_t v1 = 0, v2 = 0;
        int r1 = owl_varint_get(&p1, b + len, &v1);
        int r2 = owl_varint_read(&p2, b + len, &v2);
        cr_assert_eq(r1, r2, "round %d", round);
        if (r1 == OWL_OK) {
            cr_assert_eq(v1, v2, "round %d: %llx != %llx", round, (unsigned long long)v1,
                         (unsigned long long)v2);
            cr_assert_eq(p1, p2, "round %d", round);
        }
        if (round % 3 == 0 && len >= n) {
            cr_assert_eq(r2, OWL_OK);
            cr_assert_eq(v2, val);
            cr_assert_eq(p2, b + n);
        }
    }
}

Test(varint, zigzag)
{
    static const int64_t vals[] = {0, -1, 1, -2, 2, INT64_MIN, INT64_MAX, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        cr_assert_eq(owl_unzigzag(owl_zigzag(vals[i])), vals[i]);
    cr_assert_eq(owl_zigzag(0), 0);
    cr_assert_eq(owl_zigzag(-1), 1);
    cr_assert_eq(owl_zigzag(1), 2);
    cr_assert_eq(owl_zigzag(INT64_MIN), UINT64_MAX);
}

/* ---- corrupt-input sweeps shared by every decoder ---- */

typedef int (*dec_fn)(const uint8_t *p, size_t len, size_t n, void *out);

static int dec_i64_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_i64(p, len, n, out);
}
/* three int64s a value, as owl_dec_i64_stride fills part.c's cells (two apart) */
static int dec_i64_wide_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_i64_stride(p, len, n, out, 3);
}
static int dec_f64_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_f64(p, len, n, out);
}
static int dec_str_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_str(p, len, n, out);
}
static int dec_fixed8_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_fixed(p, len, 8, n, (const uint8_t **)out);
}
static int dec_fixed16_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_fixed(p, len, 16, n, (const uint8_t **)out);
}

/* Feeds every truncation, every single-byte flip (two masks), and wrong row counts; each must
 * return OWL_OK or OWL_ECORRUPT and never touch memory outside the input (ASan build). */
static void sweep(dec_fn dec, const uint8_t *enc, size_t len, size_t n, size_t out_size)
{
    void *out = malloc(out_size * (n + 2) + 1);
    cr_assert_not_null(out);
    for (size_t t = 0; t < len; t++) {
        uint8_t *c = exact_copy(enc, t);
        int rc = dec(c, t, n, out);
        cr_assert(rc == OWL_ECORRUPT || rc == OWL_OK, "truncate %zu rc %d", t, rc);
        /* a proper prefix never decodes to the same row count when it loses bytes */
        cr_assert_eq(rc, OWL_ECORRUPT, "truncate %zu accepted", t);
        free(c);
    }
    static const uint8_t masks[] = {0xff, 0x01, 0x80};
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            uint8_t *c = exact_copy(enc, len);
            c[i] ^= masks[m];
            int rc = dec(c, len, n, out);
            cr_assert(rc == OWL_ECORRUPT || rc == OWL_OK, "flip %zu rc %d", i, rc);
            free(c);
        }
    }
    /* CONST does not store its row count; every other encoding does */
    uint8_t *c = exact_copy(enc, len);
    if (len == 0 || enc[0] != OWL_ENC_CONST) {
        cr_assert_eq(dec(c, len, n + 1, out), OWL_ECORRUPT);
        if (n > 0)
            cr_assert_eq(dec(c, len, n - 1, out), OWL_ECORRUPT);
    }
    free(c);
    /* one trailing byte too many */
    c = malloc(len + 1);
    memcpy(c, enc, len);
    c[len] = 0;
    cr_assert_eq(dec(c, len + 1, n, out), OWL_ECORRUPT);
    free(c);
    free(out);
}

/* ---- 64-bit integers ---- */

/* Encodes v, checks the chosen encoding (0 = any), decodes, compares, sweeps corruptions;
 * the same with owl_dec_i64_stride, whose gaps stay untouched; returns the encoded size. */
static size_t rt_i64(const int64_t *v, size_t n, int want)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_i64(v, n, &b), OWL_OK);
    cr_assert(b.len >= 1);
    if (want)
        cr_assert_eq((uint8_t)b.data[0], want, "n=%zu chose %d, wanted %d", n, b.data[0], want);
    cr_assert(b.len <= 1 + 8 * n, "never larger than raw");
    int64_t *out = calloc(n + 1, sizeof *out);
    uint8_t *c = exact_copy(b.data, b.len);
    cr_assert_eq(owl_dec_i64(c, b.len, n, out), OWL_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(out[i], v[i], "i=%zu %lld != %lld", i, (long long)out[i], (long long)v[i]);
    int64_t *wide = malloc((3 * n + 1) * sizeof *wide);
    memset(wide, 0x5a, (3 * n + 1) * sizeof *wide);
    int64_t gap = wide[3 * n];
    cr_assert_eq(owl_dec_i64_stride(c, b.len, n, wide, 3), OWL_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert(wide[3 * i] == v[i] && wide[3 * i + 1] == gap && wide[3 * i + 2] == gap,
                  "stride 3, i=%zu", i);
    if (n <= 512) {
        sweep(dec_i64_cb, c, b.len, n, sizeof(int64_t));
        sweep(dec_i64_wide_cb, c, b.len, n, 3 * sizeof(int64_t));
    }
    size_t len = b.len;
    free(c);
    free(out);
    free(wide);
    owl_buf_free(&b);
    return len;
}

Test(i64, empty_and_single)
{
    cr_assert_eq(rt_i64(NULL, 0, OWL_ENC_I64RAW), 1);
    /* zigzag(INT64_MIN) takes 10 bytes: raw is smaller for one value, CONST for two */
    int64_t one[] = {INT64_MIN, INT64_MIN};
    rt_i64(one, 1, OWL_ENC_I64RAW);
    rt_i64(one, 2, OWL_ENC_CONST);
    int64_t one2[] = {42};
    cr_assert_eq(rt_i64(one2, 1, OWL_ENC_CONST), 2);
}

Test(i64, constant)
{
    int64_t v[1000];
    for (size_t i = 0; i < 1000; i++)
        v[i] = 1700000000000000000ll;
    cr_assert_leq(rt_i64(v, 1000, OWL_ENC_CONST), 11);
    for (size_t i = 0; i < 1000; i++)
        v[i] = INT64_MAX;
    rt_i64(v, 1000, OWL_ENC_CONST);
}

Test(i64, extremes)
{
    int64_t v[] = {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX, 0, -1, INT64_MIN, 1, INT64_MAX,
                   INT64_MAX, INT64_MIN};
    rt_i64(v, sizeof v / sizeof v[0], 0);
    int64_t alt[64];
    for (size_t i = 0; i < 64; i++)
        alt[i] = (i & 1) ? INT64_MAX : INT64_MIN;
    rt_i64(alt, 64, 0);
    /* the alternating deltas are constant in size: second order wins once d repeats */
    int64_t two[] = {INT64_MAX, INT64_MIN};
    rt_i64(two, 2, 0);
}

/* Regular timestamps: a constant delta is DFOR of width 0 (a few bytes for the block), a
 * jittered one DFOR of the jitter's width; a period broken by rare gaps stays DOD (zeros but
 * for the gaps, which would widen every packed delta). */
Test(i64, regular_timestamps_choose_dfor_or_dod)
{
    enum { N = 4096 };
    int64_t *v = malloc(N * sizeof *v);
    /* a 10 s scrape interval in ms */
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000ll + (int64_t)i * 10000;
    cr_assert_leq(rt_i64(v, N, OWL_ENC_DFOR), 16);
    /* ns with jitter of up to a microsecond around a 1 ms period: 11-bit deltas */
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000000000ll + (int64_t)i * 1000000 + (int64_t)(rnd() % 1000);
    size_t sz = rt_i64(v, N, OWL_ENC_DFOR);
    cr_assert_leq(sz, 32 + (N - 1) * 11 / 8, "jittered ns timestamps take %zu bytes", sz);
    /* 1 ms apart, an hour's gap every 1000 rows */
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000000000ll + (int64_t)i * 1000000 + (int64_t)(i / 1000) * 3600000000000ll;
    sz = rt_i64(v, N, OWL_ENC_DOD);
    cr_assert_lt(sz, N + 64);
    free(v);
}

Test(i64, sorted_ints_choose_delta)
{
    enum { N = 2000 };
    int64_t *v = malloc(N * sizeof *v);
    /* mostly small steps with occasional jumps: each jump costs DOD twice (up, then down) */
    int64_t x = -5000000;
    for (size_t i = 0; i < N; i++) {
        x += (int64_t)(rnd() % 10 ? rnd() % 32 : rnd() % 10000);
        v[i] = x;
    }
    rt_i64(v, N, OWL_ENC_DELTA);
    free(v);
}

Test(i64, random_chooses_raw)
{
    enum { N = 1000 };
    int64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)rnd();
    cr_assert_eq(rt_i64(v, N, OWL_ENC_I64RAW), 1 + 8 * N);
    free(v);
}

Test(i64, small_mixed_sweeps)
{
    /* every decoder path under the full corruption sweep */
    int64_t a[] = {5, 5, 5};
    rt_i64(a, 3, OWL_ENC_CONST);
    int64_t b[] = {1, 2, 4, 7, 11, 16, 22};
    rt_i64(b, 7, 0);
    int64_t c[] = {100, 200, 300, 400, 500, 600};
    rt_i64(c, 6, OWL_ENC_DFOR);
    int64_t dod[] = {0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000,
                     1000000000010000ll, 1000000000011000ll, 1000000000012000ll};
    rt_i64(dod, 14, OWL_ENC_DOD);
    int64_t f[] = {90, 12, 55, 3, 71, 40, 6, 99};
    rt_i64(f, 8, OWL_ENC_FOR);
    int64_t d[] = {-1, 1000000000000ll, -77, INT64_MIN};
    rt_i64(d, 4, 0);
}

/* ---- FOR and DFOR ---- */

/* Columns of the spans table, in 8192-row blocks of rows sorted by trace key: the shapes
 * FOR and DFOR were built for (docs/storage.md, "Parts"). */
enum { SPAN_BLOCK = 8192 };
enum span_shape { SPAN_KEYS, SPAN_TIMES, SPAN_DURATIONS };

static void span_column(enum span_shape shape, int64_t *v, size_t n)
{
    uint64_t k = rnd();
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case SPAN_KEYS: /* uniform keys, sorted: exponential gaps, mean 5e12 */
            v[i] = (int64_t)k;
            k += (uint64_t)(-5e12 * log((double)((rnd() >> 11) + 1) / 9007199254740992.0));
            break;
        case SPAN_TIMES: /* ns start times anywhere in one day: key order is no time order */
            v[i] = 1700000000000000000ll + (int64_t)(rnd() % 86400000000000ull);
            break;
        case SPAN_DURATIONS: /* ns, up to 50 ms */
            v[i] = (int64_t)(rnd() % 50000000);
            break;
        }
    }
}

/* Appends v[0..n) as a DELTA chunk built with the varint helpers: what owl_enc_i64 wrote for
 * the span shapes before FOR and DFOR. */
static void delta_chunk(const int64_t *v, size_t n, owl_buf *b)
{
    cr_assert_eq(owl_buf_reserve(b, 1 + 10 * n), OWL_OK);
    uint8_t *s = (uint8_t *)b->data + b->len, *o = s;
    *o++ = OWL_ENC_DELTA;
    o = owl_varint_write(o, owl_zigzag(v[0]));
    for (size_t i = 1; i < n; i++)
        o = owl_varint_write(o, owl_zigzag((int64_t)((uint64_t)v[i] - (uint64_t)v[i - 1])));
    b->len += (size_t)(o - s);
}

/* A value whose varint takes exactly len (1..10) bytes, its bits drawn from r. */
static uint64_t value_of_len(unsigned len, uint64_t r)
{
    if (len == 10)
        return r | (uint64_t)1 << 63;
    uint64_t top = (uint64_t)1 << (7 * (len - 1));
    return len == 1 ? r & 0x7f : top | (r & ((top << 7) - 1));
}

/* Varints of every length 1..10 ending 0..12 bytes before the end of an exact heap copy, so
 * that owl_varint_read takes its one-load path (8 bytes in hand) and its checked one (fewer,
 * or a 9- and 10-byte varint) at every boundary; whatever byte follows (continuation bit set
 * or clear), both agree with owl_varint_get, DELTA chunks ending in each decode, and every
 * truncation, a 10th byte over 1, a trailing byte and a count one too many fail. */
Test(varint, every_length_at_every_end)
{
    static const uint8_t fill[] = {0x00, 0x7f, 0x80, 0xff};
    for (unsigned len = 1; len <= 10; len++) {
        for (size_t tail = 0; tail <= 12; tail++) {
            for (size_t f = 0; f < sizeof fill; f++) {
                uint8_t b[32];
                uint64_t val = value_of_len(len, rnd());
                cr_assert_eq(owl_varint_put(b, val), len);
                memset(b + len, fill[f], tail);
                uint8_t *c = exact_copy(b, len + tail);
                const uint8_t *p = c;
                uint64_t v = 0;
                cr_assert_eq(owl_varint_read(&p, c + len + tail, &v), OWL_OK);
                cr_assert_eq(v, val, "len %u tail %zu", len, tail);
                cr_assert_eq(p, c + len);
                /* cut anywhere inside: the reader stops at the end */
                for (size_t cut = 0; cut < len; cut++) {
                    p = c;
                    cr_assert_eq(owl_varint_read(&p, c + cut, &v), OWL_ECORRUPT);
                }
                /* the continuation bit of the last byte set: the varint runs on into the
                 * fill, or past 10 bytes, or past the end */
                c[len - 1] |= 0x80;
                const uint8_t *p1 = c, *p2 = c;
                uint64_t v1 = 0, v2 = 0;
                int r1 = owl_varint_get(&p1, c + len + tail, &v1);
                cr_assert_eq(owl_varint_read(&p2, c + len + tail, &v2), r1);
                if (r1 == OWL_OK)
                    cr_assert(v1 == v2 && p1 == p2);
                if (tail == 0)
                    cr_assert_eq(r1, OWL_ECORRUPT);
                free(c);
            }
        }
    }
    /* a 10th byte of 2..255 carries bits past 64, wherever the end is */
    for (size_t tail = 0; tail <= 12; tail++) {
        uint8_t b[32];
        memset(b, 0xff, 9);
        memset(b + 10, 0, tail);
        for (unsigned last = 2; last < 256; last += 17) {
            b[9] = (uint8_t)last;
            uint8_t *c = exact_copy(b, 10 + tail);
            const uint8_t *p = c;
            uint64_t v;
            cr_assert_eq(owl_varint_read(&p, c + 10 + tail, &v), OWL_ECORRUPT);
            free(c);
        }
    }
    /* DELTA chunks of 1..12 values of each length: the last varints near the chunk's end */
    for (unsigned len = 1; len <= 10; len++) {
        for (size_t n = 1; n <= 12; n++) {
            int64_t v[12], out[13];
            v[0] = (int64_t)rnd();
            for (size_t i = 1; i < n; i++)
                v[i] = (int64_t)((uint64_t)v[i - 1] +
                                 (uint64_t)owl_unzigzag(value_of_len(len, rnd())));
            owl_buf bd = {0};
            delta_chunk(v, n, &bd);
            uint8_t *c = exact_copy(bd.data, bd.len);
            cr_assert_eq(owl_dec_i64(c, bd.len, n, out), OWL_OK, "len %u n %zu", len, n);
            cr_assert_arr_eq(out, v, n * sizeof v[0]);
            cr_assert_eq(owl_dec_i64(c, bd.len, n + 1, out), OWL_ECORRUPT);
            for (size_t cut = 1; cut < bd.len; cut++) {
                uint8_t *t = exact_copy(c, cut);
                cr_assert_eq(owl_dec_i64(t, cut, n, out), OWL_ECORRUPT, "cut %zu", cut);
                free(t);
            }
            free(c);
            cr_assert_eq(owl_buf_append(&bd, "", 1), OWL_OK);
            c = exact_copy(bd.data, bd.len);
            cr_assert_eq(owl_dec_i64(c, bd.len, n, out), OWL_ECORRUPT);
            free(c);
            owl_buf_free(&bd);
        }
    }
}

/* A FOR (delta = 0) or DFOR chunk of v[0..n) with the given base and width, built bit by bit
 * apart from encode.c's packer: offsets v[i] - base, or v[i] - v[i-1] - base, least
 * significant bit first. Returns its length; out holds 32 + 8n bytes. */
static size_t ref_packed(int delta, const int64_t *v, size_t n, int64_t base, unsigned w,
                         uint8_t *out)
{
    uint8_t *o = out;
    *o++ = delta ? OWL_ENC_DFOR : OWL_ENC_FOR;
    o += owl_varint_put(o, n);
    if (delta)
        o += owl_varint_put(o, owl_zigzag(v[0]));
    o += owl_varint_put(o, owl_zigzag(base));
    *o++ = (uint8_t)w;
    size_t m = n - (size_t)delta, bytes = (m * w + 7) / 8;
    memset(o, 0, bytes);
    for (size_t i = 0; i < m; i++) {
        uint64_t x = (uint64_t)v[i + delta] - (delta ? (uint64_t)v[i] : 0) - (uint64_t)base;
        for (unsigned b = 0; b < w; b++) {
            size_t bit = i * w + b;
            if (x >> b & 1)
                o[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
    }
    return (size_t)(o - out) + bytes;
}

/* A base that keeps base + (an offset of w bits) inside int64, so that it is the least value
 * as the encoder finds it: anything from -2^(63-w) to 0, INT64_MIN from w = 63 on. */
static int64_t ref_base(unsigned w)
{
    return w >= 63 ? INT64_MIN : -(int64_t)(rnd() >> (w + 1));
}

/* m offsets of exactly w bits: random, the first 0 and the last all ones (m >= 2). */
static void ref_offsets(uint64_t *x, size_t m, unsigned w)
{
    uint64_t mask = w == 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1;
    for (size_t i = 0; i < m; i++)
        x[i] = rnd() & mask;
    x[0] = 0;
    if (m >= 2)
        x[m - 1] = mask;
}

/* Every width 0..64 for FOR and DFOR at n = 1, 2, 7, 8, 9, 8192 (every last-byte fill and
 * the 8-byte loads' safe tail): the reference chunk decodes to the values, survives the
 * corruption sweep (small n), and for a full block of widths 1..63 is exactly what the
 * encoder writes, as it must choose FOR for FOR-shaped values and DFOR for DFOR-shaped. */
Test(i64, for_dfor_every_width)
{
    static const size_t ns[] = {1, 2, 7, 8, 9, 8192};
    int64_t *v = malloc(8192 * sizeof *v), *out = malloc(8193 * sizeof *out);
    uint64_t *x = malloc(8192 * sizeof *x);
    uint8_t *chunk = malloc(32 + 8 * 8192);
    owl_buf b = OWL_BUF_INIT;
    for (unsigned w = 0; w <= 64; w++) {
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            size_t n = ns[k];
            for (int delta = 0; delta <= 1; delta++) {
                if (delta && n < 2)
                    continue; /* DFOR holds two values at least */
                int64_t base = ref_base(w);
                ref_offsets(x, n - (size_t)delta, w);
                if (delta) {
                    v[0] = (int64_t)rnd();
                    for (size_t i = 1; i < n; i++)
                        v[i] = (int64_t)((uint64_t)v[i - 1] + (uint64_t)base + x[i - 1]);
                } else {
                    for (size_t i = 0; i < n; i++)
                        v[i] = (int64_t)((uint64_t)base + x[i]);
                }
                size_t len = ref_packed(delta, v, n, base, w, chunk);
                uint8_t *c = exact_copy(chunk, len);
                memset(out, 0x5a, (n + 1) * sizeof *out);
                cr_assert_eq(owl_dec_i64(c, len, n, out), OWL_OK, "w %u n %zu delta %d", w, n,
                             delta);
                cr_assert_eq(memcmp(out, v, n * sizeof *v), 0, "w %u n %zu delta %d", w, n, delta);
                cr_assert_eq(out[n], 0x5a5a5a5a5a5a5a5all, "nothing written past n");
                if (n <= 9)
                    sweep(dec_i64_cb, c, len, n, sizeof(int64_t));
                free(c);
                if (n == 8192 && w >= 1 && w <= 63) {
                    owl_buf_reset(&b);
                    cr_assert_eq(owl_enc_i64(v, n, &b), OWL_OK);
                    cr_assert_eq(b.len, len, "w %u delta %d: %zu bytes, reference %zu", w,
                                 delta, b.len, len);
                    cr_assert_eq(memcmp(b.data, chunk, len), 0, "w %u delta %d", w, delta);
                }
            }
        }
    }
    owl_buf_free(&b);
    free(chunk);
    free(x);
    free(out);
    free(v);
}

/* The spans table's columns (bench/span_columns_1m): sorted trace keys take DFOR, start
 * times and durations FOR, each smaller than DELTA; keys that cross 2^63 (as int64 they wrap
 * from INT64_MAX to INT64_MIN) are small deltas all the same. */
Test(i64, span_columns_choose_for_dfor)
{
    static const int want[] = {OWL_ENC_DFOR, OWL_ENC_FOR, OWL_ENC_FOR};
    static const double most[] = {6.0, 6.0, 3.5}; /* bytes a value: 46, 47, 26 bits */
    int64_t *v = malloc(SPAN_BLOCK * sizeof *v);
    owl_buf d = OWL_BUF_INIT;
    for (int shape = SPAN_KEYS; shape <= SPAN_DURATIONS; shape++) {
        span_column(shape, v, SPAN_BLOCK);
        size_t len = rt_i64(v, SPAN_BLOCK, want[shape]);
        owl_buf_reset(&d);
        delta_chunk(v, SPAN_BLOCK, &d);
        cr_assert_lt(len, d.len, "shape %d: %zu bytes, DELTA %zu", shape, len, d.len);
        cr_assert_lt((double)len / SPAN_BLOCK, most[shape], "shape %d: %zu bytes", shape, len);
    }
    uint64_t k = UINT64_C(0x7fffffffffff0000);
    for (size_t i = 0; i < SPAN_BLOCK; i++, k += 1 + rnd() % 40)
        v[i] = (int64_t)k;
    cr_assert_lt(v[SPAN_BLOCK - 1], 0, "the keys cross 2^63");
    cr_assert_lt(rt_i64(v, SPAN_BLOCK, OWL_ENC_DFOR), 32 + SPAN_BLOCK * 6 / 8);
    owl_buf_free(&d);
    free(v);
}

/* The encoder guesses from its first 64 values whether DELTA will win, to write it while it
 * surveys the rest; a wrong guess either way still ends in the smallest encoding. */
Test(i64, first_values_mislead)
{
    enum { N = 2000 };
    int64_t *v = malloc(N * sizeof *v);
    int64_t x = 0;
    for (size_t i = 0; i < N; i++) { /* small steps and a rare jump, then 20-bit noise */
        x += i % 50 == 49 ? 1000000 : (int64_t)(rnd() % 8);
        v[i] = i < 64 ? x : (int64_t)(rnd() % 1000000);
    }
    rt_i64(v, N, OWL_ENC_FOR);
    for (size_t i = 0; i < N; i++) { /* 20-bit noise, then small steps and a rare jump */
        x += i % 50 == 49 ? 1000000 : (int64_t)(rnd() % 8);
        v[i] = i < 64 ? (int64_t)(rnd() % 1000000) : x;
    }
    rt_i64(v, N, OWL_ENC_DELTA);
    for (size_t i = 0; i < N; i++) { /* the same steps throughout: guessed and written */
        x += i % 50 == 49 ? 1000000 : (int64_t)(rnd() % 8);
        v[i] = x;
    }
    rt_i64(v, N, OWL_ENC_DELTA);
    free(v);
}

/* Extremes: INT64_MIN / INT64_MAX next to each other (deltas wrapping both ways), all of the
 * 64-bit range in one block, and every short length; whatever is chosen decodes back. */
Test(i64, packed_extremes_and_wrapping)
{
    int64_t alt[64];
    for (size_t i = 0; i < 64; i++) /* deltas +1 and -1, wrapped: 2-bit DFOR */
        alt[i] = (i & 1) ? INT64_MIN : INT64_MAX;
    rt_i64(alt, 64, OWL_ENC_DFOR);
    for (size_t i = 0; i < 64; i++) /* the two ends and their neighbours: FOR of 64 bits */
        alt[i] = i % 4 == 0 ? INT64_MIN : i % 4 == 1 ? INT64_MAX : i % 4 == 2 ? INT64_MIN + 1 : INT64_MAX - 1;
    rt_i64(alt, 64, 0);
    for (size_t i = 0; i < 64; i++) /* near INT64_MAX: a few bits above a base far from 0 */
        alt[i] = INT64_MAX - (int64_t)(rnd() % 1000);
    rt_i64(alt, 64, OWL_ENC_FOR);
    for (size_t i = 0; i < 64; i++)
        alt[i] = INT64_MIN + (int64_t)(rnd() % 1000);
    rt_i64(alt, 64, OWL_ENC_FOR);
    static const size_t ns[] = {1, 2, 7, 8, 9};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        for (size_t i = 0; i < ns[k]; i++)
            alt[i] = (int64_t)(rnd() % 5000) - 2500;
        rt_i64(alt, ns[k], 0);
    }
}

/* What no encoder writes, refused: a width past 64, a row count other than the caller's,
 * an overlong varint, bits set past the last value, bytes where width 0 has none, DFOR of
 * one value, FOR of none, a header cut before its width, and counts whose packed size would
 * overflow. Each without writing past what the caller gave. */
Test(i64, packed_rejects_corrupt)
{
    int64_t out[8];
    uint8_t w65[] = {OWL_ENC_FOR, 1, 0, 65, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(owl_dec_i64(w65, sizeof w65, 1, out), OWL_ECORRUPT);
    uint8_t w64[] = {OWL_ENC_FOR, 1, 0, 64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(owl_dec_i64(w64, sizeof w64, 1, out), OWL_OK);
    cr_assert_eq(out[0], -1);
    uint8_t three[] = {OWL_ENC_FOR, 3, 4, 8, 1, 2, 3}; /* base 2: 3, 4, 5 */
    cr_assert_eq(owl_dec_i64(three, sizeof three, 2, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_i64(three, sizeof three, 4, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_i64(three, sizeof three, 3, out), OWL_OK);
    cr_assert(out[0] == 3 && out[1] == 4 && out[2] == 5);
    uint8_t longv[] = {OWL_ENC_FOR, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                       0x80, 0x80, 0x00, 0};
    cr_assert_eq(owl_dec_i64(longv, sizeof longv, 1, out), OWL_ECORRUPT);
    uint8_t pad[] = {OWL_ENC_FOR, 1, 0, 4, 0x1f}; /* bit 4 is past the 4-bit value */
    cr_assert_eq(owl_dec_i64(pad, sizeof pad, 1, out), OWL_ECORRUPT);
    pad[4] = 0x0f;
    cr_assert_eq(owl_dec_i64(pad, sizeof pad, 1, out), OWL_OK);
    cr_assert_eq(out[0], 15);
    uint8_t w0[] = {OWL_ENC_DFOR, 4, 2, 6, 0, 0}; /* v0 1, deltas 3: one byte too many */
    cr_assert_eq(owl_dec_i64(w0, sizeof w0, 4, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_i64(w0, sizeof w0 - 1, 4, out), OWL_OK);
    cr_assert(out[0] == 1 && out[1] == 4 && out[2] == 7 && out[3] == 10);
    uint8_t dfor1[] = {OWL_ENC_DFOR, 1, 2, 0, 0};
    cr_assert_eq(owl_dec_i64(dfor1, sizeof dfor1, 1, out), OWL_ECORRUPT);
    uint8_t for0[] = {OWL_ENC_FOR, 0, 0, 0};
    cr_assert_eq(owl_dec_i64(for0, sizeof for0, 0, out), OWL_ECORRUPT);
    uint8_t cut[] = {OWL_ENC_FOR, 1, 0};
    cr_assert_eq(owl_dec_i64(cut, sizeof cut, 1, out), OWL_ECORRUPT);
    /* 2^61 values of 64 bits, and 2^60 + 1 of 8, in 8 bytes: refused before any arithmetic
     * on n * w could wrap, and before anything is written to the 8 slots of out */
    uint8_t huge[] = {OWL_ENC_FOR, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 64,
                      0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(owl_dec_i64(huge, sizeof huge, (size_t)1 << 61, out), OWL_ECORRUPT);
    uint8_t huge8[] = {OWL_ENC_FOR, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 8,
                       0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(owl_dec_i64(huge8, sizeof huge8, ((size_t)1 << 60) + 1, out), OWL_ECORRUPT);
}

Test(i64, decoder_rejects_bad_headers)
{
    int64_t out[4];
    uint8_t unknown[] = {0x09, 0, 0};
    cr_assert_eq(owl_dec_i64(unknown, 3, 1, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_i64(unknown, 0, 0, out), OWL_ECORRUPT);
    uint8_t f64raw[] = {OWL_ENC_F64RAW, 1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_eq(owl_dec_i64(f64raw, sizeof f64raw, 1, out), OWL_ECORRUPT);
    /* DOD needs at least two values; CONST and DELTA at least one */
    uint8_t dod1[] = {OWL_ENC_DOD, 2};
    cr_assert_eq(owl_dec_i64(dod1, 2, 1, out), OWL_ECORRUPT);
    uint8_t konst0[] = {OWL_ENC_CONST, 2};
    cr_assert_eq(owl_dec_i64(konst0, 2, 0, out), OWL_ECORRUPT);
    /* a count far beyond what the bytes could hold fails before writing */
    uint8_t delta[] = {OWL_ENC_DELTA, 2, 2};
    cr_assert_eq(owl_dec_i64(delta, 3, SIZE_MAX, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_i64(delta, 3, 2, out), OWL_OK);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
    /* raw: n*8 must not wrap */
    uint8_t raw[9] = {OWL_ENC_I64RAW};
    cr_assert_eq(owl_dec_i64(raw, 9, ((size_t)1 << 61) + 1, out), OWL_ECORRUPT);
    /* an 11-byte varint */
    uint8_t longv[] = {OWL_ENC_CONST, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                       0x80, 0x00};
    cr_assert_eq(owl_dec_i64(longv, sizeof longv, 1, out), OWL_ECORRUPT);
}

/* ---- doubles ---- */

static void rt_f64(const double *v, size_t n, int want)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_f64(v, n, &b), OWL_OK);
    if (want)
        cr_assert_eq((uint8_t)b.data[0], want);
    double *out = calloc(n + 1, sizeof *out);
    uint8_t *c = exact_copy(b.data, b.len);
    cr_assert_eq(owl_dec_f64(c, b.len, n, out), OWL_OK);
    cr_assert(n == 0 || memcmp(out, v, n * sizeof *v) == 0, "bit patterns survive");
    if (n <= 256)
        sweep(dec_f64_cb, c, b.len, n, sizeof(double));
    free(c);
    free(out);
    owl_buf_free(&b);
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

Test(f64, special_values)
{
    double v[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, from_bits(0x7ff0000000000001ull),
                  from_bits(0xfff8dead0000beefull), 1e-310, -1.5, 1.7976931348623157e308,
                  4.9e-324};
    rt_f64(v, sizeof v / sizeof v[0], 0); /* whichever is smallest; bit patterns survive */
    rt_f64(NULL, 0, OWL_ENC_F64RAW);
    double one[] = {-0.0, -0.0};
    rt_f64(one, 1, OWL_ENC_F64RAW);
    rt_f64(one, 2, OWL_ENC_CONST);
    double small[] = {0.0};
    rt_f64(small, 1, OWL_ENC_CONST);
}

Test(f64, constant_only_by_bit_pattern)
{
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = from_bits(0x7ff8000000000123ull);
    rt_f64(v, 100, OWL_ENC_CONST);
    /* 0.0 == -0.0 numerically, but the bits differ: not constant */
    for (int i = 0; i < 100; i++)
        v[i] = (i == 50) ? -0.0 : 0.0;
    rt_f64(v, 100, OWL_ENC_XOR); /* -0.0 is not an integer for F64INT: XOR keeps its bits */
}

/* Time-series doubles: a slow gauge takes XOR, a counter of integers F64INT (its DELTA),
 * random bit patterns stay F64RAW; every one round-trips bit for bit (rt_f64), and the
 * decoders refuse what the encoder would never write. */
Test(f64, xor_and_integers)
{
    enum { N = 1000 };
    double *v = malloc(N * sizeof *v);
    size_t raw = 1 + 8 * N;
    owl_buf b = OWL_BUF_INIT;
    for (int i = 0; i < N; i++)
        v[i] = 50.0 + (i / 10) / 3.0; /* a gauge of thirds: no decimal form, repeats */
    rt_f64(v, N, OWL_ENC_XOR);
    owl_enc_f64(v, N, &b);
    cr_assert(b.len < raw / 3, "XOR %zu bytes vs raw %zu", b.len, raw);
    b.len = 0;
    for (int i = 0; i < N; i++) /* a gauge read to 6 decimals, as exporters print them */
        v[i] = (double)(17174811 + (i * 7919 % 2000) - 1000 + i * 13) / 1e6;
    rt_f64(v, N, OWL_ENC_F64DEC);
    owl_enc_f64(v, N, &b);
    cr_assert_eq((uint8_t)b.data[1], 6, "six decimals");
    cr_assert(b.len < raw / 2, "F64DEC %zu bytes vs raw %zu", b.len, raw);
    b.len = 0;
    for (int i = 0; i < N; i++)
        v[i] = 1000000.0 + i * 17; /* a counter */
    rt_f64(v, N, OWL_ENC_F64INT);
    owl_enc_f64(v, N, &b);
    cr_assert(b.len < N + 16, "F64INT %zu bytes", b.len);
    b.len = 0;
    for (int i = 0; i < N; i++)
        v[i] = i % 2 ? 9007199254740992.0 : 1.0; /* 2^53 is past F64INT's range */
    rt_f64(v, N, 0);
    owl_enc_f64(v, N, &b);
    cr_assert_neq((uint8_t)b.data[0], OWL_ENC_F64INT);
    owl_buf_free(&b);
    double two[2];
    /* XOR: an even significand (not canonical), a shift that loses bits, a shift past 64 */
    uint8_t even[] = {OWL_ENC_XOR, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 1, 2};
    uint8_t lost[] = {OWL_ENC_XOR, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 64, 3};
    uint8_t past[] = {OWL_ENC_XOR, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 65, 1};
    uint8_t extra[] = {OWL_ENC_XOR, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0};
    cr_assert_eq(owl_dec_f64(even, sizeof even, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(lost, sizeof lost, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(past, sizeof past, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(extra, sizeof extra, 2, two), OWL_ECORRUPT);
    uint8_t ok[] = {OWL_ENC_XOR, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0};
    cr_assert_eq(owl_dec_f64(ok, sizeof ok, 2, two), OWL_OK);
    cr_assert(two[0] == 1.0 && two[1] == 1.0);
    /* F64INT: nothing after the id, a nested F64INT, an integer past 2^53 */
    uint8_t empty[] = {OWL_ENC_F64INT};
    uint8_t nested[] = {OWL_ENC_F64INT, OWL_ENC_F64INT, 0};
    uint8_t big[] = {OWL_ENC_F64INT, OWL_ENC_CONST, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    cr_assert_eq(owl_dec_f64(empty, sizeof empty, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(nested, sizeof nested, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(big, sizeof big, 2, two), OWL_ECORRUPT);
    /* F64DEC: scale 0 (that is F64INT) or past 15 */
    uint8_t k0[] = {OWL_ENC_F64DEC, 0, OWL_ENC_CONST, 2};
    uint8_t k16[] = {OWL_ENC_F64DEC, 16, OWL_ENC_CONST, 2};
    uint8_t k2[] = {OWL_ENC_F64DEC, 2, OWL_ENC_CONST, 0x96, 0x01}; /* zz(75) -> 0.75 */
    cr_assert_eq(owl_dec_f64(k0, sizeof k0, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(k16, sizeof k16, 2, two), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(k2, sizeof k2, 2, two), OWL_OK);
    cr_assert(two[0] == 0.75 && two[1] == 0.75, "%g %g", two[0], two[1]);
    free(v);
}

Test(f64, random)
{
    enum { N = 3000 };
    double *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = from_bits(rnd());
    rt_f64(v, N, OWL_ENC_F64RAW);
    free(v);
    uint8_t delta[] = {OWL_ENC_DELTA, 2, 2};
    double out[2];
    cr_assert_eq(owl_dec_f64(delta, 3, 2, out), OWL_ECORRUPT);
}

/* Segments (a clustered block's series): a counter, a gauge read to six decimals, raw
 * doubles with a NaN and a constant run, each encoded its own way; smaller than the block as
 * one, decoded to the same bits, every corruption refused; too short segments: plain. */
Test(f64, segments)
{
    enum { A = 64, B = 80, C = 40, D = 50, N = A + B + C + D };
    double v[N];
    size_t seg[] = {A, B, C, D};
    for (int i = 0; i < A; i++)
        v[i] = 1e6 + i * 37;
    for (int i = 0; i < B; i++)
        v[A + i] = (double)(int64_t)(rnd() % 90000000 + 1000000) / 1e6;
    for (int i = 0; i < C; i++)
        v[A + B + i] = from_bits(rnd() | 1);
    v[A + B + 3] = NAN;
    for (int i = 0; i < D; i++)
        v[A + B + C + i] = 0.25;
    owl_buf seg_b = OWL_BUF_INIT, one_b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_f64_seg(v, N, seg, 4, &seg_b), OWL_OK);
    cr_assert_eq(owl_enc_f64(v, N, &one_b), OWL_OK);
    cr_assert_eq((uint8_t)seg_b.data[0], OWL_ENC_F64SEG);
    cr_assert_lt(seg_b.len, one_b.len, "segmented %zu, as one %zu", seg_b.len, one_b.len);
    double out[N + 1];
    uint8_t *c = exact_copy(seg_b.data, seg_b.len);
    cr_assert_eq(owl_dec_f64(c, seg_b.len, N, out), OWL_OK);
    cr_assert(memcmp(out, v, sizeof v) == 0, "bit patterns survive");
    sweep(dec_f64_cb, c, seg_b.len, N, sizeof(double));
    free(c);
    /* a segment that is itself segmented, and a segment of no rows, are corrupt */
    static const uint8_t nested[] = {OWL_ENC_F64SEG, 2, 1, 5, OWL_ENC_F64SEG, 2, 1, 1, 0,
                                     1, 2, OWL_ENC_CONST, 0};
    static const uint8_t empty[] = {OWL_ENC_F64SEG, 2, 0, 2, OWL_ENC_CONST, 0,
                                    2, 2, OWL_ENC_CONST, 0};
    cr_assert_eq(owl_dec_f64(nested, sizeof nested, 2, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_f64(empty, sizeof empty, 2, out), OWL_ECORRUPT);
    static const uint8_t two[] = {OWL_ENC_F64SEG, 2, 1, 2, OWL_ENC_CONST, 2,
                                  1, 2, OWL_ENC_CONST, 4};
    cr_assert_eq(owl_dec_f64(two, sizeof two, 2, out), OWL_OK);
    /* short segments: the smaller of the two encodings, which decodes the same */
    size_t small[] = {10, 10, 10}, ones[30];
    for (int i = 0; i < 30; i++)
        ones[i] = 1;
    for (int k = 0; k < 2; k++) {
        const double *x = k ? v + A - 10 : v; /* a counter; a counter, then a gauge */
        owl_buf_reset(&seg_b);
        owl_buf_reset(&one_b);
        cr_assert_eq(owl_enc_f64_seg(x, 30, small, 3, &seg_b), OWL_OK);
        cr_assert_eq(owl_enc_f64(x, 30, &one_b), OWL_OK);
        cr_assert_leq(seg_b.len, one_b.len);
        cr_assert_eq(owl_dec_f64((const uint8_t *)seg_b.data, seg_b.len, 30, out), OWL_OK);
        cr_assert(memcmp(out, x, 30 * sizeof *x) == 0);
    }
    owl_buf_reset(&seg_b);
    cr_assert_eq(owl_enc_f64_seg(v, 30, ones, 30, &seg_b), OWL_OK);
    cr_assert_neq((uint8_t)seg_b.data[0], OWL_ENC_F64SEG, "one value a segment: plain");
    owl_buf_free(&seg_b);
    owl_buf_free(&one_b);
}

/* ---- strings ---- */

static size_t rt_str(const owl_strref *v, size_t n, int allow_dict, int want)
{
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_str(v, n, allow_dict, &b), OWL_OK);
    if (want)
        cr_assert_eq((uint8_t)b.data[0], want, "n=%zu chose %d wanted %d", n, b.data[0], want);
    owl_strref *out = calloc(n + 1, sizeof *out);
    uint8_t *c = exact_copy(b.data, b.len);
    cr_assert_eq(owl_dec_str(c, b.len, n, out), OWL_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].n, v[i].n, "row %zu", i);
        cr_assert(out[i].n == 0 || memcmp(out[i].p, v[i].p, v[i].n) == 0, "row %zu", i);
        cr_assert(out[i].n == 0 ||
                  ((const uint8_t *)out[i].p >= c && (const uint8_t *)out[i].p < c + b.len));
    }
    if (b.len <= 2048)
        sweep(dec_str_cb, c, b.len, n, sizeof(owl_strref));
    size_t len = b.len;
    free(c);
    free(out);
    owl_buf_free(&b);
    return len;
}

static owl_strref sref(const char *s)
{
    return (owl_strref){s, (uint32_t)strlen(s)};
}

Test(str, empty_and_edge_strings)
{
    cr_assert_eq(rt_str(NULL, 0, 1, OWL_ENC_STR), 1);
    owl_strref e[] = {{"", 0}, {"", 0}, {"", 0}};
    rt_str(e, 3, 0, OWL_ENC_STR);
    rt_str(e, 3, 1, 0);
    owl_strref nul[] = {{"a\0b", 3}, {"\0", 1}, {"", 0}, {"\0\0\0\0", 4}, {"x", 1}};
    rt_str(nul, 5, 1, 0);
    rt_str(nul, 5, 0, OWL_ENC_STR);
    /* long strings, with a varint length of 3 bytes */
    size_t big = 200000;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++)
        s[i] = (char)rnd();
    owl_strref l[] = {{s, (uint32_t)big}, {"short", 5}, {s + 1, (uint32_t)(big - 1)}};
    rt_str(l, 3, 1, OWL_ENC_STR);
    free(s);
}

Test(str, dict_for_low_cardinality)
{
    enum { N = 4000 };
    static const char *levels[] = {"INFO", "WARN", "ERROR", "DEBUG", "checkout-service"};
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = sref(levels[rnd() % 5]);
    size_t d = rt_str(v, N, 1, OWL_ENC_DICT);
    cr_assert_lt(d, N + 64, "one byte per row plus the dictionary, got %zu", d);
    rt_str(v, N, 0, OWL_ENC_STR);
    owl_strref small[] = {sref("GET"), sref("GET"), sref("POST"), sref("GET"), sref("GET"),
                          sref("POST"), sref(""), sref("")};
    rt_str(small, 8, 1, OWL_ENC_DICT);
    free(v);
}

Test(str, str_for_high_cardinality)
{
    enum { N = 3000 };
    char (*buf)[24] = malloc(N * sizeof *buf);
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "req-%016llx", (unsigned long long)rnd());
        v[i] = sref(buf[i]);
    }
    rt_str(v, N, 1, OWL_ENC_STR);
    /* half distinct, half repeats: still decodes whichever wins */
    for (size_t i = N / 2; i < N; i++)
        v[i] = v[i - N / 2];
    rt_str(v, N, 1, 0);
    free(v);
    free(buf);
}

/* Probing (BSON columns), from 1,024 values on, a first eighth more than three quarters
 * distinct ends the dictionary attempt: STR, even where the rest would have made DICT pay.
 * Fewer values, or no probing, are tried whole. */
Test(str, dict_given_up_on_a_distinct_first_eighth)
{
    enum { N = 4096 };
    char (*buf)[24] = malloc(N * sizeof *buf);
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        if (i < N / 8)
            snprintf(buf[i], sizeof buf[i], "req-%016zx", i);
        else
            snprintf(buf[i], sizeof buf[i], "checkout-%zu", i % 8);
        v[i] = sref(buf[i]);
    }
    rt_str(v, N, OWL_DICT_PROBE, OWL_ENC_STR);
    rt_str(v, N, 1, OWL_ENC_DICT);
    /* the same shape in 1,000 values: tried whole, and DICT pays */
    for (size_t i = 0; i < 1000; i++) {
        if (i < 125)
            snprintf(buf[i], sizeof buf[i], "req-%016zx", i);
        else
            snprintf(buf[i], sizeof buf[i], "checkout-%zu", i % 8);
        v[i] = sref(buf[i]);
    }
    rt_str(v, 1000, OWL_DICT_PROBE, OWL_ENC_DICT);
    /* a first eighth only half distinct: DICT */
    for (size_t i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], i < N / 16 ? "req-%016zx" : "checkout-%zu",
                 i < N / 16 ? i : i % 8);
        v[i] = sref(buf[i]);
    }
    rt_str(v, N, OWL_DICT_PROBE, OWL_ENC_DICT);
    free(v);
    free(buf);
}

Test(str, dict_over_256_uses_varint_indexes)
{
    enum { N = 6000, D = 1000 };
    char (*names)[32] = malloc(D * sizeof *names);
    for (size_t j = 0; j < D; j++)
        snprintf(names[j], sizeof names[j], "service-name-number-%04zu", j);
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = sref(names[i < D ? i : rnd() % D]);
    size_t len = rt_str(v, N, 1, OWL_ENC_DICT);
    cr_assert_lt(len, (size_t)D * 26 + (size_t)N * 2 + 16);
    /* exactly 256 and 257 distinct: the boundary between byte and varint indexes */
    for (size_t d = 256; d <= 257; d++) {
        for (size_t i = 0; i < N; i++)
            v[i] = sref(names[i % d]);
        rt_str(v, N, 1, OWL_ENC_DICT);
    }
    free(v);
    free(names);
}

Test(str, dict_sweep_small)
{
    owl_strref v[] = {sref("alpha"), sref("beta"), sref("alpha"), sref("alpha"), sref("beta"),
                      sref("alpha"), sref("alpha"), sref("beta")};
    rt_str(v, 8, 1, OWL_ENC_DICT);
}

Test(str, corrupt_dicts)
{
    owl_strref out[4];
    /* index >= d */
    uint8_t a[] = {OWL_ENC_DICT, 1, 1, 'x', 0, 1};
    cr_assert_eq(owl_dec_str(a, sizeof a, 2, out), OWL_ECORRUPT);
    a[5] = 0;
    cr_assert_eq(owl_dec_str(a, sizeof a, 2, out), OWL_OK);
    cr_assert_eq(out[1].n, 1);
    /* d larger than the row count */
    uint8_t b[] = {OWL_ENC_DICT, 3, 1, 1, 1, 'x', 'y', 'z', 0, 1};
    cr_assert_eq(owl_dec_str(b, sizeof b, 2, out), OWL_ECORRUPT);
    /* empty dictionary for rows */
    uint8_t c[] = {OWL_ENC_DICT, 0};
    cr_assert_eq(owl_dec_str(c, sizeof c, 1, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_str(c, sizeof c, 0, out), OWL_OK);
    /* lengths summing past the input, and a length >= 2^32 */
    uint8_t d[] = {OWL_ENC_STR, 0x7f, 0x7f, 'a'};
    cr_assert_eq(owl_dec_str(d, sizeof d, 2, out), OWL_ECORRUPT);
    uint8_t e[] = {OWL_ENC_STR, 0x80, 0x80, 0x80, 0x80, 0x10};
    cr_assert_eq(owl_dec_str(e, sizeof e, 1, out), OWL_ECORRUPT);
    /* huge n against a tiny input */
    uint8_t f[] = {OWL_ENC_STR, 0};
    cr_assert_eq(owl_dec_str(f, sizeof f, SIZE_MAX, out), OWL_ECORRUPT);
    cr_assert_eq(owl_dec_str(f, sizeof f, 1, out), OWL_OK);
}

Test(str, corrupt_varint_dict_sweep)
{
    /* > 256 entries: the malloc'd dictionary and varint indexes under every flip */
    enum { N = 600, D = 300 };
    char (*names)[8] = malloc(D * sizeof *names);
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t j = 0; j < D; j++)
        snprintf(names[j], sizeof names[j], "%03zu", j);
    for (size_t i = 0; i < N; i++)
        v[i] = (owl_strref){names[i % D], 3};
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_str(v, N, 1, &b), OWL_OK);
    cr_assert_eq((uint8_t)b.data[0], OWL_ENC_DICT);
    sweep(dec_str_cb, (const uint8_t *)b.data, b.len, N, sizeof(owl_strref));
    owl_buf_free(&b);
    free(v);
    free(names);
}

/* ---- fixed width ---- */

Test(fixed, widths_8_and_16)
{
    for (size_t width = 8; width <= 16; width += 8) {
        enum { N = 100 };
        uint8_t vals[N * 16];
        for (size_t i = 0; i < sizeof vals; i++)
            vals[i] = (uint8_t)rnd();
        owl_buf b = OWL_BUF_INIT;
        cr_assert_eq(owl_enc_fixed(vals, width, N, &b), OWL_OK);
        cr_assert_eq((uint8_t)b.data[0], OWL_ENC_FIXED);
        cr_assert_eq(b.len, 2 + N * width);
        const uint8_t *out = NULL;
        uint8_t *c = exact_copy(b.data, b.len);
        cr_assert_eq(owl_dec_fixed(c, b.len, width, N, &out), OWL_OK);
        cr_assert_eq(memcmp(out, vals, N * width), 0);
        cr_assert_eq(owl_dec_fixed(c, b.len, width == 8 ? 16 : 8, N, &out), OWL_ECORRUPT);
        cr_assert_eq(owl_dec_fixed(c, b.len, width, N + 1, &out), OWL_ECORRUPT);
        sweep(width == 8 ? dec_fixed8_cb : dec_fixed16_cb, c, b.len, N, sizeof(void *));
        free(c);
        owl_buf_free(&b);
        /* empty */
        cr_assert_eq(owl_enc_fixed(NULL, width, 0, &b), OWL_OK);
        cr_assert_eq(owl_dec_fixed((const uint8_t *)b.data, b.len, width, 0, &out), OWL_OK);
        owl_buf_free(&b);
    }
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_fixed((const uint8_t *)"x", 0, 1, &b), OWL_EINVAL);
    uint8_t w[] = {OWL_ENC_FIXED, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    const uint8_t *out;
    cr_assert_eq(owl_dec_fixed(w, sizeof w, 8, 0, &out), OWL_ECORRUPT);
    owl_buf_free(&b);
}

/* ---- ids as references (IDREF) ---- */

/* The referenced column's cells the sweep's decoder is given (NULL: none). */
static const owl_cell *sweep_refs;

static int dec_idref8_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_idref(p, len, 8, n, sweep_refs, out);
}
static int dec_idref16_cb(const uint8_t *p, size_t len, size_t n, void *out)
{
    return owl_dec_idref(p, len, 16, n, sweep_refs, out);
}

/* Encodes the n ids of `width` bytes at v (ref: NULL or n ids of column 3), checks the
 * encoding chosen and that it is never larger than FIXED, decodes into cells (which must
 * point inside the chunk or at ref's rows), compares, sweeps corruptions; returns the
 * encoded size. */
static size_t rt_id(const uint8_t *v, size_t width, size_t n, const uint8_t *ref, int want)
{
    owl_idref_enc e = {0};
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_enc_id(&e, v, width, n, ref, 3, &b), OWL_OK);
    cr_assert_eq((uint8_t)b.data[0], want, "n=%zu chose %d, wanted %d", n, b.data[0], want);
    cr_assert(b.len <= 2 + n * width, "%zu bytes: larger than FIXED", b.len);
    uint8_t *c = exact_copy(b.data, b.len);
    owl_cell *refs = calloc(n + 1, sizeof *refs), *out = calloc(n + 1, sizeof *out);
    for (size_t j = 0; ref && j < n; j++)
        refs[j].b = (owl_bytes){ref + j * width, width};
    if (want == OWL_ENC_FIXED) {
        const uint8_t *fx;
        cr_assert_eq(owl_dec_fixed(c, b.len, width, n, &fx), OWL_OK);
        cr_assert_eq(memcmp(fx, v, n * width), 0);
    } else {
        size_t k;
        cr_assert_eq(owl_idref_ref(c, b.len, &k), OWL_OK);
        cr_assert_eq(k, ref ? 3 : SIZE_MAX);
        cr_assert_eq(owl_dec_idref(c, b.len, width, n, ref ? refs : NULL, out), OWL_OK);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = out[i].b.p;
            int in_chunk = q >= c && q + width <= c + b.len;
            int in_ref = ref && q >= ref && q + width <= ref + n * width &&
                         (size_t)(q - ref) % width == 0;
            cr_assert(in_chunk || in_ref, "row %zu points outside", i);
            cr_assert_eq(out[i].b.n, width);
            cr_assert_eq(memcmp(q, v + i * width, width), 0, "row %zu", i);
        }
        cr_assert_eq(owl_dec_idref(c, b.len, width == 8 ? 16 : 8, n, refs, out), OWL_ECORRUPT);
        if (ref)
            cr_assert_eq(owl_dec_idref(c, b.len, width, n, NULL, out), OWL_ECORRUPT);
        if (n <= 600) {
            sweep_refs = ref ? refs : NULL;
            sweep(width == 8 ? dec_idref8_cb : dec_idref16_cb, c, b.len, n, sizeof(owl_cell));
        }
    }
    size_t len = b.len;
    free(c);
    free(refs);
    free(out);
    owl_buf_free(&b);
    owl_idref_enc_free(&e);
    return len;
}

/* Trace ids as a clustered spans block holds them: runs of one random id each. */
Test(idref, self_runs)
{
    for (size_t width = 8; width <= 16; width += 8) {
        enum { N = 500 };
        uint8_t *v = malloc(N * width);
        for (size_t i = 0; i < N;) {
            size_t run = 1 + rnd() % 40;
            for (size_t k = 0; k < width; k++)
                v[i * width + k] = (uint8_t)rnd();
            for (size_t r = 1; r < run && i + r < N; r++)
                memcpy(v + (i + r) * width, v + i * width, width);
            i += run;
        }
        size_t len = rt_id(v, width, N, NULL, OWL_ENC_IDREF);
        cr_assert_lt(len, N * width / 4, "%zu bytes", len);
        /* one run of the whole block: a literal, then a run token of N - 1 rows */
        for (size_t i = 1; i < N; i++)
            memcpy(v + i * width, v, width);
        cr_assert_eq(rt_id(v, width, N, NULL, OWL_ENC_IDREF), 4 + 1 + 2 + width);
        free(v);
    }
}

/* Parent ids: mostly another row's span id, before or after the row, near or far; roots
 * zero (an earlier root's value); some parents outside the block (literals). */
Test(idref, cross_refs_and_mixes)
{
    enum { N = 4000 };
    uint8_t *span = malloc(N * 8), *parent = malloc(N * 8);
    for (size_t i = 0; i < N * 8; i++)
        span[i] = (uint8_t)rnd();
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rnd() % 100;
        if (r < 10)
            memset(parent + i * 8, 0, 8);
        else if (r < 15)
            for (size_t k = 0; k < 8; k++)
                parent[i * 8 + k] = (uint8_t)rnd();
        else {
            int64_t d = r < 90 ? (int64_t)(rnd() % 21) - 10 : (int64_t)(rnd() % 2001) - 1000;
            int64_t j = (int64_t)i + d;
            j = j < 0 ? 0 : j >= N ? N - 1 : j;
            memcpy(parent + i * 8, span + j * 8, 8);
        }
    }
    size_t len = rt_id(parent, 8, N, span, OWL_ENC_IDREF);
    cr_assert_lt(len, N * 3, "%zu bytes", len);
    /* without the reference column only repeats (zeros, a parent of several) are */
    cr_assert_gt(rt_id(parent, 8, N, NULL, OWL_ENC_IDREF), len);
    /* small blocks, swept for corruptions: rows before and after, the first and last */
    for (size_t n = 2; n <= 300; n += 149) {
        for (size_t i = 0; i < n; i++)
            memcpy(parent + i * 8, span + ((i * 7 + 3) % n) * 8, 8);
        rt_id(parent, 8, n, span, OWL_ENC_IDREF);
    }
    free(span);
    free(parent);
}

/* Random ids reference nothing: FIXED, IDREF given up early; one row is FIXED too. */
Test(idref, literals_stay_fixed)
{
    enum { N = 3000 };
    uint8_t *v = malloc(N * 16), *ref = malloc(N * 16);
    for (size_t i = 0; i < N * 16; i++)
        v[i] = (uint8_t)rnd(), ref[i] = (uint8_t)rnd();
    rt_id(v, 16, N, NULL, OWL_ENC_FIXED);
    rt_id(v, 16, N, ref, OWL_ENC_FIXED);
    rt_id(v, 8, 1, ref, OWL_ENC_FIXED);
    rt_id(v, 8, 1, NULL, OWL_ENC_FIXED);
    /* repeats that start after the first 64 rows are given up on, still FIXED */
    for (size_t i = 100; i < N; i++)
        memcpy(v + i * 16, v + 99 * 16, 16);
    rt_id(v, 16, N, NULL, OWL_ENC_FIXED);
    /* a block of a few rows where references pay only past the probe still encodes */
    for (size_t i = 1; i < 40; i++)
        memcpy(v + i * 16, v, 16);
    rt_id(v, 16, 40, NULL, OWL_ENC_IDREF);
    free(v);
    free(ref);
}

/* Hand-made chunks: every kind of token, and each way a chunk can lie. Tokens are 4x +
 * kind: 0 = x + 1 literals, 1 = a run of x + 1 rows, 2 = row i - x - 1, 3 = ref row
 * i + unzz(x). */
Test(idref, decoder_checks)
{
    uint8_t ref[5 * 8], lit[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    owl_cell refs[5], out[6];
    for (size_t j = 0; j < 5; j++) {
        memset(ref + j * 8, (int)(0x10 + j), 8);
        refs[j].b = (owl_bytes){ref + j * 8, 8};
    }
    struct {
        uint8_t b[24];
        size_t len, n;
        int rc;
    } cases[] = {
        /* n = 1: row 0 of the ref; a literal */
        {{OWL_ENC_IDREF, 8, 4, 0, 3}, 5, 1, OWL_OK},
        {{OWL_ENC_IDREF, 8, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 13, 1, OWL_OK},
        /* literal, run, row i + 1 and i - 1 of the ref, two rows back */
        {{OWL_ENC_IDREF, 8, 1, 1, 0, 1, 11, 7, 6, 1, 2, 3, 4, 5, 6, 7, 8}, 17, 5, OWL_OK},
        /* a ref token without a reference column */
        {{OWL_ENC_IDREF, 8, 0, 0, 3}, 5, 1, OWL_ECORRUPT},
        /* self references forward or before row 0: a run at row 0, two back at row 1, far */
        {{OWL_ENC_IDREF, 8, 0, 0, 1}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0, 3, 6}, 6, 2, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0, 3, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01}, 15, 2, OWL_ECORRUPT},
        /* a run or literals past the last row */
        {{OWL_ENC_IDREF, 8, 1, 0, 3, 5}, 6, 2, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 0, 2, 4, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}, 21, 1,
         OWL_ECORRUPT},
        /* rows of the reference column out of range: n, -1, far */
        {{OWL_ENC_IDREF, 8, 1, 0, 11}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0, 7}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         14, 1, OWL_ECORRUPT},
        /* a truncated literal, literals beyond nlit, one unused, a trailing token */
        {{OWL_ENC_IDREF, 8, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7}, 12, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 0, 0, 0}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 0, 1, 4, 1, 2, 3, 4, 5, 6, 7, 8}, 13, 2, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 1, 3, 1, 2, 3, 4, 5, 6, 7, 8}, 13, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0, 3, 3}, 6, 1, OWL_ECORRUPT},
        /* width 0, another width, a literal count past the chunk, no tokens, not IDREF */
        {{OWL_ENC_IDREF, 0, 0, 0, 1}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 16, 1, 0, 3}, 5, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 3}, 8, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1, 0}, 4, 1, OWL_ECORRUPT},
        {{OWL_ENC_IDREF, 8, 1}, 3, 0, OWL_ECORRUPT},
        {{OWL_ENC_FIXED, 8, 1, 0, 3}, 5, 1, OWL_ECORRUPT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *c = exact_copy(cases[k].b, cases[k].len);
        int rc = owl_dec_idref(c, cases[k].len, 8, cases[k].n, refs, out);
        cr_assert_eq(rc, cases[k].rc, "case %zu: %d", k, rc);
        free(c);
    }
    /* what the good ones point at */
    uint8_t *c = exact_copy(cases[2].b, cases[2].len);
    cr_assert_eq(owl_dec_idref(c, cases[2].len, 8, 5, refs, out), OWL_OK);
    cr_assert(out[0].b.p == c + 9 && memcmp(out[0].b.p, lit, 8) == 0);
    cr_assert(out[1].b.p == out[0].b.p && out[2].b.p == refs[3].b.p &&
              out[3].b.p == refs[2].b.p && out[4].b.p == out[2].b.p);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(out[i].b.n, 8);
    cr_assert_eq(owl_dec_idref(c, cases[2].len, 8, 5, NULL, out), OWL_ECORRUPT);
    size_t k;
    cr_assert_eq(owl_idref_ref(c, cases[2].len, &k), OWL_OK);
    cr_assert_eq(k, 0);
    cr_assert_eq(owl_idref_ref(c, 3, &k), OWL_ECORRUPT);
    free(c);
    c = exact_copy(cases[0].b, cases[0].len);
    cr_assert_eq(owl_dec_idref(c, cases[0].len, 8, 1, refs, out), OWL_OK);
    cr_assert(out[0].b.p == refs[0].b.p);
    cr_assert_eq(owl_idref_ref(c, cases[0].len, &k), OWL_OK);
    cr_assert_eq(k, 3);
    free(c);
}

/* ---- packed chunks ---- */

static void pack_rt(const void *raw, size_t n, int want_codec)
{
    owl_buf b = OWL_BUF_INIT, r = OWL_BUF_INIT;
    cr_assert_eq(owl_buf_append(&b, "prefix", 6), OWL_OK);
    cr_assert_eq(owl_chunk_pack(raw, n, 3, &b), OWL_OK);
    const uint8_t *pk = (const uint8_t *)b.data + 6;
    size_t plen = b.len - 6;
    cr_assert_eq(pk[0], want_codec);
    if (want_codec == 1)
        cr_assert_lt(plen, n);
    uint8_t *c = exact_copy(pk, plen);
    cr_assert_eq(owl_chunk_unpack(c, plen, n, &r), OWL_OK);
    cr_assert_eq(r.len, n);
    cr_assert(n == 0 || memcmp(r.data, raw, n) == 0);
    owl_buf_reset(&r);
    if (n > 0)
        cr_assert_eq(owl_chunk_unpack(c, plen, n - 1, &r), OWL_ETOOBIG);
    cr_assert_eq(r.len, 0, "failures append nothing");
    /* every truncation and every flip is caught (by the crc at the latest) */
    for (size_t t = 0; t < plen; t++) {
        uint8_t *tc = exact_copy(c, t);
        cr_assert_eq(owl_chunk_unpack(tc, t, n, &r), OWL_ECORRUPT, "truncate %zu", t);
        free(tc);
    }
    size_t step = plen > 4096 ? plen / 512 : 1;
    for (size_t i = 0; i < plen; i += step) {
        c[i] ^= 0x10;
        cr_assert_eq(owl_chunk_unpack(c, plen, n, &r), OWL_ECORRUPT, "flip %zu", i);
        c[i] ^= 0x10;
    }
    cr_assert_eq(r.len, 0);
    free(c);
    owl_buf_free(&b);
    owl_buf_free(&r);
}

Test(chunk, both_codecs)
{
    size_t n = 64 * 1024;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = "GET /api/v1/orders 200 "[i % 23];
    pack_rt(text, n, 1);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)rnd();
    pack_rt(text, n, 0);
    pack_rt(text, 1, 0);
    pack_rt("", 0, 0);
    free(text);
}

/* owl_chunk_pack keeps zstd for any saving; owl_chunk_pack_fast only for a quarter or more:
 * random bytes with a run of zeros a tenth of their length (zstd saves about a tenth) are
 * zstd for the one and stored for the other; with a run as long as half of them (a third
 * saved) zstd for both. */
static void pack_fast_rt(const void *raw, size_t n, int want_codec)
{
    owl_buf b = OWL_BUF_INIT, r = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_pack_fast(raw, n, 3, &b), OWL_OK);
    const uint8_t *pk = (const uint8_t *)b.data;
    cr_assert_eq(pk[0], want_codec);
    cr_assert_eq(owl_chunk_unpack(pk, b.len, n, &r), OWL_OK);
    cr_assert_eq(r.len, n);
    cr_assert_arr_eq(r.data, raw, n);
    owl_buf_free(&b);
    owl_buf_free(&r);
}

Test(chunk, fast_stores_under_a_quarter_saved)
{
    size_t n = 10000;
    char *b = malloc(n + n / 2);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)rnd();
    memset(b + n, 0, n / 2);
    pack_rt(b, n + n / 10, 1);
    pack_fast_rt(b, n + n / 10, 0);
    pack_rt(b, n + n / 2, 1);
    pack_fast_rt(b, n + n / 2, 1);
    pack_fast_rt(b, n, 0); /* incompressible */
    pack_fast_rt("", 0, 0);
    free(b);
}

/* owl_chunk_view points at a stored chunk's raw bytes in place, after its crc; a
 * compressed chunk is ENOTFOUND, a flipped crc (of either codec) ECORRUPT, a raw length
 * over the limit ETOOBIG, a truncated chunk ECORRUPT. */
Test(chunk, view)
{
    const char *text = "abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    size_t n = strlen(text);
    owl_buf st = OWL_BUF_INIT, z = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_store(text, n, &st), OWL_OK);
    cr_assert_eq(owl_chunk_pack(text, n, 3, &z), OWL_OK);
    cr_assert_eq((uint8_t)z.data[0], 1);
    const uint8_t *raw = NULL, *sp = (const uint8_t *)st.data, *zp = (const uint8_t *)z.data;
    size_t rn = 0;
    cr_assert_eq(owl_chunk_view(sp, st.len, n, &raw, &rn), OWL_OK);
    cr_assert_eq(rn, n);
    cr_assert(raw > sp && raw + rn == sp + st.len, "in place, to the chunk's end");
    cr_assert_eq(memcmp(raw, text, n), 0);
    cr_assert_eq(owl_chunk_view(sp, st.len, n - 1, &raw, &rn), OWL_ETOOBIG);
    cr_assert_eq(owl_chunk_view(sp, st.len - 1, n, &raw, &rn), OWL_ECORRUPT);
    cr_assert_eq(owl_chunk_view(zp, z.len, n, &raw, &rn), OWL_ENOTFOUND);
    st.data[st.len - 1] ^= 1; /* a payload byte: the crc no longer agrees */
    z.data[1] ^= 1;           /* the crc itself */
    cr_assert_eq(owl_chunk_view(sp, st.len, n, &raw, &rn), OWL_ECORRUPT);
    cr_assert_eq(owl_chunk_view(zp, z.len, n, &raw, &rn), OWL_ECORRUPT);
    owl_buf_free(&st);
    owl_buf_free(&z);
}

/* owl_chunk_store writes codec 0 even for compressible bytes; owl_chunk_stored_view points
 * at its payload in place, says ENOTFOUND for a zstd chunk and ECORRUPT for a bad length;
 * owl_chunk_unpack_checked unpacks both codecs without the crc (a flipped crc passes it). */
Test(chunk, stored_view_and_checked_unpack)
{
    const char *text = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    size_t n = strlen(text);
    owl_buf st = OWL_BUF_INIT, z = OWL_BUF_INIT, out = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_store(text, n, &st), OWL_OK);
    cr_assert_eq((uint8_t)st.data[0], 0);
    const uint8_t *raw;
    size_t rn;
    cr_assert_eq(owl_chunk_stored_view((const uint8_t *)st.data, st.len, &raw, &rn), OWL_OK);
    cr_assert_eq(rn, n);
    cr_assert_eq(memcmp(raw, text, n), 0);
    cr_assert(raw > (const uint8_t *)st.data && raw < (const uint8_t *)st.data + st.len);
    cr_assert_eq(owl_chunk_unpack((const uint8_t *)st.data, st.len, n, &out), OWL_OK);
    cr_assert_eq(out.len, n);
    cr_assert_eq(owl_chunk_stored_view((const uint8_t *)st.data, st.len - 1, &raw, &rn),
                 OWL_ECORRUPT);
    cr_assert_eq(owl_chunk_pack(text, n, 3, &z), OWL_OK);
    cr_assert_eq((uint8_t)z.data[0], 1);
    cr_assert_eq(owl_chunk_stored_view((const uint8_t *)z.data, z.len, &raw, &rn), OWL_ENOTFOUND);
    z.data[1] ^= 1; /* the crc: unpack refuses, the checked variant does not look */
    owl_buf_reset(&out);
    cr_assert_eq(owl_chunk_unpack((const uint8_t *)z.data, z.len, n, &out), OWL_ECORRUPT);
    owl_buf_reset(&out);
    cr_assert_eq(owl_chunk_unpack_checked((const uint8_t *)z.data, z.len, n, &out), OWL_OK);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(out.data, text, n), 0);
    owl_buf_free(&st);
    owl_buf_free(&z);
    owl_buf_free(&out);
}

/* Rewrites a packed chunk's crc after tampering, so the later checks are reached. */
static void fix_crc(uint8_t *p, size_t len)
{
    uint32_t crc = owl_crc32c(0, p + 5, len - 5);
    for (int i = 0; i < 4; i++)
        p[1 + i] = (uint8_t)(crc >> (8 * i));
}

Test(chunk, lying_headers)
{
    size_t n = 10000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 7);
    owl_buf b = OWL_BUF_INIT, r = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_pack(text, n, 1, &b), OWL_OK);
    uint8_t *p = (uint8_t *)b.data;
    cr_assert_eq(p[0], 1);
    /* raw length 10000 is the varint 0x90 0x4e; claim 10001 and 9999 */
    cr_assert_eq(p[5], 0x90);
    cr_assert_eq(p[6], 0x4e);
    p[5] = 0x91;
    fix_crc(p, b.len);
    cr_assert_eq(owl_chunk_unpack(p, b.len, 1 << 20, &r), OWL_ECORRUPT);
    p[5] = 0x8f;
    fix_crc(p, b.len);
    cr_assert_eq(owl_chunk_unpack(p, b.len, 1 << 20, &r), OWL_ECORRUPT);
    p[5] = 0x90;
    /* unknown codec, and a stored chunk whose payload is the compressed bytes */
    p[0] = 2;
    fix_crc(p, b.len);
    cr_assert_eq(owl_chunk_unpack(p, b.len, 1 << 20, &r), OWL_ECORRUPT);
    p[0] = 0;
    cr_assert_eq(owl_chunk_unpack(p, b.len, 1 << 20, &r), OWL_ECORRUPT);
    p[0] = 1;
    cr_assert_eq(owl_chunk_unpack(p, b.len, 1 << 20, &r), OWL_OK);
    cr_assert_eq(r.len, n);
    /* a compressed frame with garbage after it */
    owl_buf g = OWL_BUF_INIT;
    owl_buf_append(&g, b.data, b.len);
    owl_buf_append(&g, "junk", 4);
    fix_crc((uint8_t *)g.data, g.len);
    owl_buf_reset(&r);
    cr_assert_eq(owl_chunk_unpack((uint8_t *)g.data, g.len, 1 << 20, &r), OWL_ECORRUPT);
    cr_assert_eq(r.len, 0);
    /* stored: payload length must equal the raw length */
    owl_buf s = OWL_BUF_INIT;
    cr_assert_eq(owl_chunk_pack("abc", 3, 1, &s), OWL_OK);
    cr_assert_eq((uint8_t)s.data[0], 0);
    s.data[5] = 4;
    fix_crc((uint8_t *)s.data, s.len);
    cr_assert_eq(owl_chunk_unpack((uint8_t *)s.data, s.len, 100, &r), OWL_ECORRUPT);
    s.data[5] = 3;
    fix_crc((uint8_t *)s.data, s.len);
    cr_assert_eq(owl_chunk_unpack((uint8_t *)s.data, s.len, 3, &r), OWL_OK);
    cr_assert_eq(owl_chunk_unpack((uint8_t *)s.data, s.len, 2, &r), OWL_ETOOBIG);
    owl_buf_free(&s);
    owl_buf_free(&g);
    owl_buf_free(&b);
    owl_buf_free(&r);
    free(text);
}

/* ---- throughput (printed, not asserted) ----
 * Columns are cut in blocks of 4096 rows like a part's blocks; each figure is the best of
 * REPS runs over warm buffers, so page faults and other tenants of the machine count less. */

enum { BLOCK = 4096, REPS = 7 };

/* The name of an I64 encoding id, for the figures printed. */
static const char *i64_name(int id)
{
    switch (id) {
    case OWL_ENC_I64RAW:
        return "I64RAW";
    case OWL_ENC_DELTA:
        return "DELTA";
    case OWL_ENC_DOD:
        return "DOD";
    case OWL_ENC_CONST:
        return "CONST";
    case OWL_ENC_FOR:
        return "FOR";
    case OWL_ENC_DFOR:
        return "DFOR";
    default:
        return "?";
    }
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

struct bench_i64 {
    const int64_t *v;
    int64_t *out;
    size_t n, *offs, nb;
    owl_buf b;
};

static int64_t bench_i64_enc(struct bench_i64 *x)
{
    owl_buf_reset(&x->b);
    int64_t t0 = owl_mono_ns();
    x->nb = 0;
    for (size_t i = 0; i < x->n; i += BLOCK, x->nb++) {
        x->offs[x->nb] = x->b.len;
        size_t m = x->n - i < BLOCK ? x->n - i : BLOCK;
        cr_assert_eq(owl_enc_i64(x->v + i, m, &x->b), OWL_OK);
    }
    x->offs[x->nb] = x->b.len;
    return owl_mono_ns() - t0;
}

static int64_t bench_i64_dec(struct bench_i64 *x)
{
    int64_t t0 = owl_mono_ns();
    for (size_t k = 0, i = 0; k < x->nb; k++, i += BLOCK) {
        size_t m = x->n - i < BLOCK ? x->n - i : BLOCK;
        const uint8_t *p = (const uint8_t *)x->b.data + x->offs[k];
        cr_assert_eq(owl_dec_i64(p, x->offs[k + 1] - x->offs[k], m, x->out + i), OWL_OK);
    }
    return owl_mono_ns() - t0;
}

static void bench_timestamps(const char *what, const int64_t *v, size_t n)
{
    struct bench_i64 x = {.v = v, .n = n, .b = OWL_BUF_INIT};
    x.out = calloc(n, sizeof *x.out);
    x.offs = malloc((n / BLOCK + 2) * sizeof *x.offs);
    int64_t enc = INT64_MAX, dec = INT64_MAX;
    for (int r = 0; r < REPS; r++) {
        int64_t e = bench_i64_enc(&x), d = bench_i64_dec(&x);
        enc = e < enc ? e : enc;
        dec = d < dec ? d : dec;
    }
    cr_assert_eq(memcmp(v, x.out, n * sizeof *v), 0);
    printf("bench i64: 1M %s (%s): %.2f bytes/value, encode %.0f M values/s, decode %.0f M values/s "
           "(%.0f MB/s of int64 out)\n",
           what, i64_name((uint8_t)x.b.data[0]), (double)x.b.len / (double)n, (double)n / secs(enc) / 1e6,
           (double)n / secs(dec) / 1e6, (double)n * 8.0 / secs(dec) / 1e6);
    owl_buf_free(&x.b);
    free(x.offs);
    free(x.out);
}

Test(bench, timestamps_1m)
{
    enum { N = 1000000 };
    int64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000000000ll + (int64_t)i * 1000000 + (int64_t)(rnd() % 1000);
    bench_timestamps("ns timestamps, 1 ms period + up to 1 us jitter", v, N);
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000ll + (int64_t)i * 10000;
    bench_timestamps("ms timestamps, regular 10 s", v, N);
    free(v);
}

/* Bytes the nb chunks of b take packed at zstd level 9, as compaction writes them. */
static double zstd_bytes(const owl_buf *b, const size_t *offs, size_t nb)
{
    owl_buf z = OWL_BUF_INIT;
    for (size_t k = 0; k < nb; k++)
        cr_assert_eq(owl_chunk_pack(b->data + offs[k], offs[k + 1] - offs[k], 9, &z), OWL_OK);
    double len = (double)z.len;
    owl_buf_free(&z);
    return len;
}

/* Best-of-REPS ns to decode every block of b (block offsets in offs) into out. */
static int64_t decode_blocks(const owl_buf *b, const size_t *offs, size_t nb, int64_t *out)
{
    int64_t best = INT64_MAX;
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = owl_mono_ns();
        for (size_t k = 0; k < nb; k++) {
            const uint8_t *p = (const uint8_t *)b->data + offs[k];
            cr_assert_eq(owl_dec_i64(p, offs[k + 1] - offs[k], SPAN_BLOCK,
                                     out + k * SPAN_BLOCK), OWL_OK);
        }
        int64_t t = owl_mono_ns() - t0;
        best = t < best ? t : best;
    }
    return best;
}

Test(bench, span_columns_1m)
{
    enum { NB = 128, N = NB * SPAN_BLOCK };
    static const char *what[] = {"trace keys (sorted U64, gaps ~5e12)",
                                 "start times (ns, random in a day)",
                                 "durations (ns, 0..50 ms)"};
    int64_t *v = malloc(N * sizeof *v), *out = malloc(N * sizeof *out);
    size_t offs[NB + 1], doffs[NB + 1];
    owl_buf b = OWL_BUF_INIT, d = OWL_BUF_INIT;
    for (int shape = SPAN_KEYS; shape <= SPAN_DURATIONS; shape++) {
        span_column(shape, v, N);
        int64_t enc = INT64_MAX;
        for (int r = 0; r < REPS; r++) {
            owl_buf_reset(&b);
            int64_t t0 = owl_mono_ns();
            for (size_t k = 0; k < NB; k++) {
                offs[k] = b.len;
                cr_assert_eq(owl_enc_i64(v + k * SPAN_BLOCK, SPAN_BLOCK, &b), OWL_OK);
            }
            int64_t t = owl_mono_ns() - t0;
            enc = t < enc ? t : enc;
        }
        offs[NB] = b.len;
        owl_buf_reset(&d);
        for (size_t k = 0; k < NB; k++) {
            doffs[k] = d.len;
            delta_chunk(v + k * SPAN_BLOCK, SPAN_BLOCK, &d);
        }
        doffs[NB] = d.len;
        int64_t dec_new = decode_blocks(&b, offs, NB, out);
        cr_assert_eq(memcmp(out, v, N * sizeof *v), 0);
        int64_t dec_old = decode_blocks(&d, doffs, NB, out);
        cr_assert_eq(memcmp(out, v, N * sizeof *v), 0);
        printf("bench i64 spans: 1M %s: %s %.2f bytes/value (%.2f after zstd 9), decode %.2f "
               "ns/value; DELTA %.2f bytes/value (%.2f after zstd 9), decode %.2f ns/value; "
               "encode %.0f M values/s\n",
               what[shape], i64_name((uint8_t)b.data[0]), zstd_bytes(&b, offs, NB) / N, (double)b.len / N, (double)dec_new / N,
               (double)d.len / N, zstd_bytes(&d, doffs, NB) / N, (double)dec_old / N, (double)N / secs(enc) / 1e6);
    }
    owl_buf_free(&b);
    owl_buf_free(&d);
    free(v);
    free(out);
}

static void bench_strings(const char *what, const owl_strref *v, size_t n)
{
    owl_strref *out = calloc(n, sizeof *out);
    size_t *offs = malloc((n / BLOCK + 2) * sizeof *offs), nb = 0;
    owl_buf b = OWL_BUF_INIT;
    int64_t enc = INT64_MAX, dec = INT64_MAX;
    for (int r = 0; r < REPS; r++) {
        owl_buf_reset(&b);
        nb = 0;
        int64_t t0 = owl_mono_ns();
        for (size_t i = 0; i < n; i += BLOCK, nb++) {
            offs[nb] = b.len;
            size_t m = n - i < BLOCK ? n - i : BLOCK;
            cr_assert_eq(owl_enc_str(v + i, m, 1, &b), OWL_OK);
        }
        offs[nb] = b.len;
        int64_t t1 = owl_mono_ns();
        for (size_t k = 0, i = 0; k < nb; k++, i += BLOCK) {
            size_t m = n - i < BLOCK ? n - i : BLOCK;
            const uint8_t *p = (const uint8_t *)b.data + offs[k];
            cr_assert_eq(owl_dec_str(p, offs[k + 1] - offs[k], m, out + i), OWL_OK);
        }
        int64_t t2 = owl_mono_ns();
        enc = t1 - t0 < enc ? t1 - t0 : enc;
        dec = t2 - t1 < dec ? t2 - t1 : dec;
    }
    for (size_t i = 0; i < n; i++)
        cr_assert(out[i].n == v[i].n && memcmp(out[i].p, v[i].p, v[i].n) == 0);
    printf("bench str: 1M %s (%s): %.2f bytes/value, encode %.0f M values/s, "
           "decode %.0f M values/s\n",
           what, (uint8_t)b.data[0] == OWL_ENC_DICT ? "DICT" : "STR",
           (double)b.len / (double)n, (double)n / secs(enc) / 1e6, (double)n / secs(dec) / 1e6);
    owl_buf_free(&b);
    free(offs);
    free(out);
}

Test(bench, short_strings_1m)
{
    enum { N = 1000000 };
    static const char *svc[] = {"frontend", "checkout", "cart", "payment", "email",
                                "shipping", "currency", "ads", "recommend", "auth"};
    owl_strref *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = sref(svc[rnd() % 10]);
    bench_strings("service names, 10 distinct", v, N);
    char (*ids)[20] = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) {
        int len = snprintf(ids[i], sizeof ids[i], "u%llx", (unsigned long long)(rnd() >> 8));
        v[i] = (owl_strref){ids[i], (uint32_t)len};
    }
    bench_strings("unique ids of ~15 bytes", v, N);
    free(ids);
    free(v);
}

Test(bench, chunk_pack_1m_timestamps)
{
    enum { N = 1000000 };
    int64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = 1700000000000000000ll + (int64_t)i * 1000000 + (int64_t)(rnd() % 1000);
    owl_buf enc = OWL_BUF_INIT, packed = OWL_BUF_INIT, raw = OWL_BUF_INIT;
    size_t *offs = malloc((N / BLOCK + 2) * sizeof *offs), *poffs = malloc((N / BLOCK + 2) * 8);
    size_t nb = 0;
    for (size_t i = 0; i < N; i += BLOCK, nb++) {
        offs[nb] = enc.len;
        cr_assert_eq(owl_enc_i64(v + i, N - i < BLOCK ? N - i : BLOCK, &enc), OWL_OK);
    }
    offs[nb] = enc.len;
    int64_t pk = INT64_MAX, un = INT64_MAX;
    for (int r = 0; r < 3; r++) {
        owl_buf_reset(&packed);
        int64_t t0 = owl_mono_ns();
        for (size_t k = 0; k < nb; k++) {
            poffs[k] = packed.len;
            cr_assert_eq(owl_chunk_pack(enc.data + offs[k], offs[k + 1] - offs[k], 3, &packed),
                         OWL_OK);
        }
        poffs[nb] = packed.len;
        int64_t t1 = owl_mono_ns();
        for (size_t k = 0; k < nb; k++) {
            owl_buf_reset(&raw);
            cr_assert_eq(owl_chunk_unpack((uint8_t *)packed.data + poffs[k],
                                          poffs[k + 1] - poffs[k], 1 << 20, &raw),
                         OWL_OK);
        }
        int64_t t2 = owl_mono_ns();
        pk = t1 - t0 < pk ? t1 - t0 : pk;
        un = t2 - t1 < un ? t2 - t1 : un;
    }
    printf("bench chunk: 1M jittered ns timestamps %s %.2f bytes/value -> zstd 3 %.2f "
           "bytes/value; pack %.0f MB/s, unpack %.0f MB/s of encoded bytes\n",
           i64_name((uint8_t)enc.data[0]), (double)enc.len / N, (double)packed.len / N, (double)enc.len / secs(pk) / 1e6,
           (double)enc.len / secs(un) / 1e6);
    owl_buf_free(&enc);
    owl_buf_free(&packed);
    owl_buf_free(&raw);
    free(offs);
    free(poffs);
    free(v);
}

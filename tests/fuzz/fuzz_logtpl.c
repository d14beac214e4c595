/* fuzz_logtpl.c — libFuzzer target for index/logtpl.c, two modes picked by bit 0 of byte 0
 * (in both, judged decodes (owl_dec_logtpl_sel) of the chunk must keep rows unchanged, and
 * for a chunk the encoder made never leave out a row that holds the judge's needle):
 *   decode (0): bytes 1-2 = little-endian row count n (at most 1024), byte 3 bit 0 = pass row
 *     times (made up from n and byte 3), the rest = an encoded chunk. The decoder must return
 *     OK, ECORRUPT or (without times) EINVAL; what it accepts must encode and decode back to
 *     the same messages.
 *   round trip (1): byte 1 = separator, byte 2 bit 0 = with times; the rest, split at the
 *     separator, are the messages (times: a running sum of their lengths, scaled). They must
 *     encode, and decode to the very same bytes.
 * Beyond that, sanitizers report any overread or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/encode.h"
#include "index/logtpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            abort();                                                                          \
    } while (0)

#define MAX_ROWS 1024

struct needle {
    const uint8_t *p;
    size_t n;
};

static int judge_needle(void *ud, const owl_logtpl_tpl *t)
{
    const struct needle *k = ud;
    return owl_logtpl_tpl_may_contain(t, k->p, k->n);
}

/* owl_dec_logtpl_sel of chunk p (which decoded to full[0..rows)) with a judge of the needle:
 * the rows kept are rebuilt as before, the rows left out are empty and counted; with sound
 * (a chunk the encoder made), no row left out holds the needle. */
static void check_sel(const uint8_t *p, size_t len, size_t rows, const int64_t *t,
                      const owl_strref *full, const uint8_t *needle, size_t nl, int sound)
{
    owl_buf arena = OWL_BUF_INIT;
    owl_strref *out = calloc(rows + 1, sizeof *out);
    uint8_t *keep = malloc(rows + 1);
    CHECK(out && keep);
    memset(keep, 1, rows + 1);
    struct needle k = {needle, nl};
    size_t left = 0, zeros = 0;
    int rc = owl_dec_logtpl_sel(p, len, rows, t, judge_needle, &k, keep, &left, out, &arena);
    CHECK(rc == OWL_OK || rc == OWL_ENOMEM);
    if (rc == OWL_OK) {
        for (size_t i = 0; i < rows; i++) {
            if (keep[i]) {
                CHECK(out[i].n == full[i].n);
                CHECK(full[i].n == 0 || memcmp(out[i].p, full[i].p, full[i].n) == 0);
                continue;
            }
            zeros++;
            CHECK(out[i].n == 0);
            CHECK(!sound || nl == 0 || !full[i].n || !memmem(full[i].p, full[i].n, needle, nl));
        }
        CHECK(left == zeros && keep[rows] == 1);
    }
    free(keep);
    free(out);
    owl_buf_free(&arena);
}

/* Encodes v, decodes the result, and checks every message came back. */
static void round_trip(const owl_strref *v, const int64_t *t, size_t rows)
{
    owl_buf e = OWL_BUF_INIT, arena = OWL_BUF_INIT;
    owl_strref *out = calloc(rows + 1, sizeof *out);
    CHECK(out);
    CHECK(owl_enc_logtpl_time(v, t, rows, &e) == OWL_OK);
    CHECK(e.len >= 1 && (uint8_t)e.data[0] == OWL_ENC_LOGTPL);
    /* an exact-size copy, so a read past the end is caught */
    uint8_t *copy = malloc(e.len);
    CHECK(copy);
    memcpy(copy, e.data, e.len);
    CHECK(owl_dec_logtpl_time(copy, e.len, rows, t, out, &arena) == OWL_OK);
    for (size_t i = 0; i < rows; i++) {
        CHECK(out[i].n == v[i].n);
        CHECK(v[i].n == 0 || memcmp(out[i].p, v[i].p, v[i].n) == 0);
        /* no false negative: a message, and any window of it, may be in its own chunk */
        CHECK(owl_logtpl_may_contain(copy, e.len, v[i].p, v[i].n));
        if (v[i].n > 2)
            CHECK(owl_logtpl_may_contain(copy, e.len, v[i].p + 1, v[i].n / 2));
    }
    /* judged decodes, with needles from the messages: a window, and a word of a row */
    for (size_t i = 0; i < rows && i < 3; i++) {
        const owl_strref *r = &v[(i * 7919 + v[0].n) % rows];
        if (!r->n)
            continue;
        size_t a = (r->n * (i + 1) / 5) % r->n, b = a + 1 + (r->n - a) / 2;
        check_sel(copy, e.len, rows, t, v, (const uint8_t *)r->p + a, b - a, 1);
    }
    check_sel(copy, e.len, rows, t, v, (const uint8_t *)"status", 6, 1);
    if (t) {
        int rc = owl_dec_logtpl(copy, e.len, rows, out, &arena);
        CHECK(rc == OWL_OK || rc == OWL_EINVAL);
    }
    free(copy);
    free(out);
    owl_buf_free(&e);
    owl_buf_free(&arena);
}

static void fuzz_decode(const uint8_t *d, size_t n)
{
    if (n < 4)
        return;
    size_t rows = (size_t)(d[1] | d[2] << 8) % (MAX_ROWS + 1);
    int with_t = d[3] & 1;
    int64_t *t = malloc((rows + 1) * sizeof *t);
    owl_strref *out = calloc(rows + 1, sizeof *out);
    owl_buf arena = OWL_BUF_INIT;
    CHECK(t && out);
    for (size_t i = 0; i < rows; i++)
        t[i] = 1445144423722 + (int64_t)i * (1 + d[3]) * 997;
    uint8_t *copy = malloc(n - 4 + 1);
    CHECK(copy);
    memcpy(copy, d + 4, n - 4);
    int rc = owl_dec_logtpl_time(copy, n - 4, rows, with_t ? t : NULL, out, &arena);
    CHECK(rc == OWL_OK || rc == OWL_ECORRUPT || rc == OWL_ENOMEM || (rc == OWL_EINVAL && !with_t));
    if (rc == OWL_OK) {
        for (size_t i = 0; i < rows; i++)
            CHECK(out[i].n == 0 || (out[i].p >= arena.data && out[i].p + out[i].n <= arena.data + arena.len));
        /* a judged decode of the same bytes keeps what it keeps unchanged (no soundness: a
         * crafted chunk may join a slot to literal letters, which the encoder never does) */
        if (rows && out[0].n)
            check_sel(copy, n - 4, rows, with_t ? t : NULL, out, (const uint8_t *)out[0].p,
                      out[0].n < 8 ? out[0].n : 8, 0);
        round_trip(out, with_t ? t : NULL, rows);
    }
    free(copy);
    free(out);
    free(t);
    owl_buf_free(&arena);
}

static void fuzz_round_trip(const uint8_t *d, size_t n)
{
    if (n < 3)
        return;
    uint8_t sep = d[1];
    int with_t = d[2] & 1;
    const char *s = (const char *)d + 3, *end = (const char *)d + n;
    owl_strref *v = malloc((n + 1) * sizeof *v);
    int64_t *t = malloc((n + 1) * sizeof *t);
    CHECK(v && t);
    size_t rows = 0;
    int64_t acc = 1700000000000;
    while (rows < MAX_ROWS) {
        const char *e = memchr(s, sep, (size_t)(end - s));
        if (!e)
            e = end;
        v[rows] = (owl_strref){s, (uint32_t)(e - s)};
        acc += (int64_t)(e - s) * 1237;
        t[rows++] = acc;
        if (e == end)
            break;
        s = e + 1;
    }
    round_trip(v, with_t ? t : NULL, rows);
    free(v);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1)
        return 0;
    if (d[0] & 1)
        fuzz_round_trip(d, n);
    else
        fuzz_decode(d, n);
    return 0;
}

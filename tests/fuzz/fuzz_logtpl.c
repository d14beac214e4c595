/* fuzz_logtpl.c — libFuzzer target for index/logtpl.c, two modes picked by bit 0 of byte 0:
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

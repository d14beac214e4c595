/* fuzz_encode.c — libFuzzer target for index/encode.c and the bloom decoder of index/bloom.c.
 * Input: byte 0 picks a decoder (i64, f64, str, fixed8, fixed16, chunk_unpack, bloom_decode,
 * idref8, idref16: IDREF with a reference column of rows whose bytes are their index),
 * bytes 1-2 are a little-endian row count n, the rest is the encoded input. Beyond crashes and
 * sanitizer reports it checks the contract: a decoder returns OK or ECORRUPT (ETOOBIG for an
 * over-large chunk), and whatever it accepts re-encodes to something that decodes to the same
 * values (for bloom filters: to the very same bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/bloom.h"
#include "index/encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            abort();                                                                          \
    } while (0)

static void check_rc(int rc)
{
    CHECK(rc == OWL_OK || rc == OWL_ECORRUPT || rc == OWL_ENOMEM);
}

static void fuzz_i64(const uint8_t *p, size_t len, size_t rows)
{
    int64_t *a = malloc((rows + 1) * sizeof *a), *b = malloc((rows + 1) * sizeof *b);
    owl_buf e = OWL_BUF_INIT;
    CHECK(a && b);
    int rc = owl_dec_i64(p, len, rows, a);
    check_rc(rc);
    /* the strided form (part.c's cells) agrees, within a buffer ending at its last slot */
    int64_t *w = malloc((rows ? 2 * rows - 1 : 1) * sizeof *w);
    CHECK(w);
    CHECK(owl_dec_i64_stride(p, len, rows, w, 2) == rc);
    for (size_t i = 0; rc == OWL_OK && i < rows; i++)
        CHECK(w[2 * i] == a[i]);
    free(w);
    if (rc == OWL_OK) {
        CHECK(owl_enc_i64(a, rows, &e) == OWL_OK);
        CHECK(e.len <= 1 + 8 * rows);
        CHECK(owl_dec_i64((const uint8_t *)e.data, e.len, rows, b) == OWL_OK);
        CHECK(memcmp(a, b, rows * sizeof *a) == 0);
    }
    owl_buf_free(&e);
    free(a);
    free(b);
}

static void fuzz_f64(const uint8_t *p, size_t len, size_t rows)
{
    double *a = malloc((rows + 1) * sizeof *a), *b = malloc((rows + 1) * sizeof *b);
    owl_buf e = OWL_BUF_INIT;
    CHECK(a && b);
    int rc = owl_dec_f64(p, len, rows, a);
    check_rc(rc);
    if (rc == OWL_OK) {
        CHECK(owl_enc_f64(a, rows, &e) == OWL_OK);
        CHECK(owl_dec_f64((const uint8_t *)e.data, e.len, rows, b) == OWL_OK);
        CHECK(memcmp(a, b, rows * sizeof *a) == 0);
    }
    owl_buf_free(&e);
    free(a);
    free(b);
}

static void fuzz_str(const uint8_t *p, size_t len, size_t rows)
{
    owl_strref *a = malloc((rows + 1) * sizeof *a), *b = malloc((rows + 1) * sizeof *b);
    owl_buf e = OWL_BUF_INIT;
    CHECK(a && b);
    int rc = owl_dec_str(p, len, rows, a);
    check_rc(rc);
    if (rc == OWL_OK) {
        for (int allow_dict = 0; allow_dict <= 1; allow_dict++) {
            owl_buf_reset(&e);
            CHECK(owl_enc_str(a, rows, allow_dict, &e) == OWL_OK);
            CHECK(owl_dec_str((const uint8_t *)e.data, e.len, rows, b) == OWL_OK);
            for (size_t i = 0; i < rows; i++) {
                CHECK(a[i].n == b[i].n);
                CHECK(a[i].n == 0 || memcmp(a[i].p, b[i].p, a[i].n) == 0);
                /* refs point into their input */
                CHECK(a[i].n == 0 || ((const uint8_t *)a[i].p >= p &&
                                      (const uint8_t *)a[i].p + a[i].n <= p + len));
            }
        }
    }
    owl_buf_free(&e);
    free(a);
    free(b);
}

static void fuzz_fixed(const uint8_t *p, size_t len, size_t width, size_t rows)
{
    const uint8_t *a = NULL, *b = NULL;
    owl_buf e = OWL_BUF_INIT;
    int rc = owl_dec_fixed(p, len, width, rows, &a);
    check_rc(rc);
    if (rc == OWL_OK) {
        CHECK(a >= p && a + rows * width == p + len);
        CHECK(owl_enc_fixed(a, width, rows, &e) == OWL_OK);
        CHECK(owl_dec_fixed((const uint8_t *)e.data, e.len, width, rows, &b) == OWL_OK);
        CHECK(rows == 0 || memcmp(a, b, rows * width) == 0);
    }
    owl_buf_free(&e);
}

static void fuzz_idref(const uint8_t *p, size_t len, size_t width, size_t rows)
{
    owl_cell *a = calloc(rows + 1, sizeof *a), *b = calloc(rows + 1, sizeof *b),
             *ref = calloc(rows + 1, sizeof *ref);
    uint8_t *rv = calloc(rows + 1, width), *v = calloc(rows + 1, width);
    owl_idref_enc enc = {0};
    owl_buf e = OWL_BUF_INIT;
    CHECK(a && b && ref && rv && v);
    for (size_t j = 0; j < rows; j++) {
        memcpy(rv + j * width, &j, sizeof j);
        ref[j].b = (owl_bytes){rv + j * width, width};
    }
    int rc = owl_dec_idref(p, len, width, rows, ref, a);
    check_rc(rc);
    if (rc == OWL_OK) {
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *q = a[i].b.p;
            CHECK(a[i].b.n == width);
            CHECK((q >= p && q + width <= p + len) || (q >= rv && q + width <= rv + rows * width));
            memcpy(v + i * width, q, width);
        }
        CHECK(owl_enc_id(&enc, v, width, rows, rv, 0, &e) == OWL_OK);
        CHECK(e.len <= 2 + rows * width);
        const uint8_t *raw = (const uint8_t *)e.data;
        if (raw[0] == OWL_ENC_IDREF) {
            CHECK(owl_dec_idref(raw, e.len, width, rows, ref, b) == OWL_OK);
            for (size_t i = 0; i < rows; i++)
                CHECK(memcmp(b[i].b.p, v + i * width, width) == 0);
        } else {
            const uint8_t *f;
            CHECK(owl_dec_fixed(raw, e.len, width, rows, &f) == OWL_OK);
            CHECK(memcmp(f, v, rows * width) == 0);
        }
    }
    owl_idref_enc_free(&enc);
    owl_buf_free(&e);
    free(a);
    free(b);
    free(ref);
    free(rv);
    free(v);
}

static void fuzz_chunk(const uint8_t *p, size_t len, size_t rows)
{
    /* the row field doubles as the raw-size limit, so ETOOBIG is reachable too */
    size_t max_raw = rows * 64;
    owl_buf raw = OWL_BUF_INIT, packed = OWL_BUF_INIT, again = OWL_BUF_INIT;
    int rc = owl_chunk_unpack(p, len, max_raw, &raw);
    CHECK(rc == OWL_OK || rc == OWL_ECORRUPT || rc == OWL_ETOOBIG || rc == OWL_ENOMEM);
    /* the view agrees with the unpack: the same bytes of a stored chunk, the same refusal */
    const uint8_t *view;
    size_t vn;
    int vrc = owl_chunk_view(p, len, max_raw, &view, &vn);
    if (vrc == OWL_OK)
        CHECK(rc == OWL_OK && p[0] == 0 && vn == raw.len && view + vn == p + len &&
              (vn == 0 || memcmp(view, raw.data, vn) == 0));
    else if (vrc == OWL_ENOTFOUND)
        CHECK(p[0] == 1 && rc != OWL_ETOOBIG);
    else
        CHECK(vrc == rc);
    if (rc != OWL_OK) {
        CHECK(raw.len == 0);
    } else {
        CHECK(raw.len <= max_raw);
        CHECK(owl_chunk_pack(raw.data, raw.len, 1, &packed) == OWL_OK);
        CHECK(owl_chunk_unpack((const uint8_t *)packed.data, packed.len, raw.len, &again) ==
              OWL_OK);
        CHECK(again.len == raw.len && (raw.len == 0 || memcmp(again.data, raw.data, raw.len) == 0));
    }
    owl_buf_free(&raw);
    owl_buf_free(&packed);
    owl_buf_free(&again);
}

static void fuzz_bloom(const uint8_t *p, size_t len)
{
    owl_bloom b, c;
    owl_buf e = OWL_BUF_INIT;
    int rc = owl_bloom_decode(p, len, &b);
    check_rc(rc);
    if (rc == OWL_OK) {
        /* version 1 filters have a power of two of words, version 2 (exact) any count */
        CHECK(b.k >= 1 && b.k <= 16 && b.nwords >= 1 &&
              (b.exact || (b.nwords & (b.nwords - 1)) == 0));
        /* probing any filter is memory-safe */
        (void)owl_bloom_maybe(&b, p, len);
        CHECK(owl_bloom_encode(&b, &e) == OWL_OK);
        CHECK(e.len == len && memcmp(e.data, p, len) == 0);
        CHECK(owl_bloom_decode((const uint8_t *)e.data, e.len, &c) == OWL_OK);
        CHECK(c.k == b.k && c.nwords == b.nwords);
        CHECK(memcmp(c.words, b.words, (size_t)b.nwords * 8) == 0);
        owl_bloom_free(&c);
    }
    owl_bloom_free(&b);
    owl_buf_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 3)
        return 0;
    size_t rows = (size_t)d[1] | (size_t)d[2] << 8;
    const uint8_t *p = d + 3;
    size_t len = n - 3;
    switch (d[0] % 9) {
    case 0:
        fuzz_i64(p, len, rows);
        break;
    case 1:
        fuzz_f64(p, len, rows);
        break;
    case 2:
        fuzz_str(p, len, rows);
        break;
    case 3:
        fuzz_fixed(p, len, 8, rows);
        break;
    case 4:
        fuzz_fixed(p, len, 16, rows);
        break;
    case 5:
        fuzz_chunk(p, len, rows);
        break;
    case 6:
        fuzz_bloom(p, len);
        break;
    case 7:
        fuzz_idref(p, len, 8, rows);
        break;
    default:
        fuzz_idref(p, len, 16, rows);
        break;
    }
    return 0;
}

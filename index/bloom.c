/* bloom.c — bloom filters for block pruning, and the token splitter; the serialized
 * filter layout is the table in bloom.h.
 *
 * Invariants: nwords is in [1, BLOOM_MAX_WORDS] and 1 <= k <= 16 for every filter built here
 * or accepted by owl_bloom_decode; a version 1 filter (exact = 0) has a power-of-two nwords
 * and takes probe positions by mask, a version 2 filter (exact = 1, what owl_bloom_init
 * builds) any nwords and maps 32-bit probes onto its bits by multiply-shift. */
#include "index/bloom.h"

#include <stdlib.h>
#include <string.h>

#include "common/endian.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 2^26 words = 2^32 bits (512 MiB): probe positions fit the 32-bit halves of the hash. */
#define BLOOM_MAX_WORDS (1u << 26)
#define BLOOM_HDR 6

/* ---- sizing without libm ---- */

/* Natural logarithm of x > 0 from its binary exponent and an atanh series on the mantissa:
 * ln x = e ln2 + 2 atanh((m-1)/(m+1)), m in [1,2), so the series argument is below 1/3 and
 * a dozen terms give full double precision for sizing purposes. */
static double ln_pos(double x)
{
    static const double ln2 = 0.69314718055994530942;
    int e = 0;
    while (x >= 2.0) {
        x *= 0.5;
        e++;
    }
    while (x < 1.0) {
        x *= 2.0;
        e--;
    }
    double t = (x - 1.0) / (x + 1.0), t2 = t * t, term = t, sum = 0;
    for (int j = 1; j < 40; j += 2) {
        sum += term / j;
        term *= t2;
    }
    return e * ln2 + 2.0 * sum;
}

int owl_bloom_init(owl_bloom *b, size_t items, double fp)
{
    static const double ln2 = 0.69314718055994530942;
    memset(b, 0, sizeof *b);
    if (!(fp > 0.0 && fp < 1.0))
        return OWL_EINVAL;
    if (items == 0)
        items = 1;
    double bits = -(double)items * ln_pos(fp) / (ln2 * ln2);
    double words = bits / 64.0;
    /* a filter past the cap is refused rather than silently made weaker */
    if (words > (double)BLOOM_MAX_WORDS)
        return OWL_ENOMEM;
    uint32_t nw = (uint32_t)words;
    if ((double)nw < words || nw == 0)
        nw++;
    double k = (double)nw * 64.0 / (double)items * ln2 + 0.5;
    b->k = k < 1.0 ? 1 : k > 16.0 ? 16 : (uint8_t)k;
    b->words = calloc(nw, sizeof *b->words);
    if (!b->words)
        return OWL_ENOMEM;
    b->nwords = nw;
    b->owned = 1;
    b->exact = 1;
    return OWL_OK;
}

void owl_bloom_free(owl_bloom *b)
{
    if (!b)
        return;
    if (b->owned)
        free(b->words);
    memset(b, 0, sizeof *b);
}

/* ---- probes: p_i = h1 + i*h2 (h2 odd); version 1: bit = p_i mod m (m a power of two);
 * version 2: bit = ((p_i mod 2^32) * m) >> 32, which spreads over any m <= 2^32 ---- */

static inline uint64_t probe_bit(const owl_bloom *b, uint64_t pos)
{
    uint64_t m = (uint64_t)b->nwords * 64;
    return b->exact ? ((pos & 0xffffffffu) * m) >> 32 : pos & (m - 1);
}

static inline uint64_t salted(const owl_bloom *b, uint64_t h)
{
    return b->salt ? owl_mix64(h ^ b->salt) : h;
}

/* Word i of the filter: from the owned array, or read in place from a view. */
static inline uint64_t word_at(const owl_bloom *b, uint64_t i)
{
    return b->le ? owl_get64le(b->le + 8 * i) : b->words[i];
}

void owl_bloom_add_hash(owl_bloom *b, uint64_t h)
{
    if (b->nwords == 0 || !b->words)
        return;
    h = salted(b, h);
    uint64_t pos = h & 0xffffffffu, step = (h >> 32) | 1;
    for (unsigned i = 0; i < b->k; i++, pos += step) {
        uint64_t bit = probe_bit(b, pos);
        b->words[bit >> 6] |= 1ull << (bit & 63);
    }
}

int owl_bloom_maybe_hash(const owl_bloom *b, uint64_t h)
{
    if (b->nwords == 0)
        return 1;
    h = salted(b, h);
    uint64_t pos = h & 0xffffffffu, step = (h >> 32) | 1;
    for (unsigned i = 0; i < b->k; i++, pos += step) {
        uint64_t bit = probe_bit(b, pos);
        if (!(word_at(b, bit >> 6) & (1ull << (bit & 63))))
            return 0;
    }
    return 1;
}

void owl_bloom_add(owl_bloom *b, const void *p, size_t n)
{
    owl_bloom_add_hash(b, owl_hash64(p, n, 0));
}

int owl_bloom_maybe(const owl_bloom *b, const void *p, size_t n)
{
    return owl_bloom_maybe_hash(b, owl_hash64(p, n, 0));
}

/* ---- serialized form ---- */

int owl_bloom_encode(const owl_bloom *b, owl_buf *out)
{
    size_t size = BLOOM_HDR + (size_t)b->nwords * 8;
    if (owl_buf_reserve(out, size) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *o = (uint8_t *)out->data + out->len;
    o[0] = b->exact ? 2 : 1;
    o[1] = b->k;
    owl_put32le(o + 2, b->nwords);
    o += BLOOM_HDR;
    for (uint32_t i = 0; i < b->nwords; i++, o += 8)
        owl_put64le(o, word_at(b, i));
    out->len += size;
    out->data[out->len] = '\0';
    return OWL_OK;
}

int owl_bloom_view(const uint8_t *p, size_t len, owl_bloom *b)
{
    memset(b, 0, sizeof *b);
    if (len < BLOOM_HDR || p[0] < 1 || p[0] > 2 || p[1] < 1 || p[1] > 16)
        return OWL_ECORRUPT;
    uint32_t nw = (uint32_t)owl_get32le(p + 2);
    if (nw == 0 || (p[0] == 1 && (nw & (nw - 1)) != 0) || nw > BLOOM_MAX_WORDS)
        return OWL_ECORRUPT;
    if ((len - BLOOM_HDR) / 8 != nw || (len - BLOOM_HDR) % 8 != 0)
        return OWL_ECORRUPT;
    b->le = p + BLOOM_HDR;
    b->nwords = nw;
    b->k = p[1];
    b->exact = p[0] == 2;
    return OWL_OK;
}

int owl_bloom_decode(const uint8_t *p, size_t len, owl_bloom *b)
{
    if (owl_bloom_view(p, len, b) != OWL_OK)
        return OWL_ECORRUPT;
    uint64_t *w = malloc((size_t)b->nwords * sizeof *w);
    if (!w) {
        memset(b, 0, sizeof *b);
        return OWL_ENOMEM;
    }
    for (uint32_t i = 0; i < b->nwords; i++)
        w[i] = owl_get64le(b->le + 8 * (size_t)i);
    b->words = w;
    b->le = NULL;
    b->owned = 1;
    return OWL_OK;
}

/* ---- tokens ---- */

/* 1 for bytes that belong to a token: ASCII letters, digits, '_' and every byte >= 0x80. */
const uint8_t owl_token_bytes[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['_'] = 1, ['a' ... 'z'] = 1, [0x80 ... 0xff] = 1,
};

#ifdef __SSE2__
/* Bit i: byte i of v lies in lo .. lo + n - 1 (unsigned: v - lo, wrapped, is at most n - 1). */
static inline unsigned in_range16(__m128i v, uint8_t lo, uint8_t n)
{
    __m128i t = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((char)(n - 1))), t));
}

/* The token bytes and the digits of the 64 bytes at p. */
static inline void classify64(const uint8_t *p, uint64_t *tok, uint64_t *dig)
{
    uint64_t t = 0, d = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        unsigned dg = in_range16(v, '0', 10);
        unsigned al = in_range16(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26);
        unsigned us = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
        unsigned hi = (unsigned)_mm_movemask_epi8(v); /* bytes >= 0x80 */
        t |= (uint64_t)(dg | al | us | hi) << (16 * k);
        d |= (uint64_t)dg << (16 * k);
    }
    *tok = t, *dig = d;
}
#else
static inline void classify64(const uint8_t *p, uint64_t *tok, uint64_t *dig)
{
    uint64_t t = 0, d = 0;
    for (int k = 0; k < 64; k++) {
        t |= (uint64_t)owl_token_bytes[p[k]] << k;
        d |= (uint64_t)((unsigned)(p[k] - '0') < 10u) << k;
    }
    *tok = t, *dig = d;
}
#endif

void owl_token_masks(const uint8_t *u, size_t n, uint64_t *tok, uint64_t *nondigit)
{
    for (size_t w = 0; 64 * w < n; w++) {
        uint64_t t, d;
        if (n - 64 * w >= 64) {
            classify64(u + 64 * w, &t, &d);
        } else { /* the tail, padded with NULs (separators) */
            uint8_t tail[64] = {0};
            memcpy(tail, u + 64 * w, n - 64 * w);
            classify64(tail, &t, &d);
        }
        tok[w] = t, nondigit[w] = t & ~d;
    }
}

int owl_tokenize(const char *s, size_t n, owl_token_fn fn, void *ud)
{
    size_t i = 0, start;
    unsigned digits;
    while (owl_token_next((const uint8_t *)s, n, &i, &start, &digits)) {
        int rc = fn(ud, s + start, i - start);
        if (rc != 0)
            return rc;
    }
    return 0;
}

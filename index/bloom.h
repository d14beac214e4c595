/* bloom.h — bloom filters for block pruning (message tokens, trace ids) and the tokenizer
 * that decides what a "token" is (private to index/).
 *
 * Serialized form (inside part footers):
 *   0  1  version: 1 (w a power of two, probe bit = p mod 64w) or 2 (any w, probe bit =
 *         ((p mod 2^32) * 64w) >> 32; written since part format 3: sized exactly)
 *   1  1  k, number of probes (1..16)
 *   2  4  number of 64-bit words w, little-endian (1 .. 2^26)
 *   6  8w the bit words, little-endian
 * Probes use double hashing over one 64-bit hash of the item: p_i = h1 + i*h2 with h1 its
 * low and h2 its high 32 bits (made odd); the hash is owl_hash64 of the item, or, with a
 * salt, owl_mix64 of (that hash xor the salt); both from common/hash.h. */
#ifndef OWL_BLOOM_H
#define OWL_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "common/hash.h"

typedef struct owl_bloom {
    uint64_t *words; /* owned when `owned` (NULL for a view) */
    const uint8_t *le; /* a view (owl_bloom_view): the serialized little-endian words */
    uint32_t nwords; /* power of two */
    uint8_t k;
    uint8_t exact; /* 1: version 2 (any nwords, multiply-shift probes); 0: version 1 */
    int owned;
    uint64_t salt; /* not serialized: the owner's per-filter salt (0 = none); items are then
                      probed by mix(h ^ salt), so filters of similar content built with
                      different salts give independent false positives */
} owl_bloom;

/* owl_bloom_init — sizes the filter for `items` distinct items at false-positive rate fp
 * (e.g. 0.01). OWL_OK, OWL_EINVAL (fp outside (0,1)), OWL_ENOMEM. */
int owl_bloom_init(owl_bloom *b, size_t items, double fp);

/* owl_bloom_free — releases owned memory. Accepts NULL. */
void owl_bloom_free(owl_bloom *b);

void owl_bloom_add(owl_bloom *b, const void *p, size_t n);
void owl_bloom_add_hash(owl_bloom *b, uint64_t h);

/* owl_bloom_maybe — 0 when the item was certainly never added, 1 when it may have been. */
int owl_bloom_maybe(const owl_bloom *b, const void *p, size_t n);
int owl_bloom_maybe_hash(const owl_bloom *b, uint64_t h);

/* owl_bloom_encode — appends the serialized form. */
int owl_bloom_encode(const owl_bloom *b, owl_buf *out);

/* owl_bloom_decode — reads a filter from p (len bytes); copies the words (owned).
 * OWL_ECORRUPT on a bad version, k, size or length. */
int owl_bloom_decode(const uint8_t *p, size_t len, owl_bloom *b);

/* owl_bloom_view — the same checks, but b reads the words in place (p must outlive b and
 * may be unaligned): no copy, for the blooms of a part footer kept in memory. A view is
 * queried like any filter; adding to it is not allowed (a no-op). */
int owl_bloom_view(const uint8_t *p, size_t len, owl_bloom *b);

/* Tokens are maximal runs of ASCII letters, digits and '_' , and of bytes >= 0x80 (so UTF-8
 * words stay whole); everything else separates. Case is kept (filter patterns are
 * case-sensitive). */
typedef int (*owl_token_fn)(void *ud, const char *tok, size_t n);

/* owl_token_bytes[c] — 1 when byte c belongs to a token (the class above). */
extern const uint8_t owl_token_bytes[256];

static inline int owl_is_token_byte(unsigned char c)
{
    return owl_token_bytes[c];
}

/* owl_token_next — finds the next token of u[0..n) from *i on: 1 with the token at
 * u[*start..*i) and *digits 1 when all its bytes are decimal digits; 0 when none is left.
 * The one token scanner: owl_tokenize and the part writer's bloom builder both walk with it. */
static inline int owl_token_next(const uint8_t *u, size_t n, size_t *i, size_t *start,
                                 unsigned *digits)
{
    size_t k = *i;
    while (k < n && !owl_token_bytes[u[k]])
        k++;
    *start = k;
    unsigned d = 1;
    while (k < n && owl_token_bytes[u[k]]) {
        d &= (unsigned)(u[k] - '0') < 10u;
        k++;
    }
    *i = k;
    *digits = d;
    return k > *start;
}

/* owl_token_masks — the token bytes of u[0..n) as bit masks, for scanning many short tokens
 * without a branch per byte: bit i % 64 of tok[i / 64] is set when u[i] is a token byte, of
 * nondigit[i / 64] when it is a token byte but not a decimal digit; bits from n on are 0.
 * Each array holds (n + 63) / 64 words. 16 bytes at a time with SSE2 where there is SSE2. */
void owl_token_masks(const uint8_t *u, size_t n, uint64_t *tok, uint64_t *nondigit);

/* A walk over the tokens owl_token_masks found: the same tokens, in the same order, as
 * owl_token_next finds (the unit tests compare the two). */
typedef struct owl_token_walk {
    const uint64_t *tok, *nondigit;
    size_t nw, w;  /* words in all, the word being walked */
    uint64_t bits; /* token bytes of word w not yet walked */
} owl_token_walk;

static inline void owl_token_walk_init(owl_token_walk *k, const uint64_t *tok,
                                       const uint64_t *nondigit, size_t n)
{
    k->tok = tok, k->nondigit = nondigit, k->nw = (n + 63) / 64, k->w = 0;
    k->bits = k->nw ? tok[0] : 0;
}

/* The next token: 1 with it at [*start, *start + *len) and *digits 1 when all its bytes are
 * decimal digits; 0 when none is left. A token's ends are the lowest set and then clear bits
 * (count trailing zeros); only a token that crosses a word boundary loops. */
static inline int owl_token_walk_next(owl_token_walk *k, size_t *start, size_t *len,
                                      unsigned *digits)
{
    while (!k->bits) {
        if (++k->w >= k->nw)
            return 0;
        k->bits = k->tok[k->w];
    }
    size_t a = 64 * k->w + (size_t)__builtin_ctzll(k->bits), w0 = k->w;
    uint64_t rest = ~k->tok[k->w] & (~0ull << (a & 63));
    while (!rest && ++k->w < k->nw)
        rest = ~k->tok[k->w];
    size_t e = rest ? 64 * k->w + (size_t)__builtin_ctzll(rest) : 64 * k->nw;
    k->bits = rest ? k->tok[k->w] & (~0ull << (e & 63)) : 0;
    uint64_t other = 0;
    for (size_t w = w0; w <= (e - 1) / 64; w++) {
        uint64_t m = ~0ull;
        if (w == w0)
            m &= ~0ull << (a & 63);
        if (w == (e - 1) / 64)
            m &= ~0ull >> (63 - ((e - 1) & 63));
        other |= k->nondigit[w] & m;
    }
    *start = a, *len = e - a, *digits = !other;
    return 1;
}

/* owl_tokenize — calls fn for each token of s in order; stops early when fn returns non-zero
 * and returns that value, else 0. */
int owl_tokenize(const char *s, size_t n, owl_token_fn fn, void *ud);

#endif

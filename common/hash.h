/* hash.h — the 64-bit hashes of owl (not cryptographic).
 *
 * owl_hash64 is part of the on-disk format: bloom filter items in parts are
 * owl_hash64(bytes, n, 0) (index/part.h), so its output for a given (bytes, seed) must never
 * change; tests/unit/test_common.c pins known values. owl_hash64_keyed (SipHash-2-4) is for
 * in-memory tables whose keys come from outside (ids, names): with a random key per table,
 * chosen keys cannot pile up in one chain. */
#ifndef OWL_HASH_H
#define OWL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/endian.h"

/* Odd multipliers with well spread bits (golden ratio and other common mixing constants). */
#define OWL__HK0 0x9e3779b97f4a7c15ull
#define OWL__HK1 0xd6e8feb86659fd93ull
#define OWL__HK2 0xa0761d6478bd642full
#define OWL__HK3 0xbf58476d1ce4e5b9ull
#define OWL__HK4 0x94d049bb133111ebull

/* One absorption step: a bijection of h for a fixed word, so equal-length inputs that differ
 * in exactly one word can never collide before the (also bijective) finalizer. */
static inline uint64_t owl__hash_absorb(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= OWL__HK1;
    return h ^ (h >> 29);
}

static inline uint64_t owl__hash_finish(uint64_t h)
{
    h ^= h >> 31;
    h *= OWL__HK3;
    h ^= h >> 27;
    h *= OWL__HK4;
    return h ^ (h >> 33);
}

/* owl_hash64 — a fast, well-mixed 64-bit hash of n bytes of p (p may be NULL when n is 0);
 * the seed selects an independent function. Stable across versions and platforms (reads
 * little-endian). Cannot fail. */
uint64_t owl_hash64(const void *p, size_t n, uint64_t seed);

/* owl_hash64_16 — owl_hash64(p, 16, seed), inline: a span's trace key is the hash of its
 * 16-byte trace id, a few instructions once the length is known, where the call with its
 * loop took about fifty. */
static inline uint64_t owl_hash64_16(const void *p, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = (seed ^ OWL__HK0) + 16 * OWL__HK2;
    h = owl__hash_absorb(h, owl_get64le(s));
    h = owl__hash_absorb(h, owl_get64le(s + 8));
    return owl__hash_finish(h);
}

/* owl_mix64 — a bijective 64-bit mix (owl_hash64's finalizer): distinct inputs give distinct
 * outputs. On disk too (salted bloom probes, index/bloom.h). Cannot fail. */
static inline uint64_t owl_mix64(uint64_t x)
{
    return owl__hash_finish(x);
}

/* owl_hash64_keyed — SipHash-2-4 of n bytes of p under the 128-bit key (key[0] = k0, the
 * first 8 key bytes read little-endian, key[1] = k1), equal to the reference SipHash-2-4.
 * Cannot fail. */
uint64_t owl_hash64_keyed(const uint64_t key[2], const void *p, size_t n);

#endif

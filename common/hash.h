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

/* owl_hash64 — a fast, well-mixed 64-bit hash of n bytes of p (p may be NULL when n is 0);
 * the seed selects an independent function. Stable across versions and platforms (reads
 * little-endian). Cannot fail. */
uint64_t owl_hash64(const void *p, size_t n, uint64_t seed);

/* owl_mix64 — a bijective 64-bit mix (owl_hash64's finalizer): distinct inputs give distinct
 * outputs. On disk too (salted bloom probes, index/bloom.h). Cannot fail. */
uint64_t owl_mix64(uint64_t x);

/* owl_hash64_keyed — SipHash-2-4 of n bytes of p under the 128-bit key (key[0] = k0, the
 * first 8 key bytes read little-endian, key[1] = k1), equal to the reference SipHash-2-4.
 * Cannot fail. */
uint64_t owl_hash64_keyed(const uint64_t key[2], const void *p, size_t n);

#endif

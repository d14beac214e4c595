/* hash.c — owl_hash64 (a multiply-xorshift absorb over 8-byte words with a bijective
 * finalizer, hash.h's steps; its output is part of the part format, see hash.h) and
 * SipHash-2-4. */
#include "common/hash.h"

#include "common/endian.h"

uint64_t owl_hash64(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = (seed ^ OWL__HK0) + (uint64_t)n * OWL__HK2;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = owl__hash_absorb(h, owl_get64le(s + i));
    size_t rem = n - i;
    if (rem >= 4) {
        /* two overlapping 4-byte reads cover 4..7 bytes without a byte loop */
        h = owl__hash_absorb(h, owl_get32le(s + i) | (uint64_t)owl_get32le(s + i + rem - 4) << 32);
    } else if (rem > 0) {
        /* first, middle and last byte cover 1..3 bytes (the length tells them apart) */
        uint64_t w = (uint64_t)s[i] | (uint64_t)s[i + rem / 2] << 8 |
                     (uint64_t)s[i + rem - 1] << 16;
        h = owl__hash_absorb(h, w);
    }
    return owl__hash_finish(h);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                  \
    do {                                                                          \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                  \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                    \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                    \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                  \
    } while (0)

uint64_t owl_hash64_keyed(const uint64_t key[2], const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = owl_get64le(s + i);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t b = (uint64_t)n << 56;
    for (size_t j = 0; i + j < n; j++)
        b |= (uint64_t)s[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

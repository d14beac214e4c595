/* hash.c — owl_hash64 (a multiply-xorshift absorb over 8-byte words with a bijective
 * finalizer; its output is part of the part format, see hash.h) and SipHash-2-4. */
#include "common/hash.h"

#include "common/endian.h"

/* Odd multipliers with well spread bits (golden ratio and other common mixing constants). */
#define HK0 0x9e3779b97f4a7c15ull
#define HK1 0xd6e8feb86659fd93ull
#define HK2 0xa0761d6478bd642full
#define HK3 0xbf58476d1ce4e5b9ull
#define HK4 0x94d049bb133111ebull

/* One absorption step: a bijection of h for a fixed word, so equal-length inputs that differ
 * in exactly one word can never collide before the (also bijective) finalizer. */
static inline uint64_t absorb(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= HK1;
    return h ^ (h >> 29);
}

static inline uint64_t finish(uint64_t h)
{
    h ^= h >> 31;
    h *= HK3;
    h ^= h >> 27;
    h *= HK4;
    return h ^ (h >> 33);
}

uint64_t owl_mix64(uint64_t x)
{
    return finish(x);
}

uint64_t owl_hash64(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = (seed ^ HK0) + (uint64_t)n * HK2;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = absorb(h, owl_get64le(s + i));
    size_t rem = n - i;
    if (rem >= 4) {
        /* two overlapping 4-byte reads cover 4..7 bytes without a byte loop */
        h = absorb(h, owl_get32le(s + i) | (uint64_t)owl_get32le(s + i + rem - 4) << 32);
    } else if (rem > 0) {
        /* first, middle and last byte cover 1..3 bytes (the length tells them apart) */
        uint64_t w = (uint64_t)s[i] | (uint64_t)s[i + rem / 2] << 8 |
                     (uint64_t)s[i + rem - 1] << 16;
        h = absorb(h, w);
    }
    return finish(h);
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

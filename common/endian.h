/* endian.h — little-endian loads and stores of fixed-width integers, the byte order of every
 * owl on-disk format. Byte-wise, so alignment never matters; compilers fold them into
 * single moves on little-endian machines. */
#ifndef OWL_ENDIAN_H
#define OWL_ENDIAN_H

#include <stdint.h>

static inline void owl_put32le(void *dst, uint32_t v)
{
    unsigned char *p = dst;
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void owl_put64le(void *dst, uint64_t v)
{
    unsigned char *p = dst;
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t owl_get32le(const void *src)
{
    const unsigned char *p = src;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t owl_get64le(const void *src)
{
    const unsigned char *p = src;
    return (uint64_t)owl_get32le(p) | (uint64_t)owl_get32le(p + 4) << 32;
}

#endif

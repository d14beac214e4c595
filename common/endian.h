/* endian.h — little-endian loads and stores of fixed-width integers, the byte order of every
 * owl on-disk format. Byte-wise, so alignment never matters; compilers fold them into
 * single moves on little-endian machines. */
#ifndef OWL_ENDIAN_H
#define OWL_ENDIAN_H

#include <stdint.h>

/* Stores are spelled out byte by byte (no loop) so that store merging turns them into one
 * move, as loads already are; a loop stayed a loop at -O2. */
static inline void owl_put32le(void *dst, uint32_t v)
{
    unsigned char *p = dst;
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void owl_put64le(void *dst, uint64_t v)
{
    unsigned char *p = dst;
    owl_put32le(p, (uint32_t)v);
    owl_put32le(p + 4, (uint32_t)(v >> 32));
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

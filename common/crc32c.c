/* crc32c.c — CRC-32C, reflected polynomial 0x82F63B78; hardware path on x86-64 SSE4.2. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
}

uint32_t owl_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    pthread_once(&table_once, table_init);
    crc = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= crc;
        crc = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
              table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^
              table[2][(w >> 40) & 0xFF] ^ table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *s++) & 0xFF];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* Three lanes: a crc32 instruction takes three cycles and one can start every cycle, so one
 * chain of them runs at a third of the speed the core allows. From 3 x LANE bytes on, three
 * chains run side by side over three consecutive LANE-byte stretches and are then joined: the
 * crc over a stretch and LANE bytes more is the first's crc carried over LANE zero bytes,
 * XORed with the crc from 0 of the LANE bytes. Carrying over zeros is linear in the crc's
 * bits, so it is four table lookups, one per byte (lane_shift). A WAL record of a span batch
 * is hundreds of kilobytes. */
#define LANE 512

static uint32_t lane_tab[4][256]; /* lane_tab[k][b]: b << 8k carried over LANE zero bytes */
static pthread_once_t lane_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static void lane_init(void)
{
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint64_t c = (uint64_t)b << (8 * k);
            for (size_t i = 0; i < LANE; i += 8)
                c = __builtin_ia32_crc32di(c, 0);
            lane_tab[k][b] = (uint32_t)c;
        }
}

static inline uint64_t lane_shift(uint64_t c)
{
    return lane_tab[0][c & 0xFF] ^ lane_tab[1][(c >> 8) & 0xFF] ^ lane_tab[2][(c >> 16) & 0xFF] ^
           lane_tab[3][(c >> 24) & 0xFF];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    if (n >= 3 * LANE)
        pthread_once(&lane_once, lane_init);
    while (n >= 3 * LANE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < LANE; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, s + i, 8);
            memcpy(&w1, s + LANE + i, 8);
            memcpy(&w2, s + 2 * LANE + i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = lane_shift(lane_shift(c) ^ c1) ^ c2;
        s += 3 * LANE;
        n -= 3 * LANE;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = __builtin_ia32_crc32di(c, w);
        s += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *s++);
    return ~c32;
}

uint32_t owl_crc32c(uint32_t crc, const void *p, size_t n)
{
    static int have_hw = -1; /* threads may race to set it, to the same value: atomic */
    int hw = __atomic_load_n(&have_hw, __ATOMIC_RELAXED);
    if (hw < 0) {
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&have_hw, hw, __ATOMIC_RELAXED);
    }
    return hw ? crc32c_hw(crc, p, n) : owl_crc32c_sw(crc, p, n);
}
#else
uint32_t owl_crc32c(uint32_t crc, const void *p, size_t n)
{
    return owl_crc32c_sw(crc, p, n);
}
#endif

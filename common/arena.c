/* arena.c — the bump allocator of arena.h: a list of blocks, newest first; a value too big
 * for an ordinary block gets its own block, linked behind the current one so the current
 * block keeps taking small values. */
#include "common/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define DEFAULT_BLOCK ((size_t)1 << 20)
#define ALIGN 8
#define SMALL_START ((size_t)64 << 10) /* a big arena's first block */

struct owl_arena_block {
    struct owl_arena_block *next;
    size_t used, cap;
    _Alignas(ALIGN) char data[];
};

void owl_arena_init(owl_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : DEFAULT_BLOCK;
    a->bytes = 0;
    a->cur = a->end = NULL;
    a->spare = NULL;
    a->big = 0;
}

void owl_arena_init_big(owl_arena *a, size_t block_bytes)
{
    owl_arena_init(a, block_bytes > 2 * sizeof(struct owl_arena_block)
                          ? block_bytes - sizeof(struct owl_arena_block)
                          : 0);
    a->big = 1;
}

/* Full-size blocks of ordinary arenas, kept when their arena is freed for the next arena of
 * that block size (a decoded request's arena lives for one request). malloc'd anew each
 * time, they landed on fresh heap pages whenever longer-lived allocations had moved the
 * heap's top on since the request before (a third of owld's page faults under span ingest
 * with owl_spares, util.h). Up to POOL_SIZES block sizes and POOL_BYTES in all. Not under
 * AddressSanitizer, which then still sees a use of a freed arena's memory. */
#define POOL_SIZES 4
#define POOL_BYTES ((size_t)16 << 20)

static struct {
    pthread_mutex_t mu;
    size_t cap[POOL_SIZES]; /* block size of each list (0: unused yet) */
    struct owl_arena_block *head[POOL_SIZES];
    size_t bytes;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct owl_arena_block *pool_take(size_t cap)
{
    struct owl_arena_block *b = NULL;
    pthread_mutex_lock(&pool.mu);
    for (size_t k = 0; k < POOL_SIZES && !b; k++)
        if (pool.cap[k] == cap && (b = pool.head[k])) {
            pool.head[k] = b->next;
            pool.bytes -= cap;
        }
    pthread_mutex_unlock(&pool.mu);
    return b;
}

static int pool_give(struct owl_arena_block *b)
{
    int kept = 0;
    pthread_mutex_lock(&pool.mu);
    if (pool.bytes + b->cap <= POOL_BYTES)
        for (size_t k = 0; k < POOL_SIZES && !kept; k++)
            if (pool.cap[k] == b->cap || !pool.cap[k]) {
                pool.cap[k] = b->cap;
                b->next = pool.head[k];
                pool.head[k] = b;
                pool.bytes += b->cap;
                kept = 1;
            }
    pthread_mutex_unlock(&pool.mu);
    return kept;
}

static struct owl_arena_block *block_new(const owl_arena *a, size_t cap)
{
    struct owl_arena_block *b;
    if (a->big)
        return owl_big_alloc(sizeof(struct owl_arena_block) + cap);
    if (OWL_ARENA_POOLED && cap == a->block_size && (b = pool_take(cap)))
        return b;
    return malloc(sizeof(struct owl_arena_block) + cap);
}

static void block_free(const owl_arena *a, struct owl_arena_block *b)
{
    if (a->big)
        owl_big_free(b, sizeof *b + b->cap);
    else if (!OWL_ARENA_POOLED || b->cap != a->block_size || !pool_give(b))
        free(b);
}

/* n bytes at offset `used` rounded up to align in some block. */
static void *take(owl_arena *a, size_t n, size_t align)
{
    struct owl_arena_block *b = a->head;
    if (b) /* what owl_arena_copy's fast path took since */
        b->used = (size_t)(a->cur - b->data);
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
    if (!b || at > b->cap || b->cap - at < n) {
        int big = n > a->block_size / 4;
        size_t cap = big ? n : a->block_size;
        if (!big && a->big && a->bytes < a->block_size) {
            /* a big arena starts small (a memtable of a quiet partition stays small): blocks
             * as large as what it holds already, from 64 KiB up to block_size */
            cap = a->bytes > SMALL_START ? a->bytes : SMALL_START;
            if (cap < n)
                cap = n;
            if (cap > a->block_size)
                cap = a->block_size;
        }
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        struct owl_arena_block *nb = a->spare;
        if (!big && nb) /* kept blocks are full-size: room for any ordinary request */
            a->spare = nb->next, cap = nb->cap;
        else if (!(nb = block_new(a, cap)))
            return NULL;
        nb->used = 0, nb->cap = cap;
        if (b && big) { /* behind the current block, which keeps taking small values */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
        at = 0;
    }
    b->used = at + n;
    a->bytes += n;
    a->cur = a->head->data + a->head->used;
    a->end = a->head->data + a->head->cap;
    return b->data + at;
}

void *owl_arena_alloc(owl_arena *a, size_t n)
{
    return take(a, n, ALIGN);
}

void *owl_arena__copy_slow(owl_arena *a, const void *p, size_t n)
{
    void *dst = take(a, n, 1);
    if (dst && n)
        memcpy(dst, p, n);
    return dst;
}

void owl_arena_reset(owl_arena *a)
{
    if (!a)
        return;
    struct owl_arena_block *b = a->head;
    while (b) {
        struct owl_arena_block *next = b->next;
        if (b->cap == a->block_size) {
            b->next = a->spare;
            a->spare = b;
        } else {
            block_free(a, b);
        }
        b = next;
    }
    a->head = NULL;
    a->bytes = 0;
    a->cur = a->end = NULL;
}

static void free_list(const owl_arena *a, struct owl_arena_block *b)
{
    while (b) {
        struct owl_arena_block *next = b->next;
        block_free(a, b);
        b = next;
    }
}

void owl_arena_free(owl_arena *a)
{
    if (!a)
        return;
    free_list(a, a->head);
    free_list(a, a->spare);
    a->spare = NULL;
    a->head = NULL;
    a->bytes = 0;
    a->cur = a->end = NULL;
}

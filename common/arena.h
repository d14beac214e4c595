/* arena.h — a bump allocator for many small values freed together (memtable bytes, decoded
 * documents). Memory handed out never moves and stays valid until owl_arena_free, so readers
 * may keep pointers into it while a writer keeps allocating (given they learnt the pointer
 * through a lock or an acquire load). Not thread-safe for concurrent allocation. */
#ifndef OWL_ARENA_H
#define OWL_ARENA_H

#include <stddef.h>
#include <string.h>

struct owl_arena_block;

/* OWL_ARENA_POOLED — 1 when freed arenas' full-size blocks are kept for the next arenas of
 * their size (arena.c); 0 under AddressSanitizer, which then sees every use of freed arena
 * memory. */
#if defined(__SANITIZE_ADDRESS__)
#define OWL_ARENA_POOLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OWL_ARENA_POOLED 0
#endif
#endif
#ifndef OWL_ARENA_POOLED
#define OWL_ARENA_POOLED 1
#endif

typedef struct owl_arena {
    struct owl_arena_block *head; /* the block being filled; older (and big) ones behind */
    size_t block_size;            /* bytes per ordinary block */
    size_t bytes;                 /* bytes handed out so far (without alignment padding) */
    char *cur, *end;              /* the head block's free room (NULL before the first block):
                                     owl_arena_copy's fast path bumps cur */
    struct owl_arena_block *spare; /* ordinary blocks kept by owl_arena_reset, used first */
    int big;                       /* blocks from owl_big_alloc (owl_arena_init_big) */
} owl_arena;

/* owl_arena_init — an empty arena whose blocks hold block_size bytes (0 = 1 MiB). Allocates
 * nothing; cannot fail. */
void owl_arena_init(owl_arena *a, size_t block_size);

/* owl_arena_init_big — an empty arena whose blocks take block_bytes each, header included,
 * from owl_big_alloc (util.h): with block_bytes a multiple of 2 MiB, every block is whole
 * huge pages. Until it holds block_bytes, its blocks are smaller (from 64 KiB, each as large
 * as what the arena holds), so a small arena stays small; reset keeps only full-size blocks.
 * For arenas that fill and refill many megabytes (memtables). Cannot fail. */
void owl_arena_init_big(owl_arena *a, size_t block_bytes);

/* owl_arena_alloc — n bytes aligned to 8, valid until owl_arena_free. A request over a quarter
 * of block_size gets a block of its own (so big values do not waste the current block).
 * n == 0 gives a valid pointer to no bytes. NULL when out of memory (the arena is unchanged). */
void *owl_arena_alloc(owl_arena *a, size_t n);

/* owl_arena__copy_slow — owl_arena_copy when the head block has no room (internal). */
void *owl_arena__copy_slow(owl_arena *a, const void *p, size_t n);

/* owl_arena_copy — a copy of the n bytes at p, without alignment (byte strings pack tightly);
 * p may be NULL when n == 0. NULL when out of memory. Inline: a memtable append makes one
 * call per value, and the common case is a bump of cur. */
static inline void *owl_arena_copy(owl_arena *a, const void *p, size_t n)
{
    char *d = a->cur;
    if (!d || (size_t)(a->end - d) < n)
        return owl_arena__copy_slow(a, p, n);
    a->cur = d + n;
    a->bytes += n;
    if (n)
        memcpy(d, p, n);
    return d;
}

/* owl_arena_reset — forgets every value but keeps the ordinary blocks (big ones are freed)
 * for the allocations to come: memory already mapped, no page faults on refill. Every
 * pointer handed out before is invalid afterwards. Accepts NULL. */
void owl_arena_reset(owl_arena *a);

/* owl_arena_free — frees every block; the arena is then empty and reusable (block_size kept).
 * An ordinary arena's full-size blocks go to a process-wide pool (up to 16 MiB, 4 block
 * sizes; OWL_ARENA_POOLED) that the next arenas of that block size take from first.
 * Accepts NULL. */
void owl_arena_free(owl_arena *a);

#endif

/* util.h — small helpers: random bytes, hex, constant-time compare, file durability, running
 * the parts of a job on threads. */
#ifndef OWL_UTIL_H
#define OWL_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OWL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* owl_strlcpy — copies src into dst (dstsz > 0), truncating; always NUL-terminates.
 * Returns strlen(src), so truncation happened when the result >= dstsz. */
size_t owl_strlcpy(char *dst, const char *src, size_t dstsz);

/* owl_random — fills p with n bytes from the kernel CSPRNG (getrandom). OWL_OK or OWL_EIO. */
int owl_random(void *p, size_t n);

/* owl_hex — writes 2n lowercase hex digits and a NUL into out (2n+1 bytes). */
void owl_hex(const void *p, size_t n, char *out);

/* owl_hex_digit — the value of hex digit c (either case), or -1 when c is not one. */
static inline int owl_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* owl_big_alloc — n bytes for a long-lived buffer that is filled and refilled (memtables, seal
 * buffers). From OWL_BIG_MIN bytes on, the memory is mapped on its own, aligned to 2 MiB and
 * offered to the kernel for transparent huge pages (madvise MADV_HUGEPAGE; where the kernel
 * does not take the advice it is ordinary memory): one fault per 2 MiB instead of 512 (the
 * kernel's zeroing of each fresh page stays; docs/storage.md, Huge pages). Smaller ones come
 * from malloc; callers must not count on zeroed memory. NULL when out of memory. */
#define OWL_BIG_MIN ((size_t)2 << 20)
void *owl_big_alloc(size_t n);

/* owl_big_free — frees p, which owl_big_alloc(n) gave, with the same n. Accepts NULL. */
void owl_big_free(void *p, size_t n);

/* owl_spares — a few large arrays that each request fills and drops (a decoded request's
 * spans, the cells a put hands the store), kept for the next request instead of freed.
 * Allocated anew each time, such an array (megabytes for a request of 5,000 spans) landed on
 * fresh pages whenever smaller, longer-lived allocations had moved the heap's top on since
 * the last one: a third of owld's page faults under span ingest (docs/storage.md, Huge
 * pages). Arrays of more than keep_max bytes are not kept. Thread-safe; initialise with
 * OWL_SPARES_INIT(keep_max), free with owl_spares_free. */
#define OWL_SPARES 4 /* about one per worker thread */
typedef struct owl_spares {
    pthread_mutex_t mu;
    size_t keep_max;
    void *v[OWL_SPARES];
    size_t cap[OWL_SPARES];
} owl_spares;
#define OWL_SPARES_INIT(keep_max) {PTHREAD_MUTEX_INITIALIZER, (keep_max), {0}, {0}}

/* owl_spares_take — an array of at least n bytes (n > 0), *cap set to its size: a kept one
 * when one is large enough, else a new one (malloc) of an eighth more than n, but no more
 * than keep_max unless n is. Its bytes are not zeroed. NULL when out of memory. */
void *owl_spares_take(owl_spares *s, size_t n, size_t *cap);

/* owl_spares_give — keeps p (cap bytes, from owl_spares_take or malloc) for a later take: in
 * an empty place, else in place of the smallest kept array when p is larger; frees whatever
 * is not kept. Accepts NULL. */
void owl_spares_give(owl_spares *s, void *p, size_t cap);

/* owl_spares_free — frees the kept arrays (s stays usable). */
void owl_spares_free(owl_spares *s);

/* owl_write_all — writes all n bytes at the file offset, retrying short writes and EINTR.
 * 0, or the errno of the failure (EIO when a write made no progress and set none). */
int owl_write_all(int fd, const void *p, size_t n);

/* owl_pwrite_all — the same at offset off (pwrite). */
int owl_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* owl_pwritev_all — writes every byte of iov[0..iovcnt) at off (pwritev), retrying short
 * writes and EINTR; advances through iov and may change its entries. 0 or the errno. */
struct iovec;
int owl_pwritev_all(int fd, struct iovec *iov, int iovcnt, uint64_t off);

/* owl_pread_full — reads n bytes at off, stopping early only at the end of the file;
 * *got = the bytes read. 0 or the errno of the failure. */
int owl_pread_full(int fd, void *p, size_t n, uint64_t off, size_t *got);

/* owl_ct_equal — constant-time comparison of two n-byte regions; 1 when equal. */
int owl_ct_equal(const void *a, const void *b, size_t n);

/* owl_fsync_dir — fsyncs the directory holding path's entry (path is a directory itself).
 * OWL_OK or an errno-mapped code. */
int owl_fsync_dir(const char *dir, owl_error *err);

/* owl_link_aside — hard-links the file at path into dir qdir under its own name (qdir
 * created 0700; ".1", ".2"... appended when another file already has the name; a link that
 * already names the same file, as after a recovery run again, is fine), then fsyncs qdir.
 * The file survives byte for byte whatever later happens to its name. OWL_OK, OWL_EINVAL (a
 * path too long), or the errno's code. */
int owl_link_aside(const char *path, const char *qdir, owl_error *err);

/* owl_mkdir_p — creates dir and its parents with mode (existing ones are fine). */
int owl_mkdir_p(const char *dir, unsigned mode, owl_error *err);

/* owl_write_file_atomic — writes n bytes to path via path.tmp + fsync + rename + dir fsync,
 * created with mode. On failure nothing at path changes and the temp file is removed. */
int owl_write_file_atomic(const char *path, const void *p, size_t n, unsigned mode,
                          owl_error *err);

/* owl_read_file — reads a whole file (at most max bytes) into a malloc'd buffer (NUL-
 * terminated; caller frees). OWL_ENOTFOUND, OWL_ETOOBIG, OWL_EIO. */
int owl_read_file(const char *path, size_t max, char **out, size_t *outlen, owl_error *err);

/* owl_run_parts — calls fn(jobs + i * size) for i in 0..n-1 at once: job 0 on the calling
 * thread, each other on a thread of its own (one whose thread cannot start runs on the
 * calling thread after job 0); returns once every job has. n <= OWL_RUN_PARTS_MAX. */
#define OWL_RUN_PARTS_MAX 8
void owl_run_parts(void *(*fn)(void *), void *jobs, size_t size, size_t n);

/* owl_cpus — the CPUs this process may run on (its affinity mask: `taskset -c 1 owld` has
 * one, though the machine has more), at least 1. */
size_t owl_cpus(void);

#endif

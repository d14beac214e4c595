/* util.c — randomness, hex, constant-time compare and the durable-file helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

size_t owl_strlcpy(char *dst, const char *src, size_t dstsz)
{
    size_t n = strlen(src);
    size_t c = n < dstsz ? n : dstsz - 1;
    memcpy(dst, src, c);
    dst[c] = '\0';
    return n;
}

int owl_random(void *p, size_t n)
{
    unsigned char *s = p;
    while (n) {
        ssize_t r = getrandom(s, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OWL_EIO;
        }
        s += r;
        n -= (size_t)r;
    }
    return OWL_OK;
}

void owl_hex(const void *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[s[i] >> 4];
        out[2 * i + 1] = hx[s[i] & 15];
    }
    out[2 * n] = '\0';
}

int owl_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

int owl_fsync_dir(const char *dir, owl_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", dir, strerror(errno));
    int rc = OWL_OK;
    if (fsync(fd) != 0)
        rc = owl_error_set(err, owl_err_from_errno(errno), "fsync %s: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int owl_mkdir_p(const char *dir, unsigned mode, owl_error *err)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return owl_error_set(err, OWL_EINVAL, "bad directory path");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST)
            return owl_error_set(err, owl_err_from_errno(errno), "mkdir %s: %s", path,
                                 strerror(errno));
        path[i] = c;
    }
    return OWL_OK;
}

/* Directory part of path ("." when there is none). */
static void dirname_of(const char *path, char *out, size_t outsz)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, outsz, ".");
    } else if (slash == path) {
        snprintf(out, outsz, "/");
    } else {
        snprintf(out, outsz, "%.*s", (int)(slash - path), path);
    }
}

int owl_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int owl_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *s = p;
    while (n) {
        ssize_t w = pwrite(fd, s, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        s += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int owl_pwritev_all(int fd, struct iovec *iov, int iovcnt, uint64_t off)
{
    for (;;) {
        while (iovcnt > 0 && iov->iov_len == 0)
            iov++, iovcnt--;
        if (iovcnt == 0)
            break;
        ssize_t w = pwritev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        off += (uint64_t)w;
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0 && left) { /* a short write ended inside iov[0] */
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int owl_pread_full(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    char *s = p;
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(fd, s + *got, n - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

int owl_write_file_atomic(const char *path, const void *p, size_t n, unsigned mode,
                          owl_error *err)
{
    char tmp[4096], dir[4096];
    int rc = OWL_OK;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return owl_error_set(err, OWL_EINVAL, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "create %s: %s", tmp,
                             strerror(errno));
    int e = owl_write_all(fd, p, n);
    if (e) {
        rc = owl_error_set(err, owl_err_from_errno(e), "write %s: %s", tmp, strerror(e));
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = owl_error_set(err, owl_err_from_errno(errno), "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    dirname_of(path, dir, sizeof dir);
    return owl_fsync_dir(dir, err);
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int owl_read_file(const char *path, size_t max, char **out, size_t *outlen, owl_error *err)
{
    int rc = OWL_OK;
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = owl_error_set(err, OWL_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = owl_error_set(err, OWL_ETOOBIG, "%s is larger than %zu bytes", path, max);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = owl_error_set(err, OWL_EIO, "read %s: %s", path, r ? strerror(errno) : "short");
            goto out;
        }
        got += (size_t)r;
    }
    data[got] = '\0';
    *out = data;
    *outlen = got;
    data = NULL;
out:
    free(data);
    close(fd);
    return rc;
}

int owl_link_aside(const char *path, const char *qdir, owl_error *err)
{
    char to[4096];
    struct stat a, b;
    const char *base = strrchr(path, '/');
    int rc;
    base = base ? base + 1 : path;
    if ((rc = owl_mkdir_p(qdir, 0700, err)) != OWL_OK)
        return rc;
    for (int k = 0;; k++) {
        if ((k ? snprintf(to, sizeof to, "%s/%s.%d", qdir, base, k)
               : snprintf(to, sizeof to, "%s/%s", qdir, base)) >= (int)sizeof to)
            return owl_error_set(err, OWL_EINVAL, "path too long");
        if (link(path, to) == 0)
            break;
        if (errno != EEXIST || k >= 1000)
            return owl_error_set(err, owl_err_from_errno(errno), "link %s -> %s: %s", path, to,
                                 strerror(errno));
        if (stat(path, &a) == 0 && stat(to, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            break;
    }
    return owl_fsync_dir(qdir, err);
}

/* Maps n bytes rounded up to 2 MiB, at an address aligned to 2 MiB (mapping 2 MiB more and
 * unmapping the ends), so every 2 MiB of it can be one huge page. */
void *owl_big_alloc(size_t n)
{
    if (n < OWL_BIG_MIN)
        return malloc(n ? n : 1);
    const size_t huge = OWL_BIG_MIN;
    if (n > SIZE_MAX - 2 * huge)
        return NULL;
    size_t len = (n + huge - 1) & ~(huge - 1);
    char *m = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (m + len + huge > p + len)
        munmap(p + len, (size_t)(m + len + huge - (p + len)));
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice: where THP is off, pages stay small */
    return p;
}

void owl_big_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n < OWL_BIG_MIN) {
        free(p);
        return;
    }
    munmap(p, (n + OWL_BIG_MIN - 1) & ~(OWL_BIG_MIN - 1));
}

void *owl_spares_take(owl_spares *s, size_t n, size_t *cap)
{
    void *p = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < OWL_SPARES && !p; k++)
        if (s->v[k] && s->cap[k] >= n) {
            p = s->v[k], *cap = s->cap[k];
            s->v[k] = NULL;
        }
    pthread_mutex_unlock(&s->mu);
    /* an eighth more (up to keep_max): requests vary a little in size, and a kept array
     * just too small for the next one would be replaced by a new one again and again */
    size_t want = n + n / 8 < n ? n : n + n / 8;
    if (want > s->keep_max)
        want = n > s->keep_max ? n : s->keep_max;
    if (!p && (p = malloc(want)))
        *cap = want;
    return p;
}

void owl_spares_give(owl_spares *s, void *p, size_t cap)
{
    if (!p || cap > s->keep_max) {
        free(p);
        return;
    }
    pthread_mutex_lock(&s->mu);
    size_t at = 0; /* an empty place, else the smallest array's */
    for (size_t k = 0; k < OWL_SPARES; k++) {
        if (!s->v[k]) {
            at = k;
            break;
        }
        if (s->cap[k] < s->cap[at])
            at = k;
    }
    if (!s->v[at] || s->cap[at] < cap) {
        void *old = s->v[at];
        s->v[at] = p, s->cap[at] = cap;
        p = old;
    }
    pthread_mutex_unlock(&s->mu);
    free(p);
}

void owl_spares_free(owl_spares *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < OWL_SPARES; k++) {
        free(s->v[k]);
        s->v[k] = NULL;
        s->cap[k] = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

size_t owl_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

void owl_run_parts(void *(*fn)(void *), void *jobs, size_t size, size_t n)
{
    pthread_t th[OWL_RUN_PARTS_MAX];
    int started[OWL_RUN_PARTS_MAX] = {0};
    char *job = jobs;
    for (size_t i = 1; i < n && i < OWL_RUN_PARTS_MAX; i++)
        started[i] = pthread_create(&th[i], NULL, fn, job + i * size) == 0;
    if (n)
        fn(job);
    for (size_t i = 1; i < n && i < OWL_RUN_PARTS_MAX; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            fn(job + i * size);
    }
}

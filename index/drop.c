/* drop.c — dropping a partition (owl_store_drop_partition, DeleteLogGroup): a WAL record puts
 * the drop in lsn order among the appends, and a marker file in the partition's directory
 * keeps what was written before it (WAL records, parts a crash left behind) from coming back
 * once the WAL no longer holds the drop. docs/storage.md "Dropping a partition".
 *
 * <table>/<tenant>/<partition>/DROPPED, 24 bytes, written by owl_write_file_atomic (tmp,
 * fsync, rename, directory fsync):
 *   OFFSET SIZE MEANING
 *   0      8    magic "OWLDROP\0"
 *   8      4    format version, 1
 *   12     8    L, the lsn of the drop record: rows of WAL records at or below L and parts
 *               whose max_lsn is at or below L are the dropped partition's
 *   20     4    crc32c of bytes 0..19
 * Any other size, magic, version or checksum fails the open (OWL_ECORRUPT), as a damaged
 * WAL checkpoint does: guessing could bring dropped rows back.
 *
 * Order of a drop (all under seal_mu, so no seal or compaction runs meanwhile):
 *  1. append the drop record (lsn L) and sync it;
 *  2. unlink RETENTION and fsync the directory, then write the marker: both before the drop
 *     takes its apply turn, so the WAL checkpoint (never past an lsn not yet applied) cannot
 *     pass L before the marker is durable;
 *  3. at its turn (every record below L applied, none above), under mu: remove every memtable
 *     and every part at or below L (unlinked once no scan reads them), mark the partition
 *     dropped; then remove the emptied day directories.
 * A crash before 2 is replayed from the WAL record, which redoes 2 and 3 unless a marker
 * already covers L. The marker stays until the WAL checkpoint has passed L and no day
 * directory is left (owl__drop_sweep); with a partition started again under the same names it
 * stays (its parts all have lsns above L). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/endian.h"
#include "index/store_int.h"

#define MARKER_MAGIC "OWLDROP"
#define MARKER_VERSION 1
#define MARKER_BYTES 24

static void marker_path(const struct ptn *p, char *out, size_t outsz)
{
    owl__pathf(out, outsz, "%s/DROPPED", p->dir);
}

int owl__drop_read_marker(struct ptn *p, owl_error *err)
{
    char path[4200];
    char *data = NULL;
    size_t n = 0;
    marker_path(p, path, sizeof path);
    owl_error rerr = {0};
    int rc = owl_read_file(path, 64, &data, &n, &rerr);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "%s", rerr.msg);
    const uint8_t *b = (const uint8_t *)data;
    if (n != MARKER_BYTES || memcmp(b, MARKER_MAGIC, 8) != 0 ||
        owl_get32le(b + 8) != MARKER_VERSION || owl_get32le(b + 20) != owl_crc32c(0, b, 20) ||
        owl_get64le(b + 12) == 0 || owl_get64le(b + 12) >= (uint64_t)1 << 63)
        rc = owl_error_set(err, OWL_ECORRUPT, "%s is not a valid drop marker (%zu bytes)", path,
                           n);
    else
        p->drop_lsn = owl_get64le(b + 12);
    free(data);
    return rc;
}

static int write_marker(const struct ptn *p, uint64_t lsn, owl_error *err)
{
    uint8_t b[MARKER_BYTES];
    char path[4200];
    memcpy(b, MARKER_MAGIC, 8); /* with its NUL */
    owl_put32le(b + 8, MARKER_VERSION);
    owl_put64le(b + 12, lsn);
    owl_put32le(b + 20, owl_crc32c(0, b, 20));
    marker_path(p, path, sizeof path);
    int rc = owl_mkdir_p(p->dir, 0700, err);
    return rc != OWL_OK ? rc : owl_write_file_atomic(path, b, sizeof b, 0600, err);
}

/* Step 2: RETENTION goes first, so that one found beside a marker at open was set after the
 * drop (by the partition started again). */
static int drop_durable(const struct ptn *p, uint64_t lsn, owl_error *err)
{
    char path[4200];
    owl__retention_path(p, path, sizeof path);
    if (unlink(path) == 0) {
        int rc = owl_fsync_dir(p->dir, err);
        if (rc != OWL_OK)
            return rc;
    } else if (errno != ENOENT) {
        return owl_error_set(err, owl_err_from_errno(errno), "unlink %s: %s", path,
                             strerror(errno));
    }
    return write_marker(p, lsn, err);
}

/* Step 3, under mu: every memtable (they hold records below lsn only, at the drop's turn or
 * in replay) and every part at or below lsn go; days left empty are removed and their
 * directories returned in *dirs (malloc'd, for the caller to rmdir and free). */
static void drop_memory_locked(owl_store *s, struct ptn *p, uint64_t lsn, char ***dirs,
                               size_t *ndirs)
{
    *dirs = calloc(p->ndays ? p->ndays : 1, sizeof **dirs);
    *ndirs = 0;
    for (size_t j = 0; j < p->ndays;) {
        struct day *d = p->days[j];
        for (size_t k = 0; k < d->nparts;) {
            struct part_ref *r = d->parts[k];
            if (owl_part_get_meta(r->p)->max_lsn > lsn) {
                k++;
                continue;
            }
            /* at once: the partition started again may seal a part of the same name while
             * a scan still reads this one (through its descriptor) */
            if (!r->quarantine && unlink(r->path) == 0)
                r->unlinked = 1;
            owl__unlist_part_locked(s, p, d, r);
        }
        for (size_t k = 0; k < d->nmems; k++) {
            p->mem_bytes -= d->mems[k]->raw_bytes;
            p->rows -= d->mems[k]->nrows;
            owl__mem_close_locked(s, d->mems[k]);
            if (--d->mems[k]->refs == 0)
                owl_mem_free(s, d->mems[k]);
        }
        d->nmems = 0;
        d->last_sealing = 0;
        if (d->nparts) {
            j++;
            continue;
        }
        if (*dirs)
            (*dirs)[(*ndirs)++] = owl__day_dir(p, d->day, d->last);
        owl__remove_day_locked(s, p, j);
    }
    p->retention_days = 0;
    p->dropped = p->ndays == 0;
}

static void remove_dirs(char **dirs, size_t n)
{
    /* a directory still holding a part a scan reads stays until owl__drop_sweep */
    for (size_t i = 0; dirs && i < n; i++) {
        if (dirs[i])
            rmdir(dirs[i]);
        free(dirs[i]);
    }
    free(dirs);
}

/* Step 3 with the bookkeeping of step 2's outcome. Caller holds seal_mu, not mu. */
static void drop_memory(owl_store *s, struct ptn *p, uint64_t lsn, int durable)
{
    char **dirs;
    size_t ndirs;
    pthread_mutex_lock(&s->mu);
    drop_memory_locked(s, p, lsn, &dirs, &ndirs);
    if (durable && lsn > p->drop_lsn)
        p->drop_lsn = lsn;
    if (!durable && lsn > p->drop_pending)
        p->drop_pending = lsn;
    pthread_mutex_unlock(&s->mu);
    remove_dirs(dirs, ndirs);
}

int owl__drop_apply(owl_store *s, struct ptn *p, uint64_t lsn, owl_error *err)
{
    int rc = OWL_OK;
    if (lsn > p->drop_lsn)
        rc = drop_durable(p, lsn, err);
    drop_memory(s, p, lsn, rc == OWL_OK);
    return rc;
}

int owl_store_drop_partition(owl_store *s, const char *table, const char *tenant,
                             const char *partition, owl_error *err)
{
    size_t t;
    if (owl__find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!owl__valid_name(tenant) || !owl__valid_name(partition))
        return owl_error_set(err, OWL_EINVAL, "tenant and partition names must be 1 to %d bytes",
                             NAME_MAX_LEN);
    int rc = OWL_OK;
    owl_buf rec = OWL_BUF_INIT;
    pthread_mutex_lock(&s->seal_mu);
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__find_ptn(s, t, tenant, partition);
    int found = p && !p->dropped;
    pthread_mutex_unlock(&s->mu);
    if (!found) {
        rc = owl_error_set(err, OWL_ENOTFOUND, "table %s has no partition %s of tenant %s",
                           table, partition, tenant);
        goto out;
    }
    if (owl__drop_record(table, tenant, partition, &rec) != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    struct iovec iov = {rec.data, rec.len};
    uint64_t lsn;
    if ((rc = owl_wal_append(s->wal, &iov, 1, &lsn, err)) != OWL_OK)
        goto out; /* nothing dropped */
    /* under SYNC_ALWAYS the append synced it; otherwise the drop must not wait for the
     * interval: it returns only once durable */
    if (s->opt.sync != OWL_SYNC_ALWAYS)
        rc = owl_wal_sync(s->wal, err);
    /* from here on the record is in the WAL: its turn must be taken whatever happens, or
     * every later append would wait for it */
    owl_error derr = {0};
    int drc = rc == OWL_OK ? drop_durable(p, lsn, &derr) : OWL_EIO;
    pthread_mutex_lock(&s->apply_mu);
    while (s->applied + 1 != lsn)
        pthread_cond_wait(&s->apply_cv, &s->apply_mu);
    pthread_mutex_unlock(&s->apply_mu);
    drop_memory(s, p, lsn, drc == OWL_OK);
    pthread_mutex_lock(&s->apply_mu);
    s->applied = lsn;
    pthread_cond_broadcast(&s->apply_cv);
    pthread_mutex_unlock(&s->apply_mu);
    if (rc == OWL_OK && drc != OWL_OK)
        rc = owl_error_set(err, drc, "partition %s dropped, but its marker is not written "
                           "yet (%s); the WAL keeps the drop until the janitor writes it",
                           partition, derr.msg);
out:
    pthread_mutex_unlock(&s->seal_mu);
    owl_buf_free(&rec);
    return rc;
}

/* ---------- the janitor ---------- */

/* Removes what a dropped partition left in its directory: empty day directories and
 * temporary files. 1 when nothing but the marker is left. Caller holds seal_mu. */
static int clear_leftovers(const struct ptn *p)
{
    DIR *dh = opendir(p->dir);
    if (!dh)
        return 0;
    int clear = 1;
    struct dirent *e;
    while ((e = readdir(dh))) {
        char path[4200];
        size_t len = strlen(e->d_name);
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "DROPPED"))
            continue;
        owl__pathf(path, sizeof path, "%s/%s", p->dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (rmdir(path) != 0)
                clear = 0; /* a part a scan still reads, unlinked when it ends */
        } else if (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")) {
            unlink(path);
        } else {
            clear = 0;
        }
    }
    closedir(dh);
    return clear;
}

/* The marker of p can go once the WAL checkpoint has passed its lsn and nothing else is in
 * the directory; then the directory goes too. Caller holds seal_mu. */
static void retire_marker(owl_store *s, struct ptn *p, uint64_t checkpoint)
{
    pthread_mutex_lock(&s->mu);
    int dropped = p->dropped && p->drop_lsn && !p->ndays;
    uint64_t lsn = p->drop_lsn;
    pthread_mutex_unlock(&s->mu);
    if (!dropped || !clear_leftovers(p) || checkpoint < lsn)
        return;
    char path[4200];
    marker_path(p, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT) {
        owl_warn("store: unlink %s: %s", path, strerror(errno));
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (p->drop_lsn == lsn)
        p->drop_lsn = 0;
    pthread_mutex_unlock(&s->mu);
    /* (the partition may have been started again meanwhile: its directory then stays) */
    if (rmdir(p->dir) == 0) {
        char parent[4200];
        owl_strlcpy(parent, p->dir, sizeof parent);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
        owl_fsync_dir(parent, NULL);
    }
}

int owl__drop_sweep(owl_store *s, owl_error *err)
{
    int rc = OWL_OK;
    owl_wal_stats ws;
    owl_wal_stats_get(s->wal, &ws);
    pthread_mutex_lock(&s->seal_mu);
    for (size_t i = 0;; i++) {
        pthread_mutex_lock(&s->mu);
        struct ptn *p = i < s->nptns ? s->ptns[i] : NULL;
        uint64_t pending = p ? p->drop_pending : 0;
        pthread_mutex_unlock(&s->mu);
        if (!p)
            break;
        if (pending) {
            int wrc = write_marker(p, pending, err);
            pthread_mutex_lock(&s->mu);
            if (wrc == OWL_OK) {
                if (pending > p->drop_lsn)
                    p->drop_lsn = pending;
                if (p->drop_pending == pending)
                    p->drop_pending = 0;
            }
            pthread_mutex_unlock(&s->mu);
            if (wrc != OWL_OK) {
                rc = wrc;
                continue;
            }
        }
        retire_marker(s, p, ws.checkpoint);
    }
    pthread_mutex_unlock(&s->seal_mu);
    return rc;
}

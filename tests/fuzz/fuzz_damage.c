/* fuzz_damage.c — libFuzzer target for damage handling in the metadata journal (index/meta.c)
 * and the store WAL (index/wal.c). Once, a small valid journal (META_RECS puts of distinct
 * keys) and a WAL of WAL_RECS records over several small segments are made with the real
 * modules and kept in memory with each record's byte range. Each input is read as a list of
 * 4-byte damage ops (file, offset, bit flip or truncation) applied to copies of those files,
 * written to a scratch directory on /dev/shm. Then:
 *   - open must give OWL_OK or OWL_ECORRUPT, never crash;
 *   - on OWL_ECORRUPT, the recovery must succeed and the next open must succeed;
 *   - the invariant: the records the final open holds are never fewer than the records
 *     whose bytes no op touched, and each is one of the originals, unchanged (WAL: the
 *     payload written with that lsn; journal: the value put under that key).
 * Anything else aborts. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "index/index.h"
#include "index/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define META_RECS 12
#define WAL_RECS 24
#define WAL_SEGMENT 200 /* bytes: several segments */
#define MAX_FILES 16
#define MAX_OPS 8

typedef struct file {
    char name[64];
    unsigned char *orig;
    size_t n;
    size_t nrec;
    size_t rs[WAL_RECS + META_RECS], re[WAL_RECS + META_RECS]; /* record byte ranges */
} file;

static char base[64], meta_dir[128], wal_dir[128], q_dir[128];
static file files[MAX_FILES];
static size_t nfiles; /* files[0] is the journal, the rest WAL segments in lsn order */

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
        abort();
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n))
        abort();
    close(fd);
}

/* Removes every file in dir (not subdirectories' contents: there are none but quarantine). */
static void clear(const char *dir)
{
    char path[512];
    DIR *dh = opendir(dir);
    struct dirent *de;
    if (!dh)
        return;
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "lock") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(dh);
}

static void wal_payload(uint64_t lsn, unsigned char *p, size_t *n)
{
    *n = 4 + (size_t)(lsn * 7 % 23);
    for (size_t i = 0; i < *n; i++)
        p[i] = (unsigned char)(lsn * 31 + i * 17);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const file *)a)->name, ((const file *)b)->name);
}

/* Builds the reference files once. */
static void setup(void)
{
    char path[256], id[16];
    owl_error e;
    snprintf(base, sizeof base, "/dev/shm/owl-fuzz-damage-XXXXXX");
    if (!mkdtemp(base))
        abort();
    snprintf(meta_dir, sizeof meta_dir, "%s/meta", base);
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", base);
    snprintf(q_dir, sizeof q_dir, "%s/q", base);
    owl_log_set_level(OWL_LOG_ERROR + 1);

    /* the journal: META_RECS puts, each frame's range from the file size after it */
    owl_meta_options mo = {0, 0, 0};
    owl_meta *m = NULL;
    if (owl_meta_open(meta_dir, &mo, &m, &e) != OWL_OK)
        abort();
    snprintf(path, sizeof path, "%s/journal-000000000000.owm", meta_dir);
    file *j = &files[nfiles++];
    snprintf(j->name, sizeof j->name, "journal-000000000000.owm");
    struct stat st;
    stat(path, &st);
    size_t prev = (size_t)st.st_size;
    for (int i = 0; i < META_RECS; i++) {
        snprintf(id, sizeof id, "k%02d", i);
        bson_t *doc = BCON_NEW("v", BCON_UTF8(id));
        if (owl_meta_put(m, "t", "k", id, doc, &e) != OWL_OK)
            abort();
        bson_destroy(doc);
        stat(path, &st);
        j->rs[j->nrec] = prev;
        j->re[j->nrec++] = (size_t)st.st_size;
        prev = (size_t)st.st_size;
    }
    owl_meta_close(m);
    j->orig = slurp(path, &j->n);

    /* the WAL: WAL_RECS records over small segments */
    owl_wal_options wo;
    memset(&wo, 0, sizeof wo);
    wo.sync = OWL_WAL_SYNC_NONE;
    wo.segment_bytes = WAL_SEGMENT;
    owl_wal *w = NULL;
    if (owl_wal_open(wal_dir, &wo, NULL, NULL, &w, &e) != OWL_OK)
        abort();
    for (uint64_t i = 1; i <= WAL_RECS; i++) {
        unsigned char p[64];
        size_t pn;
        uint64_t lsn;
        wal_payload(i, p, &pn);
        struct iovec iov = {p, pn};
        if (owl_wal_append(w, &iov, 1, &lsn, &e) != OWL_OK || lsn != i)
            abort();
    }
    owl_wal_close(w);
    DIR *dh = opendir(wal_dir);
    struct dirent *de;
    size_t first = nfiles;
    while ((de = readdir(dh)) != NULL) {
        if (strncmp(de->d_name, "wal-", 4) != 0)
            continue;
        if (nfiles == MAX_FILES)
            abort();
        file *f = &files[nfiles++];
        snprintf(f->name, sizeof f->name, "%s", de->d_name);
        snprintf(path, sizeof path, "%s/%s", wal_dir, de->d_name);
        f->orig = slurp(path, &f->n);
        for (size_t off = 24; off + 16 <= f->n;) {
            size_t len = (size_t)f->orig[off] | (size_t)f->orig[off + 1] << 8;
            f->rs[f->nrec] = off;
            off += 16 + len;
            f->re[f->nrec++] = off;
        }
    }
    closedir(dh);
    qsort(files + first, nfiles - first, sizeof *files, cmp_name);
    if (nfiles < 3)
        abort(); /* the point is several segments */
}

typedef struct wal_seen {
    uint64_t count, last;
} wal_seen;

static int on_wal(void *ud, uint64_t lsn, const void *rec, size_t n)
{
    wal_seen *s = ud;
    unsigned char p[64];
    size_t pn;
    wal_payload(lsn, p, &pn);
    if (lsn <= s->last || n != pn || memcmp(rec, p, n) != 0)
        abort(); /* a record that is not what was written with that lsn */
    s->last = lsn;
    s->count++;
    return 0;
}

/* Records of the journal present with their original value. */
static size_t meta_count(owl_meta *m)
{
    size_t good = 0;
    char id[16];
    if (owl_meta_count(m) > META_RECS)
        abort();
    for (int i = 0; i < META_RECS; i++) {
        bson_t *doc = NULL;
        bson_iter_t it;
        snprintf(id, sizeof id, "k%02d", i);
        if (owl_meta_get(m, "t", "k", id, &doc, NULL) != OWL_OK)
            continue;
        if (!bson_iter_init_find(&it, doc, "v") || !BSON_ITER_HOLDS_UTF8(&it) ||
            strcmp(bson_iter_utf8(&it, NULL), id) != 0)
            abort();
        bson_destroy(doc);
        good++;
    }
    if (good != owl_meta_count(m))
        abort();
    return good;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static int ready;
    unsigned char *cur[MAX_FILES];
    size_t len[MAX_FILES];
    unsigned char touched[MAX_FILES][WAL_RECS + META_RECS];
    char path[256];
    owl_error e;
    if (!ready) {
        setup();
        ready = 1;
    }
    memset(touched, 0, sizeof touched);
    for (size_t i = 0; i < nfiles; i++) {
        cur[i] = malloc(files[i].n);
        memcpy(cur[i], files[i].orig, files[i].n);
        len[i] = files[i].n;
    }
    /* ops: [file | kind<<7] [offset lo] [offset hi] [bit] */
    for (size_t k = 0; k + 4 <= n && k / 4 < MAX_OPS; k += 4) {
        size_t fi = (d[k] & 0x7f) % nfiles;
        int trunc = d[k] >> 7;
        if (!len[fi])
            continue;
        size_t off = ((size_t)d[k + 1] | (size_t)d[k + 2] << 8) % len[fi];
        if (trunc)
            len[fi] = off;
        else
            cur[fi][off] ^= (unsigned char)(1u << (d[k + 3] & 7));
        for (size_t r = 0; r < files[fi].nrec; r++)
            if (trunc ? files[fi].re[r] > off
                      : (files[fi].rs[r] <= off && off < files[fi].re[r]))
                touched[fi][r] = 1;
    }
    size_t untouched_meta = 0, untouched_wal = 0;
    for (size_t i = 0; i < nfiles; i++)
        for (size_t r = 0; r < files[i].nrec; r++)
            if (!touched[i][r])
                *(i == 0 ? &untouched_meta : &untouched_wal) += 1;

    clear(meta_dir);
    clear(wal_dir);
    clear(q_dir);
    snprintf(path, sizeof path, "%s/%s", meta_dir, files[0].name);
    spit(path, cur[0], len[0]);
    for (size_t i = 1; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/%s", wal_dir, files[i].name);
        spit(path, cur[i], len[i]);
    }

    /* the journal */
    owl_meta_options mo = {0, 0, 0};
    owl_meta *m = NULL;
    int rc = owl_meta_open(meta_dir, &mo, &m, &e);
    if (rc == OWL_ECORRUPT) {
        owl_meta_salvage ms;
        if (owl_meta_recover(meta_dir, q_dir, NULL, NULL, &ms, &e) != OWL_OK)
            abort();
        rc = owl_meta_open(meta_dir, &mo, &m, &e);
    }
    if (rc != OWL_OK || meta_count(m) < untouched_meta)
        abort();
    owl_meta_close(m);

    /* the WAL */
    owl_wal_options wo;
    memset(&wo, 0, sizeof wo);
    wo.sync = OWL_WAL_SYNC_NONE;
    wo.segment_bytes = WAL_SEGMENT;
    owl_wal *w = NULL;
    wal_seen s = {0, 0};
    rc = owl_wal_open(wal_dir, &wo, on_wal, &s, &w, &e);
    if (rc == OWL_ECORRUPT) {
        owl_wal_salvage ws;
        if (owl_wal_recover(wal_dir, q_dir, NULL, NULL, &ws, &e) != OWL_OK)
            abort();
        memset(&s, 0, sizeof s);
        rc = owl_wal_open(wal_dir, &wo, on_wal, &s, &w, &e);
    }
    if (rc != OWL_OK || s.count < untouched_wal)
        abort();
    owl_wal_close(w);
    for (size_t i = 0; i < nfiles; i++)
        free(cur[i]);
    return 0;
}

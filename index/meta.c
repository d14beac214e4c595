/* meta.c — the embedded metadata store: durable (tenant, kind, id) -> BSON records, all held
 * in memory, persisted per generation N as snapshot-N (every live record) + journal-N (the
 * changes made since). Invariants: (1) journal-N holds exactly the changes after snapshot-N;
 * (2) a snapshot has its final name only once complete (.tmp, fsync, rename, dir fsync);
 * (3) readers see a change only once its journal frame is durable, and in journal order.
 * The design (recovery, group commit, compaction) is written up in docs/storage.md.
 *
 * Directory (created 0700; files 0600):
 *   lock                        flock(LOCK_EX) held while open: one process per store
 *   snapshot-GGGGGGGGGGGG.owm   generation G (12 decimal digits), absent for G = 0
 *   journal-GGGGGGGGGGGG.owm    changes after snapshot G
 *   *.owm.tmp                   being written; deleted on open
 *
 * Integers are little-endian. File header (both kinds), 28 bytes:
 *   OFFSET SIZE MEANING
 *        0    8 magic "OWLMETA\0"
 *        8    4 format version, 1
 *       12    4 file kind: 1 = snapshot, 2 = journal
 *       16    8 generation G (must equal the G in the file name)
 *       24    4 crc32c of bytes 0..23
 *
 * Record frame (journal after the header; snapshot between header and footer):
 *   OFFSET SIZE MEANING
 *        0    4 payload length L, 5 <= L <= PAYLOAD_MAX
 *        4    4 crc32c of the 4 length bytes followed by the L payload bytes
 *        8    L payload: a BSON document, fields in this order:
 *                 op  utf8   "put" or "del" (a snapshot holds only "put")
 *                 t   utf8   tenant  \
 *                 k   utf8   kind     } 1..255 bytes, no NUL; tenant also has no '/'
 *                 i   utf8   id      /
 *                 d   doc    the record (put only), at most 1 MiB
 *                 seq int64  change sequence number, 1 <= seq < 2^63-1, strictly increasing
 *                            within a journal and above the snapshot's last seq;
 *                            always the last field, so its 8 bytes sit at L-9 (patched in
 *                            under the writer mutex after encoding)
 *
 * Snapshot footer, the last 28 bytes:
 *   OFFSET SIZE MEANING
 *        0    8 magic "OWLMEND\0"
 *        8    8 number of records
 *       16    8 last sequence number issued when the snapshot was taken
 *       24    4 crc32c of every byte of the file before this field
 */
#include "common/endian.h"
#include "common/hash.h"
#include "index/index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_MAGIC "OWLMETA"
#define FOOT_MAGIC "OWLMEND"
#define FORMAT_VERSION 1u
#define FILE_SNAPSHOT 1u
#define FILE_JOURNAL 2u
#define HDR_SIZE 28
#define FOOT_SIZE 28
#define FRAME_HDR 8
#define NAME_MAX_LEN 255
#define DOC_MAX ((size_t)1 << 20)
#define PAYLOAD_MAX (DOC_MAX + 4096) /* doc + three names + field overhead, with room */
#define PAYLOAD_MIN 5                /* the empty BSON document */
#define DEFAULT_COMPACT_MIN ((size_t)4 << 20)
#define DEFAULT_COMPACT_RATIO 2.0
#define GEN_DIGITS 12
#define PATH_LEN 4096
#define FILE_MAX ((size_t)1 << 40)
#define KEY_MAX (3 * (NAME_MAX_LEN + 1))
#define SNAP_FLUSH (256 * 1024)

/* ---- in-memory records ---- */

/* One live record. It sits in a hash chain (get) and in an AVL tree ordered by
 * (kind, tenant, id) (list). A delete's lookup key uses the same struct with doc NULL. */
typedef struct ment {
    struct ment *hnext;
    struct ment *left, *right;
    int height;
    uint64_t hash;
    const char *tenant, *kind, *id; /* point into key[] */
    size_t keylen;                  /* bytes of "tenant\0kind\0id", final NUL excluded */
    bson_t *doc;
    size_t rec_bytes; /* frame size of the put that wrote doc: the live-bytes estimate */
    int64_t seq;
    char key[]; /* "tenant\0kind\0id\0" */
} ment;

enum { OP_PENDING = 0, OP_DONE = 1 }; /* or a negative owl_err when the change failed */

/* A change appended to the journal and waiting for its fdatasync; lives on the writer's
 * stack, linked into m->pend_* in sequence order while pending. */
typedef struct mop {
    struct mop *next;
    ment *ent; /* set to NULL when the map took ownership */
    int is_put;
    int64_t seq;
    int state;
    int errnum;
} mop;

struct owl_meta {
    char *dir;
    owl_meta_options opt;
    int lock_fd;
    int fd; /* journal of generation gen */
    uint64_t gen;
    uint64_t hkey[2]; /* SipHash key of the chains (owl_hash64_keyed), random per open */
    int sync_inited;

    /* mu guards everything below except the map, plus writes to the map (which also take
     * rw for writing, so holders of either mu or rw-read may read the map). Order: mu, rw. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t end;         /* bytes written to the journal */
    uint64_t durable_end; /* bytes of the journal known to be on disk */
    int64_t next_seq;
    int64_t last_seq; /* of the last appended frame */
    mop *pend_head, *pend_tail;
    int syncing;    /* a writer is in fdatasync with mu released */
    int compacting; /* a compaction is waiting for quiet or running; new writers wait */
    int failed;     /* sticky: the journal is in an unknown state, writes refused */
    uint64_t compact_after; /* auto-compaction backs off to this journal size after a failure */
    size_t fsyncs;          /* atomic */

    pthread_rwlock_t rw;
    ment **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    ment *root;
    uint64_t live_bytes;
};







/* crc of a frame: the length bytes, then the payload. */
static uint32_t frame_crc(const unsigned char *lenbytes, const void *payload, size_t n)
{
    return owl_crc32c(owl_crc32c(0, lenbytes, 4), payload, n);
}

/* ---- names and entries ---- */

/* Checks one name: 1..255 bytes, no NUL (it is a C string), and for tenants no '/', which
 * separates tenant and id in the all-tenants list cursor. */
static int name_ok(const char *s, size_t n, int is_tenant)
{
    if (n == 0 || n > NAME_MAX_LEN || memchr(s, '\0', n))
        return 0;
    return !(is_tenant && memchr(s, '/', n));
}

static int names_ok(const char *t, const char *k, const char *i)
{
    return t && k && i && name_ok(t, strnlen(t, NAME_MAX_LEN + 1), 1) &&
           name_ok(k, strnlen(k, NAME_MAX_LEN + 1), 0) &&
           name_ok(i, strnlen(i, NAME_MAX_LEN + 1), 0);
}

/* Builds "t\0k\0i" into key (KEY_MAX bytes) and returns its length; names already checked. */
static size_t make_key(char *key, const char *t, const char *k, const char *i)
{
    size_t tl = strlen(t), kl = strlen(k), il = strlen(i);
    memcpy(key, t, tl + 1);
    memcpy(key + tl + 1, k, kl + 1);
    memcpy(key + tl + kl + 2, i, il + 1);
    return tl + kl + il + 2;
}

/* ment_new — an entry for the names (already validated) with no doc; NULL when out of memory. */
static ment *ment_new(const owl_meta *m, const char *t, size_t tl, const char *k, size_t kl,
                      const char *i, size_t il)
{
    ment *e = calloc(1, sizeof *e + tl + kl + il + 3);
    if (!e)
        return NULL;
    memcpy(e->key, t, tl);
    memcpy(e->key + tl + 1, k, kl);
    memcpy(e->key + tl + kl + 2, i, il);
    e->tenant = e->key;
    e->kind = e->key + tl + 1;
    e->id = e->key + tl + kl + 2;
    e->keylen = tl + kl + il + 2;
    e->hash = owl_hash64_keyed(m->hkey, e->key, e->keylen);
    return e;
}

static void ment_free(ment *e)
{
    if (!e)
        return;
    if (e->doc)
        bson_destroy(e->doc);
    free(e);
}

/* ---- the ordered view: an AVL tree keyed by (kind, tenant, id), byte-wise ---- */

static int cmp3(const char *k1, const char *t1, const char *i1, const char *k2, const char *t2,
                const char *i2)
{
    int c = strcmp(k1, k2);
    if (c == 0)
        c = strcmp(t1, t2);
    if (c == 0)
        c = strcmp(i1, i2);
    return c;
}

static int ment_cmp(const ment *a, const ment *b)
{
    return cmp3(a->kind, a->tenant, a->id, b->kind, b->tenant, b->id);
}

static int height(const ment *n)
{
    return n ? n->height : 0;
}

static void fix_height(ment *n)
{
    int l = height(n->left), r = height(n->right);
    n->height = 1 + (l > r ? l : r);
}

static ment *rot_right(ment *y)
{
    ment *x = y->left;
    y->left = x->right;
    x->right = y;
    fix_height(y);
    fix_height(x);
    return x;
}

static ment *rot_left(ment *x)
{
    ment *y = x->right;
    x->right = y->left;
    y->left = x;
    fix_height(x);
    fix_height(y);
    return y;
}

static ment *rebalance(ment *n)
{
    fix_height(n);
    int bf = height(n->left) - height(n->right);
    if (bf > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rot_left(n->left);
        return rot_right(n);
    }
    if (bf < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rot_right(n->right);
        return rot_left(n);
    }
    return n;
}

/* Inserts e, whose key is not in the tree. */
static ment *tree_insert(ment *root, ment *e)
{
    if (!root) {
        e->left = e->right = NULL;
        e->height = 1;
        return e;
    }
    if (ment_cmp(e, root) < 0)
        root->left = tree_insert(root->left, e);
    else
        root->right = tree_insert(root->right, e);
    return rebalance(root);
}

static ment *tree_take_min(ment *n, ment **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = tree_take_min(n->left, min);
    return rebalance(n);
}

/* Removes e, which is in the tree. */
static ment *tree_remove(ment *root, const ment *e)
{
    if (!root)
        return NULL;
    int c = ment_cmp(e, root);
    if (c < 0) {
        root->left = tree_remove(root->left, e);
    } else if (c > 0) {
        root->right = tree_remove(root->right, e);
    } else {
        ment *l = root->left, *r = root->right, *min;
        if (!r)
            return l;
        r = tree_take_min(r, &min);
        min->left = l;
        min->right = r;
        return rebalance(min);
    }
    return rebalance(root);
}

/* ---- the map: hash chains + tree; mutate only with mu and rw (write) held, or at open ---- */

static ment *map_find(const owl_meta *m, const char *key, size_t keylen, uint64_t h)
{
    for (ment *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            return e;
    return NULL;
}

/* Doubles the bucket array; on allocation failure the chains just grow longer. */
static void map_grow(owl_meta *m)
{
    size_t n = m->nbuckets * 2;
    ment **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        ment *e = m->buckets[i];
        while (e) {
            ment *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

/* Applies a put: e (with doc) replaces the doc of an existing entry, or is linked in.
 * Returns 1 when the map took e, 0 when e is left to the caller (its doc moved out). Never fails. */
static int map_put(owl_meta *m, ment *e)
{
    ment *old = map_find(m, e->key, e->keylen, e->hash);
    if (old) {
        bson_destroy(old->doc);
        old->doc = e->doc;
        e->doc = NULL;
        m->live_bytes = m->live_bytes - old->rec_bytes + e->rec_bytes;
        old->rec_bytes = e->rec_bytes;
        old->seq = e->seq;
        return 0;
    }
    if (m->count >= m->nbuckets)
        map_grow(m);
    size_t b = e->hash & (m->nbuckets - 1);
    e->hnext = m->buckets[b];
    m->buckets[b] = e;
    m->root = tree_insert(m->root, e);
    m->count++;
    m->live_bytes += e->rec_bytes;
    return 1;
}

/* Applies a delete of key's record (absent is fine: nothing happens). Never fails. */
static void map_del(owl_meta *m, const ment *key)
{
    ment **pp = &m->buckets[key->hash & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        ment *e = *pp;
        if (e->hash == key->hash && e->keylen == key->keylen &&
            memcmp(e->key, key->key, key->keylen) == 0) {
            *pp = e->hnext;
            m->root = tree_remove(m->root, e);
            m->count--;
            m->live_bytes -= e->rec_bytes;
            ment_free(e);
            return;
        }
    }
}

/* ---- record encoding ---- */

/* encode_rec — the payload BSON for a change (doc only for put). OWL_OK or OWL_ENOMEM;
 * on success out must be bson_destroy'ed. The seq is the last field (see format table). */
static int encode_rec(int is_put, const char *t, const char *k, const char *i,
                      const bson_t *doc, int64_t seq, bson_t *out)
{
    bson_init(out);
    int ok = BSON_APPEND_UTF8(out, "op", is_put ? "put" : "del") &&
             BSON_APPEND_UTF8(out, "t", t) && BSON_APPEND_UTF8(out, "k", k) &&
             BSON_APPEND_UTF8(out, "i", i) && (!is_put || BSON_APPEND_DOCUMENT(out, "d", doc)) &&
             BSON_APPEND_INT64(out, "seq", seq);
    if (!ok) {
        bson_destroy(out);
        return OWL_ENOMEM;
    }
    return OWL_OK;
}

/* A parsed record; strings and doc point into the payload. */
typedef struct rec {
    int is_put;
    const char *t, *k, *i;
    uint32_t tl, kl, il;
    const uint8_t *d;
    uint32_t dl;
    int64_t seq;
} rec;

/* parse_rec — decodes and checks a payload whose crc matched. OWL_ECORRUPT (with why) when
 * it is not a well-formed record. */
static int parse_rec(const unsigned char *p, size_t n, rec *r, const char **why)
{
    bson_t b;
    bson_iter_t it;
    size_t erroff;
    int have_seq = 0, have_op = 0;
    memset(r, 0, sizeof *r);
    if (!bson_init_static(&b, p, n) || !bson_validate(&b, BSON_VALIDATE_NONE, &erroff) ||
        !bson_iter_init(&it, &b)) {
        *why = "payload is not valid BSON";
        return OWL_ECORRUPT;
    }
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        bson_type_t ty = bson_iter_type(&it);
        if (strcmp(key, "op") == 0 && ty == BSON_TYPE_UTF8) {
            uint32_t l;
            const char *s = bson_iter_utf8(&it, &l);
            have_op = 1;
            if (l == 3 && memcmp(s, "put", 3) == 0)
                r->is_put = 1;
            else if (l == 3 && memcmp(s, "del", 3) == 0)
                r->is_put = 0;
            else
                have_op = 0;
        } else if (strcmp(key, "t") == 0 && ty == BSON_TYPE_UTF8) {
            r->t = bson_iter_utf8(&it, &r->tl);
        } else if (strcmp(key, "k") == 0 && ty == BSON_TYPE_UTF8) {
            r->k = bson_iter_utf8(&it, &r->kl);
        } else if (strcmp(key, "i") == 0 && ty == BSON_TYPE_UTF8) {
            r->i = bson_iter_utf8(&it, &r->il);
        } else if (strcmp(key, "d") == 0 && ty == BSON_TYPE_DOCUMENT) {
            bson_iter_document(&it, &r->dl, &r->d);
        } else if (strcmp(key, "seq") == 0 && ty == BSON_TYPE_INT64) {
            r->seq = bson_iter_int64(&it);
            have_seq = 1;
        }
    }
    if (!have_op || !have_seq || r->seq <= 0 || r->seq == INT64_MAX) {
        *why = "record lacks a valid op or seq";
        return OWL_ECORRUPT;
    }
    if (!r->t || !r->k || !r->i || !name_ok(r->t, r->tl, 1) || !name_ok(r->k, r->kl, 0) ||
        !name_ok(r->i, r->il, 0)) {
        *why = "record has a missing or invalid name";
        return OWL_ECORRUPT;
    }
    if (r->is_put && (!r->d || r->dl > DOC_MAX)) {
        *why = "put record lacks a valid document";
        return OWL_ECORRUPT;
    }
    return OWL_OK;
}

/* load_rec — applies a parsed record at open (single-threaded). OWL_OK or OWL_ENOMEM. */
static int load_rec(owl_meta *m, const rec *r, size_t frame_bytes)
{
    ment *e = ment_new(m, r->t, r->tl, r->k, r->kl, r->i, r->il);
    if (!e)
        return OWL_ENOMEM;
    if (!r->is_put) {
        map_del(m, e);
        ment_free(e);
        return OWL_OK;
    }
    e->doc = bson_new_from_data(r->d, r->dl);
    if (!e->doc) {
        ment_free(e);
        return OWL_ENOMEM;
    }
    e->rec_bytes = frame_bytes;
    e->seq = r->seq;
    if (!map_put(m, e))
        ment_free(e);
    return OWL_OK;
}

/* ---- files ---- */

static int path_of(const owl_meta *m, char *out, const char *prefix, uint64_t gen,
                   const char *suffix)
{
    int n = snprintf(out, PATH_LEN, "%s/%s-%0*llu.owm%s", m->dir, prefix, GEN_DIGITS,
                     (unsigned long long)gen, suffix);
    return n > 0 && n < PATH_LEN ? OWL_OK : OWL_EINVAL;
}

/* If name is "<prefix>-<12 digits>.owm" (live, returns 1) or the same + ".tmp" (returns 2),
 * stores the generation; 0 otherwise. */
static int parse_name(const char *name, const char *prefix, uint64_t *gen)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '-')
        return 0;
    const char *d = name + pl + 1;
    uint64_t g = 0;
    for (int i = 0; i < GEN_DIGITS; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        g = g * 10 + (uint64_t)(d[i] - '0');
    }
    *gen = g;
    if (strcmp(d + GEN_DIGITS, ".owm") == 0)
        return 1;
    if (strcmp(d + GEN_DIGITS, ".owm.tmp") == 0)
        return 2;
    return 0;
}

static void header_encode(unsigned char *h, uint32_t kind, uint64_t gen)
{
    memcpy(h, HDR_MAGIC, 8); /* includes the NUL */
    owl_put32le(h + 8, FORMAT_VERSION);
    owl_put32le(h + 12, kind);
    owl_put64le(h + 16, gen);
    owl_put32le(h + 24, owl_crc32c(0, h, 24));
}

/* header_check — validates a header read from path. OWL_ECORRUPT or OWL_EUNSUPPORTED. */
static int header_check(const unsigned char *h, uint32_t kind, uint64_t gen, const char *path,
                        owl_error *err)
{
    if (memcmp(h, HDR_MAGIC, 8) != 0 || owl_get32le(h + 24) != owl_crc32c(0, h, 24))
        return owl_error_set(err, OWL_ECORRUPT, "%s: bad file header", path);
    if (owl_get32le(h + 8) != FORMAT_VERSION)
        return owl_error_set(err, OWL_EUNSUPPORTED, "%s: format version %u not supported",
                             path, owl_get32le(h + 8));
    if (owl_get32le(h + 12) != kind || owl_get64le(h + 16) != gen)
        return owl_error_set(err, OWL_ECORRUPT, "%s: header names another file kind or generation",
                             path);
    return OWL_OK;
}

/* read_fd — reads the whole file behind fd into a malloc'd buffer (caller frees). */
static int read_fd(int fd, const char *path, unsigned char **out, size_t *outlen, owl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return owl_error_set(err, owl_err_from_errno(errno), "stat %s: %s", path,
                             strerror(errno));
    if ((uint64_t)st.st_size > FILE_MAX)
        return owl_error_set(err, OWL_ETOOBIG, "%s is too large", path);
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *p = malloc(n ? n : 1);
    if (!p)
        return owl_error_set(err, OWL_ENOMEM, "out of memory reading %s", path);
    int e = owl_pread_full(fd, p, n, 0, &got);
    if (e || got < n) {
        e = e ? e : EIO;
        free(p);
        return owl_error_set(err, owl_err_from_errno(e), "read %s: %s", path, strerror(e));
    }
    *out = p;
    *outlen = n;
    return OWL_OK;
}

static int sync_fd(const owl_meta *m, int fd)
{
    if (!m->opt.fsync)
        return 0;
    return fdatasync(fd) == 0 ? 0 : errno;
}

static int sync_dir(const owl_meta *m, owl_error *err)
{
    return m->opt.fsync ? owl_fsync_dir(m->dir, err) : OWL_OK;
}

/* create_journal — makes an empty journal-gen (header only) via .tmp, fsync, rename, dir
 * fsync; replaces any file of that name. On success *fdout is open read-write on it. */
static int create_journal(owl_meta *m, uint64_t gen, int *fdout, owl_error *err)
{
    char tmp[PATH_LEN], path[PATH_LEN];
    unsigned char h[HDR_SIZE];
    int rc = OWL_OK, e, fd = -1, renamed = 0;
    if (path_of(m, tmp, "journal", gen, ".tmp") || path_of(m, path, "journal", gen, ""))
        return owl_error_set(err, OWL_EINVAL, "directory path too long");
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "create %s: %s", tmp,
                             strerror(errno));
    header_encode(h, FILE_JOURNAL, gen);
    if ((e = owl_write_all(fd, h, sizeof h)) != 0 || (e = sync_fd(m, fd)) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(e), "write %s: %s", tmp, strerror(e));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    renamed = 1;
    if ((rc = sync_dir(m, err)) != OWL_OK)
        goto out;
    *fdout = fd;
    fd = -1;
out:
    if (fd >= 0) {
        /* Leave no journal behind: compaction's rollback relies on it, and open makes
         * a missing journal again. */
        close(fd);
        unlink(renamed ? path : tmp);
    }
    return rc;
}

/* ---- open: recovery ---- */

/* load_snapshot — loads snapshot-gen into the map. Anything wrong with it is OWL_ECORRUPT:
 * a snapshot only gets its name once complete, so damage means lost data, not a crash. */
static int load_snapshot(owl_meta *m, uint64_t gen, owl_error *err)
{
    char path[PATH_LEN];
    unsigned char *p = NULL;
    size_t n = 0;
    int rc, fd = -1;
    const char *why = NULL;
    if ((rc = path_of(m, path, "snapshot", gen, "")) != OWL_OK)
        return owl_error_set(err, rc, "directory path too long");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path, strerror(errno));
        goto out;
    }
    if ((rc = read_fd(fd, path, &p, &n, err)) != OWL_OK)
        goto out;
    if (n < HDR_SIZE + FOOT_SIZE) {
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: truncated snapshot (%zu bytes)", path, n);
        goto out;
    }
    if ((rc = header_check(p, FILE_SNAPSHOT, gen, path, err)) != OWL_OK)
        goto out;
    const unsigned char *foot = p + n - FOOT_SIZE;
    if (memcmp(foot, FOOT_MAGIC, 8) != 0 || owl_get32le(foot + 24) != owl_crc32c(0, p, n - 4)) {
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: bad snapshot footer or checksum", path);
        goto out;
    }
    uint64_t want = owl_get64le(foot + 8), have = 0;
    int64_t last_seq = (int64_t)owl_get64le(foot + 16);
    if (last_seq < 0 || last_seq == INT64_MAX) {
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: bad sequence number in the footer", path);
        goto out;
    }
    size_t off = HDR_SIZE, stop = n - FOOT_SIZE;
    while (off < stop) {
        rec r;
        if (stop - off < FRAME_HDR) {
            why = "truncated frame";
            break;
        }
        uint32_t len = owl_get32le(p + off);
        if (len < PAYLOAD_MIN || len > PAYLOAD_MAX || stop - off - FRAME_HDR < len ||
            frame_crc(p + off, p + off + FRAME_HDR, len) != owl_get32le(p + off + 4)) {
            why = "bad frame";
            break;
        }
        if (parse_rec(p + off + FRAME_HDR, len, &r, &why) != OWL_OK)
            break;
        if (!r.is_put) {
            why = "delete record in a snapshot";
            break;
        }
        if ((rc = load_rec(m, &r, FRAME_HDR + len)) != OWL_OK) {
            owl_error_set(err, rc, "out of memory loading %s", path);
            goto out;
        }
        if (r.seq >= m->next_seq)
            m->next_seq = r.seq + 1;
        off += FRAME_HDR + len;
        have++;
    }
    if (!why && have != want)
        why = "record count does not match the footer";
    if (why) {
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: %s at offset %zu", path, why, off);
        goto out;
    }
    if (last_seq >= m->next_seq)
        m->next_seq = last_seq + 1;
out:
    if (fd >= 0)
        close(fd);
    free(p);
    return rc;
}

/* replay — applies the journal's frames in p[HDR_SIZE..n) up to the first incomplete or
 * checksum-failing one; *good is where the good frames end. A frame whose checksum matches
 * but whose payload is not a valid record, or whose seq goes backwards, is OWL_ECORRUPT:
 * a torn write cannot produce it, so dropping it (and all after it) could lose acknowledged
 * changes silently. */
static int replay(owl_meta *m, const char *path, const unsigned char *p, size_t n, size_t *good,
                  const char **stop_why, owl_error *err)
{
    size_t off = HDR_SIZE;
    int64_t prev = m->next_seq - 1;
    const char *why = NULL;
    int rc = OWL_OK;
    while (off < n) {
        rec r;
        if (n - off < FRAME_HDR) {
            *stop_why = "incomplete frame header";
            break;
        }
        uint32_t len = owl_get32le(p + off);
        if (len < PAYLOAD_MIN || len > PAYLOAD_MAX) {
            *stop_why = "bad frame length";
            break;
        }
        if (n - off - FRAME_HDR < len) {
            *stop_why = "incomplete frame";
            break;
        }
        if (frame_crc(p + off, p + off + FRAME_HDR, len) != owl_get32le(p + off + 4)) {
            *stop_why = "checksum mismatch";
            break;
        }
        if (parse_rec(p + off + FRAME_HDR, len, &r, &why) != OWL_OK)
            return owl_error_set(err, OWL_ECORRUPT, "%s: %s at offset %zu", path, why, off);
        if (r.seq <= prev)
            return owl_error_set(err, OWL_ECORRUPT, "%s: sequence goes backwards at offset %zu",
                                 path, off);
        if ((rc = load_rec(m, &r, FRAME_HDR + len)) != OWL_OK)
            return owl_error_set(err, rc, "out of memory loading %s", path);
        prev = r.seq;
        off += FRAME_HDR + len;
    }
    m->next_seq = prev + 1;
    *good = off;
    return rc;
}

/* frame_at — 1 when p[off..n) starts with a complete frame whose length is in range, whose
 * crc matches, whose payload is a well-formed record and whose seq is above prev; *flen and
 * *seq get its size and seq. The test the torn-tail check and recovery use to tell a real
 * record from damage. */
static int frame_at(const unsigned char *p, size_t n, size_t off, int64_t prev, size_t *flen,
                    int64_t *seq)
{
    rec r;
    const char *why;
    if (off > n || n - off < FRAME_HDR)
        return 0;
    uint32_t len = owl_get32le(p + off);
    if (len < PAYLOAD_MIN || len > PAYLOAD_MAX || n - off - FRAME_HDR < len)
        return 0;
    if (frame_crc(p + off, p + off + FRAME_HDR, len) != owl_get32le(p + off + 4))
        return 0;
    if (parse_rec(p + off + FRAME_HDR, len, &r, &why) != OWL_OK || r.seq <= prev)
        return 0;
    *flen = FRAME_HDR + len;
    *seq = r.seq;
    return 1;
}

/* frames_after — counts the valid frames found by scanning p[from..n) byte by byte (after
 * each one found, from its end); *first gets the offset of the first (n when none). Used to
 * decide whether a bad frame is a torn tail (nothing valid follows) or corruption. */
static size_t frames_after(const unsigned char *p, size_t n, size_t from, int64_t prev,
                           size_t *first)
{
    size_t count = 0, flen;
    int64_t seq;
    *first = n;
    for (size_t off = from; off + FRAME_HDR <= n;) {
        if (frame_at(p, n, off, prev, &flen, &seq)) {
            if (!count)
                *first = off;
            count++;
            prev = seq;
            off += flen;
        } else {
            off++;
        }
    }
    return count;
}

/* open_journal — opens journal-gen (creating it when missing, rewriting it when its header
 * is torn), replays it and truncates a bad tail. Sets m->fd and m->end. */
static int open_journal(owl_meta *m, uint64_t gen, owl_error *err)
{
    char path[PATH_LEN];
    unsigned char *p = NULL;
    size_t n = 0, good = 0;
    const char *why = NULL;
    int rc, e, fd = -1;
    if ((rc = path_of(m, path, "journal", gen, "")) != OWL_OK)
        return owl_error_set(err, rc, "directory path too long");
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fd >= 0 && (rc = read_fd(fd, path, &p, &n, err)) != OWL_OK)
        goto out;
    if (fd < 0 || n < HDR_SIZE) {
        if (fd >= 0) {
            owl_warn("meta: %s: header torn (%zu bytes), rewriting the journal empty", path, n);
            close(fd);
            fd = -1;
        }
        if ((rc = create_journal(m, gen, &fd, err)) != OWL_OK)
            goto out;
        good = HDR_SIZE;
    } else {
        if ((rc = header_check(p, FILE_JOURNAL, gen, path, err)) != OWL_OK)
            goto out;
        if ((rc = replay(m, path, p, n, &good, &why, err)) != OWL_OK)
            goto out;
        size_t first;
        size_t after = good < n ? frames_after(p, n, good + 1, m->next_seq - 1, &first) : 0;
        if (after) {
            rc = owl_error_set(err, OWL_ECORRUPT,
                               "%s: %s at offset %zu with %zu valid records after it (from "
                               "offset %zu) that truncating would lose; nothing changed, see "
                               "owl-store recover",
                               path, why, good, after, first);
            goto out;
        }
        if (good < n) {
            owl_warn("meta: %s: %s at offset %zu; dropping %zu bytes (journal truncated to "
                     "its last good record)", path, why, good, n - good);
            e = ftruncate(fd, (off_t)good) == 0 ? sync_fd(m, fd) : errno;
            if (e != 0) {
                rc = owl_error_set(err, owl_err_from_errno(e), "truncate %s: %s", path,
                                   strerror(e));
                goto out;
            }
        }
    }
    m->fd = fd;
    fd = -1;
    m->end = m->durable_end = good;
out:
    if (fd >= 0)
        close(fd);
    free(p);
    return rc;
}

/* scan_gens — the highest snapshot and journal generations present (has_* = 0 if none). */
static int scan_gens(owl_meta *m, int *has_snap, uint64_t *snap, int *has_jrnl, uint64_t *jrnl,
                     owl_error *err)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return owl_error_set(err, owl_err_from_errno(errno), "opendir %s: %s", m->dir,
                             strerror(errno));
    struct dirent *de;
    *has_snap = *has_jrnl = 0;
    *snap = *jrnl = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t g;
        if (parse_name(de->d_name, "snapshot", &g) == 1 && (!*has_snap || g > *snap)) {
            *has_snap = 1;
            *snap = g;
        } else if (parse_name(de->d_name, "journal", &g) == 1 && (!*has_jrnl || g > *jrnl)) {
            *has_jrnl = 1;
            *jrnl = g;
        }
    }
    closedir(d);
    return OWL_OK;
}

/* remove_stale — deletes files of generations before m->gen and all our .tmp files.
 * Failures are logged only: stale files are ignored by the next open too. */
static void remove_stale(owl_meta *m)
{
    DIR *d = opendir(m->dir);
    struct dirent *de;
    int removed = 0;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        uint64_t g;
        int ks = parse_name(de->d_name, "snapshot", &g), kj = 0;
        if (!ks)
            kj = parse_name(de->d_name, "journal", &g);
        if (!(ks == 2 || kj == 2 || ((ks == 1 || kj == 1) && g < m->gen)))
            continue;
        char path[PATH_LEN];
        if (snprintf(path, sizeof path, "%s/%s", m->dir, de->d_name) >= (int)sizeof path)
            continue;
        if (unlink(path) == 0) {
            owl_info("meta: removed stale %s", path);
            removed++;
        } else {
            owl_warn("meta: cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    if (removed)
        sync_dir(m, NULL);
}

/* recover — picks the generation, loads its snapshot, replays its journal, cleans up. */
static int recover(owl_meta *m, owl_error *err)
{
    int has_snap = 0, has_jrnl = 0, rc;
    uint64_t snap = 0, jrnl = 0;
    if ((rc = scan_gens(m, &has_snap, &snap, &has_jrnl, &jrnl, err)) != OWL_OK)
        return rc;
    m->gen = has_snap ? snap : 0;
    m->next_seq = 1;
    /* Compaction renames snapshot N+1 before journal N+1 exists, so a journal newer than
     * every snapshot means the snapshot it follows is gone. */
    if (has_jrnl && jrnl > m->gen)
        return owl_error_set(err, OWL_ECORRUPT,
                             "%s: journal generation %llu has no snapshot", m->dir,
                             (unsigned long long)jrnl);
    if (has_snap && (rc = load_snapshot(m, m->gen, err)) != OWL_OK)
        return rc;
    if ((rc = open_journal(m, m->gen, err)) != OWL_OK)
        return rc;
    m->last_seq = m->next_seq - 1;
    remove_stale(m);
    return OWL_OK;
}

static int lock_dir(owl_meta *m, owl_error *err)
{
    char path[PATH_LEN];
    if (snprintf(path, sizeof path, "%s/lock", m->dir) >= (int)sizeof path)
        return owl_error_set(err, OWL_EINVAL, "directory path too long");
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m->lock_fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                             strerror(errno));
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return owl_error_set(err, OWL_EAGAIN, "%s: the store is open elsewhere", m->dir);
        return owl_error_set(err, owl_err_from_errno(errno), "flock %s: %s", path,
                             strerror(errno));
    }
    return OWL_OK;
}

int owl_meta_open(const char *dir, const owl_meta_options *opts, owl_meta **out, owl_error *err)
{
    owl_meta *m = NULL;
    int rc = OWL_OK;
    if (!dir || !*dir || !out)
        return owl_error_set(err, OWL_EINVAL, "owl_meta_open: no directory");
    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    m->fd = m->lock_fd = -1;
    m->opt.compact_min_bytes = DEFAULT_COMPACT_MIN;
    m->opt.compact_ratio = DEFAULT_COMPACT_RATIO;
    m->opt.fsync = 1;
    if (opts) {
        if (opts->compact_min_bytes)
            m->opt.compact_min_bytes = opts->compact_min_bytes;
        if (opts->compact_ratio > 0 && isfinite(opts->compact_ratio))
            m->opt.compact_ratio = opts->compact_ratio;
        m->opt.fsync = opts->fsync != 0;
    }
    m->dir = strdup(dir);
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    if (!m->dir || !m->buckets) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        rc = owl_error_set(err, OWL_ENOMEM, "pthread_mutex_init failed");
        goto out;
    }
    if (pthread_cond_init(&m->cond, NULL) != 0) {
        pthread_mutex_destroy(&m->mu);
        rc = owl_error_set(err, OWL_ENOMEM, "pthread_cond_init failed");
        goto out;
    }
    /* Writer preference: a steady stream of readers must not starve group commit, whose
     * syncer applies changes under the write lock. The price is that a reader may not take
     * the read lock again (list callbacks must not call into the store). */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rwrc = pthread_rwlock_init(&m->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rwrc != 0) {
        pthread_cond_destroy(&m->cond);
        pthread_mutex_destroy(&m->mu);
        rc = owl_error_set(err, OWL_ENOMEM, "pthread_rwlock_init failed");
        goto out;
    }
    m->sync_inited = 1;
    if (owl_random(m->hkey, sizeof m->hkey) != OWL_OK) {
        m->hkey[0] = (uint64_t)owl_mono_ns();
        m->hkey[1] = (uint64_t)owl_now_ns() ^ (uint64_t)(uintptr_t)m;
    }
    if ((rc = owl_mkdir_p(dir, 0700, err)) != OWL_OK)
        goto out;
    if ((rc = lock_dir(m, err)) != OWL_OK)
        goto out;
    if ((rc = recover(m, err)) != OWL_OK)
        goto out;
    *out = m;
    m = NULL;
out:
    owl_meta_close(m);
    return rc;
}

void owl_meta_close(owl_meta *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    if (m->lock_fd >= 0)
        close(m->lock_fd); /* releases the flock */
    for (size_t i = 0; m->buckets && i < m->nbuckets; i++) {
        ment *e = m->buckets[i];
        while (e) {
            ment *next = e->hnext;
            ment_free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m->dir);
    if (m->sync_inited) {
        pthread_rwlock_destroy(&m->rw);
        pthread_cond_destroy(&m->cond);
        pthread_mutex_destroy(&m->mu);
    }
    free(m);
}

/* ---- writes and group commit ----
 *
 * A writer, holding mu: assigns the next seq, appends its frame to the journal and queues
 * itself on the pending list (so the list is in seq order == file order). It then waits
 * until its change is settled. When no one is syncing, a waiting writer becomes the syncer:
 * it notes the last appended seq and end offset, releases mu, fdatasyncs, re-locks, and
 * then — still holding mu, plus rw for writing — applies every pending change up to that
 * seq to the map in seq order, marks them done and broadcasts. Writers that appended during
 * the fdatasync are left for the next syncer. So one fdatasync covers every frame appended
 * before it started, readers never see a change that is not durable, and a put and a later
 * delete of the same key from two threads reach memory in the order they reached the file,
 * which is the order replay will use. Whether a delete finds its key is decided at append
 * time against the map plus the pending changes before it, i.e. against the state the
 * journal will have once they are durable. If fdatasync fails, every pending change fails:
 * the journal is truncated back to the durable end (all of them lie beyond it). */

/* Applies pending changes with seq <= upto to the map and marks them done. mu held. */
static void settle_through(owl_meta *m, int64_t upto)
{
    pthread_rwlock_wrlock(&m->rw);
    while (m->pend_head && m->pend_head->seq <= upto) {
        mop *op = m->pend_head;
        m->pend_head = op->next;
        if (op->is_put) {
            if (map_put(m, op->ent))
                op->ent = NULL;
        } else {
            map_del(m, op->ent);
        }
        op->state = OP_DONE;
    }
    if (!m->pend_head)
        m->pend_tail = NULL;
    pthread_rwlock_unlock(&m->rw);
}

/* After a failed fdatasync: drop everything past the durable end and fail every pending
 * change. If even that cannot be done the store refuses further writes. mu held. */
static void fail_pending(owl_meta *m, int errnum)
{
    if (ftruncate(m->fd, (off_t)m->durable_end) == 0 && fdatasync(m->fd) == 0) {
        m->end = m->durable_end;
    } else {
        owl_errorf("meta: %s: cannot undo after a failed fsync (%s); refusing writes",
                   m->dir, strerror(errno));
        m->failed = OWL_EIO;
    }
    while (m->pend_head) {
        mop *op = m->pend_head;
        m->pend_head = op->next;
        op->errnum = errnum;
        op->state = owl_err_from_errno(errnum);
        if (op->state == OWL_OK || op->state > 0)
            op->state = OWL_EIO;
    }
    m->pend_tail = NULL;
}

/* One group-commit round, by the writer that found nobody syncing. mu held on entry/exit. */
static void sync_round(owl_meta *m)
{
    int64_t upto = m->last_seq;
    uint64_t end = m->end;
    int fd = m->fd, rc, e = 0;
    m->syncing = 1;
    pthread_mutex_unlock(&m->mu);
    rc = fdatasync(fd);
    if (rc != 0)
        e = errno;
    pthread_mutex_lock(&m->mu);
    m->syncing = 0;
    __atomic_add_fetch(&m->fsyncs, 1, __ATOMIC_RELAXED);
    if (rc == 0) {
        if (end > m->durable_end)
            m->durable_end = end;
        settle_through(m, upto);
    } else {
        owl_errorf("meta: %s: fdatasync of the journal failed: %s", m->dir, strerror(e));
        fail_pending(m, e);
    }
    pthread_cond_broadcast(&m->cond);
}

/* Appends one frame at m->end. On failure the file is cut back so no partial frame stays
 * (if that fails too the store refuses writes). mu held. Returns 0 or an errno. */
static int journal_append(owl_meta *m, const unsigned char *frame, size_t n)
{
    int e = owl_pwrite_all(m->fd, frame, n, m->end);
    if (e == 0) {
        m->end += n;
        return 0;
    }
    if (ftruncate(m->fd, (off_t)m->end) != 0) {
        owl_errorf("meta: %s: cannot cut back a failed append (%s); refusing writes", m->dir,
                   strerror(errno));
        m->failed = OWL_EIO;
    }
    return e;
}

/* Whether key exists once all pending changes are applied. mu held. */
static int exists_after_pending(const owl_meta *m, const ment *key)
{
    int found = -1;
    for (const mop *op = m->pend_head; op; op = op->next)
        if (op->ent->hash == key->hash && op->ent->keylen == key->keylen &&
            memcmp(op->ent->key, key->key, key->keylen) == 0)
            found = op->is_put;
    if (found >= 0)
        return found;
    return map_find(m, key->key, key->keylen, key->hash) != NULL;
}

static int compact_locked(owl_meta *m, owl_error *err);

/* Auto-compaction check after a successful change. mu held. A failure is only logged: the
 * change itself is durable, and the next attempt waits for another compact_min_bytes. */
static void maybe_compact(owl_meta *m)
{
    uint64_t jb = m->end - HDR_SIZE;
    if (m->compacting || m->failed || jb < m->opt.compact_min_bytes || jb < m->compact_after)
        return;
    if ((double)jb <= m->opt.compact_ratio * (double)m->live_bytes)
        return;
    owl_error e;
    owl_error_clear(&e);
    if (compact_locked(m, &e) != OWL_OK) {
        owl_warn("meta: %s: compaction failed: %s", m->dir, e.msg);
        m->compact_after = jb + m->opt.compact_min_bytes;
    }
}

/* One change being written: its entry, frame and queue slot. */
typedef struct change {
    ment *ent;
    unsigned char *frame;
    size_t n;
    mop op;
} change;

/* write_changes — the shared body of put, put_many, put_mixed and delete (docs NULL for a
 * delete, of one record): every frame appended, then one wait for the fsync that covers them
 * all. Record j's kind is ks[j * kstride] (kstride 0: one kind for all). */
static int write_changes(owl_meta *m, int is_put, const char *t, const char *const *ks,
                         size_t kstride, size_t n, const char *const *ids,
                         const bson_t *const *docs, owl_error *err)
{
    int rc = OWL_OK;
    size_t queued = 0;
    change one, *cs = n == 1 ? &one : calloc(n, sizeof *cs);
    if (!m || !cs)
        return m ? owl_error_set(err, OWL_ENOMEM, "out of memory")
                 : owl_error_set(err, OWL_EINVAL, "no metadata store");
    memset(cs, 0, n * sizeof *cs);
    for (size_t j = 0; j < n && rc == OWL_OK; j++) {
        change *c = &cs[j];
        const bson_t *doc = is_put ? docs[j] : NULL;
        const char *k = ks[j * kstride];
        bson_t payload;
        if (!names_ok(t, k, ids[j])) {
            rc = owl_error_set(err, OWL_EINVAL,
                               "tenant, kind and id must be 1..255 bytes (tenant without '/')");
            break;
        }
        if (is_put && (!doc || doc->len > DOC_MAX)) {
            rc = owl_error_set(err, OWL_EINVAL, "document missing or larger than %zu bytes",
                               DOC_MAX);
            break;
        }
        c->ent = ment_new(m, t, strlen(t), k, strlen(k), ids[j], strlen(ids[j]));
        if (!c->ent || (is_put && !(c->ent->doc = bson_copy(doc)))) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        if ((rc = encode_rec(is_put, t, k, ids[j], doc, 0, &payload)) != OWL_OK) {
            owl_error_set(err, rc, "cannot encode the record");
            break;
        }
        size_t len = payload.len;
        c->n = FRAME_HDR + len;
        if ((c->frame = malloc(c->n)))
            memcpy(c->frame + FRAME_HDR, bson_get_data(&payload), len);
        bson_destroy(&payload);
        if (!c->frame) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        c->ent->rec_bytes = c->n;
    }
    if (rc != OWL_OK)
        goto out;

    pthread_mutex_lock(&m->mu);
    while (m->compacting)
        pthread_cond_wait(&m->cond, &m->mu);
    if (m->failed)
        rc = owl_error_set(err, OWL_EIO, "%s: the journal failed earlier; reopen the store",
                           m->dir);
    else if (!is_put && !exists_after_pending(m, cs[0].ent))
        rc = owl_error_set(err, OWL_ENOTFOUND, "%s/%s/%s not found", t, ks[0], ids[0]);
    for (size_t j = 0; j < n && rc == OWL_OK; j++) {
        change *c = &cs[j];
        size_t len = c->n - FRAME_HDR;
        c->op.seq = c->ent->seq = m->next_seq++;
        owl_put64le(c->frame + c->n - 9, (uint64_t)c->op.seq);
        owl_put32le(c->frame, (uint32_t)len);
        owl_put32le(c->frame + 4, frame_crc(c->frame, c->frame + FRAME_HDR, len));
        int e = journal_append(m, c->frame, c->n);
        if (e != 0) {
            rc = owl_error_set(err, owl_err_from_errno(e), "%s: journal append failed: %s",
                               m->dir, strerror(e));
            break;
        }
        c->op.ent = c->ent;
        c->op.is_put = is_put;
        if (m->pend_tail)
            m->pend_tail->next = &c->op;
        else
            m->pend_head = &c->op;
        m->pend_tail = &c->op;
        m->last_seq = c->op.seq;
        queued++;
    }
    if (queued && !m->opt.fsync) {
        m->durable_end = m->end;
        settle_through(m, cs[queued - 1].op.seq);
    }
    /* changes settle in order, and a failed fsync fails every pending one: once the last
     * is out of the queue, all are */
    while (queued && cs[queued - 1].op.state == OP_PENDING) {
        if (!m->syncing)
            sync_round(m);
        else
            pthread_cond_wait(&m->cond, &m->mu);
    }
    for (size_t j = 0; j < queued; j++) {
        change *c = &cs[j];
        c->ent = c->op.ent; /* NULL when the map took it */
        if (c->op.state != OP_DONE && rc == OWL_OK)
            rc = owl_error_set(err, c->op.state, "%s: journal fsync failed: %s", m->dir,
                               strerror(c->op.errnum));
    }
    if (rc == OWL_OK)
        maybe_compact(m);
    pthread_mutex_unlock(&m->mu);
out:
    for (size_t j = 0; j < n; j++) {
        free(cs[j].frame);
        ment_free(cs[j].ent);
    }
    if (cs != &one)
        free(cs);
    return rc;
}

int owl_meta_put(owl_meta *m, const char *tenant, const char *kind, const char *id,
                 const bson_t *doc, owl_error *err)
{
    return write_changes(m, 1, tenant, &kind, 0, 1, &id, &doc, err);
}

int owl_meta_put_many(owl_meta *m, const char *tenant, const char *kind, size_t n,
                      const char *const *ids, const bson_t *const *docs, owl_error *err)
{
    return n ? write_changes(m, 1, tenant, &kind, 0, n, ids, docs, err) : OWL_OK;
}

int owl_meta_put_mixed(owl_meta *m, const char *tenant, size_t n, const char *const *kinds,
                       const char *const *ids, const bson_t *const *docs, owl_error *err)
{
    return n ? write_changes(m, 1, tenant, kinds, 1, n, ids, docs, err) : OWL_OK;
}

int owl_meta_delete(owl_meta *m, const char *tenant, const char *kind, const char *id,
                    owl_error *err)
{
    return write_changes(m, 0, tenant, &kind, 0, 1, &id, NULL, err);
}

/* ---- reads ---- */

int owl_meta_get(owl_meta *m, const char *tenant, const char *kind, const char *id,
                 bson_t **out, owl_error *err)
{
    char key[KEY_MAX];
    int rc = OWL_OK;
    if (!m || !out || !names_ok(tenant, kind, id))
        return owl_error_set(err, OWL_EINVAL, "invalid tenant, kind or id");
    size_t kl = make_key(key, tenant, kind, id);
    uint64_t h = owl_hash64_keyed(m->hkey, key, kl);
    pthread_rwlock_rdlock(&m->rw);
    ment *e = map_find(m, key, kl, h);
    if (!e)
        rc = owl_error_set(err, OWL_ENOTFOUND, "%s/%s/%s not found", tenant, kind, id);
    else if (!(*out = bson_copy(e->doc)))
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_rwlock_unlock(&m->rw);
    return rc;
}

typedef struct walk {
    const char *kind, *tenant;    /* range: this kind (and tenant when not NULL) */
    const char *bt, *bi;          /* exclusive lower bound (kind, bt, bi) */
    size_t limit, seen;
    owl_meta_list_fn fn;
    void *ud;
} walk;

/* In-order walk of the nodes after the bound; returns non-zero to stop. */
static int walk_tree(const ment *n, walk *w)
{
    if (!n)
        return 0;
    int after = cmp3(n->kind, n->tenant, n->id, w->kind, w->bt, w->bi) > 0;
    if (after) {
        if (walk_tree(n->left, w))
            return 1;
        if (strcmp(n->kind, w->kind) != 0 || (w->tenant && strcmp(n->tenant, w->tenant) != 0))
            return 1; /* past the range: everything later is too */
        if (w->fn(w->ud, n->tenant, n->kind, n->id, n->doc) != 0)
            return 1;
        if (w->limit && ++w->seen >= w->limit)
            return 1;
    }
    return walk_tree(n->right, w);
}

int owl_meta_list(owl_meta *m, const char *tenant, const char *kind, const char *after_id,
                  size_t limit, owl_meta_list_fn fn, void *ud, owl_error *err)
{
    char *cursor_tenant = NULL;
    walk w = {kind, tenant, tenant ? tenant : "", after_id ? after_id : "", limit, 0, fn, ud};
    if (!m || !kind || !fn)
        return owl_error_set(err, OWL_EINVAL, "owl_meta_list: missing kind or callback");
    if (!tenant && after_id) {
        /* "tenant/id": tenants cannot contain '/', so the first one splits the pair; with
         * no '/', the cursor is the tenant alone and listing starts at its first record. */
        const char *slash = strchr(after_id, '/');
        size_t tl = slash ? (size_t)(slash - after_id) : strlen(after_id);
        cursor_tenant = strndup(after_id, tl);
        if (!cursor_tenant)
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
        w.bt = cursor_tenant;
        w.bi = slash ? slash + 1 : "";
    }
    pthread_rwlock_rdlock(&m->rw);
    walk_tree(m->root, &w);
    pthread_rwlock_unlock(&m->rw);
    free(cursor_tenant);
    return OWL_OK;
}

size_t owl_meta_count(owl_meta *m)
{
    if (!m)
        return 0;
    pthread_rwlock_rdlock(&m->rw);
    size_t n = m->count;
    pthread_rwlock_unlock(&m->rw);
    return n;
}

size_t owl_meta_fsyncs(owl_meta *m)
{
    return m ? __atomic_load_n(&m->fsyncs, __ATOMIC_RELAXED) : 0;
}

/* ---- compaction ---- */

typedef struct snapw {
    int fd;
    owl_buf buf;
    uint32_t crc; /* of everything appended so far */
    int errnum;
    uint64_t count;
} snapw;

static int snapw_add(snapw *w, const void *p, size_t n)
{
    if (owl_buf_append(&w->buf, p, n) != OWL_OK) {
        w->errnum = ENOMEM;
        return -1;
    }
    w->crc = owl_crc32c(w->crc, p, n);
    if (w->buf.len >= SNAP_FLUSH) {
        if ((w->errnum = owl_write_all(w->fd, w->buf.data, w->buf.len)) != 0)
            return -1;
        owl_buf_reset(&w->buf);
    }
    return 0;
}

/* Appends every record of the subtree in order; -1 on failure (w->errnum says why). */
static int snapw_tree(snapw *w, const ment *n)
{
    if (!n)
        return 0;
    if (snapw_tree(w, n->left) != 0)
        return -1;
    bson_t payload;
    unsigned char fh[FRAME_HDR];
    if (encode_rec(1, n->tenant, n->kind, n->id, n->doc, n->seq, &payload) != OWL_OK) {
        w->errnum = ENOMEM;
        return -1;
    }
    owl_put32le(fh, payload.len);
    owl_put32le(fh + 4, frame_crc(fh, bson_get_data(&payload), payload.len));
    int r = snapw_add(w, fh, sizeof fh);
    if (r == 0)
        r = snapw_add(w, bson_get_data(&payload), payload.len);
    bson_destroy(&payload);
    if (r != 0)
        return -1;
    w->count++;
    return snapw_tree(w, n->right);
}

/* write_snapshot — writes all live records as snapshot-gen.tmp and fsyncs it; tmp names
 * the file. mu held with no change pending, so the map is stable. */
static int write_snapshot(owl_meta *m, uint64_t gen, const char *tmp, owl_error *err)
{
    snapw w = {-1, OWL_BUF_INIT, 0, 0, 0};
    unsigned char h[HDR_SIZE], foot[FOOT_SIZE];
    int rc = OWL_OK;
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "create %s: %s", tmp,
                             strerror(errno));
    header_encode(h, FILE_SNAPSHOT, gen);
    if (snapw_add(&w, h, sizeof h) != 0 || snapw_tree(&w, m->root) != 0)
        goto fail;
    memcpy(foot, FOOT_MAGIC, 8);
    owl_put64le(foot + 8, w.count);
    owl_put64le(foot + 16, (uint64_t)(m->next_seq - 1));
    owl_put32le(foot + 24, owl_crc32c(w.crc, foot, 24));
    if (snapw_add(&w, foot, sizeof foot) != 0)
        goto fail;
    if ((w.errnum = owl_write_all(w.fd, w.buf.data, w.buf.len)) != 0 ||
        (w.errnum = sync_fd(m, w.fd)) != 0)
        goto fail;
    goto out;
fail:
    rc = owl_error_set(err, owl_err_from_errno(w.errnum), "write %s: %s", tmp,
                       strerror(w.errnum));
out:
    if (close(w.fd) != 0 && rc == OWL_OK)
        rc = owl_error_set(err, owl_err_from_errno(errno), "close %s: %s", tmp, strerror(errno));
    owl_buf_free(&w.buf);
    if (rc != OWL_OK)
        unlink(tmp);
    return rc;
}

/* do_compact — snapshot N+1, journal N+1, switch, drop generation N. mu held, quiet. */
static int do_compact(owl_meta *m, owl_error *err)
{
    char tmp[PATH_LEN], snap[PATH_LEN], old[PATH_LEN];
    uint64_t ng = m->gen + 1;
    int rc, nfd = -1;
    if (path_of(m, tmp, "snapshot", ng, ".tmp") || path_of(m, snap, "snapshot", ng, ""))
        return owl_error_set(err, OWL_EINVAL, "directory path too long");
    if ((rc = write_snapshot(m, ng, tmp, err)) != OWL_OK)
        return rc;
    if (rename(tmp, snap) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return rc;
    }
    /* From here a crash leaves snapshot N+1 without its journal, which open completes. */
    if ((rc = create_journal(m, ng, &nfd, err)) != OWL_OK) {
        /* We keep writing journal N, so snapshot N+1 must not survive, or the next open
         * would pick it and miss those writes. */
        if (unlink(snap) != 0 || sync_dir(m, NULL) != OWL_OK) {
            owl_errorf("meta: %s: cannot roll back %s; refusing writes", m->dir, snap);
            m->failed = OWL_EIO;
        }
        return rc;
    }
    /* create_journal fsynced the directory: both renames are durable. */
    close(m->fd);
    m->fd = nfd;
    m->end = m->durable_end = HDR_SIZE;
    m->compact_after = 0;
    if (path_of(m, old, "journal", m->gen, "") == OWL_OK)
        unlink(old);
    if (m->gen > 0 && path_of(m, old, "snapshot", m->gen, "") == OWL_OK)
        unlink(old);
    m->gen = ng;
    return OWL_OK;
}

/* compact_locked — stops new writers, waits until no change is pending or syncing, compacts.
 * mu held (released while waiting). Writers are blocked for the whole compaction. */
static int compact_locked(owl_meta *m, owl_error *err)
{
    m->compacting = 1;
    while (m->syncing || m->pend_head)
        pthread_cond_wait(&m->cond, &m->mu);
    int rc = do_compact(m, err);
    m->compacting = 0;
    pthread_cond_broadcast(&m->cond);
    return rc;
}

int owl_meta_compact(owl_meta *m, owl_error *err)
{
    if (!m)
        return owl_error_set(err, OWL_EINVAL, "owl_meta_compact: no store");
    int rc;
    pthread_mutex_lock(&m->mu);
    while (m->compacting)
        pthread_cond_wait(&m->cond, &m->mu);
    if (m->failed)
        rc = owl_error_set(err, OWL_EIO, "%s: the journal failed earlier; reopen the store",
                           m->dir);
    else
        rc = compact_locked(m, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- explicit recovery ---- */

static void say(void (*report)(void *, const char *), void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(void (*report)(void *, const char *), void *ud, const char *fmt, ...)
{
    char line[PATH_LEN + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (report)
        report(ud, line);
}

/* salvage_file — reads one snapshot or journal of generation gen, keeps every valid frame
 * (in file order, seqs increasing) and, when anything other than a torn tail is wrong,
 * writes the kept frames to a new file of the same name after hard-linking the original
 * into qdir. A snapshot gets a fresh footer (count, last seq = highest seq kept). */
static int salvage_file(const char *dir, uint64_t gen, int is_snap, const char *qdir,
                        void (*report)(void *, const char *), void *ud, owl_meta_salvage *st,
                        owl_error *err)
{
    char path[PATH_LEN], name[64];
    unsigned char *p = NULL, *o = NULL;
    size_t n = 0, on = HDR_SIZE, kept = 0, regions = 0, skipped = 0, flen;
    int64_t prev = 0, seq;
    int rc, fd = -1, damaged = 0;
    snprintf(name, sizeof name, "%s-%0*llu.owm", is_snap ? "snapshot" : "journal", GEN_DIGITS,
             (unsigned long long)gen);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return owl_error_set(err, OWL_EINVAL, "directory path too long");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? OWL_OK
                             : owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                                             strerror(errno));
        goto out;
    }
    if ((rc = read_fd(fd, path, &p, &n, err)) != OWL_OK)
        goto out;
    if (!(o = malloc(n + HDR_SIZE + FOOT_SIZE))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory salvaging %s", path);
        goto out;
    }
    size_t stop = n, off = HDR_SIZE;
    if (n < HDR_SIZE || header_check(p, is_snap ? FILE_SNAPSHOT : FILE_JOURNAL, gen, path,
                                     NULL) != OWL_OK) {
        if (n < HDR_SIZE && !is_snap)
            goto out; /* a torn journal header: open rewrites it empty, nothing to salvage */
        damaged = 1;
        say(report, ud, "%s: bad or short file header (%zu bytes)", path, n);
        if (n < HDR_SIZE)
            off = n;
    }
    if (is_snap) {
        const unsigned char *foot = p + n - FOOT_SIZE;
        if (n >= HDR_SIZE + FOOT_SIZE && memcmp(foot, FOOT_MAGIC, 8) == 0)
            stop = n - FOOT_SIZE;
        if (n < HDR_SIZE + FOOT_SIZE || memcmp(foot, FOOT_MAGIC, 8) != 0 ||
            owl_get32le(foot + 24) != owl_crc32c(0, p, n - 4))
            damaged = 1;
    }
    header_encode(o, is_snap ? FILE_SNAPSHOT : FILE_JOURNAL, gen);
    while (off < stop) {
        if (frame_at(p, stop, off, prev, &flen, &seq)) {
            rec r;
            const char *why;
            parse_rec(p + off + FRAME_HDR, flen - FRAME_HDR, &r, &why);
            if (!is_snap || r.is_put) {
                memcpy(o + on, p + off, flen);
                on += flen;
                kept++;
                prev = seq;
                off += flen;
                continue;
            }
        }
        size_t first, bad = off;
        size_t after = frames_after(p, stop, off + 1, prev, &first);
        if (after || is_snap)
            damaged = 1;
        regions++;
        skipped += first - bad;
        say(report, ud, "%s: skipping bytes %zu..%zu (%s)", path, bad, first,
            after ? "damaged record(s)" : "torn tail");
        off = first;
    }
    if (is_snap) {
        unsigned char *foot = o + on;
        memcpy(foot, FOOT_MAGIC, 8);
        owl_put64le(foot + 8, kept);
        owl_put64le(foot + 16, (uint64_t)prev);
        owl_put32le(foot + 24, owl_crc32c(0, o, on + 24));
        on += FOOT_SIZE;
    }
    if (!damaged) {
        say(report, ud, "%s: intact (%zu records)", path, kept);
        goto out;
    }
    if (!qdir) {
        say(report, ud,
            "%s: damaged: recovery would keep %zu records and skip %zu region(s) of %zu bytes",
            path, kept, regions, skipped);
        if (st) {
            st->files++;
            st->kept += kept;
            st->regions += regions;
            st->bytes_skipped += skipped;
        }
        goto out;
    }
    if ((rc = owl_link_aside(path, qdir, err)) != OWL_OK)
        goto out;
    if ((rc = owl_write_file_atomic(path, o, on, 0600, err)) != OWL_OK)
        goto out;
    say(report, ud,
        "%s: recovered: %zu records kept, %zu damaged region(s) of %zu bytes skipped (each "
        "held at least one record, now lost); the original is in %s/%s",
        path, kept, regions, skipped, qdir, name);
    if (st) {
        st->files++;
        st->kept += kept;
        st->regions += regions;
        st->bytes_skipped += skipped;
    }
out:
    if (fd >= 0)
        close(fd);
    free(p);
    free(o);
    return rc;
}

int owl_meta_recover(const char *dir, const char *quarantine,
                     void (*report)(void *ud, const char *line), void *ud, owl_meta_salvage *st,
                     owl_error *err)
{
    owl_meta m;
    int has_snap = 0, has_jrnl = 0, rc;
    uint64_t snap = 0, jrnl = 0;
    memset(&m, 0, sizeof m);
    if (st)
        memset(st, 0, sizeof *st);
    if (!dir)
        return owl_error_set(err, OWL_EINVAL, "owl_meta_recover: no directory");
    if (!(m.dir = strdup(dir)))
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    m.lock_fd = -1;
    if ((rc = lock_dir(&m, err)) != OWL_OK)
        goto out;
    if ((rc = scan_gens(&m, &has_snap, &snap, &has_jrnl, &jrnl, err)) != OWL_OK)
        goto out;
    uint64_t gen = has_snap ? snap : 0;
    if (has_snap && (rc = salvage_file(dir, gen, 1, quarantine, report, ud, st, err)) != OWL_OK)
        goto out;
    rc = salvage_file(dir, gen, 0, quarantine, report, ud, st, err);
out:
    if (m.lock_fd >= 0)
        close(m.lock_fd);
    free(m.dir);
    return rc;
}

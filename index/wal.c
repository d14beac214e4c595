/* wal.c — the write-ahead log of the columnar store: numbered records appended to
 * segment files, made durable by group commit, replayed and repaired on open.
 * Invariants: (1) lsns are consecutive across all segments, each segment starting where
 * the previous one ended; (2) every segment but the last is complete and synced (a roll
 * fdatasyncs the old segment before the new one exists), so damage there is corruption
 * while a bad record of the last one with no valid record after it is a torn tail (with
 * one after it, corruption: open refuses, owl_wal_recover repairs); (3) synced_lsn only covers
 * records whose bytes an fdatasync has confirmed. Byte layouts are in wal.h; the design is
 * written up in docs/storage.md, "Write-ahead log".
 *
 * Files in DIR (created 0700; files 0600):
 *   wal-<first lsn, 16 lowercase hex>.log   segments (layout in wal.h)
 *   checkpoint                              24 bytes, written with owl_write_file_atomic:
 *       OFFSET SIZE MEANING
 *            0    8 magic "OWLWCKP\0"
 *            8    4 version (1)
 *           12    8 checkpoint lsn (every lsn <= it is stored elsewhere)
 *           20    4 crc32c of bytes 0..19
 *   lost-lsns                               lsn ranges given up by owl_wal_recover, "LO HI\n"
 *   lock                                    flock(LOCK_EX) while open: one owner at a time
 *   *.tmp                                   leftovers of interrupted writes; removed on open
 */
#include "common/endian.h"
#include "index/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* a checkpoint covering every record rolls a current segment at least this large */
#define ROLL_AFTER_CHECKPOINT (1u << 20)
#define SEG_MAGIC "OWLWAL\0"
#define CKP_MAGIC "OWLWCKP"
#define CKP_VERSION 1u
#define SEG_VERSION 2u /* 2: appends end in an end mark; 1 (still read): no marks */
#define SEG_HDR 24
#define REC_HDR 16
/* An end mark: a record header whose length field is END_LEN, whose lsn is the next one and
 * whose crc is the lsn's crc32c xor END_SALT. Every append writes one after its record and
 * the next append writes over it, so a segment's records end where its mark is, whatever
 * lies beyond (a reused file's old bytes). */
#define END_LEN 0xffffffffu
#define END_SALT 0x454e4421u /* "END!" */
#define DEFAULT_SPARES 4
#define CKP_SIZE 24
#define PATH_LEN 4096
#define NAME_LEN 24 /* "wal-" + 16 hex + ".log" */
#define READ_CHUNK ((size_t)1 << 20)
#define DEFAULT_INTERVAL_MS 1000
/* Direct appends (O_DIRECT): offsets, lengths and the buffer aligned to DIO_BLK, which
 * covers any logical block size up to 4 KiB; a record goes out DIO_CHUNK bytes at a time. */
#define DIO_BLK ((size_t)4096)
#define DIO_CHUNK ((size_t)1 << 20)
#define DEFAULT_SEGMENT ((size_t)64 << 20)
#define DEFAULT_MAX_RECORD ((size_t)64 << 20)
/* lsns stay below 2^63: a larger first lsn or checkpoint on disk is corruption, and the
 * arithmetic on lsns (last + 1, first - 1) can never wrap. */
#define LSN_LIMIT ((uint64_t)1 << 63)

/* One live segment file; the last one in w->segs is the one being appended to. */
typedef struct wseg {
    uint64_t first; /* lsn of its first record (also in its name and header) */
    uint64_t bytes; /* file size */
} wseg;

struct owl_wal {
    char *dir;
    owl_wal_options opt;
    int lock_fd;
    int sync_inited;

    /* mu guards everything below; ckmu serializes checkpoints (taken before mu). */
    pthread_mutex_t mu;
    pthread_mutex_t ckmu;
    pthread_cond_t cond;  /* a sync round finished */
    pthread_cond_t tick;  /* wakes the interval thread (monotonic clock) */
    int fd;               /* the current (last) segment */
    uint64_t end;         /* bytes in the current segment */
    uint64_t durable_end; /* bytes of the current segment known to be on disk */
    wseg *segs;
    size_t nsegs, capsegs;
    uint64_t next_lsn;
    uint64_t written_lsn; /* highest lsn written to a segment */
    uint64_t synced_lsn;  /* highest lsn known durable */
    uint64_t checkpoint;
    int syncing; /* someone is in fdatasync(fd) with mu released */
    int failed;  /* OWL_EIO once the log can no longer be trusted; appends refused */
    uint64_t fsyncs, appends;

    pthread_t thread;
    int thread_started;
    int stopping;

    uint64_t (*lost)[2]; /* lsn ranges [lo, hi] given up by owl_wal_recover (DIR/lost-lsns) */
    size_t nlost;

    /* Checkpointed segment files kept for reuse as DIR/spare-<16 hex>.tmp (mu guards them):
     * writing over pages the page cache already holds costs a copy, while a fresh file's
     * pages must first be allocated and zeroed, several times the copy here. */
    uint64_t *spares;
    size_t nspares;
    uint64_t spare_seq, reused;

    /* Direct appends: the current segment's fd has O_DIRECT; tail holds its bytes from the
     * last DIO_BLK boundary below end up to end, which every append writes again in front
     * of its record (the same bytes over themselves). dbuf: DIO_CHUNK bytes, DIO_BLK-aligned. */
    int direct;
    unsigned char *dbuf;
    size_t tail_len;
    unsigned char tail[DIO_BLK];
};

/* ---- direct appends ----
 *
 * A WAL is written once and read only by recovery, so its appends bypass the page cache
 * where the file system allows (O_DIRECT): the kernel neither copies each record into
 * page-cache pages nor writes those back at fdatasync; the record is copied once, into a
 * reused aligned buffer, and goes to the device from there. Writes cover whole DIO_BLK
 * blocks: an append starts at the block boundary below end, rewriting the bytes already
 * there (kept in w->tail) unchanged, and pads its end mark's block with zeros, which lie
 * beyond the mark and are never read. A file system that refuses O_DIRECT (on the fcntl or
 * on a write) leaves the segment on ordinary buffered writes. */

/* direct_on — switches the current segment's fd to direct appends. mu held (or
 * single-threaded). */
static void direct_on(owl_wal *w)
{
    w->direct = 0;
    if (w->opt.buffered || w->opt.sync != OWL_WAL_SYNC_ALWAYS)
        return;
    if (!w->dbuf) {
        void *b;
        if (posix_memalign(&b, DIO_BLK, DIO_CHUNK) != 0)
            return;
        w->dbuf = b;
    }
    uint64_t blk = w->end & ~(uint64_t)(DIO_BLK - 1);
    size_t got;
    w->tail_len = (size_t)(w->end - blk);
    if (owl_pread_full(w->fd, w->tail, w->tail_len, blk, &got) != 0 || got != w->tail_len)
        return;
    int fl = fcntl(w->fd, F_GETFL);
    w->direct = fl >= 0 && fcntl(w->fd, F_SETFL, fl | O_DIRECT) == 0;
}

/* direct_off — back to buffered writes, for good (a file system that takes the flag but
 * refuses the writes). */
static void direct_off(owl_wal *w)
{
    int fl = fcntl(w->fd, F_GETFL);
    if (fl >= 0)
        fcntl(w->fd, F_SETFL, fl & ~O_DIRECT);
    w->direct = 0;
    w->opt.buffered = 1;
    owl_warn("wal: %s: the file system refuses direct writes; appending through the page "
             "cache", w->dir);
}

/* direct_write — writes the pieces v[0..cnt) at w->end through dbuf, whole blocks at a
 * time; the last piece is the end mark (REC_HDR bytes), which the next append's bytes
 * start over. Updates w->tail for that append. 0 or the errno. */
static int direct_write(owl_wal *w, const struct iovec *v, int cnt)
{
    uint64_t boff = w->end - w->tail_len;
    size_t pos = w->tail_len;
    int e;
    memcpy(w->dbuf, w->tail, pos);
    for (int i = 0; i < cnt; i++) {
        const unsigned char *p = v[i].iov_base;
        size_t len = v[i].iov_len;
        while (len) {
            size_t k = len < DIO_CHUNK - pos ? len : DIO_CHUNK - pos;
            memcpy(w->dbuf + pos, p, k);
            pos += k;
            p += k;
            len -= k;
            if (pos == DIO_CHUNK) {
                if ((e = owl_pwrite_all(w->fd, w->dbuf, DIO_CHUNK, boff)) != 0)
                    return e;
                boff += DIO_CHUNK;
                pos = 0;
            }
        }
    }
    size_t padded = (pos + DIO_BLK - 1) & ~(DIO_BLK - 1);
    memset(w->dbuf + pos, 0, padded - pos);
    if (padded && (e = owl_pwrite_all(w->fd, w->dbuf, padded, boff)) != 0)
        return e;
    /* The new end is just before the mark; its block's bytes up to there become the tail.
     * When a full chunk went out with only part of the mark left after it, that block lies
     * at the end of the chunk, which this round wrote only less than a block over. */
    uint64_t new_end = boff + pos - REC_HDR;
    uint64_t tb = new_end & ~(uint64_t)(DIO_BLK - 1);
    const unsigned char *src =
        tb >= boff ? w->dbuf + (tb - boff) : w->dbuf + DIO_CHUNK - (size_t)(boff - tb);
    w->tail_len = (size_t)(new_end - tb);
    memcpy(w->tail, src, w->tail_len);
    return 0;
}

/* ---- paths, raw I/O ---- */





static void seg_path(const owl_wal *w, uint64_t first, char *out)
{
    snprintf(out, PATH_LEN, "%s/wal-%016llx.log", w->dir, (unsigned long long)first);
}

/* Parses "wal-<16 lowercase hex>.log"; 0 when name is something else. */
static int parse_seg_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;
    if (strlen(name) != NAME_LEN || memcmp(name, "wal-", 4) != 0 ||
        memcmp(name + 20, ".log", 4) != 0)
        return 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = (v << 4) | (uint64_t)d;
    }
    *first = v;
    return 1;
}

static void spare_path(const owl_wal *w, uint64_t id, char *out)
{
    snprintf(out, PATH_LEN, "%s/spare-%016llx.tmp", w->dir, (unsigned long long)id);
}

static void header_encode(unsigned char *h, const char *magic, uint64_t v)
{
    memcpy(h, magic, 8);
    owl_put32le(h + 8, memcmp(magic, SEG_MAGIC, 8) == 0 ? SEG_VERSION : CKP_VERSION);
    owl_put64le(h + 12, v);
    owl_put32le(h + 20, owl_crc32c(0, h, 20));
}

/* Checks a 24-byte header of either kind; 1 when magic, version and crc are right. */
static int header_ok(const unsigned char *h, const char *magic)
{
    uint32_t v = owl_get32le(h + 8);
    int seg = memcmp(magic, SEG_MAGIC, 8) == 0;
    return memcmp(h, magic, 8) == 0 && (seg ? v == 1 || v == SEG_VERSION : v == CKP_VERSION) &&
           owl_get32le(h + 20) == owl_crc32c(0, h, 20);
}

/* crc32c of a record: its 8 lsn bytes followed by the payload. */
static uint32_t rec_crc(const unsigned char *lsn8, const void *payload, size_t n)
{
    return owl_crc32c(owl_crc32c(0, lsn8, 8), payload, n);
}

/* The end mark for a log whose next lsn is lsn. */
static void end_encode(unsigned char *m, uint64_t lsn)
{
    owl_put32le(m, END_LEN);
    owl_put64le(m + 8, lsn);
    owl_put32le(m + 4, owl_crc32c(0, m + 8, 8) ^ END_SALT);
}

/* 1 when the REC_HDR bytes at h are the end mark of a log whose next lsn is lsn. */
static int end_at(const unsigned char *h, uint64_t lsn)
{
    return owl_get32le(h) == END_LEN && owl_get64le(h + 8) == lsn &&
           owl_get32le(h + 4) == (owl_crc32c(0, h + 8, 8) ^ END_SALT);
}

static uint64_t total_bytes(const owl_wal *w)
{
    uint64_t b = 0;
    for (size_t i = 0; i < w->nsegs; i++)
        b += w->segs[i].bytes;
    return b;
}

static int segs_push(owl_wal *w, uint64_t first, uint64_t bytes)
{
    if (w->nsegs == w->capsegs) {
        size_t cap = w->capsegs ? 2 * w->capsegs : 8;
        wseg *s = realloc(w->segs, cap * sizeof *s);
        if (!s)
            return OWL_ENOMEM;
        w->segs = s;
        w->capsegs = cap;
    }
    w->segs[w->nsegs].first = first;
    w->segs[w->nsegs].bytes = bytes;
    w->nsegs++;
    return OWL_OK;
}

/* ---- the checkpoint file ---- */

static int checkpoint_read(owl_wal *w, owl_error *err)
{
    char path[PATH_LEN];
    char *data = NULL;
    size_t n = 0;
    owl_error e;
    snprintf(path, sizeof path, "%s/checkpoint", w->dir);
    int rc = owl_read_file(path, 4096, &data, &n, &e);
    if (rc == OWL_ENOTFOUND) {
        w->checkpoint = 0;
        return OWL_OK;
    }
    if (rc == OWL_ETOOBIG)
        return owl_error_set(err, OWL_ECORRUPT, "%s: not a checkpoint file (too large)", path);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "%s", e.msg);
    if (n != CKP_SIZE || !header_ok((const unsigned char *)data, CKP_MAGIC) ||
        owl_get64le((const unsigned char *)data + 12) >= LSN_LIMIT)
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: bad size, magic, version, lsn or checksum",
                           path);
    else
        w->checkpoint = owl_get64le((const unsigned char *)data + 12);
    free(data);
    return rc;
}

/* ---- lsns given up by an explicit recovery ----
 *
 * DIR/lost-lsns (text, written with owl_write_file_atomic by owl_wal_recover) lists one
 * range "LO HI\n" per line: the lsns of records that recovery could not salvage. A gap in
 * the lsn sequence between two segments (or below the first one) is corruption unless the
 * listed ranges cover it: it is how an operator's choice to give records up stays
 * distinguishable from a segment deleted by accident. */

#define LOST_FILE "lost-lsns"

static int lost_read(owl_wal *w, owl_error *err)
{
    char path[PATH_LEN];
    char *data = NULL;
    size_t n = 0;
    owl_error e;
    snprintf(path, sizeof path, "%s/%s", w->dir, LOST_FILE);
    int rc = owl_read_file(path, (size_t)1 << 20, &data, &n, &e);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK)
        return owl_error_set(err, rc == OWL_ETOOBIG ? OWL_ECORRUPT : rc, "%s", e.msg);
    for (char *line = data, *nl; *line; line = nl + 1) {
        unsigned long long lo, hi;
        char extra;
        if (!(nl = strchr(line, '\n'))) {
            rc = owl_error_set(err, OWL_ECORRUPT, "%s: unterminated line", path);
            break;
        }
        *nl = 0;
        if (sscanf(line, "%llu %llu%c", &lo, &hi, &extra) != 2 || lo == 0 || lo > hi ||
            hi >= LSN_LIMIT) {
            rc = owl_error_set(err, OWL_ECORRUPT, "%s: malformed line", path);
            break;
        }
        uint64_t(*v)[2] = realloc(w->lost, (w->nlost + 1) * sizeof *v);
        if (!v) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            break;
        }
        w->lost = v;
        w->lost[w->nlost][0] = lo;
        w->lost[w->nlost][1] = hi;
        w->nlost++;
    }
    free(data);
    return rc;
}

/* 1 when recoveries gave up every lsn of lo..hi (the listed ranges cover it). */
static int lost_covers(const owl_wal *w, uint64_t lo, uint64_t hi)
{
    uint64_t cur = lo;
    while (cur <= hi) {
        size_t i = 0;
        while (i < w->nlost && !(w->lost[i][0] <= cur && cur <= w->lost[i][1]))
            i++;
        if (i == w->nlost)
            return 0;
        cur = w->lost[i][1] + 1;
    }
    return 1;
}

/* ---- recovery ---- */

/* A forward reader over one segment that keeps whole records contiguous in memory. */
typedef struct rdr {
    int fd;
    unsigned char *buf;
    size_t cap;
    size_t pos, len;  /* unread bytes are buf[pos, len) */
    uint64_t fileoff; /* file offset of buf[len] */
} rdr;

/* Makes k bytes available at r->buf + r->pos if the file has them; *have gets how many are
 * (less than k only at end of file). Returns 0 or an errno. */
static int rd_need(rdr *r, size_t k, size_t *have)
{
    if (r->len - r->pos < k) {
        if (r->pos) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        size_t want = k > READ_CHUNK ? k : READ_CHUNK;
        if (want > r->cap) {
            unsigned char *b = realloc(r->buf, want);
            if (!b)
                return ENOMEM;
            r->buf = b;
            r->cap = want;
        }
        size_t got;
        int e = owl_pread_full(r->fd, r->buf + r->len, r->cap - r->len, r->fileoff, &got);
        if (e)
            return e;
        r->len += got;
        r->fileoff += got;
    }
    *have = r->len - r->pos < k ? r->len - r->pos : k;
    return 0;
}

/* What replay_segment found. */
typedef struct seginfo {
    uint64_t bytes; /* size once any torn tail is cut */
    uint64_t last;  /* lsn of its last record (first - 1 when it has none) */
    int removed;    /* it was a torn header with no records and has been deleted */
} seginfo;

/* Checks one segment's place in the lsn sequence (from its name) and then its header.
 * expect is the lsn the previous segment ended at + 1 (0 for the first segment). OWL_OK,
 * OWL_ECORRUPT, or OWL_EAGAIN meaning "a torn header holding no records". */
static int segment_header(owl_wal *w, int fd, const char *path, uint64_t first, uint64_t size,
                          uint64_t expect, owl_error *err)
{
    unsigned char h[SEG_HDR];
    size_t got;
    if (first == 0 || first >= LSN_LIMIT)
        return owl_error_set(err, OWL_ECORRUPT, "%s: impossible first lsn", path);
    if (expect && first != expect && !(first > expect && lost_covers(w, expect, first - 1)))
        return owl_error_set(err, OWL_ECORRUPT, "%s: starts at lsn %llu, expected %llu", path,
                             (unsigned long long)first, (unsigned long long)expect);
    if (!expect && first > w->checkpoint + 1 && !lost_covers(w, w->checkpoint + 1, first - 1))
        return owl_error_set(err, OWL_ECORRUPT,
                             "%s: records %llu..%llu are missing (checkpoint %llu)", path,
                             (unsigned long long)w->checkpoint + 1,
                             (unsigned long long)first - 1, (unsigned long long)w->checkpoint);
    int e = owl_pread_full(fd, h, sizeof h, 0, &got);
    if (e)
        return owl_error_set(err, owl_err_from_errno(e), "read %s: %s", path, strerror(e));
    if (got < SEG_HDR || !header_ok(h, SEG_MAGIC)) {
        if (size <= SEG_HDR)
            return OWL_EAGAIN;
        return owl_error_set(err, OWL_ECORRUPT, "%s: bad segment header", path);
    }
    if (owl_get64le(h + 12) != first)
        return owl_error_set(err, OWL_ECORRUPT, "%s: the header says first lsn %llu", path,
                             (unsigned long long)owl_get64le(h + 12));
    return OWL_OK;
}

/* Reads the records of an open segment from SEG_HDR on, calling fn for those above the
 * checkpoint. Stops at the end (of the file, or an end mark) or at the first bad record,
 * leaving *off at its start and *why saying what was wrong (NULL at a clean end). Returns
 * OWL_OK, the callback's code, or an I/O error. */
static int segment_records(owl_wal *w, int fd, const char *path, uint64_t first, uint64_t size,
                           owl_wal_replay_fn fn, void *ud, uint64_t *off, uint64_t *last,
                           const char **why, owl_error *err)
{
    rdr r = {fd, NULL, 0, 0, 0, SEG_HDR};
    uint64_t lsn = first;
    size_t have;
    int e, rc = OWL_OK;
    *off = SEG_HDR;
    *why = NULL;
    for (;;) {
        if ((e = rd_need(&r, REC_HDR, &have)) != 0)
            goto ioerr;
        if (have == 0)
            break;
        if (have < REC_HDR) {
            *why = "incomplete record header";
            break;
        }
        const unsigned char *h = r.buf + r.pos;
        uint64_t n = owl_get32le(h);
        if (end_at(h, lsn))
            break; /* the clean end; what follows is a reused file's old bytes */
        if (size < *off + REC_HDR || n > size - *off - REC_HDR) {
            *why = "incomplete record";
            break;
        }
        if ((e = rd_need(&r, REC_HDR + (size_t)n, &have)) != 0)
            goto ioerr;
        h = r.buf + r.pos;
        if (have < REC_HDR + n) {
            *why = "incomplete record"; /* the file shrank under us */
            break;
        }
        if (owl_get32le(h + 4) != rec_crc(h + 8, h + REC_HDR, (size_t)n)) {
            *why = "bad checksum";
            break;
        }
        if (owl_get64le(h + 8) != lsn) {
            *why = "unexpected lsn";
            break;
        }
        if (lsn > w->checkpoint && fn && (rc = fn(ud, lsn, h + REC_HDR, (size_t)n)) != 0) {
            owl_error_set(err, rc, "%s: replay of lsn %llu failed: %s", path,
                          (unsigned long long)lsn, owl_strerror(rc));
            goto out;
        }
        r.pos += REC_HDR + (size_t)n;
        *off += REC_HDR + n;
        lsn++;
    }
    *last = lsn - 1;
    goto out;
ioerr:
    rc = owl_error_set(err, owl_err_from_errno(e), "read %s: %s", path, strerror(e));
out:
    free(r.buf);
    return rc;
}

/* rec_at — 1 when p[off..n) starts with a complete record whose lsn lies in [lo, hi] and
 * whose crc matches; *size gets its bytes and *lsn its lsn. */
static int rec_at(const unsigned char *p, uint64_t n, uint64_t off, uint64_t lo, uint64_t hi,
                  uint64_t *size, uint64_t *lsn)
{
    if (off > n || n - off < REC_HDR)
        return 0;
    uint64_t len = owl_get32le(p + off), l = owl_get64le(p + off + 8);
    if (len > n - off - REC_HDR || l < lo || l > hi)
        return 0;
    if (owl_get32le(p + off + 4) != rec_crc(p + off + 8, p + off + REC_HDR, (size_t)len))
        return 0;
    *size = REC_HDR + len;
    *lsn = l;
    return 1;
}

/* recs_after — scans p[from..n) byte by byte for records whose lsns continue after prev
 * (increasing, and no further than the bytes left could number); counts them and sets
 * *first to the offset of the first (n when none). What tells damage from a torn tail. */
static uint64_t recs_after(const unsigned char *p, uint64_t n, uint64_t from, uint64_t prev,
                           uint64_t *first)
{
    uint64_t count = 0, size, lsn, hi = prev + n / REC_HDR + 1;
    *first = n;
    for (uint64_t off = from; off + REC_HDR <= n;) {
        if (rec_at(p, n, off, prev + 1, hi, &size, &lsn)) {
            if (!count)
                *first = off;
            count++;
            prev = lsn;
            off += size;
        } else {
            off++;
        }
    }
    return count;
}

/* valid_after — before a bad record at off of the last segment is cut off as a torn tail:
 * OWL_ECORRUPT (nothing changed) when valid records follow it, since cutting would lose
 * them; OWL_OK when it really is the tail. */
static int valid_after(int fd, const char *path, uint64_t off, uint64_t size, uint64_t last,
                       const char *why, owl_error *err)
{
    uint64_t n = size - off, first;
    size_t got;
    unsigned char *p = malloc(n ? n : 1);
    if (!p)
        return owl_error_set(err, OWL_ENOMEM, "out of memory checking %s", path);
    int e = owl_pread_full(fd, p, (size_t)n, off, &got), rc = OWL_OK;
    if (e) {
        rc = owl_error_set(err, owl_err_from_errno(e), "read %s: %s", path, strerror(e));
        goto out;
    }
    uint64_t count = recs_after(p, got, 1, last, &first);
    if (count)
        rc = owl_error_set(err, OWL_ECORRUPT,
                           "%s: %s at offset %llu with %llu valid records after it (from "
                           "offset %llu) that truncating would lose; nothing changed, see "
                           "owl-store recover",
                           path, why, (unsigned long long)off, (unsigned long long)count,
                           (unsigned long long)(off + first));
out:
    free(p);
    return rc;
}

/* replay_segment — validates and replays one segment. A torn header holding no records
 * (only possible in the last segment) is deleted; a bad record in the last segment is a
 * torn tail and is cut off; anywhere else damage is OWL_ECORRUPT. */
static int replay_segment(owl_wal *w, uint64_t first, int is_last, uint64_t expect,
                          owl_wal_replay_fn fn, void *ud, seginfo *si, owl_error *err)
{
    char path[PATH_LEN];
    struct stat st;
    const char *why;
    uint64_t off;
    int rc;
    memset(si, 0, sizeof *si);
    seg_path(w, first, path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                             strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "stat %s: %s", path,
                           strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    rc = segment_header(w, fd, path, first, size, expect, err);
    if (rc == OWL_EAGAIN) {
        if (!is_last) {
            rc = owl_error_set(err, OWL_ECORRUPT, "%s: bad segment header", path);
            goto out;
        }
        owl_warn("wal: %s: removing a segment whose header is torn (%llu bytes, no records)",
                 path, (unsigned long long)size);
        if (unlink(path) != 0) {
            rc = owl_error_set(err, owl_err_from_errno(errno), "unlink %s: %s", path,
                               strerror(errno));
            goto out;
        }
        si->removed = 1;
        rc = owl_fsync_dir(w->dir, err);
        goto out;
    }
    if (rc != OWL_OK)
        goto out;
    rc = segment_records(w, fd, path, first, size, fn, ud, &off, &si->last, &why, err);
    if (rc != OWL_OK)
        goto out;
    si->bytes = off;
    if (!why)
        goto out;
    if (!is_last) {
        rc = owl_error_set(err, OWL_ECORRUPT, "%s: %s at offset %llu (not the last segment)",
                           path, why, (unsigned long long)off);
        goto out;
    }
    if ((rc = valid_after(fd, path, off, size, si->last, why, err)) != OWL_OK)
        goto out;
    owl_warn("wal: %s: torn tail (%s) at offset %llu: dropping %llu bytes", path, why,
             (unsigned long long)off, (unsigned long long)(size - off));
    if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0)
        rc = owl_error_set(err, owl_err_from_errno(errno), "truncate %s: %s", path,
                           strerror(errno));
out:
    close(fd);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segments in DIR (sorted by first lsn); removes leftover *.tmp files when
 * remove_tmp is set. */
static int scan_dir(owl_wal *w, int remove_tmp, uint64_t **out, size_t *count, owl_error *err)
{
    char path[PATH_LEN];
    uint64_t *v = NULL, first;
    size_t n = 0, cap = 0;
    int rc = OWL_OK, removed = 0;
    DIR *d = opendir(w->dir);
    if (!d)
        return owl_error_set(err, owl_err_from_errno(errno), "opendir %s: %s", w->dir,
                             strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
            snprintf(path, sizeof path, "%s/%s", w->dir, de->d_name);
            if (remove_tmp && unlink(path) == 0)
                removed = 1;
            continue;
        }
        if (!parse_seg_name(de->d_name, &first))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            uint64_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory listing %s", w->dir);
                goto out;
            }
            v = nv;
        }
        v[n++] = first;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_u64);
    if (removed)
        rc = owl_fsync_dir(w->dir, err);
out:
    closedir(d);
    if (rc != OWL_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *count = n;
    return OWL_OK;
}

/* Deletes segment files (not the current one) whose every record is <= w->checkpoint,
 * from the oldest, so what remains is always a contiguous run. mu held or single-threaded.
 * Returns how many were dropped from w->segs; their first lsns go to gone[]. */
static size_t drop_checkpointed(owl_wal *w, uint64_t *gone, size_t maxgone)
{
    size_t k = 0;
    while (k + 1 < w->nsegs && k < maxgone && w->segs[k + 1].first - 1 <= w->checkpoint) {
        gone[k] = w->segs[k].first;
        k++;
    }
    memmove(w->segs, w->segs + k, (w->nsegs - k) * sizeof *w->segs);
    w->nsegs -= k;
    return k;
}

/* Renames a checkpointed segment to a spare while fewer than opt.spares are kept; 1 when it
 * did. mu not held. Callers are serialized (ckmu, or the single-threaded open), so between
 * the two locks the only change to the spares is a roll taking one, which leaves room. */
static int keep_spare(owl_wal *w, const char *path)
{
    char sp[PATH_LEN];
    pthread_mutex_lock(&w->mu);
    uint64_t id = w->nspares < (size_t)w->opt.spares ? ++w->spare_seq : 0;
    pthread_mutex_unlock(&w->mu);
    if (!id)
        return 0;
    spare_path(w, id, sp);
    if (rename(path, sp) != 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->spares[w->nspares++] = id;
    pthread_mutex_unlock(&w->mu);
    return 1;
}

/* Retires the named segments, all wholly at or below the checkpoint: kept as spares (up to
 * opt.spares) or unlinked, then one directory fsync. Failures are only logged: the next open
 * deletes whatever is left (spares are *.tmp; a segment is below the checkpoint). */
static void retire_segments(owl_wal *w, const uint64_t *gone, size_t k)
{
    char path[PATH_LEN];
    owl_error e;
    for (size_t i = 0; i < k; i++) {
        seg_path(w, gone[i], path);
        if (!keep_spare(w, path) && unlink(path) != 0 && errno != ENOENT)
            owl_warn("wal: cannot delete %s: %s", path, strerror(errno));
    }
    if (k && owl_fsync_dir(w->dir, &e) != OWL_OK)
        owl_warn("wal: %s", e.msg);
}

/* Makes a kept spare segment `first`: the header and an end mark written over its start and
 * synced, then renamed into place. Its old records lie beyond the mark, below first, and
 * are never read. mu held (or single-threaded). 0 with *fdout set, or -1 when no spare
 * could be used (the failed one is deleted). */
static int reuse_spare(owl_wal *w, uint64_t first, const char *path, int *fdout)
{
    char sp[PATH_LEN];
    unsigned char h[SEG_HDR + REC_HDR];
    if (!w->nspares)
        return -1;
    spare_path(w, w->spares[--w->nspares], sp);
    int fd = open(sp, O_RDWR | O_CLOEXEC);
    header_encode(h, SEG_MAGIC, first);
    end_encode(h + SEG_HDR, first);
    if (fd >= 0 && owl_pwrite_all(fd, h, sizeof h, 0) == 0 && fdatasync(fd) == 0 &&
        rename(sp, path) == 0 && owl_fsync_dir(w->dir, NULL) == OWL_OK) {
        w->reused++;
        *fdout = fd;
        return 0;
    }
    owl_warn("wal: cannot reuse %s (%s); creating %s afresh", sp, strerror(errno), path);
    if (fd >= 0)
        close(fd);
    unlink(sp);
    return -1;
}

/* Creates segment `first` (header and end mark, fdatasync, directory fsync), from a spare
 * when one is kept, and returns its open fd. On failure nothing of it remains. */
static int create_segment(owl_wal *w, uint64_t first, int *fdout, owl_error *err)
{
    char path[PATH_LEN];
    unsigned char h[SEG_HDR + REC_HDR];
    int rc = OWL_OK, e;
    seg_path(w, first, path);
    if (reuse_spare(w, first, path, fdout) == 0)
        return OWL_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "create %s: %s", path,
                             strerror(errno));
    header_encode(h, SEG_MAGIC, first);
    end_encode(h + SEG_HDR, first);
    if ((e = owl_pwrite_all(fd, h, sizeof h, 0)) != 0 || (fdatasync(fd) != 0 && (e = errno))) {
        rc = owl_error_set(err, owl_err_from_errno(e), "write %s: %s", path, strerror(e));
        goto out;
    }
    rc = owl_fsync_dir(w->dir, err);
out:
    if (rc != OWL_OK) {
        close(fd);
        unlink(path);
        owl_fsync_dir(w->dir, NULL);
        return rc;
    }
    *fdout = fd;
    return OWL_OK;
}

/* recover — replays DIR and leaves w with its segments listed and the last one open. */
static int recover(owl_wal *w, owl_wal_replay_fn fn, void *ud, owl_error *err)
{
    uint64_t *firsts = NULL, last = 0, expect = 0;
    size_t n = 0;
    seginfo si;
    int rc;
    if ((rc = checkpoint_read(w, err)) != OWL_OK || (rc = lost_read(w, err)) != OWL_OK ||
        (rc = scan_dir(w, 1, &firsts, &n, err)) != OWL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        rc = replay_segment(w, firsts[i], i + 1 == n, expect, fn, ud, &si, err);
        if (rc != OWL_OK)
            goto out;
        if (si.removed)
            break;
        if ((rc = segs_push(w, firsts[i], si.bytes)) != OWL_OK) {
            owl_error_set(err, rc, "out of memory");
            goto out;
        }
        last = si.last;
        expect = last + 1;
    }
    if (w->nsegs && last < w->checkpoint) {
        /* Only when records were lost under a weaker sync policy: everything left is at or
         * below the checkpoint, and new lsns must stay above it. */
        owl_warn("wal: %s: last record %llu is below the checkpoint %llu; starting afresh",
                 w->dir, (unsigned long long)last, (unsigned long long)w->checkpoint);
        uint64_t *gone = malloc(w->nsegs * sizeof *gone);
        if (!gone) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < w->nsegs; i++)
            gone[i] = w->segs[i].first;
        retire_segments(w, gone, w->nsegs);
        free(gone);
        w->nsegs = 0;
    }
    w->next_lsn = (last > w->checkpoint ? last : w->checkpoint) + 1;
    w->written_lsn = w->synced_lsn = w->next_lsn - 1;
    if (w->nsegs == 0) {
        if ((rc = create_segment(w, w->next_lsn, &w->fd, err)) != OWL_OK)
            goto out;
        if ((rc = segs_push(w, w->next_lsn, SEG_HDR)) != OWL_OK) {
            owl_error_set(err, rc, "out of memory");
            goto out;
        }
    } else {
        uint64_t gone[64];
        size_t k;
        while ((k = drop_checkpointed(w, gone, OWL_ARRAY_LEN(gone))) > 0)
            retire_segments(w, gone, k);
        char path[PATH_LEN];
        seg_path(w, w->segs[w->nsegs - 1].first, path);
        w->fd = open(path, O_RDWR | O_CLOEXEC);
        /* What a crashed process left in the page cache becomes durable before anyone
         * acts on its replay. */
        if (w->fd < 0 || fdatasync(w->fd) != 0) {
            rc = owl_error_set(err, owl_err_from_errno(errno), "open and sync %s: %s", path,
                               strerror(errno));
            goto out;
        }
    }
    w->end = w->durable_end = w->segs[w->nsegs - 1].bytes;
    direct_on(w);
out:
    free(firsts);
    return rc;
}

/* ---- offline verification ---- */

typedef void (*verify_report_fn)(void *ud, const char *what);

/* Passes a line to report (if any), counting it in *bad when bad is not NULL: a problem for
 * verify, a line of what recovery did. */
__attribute__((format(printf, 4, 5))) static void problem(verify_report_fn report, void *ud,
                                                          size_t *bad, const char *fmt, ...)
{
    char msg[PATH_LEN + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (bad)
        (*bad)++;
    if (report)
        report(ud, msg);
}

/* Checks one segment read-only, reporting its first problem. On success *last gets the
 * lsn of its last record. Returns 1 when the segment is sound. */
static int verify_segment(owl_wal *w, uint64_t first, verify_report_fn report, void *ud,
                          size_t *bad, uint64_t *records, uint64_t *last)
{
    char path[PATH_LEN];
    struct stat st;
    const char *why;
    uint64_t off, l;
    owl_error e;
    int ok = 0;
    owl_error_clear(&e);
    seg_path(w, first, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        problem(report, ud, bad, "%s: %s", path, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    int rc = segment_header(w, fd, path, first, size, first, &e);
    if (rc == OWL_EAGAIN) {
        problem(report, ud, bad, "%s: torn segment header (%llu bytes)", path,
                (unsigned long long)size);
        goto out;
    }
    if (rc == OWL_OK)
        rc = segment_records(w, fd, path, first, size, NULL, NULL, &off, &l, &why, &e);
    if (rc != OWL_OK) {
        problem(report, ud, bad, "%s", e.msg);
        goto out;
    }
    *records += l - first + 1;
    *last = l;
    if (why && valid_after(fd, path, off, size, l, why, &e) != OWL_OK) {
        problem(report, ud, bad, "%s", e.msg);
        goto out;
    }
    if (why) {
        problem(report, ud, bad, "%s: %s at offset %llu (%llu bytes from there on)", path, why,
                (unsigned long long)off, (unsigned long long)(size - off));
        goto out;
    }
    ok = 1;
out:
    if (fd >= 0)
        close(fd);
    return ok;
}

int owl_wal_verify(const char *dir, void (*report)(void *ud, const char *what), void *ud,
                   uint64_t *records, owl_error *err)
{
    owl_wal w;
    owl_error e;
    uint64_t *firsts = NULL, count = 0, expect = 0, last = 0;
    size_t n = 0, bad = 0;
    if (records)
        *records = 0;
    if (!dir || !*dir || strlen(dir) > PATH_LEN - 64)
        return owl_error_set(err, OWL_EINVAL, "owl_wal_verify: bad directory");
    memset(&w, 0, sizeof w);
    w.dir = (char *)dir;
    w.fd = w.lock_fd = -1;
    owl_error_clear(&e);
    if (checkpoint_read(&w, &e) != OWL_OK) {
        problem(report, ud, &bad, "%s", e.msg);
        w.checkpoint = 0;
    }
    if (lost_read(&w, &e) != OWL_OK)
        problem(report, ud, &bad, "%s", e.msg);
    if (scan_dir(&w, 0, &firsts, &n, &e) != OWL_OK) {
        problem(report, ud, &bad, "%s", e.msg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* After a damaged segment its end is unknown, so the next start is not judged. */
        if (expect && firsts[i] != expect &&
            !(firsts[i] > expect && lost_covers(&w, expect, firsts[i] - 1)))
            problem(report, ud, &bad, "%s/wal-%016llx.log: starts at lsn %llu, expected %llu",
                    dir, (unsigned long long)firsts[i], (unsigned long long)firsts[i],
                    (unsigned long long)expect);
        else if (i == 0 && firsts[0] > w.checkpoint + 1 &&
                 !lost_covers(&w, w.checkpoint + 1, firsts[0] - 1))
            problem(report, ud, &bad, "%s: records %llu..%llu are missing (checkpoint %llu)",
                    dir, (unsigned long long)w.checkpoint + 1,
                    (unsigned long long)firsts[0] - 1, (unsigned long long)w.checkpoint);
        expect = verify_segment(&w, firsts[i], report, ud, &bad, &count, &last) ? last + 1 : 0;
    }
out:
    free(firsts);
    free(w.lost);
    if (records)
        *records = count;
    if (bad)
        return owl_error_set(err, OWL_ECORRUPT, "%s: %zu problem(s) in the WAL", dir, bad);
    owl_error_clear(err);
    return OWL_OK;
}

/* ---- group commit ----
 *
 * Appenders write under mu, in lsn order, at the end of the current segment. Under
 * SYNC_ALWAYS an appender then waits until synced_lsn covers its lsn. Whoever finds no
 * sync in progress becomes the syncer: it notes written_lsn and the end offset, releases mu,
 * fdatasyncs, re-locks, publishes synced_lsn and broadcasts. Appends that land during the
 * fdatasync wait for the next round, so one fdatasync serves every record written before it
 * began. The fd cannot change under a syncer: a roll waits until nobody is syncing.
 *
 * A failed fdatasync leaves the file in an unknown state: the kernel may have dropped the
 * dirty pages or marked them clean without writing them, so retrying could "succeed" over
 * lost data. The log is therefore marked failed: every waiter gets OWL_EIO and so does every
 * later append until the WAL is reopened, when recovery reads back what really is on disk.
 * Under SYNC_ALWAYS the records past durable_end all belong to appenders about to get that
 * OWL_EIO, so they are also cut off (best effort) to keep "a failed append leaves nothing";
 * under the other policies acknowledged records lie there and are left alone. */

/* Marks the log failed after fdatasync returned errno e. mu held. */
static void sync_failed(owl_wal *w, int e)
{
    owl_errorf("wal: %s: fdatasync failed: %s; refusing appends until reopened", w->dir,
               strerror(e));
    w->failed = OWL_EIO;
    if (w->opt.sync == OWL_WAL_SYNC_ALWAYS && w->end > w->durable_end) {
        if (ftruncate(w->fd, (off_t)w->durable_end) == 0 && fdatasync(w->fd) == 0) {
            w->end = w->durable_end;
            w->segs[w->nsegs - 1].bytes = w->end;
        }
    }
}

/* One group-commit round by the thread that found nobody syncing. mu held on entry/exit. */
static void sync_round(owl_wal *w)
{
    uint64_t upto = w->written_lsn, end = w->end;
    int fd = w->fd, rc, e = 0;
    w->syncing = 1;
    pthread_mutex_unlock(&w->mu);
    rc = fdatasync(fd);
    if (rc != 0)
        e = errno;
    pthread_mutex_lock(&w->mu);
    w->syncing = 0;
    w->fsyncs++;
    if (rc == 0) {
        if (upto > w->synced_lsn)
            w->synced_lsn = upto;
        if (end > w->durable_end)
            w->durable_end = end;
    } else if (!w->failed) {
        sync_failed(w, e);
    }
    pthread_cond_broadcast(&w->cond);
}

/* Waits until lsn is durable, syncing when nobody else is. OWL_OK or OWL_EIO. mu held. */
static int wait_synced(owl_wal *w, uint64_t lsn)
{
    while (w->synced_lsn < lsn) {
        if (w->failed)
            return w->failed;
        if (!w->syncing)
            sync_round(w);
        else
            pthread_cond_wait(&w->cond, &w->mu);
    }
    return OWL_OK;
}

/* roll — makes a fresh segment starting at next_lsn the current one. The old segment is
 * fdatasynced first under every policy, so that only the last segment can ever have a torn
 * tail. mu held, nobody syncing. On failure the old segment stays current. */
static int roll(owl_wal *w, owl_error *err)
{
    int fd, rc;
    if (fdatasync(w->fd) != 0) {
        int e = errno;
        sync_failed(w, e);
        pthread_cond_broadcast(&w->cond);
        return owl_error_set(err, OWL_EIO, "%s: fdatasync before roll: %s", w->dir,
                             strerror(e));
    }
    w->fsyncs++;
    w->synced_lsn = w->written_lsn;
    w->durable_end = w->end;
    pthread_cond_broadcast(&w->cond);
    if ((rc = segs_push(w, w->next_lsn, SEG_HDR)) != OWL_OK)
        return owl_error_set(err, rc, "out of memory");
    if ((rc = create_segment(w, w->next_lsn, &fd, err)) != OWL_OK) {
        w->nsegs--;
        return rc;
    }
    close(w->fd);
    w->fd = fd;
    w->end = w->durable_end = SEG_HDR;
    direct_on(w);
    return OWL_OK;
}

/* ---- the interval thread ---- */

static void *interval_main(void *arg)
{
    owl_wal *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += w->opt.interval_ms / 1000;
        ts.tv_nsec += (long)(w->opt.interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int r = 0;
        while (!w->stopping && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&w->tick, &w->mu, &ts);
        if (!w->stopping && !w->failed && !w->syncing && w->written_lsn > w->synced_lsn)
            sync_round(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- public API ---- */

/* Frees a WAL at any stage of construction. */
static void wal_free(owl_wal *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    if (w->sync_inited) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->ckmu);
        pthread_cond_destroy(&w->cond);
        pthread_cond_destroy(&w->tick);
    }
    free(w->segs);
    free(w->lost);
    free(w->spares);
    free(w->dbuf);
    free(w->dir);
    free(w);
}

static int options_set(owl_wal *w, const owl_wal_options *o, owl_error *err)
{
    w->opt.sync = OWL_WAL_SYNC_ALWAYS;
    w->opt.interval_ms = DEFAULT_INTERVAL_MS;
    w->opt.segment_bytes = DEFAULT_SEGMENT;
    w->opt.max_record = DEFAULT_MAX_RECORD;
    w->opt.spares = DEFAULT_SPARES;
    if (!o)
        return OWL_OK;
    if (o->sync != OWL_WAL_SYNC_ALWAYS && o->sync != OWL_WAL_SYNC_INTERVAL &&
        o->sync != OWL_WAL_SYNC_NONE)
        return owl_error_set(err, OWL_EINVAL, "unknown sync policy %d", (int)o->sync);
    if (o->max_record >= END_LEN) /* that length marks the end */
        return owl_error_set(err, OWL_EINVAL, "max_record above %u", END_LEN - 1);
    if (o->spares < -1 || o->spares > 1024)
        return owl_error_set(err, OWL_EINVAL, "spares must be -1 to 1024");
    w->opt.sync = o->sync;
    if (o->interval_ms > 0)
        w->opt.interval_ms = o->interval_ms;
    if (o->segment_bytes)
        w->opt.segment_bytes = o->segment_bytes;
    if (o->max_record)
        w->opt.max_record = o->max_record;
    if (o->spares)
        w->opt.spares = o->spares < 0 ? 0 : o->spares;
    w->opt.buffered = o->buffered;
    return OWL_OK;
}

static int sync_init(owl_wal *w, owl_error *err)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return owl_error_set(err, OWL_ENOMEM, "pthread_condattr_init failed");
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = pthread_mutex_init(&w->mu, NULL) == 0;
    if (ok && pthread_mutex_init(&w->ckmu, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        ok = 0;
    }
    if (ok && pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->ckmu);
        pthread_mutex_destroy(&w->mu);
        ok = 0;
    }
    if (ok && pthread_cond_init(&w->tick, &ca) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->ckmu);
        pthread_mutex_destroy(&w->mu);
        ok = 0;
    }
    pthread_condattr_destroy(&ca);
    if (!ok)
        return owl_error_set(err, OWL_ENOMEM, "cannot initialize the WAL's locks");
    w->sync_inited = 1;
    return OWL_OK;
}

/* Takes DIR/lock so two owners cannot interleave appends in one log. */
static int lock_dir(owl_wal *w, owl_error *err)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/lock", w->dir);
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->lock_fd < 0)
        return owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                             strerror(errno));
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return owl_error_set(err, errno == EWOULDBLOCK ? OWL_EAGAIN : OWL_EIO,
                             "%s is in use by another owner: %s", w->dir, strerror(errno));
    return OWL_OK;
}

int owl_wal_open(const char *dir, const owl_wal_options *opts, owl_wal_replay_fn fn, void *ud,
                 owl_wal **out, owl_error *err)
{
    owl_wal *w = NULL;
    int rc;
    if (!dir || !*dir || !out)
        return owl_error_set(err, OWL_EINVAL, "owl_wal_open: missing argument");
    *out = NULL;
    if (strlen(dir) > PATH_LEN - 64)
        return owl_error_set(err, OWL_EINVAL, "directory path too long");
    w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    w->fd = w->lock_fd = -1;
    if ((rc = options_set(w, opts, err)) != OWL_OK)
        goto out;
    if (!(w->spares = calloc((size_t)w->opt.spares + 1, sizeof *w->spares))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = sync_init(w, err)) != OWL_OK ||
        (rc = owl_mkdir_p(dir, 0700, err)) != OWL_OK || (rc = lock_dir(w, err)) != OWL_OK ||
        (rc = recover(w, fn, ud, err)) != OWL_OK)
        goto out;
    if (w->opt.sync == OWL_WAL_SYNC_INTERVAL) {
        if (pthread_create(&w->thread, NULL, interval_main, w) != 0) {
            rc = owl_error_set(err, OWL_ENOMEM, "cannot start the WAL sync thread");
            goto out;
        }
        w->thread_started = 1;
    }
    *out = w;
    w = NULL;
    rc = OWL_OK;
out:
    wal_free(w);
    return rc;
}

/* The iovecs of one record: its header first, then the caller's payload pieces, then the
 * end mark; they go out through the direct buffer, or buffered in one pwritev with no copy
 * of the payload. */
#define SMALL_IOV 8

int owl_wal_append(owl_wal *w, const struct iovec *iov, int iovcnt, uint64_t *lsn,
                   owl_error *err)
{
    struct iovec small[SMALL_IOV + 2], *v = small;
    unsigned char hdr[REC_HDR] = {0}, mark[REC_HDR];
    size_t n = 0;
    int rc, e;
    if (!w || iovcnt < 0 || (iovcnt > 0 && !iov))
        return owl_error_set(err, OWL_EINVAL, "owl_wal_append: bad argument");
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > w->opt.max_record - n)
            return owl_error_set(err, OWL_ETOOBIG, "record larger than %zu bytes",
                                 w->opt.max_record);
        n += iov[i].iov_len;
    }
    if (iovcnt > SMALL_IOV && !(v = malloc(((size_t)iovcnt + 2) * sizeof *v)))
        return owl_error_set(err, OWL_ENOMEM, "out of memory for a %d-piece record", iovcnt);
    owl_put32le(hdr, (uint32_t)n);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->failed) {
            rc = owl_error_set(err, w->failed, "%s: the WAL failed earlier; reopen it", w->dir);
            goto out;
        }
        if (w->end < w->opt.segment_bytes || w->segs[w->nsegs - 1].first == w->next_lsn)
            break;
        if (w->syncing) {
            pthread_cond_wait(&w->cond, &w->mu);
            continue;
        }
        if ((rc = roll(w, err)) != OWL_OK)
            goto out;
    }
    uint64_t l = w->next_lsn;
    if (l >= LSN_LIMIT) {
        rc = owl_error_set(err, OWL_ERANGE, "%s: lsns exhausted", w->dir);
        goto out;
    }
    owl_put64le(hdr + 8, l);
    uint32_t crc = owl_crc32c(0, hdr + 8, 8);
    v[0] = (struct iovec){hdr, REC_HDR};
    for (int i = 0; i < iovcnt; i++) {
        crc = owl_crc32c(crc, iov[i].iov_base, iov[i].iov_len);
        v[i + 1] = iov[i];
    }
    owl_put32le(hdr + 4, crc);
    end_encode(mark, l + 1);
    v[iovcnt + 1] = (struct iovec){mark, REC_HDR};
    if (w->direct && (e = direct_write(w, v, iovcnt + 2)) == EINVAL)
        direct_off(w); /* then buffered, below */
    if (!w->direct)
        e = owl_pwritev_all(w->fd, v, iovcnt + 2, w->end);
    if (e != 0) {
        /* Nothing half-written may stay: a later append would land after the fragment. */
        if (ftruncate(w->fd, (off_t)w->end) != 0) {
            owl_errorf("wal: %s: cannot cut back a failed append (%s); refusing appends",
                       w->dir, strerror(errno));
            w->failed = OWL_EIO;
        }
        rc = owl_error_set(err, owl_err_from_errno(e), "%s: append failed: %s", w->dir,
                           strerror(e));
        if (rc == OWL_OK || rc == OWL_ENOTFOUND || rc == OWL_EINVAL)
            rc = OWL_EIO;
        goto out;
    }
    w->end += REC_HDR + n;
    w->segs[w->nsegs - 1].bytes = w->end;
    w->next_lsn = l + 1;
    w->written_lsn = l;
    w->appends++;
    if (w->opt.sync == OWL_WAL_SYNC_ALWAYS && (rc = wait_synced(w, l)) != OWL_OK) {
        owl_error_set(err, rc, "%s: fdatasync failed; record %llu is not durable", w->dir,
                      (unsigned long long)l);
        goto out;
    }
    if (lsn)
        *lsn = l;
    rc = OWL_OK;
out:
    pthread_mutex_unlock(&w->mu);
    if (v != small)
        free(v);
    return rc;
}

int owl_wal_sync(owl_wal *w, owl_error *err)
{
    if (!w)
        return owl_error_set(err, OWL_EINVAL, "owl_wal_sync: no WAL");
    pthread_mutex_lock(&w->mu);
    int rc = wait_synced(w, w->written_lsn);
    pthread_mutex_unlock(&w->mu);
    if (rc != OWL_OK)
        owl_error_set(err, rc, "%s: fdatasync failed; the WAL must be reopened", w->dir);
    return rc;
}

int owl_wal_checkpoint(owl_wal *w, uint64_t lsn, owl_error *err)
{
    char path[PATH_LEN];
    unsigned char b[CKP_SIZE];
    uint64_t gone[64];
    size_t k;
    int rc = OWL_OK;
    if (!w)
        return owl_error_set(err, OWL_EINVAL, "owl_wal_checkpoint: no WAL");
    pthread_mutex_lock(&w->ckmu);
    pthread_mutex_lock(&w->mu);
    uint64_t cur = w->checkpoint, written = w->written_lsn;
    pthread_mutex_unlock(&w->mu);
    if (lsn > written) {
        rc = owl_error_set(err, OWL_EINVAL, "checkpoint %llu is beyond the last lsn %llu",
                           (unsigned long long)lsn, (unsigned long long)written);
        goto out;
    }
    if (lsn <= cur)
        goto out;
    header_encode(b, CKP_MAGIC, lsn);
    snprintf(path, sizeof path, "%s/checkpoint", w->dir);
    if ((rc = owl_write_file_atomic(path, b, sizeof b, 0600, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&w->mu);
    w->checkpoint = lsn;
    /* Everything written is stored elsewhere: a large current segment is rolled so that it
     * can be deleted below, and the next open has nothing to read through. */
    while (w->syncing && !w->failed)
        pthread_cond_wait(&w->cond, &w->mu);
    if (lsn == w->written_lsn && !w->failed && w->end >= ROLL_AFTER_CHECKPOINT &&
        roll(w, NULL) != OWL_OK)
        owl_warn("%s: could not roll after a full checkpoint; the segment stays", w->dir);
    pthread_mutex_unlock(&w->mu);
    /* Unlinking happens outside mu; the list entries are gone already, so no one else will
     * touch those files, and the current segment is never among them. */
    do {
        pthread_mutex_lock(&w->mu);
        k = drop_checkpointed(w, gone, OWL_ARRAY_LEN(gone));
        pthread_mutex_unlock(&w->mu);
        retire_segments(w, gone, k);
    } while (k == OWL_ARRAY_LEN(gone));
out:
    pthread_mutex_unlock(&w->ckmu);
    return rc;
}

void owl_wal_stats_get(owl_wal *w, owl_wal_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    st->last_lsn = w->written_lsn;
    st->checkpoint = w->checkpoint;
    st->bytes = total_bytes(w);
    st->fsyncs = w->fsyncs;
    st->appends = w->appends;
    st->reused = w->reused;
    st->spares = w->nspares;
    st->direct = w->direct;
    pthread_mutex_unlock(&w->mu);
}

void owl_wal_close(owl_wal *w)
{
    if (!w)
        return;
    if (w->thread_started) {
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_cond_signal(&w->tick);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_mutex_lock(&w->mu);
    if (w->opt.sync != OWL_WAL_SYNC_NONE && !w->failed && w->written_lsn > w->synced_lsn)
        wait_synced(w, w->written_lsn);
    pthread_mutex_unlock(&w->mu);
    wal_free(w);
}

/* ---- explicit recovery ---- */


/* A record kept by salvage: where it lies in the damaged file. */
typedef struct keep {
    uint64_t off, size, lsn;
} keep;

/* Reads a whole file into memory (caller frees). */
static int slurp(const char *path, unsigned char **out, uint64_t *n, owl_error *err)
{
    struct stat st;
    size_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC), e, rc = OWL_OK;
    *out = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "open %s: %s", path,
                           strerror(errno));
        goto out;
    }
    if (!(*out = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    if ((e = owl_pread_full(fd, *out, (size_t)st.st_size, 0, &got)) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(e), "read %s: %s", path, strerror(e));
        goto out;
    }
    *n = got;
out:
    if (fd >= 0)
        close(fd);
    if (rc != OWL_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Appends "lo hi" to the ranges (in memory). */
static int lost_add(owl_wal *w, uint64_t lo, uint64_t hi)
{
    uint64_t(*v)[2] = realloc(w->lost, (w->nlost + 1) * sizeof *v);
    if (!v)
        return OWL_ENOMEM;
    w->lost = v;
    w->lost[w->nlost][0] = lo;
    w->lost[w->nlost][1] = hi;
    w->nlost++;
    return OWL_OK;
}

static int lost_write(owl_wal *w, owl_error *err)
{
    char path[PATH_LEN];
    char *text = malloc(w->nlost * 48 + 1);
    size_t n = 0;
    if (!text)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->nlost; i++)
        n += (size_t)sprintf(text + n, "%llu %llu\n", (unsigned long long)w->lost[i][0],
                             (unsigned long long)w->lost[i][1]);
    snprintf(path, sizeof path, "%s/%s", w->dir, LOST_FILE);
    int rc = owl_write_file_atomic(path, text, n, 0600, err);
    free(text);
    return rc;
}

/* salvage_segment — reads segment firsts[i] and keeps every record whose crc matches and
 * whose lsn fits: in order from the segment's first lsn, and after a bad spot the next
 * record found by scanning forward whose lsn is higher than the last kept and below the next
 * segment's first. When anything but a torn tail of the last segment is wrong, the original
 * is linked into qdir, the lsns given up are added to DIR/lost-lsns, each run of consecutive
 * kept lsns is written as its own segment (tmp, fsync, rename) and the original's name is
 * removed unless a run took it over. */
static int salvage_segment(owl_wal *w, const uint64_t *firsts, size_t i, size_t nsegs,
                           const char *qdir, void (*report)(void *, const char *), void *ud,
                           owl_wal_salvage *st, owl_error *err)
{
    char path[PATH_LEN], rpath[PATH_LEN];
    unsigned char *p = NULL, *o = NULL;
    keep *kept = NULL;
    uint64_t n = 0, nk = 0, regions = 0, skipped = 0, size, lsn;
    uint64_t first = firsts[i], expect = first;
    int is_last = i + 1 == nsegs, damaged = 0, rc;
    seg_path(w, first, path);
    if ((rc = slurp(path, &p, &n, err)) != OWL_OK)
        goto out;
    uint64_t hi = is_last ? first + n / REC_HDR : firsts[i + 1] - 1;
    if (n < SEG_HDR || !header_ok(p, SEG_MAGIC) || owl_get64le(p + 12) != first) {
        if (is_last && n <= SEG_HDR) {
            problem(report, ud, NULL, "%s: torn header (%llu bytes): owld's open removes it", path,
                (unsigned long long)n);
            goto out;
        }
        damaged = 1;
        problem(report, ud, NULL, "%s: bad segment header", path);
    }
    if (!(kept = malloc((n / REC_HDR + 1) * sizeof *kept))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory salvaging %s", path);
        goto out;
    }
    for (uint64_t off = SEG_HDR; off < n;) {
        if (n - off >= REC_HDR && end_at(p + off, expect))
            break; /* the clean end */
        if (expect <= hi && rec_at(p, n, off, expect, expect, &size, &lsn)) {
            kept[nk++] = (keep){off, size, lsn};
            expect = lsn + 1;
            off += size;
            continue;
        }
        uint64_t from = off + 1, at = n;
        for (; from + REC_HDR <= n; from++)
            if (rec_at(p, n, from, expect, hi, &size, &lsn)) {
                at = from;
                expect = lsn; /* taken by the in-order test next round */
                break;
            }
        if (at < n || !is_last)
            damaged = 1;
        regions++;
        skipped += at - off;
        problem(report, ud, NULL, "%s: skipping bytes %llu..%llu (%s)", path, (unsigned long long)off,
            (unsigned long long)at,
            at < n ? "damaged record(s)" : is_last ? "torn tail" : "damaged end of segment");
        off = at;
    }
    if (!is_last && expect != firsts[i + 1] && !lost_covers(w, expect, firsts[i + 1] - 1))
        damaged = 1;
    if (!damaged) {
        problem(report, ud, NULL, "%s: intact (%llu records)", path, (unsigned long long)nk);
        goto out;
    }
    /* the lsns given up: before the first kept, between runs, after the last (when a
     * later segment follows) */
    uint64_t lost_before = w->nlost, prev = first - 1;
    for (uint64_t k = 0; k <= nk; k++) {
        uint64_t next = k < nk ? kept[k].lsn : is_last ? prev + 1 : firsts[i + 1];
        if (next > prev + 1 && !lost_covers(w, prev + 1, next - 1) &&
            (rc = lost_add(w, prev + 1, next - 1)) != OWL_OK) {
            rc = owl_error_set(err, rc, "out of memory");
            goto out;
        }
        if (k < nk)
            prev = kept[k].lsn;
    }
    if (w->nlost > lost_before && (rc = lost_write(w, err)) != OWL_OK)
        goto out;
    if ((rc = owl_link_aside(path, qdir, err)) != OWL_OK)
        goto out;
    if (!(o = malloc(n + SEG_HDR))) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory salvaging %s", path);
        goto out;
    }
    int name_reused = 0;
    for (uint64_t k = 0; k < nk;) {
        uint64_t run = k, on = SEG_HDR;
        header_encode(o, SEG_MAGIC, kept[run].lsn);
        do {
            memcpy(o + on, p + kept[k].off, kept[k].size);
            on += kept[k].size;
            k++;
        } while (k < nk && kept[k].lsn == kept[k - 1].lsn + 1);
        seg_path(w, kept[run].lsn, rpath);
        if ((rc = owl_write_file_atomic(rpath, o, on, 0600, err)) != OWL_OK)
            goto out;
        name_reused |= kept[run].lsn == first;
        problem(report, ud, NULL, "%s: wrote lsns %llu..%llu (%llu records)", rpath,
            (unsigned long long)kept[run].lsn, (unsigned long long)kept[k - 1].lsn,
            (unsigned long long)(k - run));
    }
    if (!name_reused && unlink(path) != 0) {
        rc = owl_error_set(err, owl_err_from_errno(errno), "unlink %s: %s", path,
                           strerror(errno));
        goto out;
    }
    if ((rc = owl_fsync_dir(w->dir, err)) != OWL_OK)
        goto out;
    uint64_t gave = 0;
    for (size_t k = lost_before; k < w->nlost; k++)
        gave += w->lost[k][1] - w->lost[k][0] + 1;
    problem(report, ud, NULL,
        "%s: recovered: %llu records kept, %llu damaged region(s) of %llu bytes skipped, "
        "%llu lsn(s) given up; the original is in %s",
        path, (unsigned long long)nk, (unsigned long long)regions,
        (unsigned long long)skipped, (unsigned long long)gave, qdir);
    if (st) {
        st->files++;
        st->kept += nk;
        st->regions += regions;
        st->bytes_skipped += skipped;
        st->lost_lsns += gave;
    }
out:
    free(p);
    free(o);
    free(kept);
    return rc;
}

int owl_wal_recover(const char *dir, const char *quarantine,
                    void (*report)(void *ud, const char *line), void *ud, owl_wal_salvage *st,
                    owl_error *err)
{
    owl_wal w;
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc;
    if (st)
        memset(st, 0, sizeof *st);
    if (!dir || !*dir || !quarantine || strlen(dir) > PATH_LEN - 64)
        return owl_error_set(err, OWL_EINVAL, "owl_wal_recover: bad directory");
    memset(&w, 0, sizeof w);
    w.dir = (char *)dir;
    w.fd = w.lock_fd = -1;
    if ((rc = lock_dir(&w, err)) != OWL_OK || (rc = checkpoint_read(&w, err)) != OWL_OK ||
        (rc = lost_read(&w, err)) != OWL_OK || (rc = scan_dir(&w, 0, &firsts, &n, err)) != OWL_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((rc = salvage_segment(&w, firsts, i, n, quarantine, report, ud, st, err)) != OWL_OK)
            goto out;
out:
    if (w.lock_fd >= 0)
        close(w.lock_fd);
    free(w.lost);
    free(firsts);
    return rc;
}

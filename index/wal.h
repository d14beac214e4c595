/* wal.h — the write-ahead log of the columnar store (private to index/).
 *
 * Segments DIR/wal-<first lsn, 16 hex>.log, each:
 *   header  0  8  magic "OWLWAL\0\0"   8 4 version (2; 1 is read too)   12 8 first lsn
 *           20 4  crc32c of 0..19
 *   record  0  4  payload length n (below 2^32 - 1)   4 4 crc32c of (lsn bytes + payload)
 *           8  8  lsn (consecutive, starting at the segment's first lsn)
 *           16 n  payload
 *   end     0  4  0xffffffff   4 4 crc32c of the lsn bytes xor 0x454e4421   8 8 the next lsn:
 *           written after every append and overwritten by the next; the records end there
 *           (or at the end of the file), and bytes beyond it are not read (direct appends
 *           leave zeros there up to a 4 KiB boundary)
 * Checkpointed segments are kept for reuse (up to opts.spares) as DIR/spare-<16 hex>.tmp.
 * DIR/checkpoint holds the highest lsn whose effects are stored elsewhere (written
 * atomically); segments wholly at or below it are kept as spares or deleted.
 * Group commit: concurrent appenders share one fdatasync. */
#ifndef OWL_WAL_H
#define OWL_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/common.h"

typedef struct owl_wal owl_wal;

enum owl_wal_sync {
    OWL_WAL_SYNC_ALWAYS,   /* fdatasync before an append returns (default) */
    OWL_WAL_SYNC_INTERVAL, /* a background thread syncs every interval_ms */
    OWL_WAL_SYNC_NONE,     /* never synced by owl (the kernel writes back) */
};

typedef struct owl_wal_options {
    enum owl_wal_sync sync;
    int interval_ms;       /* for OWL_WAL_SYNC_INTERVAL (default 1000) */
    size_t segment_bytes;  /* roll to a new segment past this (default 64 MiB) */
    size_t max_record;     /* largest payload accepted (default 64 MiB, below 2^32 - 1) */
    int spares;            /* checkpointed segment files kept for reuse (0: 4; -1: none) */
    int buffered;          /* appends through the page cache; by default SYNC_ALWAYS appends
                            * bypass it (O_DIRECT) where the file system allows */
} owl_wal_options;

/* Called once per record during recovery, in lsn order; rec is valid only during the call.
 * A non-zero return stops the replay and makes owl_wal_open fail with that code. */
typedef int (*owl_wal_replay_fn)(void *ud, uint64_t lsn, const void *rec, size_t n);

/* owl_wal_open — opens DIR (created if needed), replays every record above the checkpoint
 * through fn, truncates a torn tail of the LAST segment (logged; a bad record with no valid
 * record after it), and deletes leftover temporary files. A bad record with valid records
 * after it, or in an earlier segment, is OWL_ECORRUPT naming the file and offset, and
 * nothing is changed (owl_wal_recover is the explicit repair).
 * DIR/lock is held exclusively while open: a second opener gets OWL_EAGAIN.
 * opts may be NULL for defaults. */
int owl_wal_open(const char *dir, const owl_wal_options *opts, owl_wal_replay_fn fn, void *ud,
                 owl_wal **out, owl_error *err);

/* owl_wal_append — appends one record made of the iov pieces; *lsn gets its number. Returns
 * when the record is durable under the sync policy. On failure (OWL_EIO, OWL_ENOSPC,
 * OWL_ETOOBIG) nothing of the record remains in the log and later appends may succeed. */
int owl_wal_append(owl_wal *w, const struct iovec *iov, int iovcnt, uint64_t *lsn,
                   owl_error *err);

/* owl_wal_checkpoint — records that every lsn <= lsn is stored elsewhere and retires the
 * segments that hold nothing newer (kept as spares up to opts.spares, the rest deleted). */
int owl_wal_checkpoint(owl_wal *w, uint64_t lsn, owl_error *err);

/* owl_wal_sync — makes every appended record durable now. */
int owl_wal_sync(owl_wal *w, owl_error *err);

typedef struct owl_wal_stats {
    uint64_t last_lsn;      /* highest lsn appended (0 when none) */
    uint64_t checkpoint;
    uint64_t bytes;         /* bytes in live segments */
    uint64_t fsyncs;
    uint64_t appends;
    uint64_t reused;        /* segments made from a kept spare file since open */
    uint64_t spares;        /* spare files kept now */
    int direct;             /* the current segment takes direct (O_DIRECT) appends */
} owl_wal_stats;

void owl_wal_stats_get(owl_wal *w, owl_wal_stats *st);

/* owl_wal_verify — reads every segment and record under dir without changing anything and
 * calls report (may be NULL) once per problem (a bad header, checksum or lsn, a torn tail).
 * *records gets the number of good records. OWL_OK when nothing is wrong, else
 * OWL_ECORRUPT. */
int owl_wal_verify(const char *dir, void (*report)(void *ud, const char *what), void *ud,
                   uint64_t *records, owl_error *err);

/* What owl_wal_recover did, summed over the segments it rewrote. */
typedef struct owl_wal_salvage {
    uint64_t files;         /* damaged segments rewritten (originals quarantined) */
    uint64_t kept;          /* records salvaged from them */
    uint64_t regions;       /* damaged byte ranges skipped, each at least one lost record */
    uint64_t bytes_skipped;
    uint64_t lost_lsns;     /* lsns given up (listed in DIR/lost-lsns) */
} owl_wal_salvage;

/* owl_wal_recover — the explicit repair of a log that owl_wal_open refuses with
 * OWL_ECORRUPT. Takes DIR/lock (OWL_EAGAIN when the log is open elsewhere). A segment that
 * is intact, or whose only fault is a torn tail of the last segment, is left alone. From a
 * damaged one every record whose crc matches and whose lsn fits is kept with its lsn: the
 * original is first hard-linked into quarantine (created 0700, same file system; it stays
 * byte-identical), the lsns that could not be salvaged are added to DIR/lost-lsns (so that
 * open accepts exactly those gaps and no others), and each run of consecutive lsns becomes
 * a segment of its own (tmp, fsync, rename). Never edits a file in place; the checkpoint
 * file is not touched. report (may be NULL) gets one line per segment and per skipped
 * range; st (may be NULL) the totals. */
int owl_wal_recover(const char *dir, const char *quarantine,
                    void (*report)(void *ud, const char *line), void *ud, owl_wal_salvage *st,
                    owl_error *err);

/* owl_wal_close — syncs (unless OWL_WAL_SYNC_NONE), closes and frees. Accepts NULL. */
void owl_wal_close(owl_wal *w);

#endif

/* index.h — the public API of index/, owl's storage layer. For now: the embedded metadata
 * store (durable per-tenant resources such as API keys, log groups, alarms, rules).
 *
 * Metadata records are BSON documents addressed by (tenant, kind, id). Writes go to an
 * append-only journal of crc32c-checked records and are fsynced before the call returns
 * (concurrent writers share one fsync); the journal is compacted into a snapshot as it
 * grows; everything is loaded into memory at open. Format: docs/storage.md and meta.c. */
#ifndef OWL_INDEX_H
#define OWL_INDEX_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct owl_meta owl_meta;

/* In opts, compact_min_bytes 0 and compact_ratio <= 0 mean the defaults; fsync is taken as
 * given, so a zero-initialised struct turns fsync off. */
typedef struct owl_meta_options {
    size_t compact_min_bytes;  /* compaction considered once the journal is this large (default 4 MiB) */
    double compact_ratio;      /* ...and journal bytes > ratio * live bytes (default 2.0) */
    int fsync;                 /* 1 (default) = fsync before returning; 0 only for tests/benches */
} owl_meta_options;

/* owl_meta_open — opens (creating if needed) the store in dir, recovering from the
 * snapshot and journal: a torn or corrupt tail of the journal is truncated (and logged),
 * a corrupt snapshot is an error (OWL_ECORRUPT). opts may be NULL for defaults.
 * On success *out must be closed with owl_meta_close. */
int owl_meta_open(const char *dir, const owl_meta_options *opts, owl_meta **out, owl_error *err);

/* What owl_meta_recover did, summed over the files it rewrote. */
typedef struct owl_meta_salvage {
    uint64_t files;         /* damaged files rewritten (originals quarantined) */
    uint64_t kept;          /* records in the rewritten files */
    uint64_t regions;       /* damaged byte ranges skipped, each at least one lost record */
    uint64_t bytes_skipped;
} owl_meta_salvage;

/* owl_meta_recover — the explicit repair of a store that owl_meta_open refuses with
 * OWL_ECORRUPT. Takes the store's lock (OWL_EAGAIN when it is open elsewhere), then for the
 * current generation's snapshot and journal: a file that is intact (or only has a torn
 * tail) is left alone; a damaged one has every valid record on both sides of the damage
 * (in file order) written to a new file of the same name (tmp, fsync, rename), after the
 * original was hard-linked into quarantine (created 0700; must be on the same file system)
 * where it stays byte-identical. Never edits a file in place. With quarantine NULL nothing
 * is written: the damage is only reported and counted (what `owl-store verify` uses).
 * report (may be NULL) gets one line per file and per skipped range; st (may be NULL) the
 * totals (st->files counts the damaged files). */
int owl_meta_recover(const char *dir, const char *quarantine,
                     void (*report)(void *ud, const char *line), void *ud, owl_meta_salvage *st,
                     owl_error *err);

/* owl_meta_close — flushes, closes files and frees. Accepts NULL. */
void owl_meta_close(owl_meta *m);

/* owl_meta_put — durably stores doc (copied) under (tenant, kind, id), replacing any
 * previous one. Returns only after the record is on disk (per options.fsync).
 * Errors: OWL_EINVAL (empty/too long names: each at most 255 bytes, no '/' in tenant as it
 * separates the owl_meta_list cursor pair; doc over 1 MiB),
 * OWL_EIO / OWL_ENOSPC (nothing changed in memory; the store stays usable). Thread-safe. */
int owl_meta_put(owl_meta *m, const char *tenant, const char *kind, const char *id,
                 const bson_t *doc, owl_error *err);

/* owl_meta_put_many — owl_meta_put of n records of one tenant and kind (ids[i] -> docs[i]),
 * written together and made durable by one fsync. On an error, the records before the one
 * that failed may be stored; none after it is. */
int owl_meta_put_many(owl_meta *m, const char *tenant, const char *kind, size_t n,
                      const char *const *ids, const bson_t *const *docs, owl_error *err);

/* owl_meta_put_mixed — owl_meta_put_many of records of one tenant whose kinds differ
 * (kinds[i], ids[i] -> docs[i]): one fsync for all, the same partial-failure rule. */
int owl_meta_put_mixed(owl_meta *m, const char *tenant, size_t n, const char *const *kinds,
                       const char *const *ids, const bson_t *const *docs, owl_error *err);

/* owl_meta_get — copies the document into *out (caller bson_destroy's it).
 * OWL_ENOTFOUND when absent. Thread-safe. */
int owl_meta_get(owl_meta *m, const char *tenant, const char *kind, const char *id,
                 bson_t **out, owl_error *err);

/* owl_meta_delete — durably removes the record. OWL_ENOTFOUND when absent. Thread-safe. */
int owl_meta_delete(owl_meta *m, const char *tenant, const char *kind, const char *id,
                    owl_error *err);

/* Callback for owl_meta_list: return 0 to continue, non-zero to stop. The doc is only
 * valid during the call. */
typedef int (*owl_meta_list_fn)(void *ud, const char *tenant, const char *kind, const char *id,
                                const bson_t *doc);

/* owl_meta_list — visits records of kind in ascending id order, starting after
 * `after_id` (NULL = from the start), at most `limit` (0 = all). tenant NULL = every tenant
 * (ordered by tenant, then id; after_id then applies within the ordering "tenant\0id" —
 * pass the pair as "tenant/id"). Holds a read lock: fn must not call owl_meta_* functions
 * on the same store (the lock prefers writers, so even a nested read can deadlock).
 * Returns OWL_OK (OWL_EINVAL without kind or fn). */
int owl_meta_list(owl_meta *m, const char *tenant, const char *kind, const char *after_id,
                  size_t limit, owl_meta_list_fn fn, void *ud, owl_error *err);

/* owl_meta_count — number of live records (all tenants and kinds). */
size_t owl_meta_count(owl_meta *m);

/* owl_meta_compact — writes a snapshot of the live records and starts a new journal now
 * (also done automatically by put/delete when the thresholds are met). */
int owl_meta_compact(owl_meta *m, owl_error *err);

/* owl_meta_fsyncs — journal fdatasync calls made by writers since open (group commit makes
 * this smaller than the number of changes under concurrency). For tests and metrics. */
size_t owl_meta_fsyncs(owl_meta *m);

/* ======================================================================================
 * The columnar store. One engine serves every table (logs, spans, metrics, audit); the
 * modules that own a table define its schema. Rows are partitioned by (tenant, partition
 * name such as a log group, UTC day of the time column). Appends go to the WAL and then to
 * an in-memory memtable; memtables seal into immutable, zstd-compressed columnar parts;
 * scans read parts and memtables alike. Formats and rules: docs/storage.md.
 * ====================================================================================== */

#define OWL_MAX_COLS 32

enum owl_type {
    OWL_TYPE_TIME = 1, /* int64 time in the schema's unit (ns or ms); one per schema */
    OWL_TYPE_I64 = 2,
    OWL_TYPE_U64 = 3,
    OWL_TYPE_F64 = 4,
    OWL_TYPE_DICT = 5, /* low-cardinality string: dictionary-encoded per block */
    OWL_TYPE_STR = 6,  /* string or bytes */
    OWL_TYPE_ID8 = 7,  /* fixed 8-byte id (span id) */
    OWL_TYPE_ID16 = 8, /* fixed 16-byte id (trace id) */
    OWL_TYPE_BSON = 9, /* a BSON document (attributes) */
};

enum owl_col_flags {
    OWL_COL_TOKENS = 1u, /* per-block bloom filter over the tokens of the values (messages) */
    OWL_COL_BLOOM = 2u,  /* per-block bloom filter over whole values (trace ids) */
    OWL_COL_CLUSTER = 4u, /* at most one U64/I64 column: parts hold their rows sorted by this
                           * column, then time (one series' points together: metrics), not by
                           * time alone; ordered scans of such a table are refused */
    OWL_COL_FAST = 8u,    /* decoding speed before size: a chunk is stored unless zstd saves a
                           * quarter of it (span times and durations, read by every trace
                           * analysis: zstd saved ~20% on them at the cost of entropy-decoding
                           * every byte) */
};

typedef struct owl_coldef {
    const char *name;
    enum owl_type type;
    unsigned flags;
    /* ID columns: 1 + the index of another ID column of the same type whose values this
     * one's mostly are, row by row elsewhere in the block (a span's parent id is another
     * span's id), so parts store them as references to its rows; 0 = none. The column
     * referenced must not reference one itself. */
    unsigned ref;
} owl_coldef;

typedef struct owl_schema {
    const char *name;        /* table name, [a-z0-9_]+ */
    const owl_coldef *cols;
    size_t ncols;            /* <= OWL_MAX_COLS */
    size_t time_col;         /* index of the OWL_TYPE_TIME column */
    int64_t time_per_sec;    /* 1000 (ms) or 1000000000 (ns) */
} owl_schema;

/* A byte string view (not NUL-terminated). */
typedef struct owl_bytes {
    const void *p;
    size_t n;
} owl_bytes;

/* One value. ID8/ID16/STR/DICT/BSON use b (b.n = 8 or 16 for ids). */
typedef union owl_cell {
    int64_t i;
    uint64_t u;
    double f;
    owl_bytes b;
} owl_cell;

/* Rows in column-major form: cols[c][r] is row r of column c of the schema. */
typedef struct owl_rows {
    size_t nrows;
    const owl_cell *cols[OWL_MAX_COLS];
} owl_rows;

/* ---- the table registry: every table's schema, shared by owld, owl-store and the tests ----
 * A table's column numbers below are its schema's column indexes. A new table is an enum
 * here, its schema in index/tables.c and a line in that file's registry. Columns may be added
 * to a table (anywhere in its list) or removed: parts and WAL records written before read an
 * added column as its default; a column's type may not change (docs/storage.md "Schema
 * evolution"). */

enum owl_logs_col {
    OWL_LOGS_TIME = 0,        /* event time, ms (TIME) */
    OWL_LOGS_INGEST_TIME = 1, /* when owl received it, ms (I64) */
    OWL_LOGS_STREAM = 2,      /* log stream name (DICT) */
    OWL_LOGS_MESSAGE = 3,     /* the message bytes (STR, token blooms) */
    OWL_LOGS_SEVERITY = 4,    /* "INFO", "ERROR", ... or "" (DICT) */
    OWL_LOGS_TRACE_ID = 5,    /* 16 bytes, zero when none (ID16, value blooms) */
    OWL_LOGS_SPAN_ID = 6,     /* 8 bytes, zero when none (ID8) */
    OWL_LOGS_ATTRS = 7,       /* attributes as a BSON document, empty when none (BSON) */
    OWL_LOGS_NCOLS = 8,
};

/* The audit trail (server/audit.c): one row per authenticated or refused API request. */
enum owl_audit_col {
    OWL_AUDIT_TIME = 0,        /* when the request arrived, ms (TIME) */
    OWL_AUDIT_KEY_ID = 1,      /* the key it was signed with, or claimed (DICT) */
    OWL_AUDIT_SOURCE = 2,      /* client address (DICT) */
    OWL_AUDIT_USER_AGENT = 3,  /* (DICT) */
    OWL_AUDIT_ACTION = 4,      /* "iam:CreateKey", ... (DICT) */
    OWL_AUDIT_RESOURCE = 5,    /* (STR) */
    OWL_AUDIT_STATUS = 6,      /* HTTP status (I64) */
    OWL_AUDIT_ERROR_CODE = 7,  /* "" on success (DICT) */
    OWL_AUDIT_REQUEST_ID = 8,  /* x-owl-request-id (STR, value blooms) */
    OWL_AUDIT_DURATION_US = 9, /* (I64) */
    OWL_AUDIT_COUNT = 10,      /* failed authentications the row stands for; 0 (the default of
                                * rows written before the column) means 1 (I64) */
    OWL_AUDIT_NCOLS = 11,
};

/* Metric datapoints (analytics/): partitions "m1" (raw datapoints), "m60", "m300", "m3600"
 * (roll-ups). Each row is a partial aggregate of one series and unit at one time (a raw
 * datapoint's timestamp, or a roll-up bucket's start): rows of the same series, unit and
 * bucket merge when read. A row with count 1 and no sketch is one value, held in sum (its
 * min and max are 0 and not read), so a plain datapoint costs one value column. */
enum owl_metrics_col {
    OWL_METRICS_TIME = 0,   /* ms (TIME) */
    OWL_METRICS_SERIES = 1, /* the catalog's dense per-tenant series id (U64) */
    OWL_METRICS_UNIT = 2,   /* canonical CloudWatch unit, "" = None (DICT) */
    OWL_METRICS_RES = 3,    /* raw rows: storage resolution 1 or 60; roll-ups: the level (I64) */
    OWL_METRICS_COUNT = 4,  /* sample count (F64) */
    OWL_METRICS_SUM = 5,    /* (F64) */
    OWL_METRICS_MIN = 6,    /* (F64) */
    OWL_METRICS_MAX = 7,    /* (F64) */
    OWL_METRICS_SKETCH = 8, /* owl_sketch_encode bytes; empty when the row has no
                             * distribution (one value, or a statistic set) (STR) */
    OWL_METRICS_FLAGS = 9,  /* bit 0: a statistic set contributed (no full distribution) (I64) */
    OWL_METRICS_NCOLS = 10,
};

/* Spans (ingest/traces.c): one partition per tenant ("traces"). Clustered by trace_key, so a
 * part's blocks each hold a narrow range of trace keys and a trace is found in any part by
 * block min/max alone, with no time range; the bloom on trace_id weeds out the rest. */
enum owl_spans_col {
    OWL_SPANS_TIME = 0,          /* start, Unix ns (TIME) */
    OWL_SPANS_TRACE_KEY = 1,     /* owl_hash64(trace_id, 16, 0) (U64, the cluster column) */
    OWL_SPANS_TRACE_ID = 2,      /* (ID16, value blooms) */
    OWL_SPANS_SPAN_ID = 3,       /* (ID8) */
    OWL_SPANS_PARENT_ID = 4,     /* zero for a root (ID8) */
    OWL_SPANS_SERVICE = 5,       /* (DICT) */
    OWL_SPANS_NAME = 6,          /* the operation (DICT) */
    OWL_SPANS_KIND = 7,          /* enum owl_span_kind (I64) */
    OWL_SPANS_DURATION = 8,      /* ns (I64) */
    OWL_SPANS_STATUS = 9,        /* enum owl_span_status (I64) */
    OWL_SPANS_STATUS_CODE = 10,  /* as the source gave it (I64) */
    OWL_SPANS_STATUS_MSG = 11,   /* (STR) */
    OWL_SPANS_HTTP_METHOD = 12,  /* (DICT) */
    OWL_SPANS_ROUTE = 13,        /* (DICT) */
    OWL_SPANS_URL = 14,          /* (STR) */
    OWL_SPANS_HTTP_STATUS = 15,  /* 0 = none (I64) */
    OWL_SPANS_PEER_SERVICE = 16, /* (DICT) */
    OWL_SPANS_USER_AGENT = 17,   /* (DICT) */
    OWL_SPANS_CLIENT_IP = 18,    /* (DICT) */
    OWL_SPANS_IN_PROGRESS = 19,  /* 1 = not ended yet (I64) */
    OWL_SPANS_ATTRS = 20,        /* attributes, events, links, ... (BSON) */
    OWL_SPANS_RESOURCE = 21,     /* {resource, scope} the span's reporter shares (BSON) */
    OWL_SPANS_NCOLS = 22,
};

extern const owl_schema owl_logs_schema;
extern const owl_schema owl_audit_schema;
extern const owl_schema owl_metrics_schema;
extern const owl_schema owl_spans_schema;

/* owl_tables — every registered table (*n gets the count). The array is static. */
const owl_schema *const *owl_tables(size_t *n);

/* owl_table_find — the registered table called name, or NULL. */
const owl_schema *owl_table_find(const char *name);

/* owl_schema_col — the index of sc's column called name in *idx. OWL_OK, or OWL_ENOTFOUND
 * (then *idx is untouched). */
int owl_schema_col(const owl_schema *sc, const char *name, size_t *idx);

/* owl_col_default — the value a column of type t holds where none was given (an unset
 * column of a row builder, a column a part or WAL record was written without): 0 for the
 * numbers and TIME, empty bytes for DICT, STR and BSON (an empty BSON value means "no
 * document"; the part writer accepts it), width zero bytes for ID8 / ID16. The bytes are
 * static. */
owl_cell owl_col_default(enum owl_type t);

/* A growable set of rows for one table, built row by row and column by column, that gives
 * owl_rows for owl_store_append. Byte values are copied into one buffer owned by the
 * builder. Usage: init; then per row begin_row, set_* (any order; unset columns keep their
 * default), end_row; then owl_rowbuf_rows; reset to reuse; free. Not thread-safe. */
typedef struct owl_rowbuf {
    const owl_schema *schema;
    size_t nrows;                  /* finished rows */
    size_t cap;
    int in_row;                    /* begin_row called, end_row not yet */
    owl_cell *cells[OWL_MAX_COLS]; /* byte values as offsets into `bytes` */
    owl_cell *view[OWL_MAX_COLS];  /* byte columns as pointers, filled by owl_rowbuf_rows */
    owl_cell dflt[OWL_MAX_COLS];   /* each column's default as it is stored in cells */
    owl_buf bytes;
    owl_rows rows;
} owl_rowbuf;

/* owl_rowbuf_init — an empty builder for schema (which must outlive it). Never fails. */
void owl_rowbuf_init(owl_rowbuf *rb, const owl_schema *schema);

/* owl_rowbuf_begin_row — starts a row with every column at its default. OWL_OK, OWL_ENOMEM,
 * OWL_EINVAL (a row is already begun). */
int owl_rowbuf_begin_row(owl_rowbuf *rb);

/* owl_rowbuf_set_i64 / _u64 / _f64 / _bytes — set column col of the begun row: set_i64 for
 * TIME and I64, set_u64 for U64, set_f64 for F64, set_bytes for DICT, STR, BSON and the ids
 * (n must then be 8 or 16; the bytes are copied). OWL_OK; OWL_EINVAL (no row begun, col out
 * of range, the column's type does not take that value, a wrong id width, p NULL with n > 0);
 * OWL_ENOMEM (the column keeps its value). */
int owl_rowbuf_set_i64(owl_rowbuf *rb, size_t col, int64_t v);
int owl_rowbuf_set_u64(owl_rowbuf *rb, size_t col, uint64_t v);
int owl_rowbuf_set_f64(owl_rowbuf *rb, size_t col, double v);
int owl_rowbuf_set_bytes(owl_rowbuf *rb, size_t col, const void *p, size_t n);

/* owl_rowbuf_set_named — sets the column called name from v, read as the column's type asks
 * (v->i, v->u, v->f or v->b). Errors as above, and OWL_ENOTFOUND for an unknown name. */
int owl_rowbuf_set_named(owl_rowbuf *rb, const char *name, const owl_cell *v);

/* owl_rowbuf_end_row — finishes the begun row. OWL_OK, or OWL_EINVAL when none is begun. */
int owl_rowbuf_end_row(owl_rowbuf *rb);

/* owl_rowbuf_rows — the finished rows (a begun, unfinished row is left out), valid until the
 * next call of any owl_rowbuf function but this one. May be called any number of times and
 * rows added in between. Never fails. */
const owl_rows *owl_rowbuf_rows(owl_rowbuf *rb);

/* owl_rowbuf_reset — drops every row (keeps the memory for reuse). */
void owl_rowbuf_reset(owl_rowbuf *rb);

/* owl_rowbuf_free — frees the memory; rb may be initialised again. Accepts NULL. */
void owl_rowbuf_free(owl_rowbuf *rb);

enum owl_sync_policy {
    OWL_SYNC_ALWAYS = 0,   /* fdatasync before acknowledging (default) */
    OWL_SYNC_INTERVAL = 1, /* fdatasync every sync_interval_ms */
    OWL_SYNC_NONE = 2,
};

typedef struct owl_store_options {
    enum owl_sync_policy sync;
    int sync_interval_ms;      /* default 1000 */
    size_t memtable_rows;      /* seal a memtable past this many rows (default 65536) */
    size_t memtable_bytes;     /* ...or this many raw bytes (default 64 MiB) */
    int memtable_age_ms;       /* ...or when its oldest row is this old (default 10000) */
    size_t wal_max_bytes;      /* ...or, once the live WAL holds more than this (default 256 MiB),
                                  when it holds rows of the WAL's older half: the checkpoint
                                  moves on and the WAL reuses its checkpointed segment files */
    size_t block_rows;         /* rows per block in parts (default 8192) */
    int zstd_level;            /* level for sealed parts (default -1: zstd's fast levels) */
    int compact_zstd_level;    /* level for compacted parts (default 9) */
    size_t compact_min_parts;  /* merge a run of this many parts of a day (default 4) */
    size_t compact_max_rows;   /* rows a merge takes at most (default 4 Mi); a day that still
                                  has memtables merges at most a quarter of it at a time, and
                                  parts of half the limit are not merged again */
    int settle_age_ms;         /* a cold day settles (owl_store_compact) once no row reached it
                                  for this long (default 3600000 = 1 hour; 0 = the default;
                                  negative: at once, as owl-store import does) */
    int background;            /* 1 (default): flusher + janitor threads; 0: only explicit calls */
} owl_store_options;

typedef struct owl_store owl_store;

/* owl_store_options_default — fills o with the defaults named above. */
void owl_store_options_default(owl_store_options *o);

/* owl_store_open — opens (creating) the store in dir for the given tables (schemas NULL: every
 * table of the registry, owl_tables), replays the WAL into memtables, removes temporary files
 * and quarantines parts whose footer fails its checks. schemas must outlive the store. opts
 * NULL = defaults. Parts and WAL records written under an older schema of a table are read
 * by column name (missing columns read as owl_col_default). The open fails, changing nothing
 * of the data, with OWL_EUNSUPPORTED when a part or WAL record holds a column whose type
 * differs from the schema's (naming part, column and both types; such a part is not
 * quarantined), or when the WAL holds a record of a table not among schemas (naming the
 * table): replay never checkpoints past a record it could not apply. */
int owl_store_open(const char *dir, const owl_schema *const *schemas, size_t nschemas,
                   const owl_store_options *opts, owl_store **out, owl_error *err);

/* owl_store_close — stops background work, seals every memtable into parts, checkpoints the
 * WAL and frees. Accepts NULL. */
void owl_store_close(owl_store *s);

/* owl_store_append — appends rows to (table, tenant, partition). Returns OWL_OK only when
 * the rows are durable under the sync policy and visible to scans. Errors: OWL_EINVAL (unknown
 * table, bad names, a value of the wrong size, a time outside the years 1 to 9999), OWL_ENOSPC / OWL_EIO (nothing became visible;
 * later appends may succeed). Thread-safe. */
int owl_store_append(owl_store *s, const char *table, const char *tenant, const char *partition,
                     const owl_rows *rows, owl_error *err);

/* owl_store_set_retention — keeps rows of (table, tenant, partition) for `days` days
 * (0 = forever, the default). Durable; setting the value a partition already has writes
 * nothing, so callers may repeat it cheaply. Rows older than now - days are never returned by a
 * scan; whole day directories past retention are deleted by the janitor. */
int owl_store_set_retention(owl_store *s, const char *table, const char *tenant,
                            const char *partition, int days, owl_error *err);

/* owl_combiner — how a merge may combine rows of a table that are partial aggregates
 * (docs/storage.md "Combining rows at merges"). A merge of parts of a covered partition
 * writes each group of rows as one: a group is a run of rows adjacent in the merged order
 * (cluster key, time) that `same` joins to its first row. The row written is the group's
 * first with the columns `emit` sets, and must read as the group does. A row is (cols, r):
 * cols[c][r] is its cell of column c, as owl_rows holds them. Called from the compacting
 * thread only, one group at a time. */
typedef struct owl_combiner {
    /* 1 when partition's rows may be combined (NULL: every partition's) */
    int (*covers)(const char *partition);
    /* 1 when row rb of b joins the group of row ra of a; both have one cluster key and time */
    int (*same)(const owl_cell *const *a, size_t ra, const owl_cell *const *b, size_t rb);
    size_t state_bytes; /* a group's state, zeroed before the group's first add */
    /* folds a row into the group: OWL_OK, or an error that fails the merge (drop follows) */
    int (*add)(void *state, const owl_cell *const *cols, size_t r);
    /* sets the combined columns of row r of out (the group's first row), byte values
     * copied into bytes (an arena the merge keeps until the row is written), and frees what
     * state holds, whatever the result. OWL_OK or an error that fails the merge */
    int (*emit)(void *state, owl_cell *const *out, size_t r, owl_arena *bytes);
    /* frees what state holds, after a failure; accepts a state add never reached */
    void (*drop)(void *state);
} owl_combiner;

/* owl_store_set_combiner — merges of table's parts combine rows with c from now on (NULL:
 * no more). c is not copied: it must outlive the store (a static table). OWL_EINVAL for an
 * unknown table. Thread-safe; a merge in progress keeps the combiner it began with. */
int owl_store_set_combiner(owl_store *s, const char *table, const owl_combiner *c,
                           owl_error *err);

/* owl_store_flush — seals every memtable into parts now and checkpoints the WAL. */
int owl_store_flush(owl_store *s, owl_error *err);

/* owl_store_compact — merges small parts of every partition-day now (also run by the
 * background janitor): a day holding compact_min_parts parts or more, runs of cold sparse
 * days into spans, and settles cold days: a day before today (UTC) that no row reached for
 * settle_age_ms and that holds a part written by a seal (level 0, at zstd_level) is rewritten
 * once at compact_zstd_level, even when that is its only part (a small day, which may still
 * join a span, waits until it is 2 days old). */
int owl_store_compact(owl_store *s, owl_error *err);

/* owl_store_retire — applies retention as of now_ms (deletes expired day directories), and
 * removes what dropped partitions left behind (owl_store_drop_partition). Also run by the
 * background janitor. */
int owl_store_retire(owl_store *s, int64_t now_ms, owl_error *err);

/* owl_store_drop_partition — drops (table, tenant, partition) with every row it holds
 * (DeleteLogGroup). Once it returns OWL_OK no scan that starts afterwards returns a row of
 * it, after a crash and WAL replay too: the drop is a WAL record of its own (synced under
 * every sync policy) and a DROPPED marker in the partition's directory (docs/storage.md)
 * that keeps WAL records and parts written before it from coming back. Its parts are
 * unlinked at once, or when the last scan reading one ends; empty directories go at once
 * or at a later janitor pass, the marker once the WAL checkpoint has passed the drop. A
 * scan already running keeps the rows of its snapshot. The retention setting goes too.
 * Appending to the same names later is allowed and starts a new, empty partition (rows
 * appended concurrently with the drop belong to the old one or the new one by their WAL
 * order). Errors: OWL_EINVAL (unknown table, bad names), OWL_ENOTFOUND (no such partition,
 * or dropped already), OWL_EIO / OWL_ENOSPC from the WAL (nothing dropped) or from the
 * marker (the drop holds in memory and in the WAL, which is kept until the janitor has
 * written the marker). Thread-safe: waits for a running seal or compaction. */
int owl_store_drop_partition(owl_store *s, const char *table, const char *tenant,
                             const char *partition, owl_error *err);

/* owl_store_partition_bytes — the bytes (*stored) and rows (*rows) (table, tenant,
 * partition) holds now: the file sizes of its parts plus the raw bytes of its memtables
 * (rows not sealed yet), and the rows of both. Read from figures kept current in memory
 * (no file is read, no other partition visited): they fall when retention deletes days,
 * compaction shrinks parts, or a drop empties the partition. Rows past retention that are
 * not deleted yet still count. OWL_EINVAL (unknown table, bad names), OWL_ENOTFOUND (no such
 * partition, or dropped). Thread-safe. */
int owl_store_partition_bytes(owl_store *s, const char *table, const char *tenant,
                              const char *partition, uint64_t *stored, uint64_t *rows,
                              owl_error *err);

enum owl_pred_op {
    OWL_PRED_EQ = 1,     /* column == value (numbers, DICT/STR/ID bytes) */
    OWL_PRED_IN = 2,     /* column in set */
    OWL_PRED_RANGE = 3,  /* lo <= column < hi (numbers, time) */
    OWL_PRED_TOKEN = 4,  /* the value contains this token (bloom-pruned on OWL_COL_TOKENS) */
    OWL_PRED_SUBSTR = 5, /* the value contains this byte string */
    OWL_PRED_EXISTS = 6, /* path predicates only: the document has a value at the path */
};

/* How a path predicate compares the value found at its path (owl_pred.path). */
enum owl_path_type {
    OWL_PATH_STR = 0, /* lo/hi/set are bytes (.b) and match UTF-8 string values byte-wise;
                         RANGE is [lo, hi) in memcmp order (a shorter prefix first) */
    OWL_PATH_NUM = 1, /* lo/hi/set are doubles (.f) and match int32, int64 and double values
                         by their numeric value (an int64 is converted to double first) */
};

/* A predicate on column col. With path set, col must be an OWL_TYPE_BSON column and the
 * predicate applies to the value at the dotted path inside each row's document ("http.status";
 * a numeric segment indexes an array: "a.0"); EQ, IN, RANGE (typed by path_type), TOKEN and
 * SUBSTR (on string values) and EXISTS are allowed. A row without a value at the path, with a
 * value of another type, or whose document is malformed does not match. Path predicates never
 * prune blocks. */
typedef struct owl_pred {
    size_t col;
    enum owl_pred_op op;
    owl_cell lo, hi;        /* EQ: lo; RANGE: [lo, hi) */
    const owl_cell *set;    /* IN */
    size_t nset;
    owl_bytes text;         /* TOKEN, SUBSTR */
    const char *path;       /* NULL: the column's own value */
    enum owl_path_type path_type;
} owl_pred;

/* A boolean tree of predicates. PRED: the leaf `pred`; AND / OR: kids[0..nkids) (an empty
 * AND holds, an empty OR does not); NOT: exactly one kid. At most OWL_FILTER_MAX_DEPTH levels
 * and OWL_FILTER_MAX_NODES nodes. Blocks are pruned where the tree allows it: an AND when one
 * child certainly fails, an OR when every child does; a NOT never prunes. */
enum owl_filter_kind {
    OWL_FILTER_PRED = 1,
    OWL_FILTER_AND = 2,
    OWL_FILTER_OR = 3,
    OWL_FILTER_NOT = 4,
};

#define OWL_FILTER_MAX_DEPTH 16
#define OWL_FILTER_MAX_NODES 256

typedef struct owl_filter {
    enum owl_filter_kind kind;
    const owl_pred *pred;           /* PRED */
    const struct owl_filter *kids;  /* AND, OR, NOT */
    size_t nkids;
} owl_filter;

/* A batch handed to a scan callback: only the wanted columns, in the order asked; valid
 * only during the call. */
typedef struct owl_batch {
    size_t nrows;
    const char *tenant;
    const char *partition;
    const owl_cell *cols[OWL_MAX_COLS];
    const uint64_t *keys; /* ordered scans: each row's tie-break key (owl_scan.order); else NULL */
    uint64_t floor;       /* OWL_ORDER_CLUSTER: no later batch holds a cluster key below this
                             (UINT64_MAX from the last part block on); else 0 */
} owl_batch;

typedef int (*owl_scan_fn)(void *ud, const owl_batch *b);

/* Order of an ordered scan: by the time column, rows of equal time by a 64-bit key hashed
 * from the tenant, the partition name and the values of the wanted columns (in the order
 * asked). Sealing and compaction rewrite rows but not values, so the order of a row never
 * changes; rows alike in all of those are interchangeable, and a cursor counts them. */
enum owl_order {
    OWL_ORDER_NONE = 0, /* no order across batches (the fastest) */
    OWL_ORDER_ASC = 1,  /* oldest first, then ascending key */
    OWL_ORDER_DESC = 2, /* newest first, then descending key */
    /* A clustered table's (OWL_COL_CLUSTER) parts read together in cluster-key order: the
     * memtables' rows first, then the parts' blocks by their least key, each batch with a
     * `floor` below which no later batch holds a key. A reader grouping rows by that key
     * (a window walk, by trace) finishes every group under the floor as it goes, holding a
     * few blocks per part instead of the whole range. No cursor; a limit counts rows. */
    OWL_ORDER_CLUSTER = 3,
};

/* Where an ordered scan stopped: the last row returned was (time, key), and `count` rows
 * of exactly that (time, key) have been returned in all. Treat it as opaque (store it, or pass
 * it as text with owl_scan_cursor_format); callers merging pages of several scans may compare
 * and build one from a batch's times and keys. A cursor resumes a scan of the same table,
 * tenant, partitions, time range, predicates/filter, columns and order; rows appended after
 * the previous page that sort before the cursor are not returned. */
typedef struct owl_scan_cursor {
    int64_t time;
    uint64_t key;
    uint64_t count;
    enum owl_order order;
} owl_scan_cursor;

#define OWL_SCAN_CURSOR_TEXT 40 /* owl_scan_cursor_format's output, with its NUL */

typedef struct owl_scan {
    const char *table;
    const char *tenant;
    const char *const *partitions; /* NULL = every partition of the tenant */
    size_t npartitions;
    int64_t start, end;            /* time range [start, end) in the table's unit */
    const size_t *cols;            /* columns wanted */
    size_t ncols;
    const owl_pred *preds;         /* all must hold (AND) */
    size_t npreds;
    owl_scan_fn fn;                /* a non-zero return stops the scan (and is returned) */
    void *ud;
    const owl_filter *filter;      /* NULL, or a tree that must hold too (ANDed with preds) */
    enum owl_order order;          /* OWL_ORDER_NONE (0) by default */
    size_t limit;                  /* at most this many rows (0 = no limit) */
    const owl_scan_cursor *after;  /* ordered scans: resume after this cursor (NULL = start) */
    owl_scan_cursor *next;         /* ordered scans, may be NULL: set when *more is set */
    int *more;                     /* may be NULL: 1 when the limit stopped the scan and more
                                      rows match, else 0 */
} owl_scan;

typedef struct owl_scan_stats {
    uint64_t parts, blocks, blocks_skipped, rows_scanned, rows_matched, bytes_read;
} owl_scan_stats;

/* owl_store_scan — calls fn with batches of matching rows from parts and memtables
 * (read-your-writes, as of a snapshot taken when the scan starts). With OWL_ORDER_NONE rows
 * come in no particular order across batches; with ASC/DESC in (time, key) order, stopping at
 * `limit` rows and filling *next and *more. stats may be NULL. A part that fails a checksum
 * during the scan is quarantined and skipped (counted).
 * Locking: fn runs with no lock of the store held. It may take its time (appends, to any
 * partition, never wait for it) and may call the store, including owl_store_scan and
 * owl_store_append on the same store (a nested scan sees its own snapshot).
 * Errors: OWL_EINVAL (unknown table, a column out of range, a malformed filter or path
 * predicate, a cursor of another order or one with OWL_ORDER_NONE), OWL_ENOMEM, OWL_EIO;
 * fn's non-zero return. */
int owl_store_scan(owl_store *s, const owl_scan *q, owl_scan_stats *stats, owl_error *err);

/* owl_scan_cursor_format — writes c as a short URL-safe token (at most
 * OWL_SCAN_CURSOR_TEXT - 1 characters of [A-Za-z0-9_-]) into out. Cannot fail. */
void owl_scan_cursor_format(const owl_scan_cursor *c, char out[OWL_SCAN_CURSOR_TEXT]);

/* owl_scan_cursor_parse — reads a token written by owl_scan_cursor_format. OWL_EINVAL for
 * anything else (wrong length, characters, version, order); *c is then untouched. */
int owl_scan_cursor_parse(const char *text, owl_scan_cursor *c);

typedef struct owl_store_table_stats {
    const char *table;
    char tenant[256], partition[256];
    uint64_t rows, raw_bytes, stored_bytes, parts;
} owl_store_table_stats;

typedef struct owl_store_stats {
    uint64_t wal_bytes, fsyncs, compactions, quarantined, parts, rows;
} owl_store_stats;

/* owl_store_stats_get — store-wide counters. */
void owl_store_stats_get(owl_store *s, owl_store_stats *st);

/* owl_store_partitions — calls fn once per (table, tenant, partition) with its figures. */
int owl_store_partitions(owl_store *s, int (*fn)(void *ud, const owl_store_table_stats *t),
                         void *ud, owl_error *err);

/* owl_store_verify — reads every part and checks every checksum; calls report (may be NULL)
 * for each problem. Returns OWL_OK when nothing is corrupt, else OWL_ECORRUPT. */
int owl_store_verify(const char *dir, void (*report)(void *ud, const char *what), void *ud,
                     owl_error *err);

/* ---- CloudWatch Logs filter patterns (filterpat.c; the language in docs/filter-patterns.md) ----
 * One compiled pattern serves FilterLogEvents, metric filters and live tail: an exact match of
 * one event's message, a necessary condition the store can prune blocks with, and the values a
 * metric filter reads. A compiled pattern is immutable and may be shared by threads. */
typedef struct owl_fpat owl_fpat;

#define OWL_FPAT_MAX_LEN 1024 /* CloudWatch's limit on filterPattern */

/* owl_fpat_compile — compiles text[0..n) (case-sensitive; "" or only blanks matches every
 * event; at most OWL_FPAT_MAX_LEN bytes). A malformed pattern is OWL_EINVAL with err naming
 * the 1-based byte position, e.g. "unexpected ']' at position 14"; OWL_ENOMEM. On success
 * *out must be freed with owl_fpat_free; on failure *out is NULL. */
int owl_fpat_compile(const char *text, size_t n, owl_fpat **out, owl_error *err);

/* owl_fpat_free — frees p and every filter handed out by owl_fpat_filter. Accepts NULL. */
void owl_fpat_free(owl_fpat *p);

/* owl_fpat_match — 1 when the message msg[0..n) matches p, else 0. Allocation-free for term
 * patterns and for JSON and space-delimited ones without regular expressions (save events
 * of more than 64 fields or JSON strings with escapes over 1 KiB). Thread-safe. */
int owl_fpat_match(const owl_fpat *p, const char *msg, size_t n);

/* owl_fpat_filter — a NECESSARY condition on the message column message_col (an owl_filter
 * of OWL_PRED_SUBSTR / OWL_PRED_TOKEN predicates): every message p matches passes it, so a
 * scan may prune blocks with it before calling owl_fpat_match on each row. NULL when the
 * pattern gives nothing to prune on (or memory ran out). Owned by p, valid until
 * owl_fpat_free. Thread-safe. */
const owl_filter *owl_fpat_filter(const owl_fpat *p, size_t message_col);

/* owl_fpat_extract — the value that ref names in msg[0..n), for metric filters: ref is a JSON
 * selector ("$.a.b[0]") for JSON patterns, "$name" (a named field) for space-delimited ones.
 * Returns 1 and sets *text (a view into msg, or into scratch when a JSON string had escapes
 * to decode: valid until scratch changes), *is_num and, when the value reads as a number,
 * *num; returns 0 when the value is absent (JSON null included), the event does not match a
 * space-delimited pattern, ref is malformed or scratch could not grow. num and is_num may be
 * NULL. Thread-safe with one scratch per thread. */
int owl_fpat_extract(const owl_fpat *p, const char *msg, size_t n, const char *ref,
                     owl_buf *scratch, owl_bytes *text, double *num, int *is_num);

/* owl_fpat_check_ref — OWL_OK when ref can name a value of events matched by p (any
 * well-formed selector of a JSON pattern; a named field of a space-delimited one), else
 * OWL_EINVAL with a message. */
int owl_fpat_check_ref(const owl_fpat *p, const char *ref, owl_error *err);

/* owl_fpat_field_name — the name (without '$') of the i-th named field of a space-delimited
 * pattern, NULL past the last one and for other kinds of pattern (TestMetricFilter's
 * extractedValues). Owned by p. */
const char *owl_fpat_field_name(const owl_fpat *p, size_t i);

/* ---- CloudWatch Logs Insights queries (insights_parse.c, insights_exec.c, insights_fn.c; the
 * language, what is pushed down and every choice made where AWS is silent: docs/insights.md) ----
 * A query is parsed once into an immutable owl_ins_query that threads may share; each execution
 * is an owl_ins_run fed the events of a scan in any order and finished into the rows
 * GetQueryResults returns. No I/O: the caller scans the logs table and feeds the run. */
typedef struct owl_ins_query owl_ins_query;
typedef struct owl_ins_run owl_ins_run;
typedef struct owl_ins_result owl_ins_result;

/* owl_ins_parse — parses text[0..n) (at most 10,000 bytes, CloudWatch's limit). A malformed
 * query is OWL_EINVAL with err naming the place, "line 1, column 17: expected ..." (lines and
 * columns from 1, columns in bytes); OWL_ENOMEM. On success *out must be freed with
 * owl_ins_free; on failure *out is NULL. The result is immutable and thread-safe to share. */
int owl_ins_parse(const char *text, size_t n, owl_ins_query **out, owl_error *err);

/* owl_ins_free — frees q and the filter it handed out. Accepts NULL. */
void owl_ins_free(owl_ins_query *q);

/* owl_ins_filter — a NECESSARY condition on the logs table (owl_logs_col) for the events the
 * query keeps: an owl_filter of OWL_PRED_SUBSTR / EQ on OWL_LOGS_MESSAGE, EQ / IN / SUBSTR on
 * OWL_LOGS_STREAM and RANGE on OWL_LOGS_TIME / OWL_LOGS_INGEST_TIME, derived from the filter
 * commands before the first stats, limit or dedup (and only from fields no earlier fields or
 * parse command replaced). Every event that reaches the query's first stats, limit or dedup
 * passes it, so a scan may prune with it. NULL when there is nothing to prune on. Owned by q,
 * valid until owl_ins_free. Thread-safe. */
const owl_filter *owl_ins_filter(const owl_ins_query *q);

/* owl_ins_columns — the logs columns (bit 1u << OWL_LOGS_x) the run reads from events: TIME
 * always; MESSAGE when @message or any field found in messages is read; STREAM, INGEST_TIME
 * when named. A caller may leave the other owl_ins_event members empty. */
unsigned owl_ins_columns(const owl_ins_query *q);

/* owl_ins_aggregating — 1 when the query has a stats command (its rows are groups, without
 * @ptr), else 0. */
int owl_ins_aggregating(const owl_ins_query *q);

/* One event of the logs table. message, stream, group (shown as @log), ptr (an opaque id
 * unique per event, shown as @ptr) are views the run copies what it keeps of; p may be NULL
 * when n is 0. */
typedef struct owl_ins_event {
    int64_t time_ms, ingest_ms;
    owl_bytes message, stream, group, ptr;
} owl_ins_event;

#define OWL_INS_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define OWL_INS_DEFAULT_MAX_ROWS 10000 /* CloudWatch's result rows when the query has no limit */

/* The bounds of one run; 0 means the default. max_bytes bounds the state it keeps (rows of the
 * top-N heap and of later commands, groups, distinct sets, percentile values, hash tables);
 * max_rows the rows returned. */
typedef struct owl_ins_limits {
    size_t max_bytes;
    size_t max_rows;
} owl_ins_limits;

/* The statistics GetQueryResults reports: events fed, events that passed the commands before
 * the first stats / limit / dedup, and the bytes of their messages fed. */
typedef struct owl_ins_stats {
    uint64_t records_matched, records_scanned, bytes_scanned;
} owl_ins_stats;

/* owl_ins_run_new — a run of q (which must outlive it) within lim (NULL: defaults). OWL_ENOMEM.
 * On success *out must be freed with owl_ins_run_free. A run is used by one thread at a time. */
int owl_ins_run_new(const owl_ins_query *q, const owl_ins_limits *lim, owl_ins_run **out,
                    owl_error *err);

/* owl_ins_run_feed — runs one event through the query. Events may come in any order: the
 * result does not depend on it (ties are broken by time, ingestion time and @ptr). OWL_OK;
 * OWL_ELIMIT when the state passes lim->max_bytes (a high-cardinality stats ... by, a large
 * dedup or a heap of large rows), OWL_ENOMEM; after a failure every later call fails the same
 * way; OWL_EINVAL after owl_ins_run_finish. */
int owl_ins_run_feed(owl_ins_run *r, const owl_ins_event *ev, owl_error *err);

/* owl_ins_run_feed_batch — owl_ins_run_feed of ev[0..n) in turn, stopping at the first
 * failure (same errors); faster for queries it has a shorter way for (today a first command
 * `stats count(*) ... by bin(period)`, counted from the events' times). */
int owl_ins_run_feed_batch(owl_ins_run *r, const owl_ins_event *ev, size_t n, owl_error *err);

/* owl_ins_run_times_only — 1 when r's result depends on nothing of an event but its time
 * (today a first command `stats count(*) ... by bin(period)` of @timestamp), so that
 * owl_ins_run_feed_times may stand for owl_ins_run_feed. */
int owl_ins_run_times_only(const owl_ins_run *r);

/* owl_ins_run_feed_times — for a run owl_ins_run_times_only says yes to: the events of times
 * t[0..n) (nothing else known of them), as owl_ins_run_feed_batch would take them (same
 * errors). OWL_EINVAL for any other run. */
int owl_ins_run_feed_times(owl_ins_run *r, const int64_t *t, size_t n, owl_error *err);

/* owl_ins_time_order — -1 when q's rows are the newest events that reach its first limit
 * (no stats or dedup before it, sorted by the event's own @timestamp descending, or not sorted:
 * CloudWatch's default), 1 when they are the oldest (sorted ascending), else 0. A caller able
 * to feed the events in that order may stop as soon as owl_ins_run_past says so. */
int owl_ins_time_order(const owl_ins_query *q);

/* owl_ins_run_past — 1 when, in the order owl_ins_time_order gives (non-zero), no event of time
 * time_ms or past it can change r's result (its top-N rows are all kept and all come before
 * that time; the run failed), else 0. Events of equal time are never past: they may win on a
 * tie-break. */
int owl_ins_run_past(const owl_ins_run *r, int64_t time_ms);

/* owl_ins_run_done — *done = 1 when no further event can change the result (today: only once
 * the run has failed, since events come unordered), else 0. OWL_OK. */
int owl_ins_run_done(owl_ins_run *r, int *done);

/* owl_ins_run_finish — runs the commands after the first stats / limit / dedup and hands the
 * rows in *out (free with owl_ins_result_free): at most lim->max_rows, each the non-null fields
 * of the query's columns in order. A run is finished once (again: OWL_EINVAL). OWL_ELIMIT,
 * OWL_ENOMEM, or the earlier failure of a feed. */
int owl_ins_run_finish(owl_ins_run *r, owl_ins_result **out, owl_error *err);

/* owl_ins_run_free — frees r (finished or not). Accepts NULL. */
void owl_ins_run_free(owl_ins_run *r);

/* owl_ins_result_rows — how many rows res holds. */
size_t owl_ins_result_rows(const owl_ins_result *res);

/* owl_ins_result_nfields — how many (field, value) pairs row holds (0 past the last row). */
size_t owl_ins_result_nfields(const owl_ins_result *res, size_t row);

/* owl_ins_result_field — the i-th pair of row: its name and its value as text (both
 * NUL-terminated after n bytes, owned by res). OWL_OK, or OWL_ERANGE past the end. */
int owl_ins_result_field(const owl_ins_result *res, size_t row, size_t i, owl_bytes *name,
                         owl_bytes *value);

/* owl_ins_result_get — the value of field name in row as a C string, NULL when the row has no
 * such field. Owned by res. */
const char *owl_ins_result_get(const owl_ins_result *res, size_t row, const char *name);

/* owl_ins_result_stats — the run's statistics. */
void owl_ins_result_stats(const owl_ins_result *res, owl_ins_stats *st);

/* owl_ins_result_free — accepts NULL. */
void owl_ins_result_free(owl_ins_result *res);

#endif

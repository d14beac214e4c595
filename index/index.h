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

/* owl_meta_close — flushes, closes files and frees. Accepts NULL. */
void owl_meta_close(owl_meta *m);

/* owl_meta_put — durably stores doc (copied) under (tenant, kind, id), replacing any
 * previous one. Returns only after the record is on disk (per options.fsync).
 * Errors: OWL_EINVAL (empty/too long names: each at most 255 bytes; doc over 1 MiB),
 * OWL_EIO / OWL_ENOSPC (nothing changed in memory; the store stays usable). Thread-safe. */
int owl_meta_put(owl_meta *m, const char *tenant, const char *kind, const char *id,
                 const bson_t *doc, owl_error *err);

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
 * pass the pair as "tenant/id"). Holds a read lock: fn must not call owl_meta_put/delete.
 * Returns OWL_OK. */
int owl_meta_list(owl_meta *m, const char *tenant, const char *kind, const char *after_id,
                  size_t limit, owl_meta_list_fn fn, void *ud, owl_error *err);

/* owl_meta_count — number of live records (all tenants and kinds). */
size_t owl_meta_count(owl_meta *m);

/* owl_meta_compact — writes a snapshot of the live records and starts a new journal now
 * (also done automatically by put/delete when the thresholds are met). */
int owl_meta_compact(owl_meta *m, owl_error *err);

#endif

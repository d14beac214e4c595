/* audit.h — the audit trail: one event for every request that reaches authentication
 * (including failed authentications, recorded with the key id they claimed).
 *
 * Events are appended to DIR/audit/audit.owa (format below) and the newest max_events are
 * kept in memory for queries. The trail moves into the columnar store's `audit` table when
 * index/ gains one; the hash chain comes later.
 *
 *   file header  OFFSET SIZE MEANING
 *                0      8    magic "OWLAUDT\0"
 *                8      4    version (1), little-endian
 *                12     4    crc32c of bytes 0..11
 *   record       0      4    payload length n (little-endian)
 *                4      4    crc32c of the payload
 *                8      n    BSON event document (fields as in owl_audit_event)
 * A torn or corrupt tail is truncated at open; everything before it is kept. */
#ifndef OWL_AUDIT_H
#define OWL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct owl_audit owl_audit;

typedef struct owl_audit_event {
    uint64_t seq;            /* assigned by owl_audit_record, increasing */
    int64_t time_ms;
    char tenant[13];         /* "" when the claimed key is unknown */
    char key_id[33];         /* key id used or claimed; "" when none was given */
    char source[64];         /* peer address */
    char user_agent[160];
    char action[64];
    char resource[160];
    int status;
    char error_code[64];
    char request_id[37];
    int64_t duration_us;
} owl_audit_event;

/* owl_audit_open — opens/creates DIR/audit/audit.owa, recovering a torn tail, and loads the
 * newest max_events into memory. */
int owl_audit_open(const char *data_dir, size_t max_events, owl_audit **out, owl_error *err);

/* owl_audit_close — flushes (fdatasync) and frees. Accepts NULL. */
void owl_audit_close(owl_audit *a);

/* owl_audit_record — appends ev (its seq is assigned) to the file and the memory ring.
 * The write reaches the kernel before return (it survives kill -9 of owld); it is fdatasync'd
 * by owl_audit_sync and at close. OWL_OK, or OWL_EIO/OWL_ENOSPC (event kept in memory). */
int owl_audit_record(owl_audit *a, owl_audit_event *ev, owl_error *err);

/* owl_audit_sync — fdatasync of the file. */
int owl_audit_sync(owl_audit *a);

/* owl_audit_count — events recorded since open. */
uint64_t owl_audit_count(owl_audit *a);

typedef struct owl_audit_query {
    int64_t start_ms, end_ms;  /* inclusive range; INT64_MIN/INT64_MAX for open ends */
    const char *tenant;        /* only this tenant's events */
    int include_untenanted;    /* also events with tenant "" (failed auth with unknown keys) */
    const char *action;        /* exact action, or NULL */
    const char *key_id;        /* exact key id, or NULL */
    size_t limit;              /* 1..1000 */
    uint64_t before_seq;       /* 0 = newest first; else only events with seq < before_seq */
} owl_audit_query;

/* owl_audit_query_json — appends {"events":[...],"next_token":"..."} (newest first; the
 * token is present only when more may follow) to out. */
int owl_audit_query_json(owl_audit *a, const owl_audit_query *q, owl_buf *out);

#endif

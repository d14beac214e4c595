/* audit.h — the audit trail: one event for every authenticated request, and one event per
 * (source, claimed key id, minute) for failed authentications, with their count.
 *
 * Events are rows of the store's `audit` table (owl_audit_schema, in the registry of
 * index/tables.c), partition "audit" of the event's tenant ("none" when the claimed key is
 * unknown). An event is durable under the store's sync policy before owl_audit_record returns. The hash chain
 * over each tenant's events comes later. */
#ifndef OWL_AUDIT_H
#define OWL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/index.h"

#define OWL_AUDIT_NO_TENANT "none"

typedef struct owl_audit owl_audit;

typedef struct owl_audit_event {
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
    int64_t count;           /* requests this event stands for (aggregated failed
                              * authentications); 0 or 1 = one */
} owl_audit_event;

/* owl_audit_open — the audit trail over store (which must have owl_audit_schema), keeping
 * events `retention_days` days (0 = forever). */
int owl_audit_open(owl_store *store, int retention_days, owl_audit **out, owl_error *err);

/* owl_audit_close — writes the pending failure groups (owl_audit_flush), then frees a.
 * Accepts NULL. */
void owl_audit_close(owl_audit *a);

/* owl_audit_record — appends ev. OWL_OK once durable, else the store's error. */
int owl_audit_record(owl_audit *a, const owl_audit_event *ev, owl_error *err);

/* owl_audit_record_failure — counts a failed authentication without writing it: events are
 * grouped by (source, claimed key id, minute of time_ms) and each group is written as ONE
 * row (the group's first event, with count = number of failures) once its minute has
 * closed — checked on every record and failure call — or at owl_audit_flush. At most
 * 1024 groups are held; when full, every group is written first. Returns OWL_OK, or the
 * store's error from writing closed groups (the current event is kept either way). */
int owl_audit_record_failure(owl_audit *a, const owl_audit_event *ev, owl_error *err);

/* owl_audit_flush — writes every pending failure group whose minute ended before now_ms
 * (INT64_MAX: all of them). OWL_OK or the first store error (unwritten groups are kept). */
int owl_audit_flush(owl_audit *a, int64_t now_ms, owl_error *err);

/* owl_audit_failing — 1 when the last append failed (full disk, I/O error), 0 after a
 * success. */
int owl_audit_failing(owl_audit *a);

/* owl_audit_count — events recorded since open. */
uint64_t owl_audit_count(owl_audit *a);

typedef struct owl_audit_query {
    int64_t start_ms, end_ms;  /* inclusive range; INT64_MIN/INT64_MAX for open ends */
    const char *tenant;        /* only this tenant's events */
    int include_untenanted;    /* also events whose key was unknown */
    const char *action;        /* exact action, or NULL */
    const char *key_id;        /* exact key id, or NULL */
    size_t limit;              /* 1..1000 */
    const char *next_token;    /* from a previous page, or NULL */
} owl_audit_query;

/* owl_audit_query_json — writes the pending failure groups (owl_audit_flush), then appends {"events":[...],"next_token":"..."} (newest first, ties
 * in the store's fixed scan order; the token, an opaque scan cursor, is present only when
 * more events follow) to out.
 * OWL_EINVAL for a malformed next_token; store errors otherwise. */
int owl_audit_query_json(owl_audit *a, const owl_audit_query *q, owl_buf *out, owl_error *err);

/* owl_audit_event_json — appends ev as the JSON object GET /api/v1/audit lists (used by
 * the live tail). OWL_OK, or OWL_ENOMEM with out unchanged. */
int owl_audit_event_json(owl_buf *out, const owl_audit_event *ev);

#endif

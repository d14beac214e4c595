/* alarm_history.c — DescribeAlarmHistory a page at a time, in either time order, over the
 * history items alarms.c writes: kind "alarm-history", id 16 hex digits of the time (ms) +
 * 8 of a sequence, so the metadata store's id order is time order.
 *
 * A page's token is the direction, the id of the last item given and a check value over
 * (tenant, direction, id): a token this module did not give out (to this tenant, for this
 * direction) is refused. An id never changes and a new item's id sorts after every existing
 * one (while the clock does not step back), so a token stays valid while items arrive: an
 * ascending scan reaches them at its end, a descending one begun before them does not see
 * them; every item that was there when the scan began is given exactly once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define KIND_HISTORY "alarm-history" /* alarms.c's */
#define ID_LEN 24                    /* 16 hex digits of the time + 8 of a sequence */
#define TOKEN_PREFIX "owlh1"

/* An item copied out of the store (the store's documents live only during its callback). */
typedef struct item {
    char id[ID_LEN + 1];
    char *alarm, *type, *summary, *data;
    int64_t time_ms;
} item;

static void item_clear(item *it)
{
    free(it->alarm), free(it->type), free(it->summary), free(it->data);
    memset(it, 0, sizeof *it);
}

typedef struct scan {
    const owl_alarm_history_query *q;
    const char *before;  /* descending: only ids below this one ("" = no bound) */
    item *ring;          /* q->max + 1 slots: the kept items (descending: the newest) */
    size_t cap, n, next; /* next: the slot the next item goes to */
    int oom;
} scan;

static const char *str_of(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)
               ? bson_iter_utf8(&it, NULL)
               : NULL;
}

static int64_t int_of(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
}

static int copy_str(char **dst, const char *s)
{
    return (*dst = strdup(s ? s : "")) != NULL;
}

/* One stored item: filtered, then kept in the ring. Non-zero stops the store's walk. */
static int visit(void *ud, const char *tenant, const char *kind, const char *id,
                 const bson_t *doc)
{
    scan *s = ud;
    const owl_alarm_history_query *q = s->q;
    (void)tenant, (void)kind;
    if (strlen(id) != ID_LEN)
        return 0; /* not an item of alarms.c's */
    if (s->before[0] && strcmp(id, s->before) >= 0)
        return 1; /* descending: the rest was given on earlier pages */
    owl_alarm_history_item it = {.alarm = str_of(doc, "alarm"), .type = str_of(doc, "type"),
                                 .summary = str_of(doc, "summary"), .data = str_of(doc, "data"),
                                 .time_ms = int_of(doc, "ts")};
    if (it.time_ms >= q->end_ms)
        return 1; /* ids are in time order: nothing later is in the range */
    if (!it.alarm || !it.type || it.time_ms < q->start_ms ||
        (q->alarm && strcmp(q->alarm, it.alarm) != 0) ||
        (q->type && strcmp(q->type, it.type) != 0) || (q->keep && !q->keep(q->keep_ud, &it)))
        return 0;
    item *slot = &s->ring[s->next];
    item_clear(slot);
    snprintf(slot->id, sizeof slot->id, "%s", id);
    slot->time_ms = it.time_ms;
    if (!copy_str(&slot->alarm, it.alarm) || !copy_str(&slot->type, it.type) ||
        !copy_str(&slot->summary, it.summary) || !copy_str(&slot->data, it.data)) {
        s->oom = 1;
        return 1;
    }
    s->next = (s->next + 1) % s->cap;
    if (s->n < s->cap)
        s->n++;
    /* ascending: a full ring is a page and the sign that another follows */
    return !q->descending && s->n == s->cap;
}

/* The check value of a token: tenant, direction and id. */
static uint32_t token_check(const char *tenant, char dir, const char *id)
{
    uint32_t c = owl_crc32c(0, tenant, strlen(tenant) + 1);
    c = owl_crc32c(c, &dir, 1);
    return owl_crc32c(c, id, ID_LEN);
}

/* The id a token names, into id. OWL_EINVAL unless this module gave it out for q. */
static int token_read(const owl_alarm_history_query *q, char id[ID_LEN + 1], owl_error *err)
{
    const char *t = q->token;
    char dir = q->descending ? 'd' : 'a';
    size_t pl = strlen(TOKEN_PREFIX);
    unsigned check = 0;
    char tail;
    if (strlen(t) != pl + 1 + ID_LEN + 8 || strncmp(t, TOKEN_PREFIX, pl) != 0 || t[pl] != dir ||
        strspn(t + pl + 1, "0123456789abcdef") != ID_LEN + 8 ||
        sscanf(t + pl + 1 + ID_LEN, "%8x%c", &check, &tail) != 1)
        goto bad;
    memcpy(id, t + pl + 1, ID_LEN);
    id[ID_LEN] = '\0';
    if (check != token_check(q->tenant, dir, id))
        goto bad;
    return OWL_OK;
bad:
    return owl_error_set(err, OWL_EINVAL, "The service cannot find the NextToken you passed.");
}

int owl_alarm_history_page(owl_meta *meta, const owl_alarm_history_query *q,
                           owl_alarm_history_fn fn, void *ud, char next[OWL_HISTORY_TOKEN],
                           owl_error *err)
{
    char from[ID_LEN + 1] = "", after[ID_LEN + 1] = "";
    int rc = OWL_OK;
    next[0] = '\0';
    if (q->max < 1 || q->max > OWL_HISTORY_PAGE_MAX)
        return owl_error_set(err, OWL_EINVAL, "MaxRecords must be 1 to %d.",
                             OWL_HISTORY_PAGE_MAX);
    if (q->token && q->token[0] && (rc = token_read(q, from, err)) != OWL_OK)
        return rc;
    /* where the walk starts: past the token (ascending) and before StartDate's first id */
    if (q->start_ms > 0) /* a prefix sorts before the ids that begin with it */
        snprintf(after, sizeof after, "%016" PRIx64, (uint64_t)q->start_ms);
    if (!q->descending && strcmp(from, after) > 0)
        memcpy(after, from, sizeof after);
    scan s = {.q = q, .before = q->descending ? from : "", .cap = q->max + 1};
    if (!(s.ring = calloc(s.cap, sizeof *s.ring)))
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    rc = owl_meta_list(meta, q->tenant, KIND_HISTORY, after[0] ? after : NULL, 0, visit, &s,
                       err);
    if (rc == OWL_OK && s.oom)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    /* the page: the oldest max of the ring ascending, the newest max descending */
    size_t given = s.n < q->max ? s.n : q->max;
    size_t oldest = s.n < s.cap ? 0 : s.next;
    const item *last = NULL;
    for (size_t k = 0; k < given && rc == OWL_OK; k++) {
        size_t at = q->descending ? (oldest + s.n - 1 - k) % s.cap : (oldest + k) % s.cap;
        last = &s.ring[at];
        owl_alarm_history_item it = {.alarm = last->alarm, .type = last->type,
                                     .summary = last->summary, .data = last->data,
                                     .time_ms = last->time_ms};
        if (fn(ud, &it)) {
            last = NULL; /* the caller stopped: no next page to offer */
            break;
        }
    }
    if (rc == OWL_OK && last && s.n > q->max) {
        char dir = q->descending ? 'd' : 'a';
        snprintf(next, OWL_HISTORY_TOKEN, "%s%c%s%08" PRIx32, TOKEN_PREFIX, dir, last->id,
                 token_check(q->tenant, dir, last->id));
    }
    for (size_t k = 0; k < s.cap; k++)
        item_clear(&s.ring[k]);
    free(s.ring);
    return rc;
}

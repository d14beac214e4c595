/* fuzz_alarm_history.c — libFuzzer target for DescribeAlarmHistory's paging
 * (analytics/alarm_history.c): a metadata store with a few dozen history items of two alarms
 * is made once; each input is a query (first byte: direction, page size, a type filter and
 * an alarm filter; then its NextToken text). A page must answer OK or EINVAL (a token it
 * did not give out), give at most max items within the query's filters, and the token it
 * gives must be accepted for the next page, whose items come strictly after the first's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "common/common.h"
#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static owl_meta *meta;

static void make_store(void)
{
    char dir[] = "/tmp/owl-fuzz-history-XXXXXX";
    owl_error err = {0};
    if (!mkdtemp(dir) || owl_meta_open(dir, &(owl_meta_options){.fsync = 0}, &meta, &err))
        abort();
    for (uint32_t i = 0; i < 40; i++) { /* ids as alarms.c writes them: time, sequence */
        char id[32];
        snprintf(id, sizeof id, "%016llx%08x", 1700000000000ULL + i * 1000ULL, i);
        bson_t *doc = bson_new();
        BSON_APPEND_UTF8(doc, "alarm", i % 3 ? "a" : "b");
        BSON_APPEND_UTF8(doc, "type", i % 2 ? "StateUpdate" : "Action");
        BSON_APPEND_INT64(doc, "ts", 1700000000000LL + i * 1000LL);
        BSON_APPEND_UTF8(doc, "summary", "s");
        BSON_APPEND_UTF8(doc, "data", "");
        if (owl_meta_put(meta, i % 5 ? "t1" : "t2", "alarm-history", id, doc, &err) != OWL_OK)
            abort();
        bson_destroy(doc);
    }
}

typedef struct seen {
    const owl_alarm_history_query *q;
    int64_t last; /* the previous item's time (or, before the first, the bound below) */
    size_t n;
    int bounded;  /* the first item must come after last too (a later page) */
} seen;

static int one(void *ud, const owl_alarm_history_item *it)
{
    seen *s = ud;
    const owl_alarm_history_query *q = s->q;
    if (it->time_ms < q->start_ms || it->time_ms >= q->end_ms || (q->alarm && strcmp(it->alarm, q->alarm)) ||
        (q->type && strcmp(it->type, q->type)))
        abort();
    if ((s->n || s->bounded) && (q->descending ? it->time_ms >= s->last : it->time_ms <= s->last))
        abort();
    s->last = it->time_ms;
    s->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!meta)
        make_store();
    if (n < 1 || n > 256)
        return 0;
    char token[257];
    memcpy(token, d + 1, n - 1);
    token[n - 1] = '\0';
    owl_alarm_history_query q = {
        .tenant = d[0] & 0x80 ? "t2" : "t1",
        .alarm = d[0] & 0x40 ? "a" : NULL,
        .type = d[0] & 0x20 ? "StateUpdate" : NULL,
        .start_ms = 1700000000000LL + (d[0] & 0x10 ? 5000 : 0),
        .end_ms = 1700000000000LL + 60000,
        .descending = d[0] & 1,
        .max = (size_t)((d[0] >> 1) & 7), /* 0 is out of range */
        .token = token,
    };
    char next[OWL_HISTORY_TOKEN];
    owl_error err = {0};
    seen s = {&q, 0, 0, 0};
    int rc = owl_alarm_history_page(meta, &q, one, &s, next, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc != OWL_OK)
        return 0;
    if (s.n > q.max || (next[0] && s.n != q.max))
        abort();
    if (next[0]) { /* the token given out is taken, and its page comes after this one */
        q.token = next;
        seen s2 = {&q, s.last, 0, 1};
        char next2[OWL_HISTORY_TOKEN];
        if (owl_alarm_history_page(meta, &q, one, &s2, next2, &err) != OWL_OK)
            abort();
    }
    return 0;
}

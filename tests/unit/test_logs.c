/* test_logs.c — ingest/logs.c: names and retention values, groups and streams (exists, not
 * found, limits), PutLogEvents' rules (a refused batch stores nothing; too new / too old /
 * expired events reported by index while the rest is stored; U+FFFD for invalid UTF-8),
 * GetLogEvents both ways with tokens that repeat at the end, FilterLogEvents interleaved by
 * time with stream names, prefix, time range and filter patterns, pagination while another
 * thread appends (every event present at the start seen exactly once), delete and re-create
 * of groups and streams (nothing old comes back), everything back after a reopen, and the
 * other ways in (OWL_LOGS_CREATE, OWL_LOGS_ANY_BATCH), owl_logs_scan (Insights' read: the
 * live streams' events, unordered, with or without messages, a filter, a callback's stop), and
 * a trace's events (FilterLogEvents' trace_id in one group, owl_logs_trace_events across
 * groups: in parts and memtables over days, paged, after deletes and a reopen). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "ingest/ingest.h"
#include "tests/unit/testfs.h"

#define T "000000000001"

typedef struct env {
    char *dir;
    owl_meta *meta;
    owl_store *store;
    owl_logs *lg;
} env;

static void env_open(env *e, const owl_logs_options *o)
{
    char p[4200];
    owl_error err = {0};
    snprintf(p, sizeof p, "%s/meta", e->dir);
    cr_assert_eq(owl_meta_open(p, NULL, &e->meta, &err), OWL_OK, "%s", err.msg);
    owl_store_options so;
    owl_store_options_default(&so);
    so.background = 0;
    snprintf(p, sizeof p, "%s/store", e->dir);
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &e->store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_logs_open(e->meta, e->store, o, &e->lg, &err), OWL_OK, "%s", err.msg);
}

static void env_close(env *e)
{
    owl_logs_close(e->lg);
    owl_store_close(e->store);
    owl_meta_close(e->meta);
    e->lg = NULL, e->store = NULL, e->meta = NULL;
}

static void env_init(env *e, const owl_logs_options *o)
{
    memset(e, 0, sizeof *e);
    e->dir = test_tmpdir("logs");
    env_open(e, o);
}

static void env_free(env *e)
{
    env_close(e);
    test_rm_rf(e->dir);
}

static void mk(env *e, const char *g, const char *s)
{
    owl_error err = {0};
    int rc = owl_logs_create_group(e->lg, T, g, NULL, NULL, 0, &err);
    cr_assert(rc == OWL_OK || rc == OWL_EEXISTS, "%s", err.msg);
    if (s)
        cr_assert_eq(owl_logs_create_stream(e->lg, T, g, s, &err), OWL_OK, "%s", err.msg);
}

/* n events "<tag>-i" at t0 + i * step ms into (g, s). */
static int put_n(env *e, const char *g, const char *s, const char *tag, int64_t t0,
                 int64_t step, size_t n, owl_logs_put_result *res, owl_error *err)
{
    owl_log_event *ev = calloc(n ? n : 1, sizeof *ev);
    char(*msg)[48] = calloc(n ? n : 1, sizeof *msg);
    cr_assert(ev && msg);
    for (size_t i = 0; i < n; i++) {
        snprintf(msg[i], sizeof msg[i], "%s-%zu", tag, i);
        ev[i].time_ms = t0 + (int64_t)i * step;
        ev[i].message = (owl_bytes){msg[i], strlen(msg[i])};
    }
    int rc = owl_logs_put(e->lg, T, g, s, ev, n, 0, res, err);
    free(ev);
    free(msg);
    return rc;
}

static size_t count_filter(env *e, const owl_logs_filter *q0)
{
    owl_logs_filter q = *q0;
    owl_logs_page pg;
    owl_error err = {0};
    size_t total = 0;
    char tok[64];
    for (int guard = 0; guard < 100000; guard++) {
        cr_assert_eq(owl_logs_filter_events(e->lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
        total += pg.n;
        int more = pg.next[0] != 0;
        snprintf(tok, sizeof tok, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!more)
            break;
        q.token = tok;
    }
    return total;
}

Test(logs, names_and_retention_values)
{
    cr_assert(owl_logs_group_name_ok("/aws/lambda/fn-1_x.y#z"));
    cr_assert(!owl_logs_group_name_ok(""));
    cr_assert(!owl_logs_group_name_ok("a b"));
    cr_assert(!owl_logs_group_name_ok("a:b"));
    char big[600];
    memset(big, 'a', sizeof big);
    big[512] = 0;
    cr_assert(owl_logs_group_name_ok(big));
    cr_assert(owl_logs_stream_name_ok(big));
    big[512] = 'a', big[513] = 0;
    cr_assert(!owl_logs_group_name_ok(big));
    cr_assert(!owl_logs_stream_name_ok(big));
    cr_assert(owl_logs_stream_name_ok("2024/01/01/[$LATEST]abc def"));
    cr_assert(!owl_logs_stream_name_ok("a:b"));
    cr_assert(!owl_logs_stream_name_ok("a*"));
    cr_assert(!owl_logs_stream_name_ok(""));
    cr_assert(owl_logs_retention_ok(1) && owl_logs_retention_ok(1096) &&
              owl_logs_retention_ok(3653));
    cr_assert(!owl_logs_retention_ok(0) && !owl_logs_retention_ok(2) &&
              !owl_logs_retention_ok(3654));
}

Test(logs, groups_streams_errors_and_limits)
{
    env e;
    owl_logs_options o;
    owl_logs_options_default(&o);
    o.max_groups = 2;
    o.max_streams = 2;
    o.background = 0;
    env_init(&e, &o);
    owl_error err = {0};
    const char *k[] = {"team"}, *v[] = {"sre"};
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/a", k, v, 1, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/a", NULL, NULL, 0, &err), OWL_EEXISTS);
    cr_assert_str_eq(err.msg, "The specified log group already exists");
    cr_assert_eq(owl_logs_create_group(e.lg, T, "bad name", NULL, NULL, 0, &err), OWL_EINVAL);
    const char *bk[] = {"aws:x"};
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/t", bk, v, 1, &err), OWL_EINVAL);
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/b", NULL, NULL, 0, &err), OWL_OK);
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/c", NULL, NULL, 0, &err), OWL_ERANGE);
    cr_assert_eq(owl_logs_create_group(e.lg, "000000000002", "/c", NULL, NULL, 0, &err), OWL_OK,
                 "the limit is per tenant");
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/nope", "s", &err), OWL_ENOTFOUND);
    cr_assert_str_eq(err.msg, "The specified log group does not exist.");
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/a", "s1", &err), OWL_OK);
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/a", "s1", &err), OWL_EEXISTS);
    cr_assert_str_eq(err.msg, "The specified log stream already exists");
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/a", "s:1", &err), OWL_EINVAL);
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/a", "s2", &err), OWL_OK);
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/a", "s3", &err), OWL_ERANGE);
    cr_assert_eq(owl_logs_delete_stream(e.lg, T, "/a", "s9", &err), OWL_ENOTFOUND);
    cr_assert_str_eq(err.msg, "The specified log stream does not exist.");
    cr_assert_eq(owl_logs_delete_group(e.lg, T, "/zz", &err), OWL_ENOTFOUND);
    /* retention */
    cr_assert_eq(owl_logs_set_retention(e.lg, T, "/a", 2, &err), OWL_EINVAL);
    cr_assert_eq(owl_logs_set_retention(e.lg, T, "/zz", 7, &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_logs_set_retention(e.lg, T, "/a", 7, &err), OWL_OK, "%s", err.msg);
    owl_logs_group g;
    cr_assert_eq(owl_logs_get_group(e.lg, T, "/a", &g, &err), OWL_OK);
    cr_assert_eq(g.retention_days, 7);
    cr_assert_eq(g.partition[0], 'g');
    cr_assert_eq(strlen(g.partition), 17);
    /* tags */
    const char *k2[] = {"env", "team"}, *v2[] = {"prod", "ops"};
    cr_assert_eq(owl_logs_tag(e.lg, T, "/a", k2, v2, 2, &err), OWL_OK);
    const char *rk[] = {"env", "absent"};
    cr_assert_eq(owl_logs_untag(e.lg, T, "/a", rk, 2, &err), OWL_OK);
    bson_t tags;
    cr_assert_eq(owl_logs_tags(e.lg, T, "/a", &tags, &err), OWL_OK);
    char *js = bson_as_relaxed_extended_json(&tags, NULL);
    cr_assert_str_eq(js, "{ \"team\" : \"ops\" }");
    bson_free(js);
    bson_destroy(&tags);
    /* listing: prefix, pattern (case-insensitive), pages */
    owl_logs_group out[4];
    size_t n;
    int more;
    cr_assert_eq(owl_logs_list_groups(e.lg, T, NULL, NULL, NULL, 1, out, &n, &more, &err), OWL_OK);
    cr_assert(n == 1 && more && strcmp(out[0].name, "/a") == 0);
    cr_assert_eq(owl_logs_list_groups(e.lg, T, NULL, NULL, "/a", 1, out, &n, &more, &err), OWL_OK);
    cr_assert(n == 1 && !more && strcmp(out[0].name, "/b") == 0);
    cr_assert_eq(owl_logs_list_groups(e.lg, T, "/b", NULL, NULL, 4, out, &n, &more, &err), OWL_OK);
    cr_assert(n == 1 && strcmp(out[0].name, "/b") == 0);
    cr_assert_eq(owl_logs_list_groups(e.lg, T, NULL, "B", NULL, 4, out, &n, &more, &err), OWL_OK);
    cr_assert(n == 1 && strcmp(out[0].name, "/b") == 0);
    env_free(&e);
}

Test(logs, put_rules_refuse_whole_batches)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "s");
    owl_error err = {0};
    owl_logs_put_result res;
    int64_t now = owl_now_ms();
    cr_assert_eq(put_n(&e, "/g", "s", "x", now, 1, 0, &res, &err), OWL_EINVAL);
    cr_assert_eq(put_n(&e, "/g", "s", "x", now, 0, 10001, &res, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "10000"), "%s", err.msg);
    cr_assert_eq(put_n(&e, "/g", "s", "x", now, 0, 10000, &res, &err), OWL_OK, "%s", err.msg);
    /* order */
    owl_log_event ev[3] = {{.time_ms = now, .message = {"b", 1}},
                           {.time_ms = now - 1, .message = {"a", 1}}};
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 2, 0, &res, &err), OWL_EINVAL);
    cr_assert_str_eq(err.msg, "Log events in a single PutLogEvents request must be in "
                              "chronological order.");
    /* empty message */
    ev[1] = (owl_log_event){.time_ms = now, .message = {"", 0}};
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 2, 0, &res, &err), OWL_EINVAL);
    /* bytes: 1,048,576 counting 26 per event */
    size_t big = OWL_LOGS_MAX_BATCH_BYTES - 2 * OWL_LOGS_EVENT_OVERHEAD - 1;
    char *m = malloc(big + 2);
    memset(m, 'x', big + 2);
    ev[0] = (owl_log_event){.time_ms = now, .message = {m, big}};
    ev[1] = (owl_log_event){.time_ms = now, .message = {"y", 1}};
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 2, 0, &res, &err), OWL_OK, "%s", err.msg);
    ev[1].message.n = 2;
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 2, 0, &res, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "Upload too large"), "%s", err.msg);
    ev[0].message.n = OWL_LOGS_MAX_EVENT_BYTES - OWL_LOGS_EVENT_OVERHEAD + 1;
    m = realloc(m, ev[0].message.n);
    memset(m, 'x', ev[0].message.n);
    ev[0].message.p = m;
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 1, 0, &res, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "too large"), "%s", err.msg);
    free(m);
    /* span over 24 h among the events kept */
    ev[0] = (owl_log_event){.time_ms = now - 25 * 3600000LL, .message = {"a", 1}};
    ev[1] = (owl_log_event){.time_ms = now, .message = {"b", 1}};
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 2, 0, &res, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "24 hours"), "%s", err.msg);
    /* unknown targets */
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "nope", ev + 1, 1, 0, &res, &err), OWL_ENOTFOUND);
    cr_assert_str_eq(err.msg, "The specified log stream does not exist.");
    cr_assert_eq(owl_logs_put(e.lg, T, "/nope", "s", ev + 1, 1, 0, &res, &err), OWL_ENOTFOUND);
    cr_assert_str_eq(err.msg, "The specified log group does not exist.");
    /* exactly the accepted puts are stored: 10000 + 2 */
    owl_logs_filter q = {.group = "/g", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                         .limit = OWL_LOGS_MAX_PAGE};
    cr_assert_eq(count_filter(&e, &q), 10002);
    env_free(&e);
}

Test(logs, put_rejects_by_index_and_stores_the_rest)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "s");
    owl_error err = {0};
    cr_assert_eq(owl_logs_set_retention(e.lg, T, "/g", 1, &err), OWL_OK);
    int64_t now = owl_now_ms();
    owl_log_event ev[] = {
        {.time_ms = now - 15 * 86400000LL, .message = {"old", 3}},
        {.time_ms = now - 2 * 86400000LL, .message = {"expired", 7}},
        {.time_ms = now - 1000, .message = {"ok1", 3}},
        {.time_ms = now, .message = {"ok2\xff", 4}},
        {.time_ms = now + 3 * 3600000LL, .message = {"new", 3}},
    };
    owl_logs_put_result res;
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev, 5, 0, &res, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(res.too_old_end, 1);
    cr_assert_eq(res.expired_end, 2);
    cr_assert_eq(res.too_new_start, 4);
    cr_assert_eq(res.stored, 2);
    owl_logs_get q = {.group = "/g", .stream = "s", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                      .start_from_head = 1, .limit = 100};
    owl_logs_page pg;
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(pg.n, 2);
    cr_assert_str_eq(pg.ev[0].message, "ok1");
    cr_assert_str_eq(pg.ev[1].message, "ok2\xEF\xBF\xBD", "invalid UTF-8 becomes U+FFFD");
    cr_assert_eq(pg.ev[1].message_len, 6);
    owl_logs_page_free(&pg);
    /* all refused: stored nothing, still OK */
    cr_assert_eq(owl_logs_put(e.lg, T, "/g", "s", ev + 4, 1, 0, &res, &err), OWL_OK);
    cr_assert_eq(res.stored, 0);
    cr_assert_eq(res.too_new_start, 0);
    /* stream times */
    owl_logs_stream st[2];
    size_t n;
    char next[OWL_LOGS_TOKEN_MAX];
    cr_assert_eq(owl_logs_list_streams(e.lg, T, "/g", NULL, OWL_LOGS_BY_NAME, 0, NULL, 2, st, &n,
                                       next, &err),
                 OWL_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(st[0].first_event_ms, now - 1000);
    cr_assert_eq(st[0].last_event_ms, now);
    cr_assert(st[0].last_ingest_ms >= st[0].created_ms);
    env_free(&e);
}

/* Reads the whole stream page by page in one direction; returns the count and checks that
 * the last token repeats. */
static size_t walk(env *e, int fwd, size_t limit, int64_t *times)
{
    owl_logs_get q = {.group = "/g", .stream = "s", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                      .start_from_head = fwd, .limit = limit};
    char tok[80];
    size_t total = 0;
    owl_error err = {0};
    for (int guard = 0; guard < 1000; guard++) {
        owl_logs_page pg;
        cr_assert_eq(owl_logs_get_events(e->lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
        for (size_t i = 0; i < pg.n; i++) {
            size_t at = fwd ? total + i : total + pg.n - 1 - i; /* backward: newest first */
            times[at] = pg.ev[i].time_ms;
        }
        total += pg.n;
        const char *t = fwd ? pg.forward : pg.backward;
        int same = q.token && strcmp(q.token, t) == 0;
        if (pg.n == 0)
            cr_assert(same || !q.token, "at the end the token repeats");
        snprintf(tok, sizeof tok, "%s", t);
        owl_logs_page_free(&pg);
        if (same)
            return total;
        q.token = tok;
    }
    cr_assert_fail("no end");
    return 0;
}

Test(logs, get_events_both_ways_with_tokens)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "s");
    mk(&e, "/g", "other");
    owl_error err = {0};
    int64_t t0 = owl_now_ms() - 3600000;
    cr_assert_eq(put_n(&e, "/g", "s", "a", t0, 10, 250, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "other", "o", t0, 10, 50, NULL, &err), OWL_OK);
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK); /* half in parts, half in memory */
    cr_assert_eq(put_n(&e, "/g", "s", "b", t0 + 2500, 10, 250, NULL, &err), OWL_OK);
    int64_t fw[600], bw[600];
    cr_assert_eq(walk(&e, 1, 37, fw), 500);
    cr_assert_eq(walk(&e, 0, 41, bw), 500);
    for (size_t i = 0; i < 500; i++) {
        cr_assert_eq(fw[i], t0 + (int64_t)i * 10);
        cr_assert_eq(bw[i], fw[499 - i], "backward pages give the newest first");
    }
    /* default (latest first): the last `limit` events, oldest of them first */
    owl_logs_get q = {.group = "/g", .stream = "s", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                      .limit = 3};
    owl_logs_page pg;
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 3);
    cr_assert_str_eq(pg.ev[2].message, "b-249");
    cr_assert_str_eq(pg.ev[0].message, "b-247");
    /* its forward token follows events that arrive later */
    char fwd[80];
    snprintf(fwd, sizeof fwd, "%s", pg.forward);
    owl_logs_page_free(&pg);
    cr_assert_eq(put_n(&e, "/g", "s", "c", t0 + 5000, 1, 2, NULL, &err), OWL_OK);
    q.token = fwd;
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 2);
    cr_assert_str_eq(pg.ev[0].message, "c-0");
    owl_logs_page_free(&pg);
    /* time range [start, end) */
    q = (owl_logs_get){.group = "/g", .stream = "s", .start_ms = t0 + 100, .end_ms = t0 + 200,
                       .start_from_head = 1, .limit = 100};
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 10);
    owl_logs_page_free(&pg);
    q.token = "f/garbage";
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_EINVAL);
    q.token = NULL;
    q.stream = "nope";
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_ENOTFOUND);
    env_free(&e);
}

Test(logs, filter_interleaves_streams)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "web-1");
    mk(&e, "/g", "web-2");
    mk(&e, "/g", "db");
    owl_error err = {0};
    int64_t t0 = owl_now_ms() - 3600000;
    cr_assert_eq(put_n(&e, "/g", "web-1", "w1", t0, 3, 100, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "web-2", "w2", t0 + 1, 3, 100, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "db", "d", t0 + 2, 3, 100, NULL, &err), OWL_OK);
    owl_logs_filter q = {.group = "/g", .start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 7};
    owl_logs_page pg;
    cr_assert_eq(owl_logs_filter_events(e.lg, T, &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 7);
    cr_assert_str_eq(pg.ev[0].stream, "web-1");
    cr_assert_str_eq(pg.ev[1].stream, "web-2");
    cr_assert_str_eq(pg.ev[2].stream, "db");
    for (size_t i = 1; i < pg.n; i++)
        cr_assert(pg.ev[i].time_ms > pg.ev[i - 1].time_ms);
    cr_assert(pg.next[0]);
    owl_logs_page_free(&pg);
    cr_assert_eq(count_filter(&e, &q), 300);
    const char *names[] = {"web-2", "db", "absent"};
    q.streams = names;
    q.nstreams = 3;
    cr_assert_eq(count_filter(&e, &q), 200);
    q.streams = NULL;
    q.nstreams = 0;
    q.prefix = "web-";
    cr_assert_eq(count_filter(&e, &q), 200);
    q.prefix = NULL;
    q.start_ms = t0 + 30; /* [t0+30, t0+59]: 10 per stream */
    q.end_ms = t0 + 59;
    cr_assert_eq(count_filter(&e, &q), 30);
    q.token = "nonsense";
    cr_assert_eq(owl_logs_filter_events(e.lg, T, &q, &pg, &err), OWL_EINVAL);
    q.token = NULL;
    /* filter patterns: terms match substrings, case-sensitively; pages under a pattern */
    q.start_ms = INT64_MIN;
    q.end_ms = INT64_MAX;
    q.pattern = "w2";
    cr_assert_eq(count_filter(&e, &q), 100);
    q.pattern = "\"d-1\""; /* d-1 and d-10..d-19 */
    cr_assert_eq(count_filter(&e, &q), 11);
    q.pattern = "?w1 ?d";
    cr_assert_eq(count_filter(&e, &q), 200);
    q.pattern = "W2";
    cr_assert_eq(count_filter(&e, &q), 0);
    q.pattern = "[";
    cr_assert_eq(owl_logs_filter_events(e.lg, T, &q, &pg, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "Invalid filter pattern"), "%s", err.msg);
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK); /* and over parts, pruned */
    q.pattern = "\"w2-5\"";
    q.limit = 3;
    cr_assert_eq(count_filter(&e, &q), 11);
    env_free(&e);
}

typedef struct writer {
    env *e;
    int64_t t0;
    int stop;
    size_t puts;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    owl_error err = {0};
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) && w->puts < 2000) {
        /* new events land everywhere in time: before, within and after the pages read */
        int64_t t = w->t0 + (int64_t)(w->puts * 7919 % 5000);
        cr_assert_eq(put_n(w->e, "/g", w->puts % 2 ? "a" : "b", "late", t, 1, 3, NULL, &err),
                     OWL_OK, "%s", err.msg);
        __atomic_add_fetch(&w->puts, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(logs, pagination_under_concurrent_appends)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "a");
    mk(&e, "/g", "b");
    owl_error err = {0};
    int64_t t0 = owl_now_ms() - 3600000;
    cr_assert_eq(put_n(&e, "/g", "a", "orig-a", t0, 2, 1000, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "b", "orig-b", t0 + 1, 2, 1000, NULL, &err), OWL_OK);
    writer w = {.e = &e, .t0 = t0};
    pthread_t th;
    pthread_create(&th, NULL, write_loop, &w);
    while (__atomic_load_n(&w.puts, __ATOMIC_ACQUIRE) == 0) /* the writer is under way */
        sched_yield();
    owl_logs_filter q = {.group = "/g", .start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 50};
    static unsigned char seen[2][1000];
    memset(seen, 0, sizeof seen);
    char tok[64];
    int64_t last = INT64_MIN;
    for (int guard = 0; guard < 10000; guard++) {
        owl_logs_page pg;
        cr_assert_eq(owl_logs_filter_events(e.lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
        for (size_t i = 0; i < pg.n; i++) {
            cr_assert(pg.ev[i].time_ms >= last, "pages in time order");
            last = pg.ev[i].time_ms;
            unsigned k;
            if (sscanf(pg.ev[i].message, "orig-a-%u", &k) == 1)
                seen[0][k]++;
            else if (sscanf(pg.ev[i].message, "orig-b-%u", &k) == 1)
                seen[1][k]++;
        }
        int more = pg.next[0] != 0;
        snprintf(tok, sizeof tok, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!more)
            break;
        q.token = tok;
    }
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 1000; k++)
            cr_assert_eq(seen[s][k], 1, "event %d of stream %d seen %d times", k, s, seen[s][k]);
    cr_assert(w.puts > 0);
    env_free(&e);
}

Test(logs, delete_and_recreate_start_empty)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "s");
    mk(&e, "/g", "keep");
    owl_error err = {0};
    int64_t t0 = owl_now_ms() - 1000;
    cr_assert_eq(put_n(&e, "/g", "s", "x", t0, 1, 10, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "keep", "k", t0, 1, 5, NULL, &err), OWL_OK);
    owl_logs_filter q = {.group = "/g", .start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 100};
    cr_assert_eq(count_filter(&e, &q), 15);
    /* a stream deleted: its events go, also when one of the same name comes back */
    cr_assert_eq(owl_logs_delete_stream(e.lg, T, "/g", "s", &err), OWL_OK);
    cr_assert_eq(count_filter(&e, &q), 5);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    mk(&e, "/g", "s");
    cr_assert_eq(count_filter(&e, &q), 5);
    cr_assert_eq(put_n(&e, "/g", "s", "y", t0, 1, 1, NULL, &err), OWL_OK);
    cr_assert_eq(count_filter(&e, &q), 6);
    /* a group deleted and created again is empty, with a new partition */
    owl_logs_group g1, g2;
    cr_assert_eq(owl_logs_get_group(e.lg, T, "/g", &g1, &err), OWL_OK);
    uint64_t stored = 0, rows = 0;
    cr_assert_eq(owl_store_partition_bytes(e.store, "logs", T, g1.partition, &stored, &rows,
                                           &err), OWL_OK, "%s", err.msg);
    cr_assert(stored > 0 && rows > 0);
    cr_assert_eq(owl_logs_delete_group(e.lg, T, "/g", &err), OWL_OK);
    cr_assert_eq(owl_logs_filter_events(e.lg, T, &q, &(owl_logs_page){0}, &err), OWL_ENOTFOUND);
    /* its events are dropped from the store, not only hidden */
    cr_assert_eq(owl_store_partition_bytes(e.store, "logs", T, g1.partition, &stored, &rows,
                                           &err), OWL_ENOTFOUND);
    mk(&e, "/g", "s");
    cr_assert_eq(owl_logs_get_group(e.lg, T, "/g", &g2, &err), OWL_OK);
    cr_assert_str_neq(g1.partition, g2.partition);
    cr_assert_eq(count_filter(&e, &q), 0);
    owl_logs_stream st[4];
    size_t n;
    char next[OWL_LOGS_TOKEN_MAX];
    cr_assert_eq(owl_logs_list_streams(e.lg, T, "/g", NULL, OWL_LOGS_BY_NAME, 0, NULL, 4, st, &n,
                                       next, &err),
                 OWL_OK);
    cr_assert_eq(n, 1, "only the new stream");
    env_free(&e);
}

Test(logs, reopen_keeps_groups_streams_tags_and_times)
{
    env e;
    owl_logs_options o;
    owl_logs_options_default(&o);
    o.background = 0;
    env_init(&e, &o);
    owl_error err = {0};
    const char *k[] = {"team"}, *v[] = {"sre"};
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/g", k, v, 1, &err), OWL_OK);
    cr_assert_eq(owl_logs_set_retention(e.lg, T, "/g", 30, &err), OWL_OK);
    mk(&e, "/g", "s1");
    mk(&e, "/g", "s2");
    mk(&e, "/gone", "x");
    cr_assert_eq(owl_logs_delete_group(e.lg, T, "/gone", &err), OWL_OK);
    int64_t t0 = owl_now_ms() - 5000;
    cr_assert_eq(put_n(&e, "/g", "s2", "m", t0, 100, 3, NULL, &err), OWL_OK);
    env_close(&e); /* close persists the stream times */
    env_open(&e, &o);
    owl_logs_group g;
    cr_assert_eq(owl_logs_get_group(e.lg, T, "/g", &g, &err), OWL_OK);
    cr_assert_eq(g.retention_days, 30);
    cr_assert(g.stored_bytes > 0, "sealed at close: %" PRIu64, g.stored_bytes);
    cr_assert_eq(owl_logs_get_group(e.lg, T, "/gone", &g, &err), OWL_ENOTFOUND);
    bson_t tags;
    cr_assert_eq(owl_logs_tags(e.lg, T, "/g", &tags, &err), OWL_OK);
    cr_assert_eq(bson_count_keys(&tags), 1);
    bson_destroy(&tags);
    owl_logs_stream st[4];
    size_t n;
    char next[OWL_LOGS_TOKEN_MAX];
    cr_assert_eq(owl_logs_list_streams(e.lg, T, "/g", NULL, OWL_LOGS_BY_LAST_EVENT, 1, NULL, 1,
                                       st, &n, next, &err),
                 OWL_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(st[0].name, "s2", "latest event first");
    cr_assert_eq(st[0].last_event_ms, t0 + 200);
    cr_assert_eq(st[0].first_event_ms, t0);
    cr_assert(next[0]);
    cr_assert_eq(owl_logs_list_streams(e.lg, T, "/g", NULL, OWL_LOGS_BY_LAST_EVENT, 1, next, 5,
                                       st, &n, next, &err),
                 OWL_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(st[0].name, "s1");
    cr_assert_eq(next[0], 0);
    cr_assert_eq(owl_logs_list_streams(e.lg, T, "/g", "s", OWL_LOGS_BY_LAST_EVENT, 0, NULL, 5,
                                       st, &n, next, &err),
                 OWL_EINVAL);
    cr_assert_str_eq(err.msg, "Cannot order by LastEventTime with a logStreamNamePrefix.");
    owl_logs_get q = {.group = "/g", .stream = "s2", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                      .start_from_head = 1, .limit = 10};
    owl_logs_page pg;
    cr_assert_eq(owl_logs_get_events(e.lg, T, &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 3);
    owl_logs_page_free(&pg);
    env_free(&e);
}

Test(logs, create_flag_makes_group_and_stream)
{
    env e;
    env_init(&e, NULL);
    owl_error err = {0};
    owl_log_event ev = {.time_ms = owl_now_ms(), .message = {"otlp", 4}, .severity = {"INFO", 4}};
    ev.trace_id[0] = 1;
    cr_assert_eq(owl_logs_put(e.lg, T, "/otel/svc", "host-1", &ev, 1, 0, NULL, &err),
                 OWL_ENOTFOUND);
    cr_assert_eq(owl_logs_put(e.lg, T, "/otel/svc", "host-1", &ev, 1, OWL_LOGS_CREATE, NULL,
                              &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_logs_put(e.lg, T, "/otel/svc", "host-1", &ev, 1, OWL_LOGS_CREATE, NULL,
                              &err),
                 OWL_OK, "%s", err.msg);
    owl_logs_filter q = {.group = "/otel/svc", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                         .limit = 100};
    cr_assert_eq(count_filter(&e, &q), 2);
    cr_assert_eq(owl_logs_put(e.lg, T, "bad group", "h", &ev, 1, OWL_LOGS_CREATE, NULL, &err),
                 OWL_EINVAL);
    env_free(&e);
}

Test(logs, any_batch_drops_events_one_by_one)
{
    env e;
    env_init(&e, NULL);
    owl_error err = {0};
    int64_t now = owl_now_ms();
    /* 12,000 events over 30 hours, one of them empty: a PutLogEvents batch could not */
    size_t n = 12000;
    owl_log_event *ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        ev[i].time_ms = now - 30 * 3600000LL + (int64_t)i * 9000;
        ev[i].message = (owl_bytes){i == 5000 ? "" : "line", i == 5000 ? 0 : 4};
    }
    owl_logs_put_result res;
    cr_assert_eq(owl_logs_put(e.lg, T, "/raw", "s", ev, n, OWL_LOGS_CREATE, &res, &err),
                 OWL_EINVAL, "as PutLogEvents: refused whole");
    cr_assert_eq(owl_logs_put(e.lg, T, "/raw", "s", ev, n, OWL_LOGS_CREATE | OWL_LOGS_ANY_BATCH,
                              &res, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(res.dropped, 1);
    cr_assert_eq(res.stored, n - 1);
    owl_logs_filter q = {.group = "/raw", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                         .limit = OWL_LOGS_MAX_PAGE};
    cr_assert_eq(count_filter(&e, &q), n - 1);
    ev[1].time_ms = ev[0].time_ms - 1; /* the order still counts */
    cr_assert_eq(owl_logs_put(e.lg, T, "/raw", "s", ev, n, OWL_LOGS_ANY_BATCH, &res, &err),
                 OWL_EINVAL);
    free(ev);
    env_free(&e);
}

/* What a scan callback saw. */
typedef struct seen {
    size_t n, with_msg, stop_after;
    char streams[64];
} seen;

static int see(void *ud, const owl_logs_row *rows, size_t n)
{
    seen *s = ud;
    for (size_t i = 0; i < n; i++) {
        s->n++;
        s->with_msg += rows[i].message.n > 0;
        if (rows[i].stream.n && !memchr(s->streams, ((const char *)rows[i].stream.p)[0],
                                        strlen(s->streams)))
            strncat(s->streams, rows[i].stream.p, 1);
    }
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

Test(logs, scan_reads_live_streams_unordered)
{
    env e;
    env_init(&e, NULL);
    mk(&e, "/g", "a");
    mk(&e, "/g", "b");
    owl_error err = {0};
    int64_t t0 = owl_now_ms() - 10000;
    cr_assert_eq(put_n(&e, "/g", "a", "x", t0, 1, 3000, NULL, &err), OWL_OK);
    cr_assert_eq(put_n(&e, "/g", "b", "y", t0, 2, 100, NULL, &err), OWL_OK);
    seen s = {0};
    owl_logs_scan_q q = {.group = "/g", .start_ms = t0, .end_ms = t0 + 100000,
                         .with_message = 1, .fn = see, .ud = &s};
    owl_scan_stats st;
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, &st, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(s.n, 3100);
    cr_assert_eq(s.with_msg, 3100);
    cr_assert(strchr(s.streams, 'a') && strchr(s.streams, 'b'));
    cr_assert(st.rows_scanned >= 3100);
    /* without messages; a time range */
    s = (seen){0};
    q.with_message = 0;
    q.start_ms = t0 + 1000;
    q.end_ms = t0 + 2000;
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, NULL, &err), OWL_OK);
    cr_assert_eq(s.n, 1000, "a's events in [t0+1000, t0+2000)");
    cr_assert_eq(s.with_msg, 0);
    /* a filter: only stream b */
    owl_pred p = {.col = OWL_LOGS_STREAM, .op = OWL_PRED_EQ, .lo.b = {"b", 1}};
    owl_filter f = {.kind = OWL_FILTER_PRED, .pred = &p};
    s = (seen){0};
    q = (owl_logs_scan_q){.group = "/g", .start_ms = t0, .end_ms = t0 + 100000,
                          .filter = &f, .fn = see, .ud = &s};
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, NULL, &err), OWL_OK);
    cr_assert_eq(s.n, 100);
    /* the callback's non-zero return stops the scan and is returned */
    s = (seen){.stop_after = 10};
    q.filter = NULL;
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, NULL, &err), 7);
    cr_assert(s.n >= 10 && s.n < 3100);
    /* a deleted stream's events are gone, also once one of its name is back */
    cr_assert_eq(owl_logs_delete_stream(e.lg, T, "/g", "a", &err), OWL_OK);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    mk(&e, "/g", "a");
    cr_assert_eq(put_n(&e, "/g", "a", "z", t0, 1, 4, NULL, &err), OWL_OK);
    s = (seen){0};
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, NULL, &err), OWL_OK);
    cr_assert_eq(s.n, 104);
    q.group = "/nope";
    cr_assert_eq(owl_logs_scan(e.lg, T, &q, NULL, &err), OWL_ENOTFOUND);
    env_free(&e);
}

/* ---- a trace's events: owl_logs_filter.trace_id, owl_logs_trace_events ---- */

#define TR_STEP_MS (6 * 3600000LL) /* events 6 h apart: a batch spans three days */
#define TR_N 12

/* The trace of event i of a batch: T1, T2, none in turn (T1 = 0x11..., T2 = 0x22...). */
static int tr_of(size_t i)
{
    return (int)(i % 3);
}

/* TR_N events "<g>/<s>/<i>" at t0 + i * TR_STEP_MS into (g, s), created on first use. */
static void put_traced(env *e, const char *g, const char *s, int64_t t0)
{
    owl_log_event ev[TR_N];
    char msg[TR_N][64];
    memset(ev, 0, sizeof ev);
    for (size_t i = 0; i < TR_N; i++) {
        snprintf(msg[i], sizeof msg[i], "%s/%s/%zu", g, s, i);
        ev[i].time_ms = t0 + (int64_t)i * TR_STEP_MS;
        ev[i].message = (owl_bytes){msg[i], strlen(msg[i])};
        if (tr_of(i) != 2)
            memset(ev[i].trace_id, tr_of(i) == 0 ? 0x11 : 0x22, sizeof ev[i].trace_id);
        ev[i].span_id[7] = (uint8_t)(i + 1);
    }
    owl_error err = {0};
    owl_logs_put_result res;
    cr_assert_eq(owl_logs_put(e->lg, T, g, s, ev, TR_N, OWL_LOGS_CREATE | OWL_LOGS_ANY_BATCH,
                              &res, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(res.stored, TR_N);
}

/* What pages of a trace's events held, all of them checked to be of trace `id`. */
typedef struct tr_seen {
    size_t n, pages;
    char msgs[64][64];
} tr_seen;

static void tr_check_page(const owl_logs_page *pg, const uint8_t id[16], tr_seen *s,
                          int64_t *last_t)
{
    for (size_t i = 0; i < pg->n; i++) {
        cr_assert_eq(memcmp(pg->ev[i].trace_id, id, 16), 0, "%s", pg->ev[i].message);
        cr_assert_geq(pg->ev[i].time_ms, *last_t, "oldest first");
        *last_t = pg->ev[i].time_ms;
        cr_assert_lt(s->n, 64);
        snprintf(s->msgs[s->n++], sizeof s->msgs[0], "%s", pg->ev[i].message);
    }
    s->pages++;
}

/* Every page of FilterLogEvents on group g for trace id, limit a page. */
static void tr_filter(env *e, const char *g, const uint8_t id[16], size_t limit, tr_seen *s)
{
    owl_logs_filter q = {.group = g, .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                         .limit = limit, .trace_id = id};
    char tok[OWL_SCAN_CURSOR_TEXT + 4];
    int64_t last_t = INT64_MIN;
    memset(s, 0, sizeof *s);
    for (;;) {
        owl_logs_page pg;
        owl_error err = {0};
        cr_assert_eq(owl_logs_filter_events(e->lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
        cr_assert_null(pg.n ? pg.ev[0].group : NULL, "one group's read names none");
        tr_check_page(&pg, id, s, &last_t);
        snprintf(tok, sizeof tok, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!tok[0])
            break;
        q.token = tok;
    }
}

/* Every page of owl_logs_trace_events for id in [start, end), limit a page; each event's
 * message starts with its group's name. */
static void tr_all(env *e, const uint8_t id[16], int64_t start, int64_t end, size_t limit,
                   tr_seen *s)
{
    owl_logs_trace_q q = {.start_ms = start, .end_ms = end, .limit = limit};
    memcpy(q.trace_id, id, 16);
    char tok[OWL_SCAN_CURSOR_TEXT + 4];
    int64_t last_t = INT64_MIN;
    memset(s, 0, sizeof *s);
    for (;;) {
        owl_logs_page pg;
        owl_error err = {0};
        cr_assert_eq(owl_logs_trace_events(e->lg, T, &q, &pg, &err), OWL_OK, "%s", err.msg);
        for (size_t i = 0; i < pg.n; i++) {
            cr_assert_not_null(pg.ev[i].group);
            size_t gl = strlen(pg.ev[i].group);
            cr_assert(!strncmp(pg.ev[i].message, pg.ev[i].group, gl) &&
                          pg.ev[i].message[gl] == '/',
                      "%s is of group %s", pg.ev[i].message, pg.ev[i].group);
        }
        tr_check_page(&pg, id, s, &last_t);
        snprintf(tok, sizeof tok, "%s", pg.next);
        owl_logs_page_free(&pg);
        if (!tok[0])
            break;
        q.token = tok;
    }
}

static size_t tr_count(const tr_seen *s, const char *prefix)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        k += strncmp(s->msgs[i], prefix, strlen(prefix)) == 0;
    return k;
}

Test(logs, trace_id_filters_events_of_one_trace)
{
    env e;
    env_init(&e, NULL);
    int64_t t0 = owl_now_ms() - 4 * 86400000LL; /* TR_N events over three days each */
    uint8_t t1[16], t2[16], t3[16];
    memset(t1, 0x11, 16), memset(t2, 0x22, 16), memset(t3, 0x33, 16);
    put_traced(&e, "/a", "s1", t0);
    put_traced(&e, "/b", "s1", t0 + 2);
    owl_error err = {0};
    cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK); /* those in parts, these in memory */
    put_traced(&e, "/a", "s2", t0 + 1);
    put_traced(&e, "/c", "s1", t0 + 3);
    tr_seen s;
    /* one group: T1's events of both its streams, 2 a page */
    tr_filter(&e, "/a", t1, 2, &s);
    cr_assert_eq(s.n, 8, "4 of each stream");
    cr_assert_eq(tr_count(&s, "/a/s1/"), 4);
    cr_assert_eq(tr_count(&s, "/a/s2/"), 4);
    cr_assert_geq(s.pages, 4, "paged");
    cr_assert_str_eq(s.msgs[0], "/a/s1/0");
    cr_assert_str_eq(s.msgs[1], "/a/s2/0");
    tr_filter(&e, "/a", t2, 1000, &s);
    cr_assert_eq(s.n, 8);
    cr_assert_str_eq(s.msgs[0], "/a/s1/1");
    tr_filter(&e, "/a", t3, 1000, &s);
    cr_assert_eq(s.n, 0, "a trace without events");
    /* every group: T1's 16 events, oldest first, 3 a page */
    tr_all(&e, t1, INT64_MIN, INT64_MAX, 3, &s);
    cr_assert_eq(s.n, 16);
    cr_assert_eq(s.pages, 6);
    cr_assert_eq(tr_count(&s, "/b/"), 4);
    cr_assert_eq(tr_count(&s, "/c/"), 4);
    const char *first[] = {"/a/s1/0", "/a/s2/0", "/b/s1/0", "/c/s1/0", "/a/s1/3"};
    for (size_t i = 0; i < OWL_ARRAY_LEN(first); i++)
        cr_assert_str_eq(s.msgs[i], first[i]);
    /* a range reads its days only: events 3..5 of each stream (the second day) */
    tr_all(&e, t1, t0 + 3 * TR_STEP_MS, t0 + 6 * TR_STEP_MS, 1000, &s);
    cr_assert_eq(s.n, 4, "event 3 of each of the four streams");
    tr_all(&e, t3, INT64_MIN, INT64_MAX, 1000, &s);
    cr_assert_eq(s.n, 0);
    /* a deleted stream's and group's events are gone from both reads */
    cr_assert_eq(owl_logs_delete_stream(e.lg, T, "/a", "s2", &err), OWL_OK);
    cr_assert_eq(owl_logs_delete_group(e.lg, T, "/c", &err), OWL_OK);
    tr_filter(&e, "/a", t1, 1000, &s);
    cr_assert_eq(s.n, 4);
    tr_all(&e, t1, INT64_MIN, INT64_MAX, 1000, &s);
    cr_assert_eq(s.n, 8);
    /* the same after a reopen, from parts only */
    env_close(&e);
    env_open(&e, NULL);
    tr_all(&e, t2, INT64_MIN, INT64_MAX, 5, &s);
    cr_assert_eq(s.n, 8);
    cr_assert_eq(tr_count(&s, "/a/s1/"), 4);
    /* an all-zero id and a foreign token are refused; another tenant sees nothing */
    owl_logs_trace_q q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 10};
    owl_logs_page pg;
    cr_assert_eq(owl_logs_trace_events(e.lg, T, &q, &pg, &err), OWL_EINVAL);
    memcpy(q.trace_id, t1, 16);
    q.token = "nope";
    cr_assert_eq(owl_logs_trace_events(e.lg, T, &q, &pg, &err), OWL_EINVAL);
    q.token = NULL;
    cr_assert_eq(owl_logs_trace_events(e.lg, "000000000002", &q, &pg, &err), OWL_OK);
    cr_assert_eq(pg.n, 0);
    owl_logs_page_free(&pg);
    env_free(&e);
}

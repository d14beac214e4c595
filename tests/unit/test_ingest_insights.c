/* test_ingest_insights.c — ingest/insights.c, the Logs Insights runner: a query started over
 * two groups completes with the rows the language gives (and @ptr that GetLogRecord finds),
 * errors at start (unknown group, malformed query, bad range), the per-tenant concurrency
 * limit, StopQuery of a queued query, DescribeQueries' filters, the memory limit, the time
 * limit, pruning to the newest finished queries, saved definitions with pages, and shutdown
 * (waiters woken, starts refused). */
#include <criterion/criterion.h>
#include <pthread.h>
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
    owl_insights *in;
    int64_t t0;
} env;

static void env_init(env *e, const owl_insights_options *io)
{
    char p[4200];
    owl_error err = {0};
    memset(e, 0, sizeof *e);
    e->dir = test_tmpdir("ins");
    snprintf(p, sizeof p, "%s/meta", e->dir);
    cr_assert_eq(owl_meta_open(p, NULL, &e->meta, &err), OWL_OK, "%s", err.msg);
    owl_store_options so;
    owl_store_options_default(&so);
    so.background = 0;
    so.block_rows = 1024; /* blocks small enough that a scan in time order skips most */
    snprintf(p, sizeof p, "%s/store", e->dir);
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &e->store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_logs_open(e->meta, e->store, NULL, &e->lg, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_insights_open(e->lg, e->meta, io, &e->in, &err), OWL_OK, "%s", err.msg);
    e->t0 = owl_now_ms() / 60000 * 60000 - 3600000;
    /* /a: 600 events "a i user=u<i%3> ms=<i>" one a second; /b: 60 events */
    const char *groups[] = {"/a", "/b"};
    size_t counts[] = {600, 60};
    for (int g = 0; g < 2; g++) {
        cr_assert_eq(owl_logs_create_group(e->lg, T, groups[g], NULL, NULL, 0, &err), OWL_OK);
        cr_assert_eq(owl_logs_create_stream(e->lg, T, groups[g], "s", &err), OWL_OK);
        owl_log_event ev[600];
        char msg[600][64];
        for (size_t i = 0; i < counts[g]; i++) {
            snprintf(msg[i], sizeof msg[i], "%c %zu user=u%zu ms=%zu", 'a' + g, i, i % 3, i);
            ev[i] = (owl_log_event){.time_ms = e->t0 + (int64_t)i * 1000 + g,
                                    .message = {msg[i], strlen(msg[i])}};
        }
        cr_assert_eq(owl_logs_put(e->lg, T, groups[g], "s", ev, counts[g], 0, NULL, &err),
                     OWL_OK, "%s", err.msg);
    }
}

static void env_free(env *e)
{
    owl_insights_close(e->in);
    owl_logs_close(e->lg);
    owl_store_close(e->store);
    owl_meta_close(e->meta);
    test_rm_rf(e->dir);
}

static int start(env *e, const char *q, const char *g1, const char *g2, char id[37],
                 owl_error *err)
{
    const char *groups[] = {g1, g2};
    owl_insights_query s = {.groups = groups, .ngroups = g2 ? 2 : 1, .start_ms = e->t0,
                            .end_ms = e->t0 + 3600000, .query = q};
    return owl_insights_start(e->in, T, &s, id, err);
}

/* Waits for query id to end; returns its view (release it). */
static owl_insights_view wait_view(env *e, const char *id)
{
    owl_insights_view v;
    owl_error err = {0};
    cr_assert_eq(owl_insights_get(e->in, T, id, 20000, &v, &err), OWL_OK, "%s", err.msg);
    return v;
}

Test(ingest_insights, completes_with_rows_stats_and_pointers)
{
    env e;
    env_init(&e, NULL);
    char id[37];
    owl_error err = {0};
    cr_assert_eq(start(&e, "stats count(*) as n, sum(ms) as s by user | sort user", "/a", "/b",
                       id, &err), OWL_OK, "%s", err.msg);
    owl_insights_view v = wait_view(&e, id);
    cr_assert_eq(v.status, OWL_INS_COMPLETE, "%s", v.error);
    cr_assert_eq(owl_ins_result_rows(v.res), 3);
    /* users u0..u2 over 600 + 60 events */
    cr_assert_str_eq(owl_ins_result_get(v.res, 0, "user"), "u0");
    cr_assert_str_eq(owl_ins_result_get(v.res, 0, "n"), "220");
    cr_assert_eq(v.stats.records_matched, 660);
    cr_assert_geq(v.stats.records_scanned, 660);
    owl_insights_view_release(e.in, &v);

    cr_assert_eq(start(&e, "fields @message, @log | filter @message like /^b 5[0-9]$/ "
                           "| sort @timestamp desc | limit 3", "/a", "/b", id, &err), OWL_OK);
    v = wait_view(&e, id);
    cr_assert_eq(v.status, OWL_INS_COMPLETE, "%s", v.error);
    cr_assert_eq(owl_ins_result_rows(v.res), 0, "no 'b 5x' line ends there");
    owl_insights_view_release(e.in, &v);
    cr_assert_eq(start(&e, "fields @message, @log | filter @message like /^b 5[0-9] / "
                           "| sort @timestamp desc | limit 3", "/a", "/b", id, &err), OWL_OK);
    v = wait_view(&e, id);
    cr_assert_eq(owl_ins_result_rows(v.res), 3);
    cr_assert_str_eq(owl_ins_result_get(v.res, 0, "@message"), "b 59 user=u2 ms=59");
    cr_assert_str_eq(owl_ins_result_get(v.res, 0, "@log"), T ":/b");
    const char *ptr = owl_ins_result_get(v.res, 0, "@ptr");
    cr_assert(ptr);
    owl_insights_record r = {0};
    cr_assert_eq(owl_insights_record_get(e.in, T, ptr, &r, &err), OWL_OK, "%s", err.msg);
    cr_assert_str_eq(r.group, "/b");
    cr_assert_eq(r.time_ms, e.t0 + 59000 + 1);
    cr_assert_str_eq(r.text.data, "s");
    cr_assert_eq(r.message_len, strlen("b 59 user=u2 ms=59"));
    cr_assert_eq(memcmp(r.text.data + r.stream_len + 1, "b 59 user=u2 ms=59", r.message_len), 0);
    owl_insights_record_free(&r);
    owl_insights_view_release(e.in, &v);
    /* a pointer owl did not make, one of an event that is not there */
    cr_assert_eq(owl_insights_record_get(e.in, T, "xyz", &r, &err), OWL_EINVAL);
    owl_insights_record_free(&r);
    cr_assert_eq(owl_insights_record_get(e.in, T,
                                         "00000000000000010000000000000001" "2f62", &r, &err),
                 OWL_ENOTFOUND);
    owl_insights_record_free(&r);
    env_free(&e);
}

Test(ingest_insights, start_errors)
{
    env e;
    env_init(&e, NULL);
    char id[37];
    owl_error err = {0};
    cr_assert_eq(start(&e, "fields @message", "/nope", NULL, id, &err), OWL_ENOTFOUND);
    cr_assert_eq(start(&e, "stats count(* by x", "/a", NULL, id, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "column"), "%s", err.msg);
    cr_assert_eq(start(&e, "", "/a", NULL, id, &err), OWL_EINVAL);
    const char *g[] = {"/a"};
    owl_insights_query s = {.groups = g, .ngroups = 1, .start_ms = 10, .end_ms = 5,
                            .query = "fields @message"};
    cr_assert_eq(owl_insights_start(e.in, T, &s, id, &err), OWL_EINVAL);
    s = (owl_insights_query){.groups = g, .ngroups = 0, .query = "fields @message"};
    cr_assert_eq(owl_insights_start(e.in, T, &s, id, &err), OWL_EINVAL);
    owl_insights_view v;
    cr_assert_eq(owl_insights_get(e.in, T, "00000000-0000-4000-8000-000000000000", 0, &v, &err),
                 OWL_ENOTFOUND);
    env_free(&e);
}

/* A query that takes a while: every event through a regex and a sort. */
#define SLOW "filter @message =~ /(u1|u2).*ms=[0-9]*7$/ | sort ms desc"

Test(ingest_insights, concurrency_stop_and_describe)
{
    env e;
    owl_insights_options o = {.workers = 1, .per_tenant = 3};
    env_init(&e, &o);
    char a[37], b[37], c[37], d[37];
    owl_error err = {0};
    /* one worker: while it runs a, b and c wait; a fourth is refused */
    cr_assert_eq(start(&e, SLOW, "/a", "/b", a, &err), OWL_OK);
    cr_assert_eq(start(&e, SLOW, "/a", NULL, b, &err), OWL_OK);
    cr_assert_eq(start(&e, SLOW, "/b", NULL, c, &err), OWL_OK);
    int rc = start(&e, SLOW, "/a", NULL, d, &err);
    owl_insights_view va;
    cr_assert_eq(owl_insights_get(e.in, T, a, 0, &va, &err), OWL_OK);
    int a_done = va.status >= OWL_INS_COMPLETE;
    owl_insights_view_release(e.in, &va);
    if (!a_done) { /* (a may have ended on a fast machine: then the limit was not reached) */
        cr_assert_eq(rc, OWL_ERANGE, "%s", err.msg);
        cr_assert(strstr(err.msg, "concurrency limit of [3]"), "%s", err.msg);
    }
    int stopped;
    cr_assert_eq(owl_insights_stop(e.in, T, c, &stopped, &err), OWL_OK);
    owl_insights_view vc = wait_view(&e, c);
    cr_assert(stopped ? vc.status == OWL_INS_CANCELLED : vc.status == OWL_INS_COMPLETE);
    owl_insights_view_release(e.in, &vc);
    owl_insights_view vb = wait_view(&e, b);
    cr_assert_eq(vb.status, OWL_INS_COMPLETE);
    cr_assert_eq(owl_ins_result_rows(vb.res), 40, "u1/u2 with ms ending in 7 in /a");
    owl_insights_view_release(e.in, &vb);
    cr_assert_eq(owl_insights_stop(e.in, T, b, &stopped, &err), OWL_OK);
    cr_assert_eq(stopped, 0, "a finished query is not stopped");
    cr_assert_eq(owl_insights_stop(e.in, T, "nope", &stopped, &err), OWL_ENOTFOUND);
    env_free(&e);
}

typedef struct listed {
    int n;
    char first[37];
} listed;

static int on_query(void *ud, const owl_insights_view *v)
{
    listed *l = ud;
    if (!l->n++)
        memcpy(l->first, v->id, 37);
    return 0;
}

Test(ingest_insights, describe_and_prune)
{
    env e;
    owl_insights_options o = {.keep = 3};
    env_init(&e, &o);
    char id[37], last[37];
    owl_error err = {0};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(start(&e, "stats count(*)", i % 2 ? "/b" : "/a", NULL, id, &err), OWL_OK);
        owl_insights_view v = wait_view(&e, id);
        owl_insights_view_release(e.in, &v);
        memcpy(last, id, 37);
    }
    listed l = {0};
    owl_insights_list(e.in, T, NULL, -1, on_query, &l);
    cr_assert_eq(l.n, 3, "the newest 3 finished queries are kept");
    cr_assert_str_eq(l.first, last, "newest first");
    l = (listed){0};
    owl_insights_list(e.in, T, "/b", OWL_INS_COMPLETE, on_query, &l);
    cr_assert_eq(l.n, 1, "of the 3 kept (i = 2, 3, 4), i = 3 read /b");
    l = (listed){0};
    owl_insights_list(e.in, T, NULL, OWL_INS_RUNNING, on_query, &l);
    cr_assert_eq(l.n, 0);
    l = (listed){0};
    owl_insights_list(e.in, "000000000002", NULL, -1, on_query, &l);
    cr_assert_eq(l.n, 0, "another tenant sees none");
    env_free(&e);
}

Test(ingest_insights, memory_and_time_limits)
{
    env e;
    owl_insights_options o = {.max_bytes = 16 << 10};
    env_init(&e, &o);
    char id[37];
    owl_error err = {0};
    cr_assert_eq(start(&e, "stats count(*) by @message", "/a", NULL, id, &err), OWL_OK);
    owl_insights_view v = wait_view(&e, id);
    cr_assert_eq(v.status, OWL_INS_FAILED);
    cr_assert(v.error[0]);
    cr_assert_null(v.res);
    owl_insights_view_release(e.in, &v);
    owl_insights_close(e.in);
    o = (owl_insights_options){.timeout_ms = 1};
    cr_assert_eq(owl_insights_open(e.lg, e.meta, &o, &e.in, &err), OWL_OK);
    /* a few thousand regex evaluations: far beyond 1 ms once the first batch is done */
    cr_assert_eq(start(&e, SLOW " | limit 1", "/a", "/a", id, &err), OWL_OK);
    v = wait_view(&e, id);
    cr_assert(v.status == OWL_INS_TIMEOUT || v.status == OWL_INS_COMPLETE,
              "%d", (int)v.status);
    if (v.status == OWL_INS_TIMEOUT)
        cr_assert(strstr(v.error, "longer than 1 ms"), "%s", v.error);
    owl_insights_view_release(e.in, &v);
    env_free(&e);
}

typedef struct defs {
    int n;
    char names[8][32];
} defs;

static int on_def(void *ud, const char *id, const bson_t *doc)
{
    defs *d = ud;
    bson_iter_t it;
    (void)id;
    if (bson_iter_init_find(&it, doc, "name") && d->n < 8)
        snprintf(d->names[d->n++], 32, "%s", bson_iter_utf8(&it, NULL));
    return 0;
}

Test(ingest_insights, saved_definitions)
{
    env e;
    env_init(&e, NULL);
    owl_error err = {0};
    char ids[5][37], next[37];
    const char *g[] = {"/a"};
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, i < 3 ? "err/%d" : "other/%d", i);
        owl_insights_def d = {NULL, name, "stats count(*)", g, 1};
        cr_assert_eq(owl_insights_def_put(e.in, T, &d, ids[i], &err), OWL_OK, "%s", err.msg);
    }
    defs d = {0};
    cr_assert_eq(owl_insights_def_list(e.in, T, "err/", NULL, 100, on_def, &d, next, &err),
                 OWL_OK);
    cr_assert_eq(d.n, 3);
    cr_assert_str_empty(next);
    /* pages of two over the five */
    int total = 0;
    const char *after = NULL;
    char tok[37];
    for (int page = 0; page < 5; page++) {
        d = (defs){0};
        cr_assert_eq(owl_insights_def_list(e.in, T, NULL, after, 2, on_def, &d, next, &err),
                     OWL_OK);
        total += d.n;
        if (!next[0])
            break;
        memcpy(tok, next, 37);
        after = tok;
    }
    cr_assert_eq(total, 5);
    owl_insights_def up = {ids[0], "renamed", "fields @message", NULL, 0};
    cr_assert_eq(owl_insights_def_put(e.in, T, &up, next, &err), OWL_OK);
    cr_assert_str_eq(next, ids[0]);
    up.id = "00000000-0000-4000-8000-000000000000";
    cr_assert_eq(owl_insights_def_put(e.in, T, &up, next, &err), OWL_ENOTFOUND);
    up = (owl_insights_def){NULL, "", "x", NULL, 0};
    cr_assert_eq(owl_insights_def_put(e.in, T, &up, next, &err), OWL_EINVAL);
    cr_assert_eq(owl_insights_def_delete(e.in, T, ids[1], &err), OWL_OK);
    cr_assert_eq(owl_insights_def_delete(e.in, T, ids[1], &err), OWL_ENOTFOUND);
    d = (defs){0};
    cr_assert_eq(owl_insights_def_list(e.in, T, "err/", NULL, 100, on_def, &d, next, &err),
                 OWL_OK);
    cr_assert_eq(d.n, 1, "err/2 (err/0 renamed, err/1 deleted)");
    env_free(&e);
}

typedef struct waiter {
    env *e;
    const char *id;
    int64_t took_ms;
} waiter;

static void *wait_long(void *arg)
{
    waiter *w = arg;
    owl_insights_view v;
    owl_error err = {0};
    int64_t t = owl_now_ms();
    if (owl_insights_get(w->e->in, T, w->id, 30000, &v, &err) == OWL_OK)
        owl_insights_view_release(w->e->in, &v);
    w->took_ms = owl_now_ms() - t;
    return NULL;
}

Test(ingest_insights, shutdown_wakes_waiters_and_refuses_starts)
{
    env e;
    owl_insights_options o = {.workers = 1};
    env_init(&e, &o);
    char a[37], b[37];
    owl_error err = {0};
    cr_assert_eq(start(&e, SLOW, "/a", "/b", a, &err), OWL_OK);
    cr_assert_eq(start(&e, SLOW, "/a", "/b", b, &err), OWL_OK);
    waiter w = {&e, b, -1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wait_long, &w), 0);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    owl_insights_shutdown(e.in);
    pthread_join(th, NULL);
    cr_assert(w.took_ms >= 0 && w.took_ms < 10000, "the waiter returned (%lld ms)",
              (long long)w.took_ms);
    cr_assert_eq(start(&e, "fields @message", "/a", NULL, a, &err), OWL_ECLOSED);
    env_free(&e);
}

/* The rows' values of field f, joined by ",". */
static void col_of(const owl_ins_result *res, const char *f, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < owl_ins_result_rows(res) && o < cap; i++) {
        const char *v = owl_ins_result_get(res, i, f);
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", v ? v : "-");
    }
}

/* A query keeping the newest (or oldest) events reads the group in time order and stops once
 * no later event can enter: the same rows (ties included) as a query in no order, from a
 * fraction of the events, over three parts and a memtable whose times interleave. */
Test(ingest_insights, time_ordered_queries_stop_early)
{
    env e;
    env_init(&e, NULL);
    owl_error err = {0};
    cr_assert_eq(owl_logs_create_group(e.lg, T, "/big", NULL, NULL, 0, &err), OWL_OK);
    cr_assert_eq(owl_logs_create_stream(e.lg, T, "/big", "s", &err), OWL_OK);
    enum { PER = 10000 };
    owl_log_event *ev = calloc(PER, sizeof *ev);
    char(*msg)[32] = calloc(PER, 32);
    cr_assert(ev && msg);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < PER; i++) {
            /* put k holds times t0 + (4i + k) * 10 ms; the newest and the oldest time are
             * each held by three events (ties across puts) */
            int64_t t = e.t0 + (int64_t)(4 * i + k) * 10;
            if (i == PER - 1 && k < 3)
                t = e.t0 + (int64_t)(4 * i + 3) * 10;
            if (i == 0 && k > 0)
                t = e.t0;
            snprintf(msg[i], sizeof msg[i], "m%d-%d", k, i);
            ev[i] = (owl_log_event){.time_ms = t, .message = {msg[i], strlen(msg[i])}};
        }
        cr_assert_eq(owl_logs_put(e.lg, T, "/big", "s", ev, PER, 0, NULL, &err), OWL_OK, "%s",
                     err.msg);
        if (k < 3)
            cr_assert_eq(owl_store_flush(e.store, &err), OWL_OK, "%s", err.msg);
    }
    free(ev);
    free(msg);
    static const struct {
        const char *ordered, *reference;
        const char *first; /* the first row's message when not a tie */
    } cases[] = {
        {"fields @message | sort @timestamp desc | limit 2",
         "fields @message, @timestamp as t | sort t desc | limit 2", NULL},
        {"fields @message | sort @timestamp desc | limit 5",
         "fields @message, @timestamp as t | sort t desc | limit 5", NULL},
        {"fields @message | sort @timestamp asc | limit 4",
         "fields @message, @timestamp as t | sort t asc | limit 4", NULL},
        {"fields @message | filter @message like \"m2-\" | limit 3",
         "fields @message, @timestamp as t | filter @message like \"m2-\" | sort t desc "
         "| limit 3", "m2-9999"},
        {"fields @message | sort @timestamp asc | filter @message like /^m1-1/ | limit 1",
         "fields @message, @timestamp as t | filter @message like /^m1-1/ | sort t asc "
         "| limit 1", "m1-1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char id[37], got[512], want[512], gp[512], wp[512];
        cr_assert_eq(start(&e, cases[c].ordered, "/big", NULL, id, &err), OWL_OK, "%s", err.msg);
        owl_insights_view v = wait_view(&e, id);
        cr_assert_eq(v.status, OWL_INS_COMPLETE, "%s", v.error);
        col_of(v.res, "@message", got, sizeof got);
        col_of(v.res, "@ptr", gp, sizeof gp);
        uint64_t scanned = v.stats.records_scanned;
        owl_insights_view_release(e.in, &v);
        cr_assert_eq(start(&e, cases[c].reference, "/big", NULL, id, &err), OWL_OK);
        v = wait_view(&e, id);
        cr_assert_eq(v.status, OWL_INS_COMPLETE, "%s", v.error);
        col_of(v.res, "@message", want, sizeof want);
        col_of(v.res, "@ptr", wp, sizeof wp);
        cr_assert_eq(v.stats.records_scanned, 4 * PER);
        owl_insights_view_release(e.in, &v);
        cr_assert_str_eq(got, want, "%s", cases[c].ordered);
        cr_assert_str_eq(gp, wp, "%s", cases[c].ordered);
        cr_assert_lt(scanned, 4 * PER / 2, "%s read %llu events", cases[c].ordered,
                     (unsigned long long)scanned);
        if (cases[c].first)
            cr_assert_eq(strncmp(got, cases[c].first, strlen(cases[c].first)), 0, "%s", got);
    }
    env_free(&e);
}

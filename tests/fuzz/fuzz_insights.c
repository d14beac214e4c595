/* fuzz_insights.c — libFuzzer target for the CloudWatch Logs Insights parser and runner
 * (index/insights_*.c), which read queries from the network (StartQuery). Beyond crashes, leaks
 * and sanitizer reports it checks the contract: parse answers OK or EINVAL, a refusal leaves
 * *out NULL and names a line and column inside the text or one past it; whatever parses runs
 * over fixed events (JSON, key=value, plain lines and the query's own text) in two orders, and
 * in its time order stopped early where it keeps the newest or oldest events, with the same rows; a run fails only with OWL_ELIMIT (its memory bound, set low on odd inputs);
 * every event that passes the query's leading filters passes the push-down condition. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "index/pred.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const char *const events[] = {
    "{\"level\":\"ERROR\",\"status\":500,\"latency\":120.5,\"user\":{\"id\":\"u1\"},\"tags\":[1,\"b\"],"
    "\"@x\":true,\"s\":\"a\\u00e9\\\"\"}",
    "{\"level\":\"INFO\",\"status\":\"200\",\"latency\":-3e2,\"n\":null,\"a\":{\"b\":{\"c\":[[0]]}}}",
    "2024-01-02T04:00:00Z INFO job=sync took=150 user=u2 result=\"ok done\" ip=10.0.0.5",
    "plain text 127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326",
    "",
    "{\"broken\": [1, 2",
};
#define NEVENTS (sizeof events / sizeof *events)
static const int64_t times[NEVENTS] = {1704164645678, 1704164646000, 1704168000000,
                                       1704168000000, -5, 1704171600000};

static owl_ins_event event(size_t k, const char *self, size_t selfn, char *ptr)
{
    snprintf(ptr, 16, "p%zu", k);
    const char *m = k < NEVENTS ? events[k] : self;
    size_t mn = k < NEVENTS ? strlen(m) : selfn;
    owl_ins_event ev = {k < NEVENTS ? times[k] : 1704160000000, 1704172000000 - (int64_t)k,
                        {m, mn}, {k % 2 ? "web-1" : "worker", k % 2 ? 5 : 6}, {"app", 3},
                        {ptr, strlen(ptr)}};
    return ev;
}

static int64_t time_of(size_t k)
{
    return k < NEVENTS ? times[k] : 1704160000000;
}

/* The rows of a run over the events (rev 0: in order, as one owl_ins_run_feed_batch, or their
 * times alone (owl_ins_run_feed_times) where owl_ins_run_times_only says they do; 1:
 * reversed; 2: in the query's time order, owl_ins_time_order, stopping where owl_ins_run_past
 * says) as one string; NULL when the run failed with OWL_ELIMIT. */
static char *run(const owl_ins_query *q, const owl_ins_limits *lim, int rev, const char *self,
                 size_t selfn)
{
    owl_ins_run *r;
    owl_error err = {0};
    if (owl_ins_run_new(q, lim, &r, &err) != OWL_OK)
        abort();
    size_t order[NEVENTS + 1];
    int tord = rev == 2 ? owl_ins_time_order(q) : 0;
    for (size_t i = 0; i <= NEVENTS; i++) { /* a stable insertion sort by time, tord's way */
        size_t j = i;
        while (j > 0 && tord &&
               (tord < 0 ? time_of(order[j - 1]) < time_of(i) : time_of(order[j - 1]) > time_of(i))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int rc = OWL_OK;
    if (rev == 0) { /* in order, as one batch */
        char ptrs[NEVENTS + 1][16];
        owl_ins_event evs[NEVENTS + 1];
        for (size_t i = 0; i <= NEVENTS; i++)
            evs[i] = event(i, self, selfn, ptrs[i]);
        if (owl_ins_run_times_only(r)) { /* the times alone must give the same rows */
            int64_t ts[NEVENTS + 1];
            for (size_t i = 0; i <= NEVENTS; i++)
                ts[i] = evs[i].time_ms;
            rc = owl_ins_run_feed_times(r, ts, NEVENTS + 1, &err);
        } else {
            rc = owl_ins_run_feed_batch(r, evs, NEVENTS + 1, &err);
        }
    }
    for (size_t i = 0; rev && i <= NEVENTS && rc == OWL_OK; i++) {
        char ptr[16];
        size_t k = rev == 1 ? NEVENTS - i : order[i];
        if (tord && owl_ins_run_past(r, time_of(k)))
            break;
        owl_ins_event ev = event(k, self, selfn, ptr);
        rc = owl_ins_run_feed(r, &ev, &err);
    }
    owl_ins_result *res = NULL;
    if (rc == OWL_OK)
        rc = owl_ins_run_finish(r, &res, &err);
    int done = -1;
    if (owl_ins_run_done(r, &done) != OWL_OK || done != (rc != OWL_OK))
        abort();
    owl_ins_run_free(r);
    if (rc != OWL_OK) {
        if (rc != OWL_ELIMIT || !err.msg[0] || res)
            abort();
        return NULL;
    }
    owl_buf b = OWL_BUF_INIT;
    size_t rows = owl_ins_result_rows(res);
    if (rows > (lim->max_rows ? lim->max_rows : OWL_INS_DEFAULT_MAX_ROWS))
        abort();
    for (size_t i = 0; i < rows; i++) {
        for (size_t f = 0; f < owl_ins_result_nfields(res, i); f++) {
            owl_bytes name, val;
            if (owl_ins_result_field(res, i, f, &name, &val) != OWL_OK || name.n == 0)
                abort();
            owl_buf_append(&b, name.p, name.n);
            owl_buf_putc(&b, '=');
            owl_buf_append(&b, val.p, val.n);
            owl_buf_putc(&b, '\x1f');
        }
        owl_buf_putc(&b, '\x1e');
    }
    owl_ins_result_free(res);
    owl_buf_putc(&b, '.');
    return owl_buf_steal(&b);
}

/* Each event alone: when it gets past the leading filters it must pass f. */
static void check_necessary(const owl_ins_query *q, const owl_filter *f, const char *self,
                            size_t selfn)
{
    for (size_t k = 0; k <= NEVENTS; k++) {
        owl_ins_run *r;
        if (owl_ins_run_new(q, NULL, &r, NULL) != OWL_OK)
            abort();
        char ptr[16];
        owl_ins_event ev = event(k, self, selfn, ptr);
        int rc = owl_ins_run_feed(r, &ev, NULL);
        owl_ins_result *res = NULL;
        if (rc == OWL_OK)
            rc = owl_ins_run_finish(r, &res, NULL);
        owl_ins_stats st = {0};
        if (res)
            owl_ins_result_stats(res, &st);
        owl_ins_result_free(res);
        owl_ins_run_free(r);
        if (rc != OWL_OK || !st.records_matched)
            continue;
        owl_cell cells[OWL_LOGS_NCOLS] = {0};
        owl_cell *cols[OWL_MAX_COLS] = {0};
        cells[OWL_LOGS_TIME].i = ev.time_ms;
        cells[OWL_LOGS_INGEST_TIME].i = ev.ingest_ms;
        cells[OWL_LOGS_STREAM].b = ev.stream;
        cells[OWL_LOGS_MESSAGE].b = ev.message;
        for (size_t c = 0; c < OWL_LOGS_NCOLS; c++)
            cols[c] = &cells[c];
        uint8_t keep = 1, scratch[2 * OWL_FILTER_MAX_DEPTH + 1];
        owl_filter_rows(&owl_logs_schema, f, cols, 1, 0, &keep, scratch);
        if (!keep)
            abort();
    }
}

/* "line L, column C: ..." names a byte of d[0..n) or the one past it. */
static void check_position(const char *msg, const uint8_t *d, size_t n)
{
    unsigned long line, col;
    if (sscanf(msg, "line %lu, column %lu: ", &line, &col) != 2 || line == 0 || col == 0)
        abort();
    size_t i = 0;
    for (unsigned long l = 1; l < line; l++) {
        while (i < n && d[i] != '\n')
            i++;
        if (i >= n)
            abort();
        i++;
    }
    if (i + col - 1 > n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 2048)
        return 0;
    owl_ins_query *q = (owl_ins_query *)1;
    owl_error err = {0};
    int rc = owl_ins_parse((const char *)d, n, &q, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_EINVAL) {
        if (q)
            abort();
        check_position(err.msg, d, n);
        return 0;
    }
    const owl_filter *f = owl_ins_filter(q);
    size_t depth;
    if (f && owl_filter_check(&owl_logs_schema, f, &depth, NULL) != OWL_OK)
        abort();
    if (!(owl_ins_columns(q) & (1u << OWL_LOGS_TIME)))
        abort();
    owl_ins_limits lim = {n % 2 ? 4096 : 0, n % 3 ? 0 : 2};
    char *a = run(q, &lim, 0, (const char *)d, n);
    char *b = run(q, &lim, 1, (const char *)d, n);
    if (a && b && strcmp(a, b) != 0)
        abort();
    free(b);
    if (owl_ins_time_order(q)) { /* in time order and stopped early: the same rows */
        b = run(q, &lim, 2, (const char *)d, n);
        if (a && b && strcmp(a, b) != 0)
            abort();
        free(b);
    }
    free(a);
    if (f)
        check_necessary(q, f, (const char *)d, n);
    owl_ins_free(q);
    return 0;
}

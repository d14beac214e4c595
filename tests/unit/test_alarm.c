/* test_alarm.c — analytics/alarm.c: every row of CloudWatch's two tables of how an alarm is
 * evaluated when data is missing (3 of 3, and 2 of 3, each over a range of 5 periods), under
 * each TreatMissingData setting; late data; percentiles with low sample counts; each
 * comparison operator; the parsers; the actions an alarm may name; and evaluation from the
 * metrics module's buckets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "common/target.h"
#include "tests/unit/testfs.h"

#define KEEP (-1) /* "Retain current state" */
#define INS OWL_ALARM_INSUFFICIENT_DATA
#define OK OWL_ALARM_OK
#define AL OWL_ALARM_ALARM

/* "0 - X - X": 0 a datapoint within the threshold (1, GreaterThanOrEqualToThreshold), X one
 * breaching it, - a missing period; oldest first. */
static size_t points(const char *s, owl_alarm_point *p)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ')
            continue;
        p[n].present = *s != '-';
        p[n].value = *s == 'X' ? 5 : 0;
        p[n].low_sample = 0;
        n++;
    }
    return n;
}

struct row {
    const char *data;
    int missing, ignore, breaching, not_breaching; /* expected states, or KEEP */
};

static void check_table(const struct row *rows, size_t nrows, int m, int n)
{
    static const enum owl_alarm_missing settings[] = {OWL_MISSING_MISSING, OWL_MISSING_IGNORE,
                                                      OWL_MISSING_BREACHING,
                                                      OWL_MISSING_NOT_BREACHING};
    for (size_t r = 0; r < nrows; r++) {
        owl_alarm_point p[8];
        size_t np = points(rows[r].data, p);
        cr_assert_eq(np, 5);
        const int want[4] = {rows[r].missing, rows[r].ignore, rows[r].breaching,
                             rows[r].not_breaching};
        for (int s = 0; s < 4; s++) {
            /* from each current state, so "retain" is told apart from a decision */
            for (int cur = 0; cur < 3; cur++) {
                owl_alarm_verdict v;
                owl_alarm_evaluate(p, np, n, m, OWL_CMP_GE, 1, settings[s], 0,
                                   (enum owl_alarm_state)cur, &v);
                int expect = want[s] == KEEP ? cur : want[s];
                cr_assert_eq(v.state, (enum owl_alarm_state)expect,
                             "%d of %d, \"%s\", %s, from %s: %s, want %s", m, n, rows[r].data,
                             owl_alarm_missing_name(settings[s]),
                             owl_alarm_state_name((enum owl_alarm_state)cur),
                             owl_alarm_state_name(v.state),
                             owl_alarm_state_name((enum owl_alarm_state)expect));
                cr_assert_eq(v.retained, want[s] == KEEP, "\"%s\" %s", rows[r].data,
                             owl_alarm_missing_name(settings[s]));
            }
        }
    }
}

/* CloudWatch's first table: DatapointsToAlarm 3, EvaluationPeriods 3. */
Test(alarm, cloudwatch_table_3_of_3)
{
    static const struct row rows[] = {
        {"0 - X - X", OK, OK, OK, OK},
        {"0 - - - -", OK, OK, OK, OK},
        {"- - - - -", INS, KEEP, AL, OK},
        {"0 X X - X", AL, AL, AL, AL},
        {"- - - - X", INS, KEEP, AL, OK},
        {"X - - - -", AL, KEEP, AL, OK},
    };
    check_table(rows, sizeof rows / sizeof rows[0], 3, 3);
}

/* CloudWatch's second table: 2 out of 3. */
Test(alarm, cloudwatch_table_2_of_3)
{
    static const struct row rows[] = {
        {"0 - X - X", AL, AL, AL, AL},
        {"0 0 X 0 X", AL, AL, AL, AL},
        {"0 - X - -", OK, OK, AL, OK},
        {"- - - - 0", OK, OK, AL, OK},
        {"- - - - X", INS, KEEP, AL, OK},
    };
    check_table(rows, sizeof rows / sizeof rows[0], 2, 3);
}

/* With at least N real points, only the N most recent count, whatever TreatMissingData says;
 * the verdict names them, oldest first. */
Test(alarm, most_recent_points_and_reason)
{
    owl_alarm_point p[8];
    size_t n = points("X X 0 - X 0 X", p);
    owl_alarm_verdict v;
    owl_alarm_evaluate(p, n, 3, 2, OWL_CMP_GE, 1, OWL_MISSING_BREACHING, 0, OK, &v);
    cr_assert_eq(v.state, AL);
    cr_assert_eq(v.nused, 3);
    cr_assert(v.used[0] == 4 && v.used[1] == 5 && v.used[2] == 6);
    cr_assert_eq(v.breaching, 2);
    cr_assert_eq(v.filled, 0);
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_BREACHING, 0, AL, &v);
    cr_assert_eq(v.state, OK);
}

/* A datapoint that arrives late for a period inside the range counts at the next
 * evaluation: the same range with the gap filled decides differently. */
Test(alarm, late_datapoints_inside_the_range)
{
    owl_alarm_point p[8];
    size_t n = points("- - - X X", p);
    owl_alarm_verdict v;
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 0, OK, &v);
    cr_assert_eq(v.state, INS, "two breaching, the third period missing: too early");
    p[2].present = 1, p[2].value = 7; /* the late one */
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 0, OK, &v);
    cr_assert_eq(v.state, AL);
    p[2].value = 0; /* or late and within the threshold */
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 0, AL, &v);
    cr_assert_eq(v.state, OK);
}

/* EvaluateLowSampleCountPercentile: "ignore" keeps the state while an evaluated percentile
 * has too few samples; "evaluate" decides anyway. */
Test(alarm, percentiles_with_low_sample_counts)
{
    owl_alarm_point p[8];
    size_t n = points("0 0 X X X", p);
    p[3].low_sample = 1;
    owl_alarm_verdict v;
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 1, OK, &v);
    cr_assert(v.state == OK && v.retained && v.low_sample);
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 0, OK, &v);
    cr_assert(v.state == AL && !v.retained);
    p[3].low_sample = 0, p[0].low_sample = 1; /* outside the 3 evaluated: no matter */
    owl_alarm_evaluate(p, n, 3, 3, OWL_CMP_GE, 1, OWL_MISSING_MISSING, 1, OK, &v);
    cr_assert_eq(v.state, AL);
}

Test(alarm, comparison_operators)
{
    struct {
        enum owl_alarm_cmp c;
        double v;
        int want;
    } cases[] = {
        {OWL_CMP_GE, 10, 1}, {OWL_CMP_GE, 9.999, 0}, {OWL_CMP_GT, 10, 0}, {OWL_CMP_GT, 10.5, 1},
        {OWL_CMP_LT, 10, 0}, {OWL_CMP_LT, -3, 1},    {OWL_CMP_LE, 10, 1}, {OWL_CMP_LE, 11, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(owl_alarm_breaches(cases[i].c, cases[i].v, 10), cases[i].want, "%s %g",
                     owl_alarm_cmp_name(cases[i].c), cases[i].v);
        owl_alarm_point p = {1, cases[i].v, 0};
        owl_alarm_verdict v;
        owl_alarm_evaluate(&p, 1, 1, 1, cases[i].c, 10, OWL_MISSING_MISSING, 0, INS, &v);
        cr_assert_eq(v.state, cases[i].want ? AL : OK);
    }
}

Test(alarm, names_and_parsers)
{
    enum owl_alarm_cmp c;
    enum owl_alarm_missing m;
    owl_error err = {0};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(owl_alarm_cmp_parse(owl_alarm_cmp_name((enum owl_alarm_cmp)i), &c, NULL),
                     OWL_OK);
        cr_assert_eq(c, (enum owl_alarm_cmp)i);
        cr_assert_eq(owl_alarm_missing_parse(owl_alarm_missing_name((enum owl_alarm_missing)i),
                                             &m, NULL),
                     OWL_OK);
        cr_assert_eq(m, (enum owl_alarm_missing)i);
    }
    cr_assert_eq(owl_alarm_cmp_parse("GreaterThanUpperThreshold", &c, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "anomaly detection"), "%s", err.msg);
    cr_assert_eq(owl_alarm_cmp_parse("greaterthanthreshold", &c, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "must be one of"), "%s", err.msg);
    cr_assert_eq(owl_alarm_missing_parse("Missing", &m, &err), OWL_EINVAL);
    cr_assert_eq(owl_alarm_missing_parse(NULL, &m, &err), OWL_EINVAL);
    cr_assert_str_eq(owl_alarm_state_name(INS), "INSUFFICIENT_DATA");
}

/* ---- from stored datapoints ---- */

typedef struct env {
    char *dir;
    owl_meta *meta;
    owl_store *store;
    owl_metrics *m;
} env;

static env E;

static void setup(void)
{
    char p[256];
    owl_error err = {0};
    E.dir = test_tmpdir("alarm");
    snprintf(p, sizeof p, "%s/meta", E.dir);
    cr_assert_eq(owl_meta_open(p, &(owl_meta_options){.fsync = 0}, &E.meta, &err), OWL_OK);
    snprintf(p, sizeof p, "%s/store", E.dir);
    owl_store_options so;
    owl_store_options_default(&so);
    so.sync = OWL_SYNC_NONE;
    so.background = 0;
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &E.store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_metrics_open(E.store, E.meta, NULL, &E.m, &err), OWL_OK, "%s", err.msg);
}

static void teardown(void)
{
    owl_metrics_close(E.m);
    owl_store_close(E.store);
    owl_meta_close(E.meta);
    test_rm_rf(E.dir);
}

static const owl_dim host[] = {{"host", "a"}};

static void put_values(int64_t t, const double *v, size_t n)
{
    owl_datum d = {.id = {"App", "Latency", host, 1}, .time_ms = t, .resolution = 1,
                   .values = v, .nvalues = n};
    enum owl_metric_fault f;
    owl_error err = {0};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &d, 1, 0, t + 1000, &f, &err), OWL_OK, "%s",
                 err.msg);
}

/* A 10-second high-resolution alarm, 3 of 3 above 100: breaching data for three periods
 * raises it, and the range moves with now (the period holding now is not evaluated). */
Test(alarm_metric, ten_second_alarm_from_stored_data, .init = setup, .fini = teardown)
{
    const int64_t base = owl_now_ms() / 60000 * 60000 - 120000; /* 10 s aligned, recent */
    owl_alarm_spec spec = {.tenant = "t1", .id = {"App", "Latency", host, 1}, .period_s = 10,
                           .eval_periods = 3, .datapoints_to_alarm = 3, .cmp = OWL_CMP_GT,
                           .threshold = 100, .missing = OWL_MISSING_MISSING};
    cr_assert_eq(owl_stat_parse("Maximum", &spec.stat, NULL), OWL_OK);
    owl_alarm_range r;
    owl_alarm_verdict v;
    owl_error err = {0};
    /* nothing stored: insufficient data */
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 50000, OK, &r, &v, &err), OWL_OK);
    cr_assert_eq(v.state, INS);
    cr_assert_eq(r.n, 5);
    cr_assert_eq(r.start_ms, base);
    double low = 50, high = 500;
    for (int i = 0; i < 5; i++)
        put_values(base + i * 10000 + 1234, i < 2 ? &low : &high, 1);
    /* at base + 50 s the range is [base, base + 50 s): 0 0 X X X */
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 50000, OK, &r, &v, &err), OWL_OK);
    cr_assert_eq(v.state, AL, "%s", owl_alarm_state_name(v.state));
    cr_assert(v.nused == 3 && v.used[0] == 2 && r.p[4].value == 500);
    /* 5 s earlier the last of them is in the open period: 0 0 X X in range, - first */
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 45000, OK, &r, &v, &err), OWL_OK);
    cr_assert_eq(v.state, OK);
    /* a late low value inside the last period: no longer 3 of 3 */
    put_values(base + 45000, &low, 1);
    spec.stat.kind = OWL_STAT_MINIMUM;
    cr_assert_eq(owl_stat_parse("Minimum", &spec.stat, NULL), OWL_OK);
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 50000, AL, &r, &v, &err), OWL_OK);
    cr_assert_eq(v.state, OK);
    /* a bad period is the read's error */
    spec.period_s = 7;
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 50000, OK, &r, &v, &err),
                 OWL_EINVAL);
}

/* p99 over periods of 20 values: fewer than the 1,000 samples CloudWatch asks for. With
 * EvaluateLowSampleCountPercentile "ignore" the state stays; with "evaluate" it moves. */
Test(alarm_metric, p99_with_few_samples, .init = setup, .fini = teardown)
{
    const int64_t base = owl_now_ms() / 60000 * 60000 - 240000;
    double v[20];
    for (int i = 0; i < 20; i++)
        v[i] = 1000 + i;
    for (int i = 0; i < 3; i++)
        put_values(base + i * 60000 + 5000, v, 20);
    owl_alarm_spec spec = {.tenant = "t1", .id = {"App", "Latency", host, 1}, .period_s = 60,
                           .eval_periods = 3, .datapoints_to_alarm = 3, .cmp = OWL_CMP_GE,
                           .threshold = 900, .missing = OWL_MISSING_MISSING,
                           .low_sample_ignore = 1};
    cr_assert_eq(owl_stat_parse("p99", &spec.stat, NULL), OWL_OK);
    owl_alarm_range r;
    owl_alarm_verdict vd;
    owl_error err = {0};
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 180000, OK, &r, &vd, &err),
                 OWL_OK);
    cr_assert(vd.state == OK && vd.retained && vd.low_sample);
    spec.low_sample_ignore = 0;
    cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, base + 180000, OK, &r, &vd, &err),
                 OWL_OK);
    cr_assert_eq(vd.state, AL);
    cr_assert(r.p[2].low_sample && r.p[2].value >= 1018 * 0.99);
}

/* ---- alarms kept by owl ---- */

typedef struct changes {
    int n;
    enum owl_alarm_state last_old, last_new;
    char last_reason[512];
} changes;

static void on_change(void *ud, const owl_alarm_change *ch)
{
    changes *c = ud;
    c->n++;
    c->last_old = ch->old_state, c->last_new = ch->new_state;
    snprintf(c->last_reason, sizeof c->last_reason, "%s", ch->reason);
}

typedef struct hist {
    int n, config, state;
    char last_data[2048];
} hist;

static int on_item(void *ud, const owl_alarm_history_item *it)
{
    hist *h = ud;
    h->n++;
    h->config += !strcmp(it->type, "ConfigurationUpdate");
    h->state += !strcmp(it->type, "StateUpdate");
    snprintf(h->last_data, sizeof h->last_data, "%s", it->data);
    return 0;
}

static owl_alarm_def hot_alarm(void)
{
    static const char *const hook[] = {"http://127.0.0.1:9/hook"};
    owl_alarm_def d = {.name = "latency-high", .description = "p is high", .actions_enabled = 1};
    d.spec = (owl_alarm_spec){.tenant = "t1", .id = {"App", "Latency", host, 1}, .period_s = 10,
                              .eval_periods = 2, .datapoints_to_alarm = 2, .cmp = OWL_CMP_GT,
                              .threshold = 100, .missing = OWL_MISSING_MISSING};
    cr_assert_eq(owl_stat_parse("Average", &d.spec.stat, NULL), OWL_OK);
    d.actions[AL] = hook, d.nactions[AL] = 1;
    return d;
}

Test(alarms, lifecycle_history_and_restart, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    changes ch = {0};
    owl_alarms_set_hook(as, on_change, &ch);
    const int64_t base = owl_now_ms() / 60000 * 60000 - 120000;
    owl_alarm_def d = hot_alarm();
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_OK, "%s", err.msg);
    owl_alarm_info info;
    cr_assert_eq(owl_alarms_get(as, "t1", "latency-high", &info), OWL_OK);
    cr_assert_eq(info.state, INS);
    cr_assert_str_eq(info.reason, "Unchecked: Initial alarm creation");
    free(info.reason_data);
    /* breaching data for two periods: ALARM, once */
    double hi = 250, lo = 20;
    put_values(base + 1000, &hi, 1);
    put_values(base + 11000, &hi, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 20000, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(ch.n, 1);
    cr_assert(ch.last_old == INS && ch.last_new == AL);
    cr_assert(strstr(ch.last_reason, "Threshold Crossed: 2 out of the last 2 datapoints [250.0"),
              "%s", ch.last_reason);
    cr_assert(strstr(ch.last_reason, "were greater than the threshold (100.0)"), "%s",
              ch.last_reason);
    cr_assert_eq(owl_alarms_tick(as, base + 21000, &err), OWL_OK);
    cr_assert_eq(ch.n, 1, "no change, no report");
    /* recovery */
    put_values(base + 21000, &lo, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 30000, &err), OWL_OK);
    cr_assert(ch.n == 2 && ch.last_new == OK);
    /* SetAlarmState holds until the next evaluation decides otherwise */
    cr_assert_eq(owl_alarms_set_state(as, "t1", "latency-high", AL, "testing", NULL, base + 31000,
                                      &err),
                 OWL_OK);
    cr_assert(ch.n == 3 && ch.last_new == AL);
    cr_assert_eq(owl_alarms_tick(as, base + 32000, &err), OWL_OK);
    cr_assert(ch.n == 4 && ch.last_new == OK);
    hist h = {0};
    cr_assert_eq(owl_alarms_history(as, "t1", "latency-high", on_item, &h, &err), OWL_OK);
    cr_assert_eq(h.config, 1);
    cr_assert_eq(h.state, 4);
    cr_assert(strstr(h.last_data, "\"oldState\":{\"stateValue\":\"ALARM\""), "%s", h.last_data);
    cr_assert(strstr(h.last_data, "\"recentDatapoints\":["), "%s", h.last_data);
    /* bad definitions are refused */
    owl_alarm_def bad = hot_alarm();
    bad.spec.period_s = 45;
    cr_assert_eq(owl_alarms_put(as, &bad, base, &err), OWL_EINVAL);
    bad = hot_alarm(), bad.spec.datapoints_to_alarm = 3;
    cr_assert_eq(owl_alarms_put(as, &bad, base, &err), OWL_EINVAL);
    bad = hot_alarm(), bad.spec.period_s = 3600, bad.spec.eval_periods = 25;
    cr_assert_eq(owl_alarms_put(as, &bad, base, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "86400"), "%s", err.msg);
    bad = hot_alarm(), bad.name = "";
    cr_assert_eq(owl_alarms_put(as, &bad, base, &err), OWL_EINVAL);
    /* restart: definition, state and history come back */
    owl_alarms_close(as);
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_get(as, "t1", "latency-high", &info), OWL_OK);
    cr_assert_eq(info.state, OK);
    cr_assert(info.reason_data && strstr(info.reason_data, "\"period\":10"), "%s",
              info.reason_data ? info.reason_data : "(none)");
    free(info.reason_data);
    h = (hist){0};
    owl_alarms_history(as, "t1", NULL, on_item, &h, &err);
    cr_assert_eq(h.n, 5);
    /* evaluation goes on after the restart */
    put_values(base + 41000, &hi, 1);
    put_values(base + 51000, &hi, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 60000, &err), OWL_OK);
    cr_assert_eq(owl_alarms_get(as, "t1", "latency-high", &info), OWL_OK);
    cr_assert_eq(info.state, AL);
    free(info.reason_data);
    /* DeleteAlarms: all or nothing */
    const char *names[] = {"latency-high", "nope"};
    cr_assert_eq(owl_alarms_delete(as, "t1", names, 2, &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_alarms_get(as, "t1", "latency-high", &info), OWL_OK);
    free(info.reason_data);
    cr_assert_eq(owl_alarms_delete(as, "t1", names, 1, &err), OWL_OK);
    cr_assert_eq(owl_alarms_get(as, "t1", "latency-high", &info), OWL_ENOTFOUND);
    cr_assert_eq(owl_alarms_get(as, "t2", "latency-high", &info), OWL_ENOTFOUND);
    owl_alarms_close(as);
}

/* ---- composite alarms ---- */

static owl_alarm_def child(const char *name)
{
    owl_alarm_def d = hot_alarm();
    d.name = name;
    return d;
}

static enum owl_alarm_state state_now(owl_alarms *as, const char *name)
{
    owl_alarm_info info;
    cr_assert_eq(owl_alarms_get(as, "t1", name, &info), OWL_OK, "%s", name);
    free(info.reason_data);
    return info.state;
}

/* "ALARM(a) AND NOT OK(b)" through every combination of its two children's states, each
 * change of a child re-evaluating it at once; cycles and name clashes refused; a restart
 * keeps it. */
Test(alarms, composite_follows_its_children, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    changes ch = {0};
    owl_alarms_set_hook(as, on_change, &ch);
    const int64_t now = owl_now_ms();
    owl_alarm_def a = child("a"), b = child("b");
    cr_assert_eq(owl_alarms_put(as, &a, now, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_put(as, &b, now, &err), OWL_OK, "%s", err.msg);
    owl_alarm_def c = {.name = "both", .spec = {.tenant = "t1"}, .actions_enabled = 1};
    cr_assert_eq(owl_alarms_put_composite(as, &c, "ALARM(a) AND NOT OK(b)", now, &err), OWL_OK,
                 "%s", err.msg);
    cr_assert_eq(state_now(as, "both"), OK, "a and b INSUFFICIENT_DATA: the rule does not hold");
    for (int sa = 0; sa < 3; sa++)
        for (int sb = 0; sb < 3; sb++) {
            cr_assert_eq(owl_alarms_set_state(as, "t1", "a", (enum owl_alarm_state)sa, "t", NULL,
                                              now, &err),
                         OWL_OK);
            cr_assert_eq(owl_alarms_set_state(as, "t1", "b", (enum owl_alarm_state)sb, "t", NULL,
                                              now, &err),
                         OWL_OK);
            int want = sa == AL && sb != OK;
            cr_assert_eq(state_now(as, "both"), want ? AL : OK, "a %s b %s",
                         owl_alarm_state_name((enum owl_alarm_state)sa),
                         owl_alarm_state_name((enum owl_alarm_state)sb));
        }
    /* a composite of the composite, and a rule that would loop */
    owl_alarm_def top = {.name = "top", .spec = {.tenant = "t1"}};
    cr_assert_eq(owl_alarms_put_composite(as, &top, "ALARM(both) OR ALARM(a)", now, &err), OWL_OK);
    cr_assert_eq(owl_alarms_put_composite(as, &c, "ALARM(a) AND ALARM(top)", now, &err),
                 OWL_EINVAL);
    cr_assert(strstr(err.msg, "refers to itself"), "%s", err.msg);
    cr_assert_eq(owl_alarms_put_composite(as, &c, "ALARM(both)", now, &err), OWL_EINVAL);
    cr_assert_eq(owl_alarms_put_composite(as, &c, "ALARM(a) AND", now, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "at "), "%s", err.msg);
    owl_alarm_def clash = child("both");
    cr_assert_eq(owl_alarms_put(as, &clash, now, &err), OWL_EINVAL);
    owl_alarm_def clash2 = {.name = "a", .spec = {.tenant = "t1"}};
    cr_assert_eq(owl_alarms_put_composite(as, &clash2, "TRUE", now, &err), OWL_EINVAL);
    /* a change of a reaches both and top in the same call */
    cr_assert_eq(owl_alarms_set_state(as, "t1", "b", AL, "t", NULL, now, &err), OWL_OK);
    cr_assert_eq(owl_alarms_set_state(as, "t1", "a", AL, "t", NULL, now, &err), OWL_OK);
    cr_assert(state_now(as, "both") == AL && state_now(as, "top") == AL);
    owl_alarms_close(as);
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(state_now(as, "top"), AL);
    cr_assert_eq(owl_alarms_set_state(as, "t1", "a", OK, "t", NULL, now, &err), OWL_OK);
    cr_assert(state_now(as, "both") == OK && state_now(as, "top") == OK,
              "the reopened composites follow their children");
    owl_alarms_close(as);
}

/* History items are kept two weeks, as CloudWatch keeps them. */
Test(alarms, history_older_than_two_weeks_is_pruned, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    const int64_t now = owl_now_ms(), day = 86400000LL;
    owl_alarm_def d = hot_alarm();
    cr_assert_eq(owl_alarms_put(as, &d, now, &err), OWL_OK); /* one item now */
    for (int k = 0; k < 3; k++)
        cr_assert_eq(owl_alarms_add_history(as, "t1", "latency-high", "Action",
                                            now - (k ? 14 + k : 13) * day, "old", "", &err),
                     OWL_OK);
    cr_assert_eq(owl_alarms_add_history(as, "t2", "x", "Action", now - 20 * day, "old", "", &err),
                 OWL_OK);
    size_t removed = 99;
    cr_assert_eq(owl_alarms_prune_history(as, now, &removed, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(removed, 3, "15 and 16 days old in t1, 20 in t2");
    hist h = {0};
    owl_alarms_history(as, "t1", NULL, on_item, &h, &err);
    cr_assert_eq(h.n, 2, "the 13-day-old item and today's");
    owl_alarms_close(as);
}

/* Actions are webhook URLs or SNS topic ARNs (common/target.h), checked in each of the three
 * lists; the message names the list, the value and the rule. */
Test(alarm_def, actions_are_webhooks_or_sns_topics)
{
    owl_error err = {0};
    static const char *const good[] = {"https://hooks.example.com/a?b=c",
                                       "arn:aws:sns:us-east-1:123456789012:ops",
                                       "arn:aws-cn:sns:cn-north-1:123456789012:ops.fifo"};
    owl_alarm_def d = hot_alarm();
    d.actions[OK] = good, d.nactions[OK] = 3;
    cr_assert_eq(owl_alarm_def_check(&d, &err), OWL_OK, "%s", err.msg);
    static const struct {
        const char *action, *want;
    } bad[] = {
        {"ftp://example.com/x", "owl supports webhook URLs (http://, https://)"},
        {"arn:aws:automate:us-east-1:ec2:stop", "not automate ARNs"},
        {"arn:aws:lambda:us-east-1:123456789012:function:f", "not lambda ARNs"},
        {"arn:aws:sns:us-east-1:123456789012:a.b", "not an SNS topic name"},
        {"arn:aws:sns:us-east-1:1234:ops", "12 digits"},
        {"http:///path", "without a host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int k = 0; k < 3; k++) {
            const char *one[] = {bad[i].action};
            d = hot_alarm();
            d.actions[k] = one, d.nactions[k] = 1;
            cr_assert_eq(owl_alarm_def_check(&d, &err), OWL_EINVAL, "%s", bad[i].action);
            cr_assert(strstr(err.msg, bad[i].want), "%s lacks %s", err.msg, bad[i].want);
            cr_assert(strstr(err.msg, k == OK ? "OKActions" : k == AL ? "AlarmActions"
                                                                      : "InsufficientDataActions"),
                      "%s", err.msg);
        }
    }
    char long_url[OWL_TARGET_MAX + 2];
    memset(long_url, 'a', sizeof long_url - 1);
    memcpy(long_url, "http://h/", 9);
    long_url[sizeof long_url - 1] = '\0';
    const char *one[] = {long_url};
    d = hot_alarm();
    d.actions[AL] = one, d.nactions[AL] = 1;
    cr_assert_eq(owl_alarm_def_check(&d, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "longer than 1024") && strstr(err.msg, "...'"), "%s", err.msg);
    long_url[OWL_TARGET_MAX] = '\0';
    cr_assert_eq(owl_alarm_def_check(&d, &err), OWL_OK, "1024 characters are fine: %s", err.msg);
}

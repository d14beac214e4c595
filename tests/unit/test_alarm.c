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
    owl_alarms_add_hook(as, on_change, &ch);
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
    /* SetAlarmState holds until the next evaluation (the next period) decides otherwise */
    cr_assert_eq(owl_alarms_set_state(as, "t1", "latency-high", AL, "testing", NULL, base + 31000,
                                      &err),
                 OWL_OK);
    cr_assert(ch.n == 3 && ch.last_new == AL);
    cr_assert_eq(owl_alarms_tick(as, base + 32000, &err), OWL_OK);
    cr_assert(ch.n == 3, "held within the period");
    cr_assert_eq(owl_alarms_tick(as, base + 40000, &err), OWL_OK);
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
    owl_alarms_add_hook(as, on_change, &ch);
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

/* ---- recent buckets (analytics/recent.c): what the evaluator reads ---- */

typedef struct seen {
    owl_bucket b[16];
    int present[16];
    double p50[16];
} seen;

static void on_bucket(void *ud, size_t k, const owl_bucket *b)
{
    seen *s = ud;
    cr_assert(k < 16);
    s->present[k] = 1;
    s->b[k] = *b;
    owl_stat st;
    owl_stat_parse("p50", &st, NULL);
    if (owl_stat_eval(&st, b, &s->p50[k]) != OWL_OK)
        s->p50[k] = -1;
    s->b[k].sketch = NULL;
}

/* The watch's buckets over [start, start + n periods) are the store's, figure by figure. */
static void same_as_store(owl_watch *w, const owl_metric_id *id, int64_t start, size_t n,
                          int64_t now)
{
    seen s = {0};
    owl_watch_visit(E.m, w, start, n, on_bucket, &s);
    owl_metric_query q = {.tenant = "t1", .id = *id, .start_ms = start,
                          .end_ms = start + (int64_t)n * 10000, .period_s = 10, .now_ms = now};
    owl_bucket_set bs;
    owl_error err = {0};
    cr_assert_eq(owl_metrics_read(E.m, &q, &bs, &err), OWL_OK, "%s", err.msg);
    size_t found = 0;
    for (size_t k = 0; k < n; k++) {
        const owl_bucket *b = NULL;
        for (size_t i = 0; i < bs.n; i++)
            if (bs.b[i].time_ms == start + (int64_t)k * 10000)
                b = &bs.b[i];
        cr_assert_eq(s.present[k], b != NULL, "period %zu: watch %d, store %d", k,
                     s.present[k], b != NULL);
        if (!b)
            continue;
        found++;
        cr_assert(s.b[k].count == b->count && s.b[k].sum == b->sum && s.b[k].min == b->min &&
                      s.b[k].max == b->max,
                  "period %zu: watch %g/%g/%g/%g, store %g/%g/%g/%g", k, s.b[k].count,
                  s.b[k].sum, s.b[k].min, s.b[k].max, b->count, b->sum, b->min, b->max);
        owl_stat st;
        double v;
        owl_stat_parse("p50", &st, NULL);
        cr_assert_eq(owl_stat_eval(&st, b, &v), OWL_OK);
        cr_assert_eq(s.p50[k], v, "period %zu p50: watch %g, store %g", k, s.p50[k], v);
    }
    cr_assert(found > 0, "the comparison saw data");
    owl_bucket_set_free(&bs);
}

Test(recent, a_watch_holds_what_the_store_holds, .init = setup, .fini = teardown)
{
    const owl_metric_id id = {"App", "Latency", host, 1};
    const int64_t base = owl_now_ms() / 60000 * 60000 - 600000;
    double v[5] = {3, 1, 4, 1, 5};
    /* before the watch: three periods */
    for (int i = 0; i < 3; i++)
        put_values(base + i * 10000 + 2000, v, 1 + (size_t)i);
    owl_watch *w = NULL, *wu = NULL, *wnew = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_metrics_watch(E.m, "t1", &id, NULL, 10, 6, 1, &w, &err), OWL_OK);
    cr_assert_eq(owl_metrics_watch(E.m, "t1", &id, "Seconds", 10, 6, 0, &wu, &err), OWL_OK);
    const owl_metric_id fresh = {"App", "NotYet", host, 1};
    cr_assert_eq(owl_metrics_watch(E.m, "t1", &fresh, NULL, 10, 6, 1, &wnew, &err), OWL_OK);
    int64_t now = base + 35000;
    cr_assert_eq(owl_metrics_watch_sync(E.m, now, &err), OWL_OK, "%s", err.msg);
    uint64_t g0 = owl_watch_gen(E.m, w);
    same_as_store(w, &id, base, 4, now);
    /* after: the current period, a late one inside the range, values with a sketch */
    put_values(base + 31000, v, 5);
    put_values(base + 5000, v + 2, 2);
    cr_assert_neq(owl_watch_gen(E.m, w), g0, "a put moves the generation");
    same_as_store(w, &id, base, 4, now);
    /* a datapoint far ahead is not folded; its period, once within reach, is read again */
    owl_datum d = {.id = id, .time_ms = base + 90000, .resolution = 1, .values = v,
                   .nvalues = 1};
    enum owl_metric_fault f;
    cr_assert_eq(owl_metrics_put(E.m, "t1", &d, 1, 0, now, &f, &err), OWL_OK, "%s", err.msg);
    now = base + 85000;
    cr_assert_eq(owl_metrics_watch_sync(E.m, now, &err), OWL_OK);
    same_as_store(w, &id, base + 30000, 7, now);
    /* the unit watch sees no datapoint of another unit */
    seen s = {0};
    owl_watch_visit(E.m, wu, base, 10, on_bucket, &s);
    for (int k = 0; k < 10; k++)
        cr_assert(!s.present[k], "period %d holds no Seconds", k);
    /* a series that appears after its watch is found at the next sync */
    owl_datum nd = {.id = fresh, .time_ms = base + 80000, .resolution = 1, .values = v,
                    .nvalues = 1};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &nd, 1, 0, now, &f, &err), OWL_OK);
    memset(&s, 0, sizeof s);
    owl_watch_visit(E.m, wnew, base + 80000, 1, on_bucket, &s);
    cr_assert(!s.present[0], "not bound before the sync");
    cr_assert_eq(owl_metrics_watch_sync(E.m, now, &err), OWL_OK);
    owl_watch_visit(E.m, wnew, base + 80000, 1, on_bucket, &s);
    cr_assert(s.present[0] && s.b[0].sum == 3);
    /* and from then on it is fed by the puts */
    put_values(base + 81000, v, 1);
    owl_datum nd2 = {.id = fresh, .time_ms = base + 82000, .resolution = 1, .values = v + 4,
                     .nvalues = 1};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &nd2, 1, 0, now, &f, &err), OWL_OK);
    memset(&s, 0, sizeof s);
    owl_watch_visit(E.m, wnew, base + 80000, 1, on_bucket, &s);
    cr_assert(s.present[0] && s.b[0].count == 2 && s.b[0].sum == 8);
    owl_metrics_unwatch(E.m, w);
    owl_metrics_unwatch(E.m, wu);
    owl_metrics_unwatch(E.m, wnew);
}

/* ---- ActionsSuppressor, evidence, hooks ---- */

typedef struct seen_changes {
    int n, deferred, with_actions;
    char last_name[256], last_evidence[256], last_action[300];
} seen_changes;

static void record(void *ud, const owl_alarm_change *ch)
{
    seen_changes *s = ud;
    s->n++;
    s->deferred += ch->deferred;
    if (ch->actions && ch->actions[0]) {
        s->with_actions++;
        snprintf(s->last_action, sizeof s->last_action, "%s%s", ch->deferred ? "deferred:" : "",
                 ch->name);
    }
    snprintf(s->last_name, sizeof s->last_name, "%s", ch->name);
    snprintf(s->last_evidence, sizeof s->last_evidence, "%s", ch->evidence ? ch->evidence : "");
}

static const char *suppressed_by(owl_alarms *as, const char *name);

typedef struct sup_ctx {
    const char *name;
    char by[32];
} sup_ctx;

static int sup_one(void *ud, const owl_alarm_view *v)
{
    sup_ctx *c = ud;
    if (!strcmp(v->def.name, c->name))
        snprintf(c->by, sizeof c->by, "%s", v->suppressed_by ? v->suppressed_by : "-");
    return 0;
}

static const char *suppressed_by(owl_alarms *as, const char *name)
{
    static sup_ctx c;
    c.name = name;
    c.by[0] = 0;
    owl_alarms_list(as, "t1", sup_one, &c);
    return c.by;
}

/* A child whose state SetAlarmState sets and the evaluator keeps (no data, ignore). */
static void quiet_child(owl_alarms *as, const char *name, int64_t now)
{
    owl_alarm_def d = hot_alarm();
    d.name = name;
    d.spec.missing = OWL_MISSING_IGNORE;
    d.nactions[AL] = 0;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_put(as, &d, now, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_set_state(as, "t1", name, OK, "t", NULL, now, &err), OWL_OK);
}

static void set(owl_alarms *as, const char *name, enum owl_alarm_state st, int64_t now)
{
    owl_error err = {0};
    cr_assert_eq(owl_alarms_set_state(as, "t1", name, st, "t", NULL, now, &err), OWL_OK, "%s",
                 err.msg);
}

/* The wait period holds ALARM actions back, then lets them go; a suppressor in ALARM holds
 * them until the extension period after it leaves ALARM; leaving ALARM drops them; a
 * suppression in force survives a restart. */
Test(alarms, actions_suppressor, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    seen_changes s = {0};
    cr_assert_eq(owl_alarms_add_hook(as, record, &s), OWL_OK);
    int64_t t = owl_now_ms();
    quiet_child(as, "a", t);
    quiet_child(as, "sup", t);
    static const char *const acts[] = {"http://127.0.0.1:9/main"};
    owl_alarm_def m = {.name = "main", .spec = {.tenant = "t1"}, .actions_enabled = 1,
                       .suppressor = "arn:aws:cloudwatch:us-east-1:t1:alarm:sup",
                       .suppressor_wait_s = 60, .suppressor_extension_s = 30};
    m.actions[AL] = acts, m.nactions[AL] = 1;
    owl_alarm_def bad = m;
    bad.suppressor = "nope";
    cr_assert_eq(owl_alarms_put_composite(as, &bad, "ALARM(a)", t, &err), OWL_EINVAL);
    cr_assert_eq(owl_alarms_put_composite(as, &m, "ALARM(a)", t, &err), OWL_OK, "%s", err.msg);
    /* the wait period runs out: the actions go, once */
    s = (seen_changes){0};
    set(as, "a", AL, t);
    cr_assert_eq(state_now(as, "main"), AL);
    cr_assert_eq(s.with_actions, 0, "held back");
    cr_assert_str_eq(suppressed_by(as, "main"), "WaitPeriod");
    cr_assert_eq(owl_alarms_tick(as, t + 30000, &err), OWL_OK);
    cr_assert_eq(s.with_actions, 0, "still waiting");
    cr_assert_eq(owl_alarms_tick(as, t + 61000, &err), OWL_OK);
    cr_assert(s.with_actions == 1 && s.deferred == 1, "%d %d", s.with_actions, s.deferred);
    cr_assert_str_eq(s.last_action, "deferred:main");
    cr_assert_str_eq(suppressed_by(as, "main"), "-");
    cr_assert_eq(owl_alarms_tick(as, t + 62000, &err), OWL_OK);
    cr_assert_eq(s.with_actions, 1, "once");
    /* the suppressor in ALARM: held until the extension after it leaves */
    t += 100000;
    set(as, "a", OK, t);
    set(as, "sup", AL, t);
    s = (seen_changes){0};
    set(as, "a", AL, t);
    cr_assert_str_eq(suppressed_by(as, "main"), "Alarm");
    cr_assert_eq(owl_alarms_tick(as, t + 90000, &err), OWL_OK);
    cr_assert_str_eq(suppressed_by(as, "main"), "Alarm", "no wait period while it is in ALARM");
    set(as, "sup", OK, t + 100000);
    cr_assert_str_eq(suppressed_by(as, "main"), "ExtensionPeriod");
    cr_assert_eq(owl_alarms_tick(as, t + 129000, &err), OWL_OK);
    cr_assert_eq(s.with_actions, 0);
    cr_assert_eq(owl_alarms_tick(as, t + 131000, &err), OWL_OK);
    cr_assert_eq(s.with_actions, 1, "the extension ran out");
    /* leaving ALARM drops what is held */
    t += 200000;
    set(as, "a", OK, t);
    s = (seen_changes){0};
    set(as, "a", AL, t);
    set(as, "a", OK, t + 1000);
    cr_assert_eq(owl_alarms_tick(as, t + 70000, &err), OWL_OK);
    cr_assert_eq(s.with_actions, 0, "dropped");
    /* a restart in the middle of a wait */
    t += 100000;
    set(as, "a", AL, t);
    cr_assert_str_eq(suppressed_by(as, "main"), "WaitPeriod");
    owl_alarms_close(as);
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    s = (seen_changes){0};
    cr_assert_eq(owl_alarms_add_hook(as, record, &s), OWL_OK);
    cr_assert_str_eq(suppressed_by(as, "main"), "WaitPeriod");
    cr_assert_eq(owl_alarms_tick(as, t + 61000, &err), OWL_OK);
    cr_assert(s.with_actions == 1 && s.deferred == 1, "released after the restart");
    hist h = {0};
    cr_assert_eq(owl_alarms_history(as, "t1", "main", on_item, &h, &err), OWL_OK);
    cr_assert(h.n >= 8, "the suppressions are in the history (%d items)", h.n);
    owl_alarms_close(as);
}

static int test_evidence(void *ud, const char *tenant, const owl_metric_id *id, int64_t start,
                         int64_t end, enum owl_alarm_state st, owl_buf *out)
{
    int *calls = ud;
    (*calls)++;
    cr_assert(end > start);
    owl_buf_printf(out, "{\"provider\":\"test\",\"tenant\":\"%s\",\"metric\":\"%s\",\"state\":\"%s\"}",
                   tenant, id->name, owl_alarm_state_name(st));
    return OWL_OK;
}

/* A registered provider's evidence reaches the hooks and the history; two hooks both hear. */
Test(alarms, evidence_and_two_hooks, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    seen_changes s1 = {0}, s2 = {0};
    cr_assert_eq(owl_alarms_add_hook(as, record, &s1), OWL_OK);
    cr_assert_eq(owl_alarms_add_hook(as, record, &s2), OWL_OK);
    int calls = 0, other = 0;
    cr_assert_eq(owl_alarms_add_evidence(as, "Other", test_evidence, &other, &err), OWL_OK);
    cr_assert_eq(owl_alarms_add_evidence(as, "App", test_evidence, &calls, &err), OWL_OK);
    const int64_t base = owl_now_ms() / 60000 * 60000 - 120000;
    owl_alarm_def d = hot_alarm();
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_OK, "%s", err.msg);
    double hi = 250;
    put_values(base + 1000, &hi, 1);
    put_values(base + 11000, &hi, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 20000, &err), OWL_OK, "%s", err.msg);
    cr_assert(calls == 1 && other == 0, "the App provider answered (%d, %d)", calls, other);
    cr_assert(s1.n == 1 && s2.n == 1, "both hooks heard");
    cr_assert(strstr(s1.last_evidence, "\"provider\":\"test\"") &&
                  strstr(s1.last_evidence, "\"state\":\"ALARM\""),
              "%s", s1.last_evidence);
    hist h = {0};
    cr_assert_eq(owl_alarms_history(as, "t1", "latency-high", on_item, &h, &err), OWL_OK);
    cr_assert(strstr(h.last_data, "\"evidence\":{\"provider\":\"test\""), "%s", h.last_data);
    owl_alarms_remove_hook(as, record, &s2);
    double lo = 1;
    put_values(base + 21000, &lo, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 30000, &err), OWL_OK);
    cr_assert(s1.n == 2 && s2.n == 1, "a removed hook hears nothing");
    owl_alarms_close(as);
}

/* ---- metric-math alarms ---- */

static owl_alarm_def math_alarm(owl_mquery *qs, size_t n)
{
    owl_alarm_def d = hot_alarm();
    d.name = "math";
    d.spec.id = (owl_metric_id){"", "", NULL, 0};
    d.metrics = qs;
    d.nmetrics = n;
    d.spec.threshold = 300; /* 2 x max > 300 */
    return d;
}

/* An alarm on "2 * m1": ALARM when the expression breaches, back to OK, the same after a
 * restart; the Metrics rules (one ReturnData, known ids, no cycle, one period) enforced. */
Test(alarms, metric_math, .init = setup, .fini = teardown)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    changes ch = {0};
    owl_alarms_add_hook(as, on_change, &ch);
    owl_mquery qs[2] = {
        {.id = "m1", .return_data = 0, .period_s = 10, .metric = {"App", "Latency", host, 1}},
        {.id = "e1", .expr = "2 * m1", .return_data = 1, .label = "doubled"},
    };
    cr_assert_eq(owl_stat_parse("Maximum", &qs[0].stat, NULL), OWL_OK);
    const int64_t base = owl_now_ms() / 60000 * 60000 - 120000;
    owl_alarm_def d = math_alarm(qs, 2);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_OK, "%s", err.msg);
    double v = 200; /* 400 > 300 */
    put_values(base + 1000, &v, 1);
    put_values(base + 11000, &v, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 20000, &err), OWL_OK, "%s", err.msg);
    cr_assert(ch.n == 1 && ch.last_new == AL, "%d %s", ch.n, ch.last_reason);
    cr_assert(strstr(ch.last_reason, "[400.0"), "%s", ch.last_reason);
    owl_alarms_close(as);
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    ch = (changes){0};
    owl_alarms_add_hook(as, on_change, &ch);
    v = 100; /* 200 */
    put_values(base + 21000, &v, 1);
    put_values(base + 31000, &v, 1);
    cr_assert_eq(owl_alarms_tick(as, base + 40000, &err), OWL_OK, "%s", err.msg);
    cr_assert(ch.n == 1 && ch.last_new == OK, "after a restart: %d", ch.n);
    /* the rules */
    owl_mquery bad[3];
    memcpy(bad, qs, sizeof qs);
    bad[0].return_data = 1;
    d = math_alarm(bad, 2);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "ReturnData"), "%s", err.msg);
    memcpy(bad, qs, sizeof qs);
    bad[1].expr = "2 * m9";
    d = math_alarm(bad, 2);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "m9"), "%s", err.msg);
    memcpy(bad, qs, sizeof qs);
    bad[1].expr = "e2 + m1";
    bad[2] = (owl_mquery){.id = "e2", .expr = "e1 * 2"};
    d = math_alarm(bad, 3);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "refers to itself"), "%s", err.msg);
    memcpy(bad, qs, sizeof qs);
    bad[0].period_s = 60;
    d = math_alarm(bad, 2);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "period"), "%s", err.msg);
    memcpy(bad, qs, sizeof qs);
    bad[1].expr = "2 *";
    d = math_alarm(bad, 2);
    cr_assert_eq(owl_alarms_put(as, &d, base, &err), OWL_EINVAL);
    owl_alarms_close(as);
}

/* ---- concurrency: puts, the evaluator, alarms made and deleted, all at once ---- */

#include <pthread.h>

typedef struct putter {
    int k;
    int64_t base;
    volatile int *stop;
} putter;

static void *put_loop(void *arg)
{
    putter *p = arg;
    for (int i = 0; !*p->stop && i < 4000; i++) {
        char v[16];
        snprintf(v, sizeof v, "s%d", i % 20);
        owl_dim dim = {"host", v};
        double x = (double)(i % 7) * 10 + p->k;
        /* now and then a late datapoint, inside the alarms' ranges */
        int64_t t = owl_now_ms() - (i % 5 == 0 ? 15000 : 0);
        owl_datum d = {.id = {"Conc", "Load", &dim, 1}, .time_ms = t, .resolution = 1,
                       .values = &x, .nvalues = 1};
        enum owl_metric_fault f;
        owl_error err = {0};
        cr_assert_eq(owl_metrics_put(E.m, "t1", &d, 1, 0, owl_now_ms(), &f, &err), OWL_OK, "%s",
                     err.msg);
    }
    return NULL;
}

/* Two threads put while the evaluator runs and alarms come and go; afterwards each alarm's
 * watch gives the verdict a store read gives, figure for figure: no datapoint was counted
 * twice or missed while watches were filled. */
Test(alarms, concurrent_puts_and_evaluation, .init = setup, .fini = teardown, .timeout = 60)
{
    owl_alarms *as = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarms_open(E.meta, E.m, &as, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_start(as, &err), OWL_OK);
    volatile int stop = 0;
    putter ps[2] = {{1, 0, &stop}, {2, 0, &stop}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, put_loop, &ps[i]);
    char names[20][16];
    owl_dim dims[20];
    owl_watch *ws[20];
    for (int i = 0; i < 20; i++) { /* watches made and filled while the puts run */
        snprintf(names[i], sizeof names[i], "s%d", i);
        dims[i] = (owl_dim){"host", names[i]};
        owl_metric_id id = {"Conc", "Load", &dims[i], 1};
        cr_assert_eq(owl_metrics_watch(E.m, "t1", &id, NULL, 10, 5, 0, &ws[i], &err), OWL_OK);
        cr_assert_eq(owl_metrics_watch_sync(E.m, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    }
    for (int round = 0; round < 6; round++)
        for (int i = 0; i < 20; i++) {
            snprintf(names[i], sizeof names[i], "s%d", i);
            dims[i] = (owl_dim){"host", names[i]};
            owl_alarm_def d = hot_alarm();
            d.name = names[i];
            d.spec.id = (owl_metric_id){"Conc", "Load", &dims[i], 1};
            d.spec.threshold = 40;
            d.spec.eval_periods = 3;
            d.spec.datapoints_to_alarm = 1;
            if (round % 2 && i % 3 == 0) {
                const char *n = names[i];
                owl_alarms_delete(as, "t1", &n, 1, &err);
            }
            cr_assert_eq(owl_alarms_put(as, &d, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
            struct timespec ms = {0, 5 * 1000000L};
            nanosleep(&ms, NULL);
        }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int64_t now = owl_now_ms();
    cr_assert_eq(owl_metrics_watch_sync(E.m, now, &err), OWL_OK, "%s", err.msg);
    owl_stat st;
    owl_stat_parse("Average", &st, NULL);
    for (int i = 0; i < 20; i++) {
        owl_alarm_spec spec = {.tenant = "t1", .id = {"Conc", "Load", &dims[i], 1}, .stat = st,
                               .period_s = 10, .eval_periods = 3, .datapoints_to_alarm = 1,
                               .cmp = OWL_CMP_GT, .threshold = 40};
        owl_watch *w = ws[i];
        owl_alarm_range r1, r2;
        owl_alarm_verdict v1, v2;
        cr_assert_eq(owl_alarm_evaluate_watch(E.m, w, &spec, now, OK, &r1, &v1, &err), OWL_OK);
        cr_assert_eq(owl_alarm_evaluate_metric(E.m, &spec, now, OK, &r2, &v2, &err), OWL_OK);
        for (size_t k = 0; k < r1.n; k++)
            cr_assert(r1.p[k].present == r2.p[k].present && r1.p[k].value == r2.p[k].value,
                      "series %d period %zu: watch %d %g, store %d %g", i, k, r1.p[k].present,
                      r1.p[k].value, r2.p[k].present, r2.p[k].value);
        owl_metrics_unwatch(E.m, w);
    }
    owl_alarm_stats stt;
    owl_alarms_stats(as, &stt);
    cr_assert(stt.ticks > 0 && stt.metric_alarms == 20, "%llu ticks, %zu alarms",
              (unsigned long long)stt.ticks, stt.metric_alarms);
    owl_alarms_close(as);
}

static void count_wake(void *ud) { (*(int *)ud)++; }

/* A put that registers the series a watch waits for wakes the evaluator (it binds the watch
 * at once instead of at its next whole-second tick); one that registers only series nobody
 * watches, or feeds nothing, does not. */
Test(recent, a_new_series_someone_waits_for_wakes, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    int woken = 0;
    owl_metrics_set_wake(E.m, count_wake, &woken);
    static const owl_dim d_new[] = {{"host", "new"}}, d_other[] = {{"host", "other"}};
    owl_metric_id want = {"Fresh", "Load", d_new, 1};
    owl_watch *w = NULL;
    cr_assert_eq(owl_metrics_watch(E.m, "t1", &want, NULL, 10, 3, 0, &w, &err), OWL_OK);
    cr_assert_eq(owl_metrics_watch_sync(E.m, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    int64_t t = owl_now_ms();
    double v = 1;
    enum owl_metric_fault f;
    owl_datum other = {.id = {"Fresh", "Load", d_other, 1}, .time_ms = t, .resolution = 1,
                       .values = &v, .nvalues = 1};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &other, 1, 0, t, &f, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(woken, 1, "a new series while a watch is unbound: %d", woken);
    /* the watch is still unbound, so a second new series wakes again; then bind it */
    cr_assert_eq(owl_metrics_watch_sync(E.m, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    owl_datum mine = {.id = want, .time_ms = t, .resolution = 1, .values = &v, .nvalues = 1};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &mine, 1, 0, t, &f, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(woken, 2, "the series the watch waits for was registered: %d", woken);
    cr_assert_eq(owl_metrics_watch_sync(E.m, owl_now_ms(), &err), OWL_OK, "%s", err.msg);
    /* every watch bound: another new series wakes nobody, a fed watch does */
    static const owl_dim d_third[] = {{"host", "third"}};
    owl_datum third = {.id = {"Fresh", "Load", d_third, 1}, .time_ms = t, .resolution = 1,
                       .values = &v, .nvalues = 1};
    cr_assert_eq(owl_metrics_put(E.m, "t1", &third, 1, 0, t, &f, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(woken, 2, "no watch waits, no wake: %d", woken);
    cr_assert_eq(owl_metrics_put(E.m, "t1", &mine, 1, 0, t, &f, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(woken, 3, "a put that feeds the bound watch wakes: %d", woken);
    owl_metrics_set_wake(E.m, NULL, NULL);
    owl_metrics_unwatch(E.m, w);
}

/* Many watches of a tenant are filled by one scan of the raw level: the same buckets as a
 * read each, for every series, unit filter and sketch included. */
Test(recent, many_watches_filled_by_one_scan, .init = setup, .fini = teardown)
{
    enum { NS = 100 };
    static char names[NS][16];
    static owl_dim dims[NS];
    static owl_datum ds[NS * 12];
    static double vals[3] = {2, 7, 1};
    const int64_t now = owl_now_ms(), base = now / 10000 * 10000 - 60000;
    size_t n = 0;
    for (int i = 0; i < NS; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        dims[i] = (owl_dim){"id", names[i]};
        for (int k = 0; k < 12; k++)
            ds[n++] = (owl_datum){.id = {"Many", "V", &dims[i], 1},
                                  .time_ms = base + k * 5000 + i, .resolution = 1,
                                  .unit = k % 4 ? "Seconds" : "Count", .values = vals,
                                  .nvalues = 1 + (size_t)(k % 3)};
    }
    enum owl_metric_fault f;
    owl_error err = {0};
    cr_assert_eq(owl_metrics_put(E.m, "t1", ds, n, 0, now, &f, &err), OWL_OK, "%s", err.msg);
    static owl_watch *ws[NS], *wu[NS];
    for (int i = 0; i < NS; i++) {
        owl_metric_id id = {"Many", "V", &dims[i], 1};
        cr_assert_eq(owl_metrics_watch(E.m, "t1", &id, NULL, 10, 6, 1, &ws[i], &err), OWL_OK);
        cr_assert_eq(owl_metrics_watch(E.m, "t1", &id, "Seconds", 10, 6, 1, &wu[i], &err),
                     OWL_OK);
    }
    cr_assert_eq(owl_metrics_watch_sync(E.m, now, &err), OWL_OK, "%s", err.msg);
    for (int i = 0; i < NS; i++) {
        owl_metric_id id = {"Many", "V", &dims[i], 1};
        same_as_store(ws[i], &id, now / 10000 * 10000 - 60000, 6, now);
        seen s = {0};
        owl_watch_visit(E.m, wu[i], base, 6, on_bucket, &s);
        size_t count = 0;
        for (int k = 0; k < 6; k++)
            count += s.present[k] ? (size_t)s.b[k].count : 0;
        cr_assert_eq(count, 9 * 2, "series %d: the Seconds datapoints' values (%zu)", i, count);
    }
    for (int i = 0; i < NS; i++) {
        owl_metrics_unwatch(E.m, ws[i]);
        owl_metrics_unwatch(E.m, wu[i]);
    }
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

/* test_alarm.c — analytics/alarm.c: every row of CloudWatch's two tables of how an alarm is
 * evaluated when data is missing (3 of 3, and 2 of 3, each over a range of 5 periods), under
 * each TreatMissingData setting; late data; percentiles with low sample counts; each
 * comparison operator; the parsers. */
#include <criterion/criterion.h>
#include <string.h>

#include "analytics/analytics.h"

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

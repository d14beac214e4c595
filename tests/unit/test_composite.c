/* test_composite.c — analytics/composite.c: every construct of a composite alarm rule,
 * precedence, quoted names and ARNs, "ALARM(a) AND NOT OK(b)" through all nine pairs of child
 * states against a hand-written table, the limits, and malformed rules with the position
 * each error names. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/composite.h"

enum { OK = OWL_CRULE_OK, AL = OWL_CRULE_ALARM, IN = OWL_CRULE_INSUFFICIENT_DATA };

/* The children's states: names[k] is in states[k]; any other name is unknown. */
typedef struct world {
    const char *names[4];
    int states[4];
    int asked;
} world;

static int state_of(void *ud, const char *name)
{
    world *w = ud;
    w->asked++;
    for (int k = 0; k < 4 && w->names[k]; k++)
        if (!strcmp(w->names[k], name))
            return w->states[k];
    return OWL_CRULE_UNKNOWN;
}

static owl_crule *parse(const char *text)
{
    owl_crule *r = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_crule_parse(text, &r, &err), OWL_OK, "%.60s: %s", text, err.msg);
    cr_assert_not_null(r);
    return r;
}

/* Evaluates text with a, b and c in the given states. */
static int eval3(const char *text, int a, int b, int c)
{
    owl_crule *r = parse(text);
    world w = {{"a", "b", "c"}, {a, b, c}, 0};
    int v = owl_crule_eval(r, state_of, &w);
    owl_crule_free(r);
    return v;
}

static int eval0(const char *text)
{
    return eval3(text, OK, OK, OK);
}

Test(composite, literals_and_operators)
{
    cr_assert_eq(eval0("TRUE"), 1);
    cr_assert_eq(eval0("FALSE"), 0);
    cr_assert_eq(eval0("NOT TRUE"), 0);
    cr_assert_eq(eval0("NOT FALSE"), 1);
    cr_assert_eq(eval0("NOT NOT TRUE"), 1);
    cr_assert_eq(eval0("NOT(FALSE)"), 1);
    cr_assert_eq(eval0("TRUE AND FALSE"), 0);
    cr_assert_eq(eval0("TRUE AND TRUE AND TRUE"), 1);
    cr_assert_eq(eval0("FALSE OR FALSE"), 0);
    cr_assert_eq(eval0("FALSE OR FALSE OR TRUE"), 1);
    cr_assert_eq(eval0("(FALSE)"), 0);
    cr_assert_eq(eval0("((TRUE))"), 1);
    cr_assert_eq(eval0("(TRUE)AND(TRUE)"), 1);
    cr_assert_eq(eval0("\t TRUE\r\n AND\nNOT\fFALSE \v"), 1);
}

Test(composite, state_functions)
{
    static const struct {
        const char *text;
        int want[3]; /* a in OK, ALARM, INSUFFICIENT_DATA */
    } cases[] = {
        {"ALARM(a)", {0, 1, 0}},
        {"OK(a)", {1, 0, 0}},
        {"INSUFFICIENT_DATA(a)", {0, 0, 1}},
        {"ALARM ( a )", {0, 1, 0}},
        {"ALARM(\"a\")", {0, 1, 0}},
        {"NOT ALARM(a)", {1, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 3; s++)
            cr_assert_eq(eval3(cases[i].text, s, OK, OK), cases[i].want[s], "%s with a in %d",
                         cases[i].text, s);
}

/* ALARM(a) AND NOT OK(b), worked out by hand: true only when a is in ALARM and b is not OK. */
Test(composite, truth_table_all_nine_pairs)
{
    static const int want[3][3] = {
        /*            b: OK  ALARM  INSUFFICIENT_DATA */
        /* a OK    */ {0, 0, 0},
        /* a ALARM */ {0, 1, 1},
        /* a INSUF */ {0, 0, 0},
    };
    owl_crule *r = parse("ALARM(a) AND NOT OK(b)");
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            world w = {{"a", "b"}, {a, b}, 0};
            cr_assert_eq(owl_crule_eval(r, state_of, &w), want[a][b], "a=%d b=%d", a, b);
        }
    owl_crule_free(r);
}

Test(composite, precedence)
{
    /* NOT before AND before OR: ((NOT a) AND b) OR c */
    for (int m = 0; m < 8; m++) {
        int a = m & 1, b = (m >> 1) & 1, c = (m >> 2) & 1;
        int v = eval3("NOT ALARM(a) AND ALARM(b) OR ALARM(c)", a ? AL : OK, b ? AL : OK,
                      c ? AL : OK);
        cr_assert_eq(v, (!a && b) || c, "a=%d b=%d c=%d", a, b, c);
    }
    /* the cases where the wrong grouping answers differently */
    cr_assert_eq(eval3("NOT ALARM(a) AND ALARM(b)", AL, OK, OK), 0);      /* NOT (a AND b) = 1 */
    cr_assert_eq(eval3("ALARM(a) OR ALARM(b) AND ALARM(c)", AL, OK, OK), 1); /* (a OR b) AND c = 0 */
    cr_assert_eq(eval3("(ALARM(a) OR ALARM(b)) AND ALARM(c)", AL, OK, OK), 0);
    cr_assert_eq(eval3("ALARM(a) AND ALARM(b) OR ALARM(c)", OK, OK, AL), 1); /* a AND (b OR c) = 0 */
    cr_assert_eq(eval3("NOT (ALARM(a) AND ALARM(b))", AL, OK, OK), 1);
}

Test(composite, quoted_names_and_arns)
{
    owl_crule *r = parse("ALARM(\"High CPU (prod)\") OR OK(\"db, replica\") OR "
                         "ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high) OR "
                         "ALARM(\"arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:Disk Full\") OR "
                         "OK(my-alarm.v2/cpu:p99) OR ALARM(AND) OR INSUFFICIENT_DATA(\"é 1\")");
    const char **names;
    cr_assert_eq(owl_crule_refs(r, &names), 7);
    const char *want[] = {"High CPU (prod)", "db, replica", "cpu-high", "Disk Full",
                          "my-alarm.v2/cpu:p99", "AND", "é 1"};
    for (int k = 0; k < 7; k++)
        cr_assert_str_eq(names[k], want[k]);
    owl_crule_free(r);

    /* state_of is asked by name, never by ARN */
    r = parse("ALARM(arn:aws:cloudwatch:eu-west-1:123456789012:alarm:disk) AND OK(\"b c\")");
    world w = {{"disk", "b c"}, {AL, OK}, 0};
    cr_assert_eq(owl_crule_eval(r, state_of, &w), 1);
    w.states[0] = OK;
    cr_assert_eq(owl_crule_eval(r, state_of, &w), 0);
    owl_crule_free(r);
}

Test(composite, refs_are_distinct)
{
    owl_crule *r = parse("ALARM(a) AND (OK(b) OR ALARM(a)) OR "
                         "INSUFFICIENT_DATA(arn:aws:cloudwatch:us-east-1:123456789012:alarm:b) OR "
                         "ALARM(\"c d\") OR NOT OK(\"a\")");
    const char **names = NULL;
    cr_assert_eq(owl_crule_refs(r, &names), 3);
    cr_assert_str_eq(names[0], "a");
    cr_assert_str_eq(names[1], "b");
    cr_assert_str_eq(names[2], "c d");
    cr_assert_eq(owl_crule_refs(r, NULL), 3);
    cr_assert_eq(owl_crule_refers(r, "a"), 1);
    cr_assert_eq(owl_crule_refers(r, "c d"), 1);
    cr_assert_eq(owl_crule_refers(r, "c"), 0);
    cr_assert_eq(owl_crule_refers(r, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b"), 0);
    cr_assert_eq(owl_crule_refers(r, NULL), 0);
    owl_crule_free(r);

    r = parse("TRUE OR NOT FALSE");
    cr_assert_eq(owl_crule_refs(r, &names), 0);
    cr_assert_eq(owl_crule_refers(r, "a"), 0);
    owl_crule_free(r);
}

Test(composite, unknown_children_are_insufficient_data)
{
    cr_assert_eq(eval0("INSUFFICIENT_DATA(ghost)"), 1);
    cr_assert_eq(eval0("ALARM(ghost) OR OK(ghost)"), 0);
    owl_crule *r = parse("INSUFFICIENT_DATA(a)");
    cr_assert_eq(owl_crule_eval(r, NULL, NULL), 1);
    world w = {{"a"}, {7}, 0}; /* out of range reads as INSUFFICIENT_DATA too */
    cr_assert_eq(owl_crule_eval(r, state_of, &w), 1);
    owl_crule_free(r);
    cr_assert_eq(owl_crule_eval(NULL, state_of, &w), 0);
    owl_crule_free(NULL);
}

Test(composite, and_or_stop_early)
{
    owl_crule *r = parse("ALARM(a) AND ALARM(b) AND ALARM(c)");
    world w = {{"a", "b", "c"}, {OK, AL, AL}, 0};
    cr_assert_eq(owl_crule_eval(r, state_of, &w), 0);
    cr_assert_eq(w.asked, 1);
    owl_crule_free(r);
}

/* Builds n references "ALARM(a) OR ALARM(a) OR ..." (12 characters each but the last). */
static char *refs_rule(int n)
{
    char *s = malloc((size_t)n * 12 + 1);
    s[0] = '\0';
    for (int k = 0; k < n; k++)
        strcat(s, k ? " OR ALARM(a)" : "ALARM(a)");
    return s;
}

static char *repeat(const char *head, int n, const char *mid, const char *tail, int m)
{
    size_t l = strlen(head) * n + strlen(mid) + strlen(tail) * m + 1;
    char *s = malloc(l);
    s[0] = '\0';
    for (int k = 0; k < n; k++)
        strcat(s, head);
    strcat(s, mid);
    for (int k = 0; k < m; k++)
        strcat(s, tail);
    return s;
}

/* 39 references OK("é...é") of 256 characters (250 é) joined by " OR ", padded with spaces
 * to 10240 + extra characters: 10240 + extra characters, 19990 + extra bytes. */
static char *wide_rule(int extra)
{
    char *s = malloc(20000 + (size_t)extra + 1), *p = s;
    for (int k = 0; k < 39; k++) {
        p += sprintf(p, "%sOK(\"", k ? " OR " : "");
        for (int e = 0; e < 250; e++)
            p += sprintf(p, "é");
        p += sprintf(p, "\")");
    }
    size_t pad = 10240 - (39 * 256 + 38 * 4) + (size_t)extra;
    memset(p, ' ', pad);
    p[pad] = '\0';
    return s;
}

static void good(char *text)
{
    owl_crule_free(parse(text));
    free(text);
}

static void bad(const char *text, size_t want_pos, const char *needle)
{
    owl_crule *r = (owl_crule *)1;
    owl_error err = {0};
    cr_assert_eq(owl_crule_parse(text, &r, &err), OWL_EINVAL, "%.60s parsed", text);
    cr_assert_null(r);
    cr_assert_eq(err.code, OWL_EINVAL);
    char at[32];
    snprintf(at, sizeof at, "at %zu: ", want_pos);
    cr_assert(!strncmp(err.msg, at, strlen(at)), "%.60s: want %s, got %s", text, at, err.msg);
    cr_assert(strstr(err.msg, needle), "%.60s: %s", text, err.msg);
}

static void bad_owned(char *text, size_t want_pos, const char *needle)
{
    bad(text, want_pos, needle);
    free(text);
}

Test(composite, malformed)
{
    bad("", 1, "expected ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE, NOT or '(', found the end");
    bad("   ", 4, "found the end of the rule");
    bad("(ALARM(a)", 10, "expected AND, OR or ')', found the end of the rule");
    bad("ALARM(a))", 9, "expected AND, OR or the end of the rule, found ')'");
    bad("TRUE AND (FALSE OR )", 20, "found ')'");
    bad("ALARM a", 7, "expected '(' after ALARM, found 'a'");
    bad("ALARM", 6, "expected '(' after ALARM, found the end");
    bad("OK(a", 5, "expected ')' after the alarm name, found the end");
    bad("ALARM(a) AND", 13, "found the end of the rule");
    bad("ALARM(a) AND OR ALARM(b)", 14, "found 'OR'");
    bad("NOT", 4, "found the end of the rule");
    bad("FOO(a)", 1, "unknown function 'FOO'");
    bad("ALARM(a) OR Alarm (b)", 13, "keywords are upper case: write ALARM, not 'Alarm'");
    bad("ALARM(a) and ALARM(b)", 10, "keywords are upper case: write AND, not 'and'");
    bad("(TRUE or FALSE)", 7, "write OR");
    bad("true", 1, "write TRUE");
    bad("ALARM(a) ALARM(b)", 10, "expected AND, OR or the end of the rule, found 'ALARM'");
    bad("ALARM(a) & ALARM(b)", 10, "found '&'");
    bad("ALARM(\"a b)", 7, "the quoted alarm name is not closed");
    bad("ALARM(a b)", 9, "expected ')' after the alarm name (quote names with spaces), found 'b'");
    bad("ALARM()", 7, "expected an alarm name or ARN, found ')'");
    bad("ALARM(\"\")", 7, "the alarm name is empty");
    bad("ALARM(a\x01)", 8, "found byte 0x01");
    bad("ALARM(arn:aws:sns:us-east-1:123456789012:topic)", 7, "malformed alarm ARN");
    bad("OK(arn:aws:cloudwatch:us-east-1:12x:alarm:a)", 4, "malformed alarm ARN");
    bad("OK(arn:aws:cloudwatch:us-east-1:123456789012:alarm:)", 4, "the alarm name is empty");
    /* positions count characters, not bytes: é is two bytes */
    bad("ALARM(\"héllo\") AND", 19, "found the end of the rule");
}

Test(composite, limits)
{
    /* nesting: 32 levels of "(" and NOT pass, the 33rd is refused where it opens */
    good(repeat("(", 32, "TRUE", ")", 32));
    bad_owned(repeat("(", 33, "TRUE", ")", 33), 33, "nests deeper than 32 levels");
    good(repeat("NOT ", 32, "TRUE", "", 0));
    bad_owned(repeat("NOT ", 33, "TRUE", "", 0), 129, "nests deeper than 32 levels");
    /* NOT ( NOT ( ...: the 33rd level is the 17th NOT */
    bad_owned(repeat("NOT (", 17, "TRUE", ")", 17), 16 * 5 + 1, "nests deeper");
    /* long chains are flat: no nesting */
    good(repeat("TRUE AND ", 1000, "TRUE", "", 0));

    /* text: 10240 characters pass, the 10241st is refused */
    good(repeat("TRUE", 1, "", " ", 10236));
    bad_owned(repeat("TRUE", 1, "", " ", 10237), 10241, "longer than 10240 characters");
    /* characters, not bytes: 10240 characters of which 9750 take two bytes pass */
    good(wide_rule(0));
    bad_owned(wide_rule(1), 10241, "longer than 10240 characters");

    /* references: 100 pass (repeats counted), the 101st is refused at its name */
    good(refs_rule(100));
    bad_owned(refs_rule(101), 12 * 100 + 7, "references more than 100 alarms");

    /* names: 255 characters pass, 256 do not */
    char name[300] = "ALARM(";
    memset(name + 6, 'n', 255);
    strcpy(name + 6 + 255, ")");
    good(strdup(name));
    memset(name + 6, 'n', 256);
    strcpy(name + 6 + 256, ")");
    bad(name, 7, "longer than 255 characters");
}

Test(composite, null_arguments)
{
    owl_crule *r = (owl_crule *)1;
    owl_error err = {0};
    cr_assert_eq(owl_crule_parse(NULL, &r, &err), OWL_EINVAL);
    cr_assert_null(r);
    cr_assert_eq(owl_crule_parse("TRUE", NULL, NULL), OWL_EINVAL);
    cr_assert_eq(owl_crule_refs(NULL, NULL), 0);
}

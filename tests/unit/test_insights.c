/* test_insights.c — index/insights_*.c: CloudWatch Logs Insights queries. The parser (valid
 * queries, and malformed ones with their exact message and position), every command, function
 * and aggregate over a fixed set of events (JSON, key=value and plain lines), the result's
 * order and its independence of the order events arrive in, the memory bound, and the push-down
 * condition (its content, and that every event the leading filters keep passes it, by pred.c's
 * row check). Expected numbers were computed by hand or with Python (noted where used). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/index.h"
#include "index/pred.h"

/* ---- the events ---- */

typedef struct tev {
    int64_t t;
    const char *stream;
    const char *msg;
} tev;

static const tev EV[] = {
    {1704164645678, "web-1",
     "{\"level\":\"ERROR\",\"status\":500,\"latency\":120.5,\"user\":{\"id\":\"u1\",\"name\":"
     "\"Ann\"},\"path\":\"/api/a\",\"tags\":[\"x\",\"y\"],\"ip\":\"10.0.0.5\"}"},
    {1704164646000, "web-1",
     "{\"level\":\"INFO\",\"status\":200,\"latency\":20,\"user\":{\"id\":\"u2\",\"name\":"
     "\"Bob\"},\"path\":\"/api/b\",\"ip\":\"10.0.1.7\"}"},
    {1704164700000, "web-2",
     "{\"level\":\"INFO\",\"status\":200,\"latency\":35,\"user\":{\"id\":\"u1\",\"name\":"
     "\"Ann\"},\"path\":\"/api/a\",\"ip\":\"192.168.1.1\"}"},
    {1704164760000, "web-2",
     "{\"level\":\"WARN\",\"status\":404,\"latency\":5,\"user\":{\"id\":\"u3\"},\"path\":"
     "\"/missing\",\"ip\":\"::1\"}"},
    {1704168000000, "worker", "2024-01-02T04:00:00Z INFO job=sync took=150 user=u2 result=ok"},
    {1704168060000, "worker",
     "2024-01-02T04:01:00Z ERROR job=sync took=900 user=u1 result=\"failed hard\""},
    {1704168120000, "worker", "plain text line without pairs"},
    {1704171600000, "web-1",
     "{\"level\":\"ERROR\",\"status\":503,\"latency\":1500,\"user\":{\"id\":\"u2\",\"name\":"
     "\"Bob\"},\"path\":\"/api/b\",\"@version\":\"2\",\"a\":{\"b\":\"nested\"}}"},
};
#define NEV (sizeof EV / sizeof EV[0])

static owl_ins_event mkev(const tev *e, char *ptr, size_t ptrcap, size_t idx)
{
    snprintf(ptr, ptrcap, "p%zu", idx);
    owl_ins_event ev = {e->t, e->t + 500, {e->msg, strlen(e->msg)},
                        {e->stream, strlen(e->stream)}, {"app", 3}, {ptr, strlen(ptr)}};
    return ev;
}

static owl_ins_query *parse_ok(const char *q)
{
    owl_ins_query *p = NULL;
    owl_error err = {0};
    int rc = owl_ins_parse(q, strlen(q), &p, &err);
    cr_assert_eq(rc, OWL_OK, "parse of [%s] failed: %s", q, err.msg);
    return p;
}

/* Runs q over events ev[order[i]] (order NULL: as given); the rows as "a=1, b=2 | a=3". */
static char *run_ord(const char *q, const tev *ev, size_t n, const size_t *order,
                     const owl_ins_limits *lim, int *rc_out, owl_ins_stats *st, int with_ptr)
{
    owl_ins_query *p = parse_ok(q);
    owl_ins_run *r = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_ins_run_new(p, lim, &r, &err), OWL_OK);
    int rc = OWL_OK;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        size_t k = order ? order[i] : i;
        char ptr[32];
        owl_ins_event e = mkev(&ev[k], ptr, sizeof ptr, k);
        rc = owl_ins_run_feed(r, &e, &err);
    }
    owl_ins_result *res = NULL;
    if (rc == OWL_OK)
        rc = owl_ins_run_finish(r, &res, &err);
    if (rc_out)
        *rc_out = rc;
    else
        cr_assert_eq(rc, OWL_OK, "run of [%s] failed: %s", q, err.msg);
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "");
    if (rc != OWL_OK) {
        owl_buf_printf(&b, "ERR %s: %s", owl_errname(rc), err.msg);
    } else {
        for (size_t i = 0; i < owl_ins_result_rows(res); i++) {
            if (i)
                owl_buf_puts(&b, " | ");
            int first = 1;
            for (size_t f = 0; f < owl_ins_result_nfields(res, i); f++) {
                owl_bytes name, val;
                cr_assert_eq(owl_ins_result_field(res, i, f, &name, &val), OWL_OK);
                if (!with_ptr && name.n == 4 && memcmp(name.p, "@ptr", 4) == 0)
                    continue;
                owl_buf_printf(&b, "%s%.*s=%.*s", first ? "" : ", ", (int)name.n,
                               (const char *)name.p, (int)val.n, (const char *)val.p);
                first = 0;
            }
        }
        owl_bytes nm, vv;
        cr_assert_eq(owl_ins_result_field(res, owl_ins_result_rows(res), 0, &nm, &vv),
                     OWL_ERANGE);
        if (st)
            owl_ins_result_stats(res, st);
    }
    owl_ins_result_free(res);
    owl_ins_run_free(r);
    owl_ins_free(p);
    return owl_buf_steal(&b);
}

static char *run_q(const char *q)
{
    return run_ord(q, EV, NEV, NULL, NULL, NULL, NULL, 0);
}

#define EXPECT_RUN(q, want)                                                                  \
    do {                                                                                     \
        char *got_ = run_q(q);                                                               \
        cr_assert_str_eq(got_, want, "query [%s]", q);                                       \
        free(got_);                                                                          \
    } while (0)

/* The value of `fields EXPR as r` on event idx (its result "r=..." or "" for null). */
static char *fn_on(const char *expr, size_t idx)
{
    char q[1024];
    snprintf(q, sizeof q, "fields %s as r | display r", expr);
    return run_ord(q, &EV[idx], 1, NULL, NULL, NULL, NULL, 0);
}

#define EXPECT_FN(expr, idx, want)                                                           \
    do {                                                                                     \
        char *got_ = fn_on(expr, idx);                                                       \
        cr_assert_str_eq(got_, want, "expression [%s] on event %d", expr, (int)(idx));       \
        free(got_);                                                                          \
    } while (0)

static void expect_err(const char *q, const char *msg)
{
    owl_ins_query *p = (owl_ins_query *)1;
    owl_error err = {0};
    int rc = owl_ins_parse(q, strlen(q), &p, &err);
    cr_assert_eq(rc, OWL_EINVAL, "[%s] parsed", q);
    cr_assert_null(p);
    cr_assert_str_eq(err.msg, msg, "[%s]", q);
}

#define BAD(name, q, msg)                                                                    \
    Test(insights_parse_errors, name) { expect_err(q, msg); }

#define RUN(suite, name, q, want)                                                            \
    Test(suite, name) { EXPECT_RUN(q, want); }

#define FN(name, expr, idx, want)                                                            \
    Test(insights_functions, name) { EXPECT_FN(expr, idx, want); }

Test(insights_smoke, default_query)
{
    EXPECT_RUN("filter status = 200",
               "@timestamp=2024-01-02 03:05:00.000, @message=" "{\"level\":\"INFO\",\"status\":200,\"latency\":35,\"user\":{\"id\":\"u1\",\"name\":\"Ann\"},\"path\":\"/api/a\",\"ip\":\"192.168.1.1\"}"
               " | @timestamp=2024-01-02 03:04:06.000, @message=" "{\"level\":\"INFO\",\"status\":200,\"latency\":20,\"user\":{\"id\":\"u2\",\"name\":\"Bob\"},\"path\":\"/api/b\",\"ip\":\"10.0.1.7\"}");
}

RUN(insights_smoke, fields_basic, "fields @timestamp, level, latency | limit 3",
    "@timestamp=2024-01-02 05:00:00.000, level=ERROR, latency=1500 | "
    "@timestamp=2024-01-02 04:02:00.000 | @timestamp=2024-01-02 04:01:00.000")

RUN(insights_smoke, stats_by, "stats count(*) as n, avg(latency) by level",
    "level=ERROR, n=2, avg(latency)=810.25 | level=INFO, n=2, avg(latency)=27.5 | "
    "level=WARN, n=1, avg(latency)=5 | n=3")

/* ====================================================================================== */
/* parser: malformed queries, each with its exact message and position                     */
/* ====================================================================================== */

BAD(empty, "", "line 1, column 1: empty query")
BAD(only_comment, "   # only a comment", "line 1, column 20: empty query")
BAD(fields_nothing, "fields", "line 1, column 7: expected an expression, found end of query")
BAD(fields_trailing_comma, "fields a,", "line 1, column 10: expected an expression, found end of query")
BAD(filter_no_rhs, "filter a = ", "line 1, column 12: expected an expression, found end of query")
BAD(unclosed_paren, "filter (a = 1", "line 1, column 14: expected ')', found end of query")
BAD(stats_by_nothing, "stats count(*) by", "line 1, column 18: expected an expression, found end of query")
BAD(stats_bare_field, "stats x by y", "line 1, column 7: field 'x' must be inside an aggregate function in stats")
BAD(agg_outside_stats, "fields count(*)", "line 1, column 8: aggregate function count() is only allowed in stats")
BAD(limit_zero, "limit 0", "line 1, column 7: limit must be from 1 to 10000")
BAD(limit_too_big, "limit 10001", "line 1, column 7: limit must be from 1 to 10000")
BAD(limit_word, "limit x", "line 1, column 7: expected a whole number after limit, found 'x'")
BAD(limit_fraction, "limit 2.5", "line 1, column 7: expected a whole number after limit, found '2.5'")
BAD(sort_nothing, "sort", "line 1, column 5: expected an expression, found end of query")
BAD(unmask, "fields @message | unmask @message",
    "line 1, column 19: unmask is not supported: owl does not mask log data, so there is nothing to unmask")
BAD(unknown_command, "frobnicate x",
    "line 1, column 1: unknown command 'frobnicate' (expected fields, display, filter, stats, sort, limit, parse or dedup)")
BAD(pipe_at_end, "fields a | ", "line 1, column 12: expected a command after '|', found end of query")
BAD(missing_pipe, "fields a b", "line 1, column 10: expected '|' or the end of the query, found 'b'")
BAD(unterminated_string, "filter msg like 'abc", "line 1, column 17: unterminated string")
BAD(unterminated_regex, "filter @message like /abc", "line 1, column 22: unterminated regular expression")
BAD(bad_regex, "filter @message like /a(b/",
    "line 1, column 26: bad regular expression: missing closing parenthesis")
BAD(empty_regex, "filter @message like //", "line 1, column 22: empty regular expression")
BAD(bad_unit, "stats count(*) by bin(5x)",
    "line 1, column 24: unknown time unit 'x' (expected ms, s, m, h, d, w, mo, q or y)")
BAD(zero_period, "stats count(*) by bin(0m)", "line 1, column 23: a time period must be positive")
BAD(bin_no_period, "stats count(*) by bin(x)",
    "line 1, column 23: expected a time period such as 5m or 1h, found 'x'")
BAD(fractional_months, "fields datefloor(@timestamp, 1.5mo)",
    "line 1, column 30: months, quarters and years are counted in whole units")
BAD(arity, "fields strlen(a, b)", "line 1, column 8: strlen() takes 1 argument, not 2")
BAD(arity_range, "fields substr(a)", "line 1, column 8: substr() takes 2 to 3 arguments, not 1")
BAD(arity_min, "fields concat()", "line 1, column 8: concat() takes at least 1 argument")
BAD(unknown_function, "fields nosuch(a)", "line 1, column 8: unknown function 'nosuch'")
BAD(glob_count, "parse @message \"a*b*\" as x",
    "line 1, column 16: the pattern has 2 '*' but 1 field name follow as")
BAD(glob_no_star, "parse @message \"abc\" as x",
    "line 1, column 16: a parse pattern needs at least one '*'")
BAD(glob_no_as, "parse @message \"a*\"",
    "line 1, column 20: expected as and the names of the fields the '*'s fill, found end of query")
BAD(regex_unnamed, "parse @message /(\\d+)/",
    "line 1, column 16: the regular expression has no named group (?<name>...) to parse into")
BAD(regex_with_as, "parse @message /(?<a>x)/ as b",
    "line 1, column 26: a regular expression names its fields with named groups (?<name>...), not with as")
BAD(after_dedup, "dedup a | sort a", "line 1, column 11: only limit may follow dedup")
BAD(three_stats, "stats count(*) as n by a | stats count(*) as m by n | stats count(*)",
    "line 1, column 55: at most 2 stats commands in a query")
BAD(in_parens, "filter a in (1,2)",
    "line 1, column 13: expected '[' to start the list after in, found '('")
BAD(in_unclosed, "filter a in [1, 2", "line 1, column 18: expected ',' or ']', found end of query")
BAD(not_what, "filter a not b", "line 1, column 14: expected like or in after not, found 'b'")
BAD(second_line, "fields @message\n| filter x =",
    "line 2, column 13: expected an expression, found end of query")
BAD(pct_no_rank, "stats pct(a)", "line 1, column 12: expected ',' and a percentile (0 to 100), found ')'")
BAD(pct_too_high, "stats pct(a, 101)", "line 1, column 14: expected a percentile from 0 to 100, found '101'")
BAD(nested_agg, "stats count(sum(a))", "line 1, column 13: aggregate function sum() inside another aggregate")
BAD(stats_no_agg, "stats 1 + 2", "line 1, column 7: expected an aggregate function such as count(*) in stats")
BAD(period_outside, "fields 5m", "line 1, column 8: a time period is only allowed in bin(), datefloor() and dateceil()")
BAD(regex_outside, "filter a = /x/",
    "line 1, column 12: a /regular expression/ is only allowed after like, =~ and parse")
BAD(as_nothing, "fields a as", "line 1, column 12: expected a field name after as, found end of query")
BAD(as_keyword, "fields a as by", "line 1, column 13: expected a field name after as, found 'by'")
BAD(display_nothing, "display", "line 1, column 8: expected a field name after display, found end of query")
BAD(dedup_comma, "dedup a,", "line 1, column 9: expected a field name after ',', found end of query")
BAD(unterminated_backtick, "fields `a", "line 1, column 8: unterminated `field name`")
BAD(empty_backtick, "fields ``", "line 1, column 8: empty `field name`")
BAD(bang, "filter a ! b", "line 1, column 10: unexpected character '!'")
BAD(control_byte, "filter a = \x01", "line 1, column 12: unexpected byte 0x01")
BAD(unnest, "unnest a", "line 1, column 1: the unnest command is not supported")
BAD(ispresent_literal, "fields ispresent(1)", "line 1, column 18: ispresent() takes a field name")
BAD(dangling_plus, "fields 1 +", "line 1, column 11: expected an expression, found end of query")
BAD(match_string, "filter a =~ \"x\"", "line 1, column 13: expected a /regular expression/ after =~, found '\"x\"'")
BAD(like_number, "filter a like 5", "line 1, column 15: expected a string or a /regular expression/ after like, found '5'")
BAD(keyword_as_field, "fields and", "line 1, column 8: expected an expression, found 'and'")
BAD(number_suffix, "limit 10x1", "line 1, column 9: unexpected 'x' after a number")

Test(insights_parse_errors, call_unclosed_exact)
{
    expect_err("fields abs(1", "line 1, column 13: expected ',' or ')' in the arguments of abs(), found end of query");
}

Test(insights_parse_errors, too_long)
{
    char *q = malloc(10002);
    memset(q, ' ', 10001);
    memcpy(q, "fields a", 8);
    q[10001] = '\0';
    expect_err(q, "line 1, column 1: a query holds at most 10000 bytes");
    free(q);
}

Test(insights_parse_errors, operator_chain)
{
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "fields 1");
    for (int k = 0; k < 300; k++)
        owl_buf_puts(&b, "+1");
    /* the 200th '+' makes a tree 201 high: "fields 1" then "+1" pairs, so it sits at 2k+6 */
    expect_err(b.data, "line 1, column 407: expression too long (more than 200 nested operations)");
    owl_buf_free(&b);
}

Test(insights_parse_errors, deep_parens)
{
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "fields ");
    for (int k = 0; k < 70; k++)
        owl_buf_puts(&b, "(");
    expect_err(b.data, "line 1, column 72: expression nested deeper than 64 levels");
    owl_buf_free(&b);
}

Test(insights_parse_errors, failed_parse_leaves_null_and_nul_bytes)
{
    owl_ins_query *p = (owl_ins_query *)1;
    owl_error err = {0};
    cr_assert_eq(owl_ins_parse("fields a\0b", 10, &p, &err), OWL_EINVAL);
    cr_assert_null(p);
    cr_assert_str_eq(err.msg, "line 1, column 9: unexpected byte 0x00");
}

/* ====================================================================================== */
/* parser: accepted forms                                                                   */
/* ====================================================================================== */

RUN(insights_parse, keywords_any_case, "FILTER level = 'WARN' | DISPLAY status", "status=404")
RUN(insights_parse, comments, "# errors only\nfilter level = 'ERROR' # trailing\n| display status",
    "status=503 | status=500")
RUN(insights_parse, function_names_any_case, "filter ISPRESENT(took) and IsPresent(job) | display took",
    "took=900 | took=150")
RUN(insights_parse, space_before_paren, "stats avg (latency)", "avg (latency)=336.1")
RUN(insights_parse, single_quotes_and_escapes, "filter result = 'failed hard' or path = \"/api/\\x\" | display result",
    "result=failed hard")
RUN(insights_parse, multiline_pipes, "fields status\n  | filter status >= 500\n  | sort status asc\n  | display status",
    "status=500 | status=503")
RUN(insights_parse, count_spaces, "stats count( * ) as n", "n=8")

Test(insights_parse, backtick_names)
{
    static const tev ev[] = {{1000, "s", "{\"foo-bar\": 7, \"a b\": \"x\"}"}};
    char *got = run_ord("fields `foo-bar` * 2 as d, `a b` | display d, `a b`", ev, 1, NULL, NULL, NULL,
                        NULL, 0);
    cr_assert_str_eq(got, "d=14, a b=x");
    free(got);
}

Test(insights_parse, aggregating_flag)
{
    owl_ins_query *q = parse_ok("filter a = 1 | stats count(*)");
    cr_assert_eq(owl_ins_aggregating(q), 1);
    owl_ins_free(q);
    q = parse_ok("filter a = 1 | sort a");
    cr_assert_eq(owl_ins_aggregating(q), 0);
    owl_ins_free(q);
    owl_ins_free(NULL);
}

/* ====================================================================================== */
/* fields, display, filter                                                                  */
/* ====================================================================================== */

RUN(insights_fields, alias, "fields user.id as uid, status | filter ispresent(status) | limit 2",
    "uid=u2, status=503 | uid=u3, status=404")
RUN(insights_fields, expression_named_by_text, "fields latency * 2 | filter level = \"INFO\"",
    "latency * 2=70 | latency * 2=40")
RUN(insights_fields, several_commands_add_up, "fields level | fields status | limit 1",
    "level=ERROR, status=503")
RUN(insights_fields, overwrite, "fields concat(level, \"!\") as level | filter level like \"ERR\" | display level",
    "level=ERROR! | level=ERROR!")
RUN(insights_fields, display_last_wins,
    "filter ispresent(level) | fields level, status | display status | display level | limit 2",
    "level=ERROR | level=WARN")
RUN(insights_fields, display_not_in_fields, "display path | filter ispresent(path) | limit 1", "path=/api/b")
RUN(insights_fields, system_fields,
    "filter status = 404 | fields @log, @logStream, @ingestionTime, @timestamp",
    "@log=app, @logStream=web-2, @ingestionTime=2024-01-02 03:06:00.500, @timestamp=2024-01-02 03:06:00.000")

Test(insights_fields, ptr_last_in_plain_queries)
{
    char *got = run_ord("filter status = 404 | fields status", EV, NEV, NULL, NULL, NULL, NULL, 1);
    cr_assert_str_eq(got, "status=404, @ptr=p3");
    free(got);
    got = run_ord("stats count(*) as n", EV, NEV, NULL, NULL, NULL, NULL, 1);
    cr_assert_str_eq(got, "n=8");
    free(got);
}

RUN(insights_filter, num_gt, "filter latency > 100 | display latency", "latency=1500 | latency=120.5")
RUN(insights_filter, num_le, "filter latency <= 20 | display latency", "latency=5 | latency=20")
RUN(insights_filter, num_lt_ge, "filter latency < 100 and latency >= 20 | display latency", "latency=35 | latency=20")
RUN(insights_filter, ne_skips_missing, "filter level != \"INFO\" | display level",
    "level=ERROR | level=WARN | level=ERROR")
RUN(insights_filter, string_vs_number, "filter status = \"200\" | display status", "status=200 | status=200")
RUN(insights_filter, number_text_as_written, "filter latency = 120.50 | display latency", "latency=120.5")
RUN(insights_filter, kv_numeric, "filter took >= 900 | display took", "took=900")
RUN(insights_filter, and_or_not,
    "filter (level = \"ERROR\" or level = \"WARN\") and not status = 503 | display status",
    "status=404 | status=500")
RUN(insights_filter, or_binds_looser, "filter status = 404 or status = 200 and latency > 30 | display status",
    "status=404 | status=200")
RUN(insights_filter, like_substring, "filter @message like \"failed\" | display result", "result=failed hard")
RUN(insights_filter, like_regex, "filter path like /^\\/api\\/[ab]$/ | display path",
    "path=/api/b | path=/api/a | path=/api/b | path=/api/a")
RUN(insights_filter, match_operator, "filter ip =~ /^10\\./ | display ip", "ip=10.0.1.7 | ip=10.0.0.5")
RUN(insights_filter, regex_case_insensitive, "filter @message like /(?i)plain TEXT/ | display @logStream",
    "@logStream=worker")
RUN(insights_filter, like_case_sensitive, "filter @message like \"PLAIN\" | display @logStream", "")
RUN(insights_filter, not_like, "filter ispresent(path) and path not like \"api\" | display path", "path=/missing")
RUN(insights_filter, not_like_regex, "filter ispresent(ip) and ip not like /\\./ | display ip", "ip=::1")
RUN(insights_filter, in_numbers, "filter status in [404, 503] | display status", "status=503 | status=404")
RUN(insights_filter, not_in, "filter level not in [\"ERROR\", \"INFO\"] | display level", "level=WARN")
RUN(insights_filter, in_strings, "filter user.id in ['u3', \"u1\"] | display user.id",
    "user.id=u3 | user.id=u1 | user.id=u1")
RUN(insights_filter, empty_list, "filter status in [] | display status", "")
RUN(insights_filter, stream, "filter @logStream = \"worker\" | display @message | limit 1",
    "@message=plain text line without pairs")
RUN(insights_filter, timestamp_range,
    "filter @timestamp >= 1704168000000 and @timestamp < 1704171600000 | display @timestamp",
    "@timestamp=2024-01-02 04:02:00.000 | @timestamp=2024-01-02 04:01:00.000 | @timestamp=2024-01-02 04:00:00.000")
RUN(insights_filter, timestamp_as_text, "filter @timestamp > \"2024-01-02 04:30\" | display @timestamp",
    "@timestamp=2024-01-02 05:00:00.000")
RUN(insights_filter, truthy_number, "filter strcontains(path, \"miss\") | display path", "path=/missing")
RUN(insights_filter, arithmetic, "filter latency * 2 > 200 | display latency", "latency=1500 | latency=120.5")
RUN(insights_filter, missing_field_is_false, "filter nosuch = 1 or nosuch != 1 | display status", "")
RUN(insights_filter, several_filters, "filter ispresent(status) | filter status < 300 | display latency",
    "latency=35 | latency=20")

/* ====================================================================================== */
/* sort, limit, the default order                                                            */
/* ====================================================================================== */

RUN(insights_sort, desc_numbers, "filter ispresent(latency) | sort latency desc | display latency",
    "latency=1500 | latency=120.5 | latency=35 | latency=20 | latency=5")
RUN(insights_sort, asc_is_default, "filter ispresent(latency) | sort latency | display latency | limit 2",
    "latency=5 | latency=20")
RUN(insights_sort, nulls_last_desc, "sort took desc | display took, @logStream | limit 3",
    "took=900, @logStream=worker | took=150, @logStream=worker | @logStream=web-1")
RUN(insights_sort, nulls_last_asc, "sort took asc | display took, @logStream | limit 3",
    "took=150, @logStream=worker | took=900, @logStream=worker | @logStream=web-1")
RUN(insights_sort, several_keys, "filter ispresent(level) | sort level asc, latency desc | display level, latency",
    "level=ERROR, latency=1500 | level=ERROR, latency=120.5 | level=INFO, latency=35 | "
    "level=INFO, latency=20 | level=WARN, latency=5")
RUN(insights_sort, sort_limit_sort,
    "filter ispresent(latency) | sort latency desc | limit 3 | sort latency asc | display latency",
    "latency=35 | latency=120.5 | latency=1500")
RUN(insights_sort, key_kept_before_fields, "sort latency desc | fields 0 as latency | display status | limit 2",
    "status=503 | status=500")
RUN(insights_sort, sort_expression, "filter ispresent(latency) | sort abs(latency - 30) | display latency | limit 2",
    "latency=35 | latency=20")
RUN(insights_sort, later_sort_earlier_breaks_ties,
    "filter ispresent(level) | sort latency desc | sort level | display level, latency",
    "level=ERROR, latency=1500 | level=ERROR, latency=120.5 | level=INFO, latency=35 | "
    "level=INFO, latency=20 | level=WARN, latency=5")
RUN(insights_limit, default_newest_first, "limit 2 | display @timestamp",
    "@timestamp=2024-01-02 05:00:00.000 | @timestamp=2024-01-02 04:02:00.000")
RUN(insights_limit, filter_after_limit, "limit 3 | filter @logStream = 'worker' | display @timestamp",
    "@timestamp=2024-01-02 04:02:00.000 | @timestamp=2024-01-02 04:01:00.000")
RUN(insights_limit, limit_then_limit, "limit 5 | limit 2 | display status", "status=503 | ")

Test(insights_sort, natural_order_of_aws_docs)
{
    /* the example list of CloudWatch's sort page, fed scrambled */
    static const char *const want[] = {"!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_",
                                       "A", "A9876fghj", "a12345hfh", "0", "01", "1", "2", "3"};
    enum { N = sizeof want / sizeof *want };
    tev ev[N];
    size_t order[N];
    for (size_t k = 0; k < N; k++) {
        ev[k] = (tev){1000 + (int64_t)k, "s", want[k]};
        order[k] = (k * 7) % N;
    }
    char *got = run_ord("sort @message asc | display @message", ev, N, order, NULL, NULL, NULL, 0);
    owl_buf b = OWL_BUF_INIT;
    for (size_t k = 0; k < N; k++)
        owl_buf_printf(&b, "%s@message=%s", k ? " | " : "", want[k]);
    cr_assert_str_eq(got, b.data);
    free(got);
    got = run_ord("sort @message desc | display @message | limit 3", ev, N, order, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "@message=3 | @message=2 | @message=1");
    free(got);
    owl_buf_free(&b);
}

Test(insights_limit, max_rows_caps_result)
{
    owl_ins_limits lim = {0, 3};
    char *got = run_ord("display @timestamp", EV, NEV, NULL, &lim, NULL, NULL, 0);
    cr_assert_str_eq(got, "@timestamp=2024-01-02 05:00:00.000 | @timestamp=2024-01-02 04:02:00.000 | "
                          "@timestamp=2024-01-02 04:01:00.000");
    free(got);
}

/* ====================================================================================== */
/* dedup                                                                                    */
/* ====================================================================================== */

RUN(insights_dedup, newest_per_key, "filter ispresent(user.id) | display user.id, @timestamp | dedup user.id",
    "user.id=u2, @timestamp=2024-01-02 05:00:00.000 | user.id=u3, @timestamp=2024-01-02 03:06:00.000 | "
    "user.id=u1, @timestamp=2024-01-02 03:05:00.000")
RUN(insights_dedup, first_in_sort_order,
    "filter ispresent(latency) | sort latency asc | display level, latency | dedup level",
    "level=WARN, latency=5 | level=INFO, latency=20 | level=ERROR, latency=120.5")
RUN(insights_dedup, nulls_kept, "display @logStream, level | dedup level",
    "@logStream=web-1, level=ERROR | @logStream=worker | @logStream=worker | @logStream=worker | "
    "@logStream=web-2, level=WARN | @logStream=web-2, level=INFO")
RUN(insights_dedup, several_fields, "filter ispresent(level) | display level, @logStream | dedup level, @logStream",
    "level=ERROR, @logStream=web-1 | level=WARN, @logStream=web-2 | level=INFO, @logStream=web-2 | "
    "level=INFO, @logStream=web-1")
RUN(insights_dedup, then_limit, "display @logStream | dedup @logStream | limit 2",
    "@logStream=web-1 | @logStream=worker")
RUN(insights_dedup, after_stats, "stats count(*) as n by @logStream | dedup n", "@logStream=web-1, n=3 | @logStream=web-2, n=2")
RUN(insights_dedup, after_limit, "filter ispresent(level) | display level | limit 4 | dedup level",
    "level=ERROR | level=WARN | level=INFO")

/* ====================================================================================== */
/* stats: every aggregate, groups, bin, several stats                                       */
/* ====================================================================================== */

RUN(insights_stats, count_star, "stats count(*)", "count(*)=8")
RUN(insights_stats, count_field, "stats count(latency) as c", "c=5")
RUN(insights_stats, count_empty, "stats count() as c", "c=8")
RUN(insights_stats, count_distinct, "stats count_distinct(user.id) as d", "d=3")
RUN(insights_stats, count_distinct_kv, "stats count_distinct(user) as d", "d=2")
RUN(insights_stats, sum, "stats sum(latency) as s", "s=1680.5")
RUN(insights_stats, avg, "stats avg(latency) as a", "a=336.1")
RUN(insights_stats, min_max, "stats min(latency) as lo, max(latency) as hi", "lo=5, hi=1500")
RUN(insights_stats, min_max_time, "stats min(@timestamp) as a, max(@timestamp) as b",
    "a=2024-01-02 03:04:05.678, b=2024-01-02 05:00:00.000")
/* Python: statistics.stdev([120.5, 20, 35, 5, 1500]) */
RUN(insights_stats, stddev, "stats stddev(latency) as sd", "sd=652.1798448280965")
RUN(insights_stats, stddev_one_value, "filter status = 404 | stats stddev(latency) as sd", "sd=0")
RUN(insights_stats, pct_median, "stats pct(latency, 50) as p", "p=35")
RUN(insights_stats, pct_edges, "stats pct(latency, 0) as a, pct(latency, 20) as b, pct(latency, 21) as c, pct(latency, 90) as d, pct(latency, 100) as e",
    "a=5, b=5, c=20, d=1500, e=1500")
RUN(insights_stats, earliest_latest, "stats earliest(path) as e, latest(path) as l", "e=/api/a, l=/api/b")
RUN(insights_stats, sorts_first_last, "stats sortsFirst(path) as f, sortsLast(path) as l", "f=/api/a, l=/missing")
RUN(insights_stats, sum_ignores_text, "stats sum(level) as s, count(level) as c", "c=5")
RUN(insights_stats, by_field, "stats count(*) as n, avg(latency) by level",
    "level=ERROR, n=2, avg(latency)=810.25 | level=INFO, n=2, avg(latency)=27.5 | level=WARN, n=1, avg(latency)=5 | n=3")
RUN(insights_stats, by_two_fields, "stats count(*) as n by @logStream, level",
    "@logStream=web-1, level=ERROR, n=2 | @logStream=web-1, level=INFO, n=1 | @logStream=web-2, level=INFO, n=1 | "
    "@logStream=web-2, level=WARN, n=1 | @logStream=worker, n=3")
RUN(insights_stats, by_alias_and_expression, "stats count(*) as n by toupper(@logStream) as s",
    "s=WEB-1, n=3 | s=WEB-2, n=2 | s=WORKER, n=3")
RUN(insights_stats, expression_of_aggregates, "stats sum(latency) / count(latency) as a, max(latency) - min(latency) as r",
    "a=336.1, r=1495")
RUN(insights_stats, sort_on_alias, "stats count(*) as n by @logStream | sort n desc | limit 1", "@logStream=web-1, n=3")
RUN(insights_stats, filter_after, "stats count(*) as n by level | filter n > 1 | display level, n",
    "level=ERROR, n=2 | level=INFO, n=2 | n=3")
RUN(insights_stats, fields_after, "stats count(*) as n by @logStream | fields n * 10 as tens | display @logStream, tens",
    "@logStream=web-1, tens=30 | @logStream=web-2, tens=20 | @logStream=worker, tens=30")
RUN(insights_stats, limit_after, "stats count(*) as n by @logStream | limit 2", "@logStream=web-1, n=3 | @logStream=web-2, n=2")
RUN(insights_stats, bin_hour, "stats count(*) as n by bin(1h)",
    "bin(1h)=2024-01-02 03:00:00.000, n=4 | bin(1h)=2024-01-02 04:00:00.000, n=3 | bin(1h)=2024-01-02 05:00:00.000, n=1")
RUN(insights_stats, bin_minute, "stats count(*) as n by bin(1m) | limit 3",
    "bin(1m)=2024-01-02 03:04:00.000, n=2 | bin(1m)=2024-01-02 03:05:00.000, n=1 | bin(1m)=2024-01-02 03:06:00.000, n=1")
RUN(insights_stats, bin_spaced_unit, "stats count(*) as n by bin(2 hours)",
    "bin(2 hours)=2024-01-02 02:00:00.000, n=4 | bin(2 hours)=2024-01-02 04:00:00.000, n=4")
RUN(insights_stats, bin_ms, "stats count(*) as n by bin(500ms) | limit 2",
    "bin(500ms)=2024-01-02 03:04:05.500, n=1 | bin(500ms)=2024-01-02 03:04:06.000, n=1")
RUN(insights_stats, bin_seconds, "stats count(*) as n by bin(30s) | limit 1", "bin(30s)=2024-01-02 03:04:00.000, n=2")
RUN(insights_stats, bin_day, "stats count(*) as n by bin(1d)", "bin(1d)=2024-01-02 00:00:00.000, n=8")
RUN(insights_stats, bin_week_starts_monday, "stats count(*) as n by bin(1w)", "bin(1w)=2024-01-01 00:00:00.000, n=8")
RUN(insights_stats, bin_month, "stats count(*) as n by bin(1mo)", "bin(1mo)=2024-01-01 00:00:00.000, n=8")
RUN(insights_stats, bin_and_field, "filter ispresent(level) | stats count(*) as n by bin(1h), level",
    "bin(1h)=2024-01-02 03:00:00.000, level=ERROR, n=1 | bin(1h)=2024-01-02 03:00:00.000, level=INFO, n=2 | "
    "bin(1h)=2024-01-02 03:00:00.000, level=WARN, n=1 | bin(1h)=2024-01-02 05:00:00.000, level=ERROR, n=1")
/* Python: mean of [3, 2, 3] */
RUN(insights_stats, two_stats, "stats count(*) as n by @logStream | stats avg(n) as a, max(n) as m",
    "a=2.6666666666666665, m=3")
/* Python: message lengths per hour 431, 163, 127 */
RUN(insights_stats, two_stats_with_bin,
    "fields strlen(@message) as len | stats sum(len) as total by bin(1h) | stats max(total) as peak, min(total) as low",
    "peak=431, low=127")
RUN(insights_stats, two_stats_grouped, "stats count(*) as n by @logStream, level | stats sum(n) as total by @logStream",
    "@logStream=web-1, total=3 | @logStream=web-2, total=2 | @logStream=worker, total=3")
RUN(insights_stats, earliest_in_second_stats, "stats count(*) as n by bin(1h) | stats earliest(n) as e, latest(n) as l",
    "")

Test(insights_stats, no_events)
{
    char *got = run_ord("stats count(*) as n, sum(x) as s", EV, 0, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "n=0");
    free(got);
    got = run_ord("stats count(*) as n by level", EV, 0, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "");
    free(got);
}

Test(insights_stats, statistics)
{
    owl_ins_stats st;
    char *got = run_ord("filter ispresent(level) | stats count(*) as n", EV, NEV, NULL, NULL, NULL, &st, 0);
    cr_assert_str_eq(got, "n=5");
    cr_assert_eq(st.records_scanned, 8);
    cr_assert_eq(st.records_matched, 5);
    cr_assert_eq(st.bytes_scanned, 721); /* Python: sum of the messages' lengths */
    free(got);
    got = run_ord("filter @logStream = 'worker' | limit 1", EV, NEV, NULL, NULL, NULL, &st, 0);
    cr_assert_eq(st.records_matched, 3);
    free(got);
}

/* a larger set against Python's nearest rank: v_i = ((i * 7919) % 1000) / 4, g = i % 3 */
static tev *pct_events(char **bufs)
{
    tev *ev = calloc(1000, sizeof *ev);
    *bufs = malloc(1000 * 40);
    for (size_t i = 0; i < 1000; i++) {
        char *m = *bufs + i * 40;
        snprintf(m, 40, "{\"v\": %g, \"g\": %zu}", ((double)((i * 7919) % 1000)) / 4, i % 3);
        ev[i] = (tev){(int64_t)(1700000000000 + i * 1000), "s", m};
    }
    return ev;
}

Test(insights_stats, pct_against_python)
{
    char *bufs;
    tev *ev = pct_events(&bufs);
    char *got = run_ord("stats pct(v, 0) as p0, pct(v, 1) as p1, pct(v, 50) as p50, pct(v, 90) as p90, "
                        "pct(v, 95) as p95, pct(v, 99) as p99, pct(v, 99.9) as p999, pct(v, 100) as p100, "
                        "avg(v) as a, stddev(v) as sd, count_distinct(v) as d",
                        ev, 1000, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "p0=0, p1=2.25, p50=124.75, p90=224.75, p95=237.25, p99=247.25, p999=249.75, "
                          "p100=249.75, a=124.875, sd=72.20485902393735, d=1000");
    free(got);
    got = run_ord("stats pct(v, 95) as p, avg(v) as a, count(*) as n by g", ev, 1000, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "g=0, p=238, a=124.64595808383234, n=334 | g=1, p=236.75, a=124.97972972972973, n=333 | "
                          "g=2, p=237.25, a=125, n=333");
    free(got);
    free(ev);
    free(bufs);
}

/* ====================================================================================== */
/* parse                                                                                    */
/* ====================================================================================== */

RUN(insights_parse_cmd, glob, "parse @message \"* * job=* took=* \" as ts, lvl, job, took | filter ispresent(lvl) | display lvl, job, took",
    "lvl=ERROR, job=sync, took=900 | lvl=INFO, job=sync, took=150")
RUN(insights_parse_cmd, glob_last_star_greedy, "parse @message \"result=*\" as res | filter ispresent(res) | display res",
    "res=\"failed hard\" | res=ok")
RUN(insights_parse_cmd, glob_default_source, "parse \"took=* \" as t | stats sum(t) as s", "s=1050")
RUN(insights_parse_cmd, regex, "parse @message /took=(?<t>\\d+) user=(?<u>\\w+)/ | filter ispresent(t) | stats sum(t) as s by u",
    "u=u1, s=900 | u=u2, s=150")
RUN(insights_parse_cmd, no_match_is_null, "parse @message \"zzz*\" as z | stats count(z) as c, count(*) as n", "c=0, n=8")
RUN(insights_parse_cmd, from_field, "parse path \"/api/*\" as which | filter ispresent(which) | display which",
    "which=b | which=a | which=b | which=a")
RUN(insights_parse_cmd, regex_optional_group, "parse @message /(?<lvl>ERROR|INFO)(?<x>Z)?/ | filter ispresent(lvl) | display lvl, x | limit 2",
    "lvl=ERROR | lvl=ERROR")
RUN(insights_parse_cmd, glob_special_chars, "parse @message '\"status\":*,' as st | filter ispresent(st) | display st | limit 2",
    "st=503 | st=404")
RUN(insights_parse_cmd, overrides_discovered, "parse @message \"user=* \" as user | filter ispresent(user) | display user",
    "user=u1 | user=u2")

/* ====================================================================================== */
/* fields found in messages: JSON flattening, key=value pairs                               */
/* ====================================================================================== */

RUN(insights_discover, json_nested, "filter user.name = \"Bob\" | display user.id", "user.id=u2 | user.id=u2")
RUN(insights_discover, json_array, "filter ispresent(tags.0) | display tags.0, tags.1, tags.2", "tags.0=x, tags.1=y")
RUN(insights_discover, json_at_key, "filter ispresent(@@version) | display @@version", "@@version=2")
RUN(insights_discover, json_object_is_not_a_value, "filter ispresent(user) | display @logStream",
    "@logStream=worker | @logStream=worker")
RUN(insights_discover, json_deep, "filter a.b = 'nested' | display status", "status=503")
RUN(insights_discover, kv_pairs, "filter ispresent(job) | stats count(*) as n by user", "user=u1, n=1 | user=u2, n=1")
RUN(insights_discover, kv_quoted_value, "filter result like \"hard\" | display result", "result=failed hard")

Test(insights_discover, json_details)
{
    static const tev ev[] = {
        {4000, "s", "  {\"msg\":\"a\\\"b\\u0041\\u00e9\\ud83d\\ude00\",\"ok\":true,\"no\":false,\"n\":null,"
                    "\"arr\":[[1,2],{\"k\":-1.5e2}],\"note\":\"x=1\",\"dup\":1,\"dup\":2}"},
        {3000, "s", "{\"a\":1,\"b\":"},
        {2000, "s", "[1, 2]"},
        {1000, "s", "x=1 y=\"two words\" z= w=3,v=4;u=5 -bad=6 (p=7) 8q=9"},
    };
    char *got = run_ord("fields msg, ok, no, n, arr.0.1, arr.1.k, note, x, dup | limit 1", ev, 4, NULL, NULL,
                        NULL, NULL, 0);
    cr_assert_str_eq(got, "msg=a\"bA\xc3\xa9\xf0\x9f\x98\x80, ok=true, no=false, arr.0.1=2, arr.1.k=-1.5e2, "
                          "note=x=1, dup=1");
    free(got);
    got = run_ord("filter ok = 1 and no = 0 and ok | display ok", ev, 4, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "ok=true");
    free(got);
    /* a damaged message keeps what was read before the damage */
    got = run_ord("filter ispresent(a) | display a", ev, 4, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "a=1");
    free(got);
    got = run_ord("filter ispresent(x) | display x, y, z, w, v, u, bad, p, q", ev, 4, NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "x=1, y=two words, z=, w=3, v=4, u=5, p=7)");
    free(got);
}

/* ====================================================================================== */
/* functions                                                                                */
/* ====================================================================================== */

FN(strlen_ascii, "strlen(level)", 0, "r=5")
FN(strlen_code_points, "strlen(\"h\xc3\xa9llo\")", 0, "r=5")
FN(strlen_number, "strlen(latency)", 0, "r=5")
FN(tolower, "tolower(level)", 0, "r=error")
FN(toupper, "toupper(user.name)", 0, "r=ANN")
FN(concat, "concat(level, \"-\", status)", 0, "r=ERROR-500")
FN(concat_null_is_empty, "concat(level, \"-\", nosuch)", 0, "r=ERROR-")
FN(substr_aws_example, "substr(\"xyZfooxyZ\", 3, 3)", 0, "r=foo")
FN(substr_to_end, "substr(path, 4)", 0, "r=/a")
FN(substr_past_end, "substr(path, 40)", 0, "r=")
FN(substr_code_points, "substr(\"h\xc3\xa9llo\", 1, 2)", 0, "r=\xc3\xa9l")
FN(replace_aws_example, "replace(\"foo\", \"o\", \"0\")", 0, "r=f00")
FN(replace_field, "replace(path, \"/\", \"::\")", 0, "r=::api::a")
FN(replace_empty_needle, "replace(path, \"\", \"x\")", 0, "r=/api/a")
FN(trim_blanks, "trim(\"  a b \t\")", 0, "r=a b")
FN(trim_set, "trim(\"xyZfooxyZ\", \"xyZ\")", 0, "r=foo")
FN(ltrim_set, "ltrim(\"xyZfooxyZ\", \"xyZ\")", 0, "r=fooxyZ")
FN(rtrim_set, "rtrim(\"xyZfooxyZ\", \"xyZ\")", 0, "r=xyZfoo")
FN(ltrim_blanks, "ltrim(\"  a \")", 0, "r=a ")
FN(strcontains_yes, "strcontains(path, \"api\")", 0, "r=1")
FN(strcontains_no, "strcontains(path, \"zzz\")", 0, "r=0")
FN(ispresent_yes, "ispresent(level)", 0, "r=true")
FN(ispresent_no, "ispresent(level)", 6, "r=false")
FN(coalesce_first_present, "coalesce(nosuch, user.name, \"z\")", 0, "r=Ann")
FN(coalesce_fallback, "coalesce(user.name, \"anon\")", 3, "r=anon")
FN(coalesce_all_null, "coalesce(nosuch, other)", 3, "")
FN(isempty, "isempty(\"\")", 0, "r=true")
FN(isempty_field, "isempty(level)", 0, "r=false")
FN(isblank, "isblank(\" \t \")", 0, "r=true")
FN(abs, "abs(-3.5)", 0, "r=3.5")
FN(abs_expression, "abs(0 - latency)", 0, "r=120.5")
FN(floor, "floor(latency)", 0, "r=120")
FN(floor_negative, "floor(-1.5)", 0, "r=-2")
FN(ceil, "ceil(latency)", 0, "r=121")
FN(greatest, "greatest(status, latency, 7)", 0, "r=500")
FN(least, "least(status, latency, 7)", 0, "r=7")
FN(least_skips_null, "least(nosuch, 3)", 0, "r=3")
FN(log_one, "log(1)", 0, "r=0")
/* Python: math.log(120.5) */
FN(log_field, "log(latency)", 0, "r=4.791649752930709")
FN(log_zero_is_null, "log(0)", 0, "")
FN(sqrt, "sqrt(16)", 0, "r=4")
FN(sqrt_negative_is_null, "sqrt(-1)", 0, "")
FN(datefloor_hour, "datefloor(@timestamp, 1h)", 0, "r=2024-01-02 03:00:00.000")
FN(datefloor_15m, "datefloor(@timestamp, 15m)", 0, "r=2024-01-02 03:00:00.000")
FN(dateceil_hour, "dateceil(@timestamp, 1h)", 0, "r=2024-01-02 04:00:00.000")
FN(dateceil_on_boundary, "dateceil(@timestamp, 1h)", 4, "r=2024-01-02 04:00:00.000")
FN(datefloor_month, "datefloor(fromMillis(1715000000000), 1mo)", 0, "r=2024-05-01 00:00:00.000")
FN(datefloor_quarter, "datefloor(fromMillis(1715000000000), 1q)", 0, "r=2024-04-01 00:00:00.000")
FN(datefloor_year, "datefloor(fromMillis(1715000000000), 1y)", 0, "r=2024-01-01 00:00:00.000")
FN(dateceil_month, "dateceil(fromMillis(1715000000000), 1mo)", 0, "r=2024-06-01 00:00:00.000")
FN(dateceil_year_end, "dateceil(fromMillis(1734000000000), 1mo)", 0, "r=2025-01-01 00:00:00.000")
FN(frommillis, "fromMillis(1715000000000)", 0, "r=2024-05-06 12:53:20.000")
FN(frommillis_before_epoch, "fromMillis(-1)", 0, "r=1969-12-31 23:59:59.999")
FN(tomillis, "toMillis(@timestamp)", 0, "r=1704164645678")
FN(isvalidip_v4, "isValidIp(ip)", 0, "r=true")
FN(isvalidip_v6, "isValidIp(ip)", 3, "r=true")
FN(isvalidip_bad, "isValidIp(\"10.0.0.256\")", 0, "r=false")
FN(isvalidipv4_of_v6, "isValidIpV4(ip)", 3, "r=false")
FN(isvalidipv6, "isValidIpV6(ip)", 3, "r=true")
FN(in_subnet, "isIpv4InSubnet(ip, \"10.0.0.0/8\")", 0, "r=true")
FN(in_subnet_no, "isIpv4InSubnet(ip, \"10.0.0.0/8\")", 2, "r=false")
FN(in_subnet_24, "isIpv4InSubnet(ip, \"10.0.0.0/24\")", 1, "r=false")
FN(in_subnet_16, "isIpv4InSubnet(ip, \"10.0.0.0/16\")", 1, "r=true")
FN(in_subnet_bad_mask, "isIpv4InSubnet(ip, \"10.0.0.0/33\")", 1, "r=false")
FN(in_subnet_v6, "isIpv6InSubnet(ip, \"::/64\")", 3, "r=true")
FN(arith_precedence, "2 + 3 * 4", 0, "r=14")
FN(arith_parens, "(2 + 3) * 4", 0, "r=20")
FN(arith_mod, "10 % 3", 0, "r=1")
FN(arith_pow, "2 ^ 3", 0, "r=8")
FN(arith_pow_right_assoc, "2 ^ 3 ^ 2", 0, "r=512")
FN(arith_unary_minus, "-latency", 0, "r=-120.5")
FN(arith_double_minus, "- -latency", 0, "r=120.5")
FN(arith_div, "7 / 2", 0, "r=3.5")
FN(arith_div_zero_is_null, "latency / 0", 0, "")
FN(arith_third, "1 / 3", 0, "r=0.3333333333333333")
FN(arith_on_text_number, "took + 1", 4, "r=151")
FN(arith_on_text_is_null, "level + 1", 0, "")
FN(arith_time_difference, "@timestamp - @ingestionTime", 0, "r=-500")
FN(comparison_value, "status > 400", 0, "r=true")
FN(big_number, "1e20", 0, "r=1e+20")
FN(number_literal_text, "0.1 + 0.2", 0, "r=0.30000000000000004")

/* ====================================================================================== */
/* arrival order, memory bound                                                              */
/* ====================================================================================== */

Test(insights_order, result_independent_of_arrival)
{
    static const char *const qs[] = {
        "display @timestamp, @message",
        "limit 3",
        "filter ispresent(latency) | sort latency desc | limit 2",
        "dedup @logStream",
        "stats count(*) as n, earliest(level) as e, latest(level) as l, sortsFirst(path) as f by @logStream",
        "fields @timestamp | sort @logStream | limit 4",
    };
    size_t rev[NEV], mix[NEV];
    for (size_t k = 0; k < NEV; k++) {
        rev[k] = NEV - 1 - k;
        mix[k] = (k * 3 + 1) % NEV;
    }
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        char *a = run_ord(qs[k], EV, NEV, NULL, NULL, NULL, NULL, 1);
        char *b = run_ord(qs[k], EV, NEV, rev, NULL, NULL, NULL, 1);
        char *c = run_ord(qs[k], EV, NEV, mix, NULL, NULL, NULL, 1);
        cr_assert_str_eq(a, b, "[%s]", qs[k]);
        cr_assert_str_eq(a, c, "[%s]", qs[k]);
        free(a);
        free(b);
        free(c);
    }
}

/* Feeds n events with ids id_i = i % card; the rc of the first failure (OWL_OK when none),
 * how many events went in. */
/* The result's fields, row after row, as "name=value" joined by commas (malloc'ed). */
static char *result_string(const owl_ins_result *res)
{
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "");
    for (size_t k = 0; k < owl_ins_result_rows(res); k++)
        for (size_t f = 0; f < owl_ins_result_nfields(res, k); f++) {
            owl_bytes nm, v;
            owl_ins_result_field(res, k, f, &nm, &v);
            owl_buf_printf(&b, "%s%.*s=%.*s", b.len ? "," : "", (int)nm.n, (const char *)nm.p,
                           (int)v.n, (const char *)v.p);
        }
    return owl_buf_steal(&b);
}

static int feed_ids(const char *q, size_t n, size_t card, size_t max_bytes, size_t *fed, char **out)
{
    owl_ins_query *p = parse_ok(q);
    owl_ins_limits lim = {max_bytes, 0};
    owl_ins_run *r;
    owl_error err = {0};
    cr_assert_eq(owl_ins_run_new(p, &lim, &r, &err), OWL_OK);
    int rc = OWL_OK;
    size_t i;
    char msg[200], ptr[32];
    for (i = 0; i < n && rc == OWL_OK; i++) {
        int l = snprintf(msg, sizeof msg, "{\"id\":\"id-%zu\",\"v\":%zu,\"pad\":\"%060zu\"}", i % card,
                         i % 1000, i);
        snprintf(ptr, sizeof ptr, "%zu", i);
        owl_ins_event ev = {(int64_t)i, (int64_t)i, {msg, (size_t)l}, {"s", 1}, {"g", 1},
                            {ptr, strlen(ptr)}};
        rc = owl_ins_run_feed(r, &ev, &err);
    }
    *fed = i;
    int done = -1;
    cr_assert_eq(owl_ins_run_done(r, &done), OWL_OK);
    cr_assert_eq(done, rc != OWL_OK);
    if (rc != OWL_OK) {
        cr_assert_str_eq(err.msg, "the query needs more than its memory limit of 1048576 bytes (too many "
                                  "groups, distinct values or rows kept)");
        owl_ins_event ev = {0};
        cr_assert_eq(owl_ins_run_feed(r, &ev, NULL), rc); /* a failed run stays failed */
        owl_ins_result *res = NULL;
        cr_assert_eq(owl_ins_run_finish(r, &res, NULL), rc);
        cr_assert_null(res);
    } else {
        owl_ins_result *res = NULL;
        cr_assert_eq(owl_ins_run_finish(r, &res, &err), OWL_OK, "%s", err.msg);
        if (out)
            *out = result_string(res);
        owl_ins_result_free(res);
    }
    owl_ins_run_free(r);
    owl_ins_free(p);
    return rc;
}

Test(insights_memory, high_cardinality_stats_fails)
{
    size_t fed;
    int rc = feed_ids("stats count(*) by id", 200000, 200000, 1 << 20, &fed, NULL);
    cr_assert_eq(rc, OWL_ELIMIT);
    cr_assert_lt(fed, 20000, "failed only after %zu groups", fed);
    cr_assert_gt(fed, 1000);
}

Test(insights_memory, low_cardinality_stats_fits)
{
    size_t fed;
    char *out = NULL;
    int rc = feed_ids("stats count(*) as n, sum(v) as s by id", 200000, 4, 1 << 20, &fed, &out);
    cr_assert_eq(rc, OWL_OK);
    /* Python: sum(i % 1000 for i in range(200000) if i % 4 == k) for k in 0..3 */
    cr_assert_str_eq(out, "id=id-0,n=50000,s=24900000,id=id-1,n=50000,s=24950000,"
                          "id=id-2,n=50000,s=25000000,id=id-3,n=50000,s=25050000");
    free(out);
}

Test(insights_memory, count_distinct_fails)
{
    size_t fed;
    cr_assert_eq(feed_ids("stats count_distinct(id)", 200000, 200000, 1 << 20, &fed, NULL), OWL_ELIMIT);
}

Test(insights_memory, pct_values_fail)
{
    size_t fed;
    cr_assert_eq(feed_ids("stats pct(v, 50)", 400000, 1, 1 << 20, &fed, NULL), OWL_ELIMIT);
}

Test(insights_memory, dedup_fails)
{
    size_t fed;
    cr_assert_eq(feed_ids("dedup id", 200000, 200000, 1 << 20, &fed, NULL), OWL_ELIMIT);
}

Test(insights_memory, unsorted_rows_fail_but_top_n_fits)
{
    size_t fed;
    char *out = NULL;
    /* no limit: the newest 10,000 rows with their messages do not fit in 1 MiB */
    cr_assert_eq(feed_ids("fields @message", 200000, 200000, 1 << 20, &fed, NULL), OWL_ELIMIT);
    /* a top 3 keeps 3 rows whatever it is fed */
    cr_assert_eq(feed_ids("sort v desc, @timestamp asc | limit 3 | display id, v", 200000, 200000, 1 << 20, &fed,
                          &out),
                 OWL_OK);
    cr_assert_str_eq(out, "id=id-999,v=999,@ptr=999,id=id-1999,v=999,@ptr=1999,id=id-2999,v=999,@ptr=2999");
    free(out);
    out = NULL;
    cr_assert_eq(feed_ids("limit 2 | display id", 200000, 200000, 1 << 20, &fed, &out), OWL_OK);
    cr_assert_str_eq(out, "id=id-199999,@ptr=199999,id=id-199998,@ptr=199998");
    free(out);
}

/* ====================================================================================== */
/* the push-down condition and the columns                                                 */
/* ====================================================================================== */

static void dump_filter(const owl_filter *f, owl_buf *b)
{
    static const char *const ops[] = {"?", "EQ", "IN", "RANGE", "TOKEN", "SUBSTR", "EXISTS"};
    if (f->kind == OWL_FILTER_PRED) {
        const owl_pred *p = f->pred;
        owl_buf_printf(b, "%s(%zu", ops[p->op], p->col);
        if (p->op == OWL_PRED_EQ)
            owl_buf_printf(b, ",%.*s", (int)p->lo.b.n, (const char *)p->lo.b.p);
        if (p->op == OWL_PRED_SUBSTR || p->op == OWL_PRED_TOKEN)
            owl_buf_printf(b, ",%.*s", (int)p->text.n, (const char *)p->text.p);
        for (size_t k = 0; p->op == OWL_PRED_IN && k < p->nset; k++)
            owl_buf_printf(b, ",%.*s", (int)p->set[k].b.n, (const char *)p->set[k].b.p);
        if (p->op == OWL_PRED_RANGE) {
            if (p->lo.i == INT64_MIN)
                owl_buf_puts(b, ",*");
            else
                owl_buf_printf(b, ",%lld", (long long)p->lo.i);
            if (p->hi.i == INT64_MAX)
                owl_buf_puts(b, ",*");
            else
                owl_buf_printf(b, ",%lld", (long long)p->hi.i);
        }
        owl_buf_puts(b, ")");
        return;
    }
    owl_buf_puts(b, f->kind == OWL_FILTER_AND ? "AND(" : f->kind == OWL_FILTER_OR ? "OR(" : "NOT(");
    for (size_t k = 0; k < f->nkids; k++) {
        if (k)
            owl_buf_puts(b, ",");
        dump_filter(&f->kids[k], b);
    }
    owl_buf_puts(b, ")");
}

static void expect_pushdown(const char *q, const char *want)
{
    owl_ins_query *p = parse_ok(q);
    const owl_filter *f = owl_ins_filter(p);
    if (!want) {
        cr_assert_null(f, "[%s] gave a condition", q);
    } else {
        cr_assert_not_null(f, "[%s] gave no condition", q);
        size_t depth;
        owl_error err = {0};
        cr_assert_eq(owl_filter_check(&owl_logs_schema, f, &depth, &err), OWL_OK, "%s", err.msg);
        owl_buf b = OWL_BUF_INIT;
        dump_filter(f, &b);
        cr_assert_str_eq(b.data, want, "[%s]", q);
        owl_buf_free(&b);
    }
    owl_ins_free(p);
}

#define PD(name, q, want)                                                                    \
    Test(insights_pushdown, name) { expect_pushdown(q, want); }

PD(like, "filter @message like \"ERROR\"", "SUBSTR(3,ERROR)")
PD(and_stream, "filter @message like \"a\" and @logStream = \"web-1\"", "AND(SUBSTR(3,a),EQ(2,web-1))")
PD(or_of_two, "filter @message like \"a\" or @message like /b/", "OR(SUBSTR(3,a),SUBSTR(3,b))")
PD(or_with_unknown, "filter @message like \"a\" or level = 'x'", NULL)
PD(and_with_unknown, "filter @message like \"a\" and level = 'x'", "SUBSTR(3,a)")
PD(stream_in, "filter @logStream in [\"a\", \"b\"]", "IN(2,a,b)")
PD(stream_not_in, "filter @logStream not in [\"a\", \"b\"]", NULL)
PD(time_range, "filter @timestamp >= 1000 and @timestamp < 2000", "AND(RANGE(0,1000,*),RANGE(0,*,2000))")
PD(time_reversed, "filter 5 < @timestamp", "RANGE(0,6,*)")
PD(time_le_fraction, "filter @timestamp <= 10.5", "RANGE(0,*,11)")
PD(time_eq, "filter @timestamp = 7", "RANGE(0,7,8)")
PD(ingest_time, "filter @ingestionTime > 5", "RANGE(1,6,*)")
PD(regex_not_literal, "filter @message like /a.c/", NULL)
PD(regex_literal, "filter @message =~ /timeout/", "SUBSTR(3,timeout)")
PD(not_is_unknown, "filter not @message like \"a\"", NULL)
PD(not_like_unknown, "filter @message not like \"a\"", NULL)
PD(assigned_field, "fields concat(@message, 'x') as @message | filter @message like \"a\"", NULL)
/* the stream a glob parse filled is not the column; but being there, the glob matched */
PD(after_parse, "parse @message \"* *\" as @logStream, b | filter @logStream = 'x'", "SUBSTR(3, )")
PD(parse_glob_ispresent,
   "parse @message \"status: * len: * time: *\" as status, len, time | filter ispresent(time)",
   "AND(SUBSTR(3,status: ),SUBSTR(3, len: ),SUBSTR(3, time: ))")
PD(parse_glob_compared, "parse \"user=* \" as u | filter u = \"bob\"",
   "AND(SUBSTR(3,user=),SUBSTR(3, ))")
PD(parse_glob_or, "parse \"a=*\" as x | parse \"b=*\" as y | filter ispresent(x) or ispresent(y)",
   "OR(SUBSTR(3,a=),SUBSTR(3,b=))")
PD(parse_glob_only_stars, "parse \"*\" as x | filter ispresent(x)", NULL)
PD(parse_regex_not_pushed, "parse @message /user=(?<u>\\S+)/ | filter ispresent(u)", NULL)
PD(parse_field_reassigned, "parse \"a=*\" as x | fields 'k' as x | filter ispresent(x)", NULL)
PD(parse_field_parsed_again, "parse \"a=*\" as x | parse /(?<x>b)/ | filter ispresent(x)", NULL)
PD(parse_of_stream, "parse @logStream \"a*\" as x | filter ispresent(x)", NULL)
PD(parse_not_ispresent, "parse \"a=*\" as x | filter not ispresent(x)", NULL)
PD(parse_message_assigned, "fields 'zz' as @message | parse \"a=*\" as x | filter ispresent(x)",
   NULL)
PD(parse_after_filter, "filter ispresent(x) | parse \"a=*\" as x", NULL)
PD(after_stats, "stats count(*) as n by @message | filter @message like \"a\"", NULL)
PD(after_limit, "limit 5 | filter @message like 'x'", NULL)
PD(two_filters, "filter @message like \"a\" | sort @timestamp | filter @logStream = \"s\"",
   "AND(SUBSTR(3,a),EQ(2,s))")
PD(strcontains, "filter strcontains(@message, \"zz\")", "SUBSTR(3,zz)")
PD(numeric_text_not_pushed, "filter @message = \"1.0\"", NULL)
PD(message_eq, "filter @message = \"hello\"", "EQ(3,hello)")
PD(none, "fields @message", NULL)
PD(empty_like_not_pushed, "filter @message like \"\"", NULL)

/* Every event that the leading filters keep passes the condition (pred.c's row check). */
Test(insights_pushdown, necessary_on_every_event)
{
    static const char *const qs[] = {
        "filter @message like \"ERROR\"",
        "filter @message like \"a\" or @message like /api/",
        "filter @logStream in [\"web-1\", \"worker\"] and @message like 'o'",
        "filter @timestamp >= 1704164700000 and @timestamp <= 1704168060000",
        "filter @ingestionTime > 1704168000500",
        "filter @message =~ /ERROR/ and (@logStream = 'web-1' or @logStream = 'worker')",
        "filter strcontains(@message, \"took\") | filter @timestamp < 1704168060000.5",
        "filter @message = \"plain text line without pairs\"",
        "filter 1704164646000 >= @timestamp",
        "parse @message \"job=* \" as j | filter ispresent(j)",
        "parse \"took=* \" as t | filter t > 100",
        "parse \"\\\"status\\\":*,\" as st | filter st = 500",
    };
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        owl_ins_query *p = parse_ok(qs[k]);
        const owl_filter *f = owl_ins_filter(p);
        cr_assert_not_null(f, "[%s]", qs[k]);
        size_t depth, kept = 0;
        cr_assert_eq(owl_filter_check(&owl_logs_schema, f, &depth, NULL), OWL_OK);
        for (size_t e = 0; e < NEV; e++) {
            owl_ins_run *r;
            cr_assert_eq(owl_ins_run_new(p, NULL, &r, NULL), OWL_OK);
            char ptr[32];
            owl_ins_event ev = mkev(&EV[e], ptr, sizeof ptr, e);
            cr_assert_eq(owl_ins_run_feed(r, &ev, NULL), OWL_OK);
            owl_ins_result *res;
            cr_assert_eq(owl_ins_run_finish(r, &res, NULL), OWL_OK);
            owl_ins_stats st;
            owl_ins_result_stats(res, &st);
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
            if (st.records_matched)
                cr_assert(keep, "[%s] event %zu matched but fails the condition", qs[k], e);
            kept += st.records_matched;
            owl_ins_result_free(res);
            owl_ins_run_free(r);
        }
        cr_assert_gt(kept, 0, "[%s] keeps nothing: a weak test", qs[k]);
        owl_ins_free(p);
    }
}

static void expect_columns(const char *q, unsigned want)
{
    owl_ins_query *p = parse_ok(q);
    cr_assert_eq(owl_ins_columns(p), want, "[%s] 0x%x", q, owl_ins_columns(p));
    owl_ins_free(p);
}

#define COLS(name, q, want)                                                                  \
    Test(insights_columns, name) { expect_columns(q, want); }

#define B(c) (1u << OWL_LOGS_##c)
COLS(count_only, "stats count(*)", B(TIME))
COLS(discovered_field, "filter level = 'x' | stats count(*)", B(TIME) | B(MESSAGE))
COLS(stream_only, "filter @logStream = 'a' | stats count(*) by @logStream", B(TIME) | B(STREAM))
COLS(ingest_output, "fields @ingestionTime", B(TIME) | B(INGEST_TIME))
COLS(default_output, "filter @logStream = 'x'", B(TIME) | B(MESSAGE) | B(STREAM))
COLS(after_stats_names_no_message, "stats count(*) as n by bin(1h) | filter n > 2", B(TIME))
COLS(parse_reads_message, "parse @message '* *' as a, b | stats count(*) by a", B(TIME) | B(MESSAGE))

/* ====================================================================================== */
/* run lifecycle and ties                                                                   */
/* ====================================================================================== */

Test(insights_run, finish_once_and_no_feed_after)
{
    owl_ins_query *q = parse_ok("stats count(*) as n");
    owl_ins_run *r;
    owl_error err = {0};
    cr_assert_eq(owl_ins_run_new(q, NULL, &r, &err), OWL_OK);
    char ptr[32];
    owl_ins_event ev = mkev(&EV[0], ptr, sizeof ptr, 0);
    cr_assert_eq(owl_ins_run_feed(r, &ev, &err), OWL_OK);
    owl_ins_result *res;
    cr_assert_eq(owl_ins_run_finish(r, &res, &err), OWL_OK);
    cr_assert_str_eq(owl_ins_result_get(res, 0, "n"), "1");
    cr_assert_null(owl_ins_result_get(res, 0, "m"));
    cr_assert_eq(owl_ins_result_nfields(res, 1), 0);
    owl_ins_result *again = (owl_ins_result *)1;
    cr_assert_eq(owl_ins_run_finish(r, &again, &err), OWL_EINVAL);
    cr_assert_null(again);
    cr_assert_str_eq(err.msg, "the run is finished");
    cr_assert_eq(owl_ins_run_feed(r, &ev, NULL), OWL_EINVAL);
    owl_ins_result_free(res);
    owl_ins_result_free(NULL);
    owl_ins_run_free(r);
    owl_ins_run_free(NULL);
    owl_ins_free(q);
}

Test(insights_run, empty_message_and_missing_ptr)
{
    owl_ins_query *q = parse_ok("filter @message = '' | fields strlen(@message) as l");
    owl_ins_run *r;
    cr_assert_eq(owl_ins_run_new(q, NULL, &r, NULL), OWL_OK);
    owl_ins_event ev = {5, 6, {NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    cr_assert_eq(owl_ins_run_feed(r, &ev, NULL), OWL_OK);
    owl_ins_result *res;
    cr_assert_eq(owl_ins_run_finish(r, &res, NULL), OWL_OK);
    cr_assert_eq(owl_ins_result_rows(res), 1);
    cr_assert_eq(owl_ins_result_nfields(res, 0), 1); /* l, and no @ptr */
    cr_assert_str_eq(owl_ins_result_get(res, 0, "l"), "0");
    owl_ins_result_free(res);
    owl_ins_run_free(r);
    owl_ins_free(q);
}

Test(insights_run, equal_numbers_tie_by_text)
{
    static const tev ev[] = {{1, "s", "{\"v\": 1.0}"}, {2, "s", "{\"v\": 1}"}, {3, "s", "{\"v\": 2.50}"},
                             {4, "s", "{\"v\": 2.5}"}};
    static const size_t fwd[] = {0, 1, 2, 3}, rev[] = {3, 2, 1, 0};
    const char *q = "stats min(v) as lo, max(v) as hi";
    char *a = run_ord(q, ev, 4, fwd, NULL, NULL, NULL, 0), *b = run_ord(q, ev, 4, rev, NULL, NULL, NULL, 0);
    cr_assert_str_eq(a, "lo=1, hi=2.5");
    cr_assert_str_eq(b, a);
    free(a);
    free(b);
}

/* owl_ins_time_order: which queries keep the newest (or oldest) events of their first limit,
 * so that a scan in time order may stop early. */
Test(insights_exec, time_order)
{
    static const struct {
        const char *q;
        int want;
    } cases[] = {
        {"fields @message", -1}, /* CloudWatch's default: newest first */
        {"fields @timestamp, @message | limit 5", -1},
        {"fields @timestamp, @message | sort @timestamp desc | limit 100", -1},
        {"fields @message, @timestamp as @timestamp | sort @timestamp asc | limit 3", 1},
        {"sort @timestamp desc | limit 5", -1},
        {"sort @timestamp asc | limit 5", 1},
        {"filter @message like /x/ | sort @timestamp | limit 5", 1},
        {"sort @message | sort @timestamp asc | limit 2", 1}, /* the last sort leads */
        {"sort @timestamp desc, @message asc | limit 2", -1},
        {"sort @timestamp desc | limit 5 | sort @message", -1},
        {"sort @message | limit 5", 0},
        {"sort @ingestionTime desc | limit 5", 0},
        {"fields @timestamp as t | sort t desc | limit 5", 0},
        {"fields @ingestionTime as @timestamp | sort @timestamp desc | limit 5", 0},
        {"parse @message \"* *\" as @timestamp, x | sort @timestamp asc | limit 5", 0},
        {"sort @timestamp desc | fields @ingestionTime as @timestamp | limit 5", -1},
        {"stats count(*)", 0},
        {"sort @timestamp desc | stats count(*) by bin(1m)", 0},
        {"dedup @logStream | limit 5", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl_ins_query *q = parse_ok(cases[i].q);
        cr_assert_eq(owl_ins_time_order(q), cases[i].want, "%s", cases[i].q);
        owl_ins_free(q);
    }
}

static void feed_time(owl_ins_run *r, int64_t t, const char *ptr)
{
    owl_error err = {0};
    owl_ins_event ev = {t, t, {"m", 1}, {"s", 1}, {"g", 1}, {ptr, strlen(ptr)}};
    cr_assert_eq(owl_ins_run_feed(r, &ev, &err), OWL_OK, "%s", err.msg);
}

/* owl_ins_run_past: once the top-N rows are kept, an event strictly past the worst of them
 * cannot enter; one of equal time can (it may win on a tie-break). */
Test(insights_exec, run_past)
{
    static const char *qs[] = {"sort @timestamp desc | limit 2", "sort @timestamp asc | limit 2",
                               "stats count(*) by bin(1m)"};
    for (int k = 0; k < 3; k++) {
        owl_ins_query *q = parse_ok(qs[k]);
        owl_ins_run *r;
        owl_error err = {0};
        cr_assert_eq(owl_ins_run_new(q, NULL, &r, &err), OWL_OK);
        int64_t t[] = {30, 20, 10}, u[] = {10, 20, 30};
        const int64_t *ts = k == 1 ? u : t;
        feed_time(r, ts[0], "a");
        cr_assert_eq(owl_ins_run_past(r, ts[2]), 0, "one row kept of two");
        feed_time(r, ts[1], "b");
        cr_assert_eq(owl_ins_run_past(r, ts[1]), 0, "a tie may still enter");
        cr_assert_eq(owl_ins_run_past(r, ts[2]), k < 2, "%s", qs[k]);
        cr_assert_eq(owl_ins_run_past(r, k == 1 ? 15 : 25), 0);
        owl_ins_run_free(r);
        owl_ins_free(q);
    }
}

/* stats ... by bin(): the group of the previous row is reused while the floor is the same;
 * rows out of time order, and a bin key that is not a time, still count where they belong. */
Test(insights_exec, bin_groups_out_of_order)
{
    static const tev ev[] = {{60000, "s", "a"},  {61000, "s", "b"},  {0, "s", "c"},
                             {119999, "s", "d"}, {59999, "s", "e"},  {120000, "s", "f"},
                             {60500, "s", "g"},  {-1, "s", "h"}};
    char *got = run_ord("stats count(*) as n by bin(1m) as t | sort t", ev, 8, NULL, NULL, NULL,
                        NULL, 0);
    cr_assert_str_eq(got, "t=1969-12-31 23:59:00.000, n=1 | t=1970-01-01 00:00:00.000, n=2 | "
                          "t=1970-01-01 00:01:00.000, n=4 | t=1970-01-01 00:02:00.000, n=1");
    free(got);
    got = run_ord("fields @message as t | stats count(*) as n by datefloor(t, 1m) as b", ev, 8,
                  NULL, NULL, NULL, NULL, 0);
    cr_assert_str_eq(got, "n=8", "no message is a time: one null key");
    free(got);
}

/* owl_ins_run_feed_batch gives what feeding each event does: the count-by-bin way (events in
 * the last group's period only add to its counts) and the general one, events out of order,
 * at the edges of periods and beyond the times datefloor() takes. */
Test(insights_exec, feed_batch_equals_feed)
{
    static const char *qs[] = {"stats count(*) as n, count(*) as m by bin(1m) as t | sort t",
                               "stats count(*) as n by bin(1h)",
                               "stats count(*) as n, max(@timestamp) as x by bin(1m) as t",
                               "filter @message like 'x' | stats count(*) as n by bin(1m)",
                               "fields @message | limit 3"};
    int64_t times[64];
    char msgs[64][16];
    owl_ins_event ev[64];
    for (int i = 0; i < 64; i++) {
        times[i] = i < 40 ? 59000 + (int64_t)(i % 7) * 500 + (i / 7) * 60000 : -60001 + i;
        if (i == 50)
            times[i] = 9000000000000000LL + 5;
        if (i == 51)
            times[i] = 8999999999999999LL;
        snprintf(msgs[i], sizeof msgs[i], "%sm%d", i % 3 ? "x" : "", i);
        ev[i] = (owl_ins_event){times[i], 0, {msgs[i], strlen(msgs[i])}, {"s", 1}, {"g", 1},
                                {msgs[i], strlen(msgs[i])}};
    }
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        char *out[3];
        owl_ins_stats st[3];
        for (int way = 0; way < 3; way++) {
            owl_ins_query *q = parse_ok(qs[k]);
            owl_ins_run *r;
            owl_error err = {0};
            cr_assert_eq(owl_ins_run_new(q, NULL, &r, &err), OWL_OK);
            /* the times alone do for the two count-by-bin queries only */
            cr_assert_eq(owl_ins_run_times_only(r), k < 2, "%s", qs[k]);
            if (way == 0 || (way == 2 && k >= 2)) {
                if (way == 2)
                    cr_assert_eq(owl_ins_run_feed_times(r, times, 64, &err), OWL_EINVAL);
                for (int i = 0; i < 64; i++)
                    cr_assert_eq(owl_ins_run_feed(r, &ev[i], &err), OWL_OK, "%s", err.msg);
            } else if (way == 2) {
                cr_assert_eq(owl_ins_run_feed_times(r, times, 30, &err), OWL_OK, "%s", err.msg);
                cr_assert_eq(owl_ins_run_feed_times(r, times + 30, 0, &err), OWL_OK);
                cr_assert_eq(owl_ins_run_feed_times(r, times + 30, 34, &err), OWL_OK);
            } else {
                cr_assert_eq(owl_ins_run_feed_batch(r, ev, 30, &err), OWL_OK, "%s", err.msg);
                cr_assert_eq(owl_ins_run_feed_batch(r, ev + 30, 34, &err), OWL_OK);
            }
            owl_ins_result *res;
            cr_assert_eq(owl_ins_run_finish(r, &res, &err), OWL_OK, "%s", err.msg);
            owl_ins_result_stats(res, &st[way]);
            out[way] = result_string(res);
            owl_ins_result_free(res);
            owl_ins_run_free(r);
            owl_ins_free(q);
        }
        cr_assert_str_eq(out[1], out[0], "%s", qs[k]);
        cr_assert_str_eq(out[2], out[0], "%s", qs[k]);
        cr_assert_gt(strlen(out[0]), 10, "%s", qs[k]);
        cr_assert_eq(st[1].records_scanned, 64);
        cr_assert_eq(st[1].records_matched, st[0].records_matched);
        cr_assert_eq(st[1].bytes_scanned, st[0].bytes_scanned);
        cr_assert_eq(st[2].records_scanned, 64);
        cr_assert_eq(st[2].records_matched, st[0].records_matched);
        free(out[0]);
        free(out[1]);
        free(out[2]);
    }
    /* a failed run fails a batch too */
    owl_ins_query *q = parse_ok("stats count(*) by bin(1m)");
    owl_ins_run *r;
    owl_ins_limits lim = {1, 0};
    cr_assert_eq(owl_ins_run_new(q, &lim, &r, NULL), OWL_OK);
    cr_assert_eq(owl_ins_run_feed_batch(r, ev, 64, NULL), OWL_ELIMIT);
    cr_assert_eq(owl_ins_run_feed_batch(r, ev, 1, NULL), OWL_ELIMIT);
    cr_assert_eq(owl_ins_run_feed_times(r, times, 1, NULL), OWL_ELIMIT);
    owl_ins_run_free(r);
    cr_assert_eq(owl_ins_run_new(q, &lim, &r, NULL), OWL_OK);
    cr_assert_eq(owl_ins_run_feed_times(r, times, 64, NULL), OWL_ELIMIT);
    owl_ins_run_free(r);
    owl_ins_free(q);
}

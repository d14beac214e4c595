/* test_filterpat.c — index/filterpat.c: CloudWatch Logs filter patterns. A table of cases, each
 * a pattern, a fixed set of events (log lines, JSON lines, Apache access lines) and the
 * indexes it must match; malformed patterns with their error and position; the values metric
 * filters read (owl_fpat_extract) and the references they may name (owl_fpat_check_ref).
 * On every case, every matched event must also pass owl_fpat_filter's condition, both by
 * pred.c's row check and by its block check over a bloom of the event's tokens. And a
 * cross-check against counts taken with grep/python over Loghub HDFS and an Apache log. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/bloom.h"
#include "index/index.h"
#include "index/pred.h"
#include "tests/unit/testfs.h"

/* ---- the event sets ---- */

static const char *const TXT[] = {
    "[ERROR 400] BAD REQUEST",                                   /* 0 */
    "[ERROR 401] UNAUTHORIZED REQUEST",                          /* 1 */
    "[ERROR 419] MISSING ARGUMENTS",                             /* 2 */
    "[ERROR 420] INVALID ARGUMENTS",                             /* 3 */
    "[WARN] disk usage at 91% on /dev/sda1",                     /* 4 */
    "[INFO] AUTHORIZED REQUEST from user_42",                    /* 5 */
    "Exception in thread \"main\" java.lang.NullPointerException", /* 6 */
    "2024-05-01T10:00:00Z INFO request_id=abc-123 latency=120ms", /* 7 */
    "ERRORS: 3 retries exhausted",                               /* 8 */
    "",                                                          /* 9 */
    "warn: lowercase warning only",                              /* 10 */
    "Timeout after 30s: upstream=10.0.0.5:8080",                 /* 11 */
    NULL};

static const char *const JSN[] = {
    "{\"eventType\":\"UpdateTrail\",\"user\":{\"id\":1,\"email\":\"John.Doe@example.com\"},"
    "\"latency\":120,\"ok\":true}",                                                   /* 0 */
    "{\"eventType\": \"DeleteTrail\", \"user\": {\"id\": 2, \"email\": \"jane@example.org\"}, "
    "\"latency\": 900, \"ok\": false}",                                               /* 1 */
    "{\"eventType\":\"UpdateTrail\",\"sourceIPAddress\":\"123.123.1.7\",\"latency\":1.5e3,"
    "\"error\":null}",                                                                /* 2 */
    "{\"eventType\":\"CreateTrail\",\"users\":[{\"name\":\"a\",\"email\":\"a@x.io\"},"
    "{\"name\":\"b\"}],\"actions\":[\"GET\",\"PUT\",\"DELETE\"]}",                    /* 3 */
    "{\"eventType\":\"Update\\u0054rail\",\"latency\":-5,\"tags\":[]}",               /* 4 */
    "{\"eventType\":\"ConsoleLogin\",\"sourceIPAddress\":\"10.1.2.3\","
    "\"responseElements\":{\"ConsoleLogin\":\"Failure\"},\"ok\":true}",               /* 5 */
    "eventType=UpdateTrail latency=100",                                              /* 6 */
    "[1,2,3]",                                                                        /* 7 */
    "{\"eventType\":\"UpdateTrail\",\"latency\":\"300\"}",                            /* 8 */
    "{\"broken\": \"json\"",                                                          /* 9 */
    "{\"numbers\":[10,20,30],\"nested\":{\"a\":{\"b\":{\"c\":\"deep\"}}},\"code\":\"E42\"}",
    "{\"eventType\":\"UpdateTrail\",\"eventType\":\"Other\"}",                        /* 11 */
    NULL};

static const char *const APA[] = {
    "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 1534",
    "127.0.0.1 - - [10/Oct/2000:13:35:22 -0700] \"GET /index.html HTTP/1.0\" 404 209",
    "10.0.0.8 - alice [11/Oct/2000:08:01:02 -0700] \"POST /api/login HTTP/1.1\" 401 57",
    "10.0.0.9 - bob [11/Oct/2000:08:01:05 -0700] \"GET /reports/q3.html HTTP/1.1\" 500 12093",
    "192.168.1.20 - - [11/Oct/2000:08:02:00 -0700] \"GET /favicon.ico HTTP/1.1\" 304 0",
    "192.168.1.21 - carol [11/Oct/2000:08:03:10 -0700] \"PUT /api/items/7 HTTP/1.1\" 201 2048",
    "10.0.0.8 - alice [11/Oct/2000:08:04:00 -0700] \"GET /big.iso HTTP/1.1\" 200 734003200",
    "ERROR short line",
    "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /x HTTP/1.0\" 410 1.5e2",
    "10.0.0.7 - - [12/Oct/2000:00:00:01 -0700] \"DELETE /api/items/9 HTTP/1.1\" 403 0 "
    "\"curl/8.0\"",
    NULL};

typedef struct mcase {
    const char *const *ev;
    const char *pat;
    const char *want; /* indexes, comma-separated; "" for none; "*" for every event */
} mcase;

static const mcase cases[] = {
    /* ---- unstructured terms ---- */
    {TXT, "", "*"},
    {TXT, "   ", "*"},
    {TXT, "ERROR", "0,1,2,3"}, /* a whole word: not ERRORS */
    {TXT, "ERROR ARGUMENTS", "2,3"},
    {TXT, "ERROR -ARGUMENTS", "0,1"},
    {TXT, "?ERROR ?ARGUMENTS", "0,1,2,3"},
    {TXT, "\"ERROR 401\"", "1"},
    {TXT, "\"INVALID ARGUMENTS\"", "3"},
    {TXT, "AUTHORIZED", "5"}, /* not inside UNAUTHORIZED */
    {TXT, "%AUTHORIZED%", "1,5"}, /* AWS's regex example: inside words too */
    {TXT, "-ERROR", "4,5,6,7,8,9,10,11"},
    {TXT, "Exception", "6"},
    {TXT, "\"Exception in thread\"", "6"},
    {TXT, "error", ""},
    {TXT, "WARN", "4"},
    {TXT, "?WARN ?warn", "4,10"},
    {TXT, "INFO REQUEST", "5"},
    {TXT, "user_42", "5"},
    {TXT, "\"request_id=abc-123\"", "7"},
    {TXT, "\"10.0.0.5:8080\"", "11"},
    {TXT, "\"\\\"main\\\"\"", "6"},
    {TXT, "\"\"", "*"},
    {TXT, "ERROR ?400 ?401", "0,1"},
    {TXT, "ERROR ?400 ?401 -UNAUTHORIZED", "0"},
    {TXT, "-ERROR -WARN -INFO", "6,8,9,10,11"},
    {TXT, "?ERRORS ?Timeout", "8,11"},
    {TXT, "91", "4"},
    {TXT, "30s", "11"},
    {TXT, "R", ""},
    {TXT, "\"R\"", "0,1,2,3,4,5,8"}, /* quoted: the bytes anywhere */
    {TXT, "-\"\"", ""},
    {TXT, "ERROR\t  ARGUMENTS", "2,3"},
    {TXT, "?\"BAD REQUEST\" ?\"INVALID ARGUMENTS\"", "0,3"},
    {TXT, "REQUEST -\"BAD REQUEST\"", "1,5"},
    {TXT, "lowercase", "10"},
    {TXT, "NullPointerException Exception", "6"},
    {TXT, "\"disk usage at 91%\" \"/dev/sda1\"", "4"},
    {TXT, "?\"\" ?ERROR", "*"},
    /* ---- regular expressions alone ---- */
    {TXT, "%AUTHORIZED%", "1,5"},
    {TXT, "%^\\[ERROR%", "0,1,2,3"},
    {TXT, "%ERROR\\s40[01]%", "0,1"},
    {TXT, "%[Ee]rror|[Ww]arn%", "10"},
    {TXT, "%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "11"},
    {TXT, "%ERRORS?:%", "8"},
    {TXT, "%^$%", "9"},
    {TXT, "%latency=[0-9]+ms$%", "7"},
    {TXT, "%REQUEST$%", "0,1"},
    {TXT, "%warn.*only%", "10"},
    {TXT, "  %user_[0-9]{2}%  ", "5"},
    {TXT, "%[^A-Za-z0-9_]main%", "6"},
    /* ---- JSON ---- */
    {JSN, "{ $.eventType = \"UpdateTrail\" }", "0,2,4,8"},
    {JSN, "{ $.eventType = UpdateTrail }", "0,2,4,8"},
    {JSN, "{ $.eventType != \"UpdateTrail\" }", "1,3,5,11"},
    {JSN, "{ $.eventType = \"*Trail\" }", "0,1,2,3,4,8"},
    {JSN, "{ $.eventType = \"Update*\" }", "0,2,4,8"},
    {JSN, "{ $.eventType = * }", "0,1,2,3,4,5,8,11"},
    {JSN, "{ $.sourceIPAddress != 123.123.* }", "5"},
    {JSN, "{ $.sourceIPAddress = 123.123.* }", "2"},
    {JSN, "{ $.latency > 500 }", "1,2"},
    {JSN, "{ $.latency >= 120 }", "0,1,2"},
    {JSN, "{ $.latency < 0 }", "4"},
    {JSN, "{ $.latency <= 120 }", "0,4"},
    {JSN, "{ $.latency = 1500 }", "2"},
    {JSN, "{ $.latency = 1.5e3 }", "2"},
    {JSN, "{ $.latency != 120 }", "1,2,4,8"},
    {JSN, "{ $.latency = 300 }", "8"},
    {JSN, "{ $.user.id = 1 }", "0"},
    {JSN, "{ $.user.email = \"*@example.com\" }", "0"},
    {JSN, "{ ($.user.id = 2) && ($.user.email = \"jane@example.org\") }", "1"},
    {JSN, "{ $.user.id = 1 || $.user.id = 2 }", "0,1"},
    {JSN, "{ $.users[0].email = \"a@x.io\" }", "3"},
    {JSN, "{ $.users[1].email NOT EXISTS }", "0,1,2,3,4,5,8,10,11"},
    {JSN, "{ $.actions[2] = \"DELETE\" }", "3"},
    {JSN, "{ $.actions[3] = \"DELETE\" }", ""},
    {JSN, "{ $.error IS NULL }", "2"},
    {JSN, "{ $.error NOT EXISTS }", "0,1,3,4,5,8,10,11"},
    {JSN, "{ $.ok IS TRUE }", "0,5"},
    {JSN, "{ $.ok IS FALSE }", "1"},
    {JSN, "{ $.responseElements.ConsoleLogin = \"Failure\" }", "5"},
    {JSN, "{ $.numbers[1] = 20 }", "10"},
    {JSN, "{ $.numbers[0] < 15 && $.numbers[2] > 25 }", "10"},
    {JSN, "{ $.nested.a.b.c = deep }", "10"},
    {JSN, "{ $.code = %^E[0-9]+$% }", "10"},
    {JSN, "{ $.eventType = %Trail$% }", "0,1,2,3,4,8"},
    {JSN, "{ ($.eventType = CreateTrail || $.eventType = DeleteTrail) && $.latency > 100 }",
     "1"},
    {JSN, "{ $.eventType = CreateTrail || $.eventType = DeleteTrail && $.latency > 100 }",
     "1,3"},
    {JSN, "{ $.tags = \"x\" }", ""},
    {JSN, "{ $.tags != \"x\" }", "4"},
    {JSN, "{$.eventType=\"UpdateTrail\"}", "0,2,4,8"},
    {JSN, "  { $.user.id = 1 } ", "0"},
    {JSN, "{ $.latency > -10 && $.latency < 0 }", "4"},
    {JSN, "{ $.user = \"x\" }", ""},
    {JSN, "{ $.eventType = \"updatetrail\" }", ""},
    {JSN, "{ $.latency = 1e2 }", ""},
    {JSN, "{ $.latency > 1E3 }", "2"},
    {JSN, "{ (($.ok IS TRUE)) }", "0,5"},
    {JSN, "{ $.actions[0] = GET && $.actions[1] = PUT }", "3"},
    {JSN, "{ $.eventType = \"ConsoleLogin\" && $.responseElements.ConsoleLogin != \"Success\" }",
     "5"},
    {JSN, "{ $.latency = -5 }", "4"},
    {JSN, "{ $.eventType NOT EXISTS }", "10"},
    {JSN, "{ $.ok IS TRUE || $.error IS NULL }", "0,2,5"},
    {JSN, "{ $.ok IS TRUE && $.latency > 0 }", "0"},
    {JSN, "{ $.eventType = \"Other\" }", "11"},
    {TXT, "{ $.a NOT EXISTS }", ""},
    {JSN, "ERROR", ""},
    {JSN, "UpdateTrail", "0,2,6,8,11"},
    /* ---- space-delimited ---- */
    {APA, "[ip, user, username, timestamp, request, status_code, bytes]", "0,1,2,3,4,5,6,8"},
    {APA, "[ip, user, username, timestamp, request, status_code = 404, bytes]", "1"},
    {APA, "[ip, user, username, timestamp, request, status_code = 4*, bytes]", "1,2,8"},
    {APA, "[ip, user, username, timestamp, request = \"*html*\", status_code, bytes]", "1,3"},
    {APA, "[ip, ..., status_code = 200, bytes]", "0,6"},
    {APA, "[..., status_code = 5*, bytes]", "3"},
    {APA, "[ip, user, username, timestamp, request, status_code, bytes > 1000]", "0,3,5,6"},
    {APA, "[ip, user, username = frank, ...]", "0,8"},
    {APA, "[ip = 10.0.0.*, ...]", "2,3,6,9"},
    {APA, "[ip, user, username != \"-\", ...]", "0,2,3,5,6,7,8"},
    {APA, "[w1 = ERROR, w2, w3]", "7"},
    {APA, "[w1 = ERROR, ...]", "7"},
    {APA, "[...]", "*"},
    {APA, "[]", ""},
    {APA, "[ip, ..., status_code = 401 || status_code = 403, bytes]", "2"},
    {APA, "[ip, ..., status_code = 401 || = 403, ...]", "2,9"},
    {APA, "[ip, ..., status_code >= 400 && status_code < 500, bytes]", "1,2,8"},
    {APA, "[ip, user, username, timestamp, request = %^GET%, status_code, bytes]",
     "0,1,3,4,6,8"},
    {APA, "[ip, user, username, timestamp, request = %^P[OU][ST]%, ...]", "2,5"},
    {APA, "[ip, user, username, timestamp = \"11/Oct*\", ...]", "2,3,4,5,6"},
    {APA, "[ip, ..., bytes = 0]", "4"},
    {APA, "[..., agent = \"curl*\"]", "9"},
    {APA, "[ip, user, username, timestamp, request, status_code, bytes, agent]", "9"},
    {APA, "[a, b, c]", "7"},
    {APA, "[a, ..., b, ..., c]", "*"},
    {APA, "[ip, user, username, timestamp, request, status_code = 200, bytes < 2000]", "0"},
    {APA, "[ip, user, username, timestamp, request, status_code != 200, bytes]",
     "1,2,3,4,5,8"},
    {APA, "[ip, user, username, timestamp, request, status_code, bytes = 150]", "8"},
    {APA, "[ip=127.0.0.1, user, username, timestamp, request, status_code, bytes]", "0,1,8"},
    {APA, "[ip, user, username, timestamp, request = \"GET /index.html HTTP/1.0\", "
          "status_code, bytes]", "1"},
    {APA, "[ip, user, username, timestamp = \"*-0700\", request, ...]", "0,1,2,3,4,5,6,8,9"},
    {APA, "[ip, ..., status = 2* && status != 201, bytes]", "0,6"},
    {APA, "[ ip ,user,username , ... ]", "*"},
    {APA, "[..., request = \"DELETE*\", status, bytes, agent]", "9"},
    {TXT, "[level, ...]", "0,1,2,3,4,5,6,7,8,10,11"},
    {TXT, "[level = \"ERROR 4*\", ...]", "0,1,2,3"},
    {TXT, "[level = \"ERROR 4*\", msg, ARGUMENTS]", "0,1,2,3"}, /* a name, not a value */
    {JSN, "[a]", "0,2,3,4,5,7,8,10,11"},
    /* ---- unstructured over access lines ---- */
    {APA, "\"GET /index.html\"", "1"},
    {APA, "404", "1"},
    {APA, "frank ?404 ?410", "8"},
    {APA, "%HTTP/1\\.0%", "0,1,8"},
    {APA, "alice -login", "6"},
};

typedef struct ecase {
    const char *pat;
    const char *msg; /* a part of the message */
    size_t pos;      /* the 1-based position it names */
} ecase;

static const ecase errors[] = {
    {"{ $.eventType = \"UpdateTrail\" ", "unexpected end of pattern, expected '}'", 31},
    {"[ip, user]]", "unexpected ']' after the closing ']'", 11},
    {"{ $.a = 1 }}", "unexpected '}' after the closing '}'", 12},
    {"ERROR:", "unexpected ':'", 6},
    {"\"unterminated", "unterminated string", 1},
    {"%abc", "unterminated regular expression", 1},
    {"%%", "empty regular expression", 1},
    {"%a(b)%", "'(' is not supported", 3},
    {"%abc!%", "'!' is not allowed in a regular expression", 5},
    {"%a b%", "' ' is not allowed in a regular expression", 3},
    {"%\\1%", "unsupported escape '\\1'", 2},
    {"ERROR %x%", "a regular expression must be the whole pattern", 7},
    {"%a% b", "unexpected 'b' after the closing '%'", 5},
    {"{ $.a = %x% && $.b = %y% && $.c = %z% }", "at most 2 regular expressions", 35},
    {"{ $.a > abc }", "'>' compares numbers", 9},
    {"{ a = 1 }", "unexpected 'a', expected a selector", 3},
    {"{ $ = 1 }", "unexpected ' ', expected '.' or '['", 4},
    {"{ $.a[*] = 1 }", "wildcard array indexes", 7},
    {"{ $.* = 1 }", "wildcard selectors are not supported", 5},
    {"{ $.a IS MAYBE }", "expected NULL, TRUE or FALSE", 10},
    {"{ $.a NOT THERE }", "expected EXISTS after NOT", 11},
    {"{ $.a ~ 1 }", "expected an operator", 7},
    {"{ ($.a = 1 }", "unexpected '}', expected ')'", 12},
    {"{ $.a = 1 && }", "unexpected '}', expected a selector", 14},
    {"{ $.a = }", "unexpected '}', expected a value", 9},
    {"{ $.a = 1 $.b = 2 }", "unexpected '$', expected '&&', '||' or '}'", 11},
    {"[ip, user", "unexpected end of pattern, expected ',' or ']'", 10},
    {"[ip, , user]", "unexpected ',', expected a field name", 6},
    {"[ip, ip]", "field name 'ip' used twice", 6},
    {"[ip, status = 4* || bytes = 5]", "names another field", 21},
    {"[ip, bytes > big]", "'>' compares numbers", 14},
    {"[ip, user, ... , status =]", "unexpected ']', expected a value", 26},
    {"-", "unexpected end of pattern, expected a term", 2},
    {"? ERROR", "unexpected ' ', expected a term", 2},
    {"\"ERROR\"x", "unexpected 'x'", 8},
    {"{ $.a = \"x }", "unterminated string", 9},
    {"[ip] extra", "unexpected 'e' after the closing ']'", 6},
    {"{ $.a.b[12 = 1 }", "expected ']'", 11},
    {"{ $.a = %ab\\%", "'\\' at the end of a regular expression", 12},
    {"{ $.a = %[% }", "bad regular expression", 11},
    {"%\\q%", "unsupported escape '\\q'", 2},
    {"[ip, ...., x]", "unexpected '.', expected ',' or ']'", 9},
    {"{ }", "unexpected '}', expected a selector", 3},
    {"[ip = ]", "unexpected ']', expected a value", 7},
    {"{ $.a IS }", "unexpected '}', expected NULL, TRUE or FALSE", 10},
    {"ERROR }", "unexpected '}'", 7},
    {"{ $.a = 1 } && { $.b = 2 }", "unexpected '&' after the closing '}'", 13},
    {"%caf\xc3\xa9%", "multi-byte characters are not supported", 5},
    {"{ $.a IS NULLX }", "expected NULL, TRUE or FALSE", 10},
    {"[ip, user = \"x]", "unterminated string", 13},
};

Test(filterpat, patterns_over_1024_bytes_are_refused)
{
    char pat[1100];
    memset(pat, 'a', sizeof pat);
    owl_fpat *p = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_fpat_compile(pat, 1024, &p, &err), OWL_OK, "%s", err.msg);
    owl_fpat_free(p);
    cr_assert_eq(owl_fpat_compile(pat, 1025, &p, &err), OWL_EINVAL);
    cr_expect_null(p);
    cr_expect(strstr(err.msg, "longer than 1024 bytes at position 1025"), "%s", err.msg);
}

/* ---- helpers ---- */

static int wanted(const char *want, size_t idx)
{
    if (!strcmp(want, "*"))
        return 1;
    for (const char *s = want; *s;) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s)
            break;
        if (v == idx)
            return 1;
        s = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* f's row check on the one message msg (pred.c, as a scan applies it). */
static int filter_row(const owl_filter *f, const char *msg)
{
    size_t depth;
    owl_error err = {0};
    cr_assert_eq(owl_filter_check(&owl_logs_schema, f, &depth, &err), OWL_OK, "%s", err.msg);
    owl_cell cell = {.b = {msg, strlen(msg)}};
    owl_cell *cols[OWL_MAX_COLS] = {0};
    cols[OWL_LOGS_MESSAGE] = &cell;
    uint8_t keep = 1, scratch[2 * OWL_FILTER_MAX_DEPTH + 1];
    owl_filter_rows(&owl_logs_schema, f, cols, 1, 0, &keep, scratch);
    return keep;
}

static int add_token(void *ud, const char *t, size_t n)
{
    owl_bloom_add_hash(ud, owl_pred_token_item(t, n, 3));
    return 0;
}

static int leaf_may(void *ud, const owl_pred *p)
{
    return owl_pred_block_may(ud, p);
}

/* f's block check on a block holding only msg: its token bloom as a part of format 3 has. */
static int filter_block(const owl_filter *f, const char *msg)
{
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, 64, 0.01), OWL_OK);
    owl_tokenize(msg, strlen(msg), add_token, &b);
    owl_pred_colstats cs = {.type = OWL_TYPE_STR, .flags = OWL_COL_TOKENS, .bloom = &b,
                            .format = 3};
    int r = owl_filter_block_may(f, leaf_may, &cs);
    owl_bloom_free(&b);
    return r;
}

static owl_fpat *compile_ok(const char *pat)
{
    owl_fpat *p = NULL;
    owl_error err = {0};
    int rc = owl_fpat_compile(pat, strlen(pat), &p, &err);
    cr_assert_eq(rc, OWL_OK, "pattern <%s>: %s", pat, err.msg);
    return p;
}

/* ---- the table ---- */

Test(filterpat, cases_match_and_filters_are_necessary)
{
    size_t ncases = sizeof cases / sizeof *cases, nerr = sizeof errors / sizeof *errors;
    cr_assert_geq(ncases + nerr, 150, "%zu cases", ncases + nerr);
    for (size_t c = 0; c < ncases; c++) {
        const mcase *k = &cases[c];
        owl_fpat *p = compile_ok(k->pat);
        const owl_filter *f = owl_fpat_filter(p, OWL_LOGS_MESSAGE);
        cr_assert_eq(f, owl_fpat_filter(p, OWL_LOGS_MESSAGE), "the filter is kept");
        for (size_t e = 0; k->ev[e]; e++) {
            const char *ev = k->ev[e];
            int m = owl_fpat_match(p, ev, strlen(ev));
            cr_expect_eq(m, wanted(k->want, e), "case %zu <%s> event %zu <%s>: match %d", c,
                         k->pat, e, ev, m);
            if (m && f) {
                cr_expect(filter_row(f, ev), "case %zu <%s>: event %zu matches but fails the "
                                             "filter's row check", c, k->pat, e);
                cr_expect(filter_block(f, ev), "case %zu <%s>: event %zu matches but its block "
                                               "would be pruned", c, k->pat, e);
            }
        }
        owl_fpat_free(p);
    }
}

Test(filterpat, malformed_patterns_name_their_position)
{
    for (size_t c = 0; c < sizeof errors / sizeof *errors; c++) {
        const ecase *k = &errors[c];
        owl_fpat *p = (owl_fpat *)1;
        owl_error err = {0};
        int rc = owl_fpat_compile(k->pat, strlen(k->pat), &p, &err);
        cr_expect_eq(rc, OWL_EINVAL, "case %zu <%s>: rc %d", c, k->pat, rc);
        cr_expect_null(p, "case %zu: *out is NULL on failure", c);
        char at[48];
        snprintf(at, sizeof at, " at position %zu", k->pos);
        cr_expect(strstr(err.msg, k->msg) != NULL, "case %zu <%s>: message <%s> lacks <%s>", c,
                  k->pat, err.msg, k->msg);
        cr_expect(strstr(err.msg, at) != NULL, "case %zu <%s>: message <%s> lacks <%s>", c,
                  k->pat, err.msg, at);
    }
}

Test(filterpat, deep_nesting_is_refused)
{
    char pat[200];
    size_t n = 0;
    pat[n++] = '{';
    for (int k = 0; k < 65; k++)
        pat[n++] = '(';
    memcpy(pat + n, "$.a = 1", 7);
    n += 7;
    owl_fpat *p = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_fpat_compile(pat, n, &p, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "nested deeper than 64 at position 66"), "%s", err.msg);
}

Test(filterpat, filters_prune_what_cannot_match)
{
    static const struct {
        const char *pat, *msg;
    } t[] = {
        {"\"Exception in thread\"", "[ERROR 400] BAD REQUEST"},
        {"ERROR ARGUMENTS", "[WARN] disk usage"},
        {"?\"BAD REQUEST\" ?\"INVALID ARGUMENTS\"", "[ERROR 401] UNAUTHORIZED REQUEST"},
        {"[ip, ..., request = \"GET /index.html*\", status, bytes]", "GET /other 200 1"},
        {"{ $.ok IS TRUE }", "{\"ok\":false}"},
    };
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        owl_fpat *p = compile_ok(t[k].pat);
        const owl_filter *f = owl_fpat_filter(p, OWL_LOGS_MESSAGE);
        cr_assert_not_null(f, "<%s> gives a filter", t[k].pat);
        cr_expect_not(filter_row(f, t[k].msg), "<%s> keeps <%s>", t[k].pat, t[k].msg);
        owl_fpat_free(p);
    }
    /* an unquoted term is a whole word: its token prunes blocks by the bloom */
    owl_fpat *w = compile_ok("UNAUTHORIZED");
    cr_expect_not(filter_block(owl_fpat_filter(w, 3), "[ERROR 400] BAD REQUEST"));
    cr_expect_not(filter_row(owl_fpat_filter(w, 3), "NOTUNAUTHORIZED here"));
    owl_fpat_free(w);
    /* phrases with an interior token prune blocks by the bloom */
    owl_fpat *p = compile_ok("\"Exception in thread\"");
    cr_expect_not(filter_block(owl_fpat_filter(p, 3), "[ERROR 400] BAD REQUEST"));
    cr_expect_not(filter_row(owl_fpat_filter(p, 3), "Exception on thread"));
    owl_fpat_free(p);
    /* nothing to prune on: exclusions, regular expressions, JSON comparisons, numbers */
    static const char *none[] = {"", "-ERROR", "%ERROR%", "{ $.a = \"x\" }",
                                 "[a, b = 404]", "?ERROR ?\"\"", "[a != x]"};
    for (size_t k = 0; k < sizeof none / sizeof *none; k++) {
        p = compile_ok(none[k]);
        cr_expect_null(owl_fpat_filter(p, OWL_LOGS_MESSAGE), "<%s> gives no filter", none[k]);
        owl_fpat_free(p);
    }
    /* a filter for another column is built too, and each keeps its column */
    p = compile_ok("ERROR");
    const owl_filter *a = owl_fpat_filter(p, 3), *b = owl_fpat_filter(p, 5);
    cr_assert(a && b && a != b);
    cr_expect_eq(a->pred->col, 3);
    cr_expect_eq(b->pred->col, 5);
    owl_fpat_free(p);
}

Test(filterpat, big_filters_stay_within_the_store_limits)
{
    /* 400 required terms: the AND keeps what fits; 300 alternatives: the OR cannot be cut */
    owl_buf b = OWL_BUF_INIT, c = OWL_BUF_INIT;
    for (int k = 0; k < 400; k++)
        owl_buf_puts(&b, "a ");
    for (int k = 0; k < 300; k++)
        owl_buf_printf(&c, "?%c ", 'a' + k % 26);
    owl_fpat *p = compile_ok(b.data), *q = compile_ok(c.data);
    const owl_filter *f = owl_fpat_filter(p, 3);
    size_t depth;
    cr_assert_not_null(f);
    cr_expect_eq(owl_filter_check(&owl_logs_schema, f, &depth, NULL), OWL_OK);
    cr_expect(filter_row(f, b.data));
    cr_expect_null(owl_fpat_filter(q, 3));
    cr_expect(owl_fpat_match(q, "xx z", 4));
    cr_expect_not(owl_fpat_match(q, "XX Z", 4));
    owl_fpat_free(p);
    owl_fpat_free(q);
    owl_buf_free(&b);
    owl_buf_free(&c);
}

Test(filterpat, free_accepts_null_and_compile_checks_input)
{
    owl_fpat_free(NULL);
    owl_fpat *p = (owl_fpat *)1;
    cr_expect_eq(owl_fpat_compile(NULL, 3, &p, NULL), OWL_EINVAL);
    cr_expect_null(p);
    p = compile_ok("ERROR");
    cr_expect_not(owl_fpat_match(p, NULL, 0));
    cr_expect(owl_fpat_match(p, "ERROR\0tail", 11), "events may hold NUL bytes");
    owl_fpat_free(p);
    /* a pattern is not NUL-terminated: only text[0..n) counts */
    cr_assert_eq(owl_fpat_compile("ERROR }", 5, &p, NULL), OWL_OK);
    owl_fpat_free(p);
}

/* ---- one compiled pattern shared by threads ---- */

static void *share(void *arg)
{
    const owl_fpat *p = arg;
    long bad = 0;
    for (int k = 0; k < 2000; k++) {
        const owl_filter *f = owl_fpat_filter(p, (size_t)(k % 3) + 3);
        bad += f == NULL || f->kids[0].pred->col != (size_t)(k % 3) + 3;
        bad += owl_fpat_match(p, APA[1], strlen(APA[1])) != 1;
        bad += owl_fpat_match(p, APA[0], strlen(APA[0])) != 0;
    }
    return (void *)bad;
}

Test(filterpat, threads_share_a_pattern)
{
    owl_fpat *p = compile_ok("[ip, ..., request = %index% && request = \"GET /*\", status = 4*, "
                             "bytes]");
    pthread_t t[4];
    for (int k = 0; k < 4; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, share, p), 0);
    for (int k = 0; k < 4; k++) {
        void *bad;
        pthread_join(t[k], &bad);
        cr_expect_eq((long)bad, 0, "thread %d saw %ld wrong answers", k, (long)bad);
    }
    owl_fpat_free(p);
}

/* ---- through the store: the filter prunes blocks and loses no match ---- */

struct hits {
    const owl_fpat *p;
    long rows, matches;
};

static int count_fn(void *ud, const owl_batch *b)
{
    struct hits *h = ud;
    for (size_t i = 0; i < b->nrows; i++) {
        const owl_bytes *m = &b->cols[0][i].b;
        h->rows++;
        h->matches += owl_fpat_match(h->p, m->p, m->n);
    }
    return 0;
}

/* Line k of the synthetic log: mostly INFO lines, a rare Java exception, some JSON. */
static int synth_line(char *out, size_t cap, int k)
{
    if (k % 500 == 7)
        return snprintf(out, cap, "row %d ERROR Exception in thread \"w%d\" java.io.IOException",
                        k, k % 3);
    if (k % 10 == 3)
        return snprintf(out, cap, "{\"row\":%d,\"ok\":%s,\"latency\":%d}", k,
                        k % 20 == 3 ? "true" : "false", k % 97);
    return snprintf(out, cap, "row %d INFO request served after %d ms", k, k % 50);
}

Test(filterpat, store_scans_with_the_filter_lose_no_match)
{
    enum { N = 2000 };
    char *dir = test_tmpdir("fpat");
    const owl_schema *sc[] = {&owl_logs_schema};
    owl_store_options o;
    owl_store_options_default(&o);
    o.sync = OWL_SYNC_NONE;
    o.background = 0;
    o.block_rows = 50;
    owl_store *s = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_store_open(dir, sc, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    char line[160];
    for (int k = 0; k < N; k++) {
        int len = synth_line(line, sizeof line, k);
        cr_assert_eq(owl_rowbuf_begin_row(&b), OWL_OK);
        owl_rowbuf_set_i64(&b, OWL_LOGS_TIME, 1700000000000 + k);
        owl_rowbuf_set_bytes(&b, OWL_LOGS_MESSAGE, line, (size_t)len);
        cr_assert_eq(owl_rowbuf_end_row(&b), OWL_OK);
    }
    cr_assert_eq(owl_store_append(s, "logs", "t1", "g1", owl_rowbuf_rows(&b), &err), OWL_OK,
                 "%s", err.msg);
    owl_rowbuf_free(&b);
    cr_assert_eq(owl_store_flush(s, &err), OWL_OK, "%s", err.msg);

    static const struct {
        const char *pat;
        int prunes; /* the filter must skip blocks */
    } t[] = {
        {"\"Exception in thread\"", 1},
        {"?\"Exception in thread\" ?\"java.io.IOException\"", 1},
        {"ERROR \"Exception in thread\" -w1", 1},
        {"ERROR \"in thread\"", 1}, /* the word ERROR is a token */
        {"Exception", 1},             /* a rare word */
        {"?ERROR ?IOException", 1},
        {"\"in thread\"", 0},         /* no token with separators on both sides */
        {"[row, n, level = ERROR, ...]", 0},
        {"{ $.ok IS TRUE }", 0},
        {"\"served after 7 ms\"", 0},
        {"INFO", 0},
    };
    size_t col = OWL_LOGS_MESSAGE;
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        owl_fpat *p = compile_ok(t[k].pat);
        long want = 0;
        for (int j = 0; j < N; j++) {
            int len = synth_line(line, sizeof line, j);
            want += owl_fpat_match(p, line, (size_t)len);
        }
        struct hits h = {p, 0, 0};
        owl_scan q = {.table = "logs", .tenant = "t1", .start = 0, .end = INT64_MAX,
                      .cols = &col, .ncols = 1, .fn = count_fn, .ud = &h,
                      .filter = owl_fpat_filter(p, OWL_LOGS_MESSAGE)};
        owl_scan_stats st = {0};
        cr_assert_eq(owl_store_scan(s, &q, &st, &err), OWL_OK, "%s", err.msg);
        cr_expect_eq(h.matches, want, "<%s>: %ld matches through the store, %ld in the lines",
                     t[k].pat, h.matches, want);
        cr_expect_gt(want, 0, "<%s> matches something", t[k].pat);
        if (t[k].prunes)
            cr_expect(st.blocks_skipped > 0 && h.rows < N, "<%s>: %llu blocks skipped, %ld rows",
                      t[k].pat, (unsigned long long)st.blocks_skipped, h.rows);
        owl_fpat_free(p);
    }
    owl_store_close(s);
    test_rm_rf(dir);
}

/* ---- metric-filter values ---- */

typedef struct xcase {
    const char *pat, *msg, *ref;
    int found;
    const char *text;
    int is_num;
    double num;
} xcase;

static const xcase extracts[] = {
    {"{ $.latency > 0 }", NULL, "$.latency", 1, "120", 1, 120},
    {"{ $.latency > 0 }", NULL, "$.user.email", 1, "John.Doe@example.com", 0, 0},
    {"{ $.latency > 0 }", NULL, "$.user.id", 1, "1", 1, 1},
    {"{ $.latency > 0 }", NULL, "$.ok", 1, "true", 0, 0},
    {"{ $.latency > 0 }", NULL, "$.missing", 0, NULL, 0, 0},
    {"{ $.latency > 0 }", NULL, "latency", 0, NULL, 0, 0},
    {"{ $.latency > 0 }", "not json", "$.latency", 0, NULL, 0, 0},
    {"{ $.a = 1 }", "{\"eventType\":\"Up\\\"d\\u00e9\"}", "$.eventType", 1, "Up\"d\xc3\xa9", 0, 0},
    {"{ $.a = 1 }", "{\"numbers\":[10,20,30]}", "$.numbers[2]", 1, "30", 1, 30},
    {"{ $.a = 1 }", "{\"e\":null,\"l\":1.5e3}", "$.e", 0, NULL, 0, 0},
    {"{ $.a = 1 }", "{\"e\":null,\"l\":1.5e3}", "$.l", 1, "1.5e3", 1, 1500},
    {"{ $.a = 1 }", "{\"u\":[{\"n\":\"a\"}]}", "$.u[0]", 1, "{\"n\":\"a\"}", 0, 0},
    {"{ $.a = 1 }", "{\"s\":\"-42.5\"}", "$.s", 1, "-42.5", 1, -42.5},
    {"[ip, user, username, timestamp, request, status_code, bytes]", NULL, "$bytes", 1, "1534",
     1, 1534},
    {"[ip, user, username, timestamp, request, status_code, bytes]", NULL, "$request", 1,
     "GET /apache_pb.gif HTTP/1.0", 0, 0},
    {"[ip, user, username, timestamp, request, status_code, bytes]", NULL, "$timestamp", 1,
     "10/Oct/2000:13:25:15 -0700", 0, 0},
    {"[ip, user, username, timestamp, request, status_code, bytes]", "ERROR short line",
     "$bytes", 0, NULL, 0, 0},
    {"[ip, user, username, timestamp, request, status_code, bytes]", NULL, "$nope", 0, NULL, 0,
     0},
    {"[ip, ..., status, bytes]", "10.0.0.7 - - [12/Oct/2000:00:00:01 -0700] \"DELETE / HTTP/1.1\" "
                                 "403 0 \"curl/8.0\"", "$status", 1, "0", 1, 0},
    {"[..., status = 4*, bytes]", "127.0.0.1 - - [10/Oct/2000:13:35:22 -0700] \"GET / HTTP/1.0\" "
                                  "404 209", "$status", 1, "404", 1, 404},
    {"[..., status = 4*, bytes]", "127.0.0.1 - - [10/Oct/2000:13:35:22 -0700] \"GET / HTTP/1.0\" "
                                  "404 209", "$bytes", 1, "209", 1, 209},
    {"ERROR", "ERROR 42", "$.a", 0, NULL, 0, 0},
};

Test(filterpat, extract_reads_metric_values)
{
    owl_buf scratch = OWL_BUF_INIT;
    for (size_t c = 0; c < sizeof extracts / sizeof *extracts; c++) {
        const xcase *k = &extracts[c];
        const char *msg = k->msg ? k->msg : k->pat[0] == '{' ? JSN[0] : APA[0];
        owl_fpat *p = compile_ok(k->pat);
        owl_bytes text = {0};
        double num = -999;
        int is_num = -1;
        int r = owl_fpat_extract(p, msg, strlen(msg), k->ref, &scratch, &text, &num, &is_num);
        cr_expect_eq(r, k->found, "case %zu <%s>: found %d", c, k->ref, r);
        if (r && k->found) {
            cr_expect(text.n == strlen(k->text) && !memcmp(text.p, k->text, text.n),
                      "case %zu <%s>: text <%.*s>", c, k->ref, (int)text.n, (const char *)text.p);
            cr_expect_eq(is_num, k->is_num, "case %zu: is_num %d", c, is_num);
            if (k->is_num)
                cr_expect_eq(num, k->num, "case %zu: num %g", c, num);
        }
        owl_fpat_free(p);
    }
    owl_buf_free(&scratch);
}

Test(filterpat, check_ref_follows_cloudwatch_rules)
{
    static const struct {
        const char *pat, *ref;
        int rc;
        const char *msg;
    } t[] = {
        {"{ $.a = 1 }", "$.a.b[0]", OWL_OK, NULL},
        {"{ $.a = 1 }", "$.other", OWL_OK, NULL},
        {"{ $.a = 1 }", "$.a[", OWL_EINVAL, "expected an array index at position 5"},
        {"{ $.a = 1 }", "latency", OWL_EINVAL, "expected a selector"},
        {"{ $.a = 1 }", "$.a b", OWL_EINVAL, "unexpected ' ' at position 4"},
        {"{ $.a = 1 }", "$.a[*]", OWL_EINVAL, "wildcard"},
        {"[ip, ..., bytes]", "$bytes", OWL_OK, NULL},
        {"[ip, ..., bytes > 10]", "$ip", OWL_OK, NULL},
        {"[ip, ..., bytes]", "$nope", OWL_EINVAL, "names no field"},
        {"[ip, ..., bytes]", "bytes", OWL_EINVAL, "names no field"},
        {"[ip, ..., bytes]", "$...", OWL_EINVAL, "names no field"},
        {"ERROR", "$x", OWL_EINVAL, "only JSON and space-delimited"},
        {"%ERR%", "$.x", OWL_EINVAL, "only JSON and space-delimited"},
        {"", "$.x", OWL_EINVAL, "only JSON and space-delimited"},
    };
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        owl_fpat *p = compile_ok(t[k].pat);
        owl_error err = {0};
        int rc = owl_fpat_check_ref(p, t[k].ref, &err);
        cr_expect_eq(rc, t[k].rc, "<%s> <%s>: rc %d (%s)", t[k].pat, t[k].ref, rc, err.msg);
        if (t[k].msg)
            cr_expect(strstr(err.msg, t[k].msg), "<%s>: message <%s>", t[k].ref, err.msg);
        owl_fpat_free(p);
    }
}

/* ---- real data: counts taken independently with grep / python ---- */

static const char *data_file(const char *rel)
{
    static char path[4096];
    const char *data = getenv("OWL_TEST_DATA");
    if (data && *data) {
        snprintf(path, sizeof path, "%s/%s", data, rel);
    } else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_filterpat.c");
        snprintf(path, sizeof path, "%.*s../shared/data/%s", tail ? (int)(tail - me) : 0, me,
                 rel);
    }
    return path;
}

/* Counts the lines of path (without their newline) that pat matches; -1 when absent. */
static long count_matches(const char *path, const char *pat)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    owl_fpat *p = compile_ok(pat);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long hits = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        hits += owl_fpat_match(p, line, (size_t)len);
    }
    free(line);
    fclose(f);
    owl_fpat_free(p);
    return hits;
}

Test(filterpat, counts_over_loghub_hdfs_and_apache_agree_with_grep)
{
    /* each figure was taken with the command next to it, from the data directory */
    static const struct {
        const char *file, *pat;
        long want;
    } t[] = {
        /* grep -c 'PacketResponder' loghub/HDFS/HDFS_2k.log */
        {"loghub/HDFS/HDFS_2k.log", "PacketResponder", 603},
        /* grep -E 'WARN|ERROR' loghub/HDFS/HDFS_2k.log | wc -l */
        {"loghub/HDFS/HDFS_2k.log", "?WARN ?ERROR", 80},
        /* grep 'Received block' loghub/HDFS/HDFS_2k.log | grep -vc 'size 67108864' */
        {"loghub/HDFS/HDFS_2k.log", "\"Received block\" -\"size 67108864\"", 15},
        /* grep -cE 'blk_-[0-9]+' loghub/HDFS/HDFS_2k.log */
        {"loghub/HDFS/HDFS_2k.log", "%blk_-[0-9]+%", 999},
        /* awk '$4 == "INFO" && $5 ~ /^dfs\.DataNode/' loghub/HDFS/HDFS_2k.log | wc -l */
        {"loghub/HDFS/HDFS_2k.log",
         "[date, time, pid, level = INFO, component = dfs.DataNode*, ...]",
         978},
        /* python3 -c 'import re;print(sum(1 for l in open("other/opensearch-catalog/
         *   apache_access.log") if re.match(r"\S+ \S+ \S+ \[[^]]*\] \"[^\"]*\" 404 ", l)))' */
        {"other/opensearch-catalog/apache_access.log",
         "[ip, identity, user, timestamp, request, status = 404, bytes, ...]", 213},
        /* grep -c 'GET /favicon.ico' other/opensearch-catalog/apache_access.log */
        {"other/opensearch-catalog/apache_access.log", "\"GET /favicon.ico\"", 799},
    };
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        long got = count_matches(data_file(t[k].file), t[k].pat);
        if (got < 0)
            cr_skip_test("%s not found (set OWL_TEST_DATA)", data_file(t[k].file));
        cr_expect_eq(got, t[k].want, "<%s> over %s: %ld, grep says %ld", t[k].pat, t[k].file,
                     got, t[k].want);
    }
}

/* test_rawlog.c — raw log lines (ingest/rawlog.c): text/plain bodies (line ends, empty
 * lines, the leading timestamp of the common formats, invalid UTF-8, limits) and NDJSON
 * bodies (timestamps, extra members as attrs, bad lines refused by number). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/clock.h"
#include "ingest/ingest.h"

#define NOW 1795239096123LL /* 2026-11-21 */
#define MAX 10000

static int text(const char *body, owl_log_decoded *d, owl_error *err)
{
    memset(d, 0, sizeof *d);
    return owl_rawlog_decode_text(body, strlen(body), "/app/web", "host-1", NOW, MAX, d, err);
}

static int ndjson(const char *body, owl_log_decoded *d, owl_error *err)
{
    memset(d, 0, sizeof *d);
    return owl_rawlog_decode_ndjson(body, strlen(body), "/app/web", "host-1", NOW, MAX, d, err);
}

static int msg_is(owl_bytes b, const char *s)
{
    return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

#define MSG_EQ(b, s) cr_assert(msg_is((b), (s)), "got \"%.*s\", want \"%s\"", (int)(b).n, \
                               (const char *)(b).p, (s))

/* ---- text/plain ---- */

Test(rawlog, text_lines_lf_crlf_last_line_and_empty_lines)
{
    owl_log_decoded d;
    cr_assert_eq(text("one\r\ntwo\n\n\r\nthree\rstill three\nlast", &d, NULL), OWL_OK);
    cr_assert_eq(d.nb, 1);
    cr_assert_str_eq(d.b[0].group, "/app/web");
    cr_assert_str_eq(d.b[0].stream, "host-1");
    cr_assert_eq(d.b[0].n, 4);
    MSG_EQ(d.b[0].ev[0].message, "one");
    MSG_EQ(d.b[0].ev[1].message, "two");
    MSG_EQ(d.b[0].ev[2].message, "three\rstill three");
    MSG_EQ(d.b[0].ev[3].message, "last");
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(d.b[0].ev[i].time_ms, NOW);
        cr_assert_eq(d.b[0].ev[i].severity.n, 0);
        cr_assert_eq(d.b[0].ev[i].attrs.n, 0);
    }
    cr_assert_eq(d.rejected, 0);
    owl_log_decoded_free(&d);
}

Test(rawlog, text_empty_body_and_only_newlines)
{
    owl_log_decoded d;
    cr_assert_eq(text("", &d, NULL), OWL_OK);
    cr_assert_eq(d.nb, 0);
    owl_log_decoded_free(&d);
    cr_assert_eq(text("\n\r\n\n", &d, NULL), OWL_OK);
    cr_assert_eq(d.nb, 0);
    cr_assert_eq(d.events, 0);
    owl_log_decoded_free(&d);
}

Test(rawlog, text_leading_timestamps_of_the_common_formats)
{
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"2015-10-18 18:01:47,978 INFO [main] x", "2015-10-18T18:01:47.978Z"},
        {"2024-02-29T23:59:59.5 leap", "2024-02-29T23:59:59.500Z"},
        {"081109 203615 148 INFO dfs.DataNode", "2008-11-09T20:36:15.000Z"},
        {"17/06/09 20:10:40 INFO executor", "2017-06-09T20:10:40.000Z"},
        {"Jun 14 15:16:01 combo sshd", "2026-06-14T15:16:01.000Z"},
        {"[Sun Dec 04 04:47:44 2005] [notice] x", "2005-12-04T04:47:44.000Z"},
        {"03-17 16:13:38.811  1702  2395 D x", "2026-03-17T16:13:38.811Z"},
        {"20171223-22:15:29:606|Step_LSC|1", "2017-12-23T22:15:29.606Z"},
        {"- 1117838570 2005.06.03 R02-M1", "2005-06-03T22:42:50.000Z"},
        {"2026-01-01T10:00:00+02:00 the zone is applied", "2026-01-01T08:00:00.000Z"},
        {"no timestamp here", "2026-11-21T05:31:36.123Z"},
    };
    size_t nc = sizeof cases / sizeof *cases;
    owl_buf body = OWL_BUF_INIT;
    for (size_t i = 0; i < nc; i++)
        cr_assert_eq(owl_buf_printf(&body, "%s\n", cases[i].line), OWL_OK);
    owl_log_decoded d;
    cr_assert_eq(text(body.data, &d, NULL), OWL_OK);
    owl_buf_free(&body);
    cr_assert_eq(d.events, nc);
    /* events are in time order: find each line's event by its message, kept whole */
    for (size_t i = 0; i < nc; i++) {
        const owl_log_event *e = NULL;
        for (size_t j = 0; j < d.b[0].n && !e; j++)
            if (msg_is(d.b[0].ev[j].message, cases[i].line))
                e = &d.b[0].ev[j];
        cr_assert(e, "%s: no event", cases[i].line);
        char t[40];
        owl_time_format_rfc3339(e->time_ms, t, sizeof t);
        cr_assert_str_eq(t, cases[i].want, "%s", cases[i].line);
    }
    for (size_t j = 1; j < d.b[0].n; j++)
        cr_assert_leq(d.b[0].ev[j - 1].time_ms, d.b[0].ev[j].time_ms);
    owl_log_decoded_free(&d);
}

Test(rawlog, text_same_time_keeps_request_order)
{
    owl_log_decoded d;
    cr_assert_eq(text("2020-01-01 00:00:02 b\n2020-01-01 00:00:01 a\n"
                      "2020-01-01 00:00:02 c\n2020-01-01 00:00:01 a2\n", &d, NULL), OWL_OK);
    MSG_EQ(d.b[0].ev[0].message, "2020-01-01 00:00:01 a");
    MSG_EQ(d.b[0].ev[1].message, "2020-01-01 00:00:01 a2");
    MSG_EQ(d.b[0].ev[2].message, "2020-01-01 00:00:02 b");
    MSG_EQ(d.b[0].ev[3].message, "2020-01-01 00:00:02 c");
    owl_log_decoded_free(&d);
}

Test(rawlog, text_invalid_utf8_replaced)
{
    owl_log_decoded d;
    /* a stray continuation byte, a truncated sequence, an overlong '/', a surrogate, and
     * valid 2-, 3- and 4-byte characters kept */
    cr_assert_eq(text("a\x80 b\xe2\x82 c\xc0\xaf d\xed\xa0\x80 \xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x89"
                      "\n", &d, NULL), OWL_OK);
    MSG_EQ(d.b[0].ev[0].message, "a\xEF\xBF\xBD b\xEF\xBF\xBD\xEF\xBF\xBD c\xEF\xBF\xBD\xEF"
                                 "\xBF\xBD d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xc3\xa9\xe2"
                                 "\x82\xac\xf0\x9f\xa6\x89");
    owl_log_decoded_free(&d);
}

Test(rawlog, text_embedded_nul_kept)
{
    owl_log_decoded d = {0};
    cr_assert_eq(owl_rawlog_decode_text("a\0b\n", 4, "g", "s", NOW, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(d.b[0].ev[0].message.n, 3);
    cr_assert(memcmp(d.b[0].ev[0].message.p, "a\0b", 3) == 0);
    owl_log_decoded_free(&d);
}

Test(rawlog, bad_group_or_stream_refused_whole)
{
    static const struct {
        const char *group, *stream, *why;
    } bad[] = {
        {"", "s", "invalid log group name"},       {"a b", "s", "invalid log group name"},
        {"g:1", "s", "invalid log group name"},    {NULL, "s", "invalid log group name"},
        {"g", "", "invalid log stream name"},      {"g", "a:b", "invalid log stream name"},
        {"g", "a*", "invalid log stream name"},    {"g", "\xff", "invalid log stream name"},
        {"g", NULL, "invalid log stream name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_log_decoded d = {0};
        owl_error err = {0};
        cr_assert_eq(owl_rawlog_decode_text("x\n", 2, bad[i].group, bad[i].stream, NOW, MAX, &d,
                                            &err), OWL_EINVAL, "case %zu", i);
        cr_assert(strstr(err.msg, bad[i].why), "case %zu: %s", i, err.msg);
        owl_log_decoded_free(&d);
        cr_assert_eq(owl_rawlog_decode_ndjson("{}\n", 3, bad[i].group, bad[i].stream, NOW, MAX,
                                              &d, &err), OWL_EINVAL, "case %zu", i);
        owl_log_decoded_free(&d);
    }
    char longname[514];
    memset(longname, 'g', 513);
    longname[513] = '\0';
    owl_log_decoded d = {0};
    cr_assert_eq(owl_rawlog_decode_text("x", 1, longname, "s", NOW, MAX, &d, NULL), OWL_EINVAL);
    longname[512] = '\0';
    cr_assert_eq(owl_rawlog_decode_text("x", 1, longname, "s", NOW, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(owl_rawlog_decode_text("x", 1, "g", "a/b.c#d é", NOW, MAX, &d, NULL), OWL_OK);
    owl_log_decoded_free(&d);
}

Test(rawlog, max_events_counts_non_empty_lines)
{
    const char *body = "a\n\nb\r\n\nc";
    owl_log_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_rawlog_decode_text(body, strlen(body), "g", "s", NOW, 2, &d, &err),
                 OWL_ETOOBIG);
    cr_assert_str_eq(err.msg, "3 log lines in one request (at most 2)");
    cr_assert_eq(d.nb, 0);
    cr_assert_eq(owl_rawlog_decode_text(body, strlen(body), "g", "s", NOW, 3, &d, &err), OWL_OK);
    cr_assert_eq(d.events, 3);
    owl_log_decoded_free(&d);
    const char *nd = "{\"message\":\"a\"}\n\n{\"message\":\"b\"}\n";
    cr_assert_eq(owl_rawlog_decode_ndjson(nd, strlen(nd), "g", "s", NOW, 1, &d, &err),
                 OWL_ETOOBIG);
    cr_assert_eq(owl_rawlog_decode_ndjson(nd, strlen(nd), "g", "s", NOW, 2, &d, &err), OWL_OK);
    cr_assert_eq(d.events, 2);
    owl_log_decoded_free(&d);
}

Test(rawlog, text_oversized_line_refused_with_its_number)
{
    size_t big = OWL_LOG_MESSAGE_MAX + 1;
    char *body = malloc(big + 16);
    memcpy(body, "ok\n\n", 4);
    memset(body + 4, 'x', big);
    memcpy(body + 4 + big, "\nok2", 4);
    owl_log_decoded d = {0};
    cr_assert_eq(owl_rawlog_decode_text(body, big + 8, "g", "s", NOW, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(d.rejected, 1);
    cr_assert_str_eq(d.message, "line 3: 1048551 bytes (at most 1048550)");
    cr_assert_eq(d.events, 2);
    owl_log_decoded_free(&d);
    /* exactly the limit is kept */
    cr_assert_eq(owl_rawlog_decode_text(body + 4, big - 1, "g", "s", NOW, MAX, &d, NULL), OWL_OK);
    cr_assert_eq(d.rejected, 0);
    cr_assert_eq(d.b[0].ev[0].message.n, OWL_LOG_MESSAGE_MAX);
    owl_log_decoded_free(&d);
    free(body);
}

/* ---- NDJSON ---- */

Test(rawlog, ndjson_timestamps_and_attrs)
{
    owl_log_decoded d;
    owl_error err = {0};
    const char *body =
        "{\"timestamp\":1700000000123,\"message\":\"ms number\"}\n"
        "{\"timestamp\":\"2026-01-02T03:04:05.678+01:00\",\"message\":\"rfc3339\"}\r\n"
        "{\"timestamp\":\"1700000000456\",\"message\":\"ms string\"}\n"
        "{\"message\":\"no time\"}\n"
        "{\"message\":\"null time\",\"timestamp\":null}\n"
        "{\"message\":\"extra\",\"timestamp\":1700000000999.7,\"level\":\"warn\",\"n\":3,"
        "\"ctx\":{\"user\":\"ann\"}}";
    cr_assert_eq(ndjson(body, &d, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(d.rejected, 0, "%s", d.message);
    cr_assert_eq(d.events, 6);
    const owl_log_event *e = d.b[0].ev;
    MSG_EQ(e[0].message, "ms number");
    cr_assert_eq(e[0].time_ms, 1700000000123);
    MSG_EQ(e[1].message, "ms string");
    cr_assert_eq(e[1].time_ms, 1700000000456);
    MSG_EQ(e[2].message, "extra");
    cr_assert_eq(e[2].time_ms, 1700000000999);
    MSG_EQ(e[3].message, "rfc3339");
    char t[40];
    owl_time_format_rfc3339(e[3].time_ms, t, sizeof t);
    cr_assert_str_eq(t, "2026-01-02T02:04:05.678Z");
    MSG_EQ(e[4].message, "no time");
    cr_assert_eq(e[4].time_ms, NOW);
    MSG_EQ(e[5].message, "null time");
    cr_assert_eq(e[5].time_ms, NOW);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(e[i].attrs.n != 0, i == 2, "event %zu", i);
    bson_t doc;
    cr_assert(bson_init_static(&doc, e[2].attrs.p, e[2].attrs.n));
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    cr_assert_str_eq(json, "{ \"level\" : \"warn\", \"n\" : 3, \"ctx\" : { \"user\" : \"ann\" } }");
    bson_free(json);
    owl_log_decoded_free(&d);
}

Test(rawlog, ndjson_bad_lines_refused_by_number_the_rest_kept)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"{\"message\":\"a\"} trailing", "not a JSON object"},
        {"{\"timestamp\":1}", "no \"message\""},
        {"{\"message\":42}", "\"message\" must be a non-empty string"},
        {"{\"message\":\"\"}", "\"message\" must be a non-empty string"},
        {"{\"message\":\"x\",\"timestamp\":\"yesterday\"}", "\"timestamp\" must be"},
        {"{\"message\":\"x\",\"timestamp\":true}", "\"timestamp\" must be"},
        {"{\"message\":\"x\",\"message\":\"y\"}", "not a JSON object"},
        {"{\"message\":\"bad \xff utf8\"}", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_buf body = OWL_BUF_INIT;
        cr_assert_eq(owl_buf_printf(&body, "{\"message\":\"first\"}\n\n%s\n{\"message\":\"last\"}",
                                    bad[i].line), OWL_OK);
        owl_log_decoded d;
        owl_error err = {0};
        cr_assert_eq(ndjson(body.data, &d, &err), OWL_OK, "case %zu: %s", i, err.msg);
        owl_buf_free(&body);
        cr_assert_eq(d.rejected, 1, "case %zu", i);
        cr_assert(strncmp(d.message, "line 3: ", 8) == 0, "case %zu: %s", i, d.message);
        cr_assert(strstr(d.message, bad[i].why), "case %zu: %s", i, d.message);
        cr_assert_eq(d.events, 2, "case %zu", i);
        MSG_EQ(d.b[0].ev[0].message, "first");
        MSG_EQ(d.b[0].ev[1].message, "last");
        owl_log_decoded_free(&d);
    }
}

Test(rawlog, ndjson_counts_every_refusal_keeps_the_first_reason)
{
    owl_log_decoded d;
    cr_assert_eq(ndjson("x\n{\"message\":\"ok\"}\ny\nz", &d, NULL), OWL_OK);
    cr_assert_eq(d.rejected, 3);
    cr_assert(strncmp(d.message, "line 1: ", 8) == 0, "%s", d.message);
    cr_assert_eq(d.events, 1);
    owl_log_decoded_free(&d);
}

/* ---- a real log: every line of a Loghub sample kept, dated by its own timestamp ---- */

Test(rawlog, loghub_apache_sample)
{
    char path[4096];
    const char *data = getenv("OWL_TEST_DATA"), *src = getenv("OWL_SRCDIR");
    if (data && *data)
        snprintf(path, sizeof path, "%s/loghub/Apache/Apache_2k.log", data);
    else if (src && *src)
        snprintf(path, sizeof path, "%s/../shared/data/loghub/Apache/Apache_2k.log", src);
    else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_rawlog.c");
        snprintf(path, sizeof path, "%.*s../shared/data/loghub/Apache/Apache_2k.log",
                 tail ? (int)(tail - me) : 0, me);
    }
    char *body = NULL;
    size_t n;
    if (owl_read_file(path, 1u << 26, &body, &n, NULL) != OWL_OK)
        cr_skip_test("Loghub samples not found: %s (set OWL_TEST_DATA)", path);
    owl_log_decoded d = {0};
    cr_assert_eq(owl_rawlog_decode_text(body, n, "/loghub/apache", "s", NOW, MAX, &d, NULL),
                 OWL_OK);
    free(body);
    cr_assert_eq(d.events, 2000);
    cr_assert_eq(d.rejected, 0);
    for (size_t i = 0; i < d.b[0].n; i++) {
        cr_assert_neq(d.b[0].ev[i].time_ms, NOW, "event %zu has no time of its own", i);
        cr_assert_eq(((const char *)d.b[0].ev[i].message.p)[0], '[');
    }
    cr_assert(d.b[0].ev[0].time_ms >= 1117000000000LL); /* 2005 */
    owl_log_decoded_free(&d);
}

Test(rawlog, a_refused_request_leaves_the_result_empty)
{
    owl_log_decoded d;
    cr_assert_eq(text("a\nb\n", &d, NULL), OWL_OK);
    cr_assert_eq(d.events, 2);
    /* reused without freeing: the error leaves it empty, and the first result is freed */
    cr_assert_eq(owl_rawlog_decode_text("a", 1, "bad group", "s", NOW, MAX, &d, NULL), OWL_EINVAL);
    cr_assert_eq(d.nb, 0);
    cr_assert_eq(d.events, 0);
    cr_assert_eq(owl_rawlog_decode_ndjson("{}\n{}", 5, "g", "s", NOW, 1, &d, NULL), OWL_ETOOBIG);
    cr_assert_eq(d.nb, 0);
    owl_log_decoded_free(&d);
}

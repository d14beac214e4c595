/* test_putlog_json.c — PutLogEvents bodies read directly (ingest/putlog_json.c): the shapes
 * it reads (fields in any order, white space, every escape, unknown fields, zero events),
 * where messages live (in the body without escapes, in scratch with), and each kind of body
 * it must leave to the general path, checked against what the general decoder does with it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"

/* Parses body[0..n); when read, the general decoder must accept it too. */
static int parse_n(const char *body, size_t n, owl_putlog *pl)
{
    int rc = owl_putlog_parse(body, n, pl);
    if (rc == OWL_OK) {
        bson_t doc = BSON_INITIALIZER;
        cr_assert_eq(owl_aws_json_decode(body, n, &doc, NULL), OWL_OK,
                     "read directly but refused by the decoder: %.*s", (int)n, body);
        bson_destroy(&doc);
    }
    return rc;
}

static int parse(const char *body, owl_putlog *pl)
{
    return parse_n(body, strlen(body), pl);
}

static void event_is(const owl_putlog *pl, size_t i, int64_t t, const char *msg, size_t len)
{
    cr_assert_lt(i, pl->n);
    cr_assert_eq(pl->ev[i].time_ms, t, "event %zu time", i);
    cr_assert_eq(pl->ev[i].message.n, len, "event %zu length", i);
    cr_assert(memcmp(pl->ev[i].message.p, msg, len) == 0, "event %zu message", i);
}

static int in_body(const owl_putlog *pl, size_t i, const char *body)
{
    const char *m = pl->ev[i].message.p;
    return m >= body && m < body + strlen(body);
}

Test(putlog_json, the_cli_shape)
{
    const char *b = "{\"logGroupName\":\"/app/web\",\"logStreamName\":\"i-1\","
                    "\"logEvents\":[{\"timestamp\":1700000000000,\"message\":\"GET / 200\"},"
                    "{\"timestamp\":1700000000001,\"message\":\"GET /x 404\"}]}";
    owl_putlog pl;
    cr_assert_eq(parse(b, &pl), OWL_OK);
    cr_assert_str_eq(pl.group, "/app/web");
    cr_assert_str_eq(pl.stream, "i-1");
    cr_assert_null(pl.token);
    cr_assert_eq(pl.n, 2);
    event_is(&pl, 0, 1700000000000, "GET / 200", 9);
    event_is(&pl, 1, 1700000000001, "GET /x 404", 10);
    cr_assert(in_body(&pl, 0, b) && in_body(&pl, 1, b), "messages without escapes: no copy");
    owl_putlog_free(&pl);
    owl_putlog_free(&pl); /* zeroed: a second free is harmless */
    owl_putlog_free(NULL);
}

Test(putlog_json, any_order_white_space_token_and_unknown_fields)
{
    const char *b = " \r\n\t{ \"sequenceToken\" : \"49590\" ,\n"
                    "  \"entity\": {\"keyAttributes\": {\"Type\": \"Service\", \"Name\": \"a\"},"
                    " \"attributes\": {\"x\": [1, -2.5e3, true, false, null, \"s\", [], {}]}},\n"
                    "  \"logEvents\" : [ { \"message\" : \"m1\" , \"extra\": [1,{\"a\":2}],"
                    " \"timestamp\" : -5 } ,\n { \"timestamp\": 0, \"message\": \"\" } ] ,"
                    "  \"logStreamName\":\"s\", \"logGroupName\" :\"g\" } \n";
    owl_putlog pl;
    cr_assert_eq(parse(b, &pl), OWL_OK);
    cr_assert_str_eq(pl.group, "g");
    cr_assert_str_eq(pl.stream, "s");
    cr_assert_str_eq(pl.token, "49590");
    cr_assert_eq(pl.n, 2);
    event_is(&pl, 0, -5, "m1", 2);
    event_is(&pl, 1, 0, "", 0);
    owl_putlog_free(&pl);
}

Test(putlog_json, zero_events)
{
    owl_putlog pl;
    cr_assert_eq(parse("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[ ]}", &pl),
                 OWL_OK);
    cr_assert_eq(pl.n, 0);
    owl_putlog_free(&pl);
}

Test(putlog_json, every_escape)
{
    const char *b = "{\"logGroupName\":\"g\\/h\",\"logStreamName\":\"caf\\u00e9\","
                    "\"logEvents\":["
                    "{\"timestamp\":1,\"message\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"},"
                    "{\"timestamp\":2,\"message\":\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\"},"
                    "{\"timestamp\":3,\"message\":\"raw \xc3\xa9 \xf0\x9f\x98\x80 ok\"}]}";
    owl_putlog pl;
    cr_assert_eq(parse(b, &pl), OWL_OK);
    cr_assert_str_eq(pl.group, "g/h");
    cr_assert_str_eq(pl.stream, "caf\xc3\xa9");
    event_is(&pl, 0, 1, "q\" b\\ s/ \b\f\n\r\t", 14);
    event_is(&pl, 1, 2, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A", 10);
    event_is(&pl, 2, 3, "raw \xc3\xa9 \xf0\x9f\x98\x80 ok", 14);
    cr_assert(!in_body(&pl, 0, b) && !in_body(&pl, 1, b), "unescaped into scratch");
    cr_assert(in_body(&pl, 2, b), "valid raw UTF-8 without escapes: no copy");
    owl_putlog_free(&pl);
}

Test(putlog_json, escaped_field_names_are_the_same_fields)
{
    owl_putlog pl;
    cr_assert_eq(parse("{\"log\\u0047roupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":"
                       "[{\"time\\u0073tamp\":7,\"m\\u0065ssage\":\"x\"}]}",
                       &pl),
                 OWL_OK);
    cr_assert_str_eq(pl.group, "g");
    event_is(&pl, 0, 7, "x", 1);
    owl_putlog_free(&pl);
    /* ... so a name given once plain and once escaped is given twice */
    cr_assert_eq(parse("{\"logGroupName\":\"g\",\"log\\u0047roupName\":\"g\",\"logStreamName\":"
                       "\"s\",\"logEvents\":[]}",
                       &pl),
                 OWL_EUNSUPPORTED);
}

Test(putlog_json, long_messages_cross_the_word_scan)
{
    char msg[300], body[600];
    for (size_t i = 0; i < sizeof msg - 1; i++)
        msg[i] = (char)('a' + i % 26);
    msg[sizeof msg - 1] = '\0';
    msg[200] = '\xc3', msg[201] = '\xa9'; /* a non-ASCII character after many words */
    snprintf(body, sizeof body,
             "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":1,"
             "\"message\":\"%s\"}]}",
             msg);
    owl_putlog pl;
    cr_assert_eq(parse(body, &pl), OWL_OK);
    event_is(&pl, 0, 1, msg, strlen(msg));
    owl_putlog_free(&pl);
    msg[201] = 'x'; /* now a cut sequence deep inside */
    snprintf(body, sizeof body,
             "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":1,"
             "\"message\":\"%s\"}]}",
             msg);
    cr_assert_eq(parse(body, &pl), OWL_EUNSUPPORTED);
}

/* Bodies left to the general path. refused: whether the general decoder itself refuses the
 * body (else it decodes and the walk of the document answers the error). */
static void falls_back_n(const char *body, size_t n, int refused, const char *why)
{
    owl_putlog pl;
    cr_assert_eq(owl_putlog_parse(body, n, &pl), OWL_EUNSUPPORTED, "%s", why);
    cr_assert_null(pl.ev, "%s: nothing left to free", why);
    cr_assert_null(pl.scratch, "%s: nothing left to free", why);
    bson_t doc = BSON_INITIALIZER;
    owl_error err = {0};
    int rc = owl_aws_json_decode(body, n, &doc, &err);
    bson_destroy(&doc);
    cr_assert_eq(rc != OWL_OK, refused, "%s: the decoder %s it (%s)", why,
                 rc != OWL_OK ? "refuses" : "accepts", err.msg);
}

static void falls_back(const char *body, int refused, const char *why)
{
    falls_back_n(body, strlen(body), refused, why);
}

#define HEAD "{\"logGroupName\":\"g\",\"logStreamName\":\"s\","

Test(putlog_json, left_to_the_general_path)
{
    falls_back(HEAD "\"logGroupName\":\"h\",\"logEvents\":[]}", 1, "a top-level name twice");
    falls_back(HEAD "\"x\":1,\"x\":2,\"logEvents\":[]}", 1, "an unknown name twice");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"a\",\"message\":\"b\"}]}", 1,
               "an event's name twice");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"a\",\"o\":1,\"o\":2}]}", 1,
               "an unknown event member twice");
    falls_back(HEAD "\"e\":{\"a\":{\"b\":1,\"b\":1}},\"logEvents\":[]}", 1,
               "a name twice deep in a skipped value");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1.5,\"message\":\"a\"}]}", 0,
               "a 1.5 timestamp");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1e3,\"message\":\"a\"}]}", 0,
               "a 1e3 timestamp");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":99999999999999999999,\"message\":\"a\"}]}", 0,
               "a timestamp past int64");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":\"1\",\"message\":\"a\"}]}", 0,
               "a string timestamp");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1}]}", 0, "no message");
    falls_back(HEAD "\"logEvents\":[{\"message\":\"a\"}]}", 0, "no timestamp");
    falls_back(HEAD "\"logEvents\":[{}]}", 0, "an empty event");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":null}]}", 0, "a null message");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":5}]}", 0, "a number message");
    falls_back(HEAD "\"logEvents\":[\"a\"]}", 0, "an event that is not an object");
    falls_back(HEAD "\"logEvents\":{}}", 0, "logEvents not a list");
    falls_back("{\"logStreamName\":\"s\",\"logEvents\":[]}", 0, "no group");
    falls_back("{\"logGroupName\":\"g\",\"logEvents\":[]}", 0, "no stream");
    falls_back(HEAD "\"x\":1}", 0, "no logEvents");
    falls_back("{\"logGroupName\":5,\"logStreamName\":\"s\",\"logEvents\":[]}", 0,
               "a number group");
    falls_back(HEAD "\"sequenceToken\":null,\"logEvents\":[]}", 0, "a null token");
    falls_back("{}", 0, "an empty object");
    falls_back("", 0, "an empty body");
    falls_back(" ", 0, "white space only");
    falls_back_n(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"a\\u0000b\"}]}",
                 strlen(HEAD) + 51, 1, "NUL by \\u0000");
    falls_back_n(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"a\0b\"}]}",
                 strlen(HEAD) + 46, 1, "a raw NUL");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"a\tb\"}]}", 1,
               "a raw control character");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\xff\"}]}", 1,
               "an invalid UTF-8 byte");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\xc0\xaf\"}]}", 1,
               "overlong UTF-8");
    /* past ASCII in every lane of the eight-byte scan, not only its first byte */
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"abcdefg\xff ok\"}]}", 1,
               "an invalid UTF-8 byte eighth in a word");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"abcdefghij\xffk ok\"}]}", 1,
               "an invalid UTF-8 byte third in the second word");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\xed\xa0\x80\"}]}", 1,
               "a surrogate in raw UTF-8");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\\ud83d\"}]}", 1,
               "a lone high surrogate");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\\ude00x\"}]}", 1,
               "a lone low surrogate");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\\ud83d\\u0041\"}]}", 1,
               "a high surrogate and no low one");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\\x\"}]}", 1, "a bad escape");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"\\u12\"}]}", 1,
               "a short \\u escape");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"ab", 1, "truncated in a string");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":1,\"message\":\"ab\"}", 1, "truncated after");
    falls_back(HEAD "\"logEvents\":[]", 1, "no closing brace");
    falls_back(HEAD "\"logEvents\":[]}x", 1, "trailing garbage");
    falls_back(HEAD "\"logEvents\":[]}{}", 1, "two documents");
    falls_back(HEAD "\"logEvents\":[],}", 1, "a trailing comma");
    falls_back(HEAD "\"logEvents\":[{\"timestamp\":01,\"message\":\"a\"}]}", 1, "a leading zero");
    falls_back(HEAD "\"x\":tru,\"logEvents\":[]}", 1, "a bad word");
    falls_back("[1]", 1, "not an object");
}

/* 31 arrays inside the top-level object reach depth 32, the decoder's limit; 32 go past. */
Test(putlog_json, nesting_limit_as_the_decoder)
{
    char body[256];
    for (int k = 31; k <= 32; k++) {
        int o = snprintf(body, sizeof body, HEAD "\"x\":");
        for (int i = 0; i < k; i++)
            body[o++] = '[';
        for (int i = 0; i < k; i++)
            body[o++] = ']';
        snprintf(body + o, sizeof body - (size_t)o, ",\"logEvents\":[]}");
        owl_putlog pl;
        if (k == 31) {
            cr_assert_eq(parse(body, &pl), OWL_OK);
            owl_putlog_free(&pl);
        } else {
            falls_back(body, 1, "nested too deeply");
        }
    }
}

/* Unknown names are compared for repeats up to 16 per object; past that, the general path. */
Test(putlog_json, many_unknown_names_fall_back)
{
    char body[1024];
    for (int k = 16; k <= 17; k++) {
        int o = snprintf(body, sizeof body, HEAD "\"logEvents\":[]");
        for (int i = 0; i < k; i++)
            o += snprintf(body + o, sizeof body - (size_t)o, ",\"k%d\":%d", i, i);
        snprintf(body + o, sizeof body - (size_t)o, "}");
        owl_putlog pl;
        if (k == 16) {
            cr_assert_eq(parse(body, &pl), OWL_OK, "16 unknown names");
            owl_putlog_free(&pl);
        } else {
            falls_back(body, 0, "17 unknown names");
        }
    }
}

Test(putlog_json, many_events)
{
    enum { N = 5000 };
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, HEAD "\"logEvents\":[");
    for (int i = 0; i < N; i++)
        owl_buf_printf(&b, "%s{\"timestamp\":%d,\"message\":\"line %d%s\"}", i ? "," : "", i, i,
                       i % 7 ? "" : "\\n");
    owl_buf_puts(&b, "]}");
    owl_putlog pl;
    cr_assert_eq(parse_n(b.data, b.len, &pl), OWL_OK);
    cr_assert_eq(pl.n, N);
    for (int i = 0; i < N; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "line %d%s", i, i % 7 ? "" : "\n");
        event_is(&pl, (size_t)i, i, want, (size_t)n);
    }
    owl_putlog_free(&pl);
    owl_buf_free(&b);
}

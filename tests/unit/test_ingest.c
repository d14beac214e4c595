/* test_ingest.c — the AWS action layer (ingest/): each codec's decode and encode (JSON,
 * query form and XML, RPC v2 CBOR, REST binding), the limits, the typed getters, matching,
 * and every error shape with its status per protocol. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"

/* ---- helpers ---- */

/* The plain-JSON text of doc (static buffer reused per call). */
static const char *js(const bson_t *doc)
{
    static owl_buf b;
    owl_buf_reset(&b);
    owl_aws_json_encode(doc, 0, &b);
    return b.data ? b.data : "";
}

static int json_ok(const char *text, bson_t *out)
{
    owl_error err = {0};
    return owl_aws_json_decode(text, strlen(text), out, &err);
}

/* Decodes text as JSON and returns its re-encoding, or "ERR" (static). */
static const char *json_trip(const char *text)
{
    bson_t d = BSON_INITIALIZER;
    static char out[4096];
    if (json_ok(text, &d) != OWL_OK)
        snprintf(out, sizeof out, "ERR");
    else
        snprintf(out, sizeof out, "%s", js(&d));
    bson_destroy(&d);
    return out;
}

static const char *query_trip(const char *form)
{
    bson_t d = BSON_INITIALIZER;
    owl_error err = {0};
    static char out[4096];
    if (owl_aws_query_decode(form, strlen(form), &d, &err) != OWL_OK)
        snprintf(out, sizeof out, "ERR %s", err.msg);
    else
        snprintf(out, sizeof out, "%s", js(&d));
    bson_destroy(&d);
    return out;
}

static const char *cbor_trip(const void *p, size_t n)
{
    bson_t d = BSON_INITIALIZER;
    owl_error err = {0};
    static char out[4096];
    if (owl_aws_cbor_decode(p, n, &d, &err) != OWL_OK)
        snprintf(out, sizeof out, "ERR %s", err.msg);
    else
        snprintf(out, sizeof out, "%s", js(&d));
    bson_destroy(&d);
    return out;
}
#define CBOR(...) cbor_trip((const unsigned char[]){__VA_ARGS__}, \
                            sizeof((const unsigned char[]){__VA_ARGS__}))

/* ---- JSON ---- */

Test(json, decode_types_and_plain_encode)
{
    cr_assert_str_eq(json_trip("{\"a\":1,\"b\":-2147483649,\"c\":1.5,\"d\":true,\"e\":false,"
                               "\"f\":null,\"g\":[1,[2,{}],[]],\"h\":{\"i\":\"x\"}}"),
                     "{\"a\":1,\"b\":-2147483649,\"c\":1.5,\"d\":true,\"e\":false,\"f\":null,"
                     "\"g\":[1,[2,{}],[]],\"h\":{\"i\":\"x\"}}");
    bson_t d = BSON_INITIALIZER;
    bson_iter_t it;
    cr_assert_eq(json_ok("{\"small\":7,\"big\":9007199254740993,\"huge\":1e400000}", &d),
                 OWL_EINVAL);
    bson_reinit(&d);
    cr_assert_eq(json_ok("{\"small\":7,\"big\":9007199254740993,\"over\":"
                         "123456789012345678901234567890}", &d), OWL_OK);
    cr_assert(bson_iter_init_find(&it, &d, "small") && BSON_ITER_HOLDS_INT32(&it));
    cr_assert(bson_iter_init_find(&it, &d, "big") && BSON_ITER_HOLDS_INT64(&it));
    cr_assert_eq(bson_iter_int64(&it), 9007199254740993LL);
    cr_assert(bson_iter_init_find(&it, &d, "over") && BSON_ITER_HOLDS_DOUBLE(&it));
    bson_destroy(&d);
    /* doubles: shortest text that reads back, integral ones stay floating point */
    cr_assert_str_eq(json_trip("{\"a\":0.1,\"b\":2.0,\"c\":1e300,\"d\":-0.0,\"e\":1E-7}"),
                     "{\"a\":0.1,\"b\":2.0,\"c\":1e+300,\"d\":-0.0,\"e\":1e-07}");
    /* empty body and whitespace are an empty input */
    cr_assert_str_eq(json_trip(""), "{}");
    cr_assert_str_eq(json_trip(" \n\t"), "{}");
}

Test(json, strings_and_dollar_keys)
{
    cr_assert_str_eq(json_trip("{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"}"),
                     "{\"s\":\"\xc3\xa9\xf0\x9f\x98\x80\\n\\\"\\\\/\"}");
    /* "$" keys are ordinary names, never extended JSON */
    cr_assert_str_eq(json_trip("{\"$date\":{\"$numberLong\":\"5\"},\"$oid\":1,\"a.b\":2}"),
                     "{\"$date\":{\"$numberLong\":\"5\"},\"$oid\":1,\"a.b\":2}");
    /* issue 9: a NUL inside a value would be cut at by every C-string reader: refused */
    cr_assert_str_eq(json_trip("{\"v\":\"a\\u0000b\"}"), "ERR");
}

/* issue 9, point 8: one document per body, no NUL, no field name twice. */
Test(json, strict_documents)
{
    owl_error err = {0};
    bson_t d = BSON_INITIALIZER;
    const char *two = "{\"policy\":[\"iam:GetKey\"]}{\"policy\":[\"*\"]}";
    cr_assert_eq(owl_aws_json_decode(two, strlen(two), &d, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "one JSON document per body"), "%s", err.msg);
    bson_reinit(&d);
    const char *dup = "{\"policy\":[\"iam:GetKey\"],\"policy\":[\"*\"]}";
    cr_assert_eq(owl_aws_json_decode(dup, strlen(dup), &d, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "\"policy\" is given twice"), "%s", err.msg);
    bson_reinit(&d);
    const char *nul = "{\"policy\":[\"iam:GetKey\\u0000xyz\"]}";
    cr_assert_eq(owl_aws_json_decode(nul, strlen(nul), &d, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "NUL in a string"), "%s", err.msg);
    bson_reinit(&d);
    cr_assert_eq(owl_aws_json_decode("{\"a\":1}\0", 8, &d, &err), OWL_EINVAL,
                 "a NUL byte after the document is trailing data");
    bson_destroy(&d);
    const char *bad[] = {
        "{\"a\":1} {\"a\":1}", "{\"a\":1}\n{}", "{}{}", "{} x",
        "{\"a\":{\"b\":1,\"b\":2}}", "{\"a\":[{\"x\":1,\"y\":2,\"x\":3}]}",
        "{\"\\u0061\":1,\"a\":2}", "{\"k\\u0000\":1}", "{\"a\":[\"\\u0000\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_str_eq(json_trip(bad[i]), "ERR", "%s", bad[i]);
    /* the same name in different objects, and trailing whitespace, are fine */
    cr_assert_str_eq(json_trip("{\"a\":{\"a\":1},\"b\":{\"a\":2}} \r\n"),
                     "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
    /* a large object goes through the sorted check: unique passes, one duplicate fails */
    owl_buf big = OWL_BUF_INIT;
    owl_buf_putc(&big, '{');
    for (int i = 0; i < 500; i++)
        owl_buf_printf(&big, "%s\"k%d\":%d", i ? "," : "", i, i);
    owl_buf_putc(&big, '}');
    cr_assert_neq(strcmp(json_trip(big.data), "ERR"), 0);
    big.len--;
    owl_buf_puts(&big, ",\"k250\":0}");
    cr_assert_str_eq(json_trip(big.data), "ERR");
    owl_buf_free(&big);
}

Test(json, rejects_bad_input)
{
    const char *bad[] = {
        "[1]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":-}", "{\"a\":.5}", "{\"a\":NaN}", "{\"a\":tru}", "{a:1}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\t\"}",
        "{\"a\":\"\xff\"}", "{\"\\u0000\":1}", "{\"a\":[1 2]}", "{\"a\":\"unterminated}",
        "{\"a\":1e}", "{\"a\":\"\\u12\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_str_eq(json_trip(bad[i]), "ERR", "%s", bad[i]);
}

Test(json, nesting_limit)
{
    char deep[200] = "";
    /* the top object is level 1: 31 more arrays fit, 32 do not */
    strcat(deep, "{\"a\":");
    for (int i = 0; i < 31; i++)
        strcat(deep, "[");
    for (int i = 0; i < 31; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    cr_assert_neq(strcmp(json_trip(deep), "ERR"), 0);
    char deeper[200] = "{\"a\":[";
    strcat(deeper, deep + 5);
    deeper[strlen(deeper) - 1] = '\0';
    strcat(deeper, "]}");
    cr_assert_str_eq(json_trip(deeper), "ERR");
}

Test(json, encode_dates_binary_and_odd_types)
{
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_DATE_TIME(&d, "t", 1795239096123LL);
    BSON_APPEND_DATE_TIME(&d, "w", 1795239096000LL);
    bson_append_binary(&d, "b", -1, BSON_SUBTYPE_BINARY, (const uint8_t *)"\x00\xff\x10", 3);
    BSON_APPEND_DOUBLE(&d, "nan", NAN);
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&d, "oid", &oid);
    cr_assert_str_eq(js(&d), "{\"t\":1795239096.123,\"w\":1795239096,\"b\":\"AP8Q\","
                             "\"nan\":null,\"oid\":null}");
    owl_buf b = OWL_BUF_INIT;
    owl_aws_json_encode(&d, 1, &b);
    cr_assert(strstr(b.data, "\"t\":\"2026-11-21T05:31:36.123Z\""), "%s", b.data);
    owl_buf_free(&b);
    bson_destroy(&d);
}

/* ---- query form and XML ---- */

Test(query, lists_maps_and_nesting)
{
    cr_assert_str_eq(
        query_trip("Action=PutMetricData&Version=2010-08-01&Namespace=App"
                   "&MetricData.member.2.MetricName=Err&MetricData.member.1.MetricName=Lat"
                   "&MetricData.member.1.Dimensions.member.1.Name=host"
                   "&MetricData.member.1.Dimensions.member.1.Value=a%20b"
                   "&MetricData.member.1.Value=1.5&X-Amz-Date=20261203T000000Z"),
        "{\"MetricData\":[{\"Dimensions\":[{\"Name\":\"host\",\"Value\":\"a b\"}],"
        "\"MetricName\":\"Lat\",\"Value\":\"1.5\"},{\"MetricName\":\"Err\"}],"
        "\"Namespace\":\"App\"}");
    /* numeric order, not text order: 10 after 2 */
    cr_assert_str_eq(query_trip("L.member.10=j&L.member.2=b&L.member.1=a"),
                     "{\"L\":[\"a\",\"b\",\"j\"]}");
    /* maps from entry.N.key/value, and flattened lists */
    cr_assert_str_eq(query_trip("Tags.entry.2.key=k2&Tags.entry.2.value=v2"
                                "&Tags.entry.1.key=k1&Tags.entry.1.value=v1&Flat.2=b&Flat.1=a"),
                     "{\"Flat\":[\"a\",\"b\"],\"Tags\":{\"k1\":\"v1\",\"k2\":\"v2\"}}");
    cr_assert_str_eq(query_trip("M.entry.1.key=k&M.entry.1.value.member.1=x"),
                     "{\"M\":{\"k\":[\"x\"]}}");
    cr_assert_str_eq(query_trip("A.B.C=1&A.B.D=2&E=+%2B&&F"),
                     "{\"A\":{\"B\":{\"C\":\"1\",\"D\":\"2\"}},\"E\":\" +\",\"F\":\"\"}");
    cr_assert_str_eq(query_trip(""), "{}");
    /* names of digits and names of letters mixed at one level keep each name's parameters
     * together (the fuzzer found "21" given twice when the sort was not a total order) */
    cr_assert_str_eq(query_trip("A&21.m&n&21.1&6.m&6V&2r"),
                     "ERR 21: list items need an index 1, 2, ...");
}

Test(query, rejects_bad_forms)
{
    const char *bad[] = {
        "A=1&A.B=2",                      /* value and members */
        "A=1&A=2",                        /* twice */
        "L.member.1=a&L.member.01=b",     /* the same index twice */
        "L.member.x=a",                   /* not an index */
        "L.member.0=a",                   /* indexes start at 1 */
        "L.member.1=a&L.other=b",         /* list mixed with fields */
        "M.entry.1.key=k",                /* map entry without value */
        "M.entry.1.value=v",              /* map entry without key */
        "A..B=1", ".A=1", "A.=1",         /* empty parts */
        "A=%zz", "%4=1",                  /* bad escapes */
        "A=%ff",                          /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(strncmp(query_trip(bad[i]), "ERR", 3) == 0, "%s -> %s", bad[i],
                  query_trip(bad[i]));
}

Test(query, limits)
{
    owl_buf f = OWL_BUF_INIT;
    for (int i = 1; i <= OWL_AWS_MAX_PARAMS + 1; i++)
        owl_buf_printf(&f, "L.member.%d=x&", i);
    bson_t d = BSON_INITIALIZER;
    owl_error err = {0};
    cr_assert_eq(owl_aws_query_decode(f.data, f.len, &d, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "more than"));
    bson_destroy(&d);
    owl_buf_reset(&f);
    for (int i = 0; i < OWL_AWS_MAX_DEPTH + 1; i++)
        owl_buf_puts(&f, i ? ".A" : "A");
    owl_buf_puts(&f, "=1");
    cr_assert(strncmp(query_trip(f.data), "ERR", 3) == 0);
    owl_buf_free(&f);
    char longkey[OWL_AWS_MAX_KEY + 8];
    memset(longkey, 'k', sizeof longkey);
    strcpy(longkey + OWL_AWS_MAX_KEY + 1, "=1");
    cr_assert(strncmp(query_trip(longkey), "ERR", 3) == 0);
}

Test(query, xml_encode)
{
    bson_t d = BSON_INITIALIZER, arr, m;
    BSON_APPEND_UTF8(&d, "Arn", "a<b>&\"'");
    BSON_APPEND_INT64(&d, "N", -5);
    BSON_APPEND_BOOL(&d, "T", true);
    BSON_APPEND_DATE_TIME(&d, "When", 1795239096123LL);
    BSON_APPEND_ARRAY_BEGIN(&d, "L", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &m);
    BSON_APPEND_UTF8(&m, "Name", "x");
    bson_append_document_end(&arr, &m);
    BSON_APPEND_DOUBLE(&arr, "1", 2.5);
    bson_append_array_end(&d, &arr);
    BSON_APPEND_NULL(&d, "Skipped");
    owl_buf b = OWL_BUF_INIT;
    owl_aws_xml_encode("GetCallerIdentity", "https://sts.amazonaws.com/doc/2011-06-15/", &d, 0,
                       "rid<1>", &b);
    cr_assert_str_eq(b.data,
                     "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                     "<GetCallerIdentityResult><Arn>a&lt;b&gt;&amp;&quot;&apos;</Arn><N>-5</N>"
                     "<T>true</T><When>2026-11-21T05:31:36.123Z</When>"
                     "<L><member><Name>x</Name></member><member>2.5</member></L>"
                     "</GetCallerIdentityResult><ResponseMetadata><RequestId>rid&lt;1&gt;"
                     "</RequestId></ResponseMetadata></GetCallerIdentityResponse>\n");
    owl_buf_reset(&b);
    bson_t empty = BSON_INITIALIZER;
    owl_aws_xml_encode("PutMetricData", NULL, &empty, 0, "r", &b);
    cr_assert_str_eq(b.data, "<PutMetricDataResponse><ResponseMetadata><RequestId>r"
                             "</RequestId></ResponseMetadata></PutMetricDataResponse>\n");
    owl_buf_reset(&b);
    owl_aws_xml_encode("TagResource", NULL, &empty, 1, "r", &b); /* an empty structure */
    cr_assert_str_eq(b.data, "<TagResourceResponse><TagResourceResult></TagResourceResult>"
                             "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                             "</TagResourceResponse>\n");
    owl_buf_free(&b);
    bson_destroy(&d);
}

/* ---- CBOR ---- */

Test(cbor, scalar_types)
{
    /* {"u":0, "v":24, "w":65536, "x":-1, "y":-256, "z":2^63-1} */
    cr_assert_str_eq(CBOR(0xa6, 0x61, 'u', 0x00, 0x61, 'v', 0x18, 24, 0x61, 'w', 0x1a, 0, 1, 0, 0,
                          0x61, 'x', 0x20, 0x61, 'y', 0x38, 0xff, 0x61, 'z', 0x1b, 0x7f, 0xff,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                     "{\"u\":0,\"v\":24,\"w\":65536,\"x\":-1,\"y\":-256,"
                     "\"z\":9223372036854775807}");
    /* -2^63 is the smallest that fits */
    cr_assert_str_eq(CBOR(0xa1, 0x61, 'n', 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                     "{\"n\":-9223372036854775808}");
    /* half, single and double floats; bool, null, undefined; bytes */
    cr_assert_str_eq(CBOR(0xa7, 0x61, 'h', 0xf9, 0x3e, 0x00, 0x61, 's', 0xfa, 0x3f, 0xc0, 0, 0,
                          0x61, 'd', 0xfb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18,
                          0x61, 't', 0xf5, 0x61, 'f', 0xf4, 0x61, 'n', 0xf6, 0x61, 'b', 0x42,
                          0x00, 0xff),
                     "{\"h\":1.5,\"s\":1.5,\"d\":3.141592653589793,\"t\":true,\"f\":false,"
                     "\"n\":null,\"b\":\"AP8=\"}");
    cr_assert_str_eq(CBOR(0xa1, 0x61, 'u', 0xf7), "{\"u\":null}");
}

Test(cbor, big_ints_are_refused)
{
    cr_assert(strstr(CBOR(0xa1, 0x61, 'x', 0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0), "out of range"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'x', 0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0), "out of range"));
    /* bignums (tags 2, 3) and any tag but 1 */
    cr_assert(strstr(CBOR(0xa1, 0x61, 'x', 0xc2, 0x42, 0x01, 0x00), "tag"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'x', 0xc3, 0x41, 0x01), "tag"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'x', 0xd8, 0x20, 0x61, 'u'), "tag"));
}

Test(cbor, tag1_timestamps)
{
    bson_t d = BSON_INITIALIZER;
    bson_iter_t it;
    owl_error err = {0};
    /* {"a": 1(1795239096), "b": 1(1795239096.5)} */
    const unsigned char in[] = {0xa2, 0x61, 'a', 0xc1, 0x1a, 0x6b, 0x00, 0x08, 0xb8,
                                0x61, 'b', 0xc1, 0xfb, 0x41, 0xda, 0xc0, 0x4b, 0x2e, 0x20, 0, 0};
    cr_assert_eq(owl_aws_cbor_decode(in, sizeof in, &d, &err), OWL_OK, "%s", err.msg);
    cr_assert(bson_iter_init_find(&it, &d, "a") && BSON_ITER_HOLDS_DATE_TIME(&it));
    cr_assert_eq(bson_iter_date_time(&it), 1795164344000LL);
    cr_assert(bson_iter_init_find(&it, &d, "b") && BSON_ITER_HOLDS_DATE_TIME(&it));
    cr_assert_eq(bson_iter_date_time(&it), 1795239096500LL);
    /* and back: tag 1 with an integer for whole seconds, a double otherwise */
    owl_buf b = OWL_BUF_INIT;
    owl_aws_cbor_encode(&d, &b);
    cr_assert_eq(b.len, sizeof in);
    cr_assert_eq(memcmp(b.data, in, 9), 0);
    cr_assert_eq((unsigned char)b.data[11], 0xc1);
    cr_assert_eq((unsigned char)b.data[12], 0xfb);
    owl_buf_free(&b);
    bson_destroy(&d);
    /* a tag 1 on a string is refused */
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0xc1, 0x61, 'x'), "ERR", 3) == 0);
}

Test(cbor, indefinite_length_items)
{
    /* {_ "ab"+"c": [_ 1, -257], "b": (_ h'01', h'0203'), "e": {}, "f": []} */
    cr_assert_str_eq(CBOR(0xbf, 0x7f, 0x62, 'a', 'b', 0x61, 'c', 0xff, 0x9f, 0x01, 0x39, 0x01,
                          0x00, 0xff, 0x61, 'b', 0x5f, 0x41, 0x01, 0x42, 0x02, 0x03, 0xff,
                          0x61, 'e', 0xa0, 0x61, 'f', 0x80, 0xff),
                     "{\"abc\":[1,-257],\"b\":\"AQID\",\"e\":{},\"f\":[]}");
    /* a byte chunk inside a text string, a nested indefinite string */
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0x7f, 0x41, 0x01, 0xff), "ERR", 3) == 0);
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0x7f, 0x7f, 0xff, 0xff), "ERR", 3) == 0);
    /* break between a key and its value, break without an open item */
    cr_assert(strncmp(CBOR(0xbf, 0x61, 'a', 0xff), "ERR", 3) == 0);
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0xff), "ERR", 3) == 0);
}

Test(cbor, rejects_bad_input)
{
    cr_assert(strstr(CBOR(0x81, 0x01), "must be a CBOR map"));
    cr_assert(strstr(CBOR(0x61, 'x'), "must be a CBOR map"));
    cr_assert(strstr(CBOR(0xa1, 0x01, 0x02), "keys must be text"));
    cr_assert(strstr(CBOR(0xa1, 0x41, 'k', 0x02), "keys must be text"));
    cr_assert(strstr(CBOR(0xa1, 0x62, 'k', 0x00, 0x02), "NUL in a text string"));
    cr_assert(strstr(CBOR(0xa0, 0x00), "after the top-level"));
    cr_assert(strstr(CBOR(0xa2, 0x61, 'a', 0x01), "not complete"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'a', 0x1a, 0x00), "truncated"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'a', 0x62, 0xff, 0xfe), "UTF-8"));
    /* a length far beyond the data is truncation, not an allocation */
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x01),
                      "ERR", 3) == 0);
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x01),
                      "ERR", 3) == 0);
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0xfc), "ERR", 3) == 0); /* reserved */
    /* unassigned simple values are not silently skipped */
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0xe0), "ERR", 3) == 0, "%s",
              CBOR(0xa1, 0x61, 'a', 0xe0));
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0xf8, 0x20), "ERR", 3) == 0, "%s",
              CBOR(0xa1, 0x61, 'a', 0xf8, 0x20));
}

/* issue 9, point 8: no NUL in text strings, no map key twice (byte strings may hold NUL). */
Test(cbor, strict_maps_and_text)
{
    /* {"a": "x\0y"} */
    cr_assert(strstr(CBOR(0xa1, 0x61, 'a', 0x63, 'x', 0x00, 'y'), "NUL in a text string"));
    /* {"a": h'00'} is binary: kept */
    cr_assert(strncmp(CBOR(0xa1, 0x61, 'a', 0x41, 0x00), "ERR", 3) != 0);
    /* {"a": 1, "a": 2} definite and indefinite, and nested */
    cr_assert(strstr(CBOR(0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02), "\"a\" is given twice"));
    cr_assert(strstr(CBOR(0xbf, 0x61, 'a', 0x01, 0x61, 'a', 0x02, 0xff), "given twice"));
    cr_assert(strstr(CBOR(0xa1, 0x61, 'm', 0xa2, 0x61, 'b', 0x01, 0x61, 'b', 0x02),
                     "\"b\" is given twice"));
    /* an indefinite-length text key equal to a definite one */
    cr_assert(strstr(CBOR(0xa2, 0x61, 'a', 0x01, 0x7f, 0x61, 'a', 0xff, 0x02), "given twice"));
    cr_assert_str_eq(CBOR(0xa2, 0x61, 'a', 0x01, 0x61, 'b', 0x02), "{\"a\":1,\"b\":2}");
}

Test(cbor, nesting_limit)
{
    unsigned char buf[64];
    size_t n = 0;
    buf[n++] = 0xa1, buf[n++] = 0x61, buf[n++] = 'a';
    for (int i = 0; i < 31; i++)
        buf[n++] = 0x81;
    buf[n++] = 0x01;
    cr_assert_neq(strncmp(cbor_trip(buf, n), "ERR", 3), 0, "%s", cbor_trip(buf, n));
    n = 3;
    for (int i = 0; i < 32; i++)
        buf[n++] = 0x81;
    buf[n++] = 0x01;
    cr_assert(strstr(cbor_trip(buf, n), "nested too deeply"));
    /* a body of nothing but nesting: refused at the limit, not recursed into */
    static unsigned char deep[1 << 20];
    memset(deep, 0x9f, sizeof deep);
    deep[0] = 0xbf, deep[1] = 0x61, deep[2] = 'a';
    cr_assert(strstr(cbor_trip(deep, sizeof deep), "nested too deeply"));
}

Test(cbor, encode_round_trip)
{
    bson_t d = BSON_INITIALIZER, arr, back = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&d, "__type", "X");
    BSON_APPEND_INT32(&d, "i", -24);
    BSON_APPEND_INT64(&d, "big", INT64_MIN);
    BSON_APPEND_DOUBLE(&d, "f", 0.1);
    BSON_APPEND_ARRAY_BEGIN(&d, "a", &arr);
    BSON_APPEND_BOOL(&arr, "0", false);
    BSON_APPEND_NULL(&arr, "1");
    bson_append_array_end(&d, &arr);
    owl_buf b = OWL_BUF_INIT;
    owl_error err = {0};
    owl_aws_cbor_encode(&d, &b);
    cr_assert_eq((unsigned char)b.data[0], 0xa5);
    cr_assert_eq(owl_aws_cbor_decode(b.data, b.len, &back, &err), OWL_OK, "%s", err.msg);
    char want[256];
    snprintf(want, sizeof want, "%s", js(&d));
    cr_assert_str_eq(js(&back), want);
    owl_buf_free(&b);
    bson_destroy(&d);
    bson_destroy(&back);
}

/* ---- REST binding ---- */

Test(rest, uri_match_and_labels)
{
    bson_t l = BSON_INITIALIZER;
    cr_assert_eq(owl_aws_uri_match("/a/{x}/b/{Name}", "/a/1/b/x%2Fy", &l), 1);
    cr_assert_str_eq(js(&l), "{\"x\":\"1\",\"Name\":\"x/y\"}");
    bson_destroy(&l);
    cr_assert_eq(owl_aws_uri_match("/TraceSegments", "/TraceSegments/", NULL), 1);
    cr_assert_eq(owl_aws_uri_match("/TraceSegments", "/TraceSegments//", NULL), 0);
    cr_assert_eq(owl_aws_uri_match("/a/{x}", "/a/", NULL), 0);
    cr_assert_eq(owl_aws_uri_match("/a/{x}", "/a/1/2", NULL), 0);
    cr_assert_eq(owl_aws_uri_match("/a", "/b", NULL), 0);
    bson_t l2 = BSON_INITIALIZER;
    cr_assert_eq(owl_aws_uri_match("/a/{x}", "/a/%zz", &l2), OWL_EINVAL);
    bson_destroy(&l2);
}

/* owl_aws_label_fn for uri_walk: counts labels, records the last, and ends the walk with
 * stop_rc at label number stop_at (0: never). */
typedef struct walk_seen {
    int n, stop_rc, stop_at;
    char last[32];
} walk_seen;

static int walk_label(void *ud, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    walk_seen *w = ud;
    w->n++;
    snprintf(w->last, sizeof w->last, "%.*s=%.*s", (int)name_len, name, (int)value_len, value);
    return w->n == w->stop_at ? w->stop_rc : 1;
}

/* issue 9, point 8: %00 (and a raw NUL) never decodes, wherever percent-decoding runs. */
Test(rest, percent_nul_refused)
{
    char out[32];
    cr_assert_eq(owl_aws_percent_decode("ID%00.json", 10, out, 0), -1);
    cr_assert_eq(owl_aws_percent_decode("a\0b", 3, out, 0), -1);
    cr_assert_eq(owl_aws_percent_decode("a%000", 5, out, 1), -1);
    cr_assert_eq(owl_aws_percent_decode("a%01", 4, out, 1), 2, "only NUL is refused");
    cr_assert_eq(owl_aws_percent_decode("a%10", 4, out, 1), 2);
    bson_t labels = BSON_INITIALIZER;
    cr_assert_eq(owl_aws_uri_match("/api/v1/keys/{id}", "/api/v1/keys/OWLX%00.json", &labels),
                 OWL_EINVAL);
    bson_destroy(&labels);
    cr_assert_str_eq(query_trip("M.entry.1.key=k&M.entry.1.value=1&M.entry.2.key=k&"
                                "M.entry.2.value=2"),
                     "ERR M: map key k is given twice");
    cr_assert_str_eq(query_trip("A=x%00y"), "ERR malformed percent-escape in the form");
    cr_assert_str_eq(query_trip("A%00=x"), "ERR malformed percent-escape in the form");
    bson_t d = BSON_INITIALIZER;
    owl_error err = {0};
    cr_assert_eq(owl_aws_query_decode("A=x\0y", 6, &d, &err), OWL_EINVAL);
    bson_destroy(&d);
}

Test(rest, uri_walk_labels_cap_and_stop)
{
    walk_seen w = {0};
    cr_assert_eq(owl_aws_uri_walk("/a/{x}/{yy}", "/a/1/%41b/", 2, walk_label, &w), 1);
    cr_assert_eq(w.n, 2);
    cr_assert_str_eq(w.last, "yy=Ab");
    /* a path past max_labels does not match; the labels before were handed over */
    w = (walk_seen){0};
    cr_assert_eq(owl_aws_uri_walk("/a/{x}/{y}", "/a/1/2", 1, walk_label, &w), 0);
    cr_assert_eq(w.n, 1);
    /* the callback's answer ends the walk and is returned */
    w = (walk_seen){.stop_at = 1, .stop_rc = OWL_ENOMEM};
    cr_assert_eq(owl_aws_uri_walk("/a/{x}/{y}", "/a/1/2", 8, walk_label, &w), OWL_ENOMEM);
    cr_assert_eq(w.n, 1);
    w = (walk_seen){.stop_at = 1, .stop_rc = 0};
    cr_assert_eq(owl_aws_uri_walk("/a/{x}", "/a/1", 8, walk_label, &w), 0);
    /* a bad escape is reported before the callback sees the label */
    w = (walk_seen){0};
    cr_assert_eq(owl_aws_uri_walk("/a/{x}", "/a/%4", 8, walk_label, &w), OWL_EINVAL);
    cr_assert_eq(w.n, 0);
    /* without a callback the labels are only matched, not decoded */
    cr_assert_eq(owl_aws_uri_walk("/a/{x}", "/a/%4", 8, NULL, NULL), 1);
}

/* ---- services used by the serve tests ---- */

static int h_echo(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)ctx;
    bson_concat(out, in);
    return OWL_OK;
}

static int h_fail(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)in, (void)out;
    return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFoundException404, "no %s", "group");
}

static int h_broken(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)ctx, (void)in, (void)out;
    return OWL_EIO; /* fails without saying how */
}

static const owl_aws_op xray_ops[] = {
    {.name = "GetGroup", .action = "xray:GetGroup", .fn = h_echo, .method = "POST",
     .uri = "/groups/{GroupName}", .query_params = (const char *const[]){"Limit", NULL}},
    {.name = "Fail", .action = "xray:Fail", .fn = h_fail, .method = "POST", .uri = "/fail"},
};
static const owl_aws_service xray = {.name = "xray", .signing_name = "xray",
                                     .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_REST_JSON),
                                     .ops = xray_ops, .nops = 2};
static const owl_aws_op cw_ops[] = {
    {.name = "Echo", .action = "cloudwatch:Echo", .fn = h_echo},
    {.name = "Fail", .action = "cloudwatch:Fail", .fn = h_fail},
    {.name = "Broken", .action = "cloudwatch:Broken", .fn = h_broken},
};
static const owl_aws_service cw = {
    .name = "cloudwatch", .signing_name = "monitoring",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_JSON) | OWL_AWS_PROTO_BIT(OWL_AWS_CBOR) |
                 OWL_AWS_PROTO_BIT(OWL_AWS_QUERY),
    .json_prefix = "GraniteServiceVersion20100801", .json_version = "1.0",
    .cbor_service = "GraniteServiceVersion20100801", .query_version = "2010-08-01",
    .xml_ns = "http://monitoring.amazonaws.com/doc/2010-08-01/", .ops = cw_ops, .nops = 3};
static const owl_aws_op logs_ops[] = {{.name = "Echo", .action = "logs:Echo", .fn = h_echo}};
static const owl_aws_service logs = {.name = "logs", .signing_name = "logs",
                                     .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_JSON),
                                     .json_prefix = "Logs_20140328", .json_version = "1.1",
                                     .ops = logs_ops, .nops = 1};
static const owl_aws_op sts_ops[] = {{.name = "Echo", .action = "sts:Echo", .fn = h_echo}};
static const owl_aws_service sts = {.name = "sts", .signing_name = "sts",
                                    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_QUERY),
                                    .xml_ns = "urn:sts", .ops = sts_ops, .nops = 1};
static const owl_aws_op native_ops[] = {
    {.name = "Echo", .action = "owl:Echo", .fn = h_echo, .method = "GET", .uri = "/api/echo",
     .query_params = (const char *const[]){"limit", NULL}},
    {.name = "Fail", .action = "owl:Fail", .fn = h_fail, .method = "POST", .uri = "/api/fail"},
};
static const owl_aws_service native = {.name = "owl",
                                       .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
                                       .ops = native_ops, .nops = 2};
static const owl_aws_service *const svcs[] = {&xray, &cw, &logs, &sts, &native};

typedef struct served {
    owl_aws_match m;
    owl_buf headers, body;
    owl_aws_reply r;
    int rc;
} served;

static void serve(served *s, const char *method, const char *path, const char *query,
                  const char *target, const char *ct, const char *scope, const void *body,
                  size_t n)
{
    memset(s, 0, sizeof *s);
    owl_aws_request rq = {.method = method, .path = path, .query = query ? query : "",
                          .target = target, .content_type = ct, .scope_service = scope,
                          .body = body, .body_len = n, .request_id = "RID"};
    owl_aws_match_request(svcs, sizeof svcs / sizeof svcs[0], &rq, &s->m);
    s->r.headers = &s->headers;
    s->r.body = &s->body;
    s->rc = owl_aws_serve(&s->m, &rq, NULL, &s->r);
}

static void served_free(served *s)
{
    owl_buf_free(&s->headers);
    owl_buf_free(&s->body);
}

#define TEXT(s) (s)->body.data ? (s)->body.data : ""
#define HDRS(s) (s)->headers.data ? (s)->headers.data : ""

Test(serve, rest_json_binding)
{
    served s;
    const char *body = "{\"FilterExpression\":\"x\",\"N\":2}";
    serve(&s, "POST", "/groups/my%20group", "Limit=5&Other=1", NULL, "application/json", NULL,
          body, strlen(body));
    cr_assert_eq(s.m.proto, OWL_AWS_REST_JSON);
    cr_assert_eq(s.rc, OWL_OK);
    cr_assert_eq(s.r.status, 200);
    cr_assert_str_eq(s.r.content_type, "application/json");
    cr_assert_str_eq(TEXT(&s), "{\"GroupName\":\"my group\",\"Limit\":\"5\","
                               "\"FilterExpression\":\"x\",\"N\":2}");
    served_free(&s);
    /* a body field that the URI already binds */
    body = "{\"GroupName\":\"other\"}";
    serve(&s, "POST", "/groups/g", "", NULL, NULL, NULL, body, strlen(body));
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    cr_assert(strstr(HDRS(&s), "x-amzn-ErrorType: SerializationException\r\n"));
    served_free(&s);
    /* an error with its table status, in REST-JSON's shape */
    serve(&s, "POST", "/fail", "", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 404);
    cr_assert_str_eq(TEXT(&s), "{\"__type\":\"ResourceNotFoundException\",\"message\":\"no group\"}");
    cr_assert(strstr(HDRS(&s), "x-amzn-ErrorType: ResourceNotFoundException\r\n"));
    served_free(&s);
    /* a REST path with another method */
    serve(&s, "GET", "/fail", "", NULL, NULL, NULL, "", 0);
    cr_assert_null(s.m.op);
    cr_assert(s.m.method_mismatch);
    cr_assert_eq(s.rc, OWL_EINVAL);
    served_free(&s);
}

Test(serve, json_versions)
{
    served s;
    const char *body = "{\"a\":[1,2]}";
    serve(&s, "POST", "/", "", "GraniteServiceVersion20100801.Echo", "application/x-amz-json-1.0",
          NULL, body, strlen(body));
    cr_assert_eq(s.r.status, 200);
    cr_assert_str_eq(s.r.content_type, "application/x-amz-json-1.0");
    cr_assert_str_eq(TEXT(&s), body);
    served_free(&s);
    serve(&s, "POST", "/", "", "Logs_20140328.Echo", "application/x-amz-json-1.1", NULL, body,
          strlen(body));
    cr_assert_str_eq(s.r.content_type, "application/x-amz-json-1.1");
    served_free(&s);
    /* errors keep the service's version (the old router always said 1.1) */
    serve(&s, "POST", "/", "", "GraniteServiceVersion20100801.Fail", NULL, NULL, "{}", 2);
    cr_assert_eq(s.r.status, 404);
    cr_assert_str_eq(s.r.content_type, "application/x-amz-json-1.0");
    cr_assert_str_eq(TEXT(&s), "{\"__type\":\"ResourceNotFoundException\",\"message\":\"no group\"}");
    cr_assert(strstr(HDRS(&s), "x-amzn-ErrorType: ResourceNotFoundException\r\n"));
    served_free(&s);
    serve(&s, "POST", "/", "", "Logs_20140328.Echo", NULL, NULL, "{\"a\":", 5);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.content_type, "application/x-amz-json-1.1");
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    served_free(&s);
    /* a handler failing without saying how is a 500 */
    serve(&s, "POST", "/", "", "GraniteServiceVersion20100801.Broken", NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 500);
    cr_assert_str_eq(s.r.error_code, "InternalFailure");
    served_free(&s);
    /* unknown op, unknown prefix */
    serve(&s, "POST", "/", "", "Logs_20140328.Nope", NULL, NULL, "", 0);
    cr_assert_eq(s.m.svc, &logs);
    cr_assert_null(s.m.op);
    served_free(&s);
    serve(&s, "POST", "/", "", "NoDot", NULL, NULL, "", 0);
    cr_assert_eq(s.m.proto, OWL_AWS_JSON);
    cr_assert_null(s.m.svc);
    served_free(&s);
}

Test(serve, cbor)
{
    served s;
    const unsigned char body[] = {0xa1, 0x61, 'n', 0x18, 42};
    serve(&s, "POST", "/service/GraniteServiceVersion20100801/operation/Echo", "", NULL,
          "application/cbor", NULL, body, sizeof body);
    cr_assert_eq(s.m.proto, OWL_AWS_CBOR);
    cr_assert_eq(s.r.status, 200);
    cr_assert_str_eq(s.r.content_type, "application/cbor");
    cr_assert(strstr(HDRS(&s), "smithy-protocol: rpc-v2-cbor\r\n"));
    cr_assert_eq(s.body.len, sizeof body);
    cr_assert_eq(memcmp(s.body.data, body, sizeof body), 0);
    served_free(&s);
    serve(&s, "POST", "/service/GraniteServiceVersion20100801/operation/Fail", "", NULL, NULL,
          NULL, "", 0);
    cr_assert_eq(s.r.status, 404);
    const unsigned char want[] = {0xa2, 0x66, '_', '_', 't', 'y', 'p', 'e', 0x78, 25};
    cr_assert_eq(memcmp(s.body.data, want, sizeof want), 0);
    cr_assert_str_eq(cbor_trip(s.body.data, s.body.len),
                     "{\"__type\":\"ResourceNotFoundException\",\"message\":\"no group\"}");
    served_free(&s);
    serve(&s, "POST", "/service/GraniteServiceVersion20100801/operation/Echo", "", NULL, NULL,
          NULL, "\x81\x01", 2);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    served_free(&s);
    serve(&s, "POST", "/service/Other/operation/Echo", "", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.m.proto, OWL_AWS_CBOR);
    cr_assert_null(s.m.svc);
    served_free(&s);
}

Test(serve, query_and_scope)
{
    served s;
    const char *form = "Action=Echo&Version=2011-06-15&Names.member.1=a";
    /* two services have Echo: the signing scope picks */
    serve(&s, "POST", "/", "", NULL, "application/x-www-form-urlencoded", "sts", form,
          strlen(form));
    cr_assert_eq(s.m.svc, &sts);
    cr_assert_str_eq(TEXT(&s), "<EchoResponse xmlns=\"urn:sts\"><EchoResult><Names><member>a"
                               "</member></Names></EchoResult><ResponseMetadata><RequestId>RID"
                               "</RequestId></ResponseMetadata></EchoResponse>\n");
    served_free(&s);
    serve(&s, "POST", "/", "", NULL, "application/x-www-form-urlencoded", "monitoring", form,
          strlen(form));
    cr_assert_eq(s.m.svc, &cw);
    served_free(&s);
    serve(&s, "GET", "/", "Action=Fail", NULL, NULL, "monitoring", NULL, 0);
    cr_assert_eq(s.r.status, 404);
    cr_assert_str_eq(s.r.content_type, "text/xml");
    cr_assert_str_eq(TEXT(&s), "<ErrorResponse><Error><Type>Sender</Type><Code>"
                               "ResourceNotFoundException</Code><Message>no group</Message>"
                               "</Error><RequestId>RID</RequestId></ErrorResponse>\n");
    served_free(&s);
    /* a POST whose body is not a form: the parameters come from the query string */
    serve(&s, "POST", "/", "Action=Echo&Names.member.1=q", NULL, "application/json", "sts",
          "{}", 2);
    cr_assert_eq(s.m.svc, &sts);
    cr_assert(strstr(TEXT(&s), "<Names><member>q</member></Names>"), "%s", TEXT(&s));
    served_free(&s);
    form = "Action=Echo&A=1&A.B=2";
    serve(&s, "POST", "/", "", NULL, "application/x-www-form-urlencoded", "sts", form,
          strlen(form));
    cr_assert_eq(s.r.status, 400);
    cr_assert(strstr(TEXT(&s), "<Code>MalformedQueryString</Code>"));
    served_free(&s);
    /* a form POST without Action is still the query protocol (MissingAction is the caller's) */
    serve(&s, "POST", "/", "", NULL, "application/x-www-form-urlencoded", NULL, "X=1", 3);
    cr_assert_eq(s.m.proto, OWL_AWS_QUERY);
    cr_assert_null(s.m.op);
    served_free(&s);
}

Test(serve, native)
{
    served s;
    serve(&s, "GET", "/api/echo/", "limit=5&ignored=1", NULL, NULL, NULL, "{\"x\":1}", 7);
    cr_assert_eq(s.m.proto, OWL_AWS_NATIVE);
    cr_assert_eq(s.r.status, 200);
    cr_assert_str_eq(TEXT(&s), "{\"limit\":\"5\"}", "a GET body is not read");
    served_free(&s);
    serve(&s, "POST", "/api/fail", "", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 404);
    cr_assert_str_eq(TEXT(&s), "{\"error\":{\"code\":\"ResourceNotFoundException\","
                               "\"message\":\"no group\"}}");
    served_free(&s);
    serve(&s, "GET", "/api/echo", "limit=%zz", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "InvalidParameter");
    served_free(&s);
    serve(&s, "GET", "/nowhere", "", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.m.proto, OWL_AWS_NATIVE);
    cr_assert_null(s.m.op);
    served_free(&s);
}

/* issue 9, point 8: each strict-input refusal answers 400 in the protocol's own shape. */
Test(serve, strict_inputs_per_protocol)
{
    served s;
    /* native: a bound query parameter given twice, %00 in it, a NUL and a repeated key in
     * the body, two documents */
    const char *nq[] = {"limit=5&limit=6", "limit=5%00", "limit=%005"};
    for (size_t i = 0; i < sizeof nq / sizeof nq[0]; i++) {
        serve(&s, "GET", "/api/echo", nq[i], NULL, NULL, NULL, "", 0);
        cr_assert_eq(s.r.status, 400, "%s", nq[i]);
        cr_assert_str_eq(s.r.error_code, "InvalidParameter", "%s", nq[i]);
        served_free(&s);
    }
    const char *nb[] = {"{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}", "{}{}"};
    for (size_t i = 0; i < sizeof nb / sizeof nb[0]; i++) {
        serve(&s, "POST", "/api/fail", "", NULL, NULL, NULL, nb[i], strlen(nb[i]));
        cr_assert_eq(s.r.status, 400, "%s", nb[i]);
        cr_assert_str_eq(s.r.error_code, "InvalidParameter", "%s", nb[i]);
        cr_assert(strstr(TEXT(&s), "{\"error\":{\"code\":\"InvalidParameter\""));
        served_free(&s);
    }
    /* REST-JSON: %00 in a label, a repeated query parameter, a repeated body field */
    serve(&s, "POST", "/groups/g%00x", "", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    served_free(&s);
    serve(&s, "POST", "/groups/g", "Limit=1&Limit=2", NULL, NULL, NULL, "", 0);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    served_free(&s);
    serve(&s, "POST", "/groups/g", "", NULL, NULL, NULL, "{\"x\":1,\"x\":1}", 15);
    cr_assert_eq(s.r.status, 400);
    served_free(&s);
    /* AWS JSON 1.1 and CBOR */
    serve(&s, "POST", "/", "", "Logs_20140328.Echo", "application/x-amz-json-1.1", NULL,
          "{\"a\":\"x\\u0000\"}", 15);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    cr_assert(strstr(TEXT(&s), "\"__type\":\"SerializationException\""));
    served_free(&s);
    const unsigned char dupmap[] = {0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02};
    serve(&s, "POST", "/service/GraniteServiceVersion20100801/operation/Echo", "", NULL,
          "application/cbor", NULL, dupmap, sizeof dupmap);
    cr_assert_eq(s.r.status, 400);
    cr_assert_str_eq(s.r.error_code, "SerializationException");
    served_free(&s);
    /* query: a repeated scalar, %00 in a value, a repeated Action */
    const char *qf[] = {"Action=Echo&Version=1&A=1&A=2", "Action=Echo&A=x%00",
                        "Action=Echo&Action=Fail"};
    const char *qcode[] = {"MalformedQueryString", "MalformedQueryString", NULL};
    for (size_t i = 0; i < sizeof qf / sizeof qf[0]; i++) {
        serve(&s, "POST", "/", "", NULL, "application/x-www-form-urlencoded", "sts", qf[i],
              strlen(qf[i]));
        cr_assert_eq(s.m.proto, OWL_AWS_QUERY, "%s", qf[i]);
        if (qcode[i]) {
            cr_assert_eq(s.r.status, 400, "%s", qf[i]);
            cr_assert_str_eq(s.r.error_code, qcode[i], "%s", qf[i]);
        } else {
            cr_assert_null(s.m.op, "a repeated Action names no operation");
        }
        served_free(&s);
    }
    serve(&s, "GET", "/", "Action=Echo&Action=Echo", NULL, NULL, "sts", "", 0);
    cr_assert_eq(s.m.proto, OWL_AWS_QUERY, "a GET with a repeated Action is a query call");
    cr_assert_null(s.m.op);
    served_free(&s);
}

/* ---- errors ---- */

Test(errors, statuses_from_the_table)
{
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ValidationException), 400);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ThrottlingException), 400);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ThrottledException), 429);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ServiceUnavailable), 503);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_InternalFailure), 500);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_AccessDenied), 403);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_AccessDeniedException), 400);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ResourceNotFoundException), 400);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_ResourceNotFoundException404), 404);
    cr_assert_eq(owl_aws_err_status(OWL_AWS_ERR_InsufficientStorage), 507);
    cr_assert_str_eq(owl_aws_err_code(OWL_AWS_ERR_ResourceNotFoundException404),
                     "ResourceNotFoundException");
    cr_assert_str_eq(owl_aws_err_code(OWL_AWS_ERR_COUNT), "InternalFailure");
    cr_assert_eq(owl_aws_err_status((owl_aws_err)-1), 500);
    for (int e = 0; e < OWL_AWS_ERR_COUNT; e++) {
        int st = owl_aws_err_status((owl_aws_err)e);
        cr_assert(st >= 400 && st < 600, "%s", owl_aws_err_code((owl_aws_err)e));
        cr_assert_eq(owl_aws_err_is_sender((owl_aws_err)e), st < 500, "%s",
                     owl_aws_err_code((owl_aws_err)e));
    }
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_NATIVE, OWL_ENOTFOUND), OWL_AWS_ERR_ResourceNotFound);
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_QUERY, OWL_EINVAL), OWL_AWS_ERR_InvalidParameterValue);
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_JSON, OWL_EINVAL), OWL_AWS_ERR_ValidationException);
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_CBOR, OWL_EIO), OWL_AWS_ERR_InternalFailure);
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_NATIVE, OWL_EIO), OWL_AWS_ERR_InternalError);
    cr_assert_eq(owl_aws_err_from_owl(OWL_AWS_NATIVE, OWL_ENOSPC), OWL_AWS_ERR_InsufficientStorage);
}

/* One error in each protocol: status, content type, headers, body. */
Test(errors, shapes_per_protocol)
{
    static const struct {
        enum owl_aws_proto proto;
        const owl_aws_service *svc;
        const char *ctype, *header, *body;
    } cases[] = {
        {OWL_AWS_NATIVE, NULL, "application/json", NULL,
         "{\"error\":{\"code\":\"Throttling\",\"message\":\"slow <down>\"}}"},
        {OWL_AWS_REST_JSON, &xray, "application/json", "x-amzn-ErrorType: Throttling\r\n",
         "{\"__type\":\"Throttling\",\"message\":\"slow <down>\"}"},
        {OWL_AWS_JSON, &cw, "application/x-amz-json-1.0", "x-amzn-ErrorType: Throttling\r\n",
         "{\"__type\":\"Throttling\",\"message\":\"slow <down>\"}"},
        {OWL_AWS_JSON, &logs, "application/x-amz-json-1.1", "x-amzn-ErrorType: Throttling\r\n",
         "{\"__type\":\"Throttling\",\"message\":\"slow <down>\"}"},
        {OWL_AWS_QUERY, &sts, "text/xml", NULL,
         "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>slow "
         "&lt;down&gt;</Message></Error><RequestId>RID</RequestId></ErrorResponse>\n"},
        {OWL_AWS_CBOR, &cw, "application/cbor", "smithy-protocol: rpc-v2-cbor\r\n", NULL},
    };
    owl_aws_request rq = {.method = "POST", .path = "/", .query = "", .request_id = "RID"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owl_buf h = OWL_BUF_INIT, b = OWL_BUF_INIT;
        owl_aws_reply r = {.headers = &h, .body = &b};
        owl_aws_error_reply(cases[i].proto, cases[i].svc, &rq,
                            owl_aws_err_status(OWL_AWS_ERR_Throttling),
                            owl_aws_err_code(OWL_AWS_ERR_Throttling), "slow <down>", &r);
        const char *name = owl_aws_proto_name(cases[i].proto);
        cr_assert_eq(r.status, 400, "%s", name);
        cr_assert_str_eq(r.error_code, "Throttling", "%s", name);
        cr_assert_str_eq(r.content_type, cases[i].ctype, "%s", name);
        if (cases[i].header)
            cr_assert(h.data && strstr(h.data, cases[i].header), "%s", name);
        else
            cr_assert_eq(h.len, 0, "%s", name);
        if (cases[i].body)
            cr_assert_str_eq(b.data, cases[i].body, "%s", name);
        else
            cr_assert_str_eq(cbor_trip(b.data, b.len),
                             "{\"__type\":\"Throttling\",\"message\":\"slow <down>\"}");
        owl_buf_free(&h);
        owl_buf_free(&b);
    }
    /* a 5xx is the Receiver's fault; CR/LF cannot split the header block */
    owl_buf h = OWL_BUF_INIT, b = OWL_BUF_INIT;
    owl_aws_reply r = {.headers = &h, .body = &b};
    owl_aws_error_reply(OWL_AWS_QUERY, NULL, &rq, 503, "ServiceUnavailable", "busy", &r);
    cr_assert(strstr(b.data, "<Type>Receiver</Type>"));
    owl_buf_reset(&b);
    owl_aws_error_reply(OWL_AWS_REST_JSON, NULL, &rq, 400, "Evil\r\nX-Injected: 1", "m", &r);
    cr_assert_null(strstr(h.data, "\r\nX-Injected"));
    owl_buf_free(&h);
    owl_buf_free(&b);
}

/* ---- typed getters ---- */

Test(getters, typed_and_string_values)
{
    bson_t d = BSON_INITIALIZER;
    cr_assert_eq(json_ok("{\"i\":42,\"is\":\"-7\",\"f\":1.5,\"fs\":\"2.25\",\"fi\":3.0,"
                         "\"b\":true,\"bs\":\"False\",\"s\":\"text\",\"n\":null,"
                         "\"t\":1795239096.5,\"ts\":\"2026-11-21T05:31:36Z\",\"te\":\"1795239096\","
                         "\"l\":[{\"Name\":\"x\"}],\"bad\":\"12x\"}", &d), OWL_OK);
    int64_t i;
    double f;
    int b;
    const char *s;
    size_t n;
    cr_assert_eq(owl_aws_get_int(NULL, &d, "i", &i), OWL_OK);
    cr_assert_eq(i, 42);
    cr_assert_eq(owl_aws_get_int(NULL, &d, "is", &i), OWL_OK);
    cr_assert_eq(i, -7);
    cr_assert_eq(owl_aws_get_int(NULL, &d, "fi", &i), OWL_OK);
    cr_assert_eq(i, 3);
    cr_assert_eq(owl_aws_get_int(NULL, &d, "f", &i), OWL_EINVAL);
    cr_assert_eq(owl_aws_get_double(NULL, &d, "fs", &f), OWL_OK);
    cr_assert_float_eq(f, 2.25, 1e-12);
    cr_assert_eq(owl_aws_get_double(NULL, &d, "i", &f), OWL_OK);
    cr_assert_float_eq(f, 42.0, 1e-12);
    cr_assert_eq(owl_aws_get_bool(NULL, &d, "b", &b), OWL_OK);
    cr_assert_eq(b, 1);
    cr_assert_eq(owl_aws_get_bool(NULL, &d, "bs", &b), OWL_OK);
    cr_assert_eq(b, 0);
    cr_assert_eq(owl_aws_get_str(NULL, &d, "s", &s, &n), OWL_OK);
    cr_assert_str_eq(s, "text");
    cr_assert_eq(n, 4);
    cr_assert_eq(owl_aws_get_str(NULL, &d, "n", &s, &n), OWL_ENOTFOUND, "null is absent");
    cr_assert_eq(owl_aws_get_str(NULL, &d, "missing", &s, &n), OWL_ENOTFOUND);
    cr_assert_eq(owl_aws_get_str(NULL, &d, "l.0.Name", &s, NULL), OWL_OK);
    cr_assert_str_eq(s, "x");
    int64_t ms;
    cr_assert_eq(owl_aws_get_time_ms(NULL, &d, "t", &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096500LL);
    cr_assert_eq(owl_aws_get_time_ms(NULL, &d, "ts", &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096000LL);
    cr_assert_eq(owl_aws_get_time_ms(NULL, &d, "te", &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096000LL);
    bson_iter_t it;
    cr_assert_eq(owl_aws_get_list(NULL, &d, "l", &it), OWL_OK);
    cr_assert(bson_iter_next(&it) && BSON_ITER_HOLDS_DOCUMENT(&it));
    cr_assert_eq(owl_aws_get_list(NULL, &d, "s", &it), OWL_EINVAL);
    /* a wrong type fails the ctx in the protocol's vocabulary, naming the field */
    owl_aws_ctx ctx = {.proto = OWL_AWS_JSON};
    cr_assert_eq(owl_aws_get_int(&ctx, &d, "bad", &i), OWL_EINVAL);
    cr_assert(ctx.failed);
    cr_assert_eq(ctx.status, 400);
    cr_assert_str_eq(ctx.code, "ValidationException");
    cr_assert_str_eq(ctx.message, "bad must be an integer");
    owl_aws_ctx q = {.proto = OWL_AWS_QUERY};
    cr_assert_eq(owl_aws_get_time_ms(&q, &d, "s", &ms), OWL_EINVAL);
    cr_assert_str_eq(q.code, "InvalidParameterValue");
    owl_aws_ctx nat = {.proto = OWL_AWS_NATIVE};
    cr_assert_eq(owl_aws_get_bool(&nat, &d, "s", &b), OWL_EINVAL);
    cr_assert_str_eq(nat.code, "InvalidParameter");
    /* the first failure wins */
    owl_aws_fail(&nat, OWL_AWS_ERR_InternalError, "later");
    cr_assert_str_eq(nat.code, "InvalidParameter");
    bson_destroy(&d);

    /* the same getters over a query-form document and a CBOR one */
    bson_t qd = BSON_INITIALIZER, cd = BSON_INITIALIZER;
    owl_error err = {0};
    const char *form = "Value=1.5&Count=3&Flag=true&When=2026-11-21T05%3A31%3A36.250Z";
    cr_assert_eq(owl_aws_query_decode(form, strlen(form), &qd, &err), OWL_OK);
    cr_assert_eq(owl_aws_get_double(NULL, &qd, "Value", &f), OWL_OK);
    cr_assert_float_eq(f, 1.5, 1e-12);
    cr_assert_eq(owl_aws_get_int(NULL, &qd, "Count", &i), OWL_OK);
    cr_assert_eq(i, 3);
    cr_assert_eq(owl_aws_get_bool(NULL, &qd, "Flag", &b), OWL_OK);
    cr_assert_eq(owl_aws_get_time_ms(NULL, &qd, "When", &ms), OWL_OK);
    cr_assert_eq(ms, 1795239096250LL);
    const unsigned char cb[] = {0xa1, 0x61, 'w', 0xc1, 0x1a, 0x6b, 0x00, 0x08, 0xb8};
    cr_assert_eq(owl_aws_cbor_decode(cb, sizeof cb, &cd, &err), OWL_OK);
    cr_assert_eq(owl_aws_get_time_ms(NULL, &cd, "w", &ms), OWL_OK);
    cr_assert_eq(ms, 1795164344000LL);
    bson_destroy(&qd);
    bson_destroy(&cd);
}

/* The decoder's own number reading agrees with strtod / strtoll to the bit, on the numbers
 * its fast path takes and on those it hands to the library. */
Test(aws_json, numbers_read_as_strtod_does)
{
    static const char *const fixed[] = {
        "0", "-0", "-0.0", "0.1", "0.3", "1.7976931348623157e308", "5e-324", "123456789012345678",
        "1234567890123456789", "-9223372036854775808", "9007199254740993", "9007199254740993.0",
        "0.000000000000000000000001", "1e22", "1e23", "4.35", "2.675", "1234567.891011",
        "0.1e1", "12345678901234567890.5", "3.14159265358979323846", "1E-22", "7e+22",
    };
    char text[128];
    unsigned seed = 12345;
    for (size_t k = 0; k < OWL_ARRAY_LEN(fixed) + 20000; k++) {
        char num[64];
        if (k < OWL_ARRAY_LEN(fixed)) {
            snprintf(num, sizeof num, "%s", fixed[k]);
        } else { /* random digits, point and exponent */
            size_t n = 0;
            seed = seed * 1103515245 + 12345;
            if (seed >> 31)
                num[n++] = '-';
            int ndig = 1 + (int)((seed >> 8) % 20), point = (int)((seed >> 16) % (ndig + 1));
            for (int i = 0; i < ndig; i++) {
                seed = seed * 1103515245 + 12345;
                num[n++] = (char)('0' + (i == 0 && ndig > 1 ? 1 + (seed >> 16) % 9 : (seed >> 16) % 10));
                if (i + 1 == point && i + 1 < ndig)
                    num[n++] = '.';
            }
            seed = seed * 1103515245 + 12345;
            if ((seed >> 16) % 3 == 0)
                n += (size_t)snprintf(num + n, sizeof num - n, "e%d", (int)((seed >> 20) % 60) - 30);
            num[n] = '\0';
        }
        snprintf(text, sizeof text, "{\"v\":%s}", num);
        bson_t d = BSON_INITIALIZER;
        owl_error err = {0};
        cr_assert_eq(owl_aws_json_decode(text, strlen(text), &d, &err), OWL_OK, "%s: %s", num,
                     err.msg);
        bson_iter_t it;
        cr_assert(bson_iter_init_find(&it, &d, "v"));
        if (BSON_ITER_HOLDS_DOUBLE(&it)) {
            double want = strtod(num, NULL), got = bson_iter_double(&it);
            cr_assert(memcmp(&want, &got, sizeof got) == 0, "%s: %.17g, strtod %.17g", num, got,
                      want);
            cr_assert(strpbrk(num, ".eE") || strlen(num) > 18, "%s read as a double", num);
        } else {
            cr_assert(!strpbrk(num, ".eE"), "%s read as an integer", num);
            cr_assert_eq(bson_iter_as_int64(&it), strtoll(num, NULL, 10), "%s", num);
        }
        bson_destroy(&d);
    }
}

/* ---- owl's native metrics body, read directly ---- */

static int native_body(const char *body, owl_native_metrics *m)
{
    return owl_native_metrics_parse(body, strlen(body), 1000000, 12345, m);
}

Test(native_metrics, bulk_and_single_forms)
{
    owl_native_metrics m;
    const char *body =
        " {\"metrics\": [ {\"namespace\":\"bench\", \"name\":\"up\", \"unit\":\"Count\","
        " \"resolution\":1, \"dimensions\":{\"host\":\"a\",\"zone\":\"z-1\"},"
        " \"values\":[1, 2.5, -0.125e1], \"timestamps\":[1700000000000,1700000001000,1.7e12]},\n"
        "{\"name\":\"n2\",\"namespace\":\"ns\",\"value\":42,\"timestamp\":1700000000500},"
        "{\"name\":\"n3\",\"namespace\":\"ns\",\"value\":0.1,\"dimensions\":{}}]}\n";
    cr_assert_eq(native_body(body, &m), OWL_OK);
    cr_assert_eq(m.n, 5);
    cr_assert_str_eq(m.d[0].id.ns, "bench");
    cr_assert_str_eq(m.d[2].id.name, "up");
    cr_assert_str_eq(m.d[1].unit, "Count");
    cr_assert_eq(m.d[1].resolution, 1);
    cr_assert_eq(m.d[2].id.ndims, 2);
    cr_assert_str_eq(m.d[2].id.dims[1].name, "zone");
    cr_assert_str_eq(m.d[2].id.dims[1].value, "z-1");
    cr_assert_eq(m.d[0].time_ms, 1700000000000LL);
    cr_assert_eq(m.d[2].time_ms, 1700000000000LL);
    cr_assert(m.d[1].values[0] == 2.5 && m.d[2].values[0] == -1.25 && m.d[2].nvalues == 1);
    cr_assert(m.d[3].values[0] == 42 && m.d[3].time_ms == 1700000000500LL && !m.d[3].unit);
    cr_assert(m.d[4].values[0] == 0.1 && m.d[4].time_ms == 12345 && m.d[4].id.ndims == 0);
    owl_native_metrics_free(&m);
}

/* Everything else goes to the general path (which answers the errors). */
Test(native_metrics, other_bodies_fall_back)
{
    static const char *const bodies[] = {
        "",
        "{}",
        "{\"metrics\":[]}",
        "{\"metrics\":[{}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1}]} x",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1}],\"x\":1}",
        "{\"metrics\":[{\"namespace\":\"n\\u0041\",\"name\":\"m\",\"value\":1}]}",
        "{\"metrics\":[{\"namespace\":\"n\xc3\xa9\",\"name\":\"m\",\"value\":1}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"namespace\":\"n\",\"name\":\"m\",\"value\":1}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1,\"dimensions\":{\"a\":\"1\",\"a\":\"2\"}}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1,\"dimensions\":{\"a\":1}}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"values\":[1,2]}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"values\":[1],\"counts\":[2]}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"stats\":{\"count\":1,\"sum\":1,\"min\":1,\"max\":1}}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"timestamps\":[1,2],\"values\":[1]}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"timestamps\":[1],\"values\":[1],\"value\":3}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1,\"timestamp\":\"2026-01-01T00:00:00Z\"}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1,\"resolution\":1.5}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1e400}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":01}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":null}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1,}]}",
        "{\"metrics\":[{\"name\":\"m\",\"value\":1}]}",
        "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":1}",
    };
    for (size_t i = 0; i < OWL_ARRAY_LEN(bodies); i++) {
        owl_native_metrics m;
        cr_assert_eq(native_body(bodies[i], &m), OWL_EUNSUPPORTED, "body %zu: %s", i, bodies[i]);
    }
    /* numbers past the fast reading: strtod's, as the general decoder reads them */
    static const char *const nums[] = {"0.1234567890123456789", "12345678901234567890",
                                       "-9223372036854775808", "179999999999.123456", "5e-324"};
    for (size_t i = 0; i < OWL_ARRAY_LEN(nums); i++) {
        char b[256];
        owl_native_metrics x;
        snprintf(b, sizeof b, "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"value\":%s}]}",
                 nums[i]);
        cr_assert_eq(native_body(b, &x), OWL_OK, "%s", nums[i]);
        cr_assert(x.d[0].values[0] == strtod(nums[i], NULL), "%s", nums[i]);
        owl_native_metrics_free(&x);
    }
    /* more datums than allowed: the general path says so */
    owl_native_metrics m;
    const char *two = "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\",\"timestamps\":[1,2],"
                      "\"values\":[1,2]}]}";
    cr_assert_eq(owl_native_metrics_parse(two, strlen(two), 1, 0, &m), OWL_EUNSUPPORTED);
    cr_assert_eq(owl_native_metrics_parse(two, strlen(two), 2, 0, &m), OWL_OK);
    owl_native_metrics_free(&m);
    /* 31 dimensions: past CloudWatch's 30, the general path's error */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"metrics\":[{\"namespace\":\"n\",\"name\":\"m\","
                                                 "\"value\":1,\"dimensions\":{");
    for (int k = 0; k < 31; k++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"d%d\":\"v\"", k ? "," : "", k);
    snprintf(big + n, sizeof big - n, "}}]}");
    cr_assert_eq(native_body(big, &m), OWL_EUNSUPPORTED);
}

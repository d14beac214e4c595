/* test_client_propagation.c — client/propagation.c through owl/owl.h only: the W3C Trace
 * Context examples and the w3c/trace-context test suite's valid and invalid traceparent /
 * tracestate cases, the W3C Baggage examples (percent-encoding, properties, OWS, malformed
 * lists, limits), X-Amzn-Trace-Id forms, the order of formats in owl_extract, and
 * inject -> extract round trips. Built from the client's sources alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/owl/owl.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"
#define TP(flags) "00-" TID "-" SID "-" flags
#define XROOT "1-5759e988-bd862e3fe1be46a994272793"
#define XPARENT "53995c3f42cd8ad8"

/* ---- a carrier: up to 8 headers, names matched case-insensitively ---- */
typedef struct hdrs {
    int n;
    char name[8][32];
    char *value[8];
    int fail_on; /* set: fail on the header of this index of calls (-1 never) */
    int sets;
} hdrs;

static const char *get(void *carrier, const char *name)
{
    hdrs *h = carrier;
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static int set(void *carrier, const char *name, const char *value)
{
    hdrs *h = carrier;
    if (h->sets++ == h->fail_on)
        return 1;
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0) {
            free(h->value[i]);
            h->value[i] = strdup(value);
            return 0;
        }
    cr_assert_lt(h->n, 8);
    snprintf(h->name[h->n], sizeof h->name[0], "%s", name);
    h->value[h->n++] = strdup(value);
    return 0;
}

static void add(hdrs *h, const char *name, const char *value)
{
    cr_assert_eq(set(h, name, value), 0);
}

static void clear(hdrs *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->value[i]);
    memset(h, 0, sizeof *h);
    h->fail_on = -1;
}

/* Extracts from one header. */
static owl_context *from1(const char *name, const char *value, unsigned formats)
{
    hdrs h = {.fail_on = -1};
    int rc = 1;
    add(&h, name, value);
    owl_context *c = owl_extract(get, &h, formats, &rc);
    cr_assert_eq(rc, 0);
    clear(&h);
    return c;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void expect_ids(const owl_context *c, const char *tid, const char *sid)
{
    uint8_t t[16], s[8];
    char th[33], sh[17];
    cr_assert(owl_context_valid(c));
    cr_assert_eq(owl_context_ids(c, t, s), 0);
    hex(t, 16, th);
    hex(s, 8, sh);
    cr_expect_str_eq(th, tid);
    cr_expect_str_eq(sh, sid);
}

/* ---- traceparent ---- */

Test(traceparent, spec_example)
{
    owl_context *c = from1("traceparent", TP("01"), OWL_PROPAGATE_ALL);
    cr_assert_not_null(c);
    expect_ids(c, TID, SID);
    cr_expect_eq(owl_context_sampled(c), 1);
    cr_expect_eq(owl_context_remote(c), 1);
    cr_expect_str_eq(owl_context_tracestate(c), "");
    cr_expect_eq(owl_baggage_count(c), 0);
    owl_context_free(c);

    c = from1("traceparent", TP("00"), OWL_PROPAGATE_W3C);
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_sampled(c), 0);
    owl_context_free(c);
}

Test(traceparent, other_flag_bits_ignored_and_sent_as_zero)
{
    hdrs out = {.fail_on = -1};
    owl_context *c = from1("traceparent", TP("09"), OWL_PROPAGATE_W3C);
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_sampled(c), 1);
    cr_assert_eq(owl_inject(c, set, &out, OWL_PROPAGATE_W3C), 0);
    cr_expect_str_eq(get(&out, "traceparent"), TP("01"));
    owl_context_free(c);
    clear(&out);

    c = from1("traceparent", TP("fe"), OWL_PROPAGATE_W3C);
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_sampled(c), 0);
    owl_context_free(c);
}

Test(traceparent, invalid_forms)
{
    static const char *bad[] = {
        "",
        "00",
        "00-" TID "-" SID "-0",                          /* flags too short */
        "00-" TID "-" SID "-001",                        /* flags too long */
        "00-" TID "-" SID "-.0",                         /* flags' characters */
        "00-" TID "-" SID "-0.",
        "00-" TID "-" SID "-0A",                         /* uppercase flags */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", /* uppercase trace id */
        "00-" TID "-00F067AA0BA902B7-01",                /* uppercase parent id */
        "0A-" TID "-" SID "-01",                         /* uppercase version */
        "00-00000000000000000000000000000000-" SID "-01",
        "00-" TID "-0000000000000000-01",
        "ff-" TID "-" SID "-01",
        "0-" TID "-" SID "-01",
        "000-" TID "-" SID "-01",
        ".0-" TID "-" SID "-01",
        "0.-" TID "-" SID "-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01",   /* 31 digits */
        "00-4bf92f3577b34da6a3ce929d0e0e47366-" SID "-01", /* 33 */
        "00-4bf92f3577b34da6a3ce929d0e0e473.-" SID "-01",
        "00-" TID "-00f067aa0ba902b-01",
        "00-" TID "-00f067aa0ba902b77-01",
        "00-" TID "-00f067aa0ba902b.-01",
        "00_" TID "-" SID "-01",
        "00-" TID "_" SID "-01",
        "00-" TID "-" SID "_01",
        "00-" TID "-" SID "-01.",                        /* version 00: exactly 55 */
        "00-" TID "-" SID "-01-what-the-future-will-be-like",
        "cc-" TID "-" SID "-01.what-the-future-will-be-like",
        TP("01") "," TP("01"),                           /* sent twice */
        "00-" TID "-" SID "-0\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hdrs h = {.fail_on = -1};
        add(&h, "traceparent", bad[i]);
        add(&h, "tracestate", "foo=1");
        int rc = 1;
        owl_context *c = owl_extract(get, &h, OWL_PROPAGATE_ALL, &rc);
        cr_expect_null(c, "traceparent \"%s\" accepted", bad[i]);
        cr_expect_eq(rc, 0);
        owl_context_free(c);
        clear(&h);
    }
}

Test(traceparent, future_versions_and_ows)
{
    static const char *good[] = {
        "cc-" TID "-" SID "-01",
        "cc-" TID "-" SID "-01-what-the-future-will-be-like",
        "01-" TID "-" SID "-01-",
        " " TP("01"),
        "\t" TP("01") "\t ",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        owl_context *c = from1("traceparent", good[i], OWL_PROPAGATE_W3C);
        cr_assert_not_null(c, "traceparent \"%s\" refused", good[i]);
        expect_ids(c, TID, SID);
        cr_expect_eq(owl_context_sampled(c), 1);
        owl_context_free(c);
    }
}

/* ---- tracestate ---- */

/* The tracestate kept beside a valid traceparent, "" when dropped. */
static char *ts_of(const char *ts)
{
    hdrs h = {.fail_on = -1};
    add(&h, "traceparent", TP("01"));
    add(&h, "tracestate", ts);
    owl_context *c = owl_extract(get, &h, OWL_PROPAGATE_W3C, NULL);
    cr_assert_not_null(c, "tracestate \"%s\" voided the traceparent", ts);
    expect_ids(c, TID, SID);
    char *kept = strdup(owl_context_tracestate(c));
    owl_context_free(c);
    clear(&h);
    return kept;
}

static void expect_ts(const char *in, const char *want)
{
    char *got = ts_of(in);
    cr_expect_str_eq(got, want, "tracestate \"%s\": \"%s\", expected \"%s\"", in, got, want);
    free(got);
}

/* n members k0=v .. k{n-1}=v joined by sep */
static char *members(int n, const char *sep)
{
    char *s = calloc((size_t)n, 16), *w = s;
    for (int i = 0; i < n; i++)
        w += sprintf(w, "%sk%d=v", i ? sep : "", i);
    return s;
}

Test(tracestate, valid_lists)
{
    expect_ts("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    expect_ts("fw529a3039@dt=YQ, 1a-2f@ada=b", "fw529a3039@dt=YQ,1a-2f@ada=b");
    expect_ts("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3");
    expect_ts("foo=1,,bar=2,", "foo=1,bar=2");            /* empty members dropped */
    expect_ts(" , \t,", "");                              /* nothing left: none */
    expect_ts("", "");
    expect_ts("a_-*/9=x y!~", "a_-*/9=x y!~");            /* key characters; a space inside */
    expect_ts("foo= bar", "foo= bar");                    /* a value may begin with a space */
    char *l = members(32, ","), *sp = members(32, " ,, ");
    expect_ts(l, l);
    expect_ts(sp, l);
    free(l);
    free(sp);

    char key[258], tenant[300], val[260];
    memset(key, 'k', 256), key[256] = '\0';
    snprintf(tenant, sizeof tenant, "%s=1", key);
    expect_ts(tenant, tenant);
    memset(key, 't', 241), key[241] = '\0';
    snprintf(tenant, sizeof tenant, "%s@abcdefghijklmn=1", key); /* 241 @ 14 */
    expect_ts(tenant, tenant);
    memset(val, 'v', 256), val[256] = '\0';
    snprintf(tenant, sizeof tenant, "k=%s", val);
    expect_ts(tenant, tenant);
}

Test(tracestate, invalid_lists_dropped_not_the_traceparent)
{
    char key[258], big[300], val[260];
    char *l33 = members(33, ","), *l33b = members(33, ",,");
    const char *bad[] = {
        "foo=1,foo=2", "foo=1,bar=2,foo=3", "FOO=1", "foo =1", "foo.bar=1", "1foo=1", "foo@=1",
        "@foo=1", "a@b@c=1", "a@1b=1", "foo", "foo=", "foo=bar=baz", "foo=\x7f", "foo=\x01",
        "foo=b\tr", "=1", "foo=1,bar", "foo=1;bar=2", "f\xc3\xa9=1", l33, l33b, big, key, val,
    };
    memset(key, 'k', 257);
    strcpy(key + 257, "");
    snprintf(big, sizeof big, "%s=1", key);            /* a 257-character simple key */
    memset(key, 't', 242), key[242] = '\0';
    strcat(key, "@dt=1");                              /* tenant of 242 */
    memset(val, 'v', 257), val[257] = '\0';
    memmove(val + 2, val, 258), val[0] = 'k', val[1] = '='; /* value of 257 */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *got = ts_of(bad[i]);
        cr_expect_str_eq(got, "", "tracestate \"%.60s\" kept", bad[i]);
        free(got);
    }
    expect_ts("t@abcdefghijklmno=1", "");              /* system of 15 */
    free(l33);
    free(l33b);
}

Test(tracestate, set_and_get)
{
    uint8_t t[16] = {1}, s[8] = {2};
    owl_context *c = owl_context_new(t, s, 1);
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_remote(c), 0);
    cr_expect_eq(owl_context_set_tracestate(c, " a=1 ,, b=2"), 0);
    cr_expect_str_eq(owl_context_tracestate(c), "a=1,b=2");
    cr_expect_eq(owl_context_set_tracestate(c, "a=1,a=2"), OWL_ERR_INVAL);
    cr_expect_str_eq(owl_context_tracestate(c), "a=1,b=2");
    cr_expect_eq(owl_context_set_tracestate(c, NULL), 0);
    cr_expect_str_eq(owl_context_tracestate(c), "");
    cr_expect_eq(owl_context_set_tracestate(NULL, "a=1"), OWL_ERR_INVAL);
    owl_context_free(c);
}

/* ---- baggage ---- */

static owl_context *bag(const char *v)
{
    return from1("baggage", v, OWL_PROPAGATE_BAGGAGE);
}

static void expect_entry(const owl_context *c, size_t i, const char *key, const char *value)
{
    const char *k, *v;
    cr_assert_eq(owl_baggage_at(c, i, &k, &v), 0);
    cr_expect_str_eq(k, key);
    cr_expect_str_eq(v, value);
}

/* c's baggage header as injected. */
static char *bag_sent(const owl_context *c)
{
    hdrs h = {.fail_on = -1};
    cr_assert_eq(owl_inject(c, set, &h, OWL_PROPAGATE_BAGGAGE), 0);
    const char *b = get(&h, "baggage");
    char *s = b ? strdup(b) : NULL;
    clear(&h);
    return s;
}

Test(baggage, spec_examples_properties_and_ows)
{
    owl_context *c = bag("key1=value1;property1;property2, key2 = value2, "
                         "key3=value3; propertyKey=propertyValue");
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_valid(c), 0);
    cr_expect_eq(owl_context_ids(c, NULL, NULL), OWL_ERR_INVAL);
    cr_assert_eq(owl_baggage_count(c), 3);
    expect_entry(c, 0, "key1", "value1");
    expect_entry(c, 1, "key2", "value2");
    expect_entry(c, 2, "key3", "value3");
    cr_expect_str_eq(owl_baggage_get(c, "key2"), "value2");
    cr_expect_null(owl_baggage_get(c, "key4"));
    cr_expect_eq(owl_baggage_at(c, 3, NULL, NULL), OWL_ERR_NOTFOUND);
    char *sent = bag_sent(c);
    cr_expect_str_eq(sent, "key1=value1;property1;property2,key2=value2,"
                           "key3=value3; propertyKey=propertyValue");
    free(sent);
    owl_context_free(c);

    c = bag("k = v ; p1 = x ;p2\t");
    cr_assert_not_null(c);
    expect_entry(c, 0, "k", "v");
    sent = bag_sent(c);
    cr_expect_str_eq(sent, "k=v; p1 = x ;p2");
    free(sent);
    owl_context_free(c);
}

Test(baggage, percent_decoding)
{
    owl_context *c = bag("serverNode=DF%2028,userId=Am%C3%A9lie,plus=a+b,pct=100%,bad=%zz%4,"
                         "nul=a%00b,notutf8=%FF%C3,lower=%c3%a9,empty=,eq=a=b,owl=%F0%9F%A6%89,"
                         "overlong=%E0%80%80,overlong4=%F0%80%80%80,surrogate=%ED%A0%80,past=%F4%90%80%80");
    cr_assert_not_null(c);
    cr_expect_str_eq(owl_baggage_get(c, "serverNode"), "DF 28");
    cr_expect_str_eq(owl_baggage_get(c, "userId"), "Am\xc3\xa9lie");
    cr_expect_str_eq(owl_baggage_get(c, "plus"), "a+b");
    cr_expect_str_eq(owl_baggage_get(c, "pct"), "100%");
    cr_expect_str_eq(owl_baggage_get(c, "bad"), "%zz%4");
    cr_expect_str_eq(owl_baggage_get(c, "nul"), "a\xef\xbf\xbd" "b");
    cr_expect_str_eq(owl_baggage_get(c, "notutf8"), "\xef\xbf\xbd\xef\xbf\xbd");
    cr_expect_str_eq(owl_baggage_get(c, "lower"), "\xc3\xa9");
    cr_expect_str_eq(owl_baggage_get(c, "empty"), "");
    cr_expect_str_eq(owl_baggage_get(c, "eq"), "a=b");
#define FFFD "\xef\xbf\xbd"
    cr_expect_str_eq(owl_baggage_get(c, "owl"), "\xf0\x9f\xa6\x89");
    cr_expect_str_eq(owl_baggage_get(c, "overlong"), FFFD FFFD FFFD);
    cr_expect_str_eq(owl_baggage_get(c, "overlong4"), FFFD FFFD FFFD FFFD);
    cr_expect_str_eq(owl_baggage_get(c, "surrogate"), FFFD FFFD FFFD);
    cr_expect_str_eq(owl_baggage_get(c, "past"), FFFD FFFD FFFD FFFD);
    owl_context_free(c);
}

Test(baggage, encoding_on_inject)
{
    uint8_t t[16] = {1}, s[8] = {2};
    owl_context *c = owl_context_new(t, s, 0);
    cr_assert_eq(owl_baggage_set(c, "user", "a b,c;d%\"\\\xc3\xa9~"), 0);
    cr_assert_eq(owl_baggage_set(c, "n", "1"), 0);
    char *sent = bag_sent(c);
    cr_expect_str_eq(sent, "user=a%20b%2Cc%3Bd%25%22%5C%C3%A9~,n=1");
    free(sent);
    cr_assert_eq(owl_baggage_set(c, "user", "x"), 0); /* replaced in place */
    expect_entry(c, 0, "user", "x");
    cr_assert_eq(owl_baggage_set(c, "user", NULL), 0);
    cr_expect_eq(owl_baggage_count(c), 1);
    expect_entry(c, 0, "n", "1");
    cr_expect_eq(owl_baggage_set(c, "absent", NULL), 0);
    cr_expect_eq(owl_baggage_set(c, "a b", "1"), OWL_ERR_INVAL);
    cr_expect_eq(owl_baggage_set(c, "", "1"), OWL_ERR_INVAL);
    cr_expect_eq(owl_baggage_set(c, "k,", "1"), OWL_ERR_INVAL);
    cr_expect_eq(owl_baggage_set(c, "k", "\xff"), OWL_ERR_INVAL);
    cr_expect_eq(owl_baggage_count(c), 1);
    owl_context_free(c);
}

Test(baggage, malformed_lists_dropped_whole)
{
    static const char *bad[] = {
        "key1=value1,,key2=v", "a=1,", ",a=1", "=v", "k", "a=1,k", "k=v v", "k=\"v\"",
        "k=v;;", "k=v;p=x y", "k\xc3\xa9=v", "k=v\\", "k=v;=x", "k v=1", "k=\x7f", "a=1,b=\xc3\xa9",
        "k=v,  ,j=w",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_context *c = bag(bad[i]);
        cr_expect_null(c, "baggage \"%s\" accepted", bad[i]);
        owl_context_free(c);
    }
    /* a malformed baggage does not void the ids */
    hdrs h = {.fail_on = -1};
    add(&h, "traceparent", TP("01"));
    add(&h, "baggage", "a=1,bad");
    owl_context *c = owl_extract(get, &h, OWL_PROPAGATE_ALL, NULL);
    cr_assert_not_null(c);
    expect_ids(c, TID, SID);
    cr_expect_eq(owl_baggage_count(c), 0);
    owl_context_free(c);
    clear(&h);
    cr_expect_null(bag("  \t"));
}

Test(baggage, duplicate_key_keeps_last_value_in_first_place)
{
    owl_context *c = bag("k=1;p,j=2,k=3");
    cr_assert_eq(owl_baggage_count(c), 2);
    expect_entry(c, 0, "k", "3");
    expect_entry(c, 1, "j", "2");
    char *sent = bag_sent(c);
    cr_expect_str_eq(sent, "k=3,j=2");
    free(sent);
    owl_context_free(c);
}

Test(baggage, limits_on_extract)
{
    char *l = members(70, ",");
    owl_context *c = bag(l);
    cr_assert_not_null(c);
    cr_expect_eq(owl_baggage_count(c), 64);
    expect_entry(c, 63, "k63", "v");
    owl_context_free(c);
    free(l);

    l = members(181, ","); /* past the grammar's 180 members: malformed */
    cr_expect_null(bag(l));
    free(l);

    /* three entries of 4,000 bytes: the third would pass 8,192 */
    char *big = malloc(3 * 4001 + 1), *w = big;
    for (int i = 0; i < 3; i++) {
        w += sprintf(w, "%sk%d=", i ? "," : "", i);
        memset(w, 'x', 3997 - (i ? 1 : 0)), w += 3997 - (i ? 1 : 0);
    }
    *w = '\0';
    c = bag(big);
    cr_assert_not_null(c);
    cr_expect_eq(owl_baggage_count(c), 2);
    char *sent = bag_sent(c);
    cr_expect_leq(strlen(sent), 8192);
    free(sent);
    owl_context_free(c);
    free(big);

    /* exactly 8,192 bytes as sent: kept whole */
    char *exact = malloc(8193);
    strcpy(exact, "a=");
    memset(exact + 2, 'x', 8190), exact[8192] = '\0';
    c = bag(exact);
    cr_assert_not_null(c);
    cr_expect_eq(owl_baggage_count(c), 1);
    owl_context_free(c);
    exact[2] = ' '; /* "a= xx..": OWS dropped, 8,191 bytes */
    exact[3] = '%'; /* "%x" stays "%" and is sent as %25: 8,193 bytes, dropped */
    cr_expect_null(bag(exact));
    free(exact);
}

Test(baggage, limits_on_set)
{
    uint8_t t[16] = {1}, s[8] = {2};
    owl_context *c = owl_context_new(t, s, 1);
    char key[16];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(owl_baggage_set(c, key, "v"), 0);
    }
    cr_expect_eq(owl_baggage_set(c, "k64", "v"), OWL_ERR_LIMIT);
    cr_expect_eq(owl_baggage_set(c, "k0", "w"), 0); /* a replacement is not one more */
    cr_expect_eq(owl_baggage_count(c), 64);
    owl_context_free(c);

    c = owl_context_new(t, s, 1);
    char *v = malloc(8192);
    memset(v, 'x', 8189), v[8189] = '\0'; /* "a=" + 8,189 + ",b=" ... */
    cr_assert_eq(owl_baggage_set(c, "a", v), 0);
    cr_expect_eq(owl_baggage_set(c, "b", ""), OWL_ERR_LIMIT); /* ",b=": 8,194 */
    v[8188] = '\0';
    cr_assert_eq(owl_baggage_set(c, "a", v), 0);   /* 8,190 */
    cr_expect_eq(owl_baggage_set(c, "b", "1"), OWL_ERR_LIMIT);
    cr_expect_eq(owl_baggage_set(c, "b", ""), OWL_ERR_LIMIT);
    v[8187] = '\0';
    cr_assert_eq(owl_baggage_set(c, "a", v), 0);   /* 8,189 */
    cr_expect_eq(owl_baggage_set(c, "b", ""), 0);   /* 8,189 + 3: 8,192 */
    cr_expect_eq(owl_baggage_set(c, "a", "\xc3\xa9"), 0);
    v[8187] = v[8188] = 'x';
    v[8189] = '\0';
    v[0] = ' ';                                    /* sent as %20: 2 bytes more */
    cr_expect_eq(owl_baggage_set(c, "a", v), OWL_ERR_LIMIT);
    cr_expect_str_eq(owl_baggage_get(c, "a"), "\xc3\xa9"); /* unchanged */
    free(v);
    owl_context_free(c);
}

/* ---- X-Amzn-Trace-Id ---- */

static owl_context *xray(const char *v)
{
    return from1("X-Amzn-Trace-Id", v, OWL_PROPAGATE_XRAY);
}

Test(xray, forms)
{
    static const struct {
        const char *h;
        int sampled;
    } good[] = {
        {"Root=" XROOT ";Parent=" XPARENT ";Sampled=1", 1},
        {"Sampled=0;Parent=" XPARENT ";Root=" XROOT, 0},
        {"Parent=" XPARENT ";Root=" XROOT ";Sampled=?", -1},
        {"Root=" XROOT ";Parent=" XPARENT, -1},
        {"Root=" XROOT "; Parent=" XPARENT " ; Sampled=1;", 1},
        {"Self=1-67891233-abcdef012345678912345678;Root=" XROOT ";Parent=" XPARENT
         ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;CalledFrom=x;flag",
         1},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        owl_context *c = xray(good[i].h);
        cr_assert_not_null(c, "\"%s\" refused", good[i].h);
        expect_ids(c, "5759e988bd862e3fe1be46a994272793", XPARENT);
        cr_expect_eq(owl_context_sampled(c), good[i].sampled, "\"%s\"", good[i].h);
        cr_expect_eq(owl_context_remote(c), 1);
        owl_context_free(c);
    }
}

Test(xray, root_without_parent_keeps_the_decision)
{
    owl_context *c = xray("Root=" XROOT ";Sampled=1");
    cr_assert_not_null(c);
    cr_expect_eq(owl_context_valid(c), 0);
    cr_expect_eq(owl_context_sampled(c), 1);
    hdrs out = {.fail_on = -1};
    cr_expect_eq(owl_inject(c, set, &out, OWL_PROPAGATE_ALL), 0);
    cr_expect_eq(out.n, 0); /* no ids to send */
    owl_context_free(c);
    cr_expect_null(xray("Root=" XROOT)); /* nothing usable */
}

Test(xray, invalid_forms)
{
    static const char *bad[] = {
        "", "Parent=" XPARENT ";Sampled=1", "Root=1-5759e98-bd862e3fe1be46a994272793;Parent=" XPARENT,
        "Root=1-5759e9888-d862e3fe1be46a994272793;Parent=" XPARENT,
        "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=" XPARENT,
        "Root=1-5759e988-bd862e3fe1be46a9942727933;Parent=" XPARENT,
        "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=" XPARENT,
        "Root=1-5759E988-bd862e3fe1be46a994272793;Parent=" XPARENT,
        "Root=1-5759e988_bd862e3fe1be46a994272793;Parent=" XPARENT,
        "Root=1-00000000-000000000000000000000000;Parent=" XPARENT,
        "Root=" XROOT ";Parent=53995c3f42cd8ad",
        "Root=" XROOT ";Parent=53995c3f42cd8ad8a",
        "Root=" XROOT ";Parent=53995C3F42CD8AD8",
        "Root=" XROOT ";Parent=0000000000000000",
        "Root=" XROOT ";Parent=" XPARENT ";Sampled=2",
        "Root=" XROOT ";Parent=" XPARENT ";Sampled=",
        "Root=" XROOT ";Parent=" XPARENT ";Sampled=11",
        "Root=" XROOT ";Root=" XROOT ";Parent=" XPARENT,
        "Root=" XROOT ";Parent=" XPARENT ";Parent=" XPARENT,
        "root=" XROOT ";parent=" XPARENT,
        "Root = " XROOT ";Parent=" XPARENT,
        "Root=" XROOT ";Parent=" XPARENT ",Root=" XROOT ";Parent=" XPARENT, /* sent twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_context *c = xray(bad[i]);
        cr_expect_null(c, "\"%s\" accepted", bad[i]);
        owl_context_free(c);
    }
}

Test(xray, inject_and_the_id_mapping)
{
    hdrs out = {.fail_on = -1};
    owl_context *c = xray("Lineage=a87bd80c:1;Root=" XROOT ";Parent=" XPARENT ";Sampled=1");
    cr_assert_eq(owl_inject(c, set, &out, OWL_PROPAGATE_ALL), 0);
    cr_expect_str_eq(get(&out, "X-Amzn-Trace-Id"), "Root=" XROOT ";Parent=" XPARENT ";Sampled=1");
    cr_expect_str_eq(get(&out, "traceparent"), "00-5759e988bd862e3fe1be46a994272793-" XPARENT "-01");
    owl_context_free(c);
    clear(&out);

    c = xray("Root=" XROOT ";Parent=" XPARENT ";Sampled=?");
    cr_assert_eq(owl_inject(c, set, &out, OWL_PROPAGATE_ALL), 0);
    cr_expect_str_eq(get(&out, "X-Amzn-Trace-Id"), "Root=" XROOT ";Parent=" XPARENT);
    cr_expect_str_eq(get(&out, "traceparent"), "00-5759e988bd862e3fe1be46a994272793-" XPARENT "-00");
    owl_context_free(c);
    clear(&out);

    c = from1("traceparent", TP("00"), OWL_PROPAGATE_W3C);
    cr_assert_eq(owl_inject(c, set, &out, OWL_PROPAGATE_XRAY), 0);
    cr_expect_str_eq(get(&out, "X-Amzn-Trace-Id"),
                     "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=" SID ";Sampled=0");
    cr_expect_null(get(&out, "traceparent"));
    owl_context_free(c);
    clear(&out);
}

/* ---- formats together ---- */

Test(extract, w3c_wins_xray_when_w3c_invalid)
{
    hdrs h = {.fail_on = -1};
    add(&h, "traceparent", TP("00"));
    add(&h, "tracestate", "a=1");
    add(&h, "x-amzn-trace-id", "Root=" XROOT ";Parent=" XPARENT ";Sampled=1");
    add(&h, "baggage", "k=v");
    owl_context *c = owl_extract(get, &h, OWL_PROPAGATE_ALL, NULL);
    expect_ids(c, TID, SID);
    cr_expect_eq(owl_context_sampled(c), 0);
    cr_expect_str_eq(owl_context_tracestate(c), "a=1");
    cr_expect_str_eq(owl_baggage_get(c, "k"), "v");
    owl_context_free(c);

    c = owl_extract(get, &h, OWL_PROPAGATE_XRAY, NULL); /* W3C not asked */
    expect_ids(c, "5759e988bd862e3fe1be46a994272793", XPARENT);
    cr_expect_eq(owl_context_sampled(c), 1);
    cr_expect_str_eq(owl_context_tracestate(c), "");
    cr_expect_eq(owl_baggage_count(c), 0);
    owl_context_free(c);

    set(&h, "traceparent", "00-" TID "-" SID "-0x");
    c = owl_extract(get, &h, OWL_PROPAGATE_ALL, NULL);
    expect_ids(c, "5759e988bd862e3fe1be46a994272793", XPARENT);
    cr_expect_eq(owl_context_sampled(c), 1);
    cr_expect_str_eq(owl_context_tracestate(c), ""); /* voided with its traceparent */
    owl_context_free(c);

    c = owl_extract(get, &h, OWL_PROPAGATE_W3C, NULL);
    cr_expect_null(c);
    c = owl_extract(get, &h, OWL_PROPAGATE_BAGGAGE, NULL);
    cr_expect_eq(owl_context_valid(c), 0);
    cr_expect_eq(owl_context_sampled(c), -1);
    owl_context_free(c);
    cr_expect_null(owl_extract(get, &h, 0, NULL));
    clear(&h);

    int rc = 1;
    cr_expect_null(owl_extract(get, &h, OWL_PROPAGATE_ALL, &rc)); /* no headers */
    cr_expect_eq(rc, 0);
}

/* ---- round trips, copies, errors ---- */

static void expect_same(const owl_context *a, const owl_context *b)
{
    uint8_t ta[16], sa[8], tb[16], sb[8];
    cr_assert_eq(owl_context_valid(a), owl_context_valid(b));
    if (owl_context_valid(a)) {
        owl_context_ids(a, ta, sa);
        owl_context_ids(b, tb, sb);
        cr_expect_arr_eq(ta, tb, 16);
        cr_expect_arr_eq(sa, sb, 8);
    }
    cr_expect_eq(owl_context_sampled(a), owl_context_sampled(b));
    cr_expect_str_eq(owl_context_tracestate(a), owl_context_tracestate(b));
    cr_assert_eq(owl_baggage_count(a), owl_baggage_count(b));
    for (size_t i = 0; i < owl_baggage_count(a); i++) {
        const char *ka, *va, *kb, *vb;
        owl_baggage_at(a, i, &ka, &va);
        owl_baggage_at(b, i, &kb, &vb);
        cr_expect_str_eq(ka, kb);
        cr_expect_str_eq(va, vb);
    }
}

Test(roundtrip, inject_extract_identity)
{
    static const unsigned formats[] = {OWL_PROPAGATE_ALL, OWL_PROPAGATE_W3C | OWL_PROPAGATE_BAGGAGE,
                                       OWL_PROPAGATE_XRAY | OWL_PROPAGATE_BAGGAGE};
    uint8_t t[16], s[8];
    for (int i = 0; i < 16; i++)
        t[i] = (uint8_t)(0xf0 + i);
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(0x10 * i + 1);
    for (int sampled = 0; sampled < 2; sampled++)
        for (size_t f = 0; f < sizeof formats / sizeof *formats; f++) {
            owl_context *c = owl_context_new(t, s, sampled);
            cr_assert_not_null(c);
            if (formats[f] & OWL_PROPAGATE_W3C)
                cr_assert_eq(owl_context_set_tracestate(c, "congo=t61rcWkgMzE,ab@cd=x y"), 0);
            cr_assert_eq(owl_baggage_set(c, "user", "Am\xc3\xa9lie, 100% \"sure\";"), 0);
            cr_assert_eq(owl_baggage_set(c, "empty", ""), 0);
            hdrs h = {.fail_on = -1};
            cr_assert_eq(owl_inject(c, set, &h, formats[f]), 0);
            owl_context *d = owl_extract(get, &h, formats[f], NULL);
            cr_assert_not_null(d);
            expect_same(c, d);
            cr_expect_eq(owl_context_remote(d), 1);
            owl_context *e = owl_context_copy(d);
            expect_same(d, e);
            cr_expect_eq(owl_context_remote(e), 1);
            owl_baggage_set(e, "user", "changed"); /* a deep copy */
            cr_expect_str_neq(owl_baggage_get(d, "user"), "changed");
            owl_context_free(c);
            owl_context_free(d);
            owl_context_free(e);
            clear(&h);
        }
}

Test(context, new_and_errors)
{
    uint8_t zero16[16] = {0}, zero8[8] = {0}, t[16] = {1}, s[8] = {2};
    cr_expect_null(owl_context_new(zero16, s, 1));
    cr_expect_null(owl_context_new(t, zero8, 1));
    owl_context *c = owl_context_new(t, s, 1);
    cr_expect_eq(owl_context_sampled(c), 1);
    cr_expect_eq(owl_inject(NULL, set, NULL, OWL_PROPAGATE_ALL), OWL_ERR_INVAL);

    hdrs h = {.fail_on = 1};
    cr_assert_eq(owl_context_set_tracestate(c, "a=1"), 0);
    cr_expect_eq(owl_inject(c, set, &h, OWL_PROPAGATE_ALL), OWL_ERR_CARRIER);
    cr_expect_eq(h.n, 1); /* the traceparent set before stays */
    clear(&h);
    owl_context_free(c);
    owl_context_free(NULL);
    cr_expect_eq(owl_context_valid(NULL), 0);
    cr_expect_str_eq(owl_context_tracestate(NULL), "");
    cr_expect_eq(owl_baggage_count(NULL), 0);
}

Test(version, library_matches_header)
{
    cr_expect_str_eq(owl_version(), OWL_VERSION_STRING);
    cr_expect_eq(owl_version_number(), OWL_VERSION_NUMBER);
    cr_expect_str_eq(owl_client_strerror(OWL_ERR_LIMIT), "a limit of the format was reached");
    cr_expect_str_eq(owl_client_strerror(OWL_ERR_CARRIER), "the carrier's header callback failed");
    cr_expect_str_eq(owl_client_strerror(-12345), "unknown error");
}

/* test_client_xray.c — client/xray_sampler.c and owl_span_start_http: GetSamplingRules answers
 * in owld's and AWS's shapes (rules the SDKs skip left out, pages, bad JSON refused), X-Ray's
 * patterns, priority then name, a reservoir's quota with a fake clock, FixedRate over many
 * trace ids, a quota's TTL running out, the local default before rules (and after an hour
 * without them), the statistics reported once, targets loaded, a refresh keeping a rule's
 * target, parent-based decisions, and the HTTP span's name and attributes. Built from the
 * client's sources alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "client/client_int.h"

#define NOW 1800000000

/* A rule in owld's answer shape; more: extra members (with a leading comma) or "". */
static char *rule_json(const char *name, int prio, double rate, int reservoir, const char *path,
                       const char *more)
{
    char *s;
    cr_assert(asprintf(&s,
                       "{\"SamplingRule\":{\"RuleName\":\"%s\",\"RuleARN\":"
                       "\"arn:aws:xray:us-east-1:000000000001:sampling-rule/%s\","
                       "\"ResourceARN\":\"*\",\"Priority\":%d,\"FixedRate\":%g,"
                       "\"ReservoirSize\":%d,\"ServiceName\":\"*\",\"ServiceType\":\"*\","
                       "\"Host\":\"*\",\"HTTPMethod\":\"*\",\"URLPath\":\"%s\",\"Version\":1,"
                       "\"Attributes\":{}%s},\"CreatedAt\":1.7e9,\"ModifiedAt\":1700000000.5}",
                       name, name, prio, rate, reservoir, path, more) > 0);
    return s;
}

/* x loaded with the answer holding the given records (NULL-terminated list, freed). */
static owl__xray *loaded(char *first, ...)
{
    owl__xray *x = owl__xray_new("svc");
    char body[65536] = "{\"SamplingRuleRecords\":[";
    va_list ap;
    va_start(ap, first);
    for (char *r = first; r; r = va_arg(ap, char *)) {
        if (r != first)
            strcat(body, ",");
        strcat(body, r);
        free(r);
    }
    va_end(ap);
    strcat(body, "]}");
    char *next = NULL;
    cr_assert_eq(owl__xray_parse_rules(x, body, strlen(body), &next), 0, "%s", body);
    cr_assert_null(next);
    owl__xray_commit_rules(x, 1, NOW);
    return x;
}

static void tid_with_draw(uint8_t tid[16], uint64_t draw63)
{
    memset(tid, 0x11, 8);
    uint64_t v = draw63 << 1;
    for (int i = 15; i >= 8; i--, v >>= 8)
        tid[i] = (uint8_t)v;
}

static void random_tid(uint8_t tid[16])
{
    cr_assert_eq(getrandom(tid, 16, 0), 16);
}

static const uint8_t never[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff}; /* above every rate < 1 */

static int decide_path(owl__xray *x, const char *path, const uint8_t tid[16], int64_t now)
{
    owl__sample_req q = {.method = "GET", .path = path, .host = "h.example.com"};
    return owl__xray_decide(x, &q, tid, now);
}

/* ---- rules read ---- */

Test(rules, owld_shape_and_what_the_sdks_skip)
{
    owl__xray *x = loaded(rule_json("a", 10, 0.5, 0, "/a/*", ""),
                          rule_json("attrs", 1, 1, 0, "*", ",\"Attributes\":{\"k\":\"v\"}"),
                          rule_json("arn", 2, 1, 0, "*", ",\"ResourceARN\":\"arn:x\""),
                          rule_json("v2", 3, 1, 0, "*", ",\"Version\":2"),
                          rule_json("Default", 10000, 0.05, 1, "*", ""), NULL);
    int64_t q;
    cr_expect_eq(owl__xray_rule_quota(x, "a", &q), 0);
    cr_expect_eq(q, -1, "no target yet");
    cr_expect_eq(owl__xray_rule_quota(x, "Default", NULL), 0);
    cr_expect_eq(owl__xray_rule_quota(x, "attrs", NULL), OWL_ERR_NOTFOUND,
                 "a rule with attributes is left out: none are known at a span's start");
    cr_expect_eq(owl__xray_rule_quota(x, "arn", NULL), OWL_ERR_NOTFOUND);
    cr_expect_eq(owl__xray_rule_quota(x, "v2", NULL), OWL_ERR_NOTFOUND);
    /* the attributes rule (priority 1, rate 1) would sample this id were it kept */
    int yes = 0;
    for (int i = 0; i < 10; i++)
        yes += decide_path(x, "/zzz", never, NOW);
    cr_expect_eq(yes, 1, "Default's reservoir only: %d", yes);
    owl__xray_free(x);
}

Test(rules, aws_shape_pages_escapes_and_nulls)
{
    owl__xray *x = owl__xray_new(NULL);
    /* AWS: extra members, escaped text, timestamps as floats, a NextToken, nulls */
    const char *p1 =
        "{\"NextToken\":\"tok\\\"1\",\"SamplingRuleRecords\":[{\"CreatedAt\":1.700000000123E9,"
        "\"ModifiedAt\":1.7e9,\"SamplingRule\":{\"Attributes\":null,\"FixedRate\":1.0,"
        "\"HTTPMethod\":\"G\\u0045T\",\"Host\":\"*\",\"Priority\":5,\"ReservoirSize\":0,"
        "\"ResourceARN\":\"\\u002a\",\"RuleARN\":\"arn:aws:xray:eu-west-1:1:sampling-rule/p\","
        "\"RuleName\":\"p\\u00e9\",\"ServiceName\":\"*\",\"ServiceType\":\"*\","
        "\"URLPath\":\"/p/*\",\"Version\":1,\"SamplingRateBoost\":{\"MaxRate\":0.5,"
        "\"CooldownWindowMinutes\":1},\"Unknown\":[1,true,false,null,{\"a\":[]}]}}]}";
    char *next = NULL;
    cr_assert_eq(owl__xray_parse_rules(x, p1, strlen(p1), &next), 0);
    cr_assert_str_eq(next, "tok\"1");
    free(next);
    next = NULL;
    const char *p2 = " {\"SamplingRuleRecords\":[],\"NextToken\":null} ";
    cr_assert_eq(owl__xray_parse_rules(x, p2, strlen(p2), &next), 0);
    cr_assert_null(next);
    owl__xray_commit_rules(x, 1, NOW);
    cr_expect_eq(owl__xray_rule_quota(x, "p\xc3\xa9", NULL), 0, "the escaped name decoded");
    owl__sample_req get = {.method = "get", .path = "/p/1"}, post = {.method = "POST", .path = "/p/1"};
    cr_expect_eq(owl__xray_decide(x, &get, never, NOW), 1, "rate 1, GET (escaped) any case");
    /* POST: no rule, no Default in this list: the local default (1 a second) */
    cr_expect_eq(owl__xray_decide(x, &post, never, NOW), 1);
    cr_expect_eq(owl__xray_decide(x, &post, never, NOW), 0);
    owl__xray_free(x);
}

Test(rules, malformed_answers_change_nothing)
{
    owl__xray *x = loaded(rule_json("keep", 1, 1, 0, "*", ""), NULL);
    static const char *bad[] = {
        "", "[]", "{", "{\"SamplingRuleRecords\":[", "{\"SamplingRuleRecords\":[{\"SamplingRule\":1}]}",
        "{\"SamplingRuleRecords\":[]} x", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\u0000\"}", "{\"a\":01x}",
        "{\"a\":\"tab\there\"}", "{\"a\":-}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *next = NULL;
        cr_expect_eq(owl__xray_parse_rules(x, bad[i], strlen(bad[i]), &next), OWL_ERR_INVAL, "%s",
                     bad[i]);
        cr_expect_null(next);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    cr_expect_eq(owl__xray_parse_rules(x, deep, sizeof deep, NULL), OWL_ERR_INVAL);
    owl__xray_commit_rules(x, 0, NOW + 1); /* the poller drops a failed fetch */
    cr_expect_eq(owl__xray_rule_quota(x, "keep", NULL), 0);
    cr_expect_eq(decide_path(x, "/", never, NOW), 1);
    owl__xray_free(x);
}

/* ---- matching ---- */

Test(match, patterns)
{
    static const struct {
        const char *pat, *text;
        int yes;
    } t[] = {
        {"*", "", 1},          {"*", "anything", 1},     {"", "", 1},
        {"", "a", 0},          {"a", "", 0},             {"/api/*", "/api/", 1},
        {"/api/*", "/api", 0}, {"/api/*", "/API/x/y", 1}, {"/a?c", "/abc", 1},
        {"/a?c", "/ac", 0},    {"/a?c", "/a\xc3\xa9" "c", 1}, /* ? is one character */
        {"*.example.com", "h.Example.COM", 1},           {"*a*b*c", "xaybzc", 1},
        {"*a*b*c", "xaybzcd", 0}, {"a*a*a", "aaaa", 1},  {"a*a*a", "aa", 0},
        {"G?T", "get", 1},     {"??", "\xe2\x82\xac\xe2\x82\xac", 1}, {"?", "ab", 0},
        {"**", "x", 1},        {"*?", "", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(owl__xray_glob(t[i].pat, t[i].text), t[i].yes, "'%s' on '%s'", t[i].pat,
                     t[i].text);
}

Test(match, fields_and_priority_then_name)
{
    /* all rate 1 or 0 and no reservoir: the rule picked shows in the decision */
    owl__xray *x = loaded(
        rule_json("z-late", 50, 1, 0, "/p/*", ""), rule_json("b-same", 20, 0, 0, "/p/*", ""),
        rule_json("a-same", 20, 1, 0, "/p/*", ""), rule_json("first", 10, 0, 0, "/p/x", ""),
        rule_json("svc", 5, 0, 0, "*", ",\"ServiceName\":\"other-*\""),
        rule_json("host", 6, 0, 0, "*", ",\"Host\":\"*.internal\""),
        rule_json("post", 7, 0, 0, "*", ",\"HTTPMethod\":\"POST\""),
        rule_json("Default", 10000, 0, 0, "*", ""), NULL);
    cr_expect_eq(decide_path(x, "/p/x", never, NOW), 0, "priority 10 before 20");
    cr_expect_eq(decide_path(x, "/p/y", never, NOW), 1, "a-same before b-same (name order)");
    cr_expect_eq(decide_path(x, "/q", never, NOW), 0, "Default");
    /* a field a request does not give matches any pattern, as the SDKs do */
    owl__sample_req other = {.service_name = "other-1", .path = "/p/y"};
    cr_expect_eq(owl__xray_decide(x, &other, never, NOW), 0, "ServiceName other-*");
    owl__sample_req internal = {.host = "db.internal", .path = "/p/y"};
    cr_expect_eq(owl__xray_decide(x, &internal, never, NOW), 0, "Host *.internal");
    owl__sample_req post = {.method = "post", .path = "/p/y"};
    cr_expect_eq(owl__xray_decide(x, &post, never, NOW), 0, "HTTPMethod POST");
    cr_expect_eq(owl__xray_decide(x, NULL, never, NOW), 0, "nothing known: the first rule, svc");
    owl__xray_free(x);

    /* the service name x was made with stands for a request that gives none */
    x = loaded(rule_json("mine", 1, 1, 0, "*", ",\"ServiceName\":\"sv?\""),
               rule_json("Default", 10000, 0, 0, "*", ""), NULL);
    cr_expect_eq(decide_path(x, "/", never, NOW), 1);
    owl__sample_req q = {.service_name = "nope", .path = "/"};
    cr_expect_eq(owl__xray_decide(x, &q, never, NOW), 0);
    owl__xray_free(x);
}

/* ---- reservoirs, rates, targets ---- */

static void target(owl__xray *x, const char *rule, double rate, const char *quota_ttl)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"SamplingTargetDocuments\":[{\"RuleName\":\"%s\",\"FixedRate\":%g%s,"
             "\"Interval\":10}],\"LastRuleModification\":%d,\"UnprocessedStatistics\":[]}",
             rule, rate, quota_ttl, NOW - 5);
    int64_t interval;
    double mod;
    cr_assert_eq(owl__xray_apply_targets(x, body, strlen(body), &interval, &mod), 0, "%s", body);
    cr_expect_eq(interval, 10);
    cr_expect_eq(mod, NOW - 5);
}

static int burst(owl__xray *x, const char *path, int n, int64_t now)
{
    int yes = 0;
    for (int i = 0; i < n; i++)
        yes += decide_path(x, path, never, now);
    return yes;
}

Test(reservoir, quota_per_second_with_a_fake_clock)
{
    owl__xray *x = loaded(rule_json("r", 1, 0, 4, "/r/*", ""), NULL);
    cr_expect_eq(burst(x, "/r/1", 100, NOW), 1, "before a target: one borrowed a second");
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 1), 1);
    target(x, "r", 0, ",\"ReservoirQuota\":4,\"ReservoirQuotaTTL\":1800000010");
    int64_t q;
    cr_assert_eq(owl__xray_rule_quota(x, "r", &q), 0);
    cr_expect_eq(q, 4);
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 2), 4, "quota 4: exactly 4 in a second's burst");
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 2), 0, "... and none more that second");
    cr_expect_eq(burst(x, "/r/1", 3, NOW + 3), 3);
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 3), 1, "4 a second, however they come");
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 10), 4, "the TTL's own second still holds");
    /* past the TTL: borrowing again, one a second */
    cr_expect_eq(burst(x, "/r/1", 100, NOW + 11), 1, "TTL over: one borrowed");
    owl__xray_free(x);
}

Test(reservoir, ttl_expiry_falls_back_to_fixed_rate)
{
    owl__xray *x = loaded(rule_json("r", 1, 0.5, 0, "*", ""), NULL);
    target(x, "r", 0.5, ",\"ReservoirQuota\":1000000,\"ReservoirQuotaTTL\":1800000010.9");
    int n = 20000, during = 0, after = 0;
    for (int i = 0; i < n; i++) {
        uint8_t tid[16];
        random_tid(tid);
        during += decide_path(x, "/", tid, NOW + 1);
        after += decide_path(x, "/", tid, NOW + 11);
    }
    cr_expect_eq(during, n, "within the quota: every request");
    double sd = sqrt(n * 0.25);
    cr_expect(fabs(after - n * 0.5) < 4 * sd, "after the TTL, FixedRate 0.5: %d of %d", after, n);
    owl__xray_free(x);
}

Test(reservoir, fixed_rate_over_many_ids_and_determinism)
{
    owl__xray *x = loaded(rule_json("r", 1, 0.25, 0, "*", ""), NULL);
    int n = 100000, yes = 0;
    for (int i = 0; i < n; i++) {
        uint8_t tid[16];
        random_tid(tid);
        int d = decide_path(x, "/", tid, NOW);
        yes += d;
        cr_assert_eq(decide_path(x, "/", tid, NOW), d, "the draw is the trace id's");
    }
    double sd = sqrt(n * 0.25 * 0.75);
    cr_expect(fabs(yes - n * 0.25) < 4 * sd, "0.25: %d of %d", yes, n);
    uint8_t lo[16], hi[16];
    tid_with_draw(lo, (uint64_t)(0.2499 * 9223372036854775808.0));
    tid_with_draw(hi, (uint64_t)(0.2501 * 9223372036854775808.0));
    cr_expect_eq(decide_path(x, "/", lo, NOW), 1);
    cr_expect_eq(decide_path(x, "/", hi, NOW), 0);
    target(x, "r", 0.75, ""); /* a target changes the rate, no quota given */
    cr_expect_eq(decide_path(x, "/", hi, NOW), 1);
    owl__xray_free(x);
}

Test(reservoir, local_default_before_rules_and_after_an_hour)
{
    owl__xray *x = owl__xray_new("svc");
    cr_expect_eq(burst(x, "/", 1000, NOW), 1, "1 a second, then 5%% (none of these ids)");
    int n = 40000, yes = 0;
    for (int i = 0; i < n; i++) {
        uint8_t tid[16];
        random_tid(tid);
        yes += decide_path(x, "/", tid, NOW + 1);
    }
    double sd = sqrt(n * 0.05 * 0.95);
    cr_expect(fabs(yes - 1 - n * 0.05) < 4 * sd, "1 + 5%%: %d of %d", yes, n);
    owl__xray_free(x);

    x = loaded(rule_json("all", 1, 1, 0, "*", ""), NULL);
    cr_expect_eq(burst(x, "/", 10, NOW + 3600), 10, "rules an hour old still hold");
    cr_expect_eq(burst(x, "/", 10, NOW + 3601), 1, "past the hour: the local default");
    owl__xray_commit_rules(x, 1, 0); /* what a stop does */
    cr_expect_eq(burst(x, "/", 10, NOW + 5), 1);
    owl__xray_free(x);
}

/* ---- statistics ---- */

Test(report, counts_once_and_targets_kept_across_a_refresh)
{
    owl__xray *x = loaded(rule_json("r", 1, 0, 2, "/r", ""), rule_json("idle", 2, 0, 0, "/i", ""),
                          rule_json("Default", 10000, 0, 0, "*", ""), NULL);
    cr_expect_eq(burst(x, "/r", 5, NOW), 1); /* 1 borrowed */
    target(x, "r", 0, ",\"ReservoirQuota\":2,\"ReservoirQuotaTTL\":1800000100");
    cr_expect_eq(burst(x, "/r", 5, NOW + 1), 2); /* 2 taken */
    cr_expect_eq(burst(x, "/other", 3, NOW + 1), 0);
    owl__cbuf b = {0};
    cr_assert_eq(owl__xray_report(x, NOW + 2, "0123456789abcdef01234567", &b), 2);
    owl__cbuf_put(&b, "", 1);
    const char *want =
        "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"r\",\"ClientID\":"
        "\"0123456789abcdef01234567\",\"Timestamp\":1800000002,\"RequestCount\":10,"
        "\"SampledCount\":3,\"BorrowCount\":1},{\"RuleName\":\"Default\",\"ClientID\":"
        "\"0123456789abcdef01234567\",\"Timestamp\":1800000002,\"RequestCount\":3,"
        "\"SampledCount\":0,\"BorrowCount\":0}]}";
    cr_expect_str_eq((char *)b.p, want, "idle, never matched, is not reported");
    owl__cbuf_free(&b);
    cr_expect_eq(owl__xray_report(x, NOW + 3, "0123456789abcdef01234567", &b), 0,
                 "reported once");
    cr_expect_eq(b.len, 0);

    /* a refresh keeps r's target and its unreported counts */
    burst(x, "/r", 1, NOW + 4);
    owl__xray *y = x;
    char *r = rule_json("r", 1, 0, 2, "/r", "");
    char body[4096];
    snprintf(body, sizeof body, "{\"SamplingRuleRecords\":[%s]}", r);
    free(r);
    cr_assert_eq(owl__xray_parse_rules(y, body, strlen(body), NULL), 0);
    owl__xray_commit_rules(y, 1, NOW + 4);
    int64_t q;
    cr_assert_eq(owl__xray_rule_quota(y, "r", &q), 0);
    cr_expect_eq(q, 2);
    cr_expect_eq(owl__xray_report(x, NOW + 5, "c", &b), 1);
    owl__cbuf_put(&b, "", 1);
    cr_expect(strstr((char *)b.p, "\"RequestCount\":1,\"SampledCount\":1"), "%s", (char *)b.p);
    owl__cbuf_free(&b);
    cr_expect_eq(owl__xray_apply_targets(x, "{\"SamplingTargetDocuments\":[{]}", 30, NULL, NULL),
                 OWL_ERR_INVAL);
    owl__xray_free(x);
}

static int woken;
static void on_wake(void *ud)
{
    (void)ud;
    woken++;
}

Test(report, first_match_of_a_reservoir_wakes_the_poller_once)
{
    owl__xray *x = loaded(rule_json("r", 1, 0, 2, "/r", ""), rule_json("n", 2, 0, 0, "/n", ""),
                          NULL);
    owl__xray_set_wake(x, on_wake, NULL);
    burst(x, "/n", 3, NOW);
    cr_expect_eq(woken, 0, "no reservoir: no target to hurry");
    burst(x, "/r", 3, NOW);
    cr_expect_eq(woken, 1);
    owl__xray_free(x);
}

/* ---- through the tracer ---- */

Test(tracer, parent_based)
{
    owl__sampling s = owl__sampling_of(OWL__SAMPLER_XRAY, 1);
    for (int i = 0; i < 100; i++) {
        uint8_t tid[16];
        random_tid(tid);
        cr_assert_eq(owl__sampler_decide(&s, tid, 1, NULL), 1, "a sampled parent's decision");
        cr_assert_eq(owl__sampler_decide(&s, tid, 0, NULL), 0, "an unsampled parent's decision");
    }
    /* roots: the local default while no sampler runs, 1 then 5% */
    int yes = 0;
    for (int i = 0; i < 100; i++)
        yes += owl__sampler_decide(&s, never, -1, NULL);
    cr_expect(yes >= 1 && yes <= 2, "%d (a second may turn)", yes);
}

static char last_name[64], last_attrs[512];
static void sink(void *ud, const owl__span_record *r)
{
    (void)ud;
    snprintf(last_name, sizeof last_name, "%s", r->name);
    last_attrs[0] = 0;
    for (uint32_t i = 0; i < r->nattrs; i++)
        if (r->attrs[i].type == OWL__ATTR_STR)
            snprintf(last_attrs + strlen(last_attrs), sizeof last_attrs - strlen(last_attrs),
                     "%s=%s;", r->attrs[i].key, r->attrs[i].v.s);
}

Test(tracer, http_span_names_and_attributes)
{
    owl_config *c = owl_config_new();
    cr_assert_eq(owl_config_set(c, "sampler", "always_on"), 0);
    cr_assert_eq(owl_init(c), 0);
    owl_config_free(c);
    owl__set_span_sink(sink, NULL);
    owl_span *s = owl_span_start_http(OWL_KIND_SERVER, "GET", "/orders/{id}", "shop.example",
                                      NULL, OWL_SPAN_ROOT);
    owl_span_end(s);
    cr_expect_str_eq(last_name, "GET /orders/{id}");
    cr_expect_str_eq(last_attrs,
                     "http.request.method=GET;http.route=/orders/{id};server.address=shop.example;");
    s = owl_span_start_http(OWL_KIND_CLIENT, "POST", "https://u@api.example:8443/v1/x?q=1", NULL,
                            NULL, 0);
    owl_span_end(s);
    cr_expect_str_eq(last_name, "POST");
    cr_expect_str_eq(last_attrs,
                     "http.request.method=POST;url.full=https://u@api.example:8443/v1/x?q=1;");
    s = owl_span_start_http(OWL_KIND_SERVER, "GET", NULL, NULL, NULL, 0);
    owl_span_end(s);
    cr_expect_str_eq(last_name, "GET");
    cr_expect_null(owl_span_start_http(OWL_KIND_SERVER, NULL, "/", NULL, NULL, 0));
    owl_shutdown(0);
}

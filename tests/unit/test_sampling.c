/* test_sampling.c — X-Ray sampling rules (server/sampling.c, server/sampling_api.c):
 * wildcard matching as the SDKs do, a request's rule by priority then name, the checks of
 * every member, create / update / delete with X-Ray's refusals (a name taken, Default kept,
 * 25 rules), pages of GetSamplingRules, the records surviving a reopen (and a record that is
 * not one refusing it), the reservoir shared by clients (never over ReservoirSize, an even
 * split reached in one interval, free again at the TTL), the statistics, and the six actions'
 * REST-JSON shapes and errors through the action layer as both ports serve them. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "server/sampling.h"
#include "server/server.h"

#define TENANT "123456789012"
#define OTHER "000000000042"
#define CLIENT_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define CLIENT_B "bbbbbbbbbbbbbbbbbbbbbbbb"
#define T0 1764900000000LL /* ms */

/* ---- a metadata store in a temp dir, and the rules over it ---- */

static char dir[64];
static owl_meta *meta;
static owl_sampling *smp;

static void open_rules_at(int64_t ms)
{
    owl_error err = {0};
    cr_assert_eq(owl_meta_open(dir, &(owl_meta_options){.fsync = 0}, &meta, &err), OWL_OK,
                 "%s", err.msg);
    cr_assert_eq(owl_sampling_open(meta, ms, &smp, &err), OWL_OK, "%s", err.msg);
}

static void close_rules(void)
{
    owl_sampling_close(smp);
    owl_meta_close(meta);
    smp = NULL, meta = NULL;
}

static void setup(void)
{
    strcpy(dir, "/tmp/owl-test-sampling-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    open_rules_at(T0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void teardown(void)
{
    close_rules();
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A rule matching everything with the given name, priority, rate and reservoir. */
static owl_sampling_rule rule(const char *name, int prio, double rate, int64_t reservoir)
{
    owl_sampling_rule r;
    owl_sampling_default_rule(&r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.priority = prio;
    r.fixed_rate = rate;
    r.reservoir = reservoir;
    return r;
}

static void create(const char *tenant, const owl_sampling_rule *r, int64_t at)
{
    owl_error err = {0};
    cr_assert_eq(owl_sampling_create(smp, tenant, r, at, NULL, &err), OWL_OK, "%s: %s", r->name,
                 err.msg);
}

/* ---- wildcards and matching ---- */

Test(sampling, wildcard_table)
{
    static const struct {
        const char *pattern, *text;
        int match;
    } t[] = {
        {"*", "", 1},          {"*", "anything", 1},     {"", "", 1},
        {"", "a", 0},          {"a", "", 0},             {"?", "", 0},
        {"?", "a", 1},         {"?", "ab", 0},           {"??", "ab", 1},
        {"a*", "a", 1},        {"a*", "abc", 1},         {"*c", "abc", 1},
        {"*c", "abd", 0},      {"a*c", "ac", 1},         {"a*c", "abbbc", 1},
        {"a*c", "abcd", 0},    {"a*b*c", "aXbYc", 1},    {"a*b*c", "acb", 0},
        {"*a*", "bab", 1},     {"**", "x", 1},           {"*?", "", 0},
        {"*?", "x", 1},        {"?*?", "x", 0},          {"?*?", "xy", 1},
        {"GET", "get", 1},     {"get", "GET", 1},        {"/API/*", "/api/users", 1},
        {"svc-*", "svc-orders", 1}, {"svc-*", "svc", 0}, {"*.example.com", "a.example.com", 1},
        {"*.example.com", "example.com", 0}, {"a?c", "a\xc3\xa9" "c", 1}, /* ? is one character */
        {"\xc3\xa9", "\xc3\xa9", 1}, {"*\xc3\xa9", "x\xc3\xa9", 1}, {"*?x", "\xc3\xa9x", 1},
        {"*ab", "aab", 1},     {"*aab", "aaab", 1},      {"a*a*a", "aaaa", 1},
        {"*x*y*z*", "axbycz", 1}, {"*x*y*z*", "axbzcy", 0}, {"abc", "ABC", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        cr_assert_eq(owl_sampling_wildcard(t[i].pattern, t[i].text), t[i].match,
                     "'%s' on '%s': want %d", t[i].pattern, t[i].text, t[i].match);
}

Test(sampling, rule_matches_fields_and_attributes)
{
    owl_sampling_rule r = rule("r", 1, 0.1, 0);
    strcpy(r.service_name, "orders-*");
    strcpy(r.http_method, "POST");
    strcpy(r.url_path, "/api/*");
    r.nattrs = 2;
    strcpy(r.attrs[0].key, "tier"), strcpy(r.attrs[0].value, "gold");
    strcpy(r.attrs[1].key, "region"), strcpy(r.attrs[1].value, "eu-*");
    owl_sampling_attr good[] = {{"region", "eu-west-1"}, {"tier", "GOLD"}, {"x", "y"}};
    owl_sampling_attr bad_value[] = {{"region", "us-east-1"}, {"tier", "gold"}};
    owl_sampling_attr missing[] = {{"tier", "gold"}};
    owl_sampling_request rq = {.service_name = "orders-api", .http_method = "post",
                               .url_path = "/api/v1", .attrs = good, .nattrs = 3};
    cr_assert(owl_sampling_rule_matches(&r, &rq));
    rq.attrs = bad_value, rq.nattrs = 2;
    cr_assert(!owl_sampling_rule_matches(&r, &rq), "an attribute's value does not match");
    rq.attrs = missing, rq.nattrs = 1;
    cr_assert(!owl_sampling_rule_matches(&r, &rq), "an attribute missing");
    rq.attrs = good, rq.nattrs = 3;
    rq.service_name = "billing";
    cr_assert(!owl_sampling_rule_matches(&r, &rq));
    rq.service_name = NULL; /* what the request does not say matches, as in the SDKs */
    rq.http_method = NULL;
    cr_assert(owl_sampling_rule_matches(&r, &rq));
    rq.url_path = "/web";
    cr_assert(!owl_sampling_rule_matches(&r, &rq));
}

Test(sampling, priority_then_name, .init = setup, .fini = teardown)
{
    owl_sampling_rule a = rule("b-second", 5, 0.1, 0), b = rule("a-first", 5, 0.2, 0),
                      c = rule("late", 9, 0.3, 0), d = rule("early", 1, 0.4, 0);
    strcpy(a.service_name, "svc");
    strcpy(b.service_name, "svc");
    strcpy(c.service_name, "*");
    strcpy(d.service_name, "other");
    create(TENANT, &a, T0);
    create(TENANT, &b, T0);
    create(TENANT, &c, T0);
    create(TENANT, &d, T0);
    owl_sampling_rule got;
    owl_sampling_request rq = {.service_name = "svc"};
    owl_sampling_match(smp, TENANT, &rq, &got);
    cr_assert_str_eq(got.name, "a-first", "equal priorities: by name");
    rq.service_name = "x";
    owl_sampling_match(smp, TENANT, &rq, &got);
    cr_assert_str_eq(got.name, "late");
    rq.service_name = "other";
    owl_sampling_match(smp, TENANT, &rq, &got);
    cr_assert_str_eq(got.name, "early");
    owl_sampling_match(smp, OTHER, &rq, &got);
    cr_assert_str_eq(got.name, "Default", "another tenant has only Default");
    owl_sampling_rule list[OWL_SAMPLING_RULES_MAX];
    size_t n;
    char next[OWL_SAMPLING_TOKEN_MAX];
    owl_error err = {0};
    cr_assert_eq(owl_sampling_list(smp, TENANT, NULL, 100, list, &n, next, &err), OWL_OK);
    const char *want[] = {"early", "a-first", "b-second", "late", "Default"};
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(list[i].name, want[i]);
    cr_assert_str_eq(next, "");
}

/* ---- checks ---- */

Test(sampling, every_member_checked)
{
    owl_sampling_rule ok = rule("ok", 1, 0.5, 3);
    owl_error err = {0};
    cr_assert_eq(owl_sampling_rule_check(&ok, &err), OWL_OK, "%s", err.msg);
    owl_sampling_rule d;
    owl_sampling_default_rule(&d);
    cr_assert_eq(owl_sampling_rule_check(&d, &err), OWL_OK, "%s", err.msg);
    static const struct {
        const char *what, *says;
    } bad[] = {
        {"empty name", "RuleName"},       {"33 characters", "RuleName"},
        {"priority 0", "Priority"},       {"priority 10000", "Priority"},
        {"rate -0.1", "FixedRate"},       {"rate 1.5", "FixedRate"},
        {"rate NaN", "FixedRate"},        {"reservoir -1", "ReservoirSize"},
        {"reservoir 2^31", "ReservoirSize"}, {"version 2", "Version"},
        {"service 65", "ServiceName"},    {"type 65", "ServiceType"},
        {"host 65", "Host"},              {"method 11", "HTTPMethod"},
        {"path 129", "URLPath"},          {"resource 501", "ResourceARN"},
        {"not UTF-8", "ServiceName"},     {"attr key empty", "Attributes"},
        {"attr value 33", "Attributes"},  {"attr twice", "Attributes"},
        {"6 attrs", "Attributes"},        {"boost rate 2", "SamplingRateBoost"},
        {"boost cooldown -1", "SamplingRateBoost"}, {"Default priority 5", "Priority"},
        {"Default host", "Default"},      {"Default attrs", "Default"},
        {"no NUL", "ServiceName"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        owl_sampling_rule r = ok;
        switch (i) {
        case 0: r.name[0] = 0; break;
        case 1: memset(r.name, 'n', 33), r.name[33] = 0; break;
        case 2: r.priority = 0; break;
        case 3: r.priority = 10000; break;
        case 4: r.fixed_rate = -0.1; break;
        case 5: r.fixed_rate = 1.5; break;
        case 6: r.fixed_rate = NAN; break;
        case 7: r.reservoir = -1; break;
        case 8: r.reservoir = 1LL << 31; break;
        case 9: r.version = 2; break;
        case 10: memset(r.service_name, 's', 65), r.service_name[65] = 0; break;
        case 11: memset(r.service_type, 's', 65), r.service_type[65] = 0; break;
        case 12: memset(r.host, 'h', 65), r.host[65] = 0; break;
        case 13: strcpy(r.http_method, "METHODMETHO"); break;
        case 14: memset(r.url_path, '/', 129), r.url_path[129] = 0; break;
        case 15: memset(r.resource_arn, 'a', 501), r.resource_arn[501] = 0; break;
        case 16: strcpy(r.service_name, "\xff"); break;
        case 17: r.nattrs = 1, strcpy(r.attrs[0].value, "v"); break;
        case 18: r.nattrs = 1, strcpy(r.attrs[0].key, "k"), memset(r.attrs[0].value, 'v', 33);
                 break;
        case 19: r.nattrs = 2, strcpy(r.attrs[0].key, "k"), strcpy(r.attrs[0].value, "v"),
                 r.attrs[1] = r.attrs[0]; break;
        case 20: r.nattrs = 6; break;
        case 21: r.has_boost = 1, r.boost_max_rate = 2; break;
        case 22: r.has_boost = 1, r.boost_cooldown_min = -1; break;
        case 23: r = d, r.priority = 5; break;
        case 24: r = d, strcpy(r.host, "h"); break;
        case 25: r = d, r.nattrs = 1, strcpy(r.attrs[0].key, "k"), strcpy(r.attrs[0].value, "v");
                 break;
        case 26: memset(r.service_name, 's', sizeof r.service_name); break;
        }
        cr_assert_eq(owl_sampling_rule_check(&r, &err), OWL_EINVAL, "%s accepted", bad[i].what);
        cr_assert(strstr(err.msg, bad[i].says), "%s: '%s' does not name %s", bad[i].what,
                  err.msg, bad[i].says);
    }
    /* the limits count characters: 32 of two bytes each make a name */
    owl_sampling_rule wide = ok;
    wide.name[0] = 0;
    for (int i = 0; i < 32; i++)
        strcat(wide.name, "\xc3\xa9");
    cr_assert_eq(owl_sampling_rule_check(&wide, &err), OWL_OK, "%s", err.msg);
}

#define H16 "hhhhhhhhhhhhhhhh"
#define H65 H16 H16 H16 H16 "h"

/* owl_sampling_rule_read: types, limits, and which members were given. */
Test(sampling, read_members)
{
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"{\"RuleName\":5}", "RuleName: a string"},
        {"{\"Priority\":\"1\"}", "Priority: an integer"},
        {"{\"Priority\":1.5}", "Priority: an integer"},
        {"{\"Priority\":4294967296}", "Priority: out of range"},
        {"{\"ReservoirSize\":true}", "ReservoirSize: an integer"},
        {"{\"FixedRate\":\"0.1\"}", "FixedRate: a number"},
        {"{\"Host\":\"" H65 "\"}", "Host: at most 64"},
        {"{\"Attributes\":[]}", "Attributes: a map"},
        {"{\"Attributes\":{\"a\":1}}", "Attributes' values: a string"},
        {"{\"Attributes\":{\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\","
         "\"f\":\"1\"}}", "at most 5"},
        {"{\"Attributes\":{\"\":\"1\"}}", "keys are 1 to 32"},
        {"{\"SamplingRateBoost\":{\"MaxRate\":0.5}}", "CooldownWindowMinutes are required"},
        {"{\"SamplingRateBoost\":1}", "a structure"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bson_t doc = BSON_INITIALIZER;
        owl_error err = {0};
        owl_sampling_rule r;
        unsigned given;
        cr_assert_eq(owl_aws_json_decode(bad[i].json, strlen(bad[i].json), &doc, &err), OWL_OK);
        cr_assert_eq(owl_sampling_rule_read(&doc, &r, &given, &err), OWL_EINVAL, "%s",
                     bad[i].json);
        cr_assert(strstr(err.msg, bad[i].says), "%s: '%s'", bad[i].json, err.msg);
        bson_destroy(&doc);
    }
    const char *good = "{\"RuleName\":\"r\",\"Priority\":7,\"FixedRate\":1,\"Host\":null,"
                       "\"Attributes\":{\"k\":\"v\"},\"RuleARN\":\"ignored\","
                       "\"SamplingRateBoost\":{\"MaxRate\":0.5,\"CooldownWindowMinutes\":3}}";
    bson_t doc = BSON_INITIALIZER;
    owl_error err = {0};
    owl_sampling_rule r;
    memset(&r, 0, sizeof r);
    unsigned given;
    cr_assert_eq(owl_aws_json_decode(good, strlen(good), &doc, &err), OWL_OK);
    cr_assert_eq(owl_sampling_rule_read(&doc, &r, &given, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(given, OWL_SAMPLING_F_NAME | OWL_SAMPLING_F_PRIORITY | OWL_SAMPLING_F_RATE |
                            OWL_SAMPLING_F_ATTRS | OWL_SAMPLING_F_BOOST);
    cr_assert_eq(r.priority, 7);
    cr_assert(r.fixed_rate == 1.0);
    cr_assert_eq(r.nattrs, 1);
    cr_assert(r.has_boost && r.boost_max_rate == 0.5 && r.boost_cooldown_min == 3);
    cr_assert_eq(owl_sampling_rule_missing(given, OWL_SAMPLING_F_REQUIRED, "SamplingRule", &err),
                 OWL_EINVAL);
    cr_assert_str_eq(err.msg, "SamplingRule.ResourceARN is required");
    bson_destroy(&doc);
}

Test(sampling, arns)
{
    char name[OWL_SAMPLING_TEXT(32)], arn[256];
    owl_error err = {0};
    owl_sampling_arn(TENANT, "r1", arn, sizeof arn);
    cr_assert_str_eq(arn, "arn:aws:xray:us-east-1:" TENANT ":sampling-rule/r1");
    cr_assert_eq(owl_sampling_arn_name(arn, TENANT, name, &err), OWL_OK);
    cr_assert_str_eq(name, "r1");
    cr_assert_eq(owl_sampling_arn_name("arn:aws:xray:eu-west-1:" TENANT ":sampling-rule/x",
                                       TENANT, name, &err), OWL_OK, "any region");
    cr_assert_str_eq(name, "x");
    const char *bad[] = {"r1", "arn:aws:xray:us-east-1:" OTHER ":sampling-rule/r1",
                         "arn:aws:xray:us-east-1:" TENANT ":group/r1",
                         "arn:aws:xray:us-east-1:" TENANT ":sampling-rule/",
                         "arn:aws:logs:us-east-1:" TENANT ":sampling-rule/r1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(owl_sampling_arn_name(bad[i], TENANT, name, &err), OWL_EINVAL, "%s",
                     bad[i]);
}

/* ---- changes ---- */

Test(sampling, create_update_delete, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    owl_sampling_rule r = rule("r1", 10, 0.25, 2), out;
    cr_assert_eq(owl_sampling_create(smp, TENANT, &r, T0, &out, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(out.created_ms, T0);
    cr_assert_eq(out.modified_ms, T0);
    cr_assert_eq(owl_sampling_create(smp, TENANT, &r, T0, NULL, &err), OWL_EEXISTS);
    cr_assert(strstr(err.msg, "exists already"), "%s", err.msg);
    owl_sampling_rule d = rule("Default", 1, 0.5, 1);
    cr_assert_eq(owl_sampling_create(smp, TENANT, &d, T0, NULL, &err), OWL_EEXISTS);
    owl_sampling_rule bad = rule("bad", 0, 0.25, 2);
    cr_assert_eq(owl_sampling_create(smp, TENANT, &bad, T0, NULL, &err), OWL_EINVAL);
    cr_assert_eq(owl_sampling_create(smp, OTHER, &r, T0, NULL, &err), OWL_OK,
                 "names are the tenant's own: %s", err.msg);

    /* update: only the members given change */
    owl_sampling_rule v;
    memset(&v, 0, sizeof v);
    v.fixed_rate = 0.75;
    strcpy(v.host, "*.example.com");
    cr_assert_eq(owl_sampling_update(smp, TENANT, "r1", &v,
                                     OWL_SAMPLING_F_RATE | OWL_SAMPLING_F_HOST, T0 + 5, &out,
                                     &err), OWL_OK, "%s", err.msg);
    cr_assert(out.fixed_rate == 0.75 && out.reservoir == 2 && out.priority == 10);
    cr_assert_str_eq(out.host, "*.example.com");
    cr_assert_str_eq(out.service_name, "*");
    cr_assert_eq(out.created_ms, T0);
    cr_assert_eq(out.modified_ms, T0 + 5);
    v.priority = 0;
    cr_assert_eq(owl_sampling_update(smp, TENANT, "r1", &v, OWL_SAMPLING_F_PRIORITY, T0, NULL,
                                     &err), OWL_EINVAL, "a change that makes a bad rule");
    cr_assert_eq(owl_sampling_update(smp, TENANT, "nope", &v, OWL_SAMPLING_F_RATE, T0, NULL,
                                     &err), OWL_ENOTFOUND);
    /* Default: rate and reservoir only, also for a tenant never seen */
    v.fixed_rate = 0.5, v.reservoir = 7;
    cr_assert_eq(owl_sampling_update(smp, "000000000077", "Default", &v,
                                     OWL_SAMPLING_F_RATE | OWL_SAMPLING_F_RESERVOIR, T0 + 6,
                                     &out, &err), OWL_OK, "%s", err.msg);
    cr_assert(out.fixed_rate == 0.5 && out.reservoir == 7 && out.priority == 10000);
    cr_assert_eq(out.created_ms, 0, "Default was created with the account");
    cr_assert_eq(owl_sampling_update(smp, TENANT, "Default", &v, OWL_SAMPLING_F_HOST, T0, NULL,
                                     &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "only FixedRate and ReservoirSize"), "%s", err.msg);

    /* delete */
    cr_assert_eq(owl_sampling_delete(smp, TENANT, "Default", T0, NULL, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "cannot be deleted"), "%s", err.msg);
    cr_assert_eq(owl_sampling_delete(smp, TENANT, "r1", T0 + 9, &out, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert(out.fixed_rate == 0.75);
    cr_assert_eq(owl_sampling_delete(smp, TENANT, "r1", T0, NULL, &err), OWL_ENOTFOUND);
    owl_sampling_stat st = {"r1", CLIENT_A, 1, 1, 0};
    owl_sampling_target tg;
    int64_t last = 0;
    cr_assert_eq(owl_sampling_targets(smp, TENANT, &st, 1, T0 + 10, &tg, &last, &err), OWL_OK);
    cr_assert(!tg.found, "a deleted rule has no target");
    cr_assert_eq(last, T0 + 9, "the delete is the last rule change");
}

Test(sampling, rule_limit, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    for (int i = 0; i < OWL_SAMPLING_USER_RULES_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%02d", i);
        owl_sampling_rule r = rule(name, 100 + i, 0.1, 0);
        create(TENANT, &r, T0);
    }
    owl_sampling_rule one_more = rule("one-more", 1, 0.1, 0);
    cr_assert_eq(owl_sampling_create(smp, TENANT, &one_more, T0, NULL, &err), OWL_ELIMIT);
    cr_assert(strstr(err.msg, "at most 25"), "%s", err.msg);
    cr_assert_eq(owl_sampling_delete(smp, TENANT, "r07", T0, NULL, &err), OWL_OK);
    cr_assert_eq(owl_sampling_create(smp, TENANT, &one_more, T0, NULL, &err), OWL_OK, "%s",
                 err.msg);
}

/* Pages of two through every rule, each once and in order; a token it did not give refused. */
Test(sampling, pages, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        owl_sampling_rule r = rule(name, 50 - (i % 3), 0.1, 0);
        create(TENANT, &r, T0);
    }
    char token[OWL_SAMPLING_TOKEN_MAX] = "", next[OWL_SAMPLING_TOKEN_MAX];
    owl_sampling_rule page[OWL_SAMPLING_RULES_MAX], all[OWL_SAMPLING_RULES_MAX];
    size_t n, total = 0, pages = 0;
    owl_error err = {0};
    do {
        cr_assert_eq(owl_sampling_list(smp, TENANT, token, 2, page, &n, next, &err), OWL_OK,
                     "%s", err.msg);
        cr_assert(n >= 1 && n <= 2);
        memcpy(all + total, page, n * sizeof *page);
        total += n;
        strcpy(token, next);
        cr_assert(++pages <= 4);
    } while (token[0]);
    cr_assert_eq(total, 8);
    for (size_t i = 1; i < total; i++)
        cr_assert(all[i - 1].priority < all[i].priority ||
                      (all[i - 1].priority == all[i].priority &&
                       strcmp(all[i - 1].name, all[i].name) < 0),
                  "%s before %s", all[i - 1].name, all[i].name);
    cr_assert_str_eq(all[7].name, "Default");
    const char *bad[] = {"x", "0001", "00010zz", "000107", "00010" "00"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(owl_sampling_list(smp, TENANT, bad[i], 2, page, &n, next, &err),
                     OWL_EINVAL, "%s", bad[i]);
    cr_assert_eq(owl_sampling_list(smp, TENANT, NULL, 0, page, &n, next, &err), OWL_EINVAL);
}

/* 1 when a and b have the same members and times. */
static int same(const owl_sampling_rule *a, const owl_sampling_rule *b)
{
    bson_t x = BSON_INITIALIZER, y = BSON_INITIALIZER;
    owl_sampling_rule_write(a, TENANT, &x);
    owl_sampling_rule_write(b, TENANT, &y);
    int eq = bson_equal(&x, &y) && a->created_ms == b->created_ms &&
             a->modified_ms == b->modified_ms;
    bson_destroy(&x);
    bson_destroy(&y);
    return eq;
}

/* Every member and time back after a reopen; a deleted rule stays deleted; Default's change
 * kept. */
Test(sampling, persistence_round_trip, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    owl_sampling_rule a = rule("full", 42, 0.123456789, 9), b = rule("gone", 3, 0.5, 0);
    strcpy(a.service_name, "orders-\xc3\xa9*");
    strcpy(a.service_type, "AWS::EC2::Instance");
    strcpy(a.host, "*.example.com");
    strcpy(a.http_method, "PUT");
    strcpy(a.url_path, "/api/?/x");
    strcpy(a.resource_arn, "arn:aws:ec2:*");
    a.nattrs = 2;
    strcpy(a.attrs[0].key, "tier"), strcpy(a.attrs[0].value, "gold");
    strcpy(a.attrs[1].key, "a\"b"), strcpy(a.attrs[1].value, "c\\d");
    a.has_boost = 1, a.boost_max_rate = 0.9, a.boost_cooldown_min = 4;
    create(TENANT, &a, T0 + 1);
    create(TENANT, &b, T0 + 2);
    create(OTHER, &b, T0 + 3);
    owl_sampling_rule v;
    memset(&v, 0, sizeof v);
    v.reservoir = 0;
    cr_assert_eq(owl_sampling_update(smp, TENANT, "Default", &v, OWL_SAMPLING_F_RESERVOIR,
                                     T0 + 4, NULL, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_sampling_delete(smp, TENANT, "gone", T0 + 5, NULL, &err), OWL_OK);
    owl_sampling_rule before[OWL_SAMPLING_RULES_MAX], after[OWL_SAMPLING_RULES_MAX];
    size_t nb, na;
    char next[OWL_SAMPLING_TOKEN_MAX];
    cr_assert_eq(owl_sampling_list(smp, TENANT, NULL, 100, before, &nb, next, &err), OWL_OK);
    close_rules();
    open_rules_at(T0 + 100);
    cr_assert_eq(owl_sampling_list(smp, TENANT, NULL, 100, after, &na, next, &err), OWL_OK);
    cr_assert_eq(na, 2);
    cr_assert_eq(nb, na);
    for (size_t i = 0; i < na; i++)
        cr_assert(same(&before[i], &after[i]), "rule %s differs", before[i].name);
    cr_assert_str_eq(after[0].name, "full");
    cr_assert_eq(after[1].reservoir, 0, "Default's change kept");
    cr_assert_eq(after[1].modified_ms, T0 + 4);
    cr_assert_eq(owl_sampling_list(smp, OTHER, NULL, 100, after, &na, next, &err), OWL_OK);
    cr_assert_eq(na, 2, "the other tenant's rule kept apart");
    /* the last change of a reopened tenant is the open (SDKs refetch) */
    owl_sampling_stat st = {"full", CLIENT_A, 0, 0, 0};
    owl_sampling_target tg;
    int64_t last;
    cr_assert_eq(owl_sampling_targets(smp, TENANT, &st, 1, T0 + 200, &tg, &last, &err), OWL_OK);
    cr_assert_eq(last, T0 + 100);
}

/* A record that is not a rule (another format version, a bad member) refuses the open. */
Test(sampling, bad_record_refuses_open, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    owl_sampling_rule r = rule("r", 1, 0.5, 0);
    create(TENANT, &r, T0);
    static const char *const breaks[] = {"v", "rule.Priority", "rule"};
    for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
        bson_t *doc = NULL;
        cr_assert_eq(owl_meta_get(meta, TENANT, OWL_SAMPLING_KIND, "r", &doc, &err), OWL_OK);
        bson_t fixed = BSON_INITIALIZER;
        bson_iter_t it;
        bson_iter_init(&it, doc);
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            if (i == 0 && !strcmp(k, "v"))
                BSON_APPEND_INT32(&fixed, "v", 2);
            else if (i == 1 && !strcmp(k, "rule")) {
                bson_t sub;
                BSON_APPEND_DOCUMENT_BEGIN(&fixed, "rule", &sub);
                owl_sampling_rule w = r;
                w.priority = 0;
                owl_sampling_rule_write(&w, NULL, &sub);
                bson_append_document_end(&fixed, &sub);
            } else if (i == 2 && !strcmp(k, "rule"))
                BSON_APPEND_UTF8(&fixed, "rule", "no");
            else
                bson_append_iter(&fixed, k, -1, &it);
        }
        cr_assert_eq(owl_meta_put(meta, TENANT, OWL_SAMPLING_KIND, "r", &fixed, &err), OWL_OK);
        owl_sampling *s2 = NULL;
        cr_assert_eq(owl_sampling_open(meta, T0, &s2, &err), OWL_ECORRUPT, "break %s",
                     breaks[i]);
        cr_assert(strstr(err.msg, "sampling rule r of tenant " TENANT), "%s", err.msg);
        cr_assert_null(s2);
        cr_assert_eq(owl_meta_put(meta, TENANT, OWL_SAMPLING_KIND, "r", doc, &err), OWL_OK);
        bson_destroy(&fixed);
        bson_destroy(doc);
    }
}

/* ---- reservoir shares ---- */

static int64_t quota(const char *tenant, const char *rule_name, const char *client, int64_t ms)
{
    owl_sampling_stat st = {rule_name, client, 10, 2, 1};
    owl_sampling_target tg;
    int64_t last;
    owl_error err = {0};
    cr_assert_eq(owl_sampling_targets(smp, tenant, &st, 1, ms, &tg, &last, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert(tg.found, "%s", rule_name);
    cr_assert_eq(tg.quota_ttl_s, ms / 1000 + OWL_SAMPLING_INTERVAL_S);
    return tg.quota;
}

/* One trace per second: the first client holds it and keeps it by asking again; another gets
 * it once that share expired. */
Test(sampling, reservoir_of_one, .init = setup, .fini = teardown)
{
    cr_assert_eq(quota(TENANT, "Default", CLIENT_A, T0), 1);
    cr_assert_eq(quota(TENANT, "Default", CLIENT_B, T0), 0);
    cr_assert_eq(quota(TENANT, "Default", CLIENT_B, T0 + 3000), 0);
    cr_assert_eq(quota(TENANT, "Default", CLIENT_A, T0 + 9000), 1); /* renewed to T0 + 19 s */
    cr_assert_eq(quota(TENANT, "Default", CLIENT_B, T0 + 18000), 0);
    cr_assert_eq(quota(TENANT, "Default", CLIENT_B, T0 + 19000), 1); /* A's share expired */
    cr_assert_eq(quota(TENANT, "Default", CLIENT_A, T0 + 20000), 0);
}

/* Ten per second among two clients: the first takes all, then both reach five each within an
 * interval; the sum never goes over ten. */
Test(sampling, even_split, .init = setup, .fini = teardown)
{
    owl_sampling_rule r = rule("ten", 1, 0.1, 10);
    create(TENANT, &r, T0);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0), 10);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_B, T0 + 1000), 0, "nothing left while A holds it");
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0 + 2000), 5, "A's renewal: its half");
    cr_assert_eq(quota(TENANT, "ten", CLIENT_B, T0 + 3000), 5, "B: the other half");
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0 + 12000), 5);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_B, T0 + 13000), 5);
    /* B stops asking: its share lapses at T0 + 23 s, then A gets it all */
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0 + 22000), 5);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0 + 23000), 10);
    /* a lower ReservoirSize: quotas in force stand, the next grants fit what is left */
    owl_sampling_rule v;
    owl_error err = {0};
    memset(&v, 0, sizeof v);
    v.reservoir = 3;
    cr_assert_eq(owl_sampling_update(smp, TENANT, "ten", &v, OWL_SAMPLING_F_RESERVOIR, T0, NULL,
                                     &err), OWL_OK);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_B, T0 + 24000), 0);
    cr_assert_eq(quota(TENANT, "ten", CLIENT_A, T0 + 25000), 2, "3 split: A the remainder");
    cr_assert_eq(quota(TENANT, "ten", CLIENT_B, T0 + 26000), 1);
}

/* Many clients asking at random for a reservoir of 7 over five minutes: at every moment the
 * quotas in force add up to at most 7, and every client asking in each interval gets its
 * share once the split settles. Past OWL_SAMPLING_CLIENTS_MAX, a client gets 0. */
Test(sampling, never_oversold, .init = setup, .fini = teardown)
{
    enum { CLIENTS = 80, STEPS = 3000 };
    owl_sampling_rule r = rule("seven", 1, 0.1, 7);
    create(TENANT, &r, T0);
    int64_t q[CLIENTS], until[CLIENTS];
    char ids[CLIENTS][OWL_SAMPLING_CLIENT_LEN + 1];
    for (int c = 0; c < CLIENTS; c++) {
        snprintf(ids[c], sizeof ids[c], "%024d", c);
        q[c] = 0, until[c] = 0;
    }
    unsigned seed = 15;
    int64_t max_sum = 0;
    for (int step = 0; step < STEPS; step++) {
        int64_t ms = T0 + step * 100; /* 10 asks per second */
        int c = (int)(rand_r(&seed) % (step < STEPS / 2 ? 6 : CLIENTS));
        q[c] = quota(TENANT, "seven", ids[c], ms);
        until[c] = ms / 1000 + OWL_SAMPLING_INTERVAL_S;
        int64_t sum = 0;
        for (int k = 0; k < CLIENTS; k++)
            if (until[k] > ms / 1000)
                sum += q[k];
        cr_assert(sum <= 7, "step %d: quotas in force add up to %lld", step, (long long)sum);
        max_sum = sum > max_sum ? sum : max_sum;
    }
    cr_assert_eq(max_sum, 7, "the reservoir was given out whole at some point");
}

Test(sampling, clients_past_the_cap_get_nothing, .init = setup, .fini = teardown)
{
    owl_sampling_rule r = rule("big", 1, 0.1, 1000);
    create(TENANT, &r, T0);
    for (int c = 0; c < OWL_SAMPLING_CLIENTS_MAX; c++) {
        char id[OWL_SAMPLING_CLIENT_LEN + 1];
        snprintf(id, sizeof id, "%024d", c);
        cr_assert(quota(TENANT, "big", id, T0) >= 0);
    }
    cr_assert_eq(quota(TENANT, "big", "zzzzzzzzzzzzzzzzzzzzzzzz", T0), 0);
    cr_assert(quota(TENANT, "big", "zzzzzzzzzzzzzzzzzzzzzzzz", T0 + 10000) > 0,
              "a place once the others lapsed");
}

Test(sampling, statistics, .init = setup, .fini = teardown)
{
    owl_sampling_rule r = rule("counted", 1, 0.1, 0);
    create(TENANT, &r, T0 + 5);
    owl_sampling_stat st[] = {{"counted", CLIENT_A, 10, 3, 1}, {"counted", CLIENT_B, 5, 2, 0},
                              {"Default", CLIENT_A, 7, 1, 1}, {"nope", CLIENT_A, 1, 1, 1}};
    owl_sampling_target tg[4];
    int64_t last;
    owl_error err = {0};
    cr_assert_eq(owl_sampling_targets(smp, TENANT, st, 4, T0 + 10, tg, &last, &err), OWL_OK);
    cr_assert(tg[0].found && tg[1].found && tg[2].found && !tg[3].found);
    cr_assert_eq(last, T0 + 5);
    owl_sampling_stat bad = {"counted", "short", 1, 1, 1};
    cr_assert_eq(owl_sampling_targets(smp, TENANT, &bad, 1, T0, tg, &last, &err), OWL_EINVAL);
    owl_sampling_summary sum[OWL_SAMPLING_RULES_MAX];
    size_t n;
    owl_sampling_summaries(smp, TENANT, sum, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(sum[0].name, "counted");
    cr_assert_eq(sum[0].since_ms, T0 + 5);
    cr_assert(sum[0].requests == 15 && sum[0].sampled == 5 && sum[0].borrowed == 1);
    cr_assert_str_eq(sum[1].name, "Default");
    cr_assert_eq(sum[1].since_ms, T0, "owld's start");
    cr_assert(sum[1].requests == 7 && sum[1].sampled == 1 && sum[1].borrowed == 1);
    owl_sampling_summaries(smp, OTHER, sum, &n);
    cr_assert(n == 1 && sum[0].requests == 0, "a tenant never seen: Default's zeros");
}

/* ---- the actions, as the ports serve them ---- */

static owl_server srv;

/* POST path with body as the tenant; *status gets the HTTP status; returns the body parsed
 * (caller destroys). */
static bson_t *call(const char *path, const char *body, int *status)
{
    static const owl_aws_service *const svcs[] = {&owl_sampling_service};
    srv.sampling = smp;
    owl_aws_request rq = {.method = "POST", .path = path, .query = "", .body = body,
                          .body_len = strlen(body), .request_id = "r"};
    owl_aws_match m;
    owl_aws_match_request(svcs, 1, &rq, &m);
    cr_assert_not_null(m.op, "%s", path);
    owl_principal p;
    memset(&p, 0, sizeof p);
    strcpy(p.tenant, TENANT);
    owl_call c;
    memset(&c, 0, sizeof c);
    c.srv = &srv, c.principal = &p;
    owl_buf h = OWL_BUF_INIT, b = OWL_BUF_INIT;
    owl_aws_reply reply = {.headers = &h, .body = &b};
    owl_aws_serve(&m, &rq, &c, &reply);
    *status = reply.status;
    bson_t *doc = bson_new();
    owl_error err = {0};
    cr_assert_eq(owl_aws_json_decode(b.data, b.len, doc, &err), OWL_OK, "%.*s", (int)b.len,
                 b.data);
    owl_buf_free(&h);
    owl_buf_free(&b);
    return doc;
}

static const char *str(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_UTF8(&f))
        return "";
    return bson_iter_utf8(&f, NULL);
}

static double num(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f), "no %s",
              path);
    return bson_iter_as_double(&f);
}

static int has(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f);
}

#define RULE_BODY(name, prio, tags) \
    "{\"SamplingRule\":{\"RuleName\":\"" name "\",\"ResourceARN\":\"*\",\"Priority\":" #prio \
    ",\"FixedRate\":0.25,\"ReservoirSize\":4,\"ServiceName\":\"svc\",\"ServiceType\":\"*\"," \
    "\"Host\":\"*\",\"HTTPMethod\":\"GET\",\"URLPath\":\"*\",\"Version\":1," \
    "\"Attributes\":{\"k\":\"v\"}},\"Tags\":[" tags "]}"
#define RULE_JSON(name, prio) RULE_BODY(name, prio, "{\"Key\":\"team\",\"Value\":\"a\"}")

Test(sampling, actions_shapes, .init = setup, .fini = teardown)
{
    int st;
    bson_t *d = call("/CreateSamplingRule", RULE_JSON("api-rule", 7), &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(d, "SamplingRuleRecord.SamplingRule.RuleARN"),
                     "arn:aws:xray:us-east-1:" TENANT ":sampling-rule/api-rule");
    cr_assert_str_eq(str(d, "SamplingRuleRecord.SamplingRule.Attributes.k"), "v");
    cr_assert_eq(num(d, "SamplingRuleRecord.SamplingRule.Priority"), 7);
    cr_assert(num(d, "SamplingRuleRecord.CreatedAt") > 1e9);
    bson_destroy(d);

    d = call("/GetSamplingRules", "", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(d, "SamplingRuleRecords.0.SamplingRule.RuleName"), "api-rule");
    cr_assert_str_eq(str(d, "SamplingRuleRecords.1.SamplingRule.RuleName"), "Default");
    cr_assert_eq(num(d, "SamplingRuleRecords.1.CreatedAt"), 0);
    cr_assert(!has(d, "NextToken"));
    bson_destroy(d);

    d = call("/UpdateSamplingRule",
             "{\"SamplingRuleUpdate\":{\"RuleARN\":\"arn:aws:xray:us-east-1:" TENANT
             ":sampling-rule/api-rule\",\"FixedRate\":0.5,\"Attributes\":{}}}", &st);
    cr_assert_eq(st, 200);
    cr_assert_eq(num(d, "SamplingRuleRecord.SamplingRule.FixedRate"), 0.5);
    cr_assert(!has(d, "SamplingRuleRecord.SamplingRule.Attributes.k"), "the map replaced");
    bson_destroy(d);

    d = call("/SamplingTargets",
             "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"api-rule\",\"ClientID\":\""
             CLIENT_A "\",\"Timestamp\":1764900000.5,\"RequestCount\":3,\"SampledCount\":1,"
             "\"BorrowCount\":0},{\"RuleName\":\"nope\",\"ClientID\":\"" CLIENT_A "\","
             "\"Timestamp\":1,\"RequestCount\":0,\"SampledCount\":0}]}", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(d, "SamplingTargetDocuments.0.RuleName"), "api-rule");
    cr_assert_eq(num(d, "SamplingTargetDocuments.0.ReservoirQuota"), 4);
    cr_assert_eq(num(d, "SamplingTargetDocuments.0.Interval"), OWL_SAMPLING_INTERVAL_S);
    cr_assert_eq(num(d, "SamplingTargetDocuments.0.FixedRate"), 0.5);
    cr_assert(!has(d, "SamplingTargetDocuments.1"));
    cr_assert_str_eq(str(d, "UnprocessedStatistics.0.RuleName"), "nope");
    cr_assert(num(d, "LastRuleModification") > 1e9);
    bson_destroy(d);

    d = call("/SamplingStatisticSummaries", "{}", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(d, "SamplingStatisticSummaries.0.RuleName"), "api-rule");
    cr_assert_eq(num(d, "SamplingStatisticSummaries.0.RequestCount"), 3);
    bson_destroy(d);

    d = call("/DeleteSamplingRule", "{\"RuleName\":\"api-rule\"}", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(d, "SamplingRuleRecord.SamplingRule.RuleName"), "api-rule");
    bson_destroy(d);
}

Test(sampling, actions_errors, .init = setup, .fini = teardown)
{
    static const struct {
        const char *path, *body, *type, *says;
    } t[] = {
        {"/CreateSamplingRule", "not json", "InvalidRequestException", "not a JSON object"},
        {"/CreateSamplingRule", "{}", "InvalidRequestException", "SamplingRule is required"},
        {"/CreateSamplingRule", "{\"SamplingRule\":{\"RuleName\":\"x\"}}",
         "InvalidRequestException", "SamplingRule.ResourceARN is required"},
        {"/CreateSamplingRule", RULE_JSON("dup", 5), NULL, NULL},
        {"/CreateSamplingRule", RULE_JSON("dup", 5), "InvalidRequestException", "exists already"},
        {"/CreateSamplingRule", RULE_JSON("prio", 0), "InvalidRequestException", "Priority"},
        {"/CreateSamplingRule", RULE_JSON("prio", 10000), "InvalidRequestException", "Priority"},
        {"/CreateSamplingRule", RULE_JSON("Default", 5), "InvalidRequestException", "Default"},
        {"/CreateSamplingRule", RULE_BODY("t", 5, "{\"Key\":\"\",\"Value\":\"a\"}"),
         "InvalidRequestException", "Tags[0]"},
        {"/CreateSamplingRule", RULE_BODY("t", 5, "1"), "InvalidRequestException", "Tags[0]"},
        {"/CreateSamplingRule", "{\"SamplingRule\":[]}", "InvalidRequestException",
         "a structure"},
        {"/CreateSamplingRule", "{\"SamplingRule\":{\"RuleName\":\"x\",\"Version\":\"1\"}}",
         "InvalidRequestException", "Version: an integer"},
        {"/UpdateSamplingRule", "{\"SamplingRuleUpdate\":{\"FixedRate\":0.1}}",
         "InvalidRequestException", "RuleName or RuleARN"},
        {"/UpdateSamplingRule",
         "{\"SamplingRuleUpdate\":{\"RuleName\":\"nope\",\"FixedRate\":0.1}}",
         "InvalidRequestException", "no sampling rule named nope"},
        {"/UpdateSamplingRule",
         "{\"SamplingRuleUpdate\":{\"RuleName\":\"Default\",\"Priority\":3}}",
         "InvalidRequestException", "only FixedRate and ReservoirSize"},
        {"/UpdateSamplingRule",
         "{\"SamplingRuleUpdate\":{\"RuleName\":\"dup\",\"RuleARN\":\"arn:aws:xray:us-east-1:"
         TENANT ":sampling-rule/other\"}}", "InvalidRequestException", "different rules"},
        {"/UpdateSamplingRule", "{\"SamplingRuleUpdate\":{\"RuleName\":\"dup\",\"FixedRate\":2}}",
         "InvalidRequestException", "FixedRate"},
        {"/DeleteSamplingRule", "{\"RuleName\":\"Default\"}", "InvalidRequestException",
         "cannot be deleted"},
        {"/DeleteSamplingRule", "{\"RuleARN\":\"arn:aws:xray:us-east-1:" OTHER
         ":sampling-rule/dup\"}", "InvalidRequestException", "not a sampling rule of account"},
        {"/DeleteSamplingRule", "{}", "InvalidRequestException", "RuleName or RuleARN"},
        {"/GetSamplingRules", "{\"NextToken\":\"zz\"}", "InvalidRequestException", "NextToken"},
        {"/SamplingStatisticSummaries", "{\"NextToken\":\"zz\"}", "InvalidRequestException",
         "NextToken"},
        {"/SamplingTargets", "{}", "InvalidRequestException", "a list is required"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[1]}", "InvalidRequestException",
         "[0] is not an object"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\"}]}",
         "InvalidRequestException", "[0].ClientID"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\","
         "\"ClientID\":\"abc\",\"Timestamp\":1,\"RequestCount\":0,\"SampledCount\":0}]}",
         "InvalidRequestException", "24 characters"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\","
         "\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":\"now\",\"RequestCount\":0,"
         "\"SampledCount\":0}]}", "InvalidRequestException", "[0].Timestamp"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\","
         "\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,\"RequestCount\":-1,"
         "\"SampledCount\":0}]}", "InvalidRequestException", "[0].RequestCount"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\","
         "\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,\"RequestCount\":0,"
         "\"SampledCount\":0,\"BorrowCount\":1.5}]}", "InvalidRequestException",
         "[0].BorrowCount"},
        {"/SamplingTargets", "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"\","
         "\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,\"RequestCount\":0,"
         "\"SampledCount\":0}]}", "InvalidRequestException", "1 to 32"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int st;
        bson_t *d = call(t[i].path, t[i].body, &st);
        if (!t[i].type) {
            cr_assert_eq(st, 200, "%s %s", t[i].path, t[i].body);
        } else {
            cr_assert_eq(st, 400, "%s %s: %d", t[i].path, t[i].body, st);
            cr_assert_str_eq(str(d, "__type"), t[i].type, "%s", t[i].body);
            cr_assert(strstr(str(d, "message"), t[i].says), "%s: '%s' does not say '%s'",
                      t[i].body, str(d, "message"), t[i].says);
        }
        bson_destroy(d);
    }
    /* 26 statistics documents: over X-Ray's 25 */
    char big[8192] = "{\"SamplingStatisticsDocuments\":[";
    for (int i = 0; i < 26; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    int st;
    bson_t *d = call("/SamplingTargets", big, &st);
    cr_assert_eq(st, 400);
    cr_assert(strstr(str(d, "message"), "at most 25"), "%s", str(d, "message"));
    bson_destroy(d);
    /* the rule limit has its own exception */
    for (int i = 1; i < OWL_SAMPLING_USER_RULES_MAX; i++) {
        owl_sampling_rule r = rule("x", 10 + i, 0, 0);
        snprintf(r.name, sizeof r.name, "lim%d", i);
        create(TENANT, &r, T0);
    }
    d = call("/CreateSamplingRule", RULE_JSON("one-too-many", 5), &st);
    cr_assert_eq(st, 400);
    cr_assert_str_eq(str(d, "__type"), "RuleLimitExceededException");
    bson_destroy(d);
}

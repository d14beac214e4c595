/* test_sampling.c — the X-Ray daemon endpoint's sampling rules (server/sampling.c):
 * GetSamplingRules' shape, SamplingTargets' reservoir shares (never more than the rule's
 * ReservoirSize over the clients holding one, renewed by the holder, free again at the TTL),
 * unknown rules, malformed requests refused whole, and rule lists refused when out of range. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ingest/ingest.h"
#include "server/sampling.h"

#define ACCOUNT "123456789012"
#define CLIENT_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define CLIENT_B "bbbbbbbbbbbbbbbbbbbbbbbb"
#define T0 1764900000

static owl_sampling *make(const owl_sampling_rule *rules, size_t n)
{
    owl_sampling *s = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_sampling_new(rules, n, ACCOUNT, T0 - 100, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

static bson_t *parse(const owl_buf *b)
{
    bson_error_t e;
    bson_t *doc = bson_new_from_json((const uint8_t *)b->data, (ssize_t)b->len, &e);
    cr_assert_not_null(doc, "not JSON (%s): %.*s", e.message, (int)b->len, b->data);
    return doc;
}

static int64_t num(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f), "no %s",
              path);
    cr_assert(BSON_ITER_HOLDS_NUMBER(&f), "%s is not a number", path);
    return bson_iter_as_int64(&f);
}

static double dbl(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f), "no %s",
              path);
    return bson_iter_as_double(&f);
}

static const char *str(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f), "no %s",
              path);
    cr_assert(BSON_ITER_HOLDS_UTF8(&f), "%s is not a string", path);
    return bson_iter_utf8(&f, NULL);
}

static int has(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f);
}

/* The targets answer to the request JSON at time now; rc what owl_sampling_targets_json said. */
static bson_t *targets(owl_sampling *s, const char *json, int64_t now, int *rc, owl_error *err)
{
    bson_t in = BSON_INITIALIZER;
    cr_assert_eq(owl_aws_json_decode(json, strlen(json), &in, err), OWL_OK, "%s", err->msg);
    owl_buf b = OWL_BUF_INIT;
    *rc = owl_sampling_targets_json(s, &in, now, &b, err);
    bson_destroy(&in);
    bson_t *out = NULL;
    if (*rc == OWL_OK)
        out = parse(&b);
    else
        cr_assert_eq(b.len, 0, "a refused request appended: %.*s", (int)b.len, b.data);
    owl_buf_free(&b);
    return out;
}

static char *stats(char *buf, size_t n, const char *rule, const char *client)
{
    snprintf(buf, n,
             "{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"%s\",\"ClientID\":\"%s\","
             "\"Timestamp\":%d.5,\"RequestCount\":10,\"SampledCount\":2,\"BorrowCount\":1}]}",
             rule, client, T0);
    return buf;
}

/* The quota the client gets for the Default rule at time now. */
static int64_t quota(owl_sampling *s, const char *client, int64_t now)
{
    char req[512];
    int rc;
    owl_error err = {0};
    bson_t *doc = targets(s, stats(req, sizeof req, "Default", client), now, &rc, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    cr_assert_str_eq(str(doc, "SamplingTargetDocuments.0.RuleName"), "Default");
    cr_assert_eq(num(doc, "SamplingTargetDocuments.0.ReservoirQuotaTTL"),
                 now + OWL_SAMPLING_INTERVAL_S);
    cr_assert_eq(num(doc, "SamplingTargetDocuments.0.Interval"), OWL_SAMPLING_INTERVAL_S);
    cr_assert_float_eq(dbl(doc, "SamplingTargetDocuments.0.FixedRate"), 0.05, 1e-12);
    cr_assert_eq(num(doc, "LastRuleModification"), T0 - 100);
    cr_assert(!has(doc, "SamplingTargetDocuments.1"));
    cr_assert(!has(doc, "UnprocessedStatistics.0"));
    int64_t q = num(doc, "SamplingTargetDocuments.0.ReservoirQuota");
    bson_destroy(doc);
    return q;
}

Test(sampling, default_rule_shape)
{
    owl_sampling *s = make(&owl_sampling_default_rule, 1);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_sampling_rules_json(s, &b), OWL_OK);
    cr_assert(strstr(b.data, "\"FixedRate\":0.05,"), "the rate in its fewest digits: %s", b.data);
    bson_t *doc = parse(&b);
    const char *r = "SamplingRuleRecords.0.SamplingRule.";
    char path[128];
#define AT(m) (snprintf(path, sizeof path, "%s%s", r, m), path)
    cr_assert_str_eq(str(doc, AT("RuleName")), "Default");
    cr_assert_str_eq(str(doc, AT("RuleARN")),
                     "arn:aws:xray:us-east-1:" ACCOUNT ":sampling-rule/Default");
    cr_assert_eq(num(doc, AT("Priority")), 10000);
    cr_assert_float_eq(dbl(doc, AT("FixedRate")), 0.05, 1e-12);
    cr_assert_eq(num(doc, AT("ReservoirSize")), 1);
    cr_assert_eq(num(doc, AT("Version")), 1);
    const char *stars[] = {"ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath",
                           "ResourceARN"};
    for (size_t i = 0; i < sizeof stars / sizeof *stars; i++)
        cr_assert_str_eq(str(doc, AT(stars[i])), "*", "%s", stars[i]);
#undef AT
    cr_assert_eq(num(doc, "SamplingRuleRecords.0.CreatedAt"), T0 - 100);
    cr_assert_eq(num(doc, "SamplingRuleRecords.0.ModifiedAt"), T0 - 100);
    cr_assert(!has(doc, "SamplingRuleRecords.1"));
    bson_destroy(doc);
    owl_buf_free(&b);
    owl_sampling_free(s);
}

Test(sampling, rules_are_copied_and_escaped)
{
    char name[] = "a\"b", svc[] = "svc\\x";
    owl_sampling_rule r = owl_sampling_default_rule;
    r.name = name;
    r.service_name = svc;
    r.priority = 5;
    r.fixed_rate = 0.1234567890123;
    owl_sampling_rule two[] = {r, owl_sampling_default_rule};
    owl_sampling *s = make(two, 2);
    memset(name, 'z', sizeof name - 1); /* the list keeps its own copies */
    memset(svc, 'z', sizeof svc - 1);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_sampling_rules_json(s, &b), OWL_OK);
    bson_t *doc = parse(&b);
    cr_assert_str_eq(str(doc, "SamplingRuleRecords.0.SamplingRule.RuleName"), "a\"b");
    cr_assert_str_eq(str(doc, "SamplingRuleRecords.0.SamplingRule.ServiceName"), "svc\\x");
    cr_assert_eq(num(doc, "SamplingRuleRecords.0.SamplingRule.Priority"), 5);
    cr_assert(dbl(doc, "SamplingRuleRecords.0.SamplingRule.FixedRate") == 0.1234567890123);
    cr_assert_str_eq(str(doc, "SamplingRuleRecords.1.SamplingRule.RuleName"), "Default");
    bson_destroy(doc);
    owl_buf_free(&b);
    owl_sampling_free(s);
}

/* One trace per second shared by the clients: the first to ask holds it for the TTL and keeps
 * it by asking again; another gets it once the holder's share expired. */
Test(sampling, reservoir_shared_by_clients)
{
    owl_sampling *s = make(&owl_sampling_default_rule, 1);
    cr_assert_eq(quota(s, CLIENT_A, T0), 1);
    cr_assert_eq(quota(s, CLIENT_B, T0), 0);
    cr_assert_eq(quota(s, CLIENT_B, T0 + 3), 0);
    cr_assert_eq(quota(s, CLIENT_A, T0 + 9), 1); /* renewed to T0 + 19 */
    cr_assert_eq(quota(s, CLIENT_B, T0 + 18), 0);
    cr_assert_eq(quota(s, CLIENT_B, T0 + 19), 1); /* A's share expired */
    cr_assert_eq(quota(s, CLIENT_A, T0 + 20), 0);
    owl_sampling_free(s);
}

Test(sampling, larger_reservoir_never_oversold)
{
    owl_sampling_rule r = owl_sampling_default_rule;
    r.reservoir = 3;
    owl_sampling *s = make(&r, 1);
    cr_assert_eq(quota(s, CLIENT_A, T0), 3);
    cr_assert_eq(quota(s, CLIENT_B, T0), 0);
    cr_assert_eq(quota(s, CLIENT_A, T0 + 1), 3);
    owl_sampling_free(s);
}

Test(sampling, zero_reservoir)
{
    owl_sampling_rule r = owl_sampling_default_rule;
    r.reservoir = 0;
    owl_sampling *s = make(&r, 1);
    cr_assert_eq(quota(s, CLIENT_A, T0), 0);
    owl_sampling_free(s);
}

Test(sampling, unknown_rule_unprocessed)
{
    owl_sampling *s = make(&owl_sampling_default_rule, 1);
    int rc;
    owl_error err = {0};
    bson_t *doc = targets(
        s,
        "{\"SamplingStatisticsDocuments\":["
        "{\"RuleName\":\"Nope\",\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,"
        "\"RequestCount\":0,\"SampledCount\":0},"
        "{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,"
        "\"RequestCount\":0,\"SampledCount\":0}]}",
        T0, &rc, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    cr_assert_str_eq(str(doc, "SamplingTargetDocuments.0.RuleName"), "Default");
    cr_assert_eq(num(doc, "SamplingTargetDocuments.0.ReservoirQuota"), 1);
    cr_assert(!has(doc, "SamplingTargetDocuments.1"));
    cr_assert_str_eq(str(doc, "UnprocessedStatistics.0.RuleName"), "Nope");
    cr_assert_str_eq(str(doc, "UnprocessedStatistics.0.ErrorCode"), "400");
    cr_assert(!has(doc, "UnprocessedStatistics.1"));
    bson_destroy(doc);

    doc = targets(s, "{\"SamplingStatisticsDocuments\":[]}", T0, &rc, &err);
    cr_assert_eq(rc, OWL_OK, "%s", err.msg);
    cr_assert(!has(doc, "SamplingTargetDocuments.0"));
    cr_assert(has(doc, "UnprocessedStatistics"));
    bson_destroy(doc);
    owl_sampling_free(s);
}

/* A malformed request is refused whole, naming the member, and takes no share: a valid
 * entry before the bad one does not hold the reservoir afterwards. */
Test(sampling, malformed_requests)
{
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"{}", "SamplingStatisticsDocuments: a list is required"},
        {"{\"SamplingStatisticsDocuments\":{}}", "a list is required"},
        {"{\"SamplingStatisticsDocuments\":[1]}", "[0] is not an object"},
        {"{\"SamplingStatisticsDocuments\":[{\"ClientID\":\"" CLIENT_A "\",\"Timestamp\":1,"
         "\"RequestCount\":0,\"SampledCount\":0}]}", "[0].RuleName"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"Timestamp\":1,"
         "\"RequestCount\":0,\"SampledCount\":0}]}", "[0].ClientID"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"abc\","
         "\"Timestamp\":1,\"RequestCount\":0,\"SampledCount\":0}]}", "24 characters"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":\"now\",\"RequestCount\":0,\"SampledCount\":0}]}", "[0].Timestamp"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":1,\"RequestCount\":-1,\"SampledCount\":0}]}", "[0].RequestCount"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":1,\"RequestCount\":1.5,\"SampledCount\":0}]}", "[0].RequestCount"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":1,\"RequestCount\":0}]}", "[0].SampledCount"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":1,\"RequestCount\":0,\"SampledCount\":0}]}", "1 to 32"},
        {"{\"SamplingStatisticsDocuments\":[{\"RuleName\":\"Default\",\"ClientID\":\"" CLIENT_A
         "\",\"Timestamp\":1,\"RequestCount\":0,\"SampledCount\":0},"
         "{\"RuleName\":\"Default\"}]}", "[1].ClientID"},
    };
    owl_sampling *s = make(&owl_sampling_default_rule, 1);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc;
        owl_error err = {0};
        bson_t *doc = targets(s, bad[i].body, T0, &rc, &err);
        cr_assert_null(doc, "%s accepted", bad[i].body);
        cr_assert_eq(rc, OWL_EINVAL, "%s", bad[i].body);
        cr_assert(strstr(err.msg, bad[i].says), "%s: '%s' does not say '%s'", bad[i].body,
                  err.msg, bad[i].says);
    }
    cr_assert_eq(quota(s, CLIENT_B, T0), 1, "a refused request took a share");
    owl_sampling_free(s);
}

Test(sampling, rule_lists_out_of_range)
{
    char longname[34], longpath[130];
    memset(longname, 'n', 33);
    longname[33] = 0;
    memset(longpath, '/', 129);
    longpath[129] = 0;
    owl_sampling_rule r[12];
    for (size_t i = 0; i < 12; i++)
        r[i] = owl_sampling_default_rule;
    r[0].name = "";
    r[1].name = longname;
    r[2].priority = 0;
    r[3].priority = 10001;
    r[4].fixed_rate = 1.5;
    r[5].fixed_rate = NAN;
    r[6].reservoir = -1;
    r[7].service_name = NULL;
    r[8].url_path = longpath;
    r[9].name = NULL;
    r[10].fixed_rate = -0.1;
    r[11].http_method = "METHODMETHOD";
    for (size_t i = 0; i < 12; i++) {
        owl_sampling *s = NULL;
        owl_error err = {0};
        cr_assert_eq(owl_sampling_new(&r[i], 1, ACCOUNT, T0, &s, &err), OWL_EINVAL,
                     "rule %zu accepted", i);
        cr_assert_null(s);
        cr_assert(strstr(err.msg, "sampling rule"), "%s", err.msg);
    }
    owl_sampling *s = NULL;
    owl_error err = {0};
    owl_sampling_rule twice[] = {owl_sampling_default_rule, owl_sampling_default_rule};
    cr_assert_eq(owl_sampling_new(twice, 2, ACCOUNT, T0, &s, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "named twice"), "%s", err.msg);
    cr_assert_eq(owl_sampling_new(twice, 0, ACCOUNT, T0, &s, &err), OWL_EINVAL);
    cr_assert_eq(owl_sampling_new(twice, 1, "12345", T0, &s, &err), OWL_EINVAL);
    cr_assert_eq(owl_sampling_new(twice, 1, NULL, T0, &s, &err), OWL_EINVAL);
    cr_assert_null(s);
    owl_sampling_free(NULL);
}

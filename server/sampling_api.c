/* sampling_api.c — X-Ray's sampling actions in its REST-JSON shapes (botocore's xray model;
 * docs/api/xray-sampling.md), over the tenants' rules of sampling.c:
 *   CreateSamplingRule             POST /CreateSamplingRule          xray:CreateSamplingRule
 *   UpdateSamplingRule             POST /UpdateSamplingRule          xray:UpdateSamplingRule
 *   DeleteSamplingRule             POST /DeleteSamplingRule          xray:DeleteSamplingRule
 *   GetSamplingRules               POST /GetSamplingRules            xray:GetSamplingRules
 *   GetSamplingTargets             POST /SamplingTargets             xray:GetSamplingTargets
 *   GetSamplingStatisticSummaries  POST /SamplingStatisticSummaries
 *                                                   xray:GetSamplingStatisticSummaries
 * Each reads its body itself, so that a body that is not JSON is X-Ray's InvalidRequestException
 * on both ports, as every other refusal is but the rule limit's RuleLimitExceededException. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/sampling.h"
#include "server/server.h"

#define RULES_PAGE 100 /* records per GetSamplingRules page: all of an account's */
#define TAGS_MAX 200   /* Tags of a CreateSamplingRule */

static owl_call *call_of(owl_aws_ctx *ctx)
{
    return ctx->ud;
}

static const char *tenant_of(owl_aws_ctx *ctx)
{
    return call_of(ctx)->principal->tenant;
}

static owl_sampling *rules_of(owl_aws_ctx *ctx)
{
    return call_of(ctx)->srv->sampling;
}

static int invalid(owl_aws_ctx *ctx, const char *msg)
{
    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s", msg);
}

/* The answer to a failure of sampling.c. */
static int failed(owl_aws_ctx *ctx, int rc, const owl_error *err)
{
    switch (rc) {
    case OWL_EINVAL:
    case OWL_EEXISTS:
    case OWL_ENOTFOUND:
        return invalid(ctx, err->msg);
    case OWL_ELIMIT:
        return owl_aws_fail(ctx, OWL_AWS_ERR_RuleLimitExceededException, "%s", err->msg);
    case OWL_ENOSPC:
    case OWL_EIO:
        return owl_aws_fail(ctx, OWL_AWS_ERR_ServiceUnavailable, "%s", err->msg);
    default:
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "%s", err->msg);
    }
}

/* The request's body as a document into in (initialised by the caller). */
static int body_of(owl_aws_ctx *ctx, bson_t *in)
{
    owl_error err = {0};
    const owl_aws_request *rq = ctx->rq;
    if (owl_aws_json_decode(rq->body ? rq->body : "", rq->body_len, in, &err) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "the body is not a JSON object: %s", err.msg);
    return OWL_OK;
}

/* Member name of doc: OWL_OK with *out a string (NULL when absent or null), or a refusal. */
static int opt_str(owl_aws_ctx *ctx, const bson_t *doc, const char *name, const char **out)
{
    bson_iter_t it;
    *out = NULL;
    if (!bson_iter_init_find(&it, doc, name) || BSON_ITER_HOLDS_NULL(&it))
        return OWL_OK;
    if (!BSON_ITER_HOLDS_UTF8(&it))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s: a string is required",
                            name);
    *out = bson_iter_utf8(&it, NULL);
    return OWL_OK;
}

/* Member name of doc as a structure into *sub (static over doc's bytes): OWL_OK,
 * OWL_ENOTFOUND when absent, or a refusal. */
static int sub_doc(owl_aws_ctx *ctx, const bson_t *doc, const char *name, bson_t *sub)
{
    bson_iter_t it;
    uint32_t len;
    const uint8_t *data;
    if (!bson_iter_init_find(&it, doc, name) || BSON_ITER_HOLDS_NULL(&it))
        return OWL_ENOTFOUND;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "%s: a structure is required", name);
    bson_iter_document(&it, &len, &data);
    bson_init_static(sub, data, len);
    return OWL_OK;
}

/* Member name of doc as a list, iterated by *arr, with *n its length: OWL_OK, OWL_ENOTFOUND,
 * or a refusal when not a list or longer than max. */
static int list_of(owl_aws_ctx *ctx, const bson_t *doc, const char *name, size_t max,
                   bson_iter_t *arr, size_t *n)
{
    bson_iter_t it, count;
    if (!bson_iter_init_find(&it, doc, name) || BSON_ITER_HOLDS_NULL(&it))
        return OWL_ENOTFOUND;
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, arr))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s: a list is required",
                            name);
    count = *arr;
    for (*n = 0; bson_iter_next(&count); (*n)++)
        ;
    if (*n > max)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException, "%s: at most %zu entries",
                            name, max);
    return OWL_OK;
}

/* A SamplingRuleRecord of the tenant's rule r as member key of out. */
static void record(bson_t *out, const char *key, const owl_sampling_rule *r, const char *tenant)
{
    bson_t rec, rule;
    bson_append_document_begin(out, key, -1, &rec);
    BSON_APPEND_DOCUMENT_BEGIN(&rec, "SamplingRule", &rule);
    owl_sampling_rule_write(r, tenant, &rule);
    bson_append_document_end(&rec, &rule);
    BSON_APPEND_DATE_TIME(&rec, "CreatedAt", r->created_ms);
    BSON_APPEND_DATE_TIME(&rec, "ModifiedAt", r->modified_ms);
    bson_append_document_end(out, &rec);
}

static void set_resource(owl_aws_ctx *ctx, const char *name)
{
    owl_call *call = call_of(ctx);
    snprintf(call->resource, sizeof call->resource, "tenant/%s/xray/sampling-rule%s%.128s",
             tenant_of(ctx), name ? "/" : "s", name ? name : "");
}

/* Characters of a UTF-8 string of n bytes (the JSON reader gave valid UTF-8). */
static size_t chars(const char *s, uint32_t n)
{
    size_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Tags are checked as X-Ray's model has them (at most 200 {Key 1-128, Value 0-256}) and not
 * kept: owl has no X-Ray tagging actions to read them back. */
static int check_tags(owl_aws_ctx *ctx, const bson_t *in)
{
    bson_iter_t arr, f;
    size_t n;
    int rc = list_of(ctx, in, "Tags", TAGS_MAX, &arr, &n);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    for (size_t i = 0; rc == OWL_OK && bson_iter_next(&arr); i++) {
        bson_iter_t tag = arr;
        uint32_t len = 0;
        const char *v;
        int ok = BSON_ITER_HOLDS_DOCUMENT(&tag) && bson_iter_recurse(&tag, &f) &&
                 bson_iter_find(&f, "Key") && BSON_ITER_HOLDS_UTF8(&f) &&
                 (v = bson_iter_utf8(&f, &len), chars(v, len) >= 1 && chars(v, len) <= 128);
        ok = ok && bson_iter_recurse(&tag, &f) && bson_iter_find(&f, "Value") &&
             BSON_ITER_HOLDS_UTF8(&f) && (v = bson_iter_utf8(&f, &len), chars(v, len) <= 256);
        if (!ok)
            rc = owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                              "Tags[%zu]: a Key of 1 to 128 and a Value of 0 to 256 characters "
                              "are required", i);
    }
    return rc;
}

/* ---- CreateSamplingRule, UpdateSamplingRule, DeleteSamplingRule ---- */

static int create_rule(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER, doc;
    owl_sampling_rule r, made;
    owl_error err = {0};
    unsigned given = 0;
    memset(&r, 0, sizeof r);
    int rc = body_of(ctx, &in);
    if (rc == OWL_OK && (rc = sub_doc(ctx, &in, "SamplingRule", &doc)) == OWL_ENOTFOUND)
        rc = invalid(ctx, "SamplingRule is required");
    if (rc == OWL_OK && ((rc = owl_sampling_rule_read(&doc, &r, &given, &err)) != OWL_OK ||
                         (rc = owl_sampling_rule_missing(given, OWL_SAMPLING_F_REQUIRED,
                                                         "SamplingRule", &err)) != OWL_OK))
        rc = invalid(ctx, err.msg);
    if (rc == OWL_OK)
        rc = check_tags(ctx, &in);
    if (rc == OWL_OK) {
        set_resource(ctx, r.name);
        rc = owl_sampling_create(rules_of(ctx), tenant_of(ctx), &r, owl_now_ms(), &made, &err);
        if (rc != OWL_OK)
            rc = failed(ctx, rc, &err);
    }
    if (rc == OWL_OK)
        record(out, "SamplingRuleRecord", &made, tenant_of(ctx));
    bson_destroy(&in);
    return rc;
}

/* The rule a request names by RuleName or RuleARN (one of them; both must agree), into
 * name. */
static int named(owl_aws_ctx *ctx, const char *by_name, const char *arn, char *name)
{
    owl_error err = {0};
    char from_arn[OWL_SAMPLING_TEXT(32)];
    if (arn && owl_sampling_arn_name(arn, tenant_of(ctx), from_arn, &err) != OWL_OK)
        return invalid(ctx, err.msg);
    if (by_name && arn && strcmp(by_name, from_arn))
        return invalid(ctx, "RuleName and RuleARN name different rules");
    if (!by_name && !arn)
        return invalid(ctx, "RuleName or RuleARN is required");
    snprintf(name, OWL_SAMPLING_TEXT(32), "%s", by_name ? by_name : from_arn);
    return OWL_OK;
}

static int update_rule(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER, doc;
    owl_sampling_rule v, made;
    owl_error err = {0};
    unsigned given = 0;
    const char *arn = NULL;
    char name[OWL_SAMPLING_TEXT(32)];
    memset(&v, 0, sizeof v);
    int rc = body_of(ctx, &in);
    if (rc == OWL_OK && (rc = sub_doc(ctx, &in, "SamplingRuleUpdate", &doc)) == OWL_ENOTFOUND)
        rc = invalid(ctx, "SamplingRuleUpdate is required");
    if (rc == OWL_OK && (rc = owl_sampling_rule_read(&doc, &v, &given, &err)) != OWL_OK)
        rc = invalid(ctx, err.msg);
    if (rc == OWL_OK && (rc = opt_str(ctx, &doc, "RuleARN", &arn)) == OWL_OK)
        rc = named(ctx, given & OWL_SAMPLING_F_NAME ? v.name : NULL, arn, name);
    if (rc == OWL_OK) {
        /* the update's shape has no Version: one given is not a change */
        unsigned changed = given & ~(OWL_SAMPLING_F_NAME | OWL_SAMPLING_F_VERSION);
        set_resource(ctx, name);
        rc = owl_sampling_update(rules_of(ctx), tenant_of(ctx), name, &v, changed, owl_now_ms(),
                                 &made, &err);
        if (rc != OWL_OK)
            rc = failed(ctx, rc, &err);
    }
    if (rc == OWL_OK)
        record(out, "SamplingRuleRecord", &made, tenant_of(ctx));
    bson_destroy(&in);
    return rc;
}

static int delete_rule(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER;
    owl_sampling_rule gone;
    owl_error err = {0};
    const char *by_name = NULL, *arn = NULL;
    char name[OWL_SAMPLING_TEXT(32)];
    int rc = body_of(ctx, &in);
    if (rc == OWL_OK && (rc = opt_str(ctx, &in, "RuleName", &by_name)) == OWL_OK &&
        (rc = opt_str(ctx, &in, "RuleARN", &arn)) == OWL_OK)
        rc = named(ctx, by_name, arn, name);
    if (rc == OWL_OK) {
        set_resource(ctx, name);
        rc = owl_sampling_delete(rules_of(ctx), tenant_of(ctx), name, owl_now_ms(), &gone, &err);
        if (rc != OWL_OK)
            rc = failed(ctx, rc, &err);
    }
    if (rc == OWL_OK)
        record(out, "SamplingRuleRecord", &gone, tenant_of(ctx));
    bson_destroy(&in);
    return rc;
}

/* ---- GetSamplingRules ---- */

static int get_rules(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER, list;
    /* 26 rules of some 5 KiB each: off the worker's stack */
    owl_sampling_rule *rules = calloc(OWL_SAMPLING_RULES_MAX, sizeof *rules);
    char next[OWL_SAMPLING_TOKEN_MAX];
    const char *token = NULL;
    size_t n = 0;
    owl_error err = {0};
    set_resource(ctx, NULL);
    int rc = rules ? body_of(ctx, &in)
                   : owl_aws_fail(ctx, OWL_AWS_ERR_InternalFailure, "out of memory");
    if (rc == OWL_OK)
        rc = opt_str(ctx, &in, "NextToken", &token);
    if (rc == OWL_OK &&
        (rc = owl_sampling_list(rules_of(ctx), tenant_of(ctx), token, RULES_PAGE, rules, &n,
                                next, &err)) != OWL_OK)
        rc = invalid(ctx, err.msg);
    if (rc == OWL_OK) {
        BSON_APPEND_ARRAY_BEGIN(out, "SamplingRuleRecords", &list);
        for (size_t i = 0; i < n; i++) {
            char k[16];
            const char *key;
            bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
            record(&list, key, &rules[i], tenant_of(ctx));
        }
        bson_append_array_end(out, &list);
        if (next[0])
            BSON_APPEND_UTF8(out, "NextToken", next);
    }
    free(rules);
    bson_destroy(&in);
    return rc;
}

/* ---- GetSamplingTargets ---- */

/* SamplingStatisticsDocuments[i] (at it) into *st, its strings borrowed from the request. */
static int read_stat(owl_aws_ctx *ctx, const bson_iter_t *it, size_t i, owl_sampling_stat *st)
{
    static const struct {
        const char *member;
        int kind; /* 's' string, 'n' number, 'i' integer 0 to 2^31 - 1, 'o' optional 'i' */
        size_t off;
    } req[] = {
        {"RuleName", 's', offsetof(owl_sampling_stat, rule)},
        {"ClientID", 's', offsetof(owl_sampling_stat, client)},
        {"Timestamp", 'n', 0},
        {"RequestCount", 'i', offsetof(owl_sampling_stat, requests)},
        {"SampledCount", 'i', offsetof(owl_sampling_stat, sampled)},
        {"BorrowCount", 'o', offsetof(owl_sampling_stat, borrowed)},
    };
    static const char *const wants[] = {"a string is required",
                                        "a time in epoch seconds is required",
                                        "an integer of 0 or more is required"};
    bson_iter_t doc, f;
    memset(st, 0, sizeof *st);
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &doc))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "SamplingStatisticsDocuments[%zu] is not an object", i);
    for (size_t k = 0; k < OWL_ARRAY_LEN(req); k++) {
        int kind = req[k].kind;
        f = doc;
        int ok = bson_iter_find(&f, req[k].member) && !BSON_ITER_HOLDS_NULL(&f);
        if (!ok && kind == 'o')
            continue;
        if (ok && kind == 's')
            ok = BSON_ITER_HOLDS_UTF8(&f);
        else if (ok && kind == 'n')
            ok = BSON_ITER_HOLDS_NUMBER(&f);
        else if (ok)
            ok = (BSON_ITER_HOLDS_INT32(&f) || BSON_ITER_HOLDS_INT64(&f)) &&
                 bson_iter_as_int64(&f) >= 0 && bson_iter_as_int64(&f) <= INT32_MAX;
        if (!ok)
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                                "SamplingStatisticsDocuments[%zu].%s: %s", i, req[k].member,
                                wants[kind == 's' ? 0 : kind == 'n' ? 1 : 2]);
        if (kind == 's')
            *(const char **)((char *)st + req[k].off) = bson_iter_utf8(&f, NULL);
        else if (kind != 'n')
            *(int64_t *)((char *)st + req[k].off) = bson_iter_as_int64(&f);
    }
    if (strlen(st->client) != OWL_SAMPLING_CLIENT_LEN)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "SamplingStatisticsDocuments[%zu].ClientID: %d characters are "
                            "required", i, OWL_SAMPLING_CLIENT_LEN);
    size_t nl = chars(st->rule, (uint32_t)strlen(st->rule));
    if (nl < 1 || nl > 32)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidRequestException,
                            "SamplingStatisticsDocuments[%zu].RuleName: 1 to 32 characters are "
                            "required", i);
    return OWL_OK;
}

static void targets_answer(bson_t *out, const owl_sampling_stat *st,
                           const owl_sampling_target *tg, size_t n, int64_t last_mod_ms)
{
    bson_t list, unproc, d;
    size_t nt = 0, nu = 0;
    char k[16];
    const char *key;
    BSON_APPEND_ARRAY_BEGIN(out, "SamplingTargetDocuments", &list);
    for (size_t i = 0; i < n; i++) {
        if (!tg[i].found)
            continue;
        bson_uint32_to_string((uint32_t)nt++, &key, k, sizeof k);
        bson_append_document_begin(&list, key, -1, &d);
        BSON_APPEND_UTF8(&d, "RuleName", st[i].rule);
        BSON_APPEND_DOUBLE(&d, "FixedRate", tg[i].fixed_rate);
        BSON_APPEND_INT64(&d, "ReservoirQuota", tg[i].quota);
        BSON_APPEND_DATE_TIME(&d, "ReservoirQuotaTTL", tg[i].quota_ttl_s * 1000);
        BSON_APPEND_INT32(&d, "Interval", OWL_SAMPLING_INTERVAL_S);
        bson_append_document_end(&list, &d);
    }
    bson_append_array_end(out, &list);
    BSON_APPEND_DATE_TIME(out, "LastRuleModification", last_mod_ms);
    BSON_APPEND_ARRAY_BEGIN(out, "UnprocessedStatistics", &unproc);
    for (size_t i = 0; i < n; i++) {
        if (tg[i].found)
            continue;
        bson_uint32_to_string((uint32_t)nu++, &key, k, sizeof k);
        bson_append_document_begin(&unproc, key, -1, &d);
        BSON_APPEND_UTF8(&d, "RuleName", st[i].rule);
        BSON_APPEND_UTF8(&d, "ErrorCode", "400");
        BSON_APPEND_UTF8(&d, "Message", "no sampling rule of that name");
        bson_append_document_end(&unproc, &d);
    }
    bson_append_array_end(out, &unproc);
}

static int get_targets(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER;
    bson_iter_t arr, boost;
    owl_sampling_stat st[OWL_SAMPLING_STATS_MAX];
    owl_sampling_target tg[OWL_SAMPLING_STATS_MAX];
    size_t n = 0, nb;
    int64_t last_mod_ms = 0;
    owl_error err = {0};
    set_resource(ctx, NULL);
    int rc = body_of(ctx, &in);
    if (rc == OWL_OK &&
        (rc = list_of(ctx, &in, "SamplingStatisticsDocuments", OWL_SAMPLING_STATS_MAX, &arr,
                      &n)) == OWL_ENOTFOUND)
        rc = invalid(ctx, "SamplingStatisticsDocuments: a list is required");
    /* boost statistics are taken and not used: owl gives no boost */
    if (rc == OWL_OK && (rc = list_of(ctx, &in, "SamplingBoostStatisticsDocuments",
                                      OWL_SAMPLING_STATS_MAX, &boost, &nb)) == OWL_ENOTFOUND)
        rc = OWL_OK;
    for (size_t i = 0; rc == OWL_OK && bson_iter_next(&arr); i++)
        rc = read_stat(ctx, &arr, i, &st[i]);
    if (rc == OWL_OK && (rc = owl_sampling_targets(rules_of(ctx), tenant_of(ctx), st, n,
                                                   owl_now_ms(), tg, &last_mod_ms, &err)) != OWL_OK)
        rc = failed(ctx, rc, &err);
    if (rc == OWL_OK)
        targets_answer(out, st, tg, n, last_mod_ms);
    bson_destroy(&in);
    return rc;
}

/* ---- GetSamplingStatisticSummaries ---- */

static int get_summaries(owl_aws_ctx *ctx, const bson_t *unused, bson_t *out)
{
    (void)unused;
    bson_t in = BSON_INITIALIZER, list, d;
    owl_sampling_summary sum[OWL_SAMPLING_RULES_MAX];
    const char *token = NULL;
    size_t n = 0;
    set_resource(ctx, NULL);
    int rc = body_of(ctx, &in);
    if (rc == OWL_OK && (rc = opt_str(ctx, &in, "NextToken", &token)) == OWL_OK && token &&
        *token)
        rc = invalid(ctx, "NextToken: not one this service gave (every summary fits one page)");
    if (rc == OWL_OK) {
        owl_sampling_summaries(rules_of(ctx), tenant_of(ctx), sum, &n);
        BSON_APPEND_ARRAY_BEGIN(out, "SamplingStatisticSummaries", &list);
        for (size_t i = 0; i < n; i++) {
            char k[16];
            const char *key;
            bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
            bson_append_document_begin(&list, key, -1, &d);
            BSON_APPEND_UTF8(&d, "RuleName", sum[i].name);
            BSON_APPEND_DATE_TIME(&d, "Timestamp", sum[i].since_ms);
            BSON_APPEND_INT64(&d, "RequestCount", sum[i].requests);
            BSON_APPEND_INT64(&d, "BorrowCount", sum[i].borrowed);
            BSON_APPEND_INT64(&d, "SampledCount", sum[i].sampled);
            bson_append_document_end(&list, &d);
        }
        bson_append_array_end(out, &list);
    }
    bson_destroy(&in);
    return rc;
}

static const owl_aws_op sampling_ops[] = {
    {.name = "CreateSamplingRule", .action = "xray:CreateSamplingRule", .fn = create_rule,
     .method = "POST", .uri = "/CreateSamplingRule", .raw_body = 1},
    {.name = "UpdateSamplingRule", .action = "xray:UpdateSamplingRule", .fn = update_rule,
     .method = "POST", .uri = "/UpdateSamplingRule", .raw_body = 1},
    {.name = "DeleteSamplingRule", .action = "xray:DeleteSamplingRule", .fn = delete_rule,
     .method = "POST", .uri = "/DeleteSamplingRule", .raw_body = 1},
    {.name = "GetSamplingRules", .action = "xray:GetSamplingRules", .fn = get_rules,
     .method = "POST", .uri = "/GetSamplingRules", .raw_body = 1},
    {.name = "GetSamplingTargets", .action = "xray:GetSamplingTargets", .fn = get_targets,
     .method = "POST", .uri = "/SamplingTargets", .raw_body = 1},
    {.name = "GetSamplingStatisticSummaries", .action = "xray:GetSamplingStatisticSummaries",
     .fn = get_summaries, .method = "POST", .uri = "/SamplingStatisticSummaries",
     .raw_body = 1},
};

const owl_aws_service owl_sampling_service = {
    .name = "xray",
    .signing_name = "xray",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_REST_JSON),
    .ops = sampling_ops,
    .nops = OWL_ARRAY_LEN(sampling_ops),
};

static const owl_aws_service *const sampling_services[] = {&owl_sampling_service};

const owl_route_table owl_sampling_routes = {NULL, 0, sampling_services,
                                             OWL_ARRAY_LEN(sampling_services)};

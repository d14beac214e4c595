/* fuzz_sampling.c — X-Ray's six sampling actions (server/sampling_api.c over server/sampling.c)
 * on hostile bodies, as both ports serve them: the first byte picks the action (its value
 * mod 6: 0 CreateSamplingRule, 1 UpdateSamplingRule, 2 DeleteSamplingRule, 3 GetSamplingRules,
 * 4 GetSamplingTargets, 5 GetSamplingStatisticSummaries), the rest is the body; the rules
 * persist across inputs in a metadata store made once. Contract: every answer is JSON, 200 or
 * a 400 InvalidRequestException / RuleLimitExceededException with a message; the rules listed
 * are never more than 26, sorted by priority then name with Default last, each one passing
 * owl_sampling_rule_check; a target names a rule and gives at most its ReservoirSize, and the
 * targets and unprocessed entries are one per statistics document; every 256 inputs the rules
 * are reopened from the store and listed the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "server/sampling.h"
#include "server/server.h"

#define TENANT "123456789012"
#define REOPEN_EVERY 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static owl_meta *meta;
static owl_sampling *smp;
static owl_server srv;
static char dir[] = "/tmp/owl-fuzz-sampling-XXXXXX";

static void open_once(void)
{
    owl_error err = {0};
    if (!meta && (!mkdtemp(dir) ||
                  owl_meta_open(dir, &(owl_meta_options){.fsync = 0}, &meta, &err) != OWL_OK))
        abort();
    if (owl_sampling_open(meta, 1764900000000LL, &smp, &err) != OWL_OK)
        abort();
    srv.sampling = smp;
}

static size_t array_len(const bson_t *doc, const char *name)
{
    bson_iter_t it, arr;
    size_t n = 0;
    if (!bson_iter_init_find(&it, doc, name) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        abort();
    while (bson_iter_next(&arr))
        n++;
    return n;
}

/* The tenant's rules, checked for order and validity; *n of them into out. */
static void rules_now(owl_sampling_rule out[OWL_SAMPLING_RULES_MAX], size_t *n)
{
    char next[OWL_SAMPLING_TOKEN_MAX];
    owl_error err = {0};
    if (owl_sampling_list(smp, TENANT, NULL, OWL_SAMPLING_RULES_MAX, out, n, next, &err) !=
            OWL_OK ||
        next[0] || *n < 1 || strcmp(out[*n - 1].name, OWL_SAMPLING_DEFAULT))
        abort();
    for (size_t i = 0; i < *n; i++) {
        if (owl_sampling_rule_check(&out[i], &err) != OWL_OK)
            abort();
        if (i && (out[i - 1].priority > out[i].priority ||
                  (out[i - 1].priority == out[i].priority &&
                   strcmp(out[i - 1].name, out[i].name) >= 0)))
            abort();
    }
}

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

static void reopen_same(void)
{
    owl_sampling_rule before[OWL_SAMPLING_RULES_MAX], after[OWL_SAMPLING_RULES_MAX];
    size_t nb, na;
    rules_now(before, &nb);
    owl_sampling_close(smp);
    open_once();
    rules_now(after, &na);
    if (na != nb)
        abort();
    for (size_t i = 0; i < na; i++)
        if (!same(&before[i], &after[i]))
            abort();
}

/* Each target's quota within its rule's reservoir; one entry per statistics document. */
static void check_targets(const bson_t *in, const bson_t *out)
{
    owl_sampling_rule rules[OWL_SAMPLING_RULES_MAX];
    size_t n;
    bson_iter_t it, arr, f;
    rules_now(rules, &n);
    if (array_len(out, "SamplingTargetDocuments") + array_len(out, "UnprocessedStatistics") !=
        array_len(in, "SamplingStatisticsDocuments"))
        abort();
    bson_iter_init_find(&it, out, "SamplingTargetDocuments");
    bson_iter_recurse(&it, &arr);
    while (bson_iter_next(&arr)) {
        bson_iter_t doc = arr;
        const char *name = NULL;
        int64_t quota = -1;
        if (!bson_iter_recurse(&doc, &f))
            abort();
        while (bson_iter_next(&f)) {
            if (!strcmp(bson_iter_key(&f), "RuleName") && BSON_ITER_HOLDS_UTF8(&f))
                name = bson_iter_utf8(&f, NULL);
            if (!strcmp(bson_iter_key(&f), "ReservoirQuota"))
                quota = bson_iter_as_int64(&f);
        }
        size_t i = 0;
        while (name && i < n && strcmp(rules[i].name, name))
            i++;
        if (!name || i == n || quota < 0 || quota > rules[i].reservoir)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/CreateSamplingRule", "/UpdateSamplingRule",
                                        "/DeleteSamplingRule", "/GetSamplingRules",
                                        "/SamplingTargets", "/SamplingStatisticSummaries"};
    static const owl_aws_service *const svcs[] = {&owl_sampling_service};
    static unsigned long runs;
    if (!smp)
        open_once();
    if (size < 1)
        return 0;
    const char *path = paths[data[0] % 6];
    owl_aws_request rq = {.method = "POST", .path = path, .query = "",
                          .body = (const char *)data + 1, .body_len = size - 1,
                          .request_id = "fuzz"};
    owl_aws_match m;
    owl_aws_match_request(svcs, 1, &rq, &m);
    if (!m.op)
        abort();
    owl_principal p;
    owl_call call;
    memset(&p, 0, sizeof p);
    memset(&call, 0, sizeof call);
    strcpy(p.tenant, TENANT);
    call.srv = &srv, call.principal = &p;
    owl_buf h = OWL_BUF_INIT, b = OWL_BUF_INIT;
    owl_aws_reply reply = {.headers = &h, .body = &b};
    owl_aws_serve(&m, &rq, &call, &reply);
    bson_t out = BSON_INITIALIZER, in = BSON_INITIALIZER;
    owl_error err = {0};
    if (owl_aws_json_decode(b.data, b.len, &out, &err) != OWL_OK)
        abort(); /* the answer must be JSON */
    bson_iter_t it;
    if (reply.status == 400) {
        const char *type = bson_iter_init_find(&it, &out, "__type") && BSON_ITER_HOLDS_UTF8(&it)
                               ? bson_iter_utf8(&it, NULL)
                               : "";
        if ((strcmp(type, "InvalidRequestException") &&
             strcmp(type, "RuleLimitExceededException")) ||
            !bson_iter_init_find(&it, &out, "message") || !BSON_ITER_HOLDS_UTF8(&it))
            abort();
    } else if (reply.status != 200) {
        abort();
    } else if (data[0] % 6 == 4) {
        if (owl_aws_json_decode(rq.body, rq.body_len, &in, &err) != OWL_OK)
            abort(); /* it was answered */
        check_targets(&in, &out);
    }
    owl_sampling_rule rules[OWL_SAMPLING_RULES_MAX];
    size_t n;
    rules_now(rules, &n);
    if (++runs % REOPEN_EVERY == 0)
        reopen_same();
    bson_destroy(&in);
    bson_destroy(&out);
    owl_buf_free(&h);
    owl_buf_free(&b);
    return 0;
}

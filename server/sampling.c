/* sampling.c — the X-Ray daemon endpoint's sampling rules and reservoir shares (sampling.h).
 * Invariant: for each rule, the quotas of the shares not yet expired add up to at most the
 * rule's ReservoirSize; a share expires at its ReservoirQuotaTTL unless its client asks again
 * (renewed with the quota that is then free). One mutex guards the shares; the rules
 * themselves do not change once the list is made. */
#include "server/sampling.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_ID_LEN 24 /* botocore's ClientID: 24 characters (the SDKs: hex) */

const owl_sampling_rule owl_sampling_default_rule = {
    .name = "Default", .priority = 10000, .fixed_rate = 0.05, .reservoir = 1,
    .service_name = "*", .service_type = "*", .host = "*", .http_method = "*",
    .url_path = "*", .resource_arn = "*",
};

struct share {
    char client[CLIENT_ID_LEN + 1];
    int quota;       /* traces per second */
    int64_t until_s; /* its ReservoirQuotaTTL */
};

struct rule {
    owl_sampling_rule r; /* its strings point into text */
    char *text;
    struct share shares[OWL_SAMPLING_CLIENTS_MAX];
    size_t nshares;
};

struct owl_sampling {
    pthread_mutex_t mu; /* the shares */
    struct rule *rules;
    size_t n;
    char account[13];
    int64_t modified_s;
};

/* The match strings of a rule, with X-Ray's length limits (botocore's model). */
static const struct {
    const char *member;
    size_t off, max;
} match_fields[] = {
    {"ServiceName", offsetof(owl_sampling_rule, service_name), 64},
    {"ServiceType", offsetof(owl_sampling_rule, service_type), 64},
    {"Host", offsetof(owl_sampling_rule, host), 64},
    {"HTTPMethod", offsetof(owl_sampling_rule, http_method), 10},
    {"URLPath", offsetof(owl_sampling_rule, url_path), 128},
    {"ResourceARN", offsetof(owl_sampling_rule, resource_arn), 500},
};

#define FIELD(r, i) (*(const char **)((const char *)(r) + match_fields[i].off))
#define FIELD_SET(r, i) (*(const char **)((char *)(r) + match_fields[i].off))

static int rule_copy(const owl_sampling_rule *in, struct rule *out, owl_error *err)
{
    size_t nl = in->name ? strlen(in->name) : 0, total = nl + 1;
    if (nl < 1 || nl > 32)
        return owl_error_set(err, OWL_EINVAL, "sampling rule: RuleName must be 1 to 32 "
                                              "characters");
    if (in->priority < 1 || in->priority > 10000 || !(in->fixed_rate >= 0 &&
                                                        in->fixed_rate <= 1) || in->reservoir < 0)
        return owl_error_set(err, OWL_EINVAL, "sampling rule %s: Priority 1 to 10000, FixedRate "
                                              "0 to 1 and ReservoirSize 0 or more", in->name);
    for (size_t i = 0; i < OWL_ARRAY_LEN(match_fields); i++) {
        const char *v = FIELD(in, i);
        if (!v || strlen(v) > match_fields[i].max)
            return owl_error_set(err, OWL_EINVAL, "sampling rule %s: %s must be given, at most "
                                                  "%zu characters", in->name,
                                 match_fields[i].member, match_fields[i].max);
        total += strlen(v) + 1;
    }
    char *p = malloc(total);
    if (!p)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    out->text = p;
    out->r = *in;
    memcpy(p, in->name, nl + 1);
    out->r.name = p;
    p += nl + 1;
    for (size_t i = 0; i < OWL_ARRAY_LEN(match_fields); i++) {
        size_t n = strlen(FIELD(in, i)) + 1;
        memcpy(p, FIELD(in, i), n);
        FIELD_SET(&out->r, i) = p;
        p += n;
    }
    return OWL_OK;
}

int owl_sampling_new(const owl_sampling_rule *rules, size_t n, const char *account,
                     int64_t modified_s, owl_sampling **out, owl_error *err)
{
    *out = NULL;
    if (n < 1 || n > OWL_SAMPLING_RULES_MAX)
        return owl_error_set(err, OWL_EINVAL, "1 to %d sampling rules", OWL_SAMPLING_RULES_MAX);
    if (!account || strlen(account) != 12 || strspn(account, "0123456789") != 12)
        return owl_error_set(err, OWL_EINVAL, "sampling rules: the account must be 12 digits");
    owl_sampling *s = calloc(1, sizeof *s);
    if (!s || !(s->rules = calloc(n, sizeof *s->rules))) {
        free(s);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    memcpy(s->account, account, 13);
    s->modified_s = modified_s;
    int rc = OWL_OK;
    for (; s->n < n && rc == OWL_OK; s->n++) {
        for (size_t j = 0; j < s->n && rc == OWL_OK; j++)
            if (!strcmp(s->rules[j].r.name, rules[s->n].name ? rules[s->n].name : ""))
                rc = owl_error_set(err, OWL_EINVAL, "sampling rule %s: named twice",
                                   rules[s->n].name);
        if (rc == OWL_OK)
            rc = rule_copy(&rules[s->n], &s->rules[s->n], err);
    }
    if (rc != OWL_OK) {
        owl_sampling_free(s);
        return rc;
    }
    *out = s;
    return OWL_OK;
}

void owl_sampling_free(owl_sampling *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->rules[i].text);
    free(s->rules);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A rate as JSON, in the fewest digits that read back as the same double (0.05, not
 * 0.050000000000000003). */
static int put_rate(owl_buf *b, const char *member, double v)
{
    char t[32];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v)
            break;
    }
    return owl_buf_printf(b, ",\"%s\":%s", member, t);
}

/* "Member":"value" with a leading comma when sep */
static int member_str(owl_buf *b, int sep, const char *member, const char *v)
{
    int rc = owl_buf_printf(b, "%s\"%s\":", sep ? "," : "", member);
    return rc ? rc : owl_buf_json_str(b, v, strlen(v));
}

int owl_sampling_rules_json(owl_sampling *s, owl_buf *b)
{
    int rc = owl_buf_puts(b, "{\"SamplingRuleRecords\":[");
    for (size_t i = 0; i < s->n && rc == OWL_OK; i++) {
        const owl_sampling_rule *r = &s->rules[i].r;
        rc = owl_buf_puts(b, i ? ",{\"SamplingRule\":{" : "{\"SamplingRule\":{");
        rc = rc ? rc : member_str(b, 0, "RuleName", r->name);
        char arn[96];
        snprintf(arn, sizeof arn, "arn:aws:xray:us-east-1:%s:sampling-rule/%s", s->account,
                 r->name);
        rc = rc ? rc : member_str(b, 1, "RuleARN", arn);
        for (size_t k = 0; k < OWL_ARRAY_LEN(match_fields) && rc == OWL_OK; k++)
            rc = member_str(b, 1, match_fields[k].member, FIELD(r, k));
        rc = rc ? rc : owl_buf_printf(b, ",\"Priority\":%d", r->priority);
        rc = rc ? rc : put_rate(b, "FixedRate", r->fixed_rate);
        rc = rc ? rc : owl_buf_printf(b, ",\"ReservoirSize\":%d,\"Version\":1,\"Attributes\":{}},"
                                         "\"CreatedAt\":%" PRId64 ",\"ModifiedAt\":%" PRId64 "}",
                                      r->reservoir, s->modified_s, s->modified_s);
    }
    return rc ? rc : owl_buf_puts(b, "]}");
}

/* ---- SamplingTargets ---- */

/* The request's statistics documents are checked whole before any share moves, so that a
 * refused request changes nothing. */
static int check_entry(const bson_iter_t *it, size_t i, owl_error *err)
{
    static const struct {
        const char *member;
        int kind; /* 's' string, 'n' number, 'i' integer >= 0 */
    } req[] = {{"RuleName", 's'}, {"ClientID", 's'}, {"Timestamp", 'n'},
               {"RequestCount", 'i'}, {"SampledCount", 'i'}};
    bson_t doc;
    bson_iter_t f;
    uint32_t len;
    const uint8_t *data;
    if (!BSON_ITER_HOLDS_DOCUMENT(it))
        return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments[%zu] is not an "
                                              "object", i);
    bson_iter_document(it, &len, &data);
    if (!bson_init_static(&doc, data, len))
        return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments[%zu] is not an "
                                              "object", i);
    for (size_t k = 0; k < OWL_ARRAY_LEN(req); k++) {
        int ok = bson_iter_init_find(&f, &doc, req[k].member);
        if (ok && req[k].kind == 's')
            ok = BSON_ITER_HOLDS_UTF8(&f);
        else if (ok && req[k].kind == 'n')
            ok = BSON_ITER_HOLDS_NUMBER(&f);
        else if (ok)
            ok = (BSON_ITER_HOLDS_INT32(&f) || BSON_ITER_HOLDS_INT64(&f)) &&
                 bson_iter_as_int64(&f) >= 0;
        if (!ok)
            return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments[%zu].%s: %s", i,
                                 req[k].member,
                                 req[k].kind == 's'   ? "a string is required"
                                 : req[k].kind == 'n' ? "a time in epoch seconds is required"
                                                      : "an integer of 0 or more is required");
    }
    uint32_t n = 0;
    bson_iter_init_find(&f, &doc, "ClientID");
    bson_iter_utf8(&f, &n);
    if (n != CLIENT_ID_LEN)
        return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments[%zu].ClientID: %d "
                                              "characters are required", i, CLIENT_ID_LEN);
    bson_iter_init_find(&f, &doc, "RuleName");
    bson_iter_utf8(&f, &n);
    if (n < 1 || n > 32)
        return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments[%zu].RuleName: 1 to "
                                              "32 characters are required", i);
    return OWL_OK;
}

static struct rule *rule_named(owl_sampling *s, const char *name, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->rules[i].r.name) == n && !memcmp(s->rules[i].r.name, name, n))
            return &s->rules[i];
    return NULL;
}

/* The quota of client's share of rule r from now_s: its own share renewed, or a new one
 * from what the other clients' live shares leave. Called with s->mu held. */
static int take_share(struct rule *r, const char *client, int64_t now_s)
{
    int held = 0;
    struct share *mine = NULL;
    for (size_t i = 0; i < r->nshares;) {
        struct share *sh = &r->shares[i];
        if (sh->until_s <= now_s) {
            *sh = r->shares[--r->nshares];
            continue;
        }
        if (!strcmp(sh->client, client))
            mine = sh;
        else
            held += sh->quota;
        i++;
    }
    int quota = r->r.reservoir > held ? r->r.reservoir - held : 0;
    if (!mine && quota > 0 && r->nshares < OWL_SAMPLING_CLIENTS_MAX) {
        mine = &r->shares[r->nshares++];
        memcpy(mine->client, client, CLIENT_ID_LEN + 1);
    }
    if (!mine)
        return 0;
    mine->quota = quota;
    mine->until_s = now_s + OWL_SAMPLING_INTERVAL_S;
    return quota;
}

static int target_json(owl_sampling *s, const bson_iter_t *it, int64_t now_s, int first,
                       owl_buf *b, owl_buf *unproc)
{
    bson_t doc;
    bson_iter_t f;
    uint32_t len, nl, cl;
    const uint8_t *data;
    bson_iter_document(it, &len, &data);
    bson_init_static(&doc, data, len);
    bson_iter_init_find(&f, &doc, "RuleName");
    const char *name = bson_iter_utf8(&f, &nl);
    bson_iter_init_find(&f, &doc, "ClientID");
    const char *client = bson_iter_utf8(&f, &cl);
    struct rule *r = rule_named(s, name, nl);
    if (!r) {
        int rc = owl_buf_puts(unproc, unproc->len ? ",{\"RuleName\":" : "{\"RuleName\":");
        rc = rc ? rc : owl_buf_json_str(unproc, name, nl);
        return rc ? rc : owl_buf_puts(unproc, ",\"ErrorCode\":\"400\",\"Message\":\"no "
                                              "sampling rule of that name\"}");
    }
    pthread_mutex_lock(&s->mu);
    int quota = take_share(r, client, now_s);
    pthread_mutex_unlock(&s->mu);
    int rc = owl_buf_puts(b, first ? "{" : ",{");
    rc = rc ? rc : member_str(b, 0, "RuleName", r->r.name);
    rc = rc ? rc : put_rate(b, "FixedRate", r->r.fixed_rate);
    return rc ? rc : owl_buf_printf(b, ",\"ReservoirQuota\":%d,\"ReservoirQuotaTTL\":%" PRId64
                                       ",\"Interval\":%d}",
                                    quota, now_s + OWL_SAMPLING_INTERVAL_S,
                                    OWL_SAMPLING_INTERVAL_S);
}

int owl_sampling_targets_json(owl_sampling *s, const bson_t *req, int64_t now_s, owl_buf *b,
                              owl_error *err)
{
    bson_iter_t it, arr;
    if (!bson_iter_init_find(&it, req, "SamplingStatisticsDocuments") ||
        !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
        return owl_error_set(err, OWL_EINVAL, "SamplingStatisticsDocuments: a list is required");
    bson_iter_t check = arr;
    for (size_t i = 0; bson_iter_next(&check); i++) {
        int rc = check_entry(&check, i, err);
        if (rc != OWL_OK)
            return rc;
    }
    owl_buf unproc = OWL_BUF_INIT;
    int rc = owl_buf_puts(b, "{\"SamplingTargetDocuments\":[");
    size_t before = b->len;
    while (rc == OWL_OK && bson_iter_next(&arr))
        rc = target_json(s, &arr, now_s, b->len == before, b, &unproc);
    rc = rc ? rc : owl_buf_printf(b, "],\"LastRuleModification\":%" PRId64
                                     ",\"UnprocessedStatistics\":[", s->modified_s);
    if (rc == OWL_OK && unproc.len)
        rc = owl_buf_append(b, unproc.data, unproc.len);
    owl_buf_free(&unproc);
    rc = rc ? rc : owl_buf_puts(b, "]}");
    return rc ? owl_error_set(err, rc, "out of memory") : OWL_OK;
}

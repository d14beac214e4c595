/* sampling.h — the sampling rules the X-Ray daemon endpoint hands its SDKs and the reservoir
 * shares behind SamplingTargets, in X-Ray's REST-JSON shapes (botocore's xray model,
 * docs/api/xray-daemon.md). A rule's reservoir (traces per second) is shared by all the
 * clients asking: a client holds a share for a quota TTL and renews it by asking again, and
 * the shares of one rule never add up to more than its ReservoirSize. Private to server/. */
#ifndef OWL_SAMPLING_H
#define OWL_SAMPLING_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define OWL_SAMPLING_INTERVAL_S 10 /* SamplingTargets' Interval, and a share's TTL */
#define OWL_SAMPLING_RULES_MAX 64  /* rules of one list */
#define OWL_SAMPLING_CLIENTS_MAX 64 /* clients holding a share of one rule at once */

/* A sampling rule as GetSamplingRules describes it. The strings are copied by
 * owl_sampling_new. */
typedef struct owl_sampling_rule {
    const char *name;      /* RuleName: 1 to 32 characters */
    int priority;          /* 1 to 10000; lower first */
    double fixed_rate;     /* 0 to 1: the share sampled once the reservoir is used */
    int reservoir;         /* ReservoirSize: traces per second sampled first, over all clients */
    const char *service_name, *service_type, *host, *http_method, *url_path, *resource_arn;
} owl_sampling_rule;

/* X-Ray's own rule, applying to everything: 1 trace per second, then 5%. */
extern const owl_sampling_rule owl_sampling_default_rule;

typedef struct owl_sampling owl_sampling;

/* owl_sampling_new — a rule list holding copies of rules[0..n) (1 to OWL_SAMPLING_RULES_MAX)
 * of the account (12 digits, in the rules' ARNs), created and modified at modified_s (epoch
 * seconds). OWL_EINVAL naming the rule whose name, priority, rate, reservoir or match strings
 * (missing, or longer than X-Ray allows) are out of range, or a bad account; OWL_ENOMEM.
 * Free with owl_sampling_free. Thread-safe afterwards. */
int owl_sampling_new(const owl_sampling_rule *rules, size_t n, const char *account,
                     int64_t modified_s, owl_sampling **out, owl_error *err);

/* owl_sampling_free — accepts NULL. */
void owl_sampling_free(owl_sampling *s);

/* owl_sampling_rules_json — appends GetSamplingRules' answer:
 * {"SamplingRuleRecords":[{"SamplingRule":{...},"CreatedAt":S,"ModifiedAt":S}, ...]}.
 * OWL_OK or OWL_ENOMEM. */
int owl_sampling_rules_json(owl_sampling *s, owl_buf *out);

/* owl_sampling_targets_json — answers GetSamplingTargets' request req (the decoded body):
 * for each SamplingStatisticsDocuments entry naming a rule of the list, a target document
 * {RuleName, FixedRate, ReservoirQuota, ReservoirQuotaTTL, Interval} where ReservoirQuota is
 * the share of the rule's reservoir the entry's ClientID holds from now_s (epoch seconds)
 * to ReservoirQuotaTTL; entries naming another rule go to UnprocessedStatistics; then
 * LastRuleModification. OWL_EINVAL (err names the entry and member, nothing appended) when
 * SamplingStatisticsDocuments is missing or not an array, or an entry is not an object or
 * lacks RuleName, ClientID, Timestamp, RequestCount or SampledCount or has one of the wrong
 * type; OWL_ENOMEM. Thread-safe. */
int owl_sampling_targets_json(owl_sampling *s, const bson_t *req, int64_t now_s, owl_buf *out,
                              owl_error *err);

#endif

/* sampling.h — X-Ray sampling rules, each tenant's own and durable, how a request is matched
 * to one, and the reservoir shares behind GetSamplingTargets (docs/api/xray-sampling.md).
 * Every tenant has X-Ray's "Default" rule (never deleted; only its rate and reservoir change)
 * and at most OWL_SAMPLING_USER_RULES_MAX rules of its own. A rule is written to the metadata
 * store before a change is acknowledged, one record per rule:
 *
 *   kind "xray-sampling-rule", tenant, id = RuleName; document:
 *   MEMBER    TYPE      MEANING
 *   v         int32     format version: 1 (another refuses the open: OWL_ECORRUPT)
 *   rule      document  the SamplingRule in X-Ray's member names (owl_sampling_rule_write)
 *   created   date      CreatedAt
 *   modified  date      ModifiedAt
 *
 * (The store gives each record its magic, version and crc32c: index/meta.c.) Default has a
 * record only once it was updated. A rule's reservoir (traces per second) is shared by the
 * clients asking for targets: each one holds a quota until its ReservoirQuotaTTL and renews
 * it by asking again; the quotas in force of one rule never add up to more than its
 * ReservoirSize. Shares and statistics live in memory only. Private to server/. */
#ifndef OWL_SAMPLING_H
#define OWL_SAMPLING_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/index.h"
#include "server/router.h"

#define OWL_SAMPLING_INTERVAL_S 10      /* SamplingTargets' Interval, and a quota's TTL */
#define OWL_SAMPLING_USER_RULES_MAX 25  /* X-Ray's limit per account, Default not counted */
#define OWL_SAMPLING_RULES_MAX (OWL_SAMPLING_USER_RULES_MAX + 1)
#define OWL_SAMPLING_CLIENTS_MAX 64     /* clients holding a share of one rule at once */
#define OWL_SAMPLING_ATTRS_MAX 5        /* Attributes of one rule */
#define OWL_SAMPLING_STATS_MAX 25       /* SamplingStatisticsDocuments of one request */
#define OWL_SAMPLING_CLIENT_LEN 24      /* a ClientID */
#define OWL_SAMPLING_DEFAULT "Default"
#define OWL_SAMPLING_DEFAULT_PRIORITY 10000
#define OWL_SAMPLING_KIND "xray-sampling-rule"

/* A text of at most n characters (X-Ray's limits count characters): up to 4 bytes each. */
#define OWL_SAMPLING_TEXT(n) ((n) * 4 + 1)

typedef struct owl_sampling_attr {
    char key[OWL_SAMPLING_TEXT(32)];
    char value[OWL_SAMPLING_TEXT(32)];
} owl_sampling_attr;

/* A sampling rule, X-Ray's SamplingRule with its record's times. */
typedef struct owl_sampling_rule {
    char name[OWL_SAMPLING_TEXT(32)];    /* RuleName: 1 to 32 characters */
    int priority;                        /* 1 to 9999; Default's is 10000 */
    double fixed_rate;                   /* 0 to 1: the share sampled past the reservoir */
    int64_t reservoir;                   /* ReservoirSize: traces per second, all clients */
    int version;                         /* 1 */
    char service_name[OWL_SAMPLING_TEXT(64)];
    char service_type[OWL_SAMPLING_TEXT(64)];
    char host[OWL_SAMPLING_TEXT(64)];
    char http_method[OWL_SAMPLING_TEXT(10)];
    char url_path[OWL_SAMPLING_TEXT(128)];
    char resource_arn[OWL_SAMPLING_TEXT(500)];
    owl_sampling_attr attrs[OWL_SAMPLING_ATTRS_MAX]; /* keys distinct */
    size_t nattrs;
    int has_boost;                       /* SamplingRateBoost given: kept and returned */
    double boost_max_rate;               /* 0 to 1 */
    int64_t boost_cooldown_min;          /* 0 or more */
    int64_t created_ms, modified_ms;     /* CreatedAt, ModifiedAt (Default: 0 until updated) */
} owl_sampling_rule;

/* The members of a SamplingRule, as bits: which ones a document gave (owl_sampling_rule_read)
 * and which ones an update changes. */
enum {
    OWL_SAMPLING_F_NAME = 1u << 0,
    OWL_SAMPLING_F_PRIORITY = 1u << 1,
    OWL_SAMPLING_F_RATE = 1u << 2,
    OWL_SAMPLING_F_RESERVOIR = 1u << 3,
    OWL_SAMPLING_F_VERSION = 1u << 4,
    OWL_SAMPLING_F_SERVICE_NAME = 1u << 5,
    OWL_SAMPLING_F_SERVICE_TYPE = 1u << 6,
    OWL_SAMPLING_F_HOST = 1u << 7,
    OWL_SAMPLING_F_METHOD = 1u << 8,
    OWL_SAMPLING_F_PATH = 1u << 9,
    OWL_SAMPLING_F_RESOURCE = 1u << 10,
    OWL_SAMPLING_F_ATTRS = 1u << 11,
    OWL_SAMPLING_F_BOOST = 1u << 12,
    /* what CreateSamplingRule requires (botocore's model, and a name) */
    OWL_SAMPLING_F_REQUIRED = OWL_SAMPLING_F_NAME | OWL_SAMPLING_F_PRIORITY | OWL_SAMPLING_F_RATE |
                              OWL_SAMPLING_F_RESERVOIR | OWL_SAMPLING_F_VERSION |
                              OWL_SAMPLING_F_SERVICE_NAME | OWL_SAMPLING_F_SERVICE_TYPE |
                              OWL_SAMPLING_F_HOST | OWL_SAMPLING_F_METHOD | OWL_SAMPLING_F_PATH |
                              OWL_SAMPLING_F_RESOURCE,
    /* what an update may change in Default */
    OWL_SAMPLING_F_DEFAULT_MUTABLE = OWL_SAMPLING_F_RATE | OWL_SAMPLING_F_RESERVOIR,
};

/* owl_sampling_default_rule — fills *r with X-Ray's Default rule: everything matches, 1 trace
 * per second, then 5%; created and modified 0. */
void owl_sampling_default_rule(owl_sampling_rule *r);

/* owl_sampling_rule_check — OWL_OK when r is a rule X-Ray would keep: name 1 to 32
 * characters, priority 1 to 9999 (10000 and every match field "*" for Default), rate 0 to 1,
 * reservoir 0 to 2^31 - 1, version 1, match fields within their lengths (UTF-8), attribute
 * keys and values 1 to 32 characters with distinct keys, a boost's rate 0 to 1 and cooldown
 * 0 or more. OWL_EINVAL naming the member otherwise. */
int owl_sampling_rule_check(const owl_sampling_rule *r, owl_error *err);

/* owl_sampling_rule_read — reads the SamplingRule (or SamplingRuleUpdate) members of doc into
 * *r, setting in *given the bit of each member present (not null). Members it does not know
 * (RuleARN, Tags, ...) are left to the caller. OWL_EINVAL naming the member when one has the
 * wrong type (a string, an integer, a number, a map of strings, a {MaxRate,
 * CooldownWindowMinutes} document) or does not fit (a text longer than its limit, not UTF-8;
 * more than OWL_SAMPLING_ATTRS_MAX attributes). Ranges are owl_sampling_rule_check's. */
int owl_sampling_rule_read(const bson_t *doc, owl_sampling_rule *r, unsigned *given,
                           owl_error *err);

/* owl_sampling_rule_missing — OWL_OK when given holds every bit of required, else OWL_EINVAL
 * naming (as "prefix.Member is required") the first member missing. */
int owl_sampling_rule_missing(unsigned given, unsigned required, const char *prefix,
                              owl_error *err);

/* owl_sampling_rule_write — appends r's SamplingRule members to doc: RuleName, RuleARN (of
 * the account given, else none), ResourceARN, Priority, FixedRate, ReservoirSize, ServiceName,
 * ServiceType, Host, HTTPMethod, URLPath, Version, Attributes and SamplingRateBoost when set.
 * Cannot fail but for memory (bson aborts). */
void owl_sampling_rule_write(const owl_sampling_rule *r, const char *account, bson_t *doc);

/* owl_sampling_arn — "arn:aws:xray:us-east-1:ACCOUNT:sampling-rule/NAME" into out (n bytes;
 * truncated when short). */
void owl_sampling_arn(const char *account, const char *name, char *out, size_t n);

/* owl_sampling_arn_name — the rule name an ARN of the account's rules names (any region),
 * copied into name (OWL_SAMPLING_TEXT(32) bytes). OWL_EINVAL when arn is not one. */
int owl_sampling_arn_name(const char *arn, const char *account, char *name, owl_error *err);

/* ---- matching (as the X-Ray SDKs do) ---- */

/* owl_sampling_wildcard — 1 when text matches pattern, where '*' stands for any run of
 * characters (none included) and '?' for one character, letters compared without case (ASCII),
 * as the X-Ray SDKs compare; 0 otherwise. Both NUL-terminated UTF-8. */
int owl_sampling_wildcard(const char *pattern, const char *text);

/* What a request offers to the rules. A NULL field matches any pattern, as the SDKs take a
 * field the request does not have. */
typedef struct owl_sampling_request {
    const char *service_name, *service_type, *host, *http_method, *url_path, *resource_arn;
    const owl_sampling_attr *attrs; /* the request's attributes (keys compared exactly) */
    size_t nattrs;
} owl_sampling_request;

/* owl_sampling_rule_matches — 1 when every match field of r matches rq's (wildcards) and each
 * of r's attributes is among rq's with a matching value; 0 otherwise. */
int owl_sampling_rule_matches(const owl_sampling_rule *r, const owl_sampling_request *rq);

/* ---- the tenants' rules ---- */

typedef struct owl_sampling owl_sampling;

/* owl_sampling_open — the rules of every tenant, loaded from meta (which must outlive them);
 * now_ms counts as every tenant's last rule change (so SDKs refetch after a restart) and as
 * the start of the statistics. OWL_ECORRUPT naming the record when one is not a rule (unknown
 * version, a member of the wrong type, out of range); OWL_ENOMEM. Close with
 * owl_sampling_close. Thread-safe afterwards. */
int owl_sampling_open(owl_meta *meta, int64_t now_ms, owl_sampling **out, owl_error *err);

/* owl_sampling_close — accepts NULL. */
void owl_sampling_close(owl_sampling *s);

/* owl_sampling_create — adds rule r (checked: owl_sampling_rule_check; its times are set to
 * now_ms) to tenant's rules once durable; *out (may be NULL) gets the record as stored.
 * OWL_EINVAL (a bad rule), OWL_EEXISTS (the tenant has a rule of that name, Default
 * included), OWL_ELIMIT (it has OWL_SAMPLING_USER_RULES_MAX already), the store's OWL_EIO /
 * OWL_ENOSPC (nothing changed), OWL_ENOMEM. */
int owl_sampling_create(owl_sampling *s, const char *tenant, const owl_sampling_rule *r,
                        int64_t now_ms, owl_sampling_rule *out, owl_error *err);

/* owl_sampling_update — sets the members of rule `name` that `changed` (OWL_SAMPLING_F_*)
 * names to v's, modified at now_ms, once durable; *out (may be NULL) gets the new record.
 * Shares and statistics stay. OWL_ENOTFOUND, OWL_EINVAL (the result is not a rule, the name
 * is among changed, or Default given more than FixedRate and ReservoirSize), the store's. */
int owl_sampling_update(owl_sampling *s, const char *tenant, const char *name,
                        const owl_sampling_rule *v, unsigned changed, int64_t now_ms,
                        owl_sampling_rule *out, owl_error *err);

/* owl_sampling_delete — removes rule `name` once durable (at now_ms: the tenant's last rule
 * change); *out (may be NULL) gets it. OWL_ENOTFOUND, OWL_EINVAL (Default), the store's. */
int owl_sampling_delete(owl_sampling *s, const char *tenant, const char *name, int64_t now_ms,
                        owl_sampling_rule *out, owl_error *err);

#define OWL_SAMPLING_TOKEN_MAX (6 + 2 * OWL_SAMPLING_TEXT(32)) /* a NextToken with its NUL */

/* owl_sampling_list — the tenant's rules in priority order, then by name (Default last):
 * the first `limit` (>= 1) after the one `token` names (NULL or "" = from the start) into
 * out[0..*n); next gets the token of the following page, or "" when none follows.
 * OWL_EINVAL when token is not one this function gave (or limit is 0). */
int owl_sampling_list(owl_sampling *s, const char *tenant, const char *token, size_t limit,
                      owl_sampling_rule out[OWL_SAMPLING_RULES_MAX], size_t *n,
                      char next[OWL_SAMPLING_TOKEN_MAX], owl_error *err);

/* owl_sampling_match — the rule of the tenant a request falls under: the first matching one
 * in priority order, then by name; Default when no other matches. Copied into *out. */
void owl_sampling_match(owl_sampling *s, const char *tenant, const owl_sampling_request *rq,
                        owl_sampling_rule *out);

/* One SamplingStatisticsDocument (the strings borrowed). */
typedef struct owl_sampling_stat {
    const char *rule;                       /* RuleName */
    const char *client;                     /* ClientID: OWL_SAMPLING_CLIENT_LEN characters */
    int64_t requests, sampled, borrowed;    /* RequestCount, SampledCount, BorrowCount */
} owl_sampling_stat;

/* What a rule gives a client: its SamplingTargetDocument. */
typedef struct owl_sampling_target {
    int found;             /* 0: the tenant has no such rule (UnprocessedStatistics) */
    double fixed_rate;
    int64_t quota;         /* ReservoirQuota: traces per second until ... */
    int64_t quota_ttl_s;   /* ... ReservoirQuotaTTL (epoch seconds) */
} owl_sampling_target;

/* owl_sampling_targets — for each st[i] naming a rule of the tenant, adds its counts to the
 * rule's statistics and gives st[i].client its share of the reservoir from now_ms: the
 * reservoir split evenly among the clients holding or asking for a share in the last
 * interval (the remainder to the longest holders), never more than the other clients' quotas
 * in force leave; out[i] gets the target. *last_mod_ms gets the tenant's last rule change.
 * OWL_EINVAL when a client id is not OWL_SAMPLING_CLIENT_LEN bytes (nothing changed). */
int owl_sampling_targets(owl_sampling *s, const char *tenant, const owl_sampling_stat *st,
                         size_t n, int64_t now_ms, owl_sampling_target *out,
                         int64_t *last_mod_ms, owl_error *err);

/* A rule's statistics, summed over the documents clients reported since `since_ms`. */
typedef struct owl_sampling_summary {
    char name[OWL_SAMPLING_TEXT(32)];
    int64_t since_ms;                  /* owld's start, or the rule's creation */
    int64_t requests, sampled, borrowed;
} owl_sampling_summary;

/* owl_sampling_summaries — the tenant's rules' statistics, in owl_sampling_list's order,
 * into out[0..*n). */
void owl_sampling_summaries(owl_sampling *s, const char *tenant,
                            owl_sampling_summary out[OWL_SAMPLING_RULES_MAX], size_t *n);

/* ---- the X-Ray API's sampling actions (sampling_api.c) ---- */

/* The six actions as one REST-JSON service: owld's router serves it on the main port
 * (owl_sampling_routes), the X-Ray daemon endpoint on its TCP port (xraydaemon.c). A
 * handler's ctx->ud is an owl_call (router.h) whose principal names the tenant and whose
 * srv->sampling holds the rules. */
extern const owl_aws_service owl_sampling_service;
extern const owl_route_table owl_sampling_routes;

#endif

/* policy.h — key policies: a list of allowed action patterns such as "logs:*", "*:Get*", "*".
 * An action ("iam:CreateKey") is allowed when any pattern matches it; '*' matches any run of
 * characters (including none); matching ignores ASCII case, as IAM's does.
 *
 * One action is outside pattern matching: OWL_POLICY_CROSS_TENANT, the operator's grant to act
 * on tenants other than the key's own. No wildcard pattern ("*", "owl:*", "*:*", "owl:Cross*",
 * ...) matches it; only the literal entry does (ignoring case, as for any action). A key's
 * policy otherwise acts inside the key's own tenant (docs/api.md, "Keys, tenants and
 * policies"). */
#ifndef OWL_POLICY_H
#define OWL_POLICY_H

#include <stddef.h>

#include "common/common.h"

#define OWL_POLICY_MAX_PATTERNS 64
#define OWL_POLICY_MAX_PATTERN_LEN 128
#define OWL_POLICY_CROSS_TENANT "owl:CrossTenant"

/* owl_policy_match — 1 when pattern matches action (whole string), else 0. When action is
 * OWL_POLICY_CROSS_TENANT, 1 only when pattern is that literal (no wildcard matches it). */
int owl_policy_match(const char *pattern, const char *action);

/* owl_policy_allows — 1 when any of the n patterns matches action. */
int owl_policy_allows(const char *const *patterns, size_t n, const char *action);

/* owl_policy_covers — 1 when every action matched by `pattern` is also matched by one of the
 * n `granted` patterns (used so that a key can only create keys with no more rights than
 * its own). Sound but not complete: "a*" is not found covered by {"ab*", "a"} etc.
 * OWL_POLICY_CROSS_TENANT is covered only by the literal grant among `granted`, so only a key
 * that holds the grant can hand it out. */
int owl_policy_covers(const char *const *granted, size_t n, const char *pattern);

/* owl_policy_validate — checks one pattern: 1..128 bytes of [A-Za-z0-9:*_-], either "*" or
 * "service:action" with one ':' (service may be "*"). OWL_OK or OWL_EINVAL with a message. */
int owl_policy_validate(const char *pattern, owl_error *err);

#endif

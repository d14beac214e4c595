/* policy.c — glob matching of action patterns for key policies.
 * The matcher is the classic iterative '*' backtracker: linear in practice, no recursion,
 * so a hostile pattern cannot blow the stack. */
#include "server/policy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int owl_policy_match(const char *pattern, const char *action)
{
    /* the cross-tenant grant is never implied by a wildcard: an operator hands it out by name */
    if (strcasecmp(action, OWL_POLICY_CROSS_TENANT) == 0)
        return strcasecmp(pattern, OWL_POLICY_CROSS_TENANT) == 0;
    const char *p = pattern, *a = action;
    const char *star = NULL, *resume = NULL;
    while (*a) {
        if (*p == '*') {
            star = p++;
            resume = a;
        } else if (*p && tolower((unsigned char)*p) == tolower((unsigned char)*a)) {
            p++;
            a++;
        } else if (star) {
            p = star + 1;
            a = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int owl_policy_allows(const char *const *patterns, size_t n, const char *action)
{
    for (size_t i = 0; i < n; i++)
        if (owl_policy_match(patterns[i], action))
            return 1;
    return 0;
}

/* A granted pattern G covers P when G matches the text of P with P's '*' taken as a literal
 * character: G's literals can never consume a '*' of P, so each '*' of P falls inside a
 * wildcard of G, which can equally absorb whatever P's '*' stands for. A P that is the
 * cross-tenant grant is matched only by the literal grant (owl_policy_match), and a P with a
 * '*' never stands for the grant, so the grant is handed out only by a key holding it. */
int owl_policy_covers(const char *const *granted, size_t n, const char *pattern)
{
    return owl_policy_allows(granted, n, pattern);
}

int owl_policy_validate(const char *pattern, owl_error *err)
{
    size_t len = strlen(pattern);
    if (len == 0 || len > OWL_POLICY_MAX_PATTERN_LEN)
        return owl_error_set(err, OWL_EINVAL, "policy pattern must be 1 to %d characters",
                             OWL_POLICY_MAX_PATTERN_LEN);
    int colons = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pattern[i];
        if (c == ':')
            colons++;
        else if (!isalnum(c) && c != '*' && c != '_' && c != '-')
            return owl_error_set(err, OWL_EINVAL,
                                 "policy pattern '%s' has a character other than letters, digits, "
                                 "'*', ':', '_' and '-'", pattern);
    }
    if (strcmp(pattern, "*") == 0)
        return OWL_OK;
    if (colons != 1 || pattern[0] == ':' || pattern[len - 1] == ':')
        return owl_error_set(err, OWL_EINVAL,
                             "policy pattern '%s' must be '*' or 'service:action' (e.g. 'logs:*')",
                             pattern);
    return OWL_OK;
}

/* test_policy.c — action pattern matching, coverage and validation (server/policy.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "server/policy.h"

Test(policy, glob_matching)
{
    cr_assert(owl_policy_match("*", "iam:CreateKey"));
    cr_assert(owl_policy_match("logs:*", "logs:PutLogEvents"));
    cr_assert_not(owl_policy_match("logs:*", "xray:PutTraceSegments"));
    cr_assert(owl_policy_match("*:Get*", "iam:GetKey"));
    cr_assert(owl_policy_match("*:Get*", "sts:GetCallerIdentity"));
    cr_assert_not(owl_policy_match("*:Get*", "iam:CreateKey"));
    cr_assert(owl_policy_match("*:Describe*", "logs:DescribeLogGroups"));
    cr_assert(owl_policy_match("IAM:getkey", "iam:GetKey"));
    cr_assert(owl_policy_match("iam:*Key", "iam:DeleteKey"));
    cr_assert_not(owl_policy_match("iam:*Key", "iam:DeleteKeys"));
    cr_assert(owl_policy_match("a*b*c", "aXXbYYc"));
    cr_assert_not(owl_policy_match("a*b*c", "aXXbYY"));
    cr_assert(owl_policy_match("**", ""));
    cr_assert_not(owl_policy_match("", "a"));
    /* pathological pattern stays fast */
    cr_assert_not(owl_policy_match("*a*a*a*a*a*a*a*a*b",
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

Test(policy, allows_list)
{
    const char *ro[] = {"*:Get*", "*:List*", "*:Describe*"};
    cr_assert(owl_policy_allows(ro, 3, "iam:ListKeys"));
    cr_assert_not(owl_policy_allows(ro, 3, "iam:CreateKey"));
    cr_assert_not(owl_policy_allows(ro, 0, "iam:ListKeys"));
}

Test(policy, covers)
{
    const char *all[] = {"*"}, *logs[] = {"logs:*"}, *ro[] = {"*:Get*", "*:List*"};
    cr_assert(owl_policy_covers(all, 1, "logs:*"));
    cr_assert(owl_policy_covers(logs, 1, "logs:Get*"));
    cr_assert(owl_policy_covers(logs, 1, "logs:PutLogEvents"));
    cr_assert_not(owl_policy_covers(logs, 1, "*"));
    cr_assert_not(owl_policy_covers(logs, 1, "*:Get*"));
    cr_assert(owl_policy_covers(ro, 2, "iam:GetKey"));
    cr_assert(owl_policy_covers(ro, 2, "*:Get*"));
    cr_assert_not(owl_policy_covers(ro, 2, "iam:*"));
}

Test(policy, validate)
{
    owl_error e;
    cr_assert_eq(owl_policy_validate("*", &e), OWL_OK);
    cr_assert_eq(owl_policy_validate("logs:*", &e), OWL_OK);
    cr_assert_eq(owl_policy_validate("*:Get*", &e), OWL_OK);
    cr_assert_eq(owl_policy_validate("", &e), OWL_EINVAL);
    cr_assert_eq(owl_policy_validate("logs", &e), OWL_EINVAL);
    cr_assert_eq(owl_policy_validate("logs:a:b", &e), OWL_EINVAL);
    cr_assert_eq(owl_policy_validate(":x", &e), OWL_EINVAL);
    cr_assert_eq(owl_policy_validate("logs:Put Log", &e), OWL_EINVAL);
    cr_assert(strstr(e.msg, "character") != NULL);
}

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

/* The cross-tenant grant is outside pattern matching: no wildcard names it, whatever its
 * shape, and only the literal entry (in any case) grants it. */
Test(policy, cross_tenant_grant_only_literal)
{
    static const char *const wild[] = {"*", "**", "*:*", "owl:*", "*:CrossTenant", "owl:Cross*",
                                       "*Tenant", "o*l:C*t", "iam:*", "*:*Tenant*"};
    for (size_t i = 0; i < sizeof wild / sizeof *wild; i++) {
        cr_assert_not(owl_policy_match(wild[i], OWL_POLICY_CROSS_TENANT), "%s", wild[i]);
        cr_assert_not(owl_policy_allows(&wild[i], 1, OWL_POLICY_CROSS_TENANT), "%s", wild[i]);
    }
    cr_assert_not(owl_policy_allows(wild, sizeof wild / sizeof *wild, OWL_POLICY_CROSS_TENANT));
    cr_assert(owl_policy_match("owl:CrossTenant", OWL_POLICY_CROSS_TENANT));
    cr_assert(owl_policy_match("OWL:crosstenant", "owl:CrossTenant"));
    cr_assert(owl_policy_match("owl:CrossTenant", "OWL:CROSSTENANT"));
    cr_assert_not(owl_policy_match("owl:CrossTenantX", OWL_POLICY_CROSS_TENANT));
    cr_assert_not(owl_policy_match("owl:CrossTenant", "owl:CrossTenantX"));
    /* the literal grant is only that action: it gives nothing else */
    cr_assert_not(owl_policy_match("owl:CrossTenant", "owl:GetMetrics"));
    const char *both[] = {"logs:*", "owl:CrossTenant"};
    cr_assert(owl_policy_allows(both, 2, OWL_POLICY_CROSS_TENANT));
    cr_assert(owl_policy_allows(both, 2, "logs:PutLogEvents"));
    /* other owl: actions still match wildcards as before */
    cr_assert(owl_policy_match("*", "owl:GetMetrics"));
    cr_assert(owl_policy_match("owl:*", "owl:GetMetrics"));
    cr_assert_eq(owl_policy_validate(OWL_POLICY_CROSS_TENANT, &(owl_error){0}), OWL_OK);
}

/* Handing the grant out needs holding it literally: "*" or "owl:*" do not cover it. */
Test(policy, covers_grant_needs_grant)
{
    const char *all[] = {"*"}, *owl[] = {"owl:*", "iam:*"}, *starstar[] = {"*:*"};
    const char *admin[] = {"*", "owl:CrossTenant"}, *grant_only[] = {"owl:crosstenant"};
    cr_assert_not(owl_policy_covers(all, 1, OWL_POLICY_CROSS_TENANT));
    cr_assert_not(owl_policy_covers(all, 1, "OWL:CROSSTENANT"));
    cr_assert_not(owl_policy_covers(owl, 2, OWL_POLICY_CROSS_TENANT));
    cr_assert_not(owl_policy_covers(starstar, 1, OWL_POLICY_CROSS_TENANT));
    cr_assert(owl_policy_covers(admin, 2, OWL_POLICY_CROSS_TENANT));
    cr_assert(owl_policy_covers(grant_only, 1, OWL_POLICY_CROSS_TENANT));
    /* a wildcard pattern never stands for the grant, so "*" may still hand out "owl:*" */
    cr_assert(owl_policy_covers(all, 1, "owl:*"));
    cr_assert(owl_policy_covers(all, 1, "owl:Cross*"));
    cr_assert_not(owl_policy_covers(grant_only, 1, "owl:*"));
    cr_assert_not(owl_policy_covers(grant_only, 1, "*"));
}

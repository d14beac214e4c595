#!/bin/bash
# t_xray_sampling.sh — X-Ray sampling rules against a real owld (issue 15): the Debian AWS CLI
# v2 creates, lists, updates and deletes rules on the main port (SigV4) and gets X-Ray's
# refusals (a name taken, priority 10000, Default deleted); boto3 (xray_sampling.py api) does
# the same with every member, pages, the 26th rule, another tenant, a key without the action,
# the audit trail; the daemon port serves the same tenant's rules without credentials and its
# changes are audited; rules acknowledged before a kill -9 are all there after the restart,
# member for member; then the machine's aws-xray-sdk with centralized sampling pointed at the
# daemon address (xray_sampling.py sdk) fetches rules and targets and samples >= 2,000
# decisions at the rule's rate (the measured share is printed), and gets its reservoir quota,
# shared with a second client.
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3 has no boto3"
"$PYTHON" -c 'import aws_xray_sdk' 2>/dev/null || skip "python3 has no aws_xray_sdk"
AWS=/usr/bin/aws
XPORT=$(free_port)
XD=127.0.0.1:$XPORT
start_owld --xray-daemon "$XD" || bail "owld starts with --xray-daemon $XD"

# rules_of JSON — "name:priority:rate:reservoir" of each record of a GetSamplingRules answer
rules_of() {
    printf '%s' "$1" | "$PYTHON" -c '
import json, sys
print(" ".join("%s:%s:%s:%s" % (s["RuleName"], s["Priority"], s["FixedRate"], s["ReservoirSize"])
               for s in (r["SamplingRule"] for r in json.load(sys.stdin)["SamplingRuleRecords"])))' 2>&1
}
# a rule's JSON: NAME PRIORITY [SERVICE]
rule_json() {
    printf '{"RuleName":"%s","ResourceARN":"*","Priority":%s,"FixedRate":0.1,"ReservoirSize":2,"ServiceName":"%s","ServiceType":"*","Host":"*","HTTPMethod":"GET","URLPath":"/api/*","Version":1,"Attributes":{"tier":"gold"}}' \
        "$1" "$2" "${3:-cli-*}"
}

# ---- the AWS CLI v2 on the main port ----
if [ -x "$AWS" ]; then
    awsc sts get-caller-identity
    ACCOUNT=$(jget Account "$AWS_OUT")
    awsc xray create-sampling-rule --sampling-rule "$(rule_json cli-rule 50)"
    r=SamplingRuleRecord.SamplingRule
    check_eq "aws xray create-sampling-rule: the record, its ARN and attributes" \
        "0 cli-rule arn:aws:xray:us-east-1:$ACCOUNT:sampling-rule/cli-rule gold /api/*" \
        "$AWS_RC $(jget $r.RuleName "$AWS_OUT") $(jget $r.RuleARN "$AWS_OUT") $(jget $r.Attributes.tier "$AWS_OUT") $(jget $r.URLPath "$AWS_OUT")"
    awsc xray get-sampling-rules
    check_eq "aws xray get-sampling-rules: the rule, then Default" \
        "0 cli-rule:50:0.1:2 Default:10000:0.05:1" "$AWS_RC $(rules_of "$AWS_OUT")"
    awsc xray update-sampling-rule --sampling-rule-update '{"RuleName":"cli-rule","FixedRate":0.5}'
    check_eq "aws xray update-sampling-rule: the rate changed, the rest kept" \
        "0 0.5 50 2 cli-*" \
        "$AWS_RC $(jget $r.FixedRate "$AWS_OUT") $(jget $r.Priority "$AWS_OUT") $(jget $r.ReservoirSize "$AWS_OUT") $(jget $r.ServiceName "$AWS_OUT")"
    awsc xray create-sampling-rule --sampling-rule "$(rule_json cli-rule 7)"
    check_eq "a name taken: refused" 1 "$([ "$AWS_RC" -ne 0 ] && echo 1)"
    check_contains "... InvalidRequestException" "$AWS_ERR" "InvalidRequestException"
    awsc xray create-sampling-rule --sampling-rule "$(rule_json too-low 10000)"
    check_contains "priority 10000 (Default's): InvalidRequestException" "$AWS_ERR" \
        "InvalidRequestException"
    check_contains "... naming Priority" "$AWS_ERR" "Priority: 1 to 9999"
    awsc xray delete-sampling-rule --rule-name Default
    check_contains "aws xray delete-sampling-rule Default: refused" "$AWS_ERR" \
        "InvalidRequestException"
    check_contains "... it cannot be deleted" "$AWS_ERR" "cannot be deleted"
    awsc xray create-sampling-rule --sampling-rule "$(rule_json short-lived 60)"
    awsc xray delete-sampling-rule --rule-arn "arn:aws:xray:us-east-1:$ACCOUNT:sampling-rule/short-lived"
    check_eq "aws xray delete-sampling-rule --rule-arn: the record deleted" "0 short-lived" \
        "$AWS_RC $(jget $r.RuleName "$AWS_OUT")"
    awsc xray get-sampling-statistic-summaries
    check_eq "aws xray get-sampling-statistic-summaries" "0 cli-rule" \
        "$AWS_RC $(jget SamplingStatisticSummaries.0.RuleName "$AWS_OUT")"
else
    echo "# SKIP the AWS CLI part: $AWS is not installed (apt-get install awscli)"
fi

# ---- boto3 on the main port ----
create_key "$ADMIN" '["xray:*", "sts:GetCallerIdentity"]' 000000000088
OTHER=$NEW_KEY
create_key "$ADMIN" '["xray:GetSamplingRules"]'
READER=$NEW_KEY
[ -n "$OTHER" ] && [ -n "$READER" ] || bail "keys for another tenant and a reader"
run_py "xray_sampling.py api" "$IT_DIR/xray_sampling.py" api "$PORT" "$ADMIN_ID" "${ADMIN#*:}" \
    "${OTHER%%:*}" "${OTHER#*:}" "${READER%%:*}" "${READER#*:}" "$ADMIN"

# ---- the daemon port: no credentials, the daemon's tenant (the admin's), changes audited ----
http POST "http://$XD/CreateSamplingRule" \
    --data-binary "{\"SamplingRule\":$(rule_json daemon-rule 70 daemon-*)}"
check_eq "the daemon port: CreateSamplingRule without credentials" "200 daemon-rule" \
    "$STATUS $(jget SamplingRuleRecord.SamplingRule.RuleName)"
http POST "http://$XD/GetSamplingRules"
check_contains "the daemon port lists the main port's rules (the same tenant)" \
    "$(rules_of "$BODY")" "boto-a:5:0.6:3 boto-b:20:0.1:0"
http POST "http://$XD/DeleteSamplingRule" --data-binary '{"RuleName":"daemon-rule"}'
check_eq "the daemon port: DeleteSamplingRule" 200 "$STATUS"
http POST "http://$XD/DeleteSamplingRule" --data-binary '{"RuleName":"Default"}'
check_eq "... Default refused there too" "400 InvalidRequestException" "$STATUS $(jget __type)"
admin GET "/api/v1/audit?action=xray:DeleteSamplingRule"
check_eq "... the daemon port's deletions are in the audit trail, with no key" \
    "200 no-key" \
    "$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["events"] if e["resource"].endswith("/daemon-rule")]
print(ev[0]["status"], "no-key" if not ev[0]["key_id"] else ev[0]["key_id"])' 2>&1)"

# ---- durable: every rule acknowledged before a kill -9 is there after the restart ----
http POST "http://$XD/CreateSamplingRule" \
    --data-binary "{\"SamplingRule\":$(rule_json last-before-kill 80 k-*)}"
check_eq "a rule created just before the kill" 200 "$STATUS"
http POST "http://$XD/GetSamplingRules"
BEFORE=$BODY
stop_owld KILL
start_owld --xray-daemon "$XD" || bail "owld restarts after kill -9"
http POST "http://$XD/GetSamplingRules"
check_eq "after kill -9: the same rules, member for member, times included" "$BEFORE" "$BODY"
check_contains "... the last one too" "$(rules_of "$BODY")" "last-before-kill:80:0.1:2"
check_contains "... and Default's change" "$(rules_of "$BODY")" "Default:10000:0.2:2"
if [ -x "$AWS" ]; then
    awsc xray get-sampling-rules
    check_eq "aws xray get-sampling-rules after the restart: the same list" \
        "$(rules_of "$BEFORE")" "$(rules_of "$AWS_OUT")"
fi
stop_owld TERM
start_owld --xray-daemon "$XD" || bail "owld restarts after SIGTERM"
http POST "http://$XD/GetSamplingRules"
check_eq "after SIGTERM and a restart: the same rules" "$BEFORE" "$BODY"

# ---- the X-Ray SDK's centralized sampling through the daemon port ----
run_py "xray_sampling.py sdk" "$IT_DIR/xray_sampling.py" sdk "$PORT" "$ADMIN_ID" "${ADMIN#*:}" \
    "$XPORT"
finish

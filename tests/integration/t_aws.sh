#!/bin/bash
# t_aws.sh — real AWS clients against the action layer (ingest/): the Debian AWS CLI v2 and
# the machine's python3 boto3 both run sts get-caller-identity (the protocol each sends is
# shown from a capture), and the errors they parse: AccessDenied, InvalidClientTokenId, an
# unknown query action (CLI), unknown JSON 1.0 / 1.1 operations with their own content types
# and an RPC v2 CBOR error map (boto3, awsclients.py). The audit trail names each client.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
HAVE_CLI=0
[ -x "$AWS" ] && HAVE_CLI=1
HAVE_BOTO=0
"$PYTHON" -c 'import boto3' 2>/dev/null && HAVE_BOTO=1
[ $HAVE_CLI = 1 ] || [ $HAVE_BOTO = 1 ] || skip "neither $AWS nor python3 boto3 is installed"

start_owld || bail "owld starts"

admin GET /api/v1/keys
TENANT=$(jget keys.0.tenant)
create_key "$ADMIN" '["logs:*"]'
check_eq "a key without STS rights is created" 200 "$STATUS"
LIMITED=$NEW_KEY


if [ $HAVE_CLI = 1 ]; then
    echo "# $("$AWS" --version 2>&1)"
    awsc sts get-caller-identity --debug
    check_eq "aws sts get-caller-identity exits 0" 0 "$AWS_RC"
    check_eq "CLI: Account is the tenant" "$TENANT" "$(jget Account "$AWS_OUT")"
    check_eq "CLI: UserId is the key id" "$ADMIN_ID" "$(jget UserId "$AWS_OUT")"
    sent=$(grep -m 1 'Making request for OperationModel(name=GetCallerIdentity)' "$T/aws.err" |
        grep -o "'Content-Type': '[^']*'\|'body': {[^}]*}" | tr '\n' ' ')
    echo "# the CLI sent $sent"
    check_contains "the CLI speaks the query protocol to STS (form body)" "$sent" \
        "application/x-www-form-urlencoded"
    check_contains "... with Action=GetCallerIdentity" "$sent" "'Action': 'GetCallerIdentity'"
    awsc cloudwatch describe-insight-rules
    check "CLI: an action owld does not serve fails" test "$AWS_RC" -ne 0
    check_contains "... with an AWS-shaped error the CLI parses" "$AWS_ERR" "DescribeInsightRules operation"
else
    echo "# SKIP the CLI part: $AWS is not installed"
fi

if [ $HAVE_BOTO = 1 ]; then
    run_py "boto3" "$IT_DIR/awsclients.py" "$PORT" "$ADMIN_ID" "${ADMIN#*:}" "$TENANT" \
        "${LIMITED%%:*}" "${LIMITED#*:}"
else
    echo "# SKIP the boto3 part: python3 has no boto3"
fi

admin GET "/api/v1/audit?action=sts:GetCallerIdentity&limit=50"
check_eq "audit lookup is 200" 200 "$STATUS"
[ $HAVE_CLI = 1 ] && check_contains "audit names the CLI" "$BODY" "aws-cli/"
[ $HAVE_BOTO = 1 ] && check_contains "audit names boto3" "$BODY" "Boto3/"
[ $HAVE_BOTO = 1 ] && check_contains "audit has the denied call" "$BODY" '"error_code":"AccessDenied"'

stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
finish

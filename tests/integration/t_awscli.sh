#!/bin/bash
# t_awscli.sh — the real AWS CLI (Debian's awscli v2) against owld's STS query endpoint:
# SigV4 with the credentials file owld writes, Account = tenant and Arn naming the key, an
# altered secret fails with InvalidClientTokenId (issue 9: as) an unknown access key with
# InvalidClientTokenId.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed (apt-get install awscli)"

start_owld || bail "owld starts"


admin GET /api/v1/keys
TENANT=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
keys = json.load(sys.stdin)["keys"]
print([k["tenant"] for k in keys if k["key_id"] == sys.argv[1]][0])' "$ADMIN_ID")
check "admin tenant is known from GET /api/v1/keys" grep -qE '^[0-9]{12}$' <<<"$TENANT"

# ---- the admin credentials written by owld ----
aws_cli "$DATA/aws-credentials" sts get-caller-identity
check_eq "aws sts get-caller-identity exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# stderr: $AWS_ERR"
check_eq "Account is the tenant" "$TENANT" "$(jget Account "$AWS_OUT")"
check_contains "Arn names the key" "$(jget Arn "$AWS_OUT")" "$ADMIN_ID"
check_eq "UserId is the key id" "$ADMIN_ID" "$(jget UserId "$AWS_OUT")"

# ---- a key in another tenant (the first admin key holds owl:CrossTenant) ----
create_key "$ADMIN" '["sts:GetCallerIdentity"]' 123456789012
check_eq "admin creates an STS key in tenant 123456789012" 200 "$STATUS"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$NEW_ID" "${NEW_KEY#*:}" >"$T/other.creds"
aws_cli "$T/other.creds" sts get-caller-identity
check_eq "other tenant's key: exit 0" 0 "$AWS_RC"
check_eq "other tenant's key: Account" 123456789012 "$(jget Account "$AWS_OUT")"
check_contains "other tenant's key: Arn" "$(jget Arn "$AWS_OUT")" "$NEW_ID"

# ---- a key whose policy does not allow the action ----
create_key "$ADMIN" '["logs:*"]'
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$NEW_ID" "${NEW_KEY#*:}" >"$T/logs.creds"
aws_cli "$T/logs.creds" sts get-caller-identity
check "key without sts:GetCallerIdentity fails" test "$AWS_RC" -ne 0
check_contains "... with AccessDenied" "$AWS_ERR" AccessDenied

# ---- altered secret ----
sed -E 's/^(aws_secret_access_key = ).(.*)$/\1X\2/' "$DATA/aws-credentials" >"$T/bad.creds"
if [ "$(grep aws_secret_access_key "$T/bad.creds")" = "$(grep aws_secret_access_key "$DATA/aws-credentials")" ]; then
    sed -E -i 's/^(aws_secret_access_key = ).(.*)$/\1Y\2/' "$T/bad.creds"
fi
aws_cli "$T/bad.creds" sts get-caller-identity
check "altered secret: non-zero exit" test "$AWS_RC" -ne 0
# issue 9: a bad signature is answered like an unknown key (one code for any failed credential)
check_contains "altered secret: InvalidClientTokenId" "$AWS_ERR" InvalidClientTokenId

# ---- unknown access key ----
printf '[default]\naws_access_key_id = OWLUNKNOWNKEYAAAAAAA\naws_secret_access_key = %s\n' \
    "${ADMIN#*:}" >"$T/unknown.creds"
aws_cli "$T/unknown.creds" sts get-caller-identity
check "unknown access key: non-zero exit" test "$AWS_RC" -ne 0
check_contains "unknown access key: InvalidClientTokenId" "$AWS_ERR" InvalidClientTokenId

# ---- the audit trail saw the CLI ----
admin GET "/api/v1/audit?action=sts:GetCallerIdentity&limit=20"
check_eq "audit lookup is 200" 200 "$STATUS"
check_contains "audit has the CLI's user agent" "$BODY" "aws-cli/"
check_contains "audit has the signature failure" "$BODY" InvalidClientTokenId

stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
finish

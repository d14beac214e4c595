#!/bin/bash
# t_auth.sh — authentication and authorization end to end: public /healthz, 401 without or
# with bad credentials, admin bearer, policies that grant some actions and not others, a key
# may not grant more than it has, bad JSON, deleted keys stop working, request ids on every
# response, and the key files' 0600 mode.
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"

# ---- public and unauthenticated ----
http GET /healthz
check_eq "healthz is 200" 200 "$STATUS"
check_eq "healthz body" '{"status":"ok"}' "$BODY"
check "healthz has x-owl-request-id" test -n "$(hdr x-owl-request-id)"

http GET /api/v1/no-such-route
check_eq "unknown route without auth is 401" 401 "$STATUS"
check "401 body is JSON with error.code" test -n "$(jget error.code)"
check "401 body has error.message" test -n "$(jget error.message)"
check_eq "401 error code" MissingAuthenticationToken "$(jget error.code)"
check_contains "401 content type is JSON" "$(hdr content-type)" application/json

http GET /metrics
check_eq "/metrics without auth is 401" 401 "$STATUS"
http GET /api/v1/keys
check_eq "GET /api/v1/keys without auth is 401" 401 "$STATUS"

# ---- admin ----
check "admin.key is KEYID:SECRET" test -n "$ADMIN_ID" -a "$ADMIN_ID" != "$ADMIN"
admin GET /api/v1/keys
check_eq "admin GET /api/v1/keys is 200" 200 "$STATUS"
check_contains "admin key is listed" "$BODY" "\"$ADMIN_ID\""
TENANT=$(jget keys.0.tenant)
check "keys carry a 12-digit tenant" grep -qE '^[0-9]{12}$' <<<"$TENANT"
admin GET /metrics
check_eq "admin GET /metrics is 200" 200 "$STATUS"
check_contains "metrics count requests" "$BODY" owl_http_requests_total
check_contains "metrics are Prometheus text" "$(hdr content-type)" text/plain

# ---- bad credentials ----
as "$ADMIN_ID:wrongsecretwrongsecretwrongsecret1234" GET /api/v1/keys
check_eq "wrong secret is 401" 401 "$STATUS"
check_eq "wrong secret code" InvalidCredentials "$(jget error.code)"
MSG_BADSECRET=$(jget error.message)
as "OWLNOSUCHKEYAAAAAAAA:whatever" GET /api/v1/keys
check_eq "unknown key is 401" 401 "$STATUS"
# issue 9: one code and message for any failed credential (was UnrecognizedClient, which
# told a caller that the key id does not exist)
check_eq "unknown key code: the same as a wrong secret" InvalidCredentials "$(jget error.code)"
check_eq "unknown key message: the same as a wrong secret" "$MSG_BADSECRET" "$(jget error.message)"
as "no-colon-here" GET /api/v1/keys
check_eq "malformed bearer is 401" 401 "$STATUS"
http GET /api/v1/keys -H "Authorization: Basic dXNlcjpwYXNz"
check_eq "unsupported scheme is 401" 401 "$STATUS"

# ---- a read-only key ----
create_key "$ADMIN" '["*:Get*","*:List*","*:Describe*"]'
check_eq "admin creates a read-only key" 200 "$STATUS"
check "create returns key_id and secret" test -n "$NEW_ID" -a -n "$(jget secret)"
check_eq "new key is in the admin's tenant" "$TENANT" "$NEW_TENANT"
check_eq "create echoes the policy" '["*:Get*", "*:List*", "*:Describe*"]' "$(jget policy)"
RO=$NEW_KEY
RO_ID=$NEW_ID
as "$RO" GET /api/v1/keys
check_eq "read-only key may list keys" 200 "$STATUS"
as "$RO" GET "/api/v1/keys/$RO_ID"
check_eq "read-only key may get a key" 200 "$STATUS"
check_eq "get shows the key's own id" "$RO_ID" "$(jget key_id)"
check_not_contains "get does not reveal the secret" "$BODY" "${RO#*:}"
create_key "$RO" '["iam:GetKey"]'
check_eq "read-only key may not create keys" 403 "$STATUS"
check_eq "403 code is AccessDenied" AccessDenied "$(jget error.code)"
as "$RO" GET /metrics
check_eq "read-only key may read metrics (owl:GetMetrics matches *:Get*)" 200 "$STATUS"
as "$RO" GET /api/v1/audit
check_eq "read-only key may not read the audit trail (audit:LookupEvents)" 403 "$STATUS"
as "$RO" DELETE "/api/v1/keys/$ADMIN_ID"
check_eq "read-only key may not delete keys" 403 "$STATUS"

# ---- no escalation ----
create_key "$ADMIN" '["logs:*","iam:CreateKey"]'
check_eq "admin creates a logs key that may create keys" 200 "$STATUS"
LOGS=$NEW_KEY
create_key "$LOGS" '["*"]'
check_eq "logs key cannot grant *" 403 "$STATUS"
check_eq "escalation code" AccessDenied "$(jget error.code)"
create_key "$LOGS" '["iam:*"]'
check_eq "logs key cannot grant iam:*" 403 "$STATUS"
create_key "$LOGS" '["logs:Get*"]'
check_eq "logs key may grant a subset (logs:Get*)" 200 "$STATUS"
create_key "$LOGS" '["logs:*"]' 999999999999
check_eq "logs key cannot create keys in another tenant" 403 "$STATUS"

# ---- bad bodies ----
admin POST /api/v1/keys -H 'Content-Type: application/json' --data-binary '{"policy":['
check_eq "truncated JSON is 400" 400 "$STATUS"
check_eq "bad JSON code" InvalidParameter "$(jget error.code)"
admin POST /api/v1/keys -H 'Content-Type: application/json' --data-binary 'not json at all'
check_eq "non-JSON body is 400" 400 "$STATUS"
admin POST /api/v1/keys -H 'Content-Type: application/json' --data-binary '{}'
check_eq "missing policy is 400" 400 "$STATUS"
admin POST /api/v1/keys -H 'Content-Type: application/json' --data-binary '{"policy":["no spaces allowed"]}'
check_eq "invalid policy pattern is 400" 400 "$STATUS"
admin POST /api/v1/keys -H 'Content-Type: application/json' --data-binary '{"policy":["*"],"tenant":"12"}'
check_eq "bad tenant is 400" 400 "$STATUS"
admin POST /api/v1/keys
check_eq "empty body is 400" 400 "$STATUS"

# ---- routes and methods ----
admin GET /api/v1/no-such-route
check_eq "unknown route with auth is 404" 404 "$STATUS"
check_eq "404 code" NotFound "$(jget error.code)"
admin PUT /api/v1/keys
check_eq "wrong method is 405" 405 "$STATUS"
admin GET /api/v1/keys/OWLNOSUCHKEYAAAAAAAA
check_eq "unknown key id is 404" 404 "$STATUS"
admin GET "/api/v1/keys?limit=0"
check_eq "limit=0 is 400" 400 "$STATUS"
admin GET "/api/v1/keys?limit=1"
check_eq "limit=1 lists one key" 1 "$(jget len:keys)"
check "limit=1 gives a next_token" test -n "$(jget next_token)"

# ---- delete ----
admin DELETE "/api/v1/keys/$RO_ID"
check_eq "admin deletes the read-only key" 200 "$STATUS"
check_eq "delete says deleted" True "$(jget deleted)"
as "$RO" GET /api/v1/keys
check_eq "deleted key gets 401" 401 "$STATUS"
admin GET "/api/v1/keys/$RO_ID"
check_eq "deleted key is gone (404)" 404 "$STATUS"
admin DELETE "/api/v1/keys/$RO_ID"
check_eq "deleting it again is 404" 404 "$STATUS"

# ---- request ids on every response ----
ids_ok=1
seen=
for req in "GET /healthz" "GET /metrics" "GET /api/v1/keys" "GET /nope" "POST /api/v1/keys"; do
    m=${req% *} p=${req#* } extra=()
    [ "$m" = POST ] && extra=(-d '{')
    for who in none admin; do
        if [ $who = admin ]; then admin "$m" "$p" "${extra[@]}"; else http "$m" "$p" "${extra[@]}"; fi
        id=$(hdr x-owl-request-id)
        if ! grep -qE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' <<<"$id"; then
            ids_ok=0
            echo "# $who $req ($STATUS): x-owl-request-id '$id' is not a UUID v4"
        fi
        case " $seen " in *" $id "*) ids_ok=0; echo "# request id $id repeated" ;; esac
        seen="$seen $id"
    done
done
check_eq "every response has a unique UUID x-owl-request-id" 1 "$ids_ok"
http GET "/?Action=GetCallerIdentity&Version=2011-06-15"
check_eq "AWS query route without auth is 403 (AWS shape)" 403 "$STATUS"
check "AWS routes also send x-amzn-RequestId" test -n "$(hdr x-amzn-requestid)"
check_eq "x-amzn-RequestId equals x-owl-request-id" "$(hdr x-owl-request-id)" "$(hdr x-amzn-requestid)"
check_contains "AWS query errors are XML" "$BODY" "<Code>MissingAuthenticationToken</Code>"

# ---- self-metrics count requests by action and status ----
# metric NAME_AND_LABELS — its value in the last /metrics body (empty when absent).
metric() { printf '%s\n' "$BODY" | awk -v m="$1" 'index($0, m " ") == 1 { print $2 }'; }
admin GET /metrics
check "metrics count admin's 200 ListKeys" test -n "$(metric 'owl_http_requests_total{action="iam:ListKeys",status="200"}')"
check "metrics count the 401 ListKeys" test -n "$(metric 'owl_http_requests_total{action="iam:ListKeys",status="401"}')"
check "metrics count the 403 CreateKey" test -n "$(metric 'owl_http_requests_total{action="iam:CreateKey",status="403"}')"
check "metrics count /healthz" test -n "$(metric 'owl_http_requests_total{action="owl:Healthz",status="200"}')"
before=$(metric 'owl_http_requests_total{action="iam:ListKeys",status="200"}')
admin GET /api/v1/keys
# the count is taken after the response is queued: allow it a moment to land
for _ in 1 2 3 4 5 6 7 8 9 10; do
    admin GET /metrics
    after=$(metric 'owl_http_requests_total{action="iam:ListKeys",status="200"}')
    [ "$after" = $((before + 1)) ] && break
    sleep 0.1
done
check_eq "one more ListKeys adds exactly 1 to its counter" $((before + 1)) "$after"
check "metrics have a duration histogram" test -n "$(metric 'owl_http_request_duration_seconds_count{action="iam:ListKeys"}')"

# ---- files ----
for f in admin.key aws-credentials master.key; do
    check_eq "$f has mode 0600" 600 "$(stat -c %a "$DATA/$f" 2>/dev/null)"
done
check_eq "data dir has mode 0700" 700 "$(stat -c %a "$DATA")"
check "aws-credentials names the admin key" grep -q "aws_access_key_id = $ADMIN_ID" "$DATA/aws-credentials"

# ---- the admin key survives a restart unchanged ----
stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
OLD_ADMIN=$ADMIN
start_owld || bail "owld restarts"
check_eq "admin key unchanged after restart" "$OLD_ADMIN" "$ADMIN"
admin GET /api/v1/keys
check_eq "admin key works after restart" 200 "$STATUS"
as "$LOGS" POST /api/v1/keys -d '{"policy":["logs:GetLogEvents"]}'
check_eq "a created key works after restart" 200 "$STATUS"
stop_owld
check_eq "owld exits 0 on SIGTERM again" 0 "$OWLD_RC"

finish

#!/bin/bash
# t_tenancy.sh — tenants are sealed off from each other (issue 9, item 3). Keys of tenant B
# with the policies "*", "iam:*" and a narrow read-only one, and a "*" key of the admin's
# own tenant, try every route that can name another tenant or another tenant's key against
# tenant A: each is refused with the documented status (403 for a tenant= naming another
# tenant, 404 for another tenant's key by id), and no response carries anything of A (its
# tenant id, an A key id B never named, A's policy text, A's secrets). The first admin key,
# which holds the literal grant owl:CrossTenant, can do all of it, and only a holder of the
# grant can hand it out. The matrix of statuses is printed as a table.
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"

TA=100000000001 # tenant A, the victim
TB=200000000002 # tenant B, the prober
CANARY="xray:LeakCanary"

admin GET /api/v1/keys
T0=$(jget keys.0.tenant)
check "the admin key's tenant is 12 digits" grep -qE '^[0-9]{12}$' <<<"$T0"
admin GET "/api/v1/keys/$ADMIN_ID"
check_contains "the first admin key holds the literal grant" "$BODY" '"owl:CrossTenant"'

# ---- tenant A: keys and some activity, made by the admin (who holds the grant) ----
create_key "$ADMIN" "[\"*\",\"$CANARY\"]" $TA
check_eq "admin creates a * key in tenant A" 200 "$STATUS"
check_eq "... in tenant A" $TA "$NEW_TENANT"
A_STAR=$NEW_KEY A_STAR_ID=$NEW_ID
create_key "$ADMIN" "[\"logs:*\",\"$CANARY\"]" $TA
A_HID=$NEW_KEY A_HID_ID=$NEW_ID # never named by any B request
create_key "$ADMIN" '["logs:*"]' $TA
A_DEL_ID=$NEW_ID # deleted by the admin at the end
check "tenant A has three keys" test -n "$A_STAR_ID" -a -n "$A_HID_ID" -a -n "$A_DEL_ID"
as "$A_STAR" GET /api/v1/keys
check_eq "A's * key lists its tenant" 200 "$STATUS"
as "$A_HID" GET /api/v1/keys # 403: leaves an A event of another action too
http GET /api/v1/keys -H "Authorization: Bearer OWLNOSUCHKEYAAAAAAAA:x" # an untenanted event

# ---- the probing keys ----
NARROW='["audit:LookupEvents","audit:TailEvents","iam:ListKeys","iam:GetKey","owl:GetMetrics","sts:GetCallerIdentity"]'
create_key "$ADMIN" '["*"]' $TB
B_STAR=$NEW_KEY
create_key "$ADMIN" '["iam:*"]' $TB
B_IAM=$NEW_KEY
create_key "$ADMIN" "$NARROW" $TB
B_NARROW=$NEW_KEY
create_key "$ADMIN" '["*"]'
Z_STAR=$NEW_KEY # a second "*" key in the admin's own tenant: not the first admin
check "the probing keys exist" test -n "$B_STAR" -a -n "$B_IAM" -a -n "$B_NARROW" -a -n "$Z_STAR"
check_eq "the admin-tenant * key is in the admin's tenant" "$T0" "$NEW_TENANT"

# leaked BODY — 0 when BODY carries something of tenant A that the caller never named.
leaked() {
    case "$BODY" in
    *"$TA"* | *"$A_HID_ID"* | *"$CANARY"* | *"${A_STAR#*:}"* | *"${A_HID#*:}"*) return 0 ;;
    esac
    return 1
}

# own_trail_only TENANT — every event in BODY (an audit page) is TENANT's.
own_trail_only() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
evs = json.load(sys.stdin)["events"]
sys.exit(0 if evs and all(e["tenant"] == sys.argv[1] for e in evs) else 1)' "$1"
}

# probe N KEY — runs probe number N as KEY; sets STATUS/BODY and EXTRA (a second check that
# must hold, "" when none: 1 holds, 0 fails).
PROBES=(
    "GET /api/v1/keys?tenant=A"
    "POST /api/v1/keys {tenant: A}"
    "POST /api/v1/keys?tenant=A (query)"
    "GET /api/v1/keys/{A key}"
    "DELETE /api/v1/keys/{A key}"
    "GET /api/v1/audit?tenant=A"
    "GET /api/v1/audit?key_id={A key}"
    "GET /api/v1/audit (own trail)"
    "GET /api/v1/audit/tail?tenant=A"
    "GET /metrics"
    "STS GetCallerIdentity"
    "POST keys {policy: owl:CrossTenant}"
    "GET /api/v1/audit?tenant=none"
)
probe() {
    local n=$1 key=$2
    EXTRA=
    case $n in
    0) as "$key" GET "/api/v1/keys?tenant=$TA" ;;
    1) as "$key" POST /api/v1/keys -H 'Content-Type: application/json' \
        --data-binary "{\"policy\":[\"logs:*\"],\"tenant\":\"$TA\"}" ;;
    2) as "$key" POST "/api/v1/keys?tenant=$TA" -H 'Content-Type: application/json' \
        --data-binary '{"policy":["iam:GetKey"]}'
       # accepted only as a key of the caller's own tenant (the query is not a tenant)
       if [ "$STATUS" = 200 ]; then
           [ "$(jget tenant)" != $TA ] && EXTRA=1 || EXTRA=0
       fi ;;
    3) as "$key" GET "/api/v1/keys/$A_STAR_ID" ;;
    4) as "$key" DELETE "/api/v1/keys/$A_STAR_ID" ;;
    5) as "$key" GET "/api/v1/audit?tenant=$TA" ;;
    6) as "$key" GET "/api/v1/audit?key_id=$A_STAR_ID"
       [ "$STATUS" = 200 ] && { [ "$(jget len:events)" = 0 ] && EXTRA=1 || EXTRA=0; } ;;
    7) as "$key" GET "/api/v1/audit?limit=1000"
       [ "$STATUS" = 200 ] && { own_trail_only "$CALLER_TENANT" && EXTRA=1 || EXTRA=0; } ;;
    8) as "$key" GET "/api/v1/audit/tail?tenant=$TA" --max-time 2 ;;
    9) as "$key" GET /metrics ;;
    10) as "$key" GET "/?Action=GetCallerIdentity&Version=2011-06-15"
        [ "$STATUS" = 200 ] && { case "$BODY" in *"<Account>$CALLER_TENANT</Account>"*) EXTRA=1 ;; *) EXTRA=0 ;; esac; } ;;
    11) as "$key" POST /api/v1/keys -H 'Content-Type: application/json' \
        --data-binary '{"policy":["owl:CrossTenant"]}' ;;
    12) as "$key" GET "/api/v1/audit?tenant=none" ;;
    esac
}

# The expected statuses, one word per probe, for each column.
COLS=("B *" "B iam:*" "B narrow" "admin-tenant *")
COL_KEYS=("$B_STAR" "$B_IAM" "$B_NARROW" "$Z_STAR")
COL_TENANTS=($TB $TB $TB "$T0")
EXPECT=(
    "403 403 200 404 404 403 200 200 403 403 200 403 400"
    "403 403 200 404 404 403 403 403 403 403 403 403 403"
    "403 403 403 404 403 403 200 200 403 403 200 403 400"
    "403 403 200 404 404 403 200 200 403 200 200 403 400"
)
declare -A GOT
for c in "${!COLS[@]}"; do
    read -ra exp <<<"${EXPECT[$c]}"
    CALLER_TENANT=${COL_TENANTS[$c]}
    for n in "${!PROBES[@]}"; do
        probe "$n" "${COL_KEYS[$c]}"
        cell=$STATUS
        # The admin tenant's own trail records what its first admin did in tenant A (that is
        # the operator's audit of itself), so there only "every event is the caller's
        # tenant's" is checked, not the absence of A's names.
        exempt=0
        [ "$c" = 3 ] && [ "$n" = 7 ] && exempt=1
        if [ "$STATUS" = "${exp[$n]}" ] && [ "$EXTRA" != 0 ] && { [ $exempt = 1 ] || ! leaked; }; then
            ok "${COLS[$c]}: ${PROBES[$n]} -> $STATUS, nothing of A"
        else
            cell="$STATUS!"
            not_ok "${COLS[$c]}: ${PROBES[$n]}" "expected ${exp[$n]}, got $STATUS (extra check: ${EXTRA:-none})" \
                "body: ${BODY:0:400}"
        fi
        GOT[$c,$n]=$cell
    done
done

# ---- the admin (first admin key, holds owl:CrossTenant) can do all of it ----
admin GET "/api/v1/keys?tenant=$TA"
check_eq "admin lists tenant A's keys" 200 "$STATUS"
check_contains "... and sees A's keys" "$BODY" "$A_HID_ID"
ADMIN_COL=("$STATUS")
admin POST /api/v1/keys -H 'Content-Type: application/json' \
    --data-binary "{\"policy\":[\"logs:*\"],\"tenant\":\"$TA\"}"
check_eq "admin creates a key in tenant A" "200 $TA" "$STATUS $(jget tenant)"
ADMIN_COL+=("$STATUS" "-")
admin GET "/api/v1/keys/$A_STAR_ID"
check_eq "admin reads A's key by id" "200 $TA" "$STATUS $(jget tenant)"
ADMIN_COL+=("$STATUS")
admin DELETE "/api/v1/keys/$A_DEL_ID"
check_eq "admin deletes A's key by id" 200 "$STATUS"
ADMIN_COL+=("$STATUS")
admin GET "/api/v1/audit?tenant=$TA&limit=1000"
check_eq "admin reads A's audit trail" 200 "$STATUS"
check_contains "... with A's events" "$BODY" "$A_STAR_ID"
check_contains "... and the untenanted events (failed auth with an unknown key)" "$BODY" OWLNOSUCHKEYAAAAAAAA
ADMIN_COL+=("$STATUS")
admin GET "/api/v1/audit?key_id=OWLNOSUCHKEYAAAAAAAA"
check_eq "the untenanted event appears once (not twice)" "200 1" "$STATUS $(jget len:events)"
ADMIN_COL+=("$STATUS" "-")
admin GET "/api/v1/audit/tail?tenant=$TA" --max-time 2
check_eq "admin tails A's trail" 200 "$STATUS"
ADMIN_COL+=("$STATUS")
admin GET /metrics
check_eq "admin reads /metrics" 200 "$STATUS"
ADMIN_COL+=("$STATUS")
admin GET "/?Action=GetCallerIdentity&Version=2011-06-15"
check_contains "admin's caller identity is its own tenant" "$BODY" "<Account>$T0</Account>"
ADMIN_COL+=("$STATUS")
create_key "$ADMIN" '["iam:ListKeys","owl:CrossTenant"]' $TB
check_eq "admin hands the grant to a key of tenant B" 200 "$STATUS"
ADMIN_COL+=("$STATUS")
B_GRANTED=$NEW_KEY
admin GET "/api/v1/audit?tenant=none"
check_eq "tenant=none is 400 even for the admin" 400 "$STATUS"
ADMIN_COL+=("$STATUS")

# ---- the grant, handed out ----
as "$B_GRANTED" GET "/api/v1/keys?tenant=$TA"
check_eq "a B key given the grant lists A's keys" 200 "$STATUS"
check_contains "... and sees them" "$BODY" "$A_HID_ID"
create_key "$B_STAR" '["OWL:CROSSTENANT"]'
check_eq "B * cannot hand out the grant in another spelling" 403 "$STATUS"
create_key "$B_STAR" '["owl:*","*:*"]'
check_eq "B * may create owl:* / *:* keys (they do not hold the grant)" 200 "$STATUS"
B_OWL=$NEW_KEY
as "$B_OWL" GET "/api/v1/keys?tenant=$TA"
check_eq "... which cannot reach tenant A" 403 "$STATUS"
create_key "$Z_STAR" '["owl:CrossTenant"]' "$T0"
check_eq "an admin-tenant * key (not the first admin) cannot hand out the grant" 403 "$STATUS"
as "$A_STAR" GET /api/v1/keys
check_contains "A's * key was not deleted by any B probe" "$BODY" "$A_STAR_ID"
check_not_contains "... and the admin's delete took effect" "$BODY" "$A_DEL_ID"

# ---- tenant parameter validation ----
for bad in none 12 1000000000011 10000000000x "" "%20100000000001"; do
    admin GET "/api/v1/audit?tenant=$bad"
    check_eq "audit?tenant='$bad' is 400" "400 InvalidParameter" "$STATUS $(jget error.code)"
    admin GET "/api/v1/keys?tenant=$bad"
    check_eq "keys?tenant='$bad' is 400" "400 InvalidParameter" "$STATUS $(jget error.code)"
    admin GET "/api/v1/audit/tail?tenant=$bad"
    check_eq "audit/tail?tenant='$bad' is 400" 400 "$STATUS"
done

# ---- the matrix ----
echo "# cross-tenant matrix (tenant A = $TA; B keys in $TB; '!' marks an unexpected status):"
line=$(printf '# %-36s' probe)
for c in "${!COLS[@]}"; do line+=$(printf ' | %-14s' "${COLS[$c]}"); done
echo "$line | admin (grant)"
for n in "${!PROBES[@]}"; do
    line=$(printf '# %-36s' "${PROBES[$n]}")
    for c in "${!COLS[@]}"; do line+=$(printf ' | %-14s' "${GOT[$c,$n]}"); done
    echo "$line | ${ADMIN_COL[$n]:-}"
done

finish

#!/bin/bash
# t_audit.sh — the audit trail through GET /api/v1/audit: a success, failed authentications
# (wrong secret and unknown key, recorded with the claimed key id), a 403 and a 404 each
# appear with the right action, status, key and error code (matched by request id); the
# action=, key_id=, start=/end= filters; limit + next_token paging without overlap; tenant
# visibility; and the trail survives SIGTERM and kill -9 restarts and torn WAL tails.
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"

# audit_event ID — the event whose event_id is ID in $BODY, as "action status key_id
# error_code tenant" (empty when absent).
audit_event() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e["event_id"] == sys.argv[1]:
        print(e["action"], e["status"], e["key_id"] or "-", e["error_code"] or "-", e["tenant"] or "-")
        break' "$1"
}

# event_ids — the event ids in $BODY, one a line, in order.
event_ids() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    print(e["event_id"])'
}

T0=$(now_ms)
sleep 0.02

# ---- a series of requests, each remembered by its request id ----
admin GET /api/v1/keys
check_eq "admin list keys" 200 "$STATUS"
ID_LIST=$(hdr x-owl-request-id)
TENANT=$(jget keys.0.tenant)

create_key "$ADMIN" '["iam:Get*"]'
check_eq "admin creates key K" 200 "$STATUS"
ID_CREATE=$(hdr x-owl-request-id)
K=$NEW_KEY
K_ID=$NEW_ID

as "$K_ID:not-the-secret" GET /api/v1/keys -A "owl-it/wrong-secret"
check_eq "K with a wrong secret is 401" 401 "$STATUS"
ID_BADSECRET=$(hdr x-owl-request-id)

as "OWLNOSUCHKEYZZZZZZZZ:whatever" GET /api/v1/keys
check_eq "unknown key is 401" 401 "$STATUS"
ID_UNKNOWN=$(hdr x-owl-request-id)

create_key "$K" '["iam:GetKey"]'
check_eq "K may not create keys (403)" 403 "$STATUS"
ID_DENIED=$(hdr x-owl-request-id)

as "$K" GET "/api/v1/keys/$K_ID"
check_eq "K gets itself" 200 "$STATUS"
ID_KGET1=$(hdr x-owl-request-id)
as "$K" GET "/api/v1/keys/$K_ID"
ID_KGET2=$(hdr x-owl-request-id)
as "$K" GET "/api/v1/keys/OWLNOSUCHKEYZZZZZZZZ"
check_eq "K gets a missing key (404)" 404 "$STATUS"
ID_KGET404=$(hdr x-owl-request-id)

admin GET /api/v1/no-such-route
check_eq "admin unknown route (404)" 404 "$STATUS"
ID_NOTFOUND=$(hdr x-owl-request-id)

http GET /healthz
ID_HEALTH=$(hdr x-owl-request-id)

sleep 0.02
T1=$(now_ms)
sleep 0.05
admin GET /metrics
ID_LATER=$(hdr x-owl-request-id)

# ---- every one is in the trail with the right fields ----
admin GET "/api/v1/audit?limit=1000"
check_eq "GET /api/v1/audit as admin is 200" 200 "$STATUS"
check "audit body is JSON" is_json
check_eq "list keys event" "iam:ListKeys 200 $ADMIN_ID - $TENANT" "$(audit_event "$ID_LIST")"
check_eq "create key event" "iam:CreateKey 200 $ADMIN_ID - $TENANT" "$(audit_event "$ID_CREATE")"
check_eq "wrong-secret event (claimed key, its tenant)" \
    "iam:ListKeys 401 $K_ID InvalidCredentials $TENANT" "$(audit_event "$ID_BADSECRET")"
check_eq "unknown-key event (claimed key, no tenant)" \
    "iam:ListKeys 401 OWLNOSUCHKEYZZZZZZZZ InvalidCredentials -" "$(audit_event "$ID_UNKNOWN")"
check_eq "403 event" "iam:CreateKey 403 $K_ID AccessDenied $TENANT" "$(audit_event "$ID_DENIED")"
check_eq "K get event" "iam:GetKey 200 $K_ID - $TENANT" "$(audit_event "$ID_KGET1")"
check_eq "404 get event" "iam:GetKey 404 $K_ID ResourceNotFound $TENANT" "$(audit_event "$ID_KGET404")"
check_eq "unknown route event" "unknown 404 $ADMIN_ID NotFound $TENANT" "$(audit_event "$ID_NOTFOUND")"
check_eq "/healthz is not audited" "" "$(audit_event "$ID_HEALTH")"

# the other fields of one event
printf '%s' "$BODY" | "$PYTHON" -c '
import json, re, sys
ev = [e for e in json.load(sys.stdin)["events"] if e["event_id"] == sys.argv[1]][0]
want = ["event_time", "event_id", "tenant", "key_id", "source_ip", "user_agent", "action",
        "resource", "status", "error_code", "duration_ms"]
missing = [k for k in want if k not in ev]
assert not missing, "missing fields %s" % missing
assert ev["source_ip"] == "127.0.0.1", ev["source_ip"]
assert ev["user_agent"] == "owl-it/wrong-secret", ev["user_agent"]
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", ev["event_time"]), ev["event_time"]
assert isinstance(ev["duration_ms"], (int, float)) and ev["duration_ms"] >= 0
' "$ID_BADSECRET" 2>"$T/fields.err"
check "event has every field (source_ip, user_agent, RFC 3339 time, duration_ms)" test ! -s "$T/fields.err"
[ -s "$T/fields.err" ] && cat "$T/fields.err"
printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
ids = [e["event_id"] for e in json.load(sys.stdin)["events"]]
o = [ids.index(x) for x in sys.argv[1:]]
assert o == sorted(o, reverse=True), o' "$ID_LIST" "$ID_CREATE" "$ID_BADSECRET" "$ID_DENIED" "$ID_NOTFOUND" 2>/dev/null
check_eq "events are newest first" 0 $?
check_eq "resource of the create event names the new key" "key/$K_ID" \
    "$(printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys
print([e["resource"] for e in json.load(sys.stdin)["events"] if e["event_id"] == sys.argv[1]][0])' "$ID_CREATE")"

# ---- filters ----
admin GET "/api/v1/audit?action=iam:CreateKey&limit=1000"
check_eq "action filter is 200" 200 "$STATUS"
check_eq "action filter returns only that action" "iam:CreateKey" \
    "$(printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys
print(" ".join(sorted({e["action"] for e in json.load(sys.stdin)["events"]})))')"
check_contains "action filter includes the 200 create" "$(event_ids)" "$ID_CREATE"
check_contains "action filter includes the 403 create" "$(event_ids)" "$ID_DENIED"

admin GET "/api/v1/audit?key_id=$K_ID&limit=1000"
check_eq "key_id filter returns only that key" "$K_ID" \
    "$(printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys
print(" ".join(sorted({e["key_id"] for e in json.load(sys.stdin)["events"]})))')"
K_ALL=$(event_ids)
check_eq "key_id filter finds K's 5 events" 5 "$(printf '%s\n' "$K_ALL" | grep -c .)"
check_eq "K's events in order" "$ID_KGET404 $ID_KGET2 $ID_KGET1 $ID_DENIED $ID_BADSECRET" \
    "$(echo $K_ALL)"

admin GET "/api/v1/audit?key_id=$K_ID&action=iam:GetKey"
check_eq "action and key_id filters combine" 3 "$(jget len:events)"

admin GET "/api/v1/audit?start=$T0&end=$T1&limit=1000"
IN_RANGE=$(event_ids)
check_contains "start/end (epoch ms) include the series" "$IN_RANGE" "$ID_CREATE"
check_contains "... up to the last one" "$IN_RANGE" "$ID_NOTFOUND"
check_not_contains "... and exclude later events" "$IN_RANGE" "$ID_LATER"
admin GET "/api/v1/audit?start=$((T1 + 1))&limit=1000"
check_not_contains "start after the series excludes it" "$(event_ids)" "$ID_CREATE"
check_contains "... and includes later events" "$(event_ids)" "$ID_LATER"
admin GET "/api/v1/audit?end=$((T0 - 1))&limit=1000"
check_eq "end before the series finds none of it" 0 "$(event_ids | grep -c -e "$ID_LIST" -e "$ID_CREATE")"
START_RFC=$(date -u -d "@$((T0 / 1000)).$(printf '%03d' $((T0 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
END_RFC=$(date -u -d "@$((T1 / 1000)).$(printf '%03d' $((T1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
admin GET "/api/v1/audit?start=$START_RFC&end=$END_RFC&limit=1000"
check_eq "start/end as RFC 3339 give the same events" "$IN_RANGE" "$(event_ids)"
admin GET "/api/v1/audit?start=yesterday"
check_eq "a bad start is 400" 400 "$STATUS"
admin GET "/api/v1/audit?limit=0"
check_eq "limit=0 is 400" 400 "$STATUS"
admin GET "/api/v1/audit?next_token=garbage"
check_eq "a bad next_token is 400" 400 "$STATUS"

# ---- paging ----
admin GET "/api/v1/audit?key_id=$K_ID&limit=2"
P1=$(event_ids)
TOKEN=$(jget next_token)
check_eq "limit=2 gives 2 events" 2 "$(printf '%s\n' "$P1" | grep -c .)"
check "limit=2 gives a next_token" test -n "$TOKEN"
admin GET "/api/v1/audit?key_id=$K_ID&limit=2&next_token=$TOKEN"
P2=$(event_ids)
TOKEN2=$(jget next_token)
admin GET "/api/v1/audit?key_id=$K_ID&limit=2&next_token=$TOKEN2"
P3=$(event_ids)
check_eq "pages 1-3 are the whole list in order, no overlap" "$(echo $K_ALL)" "$(echo $P1 $P2 $P3)"
check_eq "the last page has no next_token" "" "$(jget next_token)"

# ---- visibility ----
create_key "$ADMIN" '["audit:LookupEvents"]'
AUD=$NEW_KEY
as "$AUD" GET "/api/v1/audit?limit=1000"
check_eq "a key with audit:LookupEvents reads the trail" 200 "$STATUS"
check_contains "... sees its tenant's events" "$(event_ids)" "$ID_DENIED"
check_not_contains "... not failed auths of unknown keys (needs owl:CrossTenant)" "$(event_ids)" "$ID_UNKNOWN"
as "$AUD" GET "/api/v1/audit?tenant=999999999999"
check_eq "... and not another tenant's trail (403)" 403 "$STATUS"
create_key "$ADMIN" '["iam:Get*"]'
as "$NEW_KEY" GET /api/v1/audit
check_eq "a key without audit:LookupEvents gets 403" 403 "$STATUS"
create_key "$ADMIN" '["audit:*","iam:Get*"]' 999999999999
OTHER=$NEW_KEY
as "$OTHER" GET "/api/v1/audit?limit=1000"
check_eq "another tenant's key reads its own trail" 200 "$STATUS"
check_not_contains "... without this tenant's events" "$(event_ids)" "$ID_CREATE"
admin GET "/api/v1/audit?tenant=999999999999&limit=1000"
check_eq "admin (owl:CrossTenant) reads another tenant's trail" 200 "$STATUS"
check_contains "... which holds that tenant's requests" "$BODY" "\"tenant\":\"999999999999\""

# ---- survives restarts ----
stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
start_owld || bail "owld restarts"
admin GET "/api/v1/audit?key_id=$K_ID&limit=1000"
check_eq "after SIGTERM + restart K's events are all there" "$(echo $K_ALL)" "$(echo $(event_ids))"
admin GET "/api/v1/audit?limit=1000"
check_eq "... and the create event is intact" "iam:CreateKey 200 $ADMIN_ID - $TENANT" "$(audit_event "$ID_CREATE")"
check_eq "... and the unknown-key event" \
    "iam:ListKeys 401 OWLNOSUCHKEYZZZZZZZZ InvalidCredentials -" "$(audit_event "$ID_UNKNOWN")"
as "$K" GET "/api/v1/keys/$K_ID"
ID_AFTER=$(hdr x-owl-request-id)
stop_owld KILL
start_owld || bail "owld restarts after kill -9"
admin GET "/api/v1/audit?key_id=$K_ID&limit=1000"
check_eq "after kill -9 + restart the last event is there" "$ID_AFTER" "$(event_ids | head -n 1)"
check_eq "... with the earlier ones" "$(echo $ID_AFTER $K_ALL)" "$(echo $(event_ids))"
admin GET "/api/v1/audit?limit=1"
check_eq "new events still get recorded after recovery" 1 "$(jget len:events)"
# torn tails: kill -9, then append garbage to the newest store WAL segment and metadata
# journal (what a write cut short leaves), and restart
stop_owld KILL
wal=$(ls "$DATA"/store/wal/wal-*.log 2>/dev/null | tail -n 1)
journal=$(ls "$DATA"/meta/journal-*.owm 2>/dev/null | tail -n 1)
check "the store has a WAL segment ($wal)" test -f "$wal"
check "the metadata store has a journal ($journal)" test -f "$journal"
for f in $wal $journal; do printf '\x40\x00\x00\x00\x13\x37garbage' >>"$f"; done
start_owld || bail "owld starts with torn WAL and journal tails"
admin GET "/api/v1/audit?key_id=$K_ID&limit=1000"
check_eq "after torn tails the audit events are all kept" "$(echo $ID_AFTER $K_ALL)" "$(echo $(event_ids))"
as "$K" GET "/api/v1/keys/$K_ID"
check_eq "... and the keys" 200 "$STATUS"
stop_owld
check_eq "owld exits 0 on SIGTERM at the end" 0 "$OWLD_RC"

finish

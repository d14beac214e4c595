#!/bin/bash
# t_valgrind.sh — owld under valgrind memcheck: a few requests of each kind (healthz, key
# create/list/get/delete, audit, metrics, 401, 404, a compressed body), then SIGTERM: owld
# must exit 0 with no memory errors and nothing "definitely lost". Skipped when valgrind is
# missing or owld was built with sanitizers (they do not mix).
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || skip "valgrind is not installed"
is_sanitized && skip "owld is built with sanitizers; valgrind cannot run it"

VG_LOG=$T/valgrind.log
OWLD_WRAPPER=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9
    --show-leak-kinds=definite --num-callers=30 --log-file="$VG_LOG")
START_TIMEOUT=90
start_owld --workers 2 --shutdown-grace-ms 2000 ||
    { tail -n 30 "$VG_LOG" 2>/dev/null; bail "owld starts under valgrind"; }

http GET /healthz
check_eq "healthz under valgrind" 200 "$STATUS"
create_key "$ADMIN" '["iam:Get*","iam:List*"]'
check_eq "create a key" 200 "$STATUS"
K=$NEW_KEY
K_ID=$NEW_ID
as "$K" GET /api/v1/keys
check_eq "list keys with the new key" 200 "$STATUS"
as "$K" GET "/api/v1/keys/$K_ID"
check_eq "get the key" 200 "$STATUS"
create_key "$K" '["iam:GetKey"]'
check_eq "403 on create by a read-only key" 403 "$STATUS"
admin GET /api/v1/audit?limit=5
check_eq "audit lookup" 200 "$STATUS"
admin GET /metrics
check_eq "metrics" 200 "$STATUS"
as "$ADMIN_ID:wrong" GET /api/v1/keys
check_eq "401 with a wrong secret" 401 "$STATUS"
http GET /metrics
check_eq "401 without a key" 401 "$STATUS"
admin GET /api/v1/nope
check_eq "404" 404 "$STATUS"
printf '{"policy":["logs:*"]}' | gzip -c >"$T/body.gz"
admin POST /api/v1/keys -H 'Content-Encoding: gzip' --data-binary @"$T/body.gz"
check_eq "gzip body" 200 "$STATUS"
admin POST /api/v1/keys -d '{"policy":'
check_eq "bad JSON" 400 "$STATUS"
admin DELETE "/api/v1/keys/$K_ID"
check_eq "delete the key" 200 "$STATUS"
as "$K" GET /api/v1/keys
check_eq "deleted key is 401" 401 "$STATUS"
http GET "/?Action=GetCallerIdentity&Version=2011-06-15" -H "Authorization: Bearer $ADMIN"
check_eq "STS query by bearer" 200 "$STATUS"
# a connection left open and idle across the shutdown
"$PYTHON" -c 'import socket,sys,time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$PORT" &
IDLE=$!
BG_PIDS+=("$IDLE")
sleep 0.5

stop_owld TERM 60
check_eq "owld under valgrind exits 0 on SIGTERM (9 = valgrind errors)" 0 "$OWLD_RC"
kill "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null
if [ -f "$VG_LOG" ]; then
    check "valgrind: no errors" grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG"
    lost=$(grep -E 'definitely lost: [1-9]' "$VG_LOG")
    check_eq "valgrind: nothing definitely lost" "" "$lost"
    grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG" || sed -n '/== [A-Z]/,$p' "$VG_LOG" | head -n 80 | sed 's/^/# /'
else
    not_ok "valgrind wrote its log"
fi

finish

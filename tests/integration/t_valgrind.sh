#!/bin/bash
# t_valgrind.sh — owld under valgrind memcheck: a few requests of each kind (healthz, key
# create/list/get/delete, audit, metrics, 401, 404, a compressed body; CloudWatch Logs: a
# group, PutLogEvents, a metric filter, FilterLogEvents with a pattern, raw lines, and a live
# tail that receives an event and is left open across the shutdown; a trace of two services
# and a database call, read back with its critical path, the service map from traces and
# from the live graph's statistics as JSON, DOT and SVG, bottlenecks, root cause), then SIGTERM: owld
# must exit 0 with no memory errors and nothing "definitely lost". Skipped when valgrind is
# missing or owld was built with sanitizers (they do not mix).
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || skip "valgrind is not installed"
is_sanitized && skip "owld is built with sanitizers; valgrind cannot run it"

VG_LOG=$T/valgrind.log
# graphviz.supp: fontconfig's font caches, which Graphviz loads for SVG and keeps for the
# process's life (docs/api/service-map.md "SVG")
OWLD_WRAPPER=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9
    --show-leak-kinds=definite --num-callers=30 --log-file="$VG_LOG"
    --suppressions="$OWL_SRCDIR/tests/unit/graphviz.supp")
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
# CloudWatch Logs (JSON 1.1) and the live tail
logs() { # ACTION JSON
    admin POST / -H "X-Amz-Target: Logs_20140328.$1" -H 'Content-Type: application/x-amz-json-1.1' \
        --data-binary "$2"
}
logs CreateLogGroup '{"logGroupName":"/vg/app"}'
check_eq "CreateLogGroup" 200 "$STATUS"
logs CreateLogStream '{"logGroupName":"/vg/app","logStreamName":"web"}'
check_eq "CreateLogStream" 200 "$STATUS"
logs PutMetricFilter '{"logGroupName":"/vg/app","filterName":"errs","filterPattern":"[lvl=ERROR, ms]","metricTransformations":[{"metricName":"Errs","metricNamespace":"VG","metricValue":"$ms"}]}'
check_eq "PutMetricFilter" 200 "$STATUS"
curl -sS -N --max-time 60 -H "Authorization: Bearer $ADMIN" \
    "$BASE/api/v1/logs/tail?group=/vg/app&pattern=ERROR" >"$T/tail.out" 2>/dev/null &
TAIL=$!
BG_PIDS+=("$TAIL")
sleep 1
NOW=$(now_ms)
logs PutLogEvents "{\"logGroupName\":\"/vg/app\",\"logStreamName\":\"web\",\"logEvents\":[{\"timestamp\":$((NOW - 30 * 86400000)),\"message\":\"too old\"},{\"timestamp\":$NOW,\"message\":\"INFO 3\"},{\"timestamp\":$NOW,\"message\":\"ERROR 7 caf\\u00e9\"}]}"
check_eq "PutLogEvents (one event too old)" 200 "$STATUS"
check_eq "... the old one is rejected (end index, exclusive)" 1 "$(jget rejectedLogEventsInfo.tooOldLogEventEndIndex)"
logs PutLogEvents '{"logGroupName":"/vg/app","logStreamName":"web","logEvents":[{"timestamp":1,"message":"x"},{"timestamp":0,"message":"y"}]}'
check_eq "PutLogEvents out of order: 400" 400 "$STATUS"
admin POST "/api/v1/logs?group=/vg/raw&stream=s" -H 'Content-Type: text/plain' \
    --data-binary $'2026-01-02T03:04:05Z first line\nsecond line\n'
check_eq "raw lines" 200 "$STATUS"
logs FilterLogEvents '{"logGroupName":"/vg/app","filterPattern":"ERROR"}'
check_eq "FilterLogEvents with a pattern" 200 "$STATUS"
check_eq "... finds the ERROR line" 1 "$(jget len:events)"
# a trace: front's server span calls orders (client -> server), orders calls postgresql
T0=$(( (NOW - 60000) * 1000000 ))
span() { # ID PARENT NAME KIND START_MS DUR_MS [ATTRS]
    printf '{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"%s",%s"name":"%s","kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","status":{"code":%d}%s}' \
        "$1" "${2:+\"parentSpanId\":\"$2\",}" "$3" "$4" $((T0 + $5 * 1000000)) \
        $((T0 + ($5 + $6) * 1000000)) "${8:-0}" "${7:+,\"attributes\":$7}"
}
DB='[{"key":"db.system","value":{"stringValue":"postgresql"}}]'
SPANS=$(printf '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"front"}}]},"scopeSpans":[{"spans":[%s,%s]}]},{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},"scopeSpans":[{"spans":[%s,%s]}]}]}' \
    "$(span eee19b7ec3c1b174 "" "GET /" 2 0 50)" "$(span eee19b7ec3c1b175 eee19b7ec3c1b174 POST 3 5 40 "" 2)" \
    "$(span eee19b7ec3c1b176 eee19b7ec3c1b175 "POST /orders" 2 7 35 "" 2)" \
    "$(span eee19b7ec3c1b177 eee19b7ec3c1b176 INSERT 3 10 20 "$DB" 2)")
admin POST /v1/traces -H 'Content-Type: application/json' --data-binary "$SPANS"
check_eq "OTLP JSON spans of two services" 200 "$STATUS"
admin GET /api/v1/traces/5b8efff798038103d269b633813fc60c
check_eq "the trace with its critical path" 200 "$STATUS"
check_contains "... spans on the critical path" "$BODY" '"critical":true'
W="start=$((NOW - 3600000))&end=$((NOW + 60000))"
admin GET "/api/v1/servicemap?$W&filter=service()"
check_eq "the service map of the traces" 200 "$STATUS"
check_contains "... the edge front -> orders" "$BODY" '"source":"front","target":"orders"'
for f in json dot svg; do
    admin GET "/api/v1/servicemap?$W&format=$f"
    check_eq "the service map from the statistics, as $f" 200 "$STATUS"
done
admin GET "/api/v1/bottlenecks?$W&sort=added"
check_eq "bottlenecks" 200 "$STATUS"
admin GET "/api/v1/rootcause?$W"
check_eq "root cause" 200 "$STATUS"
check_contains "... the fault starts in the INSERT" "$BODY" '"operation":"INSERT"'
for _ in $(seq 100); do grep -q 'ERROR 7' "$T/tail.out" && break; sleep 0.1; done
check_contains "the live tail received the ERROR line" "$(cat "$T/tail.out")" "ERROR 7"
# a connection left open and idle across the shutdown
"$PYTHON" -c 'import socket,sys,time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$PORT" &
IDLE=$!
BG_PIDS+=("$IDLE")
sleep 0.5

stop_owld TERM 60
check_eq "owld under valgrind exits 0 on SIGTERM (9 = valgrind errors)" 0 "$OWLD_RC"
kill "$IDLE" "$TAIL" 2>/dev/null
wait "$IDLE" "$TAIL" 2>/dev/null
if [ -f "$VG_LOG" ]; then
    check "valgrind: no errors" grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG"
    lost=$(grep -E 'definitely lost: [1-9]' "$VG_LOG")
    check_eq "valgrind: nothing definitely lost" "" "$lost"
    grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG" || sed -n '/== [A-Z]/,$p' "$VG_LOG" | head -n 80 | sed 's/^/# /'
else
    not_ok "valgrind wrote its log"
fi

finish

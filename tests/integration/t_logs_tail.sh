#!/bin/bash
# t_logs_tail.sh — the live tail of CloudWatch Logs (GET /api/v1/logs/tail, server/logtail.c):
# curl -N sees an event put after it connected within 1 s of the put's answer (the latency
# is printed), for every way in (PutLogEvents, raw lines, OTLP); a pattern and a stream filter
# leave out what they should; a bad pattern is a 400 naming the position, an unknown group a
# 404; the heartbeat arrives; a reader that reads nothing while 2 MiB of events are put gets
# `event: dropped` (logtail_drop.py, raw socket); then `aws logs tail --follow` (AWS CLI v2)
# prints a line put after it started.
. "$(dirname "$0")/lib.sh"

start_owld --wal-sync none --stream-heartbeat-ms 500 --stream-buffer-bytes 65536 \
    --stream-stall-ms 20000 || bail "owld starts"
G=/tail/app
AWS=/usr/bin/aws

# put STREAM TEXT — raw lines into $G/STREAM (group and stream created on first use).
put() {
    admin POST "/api/v1/logs?group=$G&stream=$1" -H 'Content-Type: text/plain' \
        --data-binary "$2"
}

put web "first line"
check_eq "raw lines create the group" 200 "$STATUS"
put db "db first"

admin GET "/api/v1/logs/tail?group=/tail/nope"
check_eq "tail of an unknown group: 404" 404 "$STATUS"
check_eq "... native error code ResourceNotFound" ResourceNotFound "$(jget error.code)"
admin GET "/api/v1/logs/tail?group=$G&pattern=%5Bip%2C"
check_eq "a bad pattern: 400" 400 "$STATUS"
check_contains "... naming the position" "$(jget error.message)" "at position"
admin GET "/api/v1/logs/tail"
check_eq "no group: 400" 400 "$STATUS"
http GET "/api/v1/logs/tail?group=$G"
check_eq "no credentials: 401" 401 "$STATUS"

# tail NAME QUERY — curl -N in the background into $T/NAME.out, headers in $T/NAME.hdr;
# waits until the head arrived (the subscription is made before the head is sent).
tail_start() {
    local name=$1 q=$2 i
    curl -sS -N --max-time 60 -H "Authorization: Bearer $ADMIN" -D "$T/$name.hdr" \
        "$BASE/api/v1/logs/tail?$q" >"$T/$name.out" 2>"$T/$name.err" &
    BG_PIDS+=($!)
    eval "TAIL_$name=$!"
    for i in $(seq 200); do
        grep -q '^HTTP/1.1 200' "$T/$name.hdr" 2>/dev/null && return 0
        sleep 0.02
    done
    return 1
}
tail_stop() {
    local pid
    eval "pid=\$TAIL_$1"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
# wait_for FILE TEXT [MS] — until FILE holds TEXT (default 3000 ms); sets SEEN_MS (epoch ms).
wait_for() {
    local deadline=$(($(now_ms) + ${3:-3000}))
    SEEN_MS=
    while :; do
        if grep -qF -- "$2" "$1" 2>/dev/null; then
            SEEN_MS=$(now_ms)
            return 0
        fi
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.01
    done
}

tail_start all "group=$G" || bail "the tail of $G starts"
check_contains "the tail is an event stream" "$(tr -d '\r' <"$T/all.hdr")" \
    "Content-Type: text/event-stream"
tail_start web "group=$G&stream=web" || bail "the tail of stream web starts"
tail_start err "group=$G&pattern=%22ERROR%22" || bail "the tail with a pattern starts"

# latency: from the put's answer to the line seen by curl
t0=$(now_ms)
put web "live ERROR disk full"
t_ack=$(now_ms)
if wait_for "$T/all.out" "live ERROR disk full" 3000; then
    echo "# live tail latency: $((SEEN_MS - t_ack)) ms after the put's answer ($((SEEN_MS - t0)) ms after it was sent)"
    check_lt "an event put after the tail connected arrives within 1 s of its acknowledgement" \
        "$((SEEN_MS - t_ack))" 1000
else
    not_ok "the event put after the tail connected arrives"
fi
put db "db ok line"
[ -x "$AWS" ] && awsc logs put-log-events --log-group-name "$G" --log-stream-name db \
    --log-events "timestamp=$(now_ms),message=cli ERROR line"
[ -x "$AWS" ] || admin POST "/api/v1/logs?group=$G&stream=db" -H 'Content-Type: text/plain' \
    --data-binary "cli ERROR line" # without the CLI: the same event by raw lines
check_eq "put-log-events exits 0" 0 "${AWS_RC:-0}"
now_ns=$(($(now_ms) * 1000000))
cat >"$T/otlp.json" <<JSON
{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"tailsvc"}}]},
 "scopeLogs":[{"logRecords":[{"timeUnixNano":"$now_ns","severityText":"WARN",
   "body":{"stringValue":"otlp line"},"traceId":"0af7651916cd43dd8448eb211c80319c",
   "spanId":"b7ad6b7169203331"}]}]}]}
JSON
admin POST "/api/v1/logs?group=/otel/tailsvc&stream=opener" -H 'Content-Type: text/plain' \
    --data-binary "opener" # the group must exist to be tailed
tail_start otel "group=/otel/tailsvc" || bail "the tail of /otel/tailsvc starts"
admin POST /v1/logs -H 'Content-Type: application/json' --data-binary "@$T/otlp.json"
check_eq "an OTLP export: 200" 200 "$STATUS"

wait_for "$T/all.out" "cli ERROR line" 3000
check "the tail sees PutLogEvents' event" wait_for "$T/all.out" "cli ERROR line" 1
check "the tail sees the second raw line" wait_for "$T/all.out" "db ok line" 1
check_not_contains "... but none put before it connected" "$(cat "$T/all.out")" "first line"
check "the tail of stream web sees its event" wait_for "$T/web.out" "live ERROR disk full" 1
check_not_contains "... and nothing of stream db" "$(cat "$T/web.out")" "db ok"
check "the tail with pattern \"ERROR\" sees both ERROR lines" \
    wait_for "$T/err.out" "cli ERROR line" 1000
check_not_contains "... and not the others" "$(cat "$T/err.out")" "db ok line"
check_contains "an event is 'event: log' with its JSON" "$(cat "$T/all.out")" \
    '"logStreamName":"db","message":"cli ERROR line"'
if wait_for "$T/otel.out" "otlp line" 3000; then
    line=$(grep -F "otlp line" "$T/otel.out")
    check_contains "an OTLP event carries its severity" "$line" '"severity":"WARN"'
    check_contains "... trace id" "$line" '"traceId":"0af7651916cd43dd8448eb211c80319c"'
    check_contains "... and span id" "$line" '"spanId":"b7ad6b7169203331"'
else
    not_ok "the tail of /otel/tailsvc sees the OTLP event"
fi
check "the heartbeat arrives (: keepalive)" wait_for "$T/all.out" ": keepalive" 3000
for n in all web err otel; do tail_stop $n; done

# a reader that reads nothing while events flood: dropped, and told so
run_py "logtail_drop.py" "$IT_DIR/logtail_drop.py" "$PORT" "$ADMIN" "$G"

# ---- aws logs tail --follow (AWS CLI v2: polls FilterLogEvents with startTime) ----
AWS=/usr/bin/aws
if [ -x "$AWS" ] && "$AWS" logs tail help >/dev/null 2>&1; then
    put web "before the cli"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE \
        AWS_SHARED_CREDENTIALS_FILE="$DATA/aws-credentials" AWS_CONFIG_FILE=/dev/null \
        AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" HOME="$T" \
        timeout 90 "$AWS" logs tail "$G" --follow --since 10m --endpoint-url "$BASE" \
        --region us-east-1 >"$T/cli.out" 2>"$T/cli.err" &
    CLI=$!
    BG_PIDS+=($CLI)
    # its first poll prints what was there; only then is "after" surely put after it started
    if wait_for "$T/cli.out" "before the cli" 40000; then
        put db "after the cli started"
        check "aws logs tail --follow prints a line put after it started" \
            wait_for "$T/cli.out" "after the cli started" 30000
        check_contains "... as 'TIME STREAM MESSAGE'" "$(cat "$T/cli.out")" " db after the cli started"
    else
        not_ok "aws logs tail --follow printed the events already there: $(head -c 400 "$T/cli.err")"
    fi
    kill "$CLI" 2>/dev/null
    wait "$CLI" 2>/dev/null
else
    echo "# SKIP part: $AWS (AWS CLI v2 with 'logs tail') is not installed"
fi

stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
finish

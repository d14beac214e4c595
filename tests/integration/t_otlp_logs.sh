#!/bin/bash
# t_otlp_logs.sh — the OpenTelemetry JS SDK's two OTLP/HTTP log exporters (JSON and protobuf,
# pinned in tests/otel/package-lock.json; tests/otel/logs.mjs) send records with severities,
# trace and span ids and attributes; they come back from the native events endpoint
# (GET /api/v1/logs/events: severity, trace_id, span_id, attrs) in group /otel/<service.name>,
# stream host.name, and the messages from FilterLogEvents. A live tail (GET /api/v1/logs/tail)
# open meanwhile sees them too. SKIPs when node or tests/otel/node_modules is missing.
. "$(dirname "$0")/lib.sh"

OTEL_DIR="$OWL_SRCDIR/tests/otel"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
[ -d "$OTEL_DIR/node_modules/@opentelemetry/sdk-logs" ] &&
    [ -d "$OTEL_DIR/node_modules/@opentelemetry/exporter-logs-otlp-proto" ] ||
    skip "tests/otel/node_modules lacks the log packages (cd tests/otel && npm ci)"

AWS=/usr/bin/aws
start_owld --wal-sync none || bail "owld starts"

# ev N FIELD — a field of event N of the last native events answer.
ev() { jget "events.$1.$2"; }

for mode in json proto; do
    svc="owl-logs-$mode"
    G="/otel/$svc"
    # the tail needs the group: an empty raw line is refused, so make it with a first event
    admin POST "/api/v1/logs?group=$G&stream=node-host" -H 'Content-Type: text/plain' \
        --data-binary "opened"
    curl -sS -N --max-time 30 -H "Authorization: Bearer $ADMIN" \
        "$BASE/api/v1/logs/tail?group=$G" >"$T/tail.$mode" 2>/dev/null &
    tail_pid=$!
    BG_PIDS+=($tail_pid)
    sleep 0.3
    out=$(node "$OTEL_DIR/logs.mjs" "$BASE/v1/logs" "$ADMIN" "$mode" "$svc" 2>"$T/node.$mode.err")
    rc=$?
    echo "# $mode exporter: $out"
    check_eq "the $mode log exporter's export succeeds" 0 "$rc"
    check_eq "... one export of 3 records" 3 "$(jget exports.0.n "$out")"
    trace_id=$(jget span.traceId "$out")
    span_id=$(jget span.spanId "$out")

    admin GET "/api/v1/logs/events?group=$(printf '%s' "$G" | sed 's|/|%2F|g')&stream=node-host"
    check_eq "$mode: native events of $G: 200" 200 "$STATUS"
    check_eq "$mode: 4 events (the opener and the 3 records)" 4 "$(jget len:events)"
    check_eq "$mode: record 1's message" "$mode login ok" "$(ev 1 message)"
    check_eq "$mode: record 1's severity (severityText)" INFO "$(ev 1 severity)"
    check_eq "$mode: record 1's trace id" "$trace_id" "$(ev 1 trace_id)"
    check_eq "$mode: record 1's span id" "$span_id" "$(ev 1 span_id)"
    check_eq "$mode: record 1's attribute user" ada "$(ev 1 attrs.attributes.user)"
    check_eq "$mode: record 1's attribute attempt" 1 "$(ev 1 attrs.attributes.attempt)"
    check_eq "$mode: record 1's resource service.name" "$svc" \
        "$(printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["events"][1]["attrs"]["resource"]["service.name"])')"
    check_eq "$mode: record 1's scope" owl-test "$(ev 1 attrs.scope.name)"
    check_eq "$mode: record 2's severity (from severityNumber WARN)" WARN "$(ev 2 severity)"
    check_eq "$mode: record 2's attribute disk.free" 0.05 \
        "$(printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["events"][2]["attrs"]["attributes"]["disk.free"])')"
    check_eq "$mode: record 3's severity" ERROR "$(ev 3 severity)"
    check_eq "$mode: record 3 has no trace id (no span context)" "" "$(ev 3 trace_id)"
    check_eq "$mode: record 3's attribute fatal" True "$(ev 3 attrs.attributes.fatal)"
    check_eq "$mode: the opener (raw line) has no severity" "" "$(ev 0 severity)"

    [ -x "$AWS" ] || { echo "# $AWS missing: FilterLogEvents not checked"; continue; }
    awsc logs filter-log-events --log-group-name "$G" --filter-pattern '"disk nearly"'
    check_eq "$mode: filter-log-events exits 0" 0 "$AWS_RC"
    check_eq "$mode: ... finds the WARN record" "$mode disk nearly full" \
        "$(jget events.0.message "$AWS_OUT")"

    sleep 0.5
    kill "$tail_pid" 2>/dev/null
    wait "$tail_pid" 2>/dev/null
    line=$(grep -F "$mode login ok" "$T/tail.$mode")
    check_contains "$mode: the live tail saw the record with its trace id" "$line" \
        "\"traceId\":\"$trace_id\""
    check_contains "$mode: ... and severity" "$line" '"severity":"INFO"'
done

stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
finish

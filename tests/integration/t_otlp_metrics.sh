#!/bin/bash
# t_otlp_metrics.sh — OTLP/HTTP metrics into owld (POST /v1/metrics, ingest/otlp.c): the
# protocol's answers (401 without a key, 415 for another Content-Type, 400 with a
# google.rpc.Status in the request's encoding for a malformed body, partial success for a
# refused point), then the OpenTelemetry JS SDK's two exporters (JSON and protobuf, pinned in
# tests/otel/package-lock.json) pushing a counter, an up-down counter, a gauge and a
# histogram, read back through GET /api/v1/metrics/query and compared with what the SDK
# recorded. The read-back needs the metrics store and owl's query route: without them (or
# without node and tests/otel/node_modules) it says SKIP after the protocol checks passed.
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"

# post KEY CONTENT-TYPE FILE — POST /v1/metrics with FILE as the body.
post() {
    local key=$1 ct=$2 file=$3
    if [ -n "$key" ]; then
        as "$key" POST /v1/metrics -H "Content-Type: $ct" --data-binary "@$file"
    else
        http POST /v1/metrics -H "Content-Type: $ct" --data-binary "@$file"
    fi
}

printf '{}' >"$T/empty.json"
post "" application/json "$T/empty.json"
check_eq "no credentials: 401" 401 "$STATUS"

create_key "$ADMIN" '["logs:*"]'
check_eq "a key without metric rights is created" 200 "$STATUS"
post "$NEW_KEY" application/json "$T/empty.json"
check_eq "a key whose policy lacks cloudwatch:PutMetricData: 403" 403 "$STATUS"

printf 'hello' >"$T/text"
post "$ADMIN" text/plain "$T/text"
check_eq "text/plain: 415" 415 "$STATUS"
check_eq "... with a google.rpc.Status in JSON (INVALID_ARGUMENT)" 3 "$(jget code)"

printf '\x0a\xff\xff\xff\x0f' >"$T/bad.pb"
post "$ADMIN" application/x-protobuf "$T/bad.pb"
check_eq "a truncated protobuf body: 400" 400 "$STATUS"
check_eq "... answered in protobuf" application/x-protobuf "$(hdr content-type)"
first2=$(od -An -tx1 -N2 "$T/.body" | tr -d ' ')
check_eq "... as a google.rpc.Status with code 3" 0803 "$first2"

printf '{"resourceMetrics":5}' >"$T/bad.json"
post "$ADMIN" "application/json; charset=utf-8" "$T/bad.json"
check_eq "a JSON body that is not a request: 400" 400 "$STATUS"
check_eq "... a google.rpc.Status in JSON" 3 "$(jget code)"
check_contains "... naming the field" "$(jget message)" "resource_metrics"

gzip -c "$T/bad.json" >"$T/bad.json.gz"
as "$ADMIN" POST /v1/metrics -H "Content-Type: application/json" -H "Content-Encoding: gzip" \
    --data-binary "@$T/bad.json.gz"
check_eq "a gzip body is read decompressed (the same 400)" 400 "$STATUS"
check_contains "... naming the field" "$(jget message)" "resource_metrics"

NOW_NS=$(($(now_ms) * 1000000))
cat >"$T/probe.json" <<JSON
{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"probe"}}]},
 "scopeMetrics":[{"metrics":[{"name":"depth","gauge":{"dataPoints":[
   {"asDouble":4,"timeUnixNano":"$NOW_NS","attributes":[{"key":"host","value":{"stringValue":"a"}}]},
   {"asDouble":"NaN","timeUnixNano":"$NOW_NS"}]}}]}]}]}
JSON
OTEL_DIR="$OWL_SRCDIR/tests/otel"
HAVE_SDK=0
command -v node >/dev/null && [ -d "$OTEL_DIR/node_modules/@opentelemetry/sdk-metrics" ] &&
    HAVE_SDK=1

post "$ADMIN" application/json "$T/probe.json"
if [ "$STATUS" = 500 ] && printf '%s' "$BODY" | grep -q 'not supported'; then
    echo "# the metrics store answers: $BODY"
    if [ $HAVE_SDK = 1 ]; then
        # what can be seen without a store: the SDK's bodies decode (a body owld could not
        # read would be a 400 Bad Request, not the store's 500)
        for mode in json proto; do
            out=$(node "$OTEL_DIR/push.mjs" "$BASE/v1/metrics" "$ADMIN" "$mode" "pre-$mode" 2>/dev/null)
            echo "# $mode exporter: $out"
            check_eq "the $mode exporter made 2 exports" 2 "$(jget len:exports "$out")"
            check_not_contains "... each decoded by owld (no 400)" "$out" "Bad Request"
        done
        [ "$FAIL" = 0 ] || finish
    fi
    skip "the metrics store (analytics/metrics.c) is still scaffolding: nothing can be stored or read back"
fi
check_eq "a request with one NaN point: 200" 200 "$STATUS"
check_eq "... partial success: 1 point rejected" 1 "$(jget partialSuccess.rejectedDataPoints)"
check_contains "... saying why" "$(jget partialSuccess.errorMessage)" "NaN"

# query NS NAME STATS... — GET /api/v1/metrics/query over the last hour, dim host=h1/a.
query() {
    local ns=$1 name=$2 host=$3
    shift 3
    local q="namespace=$ns&name=$name&dim.host=$host&period=3600"
    for s in "$@"; do q="$q&stat=$s"; done
    local end=$(($(now_ms) + 3600000)) start=$(($(now_ms) - 3600000))
    admin GET "/api/v1/metrics/query?$q&start=$((start / 3600000 * 3600000))&end=$end"
}
# agg STAT — STAT over every datapoint of the last query (periods may split the pushes):
# sums for Sum and SampleCount, the least Minimum, the greatest Maximum.
agg() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
s = sys.argv[1]
try:
    v = [d[s] for d in json.load(sys.stdin)["datapoints"] if s in d]
except Exception:
    v = []
if v:
    print(repr(float(min(v) if s == "Minimum" else max(v) if s == "Maximum" else sum(v))))' "$1"
}
query otel/probe depth a Sum SampleCount
[ "$STATUS" = 404 ] && skip "GET /api/v1/metrics/query is not served yet (f-cw): nothing to read back"
check_eq "the probe's good point reads back" 4.0 "$(agg Sum)"

[ $HAVE_SDK = 1 ] ||
    skip "node or tests/otel/node_modules is missing (apt-get install nodejs npm; cd tests/otel && npm ci)"

# num EXPR — a Python expression over the recorded lists (sum(...), len(...)) as a float.
num() { "$PYTHON" -c 'import json,sys; v=eval(sys.argv[1], {"json": json}); print(repr(float(v)))' "$1"; }

for mode in json proto; do
    svc="owl-test-$mode"
    out=$(node "$OTEL_DIR/push.mjs" "$BASE/v1/metrics" "$ADMIN" "$mode" "$svc" 2>"$T/node.$mode.err")
    rc=$?
    echo "# $mode exporter: $out"
    check_eq "the $mode exporter's exports all succeed" 0 "$rc"
    rec=$(jget recorded "$out")
    [ -n "$rec" ] || { not_ok "the $mode exporter printed what it recorded"; continue; }
    c=$(jget counter "$rec")
    u=$(jget updown "$rec")
    g=$(jget gauge "$rec")
    h=$(jget histogram "$rec")
    ns="otel/$svc"

    query "$ns" requests h1 Sum
    check_eq "$mode counter: Sum = what was added" "$(num "sum($c)")" "$(agg Sum)"
    query "$ns" queue.items h1 Maximum Minimum SampleCount
    # an up-down counter is stored as its current value at each export
    check_eq "$mode up-down counter: its last value" "$(num "sum($u)")" "$(agg Maximum)"
    check_eq "$mode up-down counter: one value per export" 2.0 "$(agg SampleCount)"
    query "$ns" temperature h1 Minimum Maximum SampleCount
    check_eq "$mode gauge: Minimum" "$(num "min($g)")" "$(agg Minimum)"
    check_eq "$mode gauge: Maximum" "$(num "max($g)")" "$(agg Maximum)"
    check_eq "$mode gauge: SampleCount" "$(num "len($g)")" "$(agg SampleCount)"
    query "$ns" latency h1 SampleCount Sum Minimum Maximum
    check_eq "$mode histogram: SampleCount" "$(num "len($h)")" "$(agg SampleCount)"
    check_eq "$mode histogram: Sum" "$(num "sum($h)")" "$(agg Sum)"
    check_eq "$mode histogram: Minimum" "$(num "min($h)")" "$(agg Minimum)"
    check_eq "$mode histogram: Maximum" "$(num "max($h)")" "$(agg Maximum)"
done

finish

#!/bin/bash
# t_logs_trace.sh — log lines found by their trace id against a real owld: OTLP/JSON logs of
# two services (groups /otel/a with two streams and /otel/b; records of traces T1, T2 and of
# none) and T1's spans; GET /api/v1/logs/events?trace_id= keeps one group's lines of the
# trace (with pattern and paging), GET /api/v1/traces/{id}/logs the trace's lines of every
# group, oldest first with group and stream, by the W3C and the X-Ray form of the id, in
# pages, over a default range from the trace's spans; a malformed id is 400, an unknown
# trace an empty list, a key without logs:FilterLogEvents 403. The same answers after a
# restart, read from the parts the shutdown sealed.
. "$(dirname "$0")/lib.sh"

start_owld --wal-sync none || bail "owld starts"

py() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1" 2>/dev/null; }

T1=5b8efff798038103d269b633813fc60c
T1X=1-5b8efff7-98038103d269b633813fc60c
T2=0af7651916cd43dd8448eb211c80319c
T9=0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f # no line, no span
NOW=$(now_ms)

# rec MS_AGO MESSAGE [TRACE] — one OTLP/JSON log record
rec() {
    local ids=""
    [ -n "${3:-}" ] && ids=",\"traceId\":\"$3\",\"spanId\":\"00f067aa0ba902b7\""
    printf '{"timeUnixNano":"%s000000","severityText":"INFO","body":{"stringValue":"%s"}%s}' \
        "$((NOW - $1))" "$2" "$ids"
}
# res SERVICE HOST RECORDS — one resourceLogs entry
res() {
    printf '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"%s"}},{"key":"host.name","value":{"stringValue":"%s"}}]},"scopeLogs":[{"logRecords":[%s]}]}' \
        "$1" "$2" "$3"
}
LOGS="{\"resourceLogs\":[$(res a h1 "$(rec 900 "a T1 login" $T1),$(rec 800 "a T2 browse" $T2),$(rec 700 "a no trace"),$(rec 500 "a T1 pay" $T1)"),$(res a h2 "$(rec 850 "a T1 cache miss" $T1)"),$(res b h3 "$(rec 880 "b T1 reserve" $T1),$(rec 780 "b T2 stock" $T2),$(rec 600 "b no trace")")]}"
admin POST /v1/logs -H 'Content-Type: application/json' --data-binary "$LOGS"
check_eq "OTLP/JSON logs of services a and b: 200" 200 "$STATUS"
# span SERVICE SPANID PARENT START_MS_AGO DURATION_MS
span() {
    local p=""
    [ -n "$3" ] && p=",\"parentSpanId\":\"$3\""
    printf '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"%s"}}]},"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"%s"%s,"name":"op","kind":2,"startTimeUnixNano":"%s000000","endTimeUnixNano":"%s000000"}]}]}' \
        "$1" "$T1" "$2" "$p" "$((NOW - $4))" "$((NOW - $4 + $5))"
}
admin POST /v1/traces -H 'Content-Type: application/json' --data-binary \
    "{\"resourceSpans\":[$(span a 00f067aa0ba902b7 "" 950 500),$(span b 00f067aa0ba902b8 00f067aa0ba902b7 890 20)]}"
check_eq "T1's spans: 200" 200 "$STATUS"

GA=%2Fotel%2Fa
# msgs — the messages of the last answer's events, in order, joined by |
msgs() { printf '%s' "$BODY" | py 'print("|".join(e["message"] for e in d["events"]))'; }
# where — group:stream of the last answer's events, in order
where() { printf '%s' "$BODY" | py 'print("|".join(e["group"] + ":" + e["stream"] for e in d["events"]))'; }

# the answers that must be the same before and after a restart; $1 names the run
answers() {
    admin GET "/api/v1/logs/events?group=$GA&trace_id=$T1"
    check_eq "$1: events of /otel/a with trace_id=T1: 200" 200 "$STATUS"
    check_eq "$1: ... exactly T1's lines of a, oldest first" \
        "a T1 login|a T1 cache miss|a T1 pay" "$(msgs)"
    check_eq "$1: ... each with T1's id" "$T1 $T1 $T1" \
        "$(printf '%s' "$BODY" | py 'print(" ".join(e["trace_id"] for e in d["events"]))')"
    admin GET "/api/v1/logs/events?group=$GA&trace_id=$T1X&stream=h1&pattern=pay"
    check_eq "$1: X-Ray form, with stream and pattern: the one line" "a T1 pay" "$(msgs)"
    admin GET "/api/v1/logs/events?group=%2Fotel%2Fb&trace_id=$T2"
    check_eq "$1: T2's line of b" "b T2 stock" "$(msgs)"

    admin GET "/api/v1/traces/$T1/logs"
    check_eq "$1: GET /api/v1/traces/T1/logs: 200" 200 "$STATUS"
    check_eq "$1: ... T1's lines of both groups, oldest first" \
        "a T1 login|b T1 reserve|a T1 cache miss|a T1 pay" "$(msgs)"
    check_eq "$1: ... each with its group and stream" \
        "/otel/a:h1|/otel/b:h3|/otel/a:h2|/otel/a:h1" "$(where)"
    check_eq "$1: ... the range: the spans' widened by 5 minutes" "$((NOW - 950 - 300000))" \
        "$(printf '%s' "$BODY" | py 'import datetime; print(round(datetime.datetime.fromisoformat(d["start"].replace("Z", "+00:00")).timestamp() * 1000))')"
    check_eq "$1: ... trace_id and xray_trace_id" "$T1 $T1X" \
        "$(jget trace_id) $(jget xray_trace_id)"
    local all=$BODY
    admin GET "/api/v1/traces/$T1X/logs"
    check_eq "$1: the X-Ray form of T1 gives the same lines" "$(BODY=$all msgs)" "$(msgs)"
    admin GET "/api/v1/traces/$T1/logs?limit=3"
    local page1 tok
    page1=$(msgs)
    tok=$(jget next_token)
    admin GET "/api/v1/traces/$T1/logs?limit=3&next_token=$tok"
    check_eq "$1: limit=3 then next_token: the same lines in two pages" \
        "a T1 login|b T1 reserve|a T1 cache miss|a T1 pay" "$page1|$(msgs)"
    check_eq "$1: ... the last page has no next_token" "" "$(jget next_token)"
    admin GET "/api/v1/traces/$T9/logs"
    check_eq "$1: an unknown trace: 200, no events" "200 0" "$STATUS $(jget len:events)"
    admin GET "/api/v1/traces/$T1/logs?start=$((NOW - 600))"
    check_eq "$1: start given: the lines from it on" "a T1 pay" "$(msgs)"
}
answers "live"

admin GET "/api/v1/logs/events?group=$GA&trace_id=zz"
check_eq "a malformed trace_id on the events read: 400 InvalidParameter" "400 InvalidParameter" \
    "$STATUS $(jget error.code)"
admin GET "/api/v1/logs/events?group=$GA&trace_id=00000000000000000000000000000000"
check_eq "an all-zero trace_id: 400" 400 "$STATUS"
admin GET "/api/v1/traces/not-a-trace/logs"
check_eq "a malformed id in the path: 400 InvalidParameter" "400 InvalidParameter" \
    "$STATUS $(jget error.code)"
admin GET "/api/v1/traces/$T1/logs?limit=10001"
check_eq "limit over 10000: 400" 400 "$STATUS"
admin GET "/api/v1/traces/$T1/logs?next_token=bogus"
check_eq "a token owl did not make: 400" 400 "$STATUS"
create_key "$ADMIN" '["xray:*"]'
as "$NEW_KEY" GET "/api/v1/traces/$T1/logs"
check_eq "a key with xray:* only may not read the lines (logs:FilterLogEvents): 403" 403 \
    "$STATUS"
as "$NEW_KEY" GET "/api/v1/traces/$T1"
check_eq "... but reads the trace" 200 "$STATUS"

stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
parts=$(find "$DATA/store/logs" -type f -name 'p-*.owp' | wc -l)
check_lt "the shutdown sealed the logs into parts" 0 "$parts"
start_owld --wal-sync none || bail "owld restarts"
answers "restarted"
stop_owld
check_eq "owld exits 0 on SIGTERM again" 0 "$OWLD_RC"
finish

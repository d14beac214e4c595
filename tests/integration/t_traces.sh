#!/bin/bash
# t_traces.sh — owl's trace API against a real owld (traces.py: OTLP JSON and Zipkin v2 spans
# of one trace over several batches read back by W3C, X-Ray and Zipkin 64-bit ids as one tree;
# searches by service, operation, duration, status, filter expression, with pages; Jaeger's
# shapes; errors; another tenant sees nothing), then with the Debian AWS CLI v2: the RED
# statistics of those spans in namespace owl/Traces (get-metric-statistics: Requests and
# Faults sums per service + operation and per service), and an alarm on a Faults metric whose
# webhook payload carries the faulted traces' ids as evidence.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
start_owld || bail "owld starts"
create_key "$ADMIN" '["*"]' 000000000077
[ -n "$NEW_KEY" ] || bail "a key of another tenant"
run_py traces.py "$IT_DIR/traces.py" "$BASE" "$ADMIN" "$NEW_KEY" "$T/facts.json"

[ -x "$AWS" ] || { finish; exit; }
fact() { "$PYTHON" -c "import json; print(json.load(open('$T/facts.json'))$1)" 2>/dev/null; }
T0=$(fact "['t0_ms']")
[ -n "$T0" ] || bail "traces.py wrote its facts"
# stat METRIC DIMS...: the Sum of METRIC over the minute of t0 (waits up to 10 s for the
# statistics thread, which writes every second)
stat() {
    local m=$1 deadline=$(($(now_ms) + 10000)) v=
    shift
    while [ "$(now_ms)" -lt "$deadline" ]; do
        awsc cloudwatch get-metric-statistics --namespace owl/Traces --metric-name "$m" \
            --dimensions "$@" --start-time "$((T0 / 1000))" --end-time "$((T0 / 1000 + 60))" \
            --period 60 --statistics Sum SampleCount
        v=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["Datapoints"]
print("%g %g" % (d[0]["Sum"], d[0]["SampleCount"]) if d else "")' 2>/dev/null)
        [ -n "$v" ] && break
        sleep 0.5
    done
    echo "$v"
}
check_eq "owl/Traces Requests of svc-b op0: 12 (SampleCount 12)" "12 12" \
    "$(stat Requests Name=Service,Value=svc-b Name=Operation,Value=op0)"
check_eq "owl/Traces Faults of svc-b op0: 6 of 12" "6 12" \
    "$(stat Faults Name=Service,Value=svc-b Name=Operation,Value=op0)"
check_eq "owl/Traces Requests of the service svc-b alone: 24" "24 24" \
    "$(stat Requests Name=Service,Value=svc-b)"
check_eq "client spans are not counted (the Zipkin client half of orders)" "1 1" \
    "$(stat Requests Name=Service,Value=orders)"
awsc cloudwatch list-metrics --namespace owl/Traces --metric-name Latency
check_contains "Latency is listed" "$AWS_OUT" '"svc-b"'

# an alarm on Faults of svc-b op0 over the last 5 minutes -> ALARM, evidence = the faulted ids
"$PYTHON" "$IT_DIR/webhook.py" "$T/wport" "$T/hooks.log" &
BG_PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/wport" ] && break; sleep 0.05; done
WPORT=$(cat "$T/wport" 2>/dev/null)
awsc cloudwatch put-metric-alarm --alarm-name faults --namespace owl/Traces \
    --metric-name Faults --dimensions Name=Service,Value=svc-b Name=Operation,Value=op0 \
    --statistic Sum --period 60 --evaluation-periods 5 --datapoints-to-alarm 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold --alarm-actions "http://127.0.0.1:$WPORT/t"
check_eq "an alarm on owl/Traces Faults" 0 "$AWS_RC"
deadline=$(($(now_ms) + 30000))
while [ "$(now_ms)" -lt "$deadline" ] && ! grep -q '"status": 200' "$T/hooks.log" 2>/dev/null; do
    sleep 0.5
done
got=$(grep '"status": 200' "$T/hooks.log" | head -n 1 | "$PYTHON" -c '
import json, sys
b = json.loads(json.loads(sys.stdin.read())["body"])
f = json.load(open(sys.argv[1]))["faulted"]
e = b["evidence"]
ids = [t["traceId"] for t in e["traces"]]
print(b["NewStateValue"], e["provider"], e["service"], e["operation"], sorted(ids) == sorted(f),
      all(t["status"] == "fault" for t in e["traces"]))' "$T/facts.json" 2>&1)
check_eq "the webhook: ALARM with the 6 faulted traces as exemplar evidence" \
    "ALARM traces svc-b op0 True True" "$got"
finish

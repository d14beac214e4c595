#!/bin/bash
# t_logs_metric_filters.sh — CloudWatch Logs metric filters against a real owld with the
# Debian AWS CLI v2 (JSON 1.1 for logs, query protocol for CloudWatch): two filters on the
# Loghub HDFS 2k sample (a term pattern counted with value 1, a space-delimited pattern
# summing the pid field of WARN lines), the 2,000 lines put, get-metric-statistics' Sums
# equal to the counts computed from the file here; test-metric-filter with extractedValues;
# describe (and metricFilterCount) / delete; validation errors; backfill over events put
# before the filter existed gives the same Sum; an alarm on a metric-filter metric goes to
# ALARM and its webhook payload and history carry the matching lines as evidence.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"
HDFS=${OWL_TEST_DATA:-$OWL_SRCDIR/../shared/data}/loghub/HDFS/HDFS_2k.log
[ -f "$HDFS" ] || skip "Loghub HDFS sample not found at $HDFS (set OWL_TEST_DATA)"
start_owld || bail "owld starts"

py() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1" 2>/dev/null; }
NOW=$(now_ms)
T0=$((NOW / 60000 * 60000 - 45 * 60000)) # one line a second from 45 minutes back

# events FILE T0 OUT: the lines as PutLogEvents' logEvents, one a second from T0
events() {
    "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import json, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
t0 = int(sys.argv[2])
json.dump([{"timestamp": t0 + i * 1000, "message": m} for i, m in enumerate(lines)],
          open(sys.argv[3], "w"))
EOF
}
events "$HDFS" "$T0" "$T/hdfs.json"
# the expected figures, from the file itself
N_PR=$(grep -c PacketResponder "$HDFS")
PID_WARN=$(awk '$4 == "WARN" { s += $3 } END { print s }' "$HDFS")
N_WARN=$(awk '$4 == "WARN"' "$HDFS" | wc -l)

# sum_of NS NAME STAT: the sum of get-metric-statistics' STAT over the data's hour
sum_of() {
    awsc cloudwatch get-metric-statistics --namespace "$1" --metric-name "$2" \
        --statistics "$3" --period 60 --start-time $(((T0 - 60000) / 1000)) \
        --end-time $(((NOW + 60000) / 1000))
    printf '%s' "$AWS_OUT" | py "print(round(sum(p['$3'] for p in d['Datapoints'])))"
}

G=/hdfs/mf
awsc logs create-log-group --log-group-name "$G"
awsc logs create-log-stream --log-group-name "$G" --log-stream-name dn
awsc logs put-metric-filter --log-group-name "$G" --filter-name packet-responder \
    --filter-pattern PacketResponder \
    --metric-transformations metricName=PacketResponder,metricNamespace=HDFS,metricValue=1
check_eq "put-metric-filter (term pattern, value 1)" 0 "$AWS_RC"
awsc logs put-metric-filter --log-group-name "$G" --filter-name warn-pid \
    --filter-pattern '[date, time, pid, level = WARN, ...]' \
    --metric-transformations metricName=WarnPid,metricNamespace=HDFS,metricValue='$pid',unit=Count
check_eq "put-metric-filter (space-delimited, \$pid value)" 0 "$AWS_RC"

# validation errors as CloudWatch names them
awsc logs put-metric-filter --log-group-name "$G" --filter-name 'bad:name' --filter-pattern x \
    --metric-transformations metricName=M,metricNamespace=N,metricValue=1
check_contains "a filter name with ':' is InvalidParameterException" "$AWS_ERR" \
    "(InvalidParameterException)"
awsc logs put-metric-filter --log-group-name "$G" --filter-name f --filter-pattern '[a, b' \
    --metric-transformations metricName=M,metricNamespace=N,metricValue=1
check_contains "a malformed pattern names the position" "$AWS_ERR" "position"
awsc logs put-metric-filter --log-group-name "$G" --filter-name f --filter-pattern '[a, b]' \
    --metric-transformations metricName=M,metricNamespace=N,metricValue='$c'
check_contains "a value naming no field is refused" "$AWS_ERR" "names no field"
awsc logs put-metric-filter --log-group-name "$G" --filter-name f --filter-pattern '[a, b]' \
    --metric-transformations 'metricName=M,metricNamespace=N,metricValue=1,defaultValue=0,dimensions={A=$a}'
check_contains "dimensions with a defaultValue are refused" "$AWS_ERR" "default value"
awsc logs put-metric-filter --log-group-name /nope --filter-name f --filter-pattern x \
    --metric-transformations metricName=M,metricNamespace=N,metricValue=1
check_contains "a missing group: ResourceNotFoundException" "$AWS_ERR" "(ResourceNotFoundException)"

awsc logs put-log-events --log-group-name "$G" --log-stream-name dn --log-events "file://$T/hdfs.json"
check_eq "put-log-events of the 2,000 lines" 0 "$AWS_RC"
check_eq "PacketResponder: Sum = $N_PR lines (grep -c)" "$N_PR" "$(sum_of HDFS PacketResponder Sum)"
check_eq "WarnPid: Sum = the pid fields of the $N_WARN WARN lines (awk)" "$PID_WARN" \
    "$(sum_of HDFS WarnPid Sum)"
check_eq "WarnPid: SampleCount = $N_WARN" "$N_WARN" "$(sum_of HDFS WarnPid SampleCount)"

# test-metric-filter: the 3 first lines (INFO) and the first WARN line of the file
awk '$4 == "WARN"' "$HDFS" | head -n 1 >"$T/one_warn"
"$PYTHON" -c '
import json, sys
ls = [l.rstrip("\n") for l in open(sys.argv[1])][:3] + [open(sys.argv[2]).read().rstrip("\n")]
json.dump(ls, open(sys.argv[3], "w"))' "$HDFS" "$T/one_warn" "$T/msgs.json"
awsc logs test-metric-filter --filter-pattern '[date, time, pid, level = WARN, ...]' \
    --log-event-messages "file://$T/msgs.json"
got=$(printf '%s' "$AWS_OUT" | py 'm=d["matches"]; print(len(m), m[0]["eventNumber"], m[0]["extractedValues"]["$level"], m[0]["extractedValues"]["$pid"])')
want_pid=$(awk '{print $3}' "$T/one_warn")
check_eq "test-metric-filter: the WARN line matches, with its extracted values" \
    "1 4 WARN $want_pid" "$got"

awsc logs describe-metric-filters --log-group-name "$G"
got=$(printf '%s' "$AWS_OUT" | py 'print(" ".join(f["filterName"]+"/"+f["metricTransformations"][0]["metricValue"] for f in d["metricFilters"]))')
check_eq "describe-metric-filters: both, by name" 'packet-responder/1 warn-pid/$pid' "$got"
awsc logs describe-metric-filters --metric-name WarnPid --metric-namespace HDFS
check_eq "... by metric" 1 "$(printf '%s' "$AWS_OUT" | py 'print(len(d["metricFilters"]))')"
awsc logs describe-log-groups --log-group-name-prefix "$G"
check_eq "describe-log-groups: metricFilterCount 2" 2 \
    "$(printf '%s' "$AWS_OUT" | py 'print(d["logGroups"][0]["metricFilterCount"])')"
awsc logs delete-metric-filter --log-group-name "$G" --filter-name warn-pid
check_eq "delete-metric-filter" 0 "$AWS_RC"
# the same call again in the same second is the very same signed write, which owld refuses as
# a replay (docs/api.md); a second later it is signed anew
sleep 1
awsc logs delete-metric-filter --log-group-name "$G" --filter-name warn-pid
check_contains "... twice: ResourceNotFoundException" "$AWS_ERR" "(ResourceNotFoundException)"
awsc logs describe-metric-filters --log-group-name "$G"
check_eq "one filter left" 1 "$(printf '%s' "$AWS_OUT" | py 'print(len(d["metricFilters"]))')"

# backfill: the same lines into a group without filters, then the filter, then the backfill
B=/hdfs/backfill
awsc logs create-log-group --log-group-name "$B"
awsc logs create-log-stream --log-group-name "$B" --log-stream-name dn
awsc logs put-log-events --log-group-name "$B" --log-stream-name dn --log-events "file://$T/hdfs.json"
awsc logs put-metric-filter --log-group-name "$B" --filter-name pr --filter-pattern PacketResponder \
    --metric-transformations metricName=PacketResponder,metricNamespace=HDFS-Backfill,metricValue=1
check_eq "no datapoints before the backfill" 0 "$(sum_of HDFS-Backfill PacketResponder Sum)"
admin POST /api/v1/logs/metric-filters/backfill -H 'Content-Type: application/json' \
    --data-binary "{\"logGroupName\":\"$B\",\"filterName\":\"pr\",\"startTime\":$T0,\"endTime\":$NOW}"
check_eq "backfill answers 200" 200 "$STATUS"
check_eq "... scanned 2,000 events, matched $N_PR" "2000 $N_PR" "$(jget events_scanned) $(jget matched)"
check_eq "backfill: the same Sum as at ingest" "$N_PR" "$(sum_of HDFS-Backfill PacketResponder Sum)"
admin POST /api/v1/logs/metric-filters/backfill -H 'Content-Type: application/json' \
    --data-binary "{\"logGroupName\":\"$B\",\"filterName\":\"nope\",\"startTime\":$T0,\"endTime\":$NOW}"
check_eq "backfill of an unknown filter: 404" 404 "$STATUS"
admin POST /api/v1/logs/metric-filters/backfill -H 'Content-Type: application/json' \
    --data-binary '{"logGroupName":"x"}'
check_eq "backfill without the fields: 400" 400 "$STATUS"

# an alarm on a metric-filter metric: ALARM with the matching lines as evidence
"$PYTHON" "$IT_DIR/webhook.py" "$T/wport" "$T/hooks.log" &
WEBHOOK=$!
for _ in $(seq 100); do [ -s "$T/wport" ] && break; sleep 0.05; done
WPORT=$(cat "$T/wport" 2>/dev/null)
L=/app/live
awsc logs create-log-group --log-group-name "$L"
awsc logs create-log-stream --log-group-name "$L" --log-stream-name web
awsc logs put-metric-filter --log-group-name "$L" --filter-name errors --filter-pattern ERROR \
    --metric-transformations metricName=Errors,metricNamespace=LiveApp,metricValue=1
awsc cloudwatch put-metric-alarm --alarm-name mf-errors --namespace LiveApp --metric-name Errors \
    --statistic Sum --period 60 --evaluation-periods 1 --threshold 0 \
    --comparison-operator GreaterThanThreshold --alarm-actions "http://127.0.0.1:$WPORT/mf"
check_eq "an alarm on the metric filter's metric" 0 "$AWS_RC"
in_alarm() { # puts an ERROR and an INFO line each 2 s, until the webhook got the ALARM (150 s)
    local deadline=$(($(now_ms) + 150000)) i=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        i=$((i + 1))
        printf '2026-01-01T00:00:00Z ERROR disk full on node-%d\n2026-01-01T00:00:00Z INFO ok %d\n' \
            "$i" "$i" | sed "s/2026-01-01T00:00:00Z/$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)/" >"$T/live.txt"
        as "$ADMIN" POST "/api/v1/logs?group=$L&stream=web" -H 'Content-Type: text/plain' \
            --data-binary "@$T/live.txt"
        grep -q '"path": "/mf"' "$T/hooks.log" 2>/dev/null && return 0
        sleep 2
    done
    return 1
}
check "the alarm goes to ALARM and its webhook is called" in_alarm
got=$(grep '"path": "/mf"' "$T/hooks.log" | head -n 1 | "$PYTHON" -c '
import json, sys
b = json.loads(json.loads(sys.stdin.read())["body"])
e = b["evidence"]
ls = [l["message"] for l in e["lines"]]
print(b["NewStateValue"], e["provider"], e["logGroupName"], e["filterName"], len(ls) > 0,
      all("ERROR disk full" in m for m in ls), len(ls) <= 10)' 2>&1)
check_eq "the payload's evidence: the matching lines of the group, only those" \
    "ALARM logs /app/live errors True True True" "$got"
awsc cloudwatch describe-alarm-history --alarm-name mf-errors --history-item-type StateUpdate
check_contains "the history item carries the evidence" "$AWS_OUT" 'ERROR disk full on node-'
kill "$WEBHOOK" 2>/dev/null
wait "$WEBHOOK" 2>/dev/null

check_logs_clean
finish

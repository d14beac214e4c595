#!/bin/bash
# t_alarms.sh — CloudWatch metric alarms against a real owld with the Debian AWS CLI v2 (query
# protocol): put-metric-alarm on a 10-second high-resolution metric; breaching data takes it
# to ALARM within two periods (plus the second the evaluator waits), recovery to OK;
# describe-alarm-history shows every change with its reason data; set-alarm-state;
# validation errors as CloudWatch gives them; webhooks (webhook.py on loopback): one failing
# three times is retried and delivered once with the payload, one hanging holds nothing
# back; delete-alarms all or nothing; kill -9 and restart keep the alarm, its state and its
# history.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"
# the test evidence provider (docs/api/alarms.md, "Evidence") answers for namespace HookApp
export OWL_TEST_EVIDENCE_NS=HookApp
start_owld || bail "owld starts"


# the state of alarm $1 ("" when there is none). Each call asks with another MaxRecords: owld
# refuses a signed request it has already seen (the CLI signs to the second), and a poll may
# ask the same twice within a second.
state_of() {
    local n
    n=$(( ($(cat "$T/state_n" 2>/dev/null || echo 0) % 100) + 1 ))
    echo "$n" >"$T/state_n"
    awsc cloudwatch describe-alarms --alarm-names "$1" --max-records "$n"
    printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["MetricAlarms"]
print(a[0]["StateValue"] if a else "")' 2>/dev/null
}

put_value() {
    awsc cloudwatch put-metric-data --namespace AlarmApp --metric-name Latency \
        --dimensions host=a --value "$1" --storage-resolution 1
}

# waits up to $2 seconds for alarm hot to reach state $1, putting value $3 every second
wait_state() {
    local deadline=$(($(now_ms) + $2 * 1000)) s=""
    while [ "$(now_ms)" -lt "$deadline" ]; do
        put_value "$3"
        s=$(state_of hot)
        [ "$s" = "$1" ] && break
        sleep 1
    done
    printf '%s' "$s"
}

awsc cloudwatch put-metric-alarm --alarm-name hot --alarm-description "latency is high" \
    --namespace AlarmApp --metric-name Latency --dimensions Name=host,Value=a \
    --statistic Maximum --period 10 --evaluation-periods 2 --datapoints-to-alarm 2 \
    --threshold 100 --comparison-operator GreaterThanThreshold --treat-missing-data missing \
    --alarm-actions http://127.0.0.1:9/hook
check_eq "put-metric-alarm exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
check_eq "a new alarm is INSUFFICIENT_DATA" INSUFFICIENT_DATA "$(state_of hot)"
awsc cloudwatch describe-alarms --alarm-names hot
got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["MetricAlarms"][0]
print(a["AlarmName"], a["Statistic"], a["Period"], a["EvaluationPeriods"], a["DatapointsToAlarm"],
      float(a["Threshold"]), a["ComparisonOperator"], a["TreatMissingData"],
      "%s=%s" % (a["Dimensions"][0]["Name"], a["Dimensions"][0]["Value"]), a["AlarmActions"][0])' 2>&1)
check_eq "describe-alarms echoes the definition" \
    "hot Maximum 10 2 2 100.0 GreaterThanThreshold missing host=a http://127.0.0.1:9/hook" "$got"
[ -n "$got" ] || echo "# rc $AWS_RC: $AWS_OUT $AWS_ERR"

t0=$(now_ms)
got=$(wait_state ALARM 40 250)
el=$(($(now_ms) - t0))
check_eq "breaching data (250 > 100) takes it to ALARM" ALARM "$got"
check "... within two 10 s periods and the evaluator's second ($el ms)" test "$el" -le 32000
awsc cloudwatch describe-alarms --state-value ALARM
check_contains "describe-alarms --state-value ALARM lists it" "$AWS_OUT" '"AlarmName": "hot"'
check_contains "... with CloudWatch's reason" "$AWS_OUT" "Threshold Crossed: 2 out of the last 2 datapoints [250.0"
check_contains "... and its reason data" "$AWS_OUT" 'recentDatapoints'

got=$(wait_state OK 40 20)
check_eq "data within the threshold brings it back to OK" OK "$got"

awsc cloudwatch describe-alarm-history --alarm-name hot --history-item-type StateUpdate
check_eq "describe-alarm-history exits 0" 0 "$AWS_RC"
got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
items = json.load(sys.stdin)["AlarmHistoryItems"]
data = [json.loads(i["HistoryData"]) for i in items]
print(";".join(sorted(i["HistorySummary"] for i in items)),
      all("stateReasonData" in d["newState"] for d in data))')
check_eq "history: both changes, each with reason data" \
    "Alarm updated from ALARM to OK;Alarm updated from INSUFFICIENT_DATA to ALARM True" "$got"
awsc cloudwatch describe-alarm-history --alarm-name hot --history-item-type ConfigurationUpdate
check_contains "history: the creation" "$AWS_OUT" 'Alarm \"hot\" created'

awsc cloudwatch set-alarm-state --alarm-name hot --state-value ALARM --state-reason "by hand"
check_eq "set-alarm-state exits 0" 0 "$AWS_RC"
awsc cloudwatch describe-alarm-history --alarm-name hot --history-item-type StateUpdate \
    --max-records 99
check_contains "set-alarm-state is in the history with its reason" "$AWS_OUT" 'by hand'
awsc cloudwatch set-alarm-state --alarm-name nope --state-value ALARM --state-reason x
check_contains "set-alarm-state of an unknown alarm: ResourceNotFound" "$AWS_ERR" ResourceNotFound
awsc cloudwatch set-alarm-state --alarm-name hot --state-value ALARM --state-reason x \
    --state-reason-data '{not json'
check_contains "set-alarm-state with bad reason data: InvalidFormat" "$AWS_ERR" InvalidFormat

# validation: each answered as CloudWatch does
bad() {
    awsc cloudwatch put-metric-alarm --alarm-name bad --namespace AlarmApp --metric-name Latency \
        --statistic Maximum --threshold 1 "$@"
}
bad --period 45 --evaluation-periods 1 --comparison-operator GreaterThanThreshold
check_contains "Period 45: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
bad --period 3600 --evaluation-periods 25 --comparison-operator GreaterThanThreshold
check_contains "25 x 3600 s is over a day" "$AWS_ERR" 86400
bad --period 60 --evaluation-periods 2 --datapoints-to-alarm 3 --comparison-operator GreaterThanThreshold
check_contains "DatapointsToAlarm > EvaluationPeriods" "$AWS_ERR" DatapointsToAlarm
bad --period 60 --evaluation-periods 1 --comparison-operator GreaterThanUpperThreshold
check_contains "an anomaly band operator is refused, saying why" "$AWS_ERR" "anomaly detection"
bad --period 60 --evaluation-periods 1 --comparison-operator GreaterThanThreshold \
    --treat-missing-data sometimes
check_contains "TreatMissingData sometimes: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
awsc cloudwatch put-metric-alarm --alarm-name bad --namespace AlarmApp --metric-name Latency \
    --period 60 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanThreshold
check_contains "no statistic: MissingParameter" "$AWS_ERR" MissingParameter
awsc cloudwatch put-metric-alarm --alarm-name "$(printf 'n%.0s' $(seq 256))" \
    --namespace AlarmApp --metric-name Latency --statistic Maximum --threshold 1 --period 60 \
    --evaluation-periods 1 --comparison-operator GreaterThanThreshold
check_contains "a 256-character name: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
bad --period 60 --evaluation-periods 1 --comparison-operator GreaterThanThreshold \
    --alarm-description "$(printf 'd%.0s' $(seq 1025))"
check_contains "a 1025-character description: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
bad --period 60 --evaluation-periods 1 --comparison-operator GreaterThanThreshold \
    --alarm-actions http://127.0.0.1:9/1 http://127.0.0.1:9/2 http://127.0.0.1:9/3 \
    http://127.0.0.1:9/4 http://127.0.0.1:9/5 http://127.0.0.1:9/6
check_contains "six alarm actions: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
awsc cloudwatch put-metric-alarm --alarm-name bad --namespace AlarmApp --metric-name Latency \
    --extended-statistic p101 --threshold 1 --period 60 --evaluation-periods 1 \
    --comparison-operator GreaterThanThreshold
check_contains "ExtendedStatistic p101: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
bad --extended-statistic p99 --period 60 --evaluation-periods 1 \
    --comparison-operator GreaterThanThreshold
check_contains "Statistic and ExtendedStatistic together: refused" "$AWS_ERR" InvalidParameter
bad --period 60 --evaluation-periods 1 --comparison-operator GreaterThanThreshold --unit Parsecs
check_contains "an unknown unit: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
awsc cloudwatch put-metric-alarm --alarm-name bad --namespace AlarmApp --metric-name Latency \
    --statistic Maximum --period 60 --evaluation-periods 1 \
    --comparison-operator GreaterThanThreshold
check_contains "no threshold: MissingParameter" "$AWS_ERR" MissingParameter
bad --period 60 --evaluation-periods 1 --comparison-operator Sideways
check_contains "an unknown operator: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
awsc cloudwatch describe-alarms --max-records 101
check_contains "describe-alarms MaxRecords 101: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
awsc cloudwatch describe-alarms --alarm-names x --alarm-name-prefix x
check_contains "AlarmNames with AlarmNamePrefix: InvalidParameterCombination" "$AWS_ERR" \
    InvalidParameterCombination
awsc cloudwatch set-alarm-state --alarm-name hot --state-value SOMETIMES --state-reason x
check_contains "set-alarm-state to an unknown state: InvalidParameterValue" "$AWS_ERR" \
    InvalidParameterValue
check_eq "no refused alarm was stored" "" "$(state_of bad)"

# an alarm on metric math: the error rate 100 * errors / requests over 10 s periods
cat >"$T/rate.json" <<'JSON'
[{"Id": "errors", "ReturnData": false,
  "MetricStat": {"Metric": {"Namespace": "MathApp", "MetricName": "Errors"}, "Period": 10,
                 "Stat": "Sum"}},
 {"Id": "requests", "ReturnData": false,
  "MetricStat": {"Metric": {"Namespace": "MathApp", "MetricName": "Requests"}, "Period": 10,
                 "Stat": "Sum"}},
 {"Id": "rate", "Expression": "100 * errors / requests", "Label": "error rate",
  "ReturnData": true}]
JSON
awsc cloudwatch put-metric-alarm --alarm-name errrate --metrics "file://$T/rate.json" \
    --evaluation-periods 1 --threshold 10 --comparison-operator GreaterThanThreshold
check_eq "put-metric-alarm with Metrics (metric math) exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
awsc cloudwatch describe-alarms --alarm-names errrate
check_eq "describe-alarms shows its Metrics" "errors requests rate 100 * errors / requests" \
    "$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
m = json.load(sys.stdin)["MetricAlarms"][0]["Metrics"]
print(" ".join(q["Id"] for q in m), m[2]["Expression"])' 2>&1)"
rate_state() { # errors requests: puts both each second until errrate leaves its state (40 s)
    local deadline=$(($(now_ms) + 40000)) s=""
    while [ "$(now_ms)" -lt "$deadline" ]; do
        awsc cloudwatch put-metric-data --namespace MathApp --metric-data \
            "MetricName=Errors,Value=$1,StorageResolution=1" \
            "MetricName=Requests,Value=$2,StorageResolution=1"
        s=$(state_of errrate)
        [ "$s" = "$3" ] && break
        sleep 1
    done
    printf '%s' "$s"
}
check_eq "5 errors in 20 requests (25% > 10%) take it to ALARM" ALARM "$(rate_state 5 20 ALARM)"
check_eq "1 error in 100 requests brings it back to OK" OK "$(rate_state 1 100 OK)"
awsc cloudwatch describe-alarm-history --alarm-name errrate --history-item-type StateUpdate
check_contains "its history has the expression's datapoints" "$AWS_OUT" "25.0"
sed 's/"ReturnData": false/"ReturnData": true/' "$T/rate.json" >"$T/rate2.json"
awsc cloudwatch put-metric-alarm --alarm-name bad --metrics "file://$T/rate2.json" \
    --evaluation-periods 1 --threshold 10 --comparison-operator GreaterThanThreshold
check_contains "Metrics with three ReturnData: InvalidParameterValue" "$AWS_ERR" ReturnData
awsc cloudwatch put-metric-alarm --alarm-name bad --metrics "file://$T/rate.json" \
    --metric-name Errors --evaluation-periods 1 --threshold 10 \
    --comparison-operator GreaterThanThreshold
check_contains "Metrics with MetricName: InvalidParameterCombination" "$AWS_ERR" \
    InvalidParameterCombination
sed 's/100 \* errors/100 * nothing/' "$T/rate.json" >"$T/rate3.json"
awsc cloudwatch put-metric-alarm --alarm-name bad --metrics "file://$T/rate3.json" \
    --evaluation-periods 1 --threshold 10 --comparison-operator GreaterThanThreshold
check_contains "an expression naming an unknown id: refused, naming it" "$AWS_ERR" nothing

# webhooks: one that fails three times then answers 200 is retried and delivered once; one
# that hangs does not hold back the evaluation of the other alarm
"$PYTHON" "$IT_DIR/webhook.py" "$T/wport" "$T/hooks.log" &
WEBHOOK=$!
for _ in $(seq 100); do [ -s "$T/wport" ] && break; sleep 0.05; done
WPORT=$(cat "$T/wport" 2>/dev/null)
hook_alarm() { # name url
    awsc cloudwatch put-metric-alarm --alarm-name "$1" --namespace HookApp --metric-name Load \
        --statistic Maximum --period 10 --evaluation-periods 1 --threshold 100 \
        --comparison-operator GreaterThanThreshold --alarm-actions "$2" --ok-actions "$2"
}
hook_alarm flaky "http://127.0.0.1:$WPORT/flaky/a"
check_eq "an alarm with a flaky webhook" 0 "$AWS_RC"
hook_alarm stuck "http://127.0.0.1:$WPORT/hang"
check_eq "an alarm with a hanging webhook" 0 "$AWS_RC"
both_in() { # state value: puts value each second until both alarms are in state (40 s at most)
    local deadline=$(($(now_ms) + 40000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        awsc cloudwatch put-metric-data --namespace HookApp --metric-name Load --value "$2" \
            --storage-resolution 1
        [ "$(state_of flaky)" = "$1" ] && [ "$(state_of stuck)" = "$1" ] && return 0
        sleep 1
    done
    return 1
}
check "both alarms reach ALARM" both_in ALARM 500
delivered() { # path status count: waits up to 30 s for count lines
    local deadline=$(($(now_ms) + 30000)) n=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        n=$(grep -c "\"path\": \"$1\", \"status\": $2" "$T/hooks.log" 2>/dev/null)
        [ "${n:-0}" -ge "$3" ] && break
        sleep 0.5
    done
    echo "${n:-0}"
}
check_eq "the flaky webhook got three failed POSTs" 3 "$(delivered /flaky/a 500 3)"
check_eq "... then the delivery, once" 1 "$(delivered /flaky/a 200 1)"
got=$(grep '"status": 200' "$T/hooks.log" | head -n 1 | "$PYTHON" -c '
import json, sys
b = json.loads(json.loads(sys.stdin.read())["body"])
print(b["AlarmName"], b["NewStateValue"], b["OldStateValue"],
      "stateReasonData" in b["HistoryData"]["newState"], "*flaky* is now ALARM" in b["text"],
      b["evidence"]["provider"], b["evidence"]["lines"][0], b["HistoryData"]["evidence"]["state"])' 2>&1)
check_eq "the payload: alarm, states, the datapoints, a Slack text, the provider's evidence" \
    "flaky ALARM INSUFFICIENT_DATA True True test test evidence line 1 ALARM" "$got"
awsc cloudwatch describe-alarm-history --alarm-name flaky --history-item-type Action
got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
s = [i["HistorySummary"] for i in json.load(sys.stdin)["AlarmHistoryItems"]]
print(sum("retrying" in x for x in s), sum(x.startswith("Successfully") for x in s))')
check_eq "history: three retried attempts and one success" "3 1" "$got"
awsc cloudwatch describe-alarm-history --alarm-name flaky --history-item-type StateUpdate
check_contains "the history item carries the evidence" "$AWS_OUT" 'test evidence line 2'
t0=$(now_ms)
check "while a webhook hangs, both alarms still go back to OK" both_in OK 5
check "... promptly ($(($(now_ms) - t0)) ms)" test $(($(now_ms) - t0)) -le 40000
awsc cloudwatch describe-alarms-for-metric --namespace HookApp --metric-name Load
check_eq "describe-alarms-for-metric names both alarms of the metric" "flaky stuck" \
    "$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
print(" ".join(sorted(a["AlarmName"] for a in json.load(sys.stdin)["MetricAlarms"])))')"
awsc cloudwatch disable-alarm-actions --alarm-names flaky
check_eq "disable-alarm-actions exits 0" 0 "$AWS_RC"
awsc cloudwatch describe-alarms --alarm-names flaky
check_contains "... and describe-alarms shows it" "$AWS_OUT" '"ActionsEnabled": false'
n0=$(grep -c '"path": "/flaky/a"' "$T/hooks.log")
check "with actions disabled the alarm still changes state" both_in ALARM 500
sleep 3
check_eq "... but its webhook is not called" "$n0" "$(grep -c '"path": "/flaky/a"' "$T/hooks.log")"
n1=$(grep -c '"path": "/flaky/a", "status": 200' "$T/hooks.log")
awsc cloudwatch enable-alarm-actions --alarm-names flaky nope
check_eq "enable-alarm-actions (an unknown name is skipped) exits 0" 0 "$AWS_RC"
check "enabled again, the alarm goes back to OK" both_in OK 5
check_eq "... and its webhook is called for that" $((n1 + 1)) "$(delivered /flaky/a 200 $((n1 + 1)))"
# a composite alarm over the two (boto3 and the AWS CLI alike send AlarmRule as a string)
awsc cloudwatch put-composite-alarm --alarm-name pair --alarm-rule "ALARM(flaky) OR ALARM(stuck)"
check_eq "put-composite-alarm exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
awsc cloudwatch describe-alarms --alarm-types CompositeAlarm
check_eq "describe-alarms --alarm-types CompositeAlarm: the rule and state" \
    "pair ALARM(flaky) OR ALARM(stuck) OK" "$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["CompositeAlarms"][0]
print(a["AlarmName"], a["AlarmRule"], a["StateValue"])')"
awsc cloudwatch set-alarm-state --alarm-name stuck --state-value ALARM --state-reason "child"
awsc cloudwatch describe-alarm-history --alarm-name pair --history-item-type StateUpdate \
    --alarm-types CompositeAlarm # as CloudWatch: metric alarms' history only without it
check_contains "a child's change moves the composite at once" "$AWS_OUT" "Alarm updated from OK to ALARM"
awsc cloudwatch put-composite-alarm --alarm-name bad --alarm-rule "ALARM(flaky) AND"
check_contains "a malformed rule: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
check_contains "... naming the position" "$AWS_ERR" "at "
# an ActionsSuppressor: children whose state only set-alarm-state moves (no data, ignore)
for a in c1 s1; do
    awsc cloudwatch put-metric-alarm --alarm-name "$a" --namespace Quiet --metric-name X \
        --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
        --comparison-operator GreaterThanThreshold --treat-missing-data ignore
    awsc cloudwatch set-alarm-state --alarm-name "$a" --state-value OK --state-reason start
done
awsc cloudwatch put-composite-alarm --alarm-name held --alarm-rule "ALARM(c1)" \
    --alarm-actions "http://127.0.0.1:$WPORT/held" --actions-suppressor s1 \
    --actions-suppressor-wait-period 4 --actions-suppressor-extension-period 3
check_eq "put-composite-alarm with an ActionsSuppressor exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
awsc cloudwatch put-composite-alarm --alarm-name held2 --alarm-rule "ALARM(c1)" \
    --actions-suppressor s1
check_contains "a suppressor without its periods: MissingParameter" "$AWS_ERR" MissingParameter
awsc cloudwatch put-composite-alarm --alarm-name held2 --alarm-rule "ALARM(c1)" \
    --actions-suppressor nope --actions-suppressor-wait-period 4 \
    --actions-suppressor-extension-period 3
check_contains "an unknown suppressor: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
suppressed_by() {
    awsc cloudwatch describe-alarms --alarm-types CompositeAlarm --alarm-names held \
        --max-records "$1"
    printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["CompositeAlarms"][0]
print(a["StateValue"], a.get("ActionsSuppressedBy", "-"), a["ActionsSuppressor"],
      a["ActionsSuppressorWaitPeriod"], a["ActionsSuppressorExtensionPeriod"])'
}
posts_to_held() { grep -c '"path": "/held"' "$T/hooks.log"; }
waited_for_post() { # count: ms until the receiver has that many POSTs to /held (15 s at most)
    local t0 deadline
    t0=$(now_ms)
    deadline=$((t0 + 15000))
    while [ "$(now_ms)" -lt "$deadline" ] && [ "$(posts_to_held)" -lt "$1" ]; do sleep 0.1; done
    [ "$(posts_to_held)" -ge "$1" ] && echo $(($(now_ms) - t0)) || echo never
}
# held_check NAME EXPECTED MARKER T0 WINDOW_MS — describe-alarms shows EXPECTED while the
# suppression runs; an answer that came WINDOW_MS - 500 ms or more after T0 (a slow machine: a
# sanitizer build) may already be past it, and then only the state (ALARM) is checked. When
# the wait really ended is checked by the receiver's clock (post_ms below).
held_check() {
    local got el
    got=$(suppressed_by "$3")
    el=$(($(now_ms) - $4))
    if [ "$el" -lt $(($5 - 500)) ]; then
        check_eq "$1" "$2" "$got"
    else
        echo "# the answer came $el ms after the change, too late to see the suppression"
        check_eq "$1 (the state only, $el ms late)" ALARM "${got%% *}"
    fi
}
# post_ms K — when the receiver got the K-th POST to /held (its clock, Unix ms), or 0
post_ms() {
    grep '"path": "/held"' "$T/hooks.log" | sed -n "${1}p" | "$PYTHON" -c '
import json, sys
print(json.loads(sys.stdin.readline())["ms"])' 2>/dev/null || echo 0
}
t0=$(now_ms)
awsc cloudwatch set-alarm-state --alarm-name c1 --state-value ALARM --state-reason go
held_check "the composite goes to ALARM, its actions held for the wait period" \
    "ALARM WaitPeriod s1 4 3" 11 "$t0" 4000
# When the POST arrived is the receiver's clock, not this script's: a slow CLI call on a busy
# machine must not make the wait look shorter or longer than it was.
waited_for_post 1 >/dev/null
waited=$(($(post_ms 1) - t0))
check "... nothing posted within it: the POST comes once the 4 s wait is over (${waited} ms)" \
    test "$waited" -ge 3900 -a "$waited" -le 9000
check_eq "... and the suppression is over" "ALARM - s1 4 3" "$(suppressed_by 12)"
awsc cloudwatch set-alarm-state --alarm-name c1 --state-value OK --state-reason back
awsc cloudwatch set-alarm-state --alarm-name s1 --state-value ALARM --state-reason quiet
awsc cloudwatch set-alarm-state --alarm-name c1 --state-value ALARM --state-reason again
check_eq "with the suppressor in ALARM: suppressed by Alarm" "ALARM Alarm s1 4 3" \
    "$(suppressed_by 13)"
sleep 5
check_eq "... past the wait period, still nothing posted" 1 "$(posts_to_held)"
t0=$(now_ms)
awsc cloudwatch set-alarm-state --alarm-name s1 --state-value OK --state-reason over
held_check "the suppressor leaves ALARM: the extension period" "ALARM ExtensionPeriod s1 4 3" \
    14 "$t0" 3000
waited_for_post 2 >/dev/null
waited=$(($(post_ms 2) - t0))
check "... the POST comes once the 3 s extension is over (${waited} ms)" \
    test "$waited" -ge 2900 -a "$waited" -le 8000
awsc cloudwatch describe-alarm-history --alarm-name held --history-item-type Action \
    --alarm-types CompositeAlarm
check_contains "the history tells the suppressions" "$AWS_OUT" "Actions suppressed by ExtensionPeriod"
kill "$WEBHOOK" 2>/dev/null
wait "$WEBHOOK" 2>/dev/null

# boto3 (RPC v2 CBOR) creates, describes and deletes alarms
if "$PYTHON" -c 'import boto3' 2>/dev/null; then
    run_py "alarms.py" "$IT_DIR/alarms.py" "$PORT" "$ADMIN_ID" "${ADMIN#*:}"
else
    echo "# SKIP the boto3 part: python3 has no boto3"
fi

# kill -9 and restart: the alarm, its state and history come back, evaluation goes on
before=$(state_of hot)
stop_owld KILL
start_owld || bail "owld restarts after kill -9"
check_eq "after kill -9 the alarm keeps its state" "$before" "$(state_of hot)"
awsc cloudwatch describe-alarm-history --alarm-name hot
check_contains "... and its history" "$AWS_OUT" "Alarm updated from INSUFFICIENT_DATA to ALARM"
got=$(wait_state ALARM 40 300)
check_eq "evaluation resumes after the restart" ALARM "$got"

awsc cloudwatch delete-alarms --alarm-names hot nope
check_contains "delete-alarms with an unknown name: ResourceNotFound" "$AWS_ERR" ResourceNotFound
check_eq "... and nothing deleted" ALARM "$(state_of hot)"
awsc cloudwatch delete-alarms --alarm-names hot
check_eq "delete-alarms exits 0" 0 "$AWS_RC"
check_eq "the alarm is gone" "" "$(state_of hot)"
finish

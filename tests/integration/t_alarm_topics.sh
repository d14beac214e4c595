#!/bin/bash
# t_alarm_topics.sh — alarm actions naming SNS topics, delivered to the webhooks owld maps them
# to (--alarm-topic TOPIC=URL, config key alarm_topic), against a real owld with the Debian AWS
# CLI v2 and the loopback receiver webhook.py: a malformed mapping stops owld at startup; a
# topic's URLs each get the SNS envelope (one MessageId) with the alarm JSON inside, each with
# its own retries and Action history items; a bare topic name matches any region and account;
# an unmapped topic is one failed item; a config file maps as the flags do; actions that owl
# cannot deliver are refused with CloudWatch's error code.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"

# a malformed --alarm-topic stops owld before it touches the data directory
refused() { # flag-value expected-text
    local out rc
    out=$(timeout 10 "$OWLD" --listen 127.0.0.1:0 --data-dir "$T/never" --alarm-topic "$1" 2>&1)
    rc=$?
    check_eq "--alarm-topic '$1' stops owld at startup (exit 2)" 2 "$rc"
    check_contains "... saying why" "$out" "--alarm-topic: $2"
}
refused "ops" "'ops' is not TOPIC=URL"
refused "ops=ftp://127.0.0.1/x" "'ftp://127.0.0.1/x' is not a webhook URL"
refused "arn:aws:sqs:us-east-1:123456789012:q=http://127.0.0.1/x" \
    "'arn:aws:sqs:us-east-1:123456789012:q' is not an SNS topic ARN or name"
check "... and creates no data directory" test ! -e "$T/never"

"$PYTHON" "$IT_DIR/webhook.py" "$T/wport" "$T/hooks.log" &
BG_PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/wport" ] && break; sleep 0.05; done
WPORT=$(cat "$T/wport" 2>/dev/null)
[ -n "$WPORT" ] || bail "webhook.py starts"
HOOK=http://127.0.0.1:$WPORT
ACCT=123456789012
OPS=arn:aws:sns:us-east-1:$ACCT:ops
PAGER=arn:aws:sns:eu-west-1:999999999999:pager
NOBODY=arn:aws:sns:us-east-1:$ACCT:nobody

start_owld --alarm-topic "$OPS=$HOOK/ops/a" --alarm-topic "$OPS=$HOOK/flaky/ops" \
    --alarm-topic "pager=$HOOK/pager" || bail "owld starts with three --alarm-topic flags"
check_contains "owld logs how many topics are mapped" "$(cat "$OWLD_LOG")" \
    "2 SNS topics mapped to webhooks"

# history_of NAME — the HistorySummary lines of alarm NAME's Action items. Each call asks with
# another MaxRecords: owld refuses a signed request it has already seen within the second.
history_of() {
    local n
    n=$(( ($(cat "$T/hist_n" 2>/dev/null || echo 0) % 50) + 51 ))
    echo "$n" >"$T/hist_n"
    awsc cloudwatch describe-alarm-history --alarm-name "$1" --history-item-type Action \
        --max-records "$n"
    printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
for i in json.load(sys.stdin)["AlarmHistoryItems"]:
    print(i["HistorySummary"])' 2>/dev/null
}

# delivered PATH STATUS COUNT — waits up to 30 s for COUNT POSTs to PATH answered STATUS
delivered() {
    local deadline=$(($(now_ms) + 30000)) n=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        n=$(grep -c "\"path\": \"$1\", \"status\": $2" "$T/hooks.log" 2>/dev/null)
        [ "${n:-0}" -ge "$3" ] && break
        sleep 0.5
    done
    echo "${n:-0}"
}

# items MATCH COUNT — waits up to 30 s for COUNT Action items of alarm topical containing MATCH
items() {
    local deadline=$(($(now_ms) + 30000)) n=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        n=$(history_of topical | grep -cF -- "$1")
        [ "${n:-0}" -ge "$2" ] && break
        sleep 0.5
    done
    echo "${n:-0}"
}

awsc cloudwatch put-metric-alarm --alarm-name topical --alarm-description "load is high" \
    --namespace TopicApp --metric-name Load --statistic Maximum --period 60 \
    --evaluation-periods 1 --threshold 100 --comparison-operator GreaterThanThreshold \
    --alarm-actions "$OPS" "$PAGER" "$HOOK/plain" --ok-actions "$NOBODY"
check_eq "put-metric-alarm with SNS topic actions exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"

awsc cloudwatch set-alarm-state --alarm-name topical --state-value ALARM \
    --state-reason "by hand, to the topics"
check_eq "set-alarm-state ALARM exits 0" 0 "$AWS_RC"
check_eq "the topic's first webhook got one POST" 1 "$(delivered /ops/a 200 1)"
check_eq "the bare name 'pager' maps the topic in any region and account" 1 \
    "$(delivered /pager 200 1)"
check_eq "the plain URL action got its POST" 1 "$(delivered /plain 200 1)"
check_eq "the topic's flaky webhook failed three times" 3 "$(delivered /flaky/ops 500 3)"
check_eq "... and was retried on its own until delivered" 1 "$(delivered /flaky/ops 200 1)"

got=$("$PYTHON" - "$T/hooks.log" <<'EOF' 2>&1
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
def posts(path):
    return [l for l in lines if l["path"] == path]
a = posts("/ops/a")[0]
e = json.loads(a["body"])
m = json.loads(e["Message"])
print(e["Type"], e["TopicArn"], e["Subject"])
print(m["AlarmName"], m["OldStateValue"], m["NewStateValue"], m["NewStateReason"],
      m["AlarmDescription"], m["HistoryData"]["newState"]["stateValue"])
print("*topical* is now ALARM" in e["text"],
      bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["Timestamp"])),
      bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        e["MessageId"])))
print(a["sns"].get("x-amz-sns-message-type"), a["sns"].get("x-amz-sns-message-id") == e["MessageId"],
      a["sns"].get("x-amz-sns-topic-arn") == e["TopicArn"])
ids = {json.loads(l["body"])["MessageId"] for l in posts("/ops/a") + posts("/flaky/ops")}
p = json.loads(posts("/pager")[0]["body"])
print(len(ids), p["MessageId"] not in ids, p["TopicArn"])
plain = json.loads(posts("/plain")[0]["body"])
print(plain["AlarmName"], "Type" in plain, posts("/plain")[0]["sns"])
EOF
)
check_eq "the envelope: an SNS Notification of the topic, with an ALARM subject" \
    "Notification $OPS ALARM: \"topical\" in us-east-1" "$(sed -n 1p <<<"$got")"
check_eq "... Message is the alarm JSON" \
    "topical INSUFFICIENT_DATA ALARM by hand, to the topics load is high ALARM" \
    "$(sed -n 2p <<<"$got")"
check_eq "... with the Slack text, an SNS Timestamp and a UUID MessageId" "True True True" \
    "$(sed -n 3p <<<"$got")"
check_eq "... and SNS's x-amz-sns-* headers" "Notification True True" "$(sed -n 4p <<<"$got")"
check_eq "one MessageId for all the topic's webhooks and retries; another topic, another" \
    "1 True $PAGER" "$(sed -n 5p <<<"$got")"
check_eq "a plain URL action keeps the alarm JSON, without envelope or SNS headers" \
    "topical False {}" "$(sed -n 6p <<<"$got")"

check_eq "history: each of the topic's webhooks has its success item" 2 \
    "$(items "Successfully executed action $OPS via webhook " 2)"
hist=$(history_of topical)
check_contains "... naming the topic, which of its webhooks and the webhook's host" "$hist" \
    "Successfully executed action $OPS via webhook 1 of 2, $HOOK/..."
check_not_contains "... but not the webhook's path, which may hold its secret" "$hist" "/ops/a"
check_eq "... the flaky webhook's three failed attempts" 3 \
    "$(grep -cF "Failed to execute action $OPS via webhook 2 of 2, $HOOK/... (attempt" <<<"$hist")"
check_eq "... the bare-name topic's delivery" 1 \
    "$(grep -cF "Successfully executed action $PAGER via webhook 1 of 1" <<<"$hist")"

awsc cloudwatch set-alarm-state --alarm-name topical --state-value OK \
    --state-reason "by hand, to nobody"
check_eq "set-alarm-state OK exits 0" 0 "$AWS_RC"
check_eq "an unmapped topic is one failed Action item" 1 \
    "$(items "Failed to execute action $NOBODY (attempt 1): no webhook is configured for this topic (owld --alarm-topic); giving up" 1)"
sleep 2.5 # past the first retry's backoff (1 s)
check_eq "... and is not retried" 1 "$(history_of topical | grep -cF "$NOBODY")"

# actions owl cannot deliver are refused, each rule once, with CloudWatch's error code
bad_action() { # name action
    awsc cloudwatch put-metric-alarm --alarm-name bad --namespace TopicApp --metric-name Load \
        --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
        --comparison-operator GreaterThanThreshold --alarm-actions "$2"
    check_contains "$1: InvalidParameterValue" "$AWS_ERR" InvalidParameterValue
}
bad_action "a URL of another scheme" ftp://127.0.0.1/hook
check_contains "... saying what owl supports" "$AWS_ERR" "owl supports webhook URLs (http://, https://)"
bad_action "an EC2 action ARN" arn:aws:automate:us-east-1:ec2:stop
check_contains "... saying owl supports webhook URLs and SNS topic ARNs" "$AWS_ERR" \
    "owl supports webhook URLs and SNS topic ARNs as alarm actions, not automate ARNs"
bad_action "a bad SNS topic name" "arn:aws:sns:us-east-1:$ACCT:no.such"
check_contains "... saying so" "$AWS_ERR" "not an SNS topic name"
bad_action "a URL over 1024 characters" "$HOOK/$(printf '%01100d' 0)"
check_contains "... saying so" "$AWS_ERR" "longer than 1024 characters"
awsc cloudwatch put-composite-alarm --alarm-name bad --alarm-rule "ALARM(topical)" \
    --ok-actions "arn:aws:lambda:us-east-1:$ACCT:function:f"
check_contains "put-composite-alarm refuses a Lambda action: InvalidParameterValue" \
    "$AWS_ERR" "InvalidParameterValue"
check_contains "... saying so" "$AWS_ERR" "not lambda ARNs"
awsc cloudwatch describe-alarms --alarm-names bad --alarm-types MetricAlarm CompositeAlarm
check_eq "no refused alarm was stored" "0 0" "$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["MetricAlarms"]), len(d["CompositeAlarms"]))' 2>&1)"

# the config file maps topics as the flags do: ops by its bare name, nobody by its ARN; the
# flags' mappings are gone with the restart (pager is unmapped now)
cat >"$T/owld.json" <<EOF
{"alarm_topic": {"ops": ["$HOOK/file/ops"], "$NOBODY": "$HOOK/file/nobody"}}
EOF
stop_owld
start_owld --config "$T/owld.json" || bail "owld restarts with the mapping in --config"
check_contains "owld logs the file's topics" "$(cat "$OWLD_LOG")" "2 SNS topics mapped to webhooks"
n_ops=$(grep -c '"path": "/ops/a"' "$T/hooks.log")
awsc cloudwatch set-alarm-state --alarm-name topical --state-value ALARM \
    --state-reason "from the config file"
check_eq "the file's webhook of ops got the ALARM" 1 "$(delivered /file/ops 200 1)"
check_eq "... as an SNS envelope of the action's topic" "$OPS from the config file" \
    "$(grep '"path": "/file/ops"' "$T/hooks.log" | head -n 1 | "$PYTHON" -c '
import json, sys
e = json.loads(json.loads(sys.stdin.read())["body"])
print(e["TopicArn"], json.loads(e["Message"])["NewStateReason"])' 2>&1)"
check_eq "the topic at the flag's URL got nothing more" "$n_ops" \
    "$(grep -c '"path": "/ops/a"' "$T/hooks.log")"
check_eq "history: the delivery through the file's mapping" 1 \
    "$(items "Successfully executed action $OPS via webhook 1 of 1, $HOOK/..." 1)"
check_eq "... and pager, unmapped now, failed once" 1 \
    "$(items "Failed to execute action $PAGER (attempt 1): no webhook is configured" 1)"
awsc cloudwatch set-alarm-state --alarm-name topical --state-value OK \
    --state-reason "to nobody, mapped by ARN"
check_eq "a topic mapped by its ARN in the file got the OK" 1 "$(delivered /file/nobody 200 1)"
finish

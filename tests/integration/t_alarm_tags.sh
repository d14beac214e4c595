#!/bin/bash
# t_alarm_tags.sh — tags on CloudWatch alarms and DescribeAlarmHistory's paging, against a
# real owld with the Debian AWS CLI v2 (query protocol) and boto3: tags given at
# put-metric-alarm / put-composite-alarm creation (ignored on an update, as CloudWatch),
# tag-resource (a key given again takes the new value), untag-resource,
# list-tags-for-resource in key order; every tag rule broken once with CloudWatch's error
# code; another tenant sees nothing; delete-alarms takes the tags with it (an alarm created
# again under the name has none); kill -9 and restart keep them. describe-alarm-history:
# --scan-by both ways, --max-records 1 and the CLI's own paging through NextToken giving
# every item once while new items arrive, --alarm-types, a token not given out.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"
start_owld || bail "owld starts"

# py CODE — runs CODE with the last CLI answer, parsed, as `r`.
py() {
    printf '%s' "$AWS_OUT" | "$PYTHON" -c "import json, sys
r = json.load(sys.stdin)
$1" 2>&1
}

awsc cloudwatch put-metric-alarm --alarm-name tagged --namespace TagApp --metric-name Load \
    --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold --tags Key=team,Value=sre Key=env,Value=prod
check_eq "put-metric-alarm with --tags exits 0" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
awsc cloudwatch describe-alarms --alarm-names tagged
ARN=$(py 'print(r["MetricAlarms"][0]["AlarmArn"])')
ACCOUNT=$(cut -d: -f5 <<<"$ARN")
check "the alarm's ARN is arn:aws:cloudwatch:REGION:<12 digits>:alarm:tagged" \
    grep -qE '^arn:aws:cloudwatch:[a-z0-9-]+:[0-9]{12}:alarm:tagged$' <<<"$ARN"

# tags_of NAME — "k=v k=v" of alarm NAME (or the error code). Each call names another region
# in the ARN (any region is accepted): owld refuses a signed request it has already seen
# within the second, and two reads of the same alarm may fall in one.
tags_of() {
    TAGS_N=$((${TAGS_N:-0} + 1))
    awsc cloudwatch list-tags-for-resource \
        --resource-arn "arn:aws:cloudwatch:region-$TAGS_N:$ACCOUNT:alarm:$1"
    if [ "$AWS_RC" != 0 ]; then
        error_code
        return
    fi
    py 'print(" ".join("%s=%s" % (t["Key"], t["Value"]) for t in r["Tags"]))'
}
# error_code — the code of the last CLI error, as "(Code)".
error_code() { grep -oE '\([A-Za-z]+\)' <<<"$AWS_ERR" | head -n 1; }

check_eq "tags given at creation, listed in key order" "env=prod team=sre" "$(tags_of tagged)"
awsc cloudwatch tag-resource --resource-arn "$ARN" --tags Key=team,Value=platform Key=cost,Value=
check_eq "tag-resource exits 0" 0 "$AWS_RC"
check_eq "a key given again takes the new value; an empty value is a value" \
    "cost= env=prod team=platform" "$(tags_of tagged)"
awsc cloudwatch untag-resource --resource-arn "$ARN" --tag-keys env nope
check_eq "untag-resource exits 0 (an unknown key is skipped)" 0 "$AWS_RC"
check_eq "... and the key is gone" "cost= team=platform" "$(tags_of tagged)"
awsc cloudwatch put-metric-alarm --alarm-name tagged --namespace TagApp --metric-name Load \
    --statistic Maximum --period 60 --evaluation-periods 2 --threshold 1 \
    --comparison-operator GreaterThanThreshold --tags Key=ignored,Value=x
check_eq "put-metric-alarm of an existing alarm with --tags exits 0" 0 "$AWS_RC"
check_eq "... and, as CloudWatch, ignores them" "cost= team=platform" "$(tags_of tagged)"
awsc cloudwatch put-composite-alarm --alarm-name combo --alarm-rule "ALARM(tagged)" \
    --tags Key=kind,Value=composite
check_eq "put-composite-alarm with --tags exits 0" 0 "$AWS_RC"
check_eq "... its tags" "kind=composite" "$(tags_of combo)"

# ---- the rules, each broken once ----
k129=$(printf 'k%.0s' $(seq 129))
v257=$(printf 'v%.0s' $(seq 257))
k128=$(printf 'k%.0s' $(seq 128))
v256=$(printf 'v%.0s' $(seq 256))
bad_tag() { # NAME ERROR-CODE TAG-RESOURCE-ARGS...
    local name=$1 code=$2
    shift 2
    awsc cloudwatch tag-resource "$@"
    check_eq "$name: $code" "($code)" "$(error_code)"
}
bad_tag "a key of 129 characters" InvalidParameterValue --resource-arn "$ARN" \
    --tags "Key=$k129,Value=x"
bad_tag "a value of 257 characters" InvalidParameterValue --resource-arn "$ARN" \
    --tags "Key=long,Value=$v257"
bad_tag "a key beginning with aws:" InvalidParameterValue --resource-arn "$ARN" \
    --tags Key=aws:team,Value=x
bad_tag "a key given twice in one request" InvalidParameterValue --resource-arn "$ARN" \
    --tags Key=dup,Value=1 Key=dup,Value=2
many=()
for i in $(seq 49); do many+=("Key=k$i,Value=v"); done
bad_tag "51 tags on one alarm (2 + 49)" InvalidParameterValue --resource-arn "$ARN" \
    --tags "${many[@]}"
bad_tag "a malformed ARN" InvalidParameterValue --resource-arn "arn:aws:cloudwatch:tagged" \
    --tags Key=a,Value=b
bad_tag "an ARN of another service" InvalidParameterValue \
    --resource-arn "arn:aws:logs:us-east-1:$ACCOUNT:alarm:tagged" --tags Key=a,Value=b
bad_tag "an unknown alarm" ResourceNotFoundException \
    --resource-arn "arn:aws:cloudwatch:us-east-1:$ACCOUNT:alarm:nope" --tags Key=a,Value=b
bad_tag "another account's ARN" ResourceNotFoundException \
    --resource-arn "arn:aws:cloudwatch:us-east-1:999999999999:alarm:tagged" --tags Key=a,Value=b
check_eq "no refused request changed the tags" "cost= team=platform" "$(tags_of tagged)"
awsc cloudwatch untag-resource --resource-arn "$ARN" --tag-keys aws:team
check_eq "untag-resource of an aws: key: InvalidParameterValue" "(InvalidParameterValue)" \
    "$(error_code)"
awsc cloudwatch put-metric-alarm --alarm-name born-bad --namespace TagApp --metric-name Load \
    --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold --tags Key=aws:x,Value=1
check_eq "put-metric-alarm with a bad tag: InvalidParameterValue" "(InvalidParameterValue)" \
    "$(error_code)"
awsc cloudwatch describe-alarms --alarm-names born-bad
check_eq "... and the alarm is not created" 0 "$(py 'print(len(r["MetricAlarms"]))')"
awsc cloudwatch put-metric-alarm --alarm-name born-bad --namespace TagApp --metric-name Load \
    --statistic Maximum --period 45 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold --tags Key=left,Value=behind
check_eq "a refused alarm with good tags: InvalidParameterValue" "(InvalidParameterValue)" \
    "$(error_code)"
awsc cloudwatch tag-resource --resource-arn "$ARN" --tags "Key=$k128,Value=$v256" "${many[@]:0:47}"
check_eq "128-character key, 256-character value, 50 tags in all: accepted" 0 "$AWS_RC"
[ "$AWS_RC" = 0 ] || echo "# $AWS_ERR"
check_eq "... 50 of them" 50 "$(tags_of tagged | wc -w)"
awsc cloudwatch untag-resource --resource-arn "$ARN" --tag-keys "$k128" \
    $(printf 'k%d ' $(seq 47))
check_eq "untag-resource of 48 keys" "cost= team=platform" "$(tags_of tagged)"

# ---- another tenant ----
create_key "$ADMIN" '["cloudwatch:*"]' 999999999999
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$NEW_ID" \
    "${NEW_KEY#*:}" >"$T/other.creds"
aws_cli "$T/other.creds" cloudwatch list-tags-for-resource --resource-arn "$ARN"
check_eq "another tenant listing the alarm's tags: ResourceNotFoundException" \
    "(ResourceNotFoundException)" "$(error_code)"
aws_cli "$T/other.creds" cloudwatch tag-resource \
    --resource-arn "arn:aws:cloudwatch:us-east-1:999999999999:alarm:tagged" --tags Key=a,Value=b
check_eq "... or tagging its own ARN of that name: ResourceNotFoundException" \
    "(ResourceNotFoundException)" "$(error_code)"
create_key "$ADMIN" '["cloudwatch:ListTagsForResource"]'
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$NEW_ID" \
    "${NEW_KEY#*:}" >"$T/ro.creds"
aws_cli "$T/ro.creds" cloudwatch tag-resource --resource-arn "$ARN" --tags Key=a,Value=b
check_contains "a key without cloudwatch:TagResource is refused" "$AWS_ERR" "AccessDenied"
aws_cli "$T/ro.creds" cloudwatch list-tags-for-resource --resource-arn "$ARN"
check_eq "... and may list with cloudwatch:ListTagsForResource" 0 "$AWS_RC"

# ---- boto3 ----
if "$PYTHON" -c 'import boto3' 2>/dev/null; then
    run_py "alarm_tags.py" "$IT_DIR/alarm_tags.py" "$PORT" "$ADMIN_ID" "${ADMIN#*:}" "$ARN"
else
    echo "# SKIP the boto3 part: python3 has no boto3"
fi

# ---- kill -9 and restart ----
stop_owld KILL
start_owld || bail "owld restarts after kill -9"
check_eq "after kill -9 the tags are back" "cost= team=platform" "$(tags_of tagged)"
check_eq "... the composite's too" "kind=composite" "$(tags_of combo)"

# ---- delete-alarms takes the tags ----
awsc cloudwatch delete-alarms --alarm-names combo tagged
check_eq "delete-alarms exits 0" 0 "$AWS_RC"
check_eq "list-tags-for-resource of a deleted alarm: ResourceNotFoundException" \
    "(ResourceNotFoundException)" "$(tags_of tagged)"
awsc cloudwatch put-metric-alarm --alarm-name tagged --namespace TagApp --metric-name Load \
    --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold
check_eq "the alarm created again under its name has no tags" "" "$(tags_of tagged)"
awsc cloudwatch put-metric-alarm --alarm-name born-bad --namespace TagApp --metric-name Load \
    --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold
check_eq "... nor has one whose first creation was refused" "" "$(tags_of born-bad)"

# ---- describe-alarm-history ----
# hist ignores missing data, so only set-alarm-state moves it: its items are ours alone;
# the composite pair follows it
awsc cloudwatch put-metric-alarm --alarm-name hist --namespace TagApp --metric-name None \
    --statistic Maximum --period 60 --evaluation-periods 1 --threshold 1 \
    --comparison-operator GreaterThanThreshold --treat-missing-data ignore
awsc cloudwatch put-composite-alarm --alarm-name pair --alarm-rule "ALARM(hist)"
n_state=0
flip() { # one more StateUpdate of hist (and, every other time, of pair)
    n_state=$((n_state + 1))
    awsc cloudwatch set-alarm-state --alarm-name hist --state-value \
        "$([ $((n_state % 2)) = 1 ] && echo ALARM || echo OK)" --state-reason "flip $n_state"
}
for _ in 1 2 3 4; do flip; done
# items NAME... — "summary|reason" of each item of the last answer, one per line
items() {
    py 'for i in r["AlarmHistoryItems"]:
    d = json.loads(i["HistoryData"]) if i["HistoryData"].startswith("{") else {}
    print("%s|%s|%s" % (i["Timestamp"], i["HistorySummary"],
                        d.get("newState", {}).get("stateReason", "")))'
}
awsc cloudwatch describe-alarm-history --alarm-name hist --scan-by TimestampAscending
items >"$T/asc"
check_eq "hist has 5 items (creation, 4 changes)" 5 "$(wc -l <"$T/asc")"
awsc cloudwatch describe-alarm-history --alarm-name hist --scan-by TimestampDescending
items >"$T/desc"
check_eq "--scan-by TimestampDescending: the same items, newest first" "$(tac "$T/asc")" \
    "$(cat "$T/desc")"
awsc cloudwatch describe-alarm-history --alarm-name hist
items >"$T/default"
check_eq "... which is the default" "$(cat "$T/desc")" "$(cat "$T/default")"
check_contains "the oldest is the creation" "$(head -n 1 "$T/asc")" 'Alarm "hist" created'
check_contains "the newest is the last change" "$(head -n 1 "$T/desc")" "flip 4"

# pages of one through NextToken, a new item arriving after each of the first three pages
page_through() { # ORDER OUT: --max-records 1 pages of hist
    local token="" pages=0
    : >"$2"
    while [ $pages -lt 30 ]; do
        awsc cloudwatch describe-alarm-history --alarm-name hist --scan-by "$1" \
            --max-records 1 ${token:+--next-token "$token"}
        [ "$AWS_RC" = 0 ] || { echo "# page $pages: $AWS_ERR"; return 1; }
        items >>"$2"
        pages=$((pages + 1))
        [ "$(py 'print(len(r["AlarmHistoryItems"]))')" -le 1 ] || return 1
        token=$(py 'print(r.get("NextToken", ""))')
        [ -n "$token" ] || return 0
        [ $pages -gt 3 ] || flip
    done
    return 1
}
check "--max-records 1, descending: pages until no NextToken" page_through \
    TimestampDescending "$T/paged_desc"
check_eq "... every item once, newest first, none of those that arrived meanwhile" \
    "$(cat "$T/desc")" "$(cat "$T/paged_desc")"
awsc cloudwatch describe-alarm-history --alarm-name hist --scan-by TimestampAscending \
    --max-records 100
items >"$T/asc2"
check "--max-records 1, ascending: pages until no NextToken" page_through \
    TimestampAscending "$T/paged_asc"
check_eq "... every item there at the start once, oldest first" "$(cat "$T/asc2")" \
    "$(head -n "$(wc -l <"$T/asc2")" "$T/paged_asc")"
check_eq "... then the ones that arrived, none twice" "$(sort "$T/paged_asc" | uniq -d)" ""
check "... and reaches them" test "$(wc -l <"$T/paged_asc")" -gt "$(wc -l <"$T/asc2")"
awsc cloudwatch describe-alarm-history --alarm-name hist --page-size 2
items >"$T/cli_paged"
awsc cloudwatch describe-alarm-history --alarm-name hist --max-records 99
items >"$T/all_now"
check_eq "the CLI's own paging (--page-size 2) follows NextToken to every item" \
    "$(cat "$T/all_now")" "$(cat "$T/cli_paged")"
check "... of which there are more than one page" test "$(wc -l <"$T/all_now")" -gt 2

# AlarmTypes and the other filters
awsc cloudwatch describe-alarm-history --alarm-types CompositeAlarm
check_eq "--alarm-types CompositeAlarm: pair's items only, each a CompositeAlarm" "pair CompositeAlarm" \
    "$(py 'print(" ".join(sorted({"%s %s" % (i["AlarmName"], i["AlarmType"]) for i in r["AlarmHistoryItems"]})))')"
check "... its creation and its changes" test \
    "$(py 'print(len(r["AlarmHistoryItems"]))')" -ge 3
awsc cloudwatch describe-alarm-history --max-records 98
check_eq "without --alarm-types, as CloudWatch: metric alarms only" "MetricAlarm" \
    "$(py 'print(" ".join(sorted({i["AlarmType"] for i in r["AlarmHistoryItems"]})))')"
check_not_contains "... none of pair's" "$AWS_OUT" '"AlarmName": "pair"'
awsc cloudwatch describe-alarm-history --alarm-types MetricAlarm CompositeAlarm --max-records 97
check_eq "--alarm-types MetricAlarm CompositeAlarm: both kinds" "CompositeAlarm MetricAlarm" \
    "$(py 'print(" ".join(sorted({i["AlarmType"] for i in r["AlarmHistoryItems"]})))')"
awsc cloudwatch describe-alarm-history --alarm-name hist --history-item-type ConfigurationUpdate
check_eq "--history-item-type ConfigurationUpdate: the creation" 1 \
    "$(py 'print(len(r["AlarmHistoryItems"]))')"
third=$(sed -n 3p "$T/asc" | cut -d'|' -f1)
awsc cloudwatch describe-alarm-history --alarm-name hist --scan-by TimestampAscending \
    --start-date "$third" --end-date "$(sed -n 5p "$T/asc" | cut -d'|' -f1)"
check_eq "--start-date (included) and --end-date (excluded): the 3rd and 4th items" \
    "$(sed -n 3,4p "$T/asc")" "$(items)"

# errors
awsc cloudwatch describe-alarm-history --alarm-name hist --next-token owlh1dnotatoken
check_eq "a token not given out: InvalidNextToken" "(InvalidNextToken)" "$(error_code)"
awsc cloudwatch describe-alarm-history --alarm-name hist --max-records 1
token=$(py 'print(r.get("NextToken", ""))')
awsc cloudwatch describe-alarm-history --alarm-name hist --max-records 1 --next-token "$token" \
    --scan-by TimestampAscending
check_eq "a descending scan's token for an ascending one: InvalidNextToken" \
    "(InvalidNextToken)" "$(error_code)"
aws_cli "$T/other.creds" cloudwatch describe-alarm-history --max-records 1 --next-token "$token"
check_eq "another tenant's token: InvalidNextToken" "(InvalidNextToken)" "$(error_code)"
awsc cloudwatch describe-alarm-history --scan-by Sideways
check_eq "--scan-by Sideways: InvalidParameterValue" "(InvalidParameterValue)" "$(error_code)"
awsc cloudwatch describe-alarm-history --alarm-types Grouped
check_eq "--alarm-types Grouped: InvalidParameterValue" "(InvalidParameterValue)" "$(error_code)"
awsc cloudwatch describe-alarm-history --history-item-type Everything
check_eq "--history-item-type Everything: InvalidParameterValue" "(InvalidParameterValue)" \
    "$(error_code)"
awsc cloudwatch describe-alarm-history --start-date 2030-01-02T00:00:00Z \
    --end-date 2030-01-01T00:00:00Z
check_eq "--start-date after --end-date: InvalidParameterValue" "(InvalidParameterValue)" \
    "$(error_code)"
finish

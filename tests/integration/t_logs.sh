#!/bin/bash
# t_logs.sh — CloudWatch Logs against a real owld with the Debian AWS CLI v2 (JSON 1.1): the
# 2,000 lines of the Loghub HDFS sample put in batches into two streams of a group with a
# retention policy; get-log-events both ways with tokens until the token repeats;
# filter-log-events by stream names, time range and filter patterns (counts computed from
# the file by logs_hdfs.py and grep); storedBytes once the memtables are sealed; describe-log-streams by
# LastEventTime descending; tags by ARN; each PutLogEvents rule broken once and answered as
# CloudWatch does, nothing extra stored; delete-log-group and create again = empty; then the
# same flow through boto3 (logs.py).
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"
HDFS=${OWL_TEST_DATA:-$OWL_SRCDIR/../shared/data}/loghub/HDFS/HDFS_2k.log
[ -f "$HDFS" ] || skip "Loghub HDFS sample not found at $HDFS (set OWL_TEST_DATA)"
start_owld || bail "owld starts"

G=/hdfs/cluster-1
H="$IT_DIR/logs_hdfs.py"
T0=$(($(now_ms) - 12 * 3600 * 1000)) # the file's 38 h, compressed 4x, end ~2.5 h ago
py() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1" 2>/dev/null; }

awsc logs create-log-group --log-group-name "$G" --tags team=storage,env=test
check_eq "create-log-group exits 0" 0 "$AWS_RC"
awsc logs create-log-group --log-group-name "$G"
check_contains "a second create-log-group: ResourceAlreadyExistsException" "$AWS_ERR" \
    "(ResourceAlreadyExistsException) when calling the CreateLogGroup operation"
check_contains "... with CloudWatch's message" "$AWS_ERR" "The specified log group already exists"
awsc logs put-retention-policy --log-group-name "$G" --retention-in-days 30
check_eq "put-retention-policy 30 exits 0" 0 "$AWS_RC"
awsc logs put-retention-policy --log-group-name "$G" --retention-in-days 31
check_contains "retention 31 is InvalidParameterException" "$AWS_ERR" "(InvalidParameterException)"
for s in datanode namesystem; do
    awsc logs create-log-stream --log-group-name "$G" --log-stream-name "$s"
    check_eq "create-log-stream $s exits 0" 0 "$AWS_RC"
done
awsc logs create-log-stream --log-group-name /nope --log-stream-name x
check_contains "create-log-stream in a missing group: ResourceNotFoundException" "$AWS_ERR" \
    "(ResourceNotFoundException) when calling the CreateLogStream operation (reached max retries: 0): The specified log group does not exist."

# ---- 2,000 lines in batches of 400 ----
mkdir -p "$T/batches"
"$PYTHON" "$H" batches "$HDFS" "$T0" "$T/batches" 400 >"$T/batches.txt"
nb=0 bad=0
while read -r stream file; do
    awsc logs put-log-events --log-group-name "$G" --log-stream-name "$stream" \
        --log-events "file://$file"
    nb=$((nb + 1))
    if [ "$AWS_RC" != 0 ] || [ -z "$(printf '%s' "$AWS_OUT" | py 'print(d["nextSequenceToken"])')" ] ||
        [ -n "$(printf '%s' "$AWS_OUT" | py 'print(d.get("rejectedLogEventsInfo", ""))')" ]; then
        bad=$((bad + 1))
        echo "# $file: $AWS_RC $AWS_OUT $AWS_ERR"
    fi
done <"$T/batches.txt"
check_eq "put-log-events of $nb batches: all accepted, none rejected" 0 "$bad"

N_DN=$("$PYTHON" "$H" count "$HDFS" "$T0" 0 99999999999999 datanode)
N_ALL=$(wc -l <"$HDFS")

# ---- get-log-events both ways, tokens until they repeat ----
# walk DIR: pages of 400 of stream datanode; prints the count, then whether times ascend
walk() {
    local dir=$1 tok="" prev="" n=0 pages=0 args
    : >"$T/walk.times"
    while [ "$pages" -lt 50 ]; do
        args=(--log-group-name "$G" --log-stream-name datanode --limit 400)
        [ "$dir" = f ] && args+=(--start-from-head)
        [ -n "$tok" ] && args+=(--next-token "$tok")
        awsc logs get-log-events "${args[@]}"
        [ "$AWS_RC" = 0 ] || { echo "# get-log-events: $AWS_ERR"; break; }
        printf '%s' "$AWS_OUT" | py 'print("\n".join(str(e["timestamp"]) for e in d["events"]))' \
            >"$T/page.times"
        if [ "$dir" = f ]; then cat "$T/page.times" >>"$T/walk.times"; else
            cat "$T/page.times" "$T/walk.times" >"$T/w2" && mv "$T/w2" "$T/walk.times"; fi
        prev=$tok
        tok=$(printf '%s' "$AWS_OUT" | py "print(d['next${2}Token'])")
        pages=$((pages + 1))
        [ -n "$prev" ] && [ "$tok" = "$prev" ] && break
    done
    grep . "$T/walk.times" >"$T/w3" # an empty page prints an empty line
    grep -c . "$T/w3"
    sort -n -c "$T/w3" 2>/dev/null && echo sorted || echo unsorted
}
out=$(walk f Forward)
check_eq "get-log-events --start-from-head, nextForwardToken until it repeats: every datanode event, oldest first" \
    "$N_DN sorted" "$(echo $out)"
out=$(walk b Backward)
check_eq "get-log-events (latest first), nextBackwardToken until it repeats: the same events" \
    "$N_DN sorted" "$(echo $out)"

# ---- filter-log-events (the CLI follows nextToken) ----
# count_filter ARGS: the number of events filter-log-events returns (AWS_OUT is its output)
count_filter() {
    awsc logs filter-log-events --log-group-name "$G" "$@"
    printf '%s' "$AWS_OUT" | py 'print(len(d["events"]))' >"$T/count"
}
count_filter --page-size 300
check_eq "filter-log-events over the group: all $N_ALL lines" "$N_ALL" "$(cat "$T/count")"
ts_sorted=$(printf '%s' "$AWS_OUT" | py '
t = [e["timestamp"] for e in d["events"]]
s = {e["logStreamName"] for e in d["events"]}
ids = {e["eventId"] for e in d["events"]}
print(t == sorted(t) and s == {"datanode", "namesystem"} and len(ids) == len(t))')
check_eq "... interleaved by time across both streams, each eventId once" True "$ts_sorted"
count_filter --log-stream-names datanode --page-size 500
check_eq "filter-log-events --log-stream-names datanode: $N_DN" "$N_DN" \
    "$(cat "$T/count")"
count_filter --log-stream-name-prefix name
check_eq "filter-log-events --log-stream-name-prefix name: the namesystem lines" \
    "$((N_ALL - N_DN))" "$(cat "$T/count")"
LO=$((T0 + 3 * 3600 * 1000)) HI=$((T0 + 5 * 3600 * 1000))
want=$("$PYTHON" "$H" count "$HDFS" "$T0" "$LO" "$HI")
count_filter --start-time "$LO" --end-time "$HI" --page-size 100
check_eq "filter-log-events --start-time --end-time: $want events in the range" "$want" \
    "$(cat "$T/count")"
want=$("$PYTHON" "$H" count "$HDFS" "$T0" "$LO" "$HI" namesystem)
count_filter --start-time "$LO" --end-time "$HI" --log-stream-names namesystem
check_eq "... and with --log-stream-names namesystem: $want" "$want" \
    "$(cat "$T/count")"
# a term matches a whole word (docs/filter-patterns.md), as grep -w does
want=$(grep -cw "WARN" "$HDFS")
count_filter --filter-pattern WARN --page-size 20
check_eq "filter-log-events --filter-pattern WARN: the $want lines holding WARN (grep -cw)" \
    "$want" "$(cat "$T/count")"
want=$(grep -w "PacketResponder" "$HDFS" | grep -cw "terminating")
count_filter --filter-pattern "PacketResponder terminating" --log-stream-names datanode
check_eq "... 'PacketResponder terminating' in datanode: $want (grep)" "$want" "$(cat "$T/count")"
want=$(grep -cw -e "addStoredBlock" -e "allocateBlock" "$HDFS")
count_filter --filter-pattern "?addStoredBlock ?allocateBlock"
check_eq "... '?addStoredBlock ?allocateBlock': $want (grep -e -e)" "$want" "$(cat "$T/count")"
awsc logs filter-log-events --log-group-name "$G" --filter-pattern '{ $.a = '
check_contains "a malformed filter pattern: InvalidParameterException" "$AWS_ERR" \
    "(InvalidParameterException) when calling the FilterLogEvents operation (reached max retries: 0): Invalid filter pattern:"

# ---- describe ----
sb=0
for i in $(seq 1 40); do # the store seals memtables older than 10 s
    awsc logs describe-log-groups --log-group-name-prefix /hdfs --limit $((i % 50 + 1))
    sb=$(printf '%s' "$AWS_OUT" | py 'print(d["logGroups"][0]["storedBytes"])')
    [ "${sb:-0}" -gt 0 ] && break
    sleep 1
done
check "describe-log-groups: storedBytes > 0 once sealed ($sb)" test "${sb:-0}" -gt 0
got=$(printf '%s' "$AWS_OUT" | py 'g = d["logGroups"][0]; print(g["logGroupName"], g["retentionInDays"], g["arn"].endswith(":log-group:/hdfs/cluster-1:*"))')
check_eq "describe-log-groups: name, retention, arn" "$G 30 True" "$got"
awsc logs describe-log-groups --log-group-name-pattern CLUSTER
check_eq "describe-log-groups --log-group-name-pattern is a case-insensitive substring" "$G" \
    "$(printf '%s' "$AWS_OUT" | py 'print(" ".join(g["logGroupName"] for g in d["logGroups"]))')"
want=$("$PYTHON" "$H" last "$HDFS" "$T0")
awsc logs describe-log-streams --log-group-name "$G" --order-by LastEventTime --descending
check_eq "describe-log-streams --order-by LastEventTime --descending: $want first" "$want" \
    "$(printf '%s' "$AWS_OUT" | py 'print(d["logStreams"][0]["logStreamName"])')"
got=$(printf '%s' "$AWS_OUT" | py 's = d["logStreams"][0]; print(s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"], s["storedBytes"])')
check_eq "... with its event times and storedBytes 0 (deprecated)" "True 0" "$got"
awsc logs describe-log-streams --log-group-name "$G" --order-by LastEventTime \
    --log-stream-name-prefix d
check_contains "prefix with LastEventTime: InvalidParameterException" "$AWS_ERR" \
    "Cannot order by LastEventTime with a logStreamNamePrefix."

# ---- owl's native API ----
admin GET "/api/v1/logs/groups?prefix=/hdfs"
check_eq "GET /api/v1/logs/groups?prefix=/hdfs" "200 $G 30" \
    "$STATUS $(jget groups.0.name) $(jget groups.0.retention_days)"
GE=$(printf '%s' "$G" | sed 's|/|%2F|g')
admin GET "/api/v1/logs/groups/$GE/streams?limit=1"
check_eq "GET /api/v1/logs/groups/{group}/streams pages by name" "200 datanode" \
    "$STATUS $(jget streams.0.name)"
admin GET "/api/v1/logs/groups/$GE/streams?next_token=$(jget next_token)"
check_eq "... the next page" "200 namesystem" "$STATUS $(jget streams.0.name)"
n=0 tok= pages=0
while [ "$pages" -lt 20 ]; do
    admin GET "/api/v1/logs/events?group=$GE&stream=datanode&limit=300${tok:+&next_token=$tok}"
    [ "$STATUS" = 200 ] || break
    n=$((n + $(jget len:events))) pages=$((pages + 1))
    tok=$(jget next_token)
    [ -n "$tok" ] || break
done
check_eq "GET /api/v1/logs/events?group=&stream= with next_token: every datanode event" \
    "$N_DN" "$n"
admin GET "/api/v1/logs/events?group=%2Fnope"
check_eq "GET /api/v1/logs/events of a missing group: 404 ResourceNotFound" "404 ResourceNotFound" \
    "$STATUS $(jget error.code)"

# ---- tags by ARN ----
awsc sts get-caller-identity
ARN=arn:aws:logs:us-east-1:$(printf '%s' "$AWS_OUT" | py 'print(d["Account"])'):log-group:$G
awsc logs tag-resource --resource-arn "$ARN" --tags owner=ops
check_eq "tag-resource exits 0" 0 "$AWS_RC"
awsc logs untag-resource --resource-arn "$ARN" --tag-keys env
awsc logs list-tags-for-resource --resource-arn "$ARN"
check_eq "list-tags-for-resource: creation tags, added, removed" '{"owner": "ops", "team": "storage"}' \
    "$(printf '%s' "$AWS_OUT" | py 'print(json.dumps(d["tags"], sort_keys=True))')"
awsc logs list-tags-for-resource --resource-arn "arn:aws:logs:us-east-1:999999999999:log-group:$G"
check_contains "another account's ARN: ResourceNotFoundException" "$AWS_ERR" "(ResourceNotFoundException)"

# ---- every PutLogEvents rule, once ----
stream_count() { count_filter --log-stream-names datanode; }
stream_count
before=$(cat "$T/count")
now=$(now_ms)
put() { awsc logs put-log-events --log-group-name "$G" --log-stream-name datanode --log-events "$@"; }
put "timestamp=$now,message=b" "timestamp=$((now - 1)),message=a"
check_contains "events out of order: InvalidParameterException" "$AWS_ERR" \
    "(InvalidParameterException) when calling the PutLogEvents operation (reached max retries: 0): Log events in a single PutLogEvents request must be in chronological order."
put "timestamp=$((now - 25 * 3600000)),message=a" "timestamp=$now,message=b"
check_contains "events spanning 25 h: InvalidParameterException" "$AWS_ERR" \
    "cannot span more than 24 hours."
"$PYTHON" -c "import json; print(json.dumps([{'timestamp': $now, 'message': 'x' * 600000}] * 2))" >"$T/big.json"
put "file://$T/big.json"
check_contains "a batch of 1,200,052 bytes: InvalidParameterException" "$AWS_ERR" \
    "Upload too large: 1200052 bytes exceeds limit of 1048576"
"$PYTHON" -c "import json; print(json.dumps([{'timestamp': $now, 'message': 'x' * 1048551}]))" >"$T/one.json"
put "file://$T/one.json"
check_contains "one event of 1,048,551 + 26 bytes: InvalidParameterException" "$AWS_ERR" \
    "Log event too large: 1048577 bytes exceeds limit of 1048576"
"$PYTHON" -c "import json; print(json.dumps([{'timestamp': $now, 'message': 'm'}] * 10001))" >"$T/many.json"
put "file://$T/many.json"
check_contains "10,001 events: InvalidParameterException" "$AWS_ERR" \
    "Member must have length less than or equal to 10000"
put "timestamp=$((now - 15 * 86400000)),message=old" "timestamp=$now,message=fine" \
    "timestamp=$((now + 3 * 3600000)),message=future"
check_eq "too old / too new events: stored the rest, reported by index" \
    '{"tooNewLogEventStartIndex": 2, "tooOldLogEventEndIndex": 1}' \
    "$(printf '%s' "$AWS_OUT" | py 'print(json.dumps(d["rejectedLogEventsInfo"], sort_keys=True))')"
awsc logs put-log-events --log-group-name "$G" --log-stream-name nope --log-events "timestamp=$now,message=x"
check_contains "a missing stream: ResourceNotFoundException" "$AWS_ERR" \
    "The specified log stream does not exist."
stream_count
check_eq "only the one valid event of all those puts was stored" "$((before + 1))" "$(cat "$T/count")"
awsc logs create-log-group --log-group-name /short
awsc logs create-log-stream --log-group-name /short --log-stream-name s
awsc logs put-retention-policy --log-group-name /short --retention-in-days 1
awsc logs put-log-events --log-group-name /short --log-stream-name s --log-events \
    "timestamp=$((now - 2 * 86400000)),message=expired" "timestamp=$now,message=kept"
check_eq "older than the group's retention: expiredLogEventEndIndex" '{"expiredLogEventEndIndex": 1}' \
    "$(printf '%s' "$AWS_OUT" | py 'print(json.dumps(d["rejectedLogEventsInfo"], sort_keys=True))')"
awsc logs filter-log-events --log-group-name /short
check_eq "... and only the other event is there" kept \
    "$(printf '%s' "$AWS_OUT" | py 'print(" ".join(e["message"] for e in d["events"]))')"

# ---- delete and create again: empty ----
awsc logs delete-log-group --log-group-name "$G"
check_eq "delete-log-group exits 0" 0 "$AWS_RC"
awsc logs filter-log-events --log-group-name "$G"
check_contains "the deleted group is gone" "$AWS_ERR" "The specified log group does not exist."
awsc logs create-log-group --log-group-name "$G"
awsc logs create-log-stream --log-group-name "$G" --log-stream-name datanode
awsc logs describe-log-streams --log-group-name "$G"
check_eq "created again: one new stream" datanode \
    "$(printf '%s' "$AWS_OUT" | py 'print(" ".join(s["logStreamName"] for s in d["logStreams"]))')"
count_filter --page-size 99
check_eq "created again: no events" 0 "$(cat "$T/count")"
awsc logs list-tags-for-resource --resource-arn "$ARN"
check_eq "created again: no tags" '{}' "$(printf '%s' "$AWS_OUT" | py 'print(json.dumps(d["tags"]))')"

# ---- the other ways in: raw lines and OTLP/HTTP, stored by the same call ----
printf 'first line\nsecond line\n\nthird line' >"$T/lines.txt"
admin POST "/api/v1/logs?group=/raw/app&stream=host-1" -H 'Content-Type: text/plain' \
    --data-binary "@$T/lines.txt"
check_eq "POST /api/v1/logs text/plain: 3 lines accepted, the group and stream created" \
    '200 3 0' "$STATUS $(jget accepted) $(jget rejected)"
printf '{"message":"a","level":"info"}\n{"nomessage":1}\n{"message":"old","timestamp":1000}\n' \
    >"$T/lines.ndjson"
admin POST "/api/v1/logs?group=/raw/app&stream=host-1" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$T/lines.ndjson"
check_eq "... application/x-ndjson: 1 accepted, a bad line and a too old event refused" \
    '200 1 2' "$STATUS $(jget accepted) $(jget rejected)"
admin POST "/api/v1/logs?group=bad%20name&stream=s" -H 'Content-Type: text/plain' -d x
check_eq "... an invalid group name: 400" '400 InvalidParameter' "$STATUS $(jget error.code)"
awsc logs get-log-events --log-group-name /raw/app --log-stream-name host-1 --start-from-head
# lines without a timestamp take the request's time; events of one millisecond come in a
# stable order of their own (docs/api/logs.md), so the lines are compared as a set
check_eq "get-log-events reads the raw lines back" "a|first line|second line|third line" \
    "$(printf '%s' "$AWS_OUT" | py 'print("|".join(sorted(e["message"] for e in d["events"])))')"
now=$(now_ms)
cat >"$T/otlp.json" <<EOF2
{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},
 {"key":"host.name","value":{"stringValue":"web-7"}}]},
 "scopeLogs":[{"logRecords":[
  {"timeUnixNano":"${now}000000","severityText":"ERROR","body":{"stringValue":"payment failed"}},
  {"timeUnixNano":"$((now + 1))000000","severityText":"INFO","body":{"stringValue":"retrying"}},
  {"timeUnixNano":"1000000000000000","body":{"stringValue":"ancient"}}]}]}]}
EOF2
admin POST /v1/logs -H 'Content-Type: application/json' --data-binary "@$T/otlp.json"
check_eq "POST /v1/logs (OTLP JSON): 200, one record refused as too old (partial success)" \
    '200 1' "$STATUS $(jget partialSuccess.rejectedLogRecords)"
awsc logs filter-log-events --log-group-name /otel/checkout --filter-pattern failed
check_eq "... stored in /otel/checkout, stream web-7, found by a filter pattern" \
    "web-7 payment failed" \
    "$(printf '%s' "$AWS_OUT" | py 'print(" ".join(e["logStreamName"] + " " + e["message"] for e in d["events"]))')"

# ---- boto3 ----
if "$PYTHON" -c 'import boto3' 2>/dev/null; then
    run_py "logs.py" "$IT_DIR/logs.py" "$PORT" "${ADMIN%%:*}" "${ADMIN#*:}" "$HDFS"
else
    echo "# python3 has no boto3: logs.py not run"
fi
finish

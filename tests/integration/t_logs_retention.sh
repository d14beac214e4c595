#!/bin/bash
# t_logs_retention.sh — retention of CloudWatch Logs against a real owld: events written with
# timestamps four days old (raw NDJSON lines) are searchable and counted in storedBytes; their
# cold day is rewritten once at the compaction level (its part's level goes from 0 to 1, with
# --store-settle-ms 1000); put-retention-policy 1 (AWS CLI v2) hides them at once
# (filter-log-events), and after the janitor runs their day directory is gone and
# storedBytes has fallen while today's events stay.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || skip "$AWS is not installed"
start_owld --store-settle-ms 1000 || bail "owld starts"

G=/ret/app
NOW=$(now_ms)
OLD=$((NOW - 4 * 86400 * 1000))
OLD_DAY=$(date -u -d "@$((OLD / 1000))" +%Y%m%d)
awsc logs create-log-group --log-group-name "$G"
check_eq "create-log-group exits 0" 0 "$AWS_RC"
# 600 old events within a minute, 100 of today
"$PYTHON" - "$OLD" "$NOW" "$T/old.ndjson" "$T/new.ndjson" <<'PY'
import json, sys
old, now = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3], "w") as f:
    for i in range(600):
        f.write(json.dumps({"timestamp": old + i * 100,
                            "message": "old event %d user=u%d took %d ms" % (i, i % 7, i * 3)}) + "\n")
with open(sys.argv[4], "w") as f:
    for i in range(100):
        f.write(json.dumps({"timestamp": now - 1000 + i, "message": "new event %d" % i}) + "\n")
PY
for f in old new; do
    admin POST "/api/v1/logs?group=$G&stream=s1" -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$T/$f.ndjson"
    check_eq "raw NDJSON of the $f events: 200" 200 "$STATUS"
done
count() { # count START END — events of the group by filter-log-events, through every page
    local n=0 tok="" k
    for _ in $(seq 50); do
        awsc logs filter-log-events --log-group-name "$G" --start-time "$1" --end-time "$2" \
            ${tok:+--next-token "$tok"}
        [ "$AWS_RC" = 0 ] || { echo "err: $AWS_ERR"; return; }
        k=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin).get("events", [])))')
        tok=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("nextToken", ""))')
        n=$((n + k))
        [ -n "$tok" ] || break
    done
    echo "$n"
}
check_eq "filter-log-events finds the 600 old events" 600 "$(count $((OLD - 1000)) $((OLD + 3600000)))"
stored_bytes() {
    awsc logs describe-log-groups --log-group-name-prefix "$G"
    printf '%s' "$AWS_OUT" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["logGroups"][0]["storedBytes"])' 2>/dev/null
}
# the old day: sealed (memtables are sealed within ~10 s), then settled at level 1
settled=""
for _ in $(seq 60); do
    settled=$(ls "$DATA"/store/logs/*/*/"$OLD_DAY"/ 2>/dev/null | grep -c -- '-1\.owp$')
    [ "$settled" -ge 1 ] && break
    sleep 1
done
check "the cold day's single part is rewritten at the compaction level ($(ls "$DATA"/store/logs/*/*/"$OLD_DAY"/ 2>/dev/null | tr '\n' ' '))" \
    test "${settled:-0}" -ge 1
check_eq "... the 600 old events are all still there after it" 600 \
    "$(count $((OLD - 1000)) $((OLD + 3600000)))"
S1=$(stored_bytes)
check "describe-log-groups shows storedBytes ($S1)" test "${S1:-0}" -gt 0
awsc logs put-retention-policy --log-group-name "$G" --retention-in-days 1
check_eq "put-retention-policy 1 exits 0" 0 "$AWS_RC"
check_eq "past the 1-day retention the old events are gone at once" 0 \
    "$(count $((OLD - 1000)) $((OLD + 3600000)))"
gone=""
for _ in $(seq 40); do # the janitor runs every 10 s
    ls -d "$DATA"/store/logs/*/*/"$OLD_DAY" >/dev/null 2>&1 || { gone=1; break; }
    sleep 1
done
check_eq "the janitor removes the expired day's directory" 1 "$gone"
S2=$(stored_bytes)
check "... and storedBytes falls ($S1 -> $S2)" test "${S2:-0}" -lt "${S1:-0}"
check_eq "today's 100 events stay" 100 "$(count $((NOW - 60000)) $((NOW + 60000)))"
stop_owld
check_eq "owld exits 0" 0 "$OWLD_RC"
finish

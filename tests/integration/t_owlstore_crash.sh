#!/bin/bash
# t_owlstore_crash.sh — `owl-store import` on the data directory of an owld killed with -9
# must keep every acknowledged audit event: owl-store opens the store with every table of the
# registry, so replaying the WAL never checkpoints past a record of a table it would not know
# (issue 8: before the registry it opened the logs table only, and the audit events vanished).
. "$(dirname "$0")/lib.sh"

STORE_TOOL="$OWL_BUILDDIR/index/owl-store"
[ -x "$STORE_TOOL" ] || bail "no owl-store at $STORE_TOOL"

start_owld || bail "owld starts"

# ---- five audited requests, each remembered by its request id ----
IDS=()
for i in 1 2 3 4 5; do
    admin GET "/api/v1/keys?limit=$i"
    check_eq "request $i answered" 200 "$STATUS"
    IDS+=("$(hdr x-owl-request-id)")
done
check_eq "five request ids" 5 "$(printf '%s\n' "${IDS[@]}" | grep -c .)"

stop_owld KILL
check_eq "owld was killed with -9" 137 "$OWLD_RC"

# ---- owl-store import on the crashed data directory ----
IN=$T/in.log
printf '2025-03-01 10:00:00,000 INFO imported line %d\n' 1 2 3 >"$IN"
out=$("$STORE_TOOL" import "$DATA" --table logs --partition app "$IN" 2>&1)
check_eq "owl-store import exits 0 on the crashed data directory" 0 $?
check_contains "import reports its rows" "$out" "imported 3 rows"
check_eq "the imported rows scan" 3 \
    "$("$STORE_TOOL" scan "$DATA" --table logs --partition app --count 2>/dev/null)"

# ---- restart: every acknowledged audit event is still there ----
start_owld || bail "owld restarts after the import"
admin GET "/api/v1/audit?action=iam:ListKeys&limit=100"
check_eq "audit readable after the import" 200 "$STATUS"
found=0
for id in "${IDS[@]}"; do
    if printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
sys.exit(0 if any(e["event_id"] == sys.argv[1] for e in json.load(sys.stdin)["events"]) else 1)' "$id"; then
        found=$((found + 1))
    else
        echo "# audit event $id is missing"
    fi
done
check_eq "every acknowledged audit event survived kill -9 + owl-store import ($found of 5)" 5 "$found"
stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"

finish

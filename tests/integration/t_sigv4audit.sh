#!/bin/bash
# t_sigv4audit.sh — issue 9, items 4 and 6: a SigV4 body must be signed (the UNSIGNED-PAYLOAD
# body swap, streaming payloads, a body that does not match its signed hash are refused;
# --trust-tls-proxy yes accepts UNSIGNED-PAYLOAD), an exact replay of a signed write is
# refused while a read may be repeated (sigv4audit.py); 20,000 failed authentications grow
# the audit store by a few KB (one row per source, key id and minute with a count) and get
# 401 then 429 without locking out other addresses; on a full disk (a 2 MB tmpfs) requests
# get 507 and nothing is served unaudited.
. "$(dirname "$0")/lib.sh"

LIMIT=50
FLOOD=20000
start_owld --auth-fail-limit "$LIMIT" || bail "owld starts"
AKID=$(awk -F' = ' '/aws_access_key_id/ {print $2}' "$DATA/aws-credentials")
ASECRET=$(awk -F' = ' '/aws_secret_access_key/ {print $2}' "$DATA/aws-credentials")
check "aws-credentials has the admin's SigV4 pair" test -n "$AKID" -a -n "$ASECRET"

# ---- item 4: signed bodies, replays ----
run_py "sigv4audit.py" "$IT_DIR/sigv4audit.py" "$PORT" "$AKID" "$ASECRET" "$ADMIN" sigv4

# ---- item 6: 20,000 failed authentications ----
stop_owld
check_eq "owld exits 0" 0 "$OWLD_RC"
audit_bytes() { du -sb "$DATA/store" | awk '{print $1}'; }
B0=$(audit_bytes)
# control: what a restart with one request and ONE failed authentication of an unknown key
# adds (the memtables sealed into parts at shutdown, the untenanted audit partition's first
# part: a fixed cost, whatever the number of failures)
start_owld --auth-fail-limit "$LIMIT" || bail "owld restarts"
admin GET /api/v1/keys
as "OWLCONTROLCONTROL000:wrong" GET /api/v1/keys
check_eq "control failure: 401" 401 "$STATUS"
stop_owld
BC=$(audit_bytes)
start_owld --auth-fail-limit "$LIMIT" || bail "owld restarts"
admin GET /api/v1/keys
OUT=$("$PYTHON" "$IT_DIR/sigv4audit.py" "$PORT" "$AKID" "$ASECRET" "$ADMIN" flood "$FLOOD" "$LIMIT" 2>&1)
printf '%s\n' "$OUT" | grep -v '^flood'
PASS=$((PASS + $(printf '%s\n' "$OUT" | grep -c '^ok - ')))
FAIL=$((FAIL + $(printf '%s\n' "$OUT" | grep -c '^not ok - ')))
N401=$(printf '%s\n' "$OUT" | awk '/^flood401/ {print $2}')
admin GET /api/v1/keys
check_eq "another address (127.0.0.1) is not limited: admin still 200" 200 "$STATUS"
admin GET "/api/v1/audit?key_id=OWLFLOODFLOODFLOOD00&limit=1000"
check_eq "audit lookup 200" 200 "$STATUS"
SUM=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
ev = json.load(sys.stdin)["events"]
print(len(ev), sum(e.get("count", 1) for e in ev))')
NEV=${SUM% *}
NCOUNT=${SUM#* }
echo "# flood: $N401 answered 401, audit holds $NEV event(s) counting $NCOUNT failures"
check "one event per minute the flood spanned (1 or 2)" test "$NEV" -ge 1 -a "$NEV" -le 2
check_eq "their counts add up to the 401 answers" "$N401" "$NCOUNT"
check_contains "the event shows its count" "$BODY" '"count":'
stop_owld
check_eq "owld exits 0 after the flood" 0 "$OWLD_RC"
B1=$(audit_bytes)
CTRL=$((BC - B0))
GROWTH=$((B1 - BC))
echo "# store (audit partitions + WAL) grew by $GROWTH bytes over a restart with one request and $FLOOD failed authentications; the same restart with one failed authentication: $CTRL bytes (was ~6.2 MB for 20,000)"
check_lt "store growth is a few KB" "$GROWTH" 16384
check_lt "the flood costs under 4 KB more than a single failure" "$((GROWTH - CTRL))" 4096

# ---- --trust-tls-proxy yes: UNSIGNED-PAYLOAD accepted ----
start_owld --trust-tls-proxy yes || bail "owld starts with --trust-tls-proxy yes"
OUT=$("$PYTHON" - "$PORT" "$AKID" "$ASECRET" <<'EOF'
import json, sys
from sigv4audit import send, sign
port, k, s = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = json.dumps({"policy": ["logs:Get*"]}).encode()
r = send(port, "POST", "/api/v1/keys", sign(k, s, "POST", "/api/v1/keys", body, "UNSIGNED-PAYLOAD"), body)
print(r.status)
EOF
)
check_eq "behind a TLS proxy UNSIGNED-PAYLOAD is accepted" 200 "$OUT"
stop_owld

# ---- item 6: a full disk is answered 507, nothing served unaudited ----
FULL=$T/full
mkdir -p "$FULL"
if ! mount -t tmpfs -o size=2m tmpfs "$FULL" 2>"$T/mount.err"; then
    echo "# full-disk part skipped: cannot mount a tmpfs ($(cat "$T/mount.err"))"
    finish
fi
umount_full() { umount "$FULL" 2>/dev/null; }
trap 'umount_full; cleanup' EXIT
DATA=$FULL/data
start_owld || bail "owld starts on a 2 MB tmpfs"
admin GET /api/v1/keys
check_eq "before the disk fills: 200" 200 "$STATUS"
NKEYS=$(jget len:keys)
dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null
check "the tmpfs is full" test "$(df --output=avail -k "$FULL" | tail -n 1 | tr -d ' ')" -eq 0
# appends still fit in the files' last allocated pages for a while: read until the audit
# write fails, keeping the request id of every read that was served
SERVED=()
for i in $(seq 1 400); do
    admin GET /api/v1/keys
    [ "$STATUS" = 200 ] || break
    SERVED+=("$(hdr x-owl-request-id)")
done
echo "# ${#SERVED[@]} reads served before the audit store filled"
check_eq "a read whose audit event cannot be written: 507" 507 "$STATUS"
check_eq "... InsufficientStorage" InsufficientStorage "$(jget error.code)"
check_not_contains "... and not the keys" "$BODY" '"keys"'
create_key "$ADMIN" '["*"]'
check_eq "a write: 507" 507 "$STATUS"
rm -f "$FULL/filler"
admin GET /api/v1/keys
check_eq "space freed: 200 again" 200 "$STATUS"
check_eq "the refused write created no key" "$NKEYS" "$(jget len:keys)"
admin GET "/api/v1/audit?limit=1000"
MISSING=0
for id in "${SERVED[@]}"; do
    printf '%s' "$BODY" | grep -q "\"event_id\":\"$id\"" || MISSING=$((MISSING + 1))
done
check_eq "every read served on the full disk is in the audit trail (${#SERVED[@]})" 0 "$MISSING"
stop_owld
check_eq "owld exits 0" 0 "$OWLD_RC"
check_contains "owld logged the unwritten audit events" "$(cat "$T"/owld.*.log)" "not written"
DATA=$T/data
umount_full
finish

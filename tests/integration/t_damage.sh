#!/bin/bash
# t_damage.sh — damage is never repaired by deleting acknowledged data (issue 9, item 1):
# one flipped bit at 10% of the metadata journal, then of a store WAL segment, makes owld
# refuse to start naming the file; `owl-store recover` salvages every valid record around
# the damage (the original goes to DIR/quarantine-*/ unchanged) and owld starts again with
# every key / audit event but at most the damaged record's one. Figures are printed as
# "# ..." lines.
. "$(dirname "$0")/lib.sh"

STORE_TOOL="$OWL_BUILDDIR/index/owl-store"
[ -x "$STORE_TOOL" ] || bail "no owl-store at $STORE_TOOL"
NKEYS=${NKEYS:-800}

# flip_bit FILE — flips bit 2 of the byte at 10% of FILE (python: no dd arithmetic quirks).
flip_bit() {
    "$PYTHON" - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 10] ^= 0x04
open(p, "wb").write(b)
print("# flipped a bit at offset %d of %s (%d bytes)" % (len(b) // 10, p, len(b)))
PY
}

# count_keys KEYFILE — how many keys of KEYFILE authenticate (GET /api/v1/keys/ID -> 200).
count_keys() {
    "$PYTHON" - "$PORT" "$1" <<'PY'
import http.client, sys
port, f = int(sys.argv[1]), sys.argv[2]
keys = [l.strip() for l in open(f) if l.strip()]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
n = 0
for k in keys:
    c.request("GET", "/api/v1/keys/" + k.split(":")[0], headers={"Authorization": "Bearer " + k})
    r = c.getresponse()
    r.read()
    n += r.status == 200
print(n)
PY
}

# count_events ACTION — audit events with that action, paging with next_token.
count_events() {
    "$PYTHON" - "$PORT" "$ADMIN" "$1" <<'PY'
import http.client, json, sys, urllib.parse
port, admin, action = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
n, tok = 0, None
for _ in range(10000):
    q = {"action": action, "limit": "500"}
    if tok:
        q["next_token"] = tok
    c.request("GET", "/api/v1/audit?" + urllib.parse.urlencode(q),
              headers={"Authorization": "Bearer " + admin})
    r = c.getresponse()
    d = json.loads(r.read())
    if r.status != 200:
        print("status", r.status, d)
        sys.exit(1)
    n += len(d["events"])
    tok = d.get("next_token")
    if not tok:
        break
print(n)
PY
}

start_owld || bail "owld starts"
run_py "create keys" "$IT_DIR/keyload.py" create "$PORT" "$ADMIN" "$T/keys.txt" "$NKEYS" 4
check_eq "all $NKEYS keys created" "$NKEYS" "$(wc -l <"$T/keys.txt" | tr -d ' ')"
EVENTS0=$(count_events iam:CreateKey)
echo "# audit events iam:CreateKey before damage: $EVENTS0"
check "at least one CreateKey event per key" test "$EVENTS0" -ge "$NKEYS"

# ---- the metadata journal ----
stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"
journal=$(ls "$DATA"/meta/journal-*.owm | tail -n 1)
flip_bit "$journal"
cp "$journal" "$T/journal.damaged"
if start_owld; then
    not_ok "owld refuses to start on a damaged journal"
    stop_owld
else
    ok "owld refuses to start on a damaged journal (exit $OWLD_RC)"
fi
check_contains "... and its log names the file" "$(cat "$OWLD_LOG")" "$(basename "$journal")"
check_contains "... and the offset" "$(cat "$OWLD_LOG")" "offset"
check "... and left the journal as it was" cmp -s "$journal" "$T/journal.damaged"
out=$("$STORE_TOOL" verify "$DATA" 2>&1)
check_contains "owl-store verify reports the damage" "$out" "CORRUPT"
out=$("$STORE_TOOL" recover "$DATA" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
check_eq "owl-store recover exits 0" 0 "$rc"
check_contains "... and says what it kept" "$out" "records kept"
q=$(ls -d "$DATA"/quarantine-* | head -n 1)
check "the damaged journal is quarantined byte for byte" cmp -s "$q/$(basename "$journal")" "$T/journal.damaged"
start_owld || bail "owld starts after recovery"
KEYS1=$(count_keys "$T/keys.txt")
echo "# keys that still authenticate after journal recovery: $KEYS1 of $NKEYS"
check "at most one key lost ($KEYS1 of $NKEYS)" test "$KEYS1" -ge $((NKEYS - 1))

# ---- a store WAL segment ----
EVENTS1=$(count_events iam:CreateKey)
echo "# audit events iam:CreateKey before WAL damage: $EVENTS1"
stop_owld KILL # kill -9: the events stay in the WAL, not yet sealed into parts
wal=$(ls -S "$DATA"/store/wal/wal-*.log | head -n 1)
flip_bit "$wal"
cp "$wal" "$T/wal.damaged"
if start_owld; then
    not_ok "owld refuses to start on a damaged WAL"
    stop_owld
else
    ok "owld refuses to start on a damaged WAL (exit $OWLD_RC)"
fi
check_contains "... and its log names the file" "$(cat "$OWLD_LOG")" "$(basename "$wal")"
check "... and left the segment as it was" cmp -s "$wal" "$T/wal.damaged"
out=$("$STORE_TOOL" verify "$DATA" 2>&1)
check_contains "owl-store verify reports the damage" "$out" "CORRUPT"
out=$("$STORE_TOOL" recover "$DATA" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
check_eq "owl-store recover exits 0" 0 "$rc"
check_contains "... one lsn given up" "$out" "1 lsn(s) given up"
found=
for q in "$DATA"/quarantine-*; do
    cmp -s "$q/$(basename "$wal")" "$T/wal.damaged" && found=1
done
check "the damaged segment is quarantined byte for byte" test -n "$found"
start_owld || bail "owld starts after WAL recovery"
EVENTS2=$(count_events iam:CreateKey)
echo "# audit events iam:CreateKey after WAL recovery: $EVENTS2 of $EVENTS1"
check "at most one event lost ($EVENTS2 of $EVENTS1)" test "$EVENTS2" -ge $((EVENTS1 - 1))
KEYS2=$(count_keys "$T/keys.txt")
check_eq "... and the keys are unchanged" "$KEYS1" "$KEYS2"
create_key "$ADMIN" '["iam:Get*"]'
check_eq "owld takes writes after recovery" 200 "$STATUS"
stop_owld
check_eq "owld exits 0 on SIGTERM at the end" 0 "$OWLD_RC"

finish

#!/bin/bash
# t_traces_crash.sh — kill -9 owld under OTLP span ingest (spanload.py: 4 clients posting two
# 5-span traces a request, bounded by time and count) at a random moment 1 to 4 s into the
# load, restart on the same data directory: every trace whose request was answered 200 before
# the kill comes back whole by id (all spans, the tree).
. "$(dirname "$0")/lib.sh"

start_owld || bail "owld starts"
ACKS=$T/acks.txt
: >"$ACKS"
"$PYTHON" "$IT_DIR/spanload.py" put "$PORT" "$ADMIN" "$ACKS" 20 >"$T/load.out" 2>&1 &
CLIENT=$!
BG_PIDS+=("$CLIENT")
kill9_under_load "$CLIENT" "$ACKS" $((1000 + RANDOM % 3000))
sed 's/^/# /' "$T/load.out"
n=$(wc -l <"$ACKS")
echo "# kill -9 after $KILL_MS ms with $n requests acknowledged"
check "at least 50 requests were acknowledged before kill -9 ($n)" test "$n" -ge 50
check_eq "the kill landed under load: every client saw owld die" 4 \
    "$(grep -c '^client [0-9]: owld died' "$T/load.out")"
start_owld || bail "owld restarts after kill -9"
run_py "verify" "$IT_DIR/spanload.py" verify "$PORT" "$ADMIN" "$ACKS"
finish

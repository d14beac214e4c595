#!/bin/bash
# t_logs_crash.sh — kill -9 owld under a PutLogEvents load (boto3, 4 clients, 50 events a
# batch), restart on the same data directory: every acknowledged event reads back exactly
# once, and the group and its streams are there (their creation was durable at once).
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3 has no boto3"
start_owld || bail "owld starts"
ACKS=$T/acks.txt
: >"$ACKS"
"$PYTHON" "$IT_DIR/logsload.py" put "$PORT" "$ADMIN" "$ACKS" 20 >"$T/load.out" 2>&1 &
CLIENT=$!
BG_PIDS+=("$CLIENT")
kill9_under_load "$CLIENT" "$ACKS"
cat "$T/load.out"
n=$(wc -l <"$ACKS")
echo "# kill -9 after $KILL_MS ms with $n batches acknowledged"
check "at least 50 batches were acknowledged before kill -9 ($n)" test "$n" -ge 50
check "the kill landed before the load ended ($n < 3000)" test "$n" -lt 3000
start_owld || bail "owld restarts after kill -9"
run_py "verify" "$IT_DIR/logsload.py" verify "$PORT" "$ADMIN" "$ACKS"
finish

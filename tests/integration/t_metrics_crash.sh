#!/bin/bash
# t_metrics_crash.sh — kill -9 owld under a metric write load (CloudWatch JSON 1.0 and native
# JSON, 4 clients, 100 datapoints a request), restart on the same data directory, and every
# acknowledged datapoint must read back (issue 10: no acknowledged datapoint is lost).
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import botocore' 2>/dev/null || skip "python3 has no botocore (signs the JSON 1.0 requests)"
start_owld || bail "owld starts"
ACKS=$T/acks.txt
: >"$ACKS"
"$PYTHON" "$IT_DIR/metricload.py" put "$PORT" "$ADMIN" "$ACKS" 20 >"$T/load.out" 2>&1 &
CLIENT=$!
BG_PIDS+=("$CLIENT")
kill9_under_load "$CLIENT" "$ACKS"
cat "$T/load.out"
n=$(wc -l <"$ACKS")
echo "# kill -9 after $KILL_MS ms with $n requests acknowledged"
check "at least 50 requests were acknowledged before kill -9 ($n)" test "$n" -ge 50
check "the kill landed before the load ended ($n < 3000)" test "$n" -lt 3000
start_owld || bail "owld restarts after kill -9"
run_py "verify" "$IT_DIR/metricload.py" verify "$PORT" "$ADMIN" "$ACKS"
check_logs_clean
finish

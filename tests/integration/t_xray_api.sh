#!/bin/bash
# t_xray_api.sh — the X-Ray API (PutTraceSegments, BatchGetTraces, GetTraceSummaries) against a
# real owld: boto3 (xray_api.py: the X-Ray sample documents of ../shared/data/xray round trip
# with their trees and members, unprocessed documents and ids, summaries with filter
# expressions and pages, an OTLP trace as segments, tenants apart), then the Debian AWS CLI
# v2: put-trace-segments of ddbSample, batch-get-traces giving back its faulted subsegment
# tree, get-trace-summaries --filter-expression finding it.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
DATA_DIR=${OWL_TEST_DATA:-$OWL_SRCDIR/../shared/data}
[ -f "$DATA_DIR/xray/ddbSample.txt" ] || skip "X-Ray samples not found in $DATA_DIR/xray (set OWL_TEST_DATA)"
"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3 has no boto3"
start_owld || bail "owld starts"
create_key "$ADMIN" '["*"]' 000000000088
[ -n "$NEW_KEY" ] || bail "a key of another tenant"
run_py xray_api.py "$IT_DIR/xray_api.py" "$PORT" "$ADMIN_ID" "${ADMIN#*:}" "${NEW_KEY%%:*}" \
    "${NEW_KEY#*:}" "$ADMIN" "$DATA_DIR"

[ -x "$AWS" ] || { finish; exit; }
# ddbSample under a fresh trace id, times moved to now
"$PYTHON" - "$DATA_DIR/xray/ddbSample.txt" "$T/docs.json" "$T/want.json" <<'PY'
import json, sys, time
d = json.loads(open(sys.argv[1]).read().split("\n", 1)[1])
delta = time.time() - 60 - d["start_time"]
def shift(n):
    for k in ("start_time", "end_time"):
        if k in n:
            n[k] += delta
    for s in n.get("subsegments", []):
        shift(s)
shift(d)
d["trace_id"] = "1-%08x-%024x" % (int(time.time()), 0xc11)
json.dump([json.dumps(d)], open(sys.argv[2], "w"))
json.dump(d, open(sys.argv[3], "w"))
PY
awsc xray put-trace-segments --trace-segment-documents "file://$T/docs.json"
check_eq "aws xray put-trace-segments" "0 0" \
    "$AWS_RC $(printf '%s' "$AWS_OUT" | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["UnprocessedTraceSegments"]))')"
TID=$("$PYTHON" -c "import json; print(json.load(open('$T/want.json'))['trace_id'])")
awsc xray batch-get-traces --trace-ids "$TID"
got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["Traces"][0]
doc = json.loads(t["Segments"][0]["Document"])
want = json.load(open(sys.argv[1]))
def tree(n, d=0):
    r = [(d, n["name"], bool(n.get("fault")), "cause" in n)]
    for s in n.get("subsegments", []):
        r += tree(s, d + 1)
    return r
a, b = tree(doc), tree(want)
print(len(a), a == b, max(x[0] for x in a if x[2]) == max(x[0] for x in b if x[2]) >= 3)' \
    "$T/want.json" 2>&1)
check_eq "aws xray batch-get-traces: ddbSample's 18 nodes, the same tree and faults" \
    "18 True True" "$got"
awsc xray get-trace-summaries --start-time "$(($(date +%s) - 600))" --end-time "$(($(date +%s) + 60))" \
    --filter-expression 'service("DDB") { fault = true }'
check_contains "aws xray get-trace-summaries --filter-expression finds it" "$AWS_OUT" "$TID"
awsc xray get-trace-summaries --start-time "$(($(date +%s) - 600))" --end-time "$(($(date +%s) + 60))" \
    --filter-expression 'responsetime >'
check_contains "a malformed expression: InvalidRequestException" "$AWS_ERR" InvalidRequestException
finish

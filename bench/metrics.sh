#!/bin/bash
# metrics.sh — owl's metrics beside VictoriaMetrics, fed the same samples in the same run:
#   ingest    datapoints per second over HTTP, owld (--workers 1) and VictoriaMetrics each
#             pinned to one CPU, the client on the other. Counted as users wait: owl answers a
#             write once it is durable (WAL fsync) and readable; VictoriaMetrics answers before
#             its data is searchable, so its time runs until a query sees every sample
#             (/internal/force_flush, then polling).
#   bytes     bytes per sample on disk after that ingest: owl's metrics table (every level) and
#             series catalog after a clean stop, VictoriaMetrics' whole data directory after
#             force_flush.
#   query     a 1-week, 1-second series (604,800 points; --quick: 1 day): p99 and Average per
#             hour over the week, median latency of 7 runs, owl's GET /api/v1/metrics/query
#             (the same code as GetMetricStatistics) beside VictoriaMetrics' query_range of
#             quantile_over_time(0.99, m[1h]) and avg_over_time(m[1h]) with step 1h. owl answers
#             week-old data from its 60 s roll-ups, so the timing starts once the roller has
#             rolled all of it (polled).
# RESULT lines for bench/run; --record appends to bench/RESULTS.md. Exit 1 on any failure.
#
# Usage: bench/metrics.sh [--quick] [--record] [--owld PATH] [--cpu C]
#   --quick  1,000 series x 300 points and a 1-day query series (default: 10,000 x 600, 1 week)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
OWLD=${OWLD:-}
CPU=1
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --owld) OWLD=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done

BENCH_NAME=metrics
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
for t in taskset python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
[ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
CLIENT_CPU=$(( (CPU + 1) % $(nproc) ))
bench_tmpdir
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
PY="taskset -c $CLIENT_CPU python3 $SRCDIR/bench/metrics_client.py"

if [ "$QUICK" = 1 ]; then SERIES=100 POINTS=300 QDAYS=1; else SERIES=1000 POINTS=600 QDAYS=7; fi
NOW_S=$(date +%s)
START=$((NOW_S - POINTS - 120))

# ---- data: the same samples for both ----
python3 "$SRCDIR/bench/datasets/metrics.py" --out "$T/in.jsonl" --format vmjson \
    --series "$SERIES" --combos 10 --points "$POINTS" --interval 1 --start "$((START * 1000))" \
    >"$T/ds.out" || die "metrics.py failed"
$PY make "$T/in.jsonl" "$T/req" 100 >"$T/make.out" || die "making the request bodies failed"
SAMPLES=$(awk -F= '$1 == "samples" { print $2 }' "$T/make.out")
echo "ingest: $SAMPLES samples ($((SERIES * 10)) series x $POINTS points at 1 s), bodies of 100 series"

# ---- owl ----
start_owl() {
    OWL_DATA=$T/owl-data
    rm -rf "$OWL_DATA"
    OWL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    taskset -c "$CPU" "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$OWL_DATA" --workers 1 \
        --log-level warn 2>"$T/owld.log" &
    OWL_PID=$!
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OWL_PORT/healthz")" = 200 ] && break
        sleep 0.05
    done
    OWL_KEY=$(tr -d '\n' <"$OWL_DATA/admin.key") || die "owld did not start (see $T/owld.log)"
}
stop_owl() {
    kill -TERM "$OWL_PID" 2>/dev/null
    wait "$OWL_PID" 2>/dev/null
}
start_owl
$PY send "http://127.0.0.1:$OWL_PORT/api/v1/metrics" "Authorization: Bearer $OWL_KEY" \
    "$T/req" owl 4 >"$T/owl.send" || { cat "$T/owld.log" >&2; die "owl ingest failed"; }
OWL_S=$(awk -F= '$1 == "seconds" { print $2 }' "$T/owl.send")
OWL_RATE=$(calc %.0f "$SAMPLES / $OWL_S")
echo "owl: $OWL_S s, $OWL_RATE datapoints/s"
stop_owl
OWL_BYTES=$(( $(du -sb "$OWL_DATA/store/metrics" | cut -f1) + $(du -sb "$OWL_DATA/meta" | cut -f1) ))
OWL_BPS=$(calc %.3f "$OWL_BYTES / $SAMPLES")
OWL_RAW_BYTES=$(( $(du -scb "$OWL_DATA"/store/metrics/*/m1 | tail -n 1 | cut -f1) + $(du -sb "$OWL_DATA/meta" | cut -f1) ))
OWL_RAW_BPS=$(calc %.3f "$OWL_RAW_BYTES / $SAMPLES")
echo "owl: $OWL_BYTES bytes on disk (store/metrics + meta), $OWL_BPS bytes per sample; raw level + catalog $OWL_RAW_BYTES, $OWL_RAW_BPS"
for lvl in "$OWL_DATA"/store/metrics/*/*; do echo "  $(basename "$lvl"): $(du -sb "$lvl" | cut -f1) bytes"; done

# ---- VictoriaMetrics ----
VM_DIR=$T/vm
bench_peer_start victoria-metrics "$VM_DIR"
VM_VER=$("$SRCDIR/bench/peers/victoria-metrics" version "$VM_DIR" 2>/dev/null | head -n 1)
VM=http://127.0.0.1:$PEER_PORT
t0=$(now_ns)
$PY send "$VM/api/v1/import" - "$T/req" vm 4 >"$T/vm.send" || die "VictoriaMetrics ingest failed"
curl -sf "$VM/internal/force_flush" >/dev/null || die "VictoriaMetrics force_flush failed"
# searchable: the count of every sample over the range
for _ in $(seq 600); do
    got=$(curl -s "$VM/api/v1/query" --data-urlencode "query=sum(count_over_time({env=\"prod\"}[$((POINTS + 600))s]))" \
        --data-urlencode "time=$((NOW_S + 60))" | python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)' 2>/dev/null)
    [ "${got:-0}" -ge "$SAMPLES" ] && break
    sleep 0.1
done
t1=$(now_ns)
[ "${got:-0}" -ge "$SAMPLES" ] || die "VictoriaMetrics shows ${got:-0} of $SAMPLES samples"
VM_S=$(calc %.6f "($t1 - $t0) / 1e9")
VM_RATE=$(calc %.0f "$SAMPLES / $VM_S")
echo "VictoriaMetrics $VM_VER: $VM_S s until searchable ($(awk -F= '$1 == "seconds" { print $2 }' "$T/vm.send") s to acknowledge), $VM_RATE datapoints/s"
# force_flush returns before the parts are on disk (right after it the directory held a
# twentieth of the final size): wait until the size stays put for 3 s (at most 60 s)
VM_BYTES=0 stable=0
for _ in $(seq 60); do
    b=$(du -sb "$VM_DIR/data" | cut -f1)
    if [ "$b" = "$VM_BYTES" ]; then stable=$((stable + 1)); else stable=0; VM_BYTES=$b; fi
    [ "$stable" -ge 3 ] && break
    sleep 1
done
[ "$stable" -ge 3 ] || die "VictoriaMetrics' data directory did not settle"
VM_BPS=$(calc %.3f "$VM_BYTES / $SAMPLES")
echo "VictoriaMetrics: $VM_BYTES bytes on disk (its data directory), $VM_BPS bytes per sample"

# ---- query: one 1-second series over QDAYS days ----
QPOINTS=$((QDAYS * 86400))
QSTART=$(( (NOW_S - QPOINTS) / 3600 * 3600 ))
python3 - "$T/q" "$QSTART" "$QPOINTS" <<'EOF' || die "making the query series failed"
import json, math, os, sys
out, start, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
step = 100000
for k, i in enumerate(range(0, n, step)):
    ts = [(start + j) * 1000 for j in range(i, min(n, i + step))]
    vs = [round(50 + 40 * math.sin(j / 600.0) + (j * 7919 % 1000) / 100.0, 3) for j in range(i, min(n, i + step))]
    with open(os.path.join(out, "owl-%05d.json" % k), "w") as f:
        json.dump({"metrics": [{"namespace": "bench", "name": "week", "dimensions": {"host": "q"},
                                "timestamps": ts, "values": vs}]}, f, separators=(",", ":"))
    with open(os.path.join(out, "vm-%05d.jsonl" % k), "w") as f:
        f.write(json.dumps({"metric": {"__name__": "week", "host": "q"}, "values": vs,
                            "timestamps": ts}) + "\n")
EOF
start_owl
$PY send "http://127.0.0.1:$OWL_PORT/api/v1/metrics" "Authorization: Bearer $OWL_KEY" "$T/q" owl 1 \
    >/dev/null || die "owl: loading the query series failed"
QEND=$((NOW_S + 60))
OWLQ="http://127.0.0.1:$OWL_PORT/api/v1/metrics/query?namespace=bench&name=week&dim.host=q&period=3600&start=$((QSTART * 1000))&end=$((QEND * 1000))"
for _ in $(seq 1200); do  # until the roller has rolled it all
    n=$(curl -s -H "Authorization: Bearer $OWL_KEY" "$OWLQ&stat=SampleCount" | python3 -c 'import json,sys
print(int(sum(d["SampleCount"] for d in json.load(sys.stdin)["datapoints"])))' 2>/dev/null)
    [ "${n:-0}" -ge "$QPOINTS" ] && break
    sleep 0.5
done
[ "${n:-0}" -ge "$QPOINTS" ] || die "owl answers ${n:-0} of $QPOINTS points of the query series"
$PY time "$OWLQ&stat=p99" "Authorization: Bearer $OWL_KEY" 7 >"$T/owl.p99" 2>"$T/owl.p99.body" || die "owl p99 query failed"
$PY time "$OWLQ&stat=Average" "Authorization: Bearer $OWL_KEY" 7 >"$T/owl.avg" 2>/dev/null || die "owl Average query failed"
stop_owl
$PY send "$VM/api/v1/import" - "$T/q" vm 1 >/dev/null || die "VictoriaMetrics: loading the query series failed"
curl -sf "$VM/internal/force_flush" >/dev/null
# nocache=1: VictoriaMetrics caches range-query results, owl does not; every run must compute
VMQ="$VM/api/v1/query_range?start=$QSTART&end=$QEND&step=3600&nocache=1"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
for _ in $(seq 600); do
    n=$(curl -s "$VM/api/v1/query" --data-urlencode "query=count_over_time(week[$((QPOINTS + 3600))s])" \
        --data-urlencode "time=$QEND" | python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)' 2>/dev/null)
    [ "${n:-0}" -ge "$QPOINTS" ] && break
    sleep 0.2
done
[ "${n:-0}" -ge "$QPOINTS" ] || die "VictoriaMetrics shows ${n:-0} of $QPOINTS points of the query series"
$PY time "$VMQ&query=$(enc 'quantile_over_time(0.99, week[1h])')" - 7 >"$T/vm.p99" 2>/dev/null || die "VictoriaMetrics p99 query failed"
$PY time "$VMQ&query=$(enc 'avg_over_time(week[1h])')" - 7 >"$T/vm.avg" 2>/dev/null || die "VictoriaMetrics avg query failed"
get() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
OWL_HOURS=$(python3 -c 'import json,sys; print(len(json.loads(sys.stdin.read().splitlines()[0])["datapoints"]))' <"$T/owl.p99.body")
$PY time "$VMQ&query=$(enc 'quantile_over_time(0.99, week[1h])')" - 1 >/dev/null 2>"$T/vm.p99.body"
VM_HOURS=$(python3 -c 'import json,sys; r=json.loads(sys.stdin.read().splitlines()[0])["data"]["result"]; print(len(r[0]["values"]) if r else 0)' <"$T/vm.p99.body" 2>/dev/null)
echo "hourly values answered: owl $OWL_HOURS, VictoriaMetrics ${VM_HOURS:-?}"
[ "${OWL_HOURS:-0}" -ge $((QDAYS * 24)) ] && [ "${VM_HOURS:-0}" -ge $((QDAYS * 24)) ] ||
    die "a query answered fewer than $((QDAYS * 24)) hourly values"
echo "query over $QDAYS day(s) of 1 s points, period 1 h: owl p99 $(get "$T/owl.p99" median_ms) ms, Average $(get "$T/owl.avg" median_ms) ms; VictoriaMetrics p99 $(get "$T/vm.p99" median_ms) ms, avg $(get "$T/vm.avg" median_ms) ms (medians of 7)"

# ---- results ----
R_INGEST=$(calc %.2f "$OWL_RATE / $VM_RATE")
R_BYTES=$(calc %.2f "$VM_BPS / $OWL_BPS")
R_RAW=$(calc %.2f "$VM_BPS / $OWL_RAW_BPS")
R_P99=$(calc %.2f "$(get "$T/vm.p99" median_ms) / $(get "$T/owl.p99" median_ms)")
R_AVG=$(calc %.2f "$(get "$T/vm.avg" median_ms) / $(get "$T/owl.avg" median_ms)")
case "${VM_VER:-}" in VictoriaMetrics*) VMNAME=$VM_VER ;; *) VMNAME="VictoriaMetrics ${VM_VER:-}" ;; esac
result "metrics ingest (durable + searchable)" "$OWL_RATE" "$VMNAME" "$VM_RATE" "$R_INGEST" "datapoints/s"
result "metrics bytes per sample" "$OWL_BPS" "$VMNAME" "$VM_BPS" "$R_BYTES" "bytes/sample"
result "metrics raw-level bytes per sample" "$OWL_RAW_BPS" "$VMNAME" "$VM_BPS" "$R_RAW" "bytes/sample"
result "metrics p99 per hour over ${QDAYS}d of 1 s" "$(get "$T/owl.p99" median_ms)" "$VMNAME" "$(get "$T/vm.p99" median_ms)" "$R_P99" "ms"
result "metrics Average per hour over ${QDAYS}d of 1 s" "$(get "$T/owl.avg" median_ms)" "$VMNAME" "$(get "$T/vm.avg" median_ms)" "$R_AVG" "ms"
if [ "$RECORD" = 1 ]; then
    {
        printf '\n## metrics (%s)\n\n%s\n\n' "$([ "$QUICK" = 1 ] && echo quick || echo full)" "$(machine_line)"
        echo "| benchmark | owl | peer | peer figure | ratio (> 1: owl wins) | unit |"
        echo "|---|---|---|---|---|---|"
        echo "| ingest, $SAMPLES samples, durable + searchable | $OWL_RATE | $VMNAME | $VM_RATE | $R_INGEST | datapoints/s |"
        echo "| bytes per sample (every level + catalog) | $OWL_BPS | $VMNAME | $VM_BPS | $R_BYTES | bytes |"
        echo "| bytes per sample (raw level + catalog) | $OWL_RAW_BPS | $VMNAME | $VM_BPS | $R_RAW | bytes |"
        echo "| p99 per hour, ${QDAYS} d of 1 s points | $(get "$T/owl.p99" median_ms) | $VMNAME | $(get "$T/vm.p99" median_ms) | $R_P99 | ms |"
        echo "| Average per hour, ${QDAYS} d of 1 s points | $(get "$T/owl.avg" median_ms) | $VMNAME | $(get "$T/vm.avg" median_ms) | $R_AVG | ms |"
    } >>"$(results_file)"
fi

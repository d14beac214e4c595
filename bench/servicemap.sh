#!/bin/bash
# servicemap.sh — owl's service map and bottleneck ranking over a day of stored spans beside
# ClickHouse computing the same edges, and the live service graph's cost at ingest, in one
# run. Spans: bench/traces_bodies.py's (the Nezha traces replayed with fresh ids over
# yesterday UTC; server spans of failing calls HTTP 500), SPANS + EXTRA of them
# (>= 10,000,000 without --quick). Each server pinned to CPU C (taskset): owld --workers 2,
# ClickHouse (bench/peers/clickhouse: spans table ORDER BY (service, start_ns),
# max_threads=1); bench/loadgen and the query client on the other CPU.
#   1. The live graph's cost at ingest: the SPANS spans as OTLP/HTTP protobuf into a fresh
#      owld with --service-graph on and off, alternately, --runs runs of each (spans/s as
#      bench/traces.sh counts them: every body answered + the last trace readable); and
#      bench/ingest_cost.c (decode + owl_traces_put + seal, no HTTP) with and without
#      --no-graph: CPU seconds over the same bodies (--runs alternate runs each, median) and,
#      without --quick, instructions under callgrind (60 requests, as its header says).
#   2. The store: SPANS + EXTRA spans in one owld (--service-graph on) and in ClickHouse
#      (OPTIMIZE FINAL). owld's per-minute owl/ServiceGraph statistics are waited for (the
#      unfiltered map polled until its edges stay the same), then owld is restarted with
#      --store-settle-ms 1000 and the day waited for until settled (no level-0 part of the
#      spans table, nor of the statistics' m60/m300/m3600 roll-ups, which settling combines).
#   3. Over the window of the spans' day, each the median of --qruns runs after a warm-up:
#      GET /api/v1/servicemap (the statistics), GET /api/v1/bottlenecks (every trace of the
#      window walked: critical paths), and ClickHouse's edges: spans self-joined (child's
#      parent_span_id = parent's span_id, same trace_id, other service) GROUP BY (parent's
#      service, child's service) with count(), faults, errors and quantileExact(0.99) of the
#      child's duration. The two sets of service-to-service edges are compared (requests,
#      faults and errors equal, p99 within 10%: owl's histogram buckets are +-9%); owl's
#      edges to virtual nodes have no ClickHouse counterpart and are counted apart. Once:
#      GET /api/v1/servicemap?filter=service() (the map computed from every trace of the
#      window), compared the same way. Both servers share the CPU, so while one is timed the
#      other is stopped (SIGSTOP, then SIGCONT and a second's rest before its own turn): an
#      idle server's background work (ClickHouse's logs and merges after its query, owld's
#      statistics and compaction) is not counted in the other's figure.
# Goal (reported, not enforced): map + bottlenecks <= 1 s over 10,000,000 spans. RESULT lines
# for bench/run; --record appends this script's table to bench/RESULTS.md.
#
# Usage: bench/servicemap.sh [--quick] [--record] [--spans N] [--extra N] [--runs N]
#                            [--qruns N] [--data DIR] [--owld PATH] [--loadgen PATH] [--cpu C]
#   --quick  200,000 + 800,000 spans, 1 ingest run of each, 3 query runs, no callgrind
#   default  2,000,000 + 8,000,000 spans, 3 ingest runs of each, 5 query runs
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
SPANS=
EXTRA=
RUNS=
QRUNS=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}
OWLD=${OWLD:-}
LOADGEN=${LOADGEN:-}
CPU=1
CONNS=4
WORKERS=2
CG_REQS=60

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --spans) SPANS=$2; shift ;;
    --extra) EXTRA=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --qruns) QRUNS=$2; shift ;;
    --data) DATA=$2; shift ;;
    --owld) OWLD=$2; shift ;;
    --loadgen) LOADGEN=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "$SPANS" ] || { [ "$QUICK" = 1 ] && SPANS=200000 || SPANS=2000000; }
[ -n "$EXTRA" ] || { [ "$QUICK" = 1 ] && EXTRA=800000 || EXTRA=8000000; }
[ -n "$RUNS" ] || { [ "$QUICK" = 1 ] && RUNS=1 || RUNS=3; }
[ -n "$QRUNS" ] || { [ "$QUICK" = 1 ] && QRUNS=3 || QRUNS=5; }

BENCH_NAME=servicemap
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$RUNS" -ge 1 ] 2>/dev/null && [ "$QRUNS" -ge 1 ] 2>/dev/null || die "--runs and --qruns take a count of 1 or more"
[ "$CPU" -lt "$(nproc)" ] 2>/dev/null || die "CPU $CPU asked, $(nproc) online"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
BUILD_DIR=$(cd "$(dirname "$(dirname "$OWLD")")" && pwd)
[ -n "$LOADGEN" ] || LOADGEN=$BUILD_DIR/bench/loadgen
[ -x "$LOADGEN" ] || die "no bench/loadgen binary beside $OWLD: build it (make bench/loadgen), or pass --loadgen PATH"
for b in "$OWLD" "$LOADGEN"; do
    if nm "$b" 2>/dev/null | grep -q __asan_init; then die "$b is a sanitizer build"; fi
done
for t in taskset python3 curl cc pkg-config; do command -v $t >/dev/null || die "$t is needed"; done
CALLGRIND=0
if [ "$QUICK" = 0 ]; then
    command -v valgrind >/dev/null && CALLGRIND=1 || echo "no valgrind: instruction counts left out (apt-get install valgrind)"
fi
CLIENT_CPU=$(( (CPU + 1) % $(nproc) ))
bench_tmpdir
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(now_ns)
PIN="taskset -c $CPU"
CPIN="taskset -c $CLIENT_CPU"

# ---- spans ----
echo "building $SPANS + $EXTRA spans from the Nezha traces..."
python3 "$SRCDIR/bench/traces_bodies.py" --data "$DATA" --out "$T/b" --spans "$SPANS" \
    --extra "$EXTRA" >"$T/bodies.out" || die "traces_bodies.py failed"
rm -f "$T/b/json.rec" # only traces.sh's JSON ingest reads it
N=$(kv "$T/bodies.out" spans)
REQS=$(kv "$T/bodies.out" requests)
NX=$(kv "$T/bodies.out" extra_spans)
REQSX=$(kv "$T/bodies.out" extra_requests)
LAST=$(kv "$T/bodies.out" last_trace)
TOTAL=$((N + NX))
# the window: the UTC day of the spans (from the first row, not the clock: no midnight race)
FIRST_NS=$(awk -F'\t' 'NR == 2 { print $7; exit }' "$T/b/ch.rec")
[[ "$FIRST_NS" =~ ^[0-9]+$ ]] || die "no start time in the first ClickHouse row"
DAY_MS=$((FIRST_NS / 86400000000000 * 86400000)) # in the shell: awk's numbers are doubles
END_MS=$((DAY_MS + 86400000))
DAY=$(date -u -d "@$((DAY_MS / 1000))" +%Y%m%d)
echo "  $N spans in $REQS requests for the ingest runs, $NX more in the store: $TOTAL spans of $(date -u -d "@$((DAY_MS / 1000))" +%F) (UTC); $(kv "$T/bodies.out" templates) trace shapes"

# load NAME URL RECFILE REQUESTS ITEMS [HEADER...] — every body once through loadgen
load() {
    local name=$1 url=$2 rec=$3 reqs=$4 items=$5 h=() x
    shift 5
    for x in "$@"; do h+=(--header "$x"); done
    $CPIN "$LOADGEN" --url "$url" --payloads "$rec" --payload-format records --connections "$CONNS" \
        --requests "$reqs" --duration 3600 --timeout 300 --json "${h[@]}" >"$T/$name.json" 2>"$T/$name.err" ||
        { cat "$T/$name.err" "$T/$name.json" >&2; die "$name: loadgen reported errors"; }
    [ "$(jget "$T/$name.json" ok)" = "$reqs" ] && [ "$(jget "$T/$name.json" items)" = "$items" ] ||
        { cat "$T/$name.json" >&2; die "$name: not every body got a 2xx answer"; }
    printf -v "SEC_$name" '%s' "$(jget "$T/$name.json" duration_s)"
}

# ---- owld (bench/lib.sh: logs_owl_start, logs_owl_stop; no X-Ray daemon port) ----
start_owl() { # DIR [OPTION...]
    local d=$1
    shift
    logs_owl_start "$d" --xray-daemon off "$@"
}
stop_owl() { logs_owl_stop; }
trap 'stop_owl; bench_cleanup' EXIT
# visible NAME — seconds until GET /api/v1/traces/LAST answers 200 (from now)
visible() {
    local t0 deadline
    t0=$(now_ns)
    deadline=$((t0 + 60000000000))
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OWL_KEY" "$OWL/api/v1/traces/$LAST")" = 200 ]; do
        [ "$(now_ns)" -lt "$deadline" ] || die "$1: the last trace is not found"
        sleep 0.01
    done
    printf -v "VIS_$1" '%s' "$(calc %.3f "($(now_ns) - $t0) / 1e9")"
}
# middle LIST... — the median of the numbers given (the lower middle of an even count)
middle() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
joined() { printf '%s\n' "$@" | sort -g | paste -sd, - | sed 's/,/, /g'; }

# ---- 1. the live graph's cost at ingest ----
RATES_on=() RATES_off=()
for i in $(seq "$RUNS"); do
    order="on off"
    [ $((i % 2)) = 0 ] && order="off on"
    for g in $order; do
        echo "owld --service-graph $g: OTLP/HTTP protobuf, $N spans (CPU $CPU, --workers $WORKERS), run $i of $RUNS..."
        rm -rf "$T/owl-ingest"
        start_owl "$T/owl-ingest" --service-graph "$g"
        load "ing_${g}_$i" "$OWL/v1/traces" "$T/b/pb.rec" "$REQS" "$N" \
            "Authorization: Bearer $OWL_KEY" "Content-Type: application/x-protobuf"
        visible "ing_${g}_$i"
        stop_owl
        sec=SEC_ing_${g}_$i vis=VIS_ing_${g}_$i
        rate=$(calc %.0f "$N / (${!sec} + ${!vis})")
        eval "RATES_$g+=($rate)"
        echo "  ${!sec} s for every request + ${!vis} s to see the last trace: $rate spans/s"
    done
done
rm -rf "$T/owl-ingest"
RATE_on=$(middle "${RATES_on[@]}")
RATE_off=$(middle "${RATES_off[@]}")
R_ING=$(calc %.3f "$RATE_on / $RATE_off")
echo "  median: $RATE_on spans/s with the live graph ($(joined "${RATES_on[@]}")), $RATE_off without ($(joined "${RATES_off[@]}")): ratio $R_ING"

echo "bench/ingest_cost.c with and without the graph (decode + owl_traces_put + seal, pinned to CPU $CPU)..."
# shellcheck disable=SC2046  # pkg-config's flags are words
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -I"$SRCDIR" -I"$BUILD_DIR" -I"$SRCDIR/ingest/otlp" \
    -I"$BUILD_DIR/ingest/otlp" -o "$T/ingest_cost" "$SRCDIR/bench/ingest_cost.c" \
    -Wl,--start-group "$BUILD_DIR/ingest/libowlingest.a" "$BUILD_DIR/tracer/libowltracer.a" \
    "$BUILD_DIR/ingest/libowlotlppb.a" "$BUILD_DIR/analytics/libowlanalytics.a" \
    "$BUILD_DIR/index/libowlindex.a" "$BUILD_DIR/common/libowlcommon.a" -Wl,--end-group \
    $(pkg-config --cflags --libs libbson-1.0) -lprotobuf-c -lzstd -lpcre2-8 -lcbor -lz -lm -lpthread \
    2>"$T/ic.err" || { cat "$T/ic.err" >&2; die "building bench/ingest_cost.c failed"; }
# cpu_run ARGS... — CPU seconds (user + system, all threads) of one ingest_cost run in a fresh
# directory, its output checked
cpu_run() {
    rm -rf "$T/ic"
    $PIN python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(p.stdout.decode())
print("cpu_s=%.3f" % (r.ru_utime + r.ru_stime))
sys.exit(p.returncode)' "$T/ingest_cost" "$T/b/pb.rec" pb "$REQS" "$T/ic" "$@" >"$T/ic.out" ||
        die "ingest_cost $* failed"
    [ "$(awk '{ print $2 }' "$T/ic.out" | head -n 1)" = "spans=$N" ] || die "ingest_cost did not put $N spans"
    kv "$T/ic.out" cpu_s
}
CPU_on=() CPU_off=()
CRUNS=$((RUNS + 2))
for i in $(seq "$CRUNS"); do
    if [ $((i % 2)) = 1 ]; then
        CPU_on+=("$(cpu_run)") CPU_off+=("$(cpu_run --no-graph)")
    else
        CPU_off+=("$(cpu_run --no-graph)") CPU_on+=("$(cpu_run)")
    fi
done
CPUS_on=$(middle "${CPU_on[@]}")
CPUS_off=$(middle "${CPU_off[@]}")
R_CPU=$(calc %.3f "$CPUS_off / $CPUS_on")
echo "  CPU seconds for $N spans, median of $CRUNS: $CPUS_on with the graph ($(joined "${CPU_on[@]}")), $CPUS_off without ($(joined "${CPU_off[@]}")): $(calc %.0f "$CPUS_on * 1e9 / $N") vs $(calc %.0f "$CPUS_off * 1e9 / $N") ns a span"
if [ "$CALLGRIND" = 1 ]; then
    for g in on off; do
        rm -rf "$T/ic"
        a=()
        [ "$g" = off ] && a=(--no-graph)
        valgrind --tool=callgrind --callgrind-out-file="$T/cg.$g" "$T/ingest_cost" "$T/b/pb.rec" pb \
            "$CG_REQS" "$T/ic" "${a[@]}" >"$T/cg.$g.out" 2>"$T/cg.$g.err" || die "callgrind ingest_cost failed"
        printf -v "INS_$g" '%s' "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$T/cg.$g.err")"
        printf -v "CGS_$g" '%s' "$(awk '{ sub("spans=", "", $2); print $2 }' "$T/cg.$g.out")"
    done
    [ -n "$INS_on" ] && [ -n "$INS_off" ] && [ "$CGS_on" = "$CGS_off" ] || die "no instruction counts from callgrind"
    IPS_on=$(calc %.0f "$INS_on / $CGS_on")
    IPS_off=$(calc %.0f "$INS_off / $CGS_off")
    R_INS=$(calc %.3f "$INS_off / $INS_on")
    echo "  callgrind, $CG_REQS requests ($CGS_on spans): $INS_on instructions with the graph ($IPS_on a span), $INS_off without ($IPS_off a span)"
fi

# ---- 2. the store ----
echo "store: $TOTAL spans into one owld (--service-graph on) and ClickHouse..."
start_owl "$T/owl" --store-settle-ms 1000
load owl_main "$OWL/v1/traces" "$T/b/pb.rec" "$REQS" "$N" "Authorization: Bearer $OWL_KEY" \
    "Content-Type: application/x-protobuf"
load owl_extra "$OWL/v1/traces" "$T/b/extra_pb.rec" "$REQSX" "$NX" "Authorization: Bearer $OWL_KEY" \
    "Content-Type: application/x-protobuf"
T_LOADED=$(now_ns)
echo "  owld: $(calc %.1f "$SEC_owl_main + $SEC_owl_extra") s for every request"
echo "ClickHouse: the same spans (pinned to CPU $CPU, max_threads=1)..."
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_PORT=$PEER_PORT
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
"$SRCDIR/bench/peers/clickhouse" schema spans | while IFS= read -r sql; do ch "$sql" >/dev/null; done
INS="http://127.0.0.1:$CH_PORT/?query=INSERT%20INTO%20spans_in%20FORMAT%20TabSeparated"
load ch_main "$INS" "$T/b/ch.rec" "$REQS" "$N"
load ch_extra "$INS" "$T/b/extra_ch.rec" "$REQSX" "$NX"
ch "OPTIMIZE TABLE spans FINAL" >/dev/null
[ "$(ch "SELECT count() FROM spans")" = "$TOTAL" ] || die "ClickHouse holds $(ch "SELECT count() FROM spans") spans, not $TOTAL"
echo "  $CH_VER: $(calc %.1f "$SEC_ch_main + $SEC_ch_extra") s for every INSERT, then OPTIMIZE FINAL"
T_POLL=$(now_ns)
# edges_of — the unfiltered map's edges as "source target requests" lines in $T/edges.txt
edges_of() {
    curl -s -f --max-time 600 -H "Authorization: Bearer $OWL_KEY" \
        "$OWL/api/v1/servicemap?start=$DAY_MS&end=$END_MS" >"$T/poll.json" || die "GET /api/v1/servicemap failed"
    python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["edges"]:
    print(e["source"], e["target"], e["requests"])' "$T/poll.json" >"$T/edges.txt" || die "the map is not JSON"
}
# The statistics of past minutes are written every 15 s (ingest/traces.c LATE_EVERY_MS), and a
# client span waits 30 s (--service-graph-ttl) for a callee before it is an edge to a virtual
# node: the map is taken as final once it has edges, at least 47 s have passed since the last
# span was acknowledged, and its answers (every 2 s) stayed the same for 20 s.
echo "  waiting for owld's statistics (the map unchanged for 20 s, >= 47 s after the last answer)..."
prev="" since=$(now_ns)
final=0
for _ in $(seq 300); do
    edges_of
    cur=$(cat "$T/edges.txt")
    [ "$cur" = "$prev" ] || { prev=$cur; since=$(now_ns); }
    if [ -n "$cur" ] && [ $(($(now_ns) - T_LOADED)) -ge 47000000000 ] &&
        [ $(($(now_ns) - since)) -ge 20000000000 ]; then
        final=1
        break
    fi
    sleep 2
done
[ "$final" = 1 ] || die "the map's edges still changed 600 s after the last span was acknowledged"
echo "  owld's statistics: $(echo "$cur" | wc -l) edges, $(echo "$cur" | awk '{ n += $3 } END { print n }') calls, unchanged since $(calc %.0f "($since - $T_LOADED) / 1e9") s after the last answer (polling began at $(calc %.0f "($T_POLL - $T_LOADED) / 1e9") s, after ClickHouse's load)"
stop_owl
start_owl "$T/owl" --store-settle-ms 1000
echo "  owld restarted with --store-settle-ms 1000: waiting for $DAY's spans and statistics' roll-ups to settle (no part of level 0; settling combines the roll-ups' partial rows)..."
t0=$(now_ns)
settled=0
for _ in $(seq 900); do
    l0=$(find "$T/owl/store/spans" -path "*/$DAY/p-*-0.owp" | wc -l)
    m0=$(find "$T/owl/store/metrics" -path "*/m[36]*/$DAY/p-*-0.owp" | wc -l)
    [ "$l0" = 0 ] && [ "$m0" = 0 ] && { settled=1; break; }
    sleep 1
done
[ "$settled" = 1 ] || die "the day's spans or roll-ups did not settle within 900 s"
echo "  settled in $(calc %.0f "($(now_ns) - $t0) / 1e9") s: $(find "$T/owl/store/spans" -path "*/$DAY/*.owp" | wc -l) spans parts, $(find "$T/owl/store/metrics" -path "*/m[36]*/$DAY/*.owp" | wc -l) roll-up parts"
edges_of
[ "$(cat "$T/edges.txt")" = "$cur" ] || die "the map's edges changed across the restart"
rm -f "$T/b/"*.rec

# ---- 3. the queries ----
LO_NS=${DAY_MS}000000 HI_NS=${END_MS}000000
CH_EDGES="SELECT p.service AS source, c.service AS target, count() AS requests, countIf(c.status = 'fault') AS faults, countIf(c.http_status >= 400 AND c.http_status < 500) AS errors, quantileExact(0.99)(c.duration_ns) / 1e6 AS p99_ms FROM (SELECT trace_id, parent_span_id, service, status, http_status, duration_ns FROM spans WHERE start_ns >= $LO_NS AND start_ns < $HI_NS) AS c ALL INNER JOIN (SELECT trace_id, span_id, service FROM spans WHERE start_ns >= $LO_NS AND start_ns < $HI_NS) AS p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id WHERE p.service != c.service GROUP BY source, target ORDER BY source, target FORMAT TabSeparated"
echo "queries over [$DAY_MS, $END_MS) ms, $QRUNS runs each after a warm-up (client on CPU $CLIENT_CPU)..."
read -r CH_PID _ <"$CH_DIR/pid" || die "no ClickHouse pid"
$CPIN python3 - "$OWL" "$OWL_KEY" "127.0.0.1:$CH_PORT" "$DAY_MS" "$END_MS" "$QRUNS" "$T" "$CH_EDGES" \
    "$OWL_PID" "$CH_PID" >"$T/q.out" <<'PY' || die "the query client failed"
import http.client, json, os, signal, statistics, sys, time, urllib.parse
owl, key, chost, start, end, runs, tdir, sql, owl_pid, ch_pid = sys.argv[1:11]
owl_pid, ch_pid = int(owl_pid), int(ch_pid)
runs = int(runs)
oh, op = owl.split("//")[1].split(":")
ch_h, ch_p = chost.split(":")
auth = {"Authorization": "Bearer " + key}

# a connection of its own for each request (a few tens of microseconds on loopback), so no
# server's keep-alive timeout can close one between two slow queries

def get(path):
    oc = http.client.HTTPConnection(oh, int(op), timeout=3600)
    t0 = time.perf_counter()
    oc.request("GET", path, None, auth)
    r = oc.getresponse()
    b = r.read()
    ms = (time.perf_counter() - t0) * 1000
    oc.close()
    if r.status != 200:
        sys.exit("GET %s: %d %s" % (path, r.status, b[:300]))
    return ms, b

def chq():
    cc = http.client.HTTPConnection(ch_h, int(ch_p), timeout=3600)
    t0 = time.perf_counter()
    cc.request("POST", "/", sql.encode())
    r = cc.getresponse()
    b = r.read()
    ms = (time.perf_counter() - t0) * 1000
    cc.close()
    if r.status != 200:
        sys.exit("ClickHouse: %d %s" % (r.status, b[:300]))
    return ms, b

w = "start=%s&end=%s" % (start, end)
q = {"map": "/api/v1/servicemap?" + w, "bn": "/api/v1/bottlenecks?" + w}
times = {"map": [], "bn": [], "ch": []}
last = {}


def alone(run, quiet):
    """runs run() with the other server stopped; it is continued, and the timed one had a
    second to itself first"""
    os.kill(quiet, signal.SIGSTOP)
    try:
        time.sleep(1)
        return run()
    finally:
        os.kill(quiet, signal.SIGCONT)


def owl_turn():
    got = {}
    for k in ("map", "bn"):
        got[k] = get(q[k])
    return got


try:
    for i in range(runs + 1):  # run 0 warms the page cache and is not counted
        got = alone(owl_turn, ch_pid)
        for k in ("map", "bn"):
            ms, last[k] = got[k]
            if i:
                times[k].append(ms)
        ms, last["ch"] = alone(chq, owl_pid)
        if i:
            times["ch"].append(ms)
    fms, last["fmap"] = alone(lambda: get(q["map"] + "&filter=" + urllib.parse.quote("service()")),
                              ch_pid)
finally:
    for p in (owl_pid, ch_pid):
        try:
            os.kill(p, signal.SIGCONT)
        except OSError:
            pass
for k, v in times.items():
    print("%s_ms=%.1f" % (k, statistics.median(v)))
    print("%s_runs=%s" % (k, ", ".join("%.1f" % x for x in sorted(v))))
print("fmap_ms=%.1f" % fms)
for k, b in last.items():
    open("%s/%s.answer" % (tdir, k), "wb").write(b)

# the edges, compared: ClickHouse has the service-to-service ones
chd = {}
for line in last["ch"].decode().splitlines():
    s, t, r, f, e, p = line.split("\t")
    chd[(s, t)] = (int(r), int(f), int(e), float(p))

def compare(name, answer):
    m = json.loads(answer)
    svc = {(e["source"], e["target"]): e for e in m["edges"] if e["targetType"] == "service"}
    virt = [e for e in m["edges"] if e["targetType"] != "service"]
    only_owl = sorted(set(svc) - set(chd))
    only_ch = sorted(set(chd) - set(svc))
    diff = [k for k in svc if k in chd and
            (svc[k]["requests"], svc[k]["faults"], svc[k]["errors"]) != chd[k][:3]]
    far = [k for k in svc if k in chd and chd[k][3] > 0 and
           abs(svc[k]["p99"] - chd[k][3]) > 0.10 * chd[k][3]]
    agree = not only_owl and not only_ch and not diff
    print("%s_edges=%d" % (name, len(svc)))
    print("%s_calls=%d" % (name, sum(e["requests"] for e in svc.values())))
    print("%s_faults=%d" % (name, sum(e["faults"] for e in svc.values())))
    print("%s_virtual=%d" % (name, len(virt)))
    print("%s_agree=%d" % (name, agree))
    print("%s_p99_far=%d" % (name, len(far)))
    for k in only_owl[:5]:
        print("%s_note=only in owl: %s -> %s (%d calls)" % (name, k[0], k[1], svc[k]["requests"]))
    for k in only_ch[:5]:
        print("%s_note=only in ClickHouse: %s -> %s (%d calls)" % (name, k[0], k[1], chd[k][0]))
    for k in diff[:5]:
        print("%s_note=%s -> %s: owl %d calls %d faults %d errors, ClickHouse %d %d %d" %
              ((name,) + k + (svc[k]["requests"], svc[k]["faults"], svc[k]["errors"]) + chd[k][:3]))

print("ch_edges=%d" % len(chd))
print("ch_calls=%d" % sum(v[0] for v in chd.values()))
compare("map", last["map"])
compare("fmap", last["fmap"])
b = json.loads(last["bn"])
print("bn_traces=%d" % b["traces"])
for i, r in enumerate(b["overall"][:3]):
    print("bn_top%d=%s %s: share %.3f of %d traces" % (i + 1, r["service"], r["operation"], r["share"], r["traces"]))
PY
sed 's/^/  /' "$T/q.out"
q() { kv "$T/q.out" "$1"; }
MAP_MS=$(q map_ms) BN_MS=$(q bn_ms) CH_MS=$(q ch_ms) FMAP_MS=$(q fmap_ms)
SUM_MS=$(calc %.1f "$MAP_MS + $BN_MS")
AGREE="service-to-service edges: ClickHouse $(q ch_edges) ($(q ch_calls) calls); owl's map $(q map_edges) ($(q map_calls) calls), $( [ "$(q map_agree)" = 1 ] && echo "the same edges with equal requests, faults and errors" || echo "DIFFERENT requests, faults or errors"), p99 within 10% on $(( $(q map_edges) - $(q map_p99_far) )) of $(q map_edges); owl's filter=service() map $( [ "$(q fmap_agree)" = 1 ] && echo "the same" || echo "DIFFERENT"); owl's edges to virtual nodes (no ClickHouse counterpart): $(q map_virtual)"
echo "$AGREE"
grep '_note=' "$T/q.out" | sed 's/^[a-z]*_note=/  /'
[ "$(q map_agree)" = 1 ] && [ "$(q fmap_agree)" = 1 ] || echo "WARNING: owl's edges and ClickHouse's differ (above)"
stop_owl
"$SRCDIR/bench/peers/clickhouse" stop "$CH_DIR" || die "stopping ClickHouse failed"

# ---- results ----
goal() { awk -v v="$1" -v g="$2" 'BEGIN { print v <= g ? "met" : "not met" }'; }
R_SUM=$(calc %.3f "$CH_MS / $SUM_MS")
R_MAP=$(calc %.3f "$CH_MS / $MAP_MS")
R_BN=$(calc %.3f "$CH_MS / $BN_MS")
R_FMAP=$(calc %.3f "$CH_MS / $FMAP_MS")
GOALS="map + bottlenecks over $TOTAL spans: $MAP_MS + $BN_MS = $SUM_MS ms (goal <= 1000 ms: $(goal "$SUM_MS" 1000))"
echo "goals: $GOALS"
SETUP="data: $TOTAL spans replayed from the Nezha traces with fresh ids over $(date -u -d "@$((DAY_MS / 1000))" +%F) UTC ($(q bn_traces) traces; the window is that day, its baseline for bottlenecks the day before, empty); owld --workers $WORKERS and the $CH_VER server (max_threads=1, spans ORDER BY (service, start_ns), OPTIMIZE FINAL) each pinned to CPU $CPU and timed while the other is stopped (SIGSTOP), the query client and bench/loadgen ($CONNS connections) on CPU $CLIENT_CPU; owld restarted and its day settled before the queries; query figures the median of $QRUNS runs after a warm-up (map $(q map_runs); bottlenecks $(q bn_runs); ClickHouse $(q ch_runs)), the filtered map one run; ClickHouse's figure is its edge GROUP BY (self-join, quantileExact(0.99)) in every row; $AGREE. Ingest: $N spans, owld --service-graph on/off alternately, $RUNS runs each (on $(joined "${RATES_on[@]}"); off $(joined "${RATES_off[@]}") spans/s); bench/ingest_cost.c CPU seconds over the same bodies, $CRUNS alternate runs each (on $(joined "${CPU_on[@]}"); off $(joined "${CPU_off[@]}"))"
table() {
    printf '| row | owl | peer | ratio (> 1: owl wins) |\n|---|---|---|---|\n'
    printf '| GET /api/v1/servicemap + GET /api/v1/bottlenecks, ms | **%s** (%s + %s) | %s: %s (edges only) | %s |\n' "$SUM_MS" "$MAP_MS" "$BN_MS" "$CH_VER" "$CH_MS" "$R_SUM"
    printf '| GET /api/v1/servicemap (owl/ServiceGraph statistics), ms | **%s** | %s: %s | %s |\n' "$MAP_MS" "$CH_VER" "$CH_MS" "$R_MAP"
    printf '| GET /api/v1/bottlenecks (critical paths of %s traces), ms | **%s** | %s: %s (edges only) | %s |\n' "$(q bn_traces)" "$BN_MS" "$CH_VER" "$CH_MS" "$R_BN"
    printf '| GET /api/v1/servicemap?filter=service() (every trace walked), ms, one run | **%s** | %s: %s | %s |\n' "$FMAP_MS" "$CH_VER" "$CH_MS" "$R_FMAP"
    printf '| OTLP/HTTP protobuf ingest, spans/s, live graph on / off | **%s** | owl --service-graph off: %s | %s |\n' "$RATE_on" "$RATE_off" "$R_ING"
    printf '| ingest_cost CPU s for %s spans, graph on / off | **%s** | --no-graph: %s | %s |\n' "$N" "$CPUS_on" "$CPUS_off" "$R_CPU"
    [ "$CALLGRIND" = 1 ] && printf '| ingest_cost instructions a span (callgrind, %s requests), graph on / off | **%s** | --no-graph: %s | %s |\n' "$CG_REQS" "$IPS_on" "$IPS_off" "$R_INS"
    return 0
}
table
result "servicemap map + bottlenecks ($TOTAL spans)" "$SUM_MS" "$CH_VER" "$CH_MS" "$R_SUM" "ms"
result "servicemap GET /api/v1/servicemap ($TOTAL spans)" "$MAP_MS" "$CH_VER" "$CH_MS" "$R_MAP" "ms"
result "servicemap GET /api/v1/bottlenecks ($TOTAL spans)" "$BN_MS" "$CH_VER" "$CH_MS" "$R_BN" "ms"
result "servicemap filter=service() map, one run ($TOTAL spans)" "$FMAP_MS" "$CH_VER" "$CH_MS" "$R_FMAP" "ms"
result "servicemap OTLP protobuf ingest, live graph on ($N spans)" "$RATE_on" "owl --service-graph off" "$RATE_off" "$R_ING" "spans/s"
result "servicemap ingest_cost CPU, graph on ($N spans)" "$CPUS_on" "owl --no-graph" "$CPUS_off" "$R_CPU" "CPU s"
[ "$CALLGRIND" = 1 ] && result "servicemap ingest_cost instructions a span, graph on ($CG_REQS requests)" "$IPS_on" "owl --no-graph" "$IPS_off" "$R_INS" "instructions"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)
echo "machine: $MACHINE; the whole script took $(calc %.0f "($(now_ns) - $START) / 1e9") s"
if [ "$RECORD" = 1 ]; then
    {
        printf '\n## servicemap — service map and bottlenecks beside ClickHouse, the live graph at ingest, %s spans%s (%s)\n\n' \
            "$TOTAL" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n%s\n\n%s\n\n%s\n' "$MACHINE" "$SETUP" "$(table)" "Goals: $GOALS"
    } >>"$(results_file)"
    echo "recorded in $(results_file)"
fi
[ "$(q map_agree)" = 1 ] && [ "$(q fmap_agree)" = 1 ] || die "owl's service map and ClickHouse's edges differ"
exit 0

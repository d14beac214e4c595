#!/bin/bash
# traces.sh — owl's span ingest, storage and trace lookup beside ClickHouse, on the same spans
# in one run. Spans: the Nezha microservice traces (../shared/data/other/nezha) replayed with
# fresh W3C ids and times over yesterday (bench/traces_bodies.py), built once before any clock
# as OTLP/HTTP protobuf and JSON bodies and ClickHouse TabSeparated rows of the same spans,
# 5,000 spans a request. Each server pinned to CPU C (taskset): owld --workers 2 with its
# default sync policy (fsync before each answer), ClickHouse (bench/peers/clickhouse: spans
# table ORDER BY (service, start_ns), max_threads=1, lz4; it does not fsync inserts);
# bench/loadgen (4 keep-alive connections, closed loop) and the lookup client on the other CPU.
#   1. OTLP/HTTP protobuf ingest, spans/s per core: every body answered (owl answers once the
#      spans are durable and readable) plus a lookup that finds the last trace; ClickHouse: the
#      same spans as INSERT INTO spans_in FORMAT TabSeparated plus a count() that sees them.
#      Each the median of --runs runs (default 3), owld fresh each time and ClickHouse's table
#      emptied (TRUNCATE) before each: the shared VM's speed varies by a third from run to run.
#   2. OTLP/HTTP JSON ingest into a fresh owld, counted the same way.
#   3. Trace lookup by id in a store of SPANS + EXTRA spans (>= 10,000,000 without --quick):
#      GET /api/v1/traces/{id} (the whole tree) for 200 ids of stored traces and 50 absent
#      ones, one keep-alive connection, median and p99; ClickHouse
#      SELECT * FROM spans WHERE trace_id = unhex(ID) FORMAT JSONEachRow the same way.
#   4. Bytes per span on disk once owld sealed and settled its parts (the spans partition's
#      files) beside ClickHouse's bytes_on_disk after OPTIMIZE FINAL.
# Goals (reported, not enforced): >= 1,000,000 spans/s per core; <= 40 bytes a span; a lookup
# <= 10 ms. RESULT lines for bench/run; --record appends to bench/RESULTS.md.
#
# Usage: bench/traces.sh [--quick] [--record] [--spans N] [--extra N] [--runs N] [--data DIR]
#                        [--owld PATH] [--loadgen PATH] [--cpu C]
#   --quick  200,000 + 800,000 spans, 1 run     default 2,000,000 + 8,000,000, 3 runs
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
SPANS=
EXTRA=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}
OWLD=${OWLD:-}
LOADGEN=${LOADGEN:-}
CPU=1
RUNS=
CONNS=4
WORKERS=2

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --spans) SPANS=$2; shift ;;
    --extra) EXTRA=$2; shift ;;
    --runs) RUNS=$2; shift ;;
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
[ "$RUNS" -ge 1 ] 2>/dev/null || die "--runs takes a count of 1 or more"

BENCH_NAME=traces
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$CPU" -lt "$(nproc)" ] 2>/dev/null || die "CPU $CPU asked, $(nproc) online"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
[ -n "$LOADGEN" ] || LOADGEN=$(dirname "$(dirname "$OWLD")")/bench/loadgen
[ -x "$LOADGEN" ] || die "no bench/loadgen binary beside $OWLD: build it, or pass --loadgen PATH"
for b in "$OWLD" "$LOADGEN"; do
    if nm "$b" 2>/dev/null | grep -q __asan_init; then die "$b is a sanitizer build"; fi
done
for t in taskset python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
CLIENT_CPU=$(( (CPU + 1) % $(nproc) ))
bench_tmpdir
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(now_ns)
PIN="taskset -c $CPU"
CPIN="taskset -c $CLIENT_CPU"
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
jget() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# ---- spans ----
echo "building $SPANS + $EXTRA spans from the Nezha traces..."
python3 "$SRCDIR/bench/traces_bodies.py" --data "$DATA" --out "$T/b" --spans "$SPANS" \
    --extra "$EXTRA" >"$T/bodies.out" || die "traces_bodies.py failed"
N=$(kv "$T/bodies.out" spans)
REQS=$(kv "$T/bodies.out" requests)
NX=$(kv "$T/bodies.out" extra_spans)
REQSX=$(kv "$T/bodies.out" extra_requests)
LAST=$(kv "$T/bodies.out" last_trace)
TOTAL=$((N + NX))
echo "  $N spans in $REQS requests (protobuf $(kv "$T/bodies.out" pb_bytes) bytes, JSON $(kv "$T/bodies.out" json_bytes), TSV $(kv "$T/bodies.out" ch_bytes)); $NX more for the lookup store; $(kv "$T/bodies.out" templates) trace shapes"

# load NAME URL RECFILE REQUESTS ITEMS [HEADER...] — every body once through loadgen
load() {
    local name=$1 url=$2 rec=$3 reqs=$4 items=$5 h=()
    shift 5
    for x in "$@"; do h+=(--header "$x"); done
    $CPIN "$LOADGEN" --url "$url" --payloads "$rec" --payload-format records --connections "$CONNS" \
        --requests "$reqs" --duration 3600 --timeout 300 --json "${h[@]}" >"$T/$name.json" 2>"$T/$name.err" ||
        { cat "$T/$name.err" "$T/$name.json" >&2; die "$name: loadgen reported errors"; }
    [ "$(jget "$T/$name.json" ok)" = "$reqs" ] && [ "$(jget "$T/$name.json" items)" = "$items" ] ||
        { cat "$T/$name.json" >&2; die "$name: not every body got a 2xx answer"; }
    printf -v "SEC_$name" '%s' "$(jget "$T/$name.json" duration_s)"
}

# ---- owld ----
start_owl() { # DIR [OPTION...]
    local d=$1
    shift
    OWL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $PIN "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$d" --workers "$WORKERS" --log-level warn \
        --xray-daemon off "$@" 2>>"$T/owld.log" &
    OWL_PID=$!
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OWL_PORT/healthz")" = 200 ] && break
        kill -0 "$OWL_PID" 2>/dev/null || break
        sleep 0.05
    done
    OWL_KEY=$(tr -d '\n' <"$d/admin.key" 2>/dev/null)
    [ -n "$OWL_KEY" ] || { cat "$T/owld.log" >&2; die "owld did not start"; }
    OWL=http://127.0.0.1:$OWL_PORT
}
stop_owl() {
    [ -n "${OWL_PID:-}" ] || return 0
    kill -TERM "$OWL_PID" 2>/dev/null
    wait "$OWL_PID" 2>/dev/null
    OWL_PID=
}
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

# median NAME — of runs NAME_1..NAME_$RUNS (their SEC_, VIS_ and RATE_ set), the one of
# median rate: its figures as SEC_NAME, VIS_NAME and RATE_NAME, and every run's rate, lowest
# first, in RUNS_NAME
median() {
    local name=$1 i r list=() mid
    for i in $(seq "$RUNS"); do
        r=RATE_${name}_$i
        list+=("${!r} $i")
    done
    mid=$(printf '%s\n' "${list[@]}" | sort -n | awk -v m=$(((RUNS + 1) / 2)) 'NR == m { print $2 }')
    for r in SEC VIS RATE; do
        i=${r}_${name}_$mid
        printf -v "${r}_$name" '%s' "${!i}"
    done
    printf -v "RUNS_$name" '%s' "$(printf '%s\n' "${list[@]}" | sort -n | awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }')"
}

for enc in pb json; do
    ct=application/x-protobuf
    [ "$enc" = json ] && ct=application/json
    for i in $(seq "$RUNS"); do
        echo "owld: OTLP/HTTP $enc, $N spans (CPU $CPU, --workers $WORKERS), run $i of $RUNS..."
        rm -rf "$T/owl-$enc" # a fresh store each run; the protobuf one left becomes the lookup store
        start_owl "$T/owl-$enc"
        load "owl_${enc}_$i" "$OWL/v1/traces" "$T/b/$enc.rec" "$REQS" "$N" \
            "Authorization: Bearer $OWL_KEY" "Content-Type: $ct"
        visible "owl_${enc}_$i"
        stop_owl
        sec=SEC_owl_${enc}_$i vis=VIS_owl_${enc}_$i
        printf -v "RATE_owl_${enc}_$i" '%s' "$(calc %.0f "$N / (${!sec} + ${!vis})")"
        r=RATE_owl_${enc}_$i
        echo "  ${!sec} s for every request + ${!vis} s to see the last trace: ${!r} spans/s"
    done
    median "owl_$enc"
    r=RATE_owl_$enc runs=RUNS_owl_$enc
    printf -v "RATE_$enc" '%s' "${!r}"
    echo "  median of $RUNS runs (${!runs}): ${!r} spans/s"
done

# ---- ClickHouse ----
echo "ClickHouse: the same spans over HTTP (pinned to CPU $CPU, max_threads=1)..."
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_PORT=$PEER_PORT
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
"$SRCDIR/bench/peers/clickhouse" schema spans | while IFS= read -r sql; do ch "$sql" >/dev/null; done
INS="http://127.0.0.1:$CH_PORT/?query=INSERT%20INTO%20spans_in%20FORMAT%20TabSeparated"
for i in $(seq "$RUNS"); do
    [ "$i" = 1 ] || ch "TRUNCATE TABLE spans" >/dev/null || die "TRUNCATE TABLE spans failed"
    load "ch_$i" "$INS" "$T/b/ch.rec" "$REQS" "$N"
    t0=$(now_ns)
    [ "$(ch "SELECT count() FROM spans")" = "$N" ] || die "ClickHouse holds $(ch "SELECT count() FROM spans") spans, not $N"
    printf -v "VIS_ch_$i" '%s' "$(calc %.3f "($(now_ns) - $t0) / 1e9")"
    sec=SEC_ch_$i vis=VIS_ch_$i
    printf -v "RATE_ch_$i" '%s' "$(calc %.0f "$N / (${!sec} + ${!vis})")"
    r=RATE_ch_$i
    echo "  $CH_VER, run $i of $RUNS: ${!sec} s for every INSERT + count() ${!vis} s: ${!r} spans/s"
done
median ch
CH_RATE=$RATE_ch
echo "  median of $RUNS runs ($RUNS_ch): $CH_RATE spans/s"

# ---- the lookup store: SPANS + EXTRA spans in each ----
echo "lookup store: $TOTAL spans in owld and ClickHouse..."
start_owl "$T/owl-pb" --store-settle-ms 1000
load owl_extra "$OWL/v1/traces" "$T/b/extra_pb.rec" "$REQSX" "$NX" "Authorization: Bearer $OWL_KEY" \
    "Content-Type: application/x-protobuf"
load ch_extra "$INS" "$T/b/extra_ch.rec" "$REQSX" "$NX"
ch "OPTIMIZE TABLE spans FINAL" >/dev/null
[ "$(ch "SELECT count() FROM spans")" = "$TOTAL" ] || die "ClickHouse holds the wrong number of spans"
# owld: seal and settle (yesterday's parts rewritten at the compaction level), as a restart
# with the janitor's settle age of 1 s leaves them
stop_owl
start_owl "$T/owl-pb" --store-settle-ms 1000
sleep 5
$CPIN python3 - "$T/b/ids.txt" "$OWL" "$OWL_KEY" "127.0.0.1:$CH_PORT" >"$T/lookup.out" <<'PY' || die "lookup client failed"
import http.client, json, random, statistics, sys, time
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
owl_host = sys.argv[2].split("//")[1]
key, ch_host = sys.argv[3], sys.argv[4]
random.seed(7)
absent = ["%032x" % random.getrandbits(128) for _ in range(50)]
def timed(host, reqs):
    h, p = host.split(":")
    c = http.client.HTTPConnection(h, int(p), timeout=60)
    lat, counts = [], []
    for method, path, body, hdrs, parse in reqs:
        t0 = time.perf_counter()
        c.request(method, path, body, hdrs)
        r = c.getresponse()
        b = r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        counts.append(parse(r.status, b))
    return lat, counts
def owl_req(i):
    return ("GET", "/api/v1/traces/" + i, None, {"Authorization": "Bearer " + key},
            lambda st, b: json.loads(b)["spanCount"] if st == 200 else 0)
def ch_req(i):
    q = "SELECT * FROM spans WHERE trace_id = unhex('%s') FORMAT JSONEachRow" % i
    return ("POST", "/", q.encode(), {}, lambda st, b: b.count(b"\n") if st == 200 else -1)
res = {}
for name, mk in (("owl", owl_req), ("ch", ch_req)):
    timed(owl_host if name == "owl" else ch_host, [mk(i) for i in ids[:5]])  # warm-up
    lat, cnt = timed(owl_host if name == "owl" else ch_host, [mk(i) for i in ids])
    lat_a, cnt_a = timed(owl_host if name == "owl" else ch_host, [mk(i) for i in absent])
    res[name] = cnt
    s = sorted(lat)
    print("%s_median=%.2f" % (name, statistics.median(lat)))
    print("%s_p99=%.2f" % (name, s[min(len(s) - 1, int(len(s) * 0.99))]))
    print("%s_absent_median=%.2f" % (name, statistics.median(lat_a)))
    print("%s_spans=%d" % (name, sum(cnt)))
    print("%s_absent_found=%d" % (name, sum(1 for x in cnt_a if x)))
print("ids=%d" % len(ids))
print("agree=%d" % (res["owl"] == res["ch"]))
PY
cat "$T/lookup.out" | sed 's/^/  /'
[ "$(kv "$T/lookup.out" agree)" = 1 ] || die "owl and ClickHouse return different span counts for the same ids"
stop_owl
OWL_DISK=$(find "$T/owl-pb/store/spans" -type f -name '*.owp' -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
read -r CH_ROWS CH_DISK _ CH_PARTS < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" spans)
[ "$CH_ROWS" = "$TOTAL" ] || die "ClickHouse holds $CH_ROWS rows after OPTIMIZE"
"$SRCDIR/bench/peers/clickhouse" stop "$CH_DIR" || die "stopping ClickHouse failed"
OWL_BPS=$(calc %.1f "$OWL_DISK / $TOTAL")
CH_BPS=$(calc %.1f "$CH_DISK / $TOTAL")
echo "  bytes on disk: owl $OWL_DISK ($OWL_BPS a span), ClickHouse $CH_DISK ($CH_BPS a span, $CH_PARTS parts)"

# ---- results ----
goal() { awk -v v="$1" -v g="$2" -v d="${3:-ge}" 'BEGIN { ok = d == "ge" ? v >= g : v <= g; print ok ? "met" : "not met" }'; }
OM=$(kv "$T/lookup.out" owl_median) OP=$(kv "$T/lookup.out" owl_p99)
CM=$(kv "$T/lookup.out" ch_median) CP=$(kv "$T/lookup.out" ch_p99)
R_PB=$(calc %.2f "$RATE_pb / $CH_RATE")
R_JSON=$(calc %.2f "$RATE_json / $CH_RATE")
GOALS="OTLP protobuf $RATE_pb spans/s per core (goal >= 1,000,000: $(goal "$RATE_pb" 1000000)), JSON $RATE_json ($(goal "$RATE_json" 1000000)); $OWL_BPS bytes a span (goal <= 40: $(goal "$OWL_BPS" 40 le)); lookup median $OM ms, p99 $OP ms (goal <= 10 ms: $(goal "$OP" 10 le))"
echo "goals: $GOALS"
SETUP="data: $TOTAL spans ($N for ingest, each ingest figure the median of $RUNS runs: owld $RUNS_owl_pb protobuf, $RUNS_owl_json JSON; ClickHouse $RUNS_ch) replayed from the Nezha traces with fresh ids over yesterday UTC, 5,000 a request; owld --workers $WORKERS (wal_sync always) and the $CH_VER server (max_threads=1, lz4, spans ORDER BY (service, start_ns)) each pinned to CPU $CPU; bench/loadgen ($CONNS connections) and the lookup client on CPU $CLIENT_CPU; ingest time = every request answered + the first answer that holds the last trace (owl) / count() (ClickHouse); lookups: $(kv "$T/lookup.out" ids) stored ids + 50 absent, one connection"
table() {
    printf '| row | owl | ClickHouse | ratio |\n|---|---|---|---|\n'
    printf '| OTLP/HTTP protobuf ingest, spans/s per core | **%s** (%s s + %s s) | %s (%s s + %s s) | %s |\n' "$RATE_pb" "$SEC_owl_pb" "$VIS_owl_pb" "$CH_RATE" "$SEC_ch" "$VIS_ch" "$R_PB"
    printf '| OTLP/HTTP JSON ingest, spans/s per core | **%s** (%s s + %s s) | %s | %s |\n' "$RATE_json" "$SEC_owl_json" "$VIS_owl_json" "$CH_RATE" "$R_JSON"
    printf '| trace lookup by id in %s spans, ms (median / p99; absent median) | **%s / %s**; %s | %s / %s; %s | %s |\n' "$TOTAL" "$OM" "$OP" "$(kv "$T/lookup.out" owl_absent_median)" "$CM" "$CP" "$(kv "$T/lookup.out" ch_absent_median)" "$(calc %.2f "$CM / $OM")"
    printf '| bytes on disk per span | **%s** | %s | %s |\n' "$OWL_BPS" "$CH_BPS" "$(calc %.2f "$CH_BPS / $OWL_BPS")"
}
table
result "traces OTLP protobuf ingest ($N spans)" "$RATE_pb" "$CH_VER" "$CH_RATE" "$R_PB" "spans/s"
result "traces OTLP JSON ingest ($N spans)" "$RATE_json" "$CH_VER" "$CH_RATE" "$R_JSON" "spans/s"
result "traces lookup by id, median ($TOTAL spans)" "$OM" "$CH_VER" "$CM" "$(calc %.2f "$CM / $OM")" "ms"
result "traces lookup by id, p99 ($TOTAL spans)" "$OP" "$CH_VER" "$CP" "$(calc %.2f "$CP / $OP")" "ms"
result "traces bytes per span ($TOTAL spans)" "$OWL_BPS" "$CH_VER" "$CH_BPS" "$(calc %.2f "$CH_BPS / $OWL_BPS")" "bytes"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)
echo "machine: $MACHINE; the whole script took $(calc %.0f "($(now_ns) - $START) / 1e9") s"
if [ "$RECORD" = 1 ]; then
    {
        printf '\n## traces — span ingest, lookup and storage beside ClickHouse, %s spans%s (%s)\n\n' \
            "$TOTAL" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n%s\n\n%s\n\n%s\n' "$MACHINE" "$SETUP" "$(table)" "Goals: $GOALS"
    } >>"$(results_file)"
    echo "recorded in $(results_file)"
fi
exit 0

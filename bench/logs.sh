#!/bin/bash
# logs.sh — owl's CloudWatch Logs beside ClickHouse and ripgrep, on the same lines in one run.
# Data: >= 1 GB raw (--quick: 100 MB) of Loghub lines with timestamps and ids varied per
# repetition and one unique token injected (bench/datasets/loghub.py), its non-empty lines the
# events, given times spread over yesterday (UTC) in file order, cut once into batches of
# 10,000 events / <= 1 MB (PutLogEvents' limits) as PutLogEvents JSON, OTLP protobuf and
# ClickHouse TSV bodies (bench/logs_bodies.c). owld runs with --workers 2 (two threads sharing
# the one CPU, so that one parses while the other waits for its WAL fsync, as ClickHouse's
# several server threads share its CPU) and its default sync policy (fsync before each
# answer), each server pinned to CPU C (taskset), bench/loadgen (4
# keep-alive connections, closed loop, each body sent once) and the query client on the other.
#   1. PutLogEvents ingest, lines/s per core: loadgen's time to an answer for every body (owl
#      answers once the events are durable and searchable) plus a FilterLogEvents that finds
#      the last event; ClickHouse (MergeTree (ts Int64 ms, stream, message), max_threads=1):
#      the same batches as `INSERT INTO logs FORMAT TabSeparated` over HTTP, plus a count()
#      that sees every row. Goals (reported, not enforced): >= 1,000,000 lines/s, >= 2x CH.
#      Each side loads everything RUNS times (owld from an empty data directory each time,
#      ClickHouse into a table made anew) and the median rate counts: single runs on the
#      shared build VM vary by up to +-30%. Every run's rate is printed and recorded.
#   2. OTLP/HTTP logs ingest (POST /v1/logs, protobuf) of the same batches into a fresh owld,
#      counted the same way, beside the same ClickHouse figure.
#   3. FilterLogEvents over the PutLogEvents group once its days are sealed and settled: the
#      rare token, every page fetched through nextToken (limit 10,000), and INFO, counted by
#      fetching every page (limit 10,000) and summing its events; beside the same lines from
#      `rg -j1 -w TERM` on the raw file and from ClickHouse `SELECT ts, stream, message ...
#      WHERE match(message, '\bTERM\b') ORDER BY ts FORMAT JSONEachRow` (18.16 has no
#      hasToken), each counted by a pipe on the client CPU: every peer hands over the lines,
#      not a count. Median wall time of RUNS passes after a warm-up. Counts must agree.
#   4. On-disk: DescribeLogGroups storedBytes once every part of the group was rewritten at
#      the compaction level (owld --store-settle-ms 1000, so the janitor settles yesterday
#      within seconds of the last put), beside `zstd -19 -T1` of the raw file and ClickHouse's
#      bytes on disk after OPTIMIZE FINAL (lz4).
# When owl's PutLogEvents rate is under 1,000,000 lines/s, a third owld is profiled under the
# same load (`perf record -g` for 10 s; not with --quick unless --profile) and the top frames
# printed. RESULT lines for bench/run; --record appends to bench/RESULTS.md. Exit 1 on any
# failure or count mismatch.
#
# Usage: bench/logs.sh [--quick] [--record] [--bytes N] [--data DIR] [--owld PATH]
#                      [--loadgen PATH] [--owl-store PATH] [--cpu C] [--runs N]
#                      [--profile | --no-profile]
#   --quick  100 MB, no profile   default 1 GB (10^9 bytes)    --record  append to RESULTS.md
# shellcheck disable=SC2154  # CNT_x, SEC_x and VIS_x are set through printf -v
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
BYTES=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}/loghub
OWLD=${OWLD:-}
LOADGEN=${LOADGEN:-}
OWL_STORE=${OWL_STORE:-}
CPU=1
RUNS=3
PROFILE=
NEEDLE=owlneedle42
COMMON=INFO
GROUP=/bench/put
OTLP_GROUP=/bench/otlp
STREAM=loghub
CONNS=4
WORKERS=2

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --bytes) BYTES=$2; shift ;;
    --data) DATA=$2; shift ;;
    --owld) OWLD=$2; shift ;;
    --loadgen) LOADGEN=$2; shift ;;
    --owl-store) OWL_STORE=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --profile) PROFILE=1 ;;
    --no-profile) PROFILE=0 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "$BYTES" ] || { [ "$QUICK" = 1 ] && BYTES=100000000 || BYTES=1000000000; }
[ -n "$PROFILE" ] || { [ "$QUICK" = 1 ] && PROFILE=0 || PROFILE=1; }

BENCH_NAME=logs
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[[ "$BYTES" =~ ^[0-9]+$ ]] && [ "$BYTES" -ge 1000000 ] || die "--bytes takes a number >= 1000000"
[ "$RUNS" -ge 1 ] 2>/dev/null || die "--runs takes a number >= 1"
[ "$CPU" -lt "$(nproc)" ] 2>/dev/null || die "CPU $CPU asked, $(nproc) online"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
[ -n "$LOADGEN" ] || LOADGEN=$(dirname "$(dirname "$OWLD")")/bench/loadgen
[ -x "$LOADGEN" ] || die "no bench/loadgen binary beside $OWLD: build it, or pass --loadgen PATH"
[ -n "$OWL_STORE" ] || OWL_STORE=$(dirname "$(dirname "$OWLD")")/index/owl-store
require_owl_store
for b in "$OWLD" "$LOADGEN"; do
    if nm "$b" 2>/dev/null | grep -q __asan_init; then die "$b is a sanitizer build"; fi
done
need_cmd rg ripgrep
need_cmd zstd zstd
need_cmd cc gcc
for t in taskset python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
if [ "$PROFILE" = 1 ]; then need_cmd perf linux-perf; fi
CLIENT_CPU=$(( (CPU + 1) % $(nproc) ))
bench_tmpdir
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(now_ns)
PIN="taskset -c $CPU"
CPIN="taskset -c $CLIENT_CPU"
CLIENT="$CPIN python3 $SRCDIR/bench/logs_client.py"

# ---- data and bodies (bench/lib.sh) ----
logs_data

# ---- owld (bench/lib.sh: logs_owl_start, logs_owl_stop) ----
trap 'logs_owl_stop; bench_cleanup' EXIT
# rows_of DIR — the rows of table logs in owld's data dir DIR (owl-store stats, owld stopped)
rows_of() {
    "$OWL_STORE" stats "$1" >"$T/stats.out" 2>&1 || { cat "$T/stats.out" >&2; die "owl-store stats failed"; }
    awk '$1 == "logs" { n += $4 } END { print n + 0 }' "$T/stats.out"
}

# rate_of NAME — this run's rate (EVENTS over SEC_NAME + VIS_NAME), printed and added to
# $T/NAME.rates; rates NAME — the runs' rates, comma-separated, in run order
rate_of() {
    local sec vis r
    sec=SEC_$1 vis=VIS_$1
    r=$(calc %.0f "$EVENTS / (${!sec} + ${!vis})")
    echo "$r" >>"$T/$1.rates"
    echo "    run $(wc -l <"$T/$1.rates"): ${!sec} s for every answer, the last row seen in ${!vis} s: $r lines/s"
}
rates() { paste -sd, "$T/$1.rates" | sed 's/,/, /g'; }

# ---- ripgrep on the raw file ----
# Every peer hands over the matching lines, as FilterLogEvents does (not a count): rg prints
# them into a pipe, counted on the client CPU.
RG=(rg --no-config -j1 -w)
# rg_timed NAME TERM — warm-up + RUNS runs; CNT_NAME (lines), SEC_NAME (median wall seconds)
rg_timed() {
    local i t0 rc
    : >"$T/$1.t"
    for i in $(seq 0 "$RUNS"); do
        t0=$(now_ns)
        $PIN "${RG[@]}" "$2" "$IN" | $CPIN wc -l >"$T/$1.out"
        rc=${PIPESTATUS[0]}
        [ $rc = 0 ] || [ $rc = 1 ] || die "rg exited $rc"
        [ "$i" = 0 ] || calc %.6f "($(now_ns) - $t0) / 1e9" >>"$T/$1.t"
    done
    local c
    c=$(tr -d '[:space:]' <"$T/$1.out")
    printf -v "CNT_$1" '%s' "${c:-0}"
    printf -v "SEC_$1" '%s' "$(median <"$T/$1.t")"
}
echo "ripgrep: '$NEEDLE' and '$COMMON' as words on the raw file (CPU $CPU)..."
cat "$IN" >/dev/null
rg_timed rg_rare "$NEEDLE"
rg_timed rg_common "$COMMON"
RG_PEER=$("$SRCDIR/bench/peers/rg" version)
echo "  $RG_PEER: rare $CNT_rg_rare in $SEC_rg_rare s, common $CNT_rg_common in $SEC_rg_common s"

# ---- ClickHouse ----
echo "ClickHouse: the same batches over HTTP (pinned to CPU $CPU, max_threads=1)..."
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_PORT=$PEER_PORT
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
CH_TABLE="CREATE TABLE logs (ts Int64, stream String, message String) ENGINE = MergeTree PARTITION BY toDate(toDateTime(intDiv(ts, 1000))) ORDER BY (stream, ts)"
: >"$T/ch.rates"
for i in $(seq "$RUNS"); do
    [ "$i" = 1 ] || ch "DROP TABLE logs" >/dev/null
    ch "$CH_TABLE" >/dev/null
    logs_load ch "http://127.0.0.1:$CH_PORT/?query=INSERT%20INTO%20logs%20FORMAT%20TabSeparated" "$T/b/ch.rec"
    t0=$(now_ns)
    n=$(ch "SELECT count() FROM logs")
    VIS_ch=$(calc %.6f "($(now_ns) - $t0) / 1e9")
    [ "$n" = "$EVENTS" ] || die "ClickHouse holds $n rows, $EVENTS were inserted"
    rate_of ch
done
CH_RATE=$(median <"$T/ch.rates") CH_RATES=$(rates ch)
echo "  $CH_VER: median $CH_RATE lines/s (runs: $CH_RATES)"
t0=$(now_ns)
ch "OPTIMIZE TABLE logs FINAL" >/dev/null
OPT_S=$(calc %.1f "($(now_ns) - $t0) / 1e9")
read -r CH_ROWS CH_DISK _ CH_PARTS < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" logs)
[ "$CH_ROWS" = "$EVENTS" ] || die "ClickHouse holds $CH_ROWS rows after OPTIMIZE"
echo "  OPTIMIZE FINAL $OPT_S s: $CH_PARTS parts, $CH_DISK bytes on disk"
# ch_timed NAME TERM — the rows holding the word TERM, oldest first, as JSON lines (what
# FilterLogEvents hands over), curl on the client CPU counting them; CNT_, SEC_ (median)
ch_timed() {
    local i t0 sql="SELECT ts, stream, message FROM logs WHERE match(message, '\\\\b$2\\\\b') ORDER BY ts FORMAT JSONEachRow"
    : >"$T/$1.t"
    for i in $(seq 0 "$RUNS"); do
        t0=$(now_ns)
        $CPIN curl -sf --max-time 600 "http://127.0.0.1:$CH_PORT/" --data-binary "$sql" | wc -l >"$T/$1.out"
        [ "${PIPESTATUS[0]}" = 0 ] || { ch "$sql" >/dev/null; die "ClickHouse query failed: $sql"; }
        [ "$i" = 0 ] || calc %.6f "($(now_ns) - $t0) / 1e9" >>"$T/$1.t"
    done
    printf -v "CNT_$1" '%s' "$(tr -d '[:space:]' <"$T/$1.out")"
    printf -v "SEC_$1" '%s' "$(median <"$T/$1.t")"
}
ch_timed ch_rare "$NEEDLE"
ch_timed ch_common "$COMMON"
echo "  rare $CNT_ch_rare in $SEC_ch_rare s, common $CNT_ch_common in $SEC_ch_common s"
"$SRCDIR/bench/peers/clickhouse" stop "$CH_DIR" || die "stopping ClickHouse failed"

# ---- owl: OTLP ingest into a fresh owld ----
echo "owl OTLP: POST /v1/logs of the same batches (owld --workers $WORKERS on CPU $CPU)..."
: >"$T/otlp.rates"
for i in $(seq "$RUNS"); do
    logs_owl_start "$T/owl-otlp"
    logs_load otlp "$OWL/v1/logs" "$T/b/otlp.rec" "Authorization: Bearer $OWL_KEY" "Content-Type: application/x-protobuf"
    logs_visible otlp "$OTLP_GROUP"
    rate_of otlp
    logs_owl_stop
    n=$(rows_of "$T/owl-otlp")
    [ "$n" = "$EVENTS" ] || die "owl stored $n OTLP events of $EVENTS"
    rm -rf "$T/owl-otlp"
done
OTLP_RATE=$(median <"$T/otlp.rates") OTLP_RATES=$(rates otlp)
echo "  median $OTLP_RATE lines/s (runs: $OTLP_RATES)"

# ---- owl: PutLogEvents ingest, then the queries and the stored bytes ----
echo "owl PutLogEvents: the same batches (owld --workers $WORKERS on CPU $CPU, --store-settle-ms 1000)..."
: >"$T/put.rates"
for i in $(seq "$RUNS"); do # the last run's owld stays for the queries and the stored bytes
    [ "$i" = 1 ] || { logs_owl_stop; rm -rf "$T/owl"; }
    logs_owl_start "$T/owl" --store-settle-ms 1000
    $CLIENT create "$OWL" "$OWL_KEY" "$GROUP" "$STREAM" >/dev/null || die "CreateLogGroup failed"
    logs_load put "$OWL/" "$T/b/put.rec" "Authorization: Bearer $OWL_KEY" \
        "X-Amz-Target: Logs_20140328.PutLogEvents" "Content-Type: application/x-amz-json-1.1"
    logs_visible put "$GROUP"
    rate_of put
done
PUT_RATE=$(median <"$T/put.rates") PUT_RATES=$(rates put)
echo "  median $PUT_RATE lines/s (runs: $PUT_RATES)"

# zstd -19 of the raw file on the client CPU while the janitor settles owl's day
( taskset -c "$CLIENT_CPU" zstd -19 -T1 -q -c "$IN" | wc -c >"$T/zstd.size" ) &
ZPID=$!
logs_settle "$T/owl" "$GROUP"
wait "$ZPID" || die "zstd -19 failed"
ZSTD_BYTES=$(tr -d '[:space:]' <"$T/zstd.size")
ZSTD_PEER=$("$SRCDIR/bench/peers/zstd" version)

echo "owl FilterLogEvents: '$NEEDLE' (every page) and '$COMMON' (every page counted), $RUNS runs after a warm-up..."
$CLIENT filter "$OWL" "$OWL_KEY" "$GROUP" "$NEEDLE" "$RUNS" >"$T/owl_rare.out" || die "FilterLogEvents $NEEDLE failed"
$CLIENT filter "$OWL" "$OWL_KEY" "$GROUP" "$COMMON" "$RUNS" >"$T/owl_common.out" || die "FilterLogEvents $COMMON failed"
CNT_owl_rare=$(kv "$T/owl_rare.out" events) SEC_owl_rare=$(kv "$T/owl_rare.out" seconds)
CNT_owl_common=$(kv "$T/owl_common.out" events) SEC_owl_common=$(kv "$T/owl_common.out" seconds)
echo "  rare $CNT_owl_rare in $SEC_owl_rare s ($(kv "$T/owl_rare.out" pages) pages), common $CNT_owl_common in $SEC_owl_common s ($(kv "$T/owl_common.out" pages) pages; runs $(kv "$T/owl_common.out" all) s)"
logs_owl_stop
n=$(rows_of "$T/owl")
[ "$n" = "$EVENTS" ] || die "owl stored $n PutLogEvents events of $EVENTS"

# ---- profile: a third owld under the same PutLogEvents load ----
PROFILE_LINE="not profiled"
if [ "$PROFILE" = 1 ] && [ "$PUT_RATE" -lt 1000000 ]; then
    echo "profiling owld under PutLogEvents for 10 s (perf record -g)..."
    logs_owl_start "$T/owl-prof"
    $CLIENT create "$OWL" "$OWL_KEY" "$GROUP" "$STREAM" >/dev/null || die "CreateLogGroup failed"
    $CPIN "$LOADGEN" --url "$OWL/" --payloads "$T/b/put.rec" --payload-format records --connections "$CONNS" \
        --requests "$REQS" --duration 13 --timeout 120 --json --header "Authorization: Bearer $OWL_KEY" \
        --header "X-Amz-Target: Logs_20140328.PutLogEvents" --header "Content-Type: application/x-amz-json-1.1" \
        >"$T/prof.json" 2>"$T/prof.err" &
    LPID=$!
    sleep 1
    perf record -q -g -o "$T/perf.data" -p "$OWL_PID" -- sleep 10 >"$T/perf.err" 2>&1 ||
        { cat "$T/perf.err" >&2; die "perf record failed"; }
    wait "$LPID"
    logs_owl_stop
    # the load is part of the figure: a profile of an idle owld says nothing (a recorded run
    # printed one, loadgen's answers unchecked)
    PROF_OK=$(jget "$T/prof.json" ok 2>/dev/null)
    perf report -i "$T/perf.data" --no-children --stdio --sort symbol -g none --percent-limit 1.5 \
        2>/dev/null | grep -E '^ +[0-9]' | head -n 20 >"$T/perf.top"
    PROFILE_LINE="top frames of owld (self time, perf record -g -p for 10 s under PutLogEvents, ${PROF_OK:-no} bodies answered by loadgen in its 13 s): $(awk '{ $1 = $1; printf "%s%s", (NR > 1 ? "; " : ""), $0 }' "$T/perf.top")"
    if [ "${PROF_OK:-0}" -lt 10 ] 2>/dev/null || [ -z "$PROF_OK" ]; then
        PROFILE_LINE="profile left out: loadgen had ${PROF_OK:-no} bodies answered during it ($(tr '\n' ' ' <"$T/prof.err" | cut -c1-200))"
    fi
    echo "  $PROFILE_LINE"
fi

# ---- counts ----
FAIL=0
check() { if [ "$2" != "$3" ]; then echo "logs: COUNT MISMATCH for $1: owl $2, peer $3" >&2; FAIL=1; fi; }
check "'$NEEDLE' vs rg -w" "$CNT_owl_rare" "$CNT_rg_rare"
check "'$NEEDLE' vs ClickHouse" "$CNT_owl_rare" "$CNT_ch_rare"
check "'$COMMON' vs rg -w" "$CNT_owl_common" "$CNT_rg_common"
check "'$COMMON' vs ClickHouse" "$CNT_owl_common" "$CNT_ch_common"
[ "$CNT_rg_rare" = 1 ] || { echo "logs: '$NEEDLE' is on $CNT_rg_rare lines, expected 1" >&2; FAIL=1; }

MB=$(calc %.0f "$NBYTES / 1e6")
goal() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "met" : "NOT met" }'; }
R_PUT=$(calc %.2f "$PUT_RATE / $CH_RATE")
R_OTLP=$(calc %.2f "$OTLP_RATE / $CH_RATE")
GOALS="PutLogEvents $PUT_RATE lines/s per core (goal >= 1,000,000: $(goal "$PUT_RATE" 1000000)), ${R_PUT}x ClickHouse's $CH_RATE (goal >= 2x: $(goal "$R_PUT" 2)); OTLP $OTLP_RATE lines/s (${R_OTLP}x)"
ELAPSED=$(calc %.0f "($(now_ns) - $START) / 1e9")
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)
SETUP="data: $EVENTS events, $NBYTES bytes raw (Loghub samples, varied per repetition), times over yesterday UTC; batches of <= 10,000 events / 1 MB ($REQS); owld --workers $WORKERS (wal_sync always), the $CH_VER server (max_threads=1, lz4) and rg each pinned to CPU $CPU; bench/loadgen ($CONNS keep-alive connections) and the query clients on CPU $CLIENT_CPU; ingest time = every body answered + a query that sees the last event, each side loading everything $RUNS times (owld from empty, ClickHouse into a new table): the median rate, every run's rate in brackets; query figures are medians of $RUNS runs after a warm-up"
TABLE=$(printf '| measure | owl | ClickHouse | rg / zstd -19 |\n|---|---:|---:|---:|\n'
    printf '| PutLogEvents ingest, lines/s per core | **%s** (%s) | %s (%s) | |\n' "$PUT_RATE" "$PUT_RATES" "$CH_RATE" "$CH_RATES"
    printf '| OTLP/HTTP protobuf ingest, lines/s per core | **%s** (%s) | %s | |\n' "$OTLP_RATE" "$OTLP_RATES" "$CH_RATE"
    printf '| rare `%s`: lines returned, ms | %s, **%s** (FilterLogEvents, every page) | %s, %s | %s, %s |\n' "$NEEDLE" "$CNT_owl_rare" "$(calc %.1f "$SEC_owl_rare * 1000")" "$CNT_ch_rare" "$(calc %.1f "$SEC_ch_rare * 1000")" "$CNT_rg_rare" "$(calc %.1f "$SEC_rg_rare * 1000")"
    printf '| common `%s`: lines returned, ms | %s, **%s** (FilterLogEvents, every page) | %s, %s | %s, %s |\n' "$COMMON" "$CNT_owl_common" "$(calc %.1f "$SEC_owl_common * 1000")" "$CNT_ch_common" "$(calc %.1f "$SEC_ch_common * 1000")" "$CNT_rg_common" "$(calc %.1f "$SEC_rg_common * 1000")"
    printf '| bytes on disk (raw/stored) | **%s** (%s) | %s (%s) | %s (%s) |\n' "$OWL_STORED" "$(calc %.2f "$NBYTES / $OWL_STORED")" "$CH_DISK" "$(calc %.2f "$NBYTES / $CH_DISK")" "$ZSTD_BYTES" "$(calc %.2f "$NBYTES / $ZSTD_BYTES")")

echo
echo "$SETUP"
echo
echo "$TABLE"
echo
echo "$GOALS"
echo "$PROFILE_LINE"
echo "machine: $MACHINE; the whole script took $ELAPSED s"
[ "$FAIL" = 0 ] || die "owl's and a peer's counts disagree (see above): not a valid run"

echo
result "logs PutLogEvents ingest ($EVENTS lines)" "$PUT_RATE" "$CH_VER" "$CH_RATE" "$R_PUT" "lines/s"
result "logs OTLP ingest ($EVENTS lines)" "$OTLP_RATE" "$CH_VER" "$CH_RATE" "$R_OTLP" "lines/s"
result "logs FilterLogEvents rare term ($MB MB)" "$(calc %.1f "$SEC_owl_rare * 1000")" "$RG_PEER" "$(calc %.1f "$SEC_rg_rare * 1000")" "$(calc %.2f "$SEC_rg_rare / $SEC_owl_rare")" "ms"
result "logs FilterLogEvents rare term ($MB MB)" "$(calc %.1f "$SEC_owl_rare * 1000")" "$CH_VER" "$(calc %.1f "$SEC_ch_rare * 1000")" "$(calc %.2f "$SEC_ch_rare / $SEC_owl_rare")" "ms"
result "logs FilterLogEvents $COMMON, all pages ($MB MB)" "$(calc %.1f "$SEC_owl_common * 1000")" "$RG_PEER" "$(calc %.1f "$SEC_rg_common * 1000")" "$(calc %.2f "$SEC_rg_common / $SEC_owl_common")" "ms"
result "logs FilterLogEvents $COMMON, all pages ($MB MB)" "$(calc %.1f "$SEC_owl_common * 1000")" "$CH_VER" "$(calc %.1f "$SEC_ch_common * 1000")" "$(calc %.2f "$SEC_ch_common / $SEC_owl_common")" "ms"
result "logs stored bytes, raw/stored ($MB MB)" "$(calc %.2f "$NBYTES / $OWL_STORED")" "$ZSTD_PEER" "$(calc %.2f "$NBYTES / $ZSTD_BYTES")" "$(calc %.2f "$ZSTD_BYTES / $OWL_STORED")" "raw/stored"
result "logs stored bytes, raw/stored ($MB MB)" "$(calc %.2f "$NBYTES / $OWL_STORED")" "$CH_VER" "$(calc %.2f "$NBYTES / $CH_DISK")" "$(calc %.2f "$CH_DISK / $OWL_STORED")" "raw/stored"

if [ "$RECORD" = 1 ]; then
    {
        printf '\n## logs — CloudWatch Logs beside ClickHouse and ripgrep, %s bytes%s (%s)\n\n' \
            "$NBYTES" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n%s  \nowl settled: %s\n\n%s\n\n%s  \n%s\n' "$MACHINE" "$SETUP" \
            "$SETTLE_LINE" "$TABLE" "$GOALS" "$PROFILE_LINE"
    } >>"$(results_file)"
    echo "recorded in $(results_file)"
fi
exit 0

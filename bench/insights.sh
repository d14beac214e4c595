#!/bin/bash
# insights.sh — CloudWatch Logs Insights queries in owl beside ClickHouse's equivalent SQL, on
# the same lines in one run.
# Data and peer as bench/logs.sh (bench/lib.sh logs_data): >= 1 GB raw (--quick: 100 MB) of
# Loghub lines varied per repetition, its non-empty lines the events at times spread over 20 h
# of yesterday (UTC), cut into batches of 10,000 events / <= 1 MB.
#   ClickHouse (bench/peers/clickhouse: max_threads=1, lz4; MergeTree (ts Int64 ms, stream,
#   message) ORDER BY (stream, ts), as logs.sh) gets the batches over HTTP, then OPTIMIZE FINAL.
#   owld (--workers 2, --insights-workers 1 so a query runs on one thread, --store-settle-ms
#   1000) gets them as PutLogEvents into one group and is waited for until the janitor settled
#   it (bench/lib.sh logs_settle: every row in parts, none of level 0).
# Each server runs alone (the other stopped), pinned to CPU C (taskset); the query client on
# the other CPU. The four queries, over the whole time range of the data, with the time range
# also in ClickHouse's WHERE:
#   bins    stats count(*) by bin(5m)                     GROUP BY intDiv(ts, 300000)
#   count   filter @message like "ERROR" | stats count(*)  count() WHERE message LIKE '%ERROR%'
#   avg     parse @message "status: * len: * time: *" as status, len, time
#           | filter ispresent(time) | stats avg(time), count(*) by status
#           (the OpenStack nova API's request times by HTTP status; the glob as a regex:
#           extract(message, 'status: (.*?) len: .*? time: ') and toFloat64OrNull of the rest)
#   topk    fields @timestamp, @message | sort @timestamp desc | limit 100
#                                                         ORDER BY ts DESC LIMIT 100
# owl's time: from StartQuery to the decoded GetQueryResults answer that says Complete,
# polled every POLL_MS ms (the whole wall time a user waits); ClickHouse's: its HTTP query to
# the decoded answer (FORMAT JSONCompact); both over one keep-alive connection of
# bench/insights_client.py, median of RUNS runs after a warm-up. The answers must agree (bins
# and counts equal, the averages within 1e-6, the same 100 rows in order) and the bins must
# count every event, or the run fails. Goal (reported): each query at least as fast as
# ClickHouse on one core. Where owl's median is the slower, owld is profiled over RUNS more
# runs of that query (`perf record -g -p`; not with --quick unless --profile) and the top
# frames (self time) printed. RESULT lines for bench/run; --record appends to bench/RESULTS.md.
#
# Usage: bench/insights.sh [--quick] [--record] [--bytes N] [--data DIR] [--owld PATH]
#                          [--loadgen PATH] [--cpu C] [--runs N] [--poll-ms MS]
#                          [--profile | --no-profile]
#   --quick  100 MB, no profile   default 1 GB (10^9 bytes), RUNS 5, POLL_MS 3
# shellcheck disable=SC2154  # SEC_x are set through printf -v (bench/lib.sh logs_load)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
BYTES=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}/loghub
OWLD=${OWLD:-}
LOADGEN=${LOADGEN:-}
CPU=1
RUNS=5
POLL_MS=3
PROFILE=
NEEDLE=owlneedle42
GROUP=/bench/insights
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
    --cpu) CPU=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --poll-ms) POLL_MS=$2; shift ;;
    --profile) PROFILE=1 ;;
    --no-profile) PROFILE=0 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "$BYTES" ] || { [ "$QUICK" = 1 ] && BYTES=100000000 || BYTES=1000000000; }
[ -n "$PROFILE" ] || { [ "$QUICK" = 1 ] && PROFILE=0 || PROFILE=1; }

BENCH_NAME=insights
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[[ "$BYTES" =~ ^[0-9]+$ ]] && [ "$BYTES" -ge 1000000 ] || die "--bytes takes a number >= 1000000"
[ "$RUNS" -ge 1 ] 2>/dev/null || die "--runs takes a number >= 1"
[[ "$POLL_MS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--poll-ms takes a number of ms"
[ "$CPU" -lt "$(nproc)" ] 2>/dev/null || die "CPU $CPU asked, $(nproc) online"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
[ -n "$LOADGEN" ] || LOADGEN=$(dirname "$(dirname "$OWLD")")/bench/loadgen
[ -x "$LOADGEN" ] || die "no bench/loadgen binary beside $OWLD: build it, or pass --loadgen PATH"
for b in "$OWLD" "$LOADGEN"; do
    if nm "$b" 2>/dev/null | grep -q __asan_init; then die "$b is a sanitizer build"; fi
done
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
ICLIENT="$CPIN python3 $SRCDIR/bench/insights_client.py"
trap 'logs_owl_stop; bench_cleanup' EXIT
# owld runs from a copy: a rebuild of the build dir during the run would leave perf a deleted
# binary without symbols
cp "$OWLD" "$T/owld" || die "cannot copy $OWLD"
OWLD=$T/owld

# ---- data and bodies (bench/lib.sh) ----
logs_data
START_S=$((DAY_MS / 1000))
END_S=$((LAST_MS / 1000))   # StartQuery's endTime takes in its whole second
WHERE="ts >= $DAY_MS AND ts < $(( (END_S + 1) * 1000 ))"

# ---- the queries: name (for the RESULT line: no tab, no '|'), kind of check, owl, SQL ----
Q_IDS=(bins count avg topk)
declare -A Q_NAME Q_OWL Q_SQL
Q_NAME[bins]="stats count(*) by bin(5m)"
Q_OWL[bins]='stats count(*) by bin(5m)'
Q_SQL[bins]="SELECT intDiv(ts, 300000) * 300000 AS t, count() AS n FROM logs WHERE $WHERE GROUP BY t ORDER BY t"
Q_NAME[count]='filter @message like "ERROR", stats count(*)'
Q_OWL[count]='filter @message like "ERROR" | stats count(*) as n'
Q_SQL[count]="SELECT count() AS n FROM logs WHERE $WHERE AND message LIKE '%ERROR%'"
Q_NAME[avg]='parse "status: * len: * time: *", stats avg(time) by status'
Q_OWL[avg]='parse @message "status: * len: * time: *" as status, len, time | filter ispresent(time) | stats avg(time) as avg_time, count(*) as requests by status'
Q_SQL[avg]="SELECT extract(message, 'status: (.*?) len: .*? time: ') AS status, avg(toFloat64OrNull(extract(message, 'status: .*? len: .*? time: (.*)'))) AS avg_time, count() AS requests FROM logs WHERE $WHERE AND match(message, 'status: .*? len: .*? time: ') GROUP BY status ORDER BY status"
Q_NAME[topk]='sort @timestamp desc, limit 100'
Q_OWL[topk]='fields @timestamp, @message | sort @timestamp desc | limit 100'
Q_SQL[topk]="SELECT ts, message FROM logs WHERE $WHERE ORDER BY ts DESC LIMIT 100"

# ---- ClickHouse: the same batches, OPTIMIZE FINAL, then the SQL ----
echo "ClickHouse: the same batches over HTTP (pinned to CPU $CPU, max_threads=1)..."
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_PORT=$PEER_PORT
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
ch "CREATE TABLE logs (ts Int64, stream String, message String) ENGINE = MergeTree PARTITION BY toDate(toDateTime(intDiv(ts, 1000))) ORDER BY (stream, ts)" >/dev/null
logs_load ch "http://127.0.0.1:$CH_PORT/?query=INSERT%20INTO%20logs%20FORMAT%20TabSeparated" "$T/b/ch.rec"
t0=$(now_ns)
ch "OPTIMIZE TABLE logs FINAL" >/dev/null
OPT_S=$(calc %.1f "($(now_ns) - $t0) / 1e9")
read -r CH_ROWS _ _ CH_PARTS < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" logs)
[ "$CH_ROWS" = "$EVENTS" ] || die "ClickHouse holds $CH_ROWS rows after OPTIMIZE, $EVENTS were inserted"
echo "  $CH_VER: $SEC_ch s for every INSERT, OPTIMIZE FINAL $OPT_S s: $CH_PARTS parts, $CH_ROWS rows"
echo "ClickHouse: the 4 queries, $RUNS runs each after a warm-up..."
for q in "${Q_IDS[@]}"; do
    $ICLIENT ch "http://127.0.0.1:$CH_PORT/" "$RUNS" "${Q_SQL[$q]}" "$T/ch_$q.json" >"$T/ch_$q.out" ||
        die "ClickHouse query $q failed: ${Q_SQL[$q]}"
    printf '  %-6s %8.1f ms  (%s rows; runs %s s)\n' "$q" "$(calc %.3f "$(kv "$T/ch_$q.out" seconds) * 1000")" \
        "$(kv "$T/ch_$q.out" rows)" "$(kv "$T/ch_$q.out" all)"
done
"$SRCDIR/bench/peers/clickhouse" stop "$CH_DIR" || die "stopping ClickHouse failed"

# ---- owl: PutLogEvents into one group, settled, then the queries ----
echo "owl: PutLogEvents of the same batches (owld --workers $WORKERS --insights-workers 1 --store-settle-ms 1000 on CPU $CPU)..."
logs_owl_start "$T/owl" --store-settle-ms 1000 --insights-workers 1
$CLIENT create "$OWL" "$OWL_KEY" "$GROUP" "$STREAM" >/dev/null || die "CreateLogGroup failed"
logs_load put "$OWL/" "$T/b/put.rec" "Authorization: Bearer $OWL_KEY" \
    "X-Amz-Target: Logs_20140328.PutLogEvents" "Content-Type: application/x-amz-json-1.1"
echo "  $SEC_put s for every answer"
logs_settle "$T/owl" "$GROUP"
echo "owl: the 4 queries (StartQuery, GetQueryResults every $POLL_MS ms until Complete), $RUNS runs each after a warm-up..."
for q in "${Q_IDS[@]}"; do
    $ICLIENT owl "$OWL" "$OWL_KEY" "$GROUP" "$START_S" "$END_S" "$RUNS" "$POLL_MS" "${Q_OWL[$q]}" \
        "$T/owl_$q.json" >"$T/owl_$q.out" || die "owl query $q failed: ${Q_OWL[$q]}"
    printf '  %-6s %8.1f ms  (%s rows, %s polls; records scanned %s, matched %s, bytes %s; runs %s s)\n' "$q" \
        "$(calc %.3f "$(kv "$T/owl_$q.out" seconds) * 1000")" "$(kv "$T/owl_$q.out" rows)" \
        "$(kv "$T/owl_$q.out" polls)" "$(kv "$T/owl_$q.out" scanned)" "$(kv "$T/owl_$q.out" matched)" \
        "$(kv "$T/owl_$q.out" bytes)" "$(kv "$T/owl_$q.out" all)"
done

# ---- the answers ----
FAIL=0
echo "checking that owl and ClickHouse answered the same..."
for q in "${Q_IDS[@]}"; do
    if $ICLIENT check "$q" "$T/owl_$q.json" "$T/ch_$q.json" >"$T/check_$q.out"; then
        printf -v "AGREE_$q" '%s' "$(kv "$T/check_$q.out" summary)"
    else
        printf -v "AGREE_$q" '%s' "DIFFER"
        FAIL=1
    fi
    v=AGREE_$q
    echo "  $q: ${!v}"
done
n=$(python3 -c 'import json, sys; print(sum(int(r["count(*)"]) for r in json.load(open(sys.argv[1]))))' "$T/owl_bins.json")
[ "$n" = "$EVENTS" ] || { echo "insights: the bins count $n events of $EVENTS" >&2; FAIL=1; }

# ---- profiles of the queries owl is slower at ----
PROFILE_LINES=()
for q in "${Q_IDS[@]}"; do
    so=$(kv "$T/owl_$q.out" seconds) sc=$(kv "$T/ch_$q.out" seconds)
    [ "$PROFILE" = 1 ] && awk -v o="$so" -v c="$sc" 'BEGIN { exit !(o > c) }' || continue
    echo "profiling owld over $RUNS more runs of $q (perf record -g)..."
    perf record -q -g -o "$T/perf_$q.data" -p "$OWL_PID" >"$T/perf.err" 2>&1 &
    PP=$!
    sleep 0.5
    $ICLIENT owl "$OWL" "$OWL_KEY" "$GROUP" "$START_S" "$END_S" "$RUNS" "$POLL_MS" "${Q_OWL[$q]}" \
        /dev/null >"$T/prof_$q.out" || die "owl query $q failed while profiled"
    kill -INT "$PP" 2>/dev/null
    wait "$PP"
    rc=$?   # perf re-raises the SIGINT it handled once perf.data is written: 130
    [ "$rc" = 0 ] || [ "$rc" = 130 ] || { cat "$T/perf.err" >&2; die "perf record exited $rc"; }
    perf report -i "$T/perf_$q.data" --no-children --stdio --sort symbol -g none --percent-limit 1.5 \
        2>/dev/null | grep -E '^ +[0-9]' | head -n 15 >"$T/perf_$q.top"
    PROFILE_LINES+=("top frames of owld (self time, perf record -g -p over $RUNS runs of $q, median $(calc %.1f "$(kv "$T/prof_$q.out" seconds) * 1000") ms): $(awk '{ $1 = $1; printf "%s%s", (NR > 1 ? "; " : ""), $0 }' "$T/perf_$q.top")")
    echo "  ${PROFILE_LINES[-1]}"
done
logs_owl_stop

# ---- the table ----
MB=$(calc %.0f "$NBYTES / 1e6")
ms() { calc %.1f "$(kv "$1" seconds) * 1000"; }
WINS=0
for q in "${Q_IDS[@]}"; do
    printf -v "MS_owl_$q" '%s' "$(ms "$T/owl_$q.out")"
    printf -v "MS_ch_$q" '%s' "$(ms "$T/ch_$q.out")"
    printf -v "R_$q" '%s' "$(calc %.2f "$(kv "$T/ch_$q.out" seconds) / $(kv "$T/owl_$q.out" seconds)")"
    r=R_$q
    awk -v r="${!r}" 'BEGIN { exit !(r >= 1) }' && WINS=$((WINS + 1))
done
GOALS="goal (each query at least as fast as ClickHouse on one core): met by $WINS of 4"
ELAPSED=$(calc %.0f "($(now_ns) - $START) / 1e9")
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)
SETUP="data: $EVENTS events, $NBYTES bytes raw (Loghub samples, varied per repetition, as bench/logs.sh), times over yesterday UTC; owld --workers $WORKERS --insights-workers 1 --store-settle-ms 1000, PutLogEvents into one group, queried once settled ($SETTLE_LINE); the $CH_VER server (max_threads=1, lz4, after OPTIMIZE FINAL: $CH_PARTS parts); each server alone, pinned to CPU $CPU, the client (bench/insights_client.py, one keep-alive connection) on CPU $CLIENT_CPU; owl's time is StartQuery until GetQueryResults answers Complete (polled every $POLL_MS ms), ClickHouse's the HTTP query until its answer (JSONCompact) is decoded; medians of $RUNS runs after a warm-up"
TABLE=$(printf '| query | owl, ms | ClickHouse, ms | ClickHouse / owl | answers |\n|---|---:|---:|---:|---|\n'
    for q in "${Q_IDS[@]}"; do
        o=MS_owl_$q c=MS_ch_$q r=R_$q a=AGREE_$q
        printf '| `%s` | **%s** | %s | %s | %s |\n' "${Q_OWL[$q]//|/\\|}" "${!o}" "${!c}" "${!r}" "${!a}"
    done)
SQLS=$(for q in "${Q_IDS[@]}"; do printf -- '- %s: `%s`\n' "$q" "${Q_SQL[$q]}"; done)

echo
echo "$SETUP"
echo
echo "$TABLE"
echo
echo "ClickHouse's SQL:"
echo "$SQLS"
echo
echo "$GOALS"
for l in "${PROFILE_LINES[@]}"; do echo "$l"; done
echo "machine: $MACHINE; the whole script took $ELAPSED s"
[ "$FAIL" = 0 ] || die "owl's and ClickHouse's answers disagree (see above): not a valid run"

echo
for q in "${Q_IDS[@]}"; do
    o=MS_owl_$q c=MS_ch_$q r=R_$q
    result "insights ${Q_NAME[$q]} ($MB MB)" "${!o}" "$CH_VER" "${!c}" "${!r}" "ms"
done

if [ "$RECORD" = 1 ]; then
    {
        printf '\n## insights — Logs Insights queries beside ClickHouse SQL, %s bytes%s (%s)\n\n' \
            "$NBYTES" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n%s\n\n%s\n\nClickHouse'"'"'s SQL:\n%s\n\n%s\n' "$MACHINE" "$SETUP" "$TABLE" "$SQLS" "$GOALS"
        for l in "${PROFILE_LINES[@]}"; do printf -- '- %s\n' "$l"; done
    } >>"$(results_file)"
    echo "recorded in $(results_file)"
fi
exit 0

#!/bin/bash
# store_append.sh — single-thread append rate of owl's store against `zstd -3 -T1` pushing the
# same bytes through a compressor, and against ClickHouse inserting the same rows over HTTP, in
# one run. The input is >= 1,000,000 Loghub lines (the samples repeated in shuffled file order,
# text kept, LF endings; bench/datasets/loghub.py); `owl-store import --sync none`, zstd and
# the ClickHouse server each run 3 times pinned to one CPU, medians reported; RESULT lines for
# bench/run. Goal: >= 1,000,000 rows/s. Exit 1 on any failure (a missed goal is reported only).
#
# Usage: bench/store_append.sh [--quick] [--record] [--lines N] [--data DIR] [--owl-store PATH]
#                              [--cpu C] [--runs N]
#   --quick  100,000 lines    default 1,000,000 lines    --record  append to bench/RESULTS.md
#   --data   holds */*.log (default: $OWL_BENCH_DATA/loghub, else <repo>/../shared/data/loghub)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RECORD=0
QUICK=0
LINES=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}/loghub
OWL_STORE=${OWL_STORE:-}
CPU=1
RUNS=3
GOAL=1000000

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --lines) LINES=$2; shift ;;
    --data) DATA=$2; shift ;;
    --owl-store) OWL_STORE=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "$LINES" ] || { [ "$QUICK" = 1 ] && LINES=100000 || LINES=1000000; }

BENCH_NAME=store_append
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_owl_store
need_cmd zstd zstd
for t in taskset awk python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
[ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
[ "$RUNS" -ge 1 ] 2>/dev/null || die "--runs takes a number >= 1"

bench_tmpdir

PIN="taskset -c $CPU"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- input ----
IN=$T/append.log
python3 "$SRCDIR/bench/datasets/loghub.py" --data "$DATA" --out "$IN" --lines "$LINES" >"$T/ds.out" ||
    die "loghub.py failed"
NLINES=$(awk -F= '$1 == "lines" { print $2 }' "$T/ds.out")
NBYTES=$(stat -c %s "$IN")
REPS=$(awk -F= '$1 == "repetitions" { print $2 }' "$T/ds.out")
cat "$IN" >/dev/null  # into the page cache: both read it from memory

ZSTD_VER=$(zstd --version 2>&1 | head -n 1)
echo "input: $NLINES lines, $NBYTES bytes ($REPS x the Loghub samples in $DATA, shuffled file order)"
echo "owl-store $OWL_STORE; peer: $ZSTD_VER; each pinned to CPU $CPU, $RUNS runs, medians"
echo

# ---- owl ----
: >"$T/owl.tool"; : >"$T/owl.wall"
for i in $(seq "$RUNS"); do
    rm -rf "$T/d"
    t0=$(now_ns)
    # --no-compact: compaction is the janitor's background work, not part of appending
    $PIN "$OWL_STORE" import "$T/d" --table logs --partition append --sync none --no-compact "$IN" 2>"$T/import.err" ||
        { cat "$T/import.err" >&2; die "owl-store import failed"; }
    t1=$(now_ns)
    # "imported N rows (M with their own timestamp) in S s: R rows/s"
    read -r n r < <(awk '/^imported/ { print $2, $(NF - 1) }' "$T/import.err")
    [ "${n:-}" = "$NLINES" ] || { cat "$T/import.err" >&2; die "owl-store imported ${n:-?} rows of $NLINES"; }
    echo "  owl run $i: $(cat "$T/import.err"); wall $(calc %.3f "($t1 - $t0) / 1e9") s"
    echo "$r" >>"$T/owl.tool"
    calc %.6f "($t1 - $t0) / 1e9" >>"$T/owl.wall"
done
"$OWL_STORE" stats "$T/d" >"$T/stats.out" 2>&1 || { cat "$T/stats.out" >&2; die "owl-store stats failed"; }
read -r ROWS STORED PARTS < <(awk '$1 == "logs" && $3 == "append" { print $4, $6, $8 }' "$T/stats.out")
[ "${ROWS:-}" = "$NLINES" ] || { cat "$T/stats.out" >&2; die "owl-store stats shows ${ROWS:-?} rows, $NLINES imported"; }
"$OWL_STORE" verify "$T/d" >"$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; die "owl-store verify failed after the import"; }
DATED=$(awk '/^imported/ { gsub(/\(/, "", $4); print $4 }' "$T/import.err")

# ---- zstd -3 -T1 ----
: >"$T/zstd.wall"
for i in $(seq "$RUNS"); do
    rm -f "$T/out.zst"
    t0=$(now_ns)
    $PIN zstd -3 -T1 -q -c "$IN" >"$T/out.zst" || die "zstd failed"
    t1=$(now_ns)
    calc %.6f "($t1 - $t0) / 1e9" >>"$T/zstd.wall"
done
ZBYTES=$(stat -c %s "$T/out.zst")

# ---- ClickHouse: the same rows (with the times owl-store derived) inserted over HTTP ----
build_log_rows
"$T/log_rows" append "$IN" >"$T/rows.tsv" 2>/dev/null || die "log_rows failed"
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
: >"$T/ch.wall"
for i in $(seq "$RUNS"); do
    ch "DROP TABLE IF EXISTS logs" >/dev/null
    ch "$("$SRCDIR/bench/peers/clickhouse" schema logs)" >/dev/null
    t0=$(now_ns)
    "$SRCDIR/bench/peers/clickhouse" insert "$CH_DIR" logs TabSeparated "$T/rows.tsv" || die "ClickHouse insert failed"
    t1=$(now_ns)
    calc %.6f "($t1 - $t0) / 1e9" >>"$T/ch.wall"
done
read -r CH_ROWS CH_DISK _ CH_PARTS < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" logs)
[ "${CH_ROWS:-}" = "$NLINES" ] || die "ClickHouse holds ${CH_ROWS:-?} rows, $NLINES inserted"
CW=$(median <"$T/ch.wall")

OT=$(calc %.6f "$NLINES / $(median <"$T/owl.tool")")  # seconds, from the tool's median rows/s
OW=$(median <"$T/owl.wall")
ZW=$(median <"$T/zstd.wall")
MB=$(calc %.6f "$NBYTES / 1e6")
TABLE=$(printf '| tool | what the time covers | seconds | rows/s | MB/s |\n|---|---|---:|---:|---:|\n'
    printf '| owl-store import --sync none --no-compact | read + parse + WAL append + memtable apply + seals of full memtables; excludes open, final flush, close (tool'"'"'s own figure) | %.3f | **%.0f** | %.1f |\n' \
        "$OT" "$(calc %.6f "$NLINES / $OT")" "$(calc %.6f "$MB / $OT")"
    printf '| owl-store import --sync none --no-compact | the whole process: open, import, final flush (seal into parts, WAL checkpoint), close | %.3f | **%.0f** | %.1f |\n' \
        "$OW" "$(calc %.6f "$NLINES / $OW")" "$(calc %.6f "$MB / $OW")"
    printf '| zstd -3 -T1 (peer) | the whole process: read the file, compress, write %s bytes | %.3f | %.0f | %.1f |\n' \
        "$ZBYTES" "$ZW" "$(calc %.6f "$NLINES / $ZW")" "$(calc %.6f "$MB / $ZW")"
    printf '| %s (peer), INSERT over HTTP | the POST of the rows as TabSeparated (times pre-parsed) until the server has written its parts (%s parts, %s bytes on disk, lz4) | %.3f | %.0f | %.1f |\n' \
        "$CH_VER" "$CH_PARTS" "$CH_DISK" "$CW" "$(calc %.6f "$NLINES / $CW")" "$(calc %.6f "$MB / $CW")")
TOOL_RATE=$(calc %.0f "$NLINES / $OT")
WALL_RATE=$(calc %.0f "$NLINES / $OW")
verdict() { [ "$1" -ge "$GOAL" ] && echo "met" || echo "NOT met"; }
GOAL_LINE="goal >= 1,000,000 rows/s on one core: $(verdict "$TOOL_RATE") by the tool's figure ($TOOL_RATE), $(verdict "$WALL_RATE") by wall time incl. flush ($WALL_RATE); owl wall / zstd wall = $(calc %.2f "$OW / $ZW"); owl wall / ClickHouse insert = $(calc %.2f "$OW / $CW")"
ZSTD_PEER=$("$SRCDIR/bench/peers/zstd" version)
RESULTS=$(result "append $NLINES Loghub lines (zstd: -3 -T1)" "$WALL_RATE" "$ZSTD_PEER" \
        "$(calc %.0f "$NLINES / $ZW")" "$(calc %.2f "$ZW / $OW")" "rows/s"
    result "append $NLINES Loghub lines (ClickHouse: HTTP INSERT)" "$WALL_RATE" "$CH_VER" \
        "$(calc %.0f "$NLINES / $CW")" "$(calc %.2f "$CW / $OW")" "rows/s")
NOTE="owl stored $STORED bytes in $PARTS parts after the last run ($DATED of $NLINES lines carried their own timestamp; partitions are per UTC day, so most memtables seal at the final flush, outside the tool's figure)"

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)

echo
echo "$TABLE"
echo
echo "$GOAL_LINE"
echo "$NOTE"
echo "machine: $MACHINE"
echo
echo "$RESULTS"

if [ "$RECORD" = 1 ]; then
    RES=$(results_file)
    {
        printf '\n## store_append — owl-store import vs zstd -3 -T1, %s Loghub lines%s (%s)\n\n' \
            "$NLINES" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n' "$MACHINE"
        printf 'input: %s lines, %s bytes (Loghub samples repeated, shuffled file order); peers %s and %s (ClickHouse defaults: lz4, schema in docs/benchmarks.md); each pinned to CPU %s; median of %s runs; file in page cache\n\n' \
            "$NLINES" "$NBYTES" "$ZSTD_VER" "$CH_VER" "$CPU" "$RUNS"
        printf '%s\n\n' "$TABLE"
        printf '%s  \n%s\n' "$GOAL_LINE" "$NOTE"
    } >>"$RES"
    echo "recorded in $RES"
fi
exit 0

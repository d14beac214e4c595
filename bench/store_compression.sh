#!/bin/bash
# store_compression.sh — owl's on-disk size of each Loghub sample against `zstd -19` of the same
# file and against ClickHouse's on-disk bytes for the same rows, in one run: per file, raw bytes,
# zstd bytes and ratio, owl's stored bytes (part files after `owl-store import` into a fresh data
# dir, one partition) and ratio, ClickHouse's bytes_on_disk (its own MergeTree table per file,
# after OPTIMIZE TABLE FINAL) and ratio; then geometric means. Every ratio is raw FILE bytes /
# stored bytes. Prints RESULT lines for bench/run. Exit 1 on any failure.
#
# Usage: bench/store_compression.sh [--quick] [--record] [--data DIR] [--owl-store PATH] [--cpu C]
#        [--level N] [--ch-level N]
#   --level N     zstd level of the parts owl-store import writes (default 19, as compaction)
#   --ch-level N  ClickHouse's zstd level for parts (default 22, the best of 3/9/19/22 here)
#   --quick   the first 4 files only        --record  append the table to bench/RESULTS.md
#   --data    holds */*.log (default: $OWL_BENCH_DATA/loghub, else <repo>/../shared/data/loghub)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RECORD=0
QUICK=0
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}/loghub
OWL_STORE=${OWL_STORE:-}
CPU=1
LEVEL=19
CH_LEVEL=22

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --data) DATA=$2; shift ;;
    --owl-store) OWL_STORE=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --level) LEVEL=$2; shift ;;
    --ch-level) CH_LEVEL=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done

BENCH_NAME=store_compression
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_owl_store
need_cmd zstd zstd
for t in taskset awk curl python3; do command -v $t >/dev/null || die "$t is needed"; done
[ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
FILES=()
for f in "$DATA"/*/*.log; do [ -f "$f" ] && FILES+=("$f"); done
[ ${#FILES[@]} -gt 0 ] || die "no $DATA/*/*.log files (pass --data DIR)"
[ "$QUICK" = 1 ] && FILES=("${FILES[@]:0:4}")

bench_tmpdir
build_log_rows
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR" CLICKHOUSE_ZSTD_LEVEL="$CH_LEVEL"

PIN="taskset -c $CPU"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ZSTD_VER=$(zstd --version 2>&1 | head -n 1)
ZSTD_PEER=$("$SRCDIR/bench/peers/zstd" version)
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
LEVEL_NOTE="owl parts are written with \`owl-store import --level $LEVEL\` (zstd $LEVEL; from level 9 on message columns are also tried as templates, as compacted parts are); blooms, footers and every column of the logs table count in stored_bytes"
CH_NOTE="$CH_VER: one MergeTree table per file, \`$("$SRCDIR/bench/peers/clickhouse" schema logs)\`, every part zstd level $CH_LEVEL (server-wide <compression>; 18.16 has no column CODECs), rows inserted over HTTP as TabSeparated with the times owl-store derived, then OPTIMIZE TABLE FINAL; bytes_on_disk of the active parts (every file of a part: columns, marks, primary index, partition and checksum files)"

echo "owl-store $OWL_STORE; peers: $ZSTD_VER (zstd -19 -T1) and $CH_VER; each on CPU $CPU"
echo "ratios are raw FILE bytes / stored bytes (not the raw_bytes column of owl-store stats)"
echo "$LEVEL_NOTE"
echo "$CH_NOTE"
echo "(zstd -3 ratio, ClickHouse's data_compressed_bytes and owl's raw_bytes column are shown for context only)"
echo

HDR='| file | lines | raw bytes | zstd -19 bytes | zstd -19 ratio | owl stored bytes | owl ratio | owl/zstd | owl parts | ClickHouse bytes on disk | ClickHouse ratio | owl/ClickHouse | ClickHouse parts | (zstd -3 ratio) | (ClickHouse compressed column bytes) | (owl raw_bytes column) |'
TABLE=$(printf '%s\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n' "$HDR")
SUM_LOG=""
RESULTS=""
i=0
for f in "${FILES[@]}"; do
    i=$((i + 1))
    name=$(basename "$f" .log)
    raw=$(stat -c %s "$f")
    lines=$(awk 'END { print NR }' "$f")
    zst=$($PIN zstd -19 -T1 -q -c "$f" | wc -c) || die "zstd failed on $f"
    zst3=$($PIN zstd -3 -T1 -q -c "$f" | wc -c) || die "zstd failed on $f"
    d=$T/$name
    $PIN "$OWL_STORE" import "$d" --table logs --partition "$name" --sync none --level "$LEVEL" "$f" \
        2>"$T/import.err" ||
        { cat "$T/import.err" >&2; die "owl-store import failed on $f"; }
    "$OWL_STORE" stats "$d" >"$T/stats.out" 2>&1 || { cat "$T/stats.out" >&2; die "owl-store stats failed"; }
    # table tenant partition rows raw_bytes stored_bytes ratio parts
    read -r rows owl_raw stored parts < <(awk -v p="$name" '$1 == "logs" && $3 == p { print $4, $5, $6, $8 }' "$T/stats.out")
    [ -n "${stored:-}" ] || { cat "$T/stats.out" >&2; die "no stats row for partition $name"; }
    [ "$rows" = "$lines" ] || die "$name: owl-store stats says $rows rows, the file has $lines lines"
    "$OWL_STORE" verify "$d" >"$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; die "owl-store verify failed on $name"; }
    # ClickHouse: the same rows, with the times owl-store gave them
    tbl=logs_$i
    ch "$("$SRCDIR/bench/peers/clickhouse" schema logs "$tbl")" >/dev/null
    "$T/log_rows" "$name" "$f" >"$T/rows.tsv" 2>/dev/null || die "log_rows failed on $f"
    "$SRCDIR/bench/peers/clickhouse" insert "$CH_DIR" "$tbl" TabSeparated "$T/rows.tsv" || die "ClickHouse insert failed on $f"
    ch "OPTIMIZE TABLE $tbl FINAL" >/dev/null
    read -r ch_rows ch_disk ch_comp ch_parts < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" "$tbl")
    [ "${ch_rows:-}" = "$lines" ] || die "$name: ClickHouse holds ${ch_rows:-?} rows, the file has $lines lines"
    row=$(awk -v n="$name" -v l="$lines" -v r="$raw" -v z="$zst" -v s="$stored" -v p="$parts" -v o="$owl_raw" -v z3="$zst3" \
        -v cd="$ch_disk" -v cc="$ch_comp" -v cp="$ch_parts" 'BEGIN {
        printf "| %s | %d | %d | %d | %.2f | %d | %.2f | %.2f | %d | %d | %.2f | %.2f | %d | %.2f | %d | %d |", n, l, r, z, r / z, s, r / s, (r / s) / (r / z), p, cd, r / cd, (r / s) / (r / cd), cp, r / z3, cc, o }')
    TABLE+=$'\n'"$row"
    SUM_LOG+="$raw $zst $stored $ch_disk"$'\n'
    RESULTS+=$(result "compression $name" "$(calc %.2f "$raw / $stored")" "$ZSTD_PEER" \
        "$(calc %.2f "$raw / $zst")" "$(calc %.2f "$zst / $stored")" "raw/stored")$'\n'
    echo "  $name done" >&2
done
GEO=$(printf '%s' "$SUM_LOG" | awk 'NF == 4 { n++; lz += log($1 / $2); lo += log($1 / $3); lc += log($1 / $4) }
    END { printf "%.2f %.2f %.2f %.2f %.2f", exp(lz / n), exp(lo / n), exp((lo - lz) / n), exp(lc / n), exp((lo - lc) / n) }')
read -r GZ GO GR GC GRC <<<"$GEO"
TABLE+=$'\n'"| **geometric mean** (${#FILES[@]} files) | | | | **$GZ** | | **$GO** | **$GR** | | | **$GC** | **$GRC** | | | | |"
RESULTS+=$(result "compression geometric mean (${#FILES[@]} files)" "$GO" "$ZSTD_PEER" "$GZ" "$GR" "raw/stored")$'\n'
RESULTS+=$(result "compression geometric mean (${#FILES[@]} files)" "$GO" "$CH_VER" "$GC" "$GRC" "raw/stored")

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)

echo
echo "$TABLE"
echo
echo "geometric mean ratio: zstd -19 $GZ, owl $GO, ClickHouse $GC; owl/zstd $GR, owl/ClickHouse $GRC"
echo "machine: $MACHINE"
echo
echo "$RESULTS"

if [ "$RECORD" = 1 ]; then
    RES=$(results_file)
    {
        printf '\n## store_compression — owl parts vs zstd -19 and ClickHouse per Loghub file%s (%s)\n\n' \
            "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n' "$MACHINE"
        printf 'peers: %s, `zstd -19 -T1`; %s  \nowl: `owl-store import --sync none --level %s` into a fresh data dir per file, stored_bytes from `owl-store stats`  \n' "$ZSTD_VER" "$CH_NOTE" "$LEVEL"
        printf 'ratios are raw file bytes / stored bytes; %s\n\n' "$LEVEL_NOTE"
        printf '%s\n\n' "$TABLE"
        printf 'geometric mean ratio: zstd -19 **%s**, owl **%s**, ClickHouse **%s**; owl/zstd **%s**, owl/ClickHouse **%s**\n' "$GZ" "$GO" "$GC" "$GR" "$GRC"
    } >>"$RES"
    echo "recorded in $RES"
fi
exit 0

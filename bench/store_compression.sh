#!/bin/bash
# store_compression.sh — owl's on-disk size of each Loghub sample against `zstd -19` of the same
# file, in one run: per file, raw bytes, zstd bytes and ratio, owl's stored bytes (part files
# after `owl-store import` into a fresh data dir, one partition) and ratio, and owl/zstd; then
# geometric means. Both ratios are raw FILE bytes / compressed bytes. Exit 1 on any failure.
#
# Usage: bench/store_compression.sh [--quick] [--record] [--data DIR] [--owl-store PATH] [--cpu C]
#        [--level N]  zstd level of the parts owl-store import writes (default 19, as compaction)
#   --quick   the first 4 files only        --record  append the table to bench/RESULTS.md
#   --data    holds */*.log (default: <repo>/../shared/data/loghub)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RECORD=0
QUICK=0
DATA=$SRCDIR/../shared/data/loghub
OWL_STORE=${OWL_STORE:-}
CPU=1
LEVEL=19

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --data) DATA=$2; shift ;;
    --owl-store) OWL_STORE=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --level) LEVEL=$2; shift ;;
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
for t in taskset awk; do command -v $t >/dev/null || die "$t is needed"; done
[ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
FILES=()
for f in "$DATA"/*/*.log; do [ -f "$f" ] && FILES+=("$f"); done
[ ${#FILES[@]} -gt 0 ] || die "no $DATA/*/*.log files (pass --data DIR)"
[ "$QUICK" = 1 ] && FILES=("${FILES[@]:0:4}")

T=$(mktemp -d "${TMPDIR:-/tmp}/owl-store-bench.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

PIN="taskset -c $CPU"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ZSTD_VER=$(zstd --version 2>&1 | head -n 1)
LEVEL_NOTE="owl parts are written with \`owl-store import --level $LEVEL\` (zstd $LEVEL; from level 9 on message columns are also tried as templates, as compacted parts are); blooms, footers and every column of the logs table count in stored_bytes"

echo "owl-store $OWL_STORE; peer: $ZSTD_VER (zstd -19 -T1); each on CPU $CPU"
echo "ratios are raw FILE bytes / compressed bytes (not the raw_bytes column of owl-store stats)"
echo "$LEVEL_NOTE"
echo "(zstd -3 ratio and owl's raw_bytes column are shown for context only)"
echo

HDR='| file | lines | raw bytes | zstd -19 bytes | zstd -19 ratio | owl stored bytes | owl ratio | owl/zstd | owl parts | (zstd -3 ratio) | (owl raw_bytes column) |'
TABLE=$(printf '%s\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n' "$HDR")
SUM_LOG=""
for f in "${FILES[@]}"; do
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
    row=$(awk -v n="$name" -v l="$lines" -v r="$raw" -v z="$zst" -v s="$stored" -v p="$parts" -v o="$owl_raw" -v z3="$zst3" 'BEGIN {
        printf "| %s | %d | %d | %d | %.2f | %d | %.2f | %.2f | %d | %.2f | %d |", n, l, r, z, r / z, s, r / s, (r / s) / (r / z), p, r / z3, o }')
    TABLE+=$'\n'"$row"
    SUM_LOG+="$raw $zst $stored"$'\n'
    echo "  $name done" >&2
done
GEO=$(printf '%s' "$SUM_LOG" | awk 'NF == 3 { n++; lz += log($1 / $2); lo += log($1 / $3) }
    END { printf "%.2f %.2f %.2f", exp(lz / n), exp(lo / n), exp((lo - lz) / n) }')
read -r GZ GO GR <<<"$GEO"
TABLE+=$'\n'"| **geometric mean** (${#FILES[@]} files) | | | | **$GZ** | | **$GO** | **$GR** | | | |"

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)

echo
echo "$TABLE"
echo
echo "geometric mean ratio: zstd -19 $GZ, owl $GO, owl/zstd $GR"
echo "machine: $MACHINE"

if [ "$RECORD" = 1 ]; then
    RES=$SRCDIR/bench/RESULTS.md
    [ -f "$RES" ] || printf '# Benchmark results\n\nAppended by the scripts in bench/ with --record; newest last. See docs/benchmarks.md.\n' >"$RES"
    {
        printf '\n## store_compression — owl parts vs zstd -19 per Loghub file%s (%s)\n\n' \
            "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n' "$MACHINE"
        printf 'peer: %s, `zstd -19 -T1`; owl: `owl-store import --sync none --level %s` into a fresh data dir per file, stored_bytes from `owl-store stats`  \n' "$ZSTD_VER" "$LEVEL"
        printf 'ratios are raw file bytes / compressed bytes; %s\n\n' "$LEVEL_NOTE"
        printf '%s\n\n' "$TABLE"
        printf 'geometric mean ratio: zstd -19 **%s**, owl **%s**, owl/zstd **%s**\n' "$GZ" "$GO" "$GR"
    } >>"$RES"
    echo "recorded in $RES"
fi
exit 0

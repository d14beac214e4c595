#!/bin/bash
# store_scan.sh — owl's store scans against ripgrep and ClickHouse over the same data, in one
# run. Builds a data set of >= 1 GB raw (--quick: 100 MB) from the Loghub samples with
# timestamps and ids varied per repetition and one unique token injected
# (bench/datasets/loghub.py), imports it into one partition (`owl-store import --sync none`)
# and into a ClickHouse MergeTree table (HTTP INSERT, then OPTIMIZE TABLE FINAL), then, each
# tool pinned to one CPU (ClickHouse with max_threads=1) with its input in the page cache,
# a warm-up and 3 runs each, medians of wall time:
#   (a) rare term: `owl-store scan --contains NEEDLE --count` vs `rg -j1 -c -F NEEDLE` vs
#       ClickHouse `SELECT count() FROM logs WHERE position(message, 'NEEDLE') > 0`;
#       goal rg time / owl time >= 10;
#   (b) common term (INFO, ~30% of lines): owl --substr vs `rg -j1 -c -F` vs ClickHouse
#       position(); owl --contains vs rg on a regex of owl's token rule vs ClickHouse
#       match(message, '\bINFO\b'); raw-equivalent GB/s per core = raw bytes / wall
#       seconds; goal owl >= 1 GB/s.
# Counts must agree between tools of the same semantics: exit 1 if they do not, or on any
# failure. A missed goal is reported only. Prints RESULT lines for bench/run.
#
# Usage: bench/store_scan.sh [--quick] [--record] [--bytes N] [--data DIR] [--owl-store PATH]
#                            [--cpu C] [--runs N] [--term WORD]
#   --quick  100 MB    default 1 GB (10^9 bytes)    --record  append to bench/RESULTS.md
#   --data   holds */*.log (default: $OWL_BENCH_DATA/loghub, else <repo>/../shared/data/loghub)
# shellcheck disable=SC2154  # CNT_x, SEC_x and INMS_x are set by timed() through printf -v
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RECORD=0
QUICK=0
BYTES=
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}/loghub
OWL_STORE=${OWL_STORE:-}
CPU=1
RUNS=3
TERM_COMMON=INFO
NEEDLE=owlneedle42
PART=scan

usage() { sed -n '2,/^[^#]/p' "$0" | sed '/^# shellcheck/d; $d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --bytes) BYTES=$2; shift ;;
    --data) DATA=$2; shift ;;
    --owl-store) OWL_STORE=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --term) TERM_COMMON=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "$BYTES" ] || { [ "$QUICK" = 1 ] && BYTES=100000000 || BYTES=1000000000; }
[[ "$TERM_COMMON" =~ ^[A-Za-z0-9_]+$ ]] || { echo "--term takes one token ([A-Za-z0-9_]+)" >&2; exit 2; }

BENCH_NAME=store_scan
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_owl_store
need_cmd rg ripgrep
for t in taskset awk python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
[ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
[ "$RUNS" -ge 1 ] 2>/dev/null || die "--runs takes a number >= 1"

bench_tmpdir

PIN="taskset -c $CPU"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RG=(rg --no-config -j1 -c)
# the client of the ClickHouse queries (curl) runs on the other CPU, as a load generator would
OTHER_CPU=$((CPU == 0 ? 1 : 0))
[ "$(nproc)" -gt 1 ] || OTHER_CPU=$CPU
START=$(now_ns)

# ---- data set ----
IN=$T/scan.log
echo "building $BYTES bytes of varied Loghub lines with one '$NEEDLE'..."
python3 "$SRCDIR/bench/datasets/loghub.py" --data "$DATA" --out "$IN" --bytes "$BYTES" --vary \
    --needle "$NEEDLE" >"$T/ds.out" || die "loghub.py failed"
NLINES=$(awk -F= '$1 == "lines" { print $2 }' "$T/ds.out")
NBYTES=$(stat -c %s "$IN")
REPS=$(awk -F= '$1 == "repetitions" { print $2 }' "$T/ds.out")

echo "importing into $T/d, partition $PART (--sync none, CPU $CPU)..."
t0=$(now_ns)
$PIN "$OWL_STORE" import "$T/d" --table logs --partition "$PART" --sync none "$IN" 2>"$T/import.err" ||
    { cat "$T/import.err" >&2; die "owl-store import failed"; }
t1=$(now_ns)
IMPORT_LINE="$(cat "$T/import.err"); wall $(calc %.1f "($t1 - $t0) / 1e9") s incl. flush"
"$OWL_STORE" stats "$T/d" >"$T/stats.out" 2>&1 || { cat "$T/stats.out" >&2; die "owl-store stats failed"; }
read -r ROWS STORED PARTS < <(awk -v p="$PART" '$1 == "logs" && $3 == p { print $4, $6, $8 }' "$T/stats.out")
[ "${ROWS:-}" = "$NLINES" ] || { cat "$T/stats.out" >&2; die "owl-store stats shows ${ROWS:-?} rows, the file has $NLINES lines"; }
"$OWL_STORE" verify "$T/d" >"$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; die "owl-store verify failed after the import"; }
DAYS=$(find "$T/d/store/logs" -mindepth 3 -maxdepth 3 -type d | wc -l)  # <tenant>/<partition>/<day>
STORE_LINE="$NLINES rows in $PARTS parts over $DAYS day directories, $STORED bytes stored (raw/stored $(calc %.2f "$NBYTES / $STORED"))"
echo "  $IMPORT_LINE"
echo "  $STORE_LINE"

echo "loading the same rows into ClickHouse (pinned to CPU $CPU, lz4, HTTP INSERT + OPTIMIZE FINAL)..."
build_log_rows
"$T/log_rows" "$PART" "$IN" >"$T/rows.tsv" 2>/dev/null || die "log_rows failed"
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
CH_VER=$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR")
ch "$("$SRCDIR/bench/peers/clickhouse" schema logs)" >/dev/null
t0=$(now_ns)
"$SRCDIR/bench/peers/clickhouse" insert "$CH_DIR" logs TabSeparated "$T/rows.tsv" || die "ClickHouse insert failed"
t1=$(now_ns)
ch "OPTIMIZE TABLE logs FINAL" >/dev/null
t2=$(now_ns)
rm -f "$T/rows.tsv"
read -r CH_ROWS CH_DISK _ CH_PARTS < <("$SRCDIR/bench/peers/clickhouse" disk "$CH_DIR" logs)
[ "${CH_ROWS:-}" = "$NLINES" ] || die "ClickHouse holds ${CH_ROWS:-?} rows, the file has $NLINES lines"
CH_LINE="$CH_VER: INSERT $(calc %.1f "($t1 - $t0) / 1e9") s, OPTIMIZE FINAL $(calc %.1f "($t2 - $t1) / 1e9") s; $CH_ROWS rows in $CH_PARTS parts, $CH_DISK bytes on disk (raw/stored $(calc %.2f "$NBYTES / $CH_DISK"))"
echo "  $CH_LINE"

# ---- measuring ----
# timed NAME CMD... — runs CMD (pinned) RUNS times after one warm-up run that also fills
# the page cache; sets CNT_NAME (stdout, a count), SEC_NAME (median wall seconds) and keeps
# the last stderr in $T/NAME.err, and for owl-store the median of its own scan time in
# INMS_NAME (ms, without process start, store open and close). rg exits 1 when nothing
# matches: that is a count of 0.
timed() {
    local name=$1 i t0 t1 rc
    shift
    : >"$T/$name.t"
    : >"$T/$name.ms"
    for i in $(seq 0 "$RUNS"); do
        t0=$(now_ns)
        $PIN "$@" >"$T/$name.out" 2>"$T/$name.err"
        rc=$?
        t1=$(now_ns)
        if [ $rc != 0 ] && ! { [ "$1" = rg ] && [ $rc = 1 ] && [ ! -s "$T/$name.out" ]; }; then
            cat "$T/$name.err" >&2
            die "'$*' exited $rc"
        fi
        [ "$i" = 0 ] && continue
        calc %.6f "($t1 - $t0) / 1e9" >>"$T/$name.t"
        sed -n 's/^scan: .*; \([0-9.]*\) ms$/\1/p' "$T/$name.err" >>"$T/$name.ms"
    done
    printf -v "INMS_$name" '%s' "$(median <"$T/$name.ms")"
    local cnt
    cnt=$(tr -d '[:space:]' <"$T/$name.out")
    printf -v "CNT_$name" '%s' "${cnt:-0}"
    printf -v "SEC_$name" '%s' "$(median <"$T/$name.t")"
}

# ch_timed NAME WHERE — SELECT count() FROM logs WHERE ... over ClickHouse's HTTP interface,
# curl on the other CPU, RUNS times after a warm-up; sets CNT_NAME and SEC_NAME (median wall
# seconds from curl's start to its exit) and INMS_NAME (ClickHouse's own elapsed, ms)
ch_timed() {
    local name=$1 sql="SELECT count() FROM logs WHERE $2 FORMAT JSON" i t0 t1 url
    url="http://127.0.0.1:$(cat "$CH_DIR/port")/"
    : >"$T/$name.t"
    : >"$T/$name.ms"
    for i in $(seq 0 "$RUNS"); do
        t0=$(now_ns)
        taskset -c "$OTHER_CPU" curl -sf --max-time 600 "$url" --data-binary "$sql" >"$T/$name.out" ||
            { ch "$sql" >/dev/null; die "ClickHouse query failed: $sql"; }
        t1=$(now_ns)
        [ "$i" = 0 ] && continue
        calc %.6f "($t1 - $t0) / 1e9" >>"$T/$name.t"
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["statistics"]["elapsed"] * 1000)' \
            "$T/$name.out" >>"$T/$name.ms"
    done
    printf -v "CNT_$name" '%s' "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"][0]["count()"])' "$T/$name.out")"
    printf -v "SEC_$name" '%s' "$(median <"$T/$name.t")"
    printf -v "INMS_$name" '%s' "$(median <"$T/$name.ms")"
}

cat "$IN" >/dev/null
find "$T/d" -type f -exec cat {} + >/dev/null
SCAN=("$OWL_STORE" scan "$T/d" --table logs --partition "$PART" --count)
# owl's token rule (index/store.c tok_char): a token is a run of [A-Za-z0-9_] and bytes >= 0x80
TOKRE="(?-u:(?:^|[^0-9A-Za-z_\\x80-\\xFF])${TERM_COMMON}(?:[^0-9A-Za-z_\\x80-\\xFF]|\$))"

echo "(a) rare term '$NEEDLE'..."
timed owl_rare "${SCAN[@]}" --contains "$NEEDLE"
timed rg_rare "${RG[@]}" -F "$NEEDLE" "$IN"
ch_timed ch_rare "position(message, '$NEEDLE') > 0"
echo "(b) common term '$TERM_COMMON'..."
timed owl_tok "${SCAN[@]}" --contains "$TERM_COMMON"
timed owl_sub "${SCAN[@]}" --substr "$TERM_COMMON"
timed rg_sub "${RG[@]}" -F "$TERM_COMMON" "$IN"
timed rg_tok "${RG[@]}" "$TOKRE" "$IN"
ch_timed ch_sub "position(message, '$TERM_COMMON') > 0"
# re2's \b is an ASCII word boundary: owl's token rule on ASCII text (Loghub is pure ASCII;
# the count check below catches any difference)
ch_timed ch_tok "match(message, '\\\\b$TERM_COMMON\\\\b')"

# ---- counts must agree ----
FAIL=0
check() { # WHAT OWL RG
    if [ "$2" != "$3" ]; then
        echo "store_scan: COUNT MISMATCH for $1: owl $2, peer $3" >&2
        FAIL=1
    fi
}
check "--contains $NEEDLE vs rg -F" "$CNT_owl_rare" "$CNT_rg_rare"
[ "$CNT_rg_rare" = 1 ] || { echo "store_scan: '$NEEDLE' is on $CNT_rg_rare lines, expected 1" >&2; FAIL=1; }
check "--substr $TERM_COMMON vs rg -F" "$CNT_owl_sub" "$CNT_rg_sub"
check "--contains $TERM_COMMON vs rg token regex" "$CNT_owl_tok" "$CNT_rg_tok"
check "--contains $NEEDLE vs ClickHouse position()" "$CNT_owl_rare" "$CNT_ch_rare"
check "--substr $TERM_COMMON vs ClickHouse position()" "$CNT_owl_sub" "$CNT_ch_sub"
check "--contains $TERM_COMMON vs ClickHouse match(\\b)" "$CNT_owl_tok" "$CNT_ch_tok"

gbs() { calc %.2f "$NBYTES / $1 / 1e9"; }
ms() { calc %.1f "$1 * 1000"; }
summary() { sed -n 's/^scan: //p' "$T/$1.err" | tail -n 1; }
RG_VER=$(rg --version | head -n 1)
RARE_RATIO=$(calc %.1f "$SEC_rg_rare / $SEC_owl_rare")
FRAC=$(calc %.1f "100 * $CNT_rg_sub / $NLINES")
TABLE=$(printf '| scan | tool | count | median wall ms | raw GB/s per core | owl scan summary (last run) |\n|---|---|---:|---:|---:|---|\n'
    printf '| (a) rare `%s` | owl-store scan --contains | %s | %s | %s | %s |\n' "$NEEDLE" "$CNT_owl_rare" "$(ms "$SEC_owl_rare")" "$(gbs "$SEC_owl_rare")" "$(summary owl_rare)"
    printf '| (a) rare `%s` | rg -j1 -c -F | %s | %s | %s | |\n' "$NEEDLE" "$CNT_rg_rare" "$(ms "$SEC_rg_rare")" "$(gbs "$SEC_rg_rare")"
    printf '| (b) common `%s` | owl-store scan --contains | %s | %s | **%s** | %s |\n' "$TERM_COMMON" "$CNT_owl_tok" "$(ms "$SEC_owl_tok")" "$(gbs "$SEC_owl_tok")" "$(summary owl_tok)"
    printf '| (b) common `%s` | owl-store scan --substr | %s | %s | **%s** | %s |\n' "$TERM_COMMON" "$CNT_owl_sub" "$(ms "$SEC_owl_sub")" "$(gbs "$SEC_owl_sub")" "$(summary owl_sub)"
    printf '| (b) common `%s` | rg -j1 -c -F | %s | %s | %s | |\n' "$TERM_COMMON" "$CNT_rg_sub" "$(ms "$SEC_rg_sub")" "$(gbs "$SEC_rg_sub")"
    printf '| (b) common `%s` | rg -j1 -c (token regex) | %s | %s | %s | |\n' "$TERM_COMMON" "$CNT_rg_tok" "$(ms "$SEC_rg_tok")" "$(gbs "$SEC_rg_tok")"
    printf '| (a) rare `%s` | ClickHouse position() | %s | %s | %s | ClickHouse elapsed %s ms |\n' "$NEEDLE" "$CNT_ch_rare" "$(ms "$SEC_ch_rare")" "$(gbs "$SEC_ch_rare")" "$(calc %.1f "$INMS_ch_rare")"
    printf '| (b) common `%s` | ClickHouse position() | %s | %s | %s | ClickHouse elapsed %s ms |\n' "$TERM_COMMON" "$CNT_ch_sub" "$(ms "$SEC_ch_sub")" "$(gbs "$SEC_ch_sub")" "$(calc %.1f "$INMS_ch_sub")"
    printf '| (b) common `%s` | ClickHouse match(\\b) | %s | %s | %s | ClickHouse elapsed %s ms |\n' "$TERM_COMMON" "$CNT_ch_tok" "$(ms "$SEC_ch_tok")" "$(gbs "$SEC_ch_tok")" "$(calc %.1f "$INMS_ch_tok")")
goal() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "met" : "NOT met" }'; }
GOALS="(a) rg/owl time on the rare term: **${RARE_RATIO}x** (goal >= 10x: $(goal "$RARE_RATIO" 10)); by owl's own scan time ($INMS_owl_rare ms, without process start, store open and close) it would be $(calc %.1f "$SEC_rg_rare * 1000 / $INMS_owl_rare")x.  
(b) owl raw-equivalent GB/s per core: --contains $(gbs "$SEC_owl_tok"), --substr $(gbs "$SEC_owl_sub") (goal >= 1 GB/s: $(goal "$(gbs "$SEC_owl_tok")" 1) / $(goal "$(gbs "$SEC_owl_sub")" 1)); rg $(gbs "$SEC_rg_sub") GB/s; '$TERM_COMMON' is on $FRAC% of lines."
ELAPSED=$(calc %.0f "($(now_ns) - $START) / 1e9")

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)
SETUP="data: $NLINES lines, $NBYTES bytes ($REPS x the Loghub samples, timestamps and ids varied per repetition); owl-store $OWL_STORE, $RG_VER and the $CH_VER server (max_threads=1, lz4, queried with curl from CPU $OTHER_CPU) each pinned to CPU $CPU; median wall time (process start to exit; for ClickHouse the HTTP query from curl's start to its exit) of $RUNS runs after a warm-up run, inputs in the page cache"

echo
echo "$SETUP"
echo "import: $IMPORT_LINE"
echo "store: $STORE_LINE"
echo "ClickHouse: $CH_LINE"
echo
echo "$TABLE"
echo
echo "$GOALS"
echo "machine: $MACHINE; the whole script took $ELAPSED s"

[ "$FAIL" = 0 ] || die "owl's and a peer's counts disagree (see above): not a valid run, not recorded"

RG_PEER=$("$SRCDIR/bench/peers/rg" version)
RARE="scan rare term ($NLINES lines, $(calc %.0f "$NBYTES / 1e6") MB)"
SUB="scan common term $TERM_COMMON, substring ($(calc %.0f "$NBYTES / 1e6") MB)"
TOK="scan common term $TERM_COMMON, token ($(calc %.0f "$NBYTES / 1e6") MB)"
echo
result "$RARE" "$(ms "$SEC_owl_rare")" "$RG_PEER" "$(ms "$SEC_rg_rare")" "$(calc %.2f "$SEC_rg_rare / $SEC_owl_rare")" "ms"
result "$RARE" "$(ms "$SEC_owl_rare")" "$CH_VER" "$(ms "$SEC_ch_rare")" "$(calc %.2f "$SEC_ch_rare / $SEC_owl_rare")" "ms"
result "$SUB" "$(gbs "$SEC_owl_sub")" "$RG_PEER" "$(gbs "$SEC_rg_sub")" "$(calc %.2f "$SEC_rg_sub / $SEC_owl_sub")" "GB/s"
result "$SUB" "$(gbs "$SEC_owl_sub")" "$CH_VER" "$(gbs "$SEC_ch_sub")" "$(calc %.2f "$SEC_ch_sub / $SEC_owl_sub")" "GB/s"
result "$TOK" "$(gbs "$SEC_owl_tok")" "$RG_PEER" "$(gbs "$SEC_rg_tok")" "$(calc %.2f "$SEC_rg_tok / $SEC_owl_tok")" "GB/s"
result "$TOK" "$(gbs "$SEC_owl_tok")" "$CH_VER" "$(gbs "$SEC_ch_tok")" "$(calc %.2f "$SEC_ch_tok / $SEC_owl_tok")" "GB/s"

if [ "$RECORD" = 1 ]; then
    RES=$(results_file)
    {
        printf '\n## store_scan — owl-store scan vs ripgrep, %s bytes%s (%s)\n\n' \
            "$NBYTES" "$([ "$QUICK" = 1 ] && echo ' (--quick)')" "$DATE"
        printf 'machine: %s  \n' "$MACHINE"
        printf '%s  \n' "$SETUP"
        printf 'import: %s  \nstore: %s  \nClickHouse: %s\n\n' "$IMPORT_LINE" "$STORE_LINE" "$CH_LINE"
        printf '%s\n\n' "$TABLE"
        printf '%s\n' "$GOALS"
    } >>"$RES"
    echo "recorded in $RES"
fi
exit 0

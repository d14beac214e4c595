# shellcheck shell=bash
# bench/lib.sh — helpers shared by the store benchmarks; source it after setting BENCH_NAME,
# SRCDIR and (optionally) OWL_STORE. Nothing here runs on its own.
# Invariant: every peer a script starts with bench_peer_start is stopped, and the temp dir of
# bench_tmpdir removed, when the script exits for any reason (EXIT trap; INT/TERM/HUP exit 1).

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# find_owl_store — the newest non-sanitizer build (a sanitizer build measures the sanitizer)
find_owl_store() {
    local c best="" t bt=0
    for c in ./index/owl-store "$SRCDIR"/build*/index/owl-store; do
        [ -x "$c" ] || continue
        nm "$c" 2>/dev/null | grep -q __asan_init && continue
        t=$(stat -c %Y "$c")
        if [ "$t" -gt "$bt" ]; then best=$c; bt=$t; fi
    done
    echo "$best"
}

# require_owl_store — sets OWL_STORE (found when not given) or dies with what to do
require_owl_store() {
    [ -n "$OWL_STORE" ] || OWL_STORE=$(find_owl_store)
    [ -n "$OWL_STORE" ] && [ -x "$OWL_STORE" ] ||
        die "no owl-store binary: build it (make), then pass --owl-store PATH or set OWL_STORE"
    if nm "$OWL_STORE" 2>/dev/null | grep -q __asan_init; then
        echo "warning: $OWL_STORE is a sanitizer build" >&2
    fi
}

# need_cmd CMD PACKAGE — installs the Debian package when CMD is missing (root only)
need_cmd() {
    command -v "$1" >/dev/null && return 0
    echo "installing $2 with apt-get" >&2
    [ "$(id -u)" = 0 ] || die "$1 missing and not root: apt-get install $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        die "apt-get install $2 failed"
}

now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"$1\\n\", $2 }"; }

# results_file — prints bench/RESULTS.md's path, creating the file with its heading when it
# does not exist yet (every --record appends to it)
results_file() {
    local res=$SRCDIR/bench/RESULTS.md
    [ -f "$res" ] || printf '# Benchmark results\n\nAppended by the scripts in bench/ with --record; newest last. See docs/benchmarks.md.\n' >"$res"
    echo "$res"
}

# machine_line — CPU model, cores, memory, kernel, load at start ($LOAD_BEFORE), $DATE, commit
machine_line() {
    local cpu mem commit
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    mem=$(free -g | awk '/^Mem:/ {print $2}')
    commit=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$SRCDIR" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
    echo "$cpu, $(nproc) cores, $mem GB RAM (free -g), $(uname -sr), load average $LOAD_BEFORE at start, $DATE, commit $commit"
}

# result BENCHMARK OWL PEER PEER_FIGURE RATIO UNIT — the line bench/run collects (see
# docs/benchmarks.md): RATIO > 1 means owl wins (owl/peer for rates and ratios, peer/owl for
# times). Tabs or newlines inside a field would break the line, so they are refused.
result() {
    local f
    [ $# = 6 ] || die "result takes 6 fields, got $#"
    for f in "$@"; do
        case "$f" in *$'\t'*|*$'\n'*|"") die "result: empty field or one with a tab or newline" ;; esac
    done
    printf 'RESULT\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
}

# ---- temp dir and peers ----
BENCH_PEERS=()  # "name dir" of each peer started, stopped in reverse order on exit

bench_cleanup() {
    local i name dir
    for ((i = ${#BENCH_PEERS[@]} - 1; i >= 0; i--)); do
        read -r name dir <<<"${BENCH_PEERS[i]}"
        "$SRCDIR/bench/peers/$name" stop "$dir" || echo "$BENCH_NAME: stopping $name failed" >&2
    done
    BENCH_PEERS=()
    [ -n "${T:-}" ] && rm -rf "$T"
}

# bench_tmpdir — sets T to a fresh temp dir (under $TMPDIR) and the traps that clean up
bench_tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/owl-$BENCH_NAME.XXXXXX") || die "mktemp failed"
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# bench_peer_start NAME DIR [VAR=VALUE...] — starts bench/peers/NAME with its data in DIR
# (pinned to $CPU like owl) and the environment given; sets PEER_PORT
bench_peer_start() {
    local name=$1 dir=$2
    shift 2
    BENCH_PEERS+=("$name $dir")
    # shellcheck disable=SC2034  # for the caller
    PEER_PORT=$(env PEER_CPU="$CPU" "$@" "$SRCDIR/bench/peers/$name" start "$dir") ||
        die "could not start $name (see above)"
}

# ch SQL — a query to the ClickHouse started in $CH_DIR; dies on an error
ch() { "$SRCDIR/bench/peers/clickhouse" query "$CH_DIR" "$1" || die "ClickHouse: $1"; }

# build_log_rows — compiles bench/datasets/log_rows.c (owl's line timestamps, as TSV rows for
# ClickHouse) into $T/log_rows
build_log_rows() {
    need_cmd cc gcc
    cc -std=gnu11 -O2 -I"$SRCDIR" -o "$T/log_rows" "$SRCDIR/bench/datasets/log_rows.c" \
        "$SRCDIR/common/logtime.c" "$SRCDIR/common/clock.c" || die "building log_rows failed"
}

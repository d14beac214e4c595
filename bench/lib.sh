# shellcheck shell=bash
# bench/lib.sh — helpers shared by the store benchmarks; source it after setting BENCH_NAME,
# SRCDIR and (optionally) OWL_STORE. Nothing here runs on its own.

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

# machine_line — CPU model, cores, memory, kernel, load at start ($LOAD_BEFORE), $DATE, commit
machine_line() {
    local cpu mem commit
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    mem=$(free -g | awk '/^Mem:/ {print $2}')
    commit=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$SRCDIR" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
    echo "$cpu, $(nproc) cores, $mem GB RAM (free -g), $(uname -sr), load average $LOAD_BEFORE at start, $DATE, commit $commit"
}

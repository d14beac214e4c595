#!/bin/bash
# bench/compare.sh — one code change judged in one sitting: runs bench/run for a baseline build
# and for this tree's build, alternately (base, new, base, new, ...), and prints each benchmark
# row with both owl figures and both owl/peer ratios. The peer is measured in the same run as
# owl each time, so the ratio is the figure to compare on a shared, noisy machine; the raw owl
# figures are shown beside it.
#
# Usage: bench/compare.sh --base-build DIR [--quick] [--rounds N] [--data DIR] NAME...
#   --base-build DIR  a configured and built tree of the baseline commit (e.g. a worktree's
#                     build/ at the previous commit); this tree is built into build-bench/
#   --rounds N        base/new pairs to run (default 1); the median of each row is printed
#   NAME...           benchmarks as bench/run names them (default: store_append store_scan)
set -u
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=""
ROUNDS=1
ARGS=()
NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
    --base-build) BASE=$(cd "$2" && pwd) || exit 2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --quick) ARGS+=(--quick) ;;
    --data) ARGS+=(--data "$2"); shift ;;
    -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/compare.sh: unknown option $1" >&2; exit 2 ;;
    *) NAMES+=("$1") ;;
    esac
    shift
done
[ -n "$BASE" ] && [ -x "$BASE/index/owl-store" ] ||
    { echo "bench/compare.sh: --base-build DIR must hold a built tree (DIR/index/owl-store)" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench/compare.sh: --rounds takes a positive number" >&2; exit 2; }
[ ${#NAMES[@]} -gt 0 ] || NAMES=(store_append store_scan)
T=$(mktemp -d "${TMPDIR:-/tmp}/owl-compare.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

# this tree's build, once, through bench/run's own build step (a tiny benchmark run)
"$SRCDIR/bench/run" "${ARGS[@]}" selfcheck >"$T/build.out" 2>&1 ||
    { cat "$T/build.out" >&2; echo "bench/compare.sh: building this tree failed" >&2; exit 1; }
NEW=$SRCDIR/build-bench

run_one() { # run_one LABEL BUILD ROUND — bench/run's table rows into $T/LABEL.ROUND
    "$SRCDIR/bench/run" "${ARGS[@]}" --no-build --build-dir "$2" "${NAMES[@]}" >"$T/$1.$3.out" 2>&1 ||
        { tail -30 "$T/$1.$3.out" >&2; echo "bench/compare.sh: the $1 run failed" >&2; exit 1; }
    grep -E '^\| [^-]' "$T/$1.$3.out" | grep -v '^| benchmark |' >"$T/$1.$3"
}
for r in $(seq "$ROUNDS"); do
    echo "bench/compare.sh: round $r of $ROUNDS: base ($BASE)" >&2
    run_one base "$BASE" "$r"
    echo "bench/compare.sh: round $r of $ROUNDS: new ($NEW)" >&2
    run_one new "$NEW" "$r"
done

# rows: | benchmark | owl | peer | peer figure | ratio | unit |; median over the rounds
python3 - "$T" "$ROUNDS" <<'PY'
import sys, statistics
t, rounds = sys.argv[1], int(sys.argv[2])
def load(label):
    rows = {}
    for r in range(1, rounds + 1):
        for line in open(f"{t}/{label}.{r}"):
            f = [x.strip() for x in line.strip().strip('|').split('|')]
            if len(f) != 6:
                continue
            key = (f[0], f[2], f[5])
            try:
                rows.setdefault(key, []).append((float(f[1].replace('*', '')), float(f[4].replace('*', ''))))
            except ValueError:
                pass
    return {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for k, v in rows.items()}
base, new = load("base"), load("new")
print("| benchmark | peer | unit | base owl | new owl | base owl/peer ratio | new owl/peer ratio | new ratio / base ratio |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for k in base:
    if k not in new:
        continue
    (bo, br), (no, nr) = base[k], new[k]
    rel = nr / br if br else float('nan')
    print(f"| {k[0]} | {k[1]} | {k[2]} | {bo:g} | {no:g} | {br:.3f} | {nr:.3f} | {rel:.3f} |")
print(f"\nmedians of {rounds} round(s); ratio > 1 means owl wins against the peer measured in the same run; "
      "the last column > 1 means the new build did better relative to its peer")
PY

#!/bin/bash
# t_demo.sh — `make demo` as a newcomer runs it (client/examples/README.md), with --check: owld
# and the four example services built with libowl, 400 checkouts, payments failing 10% of
# its charges; the demo must print the map with the four services and their edges with every
# checkout counted, payments' fault rate within 2 points of the injected share, the top
# bottleneck (inventory) and root cause (payments), a faulted trace's log lines found by its
# trace id across the services, and an SVG of the map drawn by Graphviz.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"
EX=$OWL_BUILDDIR/client/examples
for p in frontend orders inventory payments loadgen; do
    [ -x "$EX/$p" ] || bail "example $p is not built ($EX/$p)"
done
OWLD="$OWLD" EXAMPLES="$EX" timeout 300 python3 "$OWL_SRCDIR/client/examples/demo.py" \
    --check --requests 400 --dir "$T/demo" >"$T/demo.out" 2>&1
rc=$?
sed 's/^/# /' "$T/demo.out"
check_eq "make demo's checks hold (demo.py --check)" 0 "$rc"
check "the map prints frontend -> orders" grep -qE '^  frontend +-> orders +400 calls' "$T/demo.out"
check "the map prints orders -> payments" grep -qE '^  orders +-> payments +400 calls' "$T/demo.out"
check "the map prints payments -> its database" grep -qE '^  payments +-> postgresql' "$T/demo.out"
check "the fault rate line" grep -qE '^payments fault rate 10\.[0-9]% \(injected 10\.0%\)' "$T/demo.out"
check "the top bottleneck is inventory's" grep -qE '^top bottleneck: inventory' "$T/demo.out"
check "the root cause is payments' PaymentDeclinedError" \
    grep -qE '^root cause of faults: payments "POST /charge" PaymentDeclinedError' "$T/demo.out"
svg=$(sed -n 's/^service map as SVG (Graphviz): //p' "$T/demo.out")
check "an SVG of the map naming the services" grep -q 'inventory' "${svg:-/nonexistent}"
# owld and the services ran under demo.py, their logs in its directory (lib.sh's own check
# looks at owld logs it started itself)
bad=$(grep -lE 'Sanitizer|runtime error:' "$T"/demo/*.log 2>/dev/null)
check_eq "owld's and the services' logs hold no sanitizer report" "" "$bad"
finish

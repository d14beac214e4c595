#!/bin/bash
# t_client_storm.sh — libowl's spans from many threads at once (tests/integration/
# client_storm.c: 4 threads, twice, nested spans, links, spans ended on another thread), built
# from client/ alone with ThreadSanitizer: no report, and every sampled span reaches the sink
# once; again without the sink, the spans going through the exporter's queue and thread to an
# endpoint where nothing listens (each sampled span dropped and counted once); then built plain
# and run under valgrind, both ways: no error, nothing definitely lost. SKIPs what
# the machine cannot do (no TSan runtime, no valgrind).
. "$(dirname "$0")/lib.sh"

CLIENT="$OWL_SRCDIR/client"
DRIVER="$OWL_SRCDIR/tests/integration/client_storm.c"
CC=${CC:-cc}
ran=0

echo 'int main(void) { return 0; }' >"$T/probe.c"
if "$CC" -fsanitize=thread "$T/probe.c" -o "$T/probe" 2>/dev/null && "$T/probe" 2>/dev/null; then
    "$CC" -fsanitize=thread -O1 -g -std=gnu11 -Wall -Wextra -Werror -I"$CLIENT" "$CLIENT"/*.c \
        "$DRIVER" -pthread -lcurl -lz -o "$T/storm_tsan" 2>"$T/cc_tsan.err"
    check_eq "the storm builds with -fsanitize=thread from client/ alone" 0 $?
    sed 's/^/# /' "$T/cc_tsan.err" | head -10
    out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$T/storm_tsan" 100000 2>"$T/tsan.err")
    rc=$?
    check_eq "... runs 4 threads, twice, 100,000 iterations each to the end, the sampled spans adding up ($out)" 0 "$rc"
    check "... with no ThreadSanitizer report" test ! -s "$T/tsan.err"
    sed 's/^/# /' "$T/tsan.err" | head -30
    out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$T/storm_tsan" 50000 export 2>"$T/tsan-x.err")
    rc=$?
    check_eq "... through the exporter's queue and thread, every sampled span dropped once ($out)" 0 "$rc"
    check "... with no ThreadSanitizer report" test ! -s "$T/tsan-x.err"
    sed 's/^/# /' "$T/tsan-x.err" | head -30
    ran=1
else
    echo "# no ThreadSanitizer here ($CC -fsanitize=thread cannot build or run a program)"
fi

if command -v valgrind >/dev/null; then
    "$CC" -O1 -g -std=gnu11 -Wall -Wextra -Werror -I"$CLIENT" "$CLIENT"/*.c "$DRIVER" -pthread -lcurl -lz \
        -o "$T/storm" 2>"$T/cc.err"
    check_eq "the storm builds plain" 0 $?
    out=$(valgrind -q --error-exitcode=9 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$T/storm" 20000 2>"$T/vg.err")
    rc=$?
    check_eq "... under valgrind: no error, nothing lost, the spans adding up ($out)" 0 "$rc"
    sed 's/^/# /' "$T/vg.err" | head -30
    out=$(valgrind -q --error-exitcode=9 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$T/storm" 5000 export 2>"$T/vg-x.err")
    rc=$?
    check_eq "... and through the exporter ($out)" 0 "$rc"
    sed 's/^/# /' "$T/vg-x.err" | head -30
    ran=1
else
    echo "# valgrind is not installed"
fi
[ "$ran" = 1 ] || skip "neither ThreadSanitizer nor valgrind can run here"
finish

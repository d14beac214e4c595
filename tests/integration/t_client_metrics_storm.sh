#!/bin/bash
# t_client_metrics_storm.sh — libowl's metrics from many threads at once (tests/integration/
# client_metrics_storm.c: 4 threads making series and recording into every kind while a fifth
# collects), built from client/ alone with ThreadSanitizer: no report, and the counter's total
# collected exactly; then built plain and run under valgrind: no error, nothing lost (the
# instruments are freed by metrics.c's destructor). SKIPs what the machine cannot do.
. "$(dirname "$0")/lib.sh"

CLIENT="$OWL_SRCDIR/client"
DRIVER="$OWL_SRCDIR/tests/integration/client_metrics_storm.c"
CC=${CC:-cc}
ran=0

LIBS=$(pkg-config --libs libcurl zlib 2>/dev/null) || skip "no libcurl or zlib (pkg-config libcurl zlib)"
echo 'int main(void) { return 0; }' >"$T/probe.c"
if "$CC" -fsanitize=thread "$T/probe.c" -o "$T/probe" 2>/dev/null && "$T/probe" 2>/dev/null; then
    "$CC" -fsanitize=thread -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$CLIENT" \
        "$CLIENT"/*.c "$DRIVER" -pthread $LIBS -o "$T/mstorm_tsan" 2>"$T/cc_tsan.err"
    check_eq "the metrics storm builds with -fsanitize=thread from client/ alone" 0 $?
    sed 's/^/# /' "$T/cc_tsan.err" | head -10
    out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$T/mstorm_tsan" 100000 2>"$T/tsan.err")
    rc=$?
    check_eq "... runs 4 recording threads and a collecting one to the end ($out)" 0 "$rc"
    check "... with no ThreadSanitizer report" test ! -s "$T/tsan.err"
    sed 's/^/# /' "$T/tsan.err" | head -30
    ran=1
else
    echo "# no ThreadSanitizer here ($CC -fsanitize=thread cannot build or run a program)"
fi

if command -v valgrind >/dev/null; then
    "$CC" -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$CLIENT" "$CLIENT"/*.c \
        "$DRIVER" -pthread $LIBS -o "$T/mstorm" 2>"$T/cc.err"
    check_eq "the metrics storm builds plain" 0 $?
    out=$(valgrind -q --error-exitcode=9 --leak-check=full --show-leak-kinds=all \
        --errors-for-leak-kinds=all "$T/mstorm" 5000 2>"$T/vg.err")
    rc=$?
    check_eq "... under valgrind: no error, nothing left allocated ($out)" 0 "$rc"
    sed 's/^/# /' "$T/vg.err" | head -30
    ran=1
else
    echo "# valgrind is not installed"
fi
[ "$ran" = 1 ] || skip "neither ThreadSanitizer nor valgrind can run here"
finish

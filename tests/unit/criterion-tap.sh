#!/bin/sh
# criterion-tap.sh — runs one Criterion test program with its TAP report on standard output,
# for automake's TAP driver (Makefile.am's LOG_COMPILER): PROGRAM [ARGS...]. The report is
# asked for with --tap rather than CRITERION_OUTPUTS because Criterion 2.4 leaks its copy
# of that variable, which LeakSanitizer turns into a failure in the sanitizer build.
prog=$1
shift
exec "$prog" --tap=/dev/stdout "$@"

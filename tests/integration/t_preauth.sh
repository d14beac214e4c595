#!/bin/bash
# t_preauth.sh — request bodies are not read before authentication (issue 9, item 5):
# 1,000 connections without valid credentials each declare a 16 MiB body (most with
# Expect: 100-continue, some sending body bytes slowly); each is answered at once (413 or
# 401, no 100 Continue) and closed, owld's RSS stays bounded, and an authenticated client
# still creates keys (one with a 1 MiB body) meanwhile. Then, on a second owld with
# --max-buffered-mib 64, 24 authenticated 8 MiB uploads at once: those past the cap
# get 503 with Retry-After, RSS stays bounded. The raw-socket parts are in preauth.py.
. "$(dirname "$0")/lib.sh"

ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 1100 ] || skip "cannot raise the open-file limit to 1100 (hard limit $(ulimit -Hn))"

# Without the rule, 40 such connections took owld from 18 MB to 628 MB. AddressSanitizer's
# shadow memory and quarantine add a large constant, so a sanitized build gets more room.
RSS_BOUND_MB=100
is_sanitized && RSS_BOUND_MB=400

# The flood's bad credentials all come from 127.0.0.1, as does the authenticated client: the
# per-address failed-login limit (t_sigv4audit.sh tests it) is raised so that it measures
# the body rule, not the throttle.
start_owld --auth-fail-limit 1000000 || bail "owld starts"
run_py "preauth.py flood" "$IT_DIR/preauth.py" flood "$PORT" "$ADMIN" "$OWLD_PID" 1000 \
    "$RSS_BOUND_MB"
stop_owld
check_eq "owld exits 0 on SIGTERM" 0 "$OWLD_RC"

DATA=$T/data-cap
start_owld --max-buffered-mib 64 || bail "owld starts with --max-buffered-mib 64"
run_py "preauth.py cap" "$IT_DIR/preauth.py" cap "$PORT" "$ADMIN" "$OWLD_PID" 24 8 64 \
    "$RSS_BOUND_MB"
stop_owld
check_eq "owld (capped) exits 0 on SIGTERM" 0 "$OWLD_RC"

finish

#!/bin/bash
# t_client_xray.sh — libowl's xray sampler against a real owld (tests/integration/
# client_xray.c, built from client/ alone): rules made through owld's API (as
# t_xray_sampling.sh makes them) and fetched from the main port with the api key; 2,000 root
# HTTP spans on a rule's path sample its FixedRate within 4 standard deviations of the
# binomial (a rule with Attributes and one for another service, which would sample them all,
# are passed over); a reservoir-only rule (rate 0, ReservoirSize 4) samples exactly 4 in each
# second's burst once its quota comes; the counts the client reported are owld's
# GetSamplingStatisticSummaries; a forked child's poller starts at its first decision; owld
# away (a closed port, or one that never answers): the local default (1, then 5%) and nothing
# blocks, the shutdown included. The rate run is built with ThreadSanitizer when the machine
# can (no report allowed).
. "$(dirname "$0")/lib.sh"

CLIENT="$OWL_SRCDIR/client"
DRIVER="$OWL_SRCDIR/tests/integration/client_xray.c"
CC=${CC:-cc}
CURL_LIBS=$(pkg-config --libs libcurl zlib 2>/dev/null) || skip "no libcurl or zlib (pkg-config libcurl zlib)"

"$CC" -O1 -g -std=gnu11 -Wall -Wextra -Werror -I"$CLIENT" "$CLIENT"/*.c "$DRIVER" -pthread \
    $CURL_LIBS -o "$T/client_xray" 2>"$T/cc.err"
rc=$?
sed 's/^/# /' "$T/cc.err" | head -10
check_eq "the program builds from client/ alone" 0 $rc
[ "$rc" = 0 ] || bail "client_xray.c does not build"
RUN=$T/client_xray
echo 'int main(void) { return 0; }' >"$T/probe.c"
if "$CC" -fsanitize=thread "$T/probe.c" -o "$T/probe" 2>/dev/null && "$T/probe" 2>/dev/null; then
    "$CC" -fsanitize=thread -O1 -g -std=gnu11 -Wall -Wextra -Werror -I"$CLIENT" "$CLIENT"/*.c \
        "$DRIVER" -pthread $CURL_LIBS -o "$T/client_xray_tsan" 2>"$T/cc_tsan.err" &&
        RUN_TSAN=$T/client_xray_tsan
fi

start_owld || bail "owld starts"

# rule NAME PRIORITY RATE RESERVOIR PATH [SERVICE] [MORE MEMBERS] — CreateSamplingRule with the
# admin key (the client's service.name is xray-client)
rule() {
    admin POST /CreateSamplingRule --data-binary "{\"SamplingRule\":{\"RuleName\":\"$1\",
        \"ResourceARN\":\"*\",\"Priority\":$2,\"FixedRate\":$3,\"ReservoirSize\":$4,
        \"ServiceName\":\"${6:-xray-*}\",\"ServiceType\":\"*\",\"Host\":\"*\",\"HTTPMethod\":\"GET\",
        \"URLPath\":\"$5\",\"Version\":1${7:-}}}"
    check_eq "CreateSamplingRule $1" "200 $1" "$STATUS $(jget SamplingRuleRecord.SamplingRule.RuleName)"
}
RATE=0.3
rule with-attrs 1 1 0 '*' 'xray-*' ',"Attributes":{"tier":"gold"}'
rule by-rate 10 $RATE 0 '/rate/*'
rule burst 20 0 4 '/burst/*'
rule other-service 5 1 0 '*' someone-else

# ---- FixedRate over 2,000 roots ----
out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" "${RUN_TSAN:-$RUN}" rate "$BASE" "$ADMIN" \
    by-rate 2000 /rate/item 2>"$T/rate.err")
rc=$?
check_eq "2,000 roots on /rate/item ($out)" 0 "$rc"
sed 's/^/# /' "$T/rate.err" | head -30
[ -n "${RUN_TSAN:-}" ] && check "... under ThreadSanitizer, with no report" test ! -s "$T/rate.err"
SAMPLED=$(echo "$out" | awk '{print $2}')
read -r lo hi z < <("$PYTHON" -c "
import math; n, p, k = 2000, $RATE, ${SAMPLED:-0}
sd = math.sqrt(n * p * (1 - p)); print(int(n * p - 4 * sd), int(n * p + 4 * sd) + 1, '%.2f' % ((k - n * p) / sd))")
echo "# sampled $SAMPLED of 2000 at FixedRate $RATE: z = $z (bounds $lo..$hi)"
check "... the share within 4 sd of the binomial at $RATE (with-attrs and other-service, rate 1, passed over)" \
    test "${SAMPLED:-0}" -gt "$lo" -a "${SAMPLED:-0}" -lt "$hi"

# ---- the statistics the client reported at its shutdown ----
admin POST /SamplingStatisticSummaries
stat_of() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
for s in json.load(sys.stdin)["SamplingStatisticSummaries"]:
    if s["RuleName"] == sys.argv[1]:
        print(s["RequestCount"], s["SampledCount"], s["BorrowCount"])' "$1"
}
check_eq "GetSamplingStatisticSummaries: by-rate's requests and samples as the client counted" \
    "2000 $SAMPLED 0" "$(stat_of by-rate)"
check_eq "... nothing for the rule with attributes" "0 0 0" "$(stat_of with-attrs)"

# ---- a reservoir-only rule: 4 a second ----
out=$("$RUN" burst "$BASE" "$ADMIN" burst /burst/x 3 2>"$T/burst.err")
rc=$?
sed 's/^/# /' "$T/burst.err" | head -10
check_eq "rate 0, ReservoirSize 4: quota 4 from owld, exactly 4 in each second's burst of 200" \
    "0 quota 4 per-second 4 4 4" "$rc $out"
admin POST /SamplingStatisticSummaries
check_eq "... reported: 601 requests, 13 sampled (1 borrowed before the quota came)" \
    "601 13 1" "$(stat_of burst)"

# ---- fork: the child's poller starts at its first decision, with a client id of its own ----
rule forked 30 0 6 '/forked/*'
out=$("$RUN" fork "$BASE" "$ADMIN" forked /forked/x 2>"$T/fork.err")
rc=$?
sed 's/^/# /' "$T/fork.err" | head -10
check_eq "a forked child's poller fetches forked's quota (6) for it" "0 child quota 6" "$rc $out"

# ---- owld away: the local default, and nothing blocks ----
AWAY_PORT=$(free_port)
out=$("$RUN" away "http://127.0.0.1:$AWAY_PORT" 2000 2>"$T/away.err")
rc=$?
sed 's/^/# /' "$T/away.err" | head -10
echo "# owld away: $out"
read -r _ s _ start _ stop <<<"$out"
check_eq "owld away: 2,000 roots and the shutdown run ($out)" 0 "$rc"
# 1 + Binomial(1999, 0.05): 101 +- 4 sd (39)
check "... the local default: 1 a second then 5%" test "${s:-0}" -ge 62 -a "${s:-0}" -le 140
check "... the spans do not wait for owld (start ${start:-?} ms for 2,000)" test "${start:-9999}" -lt 1000
# owl_shutdown(2000): the sampler's thread stops at once; the exporter gives up sending the
# sampled spans at the deadline, a request in flight abandoned within a second of it
check "... nor does the shutdown (${stop:-?} ms)" test "${stop:-9999}" -lt 3500

# ---- owld hung (a port that takes connections and never answers): still nothing blocks ----
HUNG_PORT=$(free_port)
"$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); print("up", flush=True); time.sleep(120)' \
    "$HUNG_PORT" >"$T/hung.out" &
BG_PIDS+=($!)
for _ in $(seq 100); do grep -q up "$T/hung.out" 2>/dev/null && break; sleep 0.05; done
out=$("$RUN" away "http://127.0.0.1:$HUNG_PORT" 2000 2>"$T/hung.err")
rc=$?
read -r _ s _ start _ stop <<<"$out"
check_eq "owld hung: 2,000 roots and the shutdown run ($out)" 0 "$rc"
check "... the local default" test "${s:-0}" -ge 62 -a "${s:-0}" -le 140
check "... the shutdown abandons the hung fetch and send (${stop:-?} ms)" test "${stop:-9999}" -lt 3500
finish

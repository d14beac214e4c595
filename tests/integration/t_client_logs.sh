#!/bin/bash
# t_client_logs.sh — libowl's logs through its exporter to a real owld (tests/integration/
# client_logs.c, built from client/ alone as t_client_export.sh builds its program), in both
# protocols: owl_log in a span, owl_flush, then GET /api/v1/logs/events?group=/otel/<service>
# shows each line with its severity, its span's trace and span ids (an unsampled span's too)
# and a structured record's attributes. OWL_LOGS_PORT pins owld's port (default: a free one).
. "$(dirname "$0")/lib.sh"

CLIENT="$OWL_SRCDIR/client"
CC=${CC:-cc}
[ -n "${OWL_LOGS_PORT:-}" ] && free_port() { echo "$OWL_LOGS_PORT"; }
# line MESSAGE FIELD... — the fields (dotted paths into the event) of the event whose message
# is MESSAGE in $BODY, joined with '|' (absent: empty); "missing" when no event has it. Events
# of one millisecond come in no set order.
line() {
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
def get(d, path):
    for k in path.split("/"):
        d = d.get(k, "") if isinstance(d, dict) else ""
    return d
evs = [e for e in json.load(sys.stdin)["events"] if e["message"] == sys.argv[1]]
print("|".join(str(get(evs[0], p)) for p in sys.argv[2:]) if evs else "missing")' "$@"
}

SAN=
is_sanitized && SAN="-fsanitize=address,undefined"
"$CC" -O2 -g -std=gnu11 -Wall -Wextra -Werror $SAN -I"$CLIENT" "$CLIENT"/*.c \
    "$OWL_SRCDIR/tests/integration/client_logs.c" -pthread -lcurl -lz -o "$T/client" \
    2>"$T/cc.err"
check_eq "the instrumented program builds from client/ alone" 0 $?
sed 's/^/# /' "$T/cc.err" | head -10

start_owld || bail "owld starts"
for proto in http/protobuf http/json; do
    svc="logs-it-${proto#http/}"
    out=$("$T/client" "$BASE" "$ADMIN" "$svc" "$proto" 2>"$T/client.err")
    check_eq "$proto: the program exits 0" 0 $?
    sed 's/^/# /' "$T/client.err" | head -5
    read -r tid sid utid dropped flush_rc shutdown_rc <<<"$out"
    check_eq "$proto: owl_flush and owl_shutdown return 0, no log dropped" "0 0 0" \
        "$flush_rc $shutdown_rc $dropped"
    # owl_flush returned once owld answered: the events are stored
    admin GET "/api/v1/logs/events?group=%2Fotel%2F$svc"
    check_eq "$proto: GET /api/v1/logs/events?group=/otel/$svc: 200" 200 "$STATUS"
    check_eq "$proto: its 4 lines" 4 "$(jget len:events)"
    check_eq "$proto: a line before any span has no ids" "||INFO" \
        "$(line "before any span" trace_id span_id severity)"
    check_eq "$proto: a line in a span has its trace and span ids" "$tid|$sid|INFO" \
        "$(line "placing order 42" trace_id span_id severity)"
    check_eq "$proto: the structured record, its ids and attributes" \
        "$tid|$sid|WARN|ada|2|0.25|True|$svc" \
        "$(line "payment slow: 1500 ms" trace_id span_id severity attrs/attributes/user \
            attrs/attributes/attempt attrs/attributes/ratio attrs/attributes/retry \
            attrs/resource/service.name)"
    check_eq "$proto: an unsampled span's line keeps its trace id" "$utid|ERROR" \
        "$(line "in an unsampled span" trace_id severity)"
done
stop_owld
finish

#!/bin/bash
# t_xray_daemon.sh — owld as the X-Ray daemon: with --xray-daemon on a free loopback port, the
# machine's Python aws-xray-sdk fetches sampling rules and targets over its TCP port with the
# SDK's own connector and sends traces over UDP (xray_sdk.py); the npm aws-xray-sdk-core
# (pinned in tests/xray-node) sends three more; every sampled trace comes back whole through
# GET /api/v1/traces/{id} in the admin's tenant (tree, kinds, faults, annotations).
# Malformed datagrams (no header, bad JSON, a bad trace id, an oversized one) do not stop the
# reader: a good datagram after them is stored. A second owld asking for the same address
# explicitly refuses to start, naming it. SKIPs the Node part when node or the package is
# missing (cd tests/xray-node && npm ci).
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import aws_xray_sdk' 2>/dev/null || skip "python3 has no aws_xray_sdk"
XPORT=$(free_port)
XD=127.0.0.1:$XPORT
start_owld --xray-daemon "$XD" || bail "owld starts with --xray-daemon $XD"
check_contains "owld says where the daemon endpoint listens" "$(cat "$OWLD_LOG")" \
    "xray daemon: UDP and TCP $XD"

# trace ID N: every span of trace ID as "name/depth/status/kind" (annotations of the root)
trace() {
    admin GET "/api/v1/traces/$1"
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
s = d["spans"]
print(" ".join("%s/%d/%s/%s" % (x["name"], x["depth"], x["status"], x["kind"]) for x in s),
      json.dumps(s[0].get("annotations")), s[0].get("http", {}).get("status"))' 2>/dev/null
}
# wait_trace ID: the trace is readable within 5 s (UDP is read asynchronously)
wait_trace() {
    local deadline=$(($(now_ms) + 5000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        admin GET "/api/v1/traces/$1"
        [ "$STATUS" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

out=$(timeout 60 "$PYTHON" "$IT_DIR/xray_sdk.py" "$XD" 2>"$T/sdk.err")
echo "# python sdk: $out"
check_eq "python SDK: the sampling rules over TCP (its ServiceConnector)" \
    '[["Default", 10000, 0.05]] ["Default"]' \
    "$(printf '%s' "$out" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d["rules"]), json.dumps(d["targets"]))' 2>&1)"
sampled=$(printf '%s' "$out" | "$PYTHON" -c 'import json,sys; print(" ".join(t for t, s in json.load(sys.stdin)["traces"] if s))' 2>/dev/null)
check "python SDK: at least one trace sampled (reservoir 1/s)" test -n "$sampled"
for id in $sampled; do
    wait_trace "$id"
    check_eq "python SDK trace $id over UDP: segment, remote subsegment with the exception, nested local one" \
        'py-svc/0/fault/server db/1/fault/client parse/2/ok/internal {"order": 0} 500' \
        "$(trace "$id" | sed 's/{"order": [0-9]*}/{"order": 0}/')"
done

if command -v node >/dev/null && [ -d "$OWL_SRCDIR/tests/xray-node/node_modules/aws-xray-sdk-core" ]; then
    out=$(timeout 60 node "$OWL_SRCDIR/tests/xray-node/send.js" "$XD" 2>"$T/node.err")
    echo "# node sdk: $out"
    ids=$(printf '%s' "$out" | "$PYTHON" -c 'import json,sys; print(" ".join(t for t, s in json.load(sys.stdin) if s))' 2>/dev/null)
    check_eq "node SDK: three traces sent" 3 "$(echo $ids | wc -w)"
    for id in $ids; do
        wait_trace "$id"
        check_eq "node SDK trace $id over UDP" \
            'node-svc/0/fault/server work/1/ok/internal inventory.internal/2/fault/client {"order": 0} 502' \
            "$(trace "$id" | sed 's/{"order": [0-9]*}/{"order": 0}/')"
    done
else
    echo "# SKIP node part: node or tests/xray-node/node_modules missing (cd tests/xray-node && npm ci)"
fi

# malformed datagrams, then a good one
"$PYTHON" - "$XPORT" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a = ("127.0.0.1", int(sys.argv[1]))
h = b'{"format":"json","version":1}\n'
now = time.time()
for bad in (b'{"name":"x"}', h + b'{not json', h + json.dumps({"name": "x", "id": "1000000000000001", "trace_id": "1-zz", "start_time": now, "end_time": now}).encode(), h + b'{"name":"' + b'x' * 70000 + b'"}'):
    try:
        s.sendto(bad, a)
    except OSError:
        pass
good = {"name": "after-bad", "id": "2000000000000002", "trace_id": "1-%08x-%024x" % (int(now), 0xbad),
        "start_time": now, "end_time": now + 0.01}
s.sendto(h + json.dumps(good).encode(), a)
PY
GOOD=1-$(printf '%08x' "$(date +%s)")-$(printf '%024x' 2989)
wait_trace "$GOOD" || { sleep 1; GOOD=1-$(printf '%08x' $(($(date +%s) - 1)))-$(printf '%024x' 2989); wait_trace "$GOOD"; }
check_eq "a good datagram after four malformed ones is stored" 200 "$STATUS"
check_contains "the refusals are logged" "$(cat "$OWLD_LOG")" "xray daemon: a datagram refused"

# the same address, asked for explicitly by a second owld: it refuses to start
"$OWLD" --listen "127.0.0.1:$(free_port)" --data-dir "$T/data2" --xray-daemon "$XD" \
    >"$T/owld2.log" 2>&1 &
pid2=$!
for _ in $(seq 100); do alive "$pid2" || break; sleep 0.05; done
if alive "$pid2"; then kill "$pid2"; not_ok "a second owld on the same --xray-daemon address refuses to start"
else
    wait "$pid2"
    rc2=$?
    check "a second owld on the same --xray-daemon address refuses to start (exit $rc2)" test "$rc2" -ne 0
    check_contains "... naming the address" "$(cat "$T/owld2.log")" "$XD"
fi
finish

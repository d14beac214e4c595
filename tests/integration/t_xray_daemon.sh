#!/bin/bash
# t_xray_daemon.sh — owld as the X-Ray daemon: with --xray-daemon on a free loopback port, the
# machine's Python aws-xray-sdk fetches sampling rules and targets over its TCP port with the
# SDK's own connector and sends traces over UDP (xray_sdk.py); the npm aws-xray-sdk-core
# (pinned in tests/xray-node) sends three more; every sampled trace comes back whole through
# GET /api/v1/traces/{id} in the admin's tenant (tree, kinds, faults, annotations).
# Malformed datagrams (no header, bad JSON, a bad trace id, a 64 KiB one without an id) do not
# stop the reader: a good datagram after them is stored, and GET /metrics counts them. The
# sampling port's shapes and errors with curl (the reservoir shared by clients). A second owld
# asking for the same address explicitly refuses to start, naming it. A burst of datagrams
# followed at once by SIGTERM is stored whole before owld exits; restarted with
# --xray-daemon-tenant, the datagrams go to that tenant. With UDP 127.0.0.1:2000 held, owld
# on its default address warns and runs without the endpoint, and refuses to start when given
# that address explicitly. SKIPs the Node part when node or the
# package is missing (cd tests/xray-node && npm ci).
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import aws_xray_sdk' 2>/dev/null || skip "python3 has no aws_xray_sdk"
XPORT=$(free_port)
XD=127.0.0.1:$XPORT
start_owld --xray-daemon "$XD" || bail "owld starts with --xray-daemon $XD"
check_contains "owld says where the daemon endpoint listens" "$(cat "$OWLD_LOG")" \
    "xray daemon: UDP and TCP $XD"

# trace ID: every span of trace ID as "name/depth/status/kind", then the root's annotations,
# HTTP status and metadata, and the first exception message of the spans that have one
trace() {
    admin GET "/api/v1/traces/$1"
    printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
s = d["spans"]
print(" ".join("%s/%d/%s/%s" % (x["name"], x["depth"], x["status"], x["kind"]) for x in s),
      json.dumps(s[0].get("annotations")), s[0].get("http", {}).get("status"),
      json.dumps(s[0].get("metadata"), sort_keys=True),
      json.dumps([x["cause"]["exceptions"][0]["message"] for x in s if "cause" in x]))' 2>/dev/null
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
        'py-svc/0/fault/server db/1/fault/client parse/2/ok/internal {"order": N} 500 {"default": {"k": {"v": N}}} ["boom N"]' \
        "$(trace "$id" | sed -E 's/("order"|"v"): [0-9]+/\1: N/g; s/"boom [0-9]+"/"boom N"/')"
    # the AWS CLI's X-Ray commands return what the SDK sent over UDP
    if [ -x /usr/bin/aws ]; then
        AWS=/usr/bin/aws
        awsc xray batch-get-traces --trace-ids "$id"
        got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["Traces"][0]
d = json.loads(t["Segments"][0]["Document"])
print(d["name"], d.get("fault"), d["annotations"]["order"] >= 0, d["subsegments"][0]["name"],
      d["subsegments"][0]["namespace"], d["subsegments"][0]["subsegments"][0]["name"])' 2>&1)
        check_eq "... aws xray batch-get-traces gives the segment back as the SDK sent it" \
            "py-svc True True db remote parse" "$got"
        now=$(date +%s)
        awsc xray get-trace-summaries --start-time $((now - 600)) --end-time $((now + 60)) \
            --filter-expression 'service("py-svc") { fault } AND annotation.order >= 0'
        check_contains "... aws xray get-trace-summaries --filter-expression finds it" "$AWS_OUT" "$id"
    fi
done

if command -v node >/dev/null && [ -d "$OWL_SRCDIR/tests/xray-node/node_modules/aws-xray-sdk-core" ]; then
    out=$(timeout 60 node "$OWL_SRCDIR/tests/xray-node/send.js" "$XD" 2>"$T/node.err")
    echo "# node sdk: $out"
    ids=$(printf '%s' "$out" | "$PYTHON" -c 'import json,sys; print(" ".join(t for t, s in json.load(sys.stdin) if s))' 2>/dev/null)
    check_eq "node SDK: three traces sent" 3 "$(echo $ids | wc -w)"
    for id in $ids; do
        wait_trace "$id"
        check_eq "node SDK trace $id over UDP" \
            'node-svc/0/fault/server work/1/ok/internal inventory.internal/2/fault/client {"order": N} 502 {"default": {"k": {"v": N}}} ["down N"]' \
            "$(trace "$id" | sed -E 's/("order"|"v"): [0-9]+/\1: N/g; s/"down [0-9]+"/"down N"/')"
    done
else
    echo "# SKIP node part: node or tests/xray-node/node_modules missing (cd tests/xray-node && npm ci)"
fi

# malformed datagrams, then a good one (the script prints the good one's trace id)
GOOD=$("$PYTHON" - "$XPORT" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a = ("127.0.0.1", int(sys.argv[1]))
h = b'{"format":"json","version":1}\n'
now = time.time()
big = h + b'{"name":"' + b'x' * (65507 - len(h) - 12) + b'"}'  # UDP's largest; no id
for bad in (b'{"name":"x"}', h + b'{not json', h + json.dumps({"name": "x", "id": "1000000000000001", "trace_id": "1-zz", "start_time": now, "end_time": now}).encode(), big):
    s.sendto(bad, a)
good = {"name": "after-bad", "id": "2000000000000002", "trace_id": "1-%08x-%024x" % (int(now), 0xbad),
        "start_time": now, "end_time": now + 0.01}
s.sendto(h + json.dumps(good).encode(), a)
print(good["trace_id"])
PY
)
wait_trace "$GOOD"
check_eq "a good datagram after four malformed ones is stored" 200 "$STATUS"
check_contains "the refusals are logged" "$(cat "$OWLD_LOG")" "xray daemon: a datagram refused"
admin GET /metrics
check_contains "GET /metrics counts the four refused datagrams" "$BODY" \
    "owl_xray_daemon_refused_datagrams_total 4"
check "... and the spans stored" "$PYTHON" -c '
import re, sys
m = re.search(r"^owl_xray_daemon_spans_total (\d+)$", sys.argv[1], re.M)
sys.exit(not (m and int(m.group(1)) >= 4))' "$BODY"

# the sampling calls, without credentials (as the real daemon takes them), in X-Ray's shapes
http POST "http://$XD/GetSamplingRules"
r=SamplingRuleRecords.0.SamplingRule
check_eq "GetSamplingRules: X-Ray's default rule" '200 Default 10000 0.05 1 * * 1' \
    "$STATUS $(jget $r.RuleName) $(jget $r.Priority) $(jget $r.FixedRate) $(jget $r.ReservoirSize) $(jget $r.ServiceName) $(jget $r.URLPath) $(jget $r.Version)"
# stats CLIENT RULE... — a SamplingTargets body with one statistics document per rule
stats() {
    local c=$1 sep= r out='{"SamplingStatisticsDocuments":['
    shift
    for r in "$@"; do
        out="$out$sep{\"RuleName\":\"$r\",\"ClientID\":\"$c\",\"Timestamp\":$(date +%s),\"RequestCount\":5,\"SampledCount\":1,\"BorrowCount\":0}"
        sep=,
    done
    printf '%s]}' "$out"
}
# two clients ask back to back (the second while the first one's share is live: its TTL is
# 10 s), and the answers are read afterwards, so a loaded machine's slow checks cannot let
# the first share expire in between
http POST "http://$XD/SamplingTargets" --data-binary "$(stats 0123456789abcdef01234567 Default NoSuchRule)"
at1=$(date +%s) s1=$STATUS b1=$BODY
http POST "http://$XD/SamplingTargets" --data-binary "$(stats 76543210fedcba9876543210 Default)"
b2=$BODY
q1=$(jget SamplingTargetDocuments.0.ReservoirQuota "$b1")
ttl=$(( $(jget SamplingTargetDocuments.0.ReservoirQuotaTTL "$b1") - at1 ))
check_eq "SamplingTargets: the rule's target, the unknown rule unprocessed" \
    '200 Default 0.05 10 1 NoSuchRule' \
    "$s1 $(jget SamplingTargetDocuments.0.RuleName "$b1") $(jget SamplingTargetDocuments.0.FixedRate "$b1") $(jget SamplingTargetDocuments.0.Interval "$b1") $(jget len:SamplingTargetDocuments "$b1") $(jget UnprocessedStatistics.0.RuleName "$b1")"
check "... its quota lasts 10 s from the answer (TTL - answer time = $ttl)" test "$ttl" -ge 8 -a "$ttl" -le 11
q2=$(jget SamplingTargetDocuments.0.ReservoirQuota "$b2")
check "the reservoir (1/s) is shared: two clients' quotas ($q1, $q2) add up to at most 1" \
    test $((q1 + q2)) -le 1
http POST "http://$XD/SamplingTargets" --data-binary '{"SamplingStatisticsDocuments":[{"RuleName":"Default"}]}'
check_eq "a statistics document without ClientID: 400 InvalidRequestException naming it" \
    "400 InvalidRequestException yes" \
    "$STATUS $(jget __type) $(case "$(jget message)" in *"[0].ClientID"*) echo yes ;; esac)"
http POST "http://$XD/SamplingTargets" --data-binary 'not json'
check_eq "a body that is not JSON: 400" "400 InvalidRequestException" "$STATUS $(jget __type)"
http GET "http://$XD/"
check_eq "anything else on the port: 404" "404 UnknownOperationException" "$STATUS $(jget __type)"

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

# a burst, SIGTERM as soon as it is sent (the reader is still at it): owld stores what the
# socket holds before it exits
BURST=500
"$PYTHON" - "$XPORT" "$BURST" "$OWLD_PID" <<'PY'
import json, os, signal, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
now = time.time()
for i in range(int(sys.argv[2])):
    doc = {"name": "burst", "id": "%016x" % (0x3000000000000000 + i),
           "trace_id": "1-%08x-%024x" % (int(now), 0xb0000 + i), "start_time": now,
           "end_time": now + 0.001}
    s.sendto(b'{"format":"json","version":1}\n' + json.dumps(doc).encode(), ("127.0.0.1", int(sys.argv[1])))
os.kill(int(sys.argv[3]), signal.SIGTERM)
PY
stop_owld TERM
check_eq "owld stops on SIGTERM (exit 0)" 0 "$OWLD_RC"
check_contains "... and says what the daemon endpoint got" "$(cat "$OWLD_LOG")" "xray daemon: "

# burst_count KEY — traces of service "burst" the key's tenant holds (every page)
burst_count() {
    "$PYTHON" - "$BASE" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
base, key = sys.argv[1], sys.argv[2]
ids, token = set(), None
for _ in range(100):
    q = {"service": "burst", "limit": "1000"}
    if token:
        q["next_token"] = token
    req = urllib.request.Request(base + "/api/v1/traces?" + urllib.parse.urlencode(q),
                                 headers={"Authorization": "Bearer " + key})
    d = json.load(urllib.request.urlopen(req, timeout=20))
    ids.update(t["traceId"] for t in d["traces"])
    token = d.get("nextToken")
    if not token:
        break
print(len(ids))
PY
}

# restarted with the daemon's spans going to another tenant
start_owld --xray-daemon "$XD" --xray-daemon-tenant 000000000077 ||
    bail "owld restarts with --xray-daemon-tenant"
check_eq "every datagram of the burst sent before SIGTERM was stored" "$BURST" \
    "$(burst_count "$ADMIN" 2>&1)"
create_key "$ADMIN" '["*"]' 000000000077
[ -n "$NEW_KEY" ] || bail "a key of tenant 000000000077"
"$PYTHON" - "$XPORT" <<'PY'
import json, socket, sys, time
now = time.time()
doc = {"name": "burst", "id": "4000000000000004", "trace_id": "1-%08x-%024x" % (int(now), 0x77),
       "start_time": now, "end_time": now + 0.001}
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
    b'{"format":"json","version":1}\n' + json.dumps(doc).encode(), ("127.0.0.1", int(sys.argv[1])))
PY
deadline=$(($(now_ms) + 5000))
while [ "$(burst_count "$NEW_KEY" 2>/dev/null)" != 1 ] && [ "$(now_ms)" -lt "$deadline" ]; do
    sleep 0.1
done
check_eq "--xray-daemon-tenant: the tenant's key sees the trace" 1 "$(burst_count "$NEW_KEY" 2>&1)"
check_eq "... and the admin's tenant does not get it" "$BURST" "$(burst_count "$ADMIN" 2>&1)"
stop_owld TERM

# the default address busy (UDP 127.0.0.1:2000 held here): owld warns and runs without the
# endpoint; the same address given explicitly stops it from starting. Checked only when this
# test could hold the port (someone else's daemon may have it, and then may let it go).
"$PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("127.0.0.1", 2000))
except OSError:
    print("busy", flush=True)
    sys.exit()
print("held", flush=True)
time.sleep(60)' >"$T/holder" &
holder=$!
for _ in $(seq 100); do [ -s "$T/holder" ] && break; sleep 0.05; done
if [ "$(cat "$T/holder")" = held ]; then
    XRAY_DAEMON_DEFAULT=1 start_owld || bail "owld starts with the default daemon address busy"
    check_contains "the default address busy: a warning" "$(cat "$OWLD_LOG")" \
        "xray daemon: not listening on 127.0.0.1:2000"
    check_not_contains "... and no endpoint" "$(cat "$OWLD_LOG")" "xray daemon: UDP and TCP"
    stop_owld TERM
    "$OWLD" --listen "127.0.0.1:$(free_port)" --data-dir "$T/data3" --xray-daemon 127.0.0.1:2000 \
        >"$T/owld3.log" 2>&1 &
    pid3=$!
    for _ in $(seq 100); do alive "$pid3" || break; sleep 0.05; done
    if alive "$pid3"; then kill "$pid3"; not_ok "--xray-daemon 127.0.0.1:2000 given and busy: owld does not start"
    else
        wait "$pid3"
        rc3=$?
        check "--xray-daemon 127.0.0.1:2000 given and busy: owld does not start (exit $rc3)" \
            test "$rc3" -ne 0
        check_contains "... naming the address" "$(cat "$T/owld3.log")" "--xray-daemon 127.0.0.1:2000"
    fi
else
    echo "# SKIP default-address checks: UDP 127.0.0.1:2000 is held by another process"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
finish

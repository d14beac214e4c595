#!/bin/bash
# t_zipkin.sh — Zipkin's JS tracer and HTTP transport (zipkin and zipkin-transport-http 0.22,
# pinned in tests/zipkin-node; send.js): a client span and the server half sharing its span
# id, each from its own recorder, and a local child of the server, posted as JSON v2 to owld's
# /api/v2/spans; the trace comes back whole through GET /api/v1/traces/{id}: the server half
# under the client half, the child under the server, the server's error tag a fault, the
# tags, the annotation as an event, the endpoints. SKIPs when node or the packages are missing.
. "$(dirname "$0")/lib.sh"

ZDIR="$OWL_SRCDIR/tests/zipkin-node"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
[ -d "$ZDIR/node_modules/zipkin-transport-http" ] ||
    skip "tests/zipkin-node/node_modules is missing (cd tests/zipkin-node && npm ci)"
start_owld || bail "owld starts"

out=$(timeout 60 node "$ZDIR/send.js" "$BASE/api/v2/spans" "$ADMIN" 2>"$T/node.err")
rc=$?
echo "# zipkin: $out"
check_eq "zipkin-transport-http posts every span (202)" 0 "$rc"
id=$(jget traceId "$out")
admin GET "/api/v1/traces/$id"
check_eq "the trace $id (a 128-bit id) is found" 200 "$STATUS"
got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(d["spanCount"], " ".join("%s:%s:%s:%d:%s" % (x["service"], x["name"], x["kind"], x["depth"],
                                                    x["status"]) for x in d["spans"]))' 2>&1)
check_eq "client, its server half, the server's local child; the error tag a fault" \
    "3 zclient:get /items:client:0:ok zserver:get /items:server:1:fault zserver:load:internal:2:ok" "$got"
got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
c, s, l = json.load(sys.stdin)["spans"]
print(c["peerService"], c["zipkin"]["remote_endpoint"]["ipv4"], c["attributes"]["http.path"],
      s["attributes"]["error"], [e["name"] for e in s["events"]], s["zipkin"]["remote_endpoint"]["ipv4"],
      s["spanId"] == c["spanId"], l["parentSpanId"] == s["spanId"], l["durationNanos"] > 0)' 2>&1)
check_eq "... peer, endpoints, tags, the annotation as an event, shared id, the child's parent" \
    "zserver 127.0.0.2 /items backend timeout ['cache miss'] 127.0.0.1 True True True" "$got"
finish

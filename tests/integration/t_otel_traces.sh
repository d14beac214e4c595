#!/bin/bash
# t_otel_traces.sh — the OpenTelemetry JS SDK's two OTLP/HTTP trace exporters (JSON and
# protobuf, pinned in tests/otel/package-lock.json; tests/otel/traces.mjs) in two small node
# HTTP services calling each other on loopback with W3C traceparent propagation: each trace
# (its spans exported one by one, from two services) comes back whole through
# GET /api/v1/traces/{id}: the tree across both services (server -> client -> server ->
# internal -> db client) with orders' server span under the span id of the traceparent front
# sent, kinds, depths, the fault of a 500 with its exception event, status code and message,
# the http members, the event, the link, attributes and resources; and the AWS CLI's
# `aws xray batch-get-traces` and `get-trace-summaries --filter-expression` return it. SKIPs
# when node or the packages are missing.
. "$(dirname "$0")/lib.sh"

OTEL_DIR="$OWL_SRCDIR/tests/otel"
AWS=/usr/bin/aws
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
[ -d "$OTEL_DIR/node_modules/@opentelemetry/exporter-trace-otlp-proto" ] &&
    [ -d "$OTEL_DIR/node_modules/@opentelemetry/sdk-trace-base" ] ||
    skip "tests/otel/node_modules lacks the trace packages (cd tests/otel && npm ci)"
start_owld || bail "owld starts"

for mode in json proto; do
    out=$(timeout 60 node "$OTEL_DIR/traces.mjs" "$BASE/v1/traces" "$ADMIN" "$mode" 2>"$T/node.$mode.err")
    rc=$?
    echo "# $mode: $out" | cut -c1-300
    check_eq "the $mode trace exporters' exports all succeed" 0 "$rc"
    for fail in false true; do
        id=$(printf '%s' "$out" | "$PYTHON" -c "
import json, sys
print([t['traceId'] for t in json.load(sys.stdin)['traces'] if t['fail'] == $([ $fail = true ] && echo True || echo False)][0])" 2>/dev/null)
        admin GET "/api/v1/traces/$id"
        check_eq "$mode trace $id (fail=$fail) is found" 200 "$STATUS"
        got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
s = d["spans"]
print(d["spanCount"], " ".join("%s:%s:%s:%d:%s" % (x["service"].split("-")[0], x["name"], x["kind"], x["depth"], x["status"]) for x in s))' 2>&1)
        if [ "$fail" = false ]; then
            want="5 front:GET /checkout:server:0:ok front:GET:client:1:ok orders:GET /orders:server:2:ok orders:load-cart:internal:3:ok orders:SELECT carts:client:4:ok"
        else
            want="5 front:GET /checkout:server:0:fault front:GET:client:1:fault orders:GET /orders:server:2:fault orders:load-cart:internal:3:ok orders:SELECT carts:client:4:ok"
        fi
        check_eq "... the tree across both services, kinds and statuses" "$want" "$got"
        got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
by = {x["name"]: x for x in d["spans"]}
o, w, db, c = by["GET /orders"], by["load-cart"], by["SELECT carts"], by["GET"]
ev = [e["name"] for e in o.get("events", [])]
print(o["resource"]["service.name"].startswith("orders-"),
      o["http"].get("route"), c.get("peerService", "").startswith("orders-"),
      o["links"][0]["trace_id"] == "0af7651916cd43dd8448eb211c80319c",
      [e["name"] for e in w.get("events", [])] == ["cart loaded"],
      db.get("peerService"), db["attributes"]["db.system"], "exception" in ev,
      o["scope"]["name"])' 2>&1)
        if [ "$fail" = false ]; then exc=False; else exc=True; fi
        check_eq "... resource, route, peer service, link, event, db peer, exception event, scope" \
            "True /orders True True True postgresql:shop postgresql $exc orders" "$got"
        # the link across the services is the one W3C propagation carried: orders' server
        # span is the child of the span id in the traceparent front sent, in front's trace
        tp=$(printf '%s' "$out" | "$PYTHON" -c "
import json, sys
print([t['traceparent'] for t in json.load(sys.stdin)['traces'] if t['traceId'] == '$id'][0])" 2>/dev/null)
        got=$(printf '%s' "$BODY" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
_, tid, psid, _ = sys.argv[1].split("-")
by = {x["name"]: x for x in d["spans"]}
c, o = by["GET"], by["GET /orders"]
print(d["traceId"] == tid, d["truncated"], len(d["services"]), c["spanId"] == psid,
      o["parentSpanId"] == psid, o["http"]["method"], o["http"]["status"], c["http"]["status"],
      by["GET /checkout"]["http"]["status"], o["statusCode"], o.get("statusMessage"),
      sorted(o["attributes"]), "parentSpanId" in by["GET /checkout"])' "$tp" 2>&1)
        if [ "$fail" = false ]; then
            want="True False 2 True True GET 200 200 200 0 None"
        else
            want="True False 2 True True GET 500 500 502 2 inventory unavailable"
        fi
        check_eq "... traceparent's trace and parent ids, http members, status code and message, attributes" \
            "$want ['http.request.method', 'http.response.status_code', 'http.route', 'url.full'] False" "$got"
        # the AWS CLI's X-Ray commands return the same trace (its X-Ray form)
        if [ -x "$AWS" ]; then
            xid="1-${id:0:8}-${id:8}"
            awsc xray batch-get-traces --trace-ids "$xid"
            got=$(printf '%s' "$AWS_OUT" | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["Traces"]
docs = [json.loads(s["Document"]) for s in t[0]["Segments"]] if t else []
def count(n):
    return 1 + sum(count(s) for s in n.get("subsegments", []))
print(len(t), sum(count(d) for d in docs), sorted(d["name"] for d in docs))' 2>&1)
            check_eq "... aws xray batch-get-traces $xid: 5 spans in 2 segments" \
                "1 5 ['front-$mode', 'orders-$mode']" "$got"
            now=$(date +%s)
            awsc xray get-trace-summaries --start-time $((now - 600)) --end-time $((now + 60)) \
                --filter-expression "service(\"orders-$mode\") AND fault = $fail"
            check_contains "... aws xray get-trace-summaries --filter-expression finds it" "$AWS_OUT" "$xid"
        fi
    done
done
finish

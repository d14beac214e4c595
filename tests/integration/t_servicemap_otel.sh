#!/bin/bash
# t_servicemap_otel.sh — the service map, root cause and bottlenecks of a five-service shop
# instrumented with the OpenTelemetry JS SDK (pinned in tests/otel/package-lock.json): each
# service its own node process, TracerProvider and OTLP/HTTP exporter (JSON or protobuf),
# calling the others over real HTTP on loopback with W3C traceparent propagation
# (tests/otel/servicemap.mjs):
#   frontend -> catalog, orders;  orders -> inventory, payments;  payments -> postgresql
# with payments failing every 5th request with a 500 (orders answers 500, frontend 502),
# catalog answering 404 to every 10th, inventory's GET /stock slowed by 150 ms.
# tests/integration/servicemap_otel.py checks, from the figures the services report: the
# traces cross the processes as propagated; GET /api/v1/servicemap (with a filter at once,
# without one polled until the per-minute statistics hold the database edge) has exactly the
# five services, the database and the five edges with the request, error and fault counts
# sent; rootcause names payments' POST /charge first; bottlenecks inventory's GET /stock;
# the DOT renders with `dot -Tsvg` and no warning; format=svg names the nodes; the AWS CLI's
# `aws xray get-service-graph` has the same edges. SKIPs when node, the packages or dot are
# missing.
. "$(dirname "$0")/lib.sh"

OTEL_DIR="$OWL_SRCDIR/tests/otel"
REQUESTS=150     # frontend requests: 30 payments faults, 15 catalog 404s
CONCURRENCY=10   # at a time: ~3 s for 150 requests of ~160 ms
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
for p in api core resources sdk-trace-base exporter-trace-otlp-http exporter-trace-otlp-proto; do
    [ -d "$OTEL_DIR/node_modules/@opentelemetry/$p" ] ||
        skip "tests/otel/node_modules lacks @opentelemetry/$p (cd tests/otel && npm ci)"
done
[ -x /usr/bin/dot ] || skip "/usr/bin/dot is not installed (apt-get install graphviz)"
CREDS=-

# the database edge (a client span no server answers) is counted once the pairing cache gives
# up waiting for a callee: a shorter TTL than the default 30 s keeps the test short
start_owld --service-graph-ttl 5 || bail "owld starts"
[ -x /usr/bin/aws ] && CREDS=$DATA/aws-credentials

timeout 60 node "$OTEL_DIR/servicemap.mjs" "$BASE/v1/traces" "$ADMIN" "$REQUESTS" "$CONCURRENCY" \
    >"$T/driver.json" 2>"$T/driver.err"
rc=$?
check_eq "servicemap.mjs: five services served $REQUESTS requests and exported their spans" 0 "$rc"
[ "$rc" = 0 ] || { head -c 600 "$T/driver.json"; sed 's/^/# /' "$T/driver.err" | head -20; }
[ -s "$T/driver.json" ] || bail "servicemap.mjs printed its record"
run_py servicemap_otel.py "$IT_DIR/servicemap_otel.py" "$PORT" "$ADMIN" "$T/driver.json" \
    "$CREDS" "$T"
finish

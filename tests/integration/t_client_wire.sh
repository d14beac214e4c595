#!/bin/bash
# t_client_wire.sh — issue 16's wire compatibility: the same telemetry (spans, logs, metrics of
# service "wire") made by the OpenTelemetry JS SDK (tests/otel/wire.mjs, its protobuf and JSON
# OTLP/HTTP exporters) and by libowl (tests/integration/wire_compat.c, protocol http/protobuf
# then http/json), each sent to a capture endpoint of its own over real HTTP; then every
# captured body decoded with owld's decoders and the records compared field by field after
# the normalisation wire_compat prints (docs/client.md "Wire compatibility"). SKIPs when node
# or the pinned packages are missing.
. "$(dirname "$0")/lib.sh"

OTEL_DIR="$OWL_SRCDIR/tests/otel"
WIRE="$OWL_BUILDDIR/tests/integration/wire_compat"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
for p in api api-logs resources sdk-trace-base sdk-logs sdk-metrics exporter-trace-otlp-http \
    exporter-trace-otlp-proto exporter-logs-otlp-http exporter-logs-otlp-proto \
    exporter-metrics-otlp-http exporter-metrics-otlp-proto; do
    [ -d "$OTEL_DIR/node_modules/@opentelemetry/$p" ] ||
        skip "tests/otel/node_modules lacks @opentelemetry/$p (cd tests/otel && npm ci)"
done
[ -x "$WIRE" ] || bail "$WIRE is built (make check builds it)"

mkdir -p "$T/cap"
timeout 60 node "$OTEL_DIR/wire.mjs" "$T/cap" >"$T/node.out" 2>"$T/node.err"
check_eq "wire.mjs: the JS SDK's six exports answered ($(cat "$T/node.out"))" 0 $?
sed 's/^/# /' "$T/node.err" | head -10
for enc in proto json; do
    timeout 60 "$WIRE" export "$T/cap" "$enc" >"$T/owl-$enc.out" 2>&1
    check_eq "libowl exports in $enc ($(tr '\n' ' ' <"$T/owl-$enc.out"))" 0 $?
done
echo "# captured: $(cd "$T/cap" && ls ./*.body | tr '\n' ' ')"

timeout 60 "$WIRE" compare "$T/cap" >"$T/compare.out" 2>&1
rc=$?
sed 's/^/# /' "$T/compare.out"
check_eq "owld decodes the same records from libowl and the JS SDK, in both encodings" 0 "$rc"
finish

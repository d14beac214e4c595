#!/bin/bash
# bench/datasets/selfcheck.sh — runs each data set generator once at a small size and checks
# its output, then loads it into the peer that later benchmarks will compare owl with: Loghub
# lines (loghub.py: line count, the needle exactly once, same bytes for the same seed), spans
# (spans.py: valid JSON, fresh ids, parents inside their trace, both outputs agree; loaded into
# ClickHouse's spans table), metrics (metrics.py: 1,000 series x 10 combinations; imported into
# VictoriaMetrics, which must then hold 10,000 time series with the generator's values), and
# Prometheus loading a rule file and evaluating it. Everything it starts is stopped on exit.
# Exit 0 when every check passes, 1 otherwise; prints the peers' versions.
#
# Usage: bench/datasets/selfcheck.sh [--data DIR]   (default: $OWL_BENCH_DATA, else <repo>/../shared/data)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DATA=${OWL_BENCH_DATA:-$SRCDIR/../shared/data}
CPU=
while [ $# -gt 0 ]; do
    case "$1" in
    --data) DATA=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --quick) ;;  # bench/run passes it; the check is always small
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

BENCH_NAME=selfcheck
# shellcheck source=bench/lib.sh
. "$SRCDIR/bench/lib.sh"
for t in python3 curl cmp; do command -v $t >/dev/null || die "$t is needed"; done
bench_tmpdir
D=$SRCDIR/bench/datasets
ok() { echo "  ok: $*"; }
kv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2"; }

# ---- Loghub lines ----
for r in 1 2; do
    python3 "$D/loghub.py" --data "$DATA/loghub" --out "$T/lines$r.log" --lines 20000 --vary \
        --needle owlselfcheck7 >"$T/lines$r.out" || die "loghub.py failed"
done
[ "$(kv lines "$T/lines1.out")" = 20000 ] && [ "$(wc -l <"$T/lines1.log")" = 20000 ] || die "loghub.py: not 20000 lines"
[ "$(grep -c owlselfcheck7 "$T/lines1.log")" = 1 ] || die "loghub.py: the needle is not on exactly one line"
cmp -s "$T/lines1.log" "$T/lines2.log" || die "loghub.py: two runs with the same seed differ"
ok "loghub.py: 20000 lines, needle once, deterministic"

# ---- spans ----
for r in 1 2; do
    python3 "$D/spans.py" --data "$DATA" --spans 20000 --zipkin "$T/zipkin$r.jsonl" --rows "$T/rows$r.jsonl" \
        >"$T/spans$r.out" || die "spans.py failed"
done
cmp -s "$T/zipkin1.jsonl" "$T/zipkin2.jsonl" && cmp -s "$T/rows1.jsonl" "$T/rows2.jsonl" ||
    die "spans.py: two runs with the same seed differ"
SPANS=$(kv spans "$T/spans1.out")
TRACES=$(kv traces "$T/spans1.out")
python3 - "$T/zipkin1.jsonl" "$T/rows1.jsonl" "$SPANS" "$TRACES" <<'PY' || die "spans.py: output check failed"
import json, re, sys
zf, rf, nspans, ntraces = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
hex32, hex16 = re.compile(r"^[0-9a-f]{32}$"), re.compile(r"^[0-9a-f]{16}$")
z = [json.loads(l) for l in open(zf)]
r = [json.loads(l) for l in open(rf)]
assert len(z) == len(r) == nspans, (len(z), len(r), nspans)
traces = {}
for s in z:
    assert hex32.match(s["traceId"]) and hex16.match(s["id"]), s
    assert "parentId" not in s or hex16.match(s["parentId"]), s
    traces.setdefault(s["traceId"], []).append(s)
assert len(traces) == ntraces, (len(traces), ntraces)
orphans = 0
for spans in traces.values():
    ids = {s["id"] for s in spans}
    orphans += sum(1 for s in spans if s.get("parentId") and s["parentId"] not in ids)
    assert sum(1 for s in spans if "parentId" not in s) <= 1 or len(spans) == 1, "several roots"
# only messaging2.json has parents outside its trace (6 of 11 spans)
assert orphans % 6 == 0, orphans
for a, b in zip(z, r):
    assert a["traceId"] == b["trace_id"] and a["id"] == b["span_id"], (a, b)
    assert b["parent_span_id"] == a.get("parentId", ""), (a, b)
    if "timestamp" in a:
        assert b["start_ns"] // 1000 == a["timestamp"], (a, b)
    assert b["status"] in ("ok", "error", "fault", "throttle"), b
print("  ok: spans.py: %d spans in %d traces, ids fresh and well-formed, %d orphan parents "
      "(messaging2.json's), both outputs agree, deterministic" % (nspans, ntraces, orphans))
PY

# ---- metrics ----
START_MS=$((($(date +%s) - 3600) * 1000))  # within every peer's retention
python3 "$D/metrics.py" --out "$T/metrics.prom" --format prom --points 6 --start "$START_MS" \
    >"$T/metrics.out" || die "metrics.py failed"
python3 "$D/metrics.py" --out "$T/metrics.json" --format vmjson --points 6 --start "$START_MS" \
    >"$T/metrics2.out" || die "metrics.py failed"
[ "$(kv timeseries "$T/metrics.out")" = 10000 ] || die "metrics.py: not 10000 time series"
[ "$(wc -l <"$T/metrics.prom")" = 60000 ] && [ "$(wc -l <"$T/metrics.json")" = 10000 ] ||
    die "metrics.py: wrong line counts"
END_S=$(($(kv end_ms "$T/metrics.out") / 1000))
ok "metrics.py: 1000 series x 10 combinations = 10000 time series, 6 points each, prom and vmjson"

# ---- peers ----
CH_DIR=$T/clickhouse
bench_peer_start clickhouse "$CH_DIR"
"$SRCDIR/bench/peers/clickhouse" schema spans | while read -r q; do ch "$q" >/dev/null; done
"$SRCDIR/bench/peers/clickhouse" insert "$CH_DIR" spans_in JSONEachRow "$T/rows1.jsonl" || die "ClickHouse spans insert failed"
read -r n nt < <(ch "SELECT count(), uniqExact(trace_id) FROM spans FORMAT TabSeparated")
[ "$n" = "$SPANS" ] && [ "$nt" = "$TRACES" ] || die "ClickHouse spans: $n rows / $nt traces, expected $SPANS / $TRACES"
first=$(ch "SELECT lower(hex(trace_id)), lower(hex(span_id)) FROM spans WHERE parent_span_id = toFixedString('', 8) ORDER BY start_ns LIMIT 1 FORMAT TabSeparated")
grep -q "\"trace_id\":\"${first%%$'\t'*}\",\"span_id\":\"${first##*$'\t'}\",\"parent_span_id\":\"\"" "$T/rows1.jsonl" ||
    die "ClickHouse spans: ids do not round-trip ($first)"
ok "ClickHouse spans table: $n spans, $nt traces, ids round-trip through FixedString"

VM_DIR=$T/victoria-metrics
bench_peer_start victoria-metrics "$VM_DIR"
VM=http://127.0.0.1:$PEER_PORT
code=$(curl -s -o "$T/vm.out" -w '%{http_code}' "$VM/api/v1/import/prometheus" --data-binary "@$T/metrics.prom")
[ "$code" = 204 ] || { cat "$T/vm.out" >&2; die "VictoriaMetrics import answered $code"; }
curl -sf "$VM/internal/force_flush" >/dev/null || die "VictoriaMetrics force_flush failed"
python3 - "$VM" "$END_S" "$T/metrics.json" <<'PY' || die "VictoriaMetrics check failed"
import json, sys, time, urllib.parse, urllib.request
vm, end, vmjson = sys.argv[1], sys.argv[2], sys.argv[3]
def query(q):
    u = "%s/api/v1/query?%s" % (vm, urllib.parse.urlencode({"query": q, "time": end}))
    return json.load(urllib.request.urlopen(u, timeout=30))["data"]["result"]
for _ in range(50):  # the search cache may lag the flush by a moment
    res = query('count({env="prod"})')
    if res and res[0]["value"][1] == "10000":
        break
    time.sleep(0.2)
assert res and res[0]["value"][1] == "10000", res
want = json.loads(open(vmjson).readline())
m = want["metric"]
sel = '%s{service="%s",instance="%s",zone="%s"}' % (m["__name__"], m["service"], m["instance"], m["zone"])
got = float(query(sel)[0]["value"][1])
assert abs(got - want["values"][-1]) <= 1e-6 * max(1, abs(got)), (got, want["values"][-1])
print("  ok: VictoriaMetrics holds 10000 time series; %s = %s as in the vmjson output" % (sel, got))
PY

PROM_DIR=$T/prometheus
mkdir -p "$PROM_DIR/rules"
cat >"$PROM_DIR/rules/selfcheck.yml" <<'YML'
groups:
  - name: selfcheck
    interval: 1s
    rules:
      - record: selfcheck:vector:count
        expr: count(vector(1))
      - alert: SelfcheckAlwaysFiring
        expr: vector(1) > 0
YML
bench_peer_start prometheus "$PROM_DIR"
python3 - "http://127.0.0.1:$PEER_PORT" <<'PY' || die "Prometheus rule check failed"
import json, sys, time, urllib.request
base = sys.argv[1]
for _ in range(100):
    groups = json.load(urllib.request.urlopen(base + "/api/v1/rules", timeout=10))["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    if len(rules) == 2 and all(r.get("health") == "ok" for r in rules) and \
            any(r.get("state") == "firing" for r in rules):
        break
    time.sleep(0.1)
assert len(rules) == 2 and all(r.get("health") == "ok" for r in rules), rules
print("  ok: Prometheus loaded and evaluated the rule file (recording + alerting rule, health ok)")
PY

VERSIONS="$("$SRCDIR/bench/peers/clickhouse" version "$CH_DIR"), $("$SRCDIR/bench/peers/victoria-metrics" version "$VM_DIR"), $("$SRCDIR/bench/peers/prometheus" version "$PROM_DIR")"
echo "selfcheck: ok; peers ran: $VERSIONS"
echo "PEERS	$VERSIONS"

"""servicemap_otel.py — the checks of t_servicemap_otel.sh on what tests/otel/servicemap.mjs
sent (five services in five node processes, OpenTelemetry JS SDK, W3C propagation over real
HTTP): every expected figure is computed from the driver's record of what each service
served, failed and exported, none is written down here.

  servicemap_otel.py PORT BEARER DRIVER_JSON AWS_CREDENTIALS|- TMPDIR

1. the traces: each request's trace is whole (one span per server, client and database call
   the topology makes), its tree crosses the processes as the traceparent headers made it
   (each callee's server span is the child of its caller's client span, whose url.full names
   the callee's route), statuses as the services answered; GET /api/v1/traces finds them all.
2. GET /api/v1/servicemap with a filter (computed from the stored traces at once): exactly the
   five services and the database, exactly the five edges, request / error / fault counts as
   sent; `fault = true` gives the faulty traces' map.
3. the same map without a filter (the per-minute statistics kept at ingest), polled until it
   is whole (at most 60 s: the database edge is counted once the pairing cache has waited its
   TTL, owld's --service-graph-ttl, for a callee that never comes).
4. GET /api/v1/rootcause: faults[0] is payments' failing operation with its exception;
   errors[0] catalog's 404s. GET /api/v1/bottlenecks: overall[0] is inventory's slowed one.
5. format=dot renders with `dot -Tsvg` and nothing on stderr; format=svg is an SVG naming
   every node.
6. `aws xray get-service-graph`: the same edges with the same counts."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from owltest import check, failures, note

PORT, BEARER, DRIVER, CREDS, TMP = sys.argv[1:6]
BASE = "http://127.0.0.1:%d" % int(PORT)
POLL_S = float(os.environ.get("SERVICEMAP_POLL_S", "60"))
SLOW_MS = 150  # inventory's GET /stock sleep in servicemap.mjs

with open(DRIVER) as f:
    run = json.load(f)
SVC = run["services"]        # name -> served, errors, faults, spans, exports
CALLS = run["calls"]         # name -> its callees, in call order
ROUTES = run["routes"]       # name -> "METHOD /route", its server span's name
DBS = run["databases"]       # name -> {span, system, name}: its database client span
REQS = run["requests"]       # per request: traceId, spanId (frontend's server span), status
N = len(REQS)
ROOT = "frontend"
# a window covering the run, whole minutes either side (the statistics are per minute)
START = (run["startMs"] // 60000 - 1) * 60000
END = (run["endMs"] // 60000 + 2) * 60000


def get(path, **params):
    """GET path?params with the bearer key: (status, content-type, body bytes)."""
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    req = urllib.request.Request(BASE + path + ("?" + q if q else ""),
                                 headers={"Authorization": "Bearer " + BEARER})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()
    except OSError as e:
        return 0, "", str(e).encode()


def get_json(path, **params):
    st, _, body = get(path, **params)
    try:
        return st, json.loads(body)
    except ValueError:
        return st, {"_body": body[:300].decode(errors="replace")}


# ---- 1. the traces ------------------------------------------------------------------------

def expected_tree(service, depth):
    """The spans one request makes below (and with) service's server span, in tree order, as
    service:name:kind:depth strings."""
    out = ["%s:%s:server:%d" % (service, ROUTES[service], depth)]
    for callee in CALLS[service]:
        out.append("%s:%s:client:%d" % (service, ROUTES[callee].split()[0], depth + 1))
        out += expected_tree(callee, depth + 2)
    if service in DBS:
        out.append("%s:%s:client:%d" % (service, DBS[service]["span"], depth + 1))
    return out


TREE = expected_tree(ROOT, 0)
note("%d requests; each trace: %s" % (N, " ".join(TREE)))
check("the driver's exports all succeeded (%s)" % ", ".join(
          "%s %s: %d batches, %d spans" % (n, s["mode"], len(s["exports"]),
                                           sum(e["n"] for e in s["exports"]))
          for n, s in sorted(SVC.items())),
      all(e["code"] == 0 for s in SVC.values() for e in s["exports"]),
      [e for s in SVC.values() for e in s["exports"] if e["code"] != 0][:5])
check("every service served every request once (%d)" % N,
      all(SVC[s]["served"] == N for s in SVC), {s: SVC[s]["served"] for s in SVC})
check("payments failed every 5th request it served (%d), catalog 404'd every 10th (%d)"
      % (N // 5, N // 10), SVC["payments"]["faults"] == N // 5 and
      SVC["catalog"]["errors"] == N // 10)
check("frontend answered 502 exactly as often as payments failed",
      sum(r["status"] == 502 for r in REQS) == SVC["payments"]["faults"] ==
      SVC[ROOT]["faults"] and all(r["status"] in (200, 502) for r in REQS))
check("the services' span counts add up to the trees (%d spans)" % (N * len(TREE)),
      sum(s["spans"] for s in SVC.values()) == N * len(TREE) ==
      sum(e["n"] for s in SVC.values() for e in s["exports"]))

bad_tree, bad_link, bad_status, spans_of = [], [], [], {}
for r in REQS:
    st, t = get_json("/api/v1/traces/" + str(r["traceId"]))
    if st != 200:
        bad_tree.append((r["traceId"], st, t))
        continue
    spans = t["spans"]
    spans_of[r["traceId"]] = spans
    got = ["%s:%s:%s:%d" % (x["service"], x["name"], x["kind"], x["depth"]) for x in spans]
    if got != TREE or t["spanCount"] != len(TREE) or len(t["services"]) != len(SVC):
        bad_tree.append((r["traceId"], got))
    by_id = {x["spanId"]: x for x in spans}
    root = spans[0]
    if root["spanId"] != r["spanId"] or "parentSpanId" in root:
        bad_link.append((r["traceId"], "root", root["spanId"], r["spanId"]))
    for x in spans:
        if x["kind"] != "server" or x is root:
            continue
        # the caller's client span, in another process, calling this span's route
        p = by_id.get(x.get("parentSpanId"))
        if (p is None or p["kind"] != "client" or p["service"] == x["service"] or
                x["service"] not in CALLS[p["service"]] or
                not p.get("http", {}).get("url", "").endswith(ROUTES[x["service"]].split()[1])):
            bad_link.append((r["traceId"], x["service"], p and (p["service"], p["kind"])))
    # statuses as the services answered: a 502 trace faults frontend, orders and payments
    # (servers and the clients calling them); catalog's 404 is an error on both its sides
    fault = r["status"] == 502
    want = {ROOT: "fault" if fault else "ok", "orders": "fault" if fault else "ok",
            "payments": "fault" if fault else "ok", "inventory": "ok"}
    for x in spans:
        is_db = x["kind"] == "client" and x["name"] == DBS.get(x["service"], {}).get("span")
        if x["kind"] == "server":
            callee = x["service"]
        elif not is_db:  # an HTTP client span: the callee its url names
            callee = next((c for c in CALLS[x["service"]]
                           if x.get("http", {}).get("url", "").endswith(
                               ROUTES[c].split()[1])), "?")
        if callee == "catalog":
            ok = x["status"] in ("ok", "error") and (x["status"] == "error") == (
                x["http"]["status"] == 404)
        elif not is_db:
            ok = x["status"] == want.get(callee)
        else:  # the database call
            ok = x["status"] == "ok" and x.get("attributes", {}).get("db.system") == \
                DBS[x["service"]]["system"]
        if not ok:
            bad_status.append((r["traceId"], x["service"], x["name"], x["kind"], x["status"]))
# every call is made after the one before it returned: the whole tree is the critical path.
# The SDK writes a span's end as its whole-millisecond start plus a duration, so a child may be
# written ending after its parent: owl clamps it when within OWL_CRIT_OVERHANG_NS (2 ms) or 1%
# of the parent's length (tracer/tracer.h). A child past that margin is asynchronous by owl's
# rule; here only the SDK's clock reads (the process preempted between them) could make one,
# so such traces are counted apart and allowed to be rare.
OVERHANG_MS = 2.0
off_path, past_margin, max_over = [], [], 0.0
for tid, spans in spans_of.items():
    by_id = {x["spanId"]: x for x in spans}
    for x in spans:
        p = by_id.get(x.get("parentSpanId"))
        over = None if p is None else (
            int(x["startTimeUnixNano"]) + x["durationNanos"] -
            int(p["startTimeUnixNano"]) - p["durationNanos"]) / 1e6
        if over is not None:
            max_over = max(max_over, over)
        if not x.get("critical") and (p is None or p.get("critical")):  # where the path ends
            line = "%s: %s %s, its subtree off the path (it ends %.3f ms after its parent)" % (
                tid, x["service"], x["name"], over or 0)
            if over is not None and over > max(OVERHANG_MS, p["durationNanos"] / 1e8):
                past_margin.append(line)
            else:
                off_path.append(line)
note("the largest overhang of a child past its parent's end: %.3f ms" % max_over)
check("GET /api/v1/traces/{id}: each of the %d traces is whole, in the expected tree" % N,
      not bad_tree, bad_tree[:3])
check("... each callee's server span is the child of its caller's client span (another "
      "process, its url naming the callee's route); the root is the span traceresponse named",
      not bad_link, bad_link[:3])
check("... statuses as answered: 502 traces fault frontend, orders and payments, a 404 is "
      "catalog's error, the database call is ok", not bad_status, bad_status[:5])
check("... every span of every trace is on its critical path (each call waits for the one "
      "before it returns), but for children written ending past the overhang margin",
      not off_path,
      "%d of %d traces have spans off it:\n" % (len({o.split(":")[0] for o in off_path}), N) +
      "\n".join(off_path[:8]))
for line in past_margin:
    note("the SDK wrote a child ending past the margin (asynchronous by owl's rule): " + line)
check("... at most 2 of the %d traces have a child written ending past the margin (%d)" % (
      N, len({o.split(":")[0] for o in past_margin})),
      len({o.split(":")[0] for o in past_margin}) <= 2)
errors_404 = sum(1 for sp in spans_of.values() for x in sp
                 if x["service"] == "catalog" and x["kind"] == "server" and x["status"] == "error")
check("... catalog's 404s in the traces: %d, as it counted" % errors_404,
      errors_404 == SVC["catalog"]["errors"])
db_peer = sorted({x.get("peerService") for sp in spans_of.values() for x in sp
                  if x["kind"] == "client" and x["service"] in DBS and
                  x["name"] == DBS[x["service"]]["span"]})
note("the database client span's peer, as owl names it: %s" % db_peer)

found, token = set(), None
for _ in range(20):
    st, page = get_json("/api/v1/traces", start=START, end=END, service=ROOT, limit=1000,
                        next_token=token)
    if st != 200:
        break
    found |= {t["traceId"] for t in page["traces"]}
    token = page.get("nextToken")
    if not token:
        break
check("GET /api/v1/traces?service=frontend over the window finds the %d traces" % N,
      found == {r["traceId"] for r in REQS}, "status %s, %d found" % (st, len(found)))

# ---- 2./3. the service map --------------------------------------------------------------

DB_NODE = db_peer[0] if len(db_peer) == 1 else None


def expected_map(traces=None):
    """{node: (type, requests, errors, faults)}, {(source, target): (requests, errors, faults)}
    for the requests whose trace ids are in traces (all of them when None): each call is one
    request of its callee; a paired edge has its callee's figures, the database edge the
    database client span's."""
    reqs = [r for r in REQS if traces is None or r["traceId"] in traces]
    n = len(reqs)
    faults = sum(r["status"] == 502 for r in reqs)
    errs = sum(1 for r in reqs for x in spans_of.get(r["traceId"], [])
               if x["service"] == "catalog" and x["kind"] == "server" and x["status"] == "error")
    fig = {ROOT: (n, 0, faults), "orders": (n, 0, faults), "payments": (n, 0, faults),
           "inventory": (n, 0, 0), "catalog": (n, errs, 0)}
    nodes = {s: ("service",) + fig[s] for s in SVC}
    edges = {(s, c): fig[c] for s in CALLS for c in CALLS[s]}
    for s in DBS:
        nodes[DB_NODE] = ("database", n, 0, 0)
        edges[(s, DB_NODE)] = (n, 0, 0)
    return nodes, edges


def map_figures(m):
    nodes = {x["name"]: (x["type"], x["requests"], x["errors"], x["faults"])
             for x in m.get("services", [])}
    edges = {(e["source"], e["target"]): (e["requests"], e["errors"], e["faults"])
             for e in m.get("edges", [])}
    return nodes, edges


def diff(want, got):
    out = []
    for k in sorted(set(want) | set(got), key=str):
        if want.get(k) != got.get(k):
            out.append("%s: want %s got %s" % (k, want.get(k), got.get(k)))
    return "\n".join(out)


def check_map(label, m, want_nodes, want_edges):
    nodes, edges = map_figures(m)
    check("%s: exactly the nodes %s (type, requests, errors, faults)" % (
              label, ", ".join("%s %s" % (k, v) for k, v in sorted(want_nodes.items()))),
          nodes == want_nodes, diff(want_nodes, nodes))
    check("%s: exactly the edges %s (requests, errors, faults)" % (
              label, ", ".join("%s->%s %s" % (k + (v,)) for k, v in sorted(want_edges.items()))),
          edges == want_edges, diff(want_edges, edges))
    good = True
    for x in m.get("services", []) + m.get("edges", []):
        good &= x["ok"] == x["requests"] - x["errors"] - x["faults"] and \
            sum(b["count"] for b in x.get("histogram", [])) == x["requests"] and \
            x["minMs"] <= x["p50"] <= x["p90"] <= x["p99"] <= x["maxMs"] and \
            abs(x["faultRate"] - x["faults"] / max(x["requests"], 1)) < 1e-6
    check("%s: ok = requests - errors - faults, histograms hold every request, "
          "min <= p50 <= p90 <= p99 <= max, faultRate = faults / requests" % label, good)
    inv = next((x for x in m.get("services", []) if x["name"] == "inventory"), None)
    check("%s: inventory's shortest response is its %d ms sleep (%s ms)" % (
              label, SLOW_MS, inv and inv["minMs"]),
          inv is not None and inv["minMs"] >= SLOW_MS - 1)


check("the database client span has one peer name", DB_NODE is not None, db_peer)
want_nodes, want_edges = expected_map()
ALL = 'service("%s")' % ROOT
st, m = get_json("/api/v1/servicemap", start=START, end=END, filter=ALL)
check("GET /api/v1/servicemap?filter=%s is 200" % ALL, st == 200, m)
if st == 200:
    check_map("filtered map", m, want_nodes, want_edges)
faulty = {r["traceId"] for r in REQS if r["status"] == 502}
st, m = get_json("/api/v1/servicemap", start=START, end=END, filter="fault = true")
check("GET /api/v1/servicemap?filter=fault = true is 200", st == 200, m)
if st == 200:
    fn, fe = expected_map(faulty)
    nodes, edges = map_figures(m)
    check("... the faulty traces' map (%d traces): the same nodes and edges, their figures "
          "counted over those traces" % len(faulty), nodes == fn and edges == fe,
          diff(fn, nodes) + "\n" + diff(fe, edges))

t0 = time.monotonic()
polls, m, st = 0, {}, 0
while True:
    polls += 1
    st, m = get_json("/api/v1/servicemap", start=START, end=END)
    if st == 200 and map_figures(m) == (want_nodes, want_edges):
        break
    if time.monotonic() - t0 > POLL_S:
        break
    time.sleep(2)
whole = st == 200 and map_figures(m) == (want_nodes, want_edges)
note("the unfiltered map after %.1f s (%d polls): %s" % (
    time.monotonic() - t0, polls, "whole" if whole else "not whole"))
check("GET /api/v1/servicemap (per-minute statistics) is 200", st == 200, m)
if st == 200:
    check_map("unfiltered map", m, want_nodes, want_edges)
    check("... startTime, endTime are the window asked", m.get("startTime") == START and
          m.get("endTime") == END, (m.get("startTime"), m.get("endTime"), START, END))

# ---- 4. root cause and bottlenecks --------------------------------------------------------

st, rc = get_json("/api/v1/rootcause", start=START, end=END)
check("GET /api/v1/rootcause is 200", st == 200, rc)
if st == 200:
    f0 = (rc.get("faults") or [{}])[0]
    want = ("payments", ROUTES["payments"], "PaymentGatewayError", "card processor timed out",
            SVC["payments"]["faults"])
    got = tuple(f0.get(k) for k in ("service", "operation", "exceptionType", "message", "count"))
    check("... faults[0] is payments' %s, PaymentGatewayError, its %d failures: %s" % (
              ROUTES["payments"], want[4], got), got == want, rc.get("faults"))
    check("... %d traces, %d faulty" % (N, len(faulty)),
          (rc.get("traces"), rc.get("faultTraces")) == (N, len(faulty)),
          (rc.get("traces"), rc.get("faultTraces")))
    e0 = (rc.get("errors") or [{}])[0]
    check("... errors[0] is catalog's %s (its 404s)" % ROUTES["catalog"],
          (e0.get("service"), e0.get("operation")) == ("catalog", ROUTES["catalog"]),
          rc.get("errors"))
    note("rootcause faults: %s" % [(x["service"], x["operation"], x["count"], x["share"])
                                   for x in rc.get("faults", [])])
    note("rootcause errors: %s" % [(x["service"], x["operation"], x["count"])
                                   for x in rc.get("errors", [])])

st, bn = get_json("/api/v1/bottlenecks", start=START, end=END)
check("GET /api/v1/bottlenecks is 200", st == 200, bn)
if st == 200:
    b0 = (bn.get("overall") or [{}])[0]
    check("... overall[0] is inventory's %s: %s %s" % (
              ROUTES["inventory"], b0.get("service"), b0.get("operation")),
          (b0.get("service"), b0.get("operation")) == ("inventory", ROUTES["inventory"]),
          [(x["service"], x["operation"], x["selfNanos"]) for x in bn.get("overall", [])])
    # (a trace whose path the SDK's clocks cut above inventory, counted above, lacks it)
    on = N - len({o.split(":")[0] for o in past_margin})
    check("... over the %d traces, on the path of %d, its critical self time at least %d x %d "
          "ms, over half the end-to-end time (share %s)" % (N, on, on, SLOW_MS, b0.get("share")),
          bn.get("traces") == N and on <= b0.get("traces", 0) <= N and
          b0.get("selfNanos", 0) >= on * (SLOW_MS - 1) * 1000000 and b0.get("share", 0) > 0.5,
          {k: b0.get(k) for k in ("traces", "selfNanos", "share")})
    # The slow tail (traces over the window's p90) holds inventory's sleep in every trace; but
    # on a loaded machine (the sanitizers' CI pass) the slowest traces are those a process
    # stalled in, a stall before a callee's server span starts being its caller's client span's
    # own time: there orders' GET has come first (2.43 s over 15 traces vs 15 x 150 ms).
    tail = bn.get("slowTail") or []
    inv = next((i for i, x in enumerate(tail)
                if (x["service"], x["operation"]) == ("inventory", ROUTES["inventory"])), None)
    x = tail[inv] if inv is not None else {}
    check("... slowTail holds inventory's among its first 3 (at %s), its sleep in each of its "
          "traces: %s traces, %s ns" % (inv, x.get("traces"), x.get("selfNanos")),
          inv is not None and inv < 3 and x["traces"] >= 1 and
          x["selfNanos"] >= x["traces"] * (SLOW_MS - 1) * 1000000, tail)
    note("bottlenecks slowTail: %s" % [(y["service"], y["operation"], y["selfNanos"], y["traces"])
                                       for y in tail[:4]])
    note("bottlenecks overall: %s" % [(x["service"], x["operation"], x["selfNanos"], x["share"])
                                      for x in bn.get("overall", [])])

# ---- 5. Graphviz --------------------------------------------------------------------------

names = sorted(want_nodes)
st, ctype, dot = get("/api/v1/servicemap", start=START, end=END, format="dot")
check("format=dot is 200 text/vnd.graphviz", st == 200 and
      ctype.startswith("text/vnd.graphviz"), (st, ctype, dot[:200]))
if st == 200:
    with open(os.path.join(TMP, "servicemap.dot"), "wb") as f:
        f.write(dot)
    text = dot.decode(errors="replace")
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
    check("... a digraph naming every node", body.lstrip().startswith("digraph") and
          all(n in text for n in names), text[:400])
    p = subprocess.run(["/usr/bin/dot", "-Tsvg"], input=dot, capture_output=True, timeout=30)
    check("... `dot -Tsvg` renders it: exit 0, nothing on stderr, an SVG",
          p.returncode == 0 and not p.stderr and b"<svg" in p.stdout,
          "rc %d, stderr: %s" % (p.returncode, p.stderr.decode(errors="replace")))
st, ctype, svg = get("/api/v1/servicemap", start=START, end=END, format="svg")
text = svg.decode(errors="replace")
check("format=svg is 200 image/svg+xml, an SVG naming every node", st == 200 and
      ctype.startswith("image/svg+xml") and "<svg" in text and all(n in text for n in names),
      (st, ctype, text[:300]))

# ---- 6. the AWS CLI -----------------------------------------------------------------------

if CREDS == "-":
    note("SKIP the AWS CLI part: /usr/bin/aws is not installed")
else:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=CREDS, AWS_CONFIG_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="", AWS_MAX_ATTEMPTS="1", HOME=TMP)
    p = subprocess.run(["/usr/bin/aws", "xray", "get-service-graph",
                        "--start-time", str(START // 1000), "--end-time", str(END // 1000),
                        "--endpoint-url", BASE, "--region", "us-east-1", "--output", "json",
                        "--cli-connect-timeout", "5", "--cli-read-timeout", "30"],
                       env=env, capture_output=True, timeout=60)
    check("aws xray get-service-graph exits 0", p.returncode == 0, p.stderr.decode()[-600:])
    if p.returncode == 0:
        g = json.loads(p.stdout)
        by_ref = {s["ReferenceId"]: s for s in g.get("Services", [])}
        edges = {}
        for s in g.get("Services", []):
            if s.get("Type") == "client":  # X-Ray's node for the callers of root segments
                continue
            for e in s.get("Edges", []):
                t = by_ref.get(e["ReferenceId"], {})
                st_ = e.get("SummaryStatistics", {})
                edges[(s["Name"], t.get("Name"))] = (
                    st_.get("TotalCount"), (st_.get("ErrorStatistics") or {}).get("TotalCount"),
                    (st_.get("FaultStatistics") or {}).get("TotalCount"))
        check("... the same edges, by service names, with the same request / error / fault "
              "counts", edges == want_edges, diff(want_edges, edges))
        got_names = {s["Name"] for s in g.get("Services", []) if s.get("Type") != "client"}
        check("... and the same nodes", got_names == set(want_nodes),
              sorted(got_names, key=str))

sys.exit(1 if failures() else 0)

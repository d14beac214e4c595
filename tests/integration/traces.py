"""traces.py — owl's native trace API against a real owld (t_traces.sh): OTLP JSON spans of
traces spread over two batches and two protocols (OTLP + Zipkin in one trace), read back by
W3C, X-Ray and Zipkin 64-bit ids as one tree (order, parents, depth, self time, attributes),
searches (service, operation, duration, status, filter expression, pages that join up), the
Jaeger shapes, errors (bad ids, bad parameters, a body that is not OTLP, a wrong media type),
another tenant seeing nothing, and the RED statistics in owl/Traces.
argv: base URL, admin key, key of another tenant, out file for facts the shell checks."""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from owltest import check, failures, note

BASE, ADMIN, OTHER, FACTS = sys.argv[1:5]


def req(method, path, body=None, key=ADMIN, ctype="application/json"):
    h = {"Authorization": "Bearer " + key}
    if body is not None:
        h["Content-Type"] = ctype
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
    r = urllib.request.Request(BASE + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def js(b):
    try:
        return json.loads(b)
    except Exception:
        return None


def attr(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    return {"key": k, "value": {"stringValue": v}}


def otlp(service, spans):
    return {"resourceSpans": [{"resource": {"attributes": [attr("service.name", service)]},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}


def span(tid, sid, parent, name, kind, start, dur_ms, attrs=(), status=0):
    s = {"traceId": tid, "spanId": sid, "name": name, "kind": kind,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(dur_ms * 1e6)),
         "attributes": [attr(k, v) for k, v in attrs]}
    if parent:
        s["parentSpanId"] = parent
    if status:
        s["status"] = {"code": status}
    return s


MS = 1000000
now = time.time_ns()
t0 = (now // 60000000000 - 3) * 60000000000  # three minutes back, on a minute
facts = {}

# --- a trace over two batches, the child batch first: front -> orders -> (db client) ---
T1 = "4bf92f3577b34da6a3ce929d0e0e4736"
b_child = otlp("orders", [
    span(T1, "00f067aa0ba902b8", "a000000000000001", "GET /orders/{id}", 2, t0 + 5 * MS, 40,
         [("http.request.method", "GET"), ("http.route", "/orders/{id}"),
          ("http.response.status_code", 503)]),
    span(T1, "00f067aa0ba902b9", "00f067aa0ba902b8", "SELECT orders", 3, t0 + 10 * MS, 20,
         [("db.system", "postgresql"), ("db.name", "shop")]),
])
st, body, _ = req("POST", "/v1/traces", b_child)
check("OTLP JSON: the child batch is accepted", st == 200, (st, body))
b_root = otlp("front", [span(T1, "a000000000000001", None, "GET /checkout", 2, t0, 100,
                             [("http.request.method", "GET"), ("http.response.status_code", 200),
                              ("enduser.id", "alice"), ("cart.items", 3)])])
st, body, _ = req("POST", "/v1/traces", b_root)
check("OTLP JSON: the root batch is accepted (answer {} or an empty partial_success)",
      st == 200 and js(body) is not None and not (js(body) or {}).get("partialSuccess", {}).get(
          "rejectedSpans"), (st, body))

# --- Zipkin joins the same trace: a client span of orders calling payments (shared id) ---
zs = [{"traceId": T1, "id": "00f067aa0ba902c0", "parentId": "00f067aa0ba902b8",
       "name": "post /pay", "kind": "CLIENT", "timestamp": (t0 + 50 * MS) // 1000,
       "duration": 30000, "localEndpoint": {"serviceName": "orders"},
       "remoteEndpoint": {"serviceName": "payments"}},
      {"traceId": T1, "id": "00f067aa0ba902c0", "parentId": "00f067aa0ba902b8",
       "name": "post /pay", "kind": "SERVER", "shared": True,
       "timestamp": (t0 + 52 * MS) // 1000, "duration": 25000,
       "localEndpoint": {"serviceName": "payments"}, "tags": {"http.status_code": "200"}}]
st, body, hdrs = req("POST", "/api/v2/spans", zs)
check("Zipkin v2: 202 with an empty body", st == 202 and body == b"", (st, body))

st, body, _ = req("GET", "/api/v1/traces/" + T1)
t = js(body) or {}
check("GET /api/v1/traces/{w3c id}: found", st == 200, (st, body[:300]))
spans = t.get("spans", [])
check("... all 5 spans, from 3 batches and 2 protocols", t.get("spanCount") == 5 and
      len(spans) == 5, t.get("spanCount"))
order = [(s["service"], s["name"], s["depth"]) for s in spans]
want = [("front", "GET /checkout", 0), ("orders", "GET /orders/{id}", 1),
        ("orders", "SELECT orders", 2), ("orders", "post /pay", 2),
        ("payments", "post /pay", 3)]
check("... in tree order with depths (the shared Zipkin server half under its client half)",
      order == want, order)
check("... services in tree order", t.get("services") == ["front", "orders", "payments"],
      t.get("services"))
by = {(s["service"], s["name"]): s for s in spans}
root = by.get(("front", "GET /checkout"), {})
orders = by.get(("orders", "GET /orders/{id}"), {})
check("... the root: no parent, self time 100 - 40 = 60 ms, http, attributes, resource",
      "parentSpanId" not in root and root.get("selfNanos") == 60 * MS and
      root.get("http", {}).get("status") == 200 and
      root.get("attributes", {}).get("enduser.id") == "alice" and
      root.get("resource", {}).get("service.name") == "front", root)
check("... orders: fault (503), its route, under the root",
      orders.get("status") == "fault" and orders.get("http", {}).get("route") == "/orders/{id}"
      and orders.get("parentSpanId") == "a000000000000001", orders)
# children of orders: SELECT 10..30 ms, post /pay 50..80 ms clamped to 45: covered 20 + 0
check("... orders' self time: 40 ms minus SELECT's 20 ms (the call past its end is clamped)",
      orders.get("selfNanos") == 20 * MS, orders.get("selfNanos"))
db = by.get(("orders", "SELECT orders"), {})
check("... the db client span names its peer (db.system + db.name rule)",
      db.get("kind") == "client" and db.get("peerService"), db)
check("... whole trace: start and duration", t.get("startTimeUnixNano") == str(t0) and
      t.get("durationNanos") == 100 * MS, (t.get("startTimeUnixNano"), t.get("durationNanos")))
xr = t.get("xrayTraceId", "")
st, body, _ = req("GET", "/api/v1/traces/" + xr)
check("the same trace by its X-Ray id (%s)" % xr, st == 200 and js(body)["spanCount"] == 5,
      (st, body[:200]))
st, body, _ = req("GET", "/api/v1/traces/" + T1.upper())
check("... and in upper-case hex", st == 200, st)

# a Zipkin 64-bit trace id
z64 = "463ac35c9f6413ad"
st, _, _ = req("POST", "/api/v2/spans", [{"traceId": z64, "id": "a2fb4a1d1a96d312",
                                          "name": "get", "kind": "SERVER",
                                          "timestamp": (t0 + 1000 * MS) // 1000,
                                          "duration": 1000,
                                          "localEndpoint": {"serviceName": "zsvc"}}])
st, body, _ = req("GET", "/api/v1/traces/" + z64)
check("a Zipkin 64-bit id is found by its 16 hex digits", st == 200 and
      js(body)["traceId"] == "0" * 16 + z64, (st, body[:200]))

# Zipkin v1: one v1 span with both halves becomes a client span and a shared server span
v1t = "5af7183fb1d4cf5f"
v1 = [{"traceId": v1t, "id": "352bff9a74ca9ad2", "name": "get /api",
       "timestamp": (t0 + 2000 * MS) // 1000, "duration": 20000,
       "annotations": [
           {"timestamp": (t0 + 2000 * MS) // 1000, "value": "cs",
            "endpoint": {"serviceName": "v1front"}},
           {"timestamp": (t0 + 2002 * MS) // 1000, "value": "sr",
            "endpoint": {"serviceName": "v1back"}},
           {"timestamp": (t0 + 2017 * MS) // 1000, "value": "ss",
            "endpoint": {"serviceName": "v1back"}},
           {"timestamp": (t0 + 2020 * MS) // 1000, "value": "cr",
            "endpoint": {"serviceName": "v1front"}}],
       "binaryAnnotations": [{"key": "http.status_code", "value": "404",
                              "endpoint": {"serviceName": "v1back"}}]}]
st, body, _ = req("POST", "/api/v1/spans", v1)
check("Zipkin v1: 202", st == 202, (st, body))
st, body, _ = req("GET", "/api/v1/traces/" + v1t)
d = js(body) or {}
got = [(s["service"], s["kind"], s["depth"], s["status"], s["durationNanos"])
       for s in d.get("spans", [])]
check("... read back as a client span and its server half under it",
      got == [("v1front", "client", 0, "ok", 20 * MS), ("v1back", "server", 1, "error", 15 * MS)],
      got)

# --- errors ---
for bad in ("xyz", "1-5f84c7a1-zzzz", "0" * 31):
    st, body, _ = req("GET", "/api/v1/traces/" + bad)
    check("malformed id %r: 400 InvalidParameter" % bad, st == 400 and
          (js(body) or {}).get("error", {}).get("code") == "InvalidParameter", (st, body))
st, body, _ = req("GET", "/api/v1/traces/" + "0" * 31 + "1")
check("unknown id: 404 TraceNotFound", st == 404 and
      js(body)["error"]["code"] == "TraceNotFound", (st, body))
st, body, _ = req("POST", "/v1/traces", b"{\"resourceSpans\": 5}")
check("OTLP: a body that is not a request: 400 with a Status", st == 400 and
      "message" in (js(body) or {}), (st, body))
st, body, _ = req("POST", "/v1/traces", b"x", ctype="text/plain")
check("OTLP: another media type: 415", st == 415, (st, body))
st, body, _ = req("POST", "/api/v2/spans", b"{}")
check("Zipkin: not an array: 400", st == 400, (st, body))
bad_otlp = otlp("front", [span("0" * 32, "a000000000000009", None, "x", 2, t0, 1),
                          span("4bf92f3577b34da6a3ce929d0e0e4799", "a000000000000009", None,
                               "kept", 2, t0, 1)])
st, body, _ = req("POST", "/v1/traces", bad_otlp)
ps = (js(body) or {}).get("partialSuccess", {})
check("OTLP: a bad span refused alone, named in partial_success; the good one stored",
      st == 200 and str(ps.get("rejectedSpans")) == "1" and ps.get("errorMessage"), (st, body))
st, body, _ = req("GET", "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4799")
check("... the good one is there", st == 200, st)

# --- another tenant sees nothing ---
st, body, _ = req("GET", "/api/v1/traces/" + T1, key=OTHER)
check("another tenant: 404 for the trace", st == 404, (st, body))
st, body, _ = req("GET", "/api/v1/traces?start=%d" % (t0 // MS - 60000), key=OTHER)
check("another tenant: no summaries", st == 200 and js(body)["traces"] == [], (st, body))

# --- searches over 24 more traces: svc-a -> svc-b, every 4th faulted, every 6th slow ---
tids = []
batch = []
for i in range(24):
    tid = "%032x" % (0xabc000 + i)
    tids.append(tid)
    st0 = t0 + (i + 1) * 1000 * MS
    dur = 900 if i % 6 == 0 else 30
    batch.append(span(tid, "%016x" % (0x100 + i), None, "GET /a", 2, st0, dur,
                      [("http.response.status_code", 200)]))
    batch.append(span(tid, "%016x" % (0x200 + i), "%016x" % (0x100 + i),
                      "op%d" % (i % 2), 2, st0 + MS, 5,
                      [("http.response.status_code", 500 if i % 4 == 0 else 200)]))
req("POST", "/v1/traces", otlp("svc-a", batch[0::2]))
st, body, _ = req("POST", "/v1/traces", otlp("svc-b", batch[1::2]))
check("24 traces of svc-a -> svc-b stored", st == 200, (st, body))

rng = "start=%d&end=%d" % (t0 // MS, t0 // MS + 60000)


def search(q):
    st, body, _ = req("GET", "/api/v1/traces?" + rng + "&" + q)
    d = js(body) or {}
    return st, d, [x["traceId"] for x in d.get("traces", [])]


st, d, ids = search("service=svc-b&limit=100")
check("search by service: the 24 traces", st == 200 and sorted(ids) == sorted(tids), ids)
st, d, ids = search("service=svc-b&operation=op1&limit=100")
check("... by service and operation: 12", sorted(ids) == sorted(tids[1::2]), ids)
st, d, ids = search("service=svc-b&status=fault&limit=100")
check("... status=fault: the 6 faulted", sorted(ids) == sorted(tids[0::4]), ids)
st, d, ids = search("service=svc-a&min_duration_ms=500&limit=100")
check("... min_duration_ms=500: the 4 slow", sorted(ids) == sorted(tids[0::6]), ids)
st, d, ids = search("service=svc-a&max_duration_ms=100&limit=100")
check("... max_duration_ms=100: the other 20", len(ids) == 20, len(ids))
flt = urllib.parse.quote('service("svc-b") { fault } AND responsetime > 0.5')
st, d, ids = search("filter=" + flt + "&limit=100")
check("... filter service(\"svc-b\") { fault } AND responsetime > 0.5: traces 0 and 12",
      sorted(ids) == sorted([tids[0], tids[12]]), ids)
st, d, ids = search("filter=" + urllib.parse.quote('annotation["enduser.id"] = "alice"'))
check("... filter on an OTLP attribute (annotation[\"enduser.id\"] = \"alice\"): the first trace",
      ids == [T1], ids)
st, d, ids = search("service=svc-a&limit=100")
starts = [int(x["startTimeUnixNano"]) for x in d.get("traces", [])]
check("... newest first", starts == sorted(starts, reverse=True) and len(starts) == 24, starts)
s0 = d["traces"][-1]
check("... a summary: root service and operation, span count, services, fault flag",
      s0["rootService"] == "svc-a" and s0["rootOperation"] == "GET /a" and
      s0["spanCount"] == 2 and s0["services"] == ["svc-a", "svc-b"] and s0["fault"] is True,
      s0)
seen, tok, pages = [], None, 0
while pages < 20:
    st, d, ids = search("service=svc-a&limit=5" + ("&next_token=" + tok if tok else ""))
    seen += ids
    pages += 1
    tok = d.get("nextToken")
    if not tok:
        break
check("pages of 5 join up: every trace once, 5 pages", sorted(seen) == sorted(tids) and
      pages == 5, (pages, len(seen)))
for q, code in (("start=yesterday", "InvalidParameter"), ("status=broken", "InvalidParameter"),
                ("limit=0", "InvalidParameter"), ("min_duration_ms=-1", "InvalidParameter"),
                ("next_token=zzz", "InvalidParameter"),
                ("filter=" + urllib.parse.quote('service("a'), "InvalidFilterExpression")):
    st, body, _ = req("GET", "/api/v1/traces?" + q)
    check("search %s: 400 %s" % (q, code), st == 400 and
          (js(body) or {}).get("error", {}).get("code") == code, (st, body))

# --- Jaeger ---
st, body, _ = req("GET", "/api/traces/" + T1)
j = js(body) or {}
jd = (j.get("data") or [{}])[0]
check("Jaeger /api/traces/{id}: 5 spans, 3 processes, CHILD_OF references, µs times",
      st == 200 and len(jd.get("spans", [])) == 5 and len(jd.get("processes", {})) == 3 and
      sum(len(s["references"]) for s in jd["spans"]) == 4 and
      jd["spans"][0]["startTime"] == t0 // 1000, (st, body[:400]))
st, body, _ = req("GET", "/api/services")
sv = (js(body) or {}).get("data", [])
check("Jaeger /api/services", all(x in sv for x in ("front", "orders", "payments", "svc-a")),
      sv)
st, body, _ = req("GET", "/api/services/svc-b/operations")
check("Jaeger /api/services/{s}/operations", (js(body) or {}).get("data") == ["op0", "op1"],
      body)

facts["t0_ms"] = t0 // MS
facts["trace"] = T1
facts["faulted"] = tids[0::4]
json.dump(facts, open(FACTS, "w"))
sys.exit(1 if failures() else 0)

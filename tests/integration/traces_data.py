"""traces_data.py — real trace data written by others, through owld (t_traces_data.sh):
every Zipkin file of ../shared/data/traces-zipkin posted to /api/v2/spans; every Jaeger trace
file (traces-jaeger, in Jaeger's query shape) converted here to OTLP JSON (resource from the
process, kind from span.kind, CHILD_OF -> parent, FOLLOWS_FROM -> link, tags -> attributes,
logs -> events) and posted to /v1/traces; the OTLP example files posted as they are. Every
trace is read back by id and compared with what this script counts in the file: its spans
(one per span id, kind and service, as owl and Zipkin merge repeats), its services, its
parent links and each span's id, kind and service; for the Jaeger traces also each span's
attribute keys, events and links (ui_01.json's FOLLOWS_FROM reference a link).
smartthings-mobile-web-install.json: one trace of 1,041 spans and 16 services.

  traces_data.py BASE_URL BEARER DATA_DIR"""

import glob
import json
import os
import sys
import urllib.error
import urllib.request

from owltest import check, failures, note

BASE, KEY, DATA = sys.argv[1:4]


def req(method, path, body=None):
    h = {"Authorization": "Bearer " + KEY}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    r = urllib.request.Request(BASE + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def pad(h, n):
    h = (h or "").lower()
    return "0" * (n - len(h)) + h


SEEN = {}  # every record posted so far, by trace: files may share a trace id


def expected(spans):
    """trace id -> {"keys": the spans owl returns, "services", "parents"} for the
    (trace, id, parent, kind, service, start, duration, name) records posted so far (with
    those of earlier files of the same trace). owl's rule for records of one span id, kind
    and service: an in-progress record (no duration) goes when a finished one is there, and
    an exact repeat (same start, duration and name) is one span; distinct occurrences stay."""
    touched = set()
    for rec in spans:
        SEEN.setdefault(rec[0], set()).add(rec)
        touched.add(rec[0])
    out = {}
    for t in touched:
        e = out.setdefault(t, {"keys": set(), "services": set(), "parents": set()})
        groups = {}
        for (_, sid, parent, kind, svc, start, dur, name) in SEEN[t]:
            groups.setdefault((sid, kind, svc), set()).add((start, dur, name))
            e["services"].add(svc)
            if parent:
                e["parents"].add((sid, parent))
        for k, recs in groups.items():
            done = {r for r in recs if r[1]}
            for r in (done or recs):
                e["keys"].add(k + r)
    return out


def compare(label, exp, detail=None):
    """each trace of exp read back: span count, services, parent links, the (span id, kind,
    service) of every span; with detail ((span id, kind, name) -> (attribute keys, events,
    links)), what each span carries."""
    for t, e in sorted(exp.items()):
        st, body, _ = req("GET", "/api/v1/traces/" + t)
        d = json.loads(body) if st == 200 else {}
        got = {(s["spanId"], s.get("parentSpanId")) for s in d.get("spans", [])}
        parents_ok = all((sid, p) in got for sid, p in e["parents"])
        check("%s: trace %s whole (%d spans, %d services, parent links)" %
              (label, t, len(e["keys"]), len(e["services"])),
              st == 200 and d["spanCount"] == len(e["keys"]) and
              set(d["services"]) == e["services"] and parents_ok,
              (st, d.get("spanCount"), len(e["keys"]), sorted(set(d.get("services", [])) ^
                                                               e["services"]), parents_ok))
        want = {k[:3] for k in e["keys"]}
        have = {(s["spanId"], s["kind"], s["service"]) for s in d.get("spans", [])}
        check("%s: trace %s: every span's id, kind and service" % (label, t), want == have,
              sorted(want ^ have)[:6])
        if detail is None:
            continue
        bad = []
        for s in d.get("spans", []):
            w = detail.get((s["spanId"], s["kind"], s["name"]))
            g = (sorted(s.get("attributes", {})), len(s.get("events", [])),
                 len(s.get("links", [])))
            if w != g:
                bad.append((s["spanId"], s["kind"], w, g))
        check("%s: trace %s: every span's attributes, events and links" % (label, t), not bad,
              bad[:3])


# ---- Zipkin ----
zfiles = sorted(glob.glob(os.path.join(DATA, "traces-zipkin", "*.json")))
check("the Zipkin files are there", len(zfiles) >= 10, zfiles)
kinds = {"CLIENT": "client", "SERVER": "server", "PRODUCER": "producer",
         "CONSUMER": "consumer"}
for f in zfiles:
    spans = json.load(open(f))
    st, body, hdrs = req("POST", "/api/v2/spans", spans)
    rejected = {k.lower(): v for k, v in hdrs.items()}.get("x-owl-rejected")
    check("%s: posted to /api/v2/spans, none refused" % os.path.basename(f),
          st == 202 and rejected == "0", (st, body[:200], rejected))
    exp = expected((pad(s["traceId"], 32), pad(s["id"], 16),
                    pad(s.get("parentId"), 16) if s.get("parentId") and
                    s.get("parentId") != s["id"] else None,
                    kinds.get(s.get("kind"), "internal"),
                    (s.get("localEndpoint") or {}).get("serviceName") or "unknown_service",
                    s.get("timestamp"), s.get("duration") or 0, s.get("name"))
                   for s in spans)
    compare(os.path.basename(f), exp)
    if "smartthings-mobile-web-install" in f:
        e = list(exp.values())
        check("smartthings-mobile-web-install: one trace, 1,041 spans, 16 services",
              len(e) == 1 and len(e[0]["keys"]) == 1041 and len(e[0]["services"]) == 16,
              [(len(x["keys"]), len(x["services"])) for x in e])


# ---- Jaeger (query-API shape) -> OTLP JSON ----
def any_value(tag):
    t, v = tag.get("type", "string"), tag.get("value")
    if t == "bool":
        return {"boolValue": bool(v)}
    if t == "int64":
        return {"intValue": str(int(v))}
    if t == "float64":
        return {"doubleValue": float(v)}
    return {"stringValue": str(v)}


def jaeger_to_otlp(trace):
    procs = trace.get("processes", {})
    by_proc = {}
    kinds = {"server": 2, "client": 3, "producer": 4, "consumer": 5, "internal": 1}
    for s in trace["spans"]:
        tid = pad(s["traceID"], 32)
        refs = s.get("references") or []
        parent, links = None, []
        for r in refs:
            if r.get("refType") == "CHILD_OF" and not parent and \
                    pad(r.get("traceID"), 32) == tid:
                parent = pad(r["spanID"], 16)
            else:
                links.append({"traceId": pad(r["traceID"], 32), "spanId": pad(r["spanID"], 16),
                              "attributes": [{"key": "jaeger.ref_type",
                                              "value": {"stringValue": r.get("refType", "")}}]})
        tags = s.get("tags") or []
        kind = next((kinds.get(str(t.get("value")), 0) for t in tags
                     if t.get("key") == "span.kind"), 0)
        err = any(t.get("key") == "error" and str(t.get("value")).lower() == "true" for t in tags)
        o = {"traceId": tid, "spanId": pad(s["spanID"], 16), "name": s["operationName"] or "op",
             "kind": kind or 1, "startTimeUnixNano": str(int(s["startTime"]) * 1000),
             "endTimeUnixNano": str((int(s["startTime"]) + int(s.get("duration", 0))) * 1000),
             "attributes": [{"key": t["key"], "value": any_value(t)} for t in tags
                            if t.get("key") not in ("span.kind",)],
             "events": [{"timeUnixNano": str(int(lg["timestamp"]) * 1000),
                         "name": next((str(f["value"]) for f in lg.get("fields", [])
                                       if f.get("key") == "event"), "log"),
                         "attributes": [{"key": f["key"], "value": any_value(f)}
                                        for f in lg.get("fields", []) if f.get("key") != "event"]}
                        for lg in s.get("logs") or []],
             "links": links}
        if parent:
            o["parentSpanId"] = parent
        if err:
            o["status"] = {"code": 2}
        pid = s.get("processID") or ""
        by_proc.setdefault(pid, []).append(o)
    rs = []
    for pid, spans in by_proc.items():
        p = procs.get(pid) or {}
        attrs = [{"key": "service.name", "value": {"stringValue": p.get("serviceName") or
                                                   "unknown_service"}}]
        attrs += [{"key": t["key"], "value": any_value(t)} for t in p.get("tags") or []]
        rs.append({"resource": {"attributes": attrs},
                   "scopeSpans": [{"scope": {"name": "jaeger"}, "spans": spans}]})
    return {"resourceSpans": rs}


def otlp_expected(body):
    out = []
    for r in body["resourceSpans"]:
        svc = next((a["value"].get("stringValue") for a in r.get("resource", {}).get(
            "attributes", []) if a["key"] == "service.name"), None) or "unknown_service"
        kinds = ["unspecified", "internal", "server", "client", "producer", "consumer"]
        for ss in r.get("scopeSpans", []):
            for s in ss.get("spans", []):
                k = s.get("kind", 0)
                if isinstance(k, str):
                    k = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
                         "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}.get(k, 0)
                out.append((s["traceId"].lower(), s["spanId"].lower(),
                            s.get("parentSpanId", "").lower() or None, kinds[k], svc,
                            int(s["startTimeUnixNano"]),
                            int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"]) or 1,
                            s["name"]))
    return out


jfiles = [f for f in sorted(glob.glob(os.path.join(DATA, "traces-jaeger", "*", "*.json")))
          if "dependencies" not in os.path.basename(f)]
check("the Jaeger trace files are there", len(jfiles) >= 5, jfiles)
DETAIL = {}
for f in jfiles:
    d = json.load(open(f))
    d = d.get("data", d)
    if isinstance(d, list):
        d = d[0]
    body = jaeger_to_otlp(d)
    st, resp, _ = req("POST", "/v1/traces", body)
    ps = (json.loads(resp) if st == 200 and resp else {}).get("partialSuccess", {})
    check("%s: converted to OTLP JSON and accepted whole" % os.path.basename(f),
          st == 200 and not ps.get("rejectedSpans"), (st, resp[:300]))
    kinds = ["unspecified", "internal", "server", "client", "producer", "consumer"]
    for r in body["resourceSpans"]:  # with those of earlier files of the same trace
        for o in r["scopeSpans"][0]["spans"]:
            DETAIL[(o["spanId"], kinds[o["kind"]], o["name"])] = (
                sorted(a["key"] for a in o["attributes"]), len(o["events"]), len(o["links"]))
    compare(os.path.basename(f), expected(otlp_expected(body)), DETAIL)
    refs = [r.get("refType") for s in d["spans"] for r in s.get("references") or []]
    if "FOLLOWS_FROM" in refs:
        # (ui_01.json) the FOLLOWS_FROM reference is a link with its type, not a parent
        st, resp, _ = req("GET", "/api/v1/traces/" + d["spans"][0]["traceID"].lower().zfill(32))
        got = [ln.get("attributes", {}).get("jaeger.ref_type") for s in
               (json.loads(resp)["spans"] if st == 200 else []) for ln in s.get("links", [])]
        check("%s: the FOLLOWS_FROM reference is a link" % os.path.basename(f),
              got.count("FOLLOWS_FROM") == refs.count("FOLLOWS_FROM"), (st, got))

# ---- OTLP example files ----
ofiles = [os.path.join(DATA, "otlp", "opentelemetry-proto", "trace.json")] + \
    sorted(glob.glob(os.path.join(DATA, "otlp", "jaeger", "*.json")))
for f in ofiles:
    if not os.path.exists(f):
        continue
    body = json.load(open(f))
    if "resourceSpans" not in body:
        note("%s holds no resourceSpans: not a trace" % f)
        continue
    st, resp, _ = req("POST", "/v1/traces", body)
    ps = (json.loads(resp) if st == 200 and resp else {}).get("partialSuccess", {})
    check("%s: posted as it is and accepted whole" % os.path.basename(f),
          st == 200 and not ps.get("rejectedSpans"), (st, resp[:300]))
    compare(os.path.basename(f), expected(otlp_expected(body)))

sys.exit(1 if failures() else 0)

#!/usr/bin/env python3
"""spans.py — builds a large span data set from the real traces in ../shared/data: the 10
Zipkin v2 traces (traces-zipkin/*.json) and the Nezha OnlineBoutique and TrainTicket span
tables (other/nezha/*/*_trace.csv, 355 traces). Each output trace is a copy of one source trace
(sources taken in a freshly shuffled order each round) with fresh ids and shifted times:

  * a fresh 128-bit trace id and fresh 64-bit span ids; a parent id maps to the new id of the
    same source span, and a parent not in the trace (messaging2.json has 6) to one fresh id,
    so orphans stay orphans; Zipkin's shared client/server spans keep sharing their new id;
  * copy k starts at START + k / RATE seconds (plus up to half a gap of seeded jitter) and
    keeps the source trace's relative timing (offsets, durations, annotation times).

Outputs (either or both), one JSON object per line:
  --zipkin FILE  Zipkin v2 spans (traceId, id, parentId, kind, name, timestamp and duration in
                 microseconds, localEndpoint, remoteEndpoint, tags, annotations, shared, as in
                 the source); wrap lines in [ ... ] with commas to POST them to /api/v2/spans.
  --rows FILE    flat rows for ClickHouse's JSONEachRow (bench/peers/clickhouse schema spans,
                 table spans_in): trace_id (32 hex), span_id (16 hex), parent_span_id (16 hex,
                 "" for a root), service, operation, kind, start_ns, duration_ns (0 when the
                 source has none), status (ok | error = 4xx | throttle = 429 | fault = 5xx or an
                 error tag), http_method, http_route, http_status (0 = none), peer_service,
                 tags (the tags object as a JSON string).
Nezha spans have no kind: a root or a span whose parent is in another service is SERVER, a
span with a child in another service is CLIENT (peer = that service), others have none.
The service of a Nezha span is its pod name without the last two "-" parts.

Deterministic for a given --seed, --start and sources. The summary goes to stdout as key=value
lines: spans, traces, services, sources, start_ms, end_ms. The data's licences (Apache-2.0,
MIT) allow this; the output is a temp file all the same, never something to commit.

--spans N writes whole traces until at least N spans; --traces N exactly N traces.

Usage: spans.py --data DIR (--spans N | --traces N) [--zipkin FILE] [--rows FILE]
                [--seed S] [--start RFC3339|EPOCH_MS|now] [--rate TRACES_PER_S]
"""
import argparse
import calendar
import csv
import glob
import json
import os
import random
import sys
import time


def die(msg):
    sys.exit("spans.py: " + msg)


def load_zipkin(path):
    """One trace per file: a list of span dicts with times in ns (None when absent)."""
    with open(path, encoding="utf-8") as f:
        spans = json.load(f)
    out = []
    for s in spans:
        out.append({
            "id": s["id"], "parent": s.get("parentId"), "kind": s.get("kind"),
            "name": s.get("name"),
            "service": (s.get("localEndpoint") or {}).get("serviceName"),
            "local": s.get("localEndpoint"), "remote": s.get("remoteEndpoint"),
            "start": s["timestamp"] * 1000 if "timestamp" in s else None,
            "dur": s["duration"] * 1000 if "duration" in s else None,
            "tags": s.get("tags") or {}, "shared": s.get("shared", False),
            "annotations": [(a["timestamp"] * 1000, a["value"]) for a in s.get("annotations", [])],
        })
    return [out]


def nezha_service(pod):
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod


def load_nezha(path):
    """A Nezha span table: one trace per TraceID, kinds derived from the service graph."""
    traces = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            start = int(r["StartTimeUnixNano"])
            traces.setdefault(r["TraceID"], []).append({
                "id": r["SpanID"], "parent": None if r["ParentID"] == "root" else r["ParentID"],
                "kind": None, "name": r["OperationName"], "service": nezha_service(r["PodName"]),
                "local": {"serviceName": nezha_service(r["PodName"])}, "remote": None,
                "start": start, "dur": int(r["EndTimeUnixNano"]) - start,
                "tags": {"k8s.pod.name": r["PodName"]}, "shared": False, "annotations": [],
            })
    for spans in traces.values():
        by_id = {s["id"]: s for s in spans}
        for s in spans:
            p = by_id.get(s["parent"])
            if p is None or p["service"] != s["service"]:
                s["kind"] = "SERVER"
            if p is not None and p["service"] != s["service"] and p["kind"] is None:
                p["kind"] = "CLIENT"
                p["remote"] = {"serviceName": s["service"]}
    return [traces[k] for k in sorted(traces)]


def http_fields(tags):
    method = tags.get("http.method", "")
    route = tags.get("http.route") or tags.get("http.path") or tags.get("http.uri.client") or ""
    code = 0
    for k in ("http.status_code", "client_status_code", "response_status_code"):
        v = tags.get(k, "")
        if v.isdigit():
            code = int(v)
            break
    if code == 429:
        status = "throttle"
    elif code >= 500 or "error" in tags:
        status = "fault" if not 400 <= code < 500 else "error"
    elif code >= 400:
        status = "error"
    else:
        status = "ok"
    return method, route, code, status


def parse_start(s):
    if s == "now":
        return int(time.time() * 1000)
    if s.isdigit():
        return int(s)
    try:
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) * 1000
    except ValueError:
        die("--start takes RFC 3339 (YYYY-MM-DDTHH:MM:SSZ), epoch ms or now")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--spans", type=int)
    size.add_argument("--traces", type=int)
    ap.add_argument("--zipkin")
    ap.add_argument("--rows")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default="2026-01-01T00:00:00Z")
    ap.add_argument("--rate", type=float, default=50.0)
    a = ap.parse_args()
    if not a.zipkin and not a.rows:
        die("give --zipkin FILE, --rows FILE or both")
    if a.rate <= 0:
        die("--rate must be > 0")
    sources = []
    zfiles = sorted(glob.glob(os.path.join(a.data, "traces-zipkin", "*.json")))
    nfiles = sorted(glob.glob(os.path.join(a.data, "other", "nezha", "*", "*_trace.csv")))
    for p in zfiles:
        sources += load_zipkin(p)
    for p in nfiles:
        sources += load_nezha(p)
    if not sources:
        die("no traces under %s (traces-zipkin/*.json, other/nezha/*/*_trace.csv)" % a.data)
    rng = random.Random(a.seed)
    start_ns = parse_start(a.start) * 1000000
    gap_ns = int(1e9 / a.rate)
    zout = open(a.zipkin, "w", encoding="utf-8") if a.zipkin else None
    rout = open(a.rows, "w", encoding="utf-8") if a.rows else None
    nspans = ntraces = 0
    services = set()
    last_ns = start_ns
    order = list(range(len(sources)))
    done = False
    while not done:
        rng.shuffle(order)
        for i in order:
            src = sources[i]
            t0 = min((s["start"] for s in src if s["start"] is not None), default=0)
            base = start_ns + ntraces * gap_ns + rng.randrange(gap_ns // 2 + 1)
            trace_id = "%032x" % rng.getrandbits(128)
            ids = {}

            def new_id(old):
                if old not in ids:
                    ids[old] = "%016x" % rng.getrandbits(64)
                return ids[old]

            for s in src:
                sid = new_id(s["id"])
                pid = new_id(s["parent"]) if s["parent"] is not None else None
                st = base + (s["start"] - t0) if s["start"] is not None else None
                if zout:
                    z = {"traceId": trace_id, "id": sid}
                    if pid:
                        z["parentId"] = pid
                    for k, v in (("kind", s["kind"]), ("name", s["name"])):
                        if v:
                            z[k] = v
                    if st is not None:
                        z["timestamp"] = st // 1000
                    if s["dur"] is not None:
                        z["duration"] = s["dur"] // 1000
                    for k, v in (("localEndpoint", s["local"]), ("remoteEndpoint", s["remote"])):
                        if v:
                            z[k] = v
                    if s["annotations"]:
                        z["annotations"] = [{"timestamp": (base + t - t0) // 1000, "value": v}
                                            for t, v in s["annotations"]]
                    if s["tags"]:
                        z["tags"] = s["tags"]
                    if s["shared"]:
                        z["shared"] = True
                    zout.write(json.dumps(z, separators=(",", ":")) + "\n")
                if rout:
                    method, route, code, status = http_fields(s["tags"])
                    r = {"trace_id": trace_id, "span_id": sid, "parent_span_id": pid or "",
                         "service": s["service"] or "", "operation": s["name"] or "",
                         "kind": s["kind"] or "", "start_ns": st if st is not None else base,
                         "duration_ns": s["dur"] or 0, "status": status, "http_method": method,
                         "http_route": route, "http_status": code,
                         "peer_service": (s["remote"] or {}).get("serviceName", ""),
                         "tags": json.dumps(s["tags"], separators=(",", ":"), sort_keys=True)}
                    rout.write(json.dumps(r, separators=(",", ":")) + "\n")
                if s["service"]:
                    services.add(s["service"])
                if st is not None:
                    last_ns = max(last_ns, st + (s["dur"] or 0))
            nspans += len(src)
            ntraces += 1
            if (a.spans is not None and nspans >= a.spans) or \
                    (a.traces is not None and ntraces >= a.traces):
                done = True
                break
    for f in (zout, rout):
        if f:
            f.close()
    print("spans=%d" % nspans)
    print("traces=%d" % ntraces)
    print("services=%d" % len(services))
    print("sources=%d" % len(sources))
    print("start_ms=%d" % (start_ns // 1000000))
    print("end_ms=%d" % (last_ns // 1000000))


if __name__ == "__main__":
    main()

"""nezha.py — the Nezha span tables (real traces of TrainTicket and OnlineBoutique with
labelled injected faults; DATA/other/nezha, described in DATA/other/SOURCE.md) through
owld's service map and root cause (t_servicemap_nezha.sh).

Each CSV row becomes an OTLP span: service = the pod name without its last two '-' parts,
parent = ParentID ('root': none), start and end from the nanosecond columns (Duration, in
microseconds, is checked against them), kind SPAN_KIND_UNSPECIFIED (the tables have no kind:
the edges come from owld's rule for a span whose parent is another service's), status unset
(no status column), the pod in the resource (k8s.pod.name). Each file is moved by a whole
number of minutes to its own ten-minute slot an hour or two before now (the tables are from
2022-2023; owl/ServiceGraph statistics, like all metrics, take no point older than two
weeks), so seconds within a minute and the files' own timings are kept.

Checks: the expected sets computed here from the CSV (services; edges parent's service ->
child's service where they differ) are SOURCE.md's (TrainTicket 28 services and 53 edges,
its fault-free file 25 and 42, OnlineBoutique 10 and 13); GET /api/v1/servicemap over each
file's slot gives exactly those services and edges with the edges' call counts, with
filter=service() (computed from the stored traces) and without a filter (the per-minute
statistics, polled up to 60 s). Reports where each fault file's labelled faulty service
ranks in GET /api/v1/rootcause's latency list for the file's fault window (TrainTicket:
from the injection time, which is fault_list.json's inject_time read as UTC, see SOURCE.md;
its fault-free file is the baseline; OnlineBoutique: the whole file, injected 7 s before it
starts, with the default baseline, an empty window).

  nezha.py BASE_URL BEARER DATA_DIR"""

import calendar
import csv
import json
import os
import sys
import time

from owlapi import Owl
from owltest import check, failures, note

MIN_NS = 60 * 10**9
SLOT_NS = 10 * MIN_NS

# file, expected services and edges (SOURCE.md), slot (minutes before now, on a minute),
# fault list, time of the fault list that lines up with the data
FILES = (
    ("trainticket/2023-01-29_08_52_trace.csv", 28, 53, 60,
     "trainticket/2023-01-29-fault_list.json", "inject_time"),
    ("trainticket/normal_2023-01-29_08_50_trace.csv", 25, 42, 90, None, None),
    ("onlineboutique/2022-08-22_05_19_trace.csv", 10, 13, 120,
     "onlineboutique/2022-08-22-fault_list.json", "inject_timestamp"),
)


def service_of(pod):
    return "-".join(pod.split("-")[:-2])


def read_table(path):
    """The rows of a trace table as spans (dicts: trace, id, parent, service, pod, name,
    start, end); the number of rows whose Duration disagrees with end - start."""
    spans, off = [], 0
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            start, end = int(r["StartTimeUnixNano"]), int(r["EndTimeUnixNano"])
            if abs((end - start) / 1000 - int(r["Duration"])) > 1:
                off += 1
            spans.append({"trace": r["TraceID"], "id": r["SpanID"],
                          "parent": None if r["ParentID"] == "root" else r["ParentID"],
                          "service": service_of(r["PodName"]), "pod": r["PodName"],
                          "name": r["OperationName"], "start": start, "end": end})
    return spans, off


def expected_map(spans):
    """(services, {(source, target): calls}): a span whose parent is another service's is
    one call of parent's service -> its service."""
    by = {(s["trace"], s["id"]): s for s in spans}
    edges = {}
    for s in spans:
        p = by.get((s["trace"], s["parent"])) if s["parent"] else None
        if p is not None and p["service"] != s["service"]:
            k = (p["service"], s["service"])
            edges[k] = edges.get(k, 0) + 1
    return {s["service"] for s in spans}, edges


def otlp_bodies(spans, shift, max_spans=5000):
    """ExportTraceServiceRequests of spans moved by shift ns: one resourceSpans per pod."""
    def kv(k, v):
        return {"key": k, "value": {"stringValue": v}}

    for i in range(0, len(spans), max_spans):
        chunk = spans[i:i + max_spans]
        pods = {}
        for s in chunk:
            o = {"traceId": s["trace"], "spanId": s["id"], "name": s["name"], "kind": 0,
                 "startTimeUnixNano": str(s["start"] + shift),
                 "endTimeUnixNano": str(s["end"] + shift)}
            if s["parent"]:
                o["parentSpanId"] = s["parent"]
            pods.setdefault((s["service"], s["pod"]), []).append(o)
        yield {"resourceSpans": [
            {"resource": {"attributes": [kv("service.name", svc), kv("k8s.pod.name", pod)]},
             "scopeSpans": [{"scope": {"name": "nezha"}, "spans": sp}]}
            for (svc, pod), sp in sorted(pods.items())]}


def readback(owl, label, spans):
    """The file's largest trace read back whole: ids, parents, services, names, kinds."""
    traces = {}
    for s in spans:
        traces.setdefault(s["trace"], []).append(s)
    t = max(sorted(traces), key=lambda k: len(traces[k]))
    st, doc = owl.get("/api/v1/traces/" + t)
    want = sorted((s["id"], s["parent"], s["service"], s["name"], "unspecified")
                  for s in traces[t])
    got = sorted((s.get("spanId"), s.get("parentSpanId"), s.get("service"), s.get("name"),
                  s.get("kind")) for s in (doc or {}).get("spans", []))
    check("%s: its largest trace (%d spans) reads back whole" % (label, len(want)),
          st == 200 and got == want,
          (st, len(got), [w for w in want if w not in got][:3],
           [g for g in got if g not in want][:3]))


def map_of(doc):
    """(services {name: type}, {(source, target): requests}) of a servicemap answer."""
    svcs = {s["name"]: s.get("type") for s in doc.get("services", [])}
    edges = {(e["source"], e["target"]): e.get("requests") for e in doc.get("edges", [])}
    return svcs, edges


def diff(want, got):
    return "missing %s; extra %s" % (sorted(set(want) - set(got))[:8],
                                     sorted(set(got) - set(want))[:8])


def check_map(owl, label, w0, w1, services, edges):
    """The servicemap of [w0, w1) with filter=service() and without one."""
    ms = dict(start=w0 // 10**6, end=w1 // 10**6)
    st, doc = owl.get("/api/v1/servicemap", filter="service()", **ms)
    svcs, got = map_of(doc or {})
    check("%s: servicemap filter=service(): the %d services, all of type service"
          % (label, len(services)),
          st == 200 and set(svcs) == services and set(svcs.values()) == {"service"},
          (st, diff(services, svcs), set(svcs.values())))
    check("%s: ... the %d edges" % (label, len(edges)), set(got) == set(edges),
          diff(edges, got))
    check("%s: ... each edge's requests are its calls" % label, got == edges,
          sorted((k, edges.get(k), got.get(k)) for k in set(edges) | set(got)
                 if edges.get(k) != got.get(k))[:8])
    deadline = time.monotonic() + 60
    while True:
        st, doc = owl.get("/api/v1/servicemap", **ms)
        svcs, got2 = map_of(doc or {})
        if st != 200 or got2 == edges or time.monotonic() > deadline:
            break
        time.sleep(1)
    check("%s: servicemap without a filter (the statistics): the %d services"
          % (label, len(services)), st == 200 and set(svcs) == services,
          (st, diff(services, svcs)))
    check("%s: ... the %d edges with their calls" % (label, len(edges)), got2 == edges,
          diff(edges, got2) + " " + str(sorted(
              (k, edges.get(k), got2.get(k)) for k in set(edges) | set(got2)
              if edges.get(k) != got2.get(k))[:6]))


def injections(path, field, t0, t1):
    """The labelled faults (inject time in ns, service, type) of a fault list within
    [t0 - 60 s, t1)."""
    out = []
    with open(path) as f:
        for hour in json.load(f).values():
            for x in hour:
                if field == "inject_time":
                    t = calendar.timegm(time.strptime(x["inject_time"], "%Y-%m-%d %H:%M:%S"))
                else:
                    t = int(x["inject_timestamp"])
                t *= 10**9
                if t0 - MIN_NS <= t < t1:
                    out.append((t, service_of(x["inject_pod"]), x["inject_type"]))
    return sorted(out)


def rank_report(owl, label, w0, w1, base, faulty_service):
    """Where faulty_service ranks in the latency root cause of [w0, w1) (base: a baseline
    window, or None for the default)."""
    p = dict(start=w0 // 10**6, end=w1 // 10**6, limit=1000)
    if base:
        p.update(baseline_start=base[0] // 10**6, baseline_end=base[1] // 10**6)
    st, doc = owl.get("/api/v1/rootcause", **p)
    rows = (doc or {}).get("latency", [])
    check("%s: rootcause answers a latency list" % label,
          st == 200 and isinstance(rows, list) and (doc or {}).get("traces", 0) > 0,
          (st, str(doc)[:300]))
    svcs = [r.get("service") for r in rows]
    rank = svcs.index(faulty_service) + 1 if faulty_service in svcs else None
    note("%s: labelled faulty service %s ranks %s of %d rows in the latency root cause "
         "(%s baseline; %d traces, %d baseline traces); first rows: %s"
         % (label, faulty_service, rank if rank else "absent", len(rows),
            "the fault-free file as" if base else "default (empty)",
            (doc or {}).get("traces", 0), (doc or {}).get("baselineTraces", 0) or 0,
            ", ".join("%s/%s %+.1f ms" % (r.get("service"), r.get("operation"),
                                          (r.get("deltaNanos") or 0) / 1e6)
                      for r in rows[:5])))
    return rank


def main():
    base_url, key, data = sys.argv[1:4]
    owl = Owl(base_url, key)
    root = os.path.join(data, "other", "nezha")
    now_min = time.time_ns() // MIN_NS * MIN_NS
    loaded = {}
    for k, (rel, n_svc, n_edges, slot_min, faults, field) in enumerate(FILES):
        spans, off = read_table(os.path.join(root, rel))
        # Nezha's TrainTicket files share traces (3 of them, span for span: its
        # construct_data and rca_data windows overlap); moved to slots of their own, each
        # copy gets trace ids of its own, or owld would rightly read each shared id as one
        # trace whose spans lie in two slots
        for sp in spans:
            sp["trace"] = "%032x" % (int(sp["trace"], 16) ^ k)
        services, edges = expected_map(spans)
        name = os.path.basename(rel)
        check("%s: %d spans, Duration (us) agrees with the ns times" % (name, len(spans)),
              off == 0, "%d rows disagree" % off)
        check("%s: the CSV holds %d services and %d cross-service edges (SOURCE.md)"
              % (name, n_svc, n_edges), (len(services), len(edges)) == (n_svc, n_edges),
              (len(services), len(edges)))
        t0 = min(s["start"] for s in spans)
        t1 = max(s["end"] for s in spans)
        slot = now_min - slot_min * MIN_NS
        shift = slot + MIN_NS - t0 // MIN_NS * MIN_NS  # the first minute of the slot left free
        bad = []
        for body in otlp_bodies(spans, shift):
            ok, why = owl.post_traces(body)
            if not ok:
                bad.append(why)
        check("%s: posted to /v1/traces, no span refused" % name, not bad, bad[:2])
        readback(owl, name, spans)
        loaded[rel] = (spans, services, edges, t0, t1, shift, slot)
    for rel, _, _, _, _, _ in FILES:
        spans, services, edges, _, _, _, slot = loaded[rel]
        check_map(owl, os.path.basename(rel), slot, slot + SLOT_NS, services, edges)
    normal = loaded[FILES[1][0]]
    for rel, _, _, _, faults, field in FILES:
        if not faults:
            continue
        spans, _, _, t0, t1, shift, _ = loaded[rel]
        inj = injections(os.path.join(root, faults), field, t0, t1)
        check("%s: one labelled fault for the file" % os.path.basename(rel), len(inj) == 1, inj)
        if not inj:
            continue
        when, svc, kind = inj[0]
        w0 = max(when, t0) + shift
        w1 = t1 + shift + 1
        base = None
        if rel.startswith("trainticket/"):
            base = (normal[3] + normal[5], normal[4] + normal[5] + 1)
        rank_report(owl, "%s (%s in %s)" % (os.path.basename(rel), kind, svc), w0, w1, base,
                    svc)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())

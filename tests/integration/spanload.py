"""spanload.py — span ingest under kill -9 (t_traces_crash.sh).

  spanload.py put PORT KEY ACKS SECONDS   4 threads post OTLP JSON traces (5 spans each,
      2 traces a request, over two services) to /v1/traces until owld dies, SECONDS pass or
      each made 2,000 requests; each answered 200 appends its trace ids to ACKS (one line a
      request, after the answer). Prints one line a thread: its requests and why it ended
      ("owld died", "time", "count" or the status of a refused request).
  spanload.py verify PORT KEY ACKS        every acknowledged trace comes back whole: 5 spans,
      the right parents, from GET /api/v1/traces/{id}."""

import http.client
import json
import os
import sys
import threading
import time

from owltest import check, failures, note

mode, port, key, acks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()


def spans_of(tid, t0):
    """5 spans: root (front) -> call (front) -> serve (back) -> work, db (back)."""
    def sp(i, parent, name, kind, svc, off, dur):
        s = {"traceId": tid, "spanId": "%s%04x" % (tid[:12], i), "name": name, "kind": kind,
             "startTimeUnixNano": str(t0 + off), "endTimeUnixNano": str(t0 + off + dur),
             "attributes": [{"key": "i", "value": {"intValue": str(i)}}]}
        if parent:
            s["parentSpanId"] = "%s%04x" % (tid[:12], parent)
        return svc, s
    return [sp(1, 0, "GET /", 2, "front", 0, 9000000), sp(2, 1, "call", 3, "front", 1000, 8000000),
            sp(3, 2, "serve", 2, "back", 2000, 7000000), sp(4, 3, "work", 1, "back", 3000, 1000),
            sp(5, 3, "db", 3, "back", 4000, 2000)]


def body_of(tids):
    t0 = time.time_ns()
    by = {}
    for tid in tids:
        for svc, s in spans_of(tid, t0):
            by.setdefault(svc, []).append(s)
    return json.dumps({"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
         "scopeSpans": [{"spans": v}]} for svc, v in by.items()]})


MAX_REQUESTS = 2000
ENDS = {}


def worker(n, deadline):
    ENDS[n] = "count"
    c = None
    i = 0
    while i < MAX_REQUESTS:
        if time.time() >= deadline:
            ENDS[n] = "time"
            break
        tids = ["%08x%08x%016x" % (os.getpid(), n, i * 2 + k) for k in range(2)]
        i += 1
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/v1/traces", body_of(tids),
                      {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                note("status %d" % r.status)
                ENDS[n] = "status %d" % r.status
                return
            with lock, open(acks, "a") as f:
                f.write(" ".join(tids) + "\n")
        except (OSError, http.client.HTTPException):
            ENDS[n] = "owld died after %d requests" % i
            return  # what was answered is in ACKS


if mode == "put":
    secs = float(sys.argv[5])
    ts = [threading.Thread(target=worker, args=(n, time.time() + secs)) for n in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for n in sorted(ENDS):
        print("client %d: %s" % (n, ENDS[n]))
    sys.exit(0)

ids = [t for line in open(acks) for t in line.split()]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
bad = []
for tid in ids:
    c.request("GET", "/api/v1/traces/" + tid, headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    b = r.read()
    if r.status != 200:
        bad.append((tid, r.status))
        continue
    d = json.loads(b)
    got = [(s["name"], s["depth"]) for s in d["spans"]]
    if got != [("GET /", 0), ("call", 1), ("serve", 2), ("work", 3), ("db", 3)]:
        bad.append((tid, got))
check("every acknowledged trace (%d) comes back whole after kill -9" % len(ids),
      not bad and len(ids) > 0, bad[:5])
sys.exit(1 if failures() else 0)

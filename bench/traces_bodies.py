#!/usr/bin/env python3
"""traces_bodies.py — the spans of bench/traces.sh, built once before any clock.

Shapes come from the Nezha traces (../shared/data/other/nezha: OnlineBoutique and
TrainTicket span tables, SOURCE.md there): each trace of those files is a template (its spans'
services from the pod names, operations, parent links, start offsets and durations), replayed
with fresh random W3C ids and start times spread over yesterday (UTC) until there are enough
spans. The same spans are written three ways, in batches of --batch spans, as bench/loadgen
record files ("LEN ITEMS\\n" + body):
  pb.rec / json.rec   OTLP/HTTP ExportTraceServiceRequest, protobuf and JSON, grouped by
                      service (resource service.name) as an SDK exports them
  ch.rec              ClickHouse TabSeparated rows for bench/peers/clickhouse's spans_in
The first --spans spans are the ingest set; the next --extra spans (written to
extra_pb.rec / extra_ch.rec) only fill the store for the lookup. ids.txt: --sample trace ids
of the whole set (one a line), for lookups. Prints key=value facts.

  traces_bodies.py --data DIR --out DIR --spans N [--extra N] [--batch N] [--sample N]"""

import argparse
import csv
import json
import os
import random
import struct
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--spans", type=int, required=True)
ap.add_argument("--extra", type=int, default=0)
ap.add_argument("--batch", type=int, default=5000)
ap.add_argument("--sample", type=int, default=200)
a = ap.parse_args()

# ---- templates ----
templates = []
for f in ("onlineboutique/2022-08-22_05_19_trace.csv", "trainticket/2023-01-29_08_52_trace.csv",
          "trainticket/normal_2023-01-29_08_50_trace.csv"):
    path = os.path.join(a.data, "other", "nezha", f)
    if not os.path.exists(path):
        continue
    by = {}
    for r in csv.DictReader(open(path)):
        by.setdefault(r["TraceID"], []).append(r)
    for rows in by.values():
        t0 = min(int(r["StartTimeUnixNano"]) for r in rows)
        ids = {r["SpanID"]: i for i, r in enumerate(rows)}
        spans = []
        for r in rows:
            pod = r["PodName"]
            svc = "-".join(pod.split("-")[:-2]) or pod
            parent = ids.get(r["ParentID"], -1)
            start = int(r["StartTimeUnixNano"]) - t0
            dur = max(int(r["EndTimeUnixNano"]) - int(r["StartTimeUnixNano"]), 1000)
            spans.append((svc, r["OperationName"], parent, start, dur))
        templates.append(spans)
if not templates:
    sys.exit("no Nezha trace files under %s/other/nezha" % a.data)


# ---- protobuf (OTLP's field numbers) ----
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def fb(num, b):  # length-delimited
    return varint(num << 3 | 2) + varint(len(b)) + b


def fv(num, v):
    return varint(num << 3) + varint(v)


def f64(num, v):
    return varint(num << 3 | 1) + struct.pack("<Q", v)


def kv_pb(k, v):
    val = fv(3, v) if isinstance(v, int) else fb(1, v.encode())
    return fb(1, k.encode()) + fb(2, val)


def kv_json(k, v):
    return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}


KINDS = {2: "server", 3: "client", 1: "internal"}

os.makedirs(a.out, exist_ok=True)
rnd = random.Random(42)
day0 = (int(time.time()) // 86400 - 1) * 86400 * 10**9  # yesterday 00:00 UTC
span_gap = 20 * 3600 * 10**9 // max(a.spans + a.extra, 1)


def traces():
    """(trace id bytes, [(svc, op, parent index, start ns, dur, kind, span id)]) forever."""
    n = 0
    while True:
        for tpl in templates:
            tid = rnd.getrandbits(128).to_bytes(16, "big")
            base = day0 + n * span_gap
            sids = [rnd.getrandbits(64).to_bytes(8, "big") for _ in tpl]
            has_kids = {p for (_, _, p, _, _) in tpl if p >= 0}
            out = []
            for i, (svc, op, p, st, dur) in enumerate(tpl):
                kind = 2 if (p < 0 or tpl[p][0] != svc) else (3 if i in has_kids else 1)
                out.append((svc, op, p, base + st, dur, kind, sids[i]))
            n += len(tpl)
            yield tid, sids, out


def write_batch(spans, files):
    """spans: [(tid, sid, parent sid or None, svc, op, kind, start, dur, status)]"""
    by = {}
    for s in spans:
        by.setdefault(s[3], []).append(s)
    if "pb" in files:
        rs = b""
        for svc, ss in by.items():
            res = fb(1, fb(1, kv_pb("service.name", svc)) +
                     fb(1, kv_pb("telemetry.sdk.language", "java")))
            body = b""
            for (tid, sid, par, _, op, kind, st, dur, status) in ss:
                sp = fb(1, tid) + fb(2, sid) + (fb(4, par) if par else b"") + fb(5, op.encode())
                sp += fv(6, kind) + f64(7, st) + f64(8, st + dur)
                if kind == 2:
                    sp += fb(9, kv_pb("http.request.method", "GET")) + \
                        fb(9, kv_pb("http.route", op)) + \
                        fb(9, kv_pb("http.response.status_code", 500 if status else 200))
                if status:
                    sp += fb(15, fv(3, 2))
                body += fb(2, sp)
            rs += fb(1, res + fb(2, fb(1, fb(1, b"nezha")) + body))
        files["pb"].write(b"%d %d\n" % (len(rs), len(spans)) + rs + b"\n")
    if "json" in files:
        rs = []
        for svc, ss in by.items():
            js = []
            for (tid, sid, par, _, op, kind, st, dur, status) in ss:
                o = {"traceId": tid.hex(), "spanId": sid.hex(), "name": op, "kind": kind,
                     "startTimeUnixNano": str(st), "endTimeUnixNano": str(st + dur)}
                if par:
                    o["parentSpanId"] = par.hex()
                if kind == 2:
                    o["attributes"] = [kv_json("http.request.method", "GET"),
                                       kv_json("http.route", op),
                                       kv_json("http.response.status_code",
                                               500 if status else 200)]
                if status:
                    o["status"] = {"code": 2}
                js.append(o)
            rs.append({"resource": {"attributes": [kv_json("service.name", svc),
                                                   kv_json("telemetry.sdk.language", "java")]},
                       "scopeSpans": [{"scope": {"name": "nezha"}, "spans": js}]})
        b = json.dumps({"resourceSpans": rs}, separators=(",", ":")).encode()
        files["json"].write(b"%d %d\n" % (len(b), len(spans)) + b + b"\n")
    if "ch" in files:
        rows = []
        for (tid, sid, par, svc, op, kind, st, dur, status) in spans:
            rows.append("\t".join((tid.hex(), sid.hex(), (par or bytes(8)).hex(), svc,
                                   op.replace("\t", " "), KINDS[kind], str(st), str(dur),
                                   "fault" if status else "ok", "GET" if kind == 2 else "",
                                   op if kind == 2 else "", str(500 if status else 200)
                                   if kind == 2 else "0", "", "{}")))
        b = ("\n".join(rows) + "\n").encode()
        files["ch"].write(b"%d %d\n" % (len(b), len(spans)) + b + b"\n")


def emit(total, files, sample, first):
    gen = traces()
    batch, made, reqs = [], 0, 0
    last = None
    while made < total:
        tid, sids, out = next(gen)
        if rnd.random() < 0.02:  # some traces fail
            fail = rnd.randrange(len(out))
        else:
            fail = -1
        for i, (svc, op, p, st, dur, kind, sid) in enumerate(out):
            batch.append((tid, sid, out[p][6] if p >= 0 else None, svc, op, kind, st, dur,
                          i == fail))
        made += len(out)
        last = tid
        if len(sample) < a.sample * 4 and rnd.random() < 0.05:
            sample.append(tid.hex())
        if len(batch) >= a.batch:
            write_batch(batch, files)
            reqs += 1
            batch = []
    if batch:
        write_batch(batch, files)
        reqs += 1
    return made, reqs, last


sample = []
files = {k: open(os.path.join(a.out, k + ".rec"), "wb") for k in ("pb", "json", "ch")}
n, reqs, last = emit(a.spans, files, sample, True)
for f in files.values():
    f.close()
print("spans=%d" % n)
print("requests=%d" % reqs)
print("last_trace=%s" % last.hex())
for k in ("pb", "json", "ch"):
    print("%s_bytes=%d" % (k, os.path.getsize(os.path.join(a.out, k + ".rec"))))
if a.extra:
    files = {k: open(os.path.join(a.out, "extra_" + k + ".rec"), "wb") for k in ("pb", "ch")}
    n2, reqs2, _ = emit(a.extra, files, sample, False)
    for f in files.values():
        f.close()
    print("extra_spans=%d" % n2)
    print("extra_requests=%d" % reqs2)
rnd.shuffle(sample)
open(os.path.join(a.out, "ids.txt"), "w").write("\n".join(sample[:a.sample]) + "\n")
print("templates=%d" % len(templates))

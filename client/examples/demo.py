#!/usr/bin/env python3
"""demo.py — `make demo`: owl seen working end to end (client/examples/README.md).

Starts owld (a temporary data directory, a free loopback port) and the four example services
(frontend -> orders -> inventory, orders -> payments -> its database), instrumented with
libowl and exporting to that owld; drives checkouts with the load generator; stops the
services (they flush as they exit); then asks owld and prints the service map as text, one
edge per line, the top bottleneck and the root cause of the faults, the log lines of one
trace across the services, and the path of an SVG of the map drawn with Graphviz.

  demo.py [--requests N] [--concurrency C] [--fail-share S] [--dir DIR] [--check]

Everything it makes (owld's data and log, the services' logs, the map's DOT and SVG) stays in
DIR (default: a new temporary directory, printed).

OWLD and EXAMPLES (the directory of the built examples) come from the environment (`make
demo` sets them). --check exits 1 unless what issue 16 asks of the demo holds (the map's
services and edges, the payments fault rate within 2 points of the injected share, a trace's
log lines found by its id); tests/integration/t_demo.sh runs it so.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICES = ("inventory", "payments", "orders", "frontend")  # callees first


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Owld:
    def __init__(self, binary, data):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(data, "owld.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:%d" % self.port, "--data-dir",
             os.path.join(data, "owl-data"), "--xray-daemon", "off",
             # a client span waits this long for a server span under it before it counts as
             # a call to a virtual node (the payments database); 30 s by default
             "--service-graph-ttl", "3"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                if self.get("/healthz", raw=True):
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        else:
            raise SystemExit("owld did not start: see %s" % self.log.name)
        with open(os.path.join(data, "owl-data", "admin.key")) as f:
            self.key = f.read().strip()

    def get(self, path, raw=False, **params):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        if not raw:
            req.add_header("Authorization", "Bearer " + self.key)
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return body if raw or not body.startswith((b"{", b"[")) else json.loads(body)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def ms(n):
    return "%.1f ms" % (n / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--fail-share", type=float, default=0.1)
    ap.add_argument("--dir", help="where to keep owld's data, the logs and the SVG")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the demo's points hold")
    a = ap.parse_args()
    owld_bin = os.environ.get("OWLD", "server/owld")
    ex = os.environ.get("EXAMPLES", "client/examples")
    tmp = a.dir or tempfile.mkdtemp(prefix="owl-demo.")
    os.makedirs(tmp, exist_ok=True)
    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)
            print("  CHECK FAILED: " + what)

    owld = Owld(owld_bin, tmp)
    ports = {s: free_port() for s in SERVICES}
    env = dict(os.environ, OWL_ENDPOINT=owld.base, OWL_API_KEY=owld.key,
               OWL_EXPORT_INTERVAL="500", OWL_METRICS_INTERVAL="2000",
               PAYMENTS_FAIL_SHARE=str(a.fail_share))
    for s in SERVICES:
        env[s.upper() + "_PORT"] = str(ports[s])
    print("owl demo: owld on %s (data in %s)" % (owld.base, tmp))
    print("services: " + ", ".join("%s :%d" % (s, ports[s]) for s in reversed(SERVICES)))
    procs = {}
    try:
        for s in SERVICES:
            procs[s] = subprocess.Popen([os.path.join(ex, s)], env=env,
                                        stderr=open(os.path.join(tmp, s + ".log"), "w"))
        for s in SERVICES:  # each answers once it listens
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", ports[s]), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
        t0 = int(time.time() * 1000) - 1000
        lg = subprocess.run([os.path.join(ex, "loadgen")], env=dict(
            env, REQUESTS=str(a.requests), CONCURRENCY=str(a.concurrency)),
            capture_output=True, text=True, timeout=600)
        print(lg.stdout.strip())
        for s in reversed(SERVICES):  # they flush what they hold as they stop
            procs[s].send_signal(signal.SIGTERM)
            procs[s].wait(timeout=30)
        for s in SERVICES:
            with open(os.path.join(tmp, s + ".log")) as f:
                last = [l for l in f.read().splitlines() if l.startswith(s + ": stopped")]
            print("  " + (last[0] if last else s + ": no stop line"))
        t1 = int(time.time() * 1000) + 60000

        # the map, once owld holds every checkout's trace and the database calls have waited
        # out the service graph's TTL
        want = a.requests
        for _ in range(150):
            m = owld.get("/api/v1/servicemap", start=t0, end=t1)
            front = [n for n in m["services"] if n["name"] == "frontend"]
            db = [e for e in m["edges"] if e["source"] == "payments"]
            if front and front[0]["requests"] >= want and db and db[0]["requests"] >= want:
                break
            time.sleep(0.2)
        print("\nservice map, one edge per line (calls, errors, faults, p50 / p99):")
        edges = {(e["source"], e["target"]): e for e in m["edges"]}
        for (src, dst), e in sorted(edges.items()):
            print("  %-9s -> %-22s %5d calls %4d errors %4d faults (%4.1f%%)  p50 %6.1f ms  "
                  "p99 %6.1f ms" % (src, dst, e["requests"], e["errors"], e["faults"],
                                    100 * e["faultRate"], e["p50"], e["p99"]))
        names = {n["name"] for n in m["services"]}
        expect({"frontend", "orders", "inventory", "payments"} <= names,
               "the map has the four services (has %s)" % sorted(names))
        for edge in (("frontend", "orders"), ("orders", "inventory"), ("orders", "payments")):
            expect(edge in edges and edges[edge]["requests"] == want,
                   "%s -> %s has %d calls" % (edge + (want,)))
        db = [k for k in edges if k[0] == "payments" and k[1] != "orders"]
        expect(len(db) == 1, "payments -> its database is an edge (%s)" % db)
        pay = [n for n in m["services"] if n["name"] == "payments"]
        if pay:
            rate = pay[0]["faultRate"]
            print("\npayments fault rate %.1f%% (injected %.1f%%)" % (100 * rate,
                                                                        100 * a.fail_share))
            expect(abs(rate - a.fail_share) <= 0.02,
                   "payments' fault rate within 2 points of the injected share")

        b = owld.get("/api/v1/bottlenecks", start=t0, end=t1)
        if b.get("overall"):
            top = b["overall"][0]
            print("top bottleneck: %s \"%s\", %.0f%% of the critical path (%s a trace)" % (
                top["service"], top["operation"], 100 * top["share"], ms(top["meanSelfNanos"])))
            expect(top["service"] == "inventory", "the top bottleneck is inventory's")
        rc = owld.get("/api/v1/rootcause", start=t0, end=t1)
        if rc.get("faults"):
            f = rc["faults"][0]
            print("root cause of faults: %s \"%s\" %s: %s (%d of %d faulted traces)" % (
                f["service"], f["operation"], f["exceptionType"], f["message"], f["count"],
                rc["faultTraces"]))
            expect(f["service"] == "payments", "the root cause of the faults is payments'")
        else:
            expect(False, "rootcause lists the faults")

        # one faulted trace's log lines, found by its id
        tid = rc["faults"][0]["examples"][0] if rc.get("faults") else None
        if tid:
            logs = owld.get("/api/v1/traces/%s/logs" % tid)
            ev = logs.get("events", [])
            groups = sorted({e.get("group", "?") for e in ev})
            print("\nlog lines of trace %s (GET /api/v1/traces/%s/logs): %d, from %s" % (
                tid, tid, len(ev), ", ".join(groups)))
            for e in ev[:8]:
                print("  %s %-16s %-5s %s" % (str(e["time"])[11:23], e.get("group", ""),
                                              e.get("severity", ""), e["message"]))
            expect(len(ev) >= 4 and all(e.get("trace_id") == tid for e in ev),
                   "the trace's log lines are found by its id")

        svg = owld.get("/api/v1/servicemap", raw=False, start=t0, end=t1, format="dot")
        dot_path = os.path.join(tmp, "servicemap.dot")
        with open(dot_path, "wb") as f:
            f.write(svg if isinstance(svg, bytes) else json.dumps(svg).encode())
        svg_path = os.path.join(tmp, "servicemap.svg")
        if shutil.which("dot"):
            subprocess.run(["dot", "-Tsvg", dot_path, "-o", svg_path], check=True)
        else:
            with open(svg_path, "wb") as f:
                f.write(owld.get("/api/v1/servicemap", start=t0, end=t1, format="svg"))
        print("\nservice map as SVG (Graphviz): %s" % svg_path)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        owld.stop()
    if failures:
        print("\n%d check(s) failed (logs in %s)" % (len(failures), tmp))
        return 1 if a.check else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""metrics_client.py — the metrics benchmarks' load and query client (bench/metrics.sh).

  metrics_client.py make VMJSON OUTDIR PER_REQUEST
      turns bench/datasets/metrics.py's VictoriaMetrics JSON lines into request bodies, the
      same samples for both: OUTDIR/owl-N.json (owl's native bulk form, POST /api/v1/metrics,
      namespace "bench", metric name = __name__, dimensions = the labels) and OUTDIR/vm-N.jsonl
      (VictoriaMetrics /api/v1/import), PER_REQUEST series per body. Prints samples=N.
  metrics_client.py send URL HEADER OUTDIR PREFIX CONNECTIONS
      POSTs every OUTDIR/PREFIX-*.json* over CONNECTIONS keep-alive connections; prints
      seconds=S requests=N (every answer must be 2xx, else exit 1). HEADER is "Name: value"
      or "-".
  metrics_client.py time URL HEADER RUNS
      GETs URL RUNS times; prints the median and p90 latency in ms (median_ms=, p90_ms=) and
      the body's length of the last answer.
"""
import glob
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def make(vmjson, outdir, per):
    os.makedirs(outdir, exist_ok=True)
    owl, vm, n, k, samples = [], [], 0, 0, 0

    def flush():
        nonlocal owl, vm, k
        if not owl:
            return
        with open(os.path.join(outdir, "owl-%05d.json" % k), "w") as f:
            json.dump({"metrics": owl}, f, separators=(",", ":"))
        with open(os.path.join(outdir, "vm-%05d.jsonl" % k), "w") as f:
            f.write("".join(vm))
        owl, vm, k = [], [], k + 1

    with open(vmjson) as f:
        for line in f:
            d = json.loads(line)
            labels = dict(d["metric"])
            name = labels.pop("__name__")
            owl.append({"namespace": "bench", "name": name, "dimensions": labels,
                        "timestamps": d["timestamps"], "values": d["values"]})
            vm.append(line)
            samples += len(d["values"])
            n += 1
            if n % per == 0:
                flush()
    flush()
    print("samples=%d" % samples)
    print("bodies=%d" % k)


def send(url, header, outdir, prefix, conns):
    u = urllib.parse.urlsplit(url)
    files = sorted(glob.glob(os.path.join(outdir, prefix + "-*")))
    bodies = [open(p, "rb").read() for p in files]
    headers = {"Content-Type": "application/json"}
    if header != "-":
        k, v = header.split(":", 1)
        headers[k.strip()] = v.strip()
    lock = threading.Lock()
    nxt = [0]
    errors = []

    def worker():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        while True:
            with lock:
                if nxt[0] >= len(bodies) or errors:
                    break
                b = bodies[nxt[0]]
                nxt[0] += 1
            c.request("POST", u.path, body=b, headers=headers)
            r = c.getresponse()
            data = r.read()
            if r.status // 100 != 2:
                with lock:
                    errors.append((r.status, data[:300]))
        c.close()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        print("errors=%s" % errors[:3], file=sys.stderr)
        sys.exit(1)
    print("seconds=%.6f" % dt)
    print("requests=%d" % len(bodies))


def timeit(url, header, runs):
    u = urllib.parse.urlsplit(url)
    headers = {}
    if header != "-":
        k, v = header.split(":", 1)
        headers[k.strip()] = v.strip()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    path = u.path + ("?" + u.query if u.query else "")
    lat = []
    body = b""
    for _ in range(runs):
        t0 = time.perf_counter()
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        body = r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            print("status=%d %s" % (r.status, body[:300]), file=sys.stderr)
            sys.exit(1)
    lat.sort()
    print("median_ms=%.3f" % lat[len(lat) // 2])
    print("p90_ms=%.3f" % lat[min(len(lat) - 1, int(len(lat) * 0.9))])
    print("bytes=%d" % len(body))
    sys.stdout.flush()
    sys.stderr.write(body.decode(errors="replace") + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    elif cmd == "time":
        timeit(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("unknown command " + cmd)

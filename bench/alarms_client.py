#!/usr/bin/env python3
"""alarms_client.py — the alarm benchmark's data, load and latency client (bench/alarms.sh).

Series i of N is Bench/Value{id=i} (owl) or bench_value{id="i"} (Prometheus); its value is
value(i) and its alarm fires when value(i) > threshold(i), so owl's alarm alarm-i and the
Prometheus rule BenchAlarm_i agree on every series.

  alarms_client.py feed URL KEY N STAMPS CONNS
      POST /api/v1/metrics: every series gets value(i) at each of STAMPS (epoch ms, comma
      separated), 1,000 series a body over CONNS keep-alive connections. Prints seconds=.
  alarms_client.py create URL KEY N CONNS
      PutMetricAlarm (AWS JSON 1.0, Bearer key) of alarm-i for i < N over CONNS keep-alive
      connections. Prints seconds=, the 2xx count and, when not every answer was 2xx, the
      first error (exit 1); the rate of each tenth goes to stderr.
  alarms_client.py check URL KEY N SAMPLE
      DescribeAlarms of SAMPLE alarms spread over 0..N-1 (100 names a request): prints how
      many are in the state value/threshold decide (ok=, wrong=, states=).
  alarms_client.py expected N          the number of series whose alarm fires
  alarms_client.py expo FILE N         Prometheus text exposition of the N series' values
  alarms_client.py rules FILE N        one rule group of N alerting rules (interval from
                                       the global evaluation_interval)
  alarms_client.py serve PORTFILE FILE serves FILE at every path on a free loopback port
                                       (a static exposition for Prometheus to scrape)
  alarms_client.py latency owl URL KEY K SAMPLES OUT
  alarms_client.py latency prom K SAMPLES OUT PORTFILE
      the breach-to-webhook latency; see latency_owl and latency_prom. Writes one line per
      sample to OUT and prints p50_ms=, p99_ms=, samples=.
"""
import http.client
import json
import math
import os
import random
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def value(i):
    return (i * 37) % 100


def threshold(i):
    return 40 + (i * 13) % 21


def fires(i):
    return value(i) > threshold(i)


def conn_of(url):
    u = urllib.parse.urlsplit(url)
    return u, lambda: http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def run_requests(url, bodies, headers, conns, what=""):
    """POSTs every body of the list over conns keep-alive connections; returns (seconds,
    2xx count, first error or None). With what, each tenth done is reported on stderr with
    its rate."""
    u, mk = conn_of(url)
    lock = threading.Lock()
    nxt = [0]
    good = [0]
    errors = []
    tenth = max(1, len(bodies) // 10)
    mark = [time.perf_counter()]

    def worker():
        c = mk()
        while True:
            with lock:
                if nxt[0] >= len(bodies) or errors:
                    break
                b = bodies[nxt[0]]
                nxt[0] += 1
            c.request("POST", u.path or "/", body=b, headers=headers)
            r = c.getresponse()
            data = r.read()
            with lock:
                if r.status // 100 == 2:
                    good[0] += 1
                    if what and good[0] % tenth == 0:
                        t = time.perf_counter()
                        sys.stderr.write("  %s %d of %d (%.0f/s over the last %d)\n"
                                         % (what, good[0], len(bodies), tenth / (t - mark[0]), tenth))
                        mark[0] = t
                else:
                    errors.append("HTTP %d %s" % (r.status, data[:300]))
        c.close()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, good[0], (errors[0] if errors else None)


def feed(url, key, n, stamps, conns):
    ts = [int(s) for s in stamps.split(",")]
    bodies = []
    for lo in range(0, n, 1000):
        ms = [{"namespace": "Bench", "name": "Value", "dimensions": {"id": str(i)},
               "timestamps": ts, "values": [value(i)] * len(ts)} for i in range(lo, min(n, lo + 1000))]
        bodies.append(json.dumps({"metrics": ms}, separators=(",", ":")).encode())
    hdr = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    secs, good, err = run_requests(url + "/api/v1/metrics", bodies, hdr, conns)
    if err:
        sys.exit("feed: " + err)
    print("seconds=%.6f" % secs)
    print("datapoints=%d" % (n * len(ts)))


def json10(op, key):
    return {"Authorization": "Bearer " + key, "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "GraniteServiceVersion20100801." + op}


def create(url, key, n, conns):
    bodies = [json.dumps({"AlarmName": "alarm-%d" % i, "Namespace": "Bench", "MetricName": "Value",
                          "Dimensions": [{"Name": "id", "Value": str(i)}], "Statistic": "Average",
                          "Period": 60, "EvaluationPeriods": 1, "Threshold": threshold(i),
                          "ComparisonOperator": "GreaterThanThreshold"}).encode() for i in range(n)]
    secs, good, err = run_requests(url + "/", bodies, json10("PutMetricAlarm", key), conns, "created")
    print("seconds=%.6f" % secs)
    print("created=%d" % good)
    if err:
        print("error=%s" % err)
        sys.exit(1)


def check(url, key, n, sample):
    u, mk = conn_of(url)
    c = mk()
    # spread over 0..n-1 with a step coprime with value()'s period, so both states show
    idx = sorted({(j * 7919) % n for j in range(min(sample, n))})
    ok, wrong, states = 0, [], {}
    for lo in range(0, len(idx), 100):
        names = ["alarm-%d" % i for i in idx[lo:lo + 100]]
        c.request("POST", "/", body=json.dumps({"AlarmNames": names, "MaxRecords": 100}),
                  headers=json10("DescribeAlarms", key))
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit("DescribeAlarms: HTTP %d %s" % (r.status, data[:300]))
        for a in json.loads(data)["MetricAlarms"]:
            i = int(a["AlarmName"].split("-")[1])
            st = a["StateValue"]
            states[st] = states.get(st, 0) + 1
            if st == ("ALARM" if fires(i) else "OK"):
                ok += 1
            else:
                wrong.append("%s=%s" % (a["AlarmName"], st))
    print("asked=%d" % len(idx))
    print("ok=%d" % ok)
    print("wrong=%d %s" % (len(wrong), " ".join(wrong[:5])))
    print("states=%s" % ",".join("%s:%d" % kv for kv in sorted(states.items())))


def expo(path, n):
    with open(path, "w") as f:
        f.write("# TYPE bench_value gauge\n")
        for i in range(n):
            f.write('bench_value{id="%d"} %d\n' % (i, value(i)))


def rules(path, n):
    with open(path, "w") as f:
        f.write("groups:\n  - name: bench\n    rules:\n")
        for i in range(n):
            f.write("      - alert: BenchAlarm_%d\n        expr: avg_over_time(bench_value{id=\"%d\"}[1m]) > %d\n"
                    % (i, i, threshold(i)))


class Static(BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def listen(handler, portfile):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    return srv


def serve(portfile, path):
    Static.body = open(path, "rb").read()
    listen(Static, portfile).serve_forever()


# ---- latency: a breaching datapoint to the webhook POST ----

class Receiver:
    """A loopback webhook receiver in this process: arrivals are time.monotonic_ns() of the
    moment a POST's body was read, so they compare with the sender's clock directly."""

    def __init__(self):
        self.cv = threading.Condition()
        self.got = []  # (monotonic ns, key, state)
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                t = time.monotonic_ns()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                for key, state in rec.parse(self.path, body):
                    with rec.cv:
                        rec.got.append((t, key, state))
                        rec.cv.notify_all()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    @staticmethod
    def parse(path, body):
        d = json.loads(body)
        if "AlarmName" in d:  # owl: one alarm a POST
            return [(d["AlarmName"], d["NewStateValue"])]
        # Alertmanager: a group of alerts, each firing or resolved
        return [("lat-" + a["labels"]["id"], "ALARM" if a["status"] == "firing" else "OK")
                for a in d.get("alerts", [])]

    def wait(self, key, state, after_ns, timeout_s):
        """The arrival (monotonic ns) of the first POST for key in state at or after after_ns,
        or None after timeout_s."""
        end = time.monotonic() + timeout_s
        with self.cv:
            while True:
                for t, k, s in self.got:
                    if k == key and s == state and t >= after_ns:
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)


def sleep_to_boundary(step_s, past_s):
    """Sleeps until past_s after a multiple of step_s seconds (wall clock): the last one when
    that moment is still ahead, else the next. Returns that boundary in epoch ms."""
    now = time.time()
    b = math.ceil((now - past_s) / step_s) * step_s
    time.sleep(max(0.0, b + past_s - now))
    return int(b * 1000)


def percentile(v, p):
    """The nearest-rank percentile: the smallest value with at least p% of v at or below it."""
    v = sorted(v)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100.0 * len(v)) - 1))]


def report(lat_ms, extra=""):
    print("samples=%d" % len(lat_ms))
    print("p50_ms=%.3f" % percentile(lat_ms, 50))
    print("p99_ms=%.3f" % percentile(lat_ms, 99))
    print("max_ms=%.3f" % max(lat_ms))
    if extra:
        print(extra)


def latency_owl(url, key, k, samples, out):
    """K alarms lat-j on Bench/Latency{id=j} (resolution 1, Period 10, Maximum > 100,
    notBreaching), AlarmActions and OKActions posting here, on series that already hold a low
    datapoint. Each sample takes the next alarm:
    just after a 10 s boundary it puts 200 stamped 5 s before the boundary (the period that
    just completed, so the alarm can decide at once) and times the answer's arrival to the
    ALARM POST; then it puts 1 in the current period and waits for the OK POST (at the next
    boundary) before the next sample (not after the last)."""
    rec = Receiver()
    u, mk = conn_of(url)
    c = mk()

    def call(path, body, headers):
        c.request("POST", path, body=json.dumps(body), headers=headers)
        r = c.getresponse()
        data = r.read()
        if r.status // 100 != 2:
            sys.exit("latency: %s: HTTP %d %s" % (path, r.status, data[:300]))

    hook = "http://127.0.0.1:%d" % rec.port
    put_hdr = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def put(j, ts, v):
        t0 = time.monotonic_ns()
        call("/api/v1/metrics", {"metrics": [{"namespace": "Bench", "name": "Latency",
                                             "dimensions": {"id": str(j)}, "resolution": 1,
                                             "timestamp": ts, "value": v}]}, put_hdr)
        return t0, time.monotonic_ns()

    # the series exist before the alarms, as a watched metric does (and as Prometheus' series
    # do from their first scrape): each gets one low datapoint now
    for j in range(k):
        put(j, int(time.time() * 1000), 1)
    t_start = time.monotonic_ns()
    for j in range(k):
        call("/", {"AlarmName": "lat-%d" % j, "Namespace": "Bench", "MetricName": "Latency",
                   "Dimensions": [{"Name": "id", "Value": str(j)}], "Statistic": "Maximum",
                   "Period": 10, "EvaluationPeriods": 1, "Threshold": 100,
                   "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                   "AlarmActions": [hook + "/alarm/%d" % j], "OKActions": [hook + "/ok/%d" % j]},
             json10("PutMetricAlarm", key))
    # every alarm leaves INSUFFICIENT_DATA for OK at its first evaluation
    for j in range(k):
        if rec.wait("lat-%d" % j, "OK", t_start, 30) is None:
            sys.exit("latency: no OK POST for lat-%d within 30 s of its creation" % j)

    lat = []
    with open(out, "w") as f:
        for s in range(samples):
            j = s % k
            b = sleep_to_boundary(10, 0.05)
            sent, acked = put(j, b - 5000, 200)
            got = rec.wait("lat-%d" % j, "ALARM", sent, 30)
            if got is None:
                sys.exit("latency: sample %d: no ALARM POST for lat-%d within 30 s" % (s, j))
            ms = (got - acked) / 1e6
            lat.append(ms)
            f.write("sample=%d alarm=lat-%d put_ms=%.3f ack_to_post_ms=%.3f sent_to_post_ms=%.3f\n"
                    % (s, j, (acked - sent) / 1e6, ms, (got - sent) / 1e6))
            t_low, _ = put(j, int(time.time() * 1000), 1)
            if s + 1 < samples and rec.wait("lat-%d" % j, "OK", t_low, 30) is None:
                sys.exit("latency: sample %d: lat-%d did not come back to OK within 30 s" % (s, j))
    report(lat)


class Exposition:
    """The Prometheus side's target: bench_lat{id=j} for j < K, each 1 unless breached; every
    scrape is timed (monotonic ns when its body was built), so a breach's first scrape is known."""

    def __init__(self, k):
        self.lock = threading.Lock()
        self.vals = [1] * k
        self.scrapes = []  # (monotonic ns, tuple of values)
        ex = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                with ex.lock:
                    vals = tuple(ex.vals)
                    ex.scrapes.append((time.monotonic_ns(), vals))
                body = "".join('bench_lat{id="%d"} %d\n' % (j, v) for j, v in enumerate(vals)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def set(self, j, v):
        with self.lock:
            self.vals[j] = v
            return time.monotonic_ns()

    def first_scrape(self, j, v, after_ns):
        with self.lock:
            for t, vals in self.scrapes:
                if t >= after_ns and vals[j] == v:
                    return t
        return None


def latency_prom(k, samples, out, portfile):
    """The same breach through Prometheus and Alertmanager: this process serves the target
    (its port in PORTFILE.target) and the webhook (PORTFILE.hook), and waits until
    bench/alarms.sh has started them and written Prometheus' URL to PORTFILE.go. Each sample
    takes the next series: 5 to 6 s after a 10 s boundary (half-way between owl's samples, which
    run at the same time; at a seeded random point of the second, as Prometheus scrapes and
    evaluates at fixed points of each second and a fixed moment would measure only one of
    them) it sets bench_lat{id=j} to 200, so from then on a scrape sees it, and
    times that moment, and the first scrape that carried it, to the firing POST; then it sets
    the value back to 1. A series used again is first waited on until its alert resolved."""
    rec = Receiver()
    ex = Exposition(k)
    for name, port in (("target", ex.port), ("hook", rec.port)):
        with open(portfile + "." + name + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(portfile + "." + name + ".tmp", portfile + "." + name)
    for _ in range(1200):
        if os.path.exists(portfile + ".go"):
            break
        time.sleep(0.1)
    else:
        sys.exit("latency prom: Prometheus and Alertmanager were not started within 120 s")
    time.sleep(0.2)
    prom = open(portfile + ".go").read().strip()
    pu, pmk = conn_of(prom)
    pc = pmk()
    for _ in range(300):  # Prometheus has scraped every series at least once
        pc.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": "count(bench_lat)"}))
        r = json.loads(pc.getresponse().read())["data"]["result"]
        if r and int(float(r[0]["value"][1])) == k:
            break
        time.sleep(0.1)
    else:
        sys.exit("latency prom: Prometheus does not show the %d bench_lat series" % k)
    lat, lat_scrape, low_at = [], [], {}
    phase = random.Random(42)
    with open(out, "w") as f:
        for s in range(samples):
            j = s % k
            # max_over_time(...[10s]) holds a breach for 10 s after its last scrape
            if j in low_at and rec.wait("lat-%d" % j, "OK", low_at[j], 40) is None:
                sys.exit("latency prom: sample %d: id %d was not resolved within 40 s" % (s, j))
            sleep_to_boundary(10, 5 + phase.random())
            shown = ex.set(j, 200)
            got = rec.wait("lat-%d" % j, "ALARM", shown, 30)
            if got is None:
                sys.exit("latency prom: sample %d: no firing POST for id %d within 30 s" % (s, j))
            scraped = ex.first_scrape(j, 200, shown)
            ms, sms = (got - shown) / 1e6, (got - scraped) / 1e6
            lat.append(ms)
            lat_scrape.append(sms)
            f.write("sample=%d id=%d shown_to_post_ms=%.3f scrape_to_post_ms=%.3f\n" % (s, j, ms, sms))
            low_at[j] = ex.set(j, 1)
    report(lat, "scrape_p50_ms=%.3f\nscrape_p99_ms=%.3f"
           % (percentile(lat_scrape, 50), percentile(lat_scrape, 99)))


if __name__ == "__main__":
    a = sys.argv[1:]
    cmd = a[0] if a else ""
    if cmd == "feed":
        feed(a[1], a[2], int(a[3]), a[4], int(a[5]))
    elif cmd == "create":
        create(a[1], a[2], int(a[3]), int(a[4]))
    elif cmd == "check":
        check(a[1], a[2], int(a[3]), int(a[4]))
    elif cmd == "expected":
        print(sum(1 for i in range(int(a[1])) if fires(i)))
    elif cmd == "expo":
        expo(a[1], int(a[2]))
    elif cmd == "rules":
        rules(a[1], int(a[2]))
    elif cmd == "serve":
        serve(a[1], a[2])
    elif cmd == "latency" and a[1] == "owl":
        latency_owl(a[2], a[3], int(a[4]), int(a[5]), a[6])
    elif cmd == "latency" and a[1] == "prom":
        latency_prom(int(a[2]), int(a[3]), a[4], a[5])
    else:
        sys.exit(__doc__)

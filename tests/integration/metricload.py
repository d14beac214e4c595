"""metricload.py — a bounded metric write load for t_metrics_crash.sh, and its check.

  metricload.py put PORT KEY ACKS SECONDS   threads of PutMetricData (AWS JSON 1.0, signed
        with SigV4 like an SDK) and native POST /api/v1/metrics requests, each request
        100 datapoints of its own series; every acknowledged (200) request is appended to
        ACKS as "series count" (flushed at once). Stops after SECONDS, 3,000 requests, or
        when owld goes away (connection errors end the run; exit 0).
  metricload.py verify PORT KEY ACKS        every acknowledged datapoint reads back:
        SampleCount per series >= what ACKS says was acknowledged."""

import datetime
import json
import sys
import threading
import time
import urllib.error
import urllib.request

from owltest import check, failures

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PER_REQUEST = 100


def put(port, key, acks, seconds):
    kid, secret = key.split(":", 1)
    base = "http://127.0.0.1:%d" % port
    lock = threading.Lock()
    out = open(acks, "a")
    deadline = time.time() + seconds
    counter = [0]

    def worker(w):
        while time.time() < deadline:
            with lock:
                if counter[0] >= 3000:
                    return
                n = counter[0]
                counter[0] += 1
            series = "s%d" % (n % 40)
            now = time.time()
            if n % 2:  # CloudWatch JSON 1.0
                body = json.dumps({"Namespace": "Crash", "MetricData": [
                    {"MetricName": series, "Value": float(i), "Timestamp": now - i * 0.01}
                    for i in range(PER_REQUEST)]}).encode()
                req = AWSRequest(method="POST", url=base + "/", data=body, headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"})
                SigV4Auth(Credentials(kid, secret), "monitoring", "us-east-1").add_auth(req)
                r = urllib.request.Request(base + "/", data=body, method="POST",
                                           headers=dict(req.headers))
            else:  # native bulk form
                ms = int(now * 1000)
                body = json.dumps({"metrics": [{"namespace": "Crash", "name": series,
                                                "timestamps": [ms - i for i in range(PER_REQUEST)],
                                                "values": [float(i) for i in range(PER_REQUEST)]}]}
                                  ).encode()
                r = urllib.request.Request(base + "/api/v1/metrics", data=body, method="POST",
                                           headers={"Authorization": "Bearer " + key,
                                                    "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(r, timeout=10) as resp:
                    if resp.status == 200:
                        with lock:
                            out.write("%s %d\n" % (series, PER_REQUEST))
                            out.flush()
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # owld went away

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    return 0


def verify(port, key, acks):
    want = {}
    for line in open(acks):
        s, c = line.split()
        want[s] = want.get(s, 0) + int(c)
    total_want = sum(want.values())
    end = int(time.time() * 1000) + 60000
    start = end - 3600 * 1000
    short = []
    for s, c in sorted(want.items()):
        url = ("http://127.0.0.1:%d/api/v1/metrics/query?namespace=Crash&name=%s&period=3600"
               "&stat=SampleCount&start=%d&end=%d" % (port, s, start, end))
        r = urllib.request.Request(url, headers={"Authorization": "Bearer " + key})
        with urllib.request.urlopen(r, timeout=30) as resp:
            d = json.load(resp)["datapoints"]
        got = sum(p["SampleCount"] for p in d)
        if got < c:
            short.append((s, c, got))
    check("every acknowledged datapoint reads back after kill -9 (%d datapoints in %d series)"
          % (total_want, len(want)), not short, short[:5])
    return 1 if failures() else 0


if __name__ == "__main__":
    cmd, port, key, acks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if cmd == "put":
        sys.exit(put(port, key, acks, float(sys.argv[5])))
    sys.exit(verify(port, key, acks))

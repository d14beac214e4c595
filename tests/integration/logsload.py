"""logsload.py — a bounded PutLogEvents load for t_logs_crash.sh, and its check.

  logsload.py put PORT KEY ACKS SECONDS   4 threads, each putting batches of 50 events into a
        stream of its own of group /crash (boto3, JSON 1.1); every acknowledged batch is
        appended to ACKS as "stream first-seq count" (flushed at once). Stops after SECONDS,
        3,000 batches, or when owld goes away (connection errors end the run; exit 0).
  logsload.py verify PORT KEY ACKS        every acknowledged event reads back exactly once
        (filter_log_events over the group, all pages), and no event appears twice."""
import collections
import sys
import threading
import time

import boto3
from botocore.config import Config

from owltest import check, failures

PER_BATCH = 50
THREADS = 4


def client(port, key):
    kid, secret = key.split(":", 1)
    return boto3.client("logs", endpoint_url="http://127.0.0.1:%d" % port,
                        region_name="us-east-1", aws_access_key_id=kid,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=2,
                                      read_timeout=10))


def put(port, key, acks, seconds):
    logs = client(port, key)
    logs.create_log_group(logGroupName="/crash")
    for w in range(THREADS):
        logs.create_log_stream(logGroupName="/crash", logStreamName="w%d" % w)
    lock = threading.Lock()
    out = open(acks, "a")
    deadline = time.time() + seconds
    done = [0]

    def worker(w):
        c = client(port, key)
        seq = 0
        while time.time() < deadline:
            with lock:
                if done[0] >= 3000:
                    return
            now = int(time.time() * 1000)
            evs = [{"timestamp": now, "message": "w%d-%d" % (w, seq + i)}
                   for i in range(PER_BATCH)]
            try:
                c.put_log_events(logGroupName="/crash", logStreamName="w%d" % w, logEvents=evs)
            except Exception:  # owld was killed: the run ends here
                return
            with lock:
                out.write("w%d %d %d\n" % (w, seq, PER_BATCH))
                out.flush()
                done[0] += 1
            seq += PER_BATCH

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def verify(port, key, acks):
    logs = client(port, key)
    seen = collections.Counter()
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName="/crash", PaginationConfig={"PageSize": 5000})
    for p in pages:
        for e in p["events"]:
            seen[e["message"]] += 1
    want = []
    with open(acks) as f:
        for line in f:
            s, first, n = line.split()
            want += ["%s-%d" % (s, int(first) + i) for i in range(int(n))]
    missing = [m for m in want if seen[m] != 1]
    check("every one of the %d acknowledged events reads back exactly once" % len(want),
          not missing, missing[:5])
    dup = [m for m, c in seen.items() if c > 1]
    check("no event is stored twice (%d events read)" % sum(seen.values()), not dup, dup[:5])
    streams = logs.describe_log_streams(logGroupName="/crash")["logStreams"]
    check("the group and its %d streams survived kill -9" % THREADS,
          sorted(s["logStreamName"] for s in streams) == ["w%d" % w for w in range(THREADS)],
          streams)


if __name__ == "__main__":
    if sys.argv[1] == "put":
        put(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        verify(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        sys.exit(1 if failures() else 0)

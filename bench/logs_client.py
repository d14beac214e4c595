#!/usr/bin/env python3
"""logs_client.py — the CloudWatch Logs calls bench/logs.sh makes of owld (AWS JSON 1.1,
`POST /` with X-Amz-Target Logs_20140328.<Action>, the admin key as Bearer), over one
keep-alive loopback connection. Every command prints key=value lines; any error status or
malformed answer exits 1 with the answer on stderr.

  create URL KEY GROUP STREAM     CreateLogGroup + CreateLogStream
  last URL KEY GROUP TIME_MS      FilterLogEvents over [TIME_MS, TIME_MS] until it returns an
                                  event (the last one put; 1,000 tries, 10 ms apart): events=N,
                                  seconds from the first request to the answer holding it
  filter URL KEY GROUP TERM RUNS  FilterLogEvents with filterPattern TERM, limit 10000, every
                                  page fetched through nextToken until none is returned; one
                                  warm-up pass, then RUNS timed passes: events=N (the events
                                  of all pages summed), pages=N, seconds=MEDIAN (wall time of
                                  one whole pass, first request to last answer), all=...
  stored URL KEY GROUP            DescribeLogGroups: stored_bytes=N of GROUP

Events are counted without decoding the pages: each event of FilterLogEvents' answer holds
one `"eventId":` key, and inside a message's JSON string that text cannot occur (its quotes
are escaped); nextToken is read the same way. The first page of every pass is decoded in full
to check that it is what the count assumes.
"""
import http.client
import json
import sys
import time
import urllib.parse

MAX_PAGES = 1000000  # a bound on one pass: 10^10 events
LAST_TRIES = 1000


class Owl:
    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        self.key = key

    def call(self, action, body):
        data = json.dumps(body).encode()
        self.conn.request("POST", "/", body=data, headers={
            "X-Amz-Target": "Logs_20140328." + action,
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "Bearer " + self.key})
        r = self.conn.getresponse()
        raw = r.read()
        if r.status != 200:
            sys.exit("logs_client: %s answered %d: %s" % (action, r.status, raw[:500]))
        return raw


def page_count(raw):
    """(events in the page, nextToken or None) without decoding the JSON"""
    n = raw.count(b'"eventId":')
    i = raw.rfind(b'"nextToken":"')
    tok = None
    if i >= 0:
        j = raw.index(b'"', i + 13)
        tok = raw[i + 13:j].decode()
    return n, tok


def filter_pass(owl, group, term):
    body = {"logGroupName": group, "filterPattern": term, "limit": 10000}
    events = pages = 0
    tok = None
    while pages < MAX_PAGES:
        if tok:
            body["nextToken"] = tok
        raw = owl.call("FilterLogEvents", body)
        n, tok = page_count(raw)
        if pages == 0:
            d = json.loads(raw)
            if len(d.get("events", [])) != n or d.get("nextToken") != tok:
                sys.exit("logs_client: the page count (%d, %r) differs from the decoded page "
                         "(%d, %r)" % (n, tok, len(d.get("events", [])), d.get("nextToken")))
        events += n
        pages += 1
        if not tok:
            return events, pages
    sys.exit("logs_client: more than %d pages" % MAX_PAGES)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    cmd, url, key = argv[1], argv[2], argv[3]
    owl = Owl(url, key)
    if cmd == "create" and len(argv) == 6:
        owl.call("CreateLogGroup", {"logGroupName": argv[4]})
        owl.call("CreateLogStream", {"logGroupName": argv[4], "logStreamName": argv[5]})
        print("created=1")
    elif cmd == "last" and len(argv) == 6:
        t = int(argv[5])
        t0 = time.monotonic()
        for _ in range(LAST_TRIES):
            raw = owl.call("FilterLogEvents", {"logGroupName": argv[4], "startTime": t,
                                               "endTime": t, "limit": 10000})
            n = len(json.loads(raw)["events"])
            if n:
                break
            time.sleep(0.01)
        print("events=%d\nseconds=%.6f" % (n, time.monotonic() - t0))
    elif cmd == "filter" and len(argv) == 7:
        runs = int(argv[6])
        if runs < 1:
            sys.exit("logs_client: RUNS must be >= 1")
        counts, times = set(), []
        for i in range(runs + 1):
            t0 = time.monotonic()
            events, pages = filter_pass(owl, argv[4], argv[5])
            secs = time.monotonic() - t0
            counts.add(events)
            if i:
                times.append(secs)
        if len(counts) != 1:
            sys.exit("logs_client: the passes counted differently: %s" % sorted(counts))
        times.sort()
        print("events=%d\npages=%d\nseconds=%.6f\nall=%s" % (
            events, pages, times[(len(times) - 1) // 2], ",".join("%.3f" % t for t in times)))
    elif cmd == "stored" and len(argv) == 5:
        raw = owl.call("DescribeLogGroups", {"logGroupNamePrefix": argv[4]})
        for g in json.loads(raw)["logGroups"]:
            if g["logGroupName"] == argv[4]:
                print("stored_bytes=%d" % g["storedBytes"])
                return
        sys.exit("logs_client: no group %s" % argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

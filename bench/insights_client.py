#!/usr/bin/env python3
"""insights_client.py — the Logs Insights queries of bench/insights.sh, asked of owld (AWS
JSON 1.1 StartQuery, then GetQueryResults until the query has ended) and of ClickHouse (the
equivalent SQL over HTTP, FORMAT JSONCompact), each over one keep-alive loopback connection,
and the check that both answered the same. Every command prints key=value lines; an error
status, a query that does not end Complete, runs that answer differently or answers that
disagree exit 1 with the reason on stderr.

  owl URL KEY GROUP START_S END_S RUNS POLL_MS QUERY OUT
        StartQuery (logGroupName GROUP, startTime START_S, endTime END_S, queryString QUERY),
        then GetQueryResults at once and every POLL_MS ms until the status is neither
        Scheduled nor Running; it must be Complete. One warm-up, then RUNS timed runs, each
        from the StartQuery request to the decoded answer that said Complete (the whole wall
        time a user waits). Prints seconds=MEDIAN, all=..., rows=, polls= (of the median
        run), scanned=, matched=, bytes= (GetQueryResults' statistics); writes the rows to OUT
        as JSON (a list of {field: value}).
  ch URL RUNS SQL OUT
        SQL + " FORMAT JSONCompact" as a POST body; one warm-up, then RUNS timed runs, each
        from the request to the decoded answer. Prints seconds=, all=, rows=, read_rows=;
        writes the rows (lists) to OUT.
  check KIND OWL_OUT CH_OUT
        bins:  rows (bin, count) of `stats count(*) by bin(...)` against (ms, count): equal
        count: the one row's one number: equal
        avg:   rows (key, avg, n) against (key, avg, n): keys and n equal, the averages within
               1e-6 (relative to max(1, |avg|))
        topk:  rows (@timestamp, @message, ...) against (ms, message): equal, in order
        Prints what was compared (summary=...).

Times in owl's answers are CloudWatch's text form, "YYYY-MM-DD HH:MM:SS.mmm" in UTC.
"""
import calendar
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logs_client import Owl  # noqa: E402  (the same AWS JSON 1.1 calls as bench/logs.sh)

AVG_TOL = 1e-6
MAX_POLLS = 10 ** 6


def median(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2]


def owl_once(owl, body, poll_s):
    t0 = time.monotonic()
    qid = json.loads(owl.call("StartQuery", body))["queryId"]
    polls = 0
    while polls < MAX_POLLS:
        d = json.loads(owl.call("GetQueryResults", {"queryId": qid}))
        polls += 1
        if d["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(poll_s)
    secs = time.monotonic() - t0
    if d["status"] != "Complete":
        sys.exit("insights_client: the query ended %s: %s" % (d["status"], body["queryString"]))
    rows = [{c["field"]: c["value"] for c in r} for r in d["results"]]
    return secs, rows, polls, d["statistics"]


def cmd_owl(url, key, group, start_s, end_s, runs, poll_ms, query, out):
    owl = Owl(url, key)
    body = {"logGroupName": group, "startTime": int(start_s), "endTime": int(end_s),
            "queryString": query}
    times, polls, first = [], [], None
    for i in range(runs + 1):
        secs, rows, n, stats = owl_once(owl, body, poll_ms / 1000.0)
        if first is None:
            first = rows
        elif rows != first:
            sys.exit("insights_client: owl answered run %d differently from the warm-up" % i)
        if i:
            times.append(secs)
            polls.append((secs, n))
    with open(out, "w") as f:
        json.dump(first, f)
    m = median(times)
    print("seconds=%.6f\nall=%s\nrows=%d\npolls=%d\nscanned=%d\nmatched=%d\nbytes=%d" % (
        m, ",".join("%.3f" % t for t in times), len(first),
        [n for s, n in polls if s == m][0], stats.get("recordsScanned", 0),
        stats.get("recordsMatched", 0), stats.get("bytesScanned", 0)))


def cmd_ch(url, runs, sql, out):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    data = (sql + " FORMAT JSONCompact").encode()
    times, first, read = [], None, 0
    for i in range(runs + 1):
        t0 = time.monotonic()
        conn.request("POST", "/", body=data)
        r = conn.getresponse()
        raw = r.read()
        if r.status != 200:
            sys.exit("insights_client: ClickHouse answered %d: %s\n%s" % (r.status, raw[:500], sql))
        d = json.loads(raw)
        secs = time.monotonic() - t0
        if first is None:
            first = d["data"]
        elif d["data"] != first:
            sys.exit("insights_client: ClickHouse answered run %d differently from the warm-up" % i)
        if i:
            times.append(secs)
        read = d.get("statistics", {}).get("rows_read", 0)
    with open(out, "w") as f:
        json.dump(first, f)
    print("seconds=%.6f\nall=%s\nrows=%d\nread_rows=%d" % (
        median(times), ",".join("%.3f" % t for t in times), len(first), read))


def owl_ms(text):
    """CloudWatch's "YYYY-MM-DD HH:MM:SS.mmm" (UTC) as epoch ms"""
    date, clock = text.split(" ")
    y, mo, d = (int(x) for x in date.split("-"))
    hms, ms = clock.split(".")
    h, mi, s = (int(x) for x in hms.split(":"))
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000 + int(ms)


def fail(msg):
    sys.exit("insights_client: ANSWERS DIFFER: " + msg)


def cmd_check(kind, owl_out, ch_out):
    owl = json.load(open(owl_out))
    ch = json.load(open(ch_out))
    if len(owl) != len(ch):
        fail("owl has %d rows, ClickHouse %d" % (len(owl), len(ch)))
    if not owl:
        fail("no rows")
    if kind == "bins":
        o = []
        for r in owl:
            k = [f for f in r if f.startswith("bin(")]
            if len(k) != 1 or len(r) != 2:
                fail("owl's row %r is not (bin, count)" % r)
            o.append((owl_ms(r[k[0]]), int([v for f, v in r.items() if f != k[0]][0])))
        o.sort()
        c = sorted((int(a), int(b)) for a, b in ch)
        for a, b in zip(o, c):
            if a != b:
                fail("bin %d: owl counts %d, ClickHouse has bin %d with %d" % (a + b))
        print("summary=%d bins equal, %d events in all" % (len(o), sum(n for _, n in o)))
    elif kind == "count":
        if len(owl) != 1 or len(owl[0]) != 1 or len(ch[0]) != 1:
            fail("expected one number: owl %r, ClickHouse %r" % (owl, ch))
        a, b = int(list(owl[0].values())[0]), int(ch[0][0])
        if a != b:
            fail("owl counts %d, ClickHouse %d" % (a, b))
        print("summary=both count %d" % a)
    elif kind == "avg":
        worst = 0.0
        if any(len(r) != 3 for r in owl):
            fail("owl's rows are not (key, average, count): %r" % owl[:3])
        o = sorted(tuple(r.values()) for r in owl)
        c = sorted((str(k), float(v), str(n)) for k, v, n in ch)
        for (ok, ov, on), (ck, cv, cn) in zip(o, c):
            if ok != ck or int(on) != int(cn):
                fail("group %s with %s rows (owl) against %s with %s (ClickHouse)" % (ok, on, ck, cn))
            err = abs(float(ov) - cv) / max(1.0, abs(cv))
            worst = max(worst, err)
            if err > AVG_TOL:
                fail("group %s: owl's average %s, ClickHouse's %r" % (ok, ov, cv))
        print("summary=%d groups (%s), row counts equal, averages within %.1e (largest difference %.1e)"
              % (len(o), ", ".join("%s: %s" % (k, n) for k, _, n in o), AVG_TOL, worst))
    elif kind == "topk":
        for i, (r, (cts, cmsg)) in enumerate(zip(owl, ch)):
            a = (owl_ms(r["@timestamp"]), r.get("@message", ""))
            if a != (int(cts), cmsg):
                fail("row %d: owl %r, ClickHouse %r" % (i, a, (int(cts), cmsg)))
        print("summary=%d rows equal in order (times and messages), newest %s" % (
            len(owl), owl[0]["@timestamp"]))
    else:
        sys.exit(__doc__)


def main(argv):
    if len(argv) == 11 and argv[1] == "owl":
        cmd_owl(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]), float(argv[8]),
                argv[9], argv[10])
    elif len(argv) == 6 and argv[1] == "ch":
        cmd_ch(argv[2], int(argv[3]), argv[4], argv[5])
    elif len(argv) == 5 and argv[1] == "check":
        cmd_check(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

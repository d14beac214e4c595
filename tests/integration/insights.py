"""insights.py — Logs Insights against a real owld, for t_insights.sh.

  insights.py queries PORT DATA LOGHUB AWS   the 16 Loghub samples (one group each) and a group
      of JSON lines put with boto3; then queries through the AWS CLI v2 (start-query, then
      get-query-results until Complete), each answer compared with the same figure computed
      here in Python over the same lines; GetLogRecord, DescribeQueries, StopQuery, saved
      query definitions, malformed queries and the native POST /api/v1/logs/insights.
  insights.py limits PORT DATA               against an owld started with --insights-workers 1
      --insights-concurrency 2 --insights-max-mib 1: puts 200,000 events in group "big"; a
      high-cardinality stats ... by fails on the memory limit while owld's memory stays low,
      a third concurrent query gets LimitExceededException.
  insights.py timeout PORT DATA              then, against an owld on the same data with
      --insights-timeout-ms 1: a query over the time limit ends Timeout.

Event times: line i of file g is at BASE + i * 937 + g * 13 ms, so no two events share a time.
"""
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request

from owltest import check, failures, note

import boto3
from botocore.config import Config

LOGHUB = ["Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac",
          "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"]


def creds(data):
    key = open(os.path.join(data, "admin.key")).read().strip()
    return key.split(":", 1)


def client(port, data):
    kid, secret = creds(data)
    return boto3.client("logs", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                        aws_access_key_id=kid, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def put_all(c, group, events):
    c.create_log_group(logGroupName=group)
    c.create_log_stream(logGroupName=group, logStreamName="s")
    for k in range(0, len(events), 5000):
        c.put_log_events(logGroupName=group, logStreamName="s",
                         logEvents=[{"timestamp": t, "message": m} for t, m in events[k:k + 5000]])


class Cli:
    def __init__(self, aws, port, data):
        self.aws, self.port, self.data = aws, port, data

    def run(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.data, "aws-credentials"),
                   AWS_CONFIG_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
                   AWS_MAX_ATTEMPTS="1")
        p = subprocess.run([self.aws, *args, "--endpoint-url", "http://127.0.0.1:%d" % self.port,
                            "--region", "us-east-1", "--output", "json"],
                           env=env, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def query(self, groups, start_s, end_s, text, limit=None):
        """start-query, then get-query-results until the status is final; (status, rows as
        dicts, statistics) or (error text, None, None)."""
        args = ["logs", "start-query", "--log-group-names", *groups, "--start-time",
                str(start_s), "--end-time", str(end_s), "--query-string", text]
        if limit:
            args += ["--limit", str(limit)]
        rc, out, err = self.run(*args)
        if rc != 0:
            return err.strip(), None, None
        qid = json.loads(out)["queryId"]
        deadline = time.time() + 120
        while time.time() < deadline:
            rc, out, err = self.run("logs", "get-query-results", "--query-id", qid)
            if rc != 0:
                return err.strip(), None, None
            d = json.loads(out)
            if d["status"] not in ("Scheduled", "Running"):
                rows = [{f["field"]: f["value"] for f in r} for r in d["results"]]
                return d["status"], rows, d["statistics"]
            time.sleep(0.2)
        return "still running after 120 s", None, None


def load_loghub(loghub, base):
    """{group: [(time, message)]} for the 16 samples."""
    out = {}
    for g, name in enumerate(LOGHUB):
        path = os.path.join(loghub, name, name + "_2k.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
        out["/loghub/" + name] = [(base + i * 937 + g * 13, ln) for i, ln in enumerate(lines)]
    return out


def json_events(base):
    evs = []
    for i in range(3000):
        d = {"user": "u%d" % (i % 37), "ms": (i * 7919) % 1000, "status": 500 if i % 11 == 0 else 200,
             "req": {"path": "/p%d" % (i % 5), "tags": ["a%d" % (i % 3)]}}
        evs.append((base + i * 500 + 7, json.dumps(d, separators=(",", ":"))))
    return evs


def fmt_time(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def num_eq(a, b):
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


def queries(port, data, loghub, aws):
    c = client(port, data)
    cli = Cli(aws, port, data)
    now = int(time.time() * 1000)
    base = (now - 3 * 3600 * 1000) // 60000 * 60000
    groups = load_loghub(loghub, base)
    for g, evs in groups.items():
        put_all(c, g, evs)
    jevs = json_events(base)
    put_all(c, "/app/json", jevs)
    total = sum(len(v) for v in groups.values())
    note("%d Loghub lines in %d groups, %d JSON lines" % (total, len(groups), len(jevs)))
    start_s, end_s = base // 1000 - 60, now // 1000 + 60
    names = list(groups)

    # 1. stats count(*) by bin(1m), over all 16 groups
    st, rows, stats = cli.query(names, start_s, end_s, "stats count(*) as n by bin(1m) as m")
    want = {}
    for evs in groups.values():
        for t, _ in evs:
            m = fmt_time(t // 60000 * 60000)
            want[m] = want.get(m, 0) + 1
    got = {r.get("m"): int(r.get("n", -1)) for r in rows or []}
    check("count(*) by bin(1m) over 16 groups: Complete", st == "Complete", st)
    check("count(*) by bin(1m): %d bins, each count as Python's" % len(want), got == want,
          "missing/different: %s" % sorted((k, want.get(k), got.get(k)) for k in set(want) | set(got)
                                           if want.get(k) != got.get(k))[:10])
    check("statistics: recordsMatched = %d" % total,
          stats and int(stats["recordsMatched"]) == total, stats)

    # 2. parse (glob) a field and aggregate on it: HDFS "date time pid level component: ..."
    hdfs = groups["/loghub/HDFS"]
    q = 'parse @message "* * * * *" as d, t, pid, level, rest | stats count(*) as n, avg(pid) as a, ' \
        'max(pid) as hi by level | sort level asc'
    st, rows, _ = cli.query(["/loghub/HDFS"], start_s, end_s, q)
    agg = {}
    for _, m in hdfs:
        p = m.split(" ", 4)
        if len(p) < 5:
            continue
        a = agg.setdefault(p[3], [0, 0.0, -1e300])
        a[0] += 1
        a[1] += float(p[2])
        a[2] = max(a[2], float(p[2]))
    want = [(lv, a[0], a[1] / a[0], a[2]) for lv, a in sorted(agg.items())]
    ok = st == "Complete" and rows is not None and len(rows) == len(want) and all(
        r.get("level") == w[0] and int(r.get("n", -1)) == w[1] and num_eq(r.get("a"), w[2]) and
        num_eq(r.get("hi"), w[3]) for r, w in zip(rows, want))
    check("parse glob + stats count, avg, max by level (HDFS): as Python's", ok,
          "got %s\nwant %s" % (rows, want))

    # 3. filter | sort | limit over every group
    q = "fields @timestamp, @message, @log | filter @message like /error/ | sort @timestamp desc | limit 25"
    st, rows, _ = cli.query(names, start_s, end_s, q)
    allev = sorted(((t, m, g) for g, evs in groups.items() for t, m in evs if "error" in m),
                   reverse=True)[:25]
    ok = st == "Complete" and rows is not None and len(rows) == len(allev) and all(
        r.get("@timestamp") == fmt_time(t) and r.get("@message") == m and r.get("@log", "").endswith(":" + g)
        for r, (t, m, g) in zip(rows, allev))
    check("filter like /error/ | sort @timestamp desc | limit 25: the same %d events in order"
          % len(allev), ok, "got %s\nwant %s" % ([(r.get("@timestamp"), r.get("@message", "")[:60]) for r in (rows or [])[:5]],
                                                [(fmt_time(t), m[:60]) for t, m, _ in allev[:5]]))
    ptr = rows[0].get("@ptr") if ok and rows else None
    check("non-aggregating rows carry @ptr", bool(ptr))

    # 4. pct (nearest rank) of a parsed number
    q = 'parse @message "* * * *" as d, t, pid, rest | stats pct(pid, 50) as p50, pct(pid, 90) as p90, ' \
        'pct(pid, 99) as p99, count(*) as n'
    st, rows, _ = cli.query(["/loghub/HDFS"], start_s, end_s, q)
    vals = sorted(float(m.split(" ", 3)[2]) for _, m in hdfs if len(m.split(" ", 3)) == 4)

    def nearest(p):
        return vals[max(0, min(len(vals) - 1, math.ceil(p / 100 * len(vals)) - 1))]
    r = rows[0] if rows else {}
    check("stats pct(pid, 50/90/99) over HDFS: nearest rank, as Python's",
          st == "Complete" and num_eq(r.get("p50"), nearest(50)) and num_eq(r.get("p90"), nearest(90))
          and num_eq(r.get("p99"), nearest(99)) and int(r.get("n", -1)) == len(vals),
          "got %s want %s %s %s" % (r, nearest(50), nearest(90), nearest(99)))

    # 5. dedup: one event per component of OpenSSH's "sshd[pid]: ..." lines
    ssh = groups["/loghub/OpenSSH"]
    q = 'parse @message /^\\S+\\s+\\d+ \\S+ (?<host>\\S+) (?<proc>[a-z]+)\\[/ | filter ispresent(proc) ' \
        '| fields host, proc | sort host asc, proc asc | dedup host, proc'
    st, rows, _ = cli.query(["/loghub/OpenSSH"], start_s, end_s, q)
    rx = re.compile(r"^\S+\s+\d+ \S+ (?P<host>\S+) (?P<proc>[a-z]+)\[")
    want = sorted({(mm.group("host"), mm.group("proc")) for _, m in ssh for mm in [rx.match(m)] if mm})
    got = [(r.get("host"), r.get("proc")) for r in rows or []]
    check("parse regex + dedup host, proc (OpenSSH): the %d distinct pairs" % len(want),
          st == "Complete" and got == want, "got %s want %s" % (got[:10], want[:10]))

    # 6. JSON fields of JSON lines, flattened (req.path)
    q = "filter status = 500 | stats count(*) as n, sum(ms) as total by req.path | sort req.path asc"
    st, rows, _ = cli.query(["/app/json"], start_s, end_s, q)
    agg = {}
    for _, m in jevs:
        d = json.loads(m)
        if d["status"] == 500:
            a = agg.setdefault(d["req"]["path"], [0, 0])
            a[0] += 1
            a[1] += d["ms"]
    want = [(p, a[0], a[1]) for p, a in sorted(agg.items())]
    got = [(r.get("req.path"), int(r.get("n", -1)), float(r.get("total", "nan"))) for r in rows or []]
    check("JSON fields: filter status = 500 | stats count, sum(ms) by req.path: as Python's",
          st == "Complete" and [(p, n) for p, n, _ in got] == [(p, n) for p, n, _ in want]
          and all(num_eq(a[2], b[2]) for a, b in zip(got, want)), "got %s want %s" % (got, want))
    q = "filter req.tags.0 = \"a1\" and user = \"u3\" | stats count(*) as n"
    st, rows, _ = cli.query(["/app/json"], start_s, end_s, q)
    want = sum(1 for _, m in jevs for d in [json.loads(m)] if d["req"]["tags"][0] == "a1" and d["user"] == "u3")
    check("JSON array element req.tags.0 and a string field: %d events" % want,
          st == "Complete" and rows and int(rows[0].get("n", -1)) == want, rows)

    # GetLogRecord of a row's @ptr
    if ptr:
        rc, out, err = cli.run("logs", "get-log-record", "--log-record-pointer", ptr)
        rec = json.loads(out)["logRecord"] if rc == 0 else {}
        t, m, g = allev[0]
        check("get-log-record: the event of the first row (message, stream, @log, @timestamp)",
              rec.get("@message") == m and rec.get("@logStream") == "s" and rec.get("@log", "").endswith(":" + g)
              and rec.get("@timestamp") == str(t), "%s %s" % (rec, err))
    rc, out, err = cli.run("logs", "get-log-record", "--log-record-pointer", "zz")
    check("get-log-record of a made-up pointer: InvalidParameterException",
          rc != 0 and "InvalidParameterException" in err, err)

    # malformed query: MalformedQueryException naming the place
    rc, out, err = cli.run("logs", "start-query", "--log-group-name", "/loghub/HDFS", "--start-time",
                           str(start_s), "--end-time", str(end_s), "--query-string", "stats count(* by x")
    check("a malformed query: MalformedQueryException with line and column",
          rc != 0 and "MalformedQueryException" in err and "column" in err, err)
    rc, out, err = cli.run("logs", "start-query", "--log-group-name", "/nope", "--start-time",
                           str(start_s), "--end-time", str(end_s), "--query-string", "fields @message")
    check("an unknown log group: ResourceNotFoundException", rc != 0 and "ResourceNotFoundException" in err, err)
    rc, out, err = cli.run("logs", "start-query", "--log-group-name", "/loghub/HDFS", "--start-time",
                           str(start_s), "--end-time", str(end_s), "--query-string", "fields @message | unmask @message")
    check("unmask is refused with a clear error", rc != 0 and "unmask" in err.lower(), err)

    # the time range: only the first 10 minutes' events
    st, rows, _ = cli.query(["/loghub/Apache"], base // 1000, base // 1000 + 599, "stats count(*) as n")
    want = sum(1 for t, _ in groups["/loghub/Apache"] if base <= t < base + 600 * 1000)
    check("startTime..endTime (endTime's second included): %d events" % want,
          st == "Complete" and rows and int(rows[0]["n"]) == want, rows)

    # DescribeQueries, StopQuery
    rc, out, err = cli.run("logs", "describe-queries", "--log-group-name", "/app/json", "--status", "Complete")
    qs = json.loads(out)["queries"] if rc == 0 else []
    check("describe-queries --log-group-name /app/json --status Complete: the 2 JSON queries, newest first",
          len(qs) == 2 and qs[0]["queryString"].startswith("filter req.tags.0") and
          all(q["status"] == "Complete" and q["logGroupName"] == "/app/json" for q in qs), qs)
    r = c.start_query(logGroupNames=names, startTime=start_s, endTime=end_s,
                      queryString="filter @message =~ /a.*b.*c.*d/ | stats count(*) by @log")
    s = c.stop_query(queryId=r["queryId"])
    res = wait_done(c, r["queryId"])
    check("stop-query of a query just started: success, then Cancelled (or Complete if it won the race)",
          (s["success"] and res["status"] == "Cancelled") or (not s["success"] and res["status"] == "Complete"),
          "%s %s" % (s, res["status"]))
    try:
        c.get_query_results(queryId="00000000-0000-4000-8000-000000000000")
        check("get-query-results of an unknown id: ResourceNotFoundException", False)
    except c.exceptions.ResourceNotFoundException:
        check("get-query-results of an unknown id: ResourceNotFoundException", True)

    # saved queries
    rc, out, err = cli.run("logs", "put-query-definition", "--name", "errors/by-group", "--query-string",
                           "filter @message like /ERROR/ | stats count(*) by @log",
                           "--log-group-names", "/loghub/HDFS", "/loghub/BGL")
    qd = json.loads(out).get("queryDefinitionId") if rc == 0 else None
    check("put-query-definition: an id", bool(qd), err)
    c.put_query_definition(name="other", queryString="fields @message")
    rc, out, err = cli.run("logs", "describe-query-definitions", "--query-definition-name-prefix", "errors/")
    defs = json.loads(out)["queryDefinitions"] if rc == 0 else []
    check("describe-query-definitions --query-definition-name-prefix errors/: that one, with its groups",
          len(defs) == 1 and defs[0]["queryDefinitionId"] == qd and defs[0]["logGroupNames"] == ["/loghub/HDFS", "/loghub/BGL"],
          defs)
    c.put_query_definition(name="errors/by-group", queryDefinitionId=qd, queryString="fields @log")
    d2 = c.describe_query_definitions(queryDefinitionNamePrefix="errors/")["queryDefinitions"]
    check("put-query-definition with its id replaces it", len(d2) == 1 and d2[0]["queryString"] == "fields @log", d2)
    p1 = c.describe_query_definitions(maxResults=1)
    p2 = c.describe_query_definitions(maxResults=1, nextToken=p1.get("nextToken", ""))
    check("describe-query-definitions pages with nextToken",
          len(p1["queryDefinitions"]) == 1 and len(p2["queryDefinitions"]) == 1 and "nextToken" not in p2
          and p1["queryDefinitions"][0]["queryDefinitionId"] != p2["queryDefinitions"][0]["queryDefinitionId"],
          "%s %s" % (p1, p2))
    rc, out, err = cli.run("logs", "delete-query-definition", "--query-definition-id", qd)
    check("delete-query-definition: success", rc == 0 and json.loads(out)["success"] is True, err)
    # the same command signed in a later second: owld refuses the exact replay of a signed write
    # (X-Amz-Date has whole seconds, so a repeat within the second is byte for byte the same)
    time.sleep(1.1)
    rc, out, err = cli.run("logs", "delete-query-definition", "--query-definition-id", qd)
    check("delete-query-definition again: ResourceNotFoundException", rc != 0 and "ResourceNotFoundException" in err, err)

    # native synchronous query, JSON and CSV
    kid, secret = creds(data)
    body = json.dumps({"query": "stats count(*) as n by bin(1h) as h | sort h asc", "groups": ["/loghub/HDFS"],
                       "start": base - 60000, "end": now + 60000}).encode()

    def native(accept):
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/logs/insights" % port, data=body,
                                     headers={"Authorization": "Bearer %s:%s" % (kid, secret),
                                              "Content-Type": "application/json", "Accept": accept})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    want = {}
    for t, _ in hdfs:
        h = fmt_time(t // 3600000 * 3600000)
        want[h] = want.get(h, 0) + 1
    st, ct, txt = native("application/json")
    d = json.loads(txt)
    check("native POST /api/v1/logs/insights (JSON): columns and rows as Python's hours",
          st == 200 and d["status"] == "Complete" and d["columns"] == ["h", "n"] and
          [(r[0], int(r[1])) for r in d["rows"]] == sorted(want.items()), txt[:300])
    st, ct, txt = native("text/csv")
    lines = txt.strip().split("\n")
    check("native query with Accept: text/csv: a header and one line per hour",
          st == 200 and ct.startswith("text/csv") and lines[0] == "h,n" and
          [tuple(ln.split(",")) for ln in lines[1:]] == [(h, str(n)) for h, n in sorted(want.items())], txt[:300])


def owld_rss_kb(port):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            if any(b"owld" in a for a in cmd[:2]) and b"127.0.0.1:%d" % port in cmd:
                for ln in open("/proc/%s/status" % pid):
                    if ln.startswith("VmRSS:"):
                        return int(ln.split()[1])
        except OSError:
            continue
    return None


def wait_done(c, qid):
    for _ in range(1200):
        r = c.get_query_results(queryId=qid)
        if r["status"] not in ("Scheduled", "Running"):
            return r
        time.sleep(0.05)
    return r


SLOW = "filter @message =~ /u[0-9]+7 took [0-9]*3 ms/ | parse @message /took (?<ms>\\d+)/ | stats avg(ms), pct(ms, 90) by bin(1m)"


def range_of():
    now = int(time.time() * 1000)
    # the events put by limits() lie within the last hour
    return (now - 3600 * 1000) // 1000 - 120, now // 1000 + 60


def limits(port, data):
    c = client(port, data)
    now = int(time.time() * 1000)
    base = now - 3600 * 1000
    # 200,000 distinct lines: a high-cardinality field, and work enough for a second query
    # to find the first still running
    c.create_log_group(logGroupName="big")
    c.create_log_stream(logGroupName="big", logStreamName="s")
    for k in range(0, 200000, 10000):
        c.put_log_events(logGroupName="big", logStreamName="s", logEvents=[
            {"timestamp": base + i * 10, "message": "request id=%08x user=u%d took %d ms" % (i * 2654435761 % 2**32, i, i % 977)}
            for i in range(k, k + 10000)])
    s, e = range_of()
    rss0 = owld_rss_kb(port)

    # memory: stats by a distinct value per event, with 1 MiB allowed
    qid = c.start_query(logGroupName="big", startTime=s, endTime=e,
                        queryString="stats count(*) by @message")["queryId"]
    r = wait_done(c, qid)
    rss1 = owld_rss_kb(port)
    check("a high-cardinality stats ... by over 200,000 events with --insights-max-mib 1: Failed",
          r["status"] == "Failed", r["status"])
    d = c.describe_queries(status="Failed")["queries"]
    check("DescribeQueries lists it as Failed", any(q["queryId"] == qid for q in d), d)
    note("owld RSS %s kB before the query, %s kB after" % (rss0, rss1))
    check("owld's memory stayed bounded (RSS grew by < 64 MB)",
          rss0 is not None and rss1 is not None and rss1 - rss0 < 64 * 1024, "%s -> %s" % (rss0, rss1))

    # concurrency: one worker, two queries at most per tenant
    # (each text differs: the same signed write twice in a second is refused as a replay)
    a = c.start_query(logGroupName="big", startTime=s, endTime=e, queryString=SLOW + " # a")["queryId"]
    b = c.start_query(logGroupName="big", startTime=s, endTime=e, queryString=SLOW + " # b")["queryId"]
    try:
        c.start_query(logGroupName="big", startTime=s, endTime=e, queryString=SLOW + " # c")
        check("a third concurrent query: LimitExceededException", False, "accepted")
    except c.exceptions.LimitExceededException as ex:
        check("a third concurrent query: LimitExceededException", True)
        note(str(ex)[:200])
    ra, rb = wait_done(c, a), wait_done(c, b)
    check("the two queries before it complete", ra["status"] == "Complete" and rb["status"] == "Complete",
          "%s %s" % (ra["status"], rb["status"]))
    qid = c.start_query(logGroupName="big", startTime=s, endTime=e, queryString="stats count(*) as n")["queryId"]
    r = wait_done(c, qid)
    check("then a query is accepted again and counts all 200,000 events",
          r["status"] == "Complete" and r["results"] and r["results"][0][0]["value"] == "200000", r)


def timeout(port, data):
    c = client(port, data)
    s, e = range_of()
    qid = c.start_query(logGroupName="big", startTime=s, endTime=e, queryString=SLOW)["queryId"]
    r = wait_done(c, qid)
    check("a query over the time limit (--insights-timeout-ms 1, 200,000 events): status Timeout",
          r["status"] == "Timeout", r["status"])


def main():
    cmd = sys.argv[1]
    if cmd == "queries":
        queries(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "limits":
        limits(int(sys.argv[2]), sys.argv[3])
    else:
        timeout(int(sys.argv[2]), sys.argv[3])
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()

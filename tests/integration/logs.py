"""logs.py — CloudWatch Logs through boto3 (JSON 1.1): the flow of t_logs.sh on the Loghub HDFS
sample in a group of its own — create group (tags) and streams, retention, put_log_events in
batches, get_log_events both ways until the token repeats, filter_log_events through the
paginator, describe_log_groups / describe_log_streams, the deprecated TagLogGroup family, a
PutLogEvents rule broken (status 400, __type, message, nothing stored), delete and create
again = empty.
Usage: logs.py PORT KEY SECRET HDFS_FILE; prints TAP lines."""
import json
import re
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import logs_hdfs

PORT, KEY, SECRET, HDFS = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def check(name, cond, got=None):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and got is not None:
        print("#   got: %r" % (got,))


logs = boto3.client("logs", endpoint_url="http://127.0.0.1:%d" % PORT, region_name="us-east-1",
                    aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                    config=Config(retries={"max_attempts": 1}, read_timeout=30))
G = "/boto/hdfs"
base = int(time.time() * 1000) - 12 * 3600 * 1000
evs = logs_hdfs.events(HDFS, base)

logs.create_log_group(logGroupName=G, tags={"k": "v"})
logs.put_retention_policy(logGroupName=G, retentionInDays=14)
for s in ("datanode", "namesystem"):
    logs.create_log_stream(logGroupName=G, logStreamName=s)
rejected = 0
for s in ("datanode", "namesystem"):
    mine = [{"timestamp": e[0], "message": e[3]} for e in evs if e[2] == s]
    for k in range(0, len(mine), 700):
        r = logs.put_log_events(logGroupName=G, logStreamName=s, logEvents=mine[k:k + 700],
                                sequenceToken="ignored")
        rejected += "rejectedLogEventsInfo" in r
check("boto3 put_log_events: every batch accepted whole", rejected == 0, rejected)

n_dn = sum(1 for e in evs if e[2] == "datanode")


def walk(forward):
    token, seen = None, []
    for _ in range(100):
        kw = {"logGroupName": G, "logStreamName": "datanode", "limit": 200}
        if forward:
            kw["startFromHead"] = True
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        t = [e["timestamp"] for e in r["events"]]
        seen = seen + t if forward else t + seen
        nxt = r["nextForwardToken" if forward else "nextBackwardToken"]
        if nxt == token:
            return seen
        token = nxt
    return None


for fwd in (True, False):
    seen = walk(fwd)
    check("boto3 get_log_events %s until the token repeats: %d events in time order" %
          ("forward" if fwd else "backward", n_dn),
          seen is not None and len(seen) == n_dn and seen == sorted(seen),
          None if seen is None else len(seen))

pages = logs.get_paginator("filter_log_events").paginate(logGroupName=G,
                                                         PaginationConfig={"PageSize": 333})
got = [e for p in pages for e in p["events"]]
check("boto3 filter_log_events paginator: all %d lines, interleaved by time" % len(evs),
      len(got) == len(evs) and [e["timestamp"] for e in got] == sorted(e[0] for e in evs),
      len(got))
check("... messages as put", sorted(e["message"] for e in got) == sorted(e[3] for e in evs))

pages = logs.get_paginator("filter_log_events").paginate(
    logGroupName=G, filterPattern="?WARN ?Exception", PaginationConfig={"PageSize": 25})
got = [e for p in pages for e in p["events"]]
word = re.compile(r"(?<![A-Za-z0-9_])(WARN|Exception)(?![A-Za-z0-9_])")  # terms are words
want = [e for e in evs if word.search(e[3])]
check("boto3 filter_log_events filterPattern '?WARN ?Exception': %d events" % len(want),
      [e["message"] for e in got] == [e[3] for e in want] or
      sorted(e["message"] for e in got) == sorted(e[3] for e in want), len(got))

g = logs.describe_log_groups(logGroupNamePrefix="/boto")["logGroups"]
check("boto3 describe_log_groups: retention and ARN",
      len(g) == 1 and g[0]["retentionInDays"] == 14 and g[0]["arn"].endswith(G + ":*"), g)
s = logs.describe_log_streams(logGroupName=G, orderBy="LastEventTime", descending=True)
names = [x["logStreamName"] for x in s["logStreams"]]
check("boto3 describe_log_streams by LastEventTime descending",
      names == [logs_hdfs.last_stream(evs)] + [n for n in ("datanode", "namesystem")
                                               if n != logs_hdfs.last_stream(evs)], names)

logs.tag_log_group(logGroupName=G, tags={"a": "1"})
logs.untag_log_group(logGroupName=G, tags=["k"])
t = logs.list_tags_log_group(logGroupName=G)["tags"]
check("boto3 tag_log_group / untag_log_group / list_tags_log_group", t == {"a": "1"}, t)

now = int(time.time() * 1000)
before = len(logs.filter_log_events(logGroupName=G, logStreamNames=["namesystem"])["events"])
try:
    logs.put_log_events(logGroupName=G, logStreamName="namesystem",
                        logEvents=[{"timestamp": now, "message": "b"},
                                   {"timestamp": now - 5, "message": "a"}])
    check("boto3: events out of order are refused", False)
except ClientError as e:
    err = e.response["Error"]
    check("boto3: events out of order: 400 InvalidParameterException, CloudWatch's message",
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 400 and
          err["Code"] == "InvalidParameterException" and
          err["Message"] == "Log events in a single PutLogEvents request must be in "
                            "chronological order.", e.response)
try:
    logs.get_log_events(logGroupName=G, logStreamName="nope")
    check("boto3: a missing stream is refused", False)
except ClientError as e:
    check("boto3: a missing stream: 400 ResourceNotFoundException",
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 400 and
          e.response["Error"]["Code"] == "ResourceNotFoundException", e.response)
# not the very request sent above: owld refuses a replayed signed write within its window
after = len(logs.filter_log_events(logGroupName=G, logStreamNames=["namesystem"],
                                   limit=9999)["events"])
check("boto3: nothing stored by the refused put", before == after, (before, after))

logs.delete_log_group(logGroupName=G)
logs.create_log_group(logGroupName=G)
r = logs.filter_log_events(logGroupName=G)
s = logs.describe_log_streams(logGroupName=G)
check("boto3 delete_log_group + create_log_group: empty",
      not r["events"] and not s["logStreams"], (r, s))
print("# " + json.dumps({"lines": len(evs), "datanode": n_dn}))

"""xray_api.py — the X-Ray API of owld with boto3 (t_xray_api.sh): put_trace_segments with the
real X-Ray sample documents of ../shared/data/xray (times moved to now: owld keeps spans 30
days) beside a malformed one (UnprocessedTraceSegments names it, the others are stored) and
one too old to keep; batch_get_traces gives each document back with the same tree, members
and fault flags (ddbSample: a faulted DynamoDB call five levels deep); unknown and malformed
ids are UnprocessedTraceIds; get_trace_summaries over the range with and without filter
expressions (service, fault, responsetime, annotation), pages through NextToken (130 more
traces: two pages, each trace once), InvalidRequestException for a bad expression naming its
position and for a range over 24 hours; an OTLP trace rendered as X-Ray segments; another
tenant sees nothing.

  xray_api.py PORT KEYID SECRET OTHER_KEYID OTHER_SECRET BEARER DATA_DIR"""

import json
import sys
import time
import urllib.request

from owltest import check, failures, note

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as e:
    check("boto3 imports", False, e)
    sys.exit(1)

PORT, KEY, SECRET, OKEY, OSECRET, BEARER, DATA = sys.argv[1:8]
PORT = int(PORT)


def client(key, secret):
    return boto3.client("xray", endpoint_url="http://127.0.0.1:%d" % PORT,
                        region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5,
                                      read_timeout=30))


xr = client(KEY, SECRET)
other = client(OKEY, OSECRET)

now = time.time()


def shifted(node, delta):
    """The document with every start_time/end_time moved by delta seconds."""
    for k in ("start_time", "end_time"):
        if k in node:
            node[k] += delta
    for s in node.get("subsegments", []):
        shifted(s, delta)
    return node


def tree(n, dep=0):
    out = [(dep, n.get("name"), n.get("id"), bool(n.get("fault")), bool(n.get("error")),
            bool(n.get("throttle")), "cause" in n, n.get("namespace"),
            sorted(k for k in n if k != "subsegments"))]
    for s in n.get("subsegments", []):
        out += tree(s, dep + 1)
    return out


docs = {}
for name in ("ddbSample", "serverSample", "awsValidAwsFields", "minOtherFields",
             "minCauseIsExceptionId"):
    try:
        raw = open("%s/xray/%s.txt" % (DATA, name)).read().split("\n", 1)[1]
    except OSError:
        continue
    d = json.loads(raw)
    if "trace_id" not in d or "start_time" not in d:
        continue
    # each document its own trace (some samples share ids), times moved to now
    d["trace_id"] = "1-%08x-%024x" % (int(now), 0xabc0 + len(docs))
    docs[name] = shifted(d, now - 600 - d["start_time"])
check("the X-Ray sample documents are there", "ddbSample" in docs, sorted(docs))

bad = json.dumps({"name": "no-id", "trace_id": "1-5f29ab21-d4ebf299219a65bd5c31d6db",
                  "start_time": now, "end_time": now + 1})
old = {"name": "old", "id": "00000000000000a1", "trace_id": "1-5f29ab21-00000000000000000000a1a1",
       "start_time": now - 40 * 86400, "end_time": now - 40 * 86400 + 1}
r = xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs.values()] +
                          [bad, json.dumps(old)])
up = r.get("UnprocessedTraceSegments", [])
codes = sorted(u.get("ErrorCode") for u in up)
check("put_trace_segments: the document without an id and the one 40 days old are unprocessed",
      codes == ["MissingId", "SegmentTooOld"] and
      any(u.get("Id") == "00000000000000a1" for u in up), up)

ids = sorted({d["trace_id"] for d in docs.values()})
got = {}
for i in range(0, len(ids), 5):
    r = xr.batch_get_traces(TraceIds=ids[i:i + 5])
    for t in r["Traces"]:
        got[t["Id"]] = t
check("batch_get_traces: every stored trace, none unprocessed", sorted(got) == ids,
      (sorted(got), ids))
for name, d in docs.items():
    t = got.get(d["trace_id"])
    if not t:
        continue
    segs = [json.loads(s["Document"]) for s in t["Segments"]]
    mine = [s for s in segs if s["id"] == d["id"]]
    check("%s: the document comes back with the same tree, flags and members" % name,
          len(mine) == 1 and tree(mine[0]) == tree(d),
          (tree(mine[0]) if mine else segs, tree(d)))
    if mine:
        check("%s: times to the microsecond" % name,
              abs(mine[0]["start_time"] - d["start_time"]) < 2e-6 and
              ("end_time" not in d or abs(mine[0]["end_time"] - d["end_time"]) < 2e-6),
              (mine[0].get("start_time"), d["start_time"]))
ddb = docs.get("ddbSample")
if ddb:
    t = got[ddb["trace_id"]]
    check("ddbSample: Duration in seconds", abs(t["Duration"] - (ddb["end_time"] -
                                                                ddb["start_time"])) < 1e-3,
          t["Duration"])
    flat = tree(json.loads(t["Segments"][0]["Document"]))
    check("ddbSample: its faulted segment, the faulted dynamodb (aws) call and its faulted attempt",
          flat[0][3] and any(x[0] == 2 and x[3] and x[7] == "aws" for x in flat) and
          any(x[0] == 3 and x[3] and x[1] == "attempt" for x in flat), flat[:3])

r = xr.batch_get_traces(TraceIds=["1-5f29ab21-000000000000000000000001", "nonsense"] + ids[:1])
check("batch_get_traces: an unknown and a malformed id are UnprocessedTraceIds",
      sorted(r["UnprocessedTraceIds"]) == sorted(["1-5f29ab21-000000000000000000000001",
                                                  "nonsense"]) and len(r["Traces"]) == 1, r)
try:
    xr.batch_get_traces(TraceIds=ids[:1] * 6)
    check("batch_get_traces: more than 5 ids is refused", False)
except ClientError as e:
    check("batch_get_traces: more than 5 ids is InvalidRequestException",
          e.response["Error"]["Code"] == "InvalidRequestException", e.response["Error"])

# an OTLP trace, as X-Ray segments
T = "%032x" % int(now * 1000)
ns = int((now - 300) * 1e9)


def sp(sid, parent, name, kind, start, dur, attrs, status=0):
    s = {"traceId": T, "spanId": sid, "name": name, "kind": kind,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur),
         "attributes": [{"key": k, "value": ({"intValue": str(v)} if isinstance(v, int)
                                             else {"stringValue": v})} for k, v in attrs]}
    if parent:
        s["parentSpanId"] = parent
    if status:
        s["status"] = {"code": status}
    return s


body = {"resourceSpans": [
    {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
     "scopeSpans": [{"spans": [
         sp("1000000000000001", None, "GET /cart", 2, ns, 50000000,
            [("http.request.method", "GET"), ("url.full", "http://shop/cart"),
             ("http.response.status_code", 500)]),
         sp("1000000000000002", "1000000000000001", "SELECT", 3, ns + 1000000, 9000000,
            [("db.system", "postgresql"), ("db.name", "carts")], 2)]}]}]}
req = urllib.request.Request("http://127.0.0.1:%d/v1/traces" % PORT,
                             data=json.dumps(body).encode(), method="POST",
                             headers={"Authorization": "Bearer " + BEARER,
                                      "Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
xid = "1-%s-%s" % (T[:8], T[8:])
r = xr.batch_get_traces(TraceIds=[xid])
segs = [json.loads(s["Document"]) for s in r["Traces"][0]["Segments"]] if r["Traces"] else []
seg = segs[0] if segs else {}
sub = (seg.get("subsegments") or [{}])[0]
check("an OTLP trace as X-Ray: a segment named after its service, fault, http, metadata",
      len(segs) == 1 and seg.get("name") == "shop" and seg.get("fault") is True and
      seg.get("http", {}).get("response", {}).get("status") == 500 and
      seg.get("http", {}).get("request", {}).get("method") == "GET" and
      seg.get("metadata", {}).get("otel", {}).get("operation") == "GET /cart", seg)
check("... the client span a remote subsegment named after what it called, faulted",
      sub.get("namespace") == "remote" and sub.get("fault") is True and
      sub.get("name") not in (None, "SELECT"), sub)

# summaries
st, en = now - 3600, now + 60


def summaries(**kw):
    out, tok, pages = [], None, 0
    while True:
        a = dict(StartTime=st, EndTime=en, **kw)
        if tok:
            a["NextToken"] = tok
        r = xr.get_trace_summaries(**a)
        out += r["TraceSummaries"]
        pages += 1
        tok = r.get("NextToken")
        if not tok or pages > 50:
            return out, pages


all_, _ = summaries()
check("get_trace_summaries: every trace of the range", sorted(s["Id"] for s in all_) ==
      sorted(ids + [xid]), sorted(s["Id"] for s in all_))
s0 = next((s for s in all_ if s["Id"] == xid), {})
check("... a summary: HasFault, ResponseTime, Http, EntryPoint, ServiceIds",
      s0.get("HasFault") is True and abs(s0.get("ResponseTime", 0) - 0.05) < 1e-6 and
      s0.get("Http", {}).get("HttpStatus") == 500 and
      s0.get("EntryPoint", {}).get("Name") == "shop" and
      [x["Name"] for x in s0.get("ServiceIds", [])] == ["shop"], s0)
f, _ = summaries(FilterExpression='service("shop") { fault }')
check("FilterExpression service(\"shop\") { fault }: the OTLP trace", [s["Id"] for s in f] ==
      [xid], [s["Id"] for s in f])
if ddb:
    f, _ = summaries(FilterExpression="fault AND responsetime > 0.01",
                     TimeRangeType="TraceId")
    want = sorted(d["trace_id"] for d in docs.values()
                  if d.get("fault") and d["end_time"] - d["start_time"] > 0.01) + [xid]
    check("FilterExpression fault AND responsetime > 0.01", sorted(s["Id"] for s in f) ==
          sorted(want), (sorted(s["Id"] for s in f), want))
try:
    xr.get_trace_summaries(StartTime=st, EndTime=en, FilterExpression='service("a" {')
    check("a malformed expression is refused", False)
except ClientError as e:
    check("a malformed expression: InvalidRequestException naming the position",
          e.response["Error"]["Code"] == "InvalidRequestException" and
          "position" in e.response["Error"]["Message"], e.response["Error"])
try:
    xr.get_trace_summaries(StartTime=en, EndTime=st)
    check("an empty range is refused", False)
except ClientError as e:
    check("EndTime before StartTime: InvalidRequestException",
          e.response["Error"]["Code"] == "InvalidRequestException", e.response["Error"])

# many traces: pages through NextToken, annotation / responsetime / service filters
many = {}
for i in range(130):
    tid = "1-%08x-%024x" % (int(now), 0xd000 + i)
    t0 = now - 1200 + i
    many[tid] = {"name": "pager", "id": "%016x" % (0xd000 + i), "trace_id": tid,
                 "start_time": t0, "end_time": t0 + (2.5 if i % 40 == 7 else 0.2),
                 "annotations": {"k": "v" if i % 50 == 3 else "w", "n": i},
                 "http": {"request": {"method": "GET", "url": "http://pager/%d" % i},
                          "response": {"status": 200}}}
r = xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in many.values()])
check("put_trace_segments: 130 more traces, none unprocessed",
      r.get("UnprocessedTraceSegments") == [], r.get("UnprocessedTraceSegments"))
# (each call differs from the ones before: owld refuses a signed request it has seen)
all2, pages = summaries(TimeRangeType="Event")
got = [x["Id"] for x in all2]
check("get_trace_summaries: %d traces in %d pages through NextToken, each once" %
      (len(got), pages), pages >= 2 and len(got) == len(set(got)) and
      sorted(got) == sorted(ids + [xid] + list(many)), (pages, len(got), len(set(got))))
first = xr.get_trace_summaries(StartTime=st, EndTime=en, TimeRangeType="Service")
check("... a page holds at most 100 summaries and gives a NextToken",
      len(first["TraceSummaries"]) <= 100 and "NextToken" in first,
      (len(first["TraceSummaries"]), "NextToken" in first))
f, _ = summaries(FilterExpression='annotation.k = "v"')
want = sorted(t for t, d in many.items() if d["annotations"]["k"] == "v")
check("FilterExpression annotation.k = \"v\"", sorted(x["Id"] for x in f) == want,
      (sorted(x["Id"] for x in f), want))
f, _ = summaries(FilterExpression="responsetime > 1")
want = sorted([t for t, d in many.items() if d["end_time"] - d["start_time"] > 1] +
              [d["trace_id"] for d in docs.values()
               if d.get("end_time", 0) - d["start_time"] > 1])
check("FilterExpression responsetime > 1", len(want) >= 4 and
      sorted(x["Id"] for x in f) == want, (sorted(x["Id"] for x in f), want))
f, _ = summaries(FilterExpression='service("pager")')
check("FilterExpression service(\"pager\"): the 130", sorted(x["Id"] for x in f) ==
      sorted(many), len(f))
s7 = next((x for x in f if x["Id"] == "1-%08x-%024x" % (int(now), 0xd000 + 7)), {})
check("... its summary: Duration, ResponseTime, Http, EntryPoint",
      abs(s7.get("Duration", 0) - 2.5) < 1e-5 and abs(s7.get("ResponseTime", 0) - 2.5) < 1e-5
      and s7.get("Http", {}).get("HttpURL") == "http://pager/7" and
      s7.get("Http", {}).get("HttpStatus") == 200 and
      s7.get("EntryPoint", {}).get("Name") == "pager" and s7.get("HasFault") is False, s7)
try:
    xr.get_trace_summaries(StartTime=now - 90000, EndTime=now)
    check("a range over 24 hours is refused", False)
except ClientError as e:
    check("a range over 24 hours: InvalidRequestException",
          e.response["Error"]["Code"] == "InvalidRequestException", e.response["Error"])
r = xr.batch_get_traces(TraceIds=list(many)[:2] + ["1-%08x-%024x" % (int(now), 0xeeee)])
check("batch_get_traces: two found, an unknown X-Ray id unprocessed",
      sorted(t["Id"] for t in r["Traces"]) == sorted(list(many)[:2]) and
      r["UnprocessedTraceIds"] == ["1-%08x-%024x" % (int(now), 0xeeee)], r)

r = other.get_trace_summaries(StartTime=st, EndTime=en)
check("another tenant: no summaries", r["TraceSummaries"] == [], r["TraceSummaries"])
r = other.batch_get_traces(TraceIds=ids[:1])
check("another tenant: the trace is unprocessed", r["Traces"] == [] and
      r["UnprocessedTraceIds"] == ids[:1], r)
sys.exit(1 if failures() else 0)

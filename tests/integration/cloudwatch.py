"""cloudwatch.py — CloudWatch metrics through boto3 (the machine's botocore 1.43: Smithy RPC v2
CBOR) and hand-signed AWS query and JSON 1.0 requests, for t_cloudwatch.sh:

  flow      put_metric_data (value, values+counts, statistic set, dimensions, resolution 1),
            get_metric_statistics (the five statistics and p99, compared with what this script
            computes from the same data), list_metrics, get_metric_data with an expression
  rules     each PutMetricData rule broken once in each protocol (query, JSON 1.0, CBOR):
            code and HTTP status as CloudWatch answers, and nothing of the refused request
            stored (its good datum's metric never shows up)

  cloudwatch.py PORT KEYID SECRET"""

import datetime
import json
import math
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request

from owltest import check, failures, note

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

PORT, KEY, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BASE = "http://127.0.0.1:%d" % PORT
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def client():
    return boto3.client("cloudwatch", endpoint_url=BASE, region_name="us-east-1",
                        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 1}, read_timeout=30))


def nearest_rank(values, q):
    v = sorted(values)
    return v[max(1, math.ceil(q * len(v))) - 1]


def flow(cw):
    dims = [{"Name": "host", "Value": "web-1"}, {"Name": "az", "Value": "a"}]
    t = NOW - datetime.timedelta(minutes=3)
    single = [float(x) for x in range(1, 41)]          # 40 single values
    vals, counts = [5.0, 50.0, 500.0], [10.0, 5.0, 1.0]  # one Values+Counts datum
    data = [{"MetricName": "Latency", "Dimensions": dims, "Value": v, "Unit": "Milliseconds",
             "Timestamp": t, "StorageResolution": 1} for v in single]
    data.append({"MetricName": "Latency", "Dimensions": dims, "Values": vals, "Counts": counts,
                 "Unit": "Milliseconds", "Timestamp": t})
    cw.put_metric_data(Namespace="Shop", MetricData=data[:20])
    cw.put_metric_data(Namespace="Shop", MetricData=data[20:])
    cw.put_metric_data(Namespace="Shop", MetricData=[{
        "MetricName": "Orders", "Dimensions": dims[:1], "Unit": "Count", "Timestamp": t,
        "StatisticValues": {"SampleCount": 4, "Sum": 30, "Minimum": 2, "Maximum": 12}}])
    everything = single + [v for v, c in zip(vals, counts) for _ in range(int(c))]
    r = cw.get_metric_statistics(
        Namespace="Shop", MetricName="Latency", Dimensions=list(reversed(dims)),
        StartTime=NOW - datetime.timedelta(hours=1), EndTime=NOW + datetime.timedelta(minutes=5),
        Period=3600, Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"])
    dp = r["Datapoints"]
    # the hour may straddle a boundary: sum the datapoints
    got = {"SampleCount": sum(d["SampleCount"] for d in dp), "Sum": sum(d["Sum"] for d in dp),
           "Minimum": min(d["Minimum"] for d in dp) if dp else None,
           "Maximum": max(d["Maximum"] for d in dp) if dp else None}
    want = {"SampleCount": len(everything), "Sum": sum(everything), "Minimum": min(everything),
            "Maximum": max(everything)}
    for k in want:
        check("boto3 GetMetricStatistics %s = %s" % (k, want[k]),
              got[k] is not None and abs(got[k] - want[k]) < 1e-9, got[k])
    if len(dp) == 1:
        check("boto3 GetMetricStatistics Average", abs(dp[0]["Average"] - sum(everything) /
                                                       len(everything)) < 1e-9, dp[0])
        check("... Unit Milliseconds", dp[0].get("Unit") == "Milliseconds", dp[0])
    r = cw.get_metric_statistics(
        Namespace="Shop", MetricName="Latency", Dimensions=dims,
        StartTime=t - datetime.timedelta(seconds=1), EndTime=t + datetime.timedelta(seconds=1),
        Period=1, ExtendedStatistics=["p99", "p50"])
    want99, want50 = nearest_rank(everything, 0.99), nearest_rank(everything, 0.5)
    ext = r["Datapoints"][0]["ExtendedStatistics"] if r["Datapoints"] else {}
    check("boto3 p99 within 1%% of %g" % want99,
          "p99" in ext and abs(ext["p99"] - want99) <= 0.01 * want99, ext)
    check("boto3 p50 within 1%% of %g" % want50,
          "p50" in ext and abs(ext["p50"] - want50) <= 0.01 * want50, ext)
    r = cw.get_metric_statistics(
        Namespace="Shop", MetricName="Orders", Dimensions=dims[:1],
        StartTime=t - datetime.timedelta(minutes=1), EndTime=t + datetime.timedelta(minutes=1),
        Period=120, Statistics=["Average", "SampleCount", "Maximum"])
    d = r["Datapoints"][0] if r["Datapoints"] else {}
    check("boto3 statistic set: Average 7.5, SampleCount 4, Maximum 12",
          d.get("Average") == 7.5 and d.get("SampleCount") == 4 and d.get("Maximum") == 12, d)
    names = sorted(m["MetricName"] for m in cw.list_metrics(Namespace="Shop")["Metrics"])
    check("boto3 ListMetrics Namespace=Shop", names == ["Latency", "Orders"], names)
    names = [m["MetricName"] for m in cw.list_metrics(
        Dimensions=[{"Name": "az", "Value": "a"}])["Metrics"]]
    check("boto3 ListMetrics by dimension value", names == ["Latency"], names)
    names = [m["MetricName"] for m in cw.list_metrics(Namespace="Shop",
                                                       RecentlyActive="PT3H")["Metrics"]]
    check("boto3 ListMetrics RecentlyActive=PT3H", sorted(names) == ["Latency", "Orders"], names)
    r = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "lat", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": "Shop", "MetricName": "Latency", "Dimensions": dims},
                "Period": 60, "Stat": "Sum"}},
            {"Id": "cnt", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": "Shop", "MetricName": "Latency", "Dimensions": dims},
                "Period": 60, "Stat": "SampleCount"}},
            {"Id": "avg", "Expression": "lat / cnt", "Label": "mean"}],
        StartTime=NOW - datetime.timedelta(minutes=10), EndTime=NOW + datetime.timedelta(minutes=1))
    res = r["MetricDataResults"]
    ok = len(res) == 1 and res[0]["Id"] == "avg" and len(res[0]["Values"]) == 1 and \
        abs(res[0]["Values"][0] - sum(everything) / len(everything)) < 1e-9
    check("boto3 GetMetricData expression lat / cnt = the average", ok, res)
    try:
        cw.get_metric_data(MetricDataQueries=[{"Id": "e", "Expression": "FILL(m1,"}],
                           StartTime=NOW - datetime.timedelta(minutes=10), EndTime=NOW)
        check("a malformed expression is refused", False)
    except ClientError as e:
        check("a malformed expression is refused naming the position",
              e.response["Error"]["Code"] == "ValidationError" and
              "at 9" in e.response["Error"]["Message"], e.response["Error"])


# ---- raw requests in each protocol ----

def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    if n < 65536:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    return bytes([major << 5 | 26]) + struct.pack(">I", n)


def cbor(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return cbor_head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    if isinstance(v, datetime.datetime):
        return b"\xc1" + cbor(float(v.timestamp()))
    raise TypeError(v)


def form(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            form("%s.%s" % (prefix, k) if prefix else k, x, out)
    elif isinstance(v, list):
        for i, x in enumerate(v, 1):
            form("%s.member.%d" % (prefix, i), x, out)
    elif isinstance(v, datetime.datetime):
        out.append((prefix, v.strftime("%Y-%m-%dT%H:%M:%SZ")))
    elif isinstance(v, float) and math.isnan(v):
        out.append((prefix, "NaN"))
    else:
        out.append((prefix, str(v)))


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    return v


def send(proto, op, params):
    """A signed request in proto; returns (status, code, body bytes)."""
    if proto == "query":
        pairs = [("Action", op), ("Version", "2010-08-01")]
        form("", params, pairs)
        body = urllib.parse.urlencode(pairs).encode()
        url, headers = BASE + "/", {"Content-Type": "application/x-www-form-urlencoded"}
    elif proto == "json":
        body = json.dumps(jsonable(params), allow_nan=False).encode()
        url = BASE + "/"
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": "GraniteServiceVersion20100801." + op}
    else:
        body = cbor(params)
        url = BASE + "/service/GraniteServiceVersion20100801/operation/" + op
        headers = {"Content-Type": "application/cbor", "Accept": "application/cbor",
                   "smithy-protocol": "rpc-v2-cbor"}
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "monitoring", "us-east-1").add_auth(req)
    r = urllib.request.Request(url, data=body, method="POST", headers=dict(req.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, None, resp.read()
    except urllib.error.HTTPError as he:
        data = he.read()
        code = (he.headers.get("x-amzn-query-error") or "").split(";")[0]
        if proto == "query":
            s = data.decode(errors="replace")
            code = s.split("<Code>")[1].split("</Code>")[0] if "<Code>" in s else s[:80]
        return he.code, code, data


def rules():
    good = lambda name: {"MetricName": name, "Value": 1.0}
    old = NOW - datetime.timedelta(days=15)
    ahead = NOW + datetime.timedelta(hours=3)
    cases = [
        ("Value with StatisticValues", "InvalidParameterCombination", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "StatisticValues": {
             "SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]),
        ("151 Values", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Values": [float(i) for i in range(151)]}]),
        ("Counts of another length", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Values": [1.0, 2.0], "Counts": [1.0]}]),
        ("a value out of range (NaN or 2^400)", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 2.0 ** 400}]),
        ("1,001 datums", "InvalidParameterValue", 400,
         lambda n: [good(n)] + [good("x")] * 1000),
        ("a timestamp 15 days back", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "Timestamp": old}]),
        ("a timestamp 3 hours ahead", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "Timestamp": ahead}]),
        ("StorageResolution 5", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "StorageResolution": 5}]),
        ("no MetricName", "MissingParameter", 400, lambda n: [good(n), {"Value": 1.0}]),
        ("StatisticValues without Maximum", "MissingParameter", 400,
         lambda n: [good(n), {"MetricName": "x", "StatisticValues": {
             "SampleCount": 1, "Sum": 1, "Minimum": 1}}]),
        ("Minimum over Maximum", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "StatisticValues": {
             "SampleCount": 1, "Sum": 1, "Minimum": 3, "Maximum": 1}}]),
        ("a Unit CloudWatch does not know", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "Unit": "Parsecs"}]),
        ("31 dimensions", "InvalidParameterValue", 400,
         lambda n: [good(n), {"MetricName": "x", "Value": 1.0, "Dimensions": [
             {"Name": "d%d" % i, "Value": "v"} for i in range(31)]}]),
    ]
    cw = client()
    for proto in ("query", "json", "cbor"):
        for i, (what, code, status, make) in enumerate(cases):
            name = "refused_%s_%d" % (proto, i)
            data = make(name)
            if proto == "query" and "2^400" in what:
                data[1]["Value"] = float("nan")
            st, got, body = send(proto, "PutMetricData", {"Namespace": "Rules", "MetricData": data})
            check("%s: %s -> %s %d" % (proto, what, code, status), st == status and got == code,
                  (st, got, body[:300]))
        st, got, body = send(proto, "PutMetricData", {"Namespace": "AWS/EC2",
                                                       "MetricData": [good("aws")]})
        check("%s: namespace AWS/... -> InvalidParameterValue 400" % proto,
              st == 400 and got == "InvalidParameterValue", (st, got, body[:200]))
        st, got, body = send(proto, "PutMetricData", {"MetricData": [good("nons")]})
        check("%s: no Namespace -> MissingParameter 400" % proto,
              st == 400 and got == "MissingParameter", (st, got, body[:200]))
        big = [{"MetricName": "big", "Value": 1.0, "Dimensions": [
            {"Name": "n%d" % k, "Value": "v" * 1000} for k in range(30)]} for _ in range(40)]
        st, got, body = send(proto, "PutMetricData", {"Namespace": "Rules", "MetricData": big})
        check("%s: a request over 1 MB -> 413" % proto, st == 413, (st, got, body[:200]))
        # the protocol works for a good request
        st, got, body = send(proto, "PutMetricData", {"Namespace": "Rules",
                                                       "MetricData": [good("ok_" + proto)]})
        check("%s: a good PutMetricData -> 200" % proto, st == 200, (st, got, body[:200]))
        st, got, body = send(proto, "ListMetrics", {"Namespace": "Rules"})
        check("%s: ListMetrics answers 200" % proto, st == 200, (st, body[:200]))
    stored = sorted(m["MetricName"] for m in cw.list_metrics(Namespace="Rules")["Metrics"])
    check("nothing of any refused request was stored",
          stored == ["ok_cbor", "ok_json", "ok_query"], stored)
    stored = cw.list_metrics(Namespace="AWS/EC2")["Metrics"]
    check("... nor under AWS/EC2", stored == [], stored)
    # GetMetricStatistics rules
    for proto in ("query", "json", "cbor"):
        base = {"Namespace": "Shop", "MetricName": "Latency",
                "StartTime": NOW - datetime.timedelta(days=2), "EndTime": NOW}
        st, got, _ = send(proto, "GetMetricStatistics", dict(base, Period=60,
                                                             Statistics=["Average"]))
        check("%s: 2,880 datapoints -> InvalidParameterCombination" % proto,
              st == 400 and got == "InvalidParameterCombination", (st, got))
        st, got, _ = send(proto, "GetMetricStatistics", dict(base, Period=7,
                                                             Statistics=["Average"]))
        check("%s: Period 7 -> InvalidParameterValue" % proto,
              st == 400 and got == "InvalidParameterValue", (st, got))
        st, got, _ = send(proto, "GetMetricStatistics", dict(base, Period=3600,
                                                             Statistics=["Median"]))
        check("%s: statistic Median -> InvalidParameterValue" % proto,
              st == 400 and got == "InvalidParameterValue", (st, got))


def main():
    cw = client()
    note("botocore speaks %s to CloudWatch" % cw.meta.service_model.protocol)
    flow(cw)
    rules()
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())

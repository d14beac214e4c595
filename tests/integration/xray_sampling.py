"""xray_sampling.py — X-Ray sampling rules against owld (t_xray_sampling.sh), two parts:

  xray_sampling.py api PORT KEY SECRET OTHER_KEY OTHER_SECRET READ_KEY READ_SECRET BEARER
    boto3 on the main port: rules created (members, attributes, ARNs), listed through the
    paginator, updated by ARN, deleted; X-Ray's refusals (a name taken, a bad priority, rate
    or version, Default deleted or changed beyond its rate and reservoir, an unknown rule, the
    26th rule: RuleLimitExceededException); another tenant sees only its Default; a key
    without xray:CreateSamplingRule is denied; the changes are in the audit trail.

  xray_sampling.py sdk PORT KEY SECRET DAEMON_PORT
    the machine's aws-xray-sdk with centralized sampling pointed at owld's daemon address:
    its rule poller fetches a rule with ReservoirSize 0 (rate 0.9), the rule is changed to
    0.25, the SDK's target poller gets the new rate as a target, then >= 2,000 decisions of
    sampler.should_trace on a matching request sample a share within 4 standard deviations of
    the binomial, and the statistics the SDK reports come back from
    GetSamplingStatisticSummaries; a rule with ReservoirSize 7 gives the SDK a quota of 7,
    split 4 + 3 when a second client asks, and a burst within one second takes the quota.
Prints ok / not ok lines (owltest) and notes with the figures."""

import json
import logging
import math
import signal
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

signal.alarm(300)  # every wait below is bounded; this bounds the whole helper
MODE = sys.argv[1]
PORT = int(sys.argv[2])


def client(key, secret):
    return boto3.client("xray", endpoint_url="http://127.0.0.1:%d" % PORT,
                        region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5,
                                      read_timeout=30))


def rule(name, prio, rate, reservoir, service="*", **more):
    r = {"RuleName": name, "ResourceARN": "*", "Priority": prio, "FixedRate": rate,
         "ReservoirSize": reservoir, "ServiceName": service, "ServiceType": "*", "Host": "*",
         "HTTPMethod": "*", "URLPath": "*", "Version": 1}
    r.update(more)
    return r


def error_of(fn, **kw):
    """The error code and message fn(**kw) fails with, or None when it succeeds."""
    try:
        fn(**kw)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")


_listed = {}


def names(xr):
    # owld accepts a signed POST once (its SigV4 replay guard) and SigV4 dates are whole
    # seconds: the same list asked twice by one key within a second would be a replay
    if _listed.get(id(xr)) == int(time.time()):
        time.sleep(1.05 - time.time() % 1)
    _listed[id(xr)] = int(time.time())
    out = []
    for page in xr.get_paginator("get_sampling_rules").paginate():
        out += [r["SamplingRule"]["RuleName"] for r in page["SamplingRuleRecords"]]
    return out


def api():
    key, secret, okey, osecret, rkey, rsecret, bearer = sys.argv[3:10]
    xr = client(key, secret)
    account = boto3.client("sts", endpoint_url="http://127.0.0.1:%d" % PORT,
                           region_name="us-east-1", aws_access_key_id=key,
                           aws_secret_access_key=secret).get_caller_identity()["Account"]

    r = xr.create_sampling_rule(SamplingRule=rule(
        "boto-a", 20, 0.3, 3, "orders-*", Host="*.example.com", HTTPMethod="POST",
        URLPath="/api/?/orders", Attributes={"tier": "gold", "region": "eu-*"}),
        Tags=[{"Key": "team", "Value": "payments"}])["SamplingRuleRecord"]
    s = r["SamplingRule"]
    check("create_sampling_rule: the record with its members, ARN and times",
          s["RuleARN"] == "arn:aws:xray:us-east-1:%s:sampling-rule/boto-a" % account and
          s["Attributes"] == {"tier": "gold", "region": "eu-*"} and s["Priority"] == 20 and
          s["FixedRate"] == 0.3 and s["ReservoirSize"] == 3 and s["URLPath"] == "/api/?/orders"
          and s["Version"] == 1 and r["CreatedAt"] == r["ModifiedAt"] and
          abs(r["CreatedAt"].timestamp() - time.time()) < 60, r)
    xr.create_sampling_rule(SamplingRule=rule("boto-b", 20, 0.1, 0))
    got = names(xr)
    check("get_sampling_rules (paginator): by priority then name, Default last",
          [n for n in got if n.startswith("boto") or n == "Default"] ==
          ["boto-a", "boto-b", "Default"], got)

    arn = s["RuleARN"]
    r = xr.update_sampling_rule(SamplingRuleUpdate={"RuleARN": arn, "FixedRate": 0.6,
                                                    "Priority": 5})["SamplingRuleRecord"]
    check("update_sampling_rule by ARN: the members given change, the others stay",
          r["SamplingRule"]["FixedRate"] == 0.6 and r["SamplingRule"]["Priority"] == 5 and
          r["SamplingRule"]["ReservoirSize"] == 3 and
          r["SamplingRule"]["Attributes"] == {"tier": "gold", "region": "eu-*"} and
          r["ModifiedAt"] >= r["CreatedAt"], r)
    r = xr.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.2,
                                                    "ReservoirSize": 2})["SamplingRuleRecord"]
    check("update_sampling_rule Default: its rate and reservoir",
          r["SamplingRule"]["FixedRate"] == 0.2 and r["SamplingRule"]["ReservoirSize"] == 2 and
          r["SamplingRule"]["Priority"] == 10000, r)

    bad = [
        ("a name taken", xr.create_sampling_rule, {"SamplingRule": rule("boto-b", 3, 0.1, 0)},
         "InvalidRequestException", "exists already"),
        ("Default created", xr.create_sampling_rule, {"SamplingRule": rule("Default", 3, 0.1, 0)},
         "InvalidRequestException", "Default"),
        ("priority 10000", xr.create_sampling_rule, {"SamplingRule": rule("p", 10000, 0.1, 0)},
         "InvalidRequestException", "Priority"),
        ("rate 1.5", xr.create_sampling_rule, {"SamplingRule": rule("p", 3, 1.5, 0)},
         "InvalidRequestException", "FixedRate"),
        ("version 2", xr.create_sampling_rule, {"SamplingRule": rule("p", 3, 0.1, 0, Version=2)},
         "InvalidRequestException", "Version"),
        ("six attributes", xr.create_sampling_rule,
         {"SamplingRule": rule("p", 3, 0.1, 0, Attributes={str(i): "v" for i in range(6)})},
         "InvalidRequestException", "Attributes"),
        ("Default deleted", xr.delete_sampling_rule, {"RuleName": "Default"},
         "InvalidRequestException", "cannot be deleted"),
        ("Default's host changed", xr.update_sampling_rule,
         {"SamplingRuleUpdate": {"RuleName": "Default", "Host": "x"}},
         "InvalidRequestException", "only FixedRate and ReservoirSize"),
        ("an unknown rule updated", xr.update_sampling_rule,
         {"SamplingRuleUpdate": {"RuleName": "nope", "FixedRate": 0.1}},
         "InvalidRequestException", "no sampling rule named nope"),
        ("an unknown rule deleted", xr.delete_sampling_rule, {"RuleName": "nope"},
         "InvalidRequestException", "no sampling rule named nope"),
    ]
    for what, fn, kw, code, says in bad:
        e = error_of(fn, **kw)
        check("%s: %s" % (what, code), e is not None and e[0] == code and says in e[1], e)

    have = len([n for n in names(xr) if n != "Default"])
    fill = ["fill-%02d" % i for i in range(25 - have)]
    for n in fill:
        xr.create_sampling_rule(SamplingRule=rule(n, 9000, 0.1, 0))
    e = error_of(xr.create_sampling_rule, SamplingRule=rule("the-26th", 3, 0.1, 0))
    check("a 26th rule besides Default: RuleLimitExceededException",
          e is not None and e[0] == "RuleLimitExceededException", e)
    for n in fill:
        xr.delete_sampling_rule(RuleName=n)
    check("the fillers deleted", len(names(xr)) == have + 1, names(xr))

    other = client(okey, osecret)
    check("another tenant: only its own Default", names(other) == ["Default"], names(other))
    e = error_of(other.delete_sampling_rule, RuleName="boto-b")
    check("another tenant cannot delete this tenant's rule",
          e is not None and e[0] == "InvalidRequestException", e)
    reader = client(rkey, rsecret)
    check("a key allowed xray:GetSamplingRules reads the rules", "boto-a" in names(reader))
    e = error_of(reader.create_sampling_rule, SamplingRule=rule("denied", 3, 0.1, 0))
    check("... and without xray:CreateSamplingRule it is denied",
          e is not None and e[0] == "AccessDeniedException", e)

    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/v1/audit?action=xray:CreateSamplingRule&limit=1000" % PORT,
        headers={"Authorization": "Bearer " + bearer})
    events = json.load(urllib.request.urlopen(req, timeout=20))["events"]
    by = {(e["resource"].rsplit("/", 1)[-1], e["status"]) for e in events}
    check("the audit trail has the creations, refused ones with their status",
          ("boto-a", 200) in by and ("boto-b", 200) in by and ("boto-b", 400) in by and
          ("the-26th", 400) in by, sorted(by)[:10])


def sdk():
    key, secret, dport = sys.argv[3], sys.argv[4], int(sys.argv[5])
    logging.basicConfig(level=logging.CRITICAL)
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.sampling.connector import ServiceConnector

    xr = client(key, secret)
    xr.create_sampling_rule(SamplingRule=rule("quarter", 1, 0.9, 0, "quarter-svc"))
    xr.create_sampling_rule(SamplingRule=rule("reserved", 2, 0.0, 7, "reserved-svc"))

    xray_recorder.configure(daemon_address="udp:127.0.0.1:%d tcp:127.0.0.1:%d" % (dport, dport),
                            sampling=True, context_missing="LOG_ERROR", plugins=(),
                            service="quarter-svc")
    sampler = xray_recorder.sampler
    sampler.start()  # its rule poller fetches the rules at once, the target poller every 10 s

    def cached(name):
        return next((r for r in sampler._cache.rules if r.name == name), None)

    deadline = time.time() + 15
    while time.time() < deadline and not cached("quarter"):
        time.sleep(0.05)
    q = cached("quarter")
    check("the SDK's rule poller fetched the rules over the daemon port",
          q is not None and q.rate == 0.9 and cached("reserved") is not None and
          cached("Default") is not None, [(r.name, r.rate) for r in sampler._cache.rules])
    if not q:
        return
    fetched = sampler._cache.last_updated

    # a change the SDK learns from its targets: the rate, and LastRuleModification
    time.sleep(1.1)  # the SDK compares whole seconds: the change must come a second later
    xr.update_sampling_rule(SamplingRuleUpdate={"RuleName": "quarter", "FixedRate": 0.25})
    req = {"service": "quarter-svc", "host": "shop.example.com", "method": "GET",
           "path": "/cart"}
    decisions, sampled = 1, 1 if sampler.should_trace(dict(req)) == "quarter" else 0
    sampler._target_poller._do_work()
    check("the SDK's target poller got the new rate as a target (0.25)",
          cached("quarter").rate == 0.25, cached("quarter").rate)
    deadline = time.time() + 15
    while time.time() < deadline and sampler._cache.last_updated == fetched:
        time.sleep(0.05)
    check("... and refetched the rules, told by LastRuleModification",
          sampler._cache.last_updated != fetched and cached("quarter").rate == 0.25)

    n, k = 2000, 0
    for _ in range(n):
        if sampler.should_trace(dict(req)) == "quarter":
            k += 1
    decisions, sampled = decisions + n, sampled + k
    p = 0.25
    sd = math.sqrt(n * p * (1 - p))
    note("SDK decisions on rule quarter (FixedRate 0.25, ReservoirSize 0): %d of %d sampled "
         "= %.4f (binomial mean %.0f, sd %.1f, z = %.2f)" % (k, n, k / n, n * p, sd,
                                                              (k - n * p) / sd))
    check("the sampled share is within 4 standard deviations of the binomial (%d of %d)" % (k, n),
          abs(k - n * p) <= 4 * sd)

    sampler._target_poller._do_work()  # reports the statistics
    sums = {s["RuleName"]: s for s in
            xr.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]}
    s = sums.get("quarter", {})
    check("GetSamplingStatisticSummaries: the requests and samples the SDK reported "
          "(%d, %d)" % (decisions, sampled),
          s.get("RequestCount") == decisions and s.get("SampledCount") == sampled, s)

    # the reservoir: the SDK's quota, then shared with a second client
    sampler.should_trace({"service": "reserved-svc"})
    sampler._target_poller._do_work()
    res = cached("reserved").reservoir
    check("rule reserved: the SDK's ReservoirQuota is the whole reservoir (7), for 10 s",
          res.quota == 7 and 8 <= res.TTL - time.time() <= 11, (res.quota, res.TTL))
    second = ServiceConnector()
    second.setup_xray_client(ip="127.0.0.1", port=dport, client=None)
    theirs = [r for r in second.fetch_sampling_rules() if r.name == "reserved"]
    theirs[0].increment_request_count()
    t2, _ = second.fetch_sampling_target(theirs)
    sampler.should_trace({"service": "reserved-svc"})
    sampler._target_poller._do_work()
    mine = cached("reserved").reservoir.quota
    theirs[0].increment_request_count()
    t3, _ = second.fetch_sampling_target(theirs)
    note("rule reserved (7/s): the SDK's quota 7, a second client 0 while it holds all; "
         "renewed: the SDK %s, the second %s" % (mine, t3["reserved"]["quota"]))
    check("a second client gets nothing while the first holds the reservoir, then the split "
          "4 + 3", t2["reserved"]["quota"] == 0 and mine == 4 and t3["reserved"]["quota"] == 3,
          (t2, mine, t3))

    # a burst in one second takes the quota (FixedRate 0: nothing past it)
    time.sleep(1.02 - time.time() % 1)
    taken = sum(sampler.should_trace({"service": "reserved-svc"}) == "reserved"
                for _ in range(50))
    note("a burst of 50 requests on rule reserved with quota %d: %d sampled" % (mine, taken))
    check("the burst takes the quota (%d of 50 sampled, quota %d)" % (taken, mine),
          mine <= taken <= 2 * mine)


if MODE == "api":
    api()
else:
    sdk()
sys.exit(1 if failures() else 0)

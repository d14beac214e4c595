"""awsclients.py — boto3 (the machine's python3, botocore 1.43) against owld's action layer,
for t_aws.sh. Checks STS GetCallerIdentity over the query protocol (and shows what botocore
sends), the AWS error shapes an SDK parses (AccessDenied in XML, InvalidClientTokenId,
UnknownOperationException over JSON 1.0 for CloudWatch and JSON 1.1 for Logs, each with
its own content type), and a Smithy RPC v2 CBOR error read back from a signed raw request.

  awsclients.py PORT KEYID SECRET TENANT LIMITED_KEYID LIMITED_SECRET"""

import struct
import sys
import urllib.request

from owltest import check, failures, note

try:
    import boto3
    import botocore
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
except ImportError as e:  # the caller checked; a missing module here is a failure
    check("boto3 imports", False, e)
    sys.exit(1)


def client(svc, port, key, secret):
    return boto3.client(svc, endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5,
                                      read_timeout=20))


def capture(c):
    """Records the last request botocore sends on c: (headers, body)."""
    seen = {}

    def hook(request, **kw):
        seen["headers"] = {k.lower(): (v.decode() if isinstance(v, bytes) else v)
                           for k, v in request.headers.items()}
        body = request.body
        seen["body"] = body.decode() if isinstance(body, bytes) else (body or "")

    c.meta.events.register("before-send", hook)
    return seen


def error_of(call):
    """Runs call; returns (code, http status, headers) of the ClientError, or None."""
    try:
        call()
    except ClientError as e:
        md = e.response.get("ResponseMetadata", {})
        return (e.response.get("Error", {}).get("Code"), md.get("HTTPStatusCode"),
                md.get("HTTPHeaders", {}))
    return None


def cbor_text_map(b):
    """Decodes a CBOR map of text to text (what a CBOR error body is)."""
    def head(i):
        ib = b[i]
        major, info = ib >> 5, ib & 31
        if info < 24:
            return major, info, i + 1
        n = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        return major, int.from_bytes(b[i + 1:i + 1 + n], "big"), i + 1 + n

    major, count, i = head(0)
    assert major == 5, "not a map"
    out = {}
    for _ in range(count):
        vals = []
        for _ in range(2):
            m, n, i = head(i)
            assert m == 3, "not text"
            vals.append(b[i:i + n].decode())
            i += n
        out[vals[0]] = vals[1]
    assert i == len(b), "trailing bytes"
    return out


def main():
    port, key, secret, tenant, lkey, lsecret = (int(sys.argv[1]),) + tuple(sys.argv[2:7])
    note("botocore %s" % botocore.__version__)

    sts = client("sts", port, key, secret)
    sent = capture(sts)
    ident = sts.get_caller_identity()
    check("boto3 sts.get_caller_identity: Account is the tenant", ident.get("Account") == tenant,
          ident)
    check("boto3: UserId is the key id", ident.get("UserId") == key, ident)
    check("boto3: Arn names the key", ident.get("Arn") == "arn:owl:iam::%s:key/%s" % (tenant, key),
          ident)
    note("botocore sent Content-Type %s, body %r" % (sent["headers"].get("content-type"),
                                                      sent["body"]))
    check("botocore speaks the query protocol to STS (form body, Action=GetCallerIdentity)",
          sent["headers"].get("content-type", "").startswith("application/x-www-form-urlencoded")
          and "Action=GetCallerIdentity" in sent["body"], sent)
    check("the response is XML with x-amzn-RequestId",
          ident["ResponseMetadata"]["HTTPHeaders"].get("content-type") == "text/xml"
          and ident["ResponseMetadata"]["RequestId"], ident["ResponseMetadata"])

    e = error_of(lambda: client("sts", port, lkey, lsecret).get_caller_identity())
    check("boto3: a key without sts:GetCallerIdentity gets AccessDenied 403",
          e and e[0] == "AccessDenied" and e[1] == 403, e)
    # a wrong secret: its first character changed (a secret may itself start with "X")
    wrong = ("Y" if secret[0] == "X" else "X") + secret[1:]
    e = error_of(lambda: client("sts", port, key, wrong).get_caller_identity())
    # issue 9: one code for any failed credential (a bad signature no longer differs from an
    # unknown key id)
    check("boto3: a wrong secret gets InvalidClientTokenId", e and e[0] == "InvalidClientTokenId",
          e)

    cw = client("cloudwatch", port, key, secret)
    sent = capture(cw)
    e = error_of(lambda: cw.describe_insight_rules())
    note("botocore sent CloudWatch Content-Type %s, X-Amz-Target %s" % (
        sent["headers"].get("content-type"), sent["headers"].get("x-amz-target")))
    check("boto3 cloudwatch (JSON 1.0): unknown operation is UnknownOperationException 400",
          e and e[0] == "UnknownOperationException" and e[1] == 400, e)
    if sent["headers"].get("content-type") == "application/x-amz-json-1.0":
        check("... answered as application/x-amz-json-1.0 (not 1.1)",
              e and e[2].get("content-type") == "application/x-amz-json-1.0", e)
    logs = client("logs", port, key, secret)
    e = error_of(lambda: logs.describe_destinations())  # not served (yet)
    check("boto3 logs (JSON 1.1): unknown operation is UnknownOperationException",
          e and e[0] == "UnknownOperationException" and e[1] == 400, e)
    check("... answered as application/x-amz-json-1.1",
          e and e[2].get("content-type") == "application/x-amz-json-1.1", e)

    # RPC v2 CBOR, signed as an SDK would: an unknown operation's error is a CBOR map
    url = "http://127.0.0.1:%d/service/GraniteServiceVersion20100801/operation/DescribeInsightRules" % port
    req = AWSRequest(method="POST", url=url, data=b"\xa0",
                     headers={"Content-Type": "application/cbor", "Accept": "application/cbor",
                              "smithy-protocol": "rpc-v2-cbor"})
    SigV4Auth(Credentials(key, secret), "monitoring", "us-east-1").add_auth(req)
    r = urllib.request.Request(url, data=b"\xa0", method="POST", headers=dict(req.headers))
    try:
        urllib.request.urlopen(r, timeout=20)
        check("CBOR: an unknown operation is refused", False)
    except urllib.error.HTTPError as he:
        body = he.read()
        check("CBOR: unknown operation is 400", he.code == 400, he.code)
        check("CBOR: content type application/cbor",
              he.headers.get("content-type") == "application/cbor", dict(he.headers))
        check("CBOR: smithy-protocol: rpc-v2-cbor",
              he.headers.get("smithy-protocol") == "rpc-v2-cbor", dict(he.headers))
        try:
            m = cbor_text_map(body)
        except (AssertionError, KeyError, IndexError, UnicodeDecodeError) as ex:
            m = {"undecodable": repr(ex), "body": body.hex()}
        check("CBOR: the body is a map with __type and message",
              m.get("__type") == "UnknownOperationException" and "DescribeInsightRules" in m.get("message", ""),
              m)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())

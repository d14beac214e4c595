"""sigv4audit.py — for t_sigv4audit.sh: SigV4 bodies must be signed and exact replays of
writes are refused (issue 9, item 4), and failed authentications neither amplify into the
audit store nor go unlimited (item 6).

SigV4 is built here with hmac/hashlib (independent of owld's code), on the raw socket so the
bytes sent are exactly the bytes signed — or deliberately not.

Usage: sigv4audit.py PORT KEYID SECRET(SigV4) BEARER_ADMIN(KEYID:SECRET) MODE
MODE "sigv4": the body-swap, UNSIGNED-PAYLOAD, streaming and replay checks.
MODE "flood N LIMIT": N failed authentications from 127.0.0.2 over 4 keep-alive connections;
prints "flood401 X" and "flood429 Y" for the shell."""
import datetime
import hashlib
import hmac
import json
import socket
import struct
import sys
import time

from owltest import Reader, check, failures, request_bytes


def sha(b):
    return hashlib.sha256(b).hexdigest()


def sign(key_id, secret, method, path, body, payload_claim="hash", amz=None):
    """Headers for a SigV4 request (host, x-amz-date, [x-amz-content-sha256], authorization).
    payload_claim: "hash" (the body's SHA-256, signed), None (no header: owld hashes the body
    it receives) or a literal such as "UNSIGNED-PAYLOAD"."""
    amz = amz or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    date = amz[:8]
    hdrs = [("content-type", "application/json"), ("host", "127.0.0.1"), ("x-amz-date", amz)]
    if payload_claim == "hash":
        hdrs.append(("x-amz-content-sha256", sha(body)))
    elif payload_claim is not None:
        hdrs.append(("x-amz-content-sha256", payload_claim))
    hdrs.sort()
    signed = ";".join(k for k, _ in hdrs)
    payload = payload_claim if payload_claim not in ("hash", None) else sha(body)
    creq = "\n".join([method, path, "", "".join("%s:%s\n" % kv for kv in hdrs), signed, payload])
    scope = "%s/us-east-1/iam/aws4_request" % date
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, sha(creq.encode())])
    k = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "iam", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key_id, scope, signed, sig)
    return [(k2, v) for k2, v in hdrs if k2 != "host"] + [("Authorization", auth)]


def send(port, method, path, headers, body=b"", source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(request_bytes(method, path, headers, body))
        return Reader(s).read()
    finally:
        s.close()


def code(r):
    try:
        return r.json()["error"]["code"]
    except Exception:
        return None


def keys_of(port, bearer):
    r = send(port, "GET", "/api/v1/keys?limit=1000", [("Authorization", "Bearer " + bearer)])
    return {k["key_id"]: k for k in r.json()["keys"]}


def sigv4_checks(port, key_id, secret, admin):
    harmless = json.dumps({"policy": ["logs:Get*"]}).encode()
    hostile = json.dumps({"policy": ["*"], "tenant": "555555555555"}).encode()
    before = keys_of(port, admin)

    # the reported attack: a request signed with UNSIGNED-PAYLOAD for a harmless body, sent
    # again with a body creating a `*` key in a new tenant
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, "UNSIGNED-PAYLOAD")
    r = send(port, "POST", "/api/v1/keys", h, hostile)
    check("UNSIGNED-PAYLOAD with a swapped body is refused (401)", r.status == 401,
          (r.status, r.body[:200]))
    check("... as IncompleteSignature naming --trust-tls-proxy",
          code(r) == "IncompleteSignature" and b"trust-tls-proxy" in r.body, r.body[:300])
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, "UNSIGNED-PAYLOAD")
    r = send(port, "POST", "/api/v1/keys", h, harmless)
    check("UNSIGNED-PAYLOAD is refused even with the original body", r.status == 401,
          (r.status, r.body[:200]))
    for claim in ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"):
        h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, claim)
        r = send(port, "POST", "/api/v1/keys", h, harmless)
        check("%s is refused (401)" % claim, r.status == 401, (r.status, r.body[:200]))

    # a signed payload hash with another body: the claim does not match what arrived
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, "hash")
    r = send(port, "POST", "/api/v1/keys", h, hostile)
    check("a signed hash with a swapped body is refused (401 InvalidCredentials)",
          r.status == 401 and code(r) == "InvalidCredentials", (r.status, r.body[:200]))
    # no claim: owld hashes the body it received, so the signature does not match
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, None)
    r = send(port, "POST", "/api/v1/keys", h, hostile)
    check("no x-amz-content-sha256 and a swapped body is refused (401 InvalidCredentials)",
          r.status == 401 and code(r) == "InvalidCredentials", (r.status, r.body[:200]))

    after = keys_of(port, admin)
    check("none of them created a key", set(after) == set(before), set(after) - set(before))
    check("no key in tenant 555555555555",
          not any(k["tenant"] == "555555555555" for k in after.values()))

    # a properly signed write works once; its exact replay is refused
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, "hash")
    r = send(port, "POST", "/api/v1/keys", h, harmless)
    check("a signed key creation is 200", r.status == 200, (r.status, r.body[:300]))
    r2 = send(port, "POST", "/api/v1/keys", h, harmless)
    check("its exact replay is refused (403 RequestReplayed)",
          r2.status == 403 and code(r2) == "RequestReplayed", (r2.status, r2.body[:300]))
    h = sign(key_id, secret, "POST", "/api/v1/keys", harmless, None)
    r = send(port, "POST", "/api/v1/keys", h, harmless)
    r2 = send(port, "POST", "/api/v1/keys", h, harmless)
    check("without the payload header too: once 200, replay 403",
          r.status == 200 and r2.status == 403, (r.status, r2.status))
    after2 = keys_of(port, admin)
    check("exactly two keys were created", len(after2) - len(after) == 2,
          len(after2) - len(after))
    # reads may be repeated
    h = sign(key_id, secret, "GET", "/api/v1/keys", b"", "hash")
    r = send(port, "GET", "/api/v1/keys", h)
    r2 = send(port, "GET", "/api/v1/keys", h)
    check("a signed GET repeated is 200 twice", r.status == 200 and r2.status == 200,
          (r.status, r2.status))


def flood(port, n, limit):
    """n failed authentications from 127.0.0.2. owld closes the connection after a request
    whose credentials fail on the head (it reads none of what follows), so each attempt takes
    a connection of its own, closed with a reset so no TIME_WAIT piles up."""
    req = request_bytes("GET", "/api/v1/keys",
                        [("Authorization", "Bearer OWLFLOODFLOODFLOOD00:wrongwrongwrong")])
    statuses = {}
    first = []
    retry_after = None
    t0 = time.monotonic()
    sent = 0
    while sent < n and time.monotonic() - t0 < 120:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.bind(("127.0.0.2", 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(req)
        r = Reader(s).read()
        s.close()
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if len(first) < 3:
            first.append(r.status)
        if r.status == 429 and retry_after is None:
            retry_after = r.header("retry-after")
        sent += 1
    dt = time.monotonic() - t0
    print("# %d failed authentications in %.2f s: %s" % (sent, dt, statuses))
    check("all %d answered" % n, sent == n and sum(statuses.values()) == n, (sent, statuses))
    check("the first ones are 401", first and first[0] == 401, first)
    check("then 429 once the limit is reached", statuses.get(429, 0) >= n - 2 * limit,
          statuses)
    check("only 401 and 429", set(statuses) <= {401, 429}, statuses)
    check("429 carries Retry-After (1..60 s)",
          retry_after is not None and 1 <= int(retry_after) <= 60, retry_after)
    print("flood401 %d" % statuses.get(401, 0))
    print("flood429 %d" % statuses.get(429, 0))


def main():
    port, key_id, secret, admin, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    if mode == "sigv4":
        sigv4_checks(port, key_id, secret, admin)
    else:
        flood(port, int(sys.argv[6]), int(sys.argv[7]))
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()

"""strict.py — issue 9, point 8 against a real owld: every lenient input it reproduced is now
answered 400 in the protocol's shape, and nothing happened (no key created, none deleted).
Raw sockets, so each byte of the framing is the test's. Args: PORT ADMIN_KEY."""

import json
import sys

from owltest import Reader, bearer, check, connect, exchange, failures, request_bytes

PORT = int(sys.argv[1])
ADMIN = sys.argv[2]
AUTH = bearer(ADMIN)
JSON = ("Content-Type", "application/json")


def raw(data):
    """Sends raw bytes on a fresh connection; the first response (or None)."""
    s = connect(PORT, 10)
    try:
        s.sendall(data)
        return Reader(s).read()
    except (ConnectionError, ValueError):
        return None
    finally:
        s.close()


def key_ids():
    r = exchange(PORT, "GET", "/api/v1/keys?limit=1000", [AUTH])
    return sorted(k["key_id"] for k in r.json()["keys"])


def code(r):
    try:
        d = json.loads(r.body.decode())
    except ValueError:
        return r.body.decode(errors="replace")[:200]
    return d.get("error", {}).get("code") or d.get("__type")


def expect_400(name, r, want_code):
    ok = r is not None and r.status == 400 and (want_code is None or code(r) == want_code)
    check("%s -> 400 %s" % (name, want_code or ""), ok,
          "got %r" % ((r,) if r is None else ((r.status, r.body[:300]),)))


before = key_ids()

# ---- JSON bodies on the action layer ----
policy_ro = json.dumps({"policy": ["iam:GetKey"]}).encode()
cases = [
    ("two concatenated JSON objects", policy_ro + b'{"policy":["*"]}'),
    ("two objects separated by a newline", policy_ro + b'\n{"policy":["*"]}'),
    ("a repeated policy key", b'{"policy":["iam:GetKey"],"policy":["*"]}'),
    ("a repeated tenant key", b'{"policy":["iam:GetKey"],"tenant":"1","tenant":"2"}'),
    ("\\u0000 in a policy string", b'{"policy":["iam:GetKey\\u0000xyz"]}'),
    ("\\u0000 in a field name", b'{"poli\\u0000cy":["*"]}'),
]
for name, body in cases:
    r = exchange(PORT, "POST", "/api/v1/keys", [AUTH, JSON], body)
    expect_400("POST /api/v1/keys with " + name, r, "InvalidParameter")
check("no key was created by the refused bodies", key_ids() == before)

# ---- %00 in paths and query parameters ----
r = exchange(PORT, "POST", "/api/v1/keys", [AUTH, JSON], policy_ro)
check("a key to aim at is created", r.status == 200, r)
victim = r.json()["key_id"]
after_create = key_ids()
for path in ["/api/v1/keys/%s%%00.json" % victim, "/api/v1/keys/%s%%00" % victim,
             "/api/v1/keys/%%00%s" % victim]:
    r = exchange(PORT, "DELETE", path, [AUTH])
    expect_400("DELETE " + path.replace(victim, "ID"), r, "InvalidParameter")
    r = exchange(PORT, "GET", path, [AUTH])
    expect_400("GET " + path.replace(victim, "ID"), r, "InvalidParameter")
r = exchange(PORT, "GET", "/api/v1/keys/" + victim, [AUTH])
check("the key survives the %00 DELETEs", r.status == 200, r)
for q in ["limit=1%00x", "limit=%001", "limit=1&limit=2", "next_token=A%00B",
          "tenant=%00"]:
    r = exchange(PORT, "GET", "/api/v1/keys?" + q, [AUTH])
    expect_400("GET /api/v1/keys?" + q, r, "InvalidParameter")
for q in ["action=iam%3ACreateKey%00", "limit=5&limit=5"]:
    r = exchange(PORT, "GET", "/api/v1/audit?" + q, [AUTH])
    expect_400("GET /api/v1/audit?" + q, r, "InvalidParameter")

# ---- the query protocol (form bodies) ----
FORM = ("Content-Type", "application/x-www-form-urlencoded")
for name, body, want in [
    ("%00 in a form value", b"Action=GetCallerIdentity&Version=2011-06-15&X=a%00b",
     "MalformedQueryString"),
    ("a repeated form parameter", b"Action=GetCallerIdentity&Version=2011-06-15&X=1&X=2",
     "MalformedQueryString"),
    ("a repeated Action", b"Action=GetCallerIdentity&Action=GetCallerIdentity", None),
]:
    r = exchange(PORT, "POST", "/", [AUTH, FORM], body)
    ok = r.status == 400 and b"<ErrorResponse>" in r.body and \
        (want is None or (b"<Code>%s</Code>" % want.encode()) in r.body)
    check("query protocol: %s -> 400 <ErrorResponse> %s" % (name, want or ""), ok, r)

# ---- HTTP framing ----
auth_line = ("Authorization: Bearer %s\r\n" % ADMIN).encode()
create = policy_ro
framing = [
    ("HTTP/9.9", b"GET /api/v1/keys HTTP/9.9\r\nHost: a\r\n" + auth_line + b"\r\n"),
    ("HTTP/2.0 on a text request line", b"GET /api/v1/keys HTTP/2.0\r\nHost: a\r\n" + auth_line
     + b"\r\n"),
    ("two Host headers", b"GET /api/v1/keys HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth_line
     + b"\r\n"),
    ("two Authorization headers (a valid one first)",
     b"GET /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Authorization: Bearer OWLNOSUCHKEYAAAAAAAA:x\r\n\r\n"),
    ("'Content-Length : N' (a blank before the colon)",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nContent-Length : %d\r\n\r\n" % len(create) + create),
    ("Content-Length and Transfer-Encoding both",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nContent-Length: %d\r\n"
       b"Transfer-Encoding: chunked\r\n\r\n" % len(create) + create),
    ("a chunk not followed by CRLF",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"%x\r\n" % len(create) + create + b"XX0\r\n\r\n"),
    ("a chunk size line ended by CR and another byte",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"%x\rX" % len(create) + create + b"\r\n0\r\n\r\n"),
    ("junk after a chunk size",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"%x junk\r\n" % len(create) + create + b"\r\n0\r\n\r\n"),
    ("an obs-fold continuation line",
     b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"Content-Type: application/json\r\nX-A: a\r\n b\r\nContent-Length: %d\r\n\r\n"
     % len(create) + create),
    ("bare LF line ends", b"GET /api/v1/keys HTTP/1.1\nHost: a\n" + auth_line[:-2] + b"\n\n"),
    ("two X-Amz-Target headers",
     b"POST / HTTP/1.1\r\nHost: a\r\n" + auth_line + b"X-Amz-Target: A.B\r\n"
     b"X-Amz-Target: C.D\r\nContent-Length: 2\r\n\r\n{}"),
    ("two X-Amz-Date headers",
     b"GET /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"X-Amz-Date: 20260101T000000Z\r\nX-Amz-Date: 20260101T000001Z\r\n\r\n"),
    ("two X-Amz-Content-Sha256 headers",
     b"GET /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
     + b"X-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nX-Amz-Content-Sha256: x\r\n\r\n"),
    ("a tab in the request target", b"GET /api/v1/keys\t HTTP/1.1\r\nHost: a\r\n"
     + auth_line + b"\r\n"),
]
for name, data in framing:
    expect_400("framing: " + name, raw(data), "BadRequest")
check("no key was created or deleted by the refused requests", key_ids() == after_create)

# the strict checks do not refuse a well-framed chunked request with an extension
r = raw(b"POST /api/v1/keys HTTP/1.1\r\nHost: a\r\n" + auth_line
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close"
          b"\r\n\r\n" + b"%x;e=1\r\n" % len(create) + create + b"\r\n0\r\nT: 1\r\n\r\n")
check("a well-framed chunked create still works", r is not None and r.status == 200, r)
r = raw(b"GET /api/v1/keys/%s HTTP/1.0\r\n" % victim.encode() + auth_line + b"\r\n")
check("HTTP/1.0 still works", r is not None and r.status == 200, r)

sys.exit(1 if failures() else 0)

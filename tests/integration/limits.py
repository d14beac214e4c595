"""limits.py — t_limits.sh's raw-socket checks against a running owld: header and body
limits, a gzip bomb with owld's peak RSS watched, slow headers and a stalled body cut off at
the read timeout, backpressure against a client that never reads, 1,000 idle connections,
pipelining, chunked and compressed request bodies, malformed input and framing edge cases.
Usage: limits.py PORT ADMIN_KEY OWLD_PID TMPDIR READ_TIMEOUT_MS RSS_LIMIT_MB
Prints ok/not ok lines (owltest.check); exits 1 when any check failed."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib

from owltest import (Reader, bearer, check, closed_within, connect, exchange, failures, note,
                     request_bytes, vm_kb)

PORT = int(sys.argv[1])
ADMIN = sys.argv[2]
PID = int(sys.argv[3])
TMP = sys.argv[4]
READ_TIMEOUT = int(sys.argv[5]) / 1000.0
RSS_LIMIT_MB = int(sys.argv[6])

KEY_BODY = json.dumps({"policy": ["logs:GetLogEvents"]}).encode()
JSON_HDRS = [bearer(ADMIN), ("Content-Type", "application/json")]


def guarded(fn):
    """Runs one group of checks; an exception is one failure, not the end of the run."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any surprise is a test failure
        check("%s ran without exception" % fn.__name__, False, "%s: %s" % (type(e).__name__, e))


def error_code(resp):
    try:
        return resp.json()["error"]["code"]
    except Exception:  # noqa: BLE001
        return None


def header_limits():
    r = exchange(PORT, "GET", "/healthz", [("X-Pad", "a" * 15000)])
    check("15 KB header block is accepted (200)", r.status == 200, r)
    r = exchange(PORT, "GET", "/healthz", [("X-Big", "a" * 20480)])
    check("20 KiB header is 431", r.status == 431, r)
    check("431 has a JSON error body", error_code(r) is not None, r)
    many = [("X-H%d" % i, "v" * 100) for i in range(200)]
    r = exchange(PORT, "GET", "/healthz", many)
    check("200 headers of 100 bytes (20 KB) is 431", r.status == 431, r)


def declared_body_too_big():
    s = connect(PORT)
    try:
        t0 = time.monotonic()
        s.sendall(request_bytes("POST", "/api/v1/keys",
                                JSON_HDRS + [("Content-Length", "1073741824")]))
        r = Reader(s).read()
        dt = time.monotonic() - t0
        check("Content-Length: 1073741824 is 413", r.status == 413, r)
        check("... answered before any body byte (%.3f s < 1 s)" % dt, dt < 1.0)
        check("413 has a JSON error body", error_code(r) is not None, r)
    finally:
        s.close()
    r = exchange(PORT, "POST", "/api/v1/keys",
                 JSON_HDRS + [("Content-Length", str(16 * 1024 * 1024 + 1))])
    check("Content-Length: 16 MiB + 1 is 413", r.status == 413, r)


def bomb_file():
    """1 GiB of zeros, gzip'd (about 4.5 MB), made once per temp dir."""
    path = os.path.join(TMP, "zeros-1g.gz")
    if not os.path.exists(path):
        c = zlib.compressobj(1, zlib.DEFLATED, 31)
        zeros = bytes(1 << 20)
        with open(path + ".tmp", "wb") as f:
            for _ in range(1024):
                f.write(c.compress(zeros))
            f.write(c.flush())
        os.rename(path + ".tmp", path)
    return path


def post_streaming(path, headers, body, timeout):
    """Sends the body from a thread while reading the response, so an early answer (and a
    close) from owld is seen instead of a broken pipe."""
    s = connect(PORT, timeout)
    sent_err = []

    def send():
        try:
            framing = [] if any(k.lower() == "transfer-encoding" for k, _ in headers) else \
                [("Content-Length", str(len(body)))]
            s.sendall(request_bytes("POST", path, headers + framing))
            view = memoryview(body)
            for i in range(0, len(body), 65536):
                s.sendall(view[i:i + 65536])
        except OSError as e:
            sent_err.append(e)

    th = threading.Thread(target=send, daemon=True)
    th.start()
    try:
        return Reader(s).read(), sent_err
    finally:
        th.join(timeout)
        s.close()


def gzip_bomb():
    path = bomb_file()
    with open(path, "rb") as f:
        body = f.read()
    note("gzip bomb: %d bytes on the wire, 1 GiB inflated" % len(body))
    hwm0 = vm_kb(PID, "VmHWM")
    t0 = time.monotonic()
    r, _ = post_streaming("/api/v1/keys", JSON_HDRS + [("Content-Encoding", "gzip")], body, 60)
    dt = time.monotonic() - t0
    hwm = vm_kb(PID, "VmHWM")
    check("gzip bomb (1 GiB of zeros) is 413", r.status == 413, r)
    check("... with a JSON error body", error_code(r) is not None, r)
    note("VmHWM before %d kB, after %d kB; answered in %.2f s" % (hwm0, hwm, dt))
    check("owld's peak RSS stays under %d MB (VmHWM %d kB)" % (RSS_LIMIT_MB, hwm),
          0 < hwm < RSS_LIMIT_MB * 1024)
    r = exchange(PORT, "GET", "/healthz")
    check("owld still serves after the bomb", r.status == 200, r)


def slow_client():
    """One byte per second: owld must answer 408 or close near the read timeout."""
    s = connect(PORT)
    req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 20 + b"\r\n\r\n"
    t0 = time.monotonic()
    got = b""
    closed = False
    try:
        for i in range(len(req)):
            try:
                s.sendall(req[i:i + 1])
            except OSError:
                closed = True
                break
            closed, more = closed_within(s, 1.0)
            got += more
            if closed or got:
                if not closed:
                    closed, more = closed_within(s, 2.0)
                    got += more
                break
            if time.monotonic() - t0 > READ_TIMEOUT + 3:
                break
    finally:
        dt = time.monotonic() - t0
        s.close()
    status = got.split(b" ", 2)[1].decode() if got.startswith(b"HTTP/1.1 ") else None
    note("slow client: status %s, closed=%s after %.2f s (read timeout %.1f s)"
         % (status, closed, dt, READ_TIMEOUT))
    check("slow client gets 408 or is closed", status == "408" or (closed and status is None),
          got[:300])
    check("... within read timeout + 1.5 s (%.2f s)" % dt, dt < READ_TIMEOUT + 1.5)
    check("... not before the read timeout (%.2f s)" % dt, dt >= READ_TIMEOUT - 0.3)
    check("... and the connection is closed", closed)


def slow_body():
    """Headers complete, body stalled: 408 at the read timeout too."""
    s = connect(PORT)
    t0 = time.monotonic()
    try:
        s.sendall(request_bytes("POST", "/api/v1/keys",
                                JSON_HDRS + [("Content-Length", "100")]) + b"{")
        closed, got = closed_within(s, READ_TIMEOUT + 3)
    finally:
        s.close()
    dt = time.monotonic() - t0
    check("a stalled body gets 408 at the read timeout (%.2f s)" % dt,
          got.startswith(b"HTTP/1.1 408") and dt < READ_TIMEOUT + 1.5, got[:200])
    check("... and the connection is closed", closed)


def never_reads():
    """A client pipelining requests without reading answers: owld stops reading (back-
    pressure) instead of buffering responses without bound."""
    hwm0 = vm_kb(PID, "VmHWM")
    s = connect(PORT)
    s.settimeout(1.5)
    burst = request_bytes("GET", "/healthz") * 1000
    sent = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 10:
            s.sendall(burst)
            sent += len(burst)
    except (socket.timeout, OSError):
        pass
    hwm = vm_kb(PID, "VmHWM")
    s.close()
    note("never-reading client: %.1f MB of requests accepted before the socket filled; "
         "VmHWM %d -> %d kB" % (sent / 1e6, hwm0, hwm))
    check("owld stops reading from a client that does not read (sent %.1f MB)" % (sent / 1e6),
          sent < 200 * 1024 * 1024)
    check("... and its memory stays bounded (VmHWM +%d kB < 64 MB)" % (hwm - hwm0),
          hwm - hwm0 < 64 * 1024)
    r = exchange(PORT, "GET", "/healthz")
    check("owld still serves others", r.status == 200, r)


def idle_connections(n=1000):
    socks = []
    try:
        for _ in range(n):
            socks.append(connect(PORT))
        time.sleep(0.3)
        t0 = time.monotonic()
        r = exchange(PORT, "GET", "/healthz", timeout=5)
        dt = time.monotonic() - t0
        check("with %d idle connections open, a new /healthz is 200 (%.3f s)" % (n, dt),
              r.status == 200, r)
        for i in (0, n // 2, n - 1):
            socks[i].sendall(request_bytes("GET", "/healthz"))
            r = Reader(socks[i]).read()
            check("idle connection #%d is served too" % i, r.status == 200, r)
        r = exchange(PORT, "GET", "/metrics", [bearer(ADMIN)])
        line = [ln for ln in r.body.decode().splitlines()
                if ln.startswith("owl_http_open_connections") or "connections" in ln and
                not ln.startswith("#")]
        note("metrics with %d idle: %s" % (n, "; ".join(line[:3])))
    finally:
        for s in socks:
            s.close()


def pipelining():
    s = connect(PORT)
    try:
        reqs = [request_bytes("GET", "/healthz"),
                request_bytes("GET", "/api/v1/no-such-route", [bearer(ADMIN)]),
                request_bytes("GET", "/metrics"),
                request_bytes("POST", "/api/v1/keys", JSON_HDRS, KEY_BODY),
                request_bytes("GET", "/api/v1/keys?limit=1", [bearer(ADMIN)]),
                request_bytes("GET", "/healthz")]
        s.sendall(b"".join(reqs))
        rd = Reader(s)
        got = [rd.read().status for _ in reqs]
        check("6 pipelined requests answered in order", got == [200, 404, 401, 200, 200, 200],
              "statuses %s" % got)
        s.sendall(request_bytes("HEAD", "/healthz") + request_bytes("GET", "/healthz"))
        h = rd.read(head=True)
        g = rd.read()
        check("HEAD then GET pipelined: HEAD has no body", h.status == 200 and g.status == 200
              and g.body == b'{"status":"ok"}', (h, g))
    finally:
        s.close()


def chunked_body():
    chunks = [KEY_BODY[:5], KEY_BODY[5:17], KEY_BODY[17:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    r = exchange(PORT, "POST", "/api/v1/keys",
                 JSON_HDRS + [("Transfer-Encoding", "chunked")], body)
    check("chunked request body is accepted (200)", r.status == 200, r)
    check("... and parsed (policy echoed)",
          r.status == 200 and r.json().get("policy") == ["logs:GetLogEvents"], r)
    big = b" " * (3 * 1024 * 1024) + KEY_BODY
    body = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 100000]), big[i:i + 100000])
                    for i in range(0, len(big), 100000)) + b"0\r\n\r\n"
    r, _ = post_streaming("/api/v1/keys", JSON_HDRS + [("Transfer-Encoding", "chunked")],
                          body, 20)
    check("3 MB chunked body in 32 chunks is accepted", r.status == 200, r)
    # a chunked body over the limit: the size is only known as the data arrives
    size = 17 * 1024 * 1024
    over = b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n"
    t0 = time.monotonic()
    r, _ = post_streaming("/api/v1/keys", JSON_HDRS + [("Transfer-Encoding", "chunked")],
                          over, 20)
    dt = time.monotonic() - t0
    check("a 17 MiB chunked body is 413 (%.2f s)" % dt, r.status == 413, r)
    check("... before the read timeout", dt < READ_TIMEOUT, "%.2f s" % dt)


def compressed_bodies():
    cases = [("gzip", zlib.compress(KEY_BODY, wbits=31) if sys.version_info >= (3, 11) else
              None), ("deflate", zlib.compress(KEY_BODY))]
    if cases[0][1] is None:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        cases[0] = ("gzip", c.compress(KEY_BODY) + c.flush())
    zstd = shutil.which("zstd")
    if zstd:
        z = subprocess.run([zstd, "-q", "-c", "-"], input=KEY_BODY, capture_output=True,
                           check=True).stdout
        cases.append(("zstd", z))
    else:
        note("zstd command not found: zstd body not tested")
        check("zstd command is available to make a zstd body", False)
    for enc, data in cases:
        r = exchange(PORT, "POST", "/api/v1/keys", JSON_HDRS + [("Content-Encoding", enc)],
                     data)
        check("%s-compressed JSON body creates a key (200)" % enc, r.status == 200, r)
        check("... %s body decoded (policy echoed)" % enc,
              r.status == 200 and r.json().get("policy") == ["logs:GetLogEvents"], r)
    r = exchange(PORT, "POST", "/api/v1/keys", JSON_HDRS + [("Content-Encoding", "gzip")],
                 b"\x1f\x8b\x08\x00garbage-not-gzip")
    check("malformed gzip body is 400", r.status == 400, r)
    r = exchange(PORT, "POST", "/api/v1/keys", JSON_HDRS + [("Content-Encoding", "br")],
                 b"\x0b\x02\x80{}\x03")
    check("unknown Content-Encoding (br) is 415", r.status == 415, r)
    if zstd:
        zb = os.path.join(TMP, "zeros-64m.zst")
        with open(zb, "wb") as f:
            subprocess.run("head -c 64M /dev/zero | %s -q -c" % zstd, shell=True,
                           stdout=f, check=True)
        with open(zb, "rb") as f:
            data = f.read()
        r = exchange(PORT, "POST", "/api/v1/keys", JSON_HDRS + [("Content-Encoding", "zstd")],
                     data, timeout=30)
        check("zstd bomb (64 MiB of zeros in %d bytes) is 413" % len(data), r.status == 413, r)


def malformed():
    s = connect(PORT)
    try:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        closed, got = closed_within(s, 3)
        check("garbage request line gets 400", got.startswith(b"HTTP/1.1 400"), got[:200])
        check("... and the connection is closed", closed)
    finally:
        s.close()
    r = exchange(PORT, "POST", "/api/v1/keys",
                 JSON_HDRS + [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                 b"0\r\n\r\n")
    check("Content-Length with Transfer-Encoding is rejected (400)", r.status == 400, r)


def framing():
    def raw(data, wait=3):
        s = connect(PORT)
        try:
            s.sendall(data)
            return closed_within(s, wait)
        finally:
            s.close()

    closed, got = raw(b"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                      b"Content-Length: 3\r\n\r\n{}x")
    check("two different Content-Length headers are 400", got.startswith(b"HTTP/1.1 400"),
          got[:200])
    check("... and the connection is closed", closed)
    closed, got = raw(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check("a 20 KB request line is 431 or 414",
          got.startswith(b"HTTP/1.1 431") or got.startswith(b"HTTP/1.1 414"), got[:200])
    closed, got = raw(b"GET /healthz HTTP/1.1\r\nX-A: a\x00b\r\n\r\n")
    check("a NUL in a header value is 400", got.startswith(b"HTTP/1.1 400"), got[:200])
    closed, got = raw(b"GET /healthz HTTP/1.0\r\n\r\n")
    check("HTTP/1.0 request is answered", got.startswith(b"HTTP/1.") and b" 200 " in got[:20],
          got[:200])
    check("... and closed after the response (no keep-alive)", closed)
    s = connect(PORT)
    try:
        s.sendall(request_bytes("GET", "/healthz"))
        s.shutdown(socket.SHUT_WR)
        closed, got = closed_within(s, 3)
    finally:
        s.close()
    check("a client that half-closes after its request still gets the answer",
          got.startswith(b"HTTP/1.1 200") and got.endswith(b'{"status":"ok"}'), got[:200])
    check("... and then the connection closes", closed)
    s = connect(PORT)
    try:
        rd = Reader(s)
        n = 0
        for i in range(2000):
            s.sendall(request_bytes("GET", "/healthz" if i % 2 else "/api/v1/keys?limit=1",
                                    [bearer(ADMIN)]))
            n += rd.read().status == 200
        check("2000 requests on one keep-alive connection all get 200", n == 2000, "%d" % n)
    finally:
        s.close()


for group in (header_limits, declared_body_too_big, gzip_bomb, slow_client, slow_body,
              never_reads, idle_connections,
              pipelining, chunked_body, compressed_bodies, malformed, framing):
    guarded(group)
    try:
        os.kill(PID, 0)
    except OSError:
        check("owld is still running after %s" % group.__name__, False)
        break

sys.exit(1 if failures() else 0)

"""preauth.py — t_preauth.sh's checks: bodies are not read before authentication, and the
bytes buffered across connections are capped.

  flood PORT ADMIN_KEY OWLD_PID N RSS_BOUND_MB
      N connections each send a head declaring a 16 MiB body (no credentials, a wrong
      bearer secret, or a SigV4 header naming an unknown key; most with
      Expect: 100-continue, some then sending body bytes slowly). Each must be answered
      at once (413 without credentials, 401 with bad ones), never with 100 Continue, and
      closed; meanwhile an authenticated client creates keys (a small JSON body and a
      1 MiB one) and must succeed. owld's VmRSS is sampled every 10 ms: the peak must stay
      under baseline + RSS_BOUND_MB.
  cap PORT ADMIN_KEY OWLD_PID N BODY_MB CAP_MB RSS_BOUND_MB
      N authenticated clients at once upload BODY_MB bodies to owld started with
      --max-buffered-mib CAP_MB: those over the cap get 503 with Retry-After, the
      others 200; the RSS peak stays under baseline + CAP_MB + RSS_BOUND_MB."""

import datetime
import hashlib
import hmac
import socket
import sys
import threading
import time

from owltest import Reader, bearer, check, closed_within, connect, exchange, failures, note, request_bytes, vm_kb

MIB = 1 << 20


class RssSampler(threading.Thread):
    """Samples VmRSS of pid every 10 ms until stopped; keeps the peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            v = vm_kb(self.pid, "VmRSS")
            if v > self.peak:
                self.peak = v
            time.sleep(0.01)


def key_body(pad):
    """A valid key-creation JSON body padded with leading blanks to about pad bytes."""
    doc = b'{"policy":["logs:GetLogEvents"]}'
    return b" " * max(0, pad - len(doc)) + doc


def flood(port, admin, pid, n, bound_mb):
    admin_id = admin.split(":")[0]
    kinds = [
        # (label, extra headers, expect-continue, slow body, expected status)
        ("no credentials", [], True, False, 413),
        ("wrong bearer secret", [("Authorization", "Bearer %s:wrongsecret" % admin_id)], True,
         False, 401),
        ("no credentials, body sent slowly", [], False, True, 413),
        ("wrong bearer, body sent slowly",
         [("Authorization", "Bearer %s:wrongsecret" % admin_id)], False, True, 401),
        ("SigV4 with an unknown key",
         [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDNOSUCHKEY000/20260101/us-east-1/"
           "iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64),
          ("X-Amz-Date", "20260101T000000Z")], True, False, 401),
    ]
    base = vm_kb(pid, "VmRSS")
    sampler = RssSampler(pid)
    sampler.start()
    conns = []
    t0 = time.monotonic()
    for i in range(n):
        k = kinds[i % len(kinds)] if i % 10 < 8 else kinds[2 + (i % 2)]
        hs = [("Content-Length", str(16 * MIB)), ("Content-Type", "application/json")] + k[1]
        if k[2]:
            hs.append(("Expect", "100-continue"))
        try:
            s = connect(port)
            s.sendall(request_bytes("POST", "/api/v1/keys", hs))
        except OSError as e:
            check("connection %d opens and sends its head" % i, False, str(e))
            break
        conns.append((s, k))
    note("%d connections opened and heads sent in %.2f s" % (len(conns), time.monotonic() - t0))

    # an authenticated client works meanwhile
    lat = []
    auth_ok = []

    def authed():
        for body in (key_body(64), key_body(MIB), key_body(64)):
            t = time.monotonic()
            try:
                r = exchange(port, "POST", "/api/v1/keys",
                             [bearer(admin), ("Content-Type", "application/json"),
                              ("Expect", "100-continue")], body, timeout=20)
                auth_ok.append(r.status == 200)
            except OSError:
                auth_ok.append(False)
            lat.append((len(body), time.monotonic() - t))

    th = threading.Thread(target=authed)
    th.start()
    # the slow senders: 4 KiB per connection every 20 ms for about 2 s
    slow = [s for s, k in conns if k[3]]
    for s in slow:
        s.setblocking(False)
    chunk = b"x" * 4096
    sent = 0
    for _ in range(100):
        for s in slow:
            try:
                sent += s.send(chunk)
            except OSError:
                pass
        time.sleep(0.02)
    th.join(60)
    note("slow senders pushed %d body bytes in all" % sent)

    statuses = {}
    bad = []
    for s, k in conns:
        s.setblocking(True)
        closed, got = closed_within(s, 10)
        s.close()
        st = got[9:12].decode("latin-1", "replace") if got.startswith(b"HTTP/1.1 ") else "none"
        statuses[(k[0], st)] = statuses.get((k[0], st), 0) + 1
        if b"100 Continue" in got or st != str(k[4]) or not closed:
            bad.append("%s: status %s, closed %s, 100 Continue %s" %
                       (k[0], st, closed, b"100 Continue" in got))
    sampler.stop.set()
    sampler.join()
    time.sleep(0.5)
    after = vm_kb(pid, "VmRSS")
    for (label, st), c in sorted(statuses.items()):
        note("%-34s -> %s x%d" % (label, st, c))
    check("each of the %d unauthenticated heads is answered at once (413 without credentials, "
          "401 with bad ones), without 100 Continue, and closed" % len(conns),
          len(conns) == n and not bad, "\n".join(bad[:10]))
    for size, dt in lat:
        note("authenticated POST /api/v1/keys with a %d-byte body during the flood: %.0f ms" %
             (size, dt * 1000))
    check("the authenticated client's 3 key creations (one with a 1 MiB body) succeed "
          "during the flood", len(auth_ok) == 3 and all(auth_ok), str(auth_ok))
    check("... each within 5 s", lat and max(dt for _, dt in lat) < 5.0, str(lat))
    note("owld VmRSS: before %d kB, peak %d kB, after %d kB" % (base, sampler.peak, after))
    check("owld's RSS peak stays under baseline + %d MiB (peak - baseline = %d kB)" %
          (bound_mb, sampler.peak - base), 0 < sampler.peak < base + bound_mb * 1024)
    r = exchange(port, "GET", "/healthz")
    check("owld healthy after the flood", r.status == 200)


def sigv4_headers(key, method, path, claim, sig_ok=True):
    """SigV4 headers for a request whose payload hash is declared as claim (signed with the
    claim, as S3-style clients do); sig_ok=False spoils the signature."""
    kid, secret = key.split(":", 1)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    hs = [("host", "127.0.0.1"), ("x-amz-content-sha256", claim), ("x-amz-date", amz)]
    signed = ";".join(k for k, _ in hs)
    creq = "\n".join([method, path, "", "".join("%s:%s\n" % kv for kv in hs), signed, claim])
    scope = "%s/us-east-1/iam/aws4_request" % day
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, "us-east-1", "iam", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not sig_ok:
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    return [("X-Amz-Content-Sha256", claim), ("X-Amz-Date", amz),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
             "Signature=%s" % (kid, scope, signed, sig))]


def sigv4(port, admin):
    """SigV4 with a declared payload hash: the signature is checked on the head."""
    body = key_body(MIB)
    claim = hashlib.sha256(body).hexdigest()
    base = [("Content-Type", "application/json"), ("Expect", "100-continue")]

    s = connect(port)
    s.sendall(request_bytes("POST", "/api/v1/keys", base + [("Content-Length", str(len(body)))] +
                            sigv4_headers(admin, "POST", "/api/v1/keys", claim)))
    r = Reader(s).read(allow_interim=True)
    check("SigV4, declared payload hash, good signature: 100 Continue after the head",
          r.status == 100, repr(r))
    s.sendall(body)
    r = Reader(s).read()
    s.close()
    check("... and the 1 MiB body is accepted (200)", r.status == 200, repr(r))

    s = connect(port)
    other = key_body(MIB - 1) + b" "
    s.sendall(request_bytes("POST", "/api/v1/keys", base + [("Content-Length", str(len(other)))] +
                            sigv4_headers(admin, "POST", "/api/v1/keys", claim)))
    r = Reader(s).read(allow_interim=True)
    s.sendall(other)
    r = Reader(s).read()
    s.close()
    check("SigV4, good signature but a body that is not the declared one: refused with the body "
          "(%d)" % r.status, r.status in (400, 401, 403), repr(r))

    s = connect(port)
    s.sendall(request_bytes("POST", "/api/v1/keys", base + [("Content-Length", str(16 * MIB))] +
                            sigv4_headers(admin, "POST", "/api/v1/keys", claim, sig_ok=False)))
    closed, got = closed_within(s, 10)
    s.close()
    check("SigV4, declared payload hash, wrong signature: 401 on the head, no 100 Continue, "
          "closed", got.startswith(b"HTTP/1.1 401") and b"100 Continue" not in got and closed,
          got[:300])


def cap(port, admin, pid, n, body_mb, cap_mb, bound_mb):
    base = vm_kb(pid, "VmRSS")
    sampler = RssSampler(pid)
    sampler.start()
    body = key_body(body_mb * MIB)
    results = [None] * n
    socks = []
    # all heads first, so that every body is declared while the others are still in flight
    for i in range(n):
        s = connect(port, timeout=30)
        s.sendall(request_bytes("POST", "/api/v1/keys",
                                [bearer(admin), ("Content-Type", "application/json"),
                                 ("Content-Length", str(len(body)))]))
        socks.append(s)

    def send(i):
        s = socks[i]
        try:
            s.sendall(body)
        except OSError:
            pass  # refused with 503: owld stops reading
        try:
            r = Reader(s).read()
            results[i] = (r.status, r.header("retry-after"))
        except OSError as e:
            results[i] = ("error %s" % e, None)
        s.close()

    t0 = time.monotonic()
    ths = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    dt = time.monotonic() - t0
    sampler.stop.set()
    sampler.join()
    ok200 = sum(1 for r in results if r and r[0] == 200)
    r503 = [r for r in results if r and r[0] == 503]
    other = [r for r in results if not r or r[0] not in (200, 503)]
    note("%d authenticated %d MiB uploads under --max-buffered-mib %d: %d x 200, "
         "%d x 503, %d other, in %.1f s" % (n, body_mb, cap_mb, ok200, len(r503), len(other), dt))
    check("uploads within the cap succeed (%d x 200)" % ok200,
          ok200 >= max(1, cap_mb // body_mb - 1))
    check("uploads past the cap get 503 (%d)" % len(r503), len(r503) >= n - cap_mb // body_mb - 1)
    check("... each with Retry-After", all(r[1] for r in r503))
    check("no other answers", not other, str(other[:5]))
    note("owld VmRSS: before %d kB, peak %d kB" % (base, sampler.peak))
    check("owld's RSS peak stays under baseline + cap + %d MiB (peak - baseline = %d kB)" %
          (bound_mb, sampler.peak - base),
          0 < sampler.peak < base + (cap_mb + bound_mb) * 1024)
    r = exchange(port, "POST", "/api/v1/keys", [bearer(admin), ("Content-Type", "application/json")],
                 key_body(64))
    check("after the uploads, the budget is back: a new upload is 200", r.status == 200,
          repr(r))


def main():
    mode = sys.argv[1]
    port, admin, pid = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if mode == "flood":
        flood(port, admin, pid, int(sys.argv[5]), int(sys.argv[6]))
        sigv4(port, admin)
    else:
        cap(port, admin, pid, int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]),
            int(sys.argv[8]))
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()

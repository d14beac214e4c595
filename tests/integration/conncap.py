"""conncap.py — t_limits.sh's connection-cap check: with owld started with
--max-connections N, N idle connections are held, the next one is answered 503 and closed,
and once the N are closed new requests are served again.
Also the idle timeout: a connection that sends nothing is closed, silently, once
--idle-timeout-ms (IDLE_MS) has passed.
Usage: conncap.py PORT N IDLE_MS"""

import sys
import time

from owltest import Reader, check, closed_within, connect, exchange, failures, request_bytes

PORT = int(sys.argv[1])
N = int(sys.argv[2])
IDLE = int(sys.argv[3]) / 1000.0

held = []
try:
    for i in range(N):
        s = connect(PORT)
        held.append(s)
    # each held connection must really be accepted: serve one request on each
    served = 0
    for s in held:
        s.sendall(request_bytes("GET", "/healthz"))
        if Reader(s).read().status == 200:
            served += 1
    check("%d connections (the cap) are all served" % N, served == N, "served %d" % served)
    extra = connect(PORT)
    try:
        extra.sendall(request_bytes("GET", "/healthz"))
    except OSError:
        pass
    closed, got = closed_within(extra, 5)
    extra.close()
    check("connection %d beyond --max-connections gets 503" % (N + 1),
          got.startswith(b"HTTP/1.1 503"), got[:300])
    check("... with a JSON error body", b'"error"' in got, got[:300])
    check("... and is closed", closed)
finally:
    for s in held:
        s.close()

time.sleep(0.3)
ok = False
for _ in range(20):
    try:
        if exchange(PORT, "GET", "/healthz", timeout=3).status == 200:
            ok = True
            break
    except OSError:
        pass
    time.sleep(0.1)
check("after the held connections close, requests are served again", ok)

s = connect(PORT)
s.sendall(request_bytes("GET", "/healthz"))
r = Reader(s).read()
t0 = time.monotonic()
closed, got = closed_within(s, IDLE + 3)
dt = time.monotonic() - t0
s.close()
check("an idle keep-alive connection is closed after --idle-timeout-ms (%.2f s)" % dt,
      closed and IDLE - 0.2 <= dt <= IDLE + 1.5, "closed=%s after %.2f s" % (closed, dt))
check("... silently (no bytes)", got == b"", got[:200])
sys.exit(1 if failures() else 0)

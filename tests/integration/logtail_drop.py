"""logtail_drop.py — t_logs_tail.sh's slow reader of the live log tail (GET /api/v1/logs/tail):
a raw socket with a small receive buffer subscribes, reads the head, then reads nothing while
4 MiB of events are put into the group (16 raw-line requests of 256 lines of 1 KiB), then reads
what is there. owld (started with --stream-buffer-bytes 65536) must have dropped events and
told the reader (`event: dropped` with a count), and the stream still works afterwards: an
event put once the reader reads again arrives.

  logtail_drop.py PORT ADMIN GROUP
Prints ok/not ok lines (owltest.check); exits 1 when any check failed."""

import socket
import sys
import time
import urllib.parse

from owltest import bearer, check, connect, exchange, failures, note, request_bytes

port, admin, group = int(sys.argv[1]), sys.argv[2], sys.argv[3]
q = urllib.parse.quote(group, safe="")

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
s.connect(("127.0.0.1", port))
s.settimeout(10)
s.sendall(request_bytes("GET", "/api/v1/logs/tail?group=%s&stream=flood" % q, [bearer(admin)]))
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(1)
    if not chunk:
        break
    head += chunk
check("the slow reader's tail starts (200)", head.startswith(b"HTTP/1.1 200"), head[:200])

line = "x" * 1000
body = ("\n".join("flood %04d %s" % (i, line) for i in range(256))).encode()
t0 = time.time()
for r in range(16):
    resp = exchange(port, "POST", "/api/v1/logs?group=%s&stream=flood" % q,
                    [bearer(admin), ("Content-Type", "text/plain")], body, timeout=30)
    if resp.status != 200:
        check("flood request %d stored" % r, False, resp)
        break
note("4 MiB put in %.2f s while the reader read nothing" % (time.time() - t0))
check("the puts are not held up by the reader", time.time() - t0 < 20)

# now read what was queued (until quiet, at most 3 s), then put one more event: it fits, and
# the drop notice comes before it
got = b""
s.settimeout(1.0)
drain_end = time.time() + 3  # heartbeats keep the stream from going quiet
while time.time() < drain_end:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    got += chunk
exchange(port, "POST", "/api/v1/logs?group=%s&stream=flood" % q,
         [bearer(admin), ("Content-Type", "text/plain")], b"after the flood")
deadline = time.time() + 10
while time.time() < deadline and b"after the flood" not in got:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        continue
    if not chunk:
        break
    got += chunk
s.close()
events = got.count(b"event: log\n")
check("the reader got some events (%d of 4096)" % events, 0 < events < 4096)
check("... and 'event: dropped'", b"event: dropped" in got, got[-400:])
check("... and the event put after it read again", b"after the flood" in got, got[-400:])
sys.exit(1 if failures() else 0)

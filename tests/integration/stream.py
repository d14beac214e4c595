"""stream.py — t_stream.sh's checks of owld's long-lived SSE streams (the live audit tail,
GET /api/v1/audit/tail), driven from asyncio over raw sockets (standard library only).

  stream.py many PORT ADMIN PID STREAMS HOLD_S RATE RSS_LIMIT_MB GRACE_MS
      opens STREAMS concurrent tail streams, holds them HOLD_S seconds while RATE audit
      events per second are generated, checks every stream received every event, samples
      owld's VmRSS before, during and after, closes half the streams, then sends SIGTERM
      with the rest open and checks each ends with the final chunk within the grace.
  stream.py slow PORT ADMIN PID STALL_MS BUFFER_BYTES
      one reader pauses while events flood (it must get "event: dropped" with counts that
      add up), one never reads again (closed after the stall timeout), one reads normally
      (gets everything); GET /healthz is timed throughout.
Prints ok/not ok lines (owltest.check); exits 1 when any check failed."""

import asyncio
import concurrent.futures
import json
import os
import signal
import socket
import sys
import time

from owltest import bearer, check, connect, failures, note, request_bytes, vm_kb, Reader

ACTION = "iam:GetKey"  # the events generated: GET /api/v1/keys/<missing> (404, audited)


class SSE:
    """Incremental decoder: chunked transfer coding, then server-sent events."""

    def __init__(self):
        self.raw = b""
        self.text = b""
        self.head = None
        self.ended = False
        self.broken = None
        self.counts = {}
        self.dropped = 0
        self.keepalives = 0
        self.order = []  # event types in arrival order (only when kept)
        self.keep_order = False

    def feed(self, data):
        self.raw += data
        if self.head is None:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head = self.raw[:i].decode("latin-1")
            self.raw = self.raw[i + 4:]
        pos, raw, parts = 0, self.raw, []
        while not self.ended and not self.broken:
            nl = raw.find(b"\r\n", pos)
            if nl < 0:
                break
            try:
                size = int(raw[pos:nl], 16)
            except ValueError:
                self.broken = "bad chunk size %r" % raw[pos:nl][:40]
                break
            if size == 0:
                if len(raw) >= nl + 4:
                    self.ended = True
                break
            if len(raw) < nl + 2 + size + 2:
                break
            parts.append(raw[nl + 2:nl + 2 + size])
            pos = nl + 2 + size + 2
        self.raw = raw[pos:]
        if parts:
            self.text += b"".join(parts)
            self._events()

    def _events(self):
        blocks = self.text.split(b"\n\n")
        self.text = blocks.pop()  # an incomplete event waits for more
        for block in blocks:
            ev, data = "message", []
            for line in block.split(b"\n"):
                if line.startswith(b":"):
                    self.keepalives += 1
                    ev = None
                elif line.startswith(b"event: "):
                    ev = line[7:].decode()
                elif line.startswith(b"data: "):
                    data.append(line[6:])
            if ev is None:
                continue
            self.counts[ev] = self.counts.get(ev, 0) + 1
            if self.keep_order:
                self.order.append(ev)
            if ev == "dropped":
                self.dropped += json.loads(b"\n".join(data))["dropped"]
            elif ev == "audit" and self.counts[ev] == 1:
                d = json.loads(b"\n".join(data))
                self.first = d

    def status(self):
        if not self.head:
            return 0
        return int(self.head.split(" ", 2)[1])


def tail_request(admin, action=ACTION):
    return request_bytes("GET", "/api/v1/audit/tail?action=" + action, [bearer(admin)])


def rss_mb(pid):
    return vm_kb(pid, "VmRSS") / 1024.0


async def open_stream(port, admin, sse, rcvbuf=0):
    if rcvbuf:
        # a small kernel buffer and a small asyncio buffer: not reading means not reading
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
        r, w = await asyncio.open_connection(sock=s, limit=rcvbuf)
    else:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(tail_request(admin))
    await w.drain()
    while sse.head is None:
        data = await r.read(65536)
        if not data:
            raise ConnectionError("closed before the head")
        sse.feed(data)
    return r, w


async def pump(r, sse):
    """Reads the stream until EOF; returns how it ended."""
    try:
        while True:
            data = await r.read(65536)
            if not data:
                return "eof"
            sse.feed(data)
    except (ConnectionError, OSError) as e:
        return type(e).__name__


def gen_events(port, admin, n, ua="owl-stream-test", batch=200, pause=0.0):
    """n audited requests (404 GetKey) pipelined on one connection, `batch` at a time with
    `pause` seconds between batches; returns how many were answered 404."""
    s = connect(port, 30)
    try:
        req = request_bytes("GET", "/api/v1/keys/NOSUCHKEY", [bearer(admin), ("User-Agent", ua)])
        sent = 0
        rd = Reader(s)
        got = 0
        while sent < n:
            k = min(batch, n - sent)
            s.sendall(req * k)
            sent += k
            for _ in range(k):
                resp = rd.read()
                if resp.status == 404:
                    got += 1
            time.sleep(pause)
        return got
    finally:
        s.close()


async def healthz_ms(port):
    t0 = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(request_bytes("GET", "/healthz"))
    await w.drain()
    data = b""
    while b"\"ok\"" not in data:
        chunk = await r.read(4096)
        if not chunk:
            break
        data += chunk
    w.close()
    return (time.monotonic() - t0) * 1000.0, data.startswith(b"HTTP/1.1 200")


async def metric(port, admin, name):
    loop = asyncio.get_running_loop()

    def get():
        s = connect(port)
        try:
            s.sendall(request_bytes("GET", "/metrics", [bearer(admin)]))
            body = Reader(s).read().body.decode()
        finally:
            s.close()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return -1

    return await loop.run_in_executor(None, get)


# ---------------------------------------------------------------------------- many streams

async def many(port, admin, pid, nstreams, hold_s, rate, rss_limit_mb, grace_ms):
    loop = asyncio.get_running_loop()
    rss = {"before": rss_mb(pid)}
    t0 = time.monotonic()
    streams = [SSE() for _ in range(nstreams)]
    conns = []
    for i in range(0, nstreams, 100):  # in waves: the listen backlog is finite
        conns += await asyncio.gather(*(open_stream(port, admin, streams[j])
                                        for j in range(i, min(i + 100, nstreams))))
    opened_s = time.monotonic() - t0
    check("%d tail streams opened (%.1f s), all 200 text/event-stream" % (nstreams, opened_s),
          all(s.status() == 200 and "text/event-stream" in s.head for s in streams))
    readers = [asyncio.create_task(pump(r, s)) for (r, _), s in zip(conns, streams)]
    rss["open"] = rss_mb(pid)
    subs = await metric(port, admin, "owl_http_open_connections")
    check("owld counts the streams as open connections (%d >= %d)" % (subs, nstreams),
          subs >= nstreams)

    sent = 0
    samples = []
    start = time.monotonic()
    next_sample = start
    while time.monotonic() - start < hold_s:
        sent += await loop.run_in_executor(None, gen_events, port, admin, 1)
        now = time.monotonic()
        if now >= next_sample:
            samples.append(rss_mb(pid))
            next_sample = now + 5
        await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
    held_s = time.monotonic() - start
    # let the last event reach everybody
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and min(s.counts.get("audit", 0) for s in streams) < sent:
        await asyncio.sleep(0.1)
    samples.append(rss_mb(pid))
    rss["during_max"] = max(samples)
    got = [s.counts.get("audit", 0) for s in streams]
    note("held %d streams %.1f s; %d events generated at %.1f/s; per stream min %d max %d"
         % (nstreams, held_s, sent, sent / held_s, min(got), max(got)))
    check("held the streams for %d s" % hold_s, held_s >= hold_s)
    check("every stream received every event (%d of %d at least)" % (min(got), sent),
          sent > 0 and min(got) == sent and max(got) == sent)
    check("no stream dropped an event", all(s.dropped == 0 for s in streams))
    check("every event has the audit event shape",
          all(s.first.get("action") == ACTION and s.first.get("status") == 404 and
              "event_id" in s.first and "event_time" in s.first for s in streams if sent))
    check("no stream ended or broke while held",
          not any(s.ended or s.broken for s in streams) and not any(t.done() for t in readers))

    # half the clients go away; the hub lets go of them at the next event
    half = nstreams // 2
    for (_, w) in conns[:half]:
        w.close()
    await asyncio.gather(*readers[:half], return_exceptions=True)
    await asyncio.sleep(1.0)
    sent += await loop.run_in_executor(None, gen_events, port, admin, 1)
    await asyncio.sleep(1.0)
    open_after = await metric(port, admin, "owl_http_open_connections")
    rss["after_close"] = rss_mb(pid)
    check("owld closed the %d streams whose clients left (%d connections open)"
          % (half, open_after), open_after <= nstreams - half + 2)
    check("the remaining streams still receive events",
          all(s.counts.get("audit", 0) == sent for s in streams[half:]))

    note("owld VmRSS MiB: before %.1f, %d streams open %.1f, max while held %.1f, "
         "after %d closed %.1f" % (rss["before"], nstreams, rss["open"], rss["during_max"],
                                   half, rss["after_close"]))
    growth = rss["during_max"] - rss["before"]
    check("owld RSS growth with %d streams stays under %d MiB (%.1f MiB)"
          % (nstreams, rss_limit_mb, growth), growth < rss_limit_mb)

    # SIGTERM with the rest open: each gets its final chunk and EOF within the grace
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    done, _ = await asyncio.wait(readers[half:], timeout=grace_ms / 1000.0 + 2)
    dt = time.monotonic() - t0
    ends = [t.result() for t in done]
    check("SIGTERM: all %d open streams ended in %.2f s (grace %d ms)"
          % (nstreams - half, dt, grace_ms), len(done) == nstreams - half)
    check("... each with the final chunk, then EOF",
          all(s.ended for s in streams[half:]) and all(e == "eof" for e in ends),
          "ended %d of %d" % (sum(s.ended for s in streams[half:]), nstreams - half))
    for (_, w) in conns[half:]:
        w.close()
    deadline = time.monotonic() + grace_ms / 1000.0 + 2
    while time.monotonic() < deadline and alive(pid):
        await asyncio.sleep(0.02)
    dt = time.monotonic() - t0
    check("owld exited %.2f s after SIGTERM (grace %d ms)" % (dt, grace_ms), not alive(pid))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# ---------------------------------------------------------------------------- slow reader

async def slow(port, admin, pid, stall_ms, buffer_bytes):
    loop = asyncio.get_running_loop()
    normal, pauser, stalled = SSE(), SSE(), SSE()
    pauser.keep_order = True
    rn, wn = await open_stream(port, admin, normal)
    rp, wp = await open_stream(port, admin, pauser, rcvbuf=4096)
    rs, ws = await open_stream(port, admin, stalled, rcvbuf=4096)
    reader = asyncio.create_task(pump(rn, normal))
    # pauser and stalled read nothing while the flood runs; owld must not care
    lat = []

    async def probe():
        while True:
            ms, ok = await healthz_ms(port)
            lat.append((ms, ok))
            await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    ua = "owl-stream-test/" + "x" * 140  # bigger events fill the buffers sooner
    n_flood = 3000
    t0 = time.monotonic()
    # in another process: the flood must not take the readers' interpreter lock
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        # bursts of 40 events (about 22 KiB) stay inside the buffer of a reader that
        # keeps reading; the whole flood (1.7 MB) is far more than a paused one can hold
        sent = await loop.run_in_executor(pool, gen_events, port, admin, n_flood, ua, 40,
                                          0.01)
    flood_s = time.monotonic() - t0
    note("flood: %d events of about %d bytes in %.2f s" % (sent, 560, flood_s))
    check("flood finished before the stall timeout (%.2f s < %.1f s)"
          % (flood_s, stall_ms / 1000.0), flood_s < stall_ms / 1000.0)
    # the pauser reads again; a few more events come after the flood
    preader = asyncio.create_task(pump(rp, pauser))
    await asyncio.sleep(0.5)
    sent += await loop.run_in_executor(None, gen_events, port, admin, 5, ua)
    await asyncio.sleep(1.0)
    got = pauser.counts.get("audit", 0)
    note("paused reader: %d events received, %d reported dropped in %d notices (sum %d of %d)"
         % (got, pauser.dropped, pauser.counts.get("dropped", 0), got + pauser.dropped, sent))
    check("the paused reader was told of dropped events (event: dropped)", pauser.dropped > 0)
    check("received + reported dropped == events sent (%d + %d == %d)"
          % (got, pauser.dropped, sent), got + pauser.dropped == sent)
    check("the paused reader's stream goes on after the drops",
          pauser.order[-1:] == ["audit"] and not pauser.ended and not preader.done())
    ngot = normal.counts.get("audit", 0)
    note("normal reader: %d events received, %d reported dropped" % (ngot, normal.dropped))
    check("the normal reader received every event (%d of %d), stream open" % (ngot, sent),
          ngot == sent and normal.dropped == 0 and not normal.ended and not reader.done())

    # the stalled reader: owld closes it once nothing moved for the stall timeout
    # progress is sampled every quarter of the stall timeout
    await asyncio.sleep(stall_ms * 1.25 / 1000.0 + 1.0)
    try:
        end = await asyncio.wait_for(pump(rs, stalled), 5)
    except asyncio.TimeoutError:
        end = "still open"
    check("the reader that never read was dropped after the stall timeout (%s)" % end,
          end in ("eof", "ConnectionResetError") and not stalled.ended)
    # owld's queue and the kernel buffers on both sides hold a few hundred KiB at most
    check("... having received only a bounded part of the flood (%d of %d events)"
          % (stalled.counts.get("audit", 0), sent), stalled.counts.get("audit", 0) < sent / 2)

    prober.cancel()
    oks = [ms for ms, ok in lat if ok]
    check("GET /healthz answered throughout (%d probes, all 200)" % len(lat),
          len(lat) > 5 and len(oks) == len(lat))
    if oks:
        oks.sort()
        note("GET /healthz during the flood: median %.1f ms, max %.1f ms over %d probes"
             % (oks[len(oks) // 2], oks[-1], len(oks)))
        check("GET /healthz stayed fast (max %.1f ms < 500 ms)" % oks[-1], oks[-1] < 500)
    for w in (wn, wp, ws):
        w.close()
    await asyncio.gather(reader, preader, return_exceptions=True)


def main():
    mode, port, admin, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    try:
        if mode == "many":
            asyncio.run(many(port, admin, pid, int(sys.argv[5]), int(sys.argv[6]),
                             float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])))
        else:
            asyncio.run(slow(port, admin, pid, int(sys.argv[5]), int(sys.argv[6])))
    except Exception as e:  # noqa: BLE001 - any surprise is a failure, with its reason
        check("stream.py %s ran without exception" % mode, False, "%s: %s" % (type(e).__name__, e))
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()

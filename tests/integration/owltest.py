"""owltest.py — helpers for the integration tests' python parts: raw HTTP/1.1 over sockets
(so tests control every byte and timing), a response reader that frames by Content-Length
or chunked encoding, and ok/not ok reporting in the same format as lib.sh.
Only the standard library; the owld under test is named by host/port and an admin key."""

import json
import socket
import time

_failures = 0


def check(name, cond, detail=""):
    """Prints "ok - name" or "not ok - name" (+ detail); returns cond."""
    global _failures
    if cond:
        print("ok - %s" % name, flush=True)
    else:
        _failures += 1
        print("not ok - %s" % name, flush=True)
        if detail:
            for line in str(detail).splitlines()[:20]:
                print("#   %s" % line[:300], flush=True)
    return bool(cond)


def note(msg):
    print("# %s" % msg, flush=True)


def failures():
    return _failures


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lowercase name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:200])


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping bytes that belong to the next one."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            raise ConnectionError("connection closed by owld")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read(self, head=False, allow_interim=False):
        """The next response. Interim 1xx responses are skipped unless allow_interim."""
        while True:
            status_line = self._line().decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ValueError("bad status line %r" % status_line)
            status = int(parts[1])
            reason = parts[2] if len(parts) > 2 else ""
            headers = []
            while True:
                line = self._line().decode("latin-1")
                if not line:
                    break
                k, _, v = line.partition(":")
                headers.append((k.strip().lower(), v.strip()))
            if 100 <= status < 200 and not allow_interim:
                continue
            resp = Response(status, reason, headers, b"")
            if head or status in (204, 304) or 100 <= status < 200:
                return resp
            te = resp.header("transfer-encoding")
            cl = resp.header("content-length")
            if te and "chunked" in te.lower():
                body = b""
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        while self._line():
                            pass
                        break
                    body += self._exact(size)
                    self._exact(2)
                resp.body = body
            elif cl is not None:
                resp.body = self._exact(int(cl))
            else:
                try:
                    while True:
                        self._fill()
                except ConnectionError:
                    pass
                resp.body, self.buf = self.buf, b""
            return resp


def request_bytes(method, path, headers=None, body=b""):
    """A request as bytes; adds Host and (when a body is given) Content-Length."""
    hs = [("Host", "127.0.0.1")]
    if body and not any(k.lower() in ("content-length", "transfer-encoding")
                        for k, _ in (headers or [])):
        hs.append(("Content-Length", str(len(body))))
    hs += headers or []
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % kv for kv in hs) + "\r\n"
    return head.encode("latin-1") + body


def exchange(port, method, path, headers=None, body=b"", timeout=10.0):
    """One request on a fresh connection; returns the Response."""
    s = connect(port, timeout)
    try:
        s.sendall(request_bytes(method, path, headers, body))
        return Reader(s).read(head=(method == "HEAD"))
    finally:
        s.close()


def bearer(key):
    return ("Authorization", "Bearer " + key)


def closed_within(sock, seconds):
    """Reads until the peer closes or seconds pass; returns (closed, bytes received)."""
    got = b""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, got
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False, got
        except OSError:  # reset, aborted: the peer is gone
            return True, got
        if not data:
            return True, got
        got += data


def vm_kb(pid, field):
    """A field of /proc/PID/status in kB (VmHWM, VmRSS), or -1."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1

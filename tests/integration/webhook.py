#!/usr/bin/env python3
"""webhook.py — a loopback webhook receiver for the alarm tests (t_alarms.sh,
t_alarm_topics.sh).

  webhook.py PORTFILE LOGFILE
Listens on a free 127.0.0.1 port (written to PORTFILE). Every POST is appended to LOGFILE as
one JSON line {"path", "status", "body", "sns", "ms"}: "ms" is the arrival time (Unix ms),
"sns" the request's x-amz-sns-* headers (names in lower case). Paths: /flaky/NAME answers 500 to its first three
POSTs, then 200; /hang never answers (the connection stays open); anything else answers 200.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counts = {}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        if self.path == "/hang":
            time.sleep(120)
            return
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            k = counts[self.path]
        status = 500 if self.path.startswith("/flaky/") and k <= 3 else 200
        with lock, open(sys.argv[2], "a") as f:
            sns = {h.lower(): v for h, v in self.headers.items()
                   if h.lower().startswith("x-amz-sns-")}
            f.write(json.dumps({"path": self.path, "status": status, "body": body,
                                "sns": sns, "ms": int(time.time() * 1000)}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()

"""keyload.py — load generators and verifiers for t_crash.sh (and the valgrind test).
Threads with keep-alive connections (http.client), admin bearer auth.

  keyload.py create PORT ADMIN OUTFILE TOTAL THREADS
      creates up to TOTAL keys with policy ["iam:Get*"]; each key that got 200 is appended
      to OUTFILE as "KEYID:SECRET\n" and flushed at once (so it is on disk when owld dies).
      Stops when TOTAL are made or owld goes away. Prints "created N".
  keyload.py verify PORT KEYFILE
      every key in KEYFILE must get 200 on GET /api/v1/keys/{id} with its own bearer.
  keyload.py hammer PORT ADMIN THREADS SECONDS
      GET /healthz and GET /api/v1/keys in a loop until owld closes or SECONDS pass; prints
      the count of responses and their statuses (any non-200 other than a 503 while
      draining is reported)."""

import http.client
import json
import os
import sys
import threading
import time

from owltest import check, failures, note


def conn(port, timeout=10):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def create(port, admin, outfile, total, nthreads):
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": 0, "bad": []}
    body = json.dumps({"policy": ["iam:Get*"]})
    hdrs = {"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
    out = open(outfile, "a", buffering=1)

    def worker():
        c = conn(port)
        while True:
            with lock:
                if state["next"] >= total:
                    break
                state["next"] += 1
            try:
                c.request("POST", "/api/v1/keys", body, hdrs)
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                # owld went away (killed): a key in flight may or may not exist; stop
                with lock:
                    state["errors"] += 1
                break
            if r.status != 200:
                with lock:
                    state["bad"].append((r.status, data[:200]))
                continue
            d = json.loads(data)
            with lock:
                out.write("%s:%s\n" % (d["key_id"], d["secret"]))
                out.flush()
                state["done"] += 1
        c.close()

    ths = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    out.close()
    print("created %d (connection errors %d, non-200 %d)"
          % (state["done"], state["errors"], len(state["bad"])), flush=True)
    for st, data in state["bad"][:5]:
        note("non-200 while creating keys: %d %r" % (st, data))
    check("no key creation got a non-200 answer", not state["bad"])


def verify(port, keyfile):
    with open(keyfile) as f:
        keys = [ln.strip() for ln in f if ln.strip()]
    bad = []
    c = conn(port)
    for k in keys:
        kid = k.split(":", 1)[0]
        for attempt in range(2):
            try:
                c.request("GET", "/api/v1/keys/" + kid, headers={"Authorization": "Bearer " + k})
                r = c.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException):
                c.close()
                c = conn(port)
        else:
            bad.append((kid, "connection failed"))
            continue
        if r.status != 200 or json.loads(data).get("key_id") != kid:
            bad.append((kid, "%d %r" % (r.status, data[:120])))
    c.close()
    check("all %d acknowledged keys work after kill -9 and restart" % len(keys), not bad,
          "\n".join("%s: %s" % b for b in bad[:10]) + ("\n(%d bad)" % len(bad)))


def hammer(port, admin, nthreads, seconds, ready=None):
    """ready: a file created once the first answer came (the caller waits for it before
    stopping owld, so the stop races live connections however slow this start-up was)."""
    lock = threading.Lock()
    stats = {}
    deadline = time.monotonic() + seconds
    paths = ["/healthz", "/api/v1/keys?limit=10"]
    hdrs = {"Authorization": "Bearer " + admin}

    def worker(i):
        c = conn(port, 5)
        n = 0
        while time.monotonic() < deadline:
            try:
                c.request("GET", paths[n % 2], headers=hdrs)
                r = c.getresponse()
                r.read()
            except (OSError, http.client.HTTPException) as e:
                key = type(e).__name__
                with lock:
                    stats[key] = stats.get(key, 0) + 1
                # owld closed the connection (draining): reconnect once, then give up
                c.close()
                try:
                    c = conn(port, 5)
                    c.connect()
                    continue
                except OSError:
                    break
            n += 1
            with lock:
                stats[r.status] = stats.get(r.status, 0) + 1
                if ready and not os.path.exists(ready):
                    open(ready, "w").close()
        c.close()

    ths = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    ok = sum(v for k, v in stats.items() if k == 200)
    print("hammer: %d responses 200; all outcomes %s" % (ok, stats), flush=True)
    odd = {k: v for k, v in stats.items() if isinstance(k, int) and k not in (200, 503)}
    check("hammer: every answer was 200 (or 503 while draining)", not odd, str(odd))
    check("hammer: owld answered requests (%d)" % ok, ok > 0)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "create":
        create(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "verify":
        verify(int(sys.argv[2]), sys.argv[3])
    elif cmd == "hammer":
        hammer(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
               sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        sys.exit("unknown command " + cmd)
    sys.exit(1 if failures() else 0)

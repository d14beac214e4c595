#!/bin/bash
# t_loadgen.sh — bench/loadgen end to end: against owld's /healthz (closed loop, --requests,
# open loop within 20% of --rate), a 401 route (errors counted, exit 1), the refusals and
# usage errors (exit 2), and a small python server for what owld never sends: chunked and
# split responses, Connection: close, HTTP/1.0 bodies ended by close, 100 Continue, garbage,
# silence, dropped connections, and the bodies and headers loadgen sends from --payloads.
. "$(dirname "$0")/lib.sh"

LOADGEN=${LOADGEN:-$OWL_BUILDDIR/bench/loadgen}
[ -x "$LOADGEN" ] || bail "no loadgen at $LOADGEN (build it with make)"

# lg ARGS... — runs loadgen with --json; sets OUT (stdout), ERR (stderr) and RC.
lg() {
    OUT=$("$LOADGEN" --json "$@" 2>"$T/lg.err")
    RC=$?
    ERR=$(cat "$T/lg.err")
    printf '%s\n' "$ERR" >>"$T/lg.all"
}

# lg_raw ARGS... — runs loadgen as given, stdout to /dev/null; sets RC and ERR.
lg_raw() {
    "$LOADGEN" "$@" >/dev/null 2>"$T/lg.err"
    RC=$?
    ERR=$(cat "$T/lg.err")
    printf '%s\n' "$ERR" >>"$T/lg.all"
}

# check_num NAME PYTHON_EXPR — the expression over the report (bound as r) is true.
check_num() {
    if printf '%s' "$OUT" | "$PYTHON" -c "import json,sys; r = json.load(sys.stdin); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
        ok "$1"
    else
        not_ok "$1" "expected: $2" "report: ${OUT:0:600}" "stderr: ${ERR:0:300}"
    fi
}

start_owld || bail "owld starts"

# ---- closed loop against /healthz ----
lg --url "$BASE/healthz" --connections 4 --duration 1
check_eq "healthz run exits 0" 0 "$RC"
check_num "healthz run completed requests" 'r["requests"] > 100 and r["ok"] == r["requests"]'
check_num "healthz run has no errors" 'r["errors"] == 0 and r["first_error"] is None'
check_num "healthz run lasted about 1 s" '0.9 < r["duration_s"] < 1.5'
check_num "requests_per_s is requests over the duration" \
    'abs(r["requests_per_s"] - r["requests"] / r["duration_s"]) <= 0.01 * r["requests_per_s"] + 1'
check_num "items default to one per 2xx request" 'r["items"] == r["ok"]'
check_num "latency percentiles are ordered" \
    '0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p90"] <= r["latency_ms"]["p99"] <= r["latency_ms"]["p999"] <= r["latency_ms"]["max"]'
check_num "closed loop measures latency from the send" 'r["mode"] == "closed" and r["latency_from"] == "send"'
check_num "the client's CPU use is reported, in cores" \
    'r["client_cpus"] == 1 and 0 < r["client_cpu"] <= 1.05'

lg --url "$BASE/healthz" --connections 3 --threads 2 --requests 500 --items-per-request 10
check_eq "--requests run exits 0" 0 "$RC"
check_num "--requests 500 makes exactly 500 requests" 'r["requests"] == 500'
check_num "--items-per-request multiplies items" 'r["items"] == 5000'

# ---- open loop ----
lg --url "$BASE/healthz" --connections 4 --rate 1000 --duration 1 --warmup 0.2
check_eq "open-loop run exits 0" 0 "$RC"
check_num "open loop reaches its target rate within 20%" '800 <= r["requests_per_s"] <= 1200'
check_num "open loop measures from the intended time" 'r["mode"] == "open" and r["latency_from"] == "intended" and r["rate_target"] == 1000'
lg --url "$BASE/healthz" --connections 2 --threads 2 --rate 2000000 --duration 0.5
check_eq "a rate beyond the server exits 0 (a result, not an error)" 0 "$RC"
check_num "a rate beyond the server: sent + unsent = every scheduled request" \
    'r["unsent"] > 0 and abs(r["requests"] + r["unsent"] - 1000000) <= 2'
check_num "a rate beyond the server: the backlog does not stretch the run" 'r["duration_s"] < 1.5'
check_num "a rate beyond the server: the queueing shows in the latency" 'r["latency_ms"]["p99"] > 50'

# ---- errors: a route that wants authentication ----
lg --url "$BASE/api/v1/keys" --connections 2 --requests 50
check_eq "401 run exits 1" 1 "$RC"
check_num "every 401 is an error of kind status_4xx" \
    'r["requests"] == 50 and r["ok"] == 0 and r["errors"] == 50 and r["errors_by_kind"]["status_4xx"] == 50'
check_num "the first error is named" '"401" in r["first_error"]'
out=$("$LOADGEN" --url "$BASE/api/v1/keys" --requests 5 --connections 1 2>>"$T/lg.all")
check_eq "the table run exits 1 too" 1 $?
check_contains "the table lists errors by kind" "$out" "status_4xx 5"

lg --url "$BASE/api/v1/keys" --requests 20 --connections 2 \
    --header "Authorization: Bearer $ADMIN"
check_eq "--header carries credentials (200s, exit 0)" 0 "$RC"

# ---- refusals and usage errors: exit 2 ----
for url in "http://10.1.2.3:$PORT/healthz" "http://example.com/" "http://[2001:db8::1]:80/" \
    "https://127.0.0.1:$PORT/" "http://user@127.0.0.1:$PORT/" "ftp://127.0.0.1/"; do
    lg_raw --url "$url" --duration 1
    check_eq "refuses $url with exit 2" 2 "$RC"
done
check_contains "the refusal says why" "$ERR" "http://"
lg_raw --url "http://10.1.2.3/"
check_contains "a non-loopback host is named as such" "$ERR" "only drives servers on this machine"
for args in "--duration 1" "--url $BASE/healthz --connections 0" "--url $BASE/healthz --bogus" \
    "--url $BASE/healthz --rate fast" "--url $BASE/healthz --rate 0" \
    "--url $BASE/healthz --threads 9 --connections 2" \
    "--url $BASE/healthz --header NoColon" "--url $BASE/healthz --header Content-Length:5" \
    "--url $BASE/healthz --payloads $T/no-such-file" "--url $BASE/healthz --payload-format csv"; do
    # shellcheck disable=SC2086
    lg_raw $args
    check_eq "usage error exits 2: $args" 2 "$RC"
done
"$LOADGEN" --help >"$T/help.txt"
check_eq "--help exits 0" 0 $?
check_contains "--help lists --rate" "$(cat "$T/help.txt")" "--rate"

# ---- SIGINT ends the run early: report, then death by SIGINT (so a calling shell stops) ----
"$LOADGEN" --json --url "$BASE/healthz" --connections 2 --duration 30 >"$T/int.json" 2>>"$T/lg.all" &
LGPID=$!
BG_PIDS+=("$LGPID")
sleep 0.5
t0=$(now_ms)
kill -INT "$LGPID"
wait "$LGPID"
rc=$?
check_eq "an interrupted run ends by SIGINT" 130 "$rc"
check_lt "it stops within 2 s of SIGINT" $(($(now_ms) - t0)) 2000
OUT=$(cat "$T/int.json")
check_num "the interrupted run still reports" 'r["interrupted"] is True and r["requests"] > 0'

STOP_OWLD_PORT=$PORT
stop_owld
lg --url "http://127.0.0.1:$STOP_OWLD_PORT/healthz" --duration 1
check_eq "nothing listening: exit 1" 1 "$RC"
check_contains "nothing listening: says it cannot connect" "$ERR" "cannot connect"

# ---- a python server for the framings owld does not use ----
cat >"$T/odd.py" <<'PY'
import json, socket, sys, threading, time
log = open(sys.argv[2], "a")
lock = threading.Lock()

def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    hdrs = {}
    while True:
        h = f.readline().decode()
        if h in ("\r\n", "\n", ""):
            break
        k, v = h.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    body = f.read(int(hdrs.get("content-length", "0")))
    return method, path, hdrs, body

def serve(c):
    f = c.makefile("rb")
    try:
        while True:
            req = read_request(f)
            if req is None:
                return
            method, path, hdrs, body = req
            with lock:
                log.write(json.dumps({"m": method, "p": path, "h": hdrs, "b": body.decode()}) + "\n")
                log.flush()
            if path == "/chunked":
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5;ext=1\r\nhello\r\n1A\r\n" + b"x" * 26 + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
            elif path == "/split":
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello":
                    c.sendall(bytes([b]))
                    time.sleep(0.0005)
            elif path == "/close":
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                return
            elif path == "/http10":
                c.sendall(b"HTTP/1.0 200 OK\r\n\r\nbody ends at close")
                return
            elif path == "/continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
            elif path == "/garbage":
                c.sendall(b"HELLO THERE\r\n\r\n")
            elif path == "/extra":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
            elif path == "/silent":
                time.sleep(5)
                return
            elif path == "/drop":
                return
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    except (OSError, ValueError):
        pass
    finally:
        c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
"$PYTHON" "$T/odd.py" "$T/odd.port" "$T/odd.log" 2>"$T/odd.err" &
BG_PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/odd.port" ] && break; sleep 0.05; done
[ -s "$T/odd.port" ] || bail "the python server starts"
ODD=http://127.0.0.1:$(cat "$T/odd.port")

for path in chunked split close http10 continue; do
    lg --url "$ODD/$path" --connections 2 --requests 20
    check_eq "/$path: exit 0" 0 "$RC"
    check_num "/$path: 20 complete responses, no errors" 'r["requests"] == 20 and r["ok"] == 20 and r["errors"] == 0'
done
lg --url "$ODD/close" --connections 2 --requests 20
check_num "Connection: close makes loadgen reconnect (not an error)" 'r["reconnects"] >= 18'
lg --url "$ODD/chunked" --connections 1 --requests 3
# 47 bytes of head, 67 of chunks and trailer: the next response starts after all of them
check_num "a chunked body is read to its trailer's end" 'r["bytes_received"] == 3 * 114'

lg --url "$ODD/garbage" --connections 1 --requests 3
check_eq "garbage: exit 1" 1 "$RC"
check_num "garbage: protocol errors" 'r["errors_by_kind"]["protocol"] == 3 and "status line" in r["first_error"]'
lg --url "$ODD/extra" --connections 1 --requests 2
check_num "bytes after a response: protocol errors" 'r["errors_by_kind"]["protocol"] == 2'
lg --url "$ODD/drop" --connections 2 --requests 4
check_eq "dropped connections: exit 1" 1 "$RC"
check_num "dropped connections: closed errors" 'r["errors_by_kind"]["closed"] == 4'
t0=$(now_ms)
lg --url "$ODD/silent" --connections 2 --requests 2 --timeout 0.3
check_eq "silence: exit 1" 1 "$RC"
check_num "silence: timeout errors" 'r["errors_by_kind"]["timeout"] == 2 and r["requests"] == 0'
check_lt "silence: the timeout ends the run" $(($(now_ms) - t0)) 3000

# ---- payloads: lines and records, cycled, with their framing and headers ----
: >"$T/odd.log"
printf '{"a":1}\n\n{"b":22}\r\nthird line\n' >"$T/lines.txt"
lg --url "$ODD/ingest?x=1" --payloads "$T/lines.txt" --connections 1 --requests 6 \
    --header 'Content-Type: application/json' --header 'X-Owl-Test:  yes'
check_eq "lines payloads: exit 0" 0 "$RC"
check_num "lines payloads: 3 bodies" 'r["payloads"] == 3 and r["method"] == "POST"'
got=$("$PYTHON" -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
print("|".join(r["b"] for r in rs))
print(set(r["m"] + " " + r["p"] for r in rs), set(r["h"].get("content-type") for r in rs),
      set(r["h"].get("x-owl-test") for r in rs), set(r["h"].get("host") for r in rs))' "$T/odd.log")
check_eq "lines payloads: bodies sent in order, twice round" \
    '{"a":1}|{"b":22}|third line|{"a":1}|{"b":22}|third line' "$(head -n 1 <<<"$got")"
check_eq "lines payloads: method, path, headers and Host" \
    "{'POST /ingest?x=1'} {'application/json'} {'yes'} {'127.0.0.1:$(cat "$T/odd.port")'}" \
    "$(tail -n 1 <<<"$got")"

: >"$T/odd.log"
printf '5 3\nhello\n11\nline1\nline2\n0 7\n' >"$T/records.bin"
lg --url "$ODD/ingest" --payloads "$T/records.bin" --payload-format records --connections 1 \
    --requests 3 --items-per-request 2
check_eq "records payloads: exit 0" 0 "$RC"
check_num "records payloads: items from the records, else --items-per-request" \
    'r["payloads"] == 3 and r["items"] == 3 + 2 + 7'
check_eq "records payloads: a body may hold newlines" \
    '["hello", "line1\nline2", ""]' \
    "$("$PYTHON" -c 'import json, sys; print(json.dumps([json.loads(l)["b"] for l in open(sys.argv[1])]))' "$T/odd.log")"
printf '9\nshort' >"$T/bad.bin"
lg_raw --url "$ODD/ingest" --payloads "$T/bad.bin" --payload-format records
check_eq "a truncated record is a usage error" 2 "$RC"
check_contains "which record is named" "$ERR" "record 1"
: >"$T/empty.txt"
lg_raw --url "$ODD/ingest" --payloads "$T/empty.txt"
check_eq "a payload file without bodies is a usage error" 2 "$RC"

# under --enable-sanitizers loadgen is instrumented too: its reports must not hide behind exit 1
if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$T/lg.all"; then
    not_ok "loadgen's stderr holds no sanitizer report" "$(grep -m 3 -e Sanitizer -e 'runtime error' "$T/lg.all")"
else
    ok "loadgen's stderr holds no sanitizer report"
fi

finish

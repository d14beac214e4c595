#!/bin/bash
# http_baseline.sh — owld's HTTP engine against nginx on the same machine in one run: each
# serves GET /healthz (the same 15-byte JSON body) from one pinned CPU while bench/loadgen (or
# wrk, --client wrk) loads it from another; prints requests/s, errors, latency and the
# owl/nginx ratio, one RESULT line for bench/run, and with --record appends the table with a
# machine line to bench/RESULTS.md. Everything it starts is stopped on exit, also on failure.
# Exit status 1 when the client saw errors or non-2xx answers (no RESULT line then).
#
# Each server is measured ROUNDS times (default 3), alternating, and the median run counts,
# so a burst of other load on the machine does not decide the ratio.
#
# Usage: bench/http_baseline.sh [--quick] [--record] [--client loadgen|wrk] [--owld PATH]
#          [--loadgen PATH] [--duration S] [--warmup S] [--rounds N] [--connections N]
#          [--threads N] [--server-cpu C] [--client-cpu C]
#   --quick   3 s runs after a 1 s warm-up, 1 round (about 10 s in all)
set -u

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=http_baseline
# shellcheck source=bench/lib.sh
. "$SRCDIR/bench/lib.sh"

QUICK=0
RECORD=0
CLIENT=loadgen
ROUNDS=
DURATION=
WARMUP=
CONNS=64
THREADS=
SERVER_CPU=0
CLIENT_CPU=1
OWLD=${OWLD:-}
LOADGEN=${LOADGEN:-}

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --client|--owld|--loadgen|--duration|--warmup|--rounds|--connections|--threads|--server-cpu|--client-cpu)
        [ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage 2 >&2; } ;;
    esac
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --client) CLIENT=$2; shift ;;
    --owld) OWLD=$2; shift ;;
    --loadgen) LOADGEN=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --server-cpu) SERVER_CPU=$2; shift ;;
    --client-cpu) CLIENT_CPU=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
case "$CLIENT" in loadgen|wrk) ;; *) echo "--client is loadgen or wrk" >&2; usage 2 >&2 ;; esac
if [ "$QUICK" = 1 ]; then
    : "${DURATION:=3}" "${WARMUP:=1}" "${ROUNDS:=1}"
else
    : "${DURATION:=10}" "${WARMUP:=2}" "${ROUNDS:=3}"
fi
# loadgen is one epoll loop and the client has one CPU; wrk keeps the thread count it had
[ -n "$THREADS" ] || { [ "$CLIENT" = wrk ] && THREADS=2 || THREADS=1; }

is_asan() { nm "$1" 2>/dev/null | grep -q __asan_init; }

# ---- tools: owld and loadgen of the build dir we run in, else of the newest non-sanitizer
# build*/ that has both (a sanitizer build would measure the sanitizer) ----
usable() {
    [ -x "$1" ] && ! is_asan "$1" &&
        { [ "$CLIENT" = wrk ] || [ -n "$LOADGEN" ] || [ -x "$(dirname "$1")/../bench/loadgen" ]; }
}
if [ -z "$OWLD" ]; then
    if usable ./server/owld; then
        OWLD=./server/owld
    else
        best_t=0
        for c in "$SRCDIR"/build*/server/owld; do
            usable "$c" || continue
            t=$(stat -c %Y "$c")
            if [ "$t" -gt "$best_t" ]; then OWLD=$c; best_t=$t; fi
        done
    fi
fi
[ -n "$OWLD" ] && [ -x "$OWLD" ] ||
    die "no owld binary (with bench/loadgen beside it): build it (make), then pass --owld PATH or set OWLD"
is_asan "$OWLD" && echo "warning: $OWLD is a sanitizer build" >&2
if [ "$CLIENT" = loadgen ]; then
    [ -n "$LOADGEN" ] || LOADGEN=$(dirname "$OWLD")/../bench/loadgen
    [ -x "$LOADGEN" ] || die "no loadgen at $LOADGEN: build it (make), or pass --loadgen PATH"
    is_asan "$LOADGEN" && echo "warning: $LOADGEN is a sanitizer build" >&2
else
    need_cmd wrk wrk
fi
for t in taskset curl python3; do command -v $t >/dev/null || die "$t is needed"; done
NCPU=$(nproc)
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$CLIENT_CPU" -lt "$NCPU" ] ||
    die "CPUs $SERVER_CPU and $CLIENT_CPU asked, $NCPU online"
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || echo "warning: server and client share CPU $SERVER_CPU" >&2

# ---- lifecycle: owld is ours, nginx is bench/peers/nginx (stopped by bench_cleanup) ----
bench_tmpdir
OWLD_PID=
stop_all() {
    if [ -n "$OWLD_PID" ]; then
        kill -TERM "$OWLD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$OWLD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$OWLD_PID" 2>/dev/null
        wait "$OWLD_PID" 2>/dev/null
    fi
    bench_cleanup
}
trap stop_all EXIT

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- owld: one worker (as nginx has), pinned to one CPU ----
OWL_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$SERVER_CPU" "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$T/owl-data" \
    --workers 1 --log-level warn 2>"$T/owld.log" &
OWLD_PID=$!
for i in $(seq 101); do
    kill -0 "$OWLD_PID" 2>/dev/null || { cat "$T/owld.log" >&2; die "owld exited at start"; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$OWL_PORT/healthz")" = 200 ] && break
    [ "$i" = 101 ] && { cat "$T/owld.log" >&2; die "owld did not answer /healthz"; }
    sleep 0.1
done

# ---- nginx: one worker pinned to the same CPU, a fixed /healthz answer ----
CPU=$SERVER_CPU
bench_peer_start nginx "$T/nginx"
NGX_PORT=$PEER_PORT

# ---- load ----
# run_loadgen NAME URL — one measured run after a warm-up in the same connections; appends
# "rps errors p50 p99 client-cpu%" to $T/res.NAME.
run_loadgen() {
    local name=$1 url=$2 out=$T/loadgen.$1.json rc
    taskset -c "$CLIENT_CPU" "$LOADGEN" --json --url "$url" --connections "$CONNS" \
        --threads "$THREADS" --duration "$DURATION" --warmup "$WARMUP" >"$out" 2>"$T/loadgen.err"
    rc=$?
    [ "$rc" -le 1 ] && [ -s "$out" ] || { cat "$T/loadgen.err" >&2; die "loadgen failed against $name (exit $rc)"; }
    python3 - "$out" <<'PY' | tee -a "$T/res.$name" |
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency_ms"]
print("%.0f %d %.3fms %.3fms %.0f" % (r["requests_per_s"], r["errors"], lat["p50"], lat["p99"],
                                      100 * r["client_cpu"] / r["client_cpus"]))
PY
        awk '{ printf "    %s requests/s, %s errors, latency p50 %s p99 %s, loadgen CPU %s%%\n", $1, $2, $3, $4, $5 }'
}

# run_wrk NAME URL — a wrk warm-up run, then one measured run; same line as run_loadgen
# (client CPU unknown: "?").
run_wrk() {
    local name=$1 url=$2 out=$T/wrk.$1.txt
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null 2>&1
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url" \
        >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed against $name"; }
    sed 's/^/    /' "$out"
    local rps sock non2xx p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    sock=$(awk '/Socket errors:/ { n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i + 0; print n }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    printf '%.0f %s %s %s ?\n' "${rps:-0}" $((${sock:-0} + ${non2xx:-0})) "${p50:-?}" "${p99:-?}" \
        >>"$T/res.$name"
}

# summarize NAME — sets RPS_x (median), ALL_x (every run), ERR_x (sum), P50_x, P99_x (of
# the median run), CPU_x (the client's busiest run, % of its CPU; ? for wrk).
summarize() {
    local out
    out=$(python3 - "$T/res.$1" <<'PY'
import sys
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
runs.sort(key=lambda r: float(r[0]))
med = runs[len(runs) // 2]
print(med[0])
print(" / ".join(r[0] for r in runs))
print(sum(int(r[1]) for r in runs))
print(med[2])
print(med[3])
cpu = [float(r[4]) for r in runs if r[4] != "?"]
print("%.0f" % max(cpu) if cpu else "?")
PY
)
    { read -r "RPS_$1"; read -r "ALL_$1"; read -r "ERR_$1"; read -r "P50_$1"; read -r "P99_$1"
      read -r "CPU_$1"; } <<<"$out"
}

if [ "$CLIENT" = loadgen ]; then
    LOAD_DESC="bench/loadgen --connections $CONNS --threads $THREADS --duration $DURATION --warmup $WARMUP"
else
    LOAD_DESC="wrk -t$THREADS -c$CONNS -d${DURATION}s after a ${WARMUP} s wrk warm-up"
fi
echo "owld  $OWLD on CPU $SERVER_CPU (port $OWL_PORT); nginx on CPU $SERVER_CPU (port $NGX_PORT)"
echo "$LOAD_DESC on CPU $CLIENT_CPU, GET /healthz, $ROUNDS alternating round(s)"
for r in $(seq "$ROUNDS"); do
    echo "== round $r: owld"
    "run_$CLIENT" owl "http://127.0.0.1:$OWL_PORT/healthz"
    echo "== round $r: nginx"
    "run_$CLIENT" ngx "http://127.0.0.1:$NGX_PORT/healthz"
done
summarize owl
summarize ngx

OWL_VER=$("$OWLD" --version 2>&1 | head -n 1)
NGX_VER=$("$SRCDIR/bench/peers/nginx" version "$T/nginx")
RATIO=$(python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$RPS_owl" "$RPS_ngx")
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE=$(machine_line)

pct() { if [ "$1" = "?" ]; then echo "?"; else echo "$1%"; fi; }
TABLE=$(printf '| server | version | requests/s (median) | every run | errors | latency p50 | latency p99 | client CPU (busiest run) |\n'
    printf '|---|---|---:|---|---:|---:|---:|---:|\n'
    printf '| owld | %s | %s | %s | %s | %s | %s | %s |\n' "$OWL_VER" "$RPS_owl" "$ALL_owl" "$ERR_owl" "$P50_owl" "$P99_owl" "$(pct "$CPU_owl")"
    printf '| nginx | %s | %s | %s | %s | %s | %s | %s |\n' "$NGX_VER" "$RPS_ngx" "$ALL_ngx" "$ERR_ngx" "$P50_ngx" "$P99_ngx" "$(pct "$CPU_ngx")")
echo
echo "$TABLE"
echo
echo "ratio owl/nginx (requests/s): $RATIO (client: $CLIENT)"
echo "machine: $MACHINE"
# the client's CPU is the limit of what it can measure: near it, a figure says more about
# the client than the server (loopback TCP costs the sender's CPU too)
SATURATED=""
for n in owl ngx; do
    c=CPU_$n
    [ "${!c}" != "?" ] && [ "${!c}" -ge 85 ] && SATURATED="$SATURATED ${n/ngx/nginx} (${!c}%)"
done
[ -n "$SATURATED" ] && echo "note: loadgen used >= 85% of its CPU against$SATURATED: that figure is close to the client's limit, so the server may be faster than it shows"

if [ "$ERR_owl" != 0 ] || [ "$ERR_ngx" != 0 ]; then
    echo "http_baseline: $CLIENT reported errors (owld $ERR_owl, nginx $ERR_ngx): not a valid run" >&2
    [ "$RECORD" = 1 ] && echo "http_baseline: not recording a run with errors" >&2
    exit 1
fi
BENCH="http_baseline GET /healthz"
[ "$CLIENT" = wrk ] && BENCH="$BENCH (wrk)"
result "$BENCH" "$RPS_owl" "$NGX_VER" "$RPS_ngx" "$RATIO" "req/s"

if [ "$RECORD" = 1 ]; then
    RES=$(results_file)
    {
        printf '\n## http_baseline — GET /healthz, owld vs nginx (%s)\n\n' "$DATE"
        printf 'machine: %s  \n' "$MACHINE"
        printf 'load: `%s` on CPU %s; each server alone on CPU %s (owld 1 worker, nginx 1 worker); %s alternating round(s), median run shown\n\n' \
            "$LOAD_DESC" "$CLIENT_CPU" "$SERVER_CPU" "$ROUNDS"
        printf '%s\n\n' "$TABLE"
        [ -n "$SATURATED" ] && printf 'loadgen used >= 85%% of its CPU against%s: that figure is close to the client'"'"'s limit  \n' "$SATURATED"
        printf 'ratio owl/nginx (requests/s): **%s**\n' "$RATIO"
    } >>"$RES"
    echo "recorded in $RES"
fi
exit 0

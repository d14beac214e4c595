#!/bin/bash
# http_baseline.sh — owld's HTTP engine against nginx on the same machine in one run: each
# serves GET /healthz (the same 15-byte JSON body) from one pinned CPU while wrk loads it
# from another; prints requests/s, errors, latency and the owl/nginx ratio, and with
# --record appends the result with a machine line to bench/RESULTS.md. Everything it starts
# is stopped on exit, also on failure. Exit status 1 when wrk saw errors or non-2xx.
#
# Each server is measured ROUNDS times (default 3), alternating, and the median run counts,
# so a burst of other load on the machine does not decide the ratio.
#
# Usage: bench/http_baseline.sh [--record] [--owld PATH] [--duration S] [--rounds N]
#               [--connections N] [--threads N] [--server-cpu C] [--client-cpu C]
set -u

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RECORD=0
ROUNDS=3
DURATION=10
CONNS=64
THREADS=2
SERVER_CPU=0
CLIENT_CPU=1
OWLD=${OWLD:-}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --record) RECORD=1 ;;
    --owld) OWLD=$2; shift ;;
    --duration) DURATION=$2; shift ;;
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

die() { echo "http_baseline: $*" >&2; exit 1; }

# ---- tools ----
if [ -z "$OWLD" ]; then
    for c in ./server/owld "$SRCDIR"/build*/server/owld "$SRCDIR/server/owld"; do
        # a sanitizer build would measure the sanitizer, not owld
        if [ -x "$c" ] && ! nm "$c" 2>/dev/null | grep -q __asan_init; then OWLD=$c; break; fi
    done
fi
[ -n "$OWLD" ] && [ -x "$OWLD" ] || die "no owld binary: build it, then pass --owld PATH or set OWLD"
nm "$OWLD" 2>/dev/null | grep -q __asan_init && echo "warning: $OWLD is a sanitizer build" >&2
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v wrk >/dev/null || [ ! -x "$NGINX" ]; then
    echo "installing wrk and nginx with apt-get" >&2
    [ "$(id -u)" = 0 ] || die "wrk or nginx missing and not root: apt-get install wrk nginx"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx-light >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx >/dev/null ||
        die "apt-get install wrk nginx failed"
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
for t in wrk taskset curl python3; do command -v $t >/dev/null || die "$t is needed"; done
NCPU=$(nproc)
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$CLIENT_CPU" -lt "$NCPU" ] ||
    die "CPUs $SERVER_CPU and $CLIENT_CPU asked, $NCPU online"
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || echo "warning: server and wrk share CPU $SERVER_CPU" >&2

# ---- lifecycle ----
T=$(mktemp -d "${TMPDIR:-/tmp}/owl-bench.XXXXXX") || die "mktemp failed"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_up() { # URL PID NAME LOG
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || { cat "$4" >&2; die "$3 exited at start"; }
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ] && return 0
        sleep 0.1
    done
    cat "$4" >&2
    die "$3 did not answer $1"
}

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)

# ---- owld: default workers, all pinned to one CPU ----
OWL_PORT=$(free_port)
taskset -c "$SERVER_CPU" "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$T/owl-data" \
    --log-level warn 2>"$T/owld.log" &
PIDS+=($!)
wait_up "http://127.0.0.1:$OWL_PORT/healthz" "${PIDS[-1]}" owld "$T/owld.log"

# ---- nginx: one worker pinned to the same CPU, a fixed /healthz answer ----
NGX_PORT=$(free_port)
mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root root;"
CPU_MASK=$(python3 -c "import sys; print(format(1 << int(sys.argv[1]), 'b'))" "$SERVER_CPU")
cat >"$T/nginx/nginx.conf" <<EOF
$USER_LINE
daemon off;
master_process on;
worker_processes 1;
worker_cpu_affinity $CPU_MASK;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location = /healthz {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
taskset -c "$SERVER_CPU" "$NGINX" -c "$T/nginx/nginx.conf" -p "$T/nginx" -e "$T/nginx/logs/error.log" \
    2>"$T/nginx.log" &
PIDS+=($!)
wait_up "http://127.0.0.1:$NGX_PORT/healthz" "${PIDS[-1]}" nginx "$T/nginx.log"

# ---- load ----
# run_wrk NAME URL — one measured run (after a 2 s warm-up); appends "rps errors lat p99" to
# $T/res.NAME.
run_wrk() {
    local name=$1 url=$2 out=$T/wrk.$1.txt
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d2s "$url" >/dev/null 2>&1
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url" \
        >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed against $name"; }
    sed 's/^/    /' "$out"
    local rps sock non2xx lat p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    sock=$(awk '/Socket errors:/ { n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i + 0; print n }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    lat=$(awk '$1 == "Latency" {print $2; exit}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    echo "${rps:-0} $((${sock:-0} + ${non2xx:-0})) ${lat:-?} ${p99:-?}" >>"$T/res.$name"
}

# summarize NAME — sets RPS_x (median), ALL_x (every run), ERR_x (sum), LAT_x, P99_x (of the
# median run).
summarize() {
    local out
    out=$(python3 - "$T/res.$1" <<'PY'
import sys
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
runs.sort(key=lambda r: float(r[0]))
med = runs[len(runs) // 2]
print(med[0])
print(" / ".join("%.0f" % float(r[0]) for r in runs))
print(sum(int(r[1]) for r in runs))
print(med[2])
print(med[3])
PY
)
    { read -r "RPS_$1"; read -r "ALL_$1"; read -r "ERR_$1"; read -r "LAT_$1"; read -r "P99_$1"; } \
        <<<"$out"
}

echo "owld  $OWLD on CPU $SERVER_CPU (port $OWL_PORT); nginx $NGINX on CPU $SERVER_CPU (port $NGX_PORT)"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s on CPU $CLIENT_CPU, GET /healthz, $ROUNDS alternating rounds"
for r in $(seq "$ROUNDS"); do
    echo "== round $r: owld"
    run_wrk owl "http://127.0.0.1:$OWL_PORT/healthz"
    echo "== round $r: nginx"
    run_wrk ngx "http://127.0.0.1:$NGX_PORT/healthz"
done
summarize owl
summarize ngx

OWL_VER=$("$OWLD" --version 2>&1 | head -n 1)
NGX_VER=$("$NGINX" -v 2>&1 | head -n 1)
RATIO=$(python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$RPS_owl" "$RPS_ngx")
COMMIT=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$SRCDIR" diff --quiet HEAD -- 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM_GB=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MACHINE="$CPU_MODEL, $NCPU cores, $MEM_GB GiB RAM, $(uname -sr), load average $LOAD_BEFORE before the run, $DATE, commit $COMMIT"

TABLE=$(printf '| server | version | requests/s (median) | every run | errors | latency avg | latency p99 |\n'
    printf '|---|---|---:|---|---:|---:|---:|\n'
    printf '| owld | %s | %s | %s | %s | %s | %s |\n' "$OWL_VER" "$RPS_owl" "$ALL_owl" "$ERR_owl" "$LAT_owl" "$P99_owl"
    printf '| nginx | %s | %s | %s | %s | %s | %s |\n' "$NGX_VER" "$RPS_ngx" "$ALL_ngx" "$ERR_ngx" "$LAT_ngx" "$P99_ngx")
echo
echo "$TABLE"
echo
echo "ratio owl/nginx (requests/s): $RATIO"
echo "machine: $MACHINE"

STATUS=0
if [ "$ERR_owl" != 0 ] || [ "$ERR_ngx" != 0 ]; then
    echo "http_baseline: wrk reported errors (owld $ERR_owl, nginx $ERR_ngx): not a valid run" >&2
    STATUS=1
fi

if [ "$RECORD" = 1 ]; then
    if [ "$STATUS" != 0 ]; then
        echo "http_baseline: not recording a run with errors" >&2
    else
        RES=$SRCDIR/bench/RESULTS.md
        [ -f "$RES" ] || printf '# Benchmark results\n\nAppended by the scripts in bench/ with --record; newest last. See docs/benchmarks.md.\n' >"$RES"
        {
            printf '\n## http_baseline — GET /healthz, owld vs nginx (%s)\n\n' "$DATE"
            printf 'machine: %s  \n' "$MACHINE"
            printf 'load: `wrk -t%s -c%s -d%ss` on CPU %s; each server alone on CPU %s (owld default workers, nginx 1 worker); %s alternating rounds, 2 s warm-up before each, median run shown\n\n' \
                "$THREADS" "$CONNS" "$DURATION" "$CLIENT_CPU" "$SERVER_CPU" "$ROUNDS"
            printf '%s\n\n' "$TABLE"
            printf 'ratio owl/nginx (requests/s): **%s**\n' "$RATIO"
        } >>"$RES"
        echo "recorded in $RES"
    fi
fi
exit $STATUS

# shellcheck shell=bash
# bench/lib.sh — helpers shared by the store benchmarks; source it after setting BENCH_NAME,
# SRCDIR and (optionally) OWL_STORE. Nothing here runs on its own.
# Invariant: every peer a script starts with bench_peer_start is stopped, and the temp dir of
# bench_tmpdir removed, when the script exits for any reason (EXIT trap; INT/TERM/HUP exit 1).

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# find_owl_store — the newest non-sanitizer build (a sanitizer build measures the sanitizer)
find_owl_store() {
    local c best="" t bt=0
    for c in ./index/owl-store "$SRCDIR"/build*/index/owl-store; do
        [ -x "$c" ] || continue
        nm "$c" 2>/dev/null | grep -q __asan_init && continue
        t=$(stat -c %Y "$c")
        if [ "$t" -gt "$bt" ]; then best=$c; bt=$t; fi
    done
    echo "$best"
}

# require_owl_store — sets OWL_STORE (found when not given) or dies with what to do
require_owl_store() {
    [ -n "$OWL_STORE" ] || OWL_STORE=$(find_owl_store)
    [ -n "$OWL_STORE" ] && [ -x "$OWL_STORE" ] ||
        die "no owl-store binary: build it (make), then pass --owl-store PATH or set OWL_STORE"
    if nm "$OWL_STORE" 2>/dev/null | grep -q __asan_init; then
        echo "warning: $OWL_STORE is a sanitizer build" >&2
    fi
}

# need_cmd CMD PACKAGE — installs the Debian package when CMD is missing (root only)
need_cmd() {
    command -v "$1" >/dev/null && return 0
    echo "installing $2 with apt-get" >&2
    [ "$(id -u)" = 0 ] || die "$1 missing and not root: apt-get install $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        die "apt-get install $2 failed"
}

now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"$1\\n\", $2 }"; }

# results_file — prints bench/RESULTS.md's path, creating the file with its heading when it
# does not exist yet (every --record appends to it)
results_file() {
    local res=$SRCDIR/bench/RESULTS.md
    [ -f "$res" ] || printf '# Benchmark results\n\nAppended by the scripts in bench/ with --record; newest last. See docs/benchmarks.md.\n' >"$res"
    echo "$res"
}

# machine_line — CPU model, cores, memory, kernel, load at start ($LOAD_BEFORE), $DATE, commit
machine_line() {
    local cpu mem commit
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    mem=$(free -g | awk '/^Mem:/ {print $2}')
    commit=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$SRCDIR" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
    echo "$cpu, $(nproc) cores, $mem GB RAM (free -g), $(uname -sr), load average $LOAD_BEFORE at start, $DATE, commit $commit"
}

# result BENCHMARK OWL PEER PEER_FIGURE RATIO UNIT — the line bench/run collects (see
# docs/benchmarks.md): RATIO > 1 means owl wins (owl/peer for rates and ratios, peer/owl for
# times). Tabs or newlines inside a field would break the line, so they are refused.
result() {
    local f
    [ $# = 6 ] || die "result takes 6 fields, got $#"
    for f in "$@"; do
        case "$f" in *$'\t'*|*$'\n'*|"") die "result: empty field or one with a tab or newline" ;; esac
    done
    printf 'RESULT\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
}

# ---- temp dir and peers ----
BENCH_PEERS=()  # "name dir" of each peer started, stopped in reverse order on exit

bench_cleanup() {
    local i name dir
    for ((i = ${#BENCH_PEERS[@]} - 1; i >= 0; i--)); do
        read -r name dir <<<"${BENCH_PEERS[i]}"
        "$SRCDIR/bench/peers/$name" stop "$dir" || echo "$BENCH_NAME: stopping $name failed" >&2
    done
    BENCH_PEERS=()
    [ -n "${T:-}" ] && rm -rf "$T"
}

# bench_tmpdir — sets T to a fresh temp dir (under $TMPDIR) and the traps that clean up
bench_tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/owl-$BENCH_NAME.XXXXXX") || die "mktemp failed"
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# bench_peer_start NAME DIR [VAR=VALUE...] — starts bench/peers/NAME with its data in DIR
# (pinned to $CPU like owl) and the environment given; sets PEER_PORT
bench_peer_start() {
    local name=$1 dir=$2
    shift 2
    BENCH_PEERS+=("$name $dir")
    # shellcheck disable=SC2034  # for the caller
    PEER_PORT=$(env PEER_CPU="$CPU" "$@" "$SRCDIR/bench/peers/$name" start "$dir") ||
        die "could not start $name (see above)"
}

# ch SQL — a query to the ClickHouse started in $CH_DIR; dies on an error
ch() { "$SRCDIR/bench/peers/clickhouse" query "$CH_DIR" "$1" || die "ClickHouse: $1"; }

# build_log_rows — compiles bench/datasets/log_rows.c (owl's line timestamps, as TSV rows for
# ClickHouse) into $T/log_rows
build_log_rows() {
    need_cmd cc gcc
    cc -std=gnu11 -O2 -I"$SRCDIR" -o "$T/log_rows" "$SRCDIR/bench/datasets/log_rows.c" \
        "$SRCDIR/common/logtime.c" "$SRCDIR/common/clock.c" || die "building log_rows failed"
}

# kv FILE KEY — the value of KEY in a file of key=value lines; jget FILE KEY — of a JSON object
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
jget() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# ---- Loghub lines put into owld and ClickHouse (logs.sh, insights.sh) ----
# The caller sets BYTES, DATA (the loghub folder), NEEDLE, GROUP, STREAM, OTLP_GROUP, OWLD,
# LOADGEN, WORKERS, CONNS, PIN and CPIN (taskset of the server and of the client CPU) and
# CLIENT (bench/logs_client.py on the client CPU), and has called bench_tmpdir.

# logs_data — the data set: $T/logs.log (IN), BYTES of varied Loghub lines with NEEDLE once
# (bench/datasets/loghub.py), its non-empty lines the events at times spread over 20 h of
# yesterday (UTC) in file order, cut once into batches of 10,000 events / <= 1 MB as
# PutLogEvents JSON ($T/b/put.rec, GROUP / STREAM), OTLP protobuf ($T/b/otlp.rec, OTLP_GROUP)
# and ClickHouse TSV rows "ts stream message" ($T/b/ch.rec) by bench/logs_bodies.c; sets IN,
# NBYTES, DAY_MS (yesterday 00:00 UTC), EVENTS, REQS (batches), LAST_MS (the last event's time)
# shellcheck disable=SC2153  # BYTES, GROUP... are the caller's
logs_data() {
    IN=$T/logs.log
    echo "building $BYTES bytes of varied Loghub lines with one '$NEEDLE'..."
    python3 "$SRCDIR/bench/datasets/loghub.py" --data "$DATA" --out "$IN" --bytes "$BYTES" --vary \
        --needle "$NEEDLE" >"$T/ds.out" || die "loghub.py failed"
    NBYTES=$(stat -c %s "$IN")
    cc -std=gnu11 -O2 -o "$T/logs_bodies" "$SRCDIR/bench/logs_bodies.c" || die "building logs_bodies failed"
    DAY_MS=$(( ($(date -u +%s) / 86400 - 1) * 86400000 ))
    mkdir -p "$T/b"
    "$T/logs_bodies" "$IN" "$T/b" "$GROUP" "$STREAM" "$OTLP_GROUP" "$DAY_MS" $((20 * 3600 * 1000)) 10000 \
        >"$T/bodies.out" || die "logs_bodies failed"
    EVENTS=$(kv "$T/bodies.out" events)
    REQS=$(kv "$T/bodies.out" requests)
    LAST_MS=$(kv "$T/bodies.out" last_ms)
    echo "  $EVENTS events ($(kv "$T/bodies.out" empty_lines) empty lines left out), $NBYTES bytes raw, $REQS batches; PutLogEvents bodies $(kv "$T/bodies.out" put_bytes) bytes, OTLP $(kv "$T/bodies.out" otlp_bytes), TSV $(kv "$T/bodies.out" ch_bytes)"
}

# logs_load NAME URL RECFILE [HEADER...] — every body of RECFILE once through loadgen (CONNS
# keep-alive connections on the client CPU); sets SEC_NAME (loadgen's measured seconds); dies
# on any error or a missing answer
logs_load() {
    local name=$1 url=$2 rec=$3 h=() x
    shift 3
    for x in "$@"; do h+=(--header "$x"); done
    $CPIN "$LOADGEN" --url "$url" --payloads "$rec" --payload-format records --connections "$CONNS" \
        --requests "$REQS" --duration 1800 --timeout 120 --json "${h[@]}" >"$T/$name.json" 2>"$T/$name.err" ||
        { cat "$T/$name.err" "$T/$name.json" >&2; die "$name: loadgen reported errors"; }
    [ "$(jget "$T/$name.json" ok)" = "$REQS" ] && [ "$(jget "$T/$name.json" items)" = "$EVENTS" ] ||
        { cat "$T/$name.json" >&2; die "$name: not every body got a 2xx answer"; }
    printf -v "SEC_$name" '%s' "$(jget "$T/$name.json" duration_s)"
}

# logs_owl_start DIR [OPTION...] — owld on a free port with its data in DIR, pinned ($PIN),
# --workers $WORKERS; sets OWL_PORT, OWL_PID, OWL_KEY (the admin key) and OWL (its URL).
# logs_owl_stop — SIGTERM, and waits for it to exit.
logs_owl_start() {
    local d=$1
    shift
    OWL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $PIN "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$d" --workers "$WORKERS" --log-level warn "$@" \
        2>>"$T/owld.log" &
    OWL_PID=$!
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OWL_PORT/healthz")" = 200 ] && break
        kill -0 "$OWL_PID" 2>/dev/null || break
        sleep 0.05
    done
    OWL_KEY=$(tr -d '\n' <"$d/admin.key" 2>/dev/null)
    [ -n "$OWL_KEY" ] || { cat "$T/owld.log" >&2; die "owld did not start"; }
    OWL=http://127.0.0.1:$OWL_PORT
}
logs_owl_stop() {
    [ -n "${OWL_PID:-}" ] || return 0
    kill -TERM "$OWL_PID" 2>/dev/null
    wait "$OWL_PID" 2>/dev/null
    OWL_PID=
}

# logs_visible NAME GROUP — FilterLogEvents over the last event's millisecond until it is
# there; sets VIS_NAME (seconds from the first request to the answer that held it, client
# start-up not counted)
logs_visible() {
    $CLIENT last "$OWL" "$OWL_KEY" "$2" "$LAST_MS" >"$T/last.out" || die "FilterLogEvents failed"
    [ "$(kv "$T/last.out" events)" -ge 1 ] || die "$1: the last event is not found"
    printf -v "VIS_$1" '%s' "$(kv "$T/last.out" seconds)"
}

# logs_settle DIR GROUP — waits (up to 900 s) until the janitor of the owld with its data in
# DIR (started with --store-settle-ms 1000) settled GROUP: every row in parts (storedBytes,
# which counts memtable rows at their raw size, equal to the parts' bytes), no part of level
# 0, storedBytes steady for a second; sets OWL_STORED and SETTLE_LINE; dies when it does not
logs_settle() {
    local d=$1 group=$2 prev="" cur=0 disk=0 l0=0 parts=0 _
    echo "waiting for the janitor to settle the group (every row in parts, none of level 0, storedBytes steady)..."
    for _ in $(seq 900); do
        sleep 1
        $CLIENT stored "$OWL" "$OWL_KEY" "$group" >"$T/stored.out" || die "DescribeLogGroups failed"
        cur=$(kv "$T/stored.out" stored_bytes)
        l0=$(find "$d/store/logs" -name 'p-*-0.owp' | wc -l)
        parts=$(find "$d/store/logs" -name '*.owp' | wc -l)
        disk=$(find "$d/store/logs" -name '*.owp' -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
        if [ "$l0" = 0 ] && [ "$parts" -gt 0 ] && [ "$cur" = "$disk" ] && [ "$cur" = "$prev" ]; then
            OWL_STORED=$cur
            SETTLE_LINE="$parts parts, none of level 0, storedBytes $OWL_STORED"
            echo "  $SETTLE_LINE"
            return 0
        fi
        prev=$cur
    done
    die "the group did not settle within 900 s ($l0 level-0 parts of $parts, storedBytes $cur, parts $disk bytes)"
}

#!/bin/bash
# alarms.sh — owl's alarm evaluator beside Prometheus (and Alertmanager), in the same run:
#   per tick   N metric alarms (Average, Period 60, 1 of 1, GreaterThanThreshold) on N series
#              fed through POST /api/v1/metrics, created with PutMetricAlarm; the figure is
#              owl_alarm_tick_full_seconds of the tick after a minute boundary that evaluated
#              every alarm (median of 3). Beside it, Prometheus (GOMAXPROCS=1) with ONE rule
#              group of N alerting rules avg_over_time(bench_value{id="i"}[1m]) > threshold(i)
#              over the same values, scraped from a static loopback exposition: its
#              prometheus_rule_group_last_duration_seconds (median of 3 evaluations that saw
#              the data, after the first). Goal: 100,000 alarms in <= 1 s on one core.
#   latency    from a breaching datapoint's acknowledgement to the webhook POST: K alarms
#              (Period 10, Maximum > 100, resolution 1) with webhook actions at a loopback
#              receiver; each sample puts 200 just after a 10 s boundary in the period that
#              just ended, then brings the alarm back to OK. p50 and p99. Beside it,
#              Prometheus (scrape and evaluation every 1 s) + Alertmanager (group_wait 0s):
#              from the moment the exposition shows 200 to Alertmanager's webhook POST.
# owld (--workers 1) and the peers run on one CPU (--cpu, default 1), the clients on the other.
# RESULT lines for bench/run; --record appends to bench/RESULTS.md. Exit 1 on any failure,
# also when owl evaluates fewer alarms than it holds or never reports a full tick.
#
# Usage: bench/alarms.sh [--quick] [--record] [--owld PATH] [--cpu C]
#   --quick  10,000 alarms, 1 full tick, 5 latency samples over 5 alarms (default: 100,000
#            alarms, 3 full ticks, 20 samples over 20 alarms)
set -u

SRCDIR=${OWL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QUICK=0
RECORD=0
OWLD=${OWLD:-}
CPU=1
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --owld|--cpu) [ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage 2 >&2; } ;;
    esac
    case "$1" in
    --quick) QUICK=1 ;;
    --record) RECORD=1 ;;
    --owld) OWLD=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 >&2 ;;
    esac
    shift
done

BENCH_NAME=alarms
# shellcheck source=bench/lib.sh
. "$SRCDIR/bench/lib.sh"
[ -n "$OWLD" ] || OWLD=$SRCDIR/build-bench/server/owld
[ -x "$OWLD" ] || OWLD=$SRCDIR/build/server/owld
[ -x "$OWLD" ] || die "no owld binary: build it, or pass --owld PATH"
for t in taskset python3 curl; do command -v $t >/dev/null || die "$t is needed"; done
[[ "$CPU" =~ ^[0-9]+$ ]] && [ "$CPU" -lt "$(nproc)" ] || die "CPU $CPU asked, $(nproc) online"
CLIENT_CPU=$(( (CPU + 1) % $(nproc) ))
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
PY="taskset -c $CLIENT_CPU python3 $SRCDIR/bench/alarms_client.py"

if [ "$QUICK" = 1 ]; then N=10000 TICKS=1 K=5 SAMPLES=5; else N=100000 TICKS=3 K=20 SAMPLES=20; fi
CONNS=4          # PutMetricAlarm keep-alive connections
# Prometheus for the per-tick figure: the rule group's interval (an evaluation of 100,000 rules
# takes longer than 10 s; Prometheus then starts the next at the following interval) and the
# scrape interval of the N series (a scrape shares the CPU with the evaluation: rarely)
if [ "$QUICK" = 1 ]; then PROM_EVAL=2s PROM_SCRAPE=2s; else PROM_EVAL=10s PROM_SCRAPE=30s; fi
LAT_INTERVAL=1s  # Prometheus' scrape and evaluation interval for the latency figure

# ---- lifecycle: owld, the python helpers and the peers are stopped on any exit ----
OWL_PID=""
BG=()            # python helpers in the background
stop_owl() {
    [ -n "$OWL_PID" ] || return 0
    kill -TERM "$OWL_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$OWL_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$OWL_PID" 2>/dev/null
    wait "$OWL_PID" 2>/dev/null
    OWL_PID=""
}
stop_all() {
    local p
    stop_owl
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
    BG=()
    bench_cleanup
}
bench_tmpdir
trap stop_all EXIT

# start_owl NAME — a fresh owld (data in $T/NAME) on a free port, pinned to $CPU
start_owl() {
    OWL_DATA=$T/$1
    OWL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    OWL_LOG=$T/owld-$1.log
    taskset -c "$CPU" "$OWLD" --listen "127.0.0.1:$OWL_PORT" --data-dir "$OWL_DATA" --workers 1 \
        --log-level warn 2>"$OWL_LOG" &
    OWL_PID=$!
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OWL_PORT/healthz")" = 200 ] && break
        kill -0 "$OWL_PID" 2>/dev/null || break
        sleep 0.05
    done
    OWL_KEY=$(tr -d '\n' <"$OWL_DATA/admin.key" 2>/dev/null)
    [ -n "$OWL_KEY" ] || { tail -n 20 "$OWL_LOG" >&2; die "owld did not start"; }
    OWL=http://127.0.0.1:$OWL_PORT
}
owl_alive() { kill -0 "$OWL_PID" 2>/dev/null || { tail -n 20 "$OWL_LOG" >&2; die "owld exited (log above)"; }; }
# owl_metric NAME — the value of NAME (the whole series text, labels included) in GET /metrics
owl_metric() {
    curl -s --max-time 10 -H "Authorization: Bearer $OWL_KEY" "$OWL/metrics" |
        awk -v k="$1" '$1 == k { print $2; exit }'
}
kv() { awk -F= -v k="$1" '$1 == k { print substr($0, length(k) + 2) }' "$2"; }
now_ms() { date +%s%3N; }

# ---- 1. owl: alarms evaluated per tick ----
echo "== alarms evaluated per tick: $N metric alarms on $N series, one core"
start_owl tick
t_now=$(now_ms)
minute=$((t_now / 60000 * 60000))
$PY feed "$OWL" "$OWL_KEY" "$N" "$((minute - 120000)),$((minute - 60000)),$((t_now - 1000))" 4 \
    >"$T/feed0.out" || die "feeding the series failed"
echo "owl: fed $(kv datapoints "$T/feed0.out") datapoints (3 a series) in $(kv seconds "$T/feed0.out") s"
$PY create "$OWL" "$OWL_KEY" "$N" "$CONNS" >"$T/create.out"
crc=$?
CREATE_S=$(kv seconds "$T/create.out")
CREATED=$(kv created "$T/create.out")
[ "$crc" = 0 ] || { owl_alive; die "PutMetricAlarm failed after $CREATED of $N: $(kv error "$T/create.out")"; }
echo "owl: created $N alarms in $CREATE_S s ($(calc %.0f "$N / $CREATE_S") alarms/s; PutMetricAlarm over AWS JSON 1.0, $CONNS keep-alive connections, owld --workers 1)"
HELD=$(owl_metric 'owl_alarms{kind="metric"}')
[ "${HELD:-0}" = "$N" ] || die "owl holds ${HELD:-none} metric alarms after creating $N"
echo "owl: owld resident memory with $N alarms: $(awk '/^VmRSS/ { printf "%.0f MB", $2 / 1024 }' "/proc/$OWL_PID/status")"

OWL_TICKS=()
for _ in $(seq "$TICKS"); do
    # a fresh datapoint in the current minute, so every alarm keeps its data (and its state)
    # at the boundary; the boundary taken is at least 5 s after that put, so its own
    # evaluations are over before the measured tick
    $PY feed "$OWL" "$OWL_KEY" "$N" "$(now_ms)" 4 >"$T/feed.out" || die "feeding the series failed"
    b=$(( ($(now_ms) + 5000) / 60000 * 60000 + 60000 ))
    echo "owl: waiting for the full tick after $(date -u -d "@$((b / 1000))" +%H:%M:%S) ($(( (b - $(now_ms)) / 1000 )) s)"
    sleep "$(calc %.3f "($b - $(now_ms)) / 1000 + 0.5")"
    at=0
    for _ in $(seq 60); do
        owl_alive
        at=$(owl_metric owl_alarm_tick_full_timestamp_ms)
        [ "${at:-0}" -ge "$b" ] && break
        sleep 0.5
    done
    if [ "${at:-0}" -lt "$b" ]; then
        die "owl reported no full tick within 30 s of the minute boundary $b (last full tick at ${at:-none}, last tick evaluated $(owl_metric owl_alarm_tick_last_evaluated) of $N at $(owl_metric owl_alarm_tick_last_timestamp_ms))"
    fi
    ev=$(owl_metric owl_alarm_tick_full_evaluated)
    s=$(owl_metric owl_alarm_tick_full_seconds)
    [ "$ev" = "$N" ] || die "owl's full tick at $at evaluated $ev alarms, it holds $N"
    echo "owl: tick at +$((at - b)) ms after the boundary evaluated $ev alarms in $(calc %.6f "$s") s"
    OWL_TICKS+=("$s")
done
OWL_TICK_S=$(printf '%s\n' "${OWL_TICKS[@]}" | median)
$PY check "$OWL" "$OWL_KEY" "$N" 1000 >"$T/check.out" || die "DescribeAlarms failed"
echo "owl: states of $(kv asked "$T/check.out") alarms spread over the $N: $(kv states "$T/check.out") ($(kv ok "$T/check.out") as their value and threshold decide)"
[ "$(kv ok "$T/check.out")" = "$(kv asked "$T/check.out")" ] ||
    die "owl: alarms in the wrong state: $(kv wrong "$T/check.out")"
stop_owl

# ---- 1. Prometheus: one rule group of N alerting rules ----
EXPECTED=$(python3 "$SRCDIR/bench/alarms_client.py" expected "$N")
PROM_DIR=$T/prom-tick
mkdir -p "$PROM_DIR/rules"
python3 "$SRCDIR/bench/alarms_client.py" expo "$T/expo.txt" "$N"
python3 "$SRCDIR/bench/alarms_client.py" rules "$PROM_DIR/rules/bench.yml" "$N"
$PY serve "$T/expo.port" "$T/expo.txt" &
BG+=($!)
for _ in $(seq 100); do [ -s "$T/expo.port" ] && break; sleep 0.1; done
[ -s "$T/expo.port" ] || die "the exposition server did not start"
echo "Prometheus: starting with $N rules in one group (evaluation_interval $PROM_EVAL), scraping $N series every $PROM_SCRAPE"
bench_peer_start prometheus "$PROM_DIR" GOMAXPROCS=1 PROMETHEUS_EVAL_INTERVAL=$PROM_EVAL \
    PROMETHEUS_SCRAPE_INTERVAL=$PROM_SCRAPE PROMETHEUS_SCRAPE_TARGET="127.0.0.1:$(cat "$T/expo.port")"
PROM=http://127.0.0.1:$PEER_PORT
PROM_VER=$("$SRCDIR/bench/peers/prometheus" version "$PROM_DIR")
GROUP="$PROM_DIR/rules/bench.yml;bench"
prom_group() { # METRIC — the bench group's value of METRIC in Prometheus' /metrics
    curl -s --max-time 10 "$PROM/metrics" |
        awk -v k="$1{rule_group=\"$GROUP\"}" '$1 == k { print $2; exit }'
}
prom_query() { # PROMQL — the single value of an instant query, or 0
    curl -s --max-time 30 "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null
}
RULES=$(prom_group prometheus_rule_group_rules)
[ "${RULES:-0}" = "$N" ] || die "Prometheus loaded ${RULES:-no} rules of $N"
for _ in $(seq 120); do
    [ "$(prom_query 'count(bench_value)')" = "$N" ] && break
    sleep 1
done
[ "$(prom_query 'count(bench_value)')" = "$N" ] || die "Prometheus does not show the $N series within 120 s"
VISIBLE=$(date +%s.%N)
echo "Prometheus: $N series visible (a scrape of them takes $(calc %.3f "$(prom_query 'scrape_duration_seconds{job="bench"}')") s)"
# evaluations that started after the data was visible: the first creates the alerts (as owl's
# alarms changed state when created), the next TICKS are measured
PROM_TICKS=()
last="" first=1
deadline=$(( $(date +%s) + 60 + (TICKS + 2) * 60 ))
while [ ${#PROM_TICKS[@]} -lt "$TICKS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    ts=$(prom_group prometheus_rule_group_last_evaluation_timestamp_seconds)
    if [ -n "$ts" ] && [ "$ts" != "$last" ] && awk "BEGIN { exit !($ts > $VISIBLE) }"; then
        last=$ts
        d=$(prom_group prometheus_rule_group_last_duration_seconds)
        if [ "$first" = 1 ]; then
            first=0
            echo "Prometheus: first evaluation with the data (alerts created) took $(calc %.3f "$d") s, not counted"
        else
            echo "Prometheus: evaluation of $N rules took $(calc %.3f "$d") s"
            PROM_TICKS+=("$d")
        fi
    fi
    sleep 1
done
[ ${#PROM_TICKS[@]} = "$TICKS" ] || die "Prometheus evaluated the group ${#PROM_TICKS[@]} times of $TICKS in time"
PROM_TICK_S=$(printf '%s\n' "${PROM_TICKS[@]}" | median)
for _ in $(seq 30); do
    FIRING=$(prom_query 'count(ALERTS{alertstate="firing"})')
    [ "$FIRING" = "$EXPECTED" ] && break
    sleep 1
done
FAILS=$(prom_group prometheus_rule_evaluation_failures_total)
echo "Prometheus: $FIRING alerts firing ($EXPECTED expected, as in owl), ${FAILS:-?} rule evaluation failures, resident memory $(calc %.0f "$(curl -s "$PROM/metrics" | awk '$1 == "process_resident_memory_bytes" { print $2 }') / 1048576") MB"
[ "$FIRING" = "$EXPECTED" ] || die "Prometheus fires $FIRING alerts, $EXPECTED expected"
[ "${FAILS:-1}" = 0 ] || die "Prometheus reports ${FAILS:-unknown} rule evaluation failures"
"$SRCDIR/bench/peers/prometheus" stop "$PROM_DIR"
for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG=()

R_TICK=$(calc %.2f "$PROM_TICK_S / $OWL_TICK_S")
OWL_TICK_MS=$(calc %.3f "$OWL_TICK_S * 1000")
PROM_TICK_MS=$(calc %.1f "$PROM_TICK_S * 1000")
echo "per tick, $N alarms: owl $OWL_TICK_MS ms, $PROM_VER $PROM_TICK_MS ms (medians of $TICKS): ratio $R_TICK (> 1: owl faster)"
if [ "$N" -ge 100000 ]; then
    GOAL=$(awk "BEGIN { exit !($OWL_TICK_S * 100000 / $N <= 1) }" && echo met || echo "NOT met")
    echo "goal (100,000 alarms in <= 1 s on one core): $GOAL"
else
    echo "goal (100,000 alarms in <= 1 s on one core): not judged at $N alarms (linear estimate for 100,000: $(calc %.3f "$OWL_TICK_S * 100000 / $N") s)"
fi

# ---- 2. latency: breach to webhook ----
# owl's samples run just after each 10 s boundary, Prometheus' 5 s later, side by side (one
# run after the other would not fit --quick's 3 minutes): each system is idle but for its
# 1 s ticks, scrapes and evaluations while the other's sample is in flight
echo
echo "== breach to webhook: $K alarms, Period 10, $SAMPLES samples"
AM_OK=1
if ! command -v prometheus-alertmanager >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! apt-cache policy prometheus-alertmanager 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        AM_OK=0
        AM_WHY="no Alertmanager: prometheus-alertmanager is not installable here"
    fi
fi
if [ "$AM_OK" = 1 ]; then
    $PY latency prom "$K" "$SAMPLES" "$T/lat-prom.txt" "$T/lat" >"$T/lat-prom.out" 2>"$T/lat-prom.err" &
    LAT_PID=$!
    BG+=("$LAT_PID")
    for _ in $(seq 100); do [ -s "$T/lat.target" ] && [ -s "$T/lat.hook" ] && break; sleep 0.1; done
    [ -s "$T/lat.hook" ] || die "the latency client did not start"
    bench_peer_start alertmanager "$T/am" GOMAXPROCS=1 ALERTMANAGER_WEBHOOK="http://127.0.0.1:$(cat "$T/lat.hook")/"
    AM_PORT=$PEER_PORT
    AM_VER=$("$SRCDIR/bench/peers/alertmanager" version "$T/am")
    mkdir -p "$T/prom-lat/rules"
    cat >"$T/prom-lat/rules/lat.yml" <<'YML'
groups:
  - name: latency
    rules:
      - alert: BenchLatency
        expr: max_over_time(bench_lat[10s]) > 100
YML
    bench_peer_start prometheus "$T/prom-lat" GOMAXPROCS=1 PROMETHEUS_EVAL_INTERVAL=$LAT_INTERVAL \
        PROMETHEUS_SCRAPE_INTERVAL=$LAT_INTERVAL PROMETHEUS_SCRAPE_TARGET="127.0.0.1:$(cat "$T/lat.target")" \
        PROMETHEUS_ALERTMANAGER="127.0.0.1:$AM_PORT"
    echo "http://127.0.0.1:$PEER_PORT" >"$T/lat.go"
fi
start_owl latency
$PY latency owl "$OWL" "$OWL_KEY" "$K" "$SAMPLES" "$T/lat-owl.txt" >"$T/lat-owl.out" ||
    { owl_alive; die "owl latency run failed"; }
stop_owl
sed 's/^/  /' "$T/lat-owl.txt"
OWL_P50=$(kv p50_ms "$T/lat-owl.out")
OWL_P99=$(kv p99_ms "$T/lat-owl.out")
echo "owl: put acknowledged to ALARM POST: p50 $OWL_P50 ms, p99 $OWL_P99 ms, max $(kv max_ms "$T/lat-owl.out") ms ($(kv samples "$T/lat-owl.out") samples)"
if [ "$AM_OK" = 1 ]; then
    wait "$LAT_PID" || { cat "$T/lat-prom.err" >&2; die "the Prometheus latency run failed"; }
    BG=()
    sed 's/^/  /' "$T/lat-prom.txt"
    PEER_LAT="$PROM_VER + $AM_VER"
    PROM_P50=$(kv p50_ms "$T/lat-prom.out")
    PROM_P99=$(kv p99_ms "$T/lat-prom.out")
    echo "$PEER_LAT (scrape and evaluation every $LAT_INTERVAL, group_wait 0s): shown to firing POST p50 $PROM_P50 ms, p99 $PROM_P99 ms, max $(kv max_ms "$T/lat-prom.out") ms; from the scrape that carried it p50 $(kv scrape_p50_ms "$T/lat-prom.out") ms, p99 $(kv scrape_p99_ms "$T/lat-prom.out") ms"
    "$SRCDIR/bench/peers/prometheus" stop "$T/prom-lat"
    "$SRCDIR/bench/peers/alertmanager" stop "$T/am"
    R_P50=$(calc %.2f "$PROM_P50 / $OWL_P50")
    R_P99=$(calc %.2f "$PROM_P99 / $OWL_P99")
else
    echo "peer: $AM_WHY"
    PEER_LAT="none ($AM_WHY)" PROM_P50=n/a PROM_P99=n/a R_P50=n/a R_P99=n/a
fi

# ---- results ----
result "alarms evaluated per tick ($N alarms, one core)" "$OWL_TICK_MS" "$PROM_VER" "$PROM_TICK_MS" "$R_TICK" "ms"
result "alarm breach to webhook p50 ($K alarms, Period 10)" "$OWL_P50" "$PEER_LAT" "$PROM_P50" "$R_P50" "ms"
result "alarm breach to webhook p99 ($K alarms, Period 10)" "$OWL_P99" "$PEER_LAT" "$PROM_P99" "$R_P99" "ms"
if [ "$RECORD" = 1 ]; then
    {
        printf '\n## alarms (%s)\n\n%s\n\n' "$([ "$QUICK" = 1 ] && echo quick || echo full)" "$(machine_line)"
        echo "| benchmark | owl | peer | peer figure | ratio (> 1: owl wins) | unit |"
        echo "|---|---|---|---|---|---|"
        echo "| alarms evaluated per tick, $N alarms (median of $TICKS) | $OWL_TICK_MS | $PROM_VER | $PROM_TICK_MS | $R_TICK | ms |"
        echo "| breach to webhook p50, $SAMPLES samples | $OWL_P50 | $PEER_LAT | $PROM_P50 | $R_P50 | ms |"
        echo "| breach to webhook p99, $SAMPLES samples | $OWL_P99 | $PEER_LAT | $PROM_P99 | $R_P99 | ms |"
        echo
        echo "Creating the $N alarms took $CREATE_S s ($CONNS keep-alive connections, AWS JSON 1.0)."
    } >>"$(results_file)"
fi

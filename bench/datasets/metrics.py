#!/usr/bin/env python3
"""metrics.py — builds metric time series with a realistic cardinality for the metrics
benchmarks: --series S series (default 1,000: 50 metric names of a typical HTTP service and its
runtime, for each of 20 services), each in --combos C dimension combinations (default 10: five
instances in two zones), so S x C time series (10,000 by default), each with --points P samples
every --interval seconds from --start.

Every time series carries the labels service, instance ("10.0.<svc>.<n>:8080"), zone
("az-a" / "az-b") and env="prod". Values follow the metric's kind: counters (names ending in
_total or _count or _sum) start at a seeded value and only grow, by a seeded per-series rate
with noise; gauges do a bounded random walk around a per-series level. All times are whole
milliseconds.

Formats (--format):
  prom    Prometheus text exposition lines with a timestamp, `name{labels} value ts_ms`, one
          sample a line, a scrape (every series at one time) after another; VictoriaMetrics
          imports them at /api/v1/import/prometheus.
  vmjson  VictoriaMetrics' JSON line import format (/api/v1/import): one line per time series,
          {"metric": {"__name__": ..., labels}, "values": [...], "timestamps": [...]}.

Deterministic for a given --seed and --start (nothing in the output depends on the clock
unless --start now). The summary goes to stdout as key=value lines: series, combos,
timeseries, points, samples, start_ms, end_ms, bytes.

Usage: metrics.py --out FILE [--format prom|vmjson] [--series S] [--combos C] [--points P]
                  [--interval SECONDS] [--start RFC3339|EPOCH_MS|now] [--seed N]
"""
import argparse
import calendar
import json
import random
import sys
import time

# (name, kind, typical level); kind c = counter, g = gauge
METRICS = [
    ("http_requests_total", "c", 50.0), ("http_request_errors_total", "c", 0.5),
    ("http_request_duration_seconds_sum", "c", 4.0), ("http_request_duration_seconds_count", "c", 50.0),
    ("http_request_size_bytes_sum", "c", 40000.0), ("http_response_size_bytes_sum", "c", 250000.0),
    ("http_requests_in_flight", "g", 8.0), ("http_server_active_connections", "g", 60.0),
    ("grpc_server_handled_total", "c", 30.0), ("grpc_server_msg_received_total", "c", 30.0),
    ("grpc_server_msg_sent_total", "c", 32.0), ("grpc_server_handling_seconds_sum", "c", 1.5),
    ("grpc_client_handled_total", "c", 45.0), ("grpc_client_handling_seconds_sum", "c", 2.5),
    ("db_client_connections_usage", "g", 12.0), ("db_client_connections_max", "g", 50.0),
    ("db_client_operation_duration_seconds_sum", "c", 0.8), ("db_client_operations_total", "c", 80.0),
    ("cache_hits_total", "c", 400.0), ("cache_misses_total", "c", 35.0),
    ("cache_evictions_total", "c", 3.0), ("cache_items", "g", 90000.0),
    ("queue_messages_published_total", "c", 20.0), ("queue_messages_consumed_total", "c", 20.0),
    ("queue_depth", "g", 150.0), ("queue_consumer_lag_seconds", "g", 2.0),
    ("process_cpu_seconds_total", "c", 0.35), ("process_resident_memory_bytes", "g", 420e6),
    ("process_virtual_memory_bytes", "g", 1.9e9), ("process_open_fds", "g", 180.0),
    ("process_max_fds", "g", 65536.0), ("process_start_time_seconds", "g", 1.7e9),
    ("go_goroutines", "g", 240.0), ("go_threads", "g", 18.0),
    ("go_memstats_alloc_bytes", "g", 120e6), ("go_memstats_heap_inuse_bytes", "g", 150e6),
    ("go_memstats_alloc_bytes_total", "c", 30e6), ("go_gc_duration_seconds_sum", "c", 0.01),
    ("go_gc_duration_seconds_count", "c", 0.8), ("jvm_memory_used_bytes", "g", 700e6),
    ("jvm_threads_live", "g", 95.0), ("jvm_gc_pause_seconds_sum", "c", 0.02),
    ("node_network_receive_bytes_total", "c", 2.5e6), ("node_network_transmit_bytes_total", "c", 3.1e6),
    ("node_disk_read_bytes_total", "c", 4e5), ("node_disk_written_bytes_total", "c", 1.2e6),
    ("node_filesystem_avail_bytes", "g", 60e9), ("node_load1", "g", 1.2),
    ("up", "g", 1.0), ("scrape_duration_seconds", "g", 0.02),
]
SERVICES = ["frontend", "checkout", "cart", "catalog", "currency", "payment", "shipping",
            "email", "recommendation", "ad", "auth", "user", "order", "inventory", "search",
            "gateway", "notification", "pricing", "review", "config"]
ZONES = ["az-a", "az-b"]


def die(msg):
    sys.exit("metrics.py: " + msg)


def parse_start(s):
    if s == "now":
        return int(time.time() * 1000)
    if s.isdigit():
        return int(s)
    try:
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) * 1000
    except ValueError:
        die("--start takes RFC 3339 (YYYY-MM-DDTHH:MM:SSZ), epoch ms or now")


def series_list(nseries, ncombos):
    """[(name, kind, level, labels)] for nseries x ncombos time series, service-major."""
    out = []
    for i in range(nseries):
        si, mi = divmod(i, len(METRICS))
        svc = SERVICES[si] if si < len(SERVICES) else "svc%d" % si
        name, kind, level = METRICS[mi]
        for c in range(ncombos):
            inst, zone = divmod(c, len(ZONES))
            labels = [("service", svc), ("instance", "10.0.%d.%d:8080" % (si, inst + 10)),
                      ("zone", ZONES[zone]), ("env", "prod")]
            out.append((name, kind, level, labels))
    return out


def fmt(v):
    return repr(round(v, 6)) if v != int(v) else str(int(v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--format", choices=("prom", "vmjson"), default="prom")
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--combos", type=int, default=10)
    ap.add_argument("--points", type=int, default=60)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--start", default="2026-01-01T00:00:00Z")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.series < 1 or a.combos < 1 or a.points < 1 or a.interval <= 0:
        die("--series, --combos, --points and --interval must be positive")
    rng = random.Random(a.seed)
    start = parse_start(a.start)
    step = int(a.interval * 1000)
    ts = [start + k * step for k in range(a.points)]
    specs = series_list(a.series, a.combos)
    # per time series: current value, and a rate (counter) or level (gauge)
    state = []
    for name, kind, level, _ in specs:
        base = level * rng.uniform(0.3, 3.0)
        if name == "up":
            state.append([1.0, 1.0])
        elif kind == "c":
            state.append([round(base * rng.uniform(100, 10000)), base])
        else:
            state.append([base, base])

    def step_value(k, st):
        name, kind, _, _ = specs[k]
        if name == "up":
            return 1.0
        if kind == "c":
            inc = st[1] * a.interval * rng.uniform(0.7, 1.3)
            st[0] += round(inc) if st[1] >= 1 else inc
        else:
            st[0] = min(max(st[0] + st[1] * rng.gauss(0, 0.05), st[1] * 0.2), st[1] * 5)
        return st[0]

    nbytes = 0
    with open(a.out, "w", encoding="utf-8") as out:
        if a.format == "prom":
            heads = [name + "{" + ",".join('%s="%s"' % kv for kv in labels) + "} "
                     for name, _, _, labels in specs]
            for t in ts:
                lines = [heads[k] + fmt(step_value(k, state[k])) + " %d\n" % t
                         for k in range(len(specs))]
                blob = "".join(lines)
                out.write(blob)
                nbytes += len(blob)
        else:
            values = [[] for _ in specs]
            for _ in ts:
                for k in range(len(specs)):
                    values[k].append(step_value(k, state[k]))
            for k, (name, _, _, labels) in enumerate(specs):
                metric = {"__name__": name}
                metric.update(labels)
                line = json.dumps({"metric": metric, "values": [round(v, 6) for v in values[k]],
                                   "timestamps": ts}, separators=(",", ":")) + "\n"
                out.write(line)
                nbytes += len(line)
    print("series=%d" % a.series)
    print("combos=%d" % a.combos)
    print("timeseries=%d" % len(specs))
    print("points=%d" % a.points)
    print("samples=%d" % (len(specs) * a.points))
    print("start_ms=%d" % ts[0])
    print("end_ms=%d" % ts[-1])
    print("bytes=%d" % nbytes)


if __name__ == "__main__":
    main()

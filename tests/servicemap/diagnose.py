"""diagnose.py — the diagnosis-quality harness (docs/service-map.md "Diagnosis quality"): faultgen.py's
scenarios posted to a running owld, then GET /api/v1/rootcause and /api/v1/bottlenecks
asked about each fault window with its baseline window given, and scored.

Scores (issue 15, "Diagnosis quality"): root cause names the injected service first
(faults[0] for an error-rate fault; latency[0] for a latency shift or a slow dependency,
whose service is the one making the call) in >= 90% of scenarios and within its first 3
rows in >= 98%; bottlenecks names the slowed span (the operation, or the client span of
the slowed call) first in >= 90% of the latency and dependency scenarios, asked with
sort=added: its "overall" rows ranked by the critical-path time the window spent in a row
beyond its baseline's mean (addedNanos = selfNanos - traces x baselineMeanSelfNanos; the
default order, by selfNanos, answers "where is the time spent", not "what got slower", and
is reported too).
The same scores of reference.py's reading of the same spans are printed beside owld's.
Every SERVICEMAP_EVERY-th scenario's map (filter=service()) is compared with the edges and
calls reference.py counts; the first scenario's traces are read back whole.

  diagnose.py BASE_URL BEARER [--seed S] [--scenarios N] [--budget SECONDS]
              [--readback-only]"""

import argparse
import sys
import time

import faultgen
import reference
from owlapi import Owl
from owltest import check, failures, note

THRESHOLDS = (90.0, 98.0, 90.0)  # root cause top 1, top 3, bottleneck top 1 (%)
MIN_SCENARIOS = 200
SERVICEMAP_EVERY = 25


def ms(ns):
    return ns // faultgen.MS


def post_scenario(owl, sc):
    bad = []
    for traces in (sc.baseline, sc.faulty):
        for body in faultgen.otlp_bodies(sc.services, traces):
            ok, why = owl.post_traces(body)
            if not ok:
                bad.append(why)
    return bad


def readback(owl, sc):
    """Reads back a normal trace, one whose fault started in the injected operation and
    one with a natural 4xx (when the scenario has them): spans, parents, kinds, statuses,
    exception types, services."""
    picks = {}
    for spans in sc.baseline + sc.faulty:
        o = reference.fault_origin(spans)
        if o is not None and o["exc"] and "faulty" not in picks:
            picks["faulty"] = spans
        elif all(s["status"] == "ok" for s in spans) and len(spans) > 3 and "normal" not in picks:
            picks["normal"] = spans
        elif spans[0]["status"] in ("error", "throttle") and "4xx" not in picks:
            picks["4xx"] = spans
    for what, spans in sorted(picks.items()):
        st, doc = owl.get("/api/v1/traces/" + spans[0]["trace"])
        want = sorted((s["id"], s["parent"], s["service"], s["name"], s["kind"], s["status"],
                       s["exc"][0] if s["exc"] else None) for s in spans)
        got = sorted((s.get("spanId"), s.get("parentSpanId"), s.get("service"), s.get("name"),
                      s.get("kind"), s.get("status"),
                      next((e.get("type") for e in s.get("events", [])
                            if e.get("name") == "exception"), None))
                     for s in (doc or {}).get("spans", []))
        check("scenario %d: a %s trace of %d spans reads back whole (ids, parents, services, "
              "names, kinds, statuses, exception types)" % (sc.index, what, len(spans)),
              st == 200 and want == got,
              (st, len(got), [w for w in want if w not in got][:3],
               [g for g in got if g not in want][:3]))


def check_servicemap(owl, sc):
    want = reference.edges(sc.faulty)
    w0, w1 = sc.windows[1]
    st, doc = owl.get("/api/v1/servicemap", start=ms(w0), end=ms(w1), filter="service()")
    got = {(e["source"], e["target"]): e.get("requests") for e in (doc or {}).get("edges", [])}
    check("scenario %d: servicemap filter=service() of the fault window: the %d edges and "
          "their calls" % (sc.index, len(want)), st == 200 and got == want,
          (st, sorted((k, want.get(k), got.get(k)) for k in set(want) | set(got)
                      if want.get(k) != got.get(k))[:6]))


def rows(doc, key):
    return [(r.get("service"), r.get("operation")) for r in (doc or {}).get(key, [])]


def ask(owl, sc, limit):
    (b0, b1), (w0, w1) = sc.windows
    p = dict(start=ms(w0), end=ms(w1), baseline_start=ms(b0), baseline_end=ms(b1))
    st1, rc = owl.get("/api/v1/rootcause", **p)
    st2, bn = owl.get("/api/v1/bottlenecks", limit=limit, **p)
    st3, ba = owl.get("/api/v1/bottlenecks", limit=limit, sort="added", **p)
    if st1 != 200 or st2 != 200 or st3 != 200 or rc is None or bn is None or ba is None:
        return None, "rootcause HTTP %d, bottlenecks HTTP %d / %d: %s" % (st1, st2, st3,
                                                                          str(rc)[:200])
    return {"faults": rows(rc, "faults"), "latency": rows(rc, "latency"),
            "overall": rows(bn, "overall"), "by_change": rows(ba, "overall"),
            "traces": (rc.get("traces"), rc.get("baselineTraces"))}, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("key")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--scenarios", type=int, default=MIN_SCENARIOS)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the whole run")
    ap.add_argument("--limit", type=int, default=200, help="bottleneck rows asked for")
    ap.add_argument("--readback-only", action="store_true")
    a = ap.parse_args()
    owl = Owl(a.base, a.key)
    t_start = time.monotonic()
    base = faultgen.base_time_ns()
    owld = reference.Tally("latency", "by_change")
    owld_overall = reference.Tally("latency", "overall")
    ref = reference.Tally()
    # scenario i's windows depend on the start time and i only: a run of another seed in the
    # same minute would share them and mix its traces with these
    first = base - faultgen.SCENARIO_STRIDE_NS * (a.scenarios - 1) - 2 * faultgen.WINDOW_NS
    st, doc = owl.get("/api/v1/traces", start=ms(first), end=ms(base), limit=1)
    if not check("the scenarios' windows hold no trace yet", st == 200 and not doc["traces"],
                 (st, str(doc)[:200])):
        return 1
    done = unanswered = 0
    for i in range(a.scenarios):
        if time.monotonic() - t_start > a.budget:
            break
        sc = faultgen.make_scenario(a.seed, i, base)
        bad = post_scenario(owl, sc)
        if bad:
            check("scenario %d: posted to /v1/traces, no span refused" % i, False, bad[:2])
            continue
        if i == 0:
            readback(owl, sc)
        if a.readback_only:
            done += 1
            continue
        if i % SERVICEMAP_EVERY == 0:
            check_servicemap(owl, sc)
        res, why = ask(owl, sc, a.limit)
        if res is None:
            check("scenario %d: rootcause and bottlenecks answer" % i, False, why)
            unanswered += 1
            if unanswered == 3:
                break  # three in a row: the endpoints are missing or broken
            continue
        unanswered = 0
        miss = owld.score(sc.expected, res)
        owld_overall.score(sc.expected, res)
        rmiss = ref.score(sc.expected, reference.diagnose(sc.baseline, sc.faulty))
        if miss:
            note("scenario %d (%s): %s%s" % (i, reference.describe(sc), miss,
                                              " (the reference misses too)" if rmiss else ""))
        done += 1
    elapsed = time.monotonic() - t_start
    note("seed %d: %d of %d scenarios in %.0f s" % (a.seed, done, a.scenarios, elapsed))
    check("all %d scenarios scored within %.0f s" % (a.scenarios, a.budget), done == a.scenarios,
          "%d done" % done)
    if a.readback_only:
        return 1 if failures() else 0
    note(owld.summary("owld (bottlenecks: overall, sort=added)"))
    note(owld_overall.summary("owld (bottlenecks: overall as ordered)"))
    note(ref.summary("reference.py"))
    r1, r3, b1 = owld.rates()
    check("root cause names the injected service first in >= %.0f%% (%.1f%%)"
          % (THRESHOLDS[0], r1), r1 >= THRESHOLDS[0])
    check("root cause names it within the top 3 in >= %.0f%% (%.1f%%)" % (THRESHOLDS[1], r3),
          r3 >= THRESHOLDS[1])
    check("bottlenecks names the slowed operation first in >= %.0f%% (%.1f%%)"
          % (THRESHOLDS[2], b1), b1 >= THRESHOLDS[2])
    check("at least %d scenarios scored" % MIN_SCENARIOS, owld.n >= MIN_SCENARIOS,
          "%d" % owld.n)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())

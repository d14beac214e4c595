"""faultgen.py — a fault-injection generator for owl's service map diagnosis
(docs/service-map.md "Diagnosis quality"): from a seed, scenarios each made of a random topology of
5-30 services, a baseline window of normal traffic and a fault window of equal length with
one injected fault (an error rate, a latency shift or a slow dependency) in one operation;
the traces as OTLP/HTTP JSON bodies and the expected answer.

Invariants: scenario i of a seed is the same whatever else is generated (its own random
stream); the two windows of a scenario are 10 minutes each and no trace crosses a window's
edge; every trace is whole (each parent present, one root) and every span ends after it
starts. Standard library only.

    faultgen.py [--seed S] [--scenarios N] [--out DIR]   writes DIR/scenario-NNN.json
    faultgen.py --self-check [--seed S] [--scenarios N]  checks the output and the reference

A span here is a dict: trace, id, parent (None for the root), service, name, kind
('server' | 'client'), start, end (Unix ns, as the service's clock recorded them), status
('ok' | 'error' | 'throttle' | 'fault'), http (status code or None), message (status
message or None), exc ((type, message) of an exception event, or None), attrs (span
attributes), and '_'-prefixed members for the generator's own bookkeeping, never sent."""

import argparse
import json
import math
import os
import random
import sys
import time

MS = 1000000
S = 1000 * MS
WINDOW_NS = 10 * 60 * S
SCENARIO_STRIDE_NS = 22 * 60 * S  # two windows and a two-minute gap
TRACE_MARGIN_NS = 15 * S          # a trace starts at least this long before its window ends

# ---- the model's parameters (docs/service-map.md "Diagnosis quality" "Model") ----
N_SERVICES = (5, 30)
N_OPS = (1, 4)
N_CALLS_WEIGHTS = (0.30, 0.30, 0.20, 0.12, 0.08)  # P(an operation calls 0..4 operations)
MAX_SUBTREE_SPANS = 40      # expected spans below one operation, so traces stay bounded
TRACES_PER_WINDOW = (120, 300)
OP_MEDIAN_MS = (1.0, 50.0)  # own work's median, log-uniform
OP_SIGMA = (0.15, 0.5)      # its log-normal sigma
DB_MEDIAN_MS = (0.5, 20.0)
EXT_MEDIAN_MS = (10.0, 80.0)
DEP_SIGMA = (0.2, 0.4)
GAP_MEDIAN_MS = 0.3         # network, each way (log-normal, sigma 0.5)
OUTLIER_P = (0.002, 0.01)   # natural slow outliers: own work x 2..4
OUTLIER_FACTOR = (2.0, 4.0)
NATURAL_FAULT = (0.001, 0.005)  # on about half of the operations and dependencies
ENTRY_4XX = (0.0, 0.01)     # entry operations answer 400 / 404 / 429
SKEWED_SHARE = 0.3          # services whose clock is off by up to +-1 ms
MIN_REACH = 0.25            # a fault's operation: in (error) or on the critical path of
                            # (latency, dependency) at least this share of baseline traces
ERROR_SHARE = (0.10, 0.50)
SHIFT_FACTOR = (3.0, 10.0)  # latency and dependency faults: + this x the median ...
SHIFT_MIN_MS = 20.0         # ... and at least this much
FAULT_KINDS = ("error", "latency", "dependency")

SERVICE_NAMES = (
    "frontend", "gateway", "checkout", "cart", "catalog", "currency", "payment", "shipping",
    "email", "recommendation", "ads", "auth", "users", "inventory", "orders", "pricing",
    "search", "reviews", "notification", "profile", "session", "billing", "fraud", "quote",
    "tax", "loyalty", "media", "geo", "config", "ledger", "warehouse", "coupons")
RESOURCES = ("items", "orders", "users", "prices", "stock", "quotes", "sessions", "carts",
             "reviews", "charges", "rates", "labels", "tokens", "profiles", "offers")
DB_SYSTEMS = (("postgresql", "SELECT"), ("mysql", "SELECT"), ("redis", "GET"),
              ("mongodb", "find"))
# host, method, path, peer.service (None: the client names only the host)
EXTERNALS = (("api.stripe.example", "POST", "/v1/charges", "stripe"),
             ("maps.example.net", "GET", "/geocode", None),
             ("smtp-relay.example.org", "POST", "/send", None),
             ("api.fx-rates.example", "GET", "/latest", "fx-rates"),
             ("auth.idp.example", "POST", "/oauth/token", "idp"),
             ("storage.example-cloud.net", "PUT", "/bucket/{key}", None))
# per language: exceptions of natural faults, the exception an injected error throws
EXCEPTIONS = {
    "java": (("java.net.SocketTimeoutException", "Read timed out"),
             ("java.lang.NullPointerException", "Cannot invoke \"Object.toString()\""),
             ("java.lang.IllegalStateException", "%s store unavailable: pool exhausted")),
    "python": (("TimeoutError", "timed out"), ("KeyError", "'id'"),
               ("RuntimeError", "%s backend rejected the request")),
    "go": (("*net.OpError", "read tcp: i/o timeout"), ("runtime.Error", "index out of range"),
           ("*errors.errorString", "%s: upstream store unavailable")),
    "nodejs": (("Error", "socket hang up"), ("TypeError", "Cannot read properties of undefined"),
               ("Error", "%s: service unavailable")),
}
DB_EXCEPTIONS = {"postgresql": ("psycopg.OperationalError", "server closed the connection"),
                 "mysql": ("pymysql.err.OperationalError", "Lost connection to MySQL server"),
                 "redis": ("redis.exceptions.ConnectionError", "Connection reset by peer"),
                 "mongodb": ("pymongo.errors.NetworkTimeout", "timed out")}


def log_uniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def lognormal_ns(rng, median_ms, sigma):
    return int(median_ms * MS * math.exp(rng.gauss(0.0, sigma)))


# ---- topology ----

class Service:
    def __init__(self, name):
        self.name = name
        self.ops = []
        self.lang = "java"
        self.skew_ns = 0
        self.db = None  # (system, query verb); db.name is the service's name
        self.entry_weight = 0.0


class Op:
    """An operation: its own work (log-normal), then stages of calls (the calls of a stage
    run in parallel), its natural faults and, at an entry, natural 4xx answers."""

    def __init__(self, svc, method, route):
        self.svc = svc
        self.method = method
        self.route = route
        self.name = "%s %s" % (method, route)
        self.median_ms = self.sigma = self.pre_frac = 0.0
        self.outlier_p = self.nat_fault = self.nat_4xx = 0.0
        self.weight = 0.0  # share of the traffic entering here (entry services' operations)
        self.calls = []   # every call, in stage order
        self.stages = []  # lists of calls
        self.parallel = False
        self.size = 1.0   # expected spans of one execution, its own server span included
        self.called = False


class Call:
    """A call an operation makes: 'http' to another service's operation (target), 'db' or
    'external' to a virtual node (dep: the client span's name, attributes, latency)."""

    def __init__(self, kind, prob=1.0, target=None, dep=None):
        self.kind = kind
        self.prob = prob
        self.target = target
        self.dep = dep


def _new_op(rng, svc, resource):
    method = rng.choice(("GET", "GET", "GET", "POST", "PUT"))
    route = "/api/%s/%s" % (svc.name, resource)
    if method != "POST" and rng.random() < 0.5:
        route += "/{id}"
    op = Op(svc, method, route)
    op.median_ms = log_uniform(rng, *OP_MEDIAN_MS)
    op.sigma = rng.uniform(*OP_SIGMA)
    op.pre_frac = rng.uniform(0.2, 0.8)
    op.outlier_p = rng.uniform(*OUTLIER_P)
    op.nat_fault = rng.uniform(*NATURAL_FAULT) if rng.random() < 0.5 else 0.0
    return op


def _db_call(rng, svc):
    system, verb = svc.db
    table = rng.choice(RESOURCES)
    attrs = {"db.system": system, "db.name": svc.name, "server.address": svc.name + "-db"}
    if system in ("postgresql", "mysql"):
        attrs["db.statement"] = "SELECT * FROM %s WHERE id = ?" % table
    return Call("db", dep={
        "name": "%s %s" % (verb, table), "attrs": attrs,
        "median_ms": log_uniform(rng, *DB_MEDIAN_MS), "sigma": rng.uniform(*DEP_SIGMA),
        "nat_fault": rng.uniform(*NATURAL_FAULT) if rng.random() < 0.5 else 0.0,
        "exc": DB_EXCEPTIONS[system], "http": None})


def _ext_call(rng):
    host, method, path, peer = rng.choice(EXTERNALS)
    attrs = {"http.request.method": method, "server.address": host,
             "url.full": "https://%s%s" % (host, path)}
    if peer:
        attrs["peer.service"] = peer
    return Call("external", dep={
        "name": "%s %s" % (method, path), "attrs": attrs,
        "median_ms": log_uniform(rng, *EXT_MEDIAN_MS), "sigma": rng.uniform(*DEP_SIGMA),
        "nat_fault": rng.uniform(*NATURAL_FAULT) if rng.random() < 0.5 else 0.0,
        "exc": ("java.net.SocketTimeoutException", "connect timed out"), "http": 503})


def _pick_callee(rng, op, later, taken):
    """An operation of a later service op may call within the size bound, uncalled ones
    preferred; (callee, prob) or None."""
    cands = [o for s in later for o in s.ops if o not in taken]
    if not cands:
        return None
    rng.shuffle(cands)
    uncalled = [o for o in cands if not o.called]
    if uncalled and rng.random() < 0.7:
        cands = uncalled + [o for o in cands if o.called]
    for o in cands:
        prob = 1.0 if rng.random() < 0.6 else rng.uniform(0.3, 0.95)
        if op.size + prob * (1 + o.size) <= MAX_SUBTREE_SPANS:
            return o, prob
    return None


def _add_http(op, callee, prob):
    op.calls.append(Call("http", prob, target=callee))
    op.size += prob * (1 + callee.size)
    callee.called = True


def _stage(op):
    """Orders op's calls into stages: the database first, the service calls one by one or
    all at once, an external call last."""
    http = [c for c in op.calls if c.kind == "http"]
    first = [c for c in op.calls if c.kind == "db"]
    last = [c for c in op.calls if c.kind == "external"]
    op.stages = [[c] for c in first]
    op.stages += [http] if op.parallel else [[c] for c in http]
    op.stages += [[c] for c in last]
    op.calls = [c for st in op.stages for c in st]


def make_topology(rng):
    """A random topology: services, their operations and calls (a DAG: service i calls only
    services after it), the entry services first with traffic weights on their operations."""
    n = rng.randint(*N_SERVICES)
    services = [Service(name) for name in rng.sample(SERVICE_NAMES, n)]
    n_entry = 1 if n < 8 else rng.randint(1, 3)
    for s in services:
        s.lang = rng.choice(sorted(EXCEPTIONS))
        if rng.random() < SKEWED_SHARE:
            s.skew_ns = int(rng.uniform(-1.0, 1.0) * MS)
        if rng.random() < 0.5:
            s.db = rng.choice(DB_SYSTEMS)
        s.ops = [_new_op(rng, s, r) for r in rng.sample(RESOURCES, rng.randint(*N_OPS))]
    for s in services[:n_entry]:
        s.entry_weight = rng.uniform(0.5, 1.0)
    # bottom-up, so a callee's size is known when a caller picks it
    for i in reversed(range(n)):
        s = services[i]
        for op in s.ops:
            if s.db and rng.random() < 0.6:
                op.calls.append(_db_call(rng, s))
                op.size += 1
            if rng.random() < 0.12:
                op.calls.append(_ext_call(rng))
                op.size += 1
            k = rng.choices(range(5), N_CALLS_WEIGHTS)[0] if i < n - 1 else 0
            taken = set()
            for _ in range(k):
                got = _pick_callee(rng, op, services[i + 1:], taken)
                if got:
                    taken.add(got[0])
                    _add_http(op, *got)
    # every service is called by an earlier one, else it takes a little traffic of its own
    for j in range(n_entry, n):
        if any(o.called for o in services[j].ops):
            continue
        callers = [o for s in services[:j] for o in s.ops
                   if sum(c.kind == "http" for c in o.calls) < 4]
        rng.shuffle(callers)
        callee = rng.choice(services[j].ops)
        for o in callers:
            if o.size + 1 + callee.size <= MAX_SUBTREE_SPANS:
                _add_http(o, callee, 1.0)
                _resize(services)
                break
        else:
            services[j].entry_weight = rng.uniform(0.05, 0.2)
    for s in services:
        for op in s.ops:
            op.parallel = sum(c.kind == "http" for c in op.calls) >= 2 and rng.random() < 0.35
            _stage(op)
            if s.entry_weight:
                op.weight = s.entry_weight * rng.uniform(0.2, 1.0)
                op.nat_4xx = rng.uniform(*ENTRY_4XX)
    return services


def _resize(services):
    """Recomputes the expected sizes after a call was added above some operations."""
    for s in reversed(services):
        for op in s.ops:
            op.size = 1.0 + sum(c.prob * (1 + c.target.size) if c.kind == "http" else 1.0
                                for c in op.calls)


# ---- traffic ----

class Fault:
    """The injected fault: kind, op (the operation), call (dependency faults: the slowed
    call), share (error faults), delay_ns (latency and dependency faults)."""

    def __init__(self, kind, op, call=None, share=0.0, delay_ns=0):
        self.kind = kind
        self.op = op
        self.call = call
        self.share = share
        self.delay_ns = delay_ns


class TraceBuilder:
    def __init__(self, rng, fault, salt):
        self.rng = rng
        self.fault = fault
        self.trace = "%032x" % (rng.getrandbits(128) ^ salt)
        self.spans = []

    def span_id(self):
        return "%016x" % (self.rng.getrandbits(64) | 1)

    def emit(self, svc, sid, parent, name, kind, start, end, status, http, message, exc,
             attrs, ref):
        self.spans.append({
            "trace": self.trace, "id": sid, "parent": parent, "service": svc.name,
            "name": name, "kind": kind, "start": start + svc.skew_ns,
            "end": end + svc.skew_ns, "status": status, "http": http, "message": message,
            "exc": exc, "attrs": attrs, "_ref": ref})


def _gap(rng):
    return lognormal_ns(rng, GAP_MEDIAN_MS, 0.5)


def run_op(tb, op, t0, parent):
    """Runs op from true time t0 as a child of span parent; returns (end, failed)."""
    rng, f = tb.rng, tb.fault
    sid = tb.span_id()
    injected = f is not None and f.kind == "error" and f.op is op and rng.random() < f.share
    fail = injected or rng.random() < op.nat_fault
    work = lognormal_ns(rng, op.median_ms, op.sigma)
    if rng.random() < op.outlier_p:
        work = int(work * rng.uniform(*OUTLIER_FACTOR))
    if f is not None and f.kind == "latency" and f.op is op:
        work += int(f.delay_ns * math.exp(rng.gauss(0.0, 0.1)))
    pre = int(work * op.pre_frac)
    post = work - pre
    t = t0 + pre
    stages = op.stages[:rng.randint(0, len(op.stages))] if fail else op.stages
    upstream = None
    for stage in stages:
        ends = []
        for j, call in enumerate(stage):
            if call.prob < 1.0 and rng.random() >= call.prob:
                continue
            start = t + j * int(rng.uniform(0.02, 0.2) * MS)
            end, failed = run_call(tb, op, call, start, sid)
            ends.append(end)
            if failed and upstream is None:
                upstream = call
        if ends:
            t = max(ends)
        if upstream is not None:
            break
    if fail or upstream is not None:
        post = int(post * rng.uniform(0.1, 0.3))  # failing is quick
    end = t + post
    attrs = {"http.request.method": op.method, "http.route": op.route,
             "url.path": op.route.replace("{id}", str(rng.randint(1, 99999)))}
    exc = message = None
    if upstream is not None:  # failed before its own failure point: the callee's fault
        message = "upstream %s failed" % _callee_name(upstream)
    elif fail:
        types = EXCEPTIONS[op.svc.lang]
        exc = types[2] if injected else types[rng.randint(0, 1)]
        exc = (exc[0], exc[1] % op.route.split("/")[3] if "%s" in exc[1] else exc[1])
        message = exc[1]
    status, http = ("fault", 500) if fail or upstream is not None else ("ok", 200)
    attrs["http.response.status_code"] = http
    tb.emit(op.svc, sid, parent, op.name, "server", t0, end, status, http, message, exc,
            attrs, op)
    return end, status == "fault"


def _callee_name(call):
    return call.target.svc.name if call.kind == "http" else call.dep["attrs"]["server.address"]


def run_call(tb, op, call, start, parent):
    """One call of op from true time start: the client span (and the callee's spans);
    returns (end, failed)."""
    rng, f = tb.rng, tb.fault
    sid = tb.span_id()
    exc = message = None
    if call.kind == "http":
        callee = call.target
        end_callee, failed = run_op(tb, callee, start + _gap(rng), sid)
        end = end_callee + _gap(rng)
        attrs = {"http.request.method": callee.method, "server.address": callee.svc.name,
                 "server.port": 8080,
                 "url.full": "http://%s:8080%s" % (callee.svc.name, callee.route)}
        name = callee.name
        http = 500 if failed else 200
        if failed:
            message = "HTTP 500 from %s" % callee.svc.name
    else:
        d = call.dep
        dur = lognormal_ns(rng, d["median_ms"], d["sigma"])
        if f is not None and f.kind == "dependency" and f.call is call:
            dur += int(f.delay_ns * math.exp(rng.gauss(0.0, 0.1)))
        failed = rng.random() < d["nat_fault"]
        end = start + 2 * _gap(rng) + dur
        attrs = dict(d["attrs"])
        name = d["name"]
        http = None
        if call.kind == "external":
            http = d["http"] if failed else 200
        if failed:
            exc = d["exc"]
            message = exc[1]
    if http is not None:
        attrs["http.response.status_code"] = http
    tb.emit(op.svc, sid, parent, name, "client", start, end, "fault" if failed else "ok",
            http, message, exc, attrs, call)
    return end, failed


def run_trace(rng, entries, weights, t0, fault, salt):
    """One trace entering at a weighted entry operation at true time t0; its spans."""
    tb = TraceBuilder(rng, fault, salt)
    op = rng.choices(entries, weights)[0]
    if rng.random() < op.nat_4xx:
        code = rng.choice((400, 404, 404, 429))
        end = t0 + lognormal_ns(rng, 0.5, 0.3)
        tb.emit(op.svc, tb.span_id(), None, op.name, "server", t0, end,
                "throttle" if code == 429 else "error", code, None, None,
                {"http.request.method": op.method, "http.route": op.route,
                 "http.response.status_code": code}, op)
    else:
        run_op(tb, op, t0, None)
    return tb.spans


def run_window(rng, services, w0, n, fault):
    """n traces starting in [w0 + 1 s, w0 + WINDOW_NS - TRACE_MARGIN_NS), in start order;
    their ids salted with w0, so runs at other times give other ids."""
    entries = [o for s in services for o in s.ops if o.weight]
    weights = [o.weight for o in entries]
    salt = random.Random(w0).getrandbits(128)
    starts = sorted(w0 + S + rng.randrange(WINDOW_NS - TRACE_MARGIN_NS - S) for _ in range(n))
    return [run_trace(rng, entries, weights, t, fault, salt) for t in starts]


# ---- scenarios ----

def _choose_fault(rng, services, baseline, kinds):
    """The fault of the first kind of kinds that has an eligible target (MIN_REACH), its
    operation (and call) drawn at random; None when none has."""
    import reference  # the critical path, to know what users wait on
    n = len(baseline)
    present, critical = {}, {}
    for spans in baseline:
        on = reference.critical_path(spans)
        seen_p, seen_c = set(), set()
        for sp in spans:
            seen_p.add(id(sp["_ref"]))
            if sp["id"] in on:
                seen_c.add(id(sp["_ref"]))
        for k in seen_p:
            present[k] = present.get(k, 0) + 1
        for k in seen_c:
            critical[k] = critical.get(k, 0) + 1
    ops = [o for s in services for o in s.ops]
    for kind in kinds:
        if kind == "error":
            cands = [(o, None) for o in ops if present.get(id(o), 0) >= MIN_REACH * n]
        elif kind == "latency":
            cands = [(o, None) for o in ops if critical.get(id(o), 0) >= MIN_REACH * n]
        else:
            cands = [(o, c) for o in ops for c in o.calls
                     if c.kind != "http" and critical.get(id(c), 0) >= MIN_REACH * n]
        if not cands:
            continue
        op, call = rng.choice(cands)
        if kind == "error":
            return Fault(kind, op, share=rng.uniform(*ERROR_SHARE))
        median = op.median_ms if call is None else call.dep["median_ms"]
        delay = max(SHIFT_MIN_MS, rng.uniform(*SHIFT_FACTOR) * median)
        return Fault(kind, op, call, delay_ns=int(delay * MS))
    return None


class Scenario:
    """One scenario: services, windows ((start, end) ns of the baseline and the fault
    window), baseline and faulty (lists of traces, each a list of spans), fault, expected."""


def make_scenario(seed, index, base_ns):
    """Scenario index of seed, its windows ending SCENARIO_STRIDE_NS * index before base_ns
    (a whole minute); deterministic in (seed, index) except for the times' origin."""
    rng = random.Random("owl-faultgen:%d:%d" % (seed, index))
    kind = FAULT_KINDS[rng.randrange(3)]
    order = (kind,) + tuple(k for k in FAULT_KINDS if k != kind)
    fault_start = base_ns - SCENARIO_STRIDE_NS * index - WINDOW_NS
    base_start = fault_start - WINDOW_NS
    for _ in range(20):
        services = make_topology(rng)
        n = rng.randint(*TRACES_PER_WINDOW)
        baseline = run_window(rng, services, base_start, n, None)
        fault = _choose_fault(rng, services, baseline, order)
        if fault is not None:
            break
    else:
        raise RuntimeError("scenario %d: no topology with a fault target" % index)
    n_fault = max(TRACES_PER_WINDOW[0], min(TRACES_PER_WINDOW[1], int(n * rng.uniform(0.9, 1.1))))
    sc = Scenario()
    sc.index = index
    sc.services = services
    sc.windows = ((base_start, fault_start), (fault_start, fault_start + WINDOW_NS))
    sc.baseline = baseline
    sc.faulty = run_window(rng, services, fault_start, n_fault, fault)
    sc.fault = fault
    slow = fault.op.name if fault.call is None else fault.call.dep["name"]
    sc.expected = {
        "type": fault.kind, "service": fault.op.svc.name, "operation": fault.op.name,
        "slowSpan": None if fault.kind == "error" else slow,
        "share": round(fault.share, 4) if fault.kind == "error" else None,
        "delayMs": round(fault.delay_ns / MS, 3) if fault.kind != "error" else None,
        "dependency": None if fault.call is None else fault.call.dep["attrs"].get(
            "peer.service") or _virtual_name(fault.call)}
    return sc


def _virtual_name(call):
    a = call.dep["attrs"]
    if "db.system" in a:
        return "%s:%s" % (a["db.system"], a["db.name"])
    return a["server.address"]


def base_time_ns(now_ns=None):
    """Where scenario 0's fault window ends: 30 minutes before now, on a whole minute."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    return (now_ns // (60 * S) - 30) * 60 * S


# ---- OTLP JSON ----

def _any(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def _kvs(d):
    return [{"key": k, "value": _any(v)} for k, v in d.items()]


KINDS = {"internal": 1, "server": 2, "client": 3}


def otlp_span(sp):
    """The OTLP JSON form of one generated span."""
    o = {"traceId": sp["trace"], "spanId": sp["id"], "name": sp["name"],
         "kind": KINDS[sp["kind"]], "startTimeUnixNano": str(sp["start"]),
         "endTimeUnixNano": str(sp["end"]), "attributes": _kvs(sp["attrs"])}
    if sp["parent"]:
        o["parentSpanId"] = sp["parent"]
    if sp["status"] == "fault":
        o["status"] = {"code": 2}
        if sp["message"]:
            o["status"]["message"] = sp["message"]
    if sp["exc"]:
        o["events"] = [{"name": "exception", "timeUnixNano": str(sp["end"] - 1000),
                        "attributes": _kvs({"exception.type": sp["exc"][0],
                                            "exception.message": sp["exc"][1],
                                            "exception.escaped": True})}]
    return o


def otlp_bodies(services, traces, max_spans=20000):
    """ExportTraceServiceRequest JSON objects holding traces (whole traces, at most about
    max_spans spans a body), one resourceSpans per service."""
    langs = {s.name: s.lang for s in services}
    body, n = {}, 0
    for spans in traces:
        for sp in spans:
            body.setdefault(sp["service"], []).append(otlp_span(sp))
        n += len(spans)
        if n >= max_spans:
            yield _request(body, langs)
            body, n = {}, 0
    if body:
        yield _request(body, langs)


def _request(by_service, langs):
    rs = []
    for name in sorted(by_service):
        res = {"service.name": name, "service.namespace": "faultgen",
               "telemetry.sdk.language": langs[name], "host.name": name + "-7d9f8c-x2x4q"}
        rs.append({"resource": {"attributes": _kvs(res)},
                   "scopeSpans": [{"scope": {"name": "faultgen", "version": "1"},
                                   "spans": by_service[name]}]})
    return {"resourceSpans": rs}


# ---- checks of the output ----

def validate(sc):
    """Problems with scenario sc's traces (empty when valid): ids, parents, one root, times,
    windows, statuses and their propagation, exception events only where faults start."""
    bad = []
    seen_traces = set()
    for (w0, w1), traces in ((sc.windows[0], sc.baseline), (sc.windows[1], sc.faulty)):
        for spans in traces:
            t = spans[0]["trace"]
            if t in seen_traces or len(t) != 32 or int(t, 16) == 0:
                bad.append("trace id %s repeated or malformed" % t)
            seen_traces.add(t)
            bad += _validate_trace(spans, w0, w1)
    return bad


def _validate_trace(spans, w0, w1):
    bad = []
    t = spans[0]["trace"]
    by = {}
    for sp in spans:
        if sp["trace"] != t or len(sp["id"]) != 16 or int(sp["id"], 16) == 0 or sp["id"] in by:
            bad.append("%s: span id %s repeated or malformed" % (t, sp["id"]))
        by[sp["id"]] = sp
    roots = [sp for sp in spans if sp["parent"] is None]
    if len(roots) != 1 or roots[0]["kind"] != "server":
        bad.append("%s: %d roots" % (t, len(roots)))
    for sp in spans:
        if not (w0 <= sp["start"] < sp["end"] < w1):
            bad.append("%s/%s: times %d..%d outside the window or reversed"
                       % (t, sp["id"], sp["start"], sp["end"]))
        p = by.get(sp["parent"]) if sp["parent"] else None
        if sp["parent"] and p is None:
            bad.append("%s/%s: parent %s missing" % (t, sp["id"], sp["parent"]))
            continue
        if p is None:
            continue
        if sp["kind"] == "server" and (p["kind"] != "client" or p["service"] == sp["service"]):
            bad.append("%s/%s: a server span's parent is not another service's client span"
                       % (t, sp["id"]))
        if sp["kind"] == "client" and (p["kind"] != "server" or p["service"] != sp["service"]):
            bad.append("%s/%s: a client span's parent is not its service's server span"
                       % (t, sp["id"]))
    kids = {}
    for sp in spans:
        if sp["parent"]:
            kids.setdefault(sp["parent"], []).append(sp)
    for sp in spans:
        ch = kids.get(sp["id"], [])
        child_fault = any(c["status"] == "fault" for c in ch)
        if sp["kind"] == "client" and ch and (sp["status"] == "fault") != child_fault:
            bad.append("%s/%s: a client span's status is not its callee's" % (t, sp["id"]))
        if sp["kind"] == "server" and child_fault and sp["status"] != "fault":
            bad.append("%s/%s: a fault below did not propagate" % (t, sp["id"]))
        if sp["exc"] and (sp["status"] != "fault" or child_fault):
            bad.append("%s/%s: an exception event on a span where no fault starts"
                       % (t, sp["id"]))
        if sp["status"] == "fault" and not child_fault and not sp["exc"]:
            bad.append("%s/%s: a fault starts without an exception event" % (t, sp["id"]))
        if sp["status"] == "fault" and sp["http"] not in (500, 503, None):
            bad.append("%s/%s: fault with HTTP %s" % (t, sp["id"], sp["http"]))
    return bad


def self_check(seed, n):
    """Generates n scenarios, validates each, runs the reference diagnosis on each and
    prints its figures; returns the number of invalid scenarios."""
    import reference
    base = base_time_ns()
    invalid = 0
    tally = reference.Tally()
    other = reference.Tally("latency_mean", "overall")
    t0 = time.monotonic()
    spans = traces = 0
    for i in range(n):
        sc = make_scenario(seed, i, base)
        bad = validate(sc)
        if bad:
            invalid += 1
            print("scenario %d invalid: %s" % (i, "; ".join(bad[:5])))
        for b in otlp_bodies(sc.services, sc.baseline + sc.faulty):
            json.dumps(b)
        traces += len(sc.baseline) + len(sc.faulty)
        spans += sum(len(t) for t in sc.baseline + sc.faulty)
        res = reference.diagnose(sc.baseline, sc.faulty)
        miss = tally.score(sc.expected, res)
        other.score(sc.expected, res)
        if miss:
            print("scenario %3d %s: %s" % (i, reference.describe(sc), miss))
    print("%d scenarios (seed %d), %d traces, %d spans, %.1f s; %d invalid"
          % (n, seed, traces, spans, time.monotonic() - t0, invalid))
    print(tally.summary("reference (latency: growth per trace; bottlenecks: by change)"))
    print(other.summary("reference (latency: growth of the mean on the path; bottlenecks: "
                        "overall as ordered)"))
    return invalid


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--out", help="write DIR/scenario-NNN.json")
    ap.add_argument("--self-check", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if a.self_check:
        return 1 if self_check(a.seed, a.scenarios) else 0
    if not a.out:
        ap.error("give --out DIR or --self-check")
    os.makedirs(a.out, exist_ok=True)
    base = base_time_ns()
    for i in range(a.scenarios):
        sc = make_scenario(a.seed, i, base)
        doc = {"seed": a.seed, "index": i, "expected": sc.expected,
               "baseline": [w // MS for w in sc.windows[0]],
               "window": [w // MS for w in sc.windows[1]],
               "baselineBodies": list(otlp_bodies(sc.services, sc.baseline)),
               "faultBodies": list(otlp_bodies(sc.services, sc.faulty))}
        with open(os.path.join(a.out, "scenario-%03d.json" % i), "w") as f:
            json.dump(doc, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

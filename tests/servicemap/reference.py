"""reference.py — a plain reading of docs/service-map.md's rules over faultgen.py's spans, to
check that an injected fault can be told at all and to score answers: the critical path of
a trace, where its faults start, the edges of the map, and the rankings of
GET /api/v1/rootcause and /api/v1/bottlenecks computed here from the same spans. Nothing
here is owld's code; it is what the diagnosis harness compares owld's answers with.

Spans are faultgen.py's dicts (trace, id, parent, service, name, kind, start, end, status,
exc, attrs). Rows are (service, operation) pairs."""


def _tree(spans):
    by = {sp["id"]: sp for sp in spans}
    kids, roots = {}, []
    for sp in spans:
        if sp["parent"] and sp["parent"] in by:
            kids.setdefault(sp["parent"], []).append(sp)
        else:
            roots.append(sp)
    return by, kids, roots


def critical_path(spans):
    """{span id: critical self time (ns)} for the spans on the trace's critical path: from the
    earliest root, among the children overlapping what is left of the parent's time the one
    that ends last is critical, recursively; children clamped into their parent; a child
    ending after its parent is off the path unless it is the server half of its parent's
    call (clock skew)."""
    _, kids, roots = _tree(spans)
    if not roots:
        return {}
    root = min(roots, key=lambda s: s["start"])
    out = {}
    stack = [(root, root["start"], root["end"])]
    while stack:
        sp, s, e = stack.pop()
        cands = []
        for c in kids.get(sp["id"], []):
            if c["end"] > sp["end"] and not (sp["kind"] == "client" and c["kind"] == "server"):
                continue
            cs, ce = max(c["start"], s), min(c["end"], e)
            if ce > cs:
                cands.append((cs, ce, c))
        cur, own = e, 0
        while True:
            best = None
            for cs, ce, c in cands:
                if cs < cur and (best is None or min(ce, cur) > best[1]):
                    best = (cs, min(ce, cur), c)
            if best is None:
                break
            own += cur - best[1]
            stack.append((best[2], best[0], best[1]))
            cur = best[0]
            cands = [x for x in cands if x[0] < cur and x[2] is not best[2]]
        out[sp["id"]] = own + (cur - s)
    return out


def fault_origin(spans):
    """The deepest span with a fault none of whose children has one (the earliest of equal
    depth), or None."""
    by, kids, _ = _tree(spans)
    best, best_key = None, None
    for sp in spans:
        if sp["status"] != "fault":
            continue
        if any(c["status"] == "fault" for c in kids.get(sp["id"], [])):
            continue
        depth, p = 0, sp
        while p["parent"] and p["parent"] in by and depth < len(spans):
            p = by[p["parent"]]
            depth += 1
        key = (-depth, sp["start"])
        if best_key is None or key < best_key:
            best, best_key = sp, key
    return best


def virtual_node(sp):
    """The virtual node a client span with no callee calls, as owld names it: (name, type)."""
    a = sp["attrs"]
    if a.get("peer.service"):
        return a["peer.service"], "database" if "db.system" in a else "external"
    if "db.system" in a:
        name = a["db.system"] + (":" + a["db.name"] if a.get("db.name") else "")
        return name, "database"
    return a.get("server.address", "unknown"), "external"


def edges(traces):
    """{(source, target): calls} of the service map of these traces: a client span with its
    server child gives caller -> callee, a span whose parent is another service's gives
    parent's -> its, a client span with no child calls its virtual node."""
    out = {}
    for spans in traces:
        by, kids, _ = _tree(spans)
        for sp in spans:
            p = by.get(sp["parent"]) if sp["parent"] else None
            if p is not None and p["service"] != sp["service"]:
                k = (p["service"], sp["service"])
                out[k] = out.get(k, 0) + 1
            elif sp["kind"] == "client" and not kids.get(sp["id"]):
                k = (sp["service"], virtual_node(sp)[0])
                out[k] = out.get(k, 0) + 1
    return out


def _window(traces):
    """Per (service, operation): [critical self ns summed, traces on whose critical path it
    is]; and per fault origin (service, operation, exception type, message): faulty
    traces."""
    selfs, origins = {}, {}
    for spans in traces:
        on = critical_path(spans)
        mine = {}
        for sp in spans:
            if sp["id"] in on:
                k = (sp["service"], sp["name"])
                mine[k] = mine.get(k, 0) + on[sp["id"]]
        for k, v in mine.items():
            row = selfs.setdefault(k, [0, 0])
            row[0] += v
            row[1] += 1
        o = fault_origin(spans)
        if o is not None:
            exc = o["exc"] or (None, o.get("message"))
            k = (o["service"], o["name"], exc[0], exc[1])
            origins[k] = origins.get(k, 0) + 1
    return selfs, origins


def diagnose(baseline, window):
    """Rankings of the window against the baseline, each a list of (service, operation):
    faults (fault origins by count); latency (critical self time per window trace, all
    traces counted, minus the same per baseline trace; rows that grew); latency_mean (the
    mean over the traces on whose path the row is, minus the baseline's); overall (critical
    self time summed); by_change (the critical self time the window spent beyond the
    baseline's mean: summed - traces on path x baseline mean)."""
    sw, ow = _window(window)
    sb, _ = _window(baseline)
    nw, nb = max(len(window), 1), max(len(baseline), 1)

    def base_mean(k):
        b = sb.get(k)
        return b[0] / b[1] if b else 0.0

    faults = sorted(ow.items(), key=lambda kv: (-kv[1], kv[0][:2]))
    per_trace = {k: v[0] / nw - sb.get(k, (0, 0))[0] / nb for k, v in sw.items()}
    mean_delta = {k: v[0] / v[1] - base_mean(k) for k, v in sw.items()}
    return {
        "faults": [k[:2] for k, _ in faults],
        "latency": sorted((k for k in per_trace if per_trace[k] > 0),
                          key=lambda k: (-per_trace[k], k)),
        "latency_mean": sorted(mean_delta, key=lambda k: (-mean_delta[k], k)),
        "overall": sorted(sw, key=lambda k: (-sw[k][0], k)),
        "by_change": sorted(sw, key=lambda k: (-(sw[k][0] - sw[k][1] * base_mean(k)), k)),
    }


def describe(sc):
    e = sc.expected
    what = {"error": "error %.0f%%" % (100 * (e["share"] or 0)),
            "latency": "latency +%.1f ms" % (e["delayMs"] or 0),
            "dependency": "slow %s +%.1f ms" % (e["dependency"], e["delayMs"] or 0)}[e["type"]]
    return "%d services, %s in %s / %s" % (len(sc.services), what, e["service"], e["operation"])


class Tally:
    """Scores answers against expected ones (faultgen's scenario.expected): root cause top 1
    and top 3 (faults for error faults, the latency list for the others: the rows' services),
    bottleneck top 1 (latency and dependency faults: the row of the slowed span). rc_latency
    and bottleneck name the lists of a result used for those."""

    def __init__(self, rc_latency="latency", bottleneck="by_change"):
        self.rc_latency = rc_latency
        self.bottleneck = bottleneck
        self.n = self.top1 = self.top3 = 0
        self.nb = self.b1 = 0
        self.by_type = {}

    def score(self, exp, res):
        """Counts one scenario; returns a description of what was missed ('' when none)."""
        rows = res["faults"] if exp["type"] == "error" else res[self.rc_latency]
        svcs = [r[0] for r in rows[:3]]
        t = self.by_type.setdefault(exp["type"], [0, 0, 0])
        t[0] += 1
        self.n += 1
        miss = []
        if svcs[:1] == [exp["service"]]:
            self.top1 += 1
            t[1] += 1
        else:
            miss.append("root cause first: %s" % (rows[0] if rows else None,))
        if exp["service"] in svcs:
            self.top3 += 1
        else:
            miss.append("not in the top 3")
        if exp["type"] != "error":
            self.nb += 1
            b = res[self.bottleneck]
            if b[:1] == [(exp["service"], exp["slowSpan"])]:
                self.b1 += 1
                t[2] += 1
            else:
                miss.append("bottleneck first: %s" % (b[0] if b else None,))
        return "; ".join(miss)

    def rates(self):
        pct = lambda a, b: 100.0 * a / b if b else 0.0
        return pct(self.top1, self.n), pct(self.top3, self.n), pct(self.b1, self.nb)

    def summary(self, label):
        r1, r3, b1 = self.rates()
        per = ", ".join("%s %d/%d" % (k, v[1], v[0]) for k, v in sorted(self.by_type.items()))
        return ("%s: root cause top1 %.1f%% (%d/%d), top3 %.1f%% (%d/%d), bottleneck top1 "
                "%.1f%% (%d/%d); root cause top1 by type: %s"
                % (label, r1, self.top1, self.n, r3, self.top3, self.n, b1, self.b1, self.nb,
                   per))

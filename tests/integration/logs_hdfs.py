"""logs_hdfs.py — the Loghub HDFS sample as CloudWatch log events for t_logs.sh and logs.py.

Each line keeps its own time (yyMMdd HHmmss), shifted so that the earliest line falls at BASE
(epoch ms) and compressed four times (the file spans 38 hours; CloudWatch takes 24 hours per
batch and 14 days back), lines of equal time in file order. Lines of component dfs.DataNode*
go to stream "datanode", the others to "namesystem".

Usage:
  logs_hdfs.py batches FILE BASE OUTDIR N   writes OUTDIR/<stream>-<k>.json, lists of at most N
                                            {timestamp, message} in time order, and prints
                                            "<stream> <file>" lines
  logs_hdfs.py count FILE BASE START END [STREAM]
                                            events with START <= time <= END (of STREAM)
  logs_hdfs.py last FILE BASE               the stream whose last event is the latest
"""
import json
import os
import sys
from datetime import datetime, timezone


def events(path, base):
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n")
            d, t, _pid, _lvl, comp = line.split(" ", 5)[:5]
            ts = datetime.strptime(d + t, "%y%m%d%H%M%S").replace(tzinfo=timezone.utc)
            stream = "datanode" if comp.startswith("dfs.DataNode") else "namesystem"
            out.append((int(ts.timestamp() * 1000), i, stream, line))
    first = min(e[0] for e in out)
    out = [((e[0] - first) // 4 + base, e[1], e[2], e[3]) for e in out]
    out.sort()
    return out


def last_stream(evs):
    """The stream whose last event is the latest (ties: the greater name, as owl orders)."""
    last = {}
    for e in evs:
        last[e[2]] = max(last.get(e[2], e[0]), e[0])
    return max((t, s) for s, t in last.items())[1]


def main():
    cmd, path, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
    evs = events(path, base)
    if cmd == "batches":
        outdir, n = sys.argv[4], int(sys.argv[5])
        for stream in ("datanode", "namesystem"):
            mine = [e for e in evs if e[2] == stream]
            for k in range(0, len(mine), n):
                name = os.path.join(outdir, "%s-%04d.json" % (stream, k // n))
                with open(name, "w", encoding="utf-8") as f:
                    json.dump([{"timestamp": e[0], "message": e[3]} for e in mine[k:k + n]], f)
                print(stream, name)
    elif cmd == "count":
        lo, hi = int(sys.argv[4]), int(sys.argv[5])
        stream = sys.argv[6] if len(sys.argv) > 6 else None
        print(sum(1 for e in evs if lo <= e[0] <= hi and (stream is None or e[2] == stream)))
    elif cmd == "last":
        print(last_stream(evs))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()

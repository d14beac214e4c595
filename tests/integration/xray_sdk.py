"""xray_sdk.py — the machine's Python X-Ray SDK (aws-xray-sdk 2.15) against owld's X-Ray
daemon endpoint (t_xray_daemon.sh): its ServiceConnector fetches the sampling rules and
targets over the daemon's TCP port (as its centralized sampler does in the background), then
the recorder sends three traces over UDP — a segment with an annotation, metadata and HTTP
data, a remote subsegment holding an exception, a nested local subsegment. Prints a JSON
object: {"rules": [...], "targets": [...], "traces": [[trace_id, sampled], ...]}.

  xray_sdk.py HOST:PORT"""

import json
import os
import sys
import time

addr = sys.argv[1]
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = addr
from aws_xray_sdk.core import xray_recorder  # noqa: E402
from aws_xray_sdk.core.sampling.connector import ServiceConnector  # noqa: E402

host, port = addr.split(":")
conn = ServiceConnector()
conn.setup_xray_client(ip=host, port=int(port), client=None)
rules = conn.fetch_sampling_rules()
targets, _ = conn.fetch_sampling_target(rules)
out = {"rules": [[r.name, r.priority, r.rate] for r in rules], "targets": sorted(targets)}

xray_recorder.configure(daemon_address=addr, context_missing="LOG_ERROR", sampling=True,
                        service="py-svc", plugins=())
ids = []
for i in range(3):
    seg = xray_recorder.begin_segment("py-svc")
    seg.put_annotation("order", i)
    seg.put_metadata("k", {"v": i})
    seg.put_http_meta("method", "GET")
    seg.put_http_meta("url", "http://py/x/%d" % i)
    sub = xray_recorder.begin_subsegment("db")
    sub.namespace = "remote"
    xray_recorder.begin_subsegment("parse")
    time.sleep(0.01)
    xray_recorder.end_subsegment()
    try:
        raise ValueError("boom %d" % i)
    except ValueError as e:
        sub.add_exception(e, [])
    xray_recorder.end_subsegment()
    seg.put_http_meta("status", 500)
    ids.append((seg.trace_id, bool(seg.sampled)))
    xray_recorder.end_segment()
time.sleep(0.5)
out["traces"] = ids
print(json.dumps(out))

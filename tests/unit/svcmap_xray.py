#!/usr/bin/env python3
"""svcmap_xray.py — checks owl_svcmap_xray_json's answer (tracer/svcmap.c) the way AWS's own
clients read it. Run by tests/unit/test_svcmap.c: svcmap_xray.py FILE EXPECT, FILE holding
the answer, EXPECT "name=type:root:edges,..." for each service in order.

1. Every member, at every depth, is one X-Ray's model (botocore's xray 2016-04-12
   GetServiceGraph output shape) declares, with the JSON type that shape member takes
   (botocore silently drops unknown members, so it would not notice a misspelt one).
2. botocore's RestJSONParser parses the body as GetServiceGraph's and GetTraceGraph's output;
   the parsed services match EXPECT.
3. `aws xray get-service-graph`, when the AWS CLI is there, against a one-shot HTTP server on
   127.0.0.1 that answers the file: its output lists the same services and edges.

Exit 0 when all hold, 1 with the reason otherwise, 77 (SKIP) when botocore is missing."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

try:
    import botocore.parsers
    import botocore.session
except ImportError:
    print("SKIP: botocore is not installed")
    sys.exit(77)

JSON_TYPES = {
    "string": str, "boolean": bool, "list": list, "structure": dict,
    "integer": int, "long": int, "double": (int, float), "float": (int, float),
    "timestamp": (int, float),
}


def check_shape(value, shape, path, errors):
    want = JSON_TYPES.get(shape.type_name)
    if want is None:
        errors.append(f"{path}: unexpected model type {shape.type_name}")
        return
    if isinstance(value, bool) and shape.type_name != "boolean":
        errors.append(f"{path}: boolean where the model has {shape.type_name}")
        return
    if not isinstance(value, want):
        errors.append(f"{path}: {type(value).__name__} where the model has {shape.type_name}")
        return
    if shape.type_name == "structure":
        for k, v in value.items():
            if k not in shape.members:
                errors.append(f"{path}.{k}: not a member of {shape.name}")
            else:
                check_shape(v, shape.members[k], f"{path}.{k}", errors)
    elif shape.type_name == "list":
        for i, v in enumerate(value):
            check_shape(v, shape.member, f"{path}[{i}]", errors)
    elif shape.type_name == "integer" and not -2**31 <= value < 2**31:
        errors.append(f"{path}: {value} out of the int32 range")


def expected(spec):
    out = []
    for item in spec.split(","):
        name, rest = item.split("=", 1)
        typ, root, edges = rest.rsplit(":", 2)
        out.append((name, typ, root == "1", int(edges)))
    return out


def summary(services):
    return [(s["Name"], s["Type"], s["Root"], len(s.get("Edges", []))) for s in services]


def via_cli(body):
    """The services as `aws xray get-service-graph` prints them, None without the CLI."""
    aws = shutil.which("aws")
    if not aws:
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = self.path == "/ServiceGraph"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if ok else 2))
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    try:
        p = subprocess.run([aws, "--endpoint-url", f"http://127.0.0.1:{srv.server_port}",
                            "--output", "json", "xray", "get-service-graph",
                            "--start-time", "1700000000", "--end-time", "1700003600"],
                           env=env, capture_output=True, timeout=120)
    finally:
        srv.shutdown()
        srv.server_close()
    if p.returncode != 0:
        raise SystemExit(f"aws xray get-service-graph failed ({p.returncode}): "
                         f"{p.stderr.decode(errors='replace')}")
    return json.loads(p.stdout)["Services"]


def main():
    path, spec = sys.argv[1], sys.argv[2]
    body = open(path, "rb").read()
    doc = json.loads(body)
    model = botocore.session.get_session().get_service_model("xray")
    errors = []
    gsg = model.operation_model("GetServiceGraph").output_shape
    check_shape(doc, gsg, "$", errors)
    if errors:
        raise SystemExit("shape: " + "; ".join(errors[:10]))
    want = expected(spec)
    parser = botocore.parsers.RestJSONParser()
    for op in ("GetServiceGraph", "GetTraceGraph"):
        shape = model.operation_model(op).output_shape
        got = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
        if "Error" in got:
            raise SystemExit(f"{op}: botocore read an error: {got['Error']}")
        if summary(got["Services"]) != want:
            raise SystemExit(f"{op}: {summary(got['Services'])} != {want}")
        for s in got["Services"]:
            if not isinstance(s["StartTime"].timestamp(), float):
                raise SystemExit(f"{op}: StartTime not a timestamp")
    cli = via_cli(body)
    if cli is not None and summary(cli) != want:
        raise SystemExit(f"aws cli: {summary(cli)} != {want}")
    print("ok: shape, botocore GetServiceGraph/GetTraceGraph"
          + (", aws xray get-service-graph" if cli is not None else " (no aws CLI)"))


if __name__ == "__main__":
    main()

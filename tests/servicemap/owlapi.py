"""owlapi.py — the few calls the service map harnesses (diagnose.py, nezha.py) make to a
running owld over loopback: JSON requests with a Bearer key, OTLP JSON bodies posted to
/v1/traces, GET with query parameters. Standard library only."""

import json
import urllib.error
import urllib.parse
import urllib.request


class Owl:
    def __init__(self, base, key, timeout=60):
        self.base = base.rstrip("/")
        self.key = key
        self.timeout = timeout

    def req(self, method, path, body=None):
        """(status, bytes of the body); HTTP errors are answers too."""
        h = {"Authorization": "Bearer " + self.key}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body, separators=(",", ":")).encode()
        r = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, **params):
        """GET path?params: (status, the JSON answer or None)."""
        q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        st, body = self.req("GET", path + ("?" + q if q else ""))
        try:
            return st, json.loads(body)
        except ValueError:
            return st, None

    def post_traces(self, body):
        """POSTs one ExportTraceServiceRequest; (ok, why): ok when 200 and no span refused."""
        st, answer = self.req("POST", "/v1/traces", body)
        try:
            doc = json.loads(answer)
        except ValueError:
            doc = None
        rejected = int((doc or {}).get("partialSuccess", {}).get("rejectedSpans") or 0)
        if st != 200 or doc is None or rejected:
            return False, "HTTP %d %s" % (st, answer[:300])
        return True, ""

/* owld.c — the owld process assembled: open stores, register route tables, serve, drain.
 * Every request passes through handle(): match -> rate limit -> authenticate -> authorize ->
 * handler -> audit. Only OWL_ROUTE_PUBLIC routes (/healthz) skip authentication and the
 * audit trail.
 * Audit rules: a failed authentication is counted (owl_audit_record_failure: one row per
 * source, key id and minute) and, past --auth-fail-limit per source and minute, further
 * requests from that source get 429 before authentication and write nothing. Every other
 * event is durable before its response is sent: when its write fails the response becomes
 * 507 InsufficientStorage. While the audit store is failing, or the data directory's disk
 * has under 64 MiB free, a mutating request (not GET/HEAD) first writes an "attempted" event
 * (status 0) and gets 507 without running when that write fails, so no effect is made
 * unaudited when the disk fills. */
#include <dirent.h>
#include <stdatomic.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/keys.h"
#include "server/logtail.h"
#include "server/sampling.h"
#include "server/selfmetrics.h"
#include "server/server.h"
#include "server/sigv4.h"
#include "server/tail.h"

/* The route tables of every module, in dispatch order. Later capabilities add a line. */
static const owl_route_table *const route_tables[] = {
    &owl_api_routes,
    &owl_keys_routes,
    &owl_tail_routes,
    &owl_cloudwatch_routes,
    &owl_otlp_routes,
    &owl_logtail_routes,
    &owl_logs_routes,
    &owl_traces_routes,
    &owl_servicemap_routes,
    &owl_xray_routes,
    &owl_sampling_routes,
};

static void not_found(owl_call *call, const owl_match *m)
{
    owl_http_req *req = call->req;
    switch (call->proto) {
    case OWL_PROTO_AWS_QUERY:
        owl_call_error(call, 400, m->op_name[0] ? "InvalidAction" : "MissingAction",
                       "Could not find operation %s", m->op_name[0] ? m->op_name : "(no Action)");
        break;
    case OWL_PROTO_AWS_JSON:
    case OWL_PROTO_AWS_CBOR:
        owl_call_error(call, 400, "UnknownOperationException", "Unknown operation %s",
                       m->op_name);
        break;
    default:
        if (m->method_mismatch)
            owl_call_error(call, 405, "MethodNotAllowed", "%s is not allowed on %s", req->method,
                           req->path);
        else
            owl_call_error(call, 404, "NotFound", "no route for %s %s", req->method, req->path);
    }
}

enum audit_kind { AUDIT_OUTCOME, AUDIT_FAILURE, AUDIT_ATTEMPT };

/* record_audit — the event of call; OWL_OK once durable (a failure: once counted). */
static int record_audit(owl_server *s, const owl_call *call, const char *tenant,
                        const char *key_id, const char *action, enum audit_kind kind)
{
    const owl_http_req *req = call->req;
    owl_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = owl_now_ms();
    owl_strlcpy(ev.tenant, tenant, sizeof ev.tenant);
    owl_strlcpy(ev.key_id, key_id, sizeof ev.key_id);
    owl_strlcpy(ev.source, req->remote_addr, sizeof ev.source);
    const char *ua = owl_http_req_header(req, "user-agent");
    owl_strlcpy(ev.user_agent, ua ? ua : "", sizeof ev.user_agent);
    owl_strlcpy(ev.action, action, sizeof ev.action);
    owl_strlcpy(ev.resource, call->resource, sizeof ev.resource);
    ev.status = kind == AUDIT_ATTEMPT ? 0 : call->resp->status;
    owl_strlcpy(ev.error_code, call->error_code, sizeof ev.error_code);
    owl_strlcpy(ev.request_id, req->request_id, sizeof ev.request_id);
    ev.duration_us = (owl_mono_ns() - req->start_mono_ns) / 1000;
    owl_error err = {0};
    int rc = kind == AUDIT_FAILURE ? owl_audit_record_failure(s->audit, &ev, &err)
                                   : owl_audit_record(s->audit, &ev, &err);
    if (rc != OWL_OK)
        owl_errorf("audit event for %s not written: %s", ev.request_id, err.msg);
    else if (kind == AUDIT_OUTCOME)
        owl_tail_publish(s->tail, &ev); /* live tail: only events that were recorded */
    return kind == AUDIT_FAILURE ? OWL_OK : rc;
}

/* unaudited — the response becomes 507: its audit event could not be made durable. */
static void unaudited(owl_call *call)
{
    owl_http_resp *resp = call->resp;
    if (resp->streaming)
        return; /* already sent (live tail): nothing to replace */
    resp->body.len = 0;
    owl_call_error(call, 507, "InsufficientStorage",
                   "the audit event of this request could not be written (storage full or "
                   "failing): the request is refused");
}

static int mutating(const owl_http_req *req)
{
    return strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
}

/* Free space under which a write request records an "attempted" audit event before it
 * runs (below). A full disk is the usual reason an audit write fails; writing the attempt
 * first while the disk is nearly full means the write that meets ENOSPC is refused before it
 * takes effect, and requests on a roomy disk pay no extra fsync. */
#define AUDIT_LOW_SPACE_BYTES ((uint64_t)64 << 20)

/* 1 when the data directory's filesystem has less than AUDIT_LOW_SPACE_BYTES free (checked
 * at most every 250 ms; statvfs failing counts as low). */
static int disk_low(owl_server *s)
{
    int64_t now = owl_now_ms();
    if (now - atomic_load(&s->disk_checked_ms) >= 250) {
        struct statvfs v;
        int low = statvfs(s->cfg.data_dir, &v) != 0 ||
                  (uint64_t)v.f_bavail * v.f_frsize < AUDIT_LOW_SPACE_BYTES;
        atomic_store(&s->disk_low, low);
        atomic_store(&s->disk_checked_ms, now);
    }
    return atomic_load(&s->disk_low);
}

static void early_principal_free(void *p)
{
    owl_principal_free(p);
    free(p);
}

/* SigV4 on the head: 1 when h names a known key and, if the request carries
 * x-amz-content-sha256 (64 hex digits or UNSIGNED-PAYLOAD), the signature over the canonical request with that
 * claim as the payload hash matches. handle() then verifies the request in full with its
 * body (the body's digest against the claim; without a claim the signature covers the
 * body's own hash, so it cannot be checked before the body is in: such a body is read,
 * within --max-buffered-mib). 0: refuse now. */
static int sigv4_head_ok(owl_server *s, const owl_http_req *req, const char *h)
{
    owl_sigv4_auth a;
    owl_principal tmp;
    char secret[OWL_SECRET_LEN + 1] = "", sig[65];
    owl_buf creq = OWL_BUF_INIT, sts = OWL_BUF_INIT;
    owl_sigv4_header *hdrs = NULL;
    int ok = 0;
    if (strncmp(h, "AWS4-HMAC-SHA256", 16) != 0 ||
        owl_sigv4_parse_authorization(h, &a, NULL) != OWL_OK ||
        strlen(a.access_key) > OWL_KEY_ID_MAX ||
        owl_keys_lookup(s, a.access_key, &tmp, secret, NULL, NULL) != OWL_OK)
        goto out;
    owl_principal_free(&tmp);
    const char *claim = owl_http_req_header(req, "x-amz-content-sha256");
    const char *amz = owl_http_req_header(req, "x-amz-date");
    int hex = claim && strlen(claim) == 64;
    for (size_t i = 0; hex && i < 64; i++)
        hex = owl_hex_digit((unsigned char)claim[i]) >= 0;
    if (claim && strcmp(claim, "UNSIGNED-PAYLOAD") == 0)
        hex = 1; /* stands for the payload in the signature just the same */
    if (!hex || !amz) {
        ok = 1; /* nothing more to check before the body */
        goto out;
    }
    hdrs = malloc((req->nheaders ? req->nheaders : 1) * sizeof *hdrs);
    if (!hdrs)
        goto out;
    for (size_t i = 0; i < req->nheaders; i++) {
        hdrs[i].name = req->headers[i].name;
        hdrs[i].value = req->headers[i].value;
    }
    owl_sigv4_msg msg = {.method = req->method, .path = req->path, .query = req->query,
                         .headers = hdrs, .nheaders = req->nheaders};
    ok = owl_sigv4_canonical_request(&msg, &a, &creq, NULL) == OWL_OK &&
         owl_sigv4_string_to_sign(&a, amz, creq.data, creq.len, &sts, NULL) == OWL_OK &&
         owl_sigv4_sign(secret, &a, sts.data, sts.len, sig) == OWL_OK &&
         strlen(a.signature) == 64 && owl_ct_equal(sig, a.signature, 64);
out:
    memset(secret, 0, sizeof secret);
    free(hdrs);
    owl_buf_free(&creq);
    owl_buf_free(&sts);
    return ok;
}

/* Answers 429 when the caller's address is over its failed-authentication limit: cheap, no
 * authentication and nothing written. 1 when it answered. */
static int throttled(owl_server *s, owl_call *call)
{
    const owl_http_req *req = call->req;
    int wait = owl_auth_guard_limited(s->guard, req->remote_addr, owl_now_ms());
    if (wait <= 0)
        return 0;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", wait);
    owl_http_resp_header(call->resp, "Retry-After", secs);
    owl_call_error(call, 429,
                   call->proto == OWL_PROTO_NATIVE      ? "TooManyRequests"
                   : call->proto == OWL_PROTO_AWS_QUERY ? "Throttling"
                                                        : "ThrottlingException",
                   "too many failed authentications from %s: retry in %d s", req->remote_addr,
                   wait);
    return 1;
}

/* The HTTP layer's head hook: authenticates a request from its header block, before any
 * body byte is buffered or 100 Continue sent. No credentials: a small body allowance (the
 * handler answers 401 on anything but a public route). Bearer: authenticated here, the
 * principal handed to handle() in req->auth. SigV4: the key and, when the payload hash is
 * declared, the signature checked here, the whole request verified by handle() with the
 * body. Anything else fails now: 401/403/400 as the protocol shapes it, audited, closed. */
static int head(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    owl_server *s = ud;
    const char *h = owl_http_req_header(req, "authorization");
    if (!h || !*h)
        return OWL_HTTP_HEAD_LIMITED;
    if (sigv4_head_ok(s, req, h))
        return OWL_HTTP_HEAD_ACCEPT;
    owl_call call;
    owl_match m;
    owl_auth_failure f;
    memset(&call, 0, sizeof call);
    call.srv = s, call.req = req, call.resp = resp;
    owl_router_match(&s->router, req, &call, &m, NULL); /* on the head: the error shape */
    call.proto = m.proto;
    int verdict = OWL_HTTP_HEAD_ACCEPT;
    owl_principal *p = calloc(1, sizeof *p);
    if (m.route && (m.route->flags & OWL_ROUTE_PUBLIC)) {
        /* public: credentials are not looked at */
    } else if (!p) {
        owl_call_error(&call, 503, "ServiceUnavailable", "out of memory");
        verdict = OWL_HTTP_HEAD_REJECT;
    } else if (throttled(s, &call)) {
        verdict = OWL_HTTP_HEAD_REJECT;
    } else if (owl_auth_request(s, req, call.proto, p, &f) == OWL_OK) {
        req->auth = p;
        req->auth_free = early_principal_free;
        p = NULL;
    } else {
        owl_auth_guard_failed(s->guard, req->remote_addr, owl_now_ms());
        resp->action = m.action ? m.action : "unknown";
        if (call.proto != OWL_PROTO_NATIVE)
            owl_http_resp_header(resp, "x-amzn-RequestId", req->request_id);
        owl_call_error(&call, f.status, f.code, "%s", f.message);
        record_audit(s, &call, f.claimed_tenant, f.claimed_key, resp->action, AUDIT_FAILURE);
        verdict = OWL_HTTP_HEAD_REJECT;
    }
    free(p);
    owl_call_cleanup(&call);
    return verdict;
}

static void handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    owl_server *s = ud;
    owl_call call;
    owl_match m;
    owl_error err = {0};
    owl_principal p;
    owl_auth_failure f;
    memset(&call, 0, sizeof call);
    memset(&p, 0, sizeof p);
    call.srv = s, call.req = req, call.resp = resp;
    int rc = owl_router_match(&s->router, req, &call, &m, &err);
    call.proto = m.proto;
    call.action = m.action;
    resp->action = m.action ? m.action : "unknown";
    if (call.proto != OWL_PROTO_NATIVE)
        owl_http_resp_header(resp, "x-amzn-RequestId", req->request_id);
    if (m.route && (m.route->flags & OWL_ROUTE_PUBLIC)) {
        m.route->fn(&call);
        owl_call_cleanup(&call);
        return;
    }
    if (throttled(s, &call)) {
        owl_call_cleanup(&call);
        return;
    }
    owl_principal *early = req->auth; /* authenticated by head() */
    if (early) {
        p = *early;
    } else if (owl_auth_request(s, req, call.proto, &p, &f) != OWL_OK) {
        owl_auth_guard_failed(s->guard, req->remote_addr, owl_now_ms());
        owl_call_error(&call, f.status, f.code, "%s", f.message);
        record_audit(s, &call, f.claimed_tenant, f.claimed_key, resp->action, AUDIT_FAILURE);
        owl_call_cleanup(&call);
        return;
    }
    call.principal = &p;
    if (rc != OWL_OK) {
        owl_call_error_from(&call, rc, err.msg);
    } else if (!m.route && !m.op) {
        not_found(&call, &m);
    } else if (!owl_principal_can(&p, m.action)) {
        owl_call_error(&call, 403,
                       call.proto == OWL_PROTO_NATIVE || call.proto == OWL_PROTO_AWS_QUERY
                           ? "AccessDenied"
                           : "AccessDeniedException",
                       "key %s is not authorized to perform %s", p.key_id, m.action);
    } else if (mutating(req) && (owl_audit_failing(s->audit) || disk_low(s)) &&
               record_audit(s, &call, p.tenant, p.key_id, resp->action, AUDIT_ATTEMPT) !=
                   OWL_OK) {
        unaudited(&call);
        if (!early)
            owl_principal_free(&p);
        owl_call_cleanup(&call);
        return;
    } else {
        if (m.route)
            m.route->fn(&call);
        else
            owl_router_serve(&call, &m);
    }
    if (record_audit(s, &call, p.tenant, p.key_id, resp->action, AUDIT_OUTCOME) != OWL_OK)
        unaudited(&call);
    if (!early)
        owl_principal_free(&p);
    owl_call_cleanup(&call);
}

static void done(void *ud, const owl_http_req *req, const owl_http_resp *resp, size_t bytes_in,
                 size_t bytes_out, int64_t duration_ns)
{
    owl_server *s = ud;
    owl_selfmetrics_observe(s->selfmetrics, resp->action, resp->status, bytes_in, bytes_out,
                            duration_ns);
}

/* ---- data directory: first start vs initialised (DATA/owl.instance) ----
 * The marker is text: "owl-instance 1\nid <32 hex>\ncreated <ms>\ncrc32c <8 hex>\n", the
 * crc32c covering every byte before the "crc32c" line. It is written LAST at a first start,
 * so a crash during a first start is retried as one. Rules (docs/operations.md):
 *   marker present  -> initialised: meta/ must hold a journal (and, for the newest snapshot-G,
 *                      journal-G or journal-(G-1)), master.key (32 bytes) and store/ must exist, else refuse;
 *   no marker, meta/ holds a journal or snapshot, or master.key exists -> a directory of the
 *                      release before the marker: adopt it (write the marker) after the same
 *                      checks;
 *   otherwise       -> first start (absent, empty, or an interrupted first start). */
#define MARKER_NAME "owl.instance"
#define MARKER_MAGIC "owl-instance 1\n"

/* Writes DATA/owl.instance with a fresh instance id. */
static int marker_write(const char *data_dir, owl_error *err)
{
    unsigned char id[16];
    char text[256], path[4200];
    if (owl_random(id, sizeof id) != OWL_OK)
        return owl_error_set(err, OWL_EIO, "no randomness available");
    int n = snprintf(text, sizeof text, MARKER_MAGIC "id ");
    for (size_t i = 0; i < sizeof id; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%02x", id[i]);
    n += snprintf(text + n, sizeof text - (size_t)n, "\ncreated %" PRId64 "\n", owl_now_ms());
    uint32_t crc = owl_crc32c(0, text, (size_t)n);
    n += snprintf(text + n, sizeof text - (size_t)n, "crc32c %08x\n", crc);
    snprintf(path, sizeof path, "%s/" MARKER_NAME, data_dir);
    return owl_write_file_atomic(path, text, (size_t)n, 0600, err);
}

/* Checks DATA/owl.instance: OWL_OK, OWL_ENOTFOUND when absent, OWL_ECORRUPT when bad. */
static int marker_check(const char *data_dir, owl_error *err)
{
    char path[4200];
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/" MARKER_NAME, data_dir);
    int rc = owl_read_file(path, 4096, &data, &len, NULL);
    if (rc == OWL_ENOTFOUND)
        return rc;
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "cannot read %s", path);
    rc = OWL_ECORRUPT;
    const char *c = strstr(data, "crc32c ");
    unsigned crc = 0;
    if (strncmp(data, MARKER_MAGIC, strlen(MARKER_MAGIC)) != 0)
        owl_error_set(err, rc, "%s: bad magic or unknown format version", path);
    else if (!c || sscanf(c, "crc32c %8x\n", &crc) != 1 ||
             owl_crc32c(0, data, (size_t)(c - data)) != crc || strlen(data) != len)
        owl_error_set(err, rc, "%s: checksum mismatch", path);
    else if (strncmp(data + strlen(MARKER_MAGIC), "id ", 3) != 0)
        owl_error_set(err, rc, "%s: no instance id", path);
    else
        rc = OWL_OK;
    free(data);
    return rc;
}

/* Parses "<prefix>-<12 digits>.owm" into *gen; 1 when it matches. */
static int meta_name(const char *name, const char *prefix, unsigned long long *gen)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '-')
        return 0;
    const char *d = name + pl + 1;
    for (int i = 0; i < 12; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    if (strcmp(d + 12, ".owm") != 0)
        return 0;
    *gen = strtoull(d, NULL, 10);
    return 1;
}

/* Looks at an existing data directory without changing it: *first = 1 for a first start;
 * for an initialised (or pre-marker) directory, refuses when a piece is missing. */

/* The test evidence provider (docs/api/alarms.md, "Evidence"): with OWL_TEST_EVIDENCE_NS set,
 * alarms on that namespace carry this evidence, so tests can see the field travel from a
 * provider to the history and the webhook payload. The modules that own metrics (logs,
 * traces) register real ones. */
static int test_evidence(void *ud, const char *tenant, const owl_metric_id *id,
                         int64_t start_ms, int64_t end_ms, enum owl_alarm_state state,
                         owl_buf *out)
{
    (void)ud, (void)tenant;
    owl_buf_printf(out, "{\"provider\":\"test\",\"metric\":");
    owl_buf_json_str(out, id->name, strlen(id->name));
    owl_buf_printf(out, ",\"state\":\"%s\",\"from\":%lld,\"to\":%lld,"
                        "\"lines\":[\"test evidence line 1\",\"test evidence line 2\"]}",
                   owl_alarm_state_name(state), (long long)start_ms, (long long)end_ms);
    return OWL_OK;
}

static int datadir_check(const char *data_dir, int *first, int *adopt, owl_error *err)
{
    char path[4200];
    struct stat st;
    *first = 0, *adopt = 0;
    int rc = marker_check(data_dir, err);
    if (rc != OWL_OK && rc != OWL_ENOTFOUND) {
        char msg[sizeof err->msg];
        owl_strlcpy(msg, err->msg, sizeof msg); /* not err->msg itself: it is rewritten */
        return owl_error_set(err, rc, "%s; refusing to start, nothing was changed", msg);
    }
    int marked = rc == OWL_OK;
    int njournal = 0, nsnap = 0;
    unsigned long long gen, snap_max = 0, have_snapjournal = 0;
    snprintf(path, sizeof path, "%s/meta", data_dir);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        unsigned long long jgens[64];
        int nj = 0;
        while ((e = readdir(d)) != NULL) {
            if (meta_name(e->d_name, "journal", &gen)) {
                if (nj < 64)
                    jgens[nj++] = gen;
                njournal++;
            } else if (meta_name(e->d_name, "snapshot", &gen)) {
                nsnap++;
                if (gen > snap_max)
                    snap_max = gen;
            }
        }
        closedir(d);
        /* meta.c's compaction renames snapshot-G, then creates journal-G, then unlinks
         * journal-(G-1): a crash between leaves snapshot-G with journal-(G-1) only, which
         * meta.c completes. snapshot-G with neither journal is a deleted journal. */
        for (int i = 0; i < nj; i++)
            if (jgens[i] == snap_max || jgens[i] + 1 == snap_max)
                have_snapjournal = 1;
    }
    snprintf(path, sizeof path, "%s/master.key", data_dir);
    int have_master = stat(path, &st) == 0;
    int master_ok = have_master && S_ISREG(st.st_mode) && st.st_size == OWL_MASTER_KEY_LEN;
    snprintf(path, sizeof path, "%s/store", data_dir);
    int have_store = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!marked && njournal == 0 && nsnap == 0 && !have_master) {
        *first = 1; /* absent, empty, or an interrupted first start */
        return OWL_OK;
    }
    const char *missing = NULL;
    if (njournal == 0 && nsnap == 0)
        missing = "the metadata journal and snapshot (meta/journal-*.owm, meta/snapshot-*.owm)";
    else if (nsnap > 0 && !have_snapjournal)
        missing = "the metadata journal of the newest snapshot (meta/journal-G.owm)";
    else if (!have_master)
        missing = "master.key";
    else if (!master_ok)
        missing = "a master.key of the right size";
    else if (!have_store && marked)
        missing = "the store directory (store/)";
    if (missing)
        return owl_error_set(err, OWL_ECORRUPT,
                             "data directory %s is %s but %s is missing; refusing to start, "
                             "nothing was changed (restore the file from a backup)",
                             data_dir, marked ? "initialised (" MARKER_NAME ")" : "not empty",
                             missing);
    *adopt = !marked;
    return OWL_OK;
}

int owl_server_open(owl_server **out, const owl_config *cfg, owl_error *err)
{
    int rc;
    char dir[4200];
    owl_server *s = calloc(1, sizeof *s);
    if (!s)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    s->cfg = *cfg;
    int first = 0, adopt = 0;
    if ((rc = datadir_check(cfg->data_dir, &first, &adopt, err)) != OWL_OK)
        goto fail;
    s->first_start = first;
    if ((rc = owl_mkdir_p(cfg->data_dir, 0700, err)) != OWL_OK)
        goto fail;
    snprintf(dir, sizeof dir, "%s/meta", cfg->data_dir);
    if ((rc = owl_meta_open(dir, NULL, &s->meta, err)) != OWL_OK ||
        (rc = owl_sampling_open(s->meta, owl_now_ms(), &s->sampling, err)) != OWL_OK)
        goto fail;
    snprintf(dir, sizeof dir, "%s/store", cfg->data_dir);
    owl_store_options so;
    owl_store_options_default(&so);
    so.sync = (enum owl_sync_policy)cfg->wal_sync;
    so.sync_interval_ms = (int)cfg->wal_sync_interval_ms;
    so.settle_age_ms = (int)cfg->store_settle_ms;
    /* every table of the registry (index/tables.c), as owl-store opens it */
    if ((rc = owl_store_open(dir, NULL, 0, &so, &s->store, err)) != OWL_OK)
        goto fail;
    owl_metrics_options mo = {
        .keep_ms = {cfg->metrics_raw_hours * 3600000, cfg->metrics_60s_days * 86400000,
                    cfg->metrics_300s_days * 86400000,
                    cfg->metrics_3600s_days * 86400000},
        .background = 1,
    };
    if ((rc = owl_metrics_open(s->store, s->meta, &mo, &s->metrics, err)) != OWL_OK)
        goto fail;
    owl_alarm_actions_options ao;
    owl_alarm_actions_options_default(&ao);
    ao.topics = &s->cfg.alarm_topic; /* s->cfg outlives the actions: stopped in close */
    if ((rc = owl_alarms_open(s->meta, s->metrics, &s->alarms, err)) != OWL_OK ||
        (rc = owl_alarm_actions_start(s->alarms, &ao, &s->alarm_actions, err)) != OWL_OK ||
        (getenv("OWL_TEST_EVIDENCE_NS") &&
         (rc = owl_alarms_add_evidence(s->alarms, getenv("OWL_TEST_EVIDENCE_NS"), test_evidence,
                                       NULL, err)) != OWL_OK) ||
        (rc = owl_alarms_start(s->alarms, err)) != OWL_OK ||
        (rc = owl_alarm_tags_open(s->meta, s->alarms, &s->alarm_tags, err)) != OWL_OK)
        goto fail;
    /* traces before logs: its evidence provider for owl/Traces must come before the logs'
     * "*" one, which would answer for every namespace */
    owl_traces_options to;
    owl_traces_options_default(&to);
    to.retention_days = (int)cfg->trace_retention_days;
    to.graph = cfg->service_graph;
    to.graph_ttl_s = (int)cfg->service_graph_ttl;
    if ((rc = owl_traces_open(s->store, s->metrics, s->alarms, &to, &s->traces, err)) != OWL_OK)
        goto fail;
    if ((rc = owl_logs_open(s->meta, s->store, NULL, &s->logs, err)) != OWL_OK)
        goto fail;
    /* metric filters write through the metrics module and give alarms on their metrics the
     * matching lines as evidence ("*": their namespaces are the users'; the test provider,
     * registered first, keeps its own) */
    owl_logs_set_metrics(s->logs, s->metrics);
    if ((rc = owl_alarms_add_evidence(s->alarms, "*", owl_logs_evidence, s->logs, err)) != OWL_OK)
        goto fail;
    owl_insights_options io;
    owl_insights_options_default(&io);
    io.workers = (size_t)cfg->insights_workers;
    io.per_tenant = (size_t)cfg->insights_concurrency;
    io.timeout_ms = cfg->insights_timeout_ms;
    io.max_bytes = (size_t)cfg->insights_max_mib << 20;
    if ((rc = owl_insights_open(s->logs, s->meta, &io, &s->insights, err)) != OWL_OK)
        goto fail;
    if ((rc = owl_audit_open(s->store, (int)cfg->audit_retention_days, &s->audit, err)) != OWL_OK)
        goto fail;
    if ((rc = owl_selfmetrics_new(&s->selfmetrics)) != OWL_OK) {
        owl_error_set(err, rc, "out of memory");
        goto fail;
    }
    if ((rc = owl_tail_new(&s->tail)) != OWL_OK ||
        (rc = owl_logtail_new(&s->logtail)) != OWL_OK) {
        owl_error_set(err, rc, "out of memory");
        goto fail;
    }
    owl_logs_set_sink(s->logs, owl_logtail_publish, s->logtail);
    if ((rc = owl_auth_guard_new(cfg->auth_fail_limit, &s->guard)) != OWL_OK) {
        owl_error_set(err, rc, "out of memory");
        goto fail;
    }
    if ((rc = owl_keys_bootstrap(s, err)) != OWL_OK)
        goto fail;
    if (first || adopt) { /* last: a crash before this is retried as a first start */
        if ((rc = marker_write(cfg->data_dir, err)) != OWL_OK)
            goto fail;
        owl_info(first ? "first start: initialised %s" : "adopted %s (no " MARKER_NAME
                                                          " yet): wrote the marker",
                 cfg->data_dir);
    }
    for (size_t i = 0; i < OWL_ARRAY_LEN(route_tables); i++)
        owl_router_add(&s->router, route_tables[i]);
    owl_http_limits lim = {
        .max_header_bytes = (size_t)cfg->max_header_bytes,
        .max_body_bytes = (size_t)cfg->max_body_bytes,
        .read_timeout_ms = (int)cfg->read_timeout_ms,
        .idle_timeout_ms = (int)cfg->idle_timeout_ms,
        .max_connections = (int)cfg->max_connections,
        .shutdown_grace_ms = (int)cfg->shutdown_grace_ms,
        .stream_buffer_bytes = (size_t)cfg->stream_buffer_bytes,
        .stream_stall_ms = (int)cfg->stream_stall_ms,
        .stream_heartbeat_ms = cfg->stream_heartbeat_ms ? (int)cfg->stream_heartbeat_ms : -1,
        .preauth_body_bytes = (size_t)cfg->preauth_body_bytes,
        .max_buffered_bytes = (size_t)cfg->max_buffered_mib << 20,
    };
    owl_http_callbacks cb = {.handle = handle, .done = done, .ud = s, .head = head};
    if ((rc = owl_http_server_create(cfg->listen_host, cfg->listen_port, cfg->workers, &lim, &cb,
                                     &s->http, err)) != OWL_OK)
        goto fail;
    if ((rc = owl_xray_daemon_start(s, &s->xray_daemon, err)) != OWL_OK)
        goto fail;
    *out = s;
    return OWL_OK;
fail:
    owl_server_close(s);
    return rc;
}

int owl_server_run(owl_server *s, owl_error *err)
{
    int rc = owl_http_server_start(s->http, err);
    if (rc != OWL_OK)
        return rc;
    owl_info("owld listening on %s:%d, data in %s", s->cfg.listen_host,
             owl_http_server_port(s->http), s->cfg.data_dir);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    owl_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    owl_insights_shutdown(s->insights); /* a request waiting on a query returns at once */
    owl_http_server_stop(s->http);
    owl_xray_daemon_stop(s->xray_daemon); /* stores the datagrams still queued */
    s->xray_daemon = NULL;
    owl_error ferr = {0};
    if (owl_audit_flush(s->audit, INT64_MAX, &ferr) != OWL_OK)
        owl_errorf("audit: failed authentications not written: %s", ferr.msg);
    if (owl_store_flush(s->store, &ferr) != OWL_OK)
        owl_errorf("flushing the store: %s (the WAL keeps the rows)", ferr.msg);
    owl_info("stopped");
    return OWL_OK;
}

void owl_server_close(owl_server *s)
{
    if (!s)
        return;
    owl_http_server_destroy(s->http);
    owl_xray_daemon_stop(s->xray_daemon); /* when owl_server_run did not */
    owl_tail_free(s->tail); /* after the server: its streams are ended by now */
    if (s->logs) /* no put runs any more: the server is gone */
        owl_logs_set_sink(s->logs, NULL, NULL);
    owl_logtail_free(s->logtail);
    owl_audit_close(s->audit); /* writes the pending failed-authentication groups */
    owl_auth_guard_free(s->guard);
    owl_alarm_actions_stop(s->alarm_actions); /* it writes the alarms' history */
    owl_alarms_close(s->alarms);   /* its evaluator reads the metrics */
    owl_alarm_tags_close(s->alarm_tags);
    owl_traces_close(s->traces);   /* after the alarms (their evidence reads it), before the
                                    * metrics it writes the RED statistics gathered to */
    owl_metrics_close(s->metrics); /* before the store and meta it writes to */
    owl_insights_close(s->insights); /* its queries read the logs */
    owl_logs_close(s->logs);       /* persists the streams' times into meta */
    owl_store_close(s->store);
    owl_selfmetrics_free(s->selfmetrics);
    owl_sampling_close(s->sampling); /* after the servers that answer from it */
    owl_meta_close(s->meta);
    memset(s->master_key, 0, sizeof s->master_key);
    free(s);
}

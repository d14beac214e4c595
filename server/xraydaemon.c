/* xraydaemon.c — owld as the X-Ray daemon its SDKs talk to (docs/api/xray-daemon.md):
 *   UDP  ADDR  segment documents, one per datagram after the header line
 *              {"format":"json","version":1}, stored in the daemon tenant;
 *   TCP  ADDR  X-Ray's sampling actions (sampling_api.c): the SDKs' POST /GetSamplingRules
 *              and POST /SamplingTargets, and the rule changes and statistics, on the
 *              daemon tenant's rules (sampling.c).
 * Neither side authenticates, as the real daemon does not (it signs what it forwards with
 * its own credentials): it listens on loopback by default, and what it receives goes to one
 * tenant (--xray-daemon-tenant, else the admin's). Rule changes are audited all the same.
 *
 * The reader drains what the socket holds (recvmmsg, up to DRAIN_MAX datagrams or DRAIN_NS
 * of reading) and stores the kept spans of all of them with one owl_traces_put, so a burst
 * costs one WAL sync. A refused datagram is counted and logged (debug, and a warning at most
 * every 10 s); UDP has no answer. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/audit.h"
#include "server/sampling.h"
#include "server/server.h"

#define RECV_BATCH 64              /* datagrams read per recvmmsg (their buffers reused) */
#define DRAIN_MAX 256              /* datagrams stored with one owl_traces_put ... */
#define DRAIN_NS 1000000           /* ... or what was read within 1 ms */
#define DGRAM_MAX (OWL_XRAY_MAX_DOC + 256) /* a 64 KiB document and its header line */
#define DGRAM_MAX_SPANS 10000      /* segments and subsegments of one datagram */
#define WARN_EVERY_MS 10000        /* refusals: one warning per 10 s at most */

struct owl_xray_daemon {
    owl_server *srv;
    char tenant[OWL_TENANT_LEN + 1];
    int fd;                        /* UDP */
    owl_http_server *http;         /* TCP, sampling */
    pthread_t thread;
    int thread_started;
    _Atomic int stop;
    _Atomic uint64_t datagrams, refused, spans, puts, put_failures;
    int64_t last_warn_ms;          /* the reader's alone */
};

/* ---- UDP ---- */

/* One put for the spans of dec[0..n). */
static void store_batch(owl_xray_daemon *d, owl_xray_decoded *dec, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += dec[i].spans.n;
    if (!total)
        return;
    owl_span *all = malloc(total * sizeof *all);
    if (!all) {
        atomic_fetch_add(&d->put_failures, 1);
        owl_warn("xray daemon: out of memory: %zu spans dropped", total);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(all + k, dec[i].spans.spans, dec[i].spans.n * sizeof *all);
        k += dec[i].spans.n;
    }
    owl_error err = {0};
    size_t expired = 0;
    int rc = owl_traces_put(d->srv->traces, d->tenant, all, total, &expired, &err);
    if (rc != OWL_OK) {
        atomic_fetch_add(&d->put_failures, 1);
        owl_warn("xray daemon: %zu spans not stored: %s", total, err.msg);
    } else {
        atomic_fetch_add(&d->puts, 1);
        atomic_fetch_add(&d->spans, total - expired);
    }
    free(all);
}

static void refused(owl_xray_daemon *d, const owl_error *err)
{
    uint64_t n = atomic_fetch_add(&d->refused, 1) + 1;
    owl_debug("xray daemon: datagram refused: %s", err->msg);
    int64_t now = owl_now_ms();
    if (now - d->last_warn_ms >= WARN_EVERY_MS) {
        d->last_warn_ms = now;
        owl_warn("xray daemon: a datagram refused (%" PRIu64 " so far): %s", n, err->msg);
    }
}

/* Decodes the datagram of msg into *dec; OWL_OK when it holds spans to store. */
static int decode(owl_xray_daemon *d, const struct mmsghdr *msg, owl_xray_decoded *dec)
{
    owl_error err = {0};
    const struct iovec *iov = msg->msg_hdr.msg_iov;
    int rc = (msg->msg_hdr.msg_flags & MSG_TRUNC)
                 ? owl_error_set(&err, OWL_ETOOBIG, "datagram over %d bytes", DGRAM_MAX)
                 : owl_xray_decode_datagram(iov->iov_base, msg->msg_len, DGRAM_MAX_SPANS, dec,
                                            &err);
    if (rc == OWL_OK && dec->spans.rejected) {
        snprintf(err.msg, sizeof err.msg, "%s", dec->spans.message);
        rc = OWL_EINVAL;
    }
    if (rc != OWL_OK)
        refused(d, &err);
    if (!dec->spans.n) {
        owl_xray_decoded_free(dec);
        return OWL_ENOTFOUND;
    }
    return OWL_OK;
}

/* Reads what the socket holds into dec[0..*nd): until it is empty, DRAIN_MAX datagrams were
 * read or DRAIN_NS passed. The decoded spans own their bytes (their arena), so the receive
 * buffers are reused by each recvmmsg. */
static void drain(owl_xray_daemon *d, char *bufs, owl_xray_decoded *dec, size_t *nd)
{
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    int64_t t0 = owl_mono_ns();
    size_t read = 0;
    *nd = 0;
    while (read < DRAIN_MAX && owl_mono_ns() - t0 < DRAIN_NS) {
        int want = DRAIN_MAX - read < RECV_BATCH ? (int)(DRAIN_MAX - read) : RECV_BATCH;
        for (int i = 0; i < want; i++) {
            iov[i].iov_base = bufs + (size_t)i * DGRAM_MAX;
            iov[i].iov_len = DGRAM_MAX;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(d->fd, msgs, (unsigned)want, MSG_DONTWAIT, NULL);
        if (got <= 0)
            break;
        read += (size_t)got;
        atomic_fetch_add(&d->datagrams, (uint64_t)got);
        for (int i = 0; i < got; i++)
            if (decode(d, &msgs[i], &dec[*nd]) == OWL_OK)
                (*nd)++;
        if (got < want)
            break; /* the socket is empty */
    }
}

static void *reader(void *arg)
{
    owl_xray_daemon *d = arg;
    char *bufs = malloc((size_t)RECV_BATCH * DGRAM_MAX);
    owl_xray_decoded *dec = calloc(DRAIN_MAX, sizeof *dec);
    if (!bufs || !dec) {
        owl_errorf("xray daemon: out of memory: the UDP reader stops");
        goto out;
    }
    for (;;) {
        /* once asked to stop, what the socket still holds is read and stored, then out */
        int stopping = atomic_load(&d->stop);
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        int r = poll(&p, 1, stopping ? 0 : 200);
        if (r <= 0) {
            if (stopping)
                break;
            continue;
        }
        size_t nd;
        drain(d, bufs, dec, &nd);
        store_batch(d, dec, nd);
        for (size_t i = 0; i < nd; i++)
            owl_xray_decoded_free(&dec[i]);
    }
out:
    free(dec);
    free(bufs);
    return NULL;
}

/* ---- TCP: the sampling calls ---- */

static void sampling_error(owl_http_resp *resp, int status, const char *type, const char *msg)
{
    owl_buf b = OWL_BUF_INIT;
    int rc = owl_buf_printf(&b, "{\"__type\":\"%s\",\"message\":", type);
    rc = rc ? rc : owl_buf_json_str(&b, msg, strlen(msg));
    rc = rc ? rc : owl_buf_putc(&b, '}');
    owl_http_resp_header(resp, "x-amzn-ErrorType", type);
    if (rc == OWL_OK)
        owl_http_resp_json(resp, status, b.data, b.len);
    else
        owl_http_resp_json(resp, 500, "{\"__type\":\"InternalFailure\"}", SIZE_MAX);
    owl_buf_free(&b);
}

/* A rule change made through the port goes to the audit trail as the main port's do, with no
 * key (none is given here); when its event cannot be written the answer becomes 507, as
 * owld.c's handle() does. X-Ray's reading actions all start with "Get". */
static void audit_change(owl_xray_daemon *d, owl_call *call, const owl_aws_op *op)
{
    owl_http_req *req = call->req;
    owl_audit_event ev;
    owl_error err = {0};
    if (!strncmp(op->name, "Get", 3))
        return;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = owl_now_ms();
    owl_strlcpy(ev.tenant, d->tenant, sizeof ev.tenant);
    owl_strlcpy(ev.source, req->remote_addr, sizeof ev.source);
    const char *ua = owl_http_req_header(req, "user-agent");
    owl_strlcpy(ev.user_agent, ua ? ua : "", sizeof ev.user_agent);
    owl_strlcpy(ev.action, op->action, sizeof ev.action);
    owl_strlcpy(ev.resource, call->resource, sizeof ev.resource);
    ev.status = call->resp->status;
    owl_strlcpy(ev.error_code, call->error_code, sizeof ev.error_code);
    owl_strlcpy(ev.request_id, req->request_id, sizeof ev.request_id);
    ev.duration_us = (owl_mono_ns() - req->start_mono_ns) / 1000;
    if (owl_audit_record(d->srv->audit, &ev, &err) == OWL_OK)
        return;
    owl_errorf("xray daemon: audit event for %s not written: %s", ev.request_id, err.msg);
    owl_buf_reset(&call->resp->headers);
    owl_buf_reset(&call->resp->body);
    sampling_error(call->resp, 507, "InsufficientStorage",
                   "the audit event of this request could not be written (storage full or "
                   "failing): the request is refused");
}

/* The X-Ray sampling actions (sampling_api.c) in the daemon's tenant, as the main port's
 * router serves them to an authenticated caller of that tenant. */
static void sampling_handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    owl_xray_daemon *d = ud;
    static const owl_aws_service *const svcs[] = {&owl_sampling_service};
    owl_aws_request rq = {
        .method = req->method,
        .path = req->path,
        .query = req->query ? req->query : "",
        .content_type = owl_http_req_header(req, "content-type"),
        .body = req->body.data,
        .body_len = req->body.len,
        .request_id = req->request_id,
    };
    owl_aws_match m;
    owl_aws_match_request(svcs, OWL_ARRAY_LEN(svcs), &rq, &m);
    owl_http_resp_header(resp, "x-amzn-RequestId", req->request_id);
    if (!m.op) {
        sampling_error(resp, 404, "UnknownOperationException",
                       "the X-Ray daemon port answers POST /GetSamplingRules, /SamplingTargets, "
                       "/SamplingStatisticSummaries, /CreateSamplingRule, /UpdateSamplingRule "
                       "and /DeleteSamplingRule");
        return;
    }
    owl_principal p;
    owl_call call;
    memset(&p, 0, sizeof p);
    memset(&call, 0, sizeof call);
    owl_strlcpy(p.tenant, d->tenant, sizeof p.tenant);
    call.srv = d->srv, call.req = req, call.resp = resp, call.principal = &p;
    call.proto = OWL_PROTO_AWS_REST, call.action = m.op->action, call.svc = m.svc;
    resp->action = m.op->action;
    owl_aws_reply reply = {.headers = &resp->headers, .body = &resp->body};
    owl_aws_serve(&m, &rq, &call, &reply);
    resp->status = reply.status;
    resp->content_type = reply.content_type;
    owl_strlcpy(call.error_code, reply.error_code, sizeof call.error_code);
    audit_change(d, &call, m.op);
}

/* ---- start, stop ---- */

static int udp_bind(const char *host, int port, int *fd_out, int *port_out, owl_error *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return owl_error_set(err, OWL_EINVAL, "%s is not an IPv4 address", host);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return owl_error_set(err, OWL_EIO, "socket: %s", strerror(errno));
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return owl_error_set(err, OWL_EIO, "UDP %s:%d: %s", host, port,
                             strerror(e));
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *fd_out = fd;
    *port_out = ntohs(a.sin_port);
    return OWL_OK;
}

/* Frees d, stopping what was started. Accepts NULL and a half-built d. */
static void destroy(owl_xray_daemon *d)
{
    if (!d)
        return;
    if (d->thread_started) {
        atomic_store(&d->stop, 1);
        pthread_join(d->thread, NULL); /* it stores what it read before it returns */
    }
    owl_http_server_destroy(d->http);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

/* Binds UDP and TCP on host:port; with port 0, a port free for both. */
static int bind_both(owl_xray_daemon *d, const char *host, int port, int *bound, owl_error *err)
{
    int rc = OWL_OK;
    *bound = 0;
    for (int tries = 0; tries < 20 && !*bound; tries++) {
        if ((rc = udp_bind(host, port, &d->fd, bound, err)) != OWL_OK)
            return rc;
        owl_http_limits lim = OWL_HTTP_DEFAULT_LIMITS;
        lim.max_body_bytes = 1 << 20;
        lim.max_connections = 256;
        owl_http_callbacks cb = {.handle = sampling_handle, .ud = d};
        rc = owl_http_server_create(host, *bound, 1, &lim, &cb, &d->http, err);
        if (rc == OWL_OK)
            return OWL_OK;
        close(d->fd);
        d->fd = -1;
        *bound = 0;
        if (port != 0) /* the UDP port picked may be taken on TCP: pick another */
            return rc;
    }
    return rc != OWL_OK ? rc : owl_error_set(err, OWL_EIO, "no port free for UDP and TCP");
}

static int check_tenant(const char *tn, owl_error *err)
{
    if (!strcmp(tn, "admin") || (strlen(tn) == OWL_TENANT_LEN &&
                                 strspn(tn, "0123456789") == OWL_TENANT_LEN))
        return OWL_OK;
    return owl_error_set(err, OWL_EINVAL, "--xray-daemon-tenant: '%.32s' is not a tenant (12 "
                                          "digits) or admin", tn);
}

int owl_xray_daemon_start(owl_server *s, owl_xray_daemon **out, owl_error *err)
{
    const owl_config *cfg = &s->cfg;
    *out = NULL;
    if (!strcmp(cfg->xray_daemon, "off"))
        return OWL_OK;
    char host[256];
    int port, bound = 0;
    owl_error e = {0};
    if (owl_config_parse_hostport(cfg->xray_daemon, host, sizeof host, &port, &e) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "--xray-daemon: %s", e.msg);
    int rc = check_tenant(cfg->xray_daemon_tenant, err);
    if (rc != OWL_OK)
        return rc;
    owl_xray_daemon *d = calloc(1, sizeof *d);
    if (!d)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    d->srv = s;
    d->fd = -1;
    snprintf(d->tenant, sizeof d->tenant, "%.12s",
             strcmp(cfg->xray_daemon_tenant, "admin") ? cfg->xray_daemon_tenant
                                                      : s->admin_tenant);
    rc = bind_both(d, host, port, &bound, &e);
    if (rc == OWL_OK)
        rc = owl_http_server_start(d->http, &e);
    if (rc == OWL_OK) {
        if (pthread_create(&d->thread, NULL, reader, d) == 0)
            d->thread_started = 1;
        else
            rc = owl_error_set(&e, OWL_ENOMEM, "cannot start the UDP reader");
    }
    if (rc != OWL_OK) {
        destroy(d);
        if (!cfg->xray_daemon_given) {
            /* the default address busy (a real daemon, another owld): run without */
            owl_warn("xray daemon: not listening on %s (%s); X-Ray SDKs sending there go "
                     "elsewhere (--xray-daemon ADDR to choose, off to silence this)",
                     cfg->xray_daemon, e.msg);
            return OWL_OK;
        }
        return owl_error_set(err, rc, "--xray-daemon %s: %s", cfg->xray_daemon, e.msg);
    }
    owl_info("xray daemon: UDP and TCP %s:%d, tenant %s", host, bound, d->tenant);
    *out = d;
    return OWL_OK;
}

int owl_xray_daemon_port(const owl_xray_daemon *d)
{
    return d && d->http ? owl_http_server_port(d->http) : 0;
}

void owl_xray_daemon_stats_get(owl_xray_daemon *d, owl_xray_daemon_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!d)
        return;
    st->datagrams = atomic_load(&d->datagrams);
    st->refused = atomic_load(&d->refused);
    st->spans = atomic_load(&d->spans);
    st->puts = atomic_load(&d->puts);
    st->put_failures = atomic_load(&d->put_failures);
}

void owl_xray_daemon_stop(owl_xray_daemon *d)
{
    if (!d)
        return;
    owl_http_server_stop(d->http);
    atomic_store(&d->stop, 1);
    if (d->thread_started)
        pthread_join(d->thread, NULL);
    d->thread_started = 0;
    owl_xray_daemon_stats st;
    owl_xray_daemon_stats_get(d, &st);
    owl_info("xray daemon: %" PRIu64 " datagrams, %" PRIu64 " refused, %" PRIu64
             " spans stored", st.datagrams, st.refused, st.spans);
    destroy(d);
}

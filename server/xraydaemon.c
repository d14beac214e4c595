/* xraydaemon.c — owld as the X-Ray daemon its SDKs talk to (docs/api/xray-daemon.md):
 *   UDP  ADDR  segment documents, one per datagram after the header line
 *              {"format":"json","version":1}, stored in the daemon tenant;
 *   TCP  ADDR  the SDKs' sampling calls, POST /GetSamplingRules and POST /SamplingTargets,
 *              answered in X-Ray's shapes from the sampling rules (today the default rule).
 * Neither side authenticates, as the real daemon does not: it listens on loopback by
 * default, and what it receives goes to one tenant (--xray-daemon-tenant, else the admin's).
 *
 * The reader drains what the socket holds (recvmmsg, up to BATCH datagrams) and stores the
 * kept spans of all of them with one owl_traces_put, so a burst costs one WAL sync. A
 * refused datagram is counted and logged (rate-limited); UDP has no answer. */
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
#include "server/server.h"

#define BATCH 64                  /* datagrams read per recvmmsg */
#define DGRAM_MAX (OWL_XRAY_MAX_DOC + 256) /* a 64 KiB document and its header line */
#define DGRAM_MAX_SPANS 10000     /* segments and subsegments of one datagram */

/* A sampling rule as X-Ray describes it (GetSamplingRules). The servicemap issue adds rules
 * of the user's; until then the list holds X-Ray's default rule. */
typedef struct sampling_rule {
    const char *name;
    int priority;
    double fixed_rate;
    int reservoir;           /* traces per second sampled before the fixed rate applies */
    const char *service_name, *service_type, *host, *http_method, *url_path, *resource_arn;
} sampling_rule;

static const sampling_rule default_rules[] = {
    {"Default", 10000, 0.05, 1, "*", "*", "*", "*", "*", "*"},
};

struct owl_xray_daemon {
    owl_server *srv;
    char tenant[OWL_TENANT_LEN + 1];
    int fd;                        /* UDP */
    owl_http_server *http;         /* TCP, sampling */
    pthread_t thread;
    _Atomic int stop;
    _Atomic uint64_t received, refused, stored_spans;
    int64_t last_warn_ms;
    int64_t started_s;
    pthread_mutex_t mu;            /* the reservoir counters */
    int64_t quota_second;
    int quota_used;
};

/* ---- UDP ---- */

static void store_batch(owl_xray_daemon *d, owl_xray_decoded *dec, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += dec[i].spans.n;
    if (!total)
        return;
    owl_span *all = malloc(total * sizeof *all);
    if (!all) {
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
    if (rc != OWL_OK)
        owl_warn("xray daemon: %zu spans not stored: %s", total, err.msg);
    else
        atomic_fetch_add(&d->stored_spans, total - expired);
    free(all);
}

static void *reader(void *arg)
{
    owl_xray_daemon *d = arg;
    char *bufs = malloc((size_t)BATCH * DGRAM_MAX);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    owl_xray_decoded dec[BATCH];
    if (!bufs) {
        owl_errorf("xray daemon: out of memory: the UDP reader stops");
        return NULL;
    }
    memset(dec, 0, sizeof dec);
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
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs + (size_t)i * DGRAM_MAX;
            iov[i].iov_len = DGRAM_MAX;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(d->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            continue;
        size_t nd = 0;
        for (int i = 0; i < got; i++) {
            atomic_fetch_add(&d->received, 1);
            owl_error err = {0};
            int rc = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                         ? owl_error_set(&err, OWL_ETOOBIG, "datagram over %d bytes", DGRAM_MAX)
                         : owl_xray_decode_datagram(iov[i].iov_base, msgs[i].msg_len,
                                                    DGRAM_MAX_SPANS, &dec[nd], &err);
            if (rc == OWL_OK && dec[nd].spans.rejected) {
                snprintf(err.msg, sizeof err.msg, "%s", dec[nd].spans.message);
                rc = OWL_EINVAL;
            }
            if (rc != OWL_OK) {
                atomic_fetch_add(&d->refused, 1);
                int64_t now = owl_now_ms();
                if (now - d->last_warn_ms >= 10000) {
                    d->last_warn_ms = now;
                    owl_warn("xray daemon: a datagram refused (%" PRIu64 " so far): %s",
                             atomic_load(&d->refused), err.msg);
                }
            }
            if (dec[nd].spans.n)
                nd++;
            else
                owl_xray_decoded_free(&dec[nd]);
        }
        store_batch(d, dec, nd);
        for (size_t i = 0; i < nd; i++)
            owl_xray_decoded_free(&dec[i]);
    }
    free(bufs);
    return NULL;
}

/* ---- TCP: the sampling calls ---- */

static int rules_json(owl_buf *b, int64_t created_s)
{
    int rc = owl_buf_puts(b, "{\"SamplingRuleRecords\":[");
    for (size_t i = 0; i < OWL_ARRAY_LEN(default_rules) && !rc; i++) {
        const sampling_rule *r = &default_rules[i];
        rc = owl_buf_printf(
            b,
            "%s{\"SamplingRule\":{\"RuleName\":\"%s\",\"RuleARN\":\"arn:aws:xray:us-east-1:"
            "000000000000:sampling-rule/%s\",\"ResourceARN\":\"%s\",\"Priority\":%d,"
            "\"FixedRate\":%g,\"ReservoirSize\":%d,\"ServiceName\":\"%s\",\"ServiceType\":"
            "\"%s\",\"Host\":\"%s\",\"HTTPMethod\":\"%s\",\"URLPath\":\"%s\",\"Version\":1,"
            "\"Attributes\":{}},\"CreatedAt\":%" PRId64 ",\"ModifiedAt\":%" PRId64 "}",
            i ? "," : "", r->name, r->name, r->resource_arn, r->priority, r->fixed_rate,
            r->reservoir, r->service_name, r->service_type, r->host, r->http_method,
            r->url_path, created_s, created_s);
    }
    return rc ? rc : owl_buf_puts(b, "]}");
}

static const sampling_rule *rule_named(const char *name, size_t n)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(default_rules); i++)
        if (strlen(default_rules[i].name) == n && !memcmp(default_rules[i].name, name, n))
            return &default_rules[i];
    return NULL;
}

/* SamplingTargets: each statistics document of a known rule gets its target — the rule's
 * fixed rate and a share of its reservoir: X-Ray hands each rule's reservoir out across all
 * clients per second; here the first clients to ask in a second take it. */
static int targets_json(owl_xray_daemon *d, const bson_t *in, owl_buf *b)
{
    bson_iter_t it, arr, f;
    int rc = owl_buf_puts(b, "{\"SamplingTargetDocuments\":[");
    int first = 1;
    owl_buf unproc = OWL_BUF_INIT;
    int64_t now = owl_now_ms() / 1000;
    if (bson_iter_init_find(&it, in, "SamplingStatisticsDocuments") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr))
        while (!rc && bson_iter_next(&arr)) {
            bson_t doc;
            uint32_t len;
            const uint8_t *data;
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
                continue;
            bson_iter_document(&arr, &len, &data);
            if (!bson_init_static(&doc, data, len))
                continue;
            const char *name = NULL;
            uint32_t nl = 0;
            if (bson_iter_init_find(&f, &doc, "RuleName") && BSON_ITER_HOLDS_UTF8(&f))
                name = bson_iter_utf8(&f, &nl);
            const sampling_rule *r = name ? rule_named(name, nl) : NULL;
            if (!r) {
                rc = owl_buf_printf(&unproc, "%s{\"RuleName\":", unproc.len ? "," : "");
                rc = rc ? rc : owl_buf_json_str(&unproc, name ? name : "", name ? nl : 0);
                rc = rc ? rc : owl_buf_puts(&unproc, ",\"ErrorCode\":\"400\",\"Message\":"
                                                     "\"no such sampling rule\"}");
                continue;
            }
            pthread_mutex_lock(&d->mu);
            if (d->quota_second != now) {
                d->quota_second = now;
                d->quota_used = 0;
            }
            int quota = d->quota_used < r->reservoir ? r->reservoir - d->quota_used : 0;
            d->quota_used += quota;
            pthread_mutex_unlock(&d->mu);
            rc = owl_buf_printf(b,
                                "%s{\"RuleName\":\"%s\",\"FixedRate\":%g,\"ReservoirQuota\":%d,"
                                "\"ReservoirQuotaTTL\":%" PRId64 ",\"Interval\":10}",
                                first ? "" : ",", r->name, r->fixed_rate, quota, now + 10);
            first = 0;
        }
    rc = rc ? rc : owl_buf_printf(b, "],\"LastRuleModification\":%" PRId64
                                     ",\"UnprocessedStatistics\":[",
                                  d->started_s);
    if (!rc && unproc.len)
        rc = owl_buf_append(b, unproc.data, unproc.len);
    owl_buf_free(&unproc);
    return rc ? rc : owl_buf_puts(b, "]}");
}

static void sampling_handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    owl_xray_daemon *d = ud;
    owl_buf b = OWL_BUF_INIT;
    int rules = !strcmp(req->path, "/GetSamplingRules"),
        targets = !strcmp(req->path, "/SamplingTargets");
    if (strcmp(req->method, "POST") != 0 || (!rules && !targets)) {
        owl_http_resp_header(resp, "x-amzn-ErrorType", "UnknownOperationException");
        owl_http_resp_json(resp, 404,
                           "{\"__type\":\"UnknownOperationException\",\"message\":\"the X-Ray "
                           "daemon port answers POST /GetSamplingRules and POST "
                           "/SamplingTargets\"}",
                           SIZE_MAX);
        return;
    }
    bson_t in = BSON_INITIALIZER;
    owl_error err = {0};
    int rc = owl_aws_json_decode(req->body.data, req->body.len, &in, &err);
    if (rc != OWL_OK) {
        bson_destroy(&in);
        owl_buf_puts(&b, "{\"__type\":\"InvalidRequestException\",\"message\":");
        owl_buf_json_str(&b, err.msg, strlen(err.msg));
        owl_buf_putc(&b, '}');
        owl_http_resp_header(resp, "x-amzn-ErrorType", "InvalidRequestException");
        owl_http_resp_json(resp, 400, b.data ? b.data : "{}", b.data ? b.len : 2);
        owl_buf_free(&b);
        return;
    }
    rc = rules ? rules_json(&b, d->started_s) : targets_json(d, &in, &b);
    bson_destroy(&in);
    if (rc == OWL_OK && b.data)
        owl_http_resp_json(resp, 200, b.data, b.len);
    else
        owl_http_resp_json(resp, 500, "{\"__type\":\"InternalFailure\"}", SIZE_MAX);
    owl_buf_free(&b);
}

/* ---- start, stop ---- */

static int udp_bind(const char *host, int port, int *fd_out, int *port_out, owl_error *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return owl_error_set(err, OWL_EINVAL, "--xray-daemon: %s is not an IPv4 address", host);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return owl_error_set(err, OWL_EIO, "--xray-daemon: socket: %s", strerror(errno));
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return owl_error_set(err, OWL_EIO, "--xray-daemon: UDP %s:%d: %s", host, port,
                             strerror(e));
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *fd_out = fd;
    *port_out = ntohs(a.sin_port);
    return OWL_OK;
}

int owl_xray_daemon_start(owl_server *s, owl_xray_daemon **out, owl_error *err)
{
    const owl_config *cfg = &s->cfg;
    *out = NULL;
    if (!strcmp(cfg->xray_daemon, "off"))
        return OWL_OK;
    int is_default = !strcmp(cfg->xray_daemon, OWL_XRAY_DAEMON_DEFAULT);
    char host[256];
    int port;
    owl_error e = {0};
    int rc = owl_config_parse_hostport(cfg->xray_daemon, host, sizeof host, &port, &e);
    if (rc != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "--xray-daemon: %s", e.msg);
    const char *tn = cfg->xray_daemon_tenant;
    if (strcmp(tn, "admin") && (strlen(tn) != OWL_TENANT_LEN || strspn(tn, "0123456789") !=
                                                                    OWL_TENANT_LEN))
        return owl_error_set(err, OWL_EINVAL, "--xray-daemon-tenant: '%.32s' is not a tenant "
                                              "(12 digits) or admin", tn);
    owl_xray_daemon *d = calloc(1, sizeof *d);
    if (!d)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    d->srv = s;
    d->fd = -1;
    d->started_s = owl_now_ms() / 1000;
    pthread_mutex_init(&d->mu, NULL);
    snprintf(d->tenant, sizeof d->tenant, "%.12s", strcmp(tn, "admin") ? tn : s->admin_tenant);
    int bound = 0;
    /* UDP and TCP on the same port: with port 0 the UDP port picked is tried on TCP */
    for (int tries = 0; tries < 20 && rc == OWL_OK && !bound; tries++) {
        if ((rc = udp_bind(host, port, &d->fd, &bound, &e)) != OWL_OK)
            break;
        owl_http_limits lim = OWL_HTTP_DEFAULT_LIMITS;
        lim.max_body_bytes = 1 << 20;
        lim.max_connections = 256;
        owl_http_callbacks cb = {.handle = sampling_handle, .ud = d};
        rc = owl_http_server_create(host, bound, 1, &lim, &cb, &d->http, &e);
        if (rc != OWL_OK && port == 0) {
            close(d->fd);
            d->fd = -1;
            bound = 0;
            rc = OWL_OK;
            continue;
        }
    }
    if (rc == OWL_OK && !bound)
        rc = owl_error_set(&e, OWL_EIO, "no free port for UDP and TCP at once");
    if (rc == OWL_OK && (rc = owl_http_server_start(d->http, &e)) == OWL_OK) {
        if (pthread_create(&d->thread, NULL, reader, d) != 0)
            rc = owl_error_set(&e, OWL_ENOMEM, "cannot start the UDP reader");
    }
    if (rc != OWL_OK) {
        owl_http_server_destroy(d->http);
        if (d->fd >= 0)
            close(d->fd);
        pthread_mutex_destroy(&d->mu);
        free(d);
        if (is_default) { /* the default address busy (another daemon): run without */
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

void owl_xray_daemon_stop(owl_xray_daemon *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, 1);
    pthread_join(d->thread, NULL); /* stores what it read before it returns */
    owl_http_server_destroy(d->http);
    close(d->fd);
    owl_info("xray daemon: %" PRIu64 " datagrams, %" PRIu64 " refused, %" PRIu64
             " spans stored",
             atomic_load(&d->received), atomic_load(&d->refused), atomic_load(&d->stored_spans));
    pthread_mutex_destroy(&d->mu);
    free(d);
}

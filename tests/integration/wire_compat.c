/* wire_compat.c — issue 16's wire compatibility: libowl's export, in both encodings, decodes
 * in owld to the same records as what the OpenTelemetry JS SDK sends for the same telemetry
 * (tests/otel/wire.mjs makes that; t_client_wire.sh runs both; docs/client.md "Wire
 * compatibility").
 *   wire_compat export DIR proto|json  libowl makes wire.mjs's telemetry and exports it over
 *                                      real HTTP to a capture endpoint in this process:
 *                                      DIR/owl-<enc>.<signal>.<n>.body and .meta (Content-Type,
 *                                      Content-Encoding), as wire.mjs stores js-<enc>
 *   wire_compat compare DIR            decodes every capture with owld's decoders, turns each
 *                                      record into facts ("subject path = value"), normalises
 *                                      them (the table `rules`), and compares js-proto with
 *                                      owl-proto, js-json with owl-json, and each source's two
 *                                      encodings; prints every difference; exit 1 when any.
 *   wire_compat facts DIR LABEL        the facts of one source (js-proto, owl-json, ...).
 * Built from the client's sources plus the server's libraries, as test_client_otlp is. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/unit/client_renamed.h"

#include "ingest/ingest.h"

/* ---- the capture endpoint: one connection at a time (libowl's exporter has one) ---- */

typedef struct capture {
    int fd;
    int port;
    const char *dir;
    char label[16];
    int seq;
    int failed; /* a request it could not read or store */
    pthread_t th;
} capture;

/* The value of header `name` in the header block h (lines ending CRLF), copied into out
 * (cap bytes, "" when absent). */
static void header(const char *h, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    out[0] = 0;
    for (const char *l = strstr(h, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *k = l + 2;
        if (strncasecmp(k, name, n) || k[n] != ':')
            continue;
        k += n + 1;
        while (*k == ' ')
            k++;
        size_t len = strcspn(k, "\r");
        if (len >= cap)
            len = cap - 1;
        memcpy(out, k, len);
        out[len] = 0;
        return;
    }
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(p, 1, n, f) == n ? 0 : -1;
    return fclose(f) || rc ? -1 : 0;
}

/* Serves one request on connection c: 0 served, -1 the connection ended or failed. */
static int serve_one(capture *cp, int c)
{
    static char buf[1 << 20];
    size_t have = 0;
    char *end = NULL;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
        if (have == sizeof buf - 1)
            return -1;
        ssize_t r = read(c, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = 0;
    }
    *end = 0;
    char path[256], type[128], enc[64], len[32], expect[64];
    if (sscanf(buf, "POST %255s", path) != 1)
        return -1;
    header(buf, "Content-Type", type, sizeof type);
    header(buf, "Content-Encoding", enc, sizeof enc);
    header(buf, "Content-Length", len, sizeof len);
    header(buf, "Expect", expect, sizeof expect);
    size_t body_len = strtoul(len, NULL, 10), off = (size_t)(end + 4 - buf);
    if (!*len || off + body_len >= sizeof buf)
        return -1;
    if (*expect && write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
        return -1;
    while (have < off + body_len) {
        ssize_t r = read(c, buf + have, off + body_len - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    const char *signal = strrchr(path, '/');
    char base[512], meta[256], file[600];
    snprintf(base, sizeof base, "%s/%s.%s.%d", cp->dir, cp->label, signal ? signal + 1 : "x",
             cp->seq++);
    snprintf(meta, sizeof meta, "%s\n%s\n", type, enc);
    snprintf(file, sizeof file, "%s.body", base);
    int bad = write_file(file, buf + off, body_len);
    snprintf(file, sizeof file, "%s.meta", base);
    bad |= write_file(file, meta, strlen(meta));
    cp->failed |= bad != 0;
    int json = !strncmp(type, "application/json", 16);
    char answer[160];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
                     json ? "application/json" : "application/x-protobuf", json ? 2 : 0,
                     json ? "{}" : "");
    return write(c, answer, (size_t)n) == n ? 0 : -1;
}

static void *capture_main(void *arg)
{
    capture *cp = arg;
    int c;
    while ((c = accept(cp->fd, NULL, NULL)) >= 0) {
        while (!serve_one(cp, c))
            ;
        close(c);
    }
    return NULL;
}

/* Starts cp listening on an ephemeral loopback port. 0, or -1. */
static int capture_start(capture *cp)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cp->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cp->fd < 0 || bind(cp->fd, (struct sockaddr *)&a, sizeof a) || listen(cp->fd, 8) ||
        getsockname(cp->fd, (struct sockaddr *)&a, &al))
        return -1;
    cp->port = ntohs(a.sin_port);
    return pthread_create(&cp->th, NULL, capture_main, cp) ? -1 : 0;
}

static void capture_stop(capture *cp)
{
    shutdown(cp->fd, SHUT_RDWR);
    pthread_join(cp->th, NULL);
    close(cp->fd);
}

/* ---- the telemetry: wire.mjs's, made with libowl ---- */

static void hex_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

static void make_telemetry(void)
{
    owl_log_record *r = owl_log_start(OWL_CLIENT_LOG_INFO);
    owl_log_set_str(r, "app.version", "1.2.3");
    owl_log_set_int(r, "app.workers", 4);
    owl_log_set_double(r, "app.ratio", 0.75);
    owl_log_set_bool(r, "app.debug", 0);
    owl_log_emit(r, "wire started");

    uint8_t lt[16], ls[8];
    hex_bytes("0af7651916cd43dd8448eb211c80319c", lt, 16);
    hex_bytes("b7ad6b7169203331", ls, 8);
    owl_context *linked = owl_context_new(lt, ls, 1);
    owl_client_span *srv = owl_span_start_http(OWL_KIND_SERVER, "GET", "/orders/{id}",
                                               "shop.example", NULL, OWL_SPAN_ROOT);
    owl_span_add_link(srv, linked);
    owl_context_free(linked);
    owl_span_set_str(srv, "order.id", "o-42");
    owl_span_set_int(srv, "order.items", 3);
    owl_span_set_double(srv, "order.total", 12.5);
    owl_span_set_bool(srv, "order.express", 1);
    owl_span_add_event(srv, "cache.miss");
    owl_span_event_set_str(srv, "cache.key", "order:42");
    owl_span_event_set_int(srv, "cache.tier", 2);
    owl_span_event_set_bool(srv, "cache.hot", 0);
    owl_span_event_set_double(srv, "cache.load", 0.5);

    owl_client_span *cli = owl_span_start_http(OWL_KIND_CLIENT, "GET",
                                               "http://inventory:8080/stock/42", NULL, NULL, 0);
    owl_client_span *inner = owl_span_start("parse stock", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_int(inner, "stock.count", 7);
    owl_span_end(inner);
    owl_span_set_http(cli, "GET", "http://inventory:8080/stock/42", 200);
    owl_span_end(cli);

    owl_client_span *pub = owl_span_start("orders publish", OWL_KIND_PRODUCER, NULL, 0);
    owl_span_set_str(pub, "messaging.system", "kafka");
    owl_span_set_str(pub, "messaging.destination.name", "orders");
    owl_span_end(pub);

    owl_span_record_exception(srv, "TimeoutError", "inventory timed out",
                              "TimeoutError: inventory timed out\n    at lookup (orders:42)");
    r = owl_log_start(OWL_CLIENT_LOG_ERROR);
    owl_log_set_str(r, "order.id", "o-42");
    owl_log_emit(r, "order lookup failed");
    owl_span_set_status(srv, OWL_STATUS_ERROR, "order lookup failed");
    owl_span_end(srv);

    owl_metric *req = owl_counter("wire.requests", "{request}", "requests served");
    owl_metric_add(owl_metric_series(req, "route", "/a", NULL), 1);
    owl_metric_add(owl_metric_series(req, "route", "/a", NULL), 2);
    owl_metric_add(owl_metric_series(req, "route", "/b", NULL), 5);
    owl_metric *queue = owl_updown_counter("wire.queue", "{item}", NULL);
    owl_metric_add(queue, 10);
    owl_metric_add(queue, -3);
    owl_metric_set(owl_gauge("wire.temperature", "Cel", NULL), 21.5);
    static const double bounds[] = {5, 10, 25};
    owl_metric *lat = owl_histogram("wire.latency", "ms", NULL, bounds, 3);
    static const double values[] = {3, 7, 7, 12, 30};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        owl_metric_record(lat, values[i]);
}

/* export DIR proto|json: 0 when every request was captured and nothing dropped. */
static int cmd_export(const char *dir, const char *enc)
{
    capture cp = {.dir = dir};
    snprintf(cp.label, sizeof cp.label, "owl-%s", enc);
    if (capture_start(&cp)) {
        perror("capture endpoint");
        return 1;
    }
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/%s", cp.port, cp.label);
    owl_config *c = owl_config_new();
    int rc = !c || owl_config_set(c, "endpoint", endpoint) ||
             owl_config_set(c, "service.name", "wire") || owl_config_set(c, "resource", NULL) ||
             owl_config_set(c, "headers", NULL) ||
             owl_config_set(c, "protocol", strcmp(enc, "json") ? "http/protobuf" : "http/json") ||
             owl_config_set(c, "compression", "gzip") || /* the receiver's gunzip path too */
             owl_init(c);
    owl_config_free(c);
    if (!rc) {
        make_telemetry();
        rc = owl_shutdown(10000) != 0;
        rc |= owl_dropped_spans() != 0 || owl_dropped_logs() != 0;
    }
    capture_stop(&cp);
    printf("%s: %d requests captured, shutdown %s\n", cp.label, cp.seq, rc ? "failed" : "ok");
    return rc || cp.failed || cp.seq < 3;
}

/* ---- facts: each decoded record as "subject path = value" lines ---- */

/* What must differ between the two and is normalised before comparing, and why (the same
 * list is in docs/client.md "Wire compatibility"). Paths are fnmatch patterns over
 * "<document>/<member>/...". */
enum action {
    DROP,     /* not compared */
    MAP_ID,   /* an id named by the span it is (below) */
    OWL_ONLY  /* sent by libowl, not by the JS SDK: compared between libowl's encodings only */
};
static const struct rule {
    const char *path;
    enum action action;
    const char *why;
} rules[] = {
    {"*/time_ns", DROP, "event times: each SDK stamps its own clock"},
    {"resource/resource/telemetry.sdk.*", DROP,
     "the SDK's identity: opentelemetry/nodejs/1.30.1 against libowl/c/" OWL_VERSION_STRING},
    {"attrs/resource/telemetry.sdk.*", DROP, "the same, in a log record's resource"},
    {"resource/scope/*", DROP,
     "the instrumentation scope: the JS program names its tracer (wire 1.0.0), libowl's is "
     "libowl and its version"},
    {"attrs/scope/*", DROP, "the same, in a log record"},
    {"attrs/flags", OWL_ONLY,
     "Span.flags (W3C flags and OTLP 1.1's bits 8-9, the parent remote or not): libowl sends "
     "them (257: sampled, parent not remote), the JS SDK's transformer 0.57 does not"},
    {"attrs/links/*/trace_id", MAP_ID, "a link's ids: named by the span they point at"},
    {"attrs/links/*/span_id", MAP_ID, "(ids outside the telemetry stay as they are)"},
};

typedef struct fact_list {
    char **v;
    size_t n, cap;
} fact_list;

typedef struct side {
    const char *label;
    fact_list facts;
    owl_span_decoded spans[4]; /* its traces requests, decoded */
    size_t nreq;
    size_t nspans, nlogs, ndatums;
} side;

static void add_fact(fact_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_fact(fact_list *l, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        if (!(l->v = realloc(l->v, l->cap * sizeof *l->v)))
            abort();
    }
    l->v[l->n++] = s;
}

/* The span of side sd whose span id is id (n 8), or the root span of trace id (n 16); NULL
 * when none. */
static const owl_span *span_of(const side *sd, const uint8_t *id, size_t n)
{
    static const uint8_t zero[8];
    for (size_t q = 0; q < sd->nreq; q++)
        for (size_t i = 0; i < sd->spans[q].n; i++) {
            const owl_span *s = &sd->spans[q].spans[i];
            if (n == 8 ? !memcmp(s->span_id, id, 8)
                       : !memcmp(s->trace_id, id, 16) && !memcmp(s->parent_id, zero, 8))
                return s;
        }
    return NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

/* An id as the fact shows it: "-" for none, "span <name>" / "trace of <root>" when it is one of
 * the side's, else its hex. */
static void id_text(const side *sd, const uint8_t *id, size_t n, char *out, size_t cap)
{
    const owl_span *s = span_of(sd, id, n);
    if (all_zero(id, n))
        snprintf(out, cap, "-");
    else if (s)
        snprintf(out, cap, n == 8 ? "span '%.*s'" : "trace of '%.*s'", (int)s->name.n,
                 (const char *)s->name.p);
    else
        for (size_t i = 0; i < n; i++)
            snprintf(out + 2 * i, cap - 2 * i, "%02x", id[i]);
}

static const struct rule *rule_of(const char *path)
{
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (!fnmatch(rules[i].path, path, 0))
            return &rules[i];
    return NULL;
}

/* s[0..n) quoted, control characters escaped, into a new string. */
static char *quoted(const char *s, size_t n)
{
    char *out = malloc(4 * n + 3), *w = out;
    if (!out)
        abort();
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            w += sprintf(w, "\\n");
        else if (c < 0x20 || c == '"' || c == '\\')
            w += sprintf(w, "\\x%02x", c);
        else
            *w++ = (char)c;
    }
    *w++ = '"';
    *w = 0;
    return out;
}

/* The mark a fact of an OWL_ONLY path carries at its end. */
#define OWL_ONLY_MARK " (libowl only)"

/* Adds a fact for each leaf of the BSON document it iterates, under path. */
static void bson_facts(const side *sd, fact_list *l, const char *subject, bson_iter_t *it,
                       const char *path)
{
    while (bson_iter_next(it)) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, bson_iter_key(it));
        const struct rule *r = rule_of(p);
        if (r && r->action == DROP)
            continue;
        bson_iter_t child;
        uint32_t len;
        const char *str;
        switch (bson_iter_type(it)) {
        case BSON_TYPE_DOCUMENT:
        case BSON_TYPE_ARRAY:
            if (bson_iter_recurse(it, &child))
                bson_facts(sd, l, subject, &child, p);
            break;
        case BSON_TYPE_UTF8: {
            str = bson_iter_utf8(it, &len);
            uint8_t id[16];
            char idt[80];
            if (r && r->action == MAP_ID && (len == 32 || len == 16)) {
                for (uint32_t i = 0; i < len / 2; i++)
                    sscanf(str + 2 * i, "%2hhx", &id[i]);
                id_text(sd, id, len / 2, idt, sizeof idt);
                add_fact(l, "%s %s = %s", subject, p, idt);
                break;
            }
            char *q = quoted(str, len);
            add_fact(l, "%s %s = string %s", subject, p, q);
            free(q);
            break;
        }
        case BSON_TYPE_INT32:
            add_fact(l, "%s %s = int32 %d", subject, p, bson_iter_int32(it));
            break;
        case BSON_TYPE_INT64:
            add_fact(l, "%s %s = int64 %lld%s", subject, p, (long long)bson_iter_int64(it),
                     r && r->action == OWL_ONLY ? OWL_ONLY_MARK : "");
            break;
        case BSON_TYPE_DOUBLE:
            add_fact(l, "%s %s = double %.17g", subject, p, bson_iter_double(it));
            break;
        case BSON_TYPE_BOOL:
            add_fact(l, "%s %s = bool %s", subject, p, bson_iter_bool(it) ? "true" : "false");
            break;
        case BSON_TYPE_NULL:
            add_fact(l, "%s %s = null", subject, p);
            break;
        default:
            add_fact(l, "%s %s = BSON type %d", subject, p, (int)bson_iter_type(it));
        }
    }
}

static void doc_facts(const side *sd, fact_list *l, const char *subject, owl_bytes doc,
                      const char *name)
{
    bson_t b;
    bson_iter_t it;
    if (!doc.n)
        return;
    if (!bson_init_static(&b, doc.p, doc.n) || !bson_iter_init(&it, &b)) {
        add_fact(l, "%s %s = not BSON", subject, name);
        return;
    }
    bson_facts(sd, l, subject, &it, name);
}

#define BYTES(b) (int)(b).n, (const char *)(b).p

static void span_facts(side *sd, const owl_span *s)
{
    fact_list *l = &sd->facts;
    char subject[300], idt[80];
    snprintf(subject, sizeof subject, "span '%.*s'", BYTES(s->name));
    add_fact(l, "%s kind = %s", subject, owl_span_kind_name(s->kind));
    id_text(sd, s->trace_id, 16, idt, sizeof idt);
    add_fact(l, "%s trace = %s", subject, idt);
    id_text(sd, s->parent_id, 8, idt, sizeof idt);
    add_fact(l, "%s parent = %s", subject, idt);
    add_fact(l, "%s service = %.*s", subject, BYTES(s->service));
    add_fact(l, "%s status = %s (code %d, message '%.*s')", subject,
             owl_span_status_name(s->status), s->status_code, BYTES(s->status_message));
    add_fact(l, "%s http = %.*s route '%.*s' url '%.*s' status %d", subject,
             BYTES(s->http_method), BYTES(s->route), BYTES(s->url), s->http_status);
    add_fact(l, "%s peer_service = '%.*s'", subject, BYTES(s->peer_service));
    add_fact(l, "%s client = '%.*s' '%.*s' in_progress %d", subject, BYTES(s->user_agent),
             BYTES(s->client_ip), s->in_progress);
    add_fact(l, "%s duration >= 0 = %s", subject, s->duration_ns >= 0 ? "yes" : "no");
    doc_facts(sd, l, subject, s->attrs, "attrs");
    doc_facts(sd, l, subject, s->resource, "resource");
    sd->nspans++;
}

static void log_facts(side *sd, const owl_log_batch *b, const owl_log_event *e)
{
    fact_list *l = &sd->facts;
    char subject[300], idt[80];
    snprintf(subject, sizeof subject, "log '%.*s'", BYTES(e->message));
    add_fact(l, "%s group/stream = %s %s", subject, b->group, b->stream);
    add_fact(l, "%s severity = %.*s", subject, BYTES(e->severity));
    id_text(sd, e->trace_id, 16, idt, sizeof idt);
    add_fact(l, "%s trace = %s", subject, idt);
    id_text(sd, e->span_id, 8, idt, sizeof idt);
    add_fact(l, "%s span = %s", subject, idt);
    doc_facts(sd, l, subject, e->attrs, "attrs");
    sd->nlogs++;
}

static int cmp_dim(const void *a, const void *b)
{
    return strcmp(((const owl_dim *)a)->name, ((const owl_dim *)b)->name);
}

static void datum_facts(side *sd, const owl_datum *d)
{
    fact_list *l = &sd->facts;
    char subject[400];
    int w = snprintf(subject, sizeof subject, "metric %s/%s{", d->id.ns, d->id.name);
    owl_dim dims[32];
    size_t nd = d->id.ndims < 32 ? d->id.ndims : 32;
    memcpy(dims, d->id.dims, nd * sizeof *dims);
    qsort(dims, nd, sizeof *dims, cmp_dim);
    for (size_t i = 0; i < nd && w < (int)sizeof subject; i++)
        w += snprintf(subject + w, sizeof subject - (size_t)w, "%s%s=%s", i ? "," : "",
                      dims[i].name, dims[i].value);
    if (w < (int)sizeof subject - 1)
        strcat(subject, "}");
    add_fact(l, "%s unit = %s", subject, d->unit ? d->unit : "(none)");
    add_fact(l, "%s resolution = %d", subject, d->resolution);
    for (size_t i = 0; i < d->nvalues; i++)
        add_fact(l, "%s value %zu = %.17g x %.17g", subject, i, d->values[i],
                 d->counts ? d->counts[i] : 1.0);
    if (d->has_stats)
        add_fact(l, "%s stats = count %.17g sum %.17g min %.17g max %.17g", subject, d->count,
                 d->sum, d->min, d->max);
    sd->ndatums++;
}

/* ---- reading the captures ---- */

/* The body of DIR/name.body, gunzipped when its .meta says gzip, into *out (malloc'd), with its
 * encoding. 0, or -1 (message printed). */
static int read_capture(const char *dir, const char *name, uint8_t **out, size_t *n,
                        enum owl_otlp_encoding *enc)
{
    char path[600], meta[256] = "";
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s.meta", dir, name);
    FILE *f = fopen(path, "r");
    size_t mn = f ? fread(meta, 1, sizeof meta - 1, f) : 0;
    if (f)
        fclose(f);
    meta[mn] = 0;
    *enc = !strncmp(meta, "application/json", 16) ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF;
    snprintf(path, sizeof path, "%s/%s.body", dir, name);
    if (!(f = fopen(path, "rb")))
        return perror(path), -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *raw = malloc((size_t)len + 1);
    if (!raw || fread(raw, 1, (size_t)len, f) != (size_t)len)
        abort();
    fclose(f);
    const char *nl = strchr(meta, '\n');
    if (!nl || strncmp(nl + 1, "gzip", 4)) {
        *out = raw;
        *n = (size_t)len;
        return 0;
    }
    size_t cap = 1 << 22;
    uint8_t *plain = malloc(cap);
    z_stream z = {.next_in = raw, .avail_in = (uInt)len, .next_out = plain, .avail_out = (uInt)cap};
    int zrc = inflateInit2(&z, 15 + 16);
    if (zrc == Z_OK)
        zrc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    free(raw);
    if (zrc != Z_STREAM_END) {
        fprintf(stderr, "%s: not gzip (%d)\n", path, zrc);
        free(plain);
        return -1;
    }
    *out = plain;
    *n = z.total_out;
    return 0;
}

/* owld's cumulative-to-delta step replaced: every point is the first of its stream; counted
 * in *ud, so that a point sent with another temporality (or monotonicity) shows. */
static int first_point(void *ud, uint64_t stream, int64_t start_ns, const double *cum,
                       double *delta, size_t n)
{
    (void)stream, (void)start_ns;
    ++*(size_t *)ud;
    memcpy(delta, cum, n * sizeof *delta);
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The capture names (without .body) of label's signal in dir, sorted; their count. */
static size_t captures(const char *dir, const char *label, const char *signal, char **names,
                       size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0, ll = strlen(label), sl = strlen(signal);
    while (d && (e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len > ll + sl + 7 && !strncmp(e->d_name, label, ll) && e->d_name[ll] == '.' &&
            !strncmp(e->d_name + ll + 1, signal, sl) && e->d_name[ll + 1 + sl] == '.' &&
            !strcmp(e->d_name + len - 5, ".body"))
            names[n++] = strndup(e->d_name, len - 5);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof *names, by_name);
    return n;
}

/* Decodes every capture of sd->label into facts. 0, or the number of failures. */
static int load_side(const char *dir, side *sd)
{
    int bad = 0;
    char *names[16];
    uint8_t *body;
    size_t n;
    enum owl_otlp_encoding enc;
    owl_error err = {0};

    size_t k = captures(dir, sd->label, "traces", names, 4);
    for (size_t q = 0; q < k; q++) {
        if (read_capture(dir, names[q], &body, &n, &enc) ||
            owl_otlp_traces_decode(enc, body, n, 1000, &sd->spans[sd->nreq++], &err)) {
            fprintf(stderr, "%s: traces not decoded: %s\n", names[q], err.msg);
            bad++;
        }
        free(body);
        free(names[q]);
    }
    for (size_t q = 0; q < sd->nreq; q++) {
        bad += sd->spans[q].rejected != 0;
        for (size_t i = 0; i < sd->spans[q].n; i++)
            span_facts(sd, &sd->spans[q].spans[i]);
    }

    k = captures(dir, sd->label, "logs", names, 16);
    for (size_t q = 0; q < k; q++) {
        owl_log_decoded d = {0};
        if (read_capture(dir, names[q], &body, &n, &enc) ||
            owl_otlp_logs_decode(enc, body, n, 0, 1000, &d, &err) || d.rejected) {
            fprintf(stderr, "%s: logs not decoded: %s %s\n", names[q], err.msg, d.message);
            bad++;
        }
        for (size_t b = 0; b < d.nb; b++)
            for (size_t i = 0; i < d.b[b].n; i++)
                log_facts(sd, &d.b[b], &d.b[b].ev[i]);
        owl_log_decoded_free(&d);
        free(body);
        free(names[q]);
    }

    size_t cumulative = 0;
    k = captures(dir, sd->label, "metrics", names, 16);
    for (size_t q = 0; q < k; q++) {
        owl_otlp_batch mb = {0};
        if (read_capture(dir, names[q], &body, &n, &enc) ||
            owl_otlp_metrics_decode(enc, body, n, 0, first_point, &cumulative, &mb, &err) ||
            mb.rejected) {
            fprintf(stderr, "%s: metrics not decoded: %s %s\n", names[q], err.msg, mb.message);
            bad++;
        }
        for (size_t i = 0; i < mb.n; i++)
            datum_facts(sd, &mb.d[i]);
        owl_otlp_batch_free(&mb);
        free(body);
        free(names[q]);
    }
    add_fact(&sd->facts, "metrics: points through cumulative-to-delta = %zu", cumulative);
    qsort(sd->facts.v, sd->facts.n, sizeof *sd->facts.v, by_name);
    printf("%s: %zu spans, %zu log records, %zu datums: %zu facts\n", sd->label, sd->nspans,
           sd->nlogs, sd->ndatums, sd->facts.n);
    /* what wire.mjs makes: 4 spans, 2 records, 5 series */
    if (sd->nspans != 4 || sd->nlogs != 2 || sd->ndatums != 5) {
        printf("  not the telemetry made (4 spans, 2 log records, 5 datums expected)\n");
        bad++;
    }
    return bad;
}

/* 1 when fact f carries OWL_ONLY_MARK, else 0. */
static int owl_only(const char *f)
{
    size_t fl = strlen(f), ml = strlen(OWL_ONLY_MARK);
    return fl > ml && !strcmp(f + fl - ml, OWL_ONLY_MARK);
}

/* Prints the facts only one of a and b holds; their number, less libowl's OWL_ONLY facts
 * when b is libowl and a is not. */
static size_t compare(const side *a, const side *b)
{
    size_t i = 0, j = 0, diff = 0, accepted = 0;
    int js_owl = !strncmp(a->label, "js", 2) && !strncmp(b->label, "owl", 3);
    printf("%s vs %s:\n", a->label, b->label);
    while (i < a->facts.n || j < b->facts.n) {
        int c = i == a->facts.n   ? 1
                : j == b->facts.n ? -1
                                  : strcmp(a->facts.v[i], b->facts.v[j]);
        if (!c) {
            i++, j++;
            continue;
        }
        if (c > 0 && js_owl && owl_only(b->facts.v[j])) {
            accepted++;
            j++;
            continue;
        }
        diff++;
        if (c < 0)
            printf("  - %s: %s\n", a->label, a->facts.v[i++]);
        else
            printf("  + %s: %s\n", b->label, b->facts.v[j++]);
    }
    printf("  %zu facts differ", diff);
    if (accepted)
        printf(" (%zu of %s's marked libowl only left out)", accepted, b->label);
    printf("\n");
    return diff;
}

static void side_free(side *sd)
{
    for (size_t i = 0; i < sd->facts.n; i++)
        free(sd->facts.v[i]);
    free(sd->facts.v);
    for (size_t q = 0; q < sd->nreq; q++)
        owl_span_decoded_free(&sd->spans[q]);
}

static int cmd_compare(const char *dir)
{
    side sides[4] = {{.label = "js-proto"}, {.label = "owl-proto"}, {.label = "js-json"},
                     {.label = "owl-json"}};
    int bad = 0;
    printf("normalised before comparing:\n");
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        printf("  %s %s: %s\n",
               rules[i].action == DROP     ? "dropped"
               : rules[i].action == MAP_ID ? "ids named"
                                           : "libowl only",
               rules[i].path, rules[i].why);
    for (size_t i = 0; i < 4; i++)
        bad += load_side(dir, &sides[i]);
    size_t diff = compare(&sides[0], &sides[1]) + compare(&sides[2], &sides[3]) +
                  compare(&sides[0], &sides[2]) + compare(&sides[1], &sides[3]);
    for (size_t i = 0; i < 4; i++)
        side_free(&sides[i]);
    printf("wire_compat: %zu facts differ, %d captures unread or unexpected\n", diff, bad);
    return diff || bad;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "export") &&
        (!strcmp(argv[3], "proto") || !strcmp(argv[3], "json")))
        return cmd_export(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "compare"))
        return cmd_compare(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "facts")) {
        side sd = {.label = argv[3]};
        int bad = load_side(argv[2], &sd);
        for (size_t i = 0; i < sd.facts.n; i++)
            printf("%s\n", sd.facts.v[i]);
        side_free(&sd);
        return bad != 0;
    }
    fprintf(stderr, "usage: wire_compat export DIR proto|json | compare DIR | facts DIR LABEL\n");
    return 2;
}

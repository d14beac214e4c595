/* loadgen.c — the HTTP/1.1 load generator of owl's benchmarks (docs/benchmarks.md, section
 * "bench/loadgen"). It keeps N keep-alive connections to one loopback server, cycles through
 * requests serialised once before the clock starts, and runs closed loop (one request in
 * flight per connection, as fast as possible) or open loop at a target rate, where latency
 * counts from each request's intended send time so a slow server cannot hide its queue
 * (coordinated omission). Exit status: 0 finished without errors, 1 errors, 2 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

#define MAX_HEADERS 64
#define MAX_CONNECTIONS 10000 /* each holds an 8 KiB line buffer */
#define MAX_SECONDS 1e6
#define MAX_THREADS 256
#define RBUF_SIZE 65536
#define SCAN_NS 10000000            /* timeouts are checked (and stop noticed) this often */
#define CONNECT_BACKOFF_NS 10000000 /* a failed connect is retried after this long */
#define CONNECT_TRIES 100           /* consecutive failed connects before a connection gives up */
#define PAYLOAD_MAX ((size_t)1 << 34)

/* ---- options: one table drives parsing and --help ------------------------------------ */

struct cfg {
    const char *url;
    const char *method;
    uint64_t connections;
    uint64_t threads;
    double duration; /* < 0: not given */
    uint64_t requests; /* 0: not given */
    double rate;       /* < 0: not given, closed loop */
    const char *payloads;
    const char *payload_format;
    uint64_t items_per_request;
    double warmup;
    double timeout;
    bool json;
    bool help;
    const char *headers[MAX_HEADERS];
    size_t nheaders;
};

enum opt_type { O_STR, O_U64, O_SECS, O_FLAG, O_HEADER };

struct opt {
    const char *name;
    enum opt_type type;
    size_t off;
    const char *meta;
    const char *help;
};

#define F(field) offsetof(struct cfg, field)
static const struct opt opts[] = {
    {"url", O_STR, F(url), "URL",
     "http://HOST[:PORT]/PATH[?QUERY]; HOST must be loopback: 127.0.0.0/8, localhost, [::1]"},
    {"method", O_STR, F(method), "M", "request method (default GET, POST with --payloads)"},
    {"connections", O_U64, F(connections), "N", "keep-alive connections (default 64)"},
    {"threads", O_U64, F(threads), "T", "threads, each an epoll loop over its share (default 1)"},
    {"duration", O_SECS, F(duration), "S", "measure for S seconds (default 10 without --requests)"},
    {"requests", O_U64, F(requests), "N",
     "measure N requests (with --duration: whichever ends first)"},
    {"rate", O_SECS, F(rate), "R",
     "open loop: R requests/s over all connections, latency from the intended send time"},
    {"payloads", O_STR, F(payloads), "FILE",
     "request bodies, cycled through (see --payload-format)"},
    {"payload-format", O_STR, F(payload_format), "lines|records",
     "lines: each non-empty line is a body; records: \"LEN [ITEMS]\\n\" + LEN bytes (+ \"\\n\")"},
    {"header", O_HEADER, F(headers), "'K: V'", "extra request header (repeatable)"},
    {"items-per-request", O_U64, F(items_per_request), "K",
     "items each 2xx response counts for (default 1; records may give their own)"},
    {"warmup", O_SECS, F(warmup), "S", "load for S seconds before measuring (default 0)"},
    {"timeout", O_SECS, F(timeout), "S",
     "a response must be complete S seconds after its send (default 10)"},
    {"json", O_FLAG, F(json), NULL, "print one JSON object instead of the table"},
    {"help", O_FLAG, F(help), NULL, "this text"},
};
#undef F

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen --url http://127.0.0.1:PORT/PATH [options]\n"
               "Drives one loopback HTTP/1.1 server with keep-alive connections and reports\n"
               "requests/s, items/s, latency percentiles and errors. Exit 0: no errors,\n"
               "1: errors, 2: usage.\n\noptions:\n");
    for (size_t i = 0; i < OWL_ARRAY_LEN(opts); i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].meta ? " " : "",
                 opts[i].meta ? opts[i].meta : "");
        fprintf(f, "  %-30s %s\n", left, opts[i].help);
    }
}

/* usage_error — prints "loadgen: MSG" and a pointer to --help; returns -1. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(loadgen --help lists the options)\n", stderr);
    return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0) || v > 1e12) /* also rejects NaN, inf */
        return -1;
    *out = v;
    return 0;
}

static int set_opt(struct cfg *cfg, const struct opt *o, const char *val)
{
    char *field = (char *)cfg + o->off;
    switch (o->type) {
    case O_STR:
        *(const char **)(void *)field = val;
        return 0;
    case O_U64:
        if (parse_u64(val, (uint64_t *)(void *)field) < 0)
            return usage_error("--%s wants a whole number, got '%s'", o->name, val);
        return 0;
    case O_SECS:
        if (parse_num(val, (double *)(void *)field) < 0)
            return usage_error("--%s wants a number >= 0, got '%s'", o->name, val);
        return 0;
    case O_HEADER:
        if (cfg->nheaders == MAX_HEADERS)
            return usage_error("at most %d --header options", MAX_HEADERS);
        cfg->headers[cfg->nheaders++] = val;
        return 0;
    case O_FLAG:
        break;
    }
    return -1;
}

/* parse_args — fills cfg from argv ("--name value" or "--name=value"). -1 after a message. */
static int parse_args(int argc, char **argv, struct cfg *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return usage_error("unexpected argument '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t k = 0; k < OWL_ARRAY_LEN(opts); k++)
            if (strlen(opts[k].name) == nlen && memcmp(opts[k].name, name, nlen) == 0)
                o = &opts[k];
        if (!o)
            return usage_error("unknown option '%s'", a);
        if (o->type == O_FLAG) {
            if (eq)
                return usage_error("--%s takes no value", o->name);
            *(bool *)(void *)((char *)cfg + o->off) = true;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc)
                return usage_error("--%s needs a value", o->name);
            val = argv[++i];
        }
        if (set_opt(cfg, o, val) < 0)
            return -1;
    }
    return 0;
}

static bool is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* check_cfg — fills defaults and rejects impossible combinations. -1 after a message. */
static int check_cfg(struct cfg *cfg)
{
    if (!cfg->url)
        return usage_error("--url is required");
    if (cfg->connections < 1 || cfg->connections > MAX_CONNECTIONS)
        return usage_error("--connections must be 1..%d", MAX_CONNECTIONS);
    if (cfg->threads < 1 || cfg->threads > MAX_THREADS || cfg->threads > cfg->connections)
        return usage_error("--threads must be 1..%d and at most --connections", MAX_THREADS);
    if (cfg->duration < 0 && cfg->requests == 0)
        cfg->duration = 10;
    if (cfg->duration == 0)
        return usage_error("--duration must be > 0");
    if (cfg->timeout <= 0)
        return usage_error("--timeout must be > 0");
    if (cfg->duration > MAX_SECONDS || cfg->warmup > MAX_SECONDS || cfg->timeout > MAX_SECONDS)
        return usage_error("--duration, --warmup and --timeout are at most %.0f s", MAX_SECONDS);
    if (cfg->rate == 0 || cfg->rate > 1e9)
        return usage_error("--rate must be > 0 and at most 1e9 requests/s");
    if (cfg->items_per_request < 1)
        return usage_error("--items-per-request must be >= 1");
    if (!cfg->method)
        cfg->method = cfg->payloads ? "POST" : "GET";
    for (const char *m = cfg->method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return usage_error("bad --method '%s'", cfg->method);
    if (!*cfg->method)
        return usage_error("empty --method");
    if (strcmp(cfg->payload_format, "lines") != 0 && strcmp(cfg->payload_format, "records") != 0)
        return usage_error("--payload-format is lines or records, not '%s'", cfg->payload_format);
    return 0;
}

/* ---- target: loopback only ------------------------------------------------------------- */

struct target {
    char authority[300]; /* host[:port] as written, for the Host header */
    char *path;          /* origin-form request target, malloc'd */
    struct sockaddr_storage addr;
    socklen_t alen;
};

/* resolve_loopback — fills t->addr for a literal loopback host; never asks DNS, so no name
 * can point the load at another machine. -1 after a message. */
static int resolve_loopback(const char *host, bool bracketed, unsigned port, struct target *t)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
    memset(&t->addr, 0, sizeof t->addr);
    bool local = !bracketed && strcasecmp(host, "localhost") == 0;
    if (local || (!bracketed && inet_pton(AF_INET, host, &a4->sin_addr) == 1)) {
        if (local)
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            goto refuse;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        t->alen = sizeof *a4;
        return 0;
    }
    if (bracketed && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            goto refuse;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        t->alen = sizeof *a6;
        return 0;
    }
refuse:
    return usage_error("refusing host '%s': loadgen only drives servers on this machine "
                       "(127.0.0.0/8, localhost, [::1])", host);
}

/* parse_url — http://HOST[:PORT][/PATH][?QUERY][#FRAG] into t. -1 after a message. */
static int parse_url(const char *url, struct target *t)
{
    char host[300];
    const char *port_s = NULL;
    bool bracketed = false;
    if (strncasecmp(url, "https://", 8) == 0)
        return usage_error("https is not supported: loadgen speaks plain HTTP/1.1 on loopback");
    if (strncasecmp(url, "http://", 7) != 0)
        return usage_error("--url must start with http:// (got '%s')", url);
    const char *p = url + 7;
    size_t alen = strcspn(p, "/?#");
    if (alen == 0 || alen >= sizeof t->authority)
        return usage_error("no usable host in '%s'", url);
    if (memchr(p, '@', alen))
        return usage_error("user info in the URL is not supported");
    memcpy(t->authority, p, alen);
    t->authority[alen] = '\0';
    if (t->authority[0] == '[') {
        char *close = strchr(t->authority, ']');
        if (!close || (close[1] && close[1] != ':'))
            return usage_error("bad IPv6 host in '%s'", url);
        snprintf(host, sizeof host, "%.*s", (int)(close - t->authority - 1), t->authority + 1);
        port_s = close[1] ? close + 2 : NULL;
        bracketed = true;
    } else {
        char *colon = strchr(t->authority, ':');
        snprintf(host, sizeof host, "%.*s", (int)(colon ? colon - t->authority : (ptrdiff_t)alen),
                 t->authority);
        port_s = colon ? colon + 1 : NULL;
        if (colon && strchr(colon + 1, ':'))
            return usage_error("IPv6 hosts go in brackets: http://[::1]:PORT/");
    }
    uint64_t port = 80;
    if (port_s && (parse_u64(port_s, &port) < 0 || port < 1 || port > 65535))
        return usage_error("bad port in '%s'", url);
    const char *rest = p + alen;
    size_t plen = strcspn(rest, "#");
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)rest[i] <= 0x20 || rest[i] == 0x7f)
            return usage_error("the URL path holds a space or control character");
    if (asprintf(&t->path, "%s%.*s", rest[0] == '/' ? "" : "/", (int)plen, rest) < 0) {
        t->path = NULL;
        return usage_error("out of memory");
    }
    return resolve_loopback(host, bracketed, (unsigned)port, t);
}

/* ---- requests: serialised once, cycled through ----------------------------------------- */

struct reqset {
    char *data;      /* every request back to back */
    size_t *off;     /* request i is data[off[i] .. off[i] + len[i]) */
    size_t *len;
    uint64_t *items; /* what a 2xx answer to request i counts for */
    size_t n, cap;
};

static void reqset_free(struct reqset *rs)
{
    if (!rs)
        return;
    free(rs->data);
    free(rs->off);
    free(rs->len);
    free(rs->items);
    memset(rs, 0, sizeof *rs);
}

/* reqset_add — appends head + Content-Length + body as request n. -1 on ENOMEM. */
static int reqset_add(struct reqset *rs, owl_buf *all, const owl_buf *head, bool with_len,
                      const char *body, size_t blen, uint64_t items)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        size_t *off = realloc(rs->off, cap * sizeof *off);
        if (off)
            rs->off = off;
        size_t *len = realloc(rs->len, cap * sizeof *len);
        if (len)
            rs->len = len;
        uint64_t *it = realloc(rs->items, cap * sizeof *it);
        if (it)
            rs->items = it;
        if (!off || !len || !it)
            return -1;
        rs->cap = cap;
    }
    size_t start = all->len;
    if (owl_buf_append(all, head->data, head->len) != OWL_OK ||
        (with_len && owl_buf_printf(all, "Content-Length: %zu\r\n", blen) != OWL_OK) ||
        owl_buf_puts(all, "\r\n") != OWL_OK || owl_buf_append(all, body, blen) != OWL_OK)
        return -1;
    rs->off[rs->n] = start;
    rs->len[rs->n] = all->len - start;
    rs->items[rs->n] = items;
    rs->n++;
    return 0;
}

/* build_head — request line, Host (unless given) and the --header lines. -1 after a message. */
static int build_head(const struct cfg *cfg, const struct target *t, owl_buf *head)
{
    bool have_host = false;
    if (owl_buf_printf(head, "%s %s HTTP/1.1\r\n", cfg->method, t->path) != OWL_OK)
        return usage_error("out of memory");
    for (size_t i = 0; i < cfg->nheaders; i++) {
        const char *h = cfg->headers[i], *colon = strchr(h, ':');
        size_t nlen = colon ? (size_t)(colon - h) : 0;
        if (!colon || nlen == 0 || strpbrk(h, "\r\n"))
            return usage_error("--header wants 'Name: value', got '%s'", h);
        for (size_t k = 0; k < nlen; k++)
            if (!is_tchar((unsigned char)h[k]))
                return usage_error("bad header name in '%s'", h);
        if ((nlen == 14 && strncasecmp(h, "content-length", 14) == 0) ||
            (nlen == 17 && strncasecmp(h, "transfer-encoding", 17) == 0))
            return usage_error("loadgen sets the body framing itself; drop --header '%s'", h);
        have_host |= nlen == 4 && strncasecmp(h, "host", 4) == 0;
        const char *v = colon + 1;
        v += strspn(v, " \t");
        if (owl_buf_printf(head, "%.*s: %s\r\n", (int)nlen, h, v) != OWL_OK)
            return usage_error("out of memory");
    }
    if (!have_host && owl_buf_printf(head, "Host: %s\r\n", t->authority) != OWL_OK)
        return usage_error("out of memory");
    return 0;
}

/* add_lines — every non-empty line of the file (without its LF or CRLF) is one body. */
static int add_lines(struct reqset *rs, owl_buf *all, const owl_buf *head, const char *d,
                     size_t n, uint64_t items)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - d) : n, len = end - i;
        if (len && d[i + len - 1] == '\r')
            len--;
        if (len && reqset_add(rs, all, head, true, d + i, len, items) < 0)
            return usage_error("out of memory");
        i = end + 1;
    }
    return 0;
}

/* add_records — "LEN[ ITEMS]\n" then LEN bytes of body, then an optional "\n"; repeated. */
static int add_records(struct reqset *rs, owl_buf *all, const owl_buf *head, const char *d,
                       size_t n, uint64_t items, const char *path)
{
    size_t i = 0;
    for (size_t rec = 1; i < n; rec++) {
        uint64_t len = 0, it = items;
        size_t at = i;
        char *end;
        if (d[i] < '0' || d[i] > '9')
            return usage_error("%s: record %zu (byte %zu): expected a decimal length", path, rec,
                               at);
        errno = 0;
        len = strtoull(d + i, &end, 10);
        i = (size_t)(end - d);
        if (i < n && d[i] == ' ') {
            i++;
            if (i >= n || d[i] < '0' || d[i] > '9')
                return usage_error("%s: record %zu (byte %zu): expected an item count", path,
                                   rec, at);
            it = strtoull(d + i, &end, 10);
            i = (size_t)(end - d);
        }
        if (errno || i >= n || d[i] != '\n' || len > n - i - 1)
            return usage_error("%s: record %zu (byte %zu): bad header or body shorter than its "
                               "length", path, rec, at);
        i++;
        if (reqset_add(rs, all, head, true, d + i, (size_t)len, it) < 0)
            return usage_error("out of memory");
        i += (size_t)len;
        if (i < n && d[i] == '\n')
            i++;
    }
    return 0;
}

/* build_requests — serialises every request into rs (one GET-style request without
 * --payloads). -1 after a message (a usage error: the inputs were wrong). */
static int build_requests(const struct cfg *cfg, const struct target *t, struct reqset *rs)
{
    owl_buf head = OWL_BUF_INIT, all = OWL_BUF_INIT;
    char *file = NULL;
    size_t flen = 0;
    int rc = -1;
    owl_error err;
    if (build_head(cfg, t, &head) < 0)
        goto out;
    if (!cfg->payloads) {
        bool with_len = strcmp(cfg->method, "POST") == 0 || strcmp(cfg->method, "PUT") == 0 ||
                        strcmp(cfg->method, "PATCH") == 0;
        if (reqset_add(rs, &all, &head, with_len, "", 0, cfg->items_per_request) < 0) {
            usage_error("out of memory");
            goto out;
        }
    } else {
        if (owl_read_file(cfg->payloads, PAYLOAD_MAX, &file, &flen, &err) != OWL_OK) {
            usage_error("--payloads: %s", err.msg);
            goto out;
        }
        bool records = strcmp(cfg->payload_format, "records") == 0;
        if ((records ? add_records(rs, &all, &head, file, flen, cfg->items_per_request,
                                   cfg->payloads)
                     : add_lines(rs, &all, &head, file, flen, cfg->items_per_request)) < 0)
            goto out;
        if (rs->n == 0) {
            usage_error("--payloads: no request bodies in %s", cfg->payloads);
            goto out;
        }
    }
    rs->data = owl_buf_steal(&all);
    rc = 0;
out:
    owl_buf_free(&head);
    owl_buf_free(&all);
    free(file);
    return rc;
}

/* ---- latency histogram: log buckets, 128 per power of two (< 0.8% wide) ----------------- */

#define HSUB_BITS 7
#define HSUB (1u << HSUB_BITS)
#define HBUCKETS ((64 - HSUB_BITS + 1) * HSUB)

struct hist {
    uint64_t n, sum, min, max;
    uint64_t b[HBUCKETS];
};

static size_t hist_index(uint64_t v)
{
    if (v < HSUB)
        return (size_t)v;
    unsigned e = (unsigned)(63 - __builtin_clzll(v)) - HSUB_BITS;
    return (size_t)(e + 1) * HSUB + (size_t)((v >> e) - HSUB);
}

/* hist_mid — the middle of bucket i (exact below HSUB). */
static uint64_t hist_mid(size_t i)
{
    if (i < HSUB)
        return i;
    unsigned e = (unsigned)(i / HSUB) - 1;
    return (((uint64_t)(i % HSUB) + HSUB) << e) + (((uint64_t)1 << e) >> 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
    h->sum += v;
    h->b[hist_index(v)]++;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->n += src->n;
    dst->sum += src->sum;
    for (size_t i = 0; i < HBUCKETS; i++)
        dst->b[i] += src->b[i];
}

/* hist_pct — the value at permille p (500 = median): the smallest bucket holding the
 * ceil(p/1000 * n)-th value, reported as its middle clamped to [min, max]. */
static uint64_t hist_pct(const struct hist *h, unsigned p)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (h->n * p + 999) / 1000, seen = 0;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < HBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = hist_mid(i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- response parser: status line, headers, Content-Length / chunked / until close ----- */

enum { RP_STATUS, RP_HEADER, RP_BODY_LEN, RP_BODY_EOF, RP_CHUNK_SIZE, RP_CHUNK_DATA,
       RP_CHUNK_END, RP_TRAILER, RP_DONE };
#define RP_LINE_MAX 8192
#define RP_HEAD_MAX 65536

struct resp {
    int state;
    int status;
    bool head_req;    /* the request was HEAD: no body whatever the headers say */
    bool http10;
    bool keep_alive;  /* "Connection: keep-alive" (matters for HTTP/1.0) */
    bool close;       /* the connection ends after this response */
    bool chunked;
    bool other_te;    /* a transfer coding other than chunked last: body runs to close */
    bool have_len;
    bool any;         /* a byte of this response arrived */
    uint64_t len;     /* Content-Length, then bytes left of the body or chunk */
    size_t head_bytes;
    size_t line_len;
    const char *why;  /* protocol error text */
    char line[RP_LINE_MAX];
};

static void rp_reset(struct resp *r, bool head_req)
{
    r->state = RP_STATUS;
    r->status = 0;
    r->head_req = head_req;
    r->http10 = r->keep_alive = r->close = r->chunked = r->other_te = r->have_len = false;
    r->any = false;
    r->len = 0;
    r->head_bytes = r->line_len = 0;
    r->why = NULL;
}

static int rp_fail(struct resp *r, const char *why)
{
    r->why = why;
    return -1;
}

/* rp_line — the next complete line at d[*i..n) (CRLF or LF stripped), buffered across
 * calls. 1: *line and *len set; 0: need more bytes; -1: too long. */
static int rp_line(struct resp *r, const char *d, size_t n, size_t *i, const char **line,
                   size_t *len)
{
    const char *nl = memchr(d + *i, '\n', n - *i);
    size_t take = nl ? (size_t)(nl - (d + *i)) : n - *i;
    bool in_head = r->state == RP_STATUS || r->state == RP_HEADER || r->state == RP_TRAILER;
    if (r->line_len + take >= RP_LINE_MAX)
        return rp_fail(r, "response line longer than 8 KiB");
    if (in_head && (r->head_bytes += take + (nl ? 1 : 0)) > RP_HEAD_MAX)
        return rp_fail(r, "response header longer than 64 KiB");
    if (!nl) {
        memcpy(r->line + r->line_len, d + *i, take);
        r->line_len += take;
        *i = n;
        return 0;
    }
    if (r->line_len == 0) {
        *line = d + *i;
        *len = take;
    } else {
        memcpy(r->line + r->line_len, d + *i, take);
        *line = r->line;
        *len = r->line_len + take;
        r->line_len = 0;
    }
    *i += take + 1;
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    return 1;
}

/* rp_status — "HTTP/1.x NNN[ reason]". */
static int rp_status(struct resp *r, const char *s, size_t n)
{
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return rp_fail(r, "bad status line");
    for (int k = 9; k < 12; k++)
        if (s[k] < '0' || s[k] > '9')
            return rp_fail(r, "bad status code");
    if (n > 12 && s[12] != ' ')
        return rp_fail(r, "bad status line");
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (r->status < 100)
        return rp_fail(r, "bad status code");
    r->http10 = s[7] == '0';
    r->state = RP_HEADER;
    return 0;
}

/* has_token — the comma-separated list v (n bytes) holds tok, case-insensitively; with
 * last, only its last element counts. */
static bool has_token(const char *v, size_t n, const char *tok, bool last)
{
    size_t tl = strlen(tok), i = 0;
    bool found = false;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        bool eq = b - a == tl && strncasecmp(v + a, tok, tl) == 0;
        found = last ? eq : found || eq;
        i = j + 1;
    }
    return found;
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* rp_headers_done — the empty line: decide how the body is framed. */
static int rp_headers_done(struct resp *r)
{
    if (r->status >= 100 && r->status < 200) {
        if (r->status == 101)
            return rp_fail(r, "101 Switching Protocols is not supported");
        rp_reset(r, r->head_req); /* interim response: the real one follows */
        return 0;
    }
    if (r->http10 && !r->keep_alive)
        r->close = true;
    if (r->head_req || r->status == 204 || r->status == 304)
        r->state = RP_DONE;
    else if (r->chunked)
        r->state = RP_CHUNK_SIZE;
    else if (!r->other_te && r->have_len)
        r->state = r->len ? RP_BODY_LEN : RP_DONE;
    else {
        r->state = RP_BODY_EOF;
        r->close = true;
    }
    return 0;
}

static int rp_header(struct resp *r, const char *s, size_t n)
{
    if (n == 0)
        return rp_headers_done(r);
    if (s[0] == ' ' || s[0] == '\t')
        return rp_fail(r, "folded header line");
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return rp_fail(r, "header line without a name");
    size_t nl = (size_t)(colon - s);
    for (size_t k = 0; k < nl; k++)
        if (!is_tchar((unsigned char)s[k]))
            return rp_fail(r, "bad header name");
    const char *v = colon + 1, *e = s + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (name_is(s, nl, "content-length")) {
        uint64_t len = 0;
        if (v == e)
            return rp_fail(r, "empty Content-Length");
        for (const char *q = v; q < e; q++) {
            if (*q < '0' || *q > '9' || len > (UINT64_MAX - 9) / 10)
                return rp_fail(r, "bad Content-Length");
            len = len * 10 + (uint64_t)(*q - '0');
        }
        if (r->have_len && len != r->len)
            return rp_fail(r, "conflicting Content-Length headers");
        r->have_len = true;
        r->len = len;
    } else if (name_is(s, nl, "transfer-encoding")) {
        r->chunked = has_token(v, (size_t)(e - v), "chunked", true);
        r->other_te = !r->chunked;
    } else if (name_is(s, nl, "connection")) {
        r->close |= has_token(v, (size_t)(e - v), "close", false);
        r->keep_alive |= has_token(v, (size_t)(e - v), "keep-alive", false);
    }
    return 0;
}

/* rp_chunk_size — HEXDIGITS [OWS] [; extensions]. */
static int rp_chunk_size(struct resp *r, const char *s, size_t n)
{
    size_t k = 0;
    uint64_t v = 0;
    for (; k < n; k++) {
        int c = (unsigned char)s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            break;
        if (v >> 58)
            return rp_fail(r, "chunk size too large");
        v = v * 16 + (uint64_t)d;
    }
    if (k == 0)
        return rp_fail(r, "bad chunk size");
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k < n && s[k] != ';')
        return rp_fail(r, "bad chunk size");
    r->len = v;
    r->state = v ? RP_CHUNK_DATA : RP_TRAILER;
    return 0;
}

/* rp_feed — parses n more bytes. 0: all consumed, response not complete; 1: complete after
 * *used bytes (the rest is not part of it); -1: malformed (r->why says how). */
static int rp_feed(struct resp *r, const char *d, size_t n, size_t *used)
{
    size_t i = 0;
    if (n)
        r->any = true;
    while (r->state != RP_DONE) {
        const char *line = NULL;
        size_t len = 0;
        int rc = 0;
        switch (r->state) {
        case RP_BODY_LEN:
        case RP_CHUNK_DATA: {
            size_t take = n - i < r->len ? n - i : (size_t)r->len;
            i += take;
            r->len -= take;
            if (r->len)
                return 0;
            r->state = r->state == RP_BODY_LEN ? RP_DONE : RP_CHUNK_END;
            continue;
        }
        case RP_BODY_EOF:
            return 0;
        default:
            break;
        }
        rc = rp_line(r, d, n, &i, &line, &len);
        if (rc <= 0)
            return rc;
        switch (r->state) {
        case RP_STATUS:
            rc = rp_status(r, line, len);
            break;
        case RP_HEADER:
            rc = rp_header(r, line, len);
            break;
        case RP_CHUNK_SIZE:
            rc = rp_chunk_size(r, line, len);
            break;
        case RP_CHUNK_END:
            rc = len ? rp_fail(r, "chunk data longer than its size") : 0;
            r->state = RP_CHUNK_SIZE;
            break;
        case RP_TRAILER:
            if (len == 0)
                r->state = RP_DONE;
            break;
        }
        if (rc < 0)
            return -1;
    }
    *used = i;
    return 1;
}

/* rp_eof — the server closed the connection: 1 when that ends the response (body delimited
 * by close), -1 otherwise (r->why says where it stopped). */
static int rp_eof(struct resp *r)
{
    if (r->state == RP_BODY_EOF) {
        r->state = RP_DONE;
        return 1;
    }
    return rp_fail(r, r->any ? "connection closed in the middle of a response"
                             : "connection closed before a response");
}

/* ---- the run: workers with their connections -------------------------------------------- */

#define ERROR_KINDS(X)                                                                       \
    X(STATUS_3XX, "status_3xx") X(STATUS_4XX, "status_4xx") X(STATUS_5XX, "status_5xx")     \
    X(STATUS_OTHER, "status_other") X(CONNECT, "connect") X(SEND, "send") X(RECV, "recv")   \
    X(CLOSED, "closed") X(TIMEOUT, "timeout") X(PROTOCOL, "protocol")

enum err_kind {
#define EK_ENUM(id, name) E_##id,
    ERROR_KINDS(EK_ENUM)
#undef EK_ENUM
    E_KINDS
};

static const char *const err_names[E_KINDS] = {
#define EK_NAME(id, name) name,
    ERROR_KINDS(EK_NAME)
#undef EK_NAME
};

struct stats {
    uint64_t requests; /* measured responses, any status */
    uint64_t ok;       /* of which 2xx */
    uint64_t items;    /* items of the 2xx ones */
    uint64_t err[E_KINDS];
    uint64_t bytes_out, bytes_in, reconnects;
    uint64_t unsent;   /* open loop: measured slots not sent by the end (fell behind) */
    int64_t last_done; /* monotonic ns of the last measured response */
    struct hist lat;   /* ns */
};

struct run {
    struct target tgt;
    struct reqset rs;
    bool open_loop;
    bool head;
    double ns_per_slot; /* open loop: 1e9 / rate */
    uint64_t nconns;
    int64_t t_begin;    /* the schedule starts */
    int64_t t0;         /* measuring starts (after the warm-up) */
    int64_t t_end;      /* no request is sent at or after this (INT64_MAX: --requests only) */
    int64_t timeout_ns;
    uint64_t limit;     /* --requests, 0 = none */
    atomic_uint_fast64_t tickets;
};

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_WAITING, C_DONE };

struct worker;

/* A connection. Invariant: a connection that is C_IDLE and not done sits in its worker's
 * heap exactly once, keyed by when it next acts (send or reconnect). */
struct conn {
    struct worker *w;
    int fd;
    enum cstate state;
    bool want_out; /* EPOLLOUT is registered */
    bool measured; /* the request in flight was sent after the warm-up */
    bool used;     /* has carried a request, so a new connect is a reconnect */
    uint32_t id;   /* 0..N-1 over all workers: the phase of its open-loop schedule */
    int connect_fails;
    uint64_t slot;  /* open loop: index of its next scheduled send */
    int64_t wake;   /* heap key */
    int64_t origin; /* latency of the request in flight counts from here */
    int64_t deadline;
    size_t req, woff;
    struct resp rp;
};

struct worker {
    pthread_t th;
    bool started;
    int ep;
    struct run *run;
    struct conn *conns;
    size_t nconns, active;
    struct conn **heap;
    size_t nheap;
    size_t cursor; /* next request to send */
    bool stopping;
    char *rbuf;
    struct stats st;
};

static atomic_int g_stop;
static atomic_int g_first_set;
static char g_first_err[256];
static pthread_mutex_t g_first_mu = PTHREAD_MUTEX_INITIALIZER;

/* g_stop holds the signal that stopped the run (1 for an internal failure) */
static void on_signal(int sig)
{
    atomic_store(&g_stop, sig);
}

/* note_error — counts an error of kind and remembers the first one's text for the report. */
static void note_error(struct worker *w, enum err_kind kind, const char *detail)
{
    w->st.err[kind]++;
    if (atomic_load(&g_first_set))
        return;
    pthread_mutex_lock(&g_first_mu);
    if (!atomic_load(&g_first_set)) {
        snprintf(g_first_err, sizeof g_first_err, "%s: %s", err_names[kind], detail);
        atomic_store(&g_first_set, 1);
    }
    pthread_mutex_unlock(&g_first_mu);
}

static void heap_swap(struct conn **h, size_t a, size_t b)
{
    struct conn *t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_push(struct worker *w, struct conn *c, int64_t wake)
{
    struct conn **h = w->heap;
    size_t i = w->nheap++;
    c->wake = wake;
    h[i] = c;
    while (i > 0 && h[(i - 1) / 2]->wake > h[i]->wake) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct conn *heap_pop(struct worker *w)
{
    struct conn **h = w->heap, *top = h[0];
    size_t i = 0, n = --w->nheap;
    h[0] = h[n];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l]->wake < h[m]->wake)
            m = l;
        if (l + 1 < n && h[l + 1]->wake < h[m]->wake)
            m = l + 1;
        if (m == i)
            break;
        heap_swap(h, i, m);
        i = m;
    }
    return top;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->want_out = false;
}

static void conn_done(struct conn *c)
{
    conn_close(c);
    c->state = C_DONE;
    c->w->active--;
}

/* conn_connect — opens c->fd and registers it. 0 connected, 1 in progress (EPOLLOUT
 * registered), -1 failed with errno set. */
static int conn_connect(struct conn *c, bool blocking)
{
    const struct target *t = &c->w->run->tgt;
    int one = 1, saved;
    int type = SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK);
    int fd = socket(t->addr.ss_family, type, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, (const struct sockaddr *)&t->addr, t->alen);
    bool pending = rc < 0 && errno == EINPROGRESS;
    if (rc < 0 && !pending)
        goto fail;
    if (blocking && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (pending ? EPOLLOUT : 0u),
                             .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        goto fail;
    c->fd = fd;
    c->want_out = pending;
    if (c->used)
        c->w->st.reconnects++;
    return pending ? 1 : 0;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int set_out(struct conn *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u), .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->want_out = on;
    return 0;
}

static int64_t slot_time(const struct run *run, const struct conn *c)
{
    double k = (double)c->id + (double)c->slot * (double)run->nconns;
    return run->t_begin + (int64_t)(k * run->ns_per_slot);
}

/* slot_at — open loop: the first slot of c whose time is at or after t. */
static uint64_t slot_at(const struct run *run, const struct conn *c, int64_t t)
{
    double x = (double)(t - run->t_begin) / run->ns_per_slot - (double)c->id;
    x /= (double)run->nconns;
    if (x <= 0)
        return 0;
    uint64_t k = (uint64_t)x;
    return (double)k < x ? k + 1 : k;
}

static void start_send(struct conn *c, int64_t when, int64_t now);

/* next_send — schedules c's next request: now (closed loop) or at its slot (open loop), not
 * before not_before; through the heap when defer is set or the time has not come. */
static void next_send(struct conn *c, int64_t now, int64_t not_before, bool defer)
{
    struct run *run = c->w->run;
    int64_t when = run->open_loop ? slot_time(run, c) : now;
    int64_t wake = when > not_before ? when : not_before;
    if (!defer && wake <= now) {
        start_send(c, when, now);
        return;
    }
    if (when >= run->t_end || atomic_load(&g_stop)) {
        conn_done(c);
        return;
    }
    c->state = C_IDLE;
    heap_push(c->w, c, wake > now ? wake : now);
}

/* conn_fail — counts the error, drops the connection and schedules the next attempt (a
 * failed connect waits CONNECT_BACKOFF_NS; after CONNECT_TRIES in a row c gives up). */
static void conn_fail(struct conn *c, enum err_kind kind, const char *detail)
{
    int64_t now = owl_mono_ns(), not_before = now;
    note_error(c->w, kind, detail);
    conn_close(c);
    c->state = C_IDLE;
    if (kind == E_CONNECT) {
        if (++c->connect_fails >= CONNECT_TRIES) {
            conn_done(c);
            return;
        }
        not_before = now + CONNECT_BACKOFF_NS;
    }
    next_send(c, now, not_before, true);
}

static void conn_write(struct conn *c)
{
    struct worker *w = c->w;
    const struct reqset *rs = &w->run->rs;
    const char *p = rs->data + rs->off[c->req];
    size_t len = rs->len[c->req];
    while (c->woff < len) {
        ssize_t n = send(c->fd, p + c->woff, len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            if (c->measured)
                w->st.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->state = C_SENDING;
            if (!c->want_out && set_out(c, true) < 0)
                conn_fail(c, E_SEND, strerror(errno));
            return;
        }
        conn_fail(c, E_SEND, n < 0 ? strerror(errno) : "send returned 0");
        return;
    }
    c->state = C_WAITING;
    if (c->want_out && set_out(c, false) < 0)
        conn_fail(c, E_SEND, strerror(errno));
}

/* start_send — begins the next request on c unless the run is over; when is its intended
 * time (open loop) or now. */
static void start_send(struct conn *c, int64_t when, int64_t now)
{
    struct worker *w = c->w;
    struct run *run = w->run;
    if (atomic_load(&g_stop) || when >= run->t_end) {
        conn_done(c);
        return;
    }
    if (now >= run->t_end) { /* behind schedule at the end: the backlog is not sent */
        uint64_t from = slot_at(run, c, run->t0), to = slot_at(run, c, run->t_end);
        from = from > c->slot ? from : c->slot;
        w->st.unsent += to > from ? to - from : 0;
        conn_done(c);
        return;
    }
    c->measured = when >= run->t0;
    if (c->measured && run->limit && atomic_fetch_add(&run->tickets, 1) >= run->limit) {
        conn_done(c);
        return;
    }
    c->origin = run->open_loop ? when : now;
    c->slot++;
    c->req = w->cursor;
    w->cursor = w->cursor + 1 == run->rs.n ? 0 : w->cursor + 1;
    c->woff = 0;
    c->deadline = now + run->timeout_ns;
    rp_reset(&c->rp, run->head);
    c->used = true;
    if (c->fd < 0) {
        int rc = conn_connect(c, false);
        if (rc < 0) {
            conn_fail(c, E_CONNECT, strerror(errno));
            return;
        }
        if (rc > 0) {
            c->state = C_CONNECTING;
            return;
        }
        c->connect_fails = 0;
    }
    conn_write(c);
}

static enum err_kind status_kind(int status)
{
    switch (status / 100) {
    case 3:
        return E_STATUS_3XX;
    case 4:
        return E_STATUS_4XX;
    case 5:
        return E_STATUS_5XX;
    default:
        return E_STATUS_OTHER;
    }
}

/* conn_complete — a whole response arrived: record it and move on. */
static void conn_complete(struct conn *c)
{
    struct worker *w = c->w;
    int64_t now = owl_mono_ns();
    int status = c->rp.status;
    if (c->measured) {
        w->st.requests++;
        hist_add(&w->st.lat, (uint64_t)(now > c->origin ? now - c->origin : 0));
        if (now > w->st.last_done)
            w->st.last_done = now;
        if (status / 100 == 2) {
            w->st.ok++;
            w->st.items += w->run->rs.items[c->req];
        }
    }
    if (status / 100 != 2) {
        char detail[64];
        snprintf(detail, sizeof detail, "HTTP %d", status);
        note_error(w, status_kind(status), detail);
    }
    /* an answer before the whole request went out leaves the connection unusable */
    if (c->rp.close || c->state == C_SENDING)
        conn_close(c);
    c->state = C_IDLE;
    next_send(c, now, 0, false);
}

static void conn_read(struct conn *c)
{
    struct worker *w = c->w;
    for (;;) {
        ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);
        if (n > 0) {
            size_t used = 0;
            int rc;
            if (c->state == C_IDLE) { /* it waits in the heap: drop the socket only */
                note_error(w, E_PROTOCOL, "bytes received with no request in flight");
                conn_close(c);
                return;
            }
            if (c->measured)
                w->st.bytes_in += (uint64_t)n;
            rc = rp_feed(&c->rp, w->rbuf, (size_t)n, &used);
            if (rc < 0) {
                conn_fail(c, E_PROTOCOL, c->rp.why);
                return;
            }
            if (rc > 0) {
                if (used < (size_t)n)
                    conn_fail(c, E_PROTOCOL, "bytes after the end of the response");
                else
                    conn_complete(c);
                return;
            }
            if ((size_t)n < RBUF_SIZE)
                return;
            continue;
        }
        if (n == 0) {
            if (c->state == C_IDLE) /* the server closed an idle keep-alive connection */
                conn_close(c);
            else if (rp_eof(&c->rp) > 0)
                conn_complete(c);
            else
                conn_fail(c, E_CLOSED, c->rp.why);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (c->state == C_IDLE)
            conn_close(c);
        else
            conn_fail(c, E_RECV, strerror(errno));
        return;
    }
}

static void on_event(struct conn *c, uint32_t ev)
{
    switch (c->state) {
    case C_CONNECTING: {
        int err = 0;
        socklen_t l = sizeof err;
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            conn_fail(c, E_CONNECT, strerror(err));
            return;
        }
        c->connect_fails = 0;
        conn_write(c);
        return;
    }
    case C_SENDING:
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            conn_read(c);
            if (c->state != C_SENDING)
                return;
        }
        if (ev & EPOLLOUT)
            conn_write(c);
        return;
    case C_WAITING:
    case C_IDLE:
        conn_read(c);
        return;
    case C_DONE:
        return;
    }
}

static void scan_timeouts(struct worker *w, int64_t now)
{
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if ((c->state == C_CONNECTING || c->state == C_SENDING || c->state == C_WAITING) &&
            c->deadline <= now)
            conn_fail(c, E_TIMEOUT, c->state == C_CONNECTING ? "connect timed out"
                                                              : "no complete response in time");
    }
}

/* stop_idle — Ctrl-C: no new requests; the ones in flight finish or time out. */
static void stop_idle(struct worker *w)
{
    w->stopping = true;
    while (w->nheap)
        conn_done(heap_pop(w));
}

static int wait_events(struct worker *w, struct epoll_event *ev, int max, int64_t wait_ns)
{
    static atomic_int no_pwait2;
    if (!atomic_load(&no_pwait2)) {
        struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        int n = epoll_pwait2(w->ep, ev, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store(&no_pwait2, 1);
    }
    return epoll_wait(w->ep, ev, max, (int)((wait_ns + 999999) / 1000000));
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    struct epoll_event ev[256];
    int64_t next_scan = 0;
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (conn_connect(c, true) < 0)
            note_error(w, E_CONNECT, strerror(errno)); /* retried at its first send */
        next_send(c, owl_mono_ns(), run->t_begin, true);
    }
    while (w->active > 0) {
        int64_t now = owl_mono_ns();
        if (!w->stopping && atomic_load(&g_stop))
            stop_idle(w);
        while (w->nheap && w->heap[0]->wake <= now)
            next_send(heap_pop(w), now, 0, false);
        if (now >= next_scan) {
            scan_timeouts(w, now);
            next_scan = now + SCAN_NS;
        }
        if (w->active == 0)
            break;
        int64_t wait = next_scan - now;
        if (w->nheap && w->heap[0]->wake - now < wait)
            wait = w->heap[0]->wake - now;
        int n = wait_events(w, ev, (int)OWL_ARRAY_LEN(ev), wait > 0 ? wait : 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "loadgen: epoll: %s\n", strerror(errno));
            atomic_store(&g_stop, 1);
            stop_idle(w);
            break;
        }
        for (int i = 0; i < n; i++)
            on_event(ev[i].data.ptr, ev[i].events);
    }
    for (size_t i = 0; i < w->nconns; i++)
        conn_close(&w->conns[i]);
    return NULL;
}

/* ---- setup and report ------------------------------------------------------------------ */

/* probe — one blocking connect before the clock starts, for a clear message when nothing
 * listens. -1 after a message. */
static int probe(const struct target *t, const char *url)
{
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
    if (fd < 0 || connect(fd, (const struct sockaddr *)&t->addr, t->alen) < 0) {
        fprintf(stderr, "loadgen: cannot connect to %s: %s\n", url, strerror(errno));
        rc = -1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* raise_nofile — makes room for one descriptor per connection. -1 after a message. */
static int raise_nofile(uint64_t conns)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)conns + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return usage_error("%" PRIu64 " connections need %lu open files; the hard limit is %lu",
                           conns, (unsigned long)need, (unsigned long)rl.rlim_max);
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return usage_error("cannot raise the open-file limit to %lu: %s", (unsigned long)need,
                           strerror(errno));
    return 0;
}

static void workers_free(struct worker *ws, size_t n)
{
    if (!ws)
        return;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].ep >= 0)
            close(ws[i].ep);
        free(ws[i].conns);
        free(ws[i].heap);
        free(ws[i].rbuf);
    }
    free(ws);
}

/* workers_new — T workers sharing N connections (connection j goes to worker j % T). */
static struct worker *workers_new(struct run *run, size_t nthreads)
{
    struct worker *ws = calloc(nthreads, sizeof *ws);
    if (!ws)
        return NULL;
    for (size_t i = 0; i < nthreads; i++)
        ws[i].ep = -1;
    for (size_t i = 0; i < nthreads; i++) {
        struct worker *w = &ws[i];
        w->run = run;
        w->nconns = w->active = (size_t)(run->nconns / nthreads + (i < run->nconns % nthreads));
        w->cursor = run->rs.n * i / nthreads;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->conns = calloc(w->nconns, sizeof *w->conns);
        w->heap = calloc(w->nconns, sizeof *w->heap);
        w->rbuf = malloc(RBUF_SIZE);
        if (w->ep < 0 || !w->conns || !w->heap || !w->rbuf)
            goto fail;
        for (size_t k = 0; k < w->nconns; k++) {
            w->conns[k].w = w;
            w->conns[k].fd = -1;
            w->conns[k].id = (uint32_t)(k * nthreads + i);
        }
    }
    return ws;
fail:
    workers_free(ws, nthreads);
    return NULL;
}

struct report {
    const struct cfg *cfg;
    const char *url;
    size_t payloads;
    struct stats st; /* merged */
    uint64_t errors;
    double secs;
    double cpu_busy; /* loadgen's CPU time over its wall time while loading, in cores */
    double cpu_max;  /* the cores it could use: min(threads, CPUs it may run on) */
    bool interrupted;
};

static double cpu_secs(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void print_json(const struct report *r)
{
    const struct stats *st = &r->st;
    const struct cfg *cfg = r->cfg;
    owl_buf b = OWL_BUF_INIT;
    double rps = r->secs > 0 ? (double)st->requests / r->secs : 0;
    double ips = r->secs > 0 ? (double)st->items / r->secs : 0;
    owl_buf_puts(&b, "{\"url\":");
    owl_buf_json_str(&b, r->url, strlen(r->url));
    owl_buf_puts(&b, ",\"method\":");
    owl_buf_json_str(&b, cfg->method, strlen(cfg->method));
    owl_buf_printf(&b, ",\"connections\":%" PRIu64 ",\"threads\":%" PRIu64 ",\"mode\":\"%s\"",
                   cfg->connections, cfg->threads, cfg->rate > 0 ? "open" : "closed");
    if (cfg->rate > 0)
        owl_buf_printf(&b, ",\"rate_target\":%.3f", cfg->rate);
    else
        owl_buf_puts(&b, ",\"rate_target\":null");
    owl_buf_printf(&b, ",\"payloads\":%zu,\"warmup_s\":%.3f,\"duration_s\":%.6f", r->payloads,
                   cfg->warmup, r->secs);
    owl_buf_printf(&b, ",\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"ok\":%" PRIu64,
                   st->requests, rps, st->ok);
    owl_buf_printf(&b, ",\"items\":%" PRIu64 ",\"items_per_s\":%.1f", st->items, ips);
    owl_buf_printf(&b, ",\"latency_from\":\"%s\",\"latency_ms\":{",
                   cfg->rate > 0 ? "intended" : "send");
    owl_buf_printf(&b, "\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"p999\":%.4f,"
                       "\"max\":%.4f}",
                   st->lat.n ? ms(st->lat.sum / st->lat.n) : 0.0, ms(hist_pct(&st->lat, 500)),
                   ms(hist_pct(&st->lat, 900)), ms(hist_pct(&st->lat, 990)),
                   ms(hist_pct(&st->lat, 999)), ms(st->lat.max));
    owl_buf_printf(&b, ",\"errors\":%" PRIu64 ",\"errors_by_kind\":{", r->errors);
    for (int k = 0; k < E_KINDS; k++)
        owl_buf_printf(&b, "%s\"%s\":%" PRIu64, k ? "," : "", err_names[k], st->err[k]);
    owl_buf_printf(&b, "},\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
                       ",\"reconnects\":%" PRIu64 ",\"unsent\":%" PRIu64
                       ",\"client_cpu\":%.3f,\"client_cpus\":%.0f,\"interrupted\":%s,"
                       "\"first_error\":",
                   st->bytes_out, st->bytes_in, st->reconnects, st->unsent, r->cpu_busy, r->cpu_max,
                   r->interrupted ? "true" : "false");
    if (atomic_load(&g_first_set))
        owl_buf_json_str(&b, g_first_err, strlen(g_first_err));
    else
        owl_buf_puts(&b, "null");
    owl_buf_puts(&b, "}\n");
    if (b.data)
        fputs(b.data, stdout);
    owl_buf_free(&b);
}

static void print_table(const struct report *r)
{
    const struct stats *st = &r->st;
    const struct cfg *cfg = r->cfg;
    double rps = r->secs > 0 ? (double)st->requests / r->secs : 0;
    double ips = r->secs > 0 ? (double)st->items / r->secs : 0;
    printf("loadgen   %s %s\n", cfg->method, r->url);
    printf("load      %" PRIu64 " connections, %" PRIu64 " thread%s, ", cfg->connections,
           cfg->threads, cfg->threads == 1 ? "" : "s");
    if (cfg->rate > 0)
        printf("open loop at %.1f requests/s", cfg->rate);
    else
        printf("closed loop (one request in flight per connection)");
    printf(", %zu request bod%s, warm-up %.3g s%s\n", r->payloads, r->payloads == 1 ? "y" : "ies",
           cfg->warmup, r->interrupted ? ", INTERRUPTED" : "");
    printf("requests  %" PRIu64 " in %.3f s = %.1f /s (2xx: %" PRIu64 ")\n", st->requests, r->secs,
           rps, st->ok);
    printf("items     %" PRIu64 " = %.1f /s\n", st->items, ips);
    printf("latency   from %s: mean %.3f ms, p50 %.3f, p90 %.3f, p99 %.3f, p99.9 %.3f, "
           "max %.3f ms\n",
           cfg->rate > 0 ? "intended send time" : "send",
           st->lat.n ? ms(st->lat.sum / st->lat.n) : 0.0, ms(hist_pct(&st->lat, 500)),
           ms(hist_pct(&st->lat, 900)), ms(hist_pct(&st->lat, 990)), ms(hist_pct(&st->lat, 999)),
           ms(st->lat.max));
    printf("errors    %" PRIu64, r->errors);
    for (int k = 0, first = 1; k < E_KINDS; k++)
        if (st->err[k]) {
            printf("%s%s %" PRIu64, first ? " (" : ", ", err_names[k], st->err[k]);
            first = 0;
        }
    printf("%s\n", r->errors ? ")" : "");
    if (atomic_load(&g_first_set))
        printf("first     %s\n", g_first_err);
    if (st->unsent)
        printf("behind    %" PRIu64 " scheduled requests not sent by the end: the server did "
               "not keep up with --rate\n", st->unsent);
    printf("transfer  %.1f MB sent, %.1f MB received, %" PRIu64 " reconnects\n",
           (double)st->bytes_out / 1e6, (double)st->bytes_in / 1e6, st->reconnects);
    printf("client    loadgen used %.0f%% of a CPU (user + system time over wall time)%s\n",
           r->cpu_busy * 100, r->cpu_busy > 0.85 * r->cpu_max
                                  ? ": near saturation, the figures may be the client's limit"
                                  : "");
}

/* run_load — starts the workers, waits for them and merges their figures into rep.
 * -1 when threads could not be started. */
static int run_load(struct run *run, const struct cfg *cfg, struct report *rep)
{
    int rc = -1;
    struct worker *ws = workers_new(run, (size_t)cfg->threads);
    if (!ws) {
        fprintf(stderr, "loadgen: out of memory or descriptors for the workers\n");
        return -1;
    }
    double cpu0 = cpu_secs();
    int64_t wall0 = owl_mono_ns();
    /* a few ms for the threads to connect before the first scheduled send */
    run->t_begin = wall0 + 20000000;
    run->t0 = run->t_begin + (int64_t)(cfg->warmup * 1e9);
    run->t_end = cfg->duration > 0 ? run->t0 + (int64_t)(cfg->duration * 1e9) : INT64_MAX;
    for (size_t i = 0; i < cfg->threads; i++) {
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start thread %zu\n", i);
            atomic_store(&g_stop, 1);
            break;
        }
        ws[i].started = true;
    }
    for (size_t i = 0; i < cfg->threads; i++) {
        if (!ws[i].started)
            continue;
        pthread_join(ws[i].th, NULL);
        struct stats *s = &ws[i].st, *m = &rep->st;
        m->requests += s->requests;
        m->ok += s->ok;
        m->items += s->items;
        m->bytes_out += s->bytes_out;
        m->bytes_in += s->bytes_in;
        m->reconnects += s->reconnects;
        m->unsent += s->unsent;
        for (int k = 0; k < E_KINDS; k++)
            m->err[k] += s->err[k];
        if (s->last_done > m->last_done)
            m->last_done = s->last_done;
        hist_merge(&m->lat, &s->lat);
    }
    rc = ws[cfg->threads - 1].started ? 0 : -1;
    int64_t wall1 = owl_mono_ns();
    rep->cpu_busy = wall1 > wall0 ? (cpu_secs() - cpu0) / ((double)(wall1 - wall0) / 1e9) : 0;
    cpu_set_t set;
    int ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    rep->cpu_max = (double)((uint64_t)ncpu < cfg->threads ? (uint64_t)ncpu : cfg->threads);
    int64_t end = rep->st.last_done > run->t0 ? rep->st.last_done : wall1;
    rep->secs = end > run->t0 ? (double)(end - run->t0) / 1e9 : 0;
    for (int k = 0; k < E_KINDS; k++)
        rep->errors += rep->st.err[k];
    workers_free(ws, (size_t)cfg->threads);
    return rc;
}

int main(int argc, char **argv)
{
    struct cfg cfg = {.connections = 64, .threads = 1, .duration = -1, .rate = -1,
                      .payload_format = "lines", .items_per_request = 1, .timeout = 10};
    struct run *run = calloc(1, sizeof *run);
    struct report *rep = calloc(1, sizeof *rep);
    int status = 2;
    if (!run || !rep) {
        fprintf(stderr, "loadgen: out of memory\n");
        goto out;
    }
    if (parse_args(argc, argv, &cfg) < 0)
        goto out;
    if (cfg.help) {
        usage(stdout);
        status = 0;
        goto out;
    }
    if (check_cfg(&cfg) < 0 || parse_url(cfg.url, &run->tgt) < 0 ||
        build_requests(&cfg, &run->tgt, &run->rs) < 0 || raise_nofile(cfg.connections) < 0)
        goto out;
    status = 1;
    if (probe(&run->tgt, cfg.url) < 0)
        goto out;
    run->open_loop = cfg.rate > 0;
    run->ns_per_slot = run->open_loop ? 1e9 / cfg.rate : 0;
    run->head = strcmp(cfg.method, "HEAD") == 0;
    run->nconns = cfg.connections;
    run->timeout_ns = (int64_t)(cfg.timeout * 1e9);
    run->limit = cfg.requests;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = (int)SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (run_load(run, &cfg, rep) < 0)
        goto out;
    rep->cfg = &cfg;
    rep->url = cfg.url;
    rep->payloads = run->rs.n;
    rep->interrupted = atomic_load(&g_stop) != 0;
    if (cfg.json)
        print_json(rep);
    else
        print_table(rep);
    fflush(stdout);
    if (rep->st.requests == 0 && rep->errors == 0)
        fprintf(stderr, "loadgen: no request completed in the measured window\n");
    status = rep->errors == 0 && rep->st.requests > 0 && !rep->interrupted ? 0 : 1;
out:
    if (run) {
        free(run->tgt.path);
        reqset_free(&run->rs);
    }
    free(run);
    free(rep);
    /* end by the signal, so a shell running us stops too instead of taking the interrupt
     * as handled (SA_RESETHAND restored the default action) */
    int sig = atomic_load(&g_stop);
    if (sig > 1)
        raise(sig);
    return status;
}

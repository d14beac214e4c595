/* config.c — owld's option table and the three ways it is read: defaults, command-line
 * flags (--name VALUE or --name=VALUE) and a JSON config file (key = name with '_' for '-').
 * Invariant: every parse works on a scratch copy of owl_config; the caller's copy changes
 * only when the whole parse succeeds. The table below is the only list of options: defaults,
 * flags, keys, range checks and --help all read it (man/owld.8, docs/operations.md mirror it). */
#include "server/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <bson/bson.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/target.h"

#define CONFIG_FILE_MAX (1024 * 1024)

enum opt_type {
    T_STRING,   /* char array, non-empty */
    T_HOSTPORT, /* char array host + int port */
    T_INT,      /* int in [min, max] */
    T_INT64,    /* int64_t in [min, max] */
    T_CHOICE,   /* int holding the index of the value in `choices` */
    T_FILE,     /* --config: names a file, stores nothing itself */
    T_ACTION,   /* --help, --version: no value */
    T_TOPICS,   /* owl_config_topics: a flag per TOPIC=URL, a JSON object as a key */
};

struct opt {
    const char *name;    /* flag without dashes; the JSON key is this with '_' for '-' */
    char short_name;     /* single-letter alias (-h), 0 for none */
    enum opt_type type;
    size_t off;          /* offset of the field in owl_config (the host for T_HOSTPORT) */
    size_t size;         /* capacity of the char array (T_STRING, T_HOSTPORT) */
    size_t port_off;     /* T_HOSTPORT: offset of the int port */
    int64_t min, max;    /* T_INT, T_INT64 */
    const char *def;     /* default, as flag text (NULL: none) */
    const char *arg;     /* value name in --help */
    const char *help;
    const char *section; /* starts a new heading in --help */
    bool flag_only;      /* no config file key */
    enum owl_config_action action; /* T_ACTION */
    const char *const *choices;    /* T_CHOICE: the accepted values, NULL-terminated */
    size_t given_off;    /* offset of an int set to 1 when a flag or the file gives the option
                          * (0: none kept; no int lives at offset 0) */
};

/* T_CHOICE value lists; the index is what is stored, so their order is the enum's. */
static const char *const wal_syncs[] = {"always", "interval", "none", NULL}; /* owl_sync_policy */
static const char *const no_yes[] = {"no", "yes", NULL}; /* 0, 1 */
static const char *const off_on[] = {"off", "on", NULL}; /* 0, 1 */

/* Field offsets checked against the field's C type at compile time: a table row that
 * names an int64_t field as T_INT does not build. */
#define FIELD(f, T) _Generic(((owl_config *)0)->f, T: offsetof(owl_config, f))
#define STR(f) .off = FIELD(f, char *), .size = sizeof(((owl_config *)0)->f)
#define HOSTPORT(h, p) STR(h), .port_off = FIELD(p, int)
#define INT(f) .off = FIELD(f, int)
#define INT64(f) .off = FIELD(f, int64_t)
#define TOPICS(f) .off = FIELD(f, owl_config_topics)

static const struct opt opts[] = {
    {.name = "listen", .type = T_HOSTPORT, HOSTPORT(listen_host, listen_port),
     .def = "127.0.0.1:4318", .arg = "HOST:PORT", .section = "Options",
     .help = "address of the HTTP port (ingest, queries, AWS APIs); port 0 = any free"},
    {.name = "data-dir", .type = T_STRING, STR(data_dir), .def = "./owl-data", .arg = "DIR",
     .help = "data directory, created on first start (admin.key, meta/, store/)"},
    {.name = "workers", .type = T_INT, INT(workers), .min = 0, .max = 256, .def = "0",
     .arg = "N", .help = "worker threads; 0 = one per online CPU"},
    {.name = "config", .type = T_FILE, .flag_only = true, .arg = "FILE",
     .help = "JSON config file, applied before the other flags whatever its position"},
    {.name = "log-level", .type = T_CHOICE, .choices = owl_log_level_names, INT(log_level), .def = "info", .arg = "LEVEL",
     .help = "least severe messages logged: debug, info, warn, error or off"},
    {.name = "max-header-bytes", .type = T_INT64, INT64(max_header_bytes), .min = 1024,
     .max = 1048576, .def = "16384", .arg = "N", .section = "Limits",
     .help = "largest request line + header block; larger gets 431"},
    {.name = "max-body-bytes", .type = T_INT64, INT64(max_body_bytes), .min = 1024,
     .max = 1073741824, .def = "16777216", .arg = "N",
     .help = "largest request body, also after decompression; larger gets 413"},
    {.name = "preauth-body-bytes", .type = T_INT64, INT64(preauth_body_bytes), .min = 1024,
     .max = 16777216, .def = "65536", .arg = "N",
     .help = "body a request without credentials may carry; more gets 413, then close"},
    {.name = "max-buffered-mib", .type = T_INT64, INT64(max_buffered_mib), .min = 1,
     .max = 65536, .def = "256", .arg = "MIB",
     .help = "MiB of request bodies held across all connections; beyond, 503"},
    {.name = "read-timeout-ms", .type = T_INT64, INT64(read_timeout_ms), .min = 100,
     .max = 3600000, .def = "30000", .arg = "MS",
     .help = "time allowed to receive a whole request once it started; then 408"},
    {.name = "idle-timeout-ms", .type = T_INT64, INT64(idle_timeout_ms), .min = 100,
     .max = 86400000, .def = "60000", .arg = "MS",
     .help = "an idle keep-alive connection is closed (silently) after this long"},
    {.name = "max-connections", .type = T_INT64, INT64(max_connections), .min = 1,
     .max = 1000000, .def = "4096", .arg = "N",
     .help = "open connections at most; beyond it new ones get 503 and are closed"},
    {.name = "shutdown-grace-ms", .type = T_INT64, INT64(shutdown_grace_ms), .min = 0,
     .max = 60000, .def = "4000", .arg = "MS",
     .help = "on SIGTERM/SIGINT, time given to in-flight requests before closing"},
    {.name = "stream-buffer-bytes", .type = T_INT64, INT64(stream_buffer_bytes), .min = 1024,
     .max = 8388608, .def = "262144", .arg = "N",
     .help = "bytes one live stream (audit tail) may queue; beyond, events are dropped"},
    {.name = "stream-stall-ms", .type = T_INT64, INT64(stream_stall_ms), .min = 100,
     .max = 3600000, .def = "30000", .arg = "MS",
     .help = "a stream whose reader takes nothing for this long is closed"},
    {.name = "stream-heartbeat-ms", .type = T_INT64, INT64(stream_heartbeat_ms), .min = 0,
     .max = 3600000, .def = "15000", .arg = "MS",
     .help = "SSE keepalive comment after this long without output; 0 = off"},
    {.name = "sigv4-max-skew-s", .type = T_INT64, INT64(sigv4_max_skew_s), .min = 1,
     .max = 86400, .def = "900", .arg = "S",
     .help = "largest clock difference accepted in an AWS SigV4 signature"},
    {.name = "trust-tls-proxy", .type = T_CHOICE, .choices = no_yes, INT(trust_tls_proxy),
     .def = "no", .arg = "yes|no",
     .help = "behind a TLS proxy: accept SigV4 UNSIGNED-PAYLOAD bodies"},
    {.name = "auth-fail-limit", .type = T_INT64, INT64(auth_fail_limit), .min = 1,
     .max = 1000000, .def = "100", .arg = "N",
     .help = "failed authentications one source may make per minute; beyond, 429"},
    {.name = "audit-retention-days", .type = T_INT64, INT64(audit_retention_days), .min = 0,
     .max = 36500, .def = "90", .arg = "DAYS",
     .help = "days the audit trail keeps events (0 = forever)"},
    {.name = "trace-retention-days", .type = T_INT64, INT64(trace_retention_days), .min = 0,
     .max = 36500, .def = "30", .arg = "DAYS",
     .help = "days spans are kept (0 = forever; X-Ray: 30)"},
    {.name = "service-graph", .type = T_CHOICE, .choices = off_on, INT(service_graph),
     .def = "on", .arg = "on|off",
     .help = "the live service graph fed at ingest (owl/ServiceGraph metrics)"},
    {.name = "service-graph-ttl", .type = T_INT64, INT64(service_graph_ttl), .min = 1,
     .max = 3600, .def = "30", .arg = "SECONDS",
     .help = "a span waits this long for its caller or callee in the live graph"},
    {.name = "xray-daemon", .type = T_STRING, STR(xray_daemon), .def = OWL_XRAY_DAEMON_DEFAULT,
     .given_off = FIELD(xray_daemon_given, int), .arg = "HOST:PORT|off",
     .help = "X-Ray daemon endpoint: segments on UDP, sampling on TCP (off: none)"},
    {.name = "xray-daemon-tenant", .type = T_STRING, STR(xray_daemon_tenant), .def = "admin",
     .arg = "TENANT", .help = "tenant of what the X-Ray daemon endpoint gets (admin: the admin's)"},
    {.name = "metrics-raw-hours", .type = T_INT64, INT64(metrics_raw_hours),
     .min = 1, .max = 336, .def = "3", .arg = "HOURS",
     .help = "metrics: hours datapoints answer at their own resolution (CloudWatch: 3)"},
    {.name = "metrics-60s-days", .type = T_INT64, INT64(metrics_60s_days), .min = 1,
     .max = 36500, .def = "15", .arg = "DAYS",
     .help = "metrics: days 60-second roll-ups answer (CloudWatch: 15)"},
    {.name = "metrics-300s-days", .type = T_INT64, INT64(metrics_300s_days), .min = 1,
     .max = 36500, .def = "63", .arg = "DAYS",
     .help = "metrics: days 300-second roll-ups answer (CloudWatch: 63)"},
    {.name = "metrics-3600s-days", .type = T_INT64, INT64(metrics_3600s_days),
     .min = 1, .max = 36500, .def = "455", .arg = "DAYS",
     .help = "metrics: days 3600-second roll-ups answer (CloudWatch: 455)"},
    {.name = "wal-sync", .type = T_CHOICE, .choices = wal_syncs, INT(wal_sync),
     .def = "always", .arg = "POLICY",
     .help = "when the WAL is fsynced: always (before each ack), interval or none"},
    {.name = "wal-sync-interval-ms", .type = T_INT64, INT64(wal_sync_interval_ms), .min = 10,
     .max = 60000, .def = "1000", .arg = "MS",
     .help = "with --wal-sync interval: how often the WAL is fsynced"},
    {.name = "insights-workers", .type = T_INT64, INT64(insights_workers), .min = 1, .max = 64,
     .def = "2", .arg = "N", .help = "threads that run Logs Insights queries"},
    {.name = "insights-concurrency", .type = T_INT64, INT64(insights_concurrency), .min = 1,
     .max = 1000, .def = "30", .arg = "N",
     .help = "Insights queries a tenant may run or queue at once"},
    {.name = "insights-timeout-ms", .type = T_INT64, INT64(insights_timeout_ms), .min = 1,
     .max = 3600000, .def = "3600000", .arg = "MS",
     .help = "an Insights query running longer stops with status Timeout"},
    {.name = "insights-max-mib", .type = T_INT64, INT64(insights_max_mib), .min = 1,
     .max = 65536, .def = "256", .arg = "MIB",
     .help = "memory one Insights query may hold; beyond it the query fails"},
    {.name = "store-settle-ms", .type = T_INT64, INT64(store_settle_ms), .min = 1000,
     .max = 604800000, .def = "3600000", .arg = "MS",
     .help = "a past day without appends this long is rewritten at zstd 9"},
    {.name = "alarm-topic", .type = T_TOPICS, TOPICS(alarm_topic), .arg = "TOPIC=URL",
     .section = "Alarm actions",
     .help = "alarm actions naming SNS topic TOPIC (ARN or name) POST to URL; repeat"},
    {.name = "help", .short_name = 'h', .type = T_ACTION, .action = OWL_CONFIG_HELP,
     .flag_only = true, .section = "Other", .help = "print this help and exit"},
    {.name = "version", .short_name = 'V', .type = T_ACTION, .action = OWL_CONFIG_VERSION,
     .flag_only = true, .help = "print the version and exit"},
};

/* find — the option whose name is s[0..n) when every '-' of the name is spelled sep
 * ('-' for flags, '_' for config keys); NULL when none. */
static const struct opt *find(const char *s, size_t n, char sep)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(opts); i++) {
        const char *name = opts[i].name;
        size_t k = 0;
        while (k < n && name[k] && (name[k] == '-' ? sep : name[k]) == s[k])
            k++;
        if (k == n && name[k] == '\0')
            return &opts[i];
    }
    return NULL;
}

static void *field(owl_config *c, size_t off)
{
    return (char *)c + off;
}

/* parse_i64 — a base-10 integer: optional '-', then digits only, nothing else.
 * Returns 1 and *v, 0 when not a number, -1 when it does not fit in 64 bits. */
static int parse_i64(const char *s, int64_t *v)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    if (!*p)
        return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *v = x;
    return 1;
}

static int set_number(owl_config *c, const struct opt *o, const char *who, int64_t v,
                      owl_error *err)
{
    if (v < o->min || v > o->max)
        return owl_error_set(err, OWL_EINVAL, "%s: must be between %" PRId64 " and %" PRId64,
                             who, o->min, o->max);
    if (o->type == T_INT)
        *(int *)field(c, o->off) = (int)v;
    else
        *(int64_t *)field(c, o->off) = v;
    return OWL_OK;
}

/* ---- --alarm-topic ---- */

/* record — the (topic, URL) record at offset *at of m; *at moves past it. */
static void record(const owl_config_topics *m, size_t *at, const char **topic, const char **url)
{
    *topic = m->text + *at;
    *at += strlen(*topic) + 1;
    *url = m->text + *at;
    *at += strlen(*url) + 1;
}

/* topic_add — maps the topic topic[0..tlen) (an SNS topic ARN or name) to url too, within
 * the bounds of config.h; who starts the messages. */
static int topic_add(owl_config_topics *m, const char *who, const char *topic, size_t tlen,
                     const char *url, owl_error *err)
{
    char name[OWL_TARGET_MAX + 1];
    owl_target t;
    owl_error why = {0};
    if (tlen >= sizeof name)
        return owl_error_set(err, OWL_EINVAL, "%s: topic '%.64s...' is longer than %d bytes",
                             who, topic, OWL_TARGET_MAX);
    memcpy(name, topic, tlen);
    name[tlen] = '\0';
    if (strncmp(name, "arn:", 4) == 0 ? owl_target_parse(name, &t, &why) != OWL_OK
                                      : !owl_target_topic_name_ok(name))
        return owl_error_set(err, OWL_EINVAL, "%s: '%.64s' is not an SNS topic ARN or name: %s",
                             who, name, why.msg[0] ? why.msg : "1-256 letters, digits, '_' "
                             "or '-', optionally ending .fifo");
    bool http = strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
    if (!http || owl_target_parse(url, &t, &why) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "%s: '%.64s' is not a webhook URL: %s", who, url,
                             http ? why.msg : "give an http:// or https:// URL");
    size_t nurls = 0;
    for (size_t at = 0; at < m->len;) {
        const char *t0, *u0;
        record(m, &at, &t0, &u0);
        if (strcmp(t0, name) != 0)
            continue;
        if (strcmp(u0, url) == 0)
            return owl_error_set(err, OWL_EINVAL, "%s: topic %.64s is mapped to %.64s twice",
                                 who, name, url);
        nurls++;
    }
    if (nurls == 0 && m->ntopics >= OWL_CONFIG_TOPICS_MAX)
        return owl_error_set(err, OWL_EINVAL, "%s: more than %d topics", who,
                             OWL_CONFIG_TOPICS_MAX);
    if (nurls >= OWL_CONFIG_TOPIC_URLS_MAX)
        return owl_error_set(err, OWL_EINVAL, "%s: topic %.64s has more than %d URLs", who, name,
                             OWL_CONFIG_TOPIC_URLS_MAX);
    size_t ulen = strlen(url);
    if (tlen + ulen + 2 > sizeof m->text - m->len)
        return owl_error_set(err, OWL_EINVAL, "%s: the topic mappings take more than %zu bytes",
                             who, sizeof m->text);
    memcpy(m->text + m->len, name, tlen + 1);
    memcpy(m->text + m->len + tlen + 1, url, ulen + 1);
    m->len += tlen + ulen + 2;
    m->ntopics += nurls == 0;
    return OWL_OK;
}

size_t owl_config_topic_urls(const owl_config_topics *m, const char *arn, const char **urls,
                             size_t max)
{
    const char *colon = strrchr(arn, ':');
    const char *name = colon ? colon + 1 : arn;
    size_t n = 0;
    /* the entries of the ARN itself, else those of its bare name */
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        for (size_t at = 0; at < m->len && n < max;) {
            const char *t, *u;
            record(m, &at, &t, &u);
            if (strcmp(t, pass == 0 ? arn : name) == 0)
                urls[n++] = u;
        }
    }
    return n;
}

static int set_value(owl_config *c, const struct opt *o, const char *who, const char *val,
                     owl_error *err);

/* set_text — applies a textual value (flag, default or JSON string) to option o and, unless
 * it is the default, notes that the option was given. */
static int set_text(owl_config *c, const struct opt *o, const char *who, const char *val,
                    owl_error *err)
{
    int rc = set_value(c, o, who, val, err);
    if (rc == OWL_OK && o->given_off)
        *(int *)field(c, o->given_off) = strcmp(who, "default") != 0;
    return rc;
}

static int set_value(owl_config *c, const struct opt *o, const char *who, const char *val,
                     owl_error *err)
{
    size_t len = strlen(val);
    switch (o->type) {
    case T_STRING:
        if (len == 0)
            return owl_error_set(err, OWL_EINVAL, "%s: must not be empty", who);
        if (len >= o->size)
            return owl_error_set(err, OWL_EINVAL, "%s: longer than %zu bytes", who,
                                 o->size - 1);
        memcpy(field(c, o->off), val, len + 1);
        return OWL_OK;
    case T_HOSTPORT: {
        char *host = field(c, o->off);
        int *port = field(c, o->port_off);
        owl_error e;
        int rc = owl_config_parse_hostport(val, host, o->size, port, &e);
        return rc ? owl_error_set(err, rc, "%s: %s", who, e.msg) : OWL_OK;
    }
    case T_INT:
    case T_INT64: {
        int64_t v = 0;
        int r = parse_i64(val, &v);
        if (r == 0)
            return owl_error_set(err, OWL_EINVAL, "%s: '%.64s' is not a number", who, val);
        if (r < 0)
            v = val[0] == '-' ? INT64_MIN : INT64_MAX; /* reported as out of range */
        return set_number(c, o, who, v, err);
    }
    case T_CHOICE: {
        char list[256] = "";
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(val, o->choices[i]) == 0) {
                *(int *)field(c, o->off) = i;
                return OWL_OK;
            }
            size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", o->choices[i]);
        }
        return owl_error_set(err, OWL_EINVAL, "%s: '%.64s' is not one of %s", who, val, list);
    }
    case T_TOPICS: {
        const char *eq = strchr(val, '=');
        if (!eq || eq == val || !eq[1])
            return owl_error_set(err, OWL_EINVAL, "%s: '%.64s' is not TOPIC=URL", who, val);
        return topic_add(field(c, o->off), who, val, (size_t)(eq - val), eq + 1, err);
    }
    case T_FILE:
    case T_ACTION:
        break;
    }
    return owl_error_set(err, OWL_EINTERNAL, "%s: takes no value", who);
}

void owl_config_defaults(owl_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < OWL_ARRAY_LEN(opts); i++) {
        if (!opts[i].def)
            continue;
        int rc = set_text(c, &opts[i], "default", opts[i].def, NULL);
        assert(rc == OWL_OK); /* the table's own defaults; tests/unit/test_config.c checks */
        (void)rc;
    }
}

/* ---- HOST:PORT ---- */

static bool is_name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_';
}

/* check_v6 — h[0..n) is an IPv6 address, optionally with a %zone. */
static bool check_v6(const char *h, size_t n)
{
    char addr[INET6_ADDRSTRLEN];
    const char *pct = memchr(h, '%', n);
    size_t alen = pct ? (size_t)(pct - h) : n;
    if (alen == 0 || alen >= sizeof addr)
        return false;
    if (pct) {
        if (pct + 1 == h + n)
            return false;
        for (const char *z = pct + 1; z < h + n; z++)
            if (!is_name_char(*z))
                return false;
    }
    memcpy(addr, h, alen);
    addr[alen] = '\0';
    unsigned char bin[16];
    return inet_pton(AF_INET6, addr, bin) == 1;
}

int owl_config_parse_hostport(const char *s, char *host, size_t hostsz, int *port,
                              owl_error *err)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: missing ']'", s);
        h = s + 1;
        hlen = (size_t)(close - h);
        if (close[1] != ':')
            return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: no :PORT after ']'",
                                 s);
        if (!check_v6(h, hlen))
            return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: bad IPv6 address",
                                 s);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: missing :PORT", s);
        hlen = (size_t)(colon - s);
        if (hlen == 0)
            return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: empty host", s);
        if (memchr(s, ':', hlen))
            return owl_error_set(err, OWL_EINVAL,
                                 "'%.80s' is not HOST:PORT: put IPv6 addresses in brackets, "
                                 "as in [::1]:4318", s);
        for (size_t i = 0; i < hlen; i++)
            if (!is_name_char(s[i]))
                return owl_error_set(err, OWL_EINVAL,
                                     "'%.80s' is not HOST:PORT: bad character in host", s);
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    long v = 0;
    bool ok = plen > 0 && plen <= 5;
    for (size_t i = 0; ok && i < plen; i++) {
        ok = p[i] >= '0' && p[i] <= '9';
        v = v * 10 + (p[i] - '0');
    }
    if (!ok || v > 65535)
        return owl_error_set(err, OWL_EINVAL,
                             "'%.80s' is not HOST:PORT: port must be a number from 0 to 65535",
                             s);
    if (hlen >= hostsz)
        return owl_error_set(err, OWL_EINVAL, "'%.80s' is not HOST:PORT: host longer than %zu "
                             "bytes", s, hostsz ? hostsz - 1 : 0);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return OWL_OK;
}

/* ---- JSON config ---- */

/* check_json_text — what libbson 1.23 lets through: a top level that is not an object
 * (arrays become {"0": ...}), and integer literals of 20+ digits, which it wraps modulo
 * 2^64 without an error (18446744073709551617 reads as 1). Strings are skipped. */
static int check_json_text(const char *s, size_t n, const char *origin, owl_error *err)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i == n || s[i] != '{')
        return owl_error_set(err, OWL_EINVAL, "%s: expected a JSON object", origin);
    bool in_str = false;
    for (; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            continue;
        }
        /* a number token starts at a digit or '-' not continuing a number or a word */
        bool starts = (ch == '-' || (ch >= '0' && ch <= '9')) &&
                      (i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.' ||
                                   s[i - 1] == '+' || s[i - 1] == '-'));
        if (!starts)
            continue;
        size_t j = ch == '-' ? i + 1 : i, digits = 0;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++, digits++;
        if (digits > 19)
            return owl_error_set(err, OWL_EINVAL, "%s: number %.*s... is too large", origin, 24,
                                 s + i);
        i = j - 1;
    }
    return OWL_OK;
}

static const char *bson_kind(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_UTF8:
        return "a string";
    case BSON_TYPE_DOCUMENT:
        return "an object";
    case BSON_TYPE_ARRAY:
        return "an array";
    case BSON_TYPE_BOOL:
        return "a boolean";
    case BSON_TYPE_NULL:
        return "null";
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
        return "a number";
    default:
        return "an extended JSON value";
    }
}

/* double_to_i64 — d as an integer: false when d is NaN, infinite or has a fraction.
 * Beyond int64 (where every double is integral) it saturates, to be reported as out of
 * range. Both bounds are exactly 2^63, so the cast between them is defined. */
static bool double_to_i64(double d, int64_t *v)
{
    if (!isfinite(d))
        return false;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        *v = d < 0 ? INT64_MIN : INT64_MAX;
        return true;
    }
    *v = (int64_t)d;
    return (double)*v == d;
}

/* bson_url — the string at it, as a URL of topic for topic_add. */
static int bson_url(owl_config_topics *m, const char *who, const char *topic,
                    const bson_iter_t *it, owl_error *err)
{
    uint32_t len = 0;
    if (bson_iter_type(it) != BSON_TYPE_UTF8)
        return owl_error_set(err, OWL_EINVAL, "%s: %.64s: expected a URL, got %s", who, topic,
                             bson_kind(bson_iter_type(it)));
    const char *url = bson_iter_utf8(it, &len);
    if (strlen(url) != len)
        return owl_error_set(err, OWL_EINVAL, "%s: %.64s: URL contains a NUL character", who,
                             topic);
    return topic_add(m, who, topic, strlen(topic), url, err);
}

/* set_topics — a T_TOPICS key: {"TOPIC": "URL" or ["URL", ...], ...} replaces the mappings. */
static int set_topics(owl_config *c, const struct opt *o, const char *who, const bson_iter_t *it,
                      owl_error *err)
{
    owl_config_topics *m = field(c, o->off);
    bson_iter_t topics, urls;
    int rc = OWL_OK;
    if (bson_iter_type(it) != BSON_TYPE_DOCUMENT || !bson_iter_recurse(it, &topics))
        return owl_error_set(err, OWL_EINVAL, "%s: expected an object, got %s", who,
                             bson_kind(bson_iter_type(it)));
    memset(m, 0, sizeof *m);
    while (rc == OWL_OK && bson_iter_next(&topics)) {
        const char *topic = bson_iter_key(&topics);
        if (bson_iter_type(&topics) != BSON_TYPE_ARRAY) {
            rc = bson_url(m, who, topic, &topics, err);
            continue;
        }
        size_t n = 0;
        if (!bson_iter_recurse(&topics, &urls))
            return owl_error_set(err, OWL_EINVAL, "%s: %.64s: invalid array", who, topic);
        while (rc == OWL_OK && bson_iter_next(&urls)) {
            rc = bson_url(m, who, topic, &urls, err);
            n++;
        }
        if (rc == OWL_OK && n == 0)
            rc = owl_error_set(err, OWL_EINVAL, "%s: %.64s: no URL", who, topic);
    }
    return rc;
}

/* set_bson — applies one config file value to option o (type checked here). */
static int set_bson(owl_config *c, const struct opt *o, const char *who, const bson_iter_t *it,
                    owl_error *err)
{
    bson_type_t t = bson_iter_type(it);
    if (o->type == T_TOPICS)
        return set_topics(c, o, who, it, err);
    if (o->type == T_INT || o->type == T_INT64) {
        int64_t v;
        if (t == BSON_TYPE_INT32) {
            v = bson_iter_int32(it);
        } else if (t == BSON_TYPE_INT64) {
            v = bson_iter_int64(it);
        } else if (t == BSON_TYPE_DOUBLE) {
            double d = bson_iter_double(it);
            if (!double_to_i64(d, &v))
                return owl_error_set(err, OWL_EINVAL, "%s: expected an integer, got %g", who, d);
        } else {
            return owl_error_set(err, OWL_EINVAL, "%s: expected an integer, got %s", who,
                                 bson_kind(t));
        }
        return set_number(c, o, who, v, err);
    }
    if (t != BSON_TYPE_UTF8)
        return owl_error_set(err, OWL_EINVAL, "%s: expected a string, got %s", who,
                             bson_kind(t));
    uint32_t len = 0;
    const char *s = bson_iter_utf8(it, &len);
    if (strlen(s) != len)
        return owl_error_set(err, OWL_EINVAL, "%s: string contains a NUL character", who);
    return set_text(c, o, who, s, err);
}

/* unknown_key — the error for a key that is not in the table, with a hint when the key
 * is a flag spelling ("data-dir") of a real key. */
static int unknown_key(const char *origin, const char *key, owl_error *err)
{
    const struct opt *o = find(key, strlen(key), '-');
    if (o && !o->flag_only && strchr(key, '-')) {
        char hint[64];
        size_t n = strlen(key);
        for (size_t i = 0; i <= n && i < sizeof hint; i++)
            hint[i] = key[i] == '-' ? '_' : key[i];
        hint[sizeof hint - 1] = '\0';
        return owl_error_set(err, OWL_EINVAL, "%s: unknown key '%s' (did you mean '%s'?)",
                             origin, key, hint);
    }
    return owl_error_set(err, OWL_EINVAL, "%s: unknown key '%.64s'", origin, key);
}

/* apply_json — load_json with origin ("config" or "config PATH") starting each message. */
static int apply_json(owl_config *c, const char *json, size_t n, const char *origin,
                      owl_error *err)
{
    owl_config tmp = *c;
    bson_t doc = BSON_INITIALIZER, extra = BSON_INITIALIZER;
    bson_json_reader_t *reader = NULL;
    bson_error_t berr = {0};
    bson_iter_t it;
    int rc = check_json_text(json, n, origin, err);
    if (rc)
        goto out;
    reader = bson_json_data_reader_new(false, 0);
    if (!reader) {
        rc = owl_error_set(err, OWL_ENOMEM, "%s: out of memory", origin);
        goto out;
    }
    bson_json_data_reader_ingest(reader, (const uint8_t *)json, n);
    int got = bson_json_reader_read(reader, &doc, &berr);
    int more = got == 1 ? bson_json_reader_read(reader, &extra, &berr) : 0;
    if (got != 1 || more != 0) {
        const char *why = got == 0 ? "empty" : more == 1 ? "text after the object" : berr.message;
        rc = owl_error_set(err, OWL_EINVAL, "%s: invalid JSON: %s", origin, why);
        goto out;
    }
    if (!bson_iter_init(&it, &doc)) {
        rc = owl_error_set(err, OWL_EINVAL, "%s: invalid JSON", origin);
        goto out;
    }
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        const struct opt *o = find(key, strlen(key), '_');
        if (!o || o->flag_only) {
            rc = unknown_key(origin, key, err);
            goto out;
        }
        char who[192];
        snprintf(who, sizeof who, "%s: %s", origin, key);
        rc = set_bson(&tmp, o, who, &it, err);
        if (rc)
            goto out;
    }
    *c = tmp;
out:
    bson_json_reader_destroy(reader);
    bson_destroy(&doc);
    bson_destroy(&extra);
    return rc;
}

int owl_config_load_json(owl_config *c, const char *json, size_t n, owl_error *err)
{
    return apply_json(c, json, n, "config", err);
}

int owl_config_load_file(owl_config *c, const char *path, owl_error *err)
{
    char *text = NULL;
    size_t n = 0;
    char origin[128];
    int rc = owl_read_file(path, CONFIG_FILE_MAX, &text, &n, err);
    if (rc)
        goto out;
    /* cut long paths so that the key named after them still fits in the message */
    snprintf(origin, sizeof origin, "config %.100s", path);
    rc = apply_json(c, text, n, origin, err);
out:
    free(text);
    return rc;
}

/* ---- command line ---- */

/* next_flag — reads the flag at argv[*i] and its value (NULL for actions), advancing *i
 * past both. Fails on operands, unknown flags, a missing value, or a value given to an
 * action. Deterministic, so a second pass over argv meets no errors. */
static int next_flag(int argc, char **argv, int *i, const struct opt **out, const char **val,
                     owl_error *err)
{
    const char *a = argv[*i];
    const struct opt *o = NULL;
    const char *eq = NULL;
    size_t nlen = 0;
    *val = NULL;
    if (a[0] == '-' && a[1] != '-' && a[1] != '\0') {
        for (size_t k = 0; a[2] == '\0' && k < OWL_ARRAY_LEN(opts); k++)
            if (opts[k].short_name == a[1])
                o = &opts[k];
        if (!o)
            return owl_error_set(err, OWL_EINVAL, "unknown option %.64s", a);
    } else if (a[0] == '-' && a[1] == '-') {
        eq = strchr(a + 2, '=');
        nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        o = nlen ? find(a + 2, nlen, '-') : NULL;
        if (!o)
            return owl_error_set(err, OWL_EINVAL, "unknown option --%.*s",
                                 (int)(nlen > 64 ? 64 : nlen), a + 2);
    } else {
        return owl_error_set(err, OWL_EINVAL, "unexpected argument '%.64s' (owld takes only "
                             "options; see --help)", a);
    }
    if (o->type == T_ACTION) {
        if (eq)
            return owl_error_set(err, OWL_EINVAL, "--%s takes no value", o->name);
        *i += 1;
    } else if (eq) {
        *val = eq + 1;
        *i += 1;
    } else {
        if (*i + 1 >= argc)
            return owl_error_set(err, OWL_EINVAL, "--%s: missing value", o->name);
        *val = argv[*i + 1];
        *i += 2;
    }
    *out = o;
    return OWL_OK;
}

int owl_config_parse_args(owl_config *c, int argc, char **argv, enum owl_config_action *action,
                          owl_error *err)
{
    owl_config tmp;
    enum owl_config_action act = OWL_CONFIG_RUN;
    const char *file = NULL;
    const struct opt *o;
    const char *val;
    int rc;
    owl_config_defaults(&tmp);
    /* pass 1: check the shape of argv, find --config and --help/--version */
    for (int i = 1; i < argc;) {
        if ((rc = next_flag(argc, argv, &i, &o, &val, err)))
            return rc;
        if (o->type == T_ACTION && act == OWL_CONFIG_RUN)
            act = o->action;
        else if (o->type == T_FILE)
            file = val;
    }
    if (act == OWL_CONFIG_RUN && file) {
        if (!*file)
            return owl_error_set(err, OWL_EINVAL, "--config: empty file name");
        if ((rc = owl_config_load_file(&tmp, file, err)))
            return rc;
    }
    /* pass 2: the other flags, in order, over the file's settings; the first flag of a list
     * (--alarm-topic) clears the file's list, the next ones add to it */
    bool listed[OWL_ARRAY_LEN(opts)] = {false};
    for (int i = 1; act == OWL_CONFIG_RUN && i < argc;) {
        (void)next_flag(argc, argv, &i, &o, &val, NULL);
        if (o->type == T_FILE || o->type == T_ACTION)
            continue;
        if (o->type == T_TOPICS && !listed[o - opts]) {
            memset(field(&tmp, o->off), 0, sizeof(owl_config_topics));
            listed[o - opts] = true;
        }
        char who[80];
        snprintf(who, sizeof who, "--%s", o->name);
        if ((rc = set_text(&tmp, o, who, val, err)))
            return rc;
    }
    *c = tmp;
    *action = act;
    return OWL_OK;
}

/* ---- --help ---- */

static void usage_option(owl_buf *out, const struct opt *o)
{
    char head[64], shortf[8] = "";
    if (o->short_name)
        snprintf(shortf, sizeof shortf, "-%c, ", o->short_name);
    int n = snprintf(head, sizeof head, "  %s--%s%s%s", shortf, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
    owl_buf_puts(out, head);
    if (o->type == T_FILE)
        owl_buf_printf(out, "%*scommand line only", n < 26 ? 26 - n : 1, "");
    if (!o->flag_only) {
        owl_buf_printf(out, "%*skey ", n < 26 ? 26 - n : 1, "");
        for (const char *p = o->name; *p; p++)
            owl_buf_putc(out, *p == '-' ? '_' : *p);
        if (o->def)
            owl_buf_printf(out, ", default %s", o->def);
        if (o->type == T_INT || o->type == T_INT64)
            owl_buf_printf(out, ", %" PRId64 "..%" PRId64, o->min, o->max);
        if (o->type == T_TOPICS)
            owl_buf_puts(out, ", {\"TOPIC\": \"URL\" or [\"URL\", ...]}");
    }
    owl_buf_printf(out, "\n        %s\n", o->help);
}

void owl_config_usage(owl_buf *out)
{
    owl_buf_puts(out,
                 "Usage: owld --listen HOST:PORT --data-dir DIR [--workers N] [--config FILE]\n"
                 "            [--log-level LEVEL] [--alarm-topic TOPIC=URL ...] [limits...]\n"
                 "       owld --help | --version\n"
                 "\n"
                 "owld is the owl observability engine: one HTTP port serves ingest, queries\n"
                 "and AWS-compatible actions. Each flag is --name VALUE or --name=VALUE. The\n"
                 "JSON object in --config FILE may set every option that has a key (the flag\n"
                 "name with '_' for '-'). Precedence: defaults < config file < flags.\n");
    for (size_t i = 0; i < OWL_ARRAY_LEN(opts); i++) {
        if (opts[i].section)
            owl_buf_printf(out, "\n%s:\n", opts[i].section);
        usage_option(out, &opts[i]);
    }
}

/* config.c — libowl's configuration (owl/owl.h "set-up", docs/client.md "Configuration"): one
 * table of names, each with its default, its environment variables and the function that
 * checks its form. Invariant: every value held is valid for its name, and text[] holds it as
 * owl_config_get returns it (the sampler, its argument, the protocol and the two lists in
 * canonical form); the resource list never holds service.name, which has its own entry. */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define LIST_MAX 128 /* entries of headers, of resource: OTel's default attribute limit */

/* The names, in the order the environment is read: resource before service.name, so that
 * OTEL_RESOURCE_ATTRIBUTES' service.name loses to OWL_SERVICE_NAME and OTEL_SERVICE_NAME. */
enum opt {
    O_ENDPOINT,
    O_RESOURCE,
    O_SERVICE,
    O_API_KEY,
    O_HEADERS,
    O_SAMPLER,
    O_SAMPLER_ARG,
    O_PROTOCOL,
    O_COMPRESSION,
    O_TIMEOUT,
    O_EXPORT_INTERVAL,
    O_QUEUE_SIZE,
    O_BATCH_SIZE,
    O_METRICS_INTERVAL,
    O_LOG_LEVEL,
    O_LOG_STDERR,
    O_COUNT
};

typedef struct kv {
    char *key;   /* a token */
    char *value; /* decoded: UTF-8, not empty */
} kv;

typedef struct kv_list {
    kv *e;
    size_t n;
} kv_list;

struct owl_config {
    char *text[O_COUNT]; /* each name's value as owl_config_get returns it */
    kv_list headers, resource;
};

static int canon_endpoint(const char *v, char **out);
static int canon_service(const char *v, char **out);
static int canon_api_key(const char *v, char **out);
static int canon_sampler(const char *v, char **out);
static int canon_ratio(const char *v, char **out);
static int canon_protocol(const char *v, char **out);
static int canon_compression(const char *v, char **out);
static int canon_timeout(const char *v, char **out);
static int canon_interval(const char *v, char **out);
static int canon_queue(const char *v, char **out);
static int canon_level(const char *v, char **out);
static int canon_bool(const char *v, char **out);

typedef struct option {
    const char *name;
    const char *env[3]; /* read in this order: the first set (not empty) and valid wins */
    const char *dflt;
    /* Checks a value: 0 with *out its form as held (new string), OWL_ERR_INVAL, OWL_ERR_NOMEM.
     * NULL for the lists, which add to what is held (set_list). */
    int (*canon)(const char *v, char **out);
} option;

static const option options[O_COUNT] = {
    [O_ENDPOINT] = {"endpoint", {"OWL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"},
                    "http://127.0.0.1:4318", canon_endpoint},
    [O_RESOURCE] = {"resource", {"OTEL_RESOURCE_ATTRIBUTES"}, "", NULL},
    [O_SERVICE] = {"service.name", {"OWL_SERVICE_NAME", "OTEL_SERVICE_NAME"}, "unknown_service",
                   canon_service},
    [O_API_KEY] = {"api_key", {"OWL_API_KEY"}, "", canon_api_key},
    [O_HEADERS] = {"headers", {"OTEL_EXPORTER_OTLP_HEADERS"}, "", NULL},
    [O_SAMPLER] = {"sampler", {"OTEL_TRACES_SAMPLER"}, "parentbased_always_on", canon_sampler},
    [O_SAMPLER_ARG] = {"sampler.arg", {"OTEL_TRACES_SAMPLER_ARG"}, "1", canon_ratio},
    [O_PROTOCOL] = {"protocol", {"OTEL_EXPORTER_OTLP_PROTOCOL"}, "http/protobuf", canon_protocol},
    [O_COMPRESSION] = {"compression", {"OTEL_EXPORTER_OTLP_COMPRESSION"}, "none",
                       canon_compression},
    [O_TIMEOUT] = {"timeout", {"OTEL_EXPORTER_OTLP_TIMEOUT"}, "10000", canon_timeout},
    [O_EXPORT_INTERVAL] = {"export.interval", {"OWL_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY"},
                           "1000", canon_interval},
    [O_QUEUE_SIZE] = {"queue.size", {"OWL_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"}, "2048",
                      canon_queue},
    [O_BATCH_SIZE] = {"batch.size", {"OWL_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"}, "512",
                      canon_queue},
    [O_METRICS_INTERVAL] = {"metrics.interval",
                            {"OWL_METRICS_INTERVAL", "OTEL_METRIC_EXPORT_INTERVAL"}, "60000",
                            canon_interval},
    [O_LOG_LEVEL] = {"log.level", {"OWL_LOG_LEVEL"}, "info", canon_level},
    [O_LOG_STDERR] = {"log.stderr", {"OWL_LOG_STDERR"}, "0", canon_bool},
};

/* Indexed by enum owl__sampler. */
static const char *const sampler_names[] = {
    "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
    "parentbased_traceidratio", "xray",
};

static const char *const protocols[] = {"http/protobuf", "http/json"};

static const char *const compressions[] = {"gzip", "none"};

/* Indexed by the level's OTLP severity number / 4 (owl_level). */
static const char *const levels[] = {"trace", "debug", "info", "warn", "error", "fatal"};

/* ---- characters (ASCII whatever the locale) ---- */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The length of prefix when s starts with it but for ASCII case, else 0. strcasecmp follows
 * the locale (a Turkish 'I' is not an 'i'); names, schemes and header names do not. */
static size_t prefix_nocase(const char *s, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i]; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)prefix[i]))
            return 0;
    return i;
}

static int same_nocase(const char *a, const char *b)
{
    size_t n = prefix_nocase(a, b);
    return a[n] == '\0' && b[n] == '\0';
}

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

static int dup_out(const char *v, char **out)
{
    *out = owl__dup_n(v, strlen(v));
    return *out ? 0 : OWL_ERR_NOMEM;
}

/* ---- the scalar forms ---- */

/* RFC 3986's unreserved and sub-delims, ':' '@' and '/': what a path holds unencoded. */
static int is_path_char(int c)
{
    return is_alnum(c) || (c != 0 && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/* scheme "://" host [":" port] [path]: scheme http or https (either case), host a name
 * (letters, digits, '-', '.', '_', '~') or a bracketed IPv6 literal, port 1..65535, path '/'
 * and path characters or %XX. No user information, query or fragment: the signal's path is
 * appended to it. Kept as given. */
static int canon_endpoint(const char *v, char **out)
{
    const char *p = v, *start;
    size_t scheme = prefix_nocase(p, "http://");

    if (!scheme)
        scheme = prefix_nocase(p, "https://");
    if (!scheme)
        return OWL_ERR_INVAL;
    p += scheme;
    if (*p == '[') {
        for (start = ++p; owl__hexval((unsigned char)*p) >= 0 || *p == ':' || *p == '.'; p++)
            ;
        if (p == start || *p++ != ']')
            return OWL_ERR_INVAL;
    } else {
        for (start = p; is_alnum((unsigned char)*p) || (*p && strchr("-._~", *p)); p++)
            ;
        if (p == start)
            return OWL_ERR_INVAL;
    }
    if (*p == ':') {
        long port = 0;
        for (start = ++p; is_digit((unsigned char)*p) && p - start < 5; p++)
            port = port * 10 + (*p - '0');
        if (p == start || port < 1 || port > 65535 || is_digit((unsigned char)*p))
            return OWL_ERR_INVAL;
    }
    if (*p && *p != '/')
        return OWL_ERR_INVAL;
    for (; *p; p++) {
        if (*p == '%') {
            if (owl__hexval((unsigned char)p[1]) < 0 || owl__hexval((unsigned char)p[2]) < 0)
                return OWL_ERR_INVAL;
            p += 2;
        } else if (!is_path_char((unsigned char)*p))
            return OWL_ERR_INVAL;
    }
    return dup_out(v, out);
}

/* Not empty, UTF-8. */
static int canon_service(const char *v, char **out)
{
    if (!*v || !owl__utf8_ok(v, strlen(v)))
        return OWL_ERR_INVAL;
    return dup_out(v, out);
}

/* Printable ASCII without spaces; "" is no key. */
static int canon_api_key(const char *v, char **out)
{
    for (const char *p = v; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return OWL_ERR_INVAL;
    return dup_out(v, out);
}

/* One of names[0..n), either case (OTel's enumerations are case-insensitive), held as named
 * there: its index, or -1. */
static int find_name(const char *v, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (same_nocase(v, names[i]))
            return (int)i;
    return -1;
}

static int canon_sampler(const char *v, char **out)
{
    int i = find_name(v, sampler_names, sizeof sampler_names / sizeof *sampler_names);
    return i < 0 ? OWL_ERR_INVAL : dup_out(sampler_names[i], out);
}

/* http/protobuf or http/json; OTel's "grpc" is refused: libowl speaks OTLP/HTTP only. */
static int canon_protocol(const char *v, char **out)
{
    int i = find_name(v, protocols, sizeof protocols / sizeof *protocols);
    return i < 0 ? OWL_ERR_INVAL : dup_out(protocols[i], out);
}

static int canon_compression(const char *v, char **out)
{
    int i = find_name(v, compressions, sizeof compressions / sizeof *compressions);
    return i < 0 ? OWL_ERR_INVAL : dup_out(compressions[i], out);
}

/* trace, debug, info, warn, error, fatal: either case, held lowercase. */
static int canon_level(const char *v, char **out)
{
    int i = find_name(v, levels, sizeof levels / sizeof *levels);
    return i < 0 ? OWL_ERR_INVAL : dup_out(levels[i], out);
}

/* 1, 0, true, false (either case), held "1" or "0". */
static int canon_bool(const char *v, char **out)
{
    if (same_nocase(v, "1") || same_nocase(v, "true"))
        return dup_out("1", out);
    if (same_nocase(v, "0") || same_nocase(v, "false"))
        return dup_out("0", out);
    return OWL_ERR_INVAL;
}

/* Decimal digits only (no sign or spaces), its value in [lo, hi], held without leading
 * zeros. */
static int canon_range(const char *v, int64_t lo, int64_t hi, char **out)
{
    int64_t n = 0;
    const char *p = v;
    if (!*p)
        return OWL_ERR_INVAL;
    for (; *p; p++) {
        if (!is_digit((unsigned char)*p) || n > hi)
            return OWL_ERR_INVAL;
        n = n * 10 + (*p - '0');
    }
    if (n < lo || n > hi)
        return OWL_ERR_INVAL;
    char b[24];
    int len = 0;
    char t[24];
    do
        t[len++] = (char)('0' + n % 10);
    while (n /= 10);
    for (int i = 0; i < len; i++)
        b[i] = t[len - 1 - i];
    b[len] = '\0';
    return dup_out(b, out);
}

/* The export timeout, ms: 1 to 10 minutes. */
static int canon_timeout(const char *v, char **out)
{
    return canon_range(v, 1, 600000, out);
}

/* An export interval, ms: 1 to one day. */
static int canon_interval(const char *v, char **out)
{
    return canon_range(v, 1, 86400000, out);
}

/* A queue's or batch's size in records: 1 to 2^20. */
static int canon_queue(const char *v, char **out)
{
    return canon_range(v, 1, 1 << 20, out);
}

/* A decimal DIGITS ["." DIGITS] (either part may be empty, not both; no sign, exponent or
 * spaces) in [0, 1], held canonical: "1", "0", or "0." and the fraction without trailing
 * zeros. Read by hand, as strtod follows the locale's decimal point. */
static int canon_ratio(const char *v, char **out)
{
    const char *p = v, *ip, *fp;
    size_t in, fn = 0;

    for (ip = p; is_digit((unsigned char)*p); p++)
        ;
    in = (size_t)(p - ip);
    fp = p;
    if (*p == '.') {
        for (fp = ++p; is_digit((unsigned char)*p); p++)
            ;
        fn = (size_t)(p - fp);
    }
    if (*p || in + fn == 0)
        return OWL_ERR_INVAL;
    while (in && *ip == '0') {
        ip++;
        in--;
    }
    while (fn && fp[fn - 1] == '0')
        fn--;
    if (in > 1 || (in == 1 && (*ip != '1' || fn)))
        return OWL_ERR_INVAL;
    if (in == 1 || fn == 0)
        return dup_out(in ? "1" : "0", out);
    if (!(*out = malloc(fn + 3)))
        return OWL_ERR_NOMEM;
    memcpy(*out, "0.", 2);
    memcpy(*out + 2, fp, fn);
    (*out)[fn + 2] = '\0';
    return 0;
}

/* The value of a canonical ratio; digits past the 19th do not change a double. */
static double ratio_value(const char *t)
{
    uint64_t m = 0;
    double scale = 1;

    if (t[0] == '1')
        return 1;
    for (const char *p = t + 2 * (t[1] == '.'); *p && scale < 1e19; p++) {
        m = m * 10 + (uint64_t)(*p - '0');
        scale *= 10;
    }
    return (double)m / scale;
}

/* ---- the lists: k=v,k=v with percent-encoded values (OTel's environment format) ---- */

static void list_free(kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].key);
        free(l->e[i].value);
    }
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

/* Header names are matched case-insensitively (HTTP), attribute keys exactly. */
static long list_find(const kv_list *l, const char *key, int nocase)
{
    for (size_t i = 0; i < l->n; i++)
        if (nocase ? same_nocase(l->e[i].key, key) : strcmp(l->e[i].key, key) == 0)
            return (long)i;
    return -1;
}

/* Appends e (its strings now the list's): 0, or OWL_ERR_NOMEM (e freed). */
static int list_push(kv_list *l, kv e)
{
    kv *g = realloc(l->e, (l->n + 1) * sizeof *g);
    if (!g) {
        free(e.key);
        free(e.value);
        return OWL_ERR_NOMEM;
    }
    l->e = g;
    l->e[l->n++] = e;
    return 0;
}

static int list_copy(const kv_list *from, kv_list *to)
{
    *to = (kv_list){0};
    for (size_t i = 0; i < from->n; i++) {
        kv e = {owl__dup_n(from->e[i].key, strlen(from->e[i].key)),
                owl__dup_n(from->e[i].value, strlen(from->e[i].value))};
        if (!e.key || !e.value) {
            free(e.key);
            free(e.value);
            list_free(to);
            return OWL_ERR_NOMEM;
        }
        if (list_push(to, e)) {
            list_free(to);
            return OWL_ERR_NOMEM;
        }
    }
    return 0;
}

/* Applies e (its strings now the list's) to l: an empty value removes key's entry, another
 * replaces its value and spelling in its place, or is appended. 0, OWL_ERR_NOMEM. */
static int list_apply(kv_list *l, kv e, int nocase)
{
    long i = list_find(l, e.key, nocase);
    if (i >= 0) {
        free(l->e[i].key);
        free(l->e[i].value);
        if (*e.value) {
            l->e[i] = e;
            return 0;
        }
        memmove(&l->e[i], &l->e[i + 1], (l->n - (size_t)i - 1) * sizeof *l->e);
        l->n--;
    }
    if (!*e.value) {
        free(e.key);
        free(e.value);
        return 0;
    }
    return list_push(l, e);
}

/* Decodes a value (trimmed): baggage-octets and inner spaces as themselves (a space is not
 * one, but "Authorization=Bearer KEY" is how such headers get written), %XX as its byte.
 * The result must be UTF-8; a header's must hold no control character (it is sent in an HTTP
 * field). *out a new string: 0, OWL_ERR_INVAL, OWL_ERR_NOMEM. */
static int decode_value(const char *v, size_t n, int header, char **out)
{
    char *d = malloc(n + 1);
    size_t dn = 0;

    if (!d)
        return OWL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)v[i];
        if (c == '%') {
            int hi = i + 2 < n ? owl__hexval((unsigned char)v[i + 1]) : -1;
            int lo = hi < 0 ? -1 : owl__hexval((unsigned char)v[i + 2]);
            if (lo < 0)
                goto inval;
            c = hi << 4 | lo;
            i += 2;
        } else if (!owl__is_bag_octet(c) && c != ' ')
            goto inval;
        if (header && (c < 0x20 || c == 0x7f))
            goto inval;
        d[dn++] = (char)c;
    }
    d[dn] = '\0';
    if (!owl__utf8_ok(d, dn))
        goto inval;
    *out = d;
    return 0;
inval:
    free(d);
    return OWL_ERR_INVAL;
}

static void trim(const char **p, size_t *n)
{
    while (*n && is_ows(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_ows((*p)[*n - 1]))
        (*n)--;
}

/* Parses one member m[0..n) (trimmed, not empty): key "=" value, OWS around "=". */
static int parse_member(const char *m, size_t n, int header, kv *e)
{
    const char *eq = memchr(m, '=', n);
    size_t kn, vn;
    const char *vp;
    int r;

    if (!eq)
        return OWL_ERR_INVAL;
    kn = (size_t)(eq - m);
    while (kn && is_ows(m[kn - 1]))
        kn--;
    if (kn == 0)
        return OWL_ERR_INVAL;
    for (size_t i = 0; i < kn; i++)
        if (!owl__is_tchar((unsigned char)m[i]))
            return OWL_ERR_INVAL;
    vp = eq + 1;
    vn = (size_t)(m + n - vp);
    trim(&vp, &vn);
    if ((r = decode_value(vp, vn, header, &e->value)))
        return r;
    if (!(e->key = owl__dup_n(m, kn))) {
        free(e->value);
        return OWL_ERR_NOMEM;
    }
    return 0;
}

/* l with the list v applied, in *out (new): 0, OWL_ERR_INVAL (a malformed member),
 * OWL_ERR_LIMIT (over LIST_MAX entries), OWL_ERR_NOMEM. Empty members (OWS only) are skipped.
 * For the resource (header 0), service.name is not added but given in *service (NULL when
 * absent; the caller frees), and must not be empty. */
static int list_merge(const kv_list *l, const char *v, int header, kv_list *out, char **service)
{
    kv_list nl;
    const char *rest = v;
    int r = list_copy(l, &nl);

    *service = NULL;
    while (r == 0 && rest) {
        const char *m = rest, *comma = strchr(rest, ',');
        size_t n = comma ? (size_t)(comma - m) : strlen(m);
        kv e;
        rest = comma ? comma + 1 : NULL;
        trim(&m, &n);
        if (n == 0)
            continue;
        if ((r = parse_member(m, n, header, &e)))
            break;
        if (!header && strcmp(e.key, "service.name") == 0) {
            free(e.key);
            free(*service);
            *service = e.value;
            r = **service ? 0 : OWL_ERR_INVAL;
        } else if ((r = list_apply(&nl, e, header)) == 0 && nl.n > LIST_MAX)
            r = OWL_ERR_LIMIT;
    }
    if (r) {
        list_free(&nl);
        free(*service);
        *service = NULL;
        return r;
    }
    *out = nl;
    return 0;
}

/* l as owl_config_get shows it: key=value joined by ',', values percent-encoded. NULL when
 * out of memory. */
static char *list_text(const kv_list *l)
{
    size_t n = 1;
    char *t, *w;

    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->e[i].key) + 2 + owl__pct_encoded_len(l->e[i].value);
    if (!(t = w = malloc(n)))
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            *w++ = ',';
        size_t kn = strlen(l->e[i].key);
        memcpy(w, l->e[i].key, kn);
        w += kn;
        *w++ = '=';
        w = owl__pct_encode(l->e[i].value, w);
    }
    *w = '\0';
    return t;
}

/* Sets a list name from v (see list_merge): 0, or an error with c unchanged. */
static int set_list(owl_config *c, enum opt o, const char *v)
{
    int header = o == O_HEADERS;
    kv_list *l = header ? &c->headers : &c->resource, nl;
    char *service, *text;
    int r = list_merge(l, v, header, &nl, &service);

    if (r)
        return r;
    if (!(text = list_text(&nl))) {
        list_free(&nl);
        free(service);
        return OWL_ERR_NOMEM;
    }
    list_free(l);
    *l = nl;
    free(c->text[o]);
    c->text[o] = text;
    if (service) {
        free(c->text[O_SERVICE]);
        c->text[O_SERVICE] = service;
    }
    return 0;
}

/* ---- the configuration ---- */

static int find_option(const char *name)
{
    for (int i = 0; i < O_COUNT; i++)
        if (strcmp(options[i].name, name) == 0)
            return i;
    return -1;
}

/* Sets o to its default: 0, OWL_ERR_NOMEM (c unchanged). */
static int reset(owl_config *c, enum opt o)
{
    char *t = owl__dup_n(options[o].dflt, strlen(options[o].dflt));
    if (!t)
        return OWL_ERR_NOMEM;
    if (o == O_HEADERS)
        list_free(&c->headers);
    else if (o == O_RESOURCE)
        list_free(&c->resource);
    free(c->text[o]);
    c->text[o] = t;
    return 0;
}

static int set_value(owl_config *c, enum opt o, const char *value)
{
    char *t;
    int r;

    if (!value)
        return reset(c, o);
    if (!options[o].canon)
        return set_list(c, o, value);
    if ((r = options[o].canon(value, &t)))
        return r;
    free(c->text[o]);
    c->text[o] = t;
    return 0;
}

/* Reads o's environment variables: the first set (not empty, as OTel reads an empty one as
 * unset) and valid wins. 0, or OWL_ERR_NOMEM. */
static int read_env(owl_config *c, enum opt o)
{
    for (size_t i = 0; i < 3 && options[o].env[i]; i++) {
        const char *v = getenv(options[o].env[i]);
        if (!v || !*v)
            continue;
        int r = set_value(c, o, v);
        if (r == 0 || r == OWL_ERR_NOMEM)
            return r;
    }
    return 0;
}

OWL_API owl_config *owl_config_new(void)
{
    owl_config *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    for (int o = 0; o < O_COUNT; o++)
        if (reset(c, o))
            goto err;
    for (int o = 0; o < O_COUNT; o++)
        if (read_env(c, o))
            goto err;
    return c;
err:
    owl_config_free(c);
    return NULL;
}

OWL_API int owl_config_set(owl_config *c, const char *name, const char *value)
{
    int o = c && name ? find_option(name) : -1;
    return o < 0 ? OWL_ERR_INVAL : set_value(c, o, value);
}

OWL_API const char *owl_config_get(const owl_config *c, const char *name)
{
    int o = c && name ? find_option(name) : -1;
    return o < 0 ? NULL : c->text[o];
}

OWL_API void owl_config_free(owl_config *c)
{
    if (!c)
        return;
    for (int o = 0; o < O_COUNT; o++)
        free(c->text[o]);
    list_free(&c->headers);
    list_free(&c->resource);
    free(c);
}

/* ---- for span.c ---- */

enum owl__sampler owl__config_sampler(const owl_config *c, double *ratio)
{
    if (ratio)
        *ratio = ratio_value(c->text[O_SAMPLER_ARG]);
    return (enum owl__sampler)find_name(c->text[O_SAMPLER], sampler_names,
                                        sizeof sampler_names / sizeof *sampler_names);
}

static int list_at(const kv_list *l, size_t i, const char **key, const char **value)
{
    if (i >= l->n)
        return OWL_ERR_NOTFOUND;
    if (key)
        *key = l->e[i].key;
    if (value)
        *value = l->e[i].value;
    return 0;
}

size_t owl__config_header_count(const owl_config *c)
{
    return c->headers.n;
}

int owl__config_header_at(const owl_config *c, size_t i, const char **key, const char **value)
{
    return list_at(&c->headers, i, key, value);
}

size_t owl__config_resource_count(const owl_config *c)
{
    return c->resource.n;
}

int owl__config_resource_at(const owl_config *c, size_t i, const char **key, const char **value)
{
    return list_at(&c->resource, i, key, value);
}

int64_t owl__config_num(const owl_config *c, const char *name)
{
    int o = find_option(name);
    if (o < O_COMPRESSION && o != O_PROTOCOL)
        return -1;
    if (o == O_LOG_LEVEL)
        return 4 * find_name(c->text[o], levels, sizeof levels / sizeof *levels) + 1;
    if (o == O_COMPRESSION)
        return find_name(c->text[o], compressions, sizeof compressions / sizeof *compressions);
    if (o == O_PROTOCOL)
        return find_name(c->text[o], protocols, sizeof protocols / sizeof *protocols);
    int64_t n = 0;
    for (const char *p = c->text[o]; is_digit((unsigned char)*p); p++)
        n = n * 10 + (*p - '0');
    return n;
}

char *owl__config_url(const owl_config *c, const char *signal)
{
    const char *base = c->text[O_ENDPOINT];
    size_t bn = strlen(base), sn = strlen(signal);
    char *u = malloc(bn + sn + 5), *w = u;

    if (!u)
        return NULL;
    memcpy(w, base, bn);
    w += bn;
    if (bn == 0 || base[bn - 1] != '/')
        *w++ = '/';
    memcpy(w, "v1/", 3);
    memcpy(w + 3, signal, sn + 1);
    return u;
}

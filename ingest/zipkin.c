/* zipkin.c — Zipkin v2 JSON (the body of POST /api/v2/spans: an array of spans) turned into
 * owl_span records as docs/api/traces-ingest.md describes, by the same rules as OTLP spans
 * (status rule, route, attrs layout). Invariant: each element of the array is either one
 * record of out or counted in out->rejected, never both, and every kept record holds the
 * invariants of ingest.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/span_int.h"

#define DEFAULT_SERVICE "unknown_service"
#define DEFAULT_NAME "unknown" /* what Zipkin's UI shows for a span without a name */
#define MAX_US (INT64_MAX / 1000) /* microseconds that still fit in int64 nanoseconds */

/* The tags each field is read from: Zipkin's (Brave's) names, and OpenTelemetry's, which its
 * Zipkin exporter writes as tags, current name first. */
static const char *const K_METHOD[] = {"http.request.method", "http.method", NULL};
static const char *const K_STATUS[] = {"http.response.status_code", "http.status_code", NULL};
static const char *const K_URL[] = {"url.full", "http.url", NULL};
static const char *const K_PATH[] = {"http.path", "url.path", "http.target", NULL};
static const char *const K_ROUTE[] = {"http.route", NULL};
static const char *const K_AGENT[] = {"user_agent.original", "http.user_agent", NULL};
static const char *const K_CLIENT[] = {"client.address", "http.client_ip", NULL};
static const char *const K_PEER[] = {"peer.service", NULL};
static const char *const K_OTEL_STATUS[] = {"otel.status_code", NULL};
static const char *const K_OTEL_DESC[] = {"otel.status_description", NULL};
static const char *const K_ERROR[] = {"error", NULL};

static const struct {
    const char *name;
    enum owl_span_kind kind;
} kinds[] = {
    {"CLIENT", OWL_SPAN_CLIENT},
    {"SERVER", OWL_SPAN_SERVER},
    {"PRODUCER", OWL_SPAN_PRODUCER},
    {"CONSUMER", OWL_SPAN_CONSUMER},
};

/* One element of the array as read, before it becomes a record. Strings point into the
 * parsed document (NUL-terminated, valid UTF-8: the JSON reader checked). */
typedef struct zspan {
    const char *trace_id, *id, *parent_id, *kind, *name;
    int64_t ts, dur;             /* microseconds, 0 = absent (as Zipkin reads 0) */
    bson_iter_t local, remote;   /* endpoints; valid when has_local / has_remote */
    bson_iter_t tags, annots;    /* valid when has_tags / has_annots */
    int has_local, has_remote, has_tags, has_annots, shared, debug;
} zspan;

typedef struct ctx {
    owl_span_decoded *d;
    size_t index;                /* of the current element, for the refusal message */
    int64_t now_ns;
} ctx;

static void reject(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(ctx *c, const char *fmt, ...)
{
    char where[32];
    snprintf(where, sizeof where, "span %zu", c->index);
    va_list ap;
    va_start(ap, fmt);
    owl_span_vreject(c->d, where, fmt, ap);
    va_end(ap);
}

/* ---- reading one element: every check that can refuse it ---- */

/* A JSON integer (or a double with an integral value in int64's range) into *v. */
static int as_int(const bson_iter_t *it, int64_t *v)
{
    if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) {
        *v = bson_iter_as_int64(it);
        return 0;
    }
    if (BSON_ITER_HOLDS_DOUBLE(it)) {
        double x = bson_iter_double(it);
        if (isfinite(x) && x == floor(x) && fabs(x) < 9.2e18) {
            *v = (int64_t)x;
            return 0;
        }
    }
    return -1;
}

/* Reads field it of a span into z; a null value counts as absent (as Zipkin reads it).
 * Returns the name of the field whose type is wrong, or NULL. */
static const char *field(const bson_iter_t *it, zspan *z)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"traceId", offsetof(zspan, trace_id)}, {"id", offsetof(zspan, id)},
        {"parentId", offsetof(zspan, parent_id)}, {"kind", offsetof(zspan, kind)},
        {"name", offsetof(zspan, name)},
    };
    const char *k = bson_iter_key(it);
    if (BSON_ITER_HOLDS_NULL(it))
        return NULL;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (strcmp(k, strs[i].key) == 0) {
            if (!BSON_ITER_HOLDS_UTF8(it))
                return strs[i].key;
            *(const char **)((char *)z + strs[i].off) = bson_iter_utf8(it, NULL);
            return NULL;
        }
    if (strcmp(k, "timestamp") == 0 || strcmp(k, "duration") == 0)
        return as_int(it, k[0] == 't' ? &z->ts : &z->dur) ? k : NULL;
    if (strcmp(k, "shared") == 0 || strcmp(k, "debug") == 0) {
        if (!BSON_ITER_HOLDS_BOOL(it))
            return k;
        *(k[0] == 's' ? &z->shared : &z->debug) = bson_iter_bool(it);
        return NULL;
    }
    static const struct {
        const char *key;
        int array;
        size_t it, has;
    } subs[] = {
        {"localEndpoint", 0, offsetof(zspan, local), offsetof(zspan, has_local)},
        {"remoteEndpoint", 0, offsetof(zspan, remote), offsetof(zspan, has_remote)},
        {"tags", 0, offsetof(zspan, tags), offsetof(zspan, has_tags)},
        {"annotations", 1, offsetof(zspan, annots), offsetof(zspan, has_annots)},
    };
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
        if (strcmp(k, subs[i].key) == 0) {
            if (subs[i].array ? !BSON_ITER_HOLDS_ARRAY(it) : !BSON_ITER_HOLDS_DOCUMENT(it))
                return k;
            *(bson_iter_t *)((char *)z + subs[i].it) = *it;
            *(int *)((char *)z + subs[i].has) = 1;
            return NULL;
        }
    return NULL; /* other fields are not Zipkin's: ignored, as Zipkin does */
}

/* The string member key of the document at it (an endpoint), NULL when absent or not a
 * non-empty string; *bad set when present with another type than string or null. */
static const char *member_str(const bson_iter_t *it, const char *key, int *bad)
{
    bson_iter_t sub;
    if (!bson_iter_recurse(it, &sub) || !bson_iter_find(&sub, key) || BSON_ITER_HOLDS_NULL(&sub))
        return NULL;
    if (!BSON_ITER_HOLDS_UTF8(&sub)) {
        *bad = 1;
        return NULL;
    }
    const char *s = bson_iter_utf8(&sub, NULL);
    return *s ? s : NULL;
}

/* An id of 1..digits hex characters, left-padded with zeros as Zipkin pads short ids (to 16
 * digits, or 32 for a trace id longer than 16; 16 trace-id digits are a 64-bit id, which
 * traceid.h pads to 16 bytes), into out (16 bytes for a trace id, 8 for a span id). why
 * names the fault. */
static int parse_id(const char *s, size_t digits, uint8_t *out, char *why, size_t n)
{
    size_t len = strlen(s), want = digits == 32 && len <= 16 ? 16 : digits;
    char pad[33];
    owl_error e = {0};
    int hex = len > 0 && len <= digits;
    for (size_t i = 0; hex && i < len; i++)
        hex = owl_hex_digit((unsigned char)s[i]) >= 0;
    if (hex) { /* pad only what would parse, so a refusal names the offset as sent */
        memset(pad, '0', want - len);
        memcpy(pad + want - len, s, len);
        s = pad;
        len = want;
    }
    int rc = digits == 32 ? owl_traceid_from_hex(s, len, out, &e)
                          : owl_traceid_span_from_hex(s, len, out, &e);
    if (rc != OWL_OK)
        snprintf(why, n, "%.150s", e.msg);
    return rc;
}

/* Every annotation an object {timestamp: integer 0..2262, value: string}. */
static int check_annots(const zspan *z, char *why, size_t n)
{
    bson_iter_t arr, a;
    size_t i = 0;
    if (!z->has_annots || !bson_iter_recurse(&z->annots, &arr))
        return 0;
    for (; bson_iter_next(&arr); i++) {
        int64_t ts;
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &a)) {
            snprintf(why, n, "annotation %zu is not an object", i);
            return -1;
        }
        bson_iter_t v = a;
        if (!bson_iter_find(&a, "timestamp") || as_int(&a, &ts) || ts < 0 || ts > MAX_US) {
            snprintf(why, n, "annotation %zu: timestamp is not epoch microseconds", i);
            return -1;
        }
        if (!bson_iter_find(&v, "value") || !BSON_ITER_HOLDS_UTF8(&v)) {
            snprintf(why, n, "annotation %zu: value is not a string", i);
            return -1;
        }
    }
    return 0;
}

/* Every tag value a string (Zipkin's type), number or boolean. */
static int check_tags(const zspan *z, char *why, size_t n)
{
    bson_iter_t t;
    if (!z->has_tags || !bson_iter_recurse(&z->tags, &t))
        return 0;
    while (bson_iter_next(&t))
        if (!BSON_ITER_HOLDS_UTF8(&t) && !BSON_ITER_HOLDS_BOOL(&t) &&
            !BSON_ITER_HOLDS_NUMBER(&t)) {
            snprintf(why, n, "tag \"%.64s\" is not a string", bson_iter_key(&t));
            return -1;
        }
    return 0;
}

static int check_endpoint(const bson_iter_t *it, const char *what, char *why, size_t n)
{
    int bad = 0;
    member_str(it, "serviceName", &bad);
    member_str(it, "ipv4", &bad);
    member_str(it, "ipv6", &bad);
    if (bad)
        snprintf(why, n, "%s: serviceName, ipv4 and ipv6 must be strings", what);
    return bad ? -1 : 0;
}

/* Reads the element at it into z and the ids and kind into o; why names the fault. */
static int read_span(const bson_iter_t *it, zspan *z, owl_span *o, char *why, size_t n)
{
    bson_iter_t f;
    const char *bad;
    memset(z, 0, sizeof *z);
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &f))
        return snprintf(why, n, "not a JSON object"), -1;
    while (bson_iter_next(&f))
        if ((bad = field(&f, z)) != NULL)
            return snprintf(why, n, "%s has the wrong type", bad), -1;
    if (!z->trace_id)
        return snprintf(why, n, "no traceId"), -1;
    if (!z->id)
        return snprintf(why, n, "no id"), -1;
    char e[200];
    if (parse_id(z->trace_id, 32, o->trace_id, e, sizeof e))
        return snprintf(why, n, "traceId: %.150s", e), -1;
    if (parse_id(z->id, 16, o->span_id, e, sizeof e))
        return snprintf(why, n, "id: %.150s", e), -1;
    if (z->parent_id && strspn(z->parent_id, "0") != strlen(z->parent_id) &&
        parse_id(z->parent_id, 16, o->parent_id, e, sizeof e))
        return snprintf(why, n, "parentId: %.150s", e), -1;
    if (memcmp(o->parent_id, o->span_id, 8) == 0)
        memset(o->parent_id, 0, 8); /* its own parent: a root, as Zipkin undoes the cycle */
    o->kind = OWL_SPAN_INTERNAL;
    if (z->kind) {
        size_t i = 0;
        while (i < sizeof kinds / sizeof *kinds && strcmp(z->kind, kinds[i].name) != 0)
            i++;
        if (i == sizeof kinds / sizeof *kinds)
            return snprintf(why, n, "kind \"%.32s\" is not CLIENT, SERVER, PRODUCER or "
                                    "CONSUMER", z->kind), -1;
        o->kind = kinds[i].kind;
    }
    if (z->ts < 0 || z->dur < 0)
        return snprintf(why, n, "negative %s", z->ts < 0 ? "timestamp" : "duration"), -1;
    if (z->ts > MAX_US || z->dur > MAX_US - z->ts)
        return snprintf(why, n, "ends past 2262"), -1;
    if ((z->has_local && check_endpoint(&z->local, "localEndpoint", why, n)) ||
        (z->has_remote && check_endpoint(&z->remote, "remoteEndpoint", why, n)))
        return -1;
    return check_tags(z, why, n) || check_annots(z, why, n) ? -1 : 0;
}

/* ---- building the record ---- */

static int text(ctx *c, const char *s, size_t n, owl_bytes *out)
{
    void *p = owl_arena_copy(&c->d->arena, n ? s : "", n);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, n};
    return OWL_OK;
}

static int text_z(ctx *c, const char *s, owl_bytes *out)
{
    *out = (owl_bytes){NULL, 0};
    return s && *s ? text(c, s, strlen(s), out) : OWL_OK;
}

/* The first tag among keys holding a non-empty string, or NULL. */
static const char *tag(const zspan *z, const char *const *keys)
{
    bson_iter_t t;
    for (; z->has_tags && *keys; keys++)
        if (bson_iter_recurse(&z->tags, &t) && bson_iter_find(&t, *keys) &&
            BSON_ITER_HOLDS_UTF8(&t) && *bson_iter_utf8(&t, NULL))
            return bson_iter_utf8(&t, NULL);
    return NULL;
}

static int has_tag(const zspan *z, const char *key)
{
    bson_iter_t t;
    return z->has_tags && bson_iter_recurse(&z->tags, &t) && bson_iter_find(&t, key);
}

/* The HTTP status tag: a number, or a string of three digits; 0 when absent or outside
 * 100..599 (it then stays in attrs only). */
static int http_status(const zspan *z)
{
    bson_iter_t t;
    int64_t v = 0;
    for (const char *const *k = K_STATUS; *k; k++) {
        if (!z->has_tags || !bson_iter_recurse(&z->tags, &t) || !bson_iter_find(&t, *k))
            continue;
        if (BSON_ITER_HOLDS_UTF8(&t)) {
            const char *s = bson_iter_utf8(&t, NULL);
            if (strlen(s) == 3 && strspn(s, "0123456789") == 3)
                v = strtol(s, NULL, 10);
        } else if (as_int(&t, &v)) {
            v = 0;
        }
        return v >= 100 && v <= 599 ? (int)v : 0;
    }
    return 0;
}

static int http_fields(ctx *c, const zspan *z, owl_span *o)
{
    const char *url = tag(z, K_URL), *route = tag(z, K_ROUTE), *path;
    int rc, bad = 0;
    o->http_status = http_status(z);
    const char *client = tag(z, K_CLIENT);
    if (!client && o->kind == OWL_SPAN_SERVER && z->has_remote &&
        !(client = member_str(&z->remote, "ipv4", &bad)))
        client = member_str(&z->remote, "ipv6", &bad); /* a server's remote is its client */
    if ((rc = text_z(c, tag(z, K_METHOD), &o->http_method)) || (rc = text_z(c, url, &o->url)) ||
        (rc = text_z(c, tag(z, K_AGENT), &o->user_agent)) ||
        (rc = text_z(c, client, &o->client_ip)))
        return rc;
    if (route)
        return text_z(c, route, &o->route);
    size_t len = 0;
    if ((path = tag(z, K_PATH)) != NULL)
        len = strcspn(path, "?#");
    else if (url)
        path = owl_span_url_path(url, strlen(url), &len);
    return path && len ? text(c, path, len, &o->route) : OWL_OK;
}

/* status_code as OTLP's (0 unset, 1 ok, 2 error): the error tag or OpenTelemetry's
 * otel.status_code ERROR is 2, otel.status_code OK is 1; the message is the error tag's
 * value, else otel.status_description. */
static int status(ctx *c, const zspan *z, owl_span *o)
{
    const char *otel = tag(z, K_OTEL_STATUS), *msg = tag(z, K_ERROR);
    if (has_tag(z, "error") || (otel && strcmp(otel, "ERROR") == 0))
        o->status_code = 2;
    else if (otel && strcmp(otel, "OK") == 0)
        o->status_code = 1;
    o->status = owl_span_status_of(o->status_code == 2, o->http_status);
    return text_z(c, msg ? msg : tag(z, K_OTEL_DESC), &o->status_message);
}

/* When the span has no timestamp: its earliest annotation, else the time of receipt (as
 * Zipkin's storages index such a fragment). *from names which, for attrs. */
static int64_t start_of(ctx *c, const zspan *z, const char **from)
{
    bson_iter_t arr, a;
    int64_t best = -1, ts;
    *from = NULL;
    if (z->ts)
        return z->ts * 1000;
    if (z->has_annots && bson_iter_recurse(&z->annots, &arr))
        while (bson_iter_next(&arr))
            if (bson_iter_recurse(&arr, &a) && bson_iter_find(&a, "timestamp") &&
                !as_int(&a, &ts) && (best < 0 || ts < best))
                best = ts;
    *from = best >= 0 ? "annotation" : "receipt";
    return best >= 0 ? best * 1000 : c->now_ns;
}

/* events: [{name: value, time_ns, attributes: {}}], the shape of an OTLP event */
static int events(bson_t *doc, const zspan *z)
{
    bson_iter_t arr, a;
    bson_t list, ev, none;
    uint32_t i = 0;
    if (!z->has_annots || !bson_iter_recurse(&z->annots, &arr) || !bson_iter_next(&arr))
        return OWL_OK;
    if (!bson_append_array_begin(doc, "events", -1, &list))
        return OWL_ENOMEM;
    int ok = 1;
    do {
        char ib[16];
        const char *ik;
        size_t il = bson_uint32_to_string(i++, &ik, ib, sizeof ib);
        int64_t ts = 0;
        bson_iter_t v;
        uint32_t vl = 0;
        const char *val = "";
        if (bson_iter_recurse(&arr, &a) && bson_iter_find(&a, "timestamp"))
            as_int(&a, &ts);
        if (bson_iter_recurse(&arr, &v) && bson_iter_find(&v, "value"))
            val = bson_iter_utf8(&v, &vl);
        ok = ok && bson_append_document_begin(&list, ik, (int)il, &ev) &&
             bson_append_utf8(&ev, "name", 4, val, (int)vl) &&
             bson_append_int64(&ev, "time_ns", 7, ts * 1000) &&
             bson_append_document_begin(&ev, "attributes", 10, &none) &&
             bson_append_document_end(&ev, &none) && bson_append_document_end(&list, &ev);
    } while (ok && bson_iter_next(&arr));
    return bson_append_array_end(doc, &list) && ok ? OWL_OK : OWL_ENOMEM;
}

static int nonempty(const bson_iter_t *it)
{
    bson_iter_t sub;
    return bson_iter_recurse(it, &sub) && bson_iter_next(&sub);
}

/* zipkin: {local_endpoint, remote_endpoint (as sent), shared, debug, start_from} */
static int zipkin_doc(bson_t *doc, const zspan *z, const owl_span *o, const char *from)
{
    bson_t zd;
    int ok = bson_append_document_begin(doc, "zipkin", 6, &zd);
    if (ok && z->has_local && nonempty(&z->local))
        ok = bson_append_iter(&zd, "local_endpoint", 14, &z->local);
    if (ok && z->has_remote && nonempty(&z->remote))
        ok = bson_append_iter(&zd, "remote_endpoint", 15, &z->remote);
    if (ok && z->shared && o->kind != OWL_SPAN_CLIENT) /* Zipkin drops it on a client */
        ok = bson_append_bool(&zd, "shared", 6, true);
    if (ok && z->debug)
        ok = bson_append_bool(&zd, "debug", 5, true);
    if (ok && from)
        ok = bson_append_utf8(&zd, "start_from", 10, from, -1);
    return ok && bson_append_document_end(doc, &zd) ? OWL_OK : OWL_ENOMEM;
}

/* attrs: {resource: {service.name}, attributes: tags, events, zipkin} */
static int attrs_of(ctx *c, const zspan *z, const owl_span *o, const char *service,
                    const char *from, owl_bytes *out)
{
    bson_t doc = BSON_INITIALIZER, res;
    int rc = OWL_OK;
    *out = (owl_bytes){NULL, 0};
    if (service && (!bson_append_document_begin(&doc, "resource", 8, &res) ||
                    !bson_append_utf8(&res, "service.name", 12, service, -1) ||
                    !bson_append_document_end(&doc, &res)))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && z->has_tags && nonempty(&z->tags) &&
        !bson_append_iter(&doc, "attributes", 10, &z->tags))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK)
        rc = events(&doc, z);
    if (rc == OWL_OK)
        rc = zipkin_doc(&doc, z, o, from);
    if (rc == OWL_OK) {
        void *p = owl_arena_copy(&c->d->arena, bson_get_data(&doc), doc.len);
        if (p)
            *out = (owl_bytes){p, doc.len};
        else
            rc = OWL_ENOMEM;
    }
    bson_destroy(&doc);
    return rc;
}

static int span(ctx *c, const bson_iter_t *it)
{
    owl_span *o = &c->d->spans[c->d->n];
    zspan z;
    char why[200];
    int rc, bad = 0;
    memset(o, 0, sizeof *o);
    if (read_span(it, &z, o, why, sizeof why)) {
        reject(c, "%s", why);
        return OWL_OK;
    }
    const char *service = z.has_local ? member_str(&z.local, "serviceName", &bad) : NULL;
    const char *peer = z.has_remote ? member_str(&z.remote, "serviceName", &bad) : NULL;
    const char *from;
    o->start_ns = start_of(c, &z, &from);
    o->duration_ns = z.dur * 1000;
    o->in_progress = z.dur == 0; /* Zipkin: no duration = not finished, or a fragment */
    if ((rc = text_z(c, service ? service : DEFAULT_SERVICE, &o->service)) ||
        (rc = text_z(c, z.name && *z.name ? z.name : DEFAULT_NAME, &o->name)) ||
        (rc = text_z(c, peer ? peer : tag(&z, K_PEER), &o->peer_service)) ||
        (rc = http_fields(c, &z, o)) || (rc = status(c, &z, o)) ||
        (rc = attrs_of(c, &z, o, service, from, &o->attrs)))
        return rc;
    c->d->n++;
    return OWL_OK;
}

int owl_zipkin_decode(const void *body, size_t n, int64_t now_ns, size_t max_spans,
                      owl_span_decoded *out, owl_error *err)
{
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it;
    ctx c = {.d = out, .now_ns = now_ns};
    owl_span_decoded_free(out);
    owl_arena_init(&out->arena, 64 * 1024);
    int rc = owl_aws_json_decode_array(body, n, &doc, err);
    if (rc != OWL_OK)
        goto out;
    size_t total = bson_count_keys(&doc);
    if (total > max_spans) {
        rc = owl_error_set(err, OWL_ETOOBIG, "%zu spans in one request (at most %zu)", total,
                           max_spans);
        goto out;
    }
    if (total && !(out->spans = owl_arena_alloc(&out->arena, total * sizeof *out->spans)))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_iter_init(&it, &doc))
        rc = owl_error_set(err, OWL_EINVAL, "body is not a JSON array");
    for (c.index = 0; rc == OWL_OK && bson_iter_next(&it); c.index++)
        rc = span(&c, &it);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding Zipkin spans");
out:
    if (rc != OWL_OK) {
        out->spans = NULL;
        out->n = out->rejected = 0;
        out->message[0] = '\0';
    }
    bson_destroy(&doc);
    return rc;
}

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

/* The start of both decodes: out reset, the body parsed into doc (an array), its element
 * count checked against max_spans. */
static int begin(const void *body, size_t n, size_t max_spans, owl_span_decoded *out,
                 bson_t *doc, size_t *total, owl_error *err)
{
    owl_span_decoded_free(out);
    owl_arena_init(&out->arena, 64 * 1024);
    int rc = owl_aws_json_decode_array(body, n, doc, err);
    if (rc != OWL_OK)
        return rc;
    *total = bson_count_keys(doc);
    if (*total > max_spans)
        return owl_error_set(err, OWL_ETOOBIG, "%zu spans in one request (at most %zu)",
                             *total, max_spans);
    return OWL_OK;
}

/* The end of both decodes: on failure out holds nothing. */
static int finish(int rc, owl_span_decoded *out, owl_error *err)
{
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding Zipkin spans");
    if (rc != OWL_OK) {
        out->spans = NULL;
        out->n = out->rejected = 0;
        out->message[0] = '\0';
    }
    return rc;
}

int owl_zipkin_decode(const void *body, size_t n, int64_t now_ns, size_t max_spans,
                      owl_span_decoded *out, owl_error *err)
{
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it;
    ctx c = {.d = out, .now_ns = now_ns};
    size_t total = 0;
    int rc = begin(body, n, max_spans, out, &doc, &total, err);
    if (rc == OWL_OK && total &&
        !(out->spans = owl_arena_alloc(&out->arena, total * sizeof *out->spans)))
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_iter_init(&it, &doc))
        rc = owl_error_set(err, OWL_EINVAL, "body is not a JSON array");
    for (c.index = 0; rc == OWL_OK && bson_iter_next(&it); c.index++)
        rc = span(&c, &it);
    bson_destroy(&doc);
    return finish(rc, out, err);
}

/* ---- Zipkin v1: each span converted to one or two v2 spans, then read as v2 ----
 * Zipkin's own rules (V1SpanConverter), in short: the core annotations say the kind and the
 * local endpoint — cs/cr a CLIENT, sr/ss a SERVER (shared when the client half is in the
 * same v1 span), ms a PRODUCER, mr a CONSUMER; a span with both cs and sr becomes two. The
 * timestamp and duration of the v1 span belong to its first half (the client's when there is
 * one); otherwise cr - cs, ss - sr. Binary annotations: "ca", "sa" and "ma" give the remote
 * endpoint of the server, client and messaging halves; "lc" the local endpoint of a span
 * without core annotations; the others become tags of the half whose service reported
 * them (else the first). Other annotations go to the half whose service logged them. */

typedef struct v1half {
    int used, kind_client, kind;            /* kind: index into kinds[], -1 = local */
    int64_t ts, end;                        /* core annotation times (0 = absent) */
    bson_iter_t local, remote;
    int has_local, has_remote;
    bson_t tags, annots;
} v1half;

static const char *ep_service(const bson_iter_t *ep)
{
    int bad = 0;
    return member_str(ep, "serviceName", &bad);
}

/* Which half of h[0..2) an item reported by endpoint ep belongs to. */
static v1half *half_of(v1half *h, const bson_iter_t *ep, int has_ep)
{
    const char *svc = has_ep ? ep_service(ep) : NULL;
    for (int i = 0; i < 2 && svc; i++)
        if (h[i].used && h[i].has_local) {
            const char *l = ep_service(&h[i].local);
            if (l && !strcmp(l, svc))
                return &h[i];
        }
    return &h[0];
}

/* Appends the v2 spans of the v1 span at it to arr (keys from *k on); why names a fault. */
static int v1_convert(const bson_iter_t *it, bson_t *arr, uint32_t *k, char *why, size_t n)
{
    bson_iter_t f, a, e;
    const char *tid = NULL, *id = NULL, *pid = NULL, *name = NULL;
    int64_t ts = 0, dur = 0;
    int debug = 0, has_annots = 0, has_bins = 0;
    bson_iter_t annots, bins;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &f))
        return snprintf(why, n, "not a JSON object"), -1;
    while (bson_iter_next(&f)) {
        const char *key = bson_iter_key(&f);
        if (BSON_ITER_HOLDS_NULL(&f))
            continue;
        const char **sp = !strcmp(key, "traceId") ? &tid : !strcmp(key, "id") ? &id
                          : !strcmp(key, "parentId") ? &pid : !strcmp(key, "name") ? &name
                                                              : NULL;
        if (sp) {
            if (!BSON_ITER_HOLDS_UTF8(&f))
                return snprintf(why, n, "%s has the wrong type", key), -1;
            *sp = bson_iter_utf8(&f, NULL);
        } else if (!strcmp(key, "timestamp") || !strcmp(key, "duration")) {
            if (as_int(&f, key[0] == 't' ? &ts : &dur))
                return snprintf(why, n, "%s has the wrong type", key), -1;
        } else if (!strcmp(key, "debug")) {
            debug = BSON_ITER_HOLDS_BOOL(&f) && bson_iter_bool(&f);
        } else if (!strcmp(key, "annotations") || !strcmp(key, "binaryAnnotations")) {
            if (!BSON_ITER_HOLDS_ARRAY(&f))
                return snprintf(why, n, "%s is not an array", key), -1;
            if (key[0] == 'a')
                annots = f, has_annots = 1;
            else
                bins = f, has_bins = 1;
        }
    }
    v1half h[2];
    memset(h, 0, sizeof h);
    h[0].kind = h[1].kind = -1;
    bson_init(&h[0].tags), bson_init(&h[1].tags), bson_init(&h[0].annots),
        bson_init(&h[1].annots);
    /* core annotations */
    int64_t cs = 0, cr = 0, sr = 0, ss = 0, ms = 0, mr = 0;
    bson_iter_t ep_c, ep_s, ep_m, ep_first;
    int has_c = 0, has_s = 0, has_m = 0, kind_m = -1, has_first = 0;
    if (has_annots && bson_iter_recurse(&annots, &a))
        while (bson_iter_next(&a)) {
            bson_iter_t v, t, p;
            int64_t at = 0;
            if (!BSON_ITER_HOLDS_DOCUMENT(&a) || !bson_iter_recurse(&a, &e))
                continue;
            v = e, t = e, p = e;
            const char *val = bson_iter_find(&v, "value") && BSON_ITER_HOLDS_UTF8(&v)
                                  ? bson_iter_utf8(&v, NULL)
                                  : NULL;
            if (bson_iter_find(&t, "timestamp"))
                as_int(&t, &at);
            int has_ep = bson_iter_find(&p, "endpoint") && BSON_ITER_HOLDS_DOCUMENT(&p);
            if (!val)
                continue;
            if (has_ep && !has_first)
                ep_first = p, has_first = 1;
            int64_t *slot = !strcmp(val, "cs") ? &cs : !strcmp(val, "cr") ? &cr
                            : !strcmp(val, "sr") ? &sr : !strcmp(val, "ss") ? &ss
                            : !strcmp(val, "ms") ? &ms : !strcmp(val, "mr") ? &mr : NULL;
            if (slot) {
                *slot = at;
                if (has_ep && (slot == &cs || slot == &cr) && !has_c)
                    ep_c = p, has_c = 1;
                if (has_ep && (slot == &sr || slot == &ss) && !has_s)
                    ep_s = p, has_s = 1;
                if (has_ep && (slot == &ms || slot == &mr) && !has_m)
                    ep_m = p, has_m = 1;
                if (slot == &ms || slot == &mr)
                    kind_m = slot == &ms ? 2 : 3;
            }
        }
    int client = cs || cr, server = sr || ss;
    int nh = 0;
    if (client) {
        h[nh].used = 1, h[nh].kind = 0, h[nh].ts = cs, h[nh].end = cr;
        if (has_c)
            h[nh].local = ep_c, h[nh].has_local = 1;
        nh++;
    }
    if (server) {
        h[nh].used = 1, h[nh].kind = 1, h[nh].ts = sr, h[nh].end = ss;
        if (has_s)
            h[nh].local = ep_s, h[nh].has_local = 1;
        nh++;
    }
    if (!nh && (ms || mr)) {
        h[0].used = 1, h[0].kind = kind_m, h[0].ts = ms ? ms : mr;
        if (has_m)
            h[0].local = ep_m, h[0].has_local = 1;
        nh = 1;
    }
    if (!nh) {
        h[0].used = 1;
        if (has_first)
            h[0].local = ep_first, h[0].has_local = 1;
        nh = 1;
    }
    /* binary annotations */
    if (has_bins && bson_iter_recurse(&bins, &a))
        while (bson_iter_next(&a)) {
            bson_iter_t kk, vv, p;
            if (!BSON_ITER_HOLDS_DOCUMENT(&a) || !bson_iter_recurse(&a, &e))
                continue;
            kk = e, vv = e, p = e;
            if (!bson_iter_find(&kk, "key") || !BSON_ITER_HOLDS_UTF8(&kk))
                continue;
            const char *key = bson_iter_utf8(&kk, NULL);
            int has_ep = bson_iter_find(&p, "endpoint") && BSON_ITER_HOLDS_DOCUMENT(&p);
            int addr = !strcmp(key, "ca") ? 1 : !strcmp(key, "sa") ? 0 : !strcmp(key, "ma") ? 2
                                                                                           : -1;
            if (addr >= 0) {
                for (int i = 0; i < nh && has_ep; i++)
                    if ((addr == 1 && h[i].kind == 1) || (addr == 0 && h[i].kind == 0) ||
                        (addr == 2 && h[i].kind >= 2))
                        h[i].remote = p, h[i].has_remote = 1;
                continue;
            }
            if (!strcmp(key, "lc") && has_ep && !h[0].has_local && h[0].kind < 0)
                h[0].local = p, h[0].has_local = 1;
            if (!bson_iter_find(&vv, "value") ||
                !(BSON_ITER_HOLDS_UTF8(&vv) || BSON_ITER_HOLDS_BOOL(&vv) ||
                  BSON_ITER_HOLDS_NUMBER(&vv)))
                continue;
            v1half *x = half_of(h, &p, has_ep);
            bson_iter_t dup;
            if (!bson_iter_init_find(&dup, &x->tags, key))
                bson_append_iter(&x->tags, key, -1, &vv);
        }
    /* other annotations, to the half that logged them */
    if (has_annots && bson_iter_recurse(&annots, &a))
        while (bson_iter_next(&a)) {
            bson_iter_t v, p;
            if (!BSON_ITER_HOLDS_DOCUMENT(&a) || !bson_iter_recurse(&a, &e))
                continue;
            v = e, p = e;
            const char *val = bson_iter_find(&v, "value") && BSON_ITER_HOLDS_UTF8(&v)
                                  ? bson_iter_utf8(&v, NULL)
                                  : "";
            if (!strcmp(val, "cs") || !strcmp(val, "cr") || !strcmp(val, "sr") ||
                !strcmp(val, "ss") || !strcmp(val, "ms") || !strcmp(val, "mr"))
                continue;
            int has_ep = bson_iter_find(&p, "endpoint") && BSON_ITER_HOLDS_DOCUMENT(&p);
            v1half *x = half_of(h, &p, has_ep);
            char ik[16];
            const char *ikp;
            bson_uint32_to_string(bson_count_keys(&x->annots), &ikp, ik, sizeof ik);
            bson_t one;
            bson_append_document_begin(&x->annots, ikp, -1, &one);
            bson_iter_t t = e;
            if (bson_iter_find(&t, "timestamp"))
                bson_append_iter(&one, "timestamp", -1, &t);
            bson_append_utf8(&one, "value", -1, val, -1);
            bson_append_document_end(&x->annots, &one);
        }
    /* the v2 spans */
    for (int i = 0; i < nh; i++) {
        v1half *x = &h[i];
        char ik[16];
        const char *ikp;
        bson_t d;
        bson_uint32_to_string((*k)++, &ikp, ik, sizeof ik);
        bson_append_document_begin(arr, ikp, -1, &d);
        if (tid)
            bson_append_utf8(&d, "traceId", -1, tid, -1);
        if (id)
            bson_append_utf8(&d, "id", -1, id, -1);
        if (pid)
            bson_append_utf8(&d, "parentId", -1, pid, -1);
        if (name)
            bson_append_utf8(&d, "name", -1, name, -1);
        if (x->kind >= 0)
            bson_append_utf8(&d, "kind", -1, kinds[x->kind].name, -1);
        /* the v1 span's own times belong to its first half */
        int64_t t0 = i == 0 && ts ? ts : x->ts ? x->ts : ts;
        int64_t d0 = i == 0 && dur ? dur : x->ts && x->end > x->ts ? x->end - x->ts : 0;
        if (t0)
            bson_append_int64(&d, "timestamp", -1, t0);
        if (d0)
            bson_append_int64(&d, "duration", -1, d0);
        if (i == 1 && h[0].kind == 0 && x->kind == 1)
            bson_append_bool(&d, "shared", -1, true);
        if (debug)
            bson_append_bool(&d, "debug", -1, true);
        if (x->has_local)
            bson_append_iter(&d, "localEndpoint", -1, &x->local);
        if (x->has_remote)
            bson_append_iter(&d, "remoteEndpoint", -1, &x->remote);
        if (!bson_empty(&x->tags))
            bson_append_document(&d, "tags", -1, &x->tags);
        if (!bson_empty(&x->annots))
            bson_append_array(&d, "annotations", -1, &x->annots);
        bson_append_document_end(arr, &d);
    }
    for (int i = 0; i < 2; i++)
        bson_destroy(&h[i].tags), bson_destroy(&h[i].annots);
    return 0;
}

int owl_zipkin_v1_decode(const void *body, size_t n, int64_t now_ns, size_t max_spans,
                         owl_span_decoded *out, owl_error *err)
{
    bson_t doc = BSON_INITIALIZER, v2 = BSON_INITIALIZER;
    bson_iter_t it;
    ctx c = {.d = out, .now_ns = now_ns};
    size_t total = 0;
    int rc = begin(body, n, max_spans, out, &doc, &total, err);
    if (rc != OWL_OK)
        goto out;
    /* each v1 span gives one or two v2 spans (refused ones none), then read as v2 */
    size_t refused = 0;
    char first_why[200] = "";
    size_t first_i = SIZE_MAX;
    uint32_t k = 0;
    size_t *origin = malloc((2 * total + 1) * sizeof *origin); /* v2 element -> v1 index */
    if (!origin)
        rc = OWL_ENOMEM;
    if (rc == OWL_OK && !bson_iter_init(&it, &doc))
        rc = owl_error_set(err, OWL_EINVAL, "body is not a JSON array");
    for (size_t i = 0; rc == OWL_OK && bson_iter_next(&it); i++) {
        char why[200];
        uint32_t k0 = k;
        if (v1_convert(&it, &v2, &k, why, sizeof why)) {
            if (!refused++) {
                snprintf(first_why, sizeof first_why, "span %zu: %.150s", i, why);
                first_i = i;
            }
        }
        while (k0 < k)
            origin[k0++] = i;
    }
    if (rc == OWL_OK && k &&
        !(out->spans = owl_arena_alloc(&out->arena, k * sizeof *out->spans)))
        rc = OWL_ENOMEM;
    if (rc != OWL_OK) {
        free(origin);
        origin = NULL;
    }
    if (rc == OWL_OK && !bson_iter_init(&it, &v2))
        rc = OWL_ENOMEM;
    size_t first_v2 = SIZE_MAX; /* the v1 index of the first span the v2 reading refused */
    for (size_t j = 0; rc == OWL_OK && bson_iter_next(&it); j++) {
        size_t before = out->rejected;
        c.index = origin[j]; /* a refusal names the v1 span */
        rc = span(&c, &it);
        if (!before && out->rejected)
            first_v2 = origin[j];
    }
    free(origin);
    if (rc == OWL_OK && refused) {
        /* the message names the first refusal in request order */
        if (first_i < first_v2)
            snprintf(out->message, sizeof out->message, "%s", first_why);
        out->rejected += refused;
    }
out:
    bson_destroy(&doc);
    bson_destroy(&v2);
    return finish(rc, out, err);
}

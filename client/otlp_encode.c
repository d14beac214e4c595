/* otlp_encode.c — finished span records as an OTLP ExportTraceServiceRequest, and collected
 * metrics as an ExportMetricsServiceRequest, in protobuf wire format and in OTLP/JSON
 * (docs/client.md "Export encoding", "Metrics"), written by hand: client/ links no protobuf
 * library. Invariant: a request holds one ResourceSpans/ResourceMetrics (service.name, the
 * resource, the telemetry.sdk.* attributes) with one scope ("libowl", OWL_VERSION_STRING); a
 * failed encode leaves the output buffer as it was. */
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* ---- the buffer ---- */

/* reserve's slow path: b grown (doubling) to hold n more bytes. */
__attribute__((noinline)) static int grow(owl__cbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->nomem = 1;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->nomem = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Room for n more bytes at b->p + b->len: 0, or -1 with b->nomem set (or already set). */
static inline int reserve(owl__cbuf *b, size_t n)
{
    if (b->nomem)
        return -1;
    return n <= b->cap - b->len ? 0 : grow(b, n);
}

void owl__cbuf_put(owl__cbuf *b, const void *p, size_t n)
{
    if (n == 0 || reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void owl__cbuf_free(owl__cbuf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->nomem = 0;
}

/* owl__cbuf_put inlined where there is room: most writes are a few bytes of known size (ids,
 * fixed64s), which the compiler then copies without a call. */
static inline __attribute__((always_inline)) void put(owl__cbuf *b, const void *p, size_t n)
{
    if (n <= b->cap - b->len && !b->nomem) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
        return;
    }
    owl__cbuf_put(b, p, n);
}

static void put_s(owl__cbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* ---- the resource: "k=v,k=v" with values percent-encoded (owl__tracer_resource) ---- */

/* A copy of the resource text decoded in place as key NUL value NUL ... (*n entries); NULL
 * when out of memory. Keys are tokens and values hold no ',' (percent-encoded), so the first
 * '=' of a member ends its key. */
static char *resource_decode(const char *res, size_t *n)
{
    size_t len = res ? strlen(res) : 0;
    char *d = malloc(len + 1), *w = d;

    *n = 0;
    if (!d)
        return NULL;
    for (const char *r = res; len && *r;) {
        const char *end = strchr(r, ','), *eq;
        if (!end)
            end = r + strlen(r);
        eq = memchr(r, '=', (size_t)(end - r));
        if (eq) {
            memcpy(w, r, (size_t)(eq - r));
            w += eq - r;
            *w++ = '\0';
            for (const char *v = eq + 1; v < end; v++) {
                int hi, lo;
                if (*v == '%' && end - v >= 3 && (hi = owl__hexval((unsigned char)v[1])) >= 0 &&
                    (lo = owl__hexval((unsigned char)v[2])) >= 0) {
                    *w++ = (char)(hi << 4 | lo);
                    v += 2;
                } else
                    *w++ = *v;
            }
            *w++ = '\0';
            (*n)++;
        }
        r = *end ? end + 1 : end;
    }
    return d;
}

/* Whether the decoded resource (n entries at d) has key. */
static int resource_has(const char *d, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++, d += strlen(d) + 1, d += strlen(d) + 1)
        if (strcmp(d, key) == 0)
            return 1;
    return 0;
}

/* The SDK's own resource attributes, each sent unless the resource sets it itself. */
static const char *const sdk_attrs[][2] = {
    {"telemetry.sdk.name", "libowl"},
    {"telemetry.sdk.language", "c"},
    {"telemetry.sdk.version", OWL_VERSION_STRING},
};

/* ---- protobuf wire format ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *varint_at(uint8_t *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

static inline __attribute__((always_inline)) void pb_varint(owl__cbuf *b, uint64_t v)
{
    if (v < 0x80 && b->len < b->cap && !b->nomem) { /* tags, small lengths and counts */
        b->p[b->len++] = (uint8_t)v;
        return;
    }
    if (reserve(b, 10))
        return;
    b->len = (size_t)(varint_at(b->p + b->len, v) - b->p);
}

static void pb_tag(owl__cbuf *b, unsigned field, unsigned wt)
{
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_uint(owl__cbuf *b, unsigned field, uint64_t v) /* proto3: 0 is not sent */
{
    if (v) {
        pb_tag(b, field, WT_VARINT);
        pb_varint(b, v);
    }
}

/* Writes a little-endian fixed64 at w; the byte after. */
static uint8_t *fixed64_at(uint8_t *w, uint64_t v)
{
    v = htole64(v);
    memcpy(w, &v, 8);
    return w + 8;
}

/* v as 8 little-endian bytes (a packed fixed64 element). */
static void put_le64(owl__cbuf *b, uint64_t v)
{
    uint8_t le[8];
    fixed64_at(le, v);
    put(b, le, 8);
}

static void pb_fixed(owl__cbuf *b, unsigned field, uint64_t v, size_t width)
{
    uint8_t le[8];
    fixed64_at(le, v); /* a fixed32 is its first 4 bytes */
    pb_tag(b, field, width == 8 ? WT_I64 : WT_I32);
    put(b, le, width);
}

static void pb_bytes(owl__cbuf *b, unsigned field, const void *p, size_t n)
{
    pb_tag(b, field, WT_LEN);
    pb_varint(b, n);
    put(b, p, n);
}

static void pb_str(owl__cbuf *b, unsigned field, const char *s) /* NULL and "" not sent */
{
    if (s && *s)
        pb_bytes(b, field, s, strlen(s));
}

/* A nested message: its tag, then `guess` bytes kept for its length, which pb_close writes
 * once the body is known, moving the body when the length needs another width. Returns where
 * the body starts. */
static size_t pb_open(owl__cbuf *b, unsigned field, size_t guess)
{
    pb_tag(b, field, WT_LEN);
    if (reserve(b, guess))
        return b->len;
    b->len += guess;
    return b->len;
}

static void pb_close(owl__cbuf *b, size_t body, size_t guess)
{
    if (b->nomem)
        return;
    size_t n = b->len - body, need = varint_len(n);
    if (need > guess && reserve(b, need - guess))
        return;
    if (need != guess)
        memmove(b->p + body - guess + need, b->p + body, n);
    varint_at(b->p + body - guess, n);
    b->len = body - guess + need + n;
}

static void pb_anyvalue(owl__cbuf *b, unsigned field, const owl__attr *a)
{
    size_t m = pb_open(b, field, 1);
    switch (a->type) { /* a oneof: sent even when it is the default value */
    case OWL__ATTR_STR:
        pb_bytes(b, 1, a->v.s, strlen(a->v.s));
        break;
    case OWL__ATTR_BOOL:
        pb_tag(b, 2, WT_VARINT);
        pb_varint(b, a->v.b != 0);
        break;
    case OWL__ATTR_INT:
        pb_tag(b, 3, WT_VARINT);
        pb_varint(b, (uint64_t)a->v.i);
        break;
    case OWL__ATTR_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &a->v.d, sizeof bits);
        pb_fixed(b, 4, bits, 8);
        break;
    }
    }
    pb_close(b, m, 1);
}

static void pb_attrs(owl__cbuf *b, unsigned field, const owl__attr *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        size_t m = pb_open(b, field, 1);
        pb_str(b, 1, a[i].key);
        pb_anyvalue(b, 2, &a[i]);
        pb_close(b, m, 1);
    }
}

/* A KeyValue of a string value. */
static void pb_kv_str(owl__cbuf *b, unsigned field, const char *key, const char *value)
{
    owl__attr a = {.key = (char *)key, .type = OWL__ATTR_STR, .v.s = (char *)value};
    pb_attrs(b, field, &a, 1);
}

/* OTLP SpanFlags: the W3C trace flags (sampled: a record is a sampled span) in bits 0-7, bit 8
 * "whether the parent is remote is known", bit 9 "the parent is remote". */
static uint32_t span_flags(const owl__span_record *r)
{
    return 0x01u | 0x100u | (r->parent_remote ? 0x200u : 0);
}

/* A length-delimited field (field < 16) at w, room known; the byte after. */
static uint8_t *bytes_at(uint8_t *w, unsigned field, const void *p, size_t n)
{
    *w++ = (uint8_t)(field << 3 | WT_LEN);
    w = varint_at(w, n);
    memcpy(w, p, n);
    return w + n;
}

/* The ids, tracestate, name (name: its length), kind and times of a span (fields 1-8),
 * written through one pointer after one reserve: every span has them, and a write a field was
 * most of the encoder's instructions. The bytes are those pb_bytes / pb_str / pb_uint / pb_fixed would write. */
static void pb_span_head(owl__cbuf *b, const owl__span_record *r, size_t name)
{
    size_t ts = r->trace_state ? strlen(r->trace_state) : 0;
    if (reserve(b, 2 + 16 + 2 + 8 + (1 + 10 + ts) + 2 + 8 + (1 + 10 + name) + (1 + 10) + 2 * 9))
        return;
    uint8_t *w = b->p + b->len;
    w = bytes_at(w, 1, r->trace_id, 16);
    w = bytes_at(w, 2, r->span_id, 8);
    if (ts)
        w = bytes_at(w, 3, r->trace_state, ts);
    uint64_t parent;
    memcpy(&parent, r->parent_span_id, 8);
    if (parent)
        w = bytes_at(w, 4, r->parent_span_id, 8);
    if (name)
        w = bytes_at(w, 5, r->name, name);
    if (r->kind) {
        *w++ = 6 << 3 | WT_VARINT;
        w = varint_at(w, (uint64_t)r->kind);
    }
    *w++ = 7 << 3 | WT_I64;
    w = fixed64_at(w, r->start_ns);
    *w++ = 8 << 3 | WT_I64;
    w = fixed64_at(w, r->end_ns);
    b->len = (size_t)(w - b->p);
}

static void pb_span(owl__cbuf *b, const owl__span_record *r)
{
    /* the length's width guessed so pb_close seldom moves the body: a span with nothing but
     * its head (ids, a short name, times, flags) is under 128 bytes */
    size_t name = strlen(r->name);
    int small = !r->nattrs && !r->nevents && !r->nlinks && !r->trace_state && name < 40 &&
                !r->status_message;
    size_t guess = small ? 1 : 2, m = pb_open(b, 2, guess);
    pb_span_head(b, r, name);
    pb_attrs(b, 9, r->attrs, r->nattrs);
    pb_uint(b, 10, r->dropped_attrs);
    for (uint32_t i = 0; i < r->nevents; i++) {
        const owl__event *e = &r->events[i];
        size_t em = pb_open(b, 11, 1);
        pb_fixed(b, 1, e->time_ns, 8);
        pb_str(b, 2, e->name);
        pb_attrs(b, 3, e->attrs, e->nattrs);
        pb_close(b, em, 1);
    }
    pb_uint(b, 12, r->dropped_events);
    for (uint32_t i = 0; i < r->nlinks; i++) {
        const owl__link *l = &r->links[i];
        size_t lm = pb_open(b, 13, 1);
        pb_bytes(b, 1, l->trace_id, 16);
        pb_bytes(b, 2, l->span_id, 8);
        pb_str(b, 3, l->trace_state);
        pb_close(b, lm, 1);
    }
    pb_uint(b, 14, r->dropped_links);
    if (r->status != OWL_STATUS_UNSET || (r->status_message && *r->status_message)) {
        size_t sm = pb_open(b, 15, 1);
        pb_str(b, 2, r->status_message);
        pb_uint(b, 3, (uint64_t)r->status);
        pb_close(b, sm, 1);
    }
    pb_fixed(b, 16, span_flags(r), 4);
    pb_close(b, m, guess);
}

/* Ends an encode that started at out->len == base: 0, or OWL_ERR_NOMEM with out as before. */
static int finish(owl__cbuf *out, size_t base, char *res)
{
    free(res);
    if (!out->nomem)
        return 0;
    out->len = base;
    out->nomem = 0;
    return OWL_ERR_NOMEM;
}

/* The Resource (field 1 of ResourceSpans/Logs/Metrics): service.name, the decoded resource's
 * nres entries at res, then the SDK's attributes the resource does not set. */
static void pb_resource(owl__cbuf *out, const char *service_name, const char *res, size_t nres)
{
    size_t rm = pb_open(out, 1, 2);
    pb_kv_str(out, 1, "service.name", service_name);
    const char *k = res;
    for (size_t i = 0; i < nres; i++) {
        const char *v = k + strlen(k) + 1;
        pb_kv_str(out, 1, k, v);
        k = v + strlen(v) + 1;
    }
    for (size_t i = 0; i < sizeof sdk_attrs / sizeof *sdk_attrs; i++)
        if (!resource_has(res, nres, sdk_attrs[i][0]))
            pb_kv_str(out, 1, sdk_attrs[i][0], sdk_attrs[i][1]);
    pb_close(out, rm, 2);
}

/* One item of an export request, written with its own tag: items[i] of n. */
typedef void (*item_fn)(owl__cbuf *b, const void *items, size_t i);

/* An Export{Trace,Logs,Metrics}ServiceRequest in protobuf: one Resource{Spans,Logs,Metrics}
 * (the request's field 1) with the resource, and one Scope{Spans,Logs,Metrics} (its field 2)
 * of scope libowl holding the n items, each written by one (field 2 of the scope's message).
 * 0, or OWL_ERR_NOMEM with out as it was. */
static int request_pb(const void *items, size_t n, item_fn one, const char *service_name,
                      const char *resource, owl__cbuf *out)
{
    size_t base = out->len, nres;
    char *res = resource_decode(resource, &nres);

    if (!res)
        return OWL_ERR_NOMEM;
    size_t rs = pb_open(out, 1, 3);
    pb_resource(out, service_name, res, nres);
    size_t ss = pb_open(out, 2, 3);
    size_t sc = pb_open(out, 1, 1);
    pb_str(out, 1, "libowl");
    pb_str(out, 2, OWL_VERSION_STRING);
    pb_close(out, sc, 1);
    for (size_t i = 0; i < n; i++)
        one(out, items, i);
    pb_close(out, ss, 3);
    pb_close(out, rs, 3);
    return finish(out, base, res);
}

static void span_pb(owl__cbuf *b, const void *items, size_t i)
{
    pb_span(b, ((const owl__span_record *const *)items)[i]);
}

int owl__otlp_traces_pb(const owl__span_record *const *recs, size_t n, const char *service_name,
                        const char *resource, owl__cbuf *out)
{
    return request_pb(recs, n, span_pb, service_name, resource, out);
}

/* ---- OTLP/JSON: the proto3 JSON mapping with ids as hex (the OTLP specification) ---- */

/* s as a JSON string: quotes, '"' '\\' and control characters escaped, invalid UTF-8 bytes
 * each written U+FFFD (a JSON text must be UTF-8). */
static void js_str(owl__cbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    put(b, "\"", 1);
    while (n) {
        size_t run = 0;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        put(b, p, run);
        p += run;
        n -= run;
        if (!n)
            break;
        if (*p >= 0x80) {
            size_t q = owl__utf8_seq(p, n);
            if (q)
                put(b, p, q);
            else
                put_s(b, "\\ufffd");
            p += q ? q : 1;
            n -= q ? q : 1;
            continue;
        }
        char e[7] = {'\\', (char)*p, 0};
        switch (*p) {
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '"': case '\\': break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
        }
        put_s(b, e);
        p++;
        n--;
    }
    put(b, "\"", 1);
}

static void js_hex(owl__cbuf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char t[2 * 16 + 2];
    size_t w = 0;
    t[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        t[w++] = hex[p[i] >> 4];
        t[w++] = hex[p[i] & 15];
    }
    t[w++] = '"';
    put(b, t, w);
}

/* ,"name": before a member (no comma for the first of an object: first is then cleared). */
static void js_name(owl__cbuf *b, int *first, const char *name)
{
    if (!*first)
        put(b, ",", 1);
    *first = 0;
    put(b, "\"", 1);
    put_s(b, name);
    put(b, "\":", 2);
}

/* v in decimal at the end of t[0..24): returns where it starts (no stdio: this is per field). */
static char *decimal(char t[24], uint64_t v, int neg)
{
    char *w = t + 24;
    do {
        *--w = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--w = '-';
    return w;
}

static void js_uint(owl__cbuf *b, uint64_t v)
{
    char t[24], *w = decimal(t, v, 0);
    put(b, w, (size_t)(t + 24 - w));
}

/* A 64-bit integer as proto3's JSON mapping writes it: a decimal string; v is its magnitude
 * (so INT64_MIN's is held). */
static void js_int64(owl__cbuf *b, uint64_t v, int neg)
{
    char t[25], *w = decimal(t, v, neg);
    t[24] = '"';
    *--w = '"';
    put(b, w, (size_t)(t + 25 - w));
}

/* A double: "NaN", "Infinity", "-Infinity" as strings (proto3's JSON mapping), else a number
 * of 17 significant digits (it reads back as the same double), the C library's decimal point
 * (its locale's) written '.'. */
static void js_double(owl__cbuf *b, double d)
{
    char t[40], o[40];
    size_t w = 0;

    if (isnan(d)) {
        put_s(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        put_s(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (d == 0) { /* "-0" may read back as the integer 0, losing the sign */
        put_s(b, signbit(d) ? "-0.0" : "0");
        return;
    }
    snprintf(t, sizeof t, "%.17g", d);
    for (const char *p = t; *p && w < sizeof o - 1;) {
        if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == 'e') {
            o[w++] = *p++;
            continue;
        }
        o[w++] = '.';
        while (*p && !((*p >= '0' && *p <= '9') || *p == 'e'))
            p++;
    }
    put(b, o, w);
}

/* One KeyValue: {"key":...,"value":{...}}. */
static void js_kv(owl__cbuf *b, const owl__attr *a)
{
    put_s(b, "{\"key\":");
    js_str(b, a->key);
    switch (a->type) {
    case OWL__ATTR_STR:
        put_s(b, ",\"value\":{\"stringValue\":");
        js_str(b, a->v.s);
        break;
    case OWL__ATTR_BOOL:
        put_s(b, a->v.b ? ",\"value\":{\"boolValue\":true" : ",\"value\":{\"boolValue\":false");
        break;
    case OWL__ATTR_INT:
        put_s(b, ",\"value\":{\"intValue\":");
        js_int64(b, a->v.i < 0 ? 0 - (uint64_t)a->v.i : (uint64_t)a->v.i, a->v.i < 0);
        break;
    case OWL__ATTR_DOUBLE:
        put_s(b, ",\"value\":{\"doubleValue\":");
        js_double(b, a->v.d);
        break;
    }
    put_s(b, "}}");
}

static void js_attrs(owl__cbuf *b, int *first, const owl__attr *a, uint32_t n)
{
    if (!n)
        return;
    js_name(b, first, "attributes");
    for (uint32_t i = 0; i < n; i++) {
        put(b, i ? "," : "[", 1);
        js_kv(b, &a[i]);
    }
    put(b, "]", 1);
}

/* A KeyValue of a string value in the resource's list, after a ',' unless it is the first. */
static void js_kv_str(owl__cbuf *b, int *first, const char *key, const char *value)
{
    owl__attr a = {.key = (char *)key, .type = OWL__ATTR_STR, .v.s = (char *)value};
    if (!*first)
        put(b, ",", 1);
    *first = 0;
    js_kv(b, &a);
}

static void js_uint_member(owl__cbuf *b, int *first, const char *name, uint64_t v)
{
    if (v) {
        js_name(b, first, name);
        js_uint(b, v);
    }
}

static void js_str_member(owl__cbuf *b, int *first, const char *name, const char *s)
{
    if (s && *s) {
        js_name(b, first, name);
        js_str(b, s);
    }
}

static void js_span(owl__cbuf *b, const owl__span_record *r)
{
    int f = 1;

    put(b, "{", 1);
    js_name(b, &f, "traceId");
    js_hex(b, r->trace_id, 16);
    js_name(b, &f, "spanId");
    js_hex(b, r->span_id, 8);
    js_str_member(b, &f, "traceState", r->trace_state);
    if (!owl__is_zero(r->parent_span_id, 8)) {
        js_name(b, &f, "parentSpanId");
        js_hex(b, r->parent_span_id, 8);
    }
    js_name(b, &f, "flags");
    js_uint(b, span_flags(r));
    js_str_member(b, &f, "name", r->name);
    js_uint_member(b, &f, "kind", (uint64_t)r->kind);
    js_name(b, &f, "startTimeUnixNano");
    js_int64(b, r->start_ns, 0);
    js_name(b, &f, "endTimeUnixNano");
    js_int64(b, r->end_ns, 0);
    js_attrs(b, &f, r->attrs, r->nattrs);
    js_uint_member(b, &f, "droppedAttributesCount", r->dropped_attrs);
    if (r->nevents) {
        js_name(b, &f, "events");
        put(b, "[", 1);
        for (uint32_t i = 0; i < r->nevents; i++) {
            int ef = 1;
            put_s(b, i ? ",{" : "{");
            js_name(b, &ef, "timeUnixNano");
            js_int64(b, r->events[i].time_ns, 0);
            js_str_member(b, &ef, "name", r->events[i].name);
            js_attrs(b, &ef, r->events[i].attrs, r->events[i].nattrs);
            put(b, "}", 1);
        }
        put(b, "]", 1);
    }
    js_uint_member(b, &f, "droppedEventsCount", r->dropped_events);
    if (r->nlinks) {
        js_name(b, &f, "links");
        put(b, "[", 1);
        for (uint32_t i = 0; i < r->nlinks; i++) {
            int lf = 1;
            put_s(b, i ? ",{" : "{");
            js_name(b, &lf, "traceId");
            js_hex(b, r->links[i].trace_id, 16);
            js_name(b, &lf, "spanId");
            js_hex(b, r->links[i].span_id, 8);
            js_str_member(b, &lf, "traceState", r->links[i].trace_state);
            put(b, "}", 1);
        }
        put(b, "]", 1);
    }
    js_uint_member(b, &f, "droppedLinksCount", r->dropped_links);
    if (r->status != OWL_STATUS_UNSET || (r->status_message && *r->status_message)) {
        int sf = 1;
        js_name(b, &f, "status");
        put(b, "{", 1);
        js_str_member(b, &sf, "message", r->status_message);
        js_uint_member(b, &sf, "code", (uint64_t)r->status);
        put(b, "}", 1);
    }
    put(b, "}", 1);
}

/* "resource":{"attributes":[...]}, as pb_resource. */
static void js_resource(owl__cbuf *out, const char *service_name, const char *res, size_t nres)
{
    int f = 1;
    put_s(out, "\"resource\":{\"attributes\":[");
    js_kv_str(out, &f, "service.name", service_name);
    const char *k = res;
    for (size_t i = 0; i < nres; i++) {
        const char *v = k + strlen(k) + 1;
        js_kv_str(out, &f, k, v);
        k = v + strlen(v) + 1;
    }
    for (size_t i = 0; i < sizeof sdk_attrs / sizeof *sdk_attrs; i++)
        if (!resource_has(res, nres, sdk_attrs[i][0]))
            js_kv_str(out, &f, sdk_attrs[i][0], sdk_attrs[i][1]);
    put_s(out, "]}");
}

/* request_pb's request in OTLP/JSON: {"resource<Kind>":[{"resource":...,"scope<Kind>":[{
 * "scope":{...},"<list>":[items]}]}]}. */
static int request_json(const char *kind, const char *list, const void *items, size_t n,
                        item_fn one, const char *service_name, const char *resource,
                        owl__cbuf *out)
{
    size_t base = out->len, nres;
    char *res = resource_decode(resource, &nres);

    if (!res)
        return OWL_ERR_NOMEM;
    put_s(out, "{\"resource");
    put_s(out, kind);
    put_s(out, "\":[{");
    js_resource(out, service_name, res, nres);
    put_s(out, ",\"scope");
    put_s(out, kind);
    put_s(out, "\":[{\"scope\":{\"name\":\"libowl\",\"version\":\"" OWL_VERSION_STRING "\"},\"");
    put_s(out, list);
    put_s(out, "\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(out, ",", 1);
        one(out, items, i);
    }
    put_s(out, "]}]}]}");
    return finish(out, base, res);
}

static void span_json(owl__cbuf *b, const void *items, size_t i)
{
    js_span(b, ((const owl__span_record *const *)items)[i]);
}

int owl__otlp_traces_json(const owl__span_record *const *recs, size_t n,
                          const char *service_name, const char *resource, owl__cbuf *out)
{
    return request_json("Spans", "spans", recs, n, span_json, service_name, resource, out);
}

/* ---- logs: an ExportLogsServiceRequest (opentelemetry-proto logs.proto) ---- */

/* A LogRecord: flags carry the W3C sampled bit of the span the record was made in. */
static void pb_log(owl__cbuf *b, const owl__log_record *r)
{
    size_t m = pb_open(b, 2, 2);
    pb_fixed(b, 1, r->time_ns, 8);
    pb_uint(b, 2, (uint64_t)r->level);
    pb_str(b, 3, owl__level_name(r->level));
    owl__attr body = {.key = NULL, .type = OWL__ATTR_STR, .v.s = r->body ? r->body : ""};
    pb_anyvalue(b, 5, &body);
    pb_attrs(b, 6, r->attrs, r->nattrs);
    pb_uint(b, 7, r->dropped_attrs);
    int ids = !owl__is_zero(r->trace_id, 16);
    if (ids && r->sampled)
        pb_fixed(b, 8, 1, 4);
    if (ids) {
        pb_bytes(b, 9, r->trace_id, 16);
        pb_bytes(b, 10, r->span_id, 8);
    }
    pb_fixed(b, 11, r->time_ns, 8);
    pb_close(b, m, 2);
}

static void log_pb(owl__cbuf *b, const void *items, size_t i)
{
    pb_log(b, ((const owl__log_record *const *)items)[i]);
}

int owl__otlp_logs_pb(const owl__log_record *const *recs, size_t n, const char *service_name,
                      const char *resource, owl__cbuf *out)
{
    return request_pb(recs, n, log_pb, service_name, resource, out);
}

static void js_log(owl__cbuf *b, const owl__log_record *r)
{
    int f = 1;

    put(b, "{", 1);
    js_name(b, &f, "timeUnixNano");
    js_int64(b, r->time_ns, 0);
    js_name(b, &f, "observedTimeUnixNano");
    js_int64(b, r->time_ns, 0);
    js_uint_member(b, &f, "severityNumber", (uint64_t)r->level);
    js_str_member(b, &f, "severityText", owl__level_name(r->level));
    js_name(b, &f, "body");
    put_s(b, "{\"stringValue\":");
    js_str(b, r->body ? r->body : "");
    put(b, "}", 1);
    js_attrs(b, &f, r->attrs, r->nattrs);
    js_uint_member(b, &f, "droppedAttributesCount", r->dropped_attrs);
    if (!owl__is_zero(r->trace_id, 16)) {
        js_uint_member(b, &f, "flags", r->sampled ? 1 : 0);
        js_name(b, &f, "traceId");
        js_hex(b, r->trace_id, 16);
        js_name(b, &f, "spanId");
        js_hex(b, r->span_id, 8);
    }
    put(b, "}", 1);
}

static void log_json(owl__cbuf *b, const void *items, size_t i)
{
    js_log(b, ((const owl__log_record *const *)items)[i]);
}

int owl__otlp_logs_json(const owl__log_record *const *recs, size_t n, const char *service_name,
                        const char *resource, owl__cbuf *out)
{
    return request_json("Logs", "logRecords", recs, n, log_json, service_name, resource, out);
}

/* ---- metrics: an ExportMetricsServiceRequest (opentelemetry-proto metrics.proto) ---- */

enum { TEMPORALITY_CUMULATIVE = 2 };

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* NumberDataPoint (field 1 of Gauge and Sum): times, as_double, attributes. */
static void pb_number_point(owl__cbuf *b, const owl__metric_point *p)
{
    size_t m = pb_open(b, 1, 1);
    pb_fixed(b, 2, p->start_ns, 8);
    pb_fixed(b, 3, p->time_ns, 8);
    pb_fixed(b, 4, dbits(p->value), 8); /* a oneof: sent even when 0 */
    pb_attrs(b, 7, p->attrs, p->nattrs);
    pb_close(b, m, 1);
}

/* HistogramDataPoint: count, sum, min, max (optional fields: always sent), the n + 1 bucket
 * counts and n bounds packed. */
static void pb_hist_point(owl__cbuf *b, const owl__metric_point *p, const double *bounds,
                          uint32_t n)
{
    size_t m = pb_open(b, 1, 2);
    pb_fixed(b, 2, p->start_ns, 8);
    pb_fixed(b, 3, p->time_ns, 8);
    pb_fixed(b, 4, p->count, 8);
    pb_fixed(b, 5, dbits(p->sum), 8);
    pb_tag(b, 6, WT_LEN);
    pb_varint(b, 8 * ((uint64_t)n + 1));
    for (uint32_t i = 0; i <= n; i++)
        put_le64(b, p->buckets[i]);
    pb_tag(b, 7, WT_LEN);
    pb_varint(b, 8 * (uint64_t)n);
    for (uint32_t i = 0; i < n; i++)
        put_le64(b, dbits(bounds[i]));
    pb_attrs(b, 9, p->attrs, p->nattrs);
    pb_fixed(b, 11, dbits(p->min), 8);
    pb_fixed(b, 12, dbits(p->max), 8);
    pb_close(b, m, 2);
}

static void pb_metric(owl__cbuf *b, const owl__metric_data *d)
{
    static const unsigned field[] = {[OWL__METRIC_COUNTER] = 7, [OWL__METRIC_UPDOWN] = 7,
                                     [OWL__METRIC_GAUGE] = 5, [OWL__METRIC_HISTOGRAM] = 9};
    size_t m = pb_open(b, 2, 3);
    pb_str(b, 1, d->name);
    pb_str(b, 2, d->description);
    pb_str(b, 3, d->unit);
    size_t k = pb_open(b, field[d->kind], 3); /* Gauge, Sum or Histogram */
    for (size_t i = 0; i < d->npoints; i++) {
        if (d->kind == OWL__METRIC_HISTOGRAM)
            pb_hist_point(b, &d->points[i], d->bounds, d->nbounds);
        else
            pb_number_point(b, &d->points[i]);
    }
    if (d->kind != OWL__METRIC_GAUGE)
        pb_uint(b, 2, TEMPORALITY_CUMULATIVE);
    if (d->kind == OWL__METRIC_COUNTER)
        pb_uint(b, 3, 1); /* is_monotonic */
    pb_close(b, k, 3);
    pb_close(b, m, 3);
}

static void metric_pb(owl__cbuf *b, const void *items, size_t i)
{
    pb_metric(b, &((const owl__metric_data *)items)[i]);
}

int owl__otlp_metrics_pb(const owl__metric_data *ms, size_t n, const char *service_name,
                         const char *resource, owl__cbuf *out)
{
    return request_pb(ms, n, metric_pb, service_name, resource, out);
}

/* "startTimeUnixNano":"..","timeUnixNano":"..", then attributes, of a point of either kind. */
static void js_point_head(owl__cbuf *b, int *f, const owl__metric_point *p)
{
    js_attrs(b, f, p->attrs, p->nattrs);
    js_name(b, f, "startTimeUnixNano");
    js_int64(b, p->start_ns, 0);
    js_name(b, f, "timeUnixNano");
    js_int64(b, p->time_ns, 0);
}

static void js_hist_point(owl__cbuf *b, int *f, const owl__metric_point *p,
                          const double *bounds, uint32_t n)
{
    js_name(b, f, "count");
    js_int64(b, p->count, 0);
    js_name(b, f, "sum");
    js_double(b, p->sum);
    js_name(b, f, "bucketCounts");
    for (uint32_t i = 0; i <= n; i++) {
        put(b, i ? "," : "[", 1);
        js_int64(b, p->buckets[i], 0);
    }
    put(b, "]", 1);
    js_name(b, f, "explicitBounds");
    put(b, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            put(b, ",", 1);
        js_double(b, bounds[i]);
    }
    put(b, "]", 1);
    js_name(b, f, "min");
    js_double(b, p->min);
    js_name(b, f, "max");
    js_double(b, p->max);
}

static void js_metric(owl__cbuf *b, const owl__metric_data *d)
{
    static const char *const member[] = {[OWL__METRIC_COUNTER] = "sum",
                                         [OWL__METRIC_UPDOWN] = "sum",
                                         [OWL__METRIC_GAUGE] = "gauge",
                                         [OWL__METRIC_HISTOGRAM] = "histogram"};
    int f = 1, kf = 1;

    put(b, "{", 1);
    js_str_member(b, &f, "name", d->name);
    js_str_member(b, &f, "description", d->description);
    js_str_member(b, &f, "unit", d->unit);
    js_name(b, &f, member[d->kind]);
    put(b, "{", 1);
    js_name(b, &kf, "dataPoints");
    for (size_t i = 0; i < d->npoints; i++) {
        int pf = 1;
        put_s(b, i ? ",{" : "[{");
        js_point_head(b, &pf, &d->points[i]);
        if (d->kind == OWL__METRIC_HISTOGRAM)
            js_hist_point(b, &pf, &d->points[i], d->bounds, d->nbounds);
        else {
            js_name(b, &pf, "asDouble");
            js_double(b, d->points[i].value);
        }
        put(b, "}", 1);
    }
    put(b, d->npoints ? "]" : "[]", d->npoints ? 1 : 2);
    if (d->kind != OWL__METRIC_GAUGE)
        js_uint_member(b, &kf, "aggregationTemporality", TEMPORALITY_CUMULATIVE);
    if (d->kind == OWL__METRIC_COUNTER)
        put_s(b, ",\"isMonotonic\":true");
    put_s(b, "}}");
}

static void metric_json(owl__cbuf *b, const void *items, size_t i)
{
    js_metric(b, &((const owl__metric_data *)items)[i]);
}

int owl__otlp_metrics_json(const owl__metric_data *ms, size_t n, const char *service_name,
                           const char *resource, owl__cbuf *out)
{
    return request_json("Metrics", "metrics", ms, n, metric_json, service_name, resource, out);
}

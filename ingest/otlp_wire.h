/* otlp_wire.h — protobuf wire readers of the OTLP fast paths (otlp_logs.c, otlp_traces.c;
 * private to ingest/): each step reads one item or answers -1, with protobuf-c's limits (tags
 * and lengths of at most 5 bytes, varints of at most 10), so that whatever a fast path takes,
 * protobuf-c would have taken too and read the same way. Views point into the request. */
#ifndef OWL_INGEST_OTLP_WIRE_H
#define OWL_INGEST_OTLP_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "common/endian.h"
#include "ingest/ingest.h"

/* The common messages' descriptors (opentelemetry/proto/common and resource), which both fast
 * paths unpack or check fields against. */
#define RES_DESC opentelemetry__proto__resource__v1__resource__descriptor
#define SCOPE_DESC opentelemetry__proto__common__v1__instrumentation_scope__descriptor
#define KV_DESC opentelemetry__proto__common__v1__key_value__descriptor
#define ANY_DESC opentelemetry__proto__common__v1__any_value__descriptor

enum { OWL_WT_VARINT = 0, OWL_WT_I64 = 1, OWL_WT_LEN = 2, OWL_WT_I32 = 5 };

/* The switch key of field f of wire type wt: 64 bits, so that no field number past 2^29
 * (protobuf-c reads up to 2^32 - 1, as unknown fields) aliases a small one. */
#define OWL_WIRE_FW(f, wt) ((uint64_t)(f) << 3 | (uint64_t)(wt))

typedef struct owl_wire {
    const uint8_t *p, *end;
} owl_wire;

static inline owl_wire owl_wire_of(owl_bytes b)
{
    return (owl_wire){b.p, (const uint8_t *)b.p + b.n};
}

/* A varint of at most max bytes; -1 when longer or truncated. */
static inline int owl_wire_varint(owl_wire *w, unsigned max, uint64_t *v)
{
    uint64_t x = 0;
    /* one and two bytes (field tags, lengths below 16 KiB, small numbers) without the loop */
    if (w->p < w->end && w->p[0] < 0x80) {
        *v = *w->p++;
        return 0;
    }
    if (w->end - w->p >= 2 && max >= 2 && w->p[1] < 0x80) {
        *v = (uint64_t)(w->p[0] & 0x7f) | (uint64_t)w->p[1] << 7;
        w->p += 2;
        return 0;
    }
    for (unsigned i = 0; i < max && w->p + i < w->end; i++) {
        x |= (uint64_t)(w->p[i] & 0x7f) << (7 * i);
        if (!(w->p[i] & 0x80)) {
            w->p += i + 1;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field's tag as read, which is OWL_WIRE_FW(field, wire type) (a tag is at most 5
 * bytes, so the field fits 32 bits): the key of a switch over the fields without taking the
 * tag apart first. -1 at a malformed tag or field 0. */
static inline int owl_wire_key(owl_wire *w, uint64_t *key)
{
    return owl_wire_varint(w, 5, key) != 0 || *key < 8 ? -1 : 0;
}

/* The next field's number and wire type; -1 at a malformed tag or field 0. */
static inline int owl_wire_tag(owl_wire *w, uint32_t *field, int *wt)
{
    uint64_t t;
    if (owl_wire_key(w, &t) != 0)
        return -1;
    *field = (uint32_t)(t >> 3);
    *wt = (int)(t & 7);
    return 0;
}

/* A length-delimited value: its bytes in *v. */
static inline int owl_wire_bytes(owl_wire *w, owl_bytes *v)
{
    uint64_t n;
    if (owl_wire_varint(w, 5, &n) != 0 || n > (uint64_t)(w->end - w->p))
        return -1;
    *v = (owl_bytes){w->p, (size_t)n};
    w->p += n;
    return 0;
}

static inline int owl_wire_fixed64(owl_wire *w, uint64_t *v)
{
    if (w->end - w->p < 8)
        return -1;
    *v = owl_get64le(w->p);
    w->p += 8;
    return 0;
}

static inline int owl_wire_fixed32(owl_wire *w, uint32_t *v)
{
    if (w->end - w->p < 4)
        return -1;
    *v = owl_get32le(w->p);
    w->p += 4;
    return 0;
}

/* A bool as protobuf-c reads one: true when any 7-bit group of the varint is not zero (a
 * tenth byte's bits past the 64th count too). */
static inline int owl_wire_bool(owl_wire *w, int64_t *b)
{
    const uint8_t *p = w->p;
    uint64_t v;
    if (owl_wire_varint(w, 10, &v) != 0)
        return -1;
    for (*b = 0; p < w->p; p++)
        *b |= (*p & 0x7f) != 0;
    return 0;
}

/* Steps over a field of wire type wt; -1 for groups and reserved types (protobuf-c refuses
 * them). */
static inline int owl_wire_over(owl_wire *w, int wt)
{
    uint64_t v;
    uint32_t v32;
    owl_bytes b;
    switch (wt) {
    case OWL_WT_VARINT:
        return owl_wire_varint(w, 10, &v);
    case OWL_WT_I64:
        return owl_wire_fixed64(w, &v);
    case OWL_WT_LEN:
        return owl_wire_bytes(w, &b);
    case OWL_WT_I32:
        return owl_wire_fixed32(w, &v32);
    default:
        return -1;
    }
}

/* Steps over a field the fast path does not read: only one desc does not know (a field it
 * knows has a meaning the fast path would miss, or the wrong wire type). */
static inline int owl_wire_skip(owl_wire *w, const ProtobufCMessageDescriptor *desc,
                                uint32_t field, int wt)
{
    if (protobuf_c_message_descriptor_get_field(desc, field))
        return -1;
    return owl_wire_over(w, wt);
}

/* A text field: -1 when it holds a NUL (protobuf-c's string ends there). */
static inline int owl_wire_text(owl_wire *w, owl_bytes *v)
{
    return owl_wire_bytes(w, v) != 0 || memchr(v->p, 0, v->n) ? -1 : 0;
}

/* fn(ud, item) on each field `field` of wire type LEN of message b (of type desc), in order,
 * until one answers other than OWL_OK; the other fields stepped over as owl_wire_skip does;
 * *index counts the items. OWL_EUNSUPPORTED at anything malformed or not stepped over, else
 * fn's answer. For a request's list of resources. */
static inline int owl_wire_list(void *ud, owl_bytes b, const ProtobufCMessageDescriptor *desc,
                                uint32_t field, int (*fn)(void *, owl_bytes), size_t *index)
{
    owl_wire w = owl_wire_of(b);
    uint32_t f;
    int wt, rc = OWL_OK;
    owl_bytes v;
    for (*index = 0; rc == OWL_OK && w.p < w.end;) {
        if (owl_wire_tag(&w, &f, &wt) != 0)
            return OWL_EUNSUPPORTED;
        if (f == field && wt == OWL_WT_LEN) {
            if (owl_wire_bytes(&w, &v) != 0)
                return OWL_EUNSUPPORTED;
            rc = fn(ud, v);
            (*index)++;
        } else if (owl_wire_skip(&w, desc, f, wt) != 0) {
            return OWL_EUNSUPPORTED;
        }
    }
    return rc;
}

/* The fields of a ResourceSpans / ResourceLogs or ScopeSpans / ScopeLogs (desc): field 1, its
 * resource or scope, at most once (protobuf-c merges two) into *one (*seen 0: absent); fields
 * 2, the list owl_wire_each reads, and 3, schema_url, of wire type LEN; unknown fields
 * stepped over. -1 for anything else. */
static inline int owl_wire_outer_scan(owl_bytes b, const ProtobufCMessageDescriptor *desc,
                                      owl_bytes *one, int *seen)
{
    owl_wire w = owl_wire_of(b);
    uint64_t key;
    owl_bytes v;
    *seen = 0;
    while (w.p < w.end) {
        if (owl_wire_key(&w, &key) != 0)
            return -1;
        int bad;
        if (key == OWL_WIRE_FW(1, OWL_WT_LEN))
            bad = (*seen)++ || owl_wire_bytes(&w, one);
        else if (key == OWL_WIRE_FW(2, OWL_WT_LEN) || key == OWL_WIRE_FW(3, OWL_WT_LEN))
            bad = owl_wire_bytes(&w, &v);
        else
            bad = owl_wire_skip(&w, desc, (uint32_t)(key >> 3), (int)(key & 7));
        if (bad)
            return -1;
    }
    return 0;
}

/* fn(ud, item) on each field 2 of b, which owl_wire_outer_scan took, in order, until one
 * answers other than OWL_OK; *index counts them. fn's answer. */
static inline int owl_wire_each(void *ud, owl_bytes b, int (*fn)(void *, owl_bytes),
                                size_t *index)
{
    owl_wire w = owl_wire_of(b);
    uint64_t key = 0;
    int rc = OWL_OK;
    owl_bytes v = {"", 0};
    for (*index = 0; rc == OWL_OK && w.p < w.end;) {
        owl_wire_key(&w, &key);
        if (key == OWL_WIRE_FW(2, OWL_WT_LEN)) {
            owl_wire_bytes(&w, &v);
            rc = fn(ud, v);
            (*index)++;
        } else {
            owl_wire_over(&w, (int)(key & 7));
        }
    }
    return rc;
}

#endif

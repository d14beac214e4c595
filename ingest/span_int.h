/* span_int.h — what ingest/'s span decoders (otlp_traces.c, zipkin.c, xray.c) share beyond the
 * record itself (private to ingest/): the rules that must read the same whatever the protocol,
 * so a span carries the same fields whichever way it came in. */
#ifndef OWL_INGEST_SPAN_INT_H
#define OWL_INGEST_SPAN_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "ingest/ingest.h"

/* owl_span_url_path — the path of the absolute URL s[0..n): after "scheme://authority" up to
 * '?' or '#', *len its length; "/" (length 1) when the URL has none. NULL when s holds no
 * "://". The route of a span that names no route (docs/otlp.md, docs/api/xray-ingest.md).
 * Cannot fail; the result points into s or is static. */
const char *owl_span_url_path(const char *s, size_t n, size_t *len);

/* owl_span_vreject — counts one refused span in d and keeps the first refusal's reason as
 * d->message, "WHERE: why" (why from fmt and ap). Cannot fail. */
void owl_span_vreject(owl_span_decoded *d, const char *where, const char *fmt, va_list ap);

/* owl_span_exception — what failed a span, from its attrs (a BSON document): OTLP's first
 * exception event (type and message, lifted by the decoder), else X-Ray's first cause
 * exception; *type and *msg point into attrs, n 0 when absent or empty. Never fails. */
void owl_span_exception(owl_bytes attrs, owl_bytes *type, owl_bytes *msg);

/* owl_span_more_of — what a span's attributes and resource (BSON documents, either may be
 * empty) say beyond its columns, as the filter language reads it: user (X-Ray's, else
 * OTLP's enduser.id), origin, availability zone and instance (X-Ray's aws.ec2, else the
 * resource's cloud.availability_zone and host.id), resource ARN. Views into the documents
 * (NUL-terminated there), n 0 when absent. Never fails. */
typedef struct owl_span_more {
    owl_bytes user, service_type, az, instance_id, arn;
} owl_span_more;
void owl_span_more_of(owl_bytes attrs, owl_bytes resource, owl_span_more *m);

/* owl_span_annotations — calls fn for each annotation of a span's attributes: X-Ray's
 * `annotations`, else the attributes (OTLP, Zipkin tags), strings, numbers and booleans
 * (others skipped); key and str point into attrs. Stops at fn's non-zero return and returns
 * it; 0 at the end. */
typedef struct owl_span_ann {
    const char *key;
    size_t key_n;
    int type; /* owl_xf_atype */
    const char *str;
    size_t str_n;
    double num;
    int boolean;
} owl_span_ann;
int owl_span_annotations(owl_bytes attrs, int (*fn)(void *ud, const owl_span_ann *a),
                         void *ud);

/* owl_span_view_kind — a span kind as the filter language's; owl_span_view_flags — sets v's
 * error, fault and throttle flags from a status (a throttle is an error too) and its
 * in_progress (0 or 1). Inline: a window walk makes a view of every span. */
static inline owl_xf_kind owl_span_view_kind(int kind)
{
    static const owl_xf_kind kinds[] = {OWL_XF_INTERNAL, OWL_XF_INTERNAL, OWL_XF_SERVER,
                                        OWL_XF_CLIENT,   OWL_XF_PRODUCER, OWL_XF_CONSUMER};
    return (unsigned)kind < 6 ? kinds[kind] : OWL_XF_INTERNAL;
}

static inline void owl_span_view_flags(owl_xf_span *v, int status, int in_progress)
{
    /* the four bytes from a table in one store: three comparisons and their bytes put
     * together took a window walk 17 instructions a span */
    _Static_assert(offsetof(owl_xf_span, fault) == offsetof(owl_xf_span, error) + 1 &&
                       offsetof(owl_xf_span, throttle) == offsetof(owl_xf_span, error) + 2 &&
                       offsetof(owl_xf_span, in_progress) == offsetof(owl_xf_span, error) + 3,
                   "error, fault, throttle, in_progress: four bytes in a row");
    static const uint8_t flags[4][2][4] = {
        [OWL_SPAN_OK] = {{0, 0, 0, 0}, {0, 0, 0, 1}},
        [OWL_SPAN_ERROR] = {{1, 0, 0, 0}, {1, 0, 0, 1}},
        [OWL_SPAN_FAULT] = {{0, 1, 0, 0}, {0, 1, 0, 1}},
        [OWL_SPAN_THROTTLE] = {{1, 0, 1, 0}, {1, 0, 1, 1}}};
    memcpy(&v->error, flags[(unsigned)status < 4 ? status : OWL_SPAN_OK][in_progress != 0], 4);
}

/* A walk's scratch memory (trace_walk.c: its buffer of waiting rows, a few megabytes),
 * kept by the traces module between walks so that each one does not fault fresh pages in
 * and have the kernel zero them. owl_traces_scratch_take — the kept mapping (*p, *bytes; NULL
 * and 0 when none or another walk holds it), now the caller's. owl_traces_scratch_give —
 * hands a mapping back (munmap'd when one is kept already); the module unmaps it after
 * SCRATCH_IDLE_MS unused. Thread-safe. */
void owl_traces_scratch_take(owl_traces *tr, void **p, size_t *bytes);
void owl_traces_scratch_give(owl_traces *tr, void *p, size_t bytes);

#endif

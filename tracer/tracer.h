/* tracer.h — the public API of tracer/: traces. Today: X-Ray filter expressions (xfilter.c),
 * compiled once and evaluated against a trace given as an array of plain span views, with no
 * storage behind it; the language and owl's choices where AWS is silent are in
 * docs/filter-expressions.md.
 *
 * Threads: a compiled owl_xf is never written after owl_xf_compile returns, so any number of
 * threads may match with it at once. Traces and summaries belong to their caller. */
#ifndef OWL_TRACER_H
#define OWL_TRACER_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ---- a trace as the filter reads it ---- */

#define OWL_XF_MAX_LEN 2000   /* bytes of an expression (AWS publishes no limit; ours) */
#define OWL_XF_MAX_DEPTH 64   /* nesting of (), {}, NOT / ! */

typedef enum owl_xf_kind {
    OWL_XF_INTERNAL = 0,
    OWL_XF_SERVER,
    OWL_XF_CLIENT,
    OWL_XF_PRODUCER,
    OWL_XF_CONSUMER,
} owl_xf_kind;

typedef enum owl_xf_atype { OWL_XF_ASTR = 0, OWL_XF_ANUM, OWL_XF_ABOOL } owl_xf_atype;

/* An annotation (X-Ray's indexed key/value; OTLP and Zipkin attributes chosen by ingest). */
typedef struct owl_xf_annotation {
    const char *key;
    owl_xf_atype type;
    const char *str;  /* OWL_XF_ASTR */
    double num;       /* OWL_XF_ANUM */
    int boolean;      /* OWL_XF_ABOOL: 0 or 1 */
} owl_xf_annotation;

/* A span. Strings are NUL-terminated; NULL and "" both mean "not recorded". Times are Unix ns;
 * end_ns is read only when in_progress is 0. A span's "service group" (X-Ray's segment) is an
 * entry span — one whose parent is -1, out of range or of another service — with its
 * descendants of the same service (docs/filter-expressions.md "Groups"). */
typedef struct owl_xf_span {
    const char *service;       /* the service that recorded the span */
    const char *service_type;  /* X-Ray origin, e.g. "AWS::Lambda::Function" */
    const char *name;          /* operation */
    owl_xf_kind kind;
    int64_t start_ns, end_ns;
    unsigned error : 1;        /* 4xx */
    unsigned fault : 1;        /* 5xx */
    unsigned throttle : 1;     /* 429 (counts as an error too) */
    unsigned in_progress : 1;  /* not finished: no end yet */
    const char *http_method, *http_url, *http_useragent, *http_clientip;
    int http_status;           /* 0 = none */
    const char *user;
    const char *availability_zone, *instance_id, *resource_arn;
    const owl_xf_annotation *annotations;
    size_t n_annotations;
    int32_t parent;            /* index in the trace's spans; -1 = none */
    const char *remote_service; /* client/producer spans: the service called */
    const char *remote_type;    /* its X-Ray type when known, e.g. "AWS::DynamoDB::Table" */
} owl_xf_span;

typedef struct owl_xf_trace {
    const owl_xf_span *spans;
    size_t n_spans;
    int32_t root;  /* index of the root span; -1 = the earliest span without a parent */
} owl_xf_trace;

/* ---- filter expressions ---- */

typedef struct owl_xf owl_xf;

/* owl_xf_compile — compiles the X-Ray filter expression text[0..n). OWL_EINVAL for a
 * malformed expression, the message naming the 1-based position ("... at position 7");
 * OWL_EUNSUPPORTED for what owl refuses (rootcause.*, group.*, json, ...), naming it and its
 * position; OWL_ENOMEM. *out must be freed with owl_xf_free; on failure *out is NULL. */
int owl_xf_compile(const char *text, size_t n, owl_xf **out, owl_error *err);

/* owl_xf_free — frees f. Accepts NULL. */
void owl_xf_free(owl_xf *f);

/* owl_xf_match — 1 when the trace t satisfies f, else 0. Never fails and never allocates;
 * parent indexes that point outside t or form a cycle are read as "no parent". */
int owl_xf_match(const owl_xf *f, const owl_xf_trace *t);

/* ---- pushdown: a cheap pre-check on a trace summary ---- */

/* What a query layer keeps per trace, as owl_xf_summarize defines each field. */
typedef struct owl_xf_summary {
    const char *const *services;  /* every span's service and every client span's remote */
    size_t n_services;
    int64_t duration_ns;          /* last end - first start of finished spans; -1 = none */
    int64_t root_duration_ns;     /* the root span's; -1 = unknown or in progress */
    unsigned any_error : 1, any_fault : 1, any_throttle : 1, any_in_progress : 1;
} owl_xf_summary;

/* owl_xf_summarize — fills *s from t, the service names (distinct, pointing into t) in
 * svc[0..cap). OWL_ERANGE when t names more than cap services (s is then unusable). */
int owl_xf_summarize(const owl_xf_trace *t, const char **svc, size_t cap, owl_xf_summary *s,
                     owl_error *err);

/* owl_xf_may_match — 0 when no trace with summary s can satisfy f, else 1 (it may). Sound:
 * owl_xf_match(f, t) == 1 implies owl_xf_may_match(f, summary of t) == 1. It prunes on
 * service and edge names, error / fault / throttle, partial, duration and responsetime. */
int owl_xf_may_match(const owl_xf *f, const owl_xf_summary *s);

#endif

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

#include "common/buf.h"
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
    /* 0 or 1 each; bytes, not bit-fields: a window walk sets them for every span it reads,
     * and a byte is one store where a bit-field is a read, a mask and a store */
    uint8_t error;             /* 4xx */
    uint8_t fault;             /* 5xx */
    uint8_t throttle;          /* 429 (counts as an error too) */
    uint8_t in_progress;       /* not finished: no end yet */
    const char *http_method, *http_url, *http_useragent, *http_clientip;
    int http_status;           /* 0 = none */
    const char *user;
    const char *availability_zone, *instance_id, *resource_arn;
    const owl_xf_annotation *annotations;
    size_t n_annotations;
    int32_t parent;            /* index in the trace's spans; -1 = none */
    const char *remote_service; /* client/producer spans: the service called */
    const char *remote_type;    /* its X-Ray type when known, e.g. "AWS::DynamoDB::Table" */
    const char *exception_type;    /* what failed it: OTLP's exception event, X-Ray's cause */
    const char *exception_message; /* (NULL = none; the status message when nothing else) */
} owl_xf_span;

typedef struct owl_xf_trace {
    const owl_xf_span *spans;
    size_t n_spans;
    int32_t root;  /* index of the root span; -1 = the earliest span without a parent */
    /* Not 0: the spans' service and name strings are interned for as long as this number is
     * handed out (owl_names_epoch), so two such pointers are equal exactly when the strings
     * are (a window walk gives one number to every trace it hands out). 0: no promise. */
    uint64_t names_epoch;
} owl_xf_trace;

/* owl_names_epoch — a number never handed out before in this process (never 0), for a
 * producer of owl_xf_traces whose names are interned. Thread-safe. */
uint64_t owl_names_epoch(void);

/* ---- filter expressions ---- */

typedef struct owl_xf owl_xf;

/* owl_xf_compile — compiles the X-Ray filter expression text[0..n). OWL_EINVAL for a
 * malformed expression, the message naming the 1-based position ("... at position 7");
 * OWL_EUNSUPPORTED for what owl refuses (rootcause.*, group.*, json, ...), naming it and its
 * position; OWL_ENOMEM. *out must be freed with owl_xf_free; on failure *out is NULL. */
int owl_xf_compile(const char *text, size_t n, owl_xf **out, owl_error *err);

/* owl_xf_free — frees f. Accepts NULL. */
void owl_xf_free(owl_xf *f);

/* owl_xf_match — 1 when the trace t satisfies f, else 0. Never fails; allocates only for
 * rootcause.responsetime on a trace over 64 spans (its critical path), which is false when
 * memory runs out. Parent indexes that point outside t or form a cycle are read as "no
 * parent". */
int owl_xf_match(const owl_xf *f, const owl_xf_trace *t);

/* owl_xf_reads — which of the spans' less common fields f reads, OWL_XF_READS_* bits: a
 * producer of traces may leave the others unset (a window walk decodes no column for them).
 * Service names, operations, kinds, times, status flags, in_progress, parents and
 * remote_service are always read. NULL reads nothing. */
#define OWL_XF_READS_HTTP 1u       /* http_method, http_url, http_useragent, http_clientip,
                                      http_status */
#define OWL_XF_READS_EXCEPTIONS 2u /* exception_type, exception_message */
#define OWL_XF_READS_ATTRS 4u      /* user, service_type, remote_type, availability_zone,
                                      instance_id, resource_arn, annotations */
unsigned owl_xf_reads(const owl_xf *f);

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

/* ---- the critical path of one trace (critpath.c, docs/service-map.md) ----
 * Walking from the root: among the children overlapping what is left of the parent's time,
 * the one that finishes last is critical, then recursively; time not covered by a critical
 * child is the span's own (critical self time). Children are clamped into their parent
 * (clock skew between services); asynchronous children (a consumer, a child of a producer,
 * or a child outliving its parent that is not the server half of its parent's call) are not
 * on the path. The root is t->root, or when -1 the earliest span without a parent; other
 * roots (spans whose parent is missing) and their subtrees are off the path. On the path,
 * the self times add up to the root's duration. */

/* How far past its parent's end a child may end and still be the parent's synchronous part
 * (clamped into it): OWL_CRIT_OVERHANG_NS or 1% of the parent's length, whichever is more.
 * Clocks are read at slightly different moments: the OpenTelemetry JS SDK (1.x) writes a
 * span's start from Date.now() in whole milliseconds and its end as that plus a
 * performance.now() duration, so a client span ends up to 1 ms after the server span that
 * awaited it, and more when the process is preempted between the two clock reads. */
#define OWL_CRIT_OVERHANG_NS 2000000

/* owl_critpath — on_path[i] = 1 for the spans of t on its critical path, else 0;
 * self_ns[i] their critical self time (0 off the path). Both arrays hold t->n_spans entries.
 * In-progress spans end at their start. OWL_OK, OWL_ENOMEM. */
int owl_critpath(const owl_xf_trace *t, uint8_t *on_path, int64_t *self_ns, owl_error *err);

/* owl_fault_origin — where a trace's failures start: the index of the deepest span with a
 * status in `which` (OWL_FO_* bits) none of whose children has one, the earliest of equal
 * depth; -1 when no span has one. Never fails. */
#define OWL_FO_FAULT 1u
#define OWL_FO_ERROR 2u
#define OWL_FO_THROTTLE 4u
int32_t owl_fault_origin(const owl_xf_trace *t, unsigned which);

/* ---- rankings over many traces (rank.c, docs/service-map.md "Bottlenecks", "Root cause")
 * An accumulator is fed the window's traces and the baseline's, then answers
 * GET /api/v1/bottlenecks and /api/v1/rootcause (docs/api/bottlenecks.md). */
typedef struct owl_rank owl_rank;

typedef struct owl_rank_options {
    const char *service;   /* bottlenecks: rank only this service's operations (NULL = all) */
    size_t limit;          /* rows of each list (0 = 10) */
    size_t examples;       /* example trace ids of a row (0 = 5) */
    int sort_added;        /* bottlenecks ranked by the critical-path time added against the
                            * baseline (addedNanos), not by self time (selfNanos) */
    int no_failures;       /* bottlenecks only: where faults and errors start is not looked
                            * for (the root-cause lists stay empty) */
} owl_rank_options;

/* owl_rank_new — an empty accumulator. OWL_ENOMEM. Free with owl_rank_free (accepts NULL). */
int owl_rank_new(const owl_rank_options *o, owl_rank **out, owl_error *err);
void owl_rank_free(owl_rank *r);

/* owl_rank_add — counts trace t (its 16-byte id) into the window (baseline 0) or the
 * baseline (1): its critical path, its duration and its fault / error origins per
 * (service, operation). OWL_ENOMEM. Not thread-safe. */
int owl_rank_add(owl_rank *r, const owl_xf_trace *t, const uint8_t id[16], int baseline,
                 owl_error *err);

/* owl_rank_merge — adds everything src counted to dst, as if dst had been fed src's traces
 * after its own (both made with the same options); src is unchanged. OWL_ENOMEM (dst is
 * then unusable). Lets threads rank disjoint parts of a window, merged in a fixed order. */
int owl_rank_merge(owl_rank *dst, const owl_rank *src, owl_error *err);

/* owl_rank_bottlenecks_json / owl_rank_rootcause_json — the answers' JSON objects (shapes in
 * docs/api/bottlenecks.md) appended to out. OWL_ENOMEM. */
int owl_rank_bottlenecks_json(owl_rank *r, owl_buf *out, owl_error *err);
int owl_rank_rootcause_json(owl_rank *r, owl_buf *out, owl_error *err);

/* ---- a service map as data (svcmap.c, docs/service-map.md) ----
 * Nodes and edges with request, error, fault and throttle counts and a latency histogram;
 * built by the caller (from owl/ServiceGraph statistics or from traces), then written as
 * owl's JSON, Graphviz DOT, SVG (libgvc) or X-Ray's GetServiceGraph shape. */

#define OWL_SVCMAP_NBUCKETS 148 /* 4 buckets per octave from 2^-10 ms, as owl/Traces */

typedef struct owl_svcmap_stats {
    uint64_t requests, errors, faults, throttles; /* errors count throttles too (X-Ray's rule) */
    double sum_ms, min_ms, max_ms;                /* response times (min/max: 0 when none) */
    uint64_t hist[OWL_SVCMAP_NBUCKETS];           /* response times, owl_svcmap_bucket's */
} owl_svcmap_stats;

typedef struct owl_svcmap_node {
    const char *name;
    const char *type;   /* "service", or a virtual node's: "database", "queue", "external",
                         * or X-Ray's ("AWS::DynamoDB::Table", "remote") */
    owl_svcmap_stats st; /* what the node served */
} owl_svcmap_node;

typedef struct owl_svcmap_edge {
    size_t source, target; /* node indexes */
    owl_svcmap_stats st;   /* the calls source made to target */
} owl_svcmap_edge;

typedef struct owl_svcmap owl_svcmap;

/* owl_svcmap_new — an empty map of the window [start_ms, end_ms). OWL_ENOMEM.
 * owl_svcmap_free accepts NULL. */
int owl_svcmap_new(int64_t start_ms, int64_t end_ms, owl_svcmap **out);
void owl_svcmap_free(owl_svcmap *m);

/* owl_svcmap_node_at — the index of node (name, type), added (zero figures, the strings
 * copied) when new; a name is one node whatever the type given later. OWL_ENOMEM. */
int owl_svcmap_node_at(owl_svcmap *m, const char *name, const char *type, size_t *idx);

/* owl_svcmap_edge_at — the index of edge source -> target, added when new. OWL_ENOMEM. */
int owl_svcmap_edge_at(owl_svcmap *m, size_t source, size_t target, size_t *idx);

/* The map's nodes and edges, for adding figures (valid until the next _at call). */
owl_svcmap_node *owl_svcmap_nodes(owl_svcmap *m, size_t *n);
owl_svcmap_edge *owl_svcmap_edges(owl_svcmap *m, size_t *n);

/* owl_svcmap_merge — adds src's nodes and edges, with their figures, to dst. OWL_ENOMEM. */
int owl_svcmap_merge(owl_svcmap *dst, const owl_svcmap *src);

/* owl_svcmap_bucket — the histogram bucket of a response time of ms milliseconds;
 * owl_svcmap_count — counts one request of ms milliseconds with status (bits OWL_FO_*)
 * into st. Never fail. owl_svcmap_percentile — the p-th percentile (0 < p < 100) of st's
 * histogram in ms (0 when empty), within min and max. */
int owl_svcmap_bucket(double ms);
void owl_svcmap_count(owl_svcmap_stats *st, double ms, unsigned status);
double owl_svcmap_percentile(const owl_svcmap_stats *st, double p);

/* owl_svcmap_json / _dot / _svg / _xray_json — the map appended to out: owl's JSON
 * (services and edges with figures), a Graphviz digraph, its SVG (rendered in-process by
 * libgvc), X-Ray's GetServiceGraph answer ({Services, StartTime, EndTime,
 * ContainsOldGroupVersions}). OWL_ENOMEM; _svg OWL_EIO when Graphviz fails (err says why),
 * OWL_ETOOBIG over 4,000 nodes and edges (Graphviz would take minutes; DOT has no limit). */
int owl_svcmap_json(const owl_svcmap *m, owl_buf *out, owl_error *err);
int owl_svcmap_dot(const owl_svcmap *m, owl_buf *out, owl_error *err);
int owl_svcmap_svg(const owl_svcmap *m, owl_buf *out, owl_error *err);
int owl_svcmap_xray_json(const owl_svcmap *m, owl_buf *out, owl_error *err);

/* ---- the service graph: which service calls which (svcgraph.c, docs/service-map.md) ----
 * An edge caller -> callee is a span whose parent is a span of another service (a server
 * span under its caller's client span, or any span under another service's span), with
 * the callee span's figures; a client or producer span with no child of another service is
 * an edge to a virtual node named by its peer (docs/otlp.md "Peer service"), with the
 * client span's figures. Nodes are the services that served requests (entry spans: server,
 * consumer, roots, and spans under another service) and the virtual nodes. */

/* owl_svcgraph_peer_type — the type of the virtual node a client span's peer names: X-Ray's
 * type when known (remote_type non-empty), "database" for a database system (peer
 * "postgresql" or "postgresql:orders"), "queue" for a messaging system, else "external".
 * Static strings; never fails. */
const char *owl_svcgraph_peer_type(const char *peer, size_t n, const char *remote_type);

/* owl_svcgraph_trace — counts trace t's nodes and edges into m (node types: a span's
 * service_type or "service"; virtual nodes owl_svcgraph_peer_type's). Spans in progress
 * are left out. OWL_ENOMEM. */
int owl_svcgraph_trace(const owl_xf_trace *t, owl_svcmap *m, owl_error *err);

/* The live graph: spans are fed as they are stored, in any order and batches; a bounded
 * pending-join table pairs a callee with its caller when the two arrive apart (by trace id
 * and span id), and calls back once per edge found. A client or producer span still without
 * a callee when its time in the table (ttl) ends, or when the table is full and it is the
 * oldest, becomes an edge to its virtual node; a callee whose caller never came is no
 * edge. Thread-safe: calls are serialised by the caller (one mutex around every call). */
typedef struct owl_svcgraph owl_svcgraph;

typedef struct owl_svcgraph_span {
    const uint8_t *trace_id;  /* 16 bytes */
    const uint8_t *span_id;   /* 8 */
    const uint8_t *parent_id; /* 8; all zero = a root */
    const char *service;
    size_t service_len;
    const char *peer;         /* what a client span called; may be empty */
    size_t peer_len;
    int kind;                 /* enum owl_span_kind's numbers (OTLP's SpanKind) */
    int64_t start_ns, duration_ns;
    unsigned status;          /* OWL_FO_* bits */
} owl_svcgraph_span;

/* One edge found: source -> target (NUL-terminated, valid during the call), target_type
 * the target's node type ("service" or a virtual node's), and the figures counted for it. */
typedef struct owl_svcgraph_hop {
    const char *tenant;
    const char *source, *target, *target_type;
    int64_t start_ns, duration_ns;
    unsigned status;
} owl_svcgraph_hop;

typedef void (*owl_svcgraph_fn)(void *ud, const owl_svcgraph_hop *h);

/* owl_svcgraph_new — a table of at most capacity spans (0 = 1,048,576), each kept ttl_ns
 * (0 = 30 s) after it arrived. OWL_ENOMEM. owl_svcgraph_free accepts NULL (nothing pending
 * is called back). */
int owl_svcgraph_new(size_t capacity, int64_t ttl_ns, owl_svcgraph **out, owl_error *err);
void owl_svcgraph_free(owl_svcgraph *g);

/* owl_svcgraph_add — feeds spans[0..n) of tenant arrived at now_ns: calls fn for each edge
 * they complete, then expires what is due (owl_svcgraph_expire). A span that cannot be
 * kept (out of memory, more than 1,000,000 distinct names) is counted in
 * owl_svcgraph_stats' dropped and joins nothing. Never fails. */
void owl_svcgraph_add(owl_svcgraph *g, const char *tenant, const owl_svcgraph_span *spans,
                      size_t n, int64_t now_ns, owl_svcgraph_fn fn, void *ud);

/* owl_svcgraph_expire — ends the spans whose ttl has passed at now_ns (all of them when
 * now_ns is INT64_MAX), calling fn for the virtual edges. */
void owl_svcgraph_expire(owl_svcgraph *g, int64_t now_ns, owl_svcgraph_fn fn, void *ud);

typedef struct owl_svcgraph_stats {
    size_t pending;     /* spans in the table */
    uint64_t paired;    /* edges from a caller and callee that met */
    uint64_t virtual_;  /* edges to virtual nodes */
    uint64_t evicted;   /* spans pushed out by a full table before their ttl */
    uint64_t dropped;   /* spans not kept */
} owl_svcgraph_stats;

void owl_svcgraph_get_stats(const owl_svcgraph *g, owl_svcgraph_stats *s);

#endif

/* client_int.h — what libowl's files share and do not export (docs/client.md). client/ is
 * self-contained C11 + libc: it includes nothing of the server's folders. Public functions
 * (declared in owl/owl.h) carry OWL_API on their definitions, as the library is built with
 * -fvisibility=hidden; functions shared between client files are owl__-prefixed here. */
#ifndef OWL_CLIENT_INT_H
#define OWL_CLIENT_INT_H

#include "owl/owl.h"

#define OWL_API __attribute__((visibility("default")))

/* ---- text helpers of propagation.c, shared with config.c ---- */

/* owl__is_tchar — 1 when c is an RFC 7230 token character, else 0. */
int owl__is_tchar(int c);

/* owl__is_bag_octet — 1 when c is a W3C baggage-octet (printable ASCII but space, '"', ',',
 * ';', '\\'), which a value holds unencoded; else 0. */
int owl__is_bag_octet(int c);

/* owl__dup_n — a NUL-terminated copy of s[0..n) (malloc'd), NULL when out of memory. */
char *owl__dup_n(const char *s, size_t n);

/* owl__hexval — the value of hex digit c (either case), -1 for any other character. */
int owl__hexval(int c);

/* owl__is_zero — 1 when the n bytes at b are all zero (an id that is not one), else 0. */
int owl__is_zero(const uint8_t *b, size_t n);

/* owl__utf8_ok — 1 when s[0..n) is valid UTF-8 without NUL (owl__utf8_seq's rules), else 0. */
int owl__utf8_ok(const char *s, size_t n);

/* owl__utf8_seq — the length of the valid UTF-8 sequence at s[0..n) (no overlong forms,
 * surrogates or code points past U+10FFFF); 0 when it is not one, or is NUL. n >= 1. */
size_t owl__utf8_seq(const unsigned char *s, size_t n);

/* owl__pct_encoded_len, owl__pct_encode — v with every byte that is not a baggage-octet, and
 * '%', written %XX (uppercase): its length, and writing it at w (no NUL) returning its end. */
size_t owl__pct_encoded_len(const char *v);
char *owl__pct_encode(const char *v, char *w);

/* ---- configuration (config.c): what span.c reads beyond owl_config_get ---- */

/* The samplers, in owl_config's names (owl__config_sampler). */
enum owl__sampler {
    OWL__SAMPLER_ALWAYS_ON,
    OWL__SAMPLER_ALWAYS_OFF,
    OWL__SAMPLER_TRACEIDRATIO,
    OWL__SAMPLER_PARENTBASED_ALWAYS_ON,
    OWL__SAMPLER_PARENTBASED_ALWAYS_OFF,
    OWL__SAMPLER_PARENTBASED_TRACEIDRATIO,
    OWL__SAMPLER_XRAY
};

/* owl__config_sampler — c's sampler, with *ratio (may be NULL) its sampler.arg as a number in
 * [0, 1] (read without the C library's locale). Cannot fail. */
enum owl__sampler owl__config_sampler(const owl_config *c, double *ratio);

/* owl__config_header_count/at, owl__config_resource_count/at — c's headers and resource
 * attributes in order, values decoded (UTF-8; header values without control characters); the
 * resource never holds service.name (owl_config_get(c, "service.name") is the one to send).
 * The _at functions give entry i's key and value (each pointer may be NULL; they live as
 * owl_config_get's strings do), OWL_ERR_NOTFOUND past the end. */
size_t owl__config_header_count(const owl_config *c);
int owl__config_header_at(const owl_config *c, size_t i, const char **key, const char **value);
size_t owl__config_resource_count(const owl_config *c);
int owl__config_resource_at(const owl_config *c, size_t i, const char **key, const char **value);

/* owl__config_url — the URL a signal ("traces", "logs", "metrics") is sent to: the endpoint
 * with "/v1/<signal>" appended (one '/' between them whether or not the endpoint ends with
 * one), as OTEL_EXPORTER_OTLP_ENDPOINT is read. A new string (free it), NULL when out of
 * memory. */
char *owl__config_url(const owl_config *c, const char *signal);

/* owl__config_num — a numeric name's value: timeout, export.interval, metrics.interval (ms),
 * queue.size, batch.size (records), log.stderr (0/1); log.level as its owl_level number;
 * protocol 0 http/protobuf, 1 http/json; compression 0 gzip, 1 none. -1 for other names. */
int64_t owl__config_num(const owl_config *c, const char *name);

/* ---- contexts (propagation.c) ---- */

/* owl__context_set_ids — gives c (non-NULL) the ids (neither zero: the caller's duty) and
 * sampled flag (1, 0, negative: -1) of a span made here: c becomes valid and not remote, its
 * tracestate and baggage unchanged. Cannot fail. */
void owl__context_set_ids(owl_context *c, const uint8_t trace_id[16], const uint8_t span_id[8],
                          int sampled);

/* ---- samplers (sampler.c) ---- */

/* A sampler ready to decide: its kind (owl__config_sampler's) and, for the ratio kinds, the
 * bound the trace id's draw must be below. */
typedef struct owl__sampling {
    enum owl__sampler kind; /* OWL__SAMPLER_XRAY: roots decided by owl__xray_sample */
    uint64_t bound;
} owl__sampling;

/* owl__sampling_of — the sampler of kind with ratio (0..1, used by the ratio kinds). */
owl__sampling owl__sampling_of(enum owl__sampler kind, double ratio);

struct owl__sample_req;

/* owl__sampler_decide — 1 sampled, 0 not, for a span of trace_id whose parent's sampled flag
 * is parent_sampled: 1 or 0, or -1 when there is no parent or a remote one left it undecided
 * (a root decision then). req (may be NULL: nothing known) is what the xray sampler matches
 * a root on. Cannot fail. */
int owl__sampler_decide(const owl__sampling *s, const uint8_t trace_id[16], int parent_sampled,
                        const struct owl__sample_req *req);

/* ---- finished spans (span.c), what the exporter encodes as OTLP's Span ---- */

typedef enum owl__attr_type {
    OWL__ATTR_STR,
    OWL__ATTR_INT,
    OWL__ATTR_DOUBLE,
    OWL__ATTR_BOOL
} owl__attr_type;

typedef struct owl__attr {
    char *key;
    owl__attr_type type;
    union {
        char *s; /* UTF-8 as given, at most OWL__MAX_STR bytes */
        int64_t i;
        double d;
        int b; /* 0 or 1 */
    } v;
} owl__attr;

typedef struct owl__event {
    char *name;
    uint64_t time_ns; /* CLOCK_REALTIME, ns since the epoch */
    owl__attr *attrs;
    uint32_t nattrs;
} owl__event;

typedef struct owl__link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    char *trace_state; /* NULL: none */
} owl__link;

#define OWL__MAX_ATTRS 128  /* a span's attributes */
#define OWL__MAX_EVENTS 128 /* a span's events */
#define OWL__MAX_LINKS 128  /* a span's links */
#define OWL__MAX_STR 4096   /* bytes of a string value, cut at a UTF-8 boundary */

/* A sampled span as it ended; everything points into memory the record owns. span.c's
 * record_new sets each field one by one (no memset: a size assertion there catches a new
 * field). */
typedef struct owl__span_record {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8]; /* all zero for a root */
    int parent_remote;         /* the parent came from owl_extract (OTLP flags bits 8-9) */
    char *trace_state;         /* W3C tracestate inherited; NULL: none */
    char *name;                /* in r's own block: not freed on its own */
    owl_span_kind kind;
    uint64_t start_ns, end_ns; /* CLOCK_REALTIME, ns since the epoch */
    owl__attr *attrs;
    uint32_t nattrs, dropped_attrs;
    owl__event *events;
    uint32_t nevents, dropped_events;
    int event_lost; /* the last event added was not recorded: its attributes are not either */
    owl__link *links;
    uint32_t nlinks, dropped_links;
    owl_status_code status;
    char *status_message; /* ERROR only; NULL: none */
    int pooled;           /* a block of span.c's record pool (a name under OWL__POOL_NAME) */
} owl__span_record;

#define OWL__POOL_NAME 96 /* bytes of a pooled record's name block: longer names are malloc'd */

/* owl__span_record_free — frees r and all it owns; accepts NULL. */
void owl__span_record_free(owl__span_record *r);

/* owl__export_span (export.c) — hands a finished record over (it takes r, whatever the
 * outcome): to the sink set by owl__set_span_sink, which sees it during the call only, then
 * frees it; else to the spans queue when the exporter runs; else freed (not counted). 0 handed
 * over, OWL_ERR_LIMIT dropped. */
int owl__export_span(owl__span_record *r);

/* owl__tracer_resource — copies (free them) of the tracer's service name and resource
 * (k=v,k=v, values percent-encoded, "" for none), for the exporter's Resource. 0,
 * OWL_ERR_INVAL when not set up (both NULL), OWL_ERR_NOMEM. */
int owl__tracer_resource(char **service_name, char **resource);

/* owl__set_span_sink (export.c) — the tests' hook, taking precedence over the queue: fn(ud, r) is called for each finished record, from the
 * thread that ended the span (so fn must be thread-safe); NULL fn removes it. */
void owl__set_span_sink(void (*fn)(void *ud, const owl__span_record *r), void *ud);

/* ---- OTLP encoding (otlp_encode.c): what the exporter sends ---- */

/* A growable byte buffer. Zero it to start; owl__cbuf_free when done. A write that runs out
 * of memory sets nomem and later writes do nothing, so a sequence of writes is checked once. */
typedef struct owl__cbuf {
    uint8_t *p;
    size_t len, cap;
    int nomem;
} owl__cbuf;

/* owl__cbuf_put — appends p[0..n) to b (or sets b->nomem). owl__cbuf_free — frees b's bytes
 * and zeroes it; accepts NULL. */
void owl__cbuf_put(owl__cbuf *b, const void *p, size_t n);
void owl__cbuf_free(owl__cbuf *b);

/* owl__otlp_traces_pb, owl__otlp_traces_json — appends to out an ExportTraceServiceRequest of
 * the n records recs[0..n) (read only), in protobuf wire format / OTLP/JSON: one
 * ResourceSpans whose resource holds service.name = service_name (non-NULL), then resource's
 * entries (owl__tracer_resource's form: k=v,k=v, values percent-encoded; NULL or "" for none),
 * then telemetry.sdk.name/language/version (each unless resource sets it); one ScopeSpans
 * (scope "libowl", OWL_VERSION_STRING) with the spans in order (docs/client.md "Export
 * encoding"). 0, or OWL_ERR_NOMEM with out as it was. */
int owl__otlp_traces_pb(const owl__span_record *const *recs, size_t n, const char *service_name,
                        const char *resource, owl__cbuf *out);
int owl__otlp_traces_json(const owl__span_record *const *recs, size_t n,
                          const char *service_name, const char *resource, owl__cbuf *out);

/* ---- log records (log.c), what the exporter encodes as OTLP's LogRecord ---- */

#define OWL__MAX_BODY 65536 /* bytes of a log message, cut at a UTF-8 boundary */

typedef struct owl__log_record {
    uint64_t time_ns;     /* CLOCK_REALTIME when emitted: timeUnixNano and observedTimeUnixNano */
    owl_level level;      /* severityNumber; severityText its name: TRACE DEBUG INFO WARN ERROR FATAL */
    uint8_t trace_id[16]; /* the thread's current span's, all zero when none */
    uint8_t span_id[8];
    int sampled;          /* that span was sampled: flags bit 0 */
    char *body;           /* UTF-8, at most OWL__MAX_BODY bytes */
    owl__attr *attrs;
    uint32_t nattrs, dropped_attrs;
} owl__log_record;

/* owl__log_record_free — frees r and all it owns; accepts NULL. */
void owl__log_record_free(owl__log_record *r);

/* owl__level_name — a level's name as OTLP's severityText and stderr's lines give it: TRACE,
 * DEBUG, INFO, WARN, ERROR, FATAL (the range it falls in; out of range: the nearest). */
const char *owl__level_name(owl_level l);

/* owl__log_configure — log.c's part of owl_init: log.level, log.stderr and the service name
 * for stderr's lines. owl__log_reset — its part of owl_shutdown: back to info, no stderr. */
void owl__log_configure(const owl_config *c, const char *service_name);
void owl__log_reset(void);

/* owl__cut_len — the length of s cut to at most OWL__MAX_STR bytes, not inside a UTF-8
 * sequence: how attribute strings, span names and metric attributes are cut (span.c). */
size_t owl__cut_len(const char *s);

/* owl__now_ns — CLOCK_REALTIME in ns since the epoch: the time spans, events, log records and
 * metric points carry (clock.c: the CPU's invariant counter scaled onto it where the kernel
 * trusts that counter, clock_gettime elsewhere). Cannot fail; any thread. */
uint64_t owl__now_ns(void);

/* What the exporter reads of owld's answers (export.c), reachable for tests/fuzz/
 * fuzz_client_answer.c. owl__retry_after_ms — a Retry-After value (delay-seconds or an
 * HTTP-date, value[0..len), not NUL-terminated) in ms from now, 0 for a date past, -1 when
 * unreadable. owl__rejected_count — the partial-success rejected count of an Export*Service
 * Response body for signal sig (an enum owl__signal, or OWL__SIG_COUNT for metrics) in
 * protobuf (json 0) or OTLP/JSON; 0 when absent or unreadable. Neither fails otherwise. */
int64_t owl__retry_after_ms(const char *value, size_t len);
uint64_t owl__rejected_count(int sig, int json, const uint8_t *body, size_t n);

/* owl__background_thread — makes the calling thread SCHED_BATCH (export.c): the exporter's
 * and the xray sampler's threads, woken, do not preempt the service's threads on their CPU
 * but run in their fair turn (or on an idle CPU). Failure is ignored: the thread runs as
 * before. */
void owl__background_thread(void);

/* owl__clock_counter — 1 when owl__now_ns reads the CPU's counter (once scaled), 0 when
 * clock_gettime (tests, docs). owl__clock_atfork_child — a forked child's reset (span.c). */
int owl__clock_counter(void);
void owl__clock_atfork_child(void);

/* ---- attributes (span.c), shared with log.c ---- */

/* owl__attr_slot — the slot for key in *attrs (n of them): the existing one (its old string
 * value freed) or a new one (key owned, type INT until the caller sets it); NULL when full
 * (*dropped counted when dropped is given: at most OWL__MAX_ATTRS) or out of memory. */
owl__attr *owl__attr_slot(owl__attr **attrs, uint32_t *n, uint32_t *dropped, const char *key);

/* owl__attr_put_str — sets key to a copy of value (cut at OWL__MAX_STR on a UTF-8 boundary);
 * a value lost to memory leaves the attribute out. */
void owl__attr_put_str(owl__attr **attrs, uint32_t *n, uint32_t *dropped, const char *key,
                       const char *value);

/* owl__attr_int, owl__attr_double, owl__attr_bool — give slot a (owl__attr_slot's; NULL: nothing
 * done) its type and value. */
void owl__attr_int(owl__attr *a, int64_t v);
void owl__attr_double(owl__attr *a, double v);
void owl__attr_bool(owl__attr *a, int v);

/* owl__attr_clear — frees what a's key and value own. */
void owl__attr_clear(owl__attr *a);

/* owl__otlp_logs_pb, owl__otlp_logs_json — as owl__otlp_traces_pb/_json, an
 * ExportLogsServiceRequest of the n records: one ResourceLogs (the same resource), one
 * ScopeLogs (scope "libowl"), the records in order. 0, or OWL_ERR_NOMEM with out as it was. */
int owl__otlp_logs_pb(const owl__log_record *const *recs, size_t n, const char *service_name,
                      const char *resource, owl__cbuf *out);
int owl__otlp_logs_json(const owl__log_record *const *recs, size_t n, const char *service_name,
                        const char *resource, owl__cbuf *out);

/* ---- metrics (metrics.c), what the exporter encodes as OTLP's Metric ---- */

typedef enum owl__metric_kind {
    OWL__METRIC_COUNTER,   /* Sum, monotonic */
    OWL__METRIC_UPDOWN,    /* Sum, not monotonic */
    OWL__METRIC_GAUGE,     /* Gauge */
    OWL__METRIC_HISTOGRAM  /* Histogram, explicit bounds */
} owl__metric_kind;

/* One series' point as collected: cumulative since start_ns. Sums and gauges use value;
 * histograms count (the buckets' total), sum, min, max and buckets[0..nbounds]. */
typedef struct owl__metric_point {
    const owl__attr *attrs; /* string values, or the overflow series' one bool */
    uint32_t nattrs;
    uint64_t start_ns, time_ns; /* CLOCK_REALTIME, ns since the epoch */
    double value;
    uint64_t count;
    double sum, min, max;
    const uint64_t *buckets;
} owl__metric_point;

/* An instrument with the points of its series (npoints >= 1 when encoded). */
typedef struct owl__metric_data {
    const char *name;
    const char *unit;        /* NULL or "": none */
    const char *description; /* NULL or "": none */
    owl__metric_kind kind;
    const double *bounds; /* histograms: strictly increasing, finite */
    uint32_t nbounds;
    const owl__metric_point *points;
    size_t npoints;
} owl__metric_data;

/* owl__otlp_metrics_pb, owl__otlp_metrics_json — as owl__otlp_traces_pb/_json, an
 * ExportMetricsServiceRequest of the n metrics ms[0..n): one ResourceMetrics (the same
 * resource), one ScopeMetrics (scope "libowl"), the metrics in order, sums and histograms
 * with AGGREGATION_TEMPORALITY_CUMULATIVE, values as doubles. 0, or OWL_ERR_NOMEM with out
 * as it was. */
int owl__otlp_metrics_pb(const owl__metric_data *ms, size_t n, const char *service_name,
                         const char *resource, owl__cbuf *out);
int owl__otlp_metrics_json(const owl__metric_data *ms, size_t n, const char *service_name,
                           const char *resource, owl__cbuf *out);

/* owl__metrics_collect — the collector metrics.c gives owl__exporter_set_collector (ud
 * unused): appends to out an ExportMetricsServiceRequest (json: OTLP/JSON, else protobuf) of
 * every series recorded into since it was made, stamped now. 0 (out left as given when
 * nothing was recorded), OWL_ERR_NOMEM with out as given. */
int owl__metrics_collect(void *ud, const char *service_name, const char *resource, int json,
                         owl__cbuf *out);

/* ---- the exporter (export.c) ----
 * One background thread a process (a child after fork starts its own) sends what the
 * queues hold and what the metrics collector gives over OTLP/HTTP with libcurl. The queues
 * (spans, logs) are bounded, low-contention, and drop their oldest record when full; every
 * record that does not reach owld is counted in its signal's dropped counter. */
enum owl__signal { OWL__SIG_TRACES, OWL__SIG_LOGS, OWL__SIG_COUNT };

/* owl__exporter_start — starts the exporter for c (owl_init calls it, once the tracer's
 * service name and resource are set): URLs (owl__config_url), headers, api_key, protocol,
 * compression, timeout, intervals, sizes. 0, OWL_ERR_NOMEM (nothing started). */
int owl__exporter_start(const owl_config *c, const char *service_name, const char *resource);

/* owl__exporter_flush, owl__exporter_stop — owl_flush and owl_shutdown's work (owl/owl.h):
 * 0, OWL_ERR_TIMEOUT, OWL_ERR_INVAL when not started. */
int owl__exporter_flush(int timeout_ms);
int owl__exporter_stop(int timeout_ms);

/* owl__export_log — hands a finished log record over (it takes r whatever the outcome): to
 * the sink set by owl__set_log_sink, which sees it during the call only, then frees it; else
 * to the logs queue when the exporter runs; else freed (counted dropped only while started).
 * 0 handed over, OWL_ERR_LIMIT dropped. owl__export_span (above) is its twin for spans. */
int owl__export_log(owl__log_record *r);

/* owl__set_log_sink — the tests' hook, as owl__set_span_sink: fn(ud, r) is called for each
 * emitted record, from the emitting thread (so fn must be thread-safe); NULL fn removes it. */
void owl__set_log_sink(void (*fn)(void *ud, const owl__log_record *r), void *ud);

/* owl__exporter_dropped — a signal's dropped counter since owl__exporter_start. */
uint64_t owl__exporter_dropped(enum owl__signal s);

/* owl__exporter_set_collector — the metrics module's hook (set once, when its first
 * instrument is made): each metrics.interval, at owl_flush and at owl_shutdown, the exporter
 * thread calls collect(ud, service_name, resource, json, out), which appends to out an
 * ExportMetricsServiceRequest of every series (0 with out left empty: nothing to send;
 * OWL_ERR_NOMEM), and posts it to /v1/metrics. */
typedef int (*owl__collect_fn)(void *ud, const char *service_name, const char *resource,
                               int json, owl__cbuf *out);
void owl__exporter_set_collector(owl__collect_fn fn, void *ud);

/* owl__exporter_atfork — span.c's fork handlers call it, so that one set of handlers takes the
 * locks in one order (the tracer's, the pool's, the exporter's): phase 0 before fork, 1 in the
 * parent after it, 2 in the child (no thread; the inherited queues emptied, uncounted; a
 * thread of its own at its next record, flush or stop). */
void owl__exporter_atfork(int phase);

/* owl__http_headers — the headers of a request to owld (libcurl's list; free it with
 * curl_slist_free_all): Content-Type content_type, Content-Encoding gzip when gzip, the api_key
 * as "Authorization: Bearer KEY", then c's headers. NULL when out of memory. */
struct curl_slist;
struct curl_slist *owl__http_headers(const owl_config *c, const char *content_type, int gzip);

/* ---- X-Ray sampling rules (xray_sampler.c) ---- */

/* What the xray sampler matches a root span's rules on (NULL members: not known). */
typedef struct owl__sample_req {
    const char *service_name;
    const char *method;
    const char *path; /* URL path or route */
    const char *host;
} owl__sample_req;

/* A rule set: the rules of owld's GetSamplingRules with their reservoirs and the statistics
 * not yet reported. Every function is thread-safe; `now` is epoch seconds (the tests' clock). */
typedef struct owl__xray owl__xray;

/* owl__xray_new — no rules yet (the local default decides), matching service_name (NULL:
 * unknown_service) when a request gives none; NULL out of memory. owl__xray_free accepts
 * NULL. */
owl__xray *owl__xray_new(const char *service_name);
void owl__xray_free(owl__xray *x);

/* owl__xray_set_wake — fn(ud) is called (from a deciding thread, once a rule list) when a rule
 * with a reservoir is first matched before any target: the poller reports early. */
void owl__xray_set_wake(owl__xray *x, void (*fn)(void *ud), void *ud);

/* owl__xray_parse_rules — reads one GetSamplingRules answer page into x's pending list (the
 * rules the SDKs apply: version 1, ResourceARN "*", no Attributes; others left out) and its
 * NextToken into *next_token (malloc'd; NULL on the last page). 0, OWL_ERR_INVAL (not such
 * an answer), OWL_ERR_NOMEM. owl__xray_commit_rules — ok: the pending list (sorted by
 * priority then name, each rule keeping its namesake's reservoir target and unreported
 * counts) replaces the rules, fetched at `now` (0: no list, the local default); not ok: the
 * pending list is dropped. */
int owl__xray_parse_rules(owl__xray *x, const char *json, size_t n, char **next_token);
void owl__xray_commit_rules(owl__xray *x, int ok, int64_t now);

/* owl__xray_decide — 1 sample, 0 not, for a root of trace_id: the first rule matching req
 * (NULL: nothing known) by its reservoir then its FixedRate on the trace id's draw; without
 * a list fetched within the hour, the local default (1 a second, then 5%). Cannot fail. */
int owl__xray_decide(owl__xray *x, const owl__sample_req *req, const uint8_t trace_id[16],
                     int64_t now);

/* owl__xray_report — appends to out a SamplingTargets request body of the statistics of up to
 * 25 rules matched since their last report (their counts taken, so reported once). The
 * number of documents (0: nothing written, nothing to report), or OWL_ERR_NOMEM. */
int owl__xray_report(owl__xray *x, int64_t now, const char *client_id, owl__cbuf *out);

/* owl__xray_apply_targets — loads a SamplingTargets answer: each named rule's FixedRate,
 * ReservoirQuota and ReservoirQuotaTTL; *interval (may be NULL) the least Interval given (0:
 * none), *last_modified (may be NULL) LastRuleModification (0: none). 0, OWL_ERR_INVAL (not
 * such an answer; targets read before the fault stay). */
int owl__xray_apply_targets(owl__xray *x, const char *json, size_t n, int64_t *interval,
                            double *last_modified);

/* owl__xray_rule_quota — rule `name`'s reservoir quota (-1: no target yet). 0,
 * OWL_ERR_NOTFOUND. */
int owl__xray_rule_quota(owl__xray *x, const char *name, int64_t *quota);

/* owl__xray_glob — 1 when text matches X-Ray pattern pat ('*' any run, '?' one UTF-8
 * character, ASCII letters without case), else 0. */
int owl__xray_glob(const char *pat, const char *text);

/* The process's xray sampler (owl_init / owl_shutdown with sampler = xray): a poller thread
 * of its own fetching from the configuration's endpoint (POST <endpoint>/GetSamplingRules,
 * /SamplingTargets, with its headers and api_key), restarted at the first decision of a
 * child after fork. owl__xray_start: 0, OWL_ERR_NOMEM (nothing started). owl__xray_stop:
 * reports the last statistics within timeout_ms (< 0: the configuration's timeout), stops
 * the thread; the local default decides from then on. owl__xray_sample: the decision for a
 * root (the local default when not started). owl__xray_status: owl__xray_rule_quota of the
 * running sampler (OWL_ERR_INVAL when not started). */
int owl__xray_start(const owl_config *c, const char *service_name);
void owl__xray_stop(int timeout_ms);
int owl__xray_sample(const owl__sample_req *req, const uint8_t trace_id[16]);
int owl__xray_status(const char *rule, int64_t *quota);

#endif

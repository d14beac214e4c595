/* owl/owl.h — libowl, the C client of owl: what a service links (`pkg-config --cflags --libs
 * owl`) to carry trace context across its calls (docs/client.md). The only public header:
 * every handle is opaque, every symbol is owl_-prefixed, nothing else is exported.
 *
 * Errors are negative OWL_ERR_* codes, 0 is success. Strings given are copied; strings returned
 * belong to the handle they came from and live until it changes or is freed. Functions that
 * free accept NULL. A handle may be used from one thread at a time. */
#ifndef OWL_OWL_H
#define OWL_OWL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version: the header's (macros) and the library's linked (functions) ---- */
#define OWL_VERSION_MAJOR 0
#define OWL_VERSION_MINOR 1
#define OWL_VERSION_PATCH 0
#define OWL_VERSION_STRING "0.1.0"
#define OWL_VERSION_NUMBER (OWL_VERSION_MAJOR * 10000 + OWL_VERSION_MINOR * 100 + OWL_VERSION_PATCH)

const char *owl_version(void);  /* the linked library's OWL_VERSION_STRING */
int owl_version_number(void);   /* the linked library's OWL_VERSION_NUMBER */

/* ---- errors: 0 is success; the codes keep owld's numbers for the same meanings ---- */
#define OWL_CLIENT_ERRORS(X)                                                                 \
    X(OWL_ERR_NOMEM, -1, "out of memory")                                                    \
    X(OWL_ERR_INVAL, -2, "invalid argument")                                                 \
    X(OWL_ERR_NOTFOUND, -5, "not found")                                                     \
    X(OWL_ERR_TIMEOUT, -8, "timed out")                                                      \
    X(OWL_ERR_LIMIT, -19, "a limit of the format was reached")                               \
    X(OWL_ERR_CARRIER, -100, "the carrier's header callback failed")
#define OWL_CLIENT_ERROR_ENUM(name, value, text) name = value,
enum owl_client_err { OWL_CLIENT_ERRORS(OWL_CLIENT_ERROR_ENUM) };
#undef OWL_CLIENT_ERROR_ENUM

/* owl_client_strerror — a short English text for a code above, "unknown error" for others
 * (never NULL). */
const char *owl_client_strerror(int code);

/* ---- span contexts and their propagation (client/propagation.c) ----
 * A context is what crosses a call: a 16-byte trace id, the caller's 8-byte span id, whether
 * the caller sampled the trace, W3C tracestate and W3C baggage. Extracted from a request's
 * headers, it becomes the parent of the server's span; injected into an outgoing request,
 * it carries the client span's identity. Formats (bits, OR'd):
 *   OWL_PROPAGATE_W3C      traceparent + tracestate (W3C Trace Context, level 1)
 *   OWL_PROPAGATE_BAGGAGE  baggage (W3C Baggage)
 *   OWL_PROPAGATE_XRAY     X-Amzn-Trace-Id (Root=1-{8 hex}-{24 hex};Parent=;Sampled=)
 * An X-Ray root's 32 hex digits are the trace id's, so one trace crosses W3C and X-Ray
 * services alike. */
#define OWL_PROPAGATE_W3C 1u
#define OWL_PROPAGATE_BAGGAGE 2u
#define OWL_PROPAGATE_XRAY 4u
#define OWL_PROPAGATE_ALL 7u

typedef struct owl_context owl_context;

/* A carrier's headers, reached through the application's HTTP library. get: the value of
 * header `name` (matched case-insensitively), NULL when absent; a header sent several times
 * is given joined with "," (RFC 9110). The string must stay valid until the next call. set:
 * adds or replaces header `name`; 0, or non-zero to fail the injection. */
typedef const char *(*owl_header_get_fn)(void *carrier, const char *name);
typedef int (*owl_header_set_fn)(void *carrier, const char *name, const char *value);

/* owl_context_new — a context of the given ids (neither all zero) and sampled flag (0/1), with
 * no tracestate or baggage; NULL for a zero id, or out of memory. */
owl_context *owl_context_new(const uint8_t trace_id[16], const uint8_t span_id[8], int sampled);

/* owl_context_copy — a deep copy; NULL when out of memory. */
owl_context *owl_context_copy(const owl_context *c);

void owl_context_free(owl_context *c);

/* owl_extract — the context the carrier's headers hold, in the asked formats: W3C first,
 * then X-Ray for the ids when no valid traceparent is there; baggage whatever the ids. A
 * malformed header is ignored as the specifications say (an invalid traceparent voids its
 * tracestate; an invalid baggage list is dropped whole). Returns a new context (free it),
 * which may hold baggage only (owl_context_valid 0), or NULL when the headers held nothing
 * of the asked formats (or out of memory: *rc, may be NULL, says which: 0 or OWL_ERR_NOMEM). */
owl_context *owl_extract(owl_header_get_fn get, void *carrier, unsigned formats, int *rc);

/* owl_inject — sets the headers of the asked formats for c on the carrier: traceparent
 * (version 00) and tracestate when c has one, baggage when c has entries, X-Amzn-Trace-Id.
 * Formats c cannot fill (ids of a baggage-only context) are skipped. 0, OWL_ERR_INVAL (c
 * NULL), OWL_ERR_NOMEM, OWL_ERR_CARRIER (set failed; headers set before it stay). */
int owl_inject(const owl_context *c, owl_header_set_fn set, void *carrier, unsigned formats);

/* owl_context_valid — 1 when c holds a trace id and span id, else 0 (also for NULL). */
int owl_context_valid(const owl_context *c);

/* owl_context_ids — copies c's ids into trace_id / span_id (each may be NULL). OWL_ERR_INVAL
 * when c holds none. */
int owl_context_ids(const owl_context *c, uint8_t trace_id[16], uint8_t span_id[8]);

/* owl_context_sampled — 1 sampled, 0 not, -1 not decided (X-Ray "Sampled=?" or none given). */
int owl_context_sampled(const owl_context *c);

/* owl_context_remote — 1 when c came from owl_extract, 0 when made here. */
int owl_context_remote(const owl_context *c);

/* owl_context_tracestate — c's W3C tracestate as it will be sent ("" for none). */
const char *owl_context_tracestate(const owl_context *c);

/* owl_context_set_tracestate — replaces c's tracestate (NULL or "": none). OWL_ERR_INVAL when
 * it is not a valid W3C tracestate (c unchanged), OWL_ERR_NOMEM. */
int owl_context_set_tracestate(owl_context *c, const char *tracestate);

/* owl_baggage_get — the value of baggage entry `key`, NULL when absent. */
const char *owl_baggage_get(const owl_context *c, const char *key);

/* owl_baggage_set — sets entry key = value (value any UTF-8 text: percent-encoded as sent;
 * NULL removes the entry). OWL_ERR_INVAL (a key that is not a W3C token), OWL_ERR_LIMIT (more
 * than 64 entries, or over 8,192 bytes as sent), OWL_ERR_NOMEM; c unchanged on error. */
int owl_baggage_set(owl_context *c, const char *key, const char *value);

/* owl_baggage_count, owl_baggage_at — c's entries in order: entry i's key and value (each
 * pointer may be NULL). owl_baggage_at returns OWL_ERR_NOTFOUND past the end. */
size_t owl_baggage_count(const owl_context *c);
int owl_baggage_at(const owl_context *c, size_t i, const char **key, const char **value);

/* ---- set-up (client/config.c) ----
 * One tracer a process: owl_init sets it up from a configuration, owl_shutdown ends it. A
 * configuration starts from defaults, then the environment, then what the program sets:
 *   name              environment (first set and valid)                  default
 *   endpoint          OWL_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT          http://127.0.0.1:4318
 *                     (http or https; the base /v1/traces is appended to)
 *   service.name      OWL_SERVICE_NAME, OTEL_SERVICE_NAME, then          unknown_service
 *                     OTEL_RESOURCE_ATTRIBUTES' service.name
 *   api_key           OWL_API_KEY (sent as "Authorization: Bearer KEY")  none
 *   headers           OTEL_EXPORTER_OTLP_HEADERS (k=v,k=v, percent-encoded values)
 *   resource          OTEL_RESOURCE_ATTRIBUTES (k=v,k=v, percent-encoded values)
 *   sampler           OTEL_TRACES_SAMPLER: always_on, always_off, traceidratio,
 *                     parentbased_always_on (default), parentbased_always_off,
 *                     parentbased_traceidratio, xray (owld's sampling rules)
 *   sampler.arg       OTEL_TRACES_SAMPLER_ARG (the ratio, 0..1; default 1)
 *   protocol          OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (default), http/json
 *   compression       OTEL_EXPORTER_OTLP_COMPRESSION: gzip (default), none
 *   timeout           OTEL_EXPORTER_OTLP_TIMEOUT: ms an export may take,     10000
 *                     retries included (1..600000)
 *   export.interval   OWL_EXPORT_INTERVAL, OTEL_BSP_SCHEDULE_DELAY: ms       1000
 *                     between sends of spans and logs (1..86400000)
 *   queue.size        OWL_QUEUE_SIZE, OTEL_BSP_MAX_QUEUE_SIZE: records      2048
 *                     queued a signal (spans, logs) before the oldest is dropped (1..2^20)
 *   batch.size        OWL_BATCH_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE:        512
 *                     records a request at most (1..2^20; above queue.size: queue.size)
 *   metrics.interval  OWL_METRICS_INTERVAL, OTEL_METRIC_EXPORT_INTERVAL:     60000
 *                     ms between metrics exports (1..86400000)
 *   log.level         OWL_LOG_LEVEL: trace, debug, info, warn, error,       info
 *                     fatal; owl_log below it does nothing
 *   log.stderr        OWL_LOG_STDERR: 1/true or 0/false; owl_log also        0
 *                     writes its lines to stderr (with the trace and span ids)
 * `headers` and `resource` add to what is there (a key given again replaces its value, a key
 * given with an empty value is removed; at most 128 entries each); a service.name in
 * `resource` sets service.name. An empty environment variable counts as unset; a malformed
 * one is ignored, the next one or the default kept (owl_config_get shows what holds); a
 * malformed value given to owl_config_set is refused. docs/client.md has each name's forms. */
typedef struct owl_config owl_config;

/* owl_config_new — the defaults with the environment read over them; NULL when out of
 * memory. */
owl_config *owl_config_new(void);

/* owl_config_set — sets `name` (above) to value; NULL sets its default (for `headers` and
 * `resource`: no entries). OWL_ERR_INVAL (unknown name, or a value that is not one of its
 * forms), OWL_ERR_LIMIT (a list past 128 entries), OWL_ERR_NOMEM; c unchanged on error. */
int owl_config_set(owl_config *c, const char *name, const char *value);

/* owl_config_get — the value of `name` as it holds (headers and resource as k=v,k=v with
 * values percent-encoded; "" for no api_key), NULL for an unknown name. */
const char *owl_config_get(const owl_config *c, const char *name);

void owl_config_free(owl_config *c);

/* owl_init — sets the process's telemetry up from c (NULL: owl_config_new()'s): its service
 * name, resource, sampler, log level, and the exporter, a background thread that sends ended
 * spans and logs every export.interval (sooner when batch.size are queued) and metrics every
 * metrics.interval, over OTLP/HTTP to the endpoint. It does not wait for owld: a send that
 * fails is retried (429, 502, 503, 504 and network errors, with backoff, honouring
 * Retry-After) within `timeout`, then dropped and counted. OWL_ERR_INVAL when already set up
 * (owl_shutdown first), OWL_ERR_NOMEM. A process that forks keeps it: the child gets an
 * exporter of its own (what the parent had queued is the parent's to send). */
int owl_init(const owl_config *c);

/* owl_flush — sends everything ended before the call (spans, logs, and the metrics as they
 * stand) and waits up to timeout_ms (< 0: without limit) for owld to answer. 0 when all was
 * sent or dropped by then, OWL_ERR_TIMEOUT, OWL_ERR_INVAL when not set up. */
int owl_flush(int timeout_ms);

/* owl_shutdown — flushes as owl_flush does within timeout_ms, then stops the exporter: spans
 * and logs ended from now on are not exported; what is still queued at the deadline is
 * dropped and counted. 0, OWL_ERR_TIMEOUT (the exporter was stopped all the same),
 * OWL_ERR_INVAL when not set up. */
int owl_shutdown(int timeout_ms);

/* owl_dropped_spans, owl_dropped_logs — sampled spans / log records ended but never accepted
 * by owld since owl_init: the queue full (the oldest is dropped), owld away past the
 * retries, refused by owld, or still queued at shutdown. */
uint64_t owl_dropped_spans(void);
uint64_t owl_dropped_logs(void);

/* ---- spans (client/span.c) ----
 * A span is started, given attributes, events, links and a status, and ended; owl_span_end
 * hands it to the exporter (when sampled) and frees the handle. Kinds are OTLP's. */
typedef struct owl_span owl_span;

typedef enum owl_span_kind {
    OWL_KIND_INTERNAL = 1,
    OWL_KIND_SERVER = 2,
    OWL_KIND_CLIENT = 3,
    OWL_KIND_PRODUCER = 4,
    OWL_KIND_CONSUMER = 5
} owl_span_kind;

typedef enum owl_status_code {
    OWL_STATUS_UNSET = 0,
    OWL_STATUS_OK = 1,
    OWL_STATUS_ERROR = 2
} owl_status_code;

/* owl_span_start flags */
#define OWL_SPAN_ROOT 1u     /* a new trace, whatever the thread's current span */
#define OWL_SPAN_DETACHED 2u /* not made the thread's current span (event loops, callbacks) */

/* owl_span_start — a span named `name` of `kind`, started now. Its parent: `parent` when given
 * (an extracted or saved context), else the thread's current span, else none (a root, a new
 * trace id), OWL_SPAN_ROOT forcing the last. Unless OWL_SPAN_DETACHED it becomes the thread's
 * current span until it ends. The sampler decides at start; an unsampled span is a cheap
 * handle that still carries its ids to children and outgoing requests. NULL only when the
 * name is NULL or out of memory (then nothing is recorded and the other functions accept the
 * NULL). Before owl_init (or after owl_shutdown) spans are made but never exported. */
owl_span *owl_span_start(const char *name, owl_span_kind kind, const owl_context *parent,
                         unsigned flags);

/* Attributes: a key set again replaces its value. At most 128 attributes a span and 4,096
 * bytes a string value (longer values cut at a UTF-8 boundary); more are counted as dropped
 * (OTLP's dropped_attributes_count). No effect on an unsampled span or NULL. */
void owl_span_set_str(owl_span *s, const char *key, const char *value);
void owl_span_set_int(owl_span *s, const char *key, int64_t value);
void owl_span_set_double(owl_span *s, const char *key, double value);
void owl_span_set_bool(owl_span *s, const char *key, int value);

/* owl_span_add_event — an event named `name` at this moment (at most 128 a span). */
void owl_span_add_event(owl_span *s, const char *name);

/* owl_span_event_set_str, _int, _double, _bool — an attribute of s's last event (the one
 * owl_span_add_event or owl_span_record_exception just added), as a span's own: a key set
 * again replaces its value, strings are cut at 4,096 bytes; at most 128 an event, more are
 * not recorded. No effect when s has no event, when its last one was not recorded (past the
 * 128 events), on an unsampled span or NULL. */
void owl_span_event_set_str(owl_span *s, const char *key, const char *value);
void owl_span_event_set_int(owl_span *s, const char *key, int64_t value);
void owl_span_event_set_double(owl_span *s, const char *key, double value);
void owl_span_event_set_bool(owl_span *s, const char *key, int value);

/* owl_span_record_exception — an "exception" event with exception.type, exception.message
 * and (when given) exception.stacktrace, and the span's status set to ERROR with message
 * unless already set. type or message may be NULL, not both. */
void owl_span_record_exception(owl_span *s, const char *type, const char *message,
                               const char *stacktrace);

/* owl_span_add_link — a link to another span's context (at most 128 a span). */
void owl_span_add_link(owl_span *s, const owl_context *c);

/* owl_span_set_status — code with a description (kept for ERROR only, as OTLP says). */
void owl_span_set_status(owl_span *s, owl_status_code code, const char *message);

/* owl_span_set_http — the HTTP call's method (http.request.method), route or URL
 * (http.route for a server span, url.full for a client span) and response status
 * (http.response.status_code, 0: none yet); the status as OpenTelemetry's HTTP conventions set
 * it: ERROR for 5xx, and for 4xx on a client span. */
void owl_span_set_http(owl_span *s, const char *method, const char *route_or_url, int status);

/* owl_span_context — a new context of s (its ids, sampled flag, and the tracestate and
 * baggage it inherited), for owl_inject or for starting spans elsewhere; NULL for NULL or out
 * of memory. Free it with owl_context_free. */
owl_context *owl_span_context(const owl_span *s);

/* owl_span_ids — s's trace and span ids (each pointer may be NULL). OWL_ERR_INVAL for NULL. */
int owl_span_ids(const owl_span *s, uint8_t trace_id[16], uint8_t span_id[8]);

/* owl_span_sampled — 1 when s is recorded and exported, 0 when not (also for NULL). */
int owl_span_sampled(const owl_span *s);

/* owl_span_end — ends s now and frees it: a sampled span goes to the export queue. When s is
 * the thread's current span, its parent-at-start (if that was current) becomes current
 * again. Accepts NULL. */
void owl_span_end(owl_span *s);

/* owl_current_span — the thread's current span, or NULL. */
owl_span *owl_current_span(void);

/* owl_span_start_http — a span for an HTTP call, named as OpenTelemetry's HTTP conventions
 * name it ("GET /orders/{id}": method and route for a server span, the method alone for a
 * client span), with owl_span_set_http's attributes (status 0) and, for a server span,
 * server.address = host (may be NULL). Unlike owl_span_start then owl_span_set_http, the
 * sampler sees the method, route or URL path and host, which the `xray` sampler's rules match
 * on (HTTPMethod, URLPath, Host). Arguments and result as owl_span_start's; method must not be
 * NULL. */
owl_span *owl_span_start_http(owl_span_kind kind, const char *method, const char *route_or_url,
                              const char *host, const owl_context *parent, unsigned flags);

/* ---- logs (client/log.c) ----
 * A log record is a message at a level, stamped with the thread's current span's trace and
 * span ids (when there is one), exported as OTLP logs (owld: the log group /otel/<service>).
 * Records below log.level cost one comparison. Levels are OTLP's severity numbers. */
typedef enum owl_level {
    OWL_LOG_TRACE = 1,
    OWL_LOG_DEBUG = 5,
    OWL_LOG_INFO = 9,
    OWL_LOG_WARN = 13,
    OWL_LOG_ERROR = 17,
    OWL_LOG_FATAL = 21
} owl_level;

/* owl_log — a record of the printf-formatted message (UTF-8; cut at 64 KiB on a character
 * boundary). Before owl_init / after owl_shutdown records are neither exported nor written to
 * stderr (log.level and log.stderr are read by owl_init; the level is info until then). */
void owl_log(owl_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A structured record: started, given attributes (as a span's, at most 128), emitted with its
 * message. owl_log_start returns NULL below log.level (the other calls accept NULL); NULL
 * too when out of memory. owl_log_emit formats the message, sends the record and frees it. */
typedef struct owl_log_record owl_log_record;

owl_log_record *owl_log_start(owl_level level);
void owl_log_set_str(owl_log_record *r, const char *key, const char *value);
void owl_log_set_int(owl_log_record *r, const char *key, int64_t value);
void owl_log_set_double(owl_log_record *r, const char *key, double value);
void owl_log_set_bool(owl_log_record *r, const char *key, int value);
void owl_log_emit(owl_log_record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- metrics (client/metrics.c) ----
 * Instruments aggregate in the process (a recording is a few atomic operations on the
 * instrument's series) and are exported every metrics.interval as OTLP metrics, cumulative
 * since the instrument was made (OTLP's default; owld turns them into CloudWatch
 * datapoints). An instrument is named (OTel's instrument name rules: a letter, then letters,
 * digits, '_', '.', '-', '/', at most 255), has a UCUM unit ("1", "ms", "By", "{request}"; NULL:
 * none) and a description (may be NULL). Asking again for a name already made returns the same
 * instrument when its kind matches, NULL when it does not. Instruments and series live until
 * the process ends; they may be made and recorded before owl_init (exported once set up).
 *   counter          owl_metric_add, v >= 0 (a negative v is ignored)   OTLP Sum, monotonic
 *   updown counter   owl_metric_add, any v                              OTLP Sum, not monotonic
 *   gauge            owl_metric_set, the last value                      OTLP Gauge
 *   histogram        owl_metric_record                                   OTLP Histogram: count,
 *                    sum, min, max and explicit buckets */
typedef struct owl_metric owl_metric;

owl_metric *owl_counter(const char *name, const char *unit, const char *description);
owl_metric *owl_updown_counter(const char *name, const char *unit, const char *description);
owl_metric *owl_gauge(const char *name, const char *unit, const char *description);

/* owl_histogram — bounds: the buckets' upper bounds, strictly increasing and finite (n 0:
 * OpenTelemetry's default 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
 * 7500, 10000); at most 64. NULL for bounds that are not. */
owl_metric *owl_histogram(const char *name, const char *unit, const char *description,
                          const double *bounds, size_t n);

/* owl_metric_series — the series of m for the attributes given as string pairs key, value,
 * ..., ending with NULL (at most 16 pairs; keys as span attributes'): a handle recorded into
 * like m, which itself is the series without attributes. The same attributes in any order
 * give the same series (a key given twice: its last value). NULL for an odd list, an empty key,
 * more than 16 pairs, NULL m, or out of memory; at most 2,000 series an instrument, m's own
 * included (OTel's cardinality limit): past it, the attributes' series is the overflow one
 * (otel.metric.overflow = true), as OTel's SDKs do. */
owl_metric *owl_metric_series(owl_metric *m, ...) __attribute__((sentinel));

/* Recordings: NaN, infinities and a kind the instrument is not are ignored (docs/client.md). */
void owl_metric_add(owl_metric *m, double v);    /* counters */
void owl_metric_set(owl_metric *m, double v);    /* gauges */
void owl_metric_record(owl_metric *m, double v); /* histograms */

#ifdef __cplusplus
}
#endif
#endif

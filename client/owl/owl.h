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

#ifdef __cplusplus
}
#endif
#endif

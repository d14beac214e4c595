/* otlp_int.h — what ingest/'s OTLP decoders share (private to ingest/): one way from a
 * request body in either OTLP encoding to the unpacked protobuf-c message, so metrics
 * (otlp.c), logs (otlp_logs.c) and traces (otlp_traces.c) read JSON and protobuf by the
 * same rules (docs/otlp.md), and one way from AnyValue to BSON. */
#ifndef OWL_INGEST_OTLP_INT_H
#define OWL_INGEST_OTLP_INT_H

#include <protobuf-c/protobuf-c.h>

#include "ingest/ingest.h"
#include "opentelemetry/proto/common/v1/common.pb-c.h"

/* Messages nest at most this deep (an AnyValue may hold arrays of arrays ...): checked on the
 * wire before protobuf-c's recursive unpack runs, so a crafted body cannot exhaust the stack. */
#define OTLP_MAX_DEPTH 32

/* Block size of the arena a request is unpacked into (owl_otlp_unpack). */
#define OTLP_UNPACK_BLOCK ((size_t)256 << 10)

/* owl_otlp_unpack — body[0..n) in encoding enc as a message of type desc: protobuf as is,
 * JSON (OTLP's mapping: camelCase or proto names, hex trace/span ids, int64 as strings or
 * numbers, enums by name or number) transcoded to the wire format through desc first. The
 * wire bytes are walked for truncation and nesting over OTLP_MAX_DEPTH before unpacking.
 * The message is allocated in mem (its strings, arrays and submessages: a request's tens of
 * thousands of small allocations become a few arena blocks), so it lives until mem is reset
 * or freed and must not be passed to protobuf_c_message_free_unpacked. OWL_OK with *out set;
 * OWL_EINVAL (err says why, *out NULL) for a body that is not such a message. */
int owl_otlp_unpack(const ProtobufCMessageDescriptor *desc, enum owl_otlp_encoding enc,
                    const void *body, size_t n, owl_arena *mem, ProtobufCMessage **out,
                    owl_error *err);

/* owl_otlp_unpack_at — the wire bytes p[0..n) of a message of type desc that sits `depth`
 * messages deep in a request (0: the request itself), checked and unpacked into mem as
 * owl_otlp_unpack does: for a decoder that walks the outer messages itself. NULL for bytes
 * owl_otlp_unpack would refuse there (or when out of memory). */
ProtobufCMessage *owl_otlp_unpack_at(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                                     size_t n, int depth, owl_arena *mem);

/* owl_otlp_request_wire — the protobuf wire bytes of a request body of message desc in
 * *p, *len: body[0..n) itself, or a JSON body's transcoding (owl_otlp_json_wire) into json,
 * which the caller frees. Never NULL (an empty body gives ""). OWL_OK; OWL_EINVAL (err says
 * why: an unknown encoding, a JSON body that is not such a message); OWL_ENOMEM. */
int owl_otlp_request_wire(const ProtobufCMessageDescriptor *desc, enum owl_otlp_encoding enc,
                          const void *body, size_t n, owl_buf *json, const uint8_t **p,
                          size_t *len, owl_error *err);

/* owl_otlp_json_wire — OTLP JSON body[0..n) as message desc, appended to wire as protobuf
 * wire bytes (what owl_otlp_unpack unpacks): the fast path first (owl_otlp_json_fast), the
 * general one when it declines. OWL_OK; OWL_EINVAL (err says why) for a body that is not
 * such a message; OWL_ENOMEM. */
int owl_otlp_json_wire(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                       owl_buf *wire, owl_error *err);

/* owl_otlp_json_general — the general path: owl_aws_json_decode's document walked through
 * desc's fields (ingest/otlp_json.c). Defines what OTLP JSON owl accepts and how it reads it.
 * OWL_OK, OWL_EINVAL with err, OWL_ENOMEM. */
int owl_otlp_json_general(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                          owl_buf *wire, owl_error *err);

/* owl_otlp_json_fast — the same reading in one pass over the text, without a document.
 * OWL_OK: wire holds bytes that unpack to the very message the general path's bytes unpack
 * to (nested lengths the shortest varints, as protobuf writers put them). OWL_EUNSUPPORTED
 * (wire back to its length at the call) for every body the general path refuses and for some
 * odd ones it accepts (escaped field names, more than 16 unknown names in one object, nesting
 * over 24): the caller then runs the general path, which gives the answer. OWL_ENOMEM.
 * Thread-safe. */
int owl_otlp_json_fast(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                       owl_buf *wire);

/* owl_otlp_json_fast_at — the object at *p (its '{'; the text ends at end) as message desc
 * sitting depth containers deep in a body (1: the body's own object), read as
 * owl_otlp_json_fast reads it there (its limits count from depth) and appended to wire; *p
 * moved past it. For a decoder that reads the outer objects of a body itself (the traces
 * direct path: a resource, a scope). OWL_OK; OWL_EUNSUPPORTED (wire back to its length, *p
 * unchanged) where owl_otlp_json_fast would decline the body; OWL_ENOMEM. Thread-safe. */
int owl_otlp_json_fast_at(const ProtobufCMessageDescriptor *desc, const char **p,
                          const char *end, int depth, owl_buf *wire);

/* owl_otlp_response — appends an Export*ServiceResponse: in JSON {} or
 * {"partialSuccess": {"<field>": "<rejected>", "errorMessage": message}} (field:
 * "rejectedLogRecords", "rejectedDataPoints", ...); in protobuf, resp packed after the caller
 * set its partial_success from rejected and message. OWL_ENOMEM. */
int owl_otlp_response(enum owl_otlp_encoding enc, const char *field, size_t rejected,
                      const char *message, const ProtobufCMessage *resp, owl_buf *out);

/* owl_otlp_utf8 — a protobuf string (NUL-terminated, maybe invalid UTF-8) as BSON text: s
 * itself when valid, else a repaired copy in *tmp (invalid bytes as U+FFFD, see
 * log_decoded.h), which the caller frees; *n its length. NULL when out of memory. */
const char *owl_otlp_utf8(const char *s, size_t *n, owl_buf *tmp);
/* owl_otlp_utf8n — the same for s[0..len) (no NUL needed; one inside is kept). */
const char *owl_otlp_utf8n(const char *s, size_t len, size_t *n, owl_buf *tmp);

/* owl_otlp_bson_scalar — appends a scalar AnyValue of case vcase (V(...) of
 * Opentelemetry__Proto__Common__V1__AnyValue__ValueCase) to doc under key (klen bytes):
 * the string s[0..slen) (UTF-8 repaired, through tmp), the bool or int64 num, the double
 * dbl; any other case: null. The scalar half of owl_otlp_bson_any, shared with the traces
 * fast path, whose strings are views into the wire. OWL_OK or OWL_ENOMEM. */
int owl_otlp_bson_scalar(bson_t *doc, const char *key, size_t klen, int vcase, const char *s,
                         size_t slen, int64_t num, double dbl, owl_buf *tmp);

/* owl_otlp_bson_any — appends AnyValue v to doc under key (klen bytes): string (UTF-8
 * repaired), bool, int64, double, binary, array, document (a kvlist); no value: null.
 * Nesting is bounded by OTLP_MAX_DEPTH (owl_otlp_unpack checked it). OWL_OK or OWL_ENOMEM. */
int owl_otlp_bson_any(bson_t *doc, const char *key, size_t klen,
                      const Opentelemetry__Proto__Common__V1__AnyValue *v);

/* owl_otlp_bson_kvs — appends each of kvs[0..n) to doc as owl_otlp_bson_any does (keys
 * UTF-8 repaired; a key given twice is appended twice, as sent). OWL_OK or OWL_ENOMEM. */
int owl_otlp_bson_kvs(bson_t *doc, Opentelemetry__Proto__Common__V1__KeyValue **kvs, size_t n);

/* Which reading a decoder with a fast path uses: the fast one, the general one when it
 * declines (AUTO, what owld does), or only one of them (tests compare them). The traces
 * decoder has two more for JSON bodies: DIRECT, its direct path alone (the text read
 * straight into records; a protobuf body: declined), which AUTO tries first; WIRE, AUTO
 * without it (the body transcoded, then the fast path and the general one). */
enum owl_otlp_path { OWL_OTLP_AUTO, OWL_OTLP_FAST, OWL_OTLP_GENERAL, OWL_OTLP_DIRECT,
                     OWL_OTLP_WIRE };

/* owl_otlp_logs_decode_path — owl_otlp_logs_decode (ingest.h) through path: OWL_OTLP_FAST
 * answers OWL_EUNSUPPORTED (nothing decoded) where AUTO would fall back. The fast path reads
 * the request's wire bytes (protobuf, or JSON's transcoding) itself: it gives exactly the
 * general path's events, refusals and messages, or declines. */
int owl_otlp_logs_decode_path(enum owl_otlp_encoding enc, const void *body, size_t n,
                              int64_t now_ms, size_t max_events, enum owl_otlp_path path,
                              owl_log_decoded *out, owl_error *err);

/* owl_otlp_traces_decode_path — owl_otlp_traces_decode (ingest.h) through path:
 * OWL_OTLP_FAST and OWL_OTLP_DIRECT answer OWL_EUNSUPPORTED (nothing decoded) where AUTO
 * would fall back. The fast path reads the request's wire bytes (protobuf, or JSON's
 * transcoding) itself; the direct path reads a JSON body's text straight into records. Each
 * gives exactly the general path's records, refusals and message, or declines. out is freed
 * and refilled as by owl_otlp_traces_decode; free it with owl_span_decoded_free. */
int owl_otlp_traces_decode_path(enum owl_otlp_encoding enc, const void *body, size_t n,
                                size_t max_spans, enum owl_otlp_path path,
                                owl_span_decoded *out, owl_error *err);

#endif

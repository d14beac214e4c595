/* ingest.h — the public API of ingest/: the protocol-neutral AWS action layer.
 *
 * A service is a static descriptor (owl_aws_service) with one row per operation
 * (owl_aws_op). A handler sees a decoded request document and fills a response document
 * (both BSON); the codecs turn every protocol the service speaks into and out of those
 * documents, and shape errors as that protocol's clients expect:
 *
 *   protocol          request                               response / error
 *   AWS query         form body or GET ?Action=, A.member.N  XML / <ErrorResponse>
 *   AWS JSON 1.0/1.1  X-Amz-Target: Prefix.Op + JSON body    JSON / {"__type","message"}
 *   RPC v2 CBOR       POST /service/S/operation/Op + CBOR    CBOR / {"__type","message"}
 *   REST-JSON         method + URI {Label}, query, JSON body JSON / {"__type"} + header
 *   owl native        like REST-JSON                         JSON / {"error":{code,message}}
 *
 * The HTTP status of every error code comes from one X-macro (OWL_AWS_ERRORS). This layer
 * knows nothing of HTTP servers: the caller passes the request's parts (owl_aws_request)
 * and gets back status, content type, headers and body (owl_aws_reply). docs/aws.md
 * describes how to add an action. */
#ifndef OWL_INGEST_H
#define OWL_INGEST_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/analytics.h"
#include "common/arena.h"
#include "common/common.h"
#include "common/traceid.h"
#include "index/index.h"
#include "tracer/tracer.h"

/* ---- error codes ----
 * X(id, wire code, HTTP status, fault). One id per (code, status) pair: where AWS services
 * answer the same code with different statuses the id carries the status as a suffix.
 * The "owl native" block holds owl's own API codes ({"error":{"code"}}). */
#define OWL_AWS_ERRORS(X)                                                               \
    /* request shape, any AWS protocol */                                               \
    X(ValidationException, "ValidationException", 400, SENDER)                          \
    X(SerializationException, "SerializationException", 400, SENDER)                    \
    X(UnknownOperationException, "UnknownOperationException", 400, SENDER)             \
    X(InvalidParameterException, "InvalidParameterException", 400, SENDER)             \
    X(InvalidRequestException, "InvalidRequestException", 400, SENDER)                 \
    X(MissingParameter, "MissingParameter", 400, SENDER)                                \
    X(InvalidParameterValue, "InvalidParameterValue", 400, SENDER)                      \
    X(InvalidParameterCombination, "InvalidParameterCombination", 400, SENDER)          \
    X(MalformedQueryString, "MalformedQueryString", 400, SENDER)                        \
    X(InvalidAction, "InvalidAction", 400, SENDER)                                      \
    X(MissingAction, "MissingAction", 400, SENDER)                                      \
    X(InvalidNextToken, "InvalidNextToken", 400, SENDER)                                \
    X(MalformedQueryException, "MalformedQueryException", 400, SENDER)               \
    X(ValidationError, "ValidationError", 400, SENDER)                                  \
    X(InvalidFormat, "InvalidFormat", 400, SENDER)                                      \
    /* resources and limits */                                                          \
    X(ResourceNotFoundException, "ResourceNotFoundException", 400, SENDER)             \
    X(ResourceNotFoundException404, "ResourceNotFoundException", 404, SENDER)          \
    X(ResourceAlreadyExistsException, "ResourceAlreadyExistsException", 400, SENDER)   \
    X(ConflictException, "ConflictException", 409, SENDER)                              \
    X(LimitExceededException, "LimitExceededException", 400, SENDER)                   \
    X(RuleLimitExceededException, "RuleLimitExceededException", 400, SENDER)           \
    X(ServiceQuotaExceededException, "ServiceQuotaExceededException", 400, SENDER)     \
    X(RequestEntityTooLargeException, "RequestEntityTooLargeException", 413, SENDER)   \
    X(RequestEntityTooLarge, "RequestEntityTooLarge", 413, SENDER)                     \
    X(UnsupportedOperationException, "UnsupportedOperationException", 400, SENDER)     \
    /* access and throttling */                                                         \
    X(AccessDeniedException, "AccessDeniedException", 400, SENDER)                     \
    X(AccessDeniedException403, "AccessDeniedException", 403, SENDER)                  \
    X(ThrottlingException, "ThrottlingException", 400, SENDER)                         \
    X(Throttling, "Throttling", 400, SENDER)                                            \
    X(ThrottledException, "ThrottledException", 429, SENDER)                           \
    /* server side */                                                                   \
    X(ServiceUnavailable, "ServiceUnavailable", 503, RECEIVER)                         \
    X(ServiceUnavailableException, "ServiceUnavailableException", 503, RECEIVER)       \
    X(InternalFailure, "InternalFailure", 500, RECEIVER)                               \
    X(InternalServiceError, "InternalServiceError", 500, RECEIVER)                     \
    /* owl native (also CloudWatch query's ResourceNotFound, AccessDenied, LimitExceeded) */ \
    X(InvalidParameter, "InvalidParameter", 400, SENDER)                                \
    X(AccessDenied, "AccessDenied", 403, SENDER)                                        \
    X(NotFound, "NotFound", 404, SENDER)                                                \
    X(ResourceNotFound, "ResourceNotFound", 404, SENDER)                                \
    X(MethodNotAllowed, "MethodNotAllowed", 405, SENDER)                                \
    X(ResourceAlreadyExists, "ResourceAlreadyExists", 409, SENDER)                      \
    X(PayloadTooLarge, "PayloadTooLarge", 413, SENDER)                                  \
    X(LimitExceeded, "LimitExceeded", 400, SENDER)                                      \
    X(UnsupportedOperation, "UnsupportedOperation", 400, SENDER)                        \
    X(InsufficientStorage, "InsufficientStorage", 507, RECEIVER)                       \
    X(InternalError, "InternalError", 500, RECEIVER)

typedef enum owl_aws_err {
#define OWL__AWS_ERR_ENUM(id, code, status, fault) OWL_AWS_ERR_##id,
    OWL_AWS_ERRORS(OWL__AWS_ERR_ENUM)
#undef OWL__AWS_ERR_ENUM
    OWL_AWS_ERR_COUNT
} owl_aws_err;

/* owl_aws_err_code — the wire code ("ValidationException"); "InternalFailure" when e is
 * out of range. */
const char *owl_aws_err_code(owl_aws_err e);

/* owl_aws_err_status — the HTTP status of e (500 when out of range). */
int owl_aws_err_status(owl_aws_err e);

/* owl_aws_err_is_sender — 1 for a client fault (query <Type>Sender</Type>), 0 for server. */
int owl_aws_err_is_sender(owl_aws_err e);

/* ---- protocols ---- */

enum owl_aws_proto {
    OWL_AWS_NATIVE,    /* owl's own REST API: {"error":{"code","message"}} */
    OWL_AWS_REST_JSON, /* REST-JSON (X-Ray): {"__type","message"} + x-amzn-ErrorType */
    OWL_AWS_JSON,      /* awsJson1_0 / awsJson1_1 (the service's json_version) */
    OWL_AWS_QUERY,     /* awsQuery: form in, XML out */
    OWL_AWS_CBOR,      /* Smithy RPC v2 CBOR */
};
#define OWL_AWS_PROTO_BIT(p) (1u << (p))

/* owl_aws_proto_name — "native", "rest-json", "json", "query", "cbor". */
const char *owl_aws_proto_name(enum owl_aws_proto p);

/* ---- services and operations ---- */

typedef struct owl_aws_ctx owl_aws_ctx;

/* A handler: reads in (the decoded request; never NULL, may be empty), appends its result
 * to out (an empty document owned by the layer). Returns OWL_OK, or a negative owl_err after
 * owl_aws_fail (a failure without owl_aws_fail answers 500 InternalFailure). */
typedef int (*owl_aws_fn)(owl_aws_ctx *ctx, const bson_t *in, bson_t *out);

typedef struct owl_aws_op {
    const char *name;   /* operation name: "GetCallerIdentity", "CreateKey" */
    const char *action; /* policy action: "sts:GetCallerIdentity" */
    owl_aws_fn fn;
    /* REST-bound services (native, REST-JSON) only: */
    const char *method;              /* "POST" (GET rows also answer HEAD) */
    const char *uri;                 /* "/TraceSegments", "/api/v1/keys/{id}": a {Label}
                                      * is one non-empty segment, bound as a string field */
    const char *const *query_params; /* NULL-terminated names bound from the query string */
    int status;                      /* success status; 0 = 200 */
    int raw_body;                    /* the body is not decoded: the handler reads
                                      * ctx->rq->body itself (in holds what the URI and the
                                      * query bind). Also for AWS JSON rows: in is empty, and
                                      * the handler may read the body its own way and fall
                                      * back on owl_aws_json_body (PutLogEvents). Ignored by
                                      * the query and CBOR codecs */
    int empty_result;                /* AWS query: an <OpResult/> element even for an empty
                                      * output (an output that is an empty structure, as
                                      * TagResource's: the AWS CLI looks for the element) */
} owl_aws_op;

typedef struct owl_aws_service {
    const char *name;          /* "sts", "logs", "owl" (docs and logs) */
    const char *signing_name;  /* SigV4 scope service: "sts", "monitoring"; NULL = any */
    unsigned protocols;        /* OWL_AWS_PROTO_BIT(...) of each protocol it speaks */
    const char *json_prefix;   /* X-Amz-Target prefix: "Logs_20140328" */
    const char *json_version;  /* "1.0" or "1.1" */
    const char *cbor_service;  /* RPC v2 CBOR service name: "GraniteServiceVersion20100801" */
    const char *query_version; /* "2011-06-15" (informational; not enforced) */
    const char *xml_ns;        /* "https://sts.amazonaws.com/doc/2011-06-15/" */
    int query_compatible;      /* awsQueryCompatible: JSON/CBOR errors also carry
                                * x-amzn-query-error: Code;Sender */
    const owl_aws_op *ops;
    size_t nops;
} owl_aws_service;

/* ---- one request ---- */

/* The parts of an HTTP request the layer reads (all borrowed for the call's duration). */
typedef struct owl_aws_request {
    const char *method;        /* "POST" */
    const char *path;          /* raw, percent-encoded, without the query */
    const char *query;         /* raw query string, "" when none */
    const char *target;        /* X-Amz-Target header, or NULL */
    const char *content_type;  /* Content-Type header, or NULL */
    const char *scope_service; /* the SigV4 credential scope's service, or NULL */
    const char *body;          /* decoded body bytes (may be NULL when body_len is 0) */
    size_t body_len;
    const char *request_id;    /* for XML ResponseMetadata / ErrorResponse */
} owl_aws_request;

/* The result of matching a request against the services. */
typedef struct owl_aws_match {
    enum owl_aws_proto proto;    /* what the request speaks (NATIVE when nothing AWS-like) */
    const owl_aws_service *svc;  /* the service named by the request, or NULL */
    const owl_aws_op *op;        /* the operation, or NULL (unknown) */
    int method_mismatch;         /* a REST row has this path with another method */
    char op_name[128];           /* what the client asked for ("Logs_20140328.Foo") */
} owl_aws_match;

/* owl_aws_match_request — finds the protocol, service and op of rq among svcs. Checks in
 * this order: X-Amz-Target (JSON), POST /service/S/operation/O (CBOR), a form POST to / or
 * GET /?Action= (query; among services with the same action the SigV4 scope decides), then
 * the REST rows (native and REST-JSON) by method and URI. Never fails: m->op is NULL when
 * nothing matched, m->proto still says how to shape the error. */
void owl_aws_match_request(const owl_aws_service *const *svcs, size_t nsvcs,
                           const owl_aws_request *rq, owl_aws_match *m);

/* What the layer answers: status, content type (static string), extra headers appended to
 * *headers as "Name: value\r\n" lines, body appended to *body (both owned by the caller). */
typedef struct owl_aws_reply {
    int status;
    const char *content_type;
    owl_buf *headers;
    owl_buf *body;
    char error_code[64]; /* the wire code when an error was answered, "" otherwise */
} owl_aws_reply;

/* owl_aws_serve — decodes rq per m->proto, runs m->op's handler with ud and encodes its
 * output or failure into *reply (reply->headers and body must point at caller buffers).
 * Every bad input (syntax, nesting over OWL_AWS_MAX_DEPTH, more than OWL_AWS_MAX_PARAMS
 * form parameters, wrong types for the binding) is answered as a 400 of the protocol's
 * shape. Returns the handler's result (OWL_OK when it succeeded), the decode error, or
 * OWL_EINVAL when m->op is NULL (nothing written then). */
int owl_aws_serve(const owl_aws_match *m, const owl_aws_request *rq, void *ud,
                  owl_aws_reply *reply);

/* owl_aws_error_reply — writes an error in the shape of proto (svc may be NULL: then a JSON
 * error's content type follows the request's, default 1.1) with an explicit status, for
 * errors found outside a handler (authentication, unknown operation). Sets reply->status,
 * content_type, error_code; appends headers and body. */
void owl_aws_error_reply(enum owl_aws_proto proto, const owl_aws_service *svc,
                         const owl_aws_request *rq, int status, const char *code,
                         const char *message, owl_aws_reply *reply);

/* owl_aws_err_from_owl — the error id for an owl_err in proto's vocabulary (NOTFOUND ->
 * ResourceNotFound (native) / ResourceNotFoundException404, INVAL -> InvalidParameter /
 * InvalidParameterValue (query) / ValidationException, ...). */
owl_aws_err owl_aws_err_from_owl(enum owl_aws_proto proto, int rc);

/* ---- inside a handler ---- */

struct owl_aws_ctx {
    const owl_aws_service *svc;
    const owl_aws_op *op;
    enum owl_aws_proto proto;
    const owl_aws_request *rq;
    void *ud;                  /* the caller's (owld passes its owl_call) */
    /* failure, set by owl_aws_fail */
    int failed;
    int status;
    char code[64];
    char message[512];
};

/* owl_aws_fail — records the error the handler answers with (the first call wins).
 * Returns the owl_err that matches e's status class (OWL_EINVAL for 4xx, OWL_EINTERNAL for
 * 5xx, OWL_ENOTFOUND for 404, OWL_EDENIED for 403), for `return owl_aws_fail(...)`. */
int owl_aws_fail(owl_aws_ctx *ctx, owl_aws_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* owl_aws_fail_owl — owl_aws_fail with the id owl_aws_err_from_owl gives for rc. Returns rc. */
int owl_aws_fail_owl(owl_aws_ctx *ctx, int rc, const char *message);

/* owl_aws_json_body — for a raw_body row called over AWS JSON: decodes ctx->rq's body into in
 * (an empty document the caller initialised and destroys) as the layer decodes the body of
 * every other AWS JSON row. When it does not decode, fails ctx with the answer the layer gives
 * then (SerializationException and the decoder's message) and returns the decoder's code;
 * OWL_EINVAL (ctx failed) when ctx->proto is not OWL_AWS_JSON. */
int owl_aws_json_body(owl_aws_ctx *ctx, bson_t *in);

/* Typed getters over a decoded document of any protocol. name is a field of doc, or a
 * dotted path ("Dimensions.0.Name"). Each returns OWL_OK (value in *out), OWL_ENOTFOUND
 * (absent or null; *out untouched), or OWL_EINVAL (present with a type or text that does
 * not convert; when ctx is given it fails with ValidationException naming the field).
 * Query-protocol documents hold strings, so the numeric, bool and time getters also accept
 * strings: int "42", double "1.5", bool "true"/"false", time RFC 3339 / ISO 8601 or epoch
 * seconds. Times: JSON epoch seconds (number, fractions allowed), CBOR tag 1, BSON date. */
int owl_aws_get_str(owl_aws_ctx *ctx, const bson_t *doc, const char *name, const char **out,
                    size_t *len);
int owl_aws_get_int(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int64_t *out);
int owl_aws_get_double(owl_aws_ctx *ctx, const bson_t *doc, const char *name, double *out);
int owl_aws_get_bool(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int *out);
int owl_aws_get_time_ms(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int64_t *out);
/* owl_aws_get_list — an array, its elements iterated by *it (query-protocol lists decode
 * to arrays too); OWL_ENOTFOUND / OWL_EINVAL as above. */
int owl_aws_get_list(owl_aws_ctx *ctx, const bson_t *doc, const char *name, bson_iter_t *it);

/* ---- codecs, exposed for tests and fuzzing ---- */

#define OWL_AWS_MAX_DEPTH 32       /* nesting of documents/arrays in any codec */
#define OWL_AWS_MAX_PARAMS 20000   /* form parameters in one query request */
#define OWL_AWS_MAX_KEY 1024       /* bytes in one field name */

/* owl_aws_json_decode — parses a JSON object (n bytes; n == 0 gives an empty document) into
 * out (initialised by the caller). Plain JSON: "$"-keys are ordinary names; integers that
 * fit become int32/int64, others double. OWL_EINVAL with a message for anything else,
 * including data after the object, a field name given twice in any object and a NUL
 * (\u0000) in any string or name. */
int owl_aws_json_decode(const char *s, size_t n, bson_t *out, owl_error *err);

/* owl_aws_json_decode_array — parses a JSON array (n bytes) into out (initialised by the
 * caller) as a BSON array document (keys "0", "1", ...), elements as owl_aws_json_decode
 * reads values. OWL_EINVAL with a message when the body is empty, not an array, or not valid
 * JSON by the same rules. */
int owl_aws_json_decode_array(const char *s, size_t n, bson_t *out, owl_error *err);

/* owl_aws_json_encode — appends doc as plain JSON (no extended JSON): strings, numbers
 * (doubles in shortest round-trip form, non-finite as null), bools, null, documents,
 * arrays; dates as epoch seconds (dates_rfc3339 = 0) or RFC 3339 strings; binary as
 * base64. OWL_OK or OWL_ENOMEM. */
int owl_aws_json_encode(const bson_t *doc, int dates_rfc3339, owl_buf *out);

/* owl_aws_json_members — appends doc's members as owl_aws_json_encode writes them, each
 * preceded by a comma and without the braces (",\"k\":v,..."), to an object being written;
 * nothing for an empty doc. OWL_OK or OWL_ENOMEM. */
int owl_aws_json_members(const bson_t *doc, owl_buf *out);

/* owl_aws_query_decode — parses an application/x-www-form-urlencoded text into out:
 * "A.B=x" nests, "A.member.N[.F]" and "A.N" are lists (ordered by N), "A.entry.N.key/value"
 * are maps; Action, Version and X-Amz-* at the top are left out. OWL_EINVAL for bad
 * escapes, a NUL (raw or %00), conflicts (A=1&A.B=2), duplicates (A=1&A=2, a map key given
 * twice), too many parameters or too deep nesting. */
int owl_aws_query_decode(const char *s, size_t n, bson_t *out, owl_error *err);

/* owl_aws_xml_encode — appends <OpResponse xmlns=NS><OpResult>doc</OpResult>
 * <ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></OpResponse> (the Result
 * element only when doc is not empty or empty_result is set); arrays as <member> elements,
 * text escaped. */
int owl_aws_xml_encode(const char *op, const char *ns, const bson_t *doc, int empty_result,
                       const char *request_id, owl_buf *out);

/* owl_aws_cbor_decode — parses one CBOR map (n == 0 gives an empty document) into out.
 * Integers to int64 (outside int64: OWL_EINVAL), floats of any width to double, tag 1 to a
 * date, byte strings to binary, indefinite-length items joined; other tags, non-text keys,
 * a map key given twice, a NUL in a text string and trailing bytes are OWL_EINVAL. */
int owl_aws_cbor_decode(const void *p, size_t n, bson_t *out, owl_error *err);

/* owl_aws_cbor_encode — appends doc as a CBOR map (dates as tag 1 with epoch seconds).
 * OWL_OK or OWL_ENOMEM. */
int owl_aws_cbor_encode(const bson_t *doc, owl_buf *out);

/* owl_aws_uri_match — matches a raw request path against a REST URI pattern; on a match
 * appends each {Label} (percent-decoded) to labels as a string (labels may be NULL).
 * 1 on a match, 0 on none, OWL_EINVAL for a bad escape in a label. One trailing slash on
 * the path is tolerated. */
int owl_aws_uri_match(const char *pattern, const char *path, bson_t *labels);

/* owl_aws_label_fn — receives one {Label} of a path owl_aws_uri_walk is matching: its name
 * (name_len bytes, not NUL-terminated) and its percent-decoded value (value_len bytes,
 * NUL-terminated, valid only during the call). Returns 1 to go on; anything else ends the
 * walk, which returns it (0 for no match, or a negative owl_err). */
typedef int (*owl_aws_label_fn)(void *ud, const char *name, size_t name_len, const char *value,
                                size_t value_len);

/* owl_aws_uri_walk — the one path matcher for URI patterns (REST rows here, server/'s raw
 * routes): path against pattern segment by segment, a {Label} matching one non-empty
 * segment, one trailing slash on the path tolerated. Each label is decoded and handed to fn
 * in order as it is reached (fn NULL: labels are not decoded, only matched). A path reaching
 * a label past max_labels does not match. 1 on a match, 0 on none, OWL_EINVAL for a bad
 * escape in a label, OWL_ENOMEM, or what fn returned; a walk that fails after fn took some
 * labels leaves them to the caller's ud to release. */
int owl_aws_uri_walk(const char *pattern, const char *path, size_t max_labels,
                     owl_aws_label_fn fn, void *ud);

/* owl_aws_percent_decode — decodes %XX (and '+' as space when plus_space) from s (n bytes)
 * into out (n+1 bytes always suffice), NUL-terminated. Returns the decoded length, or -1 for
 * a bad escape or for a NUL (raw or %00): every reader of the result takes it as a C string,
 * so a NUL would silently shorten it. */
long owl_aws_percent_decode(const char *s, size_t n, char *out, int plus_space);

/* ---- OTLP/HTTP metrics (otlp.c, docs/otlp.md) ----
 * POST /v1/metrics bodies: an ExportMetricsServiceRequest in protobuf or in OTLP's JSON
 * mapping, turned into owl_datum rows (namespace "otel/<service.name>", dimensions = the
 * point's attributes, cumulative figures turned into deltas per stream). Points that cannot
 * be stored are refused one by one and counted (OTLP's partial success); the rest go to
 * owl_metrics_put in one call. */

enum owl_otlp_encoding {
    OWL_OTLP_PROTOBUF = 1, /* application/x-protobuf */
    OWL_OTLP_JSON = 2,     /* application/json */
};

/* The cumulative-to-delta step (owl_metrics_delta's contract); tests pass their own. */
typedef int (*owl_otlp_delta_fn)(void *ud, uint64_t stream, int64_t start_ns,
                                 const double *cum, double *delta, size_t n);

/* What a request decodes to: datums d[0..n) (their strings and arrays live in the batch),
 * and the points refused with the reason for the first of them. */
typedef struct owl_otlp_batch {
    owl_datum *d;
    size_t n, cap;
    size_t rejected;
    char message[256];
    owl_arena arena;
} owl_otlp_batch;

/* owl_otlp_batch_free — frees what a decode filled; the batch is then empty. Accepts NULL. */
void owl_otlp_batch_free(owl_otlp_batch *b);

/* owl_otlp_metrics_decode — decodes body[0..n) in encoding enc into out (initialised to
 * zeros by the caller; free it with owl_otlp_batch_free on any result). Cumulative sums and
 * histograms go through delta(ud, ...); now_ms stamps points without a time. OWL_EINVAL
 * (err says why) when the body is not an ExportMetricsServiceRequest at all, OWL_ENOMEM. */
int owl_otlp_metrics_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                            int64_t now_ms, owl_otlp_delta_fn delta, void *ud,
                            owl_otlp_batch *out, owl_error *err);

/* owl_otlp_metrics_ingest — decodes body (as above, deltas from owl_metrics_delta), refuses
 * each datum owl_metrics_check refuses (counted in out->rejected), and stores the rest with
 * one owl_metrics_put (flags 0) for tenant. out holds the counts afterwards (free it).
 * OWL_EINVAL for a malformed body; owl_metrics_put's errors (OWL_EIO, OWL_ENOSPC ...). */
int owl_otlp_metrics_ingest(owl_metrics *m, const char *tenant, enum owl_otlp_encoding enc,
                            const void *body, size_t n, int64_t now_ms, owl_otlp_batch *out,
                            owl_error *err);

/* owl_otlp_metrics_response — appends the ExportMetricsServiceResponse for a request that
 * refused `rejected` points (0: no partial_success) in encoding enc. OWL_OK or OWL_ENOMEM. */
int owl_otlp_metrics_response(enum owl_otlp_encoding enc, size_t rejected,
                              const char *message, owl_buf *out);

/* owl_otlp_status — appends a google.rpc.Status {code, message} (OTLP's error body) in
 * encoding enc. OWL_OK or OWL_ENOMEM. */
int owl_otlp_status(enum owl_otlp_encoding enc, int code, const char *message, owl_buf *out);

/* ---- owl's native metrics body, read directly ---- */

/* The datums of a POST /api/v1/metrics body (ingest/metrics_json.c), pointing into the
 * arrays below. */
typedef struct owl_native_metrics {
    owl_datum *d;
    size_t n;
    double *vals;
    size_t nvals;
    owl_dim *dims; /* OWL_METRIC_MAX_DIMS + 1 per entry */
    size_t nentries;
    char *strs;    /* the strings' copies */
} owl_native_metrics;

/* owl_native_metrics_parse — reads body in one pass into datums when it has the shapes bulk
 * clients send ({"metrics": [{namespace, name, unit, resolution, dimensions, and timestamps
 * + values, or value with an optional numeric timestamp}]}, at most max_points datums;
 * entries without a time take now_ms). OWL_OK (free with owl_native_metrics_free),
 * OWL_ENOMEM, or OWL_EUNSUPPORTED for any other body: the caller reads that one the general
 * way, which gives the same datums for every body this accepts and answers the errors. */
int owl_native_metrics_parse(const char *body, size_t len, size_t max_points, int64_t now_ms,
                             owl_native_metrics *out);
void owl_native_metrics_free(owl_native_metrics *m);

/* ---- CloudWatch Logs: the log event every way in hands over (docs/api/logs.md) ----
 * PutLogEvents, OTLP/HTTP logs and raw lines all decode to arrays of this record; the logs
 * module stores them as rows of the `logs` table (index/index.h, enum owl_logs_col). The
 * views point into the caller's memory. */
typedef struct owl_log_event {
    int64_t time_ms;      /* the event's time, Unix ms */
    owl_bytes message;    /* UTF-8 */
    owl_bytes severity;   /* "INFO", "ERROR", ...; empty = none */
    uint8_t trace_id[16]; /* all zero = none */
    uint8_t span_id[8];   /* all zero = none */
    owl_bytes attrs;      /* a BSON document's bytes; empty = none */
} owl_log_event;

/* ---- CloudWatch Logs: PutLogEvents bodies read directly (putlog_json.c) ---- */

/* What a PutLogEvents body holds. group, stream and token are NUL-terminated copies in
 * scratch; a message points into the body when it holds no escape, else into scratch. */
typedef struct owl_putlog {
    const char *group;  /* logGroupName */
    const char *stream; /* logStreamName */
    const char *token;  /* sequenceToken, NULL when absent */
    owl_log_event *ev;  /* logEvents, n of them in the body's order (time_ms and message) */
    size_t n;
    char *scratch;      /* as large as the body */
} owl_putlog;

/* owl_putlog_parse — reads an AWS JSON PutLogEvents body {"logGroupName", "logStreamName",
 * "logEvents": [{"timestamp", "message"}, ...], "sequenceToken"} (fields in any order, other
 * fields skipped) in one pass, without a document. OWL_OK (out filled; free it with
 * owl_putlog_free; the body must outlive it), OWL_ENOMEM, or OWL_EUNSUPPORTED for every body
 * the general path (owl_aws_json_decode, then the walk of the document) would refuse or read
 * otherwise, and for some odd ones it would accept (a field name with more than 16 others
 * beside it in one object): the caller then runs the general path, which gives the answer.
 * Nothing to free unless OWL_OK. Thread-safe. */
int owl_putlog_parse(const char *body, size_t len, owl_putlog *out);

/* owl_putlog_free — frees what owl_putlog_parse filled and zeroes it. Accepts NULL and a
 * zeroed struct. */
void owl_putlog_free(owl_putlog *pl);

/* ---- traces: the span record every way in hands over (docs/otlp.md "OTLP/HTTP traces") ----
 * OTLP, Zipkin and X-Ray spans all decode to this record; ids map to the same bytes whatever
 * their text form (common/traceid.h). The views point into the decoder's memory. A decoded
 * span keeps these invariants: trace_id and span_id not all zero, duration_ns >= 0, service
 * and name non-empty valid UTF-8, kind and status within their enums, http_status 0 or
 * 100..599, attrs empty or one valid BSON document. */

enum owl_span_kind {
    OWL_SPAN_UNSPECIFIED = 0, /* the numbers are OTLP's SpanKind */
    OWL_SPAN_INTERNAL = 1,
    OWL_SPAN_SERVER = 2,
    OWL_SPAN_CLIENT = 3,
    OWL_SPAN_PRODUCER = 4,
    OWL_SPAN_CONSUMER = 5,
};

enum owl_span_status {
    OWL_SPAN_OK = 0,
    OWL_SPAN_ERROR = 1,    /* the caller's fault: HTTP 4xx other than 429 */
    OWL_SPAN_FAULT = 2,    /* the server's: HTTP 5xx, or a failure without a 4xx */
    OWL_SPAN_THROTTLE = 3, /* HTTP 429 */
};

typedef struct owl_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];      /* all zero = a root span */
    owl_bytes service;         /* the resource's service.name, else "unknown_service" */
    owl_bytes name;            /* the operation */
    enum owl_span_kind kind;
    int64_t start_ns;          /* Unix ns */
    int64_t duration_ns;       /* end - start, >= 0 */
    enum owl_span_status status;
    int status_code;           /* as the source gave it (OTLP: 0 unset, 1 ok, 2 error;
                                * X-Ray: its flags, error 1 + throttle 2 + fault 4) */
    owl_bytes status_message;  /* empty = none */
    owl_bytes http_method;     /* "GET"; empty = none (and so each view below) */
    owl_bytes route;           /* http.route, else the path of the request */
    owl_bytes url;             /* url.full / http.url */
    int http_status;           /* response status code, 0 = none */
    owl_bytes peer_service;    /* what the span called (docs/otlp.md "Peer service") */
    owl_bytes user_agent, client_ip;
    int in_progress;           /* 1: not ended yet (X-Ray's in_progress), duration 0 */
    owl_bytes attrs;           /* BSON {attributes, events, links, trace_state, ...}; empty =
                                * none */
    owl_bytes resource;        /* BSON {resource, scope} of the resource and scope that
                                * reported the span (OTLP): one copy shared by the spans of
                                * a scope, so it is stored once per run of them; empty = none */
} owl_span;

/* owl_span_kind_name — "unspecified", "internal", "server", "client", "producer",
 * "consumer"; "?" out of range. owl_span_status_name — "ok", "error", "fault", "throttle". */
const char *owl_span_kind_name(enum owl_span_kind k);
const char *owl_span_status_name(enum owl_span_status s);

/* owl_span_status_of — the status of a span from whether its source flagged it as failed
 * (OTLP STATUS_CODE_ERROR, Zipkin's error tag) and its HTTP status (0 = none): 429 throttle,
 * other 4xx error, 5xx fault, on any kind of span; else a failure flag is a fault (on any
 * kind: a client span failing without a response is the callee's or the network's fault,
 * as X-Ray's OpenTelemetry exporter counts it); else ok. The one rule of every decoder
 * (docs/otlp.md "Status"). */
enum owl_span_status owl_span_status_of(int failed, int http_status);

/* ---- CloudWatch Logs (logs.c, docs/api/logs.md) ----
 * Log groups and streams per tenant in the metadata store, their events as rows of the
 * `logs` table in one store partition per group incarnation ("g" + 16 hex digits: a group
 * deleted and created again starts empty). Every way in (PutLogEvents, OTLP, raw lines)
 * stores through owl_logs_put. Error messages are CloudWatch's texts, so the server passes
 * them through: OWL_ENOTFOUND = ResourceNotFoundException, OWL_EEXISTS =
 * ResourceAlreadyExistsException, OWL_EINVAL = InvalidParameterException, OWL_ERANGE =
 * LimitExceededException. All functions are thread-safe. */

typedef struct owl_logs owl_logs;

#define OWL_LOGS_NAME_MAX 512          /* group and stream names, bytes */
#define OWL_LOGS_MAX_BATCH_BYTES 1048576 /* PutLogEvents: UTF-8 message bytes + 26 per event */
#define OWL_LOGS_EVENT_OVERHEAD 26
#define OWL_LOGS_MAX_BATCH_EVENTS 10000
#define OWL_LOGS_MAX_EVENT_BYTES 1048576 /* one event (CloudWatch's current 1 MB), overhead
                                          * included, so a lone event may fill a batch */
#define OWL_LOGS_MAX_TAGS 50
#define OWL_LOGS_MAX_PAGE 10000        /* events in one GetLogEvents / FilterLogEvents page */
#define OWL_LOGS_MAX_PAGE_BYTES 1048576 /* ... and their bytes (message + 26 each) */

typedef struct owl_logs_options {
    size_t max_groups;       /* per tenant (default 100000); more: OWL_ERANGE */
    size_t max_streams;      /* per group (default 100000) */
    int flush_ms;            /* stream timestamps persisted every flush_ms (default 5000) */
    int background;          /* 1 (default): a thread persists them; 0: only
                              * owl_logs_flush and owl_logs_close do */
} owl_logs_options;

/* owl_logs_options_default — fills o with the defaults named above. */
void owl_logs_options_default(owl_logs_options *o);

/* owl_logs_open — loads every log group and stream of every tenant from meta (removing
 * stream records whose group is gone) over store (whose registry has the `logs` table);
 * both must outlive the module. opts NULL = defaults. OWL_OK, OWL_ENOMEM, meta's errors. */
int owl_logs_open(owl_meta *meta, owl_store *store, const owl_logs_options *opts,
                  owl_logs **out, owl_error *err);

/* owl_logs_flush — persists the streams' changed timestamps now (one meta write per tenant
 * with changes). */
int owl_logs_flush(owl_logs *lg, owl_error *err);

/* owl_logs_close — stops the flusher, persists what changed and frees. Accepts NULL. */
void owl_logs_close(owl_logs *lg);

/* A log group as described. */
typedef struct owl_logs_group {
    char name[OWL_LOGS_NAME_MAX + 1];
    char partition[24];     /* the store partition of this incarnation */
    int64_t created_ms;
    int retention_days;     /* 0 = never expire */
    uint64_t stored_bytes;  /* bytes of the partition's sealed parts (memtables not counted) */
    size_t metric_filters;  /* its metric filters (metricFilterCount) */
} owl_logs_group;

/* A log stream as described. Times are 0 when the stream has no events yet. */
typedef struct owl_logs_stream {
    char name[OWL_LOGS_NAME_MAX + 1];
    int64_t created_ms, first_event_ms, last_event_ms, last_ingest_ms;
    uint64_t upload_seq;    /* changes on every put (uploadSequenceToken) */
} owl_logs_stream;

/* owl_logs_group_name_ok / owl_logs_stream_name_ok — 1 when name is a valid CloudWatch log
 * group name (1-512 of [.-_/#A-Za-z0-9]) / stream name (1-512 bytes, no ':' or '*'). */
int owl_logs_group_name_ok(const char *name);
int owl_logs_stream_name_ok(const char *name);

/* owl_logs_retention_ok — 1 when days is one of CloudWatch's retention values. */
int owl_logs_retention_ok(int days);

/* owl_logs_create_group — creates the group (durable on return) with tags keys[i]=values[i]
 * (ntags <= OWL_LOGS_MAX_TAGS). OWL_EEXISTS, OWL_EINVAL (name, tags), OWL_ERANGE (max_groups),
 * meta's errors. */
int owl_logs_create_group(owl_logs *lg, const char *tenant, const char *name,
                          const char *const *keys, const char *const *values, size_t ntags,
                          owl_error *err);

/* owl_logs_delete_group — removes the group and its streams; its events are no longer
 * readable (a group created again under the name starts empty). OWL_ENOTFOUND. */
int owl_logs_delete_group(owl_logs *lg, const char *tenant, const char *name, owl_error *err);

/* owl_logs_get_group — the group called name into *out. OWL_ENOTFOUND. */
int owl_logs_get_group(owl_logs *lg, const char *tenant, const char *name, owl_logs_group *out,
                       owl_error *err);

/* owl_logs_list_groups — the groups of tenant in name order after `after` (NULL = from the
 * first) whose name starts with prefix (NULL = any) and contains pattern case-insensitively
 * (NULL = any), at most limit of them into out[] (caller's array of limit entries); *n the
 * count, *more 1 when further groups match. OWL_OK or OWL_ENOMEM. */
int owl_logs_list_groups(owl_logs *lg, const char *tenant, const char *prefix,
                         const char *pattern, const char *after, size_t limit,
                         owl_logs_group *out, size_t *n, int *more, owl_error *err);

/* owl_logs_set_retention — retentionInDays of the group (0 removes the policy); drives
 * owl_store_set_retention of its partition. OWL_ENOTFOUND, OWL_EINVAL (not a CloudWatch
 * value). */
int owl_logs_set_retention(owl_logs *lg, const char *tenant, const char *name, int days,
                           owl_error *err);

/* owl_logs_tag — adds or replaces tags; OWL_EINVAL when the group would hold more than
 * OWL_LOGS_MAX_TAGS or a key/value is malformed. owl_logs_untag — removes keys (absent ones
 * are ignored). owl_logs_tags — the tags as a document {key: value} into *out (initialised
 * by the function; bson_destroy it). All: OWL_ENOTFOUND for an unknown group. */
int owl_logs_tag(owl_logs *lg, const char *tenant, const char *name, const char *const *keys,
                 const char *const *values, size_t n, owl_error *err);
int owl_logs_untag(owl_logs *lg, const char *tenant, const char *name,
                   const char *const *keys, size_t n, owl_error *err);
int owl_logs_tags(owl_logs *lg, const char *tenant, const char *name, bson_t *out,
                  owl_error *err);

/* owl_logs_create_stream — creates the stream (durable on return). OWL_ENOTFOUND (group),
 * OWL_EEXISTS, OWL_EINVAL (name), OWL_ERANGE (max_streams). */
int owl_logs_create_stream(owl_logs *lg, const char *tenant, const char *group,
                           const char *name, owl_error *err);

/* owl_logs_delete_stream — removes the stream; its events are no longer readable, also when
 * a stream of the same name is created again. OWL_ENOTFOUND (group or stream). */
int owl_logs_delete_stream(owl_logs *lg, const char *tenant, const char *group,
                           const char *name, owl_error *err);

enum owl_logs_order {
    OWL_LOGS_BY_NAME = 0,      /* DescribeLogStreams orderBy LogStreamName */
    OWL_LOGS_BY_LAST_EVENT = 1 /* ... LastEventTime (streams without events first) */
};

/* owl_logs_list_streams — the group's streams in `order` (descending: reversed) after the
 * token `after` (NULL = from the first; a token from *next), whose name starts with prefix
 * (NULL = any; only with OWL_LOGS_BY_NAME, else OWL_EINVAL), at most limit into out[];
 * *n the count; next (OWL_LOGS_TOKEN_MAX bytes) gets the token of the next page, "" when
 * there is none. OWL_ENOTFOUND (group), OWL_EINVAL (a token not from this call). */
#define OWL_LOGS_TOKEN_MAX 600
int owl_logs_list_streams(owl_logs *lg, const char *tenant, const char *group,
                          const char *prefix, enum owl_logs_order order, int descending,
                          const char *after, size_t limit, owl_logs_stream *out, size_t *n,
                          char next[OWL_LOGS_TOKEN_MAX], owl_error *err);

enum owl_logs_put_flags {
    OWL_LOGS_CREATE = 1u,    /* create the group and stream on first use (OTLP, raw lines) */
    OWL_LOGS_ANY_BATCH = 2u, /* owl's other ways in, whose requests have limits of their own:
                              * no limit on the events, bytes or time span of the batch, and an
                              * empty or oversized event is left out (counted in dropped)
                              * instead of refusing the batch; time order is still required */
    OWL_LOGS_UTF8 = 4u,      /* the caller made every message well-formed UTF-8 already
                              * (owl_log_decoded_text did): not checked again */
};

/* What owl_logs_put refused of a batch it stored: CloudWatch's rejectedLogEventsInfo,
 * each index -1 when absent. */
typedef struct owl_logs_put_result {
    long too_new_start;  /* first index more than 2 h ahead (inclusive) */
    long too_old_end;    /* index after the last one more than 14 days back (exclusive) */
    long expired_end;    /* index after the last one older than the group's retention */
    size_t stored;       /* events stored */
    size_t dropped;      /* OWL_LOGS_ANY_BATCH: empty or oversized events left out */
    uint64_t upload_seq; /* the stream's sequence after the put (nextSequenceToken) */
} owl_logs_put_result;

/* owl_logs_put — stores ev[0..n) in (group, stream) of tenant with CloudWatch's
 * PutLogEvents rules: refused as a whole (OWL_EINVAL, nothing stored) when n is 0 or over
 * OWL_LOGS_MAX_BATCH_EVENTS, the batch over OWL_LOGS_MAX_BATCH_BYTES, an event empty or over
 * OWL_LOGS_MAX_EVENT_BYTES, the events not in chronological order, or the events kept
 * spanning more than 24 h; events more than 2 h ahead, more than 14 days back or older than
 * the group's retention are left out and reported in *res. Invalid UTF-8 in a message is
 * stored with each bad byte replaced by U+FFFD (unless flags has OWL_LOGS_UTF8). One store append; OWL_OK only once the
 * events are durable and readable. OWL_ENOTFOUND for an unknown group or stream (unless
 * flags has OWL_LOGS_CREATE), the store's errors (OWL_EIO, OWL_ENOSPC: nothing stored). */
int owl_logs_put(owl_logs *lg, const char *tenant, const char *group, const char *stream,
                 const owl_log_event *ev, size_t n, unsigned flags, owl_logs_put_result *res,
                 owl_error *err);

/* owl_logs_sink_fn — told of every batch owl_logs_put stored, once it is durable and
 * readable: ev[0..n) are the events of (group, stream) of tenant that were kept (views into
 * the putter's memory, valid during the call; messages as given, before invalid UTF-8 is
 * replaced), ingest_ms their ingestion time. Called on the putter's thread, possibly from
 * many threads at once; it must not call back into the logs module. */
typedef void (*owl_logs_sink_fn)(void *ud, const char *tenant, const char *group,
                                 const char *stream, const owl_log_event *ev, size_t n,
                                 int64_t ingest_ms);

/* owl_logs_set_sink — registers fn (NULL removes it) as the one sink of every put (the live
 * tail). Set it before puts begin and remove it after they end: it is read without a lock. */
void owl_logs_set_sink(owl_logs *lg, owl_logs_sink_fn fn, void *ud);

/* One event read back. */
typedef struct owl_logs_event {
    int64_t time_ms, ingest_ms;
    const char *group;      /* owl_logs_trace_events: the event's group, in the page;
                             * NULL for the reads of one group */
    const char *stream;     /* NUL-terminated, in the page */
    const char *message;    /* NUL-terminated, in the page */
    size_t message_len;
    const char *severity;   /* NUL-terminated, in the page; "" = none */
    uint8_t trace_id[16];   /* all zero = none */
    uint8_t span_id[8];     /* all zero = none */
    const uint8_t *attrs;   /* OTLP's attributes: a BSON document's bytes in the page */
    size_t attrs_len;       /* 0 = none */
    char event_id[48];      /* stable: time, order key and rank of the row */
} owl_logs_event;

/* A page of events, oldest first; owns its strings. */
typedef struct owl_logs_page {
    owl_logs_event *ev;
    size_t n, cap;
    int more;               /* further events match after this page in the scan's direction */
    char next[OWL_SCAN_CURSOR_TEXT + 4]; /* FilterLogEvents: the token of the next page, ""
                                          * when none */
    char forward[OWL_SCAN_CURSOR_TEXT + 4], backward[OWL_SCAN_CURSOR_TEXT + 4]; /* GetLogEvents */
    owl_buf text;
} owl_logs_page;

/* owl_logs_page_free — frees a page's memory (it may be filled again). Accepts NULL. */
void owl_logs_page_free(owl_logs_page *p);

typedef struct owl_logs_get {
    const char *group, *stream;
    int64_t start_ms, end_ms;  /* [start, end); INT64_MIN / INT64_MAX = open */
    int start_from_head;
    const char *token;         /* nextForwardToken / nextBackwardToken of an earlier page */
    size_t limit;              /* 1..OWL_LOGS_MAX_PAGE */
} owl_logs_get;

/* owl_logs_get_events — GetLogEvents: the stream's events, the first `limit` from the head
 * (start_from_head, or a forward token) or the last `limit` before the tail (default, or a
 * backward token), within OWL_LOGS_MAX_PAGE_BYTES; out->forward and out->backward are the
 * tokens of the neighbouring pages, the token passed in when no event was found. Tokens stay
 * valid while events arrive. OWL_ENOTFOUND (group, stream), OWL_EINVAL (token). */
int owl_logs_get_events(owl_logs *lg, const char *tenant, const owl_logs_get *q,
                        owl_logs_page *out, owl_error *err);

typedef struct owl_logs_filter {
    const char *group;
    const char *const *streams; /* logStreamNames (at most 100), or NULL */
    size_t nstreams;
    const char *prefix;         /* logStreamNamePrefix, or NULL */
    int64_t start_ms, end_ms;   /* [start, end] as FilterLogEvents (end inclusive) */
    const char *token;          /* nextToken of an earlier page, or NULL */
    size_t limit;               /* 1..OWL_LOGS_MAX_PAGE */
    const char *pattern;        /* filterPattern (docs/filter-patterns.md); NULL or "" = all */
    const uint8_t *trace_id;    /* 16 bytes: only the events of this trace (all zero: those
                                 * without one); NULL = any */
} owl_logs_filter;

/* owl_logs_filter_events — FilterLogEvents: the events of the chosen streams (all of the
 * group by default) whose message matches the pattern (and whose trace id is q->trace_id
 * when set), interleaved by time, oldest first (blocks pruned by the pattern's necessary
 * condition, owl_fpat_filter, and by the trace_id column's bloom filter); out->next the token
 * of the next page ("" at the end). OWL_ENOTFOUND (group), OWL_EINVAL (token, both streams
 * and prefix, a pattern that does not compile: err says where). */
int owl_logs_filter_events(owl_logs *lg, const char *tenant, const owl_logs_filter *q,
                           owl_logs_page *out, owl_error *err);

/* A trace's log lines across every log group of a tenant (owl_logs_trace_events). */
typedef struct owl_logs_trace_q {
    uint8_t trace_id[16];
    int64_t start_ms, end_ms;   /* [start, end); INT64_MIN / INT64_MAX = open */
    const char *token;          /* out->next of an earlier page of the same query, or NULL */
    size_t limit;               /* 1..OWL_LOGS_MAX_PAGE */
} owl_logs_trace_q;

/* owl_logs_trace_events — the events of tenant whose trace id is q->trace_id, from every
 * group (streams as they are now, as every read), oldest first, each with its group
 * (e->group) and stream: one ordered scan of the tenant's logs partitions over the days of
 * the range, blocks pruned by the trace_id column's bloom filter. At most limit events and
 * OWL_LOGS_MAX_PAGE_BYTES; out->next the token of the next page ("" at the end). A tenant
 * without groups, or a trace without events: an empty page. OWL_EINVAL (token, an all-zero
 * id), OWL_ENOMEM, the store's errors. */
int owl_logs_trace_events(owl_logs *lg, const char *tenant, const owl_logs_trace_q *q,
                          owl_logs_page *out, owl_error *err);

/* One event handed to an owl_logs_scan callback: views valid only during the call. message
 * is empty when the scan did not ask for it. */
typedef struct owl_logs_row {
    int64_t time_ms, ingest_ms;
    owl_bytes stream, message;
} owl_logs_row;

/* Called with a batch of rows; a non-zero return stops the scan and is returned. */
typedef int (*owl_logs_scan_fn)(void *ud, const owl_logs_row *rows, size_t n);

/* What one owl_logs_scan read. */
typedef struct owl_logs_scan_q {
    const char *group;
    int64_t start_ms, end_ms;   /* [start, end) */
    const owl_filter *filter;   /* a condition every row must meet, on the logs table's
                                 * columns (owl_logs_col), or NULL; it prunes blocks */
    int with_message;           /* 0: rows come without their message (not read at all) */
    int order;                  /* 0: batches in no order (the fastest); -1: newest first,
                                 * 1: oldest first (rows of equal time in no set order) */
    owl_logs_scan_fn fn;
    void *ud;
} owl_logs_scan_q;

/* owl_logs_scan — every event of q->group (its streams as they are now: events of a deleted
 * stream are not returned, even when one of the same name was created again) in the time
 * range that meets q->filter, in batches, in q->order, without holding the logs
 * module's lock. st (may be NULL) gets the store's counts (rows scanned, bytes read).
 * OWL_ENOTFOUND (group), OWL_ENOMEM, the store's errors, or fn's non-zero return. */
int owl_logs_scan(owl_logs *lg, const char *tenant, const owl_logs_scan_q *q,
                  owl_scan_stats *st, owl_error *err);

/* ---- CloudWatch Logs Insights queries (insights.c; docs/insights.md) ----
 * StartQuery puts a parsed query (index/'s owl_ins_*) in a queue that a bounded pool of
 * threads runs: each scans the query's log groups (owl_logs_scan, pruned by the query's
 * necessary condition) and feeds the events to the run. A tenant has at most `per_tenant`
 * queries scheduled or running; a running query past `timeout_ms` stops as Timeout, one whose
 * state passes `max_bytes` fails. Queries and results live in memory (not across restarts):
 * the newest `keep` finished queries of each tenant. All functions are thread-safe. */

typedef struct owl_insights owl_insights;

#define OWL_INSIGHTS_ID_LEN 37    /* a UUID and its NUL */
#define OWL_INSIGHTS_MAX_GROUPS 50 /* log groups one query reads (CloudWatch's limit) */

typedef struct owl_insights_options {
    size_t workers;     /* threads running queries (default 2) */
    size_t per_tenant;  /* queries a tenant may have scheduled or running (default 30) */
    int64_t timeout_ms; /* a query's running time at most (default 60 minutes, as CloudWatch) */
    size_t max_bytes;   /* the state one query may hold (default 256 MiB) */
    size_t keep;        /* finished queries kept per tenant (default 100) */
} owl_insights_options;

enum owl_insights_status {
    OWL_INS_SCHEDULED = 0,
    OWL_INS_RUNNING = 1,
    OWL_INS_COMPLETE = 2,
    OWL_INS_FAILED = 3,
    OWL_INS_CANCELLED = 4,
    OWL_INS_TIMEOUT = 5,
};

/* owl_insights_status_name — CloudWatch's name ("Complete", ...). */
const char *owl_insights_status_name(enum owl_insights_status s);

/* owl_insights_status_parse — the status of a name; OWL_EINVAL for another name. */
int owl_insights_status_parse(const char *name, enum owl_insights_status *out);

/* owl_insights_options_default — the defaults above. */
void owl_insights_options_default(owl_insights_options *o);

/* owl_insights_open — starts the query threads over logs and meta (both must outlive it);
 * opts NULL or its zero fields mean the defaults. */
int owl_insights_open(owl_logs *logs, owl_meta *meta, const owl_insights_options *opts,
                      owl_insights **out, owl_error *err);

/* owl_insights_shutdown — the first step of closing: cancels every query, wakes whoever waits
 * in owl_insights_get, and refuses later starts (OWL_ECLOSED). The threads end after the
 * batch they are in. Accepts NULL. */
void owl_insights_shutdown(owl_insights *in);

/* owl_insights_close — owl_insights_shutdown, then joins the threads and frees. Accepts
 * NULL. */
void owl_insights_close(owl_insights *in);

typedef struct owl_insights_start {
    const char *const *groups; /* log group names, 1..OWL_INSIGHTS_MAX_GROUPS */
    size_t ngroups;
    int64_t start_ms, end_ms;  /* event times [start, end) */
    const char *query;
    size_t limit;              /* rows at most (1..10,000); 0 = the query's own or 10,000 */
} owl_insights_query;

/* owl_insights_start — StartQuery: checks and parses the query, queues it and writes its id.
 * OWL_EINVAL (a malformed query: err names the line and column; bad arguments),
 * OWL_ENOTFOUND (a group), OWL_ERANGE (the tenant's concurrency limit), OWL_ECLOSED (after
 * owl_insights_shutdown), OWL_ENOMEM. */
int owl_insights_start(owl_insights *in, const char *tenant, const owl_insights_query *s,
                       char id[OWL_INSIGHTS_ID_LEN], owl_error *err);

/* A query as it is now. Pointers stay valid until owl_insights_view_release. */
typedef struct owl_insights_view {
    const char *id, *query;
    const char *const *groups;
    size_t ngroups;
    enum owl_insights_status status;
    int64_t create_ms;
    const char *error;         /* why it failed or timed out, else "" */
    owl_ins_stats stats;       /* so far while running */
    const owl_ins_result *res; /* the rows once Complete, else NULL */
    void *ref_;
} owl_insights_view;

/* owl_insights_get — GetQueryResults: a view of query id of tenant, after waiting up to
 * wait_ms (0: not at all) for it to finish. OWL_ENOTFOUND. */
int owl_insights_get(owl_insights *in, const char *tenant, const char *id, int64_t wait_ms,
                     owl_insights_view *v, owl_error *err);

/* owl_insights_view_release — lets go of a view. Accepts NULL and a released view. */
void owl_insights_view_release(owl_insights *in, owl_insights_view *v);

/* owl_insights_stop — StopQuery: cancels a scheduled or running query (*stopped = 1); a
 * finished one is left alone (*stopped = 0). OWL_ENOTFOUND. */
int owl_insights_stop(owl_insights *in, const char *tenant, const char *id, int *stopped,
                      owl_error *err);

/* owl_insights_list — DescribeQueries: calls fn with each query of tenant, newest first,
 * that reads group (NULL: any) and has status (-1: any) until fn returns non-zero (which is
 * returned). The view is valid during the call only. */
int owl_insights_list(owl_insights *in, const char *tenant, const char *group, int status,
                      int (*fn)(void *ud, const owl_insights_view *v), void *ud);

/* One event found by its @ptr. text holds the stream name, a NUL, then the message. */
typedef struct owl_insights_record {
    char group[OWL_LOGS_NAME_MAX + 1];
    int64_t time_ms, ingest_ms;
    size_t stream_len, message_len;
    owl_buf text;
} owl_insights_record;

/* owl_insights_record_get — GetLogRecord: the event a result row's @ptr names. OWL_EINVAL (not
 * a pointer owl made), OWL_ENOTFOUND (gone: retention, a deleted group or stream). Free
 * out with owl_insights_record_free (also after a failure). */
int owl_insights_record_get(owl_insights *in, const char *tenant, const char *ptr,
                            owl_insights_record *out, owl_error *err);
void owl_insights_record_free(owl_insights_record *r);

/* A saved query (PutQueryDefinition). */
typedef struct owl_insights_def {
    const char *id;   /* queryDefinitionId to replace, or NULL for a new one */
    const char *name; /* 1..255 */
    const char *query;
    const char *const *groups;
    size_t ngroups;
} owl_insights_def;

/* owl_insights_def_put — stores d durably, writing its id (d->id, or a new one).
 * OWL_EINVAL, OWL_ENOTFOUND (d->id unknown), the metadata store's errors. */
int owl_insights_def_put(owl_insights *in, const char *tenant, const owl_insights_def *d,
                         char id[OWL_INSIGHTS_ID_LEN], owl_error *err);

/* owl_insights_def_delete — DeleteQueryDefinition. OWL_ENOTFOUND. */
int owl_insights_def_delete(owl_insights *in, const char *tenant, const char *id,
                            owl_error *err);

/* owl_insights_def_list — DescribeQueryDefinitions: fn gets each definition (id, and the
 * document {name, queryString, logGroupNames, lastModified}) whose name starts with prefix
 * (NULL: all), in id order after `after` (NULL: from the first), at most limit; next gets the
 * token of the next page ("" at the end). fn's non-zero return stops and is returned. */
int owl_insights_def_list(owl_insights *in, const char *tenant, const char *prefix,
                          const char *after, size_t limit,
                          int (*fn)(void *ud, const char *id, const bson_t *doc), void *ud,
                          char next[OWL_INSIGHTS_ID_LEN], owl_error *err);

/* ---- CloudWatch Logs metric filters (logs.c, mfilter.c; docs/api/logs.md "Metric filters") ----
 * A metric filter of a log group turns the events it matches into datapoints of one metric:
 * every event owl_logs_put stores is matched against the group's filters after the append,
 * the values are aggregated per (filter, dimension values, minute) and written with one
 * owl_metrics_put per call (statistic sets stamped with the minute). Definitions are records
 * of kind "log-metric-filter"; the compiled filters of a group are cached in memory. */

#define OWL_LOGS_MAX_METRIC_FILTERS 100 /* per group, CloudWatch's limit */
#define OWL_LOGS_MF_MAX_DIMS 3
#define OWL_LOGS_MF_NAME_MAX 512        /* filterName */
#define OWL_LOGS_MF_VALUE_MAX 100       /* metricValue */
#define OWL_LOGS_MF_TEST_MAX 50         /* TestMetricFilter's logEventMessages */

/* A metric filter's definition (PutMetricFilter's fields, one metricTransformation). The
 * strings are the caller's; created_ms is set by owl_logs_list_mfilters. */
typedef struct owl_logs_mfilter {
    const char *name, *pattern;
    const char *metric_name, *metric_ns;
    const char *metric_value;  /* "1", a number, "$.field" (JSON) or "$name" (delimited) */
    const char *unit;          /* a CloudWatch unit name, NULL = "None" */
    int has_default;
    double default_value;      /* with has_default: the datapoint of a minute without matches */
    size_t ndims;
    const char *dim_names[OWL_LOGS_MF_MAX_DIMS], *dim_refs[OWL_LOGS_MF_MAX_DIMS];
    int64_t created_ms;
} owl_logs_mfilter;

/* owl_logs_mfilter_check — PutMetricFilter's rules on f: filterName 1-512 bytes without ':'
 * or '*'; the pattern compiles (the message names the position); metric name and namespace
 * 1-255 bytes without ':', '*' or '$'; metricValue 1-100 bytes, a finite number or a field
 * reference the pattern has (owl_fpat_check_ref); at most 3 dimensions, names 1-255 bytes
 * and distinct, values field references; dimensions and a default value not both; a finite
 * default; a CloudWatch unit. OWL_OK or OWL_EINVAL with CloudWatch's message. */
int owl_logs_mfilter_check(const owl_logs_mfilter *f, owl_error *err);

/* owl_logs_set_metrics — the metrics module metric filters write to (NULL: filters are kept
 * and tested but write nothing). Call before the first put; m must outlive lg. */
void owl_logs_set_metrics(owl_logs *lg, owl_metrics *m);

/* owl_logs_put_mfilter — creates or replaces (same name) the filter of group, durably, and
 * reloads the group's compiled filters. OWL_ENOTFOUND (group), OWL_EINVAL (check), OWL_ERANGE
 * (a new filter past OWL_LOGS_MAX_METRIC_FILTERS), meta's errors. */
int owl_logs_put_mfilter(owl_logs *lg, const char *tenant, const char *group,
                         const owl_logs_mfilter *f, owl_error *err);

/* owl_logs_delete_mfilter — removes the filter. OWL_ENOTFOUND (group or filter). */
int owl_logs_delete_mfilter(owl_logs *lg, const char *tenant, const char *group,
                            const char *name, owl_error *err);

/* owl_logs_mfilter_count — the number of filters of group (0 when unknown). */
size_t owl_logs_mfilter_count(owl_logs *lg, const char *tenant, const char *group);

/* Called by owl_logs_list_mfilters for each filter; f's strings are valid during the call.
 * Non-zero stops the listing. */
typedef int (*owl_logs_mfilter_fn)(void *ud, const char *group, const owl_logs_mfilter *f);

/* owl_logs_list_mfilters — DescribeMetricFilters: filters of group (NULL: every group of the
 * tenant) in (group, filter name) order after the token `after` (NULL = from the first; a
 * token from next) whose name starts with prefix (NULL = any) and, when metric_name is given,
 * whose metric is (metric_ns, metric_name); at most limit of them to fn; next
 * (OWL_LOGS_TOKEN_MAX bytes) gets the token of the next page, "" when none. OWL_ENOTFOUND
 * (group), OWL_EINVAL (token). */
int owl_logs_list_mfilters(owl_logs *lg, const char *tenant, const char *group,
                           const char *prefix, const char *metric_name, const char *metric_ns,
                           const char *after, size_t limit, owl_logs_mfilter_fn fn, void *ud,
                           char next[OWL_LOGS_TOKEN_MAX], owl_error *err);

/* A match of TestMetricFilter: the 1-based index of the message and what was extracted
 * ($name of every named field of a space-delimited pattern, in pattern order; none for
 * other kinds). Views valid during the call. */
typedef struct owl_logs_mf_match {
    size_t event_number;
    owl_bytes message;
    size_t nvalues;
    const char *keys[64];  /* "$name" */
    owl_bytes values[64];
} owl_logs_mf_match;

/* owl_logs_test_mfilter — TestMetricFilter: compiles pattern and calls fn for every message
 * of msgs[0..n) it matches (n 1..OWL_LOGS_MF_TEST_MAX, each non-empty). OWL_EINVAL (pattern,
 * n, an empty message), OWL_ENOMEM; fn's non-zero return stops. */
int owl_logs_test_mfilter(const char *pattern, const owl_bytes *msgs, size_t n,
                          int (*fn)(void *ud, const owl_logs_mf_match *m), void *ud,
                          owl_error *err);

/* What owl_logs_backfill did. */
typedef struct owl_logs_backfill_result {
    uint64_t scanned, skipped, matched, datapoints; /* skipped: counted at ingest */
} owl_logs_backfill_result;

/* owl_logs_backfill — runs filter `name` of group over the readable events of [start_ms,
 * end_ms) already stored and writes the datapoints (as at ingest, defaultValue included) with
 * one owl_metrics_put; events over 14 days old give none (CloudWatch's metric limit). Events
 * ingested since the filter was (last) put were counted at ingest and are skipped; a second
 * backfill of the same range counts its events again. OWL_ENOTFOUND (group, filter),
 * OWL_EINVAL (range), OWL_EUNSUPPORTED (no metrics module), the store's and metrics' errors. */
int owl_logs_backfill(owl_logs *lg, const char *tenant, const char *group, const char *name,
                      int64_t start_ms, int64_t end_ms, owl_logs_backfill_result *res,
                      owl_error *err);

/* owl_logs_evidence — an owl_evidence_fn (ud: the owl_logs) for alarms on a metric written by
 * a metric filter: {"provider":"logs","logGroupName","filterName","lines":[{"timestamp",
 * "logStreamName","message"}]}, at most 10 events of the filter's group matched by its pattern
 * (and, with dimensions, having the alarm's dimension values) in [start_ms, end_ms). Any other
 * metric: OWL_ENOTFOUND (no evidence). */
int owl_logs_evidence(void *ud, const char *tenant, const owl_metric_id *id, int64_t start_ms,
                      int64_t end_ms, enum owl_alarm_state new_state, owl_buf *out);

/* ---- decoding log requests: OTLP/HTTP logs and raw lines (docs/otlp.md, docs/api/logs-ingest.md)
 * Each way in decodes one request body into owl_log_event arrays, one per (log group, log
 * stream), without storing anything. Every string, event array and attrs document lives in
 * the result's arena; the body may be freed once the decode returns. Events that cannot be
 * stored are refused one by one (counted, the first reason kept); a body that cannot be read
 * at all is refused whole with an error code. */

/* The largest message an event may carry: CloudWatch's 1 MiB event size less the 26 bytes
 * it counts per event. A longer event is refused (counted), never cut. */
#define OWL_LOG_MESSAGE_MAX (1048576 - 26)

/* The events of one (group, stream), in time order (stable: equal times keep the order of
 * the request). */
typedef struct owl_log_batch {
    const char *group;  /* a valid CloudWatch log group name (1-512 of [A-Za-z0-9_./#-]) */
    const char *stream; /* a valid log stream name (1-512 bytes, no ':' or '*') */
    owl_log_event *ev;
    size_t n;
} owl_log_batch;

struct owl_log_staged;

/* What one request decodes to. Zero it before the first decode; free it with
 * owl_log_decoded_free whatever the decode returned. */
typedef struct owl_log_decoded {
    owl_log_batch *b;       /* nb batches, in the order their first event came */
    size_t nb;
    size_t events;          /* events in all batches */
    size_t rejected;        /* events refused one by one */
    char message[256];      /* why the first of them was refused ("" when none) */
    owl_arena arena;        /* everything above points into it */
    struct owl_log_staged *st; /* internal: the decode in progress (NULL after it) */
} owl_log_decoded;

/* owl_log_decoded_free — frees what a decode filled; d is then zeroed and reusable. Accepts
 * NULL and a d whose decode failed half way. */
void owl_log_decoded_free(owl_log_decoded *d);

/* owl_otlp_logs_decode — decodes an ExportLogsServiceRequest (body[0..n) in encoding enc)
 * into out (zeroed by the caller), mapped as docs/otlp.md's logs section says: group from
 * the resource's aws.log.group.names or "/otel/<service.name>", stream from
 * service.instance.id or host.name (else "default"), time, message from the body, severity,
 * trace and span ids, attrs a BSON document {attributes, resource, scope, event_name}.
 * Records with a trace_id other than 16 bytes or a span_id other than 8, a message over
 * OWL_LOG_MESSAGE_MAX or an invalid explicit group name are refused (out->rejected,
 * out->message names the first: "resource R scope S record N: why"); now_ms stamps records
 * with neither time. Returns OWL_OK (even when every record was refused), OWL_EINVAL when
 * the body is not an ExportLogsServiceRequest, OWL_ETOOBIG when it holds more than
 * max_events records (nothing decoded then), OWL_ENOMEM; err says why. */
int owl_otlp_logs_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                         int64_t now_ms, size_t max_events, owl_log_decoded *out,
                         owl_error *err);

/* owl_otlp_logs_response — appends the ExportLogsServiceResponse for a request that
 * refused `rejected` records (0: no partial_success) in encoding enc, message (may be NULL)
 * as its error_message. OWL_OK or OWL_ENOMEM. */
int owl_otlp_logs_response(enum owl_otlp_encoding enc, size_t rejected, const char *message,
                           owl_buf *out);

/* owl_rawlog_decode_text — a text/plain body (n bytes) into out (zeroed by the caller), one
 * event per line of group/stream: lines end at LF or CRLF, a last line without one counts,
 * empty lines are skipped. A timestamp at the start of a line (common/logtime.h's formats)
 * is the event's time, else now_ms; the message is the whole line as sent, invalid UTF-8
 * bytes replaced by U+FFFD. A line longer than OWL_LOG_MESSAGE_MAX is refused ("line N: why"
 * in out->message). OWL_OK; OWL_EINVAL for an invalid group or stream name; OWL_ETOOBIG
 * for more than max_events non-empty lines (nothing decoded); OWL_ENOMEM. */
int owl_rawlog_decode_text(const char *body, size_t n, const char *group, const char *stream,
                           int64_t now_ms, size_t max_events, owl_log_decoded *out,
                           owl_error *err);

/* owl_rawlog_decode_ndjson — an application/x-ndjson body into out, one JSON object per
 * non-empty line: "message" (a string, required), "timestamp" (epoch ms as a number or an
 * RFC 3339 / epoch-ms string; absent or null: now_ms), every other member kept in the
 * event's attrs document. A line that is not such an object is refused with its number
 * ("line N: why" in out->message); the others are kept. Returns as owl_rawlog_decode_text. */
int owl_rawlog_decode_ndjson(const char *body, size_t n, const char *group, const char *stream,
                             int64_t now_ms, size_t max_events, owl_log_decoded *out,
                             owl_error *err);

/* ---- decoding span requests: OTLP/HTTP traces (otlp_traces.c, docs/otlp.md) ----
 * A request body decodes into an array of owl_span without storing anything; every string,
 * array and attrs document lives in the result's arena, so the body may be freed once the
 * decode returns. A span that breaks a rule is refused alone (counted, the first reason
 * kept) and the others are kept; a body that cannot be read at all is refused whole. */

/* What one request decodes to. Zero it before the first decode; free it with
 * owl_span_decoded_free whatever the decode returned. */
typedef struct owl_span_decoded {
    owl_span *spans;        /* n spans, in request order */
    size_t n;
    size_t rejected;        /* spans refused one by one */
    char message[256];      /* why the first of them was refused ("" when none) */
    owl_arena arena;        /* everything above points into it... */
    size_t spans_cap;       /* ...but spans when this is set: an array of this many bytes
                               kept for the next request by owl_span_decoded_free */
} owl_span_decoded;

/* owl_span_decoded_free — frees what a decode filled; d is then zeroed and reusable.
 * Accepts NULL and a d whose decode failed half way. */
void owl_span_decoded_free(owl_span_decoded *d);

/* owl_otlp_traces_decode — decodes an ExportTraceServiceRequest (body[0..n) in encoding enc;
 * a gzip body is inflated by the HTTP layer before this) into out (zeroed by the caller),
 * mapped as docs/otlp.md's traces section says. A span with a trace_id other than 16
 * non-zero bytes, a span_id other than 8 non-zero bytes, a parent_span_id neither empty nor
 * 8 bytes, no name, an unknown kind or status code, no start or end time, a time past
 * 2262 or an end before its start is refused (out->rejected; out->message names the first:
 * "resource R scope S span N: why"). Returns OWL_OK (even when every span was refused),
 * OWL_EINVAL when the body is not an ExportTraceServiceRequest (truncated protobuf, JSON
 * that is not one: a wrong type, an id that is not hex), OWL_ETOOBIG when it holds more
 * than max_spans spans (nothing decoded then), OWL_ENOMEM; err says why. */
int owl_otlp_traces_decode(enum owl_otlp_encoding enc, const void *body, size_t n,
                           size_t max_spans, owl_span_decoded *out, owl_error *err);

/* ---- decoding span requests: Zipkin (zipkin.c, docs/api/traces-ingest.md) ---- */

/* owl_zipkin_decode — decodes the body of Zipkin's POST /api/v2/spans, a JSON array of v2
 * spans (body[0..n)), into out (zeroed by the caller), mapped as docs/api/traces-ingest.md
 * says. now_ns (Unix ns, the time of receipt) is the start of a span that has neither a
 * timestamp nor an annotation. An element that is not an object, has no traceId or id, an
 * id that is not 1..32 (traceId) or 1..16 (id, parentId) hex digits or is all zero, an
 * unknown kind, a negative timestamp or duration, an end past 2262, a field of the wrong
 * type, a tag that is null, an object or an array, or an annotation without an integer
 * timestamp and a string value is refused alone (out->rejected; out->message names the
 * first: "span N: why"). Returns OWL_OK (even when every span was refused), OWL_EINVAL when
 * the body is not a JSON array (or not valid JSON), OWL_ETOOBIG when it holds more than
 * max_spans elements (nothing decoded then), OWL_ENOMEM; err says why. Zipkin v1 bodies are
 * not read. Thread-safe. */
int owl_zipkin_decode(const void *body, size_t n, int64_t now_ns, size_t max_spans,
                      owl_span_decoded *out, owl_error *err);

/* owl_zipkin_v1_decode — the same for the body of Zipkin's POST /api/v1/spans, a JSON array
 * of v1 spans: each is converted to one or two v2 spans by Zipkin's own rules (core
 * annotations cs/cr/sr/ss/ms/mr give the kind and local endpoint, a span with both cs and sr
 * becomes a client span and a shared server span; ca/sa/ma the remote endpoint; other
 * binary annotations become tags; docs/api/traces-ingest.md "Zipkin v1"), then read as v2.
 * Refused spans are counted by the v1 span (message "span N: why"). */
int owl_zipkin_v1_decode(const void *body, size_t n, int64_t now_ns, size_t max_spans,
                         owl_span_decoded *out, owl_error *err);

/* owl_otlp_traces_response — appends the ExportTraceServiceResponse for a request that
 * refused `rejected` spans (0: no partial_success) in encoding enc, message (may be NULL)
 * as its error_message. OWL_OK or OWL_ENOMEM. */
int owl_otlp_traces_response(enum owl_otlp_encoding enc, size_t rejected, const char *message,
                             owl_buf *out);

/* ---- decoding span requests: X-Ray segment documents (xray.c, docs/api/xray-ingest.md) ----
 * A segment document (a segment, an independent subsegment, or an array of them) becomes one
 * record per segment and per nested subsegment: segments are server spans of service = name,
 * subsegments of namespace "aws" / "remote" client spans whose peer service is their name,
 * other subsegments internal spans of their segment's service. A document is kept whole or
 * refused whole, with an entry in X-Ray's UnprocessedTraceSegments shape. An in-progress
 * record (in_progress = 1, duration 0) is replaced by a completed record of the same trace
 * and span id whenever the store holds both (the completed one wins, whatever their order). */

#define OWL_XRAY_MAX_DOC 65536 /* bytes in one segment document (X-Ray's 64 kB) */

/* One refused document, as PutTraceSegments answers it. */
typedef struct owl_xray_unprocessed {
    owl_bytes id;           /* the document's "id" when it is a string, else empty */
    const char *error_code; /* static text: "MissingId", "InvalidTraceId", ... (the doc's table) */
    owl_bytes message;      /* why, naming the subsegment ("subsegments[1].subsegments[0]: ...") */
} owl_xray_unprocessed;

/* What one request decodes to. Zero it before the first decode; free it with
 * owl_xray_decoded_free whatever the decode returned. */
typedef struct owl_xray_decoded {
    owl_span_decoded spans;            /* the records of the kept documents, in request and
                                        * document order (a parent before its subsegments);
                                        * spans.rejected counts refused documents and
                                        * spans.message names the first: "document N: why" */
    owl_xray_unprocessed *unprocessed; /* spans.rejected entries in request order, in
                                        * spans.arena */
} owl_xray_decoded;

/* owl_xray_decoded_free — frees what a decode filled; d is then zeroed and reusable. Accepts
 * NULL and a d whose decode failed half way. */
void owl_xray_decoded_free(owl_xray_decoded *d);

/* owl_xray_decode_docs — decodes a PutTraceSegments body {"TraceSegmentDocuments": ["<JSON
 * segment document>", ...]} (other members ignored) into out (zeroed by the caller). Each
 * document is refused alone (out->spans.rejected, out->unprocessed) and the others kept.
 * Returns OWL_OK (even when every document was refused), OWL_EINVAL when the body is not
 * such an object (malformed JSON, TraceSegmentDocuments absent, not an array or holding a
 * non-string), OWL_ETOOBIG when the readable documents hold more than max_spans segments and
 * subsegments (nothing decoded then), OWL_ENOMEM; err says why. Nothing is stored. The body
 * may be freed once it returns. Thread-safe (no shared state). */
int owl_xray_decode_docs(const char *body, size_t n, size_t max_spans, owl_xray_decoded *out,
                         owl_error *err);

/* owl_xray_decode_datagram — decodes one X-Ray daemon UDP datagram p[0..n): the header line
 * {"format":"json","version":1} (any JSON spacing; no other member), '\n', then one segment
 * document, refused or kept as by owl_xray_decode_docs (at most one unprocessed entry).
 * OWL_EINVAL (nothing decoded) for a datagram without that header; OWL_ETOOBIG, OWL_ENOMEM
 * as above. */
int owl_xray_decode_datagram(const void *p, size_t n, size_t max_spans, owl_xray_decoded *out,
                             owl_error *err);

/* owl_xray_unprocessed_json — appends PutTraceSegments' answer for d:
 * {"UnprocessedTraceSegments":[{"Id":"...","ErrorCode":"...","Message":"..."}, ...]}
 * (an empty list when nothing was refused; "Id" left out when the document had none).
 * OWL_OK or OWL_ENOMEM. */
int owl_xray_unprocessed_json(const owl_xray_decoded *d, owl_buf *out);

/* ---- traces: the spans table, trace lookup and search (traces.c, docs/api/traces.md) ----
 * Spans of every way in (OTLP, Zipkin, X-Ray HTTP and UDP) are stored by owl_traces_put as
 * rows of the `spans` table, one store partition per tenant ("traces"), clustered by a
 * 64-bit key of the trace id so a trace is found without a time range: each part's blocks
 * hold a narrow range of keys and all but one or two are pruned by their min/max. The same
 * put updates per-minute RED statistics of entry spans (namespace owl/Traces, through the
 * metrics module) and keeps exemplar trace ids per minute for alarm evidence. */

typedef struct owl_traces owl_traces;

#define OWL_TRACES_PARTITION "traces"
#define OWL_TRACES_NS "owl/Traces"
#define OWL_SERVICEGRAPH_NS "owl/ServiceGraph"
#define OWL_TRACE_MAX_SPANS 100000 /* spans of one trace a lookup returns (more: truncated) */

typedef struct owl_traces_options {
    int retention_days;  /* spans kept (default 30, as X-Ray) */
    int background;      /* 1 (default): RED statistics are written by a thread every second;
                          * 0: only by owl_traces_flush and owl_traces_close */
    int graph;           /* 1 (default): the live service graph (owl/ServiceGraph) */
    int graph_ttl_s;     /* how long a span waits for its caller or callee (default 30) */
    size_t graph_capacity; /* spans waiting at most (default 1,048,576) */
} owl_traces_options;

/* owl_traces_options_default — fills o with the defaults named above. */
void owl_traces_options_default(owl_traces_options *o);

/* owl_traces_open — the traces module over store (whose registry has the `spans` table) and
 * metrics (may be NULL: no RED statistics), and alarms (may be NULL: no evidence provider)
 * which must outlive it. opts NULL = defaults. */
int owl_traces_open(owl_store *store, owl_metrics *metrics, owl_alarms *alarms,
                    const owl_traces_options *opts, owl_traces **out, owl_error *err);

/* owl_traces_flush — writes the RED statistics gathered so far as datapoints now. */
int owl_traces_flush(owl_traces *tr, owl_error *err);

/* owl_traces_close — stops the thread, writes what is gathered and frees. Accepts NULL. */
void owl_traces_close(owl_traces *tr);

/* owl_traces_put — stores spans[0..n) of tenant in one append: OWL_OK only when they are
 * durable and readable (owl_traces_get finds them). Counts them into the RED statistics
 * (every span, before any sampling). A span that started before the retention (now minus
 * retention_days) would never be returned: it is left out and counted in *expired (may be
 * NULL). The spans were checked by their decoder; a span whose start is outside the store's
 * range is OWL_EINVAL (nothing stored). OWL_ENOSPC, OWL_EIO, OWL_ENOMEM as the store says.
 * Thread-safe. */
int owl_traces_put(owl_traces *tr, const char *tenant, const owl_span *spans, size_t n,
                   size_t *expired, owl_error *err);

/* owl_traces_oldest_ns — the earliest start a span may have to be kept now (Unix ns;
 * INT64_MIN when spans are kept forever), and *days the retention (0 = forever). */
int64_t owl_traces_oldest_ns(const owl_traces *tr, int *days);

/* One trace as read back: its spans (of the records of one span id, kind and service, an
 * in-progress one dropped when a finished one is there, and exact repeats dropped; records of
 * one id at other times all kept) in tree order — each root
 * (no parent id; then those whose parent is not in the trace), earliest first, then its
 * children depth first by start time. parent[i] is the index of span i's parent (-1 for a root), depth[i] its
 * depth (roots 0), self_ns[i] its duration minus the union of its children's time clamped
 * into it (>= 0). Everything lives in arena. */
typedef struct owl_trace {
    uint8_t id[16];
    owl_span *spans;
    size_t n;
    int32_t *parent;
    int32_t *depth;
    int64_t *self_ns;
    int64_t start_ns, end_ns; /* first start, last end of the spans */
    int truncated;            /* more than OWL_TRACE_MAX_SPANS spans: the first ones only */
    owl_arena arena;
} owl_trace;

/* owl_trace_free — frees what owl_traces_get filled; t is zeroed. Accepts NULL. */
void owl_trace_free(owl_trace *t);

/* owl_traces_get — every span of tenant's trace id (zero t first), whatever the time and
 * however many batches it arrived in. OWL_ENOTFOUND when no span has that id (t holds no
 * spans then, but must still be freed), OWL_EIO, OWL_ENOMEM. */
int owl_traces_get(owl_traces *tr, const char *tenant, const uint8_t id[16], owl_trace *t,
                   owl_error *err);

/* owl_trace_views — t's spans as the filter language reads them (tracer/tracer.h): views[i]
 * for t->spans[i] with parent indexes from t->parent; strings NUL-terminated copies in t's
 * arena (annotations from attrs' "annotations" document: X-Ray's, and OTLP/Zipkin attributes
 * as docs/api/traces.md says). OWL_ENOMEM. */
int owl_trace_views(owl_trace *t, owl_xf_span **views);

/* A search: traces with a span of tenant starting in [start_ns, end_ns) that match every
 * given condition (X-Ray's TimeRangeType TraceId and Event are both read this way). */
typedef struct owl_trace_query {
    int64_t start_ns, end_ns;
    const char *service;         /* NULL = any: some span of that service */
    const char *operation;       /* NULL = any: some span of that name (of `service` if given) */
    int64_t min_duration_ns;     /* the trace's duration (last end - first start); -1 = none */
    int64_t max_duration_ns;     /* -1 = none */
    int status;                  /* -1 any; OWL_SPAN_OK: no span failed; ERROR / FAULT /
                                  * THROTTLE: some span has it */
    const owl_xf *filter;        /* X-Ray filter expression; NULL = none */
    size_t limit;                /* summaries per page (0 = 100; at most 1000) */
    const char *next_token;      /* from the previous page, or NULL */
} owl_trace_query;

typedef struct owl_trace_summary {
    uint8_t id[16];
    owl_bytes root_service, root_operation;
    int64_t start_ns, duration_ns;  /* first start, last end - first start */
    int64_t root_duration_ns;       /* -1 when the root is in progress or missing */
    size_t nspans;
    owl_bytes *services;            /* distinct, in first-seen tree order */
    size_t nservices;
    unsigned error : 1, fault : 1, throttle : 1, partial : 1;
    int http_status;                /* the root's, 0 = none */
    owl_bytes http_method, url, user_agent, client_ip; /* the root's */
} owl_trace_summary;

typedef struct owl_trace_page {
    owl_trace_summary *items;  /* newest first (by start, then id) */
    size_t n;
    size_t scanned;            /* traces looked at */
    char next_token[64];       /* "" when this is the last page */
    owl_arena arena;
} owl_trace_page;

void owl_trace_page_free(owl_trace_page *p);

/* owl_traces_search — one page of summaries (zero page first). A search visits at most
 * 100,000 candidate traces of the range (X-Ray's own answers are partial on huge ranges too).
 * OWL_EINVAL (a bad range or token), OWL_EIO, OWL_ENOMEM. */
int owl_traces_search(owl_traces *tr, const char *tenant, const owl_trace_query *q,
                      owl_trace_page *page, owl_error *err);

/* owl_traces_names — the distinct service names of tenant's spans starting in
 * [start_ns, end_ns) (service NULL), or the operation names of that service, sorted, at
 * most OWL_TRACES_MAX_NAMES; *out (n strings) freed with owl_traces_names_free. */
#define OWL_TRACES_MAX_NAMES 10000
int owl_traces_names(owl_traces *tr, const char *tenant, int64_t start_ns, int64_t end_ns,
                     const char *service, char ***out, size_t *n, owl_error *err);
void owl_traces_names_free(char **v, size_t n);

/* A walk over the traces of a window (trace_walk.c): every trace of tenant whose first
 * span starts in [start_ns, end_ns), its spans gathered from 5 minutes either side of the
 * window, handed whole to a callback as the filter language's spans (tracer/tracer.h;
 * exception type and message only when `exceptions` is set; only service, name, kind,
 * times, status, peer and parents otherwise: the fields the service graph, critical path
 * and root cause read). With a filter, each trace is read whole and matched first, and the
 * views carry every field. */
typedef struct owl_trace_walk {
    int64_t start_ns, end_ns;
    const owl_xf *filter;  /* NULL = every trace */
    int exceptions;        /* 1: read what failed failed spans (their attributes) */
    int lean;              /* 1: no remote_service and no status message in the views (a
                            * critical path reads neither): two columns fewer to decode */
    size_t max_traces;     /* 0 = 1,000,000; more sets truncated */
    size_t traces, spans;  /* out: what was handed over */
    int truncated;         /* out */
} owl_trace_walk;

/* Called per trace; t and its strings are valid during the call only; non-zero stops the
 * walk and is returned. */
typedef int (*owl_trace_walk_fn)(void *ud, const owl_xf_trace *t, const uint8_t id[16]);

/* owl_traces_walk — calls fn for each trace of q's window (in trace key order). OWL_EINVAL
 * (end <= start), OWL_EIO, OWL_ENOMEM, or what fn returned. */
int owl_traces_walk(owl_traces *tr, const char *tenant, owl_trace_walk *q, owl_trace_walk_fn fn,
                    void *ud, owl_error *err);

/* owl_traces_walk_split — the same walk in nparts (1 to OWL_WALK_PARTS_MAX) threads, part i
 * holding the traces whose trace key is in the i-th of nparts equal key ranges and calling
 * fn(uds[i], ...): the parts' accumulators, merged in part order, see the traces in the
 * order one walk would. max_traces is shared out evenly. q's counts are summed. The first
 * error of a part (in part order) is returned once every part has stopped. */
#define OWL_WALK_PARTS_MAX 8
int owl_traces_walk_split(owl_traces *tr, const char *tenant, owl_trace_walk *q, size_t nparts,
                          owl_trace_walk_fn fn, void *const *uds, owl_error *err);

/* owl_traces_store — the store tr keeps its spans in. */
owl_store *owl_traces_store(owl_traces *tr);

/* ---- a stored trace as X-Ray segment documents (xray_render.c, docs/api/xray.md) ---- */

typedef struct owl_xray_doc {
    char id[OWL_SPANID_HEX_SIZE]; /* the segment's id (16 hex digits) */
    size_t off, len;              /* its JSON document in the output buffer */
} owl_xray_doc;

/* owl_xray_render — t (as owl_traces_get gives it) as X-Ray segment documents appended to
 * out, one per entry span (a root, a server or a consumer span, an OTLP / Zipkin span whose
 * parent is of another service) with the other spans nested as subsegments; *docs (*ndocs
 * entries, freed by the caller) says where each is. A span decoded from X-Ray comes back
 * with the members it was put with; OTLP and Zipkin spans get X-Ray's members
 * (docs/api/xray.md "Documents"). Only t->spans, n and parent are read; documents and
 * subsegments come in the order of t's spans. Times are rounded to the microsecond.
 * OWL_OK or OWL_ENOMEM. */
int owl_xray_render(const owl_trace *t, owl_buf *out, owl_xray_doc **docs, size_t *ndocs);

#endif

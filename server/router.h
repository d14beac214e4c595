/* router.h — static route tables and the dispatch of one request to its handler.
 *
 * A module contributes an owl_route_table: raw routes (method + path pattern, a handler that
 * fills the HTTP response itself: /healthz, /metrics) and action-layer services
 * (ingest/ingest.h: one row per operation, decoded document in, document out, for AWS
 * protocols and owl's native JSON API). Later capabilities add rows, never dispatch code.
 * Order of checks: X-Amz-Target (AWS JSON), POST /service/S/operation/O (RPC v2 CBOR), a form
 * POST to / or GET /?Action= (AWS query), then raw routes, then REST rows (native, REST-JSON).
 * Errors are shaped by ingest/ for the protocol the request speaks. */
#ifndef OWL_ROUTER_H
#define OWL_ROUTER_H

#include <stddef.h>

#include "ingest/ingest.h"
#include "server/http.h"

struct owl_server;
struct owl_principal;

/* The protocol of a request: the action layer's, under the names server/ has used. */
enum owl_proto {
    OWL_PROTO_NATIVE = OWL_AWS_NATIVE,      /* owl's own JSON API: {"error":{"code","message"}} */
    OWL_PROTO_AWS_REST = OWL_AWS_REST_JSON, /* REST-JSON (X-Ray): {"__type"} + x-amzn-ErrorType */
    OWL_PROTO_AWS_JSON = OWL_AWS_JSON,      /* awsJson1_0 / 1_1 */
    OWL_PROTO_AWS_QUERY = OWL_AWS_QUERY,    /* awsQuery: XML responses */
    OWL_PROTO_AWS_CBOR = OWL_AWS_CBOR,      /* smithy rpc-v2-cbor */
};

#define OWL_MAX_PATH_PARAMS 8

typedef struct owl_kv {
    char *key;
    char *value;
} owl_kv;

/* Everything a handler sees and fills for one request. */
typedef struct owl_call {
    struct owl_server *srv;
    owl_http_req *req;
    owl_http_resp *resp;
    const struct owl_principal *principal; /* NULL only on OWL_ROUTE_PUBLIC routes */
    enum owl_proto proto;
    const char *action;              /* "iam:CreateKey" */
    const owl_aws_service *svc;      /* the action-layer service the request names, or NULL */
    owl_kv params[OWL_MAX_PATH_PARAMS]; /* raw routes: path parameters, percent-decoded */
    size_t nparams;
    char resource[256];              /* set by the handler for the audit trail */
    char error_code[64];             /* set by the error helpers for the audit trail */
} owl_call;

/* A raw route's handler fills call->resp (and call->resource). Its return value is ignored
 * by the router except for logging: the response is what counts. Action-layer rows use
 * owl_aws_fn instead (their ctx->ud is the owl_call). */
typedef int (*owl_handler_fn)(owl_call *call);

enum { OWL_ROUTE_PUBLIC = 1 }; /* no authentication (only /healthz) */

typedef struct owl_route {
    const char *method;   /* "GET", "POST", ... */
    const char *pattern;  /* "/healthz": {name} matches one non-empty segment */
    const char *action;
    owl_handler_fn fn;
    enum owl_proto proto; /* OWL_PROTO_NATIVE */
    unsigned flags;
} owl_route;

/* A module's contribution: its raw routes and its action-layer services. */
typedef struct owl_route_table {
    const owl_route *routes;
    size_t nroutes;
    const owl_aws_service *const *services;
    size_t nservices;
} owl_route_table;

#define OWL_ROUTER_MAX_TABLES 32
#define OWL_ROUTER_MAX_SERVICES 64

typedef struct owl_router {
    const owl_route_table *tables[OWL_ROUTER_MAX_TABLES];
    size_t ntables;
    const owl_aws_service *services[OWL_ROUTER_MAX_SERVICES]; /* every table's, in order */
    size_t nservices;
} owl_router;

/* owl_router_add — registers a table (kept by pointer; must outlive the router).
 * OWL_ERANGE when the tables or services are full (nothing added then). */
int owl_router_add(owl_router *r, const owl_route_table *t);

/* The result of matching a request against the tables. */
typedef struct owl_match {
    const owl_route *route;    /* raw route match, or NULL */
    const owl_aws_op *op;      /* action-layer row match, or NULL */
    enum owl_proto proto;      /* protocol the request speaks (also when nothing matched) */
    const char *action;        /* the matched action or NULL */
    int method_mismatch;       /* a route has this path but another method (-> 405) */
    char op_name[128];         /* the operation the client asked for (for errors) */
    owl_aws_match aws;         /* the action layer's match (for owl_router_serve) */
} owl_match;

/* owl_router_match — finds the row for req; sets call->svc and, for raw routes,
 * call->params (owned by call, freed by owl_call_cleanup). OWL_OK (match->route/op may both
 * be NULL: not found), OWL_EINVAL for a malformed path escape of a raw route, OWL_ENOMEM. */
int owl_router_match(const owl_router *r, owl_http_req *req, owl_call *call, owl_match *match,
                     owl_error *err);

/* owl_call_param — path parameter by name, or NULL. */
const char *owl_call_param(const owl_call *call, const char *name);

/* owl_router_serve — runs the action-layer row m->op for call (decode, handler with
 * ctx->ud = call, encode) into call->resp, recording the error code for the audit trail.
 * Returns the handler's result; OWL_EINVAL when m has no op. */
int owl_router_serve(owl_call *call, const owl_match *m);

/* owl_call_cleanup — frees what owl_router_match allocated. */
void owl_call_cleanup(owl_call *call);

/* owl_query_param — the decoded value of `name` in a raw query string, copied into out
 * (NUL-terminated). 1 when present, 0 when absent, -1 when it does not fit, is malformed,
 * decodes to a NUL (%00) or is given more than once. */
int owl_query_param(const char *query, const char *name, char *out, size_t outsz);

/* owl_call_time — a time query parameter, RFC 3339 or epoch ms, into *ms; *present 0 when
 * absent (*ms untouched). A malformed one answers 400 InvalidParameter ("NAME must be an RFC
 * 3339 time or epoch milliseconds") and returns OWL_EINVAL. */
int owl_call_time(owl_call *call, const char *name, int64_t *ms, int *present);

/* owl_call_limit — a page size from a query parameter's text: *out = dflt when the parameter
 * is absent (present == 0), else an integer 1..max. Otherwise answers 400 InvalidParameter
 * ("limit must be 1 to MAX") and returns OWL_EINVAL. */
int owl_call_limit(owl_call *call, const char *text, int present, size_t dflt, size_t max,
                   size_t *out);

/* owl_aws_page_limit — the same for an action-layer row: the field "limit" of in (absent ->
 * dflt), else 1..max, or the ctx fails with InvalidParameter ("limit must be 1 to MAX") and
 * OWL_EINVAL is returned. */
int owl_aws_page_limit(owl_aws_ctx *ctx, const bson_t *in, size_t dflt, size_t max,
                       size_t *out);

/* owl_call_error — answers with an error shaped for the call's protocol (by
 * owl_aws_error_reply): native {"error":{"code","message"}}; AWS JSON {"__type","message"}
 * with the service's x-amz-json-1.0/1.1 and x-amzn-ErrorType; REST-JSON the same as
 * application/json; query <ErrorResponse> XML; CBOR a map. Records code for the audit. */
void owl_call_error(owl_call *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* owl_call_error_from — maps an owl_err to a code of the call's protocol with its status
 * from ingest's error table (native: NOTFOUND -> 404 ResourceNotFound, INVAL -> 400
 * InvalidParameter, NOSPC -> 507 InsufficientStorage, ...) and answers. */
void owl_call_error_from(owl_call *call, int rc, const char *message);

#endif

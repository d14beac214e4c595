/* router.h — static route tables and the dispatch of one request to its handler.
 *
 * Four ways in, one table kind each; later capabilities add rows, never dispatch code:
 *   native / REST   method + path pattern ("/api/v1/keys/{id}", X-Ray's "/TraceSegments")
 *   AWS JSON 1.0/1.1  X-Amz-Target header ("Logs_20140328.PutLogEvents")
 *   AWS query       Action= in a form body or query string ("GetCallerIdentity"), XML out
 *   Smithy RPC v2 CBOR  POST /service/<service>/operation/<operation>
 * Order of checks: X-Amz-Target, then the CBOR path form, then Action=, then native paths. */
#ifndef OWL_ROUTER_H
#define OWL_ROUTER_H

#include <stddef.h>

#include "server/http.h"

struct owl_server;
struct owl_principal;

enum owl_proto {
    OWL_PROTO_NATIVE,   /* owl's own JSON API: {"error":{"code","message"}} */
    OWL_PROTO_AWS_REST, /* REST-JSON AWS services (X-Ray): {"__type","message"} + x-amzn-ErrorType */
    OWL_PROTO_AWS_JSON, /* awsJson1_0 / 1_1 */
    OWL_PROTO_AWS_QUERY,/* awsQuery: XML responses */
    OWL_PROTO_AWS_CBOR, /* smithy rpc-v2-cbor */
};

#define OWL_MAX_PATH_PARAMS 8
#define OWL_MAX_FORM_PARAMS 256

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
    const char *aws_service;         /* query/JSON/CBOR rows: "sts", "logs", ... */
    owl_kv params[OWL_MAX_PATH_PARAMS]; /* path parameters, percent-decoded */
    size_t nparams;
    owl_kv *form;                    /* query protocol: decoded form parameters */
    size_t nform;
    char resource[256];              /* set by the handler for the audit trail */
    char error_code[64];             /* set by the error helpers for the audit trail */
} owl_call;

/* A handler fills call->resp (and call->resource). Its return value is ignored by the
 * router except for logging: the response is what counts. */
typedef int (*owl_handler_fn)(owl_call *call);

enum { OWL_ROUTE_PUBLIC = 1 }; /* no authentication (only /healthz) */

typedef struct owl_route {
    const char *method;   /* "GET", "POST", ... */
    const char *pattern;  /* "/api/v1/keys/{id}": {name} matches one non-empty segment */
    const char *action;
    owl_handler_fn fn;
    enum owl_proto proto; /* OWL_PROTO_NATIVE or OWL_PROTO_AWS_REST */
    unsigned flags;
} owl_route;

typedef struct owl_aws_op {
    enum owl_proto proto;  /* AWS_JSON, AWS_QUERY or AWS_CBOR */
    const char *service;   /* SigV4 signing name: "sts", "logs", "monitoring", "events" */
    const char *key;       /* JSON: full X-Amz-Target; query: Action; CBOR: "Service/Operation" */
    const char *action;    /* policy action: "sts:GetCallerIdentity" */
    owl_handler_fn fn;
} owl_aws_op;

/* A module's contribution: its rows. */
typedef struct owl_route_table {
    const owl_route *routes;
    size_t nroutes;
    const owl_aws_op *ops;
    size_t nops;
} owl_route_table;

#define OWL_ROUTER_MAX_TABLES 32

typedef struct owl_router {
    const owl_route_table *tables[OWL_ROUTER_MAX_TABLES];
    size_t ntables;
} owl_router;

/* owl_router_add — registers a table (kept by pointer; must outlive the router).
 * OWL_ERANGE when full. */
int owl_router_add(owl_router *r, const owl_route_table *t);

/* The result of matching a request against the tables. */
typedef struct owl_match {
    const owl_route *route; /* native/REST match, or NULL */
    const owl_aws_op *op;   /* AWS op match, or NULL */
    enum owl_proto proto;   /* protocol the request speaks (also when nothing matched) */
    const char *action;     /* the matched action or NULL */
    int method_mismatch;    /* a route has this path but another method (-> 405) */
    char op_name[128];      /* the operation the client asked for (for errors) */
} owl_match;

/* owl_router_match — finds the row for req; fills call->params / form (owned by call, freed
 * by owl_call_cleanup). OWL_OK (match->route/op may both be NULL: not found), OWL_EINVAL for
 * a malformed form body or path escape, OWL_ENOMEM. */
int owl_router_match(const owl_router *r, owl_http_req *req, owl_call *call, owl_match *match,
                     owl_error *err);

/* owl_call_param — path parameter by name, or NULL. */
const char *owl_call_param(const owl_call *call, const char *name);

/* owl_call_form — form parameter (query protocol) by name, or NULL. */
const char *owl_call_form(const owl_call *call, const char *name);

/* owl_call_cleanup — frees what owl_router_match allocated. */
void owl_call_cleanup(owl_call *call);

/* owl_query_param — the decoded value of `name` in a raw query string, copied into out
 * (NUL-terminated). 1 when present, 0 when absent, -1 when it does not fit or is malformed. */
int owl_query_param(const char *query, const char *name, char *out, size_t outsz);

/* owl_call_limit — a page size from a query parameter's text: *out = dflt when the parameter
 * is absent (present == 0), else an integer 1..max. Otherwise answers 400 InvalidParameter
 * ("limit must be 1 to MAX") and returns OWL_EINVAL. */
int owl_call_limit(owl_call *call, const char *text, int present, size_t dflt, size_t max,
                   size_t *out);

/* owl_percent_decode — decodes %XX (and '+' as space when plus_space) from s (n bytes) into
 * out (n+1 bytes is always enough). Returns the decoded length, or -1 for a bad escape. */
long owl_percent_decode(const char *s, size_t n, char *out, int plus_space);

/* owl_call_error — answers with an error shaped for the call's protocol:
 *   native: {"error":{"code","message"}}; AWS JSON/REST: {"__type","message"} and
 *   x-amzn-ErrorType; query: <ErrorResponse> XML; CBOR: a CBOR map. Records code for audit. */
void owl_call_error(owl_call *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* owl_call_error_from — maps an owl_err to a status/code (NOTFOUND -> 404 ResourceNotFound,
 * INVAL -> 400 InvalidParameter, NOSPC -> 507 InsufficientStorage, ...) and answers. */
void owl_call_error_from(owl_call *call, int rc, const char *message);

#endif

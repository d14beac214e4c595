/* router.c — matches a request to a row of the static route tables (raw routes here, the
 * action layer's services through ingest/) and answers errors through ingest/'s shapes for
 * the protocol the client speaks. Dispatch order and table kinds are described in router.h;
 * this file holds no per-action knowledge. */
#include "server/router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int owl_router_add(owl_router *r, const owl_route_table *t)
{
    if (r->ntables >= OWL_ROUTER_MAX_TABLES ||
        r->nservices + t->nservices > OWL_ROUTER_MAX_SERVICES)
        return OWL_ERANGE;
    r->tables[r->ntables++] = t;
    for (size_t i = 0; i < t->nservices; i++)
        r->services[r->nservices++] = t->services[i];
    return OWL_OK;
}

int owl_query_param(const char *query, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = query;
    int found = 0;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        char key[256];
        if (klen < sizeof key) {
            long kd = owl_aws_percent_decode(p, klen, key, 1);
            if (kd >= 0 && (size_t)kd == nlen && memcmp(key, name, nlen) == 0) {
                const char *v = eq ? eq + 1 : p + len;
                size_t vlen = eq ? len - klen - 1 : 0;
                /* given twice is malformed: no reader may pick one silently */
                if (found || vlen + 1 > outsz || owl_aws_percent_decode(v, vlen, out, 1) < 0)
                    return -1;
                found = 1;
            }
        }
        p = amp ? amp + 1 : NULL;
    }
    return found;
}

/* The path parameters a raw route's pattern names, collected as owl_aws_uri_walk finds them. */
typedef struct path_params {
    owl_kv kv[OWL_MAX_PATH_PARAMS];
    size_t n;
} path_params;

/* owl_aws_label_fn: keeps a copy of the label (the walk caps the count at
 * OWL_MAX_PATH_PARAMS). */
static int keep_param(void *ud, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    path_params *pp = ud;
    char *key = strndup(name, name_len), *val = malloc(value_len + 1);
    pp->kv[pp->n].key = key;
    pp->kv[pp->n].value = val;
    pp->n++;
    if (!key || !val)
        return OWL_ENOMEM;
    memcpy(val, value, value_len + 1);
    return 1;
}

/* Matches path against a raw route's pattern; on success stores the {name} values in call.
 * Returns 1 on a match, 0 on none, -1 when a parameter segment holds a bad %-escape, -2
 * when out of memory. */
static int match_path(const char *pattern, const char *path, owl_call *call)
{
    path_params pp = {.n = 0};
    int ok = owl_aws_uri_walk(pattern, path, OWL_MAX_PATH_PARAMS, keep_param, &pp);
    if (ok != 1) {
        for (size_t i = 0; i < pp.n; i++) {
            free(pp.kv[i].key);
            free(pp.kv[i].value);
        }
        return ok == OWL_ENOMEM ? -2 : ok < 0 ? -1 : 0;
    }
    memcpy(call->params, pp.kv, pp.n * sizeof pp.kv[0]);
    call->nparams = pp.n;
    return 1;
}

/* The SigV4 credential scope's service, when the request is signed (NULL otherwise). */
static const char *scope_service(const owl_http_req *req, char *buf, size_t bufsz)
{
    const char *auth = owl_http_req_header(req, "authorization");
    const char *c = auth ? strstr(auth, "Credential=") : NULL;
    if (!c)
        return NULL;
    /* AKID/DATE/REGION/SERVICE/aws4_request */
    const char *p = c + 11;
    for (int slash = 0; slash < 3; slash++) {
        p = strchr(p, '/');
        if (!p)
            return NULL;
        p++;
    }
    const char *e = strchr(p, '/');
    if (!e || (size_t)(e - p) >= bufsz)
        return NULL;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return buf;
}

/* The parts of req the action layer reads. scope (64 bytes) holds the SigV4 scope's
 * service, read only for requests to / (the query protocol, where it picks the service). */
static void aws_request(const owl_http_req *req, owl_aws_request *rq, char *scope)
{
    memset(rq, 0, sizeof *rq);
    rq->method = req->method;
    rq->path = req->path;
    rq->query = req->query ? req->query : "";
    rq->target = owl_http_req_header(req, "x-amz-target");
    rq->content_type = owl_http_req_header(req, "content-type");
    rq->scope_service = strcmp(req->path, "/") == 0 ? scope_service(req, scope, 64) : NULL;
    rq->body = req->body.data;
    rq->body_len = req->body.len;
    rq->request_id = req->request_id;
}

/* Raw routes: 1 matched (m->route), 0 none, or an owl_err. */
static int match_routes(const owl_router *r, owl_http_req *req, owl_call *call, owl_match *m,
                        owl_error *err)
{
    for (size_t t = 0; t < r->ntables; t++) {
        const owl_route_table *tab = r->tables[t];
        for (size_t i = 0; i < tab->nroutes; i++) {
            const owl_route *rt = &tab->routes[i];
            int mp = match_path(rt->pattern, req->path, call);
            if (mp == -2)
                return owl_error_set(err, OWL_ENOMEM, "out of memory matching the path");
            if (mp < 0)
                return owl_error_set(err, OWL_EINVAL, "malformed percent-escape in the path");
            if (mp == 0)
                continue;
            if (strcmp(rt->method, req->method) == 0 ||
                (strcmp(rt->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
                m->route = rt;
                return 1;
            }
            m->method_mismatch = 1;
            owl_call_cleanup(call);
        }
    }
    return 0;
}

int owl_router_match(const owl_router *r, owl_http_req *req, owl_call *call, owl_match *m,
                     owl_error *err)
{
    owl_aws_request rq;
    char scope[64];
    memset(m, 0, sizeof *m);
    aws_request(req, &rq, scope);
    owl_aws_match_request(r->services, r->nservices, &rq, &m->aws);
    m->proto = (enum owl_proto)m->aws.proto;
    snprintf(m->op_name, sizeof m->op_name, "%s", m->aws.op_name);
    call->svc = m->aws.svc;
    /* AWS RPC protocols and REST rows answer for themselves; raw routes come before REST
     * rows only when those did not match */
    if (m->proto == OWL_PROTO_NATIVE && !m->aws.op) {
        int rc = match_routes(r, req, call, m, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            m->proto = m->route->proto;
            m->action = m->route->action;
            m->method_mismatch = 0;
            return OWL_OK;
        }
        m->method_mismatch |= m->aws.method_mismatch;
        return OWL_OK;
    }
    m->op = m->aws.op;
    if (m->op)
        m->action = m->op->action;
    return OWL_OK;
}

int owl_router_serve(owl_call *call, const owl_match *m)
{
    owl_aws_request rq;
    char scope[64];
    aws_request(call->req, &rq, scope);
    owl_http_resp *resp = call->resp;
    owl_aws_reply reply = {.headers = &resp->headers, .body = &resp->body};
    int rc = owl_aws_serve(&m->aws, &rq, call, &reply);
    if (rc == OWL_EINVAL && !m->aws.op)
        return rc;
    resp->status = reply.status;
    resp->content_type = reply.content_type;
    snprintf(call->error_code, sizeof call->error_code, "%s", reply.error_code);
    return rc;
}

int owl_aws_page_limit(owl_aws_ctx *ctx, const bson_t *in, size_t dflt, size_t max,
                       size_t *out)
{
    int64_t v;
    int rc = owl_aws_get_int(NULL, in, "limit", &v);
    if (rc == OWL_ENOTFOUND) {
        *out = dflt;
        return OWL_OK;
    }
    if (rc != OWL_OK || v < 1 || (uint64_t)v > max)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "limit must be 1 to %zu", max);
    *out = (size_t)v;
    return OWL_OK;
}

int owl_call_time(owl_call *call, const char *name, int64_t *ms, int *present)
{
    char v[64];
    int r = owl_query_param(call->req->query, name, v, sizeof v);
    *present = r == 1;
    if (r == 0)
        return OWL_OK;
    if (r < 0 || owl_time_parse(v, strlen(v), ms) != OWL_OK) {
        owl_call_error(call, 400, "InvalidParameter",
                       "%s must be an RFC 3339 time or epoch milliseconds", name);
        return OWL_EINVAL;
    }
    return OWL_OK;
}

int owl_call_limit(owl_call *call, const char *text, int present, size_t dflt, size_t max,
                   size_t *out)
{
    if (!present) {
        *out = dflt;
        return OWL_OK;
    }
    char *end;
    long l = strtol(text, &end, 10);
    if (*end || l < 1 || (unsigned long)l > max) {
        owl_call_error(call, 400, "InvalidParameter", "limit must be 1 to %zu", max);
        return OWL_EINVAL;
    }
    *out = (size_t)l;
    return OWL_OK;
}

const char *owl_call_param(const owl_call *call, const char *name)
{
    for (size_t i = 0; i < call->nparams; i++)
        if (strcmp(call->params[i].key, name) == 0)
            return call->params[i].value;
    return NULL;
}

void owl_call_cleanup(owl_call *call)
{
    for (size_t i = 0; i < call->nparams; i++) {
        free(call->params[i].key);
        free(call->params[i].value);
    }
    call->nparams = 0;
}

/* ---- errors, shaped per protocol by ingest/ ---- */

void owl_call_error(owl_call *call, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    owl_aws_request rq;
    char scope[64];
    aws_request(call->req, &rq, scope);
    owl_http_resp *resp = call->resp;
    owl_aws_reply reply = {.headers = &resp->headers, .body = &resp->body};
    owl_aws_error_reply((enum owl_aws_proto)call->proto, call->svc, &rq, status, code, msg,
                        &reply);
    resp->status = reply.status;
    resp->content_type = reply.content_type;
    snprintf(call->error_code, sizeof call->error_code, "%s", code);
}

void owl_call_error_from(owl_call *call, int rc, const char *message)
{
    owl_aws_err e = owl_aws_err_from_owl((enum owl_aws_proto)call->proto, rc);
    owl_call_error(call, owl_aws_err_status(e), owl_aws_err_code(e), "%s", message);
}

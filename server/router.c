/* router.c — matches a request to a row of the static route tables and shapes errors for
 * the protocol the client speaks. Dispatch order and table kinds are described in router.h;
 * this file holds no per-action knowledge. */
#include "server/router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int owl_router_add(owl_router *r, const owl_route_table *t)
{
    if (r->ntables >= OWL_ROUTER_MAX_TABLES)
        return OWL_ERANGE;
    r->tables[r->ntables++] = t;
    return OWL_OK;
}

long owl_percent_decode(const char *s, size_t n, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = owl_hex_digit((unsigned char)s[i + 1]);
            int lo = owl_hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int owl_query_param(const char *query, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        char key[256];
        if (klen < sizeof key) {
            long kd = owl_percent_decode(p, klen, key, 1);
            if (kd >= 0 && (size_t)kd == nlen && memcmp(key, name, nlen) == 0) {
                const char *v = eq ? eq + 1 : p + len;
                size_t vlen = eq ? len - klen - 1 : 0;
                if (vlen + 1 > outsz)
                    return -1;
                return owl_percent_decode(v, vlen, out, 1) < 0 ? -1 : 1;
            }
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* Matches path against pattern segment by segment; on success stores {name} values.
 * Returns 1 on a match, 0 on none, -1 when a parameter segment holds a bad %-escape, -2
 * when out of memory. */
static int match_path(const char *pattern, const char *path, owl_call *call)
{
    size_t nparams = 0;
    owl_kv params[OWL_MAX_PATH_PARAMS];
    const char *p = pattern, *s = path;
    int ok = 0;
    while (*p == '/' && *s == '/') {
        p++, s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || nparams == OWL_MAX_PATH_PARAMS)
                goto out;
            char *val = malloc(slen + 1);
            char *key = strndup(p + 1, plen - 2);
            params[nparams].key = key;
            params[nparams].value = val;
            nparams++;
            if (!val || !key) {
                ok = -2;
                goto out;
            }
            if (owl_percent_decode(s, slen, val, 0) < 0) {
                ok = -1;
                goto out;
            }
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            goto out;
        }
        p += plen, s += slen;
        /* one trailing slash on the request is tolerated */
        if (*p == '\0' && s[0] == '/' && s[1] == '\0')
            s++;
    }
    ok = *p == '\0' && *s == '\0';
out:
    if (ok != 1) {
        for (size_t i = 0; i < nparams; i++) {
            free(params[i].key);
            free(params[i].value);
        }
        return ok;
    }
    memcpy(call->params, params, nparams * sizeof params[0]);
    call->nparams = nparams;
    return 1;
}

/* Splits an application/x-www-form-urlencoded text into call->form. */
static int parse_form(const char *s, size_t n, owl_call *call, owl_error *err)
{
    size_t cap = 8;
    owl_kv *kv = calloc(cap, sizeof *kv);
    if (!kv)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    call->form = kv;
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t len = amp ? (size_t)(amp - (s + i)) : n - i;
        if (len > 0) {
            if (call->nform == OWL_MAX_FORM_PARAMS)
                return owl_error_set(err, OWL_EINVAL, "more than %d form parameters",
                                     OWL_MAX_FORM_PARAMS);
            if (call->nform == cap) {
                owl_kv *grown = realloc(call->form, 2 * cap * sizeof *kv);
                if (!grown)
                    return owl_error_set(err, OWL_ENOMEM, "out of memory");
                call->form = grown;
                cap *= 2;
            }
            const char *eq = memchr(s + i, '=', len);
            size_t klen = eq ? (size_t)(eq - (s + i)) : len;
            size_t vlen = eq ? len - klen - 1 : 0;
            owl_kv *e = &call->form[call->nform++];
            e->key = malloc(klen + 1);
            e->value = malloc(vlen + 1);
            if (!e->key || !e->value)
                return owl_error_set(err, OWL_ENOMEM, "out of memory");
            if (owl_percent_decode(s + i, klen, e->key, 1) < 0 ||
                owl_percent_decode(eq ? eq + 1 : s + i + len, vlen, e->value, 1) < 0)
                return owl_error_set(err, OWL_EINVAL, "malformed percent-escape in form body");
        }
        i += len + 1;
    }
    return OWL_OK;
}

static const owl_aws_op *find_op(const owl_router *r, enum owl_proto proto, const char *key,
                                 const char *service)
{
    for (size_t t = 0; t < r->ntables; t++) {
        const owl_route_table *tab = r->tables[t];
        for (size_t i = 0; i < tab->nops; i++) {
            const owl_aws_op *op = &tab->ops[i];
            if (op->proto != proto || strcmp(op->key, key) != 0)
                continue;
            if (service && op->service && strcmp(service, op->service) != 0)
                continue;
            return op;
        }
    }
    return NULL;
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

static int is_form(const owl_http_req *req)
{
    const char *ct = owl_http_req_header(req, "content-type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

int owl_router_match(const owl_router *r, owl_http_req *req, owl_call *call, owl_match *m,
                     owl_error *err)
{
    memset(m, 0, sizeof *m);
    m->proto = OWL_PROTO_NATIVE;

    const char *target = owl_http_req_header(req, "x-amz-target");
    if (target) {
        m->proto = OWL_PROTO_AWS_JSON;
        snprintf(m->op_name, sizeof m->op_name, "%s", target);
        m->op = find_op(r, OWL_PROTO_AWS_JSON, target, NULL);
        goto found;
    }
    if (strcmp(req->method, "POST") == 0 && strncmp(req->path, "/service/", 9) == 0) {
        const char *svc = req->path + 9, *slash = strchr(svc, '/');
        if (slash && strncmp(slash, "/operation/", 11) == 0 && !strchr(slash + 11, '/')) {
            m->proto = OWL_PROTO_AWS_CBOR;
            snprintf(m->op_name, sizeof m->op_name, "%.*s/%s", (int)(slash - svc), svc,
                     slash + 11);
            m->op = find_op(r, OWL_PROTO_AWS_CBOR, m->op_name, NULL);
            goto found;
        }
    }
    int form_post = strcmp(req->method, "POST") == 0 && strcmp(req->path, "/") == 0 &&
                    is_form(req);
    char action[128];
    int has_query_action = strcmp(req->path, "/") == 0 &&
                           owl_query_param(req->query, "Action", action, sizeof action) == 1;
    if (form_post || has_query_action) {
        m->proto = OWL_PROTO_AWS_QUERY;
        if (form_post) {
            int rc = parse_form(req->body.data ? req->body.data : "", req->body.len, call, err);
            if (rc != OWL_OK)
                return rc;
        } else {
            int rc = parse_form(req->query, strlen(req->query), call, err);
            if (rc != OWL_OK)
                return rc;
        }
        const char *a = owl_call_form(call, "Action");
        snprintf(m->op_name, sizeof m->op_name, "%s", a ? a : "");
        if (a) {
            /* query actions are named alike across services: the signed scope decides */
            char svc[64];
            m->op = find_op(r, OWL_PROTO_AWS_QUERY, a, scope_service(req, svc, sizeof svc));
        }
        goto found;
    }
    for (size_t t = 0; t < r->ntables && !m->route; t++) {
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
                break;
            }
            m->method_mismatch = 1;
            owl_call_cleanup(call);
        }
    }
    if (m->route) {
        m->proto = m->route->proto;
        m->action = m->route->action;
        m->method_mismatch = 0;
    }
    return OWL_OK;
found:
    if (m->op)
        m->action = m->op->action;
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

const char *owl_call_form(const owl_call *call, const char *name)
{
    for (size_t i = 0; i < call->nform; i++)
        if (strcmp(call->form[i].key, name) == 0)
            return call->form[i].value;
    return NULL;
}

void owl_call_cleanup(owl_call *call)
{
    for (size_t i = 0; i < call->nparams; i++) {
        free(call->params[i].key);
        free(call->params[i].value);
    }
    call->nparams = 0;
    for (size_t i = 0; i < call->nform; i++) {
        free(call->form[i].key);
        free(call->form[i].value);
    }
    free(call->form);
    call->form = NULL;
    call->nform = 0;
}

/* ---- errors, shaped per protocol ---- */

static void xml_escape(owl_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': owl_buf_puts(b, "&lt;"); break;
        case '>': owl_buf_puts(b, "&gt;"); break;
        case '&': owl_buf_puts(b, "&amp;"); break;
        case '"': owl_buf_puts(b, "&quot;"); break;
        case '\'': owl_buf_puts(b, "&apos;"); break;
        default: owl_buf_putc(b, *s);
        }
    }
}

/* CBOR major type 3 (text string) header + bytes. */
static void cbor_text(owl_buf *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char h[9];
    size_t hl;
    if (n < 24) {
        h[0] = (unsigned char)(0x60 | n), hl = 1;
    } else if (n < 256) {
        h[0] = 0x78, h[1] = (unsigned char)n, hl = 2;
    } else if (n < 65536) {
        h[0] = 0x79, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n, hl = 3;
    } else {
        h[0] = 0x7a;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        hl = 5;
    }
    owl_buf_append(b, h, hl);
    owl_buf_append(b, s, n);
}

void owl_call_error(owl_call *call, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    owl_http_resp *resp = call->resp;
    snprintf(call->error_code, sizeof call->error_code, "%s", code);
    owl_buf_reset(&resp->body);
    resp->status = status;
    owl_buf *b = &resp->body;
    switch (call->proto) {
    case OWL_PROTO_NATIVE:
        owl_http_resp_error(resp, status, code, "%s", msg);
        break;
    case OWL_PROTO_AWS_REST:
    case OWL_PROTO_AWS_JSON:
        resp->content_type = call->proto == OWL_PROTO_AWS_JSON ? "application/x-amz-json-1.1"
                                                                : "application/json";
        owl_http_resp_header(resp, "x-amzn-ErrorType", code);
        owl_buf_puts(b, "{\"__type\":");
        owl_buf_json_str(b, code, strlen(code));
        owl_buf_puts(b, ",\"message\":");
        owl_buf_json_str(b, msg, strlen(msg));
        owl_buf_putc(b, '}');
        break;
    case OWL_PROTO_AWS_QUERY:
        resp->content_type = "text/xml";
        owl_buf_printf(b, "<ErrorResponse><Error><Type>%s</Type><Code>",
                       status >= 500 ? "Receiver" : "Sender");
        xml_escape(b, code);
        owl_buf_puts(b, "</Code><Message>");
        xml_escape(b, msg);
        owl_buf_puts(b, "</Message></Error><RequestId>");
        xml_escape(b, call->req->request_id);
        owl_buf_puts(b, "</RequestId></ErrorResponse>\n");
        break;
    case OWL_PROTO_AWS_CBOR:
        resp->content_type = "application/cbor";
        owl_http_resp_header(resp, "smithy-protocol", "rpc-v2-cbor");
        owl_buf_putc(b, (char)0xa2); /* map of two pairs */
        cbor_text(b, "__type");
        cbor_text(b, code);
        cbor_text(b, "message");
        cbor_text(b, msg);
        break;
    }
}

static const struct {
    int rc, status;
    const char *native, *aws;
} err_map[] = {
    {OWL_EINVAL, 400, "InvalidParameter", "InvalidParameterException"},
    {OWL_ENOTFOUND, 404, "ResourceNotFound", "ResourceNotFoundException"},
    {OWL_EEXISTS, 409, "ResourceAlreadyExists", "ResourceAlreadyExistsException"},
    {OWL_ETOOBIG, 413, "PayloadTooLarge", "RequestEntityTooLargeException"},
    {OWL_EDENIED, 403, "AccessDenied", "AccessDeniedException"},
    {OWL_ERANGE, 400, "LimitExceeded", "LimitExceededException"},
    {OWL_EAGAIN, 503, "ServiceUnavailable", "ServiceUnavailableException"},
    {OWL_ENOSPC, 507, "InsufficientStorage", "ServiceUnavailableException"},
    {OWL_EUNSUPPORTED, 400, "UnsupportedOperation", "UnsupportedOperationException"},
};

void owl_call_error_from(owl_call *call, int rc, const char *message)
{
    for (size_t i = 0; i < sizeof err_map / sizeof err_map[0]; i++) {
        if (err_map[i].rc == rc) {
            owl_call_error(call, err_map[i].status,
                           call->proto == OWL_PROTO_NATIVE ? err_map[i].native : err_map[i].aws,
                           "%s", message);
            return;
        }
    }
    owl_call_error(call, 500, call->proto == OWL_PROTO_NATIVE ? "InternalError" : "InternalFailure",
                   "%s", message);
}

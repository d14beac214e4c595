/* aws.c — the action layer's core: the error table, matching a request to a service's op
 * row, running the handler between a protocol's decoder and encoder, shaping errors, and
 * the typed getters handlers read their input with. The codecs live in aws_json.c,
 * aws_query.c, aws_cbor.c and aws_rest.c; the protocol list is in ingest.h. */
#include "ingest/ingest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/aws_int.h"

/* ---- the error table ---- */

enum { SENDER = 1, RECEIVER = 0 };

static const struct {
    const char *code;
    int status;
    int sender;
} errs[OWL_AWS_ERR_COUNT] = {
#define OWL__AWS_ERR_ROW(id, code, status, fault) [OWL_AWS_ERR_##id] = {code, status, fault},
    OWL_AWS_ERRORS(OWL__AWS_ERR_ROW)
#undef OWL__AWS_ERR_ROW
};

const char *owl_aws_err_code(owl_aws_err e)
{
    return (unsigned)e < OWL_AWS_ERR_COUNT ? errs[e].code : "InternalFailure";
}

int owl_aws_err_status(owl_aws_err e)
{
    return (unsigned)e < OWL_AWS_ERR_COUNT ? errs[e].status : 500;
}

int owl_aws_err_is_sender(owl_aws_err e)
{
    return (unsigned)e < OWL_AWS_ERR_COUNT ? errs[e].sender : 0;
}

/* The fault of a code given with an explicit status (auth failures): the table's when the
 * code is in it with that status, else by status class. */
static int code_is_sender(const char *code, int status)
{
    for (size_t i = 0; i < OWL_AWS_ERR_COUNT; i++)
        if (errs[i].status == status && strcmp(errs[i].code, code) == 0)
            return errs[i].sender;
    return status < 500;
}

const char *owl_aws_proto_name(enum owl_aws_proto p)
{
    static const char *const names[] = {"native", "rest-json", "json", "query", "cbor"};
    return (unsigned)p < OWL_ARRAY_LEN(names) ? names[p] : "unknown";
}

/* owl_err -> error id, one column per vocabulary: native, query, the JSON family. */
static const struct {
    int rc;
    owl_aws_err native, query, json;
} from_owl[] = {
    {OWL_EINVAL, OWL_AWS_ERR_InvalidParameter, OWL_AWS_ERR_InvalidParameterValue,
     OWL_AWS_ERR_ValidationException},
    {OWL_ENOTFOUND, OWL_AWS_ERR_ResourceNotFound, OWL_AWS_ERR_ResourceNotFound,
     OWL_AWS_ERR_ResourceNotFoundException404},
    {OWL_EEXISTS, OWL_AWS_ERR_ResourceAlreadyExists, OWL_AWS_ERR_InvalidParameterValue,
     OWL_AWS_ERR_ResourceAlreadyExistsException},
    {OWL_ETOOBIG, OWL_AWS_ERR_PayloadTooLarge, OWL_AWS_ERR_InvalidParameterValue,
     OWL_AWS_ERR_RequestEntityTooLargeException},
    {OWL_EDENIED, OWL_AWS_ERR_AccessDenied, OWL_AWS_ERR_AccessDenied,
     OWL_AWS_ERR_AccessDeniedException},
    {OWL_ERANGE, OWL_AWS_ERR_LimitExceeded, OWL_AWS_ERR_LimitExceeded,
     OWL_AWS_ERR_LimitExceededException},
    {OWL_ELIMIT, OWL_AWS_ERR_LimitExceeded, OWL_AWS_ERR_LimitExceeded,
     OWL_AWS_ERR_LimitExceededException},
    {OWL_EAGAIN, OWL_AWS_ERR_ServiceUnavailable, OWL_AWS_ERR_ServiceUnavailable,
     OWL_AWS_ERR_ServiceUnavailableException},
    {OWL_ENOSPC, OWL_AWS_ERR_InsufficientStorage, OWL_AWS_ERR_ServiceUnavailable,
     OWL_AWS_ERR_ServiceUnavailableException},
    {OWL_EUNSUPPORTED, OWL_AWS_ERR_UnsupportedOperation, OWL_AWS_ERR_InvalidAction,
     OWL_AWS_ERR_UnsupportedOperationException},
};

owl_aws_err owl_aws_err_from_owl(enum owl_aws_proto proto, int rc)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(from_owl); i++) {
        if (from_owl[i].rc != rc)
            continue;
        return proto == OWL_AWS_NATIVE  ? from_owl[i].native
               : proto == OWL_AWS_QUERY ? from_owl[i].query
                                        : from_owl[i].json;
    }
    return proto == OWL_AWS_NATIVE ? OWL_AWS_ERR_InternalError : OWL_AWS_ERR_InternalFailure;
}

/* The code a request that does not decode gets. */
static owl_aws_err decode_error(enum owl_aws_proto proto)
{
    switch (proto) {
    case OWL_AWS_NATIVE: return OWL_AWS_ERR_InvalidParameter;
    case OWL_AWS_QUERY: return OWL_AWS_ERR_MalformedQueryString;
    default: return OWL_AWS_ERR_SerializationException;
    }
}

/* ---- matching ---- */

static const owl_aws_op *find_op(const owl_aws_service *svc, const char *name, size_t n)
{
    for (size_t i = 0; i < svc->nops; i++)
        if (strlen(svc->ops[i].name) == n && memcmp(svc->ops[i].name, name, n) == 0)
            return &svc->ops[i];
    return NULL;
}

static int speaks(const owl_aws_service *svc, enum owl_aws_proto p)
{
    return (svc->protocols & OWL_AWS_PROTO_BIT(p)) != 0;
}

static void match_json(const owl_aws_service *const *svcs, size_t n, const owl_aws_request *rq,
                       owl_aws_match *m)
{
    m->proto = OWL_AWS_JSON;
    snprintf(m->op_name, sizeof m->op_name, "%s", rq->target);
    const char *dot = strrchr(rq->target, '.');
    if (!dot)
        return;
    size_t plen = (size_t)(dot - rq->target);
    for (size_t i = 0; i < n; i++) {
        const owl_aws_service *s = svcs[i];
        if (!speaks(s, OWL_AWS_JSON) || !s->json_prefix || strlen(s->json_prefix) != plen ||
            memcmp(s->json_prefix, rq->target, plen) != 0)
            continue;
        m->svc = s;
        m->op = find_op(s, dot + 1, strlen(dot + 1));
        return;
    }
}

/* POST /service/<S>/operation/<O>: 1 when the path has that form (m filled), else 0. */
static int match_cbor(const owl_aws_service *const *svcs, size_t n, const owl_aws_request *rq,
                      owl_aws_match *m)
{
    if (strcmp(rq->method, "POST") != 0 || strncmp(rq->path, "/service/", 9) != 0)
        return 0;
    const char *svc = rq->path + 9, *slash = strchr(svc, '/');
    if (!slash || strncmp(slash, "/operation/", 11) != 0 || strchr(slash + 11, '/'))
        return 0;
    const char *op = slash + 11;
    size_t slen = (size_t)(slash - svc);
    m->proto = OWL_AWS_CBOR;
    snprintf(m->op_name, sizeof m->op_name, "%.*s/%s", (int)slen, svc, op);
    for (size_t i = 0; i < n; i++) {
        const owl_aws_service *s = svcs[i];
        if (!speaks(s, OWL_AWS_CBOR) || !s->cbor_service || strlen(s->cbor_service) != slen ||
            memcmp(s->cbor_service, svc, slen) != 0)
            continue;
        m->svc = s;
        m->op = find_op(s, op, strlen(op));
        return 1;
    }
    return 1;
}

static int is_form(const char *ct)
{
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* A form POST to / or GET /?Action=: 1 when the request is a query-protocol one. */
static int match_query(const owl_aws_service *const *svcs, size_t n, const owl_aws_request *rq,
                       owl_aws_match *m)
{
    if (strcmp(rq->path, "/") != 0)
        return 0;
    char action[128];
    int form_post = strcmp(rq->method, "POST") == 0 && is_form(rq->content_type);
    int found;
    if (form_post)
        found = owl_aws_form_value(rq->body ? rq->body : "", rq->body_len, "Action", action,
                                   sizeof action);
    else
        found = owl_aws_form_value(rq->query, strlen(rq->query), "Action", action,
                                   sizeof action);
    /* a GET whose Action is malformed or repeated is still a query call (refused below),
     * not a REST path */
    if (!form_post && found == 0)
        return 0;
    m->proto = OWL_AWS_QUERY;
    if (found != 1)
        return 1;
    snprintf(m->op_name, sizeof m->op_name, "%s", action);
    for (size_t i = 0; i < n; i++) {
        const owl_aws_service *s = svcs[i];
        if (!speaks(s, OWL_AWS_QUERY))
            continue;
        /* query actions are named alike across services: the signed scope decides */
        if (rq->scope_service && s->signing_name && strcmp(rq->scope_service, s->signing_name))
            continue;
        const owl_aws_op *op = find_op(s, action, strlen(action));
        if (!m->svc)
            m->svc = s;
        if (op) {
            m->svc = s;
            m->op = op;
            return 1;
        }
    }
    return 1;
}

static void match_rest(const owl_aws_service *const *svcs, size_t n, const owl_aws_request *rq,
                       owl_aws_match *m)
{
    for (size_t i = 0; i < n; i++) {
        const owl_aws_service *s = svcs[i];
        if (!speaks(s, OWL_AWS_NATIVE) && !speaks(s, OWL_AWS_REST_JSON))
            continue;
        for (size_t j = 0; j < s->nops; j++) {
            const owl_aws_op *op = &s->ops[j];
            if (!op->uri || !op->method || owl_aws_uri_match(op->uri, rq->path, NULL) == 0)
                continue;
            if (strcmp(op->method, rq->method) == 0 ||
                (strcmp(op->method, "GET") == 0 && strcmp(rq->method, "HEAD") == 0)) {
                m->svc = s;
                m->op = op;
                m->proto = speaks(s, OWL_AWS_REST_JSON) ? OWL_AWS_REST_JSON : OWL_AWS_NATIVE;
                m->method_mismatch = 0;
                snprintf(m->op_name, sizeof m->op_name, "%s", op->name);
                return;
            }
            m->method_mismatch = 1;
        }
    }
}

void owl_aws_match_request(const owl_aws_service *const *svcs, size_t nsvcs,
                           const owl_aws_request *rq, owl_aws_match *m)
{
    memset(m, 0, sizeof *m);
    m->proto = OWL_AWS_NATIVE;
    if (rq->target) {
        match_json(svcs, nsvcs, rq, m);
        return;
    }
    if (match_cbor(svcs, nsvcs, rq, m) || match_query(svcs, nsvcs, rq, m))
        return;
    match_rest(svcs, nsvcs, rq, m);
}

/* ---- failing ---- */

int owl_aws_fail(owl_aws_ctx *ctx, owl_aws_err e, const char *fmt, ...)
{
    int status = owl_aws_err_status(e);
    int rc = status == 404 ? OWL_ENOTFOUND
             : status == 403 ? OWL_EDENIED
             : status >= 500 ? OWL_EINTERNAL
                             : OWL_EINVAL;
    if (!ctx || ctx->failed)
        return rc;
    ctx->failed = 1;
    ctx->status = status;
    snprintf(ctx->code, sizeof ctx->code, "%s", owl_aws_err_code(e));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    return rc;
}

int owl_aws_fail_owl(owl_aws_ctx *ctx, int rc, const char *message)
{
    owl_aws_fail(ctx, owl_aws_err_from_owl(ctx ? ctx->proto : OWL_AWS_NATIVE, rc), "%s",
                 message);
    return rc;
}

/* ---- replies ---- */

/* Appends "name: value\r\n", dropping control characters so a value cannot split the
 * header block. */
static void add_header(owl_buf *h, const char *name, const char *value)
{
    owl_buf_puts(h, name);
    owl_buf_puts(h, ": ");
    for (const char *v = value; *v; v++)
        if ((unsigned char)*v >= 0x20 && *v != 0x7f)
            owl_buf_putc(h, *v);
    owl_buf_puts(h, "\r\n");
}

static const char *json_content_type(const owl_aws_service *svc, const owl_aws_request *rq)
{
    const char *v = svc && svc->json_version ? svc->json_version : NULL;
    if (!v && rq && rq->content_type &&
        strncasecmp(rq->content_type, "application/x-amz-json-1.0", 26) == 0)
        v = "1.0";
    return v && strcmp(v, "1.0") == 0 ? "application/x-amz-json-1.0"
                                      : "application/x-amz-json-1.1";
}

static void json_error_body(owl_buf *b, const char *k1, const char *code, const char *k2,
                            const char *msg)
{
    owl_buf_puts(b, k1);
    owl_buf_json_str(b, code, strlen(code));
    owl_buf_puts(b, k2);
    owl_buf_json_str(b, msg, strlen(msg));
}

void owl_aws_error_reply(enum owl_aws_proto proto, const owl_aws_service *svc,
                         const owl_aws_request *rq, int status, const char *code,
                         const char *message, owl_aws_reply *r)
{
    owl_buf *b = r->body;
    int sender = code_is_sender(code, status);
    r->status = status;
    snprintf(r->error_code, sizeof r->error_code, "%s", code);
    owl_buf_reset(b);
    switch (proto) {
    case OWL_AWS_NATIVE:
        r->content_type = "application/json";
        json_error_body(b, "{\"error\":{\"code\":", code, ",\"message\":", message);
        owl_buf_puts(b, "}}");
        return;
    case OWL_AWS_QUERY: {
        const char *id = rq && rq->request_id ? rq->request_id : "";
        r->content_type = "text/xml";
        owl_buf_printf(b, "<ErrorResponse><Error><Type>%s</Type><Code>",
                       sender ? "Sender" : "Receiver");
        owl_aws_xml_escape(b, code, strlen(code));
        owl_buf_puts(b, "</Code><Message>");
        owl_aws_xml_escape(b, message, strlen(message));
        owl_buf_puts(b, "</Message></Error><RequestId>");
        owl_aws_xml_escape(b, id, strlen(id));
        owl_buf_puts(b, "</RequestId></ErrorResponse>\n");
        return;
    }
    case OWL_AWS_REST_JSON:
    case OWL_AWS_JSON:
        r->content_type = proto == OWL_AWS_JSON ? json_content_type(svc, rq) : "application/json";
        add_header(r->headers, "x-amzn-ErrorType", code);
        json_error_body(b, "{\"__type\":", code, ",\"message\":", message);
        owl_buf_putc(b, '}');
        break;
    case OWL_AWS_CBOR: {
        bson_t doc = BSON_INITIALIZER;
        r->content_type = "application/cbor";
        add_header(r->headers, "smithy-protocol", "rpc-v2-cbor");
        BSON_APPEND_UTF8(&doc, "__type", code);
        BSON_APPEND_UTF8(&doc, "message", message);
        owl_aws_cbor_encode(&doc, b);
        bson_destroy(&doc);
        break;
    }
    }
    if (svc && svc->query_compatible) {
        char v[96];
        snprintf(v, sizeof v, "%s;%s", code, sender ? "Sender" : "Receiver");
        add_header(r->headers, "x-amzn-query-error", v);
    }
}

/* ---- serving one request ---- */

static int decode(const owl_aws_match *m, const owl_aws_request *rq, bson_t *in, owl_error *err)
{
    const char *body = rq->body ? rq->body : "";
    switch (m->proto) {
    case OWL_AWS_JSON: /* a raw_body row decodes it itself (owl_aws_json_body) */
        return m->op->raw_body ? OWL_OK : owl_aws_json_decode(body, rq->body_len, in, err);
    case OWL_AWS_CBOR:
        return owl_aws_cbor_decode(body, rq->body_len, in, err);
    case OWL_AWS_QUERY:
        /* the parameters are where match_query found Action: a form body, else the query */
        if (strcmp(rq->method, "POST") == 0 && is_form(rq->content_type))
            return owl_aws_query_decode(body, rq->body_len, in, err);
        return owl_aws_query_decode(rq->query, strlen(rq->query), in, err);
    case OWL_AWS_NATIVE:
    case OWL_AWS_REST_JSON:
        return owl_aws_rest_bind(m->op, rq, in, err);
    }
    return owl_error_set(err, OWL_EINVAL, "unknown protocol");
}

int owl_aws_json_body(owl_aws_ctx *ctx, bson_t *in)
{
    const owl_aws_request *rq = ctx->rq;
    owl_error err = {0};
    if (ctx->proto != OWL_AWS_JSON)
        return owl_aws_fail(ctx, decode_error(ctx->proto), "%s takes an AWS JSON body",
                            ctx->op->name);
    int rc = owl_aws_json_decode(rq->body ? rq->body : "", rq->body_len, in, &err);
    if (rc != OWL_OK)
        owl_aws_fail(ctx, decode_error(ctx->proto), "%s", err.msg);
    return rc;
}

static void encode(const owl_aws_match *m, const owl_aws_request *rq, const bson_t *out,
                   owl_aws_reply *r)
{
    r->status = m->op->status ? m->op->status : 200;
    switch (m->proto) {
    case OWL_AWS_NATIVE:
    case OWL_AWS_REST_JSON:
        r->content_type = "application/json";
        owl_aws_json_encode(out, m->proto == OWL_AWS_NATIVE, r->body);
        break;
    case OWL_AWS_JSON:
        r->content_type = json_content_type(m->svc, rq);
        owl_aws_json_encode(out, 0, r->body);
        break;
    case OWL_AWS_QUERY:
        r->content_type = "text/xml";
        owl_aws_xml_encode(m->op->name, m->svc->xml_ns, out, m->op->empty_result, rq->request_id,
                           r->body);
        break;
    case OWL_AWS_CBOR:
        r->content_type = "application/cbor";
        add_header(r->headers, "smithy-protocol", "rpc-v2-cbor");
        owl_aws_cbor_encode(out, r->body);
        break;
    }
}

int owl_aws_serve(const owl_aws_match *m, const owl_aws_request *rq, void *ud,
                  owl_aws_reply *reply)
{
    if (!m->op || !m->svc)
        return OWL_EINVAL;
    bson_t in = BSON_INITIALIZER, out = BSON_INITIALIZER;
    owl_aws_ctx ctx = {.svc = m->svc, .op = m->op, .proto = m->proto, .rq = rq, .ud = ud};
    owl_error err = {0};
    reply->error_code[0] = '\0';
    int rc = decode(m, rq, &in, &err);
    if (rc != OWL_OK) {
        owl_aws_fail(&ctx, decode_error(m->proto), "%s", err.msg);
        goto answer;
    }
    rc = m->op->fn(&ctx, &in, &out);
    if (rc != OWL_OK && !ctx.failed)
        owl_aws_fail(&ctx,
                     m->proto == OWL_AWS_NATIVE ? OWL_AWS_ERR_InternalError
                                                : OWL_AWS_ERR_InternalFailure,
                     "%s failed: %s", m->op->name, owl_strerror(rc));
answer:
    if (ctx.failed) {
        owl_aws_error_reply(m->proto, m->svc, rq, ctx.status, ctx.code, ctx.message, reply);
        if (rc == OWL_OK)
            rc = OWL_EINVAL;
    } else {
        encode(m, rq, &out, reply);
    }
    bson_destroy(&in);
    bson_destroy(&out);
    return rc;
}

/* ---- strict decoding ---- */

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int owl_aws_dup_key(const bson_t *doc, const char **dup)
{
    enum { SMALL = 8 };
    const char *keys[SMALL], **all = keys;
    size_t n = 0, cap = SMALL;
    int rc = 0;
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return 0;
    while (bson_iter_next(&it)) {
        if (n == cap) {
            const char **g = all == keys ? malloc(2 * cap * sizeof *g)
                                         : realloc(all, 2 * cap * sizeof *g);
            if (!g) {
                rc = OWL_ENOMEM;
                goto out;
            }
            if (all == keys)
                memcpy(g, keys, sizeof keys);
            all = g, cap *= 2;
        }
        all[n++] = bson_iter_key(&it);
    }
    if (n <= SMALL) {
        for (size_t i = 0; i < n && !rc; i++)
            for (size_t j = i + 1; j < n && !rc; j++)
                if (strcmp(all[i], all[j]) == 0)
                    rc = 1, *dup = all[i];
        goto out;
    }
    qsort(all, n, sizeof *all, key_cmp);
    for (size_t i = 1; i < n && !rc; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            rc = 1, *dup = all[i];
out:
    if (all != keys)
        free(all);
    return rc;
}

/* ---- typed getters ---- */

/* Finds name (a field or a dotted path); OWL_ENOTFOUND for absent or null. */
static int find(const bson_t *doc, const char *name, bson_iter_t *it)
{
    bson_iter_t root;
    if (!bson_iter_init(&root, doc))
        return OWL_ENOTFOUND;
    int found = strchr(name, '.') ? bson_iter_find_descendant(&root, name, it)
                                  : (*it = root, bson_iter_find(it, name));
    if (!found || BSON_ITER_HOLDS_NULL(it))
        return OWL_ENOTFOUND;
    return OWL_OK;
}

static int wrong(owl_aws_ctx *ctx, const char *name, const char *want)
{
    if (ctx)
        owl_aws_fail(ctx,
                     ctx->proto == OWL_AWS_NATIVE  ? OWL_AWS_ERR_InvalidParameter
                     : ctx->proto == OWL_AWS_QUERY ? OWL_AWS_ERR_InvalidParameterValue
                                                   : OWL_AWS_ERR_ValidationException,
                     "%s must be %s", name, want);
    return OWL_EINVAL;
}

int owl_aws_get_str(owl_aws_ctx *ctx, const bson_t *doc, const char *name, const char **out,
                    size_t *len)
{
    bson_iter_t it;
    if (find(doc, name, &it) != OWL_OK)
        return OWL_ENOTFOUND;
    if (!BSON_ITER_HOLDS_UTF8(&it))
        return wrong(ctx, name, "a string");
    uint32_t n;
    *out = bson_iter_utf8(&it, &n);
    if (len)
        *len = n;
    return OWL_OK;
}

/* Parses all of s as a number: integral (strtoll) or not. 0 on success. */
static int parse_num(const char *s, int want_int, int64_t *i, double *d)
{
    char *end;
    if (!*s || strlen(s) > 64)
        return -1;
    if (want_int) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end || errno == ERANGE)
            return -1;
        *i = v;
        return 0;
    }
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *d = v;
    return 0;
}

int owl_aws_get_int(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int64_t *out)
{
    bson_iter_t it;
    if (find(doc, name, &it) != OWL_OK)
        return OWL_ENOTFOUND;
    if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
        *out = bson_iter_as_int64(&it);
        return OWL_OK;
    }
    if (BSON_ITER_HOLDS_DOUBLE(&it)) {
        double d = bson_iter_double(&it);
        if (d == floor(d) && fabs(d) < 9.2e18) {
            *out = (int64_t)d;
            return OWL_OK;
        }
    } else if (BSON_ITER_HOLDS_UTF8(&it)) {
        int64_t v;
        if (parse_num(bson_iter_utf8(&it, NULL), 1, &v, NULL) == 0) {
            *out = v;
            return OWL_OK;
        }
    }
    return wrong(ctx, name, "an integer");
}

int owl_aws_get_double(owl_aws_ctx *ctx, const bson_t *doc, const char *name, double *out)
{
    bson_iter_t it;
    if (find(doc, name, &it) != OWL_OK)
        return OWL_ENOTFOUND;
    if (BSON_ITER_HOLDS_NUMBER(&it)) {
        *out = bson_iter_as_double(&it);
        return OWL_OK;
    }
    double v;
    if (BSON_ITER_HOLDS_UTF8(&it) && parse_num(bson_iter_utf8(&it, NULL), 0, NULL, &v) == 0) {
        *out = v;
        return OWL_OK;
    }
    return wrong(ctx, name, "a number");
}

int owl_aws_get_bool(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int *out)
{
    bson_iter_t it;
    if (find(doc, name, &it) != OWL_OK)
        return OWL_ENOTFOUND;
    if (BSON_ITER_HOLDS_BOOL(&it)) {
        *out = bson_iter_bool(&it);
        return OWL_OK;
    }
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        const char *s = bson_iter_utf8(&it, NULL);
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
            *out = strcasecmp(s, "true") == 0;
            return OWL_OK;
        }
    }
    return wrong(ctx, name, "true or false");
}

/* Epoch seconds (fractions allowed) to ms, refusing what does not fit. */
static int secs_to_ms(double secs, int64_t *ms)
{
    if (!isfinite(secs) || fabs(secs) > 9.2e12)
        return -1;
    *ms = (int64_t)llround(secs * 1000.0);
    return 0;
}

int owl_aws_get_time_ms(owl_aws_ctx *ctx, const bson_t *doc, const char *name, int64_t *out)
{
    bson_iter_t it;
    if (find(doc, name, &it) != OWL_OK)
        return OWL_ENOTFOUND;
    if (BSON_ITER_HOLDS_DATE_TIME(&it)) {
        *out = bson_iter_date_time(&it);
        return OWL_OK;
    }
    if (BSON_ITER_HOLDS_NUMBER(&it) && secs_to_ms(bson_iter_as_double(&it), out) == 0)
        return OWL_OK;
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t n;
        const char *s = bson_iter_utf8(&it, &n);
        double secs;
        /* a bare number is epoch seconds, as in the JSON protocols; else RFC 3339 */
        if (strspn(s, "0123456789.-") == n && !strchr(s + (n ? 1 : 0), '-') &&
            parse_num(s, 0, NULL, &secs) == 0 && secs_to_ms(secs, out) == 0)
            return OWL_OK;
        int64_t ms;
        if (strspn(s, "0123456789") != n && owl_time_parse(s, n, &ms) == OWL_OK) {
            *out = ms;
            return OWL_OK;
        }
    }
    return wrong(ctx, name, "a timestamp (ISO 8601 or epoch seconds)");
}

int owl_aws_get_list(owl_aws_ctx *ctx, const bson_t *doc, const char *name, bson_iter_t *it)
{
    bson_iter_t f;
    if (find(doc, name, &f) != OWL_OK)
        return OWL_ENOTFOUND;
    if (BSON_ITER_HOLDS_ARRAY(&f) && bson_iter_recurse(&f, it))
        return OWL_OK;
    return wrong(ctx, name, "a list");
}

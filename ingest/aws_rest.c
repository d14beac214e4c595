/* aws_rest.c — REST binding (REST-JSON services such as X-Ray, and owl's native API): a
 * row's URI pattern is matched segment by segment, its {Label}s, the query parameters it
 * names and the JSON body's fields become one input document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/aws_int.h"

int owl_aws_uri_walk(const char *pattern, const char *path, size_t max_labels,
                     owl_aws_label_fn fn, void *ud)
{
    const char *p = pattern, *s = path;
    size_t nlabels = 0;
    while (*p == '/' && *s == '/') {
        p++, s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || nlabels == max_labels)
                return 0;
            nlabels++;
            if (fn) {
                char *val = malloc(slen + 1);
                if (!val)
                    return OWL_ENOMEM;
                long n = owl_aws_percent_decode(s, slen, val, 0);
                int rc = n < 0 ? OWL_EINVAL : fn(ud, p + 1, plen - 2, val, (size_t)n);
                free(val);
                if (rc != 1)
                    return rc;
            }
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen, s += slen;
        /* one trailing slash on the request is tolerated */
        if (*p == '\0' && s[0] == '/' && s[1] == '\0')
            s++;
    }
    return *p == '\0' && *s == '\0';
}

/* owl_aws_label_fn for owl_aws_uri_match: the label as a UTF-8 string field of ud. */
static int label_to_bson(void *ud, const char *name, size_t name_len, const char *value,
                         size_t value_len)
{
    return bson_utf8_validate(value, value_len, true) &&
                   bson_append_utf8(ud, name, (int)name_len, value, (int)value_len)
               ? 1
               : OWL_EINVAL;
}

int owl_aws_uri_match(const char *pattern, const char *path, bson_t *labels)
{
    return owl_aws_uri_walk(pattern, path, SIZE_MAX, labels ? label_to_bson : NULL, labels);
}

static int bind_query(const owl_aws_op *op, const owl_aws_request *rq, bson_t *in,
                      owl_error *err)
{
    if (!op->query_params)
        return OWL_OK;
    size_t qlen = strlen(rq->query);
    char *v = malloc(qlen + 1);
    if (!v)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = OWL_OK;
    for (const char *const *name = op->query_params; *name && rc == OWL_OK; name++) {
        int r = owl_aws_form_value(rq->query, qlen, *name, v, qlen + 1);
        if (r < 0 || (r == 1 && !bson_utf8_validate(v, strlen(v), false)))
            rc = owl_error_set(err, OWL_EINVAL, "malformed query parameter %s", *name);
        else if (r == 1 && bson_has_field(in, *name))
            rc = owl_error_set(err, OWL_EINVAL, "%s is given twice", *name);
        else if (r == 1 && !bson_append_utf8(in, *name, -1, v, -1))
            rc = owl_error_set(err, OWL_EINVAL, "request too large");
    }
    free(v);
    return rc;
}

int owl_aws_rest_bind(const owl_aws_op *op, const owl_aws_request *rq, bson_t *in,
                      owl_error *err)
{
    int m = op->uri ? owl_aws_uri_match(op->uri, rq->path, in) : 1;
    if (m == OWL_ENOMEM)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (m != 1)
        return owl_error_set(err, OWL_EINVAL, "malformed percent-escape in the path");
    int rc = bind_query(op, rq, in, err);
    if (rc != OWL_OK || op->raw_body || rq->body_len == 0 || strcmp(rq->method, "GET") == 0 ||
        strcmp(rq->method, "HEAD") == 0 || strcmp(rq->method, "DELETE") == 0)
        return rc;
    bson_t body = BSON_INITIALIZER, bound;
    bson_iter_t it;
    /* names taken from the URI and query, checked against the body's (a copy: looking them
     * up in `in` while it grows would be quadratic) */
    bson_copy_to(in, &bound);
    rc = owl_aws_json_decode(rq->body, rq->body_len, &body, err);
    if (rc == OWL_OK && bson_iter_init(&it, &body)) {
        while (rc == OWL_OK && bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            bson_iter_t b;
            if (bson_iter_init_find(&b, &bound, k))
                rc = owl_error_set(err, OWL_EINVAL, "%s is given in the body and the URI", k);
            else if (!bson_append_iter(in, k, -1, &it))
                rc = owl_error_set(err, OWL_EINVAL, "request too large");
        }
    }
    bson_destroy(&body);
    bson_destroy(&bound);
    return rc;
}

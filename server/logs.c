/* logs.c — the CloudWatch Logs actions (AWS JSON 1.1, X-Amz-Target Logs_20140328.<Action>,
 * signing name "logs") as rows of the action layer: groups, streams, PutLogEvents,
 * GetLogEvents, FilterLogEvents, retention and tags; owl's native reads under /api/v1/logs/;
 * and the two other ways logs come in, OTLP/HTTP (POST /v1/logs) and raw lines
 * (POST /api/v1/logs?group=&stream=), stored through the same call. Handlers only translate
 * between the request and ingest/'s logs module (owl_logs_*), whose error texts are
 * CloudWatch's; docs/api/logs.md lists every action and what differs from AWS. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "server/router.h"
#include "server/server.h"

#define REGION "us-east-1" /* owl's one region, as in the alarms' ARNs */
#define MAX_FILTER_STREAMS 100

static owl_logs *logs_of(owl_aws_ctx *ctx)
{
    owl_call *call = ctx->ud;
    return call->srv->logs;
}

static const char *tenant_of(owl_aws_ctx *ctx)
{
    owl_call *call = ctx->ud;
    return call->principal->tenant;
}

static void resource(owl_aws_ctx *ctx, const char *kind, const char *name)
{
    owl_call *call = ctx->ud;
    int k = snprintf(call->resource, sizeof call->resource, "%s/", kind);
    if (k > 0 && (size_t)k < sizeof call->resource) /* a long name is cut, as before */
        owl_strlcpy(call->resource + k, name, sizeof call->resource - (size_t)k);
}

/* Answers the module's error with its CloudWatch code; the text is already CloudWatch's. */
static int fail(owl_aws_ctx *ctx, int rc, const owl_error *e)
{
    owl_aws_err id;
    if (ctx->proto == OWL_AWS_NATIVE) /* owl's own codes (docs/api.md) */
        return owl_aws_fail_owl(ctx, rc, e->msg[0] ? e->msg : owl_strerror(rc));
    switch (rc) {
    case OWL_ENOTFOUND:
        id = OWL_AWS_ERR_ResourceNotFoundException;
        break;
    case OWL_EEXISTS:
        id = OWL_AWS_ERR_ResourceAlreadyExistsException;
        break;
    case OWL_EINVAL:
        id = OWL_AWS_ERR_InvalidParameterException;
        break;
    case OWL_ERANGE:
        id = OWL_AWS_ERR_LimitExceededException;
        break;
    case OWL_ENOSPC:
    case OWL_EIO:
    case OWL_ENOMEM:
    case OWL_ECLOSED:
        id = OWL_AWS_ERR_ServiceUnavailableException;
        break;
    default:
        id = OWL_AWS_ERR_InternalFailure;
    }
    return owl_aws_fail(ctx, id, "%s", e->msg[0] ? e->msg : owl_strerror(rc));
}

static int invalid(owl_aws_ctx *ctx, const char *fmt, const char *field)
{
    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterException, fmt, field);
}

/* A required string field; fails the ctx when absent or not a string. */
static int need_str(owl_aws_ctx *ctx, const bson_t *in, const char *name, const char **out)
{
    int rc = owl_aws_get_str(ctx, in, name, out, NULL);
    if (rc == OWL_ENOTFOUND)
        return invalid(ctx,
                       "1 validation error detected: Value null at '%s' failed to satisfy "
                       "constraint: Member must not be null",
                       name);
    return rc == OWL_OK ? OWL_OK : OWL_EINVAL;
}

/* An optional string field: OWL_OK (*out NULL when absent) or OWL_EINVAL (ctx failed). */
static int opt_str(owl_aws_ctx *ctx, const bson_t *in, const char *name, const char **out)
{
    *out = NULL;
    int rc = owl_aws_get_str(ctx, in, name, out, NULL);
    return rc == OWL_ENOTFOUND ? OWL_OK : rc;
}

/* An optional integer in [lo, hi] (dflt when absent). */
static int opt_int(owl_aws_ctx *ctx, const bson_t *in, const char *name, int64_t lo, int64_t hi,
                   int64_t dflt, int64_t *out)
{
    int rc = owl_aws_get_int(ctx, in, name, out);
    if (rc == OWL_ENOTFOUND) {
        *out = dflt;
        return OWL_OK;
    }
    if (rc != OWL_OK)
        return rc;
    if (*out < lo || *out > hi)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterException,
                            "1 validation error detected: Value '%" PRId64 "' at '%s' failed "
                            "to satisfy constraint: Member must have value %s %" PRId64,
                            *out, name,
                            *out < lo ? "greater than or equal to" : "less than or equal to",
                            *out < lo ? lo : hi);
    return OWL_OK;
}

/* The group name in an ARN arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] of this tenant,
 * copied into out. OWL_OK, OWL_EINVAL (not such an ARN), OWL_ENOTFOUND (another account). */
static int arn_group(const char *arn, const char *tenant, char *out, size_t outsz)
{
    const char *p = arn;
    if (strncmp(p, "arn:", 4) != 0)
        return OWL_EINVAL;
    p += 4;
    p = strchr(p, ':'); /* partition */
    if (!p || strncmp(p, ":logs:", 6) != 0)
        return OWL_EINVAL;
    p = strchr(p + 6, ':'); /* region */
    if (!p)
        return OWL_EINVAL;
    const char *acct = p + 1, *q = strchr(acct, ':');
    if (!q || strncmp(q, ":log-group:", 11) != 0)
        return OWL_EINVAL;
    const char *name = q + 11;
    size_t n = strlen(name);
    if (n >= 2 && strcmp(name + n - 2, ":*") == 0)
        n -= 2;
    if (n == 0 || n >= outsz || memchr(name, ':', n))
        return OWL_EINVAL;
    if ((size_t)(q - acct) != strlen(tenant) || strncmp(acct, tenant, strlen(tenant)) != 0)
        return OWL_ENOTFOUND;
    memcpy(out, name, n);
    out[n] = 0;
    return OWL_OK;
}

/* The log group a request names: logGroupName, or logGroupIdentifier (a name or an ARN). */
static int group_of(owl_aws_ctx *ctx, const bson_t *in, char out[OWL_LOGS_NAME_MAX + 1])
{
    const char *name, *ident;
    if (opt_str(ctx, in, "logGroupName", &name) != OWL_OK ||
        opt_str(ctx, in, "logGroupIdentifier", &ident) != OWL_OK)
        return OWL_EINVAL;
    if (name && ident)
        return invalid(ctx, "LogGroup name and LogGroup ARN are mutually exclusive parameters.%s",
                       "");
    if (!name && !ident)
        return invalid(ctx, "Either %s or logGroupIdentifier must be specified", "logGroupName");
    if (name || strncmp(ident, "arn:", 4) != 0) {
        const char *n = name ? name : ident;
        if (strlen(n) > OWL_LOGS_NAME_MAX)
            return invalid(ctx, "1 validation error detected: Value at '%s' failed to satisfy "
                                "constraint: Member must have length less than or equal to 512",
                           name ? "logGroupName" : "logGroupIdentifier");
        owl_strlcpy(out, n, OWL_LOGS_NAME_MAX + 1);
    } else {
        int rc = arn_group(ident, tenant_of(ctx), out, OWL_LOGS_NAME_MAX + 1);
        if (rc == OWL_EINVAL)
            return invalid(ctx, "Invalid log group ARN: %.300s", ident);
        if (rc != OWL_OK)
            return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFoundException,
                                "The specified log group does not exist.");
    }
    resource(ctx, "log-group", out);
    return OWL_OK;
}

static void group_arn(const char *tenant, const char *name, int star, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:logs:" REGION ":%s:log-group:%s%s", tenant, name, star ? ":*" : "");
}

/* A tags map {key: value} at field name: keys and values point into in. */
typedef struct tagset {
    const char *k[OWL_LOGS_MAX_TAGS + 1], *v[OWL_LOGS_MAX_TAGS + 1];
    size_t n;
} tagset;

static int read_tags(owl_aws_ctx *ctx, const bson_t *in, const char *name, int required,
                     tagset *t)
{
    bson_iter_t it, m;
    t->n = 0;
    if (!bson_iter_init_find(&it, in, name) || BSON_ITER_HOLDS_NULL(&it))
        return required ? need_str(ctx, in, name, &t->k[0]) : OWL_OK;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &m))
        return invalid(ctx, "%s must be a map of strings", name);
    while (bson_iter_next(&m)) {
        if (!BSON_ITER_HOLDS_UTF8(&m))
            return invalid(ctx, "%s must be a map of strings", name);
        if (t->n == OWL_LOGS_MAX_TAGS)
            return invalid(ctx,
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length less than or equal to 50",
                           name);
        t->k[t->n] = bson_iter_key(&m);
        t->v[t->n++] = bson_iter_utf8(&m, NULL);
    }
    if (required && t->n == 0)
        return invalid(ctx,
                       "1 validation error detected: Value '{}' at '%s' failed to satisfy "
                       "constraint: Member must have length greater than or equal to 1",
                       name);
    return OWL_OK;
}

/* A list of tag keys at field name. */
static int read_keys(owl_aws_ctx *ctx, const bson_t *in, const char *name, tagset *t)
{
    bson_iter_t it;
    t->n = 0;
    int rc = owl_aws_get_list(ctx, in, name, &it);
    if (rc == OWL_ENOTFOUND)
        return need_str(ctx, in, name, &t->k[0]);
    if (rc != OWL_OK)
        return rc;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_UTF8(&it))
            return invalid(ctx, "%s must be a list of strings", name);
        if (t->n == OWL_LOGS_MAX_TAGS)
            return invalid(ctx,
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length less than or equal to 50",
                           name);
        t->k[t->n++] = bson_iter_utf8(&it, NULL);
    }
    return OWL_OK;
}

/* ---- groups ---- */

static int create_log_group(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name, *cls;
    tagset t;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK ||
        opt_str(ctx, in, "logGroupClass", &cls) != OWL_OK ||
        read_tags(ctx, in, "tags", 0, &t) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    if (cls && strcmp(cls, "STANDARD") != 0)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterException,
                            "logGroupClass %.40s is not supported (only STANDARD)", cls);
    owl_error e = {0};
    int rc = owl_logs_create_group(logs_of(ctx), tenant_of(ctx), name, t.k, t.v, t.n, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int delete_log_group(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    owl_error e = {0};
    int rc = owl_logs_delete_group(logs_of(ctx), tenant_of(ctx), name, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static void append_group(bson_t *arr, size_t i, const char *tenant, const owl_logs_group *g)
{
    char key[24], arn[700];
    bson_t d;
    snprintf(key, sizeof key, "%zu", i);
    BSON_APPEND_DOCUMENT_BEGIN(arr, key, &d);
    BSON_APPEND_UTF8(&d, "logGroupName", g->name);
    BSON_APPEND_INT64(&d, "creationTime", g->created_ms);
    if (g->retention_days)
        BSON_APPEND_INT32(&d, "retentionInDays", g->retention_days);
    BSON_APPEND_INT32(&d, "metricFilterCount", (int32_t)g->metric_filters);
    group_arn(tenant, g->name, 1, arn, sizeof arn);
    BSON_APPEND_UTF8(&d, "arn", arn);
    BSON_APPEND_INT64(&d, "storedBytes", (int64_t)g->stored_bytes);
    BSON_APPEND_UTF8(&d, "logGroupClass", "STANDARD");
    group_arn(tenant, g->name, 0, arn, sizeof arn);
    BSON_APPEND_UTF8(&d, "logGroupArn", arn);
    bson_append_document_end(arr, &d);
}

static int describe_log_groups(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *prefix, *pattern, *token;
    int64_t limit;
    if (opt_str(ctx, in, "logGroupNamePrefix", &prefix) != OWL_OK ||
        opt_str(ctx, in, "logGroupNamePattern", &pattern) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &token) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, 50, 50, &limit) != OWL_OK)
        return OWL_EINVAL;
    if (prefix && pattern)
        return invalid(ctx, "LogGroup name prefix and LogGroup name pattern are mutually "
                            "exclusive parameters.%s", "");
    owl_logs_group *v = malloc((size_t)limit * sizeof *v);
    if (!v)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ServiceUnavailableException, "out of memory");
    size_t n = 0;
    int more = 0;
    owl_error e = {0};
    int rc = owl_logs_list_groups(logs_of(ctx), tenant_of(ctx), prefix,
                                  pattern && *pattern ? pattern : NULL, token, (size_t)limit, v,
                                  &n, &more, &e);
    if (rc != OWL_OK) {
        free(v);
        return fail(ctx, rc, &e);
    }
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "logGroups", &arr);
    for (size_t i = 0; i < n; i++)
        append_group(&arr, i, tenant_of(ctx), &v[i]);
    bson_append_array_end(out, &arr);
    if (more && n)
        BSON_APPEND_UTF8(out, "nextToken", v[n - 1].name);
    free(v);
    return OWL_OK;
}

static int put_retention_policy(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name;
    int64_t days;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    int rc = owl_aws_get_int(ctx, in, "retentionInDays", &days);
    if (rc == OWL_ENOTFOUND)
        return need_str(ctx, in, "retentionInDays", &name);
    if (rc != OWL_OK)
        return rc;
    if (days < 1 || days > 3653 || !owl_logs_retention_ok((int)days)) /* 0 would remove it */
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterException,
                            "1 validation error detected: Value '%" PRId64 "' at "
                            "'retentionInDays' failed to satisfy constraint: Member must satisfy "
                            "enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, "
                            "545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
                            days);
    owl_error e = {0};
    rc = owl_logs_set_retention(logs_of(ctx), tenant_of(ctx), name, (int)days, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int delete_retention_policy(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    owl_error e = {0};
    int rc = owl_logs_set_retention(logs_of(ctx), tenant_of(ctx), name, 0, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

/* ---- tags ---- */

static int tags_out(owl_aws_ctx *ctx, const char *name, bson_t *out)
{
    bson_t tags;
    owl_error e = {0};
    int rc = owl_logs_tags(logs_of(ctx), tenant_of(ctx), name, &tags, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    BSON_APPEND_DOCUMENT(out, "tags", &tags);
    bson_destroy(&tags);
    return OWL_OK;
}

/* The group of resourceArn (a log group ARN of this tenant). */
static int arn_of(owl_aws_ctx *ctx, const bson_t *in, char name[OWL_LOGS_NAME_MAX + 1])
{
    const char *arn;
    if (need_str(ctx, in, "resourceArn", &arn) != OWL_OK)
        return OWL_EINVAL;
    int rc = arn_group(arn, tenant_of(ctx), name, OWL_LOGS_NAME_MAX + 1);
    if (rc == OWL_EINVAL)
        return invalid(ctx, "Invalid resource ARN: %.300s", arn);
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFoundException,
                            "The specified log group does not exist.");
    resource(ctx, "log-group", name);
    return OWL_OK;
}

static int do_tag(owl_aws_ctx *ctx, const char *name, const tagset *t)
{
    owl_error e = {0};
    int rc = owl_logs_tag(logs_of(ctx), tenant_of(ctx), name, t->k, t->v, t->n, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int do_untag(owl_aws_ctx *ctx, const char *name, const tagset *t)
{
    owl_error e = {0};
    int rc = owl_logs_untag(logs_of(ctx), tenant_of(ctx), name, t->k, t->n, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int tag_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    char name[OWL_LOGS_NAME_MAX + 1];
    tagset t;
    if (arn_of(ctx, in, name) != OWL_OK || read_tags(ctx, in, "tags", 1, &t) != OWL_OK)
        return OWL_EINVAL;
    return do_tag(ctx, name, &t);
}

static int untag_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    char name[OWL_LOGS_NAME_MAX + 1];
    tagset t;
    if (arn_of(ctx, in, name) != OWL_OK || read_keys(ctx, in, "tagKeys", &t) != OWL_OK)
        return OWL_EINVAL;
    return do_untag(ctx, name, &t);
}

static int list_tags_for_resource(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    char name[OWL_LOGS_NAME_MAX + 1];
    if (arn_of(ctx, in, name) != OWL_OK)
        return OWL_EINVAL;
    return tags_out(ctx, name, out);
}

static int tag_log_group(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name;
    tagset t;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK ||
        read_tags(ctx, in, "tags", 1, &t) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    return do_tag(ctx, name, &t);
}

static int untag_log_group(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    const char *name;
    tagset t;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK ||
        read_keys(ctx, in, "tags", &t) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    return do_untag(ctx, name, &t);
}

static int list_tags_log_group(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *name;
    if (need_str(ctx, in, "logGroupName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", name);
    return tags_out(ctx, name, out);
}

/* ---- streams ---- */

/* CreateLogStream and DeleteLogStream: {logGroupName, logStreamName} in, nothing out. */
static int stream_op(owl_aws_ctx *ctx, const bson_t *in,
                     int (*op)(owl_logs *, const char *, const char *, const char *,
                               owl_error *))
{
    const char *group, *name;
    if (need_str(ctx, in, "logGroupName", &group) != OWL_OK ||
        need_str(ctx, in, "logStreamName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", group);
    owl_error e = {0};
    int rc = op(logs_of(ctx), tenant_of(ctx), group, name, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int create_log_stream(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    return stream_op(ctx, in, owl_logs_create_stream);
}

static int delete_log_stream(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    return stream_op(ctx, in, owl_logs_delete_stream);
}

static int describe_log_streams(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    char group[OWL_LOGS_NAME_MAX + 1];
    const char *prefix, *order_by, *token;
    int64_t limit;
    int desc = 0;
    if (group_of(ctx, in, group) != OWL_OK ||
        opt_str(ctx, in, "logStreamNamePrefix", &prefix) != OWL_OK ||
        opt_str(ctx, in, "orderBy", &order_by) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &token) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, 50, 50, &limit) != OWL_OK ||
        owl_aws_get_bool(ctx, in, "descending", &desc) == OWL_EINVAL)
        return OWL_EINVAL;
    enum owl_logs_order order = OWL_LOGS_BY_NAME;
    if (order_by && strcmp(order_by, "LastEventTime") == 0)
        order = OWL_LOGS_BY_LAST_EVENT;
    else if (order_by && strcmp(order_by, "LogStreamName") != 0)
        return invalid(ctx,
                       "1 validation error detected: Value '%.60s' at 'orderBy' failed to "
                       "satisfy constraint: Member must satisfy enum value set: [LogStreamName, "
                       "LastEventTime]",
                       order_by);
    owl_logs_stream *v = malloc((size_t)limit * sizeof *v);
    char *next = malloc(OWL_LOGS_TOKEN_MAX);
    owl_error e = {0};
    size_t n = 0;
    int rc = v && next ? owl_logs_list_streams(logs_of(ctx), tenant_of(ctx), group, prefix, order,
                                               desc, token, (size_t)limit, v, &n, next, &e)
                       : owl_error_set(&e, OWL_ENOMEM, "out of memory");
    if (rc != OWL_OK) {
        free(v);
        free(next);
        return fail(ctx, rc, &e);
    }
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "logStreams", &arr);
    for (size_t i = 0; i < n; i++) {
        char key[24], arn[1200], seq[64];
        bson_t d;
        const owl_logs_stream *s = &v[i];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        BSON_APPEND_UTF8(&d, "logStreamName", s->name);
        BSON_APPEND_INT64(&d, "creationTime", s->created_ms);
        if (s->last_ingest_ms) {
            BSON_APPEND_INT64(&d, "firstEventTimestamp", s->first_event_ms);
            BSON_APPEND_INT64(&d, "lastEventTimestamp", s->last_event_ms);
            BSON_APPEND_INT64(&d, "lastIngestionTime", s->last_ingest_ms);
        }
        snprintf(seq, sizeof seq, "%056" PRIu64, s->upload_seq);
        BSON_APPEND_UTF8(&d, "uploadSequenceToken", seq);
        snprintf(arn, sizeof arn, "arn:aws:logs:" REGION ":%s:log-group:%s:log-stream:%s",
                 tenant_of(ctx), group, s->name);
        BSON_APPEND_UTF8(&d, "arn", arn);
        BSON_APPEND_INT64(&d, "storedBytes", 0); /* deprecated by CloudWatch: always 0 */
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(out, &arr);
    if (next[0])
        BSON_APPEND_UTF8(out, "nextToken", next);
    free(v);
    free(next);
    return OWL_OK;
}

/* ---- events ---- */

/* Stores the events of one PutLogEvents, however read, and answers. */
static int put_events(owl_aws_ctx *ctx, const char *group, const char *stream,
                      const owl_log_event *ev, size_t n, bson_t *out)
{
    owl_logs_put_result res;
    owl_error e = {0};
    int rc = owl_logs_put(logs_of(ctx), tenant_of(ctx), group, stream, ev, n, 0, &res, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    char seq[64];
    snprintf(seq, sizeof seq, "%056" PRIu64, res.upload_seq);
    BSON_APPEND_UTF8(out, "nextSequenceToken", seq);
    if (res.too_new_start >= 0 || res.too_old_end >= 0 || res.expired_end >= 0) {
        bson_t r;
        BSON_APPEND_DOCUMENT_BEGIN(out, "rejectedLogEventsInfo", &r);
        if (res.too_new_start >= 0)
            BSON_APPEND_INT32(&r, "tooNewLogEventStartIndex", (int32_t)res.too_new_start);
        if (res.too_old_end >= 0)
            BSON_APPEND_INT32(&r, "tooOldLogEventEndIndex", (int32_t)res.too_old_end);
        if (res.expired_end >= 0)
            BSON_APPEND_INT32(&r, "expiredLogEventEndIndex", (int32_t)res.expired_end);
        bson_append_document_end(out, &r);
    }
    return OWL_OK;
}

/* PutLogEvents read from its decoded document: the general path, which answers every error. */
static int put_log_events_doc(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *stream, *tok;
    bson_iter_t it;
    if (need_str(ctx, in, "logGroupName", &group) != OWL_OK ||
        need_str(ctx, in, "logStreamName", &stream) != OWL_OK ||
        opt_str(ctx, in, "sequenceToken", &tok) != OWL_OK) /* accepted and ignored */
        return OWL_EINVAL;
    resource(ctx, "log-group", group);
    int rc = owl_aws_get_list(ctx, in, "logEvents", &it);
    if (rc == OWL_ENOTFOUND)
        return need_str(ctx, in, "logEvents", &tok);
    if (rc != OWL_OK)
        return rc;
    size_t n = 0, cap = 0;
    owl_log_event *ev = NULL;
    while (bson_iter_next(&it)) {
        bson_iter_t f;
        const char *msg = NULL;
        uint32_t mlen = 0;
        int64_t ts = 0;
        int have_ts = 0;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &f)) {
            free(ev);
            return invalid(ctx, "%s members must be structures", "logEvents");
        }
        while (bson_iter_next(&f)) {
            if (strcmp(bson_iter_key(&f), "message") == 0 && BSON_ITER_HOLDS_UTF8(&f))
                msg = bson_iter_utf8(&f, &mlen);
            else if (strcmp(bson_iter_key(&f), "timestamp") == 0 &&
                     (BSON_ITER_HOLDS_INT32(&f) || BSON_ITER_HOLDS_INT64(&f)))
                ts = bson_iter_as_int64(&f), have_ts = 1;
        }
        if (!msg || !have_ts) {
            free(ev);
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameterException,
                                "1 validation error detected: Value null at "
                                "'logEvents.%zu.member.%s' failed to satisfy constraint: Member "
                                "must not be null",
                                n + 1, msg ? "timestamp" : "message");
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            owl_log_event *ne = realloc(ev, cap * sizeof *ne);
            if (!ne) {
                free(ev);
                return owl_aws_fail(ctx, OWL_AWS_ERR_ServiceUnavailableException,
                                    "out of memory");
            }
            ev = ne;
        }
        memset(&ev[n], 0, sizeof ev[n]);
        ev[n].time_ms = ts;
        ev[n].message = (owl_bytes){msg, mlen};
        n++;
    }
    rc = put_events(ctx, group, stream, ev, n, out);
    free(ev);
    return rc;
}

/* PutLogEvents, a raw-body row: the bodies clients send are read straight into events
 * (owl_putlog_parse, no document in between); any other body is decoded as the AWS layer
 * decodes bodies and read by put_log_events_doc, so every answer is the general path's. */
static int put_log_events(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    if (ctx->proto != OWL_AWS_JSON) /* not decoded only for AWS JSON (owl_aws_op.raw_body) */
        return put_log_events_doc(ctx, in, out);
    owl_putlog pl;
    int rc = owl_putlog_parse(ctx->rq->body, ctx->rq->body_len, &pl);
    if (rc == OWL_OK) {
        resource(ctx, "log-group", pl.group);
        rc = put_events(ctx, pl.group, pl.stream, pl.ev, pl.n, out);
        owl_putlog_free(&pl);
        return rc;
    }
    bson_t doc = BSON_INITIALIZER;
    rc = owl_aws_json_body(ctx, &doc);
    if (rc == OWL_OK)
        rc = put_log_events_doc(ctx, &doc, out);
    bson_destroy(&doc);
    return rc;
}

/* startTime / endTime (epoch ms; absent = open). */
static int time_range(owl_aws_ctx *ctx, const bson_t *in, int64_t *start, int64_t *end)
{
    if (opt_int(ctx, in, "startTime", 0, INT64_MAX, INT64_MIN, start) != OWL_OK ||
        opt_int(ctx, in, "endTime", 0, INT64_MAX, INT64_MAX, end) != OWL_OK)
        return OWL_EINVAL;
    return OWL_OK;
}

static void append_events(bson_t *out, const owl_logs_page *pg, int filtered)
{
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "events", &arr);
    for (size_t i = 0; i < pg->n; i++) {
        const owl_logs_event *e = &pg->ev[i];
        char key[24];
        bson_t d;
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        if (filtered)
            BSON_APPEND_UTF8(&d, "logStreamName", e->stream);
        BSON_APPEND_INT64(&d, "timestamp", e->time_ms);
        bson_append_utf8(&d, "message", 7, e->message, (int)e->message_len);
        BSON_APPEND_INT64(&d, "ingestionTime", e->ingest_ms);
        if (filtered)
            BSON_APPEND_UTF8(&d, "eventId", e->event_id);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(out, &arr);
}

static int get_log_events(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    char group[OWL_LOGS_NAME_MAX + 1];
    owl_logs_get q = {.group = group};
    int64_t limit;
    int head = 0;
    if (group_of(ctx, in, group) != OWL_OK ||
        need_str(ctx, in, "logStreamName", &q.stream) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &q.token) != OWL_OK ||
        time_range(ctx, in, &q.start_ms, &q.end_ms) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, OWL_LOGS_MAX_PAGE, OWL_LOGS_MAX_PAGE, &limit) != OWL_OK ||
        owl_aws_get_bool(ctx, in, "startFromHead", &head) == OWL_EINVAL)
        return OWL_EINVAL;
    q.limit = (size_t)limit;
    q.start_from_head = head;
    owl_logs_page pg;
    owl_error e = {0};
    int rc = owl_logs_get_events(logs_of(ctx), tenant_of(ctx), &q, &pg, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    append_events(out, &pg, 0);
    BSON_APPEND_UTF8(out, "nextForwardToken", pg.forward);
    BSON_APPEND_UTF8(out, "nextBackwardToken", pg.backward);
    owl_logs_page_free(&pg);
    return OWL_OK;
}

static int filter_log_events(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    char group[OWL_LOGS_NAME_MAX + 1];
    const char *names[MAX_FILTER_STREAMS], *pattern;
    owl_logs_filter q = {.group = group};
    int64_t limit;
    bson_iter_t it;
    if (group_of(ctx, in, group) != OWL_OK ||
        opt_str(ctx, in, "logStreamNamePrefix", &q.prefix) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &q.token) != OWL_OK ||
        opt_str(ctx, in, "filterPattern", &pattern) != OWL_OK ||
        time_range(ctx, in, &q.start_ms, &q.end_ms) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, OWL_LOGS_MAX_PAGE, OWL_LOGS_MAX_PAGE, &limit) != OWL_OK)
        return OWL_EINVAL;
    q.pattern = pattern;
    int rc = owl_aws_get_list(ctx, in, "logStreamNames", &it);
    if (rc == OWL_EINVAL)
        return rc;
    if (rc == OWL_OK) {
        while (bson_iter_next(&it)) {
            if (!BSON_ITER_HOLDS_UTF8(&it))
                return invalid(ctx, "%s must be a list of strings", "logStreamNames");
            if (q.nstreams == MAX_FILTER_STREAMS)
                return invalid(ctx,
                               "1 validation error detected: Value at '%s' failed to satisfy "
                               "constraint: Member must have length less than or equal to 100",
                               "logStreamNames");
            names[q.nstreams++] = bson_iter_utf8(&it, NULL);
        }
        if (q.nstreams == 0)
            return invalid(ctx,
                           "1 validation error detected: Value '[]' at '%s' failed to satisfy "
                           "constraint: Member must have length greater than or equal to 1",
                           "logStreamNames");
        q.streams = names;
    }
    if (q.streams && q.prefix)
        return invalid(ctx, "%s and logStreamNamePrefix are mutually exclusive",
                       "logStreamNames");
    q.limit = (size_t)limit;
    owl_logs_page pg;
    owl_error e = {0};
    rc = owl_logs_filter_events(logs_of(ctx), tenant_of(ctx), &q, &pg, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    append_events(out, &pg, 1);
    bson_t none; /* CloudWatch no longer reports searched streams: always empty */
    BSON_APPEND_ARRAY_BEGIN(out, "searchedLogStreams", &none);
    bson_append_array_end(out, &none);
    if (pg.next[0])
        BSON_APPEND_UTF8(out, "nextToken", pg.next);
    owl_logs_page_free(&pg);
    return OWL_OK;
}

/* ---- metric filters ---- */

/* metricTransformations: exactly one, read into f (strings are views into in). */
static int read_transformation(owl_aws_ctx *ctx, const bson_t *in, owl_logs_mfilter *f)
{
    bson_iter_t it, dims;
    int rc = owl_aws_get_list(ctx, in, "metricTransformations", &it);
    if (rc == OWL_ENOTFOUND)
        return invalid(ctx, "1 validation error detected: Value null at '%s' failed to "
                            "satisfy constraint: Member must not be null",
                       "metricTransformations");
    if (rc != OWL_OK)
        return rc;
    size_t n = 0;
    while (bson_iter_next(&it))
        n++;
    if (n != 1)
        return invalid(ctx, "1 validation error detected: Value at '%s' failed to satisfy "
                            "constraint: Member must have length equal to 1",
                       "metricTransformations");
    const char *ns, *name, *value;
    if (need_str(ctx, in, "metricTransformations.0.metricName", &name) != OWL_OK ||
        need_str(ctx, in, "metricTransformations.0.metricNamespace", &ns) != OWL_OK ||
        need_str(ctx, in, "metricTransformations.0.metricValue", &value) != OWL_OK ||
        opt_str(ctx, in, "metricTransformations.0.unit", &f->unit) != OWL_OK)
        return OWL_EINVAL;
    f->metric_name = name, f->metric_ns = ns, f->metric_value = value;
    rc = owl_aws_get_double(ctx, in, "metricTransformations.0.defaultValue",
                            &f->default_value);
    if (rc == OWL_EINVAL)
        return rc;
    f->has_default = rc == OWL_OK;
    bson_iter_t top, d;
    if (bson_iter_init(&top, in) &&
        bson_iter_find_descendant(&top, "metricTransformations.0.dimensions", &d) &&
        !BSON_ITER_HOLDS_NULL(&d)) { /* a map {name: "$field"} */
        if (!BSON_ITER_HOLDS_DOCUMENT(&d) || !bson_iter_recurse(&d, &dims))
            return invalid(ctx, "%s must map names to strings", "dimensions");
        while (bson_iter_next(&dims)) {
            if (!BSON_ITER_HOLDS_UTF8(&dims))
                return invalid(ctx, "%s must map names to strings", "dimensions");
            if (f->ndims == OWL_LOGS_MF_MAX_DIMS)
                return invalid(ctx, "A metric transformation can have at most 3 %s",
                               "dimensions");
            f->dim_names[f->ndims] = bson_iter_key(&dims);
            f->dim_refs[f->ndims++] = bson_iter_utf8(&dims, NULL);
        }
    }
    return OWL_OK;
}

static int put_metric_filter(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    char group[OWL_LOGS_NAME_MAX + 1];
    owl_logs_mfilter f = {0};
    if (group_of(ctx, in, group) != OWL_OK || need_str(ctx, in, "filterName", &f.name) != OWL_OK ||
        need_str(ctx, in, "filterPattern", &f.pattern) != OWL_OK ||
        read_transformation(ctx, in, &f) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", group);
    owl_error e = {0};
    int rc = owl_logs_put_mfilter(logs_of(ctx), tenant_of(ctx), group, &f, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int delete_metric_filter(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    (void)out;
    char group[OWL_LOGS_NAME_MAX + 1];
    const char *name;
    if (group_of(ctx, in, group) != OWL_OK || need_str(ctx, in, "filterName", &name) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", group);
    owl_error e = {0};
    int rc = owl_logs_delete_mfilter(logs_of(ctx), tenant_of(ctx), group, name, &e);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

typedef struct mf_out {
    bson_t *arr;
    size_t n;
} mf_out;

static int append_mfilter(void *ud, const char *group, const owl_logs_mfilter *f)
{
    mf_out *o = ud;
    char key[24];
    bson_t d, ts, t, dims;
    snprintf(key, sizeof key, "%zu", o->n++);
    BSON_APPEND_DOCUMENT_BEGIN(o->arr, key, &d);
    BSON_APPEND_UTF8(&d, "filterName", f->name);
    BSON_APPEND_UTF8(&d, "filterPattern", f->pattern);
    BSON_APPEND_ARRAY_BEGIN(&d, "metricTransformations", &ts);
    BSON_APPEND_DOCUMENT_BEGIN(&ts, "0", &t);
    BSON_APPEND_UTF8(&t, "metricName", f->metric_name);
    BSON_APPEND_UTF8(&t, "metricNamespace", f->metric_ns);
    BSON_APPEND_UTF8(&t, "metricValue", f->metric_value);
    if (f->has_default)
        BSON_APPEND_DOUBLE(&t, "defaultValue", f->default_value);
    if (f->ndims) {
        BSON_APPEND_DOCUMENT_BEGIN(&t, "dimensions", &dims);
        for (size_t i = 0; i < f->ndims; i++)
            BSON_APPEND_UTF8(&dims, f->dim_names[i], f->dim_refs[i]);
        bson_append_document_end(&t, &dims);
    }
    if (f->unit)
        BSON_APPEND_UTF8(&t, "unit", f->unit);
    bson_append_document_end(&ts, &t);
    bson_append_array_end(&d, &ts);
    BSON_APPEND_INT64(&d, "creationTime", f->created_ms);
    BSON_APPEND_UTF8(&d, "logGroupName", group);
    bson_append_document_end(o->arr, &d);
    return 0;
}

static int describe_metric_filters(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *prefix, *mname, *mns, *token;
    int64_t limit;
    if (opt_str(ctx, in, "logGroupName", &group) != OWL_OK ||
        opt_str(ctx, in, "filterNamePrefix", &prefix) != OWL_OK ||
        opt_str(ctx, in, "metricName", &mname) != OWL_OK ||
        opt_str(ctx, in, "metricNamespace", &mns) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &token) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, 50, 50, &limit) != OWL_OK)
        return OWL_EINVAL;
    if (prefix && !group)
        return invalid(ctx, "%s requires logGroupName", "filterNamePrefix");
    if (!mname != !mns)
        return invalid(ctx, "metricName and metricNamespace must be given together%s", "");
    if (group)
        resource(ctx, "log-group", group);
    char next[OWL_LOGS_TOKEN_MAX];
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "metricFilters", &arr);
    mf_out o = {&arr, 0};
    owl_error e = {0};
    int rc = owl_logs_list_mfilters(logs_of(ctx), tenant_of(ctx), group, prefix, mname, mns,
                                    token, (size_t)limit, append_mfilter, &o, next, &e);
    bson_append_array_end(out, &arr);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    if (next[0])
        BSON_APPEND_UTF8(out, "nextToken", next);
    return OWL_OK;
}

static int append_match(void *ud, const owl_logs_mf_match *m)
{
    mf_out *o = ud;
    char key[24];
    bson_t d, v;
    snprintf(key, sizeof key, "%zu", o->n++);
    BSON_APPEND_DOCUMENT_BEGIN(o->arr, key, &d);
    BSON_APPEND_INT64(&d, "eventNumber", (int64_t)m->event_number);
    bson_append_utf8(&d, "eventMessage", 12, m->message.p, (int)m->message.n);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "extractedValues", &v);
    for (size_t i = 0; i < m->nvalues; i++)
        bson_append_utf8(&v, m->keys[i], -1, m->values[i].p, (int)m->values[i].n);
    bson_append_document_end(&d, &v);
    bson_append_document_end(o->arr, &d);
    return 0;
}

static int test_metric_filter(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *pattern;
    bson_iter_t it;
    owl_bytes msgs[OWL_LOGS_MF_TEST_MAX];
    size_t n = 0;
    if (need_str(ctx, in, "filterPattern", &pattern) != OWL_OK)
        return OWL_EINVAL;
    int rc = owl_aws_get_list(ctx, in, "logEventMessages", &it);
    if (rc == OWL_ENOTFOUND)
        return invalid(ctx, "1 validation error detected: Value null at '%s' failed to "
                            "satisfy constraint: Member must not be null",
                       "logEventMessages");
    if (rc != OWL_OK)
        return rc;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_UTF8(&it))
            return invalid(ctx, "%s must be a list of strings", "logEventMessages");
        if (n == OWL_LOGS_MF_TEST_MAX)
            return invalid(ctx, "1 validation error detected: Value at '%s' failed to satisfy "
                                "constraint: Member must have length less than or equal to 50",
                           "logEventMessages");
        uint32_t len;
        const char *s = bson_iter_utf8(&it, &len);
        msgs[n++] = (owl_bytes){s, len};
    }
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "matches", &arr);
    mf_out o = {&arr, 0};
    owl_error e = {0};
    rc = owl_logs_test_mfilter(pattern, msgs, n, append_match, &o, &e);
    bson_append_array_end(out, &arr);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

/* ---- Logs Insights (ingest/insights.c; docs/insights.md) ---- */

static owl_insights *insights_of(owl_aws_ctx *ctx)
{
    owl_call *call = ctx->ud;
    return call->srv->insights;
}

/* Names of the groups a StartQuery names: logGroupName, logGroupNames or
 * logGroupIdentifiers (names or ARNs), exactly one of them. names[] point into in or into
 * bufs (ARNs). */
typedef struct qgroups {
    const char *names[OWL_INSIGHTS_MAX_GROUPS];
    char bufs[OWL_INSIGHTS_MAX_GROUPS][OWL_LOGS_NAME_MAX + 1];
    size_t n;
} qgroups;

static int query_groups(owl_aws_ctx *ctx, const bson_t *in, qgroups *g)
{
    const char *one;
    bson_iter_t it;
    int given = 0, rc;
    g->n = 0;
    if (opt_str(ctx, in, "logGroupName", &one) != OWL_OK)
        return OWL_EINVAL;
    if (one) {
        g->names[g->n++] = one;
        given++;
    }
    static const char *const lists[] = {"logGroupNames", "logGroupIdentifiers"};
    for (size_t l = 0; l < 2; l++) {
        if ((rc = owl_aws_get_list(ctx, in, lists[l], &it)) == OWL_EINVAL)
            return rc;
        if (rc != OWL_OK)
            continue;
        given++;
        while (bson_iter_next(&it)) {
            if (!BSON_ITER_HOLDS_UTF8(&it))
                return invalid(ctx, "%s must be a list of strings", lists[l]);
            if (g->n == OWL_INSIGHTS_MAX_GROUPS)
                return invalid(ctx, "1 validation error detected: Value at '%s' failed to "
                                    "satisfy constraint: Member must have length less than or "
                                    "equal to 50",
                               lists[l]);
            const char *name = bson_iter_utf8(&it, NULL);
            if (l == 1 && strncmp(name, "arn:", 4) == 0) {
                rc = arn_group(name, tenant_of(ctx), g->bufs[g->n], sizeof g->bufs[g->n]);
                if (rc == OWL_EINVAL)
                    return invalid(ctx, "Invalid log group ARN: %.300s", name);
                if (rc != OWL_OK)
                    return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFoundException,
                                        "Log group '%.512s' does not exist", name);
                name = g->bufs[g->n];
            }
            g->names[g->n++] = name;
        }
    }
    if (given != 1 || g->n == 0)
        return invalid(ctx, "Exactly one of logGroupName, logGroupNames and %s must be "
                            "specified, with at least one group",
                       "logGroupIdentifiers");
    resource(ctx, "log-group", g->names[0]);
    return OWL_OK;
}

/* Parses the query for its error, answered as CloudWatch does (MalformedQueryException). */
static int query_ok(owl_aws_ctx *ctx, const char *text)
{
    owl_ins_query *q = NULL;
    owl_error e = {0};
    int rc = owl_ins_parse(text, strlen(text), &q, &e);
    owl_ins_free(q);
    if (rc == OWL_EINVAL)
        return owl_aws_fail(ctx, OWL_AWS_ERR_MalformedQueryException, "%s", e.msg);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int start_query(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    qgroups *g = malloc(sizeof *g);
    const char *text;
    int64_t start, end, limit;
    int rc = OWL_EINVAL;
    if (!g)
        return fail(ctx, OWL_ENOMEM, &(owl_error){0});
    if (query_groups(ctx, in, g) != OWL_OK || need_str(ctx, in, "queryString", &text) != OWL_OK ||
        opt_int(ctx, in, "limit", 1, OWL_INS_DEFAULT_MAX_ROWS, 0, &limit) != OWL_OK)
        goto out;
    if ((rc = owl_aws_get_int(ctx, in, "startTime", &start)) != OWL_OK ||
        (rc = owl_aws_get_int(ctx, in, "endTime", &end)) != OWL_OK) {
        if (rc == OWL_ENOTFOUND)
            rc = invalid(ctx, "1 validation error detected: Value null at '%s' failed to "
                              "satisfy constraint: Member must not be null",
                         "startTime and endTime");
        goto out;
    }
    if (start < 0 || end < start || end > INT64_MAX / 1000 - 1) {
        rc = invalid(ctx, "%s", "endTime must be at or after startTime, both in epoch seconds");
        goto out;
    }
    if ((rc = query_ok(ctx, text)) != OWL_OK)
        goto out;
    /* endTime is included: events of its whole second are read */
    owl_insights_query q = {.groups = g->names, .ngroups = g->n, .start_ms = start * 1000,
                            .end_ms = (end + 1) * 1000, .query = text, .limit = (size_t)limit};
    char id[OWL_INSIGHTS_ID_LEN];
    owl_error e = {0};
    if ((rc = owl_insights_start(insights_of(ctx), tenant_of(ctx), &q, id, &e)) != OWL_OK) {
        rc = fail(ctx, rc, &e);
        goto out;
    }
    BSON_APPEND_UTF8(out, "queryId", id);
out:
    free(g);
    return rc;
}

/* results: [[{field, value}, ...], ...] as GetQueryResults gives them. */
static void append_results(bson_t *out, const owl_ins_result *res)
{
    bson_t rows, row, pair;
    char k[24], f[24];
    BSON_APPEND_ARRAY_BEGIN(out, "results", &rows);
    for (size_t r = 0; res && r < owl_ins_result_rows(res); r++) {
        snprintf(k, sizeof k, "%zu", r);
        BSON_APPEND_ARRAY_BEGIN(&rows, k, &row);
        for (size_t i = 0; i < owl_ins_result_nfields(res, r); i++) {
            owl_bytes name, value;
            if (owl_ins_result_field(res, r, i, &name, &value) != OWL_OK)
                break;
            snprintf(f, sizeof f, "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&row, f, &pair);
            bson_append_utf8(&pair, "field", 5, name.p, (int)name.n);
            bson_append_utf8(&pair, "value", 5, value.p, (int)value.n);
            bson_append_document_end(&row, &pair);
        }
        bson_append_array_end(&rows, &row);
    }
    bson_append_array_end(out, &rows);
}

static void append_stats(bson_t *out, const owl_ins_stats *st)
{
    bson_t d;
    BSON_APPEND_DOCUMENT_BEGIN(out, "statistics", &d);
    BSON_APPEND_DOUBLE(&d, "recordsMatched", (double)st->records_matched);
    BSON_APPEND_DOUBLE(&d, "recordsScanned", (double)st->records_scanned);
    BSON_APPEND_DOUBLE(&d, "bytesScanned", (double)st->bytes_scanned);
    bson_append_document_end(out, &d);
}

static int get_query_results(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *id;
    if (need_str(ctx, in, "queryId", &id) != OWL_OK)
        return OWL_EINVAL;
    owl_insights_view v;
    owl_error e = {0};
    int rc = owl_insights_get(insights_of(ctx), tenant_of(ctx), id, 0, &v, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    if (v.ngroups)
        resource(ctx, "log-group", v.groups[0]);
    append_results(out, v.res);
    append_stats(out, &v.stats);
    BSON_APPEND_UTF8(out, "status", owl_insights_status_name(v.status));
    owl_insights_view_release(insights_of(ctx), &v);
    return OWL_OK;
}

static int stop_query(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *id;
    int stopped;
    if (need_str(ctx, in, "queryId", &id) != OWL_OK)
        return OWL_EINVAL;
    owl_error e = {0};
    int rc = owl_insights_stop(insights_of(ctx), tenant_of(ctx), id, &stopped, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    BSON_APPEND_BOOL(out, "success", stopped);
    return OWL_OK;
}

typedef struct qlist {
    bson_t *arr;
    size_t n, limit;
    const char *after; /* nextToken: the id the previous page ended at, skipped up to */
    char next[OWL_INSIGHTS_ID_LEN];
} qlist;

static int append_query(void *ud, const owl_insights_view *v)
{
    qlist *l = ud;
    if (l->after) {
        if (strcmp(v->id, l->after) == 0)
            l->after = NULL;
        return 0;
    }
    if (l->n == l->limit) {
        return 1;
    }
    char k[24];
    bson_t d;
    snprintf(k, sizeof k, "%zu", l->n++);
    BSON_APPEND_DOCUMENT_BEGIN(l->arr, k, &d);
    BSON_APPEND_UTF8(&d, "queryId", v->id);
    BSON_APPEND_UTF8(&d, "queryString", v->query);
    BSON_APPEND_UTF8(&d, "status", owl_insights_status_name(v->status));
    BSON_APPEND_INT64(&d, "createTime", v->create_ms);
    if (v->ngroups)
        BSON_APPEND_UTF8(&d, "logGroupName", v->groups[0]);
    bson_append_document_end(l->arr, &d);
    owl_strlcpy(l->next, v->id, sizeof l->next);
    return 0;
}

static int describe_queries(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *status, *token;
    int64_t limit;
    enum owl_insights_status st = OWL_INS_SCHEDULED;
    if (opt_str(ctx, in, "logGroupName", &group) != OWL_OK ||
        opt_str(ctx, in, "status", &status) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &token) != OWL_OK ||
        opt_int(ctx, in, "maxResults", 1, 1000, 1000, &limit) != OWL_OK)
        return OWL_EINVAL;
    if (status && owl_insights_status_parse(status, &st) != OWL_OK)
        return invalid(ctx, "status must be one of Scheduled, Running, Complete, Failed, "
                            "Cancelled, Timeout%s",
                       "");
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "queries", &arr);
    qlist l = {&arr, 0, (size_t)limit, token, ""};
    int more = owl_insights_list(insights_of(ctx), tenant_of(ctx), group, status ? (int)st : -1,
                                 append_query, &l);
    bson_append_array_end(out, &arr);
    if (more)
        BSON_APPEND_UTF8(out, "nextToken", l.next);
    return OWL_OK;
}

static int get_log_record(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *ptr;
    if (need_str(ctx, in, "logRecordPointer", &ptr) != OWL_OK)
        return OWL_EINVAL;
    owl_insights_record r = {0};
    owl_error e = {0};
    int rc = owl_insights_record_get(insights_of(ctx), tenant_of(ctx), ptr, &r, &e);
    if (rc != OWL_OK) {
        owl_insights_record_free(&r);
        return fail(ctx, rc, &e);
    }
    resource(ctx, "log-group", r.group);
    char num[24], logname[OWL_LOGS_NAME_MAX + 300];
    bson_t d;
    BSON_APPEND_DOCUMENT_BEGIN(out, "logRecord", &d);
    snprintf(num, sizeof num, "%" PRId64, r.time_ms);
    BSON_APPEND_UTF8(&d, "@timestamp", num);
    snprintf(num, sizeof num, "%" PRId64, r.ingest_ms);
    BSON_APPEND_UTF8(&d, "@ingestionTime", num);
    bson_append_utf8(&d, "@logStream", 10, r.text.data, (int)r.stream_len);
    bson_append_utf8(&d, "@message", 8, r.text.data + r.stream_len + 1, (int)r.message_len);
    snprintf(logname, sizeof logname, "%s:%s", tenant_of(ctx), r.group);
    BSON_APPEND_UTF8(&d, "@log", logname);
    bson_append_document_end(out, &d);
    owl_insights_record_free(&r);
    return OWL_OK;
}

static int put_query_definition(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *name, *text, *id;
    const char *groups[OWL_INSIGHTS_MAX_GROUPS];
    size_t n = 0;
    bson_iter_t it;
    if (need_str(ctx, in, "name", &name) != OWL_OK ||
        need_str(ctx, in, "queryString", &text) != OWL_OK ||
        opt_str(ctx, in, "queryDefinitionId", &id) != OWL_OK)
        return OWL_EINVAL;
    int rc = owl_aws_get_list(ctx, in, "logGroupNames", &it);
    if (rc == OWL_EINVAL)
        return rc;
    while (rc == OWL_OK && bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_UTF8(&it) || n == OWL_INSIGHTS_MAX_GROUPS)
            return invalid(ctx, "%s must be a list of at most 50 strings", "logGroupNames");
        groups[n++] = bson_iter_utf8(&it, NULL);
    }
    if (query_ok(ctx, text) != OWL_OK)
        return OWL_EINVAL;
    owl_insights_def d = {id, name, text, groups, n};
    char out_id[OWL_INSIGHTS_ID_LEN];
    owl_error e = {0};
    if ((rc = owl_insights_def_put(insights_of(ctx), tenant_of(ctx), &d, out_id, &e)) != OWL_OK)
        return fail(ctx, rc, &e);
    resource(ctx, "query-definition", out_id);
    BSON_APPEND_UTF8(out, "queryDefinitionId", out_id);
    return OWL_OK;
}

static int append_def(void *ud, const char *id, const bson_t *doc)
{
    mf_out *l = ud; /* the same array writer as the metric filters' */
    char k[24];
    bson_t d;
    bson_iter_t it;
    snprintf(k, sizeof k, "%zu", l->n++);
    BSON_APPEND_DOCUMENT_BEGIN(l->arr, k, &d);
    BSON_APPEND_UTF8(&d, "queryDefinitionId", id);
    if (bson_iter_init(&it, doc))
        while (bson_iter_next(&it)) /* name, queryString, logGroupNames, lastModified */
            bson_append_iter(&d, bson_iter_key(&it), -1, &it);
    bson_append_document_end(l->arr, &d);
    return 0;
}

static int describe_query_definitions(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *prefix, *token;
    int64_t limit;
    if (opt_str(ctx, in, "queryDefinitionNamePrefix", &prefix) != OWL_OK ||
        opt_str(ctx, in, "nextToken", &token) != OWL_OK ||
        opt_int(ctx, in, "maxResults", 1, 1000, 1000, &limit) != OWL_OK)
        return OWL_EINVAL;
    bson_t arr;
    char next[OWL_INSIGHTS_ID_LEN];
    BSON_APPEND_ARRAY_BEGIN(out, "queryDefinitions", &arr);
    mf_out l = {&arr, 0};
    owl_error e = {0};
    int rc = owl_insights_def_list(insights_of(ctx), tenant_of(ctx), prefix, token,
                                   (size_t)limit, append_def, &l, next, &e);
    bson_append_array_end(out, &arr);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    if (next[0])
        BSON_APPEND_UTF8(out, "nextToken", next);
    return OWL_OK;
}

static int delete_query_definition(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *id;
    if (need_str(ctx, in, "queryDefinitionId", &id) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "query-definition", id);
    owl_error e = {0};
    int rc = owl_insights_def_delete(insights_of(ctx), tenant_of(ctx), id, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    BSON_APPEND_BOOL(out, "success", true);
    return OWL_OK;
}

#define OP(n, f) {.name = #n, .action = "logs:" #n, .fn = f}

static const owl_aws_op logs_ops[] = {
    OP(CreateLogGroup, create_log_group),
    OP(DeleteLogGroup, delete_log_group),
    OP(DescribeLogGroups, describe_log_groups),
    OP(CreateLogStream, create_log_stream),
    OP(DeleteLogStream, delete_log_stream),
    OP(DescribeLogStreams, describe_log_streams),
    {.name = "PutLogEvents", .action = "logs:PutLogEvents", .fn = put_log_events,
     .raw_body = 1}, /* read directly (put_log_events) */
    OP(GetLogEvents, get_log_events),
    OP(FilterLogEvents, filter_log_events),
    OP(PutRetentionPolicy, put_retention_policy),
    OP(DeleteRetentionPolicy, delete_retention_policy),
    OP(TagResource, tag_resource),
    OP(UntagResource, untag_resource),
    OP(ListTagsForResource, list_tags_for_resource),
    OP(TagLogGroup, tag_log_group),
    OP(UntagLogGroup, untag_log_group),
    OP(ListTagsLogGroup, list_tags_log_group),
    OP(StartQuery, start_query),
    OP(GetQueryResults, get_query_results),
    OP(StopQuery, stop_query),
    OP(DescribeQueries, describe_queries),
    OP(GetLogRecord, get_log_record),
    OP(PutQueryDefinition, put_query_definition),
    OP(DescribeQueryDefinitions, describe_query_definitions),
    OP(DeleteQueryDefinition, delete_query_definition),
    OP(PutMetricFilter, put_metric_filter),
    OP(DescribeMetricFilters, describe_metric_filters),
    OP(DeleteMetricFilter, delete_metric_filter),
    OP(TestMetricFilter, test_metric_filter),
};

static const owl_aws_service logs_service = {
    .name = "logs",
    .signing_name = "logs",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_JSON),
    .json_prefix = "Logs_20140328",
    .json_version = "1.1",
    .ops = logs_ops,
    .nops = OWL_ARRAY_LEN(logs_ops),
};

/* ---- owl's native API: GET /api/v1/logs/... (docs/api/logs.md, "Native API") ---- */

static int native_bad(owl_aws_ctx *ctx, const char *what)
{
    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s", what);
}

/* An optional query parameter of at most max bytes (NULL when absent). */
static int param(owl_aws_ctx *ctx, const bson_t *in, const char *name, size_t max,
                 const char **out)
{
    size_t len;
    *out = NULL;
    int rc = owl_aws_get_str(NULL, in, name, out, &len);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK || len > max || len == 0) {
        owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s must be 1 to %zu bytes", name, max);
        return OWL_EINVAL;
    }
    return OWL_OK;
}

/* An optional time: RFC 3339 or epoch milliseconds (owl's convention). */
static int native_time(owl_aws_ctx *ctx, const bson_t *in, const char *name, int64_t *out)
{
    const char *v;
    if (param(ctx, in, name, 63, &v) != OWL_OK)
        return OWL_EINVAL;
    if (v && owl_time_parse(v, strlen(v), out) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "%s must be an RFC 3339 time or epoch milliseconds", name);
    return OWL_OK;
}

static int native_groups(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *prefix, *token;
    size_t limit;
    if (param(ctx, in, "prefix", OWL_LOGS_NAME_MAX, &prefix) != OWL_OK ||
        param(ctx, in, "next_token", OWL_LOGS_NAME_MAX, &token) != OWL_OK ||
        owl_aws_page_limit(ctx, in, 50, 1000, &limit) != OWL_OK)
        return OWL_EINVAL;
    owl_logs_group *v = malloc(limit * sizeof *v);
    if (!v)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InternalError, "out of memory");
    size_t n = 0;
    int more = 0;
    owl_error e = {0};
    int rc = owl_logs_list_groups(logs_of(ctx), tenant_of(ctx), prefix, NULL, token, limit, v,
                                  &n, &more, &e);
    if (rc == OWL_OK) {
        bson_t arr;
        BSON_APPEND_ARRAY_BEGIN(out, "groups", &arr);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            bson_t d;
            snprintf(key, sizeof key, "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
            BSON_APPEND_UTF8(&d, "name", v[i].name);
            BSON_APPEND_DATE_TIME(&d, "created", v[i].created_ms);
            BSON_APPEND_INT32(&d, "retention_days", v[i].retention_days);
            BSON_APPEND_INT64(&d, "stored_bytes", (int64_t)v[i].stored_bytes);
            bson_append_document_end(&arr, &d);
        }
        bson_append_array_end(out, &arr);
        if (more && n)
            BSON_APPEND_UTF8(out, "next_token", v[n - 1].name);
    }
    free(v);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

static int native_streams(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *prefix, *token;
    size_t limit;
    if (owl_aws_get_str(ctx, in, "group", &group, NULL) != OWL_OK ||
        param(ctx, in, "prefix", OWL_LOGS_NAME_MAX, &prefix) != OWL_OK ||
        param(ctx, in, "next_token", OWL_LOGS_TOKEN_MAX - 1, &token) != OWL_OK ||
        owl_aws_page_limit(ctx, in, 50, 1000, &limit) != OWL_OK)
        return OWL_EINVAL;
    resource(ctx, "log-group", group);
    owl_logs_stream *v = malloc(limit * sizeof *v);
    char *next = malloc(OWL_LOGS_TOKEN_MAX);
    size_t n = 0;
    owl_error e = {0};
    int rc = v && next ? owl_logs_list_streams(logs_of(ctx), tenant_of(ctx), group, prefix,
                                               OWL_LOGS_BY_NAME, 0, token, limit, v, &n, next, &e)
                       : owl_error_set(&e, OWL_ENOMEM, "out of memory");
    if (rc == OWL_OK) {
        bson_t arr;
        BSON_APPEND_ARRAY_BEGIN(out, "streams", &arr);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            bson_t d;
            snprintf(key, sizeof key, "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
            BSON_APPEND_UTF8(&d, "name", v[i].name);
            BSON_APPEND_DATE_TIME(&d, "created", v[i].created_ms);
            if (v[i].last_ingest_ms) {
                BSON_APPEND_DATE_TIME(&d, "first_event", v[i].first_event_ms);
                BSON_APPEND_DATE_TIME(&d, "last_event", v[i].last_event_ms);
                BSON_APPEND_DATE_TIME(&d, "last_ingestion", v[i].last_ingest_ms);
            }
            bson_append_document_end(&arr, &d);
        }
        bson_append_array_end(out, &arr);
        if (next[0])
            BSON_APPEND_UTF8(out, "next_token", next);
    }
    free(v);
    free(next);
    return rc == OWL_OK ? OWL_OK : fail(ctx, rc, &e);
}

void owl_logs_event_doc(bson_t *d, const owl_logs_event *e, int with_group)
{
    char hex[33];
    BSON_APPEND_DATE_TIME(d, "time", e->time_ms);
    BSON_APPEND_DATE_TIME(d, "ingested", e->ingest_ms);
    if (with_group)
        BSON_APPEND_UTF8(d, "group", e->group);
    BSON_APPEND_UTF8(d, "stream", e->stream);
    bson_append_utf8(d, "message", 7, e->message, (int)e->message_len);
    if (e->severity[0]) /* these four: events that came in over OTLP */
        BSON_APPEND_UTF8(d, "severity", e->severity);
    if (!owl_traceid_is_zero(e->trace_id, sizeof e->trace_id)) {
        owl_hex(e->trace_id, sizeof e->trace_id, hex);
        BSON_APPEND_UTF8(d, "trace_id", hex);
    }
    if (!owl_traceid_is_zero(e->span_id, sizeof e->span_id)) {
        owl_hex(e->span_id, sizeof e->span_id, hex);
        BSON_APPEND_UTF8(d, "span_id", hex);
    }
    bson_t attrs;
    if (e->attrs_len && bson_init_static(&attrs, e->attrs, e->attrs_len) &&
        bson_validate(&attrs, BSON_VALIDATE_NONE, NULL))
        BSON_APPEND_DOCUMENT(d, "attrs", &attrs);
    BSON_APPEND_UTF8(d, "event_id", e->event_id);
}

/* An optional trace id in any of its text forms (common/traceid.h) into id; *have 0 when
 * absent. 400 InvalidParameter when malformed. */
static int native_trace_id(owl_aws_ctx *ctx, const bson_t *in, uint8_t id[16], int *have)
{
    const char *v;
    owl_error e = {0};
    *have = 0;
    if (param(ctx, in, "trace_id", 64, &v) != OWL_OK)
        return OWL_EINVAL;
    if (!v)
        return OWL_OK;
    if (owl_traceid_parse(v, strlen(v), id, &e) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "trace_id must be 32 hex digits, 16 hex digits or X-Ray's "
                            "1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx: %s", e.msg);
    *have = 1;
    return OWL_OK;
}

static int native_events(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *stream;
    size_t limit;
    uint8_t tid[16];
    int have_tid;
    owl_logs_filter q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX};
    if (param(ctx, in, "group", OWL_LOGS_NAME_MAX, &group) != OWL_OK ||
        param(ctx, in, "stream", OWL_LOGS_NAME_MAX, &stream) != OWL_OK ||
        native_trace_id(ctx, in, tid, &have_tid) != OWL_OK ||
        param(ctx, in, "next_token", 79, &q.token) != OWL_OK ||
        param(ctx, in, "pattern", OWL_FPAT_MAX_LEN, &q.pattern) != OWL_OK ||
        native_time(ctx, in, "start", &q.start_ms) != OWL_OK ||
        native_time(ctx, in, "end", &q.end_ms) != OWL_OK ||
        owl_aws_page_limit(ctx, in, 1000, OWL_LOGS_MAX_PAGE, &limit) != OWL_OK)
        return OWL_EINVAL;
    if (!group)
        return native_bad(ctx, "group is required");
    resource(ctx, "log-group", group);
    q.group = group;
    q.limit = limit;
    q.trace_id = have_tid ? tid : NULL;
    if (stream) {
        q.streams = &stream;
        q.nstreams = 1;
    }
    if (q.end_ms != INT64_MAX) /* owl's ranges are [start, end) */
        q.end_ms--;
    owl_logs_page pg;
    owl_error e = {0};
    int rc = owl_logs_filter_events(logs_of(ctx), tenant_of(ctx), &q, &pg, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "events", &arr);
    for (size_t i = 0; i < pg.n; i++) {
        char key[24];
        bson_t d;
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        owl_logs_event_doc(&d, &pg.ev[i], 0); /* the group is the request's */
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(out, &arr);
    if (pg.next[0])
        BSON_APPEND_UTF8(out, "next_token", pg.next);
    owl_logs_page_free(&pg);
    return OWL_OK;
}

/* POST /api/v1/logs/metric-filters/backfill {logGroupName, filterName, startTime, endTime} */
static int native_backfill(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    const char *group, *name;
    int64_t start, end;
    if (owl_aws_get_str(NULL, in, "logGroupName", &group, NULL) != OWL_OK ||
        owl_aws_get_str(NULL, in, "filterName", &name, NULL) != OWL_OK)
        return native_bad(ctx, "logGroupName and filterName (strings) are required");
    if (owl_aws_get_int(NULL, in, "startTime", &start) != OWL_OK ||
        owl_aws_get_int(NULL, in, "endTime", &end) != OWL_OK)
        return native_bad(ctx, "startTime and endTime (epoch milliseconds) are required");
    resource(ctx, "log-group", group);
    owl_logs_backfill_result r;
    owl_error e = {0};
    int rc = owl_logs_backfill(logs_of(ctx), tenant_of(ctx), group, name, start, end, &r, &e);
    if (rc != OWL_OK)
        return fail(ctx, rc, &e);
    BSON_APPEND_INT64(out, "events_scanned", (int64_t)r.scanned);
    BSON_APPEND_INT64(out, "events_skipped", (int64_t)r.skipped);
    BSON_APPEND_INT64(out, "matched", (int64_t)r.matched);
    BSON_APPEND_INT64(out, "datapoints", (int64_t)r.datapoints);
    return OWL_OK;
}

static const owl_aws_op native_ops[] = {
    {.name = "BackfillMetricFilter", .action = "logs:BackfillMetricFilter",
     .fn = native_backfill, .method = "POST", .uri = "/api/v1/logs/metric-filters/backfill"},
    {.name = "ListLogGroups", .action = "logs:DescribeLogGroups", .fn = native_groups,
     .method = "GET", .uri = "/api/v1/logs/groups",
     .query_params = (const char *const[]){"prefix", "limit", "next_token", NULL}},
    {.name = "ListLogStreams", .action = "logs:DescribeLogStreams", .fn = native_streams,
     .method = "GET", .uri = "/api/v1/logs/groups/{group}/streams",
     .query_params = (const char *const[]){"prefix", "limit", "next_token", NULL}},
    {.name = "ListLogEvents", .action = "logs:FilterLogEvents", .fn = native_events,
     .method = "GET", .uri = "/api/v1/logs/events",
     .query_params = (const char *const[]){"group", "stream", "pattern", "trace_id", "start",
                                           "end", "limit", "next_token", NULL}},
};

static const owl_aws_service native_service = {
    .name = "owl",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
    .ops = native_ops,
    .nops = OWL_ARRAY_LEN(native_ops),
};


/* ---- OTLP/HTTP logs (POST /v1/logs) and raw lines (POST /api/v1/logs) ----
 * Both decode into per-(group, stream) batches (ingest/otlp_logs.c, rawlog.c) and store each
 * with owl_logs_put(OWL_LOGS_CREATE | OWL_LOGS_ANY_BATCH | OWL_LOGS_UTF8, the decoders' text
 * being well-formed already): groups and streams are created on
 * first use, events out of CloudWatch's time range or empty are counted as refused. */

#define INGEST_MAX_EVENTS 100000 /* events of one request (its body is within max_body_bytes) */

typedef struct stored {
    size_t accepted, rejected;
    char message[256];
} stored;

/* Stores every batch of d; OWL_OK or the first failure (err says why; batches before it are
 * stored). */
static int store_decoded(owl_call *call, const owl_log_decoded *d, stored *st, owl_error *err)
{
    st->accepted = 0;
    st->rejected = d->rejected;
    snprintf(st->message, sizeof st->message, "%s", d->message);
    for (size_t i = 0; i < d->nb; i++) {
        const owl_log_batch *b = &d->b[i];
        owl_logs_put_result res;
        int rc = owl_logs_put(call->srv->logs, call->principal->tenant, b->group, b->stream,
                              b->ev, b->n, OWL_LOGS_CREATE | OWL_LOGS_ANY_BATCH | OWL_LOGS_UTF8,
                              &res, err);
        if (rc != OWL_OK)
            return rc;
        st->accepted += res.stored;
        if (res.stored < b->n) {
            st->rejected += b->n - res.stored;
            if (!st->message[0])
                snprintf(st->message, sizeof st->message,
                         "%zu events of %.100s out of the time range CloudWatch keeps "
                         "(14 days back to 2 hours ahead, and the group's retention) or empty",
                         b->n - res.stored, b->group);
        }
    }
    return OWL_OK;
}


/* The status of a store failure: 507 for a full disk, 503 otherwise (clients retry). */
static int store_status(int rc)
{
    return rc == OWL_ENOSPC ? 507 : rc == OWL_EINVAL || rc == OWL_ERANGE ? 400 : 503;
}

static int export_logs(owl_call *call)
{
    owl_http_req *req = call->req;
    owl_http_resp *resp = call->resp;
    owl_log_decoded d = {0};
    owl_error err = {0};
    stored st;
    enum owl_otlp_encoding enc = owl_otlp_encoding_of(owl_http_req_header(req, "content-type"));
    snprintf(call->resource, sizeof call->resource, "tenant/%s/otlp/logs",
             call->principal->tenant);
    int rc = OWL_EINVAL;
    if (!enc) {
        owl_otlp_reply_status(call, OWL_OTLP_JSON, 415, OWL_RPC_INVALID_ARGUMENT,
                              "UnsupportedMediaType",
                              "Content-Type must be application/x-protobuf or application/json");
        goto out;
    }
    rc = owl_otlp_logs_decode(enc, req->body.data, req->body.len, owl_now_ms(),
                              INGEST_MAX_EVENTS, &d, &err);
    if (rc == OWL_OK)
        rc = store_decoded(call, &d, &st, &err);
    if (rc != OWL_OK) {
        int http = rc == OWL_ETOOBIG ? 413 : rc == OWL_EINVAL ? 400 : store_status(rc);
        owl_otlp_reply_status(call, enc, http,
                              http < 500 ? OWL_RPC_INVALID_ARGUMENT : OWL_RPC_UNAVAILABLE,
                              http == 413   ? "PayloadTooLarge"
                              : http == 400 ? "BadRequest"
                              : http == 507 ? "InsufficientStorage"
                              : "StoreUnavailable",
                              err.msg[0] ? err.msg : owl_strerror(rc));
        goto out;
    }
    resp->status = 200;
    resp->content_type = owl_otlp_media_type(enc);
    owl_buf_reset(&resp->body);
    rc = owl_otlp_logs_response(enc, st.rejected, st.message[0] ? st.message : NULL,
                                &resp->body);
out:
    owl_log_decoded_free(&d);
    return rc;
}

static int put_lines(owl_call *call)
{
    owl_http_req *req = call->req;
    owl_log_decoded d = {0};
    owl_error err = {0};
    stored st;
    char group[OWL_LOGS_NAME_MAX + 1], stream[OWL_LOGS_NAME_MAX + 1];
    const char *ct = owl_http_req_header(req, "content-type");
    size_t ctn = ct ? strcspn(ct, "; \t") : 0;
    int ndjson = ct && ctn == 20 && strncasecmp(ct, "application/x-ndjson", ctn) == 0;
    int text = ct && ctn == 10 && strncasecmp(ct, "text/plain", ctn) == 0;
    int rc = OWL_EINVAL;
    if (owl_query_param(req->query, "group", group, sizeof group) != 1 ||
        owl_query_param(req->query, "stream", stream, sizeof stream) != 1) {
        owl_call_error(call, 400, "InvalidParameter",
                       "group and stream are required, each given once, at most 512 bytes");
        goto out;
    }
    snprintf(call->resource, sizeof call->resource, "log-group/%.240s", group);
    if (!ndjson && !text) {
        owl_call_error(call, 415, "UnsupportedMediaType",
                       "Content-Type must be text/plain or application/x-ndjson");
        goto out;
    }
    rc = (ndjson ? owl_rawlog_decode_ndjson : owl_rawlog_decode_text)(
        req->body.data, req->body.len, group, stream, owl_now_ms(), INGEST_MAX_EVENTS, &d, &err);
    if (rc == OWL_OK)
        rc = store_decoded(call, &d, &st, &err);
    if (rc != OWL_OK) {
        int http = rc == OWL_ETOOBIG ? 413 : rc == OWL_EINVAL ? 400 : store_status(rc);
        owl_call_error(call, http,
                       http == 413   ? "PayloadTooLarge"
                       : http == 400 ? "InvalidParameter"
                       : http == 507 ? "InsufficientStorage"
                                     : "ServiceUnavailable",
                       "%s", err.msg[0] ? err.msg : owl_strerror(rc));
        goto out;
    }
    owl_buf b = OWL_BUF_INIT;
    owl_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":%zu", st.accepted, st.rejected);
    if (st.message[0]) {
        owl_buf_puts(&b, ",\"message\":");
        owl_buf_json_str(&b, st.message, strlen(st.message));
    }
    owl_buf_putc(&b, '}');
    rc = b.data ? owl_http_resp_json(call->resp, 200, b.data, b.len) : OWL_ENOMEM;
    owl_buf_free(&b);
out:
    owl_log_decoded_free(&d);
    return rc;
}

/* ---- POST /api/v1/logs/insights: one Insights query, answered when it is done ----
 * Body {"query", "groups": [names], "start", "end" (epoch ms or RFC 3339; end excluded),
 * "limit"}; the answer is a table, JSON {"status", "columns", "rows", "statistics"} or CSV
 * with Accept: text/csv. It runs on the same pool, under the same limits, as StartQuery. */

/* A time field: epoch ms (a number) or RFC 3339 text. 0 absent, 1 read, -1 malformed. */
static int body_time(const bson_t *doc, const char *name, int64_t *ms)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, name))
        return 0;
    if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
        *ms = bson_iter_as_int64(&it);
        return 1;
    }
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t n;
        const char *t = bson_iter_utf8(&it, &n);
        return owl_time_parse(t, n, ms) == OWL_OK ? 1 : -1;
    }
    return -1;
}

/* Appends the query's columns: every field name of the rows, in first-seen order. */
static int result_columns(const owl_ins_result *res, owl_buf *names, size_t *n)
{
    *n = 0;
    for (size_t r = 0; r < owl_ins_result_rows(res); r++)
        for (size_t i = 0; i < owl_ins_result_nfields(res, r); i++) {
            owl_bytes f, v;
            owl_ins_result_field(res, r, i, &f, &v);
            int seen = 0;
            for (size_t k = 0, off = 0; k < *n && !seen; k++) {
                const char *c = names->data + off;
                seen = strlen(c) == f.n && memcmp(c, f.p, f.n) == 0;
                off += strlen(c) + 1;
            }
            if (seen)
                continue;
            if (owl_buf_append(names, f.p, f.n) != OWL_OK || owl_buf_putc(names, 0) != OWL_OK)
                return OWL_ENOMEM;
            (*n)++;
        }
    return OWL_OK;
}

static void csv_cell(owl_buf *b, const char *s, size_t n)
{
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        owl_buf_append(b, s, n);
        return;
    }
    owl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            owl_buf_putc(b, '"');
        owl_buf_putc(b, s[i]);
    }
    owl_buf_putc(b, '"');
}

static void write_table(owl_buf *b, const owl_insights_view *v, const owl_buf *cols, size_t ncols,
                        int csv)
{
    const owl_ins_result *res = v->res;
    const char *c = cols->data;
    if (csv) {
        for (size_t k = 0; k < ncols; c += strlen(c) + 1, k++) {
            if (k)
                owl_buf_putc(b, ',');
            csv_cell(b, c, strlen(c));
        }
        owl_buf_putc(b, '\n');
    } else {
        owl_buf_printf(b, "{\"status\":\"%s\",\"columns\":[", owl_insights_status_name(v->status));
        for (size_t k = 0; k < ncols; c += strlen(c) + 1, k++) {
            if (k)
                owl_buf_putc(b, ',');
            owl_buf_json_str(b, c, strlen(c));
        }
        owl_buf_puts(b, "],\"rows\":[");
    }
    for (size_t r = 0; r < owl_ins_result_rows(res); r++) {
        if (!csv)
            owl_buf_puts(b, r ? ",[" : "[");
        c = cols->data;
        for (size_t k = 0; k < ncols; c += strlen(c) + 1, k++) {
            const char *val = owl_ins_result_get(res, r, c);
            if (k)
                owl_buf_putc(b, ',');
            if (csv && val)
                csv_cell(b, val, strlen(val));
            else if (!csv && val)
                owl_buf_json_str(b, val, strlen(val));
            else if (!csv)
                owl_buf_puts(b, "null");
        }
        owl_buf_puts(b, csv ? "\n" : "]");
    }
    if (!csv)
        owl_buf_printf(b,
                       "],\"statistics\":{\"recordsMatched\":%" PRIu64
                       ",\"recordsScanned\":%" PRIu64 ",\"bytesScanned\":%" PRIu64 "}}",
                       v->stats.records_matched, v->stats.records_scanned, v->stats.bytes_scanned);
}

static int native_insights(owl_call *call)
{
    owl_http_req *req = call->req;
    bson_t doc;
    bson_error_t be;
    bson_iter_t it, sub;
    const char *groups[OWL_INSIGHTS_MAX_GROUPS];
    owl_insights_query q = {.groups = groups, .start_ms = 0, .end_ms = INT64_MAX};
    int rc = OWL_EINVAL;
    if (!req->body.len || !bson_init_from_json(&doc, req->body.data, (ssize_t)req->body.len, &be)) {
        owl_call_error(call, 400, "InvalidParameter", "the body must be a JSON object: %s",
                       req->body.len ? be.message : "empty");
        return OWL_EINVAL;
    }
    if (bson_iter_init_find(&it, &doc, "query") && BSON_ITER_HOLDS_UTF8(&it))
        q.query = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, &doc, "groups") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &sub))
        while (bson_iter_next(&sub) && q.ngroups <= OWL_INSIGHTS_MAX_GROUPS) {
            if (q.ngroups < OWL_INSIGHTS_MAX_GROUPS && BSON_ITER_HOLDS_UTF8(&sub))
                groups[q.ngroups++] = bson_iter_utf8(&sub, NULL);
            else
                q.ngroups = OWL_INSIGHTS_MAX_GROUPS + 1; /* refused below */
        }
    int64_t limit = 0;
    if (bson_iter_init_find(&it, &doc, "limit")) {
        limit = BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it) ? bson_iter_as_int64(&it)
                                                                           : -1;
        if (limit < 1 || limit > OWL_INS_DEFAULT_MAX_ROWS)
            q.ngroups = 0; /* answered below as a bad request */
    }
    q.limit = (size_t)(limit > 0 ? limit : 0);
    if (!q.query || q.ngroups == 0 || q.ngroups > OWL_INSIGHTS_MAX_GROUPS ||
        body_time(&doc, "start", &q.start_ms) < 0 || body_time(&doc, "end", &q.end_ms) < 0) {
        owl_call_error(call, 400, "InvalidParameter",
                       "expected {\"query\": text, \"groups\": [1 to %d names], \"start\" and "
                       "\"end\": epoch ms or RFC 3339 (optional), \"limit\": 1 to %d (optional)}",
                       OWL_INSIGHTS_MAX_GROUPS, OWL_INS_DEFAULT_MAX_ROWS);
        goto out;
    }
    snprintf(call->resource, sizeof call->resource, "log-group/%.240s", groups[0]);
    owl_insights *ins = call->srv->insights;
    char id[OWL_INSIGHTS_ID_LEN];
    owl_error e = {0};
    if ((rc = owl_insights_start(ins, call->principal->tenant, &q, id, &e)) != OWL_OK) {
        int st = rc == OWL_ENOTFOUND ? 404 : rc == OWL_ERANGE ? 429 : rc == OWL_EINVAL ? 400 : 503;
        owl_call_error(call, st,
                       rc == OWL_ENOTFOUND ? "ResourceNotFound"
                       : rc == OWL_ERANGE  ? "LimitExceeded"
                       : rc == OWL_EINVAL  ? "MalformedQuery"
                                           : "ServiceUnavailable",
                       "%s", e.msg);
        goto out;
    }
    owl_insights_view v = {0};
    /* the query's own time limit ends it; this only bounds a wait behind a full queue */
    rc = owl_insights_get(ins, call->principal->tenant, id, 24 * 3600 * 1000, &v, &e);
    if (rc != OWL_OK) {
        owl_call_error(call, 503, "ServiceUnavailable", "%s", e.msg);
        goto out;
    }
    if (v.status != OWL_INS_COMPLETE) {
        int timeout = v.status == OWL_INS_TIMEOUT;
        int failed = v.status == OWL_INS_FAILED;
        owl_call_error(call, timeout ? 504 : failed ? 422 : 503,
                       timeout ? "Timeout" : failed ? "QueryFailed" : "Cancelled",
                       "%s", v.error[0] ? v.error : owl_insights_status_name(v.status));
        owl_insights_view_release(ins, &v);
        rc = OWL_EINVAL;
        goto out;
    }
    const char *accept = owl_http_req_header(req, "accept");
    int csv = accept && strstr(accept, "text/csv");
    owl_buf cols = OWL_BUF_INIT;
    size_t ncols;
    owl_buf_reset(&call->resp->body);
    rc = result_columns(v.res, &cols, &ncols);
    if (rc == OWL_OK) {
        write_table(&call->resp->body, &v, &cols, ncols, csv);
        call->resp->status = 200;
        call->resp->content_type = csv ? "text/csv; charset=utf-8" : "application/json";
    }
    owl_buf_free(&cols);
    owl_insights_view_release(ins, &v);
out:
    bson_destroy(&doc);
    return rc;
}

static const owl_route logs_routes[] = {
    {.method = "POST", .pattern = "/v1/logs", .action = "logs:PutLogEvents", .fn = export_logs},
    {.method = "POST", .pattern = "/api/v1/logs", .action = "logs:PutLogEvents", .fn = put_lines},
    {.method = "POST", .pattern = "/api/v1/logs/insights", .action = "logs:StartQuery",
     .fn = native_insights},
};

static const owl_aws_service *const logs_services[] = {&logs_service, &native_service};

const owl_route_table owl_logs_routes = {logs_routes, OWL_ARRAY_LEN(logs_routes), logs_services,
                                          OWL_ARRAY_LEN(logs_services)};

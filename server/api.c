/* api.c — owld's own routes: health, Prometheus self-metrics and the audit trail query. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit.h"
#include "server/selfmetrics.h"
#include "server/server.h"

static int healthz(owl_call *call)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    return owl_http_resp_json(call->resp, 200, ok, sizeof ok - 1);
}

static int metrics(owl_call *call)
{
    owl_server *s = call->srv;
    owl_selfmetrics_gauges g = {
        .open_connections = s->http ? owl_http_server_connections(s->http) : 0,
        .meta_records = owl_meta_count(s->meta),
        .audit_events = owl_audit_count(s->audit),
    };
    call->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    int rc = owl_selfmetrics_render(s->selfmetrics, &g, &call->resp->body);
    if (rc == OWL_OK)
        rc = owl_selfmetrics_render_store(s->store, &call->resp->body);
    return rc;
}

/* Parses an optional time bound; RFC 3339 or epoch ms. */
static int time_param(owl_call *call, const char *name, int64_t *out)
{
    char v[64];
    int r = owl_query_param(call->req->query, name, v, sizeof v);
    if (r == 0)
        return OWL_OK;
    if (r < 0 || owl_time_parse(v, strlen(v), out) != OWL_OK) {
        owl_call_error(call, 400, "InvalidParameter",
                       "%s must be an RFC 3339 time or epoch milliseconds", name);
        return OWL_EINVAL;
    }
    return OWL_OK;
}

static int audit_list(owl_call *call)
{
    const owl_principal *p = call->principal;
    char action[64], key_id[64], limit_s[16], token[80], tenant[32];
    owl_audit_query q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX, .tenant = p->tenant,
                         .limit = 100};
    if (time_param(call, "start", &q.start_ms) != OWL_OK ||
        time_param(call, "end", &q.end_ms) != OWL_OK)
        return OWL_EINVAL;
    const char *qs = call->req->query;
    int ra = owl_query_param(qs, "action", action, sizeof action);
    int rk = owl_query_param(qs, "key_id", key_id, sizeof key_id);
    int rl = owl_query_param(qs, "limit", limit_s, sizeof limit_s);
    int rn = owl_query_param(qs, "next_token", token, sizeof token);
    int rt = owl_query_param(qs, "tenant", tenant, sizeof tenant);
    if (ra < 0 || rk < 0 || rl < 0 || rn < 0 || rt < 0) {
        owl_call_error(call, 400, "InvalidParameter", "a query parameter is too long or malformed");
        return OWL_EINVAL;
    }
    q.action = ra ? action : NULL;
    q.key_id = rk ? key_id : NULL;
    if (owl_call_limit(call, limit_s, rl, 100, 1000, &q.limit) != OWL_OK)
        return OWL_EINVAL;
    q.next_token = rn ? token : NULL;
    /* Callers who manage tenants also see failed authentications with unknown keys, and may
     * look at another tenant's trail. */
    int admin = owl_principal_can(p, "iam:ManageTenants");
    q.include_untenanted = admin;
    if (rt && strcmp(tenant, p->tenant) != 0) {
        if (!admin) {
            owl_call_error(call, 403, "AccessDenied",
                           "reading another tenant's audit trail needs iam:ManageTenants");
            return OWL_EDENIED;
        }
        q.tenant = tenant;
    }
    snprintf(call->resource, sizeof call->resource, "tenant/%s", q.tenant);
    owl_error err = {0};
    int rc = owl_audit_query_json(call->srv->audit, &q, &call->resp->body, &err);
    if (rc != OWL_OK)
        owl_call_error_from(call, rc, err.msg);
    return rc;
}

static const owl_route api_routes[] = {
    {.method = "GET", .pattern = "/healthz", .action = "owl:Healthz", .fn = healthz,
     .flags = OWL_ROUTE_PUBLIC},
    {.method = "GET", .pattern = "/metrics", .action = "owl:GetMetrics", .fn = metrics},
    {.method = "GET", .pattern = "/api/v1/audit", .action = "audit:LookupEvents",
     .fn = audit_list},
};

const owl_route_table owl_api_routes = {api_routes, OWL_ARRAY_LEN(api_routes), NULL, 0};

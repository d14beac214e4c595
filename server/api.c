/* api.c — owld's own routes: health, Prometheus self-metrics and the audit trail query. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit.h"
#include "server/keys.h"
#include "server/policy.h"
#include "server/selfmetrics.h"
#include "server/server.h"

static int healthz(owl_call *call)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    return owl_http_resp_json(call->resp, 200, ok, sizeof ok - 1);
}

/* The X-Ray daemon endpoint's counters (docs/api/xray-daemon.md). */
static void render_xray_daemon(owl_xray_daemon *d, owl_buf *o)
{
    owl_xray_daemon_stats st;
    owl_xray_daemon_stats_get(d, &st);
    const struct {
        const char *name, *help;
        uint64_t v;
    } c[] = {
        {"datagrams", "UDP datagrams the X-Ray daemon endpoint read.", st.datagrams},
        {"refused_datagrams", "Datagrams it could not decode.", st.refused},
        {"spans", "Spans it stored.", st.spans},
        {"puts", "Batches of datagrams it stored (one WAL sync each).", st.puts},
        {"put_failures", "Batches it failed to store.", st.put_failures},
    };
    for (size_t i = 0; i < OWL_ARRAY_LEN(c); i++)
        owl_buf_printf(o, "# HELP owl_xray_daemon_%s_total %s\n# TYPE owl_xray_daemon_%s_total "
                          "counter\nowl_xray_daemon_%s_total %llu\n",
                       c[i].name, c[i].help, c[i].name, c[i].name, (unsigned long long)c[i].v);
}

/* The self-metrics are owld-wide (request counts of every tenant, metadata records, audit
 * events): the operator's view, for keys of the admin tenant or holding the cross-tenant
 * grant; any other tenant gets 403. */
/* The alarm evaluator's figures: alarms held, ticks, the last tick and the last tick that
 * evaluated every metric alarm (what bench/alarms.sh reads). */
static void render_alarms(owl_alarms *as, owl_buf *o)
{
    owl_alarm_stats st;
    owl_alarms_stats(as, &st);
    owl_buf_printf(o,
                   "# HELP owl_alarms Alarms held, by kind.\n# TYPE owl_alarms gauge\n"
                   "owl_alarms{kind=\"metric\"} %zu\nowl_alarms{kind=\"composite\"} %zu\n"
                   "# HELP owl_alarm_ticks_total Evaluator ticks run.\n"
                   "# TYPE owl_alarm_ticks_total counter\nowl_alarm_ticks_total %llu\n",
                   st.metric_alarms, st.composite_alarms, (unsigned long long)st.ticks);
    const struct {
        const char *name, *help;
        const owl_alarm_tick_stats *t;
    } ticks[] = {{"last", "the last tick", &st.last},
                 {"full", "the last tick that evaluated every metric alarm", &st.last_full}};
    for (size_t i = 0; i < OWL_ARRAY_LEN(ticks); i++)
        owl_buf_printf(o,
                       "# HELP owl_alarm_tick_%s_seconds How long %s took.\n"
                       "# TYPE owl_alarm_tick_%s_seconds gauge\n"
                       "owl_alarm_tick_%s_seconds %.9f\n"
                       "# HELP owl_alarm_tick_%s_evaluated Metric alarms %s evaluated.\n"
                       "# TYPE owl_alarm_tick_%s_evaluated gauge\n"
                       "owl_alarm_tick_%s_evaluated %zu\n"
                       "# HELP owl_alarm_tick_%s_timestamp_ms When %s ran.\n"
                       "# TYPE owl_alarm_tick_%s_timestamp_ms gauge\n"
                       "owl_alarm_tick_%s_timestamp_ms %lld\n",
                       ticks[i].name, ticks[i].help, ticks[i].name, ticks[i].name,
                       (double)ticks[i].t->took_ns / 1e9, ticks[i].name, ticks[i].help,
                       ticks[i].name, ticks[i].name, ticks[i].t->evaluated, ticks[i].name,
                       ticks[i].help, ticks[i].name, ticks[i].name,
                       (long long)ticks[i].t->at_ms);
}

static int metrics(owl_call *call)
{
    owl_server *s = call->srv;
    if (strcmp(call->principal->tenant, s->admin_tenant) != 0 &&
        !owl_keys_cross_tenant(s, call->principal)) {
        owl_call_error(call, 403, "AccessDenied",
                       "owld's metrics are for the admin tenant or a key holding %s",
                       OWL_POLICY_CROSS_TENANT);
        return OWL_EINVAL;
    }
    owl_selfmetrics_gauges g = {
        .open_connections = s->http ? owl_http_server_connections(s->http) : 0,
        .meta_records = owl_meta_count(s->meta),
        .audit_events = owl_audit_count(s->audit),
    };
    call->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    int rc = owl_selfmetrics_render(s->selfmetrics, &g, &call->resp->body);
    if (rc == OWL_OK)
        rc = owl_selfmetrics_render_store(s->store, &call->resp->body);
    if (rc == OWL_OK && s->alarms)
        render_alarms(s->alarms, &call->resp->body);
    if (rc == OWL_OK && s->xray_daemon)
        render_xray_daemon(s->xray_daemon, &call->resp->body);
    return rc;
}

/* An optional string field of at most max bytes into *out (NULL when absent); OWL_EINVAL
 * when longer or not a string. */
static int short_str(const bson_t *in, const char *name, size_t max, const char **out)
{
    size_t len;
    *out = NULL;
    int rc = owl_aws_get_str(NULL, in, name, out, &len);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK || len > max) {
        *out = NULL;
        return OWL_EINVAL;
    }
    return OWL_OK;
}

/* Parses an optional time bound; RFC 3339 or epoch ms (owl's convention, not AWS's
 * epoch seconds, so not owl_aws_get_time_ms). */
static int time_param(owl_aws_ctx *ctx, const bson_t *in, const char *name, int64_t *out)
{
    const char *v;
    if (short_str(in, name, 63, &v) != OWL_OK ||
        (v && owl_time_parse(v, strlen(v), out) != OWL_OK))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "%s must be an RFC 3339 time or epoch milliseconds", name);
    return OWL_OK;
}

static int audit_list(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const owl_principal *p = call->principal;
    const char *tenant;
    owl_audit_query q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX, .tenant = p->tenant,
                         .limit = 100};
    if (time_param(ctx, in, "start", &q.start_ms) != OWL_OK ||
        time_param(ctx, in, "end", &q.end_ms) != OWL_OK)
        return OWL_EINVAL;
    if (short_str(in, "action", 63, &q.action) != OWL_OK ||
        short_str(in, "key_id", 63, &q.key_id) != OWL_OK ||
        short_str(in, "next_token", 79, &q.next_token) != OWL_OK ||
        short_str(in, "tenant", 31, &tenant) != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                            "a query parameter is too long or malformed");
    if (owl_aws_page_limit(ctx, in, 100, 1000, &q.limit) != OWL_OK)
        return OWL_EINVAL;
    /* tenant= names a tenant id (12 digits), never the store's partition of untenanted
     * events ("none", which would be read twice). Holders of the cross-tenant grant also see
     * failed authentications with unknown keys, and may read another tenant's trail. */
    if (tenant && !owl_tenant_valid(tenant))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "tenant must be 12 digits");
    int cross = owl_keys_cross_tenant(call->srv, p);
    q.include_untenanted = cross;
    if (tenant && strcmp(tenant, p->tenant) != 0) {
        if (!cross)
            return owl_aws_fail(ctx, OWL_AWS_ERR_AccessDenied,
                                "key %s may read its own tenant's audit trail only (another "
                                "tenant needs %s)", p->key_id, OWL_POLICY_CROSS_TENANT);
        q.tenant = tenant;
    }
    snprintf(call->resource, sizeof call->resource, "tenant/%s", q.tenant);
    owl_error err = {0};
    owl_buf json = OWL_BUF_INIT;
    /* the trail renders itself as JSON; read back as the row's output document */
    int rc = owl_audit_query_json(call->srv->audit, &q, &json, &err);
    if (rc == OWL_OK)
        rc = owl_aws_json_decode(json.data ? json.data : "", json.len, out, &err);
    if (rc != OWL_OK)
        owl_aws_fail_owl(ctx, rc, err.msg);
    owl_buf_free(&json);
    return rc;
}

static const owl_route api_routes[] = {
    {.method = "GET", .pattern = "/healthz", .action = "owl:Healthz", .fn = healthz,
     .flags = OWL_ROUTE_PUBLIC},
    {.method = "GET", .pattern = "/metrics", .action = "owl:GetMetrics", .fn = metrics},
};

static const owl_aws_op audit_ops[] = {
    {.name = "LookupEvents", .action = "audit:LookupEvents", .fn = audit_list, .method = "GET",
     .uri = "/api/v1/audit",
     .query_params = (const char *const[]){"start", "end", "action", "key_id", "limit",
                                           "next_token", "tenant", NULL}},
};

static const owl_aws_service audit_service = {
    .name = "owl",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
    .ops = audit_ops,
    .nops = OWL_ARRAY_LEN(audit_ops),
};

static const owl_aws_service *const api_services[] = {&audit_service};

const owl_route_table owl_api_routes = {api_routes, OWL_ARRAY_LEN(api_routes), api_services,
                                        OWL_ARRAY_LEN(api_services)};

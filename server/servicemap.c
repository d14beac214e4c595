/* servicemap.c — the service map and the analyses over many traces (docs/api/service-map.md,
 * docs/api/bottlenecks.md):
 *   GET /api/v1/servicemap   nodes and edges of a window: JSON, Graphviz DOT or SVG; from the
 *                            per-minute owl/ServiceGraph statistics the live graph writes,
 *                            or, with a filter, from the window's matching traces
 *   GET /api/v1/bottlenecks  (service, operation) ranked by critical-path self time
 *   GET /api/v1/rootcause    where failures start; what got slower than its baseline
 * X-Ray's GetServiceGraph and GetTraceGraph are in xray.c, over the same map builders. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/traceid.h"
#include "server/server.h"

#define MS_NS 1000000LL
#define MINUTE_MS 60000LL

/* ---- parameters ---- */


/* The window [start, end) of a request (default: the last hour), and with want_baseline its
 * baseline (default: the window of equal length before it). 400 answered when bad. */
static int window_params(owl_call *call, int want_baseline, int64_t *start, int64_t *end,
                         int64_t *bstart, int64_t *bend)
{
    int64_t now = owl_now_ms();
    int hs, he, hbs, hbe;
    *start = now - 3600000;
    *end = now + 1;
    if (owl_call_time(call, "start", start, &hs) != OWL_OK ||
        owl_call_time(call, "end", end, &he) != OWL_OK)
        return OWL_EINVAL;
    if (hs && !he && *start >= *end)
        *end = *start + 3600000;
    if (*end <= *start) {
        owl_call_error(call, 400, "InvalidParameter", "end must be after start");
        return OWL_EINVAL;
    }
    if (*start < -(INT64_MAX / MS_NS) / 2 || *end > (INT64_MAX / MS_NS) / 2) {
        owl_call_error(call, 400, "InvalidParameter", "start and end are out of range");
        return OWL_EINVAL;
    }
    if (!want_baseline)
        return OWL_OK;
    *bstart = *start - (*end - *start);
    *bend = *start;
    if (owl_call_time(call, "baseline_start", bstart, &hbs) != OWL_OK ||
        owl_call_time(call, "baseline_end", bend, &hbe) != OWL_OK)
        return OWL_EINVAL;
    if (hbs != hbe) {
        owl_call_error(call, 400, "InvalidParameter",
                       "baseline_start and baseline_end go together");
        return OWL_EINVAL;
    }
    if (*bend <= *bstart || *bstart < -(INT64_MAX / MS_NS) / 2 ||
        *bend > (INT64_MAX / MS_NS) / 2) {
        owl_call_error(call, 400, "InvalidParameter", "baseline_end must be after baseline_start");
        return OWL_EINVAL;
    }
    return OWL_OK;
}

/* The filter parameter compiled into *f (NULL when absent). 400 answered when bad. */
static int filter_param(owl_call *call, owl_xf **f)
{
    char text[OWL_XF_MAX_LEN + 1];
    *f = NULL;
    int r = owl_query_param(call->req->query, "filter", text, sizeof text);
    if (r < 0) {
        owl_call_error(call, 400, "InvalidParameter",
                       "filter is malformed, given twice or longer than %d bytes", OWL_XF_MAX_LEN);
        return OWL_EINVAL;
    }
    owl_error err = {0};
    if (r == 1 && owl_xf_compile(text, strlen(text), f, &err) != OWL_OK) {
        owl_call_error(call, 400, "InvalidFilterExpression", "%s", err.msg);
        return OWL_EINVAL;
    }
    return OWL_OK;
}

/* ---- the map from owl/ServiceGraph statistics ---- */

typedef struct series {
    char *a, *b;  /* Node + Type, or Source + Target */
    int edge;
} series;

typedef struct series_list {
    series *v;
    size_t n, cap;
    int rc;
} series_list;

static const char *dim_of(const owl_metric_id *id, const char *name)
{
    for (size_t i = 0; i < id->ndims; i++)
        if (!strcmp(id->dims[i].name, name))
            return id->dims[i].value;
    return NULL;
}

static int take_series(void *ud, const owl_metric_id *id, int64_t last_ms)
{
    (void)last_ms;
    series_list *l = ud;
    const char *node = dim_of(id, "Node"), *type = dim_of(id, "Type");
    const char *src = dim_of(id, "Source"), *dst = dim_of(id, "Target");
    int edge = src && dst;
    if (id->ndims != 2 || (!edge && !(node && type)))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        series *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return l->rc = OWL_ENOMEM;
        l->v = v, l->cap = cap;
    }
    series *s = &l->v[l->n];
    s->a = strdup(edge ? src : node);
    s->b = strdup(edge ? dst : type);
    s->edge = edge;
    if (!s->a || !s->b) {
        free(s->a), free(s->b);
        return l->rc = OWL_ENOMEM;
    }
    l->n++;
    return 0;
}

static void hist_visit(void *ud, double v, double w)
{
    owl_svcmap_stats *st = ud;
    st->hist[owl_svcmap_bucket(v)] += (uint64_t)llround(w);
}

/* The period a series is read in (start and end are whole minutes): its buckets are summed,
 * and each is read from the coarsest roll-up level that holds it (owl_metrics_read), so the
 * longest of an hour, five minutes and a minute that the window's bounds are multiples of —
 * a whole-window period fell back to the raw minutes whenever any part of it was not rolled
 * up yet. More than a day's worth of buckets: the whole window, one bucket. */
static int period_of(int64_t start, int64_t end)
{
    static const int64_t steps[] = {3600, 300, 60};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (start % (steps[i] * 1000) == 0 && end % (steps[i] * 1000) == 0)
            return (end - start) / (steps[i] * 1000) <= 1440 ? (int)steps[i]
                                                              : (int)((end - start) / 1000);
    return (int)((end - start) / 1000);
}

/* Adds metric k's buckets (0 Latency, 1 Errors, 2 Faults, 3 Throttles) of one series to st. */
static void add_buckets(owl_svcmap_stats *st, int k, const owl_bucket_set *bs)
{
    for (size_t i = 0; i < bs->n; i++) {
        const owl_bucket *b = &bs->b[i];
        if (k == 0) {
            if (b->count > 0) {
                if (st->requests == 0 || b->min < st->min_ms)
                    st->min_ms = b->min;
                if (st->requests == 0 || b->max > st->max_ms)
                    st->max_ms = b->max;
            }
            st->requests += (uint64_t)llround(b->count);
            st->sum_ms += b->sum;
            if (b->sketch)
                owl_sketch_visit(b->sketch, hist_visit, st);
        } else {
            uint64_t n = (uint64_t)llround(b->sum);
            *(k == 1 ? &st->errors : k == 2 ? &st->faults : &st->throttles) += n;
        }
    }
}

/* Parts a window's walk is split into: one thread each (the calling one included). */
static size_t walk_parts(void)
{
    size_t n = owl_cpus();
    return n > 4 ? 4 : n;
}

/* The figures of every series of l over [start, end) into st[]: its four metrics read with
 * every other series' in one owl_metrics_read_many, which decodes each block once (a read per
 * series and metric decoded the blocks of a day's map hundreds of times over). */
static int read_all(owl_server *srv, const char *tenant, const series_list *l, int64_t start,
                    int64_t end, owl_svcmap_stats *st, owl_error *err)
{
    static const char *const names[] = {"Latency", "Errors", "Faults", "Throttles"};
    size_t n = 4 * l->n;
    owl_metric_query *q = calloc(n ? n : 1, sizeof *q);
    owl_dim *dims = calloc(2 * (l->n ? l->n : 1), sizeof *dims);
    owl_bucket_set *bs = calloc(n ? n : 1, sizeof *bs);
    int rc = q && dims && bs ? OWL_OK : owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n && rc == OWL_OK; i++) {
        const series *s = &l->v[i];
        dims[2 * i] = (owl_dim){s->edge ? "Source" : "Node", s->a};
        dims[2 * i + 1] = (owl_dim){s->edge ? "Target" : "Type", s->b};
        for (int k = 0; k < 4; k++)
            q[4 * i + k] = (owl_metric_query){
                .tenant = tenant, .id = {OWL_SERVICEGRAPH_NS, names[k], &dims[2 * i], 2},
                .start_ms = start, .end_ms = end, .period_s = period_of(start, end)};
    }
    if (rc == OWL_OK)
        rc = owl_metrics_read_many(srv->metrics, q, n, bs, err);
    for (size_t i = 0; i < l->n && rc == OWL_OK; i++)
        for (int k = 0; k < 4; k++)
            add_buckets(&st[i], k, &bs[4 * i + k]);
    for (size_t i = 0; bs && i < n; i++)
        owl_bucket_set_free(&bs[i]);
    free(q), free(dims), free(bs);
    return rc;
}

int owl_servicemap_from_statistics(owl_server *srv, const char *tenant, int64_t start,
                                   int64_t end, owl_svcmap *m, owl_error *err)
{
    start = start / MINUTE_MS * MINUTE_MS - (start % MINUTE_MS < 0 ? MINUTE_MS : 0);
    end = (end + MINUTE_MS - 1) / MINUTE_MS * MINUTE_MS;
    if (end - start > (int64_t)INT32_MAX * 1000)
        return owl_error_set(err, OWL_EINVAL, "the window is too long");
    owl_metric_filter f = {.ns = OWL_SERVICEGRAPH_NS, .name = "Latency",
                           .active_since_ms = start};
    series_list l = {0};
    char token[OWL_METRIC_TOKEN] = "", next[OWL_METRIC_TOKEN];
    int rc;
    do {
        rc = owl_metrics_list(srv->metrics, tenant, &f, token, 500,
                              take_series, &l, next, err);
        if (rc == OWL_OK && l.rc)
            rc = owl_error_set(err, l.rc, "out of memory");
        memcpy(token, next, sizeof token);
    } while (rc == OWL_OK && token[0]);
    /* every series' figures, in one read */
    owl_svcmap_stats *st = rc == OWL_OK ? calloc(l.n ? l.n : 1, sizeof *st) : NULL;
    if (rc == OWL_OK && !st)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc == OWL_OK)
        rc = read_all(srv, tenant, &l, start, end, st, err);
    /* nodes first, so a node keeps its own type; edges then add their ends */
    for (int pass = 0; pass < 2 && rc == OWL_OK; pass++)
        for (size_t i = 0; i < l.n && rc == OWL_OK; i++) {
            series *s = &l.v[i];
            if (s->edge != pass || !st[i].requests)
                continue;
            size_t a, b, k, n;
            if (!s->edge) {
                if ((rc = owl_svcmap_node_at(m, s->a, s->b, &a)) == OWL_OK)
                    owl_svcmap_nodes(m, &n)[a].st = st[i];
                continue;
            }
            if ((rc = owl_svcmap_node_at(m, s->a, "service", &a)) == OWL_OK &&
                (rc = owl_svcmap_node_at(m, s->b, "service", &b)) == OWL_OK &&
                (rc = owl_svcmap_edge_at(m, a, b, &k)) == OWL_OK)
                owl_svcmap_edges(m, &n)[k].st = st[i];
        }
    free(st);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory");
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].a), free(l.v[i].b);
    free(l.v);
    return rc;
}

/* ---- the map from traces ---- */

static int add_trace(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    (void)id;
    return owl_svcgraph_trace(t, ud, NULL);
}


int owl_servicemap_build(owl_server *srv, const char *tenant, const owl_xf *filter,
                         int64_t start_ms, int64_t end_ms, owl_svcmap *m, owl_error *err)
{
    owl_trace_walk w = {.start_ns = start_ms * MS_NS, .end_ns = end_ms * MS_NS,
                        .filter = filter};
    size_t np = walk_parts();
    owl_svcmap *part[OWL_WALK_PARTS_MAX] = {m};
    int rc = OWL_OK;
    for (size_t i = 1; i < np && rc == OWL_OK; i++)
        rc = owl_svcmap_new(start_ms, end_ms, &part[i]);
    if (rc == OWL_OK)
        rc = owl_traces_walk_split(srv->traces, tenant, &w, np, add_trace, (void **)part, err);
    for (size_t i = 1; i < np; i++) {
        if (rc == OWL_OK)
            rc = owl_svcmap_merge(m, part[i]);
        owl_svcmap_free(part[i]);
    }
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory");
    return rc;
}

/* ---- handlers ---- */

static int reply(owl_call *call, owl_buf *b, int rc, const char *content_type, owl_error *err)
{
    if (rc == OWL_OK && b->data) {
        rc = owl_http_resp_text(call->resp, 200, b->data, b->len);
        if (rc == OWL_OK && content_type)
            call->resp->content_type = content_type;
    } else if (rc == OWL_OK) {
        owl_call_error(call, 500, "InternalError", "out of memory");
    } else {
        owl_call_error_from(call, rc, err->msg[0] ? err->msg : "out of memory");
    }
    owl_buf_free(b);
    return rc;
}

static int servicemap(owl_call *call)
{
    int64_t start, end;
    owl_xf *f = NULL;
    char format[16] = "json";
    snprintf(call->resource, sizeof call->resource, "tenant/%s/servicemap",
             call->principal->tenant);
    if (window_params(call, 0, &start, &end, NULL, NULL) != OWL_OK)
        return OWL_EINVAL;
    int r = owl_query_param(call->req->query, "format", format, sizeof format);
    if (r < 0 || (strcmp(format, "json") && strcmp(format, "dot") && strcmp(format, "svg"))) {
        owl_call_error(call, 400, "InvalidParameter", "format must be json, dot or svg");
        return OWL_EINVAL;
    }
    if (filter_param(call, &f) != OWL_OK)
        return OWL_EINVAL;
    owl_error err = {0};
    owl_svcmap *m = NULL;
    int rc = owl_svcmap_new(start, end, &m);
    if (rc == OWL_OK)
        rc = f ? owl_servicemap_build(call->srv, call->principal->tenant, f, start, end, m, &err)
               : owl_servicemap_from_statistics(call->srv, call->principal->tenant, start, end,
                                                m, &err);
    owl_buf b = OWL_BUF_INIT;
    const char *ct = NULL;
    if (rc == OWL_OK) {
        if (!strcmp(format, "dot"))
            rc = owl_svcmap_dot(m, &b, &err), ct = "text/vnd.graphviz; charset=utf-8";
        else if (!strcmp(format, "svg"))
            rc = owl_svcmap_svg(m, &b, &err), ct = "image/svg+xml";
        else
            rc = owl_svcmap_json(m, &b, &err), ct = "application/json";
    }
    owl_svcmap_free(m);
    owl_xf_free(f);
    return reply(call, &b, rc, ct, &err);
}

typedef struct rank_walk {
    owl_rank *r;
    int baseline;
    owl_error err;
} rank_walk;

static int add_ranked(void *ud, const owl_xf_trace *t, const uint8_t id[16])
{
    rank_walk *w = ud;
    return owl_rank_add(w->r, t, id, w->baseline, &w->err);
}

/* bottlenecks (root 0) or root causes (1) of the window and its baseline. */
static int ranking(owl_call *call, int root)
{
    int64_t start, end, bstart, bend;
    owl_xf *f = NULL;
    char service[1024], limit[16];
    snprintf(call->resource, sizeof call->resource, "tenant/%s/%s", call->principal->tenant,
             root ? "rootcause" : "bottlenecks");
    if (window_params(call, 1, &start, &end, &bstart, &bend) != OWL_OK)
        return OWL_EINVAL;
    owl_rank_options o = {0};
    int r = owl_query_param(call->req->query, "service", service, sizeof service);
    if (r < 0) {
        owl_call_error(call, 400, "InvalidParameter", "service is malformed or given twice");
        return OWL_EINVAL;
    }
    if (r == 1 && !root)
        o.service = service;
    r = owl_query_param(call->req->query, "limit", limit, sizeof limit);
    if (owl_call_limit(call, limit, r == 1, 10, 1000, &o.limit) != OWL_OK)
        return OWL_EINVAL;
    char sort[16];
    r = owl_query_param(call->req->query, "sort", sort, sizeof sort);
    if (r < 0 || (r == 1 && strcmp(sort, "self") && strcmp(sort, "added"))) {
        owl_call_error(call, 400, "InvalidParameter", "sort must be self or added");
        return OWL_EINVAL;
    }
    o.sort_added = r == 1 && !strcmp(sort, "added");
    o.no_failures = !root;
    if (filter_param(call, &f) != OWL_OK)
        return OWL_EINVAL;
    owl_error err = {0};
    /* one accumulator per part of the walk, merged in part order: the same answer as one */
    size_t np = walk_parts();
    rank_walk rw[OWL_WALK_PARTS_MAX] = {{0}};
    void *uds[OWL_WALK_PARTS_MAX];
    int rc = OWL_OK;
    for (size_t i = 0; i < np && rc == OWL_OK; i++) {
        rc = owl_rank_new(&o, &rw[i].r, &err);
        uds[i] = &rw[i];
    }
    for (int b = 0; b < 2 && rc == OWL_OK; b++) {
        owl_trace_walk w = {.start_ns = (b ? bstart : start) * MS_NS,
                            .end_ns = (b ? bend : end) * MS_NS,
                            .filter = f,
                            .exceptions = root && !b,
                            .lean = !root};
        for (size_t i = 0; i < np; i++)
            rw[i].baseline = b;
        rc = owl_traces_walk_split(call->srv->traces, call->principal->tenant, &w, np,
                                   add_ranked, uds, &err);
    }
    for (size_t i = 1; i < np && rc == OWL_OK; i++)
        rc = owl_rank_merge(rw[0].r, rw[i].r, &err);
    owl_rank *rk = rw[0].r;
    owl_buf b = OWL_BUF_INIT, body = OWL_BUF_INIT;
    if (rc == OWL_OK)
        rc = root ? owl_rank_rootcause_json(rk, &body, &err)
                  : owl_rank_bottlenecks_json(rk, &body, &err);
    /* the answer: the window's bounds, then the ranking's own members */
    if (rc == OWL_OK && body.len >= 2 && body.data[0] == '{')
        rc = owl_buf_printf(&b,
                            "{\"start\":%" PRId64 ",\"end\":%" PRId64 ",\"baselineStart\":%" PRId64
                            ",\"baselineEnd\":%" PRId64 "%s%s",
                            start, end, bstart, bend, body.len > 2 ? "," : "", body.data + 1);
    else if (rc == OWL_OK)
        rc = owl_error_set(&err, OWL_ENOMEM, "out of memory");
    owl_buf_free(&body);
    for (size_t i = 0; i < np; i++)
        owl_rank_free(rw[i].r);
    owl_xf_free(f);
    return reply(call, &b, rc, "application/json", &err);
}

static int bottlenecks(owl_call *call)
{
    return ranking(call, 0);
}

static int rootcause(owl_call *call)
{
    return ranking(call, 1);
}

static const owl_route servicemap_routes[] = {
    {.method = "GET", .pattern = "/api/v1/servicemap", .action = "xray:GetServiceGraph",
     .fn = servicemap},
    {.method = "GET", .pattern = "/api/v1/bottlenecks", .action = "xray:GetTraceSummaries",
     .fn = bottlenecks},
    {.method = "GET", .pattern = "/api/v1/rootcause", .action = "xray:GetTraceSummaries",
     .fn = rootcause},
};

const owl_route_table owl_servicemap_routes = {servicemap_routes,
                                               OWL_ARRAY_LEN(servicemap_routes), NULL, 0};

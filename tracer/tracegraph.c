/* tracegraph.c — the service graph's nodes and edges of one whole trace (owl_svcgraph_trace):
 * maps built from stored traces (a filter, GetTraceGraph). The same rules as the live graph
 * (svcgraph.c), which finds them from spans arriving apart: tracer/tracer.h and
 * docs/service-map.md "Nodes and edges". */
#include <stdlib.h>
#include <string.h>

#include "tracer/tracer.h"

/* ---- the edges of one trace ---- */

static unsigned status_of(const owl_xf_span *s)
{
    return (s->fault ? OWL_FO_FAULT : 0) | (s->error && !s->throttle ? OWL_FO_ERROR : 0) |
           (s->throttle ? OWL_FO_THROTTLE : 0);
}

static int valid_parent(const owl_xf_trace *t, size_t i)
{
    int32_t p = t->spans[i].parent;
    return p >= 0 && (size_t)p < t->n_spans && (size_t)p != i;
}

static const char *svc_of(const owl_xf_span *s)
{
    return s->service && s->service[0] ? s->service : "unknown_service";
}

static int count_node(owl_svcmap *m, const char *name, const char *type, double ms,
                      unsigned st, size_t *idx)
{
    int rc = owl_svcmap_node_at(m, name, type, idx);
    if (rc == OWL_OK) {
        size_t nn;
        owl_svcmap_count(&owl_svcmap_nodes(m, &nn)[*idx].st, ms, st);
    }
    return rc;
}

static int count_edge(owl_svcmap *m, size_t a, size_t b, double ms, unsigned st)
{
    size_t e, ne;
    int rc = owl_svcmap_edge_at(m, a, b, &e);
    if (rc == OWL_OK)
        owl_svcmap_count(&owl_svcmap_edges(m, &ne)[e].st, ms, st);
    return rc;
}

int owl_svcgraph_trace(const owl_xf_trace *t, owl_svcmap *m, owl_error *err)
{
    int rc = OWL_OK;
    uint8_t *remote_child = calloc(t->n_spans ? t->n_spans : 1, 1);
    if (!remote_child)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n_spans; i++) /* which spans have a child elsewhere */
        if (valid_parent(t, i) &&
            strcmp(svc_of(&t->spans[i]), svc_of(&t->spans[t->spans[i].parent])))
            remote_child[t->spans[i].parent] = 1;
    for (size_t i = 0; i < t->n_spans && rc == OWL_OK; i++) {
        const owl_xf_span *s = &t->spans[i];
        if (s->in_progress)
            continue;
        double ms = (double)(s->end_ns - s->start_ns) / 1e6;
        const char *type = s->service_type && s->service_type[0] ? s->service_type : "service";
        int parent = valid_parent(t, i);
        const owl_xf_span *p = parent ? &t->spans[s->parent] : NULL;
        int remote = p && strcmp(svc_of(s), svc_of(p));
        int entry = !parent || remote || s->kind == OWL_XF_SERVER || s->kind == OWL_XF_CONSUMER;
        size_t me, from;
        if (entry && (rc = count_node(m, svc_of(s), type, ms, status_of(s), &me)) != OWL_OK)
            break;
        if (remote && (rc = owl_svcmap_node_at(m, svc_of(p), "service", &from)) == OWL_OK)
            rc = count_edge(m, from, me, ms, status_of(s));
        if (rc == OWL_OK && !remote_child[i] &&
            (s->kind == OWL_XF_CLIENT || s->kind == OWL_XF_PRODUCER) && s->remote_service &&
            s->remote_service[0]) {
            const char *pt = owl_svcgraph_peer_type(s->remote_service,
                                                    strlen(s->remote_service), s->remote_type);
            size_t to;
            if ((rc = owl_svcmap_node_at(m, svc_of(s), type, &from)) == OWL_OK &&
                (rc = count_node(m, s->remote_service, pt, ms, status_of(s), &to)) == OWL_OK)
                rc = count_edge(m, from, to, ms, status_of(s));
        }
    }
    free(remote_child);
    return rc == OWL_ENOMEM ? owl_error_set(err, rc, "out of memory") : rc;
}


/* mquery.c — a set of metric data queries evaluated together: MetricStats read (from the
 * store, or from a source the caller gives, such as an alarm's watches) and turned into one
 * series of the statistic per period, expressions evaluated by the metric-math evaluator
 * (mexpr.c) over the other queries' results. Each query is evaluated once per evaluation,
 * on first need; a query met again while being evaluated is a cycle. GetMetricData
 * (server/cloudwatch.c) and metric-math alarms (alarms.c) both use it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

int owl_mquery_id_ok(const char *id)
{
    if (!id || !islower((unsigned char)id[0]) || strlen(id) > 255)
        return 0;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

typedef struct env_ctx {
    owl_mquery_set *set;
    owl_error *err;
} env_ctx;

static int lookup(void *ud, const char *id, const owl_ts_list **out)
{
    env_ctx *x = ud;
    for (size_t i = 0; i < x->set->n; i++)
        if (strcmp(x->set->qs[i].id, id) == 0) {
            int rc = owl_mquery_eval(x->set, i, x->err);
            if (rc != OWL_OK)
                return rc;
            *out = &x->set->qs[i].result;
            return OWL_OK;
        }
    return OWL_ENOTFOUND;
}

static int ts_copy(const owl_ts *src, owl_ts *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->id = src->id ? strdup(src->id) : NULL;
    dst->label = src->label ? strdup(src->label) : NULL;
    dst->t = malloc((src->n ? src->n : 1) * sizeof *dst->t);
    dst->v = malloc((src->n ? src->n : 1) * sizeof *dst->v);
    if (!dst->t || !dst->v)
        return OWL_ENOMEM;
    memcpy(dst->t, src->t, src->n * sizeof *dst->t);
    memcpy(dst->v, src->v, src->n * sizeof *dst->v);
    dst->n = src->n;
    return OWL_OK;
}

/* METRICS() / METRICS("s"): copies of every MetricStat's series (label containing s). */
static int all(void *ud, const char *filter, owl_ts_list *out)
{
    env_ctx *x = ud;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < x->set->n; i++) {
        owl_mquery *q = &x->set->qs[i];
        if (q->expr)
            continue;
        int rc = owl_mquery_eval(x->set, i, x->err);
        if (rc != OWL_OK)
            return rc;
        for (size_t k = 0; k < q->result.n; k++) {
            const char *label = q->result.s[k].label ? q->result.s[k].label : q->id;
            if (filter && *filter && !strstr(label, filter))
                continue;
            owl_ts *s = realloc(out->s, (out->n + 1) * sizeof *s);
            if (!s)
                return OWL_ENOMEM;
            out->s = s;
            if ((rc = ts_copy(&q->result.s[k], &out->s[out->n++])) != OWL_OK)
                return rc;
        }
    }
    return OWL_OK;
}

/* A MetricStat's series from the store. */
static int from_store(owl_mquery_set *set, const owl_mquery *q, owl_ts *s, owl_error *err)
{
    owl_metric_query mq = {.tenant = set->tenant, .id = q->metric, .unit = q->unit,
                           .start_ms = set->start_ms, .end_ms = set->end_ms,
                           .period_s = q->period_s};
    owl_bucket_set bs;
    int rc = owl_metrics_read(set->m, &mq, &bs, err);
    if (rc != OWL_OK)
        return rc;
    s->t = malloc((bs.n ? bs.n : 1) * sizeof *s->t);
    s->v = malloc((bs.n ? bs.n : 1) * sizeof *s->v);
    if (!s->t || !s->v)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == OWL_OK && i < bs.n; i++) {
        double v;
        if (owl_stat_eval(&q->stat, &bs.b[i], &v) == OWL_OK) {
            s->t[s->n] = bs.b[i].time_ms;
            s->v[s->n++] = v;
        }
    }
    owl_bucket_set_free(&bs);
    return rc;
}

int owl_mquery_eval(owl_mquery_set *set, size_t i, owl_error *err)
{
    owl_mquery *q = &set->qs[i];
    if (q->done)
        return OWL_OK;
    if (q->busy)
        return owl_error_set(err, OWL_EINVAL,
                             "the expressions refer to each other in a cycle (through %s)",
                             q->id);
    q->busy = 1;
    int rc;
    if (q->expr) {
        env_ctx x = {set, err};
        owl_mexpr_env env = {.start_ms = set->start_ms, .end_ms = set->end_ms,
                             .period_s = q->period_s, .lookup = lookup, .all = all, .ud = &x};
        rc = q->e ? OWL_OK : owl_mexpr_parse(q->expr, &q->e, NULL, err);
        if (rc == OWL_OK)
            rc = owl_mexpr_eval(q->e, &env, &q->result, err);
        for (size_t k = 0; rc == OWL_OK && k < q->result.n; k++) {
            free(q->result.s[k].label);
            q->result.s[k].label = NULL;
            if (q->result.n == 1 && q->label && !(q->result.s[k].label = strdup(q->label)))
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
    } else {
        owl_ts *s = calloc(1, sizeof *s);
        q->result.s = s;
        q->result.n = s ? 1 : 0;
        if (!s || !(s->id = strdup(q->id)) ||
            !(s->label = strdup(q->label ? q->label : q->metric.name)))
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        else if (set->source)
            rc = set->source(set->source_ud, i, q, set->start_ms, set->end_ms, s, err);
        else
            rc = from_store(set, q, s, err);
    }
    q->busy = 0;
    q->done = rc == OWL_OK;
    return rc;
}

void owl_mquery_reset(owl_mquery_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        owl_mquery *q = &set->qs[i];
        owl_ts_list_free(&q->result);
        q->done = q->busy = 0;
    }
}

void owl_mquery_clear(owl_mquery_set *set)
{
    owl_mquery_reset(set);
    for (size_t i = 0; i < set->n; i++) {
        owl_mexpr_free(set->qs[i].e);
        set->qs[i].e = NULL;
    }
}

/* alarms.c — CloudWatch metric alarms kept by owl: definitions, states and history in the
 * metadata store, evaluated by owl_alarms_tick (the evaluator thread's step).
 *
 * Records (metadata store, per tenant):
 *   kind "alarm", id the alarm's name: the definition and the current state, rewritten on
 *     every change (fsynced before the change is reported; docs/storage.md "Records by
 *     kind" lists the fields);
 *   kind "alarm-history", id 16 hex digits of the time (ms) + 8 of a sequence: one history
 *     item {alarm, type (ConfigurationUpdate, StateUpdate, Action), ts, summary, data (JSON,
 *     CloudWatch's HistoryData)}, kept two weeks as CloudWatch keeps them.
 * An alarm starts INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"). Each tick evaluates
 * the alarms due from their watches of recent buckets (owl_alarm_evaluate_watch; the store
 * only when no watch could be made); a change of state writes the alarm and a StateUpdate
 * item carrying the reason and StateReasonData (the datapoints used) in one metadata write,
 * then calls the change hooks (actions, events), outside the lock. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics_int.h"
#include "analytics/composite.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/target.h"

#define KIND "alarm"
#define KIND_HISTORY "alarm-history"
#define HISTORY_KEEP_MS (14LL * 86400 * 1000)

typedef struct alm {
    char tenant[256], name[256];
    char *desc;
    char *ns, *metric, *unit;
    owl_dim *dims;
    size_t ndims;
    owl_alarm_spec spec; /* points into the strings above */
    int actions_enabled;
    char **actions[3]; /* ALARM, OK, INSUFFICIENT_DATA: NULL-terminated URL lists */
    enum owl_alarm_state state;
    char *reason, *reason_data;
    int64_t state_ms, config_ms;
    owl_crule *rule;   /* a composite alarm: its AlarmRule (spec unused), else NULL */
    char *rule_text;
    owl_watch *w;      /* a metric alarm's recent buckets (NULL: read from the store) */
    int64_t eval_slot; /* the evaluation slot and watch generation last evaluated */
    uint64_t eval_gen;
    int force;         /* evaluate at the next tick whatever changed */
    struct alm *next_hash;
    /* a composite alarm's ActionsSuppressor, and the suppression in force */
    char *suppressor;
    int sup_wait_s, sup_ext_s;
    enum sup_by { SUP_NONE, SUP_WAIT, SUP_EXT, SUP_ALARM } sup_by;
    int64_t sup_until_ms;
    enum owl_alarm_state sup_old; /* the held change's old state */
    owl_alarm_change *held;       /* the ALARM change whose actions are held back */
    /* a metric-math alarm's Metrics (NULL: a single-metric alarm), the one returning data,
     * and the watch of each MetricStat */
    owl_mquery *mq;
    size_t nmq, mret;
    owl_watch **mw;
} alm;

static const char *const sup_names[] = {"", "WaitPeriod", "ExtensionPeriod", "Alarm"};

struct owl_alarms {
    owl_meta *meta;
    owl_metrics *metrics;
    pthread_mutex_t mu;
    alm **v;
    size_t n, cap;
    uint32_t seq;
    alm **idx; /* by (tenant, name), chained by next_hash; idxcap a power of two */
    size_t idxcap;
    struct {
        owl_alarm_change_fn fn;
        void *ud;
    } hooks[OWL_ALARM_MAX_HOOKS];
    struct {
        char ns[256];
        owl_evidence_fn fn;
        void *ud;
    } evidence[OWL_ALARM_MAX_EVIDENCE];
    size_t nevidence;
    size_t notifying;        /* reports in flight (notify) */
    pthread_cond_t idle_cv;  /* signalled when none is */
    owl_alarm_stats stats;
    pthread_t thread;
    int running, stopping, woken;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
};

/* ---- alarms in memory ---- */

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static char **strv_dup(const char *const *v, size_t n)
{
    char **o = calloc(n + 1, sizeof *o);
    for (size_t i = 0; o && i < n; i++)
        if (!(o[i] = strdup(v[i]))) {
            strv_free(o);
            return NULL;
        }
    return o;
}

static void change_free(owl_alarm_change *ch)
{
    if (!ch)
        return;
    free(ch->reason);
    free(ch->history_data);
    free(ch->description);
    free(ch->evidence);
    strv_free(ch->actions);
    free(ch);
}

static void mq_free(owl_mquery *qs, size_t n)
{
    for (size_t i = 0; qs && i < n; i++) {
        owl_mquery *q = &qs[i];
        free((char *)q->id), free((char *)q->label), free((char *)q->expr);
        free((char *)q->metric.ns), free((char *)q->metric.name), free((char *)q->unit);
        for (size_t k = 0; k < q->metric.ndims; k++) {
            free((char *)q->metric.dims[k].name);
            free((char *)q->metric.dims[k].value);
        }
        free((owl_dim *)q->metric.dims);
        owl_mexpr_free(q->e);
        owl_ts_list_free(&q->result);
    }
    free(qs);
}

static char *dup_or_null(const char *s, int *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = 0;
    return d;
}

/* A copy of queries qs[0..n) owning its strings (no evaluation state). */
static owl_mquery *mq_dup(const owl_mquery *qs, size_t n)
{
    owl_mquery *o = calloc(n, sizeof *o);
    int ok = o != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const owl_mquery *q = &qs[i];
        owl_mquery *c = &o[i];
        c->return_data = q->return_data;
        c->period_s = q->period_s;
        c->stat = q->stat;
        c->id = dup_or_null(q->id, &ok);
        c->label = dup_or_null(q->label, &ok);
        c->expr = dup_or_null(q->expr, &ok);
        c->unit = dup_or_null(q->unit, &ok);
        c->metric.ns = dup_or_null(q->metric.ns, &ok);
        c->metric.name = dup_or_null(q->metric.name, &ok);
        owl_dim *dims = q->metric.ndims ? calloc(q->metric.ndims, sizeof *dims) : NULL;
        ok = ok && (!q->metric.ndims || dims);
        c->metric.dims = dims;
        for (size_t k = 0; ok && k < q->metric.ndims; k++) {
            dims[k].name = dup_or_null(q->metric.dims[k].name, &ok);
            dims[k].value = dup_or_null(q->metric.dims[k].value, &ok);
            c->metric.ndims = k + 1;
        }
    }
    if (!ok) {
        mq_free(o, n);
        return NULL;
    }
    return o;
}

static void alarm_free(alm *a)
{
    if (!a)
        return;
    free(a->desc), free(a->ns), free(a->metric), free(a->unit);
    for (size_t i = 0; i < a->ndims; i++) {
        free((char *)a->dims[i].name);
        free((char *)a->dims[i].value);
    }
    free(a->dims);
    for (int k = 0; k < 3; k++)
        strv_free(a->actions[k]);
    free(a->reason), free(a->reason_data);
    owl_crule_free(a->rule);
    free(a->rule_text);
    free(a->suppressor);
    change_free(a->held);
    mq_free(a->mq, a->nmq);
    free(a->mw);
    free(a);
}

static size_t name_slot(const owl_alarms *as, const char *tenant, const char *name)
{
    uint64_t h = owl_hash64(tenant, strlen(tenant), 0);
    return (size_t)owl_hash64(name, strlen(name), h) & (as->idxcap - 1);
}

static alm *find(const owl_alarms *as, const char *tenant, const char *name, size_t *at)
{
    alm *a = NULL;
    for (a = as->idxcap ? as->idx[name_slot(as, tenant, name)] : NULL; a; a = a->next_hash)
        if (strcmp(a->name, name) == 0 && strcmp(a->tenant, tenant) == 0)
            break;
    for (size_t i = 0; a && at && i < as->n; i++) /* its place in v, for a rare replace */
        if (as->v[i] == a)
            *at = i;
    return a;
}

static void index_add(owl_alarms *as, alm *a)
{
    size_t b = name_slot(as, a->tenant, a->name);
    a->next_hash = as->idx[b];
    as->idx[b] = a;
}

static void index_remove(owl_alarms *as, alm *a)
{
    for (alm **p = &as->idx[name_slot(as, a->tenant, a->name)]; *p; p = &(*p)->next_hash)
        if (*p == a) {
            *p = a->next_hash;
            return;
        }
}

/* Appends a to the alarms and the index (mu held, or during open). OWL_ENOMEM leaves them
 * as they were. */
static int push(owl_alarms *as, alm *a)
{
    if (as->n == as->cap) {
        size_t cap = as->cap ? 2 * as->cap : 64;
        alm **v = realloc(as->v, cap * sizeof *v);
        if (!v)
            return OWL_ENOMEM;
        as->v = v, as->cap = cap;
    }
    if ((as->n + 1) * 2 > as->idxcap) {
        size_t cap = as->idxcap ? 2 * as->idxcap : 256;
        alm **idx = calloc(cap, sizeof *idx);
        if (!idx)
            return OWL_ENOMEM;
        free(as->idx);
        as->idx = idx, as->idxcap = cap;
        for (size_t i = 0; i < as->n; i++)
            index_add(as, as->v[i]);
    }
    as->v[as->n++] = a;
    index_add(as, a);
    return OWL_OK;
}

/* Puts a in old's place (mu held). */
static void replace(owl_alarms *as, size_t at, alm *old, alm *a)
{
    index_remove(as, old);
    as->v[at] = a;
    index_add(as, a);
}

/* Statistics that need each period's distribution, not only its figures. */
static int needs_sketch(const owl_stat *st)
{
    return st->kind >= OWL_STAT_PCT;
}

/* A metric alarm's watch of its series (the range it evaluates, eval_periods + 2 periods).
 * Without one (out of memory) the alarm is read from the store at each evaluation. */
static void attach(owl_alarms *as, alm *a)
{
    owl_error e = {0};
    if (a->rule || !as->metrics)
        return;
    size_t n = (size_t)a->spec.eval_periods + 2;
    for (size_t i = 0; i < a->nmq; i++) {
        const owl_mquery *q = &a->mq[i];
        if (!q->expr && owl_metrics_watch(as->metrics, a->tenant, &q->metric, q->unit,
                                          q->period_s, n, needs_sketch(&q->stat), &a->mw[i],
                                          &e) != OWL_OK)
            owl_warn("alarms: %s/%s: no watch of %s (%s); read from the store", a->tenant,
                     a->name, q->id, e.msg);
    }
    if (!a->mq && owl_metrics_watch(as->metrics, a->tenant, &a->spec.id, a->spec.unit,
                                    a->spec.period_s, n, needs_sketch(&a->spec.stat), &a->w,
                                    &e) != OWL_OK)
        owl_warn("alarms: %s/%s: no watch of its metric (%s); read from the store", a->tenant,
                 a->name, e.msg);
}

/* Frees a, dropping its watch. */
static void drop(owl_alarms *as, alm *a)
{
    if (a && a->w)
        owl_metrics_unwatch(as->metrics, a->w);
    for (size_t i = 0; a && a->mw && i < a->nmq; i++)
        owl_metrics_unwatch(as->metrics, a->mw[i]);
    alarm_free(a);
}

/* A copy of definition d (tenant and name already checked). */
static alm *alarm_from_def(const owl_alarm_def *d)
{
    alm *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->tenant, sizeof a->tenant, "%s", d->spec.tenant);
    snprintf(a->name, sizeof a->name, "%s", d->name);
    int ok = (!d->description || (a->desc = strdup(d->description))) &&
             (a->ns = strdup(d->spec.id.ns)) && (a->metric = strdup(d->spec.id.name)) &&
             (!d->spec.unit || (a->unit = strdup(d->spec.unit))) &&
             (a->dims = calloc(d->spec.id.ndims + 1, sizeof *a->dims));
    for (size_t i = 0; ok && i < d->spec.id.ndims; i++) {
        a->dims[i].name = strdup(d->spec.id.dims[i].name);
        a->dims[i].value = strdup(d->spec.id.dims[i].value);
        a->ndims = i + 1;
        ok = a->dims[i].name && a->dims[i].value;
    }
    for (int k = 0; ok && k < 3; k++)
        ok = (a->actions[k] = strv_dup(d->actions[k], d->nactions[k])) != NULL;
    ok = ok && (!d->suppressor || (a->suppressor = strdup(d->suppressor)));
    if (ok && d->metrics) {
        ok = (a->mq = mq_dup(d->metrics, d->nmetrics)) != NULL &&
             (a->mw = calloc(d->nmetrics, sizeof *a->mw)) != NULL;
        a->nmq = ok ? d->nmetrics : 0;
        for (size_t i = 0; i < a->nmq; i++)
            if (a->mq[i].return_data)
                a->mret = i;
    }
    a->sup_wait_s = d->suppressor_wait_s;
    a->sup_ext_s = d->suppressor_extension_s;
    if (!ok) {
        alarm_free(a);
        return NULL;
    }
    a->spec = d->spec;
    a->spec.tenant = a->tenant;
    a->spec.id = (owl_metric_id){a->ns, a->metric, a->dims, a->ndims};
    a->spec.unit = a->unit;
    a->actions_enabled = d->actions_enabled;
    return a;
}

/* ---- records ---- */

static void append_strv(bson_t *doc, const char *key, char **v)
{
    bson_t arr;
    char k[24];
    BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
    for (size_t i = 0; v && v[i]; i++) {
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_UTF8(&arr, k, v[i]);
    }
    bson_append_array_end(doc, &arr);
}

static void alarm_doc(const alm *a, bson_t *doc)
{
    bson_t arr, d;
    char k[24];
    BSON_APPEND_UTF8(doc, "name", a->name);
    if (a->rule)
        BSON_APPEND_UTF8(doc, "rule", a->rule_text);
    if (a->desc)
        BSON_APPEND_UTF8(doc, "desc", a->desc);
    BSON_APPEND_UTF8(doc, "ns", a->ns);
    BSON_APPEND_UTF8(doc, "metric", a->metric);
    BSON_APPEND_ARRAY_BEGIN(doc, "dims", &arr);
    for (size_t i = 0; i < a->ndims; i++) {
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &d);
        BSON_APPEND_UTF8(&d, "n", a->dims[i].name);
        BSON_APPEND_UTF8(&d, "v", a->dims[i].value);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(doc, &arr);
    if (a->unit)
        BSON_APPEND_UTF8(doc, "unit", a->unit);
    BSON_APPEND_UTF8(doc, "stat", a->spec.stat.name);
    BSON_APPEND_INT32(doc, "period", a->spec.period_s);
    BSON_APPEND_INT32(doc, "n", a->spec.eval_periods);
    BSON_APPEND_INT32(doc, "m", a->spec.datapoints_to_alarm);
    BSON_APPEND_UTF8(doc, "cmp", owl_alarm_cmp_name(a->spec.cmp));
    BSON_APPEND_DOUBLE(doc, "threshold", a->spec.threshold);
    BSON_APPEND_UTF8(doc, "missing", owl_alarm_missing_name(a->spec.missing));
    BSON_APPEND_BOOL(doc, "low_ignore", a->spec.low_sample_ignore != 0);
    BSON_APPEND_BOOL(doc, "enabled", a->actions_enabled != 0);
    append_strv(doc, "alarm_actions", a->actions[OWL_ALARM_ALARM]);
    append_strv(doc, "ok_actions", a->actions[OWL_ALARM_OK]);
    append_strv(doc, "insufficient_actions", a->actions[OWL_ALARM_INSUFFICIENT_DATA]);
    BSON_APPEND_UTF8(doc, "state", owl_alarm_state_name(a->state));
    BSON_APPEND_UTF8(doc, "reason", a->reason ? a->reason : "");
    BSON_APPEND_UTF8(doc, "reason_data", a->reason_data ? a->reason_data : "");
    BSON_APPEND_INT64(doc, "state_ms", a->state_ms);
    BSON_APPEND_INT64(doc, "config_ms", a->config_ms);
    if (a->mq) {
        BSON_APPEND_ARRAY_BEGIN(doc, "metrics", &arr);
        for (size_t i = 0; i < a->nmq; i++) {
            const owl_mquery *q = &a->mq[i];
            bson_t qd, qdims, dd;
            snprintf(k, sizeof k, "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &qd);
            BSON_APPEND_UTF8(&qd, "id", q->id);
            if (q->label)
                BSON_APPEND_UTF8(&qd, "label", q->label);
            BSON_APPEND_BOOL(&qd, "ret", q->return_data != 0);
            BSON_APPEND_INT32(&qd, "period", q->period_s);
            if (q->expr) {
                BSON_APPEND_UTF8(&qd, "expr", q->expr);
            } else {
                BSON_APPEND_UTF8(&qd, "ns", q->metric.ns);
                BSON_APPEND_UTF8(&qd, "metric", q->metric.name);
                BSON_APPEND_UTF8(&qd, "stat", q->stat.name);
                if (q->unit)
                    BSON_APPEND_UTF8(&qd, "unit", q->unit);
                BSON_APPEND_ARRAY_BEGIN(&qd, "dims", &qdims);
                for (size_t j = 0; j < q->metric.ndims; j++) {
                    char kj[24];
                    snprintf(kj, sizeof kj, "%zu", j);
                    BSON_APPEND_DOCUMENT_BEGIN(&qdims, kj, &dd);
                    BSON_APPEND_UTF8(&dd, "n", q->metric.dims[j].name);
                    BSON_APPEND_UTF8(&dd, "v", q->metric.dims[j].value);
                    bson_append_document_end(&qdims, &dd);
                }
                bson_append_array_end(&qd, &qdims);
            }
            bson_append_document_end(&arr, &qd);
        }
        bson_append_array_end(doc, &arr);
    }
    if (a->suppressor) {
        BSON_APPEND_UTF8(doc, "suppressor", a->suppressor);
        BSON_APPEND_INT32(doc, "sup_wait", a->sup_wait_s);
        BSON_APPEND_INT32(doc, "sup_ext", a->sup_ext_s);
        BSON_APPEND_INT32(doc, "sup_by", (int32_t)a->sup_by);
        BSON_APPEND_INT64(doc, "sup_until", a->sup_until_ms);
        BSON_APPEND_INT32(doc, "sup_old", (int32_t)a->sup_old);
    }
}

/* A history item's id (time then a sequence, so ids sort by time) and document. */
static bson_t *history_doc(owl_alarms *as, const char *name, const char *type, int64_t ts,
                           const char *summary, const char *data, char id[32])
{
    snprintf(id, 32, "%016" PRIx64 "%08" PRIx32, (uint64_t)ts, ++as->seq);
    bson_t *doc = bson_new();
    if (!doc)
        return NULL;
    BSON_APPEND_UTF8(doc, "alarm", name);
    BSON_APPEND_UTF8(doc, "type", type);
    BSON_APPEND_INT64(doc, "ts", ts);
    BSON_APPEND_UTF8(doc, "summary", summary);
    BSON_APPEND_UTF8(doc, "data", data ? data : "");
    return doc;
}

/* save_logged — stores the alarm and, when type is not NULL, the history item saying what
 * happened to it, in one write made durable by one fsync. */
static int save_logged(owl_alarms *as, const alm *a, const char *type, int64_t ts,
                       const char *summary, const char *data, owl_error *err)
{
    char hid[32];
    bson_t *doc = bson_new();
    bson_t *hist = type ? history_doc(as, a->name, type, ts, summary, data, hid) : NULL;
    int rc;
    if (!doc || (type && !hist)) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    } else {
        alarm_doc(a, doc);
        const char *kinds[2] = {KIND, KIND_HISTORY}, *ids[2] = {a->name, hid};
        const bson_t *docs[2] = {doc, hist};
        rc = owl_meta_put_mixed(as->meta, a->tenant, type ? 2 : 1, kinds, ids, docs, err);
    }
    if (hist)
        bson_destroy(hist);
    if (doc)
        bson_destroy(doc);
    return rc;
}

static int save(owl_alarms *as, const alm *a, owl_error *err)
{
    return save_logged(as, a, NULL, 0, NULL, NULL, err);
}

static int add_history(owl_alarms *as, const char *tenant, const char *name, const char *type,
                       int64_t ts, const char *summary, const char *data, owl_error *err)
{
    char id[32];
    bson_t *doc = history_doc(as, name, type, ts, summary, data, id);
    if (!doc)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = owl_meta_put(as->meta, tenant, KIND_HISTORY, id, doc, err);
    bson_destroy(doc);
    return rc;
}

static const char *get_str(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)
               ? bson_iter_utf8(&it, NULL)
               : NULL;
}

static int64_t get_num(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
}

/* The strings of array key in doc, as pointers into doc (at most max). */
static size_t get_strv(const bson_t *doc, const char *key, const char **out, size_t max)
{
    bson_iter_t it, ai;
    size_t n = 0;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ai))
        while (bson_iter_next(&ai) && n < max)
            if (BSON_ITER_HOLDS_UTF8(&ai))
                out[n++] = bson_iter_utf8(&ai, NULL);
    return n;
}

/* The ALARM change of composite a whose actions a suppression holds, rebuilt at load. */
static owl_alarm_change *held_rebuild(const alm *a)
{
    owl_alarm_change *ch = calloc(1, sizeof *ch);
    size_t na = 0;
    while (a->actions[OWL_ALARM_ALARM] && a->actions[OWL_ALARM_ALARM][na])
        na++;
    if (!ch || !(ch->reason = strdup(a->reason ? a->reason : "")) ||
        (a->desc && !(ch->description = strdup(a->desc))) ||
        !(ch->actions = strv_dup((const char *const *)a->actions[OWL_ALARM_ALARM], na))) {
        change_free(ch);
        return NULL;
    }
    snprintf(ch->tenant, sizeof ch->tenant, "%s", a->tenant);
    snprintf(ch->name, sizeof ch->name, "%s", a->name);
    ch->old_state = a->sup_old;
    ch->new_state = OWL_ALARM_ALARM;
    ch->time_ms = a->state_ms;
    ch->actions_enabled = a->actions_enabled;
    return ch;
}

/* The next document of an array being iterated into *sub (pointing into it); 0 at the
 * end. Elements of other types are skipped. */
static int next_doc(bson_iter_t *ai, bson_t *sub)
{
    while (bson_iter_next(ai)) {
        uint32_t len;
        const uint8_t *data;
        if (!BSON_ITER_HOLDS_DOCUMENT(ai))
            continue;
        bson_iter_document(ai, &len, &data);
        if (bson_init_static(sub, data, len))
            return 1;
    }
    return 0;
}

/* The "dims" array of doc ({n, v} documents) into dims (room for OWL_METRIC_MAX_DIMS);
 * strings point into doc. */
static size_t get_dims(const bson_t *doc, owl_dim *dims)
{
    bson_iter_t it, ai;
    size_t n = 0;
    if (!bson_iter_init_find(&it, doc, "dims") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &ai))
        return 0;
    bson_t sub;
    while (n < OWL_METRIC_MAX_DIMS && next_doc(&ai, &sub))
        if (get_str(&sub, "n") && get_str(&sub, "v"))
            dims[n++] = (owl_dim){get_str(&sub, "n"), get_str(&sub, "v")};
    return n;
}

typedef struct loader {
    owl_alarms *as;
    int rc;
} loader;

static int load_one(void *ud, const char *tenant, const char *kind, const char *id,
                    const bson_t *doc)
{
    loader *l = ud;
    owl_alarm_def d = {0};
    owl_dim dims[OWL_METRIC_MAX_DIMS];
    const char *acts[3][OWL_ALARM_MAX_ACTIONS];
    bson_iter_t it, ai, di;
    (void)kind;
    d.name = id;
    d.description = get_str(doc, "desc");
    d.spec.tenant = tenant;
    d.spec.id.ns = get_str(doc, "ns");
    d.spec.id.name = get_str(doc, "metric");
    d.spec.unit = get_str(doc, "unit");
    d.spec.id.ndims = get_dims(doc, dims);
    d.spec.id.dims = dims;
    /* a metric-math alarm's queries */
    owl_mquery mq[OWL_ALARM_MAX_METRICS];
    owl_dim mdims[OWL_ALARM_MAX_METRICS][OWL_METRIC_MAX_DIMS];
    int mq_ok = 1;
    if (bson_iter_init_find(&it, doc, "metrics") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ai)) {
        d.metrics = mq;
        bson_t sub;
        while (d.nmetrics < OWL_ALARM_MAX_METRICS && next_doc(&ai, &sub)) {
            owl_mquery *q = &mq[d.nmetrics];
            memset(q, 0, sizeof *q);
            q->id = get_str(&sub, "id");
            q->label = get_str(&sub, "label");
            q->expr = get_str(&sub, "expr");
            q->return_data = bson_iter_init_find(&di, &sub, "ret") &&
                             BSON_ITER_HOLDS_BOOL(&di) && bson_iter_bool(&di);
            q->period_s = (int)get_num(&sub, "period");
            q->metric.ns = get_str(&sub, "ns");
            q->metric.name = get_str(&sub, "metric");
            q->unit = get_str(&sub, "unit");
            q->metric.ndims = get_dims(&sub, mdims[d.nmetrics]);
            q->metric.dims = mdims[d.nmetrics];
            if (!q->id || (!q->expr && (!q->metric.ns || !q->metric.name ||
                                        owl_stat_parse(get_str(&sub, "stat") ? get_str(&sub, "stat")
                                                                             : "",
                                                       &q->stat, NULL) != OWL_OK)))
                mq_ok = 0;
            d.nmetrics++;
        }
    }

    d.spec.period_s = (int)get_num(doc, "period");
    d.spec.eval_periods = (int)get_num(doc, "n");
    d.spec.datapoints_to_alarm = (int)get_num(doc, "m");
    if (bson_iter_init_find(&it, doc, "threshold") && BSON_ITER_HOLDS_DOUBLE(&it))
        d.spec.threshold = bson_iter_double(&it);
    d.spec.low_sample_ignore = bson_iter_init_find(&it, doc, "low_ignore") &&
                               BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
    d.actions_enabled = bson_iter_init_find(&it, doc, "enabled") && BSON_ITER_HOLDS_BOOL(&it) &&
                        bson_iter_bool(&it);
    static const char *const keys[3] = {"ok_actions", "alarm_actions", "insufficient_actions"};
    for (int k = 0; k < 3; k++) {
        d.nactions[k] = get_strv(doc, keys[k], acts[k], OWL_ALARM_MAX_ACTIONS);
        d.actions[k] = acts[k];
    }
    d.suppressor = get_str(doc, "suppressor");
    d.suppressor_wait_s = (int)get_num(doc, "sup_wait");
    d.suppressor_extension_s = (int)get_num(doc, "sup_ext");
    const char *rule = get_str(doc, "rule");
    owl_crule *cr = NULL;
    if (rule && owl_crule_parse(rule, &cr, NULL) != OWL_OK) {
        owl_warn("alarms: %s/%s: the stored rule does not parse; skipped", tenant, id);
        return 0;
    }
    if (rule) { /* a composite alarm: placeholders for the metric part */
        d.spec.id.ns = d.spec.id.name = "";
        owl_stat_parse("SampleCount", &d.spec.stat, NULL);
        d.spec.cmp = OWL_CMP_GE, d.spec.missing = OWL_MISSING_MISSING;
    }
    if (!d.spec.id.ns || !d.spec.id.name || !mq_ok ||
        (!rule && owl_stat_parse(get_str(doc, "stat") ? get_str(doc, "stat") : "",
                                 &d.spec.stat, NULL)) ||
        owl_alarm_cmp_parse(get_str(doc, "cmp"), &d.spec.cmp, NULL) ||
        owl_alarm_missing_parse(get_str(doc, "missing"), &d.spec.missing, NULL)) {
        owl_warn("alarms: %s/%s: the stored alarm does not decode; skipped", tenant, id);
        owl_crule_free(cr);
        return 0;
    }
    alm *a = alarm_from_def(&d);
    if (a && rule) {
        a->rule = cr, cr = NULL;
        if (!(a->rule_text = strdup(rule))) {
            alarm_free(a);
            a = NULL;
        }
    }
    owl_crule_free(cr);
    const char *st = get_str(doc, "state"), *reason = get_str(doc, "reason"),
               *rdata = get_str(doc, "reason_data");
    if (!a || (reason && !(a->reason = strdup(reason))) ||
        (rdata && !(a->reason_data = strdup(rdata)))) {
        alarm_free(a);
        l->rc = OWL_ENOMEM;
        return 1;
    }
    a->state = OWL_ALARM_INSUFFICIENT_DATA;
    for (int s = 0; st && s < 3; s++)
        if (strcmp(st, owl_alarm_state_name((enum owl_alarm_state)s)) == 0)
            a->state = (enum owl_alarm_state)s;
    a->state_ms = get_num(doc, "state_ms");
    a->config_ms = get_num(doc, "config_ms");
    int64_t by = get_num(doc, "sup_by");
    if (a->suppressor && a->state == OWL_ALARM_ALARM && by > SUP_NONE && by <= SUP_ALARM) {
        /* a suppression in force when owld stopped: its held change, rebuilt */
        a->sup_by = (enum sup_by)by;
        a->sup_until_ms = get_num(doc, "sup_until");
        a->sup_old = (enum owl_alarm_state)(get_num(doc, "sup_old") % 3);
        a->held = held_rebuild(a);
    }
    if (push(l->as, a) != OWL_OK) {
        alarm_free(a);
        l->rc = OWL_ENOMEM;
        return 1;
    }
    attach(l->as, a);
    return 0;
}

int owl_alarms_open(owl_meta *meta, owl_metrics *metrics, owl_alarms **out, owl_error *err)
{
    *out = NULL;
    owl_alarms *as = calloc(1, sizeof *as);
    if (!as)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    as->meta = meta;
    as->metrics = metrics;
    as->seq = (uint32_t)owl_now_ms();
    pthread_mutex_init(&as->mu, NULL);
    pthread_cond_init(&as->idle_cv, NULL);
    pthread_mutex_init(&as->stop_mu, NULL);
    pthread_cond_init(&as->stop_cv, NULL);
    loader l = {as, OWL_OK};
    int rc = owl_meta_list(meta, NULL, KIND, NULL, 0, load_one, &l, err);
    if (rc == OWL_OK && l.rc != OWL_OK)
        rc = owl_error_set(err, l.rc, "out of memory loading the alarms");
    if (rc != OWL_OK) {
        owl_alarms_close(as);
        return rc;
    }
    *out = as;
    return OWL_OK;
}

void owl_alarms_close(owl_alarms *as)
{
    if (!as)
        return;
    if (as->running && as->metrics)
        owl_metrics_set_wake(as->metrics, NULL, NULL);
    if (as->running) {
        pthread_mutex_lock(&as->stop_mu);
        as->stopping = 1;
        pthread_cond_signal(&as->stop_cv);
        pthread_mutex_unlock(&as->stop_mu);
        pthread_join(as->thread, NULL);
    }
    pthread_mutex_destroy(&as->stop_mu);
    pthread_cond_destroy(&as->stop_cv);
    for (size_t i = 0; i < as->n; i++)
        drop(as, as->v[i]);
    free(as->v);
    free(as->idx);
    pthread_cond_destroy(&as->idle_cv);
    pthread_mutex_destroy(&as->mu);
    free(as);
}

int owl_alarms_add_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud)
{
    int rc = OWL_ERANGE;
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < OWL_ALARM_MAX_HOOKS && rc != OWL_OK; i++)
        if (!as->hooks[i].fn) {
            as->hooks[i].fn = fn, as->hooks[i].ud = ud;
            rc = OWL_OK;
        }
    pthread_mutex_unlock(&as->mu);
    return rc;
}

void owl_alarms_remove_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud)
{
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < OWL_ALARM_MAX_HOOKS; i++)
        if (as->hooks[i].fn == fn && as->hooks[i].ud == ud)
            as->hooks[i].fn = NULL, as->hooks[i].ud = NULL;
    while (as->notifying) /* a report in flight may still call it */
        pthread_cond_wait(&as->idle_cv, &as->mu);
    pthread_mutex_unlock(&as->mu);
}

int owl_alarms_add_evidence(owl_alarms *as, const char *ns, owl_evidence_fn fn, void *ud,
                            owl_error *err)
{
    int rc = OWL_OK;
    pthread_mutex_lock(&as->mu);
    if (as->nevidence == OWL_ALARM_MAX_EVIDENCE || strlen(ns) >= sizeof as->evidence[0].ns) {
        rc = owl_error_set(err, OWL_ERANGE, "no room for another evidence provider");
    } else {
        snprintf(as->evidence[as->nevidence].ns, sizeof as->evidence[0].ns, "%s", ns);
        as->evidence[as->nevidence].fn = fn;
        as->evidence[as->nevidence].ud = ud;
        as->nevidence++;
    }
    pthread_mutex_unlock(&as->mu);
    return rc;
}

/* What the provider of a's namespace says about the range of r (mu held); NULL: nothing. */
static char *evidence_of(owl_alarms *as, const alm *a, const owl_alarm_range *r,
                         enum owl_alarm_state state)
{
    for (size_t i = 0; i < as->nevidence; i++) {
        if (strcmp(as->evidence[i].ns, "*") != 0 && strcmp(as->evidence[i].ns, a->ns) != 0)
            continue;
        owl_buf b = OWL_BUF_INIT;
        int rc = as->evidence[i].fn(as->evidence[i].ud, a->tenant, &a->spec.id, r->start_ms,
                                    r->start_ms + (int64_t)r->n * r->period_s * 1000, state, &b);
        if (rc == OWL_OK && b.len && owl_buf_append(&b, "", 1) == OWL_OK)
            return b.data; /* NUL-terminated */
        owl_buf_free(&b);
        return NULL;
    }
    return NULL;
}

/* ---- PutMetricAlarm ---- */

static int period_ok(int p)
{
    return p == 10 || p == 30 || (p >= 60 && p % 60 == 0);
}

/* action_check — one action of the list named field: a webhook URL or an SNS topic ARN
 * (common/target.h), the only targets owl delivers to. CloudWatch's other ARNs (EC2, Auto
 * Scaling, Lambda, Systems Manager) are refused rather than kept and never run. */
static int action_check(const char *field, const char *action, owl_error *err)
{
    owl_target t;
    owl_error why = {0};
    if (owl_target_parse(action, &t, &why) == OWL_OK)
        return OWL_OK;
    return owl_error_set(err, OWL_EINVAL, "The value '%.64s%s' of %s is not valid: %s.", action,
                         strlen(action) > 64 ? "..." : "", field, why.msg);
}

typedef struct refs_ctx {
    const owl_mquery *qs;
    size_t n;
    const char *unknown;
} refs_ctx;

static size_t query_index(const owl_mquery *qs, size_t n, const char *id)
{
    size_t i = 0;
    while (i < n && strcmp(qs[i].id, id) != 0)
        i++;
    return i;
}

static void ref_known(void *ud, const char *id)
{
    refs_ctx *c = ud;
    if (!c->unknown && query_index(c->qs, c->n, id) == c->n)
        c->unknown = id;
}

typedef struct reach_ctx {
    const owl_mquery *qs;
    size_t n;
    owl_mexpr **es;
    size_t target, depth;
    int found;
} reach_ctx;

static void reach_ref(void *ud, const char *id);

/* Whether expression i refers, directly or not, to query target (depth-bounded). */
static void reach_from(reach_ctx *c, size_t i)
{
    if (c->found || c->depth > c->n || !c->es[i])
        return;
    c->depth++;
    owl_mexpr_refs(c->es[i], reach_ref, c);
    c->depth--;
}

static void reach_ref(void *ud, const char *id)
{
    reach_ctx *c = ud;
    size_t k = query_index(c->qs, c->n, id);
    if (k == c->target)
        c->found = 1;
    else if (k < c->n)
        reach_from(c, k);
}

/* A metric-math alarm's Metrics by CloudWatch's rules. */
static int math_check(const owl_alarm_def *d, owl_error *err)
{
    const owl_mquery *qs = d->metrics;
    size_t n = d->nmetrics, nret = 0;
    if (n < 1 || n > OWL_ALARM_MAX_METRICS)
        return owl_error_set(err, OWL_EINVAL, "The parameter Metrics must hold 1 to %d queries.",
                             OWL_ALARM_MAX_METRICS);
    owl_mexpr *es[OWL_ALARM_MAX_METRICS] = {0};
    int rc = OWL_OK;
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        const owl_mquery *q = &qs[i];
        nret += q->return_data != 0;
        if (!owl_mquery_id_ok(q->id))
            rc = owl_error_set(err, OWL_EINVAL,
                               "The Id of Metrics.member.%zu must start with a lowercase letter "
                               "and hold only letters, digits and underscores.", i + 1);
        else if (query_index(qs, i, q->id) < i)
            rc = owl_error_set(err, OWL_EINVAL, "The Id %s is used by more than one query.",
                               q->id);
        else if (!q->expr && (!q->metric.ns || !q->metric.name))
            rc = owl_error_set(err, OWL_EINVAL, "The MetricStat of %s needs a Namespace and a "
                               "MetricName.", q->id);
        else if (q->period_s && q->period_s != d->spec.period_s)
            rc = owl_error_set(err, OWL_EINVAL,
                               "Every query of an alarm's Metrics must have the alarm's period "
                               "(%s has %d s, the alarm %d s).", q->id, q->period_s,
                               d->spec.period_s);
        else if (q->expr && owl_mexpr_parse(q->expr, &es[i], NULL, err) != OWL_OK)
            rc = OWL_EINVAL;
    }
    if (rc == OWL_OK && nret != 1)
        rc = owl_error_set(err, OWL_EINVAL,
                           "Exactly one element of the Metrics list must have ReturnData true.");
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        if (!es[i])
            continue;
        refs_ctx rcx = {qs, n, NULL};
        owl_mexpr_refs(es[i], ref_known, &rcx);
        reach_ctx cy = {qs, n, es, i, 0, 0};
        reach_from(&cy, i);
        if (rcx.unknown)
            rc = owl_error_set(err, OWL_EINVAL, "The expression %s refers to %s, which is not "
                               "an Id of the Metrics list.", qs[i].id, rcx.unknown);
        else if (cy.found)
            rc = owl_error_set(err, OWL_EINVAL, "The expression %s refers to itself, directly "
                               "or through other expressions.", qs[i].id);
    }
    for (size_t i = 0; i < n; i++)
        owl_mexpr_free(es[i]);
    return rc;
}

int owl_alarm_def_check(const owl_alarm_def *d, owl_error *err)
{
    size_t nl = d->name ? strlen(d->name) : 0;
    if (nl < 1 || nl > 255)
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter AlarmName must be 1 to 255 characters.");
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)d->name[i] > 0x7e || (unsigned char)d->name[i] < 0x20)
            return owl_error_set(err, OWL_EINVAL,
                                 "The parameter AlarmName must contain only printable ASCII "
                                 "characters.");
    if (d->description && strlen(d->description) > 1024)
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter AlarmDescription must be at most 1024 characters.");
    if (!d->metrics && (!d->spec.id.ns || !d->spec.id.name))
        return owl_error_set(err, OWL_EINVAL,
                             "The parameters Namespace and MetricName are required.");
    int rc = d->metrics ? math_check(d, err) : OWL_OK;
    if (rc != OWL_OK)
        return rc;
    if (!period_ok(d->spec.period_s))
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter Period must be 10, 30 or a multiple of 60.");
    if (d->spec.eval_periods < 1)
        return owl_error_set(err, OWL_EINVAL,
                             "The parameter EvaluationPeriods must be at least 1.");
    if ((int64_t)d->spec.eval_periods * d->spec.period_s > 86400 ||
        d->spec.eval_periods > OWL_ALARM_MAX_EVAL_PERIODS)
        return owl_error_set(err, OWL_EINVAL,
                             "The product of EvaluationPeriods and Period must not exceed 86400 "
                             "(one day), and EvaluationPeriods must be at most %d.",
                             OWL_ALARM_MAX_EVAL_PERIODS);
    if (d->spec.datapoints_to_alarm < 1 ||
        d->spec.datapoints_to_alarm > d->spec.eval_periods)
        return owl_error_set(err, OWL_EINVAL,
                             "DatapointsToAlarm must be at least 1 and at most "
                             "EvaluationPeriods.");
    if (!isfinite(d->spec.threshold))
        return owl_error_set(err, OWL_EINVAL, "The parameter Threshold must be a number.");
    static const char *const fields[3] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    for (int k = 0; k < 3; k++) {
        if (d->nactions[k] > OWL_ALARM_MAX_ACTIONS)
            return owl_error_set(err, OWL_EINVAL,
                                 "An alarm takes at most %d actions of each kind.",
                                 OWL_ALARM_MAX_ACTIONS);
        for (size_t i = 0; i < d->nactions[k]; i++)
            if (action_check(fields[k], d->actions[k][i], err) != OWL_OK)
                return OWL_EINVAL;
    }
    return OWL_OK;
}

int owl_alarms_put(owl_alarms *as, const owl_alarm_def *d, int64_t now_ms, owl_error *err)
{
    int rc = owl_alarm_def_check(d, err);
    if (rc != OWL_OK)
        return rc;
    alm *a = alarm_from_def(d);
    if (!a)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    a->config_ms = now_ms;
    pthread_mutex_lock(&as->mu);
    size_t at;
    alm *old = find(as, d->spec.tenant, d->name, &at);
    if (old && old->rule) {
        pthread_mutex_unlock(&as->mu);
        alarm_free(a);
        return owl_error_set(err, OWL_EINVAL,
                             "The alarm %s is a composite alarm: a metric alarm cannot take its "
                             "name.", d->name);
    }
    if (old) { /* a new configuration keeps the state and its reason */
        a->state = old->state;
        a->state_ms = old->state_ms;
        a->reason = old->reason, old->reason = NULL;
        a->reason_data = old->reason_data, old->reason_data = NULL;
    } else {
        a->state = OWL_ALARM_INSUFFICIENT_DATA;
        a->state_ms = now_ms;
        a->reason = strdup("Unchecked: Initial alarm creation");
    }
    char summary[300];
    snprintf(summary, sizeof summary, "Alarm \"%s\" %s", a->name, old ? "updated" : "created");
    rc = save_logged(as, a, "ConfigurationUpdate", now_ms, summary, "", err);
    if (rc == OWL_OK && old) {
        replace(as, at, old, a);
        drop(as, old);
    } else if (rc == OWL_OK && push(as, a) != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    if (rc == OWL_OK)
        attach(as, a);
    if (rc != OWL_OK) {
        if (old) { /* give the state back */
            old->reason = a->reason, a->reason = NULL;
            old->reason_data = a->reason_data, a->reason_data = NULL;
        }
        alarm_free(a);
    }
    pthread_mutex_unlock(&as->mu);
    return rc;
}

int owl_alarms_delete(owl_alarms *as, const char *tenant, const char *const *names, size_t n,
                      owl_error *err)
{
    int rc = OWL_OK;
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        if (!find(as, tenant, names[i], NULL))
            rc = owl_error_set(err, OWL_ENOTFOUND, "%s", names[i]);
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        size_t at;
        alm *a = find(as, tenant, names[i], &at);
        if (!a)
            continue; /* named twice */
        rc = owl_meta_delete(as->meta, tenant, KIND, names[i], err);
        if (rc == OWL_OK) {
            index_remove(as, a);
            memmove(as->v + at, as->v + at + 1, (as->n - at - 1) * sizeof *as->v);
            as->n--;
            drop(as, a);
        }
    }
    pthread_mutex_unlock(&as->mu);
    return rc;
}

/* ---- state changes ---- */

static void fmt_value(owl_buf *b, double v)
{
    char t[32];
    snprintf(t, sizeof t, "%.17g", v);
    if (!strpbrk(t, ".eEn"))
        strcat(t, ".0");
    owl_buf_append(b, t, strlen(t));
}

/* CloudWatch's reason for a verdict, and its StateReasonData JSON. */
static void describe(const alm *a, const owl_alarm_range *r, const owl_alarm_verdict *v,
                     int64_t now_ms, owl_buf *reason, owl_buf *data)
{
    static const char *const cmp_words[] = {"greater than or equal to", "greater than",
                                            "less than", "less than or equal to"};
    char ts[40];
    if (v->state == OWL_ALARM_INSUFFICIENT_DATA && v->nused == 0) {
        owl_buf_printf(reason, "Insufficient Data: %d datapoint%s %s unknown.",
                       a->spec.eval_periods, a->spec.eval_periods == 1 ? "" : "s",
                       a->spec.eval_periods == 1 ? "was" : "were");
    } else {
        int breaching = v->state == OWL_ALARM_ALARM;
        owl_buf_printf(reason, "Threshold Crossed: %d out of the last %d datapoints [",
                       breaching ? v->breaching : (int)v->nused - v->breaching,
                       v->nused ? (int)v->nused : a->spec.eval_periods);
        for (size_t i = v->nused; i-- > 0;) {
            const owl_alarm_point *p = &r->p[v->used[i]];
            int64_t t = r->start_ms + (int64_t)v->used[i] * r->period_s * 1000;
            owl_time_format_rfc3339(t, ts, sizeof ts);
            fmt_value(reason, p->value);
            owl_buf_printf(reason, " (%s)%s", ts, i ? ", " : "");
        }
        owl_buf_printf(reason, "] %s %s the threshold (", breaching ? "were" : "were not",
                       cmp_words[a->spec.cmp]);
        fmt_value(reason, a->spec.threshold);
        owl_buf_printf(reason, ") (minimum %d datapoint%s for %s transition).",
                       a->spec.datapoints_to_alarm, a->spec.datapoints_to_alarm == 1 ? "" : "s",
                       breaching ? "OK -> ALARM" : "ALARM -> OK");
    }
    owl_time_format_rfc3339(now_ms, ts, sizeof ts);
    owl_buf_printf(data, "{\"version\":\"1.0\",\"queryDate\":\"%s\",", ts);
    owl_time_format_rfc3339(r->start_ms, ts, sizeof ts);
    owl_buf_printf(data, "\"startDate\":\"%s\",", ts);
    if (!a->mq) { /* a metric-math alarm's points are its expression's, no statistic */
        owl_buf_append(data, "\"statistic\":", 12);
        owl_buf_json_str(data, a->spec.stat.name, strlen(a->spec.stat.name));
        owl_buf_append(data, ",", 1);
    }
    owl_buf_printf(data, "\"period\":%d,\"recentDatapoints\":[", a->spec.period_s);
    for (size_t i = 0; i < v->nused; i++) {
        if (i)
            owl_buf_append(data, ",", 1);
        fmt_value(data, r->p[v->used[i]].value);
    }
    owl_buf_append(data, "],\"threshold\":", 14);
    fmt_value(data, a->spec.threshold);
    owl_buf_append(data, ",\"evaluatedDatapoints\":[", 24);
    for (size_t i = v->nused; i-- > 0;) {
        int64_t t = r->start_ms + (int64_t)v->used[i] * r->period_s * 1000;
        owl_time_format_rfc3339(t, ts, sizeof ts);
        owl_buf_printf(data, "{\"timestamp\":\"%s\",\"value\":", ts);
        fmt_value(data, r->p[v->used[i]].value);
        owl_buf_append(data, i ? "}," : "}", i ? 2 : 1);
    }
    owl_buf_append(data, "]}", 2);
}

/* Moves a to state (mu held): the record and the history item, in one write. */
static int change(owl_alarms *as, alm *a, enum owl_alarm_state state, const char *reason,
                  const char *data, const char *evidence, int64_t now_ms, owl_alarm_change *ch,
                  owl_error *err)
{
    enum owl_alarm_state old = a->state;
    char *old_reason = a->reason, *old_data = a->reason_data;
    a->reason = strdup(reason);
    a->reason_data = strdup(data ? data : "");
    if (!a->reason || !a->reason_data) {
        free(a->reason), free(a->reason_data);
        a->reason = old_reason, a->reason_data = old_data;
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    a->state = state;
    a->state_ms = now_ms;
    owl_buf h = OWL_BUF_INIT;
    owl_buf_printf(&h, "{\"version\":\"1.0\",\"oldState\":{\"stateValue\":\"%s\",\"stateReason\":",
                   owl_alarm_state_name(old));
    owl_buf_json_str(&h, old_reason ? old_reason : "", old_reason ? strlen(old_reason) : 0);
    owl_buf_printf(&h, "},\"newState\":{\"stateValue\":\"%s\",\"stateReason\":",
                   owl_alarm_state_name(state));
    owl_buf_json_str(&h, reason, strlen(reason));
    if (data && *data)
        owl_buf_printf(&h, ",\"stateReasonData\":%s", data);
    owl_buf_append(&h, "}", 1);
    if (evidence)
        owl_buf_printf(&h, ",\"evidence\":%s", evidence);
    owl_buf_append(&h, "}", 1);
    char summary[300];
    snprintf(summary, sizeof summary, "Alarm updated from %s to %s", owl_alarm_state_name(old),
             owl_alarm_state_name(state));
    int rc = save_logged(as, a, "StateUpdate", now_ms, summary, h.data ? h.data : "", err);
    if (rc != OWL_OK) { /* nothing changed in memory; the store may hold the record alone */
        free(a->reason), free(a->reason_data);
        a->reason = old_reason, a->reason_data = old_data;
        a->state = old;
        owl_buf_free(&h);
        return rc;
    }
    if (ch) {
        memset(ch, 0, sizeof *ch);
        snprintf(ch->tenant, sizeof ch->tenant, "%s", a->tenant);
        snprintf(ch->name, sizeof ch->name, "%s", a->name);
        ch->old_state = old;
        ch->new_state = state;
        ch->time_ms = now_ms;
        ch->actions_enabled = a->actions_enabled;
        ch->reason = strdup(reason);
        ch->history_data = h.data ? strdup(h.data) : NULL;
        ch->description = a->desc ? strdup(a->desc) : NULL;
        ch->evidence = evidence ? strdup(evidence) : NULL;
        size_t na = 0;
        while (a->actions_enabled && a->actions[state] && a->actions[state][na])
            na++;
        ch->actions = strv_dup((const char *const *)a->actions[state], na);
    }
    owl_buf_free(&h);
    free(old_reason), free(old_data);
    return rc;
}

/* The changes one pass made, reported to the hooks once the lock is let go. */
typedef struct changes {
    owl_alarm_change *v;
    size_t n, cap;
} changes;

/* Room for one more change at chs->v[chs->n] (not yet counted). */
static owl_alarm_change *changes_slot(changes *chs, owl_error *err)
{
    if (chs->n == chs->cap) {
        size_t cap = chs->cap ? 2 * chs->cap : 16;
        owl_alarm_change *p = realloc(chs->v, cap * sizeof *p);
        if (!p) {
            owl_error_set(err, OWL_ENOMEM, "out of memory");
            return NULL;
        }
        chs->v = p, chs->cap = cap;
    }
    return &chs->v[chs->n];
}

static void notify(owl_alarms *as, owl_alarm_change *ch, size_t n)
{
    pthread_mutex_lock(&as->mu);
    __typeof__(as->hooks) hooks;
    memcpy(hooks, as->hooks, sizeof hooks);
    as->notifying++;
    pthread_mutex_unlock(&as->mu);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < OWL_ALARM_MAX_HOOKS; k++)
            if (hooks[k].fn)
                hooks[k].fn(hooks[k].ud, &ch[i]);
        free(ch[i].reason);
        free(ch[i].history_data);
        free(ch[i].description);
        free(ch[i].evidence);
        strv_free(ch[i].actions);
    }
    pthread_mutex_lock(&as->mu);
    if (--as->notifying == 0)
        pthread_cond_broadcast(&as->idle_cv);
    pthread_mutex_unlock(&as->mu);
}

/* ---- composite alarms ---- */

typedef struct child_ctx {
    owl_alarms *as;
    const char *tenant;
} child_ctx;

static int child_state(void *ud, const char *name)
{
    child_ctx *c = ud;
    alm *a = find(c->as, c->tenant, name, NULL);
    return a ? (int)a->state : OWL_CRULE_UNKNOWN;
}

static enum owl_alarm_state state_of(owl_alarms *as, const char *tenant, const char *name)
{
    alm *c = find(as, tenant, name, NULL);
    return c ? c->state : OWL_ALARM_INSUFFICIENT_DATA;
}

/* A suppression's history item (mu held): what happened to the held actions. */
static void sup_history(owl_alarms *as, const alm *a, int64_t now_ms, const char *what)
{
    owl_error e = {0};
    char summary[900];
    snprintf(summary, sizeof summary, "%s (ActionsSuppressor %s)", what, a->suppressor);
    if (add_history(as, a->tenant, a->name, "Action", now_ms, summary, "", &e) != OWL_OK)
        owl_warn("alarms: %s/%s: %s", a->tenant, a->name, e.msg);
}

/* Composite a just changed as ch says (mu held): with an ActionsSuppressor, actions of a
 * change into ALARM are held back (the change itself is still reported): while the
 * suppressor is in ALARM ("Alarm"), else for the wait period ("WaitPeriod"); a change out of
 * ALARM drops what was held. */
static void suppress_on_change(owl_alarms *as, alm *a, owl_alarm_change *ch, int64_t now_ms)
{
    if (!a->suppressor)
        return;
    if (a->held) {
        change_free(a->held);
        a->held = NULL;
        sup_history(as, a, now_ms, "Held actions dropped: the alarm left ALARM");
    }
    a->sup_by = SUP_NONE;
    if (ch->new_state == OWL_ALARM_ALARM && ch->actions && ch->actions[0]) {
        owl_alarm_change *h = malloc(sizeof *h);
        char **none = calloc(1, sizeof *none);
        if (!h || !none) { /* out of memory: the actions go now */
            free(h), free(none);
            return;
        }
        *h = *ch; /* takes the strings; the reported change keeps copies of the texts */
        ch->reason = h->reason ? strdup(h->reason) : NULL;
        ch->history_data = h->history_data ? strdup(h->history_data) : NULL;
        ch->description = h->description ? strdup(h->description) : NULL;
        ch->evidence = h->evidence ? strdup(h->evidence) : NULL;
        ch->actions = none;
        a->held = h;
        a->sup_old = ch->old_state;
        if (state_of(as, a->tenant, a->suppressor) == OWL_ALARM_ALARM) {
            a->sup_by = SUP_ALARM;
            sup_history(as, a, now_ms, "Actions suppressed by Alarm");
        } else {
            a->sup_by = SUP_WAIT;
            a->sup_until_ms = now_ms + a->sup_wait_s * 1000LL;
            sup_history(as, a, now_ms, "Actions suppressed by WaitPeriod");
        }
    }
    owl_error e = {0};
    if (save(as, a, &e) != OWL_OK)
        owl_warn("alarms: %s/%s: %s", a->tenant, a->name, e.msg);
}

/* Moves each suppression on (mu held): the suppressor entering ALARM suppresses ("Alarm"),
 * leaving it starts the extension period; a wait or extension that runs out with the
 * suppressor not in ALARM lets the held actions go (a deferred change in chs). */
static int suppressions_locked(owl_alarms *as, int64_t now_ms, changes *chs, owl_error *err)
{
    for (size_t i = 0; i < as->n; i++) {
        alm *a = as->v[i];
        if (a->sup_by == SUP_NONE)
            continue;
        enum sup_by was = a->sup_by;
        int in_alarm = state_of(as, a->tenant, a->suppressor) == OWL_ALARM_ALARM;
        int release = 0;
        if (in_alarm) {
            a->sup_by = SUP_ALARM;
        } else if (a->sup_by == SUP_ALARM) {
            a->sup_by = SUP_EXT;
            a->sup_until_ms = now_ms + a->sup_ext_s * 1000LL;
        } else if (now_ms >= a->sup_until_ms) {
            release = 1;
        }
        if (!release && a->sup_by == was)
            continue;
        if (release) {
            owl_alarm_change *slot = changes_slot(chs, err);
            if (!slot)
                return OWL_ENOMEM;
            a->sup_by = SUP_NONE;
            if (a->held) {
                *slot = *a->held;
                slot->deferred = 1;
                free(a->held);
                a->held = NULL;
                chs->n++;
            }
            sup_history(as, a, now_ms,
                        was == SUP_WAIT ? "Held actions performed: the wait period ended"
                                        : "Held actions performed: the extension period ended");
        } else {
            sup_history(as, a, now_ms,
                        a->sup_by == SUP_ALARM ? "Actions suppressed by Alarm"
                                               : "Actions suppressed by ExtensionPeriod");
        }
        owl_error e = {0};
        if (save(as, a, &e) != OWL_OK)
            owl_warn("alarms: %s/%s: %s", a->tenant, a->name, e.msg);
    }
    return OWL_OK;
}

/* Re-evaluates every composite alarm (mu held) until none changes: a change of one child
 * reaches every composite above it in the same pass; then moves the suppressions on.
 * Changes are appended to chs. */
static int composites_locked(owl_alarms *as, int64_t now_ms, changes *chs, owl_error *err)
{
    int rc = OWL_OK;
    for (size_t round = 0, changed = 1; changed && round <= as->n && rc == OWL_OK; round++) {
        changed = 0;
        for (size_t i = 0; i < as->n && rc == OWL_OK; i++) {
            alm *a = as->v[i];
            if (!a->rule)
                continue;
            child_ctx cc = {as, a->tenant};
            enum owl_alarm_state st =
                owl_crule_eval(a->rule, child_state, &cc) ? OWL_ALARM_ALARM : OWL_ALARM_OK;
            if (st == a->state)
                continue;
            owl_alarm_change *slot = changes_slot(chs, err);
            if (!slot)
                return OWL_ENOMEM;
            owl_buf reason = OWL_BUF_INIT;
            owl_buf_printf(&reason, "%s: the rule %s %s", st == OWL_ALARM_ALARM ? "ALARM" : "OK",
                           a->rule_text, st == OWL_ALARM_ALARM ? "holds" : "does not hold");
            const char **refs;
            size_t nr = owl_crule_refs(a->rule, &refs);
            owl_buf data = OWL_BUF_INIT;
            owl_buf_append(&data, "{\"triggeringAlarms\":[", 22);
            for (size_t k = 0; k < nr; k++) {
                owl_buf_printf(&data, "%s{\"name\":", k ? "," : "");
                owl_buf_json_str(&data, refs[k], strlen(refs[k]));
                owl_buf_printf(&data, ",\"state\":\"%s\"}",
                               owl_alarm_state_name(state_of(as, a->tenant, refs[k])));
            }
            owl_buf_append(&data, "]}", 2);
            rc = change(as, a, st, reason.data ? reason.data : "", data.data, NULL, now_ms, slot,
                        err);
            if (rc == OWL_OK) {
                chs->n++, changed = 1;
                suppress_on_change(as, a, slot, now_ms);
            }
            owl_buf_free(&reason);
            owl_buf_free(&data);
        }
    }
    return rc == OWL_OK ? suppressions_locked(as, now_ms, chs, err) : rc;
}

/* Whether composite name (of tenant) would reach itself through rule. mu held. */
static int cycles(owl_alarms *as, const char *tenant, const char *name, const owl_crule *rule,
                  size_t depth)
{
    if (owl_crule_refers(rule, name))
        return 1;
    if (depth > as->n)
        return 1; /* deeper than there are alarms: a loop elsewhere */
    const char **refs;
    size_t nr = owl_crule_refs(rule, &refs);
    for (size_t k = 0; k < nr; k++) {
        alm *c = find(as, tenant, refs[k], NULL);
        if (c && c->rule && cycles(as, tenant, name, c->rule, depth + 1))
            return 1;
    }
    return 0;
}

int owl_alarms_put_composite(owl_alarms *as, const owl_alarm_def *d, const char *rule_text,
                             int64_t now_ms, owl_error *err)
{
    owl_crule *rule = NULL;
    int rc = owl_crule_parse(rule_text, &rule, err);
    if (rc != OWL_OK)
        return rc;
    owl_alarm_def cd = *d;
    cd.spec.id.ns = cd.spec.id.name = "";
    cd.spec.id.ndims = 0;
    cd.spec.unit = NULL;
    owl_stat_parse("SampleCount", &cd.spec.stat, NULL);
    cd.spec.period_s = 60, cd.spec.eval_periods = 1, cd.spec.datapoints_to_alarm = 1;
    cd.spec.threshold = 0;
    if ((rc = owl_alarm_def_check(&cd, err)) != OWL_OK) { /* name, description, actions */
        owl_crule_free(rule);
        return rc;
    }
    alm *a = alarm_from_def(&cd);
    if (!a || !(a->rule_text = strdup(rule_text))) {
        owl_crule_free(rule);
        alarm_free(a);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    a->rule = rule;
    a->config_ms = now_ms;
    if (a->suppressor && !strncmp(a->suppressor, "arn:", 4) && strstr(a->suppressor, ":alarm:"))
        memmove(a->suppressor, strstr(a->suppressor, ":alarm:") + 7,
                strlen(strstr(a->suppressor, ":alarm:") + 7) + 1);
    changes chs = {0};
    pthread_mutex_lock(&as->mu);
    size_t at;
    alm *old = find(as, d->spec.tenant, d->name, &at);
    if (a->suppressor && (a->sup_wait_s < 0 || a->sup_ext_s < 0))
        rc = owl_error_set(err, OWL_EINVAL,
                           "ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod "
                           "must be at least 0.");
    else if (a->suppressor &&
             (!find(as, a->tenant, a->suppressor, NULL) || !strcmp(a->suppressor, a->name)))
        rc = owl_error_set(err, OWL_EINVAL,
                           "The ActionsSuppressor %s must be another existing alarm.",
                           a->suppressor);
    else if (old && !old->rule)
        rc = owl_error_set(err, OWL_EINVAL,
                           "The alarm %s is a metric alarm: a composite alarm cannot take its "
                           "name.", d->name);
    else if (cycles(as, a->tenant, a->name, rule, 0))
        rc = owl_error_set(err, OWL_EINVAL,
                           "The rule of %s refers to itself, directly or through other "
                           "composite alarms.", d->name);
    if (rc == OWL_OK) {
        a->state = old ? old->state : OWL_ALARM_INSUFFICIENT_DATA;
        a->state_ms = old ? old->state_ms : now_ms;
        a->reason = strdup(old && old->reason ? old->reason : "Unchecked: Initial alarm creation");
        char summary[300];
        snprintf(summary, sizeof summary, "Alarm \"%s\" %s", a->name,
                 old ? "updated" : "created");
        rc = save_logged(as, a, "ConfigurationUpdate", now_ms, summary, "", err);
    }
    if (rc == OWL_OK) {
        if (old) {
            if (a->suppressor && old->sup_by != SUP_NONE) { /* the suppression goes on */
                a->sup_by = old->sup_by, a->sup_until_ms = old->sup_until_ms;
                a->sup_old = old->sup_old;
                a->held = old->held, old->held = NULL;
            }
            replace(as, at, old, a);
            drop(as, old);
            a = NULL;
        } else if (push(as, a) == OWL_OK) {
            a = NULL;
        } else {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        if (rc == OWL_OK) /* its first state, from its children's */
            rc = composites_locked(as, now_ms, &chs, err);
    }
    pthread_mutex_unlock(&as->mu);
    alarm_free(a);
    notify(as, chs.v, chs.n);
    free(chs.v);
    return rc;
}

int owl_alarms_set_state(owl_alarms *as, const char *tenant, const char *name,
                         enum owl_alarm_state state, const char *reason,
                         const char *reason_data, int64_t now_ms, owl_error *err)
{
    changes chs = {0};
    owl_alarm_change *slot = changes_slot(&chs, err);
    if (!slot)
        return OWL_ENOMEM;
    pthread_mutex_lock(&as->mu);
    alm *a = find(as, tenant, name, NULL);
    int rc = a ? change(as, a, state, reason ? reason : "", reason_data, NULL, now_ms, slot, err)
               : owl_error_set(err, OWL_ENOTFOUND, "%s", name);
    if (rc == OWL_OK) {
        chs.n = 1;
        if (a->rule)
            suppress_on_change(as, a, slot, now_ms);
        rc = composites_locked(as, now_ms, &chs, err);
    }
    pthread_mutex_unlock(&as->mu);
    notify(as, chs.v, chs.n);
    free(chs.v);
    return rc;
}

/* The slot of time an alarm is evaluated once in (unless its data changes): its period, or
 * the minute for longer periods, as CloudWatch evaluates. */
static int64_t eval_slot(const alm *a, int64_t now_ms)
{
    int64_t step = (a->spec.period_s < 60 ? a->spec.period_s : 60) * 1000LL;
    return now_ms / step;
}

int owl_alarms_tick(owl_alarms *as, int64_t now_ms, owl_error *err)
{
    int64_t t0 = owl_mono_ns();
    int rc = OWL_OK;
    size_t evaluated = 0, metric_alarms = 0;
    changes chs = {0};
    owl_error se = {0};
    /* watches made or left behind since the last tick, filled before anything is read */
    if (as->metrics && owl_metrics_watch_sync(as->metrics, now_ms, &se) != OWL_OK)
        owl_warn("alarms: filling recent buckets: %s", se.msg);
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < as->n && rc == OWL_OK; i++) {
        alm *a = as->v[i];
        if (a->rule)
            continue; /* composites follow their children, below */
        metric_alarms++;
        /* once per evaluation slot, and again whenever its data changed */
        int64_t es = eval_slot(a, now_ms);
        int watched = a->w != NULL;
        uint64_t gen = a->w ? owl_watch_gen(as->metrics, a->w) : 0;
        for (size_t k = 0; a->mq && k < a->nmq; k++) {
            watched = (k == 0 || watched) && (a->mq[k].expr || a->mw[k]);
            gen += a->mw[k] ? owl_watch_gen(as->metrics, a->mw[k]) : 0;
        }
        if (watched && !a->force && es == a->eval_slot && gen == a->eval_gen)
            continue;
        a->eval_slot = es, a->eval_gen = gen, a->force = 0;
        evaluated++;
        owl_alarm_range r;
        owl_alarm_verdict v;
        owl_error e = {0};
        int erc = a->mq  ? owl_alarm_evaluate_math(as->metrics, &a->spec, a->mq, a->nmq, a->mret,
                                                   a->mw, now_ms, a->state, &r, &v, &e)
                  : a->w ? owl_alarm_evaluate_watch(as->metrics, a->w, &a->spec, now_ms,
                                                    a->state, &r, &v, &e)
                         : owl_alarm_evaluate_metric(as->metrics, &a->spec, now_ms, a->state,
                                                     &r, &v, &e);
        if (erc != OWL_OK) {
            owl_warn("alarms: %s/%s: %s", a->tenant, a->name, e.msg);
            continue;
        }
        if (v.retained || v.state == a->state)
            continue;
        owl_buf reason = OWL_BUF_INIT, data = OWL_BUF_INIT;
        describe(a, &r, &v, now_ms, &reason, &data);
        owl_alarm_change *slot = changes_slot(&chs, err);
        char *evidence = slot ? evidence_of(as, a, &r, v.state) : NULL;
        if (!slot)
            rc = OWL_ENOMEM;
        else if ((rc = change(as, a, v.state, reason.data ? reason.data : "", data.data,
                              evidence, now_ms, slot, err)) == OWL_OK)
            chs.n++;
        free(evidence);
        owl_buf_free(&reason);
        owl_buf_free(&data);
    }
    if (rc == OWL_OK)
        rc = composites_locked(as, now_ms, &chs, err);
    owl_alarm_tick_stats ts = {.at_ms = now_ms, .evaluated = evaluated, .changed = chs.n,
                               .took_ns = owl_mono_ns() - t0};
    as->stats.ticks++;
    as->stats.last = ts;
    if (evaluated && evaluated == metric_alarms)
        as->stats.last_full = ts;
    pthread_mutex_unlock(&as->mu);
    notify(as, chs.v, chs.n);
    free(chs.v);
    return rc;
}

void owl_alarms_stats(owl_alarms *as, owl_alarm_stats *out)
{
    pthread_mutex_lock(&as->mu);
    *out = as->stats;
    out->metric_alarms = out->composite_alarms = 0;
    for (size_t i = 0; i < as->n; i++) {
        if (as->v[i]->rule)
            out->composite_alarms++;
        else
            out->metric_alarms++;
    }
    pthread_mutex_unlock(&as->mu);
}

/* ---- reads ---- */

int owl_alarms_get(owl_alarms *as, const char *tenant, const char *name, owl_alarm_info *out)
{
    pthread_mutex_lock(&as->mu);
    alm *a = find(as, tenant, name, NULL);
    if (a) {
        memset(out, 0, sizeof *out);
        out->state = a->state;
        out->state_ms = a->state_ms;
        out->config_ms = a->config_ms;
        out->actions_enabled = a->actions_enabled;
        snprintf(out->reason, sizeof out->reason, "%s", a->reason ? a->reason : "");
        out->reason_data = a->reason_data ? strdup(a->reason_data) : NULL;
    }
    pthread_mutex_unlock(&as->mu);
    return a ? OWL_OK : OWL_ENOTFOUND;
}

typedef struct hist_ctx {
    const char *alarm;
    owl_alarm_history_fn fn;
    void *ud;
    int stop;
} hist_ctx;

static int hist_one(void *ud, const char *tenant, const char *kind, const char *id,
                    const bson_t *doc)
{
    hist_ctx *h = ud;
    const char *name = get_str(doc, "alarm");
    (void)tenant, (void)kind, (void)id;
    if (!name || (h->alarm && strcmp(name, h->alarm) != 0))
        return 0;
    owl_alarm_history_item it = {.alarm = name, .type = get_str(doc, "type"),
                                 .summary = get_str(doc, "summary"),
                                 .data = get_str(doc, "data"), .time_ms = get_num(doc, "ts")};
    return h->stop = h->fn(h->ud, &it);
}

int owl_alarms_history(owl_alarms *as, const char *tenant, const char *alarm,
                       owl_alarm_history_fn fn, void *ud, owl_error *err)
{
    hist_ctx h = {alarm, fn, ud, 0};
    return owl_meta_list(as->meta, tenant, KIND_HISTORY, NULL, 0, hist_one, &h, err);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const alm *const *)a)->name, (*(const alm *const *)b)->name);
}

int owl_alarms_list(owl_alarms *as, const char *tenant, owl_alarm_list_fn fn, void *ud)
{
    pthread_mutex_lock(&as->mu);
    qsort(as->v, as->n, sizeof *as->v, by_name);
    for (size_t i = 0; i < as->n; i++) {
        alm *a = as->v[i];
        if (strcmp(a->tenant, tenant) != 0)
            continue;
        owl_alarm_view v = {0};
        v.def.name = a->name;
        v.def.description = a->desc;
        v.def.spec = a->spec;
        v.def.actions_enabled = a->actions_enabled;
        for (int k = 0; k < 3; k++) {
            v.actions[k] = a->actions[k];
            while (a->actions[k] && a->actions[k][v.def.nactions[k]])
                v.def.nactions[k]++;
            v.def.actions[k] = (const char *const *)a->actions[k];
        }
        v.state = a->state;
        v.reason = a->reason ? a->reason : "";
        v.reason_data = a->reason_data ? a->reason_data : "";
        v.state_ms = a->state_ms;
        v.config_ms = a->config_ms;
        v.rule = a->rule_text;
        v.def.metrics = a->mq;
        v.def.nmetrics = a->nmq;
        v.def.suppressor = a->suppressor;
        v.def.suppressor_wait_s = a->sup_wait_s;
        v.def.suppressor_extension_s = a->sup_ext_s;
        if (a->sup_by != SUP_NONE) {
            v.suppressed_by = sup_names[a->sup_by];
            snprintf(v.suppressed_reason, sizeof v.suppressed_reason,
                     a->sup_by == SUP_ALARM ? "Actions suppressed by the suppressor %s in ALARM"
                                            : "Actions suppressed by %s",
                     a->sup_by == SUP_ALARM ? a->suppressor : sup_names[a->sup_by]);
        }
        if (fn(ud, &v))
            break;
    }
    pthread_mutex_unlock(&as->mu);
    return OWL_OK;
}

/* The metrics module's wake: a put fed a watch, or registered series an unbound watch may
 * be waiting for. */
static void wake(void *ud)
{
    owl_alarms *as = ud;
    pthread_mutex_lock(&as->stop_mu);
    if (!as->woken) {
        as->woken = 1;
        pthread_cond_signal(&as->stop_cv);
    }
    pthread_mutex_unlock(&as->stop_mu);
}

/* Ticks at every whole second, and soon after a put fed an alarm's watch or registered new
 * series (at most every WAKE_MIN_MS), so a breaching datapoint moves its alarm without
 * waiting for the second, even the first datapoint of a series. */
#define WAKE_MIN_MS 10
static void *evaluator(void *arg)
{
    owl_alarms *as = arg;
    int64_t pruned = 0, next_second = 0;
    pthread_mutex_lock(&as->stop_mu);
    while (!as->stopping) {
        as->woken = 0;
        pthread_mutex_unlock(&as->stop_mu);
        owl_error err = {0};
        int64_t now = owl_now_ms();
        if (owl_alarms_tick(as, now, &err) != OWL_OK)
            owl_warn("alarms: evaluation: %s", err.msg);
        if (now - pruned >= 3600 * 1000) { /* history older than two weeks, hourly */
            pruned = now;
            if (owl_alarms_prune_history(as, now, NULL, &err) != OWL_OK)
                owl_warn("alarms: pruning the history: %s", err.msg);
        }
        if (now >= next_second)
            next_second = now / 1000 * 1000 + 1000;
        struct timespec pause = {0, WAKE_MIN_MS * 1000000L};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&as->stop_mu);
        while (!as->stopping && !as->woken && owl_now_ms() < next_second) {
            struct timespec ts = {.tv_sec = next_second / 1000,
                                  .tv_nsec = (long)(next_second % 1000) * 1000000L};
            pthread_cond_timedwait(&as->stop_cv, &as->stop_mu, &ts);
        }
    }
    pthread_mutex_unlock(&as->stop_mu);
    return NULL;
}

int owl_alarms_start(owl_alarms *as, owl_error *err)
{
    if (as->running)
        return OWL_OK;
    if (pthread_create(&as->thread, NULL, evaluator, as) != 0)
        return owl_error_set(err, OWL_EIO, "cannot start the alarm evaluator thread");
    as->running = 1;
    if (as->metrics)
        owl_metrics_set_wake(as->metrics, wake, as);
    return OWL_OK;
}

int owl_alarms_add_history(owl_alarms *as, const char *tenant, const char *alarm,
                           const char *type, int64_t time_ms, const char *summary,
                           const char *data, owl_error *err)
{
    pthread_mutex_lock(&as->mu);
    int rc = add_history(as, tenant, alarm, type, time_ms, summary, data, err);
    pthread_mutex_unlock(&as->mu);
    return rc;
}

int owl_alarms_set_actions_enabled(owl_alarms *as, const char *tenant, const char *const *names,
                                   size_t n, int enabled, owl_error *err)
{
    int rc = OWL_OK;
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < n && rc == OWL_OK; i++) {
        alm *a = find(as, tenant, names[i], NULL);
        if (!a || a->actions_enabled == (enabled != 0))
            continue;
        a->actions_enabled = enabled != 0;
        if ((rc = save(as, a, err)) != OWL_OK)
            a->actions_enabled = enabled == 0;
    }
    pthread_mutex_unlock(&as->mu);
    return rc;
}

typedef struct prune_ctx {
    char cutoff[32];
    char (*keys)[2][256];
    size_t n, cap;
    int oom;
} prune_ctx;

static int prune_one(void *ud, const char *tenant, const char *kind, const char *id,
                     const bson_t *doc)
{
    prune_ctx *p = ud;
    (void)kind, (void)doc;
    if (strlen(id) != 24 || strncmp(id, p->cutoff, 16) >= 0)
        return 0; /* ids begin with the time in 16 hex digits: newer, or not ours */
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        void *k = realloc(p->keys, cap * sizeof *p->keys);
        if (!k) {
            p->oom = 1;
            return 1;
        }
        p->keys = k, p->cap = cap;
    }
    snprintf(p->keys[p->n][0], 256, "%s", tenant);
    snprintf(p->keys[p->n][1], 256, "%s", id);
    p->n++;
    return 0;
}

int owl_alarms_prune_history(owl_alarms *as, int64_t now_ms, size_t *removed, owl_error *err)
{
    prune_ctx p = {0};
    snprintf(p.cutoff, sizeof p.cutoff, "%016" PRIx64, (uint64_t)(now_ms - HISTORY_KEEP_MS));
    int rc = owl_meta_list(as->meta, NULL, KIND_HISTORY, NULL, 0, prune_one, &p, err);
    if (rc == OWL_OK && p.oom)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    size_t done = 0;
    for (size_t i = 0; i < p.n && rc == OWL_OK; i++)
        if ((rc = owl_meta_delete(as->meta, p.keys[i][0], KIND_HISTORY, p.keys[i][1], err)) ==
            OWL_OK)
            done++;
    free(p.keys);
    if (removed)
        *removed = done;
    return rc;
}

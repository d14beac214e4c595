/* alarms.c — CloudWatch metric alarms kept by owl: definitions, states and history in the
 * metadata store, evaluated by owl_alarms_tick (the evaluator thread's step).
 *
 * Records (metadata store, per tenant):
 *   kind "alarm", id the alarm's name: the definition and the current state, rewritten on
 *     every change (fsynced before the change is reported);
 *   kind "alarm-history", id 16 hex digits of the time (ms) + 8 of a sequence: one history
 *     item {alarm, type (ConfigurationUpdate, StateUpdate, Action), ts, summary, data (JSON,
 *     CloudWatch's HistoryData)}, kept two weeks as CloudWatch keeps them.
 * An alarm starts INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"). Each tick evaluates
 * every alarm from the metrics module's buckets (owl_alarm_evaluate_metric); a change of
 * state writes the alarm, a StateUpdate item carrying the reason and StateReasonData (the
 * datapoints used), then calls the change hook (actions, events), outside the lock. */
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
} alm;

struct owl_alarms {
    owl_meta *meta;
    owl_metrics *metrics;
    pthread_mutex_t mu;
    alm **v;
    size_t n, cap;
    uint32_t seq;
    owl_alarm_change_fn hook;
    void *hook_ud;
    pthread_t thread;
    int running, stopping;
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
    free(a);
}

static alm *find(const owl_alarms *as, const char *tenant, const char *name, size_t *at)
{
    for (size_t i = 0; i < as->n; i++)
        if (strcmp(as->v[i]->name, name) == 0 && strcmp(as->v[i]->tenant, tenant) == 0) {
            if (at)
                *at = i;
            return as->v[i];
        }
    return NULL;
}

/* Appends a to the alarms (mu held, or during open). OWL_ENOMEM leaves them as they were. */
static int push(owl_alarms *as, alm *a)
{
    if (as->n == as->cap) {
        size_t cap = as->cap ? 2 * as->cap : 64;
        alm **v = realloc(as->v, cap * sizeof *v);
        if (!v)
            return OWL_ENOMEM;
        as->v = v, as->cap = cap;
    }
    as->v[as->n++] = a;
    return OWL_OK;
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
}

static int save(owl_alarms *as, const alm *a, owl_error *err)
{
    bson_t *doc = bson_new();
    if (!doc)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    alarm_doc(a, doc);
    int rc = owl_meta_put(as->meta, a->tenant, KIND, a->name, doc, err);
    bson_destroy(doc);
    return rc;
}

static int add_history(owl_alarms *as, const char *tenant, const char *name, const char *type,
                       int64_t ts, const char *summary, const char *data, owl_error *err)
{
    char id[32];
    snprintf(id, sizeof id, "%016" PRIx64 "%08" PRIx32, (uint64_t)ts, ++as->seq);
    bson_t *doc = bson_new();
    if (!doc)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    BSON_APPEND_UTF8(doc, "alarm", name);
    BSON_APPEND_UTF8(doc, "type", type);
    BSON_APPEND_INT64(doc, "ts", ts);
    BSON_APPEND_UTF8(doc, "summary", summary);
    BSON_APPEND_UTF8(doc, "data", data ? data : "");
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
    if (bson_iter_init_find(&it, doc, "dims") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ai))
        while (bson_iter_next(&ai) && d.spec.id.ndims < OWL_METRIC_MAX_DIMS)
            if (BSON_ITER_HOLDS_DOCUMENT(&ai) && bson_iter_recurse(&ai, &di)) {
                bson_t sub;
                uint32_t len;
                const uint8_t *data;
                bson_iter_document(&ai, &len, &data);
                if (bson_init_static(&sub, data, len) && get_str(&sub, "n") && get_str(&sub, "v"))
                    dims[d.spec.id.ndims++] = (owl_dim){get_str(&sub, "n"), get_str(&sub, "v")};
            }
    d.spec.id.dims = dims;
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
    if (!d.spec.id.ns || !d.spec.id.name ||
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
    if (push(l->as, a) != OWL_OK) {
        alarm_free(a);
        l->rc = OWL_ENOMEM;
        return 1;
    }
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
        alarm_free(as->v[i]);
    free(as->v);
    pthread_mutex_destroy(&as->mu);
    free(as);
}

void owl_alarms_set_hook(owl_alarms *as, owl_alarm_change_fn fn, void *ud)
{
    pthread_mutex_lock(&as->mu);
    as->hook = fn;
    as->hook_ud = ud;
    pthread_mutex_unlock(&as->mu);
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
    if (!d->spec.id.ns || !d->spec.id.name)
        return owl_error_set(err, OWL_EINVAL,
                             "The parameters Namespace and MetricName are required.");
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
    rc = save(as, a, err);
    if (rc == OWL_OK) {
        char summary[300];
        snprintf(summary, sizeof summary, "Alarm \"%s\" %s", a->name,
                 old ? "updated" : "created");
        rc = add_history(as, a->tenant, a->name, "ConfigurationUpdate", now_ms, summary, "",
                         err);
    }
    if (rc == OWL_OK && old) {
        as->v[at] = a;
        alarm_free(old);
    } else if (rc == OWL_OK && push(as, a) != OWL_OK) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
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
            memmove(as->v + at, as->v + at + 1, (as->n - at - 1) * sizeof *as->v);
            as->n--;
            alarm_free(a);
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
    owl_buf_printf(data, "\"startDate\":\"%s\",\"statistic\":", ts);
    owl_buf_json_str(data, a->spec.stat.name, strlen(a->spec.stat.name));
    owl_buf_printf(data, ",\"period\":%d,\"recentDatapoints\":[", a->spec.period_s);
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

/* Moves a to state (mu held): the record, then the history item. */
static int change(owl_alarms *as, alm *a, enum owl_alarm_state state, const char *reason,
                  const char *data, int64_t now_ms, owl_alarm_change *ch, owl_error *err)
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
    int rc = save(as, a, err);
    if (rc != OWL_OK) { /* nothing changed */
        free(a->reason), free(a->reason_data);
        a->reason = old_reason, a->reason_data = old_data;
        a->state = old;
        return rc;
    }
    owl_buf h = OWL_BUF_INIT;
    owl_buf_printf(&h, "{\"version\":\"1.0\",\"oldState\":{\"stateValue\":\"%s\",\"stateReason\":",
                   owl_alarm_state_name(old));
    owl_buf_json_str(&h, old_reason ? old_reason : "", old_reason ? strlen(old_reason) : 0);
    owl_buf_printf(&h, "},\"newState\":{\"stateValue\":\"%s\",\"stateReason\":",
                   owl_alarm_state_name(state));
    owl_buf_json_str(&h, reason, strlen(reason));
    if (data && *data)
        owl_buf_printf(&h, ",\"stateReasonData\":%s", data);
    owl_buf_append(&h, "}}", 2);
    char summary[300];
    snprintf(summary, sizeof summary, "Alarm updated from %s to %s", owl_alarm_state_name(old),
             owl_alarm_state_name(state));
    rc = add_history(as, a->tenant, a->name, "StateUpdate", now_ms, summary,
                     h.data ? h.data : "", err);
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
        size_t na = 0;
        while (a->actions_enabled && a->actions[state] && a->actions[state][na])
            na++;
        ch->actions = strv_dup((const char *const *)a->actions[state], na);
    }
    owl_buf_free(&h);
    free(old_reason), free(old_data);
    return rc;
}

static void notify(owl_alarms *as, owl_alarm_change *ch, size_t n)
{
    pthread_mutex_lock(&as->mu);
    owl_alarm_change_fn hook = as->hook;
    void *ud = as->hook_ud;
    pthread_mutex_unlock(&as->mu);
    for (size_t i = 0; i < n; i++) {
        if (hook)
            hook(ud, &ch[i]);
        free(ch[i].reason);
        free(ch[i].history_data);
        free(ch[i].description);
        strv_free(ch[i].actions);
    }
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

/* Re-evaluates every composite alarm (mu held) until none changes: a change of one child
 * reaches every composite above it in the same pass. Changes are appended to *chs. */
static int composites_locked(owl_alarms *as, int64_t now_ms, owl_alarm_change **chs,
                             size_t *nch, size_t *capch, owl_error *err)
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
            if (*nch == *capch) {
                size_t cap = *capch ? 2 * *capch : 16;
                owl_alarm_change *p = realloc(*chs, cap * sizeof *p);
                if (!p)
                    return owl_error_set(err, OWL_ENOMEM, "out of memory");
                *chs = p, *capch = cap;
            }
            owl_buf reason = OWL_BUF_INIT;
            owl_buf_printf(&reason, "%s: the rule %s %s", st == OWL_ALARM_ALARM ? "ALARM" : "OK",
                           a->rule_text, st == OWL_ALARM_ALARM ? "holds" : "does not hold");
            const char **refs;
            size_t nr = owl_crule_refs(a->rule, &refs);
            owl_buf data = OWL_BUF_INIT;
            owl_buf_append(&data, "{\"triggeringAlarms\":[", 22);
            for (size_t k = 0; k < nr; k++) {
                alm *c = find(as, a->tenant, refs[k], NULL);
                owl_buf_printf(&data, "%s{\"name\":", k ? "," : "");
                owl_buf_json_str(&data, refs[k], strlen(refs[k]));
                owl_buf_printf(&data, ",\"state\":\"%s\"}",
                               c ? owl_alarm_state_name(c->state) : "INSUFFICIENT_DATA");
            }
            owl_buf_append(&data, "]}", 2);
            rc = change(as, a, st, reason.data ? reason.data : "", data.data, now_ms,
                        &(*chs)[*nch], err);
            if (rc == OWL_OK)
                (*nch)++, changed = 1;
            owl_buf_free(&reason);
            owl_buf_free(&data);
        }
    }
    return rc;
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
    owl_alarm_change *chs = NULL;
    size_t nch = 0, capch = 0;
    pthread_mutex_lock(&as->mu);
    size_t at;
    alm *old = find(as, d->spec.tenant, d->name, &at);
    if (old && !old->rule)
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
        rc = save(as, a, err);
    }
    if (rc == OWL_OK) {
        char summary[300];
        snprintf(summary, sizeof summary, "Alarm \"%s\" %s", a->name,
                 old ? "updated" : "created");
        rc = add_history(as, a->tenant, a->name, "ConfigurationUpdate", now_ms, summary, "",
                         err);
    }
    if (rc == OWL_OK) {
        if (old) {
            as->v[at] = a;
            alarm_free(old);
            a = NULL;
        } else if (push(as, a) == OWL_OK) {
            a = NULL;
        } else {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        if (rc == OWL_OK) /* its first state, from its children's */
            rc = composites_locked(as, now_ms, &chs, &nch, &capch, err);
    }
    pthread_mutex_unlock(&as->mu);
    alarm_free(a);
    notify(as, chs, nch);
    free(chs);
    return rc;
}

int owl_alarms_set_state(owl_alarms *as, const char *tenant, const char *name,
                         enum owl_alarm_state state, const char *reason,
                         const char *reason_data, int64_t now_ms, owl_error *err)
{
    owl_alarm_change *chs = calloc(1, sizeof *chs);
    size_t nch = 0, capch = 1;
    if (!chs)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_lock(&as->mu);
    alm *a = find(as, tenant, name, NULL);
    int rc = a ? change(as, a, state, reason ? reason : "", reason_data, now_ms, &chs[0], err)
               : owl_error_set(err, OWL_ENOTFOUND, "%s", name);
    if (rc == OWL_OK) {
        nch = 1;
        rc = composites_locked(as, now_ms, &chs, &nch, &capch, err);
    }
    pthread_mutex_unlock(&as->mu);
    notify(as, chs, nch);
    free(chs);
    return rc;
}

int owl_alarms_tick(owl_alarms *as, int64_t now_ms, owl_error *err)
{
    int rc = OWL_OK;
    size_t nch = 0, capch = 0;
    owl_alarm_change *chs = NULL;
    pthread_mutex_lock(&as->mu);
    for (size_t i = 0; i < as->n && rc == OWL_OK; i++) {
        alm *a = as->v[i];
        if (a->rule)
            continue; /* composites follow their children, below */
        owl_alarm_range r;
        owl_alarm_verdict v;
        owl_error e = {0};
        if (owl_alarm_evaluate_metric(as->metrics, &a->spec, now_ms, a->state, &r, &v, &e) !=
            OWL_OK) {
            owl_warn("alarms: %s/%s: %s", a->tenant, a->name, e.msg);
            continue;
        }
        if (v.retained || v.state == a->state)
            continue;
        owl_buf reason = OWL_BUF_INIT, data = OWL_BUF_INIT;
        describe(a, &r, &v, now_ms, &reason, &data);
        if (nch == capch) {
            size_t cap = capch ? 2 * capch : 16;
            owl_alarm_change *p = realloc(chs, cap * sizeof *p);
            if (!p)
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            else
                chs = p, capch = cap;
        }
        if (rc == OWL_OK &&
            (rc = change(as, a, v.state, reason.data ? reason.data : "", data.data, now_ms,
                         &chs[nch], err)) == OWL_OK)
            nch++;
        owl_buf_free(&reason);
        owl_buf_free(&data);
    }
    if (rc == OWL_OK)
        rc = composites_locked(as, now_ms, &chs, &nch, &capch, err);
    pthread_mutex_unlock(&as->mu);
    notify(as, chs, nch);
    free(chs);
    return rc;
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
        if (fn(ud, &v))
            break;
    }
    pthread_mutex_unlock(&as->mu);
    return OWL_OK;
}

static void *evaluator(void *arg)
{
    owl_alarms *as = arg;
    int64_t pruned = 0;
    pthread_mutex_lock(&as->stop_mu);
    while (!as->stopping) {
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
        pthread_mutex_lock(&as->stop_mu);
        if (as->stopping)
            break;
        /* the next whole second */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        ts.tv_nsec = 0;
        pthread_cond_timedwait(&as->stop_cv, &as->stop_mu, &ts);
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

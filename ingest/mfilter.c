/* mfilter.c — CloudWatch Logs metric filters compiled, and matched events aggregated into
 * datapoints (the API in mfilter.h, private to ingest/; the rules in docs/api/logs.md,
 * "Metric filters").
 *
 * Aggregation keys are (filter, minute, dimension values): one hash table of entries, each a
 * statistic set (count, sum, min, max) that becomes one owl_datum stamped with the minute's
 * start, so a put of 10,000 events that a filter matches becomes a handful of datapoints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "ingest/mfilter.h"

#define MINUTE_MS 60000LL

/* ---- definitions ---- */

static int name_ok(const char *s, size_t max, const char *bad)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= max && !strpbrk(s, bad);
}

/* A metricValue that is a literal: a finite number (all of the text). */
static int literal(const char *s, double *out)
{
    char *end;
    if (!*s || *s == '$')
        return 0;
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

/* The rules that do not need the compiled pattern (value and dimension references are
 * checked against it by check_refs). */
static int check_fields(const owl_logs_mfilter *f, owl_error *err)
{
    if (!name_ok(f->name, OWL_LOGS_MF_NAME_MAX, ":*"))
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'filterName' failed to satisfy constraint: Member must have "
                             "length between 1 and 512 and satisfy regular expression "
                             "pattern: [^:*]*");
    if (!f->pattern || strlen(f->pattern) > OWL_FPAT_MAX_LEN)
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'filterPattern' failed to satisfy constraint: Member must have "
                             "length less than or equal to 1024");
    if (!name_ok(f->metric_name, OWL_METRIC_NAME_MAX, ":*$"))
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'metricTransformations.1.member.metricName' failed to satisfy "
                             "constraint: Member must have length between 1 and 255 and "
                             "satisfy regular expression pattern: [^:*$]*");
    if (!name_ok(f->metric_ns, OWL_METRIC_NS_MAX, ":*$"))
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'metricTransformations.1.member.metricNamespace' failed to "
                             "satisfy constraint: Member must have length between 1 and 255 "
                             "and satisfy regular expression pattern: [^:*$]*");
    if (!f->metric_value || !*f->metric_value || strlen(f->metric_value) > OWL_LOGS_MF_VALUE_MAX)
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'metricTransformations.1.member.metricValue' failed to satisfy "
                             "constraint: Member must have length between 1 and 100");
    double d;
    if (f->metric_value[0] != '$' && !literal(f->metric_value, &d))
        return owl_error_set(err, OWL_EINVAL, "Invalid metric value '%s': a number, or a "
                             "field of the pattern ($.field, $name)", f->metric_value);
    if (f->ndims > OWL_LOGS_MF_MAX_DIMS)
        return owl_error_set(err, OWL_EINVAL, "A metric transformation can have at most %d "
                             "dimensions", OWL_LOGS_MF_MAX_DIMS);
    if (f->ndims && f->has_default)
        return owl_error_set(err, OWL_EINVAL, "A metric transformation with dimensions cannot "
                             "have a default value");
    if (f->has_default && !isfinite(f->default_value))
        return owl_error_set(err, OWL_EINVAL, "defaultValue must be a finite number");
    if (f->unit && !owl_metric_unit_canon(f->unit))
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value '%s' at "
                             "'metricTransformations.1.member.unit' failed to satisfy "
                             "constraint: Member must satisfy enum value set", f->unit);
    for (size_t i = 0; i < f->ndims; i++) {
        if (!name_ok(f->dim_names[i], OWL_METRIC_DIM_NAME_MAX, ""))
            return owl_error_set(err, OWL_EINVAL, "Dimension names must be 1 to 255 bytes");
        if (!f->dim_refs[i] || f->dim_refs[i][0] != '$')
            return owl_error_set(err, OWL_EINVAL, "Dimension '%s': its value must be a field "
                                 "of the pattern ($.field, $name)", f->dim_names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->dim_names[i], f->dim_names[j]) == 0)
                return owl_error_set(err, OWL_EINVAL, "Duplicate dimension name '%s'",
                                     f->dim_names[i]);
    }
    return OWL_OK;
}

static int check_refs(const owl_logs_mfilter *f, const owl_fpat *p, owl_error *err)
{
    owl_error e = {0};
    if (f->metric_value[0] == '$' && owl_fpat_check_ref(p, f->metric_value, &e) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "Invalid metric value: %s", e.msg);
    for (size_t i = 0; i < f->ndims; i++)
        if (owl_fpat_check_ref(p, f->dim_refs[i], &e) != OWL_OK)
            return owl_error_set(err, OWL_EINVAL, "Invalid dimension '%s': %s",
                                 f->dim_names[i], e.msg);
    return OWL_OK;
}

static int compile(const char *pattern, owl_fpat **out, owl_error *err)
{
    owl_error e = {0};
    int rc = owl_fpat_compile(pattern, strlen(pattern), out, &e);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "Invalid metric filter pattern: %s", e.msg);
    return OWL_OK;
}

int owl_logs_mfilter_check(const owl_logs_mfilter *f, owl_error *err)
{
    int rc = check_fields(f, err);
    if (rc != OWL_OK)
        return rc;
    owl_fpat *p;
    if ((rc = compile(f->pattern, &p, err)) != OWL_OK)
        return rc;
    rc = check_refs(f, p, err);
    owl_fpat_free(p);
    return rc;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

int owl_mf_new(const owl_logs_mfilter *def, const char *id, int64_t created, owl_mf **out,
               owl_error *err)
{
    *out = NULL;
    int rc = check_fields(def, err);
    if (rc != OWL_OK)
        return rc;
    owl_mf *f = calloc(1, sizeof *f);
    if (!f)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    f->refs = 1;
    owl_strlcpy(f->id, id, sizeof f->id);
    f->created = created;
    int oom = 0;
    f->name = dup_or_null(def->name, &oom);
    f->pattern = dup_or_null(def->pattern, &oom);
    f->mname = dup_or_null(def->metric_name, &oom);
    f->mns = dup_or_null(def->metric_ns, &oom);
    f->mvalue = dup_or_null(def->metric_value, &oom);
    f->unit = dup_or_null(def->unit ? owl_metric_unit_canon(def->unit) : NULL, &oom);
    f->has_default = def->has_default;
    f->dflt = def->default_value;
    f->ndims = def->ndims;
    for (size_t i = 0; i < def->ndims; i++) {
        f->dname[i] = dup_or_null(def->dim_names[i], &oom);
        f->dref[i] = dup_or_null(def->dim_refs[i], &oom);
    }
    if (oom) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = compile(f->pattern, &f->pat, err)) != OWL_OK ||
        (rc = check_refs(def, f->pat, err)) != OWL_OK)
        goto fail;
    f->value_is_ref = f->mvalue[0] == '$';
    if (!f->value_is_ref)
        literal(f->mvalue, &f->value_num);
    *out = f;
    return OWL_OK;
fail:
    owl_mf_unref(f);
    return rc;
}

void owl_mf_ref(owl_mf *f)
{
    __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void owl_mf_unref(owl_mf *f)
{
    if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    free(f->name), free(f->pattern), free(f->mname), free(f->mns), free(f->mvalue);
    free(f->unit);
    for (size_t i = 0; i < f->ndims; i++)
        free(f->dname[i]), free(f->dref[i]);
    owl_fpat_free(f->pat);
    free(f);
}

void owl_mf_view(const owl_mf *f, owl_logs_mfilter *o)
{
    memset(o, 0, sizeof *o);
    o->name = f->name;
    o->pattern = f->pattern;
    o->metric_name = f->mname;
    o->metric_ns = f->mns;
    o->metric_value = f->mvalue;
    o->unit = f->unit;
    o->has_default = f->has_default;
    o->default_value = f->dflt;
    o->ndims = f->ndims;
    for (size_t i = 0; i < f->ndims; i++)
        o->dim_names[i] = f->dname[i], o->dim_refs[i] = f->dref[i];
    o->created_ms = f->created;
}

void owl_mf_doc(const owl_mf *f, bson_t *d)
{
    bson_init(d);
    BSON_APPEND_UTF8(d, "name", f->name);
    BSON_APPEND_UTF8(d, "pattern", f->pattern);
    BSON_APPEND_INT64(d, "created", f->created);
    BSON_APPEND_UTF8(d, "mname", f->mname);
    BSON_APPEND_UTF8(d, "mns", f->mns);
    BSON_APPEND_UTF8(d, "mvalue", f->mvalue);
    if (f->unit)
        BSON_APPEND_UTF8(d, "unit", f->unit);
    if (f->has_default)
        BSON_APPEND_DOUBLE(d, "dflt", f->dflt);
    bson_t arr, one;
    BSON_APPEND_ARRAY_BEGIN(d, "dims", &arr);
    for (size_t i = 0; i < f->ndims; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &one);
        BSON_APPEND_UTF8(&one, "n", f->dname[i]);
        BSON_APPEND_UTF8(&one, "v", f->dref[i]);
        bson_append_document_end(&arr, &one);
    }
    bson_append_array_end(d, &arr);
}

static const char *str_at(const bson_t *d, const char *k)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, k) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                       : NULL;
}

int owl_mf_from_doc(const bson_t *doc, const char *id, owl_mf **out, owl_error *err)
{
    owl_logs_mfilter def = {.name = str_at(doc, "name"), .pattern = str_at(doc, "pattern"),
                            .metric_name = str_at(doc, "mname"), .metric_ns = str_at(doc, "mns"),
                            .metric_value = str_at(doc, "mvalue"), .unit = str_at(doc, "unit")};
    bson_iter_t it, a;
    int64_t created = 0;
    if (bson_iter_init_find(&it, doc, "created") && BSON_ITER_HOLDS_INT64(&it))
        created = bson_iter_int64(&it);
    if (bson_iter_init_find(&it, doc, "dflt") && BSON_ITER_HOLDS_DOUBLE(&it)) {
        def.has_default = 1;
        def.default_value = bson_iter_double(&it);
    }
    if (bson_iter_init_find(&it, doc, "dims") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &a))
        while (bson_iter_next(&a) && BSON_ITER_HOLDS_DOCUMENT(&a)) {
            const uint8_t *data;
            uint32_t len;
            bson_t sub;
            bson_iter_document(&a, &len, &data);
            if (def.ndims == OWL_LOGS_MF_MAX_DIMS || !bson_init_static(&sub, data, len))
                return owl_error_set(err, OWL_ECORRUPT, "metric filter %s: bad dims", id);
            def.dim_names[def.ndims] = str_at(&sub, "n");
            def.dim_refs[def.ndims] = str_at(&sub, "v");
            def.ndims++;
        }
    int rc = owl_mf_new(&def, id, created, out, err);
    if (rc == OWL_EINVAL)
        rc = owl_error_set(err, OWL_ECORRUPT, "metric filter record %s: %s", id, err->msg);
    return rc;
}

/* ---- aggregation ---- */

typedef struct entry {
    size_t fi;
    int64_t minute;
    char *dims;          /* the dimension values, each NUL-terminated (malloc'd) */
    size_t dims_len;
    uint64_t h;
    double count, sum, min, max;
} entry;

struct owl_mf_agg {
    owl_mf *const *f;
    size_t nf;
    entry *e;
    size_t n, cap;
    size_t *slot;        /* open addressing: index + 1, 0 = empty */
    size_t nslot;
    int64_t *minutes;    /* minutes that had events, ascending as events come (sorted later) */
    size_t nmin, cmin;
    owl_buf scratch, key;
    /* owl_mf_agg_datums' output */
    owl_datum *d;
    owl_dim *dims;
};

owl_mf_agg *owl_mf_agg_new(owl_mf *const *f, size_t n)
{
    owl_mf_agg *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->f = f;
    a->nf = n;
    a->scratch = (owl_buf)OWL_BUF_INIT;
    a->key = (owl_buf)OWL_BUF_INIT;
    return a;
}

void owl_mf_agg_free(owl_mf_agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].dims);
    free(a->e);
    free(a->slot);
    free(a->minutes);
    owl_buf_free(&a->scratch);
    owl_buf_free(&a->key);
    free(a->d);
    free(a->dims);
    free(a);
}

static int64_t minute_of(int64_t t)
{
    int64_t m = t / MINUTE_MS * MINUTE_MS;
    return m > t ? m - MINUTE_MS : m; /* floor for times before 1970 */
}

static int rehash(owl_mf_agg *a)
{
    size_t ns = a->nslot ? 2 * a->nslot : 64;
    size_t *s = calloc(ns, sizeof *s);
    if (!s)
        return OWL_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        size_t j = a->e[i].h & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = i + 1;
    }
    free(a->slot);
    a->slot = s;
    a->nslot = ns;
    return OWL_OK;
}

/* Adds value v to the entry (fi, minute, key bytes); OWL_OK or OWL_ENOMEM. */
static int add(owl_mf_agg *a, size_t fi, int64_t minute, const char *k, size_t kn, double v)
{
    uint64_t h = owl_hash64(k, kn, (uint64_t)minute * 131 + fi);
    if (a->n * 2 >= a->nslot && rehash(a) != OWL_OK)
        return OWL_ENOMEM;
    size_t j = h & (a->nslot - 1);
    for (; a->slot[j]; j = (j + 1) & (a->nslot - 1)) {
        entry *e = &a->e[a->slot[j] - 1];
        if (e->h == h && e->fi == fi && e->minute == minute && e->dims_len == kn &&
            (kn == 0 || memcmp(e->dims, k, kn) == 0)) {
            e->count++, e->sum += v;
            e->min = v < e->min ? v : e->min;
            e->max = v > e->max ? v : e->max;
            return OWL_OK;
        }
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        entry *ne = realloc(a->e, cap * sizeof *ne);
        if (!ne)
            return OWL_ENOMEM;
        a->e = ne;
        a->cap = cap;
    }
    char *d = malloc(kn ? kn : 1);
    if (!d)
        return OWL_ENOMEM;
    if (kn)
        memcpy(d, k, kn);
    a->e[a->n] = (entry){fi, minute, d, kn, h, 1, v, v, v};
    a->slot[j] = ++a->n;
    return OWL_OK;
}

static int note_minute(owl_mf_agg *a, int64_t m)
{
    if (a->nmin && a->minutes[a->nmin - 1] == m)
        return OWL_OK;
    if (a->nmin == a->cmin) {
        size_t cap = a->cmin ? 2 * a->cmin : 16;
        int64_t *p = realloc(a->minutes, cap * sizeof *p);
        if (!p)
            return OWL_ENOMEM;
        a->minutes = p;
        a->cmin = cap;
    }
    a->minutes[a->nmin++] = m;
    return OWL_OK;
}

/* One filter's match of msg: the value and the key of its dimension values into a->key.
 * 1 when usable, 0 when not (absent, not a number, bad dimension value). */
static int evaluate(owl_mf_agg *a, const owl_mf *f, const char *msg, size_t n, double *v)
{
    owl_bytes text;
    int is_num = 0;
    if (f->value_is_ref) {
        if (!owl_fpat_extract(f->pat, msg, n, f->mvalue, &a->scratch, &text, v, &is_num) ||
            !is_num || !isfinite(*v))
            return 0;
    } else {
        *v = f->value_num;
    }
    owl_buf_reset(&a->key);
    for (size_t i = 0; i < f->ndims; i++) {
        if (!owl_fpat_extract(f->pat, msg, n, f->dref[i], &a->scratch, &text, NULL, NULL) ||
            text.n == 0 || text.n > OWL_METRIC_DIM_VALUE_MAX || memchr(text.p, 0, text.n))
            return 0;
        /* text may point into scratch: copy before the next extract */
        if (owl_buf_append(&a->key, text.p, text.n) != OWL_OK ||
            owl_buf_append(&a->key, "", 1) != OWL_OK)
            return 0;
    }
    return 1;
}

int owl_mf_agg_event(owl_mf_agg *a, int64_t time_ms, const char *msg, size_t n)
{
    int64_t m = minute_of(time_ms);
    if (note_minute(a, m) != OWL_OK)
        return OWL_ENOMEM;
    int matched = 0;
    for (size_t i = 0; i < a->nf; i++) {
        const owl_mf *f = a->f[i];
        if (!owl_fpat_match(f->pat, msg, n))
            continue;
        matched++;
        double v;
        if (evaluate(a, f, msg, n, &v) &&
            add(a, i, m, (const char *)a->key.data, a->key.len, v) != OWL_OK)
            return OWL_ENOMEM;
    }
    return matched;
}

static int i64cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Has (fi, minute) any entry? Filters with a default value have no dimensions: key "". */
static int has_entry(const owl_mf_agg *a, size_t fi, int64_t minute)
{
    if (!a->nslot)
        return 0;
    uint64_t h = owl_hash64("", 0, (uint64_t)minute * 131 + fi);
    for (size_t j = h & (a->nslot - 1); a->slot[j]; j = (j + 1) & (a->nslot - 1)) {
        const entry *e = &a->e[a->slot[j] - 1];
        if (e->h == h && e->fi == fi && e->minute == minute && e->dims_len == 0)
            return 1;
    }
    return 0;
}

int owl_mf_agg_datums(owl_mf_agg *a, int64_t now_ms, const owl_datum **out, size_t *nout)
{
    *out = NULL, *nout = 0;
    qsort(a->minutes, a->nmin, sizeof *a->minutes, i64cmp);
    size_t k = 0;
    for (size_t i = 0; i < a->nmin; i++)
        if (!k || a->minutes[k - 1] != a->minutes[i])
            a->minutes[k++] = a->minutes[i];
    a->nmin = k;
    for (size_t fi = 0; fi < a->nf; fi++) {
        if (!a->f[fi]->has_default)
            continue;
        for (size_t i = 0; i < a->nmin; i++)
            if (!has_entry(a, fi, a->minutes[i]) &&
                add(a, fi, a->minutes[i], "", 0, a->f[fi]->dflt) != OWL_OK)
                return OWL_ENOMEM;
    }
    free(a->d), free(a->dims);
    a->d = calloc(a->n ? a->n : 1, sizeof *a->d);
    a->dims = calloc(a->n * OWL_LOGS_MF_MAX_DIMS + 1, sizeof *a->dims);
    if (!a->d || !a->dims)
        return OWL_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const entry *e = &a->e[i];
        const owl_mf *f = a->f[e->fi];
        /* a minute that starts before the oldest time owl_metrics_put takes (its event was
         * within 14 days, its minute's start not) or lies too far ahead is left out */
        if (e->minute < now_ms - OWL_METRIC_MAX_PAST_MS + 1000 ||
            e->minute > now_ms + OWL_METRIC_MAX_AHEAD_MS)
            continue;
        owl_dim *dims = a->dims + n * OWL_LOGS_MF_MAX_DIMS;
        const char *v = e->dims;
        for (size_t j = 0; j < f->ndims; j++) {
            dims[j] = (owl_dim){f->dname[j], v};
            v += strlen(v) + 1;
        }
        a->d[n++] = (owl_datum){.id = {f->mns, f->mname, dims, f->ndims}, .unit = f->unit,
                                .time_ms = e->minute, .resolution = 60, .has_stats = 1,
                                .count = e->count, .sum = e->sum, .min = e->min,
                                .max = e->max};
    }
    *out = a->d;
    *nout = n;
    return OWL_OK;
}

/* ---- TestMetricFilter ---- */

int owl_logs_test_mfilter(const char *pattern, const owl_bytes *msgs, size_t n,
                          int (*fn)(void *ud, const owl_logs_mf_match *m), void *ud,
                          owl_error *err)
{
    if (n < 1 || n > OWL_LOGS_MF_TEST_MAX)
        return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value at "
                             "'logEventMessages' failed to satisfy constraint: Member must "
                             "have length between 1 and %d", OWL_LOGS_MF_TEST_MAX);
    for (size_t i = 0; i < n; i++)
        if (msgs[i].n == 0)
            return owl_error_set(err, OWL_EINVAL, "1 validation error detected: Value '' at "
                                 "'logEventMessages.%zu.member' failed to satisfy constraint: "
                                 "Member must have length greater than or equal to 1", i + 1);
    if (!pattern || strlen(pattern) > OWL_FPAT_MAX_LEN)
        return owl_error_set(err, OWL_EINVAL, "filterPattern must be at most 1024 bytes");
    owl_fpat *p;
    int rc = compile(pattern, &p, err);
    if (rc != OWL_OK)
        return rc;
    owl_buf scratch = OWL_BUF_INIT, keys = OWL_BUF_INIT;
    owl_logs_mf_match *m = malloc(sizeof *m);
    if (!m) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    /* "$name" of every named field, NUL-separated in keys */
    size_t nk = 0;
    for (const char *f; nk < OWL_ARRAY_LEN(m->keys) && (f = owl_fpat_field_name(p, nk)); nk++)
        if (owl_buf_printf(&keys, "$%s", f) != OWL_OK || owl_buf_append(&keys, "", 1) != OWL_OK) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
    for (size_t i = 0; i < n; i++) {
        if (!owl_fpat_match(p, msgs[i].p, msgs[i].n))
            continue;
        m->event_number = i + 1;
        m->message = msgs[i];
        m->nvalues = 0;
        const char *k = (const char *)keys.data;
        for (size_t j = 0; j < nk; j++, k += strlen(k) + 1) {
            owl_bytes t;
            /* a field's value is a view into the message: delimited fields never decode */
            if (owl_fpat_extract(p, msgs[i].p, msgs[i].n, k, &scratch, &t, NULL, NULL)) {
                m->keys[m->nvalues] = k;
                m->values[m->nvalues++] = t;
            }
        }
        if (fn(ud, m))
            break;
    }
out:
    free(m);
    owl_buf_free(&scratch);
    owl_buf_free(&keys);
    owl_fpat_free(p);
    return rc;
}

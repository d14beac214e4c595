/* alarm_tags.c — the tags of CloudWatch alarms (TagResource, UntagResource,
 * ListTagsForResource, PutMetricAlarm's and PutCompositeAlarm's Tags), kept in the metadata
 * store: one record per alarm that has tags, kind "alarm-tags", id the alarm's name,
 * {tags: [{k, v}, ...]} in ascending key order (bytewise), fsynced before a change is
 * reported. Every change reads, edits and rewrites the record under the module's lock.
 *
 * Invariant: a record exists only for an alarm that exists. Changes check the alarm under
 * the lock and DeleteAlarms' owl_alarm_tags_delete takes it too, so a TagResource racing a
 * DeleteAlarms cannot leave a record behind; what a crash leaves between the two writes of
 * a creation (tags first) or of a deletion (alarm first) is swept when the module opens. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analytics/analytics.h"

#define KIND "alarm-tags"
#define ALARM_NAME_MAX 255 /* the metadata store's id limit, and PutMetricAlarm's */

struct owl_alarm_tags {
    owl_meta *meta;
    owl_alarms *alarms;
    pthread_mutex_t mu;
};

/* A tag set being edited: the strings are owned copies. */
typedef struct tagset {
    owl_tag t[OWL_TAGS_MAX];
    size_t n;
} tagset;

static void tagset_free(tagset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->t[i].key);
        free((char *)s->t[i].value);
    }
    s->n = 0;
}

static int alarm_exists(owl_alarms *as, const char *tenant, const char *alarm)
{
    owl_alarm_info info;
    if (owl_alarms_get(as, tenant, alarm, &info) != OWL_OK)
        return 0;
    free(info.reason_data);
    return 1;
}

/* The records of alarms that do not exist, to be swept. */
typedef struct orphans {
    owl_alarms *alarms;
    char (*keys)[2][256]; /* tenant, alarm */
    size_t n, cap;
    int oom;
} orphans;

static int find_orphan(void *ud, const char *tenant, const char *kind, const char *id,
                       const bson_t *doc)
{
    orphans *o = ud;
    (void)kind, (void)doc;
    if (alarm_exists(o->alarms, tenant, id))
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        void *k = realloc(o->keys, cap * sizeof *o->keys);
        if (!k)
            return o->oom = 1;
        o->keys = k, o->cap = cap;
    }
    snprintf(o->keys[o->n][0], sizeof o->keys[o->n][0], "%s", tenant);
    snprintf(o->keys[o->n][1], sizeof o->keys[o->n][1], "%s", id);
    o->n++;
    return 0;
}

int owl_alarm_tags_open(owl_meta *meta, owl_alarms *alarms, owl_alarm_tags **out,
                        owl_error *err)
{
    *out = NULL;
    orphans o = {.alarms = alarms};
    int rc = owl_meta_list(meta, NULL, KIND, NULL, 0, find_orphan, &o, err);
    if (rc == OWL_OK && o.oom)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t i = 0; i < o.n && rc == OWL_OK; i++) {
        owl_warn("alarm tags: %s/%s: the alarm does not exist (a crash between two writes); "
                 "its tags are removed", o.keys[i][0], o.keys[i][1]);
        rc = owl_meta_delete(meta, o.keys[i][0], KIND, o.keys[i][1], err);
    }
    free(o.keys);
    owl_alarm_tags *t = rc == OWL_OK ? calloc(1, sizeof *t) : NULL;
    if (rc == OWL_OK && !t)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    if (rc != OWL_OK)
        return rc;
    t->meta = meta;
    t->alarms = alarms;
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return OWL_OK;
}

void owl_alarm_tags_close(owl_alarm_tags *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* ---- rules ---- */

/* Characters (UTF-8 code points) of s: the unit of CloudWatch's length limits. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int key_check(const char *key, owl_error *err)
{
    size_t n = key ? chars(key) : 0;
    if (n < 1 || n > OWL_TAG_KEY_MAX)
        return owl_error_set(err, OWL_EINVAL, "A tag key must be 1 to %d characters.",
                             OWL_TAG_KEY_MAX);
    if (strncasecmp(key, "aws:", 4) == 0)
        return owl_error_set(err, OWL_EINVAL,
                             "The tag key %s begins with aws:, which is reserved for AWS use.",
                             key);
    return OWL_OK;
}

int owl_alarm_tags_check(const owl_tag *tags, size_t n, owl_error *err)
{
    if (n > OWL_TAGS_MAX)
        return owl_error_set(err, OWL_EINVAL, "A resource takes at most %d tags.", OWL_TAGS_MAX);
    for (size_t i = 0; i < n; i++) {
        int rc = key_check(tags[i].key, err);
        if (rc != OWL_OK)
            return rc;
        if (!tags[i].value || chars(tags[i].value) > OWL_TAG_VALUE_MAX)
            return owl_error_set(err, OWL_EINVAL,
                                 "The value of the tag %s must be 0 to %d characters.",
                                 tags[i].key, OWL_TAG_VALUE_MAX);
        for (size_t k = 0; k < i; k++)
            if (strcmp(tags[k].key, tags[i].key) == 0)
                return owl_error_set(err, OWL_EINVAL, "The tag key %s is given twice.",
                                     tags[i].key);
    }
    return OWL_OK;
}

int owl_alarm_arn_parse(const char *arn, const char *tenant, const char **name, owl_error *err)
{
    /* arn : PARTITION : cloudwatch : REGION : ACCOUNT : alarm : NAME (NAME may hold ':') */
    static const char *const want[] = {"arn", NULL, "cloudwatch", NULL, NULL, "alarm"};
    const char *p = arn ? arn : "", *account = "";
    size_t account_len = 0;
    for (size_t f = 0; f < OWL_ARRAY_LEN(want); f++) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : 0;
        if (!colon || (want[f] && (len != strlen(want[f]) || memcmp(p, want[f], len) != 0)) ||
            (len == 0 && f != 3)) /* the region may be empty, as in IAM's ARNs */
            goto bad;
        if (f == 4)
            account = p, account_len = len;
        p = colon + 1;
    }
    if (!*p)
        goto bad;
    if (account_len != strlen(tenant) || memcmp(account, tenant, account_len) != 0)
        return owl_error_set(err, OWL_ENOTFOUND, "The alarm %.300s is not in this account.", p);
    *name = p;
    return OWL_OK;
bad:
    return owl_error_set(err, OWL_EINVAL,
                         "The ARN %.300s is not an alarm's: "
                         "arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME.",
                         arn ? arn : "");
}

/* ---- the record ---- */

static int name_ok(const char *alarm)
{
    size_t n = alarm ? strlen(alarm) : 0;
    return n >= 1 && n <= ALARM_NAME_MAX;
}

/* OWL_OK when the alarm exists (t->mu held), else OWL_ENOTFOUND. */
static int known(owl_alarm_tags *t, const char *tenant, const char *alarm, owl_error *err)
{
    if (name_ok(alarm) && alarm_exists(t->alarms, tenant, alarm))
        return OWL_OK;
    return owl_error_set(err, OWL_ENOTFOUND, "The alarm %.300s does not exist.",
                         alarm ? alarm : "");
}

/* The alarm's tags into *s (empty when it has none). */
static int load(owl_alarm_tags *t, const char *tenant, const char *alarm, tagset *s,
                owl_error *err)
{
    bson_t *doc = NULL;
    bson_iter_t it, ai, ti;
    s->n = 0;
    int rc = owl_meta_get(t->meta, tenant, KIND, alarm, &doc, err);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK)
        return rc;
    if (bson_iter_init_find(&it, doc, "tags") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ai))
        while (bson_iter_next(&ai) && s->n < OWL_TAGS_MAX && rc == OWL_OK) {
            const char *k = NULL, *v = NULL;
            if (!BSON_ITER_HOLDS_DOCUMENT(&ai) || !bson_iter_recurse(&ai, &ti))
                continue;
            while (bson_iter_next(&ti))
                if (BSON_ITER_HOLDS_UTF8(&ti) && strcmp(bson_iter_key(&ti), "k") == 0)
                    k = bson_iter_utf8(&ti, NULL);
                else if (BSON_ITER_HOLDS_UTF8(&ti) && strcmp(bson_iter_key(&ti), "v") == 0)
                    v = bson_iter_utf8(&ti, NULL);
            if (!k || !v)
                continue; /* not ours: skipped rather than failing every later change */
            owl_tag *tag = &s->t[s->n++];
            tag->key = strdup(k);
            tag->value = strdup(v);
            if (!tag->key || !tag->value) {
                tagset_free(s);
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            }
        }
    bson_destroy(doc);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const owl_tag *)a)->key, ((const owl_tag *)b)->key);
}

/* Writes *s as the alarm's record (sorted first), or removes the record when s is empty. */
static int store(owl_alarm_tags *t, const char *tenant, const char *alarm, tagset *s,
                 owl_error *err)
{
    if (s->n == 0) {
        int rc = owl_meta_delete(t->meta, tenant, KIND, alarm, err);
        return rc == OWL_ENOTFOUND ? OWL_OK : rc;
    }
    qsort(s->t, s->n, sizeof *s->t, by_key);
    bson_t *doc = bson_new();
    if (!doc)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    bson_t arr, tag;
    char k[24];
    BSON_APPEND_ARRAY_BEGIN(doc, "tags", &arr);
    for (size_t i = 0; i < s->n; i++) {
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &tag);
        BSON_APPEND_UTF8(&tag, "k", s->t[i].key);
        BSON_APPEND_UTF8(&tag, "v", s->t[i].value);
        bson_append_document_end(&arr, &tag);
    }
    bson_append_array_end(doc, &arr);
    int rc = owl_meta_put(t->meta, tenant, KIND, alarm, doc, err);
    bson_destroy(doc);
    return rc;
}

/* Sets key to value in *s (a copy of both). OWL_EINVAL when that would make too many. */
static int put_one(tagset *s, const owl_tag *tag, owl_error *err)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->t[i].key, tag->key) != 0)
        i++;
    if (i == s->n && s->n == OWL_TAGS_MAX)
        return owl_error_set(err, OWL_EINVAL, "A resource takes at most %d tags.",
                             OWL_TAGS_MAX);
    char *v = strdup(tag->value), *k = i == s->n ? strdup(tag->key) : NULL;
    if (!v || (i == s->n && !k)) {
        free(v), free(k);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    if (i == s->n)
        s->t[s->n++].key = k;
    else
        free((char *)s->t[i].value);
    s->t[i].value = v;
    return OWL_OK;
}

/* ---- changes ---- */

int owl_alarm_tags_set(owl_alarm_tags *t, const char *tenant, const char *alarm,
                       const owl_tag *tags, size_t n, owl_error *err)
{
    tagset s = {.n = 0};
    if (!name_ok(alarm))
        return owl_error_set(err, OWL_EINVAL, "An alarm name is 1 to %d characters.",
                             ALARM_NAME_MAX);
    int rc = owl_alarm_tags_check(tags, n, err);
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        rc = put_one(&s, &tags[i], err);
    pthread_mutex_lock(&t->mu);
    if (rc == OWL_OK)
        rc = store(t, tenant, alarm, &s, err);
    pthread_mutex_unlock(&t->mu);
    tagset_free(&s);
    return rc;
}

int owl_alarm_tags_add(owl_alarm_tags *t, const char *tenant, const char *alarm,
                       const owl_tag *tags, size_t n, owl_error *err)
{
    tagset s = {.n = 0};
    int rc = owl_alarm_tags_check(tags, n, err);
    if (rc != OWL_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    rc = known(t, tenant, alarm, err);
    if (rc == OWL_OK)
        rc = load(t, tenant, alarm, &s, err);
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        rc = put_one(&s, &tags[i], err);
    if (rc == OWL_OK && n)
        rc = store(t, tenant, alarm, &s, err);
    pthread_mutex_unlock(&t->mu);
    tagset_free(&s);
    return rc;
}

int owl_alarm_tags_remove(owl_alarm_tags *t, const char *tenant, const char *alarm,
                          const char *const *keys, size_t n, owl_error *err)
{
    tagset s = {.n = 0};
    int rc = OWL_OK;
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        rc = key_check(keys[i], err);
    if (rc != OWL_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    rc = known(t, tenant, alarm, err);
    if (rc == OWL_OK)
        rc = load(t, tenant, alarm, &s, err);
    size_t before = s.n;
    for (size_t i = 0; i < n && rc == OWL_OK; i++)
        for (size_t j = 0; j < s.n; j++)
            if (strcmp(s.t[j].key, keys[i]) == 0) {
                free((char *)s.t[j].key);
                free((char *)s.t[j].value);
                s.t[j] = s.t[--s.n];
                break;
            }
    if (rc == OWL_OK && s.n != before)
        rc = store(t, tenant, alarm, &s, err);
    pthread_mutex_unlock(&t->mu);
    tagset_free(&s);
    return rc;
}

int owl_alarm_tags_delete(owl_alarm_tags *t, const char *tenant, const char *alarm,
                          owl_error *err)
{
    tagset none = {.n = 0};
    if (!name_ok(alarm))
        return OWL_OK; /* no alarm has that name, so no tags */
    pthread_mutex_lock(&t->mu);
    int rc = store(t, tenant, alarm, &none, err);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int owl_alarm_tags_list(owl_alarm_tags *t, const char *tenant, const char *alarm,
                        owl_tag_fn fn, void *ud, owl_error *err)
{
    tagset s = {.n = 0};
    pthread_mutex_lock(&t->mu);
    int rc = known(t, tenant, alarm, err);
    if (rc == OWL_OK)
        rc = load(t, tenant, alarm, &s, err);
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < s.n && rc == OWL_OK; i++)
        if (fn(ud, &s.t[i]))
            break;
    tagset_free(&s);
    return rc;
}

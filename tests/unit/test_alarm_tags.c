/* test_alarm_tags.c — analytics/alarm_tags.c: CloudWatch's tag rules (lengths in characters,
 * the aws: prefix, 50 per alarm, a key given twice), alarm ARNs (any partition and region,
 * names holding ':', another account), and the store: add overwrites, remove skips unknown
 * keys, list in key order, set replaces (a stale record included), delete, tenants apart,
 * a refused change changes nothing, and everything back after the store is reopened. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "tests/unit/testfs.h"

/* ---- rules ---- */

static char *repeat(const char *s, size_t n)
{
    size_t l = strlen(s);
    char *o = malloc(l * n + 1);
    cr_assert_not_null(o);
    for (size_t i = 0; i < n; i++)
        memcpy(o + i * l, s, l);
    o[l * n] = '\0';
    return o;
}

static int check1(const char *key, const char *value)
{
    owl_tag t = {key, value};
    return owl_alarm_tags_check(&t, 1, NULL);
}

Test(alarm_tags, key_and_value_lengths_in_characters)
{
    char *k128 = repeat("k", 128), *k129 = repeat("k", 129);
    char *e128 = repeat("\xc3\xa9", 128), *e129 = repeat("\xc3\xa9", 129); /* é: 2 bytes */
    char *v256 = repeat("v", 256), *v257 = repeat("v", 257), *ev256 = repeat("\xc3\xa9", 256);
    cr_assert_eq(check1("team", "sre"), OWL_OK);
    cr_assert_eq(check1("team", ""), OWL_OK, "a value may be empty");
    cr_assert_eq(check1("", "x"), OWL_EINVAL, "a key may not");
    cr_assert_eq(check1(NULL, "x"), OWL_EINVAL);
    cr_assert_eq(check1("team", NULL), OWL_EINVAL);
    cr_assert_eq(check1(k128, "x"), OWL_OK);
    cr_assert_eq(check1(k129, "x"), OWL_EINVAL);
    cr_assert_eq(check1(e128, "x"), OWL_OK, "128 characters in 256 bytes");
    cr_assert_eq(check1(e129, "x"), OWL_EINVAL);
    cr_assert_eq(check1("k", v256), OWL_OK);
    cr_assert_eq(check1("k", ev256), OWL_OK);
    cr_assert_eq(check1("k", v257), OWL_EINVAL);
    free(k128), free(k129), free(e128), free(e129), free(v256), free(v257), free(ev256);
}

Test(alarm_tags, reserved_prefix_duplicates_and_count)
{
    owl_error err = {0};
    cr_assert_eq(check1("aws:createdBy", "x"), OWL_EINVAL);
    owl_tag t = {"AWS:team", "x"};
    cr_assert_eq(owl_alarm_tags_check(&t, 1, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "aws:"), "%s", err.msg);
    cr_assert_eq(check1("awsome", "x"), OWL_OK);
    cr_assert_eq(check1("team:aws:x", "x"), OWL_OK);
    owl_tag two[] = {{"a", "1"}, {"a", "2"}};
    cr_assert_eq(owl_alarm_tags_check(two, 2, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "twice"), "%s", err.msg);
    owl_tag many[OWL_TAGS_MAX + 1];
    char keys[OWL_TAGS_MAX + 1][8];
    for (int i = 0; i <= OWL_TAGS_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[i] = (owl_tag){keys[i], "v"};
    }
    cr_assert_eq(owl_alarm_tags_check(many, OWL_TAGS_MAX, NULL), OWL_OK);
    cr_assert_eq(owl_alarm_tags_check(many, OWL_TAGS_MAX + 1, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "50"), "%s", err.msg);
}

Test(alarm_tags, alarm_arns)
{
    const char *name = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_alarm_arn_parse("arn:aws:cloudwatch:us-east-1:123456789012:alarm:hot",
                                     "123456789012", &name, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_str_eq(name, "hot");
    cr_assert_eq(owl_alarm_arn_parse("arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:a:b c",
                                     "123456789012", &name, NULL),
                 OWL_OK);
    cr_assert_str_eq(name, "a:b c", "a name may hold ':' and spaces");
    cr_assert_eq(owl_alarm_arn_parse("arn:aws:cloudwatch::123456789012:alarm:x", "123456789012",
                                     &name, NULL),
                 OWL_OK, "an empty region");
    cr_assert_eq(owl_alarm_arn_parse("arn:aws:cloudwatch:us-east-1:999999999999:alarm:hot",
                                     "123456789012", &name, &err),
                 OWL_ENOTFOUND, "another account's alarm is none of the caller's");
    static const char *const bad[] = {
        "", "hot", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm",
        "arn:aws:cloudwatch:us-east-1:123456789012:insight-rule/x",
        "arn:aws:logs:us-east-1:123456789012:alarm:hot",
        "arn::cloudwatch:us-east-1:123456789012:alarm:hot",
        "arn:aws:cloudwatch:us-east-1::alarm:hot",
        "ARN:aws:cloudwatch:us-east-1:123456789012:alarm:hot",
        "arn:aws:cloudwatch:us-east-1:123456789012:Alarm:hot",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarms:hot",
    };
    for (size_t i = 0; i < OWL_ARRAY_LEN(bad); i++) {
        err = (owl_error){0};
        cr_assert_eq(owl_alarm_arn_parse(bad[i], "123456789012", &name, &err), OWL_EINVAL, "%s",
                     bad[i]);
        cr_assert(strstr(err.msg, "arn:PARTITION:cloudwatch"), "%s", err.msg);
    }
    cr_assert_eq(owl_alarm_arn_parse(NULL, "123456789012", &name, NULL), OWL_EINVAL);
}

/* ---- the store ---- */

static char *dir;
static owl_meta *meta;
static owl_store *store;
static owl_metrics *metrics;
static owl_alarms *alarms;
static owl_alarm_tags *tags;

static void close_all(void)
{
    owl_alarm_tags_close(tags);
    owl_alarms_close(alarms);
    owl_metrics_close(metrics);
    owl_store_close(store);
    owl_meta_close(meta);
    tags = NULL, alarms = NULL, metrics = NULL, store = NULL, meta = NULL;
}

/* Opens (again) everything over dir, as owld does after a restart. */
static void reopen(void)
{
    char p[256];
    owl_error err = {0};
    close_all();
    snprintf(p, sizeof p, "%s/meta", dir);
    cr_assert_eq(owl_meta_open(p, &(owl_meta_options){.fsync = 1}, &meta, &err), OWL_OK, "%s",
                 err.msg);
    snprintf(p, sizeof p, "%s/store", dir);
    owl_store_options so;
    owl_store_options_default(&so);
    so.sync = OWL_SYNC_NONE;
    so.background = 0;
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_metrics_open(store, meta, NULL, &metrics, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_open(meta, metrics, &alarms, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarm_tags_open(meta, alarms, &tags, &err), OWL_OK, "%s", err.msg);
}

static void make_alarm(const char *tenant, const char *name)
{
    static const owl_dim host[] = {{"host", "a"}};
    owl_alarm_def d = {.name = name};
    owl_error err = {0};
    d.spec = (owl_alarm_spec){.tenant = tenant, .id = {"App", "Load", host, 1}, .period_s = 60,
                              .eval_periods = 1, .datapoints_to_alarm = 1, .cmp = OWL_CMP_GT,
                              .threshold = 1, .missing = OWL_MISSING_MISSING};
    cr_assert_eq(owl_stat_parse("Maximum", &d.spec.stat, NULL), OWL_OK);
    cr_assert_eq(owl_alarms_put(alarms, &d, 1700000000000LL, &err), OWL_OK, "%s", err.msg);
}

static void setup(void)
{
    dir = test_tmpdir("alarm-tags");
    reopen();
    make_alarm("t1", "hot");
    make_alarm("t1", "cold");
    make_alarm("t2", "hot");
}

static void teardown(void)
{
    close_all();
    test_rm_rf(dir);
}

typedef struct listing {
    char text[4096]; /* "k=v;k=v;" */
    int n;
} listing;

static int collect(void *ud, const owl_tag *t)
{
    listing *l = ud;
    size_t at = strlen(l->text);
    snprintf(l->text + at, sizeof l->text - at, "%s=%s;", t->key, t->value);
    l->n++;
    return 0;
}

static const char *list(const char *tenant, const char *alarm)
{
    static listing l;
    owl_error err = {0};
    l = (listing){0};
    cr_assert_eq(owl_alarm_tags_list(tags, tenant, alarm, collect, &l, &err), OWL_OK, "%s",
                 err.msg);
    return l.text;
}

Test(alarm_tags_store, add_overwrite_remove_list, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    cr_assert_str_eq(list("t1", "hot"), "", "no tags yet");
    owl_tag first[] = {{"team", "sre"}, {"env", "prod"}};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", first, 2, &err), OWL_OK, "%s", err.msg);
    cr_assert_str_eq(list("t1", "hot"), "env=prod;team=sre;", "listed in key order");
    owl_tag second[] = {{"team", "platform"}, {"cost", ""}};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", second, 2, &err), OWL_OK);
    cr_assert_str_eq(list("t1", "hot"), "cost=;env=prod;team=platform;",
                     "a key given again takes the new value");
    const char *gone[] = {"env", "nope"};
    cr_assert_eq(owl_alarm_tags_remove(tags, "t1", "hot", gone, 2, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert_str_eq(list("t1", "hot"), "cost=;team=platform;", "an unknown key is skipped");
    const char *reserved[] = {"aws:x"};
    cr_assert_eq(owl_alarm_tags_remove(tags, "t1", "hot", reserved, 1, &err), OWL_EINVAL);
    /* another tenant's alarm of the same name is another alarm */
    cr_assert_str_eq(list("t2", "hot"), "");
    owl_tag other = {"team", "theirs"};
    cr_assert_eq(owl_alarm_tags_add(tags, "t2", "hot", &other, 1, &err), OWL_OK);
    cr_assert_str_eq(list("t1", "hot"), "cost=;team=platform;");
    cr_assert_str_eq(list("t2", "hot"), "team=theirs;");
    /* everything comes back from the disk */
    reopen();
    cr_assert_str_eq(list("t1", "hot"), "cost=;team=platform;");
    cr_assert_str_eq(list("t2", "hot"), "team=theirs;");
    /* removing the last tag removes the record */
    const char *all[] = {"cost", "team"};
    size_t before = owl_meta_count(meta);
    cr_assert_eq(owl_alarm_tags_remove(tags, "t1", "hot", all, 2, &err), OWL_OK);
    cr_assert_str_eq(list("t1", "hot"), "");
    cr_assert_eq(owl_meta_count(meta), before - 1);
}

Test(alarm_tags_store, fifty_per_alarm_and_refused_changes_change_nothing, .init = setup,
     .fini = teardown)
{
    owl_error err = {0};
    owl_tag t[OWL_TAGS_MAX];
    char keys[OWL_TAGS_MAX][8];
    for (int i = 0; i < OWL_TAGS_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%02d", i);
        t[i] = (owl_tag){keys[i], "v"};
    }
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", t, 30, &err), OWL_OK, "%s", err.msg);
    /* 30 + 21 new keys: one too many, and none of them is taken */
    owl_tag more[21];
    char mk[21][8];
    for (int i = 0; i < 21; i++) {
        snprintf(mk[i], sizeof mk[i], "m%02d", i);
        more[i] = (owl_tag){mk[i], "v"};
    }
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", more, 21, &err), OWL_EINVAL);
    cr_assert(strstr(err.msg, "at most 50"), "%s", err.msg);
    cr_assert(!strstr(list("t1", "hot"), "m00="), "nothing of a refused request is stored");
    /* 30 + 20 new + 1 overwritten: exactly 50 */
    more[20] = (owl_tag){"k00", "changed"};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", more, 21, &err), OWL_OK, "%s", err.msg);
    listing l = {0};
    cr_assert_eq(owl_alarm_tags_list(tags, "t1", "hot", collect, &l, &err), OWL_OK);
    cr_assert_eq(l.n, OWL_TAGS_MAX);
    cr_assert(strstr(l.text, "k00=changed;"), "%s", l.text);
    owl_tag one = {"z", "v"};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &one, 1, &err), OWL_EINVAL);
    one.key = "k01"; /* an existing key is no new tag */
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &one, 1, &err), OWL_OK, "%s", err.msg);
    /* a bad tag in a request refuses all of it */
    owl_tag mixed[] = {{"k02", "new"}, {"aws:k", "v"}};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", mixed, 2, &err), OWL_EINVAL);
    cr_assert(strstr(list("t1", "hot"), "k02=v;"), "%s", list("t1", "hot"));
}

Test(alarm_tags_store, set_replaces_and_delete, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    owl_tag old[] = {{"a", "1"}, {"b", "2"}};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", old, 2, &err), OWL_OK);
    /* an alarm created again under the name: its own tags only, none of the record's */
    owl_tag fresh = {"c", "3"};
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "hot", &fresh, 1, &err), OWL_OK, "%s", err.msg);
    cr_assert_str_eq(list("t1", "hot"), "c=3;");
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "hot", NULL, 0, &err), OWL_OK);
    cr_assert_str_eq(list("t1", "hot"), "", "created without tags: none");
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "hot", NULL, 0, &err), OWL_OK,
                 "nothing to remove is no error");
    owl_tag bad = {"aws:x", "1"};
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "hot", &bad, 1, &err), OWL_EINVAL);
    char *longname = repeat("n", 256);
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", longname, &fresh, 1, &err), OWL_EINVAL,
                 "no alarm has a 256-character name");
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "", &fresh, 1, &err), OWL_EINVAL);
    cr_assert_eq(owl_alarm_tags_delete(tags, "t1", longname, &err), OWL_OK);
    free(longname);
    /* DeleteAlarms: all of them go, for good */
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", old, 2, &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "cold", old, 1, &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_delete(tags, "t1", "hot", &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarm_tags_delete(tags, "t1", "hot", &err), OWL_OK, "twice is no error");
    reopen();
    cr_assert_str_eq(list("t1", "hot"), "");
    cr_assert_str_eq(list("t1", "cold"), "a=1;", "the other alarm keeps its tags");
}

/* A record the module did not write (or damaged) does not stop the alarm's later changes. */
Test(alarm_tags_store, foreign_record_entries_are_skipped, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    bson_t *doc = BCON_NEW("tags", "[", "{", "k", "good", "v", "1", "}", "{", "k", BCON_INT32(3),
                           "}", "]");
    cr_assert_eq(owl_meta_put(meta, "t1", "alarm-tags", "hot", doc, &err), OWL_OK);
    bson_destroy(doc);
    cr_assert_str_eq(list("t1", "hot"), "good=1;");
    owl_tag t = {"new", "2"};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &t, 1, &err), OWL_OK);
    cr_assert_str_eq(list("t1", "hot"), "good=1;new=2;");
}

Test(alarm_tags_store, unknown_alarms, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    owl_tag t = {"a", "1"};
    const char *k = "a";
    listing l = {0};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "nope", &t, 1, &err), OWL_ENOTFOUND);
    cr_assert(strstr(err.msg, "does not exist"), "%s", err.msg);
    cr_assert_eq(owl_alarm_tags_add(tags, "t3", "hot", &t, 1, &err), OWL_ENOTFOUND,
                 "another tenant's alarm is none of t3's");
    cr_assert_eq(owl_alarm_tags_remove(tags, "t1", "nope", &k, 1, &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_alarm_tags_list(tags, "t1", "nope", collect, &l, &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_alarm_tags_list(tags, "t1", "", collect, &l, &err), OWL_ENOTFOUND);
    cr_assert_eq(owl_alarm_tags_list(tags, "t1", NULL, collect, &l, &err), OWL_ENOTFOUND);
    /* DeleteAlarms, then its tags: the alarm's changes are refused from then on */
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &t, 1, &err), OWL_OK);
    const char *names[] = {"hot"};
    cr_assert_eq(owl_alarms_delete(alarms, "t1", names, 1, &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_delete(tags, "t1", "hot", &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &t, 1, &err), OWL_ENOTFOUND);
    make_alarm("t1", "hot");
    cr_assert_str_eq(list("t1", "hot"), "", "created again: none of the old tags");
}

/* What a crash leaves between two writes (tags of an alarm never created, of an alarm
 * deleted) is swept when the module opens; the other records stay. */
Test(alarm_tags_store, records_without_alarm_are_swept_at_open, .init = setup,
     .fini = teardown)
{
    owl_error err = {0};
    owl_tag t = {"a", "1"};
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "cold", &t, 1, &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_add(tags, "t1", "hot", &t, 1, &err), OWL_OK);
    cr_assert_eq(owl_alarm_tags_set(tags, "t1", "never", &t, 1, &err), OWL_OK,
                 "set does not need the alarm: it comes first");
    const char *names[] = {"hot"};
    cr_assert_eq(owl_alarms_delete(alarms, "t1", names, 1, &err), OWL_OK); /* then a crash */
    reopen();
    bson_t *doc = NULL;
    cr_assert_eq(owl_meta_get(meta, "t1", "alarm-tags", "never", &doc, NULL), OWL_ENOTFOUND);
    cr_assert_eq(owl_meta_get(meta, "t1", "alarm-tags", "hot", &doc, NULL), OWL_ENOTFOUND);
    cr_assert_str_eq(list("t1", "cold"), "a=1;");
    make_alarm("t1", "hot");
    cr_assert_str_eq(list("t1", "hot"), "");
}

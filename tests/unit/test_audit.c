/* test_audit.c — the recording side of the audit trail (server/audit.c) and the failed-
 * authentication guard (server/auth.c): failures grouped per source, key id and minute into
 * one row with a count; the per-source limit. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "server/audit.h"
#include "server/auth.h"
#include "testfs.h"

static owl_store *open_store(const char *dir)
{
    static const owl_schema *const schemas[] = {&owl_audit_schema};
    owl_store_options o;
    owl_store_options_default(&o);
    o.sync = OWL_SYNC_NONE; /* durability is the store's tests' business: keep this fast */
    owl_store *s = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_store_open(dir, schemas, 1, &o, &s, &err), OWL_OK, "%s", err.msg);
    return s;
}

static owl_audit_event failure(int64_t t, const char *source, const char *key)
{
    owl_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = t;
    owl_strlcpy(ev.source, source, sizeof ev.source);
    owl_strlcpy(ev.key_id, key, sizeof ev.key_id);
    owl_strlcpy(ev.action, "iam:ListKeys", sizeof ev.action);
    ev.status = 401;
    owl_strlcpy(ev.error_code, "InvalidCredentials", sizeof ev.error_code);
    snprintf(ev.request_id, sizeof ev.request_id, "req-%lld", (long long)t);
    return ev;
}

/* the untenanted events, newest first, as JSON */
static void lookup(owl_audit *a, owl_buf *out)
{
    owl_audit_query q = {.start_ms = INT64_MIN, .end_ms = INT64_MAX, .tenant = "",
                         .include_untenanted = 1, .limit = 1000};
    owl_error err = {0};
    out->len = 0;
    cr_assert_eq(owl_audit_query_json(a, &q, out, &err), OWL_OK, "%s", err.msg);
}

static size_t occurrences(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

Test(audit, failures_grouped_per_source_key_and_minute)
{
    char *dir = test_tmpdir("audit");
    owl_store *s = open_store(dir);
    owl_audit *a = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_audit_open(s, 0, &a, &err), OWL_OK);
    const int64_t m0 = 29000000LL * 60000; /* a minute boundary */
    for (int i = 0; i < 1000; i++) {
        owl_audit_event ev = failure(m0 + i, "10.0.0.1", "OWLAAAAAAAAAAAAAAAAA");
        cr_assert_eq(owl_audit_record_failure(a, &ev, &err), OWL_OK, "%s", err.msg);
    }
    owl_audit_event other = failure(m0 + 5, "10.0.0.2", "OWLAAAAAAAAAAAAAAAAA");
    cr_assert_eq(owl_audit_record_failure(a, &other, &err), OWL_OK);
    cr_assert_eq(owl_audit_count(a), 0, "nothing written while the minute is open");
    /* the next minute closes the first one's groups: written as two rows */
    owl_audit_event next = failure(m0 + 60000, "10.0.0.1", "OWLAAAAAAAAAAAAAAAAA");
    cr_assert_eq(owl_audit_record_failure(a, &next, &err), OWL_OK);
    cr_assert_eq(owl_audit_count(a), 2);
    /* a lookup writes the pending group too */
    owl_buf out = OWL_BUF_INIT;
    lookup(a, &out);
    cr_assert_eq(owl_audit_count(a), 3);
    cr_assert_eq(occurrences(out.data, "\"event_id\""), 3, "%s", out.data);
    cr_assert(strstr(out.data, "\"count\":1000"), "%s", out.data);
    cr_assert(strstr(out.data, "\"event_id\":\"req-"), "%s", out.data);
    cr_assert_eq(occurrences(out.data, "\"count\""), 1, "a single failure shows no count: %s",
                 out.data);
    /* close writes what is pending */
    owl_audit_event late = failure(m0 + 120000, "10.0.0.3", "OWLBBBBBBBBBBBBBBBBB");
    cr_assert_eq(owl_audit_record_failure(a, &late, &err), OWL_OK);
    owl_audit_close(a);
    cr_assert_eq(owl_audit_open(s, 0, &a, &err), OWL_OK);
    lookup(a, &out);
    cr_assert_eq(occurrences(out.data, "\"event_id\""), 4, "%s", out.data);
    owl_buf_free(&out);
    owl_audit_close(a);
    owl_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

Test(audit, groups_bounded)
{
    char *dir = test_tmpdir("audit");
    owl_store *s = open_store(dir);
    owl_audit *a = NULL;
    owl_error err = {0};
    cr_assert_eq(owl_audit_open(s, 0, &a, &err), OWL_OK);
    const int64_t m0 = 29000000LL * 60000;
    /* 3000 distinct sources in one minute: at most 1024 held, the rest forces writes */
    for (int i = 0; i < 3000; i++) {
        char src[32];
        snprintf(src, sizeof src, "10.1.%d.%d", i / 256, i % 256);
        owl_audit_event ev = failure(m0 + 1, src, "OWLAAAAAAAAAAAAAAAAA");
        cr_assert_eq(owl_audit_record_failure(a, &ev, &err), OWL_OK);
    }
    cr_assert_geq(owl_audit_count(a), 3000 - 1024);
    cr_assert_eq(owl_audit_flush(a, INT64_MAX, &err), OWL_OK);
    cr_assert_eq(owl_audit_count(a), 3000);
    cr_assert_eq(owl_audit_failing(a), 0);
    owl_audit_close(a);
    owl_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

Test(auth_guard, limit_per_source_and_minute)
{
    owl_auth_guard *g = NULL;
    cr_assert_eq(owl_auth_guard_new(3, &g), OWL_OK);
    const int64_t t = 29000000LL * 60000 + 15000; /* 45 s before the minute ends */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(owl_auth_guard_limited(g, "10.0.0.1", t), 0);
        owl_auth_guard_failed(g, "10.0.0.1", t);
    }
    cr_assert_eq(owl_auth_guard_limited(g, "10.0.0.1", t), 45);
    cr_assert_eq(owl_auth_guard_limited(g, "10.0.0.1", t + 44500), 1);
    cr_assert_eq(owl_auth_guard_limited(g, "10.0.0.2", t), 0, "another source is not limited");
    cr_assert_eq(owl_auth_guard_limited(g, "10.0.0.1", t + 45000), 0, "the next minute is new");
    /* many sources: the table stays bounded and lookups keep working */
    for (int i = 0; i < 20000; i++) {
        char src[32];
        snprintf(src, sizeof src, "10.2.%d.%d", i / 256, i % 256);
        owl_auth_guard_failed(g, src, t);
    }
    owl_auth_guard_free(g);
    owl_auth_guard_free(NULL);
    cr_assert_eq(owl_auth_guard_limited(NULL, "x", t), 0);
}

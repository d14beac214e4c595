/* test_alarm_history.c — analytics/alarm_history.c over items written by the alarms module
 * (owl_alarms_add_history): both time orders, pages of every size giving each item once,
 * tokens that stay valid while new items arrive, the filters (alarm, type, dates, keep),
 * items of one millisecond, and the tokens refused: garbage, altered, another direction's,
 * another tenant's. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "tests/unit/testfs.h"

static char *dir;
static owl_meta *meta;
static owl_store *store;
static owl_metrics *metrics;
static owl_alarms *alarms;

#define T0 1700000000000LL /* items are at T0 + i seconds */

static void setup(void)
{
    char p[256];
    owl_error err = {0};
    dir = test_tmpdir("alarm-history");
    snprintf(p, sizeof p, "%s/meta", dir);
    cr_assert_eq(owl_meta_open(p, &(owl_meta_options){.fsync = 0}, &meta, &err), OWL_OK);
    snprintf(p, sizeof p, "%s/store", dir);
    owl_store_options so;
    owl_store_options_default(&so);
    so.sync = OWL_SYNC_NONE;
    so.background = 0;
    cr_assert_eq(owl_store_open(p, NULL, 0, &so, &store, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_metrics_open(store, meta, NULL, &metrics, &err), OWL_OK, "%s", err.msg);
    cr_assert_eq(owl_alarms_open(meta, metrics, &alarms, &err), OWL_OK, "%s", err.msg);
}

static void teardown(void)
{
    owl_alarms_close(alarms);
    owl_metrics_close(metrics);
    owl_store_close(store);
    owl_meta_close(meta);
    test_rm_rf(dir);
}

/* Item i: alarm "a" or "b" (odd i), a StateUpdate every third, summary "s<i>". */
static void add(const char *tenant, int i)
{
    char summary[16];
    owl_error err = {0};
    snprintf(summary, sizeof summary, "s%d", i);
    cr_assert_eq(owl_alarms_add_history(alarms, tenant, i % 2 ? "b" : "a",
                                        i % 3 ? "ConfigurationUpdate" : "StateUpdate",
                                        T0 + i * 1000LL, summary, "{}", &err),
                 OWL_OK, "%s", err.msg);
}

typedef struct page {
    char text[2048]; /* "s3 s2 " */
    int n;
    int stop_after; /* 0: never */
} page;

static int on_item(void *ud, const owl_alarm_history_item *it)
{
    page *p = ud;
    size_t at = strlen(p->text);
    snprintf(p->text + at, sizeof p->text - at, "%s ", it->summary);
    return ++p->n == p->stop_after;
}

/* Every page of q, max items each, concatenated; *pages how many were asked for. */
static void all_pages(owl_alarm_history_query q, size_t max, char *out, size_t cap, int *pages)
{
    char next[OWL_HISTORY_TOKEN] = "", token[OWL_HISTORY_TOKEN] = "";
    owl_error err = {0};
    out[0] = '\0';
    *pages = 0;
    q.max = max;
    do {
        page p = {.n = 0};
        q.token = token;
        cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, &err), OWL_OK, "%s",
                     err.msg);
        cr_assert(p.n <= (int)max);
        cr_assert(p.n == (int)max || !next[0], "a short page is the last");
        strncat(out, p.text, cap - strlen(out) - 1);
        snprintf(token, sizeof token, "%s", next);
        cr_assert(++*pages <= 20, "the pages end");
    } while (token[0]);
}

Test(alarm_history, both_orders_every_page_size, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 7; i++)
        add("t1", i);
    owl_alarm_history_query q = {.tenant = "t1", .start_ms = INT64_MIN, .end_ms = INT64_MAX};
    char got[2048];
    int pages;
    for (size_t max = 1; max <= 8; max++) {
        q.descending = 0;
        all_pages(q, max, got, sizeof got, &pages);
        cr_assert_str_eq(got, "s0 s1 s2 s3 s4 s5 s6 ", "ascending, %zu a page", max);
        cr_assert_eq(pages, (int)((7 + max - 1) / max), "%zu a page: %d pages", max, pages);
        q.descending = 1;
        all_pages(q, max, got, sizeof got, &pages);
        cr_assert_str_eq(got, "s6 s5 s4 s3 s2 s1 s0 ", "descending, %zu a page", max);
    }
    /* a page of exactly the rest offers no further page */
    char next[OWL_HISTORY_TOKEN];
    page p = {.n = 0};
    q.max = 7;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_OK);
    cr_assert(p.n == 7 && next[0] == '\0');
    /* the caller stopping early gets no token */
    p = (page){.stop_after = 2};
    q.max = 5;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_OK);
    cr_assert(p.n == 2 && next[0] == '\0');
}

Test(alarm_history, filters, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 12; i++)
        add("t1", i);
    add("t2", 100);
    owl_alarm_history_query q = {.tenant = "t1", .start_ms = INT64_MIN, .end_ms = INT64_MAX};
    char got[2048];
    int pages;
    q.alarm = "b";
    all_pages(q, 2, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s1 s3 s5 s7 s9 s11 ");
    q.alarm = NULL, q.type = "StateUpdate";
    all_pages(q, 1, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s0 s3 s6 s9 ");
    q.type = NULL, q.start_ms = T0 + 4000, q.end_ms = T0 + 8000; /* [4 s, 8 s) */
    all_pages(q, 3, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s4 s5 s6 s7 ");
    q.descending = 1;
    all_pages(q, 3, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s7 s6 s5 s4 ");
    q.start_ms = INT64_MIN, q.end_ms = INT64_MAX;
    q.tenant = "t2";
    all_pages(q, 3, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s100 ", "tenants apart");
    q.tenant = "t3";
    all_pages(q, 3, got, sizeof got, &pages);
    cr_assert_str_eq(got, "");
}

static int only_a(void *ud, const owl_alarm_history_item *it)
{
    (void)ud;
    return strcmp(it->alarm, "a") == 0;
}

/* Items the keep callback drops do not count towards a page nor end it. */
Test(alarm_history, keep_callback_and_sparse_pages, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 9; i++)
        add("t1", i);
    owl_alarm_history_query q = {.tenant = "t1", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                                 .keep = only_a, .descending = 1};
    char got[2048];
    int pages;
    all_pages(q, 2, got, sizeof got, &pages);
    cr_assert_str_eq(got, "s8 s6 s4 s2 s0 ");
    cr_assert_eq(pages, 3);
}

/* Pages asked for while items arrive: each item that was there is given once; a descending
 * scan does not go back to the new ones, an ascending one reaches them at its end. */
Test(alarm_history, tokens_stay_valid_while_items_arrive, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 6; i++)
        add("t1", i);
    char next[OWL_HISTORY_TOKEN], token[OWL_HISTORY_TOKEN];
    owl_error err = {0};
    for (int desc = 0; desc <= 1; desc++) {
        owl_alarm_history_query q = {.tenant = "t1", .start_ms = INT64_MIN,
                                     .end_ms = INT64_MAX, .descending = desc, .max = 2};
        page all = {.n = 0};
        cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &all, next, &err), OWL_OK);
        int added = 0;
        while (next[0]) {
            snprintf(token, sizeof token, "%s", next);
            add("t1", 20 + desc * 10 + added++); /* a newer item between two pages */
            q.token = token;
            cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &all, next, &err), OWL_OK,
                         "%s", err.msg);
            cr_assert(added < 10);
        }
        if (desc) /* s20-s23 from the ascending round were there; s30 on came later */
            cr_assert_str_eq(all.text, "s23 s22 s21 s20 s5 s4 s3 s2 s1 s0 ");
        else /* it catches up with the items added meanwhile */
            cr_assert_str_eq(all.text, "s0 s1 s2 s3 s4 s5 s20 s21 s22 s23 ");
    }
}

/* Several items in one millisecond keep their order (the sequence in the id). */
Test(alarm_history, same_millisecond, .init = setup, .fini = teardown)
{
    owl_error err = {0};
    for (int i = 0; i < 5; i++) {
        char s[8];
        snprintf(s, sizeof s, "m%d", i);
        cr_assert_eq(owl_alarms_add_history(alarms, "t1", "a", "Action", T0, s, "", &err),
                     OWL_OK);
    }
    owl_alarm_history_query q = {.tenant = "t1", .start_ms = T0, .end_ms = T0 + 1};
    char got[2048];
    int pages;
    all_pages(q, 2, got, sizeof got, &pages);
    cr_assert_str_eq(got, "m0 m1 m2 m3 m4 ");
    q.descending = 1;
    all_pages(q, 1, got, sizeof got, &pages);
    cr_assert_str_eq(got, "m4 m3 m2 m1 m0 ");
}

Test(alarm_history, tokens_not_given_out_are_refused, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 4; i++)
        add("t1", i);
    char next[OWL_HISTORY_TOKEN], good[OWL_HISTORY_TOKEN], bad[OWL_HISTORY_TOKEN + 8];
    owl_error err = {0};
    page p = {.n = 0};
    owl_alarm_history_query q = {.tenant = "t1", .start_ms = INT64_MIN, .end_ms = INT64_MAX,
                                 .descending = 1, .max = 1};
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, good, &err), OWL_OK);
    cr_assert(good[0]);
    q.token = good;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, &err), OWL_OK, "%s",
                 err.msg);
    size_t len = strlen(good);
    const char *garbage[] = {"x", "owlh1d", "s3", "owlh1d00000000000000000000000000000000"};
    for (size_t i = 0; i < OWL_ARRAY_LEN(garbage); i++) {
        q.token = garbage[i];
        err = (owl_error){0};
        cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, &err), OWL_EINVAL, "%s",
                     garbage[i]);
        cr_assert(strstr(err.msg, "NextToken"), "%s", err.msg);
    }
    /* one character of the id altered, the check value altered, a character more */
    snprintf(bad, sizeof bad, "%s", good);
    bad[10] = bad[10] == '0' ? '1' : '0';
    q.token = bad;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    snprintf(bad, sizeof bad, "%s", good);
    bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    snprintf(bad, sizeof bad, "%s0", good);
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    /* given for a descending scan: not for an ascending one, nor to another tenant */
    q.token = good;
    q.descending = 0;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    q.descending = 1, q.tenant = "t2";
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    /* page sizes out of range */
    q.tenant = "t1", q.token = NULL;
    q.max = 0;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
    q.max = OWL_HISTORY_PAGE_MAX + 1;
    cr_assert_eq(owl_alarm_history_page(meta, &q, on_item, &p, next, NULL), OWL_EINVAL);
}

/* test_tail.c — server/tail.c: the live audit tail hub over in-memory connections with
 * detached SSE streams — tenant and action filters, the event's JSON shape, fan-out from
 * other threads, drops on a full stream, and release of subscribers whose connection
 * ended. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "server/http_int.h"
#include "server/tail.h"

static owl_tail *hub;
static owl_http_stream_opts opts;

/* GET /<tenant>[?action] subscribes a stream of that tenant. */
static void handle(void *ud, owl_http_req *req, owl_http_resp *resp)
{
    (void)ud;
    owl_http_stream *st = owl_http_resp_detach_stream(resp, 200, "text/event-stream", &opts);
    cr_assert_not_null(st);
    const char *action = req->query[0] ? req->query : NULL;
    cr_assert_eq(owl_tail_subscribe(hub, st, req->path + 1, action), OWL_OK);
}

static owl_http_callbacks cbs = {handle, NULL, NULL, NULL};
static owl_http_limits lims = OWL_HTTP_DEFAULT_LIMITS;

static owl_http_conn *sub(const char *tenant, const char *action)
{
    owl_http_conn *c = owl_http_conn_mem_new(&lims, &cbs);
    cr_assert_not_null(c);
    char req[256];
    snprintf(req, sizeof req, "GET /%s%s%s HTTP/1.1\r\n\r\n", tenant, action ? "?" : "",
             action ? action : "");
    owl_http_conn_mem_feed(c, req, strlen(req));
    return c;
}

static owl_audit_event event(const char *tenant, const char *action, int status)
{
    owl_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = 1764000000123;
    owl_strlcpy(ev.tenant, tenant, sizeof ev.tenant);
    owl_strlcpy(ev.key_id, "OWLKEY", sizeof ev.key_id);
    owl_strlcpy(ev.source, "127.0.0.1", sizeof ev.source);
    owl_strlcpy(ev.user_agent, "ua \"quoted\"", sizeof ev.user_agent);
    owl_strlcpy(ev.action, action, sizeof ev.action);
    owl_strlcpy(ev.resource, "key/x", sizeof ev.resource);
    ev.status = status;
    owl_strlcpy(ev.request_id, "0b1c2d3e-0000-4000-8000-000000000001", sizeof ev.request_id);
    ev.duration_us = 1500;
    return ev;
}

/* Number of times needle occurs in what c has written. */
static int count(owl_http_conn *c, const char *needle)
{
    owl_http_conn_on_wake(c);
    const owl_buf *o = owl_http_conn_mem_output(c);
    int n = 0;
    for (const char *p = o->data; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void setup(void)
{
    opts = (owl_http_stream_opts){0};
    cr_assert_eq(owl_tail_new(&hub), OWL_OK);
}

static void teardown(void)
{
    owl_tail_free(hub);
}

TestSuite(tail, .init = setup, .fini = teardown);

Test(tail, tenant_and_action_filters_and_shape)
{
    owl_http_conn *a = sub("111111111111", NULL);
    owl_http_conn *b = sub("222222222222", NULL);
    owl_http_conn *a_get = sub("111111111111", "iam:GetKey");
    cr_assert_eq(owl_tail_subscribers(hub), 3);
    owl_audit_event e1 = event("111111111111", "iam:GetKey", 404);
    owl_audit_event e2 = event("111111111111", "iam:CreateKey", 200);
    owl_audit_event e3 = event("", "iam:GetKey", 401); /* unknown key: no tenant */
    owl_tail_publish(hub, &e1);
    owl_tail_publish(hub, &e2);
    owl_tail_publish(hub, &e3);
    owl_tail_publish(NULL, &e1);
    cr_assert_eq(count(a, "event: audit\n"), 2);
    cr_assert_eq(count(b, "event: audit\n"), 0);
    cr_assert_eq(count(a_get, "event: audit\n"), 1);
    cr_assert_eq(count(a_get, "\"action\":\"iam:GetKey\""), 1);
    const char *want =
        "data: {\"event_time\":\"2025-11-24T16:00:00.123Z\","
        "\"event_id\":\"0b1c2d3e-0000-4000-8000-000000000001\",\"tenant\":\"111111111111\","
        "\"key_id\":\"OWLKEY\",\"source_ip\":\"127.0.0.1\",\"user_agent\":\"ua \\\"quoted\\\"\","
        "\"action\":\"iam:GetKey\",\"resource\":\"key/x\",\"status\":404,\"error_code\":\"\","
        "\"duration_ms\":1.500}\n\n";
    cr_assert_eq(count(a_get, want), 1, "%s", owl_http_conn_mem_output(a_get)->data);
    owl_http_conn_mem_free(a);
    owl_http_conn_mem_free(b);
    owl_http_conn_mem_free(a_get);
}

Test(tail, ended_connections_are_released_on_publish)
{
    owl_http_conn *a = sub("111111111111", NULL);
    owl_http_conn *b = sub("222222222222", NULL);
    owl_http_conn_mem_free(a); /* the client left */
    cr_assert_eq(owl_tail_subscribers(hub), 2);
    owl_audit_event e = event("333333333333", "x:Y", 200); /* nobody's tenant */
    owl_tail_publish(hub, &e);
    cr_assert_eq(owl_tail_subscribers(hub), 1, "a non-matching publish also sweeps");
    owl_http_conn_mem_free(b);
    owl_tail_publish(hub, &e);
    cr_assert_eq(owl_tail_subscribers(hub), 0);
}

Test(tail, bad_subscriptions_refused)
{
    owl_http_conn *c = owl_http_conn_mem_new(&lims, &cbs);
    owl_http_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.conn = c;
    owl_http_stream *st = owl_http_resp_detach_stream(&resp, 200, "text/event-stream", NULL);
    cr_assert_not_null(st);
    cr_assert_eq(owl_tail_subscribe(hub, NULL, "1", NULL), OWL_EINVAL);
    cr_assert_eq(owl_tail_subscribe(NULL, st, "1", NULL), OWL_EINVAL);
    cr_assert_eq(owl_tail_subscribe(hub, st, "1111111111112", NULL), OWL_EINVAL);
    char longaction[100];
    memset(longaction, 'a', sizeof longaction - 1);
    longaction[sizeof longaction - 1] = '\0';
    cr_assert_eq(owl_tail_subscribe(hub, st, "1", longaction), OWL_EINVAL);
    cr_assert_eq(owl_tail_subscribers(hub), 0);
    owl_http_stream_release(st); /* refused: the reference stayed with us */
    owl_http_conn_mem_free(c);
    owl_buf_free(&resp.headers);
}

struct pub {
    int n;
    char tenant[13];
};

static void *publisher(void *arg)
{
    struct pub *p = arg;
    for (int i = 0; i < p->n; i++) {
        owl_audit_event e = event(p->tenant, "iam:GetKey", 404);
        owl_tail_publish(hub, &e);
    }
    return NULL;
}

Test(tail, concurrent_publishers_and_a_full_stream)
{
    opts.max_buffer = 8192; /* about 23 events of 350 bytes */
    owl_http_conn *small = sub("111111111111", NULL);
    opts.max_buffer = 4u << 20;
    owl_http_conn *big = sub("111111111111", NULL);
    struct pub p = {.n = 250, .tenant = "111111111111"};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, publisher, &p);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(count(big, "event: audit\n"), 1000);
    int got = count(small, "event: audit\n");
    cr_assert_gt(got, 10);
    cr_assert_lt(got, 30);
    /* the drop notice comes once there is room (the pump above made room) */
    owl_audit_event e = event("111111111111", "iam:GetKey", 404);
    owl_tail_publish(hub, &e);
    char notice[64];
    snprintf(notice, sizeof notice, "event: dropped\ndata: {\"dropped\":%d}\n\n", 1000 - got);
    cr_assert_eq(count(small, notice), 1, "%s", owl_http_conn_mem_output(small)->data);
    cr_assert_eq(count(small, "event: audit\n"), got + 1);
    owl_http_conn_mem_free(small);
    owl_http_conn_mem_free(big);
}

/* frontend.c — the shop's front door (client/examples/README.md): GET /checkout?item=N places
 * an order with orders (POST /orders) and answers 200, or 502 when the order failed. Counts
 * checkouts by outcome (metric shop.checkouts). */
#include <stdio.h>
#include <string.h>

#include "ex_http.h"

static int orders_port;
static owl_metric *checkouts;

static int checkout(const ex_request *rq, char *body, size_t cap)
{
    if (strcmp(rq->method, "GET") != 0 || strncmp(rq->path, "/checkout", 9) != 0) {
        snprintf(body, cap, "no such page\n");
        return 404;
    }
    const char *item = strstr(rq->path, "item=");
    char path[128];
    snprintf(path, sizeof path, "/orders?item=%s", item ? item + 5 : "1");
    int st = ex_call("POST", orders_port, path);
    int ok = st == 200;
    owl_metric_add(owl_metric_series(checkouts, "outcome", ok ? "ok" : "failed", NULL), 1);
    if (!ok)
        owl_log(OWL_LOG_WARN, "checkout failed: orders answered %d", st);
    snprintf(body, cap, ok ? "thank you\n" : "sorry, try again\n");
    return ok ? 200 : 502;
}

int main(void)
{
    orders_port = ex_port("ORDERS_PORT");
    checkouts = owl_counter("shop.checkouts", "{checkout}", "checkouts by outcome");
    return ex_service("frontend", ex_port("FRONTEND_PORT"), checkout);
}

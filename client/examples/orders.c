/* orders.c — places orders (client/examples/README.md): POST /orders?item=N checks stock with
 * inventory (GET /stock?item=N), then charges with payments (POST /charge); 200, or 500 when
 * either failed. Times each order (histogram shop.order.duration, ms). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ex_http.h"

static int inventory_port, payments_port;
static owl_metric *duration;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int place(const ex_request *rq, char *body, size_t cap)
{
    if (strcmp(rq->method, "POST") != 0 || strncmp(rq->path, "/orders", 7) != 0) {
        snprintf(body, cap, "no such resource\n");
        return 404;
    }
    double t0 = now_ms();
    const char *item = strstr(rq->path, "item=");
    char path[128];
    snprintf(path, sizeof path, "/stock?item=%s", item ? item + 5 : "1");
    int st = ex_call("GET", inventory_port, path);
    if (st == 200)
        st = ex_call("POST", payments_port, "/charge");
    owl_metric_record(duration, now_ms() - t0);
    if (st != 200) {
        owl_log(OWL_LOG_ERROR, "order not placed: a call answered %d", st);
        snprintf(body, cap, "order failed\n");
        return 500;
    }
    owl_log(OWL_LOG_INFO, "order placed for item %s", item ? item + 5 : "1");
    snprintf(body, cap, "order placed\n");
    return 200;
}

int main(void)
{
    inventory_port = ex_port("INVENTORY_PORT");
    payments_port = ex_port("PAYMENTS_PORT");
    duration = owl_histogram("shop.order.duration", "ms", "time to place an order", NULL, 0);
    return ex_service("orders", ex_port("ORDERS_PORT"), place);
}

/* inventory.c — stock levels (client/examples/README.md): GET /stock?item=N answers 200 after
 * a slow lookup (INVENTORY_DELAY_MS, default 25 ms): the shop's bottleneck, by design. Keeps
 * the items in stock as a gauge (shop.stock). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex_http.h"

static int delay_ms = 25;
static owl_metric *stock;

static int lookup(const ex_request *rq, char *body, size_t cap)
{
    if (strcmp(rq->method, "GET") != 0 || strncmp(rq->path, "/stock", 6) != 0) {
        snprintf(body, cap, "no such resource\n");
        return 404;
    }
    owl_span *s = owl_span_start("stock lookup", OWL_KIND_INTERNAL, NULL, 0);
    owl_span_set_str(s, "shop.item", strstr(rq->path, "item=") ? strstr(rq->path, "item=") + 5
                                                                 : "1");
    ex_sleep_ms(delay_ms);
    owl_span_end(s);
    owl_metric_set(stock, 1000 - rand() % 100);
    snprintf(body, cap, "in stock\n");
    return 200;
}

int main(void)
{
    const char *d = getenv("INVENTORY_DELAY_MS");
    if (d)
        delay_ms = atoi(d);
    stock = owl_gauge("shop.stock", "{item}", "items in stock");
    return ex_service("inventory", ex_port("INVENTORY_PORT"), lookup);
}

/* hello.c — docs/client.md's and libowl(3)'s example, built outside the tree with only
 * pkg-config by tests/integration/t_client_install.sh. */
#include <owl/owl.h>

int main(void)
{
    owl_config *c = owl_config_new();     /* OWL_* and OTEL_* read */
    owl_config_set(c, "service.name", "checkout");
    owl_init(c);
    owl_config_free(c);

    owl_metric *orders = owl_counter("orders", "{order}", "orders placed");
    owl_span *s = owl_span_start_http(OWL_KIND_SERVER, "POST", "/orders",
                                      NULL, NULL, 0);
    owl_log(OWL_LOG_INFO, "placing order %d", 42); /* s's trace id */
    owl_span *db = owl_span_start("INSERT orders", OWL_KIND_CLIENT, NULL, 0);
    owl_span_set_str(db, "db.system", "postgresql");
    owl_span_end(db);
    owl_metric_add(orders, 1);
    owl_span_set_http(s, "POST", "/orders", 201);
    owl_span_end(s);

    return owl_shutdown(5000) ? 1 : 0;  /* sends what is left */
}

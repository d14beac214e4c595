/* client_logs.c — the instrumented program t_client_logs.sh builds from client/: log records
 * through the exporter to a real owld.
 *   client_logs URL KEY SERVICE PROTOCOL   in a sampled span, an owl_log line and a
 *       structured record (attributes user, attempt, ratio, retry); in an unsampled span (a
 *       parent context that says so), an owl_log line; then owl_flush and owl_shutdown.
 *       Prints "trace_hex span_hex unsampled_trace_hex dropped flush_rc shutdown_rc". */
#include <stdio.h>
#include <string.h>

#include "owl/owl.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: client_logs URL KEY SERVICE PROTOCOL\n");
        return 2;
    }
    owl_config *c = owl_config_new();
    int rc = !c || owl_config_set(c, "endpoint", argv[1]) ||
             owl_config_set(c, "api_key", argv[2]) ||
             owl_config_set(c, "service.name", argv[3]) ||
             owl_config_set(c, "protocol", argv[4]) || owl_config_set(c, "timeout", "5000") ||
             owl_init(c);
    owl_config_free(c);
    if (rc) {
        fprintf(stderr, "owl_init failed\n");
        return 1;
    }
    owl_log(OWL_LOG_INFO, "before any span");

    owl_span *s = owl_span_start("POST /orders", OWL_KIND_SERVER, NULL, OWL_SPAN_ROOT);
    uint8_t tid[16], sid[8], utid[16] = {0x7e, [15] = 0x11}, usid[8] = {0x5a, [7] = 0x22};
    owl_span_ids(s, tid, sid);
    owl_log(OWL_LOG_INFO, "placing order %d", 42);
    owl_log_record *r = owl_log_start(OWL_LOG_WARN);
    owl_log_set_str(r, "user", "ada");
    owl_log_set_int(r, "attempt", 2);
    owl_log_set_double(r, "ratio", 0.25);
    owl_log_set_bool(r, "retry", 1);
    owl_log_emit(r, "payment slow: %d ms", 1500);
    owl_span_end(s);

    owl_context *unsampled = owl_context_new(utid, usid, 0);
    owl_span *u = owl_span_start("GET /health", OWL_KIND_SERVER, unsampled, 0);
    owl_log(OWL_LOG_ERROR, "in an unsampled span");
    owl_span_end(u);
    owl_context_free(unsampled);

    int flush_rc = owl_flush(10000);
    unsigned long long dropped = (unsigned long long)owl_dropped_logs();
    int shutdown_rc = owl_shutdown(5000);
    char th[33], sh[17], uth[33];
    hex(tid, 16, th);
    hex(sid, 8, sh);
    hex(utid, 16, uth);
    printf("%s %s %s %llu %d %d\n", th, sh, uth, dropped, flush_rc, shutdown_rc);
    return 0;
}

/* payments.c — charges cards (client/examples/README.md): POST /charge writes the charge to
 * its database (a CLIENT span a database call would make: db.system postgresql, db.name
 * payments), and fails PAYMENTS_FAIL_SHARE of the charges (default 0.1; exactly that share of
 * each run of charges, not at random) with a PaymentDeclinedError and a 500. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex_http.h"

static double fail_share = 0.1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long charges;

/* The n-th charge fails when the failures owed by n charges (n x share) pass a whole one. */
static int fails(void)
{
    pthread_mutex_lock(&lock);
    unsigned long n = charges++;
    pthread_mutex_unlock(&lock);
    return (unsigned long)((double)(n + 1) * fail_share) > (unsigned long)((double)n * fail_share);
}

static int charge(const ex_request *rq, char *body, size_t cap)
{
    if (strcmp(rq->method, "POST") != 0 || strncmp(rq->path, "/charge", 7) != 0) {
        snprintf(body, cap, "no such resource\n");
        return 404;
    }
    owl_span *db = owl_span_start("INSERT payments.charges", OWL_KIND_CLIENT, NULL, 0);
    owl_span_set_str(db, "db.system", "postgresql");
    owl_span_set_str(db, "db.name", "payments");
    owl_span_set_str(db, "db.operation.name", "INSERT");
    owl_span_set_str(db, "server.address", "db.internal");
    ex_sleep_ms(3);
    owl_span_end(db);
    if (fails()) {
        owl_span_record_exception(owl_current_span(), "PaymentDeclinedError",
                                  "the card issuer declined the charge", NULL);
        owl_log(OWL_LOG_ERROR, "charge declined by the card issuer");
        snprintf(body, cap, "declined\n");
        return 500;
    }
    owl_log(OWL_LOG_INFO, "charge accepted");
    snprintf(body, cap, "charged\n");
    return 200;
}

int main(void)
{
    const char *f = getenv("PAYMENTS_FAIL_SHARE");
    if (f)
        fail_share = atof(f);
    return ex_service("payments", ex_port("PAYMENTS_PORT"), charge);
}

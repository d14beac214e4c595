/* fuzz_client_xray.c — libowl's xray sampler (client/xray_sampler.c) on arbitrary answer
 * bytes: each input is read as a GetSamplingRules page (the rules it holds committed, or the
 * pending list dropped on a refusal) and as a SamplingTargets answer, then decisions, a
 * report and a second page run over whatever was loaded. An answer is taken whole or refused
 * with OWL_ERR_INVAL; nothing crashes, leaks or reads past the input (ASan, UBSan), the
 * quota a target leaves is -1 or in 0..2^31 - 1, and the report is a JSON object or empty.
 * Built from the client's sources alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_quotas(owl__xray *x, const char *name)
{
    int64_t q;
    if (owl__xray_rule_quota(x, name, &q) == 0 && (q < -1 || q > INT32_MAX))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    owl__xray *x = owl__xray_new("svc");
    if (!x)
        return 0;
    char *next = NULL;
    int rc = owl__xray_parse_rules(x, json, size, &next);
    if (rc != 0 && rc != OWL_ERR_INVAL && rc != OWL_ERR_NOMEM)
        abort();
    if (rc != 0 && next)
        abort(); /* a refused page gives no token */
    free(next);
    owl__xray_commit_rules(x, rc == 0, 1800000000);
    int64_t interval;
    double mod;
    rc = owl__xray_apply_targets(x, json, size, &interval, &mod);
    if ((rc != 0 && rc != OWL_ERR_INVAL) || interval < 0 || interval > 300)
        abort();
    static const char *const paths[] = {"/", "/api/x", "", NULL};
    for (int i = 0; i < 4; i++) {
        uint8_t tid[16] = {0};
        tid[8] = (uint8_t)(i * 64);
        owl__sample_req q = {.method = "GET", .path = paths[i], .host = "h"};
        int d = owl__xray_decide(x, &q, tid, 1800000000 + i / 2);
        if (d != 0 && d != 1)
            abort();
    }
    check_quotas(x, "Default");
    owl__cbuf b = {0};
    int docs = owl__xray_report(x, 1800000001, "0123456789abcdef01234567", &b);
    if (docs > 0 && (b.len < 2 || b.p[0] != '{' || b.p[b.len - 1] != '}'))
        abort();
    if (docs == 0 && b.len)
        abort();
    owl__cbuf_free(&b);
    /* a second page over the loaded list: the refresh carries state over by name */
    if (owl__xray_parse_rules(x, json, size, NULL) == 0)
        owl__xray_commit_rules(x, 1, 1800000002);
    else
        owl__xray_commit_rules(x, 0, 1800000002);
    owl__xray_free(x);
    return 0;
}

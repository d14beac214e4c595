/* fuzz_mexpr.c — libFuzzer target for the metric-math parser and evaluator
 * (analytics/mexpr.c), which read GetMetricData's Expression from the network. Beyond crashes,
 * leaks and sanitizer reports it checks the contract: the parser answers OK or EINVAL, a
 * refusal names a position inside the text (or one past it), and whatever parses evaluates
 * against two small series to OK or EINVAL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int64_t ts[] = {0, 60000, 120000};
static double v1[] = {1, 0, -3}, v2[] = {4, 5, 6};
static owl_ts s[] = {{"a", "alpha", 3, ts, v1}, {"b", "beta", 2, ts + 1, v2}};
static owl_ts_list la = {&s[0], 1}, lb = {&s[1], 1};

static int lookup(void *ud, const char *id, const owl_ts_list **out)
{
    (void)ud;
    if (!strcmp(id, "a") || !strcmp(id, "m1"))
        *out = &la;
    else if (!strcmp(id, "b") || !strcmp(id, "m2"))
        *out = &lb;
    else
        return OWL_ENOTFOUND;
    return OWL_OK;
}

static int all(void *ud, const char *filter, owl_ts_list *out)
{
    (void)ud, (void)filter;
    out->s = calloc(2, sizeof *out->s);
    out->n = 0;
    for (int i = 0; out->s && i < 2; i++) {
        owl_ts *t = &out->s[out->n++];
        t->label = strdup(s[i].label);
        t->t = malloc(sizeof ts);
        t->v = malloc(sizeof v2);
        if (!t->label || !t->t || !t->v)
            return OWL_ENOMEM;
        t->n = s[i].n;
        memcpy(t->t, s[i].t, t->n * sizeof *t->t);
        memcpy(t->v, i ? v2 : v1, t->n * sizeof *t->v);
    }
    return out->s ? OWL_OK : OWL_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 4096)
        return 0;
    char *text = malloc(n + 1);
    if (!text)
        return 0;
    memcpy(text, d, n);
    text[n] = '\0';
    owl_mexpr *e = NULL;
    owl_error err = {0};
    size_t pos = 0;
    int rc = owl_mexpr_parse(text, &e, &pos, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_EINVAL && (e || pos == 0 || pos > strlen(text) + 1 + 2048))
        abort();
    if (rc == OWL_OK) {
        owl_mexpr_env env = {.start_ms = 0, .end_ms = 180000, .period_s = 60,
                             .lookup = lookup, .all = all};
        owl_ts_list out;
        int r = owl_mexpr_eval(e, &env, &out, &err);
        if (r != OWL_OK && r != OWL_EINVAL)
            abort();
        if (r == OWL_OK)
            owl_ts_list_free(&out);
        owl_mexpr_free(e);
    }
    free(text);
    return 0;
}

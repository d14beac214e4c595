/* fuzz_propagation.c — libowl's propagation (client/propagation.c) on arbitrary header bytes:
 * the first byte picks the formats, the rest is split at '\n' into traceparent, tracestate,
 * baggage and X-Amzn-Trace-Id. What owl_extract returns, injected and extracted again, is the
 * same context (ids, sampled, tracestate, baggage), but for an undecided sampling sent as a
 * traceparent (W3C has no "undecided": it comes back 0); injecting that second context sends
 * the same headers as the first (X-Ray's then holding the decision). libowl asks only for the
 * four headers. Built from the client's sources alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/owl/owl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"traceparent", "tracestate", "baggage", "X-Amzn-Trace-Id"};
#define NH (sizeof names / sizeof *names)

typedef struct hdrs {
    char *value[NH];
} hdrs;

static int slot(const char *name)
{
    for (size_t i = 0; i < NH; i++)
        if (strcasecmp(names[i], name) == 0)
            return (int)i;
    abort(); /* libowl asked for a header it does not propagate */
}

static const char *get(void *carrier, const char *name)
{
    return ((hdrs *)carrier)->value[slot(name)];
}

static int set(void *carrier, const char *name, const char *value)
{
    hdrs *h = carrier;
    int i = slot(name);
    free(h->value[i]);
    h->value[i] = strdup(value);
    return h->value[i] == NULL;
}

static void clear(hdrs *h)
{
    for (size_t i = 0; i < NH; i++)
        free(h->value[i]);
    memset(h, 0, sizeof *h);
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

static void check_same(const owl_context *a, const owl_context *b, unsigned formats)
{
    uint8_t ta[16], sa[8], tb[16], sb[8];
    int want = owl_context_sampled(a);

    if (owl_context_valid(a) != owl_context_valid(b))
        abort();
    if (owl_context_valid(a)) {
        if (owl_context_ids(a, ta, sa) || owl_context_ids(b, tb, sb) || memcmp(ta, tb, 16) ||
            memcmp(sa, sb, 8))
            abort();
        if (want < 0 && (formats & OWL_PROPAGATE_W3C))
            want = 0;
        if (owl_context_sampled(b) != want)
            abort();
    }
    if (strcmp(owl_context_tracestate(a), owl_context_tracestate(b)) != 0)
        abort();
    if (owl_baggage_count(a) != owl_baggage_count(b))
        abort();
    for (size_t i = 0; i < owl_baggage_count(a); i++) {
        const char *ka, *va, *kb, *vb;
        if (owl_baggage_at(a, i, &ka, &va) || owl_baggage_at(b, i, &kb, &vb) || strcmp(ka, kb) ||
            strcmp(va, vb) || !same_text(owl_baggage_get(a, ka), owl_baggage_get(b, ka)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hdrs in = {0}, out = {0}, again = {0};
    unsigned formats;
    size_t at = 1, n = 0;
    int rc;

    if (size == 0)
        return 0;
    formats = data[0] & OWL_PROPAGATE_ALL;
    while (at <= size && n < NH) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
        char *v = malloc(len + 1);
        if (!v)
            abort();
        memcpy(v, data + at, len);
        v[len] = '\0'; /* a NUL inside ends the header, as it would in a C string */
        in.value[n++] = v;
        at += len + 1;
    }

    owl_context *c = owl_extract(get, &in, formats, &rc);
    if (rc != 0 || (c && !owl_context_valid(c) && owl_baggage_count(c) == 0 &&
                    owl_context_sampled(c) < 0))
        abort();
    if (c) {
        if (owl_context_remote(c) != 1 || owl_inject(c, set, &out, formats) != 0)
            abort();
        owl_context *d = owl_extract(get, &out, formats, &rc);
        if (rc != 0)
            abort();
        if (!d) {
            /* only a context that had nothing to send comes back as nothing */
            if (owl_context_valid(c) || owl_baggage_count(c))
                abort();
        } else {
            check_same(c, d, formats);
            if (owl_inject(d, set, &again, formats) != 0)
                abort();
            /* an undecided sampling came back decided: X-Ray then sends it */
            int decided = owl_context_sampled(c) == owl_context_sampled(d);
            for (size_t i = 0; i < NH; i++)
                if ((decided || i != 3) && !same_text(out.value[i], again.value[i]))
                    abort();
            owl_context *e = owl_context_copy(d);
            if (!e)
                abort();
            check_same(d, e, formats);
            owl_context_free(e);
        }
        owl_context_free(d);
    }
    owl_context_free(c);
    clear(&in);
    clear(&out);
    clear(&again);
    return 0;
}

/* wirebuf.h — protobuf wire bytes written by hand in unit tests (test_otlp_logs.c,
 * test_otlp_traces.c), for field orders and shapes protobuf-c's packer never writes: a wb
 * holds at most 4 KiB, each writer appends one item. Also same_bytes, for comparing the
 * views two decodes give. */
#ifndef OWL_TESTS_WIREBUF_H
#define OWL_TESTS_WIREBUF_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ingest/ingest.h"

typedef struct wb {
    uint8_t b[4096];
    size_t n;
} wb;

static inline void wb_put(wb *w, const void *p, size_t n)
{
    cr_assert_leq(w->n + n, sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void wb_varint(wb *w, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        wb_put(w, &c, 1);
    } while (v);
}

static inline void wb_tag(wb *w, unsigned f, unsigned wt)
{
    wb_varint(w, (uint64_t)f << 3 | wt);
}

static inline void wb_ld(wb *w, unsigned f, const void *p, size_t n)
{
    wb_tag(w, f, 2);
    wb_varint(w, n);
    wb_put(w, p, n);
}

static inline void wb_str(wb *w, unsigned f, const char *s) { wb_ld(w, f, s, strlen(s)); }

static inline void wb_sub(wb *w, unsigned f, const wb *m) { wb_ld(w, f, m->b, m->n); }

static inline void wb_fixed64(wb *w, unsigned f, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    wb_tag(w, f, 1);
    wb_put(w, b, 8);
}

/* KeyValue k = string v, as field f. */
static inline void wb_kv(wb *w, unsigned f, const char *k, const char *v)
{
    wb any = {.n = 0}, kvm = {.n = 0};
    wb_str(&any, 1, v);
    wb_str(&kvm, 1, k);
    wb_sub(&kvm, 2, &any);
    wb_sub(w, f, &kvm);
}

/* Equal bytes; an empty value may have no pointer (memcmp must not be given NULL). */
static inline int same_bytes(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

#endif

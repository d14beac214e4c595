/* log_decoded.c — staging decoded log events and laying them out per (group, stream); the
 * log name rules and the UTF-8 repair the log decoders share. Invariant: every event staged
 * ends in exactly one batch, and every pointer in a finished owl_log_decoded points into
 * its arena. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/utf8.h"
#include "ingest/log_decoded.h"

typedef struct staged_ev {
    owl_log_event ev;
    size_t batch;
    size_t seq; /* order in the request: ties on time keep it */
} staged_ev;

typedef struct pair {
    const char *group, *stream;
    size_t glen, slen;
    uint64_t hash;
    size_t n;
} pair;

struct owl_log_staged {
    staged_ev *ev;
    size_t n, cap;
    pair *pairs;
    size_t npairs, pcap;
    size_t *slots; /* open addressing: pair index + 1, 0 = empty; nslots a power of two */
    size_t nslots;
};

static void staged_free(struct owl_log_staged *st)
{
    if (!st)
        return;
    free(st->ev);
    free(st->pairs);
    free(st->slots);
    free(st);
}

void owl_log_decoded_free(owl_log_decoded *d)
{
    if (!d)
        return;
    staged_free(d->st);
    owl_arena_free(&d->arena);
    memset(d, 0, sizeof *d);
}

int owl_log_decoded_begin(owl_log_decoded *d)
{
    owl_log_decoded_free(d);
    owl_arena_init(&d->arena, 64 * 1024);
    d->st = calloc(1, sizeof *d->st);
    return d->st ? OWL_OK : OWL_ENOMEM;
}

static uint64_t pair_hash(const char *g, size_t gl, const char *s, size_t sl)
{
    uint64_t h = owl_hash64(g, gl, 0x6c6f6773u);
    return owl_hash64(s, sl, h ^ gl);
}

static int grow_slots(struct owl_log_staged *st)
{
    size_t ns = st->nslots ? st->nslots * 2 : 64;
    size_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return OWL_ENOMEM;
    for (size_t i = 0; i < st->npairs; i++) {
        size_t j = (size_t)st->pairs[i].hash & (ns - 1);
        while (slots[j])
            j = (j + 1) & (ns - 1);
        slots[j] = i + 1;
    }
    free(st->slots);
    st->slots = slots;
    st->nslots = ns;
    return OWL_OK;
}

/* The index of (group, stream), added when new; (size_t)-1 when out of memory. */
static size_t pair_of(owl_log_decoded *d, const char *g, size_t gl, const char *s, size_t sl)
{
    struct owl_log_staged *st = d->st;
    uint64_t h = pair_hash(g, gl, s, sl);
    if ((st->npairs + 1) * 2 > st->nslots && grow_slots(st) != OWL_OK)
        return (size_t)-1;
    size_t j = (size_t)h & (st->nslots - 1);
    for (; st->slots[j]; j = (j + 1) & (st->nslots - 1)) {
        const pair *p = &st->pairs[st->slots[j] - 1];
        if (p->hash == h && p->glen == gl && p->slen == sl && memcmp(p->group, g, gl) == 0 &&
            memcmp(p->stream, s, sl) == 0)
            return st->slots[j] - 1;
    }
    if (st->npairs == st->pcap) {
        size_t cap = st->pcap ? st->pcap * 2 : 8;
        pair *np = realloc(st->pairs, cap * sizeof *np);
        if (!np)
            return (size_t)-1;
        st->pairs = np;
        st->pcap = cap;
    }
    char *gc = owl_arena_alloc(&d->arena, gl + sl + 2);
    if (!gc)
        return (size_t)-1;
    memcpy(gc, g, gl);
    gc[gl] = '\0';
    memcpy(gc + gl + 1, s, sl);
    gc[gl + 1 + sl] = '\0';
    st->pairs[st->npairs] = (pair){gc, gc + gl + 1, gl, sl, h, 0};
    st->slots[j] = ++st->npairs;
    return st->npairs - 1;
}

int owl_log_decoded_add(owl_log_decoded *d, const char *group, size_t glen, const char *stream,
                        size_t slen, const owl_log_event *ev)
{
    struct owl_log_staged *st = d->st;
    size_t b = pair_of(d, group, glen, stream, slen);
    if (b == (size_t)-1)
        return OWL_ENOMEM;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        staged_ev *ne = realloc(st->ev, cap * sizeof *ne);
        if (!ne)
            return OWL_ENOMEM;
        st->ev = ne;
        st->cap = cap;
    }
    st->ev[st->n] = (staged_ev){*ev, b, st->n};
    st->n++;
    st->pairs[b].n++;
    return OWL_OK;
}

void owl_log_decoded_reject(owl_log_decoded *d, const char *fmt, ...)
{
    if (d->rejected++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->message, sizeof d->message, fmt, ap);
        va_end(ap);
    }
}

static int by_batch_time(const void *a, const void *b)
{
    const staged_ev *x = a, *y = b;
    if (x->batch != y->batch)
        return x->batch < y->batch ? -1 : 1;
    if (x->ev.time_ms != y->ev.time_ms)
        return x->ev.time_ms < y->ev.time_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int owl_log_decoded_finish(owl_log_decoded *d)
{
    struct owl_log_staged *st = d->st;
    int rc = OWL_OK;
    if (!st)
        return OWL_OK;
    if (st->npairs) {
        d->b = owl_arena_alloc(&d->arena, st->npairs * sizeof *d->b);
        owl_log_event *all = owl_arena_alloc(&d->arena, st->n * sizeof *all);
        if (!d->b || !all) {
            d->b = NULL;
            rc = OWL_ENOMEM;
            goto out;
        }
        size_t k = 1; /* staged in order already (one stream, times rising): no sort */
        while (k < st->n && by_batch_time(&st->ev[k - 1], &st->ev[k]) < 0)
            k++;
        if (k < st->n)
            qsort(st->ev, st->n, sizeof *st->ev, by_batch_time);
        size_t at = 0;
        for (size_t i = 0; i < st->npairs; i++) {
            d->b[i] = (owl_log_batch){st->pairs[i].group, st->pairs[i].stream, all + at,
                                      st->pairs[i].n};
            at += st->pairs[i].n;
        }
        for (size_t i = 0; i < st->n; i++)
            all[i] = st->ev[i].ev;
        d->nb = st->npairs;
        d->events = st->n;
    }
out:
    staged_free(st);
    d->st = NULL;
    return rc;
}

int owl_log_decoded_utf8_ok(const char *s, size_t n)
{
    return owl_utf8_well_formed(s, n);
}

int owl_log_decoded_utf8(const char *s, size_t n, owl_buf *out)
{
    if (owl_utf8_well_formed(s, n)) /* the common case, checked 8 bytes at a time */
        return owl_buf_append(out, s, n) == OWL_OK ? OWL_OK : OWL_ENOMEM;
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the valid bytes not yet appended */
    for (size_t i = 0; i < n;) {
        size_t l = owl_utf8_seq(u + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        if (owl_buf_append(out, s + run, i - run) != OWL_OK ||
            owl_buf_append(out, "\xEF\xBF\xBD", 3) != OWL_OK)
            return OWL_ENOMEM;
        run = ++i;
    }
    return owl_buf_append(out, s + run, n - run) == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

int owl_log_decoded_text(owl_log_decoded *d, const char *s, size_t n, owl_bytes *out)
{
    if (owl_log_decoded_utf8_ok(s, n)) {
        void *p = owl_arena_copy(&d->arena, s, n);
        if (!p)
            return OWL_ENOMEM;
        *out = (owl_bytes){p, n};
        return OWL_OK;
    }
    owl_buf b = OWL_BUF_INIT;
    int rc = owl_log_decoded_utf8(s, n, &b);
    if (rc == OWL_OK) {
        void *p = owl_arena_copy(&d->arena, b.data, b.len);
        if (p)
            *out = (owl_bytes){p, b.len};
        else
            rc = OWL_ENOMEM;
    }
    owl_buf_free(&b);
    return rc;
}

int owl_log_decoded_group_ok(const char *s, size_t n)
{
    if (n < 1 || n > OWL_LOG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '/' || c == '.' || c == '#'))
            return 0;
    }
    return 1;
}

int owl_log_decoded_stream_ok(const char *s, size_t n)
{
    return n >= 1 && n <= OWL_LOG_NAME_MAX && !memchr(s, ':', n) && !memchr(s, '*', n) &&
           !memchr(s, '\0', n) && owl_log_decoded_utf8_ok(s, n);
}

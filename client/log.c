/* log.c — libowl's logs (owl/owl.h "logs", docs/client.md "Logs"): records at a level with a
 * printf-formatted message and attributes, stamped with the thread's current span's ids,
 * handed to the exporter's logs queue (owl__export_log) and, when log.stderr says so, written
 * to stderr as one line. Invariant: the level is read with one relaxed atomic load before
 * anything else, so a record below it costs nothing more; it is LEVEL_OFF (above every
 * level) until owl_init and from owl_shutdown on, as nothing would take the record then.
 * Settings change only there (owl__log_configure, owl__log_reset). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

#define LEVEL_OFF (OWL_LOG_FATAL + 4) /* no record is made */

struct owl_log_record {
    owl__log_record rec; /* first: the handle is the record the exporter frees */
};

static struct {
    atomic_int level;     /* owl_level: records below it are not made */
    atomic_int to_stderr; /* log.stderr */
    pthread_mutex_t lock; /* service */
    char service[256];
} lg = {.level = LEVEL_OFF, .lock = PTHREAD_MUTEX_INITIALIZER};

void owl__log_configure(const owl_config *c, const char *service_name)
{
    pthread_mutex_lock(&lg.lock);
    snprintf(lg.service, sizeof lg.service, "%s", service_name ? service_name : "");
    pthread_mutex_unlock(&lg.lock);
    atomic_store_explicit(&lg.level, (int)owl__config_num(c, "log.level"), memory_order_relaxed);
    atomic_store_explicit(&lg.to_stderr, owl__config_num(c, "log.stderr") == 1,
                          memory_order_relaxed);
}

void owl__log_reset(void)
{
    atomic_store_explicit(&lg.level, LEVEL_OFF, memory_order_relaxed);
    atomic_store_explicit(&lg.to_stderr, 0, memory_order_relaxed);
}

void owl__log_record_free(owl__log_record *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nattrs; i++)
        owl__attr_clear(&r->attrs[i]);
    free(r->attrs);
    free(r->body);
    free(r);
}

static int enabled(owl_level level)
{
    return (int)level >= atomic_load_explicit(&lg.level, memory_order_relaxed);
}

OWL_API owl_log_record *owl_log_start(owl_level level)
{
    if (!enabled(level) || level < OWL_LOG_TRACE || level >= LEVEL_OFF)
        return NULL;
    owl_log_record *r = calloc(1, sizeof *r);
    if (r)
        r->rec.level = level;
    return r;
}

OWL_API void owl_log_set_str(owl_log_record *r, const char *key, const char *value)
{
    if (r && key && value)
        owl__attr_put_str(&r->rec.attrs, &r->rec.nattrs, &r->rec.dropped_attrs, key, value);
}

static owl__attr *slot(owl_log_record *r, const char *key)
{
    return r && key ? owl__attr_slot(&r->rec.attrs, &r->rec.nattrs, &r->rec.dropped_attrs, key)
                    : NULL;
}

OWL_API void owl_log_set_int(owl_log_record *r, const char *key, int64_t value)
{
    owl__attr_int(slot(r, key), value);
}

OWL_API void owl_log_set_double(owl_log_record *r, const char *key, double value)
{
    owl__attr_double(slot(r, key), value);
}

OWL_API void owl_log_set_bool(owl_log_record *r, const char *key, int value)
{
    owl__attr_bool(slot(r, key), value);
}

/* The length of s[0..n) without a UTF-8 sequence left incomplete at its end. */
static size_t utf8_whole(const char *s, size_t n)
{
    size_t i = n;
    while (i && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--; /* back over continuation bytes to their lead byte */
    if (!i)
        return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return want > n - (i - 1) ? i - 1 : n;
}

/* The message formatted, cut at OWL__MAX_BODY bytes on a UTF-8 boundary (a longer message is
 * never held whole: formatted into the cut's size); NULL out of memory or when fmt cannot be
 * formatted. */
static char *format_body(const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    char *b = NULL;
    if (n >= 0) {
        size_t len = (size_t)n < OWL__MAX_BODY ? (size_t)n : OWL__MAX_BODY;
        if ((b = malloc(len + 1))) {
            if ((size_t)n < sizeof small)
                memcpy(b, small, len + 1);
            else
                vsnprintf(b, len + 1, fmt, again);
            if (len < (size_t)n)
                b[utf8_whole(b, len)] = '\0';
        }
    }
    va_end(again);
    return b;
}

const char *owl__level_name(owl_level l)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    int i = ((int)l - 1) / 4;
    return names[i < 0 ? 0 : i > 5 ? 5 : i];
}

/* Appends s[0..n) at *w; what does not fit before *end is cut on a UTF-8 boundary, and the
 * line ends there (*end = *w: nothing more goes in). */
static void put(char **w, char **end, const char *s, size_t n)
{
    size_t room = (size_t)(*end - *w);
    int cut = n > room;
    if (cut)
        n = utf8_whole(s, room);
    memcpy(*w, s, n);
    *w += n;
    if (cut)
        *end = *w;
}

/* d in the fewest digits that read back as d (%.17g writes 0.1 as 0.10000000000000001). */
static void format_double(char v[32], double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(v, 32, "%.*g", prec, d);
        if (strtod(v, NULL) == d)
            break;
    }
}

/* s with its control characters escaped (\n, \r, \t, else \xHH), so a record stays one
 * line whatever its message and values hold; other bytes as given. */
static void put_text(char **w, char **end, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t run = 0;
        while (p[run] >= 0x20 && p[run] != 0x7f)
            run++;
        put(w, end, (const char *)p, run);
        p += run;
        if (!*p)
            break;
        char e[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
        size_t n = 4;
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            e[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            n = 2;
        }
        put(w, end, e, n);
        p++;
    }
}

static void put_hex(char **w, char **end, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char h[32];
    for (size_t i = 0; i < n && i < 16; i++) {
        h[2 * i] = hex[b[i] >> 4];
        h[2 * i + 1] = hex[b[i] & 15];
    }
    put(w, end, h, 2 * (n < 16 ? n : 16));
}

/* One line on stderr, written at once (lines of threads do not interleave):
 * 2026-12-07T21:05:00.123Z INFO [service] trace=<32 hex> span=<16 hex> message key=value ...
 * The ids are left out when the record has none; control characters are escaped (put_text);
 * a longer line than 16 KiB is cut on a UTF-8 boundary. */
static void write_line(const owl__log_record *r)
{
    char line[16384], *w = line, *end = line + sizeof line - 1, t[64];
    time_t sec = (time_t)(r->time_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(t + n, sizeof t - n, ".%03uZ %s [",
                          (unsigned)(r->time_ns / 1000000u % 1000u), owl__level_name(r->level));
    put(&w, &end, t, n);
    pthread_mutex_lock(&lg.lock);
    put(&w, &end, lg.service, strlen(lg.service));
    pthread_mutex_unlock(&lg.lock);
    put(&w, &end, "] ", 2);
    if (!owl__is_zero(r->trace_id, 16)) {
        put(&w, &end, "trace=", 6);
        put_hex(&w, &end, r->trace_id, 16);
        put(&w, &end, " span=", 6);
        put_hex(&w, &end, r->span_id, 8);
        put(&w, &end, " ", 1);
    }
    put_text(&w, &end, r->body);
    for (uint32_t i = 0; i < r->nattrs; i++) {
        const owl__attr *a = &r->attrs[i];
        char v[32];
        const char *vs = v;
        switch (a->type) {
        case OWL__ATTR_STR: vs = a->v.s; break;
        case OWL__ATTR_INT: snprintf(v, sizeof v, "%lld", (long long)a->v.i); break;
        case OWL__ATTR_DOUBLE: format_double(v, a->v.d); break;
        case OWL__ATTR_BOOL: vs = a->v.b ? "true" : "false"; break;
        }
        put(&w, &end, " ", 1);
        put_text(&w, &end, a->key);
        put(&w, &end, "=", 1);
        put_text(&w, &end, vs);
    }
    *w++ = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)(w - line));
    (void)ignored;
}

/* Stamps r (time, the current span's ids, the formatted message) and sends it. */
static void emit(owl_log_record *lr, const char *fmt, va_list ap)
{
    owl__log_record *r = &lr->rec;
    r->time_ns = owl__now_ns();
    owl_span *cur = owl_current_span();
    if (cur && owl_span_ids(cur, r->trace_id, r->span_id) == 0)
        r->sampled = owl_span_sampled(cur);
    if (!(r->body = format_body(fmt ? fmt : "", ap))) {
        owl__log_record_free(r);
        return;
    }
    if (atomic_load_explicit(&lg.to_stderr, memory_order_relaxed))
        write_line(r);
    owl__export_log(r);
}

OWL_API void owl_log_emit(owl_log_record *r, const char *fmt, ...)
{
    if (!r)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(r, fmt, ap);
    va_end(ap);
}

OWL_API void owl_log(owl_level level, const char *fmt, ...)
{
    if (!enabled(level))
        return;
    owl_log_record *r = owl_log_start(level);
    if (!r)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(r, fmt, ap);
    va_end(ap);
}

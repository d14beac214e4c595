/* buf.c — owl_buf: a growable byte buffer kept NUL-terminated. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "utf8.h"

int owl_buf_reserve(owl_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return OWL_OK;
    if (need < b->len)
        return OWL_ENOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return OWL_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return OWL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return OWL_OK;
}

int owl_buf_append(owl_buf *b, const void *p, size_t n)
{
    if (owl_buf_reserve(b, n) != OWL_OK)
        return OWL_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OWL_OK;
}

int owl_buf_puts(owl_buf *b, const char *s)
{
    return owl_buf_append(b, s, strlen(s));
}

int owl_buf_putc(owl_buf *b, char c)
{
    return owl_buf_append(b, &c, 1);
}

int owl_buf_vprintf(owl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OWL_EINVAL;
    if ((size_t)n < sizeof small)
        return owl_buf_append(b, small, (size_t)n);
    if (owl_buf_reserve(b, (size_t)n) != OWL_OK)
        return OWL_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return OWL_OK;
}

int owl_buf_printf(owl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = owl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int owl_buf_put_i64(owl_buf *b, int64_t v)
{
    char t[24];
    size_t i = sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        t[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        t[--i] = '-';
    return owl_buf_append(b, t + i, sizeof t - i);
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but '"' and '\\'. */
static const unsigned char json_plain[256] = {
#define R8(v) v, v, v, v, v, v, v, v
    R8(0), R8(0), R8(0), R8(0),                   /* 0x00-0x1f: control characters */
    1, 1, 0, 1, 1, 1, 1, 1, R8(1), R8(1), R8(1),   /* 0x20-0x3f: '"' at 0x22 */
    R8(1), R8(1), R8(1), 1, 1, 1, 1, 0, 1, 1, 1,   /* 0x40-0x5f: '\\' at 0x5c */
    R8(1), R8(1), R8(1), R8(1),                   /* 0x60-0x7f */
#undef R8
};

int owl_buf_json_str(owl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    if (owl_buf_reserve(b, n + 2) != OWL_OK)
        return OWL_ENOMEM;
    int rc = owl_buf_putc(b, '"');
    size_t i = 0;
    while (rc == OWL_OK && i < n) {
        size_t j = i;
        while (j < n && json_plain[u[j]]) /* a run copied at once (most of a log line) */
            j++;
        if (j > i) {
            rc = owl_buf_append(b, u + i, j - i);
            i = j;
            continue;
        }
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = owl_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *e = NULL;
            switch (c) {
            case '\n': e = "\\n"; break;
            case '\r': e = "\\r"; break;
            case '\t': e = "\\t"; break;
            case '\b': e = "\\b"; break;
            case '\f': e = "\\f"; break;
            }
            if (e) {
                rc = owl_buf_append(b, e, 2);
            } else {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rc = owl_buf_append(b, esc, 6);
            }
            i++;
        } else {
            size_t l = owl_utf8_seq(u + i, n - i);
            if (l == 0) {
                rc = owl_buf_append(b, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                rc = owl_buf_append(b, u + i, l);
                i += l;
            }
        }
    }
    if (rc == OWL_OK)
        rc = owl_buf_putc(b, '"');
    return rc;
}

void owl_buf_consume(owl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

void owl_buf_reset(owl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void owl_buf_free(owl_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *owl_buf_steal(owl_buf *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* buf.h — growable byte buffer (owl_buf), always NUL-terminated when non-empty.
 *
 * Invariant: len < cap whenever data != NULL, and data[len] == '\0', so the
 * contents can be used as a C string when they hold text. */
#ifndef OWL_BUF_H
#define OWL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct owl_buf {
    char *data;
    size_t len;
    size_t cap;
} owl_buf;

#define OWL_BUF_INIT {NULL, 0, 0}

/* owl_buf_reserve — ensures room for extra more bytes (plus the NUL). OWL_ENOMEM on failure,
 * leaving the buffer unchanged. */
int owl_buf_reserve(owl_buf *b, size_t extra);

/* owl_buf_append — appends n bytes. OWL_OK or OWL_ENOMEM (buffer unchanged). */
int owl_buf_append(owl_buf *b, const void *p, size_t n);

/* owl_buf_puts — appends a C string. */
int owl_buf_puts(owl_buf *b, const char *s);

/* owl_buf_putc — appends one byte. */
int owl_buf_putc(owl_buf *b, char c);

/* owl_buf_printf — appends formatted text. OWL_OK or OWL_ENOMEM. */
int owl_buf_printf(owl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int owl_buf_vprintf(owl_buf *b, const char *fmt, va_list ap);

/* owl_buf_put_i64 — appends v in decimal (what printf's %lld gives, without its cost). */
int owl_buf_put_i64(owl_buf *b, int64_t v);

/* owl_buf_json_str — appends s (n bytes) as a JSON string literal with quotes, escaping
 * control characters, quotes and backslashes; invalid UTF-8 bytes become U+FFFD. */
int owl_buf_json_str(owl_buf *b, const char *s, size_t n);

/* owl_buf_consume — drops the first n bytes (n <= len). */
void owl_buf_consume(owl_buf *b, size_t n);

/* owl_buf_reset — len = 0, keeps the allocation. */
void owl_buf_reset(owl_buf *b);

/* owl_buf_free — releases memory; the buffer is then empty and reusable. Accepts NULL. */
void owl_buf_free(owl_buf *b);

/* owl_buf_steal — returns data (caller frees with free()) and empties the buffer.
 * Returns NULL when nothing was ever appended. */
char *owl_buf_steal(owl_buf *b);

#endif

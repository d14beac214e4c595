/* log_decoded.h — building an owl_log_decoded (private to ingest/): the decoders of
 * otlp_logs.c and rawlog.c stage events one by one with the names of their group and
 * stream, and owl_log_decoded_finish lays them out as one time-ordered array per
 * (group, stream) in the arena. Also the name rules and the UTF-8 repair they share. */
#ifndef OWL_INGEST_LOG_DECODED_H
#define OWL_INGEST_LOG_DECODED_H

#include "ingest/ingest.h"

/* owl_log_decoded_begin — prepares d (zeroed, or freed) for a decode. OWL_OK or OWL_ENOMEM. */
int owl_log_decoded_begin(owl_log_decoded *d);

/* owl_log_decoded_add — stages a copy of *ev for (group, stream) (glen/slen bytes, copied
 * into the arena the first time the pair is seen). ev's views must already point into
 * d->arena. OWL_OK or OWL_ENOMEM. */
int owl_log_decoded_add(owl_log_decoded *d, const char *group, size_t glen, const char *stream,
                        size_t slen, const owl_log_event *ev);

/* owl_log_decoded_reject — counts one refused event; the first one's reason (printf-style)
 * becomes d->message. Cannot fail. */
void owl_log_decoded_reject(owl_log_decoded *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* owl_log_decoded_finish — lays the staged events out in d->b (one batch per pair, events
 * sorted by time, stable) and drops the staging. OWL_OK or OWL_ENOMEM. */
int owl_log_decoded_finish(owl_log_decoded *d);

/* owl_log_decoded_text — a copy of s[0..n) in d's arena with every byte that does not
 * start a valid UTF-8 sequence (overlong forms, surrogates and code points past U+10FFFF
 * included) replaced by U+FFFD. OWL_OK (out set) or OWL_ENOMEM. */
int owl_log_decoded_text(owl_log_decoded *d, const char *s, size_t n, owl_bytes *out);

/* owl_log_decoded_utf8 — appends s[0..n) to out repaired as owl_log_decoded_text does.
 * OWL_OK or OWL_ENOMEM. */
int owl_log_decoded_utf8(const char *s, size_t n, owl_buf *out);

/* owl_log_decoded_utf8_ok — 1 when s[0..n) is valid UTF-8 (nothing to repair), else 0. */
int owl_log_decoded_utf8_ok(const char *s, size_t n);

/* owl_log_decoded_group_ok — 1 when s[0..n) is a valid CloudWatch log group name (1 to 512
 * bytes of A-Z a-z 0-9 _ - / . #), else 0. owl_log_decoded_stream_ok — the same for a stream
 * name (1 to 512 bytes of valid UTF-8, no ':', '*' nor NUL). */
int owl_log_decoded_group_ok(const char *s, size_t n);
int owl_log_decoded_stream_ok(const char *s, size_t n);

#define OWL_LOG_NAME_MAX 512

#endif

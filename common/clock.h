/* clock.h — clocks and the time formats owl's APIs use (RFC 3339, epoch ms, AWS basic). */
#ifndef OWL_CLOCK_H
#define OWL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* owl_now_ns — wall clock (CLOCK_REALTIME) in ns since the Unix epoch. */
int64_t owl_now_ns(void);

/* owl_now_ms — wall clock in ms since the Unix epoch. */
int64_t owl_now_ms(void);

/* owl_mono_ns — monotonic clock in ns, for durations and timeouts. */
int64_t owl_mono_ns(void);

/* owl_time_format_rfc3339 — writes "2026-11-21T05:11:36.123Z" (ms precision) into out
 * (at least 25 bytes). Returns the length written. */
size_t owl_time_format_rfc3339(int64_t ms, char *out, size_t outsz);

/* owl_time_parse — parses an RFC 3339 timestamp ("2026-11-21T05:11:36Z", fractions and
 * offsets allowed) or an integer of epoch milliseconds into *ms.
 * Returns OWL_OK or OWL_EINVAL (nothing written) when s is neither. */
int owl_time_parse(const char *s, size_t n, int64_t *ms);

/* owl_time_parse_amz — parses the SigV4 basic format "20261121T051136Z" into epoch seconds.
 * Returns OWL_OK or OWL_EINVAL. */
int owl_time_parse_amz(const char *s, size_t n, int64_t *secs);

/* owl_days_from_civil — days since 1970-01-01 for a proleptic Gregorian date. */
int64_t owl_days_from_civil(int64_t y, unsigned m, unsigned d);

/* owl_civil_from_days — the proleptic Gregorian date of day z (days since 1970-01-01). */
void owl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif

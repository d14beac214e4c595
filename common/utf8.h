/* utf8.h — UTF-8 well-formedness as Unicode 15 table 3-7 defines it: no stray continuation
 * bytes, no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no
 * sequence cut short. owl_utf8_valid also refuses NUL, so that what it accepts is exactly
 * what a BSON string may hold (bson_utf8_validate(s, n, false); tests/unit/test_common.c
 * compares the two on random inputs). */
#ifndef OWL_UTF8_H
#define OWL_UTF8_H

#include <stddef.h>

/* owl_utf8_seq — the length (1 to 4) of the well-formed sequence that starts s (n > 0 bytes
 * readable), 0 when s does not start one. A NUL byte is a sequence of 1. Cannot fail. */
size_t owl_utf8_seq(const unsigned char *s, size_t n);

/* owl_utf8_valid — 1 when s[0..n) is well-formed UTF-8 without a NUL byte, 0 otherwise
 * (s may be NULL when n is 0). Eight ASCII bytes at a time where it can. Cannot fail. */
int owl_utf8_valid(const char *s, size_t n);

/* owl_utf8_well_formed — as owl_utf8_valid, but NUL bytes are allowed (a log message may hold
 * them). Cannot fail. */
int owl_utf8_well_formed(const char *s, size_t n);

#endif

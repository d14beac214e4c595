/* client_int.h — what libowl's files share and do not export (docs/client.md). client/ is
 * self-contained C11 + libc: it includes nothing of the server's folders. Public functions
 * (declared in owl/owl.h) carry OWL_API on their definitions, as the library is built with
 * -fvisibility=hidden; functions shared between client files are owl__-prefixed here. */
#ifndef OWL_CLIENT_INT_H
#define OWL_CLIENT_INT_H

#include "owl/owl.h"

#define OWL_API __attribute__((visibility("default")))

/* ---- text helpers of propagation.c, shared with config.c ---- */

/* owl__is_tchar — 1 when c is an RFC 7230 token character, else 0. */
int owl__is_tchar(int c);

/* owl__is_bag_octet — 1 when c is a W3C baggage-octet (printable ASCII but space, '"', ',',
 * ';', '\\'), which a value holds unencoded; else 0. */
int owl__is_bag_octet(int c);

/* owl__utf8_seq — the length of the valid UTF-8 sequence at s[0..n) (no overlong forms,
 * surrogates or code points past U+10FFFF); 0 when it is not one, or is NUL. n >= 1. */
size_t owl__utf8_seq(const unsigned char *s, size_t n);

/* owl__pct_encoded_len, owl__pct_encode — v with every byte that is not a baggage-octet, and
 * '%', written %XX (uppercase): its length, and writing it at w (no NUL) returning its end. */
size_t owl__pct_encoded_len(const char *v);
char *owl__pct_encode(const char *v, char *w);

#endif

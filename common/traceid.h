/* traceid.h — the one mapping of trace and span ids between their text forms and the bytes
 * every span record holds (docs/otlp.md "Trace ids"): a trace id is 16 bytes, a span id 8,
 * and all zero is no id. Text forms, hex digits of either case read, lower case written:
 *
 *   form            text                          bytes
 *   W3C / OTLP      32 hex                        the 16 bytes in order
 *   Zipkin 128-bit  32 hex                        the same
 *   Zipkin 64-bit   16 hex                        8 zero bytes, then the 8 bytes
 *   X-Ray           1-EEEEEEEE-RRRRRRRRRRRRRRRRRRRRRRRR   bytes 0-3 = E (epoch seconds, big
 *                                                 endian), bytes 4-15 = R
 *   span id         16 hex                        the 8 bytes in order
 *
 * so an X-Ray id and the W3C id of the same trace are one value (X-Ray's OpenTelemetry
 * propagation relies on it). */
#ifndef OWL_COMMON_TRACEID_H
#define OWL_COMMON_TRACEID_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OWL_TRACEID_HEX_SIZE 33  /* 32 hex digits + NUL */
#define OWL_TRACEID_XRAY_SIZE 36 /* "1-" 8 "-" 24 + NUL */
#define OWL_SPANID_HEX_SIZE 17   /* 16 hex digits + NUL */

/* owl_traceid_from_hex — s[0..n): 32 hex digits (W3C, OTLP, Zipkin 128-bit) or 16 (Zipkin
 * 64-bit, left-padded with zero bytes) into out. OWL_EINVAL naming the fault (length, the
 * first non-hex character, all zero); out is then unspecified. */
int owl_traceid_from_hex(const char *s, size_t n, uint8_t out[16], owl_error *err);

/* owl_traceid_from_xray — s[0..n) in X-Ray's form "1-" + 8 hex + "-" + 24 hex into out.
 * OWL_EINVAL naming the fault (version, length, separator, non-hex, all zero). */
int owl_traceid_from_xray(const char *s, size_t n, uint8_t out[16], owl_error *err);

/* owl_traceid_parse — any of the forms above, told apart by shape ("1-" and 35 bytes:
 * X-Ray, else hex). OWL_EINVAL as above. */
int owl_traceid_parse(const char *s, size_t n, uint8_t out[16], owl_error *err);

/* owl_traceid_to_hex — id as 32 lower-case hex digits. Cannot fail. */
void owl_traceid_to_hex(const uint8_t id[16], char out[OWL_TRACEID_HEX_SIZE]);

/* owl_traceid_to_xray — id in X-Ray's form (any 16 bytes have one). Cannot fail. */
void owl_traceid_to_xray(const uint8_t id[16], char out[OWL_TRACEID_XRAY_SIZE]);

/* owl_traceid_span_from_hex — s[0..n): 16 hex digits into a span id. OWL_EINVAL naming the
 * fault (length, non-hex, all zero). */
int owl_traceid_span_from_hex(const char *s, size_t n, uint8_t out[8], owl_error *err);

/* owl_traceid_span_to_hex — a span id as 16 lower-case hex digits. Cannot fail. */
void owl_traceid_span_to_hex(const uint8_t id[8], char out[OWL_SPANID_HEX_SIZE]);

/* owl_traceid_is_zero — 1 when the n bytes at id are all zero (no id), else 0. */
int owl_traceid_is_zero(const uint8_t *id, size_t n);

#endif

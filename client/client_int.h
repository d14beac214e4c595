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

/* ---- configuration (config.c): what span.c reads beyond owl_config_get ---- */

/* The samplers, in owl_config's names (owl__config_sampler). */
enum owl__sampler {
    OWL__SAMPLER_ALWAYS_ON,
    OWL__SAMPLER_ALWAYS_OFF,
    OWL__SAMPLER_TRACEIDRATIO,
    OWL__SAMPLER_PARENTBASED_ALWAYS_ON,
    OWL__SAMPLER_PARENTBASED_ALWAYS_OFF,
    OWL__SAMPLER_PARENTBASED_TRACEIDRATIO,
    OWL__SAMPLER_XRAY
};

/* owl__config_sampler — c's sampler, with *ratio (may be NULL) its sampler.arg as a number in
 * [0, 1] (read without the C library's locale). Cannot fail. */
enum owl__sampler owl__config_sampler(const owl_config *c, double *ratio);

/* owl__config_header_count/at, owl__config_resource_count/at — c's headers and resource
 * attributes in order, values decoded (UTF-8; header values without control characters); the
 * resource never holds service.name (owl_config_get(c, "service.name") is the one to send).
 * The _at functions give entry i's key and value (each pointer may be NULL; they live as
 * owl_config_get's strings do), OWL_ERR_NOTFOUND past the end. */
size_t owl__config_header_count(const owl_config *c);
int owl__config_header_at(const owl_config *c, size_t i, const char **key, const char **value);
size_t owl__config_resource_count(const owl_config *c);
int owl__config_resource_at(const owl_config *c, size_t i, const char **key, const char **value);

/* owl__config_url — the URL a signal ("traces", "logs", "metrics") is sent to: the endpoint
 * with "/v1/<signal>" appended (one '/' between them whether or not the endpoint ends with
 * one), as OTEL_EXPORTER_OTLP_ENDPOINT is read. A new string (free it), NULL when out of
 * memory. */
char *owl__config_url(const owl_config *c, const char *signal);

#endif

/* aws_int.h — private to ingest/: helpers the action layer's codecs share. */
#ifndef OWL_INGEST_AWS_INT_H
#define OWL_INGEST_AWS_INT_H

#include "ingest/ingest.h"

/* owl_aws_form_value — the decoded value of the `name` parameter of a form text, copied
 * into out. 1 present, 0 absent, -1 too long, a bad escape, a NUL, or given more than once. */
int owl_aws_form_value(const char *s, size_t n, const char *name, char *out, size_t outsz);

/* owl_aws_xml_escape — appends s (n bytes) with & < > " ' escaped and control characters
 * other than tab/newline/CR (not allowed in XML 1.0) dropped. */
void owl_aws_xml_escape(owl_buf *b, const char *s, size_t n);

/* owl_aws_rest_bind — builds a REST row's input: URI labels and the row's query parameters
 * as strings, then the JSON body's fields (a field also bound from the URI or query is
 * OWL_EINVAL). Bodies of GET, HEAD and DELETE are not read. */
int owl_aws_rest_bind(const owl_aws_op *op, const owl_aws_request *rq, bson_t *in,
                      owl_error *err);

/* owl_aws_dup_key — whether an object under construction (or complete) holds a field name
 * twice: 1 (*dup points at the name, valid while doc is not appended to), 0 no, or
 * OWL_ENOMEM. Small objects are compared pairwise, larger ones sorted, so a hostile body
 * costs O(n log n). */
int owl_aws_dup_key(const bson_t *doc, const char **dup);

/* owl_aws_fmt_double — the shortest text that reads back as d ("1.5", "1e+300"); integral
 * values keep a ".0" so they stay floating point in JSON. out holds 32 bytes. */
void owl_aws_fmt_double(double d, char out[32]);

/* owl_aws_base64 — appends the base64 (RFC 4648, padded) of p. */
void owl_aws_base64(owl_buf *b, const uint8_t *p, size_t n);

/* owl__json_number — reads the JSON number at s (n bytes) as the JSON decoder does: an integer
 * that fits int64 (is_int, i), else a double (d); the common ones without a library call
 * (integers of up to 18 digits, decimals within Clinger's fast path), others with strtoll /
 * strtod. *used is how far it read. NULL, or what is wrong (*used: where). Shared by the
 * decoder and the direct reading of native metrics bodies, so both read every number alike. */
typedef struct owl__json_num {
    int is_int;
    int64_t i;
    double d;
} owl__json_num;
const char *owl__json_number(const char *s, size_t n, size_t *used, owl__json_num *out);

#endif

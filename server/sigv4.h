/* sigv4.h — AWS Signature Version 4 verification (header form), built exactly as AWS
 * clients build the canonical request so the AWS CLI, boto3 and the SDKs verify.
 *
 * Steps (AWS General Reference, "Create a signed AWS API request"):
 *   canonical request = method \n canonical URI \n canonical query \n canonical headers \n
 *                       signed headers \n hex(sha256(payload))
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz-date \n scope \n hex(sha256(canonical request))
 *   signing key       = HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request"
 *   signature         = hex(hmac(signing key, string to sign)) */
#ifndef OWL_SIGV4_H
#define OWL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define OWL_SIGV4_MAX_SIGNED 64

/* The parsed Authorization header:
 * "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request,
 *  SignedHeaders=content-type;host;x-amz-date, Signature=5d67..." */
typedef struct owl_sigv4_auth {
    char access_key[129];
    char date[9];       /* YYYYMMDD from the credential scope */
    char region[64];
    char service[64];
    char signed_headers[1024];   /* as sent, ';'-separated lowercase names */
    char signature[65];          /* 64 lowercase hex digits */
} owl_sigv4_auth;

/* One request as received; strings need not be NUL-terminated unless said. */
typedef struct owl_sigv4_header {
    const char *name; /* any case */
    const char *value;
} owl_sigv4_header;

typedef struct owl_sigv4_msg {
    const char *method;               /* NUL-terminated */
    const char *path;                 /* raw path from the request line, percent-encoded */
    const char *query;                /* raw query string without '?', "" if none */
    const owl_sigv4_header *headers;  /* every header received (NUL-terminated strings) */
    size_t nheaders;
    const void *body;                 /* the body as received on the wire (before decompression) */
    size_t body_len;
    int64_t max_skew_s;               /* allowed |request time - now|; 0 = AWS's 900 s */
    int allow_unsigned_payload;       /* 1 only behind TLS: UNSIGNED-PAYLOAD and STREAMING-*
                                       * accepted; 0: refused (the body could be swapped) */
} owl_sigv4_msg;

/* owl_sigv4_parse_authorization — parses the header value. OWL_OK, or OWL_EINVAL with a
 * message naming what is missing or malformed (AWS answers IncompleteSignature). */
int owl_sigv4_parse_authorization(const char *value, owl_sigv4_auth *out, owl_error *err);

/* owl_sigv4_canonical_request — builds the canonical request text into out.
 * The payload hash is x-amz-content-sha256 when present, else sha256(body).
 * OWL_EINVAL when a signed header is absent from the message. */
int owl_sigv4_canonical_request(const owl_sigv4_msg *msg, const owl_sigv4_auth *auth,
                                owl_buf *out, owl_error *err);

/* owl_sigv4_string_to_sign — builds the string to sign for a canonical request. */
int owl_sigv4_string_to_sign(const owl_sigv4_auth *auth, const char *amz_date,
                             const char *canonical_request, size_t len, owl_buf *out,
                             owl_error *err);

/* owl_sigv4_sign — hex signature (65 bytes incl. NUL) of string_to_sign under secret. */
int owl_sigv4_sign(const char *secret, const owl_sigv4_auth *auth, const char *string_to_sign,
                   size_t len, char out[65]);

/* owl_sigv4_verify — full check of msg against auth and secret at wall-clock now_s:
 *   OWL_OK, OWL_EINVAL (malformed: no x-amz-date/date, scope date != request date,
 *   unsigned host header, x-amz-content-sha256 neither a hex digest nor, with
 *   msg->allow_unsigned_payload, UNSIGNED-PAYLOAD), OWL_EEXPIRED (request time more than msg->max_skew_s, by
 *   default 15 minutes, from now_s),
 *   OWL_ESIGNATURE (mismatch). err carries an AWS-style message. */
int owl_sigv4_verify(const owl_sigv4_msg *msg, const owl_sigv4_auth *auth, const char *secret,
                     int64_t now_s, owl_error *err);

#endif

/* auth.h — who is calling: Authorization: Bearer KEYID:SECRET or AWS SigV4 (header form).
 * Failures carry the HTTP status and error code the client's protocol expects. */
#ifndef OWL_AUTH_H
#define OWL_AUTH_H

#include "server/router.h"
#include "server/server.h"

typedef struct owl_auth_failure {
    int status;             /* 401 native; 403 (or 400) on AWS protocols */
    const char *code;       /* one code per protocol for every failed credential (unknown
                             * key, wrong secret, bad signature): "InvalidCredentials",
                             * "InvalidClientTokenId", "UnrecognizedClientException" */
    char message[512];
    char claimed_key[OWL_KEY_ID_MAX + 1];  /* for the audit trail */
    char claimed_tenant[OWL_TENANT_LEN + 1];
} owl_auth_failure;

/* owl_auth_request — authenticates req into *p (caller frees with owl_principal_free).
 * OWL_OK, or OWL_EAUTH with *f filled (p untouched). With s->guard set, an exact replay
 * (same SigV4 signature) of a request other than GET/HEAD within the skew window is refused
 * (403 / the protocol's AccessDenied shape, code "RequestReplayed"). */
int owl_auth_request(owl_server *s, const owl_http_req *req, enum owl_proto proto,
                     owl_principal *p, owl_auth_failure *f);

/* The per-server guard: recently seen SigV4 signatures of mutating requests (bounded count,
 * each kept for twice the allowed clock skew, oldest evicted first when full) and failed
 * authentications per source address per minute. Thread-safe. */
typedef struct owl_auth_guard owl_auth_guard;

/* owl_auth_guard_new — a guard refusing more than fail_limit failures per source per
 * minute. OWL_OK or OWL_ENOMEM. */
int owl_auth_guard_new(int64_t fail_limit, owl_auth_guard **out);

/* owl_auth_guard_free — accepts NULL. */
void owl_auth_guard_free(owl_auth_guard *g);

/* owl_auth_guard_limited — seconds until `source` may try again when it made fail_limit
 * failures in the current minute, else 0. Writes nothing. */
int owl_auth_guard_limited(owl_auth_guard *g, const char *source, int64_t now_ms);

/* owl_auth_guard_failed — counts one failed authentication from `source`. */
void owl_auth_guard_failed(owl_auth_guard *g, const char *source, int64_t now_ms);

#endif

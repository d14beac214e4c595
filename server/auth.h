/* auth.h — who is calling: Authorization: Bearer KEYID:SECRET or AWS SigV4 (header form).
 * Failures carry the HTTP status and error code the client's protocol expects. */
#ifndef OWL_AUTH_H
#define OWL_AUTH_H

#include "server/router.h"
#include "server/server.h"

typedef struct owl_auth_failure {
    int status;             /* 401 native; 403 (or 400) on AWS protocols */
    const char *code;       /* "Unauthorized", "SignatureDoesNotMatch", ... */
    char message[512];
    char claimed_key[OWL_KEY_ID_MAX + 1];  /* for the audit trail */
    char claimed_tenant[OWL_TENANT_LEN + 1];
} owl_auth_failure;

/* owl_auth_request — authenticates req into *p (caller frees with owl_principal_free).
 * OWL_OK, or OWL_EAUTH with *f filled (p untouched). */
int owl_auth_request(owl_server *s, const owl_http_req *req, enum owl_proto proto,
                     owl_principal *p, owl_auth_failure *f);

#endif

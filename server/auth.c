/* auth.c — turns the Authorization header into a principal: "Bearer KEYID:SECRET" is checked
 * against the stored secret hash; "AWS4-HMAC-SHA256 ..." is verified with the key's derived
 * secret (keys.h). Failures are classified once and shaped per protocol from one table. */
#include "server/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/keys.h"
#include "server/sigv4.h"

enum failure { F_MISSING, F_MALFORMED, F_UNKNOWN_KEY, F_BAD_SECRET, F_SIGNATURE, F_EXPIRED, F_N };

/* status and code per failure for: native, AWS query, AWS JSON/REST/CBOR. */
static const struct {
    int status[3];
    const char *code[3];
} shapes[F_N] = {
    [F_MISSING] = {{401, 403, 400},
                   {"MissingAuthenticationToken", "MissingAuthenticationToken",
                    "MissingAuthenticationTokenException"}},
    [F_MALFORMED] = {{401, 400, 400},
                     {"IncompleteSignature", "IncompleteSignature", "IncompleteSignatureException"}},
    [F_UNKNOWN_KEY] = {{401, 403, 400},
                       {"UnrecognizedClient", "InvalidClientTokenId", "UnrecognizedClientException"}},
    [F_BAD_SECRET] = {{401, 403, 400},
                      {"InvalidCredentials", "InvalidClientTokenId", "UnrecognizedClientException"}},
    [F_SIGNATURE] = {{401, 403, 400},
                     {"SignatureDoesNotMatch", "SignatureDoesNotMatch", "InvalidSignatureException"}},
    [F_EXPIRED] = {{401, 403, 400},
                   {"SignatureExpired", "SignatureDoesNotMatch", "InvalidSignatureException"}},
};

static int fail(owl_auth_failure *f, enum owl_proto proto, enum failure kind, const char *fmt,
                const char *arg)
{
    int col = proto == OWL_PROTO_NATIVE ? 0 : proto == OWL_PROTO_AWS_QUERY ? 1 : 2;
    f->status = shapes[kind].status[col];
    f->code = shapes[kind].code[col];
    snprintf(f->message, sizeof f->message, fmt, arg);
    return OWL_EAUTH;
}

static int auth_bearer(owl_server *s, const char *cred, enum owl_proto proto, owl_principal *p,
                       owl_auth_failure *f)
{
    const char *colon = strchr(cred, ':');
    if (!colon)
        return fail(f, proto, F_MALFORMED, "%s", "Bearer credentials must be KEYID:SECRET");
    size_t idlen = (size_t)(colon - cred);
    if (idlen == 0 || idlen > OWL_KEY_ID_MAX)
        return fail(f, proto, F_UNKNOWN_KEY, "%s", "the key id is not valid");
    memcpy(f->claimed_key, cred, idlen);
    f->claimed_key[idlen] = '\0';
    char stored[65] = "", given[65];
    owl_principal tmp;
    if (owl_keys_lookup(s, f->claimed_key, &tmp, NULL, stored, NULL) != OWL_OK)
        return fail(f, proto, F_UNKNOWN_KEY, "the key id %s is not known", f->claimed_key);
    snprintf(f->claimed_tenant, sizeof f->claimed_tenant, "%s", tmp.tenant);
    owl_keys_secret_hash(colon + 1, strlen(colon + 1), given);
    if (strlen(stored) != 64 || !owl_ct_equal(stored, given, 64)) {
        owl_principal_free(&tmp);
        return fail(f, proto, F_BAD_SECRET, "the secret for key %s is wrong", f->claimed_key);
    }
    *p = tmp;
    return OWL_OK;
}

static int auth_sigv4(owl_server *s, const owl_http_req *req, const char *value,
                      enum owl_proto proto, owl_principal *p, owl_auth_failure *f)
{
    owl_sigv4_auth a;
    owl_error err = {0};
    if (owl_sigv4_parse_authorization(value, &a, &err) != OWL_OK)
        return fail(f, proto, F_MALFORMED, "%s", err.msg);
    if (strlen(a.access_key) < sizeof f->claimed_key)
        memcpy(f->claimed_key, a.access_key, strlen(a.access_key) + 1);
    char secret[OWL_SECRET_LEN + 1];
    owl_principal tmp;
    if (strlen(a.access_key) > OWL_KEY_ID_MAX ||
        owl_keys_lookup(s, a.access_key, &tmp, secret, NULL, NULL) != OWL_OK)
        return fail(f, proto, F_UNKNOWN_KEY,
                    "The security token included in the request is invalid (unknown key %s).",
                    f->claimed_key);
    snprintf(f->claimed_tenant, sizeof f->claimed_tenant, "%s", tmp.tenant);
    /* every header (the request's own count, not a fixed cap: a header past a cap would be
     * missing from the signature check) */
    size_t nh = req->nheaders;
    owl_sigv4_header *hdrs = malloc((nh ? nh : 1) * sizeof *hdrs);
    if (!hdrs) {
        memset(secret, 0, sizeof secret);
        owl_principal_free(&tmp);
        return fail(f, proto, F_MALFORMED, "%s", "out of memory");
    }
    for (size_t i = 0; i < nh; i++) {
        hdrs[i].name = req->headers[i].name;
        hdrs[i].value = req->headers[i].value;
    }
    owl_sigv4_msg msg = {
        .method = req->method,
        .path = req->path,
        .query = req->query,
        .headers = hdrs,
        .nheaders = nh,
        .body = req->wire_body.len ? req->wire_body.data : req->body.data,
        .body_len = req->wire_body.len ? req->wire_body.len : req->body.len,
        .max_skew_s = s->cfg.sigv4_max_skew_s,
    };
    int rc = owl_sigv4_verify(&msg, &a, secret, owl_now_ms() / 1000, &err);
    memset(secret, 0, sizeof secret);
    free(hdrs);
    if (rc != OWL_OK) {
        owl_principal_free(&tmp);
        enum failure kind = rc == OWL_EEXPIRED ? F_EXPIRED
                            : rc == OWL_ESIGNATURE ? F_SIGNATURE
                                                   : F_MALFORMED;
        if (kind == F_SIGNATURE)
            return fail(f, proto, kind, "%s",
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method.");
        return fail(f, proto, kind, "%s", err.msg);
    }
    tmp.via_sigv4 = 1;
    *p = tmp;
    return OWL_OK;
}

int owl_auth_request(owl_server *s, const owl_http_req *req, enum owl_proto proto,
                     owl_principal *p, owl_auth_failure *f)
{
    memset(f, 0, sizeof *f);
    const char *h = owl_http_req_header(req, "authorization");
    if (!h || !*h)
        return fail(f, proto, F_MISSING, "%s",
                    "Missing Authentication Token: send Authorization: Bearer KEYID:SECRET or "
                    "sign the request with AWS Signature Version 4");
    if (strncasecmp(h, "Bearer ", 7) == 0)
        return auth_bearer(s, h + 7, proto, p, f);
    if (strcasecmp(h, "Bearer") == 0) /* the value arrives trimmed: nothing after the scheme */
        return auth_bearer(s, "", proto, p, f);
    if (strncmp(h, "AWS4-HMAC-SHA256", 16) == 0)
        return auth_sigv4(s, req, h, proto, p, f);
    return fail(f, proto, F_MALFORMED, "%s",
                "unsupported Authorization scheme (use Bearer or AWS4-HMAC-SHA256)");
}

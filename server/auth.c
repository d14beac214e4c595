/* auth.c — turns the Authorization header into a principal: "Bearer KEYID:SECRET" is checked
 * against the stored secret hash; "AWS4-HMAC-SHA256 ..." is verified with the key's derived
 * secret (keys.h). Failures are classified once and shaped per protocol from one table: an
 * unknown key id, a wrong secret and a bad signature share one status, code and message, so
 * a caller cannot probe which key ids exist. The guard (replay cache, failure counts per
 * source) lives here too: both are decided at authentication. */
#include "server/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/keys.h"
#include "server/sigv4.h"

enum failure { F_MISSING, F_MALFORMED, F_CREDENTIALS, F_EXPIRED, F_REPLAY, F_N };

/* the one message for every failed credential (which part was wrong is not told) */
static const char bad_credentials[] =
    "The security token included in the request is invalid: unknown key id, wrong secret or "
    "a signature that does not match.";

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
    [F_CREDENTIALS] = {{401, 403, 400},
                       {"InvalidCredentials", "InvalidClientTokenId", "UnrecognizedClientException"}},
    [F_EXPIRED] = {{401, 403, 400},
                   {"SignatureExpired", "SignatureDoesNotMatch", "InvalidSignatureException"}},
    [F_REPLAY] = {{403, 403, 403}, {"RequestReplayed", "AccessDenied", "AccessDeniedException"}},
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

/* ---- guard ---- */

#define REPLAY_SLOTS 8192 /* signatures remembered at most; a power of two */
#define SOURCE_SLOTS 4096 /* sources counted at most; a power of two */
#define PROBE 16          /* slots looked at per lookup; the oldest of them is evicted */

struct replay_slot {
    char sig[65];
    char request_id[37]; /* the request that used it: verifying it again is no replay */
    int64_t expires_s;   /* 0 = free */
};

struct source_slot {
    char source[64];
    int64_t minute; /* unix minute the count belongs to; 0 = free */
    int64_t count;
};

struct owl_auth_guard {
    pthread_mutex_t mu;
    int64_t fail_limit;
    struct replay_slot replay[REPLAY_SLOTS];
    struct source_slot sources[SOURCE_SLOTS];
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int owl_auth_guard_new(int64_t fail_limit, owl_auth_guard **out)
{
    owl_auth_guard *g = calloc(1, sizeof *g);
    if (!g)
        return OWL_ENOMEM;
    pthread_mutex_init(&g->mu, NULL);
    g->fail_limit = fail_limit > 0 ? fail_limit : 100;
    *out = g;
    return OWL_OK;
}

void owl_auth_guard_free(owl_auth_guard *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* guard_seen — 1 when sig was seen in another request and has not expired; else remembers
 * it for keep_s seconds (evicting the entry nearest to expiry among its probe slots) and
 * returns 0. The same request authenticated twice (the head early, then the whole request)
 * is not a replay. */
static int guard_seen(owl_auth_guard *g, const char *sig, const char *request_id, int64_t now_s,
                      int64_t keep_s)
{
    uint64_t h = fnv1a(sig);
    int seen = 0;
    pthread_mutex_lock(&g->mu);
    struct replay_slot *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        struct replay_slot *sl = &g->replay[(h + i) & (REPLAY_SLOTS - 1)];
        if (sl->expires_s > now_s && strcmp(sl->sig, sig) == 0) {
            seen = strcmp(sl->request_id, request_id) != 0;
            victim = NULL;
            break;
        }
        if (!victim || sl->expires_s < victim->expires_s)
            victim = sl;
    }
    if (victim) {
        owl_strlcpy(victim->sig, sig, sizeof victim->sig);
        owl_strlcpy(victim->request_id, request_id, sizeof victim->request_id);
        victim->expires_s = now_s + keep_s;
    }
    pthread_mutex_unlock(&g->mu);
    return seen;
}

/* source_slot — the slot counting source in minute (made fresh when absent: a free slot, or
 * the one with the oldest minute / smallest count among the probe slots). Under g->mu. */
static struct source_slot *source_slot(owl_auth_guard *g, const char *source, int64_t minute,
                                       int create)
{
    uint64_t h = fnv1a(source);
    struct source_slot *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        struct source_slot *sl = &g->sources[(h + i) & (SOURCE_SLOTS - 1)];
        if (sl->minute && strcmp(sl->source, source) == 0) {
            if (sl->minute != minute) {
                sl->minute = minute;
                sl->count = 0;
            }
            return sl;
        }
        if (!victim || sl->minute < victim->minute ||
            (sl->minute == victim->minute && sl->count < victim->count))
            victim = sl;
    }
    if (!create)
        return NULL;
    owl_strlcpy(victim->source, source, sizeof victim->source);
    victim->minute = minute;
    victim->count = 0;
    return victim;
}

int owl_auth_guard_limited(owl_auth_guard *g, const char *source, int64_t now_ms)
{
    if (!g)
        return 0;
    int64_t minute = now_ms / 60000;
    int wait = 0;
    pthread_mutex_lock(&g->mu);
    struct source_slot *sl = source_slot(g, source, minute, 0);
    if (sl && sl->count >= g->fail_limit)
        wait = (int)((minute + 1) * 60000 - now_ms + 999) / 1000;
    pthread_mutex_unlock(&g->mu);
    return wait;
}

void owl_auth_guard_failed(owl_auth_guard *g, const char *source, int64_t now_ms)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    struct source_slot *sl = source_slot(g, source, now_ms / 60000, 1);
    sl->count++;
    pthread_mutex_unlock(&g->mu);
}

static int auth_bearer(owl_server *s, const char *cred, enum owl_proto proto, owl_principal *p,
                       owl_auth_failure *f)
{
    const char *colon = strchr(cred, ':');
    if (!colon)
        return fail(f, proto, F_MALFORMED, "%s", "Bearer credentials must be KEYID:SECRET");
    size_t idlen = (size_t)(colon - cred);
    if (idlen == 0 || idlen > OWL_KEY_ID_MAX)
        return fail(f, proto, F_CREDENTIALS, "%s", bad_credentials);
    memcpy(f->claimed_key, cred, idlen);
    f->claimed_key[idlen] = '\0';
    char stored[65] = "", given[65];
    owl_principal tmp;
    if (owl_keys_lookup(s, f->claimed_key, &tmp, NULL, stored, NULL) != OWL_OK)
        return fail(f, proto, F_CREDENTIALS, "%s", bad_credentials);
    snprintf(f->claimed_tenant, sizeof f->claimed_tenant, "%s", tmp.tenant);
    owl_keys_secret_hash(colon + 1, strlen(colon + 1), given);
    if (strlen(stored) != 64 || !owl_ct_equal(stored, given, 64)) {
        owl_principal_free(&tmp);
        return fail(f, proto, F_CREDENTIALS, "%s", bad_credentials);
    }
    *p = tmp;
    return OWL_OK;
}

/* 1 when name[0..n) is an AWS operation that only reads, by AWS's naming rule (Get*,
 * Describe*, List*, Filter*, Test*, BatchGet*): the JSON protocols POST every operation, and
 * an SDK polling GetQueryResults twice in a second sends the very same signed request. */
static int read_op(const char *name, size_t n)
{
    static const char *const verbs[] = {"Get", "Describe", "List", "Filter", "Test", "BatchGet"};
    for (size_t i = 0; i < OWL_ARRAY_LEN(verbs); i++) {
        size_t k = strlen(verbs[i]);
        if (n > k && strncmp(name, verbs[i], k) == 0 && name[k] >= 'A' && name[k] <= 'Z')
            return 1;
    }
    return 0;
}

/* X-Ray's REST-JSON reads, which POST to a path of their own (BatchGetTraces,
 * GetTraceSummaries, GetServiceGraph, GetTraceGraph, GetSamplingRules, GetSamplingTargets,
 * GetSamplingStatisticSummaries): `aws xray get-service-graph` run twice in a second sends
 * the very same signed request. */
static int rest_read(const char *path)
{
    static const char *const paths[] = {"/Traces", "/TraceSummaries", "/ServiceGraph",
                                        "/TraceGraph", "/GetSamplingRules", "/SamplingTargets",
                                        "/SamplingStatisticSummaries"};
    size_t n = path ? strcspn(path, "?") : 0;
    for (size_t i = 0; i < OWL_ARRAY_LEN(paths); i++)
        if (n == strlen(paths[i]) && !strncmp(path, paths[i], n))
            return 1;
    return 0;
}

/* The operation an AWS request names, when it names one: X-Amz-Target (JSON 1.0/1.1), the
 * path's "/operation/NAME" (RPC v2 CBOR), X-Ray's read paths (REST-JSON) or the form body's
 * Action= (query). 1 when it is a read (read_op). */
static int aws_read(const owl_http_req *req)
{
    if (rest_read(req->path))
        return 1;
    const char *t = owl_http_req_header(req, "x-amz-target"), *dot;
    if (t && (dot = strrchr(t, '.')) != NULL)
        return read_op(dot + 1, strlen(dot + 1));
    const char *op = req->path ? strstr(req->path, "/operation/") : NULL;
    if (op)
        return read_op(op + 11, strcspn(op + 11, "/?"));
    const char *ct = owl_http_req_header(req, "content-type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return 0;
    const char *b = req->body.data, *end = b ? b + req->body.len : NULL;
    for (const char *p = b; p && p + 7 <= end; p++) {
        if ((p == b || p[-1] == '&') && memcmp(p, "Action=", 7) == 0) {
            const char *v = p + 7, *e = memchr(v, '&', (size_t)(end - v));
            return read_op(v, (size_t)((e ? e : end) - v));
        }
    }
    return 0;
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
        return fail(f, proto, F_CREDENTIALS, "%s", bad_credentials);
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
        .allow_unsigned_payload = s->cfg.trust_tls_proxy,
    };
    int rc = owl_sigv4_verify(&msg, &a, secret, owl_now_ms() / 1000, &err);
    memset(secret, 0, sizeof secret);
    free(hdrs);
    if (rc != OWL_OK) {
        owl_principal_free(&tmp);
        enum failure kind = rc == OWL_EEXPIRED ? F_EXPIRED
                            : rc == OWL_ESIGNATURE ? F_CREDENTIALS
                                                   : F_MALFORMED;
        if (kind == F_CREDENTIALS)
            return fail(f, proto, kind, "%s", bad_credentials);
        return fail(f, proto, kind, "%s", err.msg);
    }
    /* reads may be repeated (idempotent, and clients retry them or poll with them); a second
     * identical write within the skew window is a replay (a captured request sent again) */
    if (s->guard && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
        !aws_read(req) &&
        guard_seen(s->guard, a.signature, req->request_id, owl_now_ms() / 1000,
                   2 * (s->cfg.sigv4_max_skew_s > 0 ? s->cfg.sigv4_max_skew_s : 900))) {
        owl_principal_free(&tmp);
        return fail(f, proto, F_REPLAY, "%s",
                    "this signed request was already received: a request other than GET or "
                    "HEAD is accepted once (sign it again to repeat it)");
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

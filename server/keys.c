/* keys.c — API keys: creation with derived secrets (see keys.h), the admin key bootstrap,
 * the key-management routes and STS GetCallerIdentity. */
#include "server/keys.h"

#include <bson/bson.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/policy.h"

#define NONCE_LEN 16
#define MAX_KEYS_PAGE 1000

int owl_tenant_valid(const char *t)
{
    size_t i = 0;
    for (; t[i]; i++)
        if (t[i] < '0' || t[i] > '9')
            return 0;
    return i == OWL_TENANT_LEN;
}

void owl_keys_secret_hash(const char *secret, size_t n, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)secret, n, d);
    owl_hex(d, sizeof d, out);
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = owl_hex_digit((unsigned char)hex[2 * i]);
        int lo = hi < 0 ? -1 : owl_hex_digit((unsigned char)hex[2 * i + 1]);
        if (lo < 0)
            return OWL_ECORRUPT;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return hex[2 * n] == '\0' ? OWL_OK : OWL_ECORRUPT;
}

/* secret = base62 of two HMAC blocks over (label, key id, nonce, block number). */
static void derive_secret(const owl_server *s, const char *key_id, const unsigned char *nonce,
                          char out[OWL_SECRET_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char msg[128], mac[2][32];
    size_t idlen = strlen(key_id), n = 0;
    memcpy(msg, "owl-key-secret-v1", 17), n = 17;
    memcpy(msg + n, key_id, idlen), n += idlen;
    memcpy(msg + n, nonce, NONCE_LEN), n += NONCE_LEN;
    for (int b = 0; b < 2; b++) {
        msg[n] = (unsigned char)b;
        unsigned int len = 32;
        HMAC(EVP_sha256(), s->master_key, OWL_MASTER_KEY_LEN, msg, n + 1, mac[b], &len);
    }
    for (int i = 0; i < OWL_SECRET_LEN; i++)
        out[i] = alphabet[((unsigned char *)mac)[i] % 62];
    out[OWL_SECRET_LEN] = '\0';
}

static int new_key_id(char out[OWL_KEY_ID_MAX + 1])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char r[17];
    if (owl_random(r, sizeof r) != OWL_OK)
        return OWL_EIO;
    memcpy(out, "OWL", 3);
    for (int i = 0; i < 17; i++)
        out[3 + i] = b32[r[i] & 31];
    out[20] = '\0';
    return OWL_OK;
}

int owl_keys_create(owl_server *s, const char *tenant, const char *const *policy, size_t n,
                    char key_id[OWL_KEY_ID_MAX + 1], char secret[OWL_SECRET_LEN + 1],
                    owl_error *err)
{
    unsigned char nonce[NONCE_LEN];
    char nonce_hex[2 * NONCE_LEN + 1], hash[65], idx[24];
    if (new_key_id(key_id) != OWL_OK || owl_random(nonce, sizeof nonce) != OWL_OK)
        return owl_error_set(err, OWL_EIO, "no randomness available");
    owl_hex(nonce, sizeof nonce, nonce_hex);
    derive_secret(s, key_id, nonce, secret);
    owl_keys_secret_hash(secret, OWL_SECRET_LEN, hash);
    bson_t doc = BSON_INITIALIZER, arr;
    BSON_APPEND_UTF8(&doc, "key_id", key_id);
    BSON_APPEND_UTF8(&doc, "tenant", tenant);
    BSON_APPEND_ARRAY_BEGIN(&doc, "policy", &arr);
    for (size_t i = 0; i < n; i++) {
        snprintf(idx, sizeof idx, "%zu", i);
        bson_append_utf8(&arr, idx, -1, policy[i], -1);
    }
    bson_append_array_end(&doc, &arr);
    BSON_APPEND_INT64(&doc, "created", owl_now_ms());
    BSON_APPEND_UTF8(&doc, "nonce", nonce_hex);
    BSON_APPEND_UTF8(&doc, "secret_sha256", hash);
    int rc = owl_meta_put(s->meta, OWL_KEYS_TENANT, OWL_KEYS_KIND, key_id, &doc, err);
    bson_destroy(&doc);
    return rc;
}

/* Fills p and optional outputs from a stored key document. */
static int key_from_doc(owl_server *s, const bson_t *doc, owl_principal *p, char *secret_out,
                        char *hash_out, owl_error *err)
{
    bson_iter_t it, ai;
    const char *nonce_hex = NULL;
    memset(p, 0, sizeof *p);
    if (!bson_iter_init(&it, doc))
        return owl_error_set(err, OWL_ECORRUPT, "key record unreadable");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "key_id") && BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(p->key_id, sizeof p->key_id, "%s", bson_iter_utf8(&it, NULL));
        } else if (!strcmp(k, "tenant") && BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(p->tenant, sizeof p->tenant, "%s", bson_iter_utf8(&it, NULL));
        } else if (!strcmp(k, "nonce") && BSON_ITER_HOLDS_UTF8(&it)) {
            nonce_hex = bson_iter_utf8(&it, NULL);
        } else if (!strcmp(k, "secret_sha256") && BSON_ITER_HOLDS_UTF8(&it) && hash_out) {
            snprintf(hash_out, 65, "%s", bson_iter_utf8(&it, NULL));
        } else if (!strcmp(k, "policy") && BSON_ITER_HOLDS_ARRAY(&it) &&
                   bson_iter_recurse(&it, &ai)) {
            while (bson_iter_next(&ai) && p->npatterns < OWL_ARRAY_LEN(p->patterns)) {
                if (!BSON_ITER_HOLDS_UTF8(&ai))
                    continue;
                char *pat = strdup(bson_iter_utf8(&ai, NULL));
                if (!pat) {
                    owl_principal_free(p);
                    return owl_error_set(err, OWL_ENOMEM, "out of memory");
                }
                p->patterns[p->npatterns++] = pat;
            }
        }
    }
    if (secret_out) {
        unsigned char nonce[NONCE_LEN];
        if (!nonce_hex || strlen(nonce_hex) != 2 * NONCE_LEN ||
            hex_decode(nonce_hex, nonce, NONCE_LEN) != OWL_OK) {
            owl_principal_free(p);
            return owl_error_set(err, OWL_ECORRUPT, "key record has no valid nonce");
        }
        derive_secret(s, p->key_id, nonce, secret_out);
    }
    return OWL_OK;
}

static int64_t doc_created(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "created") ? bson_iter_as_int64(&it) : 0;
}

/* owl_keys_lookup, also giving the key's creation time (created may be NULL). */
static int lookup(owl_server *s, const char *key_id, owl_principal *p, char *secret_out,
                  char *hash_out, int64_t *created, owl_error *err)
{
    bson_t *doc = NULL;
    if (strlen(key_id) > OWL_KEY_ID_MAX || !*key_id)
        return owl_error_set(err, OWL_ENOTFOUND, "unknown key");
    int rc = owl_meta_get(s->meta, OWL_KEYS_TENANT, OWL_KEYS_KIND, key_id, &doc, err);
    if (rc != OWL_OK)
        return rc;
    rc = key_from_doc(s, doc, p, secret_out, hash_out, err);
    if (rc == OWL_OK && created)
        *created = doc_created(doc);
    bson_destroy(doc);
    return rc;
}

int owl_keys_lookup(owl_server *s, const char *key_id, owl_principal *p, char *secret_out,
                    char *hash_out, owl_error *err)
{
    return lookup(s, key_id, p, secret_out, hash_out, NULL, err);
}

void owl_principal_free(owl_principal *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->npatterns; i++)
        free(p->patterns[i]);
    p->npatterns = 0;
}

int owl_principal_can(const owl_principal *p, const char *action)
{
    return owl_policy_allows((const char *const *)p->patterns, p->npatterns, action);
}

int owl_keys_cross_tenant(owl_server *s, const owl_principal *p)
{
    if (owl_principal_can(p, OWL_POLICY_CROSS_TENANT))
        return 1;
    /* Migration: data directories made before the grant existed hold an admin key with policy
     * ["*"] only; the key the bootstrap record names (the first admin key) keeps its power. */
    bson_t *marker = NULL;
    bson_iter_t it;
    int first_admin = 0;
    if (owl_meta_get(s->meta, OWL_KEYS_TENANT, "bootstrap", "admin", &marker, NULL) != OWL_OK)
        return 0;
    if (bson_iter_init_find(&it, marker, "key_id") && BSON_ITER_HOLDS_UTF8(&it))
        first_admin = p->key_id[0] && strcmp(bson_iter_utf8(&it, NULL), p->key_id) == 0;
    bson_destroy(marker);
    return first_admin;
}

/* ---- bootstrap ---- */

static int load_master_key(owl_server *s, owl_error *err)
{
    char path[4200];
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/master.key", s->cfg.data_dir);
    int rc = owl_read_file(path, 4096, &data, &len, NULL);
    if (rc == OWL_OK) {
        if (len != OWL_MASTER_KEY_LEN)
            rc = owl_error_set(err, OWL_ECORRUPT, "%s must hold %d bytes, it holds %zu", path,
                               OWL_MASTER_KEY_LEN, len);
        else
            memcpy(s->master_key, data, OWL_MASTER_KEY_LEN);
        free(data);
        return rc;
    }
    if (rc != OWL_ENOTFOUND)
        return owl_error_set(err, rc, "cannot read %s", path);
    if (!s->first_start) /* never a new master key for existing keys (owld.c checks first) */
        return owl_error_set(err, OWL_ECORRUPT, "%s is missing; refusing to start", path);
    if (owl_random(s->master_key, OWL_MASTER_KEY_LEN) != OWL_OK)
        return owl_error_set(err, OWL_EIO, "no randomness available");
    return owl_write_file_atomic(path, s->master_key, OWL_MASTER_KEY_LEN, 0600, err);
}

/* Creates path with text unless it exists: written as path.tmp + fsync, then link()ed to
 * path, so an existing file is never replaced (a concurrent creator wins, not us). */
static int create_file_excl(const char *path, const char *text, size_t n, owl_error *err)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return owl_error_set(err, OWL_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int rc = OWL_OK;
    if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0)
        rc = owl_error_set(err, OWL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == OWL_OK && link(tmp, path) != 0 && errno != EEXIST)
        rc = owl_error_set(err, OWL_EIO, "cannot create %s: %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}

/* Writes admin.key and aws-credentials where they are missing; an existing one is left as it
 * is. The secret is re-derived from master.key, so a rewritten file holds the same key. */
static int write_key_files(owl_server *s, const char *key_id, const char *secret, owl_error *err)
{
    char path[4200], text[512];
    snprintf(path, sizeof path, "%s/admin.key", s->cfg.data_dir);
    int n = snprintf(text, sizeof text, "%s:%s\n", key_id, secret);
    int rc = create_file_excl(path, text, (size_t)n, err);
    if (rc != OWL_OK)
        return rc;
    snprintf(path, sizeof path, "%s/aws-credentials", s->cfg.data_dir);
    n = snprintf(text, sizeof text,
                 "# owl admin key (policy \"*\", tenant %s), written by owld\n"
                 "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                 s->admin_tenant, key_id, secret);
    return create_file_excl(path, text, (size_t)n, err);
}

int owl_keys_bootstrap(owl_server *s, owl_error *err)
{
    int rc = load_master_key(s, err);
    if (rc != OWL_OK)
        return rc;
    bson_t *marker = NULL;
    char key_id[OWL_KEY_ID_MAX + 1], secret[OWL_SECRET_LEN + 1];
    rc = owl_meta_get(s->meta, OWL_KEYS_TENANT, "bootstrap", "admin", &marker, NULL);
    if (rc == OWL_OK) {
        bson_iter_t it;
        owl_principal p;
        const char *id = bson_iter_init_find(&it, marker, "key_id") && BSON_ITER_HOLDS_UTF8(&it)
                             ? bson_iter_utf8(&it, NULL)
                             : "";
        snprintf(key_id, sizeof key_id, "%s", id);
        bson_destroy(marker);
        rc = owl_keys_lookup(s, key_id, &p, secret, NULL, NULL);
        if (rc == OWL_OK) {
            snprintf(s->admin_tenant, sizeof s->admin_tenant, "%s", p.tenant);
            owl_principal_free(&p);
            return write_key_files(s, key_id, secret, err);
        }
        /* deleted through the API: start without it, never with a new one */
        owl_warn("the admin key %s was deleted; no new admin key is created", key_id);
        return OWL_OK;
    }
    if (!s->first_start)
        return owl_error_set(err, OWL_ECORRUPT,
                             "the metadata holds no admin key but the data directory is not "
                             "new; refusing to start, nothing was changed");
    /* first start: a fresh tenant and an admin key with policy "*" */
    unsigned char r[OWL_TENANT_LEN];
    if (owl_random(r, sizeof r) != OWL_OK)
        return owl_error_set(err, OWL_EIO, "no randomness available");
    for (int i = 0; i < OWL_TENANT_LEN; i++)
        s->admin_tenant[i] = (char)('0' + r[i] % 10);
    s->admin_tenant[OWL_TENANT_LEN] = '\0';
    const char *all[] = {"*", OWL_POLICY_CROSS_TENANT};
    if ((rc = owl_keys_create(s, s->admin_tenant, all, OWL_ARRAY_LEN(all), key_id, secret,
                              err)) != OWL_OK)
        return rc;
    if ((rc = write_key_files(s, key_id, secret, err)) != OWL_OK)
        return rc;
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "key_id", key_id);
    rc = owl_meta_put(s->meta, OWL_KEYS_TENANT, "bootstrap", "admin", &doc, err);
    bson_destroy(&doc);
    if (rc == OWL_OK)
        owl_info("created the admin key %s for tenant %s", key_id, s->admin_tenant);
    return rc;
}

/* ---- actions (rows of the action layer, ingest/ingest.h) ---- */

/* Appends a key's public fields (key_id, tenant, policy, created) to d. */
static void key_fields(bson_t *d, const owl_principal *p, int64_t created)
{
    bson_t arr;
    char idx[16];
    BSON_APPEND_UTF8(d, "key_id", p->key_id);
    BSON_APPEND_UTF8(d, "tenant", p->tenant);
    BSON_APPEND_ARRAY_BEGIN(d, "policy", &arr);
    for (size_t i = 0; i < p->npatterns; i++) {
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, idx, sizeof idx);
        BSON_APPEND_UTF8(&arr, k, p->patterns[i]);
    }
    bson_append_array_end(d, &arr);
    BSON_APPEND_DATE_TIME(d, "created", created);
}

/* The tenant a keys request acts on: the caller's (asked NULL), or the one asked for, which
 * must be 12 digits (400) and, when not the caller's, needs the cross-tenant grant (403). */
static int target_tenant(owl_aws_ctx *ctx, const char *asked, const char **tenant)
{
    owl_call *call = ctx->ud;
    const owl_principal *p = call->principal;
    if (asked && !owl_tenant_valid(asked))
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "tenant must be 12 digits");
    if (!asked || strcmp(asked, p->tenant) == 0) {
        *tenant = p->tenant;
        return OWL_OK;
    }
    if (!owl_keys_cross_tenant(call->srv, p))
        return owl_aws_fail(ctx, OWL_AWS_ERR_AccessDenied,
                            "key %s may act on its own tenant only (another tenant needs %s)",
                            p->key_id, OWL_POLICY_CROSS_TENANT);
    *tenant = asked;
    return OWL_OK;
}

/* Reads {"tenant": string (optional), "policy": [string, ...]} into asked/policy/n. */
static int create_input(owl_aws_ctx *ctx, const bson_t *in, const char **asked,
                        const char **policy, size_t *n)
{
    owl_error err = {0};
    bson_iter_t it, ai;
    int have_policy = 0;
    if (!bson_iter_init(&it, in))
        goto bad;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "tenant") && BSON_ITER_HOLDS_UTF8(&it)) {
            *asked = bson_iter_utf8(&it, NULL);
        } else if (!strcmp(k, "policy") && BSON_ITER_HOLDS_ARRAY(&it) &&
                   bson_iter_recurse(&it, &ai)) {
            have_policy = 1;
            while (bson_iter_next(&ai)) {
                if (!BSON_ITER_HOLDS_UTF8(&ai) || *n == OWL_POLICY_MAX_PATTERNS)
                    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                        "policy must be an array of at most %d strings",
                                        OWL_POLICY_MAX_PATTERNS);
                policy[*n] = bson_iter_utf8(&ai, NULL);
                if (owl_policy_validate(policy[*n], &err) != OWL_OK)
                    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "%s", err.msg);
                (*n)++;
            }
        } else {
            return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                                "unknown or mistyped field '%s' (expected \"tenant\": string, "
                                "\"policy\": array of strings)", k);
        }
    }
    if (have_policy && *n > 0)
        return OWL_OK;
bad:
    return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter,
                        "expected {\"tenant\": \"<12 digits>\" (optional), \"policy\": "
                        "[\"pattern\", ...]}");
}

static int create_key(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_error err = {0};
    const char *policy[OWL_POLICY_MAX_PATTERNS];
    size_t n = 0;
    const char *asked = NULL, *tenant;
    int rc = create_input(ctx, in, &asked, policy, &n);
    if (rc != OWL_OK)
        return rc;
    if ((rc = target_tenant(ctx, asked, &tenant)) != OWL_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        /* the grant itself is handed out by a holder, which includes the first admin key of
         * a data directory made before the grant existed (owl_keys_cross_tenant) */
        int grant = owl_policy_match(policy[i], OWL_POLICY_CROSS_TENANT);
        if (grant ? !owl_keys_cross_tenant(call->srv, call->principal)
                  : !owl_policy_covers((const char *const *)call->principal->patterns,
                                       call->principal->npatterns, policy[i]))
            return owl_aws_fail(ctx, OWL_AWS_ERR_AccessDenied,
                                "pattern '%s' grants more than key %s has", policy[i],
                                call->principal->key_id);
    }
    char key_id[OWL_KEY_ID_MAX + 1], secret[OWL_SECRET_LEN + 1], idx[16];
    rc = owl_keys_create(call->srv, tenant, policy, n, key_id, secret, &err);
    if (rc != OWL_OK)
        return owl_aws_fail_owl(ctx, rc, err.msg);
    snprintf(call->resource, sizeof call->resource, "key/%s", key_id);
    bson_t arr;
    BSON_APPEND_UTF8(out, "key_id", key_id);
    BSON_APPEND_UTF8(out, "secret", secret);
    BSON_APPEND_UTF8(out, "tenant", tenant);
    BSON_APPEND_ARRAY_BEGIN(out, "policy", &arr);
    for (size_t i = 0; i < n; i++) {
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, idx, sizeof idx);
        BSON_APPEND_UTF8(&arr, k, policy[i]);
    }
    bson_append_array_end(out, &arr);
    memset(secret, 0, sizeof secret);
    return OWL_OK;
}

struct list_ctx {
    owl_server *srv;
    const char *tenant;
    bson_t *keys;
    size_t limit, found;
    int more;
    char last[OWL_KEY_ID_MAX + 1];
};

static int list_one(void *ud, const char *tenant, const char *kind, const char *id,
                    const bson_t *doc)
{
    struct list_ctx *c = ud;
    owl_principal p;
    char idx[16];
    if (key_from_doc(c->srv, doc, &p, NULL, NULL, NULL) != OWL_OK)
        return 0;
    if (strcmp(p.tenant, c->tenant) == 0) {
        if (c->found == c->limit) {
            c->more = 1;
            owl_principal_free(&p);
            return 1;
        }
        const char *k;
        bson_t d;
        bson_uint32_to_string((uint32_t)c->found++, &k, idx, sizeof idx);
        BSON_APPEND_DOCUMENT_BEGIN(c->keys, k, &d);
        key_fields(&d, &p, doc_created(doc));
        bson_append_document_end(c->keys, &d);
        snprintf(c->last, sizeof c->last, "%s", id);
    }
    owl_principal_free(&p);
    return 0;
}

/* An optional string field of at most max bytes: OWL_OK (*out NULL when absent) or the
 * ctx fails ("malformed query parameter"). */
static int short_str(owl_aws_ctx *ctx, const bson_t *in, const char *name, size_t max,
                     const char **out)
{
    size_t len;
    *out = NULL;
    int rc = owl_aws_get_str(NULL, in, name, out, &len);
    if (rc == OWL_ENOTFOUND)
        return OWL_OK;
    if (rc != OWL_OK || len > max) {
        *out = NULL;
        return owl_aws_fail(ctx, OWL_AWS_ERR_InvalidParameter, "malformed query parameter");
    }
    return OWL_OK;
}

static int list_keys(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const char *asked, *token, *tenant;
    size_t limit;
    if (short_str(ctx, in, "tenant", 63, &asked) != OWL_OK ||
        short_str(ctx, in, "next_token", 63, &token) != OWL_OK)
        return OWL_EINVAL;
    int rc = target_tenant(ctx, asked, &tenant);
    if (rc != OWL_OK)
        return rc;
    if ((rc = owl_aws_page_limit(ctx, in, 100, MAX_KEYS_PAGE, &limit)) != OWL_OK)
        return rc;
    bson_t keys;
    BSON_APPEND_ARRAY_BEGIN(out, "keys", &keys);
    struct list_ctx c = {call->srv, tenant, &keys, limit, 0, 0, ""};
    owl_meta_list(call->srv->meta, OWL_KEYS_TENANT, OWL_KEYS_KIND,
                  token && *token ? token : NULL, 0, list_one, &c, NULL);
    bson_append_array_end(out, &keys);
    if (c.more)
        BSON_APPEND_UTF8(out, "next_token", c.last);
    snprintf(call->resource, sizeof call->resource, "tenant/%s", tenant);
    return OWL_OK;
}

/* Loads the key named in the path if the caller may see it (same tenant, or the cross-tenant
 * grant); another tenant's key is "not found" so that its existence is not revealed. */
static int load_visible_key(owl_aws_ctx *ctx, const bson_t *in, owl_principal *p,
                            int64_t *created)
{
    owl_call *call = ctx->ud;
    const char *id = "";
    owl_aws_get_str(NULL, in, "id", &id, NULL);
    snprintf(call->resource, sizeof call->resource, "key/%s", id);
    int rc = lookup(call->srv, id, p, NULL, NULL, created, NULL);
    if (rc == OWL_OK && strcmp(p->tenant, call->principal->tenant) != 0 &&
        !owl_keys_cross_tenant(call->srv, call->principal)) {
        owl_principal_free(p);
        rc = OWL_ENOTFOUND;
    }
    if (rc != OWL_OK)
        return owl_aws_fail(ctx, OWL_AWS_ERR_ResourceNotFound, "no key %s", id);
    return OWL_OK;
}

static int get_key(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_principal p;
    int64_t created;
    int rc = load_visible_key(ctx, in, &p, &created);
    if (rc != OWL_OK)
        return rc;
    key_fields(out, &p, created);
    owl_principal_free(&p);
    return OWL_OK;
}

static int delete_key(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    owl_principal p;
    int64_t created;
    owl_error err = {0};
    int rc = load_visible_key(ctx, in, &p, &created);
    if (rc != OWL_OK)
        return rc;
    rc = owl_meta_delete(call->srv->meta, OWL_KEYS_TENANT, OWL_KEYS_KIND, p.key_id, &err);
    if (rc != OWL_OK) {
        owl_aws_fail_owl(ctx, rc, err.msg);
    } else {
        BSON_APPEND_UTF8(out, "key_id", p.key_id);
        BSON_APPEND_BOOL(out, "deleted", true);
    }
    owl_principal_free(&p);
    return rc;
}

static int get_caller_identity(owl_aws_ctx *ctx, const bson_t *in, bson_t *out)
{
    owl_call *call = ctx->ud;
    const owl_principal *p = call->principal;
    char arn[128];
    snprintf(call->resource, sizeof call->resource, "key/%s", p->key_id);
    snprintf(arn, sizeof arn, "arn:owl:iam::%s:key/%s", p->tenant, p->key_id);
    BSON_APPEND_UTF8(out, "Arn", arn);
    BSON_APPEND_UTF8(out, "UserId", p->key_id);
    BSON_APPEND_UTF8(out, "Account", p->tenant);
    return OWL_OK;
}

/* owl's native key API: REST rows with owl's JSON error shape. */
static const owl_aws_op key_ops[] = {
    {.name = "CreateKey", .action = "iam:CreateKey", .fn = create_key, .method = "POST",
     .uri = "/api/v1/keys"},
    {.name = "ListKeys", .action = "iam:ListKeys", .fn = list_keys, .method = "GET",
     .uri = "/api/v1/keys", .query_params = (const char *const[]){"tenant", "limit",
                                                                  "next_token", NULL}},
    {.name = "GetKey", .action = "iam:GetKey", .fn = get_key, .method = "GET",
     .uri = "/api/v1/keys/{id}"},
    {.name = "DeleteKey", .action = "iam:DeleteKey", .fn = delete_key, .method = "DELETE",
     .uri = "/api/v1/keys/{id}"},
};

static const owl_aws_service keys_service = {
    .name = "owl",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_NATIVE),
    .ops = key_ops,
    .nops = OWL_ARRAY_LEN(key_ops),
};

/* AWS STS, as the AWS CLI and SDKs (botocore: protocol "query") call it. */
static const owl_aws_op sts_ops[] = {
    {.name = "GetCallerIdentity", .action = "sts:GetCallerIdentity", .fn = get_caller_identity},
};

static const owl_aws_service sts_service = {
    .name = "sts",
    .signing_name = "sts",
    .protocols = OWL_AWS_PROTO_BIT(OWL_AWS_QUERY),
    .query_version = "2011-06-15",
    .xml_ns = "https://sts.amazonaws.com/doc/2011-06-15/",
    .ops = sts_ops,
    .nops = OWL_ARRAY_LEN(sts_ops),
};

static const owl_aws_service *const key_services[] = {&keys_service, &sts_service};

const owl_route_table owl_keys_routes = {NULL, 0, key_services, OWL_ARRAY_LEN(key_services)};

/* keys.h — API keys: ids, secrets, policies, the admin key written at first start.
 *
 * A key is stored in the metadata store under tenant "system", kind "key", id = key id, as
 * {key_id, tenant, policy: [...], created (ms), nonce (hex), secret_sha256 (hex)}.
 * Only a hash of the secret is stored. SigV4 is a symmetric scheme (the verifier must hold
 * the secret, as AWS does), so a secret is not random but derived:
 *   secret = base62(HMAC-SHA256(master key, "owl-key-secret-v1" || key id || nonce))[0..40)
 * with the 32-byte master key in DIR/master.key (mode 0600). The journal alone reveals no
 * secret; the master key plus the journal does, so guard master.key as a KMS key. */
#ifndef OWL_KEYS_H
#define OWL_KEYS_H

#include <stddef.h>

#include "server/server.h"

#define OWL_SECRET_LEN 40
#define OWL_KEYS_TENANT "system"
#define OWL_KEYS_KIND "key"

/* owl_keys_bootstrap — loads DIR/master.key; only when s->first_start (set by owld.c from the
 * data directory, docs/operations.md) creates it and the admin key (policy "*", a fresh
 * 12-digit tenant) and writes DIR/admin.key ("KEYID:SECRET\n") and DIR/aws-credentials
 * ([default] profile), both mode 0600. Otherwise a missing master.key or admin record is
 * OWL_ECORRUPT, and the two files are written (with the same, re-derived key) only where
 * missing: an existing file is never replaced. Sets s->admin_tenant. */
int owl_keys_bootstrap(owl_server *s, owl_error *err);

/* owl_keys_lookup — loads key_id into *p (tenant, policy) and, when secret_out is given,
 * the key's derived secret (OWL_SECRET_LEN+1 bytes) and when hash_out is given the stored
 * secret hash (65 bytes). OWL_ENOTFOUND for an unknown key. */
int owl_keys_lookup(owl_server *s, const char *key_id, owl_principal *p, char *secret_out,
                    char *hash_out, owl_error *err);

/* owl_keys_secret_hash — hex sha256 of secret into out (65 bytes). */
void owl_keys_secret_hash(const char *secret, size_t n, char out[65]);

/* owl_keys_create — creates a key for tenant with the given policy; writes its id and
 * secret. Durable when it returns OWL_OK. */
int owl_keys_create(owl_server *s, const char *tenant, const char *const *policy, size_t n,
                    char key_id[OWL_KEY_ID_MAX + 1], char secret[OWL_SECRET_LEN + 1],
                    owl_error *err);

/* owl_keys_cross_tenant — 1 when p may act on tenants other than its own: its policy holds
 * the literal OWL_POLICY_CROSS_TENANT (server/policy.h), or p is the first admin key (the
 * one the bootstrap record names; data directories made before the grant existed gave it
 * policy ["*"] only). Every route that can name a tenant or another tenant's key asks this. */
int owl_keys_cross_tenant(owl_server *s, const owl_principal *p);

/* owl_tenant_valid — 1 when t is exactly 12 ASCII digits. */
int owl_tenant_valid(const char *t);

#endif

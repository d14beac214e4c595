/* sampling.c — the tenants' X-Ray sampling rules, their records in the metadata store and the
 * reservoir shares (sampling.h; the record format is there).
 * Invariants: each tenant's rules are sorted by (priority, name) with Default, the only one of
 * priority 10000, last; a change is in memory only once its record is durable, and changes
 * run one at a time (write_mu), so what a writer checked still holds when it applies; a grant
 * never takes a rule's quotas in force above its ReservoirSize. `mu` guards the tenants,
 * rules, shares and statistics, never across a store write. */
#include "server/sampling.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define RECORD_VERSION 1
#define TENANT_MAX 255       /* bytes of a tenant id: the metadata store's limit */
#define RESERVOIR_MAX 2147483647LL

/* ---- the members of a rule, one table for reading, writing and checking ---- */

enum kind {
    K_TEXT,  /* char[]: at most `chars` characters, at least `min` */
    K_INT,   /* int */
    K_I64,   /* int64_t */
    K_RATE,  /* double */
    K_ATTRS, /* attrs[] and nattrs */
    K_BOOST, /* has_boost, boost_max_rate, boost_cooldown_min */
};

static const struct member {
    const char *name;
    unsigned bit;
    enum kind kind;
    size_t off, size;
    size_t min, chars;
} members[] = {
#define M(n, b, k, f, lo, hi) {n, b, k, offsetof(owl_sampling_rule, f), \
                               sizeof(((owl_sampling_rule *)0)->f), lo, hi}
    M("RuleName", OWL_SAMPLING_F_NAME, K_TEXT, name, 1, 32),
    M("ResourceARN", OWL_SAMPLING_F_RESOURCE, K_TEXT, resource_arn, 0, 500),
    M("Priority", OWL_SAMPLING_F_PRIORITY, K_INT, priority, 0, 0),
    M("FixedRate", OWL_SAMPLING_F_RATE, K_RATE, fixed_rate, 0, 0),
    M("ReservoirSize", OWL_SAMPLING_F_RESERVOIR, K_I64, reservoir, 0, 0),
    M("ServiceName", OWL_SAMPLING_F_SERVICE_NAME, K_TEXT, service_name, 0, 64),
    M("ServiceType", OWL_SAMPLING_F_SERVICE_TYPE, K_TEXT, service_type, 0, 64),
    M("Host", OWL_SAMPLING_F_HOST, K_TEXT, host, 0, 64),
    M("HTTPMethod", OWL_SAMPLING_F_METHOD, K_TEXT, http_method, 0, 10),
    M("URLPath", OWL_SAMPLING_F_PATH, K_TEXT, url_path, 0, 128),
    M("Version", OWL_SAMPLING_F_VERSION, K_INT, version, 0, 0),
    M("Attributes", OWL_SAMPLING_F_ATTRS, K_ATTRS, attrs, 0, 0),
    M("SamplingRateBoost", OWL_SAMPLING_F_BOOST, K_BOOST, has_boost, 0, 0),
#undef M
};

/* The match fields: a rule's pattern and the request's value at the same place. */
static const struct {
    size_t rule_off, req_off;
} match_fields[] = {
    {offsetof(owl_sampling_rule, service_name), offsetof(owl_sampling_request, service_name)},
    {offsetof(owl_sampling_rule, service_type), offsetof(owl_sampling_request, service_type)},
    {offsetof(owl_sampling_rule, host), offsetof(owl_sampling_request, host)},
    {offsetof(owl_sampling_rule, http_method), offsetof(owl_sampling_request, http_method)},
    {offsetof(owl_sampling_rule, url_path), offsetof(owl_sampling_request, url_path)},
    {offsetof(owl_sampling_rule, resource_arn), offsetof(owl_sampling_request, resource_arn)},
};

#define AT(r, off) ((char *)(r) + (off))
#define CAT(r, off) ((const char *)(r) + (off))

void owl_sampling_default_rule(owl_sampling_rule *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->name, OWL_SAMPLING_DEFAULT);
    r->priority = OWL_SAMPLING_DEFAULT_PRIORITY;
    r->fixed_rate = 0.05;
    r->reservoir = 1;
    r->version = 1;
    for (size_t i = 0; i < OWL_ARRAY_LEN(match_fields); i++)
        strcpy(AT(r, match_fields[i].rule_off), "*");
}

/* Characters of s (n bytes of UTF-8), or -1 when s is not UTF-8 (a NUL included). */
static long chars_of(const char *s, size_t n)
{
    if (!owl_utf8_valid(s, n))
        return -1;
    long c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* A text member of `size` bytes holding min..max characters of UTF-8. */
static int text_ok(const char *v, size_t size, size_t min, size_t max)
{
    size_t n = strnlen(v, size);
    long c = n < size ? chars_of(v, n) : -1;
    return c >= (long)min && c <= (long)max;
}

static int check_attrs(const owl_sampling_rule *r, owl_error *err)
{
    if (r->nattrs > OWL_SAMPLING_ATTRS_MAX)
        return owl_error_set(err, OWL_EINVAL, "Attributes: at most %d", OWL_SAMPLING_ATTRS_MAX);
    for (size_t i = 0; i < r->nattrs; i++) {
        const owl_sampling_attr *a = &r->attrs[i];
        if (!text_ok(a->key, sizeof a->key, 1, 32) || !text_ok(a->value, sizeof a->value, 1, 32))
            return owl_error_set(err, OWL_EINVAL, "Attributes: keys and values are 1 to 32 "
                                                  "characters");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->attrs[j].key, a->key))
                return owl_error_set(err, OWL_EINVAL, "Attributes: %s given twice", a->key);
    }
    return OWL_OK;
}

int owl_sampling_rule_check(const owl_sampling_rule *r, owl_error *err)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(members); i++) {
        const struct member *m = &members[i];
        if (m->kind == K_TEXT && !text_ok(CAT(r, m->off), m->size, m->min, m->chars))
            return owl_error_set(err, OWL_EINVAL, "%s: %zu to %zu characters of UTF-8 are "
                                                  "required", m->name, m->min, m->chars);
    }
    int dflt = !strcmp(r->name, OWL_SAMPLING_DEFAULT);
    if (dflt && r->priority != OWL_SAMPLING_DEFAULT_PRIORITY)
        return owl_error_set(err, OWL_EINVAL, "Priority: the Default rule's is %d",
                             OWL_SAMPLING_DEFAULT_PRIORITY);
    if (!dflt && (r->priority < 1 || r->priority > 9999))
        return owl_error_set(err, OWL_EINVAL, "Priority: 1 to 9999 is required");
    if (!(r->fixed_rate >= 0 && r->fixed_rate <= 1))
        return owl_error_set(err, OWL_EINVAL, "FixedRate: 0 to 1 is required");
    if (r->reservoir < 0 || r->reservoir > RESERVOIR_MAX)
        return owl_error_set(err, OWL_EINVAL, "ReservoirSize: 0 to %lld is required",
                             RESERVOIR_MAX);
    if (r->version != 1)
        return owl_error_set(err, OWL_EINVAL, "Version: 1 is required (the only rule format)");
    if (r->has_boost && !(r->boost_max_rate >= 0 && r->boost_max_rate <= 1))
        return owl_error_set(err, OWL_EINVAL, "SamplingRateBoost.MaxRate: 0 to 1 is required");
    if (r->has_boost && r->boost_cooldown_min < 0)
        return owl_error_set(err, OWL_EINVAL, "SamplingRateBoost.CooldownWindowMinutes: 0 or "
                                              "more is required");
    for (size_t i = 0; dflt && i < OWL_ARRAY_LEN(match_fields); i++)
        if (strcmp(CAT(r, match_fields[i].rule_off), "*"))
            return owl_error_set(err, OWL_EINVAL, "the Default rule matches everything: its "
                                                  "match fields are \"*\"");
    if (dflt && r->nattrs)
        return owl_error_set(err, OWL_EINVAL, "the Default rule has no Attributes");
    return check_attrs(r, err);
}

/* ---- reading and writing the members ---- */

/* A string member into dst (size bytes), refused when longer than chars characters. */
static int read_text(const bson_iter_t *it, const char *what, char *dst, size_t size,
                     size_t chars, owl_error *err)
{
    uint32_t n;
    if (!BSON_ITER_HOLDS_UTF8(it))
        return owl_error_set(err, OWL_EINVAL, "%s: a string is required", what);
    const char *v = bson_iter_utf8(it, &n);
    long c = chars_of(v, n);
    if (c < 0 || (size_t)c > chars || n >= size)
        return owl_error_set(err, OWL_EINVAL, "%s: at most %zu characters of UTF-8", what,
                             chars);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return OWL_OK;
}

/* An integral member (a JSON integer) into *out. */
static int read_int(const bson_iter_t *it, const char *what, int64_t *out, owl_error *err)
{
    if (!BSON_ITER_HOLDS_INT32(it) && !BSON_ITER_HOLDS_INT64(it))
        return owl_error_set(err, OWL_EINVAL, "%s: an integer is required", what);
    *out = bson_iter_as_int64(it);
    return OWL_OK;
}

static int read_number(const bson_iter_t *it, const char *what, double *out, owl_error *err)
{
    if (!BSON_ITER_HOLDS_NUMBER(it))
        return owl_error_set(err, OWL_EINVAL, "%s: a number is required", what);
    *out = bson_iter_as_double(it);
    return OWL_OK;
}

static int read_attrs(const bson_iter_t *it, owl_sampling_rule *r, owl_error *err)
{
    bson_iter_t a;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &a))
        return owl_error_set(err, OWL_EINVAL, "Attributes: a map of strings is required");
    r->nattrs = 0;
    while (bson_iter_next(&a)) {
        if (r->nattrs == OWL_SAMPLING_ATTRS_MAX)
            return owl_error_set(err, OWL_EINVAL, "Attributes: at most %d",
                                 OWL_SAMPLING_ATTRS_MAX);
        owl_sampling_attr *x = &r->attrs[r->nattrs];
        const char *k = bson_iter_key(&a);
        long c = chars_of(k, strlen(k));
        if (c < 1 || c > 32)
            return owl_error_set(err, OWL_EINVAL, "Attributes: keys are 1 to 32 characters");
        strcpy(x->key, k);
        int rc = read_text(&a, "Attributes' values", x->value, sizeof x->value, 32, err);
        if (rc != OWL_OK)
            return rc;
        r->nattrs++;
    }
    return OWL_OK;
}

static int read_boost(const bson_iter_t *it, owl_sampling_rule *r, owl_error *err)
{
    bson_iter_t b;
    int have = 0, rc = OWL_OK;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &b))
        return owl_error_set(err, OWL_EINVAL, "SamplingRateBoost: a structure is required");
    while (rc == OWL_OK && bson_iter_next(&b)) {
        if (!strcmp(bson_iter_key(&b), "MaxRate")) {
            rc = read_number(&b, "SamplingRateBoost.MaxRate", &r->boost_max_rate, err);
            have |= 1;
        } else if (!strcmp(bson_iter_key(&b), "CooldownWindowMinutes")) {
            rc = read_int(&b, "SamplingRateBoost.CooldownWindowMinutes", &r->boost_cooldown_min,
                          err);
            have |= 2;
        }
    }
    if (rc == OWL_OK && have != 3)
        rc = owl_error_set(err, OWL_EINVAL, "SamplingRateBoost: MaxRate and "
                                            "CooldownWindowMinutes are required");
    r->has_boost = 1;
    return rc;
}

static int read_member(const struct member *m, const bson_iter_t *it, owl_sampling_rule *r,
                       owl_error *err)
{
    int64_t i = 0;
    int rc;
    switch (m->kind) {
    case K_TEXT:
        return read_text(it, m->name, AT(r, m->off), m->size, m->chars, err);
    case K_INT:
        if ((rc = read_int(it, m->name, &i, err)) != OWL_OK)
            return rc;
        if (i < INT32_MIN || i > INT32_MAX)
            return owl_error_set(err, OWL_EINVAL, "%s: out of range", m->name);
        *(int *)AT(r, m->off) = (int)i;
        return OWL_OK;
    case K_I64:
        return read_int(it, m->name, (int64_t *)AT(r, m->off), err);
    case K_RATE:
        return read_number(it, m->name, (double *)AT(r, m->off), err);
    case K_ATTRS:
        return read_attrs(it, r, err);
    case K_BOOST:
        return read_boost(it, r, err);
    }
    return OWL_EINVAL;
}

int owl_sampling_rule_read(const bson_t *doc, owl_sampling_rule *r, unsigned *given,
                           owl_error *err)
{
    bson_iter_t it;
    *given = 0;
    if (!bson_iter_init(&it, doc))
        return owl_error_set(err, OWL_EINVAL, "not a structure");
    while (bson_iter_next(&it)) {
        if (BSON_ITER_HOLDS_NULL(&it))
            continue; /* null stands for absent, as in every REST-JSON member */
        for (size_t i = 0; i < OWL_ARRAY_LEN(members); i++) {
            if (strcmp(bson_iter_key(&it), members[i].name))
                continue;
            int rc = read_member(&members[i], &it, r, err);
            if (rc != OWL_OK)
                return rc;
            *given |= members[i].bit;
        }
    }
    return OWL_OK;
}

int owl_sampling_rule_missing(unsigned given, unsigned required, const char *prefix,
                              owl_error *err)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(members); i++)
        if ((required & members[i].bit) && !(given & members[i].bit))
            return owl_error_set(err, OWL_EINVAL, "%s.%s is required", prefix, members[i].name);
    return OWL_OK;
}

void owl_sampling_arn(const char *account, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:xray:us-east-1:%s:sampling-rule/%s", account, name);
}

int owl_sampling_arn_name(const char *arn, const char *account, char *name, owl_error *err)
{
    /* arn:aws:xray:REGION:ACCOUNT:sampling-rule/NAME */
    static const char head[] = "arn:aws:xray:", kind[] = ":sampling-rule/";
    const char *p = strncmp(arn, head, sizeof head - 1) ? NULL : arn + sizeof head - 1;
    p = p ? strchr(p, ':') : NULL; /* after the region */
    size_t al = strlen(account);
    if (!p || strncmp(p + 1, account, al) || strncmp(p + 1 + al, kind, sizeof kind - 1))
        return owl_error_set(err, OWL_EINVAL, "RuleARN: not a sampling rule of account %s",
                             account);
    p += 1 + al + sizeof kind - 1;
    long c = chars_of(p, strlen(p));
    if (c < 1 || c > 32)
        return owl_error_set(err, OWL_EINVAL, "RuleARN: the rule name is 1 to 32 characters");
    strcpy(name, p);
    return OWL_OK;
}

void owl_sampling_rule_write(const owl_sampling_rule *r, const char *account, bson_t *doc)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(members); i++) {
        const struct member *m = &members[i];
        bson_t sub;
        switch (m->kind) {
        case K_TEXT:
            bson_append_utf8(doc, m->name, -1, CAT(r, m->off), -1);
            break;
        case K_INT:
            bson_append_int32(doc, m->name, -1, *(const int *)CAT(r, m->off));
            break;
        case K_I64:
            bson_append_int64(doc, m->name, -1, *(const int64_t *)CAT(r, m->off));
            break;
        case K_RATE:
            bson_append_double(doc, m->name, -1, *(const double *)CAT(r, m->off));
            break;
        case K_ATTRS:
            bson_append_document_begin(doc, m->name, -1, &sub);
            for (size_t a = 0; a < r->nattrs; a++)
                bson_append_utf8(&sub, r->attrs[a].key, -1, r->attrs[a].value, -1);
            bson_append_document_end(doc, &sub);
            break;
        case K_BOOST:
            if (!r->has_boost)
                break;
            bson_append_document_begin(doc, m->name, -1, &sub);
            BSON_APPEND_DOUBLE(&sub, "MaxRate", r->boost_max_rate);
            BSON_APPEND_INT64(&sub, "CooldownWindowMinutes", r->boost_cooldown_min);
            bson_append_document_end(doc, &sub);
            break;
        }
        if (i == 0 && account) { /* RuleARN after RuleName, as X-Ray lists them */
            char arn[256];
            owl_sampling_arn(account, r->name, arn, sizeof arn);
            BSON_APPEND_UTF8(doc, "RuleARN", arn);
        }
    }
}

/* ---- matching ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Bytes of the UTF-8 character at s (1 for a stray byte; never past the NUL). */
static size_t char_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    for (size_t i = 1; i < n; i++)
        if (!s[i])
            return i;
    return n;
}

int owl_sampling_wildcard(const char *p, const char *t)
{
    /* greedy, remembering the last '*': on a mismatch that star takes one more character.
     * Linear in the text for each star, so O(|p| * |t|) at worst */
    const char *star = NULL, *resume = NULL;
    while (*t) {
        if (*p == '*') {
            star = ++p;
            resume = t;
        } else if (*p == '?') {
            p++;
            t += char_len(t);
        } else if (*p && lower((unsigned char)*p) == lower((unsigned char)*t)) {
            p++;
            t++;
        } else if (star) {
            resume += char_len(resume);
            t = resume;
            p = star;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

int owl_sampling_rule_matches(const owl_sampling_rule *r, const owl_sampling_request *rq)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(match_fields); i++) {
        const char *v = *(const char *const *)CAT(rq, match_fields[i].req_off);
        if (v && !owl_sampling_wildcard(CAT(r, match_fields[i].rule_off), v))
            return 0;
    }
    for (size_t i = 0; i < r->nattrs; i++) {
        size_t j = 0;
        while (j < rq->nattrs && strcmp(rq->attrs[j].key, r->attrs[i].key))
            j++;
        if (j == rq->nattrs || !owl_sampling_wildcard(r->attrs[i].value, rq->attrs[j].value))
            return 0;
    }
    return 1;
}

/* ---- the tenants ---- */

struct share {
    char client[OWL_SAMPLING_CLIENT_LEN + 1];
    int64_t quota;   /* traces per second */
    int64_t until_s; /* its ReservoirQuotaTTL */
};

struct rule {
    owl_sampling_rule def;
    struct share shares[OWL_SAMPLING_CLIENTS_MAX]; /* oldest first */
    size_t nshares;
    int64_t since_ms, requests, sampled, borrowed; /* statistics */
};

struct tenant {
    char id[TENANT_MAX + 1];
    struct rule *rules[OWL_SAMPLING_RULES_MAX]; /* by (priority, name): Default last */
    size_t n;
    int64_t last_mod_ms;
};

struct owl_sampling {
    owl_meta *meta;
    pthread_mutex_t write_mu; /* one change at a time, across its store write */
    pthread_mutex_t mu;       /* everything below, and the tenants' contents */
    struct tenant **tenants;  /* by id */
    size_t ntenants, cap;
    int64_t opened_ms;
};

static int rule_cmp(const void *a, const void *b)
{
    const owl_sampling_rule *x = &(*(struct rule *const *)a)->def,
                            *y = &(*(struct rule *const *)b)->def;
    return x->priority != y->priority ? (x->priority < y->priority ? -1 : 1)
                                      : strcmp(x->name, y->name);
}

static void tenant_sort(struct tenant *t)
{
    qsort(t->rules, t->n, sizeof *t->rules, rule_cmp);
}

/* The tenant's entry (index in *at when found; else where it goes). Called with mu held. */
static struct tenant *tenant_find(owl_sampling *s, const char *id, size_t *at)
{
    size_t lo = 0, hi = s->ntenants;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->tenants[mid]->id, id);
        if (c == 0) {
            *at = mid;
            return s->tenants[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

/* The tenant's entry, made with its Default rule when new. NULL when out of memory (or the id
 * is longer than the store allows). Called with mu held. */
static struct tenant *tenant_get(owl_sampling *s, const char *id)
{
    size_t at;
    struct tenant *t = tenant_find(s, id, &at);
    if (t || strlen(id) > TENANT_MAX)
        return t;
    if (s->ntenants == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        struct tenant **g = realloc(s->tenants, cap * sizeof *g);
        if (!g)
            return NULL;
        s->tenants = g, s->cap = cap;
    }
    t = calloc(1, sizeof *t);
    struct rule *d = calloc(1, sizeof *d);
    if (!t || !d) {
        free(t);
        free(d);
        return NULL;
    }
    strcpy(t->id, id);
    owl_sampling_default_rule(&d->def);
    d->since_ms = s->opened_ms;
    t->rules[t->n++] = d;
    t->last_mod_ms = s->opened_ms;
    memmove(s->tenants + at + 1, s->tenants + at, (s->ntenants - at) * sizeof *s->tenants);
    s->tenants[at] = t;
    s->ntenants++;
    return t;
}

static struct rule *rule_find(struct tenant *t, const char *name, size_t *at)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (!strcmp(t->rules[i]->def.name, name)) {
            if (at)
                *at = i;
            return t->rules[i];
        }
    return NULL;
}

static void touch(struct tenant *t, int64_t now_ms)
{
    if (now_ms > t->last_mod_ms)
        t->last_mod_ms = now_ms;
}

/* ---- records ---- */

static int persist(owl_sampling *s, const char *tenant, const owl_sampling_rule *r,
                   owl_error *err)
{
    bson_t doc = BSON_INITIALIZER, rule;
    BSON_APPEND_INT32(&doc, "v", RECORD_VERSION);
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "rule", &rule);
    owl_sampling_rule_write(r, NULL, &rule);
    bson_append_document_end(&doc, &rule);
    BSON_APPEND_DATE_TIME(&doc, "created", r->created_ms);
    BSON_APPEND_DATE_TIME(&doc, "modified", r->modified_ms);
    int rc = owl_meta_put(s->meta, tenant, OWL_SAMPLING_KIND, r->name, &doc, err);
    bson_destroy(&doc);
    return rc;
}

/* A record's rule into *r: OWL_EINVAL with the reason when it is not one. */
static int record_read(const bson_t *doc, const char *id, owl_sampling_rule *r, owl_error *err)
{
    bson_iter_t it;
    uint32_t len;
    const uint8_t *data;
    bson_t rule;
    unsigned given = 0;
    memset(r, 0, sizeof *r);
    if (!bson_iter_init_find(&it, doc, "v") || !BSON_ITER_HOLDS_INT32(&it) ||
        bson_iter_int32(&it) != RECORD_VERSION)
        return owl_error_set(err, OWL_EINVAL, "format version %d expected", RECORD_VERSION);
    if (!bson_iter_init_find(&it, doc, "rule") || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return owl_error_set(err, OWL_EINVAL, "no rule");
    bson_iter_document(&it, &len, &data);
    if (!bson_init_static(&rule, data, len))
        return owl_error_set(err, OWL_EINVAL, "no rule");
    int rc = owl_sampling_rule_read(&rule, r, &given, err);
    if (rc != OWL_OK)
        return rc;
    if ((rc = owl_sampling_rule_missing(given, OWL_SAMPLING_F_REQUIRED, "rule", err)) != OWL_OK)
        return rc;
    if (!bson_iter_init_find(&it, doc, "created") || !BSON_ITER_HOLDS_DATE_TIME(&it))
        return owl_error_set(err, OWL_EINVAL, "no creation time");
    r->created_ms = bson_iter_date_time(&it);
    if (!bson_iter_init_find(&it, doc, "modified") || !BSON_ITER_HOLDS_DATE_TIME(&it))
        return owl_error_set(err, OWL_EINVAL, "no modification time");
    r->modified_ms = bson_iter_date_time(&it);
    if (strcmp(r->name, id))
        return owl_error_set(err, OWL_EINVAL, "the rule is named %s", r->name);
    return owl_sampling_rule_check(r, err);
}

struct loader {
    owl_sampling *s;
    int rc;
    owl_error *err;
};

/* owl_meta_list_fn: one record into its tenant's rules. */
static int load_one(void *ud, const char *tenant, const char *kind, const char *id,
                    const bson_t *doc)
{
    (void)kind;
    struct loader *l = ud;
    owl_sampling_rule r;
    owl_error e = {0};
    struct tenant *t = NULL;
    struct rule *nr = NULL;
    if (record_read(doc, id, &r, &e) != OWL_OK) {
        l->rc = owl_error_set(l->err, OWL_ECORRUPT, "sampling rule %s of tenant %s: %s", id,
                              tenant, e.msg);
        return 1;
    }
    if (!(t = tenant_get(l->s, tenant))) {
        l->rc = owl_error_set(l->err, OWL_ENOMEM, "out of memory");
        return 1;
    }
    struct rule *old = rule_find(t, r.name, NULL);
    if (old) { /* Default, updated */
        old->def = r;
    } else if (t->n == OWL_SAMPLING_RULES_MAX) {
        l->rc = owl_error_set(l->err, OWL_ECORRUPT, "tenant %s has more than %d sampling rules",
                              tenant, OWL_SAMPLING_USER_RULES_MAX);
        return 1;
    } else if (!(nr = calloc(1, sizeof *nr))) {
        l->rc = owl_error_set(l->err, OWL_ENOMEM, "out of memory");
        return 1;
    } else {
        nr->def = r;
        nr->since_ms = l->s->opened_ms;
        t->rules[t->n++] = nr;
    }
    tenant_sort(t);
    touch(t, r.modified_ms);
    return 0;
}

int owl_sampling_open(owl_meta *meta, int64_t now_ms, owl_sampling **out, owl_error *err)
{
    *out = NULL;
    owl_sampling *s = calloc(1, sizeof *s);
    if (!s)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    s->meta = meta;
    s->opened_ms = now_ms;
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    struct loader l = {s, OWL_OK, err};
    int rc = owl_meta_list(meta, NULL, OWL_SAMPLING_KIND, NULL, 0, load_one, &l, err);
    if (rc == OWL_OK)
        rc = l.rc;
    if (rc != OWL_OK) {
        owl_sampling_close(s);
        return rc;
    }
    *out = s;
    return OWL_OK;
}

void owl_sampling_close(owl_sampling *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntenants; i++) {
        for (size_t j = 0; j < s->tenants[i]->n; j++)
            free(s->tenants[i]->rules[j]);
        free(s->tenants[i]);
    }
    free(s->tenants);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s);
}

/* ---- changes ---- */

int owl_sampling_create(owl_sampling *s, const char *tenant, const owl_sampling_rule *r,
                        int64_t now_ms, owl_sampling_rule *out, owl_error *err)
{
    owl_sampling_rule v = *r;
    v.created_ms = v.modified_ms = now_ms;
    if (!strcmp(v.name, OWL_SAMPLING_DEFAULT))
        return owl_error_set(err, OWL_EEXISTS, "a sampling rule named Default exists already: "
                                               "every account has it");
    int rc = owl_sampling_rule_check(&v, err);
    if (rc != OWL_OK)
        return rc;
    struct rule *nr = calloc(1, sizeof *nr);
    if (!nr)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->write_mu);
    pthread_mutex_lock(&s->mu);
    struct tenant *t = tenant_get(s, tenant);
    if (!t)
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    else if (rule_find(t, v.name, NULL))
        rc = owl_error_set(err, OWL_EEXISTS, "a sampling rule named %s exists already", v.name);
    else if (t->n >= OWL_SAMPLING_RULES_MAX)
        rc = owl_error_set(err, OWL_ELIMIT, "an account has at most %d sampling rules besides "
                                            "Default", OWL_SAMPLING_USER_RULES_MAX);
    pthread_mutex_unlock(&s->mu);
    if (rc == OWL_OK && (rc = persist(s, tenant, &v, err)) == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        nr->def = v;
        nr->since_ms = now_ms;
        t->rules[t->n++] = nr;
        nr = NULL;
        tenant_sort(t);
        touch(t, now_ms);
        pthread_mutex_unlock(&s->mu);
        if (out)
            *out = v;
    }
    pthread_mutex_unlock(&s->write_mu);
    free(nr);
    return rc;
}

/* The members `changed` names, copied from v into r. */
static void apply(owl_sampling_rule *r, const owl_sampling_rule *v, unsigned changed)
{
    for (size_t i = 0; i < OWL_ARRAY_LEN(members); i++) {
        const struct member *m = &members[i];
        if (!(changed & m->bit))
            continue;
        if (m->kind == K_ATTRS) {
            memcpy(r->attrs, v->attrs, sizeof r->attrs);
            r->nattrs = v->nattrs;
        } else if (m->kind == K_BOOST) {
            r->has_boost = v->has_boost;
            r->boost_max_rate = v->boost_max_rate;
            r->boost_cooldown_min = v->boost_cooldown_min;
        } else {
            memcpy(AT(r, m->off), CAT(v, m->off), m->size);
        }
    }
}

int owl_sampling_update(owl_sampling *s, const char *tenant, const char *name,
                        const owl_sampling_rule *v, unsigned changed, int64_t now_ms,
                        owl_sampling_rule *out, owl_error *err)
{
    int rc = OWL_OK;
    owl_sampling_rule cur = {0};
    pthread_mutex_lock(&s->write_mu);
    pthread_mutex_lock(&s->mu);
    size_t at;
    struct rule *r = rule_find(tenant_find(s, tenant, &at), name, NULL);
    if (!r && strcmp(name, OWL_SAMPLING_DEFAULT))
        rc = owl_error_set(err, OWL_ENOTFOUND, "no sampling rule named %.128s", name);
    else if (!r && !(r = rule_find(tenant_get(s, tenant), name, NULL)))
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
    else
        cur = r->def;
    pthread_mutex_unlock(&s->mu);
    if (rc != OWL_OK)
        goto out;
    if (changed & OWL_SAMPLING_F_NAME) {
        rc = owl_error_set(err, OWL_EINVAL, "RuleName: a rule cannot be renamed");
        goto out;
    }
    if (!strcmp(name, OWL_SAMPLING_DEFAULT) && (changed & ~OWL_SAMPLING_F_DEFAULT_MUTABLE)) {
        rc = owl_error_set(err, OWL_EINVAL, "the Default rule: only FixedRate and ReservoirSize "
                                            "can be changed");
        goto out;
    }
    apply(&cur, v, changed);
    cur.modified_ms = now_ms;
    if ((rc = owl_sampling_rule_check(&cur, err)) != OWL_OK ||
        (rc = persist(s, tenant, &cur, err)) != OWL_OK)
        goto out;
    pthread_mutex_lock(&s->mu);
    r->def = cur;
    struct tenant *t = tenant_find(s, tenant, &at);
    tenant_sort(t);
    touch(t, now_ms);
    pthread_mutex_unlock(&s->mu);
    if (out)
        *out = cur;
out:
    pthread_mutex_unlock(&s->write_mu);
    return rc;
}

int owl_sampling_delete(owl_sampling *s, const char *tenant, const char *name, int64_t now_ms,
                        owl_sampling_rule *out, owl_error *err)
{
    int rc = OWL_OK;
    size_t at = 0, ti;
    if (!strcmp(name, OWL_SAMPLING_DEFAULT))
        return owl_error_set(err, OWL_EINVAL, "the Default rule cannot be deleted");
    pthread_mutex_lock(&s->write_mu);
    pthread_mutex_lock(&s->mu);
    struct tenant *t = tenant_find(s, tenant, &ti);
    struct rule *r = rule_find(t, name, &at);
    pthread_mutex_unlock(&s->mu);
    if (!r)
        rc = owl_error_set(err, OWL_ENOTFOUND, "no sampling rule named %.128s", name);
    else
        rc = owl_meta_delete(s->meta, tenant, OWL_SAMPLING_KIND, name, err);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        if (out)
            *out = r->def;
        memmove(t->rules + at, t->rules + at + 1, (t->n - at - 1) * sizeof *t->rules);
        t->n--;
        touch(t, now_ms);
        pthread_mutex_unlock(&s->mu);
        free(r);
    }
    pthread_mutex_unlock(&s->write_mu);
    return rc;
}

/* ---- reading ---- */

/* A NextToken: the last rule's priority (5 digits) and its name in hex. */
static void token_of(const owl_sampling_rule *r, char *out)
{
    int n = snprintf(out, OWL_SAMPLING_TOKEN_MAX, "%05d", r->priority);
    owl_hex(r->name, strlen(r->name), out + n);
}

static int token_read(const char *tok, int *prio, char *name, owl_error *err)
{
    size_t n = strlen(tok), hex = n > 5 ? n - 5 : 0;
    int ok = n > 5 && n < OWL_SAMPLING_TOKEN_MAX && hex % 2 == 0 &&
             strspn(tok, "0123456789") >= 5;
    *prio = 0;
    for (size_t i = 0; ok && i < 5; i++)
        *prio = *prio * 10 + (tok[i] - '0');
    for (size_t i = 0; ok && i < hex / 2; i++) {
        int hi = owl_hex_digit((unsigned char)tok[5 + 2 * i]),
            lo = owl_hex_digit((unsigned char)tok[6 + 2 * i]);
        ok = hi >= 0 && lo >= 0 && (hi | lo) != 0; /* no NUL in a name */
        name[i] = (char)(ok ? hi << 4 | lo : 0);
    }
    if (!ok)
        return owl_error_set(err, OWL_EINVAL, "NextToken: not one this service gave");
    name[hex / 2] = '\0';
    return OWL_OK;
}

int owl_sampling_list(owl_sampling *s, const char *tenant, const char *token, size_t limit,
                      owl_sampling_rule out[OWL_SAMPLING_RULES_MAX], size_t *n,
                      char next[OWL_SAMPLING_TOKEN_MAX], owl_error *err)
{
    int prio = 0;
    char after[OWL_SAMPLING_TEXT(32) * 2];
    *n = 0;
    next[0] = '\0';
    if (limit < 1)
        return owl_error_set(err, OWL_EINVAL, "a page holds one rule at least");
    if (token && *token && token_read(token, &prio, after, err) != OWL_OK)
        return OWL_EINVAL;
    pthread_mutex_lock(&s->mu);
    size_t at;
    struct tenant *t = tenant_find(s, tenant, &at);
    size_t total = t ? t->n : 1;
    for (size_t i = 0; i < total; i++) {
        owl_sampling_rule r;
        if (t)
            r = t->rules[i]->def;
        else
            owl_sampling_default_rule(&r);
        if (token && *token &&
            (r.priority < prio || (r.priority == prio && strcmp(r.name, after) <= 0)))
            continue;
        if (*n == limit) {
            token_of(&out[*n - 1], next);
            break;
        }
        out[(*n)++] = r;
    }
    pthread_mutex_unlock(&s->mu);
    return OWL_OK;
}

void owl_sampling_match(owl_sampling *s, const char *tenant, const owl_sampling_request *rq,
                        owl_sampling_rule *out)
{
    pthread_mutex_lock(&s->mu);
    size_t at;
    struct tenant *t = tenant_find(s, tenant, &at);
    size_t i = 0;
    while (t && i < t->n && !owl_sampling_rule_matches(&t->rules[i]->def, rq))
        i++;
    if (t && i < t->n)
        *out = t->rules[i]->def;
    else
        owl_sampling_default_rule(out); /* a tenant without an entry: its Default matches */
    pthread_mutex_unlock(&s->mu);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The quota of client's share of rule r from now_s: an even split of the reservoir among the
 * clients holding a share (the remainder to the longest holders), within what the others'
 * quotas in force leave. A client past OWL_SAMPLING_CLIENTS_MAX gets 0. Called with mu held. */
static int64_t take_share(struct rule *r, const char *client, int64_t now_s)
{
    size_t k = 0, mine = SIZE_MAX;
    int64_t held = 0;
    for (size_t i = 0; i < r->nshares; i++) { /* expired ones out, the order kept */
        if (r->shares[i].until_s <= now_s)
            continue;
        r->shares[k] = r->shares[i];
        if (!strcmp(r->shares[k].client, client))
            mine = k;
        else
            held += r->shares[k].quota;
        k++;
    }
    r->nshares = k;
    if (mine == SIZE_MAX) {
        if (r->nshares == OWL_SAMPLING_CLIENTS_MAX)
            return 0;
        mine = r->nshares++;
        memcpy(r->shares[mine].client, client, OWL_SAMPLING_CLIENT_LEN + 1);
    }
    int64_t size = r->def.reservoir, n = (int64_t)r->nshares;
    int64_t even = size / n + ((int64_t)mine < size % n);
    int64_t left = size > held ? size - held : 0;
    struct share *sh = &r->shares[mine];
    sh->quota = even < left ? even : left;
    sh->until_s = now_s + OWL_SAMPLING_INTERVAL_S;
    return sh->quota;
}

int owl_sampling_targets(owl_sampling *s, const char *tenant, const owl_sampling_stat *st,
                         size_t n, int64_t now_ms, owl_sampling_target *out,
                         int64_t *last_mod_ms, owl_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(st[i].client) != OWL_SAMPLING_CLIENT_LEN)
            return owl_error_set(err, OWL_EINVAL, "ClientID: %d characters are required",
                                 OWL_SAMPLING_CLIENT_LEN);
    int64_t now_s = now_ms / 1000;
    pthread_mutex_lock(&s->mu);
    struct tenant *t = tenant_get(s, tenant);
    if (!t) {
        pthread_mutex_unlock(&s->mu);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct rule *r = rule_find(t, st[i].rule, NULL);
        memset(&out[i], 0, sizeof out[i]);
        if (!r)
            continue;
        r->requests = add_sat(r->requests, st[i].requests);
        r->sampled = add_sat(r->sampled, st[i].sampled);
        r->borrowed = add_sat(r->borrowed, st[i].borrowed);
        out[i].found = 1;
        out[i].fixed_rate = r->def.fixed_rate;
        out[i].quota = take_share(r, st[i].client, now_s);
        out[i].quota_ttl_s = now_s + OWL_SAMPLING_INTERVAL_S;
    }
    *last_mod_ms = t->last_mod_ms;
    pthread_mutex_unlock(&s->mu);
    return OWL_OK;
}

void owl_sampling_summaries(owl_sampling *s, const char *tenant,
                            owl_sampling_summary out[OWL_SAMPLING_RULES_MAX], size_t *n)
{
    pthread_mutex_lock(&s->mu);
    size_t at;
    struct tenant *t = tenant_find(s, tenant, &at);
    *n = 0;
    for (size_t i = 0; t && i < t->n; i++, (*n)++) {
        const struct rule *r = t->rules[i];
        strcpy(out[i].name, r->def.name);
        out[i].since_ms = r->since_ms;
        out[i].requests = r->requests;
        out[i].sampled = r->sampled;
        out[i].borrowed = r->borrowed;
    }
    if (!t) {
        memset(&out[0], 0, sizeof out[0]);
        strcpy(out[0].name, OWL_SAMPLING_DEFAULT);
        out[0].since_ms = s->opened_ms;
        *n = 1;
    }
    pthread_mutex_unlock(&s->mu);
}

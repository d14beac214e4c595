/* xray_sampler.c — the `xray` sampler (docs/client.md "Sampling"): X-Ray's centralized rules,
 * fetched from owld (GetSamplingRules, every 300 s) with their reservoir targets
 * (SamplingTargets, every Interval, 10 s) by a background thread of its own, decide roots as
 * the X-Ray SDKs do: the first matching rule by priority then name; its reservoir (the quota
 * a target gave, per second, until its TTL; before that, one borrowed a second when the rule
 * has a reservoir), then its FixedRate on the trace id's draw (sampler.c's). Without rules
 * (none yet, owld away, or the last fetch over an hour old): the SDKs' local default, 1 a
 * second then 5%. Invariants: decisions read the rules under a read lock, which only a new
 * rule list (and fork) takes for writing; a rule's reservoir is its own short mutex; the
 * statistics are atomics exchanged to 0 when reported, so every request is reported once. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

#define TWO_63 9223372036854775808.0
#define RULES_EVERY 300    /* s between rule fetches (the SDKs') */
#define RETRY_EVERY 10     /* s between fetches while no rule list has come */
#define CACHE_TTL 3600     /* s a rule list holds without a refresh (the SDKs') */
#define DOCS_A_CALL 25     /* statistics documents a SamplingTargets call takes (X-Ray's) */
#define MAX_PAGES 64       /* GetSamplingRules pages followed at most */
#define LOCAL_RATE 0.05    /* the local default: 1 a second, then 5% */

/* A rule's reservoir: TAKE within the target's quota, BORROW one a second before any target
 * (or after its TTL) when the rule has a reservoir at all. */
typedef struct reservoir {
    pthread_mutex_t lock;
    int64_t quota; /* per second; -1: no target yet */
    int64_t ttl;   /* epoch s the quota holds until (inclusive) */
    int64_t sec;   /* the second taken / borrowed count */
    int64_t taken, borrowed;
} reservoir;

typedef struct xrule {
    char *name;
    int64_t priority;
    _Atomic uint64_t bound; /* FixedRate * 2^63, the draw's bound (a target may change it) */
    int can_borrow;         /* ReservoirSize > 0 */
    char *service, *service_type, *host, *method, *path;
    reservoir res;
    _Atomic uint64_t requests, sampled, borrows; /* since the last report */
    atomic_int asked;       /* the poller was woken for this rule's first target */
} xrule;

struct owl__xray {
    pthread_rwlock_t lock; /* rules and n: written only when a new list replaces them */
    xrule *rules;
    size_t n;
    int64_t fetched;       /* epoch s of the last list; 0: none */
    xrule *pending;        /* pages read so far of the list being fetched */
    size_t npending, cappending;
    xrule local;           /* the SDKs' local default, never reported */
    char *service_name;
    void (*wake)(void *ud); /* a matched rule awaits its first target */
    void *wake_ud;
};

/* ---- rules ---- */

static void rule_clear(xrule *r)
{
    free(r->name);
    free(r->service);
    free(r->service_type);
    free(r->host);
    free(r->method);
    free(r->path);
    pthread_mutex_destroy(&r->res.lock);
}

static void rules_free(xrule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rule_clear(&rules[i]);
    free(rules);
}

static uint64_t bound_of(double rate)
{
    if (!(rate >= 0)) /* also NaN */
        rate = 0;
    if (rate > 1)
        rate = 1;
    return (uint64_t)(rate * TWO_63);
}

static void reservoir_init(reservoir *res, int64_t quota, int64_t ttl)
{
    pthread_mutex_init(&res->lock, NULL);
    res->quota = quota;
    res->ttl = ttl;
    res->sec = res->taken = res->borrowed = 0;
}

owl__xray *owl__xray_new(const char *service_name)
{
    owl__xray *x = calloc(1, sizeof *x);
    if (!x || !(x->service_name = strdup(service_name ? service_name : "unknown_service"))) {
        free(x);
        return NULL;
    }
    pthread_rwlock_init(&x->lock, NULL);
    reservoir_init(&x->local.res, 1, INT64_MAX);
    atomic_init(&x->local.bound, bound_of(LOCAL_RATE));
    return x;
}

void owl__xray_free(owl__xray *x)
{
    if (!x)
        return;
    rules_free(x->rules, x->n);
    rules_free(x->pending, x->npending);
    pthread_mutex_destroy(&x->local.res.lock);
    pthread_rwlock_destroy(&x->lock);
    free(x->service_name);
    free(x);
}

void owl__xray_set_wake(owl__xray *x, void (*fn)(void *ud), void *ud)
{
    x->wake = fn;
    x->wake_ud = ud;
}

/* ---- matching: X-Ray's patterns ('*' any run, '?' one character, ASCII case folded) ---- */

static int fold(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The bytes of the character at t (a UTF-8 sequence's, never past the NUL). */
static size_t char_len(const char *t)
{
    unsigned char c = (unsigned char)*t;
    size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4, i = 1;
    while (i < n && t[i])
        i++;
    return i;
}

int owl__xray_glob(const char *pat, const char *text)
{
    const char *star = NULL, *resume = NULL;
    while (*text) {
        if (*pat == '*') { /* try the shortest run first, widen it on a mismatch */
            star = ++pat;
            resume = text;
        } else if (*pat == '?') {
            pat++;
            text += char_len(text);
        } else if (*pat && fold((unsigned char)*pat) == fold((unsigned char)*text)) {
            pat++;
            text++;
        } else if (star) {
            resume += char_len(resume);
            text = resume;
            pat = star;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

/* A request's field matches when it is not known (NULL or ""), as the SDKs do. */
static int field(const char *pat, const char *v)
{
    return !v || !*v || owl__xray_glob(pat, v);
}

static int matches(const xrule *r, const owl__sample_req *q, const char *service)
{
    return field(r->service, service) && field(r->host, q->host) &&
           field(r->method, q->method) && field(r->path, q->path);
    /* ServiceType: libowl reports none, so any pattern matches */
}

/* ---- the decision ---- */

enum { NO, TAKE, BORROW };

static int reservoir_take(reservoir *res, int64_t now, int can_borrow)
{
    int d = NO;
    pthread_mutex_lock(&res->lock);
    if (res->sec != now) {
        res->sec = now;
        res->taken = res->borrowed = 0;
    }
    if (res->quota >= 0 && res->ttl >= now) {
        if (res->taken < res->quota) {
            res->taken++;
            d = TAKE;
        }
    } else if (can_borrow && res->borrowed < 1) {
        res->borrowed++;
        d = BORROW;
    }
    pthread_mutex_unlock(&res->lock);
    return d;
}

static uint64_t draw(const uint8_t tid[16])
{
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | tid[i];
    return v >> 1;
}

static int rule_decide(owl__xray *x, xrule *r, const uint8_t tid[16], int64_t now)
{
    atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
    if (r->can_borrow && x->wake && !atomic_load_explicit(&r->asked, memory_order_relaxed) &&
        !atomic_exchange(&r->asked, 1))
        x->wake(x->wake_ud); /* its first target sooner than the next Interval */
    int d = reservoir_take(&r->res, now, r->can_borrow);
    if (d == BORROW)
        atomic_fetch_add_explicit(&r->borrows, 1, memory_order_relaxed);
    if (d == NO && draw(tid) >= atomic_load_explicit(&r->bound, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&r->sampled, 1, memory_order_relaxed);
    return 1;
}

int owl__xray_decide(owl__xray *x, const owl__sample_req *q, const uint8_t trace_id[16],
                     int64_t now)
{
    static const owl__sample_req none;
    if (!q)
        q = &none;
    const char *service = q->service_name ? q->service_name : x->service_name;
    pthread_rwlock_rdlock(&x->lock);
    xrule *r = &x->local;
    if (x->fetched && now <= x->fetched + CACHE_TTL)
        for (size_t i = 0; i < x->n; i++)
            if (matches(&x->rules[i], q, service)) {
                r = &x->rules[i];
                break;
            }
    int yes = r == &x->local ? reservoir_take(&r->res, now, 0) == TAKE ||
                                   draw(trace_id) < atomic_load(&r->bound)
                             : rule_decide(x, r, trace_id, now);
    pthread_rwlock_unlock(&x->lock);
    return yes;
}

/* ---- JSON reading: just what the two answers need ---- */

typedef struct jcur {
    const char *p, *end;
    int depth;
} jcur;

#define MAX_DEPTH 32

static void ws(jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int peek(jcur *c)
{
    ws(c);
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int eat(jcur *c, char ch)
{
    if (peek(c) != ch)
        return -1;
    c->p++;
    return 0;
}

static int word(jcur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
        return -1;
    c->p += n;
    return 0;
}

/* null: 1 (consumed), else 0. */
static int null(jcur *c)
{
    return peek(c) == 'n' && word(c, "null") == 0;
}

static void put_utf8(owl__cbuf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    owl__cbuf_put(b, u, n);
}

static int hex4(jcur *c, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = c->p < c->end ? owl__hexval(*c->p++) : -1;
        if (h < 0)
            return -1;
        *v = *v << 4 | (uint32_t)h;
    }
    return 0;
}

/* A string, decoded into *out (malloc'd, NUL-terminated; out NULL: skipped). -1 malformed or
 * out of memory. */
static int jstring(jcur *c, char **out)
{
    owl__cbuf b = {0};
    if (eat(c, '"'))
        return -1;
    for (;;) {
        if (c->p >= c->end)
            goto bad;
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"')
            break;
        if (ch < 0x20)
            goto bad;
        if (ch != '\\') {
            owl__cbuf_put(&b, &ch, 1);
            continue;
        }
        if (c->p >= c->end)
            goto bad;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = strchr(from, *c->p);
        if (*c->p && e) {
            owl__cbuf_put(&b, &to[e - from], 1);
            c->p++;
            continue;
        }
        if (*c->p++ != 'u')
            goto bad;
        uint32_t cp, lo;
        if (hex4(c, &cp))
            goto bad;
        if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
            if (word(c, "\\u") || hex4(c, &lo) || lo < 0xdc00 || lo > 0xdfff)
                goto bad;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if ((cp >= 0xdc00 && cp < 0xe000) || cp == 0) {
            goto bad;
        }
        put_utf8(&b, cp);
    }
    owl__cbuf_put(&b, "", 1);
    if (b.nomem)
        goto bad;
    if (out)
        *out = (char *)b.p;
    else
        owl__cbuf_free(&b);
    return 0;
bad:
    owl__cbuf_free(&b);
    return -1;
}

/* A number, read without the C library's locale. */
static int jnumber(jcur *c, double *v)
{
    ws(c);
    const char *p = c->p;
    int neg = p < c->end && *p == '-', digits = 0, exp = 0, eneg = 0;
    double m = 0;
    p += neg;
    for (; p < c->end && *p >= '0' && *p <= '9'; p++, digits++)
        m = m * 10 + (*p - '0');
    if (p < c->end && *p == '.')
        for (p++; p < c->end && *p >= '0' && *p <= '9'; p++, digits++, exp--)
            m = m * 10 + (*p - '0');
    if (!digits)
        return -1;
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        int e = 0, ed = 0;
        p++;
        if (p < c->end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < c->end && *p >= '0' && *p <= '9'; p++, ed++)
            e = e < 10000 ? e * 10 + (*p - '0') : e;
        if (!ed)
            return -1;
        exp += eneg ? -e : e;
    }
    for (; exp > 0; exp--)
        m *= 10;
    for (; exp < 0; exp++)
        m /= 10;
    *v = neg ? -m : m;
    c->p = p;
    return 0;
}

typedef int (*member_fn)(jcur *c, const char *key, void *ud);

static int jskip(jcur *c);

static int skip_member(jcur *c, const char *key, void *ud)
{
    (void)key;
    (void)ud;
    return jskip(c);
}

/* An object: fn(c, key, ud) for each member, which reads (or skips) its value. Keys past 63
 * bytes are given as "" (no member the answers use is that long). */
static int jobject(jcur *c, member_fn fn, void *ud)
{
    if (eat(c, '{') || ++c->depth > MAX_DEPTH)
        return -1;
    if (peek(c) == '}') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        char *k, key[64] = "";
        if (jstring(c, &k))
            return -1;
        if (strlen(k) < sizeof key)
            strcpy(key, k);
        free(k);
        if (eat(c, ':') || fn(c, key, ud))
            return -1;
        if (peek(c) == ',') {
            c->p++;
            continue;
        }
        if (eat(c, '}'))
            return -1;
        c->depth--;
        return 0;
    }
}

/* An array: fn(c, "", ud) for each element. */
static int jarray(jcur *c, member_fn fn, void *ud)
{
    if (eat(c, '[') || ++c->depth > MAX_DEPTH)
        return -1;
    if (peek(c) == ']') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        if (fn(c, "", ud))
            return -1;
        if (peek(c) == ',') {
            c->p++;
            continue;
        }
        if (eat(c, ']'))
            return -1;
        c->depth--;
        return 0;
    }
}

static int jskip(jcur *c)
{
    double d;
    switch (peek(c)) {
    case '{':
        return jobject(c, skip_member, NULL);
    case '[':
        return jarray(c, skip_member, NULL);
    case '"':
        return jstring(c, NULL);
    case 't':
        return word(c, "true");
    case 'f':
        return word(c, "false");
    case 'n':
        return word(c, "null");
    default:
        return jnumber(c, &d);
    }
}

/* A string member into *out (replacing it), null leaving it. */
static int str_member(jcur *c, char **out)
{
    if (null(c))
        return 0;
    char *s;
    if (jstring(c, &s))
        return -1;
    free(*out);
    *out = s;
    return 0;
}

/* A number member: 1 read, 0 null, -1 malformed. */
static int num_member(jcur *c, double *v)
{
    if (null(c))
        return 0;
    return jnumber(c, v) ? -1 : 1;
}

/* A whole document: fn for each of its top-level members, and nothing after it. */
static int jdocument(const char *json, size_t n, member_fn fn, void *ud)
{
    jcur c = {json, json + n, 0};
    if (jobject(&c, fn, ud))
        return -1;
    return peek(&c) == -1 ? 0 : -1;
}

/* ---- GetSamplingRules ---- */

typedef struct rule_read {
    xrule r;
    char *arn;
    double version, reservoir_size, rate;
    int attributes; /* members of its Attributes */
} rule_read;

static int count_member(jcur *c, const char *key, void *ud)
{
    (void)key;
    ++*(int *)ud;
    return jskip(c);
}

static int rule_member(jcur *c, const char *key, void *ud)
{
    rule_read *rr = ud;
    double v;
    int rc;
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"RuleName", offsetof(rule_read, r.name)},
        {"ServiceName", offsetof(rule_read, r.service)},
        {"ServiceType", offsetof(rule_read, r.service_type)},
        {"Host", offsetof(rule_read, r.host)},
        {"HTTPMethod", offsetof(rule_read, r.method)},
        {"URLPath", offsetof(rule_read, r.path)},
        {"ResourceARN", offsetof(rule_read, arn)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(key, strs[i].key) == 0)
            return str_member(c, (char **)((char *)rr + strs[i].off));
    if (strcmp(key, "Attributes") == 0)
        return null(c) ? 0 : jobject(c, count_member, &rr->attributes);
    double *num = strcmp(key, "Priority") == 0        ? NULL
                  : strcmp(key, "FixedRate") == 0     ? &rr->rate
                  : strcmp(key, "ReservoirSize") == 0 ? &rr->reservoir_size
                  : strcmp(key, "Version") == 0       ? &rr->version
                                                      : (double *)-1;
    if (num == (double *)-1)
        return jskip(c);
    if ((rc = num_member(c, &v)) <= 0)
        return rc;
    if (num)
        *num = v;
    else
        rr->r.priority = v > 1e9 ? 1000000000 : v < -1e9 ? -1000000000 : (int64_t)v;
    return 0;
}

/* Whether a rule read is one the SDKs apply: version 1, every match field there, any
 * resource, no attributes (none are known when a span starts). */
static int usable(const rule_read *rr)
{
    const xrule *r = &rr->r;
    return r->name && *r->name && r->service && r->service_type && r->host && r->method &&
           r->path && rr->version == 1 && rr->arn && strcmp(rr->arn, "*") == 0 &&
           !rr->attributes && rr->rate >= 0 && rr->rate <= 1;
}

static int add_pending(owl__xray *x, rule_read *rr)
{
    if (x->npending == x->cappending) {
        size_t cap = x->cappending ? 2 * x->cappending : 16;
        xrule *p = realloc(x->pending, cap * sizeof *p);
        if (!p)
            return -1;
        x->pending = p;
        x->cappending = cap;
    }
    xrule *r = &x->pending[x->npending++];
    *r = rr->r;
    atomic_init(&r->bound, bound_of(rr->rate));
    r->can_borrow = rr->reservoir_size > 0;
    reservoir_init(&r->res, -1, 0);
    atomic_init(&r->requests, 0);
    atomic_init(&r->sampled, 0);
    atomic_init(&r->borrows, 0);
    atomic_init(&r->asked, 0);
    memset(&rr->r, 0, sizeof rr->r); /* moved */
    return 0;
}

typedef struct page_read {
    owl__xray *x;
    char *next_token;
    int nomem;
} page_read;

static int record_member(jcur *c, const char *key, void *ud)
{
    page_read *pr = ud;
    if (strcmp(key, "SamplingRule"))
        return jskip(c);
    rule_read rr = {.version = 1, .rate = -1};
    int rc = jobject(c, rule_member, &rr);
    if (rc == 0 && usable(&rr) && add_pending(pr->x, &rr))
        pr->nomem = 1;
    rule_clear(&rr.r);
    free(rr.arn);
    return rc;
}

static int record(jcur *c, const char *key, void *ud)
{
    (void)key;
    return jobject(c, record_member, ud);
}

static int page_member(jcur *c, const char *key, void *ud)
{
    page_read *pr = ud;
    if (strcmp(key, "SamplingRuleRecords") == 0)
        return null(c) ? 0 : jarray(c, record, pr);
    if (strcmp(key, "NextToken") == 0)
        return str_member(c, &pr->next_token);
    return jskip(c);
}

int owl__xray_parse_rules(owl__xray *x, const char *json, size_t n, char **next_token)
{
    page_read pr = {x, NULL, 0};
    int rc = jdocument(json, n, page_member, &pr);
    if (rc == 0 && pr.nomem)
        rc = OWL_ERR_NOMEM;
    else if (rc)
        rc = OWL_ERR_INVAL;
    if (rc == 0 && next_token && pr.next_token && *pr.next_token)
        *next_token = pr.next_token;
    else
        free(pr.next_token);
    return rc;
}

static int by_priority(const void *a, const void *b)
{
    const xrule *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* What a refreshed rule keeps of its namesake: its reservoir's target and what it has not
 * reported yet, as the SDKs carry them over. */
static void carry_over(xrule *to, xrule *from)
{
    to->res.quota = from->res.quota;
    to->res.ttl = from->res.ttl;
    to->res.sec = from->res.sec;
    to->res.taken = from->res.taken;
    to->res.borrowed = from->res.borrowed;
    atomic_store(&to->requests, atomic_load(&from->requests));
    atomic_store(&to->sampled, atomic_load(&from->sampled));
    atomic_store(&to->borrows, atomic_load(&from->borrows));
    atomic_store(&to->asked, atomic_load(&from->asked));
}

void owl__xray_commit_rules(owl__xray *x, int ok, int64_t now)
{
    xrule *old, *fresh = ok ? x->pending : NULL;
    size_t nold, nfresh = ok ? x->npending : 0;
    if (!ok)
        rules_free(x->pending, x->npending);
    x->pending = NULL;
    x->npending = x->cappending = 0;
    if (!ok)
        return;
    if (nfresh) /* qsort takes no NULL */
        qsort(fresh, nfresh, sizeof *fresh, by_priority);
    pthread_rwlock_wrlock(&x->lock);
    for (size_t i = 0; i < nfresh; i++)
        for (size_t j = 0; j < x->n; j++)
            if (strcmp(fresh[i].name, x->rules[j].name) == 0)
                carry_over(&fresh[i], &x->rules[j]);
    old = x->rules;
    nold = x->n;
    x->rules = fresh;
    x->n = nfresh;
    x->fetched = now;
    pthread_rwlock_unlock(&x->lock);
    rules_free(old, nold);
}

/* ---- SamplingTargets ---- */

static void put_s(owl__cbuf *b, const char *s)
{
    owl__cbuf_put(b, s, strlen(s));
}

static void put_json_str(owl__cbuf *b, const char *s)
{
    put_s(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char e[8];
        if (ch == '"' || ch == '\\' || ch < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", ch);
            put_s(b, e);
        } else {
            owl__cbuf_put(b, s, 1);
        }
    }
    put_s(b, "\"");
}

int owl__xray_report(owl__xray *x, int64_t now, const char *client_id, owl__cbuf *out)
{
    int docs = 0;
    char num[96];
    pthread_rwlock_rdlock(&x->lock);
    for (size_t i = 0; i < x->n && docs < DOCS_A_CALL; i++) {
        xrule *r = &x->rules[i];
        if (!atomic_load(&r->requests))
            continue; /* not matched since the last report: nothing to say, no share taken */
        put_s(out, docs++ ? "," : "{\"SamplingStatisticsDocuments\":[");
        put_s(out, "{\"RuleName\":");
        put_json_str(out, r->name);
        put_s(out, ",\"ClientID\":");
        put_json_str(out, client_id);
        uint64_t req = atomic_exchange(&r->requests, 0), smp = atomic_exchange(&r->sampled, 0),
                 brw = atomic_exchange(&r->borrows, 0);
        /* X-Ray takes counts up to 2^31 - 1 */
        snprintf(num, sizeof num,
                 ",\"Timestamp\":%lld,\"RequestCount\":%llu,\"SampledCount\":%llu,"
                 "\"BorrowCount\":%llu}",
                 (long long)now, (unsigned long long)(req > INT32_MAX ? INT32_MAX : req),
                 (unsigned long long)(smp > INT32_MAX ? INT32_MAX : smp),
                 (unsigned long long)(brw > INT32_MAX ? INT32_MAX : brw));
        put_s(out, num);
    }
    pthread_rwlock_unlock(&x->lock);
    if (docs)
        put_s(out, "]}");
    return out->nomem ? OWL_ERR_NOMEM : docs;
}

typedef struct target_read {
    char *name;
    double rate, quota, ttl, interval;
    int has_rate, has_quota, has_ttl, has_interval;
} target_read;

static int target_member(jcur *c, const char *key, void *ud)
{
    target_read *t = ud;
    if (strcmp(key, "RuleName") == 0)
        return str_member(c, &t->name);
    double *v = strcmp(key, "FixedRate") == 0           ? &t->rate
                : strcmp(key, "ReservoirQuota") == 0    ? &t->quota
                : strcmp(key, "ReservoirQuotaTTL") == 0 ? &t->ttl
                : strcmp(key, "Interval") == 0          ? &t->interval
                                                        : NULL;
    if (!v)
        return jskip(c);
    int *has = v == &t->rate ? &t->has_rate : v == &t->quota ? &t->has_quota
               : v == &t->ttl ? &t->has_ttl : &t->has_interval;
    int rc = num_member(c, v);
    if (rc > 0)
        *has = 1;
    return rc < 0 ? -1 : 0;
}

typedef struct targets_read {
    owl__xray *x;
    int64_t interval; /* the least Interval given; 0: none */
    double last_mod;
} targets_read;

static void apply(owl__xray *x, const target_read *t)
{
    for (size_t i = 0; t->name && i < x->n; i++) {
        xrule *r = &x->rules[i];
        if (strcmp(r->name, t->name))
            continue;
        if (t->has_rate)
            atomic_store(&r->bound, bound_of(t->rate));
        pthread_mutex_lock(&r->res.lock);
        if (t->has_quota && t->quota >= 0)
            r->res.quota = t->quota > INT32_MAX ? INT32_MAX : (int64_t)t->quota;
        if (t->has_ttl)
            r->res.ttl = (int64_t)t->ttl;
        pthread_mutex_unlock(&r->res.lock);
    }
}

static int target_doc(jcur *c, const char *key, void *ud)
{
    (void)key;
    targets_read *tr = ud;
    target_read t = {0};
    int rc = jobject(c, target_member, &t);
    if (rc == 0) {
        apply(tr->x, &t);
        if (t.has_interval && t.interval >= 1 && (!tr->interval || t.interval < tr->interval))
            tr->interval = t.interval > RULES_EVERY ? RULES_EVERY : (int64_t)t.interval;
    }
    free(t.name);
    return rc;
}

static int targets_member(jcur *c, const char *key, void *ud)
{
    targets_read *tr = ud;
    if (strcmp(key, "SamplingTargetDocuments") == 0)
        return null(c) ? 0 : jarray(c, target_doc, tr);
    if (strcmp(key, "LastRuleModification") == 0)
        return num_member(c, &tr->last_mod) < 0 ? -1 : 0;
    return jskip(c);
}

int owl__xray_apply_targets(owl__xray *x, const char *json, size_t n, int64_t *interval,
                            double *last_modified)
{
    targets_read tr = {x, 0, 0};
    pthread_rwlock_rdlock(&x->lock);
    int rc = jdocument(json, n, targets_member, &tr);
    pthread_rwlock_unlock(&x->lock);
    if (interval)
        *interval = tr.interval;
    if (last_modified)
        *last_modified = tr.last_mod;
    return rc ? OWL_ERR_INVAL : 0;
}

int owl__xray_rule_quota(owl__xray *x, const char *name, int64_t *quota)
{
    int rc = OWL_ERR_NOTFOUND;
    pthread_rwlock_rdlock(&x->lock);
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->rules[i].name, name) == 0) {
            pthread_mutex_lock(&x->rules[i].res.lock);
            if (quota)
                *quota = x->rules[i].res.quota;
            pthread_mutex_unlock(&x->rules[i].res.lock);
            rc = 0;
        }
    pthread_rwlock_unlock(&x->lock);
    return rc;
}

/* ---- the poller: one thread a process, started by owl_init, lazily again after fork ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* stop, wake (set up once, and again in a child) */
    owl__xray *x;        /* made once, kept for the process: decisions may be in flight */
    int running;         /* a thread to join */
    int stop, wake, final_ms;
    atomic_int abandon;  /* stop: abort what is in flight (the final report aside) */
    atomic_int restart;  /* a child after fork: start the thread at the next decision */
    pthread_t thread;
    char *rules_url, *targets_url;
    struct curl_slist *headers;
    long timeout_ms;
    char client_id[25];
} poller = {.lock = PTHREAD_MUTEX_INITIALIZER};

static owl__xray *_Atomic active; /* the sampler deciding; NULL: not started */
static pthread_once_t set_up = PTHREAD_ONCE_INIT;

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

static int64_t mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

static void new_client_id(void)
{
    uint8_t b[12];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t v = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)b;
        memcpy(b, &v, 8);
        memcpy(b + 8, &v, 4);
    }
    for (int i = 0; i < 12; i++)
        snprintf(poller.client_id + 2 * i, 3, "%02x", b[i]);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    owl__cbuf *b = ud;
    if (b->len + size * n > (1u << 24)) /* no answer of ours is that big */
        return 0;
    owl__cbuf_put(b, p, size * n);
    return b->nomem ? 0 : size * n;
}

static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return ud && atomic_load((atomic_int *)ud);
}

/* POSTs body to url; 0 with the answer in *out on a 200, -1 otherwise. The stop aborts it
 * unless `final`. */
static int post(const char *url, const char *body, owl__cbuf *out, int final, long timeout_ms)
{
    CURL *h = curl_easy_init();
    long status = 0;
    if (!h)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, poller.headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, final ? NULL : (void *)&poller.abandon);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && status == 200 && !out->nomem ? 0 : -1;
}

/* Every page of GetSamplingRules, then the new list in force; -1 (the old list kept). */
static int fetch_rules(owl__xray *x)
{
    char *token = NULL;
    int ok = 1;
    for (int page = 0; ok && page < MAX_PAGES; page++) {
        owl__cbuf body = {0}, ans = {0};
        if (token) {
            put_s(&body, "{\"NextToken\":");
            put_json_str(&body, token);
            put_s(&body, "}");
        } else {
            put_s(&body, "{}");
        }
        owl__cbuf_put(&body, "", 1);
        free(token);
        token = NULL;
        ok = !body.nomem &&
             post(poller.rules_url, (char *)body.p, &ans, 0, poller.timeout_ms) == 0 &&
             owl__xray_parse_rules(x, (char *)ans.p, ans.len, &token) == 0;
        owl__cbuf_free(&body);
        owl__cbuf_free(&ans);
        if (!token)
            break;
    }
    free(token);
    owl__xray_commit_rules(x, ok, wall_s());
    return ok ? 0 : -1;
}

/* Reports the statistics and loads the targets; *interval the answer's Interval when given.
 * 1 when owld's rules changed since the list in force. */
static int report(owl__xray *x, int final, long timeout_ms, int64_t *interval)
{
    int stale = 0;
    for (;;) {
        owl__cbuf body = {0}, ans = {0};
        int docs = owl__xray_report(x, wall_s(), poller.client_id, &body);
        owl__cbuf_put(&body, "", 1);
        int64_t iv = 0;
        double mod = 0;
        if (docs > 0 && !body.nomem &&
            post(poller.targets_url, (char *)body.p, &ans, final, timeout_ms) == 0 &&
            owl__xray_apply_targets(x, (char *)ans.p, ans.len, &iv, &mod) == 0) {
            if (iv)
                *interval = iv;
            pthread_rwlock_rdlock(&x->lock);
            stale |= mod > (double)x->fetched;
            pthread_rwlock_unlock(&x->lock);
        } else {
            docs = 0; /* what was not reported is lost, as the SDKs lose it */
        }
        owl__cbuf_free(&body);
        owl__cbuf_free(&ans);
        if (docs < DOCS_A_CALL)
            return stale;
    }
}

/* Waits until the monotonic second `until`, a wake or the stop; 1 on the stop. */
static int nap(int64_t until, int *woken)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = until - ts.tv_sec;
    ts.tv_sec = until;
    pthread_mutex_lock(&poller.lock);
    while (!poller.stop && !poller.wake && left > 0 &&
           pthread_cond_timedwait(&poller.cond, &poller.lock, &ts) == 0)
        ;
    int stop = poller.stop;
    *woken = poller.wake;
    poller.wake = 0;
    pthread_mutex_unlock(&poller.lock);
    return stop;
}

static void *run(void *arg)
{
    owl__xray *x = arg;
    owl__background_thread();
    int have = fetch_rules(x) == 0, woken;
    int64_t interval = 10, last_report = 0;
    int64_t next_rules = mono_s() + (have ? RULES_EVERY : RETRY_EVERY);
    int64_t next_targets = mono_s() + interval;
    for (;;) {
        int64_t until = next_rules < next_targets ? next_rules : next_targets;
        if (nap(until, &woken))
            break;
        int64_t now = mono_s();
        if (woken && now <= last_report) { /* a first target: at most one early report a second */
            next_targets = now + 1 < next_targets ? now + 1 : next_targets;
            continue;
        }
        if (woken || now >= next_targets) {
            if (report(x, 0, poller.timeout_ms, &interval))
                next_rules = now;
            last_report = now;
            next_targets = now + interval;
        }
        if (now >= next_rules) {
            have = fetch_rules(x) == 0 || have;
            next_rules = now + (have ? RULES_EVERY : RETRY_EVERY);
        }
    }
    int64_t ignored;
    if (poller.final_ms > 0) /* the last counts, so that owld's statistics add up */
        report(x, 1, poller.final_ms, &ignored);
    return NULL;
}

static void wake_poller(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&poller.lock);
    poller.wake = 1;
    pthread_cond_signal(&poller.cond);
    pthread_mutex_unlock(&poller.lock);
}

/* Starts the thread; poller.lock held. */
static int spawn(void)
{
    poller.stop = poller.wake = 0;
    atomic_store(&poller.abandon, 0);
    if (pthread_create(&poller.thread, NULL, run, poller.x))
        return OWL_ERR_NOMEM;
    poller.running = 1;
    return 0;
}

/* poller.cond waits on the monotonic clock. */
static void cond_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&poller.cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* fork: the child has no poller thread, a client id of its own, and neither the parent's
 * reservoir shares nor its unreported counts; its thread starts at its first decision. */
static void before_fork(void)
{
    pthread_mutex_lock(&poller.lock);
    if (poller.x)
        pthread_rwlock_wrlock(&poller.x->lock);
}

static void after_fork_parent(void)
{
    if (poller.x)
        pthread_rwlock_unlock(&poller.x->lock);
    pthread_mutex_unlock(&poller.lock);
}

static void after_fork_child(void)
{
    owl__xray *x = poller.x;
    if (x) {
        for (size_t i = 0; i < x->n; i++) {
            xrule *r = &x->rules[i];
            pthread_mutex_init(&r->res.lock, NULL); /* another thread may have held it */
            r->res.quota = -1;
            atomic_store(&r->requests, 0);
            atomic_store(&r->sampled, 0);
            atomic_store(&r->borrows, 0);
            atomic_store(&r->asked, 0);
        }
        pthread_mutex_init(&x->local.res.lock, NULL);
        /* held by the parent's forking thread, whose id the child's does not have: glibc
         * would take an unlock for a reader's */
        memset(&x->lock, 0, sizeof x->lock);
        pthread_rwlock_init(&x->lock, NULL);
    }
    /* the parent's poller may have been waiting on it: its waiters are not the child's */
    memset(&poller.cond, 0, sizeof poller.cond);
    cond_init();
    if (poller.running) {
        poller.running = 0;
        atomic_store(&poller.restart, 1);
        new_client_id();
    }
    pthread_mutex_unlock(&poller.lock);
}

static void set_up_once(void)
{
    cond_init();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* The URL of X-Ray action path `action` at the endpoint (one '/' between them). */
static char *action_url(const char *endpoint, const char *action)
{
    size_t n = strlen(endpoint);
    while (n && endpoint[n - 1] == '/')
        n--;
    char *u = malloc(n + strlen(action) + 2);
    if (u)
        sprintf(u, "%.*s/%s", (int)n, endpoint, action);
    return u;
}

int owl__xray_start(const owl_config *c, const char *service_name)
{
    int rc = 0;
    const char *endpoint = owl_config_get(c, "endpoint");
    pthread_once(&set_up, set_up_once);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_lock(&poller.lock);
    if (poller.running)
        goto out;
    if (!poller.x && !(poller.x = owl__xray_new(service_name))) {
        rc = OWL_ERR_NOMEM;
        goto out;
    }
    char *svc = strdup(service_name ? service_name : "unknown_service");
    poller.rules_url = action_url(endpoint, "GetSamplingRules");
    poller.targets_url = action_url(endpoint, "SamplingTargets");
    poller.headers = owl__http_headers(c, "application/json", 0);
    if (!svc || !poller.rules_url || !poller.targets_url || !poller.headers) {
        free(svc);
        rc = OWL_ERR_NOMEM;
        goto out;
    }
    pthread_rwlock_wrlock(&poller.x->lock); /* a decision started before a stop may read it */
    free(poller.x->service_name);
    poller.x->service_name = svc;
    pthread_rwlock_unlock(&poller.x->lock);
    owl__xray_set_wake(poller.x, wake_poller, NULL);
    poller.timeout_ms = owl__config_num(c, "timeout");
    new_client_id();
    rc = spawn();
out:
    if (rc) {
        free(poller.rules_url);
        free(poller.targets_url);
        curl_slist_free_all(poller.headers);
        poller.rules_url = poller.targets_url = NULL;
        poller.headers = NULL;
    } else {
        atomic_store(&active, poller.x);
    }
    pthread_mutex_unlock(&poller.lock);
    return rc;
}

void owl__xray_stop(int timeout_ms)
{
    pthread_mutex_lock(&poller.lock);
    atomic_store(&active, NULL);
    atomic_store(&poller.restart, 0);
    int running = poller.running;
    poller.running = 0;
    poller.stop = 1;
    poller.final_ms = timeout_ms < 0 ? (int)poller.timeout_ms : timeout_ms;
    atomic_store(&poller.abandon, 1);
    pthread_cond_signal(&poller.cond);
    pthread_mutex_unlock(&poller.lock);
    if (running)
        pthread_join(poller.thread, NULL);
    pthread_mutex_lock(&poller.lock);
    free(poller.rules_url);
    free(poller.targets_url);
    curl_slist_free_all(poller.headers);
    poller.rules_url = poller.targets_url = NULL;
    poller.headers = NULL;
    if (poller.x)
        owl__xray_commit_rules(poller.x, 1, 0); /* no list: the local default */
    pthread_mutex_unlock(&poller.lock);
}

/* The child's poller, at its first decision. */
static void restart(void)
{
    pthread_mutex_lock(&poller.lock);
    if (atomic_exchange(&poller.restart, 0) && !poller.running && poller.rules_url)
        spawn();
    pthread_mutex_unlock(&poller.lock);
}

int owl__xray_sample(const owl__sample_req *q, const uint8_t trace_id[16])
{
    static xrule fallback = {.res = {PTHREAD_MUTEX_INITIALIZER, 1, INT64_MAX, 0, 0, 0}};
    if (__builtin_expect(atomic_load_explicit(&poller.restart, memory_order_relaxed), 0))
        restart();
    owl__xray *x = atomic_load_explicit(&active, memory_order_acquire);
    if (x)
        return owl__xray_decide(x, q, trace_id, wall_s());
    /* not started (a tracer without owl_init's poller): the local default */
    return reservoir_take(&fallback.res, wall_s(), 0) == TAKE ||
           draw(trace_id) < bound_of(LOCAL_RATE);
}

int owl__xray_status(const char *rule, int64_t *quota)
{
    owl__xray *x = atomic_load(&active);
    return x ? owl__xray_rule_quota(x, rule, quota) : OWL_ERR_INVAL;
}

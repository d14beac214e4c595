/* insights_exec.c — runs a compiled CloudWatch Logs Insights query over events given in any
 * order and returns GetQueryResults' rows. Language and choices: docs/insights.md.
 *
 * A run streams every event through the commands before the first limit, dedup or stats (the
 * "boundary"), which are local to one row, and keeps only what the boundary needs: a top-N
 * heap in the current sort order (CloudWatch's default is newest first), the best row per
 * dedup key, or the groups of a stats. The commands after the boundary run at finish over the
 * rows kept. Invariants:
 *   1. every byte of state a run keeps (rows, groups, distinct sets, percentile values, hash
 *      tables) is charged to `used`, and passing max_bytes fails the run with OWL_ELIMIT;
 *   2. the result does not depend on the order events arrive in: heaps and dedup keep the
 *      best row under a total order (the sort keys, then time, ingestion time and @ptr), and
 *      ties among aggregates are broken by value. */
#include "index/insights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64
#define BIN_MAX_MS 9000000000000000LL /* datefloor() of a time beyond it is null */
#define PATH_MAX_LEN 512

typedef struct hdr {
    int64_t time_ms, ingest_ms;
    const char *ptr;
    uint32_t ptrn;
    uint64_t seq;
} hdr;

/* A row kept by the run: header, one value per slot, then the bytes its strings point to. */
typedef struct row {
    size_t bytes;
    hdr h;
    ins_val v[];
} row;

typedef struct ordkey {
    int slot;
    int desc;
} ordkey;

typedef struct rowvec {
    row **r;
    size_t n, cap;
} rowvec;

/* A set of byte strings (count_distinct, dedup keys). */
typedef struct sset {
    uint64_t *h;
    char **k;
    uint32_t *kn;
    void **val;
    size_t n, cap;
} sset;

typedef struct aggst {
    uint64_t count;
    double sum, best;
    long double mean, m2; /* Welford's, in extended precision: stddev rounds like an exact one */
    int has, time_kind;
    int64_t best_ms;
    ins_val val;      /* min, max, earliest, latest, sortsFirst, sortsLast: owned copy */
    char *valbuf;
    size_t valbufn;
    double *vals;     /* pct */
    size_t nvals, cvals;
    sset *set;        /* count_distinct */
} aggst;

typedef struct group {
    char *key;
    size_t keyn;
    uint64_t hash;
    ins_val *byv;     /* copies (strings in byv_buf) */
    char *byv_buf;
    aggst *st;
    uint64_t seq;
} group;

typedef struct aggr {
    const ins_cmd *c;
    group **tab;      /* open addressing */
    size_t n, cap;
    group **list;     /* insertion order */
    size_t nlist, clist;
    /* one key of datefloor(<field>, fixed period) (and so bin()): its floor of the last row
     * and that row's group, which the next row (events come mostly in time order) reuses
     * without making the key's text */
    int bin_slot;     /* the field's slot, -1 when the key is of another kind */
    double bin_num;
    int bin_unit;
    group *last;
    int64_t last_floor, last_end; /* last's period: [last_floor, last_end) */
} aggr;

enum bkind { B_HEAP, B_DEDUP, B_STATS };

struct owl_ins_run {
    const owl_ins_query *q;
    size_t max_bytes, max_rows, used;
    int failed;
    int finished;
    owl_ins_stats st;
    /* the working row */
    ins_val *v;
    uint8_t *set;
    int discovered;
    const owl_ins_event *ev;
    hdr h;
    ins_scratch sc;
    owl_buf kbuf;               /* keys being built */
    pcre2_match_data **md;
    /* discovery: names looked up in messages */
    uint64_t *whash;
    int *wslot;
    size_t wcap;
    /* the boundary */
    size_t b;
    int bkind;
    size_t heap_k;
    ordkey *ord;
    size_t nord;
    uint8_t *need;
    rowvec heap;
    int tord;                   /* owl_ins_time_order of the query */
    int count_bins;             /* the first command is stats count(*)... by bin(): a batch is
                                 * counted from its times alone (feed_bins) */
    sset dmap;                  /* dedup: key -> row */
    rowvec nulls;               /* dedup: rows with a null key */
    aggr ag;
    const ins_val *aggres;      /* while finishing a group: its aggregate values */
    uint64_t seq;
};

/* ---------- memory accounting ---------- */

static int charge(owl_ins_run *r, size_t n, owl_error *err)
{
    r->used += n;
    if (r->used > r->max_bytes) {
        r->failed = OWL_ELIMIT;
        return owl_error_set(err, OWL_ELIMIT, "the query needs more than its memory limit of %zu "
                             "bytes (too many groups, distinct values or rows kept)",
                             r->max_bytes);
    }
    return OWL_OK;
}

static void discharge(owl_ins_run *r, size_t n)
{
    r->used = n > r->used ? 0 : r->used - n;
}

static int oom(owl_ins_run *r, owl_error *err)
{
    r->failed = OWL_ENOMEM;
    return owl_error_set(err, OWL_ENOMEM, "out of memory");
}

/* ---------- string sets ---------- */

static void sset_free(sset *s)
{
    for (size_t k = 0; k < s->cap; k++)
        free(s->k ? s->k[k] : NULL);
    free(s->h);
    free(s->k);
    free(s->kn);
    free(s->val);
    memset(s, 0, sizeof *s);
}

static int sset_grow(owl_ins_run *r, sset *s, owl_error *err)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    int rc = charge(r, cap * (sizeof(uint64_t) + sizeof(char *) + sizeof(uint32_t) +
                              sizeof(void *)), err);
    if (rc != OWL_OK)
        return rc;
    sset ns = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(char *)),
               calloc(cap, sizeof(uint32_t)), calloc(cap, sizeof(void *)), s->n, cap};
    if (!ns.h || !ns.k || !ns.kn || !ns.val) {
        sset_free(&ns);
        return oom(r, err);
    }
    for (size_t k = 0; k < s->cap; k++) {
        if (!s->k[k])
            continue;
        size_t j = s->h[k] & (cap - 1);
        while (ns.k[j])
            j = (j + 1) & (cap - 1);
        ns.h[j] = s->h[k];
        ns.k[j] = s->k[k];
        ns.kn[j] = s->kn[k];
        ns.val[j] = s->val[k];
        s->k[k] = NULL;
    }
    discharge(r, s->cap * (sizeof(uint64_t) + sizeof(char *) + sizeof(uint32_t) +
                           sizeof(void *)));
    sset_free(s);
    *s = ns;
    return OWL_OK;
}

/* Finds key (inserting it when absent and *added is not NULL): the entry's index, or -1. */
static long sset_find(owl_ins_run *r, sset *s, const char *key, size_t n, int *added,
                      owl_error *err, int *rc)
{
    uint64_t h = owl_hash64(key, n, 0x5e7);
    *rc = OWL_OK;
    if (added)
        *added = 0;
    if (s->cap) {
        for (size_t j = h & (s->cap - 1); s->k[j]; j = (j + 1) & (s->cap - 1))
            if (s->h[j] == h && s->kn[j] == n && memcmp(s->k[j], key, n) == 0)
                return (long)j;
    }
    if (!added)
        return -1;
    if ((s->n + 1) * 10 > s->cap * 7 && (*rc = sset_grow(r, s, err)) != OWL_OK)
        return -1;
    if ((*rc = charge(r, n + 1, err)) != OWL_OK)
        return -1;
    size_t j = h & (s->cap - 1);
    while (s->k[j])
        j = (j + 1) & (s->cap - 1);
    s->k[j] = malloc(n + 1);
    if (!s->k[j]) {
        *rc = oom(r, err);
        return -1;
    }
    memcpy(s->k[j], key, n);
    s->k[j][n] = '\0';
    s->kn[j] = (uint32_t)n;
    s->h[j] = h;
    s->val[j] = NULL;
    s->n++;
    *added = 1;
    return (long)j;
}

/* ---------- the working row ---------- */

static void row_reset(owl_ins_run *r, const owl_ins_event *ev)
{
    size_t n = r->q->nslots;
    memset(r->set, 0, n);
    memset(r->v, 0, n * sizeof *r->v);
    r->discovered = 0;
    r->ev = ev;
    owl_arena_reset(&r->sc.a);
}

static void row_load(owl_ins_run *r, const row *w)
{
    size_t n = r->q->nslots;
    memcpy(r->v, w->v, n * sizeof *r->v);
    memset(r->set, 1, n);
    r->discovered = 1;
    r->ev = NULL;
    r->h = w->h;
}

static int want_slot(const owl_ins_run *r, const char *name, size_t n)
{
    if (!r->wcap)
        return -1;
    uint64_t h = owl_hash64(name, n, 0);
    for (size_t j = h & (r->wcap - 1); r->wslot[j] >= 0; j = (j + 1) & (r->wcap - 1)) {
        const ins_slot *sl = &r->q->slots[r->wslot[j]];
        if (r->whash[j] == h && sl->n == n && memcmp(sl->name, name, n) == 0)
            return r->wslot[j];
    }
    return -1;
}

static void found(owl_ins_run *r, const char *path, size_t pn, const ins_val *v)
{
    int s = want_slot(r, path, pn);
    if (s >= 0 && !r->set[s]) {
        r->v[s] = *v;
        r->set[s] = 1;
    }
}

/* ---- JSON messages: every scalar at a flattened path (a.b, a.0) ---- */

static size_t jws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static int hexv(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A JSON string at s[i] == '"': *end past it; decoded into *out (a view, or scratch when it has
 * escapes). 0 when malformed or out of scratch. */
static int jstr(owl_ins_run *r, const char *s, size_t n, size_t i, size_t *end, const char **out,
                size_t *outn)
{
    size_t k = i + 1;
    int esc = 0;
    while (k < n && s[k] != '"') {
        if ((unsigned char)s[k] < 0x20)
            return 0;
        if (s[k] == '\\') {
            esc = 1;
            k++;
        }
        k++;
    }
    if (k >= n)
        return 0;
    *end = k + 1;
    if (!esc) {
        *out = s + i + 1;
        *outn = k - i - 1;
        return 1;
    }
    char *b = owl_arena_alloc(&r->sc.a, k - i);
    size_t l = 0;
    if (!b)
        return 0;
    for (size_t j = i + 1; j < k; j++) {
        if (s[j] != '\\') {
            b[l++] = s[j];
            continue;
        }
        char e = s[++j];
        if (e == 'u') {
            if (j + 4 >= k)
                return 0;
            int h0 = hexv(s[j + 1]), h1 = hexv(s[j + 2]), h2 = hexv(s[j + 3]), h3 = hexv(s[j + 4]);
            if (h0 < 0 || h1 < 0 || h2 < 0 || h3 < 0)
                return 0;
            unsigned cp = (unsigned)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
            j += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && j + 6 < k && s[j + 1] == '\\' && s[j + 2] == 'u') {
                int l0 = hexv(s[j + 3]), l1 = hexv(s[j + 4]), l2 = hexv(s[j + 5]),
                    l3 = hexv(s[j + 6]);
                unsigned lo = (unsigned)(l0 << 12 | l1 << 8 | l2 << 4 | l3);
                if (l0 >= 0 && l1 >= 0 && l2 >= 0 && l3 >= 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    j += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            if (cp < 0x80) {
                b[l++] = (char)cp;
            } else if (cp < 0x800) {
                b[l++] = (char)(0xC0 | cp >> 6);
                b[l++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                b[l++] = (char)(0xE0 | cp >> 12);
                b[l++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                b[l++] = (char)(0x80 | (cp & 0x3F));
            } else {
                b[l++] = (char)(0xF0 | cp >> 18);
                b[l++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                b[l++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                b[l++] = (char)(0x80 | (cp & 0x3F));
            }
            continue;
        }
        b[l++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
               : e == 'f' ? '\f' : e;
    }
    *out = b;
    *outn = l;
    return 1;
}

/* One JSON value at s[*i]; scalars are offered at path[0..pn). 0 when malformed. */
static int jvalue(owl_ins_run *r, const char *s, size_t n, size_t *i, char *path, size_t pn,
                  int depth)
{
    size_t k = jws(s, n, *i);
    if (k >= n || depth > JSON_MAX_DEPTH)
        return 0;
    ins_val v = {0};
    char c = s[k];
    if (c == '{' || c == '[') {
        int obj = c == '{';
        size_t idx = 0;
        k = jws(s, n, k + 1);
        if (k < n && s[k] == (obj ? '}' : ']')) {
            *i = k + 1;
            return 1;
        }
        for (;;) {
            size_t sub = pn + (pn > 0);
            char num[24];
            const char *key = num;
            size_t keyn;
            if (obj) {
                k = jws(s, n, k);
                if (k >= n || s[k] != '"' || !jstr(r, s, n, k, &k, &key, &keyn))
                    return 0;
                k = jws(s, n, k);
                if (k >= n || s[k] != ':')
                    return 0;
                k++;
            } else {
                keyn = (size_t)snprintf(num, sizeof num, "%zu", idx++);
            }
            /* top-level keys starting with @ are named with a second @, as CloudWatch does */
            int at = pn == 0 && keyn > 0 && key[0] == '@';
            size_t np = sub + at + keyn;
            if (np <= PATH_MAX_LEN) {
                if (pn > 0)
                    path[pn] = '.';
                if (at)
                    path[sub] = '@';
                memcpy(path + sub + at, key, keyn);
            } else {
                np = PATH_MAX_LEN + 1; /* too long to name: parsed, never offered */
            }
            if (!jvalue(r, s, n, &k, path, np, depth + 1))
                return 0;
            k = jws(s, n, k);
            if (k < n && s[k] == ',') {
                k++;
                continue;
            }
            if (k < n && s[k] == (obj ? '}' : ']')) {
                *i = k + 1;
                return 1;
            }
            return 0;
        }
    }
    if (c == '"') {
        const char *t;
        size_t tn;
        if (!jstr(r, s, n, k, i, &t, &tn))
            return 0;
        v.t = VT_STR;
        v.s = t;
        v.n = (uint32_t)tn;
    } else if (n - k >= 4 && memcmp(s + k, "true", 4) == 0) {
        v.t = VT_BOOL;
        v.num = 1;
        *i = k + 4;
    } else if (n - k >= 5 && memcmp(s + k, "false", 5) == 0) {
        v.t = VT_BOOL;
        *i = k + 5;
    } else if (n - k >= 4 && memcmp(s + k, "null", 4) == 0) {
        *i = k + 4;
    } else {
        size_t e = k;
        while (e < n && (strchr("+-.eE", s[e]) || (s[e] >= '0' && s[e] <= '9')))
            e++;
        if (!ins_num_text(s + k, e - k, &v.num))
            return 0;
        v.t = VT_NUM;
        v.s = s + k;
        v.n = (uint32_t)(e - k);
        *i = e;
    }
    if (pn <= PATH_MAX_LEN && v.t != VT_NULL)
        found(r, path, pn, &v);
    return 1;
}

static int kv_key_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '@';
}

/* key=value pairs of a text message: a key of [A-Za-z0-9_.@-] that starts the message or
 * follows a blank, ',', ';', '(' or '['; the value runs to a blank, ',' or ';', or is "quoted". */
static void discover_kv(owl_ins_run *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (!s[i - 1] || !strchr(" \t\r\n,;([", s[i - 1])))
            continue;
        size_t k = i;
        while (k < n && kv_key_byte((unsigned char)s[k]))
            k++;
        unsigned char c0 = (unsigned char)s[i];
        if (k == i || k >= n || s[k] != '=' ||
            !((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
            continue;
        size_t vs = k + 1, ve;
        ins_val v = {VT_STR, 0, NULL, 0, 0};
        if (vs < n && s[vs] == '"') {
            ve = vs + 1;
            while (ve < n && s[ve] != '"')
                ve += s[ve] == '\\' ? 2 : 1;
            if (ve > n)
                ve = n;
            v.s = s + vs + 1;
            v.n = (uint32_t)(ve - vs - 1);
            ve = ve < n ? ve + 1 : n;
        } else {
            ve = vs;
            while (ve < n && !strchr(" \t\r\n,;", s[ve]))
                ve++;
            v.s = s + vs;
            v.n = (uint32_t)(ve - vs);
        }
        found(r, s + i, k - i, &v);
        i = ve > i ? ve - 1 : i;
    }
}

static void discover(owl_ins_run *r)
{
    r->discovered = 1;
    if (!r->wcap || !r->ev)
        return;
    const char *s = r->ev->message.p;
    size_t n = r->ev->message.n, i = jws(s, n, 0);
    if (i < n && s[i] == '{') {
        char path[PATH_MAX_LEN + 1];
        jvalue(r, s, n, &i, path, 0, 0);
        return;
    }
    discover_kv(r, s, n);
}

static const ins_val *slot_get(owl_ins_run *r, int s)
{
    if (r->set[s])
        return &r->v[s];
    const ins_slot *sl = &r->q->slots[s];
    const owl_ins_event *ev = r->ev;
    if (ev && sl->sys == SYS_NONE && sl->discover && !r->discovered) {
        discover(r);
        if (r->set[s])
            return &r->v[s];
    }
    ins_val *v = &r->v[s];
    memset(v, 0, sizeof *v);
    r->set[s] = 1;
    if (!ev)
        return v;
    const owl_bytes *b = NULL;
    switch (sl->sys) {
    case SYS_TIMESTAMP:
        v->t = VT_TIME;
        v->ms = ev->time_ms;
        return v;
    case SYS_INGEST:
        v->t = VT_TIME;
        v->ms = ev->ingest_ms;
        return v;
    case SYS_MESSAGE:
        b = &ev->message;
        break;
    case SYS_STREAM:
        b = &ev->stream;
        break;
    case SYS_LOG:
        b = &ev->group;
        break;
    case SYS_PTR:
        b = &ev->ptr;
        break;
    default:
        return v;
    }
    if (sl->sys != SYS_PTR || b->n) { /* an event has a message, stream and group, maybe "" */
        v->t = VT_STR;
        v->s = b->p ? b->p : "";
        v->n = (uint32_t)b->n;
    }
    return v;
}

static void slot_put(owl_ins_run *r, int s, const ins_val *v)
{
    r->v[s] = *v;
    r->set[s] = 1;
}

/* ---------- evaluation ---------- */

static int truthy(const ins_val *v)
{
    switch (v->t) {
    case VT_NUM:
    case VT_BOOL:
        return v->num != 0;
    case VT_TIME:
        return 1;
    case VT_STR:
        return v->n > 0;
    default:
        return 0;
    }
}

static void mk_bool(ins_val *o, int b)
{
    memset(o, 0, sizeof *o);
    o->t = VT_BOOL;
    o->num = b != 0;
}

static int re_search(owl_ins_run *r, int re, const char *s, size_t n)
{
    return pcre2_match(r->q->re[re], (PCRE2_SPTR)(s ? s : ""), n, 0, 0, r->md[re],
                       r->q->mctx) >= 0;
}

static int eval(owl_ins_run *r, int e, ins_val *o);

static int eval_arith(owl_ins_run *r, const ins_node *nd, ins_val *o)
{
    ins_val a, b;
    double x, y, z;
    int rc;
    if ((rc = eval(r, nd->a, &a)) != OWL_OK || (rc = eval(r, nd->b, &b)) != OWL_OK)
        return rc;
    memset(o, 0, sizeof *o);
    if (!ins_val_numeric(&a, &x) || !ins_val_numeric(&b, &y))
        return OWL_OK;
    switch (nd->op) {
    case OP_ADD:
        z = x + y;
        break;
    case OP_SUB:
        z = x - y;
        break;
    case OP_MUL:
        z = x * y;
        break;
    case OP_DIV:
        z = y != 0 ? x / y : NAN;
        break;
    case OP_MOD:
        z = y != 0 ? fmod(x, y) : NAN;
        break;
    default:
        z = pow(x, y);
        break;
    }
    if (isfinite(z)) {
        o->t = VT_NUM;
        o->num = z;
    }
    return OWL_OK;
}

static int eval_match(owl_ins_run *r, const ins_node *nd, ins_val *o)
{
    ins_val a;
    int rc = eval(r, nd->a, &a);
    if (rc != OWL_OK)
        return rc;
    if (a.t == VT_NULL) {
        mk_bool(o, 0);
        return OWL_OK;
    }
    char buf[40];
    size_t n;
    const char *s = ins_val_text(&a, buf, &n);
    int hit;
    if (nd->kind == E_LIKE)
        hit = nd->n == 0 || (n >= nd->n && memmem(s, n, nd->s, nd->n) != NULL);
    else
        hit = re_search(r, nd->re, s, n);
    mk_bool(o, nd->neg ? !hit : hit);
    return OWL_OK;
}

static int eval_in(owl_ins_run *r, const ins_node *nd, ins_val *o)
{
    ins_val a, b;
    int rc = eval(r, nd->a, &a), hit = 0;
    if (rc != OWL_OK)
        return rc;
    if (a.t == VT_NULL) {
        mk_bool(o, 0);
        return OWL_OK;
    }
    for (size_t k = 0; k < nd->nargs && !hit; k++) {
        if ((rc = eval(r, r->q->args[nd->arg0 + k], &b)) != OWL_OK)
            return rc;
        hit = b.t != VT_NULL && ins_cmp_values(&a, &b) == 0;
    }
    mk_bool(o, nd->neg ? !hit : hit);
    return OWL_OK;
}

static int eval_call(owl_ins_run *r, const ins_node *nd, ins_val *o)
{
    ins_val av[16];
    int rc;
    for (size_t k = 0; k < nd->nargs; k++) {
        const ins_node *an = &r->q->nodes[r->q->args[nd->arg0 + k]];
        if (an->kind == E_PERIOD) {
            memset(&av[k], 0, sizeof av[k]);
            av[k].t = VT_NUM;
            av[k].num = an->num;
        } else if ((rc = eval(r, r->q->args[nd->arg0 + k], &av[k])) != OWL_OK) {
            return rc;
        }
    }
    return ins_call(r->q, nd, av, nd->nargs, &r->sc, o);
}

static int eval(owl_ins_run *r, int e, ins_val *o)
{
    const ins_node *nd = &r->q->nodes[e];
    ins_val a, b;
    int rc;
    switch (nd->kind) {
    case E_NUM:
        memset(o, 0, sizeof *o);
        o->t = VT_NUM;
        o->num = nd->num;
        return OWL_OK;
    case E_STR:
        memset(o, 0, sizeof *o);
        o->t = VT_STR;
        o->s = nd->s;
        o->n = (uint32_t)nd->n;
        return OWL_OK;
    case E_FIELD:
        *o = *slot_get(r, nd->slot);
        return OWL_OK;
    case E_PERIOD:
        memset(o, 0, sizeof *o);
        o->t = VT_NUM;
        o->num = nd->num;
        return OWL_OK;
    case E_NEG: {
        double x;
        if ((rc = eval(r, nd->a, &a)) != OWL_OK)
            return rc;
        memset(o, 0, sizeof *o);
        if (ins_val_numeric(&a, &x)) {
            o->t = VT_NUM;
            o->num = -x;
        }
        return OWL_OK;
    }
    case E_NOT:
        if ((rc = eval(r, nd->a, &a)) != OWL_OK)
            return rc;
        mk_bool(o, !truthy(&a));
        return OWL_OK;
    case E_AND:
    case E_OR:
        if ((rc = eval(r, nd->a, &a)) != OWL_OK)
            return rc;
        if (truthy(&a) == (nd->kind == E_OR)) {
            mk_bool(o, nd->kind == E_OR);
            return OWL_OK;
        }
        if ((rc = eval(r, nd->b, &b)) != OWL_OK)
            return rc;
        mk_bool(o, truthy(&b));
        return OWL_OK;
    case E_CMP: {
        if ((rc = eval(r, nd->a, &a)) != OWL_OK || (rc = eval(r, nd->b, &b)) != OWL_OK)
            return rc;
        if (a.t == VT_NULL || b.t == VT_NULL) {
            mk_bool(o, 0);
            return OWL_OK;
        }
        int c = ins_cmp_values(&a, &b);
        static const int want[][3] = {/* c<0, c==0, c>0 */
                                      [OP_EQ] = {0, 1, 0}, [OP_NE] = {1, 0, 1},
                                      [OP_LT] = {1, 0, 0}, [OP_LE] = {1, 1, 0},
                                      [OP_GT] = {0, 0, 1}, [OP_GE] = {0, 1, 1}};
        mk_bool(o, want[nd->op][c < 0 ? 0 : c == 0 ? 1 : 2]);
        return OWL_OK;
    }
    case E_ARITH:
        return eval_arith(r, nd, o);
    case E_LIKE:
    case E_REGEX:
        return eval_match(r, nd, o);
    case E_IN:
        return eval_in(r, nd, o);
    case E_CALL:
        return eval_call(r, nd, o);
    case E_AGG:
        *o = r->aggres ? r->aggres[nd->agg] : (ins_val){0};
        return OWL_OK;
    default:
        memset(o, 0, sizeof *o);
        return OWL_OK;
    }
}

/* ---------- row-local commands ---------- */

static int do_parse(owl_ins_run *r, const ins_cmd *c)
{
    ins_val src;
    int rc = eval(r, c->expr, &src);
    if (rc != OWL_OK)
        return rc;
    ins_val null = {0};
    char buf[40];
    size_t n = 0;
    const char *s = src.t == VT_NULL ? NULL : ins_val_text(&src, buf, &n);
    if (s == buf) { /* a number or time: its text must outlive buf */
        char *cp = owl_arena_copy(&r->sc.a, buf, n);
        if (!cp)
            return OWL_ENOMEM;
        s = cp;
    }
    int hit = s && pcre2_match(r->q->re[c->re], (PCRE2_SPTR)s, n, 0, 0, r->md[c->re],
                               r->q->mctx) >= 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md[c->re]);
    uint32_t nov = pcre2_get_ovector_count(r->md[c->re]);
    for (size_t g = 0; g < c->nouts; g++) {
        if (c->outs[g] < 0)
            continue;
        if (!hit || g + 1 >= nov || ov[2 * (g + 1)] == PCRE2_UNSET) {
            slot_put(r, c->outs[g], &null);
            continue;
        }
        ins_val v = {VT_STR, (uint32_t)(ov[2 * (g + 1) + 1] - ov[2 * (g + 1)]),
                     s + ov[2 * (g + 1)], 0, 0};
        slot_put(r, c->outs[g], &v);
    }
    return OWL_OK;
}

/* Runs row-local command c on the working row; *keep cleared when a filter drops it. */
static int local_cmd(owl_ins_run *r, const ins_cmd *c, int *keep)
{
    ins_val v;
    int rc;
    switch (c->kind) {
    case C_FIELDS:
        for (size_t k = 0; k < c->nitems; k++) {
            if ((rc = eval(r, c->items[k].expr, &v)) != OWL_OK)
                return rc;
            slot_put(r, c->items[k].slot, &v);
        }
        return OWL_OK;
    case C_SORT: /* keep each key's value as it is here: later commands may change it */
        for (size_t k = 0; k < c->nitems; k++) {
            if ((rc = eval(r, c->items[k].expr, &v)) != OWL_OK)
                return rc;
            slot_put(r, c->items[k].slot, &v);
        }
        return OWL_OK;
    case C_FILTER:
        if ((rc = eval(r, c->expr, &v)) != OWL_OK)
            return rc;
        *keep = truthy(&v);
        return OWL_OK;
    case C_PARSE:
        return do_parse(r, c);
    default:
        return OWL_OK;
    }
}

/* ---------- kept rows ---------- */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* The total order of the boundary: its sort keys (nulls last), then newest first, then @ptr. */
static int ord_cmp(const owl_ins_run *r, const ins_val *av, const hdr *ah, const ins_val *bv,
                   const hdr *bh)
{
    for (size_t k = 0; k < r->nord; k++) {
        const ins_val *a = &av[r->ord[k].slot], *b = &bv[r->ord[k].slot];
        if (a->t == VT_NULL || b->t == VT_NULL) {
            if (a->t != b->t)
                return a->t == VT_NULL ? 1 : -1;
            continue;
        }
        int c = ins_sort_cmp(a, b);
        if (c)
            return r->ord[k].desc ? -c : c;
    }
    if (ah->time_ms != bh->time_ms)
        return ah->time_ms > bh->time_ms ? -1 : 1;
    if (ah->ingest_ms != bh->ingest_ms)
        return ah->ingest_ms > bh->ingest_ms ? -1 : 1;
    return bytes_cmp(ah->ptr, ah->ptrn, bh->ptr, bh->ptrn);
}

/* A copy of the working row's values of the slots in need (all set ones when NULL). */
static int materialize(owl_ins_run *r, const uint8_t *need, row **out, owl_error *err)
{
    size_t ns = r->q->nslots, bytes = sizeof(row) + ns * sizeof(ins_val) + r->h.ptrn;
    for (size_t k = 0; k < ns; k++) {
        if (need && !need[k])
            continue;
        const ins_val *v = need ? slot_get(r, (int)k) : (r->set[k] ? &r->v[k] : NULL);
        if (v && v->s && (v->t == VT_STR || v->t == VT_NUM))
            bytes += v->n;
    }
    int rc = charge(r, bytes, err);
    if (rc != OWL_OK)
        return rc;
    row *w = malloc(bytes);
    if (!w)
        return oom(r, err);
    w->bytes = bytes;
    w->h = r->h;
    char *p = (char *)&w->v[ns];
    if (r->h.ptrn)
        memcpy(p, r->h.ptr, r->h.ptrn);
    w->h.ptr = p;
    p += r->h.ptrn;
    for (size_t k = 0; k < ns; k++) {
        memset(&w->v[k], 0, sizeof w->v[k]);
        if ((need && !need[k]) || !r->set[k])
            continue;
        w->v[k] = r->v[k];
        if (w->v[k].s && (w->v[k].t == VT_STR || w->v[k].t == VT_NUM)) {
            memcpy(p, w->v[k].s, w->v[k].n);
            w->v[k].s = p;
            p += w->v[k].n;
        } else if (w->v[k].t != VT_NUM) {
            w->v[k].s = NULL;
        }
    }
    *out = w;
    return OWL_OK;
}

static void row_free(owl_ins_run *r, row *w)
{
    if (w) {
        discharge(r, w->bytes);
        free(w);
    }
}

static int vec_push(owl_ins_run *r, rowvec *v, row *w, owl_error *err)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int rc = charge(r, (cap - v->cap) * sizeof(row *), err);
        if (rc != OWL_OK)
            return rc;
        row **p = realloc(v->r, cap * sizeof *p);
        if (!p)
            return oom(r, err);
        v->r = p;
        v->cap = cap;
    }
    v->r[v->n++] = w;
    return OWL_OK;
}

static void vec_free(owl_ins_run *r, rowvec *v)
{
    for (size_t k = 0; k < v->n; k++)
        row_free(r, v->r[k]);
    discharge(r, v->cap * sizeof(row *));
    free(v->r);
    memset(v, 0, sizeof *v);
}

/* ---- the top-N heap: a max-heap in ord_cmp order, its root the worst row kept ---- */

static int heap_worse(const owl_ins_run *r, const row *a, const row *b)
{
    return ord_cmp(r, a->v, &a->h, b->v, &b->h) > 0;
}

static void sift_down(owl_ins_run *r, size_t i)
{
    rowvec *h = &r->heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < h->n && heap_worse(r, h->r[l], h->r[m]))
            m = l;
        if (l + 1 < h->n && heap_worse(r, h->r[l + 1], h->r[m]))
            m = l + 1;
        if (m == i)
            return;
        row *t = h->r[i];
        h->r[i] = h->r[m];
        h->r[m] = t;
        i = m;
    }
}

static int heap_offer(owl_ins_run *r, owl_error *err)
{
    rowvec *h = &r->heap;
    row *w;
    int rc;
    if (h->n >= r->heap_k) {
        if (ord_cmp(r, r->v, &r->h, h->r[0]->v, &h->r[0]->h) >= 0)
            return OWL_OK;
        if ((rc = materialize(r, r->need, &w, err)) != OWL_OK)
            return rc;
        row_free(r, h->r[0]);
        h->r[0] = w;
        sift_down(r, 0);
        return OWL_OK;
    }
    if ((rc = materialize(r, r->need, &w, err)) != OWL_OK)
        return rc;
    if ((rc = vec_push(r, h, w, err)) != OWL_OK) {
        row_free(r, w);
        return rc;
    }
    for (size_t i = h->n - 1; i > 0;) {
        size_t p = (i - 1) / 2;
        if (!heap_worse(r, h->r[i], h->r[p]))
            break;
        row *t = h->r[i];
        h->r[i] = h->r[p];
        h->r[p] = t;
        i = p;
    }
    return OWL_OK;
}

/* The text key of the values of items' slots (or expressions) into r->kbuf; 0 when one is
 * null and nulls are refused. */
static int make_key(owl_ins_run *r, const ins_item *items, size_t n, int by_expr, ins_val *vals,
                    int refuse_null, int *ok)
{
    owl_buf_reset(&r->kbuf);
    *ok = 1;
    for (size_t k = 0; k < n; k++) {
        ins_val v;
        int rc = OWL_OK;
        if (by_expr)
            rc = eval(r, items[k].expr, &v);
        else
            v = *slot_get(r, items[k].slot);
        if (rc != OWL_OK)
            return rc;
        if (vals)
            vals[k] = v;
        if (v.t == VT_NULL && refuse_null) {
            *ok = 0;
            return OWL_OK;
        }
        char buf[40];
        size_t tn;
        const char *t = ins_val_text(&v, buf, &tn);
        uint32_t l = v.t == VT_NULL ? UINT32_MAX : (uint32_t)tn;
        if (owl_buf_append(&r->kbuf, &l, sizeof l) != OWL_OK ||
            (v.t != VT_NULL && owl_buf_append(&r->kbuf, t, tn) != OWL_OK))
            return OWL_ENOMEM;
    }
    return OWL_OK;
}

static int dedup_offer(owl_ins_run *r, const ins_cmd *c, owl_error *err)
{
    int ok, added, rc = make_key(r, c->items, c->nitems, 0, NULL, 1, &ok);
    row *w;
    if (rc != OWL_OK)
        return rc == OWL_ENOMEM ? oom(r, err) : rc;
    if (!ok) { /* null keys are never duplicates */
        if ((rc = materialize(r, r->need, &w, err)) != OWL_OK)
            return rc;
        if ((rc = vec_push(r, &r->nulls, w, err)) != OWL_OK)
            row_free(r, w);
        return rc;
    }
    long j = sset_find(r, &r->dmap, r->kbuf.data ? r->kbuf.data : "", r->kbuf.len, &added, err,
                       &rc);
    if (j < 0)
        return rc;
    row *old = r->dmap.val[j];
    if (old && ord_cmp(r, r->v, &r->h, old->v, &old->h) >= 0)
        return OWL_OK;
    if ((rc = materialize(r, r->need, &w, err)) != OWL_OK)
        return rc;
    row_free(r, old);
    r->dmap.val[j] = w;
    return OWL_OK;
}

/* ---------- aggregation ---------- */

static void agg_free_group(owl_ins_run *r, const ins_cmd *c, group *g)
{
    if (!g)
        return;
    for (size_t k = 0; k < c->naggs && g->st; k++) {
        free(g->st[k].valbuf);
        free(g->st[k].vals);
        if (g->st[k].set) {
            sset_free(g->st[k].set);
            free(g->st[k].set);
        }
    }
    free(g->st);
    free(g->key);
    free(g->byv);
    free(g->byv_buf);
    free(g);
    (void)r;
}

static void aggr_free(owl_ins_run *r, aggr *a)
{
    for (size_t k = 0; k < a->nlist; k++)
        agg_free_group(r, a->c, a->list[k]);
    free(a->tab);
    free(a->list);
    memset(a, 0, sizeof *a);
}

/* A copy of v (its string bytes malloc'ed into *buf, *bufn of them) for a value an aggregate
 * keeps. */
static int keep_val(owl_ins_run *r, ins_val *dst, char **buf, size_t *bufn, const ins_val *v,
                    owl_error *err)
{
    int text = v->t == VT_STR || v->t == VT_NUM;
    size_t n = text && v->s ? v->n : 0;
    char *p = NULL;
    if (n) {
        int rc = charge(r, n, err);
        if (rc != OWL_OK)
            return rc;
        if (!(p = malloc(n)))
            return oom(r, err);
        memcpy(p, v->s, n);
    }
    discharge(r, *bufn);
    free(*buf);
    *buf = p;
    *bufn = n;
    *dst = *v;
    dst->s = !text ? NULL : p ? p : v->t == VT_STR ? "" : NULL;
    return OWL_OK;
}

static int64_t row_time(owl_ins_run *r, int *ok)
{
    if (r->ev) {
        *ok = 1;
        return r->ev->time_ms;
    }
    int ts = -1;
    for (size_t k = 0; k < r->q->nslots && ts < 0; k++)
        if (r->q->slots[k].sys == SYS_TIMESTAMP)
            ts = (int)k;
    double x;
    *ok = ts >= 0 && ins_val_numeric(slot_get(r, ts), &x);
    return *ok ? (int64_t)x : 0;
}

static int agg_update(owl_ins_run *r, const ins_agg *ag, aggst *s, owl_error *err)
{
    ins_val v;
    double x;
    int rc, added;
    if (ag->kind == AG_COUNT_STAR) {
        s->count++;
        return OWL_OK;
    }
    if ((rc = eval(r, ag->arg, &v)) != OWL_OK)
        return rc == OWL_ENOMEM ? oom(r, err) : rc;
    if (v.t == VT_NULL)
        return OWL_OK;
    switch (ag->kind) {
    case AG_COUNT:
        s->count++;
        return OWL_OK;
    case AG_COUNT_DISTINCT: {
        char buf[40];
        size_t n;
        const char *t = ins_val_text(&v, buf, &n);
        if (!s->set) {
            if ((rc = charge(r, sizeof(sset), err)) != OWL_OK)
                return rc;
            if (!(s->set = calloc(1, sizeof(sset))))
                return oom(r, err);
        }
        if (sset_find(r, s->set, t, n, &added, err, &rc) < 0)
            return rc;
        s->count += added;
        return OWL_OK;
    }
    case AG_SUM:
    case AG_AVG:
    case AG_STDDEV:
        if (!ins_val_numeric(&v, &x))
            return OWL_OK;
        s->count++;
        s->sum += x;
        long double d = x - s->mean;
        s->mean += d / (long double)s->count;
        s->m2 += d * (x - s->mean);
        return OWL_OK;
    case AG_MIN:
    case AG_MAX:
        if (!ins_val_numeric(&v, &x))
            return OWL_OK;
        /* equal numbers ("1" and "1.0") go to the text that sorts first: any arrival order */
        if (s->has && (ag->kind == AG_MIN ? x > s->best : x < s->best))
            return OWL_OK;
        if (s->has && x == s->best && ins_sort_cmp(&v, &s->val) >= 0)
            return OWL_OK;
        s->has = 1;
        s->best = x;
        return keep_val(r, &s->val, &s->valbuf, &s->valbufn, &v, err);
    case AG_PCT:
        if (!ins_val_numeric(&v, &x))
            return OWL_OK;
        if (s->nvals == s->cvals) {
            size_t cap = s->cvals ? s->cvals * 2 : 8;
            if ((rc = charge(r, (cap - s->cvals) * sizeof(double), err)) != OWL_OK)
                return rc;
            double *p = realloc(s->vals, cap * sizeof *p);
            if (!p)
                return oom(r, err);
            s->vals = p;
            s->cvals = cap;
        }
        s->time_kind = (s->nvals == 0 || s->time_kind) && v.t == VT_TIME;
        s->vals[s->nvals++] = x;
        return OWL_OK;
    case AG_EARLIEST:
    case AG_LATEST: {
        int ok;
        int64_t t = row_time(r, &ok);
        if (!ok)
            return OWL_OK;
        if (s->has) {
            int better = ag->kind == AG_EARLIEST ? t < s->best_ms : t > s->best_ms;
            if (!better && (t != s->best_ms || ins_sort_cmp(&v, &s->val) >= 0))
                return OWL_OK;
        }
        s->has = 1;
        s->best_ms = t;
        return keep_val(r, &s->val, &s->valbuf, &s->valbufn, &v, err);
    }
    default: /* sortsFirst, sortsLast */
        if (s->has) {
            int c = ins_sort_cmp(&v, &s->val);
            if (ag->kind == AG_SORTS_FIRST ? c >= 0 : c <= 0)
                return OWL_OK;
        }
        s->has = 1;
        return keep_val(r, &s->val, &s->valbuf, &s->valbufn, &v, err);
    }
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void agg_result(const ins_agg *ag, aggst *s, ins_val *o)
{
    memset(o, 0, sizeof *o);
    switch (ag->kind) {
    case AG_COUNT:
    case AG_COUNT_STAR:
    case AG_COUNT_DISTINCT:
        o->t = VT_NUM;
        o->num = (double)s->count;
        return;
    case AG_SUM:
    case AG_AVG:
        if (s->count) {
            o->t = VT_NUM;
            o->num = ag->kind == AG_SUM ? s->sum : s->sum / (double)s->count;
        }
        return;
    case AG_STDDEV:
        if (s->count) {
            o->t = VT_NUM;
            o->num = s->count > 1 ? (double)sqrtl(s->m2 / (long double)(s->count - 1)) : 0;
        }
        return;
    case AG_PCT: {
        if (!s->nvals)
            return;
        qsort(s->vals, s->nvals, sizeof *s->vals, dbl_cmp);
        double rank = ceil(ag->pct / 100.0 * (double)s->nvals);
        size_t i = rank < 1 ? 0 : (size_t)rank - 1;
        if (i >= s->nvals)
            i = s->nvals - 1;
        if (s->time_kind) {
            o->t = VT_TIME;
            o->ms = (int64_t)s->vals[i];
        } else {
            o->t = VT_NUM;
            o->num = s->vals[i];
        }
        return;
    }
    default:
        if (s->has)
            *o = s->val;
        return;
    }
}

static size_t group_bytes(const ins_cmd *c, size_t keyn)
{
    return sizeof(group) + keyn + c->nby * sizeof(ins_val) + c->naggs * sizeof(aggst) +
           2 * sizeof(group *);
}

static int aggr_grow(owl_ins_run *r, aggr *a, owl_error *err)
{
    size_t cap = a->cap ? a->cap * 2 : 64;
    int rc = charge(r, (cap - a->cap) * sizeof(group *), err);
    if (rc != OWL_OK)
        return rc;
    group **t = calloc(cap, sizeof *t);
    if (!t)
        return oom(r, err);
    for (size_t k = 0; k < a->cap; k++) {
        if (!a->tab[k])
            continue;
        size_t j = a->tab[k]->hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = a->tab[k];
    }
    free(a->tab);
    a->tab = t;
    a->cap = cap;
    return OWL_OK;
}

static int aggr_lookup(owl_ins_run *r, aggr *a, group **out, owl_error *err);

/* The group of the working row (created when new). */
static int aggr_group(owl_ins_run *r, aggr *a, group **out, owl_error *err)
{
    int64_t floor_ms = 0;
    int binned = 0;
    if (a->bin_slot >= 0) { /* datefloor of a time is a time: the same floor, the same key */
        const ins_val *t = slot_get(r, a->bin_slot);
        if (t->t == VT_TIME && t->ms >= -BIN_MAX_MS && t->ms <= BIN_MAX_MS) {
            floor_ms = ins_period_floor(t->ms, a->bin_num, a->bin_unit);
            binned = floor_ms > -BIN_MAX_MS && floor_ms < BIN_MAX_MS;
            if (binned && a->last && a->last_floor == floor_ms) {
                *out = a->last;
                return OWL_OK;
            }
        }
    }
    int rc = aggr_lookup(r, a, out, err);
    if (rc == OWL_OK && binned) {
        a->last = *out;
        a->last_floor = floor_ms;
        a->last_end = ins_period_next(floor_ms, a->bin_num, a->bin_unit);
    }
    return rc;
}

/* The group of the working row by the text of its key (created when new). */
static int aggr_lookup(owl_ins_run *r, aggr *a, group **out, owl_error *err)
{
    const ins_cmd *c = a->c;
    ins_val byv[64];
    int ok, rc = make_key(r, c->by, c->nby < 64 ? c->nby : 64, 1, byv, 0, &ok);
    if (rc != OWL_OK)
        return rc == OWL_ENOMEM ? oom(r, err) : rc;
    const char *key = r->kbuf.data ? r->kbuf.data : "";
    size_t keyn = r->kbuf.len;
    uint64_t h = owl_hash64(key, keyn, 0);
    if (a->cap)
        for (size_t j = h & (a->cap - 1); a->tab[j]; j = (j + 1) & (a->cap - 1))
            if (a->tab[j]->hash == h && a->tab[j]->keyn == keyn &&
                memcmp(a->tab[j]->key, key, keyn) == 0) {
                *out = a->tab[j];
                return OWL_OK;
            }
    if ((a->n + 1) * 10 > a->cap * 7 && (rc = aggr_grow(r, a, err)) != OWL_OK)
        return rc;
    size_t strb = 0;
    for (size_t k = 0; k < c->nby; k++)
        if (byv[k].s && (byv[k].t == VT_STR || byv[k].t == VT_NUM))
            strb += byv[k].n;
    if ((rc = charge(r, group_bytes(c, keyn) + strb, err)) != OWL_OK)
        return rc;
    group *g = calloc(1, sizeof *g);
    if (!g)
        return oom(r, err);
    g->key = malloc(keyn + 1);
    g->byv = calloc(c->nby + 1, sizeof *g->byv);
    g->byv_buf = malloc(strb + 1);
    g->st = calloc(c->naggs + 1, sizeof *g->st);
    if (a->nlist == a->clist) {
        size_t cl = a->clist ? a->clist * 2 : 64;
        group **l = realloc(a->list, cl * sizeof *l);
        if (l) {
            a->list = l;
            a->clist = cl;
        }
    }
    if (!g->key || !g->byv || !g->byv_buf || !g->st || a->nlist == a->clist) {
        agg_free_group(r, c, g);
        return oom(r, err);
    }
    memcpy(g->key, key, keyn);
    g->keyn = keyn;
    g->hash = h;
    char *p = g->byv_buf;
    for (size_t k = 0; k < c->nby; k++) {
        g->byv[k] = byv[k];
        if (byv[k].s && (byv[k].t == VT_STR || byv[k].t == VT_NUM)) {
            memcpy(p, byv[k].s, byv[k].n);
            g->byv[k].s = p;
            p += byv[k].n;
        }
    }
    g->seq = a->nlist;
    a->list[a->nlist++] = g;
    size_t j = h & (a->cap - 1);
    while (a->tab[j])
        j = (j + 1) & (a->cap - 1);
    a->tab[j] = g;
    a->n++;
    *out = g;
    return OWL_OK;
}

static int aggr_feed(owl_ins_run *r, aggr *a, owl_error *err)
{
    group *g;
    int rc = aggr_group(r, a, &g, err);
    for (size_t k = 0; rc == OWL_OK && k < a->c->naggs; k++)
        rc = agg_update(r, &a->c->aggs[k], &g->st[k], err);
    return rc;
}

/* Group rows in the order of their keys: each by value ascending (CloudWatch's sort order,
 * nulls last), then by key bytes. */
static int group_cmp(const void *x, const void *y, void *ud)
{
    const group *a = *(group *const *)x, *b = *(group *const *)y;
    const ins_cmd *c = ud;
    for (size_t k = 0; k < c->nby; k++) {
        const ins_val *p = &a->byv[k], *q = &b->byv[k];
        if (p->t == VT_NULL || q->t == VT_NULL) {
            if (p->t != q->t)
                return p->t == VT_NULL ? 1 : -1;
            continue;
        }
        int cmp = ins_sort_cmp(p, q);
        if (cmp)
            return cmp;
    }
    return bytes_cmp(a->key, a->keyn, b->key, b->keyn);
}

/* Turns the groups into rows (the by values and the stats items) appended to out. */
static int aggr_rows(owl_ins_run *r, aggr *a, rowvec *out, owl_error *err)
{
    const ins_cmd *c = a->c;
    ins_val res[64];
    int rc = OWL_OK;
    if (a->nlist == 0 && c->nby == 0) { /* stats without groups over nothing: one row */
        row_reset(r, NULL);
        r->discovered = 1;
        rc = aggr_group(r, a, &(group *){NULL}, err);
        if (rc != OWL_OK)
            return rc;
    }
    if (a->nlist > 1)
        qsort_r(a->list, a->nlist, sizeof *a->list, group_cmp, (void *)c);
    for (size_t gi = 0; gi < a->nlist && rc == OWL_OK; gi++) {
        group *g = a->list[gi];
        row_reset(r, NULL);
        r->discovered = 1;
        memset(&r->h, 0, sizeof r->h);
        r->h.seq = gi;
        for (size_t k = 0; k < c->naggs && k < 64; k++)
            agg_result(&c->aggs[k], &g->st[k], &res[k]);
        r->aggres = res;
        for (size_t k = 0; k < c->nby; k++)
            slot_put(r, c->by[k].slot, &g->byv[k]);
        for (size_t k = 0; k < c->nitems && rc == OWL_OK; k++) {
            ins_val v;
            if ((rc = eval(r, c->items[k].expr, &v)) == OWL_OK)
                slot_put(r, c->items[k].slot, &v);
            else if (rc == OWL_ENOMEM)
                rc = oom(r, err);
        }
        r->aggres = NULL;
        row *w;
        if (rc == OWL_OK && (rc = materialize(r, NULL, &w, err)) == OWL_OK &&
            (rc = vec_push(r, out, w, err)) != OWL_OK)
            row_free(r, w);
    }
    return rc;
}

/* ---------- the run ---------- */

static void mark(const owl_ins_query *q, int e, uint8_t *need)
{
    if (e < 0)
        return;
    const ins_node *nd = &q->nodes[e];
    if (nd->kind == E_FIELD)
        need[nd->slot] = 1;
    mark(q, nd->a, need);
    mark(q, nd->b, need);
    if (nd->kind == E_CALL || nd->kind == E_IN)
        for (size_t k = 0; k < nd->nargs; k++)
            mark(q, q->args[nd->arg0 + k], need);
}

/* Plans the boundary: where it is, the order it keeps rows in, and the slots a kept row must
 * hold for the commands after it. */
static int plan(owl_ins_run *r)
{
    const owl_ins_query *q = r->q;
    size_t b = 0;
    while (b < q->ncmds && q->cmds[b].kind != C_LIMIT && q->cmds[b].kind != C_DEDUP &&
           q->cmds[b].kind != C_STATS)
        b++;
    r->b = b;
    r->bkind = b == q->ncmds || q->cmds[b].kind == C_LIMIT ? B_HEAP
             : q->cmds[b].kind == C_DEDUP                  ? B_DEDUP
                                                           : B_STATS;
    r->heap_k = b < q->ncmds && q->cmds[b].kind == C_LIMIT ? q->cmds[b].limit : r->max_rows;
    if (r->heap_k > r->max_rows && b + 1 >= q->ncmds)
        r->heap_k = r->max_rows;
    size_t nkeys = 0;
    for (size_t k = 0; k < b; k++)
        if (q->cmds[k].kind == C_SORT)
            nkeys += q->cmds[k].nitems;
    r->ord = calloc(nkeys + 1, sizeof *r->ord);
    r->need = calloc(q->nslots + 1, 1);
    if (!r->ord || !r->need)
        return OWL_ENOMEM;
    for (size_t k = b; k-- > 0;) /* the last sort first; earlier ones break its ties */
        for (size_t j = 0; q->cmds[k].kind == C_SORT && j < q->cmds[k].nitems; j++) {
            r->ord[r->nord].slot = q->cmds[k].items[j].slot;
            r->ord[r->nord++].desc = q->cmds[k].items[j].desc;
            r->need[q->cmds[k].items[j].slot] = 1;
        }
    for (size_t k = b; k < q->ncmds; k++) {
        const ins_cmd *c = &q->cmds[k];
        mark(q, c->expr, r->need);
        for (size_t j = 0; j < c->nitems; j++) {
            mark(q, c->items[j].expr, r->need);
            if (c->kind == C_DISPLAY || c->kind == C_DEDUP)
                r->need[c->items[j].slot] = 1;
        }
        for (size_t j = 0; j < c->nby; j++)
            mark(q, c->by[j].expr, r->need);
        for (size_t j = 0; j < c->naggs; j++)
            mark(q, c->aggs[j].arg, r->need);
    }
    for (size_t k = 0; k < q->noutcols; k++)
        r->need[q->outcols[k]] = 1;
    for (size_t k = 0; k < q->nslots; k++) /* earliest/latest of a later stats read it */
        if (q->slots[k].sys == SYS_TIMESTAMP)
            r->need[k] = 1;
    r->ag.bin_slot = -1;
    if (r->bkind == B_STATS) {
        r->ag.c = &q->cmds[b];
        const ins_cmd *c = r->ag.c;
        const ins_node *k = c->nby == 1 ? &q->nodes[c->by[0].expr] : NULL;
        if (k && k->kind == E_CALL && strcmp(ins_fns[k->fn].name, "datefloor") == 0) {
            const ins_node *f = &q->nodes[q->args[k->arg0]];
            const ins_node *p = &q->nodes[q->args[k->arg0 + 1]];
            if (f->kind == E_FIELD && p->kind == E_PERIOD && p->unit == U_FIXED) {
                r->ag.bin_slot = f->slot;
                r->ag.bin_num = p->num;
                r->ag.bin_unit = p->unit;
            }
        }
    }
    r->tord = owl_ins_time_order(q);
    if (b == 0 && r->bkind == B_STATS && r->ag.bin_slot >= 0 &&
        q->slots[r->ag.bin_slot].sys == SYS_TIMESTAMP) {
        r->count_bins = 1;
        for (size_t k = 0; k < r->ag.c->naggs; k++)
            r->count_bins &= r->ag.c->aggs[k].kind == AG_COUNT_STAR;
    }
    return OWL_OK;
}

/* Whether the @timestamp slot s still holds the event's own time at command `at`: no fields
 * (other than `fields @timestamp` itself) or parse command before it writes s. */
static int event_time_at(const owl_ins_query *q, size_t at, int s)
{
    if (s < 0 || q->slots[s].sys != SYS_TIMESTAMP)
        return 0;
    for (size_t k = 0; k < at; k++) {
        const ins_cmd *c = &q->cmds[k];
        for (size_t j = 0; c->kind == C_FIELDS && j < c->nitems; j++)
            if (c->items[j].slot == s && !ins_item_keeps(q, &c->items[j]))
                return 0;
        for (size_t j = 0; c->kind == C_PARSE && j < c->nouts; j++)
            if (c->outs[j] == s)
                return 0;
    }
    return 1;
}

int owl_ins_time_order(const owl_ins_query *q)
{
    size_t b = 0;
    while (b < q->ncmds && q->cmds[b].kind != C_LIMIT && q->cmds[b].kind != C_DEDUP &&
           q->cmds[b].kind != C_STATS)
        b++;
    if (b < q->ncmds && q->cmds[b].kind != C_LIMIT)
        return 0;
    for (size_t k = b; k-- > 0;) { /* the last sort decides the order; its first key leads */
        const ins_cmd *c = &q->cmds[k];
        if (c->kind != C_SORT || !c->nitems)
            continue;
        const ins_node *nd = &q->nodes[c->items[0].expr];
        if (nd->kind != E_FIELD || !event_time_at(q, k, nd->slot))
            return 0;
        return c->items[0].desc ? -1 : 1;
    }
    return -1; /* no sort: CloudWatch's default, newest first */
}

int owl_ins_run_past(const owl_ins_run *r, int64_t time_ms)
{
    if (r->failed || (r->tord && r->heap_k == 0))
        return 1;
    if (!r->tord || r->heap.n < r->heap_k)
        return 0;
    int64_t worst = r->heap.r[0]->h.time_ms;
    return r->tord < 0 ? time_ms < worst : time_ms > worst;
}

static int build_want(owl_ins_run *r)
{
    const owl_ins_query *q = r->q;
    size_t n = 0;
    for (size_t k = 0; k < q->nslots; k++)
        n += q->slots[k].discover;
    if (!n)
        return OWL_OK;
    r->wcap = 16;
    while (r->wcap < 2 * n)
        r->wcap *= 2;
    r->whash = calloc(r->wcap, sizeof *r->whash);
    r->wslot = malloc(r->wcap * sizeof *r->wslot);
    if (!r->whash || !r->wslot)
        return OWL_ENOMEM;
    for (size_t j = 0; j < r->wcap; j++)
        r->wslot[j] = -1;
    for (size_t k = 0; k < q->nslots; k++) {
        if (!q->slots[k].discover)
            continue;
        uint64_t h = owl_hash64(q->slots[k].name, q->slots[k].n, 0);
        size_t j = h & (r->wcap - 1);
        while (r->wslot[j] >= 0)
            j = (j + 1) & (r->wcap - 1);
        r->whash[j] = h;
        r->wslot[j] = (int)k;
    }
    return OWL_OK;
}

int owl_ins_run_new(const owl_ins_query *q, const owl_ins_limits *lim, owl_ins_run **out,
                    owl_error *err)
{
    *out = NULL;
    owl_ins_run *r = calloc(1, sizeof *r);
    if (!r)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    r->q = q;
    r->max_bytes = lim && lim->max_bytes ? lim->max_bytes : OWL_INS_DEFAULT_MAX_BYTES;
    r->max_rows = lim && lim->max_rows ? lim->max_rows : OWL_INS_DEFAULT_MAX_ROWS;
    owl_arena_init(&r->sc.a, 64 << 10);
    r->v = calloc(q->nslots + 1, sizeof *r->v);
    r->set = calloc(q->nslots + 1, 1);
    r->md = calloc(q->nre + 1, sizeof *r->md);
    int rc = r->v && r->set && r->md ? OWL_OK : OWL_ENOMEM;
    for (size_t k = 0; k < q->nre && rc == OWL_OK; k++)
        if (!(r->md[k] = pcre2_match_data_create_from_pattern(q->re[k], NULL)))
            rc = OWL_ENOMEM;
    if (rc == OWL_OK)
        rc = plan(r);
    if (rc == OWL_OK)
        rc = build_want(r);
    if (rc != OWL_OK) {
        owl_ins_run_free(r);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    *out = r;
    return OWL_OK;
}

int owl_ins_run_feed(owl_ins_run *r, const owl_ins_event *ev, owl_error *err)
{
    if (r->finished)
        return owl_error_set(err, OWL_EINVAL, "the run is finished");
    if (r->failed)
        return owl_error_set(err, r->failed, "the run failed before: %s",
                             owl_strerror(r->failed));
    const owl_ins_query *q = r->q;
    r->st.records_scanned++;
    r->st.bytes_scanned += ev->message.n;
    row_reset(r, ev);
    r->h = (hdr){ev->time_ms, ev->ingest_ms, ev->ptr.p, (uint32_t)ev->ptr.n, r->seq++};
    int rc = OWL_OK, keep = 1;
    for (size_t k = 0; k < r->b && keep && rc == OWL_OK; k++)
        rc = local_cmd(r, &q->cmds[k], &keep);
    if (rc == OWL_ENOMEM)
        return oom(r, err);
    if (rc != OWL_OK || !keep)
        return rc;
    r->st.records_matched++;
    switch (r->bkind) {
    case B_HEAP:
        return heap_offer(r, err);
    case B_DEDUP:
        return dedup_offer(r, &q->cmds[r->b], err);
    default:
        return aggr_feed(r, &r->ag, err);
    }
}

/* The count-by-bin way (r->count_bins): an event in the last group's period only adds to its
 * counts; any other goes the whole way, which makes its group the last. t[i] or ev[i].time_ms
 * (ev NULL: times alone, the rest of the event empty). */
static int feed_bins(owl_ins_run *r, const owl_ins_event *ev, const int64_t *t, size_t n,
                     owl_error *err)
{
    aggr *a = &r->ag;
    size_t naggs = a->c->naggs;
    uint64_t seen = 0, bytes = 0; /* counts kept in registers, written back per group */
    for (size_t i = 0; i < n;) {
        group *g = a->last;
        int64_t lo = g ? a->last_floor : 0, hi = g ? a->last_end : 0;
        if (hi > BIN_MAX_MS + 1)
            hi = BIN_MAX_MS + 1;
        size_t j = i;
        if (ev)
            for (; j < n && ev[j].time_ms >= lo && ev[j].time_ms < hi; j++)
                bytes += ev[j].message.n;
        else
            for (; j < n && t[j] >= lo && t[j] < hi; j++)
                ;
        if (j > i) {
            for (size_t k = 0; k < naggs; k++)
                g->st[k].count += j - i;
            seen += j - i;
            i = j;
            continue;
        }
        owl_ins_event one = {.time_ms = t ? t[i] : 0};
        int rc = owl_ins_run_feed(r, ev ? &ev[i] : &one, err);
        if (rc != OWL_OK)
            return rc;
        i++;
    }
    r->st.records_scanned += seen;
    r->st.records_matched += seen;
    r->st.bytes_scanned += bytes;
    r->seq += seen;
    return OWL_OK;
}

int owl_ins_run_feed_batch(owl_ins_run *r, const owl_ins_event *ev, size_t n, owl_error *err)
{
    if (r->count_bins && !r->finished && !r->failed)
        return feed_bins(r, ev, NULL, n, err);
    for (size_t i = 0; i < n; i++) {
        int rc = owl_ins_run_feed(r, &ev[i], err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

int owl_ins_run_times_only(const owl_ins_run *r)
{
    return r->count_bins;
}

int owl_ins_run_feed_times(owl_ins_run *r, const int64_t *t, size_t n, owl_error *err)
{
    if (!r->count_bins)
        return owl_error_set(err, OWL_EINVAL, "this query needs more of an event than its time");
    if (n && (r->finished || r->failed)) /* owl_ins_run_feed's own error */
        return owl_ins_run_feed(r, &(owl_ins_event){.time_ms = t[0]}, err);
    return feed_bins(r, NULL, t, n, err);
}

int owl_ins_run_done(owl_ins_run *r, int *done)
{
    *done = r->failed != 0;
    return OWL_OK;
}

/* ---------- finishing: the commands after the boundary ---------- */

static int keyed_cmp(const ins_cmd *c, const row *a, const row *b)
{
    for (size_t k = 0; k < c->nitems; k++) {
        const ins_val *x = &a->v[c->items[k].slot], *y = &b->v[c->items[k].slot];
        if (x->t == VT_NULL || y->t == VT_NULL) {
            if (x->t != y->t)
                return x->t == VT_NULL ? 1 : -1;
            continue;
        }
        int cmp = ins_sort_cmp(x, y);
        if (cmp)
            return c->items[k].desc ? -cmp : cmp;
    }
    return a->h.seq < b->h.seq ? -1 : a->h.seq > b->h.seq;
}

static int stage_sort_cmp(const void *x, const void *y, void *ud)
{
    return keyed_cmp(ud, *(row *const *)x, *(row *const *)y);
}

static int boundary_cmp(const void *x, const void *y, void *ud)
{
    const row *a = *(row *const *)x, *b = *(row *const *)y;
    const owl_ins_run *r = ud;
    return ord_cmp(r, a->v, &a->h, b->v, &b->h);
}

/* Applies a row-local command to every row of v (rows a filter drops are freed). */
static int stage_local(owl_ins_run *r, const ins_cmd *c, rowvec *v, owl_error *err)
{
    size_t kept = 0;
    int rc = OWL_OK;
    for (size_t k = 0; k < v->n; k++) {
        row *w = v->r[k];
        if (rc != OWL_OK || c->kind == C_DISPLAY) {
            v->r[kept++] = w;
            continue;
        }
        row_reset(r, NULL);
        row_load(r, w);
        int keep = 1;
        rc = local_cmd(r, c, &keep);
        if (rc == OWL_ENOMEM)
            rc = oom(r, err);
        if (rc == OWL_OK && !keep) {
            row_free(r, w);
            continue;
        }
        if (rc == OWL_OK && c->kind != C_FILTER) {
            row *nw;
            if ((rc = materialize(r, NULL, &nw, err)) == OWL_OK) {
                row_free(r, w);
                w = nw;
            }
        }
        v->r[kept++] = w;
    }
    v->n = kept;
    return rc;
}

static int stage_dedup(owl_ins_run *r, const ins_cmd *c, rowvec *v, owl_error *err)
{
    sset seen = {0};
    size_t kept = 0;
    int rc = OWL_OK;
    for (size_t k = 0; k < v->n; k++) {
        row *w = v->r[k];
        int ok = 1, added = 1;
        if (rc == OWL_OK) {
            row_reset(r, NULL);
            row_load(r, w);
            rc = make_key(r, c->items, c->nitems, 0, NULL, 1, &ok);
            if (rc == OWL_ENOMEM)
                rc = oom(r, err);
            if (rc == OWL_OK && ok &&
                sset_find(r, &seen, r->kbuf.data ? r->kbuf.data : "", r->kbuf.len, &added,
                          err, &rc) < 0)
                added = 1;
        }
        if (rc == OWL_OK && !added)
            row_free(r, w);
        else
            v->r[kept++] = w;
    }
    v->n = kept;
    sset_free(&seen);
    return rc;
}

static int stage(owl_ins_run *r, size_t from, rowvec *v, owl_error *err)
{
    const owl_ins_query *q = r->q;
    int rc = OWL_OK;
    for (size_t k = from; k < q->ncmds && rc == OWL_OK; k++) {
        const ins_cmd *c = &q->cmds[k];
        switch (c->kind) {
        case C_LIMIT:
            while (v->n > c->limit)
                row_free(r, v->r[--v->n]);
            break;
        case C_DEDUP:
            rc = stage_dedup(r, c, v, err);
            break;
        case C_STATS: {
            /* the groups' bytes are given back once they are rows */
            aggr a = {.c = c, .bin_slot = -1};
            size_t before = r->used, fed;
            for (size_t j = 0; j < v->n && rc == OWL_OK; j++) {
                row_reset(r, NULL);
                row_load(r, v->r[j]);
                rc = aggr_feed(r, &a, err);
            }
            fed = r->used;
            rowvec nv = {0};
            if (rc == OWL_OK)
                rc = aggr_rows(r, &a, &nv, err);
            aggr_free(r, &a);
            if (rc == OWL_OK)
                r->used = before + (r->used - fed);
            vec_free(r, v);
            *v = nv;
            break;
        }
        default:
            rc = stage_local(r, c, v, err);
            if (rc == OWL_OK && c->kind == C_SORT) {
                for (size_t j = 0; j < v->n; j++)
                    v->r[j]->h.seq = j;
                if (v->n > 1)
                    qsort_r(v->r, v->n, sizeof *v->r, stage_sort_cmp, (void *)c);
            }
            break;
        }
    }
    return rc;
}

/* ---------- results ---------- */

typedef struct rfield {
    size_t name, namen, val, valn; /* offsets into text */
} rfield;

struct owl_ins_result {
    char *text;
    size_t *rowstart; /* nrows + 1 entries into fields */
    rfield *fields;
    size_t nrows;
    owl_ins_stats st;
};

static int build_result(owl_ins_run *r, rowvec *v, owl_ins_result **out)
{
    const owl_ins_query *q = r->q;
    owl_buf t = OWL_BUF_INIT;
    size_t nrows = v->n < r->max_rows ? v->n : r->max_rows, nf = 0, cf = 0;
    owl_ins_result *res = calloc(1, sizeof *res);
    rfield *f = NULL;
    if (!res || !(res->rowstart = calloc(nrows + 1, sizeof *res->rowstart)))
        goto nomem;
    for (size_t i = 0; i < nrows; i++) {
        const row *w = v->r[i];
        res->rowstart[i] = nf;
        for (size_t k = 0; k < q->noutcols; k++) {
            const ins_slot *sl = &q->slots[q->outcols[k]];
            ins_val val = w->v[q->outcols[k]];
            if (sl->sys == SYS_PTR && !q->aggregating && val.t == VT_NULL && w->h.ptrn) {
                val.t = VT_STR;
                val.s = w->h.ptr;
                val.n = w->h.ptrn;
            }
            if (val.t == VT_NULL)
                continue;
            char buf[40];
            size_t tn;
            const char *tx = ins_val_text(&val, buf, &tn);
            if (ins_grow((void **)&f, &cf, nf + 1, sizeof *f) != OWL_OK)
                goto nomem;
            f[nf].name = t.len;
            f[nf].namen = sl->n;
            if (owl_buf_append(&t, sl->name, sl->n) != OWL_OK || owl_buf_putc(&t, '\0'))
                goto nomem;
            f[nf].val = t.len;
            f[nf].valn = tn;
            if (owl_buf_append(&t, tx, tn) != OWL_OK || owl_buf_putc(&t, '\0'))
                goto nomem;
            nf++;
        }
    }
    res->rowstart[nrows] = nf;
    res->nrows = nrows;
    res->fields = f;
    res->text = t.data ? owl_buf_steal(&t) : calloc(1, 1);
    if (!res->text)
        goto nomem;
    res->st = r->st;
    *out = res;
    return OWL_OK;
nomem:
    owl_buf_free(&t);
    free(f);
    if (res)
        free(res->rowstart);
    free(res);
    return OWL_ENOMEM;
}

int owl_ins_run_finish(owl_ins_run *r, owl_ins_result **out, owl_error *err)
{
    *out = NULL;
    if (r->finished)
        return owl_error_set(err, OWL_EINVAL, "the run is finished");
    if (r->failed)
        return owl_error_set(err, r->failed, "the run failed before: %s",
                             owl_strerror(r->failed));
    r->finished = 1;
    rowvec v = {0};
    int rc = OWL_OK;
    if (r->bkind == B_HEAP) {
        v = r->heap;
        memset(&r->heap, 0, sizeof r->heap);
        if (v.n > 1)
            qsort_r(v.r, v.n, sizeof *v.r, boundary_cmp, r);
    } else if (r->bkind == B_DEDUP) {
        v = r->nulls;
        memset(&r->nulls, 0, sizeof r->nulls);
        for (size_t j = 0; j < r->dmap.cap && rc == OWL_OK; j++)
            if (r->dmap.k && r->dmap.k[j] && r->dmap.val[j]) {
                rc = vec_push(r, &v, r->dmap.val[j], err);
                if (rc == OWL_OK)
                    r->dmap.val[j] = NULL;
            }
        if (rc == OWL_OK && v.n > 1)
            qsort_r(v.r, v.n, sizeof *v.r, boundary_cmp, r);
    } else {
        rc = aggr_rows(r, &r->ag, &v, err);
    }
    if (rc == OWL_OK)
        rc = stage(r, r->b + 1, &v, err);
    if (rc == OWL_OK && build_result(r, &v, out) != OWL_OK)
        rc = oom(r, err);
    vec_free(r, &v);
    return rc;
}

void owl_ins_run_free(owl_ins_run *r)
{
    if (!r)
        return;
    vec_free(r, &r->heap);
    vec_free(r, &r->nulls);
    for (size_t j = 0; r->dmap.val && j < r->dmap.cap; j++)
        free(r->dmap.val[j]);
    sset_free(&r->dmap);
    aggr_free(r, &r->ag);
    for (size_t k = 0; r->md && k < r->q->nre; k++)
        pcre2_match_data_free(r->md[k]);
    free(r->md);
    free(r->v);
    free(r->set);
    free(r->ord);
    free(r->need);
    free(r->whash);
    free(r->wslot);
    owl_buf_free(&r->kbuf);
    owl_arena_free(&r->sc.a);
    free(r);
}

size_t owl_ins_result_rows(const owl_ins_result *res)
{
    return res->nrows;
}

size_t owl_ins_result_nfields(const owl_ins_result *res, size_t ri)
{
    return ri < res->nrows ? res->rowstart[ri + 1] - res->rowstart[ri] : 0;
}

int owl_ins_result_field(const owl_ins_result *res, size_t ri, size_t i, owl_bytes *name,
                         owl_bytes *value)
{
    if (i >= owl_ins_result_nfields(res, ri))
        return OWL_ERANGE;
    const rfield *f = &res->fields[res->rowstart[ri] + i];
    *name = (owl_bytes){res->text + f->name, f->namen};
    *value = (owl_bytes){res->text + f->val, f->valn};
    return OWL_OK;
}

const char *owl_ins_result_get(const owl_ins_result *res, size_t ri, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < owl_ins_result_nfields(res, ri); i++) {
        const rfield *f = &res->fields[res->rowstart[ri] + i];
        if (f->namen == n && memcmp(res->text + f->name, name, n) == 0)
            return res->text + f->val;
    }
    return NULL;
}

void owl_ins_result_stats(const owl_ins_result *res, owl_ins_stats *st)
{
    *st = res->st;
}

void owl_ins_result_free(owl_ins_result *res)
{
    if (!res)
        return;
    free(res->text);
    free(res->rowstart);
    free(res->fields);
    free(res);
}

/* insights_parse.c — the CloudWatch Logs Insights query parser: text to the compiled query of
 * insights.h (commands, expression nodes, slots), the output columns, and the push-down
 * condition for the store (owl_ins_filter). Language and choices: docs/insights.md.
 *
 * Invariants: every error is OWL_EINVAL (or OWL_ENOMEM) with a message that starts with
 * "line L, column C: " naming a byte of the text or the one past its end; the push-down
 * condition is necessary: every event the query's leading filters keep passes it
 * (tests/unit/test_insights.c and the fuzz target check this). */
#include "index/insights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tk { T_EOF, T_IDENT, T_BQ, T_NUM, T_DUR, T_STR, T_PIPE, T_COMMA, T_LP, T_RP, T_LB, T_RB,
          T_OP };

typedef struct tok {
    int kind;
    size_t pos, len;
    double num;   /* T_NUM, T_DUR (the count) */
    double ms;    /* T_DUR: ms of one unit (fixed units) */
    int unit;     /* T_DUR: enum ins_unit */
} tok;

typedef struct parser {
    const char *s;
    size_t n, i;
    tok t;
    size_t prev_end;   /* end of the last token consumed */
    owl_ins_query *q;
    owl_error *err;
    int depth;
    ins_cmd *stats;     /* the stats command being read: aggregates go there */
    int in_agg;         /* inside an aggregate's arguments */
    int in_stats_item;  /* a stats item: fields only inside aggregates */
    int nstats;
    int after_dedup;
} parser;

/* ---------- helpers ---------- */

int ins_grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return OWL_OK;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return OWL_ENOMEM;
    *arr = p;
    *cap = c;
    return OWL_OK;
}

static int fail(parser *ps, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parser *ps, size_t at, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (size_t k = 0; k < at && k < ps->n; k++) {
        if (ps->s[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return owl_error_set(ps->err, OWL_EINVAL, "line %zu, column %zu: %s", line, col, msg);
}

static void describe(const parser *ps, const tok *t, char *out, size_t cap)
{
    if (t->kind == T_EOF) {
        snprintf(out, cap, "end of query");
        return;
    }
    size_t l = t->len > 24 ? 24 : t->len;
    int printable = 1;
    for (size_t k = 0; k < l; k++)
        if ((unsigned char)ps->s[t->pos + k] < 0x20 || ps->s[t->pos + k] == 0x7f)
            printable = 0;
    if (printable)
        snprintf(out, cap, "'%.*s%s'", (int)l, ps->s + t->pos, t->len > l ? "..." : "");
    else
        snprintf(out, cap, "byte 0x%02x", (unsigned char)ps->s[t->pos]);
}

static int expected(parser *ps, const char *what)
{
    char d[40];
    describe(ps, &ps->t, d, sizeof d);
    return fail(ps, ps->t.pos, "expected %s, found %s", what, d);
}

static int nomem(parser *ps)
{
    return owl_error_set(ps->err, OWL_ENOMEM, "out of memory");
}

/* ---------- lexer ---------- */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ident_start(unsigned char c)
{
    return is_alpha(c) || c == '_' || c == '@';
}

static int ident_byte(unsigned char c)
{
    return ident_start(c) || is_digit(c) || c == '.';
}

static const struct {
    const char *name;
    double ms;
    int unit;
} units[] = {
    {"ms", 1, U_FIXED},          {"msec", 1, U_FIXED},        {"msecs", 1, U_FIXED},
    {"millisecond", 1, U_FIXED}, {"milliseconds", 1, U_FIXED}, {"s", 1e3, U_FIXED},
    {"sec", 1e3, U_FIXED},       {"secs", 1e3, U_FIXED},      {"second", 1e3, U_FIXED},
    {"seconds", 1e3, U_FIXED},   {"m", 6e4, U_FIXED},         {"min", 6e4, U_FIXED},
    {"mins", 6e4, U_FIXED},      {"minute", 6e4, U_FIXED},    {"minutes", 6e4, U_FIXED},
    {"h", 36e5, U_FIXED},        {"hr", 36e5, U_FIXED},       {"hrs", 36e5, U_FIXED},
    {"hour", 36e5, U_FIXED},     {"hours", 36e5, U_FIXED},    {"d", 864e5, U_FIXED},
    {"day", 864e5, U_FIXED},     {"days", 864e5, U_FIXED},    {"w", 6048e5, U_FIXED},
    {"week", 6048e5, U_FIXED},   {"weeks", 6048e5, U_FIXED},  {"mo", 0, U_MONTH},
    {"mon", 0, U_MONTH},         {"mons", 0, U_MONTH},        {"month", 0, U_MONTH},
    {"months", 0, U_MONTH},      {"q", 0, U_QUARTER},         {"qtr", 0, U_QUARTER},
    {"qtrs", 0, U_QUARTER},      {"quarter", 0, U_QUARTER},   {"quarters", 0, U_QUARTER},
    {"y", 0, U_YEAR},            {"yr", 0, U_YEAR},           {"yrs", 0, U_YEAR},
    {"year", 0, U_YEAR},         {"years", 0, U_YEAR},
};

static int find_unit(const char *s, size_t n, double *ms, int *unit)
{
    for (size_t k = 0; k < OWL_ARRAY_LEN(units); k++)
        if (strlen(units[k].name) == n && strncasecmp(units[k].name, s, n) == 0) {
            *ms = units[k].ms;
            *unit = units[k].unit;
            return 1;
        }
    return 0;
}

static void skip_blank(parser *ps)
{
    for (;;) {
        while (ps->i < ps->n && (ps->s[ps->i] == ' ' || ps->s[ps->i] == '\t' ||
                                 ps->s[ps->i] == '\n' || ps->s[ps->i] == '\r'))
            ps->i++;
        if (ps->i < ps->n && ps->s[ps->i] == '#') {
            while (ps->i < ps->n && ps->s[ps->i] != '\n')
                ps->i++;
            continue;
        }
        return;
    }
}

/* The number at ps->i: D+ [. D*] [e [+-] D+], or . D+ */
static size_t number_end(const char *s, size_t n, size_t i)
{
    while (i < n && is_digit((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit((unsigned char)s[j])) {
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    return i;
}

/* Reads the next token into ps->t. */
static int next(parser *ps)
{
    ps->prev_end = ps->t.kind == T_EOF ? ps->prev_end : ps->t.pos + ps->t.len;
    skip_blank(ps);
    tok *t = &ps->t;
    memset(t, 0, sizeof *t);
    t->pos = ps->i;
    if (ps->i >= ps->n) {
        t->kind = T_EOF;
        return OWL_OK;
    }
    const char *s = ps->s;
    unsigned char c = (unsigned char)s[ps->i];
    static const char single[] = "|,()[]";
    static const int single_kind[] = {T_PIPE, T_COMMA, T_LP, T_RP, T_LB, T_RB};
    const char *sp = c ? strchr(single, c) : NULL;
    if (sp) {
        t->kind = single_kind[sp - single];
        t->len = 1;
        ps->i++;
        return OWL_OK;
    }
    if (c == '"' || c == '\'') {
        size_t k = ps->i + 1;
        while (k < ps->n && (unsigned char)s[k] != c) {
            if (s[k] == '\\' && k + 1 < ps->n)
                k++;
            k++;
        }
        if (k >= ps->n)
            return fail(ps, ps->i, "unterminated string");
        t->kind = T_STR;
        t->len = k + 1 - ps->i;
        ps->i = k + 1;
        return OWL_OK;
    }
    if (c == '`') {
        const char *e = memchr(s + ps->i + 1, '`', ps->n - ps->i - 1);
        if (!e)
            return fail(ps, ps->i, "unterminated `field name`");
        if (e == s + ps->i + 1)
            return fail(ps, ps->i, "empty `field name`");
        t->kind = T_BQ;
        t->len = (size_t)(e - (s + ps->i)) + 1;
        ps->i += t->len;
        return OWL_OK;
    }
    if (is_digit(c) || (c == '.' && ps->i + 1 < ps->n && is_digit((unsigned char)s[ps->i + 1]))) {
        size_t e = number_end(s, ps->n, ps->i);
        char buf[64];
        size_t l = e - ps->i;
        if (l >= sizeof buf)
            return fail(ps, ps->i, "number too long");
        memcpy(buf, s + ps->i, l);
        buf[l] = '\0';
        t->num = strtod(buf, NULL);
        t->kind = T_NUM;
        if (e < ps->n && is_alpha((unsigned char)s[e])) {
            size_t u = e;
            while (u < ps->n && is_alpha((unsigned char)s[u]))
                u++;
            if (u < ps->n && (is_digit((unsigned char)s[u]) || s[u] == '_' || s[u] == '@' ||
                              s[u] == '.'))
                return fail(ps, e, "unexpected '%c' after a number", s[e]);
            if (!find_unit(s + e, u - e, &t->ms, &t->unit))
                return fail(ps, e, "unknown time unit '%.*s' (expected ms, s, m, h, d, w, mo, q "
                                   "or y)", (int)(u - e > 20 ? 20 : u - e), s + e);
            t->kind = T_DUR;
            e = u;
        }
        t->len = e - ps->i;
        ps->i = e;
        return OWL_OK;
    }
    if (ident_start(c)) {
        size_t k = ps->i;
        while (k < ps->n && ident_byte((unsigned char)s[k]))
            k++;
        t->kind = T_IDENT;
        t->len = k - ps->i;
        ps->i = k;
        return OWL_OK;
    }
    static const char *const ops[] = {"!=", "<=", ">=", "=~", "=", "<", ">", "+", "-", "*",
                                      "/", "%", "^"};
    for (size_t k = 0; k < OWL_ARRAY_LEN(ops); k++) {
        size_t l = strlen(ops[k]);
        if (ps->n - ps->i >= l && memcmp(s + ps->i, ops[k], l) == 0) {
            t->kind = T_OP;
            t->len = l;
            ps->i += l;
            return OWL_OK;
        }
    }
    if (c >= 0x20 && c < 0x7f)
        return fail(ps, ps->i, "unexpected character '%c'", c);
    return fail(ps, ps->i, "unexpected byte 0x%02x", c);
}

static int is_op(const parser *ps, const char *op)
{
    return ps->t.kind == T_OP && ps->t.len == strlen(op) &&
           memcmp(ps->s + ps->t.pos, op, ps->t.len) == 0;
}

static int is_kw(const parser *ps, const char *kw)
{
    return ps->t.kind == T_IDENT && ps->t.len == strlen(kw) &&
           strncasecmp(ps->s + ps->t.pos, kw, ps->t.len) == 0;
}

static const char *const reserved[] = {"and", "or", "not", "like", "in", "as", "by", "asc",
                                       "desc"};

static int is_reserved(const parser *ps)
{
    for (size_t k = 0; k < OWL_ARRAY_LEN(reserved); k++)
        if (is_kw(ps, reserved[k]))
            return 1;
    return 0;
}

/* ---------- query building ---------- */

static int keep_str(parser *ps, char *p)
{
    owl_ins_query *q = ps->q;
    if (ins_grow((void **)&q->strs, &q->cstrs, q->nstrs + 1, sizeof *q->strs) != OWL_OK) {
        free(p);
        return nomem(ps);
    }
    q->strs[q->nstrs++] = p;
    return OWL_OK;
}

/* The string literal ps->t decoded: \" \' \\ \n \t \r stand for one byte; a backslash before
 * anything else is kept (so regular-expression text passes through). */
static int string_value(parser *ps, const char **out, size_t *outn)
{
    const char *s = ps->s + ps->t.pos + 1;
    size_t n = ps->t.len - 2, k = 0;
    char *b = malloc(n + 1);
    if (!b)
        return nomem(ps);
    for (size_t j = 0; j < n; j++) {
        if (s[j] == '\\' && j + 1 < n) {
            char e = s[j + 1];
            char r = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r'
                   : (e == '"' || e == '\'' || e == '\\') ? e : 0;
            if (r) {
                b[k++] = r;
                j++;
                continue;
            }
        }
        b[k++] = s[j];
    }
    b[k] = '\0';
    *out = b;
    *outn = k;
    return keep_str(ps, b);
}

static const struct {
    const char *name;
    uint8_t sys;
} sysfields[] = {
    {"@timestamp", SYS_TIMESTAMP}, {"@message", SYS_MESSAGE}, {"@logStream", SYS_STREAM},
    {"@log", SYS_LOG},             {"@ingestionTime", SYS_INGEST}, {"@ptr", SYS_PTR},
};

/* The slot called name[0..n) (created when new). -1 when out of memory. */
static int intern(owl_ins_query *q, const char *name, size_t n)
{
    uint64_t h = owl_hash64(name, n, 0);
    for (size_t k = 0; k < q->nslots; k++)
        if (!q->slots[k].hidden && q->slots[k].hash == h && q->slots[k].n == n &&
            memcmp(q->slots[k].name, name, n) == 0)
            return (int)k;
    if (ins_grow((void **)&q->slots, &q->cslots, q->nslots + 1, sizeof *q->slots) != OWL_OK)
        return -1;
    ins_slot *sl = &q->slots[q->nslots];
    memset(sl, 0, sizeof *sl);
    sl->name = malloc(n + 1);
    if (!sl->name)
        return -1;
    memcpy(sl->name, name, n);
    sl->name[n] = '\0';
    sl->n = n;
    sl->hash = h;
    for (size_t k = 0; k < OWL_ARRAY_LEN(sysfields); k++)
        if (strlen(sysfields[k].name) == n && memcmp(sysfields[k].name, name, n) == 0)
            sl->sys = sysfields[k].sys;
    sl->discover = sl->sys == SYS_NONE;
    return (int)q->nslots++;
}

static int hidden_slot(owl_ins_query *q)
{
    if (ins_grow((void **)&q->slots, &q->cslots, q->nslots + 1, sizeof *q->slots) != OWL_OK)
        return -1;
    ins_slot *sl = &q->slots[q->nslots];
    memset(sl, 0, sizeof *sl);
    sl->name = strdup("");
    if (!sl->name)
        return -1;
    sl->hidden = 1;
    return (int)q->nslots++;
}

/* The field name of token ps->t (an identifier or a `quoted name`) as a slot. */
static int name_slot(parser *ps, int *slot)
{
    const char *p = ps->s + ps->t.pos;
    size_t l = ps->t.len;
    if (ps->t.kind == T_BQ) {
        p++;
        l -= 2;
    }
    *slot = intern(ps->q, p, l);
    return *slot < 0 ? nomem(ps) : OWL_OK;
}

static int new_node(parser *ps, int kind, size_t pos, int *out)
{
    owl_ins_query *q = ps->q;
    if (ins_grow((void **)&q->nodes, &q->cnodes, q->nnodes + 1, sizeof *q->nodes) != OWL_OK)
        return nomem(ps);
    ins_node *nd = &q->nodes[q->nnodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->a = nd->b = nd->fn = nd->agg = nd->re = nd->slot = -1;
    nd->pos = pos;
    nd->height = 1;
    *out = (int)q->nnodes++;
    return OWL_OK;
}

/* Sets node nd's height from its operands; refuses trees the evaluator should not recurse
 * into (a chain of thousands of operators). */
static int set_height(parser *ps, int nd)
{
    owl_ins_query *q = ps->q;
    ins_node *x = &q->nodes[nd];
    int h = 0;
    if (x->a >= 0 && q->nodes[x->a].height > h)
        h = q->nodes[x->a].height;
    if (x->b >= 0 && q->nodes[x->b].height > h)
        h = q->nodes[x->b].height;
    for (size_t k = 0; (x->kind == E_CALL || x->kind == E_IN) && k < x->nargs; k++)
        if (q->nodes[q->args[x->arg0 + k]].height > h)
            h = q->nodes[q->args[x->arg0 + k]].height;
    x->height = h + 1;
    if (x->height > INS_MAX_HEIGHT)
        return fail(ps, x->pos, "expression too long (more than %d nested operations)",
                    INS_MAX_HEIGHT);
    return OWL_OK;
}

static int binary(parser *ps, int kind, int op, size_t pos, int a, int b, int *out)
{
    int rc = new_node(ps, kind, pos, out);
    if (rc == OWL_OK) {
        ps->q->nodes[*out].op = (uint8_t)op;
        ps->q->nodes[*out].a = a;
        ps->q->nodes[*out].b = b;
        rc = set_height(ps, *out);
    }
    return rc;
}

/* Compiles re[0..n) (flags: PCRE2 options) as the query's next regular expression. */
static int compile_re(parser *ps, const char *re, size_t n, uint32_t flags, size_t at, int *idx)
{
    owl_ins_query *q = ps->q;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, n, flags, &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR m[120];
        pcre2_get_error_message(ec, m, sizeof m);
        return fail(ps, at + (eo <= n ? eo : n), "bad regular expression: %s", (char *)m);
    }
    if (ins_grow((void **)&q->re, &q->cre, q->nre + 1, sizeof *q->re) != OWL_OK) {
        pcre2_code_free(code);
        return nomem(ps);
    }
    q->re[q->nre] = code;
    *idx = (int)q->nre++;
    if (!q->mctx) {
        q->mctx = pcre2_match_context_create(NULL);
        if (!q->mctx)
            return nomem(ps);
        pcre2_set_match_limit(q->mctx, INS_RE_LIMIT);
        pcre2_set_depth_limit(q->mctx, INS_RE_LIMIT);
    }
    return OWL_OK;
}

/* A /regular expression/ whose opening '/' is ps->t: \/ stands for '/'. Leaves ps->t at the
 * token after it; *src gets the pattern text (owned by the query). */
static int regex(parser *ps, int *idx, const char **src, size_t *srcn)
{
    size_t start = ps->t.pos, k = start + 1;
    char *b = malloc(ps->n - start + 1);
    size_t l = 0;
    if (!b)
        return nomem(ps);
    while (k < ps->n && ps->s[k] != '/') {
        if (ps->s[k] == '\\' && k + 1 < ps->n && ps->s[k + 1] == '/')
            k++;
        else if (ps->s[k] == '\\' && k + 1 < ps->n)
            b[l++] = ps->s[k++];
        b[l++] = ps->s[k++];
    }
    b[l] = '\0';
    if (k >= ps->n) {
        free(b);
        return fail(ps, start, "unterminated regular expression");
    }
    int rc = keep_str(ps, b);
    if (rc != OWL_OK)
        return rc;
    if (l == 0)
        return fail(ps, start, "empty regular expression");
    if ((rc = compile_re(ps, b, l, 0, start + 1, idx)) != OWL_OK)
        return rc;
    *src = b;
    *srcn = l;
    ps->i = k + 1;
    ps->t.kind = T_EOF; /* the regex was consumed whole: prev_end is its end */
    ps->prev_end = k + 1;
    return next(ps);
}

/* ---------- expressions ---------- */

static int expr(parser *ps, int *out);
static int unary(parser *ps, int *out);

static int deeper(parser *ps)
{
    if (++ps->depth > INS_MAX_DEPTH)
        return fail(ps, ps->t.pos, "expression nested deeper than %d levels", INS_MAX_DEPTH);
    return OWL_OK;
}

/* A time period: 5m, 1h, 30 s, ... */
static int period(parser *ps, int *out)
{
    size_t pos = ps->t.pos;
    double cnt, ms = 0;
    int unit = U_FIXED, rc;
    if (ps->t.kind == T_DUR) {
        cnt = ps->t.num;
        ms = ps->t.ms;
        unit = ps->t.unit;
    } else if (ps->t.kind == T_NUM) {
        cnt = ps->t.num;
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_IDENT ||
            !find_unit(ps->s + ps->t.pos, ps->t.len, &ms, &unit))
            return expected(ps, "a time unit (ms, s, m, h, d, w, mo, q or y)");
    } else {
        return expected(ps, "a time period such as 5m or 1h");
    }
    if (!(cnt > 0) || cnt > 1e9)
        return fail(ps, pos, "a time period must be positive");
    if (unit != U_FIXED && cnt != floor(cnt))
        return fail(ps, pos, "months, quarters and years are counted in whole units");
    if (unit == U_FIXED && (cnt * ms < 1 || cnt * ms > 1e13))
        return fail(ps, pos, "a time period must be between 1 ms and 10^13 ms");
    if ((rc = new_node(ps, E_PERIOD, pos, out)) != OWL_OK)
        return rc;
    ins_node *nd = &ps->q->nodes[*out];
    nd->unit = (uint8_t)unit;
    nd->num = unit == U_FIXED ? floor(cnt * ms + 0.5) : cnt;
    return next(ps);
}

static const struct {
    const char *name;
    uint8_t kind;
} aggnames[] = {
    {"count", AG_COUNT},   {"count_distinct", AG_COUNT_DISTINCT}, {"sum", AG_SUM},
    {"avg", AG_AVG},       {"min", AG_MIN},         {"max", AG_MAX},
    {"pct", AG_PCT},       {"stddev", AG_STDDEV},   {"earliest", AG_EARLIEST},
    {"latest", AG_LATEST}, {"sortsfirst", AG_SORTS_FIRST}, {"sortslast", AG_SORTS_LAST},
};

static int args_end(parser *ps, const char *fname)
{
    if (ps->t.kind != T_RP) {
        char what[80];
        snprintf(what, sizeof what, "')' to close %s(", fname);
        return expected(ps, what);
    }
    return next(ps);
}

static int agg_call(parser *ps, int kind, const char *name, size_t pos, int *out)
{
    int rc;
    if (!ps->stats)
        return fail(ps, pos, "aggregate function %s() is only allowed in stats", name);
    if (ps->in_agg)
        return fail(ps, pos, "aggregate function %s() inside another aggregate", name);
    ins_agg ag = {(uint8_t)kind, -1, 0};
    ps->in_agg = 1;
    if (kind == AG_COUNT && (is_op(ps, "*") || ps->t.kind == T_RP)) {
        ag.kind = AG_COUNT_STAR;
        if (is_op(ps, "*") && (rc = next(ps)) != OWL_OK)
            return rc;
    } else {
        if ((rc = expr(ps, &ag.arg)) != OWL_OK)
            return rc;
        if (kind == AG_PCT) {
            if (ps->t.kind != T_COMMA)
                return expected(ps, "',' and a percentile (0 to 100)");
            if ((rc = next(ps)) != OWL_OK)
                return rc;
            if (ps->t.kind != T_NUM || ps->t.num > 100)
                return expected(ps, "a percentile from 0 to 100");
            ag.pct = ps->t.num;
            if ((rc = next(ps)) != OWL_OK)
                return rc;
        }
    }
    if ((rc = args_end(ps, name)) != OWL_OK)
        return rc;
    ps->in_agg = 0;
    ins_cmd *c = ps->stats;
    ins_agg *na = realloc(c->aggs, (c->naggs + 1) * sizeof *na);
    if (!na)
        return nomem(ps);
    c->aggs = na;
    c->aggs[c->naggs] = ag;
    if ((rc = new_node(ps, E_AGG, pos, out)) != OWL_OK)
        return rc;
    ps->q->nodes[*out].agg = (int)c->naggs++;
    return OWL_OK;
}

static int push_arg(parser *ps, int nd)
{
    owl_ins_query *q = ps->q;
    if (ins_grow((void **)&q->args, &q->cargs, q->nargs + 1, sizeof *q->args) != OWL_OK)
        return nomem(ps);
    q->args[q->nargs++] = nd;
    return OWL_OK;
}

static int fn_call(parser *ps, int fn, const char *name, size_t pos, int *out)
{
    const ins_fn *f = &ins_fns[fn];
    int rc, argv[16];
    size_t argc = 0;
    if (strcmp(f->name, "bin") == 0) { /* bin(p) is datefloor(@timestamp, p) */
        int ts = intern(ps->q, "@timestamp", 10);
        if (ts < 0 || new_node(ps, E_FIELD, pos, &argv[0]) != OWL_OK)
            return nomem(ps);
        ps->q->nodes[argv[0]].slot = ts;
        if ((rc = period(ps, &argv[1])) != OWL_OK || (rc = args_end(ps, name)) != OWL_OK)
            return rc;
        argc = 2;
        for (fn = 0; strcmp(ins_fns[fn].name, "datefloor") != 0; fn++)
            ;
    } else {
        while (ps->t.kind != T_RP) {
            if (argc == OWL_ARRAY_LEN(argv))
                return fail(ps, ps->t.pos, "too many arguments to %s()", name);
            int k = argc == 0 ? f->arg1 : argc == 1 ? f->arg2 : A_ANY;
            size_t apos = ps->t.pos;
            rc = k == A_PERIOD ? period(ps, &argv[argc]) : expr(ps, &argv[argc]);
            if (rc != OWL_OK)
                return rc;
            if (k == A_FIELD && ps->q->nodes[argv[argc]].kind != E_FIELD)
                return fail(ps, apos, "%s() takes a field name", name);
            argc++;
            if (ps->t.kind == T_COMMA) {
                if ((rc = next(ps)) != OWL_OK)
                    return rc;
            } else if (ps->t.kind != T_RP) {
                char what[80];
                snprintf(what, sizeof what, "',' or ')' in the arguments of %s()", name);
                return expected(ps, what);
            }
        }
        if ((int)argc < f->min || (f->max >= 0 && (int)argc > f->max)) {
            if (f->min == f->max)
                return fail(ps, pos, "%s() takes %d argument%s, not %zu", name, f->min,
                            f->min == 1 ? "" : "s", argc);
            if (f->max < 0)
                return fail(ps, pos, "%s() takes at least %d argument%s", name, f->min,
                            f->min == 1 ? "" : "s");
            return fail(ps, pos, "%s() takes %d to %d arguments, not %zu", name, f->min,
                        f->max, argc);
        }
        if ((rc = next(ps)) != OWL_OK)
            return rc;
    }
    if ((rc = new_node(ps, E_CALL, pos, out)) != OWL_OK)
        return rc;
    ins_node *nd = &ps->q->nodes[*out];
    nd->fn = fn;
    nd->arg0 = ps->q->nargs;
    nd->nargs = argc;
    for (size_t k = 0; k < argc; k++)
        if ((rc = push_arg(ps, argv[k])) != OWL_OK)
            return rc;
    return set_height(ps, *out);
}

static int call(parser *ps, size_t pos, size_t len, int *out)
{
    char name[40];
    snprintf(name, sizeof name, "%.*s", (int)(len < 39 ? len : 39), ps->s + pos);
    int rc = next(ps); /* past '(' */
    if (rc != OWL_OK)
        return rc;
    for (size_t k = 0; k < OWL_ARRAY_LEN(aggnames); k++)
        if (strlen(aggnames[k].name) == len && strncasecmp(aggnames[k].name, name, len) == 0)
            return agg_call(ps, aggnames[k].kind, name, pos, out);
    for (size_t k = 0; k < ins_nfns; k++)
        if (strlen(ins_fns[k].name) == len && strncasecmp(ins_fns[k].name, name, len) == 0)
            return fn_call(ps, (int)k, name, pos, out);
    return fail(ps, pos, "unknown function '%s'", name);
}

static int primary(parser *ps, int *out)
{
    int rc;
    size_t pos = ps->t.pos;
    switch (ps->t.kind) {
    case T_NUM:
        if ((rc = new_node(ps, E_NUM, pos, out)) != OWL_OK)
            return rc;
        ps->q->nodes[*out].num = ps->t.num;
        return next(ps);
    case T_STR: {
        if ((rc = new_node(ps, E_STR, pos, out)) != OWL_OK)
            return rc;
        const char *s;
        size_t n;
        if ((rc = string_value(ps, &s, &n)) != OWL_OK)
            return rc;
        ps->q->nodes[*out].s = s;
        ps->q->nodes[*out].n = n;
        return next(ps);
    }
    case T_DUR:
        return fail(ps, pos, "a time period is only allowed in bin(), datefloor() and "
                             "dateceil()");
    case T_LP:
        if ((rc = deeper(ps)) != OWL_OK || (rc = next(ps)) != OWL_OK ||
            (rc = expr(ps, out)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_RP)
            return expected(ps, "')'");
        ps->depth--;
        return next(ps);
    case T_IDENT:
    case T_BQ: {
        if (ps->t.kind == T_IDENT && is_reserved(ps))
            return expected(ps, "an expression");
        tok id = ps->t;
        int slot;
        if ((rc = name_slot(ps, &slot)) != OWL_OK || (rc = next(ps)) != OWL_OK)
            return rc;
        if (id.kind == T_IDENT && ps->t.kind == T_LP)
            return call(ps, id.pos, id.len, out);
        if (ps->in_stats_item && !ps->in_agg)
            return fail(ps, id.pos, "field '%s' must be inside an aggregate function in stats",
                        ps->q->slots[slot].name);
        if ((rc = new_node(ps, E_FIELD, pos, out)) != OWL_OK)
            return rc;
        ps->q->nodes[*out].slot = slot;
        return OWL_OK;
    }
    default:
        if (is_op(ps, "/"))
            return fail(ps, pos, "a /regular expression/ is only allowed after like, =~ and "
                                 "parse");
        return expected(ps, "an expression");
    }
}

static int power(parser *ps, int *out)
{
    int rc = primary(ps, out);
    if (rc != OWL_OK || !is_op(ps, "^"))
        return rc;
    size_t pos = ps->t.pos;
    int b;
    if ((rc = next(ps)) != OWL_OK || (rc = unary(ps, &b)) != OWL_OK)
        return rc;
    return binary(ps, E_ARITH, OP_POW, pos, *out, b, out);
}

static int unary(parser *ps, int *out)
{
    if (!is_op(ps, "-"))
        return power(ps, out);
    size_t pos = ps->t.pos;
    int a, rc;
    if ((rc = deeper(ps)) != OWL_OK || (rc = next(ps)) != OWL_OK || (rc = unary(ps, &a)) != OWL_OK)
        return rc;
    ps->depth--;
    if (ps->q->nodes[a].kind == E_NUM) { /* fold -3 so lists and pct read constants */
        ps->q->nodes[a].num = -ps->q->nodes[a].num;
        *out = a;
        return OWL_OK;
    }
    return binary(ps, E_NEG, 0, pos, a, -1, out);
}

static int mul(parser *ps, int *out)
{
    int rc = unary(ps, out);
    while (rc == OWL_OK && (is_op(ps, "*") || is_op(ps, "/") || is_op(ps, "%"))) {
        int op = is_op(ps, "*") ? OP_MUL : is_op(ps, "/") ? OP_DIV : OP_MOD, b;
        size_t pos = ps->t.pos;
        if ((rc = next(ps)) != OWL_OK || (rc = unary(ps, &b)) != OWL_OK)
            return rc;
        rc = binary(ps, E_ARITH, op, pos, *out, b, out);
    }
    return rc;
}

static int add(parser *ps, int *out)
{
    int rc = mul(ps, out);
    while (rc == OWL_OK && (is_op(ps, "+") || is_op(ps, "-"))) {
        int op = is_op(ps, "+") ? OP_ADD : OP_SUB, b;
        size_t pos = ps->t.pos;
        if ((rc = next(ps)) != OWL_OK || (rc = mul(ps, &b)) != OWL_OK)
            return rc;
        rc = binary(ps, E_ARITH, op, pos, *out, b, out);
    }
    return rc;
}

static int in_list(parser *ps, int a, int neg, size_t pos, int *out)
{
    int rc, items[256];
    size_t nitems = 0;
    if (ps->t.kind != T_LB)
        return expected(ps, "'[' to start the list after in");
    if ((rc = next(ps)) != OWL_OK)
        return rc;
    while (ps->t.kind != T_RB) {
        if (nitems == OWL_ARRAY_LEN(items))
            return fail(ps, ps->t.pos, "more than %zu values in a list",
                        OWL_ARRAY_LEN(items));
        if ((rc = add(ps, &items[nitems++])) != OWL_OK)
            return rc;
        if (ps->t.kind == T_COMMA) {
            if ((rc = next(ps)) != OWL_OK)
                return rc;
        } else if (ps->t.kind != T_RB) {
            return expected(ps, "',' or ']'");
        }
    }
    if ((rc = next(ps)) != OWL_OK || (rc = new_node(ps, E_IN, pos, out)) != OWL_OK)
        return rc;
    ins_node *nd = &ps->q->nodes[*out];
    nd->a = a;
    nd->neg = (uint8_t)neg;
    nd->arg0 = ps->q->nargs;
    nd->nargs = nitems;
    for (size_t k = 0; k < nitems; k++)
        if ((rc = push_arg(ps, items[k])) != OWL_OK)
            return rc;
    return set_height(ps, *out);
}

static int like_rhs(parser *ps, int a, int neg, size_t pos, int *out, int regex_only)
{
    int rc;
    if (ps->t.kind == T_STR && !regex_only) {
        if ((rc = new_node(ps, E_LIKE, pos, out)) != OWL_OK)
            return rc;
        const char *s;
        size_t n;
        if ((rc = string_value(ps, &s, &n)) != OWL_OK)
            return rc;
        ins_node *nd = &ps->q->nodes[*out];
        nd->a = a;
        nd->neg = (uint8_t)neg;
        nd->s = s;
        nd->n = n;
        if ((rc = set_height(ps, *out)) != OWL_OK)
            return rc;
        return next(ps);
    }
    if (!is_op(ps, "/"))
        return expected(ps, regex_only ? "a /regular expression/ after =~"
                                       : "a string or a /regular expression/ after like");
    int re;
    const char *src;
    size_t srcn;
    if ((rc = regex(ps, &re, &src, &srcn)) != OWL_OK || (rc = new_node(ps, E_REGEX, pos, out)))
        return rc;
    ins_node *nd = &ps->q->nodes[*out];
    nd->a = a;
    nd->neg = (uint8_t)neg;
    nd->re = re;
    nd->s = src;
    nd->n = srcn;
    return set_height(ps, *out);
}

static int comparison(parser *ps, int *out)
{
    int rc = add(ps, out);
    if (rc != OWL_OK)
        return rc;
    size_t pos = ps->t.pos;
    static const struct {
        const char *op;
        int code;
    } cmps[] = {{"=", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT},
                {">=", OP_GE}};
    for (size_t k = 0; k < OWL_ARRAY_LEN(cmps); k++)
        if (is_op(ps, cmps[k].op)) {
            int b;
            if ((rc = next(ps)) != OWL_OK || (rc = add(ps, &b)) != OWL_OK)
                return rc;
            return binary(ps, E_CMP, cmps[k].code, pos, *out, b, out);
        }
    if (is_op(ps, "=~")) {
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        return like_rhs(ps, *out, 0, pos, out, 1);
    }
    int neg = 0;
    if (is_kw(ps, "not")) {
        neg = 1;
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        if (!is_kw(ps, "like") && !is_kw(ps, "in"))
            return expected(ps, "like or in after not");
    }
    if (is_kw(ps, "like")) {
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        return like_rhs(ps, *out, neg, pos, out, 0);
    }
    if (is_kw(ps, "in")) {
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        return in_list(ps, *out, neg, pos, out);
    }
    return OWL_OK;
}

static int negation(parser *ps, int *out)
{
    if (!is_kw(ps, "not"))
        return comparison(ps, out);
    size_t pos = ps->t.pos;
    int a, rc;
    if ((rc = deeper(ps)) != OWL_OK || (rc = next(ps)) != OWL_OK ||
        (rc = negation(ps, &a)) != OWL_OK)
        return rc;
    ps->depth--;
    return binary(ps, E_NOT, 0, pos, a, -1, out);
}

static int and_expr(parser *ps, int *out)
{
    int rc = negation(ps, out);
    while (rc == OWL_OK && is_kw(ps, "and")) {
        size_t pos = ps->t.pos;
        int b;
        if ((rc = next(ps)) != OWL_OK || (rc = negation(ps, &b)) != OWL_OK)
            return rc;
        rc = binary(ps, E_AND, 0, pos, *out, b, out);
    }
    return rc;
}

static int expr(parser *ps, int *out)
{
    int rc = and_expr(ps, out);
    while (rc == OWL_OK && is_kw(ps, "or")) {
        size_t pos = ps->t.pos;
        int b;
        if ((rc = next(ps)) != OWL_OK || (rc = and_expr(ps, &b)) != OWL_OK)
            return rc;
        rc = binary(ps, E_OR, 0, pos, *out, b, out);
    }
    return rc;
}

/* ---------- commands ---------- */

static int push_item(parser *ps, ins_item **items, size_t *n, ins_item it)
{
    ins_item *p = realloc(*items, (*n + 1) * sizeof *p);
    if (!p)
        return nomem(ps);
    p[(*n)++] = it;
    *items = p;
    return OWL_OK;
}

/* The slot an item writes: its alias, the field it names, or its own text. */
static int item_slot(parser *ps, int e, size_t start, int *slot)
{
    int rc;
    if (is_kw(ps, "as")) {
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_BQ && (ps->t.kind != T_IDENT || is_reserved(ps)))
            return expected(ps, "a field name after as");
        if ((rc = name_slot(ps, slot)) != OWL_OK)
            return rc;
        return next(ps);
    }
    if (ps->q->nodes[e].kind == E_FIELD) {
        *slot = ps->q->nodes[e].slot;
        return OWL_OK;
    }
    size_t end = ps->prev_end;
    *slot = intern(ps->q, ps->s + start, end > start ? end - start : 0);
    return *slot < 0 ? nomem(ps) : OWL_OK;
}

/* item { "," item }, each `expr [as name]` */
static int expr_items(parser *ps, ins_item **items, size_t *n, int stats_item)
{
    int rc;
    for (;;) {
        size_t start = ps->t.pos, naggs = ps->stats ? ps->stats->naggs : 0;
        ins_item it = {-1, -1, 0};
        ps->in_stats_item = stats_item;
        rc = expr(ps, &it.expr);
        ps->in_stats_item = 0;
        if (rc != OWL_OK)
            return rc;
        if (stats_item && ps->stats->naggs == naggs)
            return fail(ps, start, "expected an aggregate function such as count(*) in stats");
        if ((rc = item_slot(ps, it.expr, start, &it.slot)) != OWL_OK ||
            (rc = push_item(ps, items, n, it)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_COMMA)
            return OWL_OK;
        if ((rc = next(ps)) != OWL_OK)
            return rc;
    }
}

/* name { "," name } */
static int name_items(parser *ps, ins_item **items, size_t *n, const char *cmd)
{
    int rc;
    for (;;) {
        if (ps->t.kind != T_BQ && (ps->t.kind != T_IDENT || is_reserved(ps))) {
            char what[60];
            snprintf(what, sizeof what, "a field name after %s", cmd);
            return expected(ps, *n ? "a field name after ','" : what);
        }
        ins_item it = {-1, -1, 0};
        if ((rc = name_slot(ps, &it.slot)) != OWL_OK || (rc = next(ps)) != OWL_OK ||
            (rc = push_item(ps, items, n, it)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_COMMA)
            return OWL_OK;
        if ((rc = next(ps)) != OWL_OK)
            return rc;
    }
}

static int cmd_stats(parser *ps, ins_cmd *c)
{
    int rc;
    if (++ps->nstats > INS_MAX_STATS)
        return fail(ps, c->pos, "at most %d stats commands in a query", INS_MAX_STATS);
    ps->stats = c;
    rc = expr_items(ps, &c->items, &c->nitems, 1);
    if (rc == OWL_OK && c->naggs > INS_MAX_AGGS)
        rc = fail(ps, c->pos, "at most %d aggregate functions in one stats", INS_MAX_AGGS);
    if (rc == OWL_OK && is_kw(ps, "by")) {
        ps->stats = NULL; /* no aggregates among the groups */
        if ((rc = next(ps)) == OWL_OK)
            rc = expr_items(ps, &c->by, &c->nby, 0);
        if (rc == OWL_OK && c->nby > INS_MAX_AGGS)
            rc = fail(ps, c->pos, "at most %d groups in one stats", INS_MAX_AGGS);
    }
    ps->stats = NULL;
    return rc;
}

static int cmd_sort(parser *ps, ins_cmd *c)
{
    int rc;
    for (;;) {
        ins_item it = {-1, -1, 0};
        if ((rc = expr(ps, &it.expr)) != OWL_OK)
            return rc;
        if (is_kw(ps, "desc") || is_kw(ps, "asc")) {
            it.desc = is_kw(ps, "desc");
            if ((rc = next(ps)) != OWL_OK)
                return rc;
        }
        it.slot = hidden_slot(ps->q);
        if (it.slot < 0)
            return nomem(ps);
        if ((rc = push_item(ps, &c->items, &c->nitems, it)) != OWL_OK)
            return rc;
        if (ps->t.kind != T_COMMA)
            return OWL_OK;
        if ((rc = next(ps)) != OWL_OK)
            return rc;
    }
}

static int cmd_limit(parser *ps, ins_cmd *c)
{
    if (ps->t.kind != T_NUM || ps->t.num != floor(ps->t.num))
        return expected(ps, "a whole number after limit");
    if (ps->t.num < 1 || ps->t.num > INS_MAX_LIMIT)
        return fail(ps, ps->t.pos, "limit must be from 1 to %d", INS_MAX_LIMIT);
    c->limit = (size_t)ps->t.num;
    return next(ps);
}

/* A glob "a * b" as the regex a(.*?)b, the last '*' greedy when nothing follows it. */
static int glob_regex(parser *ps, const char *g, size_t n, size_t at, ins_cmd *c)
{
    owl_buf b = OWL_BUF_INIT;
    size_t stars = 0, last = n;
    for (size_t k = 0; k < n; k++)
        if (g[k] == '*') {
            stars++;
            last = k;
        }
    if (stars == 0)
        return fail(ps, at, "a parse pattern needs at least one '*'");
    int rc = OWL_OK;
    for (size_t k = 0; k < n && rc == OWL_OK; k++) {
        unsigned char ch = (unsigned char)g[k];
        if (ch == '*')
            rc = owl_buf_puts(&b, k == last && k + 1 == n ? "(.*)" : "(.*?)");
        else if (ch == '\0')
            rc = owl_buf_puts(&b, "\\x00");
        else if (ch < 0x80 && !is_alpha(ch) && !is_digit(ch))
            rc = owl_buf_printf(&b, "\\%c", ch);
        else
            rc = owl_buf_putc(&b, (char)ch);
    }
    if (rc != OWL_OK) {
        owl_buf_free(&b);
        return nomem(ps);
    }
    rc = compile_re(ps, b.data, b.len, PCRE2_DOTALL, at, &c->re);
    owl_buf_free(&b);
    c->nouts = stars;
    return rc;
}

static int cmd_parse(parser *ps, ins_cmd *c)
{
    int rc;
    if (ps->t.kind == T_STR || is_op(ps, "/")) {
        int ms = intern(ps->q, "@message", 8);
        if (ms < 0 || new_node(ps, E_FIELD, ps->t.pos, &c->expr) != OWL_OK)
            return nomem(ps);
        ps->q->nodes[c->expr].slot = ms;
    } else if ((rc = unary(ps, &c->expr)) != OWL_OK) { /* '/' would read as a division */
        return rc;
    }
    size_t at = ps->t.pos;
    if (ps->t.kind == T_STR) {
        const char *g;
        size_t gn;
        if ((rc = string_value(ps, &g, &gn)) != OWL_OK || (rc = next(ps)) != OWL_OK ||
            (rc = glob_regex(ps, g, gn, at, c)) != OWL_OK)
            return rc;
        c->glob = g;
        c->globn = gn;
        if (!is_kw(ps, "as"))
            return expected(ps, "as and the names of the fields the '*'s fill");
        if ((rc = next(ps)) != OWL_OK)
            return rc;
        size_t stars = c->nouts;
        if ((rc = name_items(ps, &c->items, &c->nitems, "as")) != OWL_OK)
            return rc;
        if (c->nitems != stars)
            return fail(ps, at, "the pattern has %zu '*' but %zu field name%s follow as", stars,
                        c->nitems, c->nitems == 1 ? "" : "s");
        c->outs = malloc(stars * sizeof *c->outs);
        if (!c->outs)
            return nomem(ps);
        for (size_t k = 0; k < stars; k++)
            c->outs[k] = c->items[k].slot;
        return OWL_OK;
    }
    if (!is_op(ps, "/"))
        return expected(ps, "a \"glob pattern\" or a /regular expression/ to parse with");
    const char *src;
    size_t srcn;
    if ((rc = regex(ps, &c->re, &src, &srcn)) != OWL_OK)
        return rc;
    if (is_kw(ps, "as"))
        return fail(ps, ps->t.pos, "a regular expression names its fields with named groups "
                                   "(?<name>...), not with as");
    pcre2_code *re = ps->q->re[c->re];
    uint32_t cnt = 0, namecount = 0, esize = 0;
    PCRE2_SPTR table;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &cnt);
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &namecount);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    if (namecount == 0)
        return fail(ps, at, "the regular expression has no named group (?<name>...) to parse "
                            "into");
    c->nouts = cnt;
    c->outs = malloc(cnt * sizeof *c->outs);
    if (!c->outs)
        return nomem(ps);
    for (uint32_t k = 0; k < cnt; k++)
        c->outs[k] = -1;
    for (uint32_t k = 0; k < namecount; k++) {
        const unsigned char *e = table + (size_t)k * esize;
        unsigned g = ((unsigned)e[0] << 8) | e[1];
        const char *nm = (const char *)e + 2;
        int slot = intern(ps->q, nm, strlen(nm));
        if (slot < 0)
            return nomem(ps);
        if (g >= 1 && g <= cnt)
            c->outs[g - 1] = slot;
    }
    return OWL_OK;
}

static const struct {
    const char *name;
    int kind;
} commands[] = {
    {"fields", C_FIELDS}, {"display", C_DISPLAY}, {"filter", C_FILTER}, {"stats", C_STATS},
    {"sort", C_SORT},     {"limit", C_LIMIT},     {"parse", C_PARSE},   {"dedup", C_DEDUP},
};

static const char *const unsupported[] = {"unnest", "lookup", "pattern", "anomaly", "diff",
                                          "filterindex", "source", "head", "tail", "join",
                                          "fieldindex"};

static int command(parser *ps)
{
    owl_ins_query *q = ps->q;
    size_t pos = ps->t.pos;
    if (ps->t.kind != T_IDENT)
        return expected(ps, "a command (fields, display, filter, stats, sort, limit, parse or "
                            "dedup)");
    if (is_kw(ps, "unmask"))
        return fail(ps, pos, "unmask is not supported: owl does not mask log data, so there is "
                             "nothing to unmask");
    for (size_t k = 0; k < OWL_ARRAY_LEN(unsupported); k++)
        if (is_kw(ps, unsupported[k]))
            return fail(ps, pos, "the %s command is not supported", unsupported[k]);
    int kind = -1;
    for (size_t k = 0; k < OWL_ARRAY_LEN(commands); k++)
        if (is_kw(ps, commands[k].name))
            kind = commands[k].kind;
    if (kind < 0)
        return fail(ps, pos, "unknown command '%.*s' (expected fields, display, filter, stats, "
                             "sort, limit, parse or dedup)",
                    (int)(ps->t.len > 30 ? 30 : ps->t.len), ps->s + pos);
    if (ps->after_dedup && kind != C_LIMIT)
        return fail(ps, pos, "only limit may follow dedup");
    if (ins_grow((void **)&q->cmds, &q->ccmds, q->ncmds + 1, sizeof *q->cmds) != OWL_OK)
        return nomem(ps);
    ins_cmd *c = &q->cmds[q->ncmds++];
    memset(c, 0, sizeof *c);
    c->kind = (uint8_t)kind;
    c->pos = pos;
    c->expr = c->re = -1;
    int rc = next(ps);
    if (rc != OWL_OK)
        return rc;
    switch (kind) {
    case C_FIELDS:
        return expr_items(ps, &c->items, &c->nitems, 0);
    case C_DISPLAY:
        return name_items(ps, &c->items, &c->nitems, "display");
    case C_FILTER:
        return expr(ps, &c->expr);
    case C_STATS:
        return cmd_stats(ps, c);
    case C_SORT:
        return cmd_sort(ps, c);
    case C_LIMIT:
        return cmd_limit(ps, c);
    case C_PARSE:
        return cmd_parse(ps, c);
    default:
        ps->after_dedup = 1;
        return name_items(ps, &c->items, &c->nitems, "dedup");
    }
}

/* ---------- after parsing: columns and the push-down condition ---------- */

/* Marks the slots of the fields node e reads (not below it when it is -1). */
static void mark_reads(owl_ins_query *q, int e, unsigned *sys)
{
    if (e < 0)
        return;
    const ins_node *nd = &q->nodes[e];
    if (nd->kind == E_FIELD && q->slots[nd->slot].sys == SYS_NONE)
        q->slots[nd->slot].discover = 1;
    else if (nd->kind == E_FIELD)
        *sys |= 1u << q->slots[nd->slot].sys;
    mark_reads(q, nd->a, sys);
    mark_reads(q, nd->b, sys);
    if (nd->kind == E_CALL || nd->kind == E_IN)
        for (size_t k = 0; k < nd->nargs; k++)
            mark_reads(q, q->args[nd->arg0 + k], sys);
}

static int push_col(owl_ins_query *q, int slot)
{
    for (size_t k = 0; k < q->noutcols; k++)
        if (q->outcols[k] == slot)
            return OWL_OK;
    int *p = realloc(q->outcols, (q->noutcols + 1) * sizeof *p);
    if (!p)
        return OWL_ENOMEM;
    p[q->noutcols++] = slot;
    q->outcols = p;
    return OWL_OK;
}

/* The result's columns: those of the last stats, then what later fields add, all replaced by
 * the last display; a query without any shows @timestamp and @message; rows of a query
 * without stats end with @ptr. Also which slots are looked up in the event (read before the
 * first stats) and the store columns the query reads. */
static int finish_query(owl_ins_query *q)
{
    size_t seg = 0, k;
    unsigned sys = 0;
    int rc = OWL_OK;
    for (k = 0; k < q->nslots; k++)
        q->slots[k].discover = 0;
    for (k = 0; k < q->ncmds && q->cmds[k].kind != C_STATS; k++) {
        const ins_cmd *c = &q->cmds[k];
        mark_reads(q, c->expr, &sys);
        for (size_t j = 0; j < c->nitems; j++) {
            mark_reads(q, c->items[j].expr, &sys);
            if ((c->kind == C_DISPLAY || c->kind == C_DEDUP) &&
                q->slots[c->items[j].slot].sys == SYS_NONE)
                q->slots[c->items[j].slot].discover = 1;
        }
    }
    if (k < q->ncmds) /* the first stats reads events too */
        for (size_t j = 0; j < q->cmds[k].naggs; j++)
            mark_reads(q, q->cmds[k].aggs[j].arg, &sys);
    if (k < q->ncmds)
        for (size_t j = 0; j < q->cmds[k].nby; j++)
            mark_reads(q, q->cmds[k].by[j].expr, &sys);
    for (k = 0; k < q->ncmds; k++)
        if (q->cmds[k].kind == C_STATS)
            seg = k;
    const ins_cmd *display = NULL;
    if (q->aggregating)
        for (size_t j = 0; j < q->cmds[seg].nby + q->cmds[seg].nitems && rc == OWL_OK; j++)
            rc = push_col(q, j < q->cmds[seg].nby ? q->cmds[seg].by[j].slot
                                                   : q->cmds[seg].items[j - q->cmds[seg].nby].slot);
    for (k = q->aggregating ? seg + 1 : 0; k < q->ncmds && rc == OWL_OK; k++) {
        const ins_cmd *c = &q->cmds[k];
        if (c->kind == C_DISPLAY)
            display = c;
        for (size_t j = 0; c->kind == C_FIELDS && j < c->nitems && rc == OWL_OK; j++)
            rc = push_col(q, c->items[j].slot);
    }
    if (display && rc == OWL_OK) {
        q->noutcols = 0;
        for (size_t j = 0; j < display->nitems && rc == OWL_OK; j++)
            rc = push_col(q, display->items[j].slot);
    }
    int ts = intern(q, "@timestamp", 10), msg = intern(q, "@message", 8),
        ptr = intern(q, "@ptr", 4);
    if (ts < 0 || msg < 0 || ptr < 0)
        return OWL_ENOMEM;
    if (rc == OWL_OK && !q->aggregating && q->noutcols == 0)
        rc = push_col(q, ts) == OWL_OK ? push_col(q, msg) : OWL_ENOMEM;
    if (rc == OWL_OK && !q->aggregating)
        rc = push_col(q, ptr);
    if (!q->aggregating)
        for (k = 0; k < q->noutcols; k++)
            sys |= 1u << q->slots[q->outcols[k]].sys;
    unsigned m = 1u << OWL_LOGS_TIME;
    for (k = 0; k < q->nslots; k++)
        if (q->slots[k].discover)
            m |= 1u << OWL_LOGS_MESSAGE;
    if (sys & (1u << SYS_MESSAGE))
        m |= 1u << OWL_LOGS_MESSAGE;
    if (sys & (1u << SYS_STREAM))
        m |= 1u << OWL_LOGS_STREAM;
    if (sys & (1u << SYS_INGEST))
        m |= 1u << OWL_LOGS_INGEST_TIME;
    q->columns = m;
    return rc;
}

/* A node of the condition being built: PRED (pred) or AND / OR (kids first..last, linked). */
typedef struct pnode {
    int kind;
    owl_pred pred;
    const char **set;
    size_t *setn;
    size_t nset;
    int first, last, next;
} pnode;

typedef struct pbuild {
    pnode *t;
    size_t n, cap;
    int oom;
    const int *from; /* slot -> the glob parse of an unassigned @message that last wrote it, or
                      * -1 (pglob) */
} pbuild;

static int pnew(pbuild *b, int kind)
{
    if (ins_grow((void **)&b->t, &b->cap, b->n + 1, sizeof *b->t) != OWL_OK) {
        b->oom = 1;
        return -1;
    }
    memset(&b->t[b->n], 0, sizeof *b->t);
    b->t[b->n].kind = kind;
    b->t[b->n].first = b->t[b->n].last = b->t[b->n].next = -1;
    return (int)b->n++;
}

static void padd(pbuild *b, int parent, int kid)
{
    pnode *t = &b->t[parent];
    if (t->first < 0)
        t->first = kid;
    else
        b->t[t->last].next = kid;
    t->last = kid;
}

/* -1: nothing known */
static int pjoin(pbuild *b, int kind, int x, int y)
{
    if (kind == OWL_FILTER_AND && (x < 0 || y < 0))
        return x < 0 ? y : x;
    if (kind == OWL_FILTER_OR && (x < 0 || y < 0))
        return -1;
    int nd = pnew(b, kind);
    if (nd < 0)
        return -1;
    int kids[2] = {x, y};
    for (int j = 0; j < 2; j++) {
        if (b->t[kids[j]].kind == kind) {
            for (int c = b->t[kids[j]].first; c >= 0;) {
                int nx = b->t[c].next;
                b->t[c].next = -1;
                padd(b, nd, c);
                c = nx;
            }
        } else {
            padd(b, nd, kids[j]);
        }
    }
    return nd;
}

/* The column of a system field a push-down may name, or -1 (a field assigned by the query,
 * or one the store does not keep as a column). */
static int sys_col(const owl_ins_query *q, const ins_node *nd, const uint8_t *assigned)
{
    if (nd->kind != E_FIELD || assigned[nd->slot])
        return -1;
    switch (q->slots[nd->slot].sys) {
    case SYS_MESSAGE:
        return OWL_LOGS_MESSAGE;
    case SYS_STREAM:
        return OWL_LOGS_STREAM;
    case SYS_TIMESTAMP:
        return OWL_LOGS_TIME;
    case SYS_INGEST:
        return OWL_LOGS_INGEST_TIME;
    default:
        return -1;
    }
}

static int bytes_col(int col)
{
    return col == OWL_LOGS_MESSAGE || col == OWL_LOGS_STREAM;
}

static int psubstr(pbuild *b, int col, const char *s, size_t n)
{
    if (n == 0)
        return -1;
    int nd = pnew(b, OWL_FILTER_PRED);
    if (nd >= 0) {
        b->t[nd].pred.col = (size_t)col;
        b->t[nd].pred.op = OWL_PRED_SUBSTR;
        b->t[nd].pred.text = (owl_bytes){s, n};
    }
    return nd;
}

/* A regular expression that is plain text (no metacharacter) is a substring. */
static int re_literal(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strchr("\\^$.|?*+()[]{}", s[k]) || s[k] == '\0')
            return 0;
    return n > 0;
}

/* Time comparisons as ranges [lo, hi) of whole ms. */
static int prange(pbuild *b, int col, int op, double v)
{
    if (!isfinite(v) || fabs(v) > 9e15)
        return -1;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    switch (op) {
    case OP_GT:
        lo = (int64_t)floor(v) + 1;
        break;
    case OP_GE:
        lo = (int64_t)ceil(v);
        break;
    case OP_LT:
        hi = (int64_t)ceil(v);
        break;
    case OP_LE:
        hi = (int64_t)floor(v) + 1;
        break;
    case OP_EQ:
        if (v != floor(v))
            return -1;
        lo = (int64_t)v;
        hi = lo + 1;
        break;
    default:
        return -1;
    }
    int nd = pnew(b, OWL_FILTER_PRED);
    if (nd >= 0) {
        b->t[nd].pred.col = (size_t)col;
        b->t[nd].pred.op = OWL_PRED_RANGE;
        b->t[nd].pred.lo.i = lo;
        b->t[nd].pred.hi.i = hi;
    }
    return nd;
}

static int swap_op(int op)
{
    return op == OP_LT ? OP_GT : op == OP_GT ? OP_LT : op == OP_LE ? OP_GE
         : op == OP_GE ? OP_LE : op;
}

static int pdown(const owl_ins_query *q, pbuild *b, int e, const uint8_t *assigned);

/* What a field filled by a glob parse of @message being non-null says of the message: the
 * glob matched, so it holds each piece of literal text between the '*'s. */
static int pglob(const owl_ins_query *q, pbuild *b, const ins_node *x)
{
    if (!b->from || x->kind != E_FIELD || b->from[x->slot] < 0)
        return -1;
    const ins_cmd *c = &q->cmds[b->from[x->slot]];
    int root = -1;
    for (size_t k = 0, j; k < c->globn; k = j + 1) {
        for (j = k; j < c->globn && c->glob[j] != '*'; j++)
            ;
        if (j > k)
            root = pjoin(b, OWL_FILTER_AND, root, psubstr(b, OWL_LOGS_MESSAGE, c->glob + k, j - k));
    }
    return root;
}

static int pcmp(const owl_ins_query *q, pbuild *b, const ins_node *nd, const uint8_t *assigned)
{
    const ins_node *x = &q->nodes[nd->a], *y = &q->nodes[nd->b];
    int op = nd->op, col = sys_col(q, x, assigned);
    if (col < 0) {
        const ins_node *t = x;
        x = y;
        y = t;
        op = swap_op(op);
        col = sys_col(q, x, assigned);
    }
    if (col < 0) /* a comparison with null is false: a field a glob filled must be there */
        return pjoin(b, OWL_FILTER_AND, pglob(q, b, x), pglob(q, b, y));
    if (!bytes_col(col))
        return y->kind == E_NUM ? prange(b, col, op, y->num) : -1;
    /* bytes equality only for text that is not a number ("1.0" = "1" holds numerically) */
    if (op != OP_EQ || y->kind != E_STR || ins_num_text(y->s, y->n, NULL))
        return -1;
    int p = pnew(b, OWL_FILTER_PRED);
    if (p >= 0) {
        b->t[p].pred.col = (size_t)col;
        b->t[p].pred.op = OWL_PRED_EQ;
        b->t[p].pred.lo.b = (owl_bytes){y->s, y->n};
    }
    return p;
}

static int pin(const owl_ins_query *q, pbuild *b, const ins_node *nd, const uint8_t *assigned)
{
    int col = sys_col(q, &q->nodes[nd->a], assigned);
    if (nd->neg || col < 0 || !bytes_col(col) || nd->nargs == 0)
        return -1;
    for (size_t k = 0; k < nd->nargs; k++) {
        const ins_node *v = &q->nodes[q->args[nd->arg0 + k]];
        if (v->kind != E_STR || ins_num_text(v->s, v->n, NULL))
            return -1;
    }
    int p = pnew(b, OWL_FILTER_PRED);
    if (p < 0)
        return -1;
    pnode *t = &b->t[p];
    t->set = malloc(nd->nargs * sizeof *t->set);
    t->setn = malloc(nd->nargs * sizeof *t->setn);
    if (!t->set || !t->setn) {
        b->oom = 1;
        return -1;
    }
    for (size_t k = 0; k < nd->nargs; k++) {
        const ins_node *v = &q->nodes[q->args[nd->arg0 + k]];
        t->set[k] = v->s;
        t->setn[k] = v->n;
    }
    t->nset = nd->nargs;
    t->pred.col = (size_t)col;
    t->pred.op = OWL_PRED_IN;
    return p;
}

static int pdown(const owl_ins_query *q, pbuild *b, int e, const uint8_t *assigned)
{
    const ins_node *nd = &q->nodes[e];
    int col;
    switch (nd->kind) {
    case E_AND:
        return pjoin(b, OWL_FILTER_AND, pdown(q, b, nd->a, assigned),
                     pdown(q, b, nd->b, assigned));
    case E_OR: {
        int x = pdown(q, b, nd->a, assigned);
        return x < 0 ? -1 : pjoin(b, OWL_FILTER_OR, x, pdown(q, b, nd->b, assigned));
    }
    case E_LIKE:
        col = sys_col(q, &q->nodes[nd->a], assigned);
        return !nd->neg && col >= 0 && bytes_col(col) ? psubstr(b, col, nd->s, nd->n) : -1;
    case E_REGEX:
        col = sys_col(q, &q->nodes[nd->a], assigned);
        return !nd->neg && col >= 0 && bytes_col(col) && re_literal(nd->s, nd->n)
                   ? psubstr(b, col, nd->s, nd->n)
                   : -1;
    case E_CMP:
        return pcmp(q, b, nd, assigned);
    case E_IN:
        return pin(q, b, nd, assigned);
    case E_CALL:
        if (strcmp(ins_fns[nd->fn].name, "strcontains") == 0) {
            const ins_node *x = &q->nodes[q->args[nd->arg0]];
            const ins_node *y = &q->nodes[q->args[nd->arg0 + 1]];
            col = sys_col(q, x, assigned);
            if (col >= 0 && bytes_col(col) && y->kind == E_STR)
                return psubstr(b, col, y->s, y->n);
        }
        if (strcmp(ins_fns[nd->fn].name, "ispresent") == 0)
            return pglob(q, b, &q->nodes[q->args[nd->arg0]]);
        return -1;
    default:
        return -1;
    }
}

/* Keeps the tree within OWL_FILTER_MAX_DEPTH / _MAX_NODES (an AND may drop children, an OR
 * that does not fit goes whole). 0 when ti itself must go. */
static int pfit(pbuild *b, int ti, int level, int *budget)
{
    if (level >= OWL_FILTER_MAX_DEPTH || *budget <= 0)
        return 0;
    (*budget)--;
    pnode *t = &b->t[ti];
    if (t->kind == OWL_FILTER_PRED)
        return 1;
    int prev = -1, kept = 0;
    for (int c = t->first; c >= 0; c = b->t[c].next) {
        if (pfit(b, c, level + 1, budget)) {
            kept++;
            prev = c;
            continue;
        }
        if (t->kind == OWL_FILTER_OR)
            return 0;
        if (prev < 0)
            t->first = b->t[c].next;
        else
            b->t[prev].next = b->t[c].next;
    }
    return kept > 0;
}

static void emit(owl_ins_query *q, const pbuild *b, int ti, size_t slot)
{
    const pnode *t = &b->t[ti];
    owl_filter *o = &q->fnodes[slot];
    o->kind = t->kind;
    if (t->kind == OWL_FILTER_PRED) {
        owl_pred *p = &q->preds[q->npreds++];
        *p = t->pred;
        if (t->nset) {
            p->set = &q->cells[q->ncells];
            p->nset = t->nset;
            for (size_t k = 0; k < t->nset; k++)
                q->cells[q->ncells++].b = (owl_bytes){t->set[k], t->setn[k]};
        }
        o->pred = p;
        return;
    }
    size_t k = 0, base = q->nfnodes;
    for (int c = t->first; c >= 0; c = b->t[c].next)
        k++;
    q->nfnodes += k;
    o->kids = &q->fnodes[base];
    o->nkids = k;
    k = 0;
    for (int c = t->first; c >= 0; c = b->t[c].next)
        emit(q, b, c, base + k++);
}

static int build_filter(owl_ins_query *q)
{
    size_t ns = q->nslots ? q->nslots : 1;
    uint8_t *assigned = calloc(ns, 1);
    int *from = malloc(ns * sizeof *from);
    pbuild b = {NULL, 0, 0, 0, from};
    int root = -1, rc = OWL_OK;
    if (!assigned || !from) {
        free(assigned);
        free(from);
        return OWL_ENOMEM;
    }
    for (size_t k = 0; k < ns; k++)
        from[k] = -1;
    for (size_t k = 0; k < q->ncmds; k++) {
        const ins_cmd *c = &q->cmds[k];
        if (c->kind == C_STATS || c->kind == C_LIMIT || c->kind == C_DEDUP)
            break;
        if (c->kind == C_FILTER)
            root = pjoin(&b, OWL_FILTER_AND, root, pdown(q, &b, c->expr, assigned));
        int glob = c->kind == C_PARSE && c->glob &&
                   sys_col(q, &q->nodes[c->expr], assigned) == OWL_LOGS_MESSAGE;
        if (c->kind == C_FIELDS || c->kind == C_PARSE)
            for (size_t j = 0; j < c->nitems; j++)
                if (c->kind == C_PARSE || !ins_item_keeps(q, &c->items[j])) {
                    assigned[c->items[j].slot] = 1;
                    from[c->items[j].slot] = -1;
                }
        if (c->kind == C_PARSE)
            for (size_t j = 0; j < c->nouts; j++)
                if (c->outs[j] >= 0) {
                    assigned[c->outs[j]] = 1;
                    from[c->outs[j]] = glob ? (int)k : -1;
                }
    }
    int budget = OWL_FILTER_MAX_NODES;
    if (b.oom) {
        rc = OWL_ENOMEM;
    } else if (root >= 0 && pfit(&b, root, 0, &budget)) {
        size_t ncells = 0;
        for (size_t k = 0; k < b.n; k++)
            ncells += b.t[k].nset;
        q->fnodes = calloc(b.n, sizeof *q->fnodes);
        q->preds = calloc(b.n, sizeof *q->preds);
        q->cells = calloc(ncells ? ncells : 1, sizeof *q->cells);
        if (!q->fnodes || !q->preds || !q->cells) {
            rc = OWL_ENOMEM;
        } else {
            q->nfnodes = 1;
            emit(q, &b, root, 0);
            q->filter = q->fnodes;
        }
    }
    for (size_t k = 0; k < b.n; k++) {
        free(b.t[k].set);
        free(b.t[k].setn);
    }
    free(b.t);
    free(assigned);
    free(from);
    return rc;
}

/* ---------- entry points ---------- */

int owl_ins_parse(const char *text, size_t n, owl_ins_query **out, owl_error *err)
{
    *out = NULL;
    if (!text && n)
        return owl_error_set(err, OWL_EINVAL, "query text missing");
    if (n > INS_MAX_TEXT)
        return owl_error_set(err, OWL_EINVAL, "line 1, column 1: a query holds at most %d bytes",
                             INS_MAX_TEXT);
    owl_ins_query *q = calloc(1, sizeof *q);
    if (!q)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    parser ps = {0};
    ps.s = text ? text : "";
    ps.n = n;
    ps.q = q;
    ps.err = err;
    ps.t.kind = T_EOF;
    int rc = next(&ps);
    if (rc == OWL_OK && ps.t.kind == T_EOF)
        rc = fail(&ps, ps.t.pos, "empty query");
    while (rc == OWL_OK) {
        if ((rc = command(&ps)) != OWL_OK)
            break;
        if (ps.t.kind == T_EOF)
            break;
        if (ps.t.kind != T_PIPE) {
            rc = expected(&ps, "'|' or the end of the query");
            break;
        }
        if ((rc = next(&ps)) == OWL_OK && ps.t.kind == T_EOF)
            rc = expected(&ps, "a command after '|'");
    }
    for (size_t k = 0; k < q->ncmds && rc == OWL_OK; k++)
        q->aggregating |= q->cmds[k].kind == C_STATS;
    if (rc == OWL_OK && (finish_query(q) != OWL_OK || build_filter(q) != OWL_OK))
        rc = nomem(&ps);
    if (rc != OWL_OK) {
        owl_ins_free(q);
        return rc;
    }
    *out = q;
    return OWL_OK;
}

void owl_ins_free(owl_ins_query *q)
{
    if (!q)
        return;
    for (size_t k = 0; k < q->ncmds; k++) {
        free(q->cmds[k].items);
        free(q->cmds[k].by);
        free(q->cmds[k].aggs);
        free(q->cmds[k].outs);
    }
    for (size_t k = 0; k < q->nslots; k++)
        free(q->slots[k].name);
    for (size_t k = 0; k < q->nre; k++)
        pcre2_code_free(q->re[k]);
    pcre2_match_context_free(q->mctx);
    for (size_t k = 0; k < q->nstrs; k++)
        free(q->strs[k]);
    free(q->strs);
    free(q->re);
    free(q->slots);
    free(q->cmds);
    free(q->args);
    free(q->nodes);
    free(q->fnodes);
    free(q->preds);
    free(q->cells);
    free(q->outcols);
    free(q);
}

const owl_filter *owl_ins_filter(const owl_ins_query *q)
{
    return q->filter;
}

unsigned owl_ins_columns(const owl_ins_query *q)
{
    return q->columns;
}

int owl_ins_aggregating(const owl_ins_query *q)
{
    return q->aggregating;
}

/* filterpat.c — CloudWatch Logs filter patterns: the compiler, the matcher, the necessary
 * condition handed to the store for pruning, and the values metric filters read. The language
 * and every choice made where AWS's documentation is silent are in docs/filter-patterns.md.
 *
 * Invariants: a compiled pattern is never written after owl_fpat_compile returns, except its
 * filter cache, which only grows and only under `mu`; owl_fpat_filter(p, c) is a necessary
 * condition: whatever owl_fpat_match accepts passes it (tests/unit/test_filterpat.c checks
 * this on every case, the fuzz target on every input). */
#include "index/index.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REGEX 2          /* CloudWatch: at most 2 regular expressions per pattern */
#define MAX_NEST 64          /* parentheses of a JSON pattern */
#define MAX_SEGS 32          /* segments of a JSON selector */
#define JSON_MAX_DEPTH 256   /* nesting of a JSON event; deeper events do not match */
#define RE_MATCH_LIMIT 200000
#define STACK_FIELDS 64
#define STACK_STR 1024

enum kind { K_ALL, K_TERMS, K_REGEX, K_JSON, K_SPACE };

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_NULL, OP_NEXISTS, OP_TRUE, OP_FALSE };

enum vkind { V_STR, V_NUM, V_RE };

/* The right side of a comparison. V_NUM keeps its text too: a string equal to it matches. */
typedef struct val {
    enum vkind kind;
    char *s;    /* decoded text (V_STR, V_NUM) */
    size_t n;
    int glob;   /* V_STR holds '*' */
    double num; /* V_NUM */
    int re;     /* V_RE: index in re[] */
} val;

typedef struct seg {
    char *key;  /* NULL: array index */
    size_t n;
    long idx;
} seg;

enum nkind { N_AND, N_OR, N_COND };

/* A node of a JSON expression or of a space-delimited field's condition: a binary tree. */
typedef struct node {
    enum nkind kind;
    int a, b;           /* N_AND, N_OR */
    enum op op;         /* N_COND */
    val v;
    size_t seg0, nseg;  /* N_COND of JSON: the selector, segs[seg0 .. seg0+nseg) */
} node;

typedef struct term {
    char mode; /* '+' required, '?' one of the alternatives, '-' excluded */
    int word;  /* unquoted: a whole word of the message (the store's token class around it);
                * quoted: the exact bytes anywhere */
    char *s;
    size_t n;
} term;

typedef struct field {
    int ellipsis;
    char *name;
    size_t namen;
    int cond; /* root node, or -1 (any value) */
} field;

/* The col-independent shape of the filter: PRED (SUBSTR/TOKEN of text), AND, OR with
 * children linked first..next. */
typedef struct tnode {
    enum owl_filter_kind kind;
    enum owl_pred_op op;
    const char *text;
    size_t n;
    int first, last, next;
} tnode;

typedef struct fcache {
    size_t col;
    owl_filter *f;
    owl_pred *preds;
    struct fcache *next;
} fcache;

struct owl_fpat {
    enum kind kind;
    term *terms;
    size_t nterms, cterms;
    node *nodes;
    size_t nnodes, cnodes;
    seg *segs;
    size_t nsegs, csegs;
    field *fields;
    size_t nfields, cfields;
    int root; /* K_JSON: root node */
    pcre2_code *re[MAX_REGEX];
    int nre;
    pcre2_match_context *mctx;
    tnode *t;
    size_t nt, ct;
    int troot; /* -1: nothing to prune on */
    pthread_mutex_t mu;
    fcache *cache;
};

/* ---------- small helpers ---------- */

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return OWL_OK;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(*arr, c * size);
    if (!q)
        return OWL_ENOMEM;
    *arr = q;
    *cap = c;
    return OWL_OK;
}

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A whole number in s[0..n): -?D+(.D+)?([eE][+-]?D+)? ; *out its value. 0 when not. */
static int read_num(const char *s, size_t n, double *out)
{
    size_t i = 0;
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    if (s[i] == '-')
        i++;
    size_t d0 = i;
    while (i < n && is_digit((unsigned char)s[i]))
        i++;
    if (i == d0)
        return 0;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == f0)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == e0)
            return 0;
    }
    if (i != n)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (out)
        *out = strtod(tmp, NULL);
    return 1;
}

/* '*' matches any run of bytes (none included); every other byte itself. */
static int glob(const char *pat, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && pat[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < pn && pat[pi] == '*')
        pi++;
    return pi == pn;
}

static int re_find(const owl_fpat *p, int r, const char *s, size_t n)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return 0;
    int rc = pcre2_match(p->re[r], (PCRE2_SPTR)s, n, 0, 0, md, p->mctx);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* ---------- parser ---------- */

typedef struct parser {
    const char *s;
    size_t n, i;
    owl_fpat *p;
    owl_error *err;
    int depth;
    const field *item_field; /* the space-delimited field whose condition is being read */
    int item_first;
} parser;

static int fail(parser *ps, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parser *ps, size_t at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return owl_error_set(ps->err, OWL_EINVAL, "%s at position %zu", msg, at + 1);
}

/* "unexpected 'c'" / "unexpected end of pattern" for the byte at ps->i. */
static int unexpected(parser *ps, const char *wanted)
{
    if (ps->i >= ps->n)
        return fail(ps, ps->i, "unexpected end of pattern%s%s", wanted ? ", expected " : "",
                    wanted ? wanted : "");
    unsigned char c = (unsigned char)ps->s[ps->i];
    if (c >= 0x20 && c < 0x7f)
        return fail(ps, ps->i, "unexpected '%c'%s%s", c, wanted ? ", expected " : "",
                    wanted ? wanted : "");
    return fail(ps, ps->i, "unexpected byte 0x%02x%s%s", c, wanted ? ", expected " : "",
                wanted ? wanted : "");
}

static void skip_blank(parser *ps)
{
    while (ps->i < ps->n && is_blank((unsigned char)ps->s[ps->i]))
        ps->i++;
}

static int at(parser *ps, const char *lit)
{
    size_t l = strlen(lit);
    return ps->n - ps->i >= l && memcmp(ps->s + ps->i, lit, l) == 0;
}

/* A quoted string at ps->i ('"'): \" and \\ stand for themselves, a backslash before any
 * other byte is kept. *out is malloc'ed (NUL-terminated), *outn its length. */
static int quoted(parser *ps, char **out, size_t *outn)
{
    size_t start = ps->i++;
    char *b = malloc(ps->n - ps->i + 1);
    size_t k = 0;
    if (!b)
        return OWL_ENOMEM;
    while (ps->i < ps->n && ps->s[ps->i] != '"') {
        if (ps->s[ps->i] == '\\' && ps->i + 1 < ps->n &&
            (ps->s[ps->i + 1] == '"' || ps->s[ps->i + 1] == '\\'))
            ps->i++;
        b[k++] = ps->s[ps->i++];
    }
    if (ps->i >= ps->n) {
        free(b);
        return fail(ps, start, "unterminated string");
    }
    ps->i++;
    b[k] = '\0';
    *out = b;
    *outn = k;
    return OWL_OK;
}

static int re_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c && strchr("_#=@/;,-:", c)) || (c && strchr("^$?[]{}|\\*+.", c));
}

/* A regular expression %...% at ps->i, checked against CloudWatch's subset and compiled. */
static int regex(parser *ps, int *idx)
{
    owl_fpat *p = ps->p;
    size_t start = ps->i++, body = ps->i;
    while (ps->i < ps->n && ps->s[ps->i] != '%') {
        unsigned char c = (unsigned char)ps->s[ps->i];
        if (c == '(' || c == ')')
            return fail(ps, ps->i, "'%c' is not supported in a regular expression "
                                   "(no subpatterns in CloudWatch's subset)", c);
        if (c >= 0x80)
            return fail(ps, ps->i, "multi-byte characters are not supported in a regular "
                                   "expression");
        if (!re_byte_ok(c)) {
            if (c >= 0x20 && c < 0x7f)
                return fail(ps, ps->i, "'%c' is not allowed in a regular expression", c);
            return fail(ps, ps->i, "byte 0x%02x is not allowed in a regular expression", c);
        }
        if (c == '\\') {
            unsigned char e = ps->i + 1 < ps->n ? (unsigned char)ps->s[ps->i + 1] : 0;
            if (!e || e == '%')
                return fail(ps, ps->i, "'\\' at the end of a regular expression");
            if (!(e && strchr("dDwWsSbBtnr", e)) && !(re_byte_ok(e) && !is_word(e)))
                return fail(ps, ps->i, "unsupported escape '\\%c' in a regular expression", e);
            ps->i++;
        }
        ps->i++;
    }
    if (ps->i >= ps->n)
        return fail(ps, start, "unterminated regular expression");
    if (ps->i == body)
        return fail(ps, start, "empty regular expression");
    if (p->nre >= MAX_REGEX)
        return fail(ps, start, "at most %d regular expressions per pattern", MAX_REGEX);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(ps->s + body), ps->i - body, 0, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR m[120];
        pcre2_get_error_message(ec, m, sizeof m);
        return fail(ps, body + eo, "bad regular expression: %s", (char *)m);
    }
    if (!p->mctx) {
        p->mctx = pcre2_match_context_create(NULL);
        if (!p->mctx) {
            pcre2_code_free(re);
            return OWL_ENOMEM;
        }
        pcre2_set_match_limit(p->mctx, RE_MATCH_LIMIT);
        pcre2_set_depth_limit(p->mctx, RE_MATCH_LIMIT);
    }
    ps->i++;
    *idx = p->nre;
    p->re[p->nre++] = re;
    return OWL_OK;
}

/* A value after an operator; stop: bytes that end a bare value besides blanks. */
static int value(parser *ps, const char *stop, val *v)
{
    skip_blank(ps);
    memset(v, 0, sizeof *v);
    if (ps->i >= ps->n)
        return unexpected(ps, "a value");
    if (ps->s[ps->i] == '"') {
        int rc = quoted(ps, &v->s, &v->n);
        v->kind = V_STR;
        v->glob = rc == OWL_OK && memchr(v->s, '*', v->n) != NULL;
        return rc;
    }
    if (ps->s[ps->i] == '%') {
        v->kind = V_RE;
        return regex(ps, &v->re);
    }
    size_t start = ps->i;
    while (ps->i < ps->n && !is_blank((unsigned char)ps->s[ps->i]) &&
           !strchr(stop, ps->s[ps->i]))
        ps->i++;
    if (ps->i == start)
        return unexpected(ps, "a value");
    v->n = ps->i - start;
    v->s = malloc(v->n + 1);
    if (!v->s)
        return OWL_ENOMEM;
    memcpy(v->s, ps->s + start, v->n);
    v->s[v->n] = '\0';
    if (read_num(v->s, v->n, &v->num)) {
        v->kind = V_NUM;
    } else {
        v->kind = V_STR;
        v->glob = memchr(v->s, '*', v->n) != NULL;
    }
    return OWL_OK;
}

static int new_node(owl_fpat *p, enum nkind k, int *out)
{
    if (grow((void **)&p->nodes, &p->cnodes, p->nnodes + 1, sizeof *p->nodes) != OWL_OK)
        return OWL_ENOMEM;
    memset(&p->nodes[p->nnodes], 0, sizeof *p->nodes);
    p->nodes[p->nnodes].kind = k;
    p->nodes[p->nnodes].a = p->nodes[p->nnodes].b = -1;
    *out = (int)p->nnodes++;
    return OWL_OK;
}

/* The operator at ps->i: = != < <= > >=. 0 when none. */
static int read_op(parser *ps, enum op *op)
{
    static const struct {
        const char *lit;
        enum op op;
    } ops[] = {{"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"=", OP_EQ}, {"<", OP_LT},
               {">", OP_GT}};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (at(ps, ops[k].lit)) {
            ps->i += strlen(ops[k].lit);
            *op = ops[k].op;
            return 1;
        }
    return 0;
}

/* OP value into node nd; relational operators need a number. */
static int comparison(parser *ps, enum op op, const char *stop, int nd)
{
    val v;
    size_t vat;
    skip_blank(ps);
    vat = ps->i;
    int rc = value(ps, stop, &v);
    if (rc != OWL_OK)
        return rc;
    ps->p->nodes[nd].op = op;
    ps->p->nodes[nd].v = v;
    if (op != OP_EQ && op != OP_NE && v.kind != V_NUM)
        return fail(ps, vat, "'%s' compares numbers, expected a number",
                    op == OP_LT ? "<" : op == OP_LE ? "<=" : op == OP_GT ? ">" : ">=");
    return OWL_OK;
}

static int key_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7f && !strchr(".[]=!<>&|(){}\"%,*", c);
}

/* A JSON selector $.a.b[0] at ps->i, appended to p->segs. */
static int selector(parser *ps, size_t *seg0, size_t *nseg)
{
    owl_fpat *p = ps->p;
    if (ps->i >= ps->n || ps->s[ps->i] != '$')
        return unexpected(ps, "a selector such as $.field");
    ps->i++;
    *seg0 = p->nsegs;
    *nseg = 0;
    while (ps->i < ps->n && (ps->s[ps->i] == '.' || ps->s[ps->i] == '[')) {
        if (*nseg >= MAX_SEGS)
            return fail(ps, ps->i, "selector longer than %d steps", MAX_SEGS);
        if (grow((void **)&p->segs, &p->csegs, p->nsegs + 1, sizeof *p->segs) != OWL_OK)
            return OWL_ENOMEM;
        seg gs = {0}, *g = &gs;
        if (ps->s[ps->i++] == '.') {
            size_t k0 = ps->i;
            while (ps->i < ps->n && key_byte((unsigned char)ps->s[ps->i]))
                ps->i++;
            if (ps->i == k0) {
                if (ps->i < ps->n && ps->s[ps->i] == '*')
                    return fail(ps, ps->i, "wildcard selectors are not supported");
                return unexpected(ps, "a field name");
            }
            g->n = ps->i - k0;
            g->key = malloc(g->n + 1);
            if (!g->key)
                return OWL_ENOMEM;
            memcpy(g->key, ps->s + k0, g->n);
            g->key[g->n] = '\0';
        } else {
            size_t d0 = ps->i;
            if (ps->i < ps->n && ps->s[ps->i] == '*')
                return fail(ps, ps->i, "wildcard array indexes ([*]) are not supported");
            while (ps->i < ps->n && is_digit((unsigned char)ps->s[ps->i]) && ps->i - d0 < 9)
                g->idx = g->idx * 10 + (ps->s[ps->i++] - '0');
            if (ps->i == d0)
                return unexpected(ps, "an array index");
            if (ps->i >= ps->n || ps->s[ps->i] != ']')
                return unexpected(ps, "']'");
            ps->i++;
        }
        p->segs[p->nsegs++] = gs;
        (*nseg)++;
    }
    if (*nseg == 0)
        return unexpected(ps, "'.' or '[' after '$'");
    return OWL_OK;
}

/* A keyword (uppercase letters) at ps->i followed by a non-word byte. */
static int keyword(parser *ps, const char *kw)
{
    size_t l = strlen(kw);
    if (!at(ps, kw) || (ps->i + l < ps->n && is_word((unsigned char)ps->s[ps->i + l])))
        return 0;
    ps->i += l;
    return 1;
}

static int json_expr(parser *ps, int *out);

static int json_cond(parser *ps, int *out)
{
    int nd, rc;
    size_t seg0, nseg;
    skip_blank(ps);
    if ((rc = selector(ps, &seg0, &nseg)) != OWL_OK)
        return rc;
    if ((rc = new_node(ps->p, N_COND, &nd)) != OWL_OK)
        return rc;
    ps->p->nodes[nd].seg0 = seg0;
    ps->p->nodes[nd].nseg = nseg;
    *out = nd;
    skip_blank(ps);
    enum op op;
    if (keyword(ps, "IS")) {
        skip_blank(ps);
        if (keyword(ps, "NULL"))
            op = OP_NULL;
        else if (keyword(ps, "TRUE"))
            op = OP_TRUE;
        else if (keyword(ps, "FALSE"))
            op = OP_FALSE;
        else
            return unexpected(ps, "NULL, TRUE or FALSE after IS");
        ps->p->nodes[nd].op = op;
        return OWL_OK;
    }
    if (keyword(ps, "NOT")) {
        skip_blank(ps);
        if (!keyword(ps, "EXISTS"))
            return unexpected(ps, "EXISTS after NOT");
        ps->p->nodes[nd].op = OP_NEXISTS;
        return OWL_OK;
    }
    if (!read_op(ps, &op))
        return unexpected(ps, "an operator (=, !=, <, <=, >, >=, IS, NOT EXISTS)");
    return comparison(ps, op, "()}&|", nd);
}

static int json_unary(parser *ps, int *out)
{
    skip_blank(ps);
    if (ps->i < ps->n && ps->s[ps->i] == '(') {
        size_t open = ps->i++;
        if (++ps->depth > MAX_NEST)
            return fail(ps, open, "parentheses nested deeper than %d", MAX_NEST);
        int rc = json_expr(ps, out);
        if (rc != OWL_OK)
            return rc;
        skip_blank(ps);
        if (ps->i >= ps->n || ps->s[ps->i] != ')')
            return unexpected(ps, "')'");
        ps->i++;
        ps->depth--;
        return OWL_OK;
    }
    return json_cond(ps, out);
}

/* One level of a binary chain: items joined by lit ("&&" or "||") into nodes of kind k. */
static int chain(parser *ps, int *out, const char *lit, enum nkind k,
                 int (*item)(parser *, int *))
{
    int rc = item(ps, out);
    while (rc == OWL_OK) {
        skip_blank(ps);
        if (!at(ps, lit))
            break;
        ps->i += 2;
        int b, nd;
        if ((rc = item(ps, &b)) != OWL_OK || (rc = new_node(ps->p, k, &nd)) != OWL_OK)
            break;
        ps->p->nodes[nd].a = *out;
        ps->p->nodes[nd].b = b;
        *out = nd;
    }
    return rc;
}

static int json_and(parser *ps, int *out)
{
    return chain(ps, out, "&&", N_AND, json_unary);
}

static int json_expr(parser *ps, int *out)
{
    return chain(ps, out, "||", N_OR, json_and);
}

static int end_of_pattern(parser *ps, const char *after)
{
    skip_blank(ps);
    if (ps->i < ps->n) {
        unsigned char c = (unsigned char)ps->s[ps->i];
        if (c >= 0x20 && c < 0x7f)
            return fail(ps, ps->i, "unexpected '%c' after the closing '%s'", c, after);
        return fail(ps, ps->i, "unexpected byte 0x%02x after the closing '%s'", c, after);
    }
    return OWL_OK;
}

static int parse_json(parser *ps)
{
    ps->p->kind = K_JSON;
    ps->i++; /* '{' */
    int rc = json_expr(ps, &ps->p->root);
    if (rc != OWL_OK)
        return rc;
    skip_blank(ps);
    if (ps->i >= ps->n || ps->s[ps->i] != '}')
        return unexpected(ps, ps->i >= ps->n ? "'}'" : "'&&', '||' or '}'");
    ps->i++;
    return end_of_pattern(ps, "}");
}

/* ---- space-delimited ---- */

static int word(parser *ps, size_t *start)
{
    *start = ps->i;
    while (ps->i < ps->n && is_word((unsigned char)ps->s[ps->i]) &&
           (unsigned char)ps->s[ps->i] < 0x80)
        ps->i++;
    return ps->i > *start;
}

/* One comparison of a field's condition: [name] OP value (the name may be left out after
 * the first: "status = 4* || = 5*"). */
static int space_item(parser *ps, int *out, const field *f, int first)
{
    size_t w;
    skip_blank(ps);
    if (!first && word(ps, &w)) {
        if (ps->i - w != f->namen || memcmp(ps->s + w, f->name, f->namen) != 0)
            return fail(ps, w, "a condition of field '%s' names another field", f->name);
        skip_blank(ps);
    }
    enum op op;
    if (!read_op(ps, &op))
        return unexpected(ps, "an operator (=, !=, <, <=, >, >=)");
    int rc = new_node(ps->p, N_COND, out);
    return rc != OWL_OK ? rc : comparison(ps, op, ",]&|", *out);
}

static int space_item_cb(parser *ps, int *out)
{
    int first = ps->item_first;
    ps->item_first = 0;
    return space_item(ps, out, ps->item_field, first);
}

static int space_and(parser *ps, int *out)
{
    return chain(ps, out, "&&", N_AND, space_item_cb);
}

static int space_cmp(parser *ps, int *out)
{
    return chain(ps, out, "||", N_OR, space_and);
}

static int space_field(parser *ps)
{
    owl_fpat *p = ps->p;
    size_t w;
    skip_blank(ps);
    if (grow((void **)&p->fields, &p->cfields, p->nfields + 1, sizeof *p->fields) != OWL_OK)
        return OWL_ENOMEM;
    field *f = &p->fields[p->nfields];
    memset(f, 0, sizeof *f);
    f->cond = -1;
    if (at(ps, "...")) {
        ps->i += 3;
        f->ellipsis = 1;
        p->nfields++;
        return OWL_OK;
    }
    if (!word(ps, &w))
        return unexpected(ps, "a field name or '...'");
    for (size_t k = 0; k < p->nfields; k++)
        if (!p->fields[k].ellipsis && p->fields[k].namen == ps->i - w &&
            !memcmp(p->fields[k].name, ps->s + w, ps->i - w))
            return fail(ps, w, "field name '%.*s' used twice", (int)(ps->i - w), ps->s + w);
    f->namen = ps->i - w;
    f->name = malloc(f->namen + 1);
    if (!f->name)
        return OWL_ENOMEM;
    memcpy(f->name, ps->s + w, f->namen);
    f->name[f->namen] = '\0';
    p->nfields++;
    skip_blank(ps);
    if (ps->i < ps->n && strchr("=!<>", ps->s[ps->i])) {
        ps->item_field = f;
        ps->item_first = 1;
        int root, rc = space_cmp(ps, &root);
        p->fields[p->nfields - 1].cond = root;
        return rc;
    }
    return OWL_OK;
}

static int parse_space(parser *ps)
{
    ps->p->kind = K_SPACE;
    ps->i++; /* '[' */
    skip_blank(ps);
    if (ps->i < ps->n && ps->s[ps->i] == ']') {
        ps->i++;
        return end_of_pattern(ps, "]");
    }
    for (;;) {
        int rc = space_field(ps);
        if (rc != OWL_OK)
            return rc;
        skip_blank(ps);
        if (ps->i < ps->n && ps->s[ps->i] == ',') {
            ps->i++;
            continue;
        }
        if (ps->i < ps->n && ps->s[ps->i] == ']') {
            ps->i++;
            return end_of_pattern(ps, "]");
        }
        return unexpected(ps, "',' or ']'");
    }
}

/* ---- terms ---- */

static int parse_terms(parser *ps)
{
    owl_fpat *p = ps->p;
    p->kind = K_TERMS;
    for (;;) {
        skip_blank(ps);
        if (ps->i >= ps->n)
            return OWL_OK;
        char mode = '+';
        if (ps->s[ps->i] == '?' || ps->s[ps->i] == '-')
            mode = ps->s[ps->i++];
        if (grow((void **)&p->terms, &p->cterms, p->nterms + 1, sizeof *p->terms) != OWL_OK)
            return OWL_ENOMEM;
        term *t = &p->terms[p->nterms];
        t->mode = mode;
        t->word = 0;
        if (ps->i < ps->n && ps->s[ps->i] == '"') {
            int rc = quoted(ps, &t->s, &t->n);
            if (rc != OWL_OK)
                return rc;
            p->nterms++;
        } else if (ps->i < ps->n && is_word((unsigned char)ps->s[ps->i])) {
            size_t w = ps->i;
            while (ps->i < ps->n && is_word((unsigned char)ps->s[ps->i]))
                ps->i++;
            t->n = ps->i - w;
            if (!(t->s = malloc(t->n + 1)))
                return OWL_ENOMEM;
            memcpy(t->s, ps->s + w, t->n);
            t->s[t->n] = '\0';
            t->word = 1;
            p->nterms++;
        } else if (ps->i < ps->n && ps->s[ps->i] == '%') {
            return fail(ps, ps->i, "a regular expression must be the whole pattern");
        } else {
            return unexpected(ps, mode == '+' ? NULL : "a term");
        }
        if (ps->i < ps->n && !is_blank((unsigned char)ps->s[ps->i])) {
            unsigned char c = (unsigned char)ps->s[ps->i];
            if (c >= 0x20 && c < 0x7f)
                return fail(ps, ps->i, "unexpected '%c' (enclose terms with other characters "
                                       "than letters, digits and '_' in double quotes)", c);
            return unexpected(ps, NULL);
        }
    }
}

/* ---------- the necessary condition (col-independent shape) ---------- */

static int tnew(owl_fpat *p, enum owl_filter_kind k, enum owl_pred_op op, const char *text,
                size_t n)
{
    if (grow((void **)&p->t, &p->ct, p->nt + 1, sizeof *p->t) != OWL_OK)
        return -2;
    p->t[p->nt] = (tnode){k, op, text, n, -1, -1, -1};
    return (int)p->nt++;
}

static void tadd(owl_fpat *p, int parent, int kid)
{
    tnode *t = &p->t[parent];
    if (t->first < 0)
        t->first = kid;
    else
        p->t[t->last].next = kid;
    t->last = kid;
}

/* Result codes of the builders: a node index, -1 (nothing to prune on), -2 (no memory). */
static int tjoin(owl_fpat *p, enum owl_filter_kind k, int a, int b)
{
    if (a == -2 || b == -2)
        return -2;
    if (k == OWL_FILTER_AND && (a < 0 || b < 0))
        return a < 0 ? b : a;
    if (k == OWL_FILTER_OR && (a < 0 || b < 0))
        return -1;
    int nd = tnew(p, k, 0, NULL, 0);
    if (nd < 0)
        return nd;
    int kids[2] = {a, b};
    for (int j = 0; j < 2; j++) {
        if (p->t[kids[j]].kind == k) { /* flatten */
            for (int c = p->t[kids[j]].first; c >= 0;) {
                int nx = p->t[c].next;
                p->t[c].next = -1;
                tadd(p, nd, c);
                c = nx;
            }
        } else {
            tadd(p, nd, kids[j]);
        }
    }
    return nd;
}

/* A string comparison's pieces between '*': each occurs in the message (AND). */
static int tglob(owl_fpat *p, const val *v)
{
    int acc = -1;
    size_t i = 0;
    while (i < v->n) {
        size_t j = i;
        while (j < v->n && v->s[j] != '*')
            j++;
        if (j > i)
            acc = tjoin(p, OWL_FILTER_AND, acc, tnew(p, OWL_FILTER_PRED, OWL_PRED_SUBSTR,
                                                     v->s + i, j - i));
        i = j + 1;
    }
    return acc;
}

/* JSON: only the literals true/false/null are certain to appear as they are (any character
 * of a string or key may be written as a \u escape, a number in many forms). */
static int tjson(owl_fpat *p, int nd)
{
    const node *x = &p->nodes[nd];
    if (x->kind != N_COND)
        return tjoin(p, x->kind == N_AND ? OWL_FILTER_AND : OWL_FILTER_OR, tjson(p, x->a),
                     tjson(p, x->b));
    const char *lit = x->op == OP_TRUE ? "true" : x->op == OP_FALSE ? "false"
                    : x->op == OP_NULL ? "null" : NULL;
    return lit ? tnew(p, OWL_FILTER_PRED, OWL_PRED_TOKEN, lit, strlen(lit)) : -1;
}

/* Space-delimited: a field equal to a string holds its pieces, so the message does. */
static int tspace(owl_fpat *p, int nd)
{
    const node *x = &p->nodes[nd];
    if (x->kind != N_COND)
        return tjoin(p, x->kind == N_AND ? OWL_FILTER_AND : OWL_FILTER_OR, tspace(p, x->a),
                     tspace(p, x->b));
    return x->op == OP_EQ && x->v.kind == V_STR ? tglob(p, &x->v) : -1;
}

static int tterms(owl_fpat *p)
{
    int acc = -1, alt = -3; /* -3: no alternatives seen */
    for (size_t k = 0; k < p->nterms && acc != -2; k++) {
        const term *t = &p->terms[k];
        int leaf = !t->n  ? -1
                   : t->word ? tnew(p, OWL_FILTER_PRED, OWL_PRED_TOKEN, t->s, t->n)
                             : tnew(p, OWL_FILTER_PRED, OWL_PRED_SUBSTR, t->s, t->n);
        if (t->mode == '+')
            acc = tjoin(p, OWL_FILTER_AND, acc, leaf);
        else if (t->mode == '?')
            alt = alt == -3 ? leaf : tjoin(p, OWL_FILTER_OR, alt, leaf);
    }
    return alt == -3 ? acc : tjoin(p, OWL_FILTER_AND, acc, alt);
}

/* Keeps the tree within OWL_FILTER_MAX_DEPTH / _MAX_NODES: an AND may drop children (it only
 * gets weaker), an OR that does not fit becomes nothing. 0 when ti itself must go. */
static int tfit(owl_fpat *p, int ti, int level, int *budget)
{
    if (level >= OWL_FILTER_MAX_DEPTH || *budget <= 0)
        return 0;
    (*budget)--;
    tnode *t = &p->t[ti];
    if (t->kind == OWL_FILTER_PRED)
        return 1;
    int prev = -1, kept = 0;
    for (int c = t->first; c >= 0; c = p->t[c].next) {
        if (tfit(p, c, level + 1, budget)) {
            kept++;
            prev = c;
            continue;
        }
        if (t->kind == OWL_FILTER_OR)
            return 0;
        if (prev < 0)
            t->first = p->t[c].next;
        else
            p->t[prev].next = p->t[c].next;
    }
    return kept > 0;
}

static int build_shape(owl_fpat *p)
{
    int root = -1;
    if (p->kind == K_TERMS) {
        root = tterms(p);
    } else if (p->kind == K_JSON) {
        root = tjson(p, p->root);
    } else if (p->kind == K_SPACE) {
        for (size_t k = 0; k < p->nfields && root != -2; k++)
            if (p->fields[k].cond >= 0)
                root = tjoin(p, OWL_FILTER_AND, root, tspace(p, p->fields[k].cond));
    }
    if (root == -2)
        return OWL_ENOMEM;
    int budget = OWL_FILTER_MAX_NODES;
    p->troot = root >= 0 && tfit(p, root, 0, &budget) ? root : -1;
    return OWL_OK;
}

/* ---------- compile / free ---------- */

int owl_fpat_compile(const char *text, size_t n, owl_fpat **out, owl_error *err)
{
    *out = NULL;
    if (!text && n)
        return owl_error_set(err, OWL_EINVAL, "pattern text missing");
    /* CloudWatch's limit; it also bounds the recursion over &&/|| chains */
    if (n > OWL_FPAT_MAX_LEN)
        return owl_error_set(err, OWL_EINVAL, "pattern longer than %d bytes at position %d",
                             OWL_FPAT_MAX_LEN, OWL_FPAT_MAX_LEN + 1);
    owl_fpat *p = calloc(1, sizeof *p);
    if (!p)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->root = p->troot = -1;
    parser ps = {text, n, 0, p, err, 0, NULL, 0};
    int rc;
    skip_blank(&ps);
    if (ps.i >= n) {
        p->kind = K_ALL;
        rc = OWL_OK;
    } else if (text[ps.i] == '{') {
        rc = parse_json(&ps);
    } else if (text[ps.i] == '[') {
        rc = parse_space(&ps);
    } else if (text[ps.i] == '%') {
        int idx;
        p->kind = K_REGEX;
        rc = regex(&ps, &idx);
        if (rc == OWL_OK)
            rc = end_of_pattern(&ps, "%");
    } else {
        rc = parse_terms(&ps);
    }
    if (rc == OWL_OK)
        rc = build_shape(p);
    if (rc != OWL_OK) {
        if (rc == OWL_ENOMEM)
            owl_error_set(err, OWL_ENOMEM, "out of memory");
        owl_fpat_free(p);
        return rc;
    }
    *out = p;
    return OWL_OK;
}

void owl_fpat_free(owl_fpat *p)
{
    if (!p)
        return;
    for (size_t k = 0; k < p->nterms; k++)
        free(p->terms[k].s);
    for (size_t k = 0; k < p->nnodes; k++)
        free(p->nodes[k].v.s);
    for (size_t k = 0; k < p->nsegs; k++)
        free(p->segs[k].key);
    for (size_t k = 0; k < p->nfields; k++)
        free(p->fields[k].name);
    for (int k = 0; k < p->nre; k++)
        pcre2_code_free(p->re[k]);
    pcre2_match_context_free(p->mctx);
    for (fcache *c = p->cache, *nx; c; c = nx) {
        nx = c->next;
        free(c->f);
        free(c->preds);
        free(c);
    }
    free(p->terms);
    free(p->nodes);
    free(p->segs);
    free(p->fields);
    free(p->t);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---------- JSON events ---------- */

static size_t jws(const char *s, size_t n, size_t i)
{
    while (i < n && is_blank((unsigned char)s[i]))
        i++;
    return i;
}

static int hexval(unsigned char c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                         : -1;
}

/* The string starting at s[i] == '"': the index past its closing quote, 0 when malformed. */
static size_t jstring(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++i >= n)
                return 0;
            if (s[i] == 'u') {
                if (n - i < 5)
                    return 0;
                for (int k = 1; k <= 4; k++)
                    if (hexval((unsigned char)s[i + k]) < 0)
                        return 0;
                i += 4;
            } else if (!strchr("\"\\/bfnrt", s[i]) || !s[i]) {
                return 0;
            }
        }
    }
    return 0;
}

static size_t jnumber(const char *s, size_t n, size_t i)
{
    size_t j = i;
    if (j < n && s[j] == '-')
        j++;
    if (j >= n || !is_digit((unsigned char)s[j]))
        return 0;
    if (s[j] == '0')
        j++;
    else
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
    if (j < n && s[j] == '.') {
        size_t f = ++j;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j == f)
            return 0;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        size_t e = j;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j == e)
            return 0;
    }
    return j;
}

/* The value starting at s[i] (no blanks before it): the index past it, 0 when malformed. */
static size_t jvalue(const char *s, size_t n, size_t i, int depth)
{
    if (i >= n || depth > JSON_MAX_DEPTH)
        return 0;
    switch (s[i]) {
    case '"':
        return jstring(s, n, i);
    case 't':
        return n - i >= 4 && !memcmp(s + i, "true", 4) ? i + 4 : 0;
    case 'f':
        return n - i >= 5 && !memcmp(s + i, "false", 5) ? i + 5 : 0;
    case 'n':
        return n - i >= 4 && !memcmp(s + i, "null", 4) ? i + 4 : 0;
    case '{':
    case '[': {
        char close = s[i] == '{' ? '}' : ']';
        int obj = s[i] == '{';
        i = jws(s, n, i + 1);
        if (i < n && s[i] == close)
            return i + 1;
        for (;;) {
            if (obj) {
                if (i >= n || s[i] != '"' || !(i = jstring(s, n, i)))
                    return 0;
                i = jws(s, n, i);
                if (i >= n || s[i] != ':')
                    return 0;
                i = jws(s, n, i + 1);
            }
            if (!(i = jvalue(s, n, i, depth + 1)))
                return 0;
            i = jws(s, n, i);
            if (i < n && s[i] == ',') {
                i = jws(s, n, i + 1);
                continue;
            }
            return i < n && s[i] == close ? i + 1 : 0;
        }
    }
    default:
        return jnumber(s, n, i);
    }
}

/* Decodes one unit of the JSON string body raw[*i..n) into out (1 to 4 bytes). */
static size_t jdecode1(const char *raw, size_t n, size_t *i, char out[4])
{
    unsigned char c = (unsigned char)raw[(*i)++];
    if (c != '\\' || *i >= n) {
        out[0] = (char)c;
        return 1;
    }
    char e = raw[(*i)++];
    switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = e; return 1;
    }
    unsigned cp = 0;
    for (int k = 0; k < 4 && *i < n; k++)
        cp = cp * 16 + (unsigned)hexval((unsigned char)raw[(*i)++]);
    if (cp >= 0xd800 && cp < 0xdc00 && n - *i >= 6 && raw[*i] == '\\' && raw[*i + 1] == 'u') {
        unsigned lo = 0;
        for (int k = 2; k < 6; k++)
            lo = lo * 16 + (unsigned)hexval((unsigned char)raw[*i + k]);
        if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            *i += 6;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes raw[0..n) into out (room for n bytes: decoding never lengthens); its length. */
static size_t jdecode(const char *raw, size_t n, char *out)
{
    size_t i = 0, k = 0;
    while (i < n)
        k += jdecode1(raw, n, &i, out + k);
    return k;
}

static int jkey_eq(const char *raw, size_t n, const char *key, size_t keyn)
{
    if (!memchr(raw, '\\', n))
        return n == keyn && memcmp(raw, key, n) == 0;
    size_t i = 0, k = 0;
    char u[4];
    while (i < n) {
        size_t l = jdecode1(raw, n, &i, u);
        if (k + l > keyn || memcmp(key + k, u, l) != 0)
            return 0;
        k += l;
    }
    return k == keyn;
}

typedef struct jv {
    char t;        /* '"' string, '0' number, 't', 'f', 'n', '{', '[' */
    const char *p; /* string: the raw body between the quotes; others: the whole text */
    size_t n;
} jv;

/* The value at the selector in the (validated) JSON event s; 0 when absent. Of repeated keys
 * the last one counts. */
static int jfind(const char *s, size_t n, const seg *g, size_t ng, jv *out)
{
    size_t i = jws(s, n, 0);
    for (size_t k = 0; k < ng; k++) {
        size_t hit = 0;
        int found = 0;
        if (i >= n || s[i] != (g[k].key ? '{' : '['))
            return 0;
        i = jws(s, n, i + 1);
        for (long idx = 0; i < n && s[i] != '}' && s[i] != ']'; idx++) {
            int match;
            if (g[k].key) {
                size_t ke = jstring(s, n, i);
                if (!ke)
                    return 0;
                match = jkey_eq(s + i + 1, ke - i - 2, g[k].key, g[k].n);
                i = jws(s, n, jws(s, n, ke) + 1);
            } else {
                match = idx == g[k].idx;
            }
            size_t ve = jvalue(s, n, i, 0);
            if (!ve)
                return 0;
            if (match) {
                hit = i;
                found = 1;
                if (!g[k].key)
                    break;
            }
            i = jws(s, n, ve);
            if (i < n && s[i] == ',')
                i = jws(s, n, i + 1);
        }
        if (!found)
            return 0;
        i = hit;
    }
    size_t e = jvalue(s, n, i, 0);
    if (!e)
        return 0;
    char c = s[i];
    out->t = c == '"' || c == 't' || c == 'f' || c == 'n' || c == '{' || c == '[' ? c : '0';
    out->p = c == '"' ? s + i + 1 : s + i;
    out->n = c == '"' ? e - i - 2 : e - i;
    return 1;
}

/* A JSON string's decoded text: the raw body when it has no escapes, else decoded into buf
 * (STACK_STR bytes) or *heap. NULL when memory ran out. */
static const char *jtext(const jv *v, char *buf, char **heap, size_t *n)
{
    *heap = NULL;
    if (v->t != '"' || !memchr(v->p, '\\', v->n)) {
        *n = v->n;
        return v->p;
    }
    char *o = buf;
    if (v->n > STACK_STR && !(o = *heap = malloc(v->n)))
        return NULL;
    *n = jdecode(v->p, v->n, o);
    return o;
}

/* EQ of a value against the text of a string or number, or the number itself. */
static int val_eq(const owl_fpat *p, const val *v, const char *s, size_t sn, int isnum,
                  double num)
{
    switch (v->kind) {
    case V_STR:
        return v->glob ? glob(v->s, v->n, s, sn) : sn == v->n && !memcmp(s, v->s, sn);
    case V_NUM:
        return isnum ? num == v->num : sn == v->n && !memcmp(s, v->s, sn);
    case V_RE:
        return re_find(p, v->re, s, sn);
    }
    return 0;
}

static int compare(const owl_fpat *p, const node *x, const char *s, size_t sn, int isnum,
                   double num)
{
    switch (x->op) {
    case OP_EQ:
        return val_eq(p, &x->v, s, sn, isnum, num);
    case OP_NE:
        return !val_eq(p, &x->v, s, sn, isnum, num);
    case OP_LT:
        return isnum && num < x->v.num;
    case OP_LE:
        return isnum && num <= x->v.num;
    case OP_GT:
        return isnum && num > x->v.num;
    case OP_GE:
        return isnum && num >= x->v.num;
    default:
        return 0;
    }
}

static int jcond(const owl_fpat *p, const node *x, const char *msg, size_t n)
{
    jv v;
    int found = jfind(msg, n, p->segs + x->seg0, x->nseg, &v);
    switch (x->op) {
    case OP_NEXISTS:
        return !found;
    case OP_NULL:
        return found && v.t == 'n';
    case OP_TRUE:
        return found && v.t == 't';
    case OP_FALSE:
        return found && v.t == 'f';
    default:
        break;
    }
    if (!found)
        return 0;
    if (v.t == '0') {
        double d = 0;
        int isnum = read_num(v.p, v.n, &d);
        return compare(p, x, v.p, v.n, isnum, d);
    }
    if (v.t != '"')
        return x->op == OP_NE; /* objects, arrays, literals: unequal to every value */
    char buf[STACK_STR], *heap;
    size_t tn;
    const char *t = jtext(&v, buf, &heap, &tn);
    int r = t ? compare(p, x, t, tn, 0, 0) : 0;
    free(heap);
    return r;
}

static int jeval(const owl_fpat *p, int nd, const char *msg, size_t n)
{
    const node *x = &p->nodes[nd];
    if (x->kind == N_AND)
        return jeval(p, x->a, msg, n) && jeval(p, x->b, msg, n);
    if (x->kind == N_OR)
        return jeval(p, x->a, msg, n) || jeval(p, x->b, msg, n);
    return jcond(p, x, msg, n);
}

static int is_json_object(const char *msg, size_t n)
{
    size_t i = jws(msg, n, 0);
    if (i >= n || msg[i] != '{')
        return 0;
    size_t e = jvalue(msg, n, i, 0);
    return e && jws(msg, n, e) == n;
}

/* ---------- space-delimited events ---------- */

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Splits msg into fields (runs of non-blanks; "..." and [...] group, without their
 * delimiters). Fills f[0..cap) and returns the count, which may exceed cap. */
static size_t split(const char *msg, size_t n, span *f, size_t cap)
{
    size_t i = 0, k = 0;
    for (;;) {
        while (i < n && (msg[i] == ' ' || msg[i] == '\t'))
            i++;
        if (i >= n)
            return k;
        size_t s, e;
        if (msg[i] == '"' || msg[i] == '[') {
            char close = msg[i] == '"' ? '"' : ']';
            s = ++i;
            const char *c = memchr(msg + i, close, n - i);
            e = c ? (size_t)(c - msg) : n;
            i = c ? e + 1 : n;
        } else {
            s = i;
            while (i < n && msg[i] != ' ' && msg[i] != '\t')
                i++;
            e = i;
        }
        if (k < cap)
            f[k] = (span){msg + s, e - s};
        k++;
    }
}

static int seval(const owl_fpat *p, int nd, const span *f)
{
    const node *x = &p->nodes[nd];
    if (x->kind == N_AND)
        return seval(p, x->a, f) && seval(p, x->b, f);
    if (x->kind == N_OR)
        return seval(p, x->a, f) || seval(p, x->b, f);
    double d = 0;
    int isnum = read_num(f->p, f->n, &d);
    return compare(p, x, f->p, f->n, isnum, d);
}

/* Matches the fields of the pattern against ev[0..k) ('...' takes any run, shortest first,
 * left to right); assign (may be NULL) gets each pattern field's event field. */
static int smatch(const owl_fpat *p, const span *ev, size_t k, size_t *assign)
{
    size_t m = p->nfields, pi = 0, ei = 0, star = (size_t)-1, mark = 0;
    while (ei < k) {
        const field *f = pi < m ? &p->fields[pi] : NULL;
        if (f && f->ellipsis) {
            star = pi++;
            mark = ei;
        } else if (f && (f->cond < 0 || seval(p, f->cond, &ev[ei]))) {
            if (assign)
                assign[pi] = ei;
            pi++;
            ei++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            ei = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < m && p->fields[pi].ellipsis)
        pi++;
    return pi == m;
}

/* Splits msg and runs smatch; assign as there. */
static int space_run(const owl_fpat *p, const char *msg, size_t n, size_t *assign, span *out,
                     size_t want)
{
    span st[STACK_FIELDS], *ev = st;
    size_t k = split(msg, n, st, STACK_FIELDS);
    if (k > STACK_FIELDS) {
        if (!(ev = malloc(k * sizeof *ev)))
            return 0;
        split(msg, n, ev, k);
    }
    int r = smatch(p, ev, k, assign);
    if (r && out)
        *out = ev[assign[want]];
    if (ev != st)
        free(ev);
    return r;
}

/* ---------- match ---------- */

/* Whether w[0..wn) occurs in msg as a whole word: no word byte just before or after it. */
static int has_word(const char *msg, size_t n, const char *w, size_t wn)
{
    const char *at = msg, *end = msg + n;
    while ((size_t)(end - at) >= wn && (at = memmem(at, (size_t)(end - at), w, wn))) {
        if ((at == msg || !is_word((unsigned char)at[-1])) &&
            (at + wn == end || !is_word((unsigned char)at[wn])))
            return 1;
        at++;
    }
    return 0;
}

static int terms_match(const owl_fpat *p, const char *msg, size_t n)
{
    int alts = 0, alt_hit = 0;
    for (size_t k = 0; k < p->nterms; k++) {
        const term *t = &p->terms[k];
        int has = t->n == 0 || (n && (t->word ? has_word(msg, n, t->s, t->n)
                                              : memmem(msg, n, t->s, t->n) != NULL));
        if (t->mode == '+' && !has)
            return 0;
        if (t->mode == '-' && has)
            return 0;
        if (t->mode == '?') {
            alts = 1;
            alt_hit |= has;
        }
    }
    return !alts || alt_hit;
}

int owl_fpat_match(const owl_fpat *p, const char *msg, size_t n)
{
    if (!msg)
        n = 0;
    switch (p->kind) {
    case K_ALL:
        return 1;
    case K_TERMS:
        return terms_match(p, msg, n);
    case K_REGEX:
        return re_find(p, 0, msg ? msg : "", n);
    case K_JSON:
        return is_json_object(msg, n) && jeval(p, p->root, msg, n);
    case K_SPACE:
        return space_run(p, msg ? msg : "", n, NULL, NULL, 0);
    }
    return 0;
}

/* ---------- filter for the store ---------- */

static void emit(const owl_fpat *p, int ti, size_t col, owl_filter *f, size_t slot, size_t *nf,
                 owl_pred *preds, size_t *np)
{
    const tnode *t = &p->t[ti];
    owl_filter *o = &f[slot];
    o->kind = t->kind;
    if (t->kind == OWL_FILTER_PRED) {
        owl_pred *q = &preds[(*np)++];
        memset(q, 0, sizeof *q);
        q->col = col;
        q->op = t->op;
        q->text = (owl_bytes){t->text, t->n};
        o->pred = q;
        return;
    }
    size_t k = 0, base = *nf;
    for (int c = t->first; c >= 0; c = p->t[c].next)
        k++;
    *nf += k;
    o->kids = &f[base];
    o->nkids = k;
    k = 0;
    for (int c = t->first; c >= 0; c = p->t[c].next)
        emit(p, c, col, f, base + k++, nf, preds, np);
}

const owl_filter *owl_fpat_filter(const owl_fpat *p, size_t message_col)
{
    if (p->troot < 0)
        return NULL;
    owl_fpat *mp = (owl_fpat *)p; /* only the cache changes, under the mutex */
    const owl_filter *res = NULL;
    pthread_mutex_lock(&mp->mu);
    for (fcache *c = mp->cache; c && !res; c = c->next)
        if (c->col == message_col)
            res = c->f;
    if (!res) {
        fcache *c = calloc(1, sizeof *c);
        owl_filter *f = calloc(p->nt, sizeof *f);
        owl_pred *q = calloc(p->nt, sizeof *q);
        if (c && f && q) {
            size_t nf = 1, np = 0;
            emit(p, p->troot, message_col, f, 0, &nf, q, &np);
            *c = (fcache){message_col, f, q, mp->cache};
            mp->cache = c;
            res = f;
        } else {
            free(c);
            free(f);
            free(q);
        }
    }
    pthread_mutex_unlock(&mp->mu);
    return res;
}

/* ---------- metric-filter values ---------- */

/* A JSON selector in ref (the whole string), appended to a scratch pattern's segs. */
static int ref_selector(owl_fpat *tmp, const char *ref, owl_error *err, size_t *nseg)
{
    size_t seg0;
    parser ps = {ref, strlen(ref), 0, tmp, err, 0, NULL, 0};
    int rc = selector(&ps, &seg0, nseg);
    if (rc == OWL_OK && ps.i != ps.n)
        rc = unexpected(&ps, NULL);
    return rc;
}

static int field_of(const owl_fpat *p, const char *ref, size_t *idx)
{
    if (ref[0] != '$')
        return 0;
    for (size_t k = 0; k < p->nfields; k++)
        if (!p->fields[k].ellipsis && strcmp(p->fields[k].name, ref + 1) == 0) {
            *idx = k;
            return 1;
        }
    return 0;
}

const char *owl_fpat_field_name(const owl_fpat *p, size_t i)
{
    if (p->kind != K_SPACE)
        return NULL;
    for (size_t k = 0; k < p->nfields; k++)
        if (!p->fields[k].ellipsis && i-- == 0)
            return p->fields[k].name;
    return NULL;
}

static void free_segs(owl_fpat *tmp)
{
    for (size_t k = 0; k < tmp->nsegs; k++)
        free(tmp->segs[k].key);
    free(tmp->segs);
}

int owl_fpat_check_ref(const owl_fpat *p, const char *ref, owl_error *err)
{
    size_t idx, nseg;
    if (!ref)
        return owl_error_set(err, OWL_EINVAL, "no field reference");
    if (p->kind == K_JSON) {
        owl_fpat tmp = {0};
        int rc = ref_selector(&tmp, ref, err, &nseg);
        free_segs(&tmp);
        return rc;
    }
    if (p->kind == K_SPACE) {
        if (field_of(p, ref, &idx))
            return OWL_OK;
        return owl_error_set(err, OWL_EINVAL, "'%s' names no field of the pattern (use $name "
                             "of a named field)", ref);
    }
    return owl_error_set(err, OWL_EINVAL, "'%s': only JSON and space-delimited patterns have "
                         "fields to name", ref);
}

static void set_num(const char *s, size_t n, double *num, int *is_num)
{
    double d = 0;
    int ok = read_num(s, n, &d);
    if (is_num)
        *is_num = ok;
    if (ok && num)
        *num = d;
}

static int extract_json(const char *msg, size_t n, const char *ref, owl_buf *scratch,
                        owl_bytes *text, double *num, int *is_num)
{
    owl_fpat tmp = {0};
    size_t nseg;
    jv v;
    int r = 0;
    if (ref_selector(&tmp, ref, NULL, &nseg) == OWL_OK && is_json_object(msg, n) &&
        jfind(msg, n, tmp.segs, nseg, &v) && v.t != 'n') {
        r = 1;
        *text = (owl_bytes){v.p, v.n};
        if (v.t == '"' && memchr(v.p, '\\', v.n)) {
            owl_buf_reset(scratch);
            if (owl_buf_reserve(scratch, v.n) != OWL_OK) {
                r = 0;
            } else {
                scratch->len = jdecode(v.p, v.n, scratch->data);
                *text = (owl_bytes){scratch->data, scratch->len};
            }
        }
        if (r)
            set_num(text->p, text->n, num, is_num);
    }
    free_segs(&tmp);
    return r;
}

int owl_fpat_extract(const owl_fpat *p, const char *msg, size_t n, const char *ref,
                     owl_buf *scratch, owl_bytes *text, double *num, int *is_num)
{
    size_t idx;
    if (is_num)
        *is_num = 0;
    if (!ref || (!msg && n))
        return 0;
    if (!msg)
        msg = "";
    if (p->kind == K_JSON)
        return extract_json(msg, n, ref, scratch, text, num, is_num);
    if (p->kind != K_SPACE || !field_of(p, ref, &idx))
        return 0;
    size_t *assign = calloc(p->nfields, sizeof *assign);
    span f;
    int r = assign && space_run(p, msg, n, assign, &f, idx);
    free(assign);
    if (!r)
        return 0;
    *text = (owl_bytes){f.p, f.n};
    set_num(f.p, f.n, num, is_num);
    return 1;
}

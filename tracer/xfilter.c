/* xfilter.c — X-Ray filter expressions: the lexer and recursive-descent parser that compile an
 * expression into a flat array of nodes, the evaluator that matches a trace of plain span
 * views, and the three-valued pre-check on a trace summary used for pruning. The language,
 * the grammar and owl's choices where AWS's documentation is silent: docs/filter-expressions.md;
 * rootcause.* reads the fault origin and the critical path of critpath.c.
 *
 * Invariants: a compiled owl_xf is never written after owl_xf_compile returns; node children
 * always have smaller indexes than their parent, and evaluation recurses once per node, so
 * its depth is bounded by the expression's length (OWL_XF_MAX_LEN); owl_xf_may_match is
 * sound (never 0 for a trace that owl_xf_match accepts — tests/unit/test_xfilter.c checks it
 * on every case, the fuzz target on every input). */
#include "tracer/tracer.h"

#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the compiled form ---- */

enum nkind { N_AND, N_OR, N_NOT, N_KW, N_ANN, N_SVC, N_EDGE, N_RC, N_RKW };

enum op { OP_NONE, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CONTAINS, OP_BEGINS, OP_ENDS };

enum vtype { V_NONE, V_STR, V_NUM, V_BOOL };

enum kw {
    KW_OK, KW_ERROR, KW_FAULT, KW_THROTTLE, KW_PARTIAL, KW_INFERRED, KW_ROOT,
    KW_RESPONSETIME, KW_DURATION, KW_HTTP_STATUS,
    KW_HTTP_URL, KW_HTTP_METHOD, KW_HTTP_USERAGENT, KW_HTTP_CLIENTIP, KW_USER, KW_NAME, KW_TYPE,
    KW_AZ, KW_INSTANCE_ID, KW_RESOURCE_ARN,
};

enum ktype { KT_BOOL, KT_NUM, KT_STR, KT_REFUSED, KT_RCONLY };

/* Every keyword of AWS's page, with its type; the refused ones say why. */
static const struct kwdef {
    const char *name;
    unsigned char kw, type;
    const char *why;
} kwtab[] = {
    {"ok", KW_OK, KT_BOOL, NULL},
    {"error", KW_ERROR, KT_BOOL, NULL},
    {"fault", KW_FAULT, KT_BOOL, NULL},
    {"throttle", KW_THROTTLE, KT_BOOL, NULL},
    {"partial", KW_PARTIAL, KT_BOOL, NULL},
    {"inferred", KW_INFERRED, KT_BOOL, NULL},
    {"root", KW_ROOT, KT_BOOL, NULL},
    {"responsetime", KW_RESPONSETIME, KT_NUM, NULL},
    {"duration", KW_DURATION, KT_NUM, NULL},
    {"http.status", KW_HTTP_STATUS, KT_NUM, NULL},
    {"http.url", KW_HTTP_URL, KT_STR, NULL},
    {"http.method", KW_HTTP_METHOD, KT_STR, NULL},
    {"http.useragent", KW_HTTP_USERAGENT, KT_STR, NULL},
    {"http.clientip", KW_HTTP_CLIENTIP, KT_STR, NULL},
    {"user", KW_USER, KT_STR, NULL},
    {"name", KW_NAME, KT_STR, NULL},
    {"type", KW_TYPE, KT_STR, NULL},
    {"availabilityzone", KW_AZ, KT_STR, NULL},
    {"instance.id", KW_INSTANCE_ID, KT_STR, NULL},
    {"resource.arn", KW_RESOURCE_ARN, KT_STR, NULL},
    {"group", 0, KT_REFUSED, "group.name / group.arn are not supported: owl has no X-Ray groups"},
    {"json", 0, KT_REFUSED, "json (root cause objects) is not supported"},
    {"first", 0, KT_RCONLY, NULL},
    {"last", 0, KT_RCONLY, NULL},
    {"remote", 0, KT_RCONLY, NULL},
    {"index", 0, KT_RCONLY, NULL},
    {"coverage", 0, KT_RCONLY, NULL},
    {"message", 0, KT_RCONLY, NULL},
};

/* rootcause.KIND.TARGET { filter }: which root cause, and which of its lists the braces read
 * (docs/filter-expressions.md, "Root causes"). */
enum rck { RC_FAULT, RC_ERROR, RC_THROTTLE, RC_RESPONSETIME };
enum rct { RT_SERVICE, RT_ENTITY, RT_EXCEPTION };

static const char *const rck_names[] = {"fault", "error", "throttle", "responsetime"};
static const char *const rct_names[] = {"service", "entity", "exception"};

enum rkw { RK_NAME, RK_TYPE, RK_INFERRED, RK_FIRST, RK_LAST, RK_INDEX, RK_REMOTE, RK_COVERAGE,
           RK_MESSAGE };

#define RB(t) (1u << (t))
/* The keywords of a root cause's list elements, and the targets (RB bits) they apply to;
 * coverage only to response-time entities, message not to them. */
static const struct rkwdef {
    struct kwdef kd;
    unsigned targets;
} rkwtab[] = {
    {{"name", RK_NAME, KT_STR, NULL}, RB(RT_SERVICE) | RB(RT_ENTITY) | RB(RT_EXCEPTION)},
    {{"type", RK_TYPE, KT_STR, NULL}, RB(RT_SERVICE)},
    {{"inferred", RK_INFERRED, KT_BOOL, NULL}, RB(RT_SERVICE)},
    {{"first", RK_FIRST, KT_BOOL, NULL}, RB(RT_SERVICE) | RB(RT_ENTITY) | RB(RT_EXCEPTION)},
    {{"last", RK_LAST, KT_BOOL, NULL}, RB(RT_SERVICE) | RB(RT_ENTITY) | RB(RT_EXCEPTION)},
    {{"index", RK_INDEX, KT_NUM, NULL}, RB(RT_SERVICE) | RB(RT_ENTITY) | RB(RT_EXCEPTION)},
    {{"remote", RK_REMOTE, KT_BOOL, NULL}, RB(RT_ENTITY)},
    {{"coverage", RK_COVERAGE, KT_NUM, NULL}, RB(RT_ENTITY)},
    {{"message", RK_MESSAGE, KT_STR, NULL}, RB(RT_ENTITY) | RB(RT_EXCEPTION)},
};

typedef struct sel {
    char *name, *type; /* NULL = any */
} sel;

typedef struct node {
    unsigned char kind, kw, op, vt;
    unsigned char rck, rct; /* N_RC: which root cause, which list */
    int32_t a, b;      /* N_AND/N_OR: children; N_NOT: a; N_SVC/N_EDGE/N_RC: a = sub-filter or -1 */
    double num;
    int boolean;
    char *str;         /* string value */
    char *key;         /* annotation key */
    sel sel[2];        /* N_SVC: sel[0]; N_EDGE: source, destination */
} node;

struct owl_xf {
    node *nodes;
    size_t n, cap;
    int32_t top;
};

/* ---- lexer ---- */

enum tk {
    T_EOF, T_IDENT, T_STR, T_NUM, T_LP, T_RP, T_LB, T_RB, T_LSQ, T_RSQ, T_COMMA, T_COLON,
    T_BANG, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
};

typedef struct tok {
    enum tk k;
    size_t at, len; /* bytes [at, at+len) of the text */
    double num;
} tok;

typedef struct ps {
    const char *s;
    size_t n, pos;
    tok t;
    owl_xf *f;
    owl_error *err;
    int depth, in_group;
    int in_rc;         /* inside rootcause.K.T { }: rck, rct say which */
    unsigned char rck, rct;
} ps;

static int fail(ps *p, int code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(ps *p, int code, size_t at, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return owl_error_set(p->err, code, "%s at position %zu", msg, at + 1);
}

/* What the current token is, for "expected X, found Y". */
static const char *found(const ps *p, char *buf, size_t cap)
{
    if (p->t.k == T_EOF)
        return "the end of the expression";
    size_t len = p->t.len < 24 ? p->t.len : 24;
    int cut = p->t.len > len;
    snprintf(buf, cap, "'%.*s%s'", (int)len, p->s + p->t.at, cut ? "..." : "");
    return buf;
}

static int expected(ps *p, const char *what)
{
    char buf[48];
    return fail(p, OWL_EINVAL, p->t.at, "expected %s, found %s", what, found(p, buf, sizeof buf));
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int lex_number(ps *p, size_t i)
{
    const char *s = p->s;
    size_t j = i;
    int digits = 0;
    if (j < p->n && s[j] == '-')
        j++;
    while (j < p->n && is_digit(s[j]))
        j++, digits++;
    if (j < p->n && s[j] == '.') {
        j++;
        while (j < p->n && is_digit(s[j]))
            j++, digits++;
    }
    if (!digits)
        return fail(p, OWL_EINVAL, i, "expected a number");
    if (j < p->n && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < p->n && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k >= p->n || !is_digit(s[k]))
            return fail(p, OWL_EINVAL, k, "expected the digits of an exponent");
        while (k < p->n && is_digit(s[k]))
            k++;
        j = k;
    }
    if (j < p->n && (is_alpha(s[j]) || s[j] == '.'))
        return fail(p, OWL_EINVAL, j, "unexpected '%c' after a number", s[j]);
    char buf[64];
    if (j - i >= sizeof buf)
        return fail(p, OWL_EINVAL, i, "number longer than %zu characters", sizeof buf - 1);
    memcpy(buf, s + i, j - i);
    buf[j - i] = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return fail(p, OWL_EINVAL, i, "number out of range");
    p->t = (tok){T_NUM, i, j - i, v};
    p->pos = j;
    return OWL_OK;
}

/* Reads the next token into p->t. */
static int next(ps *p)
{
    const char *s = p->s;
    size_t i = p->pos;
    while (i < p->n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= p->n) {
        p->t = (tok){T_EOF, p->n, 0, 0};
        p->pos = i;
        return OWL_OK;
    }
    unsigned char c = (unsigned char)s[i];
    size_t len = 1;
    enum tk k;
    switch (c) {
    case '(': k = T_LP; break;
    case ')': k = T_RP; break;
    case '{': k = T_LB; break;
    case '}': k = T_RB; break;
    case '[': k = T_LSQ; break;
    case ']': k = T_RSQ; break;
    case ',': k = T_COMMA; break;
    case ':': k = T_COLON; break;
    case '=': k = T_EQ; break;
    case '!':
        k = (i + 1 < p->n && s[i + 1] == '=') ? T_NE : T_BANG;
        len = k == T_NE ? 2 : 1;
        break;
    case '<':
        k = (i + 1 < p->n && s[i + 1] == '=') ? T_LE : T_LT;
        len = k == T_LE ? 2 : 1;
        break;
    case '>':
        k = (i + 1 < p->n && s[i + 1] == '=') ? T_GE : T_GT;
        len = k == T_GE ? 2 : 1;
        break;
    case '"': {
        size_t j = i + 1;
        while (j < p->n && s[j] != '"')
            j += (s[j] == '\\' && j + 1 < p->n) ? 2 : 1;
        if (j >= p->n)
            return fail(p, OWL_EINVAL, i, "unterminated string");
        k = T_STR;
        len = j + 1 - i;
        break;
    }
    default:
        if (is_digit(c) || c == '-' || c == '.')
            return lex_number(p, i);
        if (is_alpha(c)) {
            size_t j = i + 1;
            while (j < p->n && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '.'))
                j++;
            k = T_IDENT;
            len = j - i;
            break;
        }
        if (c == 0)
            return fail(p, OWL_EINVAL, i, "NUL byte");
        if (c == '#')
            return fail(p, OWL_EUNSUPPORTED, i, "JSON values (#[...]) are not supported");
        if (c == '&' || c == '|')
            return fail(p, OWL_EINVAL, i, "unexpected '%c' (use AND, OR)", c);
        if (c < 0x20 || c >= 0x7f)
            return fail(p, OWL_EINVAL, i, "unexpected byte 0x%02x", c);
        return fail(p, OWL_EINVAL, i, "unexpected '%c'", c);
    }
    p->t = (tok){k, i, len, 0};
    p->pos = i + len;
    return OWL_OK;
}

static int word(const ps *p, const char *w)
{
    return p->t.k == T_IDENT && strlen(w) == p->t.len && !strncasecmp(p->s + p->t.at, w, p->t.len);
}

static int accept(ps *p, enum tk k, const char *what)
{
    if (p->t.k != k)
        return expected(p, what);
    return next(p);
}

/* The unescaped contents of the string token at p->t (\x stands for x). */
static int take_string(ps *p, char **out)
{
    const char *s = p->s + p->t.at + 1;
    size_t n = p->t.len - 2;
    char *d = malloc(n + 1);
    if (!d)
        return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        if (s[i] == 0) {
            free(d);
            return fail(p, OWL_EINVAL, p->t.at + 1 + i, "NUL byte");
        }
        d[o++] = s[i];
    }
    d[o] = 0;
    *out = d;
    return OWL_OK;
}

/* ---- parser ---- */

static int add_node(ps *p, const node *nd, int32_t *idx)
{
    owl_xf *f = p->f;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        node *nn = realloc(f->nodes, cap * sizeof *nn);
        if (!nn)
            return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
        f->nodes = nn;
        f->cap = cap;
    }
    f->nodes[f->n] = *nd;
    *idx = (int32_t)f->n++;
    return OWL_OK;
}

/* Frees what a node that was never added owns. */
static void drop_node(node *nd)
{
    free(nd->str);
    free(nd->key);
    for (int i = 0; i < 2; i++) {
        free(nd->sel[i].name);
        free(nd->sel[i].type);
    }
}

static int push(ps *p, node *nd, int32_t *idx)
{
    int rc = add_node(p, nd, idx);
    if (rc != OWL_OK)
        drop_node(nd);
    return rc;
}

static int parse_or(ps *p, int32_t *out);

static const struct {
    enum tk k;
    unsigned char op;
    const char *text;
} cmp_ops[] = {
    {T_EQ, OP_EQ, "="}, {T_NE, OP_NE, "!="}, {T_LT, OP_LT, "<"},
    {T_LE, OP_LE, "<="}, {T_GT, OP_GT, ">"}, {T_GE, OP_GE, ">="},
};
static const struct {
    const char *word;
    unsigned char op;
} str_ops[] = {{"CONTAINS", OP_CONTAINS}, {"BEGINSWITH", OP_BEGINS}, {"ENDSWITH", OP_ENDS}};

/* The operator at p->t, or OP_NONE when the token is not one. */
static int peek_op(const ps *p)
{
    for (size_t i = 0; i < sizeof cmp_ops / sizeof *cmp_ops; i++)
        if (p->t.k == cmp_ops[i].k)
            return cmp_ops[i].op;
    for (size_t i = 0; i < sizeof str_ops / sizeof *str_ops; i++)
        if (word(p, str_ops[i].word))
            return str_ops[i].op;
    return OP_NONE;
}

static int is_order_op(int op)
{
    return op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

static int is_str_op(int op)
{
    return op == OP_CONTAINS || op == OP_BEGINS || op == OP_ENDS;
}

/* The value after an operator: a quoted string, a number or true/false, into nd. */
static int parse_value(ps *p, node *nd)
{
    int rc;
    if (p->t.k == T_STR) {
        if ((rc = take_string(p, &nd->str)) != OWL_OK)
            return rc;
        nd->vt = V_STR;
    } else if (p->t.k == T_NUM) {
        nd->vt = V_NUM;
        nd->num = p->t.num;
    } else if (word(p, "true") || word(p, "false")) {
        nd->vt = V_BOOL;
        nd->boolean = word(p, "true");
    } else {
        return expected(p, "a value (a quoted string, a number, true or false)");
    }
    return next(p);
}

/* keyword [op value], for the keyword of the kwtab (N_KW) or rkwtab (N_RKW) row kd. */
static int parse_keyword(ps *p, const struct kwdef *kd, int kind, int32_t *out)
{
    node nd = {.kind = (unsigned char)kind, .kw = kd->kw, .a = -1, .b = -1};
    int rc = next(p);
    if (rc != OWL_OK)
        return rc;
    int op = peek_op(p);
    size_t op_at = p->t.at;
    if (op == OP_NONE) {
        if (kd->type == KT_NUM)
            return expected(p, "a comparison operator (= != < <= > >=) after a number keyword");
        return push(p, &nd, out);
    }
    if (kd->type == KT_BOOL && op != OP_EQ && op != OP_NE)
        return fail(p, OWL_EINVAL, op_at, "only = and != apply to the boolean keyword '%s'",
                    kd->name);
    if (kd->type == KT_NUM && is_str_op(op))
        return fail(p, OWL_EINVAL, op_at, "%s does not apply to the number keyword '%s'",
                    str_ops[op - OP_CONTAINS].word, kd->name);
    if (kd->type == KT_STR && is_order_op(op))
        return fail(p, OWL_EINVAL, op_at, "< <= > >= do not apply to the string keyword '%s'",
                    kd->name);
    if ((rc = next(p)) != OWL_OK)
        return rc;
    nd.op = (unsigned char)op;
    size_t val_at = p->t.at;
    if ((rc = parse_value(p, &nd)) != OWL_OK) {
        drop_node(&nd);
        return rc;
    }
    int want = kd->type == KT_BOOL ? V_BOOL : kd->type == KT_NUM ? V_NUM : V_STR;
    if (nd.vt != want) {
        drop_node(&nd);
        static const char *const what[] = {"", "a quoted string", "a number", "true or false"};
        return fail(p, OWL_EINVAL, val_at, "expected %s for '%s'", what[want], kd->name);
    }
    return push(p, &nd, out);
}

static int valid_key(const char *k, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alpha(k[i]) && !is_digit(k[i]))
            return 0;
    return 1;
}

/* annotation.KEY | annotation[KEY] | annotation["KEY"], then [op value]. */
static int parse_annotation(ps *p, int32_t *out)
{
    size_t at = p->t.at;
    node nd = {.kind = N_ANN, .a = -1, .b = -1};
    int rc;
    if (p->in_group)
        return fail(p, OWL_EINVAL, at, "annotation cannot be used inside service() or edge()");
    if (p->t.len > 10) { /* annotation.KEY, one identifier token */
        const char *k = p->s + at + 11;
        size_t kn = p->t.len - 11;
        if (!valid_key(k, kn))
            return fail(p, OWL_EINVAL, at + 11, "expected an annotation key of letters, digits "
                        "and _ (or annotation[\"...\"])");
        if (!(nd.key = strndup(k, kn)))
            return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
        rc = next(p);
    } else {
        if ((rc = next(p)) != OWL_OK)
            return rc;
        if (p->t.k != T_LSQ)
            return expected(p, "'.' or '[' after annotation");
        if ((rc = next(p)) != OWL_OK)
            return rc;
        if (p->t.k == T_STR) {
            if ((rc = take_string(p, &nd.key)) != OWL_OK)
                return rc;
            if (!nd.key[0]) {
                free(nd.key);
                return fail(p, OWL_EINVAL, p->t.at, "empty annotation key");
            }
        } else if (p->t.k == T_IDENT) {
            if (!valid_key(p->s + p->t.at, p->t.len))
                return fail(p, OWL_EINVAL, p->t.at, "expected an annotation key of letters, "
                            "digits and _ (or a quoted key)");
            if (!(nd.key = strndup(p->s + p->t.at, p->t.len)))
                return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
        } else {
            return expected(p, "an annotation key");
        }
        if ((rc = next(p)) != OWL_OK || (rc = accept(p, T_RSQ, "']'")) != OWL_OK) {
            drop_node(&nd);
            return rc;
        }
    }
    if (rc != OWL_OK) {
        drop_node(&nd);
        return rc;
    }
    int op = peek_op(p);
    if (op != OP_NONE) {
        if ((rc = next(p)) != OWL_OK) {
            drop_node(&nd);
            return rc;
        }
        nd.op = (unsigned char)op;
        size_t val_at = p->t.at;
        if ((rc = parse_value(p, &nd)) != OWL_OK) {
            drop_node(&nd);
            return rc;
        }
        const char *bad = NULL;
        if (is_order_op(op) && nd.vt != V_NUM)
            bad = "< <= > >= need a number";
        else if (is_str_op(op) && nd.vt != V_STR)
            bad = "CONTAINS, BEGINSWITH and ENDSWITH need a quoted string";
        if (bad) {
            drop_node(&nd);
            return fail(p, OWL_EINVAL, val_at, "%s", bad);
        }
    }
    return push(p, &nd, out);
}

/* A service selector: "name" | id(name: "x", type: "t") (either or both, once each). */
static int parse_selector(ps *p, sel *s)
{
    int rc;
    if (p->t.k == T_STR) {
        if ((rc = take_string(p, &s->name)) != OWL_OK)
            return rc;
        return next(p);
    }
    if (!word(p, "id"))
        return expected(p, "a quoted service name or id(...)");
    if ((rc = next(p)) != OWL_OK || (rc = accept(p, T_LP, "'(' after id")) != OWL_OK)
        return rc;
    for (;;) {
        char **slot;
        if (word(p, "name"))
            slot = &s->name;
        else if (word(p, "type"))
            slot = &s->type;
        else
            return expected(p, "name: or type: in id(...)");
        if (*slot)
            return fail(p, OWL_EINVAL, p->t.at, "'%.*s' given twice in id(...)", (int)p->t.len,
                        p->s + p->t.at);
        if ((rc = next(p)) != OWL_OK || (rc = accept(p, T_COLON, "':'")) != OWL_OK)
            return rc;
        if (p->t.k != T_STR)
            return expected(p, "a quoted string");
        if ((rc = take_string(p, slot)) != OWL_OK || (rc = next(p)) != OWL_OK)
            return rc;
        if (p->t.k == T_RP)
            return next(p);
        if ((rc = accept(p, T_COMMA, "',' or ')'")) != OWL_OK)
            return rc;
    }
}

/* The optional { filter } of service() and edge(), into nd->a. */
static int parse_braces(ps *p, node *nd)
{
    int rc;
    nd->a = -1;
    if (p->t.k != T_LB)
        return OWL_OK;
    if (++p->depth > OWL_XF_MAX_DEPTH)
        return fail(p, OWL_EINVAL, p->t.at, "nesting deeper than %d", OWL_XF_MAX_DEPTH);
    if ((rc = next(p)) != OWL_OK)
        return rc;
    p->in_group = 1;
    rc = parse_or(p, &nd->a);
    p->in_group = 0;
    if (rc != OWL_OK || (rc = accept(p, T_RB, "'}'")) != OWL_OK)
        return rc;
    p->depth--;
    return OWL_OK;
}

/* service([selector]) [{ filter }] | edge(selector, selector) [{ filter }] */
static int parse_group(ps *p, int edge, int32_t *out)
{
    node nd = {.kind = edge ? N_EDGE : N_SVC, .a = -1, .b = -1};
    const char *what = edge ? "edge" : "service";
    int rc;
    if (p->in_group)
        return fail(p, OWL_EINVAL, p->t.at, "%s() cannot be nested in service() or edge()", what);
    if ((rc = next(p)) != OWL_OK)
        return rc;
    if (p->t.k != T_LP)
        return expected(p, edge ? "'(' after edge" : "'(' after service");
    if ((rc = next(p)) != OWL_OK)
        return rc;
    if (edge) {
        if ((rc = parse_selector(p, &nd.sel[0])) != OWL_OK ||
            (rc = accept(p, T_COMMA, "',' between the two services of edge()")) != OWL_OK ||
            (rc = parse_selector(p, &nd.sel[1])) != OWL_OK)
            goto bad;
    } else if (p->t.k != T_RP && (rc = parse_selector(p, &nd.sel[0])) != OWL_OK) {
        goto bad;
    }
    if ((rc = accept(p, T_RP, "')'")) != OWL_OK || (rc = parse_braces(p, &nd)) != OWL_OK)
        goto bad;
    return push(p, &nd, out);
bad:
    drop_node(&nd);
    return rc;
}

/* A keyword of a root cause's list element, inside rootcause.K.T { }. */
static int parse_rc_keyword(ps *p, int32_t *out)
{
    const char *s = p->s + p->t.at;
    size_t n = p->t.len;
    for (size_t i = 0; i < sizeof rkwtab / sizeof *rkwtab; i++) {
        const struct rkwdef *r = &rkwtab[i];
        if (n != strlen(r->kd.name) || strncasecmp(s, r->kd.name, n))
            continue;
        if (!(r->targets & RB(p->rct)) ||
            (r->kd.kw == RK_COVERAGE && p->rck != RC_RESPONSETIME) ||
            (r->kd.kw == RK_MESSAGE && p->rck == RC_RESPONSETIME))
            return fail(p, OWL_EINVAL, p->t.at, "'%s' does not apply to rootcause.%s.%s",
                        r->kd.name, rck_names[p->rck], rct_names[p->rct]);
        return parse_keyword(p, &r->kd, N_RKW, out);
    }
    char buf[48];
    return fail(p, OWL_EINVAL, p->t.at, "unknown keyword %s inside rootcause.%s.%s { } (name, "
                "type, inferred, first, last, index, remote, coverage, message)",
                found(p, buf, sizeof buf), rck_names[p->rck], rct_names[p->rct]);
}

/* The index in names[0..n) of the word s[0..len), case-insensitive; -1 when none. */
static int pick(const char *const *names, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && !strncasecmp(s, names[i], len))
            return (int)i;
    return -1;
}

/* rootcause.KIND.TARGET [{ filter }], the whole dotted name being one identifier token. */
static int parse_rootcause(ps *p, int32_t *out)
{
    size_t at = p->t.at, n = p->t.len;
    const char *s = p->s + at;
    node nd = {.kind = N_RC, .a = -1, .b = -1};
    int rc;
    if (p->in_group)
        return fail(p, OWL_EINVAL, at, "rootcause.* cannot be used inside service() or edge()");
    const char *k = s + 10, *dot = n > 10 ? memchr(k, '.', n - 10) : NULL;
    size_t kn = n > 10 ? (dot ? (size_t)(dot - k) : n - 10) : 0;
    if (kn == 4 && !strncasecmp(k, "json", 4))
        return fail(p, OWL_EUNSUPPORTED, at, "rootcause.json (root cause objects) is not "
                    "supported");
    int kind = pick(rck_names, 4, k, kn);
    if (kind < 0)
        return fail(p, OWL_EINVAL, n > 10 ? at + 10 : at + n, "expected fault, error, throttle "
                    "or responsetime after rootcause.");
    int target = dot ? pick(rct_names, 3, dot + 1, (size_t)(s + n - dot - 1)) : -1;
    if (target < 0)
        return fail(p, OWL_EINVAL, dot ? (size_t)(dot + 1 - p->s) : at + n, "expected .service, "
                    ".entity or .exception after rootcause.%s", rck_names[kind]);
    if (kind == RC_RESPONSETIME && target == RT_EXCEPTION)
        return fail(p, OWL_EINVAL, (size_t)(dot + 1 - p->s), "a response-time root cause has "
                    "no exceptions");
    nd.rck = (unsigned char)kind;
    nd.rct = (unsigned char)target;
    if ((rc = next(p)) != OWL_OK)
        return rc;
    if (p->t.k == T_LB) {
        if (++p->depth > OWL_XF_MAX_DEPTH)
            return fail(p, OWL_EINVAL, p->t.at, "nesting deeper than %d", OWL_XF_MAX_DEPTH);
        if ((rc = next(p)) != OWL_OK)
            return rc;
        p->in_rc = 1;
        p->rck = nd.rck;
        p->rct = nd.rct;
        rc = parse_or(p, &nd.a);
        p->in_rc = 0;
        if (rc != OWL_OK || (rc = accept(p, T_RB, "'}'")) != OWL_OK)
            return rc;
        p->depth--;
    }
    return push(p, &nd, out);
}

static int parse_primary(ps *p, int32_t *out)
{
    int rc;
    if (p->t.k == T_LP) {
        if ((rc = next(p)) != OWL_OK || (rc = parse_or(p, out)) != OWL_OK)
            return rc;
        return accept(p, T_RP, "')'");
    }
    if (p->t.k != T_IDENT)
        return expected(p, "a keyword, service(), edge(), annotation, '(' or '!'");
    if (p->in_rc)
        return parse_rc_keyword(p, out);
    if (word(p, "service"))
        return parse_group(p, 0, out);
    if (word(p, "edge"))
        return parse_group(p, 1, out);
    if (word(p, "id"))
        return fail(p, OWL_EINVAL, p->t.at, "id() names a service only inside service() or edge()");
    const char *s = p->s + p->t.at;
    size_t n = p->t.len;
    if (n >= 10 && !strncasecmp(s, "annotation", 10) && (n == 10 || s[10] == '.'))
        return parse_annotation(p, out);
    if (n >= 9 && !strncasecmp(s, "rootcause", 9) && (n == 9 || s[9] == '.'))
        return parse_rootcause(p, out);
    for (size_t i = 0; i < sizeof kwtab / sizeof *kwtab; i++) {
        const struct kwdef *kd = &kwtab[i];
        size_t kn = strlen(kd->name);
        if (kd->type == KT_RCONLY && n == kn && !strncasecmp(s, kd->name, kn))
            return fail(p, OWL_EINVAL, p->t.at, "'%s' applies only inside rootcause.*.service, "
                        ".entity or .exception { }", kd->name);
        if (kd->type == KT_REFUSED) {
            if (n >= kn && !strncasecmp(s, kd->name, kn) && (n == kn || s[kn] == '.'))
                return fail(p, OWL_EUNSUPPORTED, p->t.at, "%s", kd->why);
        } else if (n == kn && !strncasecmp(s, kd->name, kn)) {
            return parse_keyword(p, kd, N_KW, out);
        }
    }
    char buf[48];
    return fail(p, OWL_EINVAL, p->t.at, "unknown keyword %s", found(p, buf, sizeof buf));
}

static int parse_unary(ps *p, int32_t *out)
{
    int rc;
    if (p->t.k != T_BANG && !word(p, "NOT"))
        return parse_primary(p, out);
    if (++p->depth > OWL_XF_MAX_DEPTH)
        return fail(p, OWL_EINVAL, p->t.at, "nesting deeper than %d", OWL_XF_MAX_DEPTH);
    int32_t a;
    if ((rc = next(p)) != OWL_OK || (rc = parse_unary(p, &a)) != OWL_OK)
        return rc;
    p->depth--;
    node nd = {.kind = N_NOT, .a = a, .b = -1};
    return push(p, &nd, out);
}

/* Whether the current token may start a term joined by an implicit AND ("ok !partial"). */
static int starts_term(const ps *p)
{
    return p->t.k == T_BANG || p->t.k == T_LP ||
           (p->t.k == T_IDENT && !word(p, "OR") && !word(p, "AND"));
}

static int parse_and(ps *p, int32_t *out)
{
    int32_t a, b;
    int rc = parse_unary(p, &a);
    while (rc == OWL_OK && (word(p, "AND") || starts_term(p))) {
        if (word(p, "AND") && (rc = next(p)) != OWL_OK)
            break;
        if ((rc = parse_unary(p, &b)) != OWL_OK)
            break;
        node nd = {.kind = N_AND, .a = a, .b = b};
        rc = push(p, &nd, &a);
    }
    *out = a;
    return rc;
}

static int parse_or(ps *p, int32_t *out)
{
    int32_t a, b;
    if (++p->depth > OWL_XF_MAX_DEPTH)
        return fail(p, OWL_EINVAL, p->t.at, "nesting deeper than %d", OWL_XF_MAX_DEPTH);
    if (p->t.k == T_EOF || p->t.k == T_RP || p->t.k == T_RB)
        return expected(p, "a filter expression");
    int rc = parse_and(p, &a);
    while (rc == OWL_OK && word(p, "OR")) {
        if ((rc = next(p)) != OWL_OK || (rc = parse_and(p, &b)) != OWL_OK)
            break;
        node nd = {.kind = N_OR, .a = a, .b = b};
        rc = push(p, &nd, &a);
    }
    p->depth--;
    *out = a;
    return rc;
}

int owl_xf_compile(const char *text, size_t n, owl_xf **out, owl_error *err)
{
    *out = NULL;
    if (!text)
        return owl_error_set(err, OWL_EINVAL, "filter expression missing");
    if (n > OWL_XF_MAX_LEN)
        return owl_error_set(err, OWL_EINVAL, "filter expression longer than %d bytes at "
                             "position %d", OWL_XF_MAX_LEN, OWL_XF_MAX_LEN + 1);
    owl_xf *f = calloc(1, sizeof *f);
    if (!f)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    ps p = {.s = text, .n = n, .f = f, .err = err};
    int rc = next(&p);
    if (rc == OWL_OK)
        rc = parse_or(&p, &f->top);
    if (rc == OWL_OK && p.t.k != T_EOF)
        rc = expected(&p, "AND, OR or the end of the expression");
    if (rc != OWL_OK) {
        owl_xf_free(f);
        return rc;
    }
    *out = f;
    return OWL_OK;
}

void owl_xf_free(owl_xf *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        drop_node(&f->nodes[i]);
    free(f->nodes);
    free(f);
}

/* ---- the trace's structure ---- */

static int set(const char *s)
{
    return s && *s;
}

/* Equal, "not recorded" being equal only to itself. */
static int same(const char *a, const char *b)
{
    if (!set(a) || !set(b))
        return !set(a) && !set(b);
    return !strcmp(a, b);
}

static int32_t parent_of(const owl_xf_trace *t, size_t i)
{
    int32_t p = t->spans[i].parent;
    return (p >= 0 && (size_t)p < t->n_spans && (size_t)p != i) ? p : -1;
}

/* An entry span begins a service group: no parent, or a parent of another service node
 * (another name or another type: X-Ray's Lambda service and function share a name). */
static int is_entry(const owl_xf_trace *t, size_t i)
{
    int32_t p = parent_of(t, i);
    return p < 0 || !same(t->spans[p].service, t->spans[i].service) ||
           !same(t->spans[p].service_type, t->spans[i].service_type);
}

static int32_t find_root(const owl_xf_trace *t)
{
    if (t->root >= 0 && (size_t)t->root < t->n_spans)
        return t->root;
    int32_t r = -1;
    for (size_t i = 0; i < t->n_spans; i++)
        if (parent_of(t, i) < 0 && (r < 0 || t->spans[i].start_ns < t->spans[r].start_ns))
            r = (int32_t)i;
    return r;
}

static int service_present(const owl_xf_trace *t, const char *name)
{
    for (size_t i = 0; i < t->n_spans; i++)
        if (same(t->spans[i].service, name))
            return 1;
    return 0;
}

static int calls_out(const owl_xf_span *s)
{
    return (s->kind == OWL_XF_CLIENT || s->kind == OWL_XF_PRODUCER) && set(s->remote_service);
}

/* A node of X-Ray's service graph that a filter is applied to: a service group (entry span
 * and its same-service descendants), or a lone client span standing for the service it calls
 * (inferred when no span of that service is in the trace). */
typedef struct grp {
    const char *svc, *type;
    int32_t entry;
    int solo, inferred;
} grp;

/* An element of a root cause's list (a service, an entity, an exception) that the braces of
 * rootcause.K.T { } are applied to. */
typedef struct rcel {
    const char *name, *type, *message;
    int inferred, remote, has_coverage;
    double coverage;
    size_t index, count; /* position in the list from 0, the list's length */
} rcel;

typedef struct ev {
    const owl_xf *f;
    const owl_xf_trace *t;
    int32_t root;
    const grp *g;     /* NULL: the whole trace */
    const rcel *el;   /* inside rootcause braces: the element */
} ev;

/* Whether span j belongs to the group of entry span e (walk bounded against cycles). */
static int in_group(const owl_xf_trace *t, size_t j, size_t e)
{
    for (size_t steps = 0; steps <= t->n_spans; steps++) {
        if (j == e)
            return 1;
        if (is_entry(t, j))
            return 0;
        j = (size_t)parent_of(t, j);
    }
    return 0;
}

static int in_ctx(const ev *e, size_t j)
{
    if (!e->g)
        return 1;
    if (e->g->solo)
        return j == (size_t)e->g->entry;
    return in_group(e->t, j, (size_t)e->g->entry);
}

static const owl_xf_span *entry_span(const ev *e)
{
    int32_t i = e->g ? e->g->entry : e->root;
    return i >= 0 ? &e->t->spans[i] : NULL;
}

static int any_inferred(const owl_xf_trace *t)
{
    for (size_t i = 0; i < t->n_spans; i++)
        if (calls_out(&t->spans[i]) && !service_present(t, t->spans[i].remote_service))
            return 1;
    return 0;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* hi - lo for hi >= lo, saturated: times come from the network and may span the whole range. */
static int64_t span_ns(int64_t lo, int64_t hi)
{
    int64_t d;
    return __builtin_sub_overflow(hi, lo, &d) ? INT64_MAX : d;
}

static int finished(const owl_xf_span *s)
{
    return !s->in_progress && s->end_ns >= s->start_ns;
}

/* Last end - first start over the finished spans of the context; 0 when there are none. */
static int extent(const ev *e, double *out)
{
    int have = 0;
    int64_t lo = 0, hi = 0;
    for (size_t i = 0; i < e->t->n_spans; i++) {
        const owl_xf_span *s = &e->t->spans[i];
        if (!finished(s) || !in_ctx(e, i))
            continue;
        if (!have || s->start_ns < lo)
            lo = s->start_ns;
        if (!have || s->end_ns > hi)
            hi = s->end_ns;
        have = 1;
    }
    *out = secs(span_ns(lo, hi));
    return have;
}

/* ---- comparisons ---- */

static int cmp_num(double x, int op, double v)
{
    switch (op) {
    case OP_EQ: return x == v;
    case OP_NE: return x != v;
    case OP_LT: return x < v;
    case OP_LE: return x <= v;
    case OP_GT: return x > v;
    case OP_GE: return x >= v;
    default: return 0;
    }
}

/* A string field against a node: absent fields satisfy nothing, not even != (docs). */
static int cmp_str(const char *x, const node *nd)
{
    if (!set(x))
        return 0;
    size_t xn, vn;
    switch (nd->op) {
    case OP_NONE: return 1;
    case OP_EQ: return !strcmp(x, nd->str);
    case OP_NE: return strcmp(x, nd->str) != 0;
    case OP_CONTAINS: return strstr(x, nd->str) != NULL;
    case OP_BEGINS: return !strncmp(x, nd->str, strlen(nd->str));
    case OP_ENDS:
        xn = strlen(x), vn = strlen(nd->str);
        return xn >= vn && !memcmp(x + xn - vn, nd->str, vn);
    default: return 0;
    }
}

static int cmp_bool(int x, const node *nd)
{
    if (nd->op == OP_NONE)
        return x;
    return nd->op == OP_EQ ? x == nd->boolean : x != nd->boolean;
}

static const char *span_field(const owl_xf_span *s, int kw)
{
    switch (kw) {
    case KW_HTTP_URL: return s->http_url;
    case KW_HTTP_METHOD: return s->http_method;
    case KW_HTTP_USERAGENT: return s->http_useragent;
    case KW_HTTP_CLIENTIP: return s->http_clientip;
    case KW_USER: return s->user;
    case KW_AZ: return s->availability_zone;
    case KW_INSTANCE_ID: return s->instance_id;
    case KW_RESOURCE_ARN: return s->resource_arn;
    default: return NULL;
    }
}

static int any_span_str(const ev *e, const node *nd)
{
    for (size_t i = 0; i < e->t->n_spans; i++)
        if (in_ctx(e, i) && cmp_str(span_field(&e->t->spans[i], nd->kw), nd))
            return 1;
    return 0;
}

static int eval_kw(const ev *e, const node *nd)
{
    const owl_xf_span *E = entry_span(e);
    double x;
    switch (nd->kw) {
    case KW_OK: return cmp_bool(E && !E->error && !E->fault && !E->throttle, nd);
    case KW_ERROR: return cmp_bool(E && (E->error || E->throttle), nd);
    case KW_FAULT: return cmp_bool(E && E->fault, nd);
    case KW_THROTTLE: return cmp_bool(E && E->throttle, nd);
    case KW_PARTIAL: {
        int v = 0;
        for (size_t i = 0; i < e->t->n_spans && !v; i++)
            v = e->t->spans[i].in_progress && in_ctx(e, i);
        return cmp_bool(v, nd);
    }
    case KW_INFERRED: return cmp_bool(e->g ? e->g->inferred : any_inferred(e->t), nd);
    case KW_ROOT:
        return cmp_bool(e->g ? !e->g->inferred && e->g->entry == e->root : e->root >= 0, nd);
    case KW_RESPONSETIME:
        return E && finished(E) &&
               cmp_num(secs(span_ns(E->start_ns, E->end_ns)), nd->op, nd->num);
    case KW_DURATION: return extent(e, &x) && cmp_num(x, nd->op, nd->num);
    case KW_HTTP_STATUS: return E && E->http_status && cmp_num(E->http_status, nd->op, nd->num);
    case KW_HTTP_URL: case KW_HTTP_METHOD: case KW_HTTP_USERAGENT: case KW_HTTP_CLIENTIP:
        return E && cmp_str(span_field(E, nd->kw), nd);
    case KW_NAME: return cmp_str(e->g ? e->g->svc : E ? E->service : NULL, nd);
    case KW_TYPE: return cmp_str(e->g ? e->g->type : E ? E->service_type : NULL, nd);
    default: return any_span_str(e, nd);
    }
}

static int eval_ann(const ev *e, const node *nd)
{
    for (size_t i = 0; i < e->t->n_spans; i++) {
        const owl_xf_span *s = &e->t->spans[i];
        for (size_t j = 0; j < s->n_annotations; j++) {
            const owl_xf_annotation *a = &s->annotations[j];
            if (!a->key || strcmp(a->key, nd->key))
                continue;
            if (nd->op == OP_NONE)
                return 1;
            if (a->type == OWL_XF_ASTR && nd->vt == V_STR && a->str && cmp_str(a->str, nd))
                return 1;
            if (a->type == OWL_XF_ANUM && nd->vt == V_NUM && cmp_num(a->num, nd->op, nd->num))
                return 1;
            if (a->type == OWL_XF_ABOOL && nd->vt == V_BOOL && cmp_bool(!!a->boolean, nd))
                return 1;
        }
    }
    return 0;
}

static int sel_match(const sel *s, const char *name, const char *type)
{
    if (s->name && !(set(name) && !strcmp(name, s->name)))
        return 0;
    if (s->type && !(set(type) && !strcmp(type, s->type)))
        return 0;
    return 1;
}

static int eval(const ev *e, int32_t i);

static int eval_in(const ev *e, const node *nd, const grp *g)
{
    if (nd->a < 0)
        return 1;
    ev sub = *e;
    sub.g = g;
    return eval(&sub, nd->a);
}

static int eval_service(const ev *e, const node *nd)
{
    const owl_xf_trace *t = e->t;
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *s = &t->spans[i];
        if (!is_entry(t, i) || !sel_match(&nd->sel[0], s->service, s->service_type))
            continue;
        grp g = {s->service, s->service_type, (int32_t)i, 0, 0};
        if (eval_in(e, nd, &g))
            return 1;
    }
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *s = &t->spans[i];
        if (!calls_out(s) || service_present(t, s->remote_service) ||
            !sel_match(&nd->sel[0], s->remote_service, s->remote_type))
            continue;
        grp g = {s->remote_service, s->remote_type, (int32_t)i, 1, 1};
        if (eval_in(e, nd, &g))
            return 1;
    }
    return 0;
}

static int has_child_of(const owl_xf_trace *t, size_t c, const char *svc)
{
    for (size_t i = 0; i < t->n_spans; i++)
        if (parent_of(t, i) == (int32_t)c && same(t->spans[i].service, svc))
            return 1;
    return 0;
}

/* Calls from sel[0] to sel[1]: an entry span of the callee whose parent is of the caller, or
 * a client span of the caller naming the callee with no callee span under it. */
static int eval_edge(const ev *e, const node *nd)
{
    const owl_xf_trace *t = e->t;
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *s = &t->spans[i];
        int32_t p = parent_of(t, i);
        if (p >= 0 && is_entry(t, i) &&
            sel_match(&nd->sel[0], t->spans[p].service, t->spans[p].service_type) &&
            sel_match(&nd->sel[1], s->service, s->service_type)) {
            grp g = {s->service, s->service_type, (int32_t)i, 0, 0};
            if (eval_in(e, nd, &g))
                return 1;
        }
        if (calls_out(s) && sel_match(&nd->sel[0], s->service, s->service_type) &&
            sel_match(&nd->sel[1], s->remote_service, s->remote_type) &&
            !has_child_of(t, i, s->remote_service)) {
            grp g = {s->remote_service, s->remote_type, (int32_t)i, 1,
                     !service_present(t, s->remote_service)};
            if (eval_in(e, nd, &g))
                return 1;
        }
    }
    return 0;
}

/* ---- root causes ---- */

/* The number of spans from i up to its top: the first span with no parent or on a cycle (a
 * span on a cycle reads as parentless, as owl_fault_origin counts depths). Brent's cycle
 * finding along the chain, no memory; O(chain). */
static size_t chain_len(const owl_xf_trace *t, int32_t i)
{
    int32_t power = 1, lam = 1, tort = i, hare = parent_of(t, (size_t)i);
    while (hare >= 0 && hare != tort) {
        if (power == lam) {
            tort = hare;
            power *= 2;
            lam = 0;
        }
        hare = parent_of(t, (size_t)hare);
        lam++;
    }
    size_t len = 1;
    if (hare < 0) {
        for (int32_t j = parent_of(t, (size_t)i); j >= 0; j = parent_of(t, (size_t)j))
            len++;
        return len;
    }
    tort = hare = i;
    for (int32_t k = 0; k < lam; k++)
        hare = parent_of(t, (size_t)hare);
    while (tort != hare) {
        tort = parent_of(t, (size_t)tort);
        hare = parent_of(t, (size_t)hare);
        len++;
    }
    return len;
}

static int64_t end_or_start(const owl_xf_span *s)
{
    return finished(s) ? s->end_ns : s->start_ns;
}

/* The span that a root cause names and the chain of spans above it that its lists read. */
typedef struct cause {
    int32_t span;   /* -1: the trace has no such root cause */
    size_t len;     /* spans from the chain's top down to span */
    int32_t top;    /* the chain's top (the critical path's root for response time) */
    int inferred;   /* span calls a service with no span in the trace: it ends the services */
} cause;

/* A service node of the response-time walk: a (name, type) with its critical self time. */
typedef struct rtnode {
    const char *name, *type;
    int64_t self;
    int32_t best; /* its path span with the most self time */
} rtnode;

/* The slot where the probe for name starts: nodes are hashed by name alone, so that every
 * node of a name lies on one probe sequence. */
static size_t rt_hash(const char *name, size_t mask)
{
    const char *nm = set(name) ? name : "";
    return owl_hash64(nm, strlen(nm), 0x72746e) & mask;
}

/* The node (name, type) of nodes[0..*n) through the slot table (index + 1, size mask + 1),
 * added when new. */
static size_t rt_node(rtnode *nodes, size_t *n, int32_t *slot, size_t mask, const char *name,
                      const char *type)
{
    size_t j = rt_hash(name, mask);
    for (; slot[j]; j = (j + 1) & mask) {
        rtnode *x = &nodes[slot[j] - 1];
        if (same(x->name, name) && same(x->type, type))
            return (size_t)slot[j] - 1;
    }
    nodes[*n] = (rtnode){name, type, 0, -1};
    slot[j] = (int32_t)++*n;
    return *n - 1;
}

/* Whether some span of the trace (nodes[0..present)) belongs to a service named name. */
static int rt_present(const rtnode *nodes, const int32_t *slot, size_t mask, size_t present,
                      const char *name)
{
    for (size_t j = rt_hash(name, mask); slot[j]; j = (j + 1) & mask)
        if ((size_t)slot[j] <= present && same(nodes[slot[j] - 1].name, name))
            return 1;
    return 0;
}

/* The response-time root cause: the service node holding the most critical self time (a
 * client span calling a service absent from the trace counts for that inferred node), and
 * its path span with the most. Traces of more than RT_SMALL spans take memory here (and of
 * more than 128 in owl_critpath); without it, or without a path of some length, there is no
 * root cause. */
#define RT_SMALL 64
static cause rt_cause(const owl_xf_trace *t, int32_t root)
{
    cause c = {-1, 0, root, 0};
    size_t n = t->n_spans, cap = 4;
    while (cap < 4 * n)
        cap *= 2; /* two names a span at most, a table at most half full */
    uint8_t on_s[RT_SMALL];
    int64_t self_s[RT_SMALL];
    rtnode nodes_s[2 * RT_SMALL];
    int32_t slot_s[4 * RT_SMALL], *slot = slot_s;
    uint8_t *on = on_s;
    int64_t *self = self_s;
    rtnode *nodes = nodes_s;
    void *heap = NULL;
    if (root < 0)
        return c;
    if (n > RT_SMALL) {
        heap = calloc(1, n * (sizeof *self + 2 * sizeof *nodes) + cap * sizeof *slot + n);
        if (!heap)
            return c;
        self = heap;
        nodes = (rtnode *)(self + n);
        slot = (int32_t *)(nodes + 2 * n);
        on = (uint8_t *)(slot + cap);
    } else {
        memset(slot_s, 0, sizeof slot_s);
        cap = 4 * RT_SMALL;
    }
    size_t nn = 0, mask = cap - 1;
    if (owl_critpath(t, on, self, NULL) != OWL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) /* the services present, in span order */
        rt_node(nodes, &nn, slot, mask, t->spans[i].service, t->spans[i].service_type);
    size_t present = nn;
    for (size_t i = 0; i < n; i++) {
        if (!on[i])
            continue;
        const owl_xf_span *s = &t->spans[i];
        size_t k = rt_node(nodes, &nn, slot, mask, s->service, s->service_type);
        if (calls_out(s) && !rt_present(nodes, slot, mask, present, s->remote_service))
            k = rt_node(nodes, &nn, slot, mask, s->remote_service, s->remote_type);
        nodes[k].self += self[i];
        if (nodes[k].best < 0 || self[i] > self[nodes[k].best])
            nodes[k].best = (int32_t)i;
    }
    size_t win = nn;
    for (size_t k = 0; k < nn; k++)
        if (nodes[k].self > 0 && (win == nn || nodes[k].self > nodes[win].self))
            win = k; /* the first of equal ones: services in span order */
    if (win == nn)
        goto out;
    c.span = nodes[win].best;
    c.inferred = win >= present;
    c.len = 1;
    for (int32_t j = c.span; j != root; j = parent_of(t, (size_t)j))
        c.len++; /* on the path: the parents lead to the root */
out:
    free(heap);
    return c;
}

static cause find_cause(const ev *e, int kind)
{
    static const unsigned which[] = {OWL_FO_FAULT, OWL_FO_ERROR | OWL_FO_THROTTLE,
                                     OWL_FO_THROTTLE};
    const owl_xf_trace *t = e->t;
    if (kind == RC_RESPONSETIME)
        return rt_cause(t, e->root);
    cause c = {owl_fault_origin(t, which[kind]), 0, -1, 0};
    if (c.span < 0)
        return c;
    c.len = chain_len(t, c.span);
    const owl_xf_span *s = &t->spans[c.span];
    c.inferred = calls_out(s) && !service_present(t, s->remote_service);
    return c;
}

/* Whether the chain's span j starts a service: the chain's top, or another (name, type) than
 * its parent's. */
static int starts_service(const owl_xf_trace *t, int32_t j, int at_top)
{
    if (at_top)
        return 1;
    const owl_xf_span *s = &t->spans[j], *p = &t->spans[parent_of(t, (size_t)j)];
    return !same(s->service, p->service) || !same(s->service_type, p->service_type);
}

static int has_exception(const owl_xf_span *s)
{
    return set(s->exception_type) || set(s->exception_message);
}

/* Whether the braces hold for el (no braces: any element will do). */
static int eval_el(const ev *e, const node *nd, const rcel *el)
{
    if (nd->a < 0)
        return 1;
    ev sub = *e;
    sub.el = el;
    return eval(&sub, nd->a);
}

/* Whether the chain's span j (at_top: the chain's top) gives an element of the list nd->rct;
 * its fields into *el (index and count are the caller's). root_s: the top's duration, for
 * coverage. */
static int chain_el(const owl_xf_trace *t, const node *nd, int32_t j, int at_top, double root_s,
                    rcel *el)
{
    const owl_xf_span *s = &t->spans[j];
    memset(el, 0, sizeof *el);
    switch (nd->rct) {
    case RT_ENTITY:
        el->name = s->name;
        el->message = s->exception_message;
        el->remote = calls_out(s);
        el->has_coverage = nd->rck == RC_RESPONSETIME && root_s > 0;
        if (el->has_coverage)
            el->coverage = secs(span_ns(s->start_ns, end_or_start(s))) / root_s;
        return 1;
    case RT_EXCEPTION:
        el->name = s->exception_type;
        el->message = s->exception_message;
        return has_exception(s);
    default:
        el->name = s->service;
        el->type = s->service_type;
        return starts_service(t, j, at_top);
    }
}

/* Walks the chain from the cause's span up (len spans) and applies the braces to each element
 * of the list nd->rct, bottom first: any that holds makes the keyword true. Two walks: the
 * first counts the list (for last), the second numbers it from its top (index, first). */
static int eval_rc(const ev *e, const node *nd)
{
    const owl_xf_trace *t = e->t;
    cause c = find_cause(e, nd->rck);
    if (c.span < 0)
        return 0;
    const owl_xf_span *top = c.top >= 0 ? &t->spans[c.top] : NULL;
    double root_s = top && finished(top) ? secs(span_ns(top->start_ns, top->end_ns)) : 0;
    size_t count = 0, k;
    int32_t j;
    rcel el;
    for (k = 0, j = c.span; k < c.len; k++, j = parent_of(t, (size_t)j))
        count += (size_t)chain_el(t, nd, j, k + 1 == c.len, root_s, &el);
    int extra = nd->rct == RT_SERVICE && c.inferred; /* the inferred node ends the services */
    count += (size_t)extra;
    if (extra) {
        const owl_xf_span *s = &t->spans[c.span];
        el = (rcel){.name = s->remote_service, .type = s->remote_type, .inferred = 1,
                    .index = count - 1, .count = count};
        if (eval_el(e, nd, &el))
            return 1;
    }
    size_t idx = count - (size_t)extra;
    for (k = 0, j = c.span; k < c.len; k++, j = parent_of(t, (size_t)j)) {
        if (!chain_el(t, nd, j, k + 1 == c.len, root_s, &el))
            continue;
        el.index = --idx;
        el.count = count;
        if (eval_el(e, nd, &el))
            return 1;
    }
    return 0;
}

static int eval_rkw(const ev *e, const node *nd)
{
    const rcel *el = e->el;
    if (!el)
        return 0;
    switch (nd->kw) {
    case RK_NAME: return cmp_str(el->name, nd);
    case RK_TYPE: return cmp_str(el->type, nd);
    case RK_MESSAGE: return cmp_str(el->message, nd);
    case RK_INFERRED: return cmp_bool(el->inferred, nd);
    case RK_REMOTE: return cmp_bool(el->remote, nd);
    case RK_FIRST: return cmp_bool(el->index == 0, nd);
    case RK_LAST: return cmp_bool(el->index + 1 == el->count, nd);
    case RK_INDEX: return cmp_num((double)el->index, nd->op, nd->num);
    case RK_COVERAGE: return el->has_coverage && cmp_num(el->coverage, nd->op, nd->num);
    default: return 0;
    }
}

static int eval(const ev *e, int32_t i)
{
    const node *nd = &e->f->nodes[i];
    switch (nd->kind) {
    case N_AND: return eval(e, nd->a) && eval(e, nd->b);
    case N_OR: return eval(e, nd->a) || eval(e, nd->b);
    case N_NOT: return !eval(e, nd->a);
    case N_KW: return eval_kw(e, nd);
    case N_ANN: return eval_ann(e, nd);
    case N_SVC: return eval_service(e, nd);
    case N_EDGE: return eval_edge(e, nd);
    case N_RC: return eval_rc(e, nd);
    case N_RKW: return eval_rkw(e, nd);
    default: return 0;
    }
}

int owl_xf_match(const owl_xf *f, const owl_xf_trace *t)
{
    if (!f || !t || (t->n_spans && !t->spans))
        return 0;
    ev e = {f, t, find_root(t), NULL, NULL};
    return eval(&e, f->top);
}

/* ---- pushdown ---- */

int owl_xf_summarize(const owl_xf_trace *t, const char **svc, size_t cap, owl_xf_summary *s,
                     owl_error *err)
{
    memset(s, 0, sizeof *s);
    s->services = svc;
    s->duration_ns = -1;
    s->root_duration_ns = -1;
    int64_t lo = 0, hi = 0;
    for (size_t i = 0; i < t->n_spans; i++) {
        const owl_xf_span *sp = &t->spans[i];
        const char *names[2] = {sp->service, calls_out(sp) ? sp->remote_service : NULL};
        for (int k = 0; k < 2; k++) {
            if (!set(names[k]))
                continue;
            size_t j = 0;
            while (j < s->n_services && strcmp(svc[j], names[k]))
                j++;
            if (j < s->n_services)
                continue;
            if (s->n_services == cap)
                return owl_error_set(err, OWL_ERANGE, "trace names more than %zu services", cap);
            svc[s->n_services++] = names[k];
        }
        s->any_error |= sp->error;
        s->any_fault |= sp->fault;
        s->any_throttle |= sp->throttle;
        s->any_in_progress |= sp->in_progress;
        if (finished(sp)) {
            if (s->duration_ns < 0 || sp->start_ns < lo)
                lo = sp->start_ns;
            if (s->duration_ns < 0 || sp->end_ns > hi)
                hi = sp->end_ns;
            s->duration_ns = span_ns(lo, hi);
        }
    }
    int32_t r = find_root(t);
    if (r >= 0 && finished(&t->spans[r]))
        s->root_duration_ns = span_ns(t->spans[r].start_ns, t->spans[r].end_ns);
    return OWL_OK;
}

enum { TV_NO = 0, TV_MAYBE = 1, TV_YES = 2 };

static int tv_named(const owl_xf_summary *s, const sel *sl)
{
    if (!sl->name)
        return TV_MAYBE;
    for (size_t i = 0; i < s->n_services; i++)
        if (s->services[i] && !strcmp(s->services[i], sl->name))
            return TV_MAYBE;
    return TV_NO;
}

static int tv_min(int a, int b)
{
    return a < b ? a : b;
}

static int tv_max(int a, int b)
{
    return a > b ? a : b;
}

/* A boolean keyword's truth, turned by "= false" / "!= true" into its negation. */
static int tv_bool(int v, const node *nd)
{
    int neg = nd->op != OP_NONE && ((nd->op == OP_EQ) != nd->boolean);
    return neg ? TV_YES - v : v;
}

static int tv_kw(const node *nd, const owl_xf_summary *s, int group)
{
    switch (nd->kw) {
    case KW_ERROR:
        return tv_bool(s->any_error || s->any_throttle ? TV_MAYBE : TV_NO, nd);
    case KW_FAULT: return tv_bool(s->any_fault ? TV_MAYBE : TV_NO, nd);
    case KW_THROTTLE: return tv_bool(s->any_throttle ? TV_MAYBE : TV_NO, nd);
    case KW_PARTIAL:
        return tv_bool(!s->any_in_progress ? TV_NO : group ? TV_MAYBE : TV_YES, nd);
    case KW_DURATION:
        if (group)
            return TV_MAYBE;
        if (s->duration_ns < 0)
            return TV_NO;
        return cmp_num(secs(s->duration_ns), nd->op, nd->num) ? TV_YES : TV_NO;
    case KW_RESPONSETIME:
        if (group || s->root_duration_ns < 0)
            return TV_MAYBE;
        return cmp_num(secs(s->root_duration_ns), nd->op, nd->num) ? TV_YES : TV_NO;
    default: return TV_MAYBE;
    }
}

/* A fault, error or throttle root cause needs a span with that status. */
static int tv_status(int rck, const owl_xf_summary *s)
{
    int any = rck == RC_FAULT      ? s->any_fault
              : rck == RC_THROTTLE ? s->any_throttle
                                   : s->any_error || s->any_throttle;
    return any ? TV_MAYBE : TV_NO;
}

/* The braces of rootcause.K.T, for every element at once: a service element's name is one of
 * the trace's services (or a client span's remote), so `name = "x"` is no when x is none of
 * them; all else may be. */
static int tv_rc(const owl_xf *f, int32_t i, const owl_xf_summary *s, int rct)
{
    const node *nd = &f->nodes[i];
    switch (nd->kind) {
    case N_AND: return tv_min(tv_rc(f, nd->a, s, rct), tv_rc(f, nd->b, s, rct));
    case N_OR: return tv_max(tv_rc(f, nd->a, s, rct), tv_rc(f, nd->b, s, rct));
    case N_NOT: return TV_YES - tv_rc(f, nd->a, s, rct);
    case N_RKW:
        if (rct == RT_SERVICE && nd->kw == RK_NAME && nd->op == OP_EQ) {
            sel sl = {nd->str, NULL};
            return tv_named(s, &sl);
        }
        return TV_MAYBE;
    default: return TV_MAYBE;
    }
}

static int tv(const owl_xf *f, int32_t i, const owl_xf_summary *s, int group)
{
    const node *nd = &f->nodes[i];
    int v;
    switch (nd->kind) {
    case N_AND: return tv_min(tv(f, nd->a, s, group), tv(f, nd->b, s, group));
    case N_OR: return tv_max(tv(f, nd->a, s, group), tv(f, nd->b, s, group));
    case N_NOT: return TV_YES - tv(f, nd->a, s, group);
    case N_KW: return tv_kw(nd, s, group);
    case N_RC:
        v = nd->rck == RC_RESPONSETIME ? (s->root_duration_ns > 0 ? TV_MAYBE : TV_NO)
                                       : tv_status(nd->rck, s);
        return nd->a >= 0 ? tv_min(v, tv_rc(f, nd->a, s, nd->rct)) : v;
    case N_SVC:
    case N_EDGE:
        v = tv_named(s, &nd->sel[0]);
        if (nd->kind == N_EDGE)
            v = tv_min(v, tv_named(s, &nd->sel[1]));
        return nd->a >= 0 ? tv_min(v, tv(f, nd->a, s, 1)) : v;
    default: return TV_MAYBE;
    }
}

unsigned owl_xf_reads(const owl_xf *f)
{
    unsigned r = 0;
    for (size_t i = 0; f && i < f->n; i++) {
        const node *nd = &f->nodes[i];
        switch (nd->kind) {
        case N_KW:
            if (nd->kw >= KW_HTTP_STATUS && nd->kw <= KW_HTTP_CLIENTIP)
                r |= OWL_XF_READS_HTTP;
            else if (nd->kw == KW_USER || nd->kw == KW_TYPE || nd->kw >= KW_AZ)
                r |= OWL_XF_READS_ATTRS;
            break;
        case N_ANN:
            r |= OWL_XF_READS_ATTRS;
            break;
        case N_SVC: /* a selector's type is the service's (or an inferred one's) */
        case N_EDGE:
            if (nd->sel[0].type || nd->sel[1].type)
                r |= OWL_XF_READS_ATTRS;
            break;
        case N_RC:
            if (nd->rct == RT_EXCEPTION)
                r |= OWL_XF_READS_EXCEPTIONS;
            break;
        case N_RKW:
            if (nd->kw == RK_MESSAGE)
                r |= OWL_XF_READS_EXCEPTIONS;
            else if (nd->kw == RK_TYPE)
                r |= OWL_XF_READS_ATTRS;
            break;
        default:
            break;
        }
    }
    return r;
}

int owl_xf_may_match(const owl_xf *f, const owl_xf_summary *s)
{
    if (!f || !s)
        return 1;
    return tv(f, f->top, s, 0) != TV_NO;
}

uint64_t owl_names_epoch(void)
{
    static _Atomic uint64_t last;
    return atomic_fetch_add(&last, 1) + 1;
}

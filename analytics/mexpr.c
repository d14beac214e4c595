/* mexpr.c — CloudWatch metric math: one parser (text -> tree) and one evaluator (tree ->
 * time series) for GetMetricData and alarms (docs/metrics.md "Metric math").
 *
 * Grammar, loosest first:  or := and (("OR" | "||") and)* ; and := not (("AND" | "&&") not)* ;
 * not := ("NOT" | "!") not | cmp ; cmp := add (("==" | "!=" | "<" | "<=" | ">" | ">=") add)? ;
 * add := mul (("+" | "-") mul)* ; mul := pow (("*" | "/") pow)* ; pow := unary ("^" pow)? ;
 * unary := "-" unary | atom ; atom := number | string | id | NAME "(" args? ")" | "(" or ")".
 * Values are a scalar, one series or an array of series. Series combine on the timestamps
 * both have; points whose result is not finite (x/0) are dropped. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define MAX_TEXT 2048
#define MAX_DEPTH 32
#define MAX_ARGS 8
#define MAX_NODES 1024

enum nkind { N_NUM, N_STR, N_ID, N_WORD, N_CALL, N_BIN, N_NEG, N_NOT };

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
          OP_AND, OP_OR };

typedef struct node {
    enum nkind kind;
    enum op op;
    double num;
    char *text; /* N_STR, N_ID, N_WORD (bare upper-case word), N_CALL (function name) */
    struct node *kid[MAX_ARGS];
    size_t nkids;
    size_t pos; /* 1-based */
} node;

struct owl_mexpr {
    node *root;
    node *nodes[MAX_NODES];
    size_t nnodes;
};

/* ---- parsing ---- */

typedef struct parser {
    const char *s;
    size_t i, n;
    owl_mexpr *e;
    int depth;
    owl_error *err;
    size_t errpos;
} parser;

static int perr(parser *p, size_t pos, const char *fmt, const char *arg)
{
    if (!p->errpos) {
        char m[200];
        snprintf(m, sizeof m, fmt, arg ? arg : "");
        p->errpos = pos + 1;
        owl_error_set(p->err, OWL_EINVAL, "at %zu: %s", pos + 1, m);
    }
    return OWL_EINVAL;
}

static void skip_ws(parser *p)
{
    while (p->i < p->n && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static node *mk(parser *p, enum nkind k, size_t pos)
{
    if (p->e->nnodes == MAX_NODES) {
        perr(p, pos, "the expression is too large", NULL);
        return NULL;
    }
    node *nd = calloc(1, sizeof *nd);
    if (!nd) {
        owl_error_set(p->err, OWL_ENOMEM, "out of memory");
        return NULL;
    }
    nd->kind = k;
    nd->pos = pos + 1;
    p->e->nodes[p->e->nnodes++] = nd;
    return nd;
}

static int accept(parser *p, const char *tok)
{
    skip_ws(p);
    size_t l = strlen(tok);
    if (p->i + l > p->n || strncmp(p->s + p->i, tok, l) != 0)
        return 0;
    /* words must end at a word boundary */
    if (isalpha((unsigned char)tok[0]) && p->i + l < p->n &&
        (isalnum((unsigned char)p->s[p->i + l]) || p->s[p->i + l] == '_'))
        return 0;
    p->i += l;
    return 1;
}

static int accept_word(parser *p, const char *w)
{
    skip_ws(p);
    size_t l = strlen(w);
    if (p->i + l > p->n || strncasecmp(p->s + p->i, w, l) != 0)
        return 0;
    if (p->i + l < p->n && (isalnum((unsigned char)p->s[p->i + l]) || p->s[p->i + l] == '_'))
        return 0;
    p->i += l;
    return 1;
}

static node *parse_or(parser *p);

static node *bin(parser *p, enum op op, node *a, node *b, size_t pos)
{
    if (!a || !b)
        return NULL;
    node *nd = mk(p, N_BIN, pos);
    if (!nd)
        return NULL;
    nd->op = op;
    nd->kid[0] = a, nd->kid[1] = b, nd->nkids = 2;
    return nd;
}

static node *parse_atom(parser *p)
{
    skip_ws(p);
    size_t pos = p->i;
    if (p->i >= p->n) {
        perr(p, pos, "expected a value, found the end of the expression", NULL);
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '(') {
        p->i++;
        node *nd = parse_or(p);
        if (nd && !accept(p, ")")) {
            perr(p, p->i, "expected ')'", NULL);
            return NULL;
        }
        return nd;
    }
    if (isdigit((unsigned char)c) || (c == '.' && p->i + 1 < p->n && isdigit((unsigned char)p->s[p->i + 1]))) {
        char *end;
        double v = strtod(p->s + p->i, &end);
        node *nd = mk(p, N_NUM, pos);
        if (!nd)
            return NULL;
        nd->num = v;
        p->i = (size_t)(end - p->s);
        return nd;
    }
    if (c == '"') {
        size_t j = p->i + 1;
        while (j < p->n && p->s[j] != '"')
            j++;
        if (j >= p->n) {
            perr(p, pos, "a string is not closed", NULL);
            return NULL;
        }
        node *nd = mk(p, N_STR, pos);
        if (!nd || !(nd->text = strndup(p->s + p->i + 1, j - p->i - 1)))
            return NULL;
        p->i = j + 1;
        return nd;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t j = p->i;
        while (j < p->n && (isalnum((unsigned char)p->s[j]) || p->s[j] == '_'))
            j++;
        char *word = strndup(p->s + p->i, j - p->i);
        if (!word) {
            owl_error_set(p->err, OWL_ENOMEM, "out of memory");
            return NULL;
        }
        p->i = j;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == '(') { /* a function call */
            p->i++;
            node *nd = mk(p, N_CALL, pos);
            if (!nd) {
                free(word);
                return NULL;
            }
            nd->text = word;
            for (char *q = word; *q; q++)
                *q = (char)toupper((unsigned char)*q);
            if (accept(p, ")"))
                return nd;
            do {
                if (nd->nkids == MAX_ARGS) {
                    perr(p, p->i, "too many arguments for %s", word);
                    return NULL;
                }
                node *a = parse_or(p);
                if (!a)
                    return NULL;
                nd->kid[nd->nkids++] = a;
            } while (accept(p, ","));
            if (!accept(p, ")")) {
                perr(p, p->i, "expected ',' or ')' in the arguments of %s", word);
                return NULL;
            }
            return nd;
        }
        node *nd = mk(p, islower((unsigned char)word[0]) ? N_ID : N_WORD, pos);
        if (!nd) {
            free(word);
            return NULL;
        }
        nd->text = word;
        return nd;
    }
    char what[2] = {c, 0};
    perr(p, pos, "unexpected '%s'", what);
    return NULL;
}

static node *parse_unary(parser *p)
{
    skip_ws(p);
    size_t pos = p->i;
    if (++p->depth > MAX_DEPTH) {
        perr(p, pos, "the expression nests too deeply", NULL);
        return NULL;
    }
    node *r;
    if (accept(p, "-")) {
        node *k = parse_unary(p);
        r = k ? mk(p, N_NEG, pos) : NULL;
        if (r)
            r->kid[0] = k, r->nkids = 1;
    } else {
        r = parse_atom(p);
    }
    p->depth--;
    return r;
}

static node *parse_pow(parser *p)
{
    node *a = parse_unary(p);
    skip_ws(p);
    size_t pos = p->i;
    if (a && accept(p, "^")) {
        if (++p->depth > MAX_DEPTH) {
            perr(p, pos, "the expression nests too deeply", NULL);
            return NULL;
        }
        node *b = parse_pow(p); /* right-associative */
        p->depth--;
        return bin(p, OP_POW, a, b, pos);
    }
    return a;
}

static node *parse_mul(parser *p)
{
    node *a = parse_pow(p);
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        if (a && accept(p, "*"))
            a = bin(p, OP_MUL, a, parse_pow(p), pos);
        else if (a && accept(p, "/"))
            a = bin(p, OP_DIV, a, parse_pow(p), pos);
        else
            return a;
    }
}

static node *parse_add(parser *p)
{
    node *a = parse_mul(p);
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        if (a && accept(p, "+"))
            a = bin(p, OP_ADD, a, parse_mul(p), pos);
        else if (a && accept(p, "-"))
            a = bin(p, OP_SUB, a, parse_mul(p), pos);
        else
            return a;
    }
}

static node *parse_cmp(parser *p)
{
    static const struct {
        const char *t;
        enum op op;
    } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"<", OP_LT}, {">", OP_GT}};
    node *a = parse_add(p);
    skip_ws(p);
    size_t pos = p->i;
    for (size_t k = 0; a && k < OWL_ARRAY_LEN(ops); k++)
        if (accept(p, ops[k].t))
            return bin(p, ops[k].op, a, parse_add(p), pos);
    return a;
}

static node *parse_not(parser *p)
{
    skip_ws(p);
    size_t pos = p->i;
    if (accept_word(p, "NOT") || (p->i < p->n && p->s[p->i] == '!' &&
                                  (p->i + 1 >= p->n || p->s[p->i + 1] != '=') && (p->i++, 1))) {
        if (++p->depth > MAX_DEPTH) {
            perr(p, pos, "the expression nests too deeply", NULL);
            return NULL;
        }
        node *k = parse_not(p);
        p->depth--;
        node *r = k ? mk(p, N_NOT, pos) : NULL;
        if (r)
            r->kid[0] = k, r->nkids = 1;
        return r;
    }
    return parse_cmp(p);
}

static node *parse_and(parser *p)
{
    node *a = parse_not(p);
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        if (a && (accept_word(p, "AND") || accept(p, "&&")))
            a = bin(p, OP_AND, a, parse_not(p), pos);
        else
            return a;
    }
}

static node *parse_or(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        perr(p, p->i, "the expression nests too deeply", NULL);
        return NULL;
    }
    node *a = parse_and(p);
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        if (a && (accept_word(p, "OR") || accept(p, "||")))
            a = bin(p, OP_OR, a, parse_and(p), pos);
        else
            break;
    }
    p->depth--;
    return a;
}

void owl_mexpr_free(owl_mexpr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nnodes; i++) {
        free(e->nodes[i]->text);
        free(e->nodes[i]);
    }
    free(e);
}

int owl_mexpr_parse(const char *text, owl_mexpr **out, size_t *pos, owl_error *err)
{
    *out = NULL;
    if (pos)
        *pos = 0;
    size_t n = text ? strlen(text) : 0;
    if (pos && (n == 0 || n > MAX_TEXT))
        *pos = n == 0 ? 1 : MAX_TEXT + 1;
    if (n == 0)
        return owl_error_set(err, OWL_EINVAL, "at 1: the expression is empty");
    if (n > MAX_TEXT)
        return owl_error_set(err, OWL_EINVAL, "at %d: the expression is longer than %d characters",
                             MAX_TEXT + 1, MAX_TEXT);
    owl_mexpr *e = calloc(1, sizeof *e);
    if (!e)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    parser p = {.s = text, .n = n, .e = e, .err = err};
    e->root = parse_or(&p);
    skip_ws(&p);
    if (e->root && p.i < p.n)
        perr(&p, p.i, "unexpected '%s' after the expression",
             (char[2]){text[p.i], 0});
    if (!e->root || p.errpos) {
        if (pos)
            *pos = p.errpos;
        owl_mexpr_free(e);
        return err && err->code ? err->code : OWL_EINVAL;
    }
    *out = e;
    return OWL_OK;
}

static void refs(const node *nd, void (*fn)(void *, const char *), void *ud)
{
    if (nd->kind == N_ID)
        fn(ud, nd->text);
    for (size_t i = 0; i < nd->nkids; i++)
        refs(nd->kid[i], fn, ud);
}

void owl_mexpr_refs(const owl_mexpr *e, void (*fn)(void *ud, const char *id), void *ud)
{
    refs(e->root, fn, ud);
}

/* ---- values ---- */

enum vkind { V_SCALAR, V_SERIES, V_ARRAY, V_STR, V_WORD };

typedef struct val {
    enum vkind kind;
    double x;
    const char *s;    /* V_STR, V_WORD (borrowed from the tree) */
    owl_ts_list l;    /* V_SERIES (n == 1), V_ARRAY */
} val;

void owl_ts_list_free(owl_ts_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->s[i].id);
        free(l->s[i].label);
        free(l->s[i].t);
        free(l->s[i].v);
    }
    free(l->s);
    l->s = NULL;
    l->n = 0;
}

static void val_free(val *v) { owl_ts_list_free(&v->l); }

typedef struct ev {
    const owl_mexpr_env *env;
    owl_error *err;
    int64_t grid0, pms; /* the period grid: grid0, grid0 + pms, ... < env->end_ms */
} ev;

static int eerr(ev *e, const node *nd, const char *fmt, const char *arg)
{
    char m[200];
    snprintf(m, sizeof m, fmt, arg ? arg : "");
    return owl_error_set(e->err, OWL_EINVAL, "at %zu: %s", nd->pos, m);
}

/* A fresh series of capacity n (label copied). */
static int ts_init(owl_ts *s, size_t n, const char *label)
{
    memset(s, 0, sizeof *s);
    s->t = malloc((n ? n : 1) * sizeof *s->t);
    s->v = malloc((n ? n : 1) * sizeof *s->v);
    s->label = label ? strdup(label) : NULL;
    if (!s->t || !s->v || (label && !s->label)) {
        free(s->t), free(s->v), free(s->label);
        return OWL_ENOMEM;
    }
    return OWL_OK;
}

static int list_alloc(owl_ts_list *l, size_t n)
{
    l->s = calloc(n ? n : 1, sizeof *l->s);
    l->n = 0;
    return l->s ? OWL_OK : OWL_ENOMEM;
}

static void push(owl_ts *s, int64_t t, double v)
{
    if (isfinite(v)) {
        s->t[s->n] = t;
        s->v[s->n++] = v;
    }
}

static double apply(enum op op, double a, double b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_POW: return pow(a, b);
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_AND: return (a != 0) && (b != 0);
    case OP_OR: return (a != 0) || (b != 0);
    }
    return NAN;
}

/* a op b for two series: on the timestamps both hold. */
static int series_op(enum op op, const owl_ts *a, const owl_ts *b, owl_ts *out)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int rc = ts_init(out, n, a->label ? a->label : b->label);
    if (rc != OWL_OK)
        return rc;
    for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->t[i] < b->t[j])
            i++;
        else if (a->t[i] > b->t[j])
            j++;
        else {
            push(out, a->t[i], apply(op, a->v[i], b->v[j]));
            i++, j++;
        }
    }
    return OWL_OK;
}

/* Series op scalar (or scalar op series when flip). */
static int scalar_op(enum op op, const owl_ts *a, double x, int flip, owl_ts *out)
{
    int rc = ts_init(out, a->n, a->label);
    for (size_t i = 0; rc == OWL_OK && i < a->n; i++)
        push(out, a->t[i], flip ? apply(op, x, a->v[i]) : apply(op, a->v[i], x));
    return rc;
}

static int is_series(const val *v) { return v->kind == V_SERIES || v->kind == V_ARRAY; }

static int binary(ev *e, const node *nd, val *a, val *b, val *out)
{
    enum op op = nd->op;
    if (!(a->kind == V_SCALAR || is_series(a)) || !(b->kind == V_SCALAR || is_series(b)))
        return eerr(e, nd, "an operator needs numbers or time series", NULL);
    if (a->kind == V_SCALAR && b->kind == V_SCALAR) {
        out->kind = V_SCALAR;
        out->x = apply(op, a->x, b->x);
        return OWL_OK;
    }
    if (a->kind == V_ARRAY && b->kind == V_ARRAY && a->l.n != 1 && b->l.n != 1)
        return eerr(e, nd, "an operator cannot combine two arrays of time series", NULL);
    const val *arr = a->kind == V_SCALAR ? b : b->kind == V_SCALAR ? a
                     : (a->l.n >= b->l.n ? a : b);
    size_t n = arr->l.n;
    out->kind = arr->kind;
    int rc = list_alloc(&out->l, n);
    for (size_t i = 0; rc == OWL_OK && i < n; i++) {
        owl_ts *o = &out->l.s[i];
        if (a->kind == V_SCALAR)
            rc = scalar_op(op, &b->l.s[i], a->x, 1, o);
        else if (b->kind == V_SCALAR)
            rc = scalar_op(op, &a->l.s[i], b->x, 0, o);
        else
            rc = series_op(op, &a->l.s[a->l.n == 1 ? 0 : i], &b->l.s[b->l.n == 1 ? 0 : i], o);
        if (rc == OWL_OK)
            out->l.n++;
    }
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

/* ---- functions ---- */

typedef int (*fn_t)(ev *e, const node *nd, val *args, size_t n, val *out);

/* Scalar reductions of one series. */
enum red { R_AVG, R_MAX, R_MIN, R_SUM, R_STDDEV, R_COUNT };

static double reduce(enum red r, const double *v, size_t n)
{
    if (r == R_COUNT)
        return (double)n;
    if (n == 0)
        return NAN;
    double s = 0, mn = v[0], mx = v[0];
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
    }
    switch (r) {
    case R_AVG: return s / (double)n;
    case R_MAX: return mx;
    case R_MIN: return mn;
    case R_SUM: return s;
    case R_STDDEV: {
        double m = s / (double)n, q = 0;
        for (size_t i = 0; i < n; i++)
            q += (v[i] - m) * (v[i] - m);
        return sqrt(q / (double)n);
    }
    default: return NAN;
    }
}

static int red_of(const char *name, enum red *r)
{
    static const char *const names[] = {"AVG", "MAX", "MIN", "SUM", "STDDEV", "DATAPOINT_COUNT"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0) {
            *r = (enum red)i;
            return 1;
        }
    return 0;
}

/* AVG/MAX/MIN/SUM/STDDEV/DATAPOINT_COUNT: of one series a scalar; of an array a series of the
 * value across the series at each timestamp. */
static int f_reduce(ev *e, const node *nd, val *a, size_t n, val *out)
{
    enum red r = R_AVG;
    red_of(nd->text, &r);
    if (n != 1 || !is_series(&a[0]))
        return eerr(e, nd, "%s takes one time series or array", nd->text);
    if (a[0].kind == V_SERIES || r == R_COUNT) {
        out->kind = V_SCALAR;
        double total = 0;
        if (r == R_COUNT) {
            for (size_t i = 0; i < a[0].l.n; i++)
                total += (double)a[0].l.s[i].n;
            out->x = total;
        } else {
            out->x = reduce(r, a[0].l.s[0].v, a[0].l.s[0].n);
        }
        return OWL_OK;
    }
    /* across series: gather every distinct timestamp */
    size_t total = 0;
    for (size_t i = 0; i < a[0].l.n; i++)
        total += a[0].l.s[i].n;
    int64_t *ts = malloc((total ? total : 1) * sizeof *ts);
    double *buf = malloc((a[0].l.n ? a[0].l.n : 1) * sizeof *buf);
    int rc = ts && buf ? list_alloc(&out->l, 1) : OWL_ENOMEM;
    if (rc == OWL_OK)
        rc = ts_init(&out->l.s[0], total, NULL);
    if (rc == OWL_OK) {
        out->l.n = 1;
        out->kind = V_SERIES;
        size_t nt = 0;
        for (size_t i = 0; i < a[0].l.n; i++)
            for (size_t k = 0; k < a[0].l.s[i].n; k++)
                ts[nt++] = a[0].l.s[i].t[k];
        /* sort + unique (insertion sort is fine for the sizes GetMetricData returns) */
        for (size_t i = 1; i < nt; i++)
            for (size_t k = i; k > 0 && ts[k - 1] > ts[k]; k--) {
                int64_t t = ts[k];
                ts[k] = ts[k - 1], ts[k - 1] = t;
            }
        for (size_t i = 0; i < nt; i++) {
            if (i && ts[i] == ts[i - 1])
                continue;
            size_t m = 0;
            for (size_t s = 0; s < a[0].l.n; s++) {
                const owl_ts *x = &a[0].l.s[s];
                for (size_t k = 0; k < x->n; k++)
                    if (x->t[k] == ts[i]) {
                        buf[m++] = x->v[k];
                        break;
                    }
            }
            push(&out->l.s[0], ts[i], reduce(r, buf, m));
        }
    }
    free(ts);
    free(buf);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

/* Element-wise functions of one value. */
static double fn1(const char *name, double x)
{
    if (!strcmp(name, "ABS")) return fabs(x);
    if (!strcmp(name, "CEIL")) return ceil(x);
    if (!strcmp(name, "FLOOR")) return floor(x);
    if (!strcmp(name, "LOG")) return log(x);
    if (!strcmp(name, "LOG10")) return log10(x);
    return NAN;
}

static int f_map(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 1 || !(a[0].kind == V_SCALAR || is_series(&a[0])))
        return eerr(e, nd, "%s takes one value", nd->text);
    if (a[0].kind == V_SCALAR) {
        out->kind = V_SCALAR;
        out->x = fn1(nd->text, a[0].x);
        return OWL_OK;
    }
    out->kind = a[0].kind;
    int rc = list_alloc(&out->l, a[0].l.n);
    for (size_t i = 0; rc == OWL_OK && i < a[0].l.n; i++) {
        const owl_ts *s = &a[0].l.s[i];
        if ((rc = ts_init(&out->l.s[i], s->n, s->label)) == OWL_OK) {
            out->l.n++;
            for (size_t k = 0; k < s->n; k++)
                push(&out->l.s[i], s->t[k], fn1(nd->text, s->v[k]));
        }
    }
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

/* DIFF, DIFF_TIME, RATE, RUNNING_SUM: point by point along each series. */
static int f_walk(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 1 || !is_series(&a[0]))
        return eerr(e, nd, "%s takes one time series or array", nd->text);
    out->kind = a[0].kind;
    int rc = list_alloc(&out->l, a[0].l.n);
    for (size_t i = 0; rc == OWL_OK && i < a[0].l.n; i++) {
        const owl_ts *s = &a[0].l.s[i];
        owl_ts *o = &out->l.s[i];
        if ((rc = ts_init(o, s->n, s->label)) != OWL_OK)
            break;
        out->l.n++;
        double run = 0;
        for (size_t k = 0; k < s->n; k++) {
            if (!strcmp(nd->text, "RUNNING_SUM")) {
                run += s->v[k];
                push(o, s->t[k], run);
                continue;
            }
            if (k == 0)
                continue;
            double dt = (double)(s->t[k] - s->t[k - 1]) / 1000, dv = s->v[k] - s->v[k - 1];
            if (!strcmp(nd->text, "DIFF"))
                push(o, s->t[k], dv);
            else if (!strcmp(nd->text, "DIFF_TIME"))
                push(o, s->t[k], dt);
            else
                push(o, s->t[k], dv / dt);
        }
    }
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int f_fill(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 2 || !is_series(&a[0]))
        return eerr(e, nd, "FILL takes a time series and a value, REPEAT or LINEAR", NULL);
    int mode = 0; /* 0 value, 1 repeat, 2 linear */
    double fillv = 0;
    if (a[1].kind == V_WORD && !strcasecmp(a[1].s, "REPEAT"))
        mode = 1;
    else if (a[1].kind == V_WORD && !strcasecmp(a[1].s, "LINEAR"))
        mode = 2;
    else if (a[1].kind == V_SCALAR)
        fillv = a[1].x;
    else if (a[1].kind != V_SERIES)
        return eerr(e, nd, "FILL's second argument must be a number, a series, REPEAT or LINEAR", NULL);
    size_t ng = e->env->end_ms > e->grid0 ? (size_t)((e->env->end_ms - e->grid0 + e->pms - 1) / e->pms) : 0;
    out->kind = a[0].kind;
    int rc = list_alloc(&out->l, a[0].l.n);
    for (size_t i = 0; rc == OWL_OK && i < a[0].l.n; i++) {
        const owl_ts *s = &a[0].l.s[i];
        owl_ts *o = &out->l.s[i];
        if ((rc = ts_init(o, ng + s->n, s->label)) != OWL_OK)
            break;
        out->l.n++;
        size_t k = 0;
        for (size_t g = 0; g < ng; g++) {
            int64_t t = e->grid0 + (int64_t)g * e->pms;
            while (k < s->n && s->t[k] < t)
                k++;
            if (k < s->n && s->t[k] == t) {
                push(o, t, s->v[k]);
                continue;
            }
            if (mode == 0 && a[1].kind == V_SERIES) { /* the other series' value there */
                const owl_ts *f = &a[1].l.s[0];
                for (size_t j = 0; j < f->n; j++)
                    if (f->t[j] == t)
                        push(o, t, f->v[j]);
            } else if (mode == 0) {
                push(o, t, fillv);
            } else if (mode == 1) {
                if (k > 0)
                    push(o, t, s->v[k - 1]);
                else if (s->n)
                    push(o, t, s->v[0]); /* before the first point: the first value */
            } else if (k > 0 && k < s->n) {
                double f = (double)(t - s->t[k - 1]) / (double)(s->t[k] - s->t[k - 1]);
                push(o, t, s->v[k - 1] + f * (s->v[k] - s->v[k - 1]));
            }
        }
    }
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int f_if(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n < 2 || n > 3 || !is_series(&a[0]))
        return eerr(e, nd, "IF takes a condition series, a value and optionally a second", NULL);
    const owl_ts *c = &a[0].l.s[0];
    out->kind = V_SERIES;
    int rc = list_alloc(&out->l, 1);
    if (rc == OWL_OK && (rc = ts_init(&out->l.s[0], c->n, c->label)) == OWL_OK)
        out->l.n = 1;
    for (size_t k = 0; rc == OWL_OK && k < c->n; k++) {
        const val *pick = c->v[k] != 0 ? &a[1] : n == 3 ? &a[2] : NULL;
        if (!pick)
            continue;
        if (pick->kind == V_SCALAR) {
            push(&out->l.s[0], c->t[k], pick->x);
        } else if (is_series(pick)) {
            const owl_ts *s = &pick->l.s[0];
            for (size_t j = 0; j < s->n; j++)
                if (s->t[j] == c->t[k])
                    push(&out->l.s[0], c->t[k], s->v[j]);
        }
    }
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int take_series(owl_ts_list *dst, const owl_ts *src)
{
    owl_ts *s = &dst->s[dst->n];
    int rc = ts_init(s, src->n, src->label);
    if (rc != OWL_OK)
        return rc;
    memcpy(s->t, src->t, src->n * sizeof *s->t);
    memcpy(s->v, src->v, src->n * sizeof *s->v);
    s->n = src->n;
    s->id = src->id ? strdup(src->id) : NULL;
    dst->n++;
    return OWL_OK;
}

static int f_first_last(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 1 || !is_series(&a[0]) || a[0].l.n == 0)
        return eerr(e, nd, "%s takes a non-empty array of time series", nd->text);
    out->kind = V_SERIES;
    int rc = list_alloc(&out->l, 1);
    if (rc == OWL_OK)
        rc = take_series(&out->l, &a[0].l.s[strcmp(nd->text, "FIRST") ? a[0].l.n - 1 : 0]);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

typedef struct sortkey {
    double k;
    size_t i;
} sortkey;

static int cmp_key(const void *x, const void *y)
{
    const sortkey *a = x, *b = y;
    if (a->k != b->k)
        return a->k < b->k ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int f_sort(ev *e, const node *nd, val *a, size_t n, val *out)
{
    enum red r = R_AVG;
    if (n < 3 || n > 4 || !is_series(&a[0]) || a[1].kind != V_WORD || !red_of(a[1].s, &r) ||
        a[2].kind != V_WORD || (strcasecmp(a[2].s, "ASC") && strcasecmp(a[2].s, "DESC")) ||
        (n == 4 && a[3].kind != V_SCALAR))
        return eerr(e, nd, "SORT takes an array, AVG|MAX|MIN|SUM|STDDEV, ASC|DESC and an "
                           "optional count", NULL);
    size_t cnt = a[0].l.n;
    if (n == 4 && a[3].x >= 0 && a[3].x < (double)cnt)
        cnt = (size_t)a[3].x;
    sortkey *k = malloc((a[0].l.n ? a[0].l.n : 1) * sizeof *k);
    int rc = k ? list_alloc(&out->l, cnt) : OWL_ENOMEM;
    int desc = !strcasecmp(a[2].s, "DESC");
    for (size_t i = 0; rc == OWL_OK && i < a[0].l.n; i++) {
        double v = reduce(r, a[0].l.s[i].v, a[0].l.s[i].n);
        k[i] = (sortkey){isnan(v) ? -INFINITY : desc ? -v : v, i};
    }
    if (rc == OWL_OK)
        qsort(k, a[0].l.n, sizeof *k, cmp_key);
    out->kind = V_ARRAY;
    for (size_t i = 0; rc == OWL_OK && i < cnt; i++)
        rc = take_series(&out->l, &a[0].l.s[k[i].i]);
    free(k);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int f_slice(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 3 || !is_series(&a[0]) || a[1].kind != V_SCALAR || a[2].kind != V_SCALAR)
        return eerr(e, nd, "SLICE takes an array, a start and an end index", NULL);
    double s = a[1].x < 0 ? 0 : a[1].x, t = a[2].x > (double)a[0].l.n ? (double)a[0].l.n : a[2].x;
    size_t from = (size_t)s, to = t > s ? (size_t)t : from;
    out->kind = V_ARRAY;
    int rc = list_alloc(&out->l, to - from);
    for (size_t i = from; rc == OWL_OK && i < to; i++)
        rc = take_series(&out->l, &a[0].l.s[i]);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int f_period(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 1 || !is_series(&a[0]))
        return eerr(e, nd, "PERIOD takes a time series", NULL);
    out->kind = V_SCALAR;
    out->x = (double)e->env->period_s;
    return OWL_OK;
}

static int f_time_series(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n != 1 || a[0].kind != V_SCALAR)
        return eerr(e, nd, "TIME_SERIES takes a number", NULL);
    size_t ng = e->env->end_ms > e->grid0 ? (size_t)((e->env->end_ms - e->grid0 + e->pms - 1) / e->pms) : 0;
    out->kind = V_SERIES;
    int rc = list_alloc(&out->l, 1);
    if (rc == OWL_OK && (rc = ts_init(&out->l.s[0], ng, NULL)) == OWL_OK)
        out->l.n = 1;
    for (size_t g = 0; rc == OWL_OK && g < ng; g++)
        push(&out->l.s[0], e->grid0 + (int64_t)g * e->pms, a[0].x);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
}

static int f_metrics(ev *e, const node *nd, val *a, size_t n, val *out)
{
    if (n > 1 || (n == 1 && a[0].kind != V_STR))
        return eerr(e, nd, "METRICS takes nothing or a string", NULL);
    if (!e->env->all)
        return eerr(e, nd, "METRICS() is not available here", NULL);
    out->kind = V_ARRAY;
    int rc = e->env->all(e->env->ud, n ? a[0].s : NULL, &out->l);
    return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "METRICS() failed");
}

static const struct {
    const char *name;
    fn_t fn;
} functions[] = {
    {"ABS", f_map},          {"CEIL", f_map},         {"FLOOR", f_map},
    {"LOG", f_map},          {"LOG10", f_map},        {"AVG", f_reduce},
    {"MAX", f_reduce},       {"MIN", f_reduce},       {"SUM", f_reduce},
    {"STDDEV", f_reduce},    {"DATAPOINT_COUNT", f_reduce}, {"DIFF", f_walk},
    {"DIFF_TIME", f_walk},   {"RATE", f_walk},        {"RUNNING_SUM", f_walk},
    {"FILL", f_fill},        {"IF", f_if},            {"FIRST", f_first_last},
    {"LAST", f_first_last},  {"SORT", f_sort},        {"SLICE", f_slice},
    {"PERIOD", f_period},    {"TIME_SERIES", f_time_series}, {"METRICS", f_metrics},
};

/* ---- evaluation ---- */

static int eval(ev *e, const node *nd, val *out)
{
    memset(out, 0, sizeof *out);
    int rc = OWL_OK;
    switch (nd->kind) {
    case N_NUM:
        out->kind = V_SCALAR;
        out->x = nd->num;
        return OWL_OK;
    case N_STR:
    case N_WORD:
        out->kind = nd->kind == N_STR ? V_STR : V_WORD;
        out->s = nd->text;
        return OWL_OK;
    case N_ID: {
        const owl_ts_list *l;
        if (!e->env->lookup || (rc = e->env->lookup(e->env->ud, nd->text, &l)) == OWL_ENOTFOUND)
            return eerr(e, nd, "unknown id %s", nd->text);
        if (rc != OWL_OK)
            return rc;
        out->kind = l->n == 1 ? V_SERIES : V_ARRAY;
        if ((rc = list_alloc(&out->l, l->n)) != OWL_OK)
            return owl_error_set(e->err, rc, "out of memory");
        for (size_t i = 0; i < l->n && rc == OWL_OK; i++)
            rc = take_series(&out->l, &l->s[i]);
        return rc == OWL_OK ? OWL_OK : owl_error_set(e->err, rc, "out of memory");
    }
    case N_NEG:
    case N_NOT: {
        val k, zero = {.kind = V_SCALAR, .x = 0};
        if ((rc = eval(e, nd->kid[0], &k)) != OWL_OK)
            return rc;
        node op = *nd;
        /* -x is 0 - x; NOT x is x == 0 */
        op.op = nd->kind == N_NEG ? OP_SUB : OP_EQ;
        rc = nd->kind == N_NEG ? binary(e, &op, &zero, &k, out) : binary(e, &op, &k, &zero, out);
        val_free(&k);
        return rc;
    }
    case N_BIN: {
        val a, b;
        if ((rc = eval(e, nd->kid[0], &a)) != OWL_OK)
            return rc;
        if ((rc = eval(e, nd->kid[1], &b)) != OWL_OK) {
            val_free(&a);
            return rc;
        }
        rc = binary(e, nd, &a, &b, out);
        val_free(&a);
        val_free(&b);
        return rc;
    }
    case N_CALL: {
        size_t f = 0;
        while (f < OWL_ARRAY_LEN(functions) && strcmp(functions[f].name, nd->text) != 0)
            f++;
        if (f == OWL_ARRAY_LEN(functions))
            return eerr(e, nd, "unknown function %s", nd->text);
        val args[MAX_ARGS];
        size_t n = 0;
        for (; n < nd->nkids && rc == OWL_OK; n++)
            rc = eval(e, nd->kid[n], &args[n]);
        if (rc == OWL_OK)
            rc = functions[f].fn(e, nd, args, n, out);
        else
            n--; /* the failed one holds nothing */
        for (size_t i = 0; i < n; i++)
            val_free(&args[i]);
        if (rc != OWL_OK)
            val_free(out);
        return rc;
    }
    }
    return OWL_EINVAL;
}

int owl_mexpr_eval(const owl_mexpr *x, const owl_mexpr_env *env, owl_ts_list *out,
                   owl_error *err)
{
    memset(out, 0, sizeof *out);
    ev e = {.env = env, .err = err, .pms = (int64_t)(env->period_s > 0 ? env->period_s : 60) * 1000};
    e.grid0 = env->start_ms - ((env->start_ms % e.pms) + e.pms) % e.pms;
    val v;
    int rc = eval(&e, x->root, &v);
    if (rc != OWL_OK)
        return rc;
    if (!is_series(&v)) {
        val_free(&v);
        return owl_error_set(err, OWL_EINVAL,
                             "at 1: the expression must return a time series or an array of "
                             "time series, not a single number or word");
    }
    *out = v.l;
    return OWL_OK;
}

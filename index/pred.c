/* pred.c — the predicate table: per operator, the row check used by the store's scans and
 * the block check used by part.c's pruning (pred.h). A block check says 0 only when the
 * block's footer proves that no row can satisfy the predicate. */
#include "index/pred.h"

#include <bson/bson.h>
#include <string.h>

#include "common/endian.h"
#include "index/part.h"

#define BLOOM_SEED 0 /* items are owl_hash64(bytes, n, 0), i.e. what owl_bloom_add hashes */

/* ---------- bloom items ---------- */

uint64_t owl_pred_token_item(const char *t, size_t n, int format)
{
    size_t i = 0;
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++;
    return owl__token_item(t, n, i == n, format);
}

uint64_t owl_pred_num_item(uint64_t v)
{
    uint8_t b[8];
    owl_put64le(b, v);
    return owl_hash64(b, 8, BLOOM_SEED);
}

/* ---------- row checks ---------- */

static int bytes_eq(const owl_bytes *a, const owl_bytes *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* 1 when the occurrence of tok (n > 0 bytes) at hit, inside [row, row_end), stands as a
 * whole token: the bytes beside it are not token bytes (or tok itself ends there in a
 * separator). */
static int token_bounded(const char *hit, const unsigned char *tok, size_t n, const char *row,
                         const char *row_end)
{
    int left = hit == row || !owl_is_token_byte((unsigned char)hit[-1]) ||
               !owl_is_token_byte(tok[0]);
    int right = hit + n == row_end || !owl_is_token_byte((unsigned char)hit[n]) ||
                !owl_is_token_byte(tok[n - 1]);
    return left && right;
}

static int contains_token(const owl_bytes *v, const owl_bytes *tok)
{
    const char *s = v->p, *end = s + v->n;
    if (tok->n == 0)
        return 1;
    while (s < end) {
        const char *hit = memmem(s, (size_t)(end - s), tok->p, tok->n);
        if (!hit)
            return 0;
        if (token_bounded(hit, tok->p, tok->n, v->p, end))
            return 1;
        s = hit + 1;
    }
    return 0;
}

static int cmp_num(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    switch (t) {
    case OWL_TYPE_U64:
        return a->u < b->u ? -1 : a->u > b->u;
    case OWL_TYPE_F64:
        return a->f < b->f ? -1 : a->f > b->f;
    default:
        return a->i < b->i ? -1 : a->i > b->i;
    }
}

/* Numeric equality; a NaN equals nothing, as in IEEE-754. */
static int num_eq(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    if (t == OWL_TYPE_F64)
        return a->f == b->f;
    return cmp_num(t, a, b) == 0;
}

static int row_eq(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    return owl_type_is_bytes(t) ? bytes_eq(&v->b, &p->lo.b) : num_eq(t, v, &p->lo);
}

static int row_in(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    int bytes = owl_type_is_bytes(t);
    for (size_t i = 0; i < p->nset; i++)
        if (bytes ? bytes_eq(&v->b, &p->set[i].b) : num_eq(t, v, &p->set[i]))
            return 1;
    return 0;
}

static int row_range(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    if (owl_type_is_bytes(t) || (t == OWL_TYPE_F64 && (v->f != v->f)))
        return 0;
    return cmp_num(t, v, &p->lo) >= 0 && cmp_num(t, v, &p->hi) < 0;
}

static int row_token(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    return owl_type_is_bytes(t) && contains_token(&v->b, &p->text);
}

static int row_substr(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    return owl_type_is_bytes(t) &&
           (p->text.n == 0 || memmem(v->b.p, v->b.n, p->text.p, p->text.n));
}

/* ---------- block checks ---------- */

/* Integer/float value against the block's min/max. */
static int num_in_stats(const owl_pred_colstats *cs, const owl_cell *v)
{
    switch (cs->type) {
    case OWL_TYPE_TIME:
    case OWL_TYPE_I64:
        return !((cs->has_min && v->i < cs->min.i) || (cs->has_max && v->i > cs->max.i));
    case OWL_TYPE_U64:
        return !((cs->has_min && v->u < cs->min.u) || (cs->has_max && v->u > cs->max.u));
    case OWL_TYPE_F64:
        /* written as "v < min" so a NaN value never prunes */
        return !((cs->has_min && v->f < cs->min.f) || (cs->has_max && v->f > cs->max.f));
    default:
        return 1;
    }
}

struct tokq {
    const owl_bloom *bl;
    int format;
    const char *base;
    size_t n;
    int interior; /* SUBSTR: only tokens with a separator on both sides inside the text */
};

static int tok_absent(void *ud, const char *t, size_t n)
{
    const struct tokq *q = ud;
    if (q->interior) {
        size_t off = (size_t)(t - q->base);
        if (off == 0 || off + n >= q->n)
            return 0;
    }
    return !owl_bloom_maybe_hash(q->bl, owl_pred_token_item(t, n, q->format));
}

/* 0 when some (required) token of text is certainly not in the bloom. */
static int tokens_may(const owl_pred_colstats *cs, const owl_bytes *text, int interior)
{
    if (!cs->bloom->nwords || (text->n && !text->p))
        return 1;
    struct tokq q = {cs->bloom, cs->format, text->p, text->n, interior};
    return owl_tokenize(text->p, text->n, tok_absent, &q) == 0;
}

static int has_tokens(const owl_pred_colstats *cs)
{
    return (cs->flags & OWL_COL_TOKENS) && owl_type_is_bytes(cs->type) &&
           !owl_type_id_width(cs->type);
}

int owl_pred_value_may(const owl_pred_colstats *cs, const owl_cell *v)
{
    enum owl_type t = cs->type;
    if (!owl_type_is_bytes(t)) {
        if (!num_in_stats(cs, v))
            return 0;
        return !(cs->flags & OWL_COL_BLOOM) || t == OWL_TYPE_F64 ||
               owl_bloom_maybe_hash(cs->bloom, owl_pred_num_item(v->u));
    }
    if (v->b.n && !v->b.p)
        return 1;
    if ((cs->flags & OWL_COL_BLOOM) &&
        !owl_bloom_maybe_hash(cs->bloom, owl_hash64(v->b.p, v->b.n, BLOOM_SEED)))
        return 0;
    /* a row equal to v holds every token of v */
    if (has_tokens(cs) && !tokens_may(cs, &v->b, 0))
        return 0;
    return 1;
}

static int block_eq(const owl_pred_colstats *cs, const owl_pred *p)
{
    return owl_pred_value_may(cs, &p->lo);
}

static int block_in(const owl_pred_colstats *cs, const owl_pred *p)
{
    if (!p->set || p->nset == 0)
        return 1;
    for (size_t i = 0; i < p->nset; i++)
        if (owl_pred_value_may(cs, &p->set[i]))
            return 1;
    return 0;
}

/* [lo, hi) against the block's min/max. */
static int block_range(const owl_pred_colstats *cs, const owl_pred *p)
{
    const owl_cell *lo = &p->lo, *hi = &p->hi;
    switch (cs->type) {
    case OWL_TYPE_TIME:
    case OWL_TYPE_I64:
        return !((cs->has_min && hi->i <= cs->min.i) || (cs->has_max && lo->i > cs->max.i));
    case OWL_TYPE_U64:
        return !((cs->has_min && hi->u <= cs->min.u) || (cs->has_max && lo->u > cs->max.u));
    case OWL_TYPE_F64:
        return !((cs->has_min && hi->f <= cs->min.f) || (cs->has_max && lo->f > cs->max.f));
    default:
        return 1;
    }
}

static int block_token(const owl_pred_colstats *cs, const owl_pred *p)
{
    return !has_tokens(cs) || tokens_may(cs, &p->text, 0);
}

static int block_substr(const owl_pred_colstats *cs, const owl_pred *p)
{
    return !has_tokens(cs) || tokens_may(cs, &p->text, 1);
}

/* ---------- path predicates (on a value inside a BSON document) ---------- */

/* The value at p->path in document v: 1 with *it on it, 0 when absent or malformed. */
static int path_find(const owl_pred *p, const owl_cell *v, bson_iter_t *it)
{
    bson_t doc;
    bson_iter_t root;
    if (!v->b.n || !v->b.p || !bson_init_static(&doc, v->b.p, v->b.n) ||
        !bson_iter_init(&root, &doc))
        return 0;
    return bson_iter_find_descendant(&root, p->path, it);
}

/* The value as the predicate's path_type reads it: a number (*num) or bytes (*str). 0 when
 * it is of neither kind asked. */
static int path_value(const owl_pred *p, const bson_iter_t *it, double *num, owl_bytes *str)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
        if (p->path_type != OWL_PATH_NUM)
            return 0;
        *num = bson_iter_as_double(it);
        return 1;
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        if (p->path_type != OWL_PATH_STR && p->op != OWL_PRED_TOKEN && p->op != OWL_PRED_SUBSTR)
            return 0;
        str->p = s, str->n = n;
        return 1;
    }
    default:
        return 0;
    }
}

/* memcmp order of byte strings, a prefix before its extensions. */
static int bytes_cmp(const owl_bytes *a, const owl_bytes *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c)
        return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

static int path_holds(const owl_pred *p, const owl_cell *v)
{
    bson_iter_t it;
    double x = 0;
    owl_bytes s = {NULL, 0};
    if (!path_find(p, v, &it))
        return 0;
    if (p->op == OWL_PRED_EXISTS)
        return 1;
    if (!path_value(p, &it, &x, &s))
        return 0;
    int num = s.p == NULL;
    owl_cell sv = {.b = s};
    switch (p->op) {
    case OWL_PRED_EQ:
        return num ? x == p->lo.f : bytes_eq(&s, &p->lo.b);
    case OWL_PRED_IN:
        for (size_t i = 0; i < p->nset; i++)
            if (num ? x == p->set[i].f : bytes_eq(&s, &p->set[i].b))
                return 1;
        return 0;
    case OWL_PRED_RANGE:
        return num ? (x >= p->lo.f && x < p->hi.f)
                   : (bytes_cmp(&s, &p->lo.b) >= 0 && bytes_cmp(&s, &p->hi.b) < 0);
    case OWL_PRED_TOKEN:
        return !num && row_token(OWL_TYPE_STR, p, &sv);
    case OWL_PRED_SUBSTR:
        return !num && row_substr(OWL_TYPE_STR, p, &sv);
    default:
        return 0;
    }
}

/* ---------- the table ---------- */

struct pred_check {
    int (*row)(enum owl_type t, const owl_pred *p, const owl_cell *v);
    int (*block)(const owl_pred_colstats *cs, const owl_pred *p);
};

static const struct pred_check checks[] = {
    [OWL_PRED_EQ] = {row_eq, block_eq},
    [OWL_PRED_IN] = {row_in, block_in},
    [OWL_PRED_RANGE] = {row_range, block_range},
    [OWL_PRED_TOKEN] = {row_token, block_token},
    [OWL_PRED_SUBSTR] = {row_substr, block_substr},
    [OWL_PRED_EXISTS] = {NULL, NULL}, /* paths only (path_holds); never prunes */
};
#define NCHECKS (sizeof checks / sizeof checks[0])

int owl_pred_holds(enum owl_type t, const owl_pred *p, const owl_cell *v)
{
    if (p->path)
        return t == OWL_TYPE_BSON && path_holds(p, v);
    if ((size_t)p->op >= NCHECKS || !checks[p->op].row)
        return 0;
    return checks[p->op].row(t, p, v);
}

int owl_pred_block_may(const owl_pred_colstats *cs, const owl_pred *p)
{
    if (p->path) /* the footer keeps nothing about values inside documents */
        return 1;
    if ((size_t)p->op >= NCHECKS || !checks[p->op].block)
        return 1;
    return checks[p->op].block(cs, p);
}

/* ---------- many rows at once ---------- */

/* 1 when the non-empty values of v[0..n) lie in one buffer in row order without overlap
 * (decoded part blocks: STR and template chunks both lay their rows out so), so one search
 * over the whole range can stand in for a search per row. */
static int laid_out_in_order(const owl_cell *v, size_t n)
{
    const char *at = NULL;
    for (size_t r = 0; r < n; r++) {
        if (!v[r].b.n)
            continue;
        const char *p = v[r].b.p;
        if (!p || (at && p < at))
            return 0;
        at = p + v[r].b.n;
    }
    return at != NULL;
}

/* TOKEN / SUBSTR over rows laid out in order: one memmem pass over the block's bytes; a hit
 * counts for the row that holds all of it (and, for TOKEN, with token boundaries inside that
 * row, as contains_token decides). Clears keep[r] for every row without a match. */
static void text_pass(const owl_cell *v, size_t n, const owl_bytes *needle, int token,
                      uint8_t *keep, uint8_t *found)
{
    const unsigned char *tok = needle->p;
    size_t len = needle->n, r = 0;
    const char *s = NULL, *end = NULL;
    for (size_t i = 0; i < n; i++) {
        found[i] = 0;
        if (v[i].b.n) {
            if (!s)
                s = v[i].b.p;
            end = (const char *)v[i].b.p + v[i].b.n;
        }
    }
    while (s && s < end) {
        const char *hit = memmem(s, (size_t)(end - s), needle->p, len);
        if (!hit)
            break;
        while (r < n && (v[r].b.n == 0 || (const char *)v[r].b.p + v[r].b.n <= hit))
            r++;
        if (r == n)
            break;
        const char *row = v[r].b.p, *row_end = row + v[r].b.n;
        if (hit < row) { /* between rows */
            s = row;
            continue;
        }
        if (hit + len > row_end) { /* runs into the next row */
            s = hit + 1;
            continue;
        }
        if (token && !token_bounded(hit, tok, len, row, row_end)) {
            s = hit + 1;
            continue;
        }
        found[r] = 1;
        s = row_end;
        r++;
    }
    for (size_t i = 0; i < n; i++)
        keep[i] &= found[i];
}

void owl_pred_rows(enum owl_type t, const owl_pred *p, const owl_cell *v, size_t n, int one_buf,
                   uint8_t *keep, uint8_t *scratch)
{
    if ((p->op == OWL_PRED_TOKEN || p->op == OWL_PRED_SUBSTR) && owl_type_is_bytes(t) &&
        !p->path && p->text.n && p->text.p && one_buf && laid_out_in_order(v, n)) {
        text_pass(v, n, &p->text, p->op == OWL_PRED_TOKEN, keep, scratch);
        return;
    }
    for (size_t r = 0; r < n; r++)
        if (keep[r])
            keep[r] = (uint8_t)owl_pred_holds(t, p, &v[r]);
}

/* ---------- validation ---------- */

int owl_pred_check(const owl_schema *sc, const owl_pred *p, owl_error *err)
{
    if (p->col >= sc->ncols)
        return owl_error_set(err, OWL_EINVAL, "predicate column out of range");
    if (p->op < OWL_PRED_EQ || p->op > OWL_PRED_EXISTS)
        return owl_error_set(err, OWL_EINVAL, "predicate operator %d unknown", (int)p->op);
    if (p->op == OWL_PRED_IN && p->nset && !p->set)
        return owl_error_set(err, OWL_EINVAL, "IN predicate without its set");
    if (!p->path) {
        if (p->op == OWL_PRED_EXISTS)
            return owl_error_set(err, OWL_EINVAL, "EXISTS needs a path");
        return OWL_OK;
    }
    if (sc->cols[p->col].type != OWL_TYPE_BSON)
        return owl_error_set(err, OWL_EINVAL, "path predicate on column %s, which is not BSON",
                             sc->cols[p->col].name);
    if (!p->path[0] || p->path_type < OWL_PATH_STR || p->path_type > OWL_PATH_NUM)
        return owl_error_set(err, OWL_EINVAL, "bad path predicate");
    return OWL_OK;
}

/* ---------- filter trees ---------- */

static int filter_walk(const owl_schema *sc, const owl_filter *f, size_t level, size_t *nodes,
                       size_t *depth, owl_error *err)
{
    if (level >= OWL_FILTER_MAX_DEPTH || ++*nodes > OWL_FILTER_MAX_NODES)
        return owl_error_set(err, OWL_EINVAL, "filter deeper than %d or over %d nodes",
                             OWL_FILTER_MAX_DEPTH, OWL_FILTER_MAX_NODES);
    if (level + 1 > *depth)
        *depth = level + 1;
    switch (f->kind) {
    case OWL_FILTER_PRED:
        if (!f->pred)
            return owl_error_set(err, OWL_EINVAL, "filter leaf without a predicate");
        return owl_pred_check(sc, f->pred, err);
    case OWL_FILTER_NOT:
        if (f->nkids != 1)
            return owl_error_set(err, OWL_EINVAL, "NOT takes exactly one filter");
        /* fall through */
    case OWL_FILTER_AND:
    case OWL_FILTER_OR:
        if (f->nkids && !f->kids)
            return owl_error_set(err, OWL_EINVAL, "filter group without its children");
        for (size_t i = 0; i < f->nkids; i++) {
            int rc = filter_walk(sc, &f->kids[i], level + 1, nodes, depth, err);
            if (rc != OWL_OK)
                return rc;
        }
        return OWL_OK;
    default:
        return owl_error_set(err, OWL_EINVAL, "filter kind %d unknown", (int)f->kind);
    }
}

int owl_filter_check(const owl_schema *sc, const owl_filter *f, size_t *depth, owl_error *err)
{
    size_t nodes = 0;
    *depth = 0;
    return filter_walk(sc, f, 0, &nodes, depth, err);
}

void owl_filter_cols(const owl_filter *f, int *seen)
{
    if (f->kind == OWL_FILTER_PRED) {
        seen[f->pred->col] = 1;
        return;
    }
    for (size_t i = 0; i < f->nkids; i++)
        owl_filter_cols(&f->kids[i], seen);
}

/* v[r] = v[r] && f(row r), in place; scratch holds 2 * n bytes per level below f plus n. */
static void filter_eval(const owl_schema *sc, const owl_filter *f, owl_cell *const *cols,
                        size_t n, int one_buf, uint8_t *v, uint8_t *scratch)
{
    uint8_t *acc = scratch, *tmp = scratch + n, *below = scratch + 2 * n;
    switch (f->kind) {
    case OWL_FILTER_PRED: {
        const owl_pred *p = f->pred;
        owl_pred_rows(sc->cols[p->col].type, p, cols[p->col], n, one_buf, v, scratch);
        return;
    }
    case OWL_FILTER_AND:
        for (size_t i = 0; i < f->nkids; i++)
            filter_eval(sc, &f->kids[i], cols, n, one_buf, v, scratch);
        return;
    case OWL_FILTER_OR:
        memset(acc, 0, n);
        for (size_t i = 0; i < f->nkids; i++) {
            size_t live = 0;
            for (size_t r = 0; r < n; r++)
                live += tmp[r] = v[r] & !acc[r];
            if (!live)
                break;
            filter_eval(sc, &f->kids[i], cols, n, one_buf, tmp, below);
            for (size_t r = 0; r < n; r++)
                acc[r] |= tmp[r];
        }
        memcpy(v, acc, n);
        return;
    case OWL_FILTER_NOT:
        memcpy(tmp, v, n);
        filter_eval(sc, &f->kids[0], cols, n, one_buf, tmp, below);
        for (size_t r = 0; r < n; r++)
            v[r] &= !tmp[r];
        return;
    }
}

void owl_filter_rows(const owl_schema *sc, const owl_filter *f, owl_cell *const *cols, size_t n,
                     int one_buf, uint8_t *keep, uint8_t *scratch)
{
    filter_eval(sc, f, cols, n, one_buf, keep, scratch);
}

int owl_filter_block_may(const owl_filter *f, int (*leaf_may)(void *ud, const owl_pred *p),
                         void *ud)
{
    switch (f->kind) {
    case OWL_FILTER_PRED:
        return leaf_may(ud, f->pred);
    case OWL_FILTER_AND:
        for (size_t i = 0; i < f->nkids; i++)
            if (!owl_filter_block_may(&f->kids[i], leaf_may, ud))
                return 0;
        return 1;
    case OWL_FILTER_OR:
        for (size_t i = 0; i < f->nkids; i++)
            if (owl_filter_block_may(&f->kids[i], leaf_may, ud))
                return 1;
        return 0;
    default: /* NOT: a block where the child may hold may still hold rows where it does not */
        return 1;
    }
}

/* composite.c — CloudWatch composite alarm rules (PutCompositeAlarm's AlarmRule): a
 * recursive-descent parser (text -> tree) and an evaluator (tree + child states -> 0/1).
 *
 * Grammar, loosest first (keywords are case-sensitive, upper case as CloudWatch writes them):
 *   rule    := or END
 *   or      := and ("OR" and)*
 *   and     := not ("AND" not)*
 *   not     := "NOT" not | primary
 *   primary := "(" or ")" | "TRUE" | "FALSE" | state "(" alarm ")"
 *   state   := "ALARM" | "OK" | "INSUFFICIENT_DATA"
 *   alarm   := bare | '"' any character but '"' '"'
 * A bare alarm is a run of characters other than white space, control characters, '(', ')'
 * and '"'; names with those need the quotes. An alarm that begins with "arn:" must be an ARN,
 * arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME, and stands for NAME. White space may
 * surround every token. CloudWatch documents the operators but not their precedence; we use
 * the conventional one: NOT binds tightest, then AND, then OR, so
 * "NOT ALARM(a) AND ALARM(b) OR ALARM(c)" is "((NOT ALARM(a)) AND ALARM(b)) OR ALARM(c)".
 *
 * Limits (composite.h): 10240 characters of text, 100 alarm references (repeats counted),
 * 32 levels of nesting (each "(" group and each NOT opens one), 255 characters per name.
 * Errors are OWL_EINVAL "at N: expected X, found Y" or "at N: <limit broken>", N the 1-based
 * character (not byte) position of the offending token, or one past the end of the text.
 *
 * The tree: AND and OR chains are one n-ary node each, so its depth is bounded by the
 * nesting limit and the recursive evaluator cannot run deep. Nodes live in one array sized
 * from the text's length, names in one pool; a rule is three allocations plus the struct. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analytics/composite.h"
#include "common/util.h"

enum kind { K_TRUE, K_FALSE, K_STATE, K_NOT, K_AND, K_OR };

typedef struct node {
    enum kind kind;
    int state;   /* K_STATE: the enum owl_crule_state it tests for */
    size_t name; /* K_STATE: index into names */
    int kid;     /* K_NOT, K_AND, K_OR: first operand; -1 for none */
    int next;    /* the next operand of the same parent; -1 for none */
} node;

struct owl_crule {
    node *nodes;
    int nnodes, cap, root;
    const char **names; /* distinct names, pointing into pool */
    size_t nnames;
    char *pool;
    size_t used;
};

/* ---- parsing ---- */

typedef struct parser {
    const char *s;
    size_t i, n; /* cursor and length, in bytes */
    int depth;   /* "(" groups and NOTs open */
    size_t nrefs;
    owl_crule *r;
    owl_error *err;
    int rc; /* the first error; later ones are not reported */
} parser;

#define EXPECT_OPERAND "ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE, NOT or '('"

static const struct {
    const char *word;
    enum kind kind;
    int state;
} words[] = {
    {"TRUE", K_TRUE, 0},
    {"FALSE", K_FALSE, 0},
    {"ALARM", K_STATE, OWL_CRULE_ALARM},
    {"OK", K_STATE, OWL_CRULE_OK},
    {"INSUFFICIENT_DATA", K_STATE, OWL_CRULE_INSUFFICIENT_DATA},
};

/* The 1-based character position of byte offset b: UTF-8 continuation bytes do not count. */
static size_t charpos(const char *s, size_t b)
{
    size_t c = 1;
    for (size_t k = 0; k < b; k++)
        c += ((unsigned char)s[k] & 0xC0) != 0x80;
    return c;
}

static int perr(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error at byte offset at; returns OWL_EINVAL. */
static int perr(parser *p, size_t at, const char *fmt, ...)
{
    if (p->rc != OWL_OK)
        return p->rc;
    char m[OWL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    p->rc = OWL_EINVAL;
    owl_error_set(p->err, OWL_EINVAL, "at %zu: %.*s", charpos(p->s, at), 200, m);
    return p->rc;
}

static int nomem(parser *p)
{
    if (p->rc == OWL_OK)
        p->rc = owl_error_set(p->err, OWL_ENOMEM, "out of memory");
    return p->rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_word(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static void skip_ws(parser *p)
{
    while (p->i < p->n && is_space(p->s[p->i]))
        p->i++;
}

/* The length of the word at the cursor (0 if none). */
static size_t word_len(const parser *p)
{
    size_t j = p->i;
    while (j < p->n && is_word(p->s[j]))
        j++;
    return j - p->i;
}

/* Consumes keyword w if it is the whole word at the cursor. */
static int take(parser *p, const char *w)
{
    skip_ws(p);
    size_t l = word_len(p);
    if (l != strlen(w) || memcmp(p->s + p->i, w, l) != 0)
        return 0;
    p->i += l;
    return 1;
}

/* Describes the token at byte offset at for "found ..." in a message. */
static const char *found(const parser *p, size_t at, char *buf, size_t size)
{
    if (at >= p->n)
        return "the end of the rule";
    unsigned char c = (unsigned char)p->s[at];
    size_t l = 0;
    while (at + l < p->n && is_word(p->s[at + l]))
        l++;
    if (l > 0)
        snprintf(buf, size, "'%.*s%s'", (int)(l > 40 ? 40 : l), p->s + at, l > 40 ? "..." : "");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

/* A keyword written in the wrong case at the cursor gets its own message. */
static int wrong_case(parser *p)
{
    static const char *const all[] = {"TRUE", "FALSE", "ALARM", "OK", "INSUFFICIENT_DATA",
                                      "NOT", "AND", "OR"};
    size_t l = word_len(p);
    for (size_t k = 0; k < OWL_ARRAY_LEN(all); k++)
        if (strlen(all[k]) == l && !strncasecmp(p->s + p->i, all[k], l) &&
            memcmp(p->s + p->i, all[k], l))
            return perr(p, p->i, "keywords are upper case: write %s, not '%.*s'", all[k],
                        (int)l, p->s + p->i);
    return OWL_OK;
}

/* Fails with "expected what, found <the token at the cursor>". */
static int expected(parser *p, const char *what)
{
    char b[64];
    return perr(p, p->i, "expected %s, found %s", what, found(p, p->i, b, sizeof b));
}

/* The same where a keyword is expected, so "and" is answered with the case rule. */
static int expected_kw(parser *p, const char *what)
{
    if (wrong_case(p) != OWL_OK)
        return p->rc;
    return expected(p, what);
}

static int new_node(parser *p, enum kind k)
{
    owl_crule *r = p->r;
    if (r->nnodes == r->cap) { /* cannot happen: cap counts the tokens the text can hold */
        if (p->rc == OWL_OK)
            p->rc = owl_error_set(p->err, OWL_EINTERNAL, "composite rule: node array full");
        return -1;
    }
    r->nodes[r->nnodes] = (node){.kind = k, .kid = -1, .next = -1};
    return r->nnodes++;
}

/* Opens one nesting level at byte offset at; the caller closes it with p->depth--. */
static int enter(parser *p, size_t at)
{
    if (++p->depth > OWL_CRULE_DEPTH_MAX)
        return perr(p, at, "the rule nests deeper than %d levels of parentheses and NOT",
                    OWL_CRULE_DEPTH_MAX);
    return OWL_OK;
}

/* NAME out of arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME, or -1 if a is no such ARN. */
static int arn_name(const char *a, size_t l, size_t *off)
{
    static const char *const want[] = {"arn", NULL, "cloudwatch", NULL, NULL, "alarm"};
    size_t k = 0;
    for (size_t f = 0; f < OWL_ARRAY_LEN(want); f++) {
        size_t start = k;
        while (k < l && a[k] != ':')
            k++;
        if (k == l || k == start)
            return -1;
        if (want[f] && (k - start != strlen(want[f]) || memcmp(a + start, want[f], k - start)))
            return -1;
        if (f == 4) /* the account: digits */
            for (size_t d = start; d < k; d++)
                if (a[d] < '0' || a[d] > '9')
                    return -1;
        k++;
    }
    *off = k;
    return 0;
}

/* The index of name in the rule's names, added if new. */
static size_t intern(owl_crule *r, const char *name, size_t l)
{
    for (size_t k = 0; k < r->nnames; k++)
        if (strlen(r->names[k]) == l && !memcmp(r->names[k], name, l))
            return k;
    char *dst = r->pool + r->used;
    memcpy(dst, name, l);
    dst[l] = '\0';
    r->used += l + 1;
    r->names[r->nnames] = dst;
    return r->nnames++;
}

/* alarm: a bare or quoted alarm name or ARN; stores its name's index in *name. */
static int parse_alarm(parser *p, size_t *name)
{
    skip_ws(p);
    size_t at = p->i, from, to;
    if (++p->nrefs > OWL_CRULE_REFS_MAX)
        return perr(p, at, "the rule references more than %d alarms", OWL_CRULE_REFS_MAX);
    if (at < p->n && p->s[at] == '"') {
        const char *q = memchr(p->s + at + 1, '"', p->n - at - 1);
        if (!q)
            return perr(p, at, "the quoted alarm name is not closed");
        from = at + 1, to = (size_t)(q - p->s);
        p->i = to + 1;
    } else {
        while (p->i < p->n && (unsigned char)p->s[p->i] >= 0x20 && p->s[p->i] != 0x7f &&
               !is_space(p->s[p->i]) && !strchr("()\"", p->s[p->i]))
            p->i++;
        if (p->i == at)
            return expected(p, "an alarm name or ARN");
        from = at, to = p->i;
    }
    const char *a = p->s + from;
    size_t l = to - from, off = 0;
    if (l >= 4 && !memcmp(a, "arn:", 4) && arn_name(a, l, &off) < 0)
        return perr(p, at, "malformed alarm ARN, expected "
                           "arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME");
    a += off, l -= off;
    if (l == 0)
        return perr(p, at, "the alarm name is empty");
    if (charpos(a, l) - 1 > OWL_CRULE_NAME_MAX)
        return perr(p, at, "the alarm name is longer than %d characters", OWL_CRULE_NAME_MAX);
    *name = intern(p->r, a, l);
    return OWL_OK;
}

static int parse_or(parser *p);
static int parse_chain(parser *p, enum kind k);

/* state "(" alarm ")", the state's word already consumed. */
static int parse_state(parser *p, int state, const char *word)
{
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != '(') {
        char what[40];
        snprintf(what, sizeof what, "'(' after %s", word);
        expected(p, what);
        return -1;
    }
    p->i++;
    size_t name = 0;
    if (parse_alarm(p, &name) != OWL_OK)
        return -1;
    int spaced = p->i < p->n && is_space(p->s[p->i]);
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != ')') {
        expected(p, spaced && p->i < p->n ? "')' after the alarm name (quote names with spaces)"
                                          : "')' after the alarm name");
        return -1;
    }
    p->i++;
    int nd = new_node(p, K_STATE);
    if (nd >= 0) {
        p->r->nodes[nd].state = state;
        p->r->nodes[nd].name = name;
    }
    return nd;
}

/* A word where an operand should be that is none of ours. */
static void bad_word(parser *p, size_t l)
{
    size_t j = p->i + l;
    while (j < p->n && is_space(p->s[j]))
        j++;
    if (wrong_case(p) != OWL_OK)
        return;
    if (j < p->n && p->s[j] == '(')
        perr(p, p->i, "unknown function '%.*s', expected ALARM, OK or INSUFFICIENT_DATA",
             (int)(l > 40 ? 40 : l), p->s + p->i);
    else
        expected(p, EXPECT_OPERAND);
}

/* primary: "(" or ")" | TRUE | FALSE | state "(" alarm ")" */
static int parse_primary(parser *p)
{
    skip_ws(p);
    size_t at = p->i;
    if (at < p->n && p->s[at] == '(') {
        if (enter(p, at) != OWL_OK)
            return -1;
        p->i++;
        int nd = parse_or(p);
        if (nd < 0)
            return -1;
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != ')') {
            expected_kw(p, "AND, OR or ')'");
            return -1;
        }
        p->i++;
        p->depth--;
        return nd;
    }
    size_t l = word_len(p);
    for (size_t k = 0; l > 0 && k < OWL_ARRAY_LEN(words); k++) {
        if (strlen(words[k].word) != l || memcmp(p->s + at, words[k].word, l))
            continue;
        p->i += l;
        if (words[k].kind == K_STATE)
            return parse_state(p, words[k].state, words[k].word);
        return new_node(p, words[k].kind);
    }
    if (l > 0)
        bad_word(p, l);
    else
        expected(p, EXPECT_OPERAND);
    return -1;
}

/* not: "NOT" not | primary */
static int parse_not(parser *p)
{
    skip_ws(p);
    size_t at = p->i;
    if (!take(p, "NOT"))
        return parse_primary(p);
    if (enter(p, at) != OWL_OK)
        return -1;
    int kid = parse_not(p);
    p->depth--;
    int nd = kid >= 0 ? new_node(p, K_NOT) : -1;
    if (nd >= 0)
        p->r->nodes[nd].kid = kid;
    return nd;
}

/* An operand of a K_AND chain is a not, one of a K_OR chain is an AND chain. */
static int parse_operand(parser *p, enum kind k)
{
    return k == K_AND ? parse_not(p) : parse_chain(p, K_AND);
}

/* A chain of operands joined by K_AND's or K_OR's keyword; one operand alone is returned as
 * it is. A chain is one n-ary node, so long chains do not deepen the tree. */
static int parse_chain(parser *p, enum kind k)
{
    const char *op = k == K_AND ? "AND" : "OR";
    int first = parse_operand(p, k);
    if (first < 0 || !take(p, op))
        return first;
    int chain = new_node(p, k), last = first;
    if (chain < 0)
        return -1;
    p->r->nodes[chain].kid = first;
    do {
        int next = parse_operand(p, k);
        if (next < 0)
            return -1;
        p->r->nodes[last].next = next;
        last = next;
    } while (take(p, op));
    return chain;
}

static int parse_or(parser *p)
{
    return parse_chain(p, K_OR);
}

/* Fails at the first character past OWL_CRULE_TEXT_MAX; sets p->n to the byte length. */
static int check_length(parser *p)
{
    size_t chars = 0, b = 0;
    for (; p->s[b]; b++) {
        if (((unsigned char)p->s[b] & 0xC0) == 0x80)
            continue;
        if (++chars > OWL_CRULE_TEXT_MAX)
            return perr(p, b, "the rule is longer than %d characters", OWL_CRULE_TEXT_MAX);
    }
    p->n = b;
    return OWL_OK;
}

void owl_crule_free(owl_crule *r)
{
    if (!r)
        return;
    free(r->nodes);
    free(r->names);
    free(r->pool);
    free(r);
}

int owl_crule_parse(const char *text, owl_crule **out, owl_error *err)
{
    if (out)
        *out = NULL;
    if (!text || !out)
        return owl_error_set(err, OWL_EINVAL, "no rule text or no place for the rule");
    parser p = {.s = text, .err = err, .rc = OWL_OK};
    if (check_length(&p) != OWL_OK)
        return p.rc;
    owl_crule *r = p.r = calloc(1, sizeof *r);
    if (!r)
        return nomem(&p);
    /* every node takes at least two characters ("OR" for a chain, "NOT", "TRUE", "OK(a)") */
    r->cap = (int)(p.n / 2 + 2);
    r->nodes = malloc((size_t)r->cap * sizeof *r->nodes);
    r->names = calloc(OWL_CRULE_REFS_MAX, sizeof *r->names);
    r->pool = malloc(p.n + OWL_CRULE_REFS_MAX + 1); /* names are pieces of the text */
    if (!r->nodes || !r->names || !r->pool) {
        nomem(&p);
        goto out;
    }
    r->root = parse_or(&p);
    if (r->root >= 0) {
        skip_ws(&p);
        if (p.i < p.n)
            expected_kw(&p, "AND, OR or the end of the rule");
    }
out:
    if (p.rc != OWL_OK) {
        owl_crule_free(r);
        return p.rc;
    }
    *out = r;
    return OWL_OK;
}

/* ---- questions about a parsed rule ---- */

size_t owl_crule_refs(const owl_crule *r, const char ***names)
{
    if (names)
        *names = r ? r->names : NULL;
    return r ? r->nnames : 0;
}

int owl_crule_refers(const owl_crule *r, const char *name)
{
    for (size_t k = 0; r && name && k < r->nnames; k++)
        if (!strcmp(r->names[k], name))
            return 1;
    return 0;
}

static int truth(const owl_crule *r, int i, int (*state_of)(void *, const char *), void *ud)
{
    const node *nd = &r->nodes[i];
    switch (nd->kind) {
    case K_TRUE:
        return 1;
    case K_FALSE:
        return 0;
    case K_STATE: {
        int s = state_of ? state_of(ud, r->names[nd->name]) : OWL_CRULE_UNKNOWN;
        if (s != OWL_CRULE_OK && s != OWL_CRULE_ALARM)
            s = OWL_CRULE_INSUFFICIENT_DATA;
        return s == nd->state;
    }
    case K_NOT:
        return !truth(r, nd->kid, state_of, ud);
    case K_AND:
    case K_OR:
        /* AND is decided by the first false operand, OR by the first true one */
        for (int k = nd->kid; k >= 0; k = r->nodes[k].next)
            if (truth(r, k, state_of, ud) == (nd->kind == K_OR))
                return nd->kind == K_OR;
        return nd->kind == K_AND;
    }
    return 0;
}

int owl_crule_eval(const owl_crule *r, int (*state_of)(void *ud, const char *name), void *ud)
{
    return r ? truth(r, r->root, state_of, ud) : 0;
}

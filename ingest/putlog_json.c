/* putlog_json.c — PutLogEvents bodies (AWS JSON 1.1) read in one pass into owl_log_events,
 * with no document in between: a message without an escape points into the body, one with
 * escapes is unescaped into the result's scratch buffer.
 *
 * It accepts only bodies that the general path (owl_aws_json_decode, then server/logs.c's
 * walk of the document) reads without an error, and reads from them the same group, stream
 * and events. Anything else — bad JSON, a field name given twice at any depth, a wrong type,
 * null, a missing field, a timestamp that is not an integer, nesting over OWL_AWS_MAX_DEPTH,
 * an object with more than MAX_NAMES field names besides the known ones — is OWL_EUNSUPPORTED,
 * and the caller runs the general path, which answers it. Strings follow aws_json.c's rules:
 * RFC 8259's escapes with surrogate pairs, no control character, the decoded bytes valid UTF-8
 * without NUL. tests/fuzz/fuzz_putlog_json.c checks the equivalence. */
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "ingest/aws_int.h"

#define FALLBACK OWL_EUNSUPPORTED
#define MAX_NAMES 16 /* field names compared for repeats in one object; more: the general path */

typedef struct rd {
    const char *s, *end;
    char *out; /* next free byte of the scratch buffer */
    size_t cap; /* events the array holds */
    owl_putlog *pl;
} rd;

typedef struct name {
    const char *p;
    size_t n;
} name;

/* The field names of one object not caught by a bit of `seen`, to find one given twice. */
typedef struct names {
    name v[MAX_NAMES];
    size_t n;
} names;

static void ws(rd *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\n' || *r->s == '\r' || *r->s == '\t'))
        r->s++;
}

/* After white space, the byte c (consumed): 1, or 0 (nothing consumed). */
static int lit(rd *r, char c)
{
    ws(r);
    if (r->s < r->end && *r->s == c) {
        r->s++;
        return 1;
    }
    return 0;
}

/* The escape after a backslash (r->s past it), written at o; the end of what it wrote, or
 * NULL for an escape the decoder refuses. */
static char *escape(rd *r, char *o)
{
    unsigned cp;
    if (owl_json_escape(&r->s, r->end, &cp) != OWL_JSON_ESC_OK)
        return NULL;
    return o + owl_utf8_put(o, cp);
}

/* The string at r->s (after white space) decoded: *p, *n point into the body when it holds
 * no escape and nul is 0, else into the scratch buffer (NUL-terminated when nul is 1).
 * The decoded bytes take no more room than the encoded ones with their quotes, so the
 * scratch buffer, as large as the body, always has room. */
static int string(rd *r, int nul, const char **p, size_t *n)
{
    if (!lit(r, '"'))
        return FALLBACK;
    int high = 0;
    const char *run = r->s, *stop = owl_json_str_run(run, r->end, &high);
    if (stop < r->end && *stop == '"' && !nul) { /* the common case: no copy */
        r->s = stop + 1;
        if (high && !owl_utf8_valid(run, (size_t)(stop - run)))
            return FALLBACK;
        *p = run, *n = (size_t)(stop - run);
        return OWL_OK;
    }
    char *start = r->out, *o = start;
    for (;;) {
        memcpy(o, run, (size_t)(stop - run));
        o += stop - run;
        if (stop >= r->end || *stop != '\\') /* the end, or a control character */
            break;
        r->s = stop + 1;
        if (!(o = escape(r, o)))
            return FALLBACK;
        run = r->s;
        stop = owl_json_str_run(run, r->end, &high);
    }
    if (stop >= r->end || *stop != '"')
        return FALLBACK;
    r->s = stop + 1;
    if (!owl_utf8_valid(start, (size_t)(o - start)))
        return FALLBACK;
    *p = start, *n = (size_t)(o - start);
    if (nul)
        *o++ = '\0';
    r->out = o;
    return OWL_OK;
}

/* A field name and its colon: *bit the one of known[] (NULL-terminated, or NULL) it names,
 * 0 when none; the unknown ones are kept in *other to catch a repeat. */
static int field(rd *r, const char *const *known, int *bit, names *other)
{
    const char *p;
    size_t n;
    int rc = string(r, 0, &p, &n);
    if (rc != OWL_OK)
        return rc;
    if (n > OWL_AWS_MAX_KEY || !lit(r, ':'))
        return FALLBACK;
    *bit = 0;
    for (int i = 0; known && known[i]; i++)
        if (strlen(known[i]) == n && memcmp(known[i], p, n) == 0) {
            *bit = 1 << i;
            return OWL_OK;
        }
    if (other->n == MAX_NAMES)
        return FALLBACK;
    for (size_t i = 0; i < other->n; i++)
        if (other->v[i].n == n && memcmp(other->v[i].p, p, n) == 0)
            return FALLBACK;
    other->v[other->n++] = (name){p, n};
    return OWL_OK;
}

static int word(rd *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->s) < n || memcmp(r->s, w, n) != 0)
        return FALLBACK;
    r->s += n;
    return OWL_OK;
}

/* A JSON number as the decoder reads it: *is_int, *v (integers in int64 range). */
static int number(rd *r, int *is_int, int64_t *v)
{
    owl__json_num x;
    size_t used;
    ws(r);
    if (owl__json_number(r->s, (size_t)(r->end - r->s), &used, &x))
        return FALLBACK;
    r->s += used;
    *is_int = x.is_int;
    *v = x.i;
    return OWL_OK;
}

/* Any JSON value, checked as the decoder checks it and dropped; depth is that of the
 * object or array holding it (the decoder's rule: a container inside one at depth
 * OWL_AWS_MAX_DEPTH is too deep). */
static int skip(rd *r, int depth)
{
    const char *p;
    size_t n;
    int is_int, rc, bit;
    int64_t v;
    ws(r);
    if (r->s >= r->end)
        return FALLBACK;
    switch (*r->s) {
    case '{': {
        names other = {.n = 0};
        if (depth >= OWL_AWS_MAX_DEPTH)
            return FALLBACK;
        r->s++;
        if (lit(r, '}'))
            return OWL_OK;
        do {
            if ((rc = field(r, NULL, &bit, &other)) != OWL_OK ||
                (rc = skip(r, depth + 1)) != OWL_OK)
                return rc;
        } while (lit(r, ','));
        return lit(r, '}') ? OWL_OK : FALLBACK;
    }
    case '[':
        if (depth >= OWL_AWS_MAX_DEPTH)
            return FALLBACK;
        r->s++;
        if (lit(r, ']'))
            return OWL_OK;
        do
            if ((rc = skip(r, depth + 1)) != OWL_OK)
                return rc;
        while (lit(r, ','));
        return lit(r, ']') ? OWL_OK : FALLBACK;
    case '"':
        return string(r, 0, &p, &n);
    case 't':
        return word(r, "true");
    case 'f':
        return word(r, "false");
    case 'n':
        return word(r, "null");
    default:
        return number(r, &is_int, &v);
    }
}

enum { E_TIMESTAMP = 1, E_MESSAGE = 2 };

/* One member of logEvents (an object at depth 3): appended to the events. */
static int event(rd *r)
{
    static const char *const known[] = {"timestamp", "message", NULL};
    owl_putlog *pl = r->pl;
    names other = {.n = 0};
    int seen = 0, bit, is_int, rc;
    const char *msg = NULL;
    size_t mlen = 0;
    int64_t ts = 0;
    if (!lit(r, '{') || lit(r, '}'))
        return FALLBACK; /* an empty event has neither: the general path's error */
    do {
        if ((rc = field(r, known, &bit, &other)) != OWL_OK || (seen & bit))
            return FALLBACK;
        seen |= bit;
        if (bit == E_TIMESTAMP)
            rc = number(r, &is_int, &ts) == OWL_OK && is_int ? OWL_OK : FALLBACK;
        else if (bit == E_MESSAGE)
            rc = string(r, 0, &msg, &mlen);
        else
            rc = skip(r, 3);
        if (rc != OWL_OK)
            return rc;
    } while (lit(r, ','));
    if (!lit(r, '}') || seen != (E_TIMESTAMP | E_MESSAGE))
        return FALLBACK;
    if (pl->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        owl_log_event *ev = realloc(pl->ev, cap * sizeof *ev);
        if (!ev)
            return OWL_ENOMEM;
        pl->ev = ev, r->cap = cap;
    }
    pl->ev[pl->n++] = (owl_log_event){.time_ms = ts, .message = {msg, mlen}};
    return OWL_OK;
}

/* logEvents' array (depth 2) after its field name. */
static int events(rd *r)
{
    int rc;
    if (!lit(r, '['))
        return FALLBACK;
    if (lit(r, ']'))
        return OWL_OK;
    do
        if ((rc = event(r)) != OWL_OK)
            return rc;
    while (lit(r, ','));
    return lit(r, ']') ? OWL_OK : FALLBACK;
}

enum { T_GROUP = 1, T_STREAM = 2, T_EVENTS = 4, T_TOKEN = 8 };

static int body(rd *r)
{
    static const char *const known[] = {"logGroupName", "logStreamName", "logEvents",
                                        "sequenceToken", NULL};
    owl_putlog *pl = r->pl;
    names other = {.n = 0};
    int seen = 0, bit, rc;
    size_t n;
    if (!lit(r, '{') || lit(r, '}'))
        return FALLBACK;
    do {
        if ((rc = field(r, known, &bit, &other)) != OWL_OK || (seen & bit))
            return FALLBACK;
        seen |= bit;
        switch (bit) {
        case T_GROUP:
            rc = string(r, 1, &pl->group, &n);
            break;
        case T_STREAM:
            rc = string(r, 1, &pl->stream, &n);
            break;
        case T_TOKEN:
            rc = string(r, 1, &pl->token, &n);
            break;
        case T_EVENTS:
            rc = events(r);
            break;
        default:
            rc = skip(r, 1);
        }
        if (rc != OWL_OK)
            return rc;
    } while (lit(r, ','));
    if (!lit(r, '}') || (seen & (T_GROUP | T_STREAM | T_EVENTS)) != (T_GROUP | T_STREAM | T_EVENTS))
        return FALLBACK;
    ws(r);
    return r->s == r->end ? OWL_OK : FALLBACK;
}

int owl_putlog_parse(const char *s, size_t len, owl_putlog *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !len)
        return FALLBACK;
    if (!(out->scratch = malloc(len)))
        return OWL_ENOMEM;
    rd r = {.s = s, .end = s + len, .out = out->scratch, .pl = out};
    int rc = body(&r);
    if (rc != OWL_OK)
        owl_putlog_free(out);
    return rc;
}

void owl_putlog_free(owl_putlog *pl)
{
    if (!pl)
        return;
    free(pl->ev);
    free(pl->scratch);
    memset(pl, 0, sizeof *pl);
}

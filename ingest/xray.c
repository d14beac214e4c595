/* xray.c — X-Ray segment documents (PutTraceSegments bodies, daemon datagrams) turned into
 * owl_span records as docs/api/xray-ingest.md describes: a segment and each subsegment nested
 * in it become one record each. Invariant: a document is either kept whole (every node one
 * record, parents before their subsegments) or refused whole (one unprocessed entry and no
 * record), and every kept record holds the invariants of ingest.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"
#include "ingest/span_int.h"

#define DEFAULT_SERVICE "unknown_service"
#define MAX_NAME 200                /* characters of a name (X-Ray's limit) */
#define MAX_EPOCH_S 9223372036.0    /* int64 nanoseconds end in 2262 */
#define REFUSED 1                   /* a node's rule broken: the document is refused */

/* The ErrorCode of each refusal, X-Ray's "MissingId" naming for the others too. */
#define XRAY_CODES                                                                            \
    X(MALFORMED, "MalformedDocument")                                                         \
    X(TOO_LARGE, "DocumentTooLarge")                                                          \
    X(MISSING_ID, "MissingId")                                                                \
    X(INVALID_ID, "InvalidId")                                                                \
    X(MISSING_TRACE, "MissingTraceId")                                                        \
    X(INVALID_TRACE, "InvalidTraceId")                                                        \
    X(MISSING_NAME, "MissingName")                                                            \
    X(INVALID_NAME, "InvalidName")                                                            \
    X(MISSING_START, "MissingStartTime")                                                      \
    X(INVALID_START, "InvalidStartTime")                                                      \
    X(MISSING_END, "MissingEndTime")                                                          \
    X(INVALID_END, "InvalidEndTime")                                                          \
    X(MISSING_PARENT, "MissingParentId")                                                      \
    X(INVALID_PARENT, "InvalidParentId")                                                      \
    X(INVALID_FIELD, "InvalidField")

enum code {
#define X(c, s) C_##c,
    XRAY_CODES
#undef X
};

static const char *const code_names[] = {
#define X(c, s) s,
    XRAY_CODES
#undef X
};

/* Members mapped to fields of the record, or structure: left out of attrs. */
static const char *const not_attrs[] = {"id",       "name",        "trace_id",   "parent_id",
                                        "start_time", "end_time", "in_progress", "subsegments",
                                        NULL};

/* The status flags of X-Ray, as status_code holds them. */
enum { F_ERROR = 1, F_THROTTLE = 2, F_FAULT = 4 };

typedef struct walk {
    owl_xray_decoded *x;
    owl_span_decoded *d;
    uint8_t trace[16];
    const char *service;   /* the segment's service: its subsegments' */
    size_t service_len;
    enum code code;        /* the refusal, when a node returned REFUSED */
    char why[200];
    owl_buf path;          /* where the node being read is ("subsegments[1].") */
    char where[48];        /* the object being read inside it ("http.request.") */
} walk;

static int fail(walk *w, enum code c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(walk *w, enum code c, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    w->code = c;
    /* the path first (a deep one may take the whole message), then the member and the fault */
    const char *parts[] = {w->path.data ? w->path.data : "", w->where, what};
    size_t lens[] = {w->path.len, strlen(w->where), strlen(what)}, k = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t m = lens[i] < sizeof w->why - 1 - k ? lens[i] : sizeof w->why - 1 - k;
        memcpy(w->why + k, parts[i], m);
        k += m;
    }
    w->why[k] = '\0';
    return REFUSED;
}

/* ---- reading members ---- */

/* 1 and *it on key when doc holds it (null counts as absent), else 0. */
static int member(const bson_t *doc, const char *key, bson_iter_t *it)
{
    return bson_iter_init_find(it, doc, key) && !BSON_ITER_HOLDS_NULL(it);
}

static int is_number(const bson_iter_t *it)
{
    return BSON_ITER_HOLDS_DOUBLE(it) || BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it);
}

/* A string member: OWL_OK with *s (NULL when absent), or REFUSED for another type. */
static int str_member(walk *w, const bson_t *doc, const char *key, const char **s,
                      uint32_t *len)
{
    bson_iter_t it;
    *s = NULL;
    *len = 0;
    if (!member(doc, key, &it))
        return OWL_OK;
    if (!BSON_ITER_HOLDS_UTF8(&it))
        return fail(w, C_INVALID_FIELD, "%s is not a string", key);
    *s = bson_iter_utf8(&it, len);
    return OWL_OK;
}

static int bool_member(walk *w, const bson_t *doc, const char *key, int *out)
{
    bson_iter_t it;
    *out = 0;
    if (!member(doc, key, &it))
        return OWL_OK;
    if (!BSON_ITER_HOLDS_BOOL(&it))
        return fail(w, C_INVALID_FIELD, "%s is not a boolean", key);
    *out = bson_iter_bool(&it);
    return OWL_OK;
}

/* A sub-document member of the given BSON type (document or array): OWL_OK with *sub
 * (empty when absent) or REFUSED. */
static int doc_member(walk *w, const bson_t *doc, const char *key, bson_type_t type,
                      bson_t *sub)
{
    bson_iter_t it;
    const uint8_t *data;
    uint32_t len;
    bson_init(sub);
    if (!member(doc, key, &it))
        return OWL_OK;
    if (bson_iter_type(&it) != type)
        return fail(w, C_INVALID_FIELD, "%s is not %s", key,
                    type == BSON_TYPE_DOCUMENT ? "an object" : "an array");
    if (type == BSON_TYPE_DOCUMENT)
        bson_iter_document(&it, &len, &data);
    else
        bson_iter_array(&it, &len, &data);
    bson_destroy(sub);
    if (!bson_init_static(sub, data, len))
        return fail(w, C_MALFORMED, "%s is damaged", key);
    return OWL_OK;
}

/* Epoch seconds (a number, fractions kept to the double's precision) as Unix ns > 0. */
static int epoch_ns(const bson_iter_t *it, int64_t *ns)
{
    double t = BSON_ITER_HOLDS_DOUBLE(it) ? bson_iter_double(it) : (double)bson_iter_as_int64(it);
    if (!(t > 0) || !(t < MAX_EPOCH_S))
        return -1;
    double s = floor(t);
    *ns = (int64_t)s * 1000000000 + (int64_t)llround((t - s) * 1e9);
    return *ns > 0 ? 0 : -1;
}

static int span_id(walk *w, const char *s, uint32_t n, const char *key, enum code c,
                   uint8_t out[8])
{
    owl_error e = {0};
    if (owl_traceid_span_from_hex(s, n, out, &e) != OWL_OK)
        return fail(w, c, "%s: %s", key, e.msg);
    return OWL_OK;
}

/* ---- the rules of each member ---- */

/* name: a non-empty string of at most 200 characters. */
static int check_name(walk *w, const bson_t *doc, const char **name, uint32_t *len)
{
    size_t chars = 0;
    int rc = str_member(w, doc, "name", name, len);
    if (rc == REFUSED)
        return fail(w, C_INVALID_NAME, "name is not a string");
    if (!*name || !*len)
        return fail(w, C_MISSING_NAME, "no name");
    for (uint32_t i = 0; i < *len; i++)
        chars += ((unsigned char)(*name)[i] & 0xc0) != 0x80;
    if (chars > MAX_NAME)
        return fail(w, C_INVALID_NAME, "name of %zu characters (at most %d)", chars, MAX_NAME);
    return OWL_OK;
}

static int check_times(walk *w, const bson_t *doc, owl_span *o)
{
    bson_iter_t it;
    int64_t end;
    int rc = bool_member(w, doc, "in_progress", &o->in_progress);
    if (rc)
        return rc;
    if (!member(doc, "start_time", &it))
        return fail(w, C_MISSING_START, "no start_time");
    if (!is_number(&it) || epoch_ns(&it, &o->start_ns) != 0)
        return fail(w, C_INVALID_START, "start_time is not epoch seconds between 1970 and 2262");
    if (!member(doc, "end_time", &it)) {
        if (!o->in_progress)
            return fail(w, C_MISSING_END, "no end_time and not in_progress");
        return OWL_OK;
    }
    if (o->in_progress)
        return fail(w, C_INVALID_END, "end_time given with in_progress true");
    if (!is_number(&it) || epoch_ns(&it, &end) != 0)
        return fail(w, C_INVALID_END, "end_time is not epoch seconds between 1970 and 2262");
    if (end < o->start_ns)
        return fail(w, C_INVALID_END, "end_time %lld ns before start_time",
                    (long long)(o->start_ns - end));
    o->duration_ns = end - o->start_ns;
    return OWL_OK;
}

/* error / throttle / fault: booleans; the status they give wins over the HTTP status (X-Ray
 * reports its flags as sent): fault, then throttle, then error. Without any, the HTTP status
 * decides by the rule every decoder shares. */
static int check_flags(walk *w, const bson_t *doc, owl_span *o)
{
    int e, t, f, rc;
    if ((rc = bool_member(w, doc, "error", &e)) || (rc = bool_member(w, doc, "throttle", &t)) ||
        (rc = bool_member(w, doc, "fault", &f)))
        return rc;
    o->status_code = (e ? F_ERROR : 0) | (t ? F_THROTTLE : 0) | (f ? F_FAULT : 0);
    o->status = f ? OWL_SPAN_FAULT
              : t ? OWL_SPAN_THROTTLE
              : e ? OWL_SPAN_ERROR
                  : owl_span_status_of(0, o->http_status);
    return OWL_OK;
}

static int view(walk *w, const char *s, uint32_t n, owl_bytes *out)
{
    void *p = owl_arena_copy(&w->d->arena, n ? s : "", n);
    if (!p)
        return OWL_ENOMEM;
    *out = (owl_bytes){p, n};
    return OWL_OK;
}

/* A string member of sub copied to *out (absent: empty). */
static int str_field(walk *w, const bson_t *sub, const char *key, owl_bytes *out)
{
    const char *s;
    uint32_t n;
    int rc = str_member(w, sub, key, &s, &n);
    *out = (owl_bytes){NULL, 0};
    if (rc || !s || !n)
        return rc;
    return view(w, s, n, out);
}

/* http {request {method, url, user_agent, client_ip}, response {status, content_length}};
 * the route is the URL's path, as for OTLP spans that name no route. */
static int check_http(walk *w, const bson_t *doc, owl_span *o)
{
    bson_t http, req, resp;
    bson_iter_t it;
    int rc;
    if ((rc = doc_member(w, doc, "http", BSON_TYPE_DOCUMENT, &http)))
        return rc;
    snprintf(w->where, sizeof w->where, "http.");
    if ((rc = doc_member(w, &http, "request", BSON_TYPE_DOCUMENT, &req)) ||
        (rc = doc_member(w, &http, "response", BSON_TYPE_DOCUMENT, &resp)))
        return rc;
    snprintf(w->where, sizeof w->where, "http.request.");
    if ((rc = str_field(w, &req, "method", &o->http_method)) ||
        (rc = str_field(w, &req, "url", &o->url)) ||
        (rc = str_field(w, &req, "user_agent", &o->user_agent)) ||
        (rc = str_field(w, &req, "client_ip", &o->client_ip)))
        return rc;
    snprintf(w->where, sizeof w->where, "http.response.");
    if (member(&resp, "status", &it)) {
        if (!is_number(&it))
            return fail(w, C_INVALID_FIELD, "status is not a number");
        double v = BSON_ITER_HOLDS_DOUBLE(&it) ? bson_iter_double(&it)
                                               : (double)bson_iter_as_int64(&it);
        o->http_status = v >= 100 && v <= 599 && v == floor(v) ? (int)v : 0;
    }
    if (member(&resp, "content_length", &it) && !is_number(&it))
        return fail(w, C_INVALID_FIELD, "content_length is not a number");
    w->where[0] = '\0';
    size_t len = 0;
    const char *path = o->url.n ? owl_span_url_path(o->url.p, o->url.n, &len) : NULL;
    return path && len ? view(w, path, (uint32_t)len, &o->route) : OWL_OK;
}

/* annotations: an object of string, number and boolean values (X-Ray indexes nothing else). */
static int check_annotations(walk *w, const bson_t *doc)
{
    bson_t a;
    bson_iter_t it;
    int rc = doc_member(w, doc, "annotations", BSON_TYPE_DOCUMENT, &a);
    if (rc || !bson_iter_init(&it, &a))
        return rc;
    while (bson_iter_next(&it)) {
        if (!bson_iter_key_len(&it))
            return fail(w, C_INVALID_FIELD, "an annotation with an empty key");
        if (!BSON_ITER_HOLDS_UTF8(&it) && !is_number(&it) && !BSON_ITER_HOLDS_BOOL(&it))
            return fail(w, C_INVALID_FIELD,
                        "annotation \"%.64s\" is not a string, number or boolean",
                        bson_iter_key(&it));
    }
    return OWL_OK;
}

/* Each element of array arr is a document (what: its name in the message). */
static int all_docs(walk *w, const bson_t *arr, const char *what)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, arr))
        return OWL_OK;
    while (bson_iter_next(&it))
        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            return fail(w, C_INVALID_FIELD, "%s[%s] is not an object", what, bson_iter_key(&it));
    return OWL_OK;
}

/* cause: an exception id (a string) or {working_directory, paths, exceptions: [{id, message,
 * type, remote, truncated, skipped, cause, stack: [{path, line, label}]}]}. The first
 * exception's message is the record's status message. */
static int check_cause(walk *w, const bson_t *doc, owl_span *o)
{
    bson_iter_t it, ex;
    bson_t cause, list, e, stack;
    const char *s;
    uint32_t n;
    int rc;
    if (!member(doc, "cause", &it))
        return OWL_OK;
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        bson_iter_utf8(&it, &n);
        return n ? OWL_OK : fail(w, C_INVALID_FIELD, "cause is an empty string");
    }
    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
        return fail(w, C_INVALID_FIELD, "cause is neither an exception id nor an object");
    if ((rc = doc_member(w, doc, "cause", BSON_TYPE_DOCUMENT, &cause)))
        return rc;
    snprintf(w->where, sizeof w->where, "cause.");
    if ((rc = str_member(w, &cause, "working_directory", &s, &n)) ||
        (rc = doc_member(w, &cause, "exceptions", BSON_TYPE_ARRAY, &list)) ||
        (rc = all_docs(w, &list, "exceptions")) || !bson_iter_init(&ex, &list))
        return rc;
    for (size_t i = 0; bson_iter_next(&ex); i++) {
        const uint8_t *data;
        const char *msg;
        uint32_t mlen;
        snprintf(w->where, sizeof w->where, "cause.exceptions[%zu].", i);
        bson_iter_document(&ex, &n, &data);
        if (!bson_init_static(&e, data, n))
            return fail(w, C_MALFORMED, "damaged");
        if ((rc = str_member(w, &e, "message", &msg, &mlen)) ||
            (rc = str_member(w, &e, "type", &s, &n)) || (rc = str_member(w, &e, "id", &s, &n)) ||
            (rc = doc_member(w, &e, "stack", BSON_TYPE_ARRAY, &stack)) ||
            (rc = all_docs(w, &stack, "stack")))
            return rc;
        if (msg && mlen && !o->status_message.n && (rc = view(w, msg, mlen, &o->status_message)))
            return rc;
    }
    w->where[0] = '\0';
    return OWL_OK;
}

/* The members whose type X-Ray fixes and owl does not otherwise read. */
static int check_others(walk *w, const bson_t *doc)
{
    static const struct {
        const char *key;
        bson_type_t type;
    } typed[] = {
        {"aws", BSON_TYPE_DOCUMENT},     {"sql", BSON_TYPE_DOCUMENT},
        {"metadata", BSON_TYPE_DOCUMENT}, {"service", BSON_TYPE_DOCUMENT},
        {"user", BSON_TYPE_UTF8},        {"origin", BSON_TYPE_UTF8},
        {"resource_arn", BSON_TYPE_UTF8}, {"precursor_ids", BSON_TYPE_ARRAY},
    };
    static const char *const type_names[] = {[BSON_TYPE_DOCUMENT] = "an object",
                                             [BSON_TYPE_UTF8] = "a string",
                                             [BSON_TYPE_ARRAY] = "an array"};
    bson_iter_t it, el;
    for (size_t i = 0; i < sizeof typed / sizeof *typed; i++)
        if (member(doc, typed[i].key, &it) && bson_iter_type(&it) != typed[i].type)
            return fail(w, C_INVALID_FIELD, "%s is not %s", typed[i].key,
                        type_names[typed[i].type]);
    if (member(doc, "precursor_ids", &it) && bson_iter_recurse(&it, &el))
        while (bson_iter_next(&el))
            if (!BSON_ITER_HOLDS_UTF8(&el))
                return fail(w, C_INVALID_FIELD, "precursor_ids holds a non-string");
    return OWL_OK;
}

/* attrs: every member of the node but its ids, name, times and subsegments, as sent. */
static int attrs_of(walk *w, const bson_t *doc, owl_bytes *out)
{
    bson_t a = BSON_INITIALIZER;
    bson_iter_t it;
    int rc = OWL_OK;
    *out = (owl_bytes){NULL, 0};
    if (bson_iter_init(&it, doc))
        while (rc == OWL_OK && bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            size_t j = 0;
            while (not_attrs[j] && strcmp(not_attrs[j], k) != 0)
                j++;
            if (!not_attrs[j] && !bson_append_iter(&a, k, (int)bson_iter_key_len(&it), &it))
                rc = OWL_ENOMEM;
        }
    if (rc == OWL_OK && !bson_empty(&a)) {
        void *p = owl_arena_copy(&w->d->arena, bson_get_data(&a), a.len);
        if (p)
            *out = (owl_bytes){p, a.len};
        else
            rc = OWL_ENOMEM;
    }
    bson_destroy(&a);
    return rc;
}

/* ---- the walk of a document ---- */

enum role { SEGMENT, INDEPENDENT, NESTED };

/* namespace: absent, "aws" or "remote" (a call out: a client span), or "local" (work inside
 * the service: what the Python SDK writes on every plain subsegment); anything else is
 * refused, as the OpenTelemetry collector's X-Ray receiver refuses it. */
static int namespace_of(walk *w, const bson_t *doc, int *remote)
{
    const char *ns;
    uint32_t n;
    int rc = str_member(w, doc, "namespace", &ns, &n);
    *remote = 0;
    if (rc || !ns)
        return rc;
    if ((n == 3 && memcmp(ns, "aws", 3) == 0) || (n == 6 && memcmp(ns, "remote", 6) == 0)) {
        *remote = 1;
        return OWL_OK;
    }
    if (n == 5 && memcmp(ns, "local", 5) == 0)
        return OWL_OK;
    return fail(w, C_INVALID_FIELD, "namespace \"%.32s\" is not \"aws\", \"remote\" or \"local\"",
                ns);
}

/* The trace id of a segment or an independent subsegment; a nested subsegment may repeat its
 * segment's. */
static int trace_of(walk *w, const bson_t *doc, enum role role)
{
    const char *s;
    uint32_t n;
    uint8_t id[16];
    owl_error e = {0};
    int rc = str_member(w, doc, "trace_id", &s, &n);
    if (rc)
        return fail(w, C_INVALID_TRACE, "trace_id is not a string");
    if (!s)
        return role == NESTED ? OWL_OK : fail(w, C_MISSING_TRACE, "no trace_id");
    if (owl_traceid_from_xray(s, n, role == NESTED ? id : w->trace, &e) != OWL_OK)
        return fail(w, C_INVALID_TRACE, "trace_id: %s", e.msg);
    if (role == NESTED && memcmp(id, w->trace, 16) != 0)
        return fail(w, C_INVALID_TRACE, "trace_id differs from its segment's");
    return OWL_OK;
}

/* The parent: nesting gives a nested subsegment's; a segment may name its caller; an
 * independent subsegment must name its parent. */
static int parent_of(walk *w, const bson_t *doc, enum role role, const uint8_t *parent,
                     owl_span *o)
{
    const char *s;
    uint32_t n;
    if (role == NESTED) {
        memcpy(o->parent_id, parent, 8);
        return OWL_OK;
    }
    if (str_member(w, doc, "parent_id", &s, &n))
        return fail(w, C_INVALID_PARENT, "parent_id is not a string");
    if (!s)
        return role == INDEPENDENT ? fail(w, C_MISSING_PARENT, "a subsegment without parent_id")
                                   : OWL_OK;
    return span_id(w, s, n, "parent_id", C_INVALID_PARENT, o->parent_id);
}

/* type: absent on a segment, "subsegment" on an independent subsegment. */
static int role_of(walk *w, const bson_t *doc, enum role *role)
{
    const char *s;
    uint32_t n;
    if (str_member(w, doc, "type", &s, &n))
        return REFUSED;
    if (s && !(n == 10 && memcmp(s, "subsegment", 10) == 0))
        return fail(w, C_INVALID_FIELD, "type \"%.32s\" is not \"subsegment\"", s);
    if (*role != NESTED)
        *role = s ? INDEPENDENT : SEGMENT;
    return OWL_OK;
}

static int node(walk *w, const bson_t *doc, enum role role, const uint8_t *parent);

static int subsegments(walk *w, const bson_t *doc, const uint8_t *id)
{
    bson_t list, sub;
    bson_iter_t it;
    size_t mark = w->path.len;
    int rc = doc_member(w, doc, "subsegments", BSON_TYPE_ARRAY, &list);
    if (rc || (rc = all_docs(w, &list, "subsegments")) || !bson_iter_init(&it, &list))
        return rc;
    while (rc == OWL_OK && bson_iter_next(&it)) {
        const uint8_t *data;
        uint32_t len;
        bson_iter_document(&it, &len, &data);
        if (owl_buf_printf(&w->path, "subsegments[%s].", bson_iter_key(&it)) != OWL_OK)
            return OWL_ENOMEM;
        rc = bson_init_static(&sub, data, len) ? node(w, &sub, NESTED, id)
                                               : fail(w, C_MALFORMED, "damaged");
        w->path.len = mark;
    }
    return rc;
}

/* One segment or subsegment as the next record, then its subsegments. OWL_OK, REFUSED
 * (w->code and w->why say why) or OWL_ENOMEM. */
static int node(walk *w, const bson_t *doc, enum role role, const uint8_t *parent)
{
    owl_span *o = &w->d->spans[w->d->n];
    const char *name, *id_s, *origin;
    uint32_t name_len, id_len, origin_len;
    int remote, rc;
    memset(o, 0, sizeof *o);
    w->where[0] = '\0';
    if ((rc = str_member(w, doc, "id", &id_s, &id_len)))
        return fail(w, C_INVALID_ID, "id is not a string");
    if (!id_s)
        return fail(w, C_MISSING_ID, "no id");
    if ((rc = span_id(w, id_s, id_len, "id", C_INVALID_ID, o->span_id)) ||
        (rc = check_name(w, doc, &name, &name_len)) || (rc = role_of(w, doc, &role)) ||
        (rc = trace_of(w, doc, role)) || (rc = parent_of(w, doc, role, parent, o)) ||
        (rc = check_times(w, doc, o)) || (rc = check_http(w, doc, o)) ||
        (rc = check_flags(w, doc, o)) || (rc = namespace_of(w, doc, &remote)) ||
        (rc = check_annotations(w, doc)) || (rc = check_cause(w, doc, o)) ||
        (rc = check_others(w, doc)))
        return rc;
    memcpy(o->trace_id, w->trace, 16);
    if (role == SEGMENT) {
        w->service = name, w->service_len = name_len;
    } else if (role == INDEPENDENT) {
        /* its segment's name is not in the document: the origin (AWS::EC2::Instance ...)
         * says at least where it ran */
        str_member(w, doc, "origin", &origin, &origin_len);
        w->service = origin && origin_len ? origin : DEFAULT_SERVICE;
        w->service_len = origin && origin_len ? origin_len : strlen(DEFAULT_SERVICE);
    }
    o->kind = role == SEGMENT ? OWL_SPAN_SERVER : remote ? OWL_SPAN_CLIENT : OWL_SPAN_INTERNAL;
    if ((rc = view(w, w->service, (uint32_t)w->service_len, &o->service)) ||
        (rc = view(w, name, name_len, &o->name)) ||
        (o->kind == OWL_SPAN_CLIENT && (rc = view(w, name, name_len, &o->peer_service))) ||
        (rc = attrs_of(w, doc, &o->attrs)))
        return rc;
    w->d->n++;
    return subsegments(w, doc, o->span_id);
}

/* ---- documents and requests ---- */

/* Segments and subsegments in doc (a node and everything nested in it). */
static size_t count_nodes(const bson_t *doc)
{
    bson_iter_t it, el;
    size_t n = 1;
    if (bson_iter_init_find(&it, doc, "subsegments") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &el))
        while (bson_iter_next(&el))
            if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
                const uint8_t *data;
                uint32_t len;
                bson_t sub;
                bson_iter_document(&el, &len, &data);
                if (bson_init_static(&sub, data, len))
                    n += count_nodes(&sub);
            }
    return n;
}

/* One segment document as read, held as {"d": <the document>} so an object and an array of
 * objects are walked alike; parsed = 0 when the text is neither (err says why). */
typedef struct parsed_doc {
    bson_t doc;
    int parsed;
    size_t nodes;
    owl_error err;
} parsed_doc;

/* An array document is parsed inside the wrapper text {"d": ...}: the JSON reader reads
 * objects only. The wrapper holding one member proves the text was one array and nothing
 * more; positions in its error messages then count 5 bytes of the wrapper. */
static int parse_text(const char *s, size_t n, owl_buf *tmp, parsed_doc *p)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i == n || (s[i] != '{' && s[i] != '[')) {
        owl_error_set(&p->err, OWL_EINVAL, "a segment document is a JSON object or an array "
                                           "of them");
        return OWL_OK;
    }
    int rc;
    if (s[i] == '{') {
        bson_t obj = BSON_INITIALIZER;
        rc = owl_aws_json_decode(s, n, &obj, &p->err);
        if (rc == OWL_OK && !bson_append_document(&p->doc, "d", 1, &obj))
            rc = OWL_ENOMEM;
        bson_destroy(&obj);
    } else {
        owl_buf_reset(tmp);
        if (owl_buf_puts(tmp, "{\"d\":") || owl_buf_append(tmp, s, n) || owl_buf_putc(tmp, '}'))
            return OWL_ENOMEM;
        rc = owl_aws_json_decode(tmp->data, tmp->len, &p->doc, &p->err);
        if (rc == OWL_OK && bson_count_keys(&p->doc) != 1)
            rc = owl_error_set(&p->err, OWL_EINVAL, "data after the array");
    }
    if (rc == OWL_ENOMEM)
        return rc;
    p->parsed = rc == OWL_OK;
    return OWL_OK;
}

static int parse_doc(const char *s, size_t n, owl_buf *tmp, parsed_doc *p)
{
    bson_iter_t it, el;
    bson_init(&p->doc);
    p->parsed = 0;
    p->nodes = 0;
    if (n > OWL_XRAY_MAX_DOC) {
        owl_error_set(&p->err, OWL_ETOOBIG, "a document of %zu bytes (at most %d)", n,
                      OWL_XRAY_MAX_DOC);
        return OWL_OK;
    }
    int rc = parse_text(s, n, tmp, p);
    if (rc != OWL_OK || !p->parsed)
        return rc;
    bson_iter_init_find(&it, &p->doc, "d");
    if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_t d;
        const uint8_t *data;
        uint32_t len;
        bson_iter_document(&it, &len, &data);
        p->nodes = bson_init_static(&d, data, len) ? count_nodes(&d) : 0;
        return OWL_OK;
    }
    bson_iter_recurse(&it, &el);
    while (bson_iter_next(&el))
        if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
            bson_t d;
            const uint8_t *data;
            uint32_t len;
            bson_iter_document(&el, &len, &data);
            p->nodes += bson_init_static(&d, data, len) ? count_nodes(&d) : 0;
        }
    return OWL_OK;
}

/* The "id" of the document (of its first element for an array), when a string. */
static owl_bytes doc_id(walk *w, const bson_t *wrapper)
{
    bson_iter_t it;
    uint32_t n;
    const char *s;
    bson_iter_t top;
    if (bson_iter_init(&top, wrapper) &&
        (bson_iter_find_descendant(&top, "d.id", &it) ||
         (bson_iter_init(&top, wrapper) && bson_iter_find_descendant(&top, "d.0.id", &it))) &&
        BSON_ITER_HOLDS_UTF8(&it) &&
        (s = bson_iter_utf8(&it, &n)) && n) {
        owl_bytes b;
        if (view(w, s, n, &b) == OWL_OK)
            return b;
    }
    return (owl_bytes){NULL, 0};
}

/* Records the refusal of document i (its records already undone). */
static int refuse(walk *w, size_t i, const bson_t *wrapper, enum code c, const char *why)
{
    owl_span_decoded *d = w->d;
    owl_xray_unprocessed *u = &w->x->unprocessed[d->rejected];
    u->id = wrapper ? doc_id(w, wrapper) : (owl_bytes){NULL, 0};
    u->error_code = code_names[c];
    /* a quoted name cut short may end inside a character: such bytes become U+FFFD */
    size_t len = strlen(why);
    owl_buf fixed = OWL_BUF_INIT;
    if (!owl_log_decoded_utf8_ok(why, len)) {
        if (owl_log_decoded_utf8(why, len, &fixed) != OWL_OK)
            return OWL_ENOMEM;
        why = fixed.data, len = fixed.len;
    }
    int rc = view(w, why, (uint32_t)len, &u->message);
    owl_buf_free(&fixed);
    if (rc != OWL_OK)
        return rc;
    if (d->rejected++ == 0)
        snprintf(d->message, sizeof d->message, "document %zu: %.*s", i, (int)u->message.n,
                 (const char *)u->message.p);
    return OWL_OK;
}

/* Document i: every node a record, or refused whole. */
static int decode_one(walk *w, size_t i, parsed_doc *p)
{
    bson_iter_t it, el;
    size_t first = w->d->n;
    int rc = OWL_OK;
    if (!p->parsed)
        return refuse(w, i, NULL, p->err.code == OWL_ETOOBIG ? C_TOO_LARGE : C_MALFORMED,
                      p->err.msg);
    owl_buf_reset(&w->path);
    w->where[0] = '\0';
    bson_iter_init_find(&it, &p->doc, "d");
    if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_t d;
        const uint8_t *data;
        uint32_t len;
        bson_iter_document(&it, &len, &data);
        rc = bson_init_static(&d, data, len) ? node(w, &d, SEGMENT, NULL)
                                             : fail(w, C_MALFORMED, "damaged");
    } else {
        bson_iter_recurse(&it, &el);
        int any = 0;
        while (rc == OWL_OK && bson_iter_next(&el)) {
            bson_t d;
            const uint8_t *data;
            uint32_t len;
            any = 1;
            if (!BSON_ITER_HOLDS_DOCUMENT(&el)) {
                rc = fail(w, C_MALFORMED, "element %s of the array is not an object",
                          bson_iter_key(&el));
                break;
            }
            bson_iter_document(&el, &len, &data);
            owl_buf_reset(&w->path);
            if (owl_buf_printf(&w->path, "[%s].", bson_iter_key(&el)) != OWL_OK)
                return OWL_ENOMEM;
            rc = bson_init_static(&d, data, len) ? node(w, &d, SEGMENT, NULL)
                                                 : fail(w, C_MALFORMED, "damaged");
        }
        if (rc == OWL_OK && !any)
            rc = fail(w, C_MALFORMED, "an empty array");
    }
    if (rc != REFUSED)
        return rc;
    w->d->n = first;
    return refuse(w, i, &p->doc, w->code, w->why);
}

/* Decodes the texts docs[0..n) (lens[i] bytes each) into x. */
static int decode_texts(const char *const *docs, const size_t *lens, size_t n, size_t max_spans,
                        owl_xray_decoded *x, owl_error *err)
{
    walk w = {.x = x, .d = &x->spans, .path = OWL_BUF_INIT};
    parsed_doc *p = n ? calloc(n, sizeof *p) : NULL;
    owl_buf tmp = OWL_BUF_INIT;
    size_t total = 0, done = 0;
    int rc = OWL_OK;
    if (n && !p) {
        rc = OWL_ENOMEM;
        goto out;
    }
    for (; rc == OWL_OK && done < n; done++) {
        rc = parse_doc(docs[done], lens[done], &tmp, &p[done]);
        total += p[done].nodes;
    }
    if (rc != OWL_OK)
        goto out;
    if (total > max_spans) {
        rc = owl_error_set(err, OWL_ETOOBIG, "%zu segments and subsegments in one request "
                                             "(at most %zu)", total, max_spans);
        goto out;
    }
    if ((total && !(w.d->spans = owl_arena_alloc(&w.d->arena, total * sizeof *w.d->spans))) ||
        (n && !(x->unprocessed = owl_arena_alloc(&w.d->arena, n * sizeof *x->unprocessed)))) {
        rc = OWL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; rc == OWL_OK && i < n; i++)
        rc = decode_one(&w, i, &p[i]);
out:
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding X-Ray segment documents");
    for (size_t i = 0; p && i < done; i++)
        bson_destroy(&p[i].doc);
    free(p);
    owl_buf_free(&tmp);
    owl_buf_free(&w.path);
    return rc;
}

static void start(owl_xray_decoded *out)
{
    owl_xray_decoded_free(out);
    owl_arena_init(&out->spans.arena, 64 * 1024);
}

/* A failed decode leaves nothing behind but the arena. */
static int finish(owl_xray_decoded *out, int rc)
{
    if (rc != OWL_OK) {
        out->spans.spans = NULL;
        out->spans.n = out->spans.rejected = 0;
        out->spans.message[0] = '\0';
        out->unprocessed = NULL;
    }
    return rc;
}

void owl_xray_decoded_free(owl_xray_decoded *d)
{
    if (!d)
        return;
    owl_span_decoded_free(&d->spans);
    d->unprocessed = NULL;
}

int owl_xray_decode_docs(const char *body, size_t n, size_t max_spans, owl_xray_decoded *out,
                         owl_error *err)
{
    bson_t req = BSON_INITIALIZER;
    bson_iter_t it, el;
    const char **docs = NULL;
    size_t *lens = NULL, count = 0;
    start(out);
    int rc = owl_aws_json_decode(body, n, &req, err);
    if (rc != OWL_OK)
        goto out;
    if (!bson_iter_init_find(&it, &req, "TraceSegmentDocuments") ||
        BSON_ITER_HOLDS_NULL(&it)) {
        rc = owl_error_set(err, OWL_EINVAL, "TraceSegmentDocuments is required");
        goto out;
    }
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &el)) {
        rc = owl_error_set(err, OWL_EINVAL, "TraceSegmentDocuments is not a list");
        goto out;
    }
    for (bson_iter_t c = el; bson_iter_next(&c);)
        count++;
    docs = calloc(count ? count : 1, sizeof *docs);
    lens = calloc(count ? count : 1, sizeof *lens);
    if (!docs || !lens) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; bson_iter_next(&el); i++) {
        uint32_t len;
        if (!BSON_ITER_HOLDS_UTF8(&el)) {
            rc = owl_error_set(err, OWL_EINVAL, "TraceSegmentDocuments[%zu] is not a string", i);
            goto out;
        }
        docs[i] = bson_iter_utf8(&el, &len);
        lens[i] = len;
    }
    rc = decode_texts(docs, lens, count, max_spans, out, err);
out:
    free(docs);
    free(lens);
    bson_destroy(&req);
    return finish(out, rc);
}

/* The daemon's header: {"format":"json","version":1} and nothing else. */
static int header_ok(const char *s, size_t n, owl_error *err)
{
    bson_t h = BSON_INITIALIZER;
    bson_iter_t it;
    owl_error jerr = {0};
    int fields = 0, rc = OWL_OK;
    if (owl_aws_json_decode(s, n, &h, &jerr) != OWL_OK) {
        rc = owl_error_set(err, OWL_EINVAL, "datagram header is not JSON: %s", jerr.msg);
        goto out;
    }
    bson_iter_init(&it, &h);
    while (bson_iter_next(&it))
        fields++;
    if (fields != 2 || !bson_iter_init_find(&it, &h, "format") || !BSON_ITER_HOLDS_UTF8(&it) ||
        strcmp(bson_iter_utf8(&it, NULL), "json") != 0 ||
        !bson_iter_init_find(&it, &h, "version") || !BSON_ITER_HOLDS_INT32(&it) ||
        bson_iter_int32(&it) != 1)
        rc = owl_error_set(err, OWL_EINVAL, "datagram header is not "
                                            "{\"format\":\"json\",\"version\":1}");
out:
    bson_destroy(&h);
    return rc;
}

int owl_xray_decode_datagram(const void *p, size_t n, size_t max_spans, owl_xray_decoded *out,
                             owl_error *err)
{
    const char *s = p, *nl = n ? memchr(s, '\n', n) : NULL;
    start(out);
    if (!nl)
        return finish(out, owl_error_set(err, OWL_EINVAL, "datagram without a header line"));
    int rc = header_ok(s, (size_t)(nl - s), err);
    if (rc == OWL_OK) {
        const char *doc = nl + 1;
        size_t len = n - (size_t)(doc - s);
        rc = decode_texts(&doc, &len, 1, max_spans, out, err);
    }
    return finish(out, rc);
}

int owl_xray_unprocessed_json(const owl_xray_decoded *d, owl_buf *out)
{
    int rc = owl_buf_puts(out, "{\"UnprocessedTraceSegments\":[");
    for (size_t i = 0; rc == OWL_OK && i < d->spans.rejected; i++) {
        const owl_xray_unprocessed *u = &d->unprocessed[i];
        rc = owl_buf_puts(out, i ? ",{" : "{");
        if (rc == OWL_OK && u->id.n) {
            rc = owl_buf_puts(out, "\"Id\":");
            if (rc == OWL_OK)
                rc = owl_buf_json_str(out, u->id.p, u->id.n);
            if (rc == OWL_OK)
                rc = owl_buf_putc(out, ',');
        }
        if (rc == OWL_OK)
            rc = owl_buf_puts(out, "\"ErrorCode\":");
        if (rc == OWL_OK)
            rc = owl_buf_json_str(out, u->error_code, strlen(u->error_code));
        if (rc == OWL_OK)
            rc = owl_buf_puts(out, ",\"Message\":");
        if (rc == OWL_OK)
            rc = owl_buf_json_str(out, u->message.p, u->message.n);
        if (rc == OWL_OK)
            rc = owl_buf_putc(out, '}');
    }
    return rc == OWL_OK ? owl_buf_puts(out, "]}") : rc;
}

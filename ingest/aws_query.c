/* aws_query.c — the AWS query protocol: an application/x-www-form-urlencoded request becomes
 * a document, a response document becomes XML.
 *
 * Form names are dotted paths. After sorting the parameters (numbers compared as numbers),
 * each run sharing a prefix is one value: "A.member.N[...]" and "A.N" are lists ordered by
 * N, "A.entry.N.key" / "A.entry.N.value" a map, any other "A.B" a nested document. Every
 * value arrives as a string; the typed getters in aws.c convert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/aws_int.h"

long owl_aws_percent_decode(const char *s, size_t n, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0')
            return -1; /* every consumer reads C strings: a NUL would cut the value short */
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = owl_hex_digit((unsigned char)s[i + 1]);
            int lo = owl_hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int owl_aws_form_value(const char *s, size_t n, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name), i = 0;
    int found = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t len = amp ? (size_t)(amp - (s + i)) : n - i;
        const char *eq = memchr(s + i, '=', len);
        size_t klen = eq ? (size_t)(eq - (s + i)) : len;
        char key[256];
        if (klen < sizeof key) {
            long kd = owl_aws_percent_decode(s + i, klen, key, 1);
            if (kd >= 0 && (size_t)kd == nlen && memcmp(key, name, nlen) == 0) {
                size_t vlen = eq ? len - klen - 1 : 0;
                /* a second occurrence is refused, not resolved: first-wins here and
                 * last-wins in another reader would let two parts disagree */
                if (found || vlen + 1 > outsz)
                    return -1;
                if (owl_aws_percent_decode(eq ? eq + 1 : s + i, vlen, out, 1) < 0)
                    return -1;
                found = 1;
            }
        }
        i += len + 1;
    }
    return found;
}

/* One form parameter: key with its '.' separators turned into NULs. */
typedef struct fparam {
    char *key;
    size_t klen;
    char *val;
    size_t vlen;
    int nseg;
} fparam;

static const char *seg(const fparam *p, int d)
{
    const char *s = p->key;
    for (int i = 0; i < d; i++)
        s += strlen(s) + 1;
    return s;
}

/* A list index: 1 to 999999999, all digits. -1 otherwise. */
static long seg_index(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    long v = strtol(s, NULL, 10);
    return v >= 1 ? v : -1;
}

/* A total order on segments (qsort needs one): all-digit segments first, in numeric order
 * ("2" < "10"; leading zeros ignored, so "01" equals "1" and is caught as a repeat), then
 * the others in byte order. Mixing the two rules in one comparison ("6" < "21" as numbers
 * but "21" < "2r" < "6" as bytes) is not transitive and split one name's parameters apart. */
static int seg_cmp(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int da = na && strspn(a, "0123456789") == na, db = nb && strspn(b, "0123456789") == nb;
    if (da != db)
        return da ? -1 : 1;
    if (da) {
        while (na > 1 && *a == '0')
            a++, na--;
        while (nb > 1 && *b == '0')
            b++, nb--;
        if (na != nb)
            return na < nb ? -1 : 1;
    }
    return strcmp(a, b);
}

static int param_cmp(const void *x, const void *y)
{
    const fparam *a = x, *b = y;
    const char *sa = a->key, *sb = b->key;
    for (int d = 0; d < a->nseg && d < b->nseg; d++) {
        int c = seg_cmp(sa, sb);
        if (c)
            return c;
        sa += strlen(sa) + 1;
        sb += strlen(sb) + 1;
    }
    return a->nseg - b->nseg;
}

/* The end of the run of params from lo that share segment d with params[lo]. */
static size_t run_end(const fparam *ps, size_t lo, size_t hi, int d)
{
    const char *s = seg(&ps[lo], d);
    size_t j = lo + 1;
    while (j < hi && ps[j].nseg > d && seg_cmp(seg(&ps[j], d), s) == 0)
        j++;
    return j;
}

typedef struct qctx {
    owl_error *err;
} qctx;

static int emit(qctx *q, fparam *ps, size_t lo, size_t hi, int d, int depth, bson_t *parent,
                const char *name);

/* One member of a list, map or structure: the params [from, end) continue at segment d as the
 * value `key` (for a list item, its index written into key_buf). */
typedef struct member {
    size_t from, end;
    int d;
    const char *key;
    char key_buf[16];
} member;

/* Finds the member that starts at ps[j] (segment d) in [j, hi) of the value `name`, the nth of
 * its container; OWL_OK or the error for a malformed one. */
typedef int (*member_fn)(qctx *q, fparam *ps, size_t j, size_t hi, int d, uint32_t n,
                         const char *name, member *m);

/* A list: runs grouped by the index in segment d. */
static int list_member(qctx *q, fparam *ps, size_t j, size_t hi, int d, uint32_t n,
                       const char *name, member *m)
{
    if (ps[j].nseg <= d || seg_index(seg(&ps[j], d)) < 0)
        return owl_error_set(q->err, OWL_EINVAL, "%s: list items need an index 1, 2, ...", name);
    *m = (member){.from = j, .end = run_end(ps, j, hi, d), .d = d + 1};
    bson_uint32_to_string(n, &m->key, m->key_buf, sizeof m->key_buf);
    return OWL_OK;
}

/* A map: runs of "entry.N" each holding one "key" and a "value". */
static int map_member(qctx *q, fparam *ps, size_t j, size_t hi, int d, uint32_t n,
                      const char *name, member *m)
{
    (void)n;
    if (ps[j].nseg <= d + 1 || seg_index(seg(&ps[j], d)) < 0)
        return owl_error_set(q->err, OWL_EINVAL, "%s: map entries need .N.key and .N.value",
                             name);
    size_t e = run_end(ps, j, hi, d);
    /* sorted: the key ("key") comes before the value's parameters ("value...") */
    if (strcmp(seg(&ps[j], d + 1), "key") != 0 || ps[j].nseg != d + 2 || e - j < 2 ||
        strcmp(seg(&ps[j + 1], d + 1), "value") != 0 || run_end(ps, j + 1, e, d + 1) != e)
        return owl_error_set(q->err, OWL_EINVAL,
                             "%s: each map entry needs one key and one value", name);
    if (memchr(ps[j].val, '\0', ps[j].vlen) || ps[j].vlen > OWL_AWS_MAX_KEY)
        return owl_error_set(q->err, OWL_EINVAL, "%s: a map key is not a valid name", name);
    *m = (member){.from = j + 1, .end = e, .d = d + 2, .key = ps[j].val};
    return OWL_OK;
}

/* A structure: runs grouped by the field name in segment d. */
static int doc_member(qctx *q, fparam *ps, size_t j, size_t hi, int d, uint32_t n,
                      const char *name, member *m)
{
    (void)n;
    const char *s = seg(&ps[j], d);
    if (strcmp(s, "member") == 0 || strcmp(s, "entry") == 0)
        return owl_error_set(q->err, OWL_EINVAL, "%s mixes '%s' with named fields", name, s);
    *m = (member){.from = j, .end = run_end(ps, j, hi, d), .d = d + 1, .key = s};
    return OWL_OK;
}

/* Emits the params [lo, hi) into the container `name` (parent), member by member. */
static int emit_members(qctx *q, fparam *ps, size_t lo, size_t hi, int d, int depth,
                        bson_t *parent, const char *name, member_fn next)
{
    uint32_t n = 0;
    for (size_t j = lo; j < hi; n++) {
        member m;
        int rc = next(q, ps, j, hi, d, n, name, &m);
        if (rc == OWL_OK)
            rc = emit(q, ps, m.from, m.end, m.d, depth, parent, m.key);
        if (rc != OWL_OK)
            return rc;
        j = m.end;
    }
    return OWL_OK;
}

/* Emits the params [lo, hi), which share their first d segments, as the value `name`. */
static int emit(qctx *q, fparam *ps, size_t lo, size_t hi, int d, int depth, bson_t *parent,
                const char *name)
{
    if (ps[lo].nseg == d) {
        if (hi - lo > 1)
            return owl_error_set(q->err, OWL_EINVAL, "parameter %s is given %s", name,
                                 ps[lo + 1].nseg == d ? "twice" : "both as a value and with members");
        if (!bson_append_utf8(parent, name, -1, ps[lo].val, (int)ps[lo].vlen))
            return owl_error_set(q->err, OWL_EINVAL, "request too large");
        return OWL_OK;
    }
    if (depth >= OWL_AWS_MAX_DEPTH)
        return owl_error_set(q->err, OWL_EINVAL, "parameter %s is nested too deeply", name);
    const char *s = seg(&ps[lo], d);
    int list = strcmp(s, "member") == 0, map = strcmp(s, "entry") == 0;
    int flat = !list && !map && seg_index(s) > 0;
    bson_t child;
    int rc;
    if (list || map) {
        /* every param of the run must continue with the same word */
        if (run_end(ps, lo, hi, d) != hi)
            return owl_error_set(q->err, OWL_EINVAL, "%s mixes '%s' with other fields", name, s);
        d++;
    }
    bool ok = list || flat ? bson_append_array_begin(parent, name, -1, &child)
                           : bson_append_document_begin(parent, name, -1, &child);
    if (!ok)
        return owl_error_set(q->err, OWL_EINVAL, "request too large");
    rc = emit_members(q, ps, lo, hi, d, depth + 1, &child, name,
                      list || flat ? list_member : map ? map_member : doc_member);
    const char *dup;
    /* a map's keys are values (A.entry.N.key): two entries may name the same key */
    int dk = rc == OWL_OK && map ? owl_aws_dup_key(&child, &dup) : 0;
    if (dk == OWL_ENOMEM)
        rc = owl_error_set(q->err, OWL_ENOMEM, "out of memory");
    else if (dk == 1)
        rc = owl_error_set(q->err, OWL_EINVAL, "%s: map key %.64s is given twice", name, dup);
    ok = list || flat ? bson_append_array_end(parent, &child)
                      : bson_append_document_end(parent, &child);
    if (rc == OWL_OK && !ok)
        rc = owl_error_set(q->err, OWL_EINVAL, "request too large");
    return rc;
}

static int skipped(const char *key)
{
    return strcmp(key, "Action") == 0 || strcmp(key, "Version") == 0 ||
           strncmp(key, "X-Amz-", 6) == 0;
}

/* Splits s into params (decoded, segments split); *np set. */
static int split(const char *s, size_t n, fparam **out, size_t *np, owl_error *err)
{
    size_t cap = 0, count = 0, i = 0;
    fparam *ps = NULL;
    int rc = OWL_OK;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t len = amp ? (size_t)(amp - (s + i)) : n - i;
        const char *eq = memchr(s + i, '=', len);
        size_t klen = eq ? (size_t)(eq - (s + i)) : len;
        size_t vlen = eq ? len - klen - 1 : 0;
        const char *k = s + i, *v = eq ? eq + 1 : s + i + len;
        i += len + 1;
        if (len == 0)
            continue;
        if (count == OWL_AWS_MAX_PARAMS) {
            rc = owl_error_set(err, OWL_EINVAL, "more than %d parameters", OWL_AWS_MAX_PARAMS);
            goto out;
        }
        if (klen > OWL_AWS_MAX_KEY) {
            rc = owl_error_set(err, OWL_EINVAL, "a parameter name is longer than %d bytes",
                               OWL_AWS_MAX_KEY);
            goto out;
        }
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            fparam *g = realloc(ps, ncap * sizeof *g);
            if (!g) {
                rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
                goto out;
            }
            ps = g, cap = ncap;
        }
        fparam *p = &ps[count];
        p->key = malloc(klen + 1);
        p->val = malloc(vlen + 1);
        count++;
        if (!p->key || !p->val) {
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
            goto out;
        }
        long kd = owl_aws_percent_decode(k, klen, p->key, 1);
        long vd = owl_aws_percent_decode(v, vlen, p->val, 1);
        if (kd < 0 || vd < 0) {
            rc = owl_error_set(err, OWL_EINVAL, "malformed percent-escape in the form");
            goto out;
        }
        p->klen = (size_t)kd, p->vlen = (size_t)vd;
        if (!bson_utf8_validate(p->val, p->vlen, true) ||
            !bson_utf8_validate(p->key, p->klen, false) || p->klen == 0) {
            rc = owl_error_set(err, OWL_EINVAL, "a form parameter is not valid UTF-8");
            goto out;
        }
        if (skipped(p->key)) {
            free(p->key);
            free(p->val);
            count--;
            continue;
        }
        p->nseg = 1;
        for (size_t c = 0; c < p->klen; c++) {
            if (p->key[c] != '.')
                continue;
            if (c == 0 || c + 1 == p->klen || p->key[c + 1] == '.') {
                rc = owl_error_set(err, OWL_EINVAL, "parameter name with an empty part");
                goto out;
            }
            p->key[c] = '\0';
            p->nseg++;
        }
    }
out:
    *out = ps;
    *np = count;
    return rc;
}

int owl_aws_query_decode(const char *s, size_t n, bson_t *out, owl_error *err)
{
    fparam *ps = NULL;
    size_t np = 0;
    qctx q = {.err = err};
    int rc = split(s, n, &ps, &np, err);
    if (rc == OWL_OK && np) {
        qsort(ps, np, sizeof *ps, param_cmp);
        rc = emit_members(&q, ps, 0, np, 0, 1, out, "the request", doc_member);
    }
    for (size_t i = 0; i < np; i++) {
        free(ps[i].key);
        free(ps[i].val);
    }
    free(ps);
    return rc;
}

/* ---- XML out ---- */

void owl_aws_xml_escape(owl_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<': owl_buf_puts(b, "&lt;"); break;
        case '>': owl_buf_puts(b, "&gt;"); break;
        case '&': owl_buf_puts(b, "&amp;"); break;
        case '"': owl_buf_puts(b, "&quot;"); break;
        case '\'': owl_buf_puts(b, "&apos;"); break;
        default:
            if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
                owl_buf_putc(b, (char)c);
        }
    }
}

static void xml_fields(owl_buf *b, bson_iter_t *it, int is_array);

static void xml_value(owl_buf *b, const bson_iter_t *it)
{
    char t[40];
    bson_iter_t child;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        owl_aws_xml_escape(b, s, n);
        break;
    }
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
        owl_buf_printf(b, "%lld", (long long)bson_iter_as_int64(it));
        break;
    case BSON_TYPE_DOUBLE:
        owl_aws_fmt_double(bson_iter_double(it), t);
        owl_buf_puts(b, strcmp(t, "nan") == 0 ? "NaN" : strcmp(t, "inf") == 0 ? "Infinity"
                        : strcmp(t, "-inf") == 0 ? "-Infinity" : t);
        break;
    case BSON_TYPE_BOOL:
        owl_buf_puts(b, bson_iter_bool(it) ? "true" : "false");
        break;
    case BSON_TYPE_DATE_TIME:
        owl_time_format_rfc3339(bson_iter_date_time(it), t, sizeof t);
        owl_buf_puts(b, t);
        break;
    case BSON_TYPE_BINARY: {
        uint32_t n;
        const uint8_t *p;
        bson_iter_binary(it, NULL, &n, &p);
        owl_aws_base64(b, p, n);
        break;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        if (bson_iter_recurse(it, &child))
            xml_fields(b, &child, BSON_ITER_HOLDS_ARRAY(it));
        break;
    default:
        break;
    }
}

static void xml_fields(owl_buf *b, bson_iter_t *it, int is_array)
{
    while (bson_iter_next(it)) {
        if (BSON_ITER_HOLDS_NULL(it))
            continue;
        const char *name = is_array ? "member" : bson_iter_key(it);
        size_t nlen = strlen(name);
        owl_buf_putc(b, '<');
        owl_aws_xml_escape(b, name, nlen);
        owl_buf_putc(b, '>');
        xml_value(b, it);
        owl_buf_puts(b, "</");
        owl_aws_xml_escape(b, name, nlen);
        owl_buf_putc(b, '>');
    }
}

int owl_aws_xml_encode(const char *op, const char *ns, const bson_t *doc, int empty_result,
                       const char *request_id, owl_buf *out)
{
    bson_iter_t it;
    owl_buf_printf(out, "<%sResponse", op);
    if (ns) {
        owl_buf_puts(out, " xmlns=\"");
        owl_aws_xml_escape(out, ns, strlen(ns));
        owl_buf_putc(out, '"');
    }
    owl_buf_putc(out, '>');
    if ((!bson_empty(doc) || empty_result) && bson_iter_init(&it, doc)) {
        owl_buf_printf(out, "<%sResult>", op);
        xml_fields(out, &it, 0);
        owl_buf_printf(out, "</%sResult>", op);
    }
    owl_buf_puts(out, "<ResponseMetadata><RequestId>");
    owl_aws_xml_escape(out, request_id ? request_id : "", request_id ? strlen(request_id) : 0);
    return owl_buf_printf(out, "</RequestId></ResponseMetadata></%sResponse>\n", op);
}

/* aws_json.c — plain JSON <-> BSON for the AWS JSON 1.0/1.1, REST-JSON and native codecs.
 * Hand-rolled rather than libbson's JSON reader because that one gives "$"-keys extended
 * JSON meanings ({"$date": ...}) a client never intended, and its writer emits extended JSON
 * ({"$numberLong": "5"}); both directions here are RFC 8259 only, with a nesting limit. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "ingest/aws_int.h"

typedef struct jp {
    const char *s;
    size_t n, i;
    owl_error *err;
    owl_buf str; /* the last decoded string value */
} jp;

static int bad(jp *p, const char *what)
{
    return owl_error_set(p->err, OWL_EINVAL, "body is not valid JSON: %s at byte %zu", what,
                         p->i);
}

static void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static void put_utf8(owl_buf *b, unsigned cp)
{
    char u[4];
    owl_buf_append(b, u, owl_utf8_put(u, cp));
}

/* Decodes the string starting at the opening quote into p->str (valid UTF-8 checked). */
static int string(jp *p)
{
    owl_buf_reset(&p->str);
    p->i++; /* the quote */
    for (;;) {
        size_t start = p->i;
        int high = 0; /* not needed: the whole string is checked at its end */
        p->i = (size_t)(owl_json_str_run(p->s + p->i, p->s + p->n, &high) - p->s);
        if (owl_buf_append(&p->str, p->s + start, p->i - start) != OWL_OK)
            return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
        if (p->i >= p->n)
            return bad(p, "unterminated string");
        char c = p->s[p->i++];
        if (c == '"')
            break;
        if (c != '\\')
            return bad(p, "control character in a string");
        if (p->i >= p->n)
            return bad(p, "unterminated escape");
        const char *q = p->s + p->i;
        unsigned cp;
        int e = owl_json_escape(&q, p->s + p->n, &cp);
        if (e != OWL_JSON_ESC_OK)
            return bad(p, e == OWL_JSON_ESC_LONE   ? "lone surrogate"
                          : e == OWL_JSON_ESC_PAIR ? "bad surrogate pair"
                                                   : "bad escape");
        p->i = (size_t)(q - p->s);
        put_utf8(&p->str, cp);
    }
    if (!owl_utf8_valid(p->str.data ? p->str.data : "", p->str.len))
        return bad(p, p->str.len && memchr(p->str.data, '\0', p->str.len) ? "NUL in a string"
                                                                          : "invalid UTF-8");
    return OWL_OK;
}

/* Exact powers of ten as doubles (10^22 is the last one a double holds exactly). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

const char *owl__json_number(const char *s, size_t n, size_t *used, owl__json_num *out)
{
    size_t i = 0;
    int integral = 1, neg = 0, digits = 0, frac = 0, e10 = 0, eneg = 0;
    uint64_t mant = 0; /* the first 19 significant digits, enough to tell the fast path */
    *used = 0;
    if (i < n && s[i] == '-')
        i++, neg = 1;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits < 19)
                mant = mant * 10 + (uint64_t)(s[i] - '0');
            digits++, i++;
        }
    } else {
        return *used = i, "unexpected character";
    }
    if (i < n && s[i] == '.') {
        integral = 0;
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                frac++;
                if (mant)
                    digits++;
            }
            i++;
        }
        if (i == d)
            return *used = i, "digits expected after '.'";
        if (i - d > (size_t)frac)
            digits = 99; /* digits were dropped: the slow path */
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (e10 < 10000)
                e10 = e10 * 10 + (s[i] - '0');
            i++;
        }
        if (i == d)
            return *used = i, "digits expected in the exponent";
    }
    *used = i;
    /* the common numbers without a library call: integers of up to 18 digits exactly, and
     * decimals whose digits fit a double's 53 bits with a power of ten it holds exactly, in
     * one correctly rounded operation (Clinger's fast path) */
    if (integral && digits <= 18) {
        out->is_int = 1;
        out->i = neg ? -(int64_t)mant : (int64_t)mant;
        return NULL;
    }
    int scale = (eneg ? -e10 : e10) - frac;
    if (!integral && digits <= 19 && mant < (1ULL << 53) && scale >= -22 && scale <= 22) {
        double d = (double)mant;
        d = scale < 0 ? d / pow10_exact[-scale] : d * pow10_exact[scale];
        out->is_int = 0;
        out->d = neg ? -d : d;
        return NULL;
    }
    char text[400];
    if (i >= sizeof text)
        return "number too long";
    memcpy(text, s, i);
    text[i] = '\0';
    if (integral) {
        errno = 0;
        long long v = strtoll(text, NULL, 10);
        if (errno != ERANGE) {
            out->is_int = 1;
            out->i = v;
            return NULL;
        }
    }
    out->is_int = 0;
    out->d = strtod(text, NULL);
    return isfinite(out->d) ? NULL : "number out of range";
}

static int number(jp *p, bson_t *parent, const char *key, size_t klen)
{
    owl__json_num v;
    size_t used;
    const char *why = owl__json_number(p->s + p->i, p->n - p->i, &used, &v);
    p->i += used;
    if (why)
        return bad(p, why);
    bool ok = !v.is_int ? bson_append_double(parent, key, (int)klen, v.d)
              : v.i >= INT32_MIN && v.i <= INT32_MAX
                  ? bson_append_int32(parent, key, (int)klen, (int32_t)v.i)
                  : bson_append_int64(parent, key, (int)klen, v.i);
    return ok ? OWL_OK : bad(p, "document too large");
}

static int value(jp *p, bson_t *parent, const char *key, size_t klen, int depth);

/* The object's closing brace: a field name given twice is refused (RFC 8259 leaves it
 * open; first-wins and last-wins readers would disagree, and a handler iterating the fields
 * would see both). */
static int object_end(jp *p, bson_t *doc)
{
    const char *dup;
    int rc = owl_aws_dup_key(doc, &dup);
    if (rc == OWL_ENOMEM)
        return owl_error_set(p->err, OWL_ENOMEM, "out of memory");
    if (rc == 1)
        return owl_error_set(p->err, OWL_EINVAL,
                             "body is not valid JSON: field \"%.64s\" is given twice before "
                             "byte %zu", dup, p->i);
    p->i++;
    return OWL_OK;
}

static int object(jp *p, bson_t *doc, int depth)
{
    char key[OWL_AWS_MAX_KEY + 1];
    p->i++; /* '{' */
    ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        return OWL_OK;
    }
    for (;;) {
        ws(p);
        if (p->i >= p->n || p->s[p->i] != '"')
            return bad(p, "field name expected");
        int rc = string(p);
        if (rc != OWL_OK)
            return rc;
        if (p->str.len > OWL_AWS_MAX_KEY)
            return bad(p, "field name too long");
        size_t klen = p->str.len;
        memcpy(key, p->str.data ? p->str.data : "", klen);
        key[klen] = '\0';
        ws(p);
        if (p->i >= p->n || p->s[p->i] != ':')
            return bad(p, "':' expected");
        p->i++;
        if ((rc = value(p, doc, key, klen, depth)) != OWL_OK)
            return rc;
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}')
            return object_end(p, doc);
        return bad(p, "',' or '}' expected");
    }
}

static int array(jp *p, bson_t *arr, int depth)
{
    p->i++; /* '[' */
    ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
        return OWL_OK;
    }
    for (uint32_t idx = 0;; idx++) {
        char buf[16];
        const char *key;
        size_t klen = bson_uint32_to_string(idx, &key, buf, sizeof buf);
        int rc = value(p, arr, key, klen, depth);
        if (rc != OWL_OK)
            return rc;
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            return OWL_OK;
        }
        return bad(p, "',' or ']' expected");
    }
}

static int literal(jp *p, const char *word)
{
    size_t n = strlen(word);
    if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0)
        return -1;
    p->i += n;
    return 0;
}

static int value(jp *p, bson_t *parent, const char *key, size_t klen, int depth)
{
    ws(p);
    if (p->i >= p->n)
        return bad(p, "value expected");
    char c = p->s[p->i];
    bson_t child;
    int rc;
    bool ok = true;
    switch (c) {
    case '{':
    case '[':
        if (depth >= OWL_AWS_MAX_DEPTH)
            return bad(p, "nested too deeply");
        if (c == '{' ? !bson_append_document_begin(parent, key, (int)klen, &child)
                     : !bson_append_array_begin(parent, key, (int)klen, &child))
            return bad(p, "document too large");
        rc = c == '{' ? object(p, &child, depth + 1) : array(p, &child, depth + 1);
        ok = c == '{' ? bson_append_document_end(parent, &child)
                      : bson_append_array_end(parent, &child);
        if (rc != OWL_OK)
            return rc;
        break;
    case '"':
        if ((rc = string(p)) != OWL_OK)
            return rc;
        ok = bson_append_utf8(parent, key, (int)klen, p->str.data ? p->str.data : "",
                              (int)p->str.len);
        break;
    case 't':
    case 'f':
        if (literal(p, c == 't' ? "true" : "false") != 0)
            return bad(p, "unexpected word");
        ok = bson_append_bool(parent, key, (int)klen, c == 't');
        break;
    case 'n':
        if (literal(p, "null") != 0)
            return bad(p, "unexpected word");
        ok = bson_append_null(parent, key, (int)klen);
        break;
    default:
        return number(p, parent, key, klen);
    }
    return ok ? OWL_OK : bad(p, "document too large");
}

int owl_aws_json_decode(const char *s, size_t n, bson_t *out, owl_error *err)
{
    jp p = {.s = s, .n = n, .err = err, .str = OWL_BUF_INIT};
    int rc = OWL_OK;
    ws(&p);
    if (p.i == n)
        goto out; /* an empty body is an empty input */
    if (s[p.i] != '{') {
        rc = owl_error_set(err, OWL_EINVAL, "body is not a JSON object");
        goto out;
    }
    if ((rc = object(&p, out, 1)) != OWL_OK)
        goto out;
    ws(&p);
    if (p.i != n)
        rc = bad(&p, "data after the document (one JSON document per body)");
out:
    owl_buf_free(&p.str);
    return rc;
}

int owl_aws_json_decode_array(const char *s, size_t n, bson_t *out, owl_error *err)
{
    jp p = {.s = s, .n = n, .err = err, .str = OWL_BUF_INIT};
    int rc = OWL_OK;
    ws(&p);
    if (p.i == n || s[p.i] != '[') {
        rc = owl_error_set(err, OWL_EINVAL, "body is not a JSON array");
        goto out;
    }
    if ((rc = array(&p, out, 1)) != OWL_OK)
        goto out;
    ws(&p);
    if (p.i != n)
        rc = bad(&p, "data after the array (one JSON document per body)");
out:
    owl_buf_free(&p.str);
    return rc;
}

/* ---- encoding ---- */

void owl_aws_fmt_double(double d, char out[32])
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eEn"))
        strcat(out, ".0");
}

void owl_aws_base64(owl_buf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        owl_buf_append(b, q, 4);
    }
}

static int enc_iter(bson_iter_t *it, int is_array, int dates_rfc3339, owl_buf *o);

static int enc_value(const bson_iter_t *it, int dates_rfc3339, owl_buf *o)
{
    char num[40];
    bson_iter_t child;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        return owl_buf_json_str(o, s, n);
    }
    case BSON_TYPE_INT32:
        return owl_buf_put_i64(o, bson_iter_int32(it));
    case BSON_TYPE_INT64:
        return owl_buf_put_i64(o, bson_iter_int64(it));
    case BSON_TYPE_DOUBLE: {
        double d = bson_iter_double(it);
        if (!isfinite(d))
            return owl_buf_puts(o, "null");
        owl_aws_fmt_double(d, num);
        return owl_buf_puts(o, num);
    }
    case BSON_TYPE_BOOL:
        return owl_buf_puts(o, bson_iter_bool(it) ? "true" : "false");
    case BSON_TYPE_DATE_TIME: {
        int64_t ms = bson_iter_date_time(it);
        if (dates_rfc3339) {
            owl_time_format_rfc3339(ms, num, sizeof num);
            return owl_buf_printf(o, "\"%s\"", num);
        }
        if (ms % 1000 == 0)
            return owl_buf_printf(o, "%lld", (long long)(ms / 1000));
        return owl_buf_printf(o, "%s%lld.%03lld", ms < 0 ? "-" : "",
                              (long long)llabs(ms / 1000), (long long)llabs(ms % 1000));
    }
    case BSON_TYPE_BINARY: {
        uint32_t n;
        const uint8_t *p;
        bson_iter_binary(it, NULL, &n, &p);
        owl_buf_putc(o, '"');
        owl_aws_base64(o, p, n);
        return owl_buf_putc(o, '"');
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        if (!bson_iter_recurse(it, &child))
            return owl_buf_puts(o, "null");
        return enc_iter(&child, BSON_ITER_HOLDS_ARRAY(it), dates_rfc3339, o);
    default:
        return owl_buf_puts(o, "null");
    }
}

static int enc_iter(bson_iter_t *it, int is_array, int dates_rfc3339, owl_buf *o)
{
    int rc = owl_buf_putc(o, is_array ? '[' : '{');
    for (int first = 1; rc == OWL_OK && bson_iter_next(it); first = 0) {
        if (!first)
            owl_buf_putc(o, ',');
        if (!is_array) {
            owl_buf_json_str(o, bson_iter_key(it), bson_iter_key_len(it));
            owl_buf_putc(o, ':');
        }
        rc = enc_value(it, dates_rfc3339, o);
    }
    return rc == OWL_OK ? owl_buf_putc(o, is_array ? ']' : '}') : rc;
}

int owl_aws_json_encode(const bson_t *doc, int dates_rfc3339, owl_buf *out)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return owl_buf_puts(out, "{}");
    return enc_iter(&it, 0, dates_rfc3339, out);
}

int owl_aws_json_members(const bson_t *doc, owl_buf *out)
{
    owl_buf j = OWL_BUF_INIT;
    int rc = owl_aws_json_encode(doc, 0, &j);
    if (rc == OWL_OK && j.len > 2) {
        rc = owl_buf_putc(out, ',');
        rc = rc ? rc : owl_buf_append(out, j.data + 1, j.len - 2);
    }
    owl_buf_free(&j);
    return rc;
}

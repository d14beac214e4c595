/* propagation.c — span contexts and the headers that carry them (owl/owl.h, docs/client.md
 * "Propagation"): W3C Trace Context level 1 (traceparent, tracestate), W3C Baggage and
 * X-Amzn-Trace-Id. Invariants of a context: valid => neither id is zero; tracestate is NULL or
 * a valid, non-empty list as it will be sent; the baggage's keys are distinct tokens, its values
 * valid UTF-8, and as sent it keeps within 64 entries and 8,192 bytes. */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define TS_MAX_MEMBERS 32     /* Trace Context §3.3.1.1 */
#define BAG_MAX_ENTRIES 64    /* Baggage §3.3.3: what a sender must be able to send... */
#define BAG_MAX_BYTES 8192    /* ...and in how many bytes */
#define BAG_MAX_MEMBERS 180   /* the Baggage grammar's list: list-member 0*179(...) */
#define TRACEPARENT_LEN 55    /* version 00: 2 + 1 + 32 + 1 + 16 + 1 + 2 */
#define XRAY_ROOT_LEN 35      /* "1-" 8 hex "-" 24 hex */

typedef struct bag_entry {
    char *key;   /* a token */
    char *value; /* decoded: UTF-8 without NUL */
    char *props; /* "" or the properties as received, from their first ';' */
} bag_entry;

struct owl_context {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    int valid;        /* both ids held */
    int sampled;      /* 1, 0, -1 not decided */
    int remote;       /* came from owl_extract */
    char *tracestate; /* NULL: none */
    bag_entry *bag;
    size_t nbag, capbag;
};

/* A piece of a header: not NUL-terminated. */
typedef struct str {
    const char *p;
    size_t n;
} str;

/* ---- characters and small helpers ---- */

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

static str trim(const char *p, size_t n)
{
    while (n && is_ows(p[0])) {
        p++;
        n--;
    }
    while (n && is_ows(p[n - 1]))
        n--;
    return (str){p, n};
}

/* The next piece of s up to `sep` (all of it when none); *rest after the separator, or NULL
 * past the last piece. */
static str next_piece(const char *s, int sep, const char **rest)
{
    const char *end = strchr(s, sep);
    *rest = end ? end + 1 : NULL;
    return (str){s, end ? (size_t)(end - s) : strlen(s)};
}

static int str_is(str s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

char *owl__dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Lowercase hex only: Trace Context forbids uppercase, X-Ray writes lowercase. */
static int hexdig(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes n (even) lowercase hex digits into n/2 bytes: 0, or -1 on any other character. */
static int unhex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexdig((unsigned char)s[i]), lo = hexdig((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static char *tohex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = digits[b[i] >> 4];
        *out++ = digits[b[i] & 15];
    }
    return out;
}

/* Copies s without its NUL: the end of what was written. */
static char *put(char *w, const char *s)
{
    size_t n = strlen(s);
    memcpy(w, s, n);
    return w + n;
}

int owl__is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* ---- W3C traceparent (Trace Context §3.2) ---- */

/* Parses a traceparent value (OWS around it ignored: HTTP does not count it as the value's):
 * 0 with the ids and the sampled bit, or -1 when it breaks a rule. A version above 00 is read
 * by version 00's layout and may go on only after a '-'; version ff is invalid. */
static int parse_traceparent(const char *v, uint8_t tid[16], uint8_t sid[8], int *sampled)
{
    str s = trim(v, strlen(v));
    uint8_t version, flags;

    if (s.n < TRACEPARENT_LEN || unhex(s.p, 2, &version) || version == 0xff)
        return -1;
    if (s.p[2] != '-' || s.p[35] != '-' || s.p[52] != '-')
        return -1;
    if (unhex(s.p + 3, 32, tid) || unhex(s.p + 36, 16, sid) || unhex(s.p + 53, 2, &flags))
        return -1;
    if (owl__is_zero(tid, 16) || owl__is_zero(sid, 8))
        return -1;
    if (version == 0 ? s.n != TRACEPARENT_LEN : s.n > TRACEPARENT_LEN && s.p[55] != '-')
        return -1;
    *sampled = flags & 1; /* the other bits mean nothing in version 00 */
    return 0;
}

/* ---- W3C tracestate (Trace Context §3.3) ---- */

static int is_lcalpha(int c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* The characters after a key's first: lcalpha / DIGIT / "_" / "-" / "*" / "/". */
static int key_rest_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (!is_lcalpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '*' && c != '/')
            return 0;
    }
    return 1;
}

/* simple-key (lcalpha, then up to 255) or tenant@system (tenant: lcalpha / DIGIT then up to
 * 240; system: lcalpha then up to 13). */
static int ts_key_ok(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!at)
        return n >= 1 && n <= 256 && is_lcalpha((unsigned char)k[0]) && key_rest_ok(k + 1, n - 1);
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    return tn >= 1 && tn <= 241 && (is_lcalpha((unsigned char)k[0]) || is_digit((unsigned char)k[0])) &&
           key_rest_ok(k + 1, tn - 1) && sn >= 1 && sn <= 14 && is_lcalpha((unsigned char)at[1]) &&
           key_rest_ok(at + 2, sn - 1);
}

/* 1 to 256 characters of 0x20-0x7E but ',' and '=', the last not a space. */
static int ts_value_ok(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
            return 0;
    return 1;
}

/* Parses a tracestate list: 0 with *out the members joined by "," as they will be sent
 * (empty members dropped; NULL when none is left; the caller frees), OWL_ERR_INVAL when the
 * list is invalid (a bad key or value, over 32 members, a key twice), or OWL_ERR_NOMEM. */
static int parse_tracestate(const char *v, char **out)
{
    str m[TS_MAX_MEMBERS];
    size_t key_n[TS_MAX_MEMBERS], n = 0, total = 0;
    const char *rest = v;

    *out = NULL;
    while (rest) {
        str s = next_piece(rest, ',', &rest);
        s = trim(s.p, s.n);
        if (s.n == 0)
            continue;
        const char *eq = memchr(s.p, '=', s.n);
        if (!eq || n == TS_MAX_MEMBERS)
            return OWL_ERR_INVAL;
        size_t kn = (size_t)(eq - s.p);
        if (!ts_key_ok(s.p, kn) || !ts_value_ok(eq + 1, s.n - kn - 1))
            return OWL_ERR_INVAL;
        for (size_t i = 0; i < n; i++)
            if (key_n[i] == kn && memcmp(m[i].p, s.p, kn) == 0)
                return OWL_ERR_INVAL;
        m[n] = s;
        key_n[n++] = kn;
        total += s.n + 1;
    }
    if (n == 0)
        return 0;
    char *buf = malloc(total), *w = buf;
    if (!buf)
        return OWL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, m[i].p, m[i].n);
        w += m[i].n;
        *w++ = ',';
    }
    w[-1] = '\0';
    *out = buf;
    return 0;
}

/* ---- W3C baggage (Baggage §3) ---- */

/* RFC 7230 tchar: the characters of a key. */
int owl__is_tchar(int c)
{
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* baggage-octet: what a value holds unencoded (no CTL, space, '"', ',', ';', '\\'). */
int owl__is_bag_octet(int c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static int token_ok(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++)
        if (!owl__is_tchar((unsigned char)*k))
            return 0;
    return 1;
}

int owl__hexval(int c)
{
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return hexdig(c);
}

/* The length of the valid UTF-8 sequence at s[0..n) (no overlong forms, surrogates or code
 * points past U+10FFFF), 0 when it is not one or is NUL. */
size_t owl__utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : lo;
        hi = c == 0xed ? 0x9f : hi;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

int owl__utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = owl__utf8_seq((const unsigned char *)s + i, n - i)) == 0)
            return 0;
    return 1;
}

/* Percent-decodes a value into new UTF-8 text (NULL: out of memory). A '%' not followed by two
 * hex digits stays itself; a decoded byte that does not start valid UTF-8 becomes U+FFFD, as
 * Baggage §3.2.1.1 requires, and so does NUL, which a C string cannot hold. */
static char *bag_decode(const char *v, size_t n)
{
    unsigned char *raw = malloc(n + 1);
    char *out = malloc(3 * n + 1), *w = out;
    size_t rn = 0;

    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = -1, lo = -1;
        if (v[i] == '%' && i + 2 < n) {
            hi = owl__hexval((unsigned char)v[i + 1]);
            lo = hi < 0 ? -1 : owl__hexval((unsigned char)v[i + 2]);
        }
        if (hi >= 0 && lo >= 0) {
            raw[rn++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else
            raw[rn++] = (unsigned char)v[i];
    }
    for (size_t i = 0, k; i < rn; i += k) {
        k = owl__utf8_seq(raw + i, rn - i);
        if (k) {
            memcpy(w, raw + i, k);
            w += k;
        } else {
            w = put(w, "\xef\xbf\xbd"); /* U+FFFD */
            k = 1;
        }
    }
    *w = '\0';
    free(raw);
    return out;
}

/* The bytes of value as sent: what is not a baggage-octet, and '%', as %XX. */
size_t owl__pct_encoded_len(const char *v)
{
    size_t n = 0;
    for (; *v; v++)
        n += owl__is_bag_octet((unsigned char)*v) && *v != '%' ? 1 : 3;
    return n;
}

char *owl__pct_encode(const char *v, char *w)
{
    static const char digits[] = "0123456789ABCDEF";
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (owl__is_bag_octet(c) && c != '%')
            *w++ = (char)c;
        else {
            *w++ = '%';
            *w++ = digits[c >> 4];
            *w++ = digits[c & 15];
        }
    }
    return w;
}

/* An entry's bytes in the header: key=value;props. */
static size_t entry_wire(const char *key, const char *value, const char *props)
{
    return strlen(key) + 1 + owl__pct_encoded_len(value) + strlen(props);
}

/* The baggage header's length as sent. */
static size_t bag_bytes(const owl_context *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nbag; i++)
        n += entry_wire(c->bag[i].key, c->bag[i].value, c->bag[i].props) + (i ? 1 : 0);
    return n;
}

static void entry_free(bag_entry *e)
{
    free(e->key);
    free(e->value);
    free(e->props);
}

static void bag_clear(owl_context *c)
{
    for (size_t i = 0; i < c->nbag; i++)
        entry_free(&c->bag[i]);
    free(c->bag);
    c->bag = NULL;
    c->nbag = c->capbag = 0;
}

static long bag_find(const owl_context *c, const char *key, size_t kn)
{
    for (size_t i = 0; i < c->nbag; i++)
        if (strlen(c->bag[i].key) == kn && memcmp(c->bag[i].key, key, kn) == 0)
            return (long)i;
    return -1;
}

/* Room for one more entry: 0 or OWL_ERR_NOMEM. */
static int bag_reserve(owl_context *c)
{
    if (c->nbag < c->capbag)
        return 0;
    size_t cap = c->capbag ? 2 * c->capbag : 8;
    bag_entry *b = realloc(c->bag, cap * sizeof *b);
    if (!b)
        return OWL_ERR_NOMEM;
    c->bag = b;
    c->capbag = cap;
    return 0;
}

/* Sets e (owned strings) as key's entry: in place of an entry of the same key, else last.
 * 0, or OWL_ERR_NOMEM (e freed, c unchanged). */
static int bag_put(owl_context *c, bag_entry e)
{
    long i = bag_find(c, e.key, strlen(e.key));
    if (i >= 0) {
        entry_free(&c->bag[i]);
        c->bag[i] = e;
        return 0;
    }
    if (bag_reserve(c)) {
        entry_free(&e);
        return OWL_ERR_NOMEM;
    }
    c->bag[c->nbag++] = e;
    return 0;
}

static size_t skip_ows(const char *p, size_t i, size_t n)
{
    while (i < n && is_ows(p[i]))
        i++;
    return i;
}

static size_t skip_tokens(const char *p, size_t i, size_t n)
{
    while (i < n && owl__is_tchar((unsigned char)p[i]))
        i++;
    return i;
}

static size_t skip_octets(const char *p, size_t i, size_t n)
{
    while (i < n && owl__is_bag_octet((unsigned char)p[i]))
        i++;
    return i;
}

/* Checks properties m[i..n) (m trimmed): *( OWS ";" OWS key [ OWS "=" OWS value ] ) OWS. */
static int props_ok(const char *m, size_t i, size_t n)
{
    while (i < n) {
        if (m[i] != ';')
            return 0;
        i = skip_ows(m, i + 1, n);
        size_t k = skip_tokens(m, i, n);
        if (k == i)
            return 0;
        i = skip_ows(m, k, n);
        if (i < n && m[i] == '=')
            i = skip_ows(m, skip_octets(m, skip_ows(m, i + 1, n), n), n);
    }
    return 1;
}

/* Parses one list-member (trimmed, not empty) into *e: 0, OWL_ERR_INVAL when malformed,
 * OWL_ERR_NOMEM. */
static int parse_member(str m, bag_entry *e)
{
    size_t kn = skip_tokens(m.p, 0, m.n), i, vs, ve;
    if (kn == 0)
        return OWL_ERR_INVAL;
    i = skip_ows(m.p, kn, m.n);
    if (i == m.n || m.p[i] != '=')
        return OWL_ERR_INVAL;
    vs = skip_ows(m.p, i + 1, m.n);
    ve = skip_octets(m.p, vs, m.n);
    i = skip_ows(m.p, ve, m.n);
    if (!props_ok(m.p, i, m.n))
        return OWL_ERR_INVAL;
    e->key = owl__dup_n(m.p, kn);
    e->value = bag_decode(m.p + vs, ve - vs);
    e->props = owl__dup_n(m.p + i, m.n - i);
    if (!e->key || !e->value || !e->props) {
        entry_free(e);
        return OWL_ERR_NOMEM;
    }
    return 0;
}

/* Drops the entries from the first that does not fit in 64 entries and 8,192 bytes as sent
 * (Baggage §3.3.3 lets a receiver do so). */
static void bag_truncate(owl_context *c)
{
    size_t bytes = 0, keep = 0;
    for (; keep < c->nbag && keep < BAG_MAX_ENTRIES; keep++) {
        const bag_entry *e = &c->bag[keep];
        bytes += entry_wire(e->key, e->value, e->props) + (keep ? 1 : 0);
        if (bytes > BAG_MAX_BYTES)
            break;
    }
    for (size_t i = keep; i < c->nbag; i++)
        entry_free(&c->bag[i]);
    c->nbag = keep;
}

/* Reads a baggage header into c (which holds none): 0 (no entries when the list is malformed:
 * it is dropped whole), or OWL_ERR_NOMEM. A key given twice keeps its last value, in its first
 * place. */
static int extract_baggage(owl_context *c, const char *v)
{
    const char *rest = v;
    size_t members = 0;

    if (trim(v, strlen(v)).n == 0)
        return 0;
    while (rest) {
        str m = next_piece(rest, ',', &rest);
        bag_entry e;
        m = trim(m.p, m.n);
        if (m.n == 0 || ++members > BAG_MAX_MEMBERS)
            goto malformed;
        int r = parse_member(m, &e);
        if (r == OWL_ERR_INVAL)
            goto malformed;
        if (r == 0)
            r = bag_put(c, e);
        if (r) {
            bag_clear(c);
            return r;
        }
    }
    bag_truncate(c);
    return 0;
malformed:
    bag_clear(c);
    return 0;
}

/* The baggage header for c's entries (c has some): new text, NULL when out of memory. */
static char *bag_header(const owl_context *c)
{
    char *buf = malloc(bag_bytes(c) + 1), *w = buf;
    if (!buf)
        return NULL;
    for (size_t i = 0; i < c->nbag; i++) {
        const bag_entry *e = &c->bag[i];
        if (i)
            *w++ = ',';
        w = put(w, e->key);
        *w++ = '=';
        w = owl__pct_encode(e->value, w);
        w = put(w, e->props);
    }
    *w = '\0';
    return buf;
}

/* ---- X-Amzn-Trace-Id ---- */

typedef struct xray_hdr {
    uint8_t tid[16];
    uint8_t sid[8];
    int has_parent;
    int sampled;
} xray_hdr;

/* Root=1-{8 hex}-{24 hex}: the 32 digits are the trace id, the 8 first its epoch seconds. */
static int xray_root(str v, uint8_t tid[16])
{
    return v.n == XRAY_ROOT_LEN && v.p[0] == '1' && v.p[1] == '-' && v.p[10] == '-' &&
           !unhex(v.p + 2, 8, tid) && !unhex(v.p + 11, 24, tid + 4) && !owl__is_zero(tid, 16);
}

/* Parses ';'-separated fields in any order (OWS around each; fields other than Root, Parent
 * and Sampled ignored): 0 when a Root is there, -1 when none is, or a known field is malformed
 * or given twice. */
static int parse_xray(const char *v, xray_hdr *h)
{
    int roots = 0, parents = 0, sampleds = 0;
    const char *rest = v;

    h->has_parent = 0;
    h->sampled = -1;
    while (rest) {
        str f = next_piece(rest, ';', &rest);
        f = trim(f.p, f.n);
        const char *eq = memchr(f.p, '=', f.n);
        if (!eq)
            continue;
        str k = {f.p, (size_t)(eq - f.p)}, val = {eq + 1, f.n - k.n - 1};
        if (str_is(k, "Root")) {
            if (roots++ || !xray_root(val, h->tid))
                return -1;
        } else if (str_is(k, "Parent")) {
            if (parents++ || val.n != 16 || unhex(val.p, 16, h->sid) || owl__is_zero(h->sid, 8))
                return -1;
            h->has_parent = 1;
        } else if (str_is(k, "Sampled")) {
            if (sampleds++ || val.n != 1)
                return -1;
            if (val.p[0] == '1' || val.p[0] == '0')
                h->sampled = val.p[0] - '0';
            else if (val.p[0] != '?')
                return -1;
        }
    }
    return roots ? 0 : -1;
}

/* ---- contexts ---- */

static owl_context *ctx_alloc(void)
{
    owl_context *c = calloc(1, sizeof *c);
    if (c)
        c->sampled = -1;
    return c;
}

/* owl_context_new — sampled: 0 and 1 as given, a negative value is "not decided" (-1), any
 * other 1. */
OWL_API owl_context *owl_context_new(const uint8_t trace_id[16], const uint8_t span_id[8], int sampled)
{
    if (!trace_id || !span_id || owl__is_zero(trace_id, 16) || owl__is_zero(span_id, 8))
        return NULL;
    owl_context *c = ctx_alloc();
    if (!c)
        return NULL;
    memcpy(c->trace_id, trace_id, 16);
    memcpy(c->span_id, span_id, 8);
    c->valid = 1;
    c->sampled = sampled < 0 ? -1 : sampled > 0;
    return c;
}

/* owl__context_set_ids — see client_int.h. */
void owl__context_set_ids(owl_context *c, const uint8_t trace_id[16], const uint8_t span_id[8],
                          int sampled)
{
    memcpy(c->trace_id, trace_id, 16);
    memcpy(c->span_id, span_id, 8);
    c->valid = 1;
    c->sampled = sampled < 0 ? -1 : sampled > 0;
    c->remote = 0;
}

OWL_API owl_context *owl_context_copy(const owl_context *c)
{
    if (!c)
        return NULL;
    owl_context *d = ctx_alloc();
    if (!d)
        return NULL;
    memcpy(d->trace_id, c->trace_id, 16);
    memcpy(d->span_id, c->span_id, 8);
    d->valid = c->valid;
    d->sampled = c->sampled;
    d->remote = c->remote;
    if (c->tracestate && !(d->tracestate = owl__dup_n(c->tracestate, strlen(c->tracestate))))
        goto err;
    for (size_t i = 0; i < c->nbag; i++) {
        const bag_entry *e = &c->bag[i];
        bag_entry n = {owl__dup_n(e->key, strlen(e->key)), owl__dup_n(e->value, strlen(e->value)),
                       owl__dup_n(e->props, strlen(e->props))};
        if (!n.key || !n.value || !n.props) {
            entry_free(&n);
            goto err;
        }
        if (bag_put(d, n))
            goto err;
    }
    return d;
err:
    owl_context_free(d);
    return NULL;
}

OWL_API void owl_context_free(owl_context *c)
{
    if (!c)
        return;
    free(c->tracestate);
    bag_clear(c);
    free(c);
}

/* traceparent, then its tracestate: *found set when the ids are taken. 0 or OWL_ERR_NOMEM. */
static int extract_w3c(owl_context *c, owl_header_get_fn get, void *carrier, int *found)
{
    const char *tp = get(carrier, "traceparent");
    if (!tp || parse_traceparent(tp, c->trace_id, c->span_id, &c->sampled))
        return 0; /* a tracestate without its traceparent means nothing */
    c->valid = 1;
    *found = 1;
    const char *ts = get(carrier, "tracestate");
    int r = ts ? parse_tracestate(ts, &c->tracestate) : 0;
    return r == OWL_ERR_INVAL ? 0 : r; /* an invalid tracestate is dropped, not the ids */
}

/* X-Amzn-Trace-Id: the ids when it has a Root and a Parent; its sampling decision even
 * without a Parent (a first hop behind a load balancer gets "Root=...;Sampled=1"). */
static void extract_xray(owl_context *c, owl_header_get_fn get, void *carrier, int *found)
{
    const char *v = get(carrier, "X-Amzn-Trace-Id");
    xray_hdr h;
    if (!v || parse_xray(v, &h))
        return;
    if (h.has_parent) {
        memcpy(c->trace_id, h.tid, 16);
        memcpy(c->span_id, h.sid, 8);
        c->valid = 1;
    }
    c->sampled = h.sampled;
    if (c->valid || c->sampled >= 0)
        *found = 1;
}

/* owl_extract — get NULL: NULL with *rc OWL_ERR_INVAL. */
OWL_API owl_context *owl_extract(owl_header_get_fn get, void *carrier, unsigned formats, int *rc)
{
    owl_context *c = NULL;
    int r = 0, found = 0;

    if (!get) {
        r = OWL_ERR_INVAL;
        goto out;
    }
    if (!(c = ctx_alloc())) {
        r = OWL_ERR_NOMEM;
        goto out;
    }
    c->remote = 1;
    if ((formats & OWL_PROPAGATE_W3C) && (r = extract_w3c(c, get, carrier, &found)))
        goto out;
    if (!c->valid && (formats & OWL_PROPAGATE_XRAY))
        extract_xray(c, get, carrier, &found);
    if (formats & OWL_PROPAGATE_BAGGAGE) {
        const char *b = get(carrier, "baggage");
        if (b && (r = extract_baggage(c, b)))
            goto out;
        found |= c->nbag > 0;
    }
out:
    if (r || !found) {
        owl_context_free(c);
        c = NULL;
    }
    if (rc)
        *rc = r;
    return c;
}

/* traceparent version 00: its flags carry only the sampled bit (01 sampled, else 00). */
static void format_traceparent(const owl_context *c, char out[TRACEPARENT_LEN + 1])
{
    char *w = out;
    w = put(w, "00-");
    w = tohex(c->trace_id, 16, w);
    *w++ = '-';
    w = tohex(c->span_id, 8, w);
    w = put(w, c->sampled == 1 ? "-01" : "-00");
    *w = '\0';
}

/* Root=1-{8}-{24};Parent={16};Sampled={1|0}, Sampled left out when not decided: the X-Ray
 * SDKs read a missing Sampled as "unknown", while "Sampled=?" asks the callee to decide and
 * answer with its decision, which libowl does not read back. */
static void format_xray(const owl_context *c, char out[80])
{
    char *w = put(out, "Root=1-");
    w = tohex(c->trace_id, 4, w);
    *w++ = '-';
    w = tohex(c->trace_id + 4, 12, w);
    w = put(w, ";Parent=");
    w = tohex(c->span_id, 8, w);
    if (c->sampled >= 0) {
        w = put(w, ";Sampled=");
        *w++ = (char)('0' + c->sampled);
    }
    *w = '\0';
}

OWL_API int owl_inject(const owl_context *c, owl_header_set_fn set, void *carrier, unsigned formats)
{
    char buf[80];

    if (!c || !set)
        return OWL_ERR_INVAL;
    if ((formats & OWL_PROPAGATE_W3C) && c->valid) {
        format_traceparent(c, buf);
        if (set(carrier, "traceparent", buf))
            return OWL_ERR_CARRIER;
        if (c->tracestate && set(carrier, "tracestate", c->tracestate))
            return OWL_ERR_CARRIER;
    }
    if ((formats & OWL_PROPAGATE_BAGGAGE) && c->nbag) {
        char *b = bag_header(c);
        if (!b)
            return OWL_ERR_NOMEM;
        int failed = set(carrier, "baggage", b);
        free(b);
        if (failed)
            return OWL_ERR_CARRIER;
    }
    if ((formats & OWL_PROPAGATE_XRAY) && c->valid) {
        format_xray(c, buf);
        if (set(carrier, "X-Amzn-Trace-Id", buf))
            return OWL_ERR_CARRIER;
    }
    return 0;
}

OWL_API int owl_context_valid(const owl_context *c)
{
    return c && c->valid;
}

OWL_API int owl_context_ids(const owl_context *c, uint8_t trace_id[16], uint8_t span_id[8])
{
    if (!c || !c->valid)
        return OWL_ERR_INVAL;
    if (trace_id)
        memcpy(trace_id, c->trace_id, 16);
    if (span_id)
        memcpy(span_id, c->span_id, 8);
    return 0;
}

/* owl_context_sampled — -1 for NULL too. */
OWL_API int owl_context_sampled(const owl_context *c)
{
    return c ? c->sampled : -1;
}

OWL_API int owl_context_remote(const owl_context *c)
{
    return c && c->remote;
}

OWL_API const char *owl_context_tracestate(const owl_context *c)
{
    return c && c->tracestate ? c->tracestate : "";
}

/* owl_context_set_tracestate — the list is kept as it will be sent: empty members and the OWS
 * around members dropped. OWL_ERR_INVAL for c NULL too. */
OWL_API int owl_context_set_tracestate(owl_context *c, const char *tracestate)
{
    char *ts = NULL;
    if (!c)
        return OWL_ERR_INVAL;
    if (tracestate) {
        int r = parse_tracestate(tracestate, &ts);
        if (r)
            return r;
    }
    free(c->tracestate);
    c->tracestate = ts;
    return 0;
}

OWL_API const char *owl_baggage_get(const owl_context *c, const char *key)
{
    long i = c && key ? bag_find(c, key, strlen(key)) : -1;
    return i < 0 ? NULL : c->bag[i].value;
}

/* owl_baggage_set — also OWL_ERR_INVAL for c NULL, or a value that is not UTF-8. A value set
 * here has no properties (the entry's received ones go with its old value). Removing an absent
 * key is 0. */
OWL_API int owl_baggage_set(owl_context *c, const char *key, const char *value)
{
    if (!c || !key || !token_ok(key) || (value && !owl__utf8_ok(value, strlen(value))))
        return OWL_ERR_INVAL;
    long i = bag_find(c, key, strlen(key));
    if (!value) {
        if (i >= 0) {
            entry_free(&c->bag[i]);
            memmove(&c->bag[i], &c->bag[i + 1], (c->nbag - (size_t)i - 1) * sizeof *c->bag);
            c->nbag--;
        }
        return 0;
    }
    size_t bytes = bag_bytes(c) + entry_wire(key, value, "");
    if (i >= 0)
        bytes -= entry_wire(c->bag[i].key, c->bag[i].value, c->bag[i].props);
    else if (c->nbag)
        bytes++; /* the ',' before it */
    if ((i < 0 && c->nbag == BAG_MAX_ENTRIES) || bytes > BAG_MAX_BYTES)
        return OWL_ERR_LIMIT;
    if (i < 0 && bag_reserve(c))
        return OWL_ERR_NOMEM;
    bag_entry e = {owl__dup_n(key, strlen(key)), owl__dup_n(value, strlen(value)), owl__dup_n("", 0)};
    if (!e.key || !e.value || !e.props) {
        entry_free(&e);
        return OWL_ERR_NOMEM;
    }
    return bag_put(c, e); /* cannot fail: the room is reserved */
}

OWL_API size_t owl_baggage_count(const owl_context *c)
{
    return c ? c->nbag : 0;
}

OWL_API int owl_baggage_at(const owl_context *c, size_t i, const char **key, const char **value)
{
    if (!c || i >= c->nbag)
        return OWL_ERR_NOTFOUND;
    if (key)
        *key = c->bag[i].key;
    if (value)
        *value = c->bag[i].value;
    return 0;
}

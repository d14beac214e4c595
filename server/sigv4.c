/* sigv4.c — AWS Signature Version 4 verification: parses the Authorization header, rebuilds
 * the canonical request exactly as AWS clients (botocore / AWS CLI, the SDKs) build it for
 * non-S3 services, and checks the HMAC-SHA256 signature (OpenSSL libcrypto).
 *
 * Invariant: the canonical request is a function of the bytes received on the wire only,
 * one fixed rule per part (no "try another encoding" fallbacks), and the final comparison
 * of signatures is constant time. */
#include "server/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define MAX_SKEW_S 900          /* AWS's 15 minutes */
#define MAX_SECRET 1024         /* longer secrets are refused rather than heap-copied */

/* ---------------------------------------------------------------- small helpers */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* SigV4 URI-encoding of s[0..n): unreserved bytes (and '/' when keep_slash) stay, every
 * other byte becomes %XX with upper-case hex. */
static int put_encoded(owl_buf *b, const unsigned char *s, size_t n, int keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    if (owl_buf_reserve(b, 3 * n) != OWL_OK)
        return OWL_ENOMEM;
    char *w = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = hx[c >> 4];
            *w++ = hx[c & 15];
        }
    }
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return OWL_OK;
}

/* Lower-case hex SHA-256 of p[0..n). OWL_OK, or OWL_EINTERNAL when libcrypto fails. */
static int sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return OWL_EINTERNAL;
    owl_hex(md, 32, out);
    return OWL_OK;
}

/* First header named lname (lowercase) in msg, case-insensitively; count gets how many. */
static const char *find_header(const owl_sigv4_msg *msg, const char *lname, size_t *count)
{
    const char *first = NULL;
    size_t c = 0;
    for (size_t i = 0; i < msg->nheaders; i++) {
        const char *name = msg->headers[i].name;
        if (name && msg->headers[i].value && strcasecmp(name, lname) == 0) {
            if (!first)
                first = msg->headers[i].value;
            c++;
        }
    }
    if (count)
        *count = c;
    return first;
}

/* Epoch seconds -> "20150830T123600Z" (out has 17 bytes). */
static void format_amz(int64_t secs, char out[17])
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        snprintf(out, 17, "%s", "00000000T000000Z");
}

/* ---------------------------------------------------------------- Authorization header */

static int is_scope_char(unsigned char c)
{
    return is_unreserved(c);
}

static int is_token_lower(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Copies s[0..n) into dst (cap bytes incl. NUL) when it fits and every byte passes ok. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n, int (*ok)(unsigned char))
{
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int is_akid_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '/' && c != ',';
}

static int parse_credential(const char *v, size_t n, owl_sigv4_auth *a, owl_error *err)
{
    const char *part[5];
    size_t plen[5], np = 0, slashes = 0;
    for (size_t i = 0; i < n; i++)
        slashes += v[i] == '/';
    if (slashes != 4)
        return owl_error_set(err, OWL_EINVAL,
                             "Credential must have exactly 5 slash-delimited elements, e.g. "
                             "keyid/date/region/service/term, got '%.*s'",
                             (int)(n > 120 ? 120 : n), v);
    for (const char *p = v, *end = v + n; np < 5; np++) {
        const char *stop = np < 4 ? memchr(p, '/', (size_t)(end - p)) : end;
        part[np] = p;
        plen[np] = (size_t)(stop - p);
        if (np < 4)
            p = stop + 1;
    }
    if (copy_field(a->access_key, sizeof a->access_key, part[0], plen[0], is_akid_char))
        return owl_error_set(err, OWL_EINVAL, "Credential has a malformed access key id");
    int date_ok = plen[1] == 8;
    for (size_t i = 0; date_ok && i < 8; i++)
        date_ok = part[1][i] >= '0' && part[1][i] <= '9';
    if (!date_ok)
        return owl_error_set(err, OWL_EINVAL,
                             "Credential scope date must be YYYYMMDD, got '%.*s'",
                             (int)(plen[1] > 32 ? 32 : plen[1]), part[1]);
    memcpy(a->date, part[1], 8);
    a->date[8] = '\0';
    if (copy_field(a->region, sizeof a->region, part[2], plen[2], is_scope_char))
        return owl_error_set(err, OWL_EINVAL,
                             "Credential should be scoped to a valid region, not '%.*s'.",
                             (int)(plen[2] > 64 ? 64 : plen[2]), part[2]);
    if (copy_field(a->service, sizeof a->service, part[3], plen[3], is_scope_char))
        return owl_error_set(err, OWL_EINVAL,
                             "Credential should be scoped to a valid service, not '%.*s'.",
                             (int)(plen[3] > 64 ? 64 : plen[3]), part[3]);
    if (plen[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, plen[4]) != 0)
        return owl_error_set(err, OWL_EINVAL,
                             "Credential should be scoped with a valid terminator: 'aws4_request', "
                             "not '%.*s'.", (int)(plen[4] > 64 ? 64 : plen[4]), part[4]);
    return OWL_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Splits a SignedHeaders list (copied into buf) into names, sorted; rejects empty names,
 * upper case or non-token bytes, duplicates and more than OWL_SIGV4_MAX_SIGNED names. */
static int split_signed(const char *sh, char buf[1024], const char *names[OWL_SIGV4_MAX_SIGNED],
                        size_t *count, owl_error *err)
{
    size_t n = strlen(sh), k = 0;
    if (n == 0 || n >= 1024)
        return owl_error_set(err, OWL_EINVAL, "SignedHeaders must list 1 to 1023 bytes of names");
    memcpy(buf, sh, n + 1);
    char *p = buf;
    for (;;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        if (*p == '\0')
            return owl_error_set(err, OWL_EINVAL, "SignedHeaders has an empty header name");
        for (const char *q = p; *q; q++)
            if (!is_token_lower((unsigned char)*q))
                return owl_error_set(err, OWL_EINVAL,
                                     "SignedHeaders names must be lower-case header names");
        if (k == OWL_SIGV4_MAX_SIGNED)
            return owl_error_set(err, OWL_EINVAL, "SignedHeaders lists more than %d headers",
                                 OWL_SIGV4_MAX_SIGNED);
        names[k++] = p;
        if (!semi)
            break;
        p = semi + 1;
    }
    qsort(names, k, sizeof names[0], cmp_str);
    for (size_t i = 1; i < k; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return owl_error_set(err, OWL_EINVAL, "SignedHeaders lists '%.64s' twice", names[i]);
    *count = k;
    return OWL_OK;
}

static int parse_signature(const char *v, size_t n, owl_sigv4_auth *a, owl_error *err)
{
    if (n != 64)
        return owl_error_set(err, OWL_EINVAL,
                             "Signature must be 64 hex digits, got %zu characters", n);
    for (size_t i = 0; i < 64; i++) {
        int h = owl_hex_digit((unsigned char)v[i]);
        if (h < 0)
            return owl_error_set(err, OWL_EINVAL, "Signature must be 64 hex digits");
        a->signature[i] = "0123456789abcdef"[h];
    }
    a->signature[64] = '\0';
    return OWL_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

enum { P_CREDENTIAL = 1, P_SIGNEDHEADERS = 2, P_SIGNATURE = 4 };

/* One "Key=value" element of the header (already trimmed, n > 0). */
static int parse_element(const char *s, size_t n, unsigned *seen, owl_sigv4_auth *a, owl_error *err)
{
    static const struct {
        const char *key;
        unsigned bit;
    } keys[] = {
        {"Credential", P_CREDENTIAL},
        {"SignedHeaders", P_SIGNEDHEADERS},
        {"Signature", P_SIGNATURE},
    };
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return owl_error_set(err, OWL_EINVAL,
                             "Authorization header element '%.*s' is not of the form key=value",
                             (int)(n > 64 ? 64 : n), s);
    size_t klen = (size_t)(eq - s);
    while (klen > 0 && is_blank(s[klen - 1]))
        klen--;
    const char *v = eq + 1;
    size_t vlen = n - (size_t)(v - s);
    while (vlen > 0 && is_blank(*v)) {
        v++;
        vlen--;
    }
    for (size_t i = 0; i < OWL_ARRAY_LEN(keys); i++) {
        if (strlen(keys[i].key) != klen || memcmp(keys[i].key, s, klen) != 0)
            continue;
        if (*seen & keys[i].bit)
            return owl_error_set(err, OWL_EINVAL, "Authorization header has '%s' twice",
                                 keys[i].key);
        *seen |= keys[i].bit;
        if (keys[i].bit == P_CREDENTIAL)
            return parse_credential(v, vlen, a, err);
        if (keys[i].bit == P_SIGNATURE)
            return parse_signature(v, vlen, a, err);
        if (vlen == 0 || vlen >= sizeof a->signed_headers)
            return owl_error_set(err, OWL_EINVAL,
                                 "SignedHeaders must list 1 to 1023 bytes of names");
        memcpy(a->signed_headers, v, vlen);
        a->signed_headers[vlen] = '\0';
        char buf[1024];
        const char *names[OWL_SIGV4_MAX_SIGNED];
        size_t count;
        return split_signed(a->signed_headers, buf, names, &count, err);
    }
    return owl_error_set(err, OWL_EINVAL, "Authorization header has an unknown element '%.*s'",
                         (int)(klen > 64 ? 64 : klen), s);
}

int owl_sigv4_parse_authorization(const char *value, owl_sigv4_auth *out, owl_error *err)
{
    owl_sigv4_auth a;
    memset(&a, 0, sizeof a);
    memset(out, 0, sizeof *out);
    if (!value)
        return owl_error_set(err, OWL_EINVAL, "Authorization header is missing");
    const char *p = value;
    while (is_blank(*p))
        p++;
    size_t alen = strcspn(p, " \t");
    if (alen != strlen(ALGORITHM) || memcmp(p, ALGORITHM, alen) != 0)
        return owl_error_set(err, OWL_EINVAL,
                             "Unsupported Authorization algorithm '%.*s'; only " ALGORITHM
                             " is accepted", (int)(alen > 64 ? 64 : alen), p);
    p += alen;
    unsigned seen = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t len = n;
        while (len > 0 && is_blank(*s)) {
            s++;
            len--;
        }
        while (len > 0 && is_blank(s[len - 1]))
            len--;
        if (len > 0) {
            int rc = parse_element(s, len, &seen, &a, err);
            if (rc != OWL_OK)
                return rc;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (seen != (P_CREDENTIAL | P_SIGNEDHEADERS | P_SIGNATURE)) {
        /* AWS's IncompleteSignature wording, one sentence per missing element */
        const char *req = "Authorization header requires ";
        return owl_error_set(err, OWL_EINVAL, "%s%s%s%s%s%s", (seen & P_CREDENTIAL) ? "" : req,
                             (seen & P_CREDENTIAL) ? "" : "'Credential' parameter. ",
                             (seen & P_SIGNEDHEADERS) ? "" : req,
                             (seen & P_SIGNEDHEADERS) ? "" : "'SignedHeaders' parameter. ",
                             (seen & P_SIGNATURE) ? "" : req,
                             (seen & P_SIGNATURE) ? "" : "'Signature' parameter.");
    }
    *out = a;
    return OWL_OK;
}

/* ---------------------------------------------------------------- canonical request */

/* Canonical URI, following botocore for every service but S3:
 *     quote(remove_dot_segments(wire_path), safe='/~')
 * remove_dot_segments drops empty and "." segments, lets ".." pop, keeps a leading '/' when
 * the path had one and a trailing '/' when the path had one and something is left.
 * quote() is applied to the path as it came off the wire, so a '%' already there is encoded
 * again as %25: AWS's "double encoding" for non-S3 services. The same rule passes the
 * aws-sig-v4-test-suite: its paths (get-space, get-utf8, get-unreserved, ...) hold no '%',
 * so encoding the raw request-line path once gives exactly the published creq. A decoding
 * step instead would let "/a%2Fb" and "/a/b" share a signature, which is why none is made. */
static int canonical_uri(owl_buf *out, const char *path)
{
    owl_buf tmp = OWL_BUF_INIT;
    int rc = OWL_OK;
    size_t n = strlen(path);
    if (n == 0) {
        rc = owl_buf_putc(out, '/');
        goto out;
    }
    /* tmp holds the kept segments, each preceded by '/'. */
    const char *p = path, *end = path + n;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        size_t len = (size_t)(stop - p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            char *last = tmp.len ? memrchr(tmp.data, '/', tmp.len) : NULL;
            if (last) {
                tmp.len = (size_t)(last - tmp.data);
                tmp.data[tmp.len] = '\0';
            }
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            if ((rc = owl_buf_putc(&tmp, '/')) != OWL_OK ||
                (rc = owl_buf_append(&tmp, p, len)) != OWL_OK)
                goto out;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    const char *segs = tmp.len ? tmp.data : "";
    size_t slen = tmp.len;
    if (path[0] == '/') {
        if (slen == 0) {
            rc = owl_buf_putc(out, '/');
            goto out;
        }
    } else if (slen > 0) {
        segs++; /* a relative path keeps no leading '/' */
        slen--;
    }
    if ((rc = put_encoded(out, (const unsigned char *)segs, slen, 1)) != OWL_OK)
        goto out;
    if (end[-1] == '/' && tmp.len > 0)
        rc = owl_buf_putc(out, '/');
out:
    owl_buf_free(&tmp);
    return rc;
}

/* Percent-decodes raw[0..n) ("%XX" with two hex digits; any other '%' stays a '%' byte) and
 * appends the SigV4 encoding of the decoded bytes. '+' is the byte '+', hence %2B. */
static int put_reencoded(owl_buf *b, const char *raw, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        int h1, h2;
        if (c == '%' && i + 2 < n && (h1 = owl_hex_digit((unsigned char)raw[i + 1])) >= 0 &&
            (h2 = owl_hex_digit((unsigned char)raw[i + 2])) >= 0) {
            c = (unsigned char)(h1 << 4 | h2);
            i += 2;
        }
        if (put_encoded(b, &c, 1, 0) != OWL_OK)
            return OWL_ENOMEM;
    }
    return OWL_OK;
}

typedef struct qparam {
    size_t koff, klen, voff, vlen; /* into the encoded-text buffer */
    const char *k, *v;             /* set once the buffer stops moving */
} qparam;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_qparam(const void *x, const void *y)
{
    const qparam *a = x, *b = y;
    int c = cmp_bytes(a->k, a->klen, b->k, b->klen);
    return c ? c : cmp_bytes(a->v, a->vlen, b->v, b->vlen);
}

/* Canonical query: split the raw query at '&' (empty pieces are skipped, as the SDKs that
 * parse the query do), split each piece at its first '=' (none: empty value), decode and
 * re-encode name and value, sort by encoded name then encoded value, join "k=v" with '&'.
 * botocore sends every parameter already SigV4-encoded, so for it this is the identity on
 * each piece plus the sort. */
static int canonical_query(owl_buf *out, const char *query)
{
    owl_buf enc = OWL_BUF_INIT;
    qparam *qp = NULL;
    int rc = OWL_OK;
    size_t cap = 1, nq = 0;
    for (const char *s = query; *s; s++)
        cap += *s == '&';
    if (!(qp = calloc(cap, sizeof *qp))) {
        rc = OWL_ENOMEM;
        goto out;
    }
    for (const char *p = query; *p;) {
        size_t n = strcspn(p, "&");
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t kn = eq ? (size_t)(eq - p) : n;
            qparam *q = &qp[nq++];
            q->koff = enc.len;
            if ((rc = put_reencoded(&enc, p, kn)) != OWL_OK)
                goto out;
            q->klen = enc.len - q->koff;
            q->voff = enc.len;
            if (eq && (rc = put_reencoded(&enc, eq + 1, n - kn - 1)) != OWL_OK)
                goto out;
            q->vlen = enc.len - q->voff;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    for (size_t i = 0; i < nq; i++) {
        qp[i].k = enc.data ? enc.data + qp[i].koff : "";
        qp[i].v = enc.data ? enc.data + qp[i].voff : "";
    }
    qsort(qp, nq, sizeof *qp, cmp_qparam);
    for (size_t i = 0; i < nq; i++) {
        if ((i > 0 && (rc = owl_buf_putc(out, '&')) != OWL_OK) ||
            (rc = owl_buf_append(out, qp[i].k, qp[i].klen)) != OWL_OK ||
            (rc = owl_buf_putc(out, '=')) != OWL_OK ||
            (rc = owl_buf_append(out, qp[i].v, qp[i].vlen)) != OWL_OK)
            goto out;
    }
out:
    free(qp);
    owl_buf_free(&enc);
    return rc;
}

static int is_space_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Appends one header value in canonical form: leading and trailing whitespace removed and
 * inner runs collapsed to one space (botocore's ' '.join(value.split())). A value that still
 * carries obs-fold line breaks contributes each non-empty line as its own comma-separated
 * value, which is what the suite's get-header-value-multiline case publishes. */
static int put_header_value(owl_buf *b, const char *v, int *first)
{
    int line = 0;
    for (;;) {
        size_t n = strcspn(v, "\n");
        size_t i = 0, e = n;
        while (i < e && is_space_byte(v[i]))
            i++;
        while (e > i && is_space_byte(v[e - 1]))
            e--;
        if (line == 0 || e > i) {
            if (!*first && owl_buf_putc(b, ',') != OWL_OK)
                return OWL_ENOMEM;
            *first = 0;
            int gap = 0;
            for (size_t j = i; j < e; j++) {
                if (is_space_byte(v[j])) {
                    gap = 1;
                    continue;
                }
                if ((gap && owl_buf_putc(b, ' ') != OWL_OK) || owl_buf_putc(b, v[j]) != OWL_OK)
                    return OWL_ENOMEM;
                gap = 0;
            }
        }
        if (v[n] != '\n')
            return OWL_OK;
        v += n + 1;
        line++;
    }
}

static int canonical_headers(owl_buf *out, const owl_sigv4_msg *msg, const char *const *names,
                             size_t count, owl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        int first = 1;
        if (owl_buf_puts(out, names[i]) != OWL_OK || owl_buf_putc(out, ':') != OWL_OK)
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
        for (size_t h = 0; h < msg->nheaders; h++) {
            const owl_sigv4_header *hd = &msg->headers[h];
            if (!hd->name || !hd->value || strcasecmp(hd->name, names[i]) != 0)
                continue;
            if (put_header_value(out, hd->value, &first) != OWL_OK)
                return owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        if (first)
            return owl_error_set(err, OWL_EINVAL,
                                 "SignedHeaders names '%.64s' but the request has no such header",
                                 names[i]);
        if (owl_buf_putc(out, '\n') != OWL_OK)
            return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    return OWL_OK;
}

int owl_sigv4_canonical_request(const owl_sigv4_msg *msg, const owl_sigv4_auth *auth,
                                owl_buf *out, owl_error *err)
{
    char buf[1024];
    const char *names[OWL_SIGV4_MAX_SIGNED];
    size_t count = 0, start = out->len;
    int rc = split_signed(auth->signed_headers, buf, names, &count, err);
    if (rc != OWL_OK)
        goto out;
    rc = OWL_ENOMEM;
    if (owl_buf_puts(out, msg->method ? msg->method : "") != OWL_OK ||
        owl_buf_putc(out, '\n') != OWL_OK ||
        canonical_uri(out, msg->path ? msg->path : "") != OWL_OK ||
        owl_buf_putc(out, '\n') != OWL_OK ||
        canonical_query(out, msg->query ? msg->query : "") != OWL_OK ||
        owl_buf_putc(out, '\n') != OWL_OK)
        goto nomem;
    if ((rc = canonical_headers(out, msg, names, count, err)) != OWL_OK)
        goto out;
    rc = OWL_ENOMEM;
    if (owl_buf_putc(out, '\n') != OWL_OK)
        goto nomem;
    for (size_t i = 0; i < count; i++)
        if ((i > 0 && owl_buf_putc(out, ';') != OWL_OK) || owl_buf_puts(out, names[i]) != OWL_OK)
            goto nomem;
    if (owl_buf_putc(out, '\n') != OWL_OK)
        goto nomem;
    const char *claimed = find_header(msg, "x-amz-content-sha256", NULL);
    if (claimed) {
        if (owl_buf_puts(out, claimed) != OWL_OK)
            goto nomem;
    } else {
        char hex[65];
        if (sha256_hex(msg->body ? msg->body : "", msg->body ? msg->body_len : 0, hex) != OWL_OK) {
            rc = owl_error_set(err, OWL_EINTERNAL, "SHA-256 failed");
            goto out;
        }
        if (owl_buf_append(out, hex, 64) != OWL_OK)
            goto nomem;
    }
    rc = OWL_OK;
    goto out;
nomem:
    owl_error_set(err, OWL_ENOMEM, "out of memory");
out:
    if (rc != OWL_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

/* ---------------------------------------------------------------- string to sign, signature */

int owl_sigv4_string_to_sign(const owl_sigv4_auth *auth, const char *amz_date,
                             const char *canonical_request, size_t len, owl_buf *out,
                             owl_error *err)
{
    char hex[65];
    size_t start = out->len;
    if (sha256_hex(canonical_request, len, hex) != OWL_OK)
        return owl_error_set(err, OWL_EINTERNAL, "SHA-256 failed");
    if (owl_buf_printf(out, ALGORITHM "\n%s\n%s/%s/%s/" TERMINATOR "\n%s", amz_date, auth->date,
                       auth->region, auth->service, hex) != OWL_OK) {
        if (out->data) {
            out->len = start;
            out->data[start] = '\0';
        }
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    return OWL_OK;
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) || olen != 32)
        return OWL_EINTERNAL;
    return OWL_OK;
}

int owl_sigv4_sign(const char *secret, const owl_sigv4_auth *auth, const char *string_to_sign,
                   size_t len, char out[65])
{
    unsigned char key[4 + MAX_SECRET], k[32];
    size_t slen = strlen(secret);
    int rc = OWL_EINVAL;
    out[0] = '\0';
    if (slen > MAX_SECRET)
        goto out;
    memcpy(key, "AWS4", 4);
    memcpy(key + 4, secret, slen);
    if ((rc = hmac(key, 4 + slen, auth->date, strlen(auth->date), k)) != OWL_OK ||
        (rc = hmac(k, 32, auth->region, strlen(auth->region), k)) != OWL_OK ||
        (rc = hmac(k, 32, auth->service, strlen(auth->service), k)) != OWL_OK ||
        (rc = hmac(k, 32, TERMINATOR, strlen(TERMINATOR), k)) != OWL_OK ||
        (rc = hmac(k, 32, string_to_sign, len, k)) != OWL_OK)
        goto out;
    owl_hex(k, 32, out);
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

/* ---------------------------------------------------------------- verification */

static int parse_2digits(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

/* RFC 1123 Date header ("Sun, 30 Aug 2015 12:36:00 GMT"; the weekday is optional; the zone
 * may be GMT, UT, UTC, Z or a numeric offset, as Python's formatdate writes "-0000"). */
static int parse_http_date(const char *s, int64_t *secs)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int day = 0, year = 0, h, mi, sec, mon = -1;
    const char *p = s;
    while (is_blank(*p))
        p++;
    const char *comma = strchr(p, ',');
    if (comma)
        p = comma + 1;
    while (is_blank(*p))
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    day = *p++ - '0';
    if (*p >= '0' && *p <= '9')
        day = day * 10 + (*p++ - '0');
    if (*p++ != ' ')
        return -1;
    for (int m = 0; m < 12; m++)
        if (strncmp(p, months + 3 * m, 3) == 0)
            mon = m + 1;
    if (mon < 0 || p[3] != ' ')
        return -1;
    p += 4;
    for (int i = 0; i < 4; i++, p++) {
        if (*p < '0' || *p > '9')
            return -1;
        year = year * 10 + (*p - '0');
    }
    if (*p++ != ' ' || parse_2digits(p, &h) || p[2] != ':' || parse_2digits(p + 3, &mi) ||
        p[5] != ':' || parse_2digits(p + 6, &sec))
        return -1;
    p += 8;
    while (is_blank(*p))
        p++;
    int64_t off = 0;
    if ((*p == '+' || *p == '-') && strlen(p) == 5) {
        int oh, om;
        if (parse_2digits(p + 1, &oh) || parse_2digits(p + 3, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else if (strcmp(p, "GMT") && strcmp(p, "UT") && strcmp(p, "UTC") && strcmp(p, "Z")) {
        return -1;
    }
    if (day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    *secs = owl_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + h * 3600 + mi * 60 +
            sec - off;
    return 0;
}

/* The request time from X-Amz-Date, or failing that Date, in basic format and epoch s. */
static int request_time(const owl_sigv4_msg *msg, char amz[17], int64_t *secs, owl_error *err)
{
    size_t count = 0;
    const char *v = find_header(msg, "x-amz-date", &count);
    if (count > 1)
        return owl_error_set(err, OWL_EINVAL, "X-Amz-Date header appears more than once");
    if (v) {
        size_t n = strlen(v);
        if (owl_time_parse_amz(v, n, secs) != OWL_OK)
            return owl_error_set(err, OWL_EINVAL,
                                 "X-Amz-Date must be in ISO-8601 basic format "
                                 "(yyyyMMdd'T'HHmmss'Z'), got '%.32s'", v);
        memcpy(amz, v, 16);
        amz[16] = '\0';
        return OWL_OK;
    }
    v = find_header(msg, "date", &count);
    if (!v)
        return owl_error_set(err, OWL_EINVAL,
                             "Authorization header requires existence of either a 'X-Amz-Date' "
                             "or a 'Date' header.");
    if (count > 1)
        return owl_error_set(err, OWL_EINVAL, "Date header appears more than once");
    if (parse_http_date(v, secs) != 0)
        return owl_error_set(err, OWL_EINVAL, "Date header is not an RFC 1123 date: '%.40s'", v);
    format_amz(*secs, amz);
    return OWL_OK;
}

static int check_skew(const char amz[17], int64_t t, int64_t now_s, int64_t skew,
                      owl_error *err)
{
    char now_txt[17], edge[17];
    if (skew <= 0)
        skew = MAX_SKEW_S;
    if (t < now_s - skew) {
        format_amz(now_s, now_txt);
        format_amz(now_s - skew, edge);
        return owl_error_set(err, OWL_EEXPIRED,
                             "Signature expired: %s is now earlier than %s (%s - %lld min.)", amz,
                             edge, now_txt, (long long)(skew / 60));
    }
    if (t > now_s + skew) {
        format_amz(now_s, now_txt);
        format_amz(now_s + skew, edge);
        return owl_error_set(err, OWL_EEXPIRED,
                             "Signature not yet current: %s is still later than %s (%s + %lld "
                             "min.)", amz, edge, now_txt, (long long)(skew / 60));
    }
    return OWL_OK;
}

/* x-amz-content-sha256, when sent, stands for the body in the canonical request, so a hex
 * claim must be the body's real digest. UNSIGNED-PAYLOAD (and the STREAMING-* chunk-signed
 * forms, which owld does not verify chunk by chunk) leave the body unauthenticated: over
 * plain HTTP anyone on the path could swap it under a valid signature, so they are accepted
 * only when the operator says TLS protects the connection (msg->allow_unsigned_payload). */
static int check_payload_claim(const owl_sigv4_msg *msg, owl_error *err)
{
    size_t count = 0;
    const char *claim = find_header(msg, "x-amz-content-sha256", &count);
    if (!claim)
        return OWL_OK;
    if (count > 1)
        return owl_error_set(err, OWL_EINVAL, "x-amz-content-sha256 header appears more than once");
    if (strcmp(claim, "UNSIGNED-PAYLOAD") == 0 || strncmp(claim, "STREAMING-", 10) == 0) {
        if (msg->allow_unsigned_payload && strcmp(claim, "UNSIGNED-PAYLOAD") == 0)
            return OWL_OK;
        return owl_error_set(err, OWL_EINVAL,
                             "x-amz-content-sha256 '%.40s' is not accepted: sign the payload "
                             "(its hex SHA-256)%s", claim,
                             msg->allow_unsigned_payload ? ""
                                                         : " unless owld runs behind TLS "
                                                           "(--trust-tls-proxy yes)");
    }
    int hex = strlen(claim) == 64;
    for (size_t i = 0; hex && i < 64; i++)
        hex = owl_hex_digit((unsigned char)claim[i]) >= 0;
    if (!hex)
        return owl_error_set(err, OWL_EINVAL,
                             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of "
                             "the body; '%.40s' is not supported", claim);
    char real[65];
    if (sha256_hex(msg->body ? msg->body : "", msg->body ? msg->body_len : 0, real) != OWL_OK)
        return owl_error_set(err, OWL_EINTERNAL, "SHA-256 failed");
    if (strcasecmp(real, claim) != 0)
        return owl_error_set(err, OWL_ESIGNATURE,
                             "The provided 'x-amz-content-sha256' header does not match what was "
                             "computed.");
    return OWL_OK;
}

int owl_sigv4_verify(const owl_sigv4_msg *msg, const owl_sigv4_auth *auth, const char *secret,
                     int64_t now_s, owl_error *err)
{
    owl_buf creq = OWL_BUF_INIT, sts = OWL_BUF_INIT;
    char buf[1024], amz[17], sig[65];
    const char *names[OWL_SIGV4_MAX_SIGNED];
    size_t count = 0;
    int64_t t = 0;
    int rc;
    if (!secret) {
        rc = owl_error_set(err, OWL_EINVAL, "no secret for the access key");
        goto out;
    }
    if (strlen(auth->signature) != 64) {
        rc = owl_error_set(err, OWL_EINVAL, "Signature must be 64 hex digits");
        goto out;
    }
    if ((rc = split_signed(auth->signed_headers, buf, names, &count, err)) != OWL_OK)
        goto out;
    if (!bsearch(&(const char *){"host"}, names, count, sizeof names[0], cmp_str)) {
        rc = owl_error_set(err, OWL_EINVAL,
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                           "Authorization.");
        goto out;
    }
    if ((rc = request_time(msg, amz, &t, err)) != OWL_OK)
        goto out;
    if (memcmp(auth->date, amz, 8) != 0) {
        rc = owl_error_set(err, OWL_EINVAL,
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                           "of date from HTTP: '%.8s' != '%.8s', from '%s'.", auth->date, amz, amz);
        goto out;
    }
    if ((rc = check_skew(amz, t, now_s, msg->max_skew_s, err)) != OWL_OK ||
        (rc = check_payload_claim(msg, err)) != OWL_OK ||
        (rc = owl_sigv4_canonical_request(msg, auth, &creq, err)) != OWL_OK ||
        (rc = owl_sigv4_string_to_sign(auth, amz, creq.data, creq.len, &sts, err)) != OWL_OK)
        goto out;
    if ((rc = owl_sigv4_sign(secret, auth, sts.data, sts.len, sig)) != OWL_OK) {
        owl_error_set(err, rc, "cannot compute the signature (%s)", owl_strerror(rc));
        goto out;
    }
    if (!owl_ct_equal(sig, auth->signature, 64)) {
        rc = owl_error_set(err, OWL_ESIGNATURE,
                           "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method.");
        goto out;
    }
    rc = OWL_OK;
out:
    OPENSSL_cleanse(sig, sizeof sig);
    owl_buf_free(&creq);
    owl_buf_free(&sts);
    return rc;
}

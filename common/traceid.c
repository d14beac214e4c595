/* traceid.c — trace and span ids between text and bytes (the table is in traceid.h).
 * Invariant: every parser refuses what it cannot read exactly — no truncation, no padding
 * beyond Zipkin's 64-bit form, no all-zero id — so one id has one byte value whatever form
 * it arrived in. */
#include <string.h>

#include "common/traceid.h"

static const char hexdig[] = "0123456789abcdef";

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* s[0..2*n) into out[0..n); the index of the first non-hex character, or -1 when all are. */
static long unhex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0)
            return (long)(2 * i);
        if (lo < 0)
            return (long)(2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return -1;
}

static void tohex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
}

int owl_traceid_is_zero(const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (id[i])
            return 0;
    return 1;
}

static int bad_char(const char *what, const char *s, long at, owl_error *err)
{
    unsigned char c = (unsigned char)s[at];
    if (c >= 0x20 && c < 0x7f)
        return owl_error_set(err, OWL_EINVAL, "%s: '%c' at offset %ld is not a hex digit",
                             what, c, at);
    return owl_error_set(err, OWL_EINVAL, "%s: byte 0x%02x at offset %ld is not a hex digit",
                         what, c, at);
}

int owl_traceid_from_hex(const char *s, size_t n, uint8_t out[16], owl_error *err)
{
    long at;
    if (n != 32 && n != 16)
        return owl_error_set(err, OWL_EINVAL,
                             "trace id: %zu characters (32 or 16 hex digits expected)", n);
    memset(out, 0, 16);
    if ((at = unhex(s, n / 2, out + 16 - n / 2)) >= 0)
        return bad_char("trace id", s, at, err);
    if (owl_traceid_is_zero(out, 16))
        return owl_error_set(err, OWL_EINVAL, "trace id: all zero");
    return OWL_OK;
}

int owl_traceid_from_xray(const char *s, size_t n, uint8_t out[16], owl_error *err)
{
    long at;
    if (n != OWL_TRACEID_XRAY_SIZE - 1)
        return owl_error_set(err, OWL_EINVAL,
                             "X-Ray trace id: %zu characters (35 expected: 1-xxxxxxxx-"
                             "xxxxxxxxxxxxxxxxxxxxxxxx)", n);
    if (s[0] != '1' || s[1] != '-')
        return owl_error_set(err, OWL_EINVAL, "X-Ray trace id: does not start with version 1-");
    if (s[10] != '-')
        return owl_error_set(err, OWL_EINVAL, "X-Ray trace id: no '-' at offset 10");
    if ((at = unhex(s + 2, 4, out)) >= 0)
        return bad_char("X-Ray trace id", s, at + 2, err);
    if ((at = unhex(s + 11, 12, out + 4)) >= 0)
        return bad_char("X-Ray trace id", s, at + 11, err);
    if (owl_traceid_is_zero(out, 16))
        return owl_error_set(err, OWL_EINVAL, "X-Ray trace id: all zero");
    return OWL_OK;
}

int owl_traceid_parse(const char *s, size_t n, uint8_t out[16], owl_error *err)
{
    if (n == OWL_TRACEID_XRAY_SIZE - 1 && s[0] == '1' && s[1] == '-')
        return owl_traceid_from_xray(s, n, out, err);
    return owl_traceid_from_hex(s, n, out, err);
}

void owl_traceid_to_hex(const uint8_t id[16], char out[OWL_TRACEID_HEX_SIZE])
{
    tohex(id, 16, out);
    out[32] = '\0';
}

void owl_traceid_to_xray(const uint8_t id[16], char out[OWL_TRACEID_XRAY_SIZE])
{
    out[0] = '1';
    out[1] = '-';
    tohex(id, 4, out + 2);
    out[10] = '-';
    tohex(id + 4, 12, out + 11);
    out[35] = '\0';
}

int owl_traceid_span_from_hex(const char *s, size_t n, uint8_t out[8], owl_error *err)
{
    long at;
    if (n != 16)
        return owl_error_set(err, OWL_EINVAL, "span id: %zu characters (16 hex digits expected)",
                             n);
    if ((at = unhex(s, 8, out)) >= 0)
        return bad_char("span id", s, at, err);
    if (owl_traceid_is_zero(out, 8))
        return owl_error_set(err, OWL_EINVAL, "span id: all zero");
    return OWL_OK;
}

void owl_traceid_span_to_hex(const uint8_t id[8], char out[OWL_SPANID_HEX_SIZE])
{
    tohex(id, 8, out);
    out[16] = '\0';
}

/* otlp_jtext.h — the JSON text readers of the OTLP JSON fast paths (private to ingest/): the
 * transcoder's (otlp_json.c, owl_otlp_json_fast) and the traces decoder's direct path
 * (otlp_traces.c). Each reads one item at a cursor *p (the text ends at end) exactly as
 * owl_aws_json_decode's document reads it through otlp_json.c's general path, moving *p
 * past it, or answers OWL_EUNSUPPORTED (*p then unspecified) for what the general path
 * refuses and for some odd text it takes: the caller then gives the body to the general
 * path. Sharing them keeps the two fast readers of one language from drifting apart. */
#ifndef OWL_INGEST_OTLP_JTEXT_H
#define OWL_INGEST_OTLP_JTEXT_H

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "common/endian.h"
#include "common/utf8.h"
#include "common/util.h"
#include "ingest/aws_int.h"
#include "ingest/ingest.h"

#define OWL_JT_NUM_TEXT 64 /* a number or enum name given as a string, at most */

/* 1 when s is a decimal integer as the JSON mapping writes one: digits, after a '-' for a
 * signed type (strtoll alone would take leading blanks, '+', and " -1" as 2^64 - 1). */
static inline int owl_jt_number_text(const char *s, int is_signed)
{
    if (is_signed && *s == '-')
        s++;
    return *s >= '0' && *s <= '9';
}

/* 1 when u (an integer as read for type t) is a value of t: 32-bit types would otherwise be
 * cut when unpacked (droppedAttributesCount 4294967296 read as 0). */
static inline int owl_jt_fits(ProtobufCType t, uint64_t u)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return (int64_t)u >= INT32_MIN && (int64_t)u <= INT32_MAX;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return u <= UINT32_MAX;
    default:
        return 1;
    }
}

/* ---- whitespace and separators ---- */

static inline void owl_jt_ws(const char **p, const char *end)
{
    /* most often no whitespace at all: one test for any byte past ' ' */
    const char *q = *p;
    while (q < end && (unsigned char)*q <= ' ' &&
           (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
        q++;
    *p = q;
}

/* After a member or an element: 1 past a ',' (another follows), 0 past the closing byte,
 * -1 for anything else. */
static inline int owl_jt_sep(const char **p, const char *end, char close)
{
    if (*p < end) { /* most bodies have no whitespace: the byte is there */
        char c = **p;
        if (c == ',' || c == close) {
            (*p)++;
            return c == ',';
        }
    }
    owl_jt_ws(p, end);
    if (*p < end && (**p == ',' || **p == close))
        return *(*p)++ == ',';
    return -1;
}

/* Past whitespace to the next byte (a value, a name, a closing one): OWL_OK, or
 * OWL_EUNSUPPORTED at the end of the text. */
static inline int owl_jt_next(const char **p, const char *end)
{
    if (*p < end && (unsigned char)**p > ' ')
        return OWL_OK; /* most bodies have no whitespace */
    owl_jt_ws(p, end);
    return *p < end ? OWL_OK : OWL_EUNSUPPORTED;
}

/* Past byte c, after whitespace: OWL_OK, or OWL_EUNSUPPORTED when another byte is there. */
static inline int owl_jt_past(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        owl_jt_ws(p, end);
    if (*p >= end || **p != c)
        return OWL_EUNSUPPORTED;
    (*p)++;
    return OWL_OK;
}

/* The literal word[0..n) ("true", "false", "null"). */
static inline int owl_jt_lit(const char **p, const char *end, const char *word, size_t n)
{
    if ((size_t)(end - *p) < n || memcmp(*p, word, n) != 0)
        return OWL_EUNSUPPORTED;
    *p += n;
    return OWL_OK;
}

/* A boolean, true or false, as *v 1 or 0. */
static inline int owl_jt_bool(const char **p, const char *end, uint64_t *v)
{
    *v = **p == 't';
    return *v ? owl_jt_lit(p, end, "true", 4) : owl_jt_lit(p, end, "false", 5);
}

/* A number, read as owl__json_number reads it for the JSON decoder. */
static inline int owl_jt_num(const char **p, const char *end, owl__json_num *v)
{
    size_t used;
    if (owl__json_number(*p, (size_t)(end - *p), &used, v))
        return OWL_EUNSUPPORTED;
    *p += used;
    return OWL_OK;
}

/* ---- strings ---- */

/* owl_jt_str_escaped — owl_jt_str's string when its first run of plain bytes ends short of
 * the closing quote (at an escape, a control byte or the end): decoded into tmp (reset
 * first), or OWL_EUNSUPPORTED; OWL_ENOMEM. It scans that run again: five arguments, all in
 * registers, keep the inline callers' frames as small as when it was otlp_json.c's alone. */
int owl_jt_str_escaped(const char **p, const char *end, owl_buf *tmp, const char **s,
                       size_t *n);

/* The string at *p (its opening quote) as *s, *n: in the text when it has no escape, else
 * decoded into tmp (valid until tmp's next use). Declines what the general path refuses: a
 * control byte, a bad escape or surrogate, \u0000, invalid UTF-8, no closing quote. Inline
 * up to the first escape (most strings have none). OWL_OK, OWL_EUNSUPPORTED, OWL_ENOMEM. */
static inline int owl_jt_str(const char **p, const char *end, owl_buf *tmp, const char **s,
                             size_t *n)
{
    const char *a = *p + 1;
    int high = 0;
    const char *q = owl_json_str_run(a, end, &high);
    if (q >= end || *q != '"')
        return owl_jt_str_escaped(p, end, tmp, s, n);
    if (high && !owl_utf8_valid(a, (size_t)(q - a)))
        return OWL_EUNSUPPORTED;
    *s = a, *n = (size_t)(q - a);
    *p = q + 1;
    return OWL_OK;
}

/* owl_jt_str_text — a string value (a number or an enum name) into text[] NUL-terminated,
 * as the general path sees it through bson_iter_utf8; OWL_EUNSUPPORTED from
 * OWL_JT_NUM_TEXT bytes on. */
int owl_jt_str_text(const char **p, const char *end, owl_buf *tmp,
                    char text[OWL_JT_NUM_TEXT]);

/* ---- numbers ---- */

/* The top bits of those of the 8 bytes of w (read little-endian) that are not ASCII
 * digits, the lowest at the first: a byte is a digit when neither it less '0' nor it plus
 * 0x46 reaches 0x80. Only a byte that is not a digit borrows or carries into the next. */
static inline uint64_t owl_jt_non_digits(uint64_t w)
{
    return ((w - 0x3030303030303030u) | (w + 0x4646464646464646u)) & 0x8080808080808080u;
}

/* How many of the 8 bytes of w are ASCII digits before the first that is not one. */
static inline unsigned owl_jt_lead_digits(uint64_t w)
{
    uint64_t odd = owl_jt_non_digits(w);
    return odd ? (unsigned)__builtin_ctzll(odd) >> 3 : 8;
}

/* The number the 8 digits of w (first digit in the low byte) write. */
static inline uint64_t owl_jt_eight_digits(uint64_t w)
{
    w -= 0x3030303030303030u;
    w = w * 10 + (w >> 8); /* pairs: byte 2k = 10 * digit 2k + digit 2k+1 */
    return (((w & 0x000000ff000000ffu) * (100 + (1000000ull << 32))) +
            (((w >> 16) & 0x000000ff000000ffu) * (1 + (10000ull << 32)))) >> 32;
}

/* The run of ASCII digits at q (the text ends at end): its length, counted up to 20 at
 * least, and in *v the number it writes when 19 digits long at most. Eight at a time while
 * eight bytes can be read. */
static inline size_t owl_jt_digits(const char *q, const char *end, uint64_t *v)
{
    static const uint64_t pow10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    size_t nd = 0;
    uint64_t acc = 0;
    while (nd < 20 && end - q >= 8) {
        uint64_t w = owl_get64le(q);
        unsigned k = owl_jt_lead_digits(w);
        if (k < 8) {
            /* the k digits with zeros ahead of them, as eight */
            if (k)
                acc = acc * pow10[k] + owl_jt_eight_digits(w << (64 - 8 * k) |
                                                           0x3030303030303030u >> (8 * k));
            *v = acc;
            return nd + k;
        }
        acc = acc * 100000000u + owl_jt_eight_digits(w);
        q += 8, nd += 8;
    }
    for (; nd < 20 && q < end && *q >= '0' && *q <= '9'; q++, nd++)
        acc = acc * 10 + (uint64_t)(*q - '0');
    *v = acc;
    return nd;
}

/* A quoted run of 19 digits at *p as *v (as owl_jt_int reads it for an unsigned type), *p
 * moved past it: a time in nanoseconds since 2001, the fixed64 SDKs send, read as two words
 * of eight digits and three more, without owl_jt_digits' loop. 0 for other text (*p then
 * unchanged). Inlined: its frame cost as much as the digits. */
__attribute__((always_inline)) static inline int owl_jt_nanos(const char **p,
                                                              const char *end, uint64_t *v)
{
    const char *q = *p + 1;
    if (**p != '"' || end - q < 24 || q[19] != '"')
        return 0;
    uint64_t a = owl_get64le(q), b = owl_get64le(q + 8), c = owl_get64le(q + 16);
    if (owl_jt_non_digits(a) | owl_jt_non_digits(b) | (owl_jt_non_digits(c) & 0x808080))
        return 0;
    c -= 0x303030; /* digits: no byte borrows */
    *v = owl_jt_eight_digits(a) * 100000000000u + owl_jt_eight_digits(b) * 1000 +
         (c & 0xff) * 100 + (c >> 8 & 0xff) * 10 + (c >> 16 & 0xff);
    *p = q + 20;
    return 1;
}

/* A number of one digit at *p as *v (as owl_jt_int reads it), *p moved past it: a span's
 * kind, most counts. 0 when more of the number follows, or another value is there. */
static inline int owl_jt_one_digit(const char **p, const char *end, uint64_t *v)
{
    unsigned d = (unsigned char)(*p)[0] - (unsigned)'0';
    if (d > 9)
        return 0;
    if (end - *p > 1) {
        unsigned char c = (unsigned char)(*p)[1];
        if (c - (unsigned)'0' <= 9 || c == '.' || c == 'e' || c == 'E')
            return 0;
    }
    *v = d;
    (*p)++;
    return 1;
}

/* owl_jt_int — an integer value at *p (not at the end) as the general path's json_int
 * reads it (is_signed: of a signed type): a number, or digits in a string (what SDKs send
 * for int64 and fixed64). *out as json_int sets it; the caller checks the range of a 32-bit
 * type with owl_jt_fits. OWL_OK, OWL_EUNSUPPORTED, OWL_ENOMEM. */
int owl_jt_int(const char **p, const char *end, owl_buf *tmp, int is_signed, uint64_t *out);

/* owl_jt_double — a floating-point value at *p (not at the end) as the general path's
 * json_double reads it: a number, or a string ("NaN", "Infinity", "-Infinity", or what
 * strtod reads whole). OWL_OK, OWL_EUNSUPPORTED, OWL_ENOMEM. */
int owl_jt_double(const char **p, const char *end, owl_buf *tmp, double *out);

/* ---- ids ---- */

/* The bytes of the id whose text starts at s (past its opening quote; left bytes follow):
 * 8 or 16 for 16 or 32 characters before a quote (a span id's looked for first: there are
 * two of them to a trace id), 0 for an empty string, -1 for any other text. */
static inline int owl_jt_id_len(const char *s, size_t left)
{
    if (left > 16 && s[16] == '"')
        return 8;
    if (left > 32 && s[32] == '"')
        return 16;
    return left > 0 && s[0] == '"' ? 0 : -1;
}

/* The sixteen hex digits at s as eight bytes at o; 0 when one is not a hex digit (o then
 * holds rubbish). */
static inline int owl_jt_hex16(const char *s, uint8_t *o)
{
#ifdef __SSE2__
    /* a digit is 0..9 past '0'; a letter, its case bit set, 0..5 past 'a' (min_epu8(d, 9) ==
     * d: unsigned d <= 9); then pairs of nibbles, read as 16-bit lanes, join into a byte */
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
    if (_mm_movemask_epi8(_mm_or_si128(isd, isl)) != 0xffff)
        return 0;
    __m128i nib = _mm_or_si128(_mm_and_si128(isd, d),
                               _mm_andnot_si128(isd, _mm_add_epi8(l, _mm_set1_epi8(10))));
    __m128i pair = _mm_or_si128(_mm_slli_epi16(nib, 4), _mm_srli_epi16(nib, 8));
    pair = _mm_and_si128(pair, _mm_set1_epi16(0xff));
    _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(pair, pair));
    return 1;
#else
    for (int i = 0; i < 8; i++) {
        int hi = owl_hex_digit((unsigned char)s[2 * i]);
        int lo = owl_hex_digit((unsigned char)s[2 * i + 1]);
        if ((hi | lo) < 0)
            return 0;
        o[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
#endif
}

#endif

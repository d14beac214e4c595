/* utf8.c — UTF-8 checks (utf8.h). The bounds of each lead byte's second byte are those of
 * Unicode's table 3-7, which rule out overlong forms (E0, F0), surrogates (ED) and code
 * points past U+10FFFF (F4) without decoding the code point. */
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

#include "utf8.h"
#include "util.h"

size_t owl_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0; /* a continuation byte, C0/C1 (always overlong) or F5..FF */
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* s[0..n) well-formed, NUL bytes allowed when nul_ok. ASCII sixteen bytes at a time with
 * SSE2, then eight at a time, and the last few bytes by one more look at the last eight when
 * they are all ASCII; a byte past ASCII goes to owl_utf8_seq. */
static int valid(const char *s, size_t n, int nul_ok)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
#ifdef __SSE2__
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned odd = (unsigned)_mm_movemask_epi8(v); /* past ASCII */
        if (!nul_ok)
            odd |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
        if (odd)
            break;
        i += 16;
    }
#endif
    int last8 = n >= 8; /* the look at the last eight is still to take */
    while (i < n) {
        uint64_t w;
        if (n - i >= 8 || (last8 && i > 0)) {
            /* the next eight bytes, or the last eight when fewer are left (those before i
             * passed already; once only: they stay what they are): every byte below 0x80
             * and, unless nul_ok, above 0 (subtracting one from each byte borrows, setting a
             * high bit, only where a byte is zero) */
            size_t at = n - i >= 8 ? i : n - 8;
            last8 &= at != n - 8;
            memcpy(&w, p + at, 8);
            if (!((nul_ok ? w : w | (w - 0x0101010101010101ull)) & 0x8080808080808080ull)) {
                i = at + 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c - 1u < 0x7fu) { /* ASCII other than NUL */
            i++;
            continue;
        }
        if (c == 0 && !nul_ok)
            return 0;
        size_t l = c == 0 ? 1 : owl_utf8_seq(p + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

int owl_utf8_valid(const char *s, size_t n)
{
    return valid(s, n, 0);
}

int owl_utf8_well_formed(const char *s, size_t n)
{
    return valid(s, n, 1);
}

/* The four hex digits at p (end - p of them readable) as *v; -1 when they are not. */
static int hex4(const char *p, const char *end, unsigned *v)
{
    if (end - p < 4)
        return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = owl_hex_digit((unsigned char)p[k]);
        if (h < 0)
            return -1;
        *v = *v << 4 | (unsigned)h;
    }
    return 0;
}

int owl_json_escape(const char **p, const char *end, unsigned *cp)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *q = *p;
    if (q >= end)
        return OWL_JSON_ESC_BAD;
    char c = *q++;
    const char *simple = c ? strchr(from, c) : NULL;
    if (simple) {
        *cp = (unsigned char)to[simple - from];
        *p = q;
        return OWL_JSON_ESC_OK;
    }
    unsigned hi, lo;
    if (c != 'u' || hex4(q, end, &hi) != 0)
        return OWL_JSON_ESC_BAD;
    q += 4;
    if (hi >= 0xdc00 && hi < 0xe000)
        return OWL_JSON_ESC_LONE;
    if (hi >= 0xd800 && hi < 0xdc00) {
        if (end - q < 2 || q[0] != '\\' || q[1] != 'u')
            return OWL_JSON_ESC_LONE;
        if (hex4(q + 2, end, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return OWL_JSON_ESC_PAIR;
        q += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = hi;
    *p = q;
    return OWL_JSON_ESC_OK;
}

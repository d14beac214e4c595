/* utf8.c — UTF-8 checks (utf8.h). The bounds of each lead byte's second byte are those of
 * Unicode's table 3-7, which rule out overlong forms (E0, F0), surrogates (ED) and code
 * points past U+10FFFF (F4) without decoding the code point. */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

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

/* s[0..n) well-formed, NUL bytes allowed when nul_ok. Eight ASCII bytes at a time where it
 * can. */
static int valid(const char *s, size_t n, int nul_ok)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint64_t w;
        if (n - i >= 8) {
            memcpy(&w, p + i, 8);
            /* every byte below 0x80 (and, unless nul_ok, above 0: subtracting one from each
             * byte borrows, setting a high bit, only where a byte is zero) */
            if (!((nul_ok ? w : w | (w - 0x0101010101010101ull)) & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        if (p[i] == 0 && !nul_ok)
            return 0;
        size_t l = owl_utf8_seq(p + i, n - i);
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

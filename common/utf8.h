/* utf8.h — UTF-8 well-formedness as Unicode 15 table 3-7 defines it: no stray continuation
 * bytes, no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no
 * sequence cut short. owl_utf8_valid also refuses NUL, so that what it accepts is exactly
 * what a BSON string may hold (bson_utf8_validate(s, n, false); tests/unit/test_common.c
 * compares the two on random inputs). */
#ifndef OWL_UTF8_H
#define OWL_UTF8_H

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/endian.h"

/* owl_utf8_seq — the length (1 to 4) of the well-formed sequence that starts s (n > 0 bytes
 * readable), 0 when s does not start one. A NUL byte is a sequence of 1. Cannot fail. */
size_t owl_utf8_seq(const unsigned char *s, size_t n);

/* owl_utf8_valid — 1 when s[0..n) is well-formed UTF-8 without a NUL byte, 0 otherwise
 * (s may be NULL when n is 0). Eight ASCII bytes at a time where it can. Cannot fail. */
int owl_utf8_valid(const char *s, size_t n);

/* owl_utf8_well_formed — as owl_utf8_valid, but NUL bytes are allowed (a log message may hold
 * them). Cannot fail. */
int owl_utf8_well_formed(const char *s, size_t n);

/* owl_utf8_ascii — 1 when s[0..n) is all ASCII (NUL included), so well-formed UTF-8: the
 * common case of a name or value, tested inline eight bytes at a time (the last few by
 * overlapping loads) before a call to the full check. Cannot fail. */
static inline int owl_utf8_ascii(const char *s, size_t n)
{
    uint64_t w, any = 0;
    uint32_t h, t;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            any |= w;
        }
        memcpy(&w, s + n - 8, 8);
        return !((any | w) & 0x8080808080808080ull);
    }
    if (n >= 4) {
        memcpy(&h, s, 4);
        memcpy(&t, s + n - 4, 4);
        return !((h | t) & 0x80808080u);
    }
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/* owl_utf8_put — code point cp (below 0x110000, not a surrogate) as UTF-8 in out; returns
 * its length, 1 to 4. Cannot fail. */
static inline size_t owl_utf8_put(char out[4], unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* owl_json_escape — the JSON escape whose backslash is just before *p (the text ends at
 * end): its code point in *cp ("\n" gives 10, "\u00e9" 0xe9, a surrogate pair such as
 * "\ud83d\ude00" one code point past U+FFFF) and *p moved past it. OWL_JSON_ESC_OK, or why
 * RFC 8259 refuses it: OWL_JSON_ESC_BAD (no such escape, or cut short), OWL_JSON_ESC_LONE (a
 * lone surrogate), OWL_JSON_ESC_PAIR (a high surrogate followed by an escape that is not a
 * low one); *p is then unspecified. "\u0000" gives 0: callers that refuse NUL check cp.
 * The one escape decoder of owl's JSON readers (aws_json.c, putlog_json.c, otlp_json.c). */
enum { OWL_JSON_ESC_OK = 0, OWL_JSON_ESC_BAD = -1, OWL_JSON_ESC_LONE = -2,
       OWL_JSON_ESC_PAIR = -3 };
int owl_json_escape(const char **p, const char *end, unsigned *cp);

/* owl_json_str_run — the first byte at or after p that ends a run of plain JSON string
 * bytes: '"', '\\' or a control character (end when none); *high is set when a byte before
 * it is past ASCII. Sixteen bytes at a time with SSE2, then eight at a time: "has a zero
 * byte" on w ^ '"' and w ^ '\\', and "has a byte below 0x20" on w, each exact about
 * whether some byte matches and about the first that does (a false match can only follow a
 * true one: the borrow runs upwards), so the word that holds the end gives its place without
 * a byte loop. */
static inline const char *owl_json_str_run(const char *p, const char *end, int *high)
{
    const uint64_t ones = 0x0101010101010101ull, top = 0x8080808080808080ull;
    uint64_t seen = 0;
#ifdef __SSE2__
    /* sixteen bytes at a time where SSE2 is there (every x86-64): a byte ends the run when
     * it equals '"' or '\\' or when max(byte, 0x1f) is 0x1f (unsigned: below 0x20); the
     * masks' lowest set bit is the first such byte, their top bits the bytes past ASCII */
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    unsigned hi = 0;
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
        unsigned stop = (unsigned)_mm_movemask_epi8(m), h = (unsigned)_mm_movemask_epi8(v);
        if (stop) {
            unsigned at = (unsigned)__builtin_ctz(stop);
            *high |= (hi | (h & ((1u << at) - 1))) != 0;
            return p + at;
        }
        hi |= h;
        p += 16;
    }
    *high |= hi != 0;
#endif
    while (end - p >= 8) {
        uint64_t w = owl_get64le(p), q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t m = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & top;
        if (m) {
            int at = __builtin_ctzll(m) >> 3; /* the first byte is the lowest */
            seen |= at ? w & (~0ull >> (64 - 8 * at)) : 0;
            *high |= (seen & top) != 0;
            return p + at;
        }
        seen |= w;
        p += 8;
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20)
            break;
        seen |= c;
    }
    *high |= (seen & top) != 0;
    return p;
}

#endif

/* encode.c — column chunk encodings (I64RAW, DELTA, DOD, CONST, FOR, DFOR, F64RAW, XOR, F64INT,
 * F64DEC, F64SEG, STR, DICT, FIXED) and chunk packing (zstd + crc32c); the byte layouts are the
 * tables in encode.h.
 *
 * Invariants: encoders write into one reservation sized in advance (no per-value
 * allocation); integer differences are taken in uint64 so they wrap and decode back exactly;
 * decoders read untrusted bytes: every length is checked against the bytes left before use,
 * every product or sum is checked for overflow, and a decoder consumes its input exactly. */
#include "common/endian.h"
#include "index/encode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "index/bloom.h"

/* x86-64 builds carry a BMI2 (pext) reader for DELTA and DOD, picked at run time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OWL_PEXT 1
#include <immintrin.h>
#else
#define OWL_PEXT 0
#endif

/* A DICT never holds more distinct values than this (indexes stay 3-byte varints at most). */
#define DICT_MAX 65536u
/* Dictionaries up to this size are decoded into a stack array. */
#define DICT_STACK 256u

/* ---- little helpers ---- */

/* Reserves exactly `need` bytes at the end of out and returns where to write them. */
static uint8_t *grow(owl_buf *out, size_t need)
{
    if (owl_buf_reserve(out, need) != OWL_OK)
        return NULL;
    return (uint8_t *)out->data + out->len;
}

/* Commits the bytes written since grow() up to o, keeping the buffer NUL-terminated. */
static void commit(owl_buf *out, const uint8_t *o)
{
    out->len = (size_t)((const char *)o - out->data);
    out->data[out->len] = '\0';
}

/* ---- varints ---- */

size_t owl_varint_put(uint8_t *out, uint64_t v)
{
    return (size_t)(owl_varint_write(out, v) - out);
}

int owl_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (q >= end)
            return OWL_ECORRUPT;
        uint8_t b = *q++;
        /* the tenth byte may only carry bit 63 */
        if (shift == 63 && b > 1)
            return OWL_ECORRUPT;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            *p = q;
            return OWL_OK;
        }
    }
    return OWL_ECORRUPT;
}

/* ---- 64-bit integers ---- */

/* Bytes DOD takes for v[0..n), n >= 1, whose first varint takes head - 1. */
static size_t dod_size(const int64_t *v, size_t n, size_t head)
{
    size_t size = head;
    uint64_t prev_d = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t d = (uint64_t)v[i] - (uint64_t)v[i - 1];
        size += owl_varint_len(owl_zigzag((int64_t)(d - prev_d)));
        prev_d = d;
    }
    return size;
}

/* Bits x needs (0 for 0). */
static inline unsigned bit_width(uint64_t x)
{
    return x ? 64 - (unsigned)__builtin_clzll(x) : 0;
}

/* Bytes m values of w bits take packed, ceil(m * w / 8), with no product of m and w that
 * could overflow for any m the callers allow. */
static inline size_t packed_bytes(size_t m, unsigned w)
{
    return m / 8 * w + (m % 8 * w + 7) / 8;
}

/* Packs the offsets of v[delta..n) w (1..64) bits each, least significant bit first, and
 * returns the end: v[i] - base (FOR, delta = 0) or v[i] - v[i-1] - base (DFOR, delta = 1).
 * Inlined with delta a constant. For w <= 56 each value is one 8-byte store of the bits still
 * pending (< 8) and its own, which may write up to 7 bytes past the end: the caller's
 * reservation has room, and commit() leaves them out. */
static inline uint8_t *pack(uint8_t *o, const int64_t *v, size_t n, int64_t base, unsigned w,
                            int delta)
{
    uint64_t acc = 0, x;
    unsigned nb = 0;
    if (w <= 56) {
        for (size_t i = (size_t)delta; i < n; i++) {
            x = (uint64_t)v[i] - (delta ? (uint64_t)v[i - 1] : 0) - (uint64_t)base;
            acc |= x << nb;
            owl_put64le(o, acc);
            nb += w;
            o += nb >> 3;
            acc >>= nb & 56;
            nb &= 7;
        }
        return o + (nb != 0);
    }
    for (size_t i = (size_t)delta; i < n; i++) {
        x = (uint64_t)v[i] - (delta ? (uint64_t)v[i - 1] : 0) - (uint64_t)base;
        acc |= x << nb;
        if (nb + w < 64) {
            nb += w;
            continue;
        }
        owl_put64le(o, acc);
        o += 8;
        /* the bits of x that did not fit (none when nb was 0: then w was 64) */
        acc = nb ? x >> (64 - nb) : 0;
        nb = nb + w - 64;
    }
    for (unsigned k = 0; k < nb; k += 8)
        *o++ = (uint8_t)(acc >> k);
    return o;
}

/* FOR: v[i] - base (base the least value) in w bits each. */
static uint8_t *put_for(uint8_t *o, const int64_t *v, size_t n, int64_t base, unsigned w)
{
    o = owl_varint_write(o, n);
    o = owl_varint_write(o, owl_zigzag(base));
    *o++ = (uint8_t)w;
    return w ? pack(o, v, n, base, w, 0) : o;
}

/* DFOR (n >= 2): v0, then d[i] - base (base the least delta) in w bits each. */
static uint8_t *put_dfor(uint8_t *o, const int64_t *v, size_t n, int64_t base, unsigned w)
{
    o = owl_varint_write(o, n);
    o = owl_varint_write(o, owl_zigzag(v[0]));
    o = owl_varint_write(o, owl_zigzag(base));
    *o++ = (uint8_t)w;
    return w ? pack(o, v, n, base, w, 1) : o;
}

/* What owl_enc_i64 learns of the values in one pass: DELTA's size and the least and greatest
 * value and delta, which give FOR's and DFOR's. */
struct survey {
    size_t head;                    /* 1 + the bytes of v0's varint: CONST's size */
    size_t delta, forr, dfor;       /* sizes, the id byte included; dfor SIZE_MAX for n = 1 */
    unsigned wf, wd;                /* FOR's and DFOR's widths */
    int64_t vmin, vmax, dmin, dmax; /* dmin > dmax for n = 1 */
};

/* Surveys v[0..n), n >= 1, and with o set writes DELTA's varints there on the way. Inlined
 * with o NULL or not, so each form gets its own loop. */
static inline void survey(const int64_t *v, size_t n, uint8_t *o, struct survey *s)
{
    uint64_t z = owl_zigzag(v[0]);
    uint8_t *o0 = o;
    size_t size = 1 + owl_varint_len(z), head = size, nlen = owl_varint_len(n);
    if (o)
        o = owl_varint_write(o, z);
    int64_t vmin = v[0], vmax = v[0], dmin = INT64_MAX, dmax = INT64_MIN;
    for (size_t i = 1; i < n; i++) {
        int64_t d = (int64_t)((uint64_t)v[i] - (uint64_t)v[i - 1]);
        z = owl_zigzag(d);
        if (o)
            o = owl_varint_write(o, z);
        else
            size += owl_varint_len(z);
        vmin = v[i] < vmin ? v[i] : vmin;
        vmax = v[i] > vmax ? v[i] : vmax;
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
    }
    s->head = head;
    s->delta = o ? 1 + (size_t)(o - o0) : size;
    s->vmin = vmin, s->vmax = vmax, s->dmin = dmin, s->dmax = dmax;
    s->wf = bit_width((uint64_t)vmax - (uint64_t)vmin);
    s->forr = 2 + nlen + owl_varint_len(owl_zigzag(vmin)) + packed_bytes(n, s->wf);
    s->wd = 0;
    s->dfor = SIZE_MAX;
    if (n > 1) {
        s->wd = bit_width((uint64_t)dmax - (uint64_t)dmin);
        s->dfor = 1 + nlen + head + owl_varint_len(owl_zigzag(dmin)) + packed_bytes(n - 1, s->wd);
    }
}

#define I64_SAMPLE 64 /* values owl_enc_i64 surveys first to guess whether DELTA will win */

/* The values are surveyed (struct survey), DOD sized when it could win, and the smallest
 * written. DELTA is written during the survey when the first I64_SAMPLE values say it will
 * win (small deltas with a few large ones: no second pass then); otherwise the survey only
 * sizes it, and high-entropy columns, where FOR or DFOR win, skip the varints' byte loop. A
 * wrong guess costs time, never size: the choice is made on the whole survey. */
int owl_enc_i64(const int64_t *v, size_t n, owl_buf *out)
{
    if (n > (SIZE_MAX - 64) / 10)
        return OWL_ENOMEM;
    /* DELTA's 10 bytes a value at most, FOR and DFOR 8 and a header of up to 31 */
    uint8_t *start = grow(out, 32 + 10 * n);
    if (!start)
        return OWL_ENOMEM;
    if (n == 0) {
        start[0] = OWL_ENC_I64RAW;
        commit(out, start + 1);
        return OWL_OK;
    }
    struct survey s;
    int eager = 0;
    if (n > I64_SAMPLE) {
        survey(v, I64_SAMPLE, NULL, &s);
        eager = s.delta < s.forr && s.delta < s.dfor;
    }
    if (eager)
        survey(v, n, start + 1, &s);
    else
        survey(v, n, NULL, &s);
    size_t head = s.head, delta = s.delta, forr = s.forr, dfor = s.dfor, raw = 1 + 8 * n;
    size_t konst = s.vmin == s.vmax ? head : SIZE_MAX;
    /* DOD takes a byte a value at least: it can only win when some delta took more, and when
     * neither packed form takes as little */
    size_t least = head + n - 1, packed = forr < dfor ? forr : dfor;
    size_t dod = delta > least && packed > least ? dod_size(v, n, head) : SIZE_MAX;
    /* The smallest wins; on ties the one that decodes faster (test_encode's bench lines):
     * CONST; RAW, a copy; FOR, a load, shift and mask a value (0.7-0.9 ns); DFOR, the same and
     * a running sum (0.9-1 ns); DELTA and DOD, a varint a value whose start waits on the last
     * one's length (1 ns when all take one byte, 2.5-7 ns when lengths vary). DFOR can tie
     * DELTA only when lengths vary: when all take k bytes the deltas span under 7k bits, and
     * DFOR is smaller but for a short column's header. */
    enum owl_enc enc = OWL_ENC_DOD;
    size_t size = dod;
    if (delta <= size)
        enc = OWL_ENC_DELTA, size = delta;
    if (dfor <= size)
        enc = OWL_ENC_DFOR, size = dfor;
    if (forr <= size)
        enc = OWL_ENC_FOR, size = forr;
    if (raw <= size)
        enc = OWL_ENC_I64RAW, size = raw;
    if (konst <= size)
        enc = OWL_ENC_CONST, size = konst;
    start[0] = (uint8_t)enc;
    uint8_t *o = start + 1;
    switch (enc) {
    case OWL_ENC_CONST:
        o = owl_varint_write(o, owl_zigzag(v[0]));
        break;
    case OWL_ENC_DELTA:
        if (eager) {
            o = start + size;
            break;
        }
        o = owl_varint_write(o, owl_zigzag(v[0]));
        for (size_t i = 1; i < n; i++)
            o = owl_varint_write(o, owl_zigzag((int64_t)((uint64_t)v[i] - (uint64_t)v[i - 1])));
        break;
    case OWL_ENC_FOR:
        o = put_for(o, v, n, s.vmin, s.wf);
        break;
    case OWL_ENC_DFOR:
        o = put_dfor(o, v, n, s.dmin, s.wd);
        break;
    case OWL_ENC_DOD: {
        uint64_t prev_d = 0;
        o = owl_varint_write(o, owl_zigzag(v[0]));
        for (size_t i = 1; i < n; i++) {
            uint64_t d = (uint64_t)v[i] - (uint64_t)v[i - 1];
            o = owl_varint_write(o, owl_zigzag((int64_t)(d - prev_d)));
            prev_d = d;
        }
        break;
    }
    default:
        for (size_t i = 0; i < n; i++, o += 8)
            owl_put64le(o, (uint64_t)v[i]);
        break;
    }
    commit(out, o);
    return OWL_OK;
}

/* The integer decoders below write value i at out[i * stride] (stride >= 1). */

/* RAW payload of n 8-byte words after the id byte; must be exactly n*8 bytes. */
static int dec_raw64(const uint8_t *p, size_t len, size_t n, uint64_t *out, size_t stride)
{
    if ((len - 1) % 8 != 0 || (len - 1) / 8 != n)
        return OWL_ECORRUPT;
    p++;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (stride == 1) {
        if (n)
            memcpy(out, p, n * 8);
        return OWL_OK;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i * stride] = owl_get64le(p + 8 * i);
    return OWL_OK;
}

/* CONST payload: one varint, repeated n (>= 1) times. */
static int dec_const64(const uint8_t *p, size_t len, size_t n, uint64_t *out, size_t stride)
{
    const uint8_t *q = p + 1, *end = p + len;
    uint64_t z;
    if (n == 0 || owl_varint_read(&q, end, &z) != OWL_OK || q != end)
        return OWL_ECORRUPT;
    uint64_t v = (uint64_t)owl_unzigzag(z);
    for (size_t i = 0; i < n; i++)
        out[i * stride] = v;
    return OWL_OK;
}

typedef int varint_reader(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* DELTA (order 1) and DOD (order 2): running sums of zigzag varints, in uint64, read by rd.
 * Always inlined with rd a constant, so each reader below gets its own loops. */
static inline __attribute__((always_inline)) int sums(const uint8_t *p, size_t len, size_t n,
                                                      int order, uint64_t *out, size_t stride,
                                                      varint_reader *rd)
{
    const uint8_t *q = p + 1, *end = p + len;
    uint64_t z, v, d = 0;
    /* every value takes at least one byte; DOD needs v0 and d1 */
    if (n == 0 || n > len - 1 || (order == 2 && n < 2))
        return OWL_ECORRUPT;
    if (rd(&q, end, &z) != OWL_OK)
        return OWL_ECORRUPT;
    v = (uint64_t)owl_unzigzag(z);
    out[0] = v;
    /* i counts in out's slots, a stride apart (n * stride cannot overflow: out spans nearly
     * that many) */
    size_t last = n * stride;
    if (order == 1) {
        for (size_t i = stride; i < last; i += stride) {
            if (rd(&q, end, &z) != OWL_OK)
                return OWL_ECORRUPT;
            v += (uint64_t)owl_unzigzag(z);
            out[i] = v;
        }
    } else {
        for (size_t i = stride; i < last; i += stride) {
            if (rd(&q, end, &z) != OWL_OK)
                return OWL_ECORRUPT;
            d += (uint64_t)owl_unzigzag(z);
            v += d;
            out[i] = v;
        }
    }
    return q == end ? OWL_OK : OWL_ECORRUPT;
}

static int sums_plain(const uint8_t *p, size_t len, size_t n, int order, uint64_t *out,
                      size_t stride)
{
    return sums(p, len, n, order, out, stride, owl_varint_read);
}

#if OWL_PEXT
/* owl_varint_read with the 7-bit groups gathered by one pext (BMI2) in place of its three
 * shift-and-mask steps (DELTA and DOD chunks of times, durations and keys are mostly varints
 * of 2 to 8 bytes); longer ones and the last 7 bytes go to owl_varint_get as there. */
__attribute__((target("bmi,bmi2"))) static inline int varint_read_pext(const uint8_t **pp,
                                                                       const uint8_t *end,
                                                                       uint64_t *v)
{
    const uint8_t *p = *pp;
    if (end - p >= 8) {
        uint64_t w = owl_get64le(p), stop = ~w & 0x8080808080808080ull;
        if (stop) {
            *v = _pext_u64(w & (stop - 1), 0x7f7f7f7f7f7f7f7full);
            *pp = p + 1 + ((unsigned)__builtin_ctzll(stop) >> 3);
            return OWL_OK;
        }
    }
    return owl_varint_get(pp, end, v);
}

__attribute__((target("bmi,bmi2"))) static int sums_pext(const uint8_t *p, size_t len, size_t n,
                                                         int order, uint64_t *out, size_t stride)
{
    return sums(p, len, n, order, out, stride, varint_read_pext);
}

/* pext only on Intel: AMD before Zen 3 runs it in microcode, tens of cycles, far slower
 * than the shifts and masks it replaces. */
static int dec_sums(const uint8_t *p, size_t len, size_t n, int order, uint64_t *out,
                    size_t stride)
{
    static int fast_pext = -1; /* threads may race to set it, to the same value: atomic */
    int fast = __atomic_load_n(&fast_pext, __ATOMIC_RELAXED);
    if (fast < 0) {
        fast = __builtin_cpu_supports("bmi2") && __builtin_cpu_is("intel");
        __atomic_store_n(&fast_pext, fast, __ATOMIC_RELAXED);
    }
    return fast ? sums_pext(p, len, n, order, out, stride)
                : sums_plain(p, len, n, order, out, stride);
}
#else
static int dec_sums(const uint8_t *p, size_t len, size_t n, int order, uint64_t *out,
                    size_t stride)
{
    return sums_plain(p, len, n, order, out, stride);
}
#endif

/* 8 bytes little-endian at p, in one unaligned load where the host is little-endian. */
static inline uint64_t load64le(const uint8_t *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
#else
    return owl_get64le(p);
#endif
}

/* The value of any width at bit `bit` of q, under mask, from the 9 bytes at q + bit / 8
 * (which must be there): a shift of s leaves 64 - s bits of the first 8, the ninth byte the
 * rest (shifted twice: by 64 - s in one would be undefined for s = 0). */
static inline uint64_t bits_at9(const uint8_t *q, size_t bit, uint64_t mask)
{
    const uint8_t *b = q + (bit >> 3);
    unsigned s = bit & 7;
    return ((load64le(b) >> s) | (uint64_t)b[8] << (63 - s) << 1) & mask;
}

/* Unpacks m values x[i] of w (0..64) bits from the plen bytes at q, exactly packed_bytes(m, w)
 * of them: out[i] = base + x[i] (FOR), or with running set out[i] = acc += base + x[i] (DFOR).
 * Inlined with running a constant, so each form gets its own loops. */
static inline void unpack(const uint8_t *q, size_t plen, size_t m, unsigned w, uint64_t base,
                          int running, uint64_t acc, uint64_t *out, size_t stride)
{
    size_t i = 0, bit = 0;
    if (w == 0) {
        for (; i < m; i++)
            out[i * stride] = running ? (acc += base) : base;
        return;
    }
    uint64_t mask = w == 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1, x;
    /* the values whose loads stay inside the bytes: one 8-byte load for w <= 57 (a shift of
     * up to 7 leaves 57 bits), 9 bytes past that */
    size_t reach = w <= 57 ? 8 : 9;
    if (plen >= reach) {
        size_t fast = ((plen - reach) * 8 + 7) / w + 1;
        fast = fast < m ? fast : m;
        if (w <= 57) {
            for (; i < fast; i++, bit += w) {
                x = (load64le(q + (bit >> 3)) >> (bit & 7)) & mask;
                out[i * stride] = running ? (acc += base + x) : base + x;
            }
        } else {
            for (; i < fast; i++, bit += w) {
                x = bits_at9(q, bit, mask);
                out[i * stride] = running ? (acc += base + x) : base + x;
            }
        }
    }
    if (i == m)
        return;
    /* the last few (at most 8 bytes from the first of them on): from a copy padded with
     * zeros, so no load runs past the chunk */
    uint8_t pad[32] = {0};
    size_t from = bit >> 3;
    memcpy(pad, q + from, plen - from);
    for (bit -= from * 8; i < m; i++, bit += w) {
        x = bits_at9(pad, bit, mask);
        out[i * stride] = running ? (acc += base + x) : base + x;
    }
}

/* FOR (delta = 0) and DFOR (delta = 1): the header checked against n and the bytes left,
 * then the values unpacked. */
static int dec_packed(const uint8_t *p, size_t len, size_t n, int delta, uint64_t *out,
                      size_t stride)
{
    const uint8_t *q = p + 1, *end = p + len;
    uint64_t cnt, z, v0 = 0;
    if (owl_varint_read(&q, end, &cnt) != OWL_OK || cnt != n || n < (delta ? 2u : 1u))
        return OWL_ECORRUPT;
    if (delta) {
        if (owl_varint_read(&q, end, &z) != OWL_OK)
            return OWL_ECORRUPT;
        v0 = (uint64_t)owl_unzigzag(z);
    }
    if (owl_varint_read(&q, end, &z) != OWL_OK || q == end)
        return OWL_ECORRUPT;
    uint64_t base = (uint64_t)owl_unzigzag(z);
    unsigned w = *q++;
    size_t m = n - (size_t)delta, plen = (size_t)(end - q);
    /* m / 8 * w <= plen first, so that packed_bytes cannot overflow */
    if (w > 64 || (w ? m / 8 > plen / w : plen != 0) || packed_bytes(m, w) != plen)
        return OWL_ECORRUPT;
    /* the last byte's unused high bits are zero, as the encoder leaves them */
    unsigned used = (unsigned)(m % 8 * w % 8);
    if (used && q[plen - 1] >> used)
        return OWL_ECORRUPT;
    if (delta) {
        out[0] = v0;
        unpack(q, plen, m, w, base, 1, v0, out + stride, stride);
    } else {
        unpack(q, plen, m, w, base, 0, 0, out, stride);
    }
    return OWL_OK;
}

int owl_dec_i64_stride(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t stride)
{
    if (len < 1)
        return OWL_ECORRUPT;
    uint64_t *u = (uint64_t *)out;
    switch (p[0]) {
    case OWL_ENC_I64RAW:
        return dec_raw64(p, len, n, u, stride);
    case OWL_ENC_CONST:
        return dec_const64(p, len, n, u, stride);
    case OWL_ENC_DELTA:
        return dec_sums(p, len, n, 1, u, stride);
    case OWL_ENC_DOD:
        return dec_sums(p, len, n, 2, u, stride);
    case OWL_ENC_FOR:
        return dec_packed(p, len, n, 0, u, stride);
    case OWL_ENC_DFOR:
        return dec_packed(p, len, n, 1, u, stride);
    default:
        return OWL_ECORRUPT;
    }
}

int owl_dec_i64(const uint8_t *p, size_t len, size_t n, int64_t *out)
{
    return owl_dec_i64_stride(p, len, n, out, 1);
}

/* ---- doubles ---- */

/* Bytes XOR takes for v[0..n) (0 when n == 0). */
static size_t xor_size(const double *v, size_t n)
{
    if (n == 0)
        return 0;
    size_t size = 1 + 8;
    uint64_t prev;
    memcpy(&prev, &v[0], 8);
    for (size_t i = 1; i < n; i++) {
        uint64_t b;
        memcpy(&b, &v[i], 8);
        uint64_t x = b ^ prev;
        prev = b;
        size += x ? 1 + owl_varint_len(x >> __builtin_ctzll(x)) : 1;
    }
    return size;
}

static int enc_xor(const double *v, size_t n, owl_buf *out)
{
    uint8_t *o = grow(out, 1 + 8 + 11 * n);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_XOR;
    uint64_t prev;
    memcpy(&prev, &v[0], 8);
    owl_put64le(o, prev);
    o += 8;
    for (size_t i = 1; i < n; i++) {
        uint64_t b;
        memcpy(&b, &v[i], 8);
        uint64_t x = b ^ prev;
        prev = b;
        if (!x) {
            *o++ = 0;
            continue;
        }
        int t = __builtin_ctzll(x);
        *o++ = (uint8_t)(t + 1);
        o = owl_varint_write(o, x >> t);
    }
    commit(out, o);
    return OWL_OK;
}

static int dec_xor(const uint8_t *p, size_t len, size_t n, uint64_t *out)
{
    const uint8_t *end = p + len;
    p++;
    if (n == 0)
        return p == end ? OWL_OK : OWL_ECORRUPT;
    if (end - p < 8)
        return OWL_ECORRUPT;
    uint64_t prev = owl_get64le(p);
    p += 8;
    out[0] = prev;
    for (size_t i = 1; i < n; i++) {
        if (p >= end)
            return OWL_ECORRUPT;
        unsigned h = *p++;
        uint64_t x = 0;
        if (h) {
            uint64_t m;
            if (h > 64 || owl_varint_read(&p, end, &m) != OWL_OK || !(m & 1) ||
                (h > 1 && m >> (65 - h)))
                return OWL_ECORRUPT; /* not the encoder's canonical form, or bits lost */
            x = m << (h - 1);
        }
        prev ^= x;
        out[i] = prev;
    }
    return p == end ? OWL_OK : OWL_ECORRUPT;
}

static const double pow10_[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* The smallest k in 0..15 such that every v[i] is the double nearest to some integer / 10^k
 * of magnitude < 2^53 (none -0.0), with those integers in iv; -1 when there is none. Values
 * as a counter (k = 0) or a gauge read to a few decimals are; arbitrary doubles are not. */
static int decimal_scale(const double *v, size_t n, int64_t *iv)
{
    for (size_t i = 0; i < n; i++)
        if (!(v[i] > -9007199254740992.0 && v[i] < 9007199254740992.0) ||
            (v[i] == 0 && __builtin_signbit(v[i])))
            return -1;
    for (int k = 0; k < 16; k++) {
        size_t i = 0;
        for (; i < n; i++) {
            double x = v[i] * pow10_[k];
            if (!(x > -9007199254740992.0 && x < 9007199254740992.0))
                break;
            iv[i] = (int64_t)(x + (x < 0 ? -0.5 : 0.5)); /* checked just below */
            if ((double)iv[i] / pow10_[k] != v[i])
                break;
        }
        if (i == n)
            return k;
    }
    return -1;
}

int owl_enc_f64(const double *v, size_t n, owl_buf *out)
{
    if (n > (SIZE_MAX - 16) / 11)
        return OWL_ENOMEM;
    uint64_t first = 0, diff = 0;
    if (n > 0) {
        memcpy(&first, &v[0], 8);
        for (size_t i = 1; i < n; i++) {
            uint64_t b;
            memcpy(&b, &v[i], 8);
            diff |= b ^ first;
        }
    }
    /* CONST only where it is smaller: a single value is cheaper raw */
    int konst = n > 0 && diff == 0 && 1 + owl_varint_len(owl_zigzag((int64_t)first)) < 1 + 8 * n;
    if (!konst && n > 1) {
        size_t raw = 1 + 8 * n, xs = xor_size(v, n);
        /* counters and decimal gauges: the integer encodings (DELTA / DOD) of the scaled
         * values, when smaller than XOR and raw */
        int64_t *iv = malloc(n * sizeof *iv);
        if (!iv)
            return OWL_ENOMEM;
        int k = decimal_scale(v, n, iv), rc = OWL_OK;
        if (k >= 0) {
            owl_buf ib = OWL_BUF_INIT;
            size_t head = k ? 2 : 1;
            rc = owl_enc_i64(iv, n, &ib);
            if (rc == OWL_OK && head + ib.len < raw && head + ib.len <= xs) {
                uint8_t *o = grow(out, head + ib.len);
                if (!o) {
                    rc = OWL_ENOMEM;
                } else {
                    *o++ = k ? OWL_ENC_F64DEC : OWL_ENC_F64INT;
                    if (k)
                        *o++ = (uint8_t)k;
                    memcpy(o, ib.data, ib.len);
                    commit(out, o + ib.len);
                }
                owl_buf_free(&ib);
                free(iv);
                return rc;
            }
            owl_buf_free(&ib);
        }
        free(iv);
        if (rc != OWL_OK)
            return rc;
        if (xs < raw)
            return enc_xor(v, n, out);
    }
    uint8_t *o = grow(out, konst ? 11 : 1 + 8 * n);
    if (!o)
        return OWL_ENOMEM;
    if (konst) {
        *o++ = OWL_ENC_CONST;
        o = owl_varint_write(o, owl_zigzag((int64_t)first));
    } else {
        *o++ = OWL_ENC_F64RAW;
        for (size_t i = 0; i < n; i++, o += 8) {
            uint64_t b;
            memcpy(&b, &v[i], 8);
            owl_put64le(o, b);
        }
    }
    commit(out, o);
    return OWL_OK;
}

/* F64INT (k = 0) and F64DEC: the integers land in out's bytes, then become doubles in place. */
static int dec_scaled(const uint8_t *p, size_t len, int k, size_t n, double *out)
{
    int64_t *iv = (int64_t *)(void *)out;
    int rc = owl_dec_i64(p, len, n, iv);
    if (rc != OWL_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (iv[i] <= -9007199254740992LL || iv[i] >= 9007199254740992LL)
            return OWL_ECORRUPT;
        out[i] = (double)iv[i] / pow10_[k];
    }
    return OWL_OK;
}

static int enc_segments(const double *v, size_t n, const size_t *seg, size_t nseg,
                        owl_buf *out);

int owl_enc_f64_seg(const double *v, size_t n, const size_t *seg, size_t nseg, owl_buf *out)
{
    if (nseg < 2 || nseg == n)
        return owl_enc_f64(v, n, out);
    if (n / nseg >= F64SEG_MIN_AVG)
        return enc_segments(v, n, seg, nseg, out);
    /* short segments: the smaller of the two */
    size_t at = out->len;
    int rc = owl_enc_f64(v, n, out);
    if (rc != OWL_OK)
        return rc;
    owl_buf alt = OWL_BUF_INIT;
    if ((rc = enc_segments(v, n, seg, nseg, &alt)) == OWL_OK && alt.len < out->len - at) {
        out->len = at;
        rc = owl_buf_append(out, alt.data, alt.len);
    }
    owl_buf_free(&alt);
    return rc;
}

static int enc_segments(const double *v, size_t n, const size_t *seg, size_t nseg,
                        owl_buf *out)
{
    (void)n;
    uint8_t *o = grow(out, 1 + 10);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_F64SEG;
    o = owl_varint_write(o, nseg);
    commit(out, o);
    owl_buf one = OWL_BUF_INIT;
    int rc = OWL_OK;
    for (size_t k = 0, at = 0; k < nseg && rc == OWL_OK; at += seg[k++]) {
        owl_buf_reset(&one);
        if ((rc = owl_enc_f64(v + at, seg[k], &one)) != OWL_OK)
            break;
        if (!(o = grow(out, 20 + one.len))) {
            rc = OWL_ENOMEM;
            break;
        }
        o = owl_varint_write(o, seg[k]);
        o = owl_varint_write(o, one.len);
        memcpy(o, one.data, one.len);
        commit(out, o + one.len);
    }
    owl_buf_free(&one);
    return rc;
}

static int dec_f64_one(const uint8_t *p, size_t len, size_t n, double *out);

/* F64SEG: varint nseg (>= 2), then per segment varint rows (>= 1), varint bytes and that
 * many bytes of one of the other encodings; the rows add up to n. */
static int dec_seg(const uint8_t *p, size_t len, size_t n, double *out)
{
    const uint8_t *end = p + len;
    uint64_t nseg, rows, bytes;
    size_t at = 0;
    p++;
    if (owl_varint_read(&p, end, &nseg) != OWL_OK || nseg < 2 || nseg > n)
        return OWL_ECORRUPT;
    for (uint64_t k = 0; k < nseg; k++) {
        if (owl_varint_read(&p, end, &rows) != OWL_OK || rows == 0 || rows > n - at ||
            owl_varint_read(&p, end, &bytes) != OWL_OK || bytes > (uint64_t)(end - p))
            return OWL_ECORRUPT;
        int rc = dec_f64_one(p, (size_t)bytes, (size_t)rows, out + at);
        if (rc != OWL_OK)
            return rc;
        p += bytes;
        at += (size_t)rows;
    }
    return at == n && p == end ? OWL_OK : OWL_ECORRUPT;
}

int owl_dec_f64(const uint8_t *p, size_t len, size_t n, double *out)
{
    if (len >= 1 && p[0] == OWL_ENC_F64SEG)
        return dec_seg(p, len, n, out);
    return dec_f64_one(p, len, n, out);
}

/* Every encoding but F64SEG (segments do not nest). */
static int dec_f64_one(const uint8_t *p, size_t len, size_t n, double *out)
{
    _Static_assert(sizeof(double) == 8, "binary64 doubles");
    if (len < 1)
        return OWL_ECORRUPT;
    /* doubles are stored and copied as bit patterns: NaN payloads survive */
    uint64_t *u = (uint64_t *)(void *)out;
    switch (p[0]) {
    case OWL_ENC_F64RAW:
        return dec_raw64(p, len, n, u, 1);
    case OWL_ENC_CONST:
        return dec_const64(p, len, n, u, 1);
    case OWL_ENC_XOR:
        return dec_xor(p, len, n, u);
    case OWL_ENC_F64INT:
        return len < 2 ? OWL_ECORRUPT : dec_scaled(p + 1, len - 1, 0, n, out);
    case OWL_ENC_F64DEC:
        if (len < 3 || p[1] < 1 || p[1] > 15)
            return OWL_ECORRUPT;
        return dec_scaled(p + 2, len - 2, p[1], n, out);
    default:
        return OWL_ECORRUPT;
    }
}

/* ---- strings ---- */

static int enc_str_plain(const owl_strref *v, size_t n, size_t size, owl_buf *out)
{
    uint8_t *o = grow(out, size);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_STR;
    for (size_t i = 0; i < n; i++)
        o = owl_varint_write(o, v[i].n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].n)
            memcpy(o, v[i].p, v[i].n);
        o += v[i].n;
    }
    commit(out, o);
    return OWL_OK;
}

#define DICT_SEEN_BITS 8 /* dict_build's caches of values, by address and by bytes: 2^8 each */
#define DICT_SEEN (1u << DICT_SEEN_BITS)

/* The distinct values of a column, found with an open-addressing table. A value's home slot
 * is the top bits of its hash, which its slot keeps, so the table grows without hashing the
 * values again: it starts small (most columns hold a few hundred values at most) and doubles
 * to stay at most half full. */
struct dict {
    uint32_t *ids;   /* n: row -> dictionary index */
    uint32_t *first; /* limit: dictionary index -> first row holding it */
    size_t *count;   /* limit: dictionary index -> rows holding it */
    uint64_t *slots; /* cap: (hash high 32 bits << 32) | (index + 1); 0 = empty */
    size_t cap, limit, d;
    unsigned shift;  /* 64 - log2(cap): a hash's home slot is h >> shift */
    size_t bytes;    /* dictionary part: sum of varint length + length */
    /* values of recent bytes (copies at other addresses, each row's own): by a key from their
     * length and ends, compared exactly, cheaper than hashing them whole */
    struct {
        const char *p;
        uint32_t n, id;
    } like[DICT_SEEN];
};

#define DICT_CAP0 256 /* the table's first size */

static void dict_free(struct dict *t)
{
    free(t->ids);
    free(t->first);
    free(t->count);
    free(t->slots);
}

/* Doubles t's table. OWL_ENOMEM leaves t as it was. */
static int dict_grow(struct dict *t)
{
    size_t cap = 2 * t->cap;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return OWL_ENOMEM;
    for (size_t k = 0; k < t->cap; k++) {
        uint64_t s = t->slots[k];
        if (!s)
            continue;
        size_t pos = (size_t)(s >> (t->shift - 1));
        while (slots[pos])
            pos = (pos + 1) & (cap - 1);
        slots[pos] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->shift--;
    return OWL_OK;
}

/* The dictionary index of v[i] in *id from the table, v[i] added when new. OWL_ERANGE when it
 * is new and t holds t->limit values already, OWL_ENOMEM. */
static int dict_lookup(struct dict *t, const owl_strref *v, size_t i, uint32_t *id)
{
    uint64_t h = owl_hash64(v[i].p, v[i].n, 0);
    uint64_t tag = h & 0xffffffff00000000ull;
    size_t pos = (size_t)(h >> t->shift);
    for (;;) {
        uint64_t s = t->slots[pos];
        if (s == 0)
            break;
        if ((s & 0xffffffff00000000ull) == tag) {
            uint32_t j = (uint32_t)(s & 0xffffffffu) - 1;
            const owl_strref *f = &v[t->first[j]];
            if (f->n == v[i].n && (f->n == 0 || memcmp(f->p, v[i].p, f->n) == 0)) {
                *id = j;
                return OWL_OK;
            }
        }
        pos = (pos + 1) & (t->cap - 1);
    }
    if (t->d == t->limit)
        return OWL_ERANGE;
    if (2 * (t->d + 1) > t->cap) {
        if (dict_grow(t) != OWL_OK)
            return OWL_ENOMEM;
        for (pos = (size_t)(h >> t->shift); t->slots[pos]; pos = (pos + 1) & (t->cap - 1))
            ;
    }
    t->first[t->d] = (uint32_t)i;
    t->count[t->d] = 0;
    t->slots[pos] = tag | (uint64_t)(t->d + 1);
    t->bytes += owl_varint_len(v[i].n) + v[i].n;
    *id = (uint32_t)t->d++;
    return OWL_OK;
}

/* dict_lookup for a value not found at its address: the cache of recent bytes first. */
static int dict_find(struct dict *t, const owl_strref *v, size_t i, uint32_t *id)
{
    size_t k = (size_t)(owl_sample_key(v[i].p, v[i].n) * 0x9e3779b97f4a7c15ull >>
                        (64 - DICT_SEEN_BITS));
    if (t->like[k].p && t->like[k].n == v[i].n &&
        (v[i].n == 0 || memcmp(t->like[k].p, v[i].p, v[i].n) == 0)) {
        *id = t->like[k].id;
        return OWL_OK;
    }
    int rc = dict_lookup(t, v, i, id);
    if (rc == OWL_OK && v[i].p)
        t->like[k].p = v[i].p, t->like[k].n = v[i].n, t->like[k].id = *id;
    return rc;
}

#define DICT_PROBE_MIN 1024 /* rows from which dict_build may give up early */
#define DICT_PREFETCH 16    /* values ahead whose bytes dict_build asks for */

/* Fills t for v[0..n). OWL_OK with t->d distinct values, OWL_ERANGE when there are more than
 * t->limit (DICT would not pay) or, probing, when the first eighth is mostly distinct,
 * OWL_ENOMEM. */
static int dict_build(struct dict *t, const owl_strref *v, size_t n, int probe)
{
    size_t cap = 16;
    while (cap < 2 * t->limit && cap < DICT_CAP0)
        cap *= 2;
    t->cap = cap;
    t->shift = 64 - (unsigned)__builtin_ctzll(cap);
    t->ids = malloc(n * sizeof *t->ids);
    t->first = malloc(t->limit * sizeof *t->first);
    t->count = malloc(t->limit * sizeof *t->count);
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->ids || !t->first || !t->count || !t->slots)
        return OWL_ENOMEM;
    /* values already seen at the same address (a memtable keeps one copy of a value repeated
     * on consecutive rows, and a sealed trace's spans are neighbours again): their id without
     * hashing the bytes */
    struct {
        const void *p;
        size_t n;
        uint32_t id;
    } seen[DICT_SEEN] = {{0}};
    for (size_t i = 0; i < n; i++) {
        /* the values lie all over a memtable's arena: their bytes are asked for early */
        if (i + DICT_PREFETCH < n)
            __builtin_prefetch(v[i + DICT_PREFETCH].p);
        size_t sl = (size_t)((((uintptr_t)v[i].p >> 3) ^ v[i].n) * 0x9e3779b97f4a7c15ull >>
                             (64 - DICT_SEEN_BITS));
        uint32_t id;
        if (v[i].p && seen[sl].p == v[i].p && seen[sl].n == v[i].n) {
            id = seen[sl].id;
        } else {
            int rc = dict_find(t, v, i, &id);
            if (rc != OWL_OK)
                return rc;
            seen[sl].p = v[i].p, seen[sl].n = v[i].n, seen[sl].id = id;
            /* probing: an eighth of the way in, values three quarters distinct will not pay
             * (tested when row n / 8 - 1 misses `seen`, as it always was: it picks the
             * encoding) */
            if (probe && i + 1 == n / 8 && n >= DICT_PROBE_MIN && t->d * 4 > (i + 1) * 3)
                return OWL_ERANGE;
        }
        t->ids[i] = id;
        /* the next rows holding the same copy: `seen` holds it, so id is theirs */
        size_t run = i;
        while (v[i].p && i + 1 < n && v[i + 1].p == v[i].p && v[i + 1].n == v[i].n) {
            i++;
            if (i + DICT_PREFETCH < n)
                __builtin_prefetch(v[i + DICT_PREFETCH].p);
            t->ids[i] = id;
        }
        t->count[id] += i - run + 1;
    }
    return OWL_OK;
}

static size_t dict_index_bytes(const struct dict *t, size_t n)
{
    if (t->d <= 256)
        return n;
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += owl_varint_len(t->ids[i]);
    return s;
}

static int enc_str_dict(const owl_strref *v, size_t n, const struct dict *t, size_t size,
                        owl_buf *out)
{
    uint8_t *o = grow(out, size);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_DICT;
    o = owl_varint_write(o, t->d);
    for (size_t j = 0; j < t->d; j++)
        o = owl_varint_write(o, v[t->first[j]].n);
    for (size_t j = 0; j < t->d; j++) {
        const owl_strref *s = &v[t->first[j]];
        if (s->n)
            memcpy(o, s->p, s->n);
        o += s->n;
    }
    if (t->d <= 256) {
        for (size_t i = 0; i < n; i++)
            *o++ = (uint8_t)t->ids[i];
    } else {
        for (size_t i = 0; i < n; i++)
            o = owl_varint_write(o, t->ids[i]);
    }
    commit(out, o);
    return OWL_OK;
}

/* STR's size for the n values: SIZE_MAX when over SIZE_MAX - 16. */
static size_t str_size_rows(const owl_strref *v, size_t n)
{
    size_t size = 1;
    for (size_t i = 0; i < n; i++) {
        size_t add = owl_varint_len(v[i].n) + v[i].n;
        if (size > SIZE_MAX - 16 - add)
            return SIZE_MAX;
        size += add;
    }
    return size;
}

/* The same from t's distinct values and their row counts: a sum over far fewer terms. */
static size_t str_size_dict(const struct dict *t, const owl_strref *v)
{
    size_t size = 1;
    for (size_t j = 0; j < t->d; j++) {
        size_t len = v[t->first[j]].n, all;
        if (__builtin_mul_overflow(owl_varint_len(len) + len, t->count[j], &all) ||
            __builtin_add_overflow(size, all, &size) || size > SIZE_MAX - 16)
            return SIZE_MAX;
    }
    return size;
}

int owl_enc_str(const owl_strref *v, size_t n, int allow_dict, owl_buf *out)
{
    if (n > (SIZE_MAX - 16) / 8)
        return OWL_ENOMEM;
    /* a dictionary of more than half the rows cannot beat STR by much, if at all */
    size_t limit = n / 2 < DICT_MAX ? n / 2 : DICT_MAX;
    struct dict t = {.limit = limit};
    int rc = allow_dict && limit >= 1 ? dict_build(&t, v, n, allow_dict == OWL_DICT_PROBE)
                                      : OWL_ERANGE;
    if (rc == OWL_OK) {
        size_t str_size = str_size_dict(&t, v);
        size_t dict_size = 1 + owl_varint_len(t.d) + t.bytes + dict_index_bytes(&t, n);
        if (str_size == SIZE_MAX)
            rc = OWL_ENOMEM;
        else if (dict_size < str_size)
            rc = enc_str_dict(v, n, &t, dict_size, out);
        else
            rc = enc_str_plain(v, n, str_size, out);
    } else if (rc == OWL_ERANGE) {
        size_t str_size = str_size_rows(v, n);
        rc = str_size == SIZE_MAX ? OWL_ENOMEM : enc_str_plain(v, n, str_size, out);
    }
    dict_free(&t);
    return rc;
}

/* Reads cnt varint lengths (each < 2^32) into out[i].n and returns their sum in *total. */
static int read_lengths(const uint8_t **q, const uint8_t *end, size_t cnt, owl_strref *out,
                        size_t *total)
{
    size_t sum = 0;
    for (size_t i = 0; i < cnt; i++) {
        uint64_t l;
        if (owl_varint_read(q, end, &l) != OWL_OK || l > UINT32_MAX)
            return OWL_ECORRUPT;
        /* the strings follow, so their total can never exceed what is left */
        size_t left = (size_t)(end - *q);
        if (l > left || sum > left - (size_t)l)
            return OWL_ECORRUPT;
        out[i].n = (uint32_t)l;
        sum += (size_t)l;
    }
    *total = sum;
    return OWL_OK;
}

/* Points refs[0..cnt) (lengths already set) at consecutive strings from *q. */
static void place_strings(const uint8_t **q, size_t cnt, owl_strref *refs)
{
    const char *s = (const char *)*q;
    for (size_t i = 0; i < cnt; i++) {
        refs[i].p = s;
        s += refs[i].n;
    }
    *q = (const uint8_t *)s;
}

static int dec_str_plain(const uint8_t *p, size_t len, size_t n, owl_strref *out)
{
    const uint8_t *q = p + 1, *end = p + len;
    size_t total;
    if (n > len - 1)
        return OWL_ECORRUPT;
    if (read_lengths(&q, end, n, out, &total) != OWL_OK)
        return OWL_ECORRUPT;
    if (total != (size_t)(end - q))
        return OWL_ECORRUPT;
    place_strings(&q, n, out);
    return OWL_OK;
}

static int dec_str_dict(const uint8_t *p, size_t len, size_t n, owl_strref *out)
{
    const uint8_t *q = p + 1, *end = p + len;
    owl_strref stack[DICT_STACK], *dict = stack;
    uint64_t d;
    size_t total;
    int rc = OWL_ECORRUPT;

    /* an encoder never stores more entries than rows, nor an empty dictionary for rows */
    if (owl_varint_read(&q, end, &d) != OWL_OK || d > n || (d == 0) != (n == 0) || d > DICT_MAX)
        return OWL_ECORRUPT;
    if (d > (size_t)(end - q))
        return OWL_ECORRUPT;
    if (d > DICT_STACK) {
        dict = malloc((size_t)d * sizeof *dict);
        if (!dict)
            return OWL_ENOMEM;
    }
    if (read_lengths(&q, end, (size_t)d, dict, &total) != OWL_OK)
        goto out;
    place_strings(&q, (size_t)d, dict);
    if (d <= 256) {
        if ((size_t)(end - q) != n)
            goto out;
        for (size_t i = 0; i < n; i++) {
            if (q[i] >= d)
                goto out;
            out[i] = dict[q[i]];
        }
        q += n;
    } else {
        if (n > (size_t)(end - q))
            goto out;
        for (size_t i = 0; i < n; i++) {
            uint64_t ix;
            if (owl_varint_read(&q, end, &ix) != OWL_OK || ix >= d)
                goto out;
            out[i] = dict[ix];
        }
    }
    rc = q == end ? OWL_OK : OWL_ECORRUPT;
out:
    if (dict != stack)
        free(dict);
    return rc;
}

int owl_dec_str(const uint8_t *p, size_t len, size_t n, owl_strref *out)
{
    if (len < 1)
        return OWL_ECORRUPT;
    switch (p[0]) {
    case OWL_ENC_STR:
        return dec_str_plain(p, len, n, out);
    case OWL_ENC_DICT:
        return dec_str_dict(p, len, n, out);
    default:
        return OWL_ECORRUPT;
    }
}

/* ---- fixed-width values ---- */

int owl_enc_fixed(const uint8_t *v, size_t width, size_t n, owl_buf *out)
{
    if (width == 0)
        return OWL_EINVAL;
    if (n > (SIZE_MAX - 16) / width)
        return OWL_ENOMEM;
    uint8_t *o = grow(out, 11 + n * width);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_FIXED;
    o = owl_varint_write(o, width);
    if (n)
        memcpy(o, v, n * width);
    commit(out, o + n * width);
    return OWL_OK;
}

int owl_dec_fixed(const uint8_t *p, size_t len, size_t width, size_t n, const uint8_t **out)
{
    if (width == 0)
        return OWL_EINVAL;
    if (len < 1 || p[0] != OWL_ENC_FIXED)
        return OWL_ECORRUPT;
    const uint8_t *q = p + 1, *end = p + len;
    uint64_t w;
    if (owl_varint_read(&q, end, &w) != OWL_OK || w != width)
        return OWL_ECORRUPT;
    size_t left = (size_t)(end - q);
    if (left % width != 0 || left / width != n)
        return OWL_ECORRUPT;
    *out = q;
    return OWL_OK;
}

/* ---- IDREF: ids as references to equal values earlier in the column or in another ---- */

#define IDREF_PROBE 64 /* rows after which IDREF is given up unless smaller than FIXED so far */

enum { TOK_LIT = 0, TOK_RUN = 1, TOK_BACK = 2, TOK_REF = 3 }; /* token = 4x + kind */

void owl_idref_enc_free(owl_idref_enc *e)
{
    if (!e)
        return;
    free(e->slots);
    e->slots = NULL;
    e->cap = 0;
    owl_buf_free(&e->tok);
    owl_buf_free(&e->lit);
}

static inline size_t id_slot(const uint8_t *x, size_t width, size_t mask)
{
    return (size_t)((owl_sample_key(x, width) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* The slot of table t (rows + 1 into vals, 0 = empty) holding value x, or the empty slot
 * where it would go. */
static inline size_t id_find(const uint32_t *t, size_t mask, const uint8_t *vals,
                             const uint8_t *x, size_t width)
{
    size_t s = id_slot(x, width, mask);
    while (t[s] && memcmp(vals + (size_t)(t[s] - 1) * width, x, width) != 0)
        s = (s + 1) & mask;
    return s;
}

/* Room for tables of twice n rows each, emptied (only the first when there is no ref). */
static int idref_tables(owl_idref_enc *e, size_t n, int with_ref)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (cap > e->cap) {
        uint32_t *s = realloc(e->slots, 2 * cap * sizeof *s);
        if (!s)
            return OWL_ENOMEM;
        e->slots = s, e->cap = cap;
    }
    memset(e->slots, 0, (with_ref ? 2 : 1) * e->cap * sizeof *e->slots);
    return OWL_OK;
}

/* The cheapest token for row i, which differs from row i - 1: a reference to the other
 * column or to an earlier row when shorter than a literal (width bytes, plus a token byte
 * unless the previous row was a literal too). Records row i in the self table. */
static inline uint64_t idref_token(owl_idref_enc *e, const uint8_t *v, size_t width, size_t i,
                                   const uint8_t *ref, int after_lit)
{
    size_t mask = e->cap - 1, best = width + !after_lit;
    const uint8_t *x = v + i * width;
    uint64_t tok = TOK_LIT;
    if (ref) {
        const uint32_t *rt = e->slots + e->cap;
        size_t s = id_find(rt, mask, ref, x, width);
        if (rt[s]) {
            uint64_t t = 4 * owl_zigzag((int64_t)(rt[s] - 1) - (int64_t)i) + TOK_REF;
            if (owl_varint_len(t) < best)
                tok = t, best = owl_varint_len(t);
        }
    }
    uint32_t *st = e->slots;
    size_t s = id_find(st, mask, v, x, width);
    if (st[s]) {
        uint64_t t = 4 * (i - st[s]) + TOK_BACK; /* st[s] - 1 is the row: x = i - row - 1 */
        if (owl_varint_len(t) < best)
            tok = t;
    }
    st[s] = (uint32_t)(i + 1);
    return tok;
}

/* Builds IDREF's tokens and literals in e: 1, or 0 when it was given up (not smaller than
 * FIXED after IDREF_PROBE rows), or OWL_ENOMEM. A literal or run token is held back
 * (`pend`, of `cnt` rows) while the next rows extend it. */
static int idref_build(owl_idref_enc *e, const uint8_t *v, size_t width, size_t n,
                       const uint8_t *ref)
{
    int rc;
    if ((rc = idref_tables(e, n, ref != NULL)) != OWL_OK)
        return rc;
    if (ref) {
        uint32_t *rt = e->slots + e->cap;
        for (size_t j = 0; j < n; j++)
            rt[id_find(rt, e->cap - 1, ref, ref + j * width, width)] = (uint32_t)(j + 1);
    }
    owl_buf_reset(&e->tok);
    owl_buf_reset(&e->lit);
    uint8_t *tok = grow(&e->tok, 10 * n), *lit = grow(&e->lit, width * n);
    if (!tok || !lit)
        return OWL_ENOMEM;
    uint8_t *t0 = tok, *l0 = lit;
    uint64_t pend = UINT64_MAX, cnt = 0; /* UINT64_MAX: nothing held back */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *x = v + i * width;
        /* a run's later rows stay out of the self table: it keeps the run's first row */
        uint64_t t = i && memcmp(x, x - width, width) == 0
                         ? TOK_RUN
                         : idref_token(e, v, width, i, ref, pend == TOK_LIT);
        if (t == TOK_LIT) {
            memcpy(lit, x, width);
            lit += width;
        }
        if (t == pend) {
            cnt++;
        } else {
            if (pend != UINT64_MAX)
                tok = owl_varint_write(tok, 4 * (cnt - 1) + pend);
            if (t == TOK_LIT || t == TOK_RUN)
                pend = t, cnt = 1;
            else
                tok = owl_varint_write(tok, t), pend = UINT64_MAX;
        }
        if (i + 1 == IDREF_PROBE && (size_t)(tok - t0) + (size_t)(lit - l0) >= IDREF_PROBE * width)
            return 0;
    }
    if (pend != UINT64_MAX)
        tok = owl_varint_write(tok, 4 * (cnt - 1) + pend);
    commit(&e->tok, tok);
    commit(&e->lit, lit);
    return 1;
}

int owl_enc_id(owl_idref_enc *e, const uint8_t *v, size_t width, size_t n, const uint8_t *ref,
               size_t ref_col, owl_buf *out)
{
    if (width == 0)
        return OWL_EINVAL;
    if (width > 255 || n == 0 || n >= UINT32_MAX || ref_col > 254)
        return owl_enc_fixed(v, width, n, out);
    int built = idref_build(e, v, width, n, ref);
    if (built < 0)
        return built;
    size_t nlit = e->lit.len / width;
    size_t size = 3 + owl_varint_len(nlit) + e->tok.len + e->lit.len;
    if (!built || size >= 1 + owl_varint_len(width) + n * width)
        return owl_enc_fixed(v, width, n, out);
    uint8_t *o = grow(out, size);
    if (!o)
        return OWL_ENOMEM;
    *o++ = OWL_ENC_IDREF;
    *o++ = (uint8_t)width;
    *o++ = ref ? (uint8_t)(ref_col + 1) : 0;
    o = owl_varint_write(o, nlit);
    memcpy(o, e->tok.data, e->tok.len);
    o += e->tok.len;
    memcpy(o, e->lit.data, e->lit.len);
    commit(out, o + e->lit.len);
    return OWL_OK;
}

/* The header of an IDREF chunk: width, reference column (SIZE_MAX none), where the tokens
 * start, and where the literals do (the tokens' end). */
struct idref_hdr {
    size_t width, ref_col;
    const uint8_t *tok, *lit;
};

static int idref_hdr(const uint8_t *p, size_t len, struct idref_hdr *h)
{
    const uint8_t *q = p + 3, *end = p + len;
    uint64_t nlit;
    if (len < 4 || p[0] != OWL_ENC_IDREF || p[1] == 0 ||
        owl_varint_read(&q, end, &nlit) != OWL_OK || nlit > (size_t)(end - q) / p[1])
        return OWL_ECORRUPT;
    h->width = p[1];
    h->ref_col = p[2] ? (size_t)p[2] - 1 : SIZE_MAX;
    h->tok = q;
    h->lit = end - (size_t)nlit * h->width;
    return OWL_OK;
}

int owl_idref_ref(const uint8_t *p, size_t len, size_t *ref_col)
{
    struct idref_hdr h;
    int rc = idref_hdr(p, len, &h);
    if (rc == OWL_OK)
        *ref_col = h.ref_col;
    return rc;
}

int owl_dec_idref(const uint8_t *p, size_t len, size_t width, size_t n, const owl_cell *ref,
                  owl_cell *out)
{
    struct idref_hdr h;
    if (idref_hdr(p, len, &h) != OWL_OK || h.width != width || (h.ref_col != SIZE_MAX && !ref))
        return OWL_ECORRUPT;
    /* rows a reference token may name: none without a reference column */
    size_t nref = h.ref_col == SIZE_MAX ? 0 : n;
    const uint8_t *q = h.tok, *tend = h.lit, *lit = h.lit, *lend = p + len;
    size_t i = 0;
    /* most tokens are one byte: references to the other column first (a span's parent),
     * then runs (a trace's id, siblings' parent) */
    while (i < n) {
        uint64_t t;
        if (q < tend && *q < 0x80)
            t = *q++;
        else if (owl_varint_get(&q, tend, &t) != OWL_OK)
            return OWL_ECORRUPT;
        uint64_t x = t >> 2;
        if ((t & 3) == TOK_REF) {
            /* i + unzz(x), wrapping: a row before 0 wraps to 2^63 or more, never below n */
            uint64_t j = (uint64_t)i + (uint64_t)owl_unzigzag(x);
            if (j >= nref)
                return OWL_ECORRUPT;
            out[i++] = ref[j];
        } else if ((t & 3) == TOK_RUN) {
            if (i == 0 || x >= n - i)
                return OWL_ECORRUPT;
            /* two cells a turn: a trace's id fills most of a block this way */
            owl_cell v = out[i - 1], *o = out + i, *e = o + x + 1;
            for (; e - o >= 2; o += 2)
                o[0] = v, o[1] = v;
            if (o < e)
                *o = v;
            i += x + 1;
        } else if (t & 3) { /* TOK_BACK */
            if (x >= i)
                return OWL_ECORRUPT;
            out[i] = out[i - x - 1];
            i++;
        } else {
            if (x >= n - i || x >= (size_t)(lend - lit) / width)
                return OWL_ECORRUPT;
            for (size_t e = i + x + 1; i < e; i++, lit += width)
                out[i].b = (owl_bytes){lit, width};
        }
    }
    return q == tend && lit == lend ? OWL_OK : OWL_ECORRUPT;
}

/* ---- packed chunks ---- */

#define CHUNK_HDR 5 /* codec + crc32c */



/* zstd contexts cached per thread: creating one per 8 KiB chunk costs more than the
 * (de)compression itself. Freed by the key destructor when the thread exits. */
struct zctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
};

static pthread_key_t zkey;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;
static int zkey_ok;

static void zctx_free(void *p)
{
    struct zctx *z = p;
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

static void zkey_init(void)
{
    zkey_ok = pthread_key_create(&zkey, zctx_free) == 0;
}

/* The calling thread's contexts, or NULL (then the one-shot zstd calls are used). */
static struct zctx *zctx_get(void)
{
    pthread_once(&zonce, zkey_init);
    if (!zkey_ok)
        return NULL;
    struct zctx *z = pthread_getspecific(zkey);
    if (!z) {
        z = calloc(1, sizeof *z);
        if (!z)
            return NULL;
        if (pthread_setspecific(zkey, z) != 0) {
            free(z);
            return NULL;
        }
    }
    return z;
}

static size_t zcompress(void *dst, size_t cap, const void *src, size_t n, int level)
{
    struct zctx *z = zctx_get();
    if (z && !z->c)
        z->c = ZSTD_createCCtx();
    if (z && z->c)
        return ZSTD_compressCCtx(z->c, dst, cap, src, n, level);
    return ZSTD_compress(dst, cap, src, n, level);
}

static size_t zdecompress(void *dst, size_t cap, const void *src, size_t n)
{
    struct zctx *z = zctx_get();
    if (z && !z->d)
        z->d = ZSTD_createDCtx();
    if (z && z->d)
        return ZSTD_decompressDCtx(z->d, dst, cap, src, n);
    return ZSTD_decompress(dst, cap, src, n);
}

/* Packs raw with zstd unless that does not shrink it, or (keep_shift > 0) saves fewer than
 * n >> keep_shift bytes. */
static int pack_chunk(const void *raw, size_t n, int level, unsigned keep_shift, owl_buf *out)
{
    size_t bound = ZSTD_compressBound(n);
    if (ZSTD_isError(bound) || bound > SIZE_MAX - 32)
        return OWL_ENOMEM;
    if (bound < n)
        bound = n;
    uint8_t *start = grow(out, CHUNK_HDR + 10 + bound);
    if (!start)
        return OWL_ENOMEM;
    uint8_t *o = owl_varint_write(start + CHUNK_HDR, n);
    size_t z = n ? zcompress(o, bound, raw, n, level) : 0;
    /* stored when compression saves too little (or failed outright): nothing was committed,
     * so the stored chunk is written over the attempt */
    if (!n || ZSTD_isError(z) || z >= n || (keep_shift && n - z < n >> keep_shift))
        return owl_chunk_store(raw, n, out);
    start[0] = 1;
    o += z;
    owl_put32le(start + 1, owl_crc32c(0, start + CHUNK_HDR, (size_t)(o - start - CHUNK_HDR)));
    commit(out, o);
    return OWL_OK;
}

int owl_chunk_pack(const void *raw, size_t n, int level, owl_buf *out)
{
    return pack_chunk(raw, n, level, 0, out);
}

int owl_chunk_pack_fast(const void *raw, size_t n, int level, owl_buf *out)
{
    return pack_chunk(raw, n, level, 2, out);
}

/* The header of packed chunk p[0..len): its crc checked when check_crc, *raw its raw
 * length (<= max_raw), *q where its payload starts. */
static int chunk_head(const uint8_t *p, size_t len, size_t max_raw, int check_crc,
                      uint64_t *raw, const uint8_t **q)
{
    if (len < CHUNK_HDR + 1 || p[0] > 1)
        return OWL_ECORRUPT;
    if (check_crc && owl_crc32c(0, p + CHUNK_HDR, len - CHUNK_HDR) != owl_get32le(p + 1))
        return OWL_ECORRUPT;
    *q = p + CHUNK_HDR;
    if (owl_varint_get(q, p + len, raw) != OWL_OK)
        return OWL_ECORRUPT;
    if (*raw > max_raw)
        return OWL_ETOOBIG;
    if (p[0] == 0 && (uint64_t)(p + len - *q) != *raw)
        return OWL_ECORRUPT;
    return OWL_OK;
}

int owl_chunk_view(const uint8_t *p, size_t len, size_t max_raw, const uint8_t **raw,
                   size_t *n)
{
    uint64_t rn;
    const uint8_t *q;
    int rc = chunk_head(p, len, max_raw, 1, &rn, &q);
    if (rc != OWL_OK)
        return rc;
    if (p[0] != 0)
        return OWL_ENOTFOUND;
    *raw = q;
    *n = (size_t)rn;
    return OWL_OK;
}

static int chunk_unpack(const uint8_t *p, size_t len, size_t max_raw, int check_crc,
                        owl_buf *out)
{
    uint64_t raw;
    const uint8_t *q, *end = p + len;
    int rc = chunk_head(p, len, max_raw, check_crc, &raw, &q);
    if (rc != OWL_OK)
        return rc;
    size_t plen = (size_t)(end - q);
    if (p[0] == 0)
        return owl_buf_append(out, q, plen);
    /* zstd: one frame whose declared size (when present) agrees with ours */
    unsigned long long fcs = ZSTD_getFrameContentSize(q, plen);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != raw))
        return OWL_ECORRUPT;
    uint8_t *o = grow(out, (size_t)raw);
    if (!o)
        return OWL_ENOMEM;
    size_t got = zdecompress(o, (size_t)raw, q, plen);
    if (ZSTD_isError(got) || got != raw) {
        out->data[out->len] = '\0';
        return OWL_ECORRUPT;
    }
    commit(out, o + got);
    return OWL_OK;
}

int owl_chunk_unpack(const uint8_t *p, size_t len, size_t max_raw, owl_buf *out)
{
    return chunk_unpack(p, len, max_raw, 1, out);
}

int owl_chunk_unpack_checked(const uint8_t *p, size_t len, size_t max_raw, owl_buf *out)
{
    return chunk_unpack(p, len, max_raw, 0, out);
}

int owl_chunk_store(const void *raw, size_t n, owl_buf *out)
{
    uint8_t *start = grow(out, CHUNK_HDR + 10 + n);
    if (!start)
        return OWL_ENOMEM;
    start[0] = 0;
    uint8_t *o = owl_varint_write(start + CHUNK_HDR, n);
    if (n)
        memcpy(o, raw, n);
    o += n;
    owl_put32le(start + 1, owl_crc32c(0, start + CHUNK_HDR, (size_t)(o - start - CHUNK_HDR)));
    commit(out, o);
    return OWL_OK;
}

int owl_chunk_stored_view(const uint8_t *p, size_t len, const uint8_t **raw, size_t *n)
{
    if (len < CHUNK_HDR + 1 || p[0] > 1)
        return OWL_ECORRUPT;
    if (p[0] != 0)
        return OWL_ENOTFOUND;
    const uint8_t *q = p + CHUNK_HDR, *end = p + len;
    uint64_t v;
    if (owl_varint_get(&q, end, &v) != OWL_OK || v != (uint64_t)(end - q))
        return OWL_ECORRUPT;
    *raw = q;
    *n = (size_t)v;
    return OWL_OK;
}

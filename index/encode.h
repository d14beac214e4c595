/* encode.h — column chunk encodings of the columnar store (private to index/).
 *
 * A column chunk is encoded (this file) and then packed (owl_chunk_pack: zstd + crc32c).
 * Every encoded buffer starts with one byte naming its encoding, so a reader never guesses:
 *
 *   id  name    layout after the id byte (varint = LEB128, zz = zigzag)
 *   1   I64RAW  n x int64 little-endian
 *   2   DELTA   varint zz(v0), then n-1 x varint zz(v[i]-v[i-1])
 *   3   DOD     varint zz(v0), varint zz(d1), then n-2 x varint zz(d[i]-d[i-1])
 *   4   CONST   varint zz(v0): every value equals v0
 *   5   F64RAW  n x IEEE-754 binary64 little-endian
 *   6   STR     n x varint length, then the n byte strings concatenated
 *   7   DICT    varint d, d x varint length, the d strings, then n indexes: one byte each
 *               when d <= 256, else varint each
 *   8   FIXED   varint width, then n x width bytes (8- and 16-byte ids)
 *   9   LOGTPL  log messages as templates and variables (logtpl.h)
 *   10  XOR     doubles: the first as 8 bytes little-endian, then per value x = bits XOR the
 *               previous bits as one byte 0 (x = 0) or t+1 (t = trailing zero bits of x,
 *               0..63) followed by varint(x >> t) (odd)
 *   11  F64INT  doubles that are all integers of magnitude < 2^53 (and no -0.0): an I64
 *               encoding (I64RAW, DELTA, DOD, CONST, FOR or DFOR, with its own id byte) of
 *               their values
 *   12  F64DEC  doubles that are all decimals with at most k (1..15) fraction digits: byte k,
 *               then an I64 encoding of v x 10^k; each value is exactly the double nearest
 *               to that integer / 10^k (checked by the encoder), magnitudes < 2^53
 *   13  F64SEG  doubles in segments each encoded on its own (docs/storage.md, "Parts")
 *   14  FOR     varint n (>= 1), varint zz(base), byte w (0..64), then the n offsets v[i] - base
 *               (uint64) packed w bits each, least significant bit first, in exactly
 *               ceil(n*w/8) bytes whose last byte's unused high bits are 0; the encoder
 *               takes base = the least value (int64) and w = the bits of the greatest offset
 *   15  DFOR    varint n (>= 2), varint zz(v0), varint zz(base), byte w (0..64), then the n-1
 *               deltas d[i] = v[i] - v[i-1] (uint64, wrapping) as d[i] - base packed as in
 *               FOR; base = the least delta (as int64). A single value is never DFOR
 *               FOR and DFOR store n, unlike the other encodings, because their bytes alone
 *               do not fix it: a byte of padding bits holds 0 to 7 more values of w < 8
 *   16  IDREF   ids as references: byte width (1..255), byte ref (0 = none, k + 1 = column
 *               k of the part's own column list, whose values the tokens may name), varint
 *               nlit, then tokens (varints 4x + kind) covering the n rows in order, then the
 *               nlit literals (nlit x width bytes). Kinds, at row i: 0 = the next x + 1
 *               literals; 1 = x + 1 rows holding row i - 1's value; 2 = the value of row
 *               i - x - 1; 3 (only with a ref) = the value of row i + unzz(x) of column ref
 *               in the same block. Decoded without copies (owl_dec_idref)
 * Decoders treat their input as untrusted: any inconsistency is OWL_ECORRUPT, never a crash. */
#ifndef OWL_ENCODE_H
#define OWL_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "common/endian.h"
#include "index/index.h"

enum owl_enc {
    OWL_ENC_I64RAW = 1,
    OWL_ENC_DELTA = 2,
    OWL_ENC_DOD = 3,
    OWL_ENC_CONST = 4,
    OWL_ENC_F64RAW = 5,
    OWL_ENC_STR = 6,
    OWL_ENC_DICT = 7,
    OWL_ENC_FIXED = 8,
    OWL_ENC_LOGTPL = 9,
    OWL_ENC_XOR = 10,
    OWL_ENC_F64INT = 11,
    OWL_ENC_F64DEC = 12,
    OWL_ENC_F64SEG = 13,
    OWL_ENC_FOR = 14,
    OWL_ENC_DFOR = 15,
    OWL_ENC_IDREF = 16,
};

/* A byte string view; p need not be NUL-terminated. */
typedef struct owl_strref {
    const char *p;
    uint32_t n;
} owl_strref;

/* owl_varint_put — writes v as LEB128 into out (10 bytes max); returns bytes written. */
size_t owl_varint_put(uint8_t *out, uint64_t v);

/* owl_varint_get — reads one LEB128 value at *p (< end), advancing *p.
 * OWL_ECORRUPT when truncated or longer than 10 bytes. */
int owl_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* owl_varint_len — bytes LEB128 takes for v (1..10). */
static inline size_t owl_varint_len(uint64_t v)
{
    /* bits needed (at least 1), 7 per byte: 1 + (bits - 1) / 7, where bits - 1 = clz ^ 63
     * (one bsr) and x / 7 = x * 37 >> 8 for x < 64, cheaper than the division */
    return 1 + (((unsigned)(__builtin_clzll(v | 1) ^ 63) * 37) >> 8);
}

/* owl_varint_write — writes v as LEB128 at o (room for 10 bytes); returns the end. The
 * inline form of owl_varint_put, for encoders' inner loops. */
static inline uint8_t *owl_varint_write(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* owl_varint_read — owl_varint_get for decoders' inner loops: with 8 bytes in hand, one
 * load finds the last byte (the first with its top bit clear) and gathers the 7-bit groups
 * of a varint of up to 8 bytes without a branch per byte. Longer varints (57 bits and more)
 * and those within 8 bytes of the end take the checked general reader, so every check of
 * owl_varint_get still holds: same results and errors. */
static inline int owl_varint_read(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (end - p >= 8) {
        uint64_t w = owl_get64le(p), stop = ~w & 0x8080808080808080ull;
        if (stop) {
            /* stop - 1: the bits below the last byte's top bit; without the continuation
             * bits, 7 data bits a byte, joined in pairs (a pair is lo + hi * 256, less
             * hi * 128), fours and eights */
            w &= (stop - 1) & 0x7f7f7f7f7f7f7f7full;
            w -= w >> 1 & 0x3f803f803f803f80ull;
            w = (w & 0x00003fff00003fffull) | (w >> 2 & 0x0fffc0000fffc000ull);
            *v = (w & 0x000000000fffffffull) | (w >> 4 & 0x00fffffff0000000ull);
            *pp = p + 1 + ((unsigned)__builtin_ctzll(stop) >> 3);
            return OWL_OK;
        }
    }
    return owl_varint_get(pp, end, v);
}

/* owl_sample_key — a cheap key of the n bytes at p from their length and first and last 8
 * bytes (all of them up to 16), for caches of values that compare the bytes exactly: values
 * alike at both ends only share a slot. */
static inline uint64_t owl_sample_key(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t a = n, z = 0;
    if (n >= 8)
        a ^= owl_get64le(b), z = owl_get64le(b + n - 8);
    else if (n >= 4)
        a ^= owl_get32le(b), z = owl_get32le(b + n - 4);
    else if (n > 0)
        a ^= (uint64_t)b[0] << 8 | (uint64_t)b[n / 2] << 16 | (uint64_t)b[n - 1] << 24;
    return a ^ (z * 0x9e3779b97f4a7c15ull);
}

static inline uint64_t owl_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t owl_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* owl_enc_i64 — appends the smallest of I64RAW / DELTA / DOD / CONST / FOR / DFOR for the n
 * values (on ties the one that decodes faster). OWL_OK or OWL_ENOMEM. */
int owl_enc_i64(const int64_t *v, size_t n, owl_buf *out);

/* owl_dec_i64 — decodes exactly n values from p (len bytes, starting with the id byte) into
 * out. OWL_ECORRUPT when the encoding is unknown, truncated, or holds extra bytes. */
int owl_dec_i64(const uint8_t *p, size_t len, size_t n, int64_t *out);

/* owl_dec_i64_stride — owl_dec_i64 with value i written at out[i * stride] (stride >= 1), so
 * that values land in wider cells (part.c's owl_cell) without a second pass to spread them. */
int owl_dec_i64_stride(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t stride);

/* owl_enc_f64 / owl_dec_f64 — the smallest of F64RAW, CONST (all bit patterns equal), XOR
 * (neighbouring values alike, as in time series) and F64INT (integral values: counters). */
int owl_enc_f64(const double *v, size_t n, owl_buf *out);
int owl_dec_f64(const uint8_t *p, size_t len, size_t n, double *out);

/* owl_enc_f64_seg — the values as nseg segments of seg[0], seg[1], ... values (summing to n),
 * each encoded on its own as owl_enc_f64 would (F64SEG), so each takes its own decimal scale
 * and integer encoding: a clustered part's block holds several series, a counter beside a
 * gauge read to six decimals. Segments of F64SEG_MIN_AVG values or more on average: F64SEG;
 * shorter ones (roll-up rows, a few per series in a block): whichever of F64SEG and
 * owl_enc_f64 is smaller (each segment costs 3 or 4 bytes). owl_dec_f64 reads either. */
#define F64SEG_MIN_AVG 32
int owl_enc_f64_seg(const double *v, size_t n, const size_t *seg, size_t nseg, owl_buf *out);

/* owl_enc_str — appends DICT when it is smaller than STR (few distinct values), else STR.
 * allow_dict = 0 forces STR; OWL_DICT_PROBE (for columns whose values are often all
 * different, BSON documents) gives the dictionary up, from 1,024 values on, when the first
 * eighth of them is more than three quarters distinct, without reading further. */
#define OWL_DICT_PROBE 2
int owl_enc_str(const owl_strref *v, size_t n, int allow_dict, owl_buf *out);

/* owl_dec_str — decodes n strings; the refs point into p (which must outlive them).
 * OWL_ECORRUPT on any inconsistency. */
int owl_dec_str(const uint8_t *p, size_t len, size_t n, owl_strref *out);

/* owl_enc_fixed / owl_dec_fixed — n values of `width` bytes each (FIXED); the decoder
 * checks the stored width equals `width` and points *out at the n*width value bytes in p. */
int owl_enc_fixed(const uint8_t *v, size_t width, size_t n, owl_buf *out);
int owl_dec_fixed(const uint8_t *p, size_t len, size_t width, size_t n, const uint8_t **out);

/* Scratch of owl_enc_id, reused from call to call so a writer allocates it once: hash
 * tables of values to rows, the tokens and the literals of the chunk being built. Start
 * zeroed; release with owl_idref_enc_free. */
typedef struct owl_idref_enc {
    uint32_t *slots; /* 2 x cap: this column's values, then the reference column's */
    size_t cap;      /* a power of two, at least twice the rows */
    owl_buf tok, lit;
} owl_idref_enc;

void owl_idref_enc_free(owl_idref_enc *e);

/* owl_enc_id — appends the smaller of FIXED and IDREF for the n values of `width` bytes at
 * v (back to back). IDREF names the earlier row of an equal value and, when ref is not NULL
 * (the n values of the same width of column ref_col, 0..254, of the same block, back to
 * back), a row of ref holding the value. IDREF is given up after 64 rows when it has not
 * been smaller than FIXED so far, and taken only when smaller in the end. OWL_OK or
 * OWL_ENOMEM. */
int owl_enc_id(owl_idref_enc *e, const uint8_t *v, size_t width, size_t n, const uint8_t *ref,
               size_t ref_col, owl_buf *out);

/* owl_idref_ref — for an IDREF chunk (p, len bytes, starting with the id byte), *ref_col
 * gets the column its tokens may reference, SIZE_MAX for none. OWL_ECORRUPT when the chunk
 * is not IDREF or its header is truncated. */
int owl_idref_ref(const uint8_t *p, size_t len, size_t *ref_col);

/* owl_dec_idref — decodes the n values of an IDREF chunk as cells whose bytes are not
 * copied: out[i].b points at a literal inside p, or where an earlier out[k] or ref[j]
 * points (p and ref's bytes must outlive out). ref holds the n cells of the referenced
 * column, each of `width` bytes (copied as they are), or is NULL when the caller has none.
 * OWL_ECORRUPT on a width other than `width`, a reference column without ref, a token
 * naming a row outside 0..n-1 or a later row of this column, a literal beyond nlit, and on
 * truncation or trailing bytes. */
int owl_dec_idref(const uint8_t *p, size_t len, size_t width, size_t n, const owl_cell *ref,
                  owl_cell *out);

/* A packed chunk:
 *   0  1  codec: 0 = stored, 1 = zstd
 *   1  4  crc32c of bytes 5.. (the payload as stored)
 *   5  v  varint raw length
 *   .. .  payload (compressed when codec = 1) */

/* owl_chunk_pack — compresses raw with zstd at level (stores raw when that is not smaller)
 * and appends the packed chunk to out. owl_chunk_pack_fast — the same, but stores raw unless
 * zstd saves a quarter of it: such chunks are mostly literals, whose entropy decoding costs a
 * reader far more than a copy (OWL_COL_FAST columns). */
int owl_chunk_pack(const void *raw, size_t n, int level, owl_buf *out);
int owl_chunk_pack_fast(const void *raw, size_t n, int level, owl_buf *out);

/* owl_chunk_unpack — verifies the crc and appends the raw bytes to out. OWL_ECORRUPT on a
 * bad crc, codec or length; OWL_ETOOBIG when the raw length exceeds max_raw. */
int owl_chunk_unpack(const uint8_t *p, size_t len, size_t max_raw, owl_buf *out);

/* owl_chunk_view — verifies the crc and lengths as owl_chunk_unpack does and, for a stored
 * chunk, points *raw at its n raw bytes inside p (no copy). OWL_ENOTFOUND for a compressed
 * chunk, whose crc is then checked: owl_chunk_unpack_checked unpacks it. Errors as
 * owl_chunk_unpack's. */
int owl_chunk_view(const uint8_t *p, size_t len, size_t max_raw, const uint8_t **raw,
                   size_t *n);

/* owl_chunk_unpack_checked — the same without the crc check, for a chunk whose every byte
 * the caller has just checked by a crc of its own (a part footer, covered by the trailer's
 * crc32c): one pass less over large footers. Every length is still checked. */
int owl_chunk_unpack_checked(const uint8_t *p, size_t len, size_t max_raw, owl_buf *out);

/* owl_chunk_store — appends raw as a stored (codec 0) chunk, without trying zstd. */
int owl_chunk_store(const void *raw, size_t n, owl_buf *out);

/* owl_chunk_stored_view — for a stored chunk whose bytes the caller has checked (as
 * owl_chunk_unpack_checked): points *raw at its n payload bytes inside p, no copy.
 * OWL_ENOTFOUND when the chunk is compressed; OWL_ECORRUPT when malformed. */
int owl_chunk_stored_view(const uint8_t *p, size_t len, const uint8_t **raw, size_t *n);

#endif

/* logtpl.h — LOGTPL (encoding id 9): a log message column as templates plus variables
 * (private to index/; the STR column's alternative for messages, see docs/storage.md).
 *
 * Each message is cut into a template (its text with the variable tokens taken out) and its
 * variables. Templates are stored once per chunk, variables column by column, so zstd sees
 * regular streams; decoding gives back every message byte for byte. Layout after the id byte
 * (varint = LEB128, zz = zigzag; "k planes of m" = m unsigned k-byte values, byte 0 of every
 * value first, then byte 1, ...; k = 0 means all zero):
 *
 *   field             meaning
 *   varint T          templates; T = 0 iff n = 0, T <= n
 *   T templates       each ends with 0x0a. Bytes: 0x11 = a slot (the next value of its
 *                     column), 0x12 j = a copy of the row's value j (the j-th slot, j < the
 *                     slots before it), 0x10 x = the literal byte x (x in 0x0a, 0x10-0x12),
 *                     any other byte = itself
 *   varint C          columns; C = 0 iff there are no slots
 *   C headers         a kind byte, then for FIXED a width byte (1..19), for TIME a field
 *                     byte, for HEX a varint digit count (even, >= 2)
 *   slot map          for every slot of every template in order: varint 0 = the next column
 *                     not used yet, else 1 + a column already used; every column gets used
 *   byte k, ids       the n rows' template codes as k planes (k <= 4): 0 = the next template
 *                     not used yet, else 1 + a template already used
 *   C payloads        concatenated, each self-delimiting; column c holds, in row order, the
 *                     values of every slot that maps to c
 *
 * Integer column (kind < 0x80):
 *   bits 0-1  format: 0 CANON decimal without leading zeros ('-' when negative); 1 FIXED
 *             exactly w digits, zero-padded, value >= 0; 2 MIXED per value (pad bytes)
 *   bit 2     DELTA: the stream is v0 (a varint zz first) then v[i] - v[i-1] (wrapping)
 *   bit 3     PLANES: the stream is varint zz(base), byte k (0..8), then x - base as k
 *             planes; else VARINT: one varint zz(x) per value
 *   bit 4     TIME: values are stored minus a field of the row's time (UTC): 1 year, 2 year
 *             % 100, 3 month, 4 day, 5 hour, 6 minute, 7 second, 8 millisecond, 9 epoch s,
 *             10 epoch ms, 11 yymmdd, 12 hhmmss, 13 yyyymmdd
 *   payload   MIXED: count pad bytes (0 = CANON, else zero-padded to that many digits, 1..19);
 *             then the stream of count values (count - 1 after v0 with DELTA)
 * String column (kind >= 0x80): 0x80 PLAIN count varint lengths then the bytes; 0x81 SAME
 * varint length L then count x L bytes; 0x82 HEX count x digits/2 bytes, spelled as lowercase
 * hex; 0x83 UUID count x 16 bytes, spelled as a lowercase 8-4-4-4-12 UUID; 0x84 DICT varint
 * d (1..count) distinct strings, d varint lengths, the d strings, a byte k (1..4), then the
 * count codes as k planes: 0 = the next string not used yet, else 1 + a string already used.
 * Strings are never empty.
 *
 * Decoders treat input as untrusted: any inconsistency is OWL_ECORRUPT, never a crash. */
#ifndef OWL_LOGTPL_H
#define OWL_LOGTPL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "index/encode.h"

/* OWL_ENC_LOGTPL, the encoding id, is in encode.h's enum with the others. */

/* A chunk never decodes to more message bytes than this (the part writer's raw chunk cap). */
#define OWL_LOGTPL_MAX_OUT ((size_t)1 << 30)

/* owl_enc_logtpl — appends the LOGTPL encoding of the n messages v[0..n) (starting with the
 * id byte OWL_ENC_LOGTPL) to out. Any bytes are accepted (NUL, invalid UTF-8, 0x10-0x12).
 * OWL_OK; OWL_ETOOBIG when the messages total more than OWL_LOGTPL_MAX_OUT bytes; OWL_ENOMEM.
 * On failure out is left as it was. */
int owl_enc_logtpl(const owl_strref *v, size_t n, owl_buf *out);

/* owl_enc_logtpl_time — the same, given each row's time (ms since the epoch, e.g. the logs
 * table's time column): integer columns that follow a field of it (the year, ..., the
 * millisecond, epoch seconds of the line's own timestamp text) are then stored relative to
 * it, which makes them nearly free. The chunk can only be decoded given the same times. */
int owl_enc_logtpl_time(const owl_strref *v, const int64_t *time_ms, size_t n, owl_buf *out);

/* owl_logtpl_may_contain — 0 when no message of the LOGTPL chunk p (len bytes, id byte
 * first) can contain the n bytes of text, judged from the chunk's bytes without decoding:
 * the encoder keeps template text and string variables as their bytes and re-spells only
 * words (maximal [A-Za-z0-9] runs) made of [0-9a-f] alone (integers, lowercase hex, UUIDs),
 * so every maximal [A-Za-z0-9] piece of text holding another character, being part of a
 * word kept as bytes, appears in the chunk. 1 when it may (also for text with no such
 * piece). Never fails; the chunk need not be valid. */
int owl_logtpl_may_contain(const uint8_t *p, size_t len, const void *text, size_t n);

/* owl_dec_logtpl — decodes exactly n messages from p (len bytes, starting with the id byte)
 * into out[0..n). *arena is reset and then holds the message bytes: the refs stay valid until
 * the arena is next changed or freed (the caller owns it and may reuse it across calls).
 * OWL_ECORRUPT on any inconsistency (also trailing bytes, or more than OWL_LOGTPL_MAX_OUT
 * message bytes); OWL_ENOMEM. */
int owl_dec_logtpl(const uint8_t *p, size_t len, size_t n, owl_strref *out, owl_buf *arena);

/* owl_dec_logtpl_time — the same for a chunk made by owl_enc_logtpl_time, given the same
 * times (time_ms may be NULL for a chunk that needs none). OWL_EINVAL when the chunk needs
 * times and time_ms is NULL (owl_dec_logtpl then fails the same way). */
int owl_dec_logtpl_time(const uint8_t *p, size_t len, size_t n, const int64_t *time_ms,
                        owl_strref *out, owl_buf *arena);

/* One template of a chunk, as owl_dec_logtpl_sel shows it to its judge. */
typedef struct owl_logtpl_tpl owl_logtpl_tpl;

/* owl_logtpl_tpl_may_contain — 0 when no message of template t can contain the n bytes of
 * text (owl_logtpl_may_contain's test, for one template: a word of text holding a character
 * other than [0-9a-f] must be in one of its literal runs, or in the chunk's string values
 * when a slot of t takes those). 1 when it may. */
int owl_logtpl_tpl_may_contain(const owl_logtpl_tpl *t, const void *text, size_t n);

/* A judge of templates: 0 when no row of template t is wanted (a row the caller's filter
 * certainly fails), else 1. */
typedef int (*owl_logtpl_tpl_fn)(void *ud, const owl_logtpl_tpl *t);

/* owl_dec_logtpl_sel — owl_dec_logtpl_time, but fn (not NULL) judges each template first:
 * the rows of a template it says 0 to are not rebuilt (out[r] is empty, keep[r] = 0; keep
 * has n entries, others are left as they were) and *left_out counts them. Same errors; a
 * chunk that owl_dec_logtpl_time rejects may be accepted only as far as rows left out go. */
int owl_dec_logtpl_sel(const uint8_t *p, size_t len, size_t n, const int64_t *time_ms,
                       owl_logtpl_tpl_fn fn, void *ud, uint8_t *keep, size_t *left_out,
                       owl_strref *out, owl_buf *arena);

#endif

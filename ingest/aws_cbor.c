/* aws_cbor.c — Smithy RPC v2 CBOR <-> BSON with libcbor. Decoding uses libcbor's streaming
 * decoder (one callback per item head) and builds the document directly, so nesting is
 * bounded by OWL_AWS_MAX_DEPTH and nothing is allocated for a length the input only claims;
 * libcbor's tree loader would recurse once per level when freeing and trust those lengths.
 * Encoding writes item heads with libcbor's encoders. */
#include <cbor.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "ingest/aws_int.h"

enum frame_kind { F_MAP, F_ARRAY };

typedef struct frame {
    enum frame_kind kind;
    bson_t doc;
    int64_t left;   /* items still to come (a map counts keys and values); -1 = indefinite */
    uint32_t index; /* next array index */
    int want_key;   /* map: the next item is a key */
    char *key;      /* map: the key of the value to come (points into owl_buf keybuf) */
} frame;

typedef struct cdec {
    frame st[OWL_AWS_MAX_DEPTH + 1];
    int depth;         /* frames in use; st[0] is the top-level map */
    int done;          /* the top-level map is complete */
    int failed;
    char msg[128];
    int tagged;        /* the next item carries tag 1 (epoch-seconds timestamp) */
    int in_chunks;     /* 1 = inside an indefinite text string, 2 = byte string */
    owl_buf chunks;    /* indefinite string pieces */
    owl_buf keys[OWL_AWS_MAX_DEPTH + 1]; /* the pending key per level */
    char idx[16];
} cdec;

static void fail(cdec *c, const char *msg)
{
    if (!c->failed) {
        c->failed = 1;
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    }
}

/* Called after a value was appended to the top frame: counts it and closes finished
 * definite containers. */
static void item_done(cdec *c);

/* Ends the top frame: appends it to its parent (or marks the top-level map done). */
static void close_frame(cdec *c);

/* The key under which the next value goes in the top frame, or NULL (after fail). */
static const char *value_key(cdec *c)
{
    frame *f = &c->st[c->depth - 1];
    if (f->kind == F_ARRAY) {
        const char *k;
        bson_uint32_to_string(f->index, &k, c->idx, sizeof c->idx);
        return k;
    }
    if (f->want_key) {
        fail(c, "map keys must be text strings");
        return NULL;
    }
    return c->keys[c->depth - 1].data ? c->keys[c->depth - 1].data : "";
}

/* May a value start now? No after the end, while inside chunks, or a key is due. */
static int ready(cdec *c)
{
    if (c->failed)
        return 0;
    if (c->done || c->depth == 0) {
        fail(c, c->done ? "data after the top-level map" : "the body must be a CBOR map");
        return 0;
    }
    if (c->in_chunks) {
        fail(c, "only string chunks may appear inside an indefinite-length string");
        return 0;
    }
    return 1;
}

static void appended(cdec *c, bool ok)
{
    if (!ok) {
        fail(c, "document too large");
        return;
    }
    item_done(c);
}

/* A number: an integer i, or the float d when is_double. After tag 1 (epoch seconds) it
 * becomes a date, refused beyond 9.2e12 s (about 290,000 years) so that the milliseconds fit. */
static void put_number(cdec *c, int64_t i, double d, bool is_double)
{
    if (!ready(c))
        return;
    const char *k = value_key(c);
    if (!k)
        return;
    bson_t *doc = &c->st[c->depth - 1].doc;
    if (c->tagged) {
        c->tagged = 0;
        if (is_double ? !isfinite(d) || fabs(d) > 9.2e12
                      : i > 9200000000000LL || i < -9200000000000LL) {
            fail(c, "timestamp out of range");
            return;
        }
        appended(c, bson_append_date_time(doc, k, -1,
                                          is_double ? (int64_t)llround(d * 1000.0) : i * 1000));
        return;
    }
    if (is_double)
        appended(c, bson_append_double(doc, k, -1, d));
    else
        appended(c, i >= INT32_MIN && i <= INT32_MAX ? bson_append_int32(doc, k, -1, (int32_t)i)
                                                     : bson_append_int64(doc, k, -1, i));
}

static void put_int(cdec *c, int64_t v) { put_number(c, v, 0, false); }

static void put_uint(cdec *c, uint64_t v)
{
    if (v > INT64_MAX) {
        fail(c, "integer out of range");
        return;
    }
    put_int(c, (int64_t)v);
}

static void on_u8(void *u, uint8_t v) { put_uint(u, v); }
static void on_u16(void *u, uint16_t v) { put_uint(u, v); }
static void on_u32(void *u, uint32_t v) { put_uint(u, v); }
static void on_u64(void *u, uint64_t v) { put_uint(u, v); }

/* negative integers arrive as n for the value -1 - n */
static void put_neg(cdec *c, uint64_t n)
{
    if (n > (uint64_t)INT64_MAX) {
        fail(c, "integer out of range");
        return;
    }
    put_int(c, -1 - (int64_t)n);
}
static void on_n8(void *u, uint8_t v) { put_neg(u, v); }
static void on_n16(void *u, uint16_t v) { put_neg(u, v); }
static void on_n32(void *u, uint32_t v) { put_neg(u, v); }
static void on_n64(void *u, uint64_t v) { put_neg(u, v); }

static void put_double(cdec *c, double d) { put_number(c, 0, d, true); }
static void on_f2(void *u, float v) { put_double(u, v); }
static void on_f4(void *u, float v) { put_double(u, v); }
static void on_f8(void *u, double v) { put_double(u, v); }

/* A whole text (is_text) or byte string: a key when the map wants one, else a value. */
static void put_string(cdec *c, const char *p, size_t n, int is_text)
{
    frame *f = &c->st[c->depth - 1];
    if (c->tagged) {
        fail(c, "tag 1 must be followed by a number");
        return;
    }
    if (is_text && !owl_utf8_valid(p, n)) {
        fail(c, memchr(p, '\0', n) ? "NUL in a text string" : "text string is not valid UTF-8");
        return;
    }
    if (f->kind == F_MAP && f->want_key) {
        owl_buf *kb = &c->keys[c->depth - 1];
        if (!is_text || n > OWL_AWS_MAX_KEY || memchr(p, '\0', n)) {
            fail(c, "map keys must be text strings without NUL of at most 1024 bytes");
            return;
        }
        owl_buf_reset(kb);
        if (owl_buf_append(kb, p, n) != OWL_OK || owl_buf_putc(kb, '\0') != OWL_OK) {
            fail(c, "out of memory");
            return;
        }
        kb->len--; /* keep the NUL out of the length, in the data */
        f->want_key = 0;
        if (f->left > 0)
            f->left--;
        return;
    }
    const char *k = value_key(c);
    if (!k)
        return;
    appended(c, is_text ? bson_append_utf8(&f->doc, k, -1, p, (int)n)
                        : bson_append_binary(&f->doc, k, -1, BSON_SUBTYPE_BINARY,
                                             (const uint8_t *)p, (uint32_t)n));
}

static void on_string(cdec *c, cbor_data p, size_t n, int is_text)
{
    if (c->failed)
        return;
    if (c->in_chunks) {
        if (c->in_chunks != (is_text ? 1 : 2)) {
            fail(c, "a chunk of an indefinite-length string has the wrong type");
            return;
        }
        if (c->chunks.len + n > (size_t)INT32_MAX ||
            owl_buf_append(&c->chunks, p, n) != OWL_OK)
            fail(c, "string too large");
        return;
    }
    if (c->done || c->depth == 0) {
        ready(c);
        return;
    }
    put_string(c, (const char *)p, n, is_text);
}
static void on_text(void *u, cbor_data p, size_t n) { on_string(u, p, n, 1); }
static void on_bytes(void *u, cbor_data p, size_t n) { on_string(u, p, n, 0); }

static void chunks_start(cdec *c, int which)
{
    if (!ready(c))
        return;
    c->in_chunks = which;
    owl_buf_reset(&c->chunks);
}
static void on_text_start(void *u) { chunks_start(u, 1); }
static void on_bytes_start(void *u) { chunks_start(u, 2); }

static void open_container(cdec *c, enum frame_kind kind, int64_t count)
{
    bson_t *parent = NULL;
    const char *k = NULL;
    if (c->depth == 0 && !c->done && !c->failed && !c->in_chunks) {
        if (kind != F_MAP) {
            fail(c, "the body must be a CBOR map");
            return;
        }
    } else {
        if (!ready(c) || !(k = value_key(c)))
            return;
        if (c->tagged) {
            fail(c, "tag 1 must be followed by a number");
            return;
        }
        parent = &c->st[c->depth - 1].doc;
    }
    if (c->depth > OWL_AWS_MAX_DEPTH - 1) {
        fail(c, "nested too deeply");
        return;
    }
    frame *f = &c->st[c->depth];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->want_key = kind == F_MAP;
    if (count >= 0)
        f->left = kind == F_MAP ? 2 * count : count;
    else
        f->left = -1;
    if (parent) {
        bool ok = kind == F_MAP ? bson_append_document_begin(parent, k, -1, &f->doc)
                                : bson_append_array_begin(parent, k, -1, &f->doc);
        if (!ok) {
            fail(c, "document too large");
            return;
        }
    } else {
        bson_init(&f->doc);
    }
    c->depth++;
    if (f->left == 0)
        close_frame(c); /* an empty definite container closes at once */
}

/* A map's claimed count of pairs may exceed what fits; refuse instead of overflowing. */
static void on_map(void *u, size_t n)
{
    open_container(u, F_MAP, n > (size_t)INT32_MAX ? INT32_MAX : (int64_t)n);
}
static void on_array(void *u, size_t n)
{
    open_container(u, F_ARRAY, n > (size_t)INT32_MAX ? INT32_MAX : (int64_t)n);
}
static void on_imap(void *u) { open_container(u, F_MAP, -1); }
static void on_iarray(void *u) { open_container(u, F_ARRAY, -1); }

static void close_frame(cdec *c)
{
    frame *f = &c->st[c->depth - 1];
    const char *dup;
    int d = f->kind == F_MAP ? owl_aws_dup_key(&f->doc, &dup) : 0;
    if (d != 0) {
        /* a key given twice would be read first-wins by one reader and last-wins by
         * another; refused as JSON bodies are */
        char msg[128];
        snprintf(msg, sizeof msg, "map key \"%.64s\" is given twice", d == 1 ? dup : "?");
        fail(c, d == 1 ? msg : "out of memory");
    }
    c->depth--;
    if (c->depth == 0) {
        c->done = 1;
        return;
    }
    frame *p = &c->st[c->depth - 1];
    bool ok = f->kind == F_MAP ? bson_append_document_end(&p->doc, &f->doc)
                               : bson_append_array_end(&p->doc, &f->doc);
    appended(c, ok);
}

static void item_done(cdec *c)
{
    frame *f = &c->st[c->depth - 1];
    if (f->kind == F_ARRAY)
        f->index++;
    else
        f->want_key = 1;
    if (f->left > 0 && --f->left == 0)
        close_frame(c);
}

static void on_break(void *u)
{
    cdec *c = u;
    if (c->failed)
        return;
    if (c->in_chunks) {
        int text = c->in_chunks == 1;
        c->in_chunks = 0;
        put_string(c, c->chunks.data ? c->chunks.data : "", c->chunks.len, text);
        return;
    }
    if (c->depth == 0 || c->st[c->depth - 1].left != -1) {
        fail(c, "unexpected break");
        return;
    }
    frame *f = &c->st[c->depth - 1];
    if (f->kind == F_MAP && !f->want_key) {
        fail(c, "map ends between a key and its value");
        return;
    }
    if (c->tagged) {
        fail(c, "tag without an item");
        return;
    }
    close_frame(c);
}

static void on_tag(void *u, uint64_t tag)
{
    cdec *c = u;
    if (!ready(c))
        return;
    if (tag != 1 || c->tagged) {
        fail(c, "only tag 1 (epoch-seconds timestamp) is accepted");
        return;
    }
    c->tagged = 1;
}

static void put_simple(cdec *c, int kind /* 0 null, 1 false, 2 true */)
{
    if (!ready(c))
        return;
    const char *k = value_key(c);
    if (!k)
        return;
    if (c->tagged) {
        fail(c, "tag 1 must be followed by a number");
        return;
    }
    bson_t *d = &c->st[c->depth - 1].doc;
    appended(c, kind == 0 ? bson_append_null(d, k, -1) : bson_append_bool(d, k, -1, kind == 2));
}
static void on_null(void *u) { put_simple(u, 0); }
static void on_bool(void *u, bool v) { put_simple(u, v ? 2 : 1); }

static const struct cbor_callbacks callbacks = {
    .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
    .negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32, .negint64 = on_n64,
    .byte_string_start = on_bytes_start, .byte_string = on_bytes,
    .string_start = on_text_start, .string = on_text,
    .indef_array_start = on_iarray, .array_start = on_array,
    .indef_map_start = on_imap, .map_start = on_map,
    .tag = on_tag,
    .float2 = on_f2, .float4 = on_f4, .float8 = on_f8,
    .undefined = on_null, .null = on_null, .boolean = on_bool,
    .indef_break = on_break,
};

int owl_aws_cbor_decode(const void *p, size_t n, bson_t *out, owl_error *err)
{
    cdec *c = calloc(1, sizeof *c);
    int rc = OWL_OK;
    if (!c)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    size_t off = 0;
    while (off < n && !c->failed) {
        struct cbor_decoder_result r =
            cbor_stream_decode((cbor_data)p + off, n - off, &callbacks, c);
        if (r.status == CBOR_DECODER_NEDATA) {
            fail(c, "truncated CBOR item");
        } else if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            fail(c, "malformed CBOR item");
        }
        off += r.read;
    }
    if (!c->failed && n > 0 && !c->done)
        fail(c, "truncated CBOR: the top-level map is not complete");
    if (c->failed) {
        rc = owl_error_set(err, OWL_EINVAL, "body is not valid CBOR: %s at byte %zu", c->msg,
                           off);
    } else if (n > 0 && !bson_concat(out, &c->st[0].doc)) {
        rc = owl_error_set(err, OWL_EINVAL, "document too large");
    }
    /* open frames: children are views into the top document; only st[0] owns memory */
    if (c->depth > 0 || c->done)
        bson_destroy(&c->st[0].doc);
    owl_buf_free(&c->chunks);
    for (size_t i = 0; i < OWL_ARRAY_LEN(c->keys); i++)
        owl_buf_free(&c->keys[i]);
    free(c);
    return rc;
}

/* ---- encoding ---- */

typedef size_t (*head_fn)(size_t, unsigned char *, size_t);

/* Room for one CBOR head or float (9 bytes at most) at the end of o, or NULL. */
static unsigned char *room9(owl_buf *o)
{
    return owl_buf_reserve(o, 9) == OWL_OK ? (unsigned char *)o->data + o->len : NULL;
}

/* Takes in the n bytes just written at room9's place. */
static int wrote(owl_buf *o, size_t n)
{
    o->len += n;
    o->data[o->len] = '\0';
    return OWL_OK;
}

static int head(owl_buf *o, size_t (*fn)(uint64_t, unsigned char *, size_t), uint64_t v)
{
    unsigned char *p = room9(o);
    return p ? wrote(o, fn(v, p, 9)) : OWL_ENOMEM;
}

static int head_sz(owl_buf *o, head_fn fn, size_t v)
{
    unsigned char *p = room9(o);
    return p ? wrote(o, fn(v, p, 9)) : OWL_ENOMEM;
}

static int put_double_out(owl_buf *o, double d)
{
    unsigned char *p = room9(o);
    return p ? wrote(o, cbor_encode_double(d, p, 9)) : OWL_ENOMEM;
}

static int enc_int(owl_buf *o, int64_t v)
{
    return v >= 0 ? head(o, cbor_encode_uint, (uint64_t)v)
                  : head(o, cbor_encode_negint, (uint64_t)(-1 - v));
}

static int enc_doc(owl_buf *o, const bson_iter_t *parent_or_null, const bson_t *doc,
                   int is_array);

static int enc_value(owl_buf *o, const bson_iter_t *it)
{
    uint32_t n;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        const char *s = bson_iter_utf8(it, &n);
        if (head_sz(o, cbor_encode_string_start, n) != OWL_OK)
            return OWL_ENOMEM;
        return owl_buf_append(o, s, n);
    }
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
        return enc_int(o, bson_iter_as_int64(it));
    case BSON_TYPE_DOUBLE:
        return put_double_out(o, bson_iter_double(it));
    case BSON_TYPE_BOOL:
        if (owl_buf_reserve(o, 1) != OWL_OK)
            return OWL_ENOMEM;
        return owl_buf_putc(o, bson_iter_bool(it) ? (char)0xf5 : (char)0xf4);
    case BSON_TYPE_DATE_TIME: {
        int64_t ms = bson_iter_date_time(it);
        if (head(o, cbor_encode_tag, 1) != OWL_OK)
            return OWL_ENOMEM;
        if (ms % 1000 == 0)
            return enc_int(o, ms / 1000);
        return put_double_out(o, (double)ms / 1000.0);
    }
    case BSON_TYPE_BINARY: {
        const uint8_t *p;
        bson_iter_binary(it, NULL, &n, &p);
        if (head_sz(o, cbor_encode_bytestring_start, n) != OWL_OK)
            return OWL_ENOMEM;
        return owl_buf_append(o, p, n);
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        return enc_doc(o, it, NULL, BSON_ITER_HOLDS_ARRAY(it));
    default:
        return owl_buf_putc(o, (char)0xf6); /* null */
    }
}

static int enc_doc(owl_buf *o, const bson_iter_t *parent, const bson_t *doc, int is_array)
{
    bson_iter_t it;
    bson_t sub;
    if (parent) {
        uint32_t len;
        const uint8_t *data;
        if (is_array)
            bson_iter_array(parent, &len, &data);
        else
            bson_iter_document(parent, &len, &data);
        if (!bson_init_static(&sub, data, len))
            return owl_buf_putc(o, (char)0xf6);
        doc = &sub;
    }
    uint32_t count = bson_count_keys(doc);
    int rc = is_array ? head_sz(o, cbor_encode_array_start, count)
                      : head_sz(o, cbor_encode_map_start, count);
    if (rc != OWL_OK || !bson_iter_init(&it, doc))
        return rc;
    while (rc == OWL_OK && bson_iter_next(&it)) {
        if (!is_array) {
            uint32_t klen = bson_iter_key_len(&it);
            rc = head_sz(o, cbor_encode_string_start, klen);
            if (rc == OWL_OK)
                rc = owl_buf_append(o, bson_iter_key(&it), klen);
        }
        if (rc == OWL_OK)
            rc = enc_value(o, &it);
    }
    return rc;
}

int owl_aws_cbor_encode(const bson_t *doc, owl_buf *out)
{
    return enc_doc(out, NULL, doc, 0);
}

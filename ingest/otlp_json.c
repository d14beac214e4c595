/* otlp_json.c — OTLP's JSON mapping to protobuf wire bytes, so a JSON body and a protobuf one
 * take one path from there (owl_otlp_unpack). Two readers of the same language:
 *   - the general path: owl_aws_json_decode's document walked through the generated
 *     descriptors; it defines what is accepted and words every refusal;
 *   - the fast path: one pass over the text writing wire bytes as it goes, for the bodies
 *     SDKs send. It declines (OWL_EUNSUPPORTED) whatever it is not sure to read exactly as
 *     the general path does, and the general path answers.
 * Invariant: a body the fast path takes unpacks to the very message the general path's bytes
 * unpack to (tests/fuzz/fuzz_otlp_json.c checks it). docs/otlp.md, "JSON". */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "common/utf8.h"
#include "common/util.h"
#include "ingest/aws_int.h"
#include "ingest/otlp_int.h"
#include "ingest/otlp_jtext.h"

/* ---- protobuf wire helpers ---- */

static int put_varint(owl_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    return owl_buf_append(b, t, n);
}

static int put_fixed(owl_buf *b, uint64_t v, size_t n)
{
    uint8_t t[8];
    for (size_t i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return owl_buf_append(b, t, n);
}

/* ---- the general path: the document walked through the descriptors ---- */

/* 1 when key names field f: its proto name ("time_unix_nano", receivers should accept it)
 * or its lowerCamelCase JSON name ("timeUnixNano", what senders use). */
static int field_named(const ProtobufCFieldDescriptor *f, const char *key)
{
    if (f->name[0] != key[0]) /* both spellings start alike: most fields end here */
        return 0;
    if (strcmp(f->name, key) == 0)
        return 1;
    const char *a = f->name;
    const char *k = key;
    while (*a) {
        if (*a == '_' && a[1]) {
            a++;
            if (*k != (*a >= 'a' && *a <= 'z' ? *a - 'a' + 'A' : *a))
                return 0;
        } else if (*k != *a) {
            return 0;
        }
        a++;
        k++;
    }
    return *k == '\0';
}

static int json_int(const bson_iter_t *it, int is_signed, uint64_t *out)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
        *out = (uint64_t)(int64_t)bson_iter_int32(it);
        return is_signed || bson_iter_int32(it) >= 0 ? 0 : -1;
    case BSON_TYPE_INT64:
        *out = (uint64_t)bson_iter_int64(it);
        return is_signed || bson_iter_int64(it) >= 0 ? 0 : -1;
    case BSON_TYPE_DOUBLE: {
        double d = bson_iter_double(it);
        /* within what the cast below can hold (int64 or uint64) */
        if (d != floor(d) || d < (is_signed ? -9.2e18 : 0) || d > (is_signed ? 9.2e18 : 1.8e19))
            return -1;
        *out = is_signed ? (uint64_t)(int64_t)d : (uint64_t)d;
        return 0;
    }
    case BSON_TYPE_UTF8: {
        /* int64 and fixed64 travel as decimal strings in protobuf's JSON mapping */
        const char *s = bson_iter_utf8(it, NULL);
        char *end;
        if (!owl_jt_number_text(s, is_signed))
            return -1;
        errno = 0;
        if (is_signed)
            *out = (uint64_t)strtoll(s, &end, 10);
        else
            *out = (uint64_t)strtoull(s, &end, 10);
        return (*end || errno || (!is_signed && *s == '-')) ? -1 : 0;
    }
    default:
        return -1;
    }
}

static int json_double(const bson_iter_t *it, double *out)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
        *out = bson_iter_as_double(it);
        return 0;
    case BSON_TYPE_UTF8: {
        const char *s = bson_iter_utf8(it, NULL);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else {
            char *end;
            *out = strtod(s, &end);
            return (*s && !*end) ? 0 : -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Bytes fields: trace and span ids are hex in OTLP JSON (its one departure from protobuf's
 * JSON mapping); any other bytes field is base64. */
static int json_bytes(const ProtobufCFieldDescriptor *f, const char *s, size_t len, owl_buf *o)
{
    size_t nl = strlen(f->name);
    if (nl >= 3 && strcmp(f->name + nl - 3, "_id") == 0) {
        if (len % 2)
            return -1;
        for (size_t i = 0; i < len; i += 2) {
            int hi = owl_hex_digit((unsigned char)s[i]);
            int lo = owl_hex_digit((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            if (owl_buf_putc(o, (char)(hi << 4 | lo)) != OWL_OK)
                return -1;
        }
        return 0;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (owl_buf_putc(o, (char)(acc >> bits)) != OWL_OK)
                return -1;
        }
    }
    return 0;
}

static int json_message(const ProtobufCMessageDescriptor *desc, const bson_t *doc, owl_buf *o,
                        int depth, owl_error *err);

/* One value of field f (an element of a repeated one) from it, appended as wire bytes. */
static int json_field_value(const ProtobufCFieldDescriptor *f, const bson_iter_t *it,
                            owl_buf *o, int depth, owl_error *err)
{
    uint64_t u = 0;
    double d;
    int rc = -1;
    uint64_t tag = (uint64_t)f->id << 3;
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM:
        if (BSON_ITER_HOLDS_UTF8(it)) {
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(
                f->descriptor, bson_iter_utf8(it, NULL));
            if (!ev)
                break;
            u = (uint64_t)(int64_t)ev->value;
            rc = 0;
        } else {
            rc = json_int(it, 1, &u) == 0 && owl_jt_fits(f->type, u) ? 0 : -1;
        }
        if (rc == 0)
            rc = (put_varint(o, tag) || put_varint(o, u)) ? -1 : 0;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (!BSON_ITER_HOLDS_BOOL(it))
            break;
        rc = (put_varint(o, tag) || put_varint(o, bson_iter_bool(it))) ? -1 : 0;
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SINT64: {
        int sgn = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_INT64 ||
                  f->type == PROTOBUF_C_TYPE_SINT32 || f->type == PROTOBUF_C_TYPE_SINT64;
        if (json_int(it, sgn, &u) != 0 || !owl_jt_fits(f->type, u))
            break;
        if (f->type == PROTOBUF_C_TYPE_SINT32 || f->type == PROTOBUF_C_TYPE_SINT64) {
            int64_t s = (int64_t)u;
            u = ((uint64_t)s << 1) ^ (uint64_t)(s >> 63); /* zigzag */
        }
        rc = (put_varint(o, tag) || put_varint(o, u)) ? -1 : 0;
        break;
    }
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (json_int(it, f->type == PROTOBUF_C_TYPE_SFIXED64, &u) != 0)
            break;
        rc = (put_varint(o, tag | 1) || put_fixed(o, u, 8)) ? -1 : 0;
        break;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (json_int(it, f->type == PROTOBUF_C_TYPE_SFIXED32, &u) != 0 || !owl_jt_fits(f->type, u))
            break;
        rc = (put_varint(o, tag | 5) || put_fixed(o, u, 4)) ? -1 : 0;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FLOAT:
        if (json_double(it, &d) != 0)
            break;
        if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
            memcpy(&u, &d, 8);
            rc = (put_varint(o, tag | 1) || put_fixed(o, u, 8)) ? -1 : 0;
        } else {
            float fl = (float)d;
            uint32_t w;
            memcpy(&w, &fl, 4);
            rc = (put_varint(o, tag | 5) || put_fixed(o, w, 4)) ? -1 : 0;
        }
        break;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES: {
        uint32_t len;
        if (!BSON_ITER_HOLDS_UTF8(it))
            break;
        const char *s = bson_iter_utf8(it, &len);
        owl_buf tmp = OWL_BUF_INIT;
        if (f->type == PROTOBUF_C_TYPE_STRING)
            rc = owl_buf_append(&tmp, s, len) == OWL_OK ? 0 : -1;
        else
            rc = json_bytes(f, s, len, &tmp);
        if (rc == 0)
            rc = (put_varint(o, tag | 2) || put_varint(o, tmp.len) ||
                  owl_buf_append(o, tmp.data, tmp.len)) ? -1 : 0;
        owl_buf_free(&tmp);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (!BSON_ITER_HOLDS_DOCUMENT(it))
            break;
        const uint8_t *data;
        uint32_t dlen;
        bson_t sub;
        bson_iter_document(it, &dlen, &data);
        if (!bson_init_static(&sub, data, dlen))
            break;
        owl_buf tmp = OWL_BUF_INIT;
        rc = json_message(f->descriptor, &sub, &tmp, depth + 1, err);
        if (rc == 0)
            rc = (put_varint(o, tag | 2) || put_varint(o, tmp.len) ||
                  owl_buf_append(o, tmp.data, tmp.len)) ? -1 : 0;
        owl_buf_free(&tmp);
        return rc; /* json_message set err */
    }
    default:
        break;
    }
    if (rc != 0 && err && !err->msg[0])
        owl_error_set(err, OWL_EINVAL, "field %s has a value of the wrong type", f->name);
    return rc;
}

/* The JSON object doc as message desc, appended as wire bytes. Unknown names are skipped
 * (OTLP: receivers MUST ignore them); null is an absent field. */
static int json_message(const ProtobufCMessageDescriptor *desc, const bson_t *doc, owl_buf *o,
                        int depth, owl_error *err)
{
    bson_iter_t it;
    if (depth > OTLP_MAX_DEPTH) {
        owl_error_set(err, OWL_EINVAL, "messages nest deeper than %d", OTLP_MAX_DEPTH);
        return -1;
    }
    if (!bson_iter_init(&it, doc))
        return -1;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        const ProtobufCFieldDescriptor *f = NULL;
        for (unsigned i = 0; i < desc->n_fields && !f; i++)
            if (field_named(&desc->fields[i], key))
                f = &desc->fields[i];
        if (!f || BSON_ITER_HOLDS_NULL(&it))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            bson_iter_t el;
            if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &el)) {
                owl_error_set(err, OWL_EINVAL, "field %s must be an array", f->name);
                return -1;
            }
            while (bson_iter_next(&el))
                if (json_field_value(f, &el, o, depth, err) != 0)
                    return -1;
        } else if (json_field_value(f, &it, o, depth, err) != 0) {
            return -1;
        }
    }
    return 0;
}

int owl_otlp_json_general(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                          owl_buf *wire, owl_error *err)
{
    bson_t doc = BSON_INITIALIZER;
    owl_error jerr = {0};
    int rc = OWL_OK;
    if (owl_aws_json_decode(n ? body : "", n, &doc, &jerr) != OWL_OK) {
        rc = owl_error_set(err, OWL_EINVAL, "malformed JSON: %s", jerr.msg);
        goto out;
    }
    owl_error_clear(err);
    if (json_message(desc, &doc, wire, 0, err) != 0) {
        if (!err || !err->msg[0])
            owl_error_set(err, OWL_EINVAL, "not an %s", desc->short_name);
        rc = OWL_EINVAL;
    }
out:
    bson_destroy(&doc);
    return rc;
}

/* ---- otlp_jtext.h's readers that are not inline: escapes, numbers in rare forms ---- */

__attribute__((noinline)) int owl_jt_str_escaped(const char **p, const char *end, owl_buf *tmp,
                                                 const char **s, size_t *n)
{
    const char *a = *p + 1;
    int high = 0;
    const char *q = owl_json_str_run(a, end, &high);
    owl_buf_reset(tmp);
    for (;;) {
        if (owl_buf_append(tmp, a, (size_t)(q - a)) != OWL_OK)
            return OWL_ENOMEM;
        if (q >= end || *q != '\\') {
            if (q < end && *q == '"')
                break;
            return OWL_EUNSUPPORTED; /* a control byte, or the end */
        }
        unsigned cp;
        q++; /* the backslash */
        if (owl_json_escape(&q, end, &cp) != OWL_JSON_ESC_OK || cp == 0)
            return OWL_EUNSUPPORTED;
        char u[4];
        if (owl_buf_append(tmp, u, owl_utf8_put(u, cp)) != OWL_OK)
            return OWL_ENOMEM;
        a = q;
        q = owl_json_str_run(a, end, &high);
    }
    if (high && !owl_utf8_valid(tmp->data, tmp->len))
        return OWL_EUNSUPPORTED;
    *s = tmp->data ? tmp->data : "", *n = tmp->len;
    *p = q + 1;
    return OWL_OK;
}

int owl_jt_str_text(const char **p, const char *end, owl_buf *tmp, char text[OWL_JT_NUM_TEXT])
{
    const char *s;
    size_t n;
    int rc = owl_jt_str(p, end, tmp, &s, &n);
    if (rc != OWL_OK)
        return rc;
    if (n >= OWL_JT_NUM_TEXT)
        return OWL_EUNSUPPORTED;
    memcpy(text, s, n);
    text[n] = '\0';
    return OWL_OK;
}

/* An integer given as a string that owl_jt_int does not read itself, as json_int reads it.
 * Not inlined (nor int_number): its frame would cost each of owl_jt_int's plain integers a
 * push of every register. */
__attribute__((noinline)) static int int_text(const char **p, const char *end, owl_buf *tmp,
                                              int is_signed, uint64_t *out)
{
    char text[OWL_JT_NUM_TEXT];
    int rc = owl_jt_str_text(p, end, tmp, text);
    if (rc != OWL_OK)
        return rc;
    if (!owl_jt_number_text(text, is_signed))
        return OWL_EUNSUPPORTED;
    char *e;
    errno = 0;
    if (is_signed)
        *out = (uint64_t)strtoll(text, &e, 10);
    else
        *out = (uint64_t)strtoull(text, &e, 10);
    return (*e || errno || (!is_signed && text[0] == '-')) ? OWL_EUNSUPPORTED : OWL_OK;
}

/* An integer given as a number that owl_jt_int does not read itself, as json_int reads it. */
__attribute__((noinline)) static int int_number(const char **p, const char *end,
                                                int is_signed, uint64_t *out)
{
    owl__json_num v;
    int rc = owl_jt_num(p, end, &v);
    if (rc != OWL_OK)
        return rc;
    if (v.is_int) {
        *out = (uint64_t)v.i;
        return is_signed || v.i >= 0 ? OWL_OK : OWL_EUNSUPPORTED;
    }
    if (v.d != floor(v.d) || v.d < (is_signed ? -9.2e18 : 0) ||
        v.d > (is_signed ? 9.2e18 : 1.8e19))
        return OWL_EUNSUPPORTED;
    *out = is_signed ? (uint64_t)(int64_t)v.d : (uint64_t)v.d;
    return OWL_OK;
}

int owl_jt_int(const char **p, const char *end, owl_buf *tmp, int is_signed, uint64_t *out)
{
    switch (**p) {
    case '"': {
        /* plain digits (what SDKs send for int64 and fixed64) read here: as many as cannot
         * overflow, so strtoll / strtoull would give the same */
        const char *q = *p + 1;
        int neg = is_signed && q < end && *q == '-';
        q += neg;
        uint64_t acc;
        size_t nd = owl_jt_digits(q, end, &acc);
        q += nd;
        if (q < end && *q == '"' && nd > 0 && nd <= (is_signed ? 18u : 19u)) {
            *out = neg ? (uint64_t)-(int64_t)acc : acc;
            *p = q + 1;
            return OWL_OK;
        }
        return int_text(p, end, tmp, is_signed, out);
    }
    case '{':
    case '[':
    case 't':
    case 'f':
    case 'n':
        return OWL_EUNSUPPORTED;
    default: {
        /* a plain integer of up to 18 digits (a kind, a count), which owl__json_number reads
         * as this int64: not led by a 0 unless alone, no fraction or exponent after it; a
         * digit at a time, as these are short */
        uint64_t acc = 0;
        const char *q = *p;
        for (; q < end && *q >= '0' && *q <= '9' && q - *p < 19; q++)
            acc = acc * 10 + (uint64_t)(*q - '0');
        size_t nd = (size_t)(q - *p);
        if (nd > 0 && nd <= 18 && (**p != '0' || nd == 1) &&
            (q == end || (*q != '.' && *q != 'e' && *q != 'E'))) {
            *out = acc;
            *p = q;
            return OWL_OK;
        }
        return int_number(p, end, is_signed, out);
    }
    }
}

int owl_jt_double(const char **p, const char *end, owl_buf *tmp, double *out)
{
    char text[OWL_JT_NUM_TEXT];
    owl__json_num v;
    int rc;
    switch (**p) {
    case '"':
        if ((rc = owl_jt_str_text(p, end, tmp, text)) != OWL_OK)
            return rc;
        if (strcmp(text, "NaN") == 0)
            *out = NAN;
        else if (strcmp(text, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(text, "-Infinity") == 0)
            *out = -INFINITY;
        else {
            char *e;
            *out = strtod(text, &e);
            return (text[0] && !*e) ? OWL_OK : OWL_EUNSUPPORTED;
        }
        return OWL_OK;
    case '{':
    case '[':
    case 't':
    case 'f':
    case 'n':
        return OWL_EUNSUPPORTED;
    default:
        if ((rc = owl_jt_num(p, end, &v)) != OWL_OK)
            return rc;
        *out = v.is_int ? (double)v.i : v.d;
        return OWL_OK;
    }
}

/* ---- the fast path: one pass over the text ---- */

#define FAST_MAX_DEPTH 24   /* containers; the general path allows OWL_AWS_MAX_DEPTH */
#define FAST_MAX_UNKNOWN 16 /* unknown names one object may hold (kept to refuse a repeat) */
#define TAG_ROOM 8          /* bytes put_tag writes (of which the tag's count) */

/* A message type as the fast path reads it: each field's two spellings and wire tag, and
 * the type of a message field, resolved once (descriptors are static; the registry below
 * holds one of these per type ever read, for the process's life). */
typedef struct jmsg jmsg;
typedef struct jfield {
    const ProtobufCFieldDescriptor *fd;
    /* the names json_message takes for this field: [0] its proto name, [1] the lowerCamelCase
     * one, each as a member starts, '"' before it and '":' after, zero-padded to 32 bytes at
     * least (compared with the text quotes and colon included, sixteen bytes or a word at a
     * time); [1] NULL when json_message takes none besides [0] */
    const char *name[2];
    /* the names' lengths, quotes and colon not counted; NO_NAME for none, and for a name that
     * is also an earlier field's of the type (json_message takes that field) */
    uint16_t len[2];
    uint8_t tag[8], ntag;  /* the tag varint with the field's wire type, zero-padded */
    uint8_t ix;            /* its index in the type's fields */
    uint8_t is_id;         /* a bytes field named *_id: hex, not base64 */
    uint8_t kind;          /* how fone reads a value of it (enum vkind) */
    uint8_t member_kind;   /* how fone reads a member's value: kind, or V_REPEATED */
    const jmsg *sub;       /* a message field's type */
} jfield;

/* The guesses fp keeps at each depth: one after each of 64 fields, one at an object's start. */
#define FAST_GUESSES 65

struct jmsg {
    const ProtobufCMessageDescriptor *desc;
    /* the fields, then (up to FAST_GUESSES) ones without a name: a guess fp holds of another
     * type's field (the guesses are kept per depth) misses without a test of its index */
    jfield *f;
    unsigned n;
    int wide;      /* more than 64 fields: not read here */
    uint8_t *slot; /* the names' hash table: 2 * field + spelling, or SLOT_FREE */
    unsigned shift; /* 32 - log2 of its size, which is at least 4 times the names */
    jmsg *next;
};

/* The value kinds fone reads without fvalue's frame and switch (most of a span's values);
 * V_OTHER: fvalue reads it; V_REPEATED: an array of the field's kind (a member's value,
 * never an element's). */
enum vkind { V_OTHER, V_MESSAGE, V_STRING, V_ID, V_FIXED64, V_VARINT, V_REPEATED };

#define NO_NAME 0xffff
#define SLOT_FREE 0xff

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static jmsg *reg_head;
static int8_t hex_of[256]; /* a hex digit's value, -1 for other bytes: set under reg_mu */
/* fp's next at the start of a text (next_init), set under reg_mu: copied whole, as a loop
 * over its bytes cost each transcoding of a resource or scope (owl_otlp_json_fast_at) half
 * its instructions */
static uint8_t next_start[FAST_MAX_DEPTH + 1][FAST_GUESSES];

static enum vkind value_kind(const jfield *f)
{
    switch (f->fd->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
        return V_MESSAGE;
    case PROTOBUF_C_TYPE_STRING:
        return V_STRING;
    case PROTOBUF_C_TYPE_BYTES:
        return f->is_id ? V_ID : V_OTHER;
    case PROTOBUF_C_TYPE_FIXED64:
        return V_FIXED64;
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64:
        return V_VARINT; /* a digit d is the varint d in each */
    default:
        return V_OTHER;
    }
}

static int wire_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

/* The name, or (camel) the lowerCamelCase spelling field_named accepts, as jfield keeps it:
 * between '"' and '":', zero bytes after up to 32 at least (fguess reads that many); its
 * length, quotes and colon not counted, in *len. NULL when out of memory. */
static char *spelling(const char *name, int camel, size_t *len)
{
    size_t n = strlen(name);
    char *c = calloc(n + 3 + 32, 1), *o = c;
    if (!c)
        return NULL;
    *o++ = '"';
    for (const char *a = name; *a; a++) {
        if (camel && *a == '_' && a[1]) {
            a++;
            *o++ = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
        } else {
            *o++ = *a;
        }
    }
    *len = (size_t)(o - c - 1);
    memcpy(o, "\":", 2);
    return c;
}

/* Where the probe for name k[0..n) (n > 0) starts in a table of 2^(32 - shift) slots. */
static inline unsigned name_slot(const char *k, size_t n, unsigned shift)
{
    uint32_t h = (uint32_t)n << 16 | (uint32_t)(unsigned char)k[n - 1] << 8 |
                 (unsigned char)k[0];
    return (h * 0x9e3779b1u) >> shift;
}

/* m's table of names: each spelling of each field in field order; one already there (an
 * earlier field's) is dropped from the later field, as json_message takes the first field
 * that a name matches. -1 when out of memory. */
static int names_build(jmsg *m)
{
    unsigned bits = 3;
    while (1u << bits < 8 * m->n)
        bits++;
    if (!(m->slot = malloc(1u << bits)))
        return -1;
    memset(m->slot, SLOT_FREE, 1u << bits);
    m->shift = 32 - bits;
    for (unsigned i = 0; i < 2 * m->n; i++) {
        jfield *f = &m->f[i / 2];
        const char *t = f->name[i % 2] + 1;
        size_t n = f->len[i % 2];
        if (n == NO_NAME)
            continue;
        unsigned at = name_slot(t, n, m->shift);
        for (; m->slot[at] != SLOT_FREE; at = (at + 1) & ((1u << bits) - 1)) {
            const jfield *g = &m->f[m->slot[at] / 2];
            if (g->len[m->slot[at] % 2] == n && memcmp(g->name[m->slot[at] % 2] + 1, t, n) == 0)
                break;
        }
        if (m->slot[at] == SLOT_FREE)
            m->slot[at] = (uint8_t)i;
        else
            f->len[i % 2] = NO_NAME;
    }
    return 0;
}

/* The registry's entry for desc, built with those of every message type it reaches; NULL
 * when out of memory. Called with reg_mu held. */
static jmsg *reg_build(const ProtobufCMessageDescriptor *desc)
{
    for (jmsg *m = reg_head; m; m = m->next)
        if (m->desc == desc)
            return m;
    jmsg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->desc = desc;
    m->n = desc->n_fields;
    m->wide = desc->n_fields > 64;
    unsigned nf = m->n > FAST_GUESSES ? m->n : FAST_GUESSES;
    if (!(m->f = calloc(nf, sizeof *m->f))) {
        free(m);
        return NULL;
    }
    for (unsigned i = m->n; i < nf; i++)
        m->f[i].len[0] = m->f[i].len[1] = NO_NAME;
    m->next = reg_head; /* listed before its fields: a type may reach itself */
    reg_head = m;
    for (unsigned i = 0; i < m->n; i++) {
        jfield *f = &m->f[i];
        const char *name = desc->fields[i].name;
        size_t nl = 0, cl = 0;
        f->fd = &desc->fields[i];
        f->ix = (uint8_t)i;
        char *text = spelling(name, 0, &nl), *camel = spelling(name, 1, &cl);
        if (!text || !camel || nl >= NO_NAME) {
            free(text);
            free(camel);
            return NULL; /* the entry stays listed half built: reg_get never hands it out */
        }
        f->name[0] = text, f->len[0] = (uint16_t)nl;
        if (camel[1] == name[0] && cl != nl) { /* field_named never takes another first byte */
            f->name[1] = camel, f->len[1] = (uint16_t)cl;
        } else {
            free(camel);
            f->len[1] = NO_NAME;
        }
        uint64_t tag = (uint64_t)f->fd->id << 3 | (uint64_t)wire_type(f->fd->type);
        do {
            f->tag[f->ntag] = (uint8_t)((tag & 0x7f) | (tag > 0x7f ? 0x80 : 0));
            f->ntag++;
            tag >>= 7;
        } while (tag);
        f->is_id = f->fd->type == PROTOBUF_C_TYPE_BYTES && nl >= 3 &&
                   strcmp(name + nl - 3, "_id") == 0;
        f->kind = (uint8_t)value_kind(f);
        f->member_kind = f->fd->label == PROTOBUF_C_LABEL_REPEATED ? V_REPEATED : f->kind;
        if (f->fd->type == PROTOBUF_C_TYPE_MESSAGE && !(f->sub = reg_build(f->fd->descriptor)))
            return NULL;
    }
    if (!m->wide && names_build(m) != 0)
        return NULL;
    return m;
}

/* The type desc as the fast path reads it; NULL when out of memory, then and ever after. */
static const jmsg *reg_get(const ProtobufCMessageDescriptor *desc)
{
    static int failed;
    pthread_mutex_lock(&reg_mu);
    if (!hex_of[0]) {
        for (int c = 0; c < 256; c++)
            hex_of[c] = (int8_t)owl_hex_digit((unsigned char)c);
        for (size_t d = 0; d <= FAST_MAX_DEPTH; d++)
            for (size_t i = 0; i < FAST_GUESSES; i++)
                next_start[d][i] = (uint8_t)(2 * i + 1);
    }
    jmsg *m = failed ? NULL : reg_build(desc);
    if (!m)
        failed = 1; /* a half-built entry is never handed out */
    pthread_mutex_unlock(&reg_mu);
    return m;
}

typedef struct fp {
    const char *p, *end;
    owl_buf *w;
    owl_buf tmp; /* a string with escapes, decoded */
    /* the name fguess tries first in an object of each depth, as 2 * field + spelling:
     * [ix + 1] after field ix, [0] at the start; the camelCase name of the one after (as the
     * .proto has it) until a look-up finds another, then the one found there (spans name
     * their fields in one order, not the .proto's; a sender keeps to one spelling) */
    uint8_t next[FAST_MAX_DEPTH + 1][FAST_GUESSES];
} fp;

enum { DECLINE = OWL_EUNSUPPORTED };

/* fp's cursor through the readers otlp_jtext.h shares with the traces direct path: x->p
 * itself, as the readers were written here before (a copy in a local, written back, cost
 * fobject 2.6% more instructions in GCC 12's code), except for nanos, where the copy is
 * the cheaper (the other way round, 2.6% more again) */
static inline void fws(fp *x)
{
    owl_jt_ws(&x->p, x->end);
}

static inline int fstr(fp *x, const char **s, size_t *n)
{
    return owl_jt_str(&x->p, x->end, &x->tmp, s, n);
}

static inline int flit(fp *x, const char *word, size_t n)
{
    return owl_jt_lit(&x->p, x->end, word, n);
}

static inline int fnum(fp *x, owl__json_num *v)
{
    return owl_jt_num(&x->p, x->end, v);
}

static inline int fsep(fp *x, char close)
{
    return owl_jt_sep(&x->p, x->end, close);
}

static inline int fnext(fp *x)
{
    return owl_jt_next(&x->p, x->end);
}

static inline int fpast(fp *x, char c)
{
    return owl_jt_past(&x->p, x->end, c);
}

static int fstr_text(fp *x, char text[OWL_JT_NUM_TEXT])
{
    return owl_jt_str_text(&x->p, x->end, &x->tmp, text);
}

__attribute__((always_inline)) static inline int nanos(fp *x, uint64_t *v)
{
    const char *p = x->p;
    int rc = owl_jt_nanos(&p, x->end, v);
    x->p = p;
    return rc;
}

static inline int one_digit(fp *x, uint64_t *v)
{
    return owl_jt_one_digit(&x->p, x->end, v);
}

static int fint(fp *x, int is_signed, uint64_t *out)
{
    return owl_jt_int(&x->p, x->end, &x->tmp, is_signed, out);
}

static int fdouble(fp *x, double *out)
{
    return owl_jt_double(&x->p, x->end, &x->tmp, out);
}

/* Room for k more bytes at the end of the wire buffer. */
static inline int room(fp *x, size_t k)
{
    owl_buf *w = x->w;
    if (w->cap - w->len > k)
        return OWL_OK;
    return owl_buf_reserve(w, k);
}

static inline void put_bytes(fp *x, const void *p, size_t n)
{
    memcpy(x->w->data + x->w->len, p, n);
    x->w->len += n;
}

/* Field f's tag, written as one word (room for TAG_ROOM bytes). */
static inline void put_tag(fp *x, const jfield *f)
{
    memcpy(x->w->data + x->w->len, f->tag, TAG_ROOM);
    x->w->len += f->ntag;
}

static inline void put_var(fp *x, uint64_t v)
{
    uint8_t *o = (uint8_t *)x->w->data + x->w->len, *s = o;
    while (v > 0x7f) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    x->w->len += (size_t)(o - s);
}

static int fobject(fp *x, const jmsg *m, int depth);
static int farray(fp *x, const jfield *f, int depth);

/* Skips the value at x->p (not at the end), checked as the general path checks it. depth:
 * that of the container holding it. */
static int fskip(fp *x, int depth)
{
    const char *s;
    size_t n;
    owl__json_num v;
    switch (*x->p) {
    case '{':
        return depth >= FAST_MAX_DEPTH ? DECLINE : fobject(x, NULL, depth + 1);
    case '[':
        return farray(x, NULL, depth);
    case '"':
        return fstr(x, &s, &n);
    case 't':
        return flit(x, "true", 4);
    case 'f':
        return flit(x, "false", 5);
    case 'n':
        return flit(x, "null", 4);
    default:
        return fnum(x, &v);
    }
}

/* A bytes value: hex for ids, base64 otherwise, as json_bytes decodes them. */
static int fbytes(fp *x, const jfield *f)
{
    const char *s;
    size_t n;
    int rc;
    if ((rc = fstr(x, &s, &n)) != OWL_OK)
        return rc;
    if (f->is_id) {
        if (n % 2)
            return DECLINE;
        if (room(x, TAG_ROOM + 10 + n / 2) != OWL_OK)
            return OWL_ENOMEM;
        size_t at = x->w->len;
        put_tag(x, f);
        put_var(x, n / 2);
        uint8_t *o = (uint8_t *)x->w->data + x->w->len;
        for (size_t i = 0; i < n; i += 2) {
            int hi = hex_of[(unsigned char)s[i]], lo = hex_of[(unsigned char)s[i + 1]];
            if ((hi | lo) < 0) {
                x->w->len = at;
                return DECLINE;
            }
            *o++ = (uint8_t)(hi << 4 | lo);
        }
        x->w->len += n / 2;
        return OWL_OK;
    }
    size_t used = 0;
    while (used < n && s[used] != '=')
        used++;
    if (room(x, TAG_ROOM + 10 + used * 6 / 8) != OWL_OK)
        return OWL_ENOMEM;
    size_t at = x->w->len;
    put_tag(x, f);
    put_var(x, used * 6 / 8);
    uint8_t *o = (uint8_t *)x->w->data + x->w->len;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < used; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            x->w->len = at;
            return DECLINE;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    x->w->len += used * 6 / 8;
    return OWL_OK;
}

/* An id value (f->is_id) at x->p: the ids SDKs send (32 or 16 hex digits, or none) sixteen
 * digits at a time, without the string scan, as a hex digit never ends a run of plain string
 * bytes; the length told by where the closing quote is (owl_jt_id_len). Other text goes to
 * fbytes. Inlined (GCC would not): a call less at each of a span's ids. */
__attribute__((always_inline)) static inline int fid(fp *x, const jfield *f)
{
    if (*x->p != '"')
        return DECLINE;
    const char *s = x->p + 1;
    int len = owl_jt_id_len(s, (size_t)(x->end - s)); /* x->p is short of the end */
    if (len < 0)
        return fbytes(x, f);
    size_t k = (size_t)len; /* the id's bytes */
    if (room(x, TAG_ROOM + 1 + 16) != OWL_OK)
        return OWL_ENOMEM;
    size_t at = x->w->len;
    put_tag(x, f);
    uint8_t *o = (uint8_t *)x->w->data + x->w->len; /* the length, then the id */
    if (k && !(owl_jt_hex16(s, o + 1) && (k == 8 || owl_jt_hex16(s + 16, o + 9)))) {
        x->w->len = at;
        return fbytes(x, f);
    }
    o[0] = (uint8_t)k;
    x->w->len += 1 + k;
    x->p = s + 2 * k + 1;
    return OWL_OK;
}

/* Field f with value u as n (8 or 4) little-endian bytes: a fixed-size type's. */
static inline int put_word(fp *x, const jfield *f, uint64_t u, size_t n)
{
    if (room(x, TAG_ROOM + 8) != OWL_OK)
        return OWL_ENOMEM;
    put_tag(x, f);
    owl_put64le(x->w->data + x->w->len, u);
    x->w->len += n;
    return OWL_OK;
}

/* The length of the message written after byte at (kept for it) into that byte, as the
 * shortest varint: the message moved up when it needs more (128 bytes or more). Writing it
 * short costs a move for few messages (KeyValues, AnyValues and most spans fit in one byte)
 * and saves the readers a long varint at every message, read again by each pass over a
 * list. DECLINE past protobuf-c's five-byte lengths. */
static int put_len(fp *x, size_t at)
{
    uint64_t len = x->w->len - at - 1;
    if (len < 0x80) {
        x->w->data[at] = (char)len;
        return OWL_OK;
    }
    if (len >> 35)
        return DECLINE;
    size_t k = 2;
    while (len >> (7 * k))
        k++;
    if (room(x, k - 1) != OWL_OK)
        return OWL_ENOMEM;
    char *o = x->w->data + at;
    memmove(o + k, o + 1, len);
    x->w->len = at;
    put_var(x, len);
    x->w->len += len;
    return OWL_OK;
}

/* A message value (f's kind V_MESSAGE) at x->p. depth: that of the container holding it.
 * Inlined (GCC would not, fobject being recursive): a call less at each nested message. */
__attribute__((always_inline)) static inline int fmessage(fp *x, const jfield *f, int depth)
{
    int rc;
    if (*x->p != '{' || depth >= FAST_MAX_DEPTH)
        return DECLINE;
    if (room(x, TAG_ROOM + 1) != OWL_OK)
        return OWL_ENOMEM;
    put_tag(x, f);
    size_t at = x->w->len++;
    if ((rc = fobject(x, f->sub, depth + 1)) != OWL_OK)
        return rc;
    return put_len(x, at);
}

#ifdef __SSE2__
#define SHORT_STR 64 /* fstr_short's strings are shorter */

/* Field f's string at x->p (its opening quote) when it is shorter than SHORT_STR bytes, all
 * plain ASCII: scanned and copied in one pass, sixteen bytes at a time, after its tag and a
 * one-byte length (most of a span's strings: names, keys, values), without fstr's scan and a
 * memcpy after it. 0, with nothing written, for any other string, which fstr reads. */
static inline int fstr_short(fp *x, const jfield *f)
{
    const char *a = x->p + 1;
    if (x->end - a < SHORT_STR || room(x, TAG_ROOM + 1 + SHORT_STR) != OWL_OK)
        return 0;
    size_t at = x->w->len;
    put_tag(x, f);
    char *o = x->w->data + x->w->len;
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    unsigned high = 0;
    for (int i = 0; i < SHORT_STR; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        _mm_storeu_si128((__m128i *)(void *)(o + 1 + i), v);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
        unsigned stop = (unsigned)_mm_movemask_epi8(m);
        high |= (unsigned)_mm_movemask_epi8(v) & (stop ? (stop & -stop) - 1 : 0xffff);
        if (stop) {
            int n = i + __builtin_ctz(stop);
            if (a[n] != '"' || high)
                break;
            o[0] = (char)n;
            x->w->len += 1 + (size_t)n;
            x->p = a + n + 1;
            return 1;
        }
    }
    x->w->len = at;
    return 0;
}
#endif

/* A string value (f's kind V_STRING) at x->p. Inlined (GCC would not): a call less at each
 * of a span's strings. */
__attribute__((always_inline)) static inline int fstring(fp *x, const jfield *f)
{
    const char *s;
    size_t n;
    int rc;
    if (*x->p != '"')
        return DECLINE;
#ifdef __SSE2__
    if (fstr_short(x, f))
        return OWL_OK;
#endif
    if ((rc = fstr(x, &s, &n)) != OWL_OK)
        return rc;
    if (room(x, TAG_ROOM + 10 + n) != OWL_OK)
        return OWL_ENOMEM;
    put_tag(x, f);
    put_var(x, n);
    put_bytes(x, s, n);
    return OWL_OK;
}

/* A value of field f at x->p whose kind fone does not read itself (V_OTHER), or did not
 * (text other than it looks for), appended as wire bytes. Not inlined: its frame is what
 * fone saves the common kinds. */
__attribute__((noinline)) static int fvalue(fp *x, const jfield *f)
{
    const ProtobufCFieldDescriptor *fd = f->fd;
    char text[OWL_JT_NUM_TEXT];
    uint64_t u;
    double d;
    int rc;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BYTES:
        return *x->p == '"' ? fbytes(x, f) : DECLINE;
    case PROTOBUF_C_TYPE_BOOL:
        if ((rc = owl_jt_bool(&x->p, x->end, &u)) != OWL_OK)
            return rc;
        break;
    case PROTOBUF_C_TYPE_ENUM:
        if (*x->p == '"') {
            if ((rc = fstr_text(x, text)) != OWL_OK)
                return rc;
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(fd->descriptor, text);
            if (!ev)
                return DECLINE;
            u = (uint64_t)(int64_t)ev->value;
        } else if ((rc = fint(x, 1, &u)) != OWL_OK) {
            return rc;
        } else if (!owl_jt_fits(fd->type, u)) {
            return DECLINE;
        }
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SINT64: {
        int zig = fd->type == PROTOBUF_C_TYPE_SINT32 || fd->type == PROTOBUF_C_TYPE_SINT64;
        int sgn = zig || fd->type == PROTOBUF_C_TYPE_INT32 || fd->type == PROTOBUF_C_TYPE_INT64;
        if ((rc = fint(x, sgn, &u)) != OWL_OK)
            return rc;
        if (!owl_jt_fits(fd->type, u))
            return DECLINE;
        if (zig) {
            int64_t s = (int64_t)u;
            u = ((uint64_t)s << 1) ^ (uint64_t)(s >> 63);
        }
        break;
    }
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int wide = fd->type == PROTOBUF_C_TYPE_FIXED64 || fd->type == PROTOBUF_C_TYPE_SFIXED64;
        if ((rc = fint(x, fd->type == PROTOBUF_C_TYPE_SFIXED64 ||
                              fd->type == PROTOBUF_C_TYPE_SFIXED32, &u)) != OWL_OK)
            return rc;
        if (!owl_jt_fits(fd->type, u))
            return DECLINE;
        return put_word(x, f, u, wide ? 8 : 4);
    }
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FLOAT: {
        if ((rc = fdouble(x, &d)) != OWL_OK)
            return rc;
        if (fd->type == PROTOBUF_C_TYPE_DOUBLE) {
            memcpy(&u, &d, 8);
        } else {
            float fl = (float)d;
            uint32_t w;
            memcpy(&w, &fl, 4);
            u = w;
        }
        return put_word(x, f, u, fd->type == PROTOBUF_C_TYPE_DOUBLE ? 8 : 4);
    }
    default:
        return DECLINE;
    }
    if (room(x, TAG_ROOM + 10) != OWL_OK) /* the varint types */
        return OWL_ENOMEM;
    put_tag(x, f);
    put_var(x, u);
    return OWL_OK;
}

/* A value of field f at x->p as kind (f's member_kind for a member's value, its kind for
 * an element's), appended as wire bytes: the kinds most values are, read without fvalue's
 * frame and switch (always inlined, for fobject's frame to serve; the repeated field's test
 * is one case of the switch). depth: that of the container holding it. */
__attribute__((always_inline)) static inline int fone(fp *x, const jfield *f, unsigned kind,
                                                      int depth)
{
    uint64_t u;
    switch (kind) {
    case V_REPEATED:
        return *x->p == '[' ? farray(x, f, depth) : DECLINE;
    case V_MESSAGE:
        return fmessage(x, f, depth);
    case V_STRING:
        return fstring(x, f);
    case V_ID:
        return fid(x, f);
    case V_FIXED64:
        return nanos(x, &u) ? put_word(x, f, u, 8) : fvalue(x, f);
    case V_VARINT:
        if (!one_digit(x, &u))
            return fvalue(x, f);
        if (room(x, TAG_ROOM + 1) != OWL_OK)
            return OWL_ENOMEM;
        put_tag(x, f);
        x->w->data[x->w->len++] = (char)u;
        return OWL_OK;
    default:
        return fvalue(x, f);
    }
}

/* Field f's value at x->p: null (absent), an array for a repeated field, else one value. */
static int ffield(fp *x, const jfield *f, int depth)
{
    if (*x->p == 'n')
        return flit(x, "null", 4);
    return fone(x, f, f->member_kind, depth);
}

/* The array at x->p ('['): each element a value of repeated field f, or skipped (f NULL).
 * depth: that of the container holding the array. */
static int farray(fp *x, const jfield *f, int depth)
{
    if (depth >= FAST_MAX_DEPTH)
        return DECLINE;
    x->p++;
    if (fnext(x) != OWL_OK)
        return DECLINE;
    if (*x->p == ']') {
        x->p++;
        return OWL_OK;
    }
    for (;;) {
        int rc = f ? fone(x, f, f->kind, depth + 1) : fskip(x, depth + 1);
        if (rc != OWL_OK)
            return rc;
        int more = fsep(x, ']');
        if (more <= 0)
            return more < 0 ? DECLINE : OWL_OK;
        if (fnext(x) != OWL_OK)
            return DECLINE;
    }
}

/* 1 when the n bytes at k (end - k readable) are those that name (jfield's, eight bytes
 * readable at least) starts with: compared a word at a time, without a call. */
static inline int same_name(const char *name, const char *k, size_t n, const char *end)
{
    if ((size_t)(end - k) < n)
        return 0;
    if (n < 8) {
        if (end - k < 8)
            return memcmp(name, k, n) == 0;
        return ((owl_get64le(name) ^ owl_get64le(k)) << (64 - 8 * n)) == 0; /* the first n */
    }
    for (size_t i = 0; i + 8 <= n; i += 8)
        if (owl_get64le(name + i) != owl_get64le(k + i))
            return 0;
    return owl_get64le(name + n - 8) == owl_get64le(k + n - 8); /* the tail, overlapping */
}

/* The field of m named k[0..kl) (the text ends at end), *spelling 0 for its proto name, 1
 * for the camelCase one; NULL when none. */
static const jfield *flookup(const jmsg *m, const char *k, size_t kl, const char *end,
                             unsigned *spelling)
{
    if (kl == 0)
        return NULL;
    unsigned mask = ~0u >> m->shift;
    for (unsigned at = name_slot(k, kl, m->shift);; at = (at + 1) & mask) {
        unsigned e = m->slot[at];
        if (e == SLOT_FREE)
            return NULL;
        const jfield *f = &m->f[e / 2];
        if (f->len[e % 2] == kl && same_name(f->name[e % 2] + 1, k, kl, end)) {
            *spelling = e % 2;
            return f;
        }
    }
}

/* The field m->f[e / 2] when the text at k is its name e % 2 quoted and the colon; NULL
 * otherwise. Senders write the fields of each object of a type in one order, so the name
 * that followed the last found in the previous object (fp's next) is most often the next
 * one; a hit saves scanning the name, the look-up and the tests for the quote and colon. */
static inline const jfield *fguess(const jmsg *m, unsigned e, const char *k, const char *end)
{
    const jfield *f = &m->f[e / 2]; /* one without a name past m->n */
    unsigned n = f->len[e % 2] + 3u; /* the bytes to compare; NO_NAME's are past 32 */
#ifdef __SSE2__
    /* most names with their quotes and colon fit in 32 bytes: compared sixteen at a time,
     * then the bits of the first n bytes looked at */
    if (n <= 32 && end - k >= 32) {
        const char *t = f->name[e % 2];
        uint64_t eq = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                           _mm_loadu_si128((const __m128i *)(const void *)t)));
        if (n > 16)
            eq |= (uint64_t)(unsigned)_mm_movemask_epi8(
                      _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(k + 16)),
                                     _mm_loadu_si128((const __m128i *)(const void *)(t + 16))))
                  << 16;
        return (~eq & ((1ull << n) - 1)) == 0 ? f : NULL;
    }
#endif
    return n != NO_NAME + 3u && same_name(f->name[e % 2], k, n, end) ? f : NULL;
}

/* The object at x->p ('{') as message m (NULL: skipped), its fields appended as wire bytes.
 * A name given twice is declined (the general path refuses it): known names are marked per
 * field and spelling, unknown ones kept, up to FAST_MAX_UNKNOWN. depth: the object's own. */
static int fobject(fp *x, const jmsg *m, int depth)
{
    uint64_t seen[2] = {0, 0};
    struct {
        const char *k;
        size_t n;
    } unknown[FAST_MAX_UNKNOWN];
    unsigned nunknown = 0, last = 0; /* last: fp's next index of the last field found */
    if (m && m->wide)
        return DECLINE;
    x->p++;
    if (fnext(x) != OWL_OK)
        return DECLINE;
    if (*x->p == '}') {
        x->p++;
        return OWL_OK;
    }
    for (;;) {
        unsigned e = x->next[depth][last], sp = 0;
        const jfield *f = m ? fguess(m, e, x->p, x->end) : NULL;
        if (!f && (x->p >= x->end || *x->p != '"')) {
            fws(x); /* only then: most bodies have no whitespace */
            if (x->p >= x->end || *x->p != '"')
                return DECLINE;
            f = m ? fguess(m, e, x->p, x->end) : NULL;
        }
        const char *k = x->p + 1, *q;
        int high = 0;
        if (f) {
            sp = e % 2;
            q = k + f->len[sp];
            x->p = q + 2;
        } else {
            q = owl_json_str_run(k, x->end, &high);
            if (q >= x->end || *q != '"')
                return DECLINE; /* an escape in a name, or no end */
            f = m ? flookup(m, k, (size_t)(q - k), x->end, &sp) : NULL;
            if (f)
                x->next[depth][last] = (uint8_t)(2 * f->ix + sp);
            x->p = q + 1;
            if (fpast(x, ':') != OWL_OK)
                return DECLINE;
        }
        size_t kl = (size_t)(q - k);
        if (fnext(x) != OWL_OK)
            return DECLINE;
        int rc;
        if (f) {
            last = f->ix + 1u;
            uint64_t bit = 1ull << f->ix;
            if (seen[sp] & bit)
                return DECLINE;
            seen[sp] |= bit;
            rc = ffield(x, f, depth);
        } else {
            if (kl > OWL_AWS_MAX_KEY || (high && !owl_utf8_valid(k, kl)) ||
                nunknown == FAST_MAX_UNKNOWN)
                return DECLINE;
            for (unsigned i = 0; i < nunknown; i++)
                if (unknown[i].n == kl && memcmp(unknown[i].k, k, kl) == 0)
                    return DECLINE;
            unknown[nunknown].k = k;
            unknown[nunknown++].n = kl;
            rc = fskip(x, depth);
        }
        if (rc != OWL_OK)
            return rc;
        int more = fsep(x, '}');
        if (more <= 0)
            return more < 0 ? DECLINE : OWL_OK;
    }
}

/* x's guesses at the start of a text: at each depth, the camelCase name of the field after
 * the one found last (fp's next). */
static void next_init(fp *x)
{
    _Static_assert(sizeof x->next == sizeof next_start, "next_start is fp's next");
    memcpy(x->next, next_start, sizeof x->next);
}

int owl_otlp_json_fast(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                       owl_buf *wire)
{
    size_t len0 = wire->len;
    const jmsg *m = reg_get(desc);
    if (!m)
        return DECLINE; /* out of memory once: the general path reads every body */
    if (!body)
        body = "";
    fp x = {.p = body, .end = body + n, .w = wire, .tmp = OWL_BUF_INIT};
    next_init(&x);
    int rc = OWL_OK;
    fws(&x);
    if (x.p < x.end) {
        rc = *x.p == '{' ? fobject(&x, m, 1) : DECLINE;
        if (rc == OWL_OK) {
            fws(&x);
            if (x.p != x.end)
                rc = DECLINE;
        }
    }
    owl_buf_free(&x.tmp);
    if (rc != OWL_OK)
        wire->len = len0;
    return rc;
}

int owl_otlp_json_fast_at(const ProtobufCMessageDescriptor *desc, const char **p,
                          const char *end, int depth, owl_buf *wire)
{
    const jmsg *m = reg_get(desc);
    if (!m || depth < 1 || depth > FAST_MAX_DEPTH || *p >= end || **p != '{')
        return DECLINE;
    fp x = {.p = *p, .end = end, .w = wire, .tmp = OWL_BUF_INIT};
    size_t len0 = wire->len;
    next_init(&x);
    int rc = fobject(&x, m, depth);
    owl_buf_free(&x.tmp);
    if (rc == OWL_OK)
        *p = x.p;
    else
        wire->len = len0;
    return rc;
}

int owl_otlp_json_wire(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                       owl_buf *wire, owl_error *err)
{
    size_t len0 = wire->len;
    int rc = owl_otlp_json_fast(desc, body, n, wire);
    if (rc != OWL_EUNSUPPORTED)
        return rc == OWL_ENOMEM ? owl_error_set(err, OWL_ENOMEM, "out of memory") : rc;
    wire->len = len0;
    return owl_otlp_json_general(desc, body, n, wire, err);
}

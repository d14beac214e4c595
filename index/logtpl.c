/* logtpl.c — LOGTPL: log messages as templates plus column-wise variables (format in logtpl.h).
 *
 * Encoder: a maximal run of ASCII letters and digits holding a digit is a variable (an integer
 * when it is all digits and fits int64, a lowercase UUID is one token); a string variable
 * seen earlier in the row becomes a reference; the rest is template text. A slot's column is
 * keyed by its template prefix, so fields before the first difference between templates
 * (timestamps, pids) form one column in row order. Slots of rare prefixes go back into the
 * text. Each column then takes the layout that compresses smallest.
 * Decoder: columns are expanded to text first (one offset per value), then rows are
 * assembled with 16-byte copies, so every source and target buffer keeps SLACK spare bytes. */
#include "index/logtpl.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "index/bloom.h"

#define EOT 0x0a /* ends a template */
#define ESC 0x10
#define SLOT 0x11
#define REF 0x12 /* followed by one byte j: a copy of the row's value j */
/* Shorter strings repeat by chance (and a reference changes the template), and integers are
 * cheaper in their column than as a template variant: only strings of 3+ bytes are referred. */
#define REF_MIN 3
#define SLOT_INT 1
#define SLOT_STR 2

#define K_FMT 0x03
#define FMT_CANON 0
#define FMT_FIXED 1
#define FMT_MIXED 2
#define K_DELTA 0x04
#define K_PLANES 0x08
#define K_TIME 0x10
#define K_STR_PLAIN 0x80
#define K_STR_SAME 0x81
#define K_STR_HEX 0x82
#define K_STR_UUID 0x83
#define K_STR_DICT 0x84

/* spare bytes after every buffer the assembler copies from or into */
#define SLACK 32
/* values decoded per batch before formatting */
#define BATCH 256
/* Integer columns of at least TRIAL_MIN values pick their layout by compressing each candidate
 * at TRIAL_LEVEL (the byte-entropy estimate misjudged a third of the columns on the Loghub
 * samples); smaller ones use the estimate. */
#define TRIAL_MIN 16
#define TRIAL_LEVEL 3
/* Slots whose column would hold fewer values than this are written back as text (see
 * inline_rare); 8 measured best on the Loghub samples for both size and decode speed. */
#define INLINE_BELOW 8

static const uint64_t P10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull};

/* ---- small helpers shared by both directions ---- */


/* bytes needed for v as an unsigned little-endian number (0 for v = 0) */
static inline unsigned nbytes(uint64_t v)
{
    return v ? (unsigned)(64 - __builtin_clzll(v) + 7) / 8 : 0;
}

/* decimal digits of v (1 for 0) */
static inline unsigned ndig(uint64_t v)
{
    unsigned t = ((unsigned)(64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return t + (v >= P10[t]);
}

static const char DIG2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";

/* writes v as exactly w digits at o (v < 10^w), two at a time from the right */
static inline void put_digits(char *o, uint64_t v, unsigned w)
{
    unsigned k = w;
    for (; k >= 2; k -= 2) {
        uint64_t q = v / 100;
        memcpy(o + k - 2, DIG2 + 2 * (v - q * 100), 2);
        v = q;
    }
    if (k)
        o[0] = (char)('0' + v);
}

/* ---- fields of a row's time (UTC), which integer columns may be stored relative to ---- */

enum {
    TF_YEAR = 1, TF_YEAR2, TF_MONTH, TF_DAY, TF_HOUR, TF_MINUTE, TF_SECOND, TF_MILLI,
    TF_EPOCH_S, TF_EPOCH_MS, TF_YYMMDD, TF_HHMMSS, TF_YYYYMMDD,
    TF_COUNT
};

/* The civil date of the last day looked up: rows of a block mostly share their day. */
struct tcache {
    int64_t day, y;
    unsigned m, d;
};

/* Field f (TF_*) of time t (ms since the epoch), as the integer a log line would print.
 * Every divisor is a constant, so no division instruction runs. */
static inline uint64_t time_field(unsigned f, int64_t t, struct tcache *c)
{
    /* floor division without a product that could overflow near INT64_MIN */
    int64_t day = t / 86400000, rem = t % 86400000;
    if (rem < 0) {
        rem += 86400000;
        day--;
    }
    uint64_t ms = (uint64_t)rem; /* of the day */
    switch (f) {
    case TF_EPOCH_MS:
        return (uint64_t)t;
    case TF_EPOCH_S:
        return (uint64_t)(t / 1000 - (t % 1000 < 0));
    case TF_HOUR:
        return ms / 3600000;
    case TF_MINUTE:
        return ms / 60000 % 60;
    case TF_SECOND:
        return ms / 1000 % 60;
    case TF_MILLI:
        return ms % 1000;
    case TF_HHMMSS:
        return ms / 3600000 * 10000 + ms / 60000 % 60 * 100 + ms / 1000 % 60;
    default:
        break;
    }
    if (day != c->day) {
        owl_civil_from_days(day, &c->y, &c->m, &c->d);
        c->day = day;
    }
    uint64_t y = (uint64_t)c->y, y2 = (uint64_t)((c->y % 100 + 100) % 100);
    switch (f) {
    case TF_YEAR:
        return y;
    case TF_YEAR2:
        return y2;
    case TF_MONTH:
        return c->m;
    case TF_DAY:
        return c->d;
    case TF_YYMMDD:
        return y2 * 10000 + c->m * 100 + c->d;
    default: /* TF_YYYYMMDD */
        return y * 10000 + c->m * 100 + c->d;
    }
}

/* ======================================================================================
 * Encoder
 * ====================================================================================== */

enum { CH_DELIM = 0, CH_ALPHA = 1, CH_DIGIT = 2 };

static const uint8_t CLS[256] = {
    ['0' ... '9'] = CH_DIGIT,
    ['A' ... 'Z'] = CH_ALPHA,
    ['a' ... 'z'] = CH_ALPHA,
};

/* One variable of one row, in row order. */
struct var {
    const char *p; /* token bytes (an integer's '-' included) */
    uint32_t n;
    uint32_t row;
    uint8_t kind;  /* SLOT_INT or SLOT_STR */
    uint8_t nd;    /* integers: digits written */
    int64_t v;     /* integers: value */
};

struct col {
    uint64_t h;     /* hash of the template prefix ending in the slot */
    uint32_t tid;   /* a template holding that prefix */
    uint32_t plen;  /* prefix length in template bytes */
    uint8_t kind;   /* SLOT_INT or SLOT_STR */
    size_t count, start;
};

struct enc {
    const int64_t *time; /* row times (ms), or NULL */
    const owl_strref *msg;
    size_t n;
    owl_buf tb;        /* every row's template, concatenated */
    size_t *toff;      /* n + 1 offsets into tb */
    struct var *vars;  /* every row's variables, concatenated */
    size_t nvars, vcap;
    size_t *voff;      /* n + 1 offsets into vars */
    uint32_t *tid;     /* n: row -> template */
    uint32_t *trow;    /* template -> first row holding it */
    size_t ntpl;
    uint32_t *tslot;   /* ntpl + 1 offsets into scol */
    uint32_t *scol;    /* slot -> column */
    struct col *cols;
    size_t ncol;
    uint32_t *order;   /* variable indexes grouped by column, row order inside */
    ZSTD_CCtx *zc;     /* trial compressions */
    owl_buf scratch, zbuf;
};

static void enc_free(struct enc *e)
{
    owl_buf_free(&e->tb);
    free(e->toff);
    free(e->vars);
    free(e->voff);
    free(e->tid);
    free(e->trow);
    free(e->tslot);
    free(e->scol);
    free(e->cols);
    free(e->order);
    ZSTD_freeCCtx(e->zc);
    owl_buf_free(&e->scratch);
    owl_buf_free(&e->zbuf);
}

static int push_var(struct enc *e, const struct var *v)
{
    if (e->nvars == e->vcap) {
        size_t cap = e->vcap ? 2 * e->vcap : 1024;
        struct var *nv = realloc(e->vars, cap * sizeof *nv);
        if (!nv)
            return OWL_ENOMEM;
        e->vars = nv;
        e->vcap = cap;
    }
    e->vars[e->nvars++] = *v;
    return OWL_OK;
}

static inline int needs_esc(uint8_t c)
{
    return c == EOT || c == ESC || c == SLOT || c == REF;
}

/* The literal bytes s[0..n) into the template, escaping EOT, ESC and SLOT. */
static int put_literal(owl_buf *tb, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !needs_esc((uint8_t)s[j]))
            j++;
        if (owl_buf_append(tb, s + i, j - i) != OWL_OK)
            return OWL_ENOMEM;
        if (j < n) {
            char esc[2] = {ESC, s[j]};
            if (owl_buf_append(tb, esc, 2) != OWL_OK)
                return OWL_ENOMEM;
            j++;
        }
        i = j;
    }
    return OWL_OK;
}

/* Classifies the word s[i..j) (letters and digits, at least one digit) of message s. */
static void classify(const char *s, size_t i, size_t j, int alldig, struct var *v)
{
    v->p = s + i;
    v->n = (uint32_t)(j - i);
    v->kind = SLOT_STR;
    if (!alldig || j - i > 19)
        return;
    uint64_t mag = 0;
    for (size_t k = i; k < j; k++)
        mag = mag * 10 + (uint64_t)(s[k] - '0');
    /* a '-' after a non-word byte is a sign, unless the digits are zero-padded ("-0", "-01") */
    int neg = i > 0 && s[i - 1] == '-' && (i == 1 || CLS[(uint8_t)s[i - 2]] == CH_DELIM) &&
              s[i] != '0';
    if (neg ? mag > (uint64_t)1 << 63 : mag > (uint64_t)INT64_MAX)
        return;
    v->kind = SLOT_INT;
    v->nd = (uint8_t)(j - i);
    v->v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (neg) {
        v->p--;
        v->n++;
    }
}

static inline int hexdig(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The next word of t[*i..n) (a maximal [A-Za-z0-9] run) holding a character no re-spelled
 * word has: 1 with it at t[*start..*i), else 0 at the end. Such a word is stored as its bytes,
 * whole. */
static int next_kept(const uint8_t *t, size_t n, size_t *i, size_t *start)
{
    while (*i < n) {
        if (CLS[t[*i]] == CH_DELIM) {
            (*i)++;
            continue;
        }
        size_t j = *i;
        int kept = 0;
        for (; j < n && CLS[t[j]] != CH_DELIM; j++)
            kept |= !hexdig(t[j]);
        *start = *i;
        *i = j;
        if (kept)
            return 1;
    }
    return 0;
}

int owl_logtpl_may_contain(const uint8_t *p, size_t len, const void *text, size_t n)
{
    const uint8_t *t = text;
    size_t i = 0, a;
    while (next_kept(t, n, &i, &a))
        if (!memmem(p, len, t + a, i - a))
            return 0;
    return 1;
}

/* Length of the lowercase UUID (8-4-4-4-12 hex digits) at s[0..n) not followed by a word
 * byte, else 0: its parts would otherwise flip between integers and strings at random. */
static size_t uuid_at(const char *s, size_t n)
{
    if (n < 36 || s[8] != '-' || s[13] != '-' || (n > 36 && CLS[(uint8_t)s[36]] != CH_DELIM))
        return 0;
    for (size_t k = 0; k < 36; k++) {
        int dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (dash ? s[k] != '-' : !hexdig((uint8_t)s[k]))
            return 0;
    }
    return 36;
}

/* Index (< 256) of an earlier variable of the row (from vars[first]) with v's text, or -1: the
 * same id twice in a line (a node name, a request id) is then stored once. */
static int find_ref(const struct enc *e, size_t first, const struct var *v)
{
    if (v->n < REF_MIN || v->kind == SLOT_INT)
        return -1;
    size_t hi = e->nvars - first < 256 ? e->nvars : first + 256;
    for (size_t k = hi; k-- > first;) {
        const struct var *w = &e->vars[k];
        if (w->n == v->n && memcmp(w->p, v->p, v->n) == 0)
            return (int)(k - first);
    }
    return -1;
}

/* Appends a row's template to e->tb and its variables to e->vars. */
static int tokenize(struct enc *e, const char *s, size_t len, uint32_t row)
{
    size_t i = 0, lit = 0, first = e->nvars;
    while (i < len) {
        if (CLS[(uint8_t)s[i]] == CH_DELIM) {
            i++;
            continue;
        }
        size_t j = i;
        int dig = 0, alldig = 1;
        size_t u = uuid_at(s + i, len - i);
        if (u) {
            j = i + u;
            dig = 1;
            alldig = 0;
        }
        for (; j < len && CLS[(uint8_t)s[j]] != CH_DELIM; j++) {
            if (CLS[(uint8_t)s[j]] == CH_DIGIT)
                dig = 1;
            else
                alldig = 0;
        }
        if (!dig) {
            i = j;
            continue;
        }
        struct var v;
        classify(s, i, j, alldig, &v);
        v.row = row;
        size_t lit_end = (size_t)(v.p - s);
        int ref = find_ref(e, first, &v);
        char code[2] = {REF, (char)ref};
        if (put_literal(&e->tb, s + lit, lit_end - lit) != OWL_OK)
            return OWL_ENOMEM;
        if (ref >= 0 ? owl_buf_append(&e->tb, code, 2) != OWL_OK
                     : owl_buf_putc(&e->tb, SLOT) != OWL_OK || push_var(e, &v) != OWL_OK)
            return OWL_ENOMEM;
        lit = i = j;
    }
    return put_literal(&e->tb, s + lit, len - lit);
}

/* open-addressing table of uint32 ids (+1; 0 = empty), sized for at most `items` */
struct idtab {
    uint32_t *slot;
    size_t mask;
};

static int idtab_init(struct idtab *t, size_t items)
{
    size_t cap = 16;
    while (cap < 2 * items)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    return t->slot ? OWL_OK : OWL_ENOMEM;
}

static const uint8_t *tpl_bytes(const struct enc *e, uint32_t t, size_t *len)
{
    size_t r = e->trow[t];
    *len = e->toff[r + 1] - e->toff[r];
    return (const uint8_t *)e->tb.data + e->toff[r];
}

/* Gives every row a template id (first appearance order). */
static int dedupe_templates(struct enc *e)
{
    struct idtab tab;
    uint64_t *th = malloc((e->n + 1) * sizeof *th);
    e->tid = malloc((e->n + 1) * sizeof *e->tid);
    e->trow = malloc((e->n + 1) * sizeof *e->trow);
    if (!th || !e->tid || !e->trow || idtab_init(&tab, e->n) != OWL_OK) {
        free(th);
        return OWL_ENOMEM;
    }
    for (size_t r = 0; r < e->n; r++) {
        const char *s = e->tb.data + e->toff[r];
        size_t len = e->toff[r + 1] - e->toff[r];
        uint64_t h = owl_hash64(s, len, 0);
        size_t pos = (size_t)h & tab.mask;
        for (;;) {
            uint32_t id = tab.slot[pos];
            if (id == 0) {
                id = (uint32_t)e->ntpl++;
                tab.slot[pos] = id + 1;
                th[id] = h;
                e->trow[id] = (uint32_t)r;
                e->tid[r] = id;
                break;
            }
            size_t olen;
            const uint8_t *o = tpl_bytes(e, id - 1, &olen);
            if (th[id - 1] == h && olen == len && memcmp(o, s, len) == 0) {
                e->tid[r] = id - 1;
                break;
            }
            pos = (pos + 1) & tab.mask;
        }
    }
    free(th);
    free(tab.slot);
    return OWL_OK;
}

/* The column for the slot ending template t's prefix of plen bytes (hash h), created when new. */
static int column_for(struct enc *e, struct idtab *tab, uint32_t t, size_t plen, uint64_t h,
                      uint32_t *out)
{
    size_t tlen, olen;
    const uint8_t *tp = tpl_bytes(e, t, &tlen);
    size_t pos = (size_t)(h ^ h >> 29) & tab->mask;
    for (;;) {
        uint32_t id = tab->slot[pos];
        if (id == 0)
            break;
        struct col *c = &e->cols[id - 1];
        if (c->h == h && c->plen == plen && memcmp(tpl_bytes(e, c->tid, &olen), tp, plen) == 0) {
            *out = id - 1;
            return OWL_OK;
        }
        pos = (pos + 1) & tab->mask;
    }
    struct col *c = &e->cols[e->ncol];
    *c = (struct col){.h = h, .tid = t, .plen = (uint32_t)plen, .kind = SLOT_INT};
    tab->slot[pos] = (uint32_t)++e->ncol;
    *out = (uint32_t)(e->ncol - 1);
    return OWL_OK;
}

/* Maps every slot of every template to a column and groups the variables by column. */
static int assign_columns(struct enc *e)
{
    size_t nslot = 0;
    struct idtab tab = {0};
    int rc = OWL_ENOMEM;
    e->tslot = malloc((e->ntpl + 1) * sizeof *e->tslot);
    if (!e->tslot)
        goto out;
    for (uint32_t t = 0; t < e->ntpl; t++) {
        size_t r = e->trow[t];
        e->tslot[t] = (uint32_t)nslot;
        nslot += e->voff[r + 1] - e->voff[r];
    }
    e->tslot[e->ntpl] = (uint32_t)nslot;
    e->scol = malloc((nslot + 1) * sizeof *e->scol);
    e->cols = malloc((nslot + 1) * sizeof *e->cols);
    e->order = malloc((e->nvars + 1) * sizeof *e->order);
    if (!e->scol || !e->cols || !e->order || idtab_init(&tab, nslot) != OWL_OK)
        goto out;
    for (uint32_t t = 0; t < e->ntpl; t++) {
        size_t len, k = e->tslot[t];
        const uint8_t *s = tpl_bytes(e, t, &len);
        uint64_t h = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < len; i++) {
            h = (h ^ s[i]) * 0x100000001b3ull;
            if (s[i] == ESC || s[i] == REF) {
                i++;
                h = (h ^ s[i]) * 0x100000001b3ull;
            } else if (s[i] == SLOT) {
                if ((rc = column_for(e, &tab, t, i + 1, h, &e->scol[k++])) != OWL_OK)
                    goto out;
            }
        }
    }
    for (size_t r = 0; r < e->n; r++) {
        const uint32_t *sc = e->scol + e->tslot[e->tid[r]];
        for (size_t i = e->voff[r]; i < e->voff[r + 1]; i++) {
            struct col *c = &e->cols[sc[i - e->voff[r]]];
            c->count++;
            /* one non-integer makes the column a string column holding the tokens' text */
            if (e->vars[i].kind != SLOT_INT)
                c->kind = SLOT_STR;
        }
    }
    size_t at = 0;
    for (size_t c = 0; c < e->ncol; c++) {
        e->cols[c].start = at;
        at += e->cols[c].count;
    }
    for (size_t r = 0; r < e->n; r++) {
        const uint32_t *sc = e->scol + e->tslot[e->tid[r]];
        for (size_t i = e->voff[r]; i < e->voff[r + 1]; i++) {
            struct col *c = &e->cols[sc[i - e->voff[r]]];
            e->order[c->start++] = (uint32_t)i;
        }
    }
    for (size_t c = 0; c < e->ncol; c++)
        e->cols[c].start -= e->cols[c].count;
    rc = OWL_OK;
out:
    free(tab.slot);
    return rc;
}

/* Rows whose template has a slot in a column of fewer than min_count values get that slot
 * and every later one written back as literal text (prefix-keyed columns only shrink along a
 * template, so the slots kept keep their columns): a column per rare template costs more
 * than the digits it holds. Templates and columns are then built again. */
static int inline_rare(struct enc *e, size_t min_count)
{
    owl_buf tb = OWL_BUF_INIT;
    size_t *toff = malloc((e->n + 1) * sizeof *toff), nv = 0;
    int rc = OWL_ENOMEM;
    if (!toff || owl_buf_reserve(&tb, e->tb.len + 64) != OWL_OK)
        goto out;
    for (size_t r = 0; r < e->n; r++) {
        size_t v0 = e->voff[r], nslots = e->voff[r + 1] - v0, k = 0;
        const uint32_t *sc = e->scol + e->tslot[e->tid[r]];
        const char *s = e->tb.data + e->toff[r];
        size_t len = e->toff[r + 1] - e->toff[r], pos = 0;
        while (k < nslots && e->cols[sc[k]].count >= min_count)
            k++;
        toff[r] = tb.len;
        if (k == nslots) {
            pos = len;
        } else {
            for (size_t seen = 0; pos < len; pos++) {
                if (s[pos] == ESC || s[pos] == REF)
                    pos++;
                else if (s[pos] == SLOT && seen++ == k)
                    break;
            }
        }
        if (owl_buf_append(&tb, s, pos) != OWL_OK)
            goto out;
        if (k < nslots) {
            const struct var *v = &e->vars[v0 + k];
            const char *mend = e->msg[r].p + e->msg[r].n;
            if (put_literal(&tb, v->p, (size_t)(mend - v->p)) != OWL_OK)
                goto out;
        }
        if (k)
            memmove(&e->vars[nv], &e->vars[v0], k * sizeof *e->vars);
        e->voff[r] = nv;
        nv += k;
    }
    toff[e->n] = tb.len;
    e->voff[e->n] = e->nvars = nv;
    owl_buf_free(&e->tb);
    free(e->toff);
    e->tb = tb;
    e->toff = toff;
    tb = (owl_buf)OWL_BUF_INIT;
    toff = NULL;
    free(e->tid);
    free(e->trow);
    free(e->tslot);
    free(e->scol);
    free(e->cols);
    free(e->order);
    e->tid = e->trow = e->tslot = e->scol = e->order = NULL;
    e->cols = NULL;
    e->ntpl = e->ncol = 0;
    if ((rc = dedupe_templates(e)) == OWL_OK)
        rc = assign_columns(e);
out:
    owl_buf_free(&tb);
    free(toff);
    return rc;
}

/* ---- cost model: zstd codes literals with Huffman tables, so the order-0 entropy of a byte
 * stream is a fair estimate of what it will cost ---- */

/* log2(x) in 16.16 fixed point, x >= 1 */
static uint64_t log2fx(uint64_t x)
{
    unsigned e = 63u - (unsigned)__builtin_clzll(x);
    uint64_t r = (uint64_t)e << 16;
    uint64_t m = e >= 31 ? x >> (e - 31) : x << (31 - e); /* mantissa in [1, 2), Q31 */
    for (int i = 15; i >= 0; i--) {
        m = (m * m) >> 31;
        if (m >= (uint64_t)2 << 31) {
            m >>= 1;
            r |= (uint64_t)1 << i;
        }
    }
    return r;
}

/* estimated compressed bytes of a stream with byte histogram h */
static size_t hist_cost(const uint32_t *h)
{
    uint64_t total = 0, s = 0;
    for (int i = 0; i < 256; i++)
        total += h[i];
    if (total == 0)
        return 0;
    uint64_t lt = log2fx(total);
    for (int i = 0; i < 256; i++)
        if (h[i])
            s += h[i] * (lt - log2fx(h[i]));
    return (size_t)(s >> 19);
}

/* ---- integer columns ---- */

struct icol {
    int64_t *v;
    uint8_t *pad; /* MIXED pad bytes */
    size_t cnt;
    uint8_t kind, width;
    int64_t base;  /* PLANES */
    unsigned k;    /* PLANES */
};

static inline int64_t xval(const int64_t *v, size_t i, int delta)
{
    return delta ? (int64_t)((uint64_t)v[i] - (uint64_t)v[i - 1]) : v[i];
}

/* The four layouts of an integer column: DELTA x PLANES. */
struct layouts {
    int64_t base[2];   /* PLANES: minimum of the stream, without / with DELTA */
    unsigned k[2];     /* PLANES: bytes per value */
    size_t est[4];     /* estimated cost, index delta | planes << 1 */
};

/* Sets the PLANES parameters of each layout of c, and when `costs`, estimates the cost of
 * each layout from byte histograms. */
static void estimate_layouts(const struct icol *c, struct layouts *L, int costs)
{
    uint32_t hv[256], hp[8][256];
    for (int delta = 0; delta <= 1; delta++) {
        size_t first = (size_t)delta, head = delta ? owl_varint_len(owl_zigzag(c->v[0])) : 0;
        memset(hv, 0, sizeof hv);
        memset(hp, 0, sizeof hp);
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (size_t i = first; i < c->cnt; i++) {
            int64_t x = xval(c->v, i, delta);
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        if (first >= c->cnt)
            mn = mx = 0;
        unsigned k = nbytes((uint64_t)mx - (uint64_t)mn);
        L->base[delta] = mn;
        L->k[delta] = k;
        if (!costs)
            continue;
        for (size_t i = first; i < c->cnt; i++) {
            uint64_t z = owl_zigzag(xval(c->v, i, delta));
            while (z >= 0x80) {
                hv[(uint8_t)(z | 0x80)]++;
                z >>= 7;
            }
            hv[z]++;
        }
        L->est[delta] = head + hist_cost(hv);
        for (size_t i = first; i < c->cnt; i++) {
            uint64_t u = (uint64_t)xval(c->v, i, delta) - (uint64_t)mn;
            for (unsigned j = 0; j < k; j++)
                hp[j][(uint8_t)(u >> 8 * j)]++;
        }
        size_t cp = head + owl_varint_len(owl_zigzag(mn)) + 1;
        for (unsigned j = 0; j < k; j++)
            cp += hist_cost(hp[j]);
        L->est[delta | 2] = cp;
    }
}

static void set_layout(struct icol *c, const struct layouts *L, int which)
{
    int delta = which & 1;
    c->kind = (uint8_t)((c->kind & (K_FMT | K_TIME)) | (delta ? K_DELTA : 0) | (which & 2 ? K_PLANES : 0));
    c->base = L->base[delta];
    c->k = L->k[delta];
}

static int put_icol(owl_buf *out, const struct icol *c);

/* Bytes zstd makes of p[0..n) at TRIAL_LEVEL, SIZE_MAX when out of memory. */
static size_t trial_size(struct enc *e, const void *p, size_t n)
{
    if (!e->zc && !(e->zc = ZSTD_createCCtx()))
        return SIZE_MAX;
    if (owl_buf_reserve(&e->zbuf, ZSTD_compressBound(n)) != OWL_OK)
        return SIZE_MAX;
    size_t z = ZSTD_compressCCtx(e->zc, e->zbuf.data, e->zbuf.cap, p, n, TRIAL_LEVEL);
    return ZSTD_isError(z) ? n : z;
}

/* Picks the layout of c: by trial compression when it is big enough to matter, else by the
 * estimate. */
static int choose_layout(struct enc *e, struct icol *c)
{
    struct layouts L;
    int best = 0;
    estimate_layouts(c, &L, c->cnt < TRIAL_MIN);
    if (c->cnt < TRIAL_MIN) {
        for (int w = 1; w < 4; w++)
            if (L.est[w] < L.est[best])
                best = w;
    } else {
        size_t bsize = SIZE_MAX;
        for (int w = 0; w < 4; w++) {
            owl_buf_reset(&e->scratch);
            set_layout(c, &L, w);
            if (put_icol(&e->scratch, c) != OWL_OK)
                return OWL_ENOMEM;
            size_t z = trial_size(e, e->scratch.data, e->scratch.len);
            if (z == SIZE_MAX)
                return OWL_ENOMEM;
            if (z < bsize) {
                bsize = z;
                best = w;
            }
        }
    }
    set_layout(c, &L, best);
    return OWL_OK;
}

/* Appends m values (as produced by xval from index first) as k planes after base. */
static int put_planes(owl_buf *out, const int64_t *v, size_t first, size_t cnt, int delta,
                      int64_t base, unsigned k)
{
    size_t m = cnt - first;
    uint8_t hdr[11], *h = owl_varint_write(hdr, owl_zigzag(base));
    *h++ = (uint8_t)k;
    if (owl_buf_append(out, hdr, (size_t)(h - hdr)) != OWL_OK || owl_buf_reserve(out, m * k) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *o = (uint8_t *)out->data + out->len;
    for (size_t i = first; i < cnt; i++) {
        uint64_t u = (uint64_t)xval(v, i, delta) - (uint64_t)base;
        for (unsigned j = 0; j < k; j++)
            o[j * m + (i - first)] = (uint8_t)(u >> 8 * j);
    }
    out->len += m * k;
    out->data[out->len] = '\0';
    return OWL_OK;
}

static int put_icol(owl_buf *out, const struct icol *c)
{
    int delta = (c->kind & K_DELTA) != 0;
    if ((c->kind & K_FMT) == FMT_MIXED && owl_buf_append(out, c->pad, c->cnt) != OWL_OK)
        return OWL_ENOMEM;
    if (owl_buf_reserve(out, 10 * (c->cnt + 1)) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *o = (uint8_t *)out->data + out->len;
    if (delta)
        o = owl_varint_write(o, owl_zigzag(c->v[0]));
    if (c->kind & K_PLANES) {
        out->len = (size_t)((char *)o - out->data);
        return put_planes(out, c->v, (size_t)delta, c->cnt, delta, c->base, c->k);
    }
    for (size_t i = (size_t)delta; i < c->cnt; i++)
        o = owl_varint_write(o, owl_zigzag(xval(c->v, i, delta)));
    out->len = (size_t)((char *)o - out->data);
    out->data[out->len] = '\0';
    return OWL_OK;
}

/* The time field that the column's values follow best, or 0. It is the difference value -
 * field that has to repeat from one value to the next (so a clock in another zone, off by a
 * constant, still counts), and a field is taken when that halves the changes. */
static unsigned pick_time_field(const struct enc *e, const struct col *cl, const int64_t *v)
{
    size_t same[TF_COUNT] = {0}, plain = 0;
    uint64_t prev[TF_COUNT] = {0};
    struct tcache tc = {.day = INT64_MIN};
    for (size_t i = 0; i < cl->count; i++) {
        int64_t t = e->time[e->vars[e->order[cl->start + i]].row];
        plain += i > 0 && v[i] == v[i - 1];
        for (unsigned f = 1; f < TF_COUNT; f++) {
            uint64_t r = (uint64_t)v[i] - time_field(f, t, &tc);
            same[f] += i > 0 && r == prev[f];
            prev[f] = r;
        }
    }
    unsigned best = 0;
    for (unsigned f = 1; f < TF_COUNT; f++)
        if (same[f] > same[best])
            best = f;
    /* worth it when it at least halves the changes from value to value */
    size_t pairs = cl->count > 0 ? cl->count - 1 : 0;
    if (pairs == 0 || 2 * (pairs - same[best]) >= pairs - plain || 2 * same[best] < pairs)
        return 0;
    return best;
}

/* Encodes integer column c: header byte(s) into hdr, payload appended to pay. */
static int enc_int_col(struct enc *e, const struct col *cl, owl_buf *hdr, owl_buf *pay)
{
    struct icol c = {.cnt = cl->count};
    int rc = OWL_ENOMEM;
    int canon = 1, fixed = 1;
    c.v = malloc(c.cnt * sizeof *c.v);
    c.pad = malloc(c.cnt);
    if (!c.v || !c.pad)
        goto out;
    const struct var *v0 = &e->vars[e->order[cl->start]];
    for (size_t i = 0; i < c.cnt; i++) {
        const struct var *v = &e->vars[e->order[cl->start + i]];
        c.v[i] = v->v;
        int is_canon = v->v < 0 || v->nd == ndig((uint64_t)v->v);
        c.pad[i] = is_canon ? 0 : v->nd;
        canon &= is_canon;
        fixed &= v->v >= 0 && v->nd == v0->nd;
    }
    c.kind = fixed ? FMT_FIXED : canon ? FMT_CANON : FMT_MIXED;
    unsigned field = e->time ? pick_time_field(e, cl, c.v) : 0;
    if (field) {
        struct tcache tc = {.day = INT64_MIN};
        for (size_t i = 0; i < c.cnt; i++) {
            int64_t t = e->time[e->vars[e->order[cl->start + i]].row];
            c.v[i] = (int64_t)((uint64_t)c.v[i] - time_field(field, t, &tc));
        }
        c.kind |= K_TIME;
    }
    if ((rc = choose_layout(e, &c)) != OWL_OK || (rc = put_icol(pay, &c)) != OWL_OK)
        goto out;
    uint8_t h[3], *o = h;
    *o++ = c.kind;
    if (fixed)
        *o++ = v0->nd;
    if (field)
        *o++ = (uint8_t)field;
    rc = owl_buf_append(hdr, h, (size_t)(o - h));
out:
    free(c.v);
    free(c.pad);
    return rc;
}

/* ---- string columns ---- */

static inline unsigned hexval(uint8_t c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* A column of lowercase hex strings of one even length L (HEX), or of UUIDs (UUID), as the
 * bytes they spell: half the size, and no hex digits diluting the literals' statistics. */
static int enc_hex_col(const struct enc *e, const struct col *cl, int uuid, size_t len,
                       owl_buf *hdr, owl_buf *pay)
{
    size_t cnt = cl->count, per = uuid ? 16 : len / 2;
    uint8_t h[11], *q = h;
    *q++ = uuid ? K_STR_UUID : K_STR_HEX;
    if (!uuid)
        q = owl_varint_write(q, len);
    if (owl_buf_append(hdr, h, (size_t)(q - h)) != OWL_OK || owl_buf_reserve(pay, cnt * per) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *o = (uint8_t *)pay->data + pay->len;
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *v = (const uint8_t *)e->vars[e->order[cl->start + i]].p;
        for (size_t j = 0; j < len; j += 2) {
            if (v[j] == '-')
                j++;
            *o++ = (uint8_t)(hexval(v[j]) << 4 | hexval(v[j + 1]));
        }
    }
    pay->len += cnt * per;
    pay->data[pay->len] = '\0';
    return OWL_OK;
}

/* PLAIN (lengths, then bytes) or, when every value has one length, SAME. */
static int put_str_plain(const struct enc *e, const struct col *cl, int same, owl_buf *pay)
{
    size_t cnt = cl->count;
    const uint32_t *ord = e->order + cl->start;
    if (owl_buf_reserve(pay, 10 * (cnt + 1)) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *o = (uint8_t *)pay->data + pay->len;
    if (same) {
        o = owl_varint_write(o, e->vars[ord[0]].n);
    } else {
        for (size_t i = 0; i < cnt; i++)
            o = owl_varint_write(o, e->vars[ord[i]].n);
    }
    pay->len = (size_t)((char *)o - pay->data);
    for (size_t i = 0; i < cnt; i++)
        if (owl_buf_append(pay, e->vars[ord[i]].p, e->vars[ord[i]].n) != OWL_OK)
            return OWL_ENOMEM;
    return OWL_OK;
}

/* DICT: the distinct values in order of first use, then a code per value (0 = the next
 * entry not used yet, else 1 + an entry). OWL_ERANGE when every value is distinct. */
static int put_str_dict(const struct enc *e, const struct col *cl, owl_buf *pay)
{
    size_t cnt = cl->count, d = 0;
    const uint32_t *ord = e->order + cl->start;
    struct idtab tab;
    uint32_t *code = malloc(cnt * sizeof *code), *first = malloc(cnt * sizeof *first);
    int rc = OWL_ENOMEM;
    if (!code || !first || idtab_init(&tab, cnt) != OWL_OK) {
        free(code);
        free(first);
        return OWL_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        const struct var *v = &e->vars[ord[i]];
        size_t pos = (size_t)owl_hash64(v->p, v->n, 0) & tab.mask;
        for (;;) {
            uint32_t id = tab.slot[pos];
            if (id == 0) {
                first[d] = ord[i];
                tab.slot[pos] = (uint32_t)++d;
                code[i] = 0;
                break;
            }
            const struct var *w = &e->vars[first[id - 1]];
            if (w->n == v->n && memcmp(w->p, v->p, v->n) == 0) {
                code[i] = id;
                break;
            }
            pos = (pos + 1) & tab.mask;
        }
    }
    rc = OWL_ERANGE;
    if (d == cnt)
        goto out;
    rc = OWL_ENOMEM;
    unsigned k = nbytes(d);
    if (owl_buf_reserve(pay, 11 + 10 * d + cnt * k) != OWL_OK)
        goto out;
    uint8_t *o = owl_varint_write((uint8_t *)pay->data + pay->len, d);
    for (size_t j = 0; j < d; j++)
        o = owl_varint_write(o, e->vars[first[j]].n);
    pay->len = (size_t)((char *)o - pay->data);
    for (size_t j = 0; j < d; j++)
        if (owl_buf_append(pay, e->vars[first[j]].p, e->vars[first[j]].n) != OWL_OK)
            goto out;
    if (owl_buf_reserve(pay, 1 + cnt * k) != OWL_OK)
        goto out;
    o = (uint8_t *)pay->data + pay->len;
    *o++ = (uint8_t)k;
    for (size_t i = 0; i < cnt; i++)
        for (unsigned j = 0; j < k; j++)
            o[j * cnt + i] = (uint8_t)(code[i] >> 8 * j);
    pay->len += 1 + cnt * k;
    pay->data[pay->len] = '\0';
    rc = OWL_OK;
out:
    free(code);
    free(first);
    free(tab.slot);
    return rc;
}

static int enc_str_col(struct enc *e, const struct col *cl, owl_buf *hdr, owl_buf *pay)
{
    size_t cnt = cl->count;
    const uint32_t *ord = e->order + cl->start;
    uint32_t len0 = e->vars[ord[0]].n;
    int same = 1;
    for (size_t i = 1; i < cnt && same; i++)
        same = e->vars[ord[i]].n == len0;
    uint8_t kind = same ? K_STR_SAME : K_STR_PLAIN;
    if (same && len0 % 2 == 0) { /* a UUID's 36 is even too */
        int hex = 1, uuid = len0 == 36;
        for (size_t i = 0; i < cnt && (hex || uuid); i++) {
            const char *v = e->vars[ord[i]].p;
            uuid = uuid && uuid_at(v, 36);
            for (size_t j = 0; j < len0 && hex; j++)
                hex = hexdig((uint8_t)v[j]);
        }
        if (hex || uuid)
            return enc_hex_col(e, cl, uuid, len0, hdr, pay);
    }
    size_t at = pay->len;
    if (put_str_plain(e, cl, same, pay) != OWL_OK)
        return OWL_ENOMEM;
    if (cnt >= TRIAL_MIN) {
        /* a dictionary when it compresses smaller: repeats then need no match search */
        owl_buf_reset(&e->scratch);
        int rc = put_str_dict(e, cl, &e->scratch);
        if (rc == OWL_ENOMEM)
            return rc;
        if (rc == OWL_OK) {
            size_t zp = trial_size(e, pay->data + at, pay->len - at);
            size_t zd = trial_size(e, e->scratch.data, e->scratch.len);
            if (zp == SIZE_MAX || zd == SIZE_MAX)
                return OWL_ENOMEM;
            if (zd < zp) {
                pay->len = at;
                kind = K_STR_DICT;
                if (owl_buf_append(pay, e->scratch.data, e->scratch.len) != OWL_OK)
                    return OWL_ENOMEM;
            }
        }
    }
    return owl_buf_append(hdr, &kind, 1);
}

/* ---- assembling the chunk ---- */

static int put_varint(owl_buf *b, uint64_t v)
{
    uint8_t t[10];
    return owl_buf_append(b, t, (size_t)(owl_varint_write(t, v) - t));
}


static int write_chunk(struct enc *e, owl_buf *out)
{
    owl_buf hdr = OWL_BUF_INIT, pay = OWL_BUF_INIT;
    int rc = OWL_ENOMEM;
    uint8_t id = OWL_ENC_LOGTPL;
    if (owl_buf_append(out, &id, 1) != OWL_OK || put_varint(out, e->ntpl) != OWL_OK)
        goto out;
    for (uint32_t t = 0; t < e->ntpl; t++) {
        size_t len;
        const uint8_t *s = tpl_bytes(e, t, &len);
        if (owl_buf_append(out, s, len) != OWL_OK || owl_buf_putc(out, EOT) != OWL_OK)
            goto out;
    }
    for (size_t c = 0; c < e->ncol; c++) {
        rc = e->cols[c].kind == SLOT_INT ? enc_int_col(e, &e->cols[c], &hdr, &pay)
                                         : enc_str_col(e, &e->cols[c], &hdr, &pay);
        if (rc != OWL_OK)
            goto out;
    }
    rc = OWL_ENOMEM;
    if (put_varint(out, e->ncol) != OWL_OK || owl_buf_append(out, hdr.data, hdr.len) != OWL_OK)
        goto out;
    /* columns are numbered in order of first use, so a new one is written as 0 */
    for (size_t s = 0, made = 0; s < (e->ntpl ? e->tslot[e->ntpl] : 0); s++) {
        uint32_t c = e->scol[s];
        if (put_varint(out, c == made ? 0 : c + 1) != OWL_OK)
            goto out;
        made += c == made;
    }
    /* templates are numbered in order of first use, so a new one is written as 0 */
    unsigned k = nbytes(e->ntpl);
    uint8_t kb = (uint8_t)k;
    if (owl_buf_append(out, &kb, 1) != OWL_OK || owl_buf_reserve(out, e->n * k) != OWL_OK)
        goto out;
    uint8_t *o = (uint8_t *)out->data + out->len;
    for (size_t r = 0, made = 0; r < e->n; r++) {
        uint32_t code = e->tid[r] == made ? 0 : e->tid[r] + 1;
        made += code == 0;
        for (unsigned j = 0; j < k; j++)
            o[j * e->n + r] = (uint8_t)(code >> 8 * j);
    }
    out->len += e->n * k;
    out->data[out->len] = '\0';
    rc = owl_buf_append(out, pay.data, pay.len);
out:
    owl_buf_free(&hdr);
    owl_buf_free(&pay);
    return rc;
}

int owl_enc_logtpl(const owl_strref *v, size_t n, owl_buf *out)
{
    return owl_enc_logtpl_time(v, NULL, n, out);
}

int owl_enc_logtpl_time(const owl_strref *v, const int64_t *time_ms, size_t n, owl_buf *out)
{
    struct enc e = {.msg = v, .n = n, .time = time_ms};
    size_t total = 0, at = out->len;
    int rc = OWL_ENOMEM;
    if (n > UINT32_MAX)
        return OWL_ETOOBIG;
    for (size_t r = 0; r < n; r++) {
        total += v[r].n;
        if (total > OWL_LOGTPL_MAX_OUT)
            return OWL_ETOOBIG;
    }
    e.toff = malloc((n + 1) * sizeof *e.toff);
    e.voff = malloc((n + 1) * sizeof *e.voff);
    if (!e.toff || !e.voff || owl_buf_reserve(&e.tb, total + total / 8 + 64) != OWL_OK)
        goto out;
    for (size_t r = 0; r < n; r++) {
        e.toff[r] = e.tb.len;
        e.voff[r] = e.nvars;
        if ((rc = tokenize(&e, v[r].p, v[r].n, (uint32_t)r)) != OWL_OK)
            goto out;
    }
    e.toff[n] = e.tb.len;
    e.voff[n] = e.nvars;
    if ((rc = dedupe_templates(&e)) != OWL_OK || (rc = assign_columns(&e)) != OWL_OK ||
        (rc = inline_rare(&e, INLINE_BELOW)) != OWL_OK)
        goto out;
    rc = write_chunk(&e, out);
out:
    if (rc != OWL_OK && out->data) {
        out->len = at;
        out->data[at] = '\0';
    }
    enc_free(&e);
    return rc;
}

/* ======================================================================================
 * Decoder
 * ====================================================================================== */

/* One step of a compiled template: copy lit bytes, then the next value of column col, or
 * (col >= REF_OP) a copy of the row's value col - REF_OP; col == NO_COL ends the template. */
struct op {
    uint32_t lit, len, col;
};
#define NO_COL UINT32_MAX
#define REF_OP 0x80000000u

struct dcol {
    uint8_t kind, width, field;
    uint32_t hexlen; /* HEX: digits per value */
    uint32_t *rows; /* TIME: the row of each value */
    size_t count; /* references from rows */
    size_t base;  /* index of its first value in offs */
};

struct dec {
    const int64_t *time;    /* row times, or NULL */
    size_t opcap;
    uint32_t *trows;        /* the rows of TIME columns' values */
    size_t n, ntpl, ncol, nops;
    uint32_t *topen;        /* ntpl + 1: first op of each template */
    struct op *ops;
    char *lit;              /* unescaped literals + SLACK */
    struct dcol *cols;
    uint32_t *tid;          /* n */
    uint32_t *cur;          /* ncol cursors into offs */
    owl_buf txt;            /* every value's text, column after column (+ SLACK reserved) */
    uint32_t *offs;         /* refs + 1: value i is txt[offs[i], offs[i + 1]) */
    size_t refs;
    uint8_t *tmay;          /* ntpl, with a judge (owl_dec_logtpl_sel): 0 = its rows are left
                             * out */
    uint8_t *need;          /* refs, when rows are left out: 0 = value i is not written */
    uint32_t *vidx;         /* ...and the values of the rows kept, in assembly order */
    struct seen {           /* the judge's words looked up in the string values (by address) */
        const uint8_t *w;
        size_t n;
        int in;
    } seen[16];
    size_t nseen;
};

static void dec_free(struct dec *d)
{
    free(d->trows);
    free(d->topen);
    free(d->ops);
    free(d->lit);
    free(d->cols);
    free(d->tid);
    free(d->cur);
    free(d->offs);
    free(d->tmay);
    free(d->need);
    free(d->vidx);
    owl_buf_free(&d->txt);
}

/* Appends an op, growing d->ops (sized as we go: a bound from the input would be 12 bytes
 * per input byte). */
static int push_op(struct dec *d, size_t *nops, uint32_t lit, uint32_t len, uint32_t col)
{
    if (*nops == d->opcap) {
        size_t cap = d->opcap ? 2 * d->opcap : 256;
        struct op *o = realloc(d->ops, cap * sizeof *o);
        if (!o)
            return OWL_ENOMEM;
        d->ops = o;
        d->opcap = cap;
    }
    d->ops[(*nops)++] = (struct op){lit, len, col};
    return OWL_OK;
}

/* Reads T and the templates; compiles them into ops (the columns come from the slot map). */
static int dec_templates(struct dec *d, const uint8_t **q, const uint8_t *end)
{
    uint64_t T;
    if (owl_varint_read(q, end, &T) != OWL_OK || T > d->n || (T == 0) != (d->n == 0) ||
        T > (uint64_t)(end - *q))
        return OWL_ECORRUPT;
    d->ntpl = (size_t)T;
    size_t left = (size_t)(end - *q);
    d->topen = malloc((d->ntpl + 1) * sizeof *d->topen);
    d->lit = malloc(left + SLACK); /* the literals are at most the bytes left */
    if (!d->topen || !d->lit)
        return OWL_ENOMEM;
    const uint8_t *s = *q;
    size_t nops = 0, nlit = 0;
    for (size_t t = 0; t < d->ntpl; t++) {
        d->topen[t] = (uint32_t)nops;
        size_t start = nlit, slots = 0;
        for (;;) {
            /* plain text 8 bytes at a time while none of them is below 0x13 (EOT, ESC, SLOT,
             * REF are 0x0a..0x12) */
            while (end - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if ((w - 0x1313131313131313ull) & ~w & 0x8080808080808080ull)
                    break;
                memcpy(d->lit + nlit, &w, 8);
                nlit += 8;
                s += 8;
            }
            if (s == end)
                return OWL_ECORRUPT;
            uint8_t c = *s++;
            if (c == EOT)
                break;
            if (c == ESC) {
                if (s == end || !needs_esc(*s))
                    return OWL_ECORRUPT;
                d->lit[nlit++] = (char)*s++;
            } else if (c == SLOT || c == REF) {
                uint32_t col = 0;
                if (c == REF) {
                    if (s == end || *s >= slots)
                        return OWL_ECORRUPT;
                    col = REF_OP | *s++;
                }
                slots += c == SLOT;
                if (push_op(d, &nops, (uint32_t)start, (uint32_t)(nlit - start), col) != OWL_OK)
                    return OWL_ENOMEM;
                start = nlit;
            } else {
                d->lit[nlit++] = (char)c;
            }
        }
        if (push_op(d, &nops, (uint32_t)start, (uint32_t)(nlit - start), NO_COL) != OWL_OK)
            return OWL_ENOMEM;
    }
    d->topen[d->ntpl] = (uint32_t)nops;
    d->nops = nops;
    memset(d->lit + nlit, 0, SLACK);
    *q = s;
    return OWL_OK;
}

/* Reads C and the column kinds. */
static int dec_col_headers(struct dec *d, const uint8_t **q, const uint8_t *end)
{
    uint64_t C;
    size_t slots = 0;
    for (size_t i = 0; i < d->nops; i++)
        slots += d->ops[i].col < REF_OP;
    if (owl_varint_read(q, end, &C) != OWL_OK || C > slots || (C == 0) != (slots == 0))
        return OWL_ECORRUPT;
    d->ncol = (size_t)C;
    d->cols = calloc(d->ncol + 1, sizeof *d->cols);
    d->cur = malloc((d->ncol + 1) * sizeof *d->cur);
    if (!d->cols || !d->cur)
        return OWL_ENOMEM;
    for (size_t c = 0; c < d->ncol; c++) {
        struct dcol *dc = &d->cols[c];
        if (*q >= end)
            return OWL_ECORRUPT;
        dc->kind = *(*q)++;
        if (dc->kind < 0x80) {
            if ((dc->kind & ~(K_FMT | K_DELTA | K_PLANES | K_TIME)) || (dc->kind & K_FMT) == 3)
                return OWL_ECORRUPT;
            if ((dc->kind & K_FMT) == FMT_FIXED) {
                if (*q >= end || **q < 1 || **q > 19)
                    return OWL_ECORRUPT;
                dc->width = *(*q)++;
            }
            if (dc->kind & K_TIME) {
                if (*q >= end || **q < 1 || **q >= TF_COUNT)
                    return OWL_ECORRUPT;
                dc->field = *(*q)++;
            }
        } else if (dc->kind == K_STR_HEX) {
            uint64_t l;
            if (owl_varint_read(q, end, &l) != OWL_OK || l < 2 || l % 2 || l > UINT32_MAX / 2)
                return OWL_ECORRUPT;
            dc->hexlen = (uint32_t)l;
        } else if (dc->kind > K_STR_DICT) {
            return OWL_ECORRUPT;
        }
    }
    return OWL_OK;
}

/* Reads the slot map into the ops: 0 = the next new column, else column + 1 of one already
 * used. Every column must end up used. */
static int dec_slot_map(struct dec *d, const uint8_t **q, const uint8_t *end)
{
    size_t made = 0;
    for (size_t i = 0; i < d->nops; i++) {
        struct op *o = &d->ops[i];
        if (o->col >= REF_OP)
            continue;
        uint64_t c;
        if (owl_varint_read(q, end, &c) != OWL_OK)
            return OWL_ECORRUPT;
        if (c == 0) {
            if (made == d->ncol)
                return OWL_ECORRUPT;
            c = made++;
        } else if (--c >= made) {
            return OWL_ECORRUPT;
        }
        o->col = (uint32_t)c;
    }
    return made == d->ncol ? OWL_OK : OWL_ECORRUPT;
}

/* Reads k planes of n unsigned values < lim into out. */
static int dec_planes32(const uint8_t **q, const uint8_t *end, size_t n, size_t lim, uint32_t *out)
{
    if (*q >= end)
        return OWL_ECORRUPT;
    unsigned k = *(*q)++;
    if (k > 4 || (k && n > (size_t)(end - *q) / k))
        return OWL_ECORRUPT;
    const uint8_t *p = *q;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (unsigned j = 0; j < k; j++)
            v |= (uint32_t)p[j * n + i] << 8 * j;
        if (v >= lim)
            return OWL_ECORRUPT;
        out[i] = v;
    }
    *q += k * n;
    return OWL_OK;
}

/* Template ids, then the per-column reference counts and the literal total. */
static int dec_rows(struct dec *d, const uint8_t **q, const uint8_t *end, size_t *lit_total)
{
    size_t *use = calloc(d->ntpl + 1, sizeof *use);
    int rc = OWL_ENOMEM;
    d->tid = malloc((d->n + 1) * sizeof *d->tid);
    if (!use || !d->tid)
        goto out;
    if ((rc = dec_planes32(q, end, d->n, d->ntpl + 1, d->tid)) != OWL_OK)
        goto out;
    rc = OWL_ECORRUPT;
    size_t made = 0;
    for (size_t r = 0; r < d->n; r++) {
        uint32_t code = d->tid[r];
        if (code == 0) {
            if (made == d->ntpl)
                goto out;
            code = (uint32_t)++made;
        } else if (code > made) {
            goto out;
        }
        d->tid[r] = code - 1;
        use[code - 1]++;
    }
    size_t lit = 0, refs = 0;
    for (size_t t = 0; t < d->ntpl; t++) {
        if (!use[t])
            continue;
        for (uint32_t i = d->topen[t]; i < d->topen[t + 1]; i++) {
            const struct op *o = &d->ops[i];
            /* both sums stay <= MAX_OUT (each value writes >= 1 byte), so nothing overflows */
            if (o->len > OWL_LOGTPL_MAX_OUT / use[t])
                goto out;
            lit += o->len * use[t];
            if (o->col < REF_OP) {
                d->cols[o->col].count += use[t];
                refs += use[t];
            }
            if (lit + refs > OWL_LOGTPL_MAX_OUT)
                goto out;
        }
    }
    d->refs = refs;
    size_t at = 0;
    for (size_t c = 0; c < d->ncol; c++) {
        if (d->cols[c].count == 0)
            goto out;
        d->cols[c].base = at;
        d->cur[c] = (uint32_t)at;
        at += d->cols[c].count;
    }
    *lit_total = lit;
    rc = OWL_OK;
out:
    free(use);
    return rc;
}

/* Each template's slot columns in slot order (time_only: the TIME columns alone, those with
 * rows set): template t's are (*tcols)[(*tstart)[t] .. (*tstart)[t + 1]). OWL_ENOMEM. */
static int tpl_columns(const struct dec *d, int time_only, uint32_t **tstart, uint32_t **tcols)
{
    uint32_t *ts = malloc((d->ntpl + 1) * sizeof *ts), *tc = malloc((d->nops + 1) * sizeof *tc);
    *tstart = ts, *tcols = tc;
    if (!ts || !tc)
        return OWL_ENOMEM;
    uint32_t nt = 0;
    for (size_t t = 0; t < d->ntpl; t++) {
        ts[t] = nt;
        for (uint32_t i = d->topen[t]; i < d->topen[t + 1]; i++) {
            uint32_t c = d->ops[i].col;
            if (c < REF_OP && (!time_only || d->cols[c].rows))
                tc[nt++] = c;
        }
    }
    ts[d->ntpl] = nt;
    return OWL_OK;
}

/* Gives every TIME column the row of each of its values, in the order they are read.
 * OWL_EINVAL when the chunk needs row times and none were given. */
static int dec_time_rows(struct dec *d)
{
    size_t total = 0, at = 0;
    uint32_t *tstart = NULL, *tcols = NULL;
    size_t *fill = NULL;
    int rc = OWL_ENOMEM;
    for (size_t c = 0; c < d->ncol; c++)
        if (d->cols[c].kind < 0x80 && (d->cols[c].kind & K_TIME))
            total += d->cols[c].count;
    if (total == 0)
        return OWL_OK;
    if (!d->time)
        return OWL_EINVAL;
    d->trows = malloc(total * sizeof *d->trows);
    fill = calloc(d->ncol, sizeof *fill);
    if (!d->trows || !fill)
        goto out;
    for (size_t c = 0; c < d->ncol; c++) {
        if (d->cols[c].kind < 0x80 && (d->cols[c].kind & K_TIME)) {
            d->cols[c].rows = d->trows + at;
            at += d->cols[c].count;
        }
    }
    /* per template, the TIME columns of its slots in order */
    if (tpl_columns(d, 1, &tstart, &tcols) != OWL_OK)
        goto out;
    for (size_t r = 0; r < d->n; r++) {
        uint32_t t = d->tid[r];
        for (uint32_t i = tstart[t]; i < tstart[t + 1]; i++)
            d->cols[tcols[i]].rows[fill[tcols[i]]++] = (uint32_t)r;
    }
    rc = OWL_OK;
out:
    free(tstart);
    free(tcols);
    free(fill);
    return rc;
}

/* Makes room for `more` text bytes (+ SLACK) within the output limit. */
static int txt_room(struct dec *d, size_t more, size_t limit)
{
    if (more > limit || d->txt.len > limit - more)
        return OWL_ECORRUPT;
    return owl_buf_reserve(&d->txt, more + SLACK);
}

/* Formats v per pad (0 = canonical, else zero-padded to pad digits) at o; returns the bytes
 * written, 0 when v does not fit the width. */
static inline size_t fmt_int(char *o, uint64_t v, unsigned pad)
{
    if (pad) {
        if (v >= P10[pad])
            return 0;
        put_digits(o, v, pad);
        return pad;
    }
    if ((int64_t)v < 0) {
        uint64_t mag = 0 - v;
        unsigned w = ndig(mag);
        *o = '-';
        put_digits(o + 1, mag, w);
        return w + 1;
    }
    unsigned w = ndig(v);
    put_digits(o, v, w);
    return w;
}

/* Where an integer column's stream is and how to read it. */
struct istream {
    const uint8_t *planes; /* PLANES: k planes of m */
    size_t m;
    unsigned k;
    uint64_t base;
};

/* Stream values [i, i + cnt) into x (VARINT reads from *q in order). */
static int int_batch(const uint8_t **q, const uint8_t *end, const struct istream *st, size_t i,
                     size_t cnt, uint64_t *x)
{
    if (st->planes) {
        for (size_t j = 0; j < cnt; j++) {
            uint64_t u = 0;
            for (unsigned b = 0; b < st->k; b++)
                u |= (uint64_t)st->planes[b * st->m + i + j] << 8 * b;
            x[j] = u + st->base;
        }
        return OWL_OK;
    }
    for (size_t j = 0; j < cnt; j++) {
        uint64_t z;
        if (owl_varint_read(q, end, &z) != OWL_OK)
            return OWL_ECORRUPT;
        x[j] = (uint64_t)owl_unzigzag(z);
    }
    return OWL_OK;
}

static int dec_int_col(struct dec *d, const struct dcol *c, const uint8_t **qq, const uint8_t *end,
                       size_t limit)
{
    const uint8_t *q = *qq, *pads = NULL;
    size_t cnt = c->count;
    int fmt = c->kind & K_FMT, delta = (c->kind & K_DELTA) != 0;
    uint64_t prev = 0, z;
    struct istream st = {.m = cnt - (size_t)delta};
    if (fmt == FMT_MIXED) {
        if ((size_t)(end - q) < cnt)
            return OWL_ECORRUPT;
        pads = q;
        q += cnt;
        for (size_t i = 0; i < cnt; i++)
            if (pads[i] > 19)
                return OWL_ECORRUPT;
    }
    if (delta) {
        if (owl_varint_read(&q, end, &z) != OWL_OK)
            return OWL_ECORRUPT;
        prev = (uint64_t)owl_unzigzag(z);
    }
    if (c->kind & K_PLANES) {
        if (owl_varint_read(&q, end, &z) != OWL_OK || q >= end)
            return OWL_ECORRUPT;
        st.base = (uint64_t)owl_unzigzag(z);
        st.k = *q++;
        if (st.k > 8 || (st.k && st.m > (size_t)(end - q) / st.k))
            return OWL_ECORRUPT;
        st.planes = q;
        q += st.m * st.k;
    } else if (st.m > (size_t)(end - q)) {
        return OWL_ECORRUPT;
    }
    uint64_t x[BATCH];
    uint32_t *offs = d->offs + c->base;
    struct tcache tc = {.day = INT64_MIN};
    for (size_t i = 0; i < cnt;) {
        size_t b = cnt - i < BATCH ? cnt - i : BATCH, first = 0;
        if (delta && i == 0) {
            x[0] = prev;
            first = 1;
        }
        /* stream index of value i + first is i + first - delta */
        if (int_batch(&q, end, &st, i + first - (size_t)delta, b - first, x + first) != OWL_OK ||
            txt_room(d, b * 20, limit) != OWL_OK)
            return OWL_ECORRUPT;
        if (delta)
            for (size_t j = first; j < b; j++)
                x[j] = prev += x[j];
        if (c->kind & K_TIME)
            for (size_t j = 0; j < b; j++)
                x[j] += time_field(c->field, d->time[c->rows[i + j]], &tc);
        char *o = d->txt.data;
        size_t at = d->txt.len;
        /* one loop per format keeps the per-value work branch-free */
        if (d->need) { /* values of rows left out are not written (but still checked) */
            const uint8_t *nd = d->need + c->base + i;
            for (size_t j = 0; j < b; j++) {
                unsigned pad = fmt == FMT_FIXED ? c->width : fmt == FMT_MIXED ? pads[i + j] : 0;
                offs[i + j] = (uint32_t)at;
                if (pad && x[j] >= P10[pad])
                    return OWL_ECORRUPT;
                if (nd[j])
                    at += fmt_int(o + at, x[j], pad);
            }
        } else if (fmt == FMT_FIXED) {
            unsigned w = c->width;
            for (size_t j = 0; j < b; j++) {
                if (x[j] >= P10[w])
                    return OWL_ECORRUPT;
                put_digits(o + at, x[j], w);
                offs[i + j] = (uint32_t)at;
                at += w;
            }
        } else if (fmt == FMT_CANON) {
            for (size_t j = 0; j < b; j++) {
                offs[i + j] = (uint32_t)at;
                at += fmt_int(o + at, x[j], 0);
            }
        } else {
            for (size_t j = 0; j < b; j++) {
                size_t w = fmt_int(o + at, x[j], pads[i + j]);
                if (w == 0)
                    return OWL_ECORRUPT;
                offs[i + j] = (uint32_t)at;
                at += w;
            }
        }
        d->txt.len = at;
        i += b;
    }
    *qq = q;
    return OWL_OK;
}

static const char HEX2[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* HEX and UUID columns: cnt values of per bytes each, spelled in lowercase hex. */
static int dec_hex_col(struct dec *d, const struct dcol *c, const uint8_t **qq, const uint8_t *end,
                       size_t limit)
{
    int uuid = c->kind == K_STR_UUID;
    size_t cnt = c->count, per = uuid ? 16 : c->hexlen / 2, len = uuid ? 36 : c->hexlen;
    const uint8_t *q = *qq;
    uint32_t *offs = d->offs + c->base;
    if (cnt > (size_t)(end - q) / per || txt_room(d, cnt * len, limit) != OWL_OK)
        return OWL_ECORRUPT;
    char *o = d->txt.data + d->txt.len;
    if (d->need) { /* values of rows left out are not written */
        const uint8_t *nd = d->need + c->base;
        size_t at = d->txt.len;
        for (size_t i = 0; i < cnt; i++, q += per) {
            offs[i] = (uint32_t)at;
            if (!nd[i])
                continue;
            for (size_t j = 0; j < per; j++) {
                if (uuid && (j == 4 || j == 6 || j == 8 || j == 10))
                    *o++ = '-';
                memcpy(o, HEX2 + 2 * q[j], 2);
                o += 2;
            }
            at += len;
        }
        d->txt.len = at;
        *qq = q;
        return OWL_OK;
    }
    for (size_t i = 0; i < cnt; i++) {
        offs[i] = (uint32_t)(d->txt.len + i * len);
        for (size_t j = 0; j < per; j++) {
            if (uuid && (j == 4 || j == 6 || j == 8 || j == 10))
                *o++ = '-';
            memcpy(o, HEX2 + 2 * *q++, 2);
            o += 2;
        }
    }
    d->txt.len += cnt * len;
    *qq = q;
    return OWL_OK;
}

/* DICT columns: d entries, then a code per value (0 = the next entry, else 1 + an entry
 * already used); every entry must be used. */
static int dec_dict_col(struct dec *d, const struct dcol *c, const uint8_t **qq, const uint8_t *end,
                        size_t limit)
{
    const uint8_t *q = *qq;
    size_t cnt = c->count, sum = 0, made = 0, total = 0;
    uint64_t nd, l;
    uint32_t *ent = NULL, *offs = d->offs + c->base;
    int rc = OWL_ECORRUPT;
    if (owl_varint_read(&q, end, &nd) != OWL_OK || nd == 0 || nd > cnt || nd > (uint64_t)(end - q))
        return OWL_ECORRUPT;
    /* entry j: offset (into the payload) and length */
    ent = malloc(2 * (size_t)nd * sizeof *ent);
    if (!ent)
        return OWL_ENOMEM;
    for (size_t j = 0; j < nd; j++) {
        if (owl_varint_read(&q, end, &l) != OWL_OK || l == 0 || l > (uint64_t)(end - q))
            goto out;
        ent[2 * j + 1] = (uint32_t)l;
        ent[2 * j] = (uint32_t)sum;
        sum += (size_t)l;
        if (sum > (size_t)(end - q))
            goto out;
    }
    const uint8_t *strs = q;
    q += sum;
    if (q >= end)
        goto out;
    unsigned k = *q++;
    if (k > 4 || k == 0 || cnt > (size_t)(end - q) / k)
        goto out;
    const uint8_t *codes = q;
    q += k * cnt;
    /* first pass: check the codes and size the text; second: copy */
    for (size_t i = 0; i < cnt; i++) {
        uint32_t x = 0;
        for (unsigned b = 0; b < k; b++)
            x |= (uint32_t)codes[b * cnt + i] << 8 * b;
        if (x == 0) {
            if (made == nd)
                goto out;
            x = (uint32_t)++made;
        } else if (x > made) {
            goto out;
        }
        total += ent[2 * (x - 1) + 1];
        if (total > limit)
            goto out;
        offs[i] = x - 1; /* the entry, for now */
    }
    if (made != nd || txt_room(d, total, limit) != OWL_OK)
        goto out;
    char *o = d->txt.data + d->txt.len;
    for (size_t i = 0; i < cnt; i++) {
        uint32_t j = offs[i];
        offs[i] = (uint32_t)d->txt.len;
        memcpy(o, strs + ent[2 * j], ent[2 * j + 1]);
        o += ent[2 * j + 1];
        d->txt.len += ent[2 * j + 1];
    }
    *qq = q;
    rc = OWL_OK;
out:
    free(ent);
    return rc;
}

static int dec_str_col(struct dec *d, const struct dcol *c, const uint8_t **qq, const uint8_t *end,
                       size_t limit)
{
    const uint8_t *q = *qq;
    if (c->kind == K_STR_HEX || c->kind == K_STR_UUID)
        return dec_hex_col(d, c, qq, end, limit);
    if (c->kind == K_STR_DICT)
        return dec_dict_col(d, c, qq, end, limit);
    size_t cnt = c->count, sum = 0, at = d->txt.len;
    uint32_t *offs = d->offs + c->base;
    uint64_t l;
    if (c->kind == K_STR_SAME) {
        if (owl_varint_read(&q, end, &l) != OWL_OK || l == 0 || l > (uint64_t)(end - q) ||
            cnt > (size_t)(end - q) / (size_t)l)
            return OWL_ECORRUPT;
        for (size_t i = 0; i < cnt; i++)
            offs[i] = (uint32_t)(at + i * (size_t)l);
        sum = cnt * (size_t)l;
    } else {
        if (cnt > (size_t)(end - q))
            return OWL_ECORRUPT;
        for (size_t i = 0; i < cnt; i++) {
            if (owl_varint_read(&q, end, &l) != OWL_OK || l == 0 || l > (uint64_t)(end - q))
                return OWL_ECORRUPT;
            offs[i] = (uint32_t)(at + sum);
            sum += (size_t)l;
            if (sum > (size_t)(end - q))
                return OWL_ECORRUPT;
        }
    }
    if (txt_room(d, sum, limit) != OWL_OK)
        return OWL_ECORRUPT;
    memcpy(d->txt.data + d->txt.len, q, sum);
    d->txt.len += sum;
    *qq = q + sum;
    return OWL_OK;
}

/* Decodes every column's values into d->txt / d->offs; the payloads must fill [q, end). */
static int dec_columns(struct dec *d, const uint8_t *q, const uint8_t *end, size_t lit_total)
{
    size_t limit = OWL_LOGTPL_MAX_OUT - lit_total;
    d->offs = malloc((d->refs + 1) * sizeof *d->offs);
    if (!d->offs || owl_buf_reserve(&d->txt, SLACK) != OWL_OK)
        return OWL_ENOMEM;
    for (size_t c = 0; c < d->ncol; c++) {
        const struct dcol *dc = &d->cols[c];
        int rc = dc->kind < 0x80 ? dec_int_col(d, dc, &q, end, limit)
                                 : dec_str_col(d, dc, &q, end, limit);
        if (rc != OWL_OK)
            return rc;
    }
    if (q != end)
        return OWL_ECORRUPT;
    d->offs[d->refs] = (uint32_t)d->txt.len;
    memset(d->txt.data + d->txt.len, 0, SLACK);
    return OWL_OK;
}

/* copies n bytes in 16-byte steps: both sides must have 15 spare bytes */
static inline void copy16(char *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 16)
        memcpy(o + i, s + i, 16);
}

/* copies n bytes from s to o > s within one buffer, s + n <= o, in 16-byte steps: each step
 * loads before it stores, so bytes a step overwrites past s + n were never needed */
static inline void copy16_back(char *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        char t[16];
        memcpy(t, s + i, 16);
        memcpy(o + i, t, 16);
    }
}

/* The assembler's output: the arena, where it writes, and how far it may write before growing
 * (a reference adds bytes that are only known while assembling). */
struct sink {
    owl_buf *arena;
    char *o, *start, *lim;
    owl_strref *out;
};

/* Makes room for n more bytes (+ SLACK), moving the rows done so far (out[0..r)) along. */
static int sink_grow(struct sink *k, size_t n, size_t r)
{
    owl_buf *a = k->arena;
    uintptr_t old = (uintptr_t)a->data;
    size_t at = (size_t)(k->o - a->data), row = (size_t)(k->start - a->data);
    if (n > OWL_LOGTPL_MAX_OUT || at > OWL_LOGTPL_MAX_OUT - n)
        return OWL_ECORRUPT;
    a->len = at;
    if (owl_buf_reserve(a, n + SLACK + at / 2) != OWL_OK)
        return OWL_ENOMEM;
    for (size_t i = 0; i < r; i++)
        k->out[i].p = a->data + ((uintptr_t)k->out[i].p - old);
    k->o = a->data + at;
    k->start = a->data + row;
    k->lim = a->data + a->cap - 1 - SLACK;
    return OWL_OK;
}

static int assemble(struct dec *d, size_t lit_total, owl_strref *out, owl_buf *arena)
{
    struct sink k = {.arena = arena, .out = out};
    uint32_t vs[256], vl[256]; /* the current row's first values: offset in the row, length */
    const char *txt = d->txt.data;
    const uint32_t *offs = d->offs;
    uint32_t *cur = d->cur;
    const uint32_t *vidx = d->vidx;
    int rc;
    owl_buf_reset(arena);
    if (owl_buf_reserve(arena, lit_total + d->txt.len + SLACK) != OWL_OK)
        return OWL_ENOMEM;
    k.o = arena->data;
    k.lim = arena->data + arena->cap - 1 - SLACK;
    for (size_t r = 0; r < d->n; r++) {
        const struct op *op = d->ops + d->topen[d->tid[r]];
        size_t nv = 0;
        k.start = k.o;
        if (d->tmay && !d->tmay[d->tid[r]]) { /* left out (its values are not in vidx) */
            out[r].p = k.o;
            out[r].n = 0;
            continue;
        }
        for (;; op++) {
            if ((size_t)(k.lim - k.o) < op->len && (rc = sink_grow(&k, op->len, r)) != OWL_OK)
                return rc;
            copy16(k.o, d->lit + op->lit, op->len);
            k.o += op->len;
            if (op->col == NO_COL)
                break;
            if (op->col < REF_OP) {
                uint32_t j = vidx ? *vidx++ : cur[op->col]++;
                uint32_t a = offs[j], b = offs[j + 1];
                if ((size_t)(k.lim - k.o) < b - a && (rc = sink_grow(&k, b - a, r)) != OWL_OK)
                    return rc;
                if (nv < 256) {
                    vs[nv] = (uint32_t)(k.o - k.start);
                    vl[nv] = b - a;
                }
                nv++;
                copy16(k.o, txt + a, b - a);
                k.o += b - a;
            } else {
                /* the template check guarantees value j precedes this op in the row */
                uint32_t j = op->col - REF_OP;
                if ((size_t)(k.lim - k.o) < vl[j] && (rc = sink_grow(&k, vl[j], r)) != OWL_OK)
                    return rc;
                copy16_back(k.o, k.start + vs[j], vl[j]);
                k.o += vl[j];
            }
        }
        if ((size_t)(k.o - k.start) > UINT32_MAX)
            return OWL_ECORRUPT;
        out[r].p = k.start;
        out[r].n = (uint32_t)(k.o - k.start);
    }
    arena->len = (size_t)(k.o - arena->data);
    arena->data[arena->len] = '\0';
    return OWL_OK;
}

/* What a judge (owl_dec_logtpl_sel) sees of one template. */
struct owl_logtpl_tpl {
    struct dec *d;
    uint32_t t;
    int strs;              /* it has a slot of a PLAIN, SAME or DICT column */
    const uint8_t *pay;    /* the column payloads, where those strings are kept as bytes */
    size_t npay;
};

/* Whether word w (n bytes) is in the string values' bytes: looked up once per chunk. */
static int in_strings(const owl_logtpl_tpl *v, const uint8_t *w, size_t n)
{
    struct dec *d = v->d;
    for (size_t i = 0; i < d->nseen; i++)
        if (d->seen[i].w == w && d->seen[i].n == n)
            return d->seen[i].in;
    int in = memmem(v->pay, v->npay, w, n) != NULL;
    if (d->nseen < sizeof d->seen / sizeof d->seen[0])
        d->seen[d->nseen++] = (struct seen){w, n, in};
    return in;
}

int owl_logtpl_tpl_may_contain(const owl_logtpl_tpl *v, const void *text, size_t n)
{
    const struct dec *d = v->d;
    const uint8_t *t = text;
    /* as owl_logtpl_may_contain: such a word is in one literal run of the template (a slot
     * holds whole words) or in a string value. The template's literal runs lie back to back
     * in d->lit: one search over them all (a hit across a slot's place only makes a "may"). */
    const struct op *a = &d->ops[d->topen[v->t]], *z = &d->ops[d->topen[v->t + 1] - 1];
    size_t i = 0, w;
    while (next_kept(t, n, &i, &w))
        if (!memmem(d->lit + a->lit, z->lit + z->len - a->lit, t + w, i - w) &&
            !(v->strs && in_strings(v, t + w, i - w)))
            return 0;
    return 1;
}

/* Asks fn about every template; where it says no, marks the rows (keep[r] = 0, counted in
 * *left_out) and which values they alone would have needed (d->need). */
static int judge(struct dec *d, const uint8_t *pay, size_t npay, owl_logtpl_tpl_fn fn, void *ud,
                 uint8_t *keep, size_t *left_out)
{
    size_t no = 0;
    d->tmay = malloc(d->ntpl + 1);
    if (!d->tmay)
        return OWL_ENOMEM;
    for (uint32_t t = 0; t < d->ntpl; t++) {
        owl_logtpl_tpl v = {.d = d, .t = t, .pay = pay, .npay = npay};
        for (uint32_t o = d->topen[t]; o < d->topen[t + 1] && !v.strs; o++) {
            uint32_t c = d->ops[o].col;
            v.strs = c < REF_OP && (d->cols[c].kind == K_STR_PLAIN ||
                                    d->cols[c].kind == K_STR_SAME || d->cols[c].kind == K_STR_DICT);
        }
        d->tmay[t] = fn(ud, &v) != 0;
        no += !d->tmay[t];
    }
    if (!no) {
        free(d->tmay);
        d->tmay = NULL;
        return OWL_OK;
    }
    /* each template's slot columns in order, then one walk over the rows: value j of a
     * column goes to the j-th row (in order) whose template has a slot of it */
    d->need = malloc(d->refs + 1);
    d->vidx = malloc((d->refs + 1) * sizeof *d->vidx);
    uint32_t *at = malloc((d->ncol + 1) * sizeof *at), *tstart = NULL, *tcols = NULL;
    int rc = OWL_ENOMEM;
    if (!d->need || !d->vidx || !at || tpl_columns(d, 0, &tstart, &tcols) != OWL_OK)
        goto out;
    memcpy(at, d->cur, d->ncol * sizeof *at);
    size_t nv = 0, rows = 0;
    for (size_t r = 0; r < d->n; r++) {
        uint32_t t = d->tid[r];
        const uint32_t *c = tcols + tstart[t], *e = tcols + tstart[t + 1];
        if (d->tmay[t]) {
            for (; c < e; c++) {
                uint32_t j = at[*c]++;
                d->need[j] = 1;
                d->vidx[nv++] = j;
            }
            continue;
        }
        keep[r] = 0;
        rows++;
        for (; c < e; c++)
            d->need[at[*c]++] = 0;
    }
    *left_out = rows;
    rc = OWL_OK;
out:
    free(at);
    free(tstart);
    free(tcols);
    return rc;
}

static int decode(const uint8_t *p, size_t len, size_t n, const int64_t *time_ms,
                  owl_logtpl_tpl_fn fn, void *ud, uint8_t *keep, size_t *left_out,
                  owl_strref *out, owl_buf *arena)
{
    struct dec d = {.n = n, .time = time_ms};
    const uint8_t *q = p + 1, *end = p + len;
    size_t lit_total = 0;
    int rc;
    if (left_out)
        *left_out = 0;
    /* offsets are 32-bit: no valid chunk comes near 4 GiB (the part writer caps it at 1 GiB) */
    if (len < 1 || p[0] != OWL_ENC_LOGTPL || n > OWL_LOGTPL_MAX_OUT || len > UINT32_MAX)
        return OWL_ECORRUPT;
    if ((rc = dec_templates(&d, &q, end)) == OWL_OK && (rc = dec_col_headers(&d, &q, end)) == OWL_OK &&
        (rc = dec_slot_map(&d, &q, end)) == OWL_OK && (rc = dec_rows(&d, &q, end, &lit_total)) == OWL_OK &&
        (rc = dec_time_rows(&d)) == OWL_OK &&
        (!fn || (rc = judge(&d, q, (size_t)(end - q), fn, ud, keep, left_out)) == OWL_OK) &&
        (rc = dec_columns(&d, q, end, lit_total)) == OWL_OK)
        rc = assemble(&d, lit_total, out, arena);
    dec_free(&d);
    return rc;
}

int owl_dec_logtpl(const uint8_t *p, size_t len, size_t n, owl_strref *out, owl_buf *arena)
{
    return decode(p, len, n, NULL, NULL, NULL, NULL, NULL, out, arena);
}

int owl_dec_logtpl_time(const uint8_t *p, size_t len, size_t n, const int64_t *time_ms,
                        owl_strref *out, owl_buf *arena)
{
    return decode(p, len, n, time_ms, NULL, NULL, NULL, NULL, out, arena);
}

int owl_dec_logtpl_sel(const uint8_t *p, size_t len, size_t n, const int64_t *time_ms,
                       owl_logtpl_tpl_fn fn, void *ud, uint8_t *keep, size_t *left_out,
                       owl_strref *out, owl_buf *arena)
{
    return decode(p, len, n, time_ms, fn, ud, keep, left_out, out, arena);
}

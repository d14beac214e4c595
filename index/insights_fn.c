/* insights_fn.c — CloudWatch Logs Insights values and scalar functions: how values read as
 * numbers and print as text, the comparison and sort orders, time periods, and the function
 * table the parser checks calls against. Choices where AWS is silent: docs/insights.md.
 *
 * Invariant: a function never fails on its input (a value of the wrong kind gives null);
 * the only error is OWL_ENOMEM from the scratch allocator. */
#include "index/insights.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ins_fn ins_fns[] = {
    {"strlen", 1, 1, A_ANY, A_ANY},      {"tolower", 1, 1, A_ANY, A_ANY},
    {"toupper", 1, 1, A_ANY, A_ANY},     {"concat", 1, -1, A_ANY, A_ANY},
    {"substr", 2, 3, A_ANY, A_ANY},      {"replace", 3, 3, A_ANY, A_ANY},
    {"trim", 1, 2, A_ANY, A_ANY},        {"ltrim", 1, 2, A_ANY, A_ANY},
    {"rtrim", 1, 2, A_ANY, A_ANY},       {"strcontains", 2, 2, A_ANY, A_ANY},
    {"ispresent", 1, 1, A_FIELD, A_ANY}, {"coalesce", 1, -1, A_ANY, A_ANY},
    {"isempty", 1, 1, A_ANY, A_ANY},     {"isblank", 1, 1, A_ANY, A_ANY},
    {"abs", 1, 1, A_ANY, A_ANY},         {"floor", 1, 1, A_ANY, A_ANY},
    {"ceil", 1, 1, A_ANY, A_ANY},        {"greatest", 1, -1, A_ANY, A_ANY},
    {"least", 1, -1, A_ANY, A_ANY},      {"log", 1, 1, A_ANY, A_ANY},
    {"sqrt", 1, 1, A_ANY, A_ANY},        {"datefloor", 2, 2, A_ANY, A_PERIOD},
    {"dateceil", 2, 2, A_ANY, A_PERIOD}, {"bin", 1, 1, A_PERIOD, A_ANY},
    {"frommillis", 1, 1, A_ANY, A_ANY},  {"tomillis", 1, 1, A_ANY, A_ANY},
    {"isvalidip", 1, 1, A_ANY, A_ANY},   {"isvalidipv4", 1, 1, A_ANY, A_ANY},
    {"isvalidipv6", 1, 1, A_ANY, A_ANY}, {"isipv4insubnet", 2, 2, A_ANY, A_ANY},
    {"isipv6insubnet", 2, 2, A_ANY, A_ANY},
};
const size_t ins_nfns = sizeof ins_fns / sizeof ins_fns[0];

enum { F_STRLEN, F_TOLOWER, F_TOUPPER, F_CONCAT, F_SUBSTR, F_REPLACE, F_TRIM, F_LTRIM, F_RTRIM,
       F_STRCONTAINS, F_ISPRESENT, F_COALESCE, F_ISEMPTY, F_ISBLANK, F_ABS, F_FLOOR, F_CEIL,
       F_GREATEST, F_LEAST, F_LOG, F_SQRT, F_DATEFLOOR, F_DATECEIL, F_BIN, F_FROMMILLIS,
       F_TOMILLIS, F_ISVALIDIP, F_ISVALIDIPV4, F_ISVALIDIPV6, F_ISIPV4INSUBNET,
       F_ISIPV6INSUBNET };

/* ---------- values ---------- */

int ins_num_text(const char *s, size_t n, double *out)
{
    size_t i = 0;
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    size_t d0 = i, digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0 || i == d0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0)
            return 0;
    }
    if (i != n)
        return 0;
    if (out) {
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        *out = strtod(tmp, NULL);
    }
    return 1;
}

int ins_val_numeric(const ins_val *v, double *out)
{
    switch (v->t) {
    case VT_NUM:
    case VT_BOOL:
        *out = v->num;
        return 1;
    case VT_TIME:
        *out = (double)v->ms;
        return 1;
    case VT_STR:
        return ins_num_text(v->s, v->n, out);
    default:
        return 0;
    }
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void ins_fmt_time(int64_t ms, char out[24])
{
    int64_t days = floordiv(ms, 86400000), y;
    unsigned rem = (unsigned)(ms - days * 86400000), m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(out, 24, "%lld", (long long)ms);
        return;
    }
    unsigned v[7] = {(unsigned)y, m, d, rem / 3600000, rem / 60000 % 60, rem / 1000 % 60,
                     rem % 1000};
    static const char sep[] = "x-- ::.";
    static const int width[] = {4, 2, 2, 2, 2, 2, 3};
    size_t k = 0;
    for (int f = 0; f < 7; f++) {
        if (f > 0)
            out[k++] = sep[f];
        for (int w = width[f]; w-- > 0;)
            out[k + (size_t)w] = (char)('0' + v[f] % 10), v[f] /= 10;
        k += (size_t)width[f];
    }
    out[k] = '\0';
}

/* Monday 1970-01-05: periods of whole weeks start on Mondays */
#define WEEK_ORIGIN 345600000LL

int64_t ins_period_floor(int64_t ms, double num, int unit)
{
    if (unit == U_FIXED) {
        int64_t p = (int64_t)num;
        int64_t origin = p % 604800000LL == 0 ? WEEK_ORIGIN : 0;
        return floordiv(ms - origin, p) * p + origin;
    }
    int64_t months = (int64_t)num * (unit == U_MONTH ? 1 : unit == U_QUARTER ? 3 : 12), y;
    unsigned m, d;
    civil_from_days(floordiv(ms, 86400000), &y, &m, &d);
    int64_t idx = floordiv(y * 12 + (m - 1), months) * months;
    return days_from_civil(floordiv(idx, 12), (unsigned)(idx - floordiv(idx, 12) * 12) + 1, 1) *
           86400000;
}

int64_t ins_period_next(int64_t start, double num, int unit)
{
    if (unit == U_FIXED)
        return start + (int64_t)num;
    int64_t months = (int64_t)num * (unit == U_MONTH ? 1 : unit == U_QUARTER ? 3 : 12), y;
    unsigned m, d;
    civil_from_days(floordiv(start, 86400000), &y, &m, &d);
    int64_t idx = y * 12 + (m - 1) + months;
    return days_from_civil(floordiv(idx, 12), (unsigned)(idx - floordiv(idx, 12) * 12) + 1, 1) *
           86400000;
}

static size_t fmt_num(double v, char *buf)
{
    if (v == 0)
        return (size_t)snprintf(buf, 40, "0");
    if (v == floor(v) && fabs(v) < 1e15)
        return (size_t)snprintf(buf, 40, "%.0f", v);
    for (int p = 1; p <= 17; p++) {
        int l = snprintf(buf, 40, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return (size_t)l;
    }
    return (size_t)snprintf(buf, 40, "%.17g", v);
}

const char *ins_val_text(const ins_val *v, char *buf, size_t *n)
{
    switch (v->t) {
    case VT_STR:
        *n = v->n;
        return v->s;
    case VT_NUM:
        if (v->s) {
            *n = v->n;
            return v->s;
        }
        *n = fmt_num(v->num, buf);
        return buf;
    case VT_TIME:
        ins_fmt_time(v->ms, buf);
        *n = strlen(buf);
        return buf;
    case VT_BOOL:
        *n = v->num ? 4 : 5;
        return v->num ? "true" : "false";
    default:
        *n = 0;
        return "";
    }
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

int ins_cmp_values(const ins_val *a, const ins_val *b)
{
    double x, y;
    if (ins_val_numeric(a, &x) && ins_val_numeric(b, &y))
        return x < y ? -1 : x > y;
    char ba[40], bb[40];
    size_t an, bn;
    const char *sa = ins_val_text(a, ba, &an), *sb = ins_val_text(b, bb, &bn);
    return bytes_cmp(sa, an, sb, bn);
}

static int is_dig(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* CloudWatch's natural order of two texts: runs of digits against runs of digits by length,
 * then value; anything else by bytes (UTF-8 bytes sort as their code points). */
static int natural_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        int da = is_dig((unsigned char)a[i]), db = is_dig((unsigned char)b[j]);
        size_t ie = i, je = j;
        while (ie < an && is_dig((unsigned char)a[ie]) == da)
            ie++;
        while (je < bn && is_dig((unsigned char)b[je]) == db)
            je++;
        int c;
        if (da && db) {
            c = ie - i != je - j ? (ie - i < je - j ? -1 : 1)
                                 : bytes_cmp(a + i, ie - i, b + j, je - j);
        } else if (da != db) {
            c = (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
        } else {
            c = bytes_cmp(a + i, ie - i, b + j, je - j);
        }
        if (c)
            return c;
        i = ie;
        j = je;
    }
    return i < an ? 1 : j < bn ? -1 : 0;
}

int ins_sort_cmp(const ins_val *a, const ins_val *b)
{
    double x, y;
    int na = ins_val_numeric(a, &x), nb = ins_val_numeric(b, &y);
    if (na != nb)
        return na ? 1 : -1;
    if (na && x != y)
        return x < y ? -1 : 1;
    char ba[40], bb[40];
    size_t an, bn;
    const char *sa = ins_val_text(a, ba, &an), *sb = ins_val_text(b, bb, &bn);
    return na ? bytes_cmp(sa, an, sb, bn) : natural_cmp(sa, an, sb, bn); /* "01" before "1" */
}

/* ---------- functions ---------- */

static void set_null(ins_val *o)
{
    memset(o, 0, sizeof *o);
}

static void set_num(ins_val *o, double v)
{
    memset(o, 0, sizeof *o);
    if (isfinite(v)) {
        o->t = VT_NUM;
        o->num = v;
    }
}

static void set_bool(ins_val *o, int b)
{
    memset(o, 0, sizeof *o);
    o->t = VT_BOOL;
    o->num = b != 0;
}

static void set_time(ins_val *o, double ms)
{
    memset(o, 0, sizeof *o);
    if (isfinite(ms) && fabs(ms) < 9e15) {
        o->t = VT_TIME;
        o->ms = (int64_t)floor(ms);
    }
}

/* A value's text copied when it lives in buf (numbers, times), so results outlive buf. */
static int text_of(const ins_val *v, ins_scratch *sc, const char **s, size_t *n)
{
    char buf[40];
    const char *t = ins_val_text(v, buf, n);
    if (t != buf) {
        *s = t;
        return OWL_OK;
    }
    char *c = owl_arena_copy(&sc->a, buf, *n);
    if (!c && *n)
        return OWL_ENOMEM;
    *s = c;
    return OWL_OK;
}

static int set_str(ins_val *o, ins_scratch *sc, size_t n, char **p)
{
    memset(o, 0, sizeof *o);
    *p = owl_arena_alloc(&sc->a, n + 1);
    if (!*p)
        return OWL_ENOMEM;
    o->t = VT_STR;
    o->s = *p;
    o->n = (uint32_t)n;
    return OWL_OK;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int trim_fn(int fn, const ins_val *av, size_t n, ins_scratch *sc, ins_val *o)
{
    const char *s, *set = NULL;
    size_t sn, setn = 0;
    int rc = text_of(&av[0], sc, &s, &sn);
    if (rc == OWL_OK && n > 1)
        rc = text_of(&av[1], sc, &set, &setn);
    if (rc != OWL_OK)
        return rc;
    size_t b = 0, e = sn;
#define TRIMMED(c) (set ? memchr(set, (c), setn) != NULL : is_space((unsigned char)(c)))
    if (fn != F_RTRIM)
        while (b < e && TRIMMED(s[b]))
            b++;
    if (fn != F_LTRIM)
        while (e > b && TRIMMED(s[e - 1]))
            e--;
#undef TRIMMED
    memset(o, 0, sizeof *o);
    o->t = VT_STR;
    o->s = s + b;
    o->n = (uint32_t)(e - b);
    return OWL_OK;
}

/* The byte offset of code point cp in s[0..n) (n when past the end). */
static size_t cp_offset(const char *s, size_t n, size_t cp)
{
    size_t i = 0;
    while (i < n && cp > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        cp--;
    }
    return i;
}

static int substr_fn(const ins_val *av, size_t n, ins_scratch *sc, ins_val *o)
{
    const char *s;
    size_t sn;
    double st, len = -1;
    if (!ins_val_numeric(&av[1], &st) || (n > 2 && !ins_val_numeric(&av[2], &len))) {
        set_null(o);
        return OWL_OK;
    }
    int rc = text_of(&av[0], sc, &s, &sn);
    if (rc != OWL_OK)
        return rc;
    st = st < 0 ? 0 : floor(st);
    size_t b = st >= (double)sn ? sn : cp_offset(s, sn, (size_t)st), e = sn;
    if (n > 2) {
        len = len < 0 ? 0 : floor(len);
        e = len >= (double)sn ? sn : b + cp_offset(s + b, sn - b, (size_t)len);
    }
    memset(o, 0, sizeof *o);
    o->t = VT_STR;
    o->s = s + b;
    o->n = (uint32_t)(e - b);
    return OWL_OK;
}

static int replace_fn(const ins_val *av, ins_scratch *sc, ins_val *o)
{
    const char *s, *f, *r;
    size_t sn, fn_, rn;
    int rc;
    if ((rc = text_of(&av[0], sc, &s, &sn)) != OWL_OK ||
        (rc = text_of(&av[1], sc, &f, &fn_)) != OWL_OK ||
        (rc = text_of(&av[2], sc, &r, &rn)) != OWL_OK)
        return rc;
    size_t hits = 0;
    for (size_t i = 0; fn_ && i + fn_ <= sn;)
        if (memcmp(s + i, f, fn_) == 0) {
            hits++;
            i += fn_;
        } else {
            i++;
        }
    if (hits == 0) {
        memset(o, 0, sizeof *o);
        o->t = VT_STR;
        o->s = s;
        o->n = (uint32_t)sn;
        return OWL_OK;
    }
    size_t outn = sn - hits * fn_ + hits * rn, k = 0;
    char *p;
    if (outn > UINT32_MAX)
        return OWL_ENOMEM;
    if ((rc = set_str(o, sc, outn, &p)) != OWL_OK)
        return rc;
    for (size_t i = 0; i < sn;)
        if (i + fn_ <= sn && memcmp(s + i, f, fn_) == 0) {
            memcpy(p + k, r, rn);
            k += rn;
            i += fn_;
        } else {
            p[k++] = s[i++];
        }
    return OWL_OK;
}

static int concat_fn(const ins_val *av, size_t n, ins_scratch *sc, ins_val *o)
{
    const char *parts[64];
    size_t lens[64], total = 0;
    if (n > 64)
        n = 64;
    for (size_t k = 0; k < n; k++) {
        lens[k] = 0;
        parts[k] = "";
        if (av[k].t != VT_NULL) {
            int rc = text_of(&av[k], sc, &parts[k], &lens[k]);
            if (rc != OWL_OK)
                return rc;
        }
        total += lens[k];
    }
    char *p;
    if (total > UINT32_MAX)
        return OWL_ENOMEM;
    int rc = set_str(o, sc, total, &p);
    if (rc != OWL_OK)
        return rc;
    for (size_t k = 0, at = 0; k < n; at += lens[k], k++)
        if (lens[k])
            memcpy(p + at, parts[k], lens[k]);
    return OWL_OK;
}

static int case_fn(int upper, const ins_val *av, ins_scratch *sc, ins_val *o)
{
    const char *s;
    size_t sn;
    char *p;
    int rc = text_of(&av[0], sc, &s, &sn);
    if (rc != OWL_OK || (rc = set_str(o, sc, sn, &p)) != OWL_OK)
        return rc;
    for (size_t k = 0; k < sn; k++) {
        char c = s[k];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        p[k] = c;
    }
    return OWL_OK;
}

/* An address of family af (AF_INET / AF_INET6) in v; 1 when it reads as one. */
static int ip_parse(const ins_val *v, int af, unsigned char *out)
{
    char buf[64];
    if (v->t != VT_STR || v->n == 0 || v->n >= sizeof buf)
        return 0;
    memcpy(buf, v->s, v->n);
    buf[v->n] = '\0';
    return inet_pton(af, buf, out) == 1;
}

static int in_subnet(const ins_val *ip, const ins_val *net, int af)
{
    unsigned char a[16], b[16];
    size_t len = af == AF_INET ? 4 : 16;
    char buf[64];
    if (!ip_parse(ip, af, a) || net->t != VT_STR || net->n >= sizeof buf)
        return 0;
    memcpy(buf, net->s, net->n);
    buf[net->n] = '\0';
    char *slash = strchr(buf, '/');
    long bits = (long)len * 8;
    if (slash) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0 || bits > (long)len * 8)
            return 0;
    }
    if (inet_pton(af, buf, b) != 1)
        return 0;
    for (size_t k = 0; k < len && bits > 0; k++, bits -= 8) {
        unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
        if ((a[k] & mask) != (b[k] & mask))
            return 0;
    }
    return 1;
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t k = 0; k < n; k++)
        c += ((unsigned char)s[k] & 0xC0) != 0x80;
    return c;
}

static int math_fn(int fn, const ins_val *av, size_t n, ins_val *o)
{
    double x, best = 0;
    int found = 0;
    if (fn == F_GREATEST || fn == F_LEAST) {
        for (size_t k = 0; k < n; k++)
            if (ins_val_numeric(&av[k], &x) &&
                (!found || (fn == F_GREATEST ? x > best : x < best))) {
                best = x;
                found = 1;
            }
        if (found)
            set_num(o, best);
        else
            set_null(o);
        return OWL_OK;
    }
    if (!ins_val_numeric(&av[0], &x)) {
        set_null(o);
        return OWL_OK;
    }
    switch (fn) {
    case F_ABS:
        set_num(o, fabs(x));
        break;
    case F_FLOOR:
        set_num(o, floor(x));
        break;
    case F_CEIL:
        set_num(o, ceil(x));
        break;
    case F_LOG:
        set_num(o, x > 0 ? log(x) : NAN);
        break;
    default:
        set_num(o, x >= 0 ? sqrt(x) : NAN);
        break;
    }
    return OWL_OK;
}

int ins_call(const owl_ins_query *q, const ins_node *call, const ins_val *av, size_t n,
             ins_scratch *sc, ins_val *o)
{
    int fn = call->fn;
    double x;
    switch (fn) {
    case F_ISPRESENT:
        set_bool(o, av[0].t != VT_NULL);
        return OWL_OK;
    case F_ISEMPTY:
    case F_ISBLANK: {
        int blank = av[0].t == VT_NULL || (av[0].t == VT_STR && av[0].n == 0);
        if (fn == F_ISBLANK && av[0].t == VT_STR) {
            blank = 1;
            for (size_t k = 0; k < av[0].n; k++)
                blank &= is_space((unsigned char)av[0].s[k]);
        }
        set_bool(o, blank);
        return OWL_OK;
    }
    case F_COALESCE:
        for (size_t k = 0; k < n; k++)
            if (av[k].t != VT_NULL) {
                *o = av[k];
                return OWL_OK;
            }
        set_null(o);
        return OWL_OK;
    case F_CONCAT:
        return concat_fn(av, n, sc, o);
    case F_GREATEST:
    case F_LEAST:
        return math_fn(fn, av, n, o);
    default:
        break;
    }
    for (size_t k = 0; k < n; k++)
        if (av[k].t == VT_NULL) {
            set_null(o);
            return OWL_OK;
        }
    switch (fn) {
    case F_STRLEN: {
        const char *s;
        size_t sn;
        int rc = text_of(&av[0], sc, &s, &sn);
        if (rc == OWL_OK)
            set_num(o, (double)utf8_len(s, sn));
        return rc;
    }
    case F_TOLOWER:
    case F_TOUPPER:
        return case_fn(fn == F_TOUPPER, av, sc, o);
    case F_SUBSTR:
        return substr_fn(av, n, sc, o);
    case F_REPLACE:
        return replace_fn(av, sc, o);
    case F_TRIM:
    case F_LTRIM:
    case F_RTRIM:
        return trim_fn(fn, av, n, sc, o);
    case F_STRCONTAINS: {
        const char *s, *t;
        size_t sn, tn;
        int rc = text_of(&av[0], sc, &s, &sn);
        if (rc == OWL_OK && (rc = text_of(&av[1], sc, &t, &tn)) == OWL_OK)
            set_num(o, tn == 0 || (sn >= tn && memmem(s, sn, t, tn) != NULL));
        return rc;
    }
    case F_ABS:
    case F_FLOOR:
    case F_CEIL:
    case F_LOG:
    case F_SQRT:
        return math_fn(fn, av, n, o);
    case F_DATEFLOOR:
    case F_DATECEIL: {
        const ins_node *p = &q->nodes[q->args[call->arg0 + 1]];
        if (!ins_val_numeric(&av[0], &x) || !isfinite(x) || fabs(x) > 9e15) {
            set_null(o);
            return OWL_OK;
        }
        int64_t ms = (int64_t)floor(x), f = ins_period_floor(ms, p->num, p->unit);
        set_time(o, (double)(fn == F_DATECEIL && f != ms ? ins_period_next(f, p->num, p->unit)
                                                         : f));
        return OWL_OK;
    }
    case F_FROMMILLIS:
        if (ins_val_numeric(&av[0], &x))
            set_time(o, x);
        else
            set_null(o);
        return OWL_OK;
    case F_TOMILLIS:
        if (ins_val_numeric(&av[0], &x))
            set_num(o, floor(x));
        else
            set_null(o);
        return OWL_OK;
    case F_ISVALIDIP:
    case F_ISVALIDIPV4:
    case F_ISVALIDIPV6: {
        unsigned char a[16];
        int v4 = fn != F_ISVALIDIPV6 && ip_parse(&av[0], AF_INET, a);
        int v6 = fn != F_ISVALIDIPV4 && ip_parse(&av[0], AF_INET6, a);
        set_bool(o, v4 || v6);
        return OWL_OK;
    }
    case F_ISIPV4INSUBNET:
    case F_ISIPV6INSUBNET:
        set_bool(o, in_subnet(&av[0], &av[1], fn == F_ISIPV4INSUBNET ? AF_INET : AF_INET6));
        return OWL_OK;
    default:
        set_null(o);
        return OWL_OK;
    }
}

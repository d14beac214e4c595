/* logtime.c — a table of line-start timestamp parsers, tried in order; the first match wins.
 * Each parser reads only within the n bytes given and checks every field's range. */
#include "common/logtime.h"

#include <string.h>

#include "common/clock.h"

struct cursor {
    const char *s;
    size_t n, i;
};

static int num(struct cursor *c, int width, int *out)
{
    int v = 0;
    if (c->i + (size_t)width > c->n)
        return 0;
    for (int k = 0; k < width; k++) {
        char ch = c->s[c->i + (size_t)k];
        if (ch < '0' || ch > '9')
            return 0;
        v = v * 10 + (ch - '0');
    }
    c->i += (size_t)width;
    *out = v;
    return 1;
}

/* One or two digits (syslog days "Jul  1", Thunderbird "Nov 9"). */
static int num12(struct cursor *c, int *out)
{
    if (c->i < c->n && c->s[c->i] == ' ')
        c->i++;
    if (!num(c, 1, out))
        return 0;
    int d;
    size_t save = c->i;
    if (num(c, 1, &d))
        *out = *out * 10 + d;
    else
        c->i = save;
    return 1;
}

static int lit(struct cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return 1;
    }
    return 0;
}

static int month_name(struct cursor *c, int *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (c->i + 3 > c->n)
        return 0;
    for (int k = 0; k < 12; k++)
        if (memcmp(c->s + c->i, names + 3 * k, 3) == 0) {
            *m = k + 1;
            c->i += 3;
            return 1;
        }
    return 0;
}

/* Fraction of a second after '.', ',' or ':'; returns milliseconds. */
static int frac_ms(struct cursor *c, char sep)
{
    if (!lit(c, sep))
        return 0;
    int ms = 0, scale = 100;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        ms += (c->s[c->i] - '0') * scale;
        scale /= 10;
        c->i++;
    }
    return ms;
}

static int make(int y, int mo, int d, int h, int mi, int s, int ms, int64_t *out)
{
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return 0;
    *out = (owl_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s) *
               1000 + ms;
    return 1;
}

static int year_of(int64_t now_ms)
{
    int64_t day = now_ms >= 0 ? now_ms / 86400000 : -((-now_ms + 86399999) / 86400000), y;
    unsigned m, d;
    owl_civil_from_days(day, &y, &m, &d);
    return (int)y;
}

/* 2015-10-18 18:01:47,978 / 2016-09-28T04:30:30.5Z */
static int p_iso(struct cursor *c, int64_t now, int64_t *out)
{
    int y, mo, d, h, mi, s;
    (void)now;
    if (!(num(c, 4, &y) && lit(c, '-') && num(c, 2, &mo) && lit(c, '-') && num(c, 2, &d) &&
          (lit(c, ' ') || lit(c, 'T')) && num(c, 2, &h) && lit(c, ':') && num(c, 2, &mi) &&
          lit(c, ':') && num(c, 2, &s)))
        return 0;
    int ms = (c->i < c->n && c->s[c->i] == '.') ? frac_ms(c, '.') : frac_ms(c, ',');
    if (!make(y, mo, d, h, mi, s, ms, out))
        return 0;
    /* a zone right after the time: Z, or +HH:MM / +HHMM / +HH (and -): local = UTC + offset */
    if (lit(c, 'Z'))
        return 1;
    if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) {
        size_t save = c->i;
        int sign = c->s[c->i++] == '-' ? -1 : 1, oh, om = 0;
        if (num(c, 2, &oh) && oh <= 23) {
            size_t at = c->i;
            if (!((lit(c, ':') && num(c, 2, &om)) || (c->i = at, num(c, 2, &om))))
                c->i = at, om = 0;
            if (om <= 59) {
                *out -= sign * ((int64_t)oh * 3600 + om * 60) * 1000;
                return 1;
            }
        }
        c->i = save; /* not a zone (a "-" after the time, say): the time as UTC */
    }
    return 1;
}

/* 081109 203615 (HDFS) */
static int p_yymmdd(struct cursor *c, int64_t now, int64_t *out)
{
    int y, mo, d, h, mi, s;
    (void)now;
    if (!(num(c, 2, &y) && num(c, 2, &mo) && num(c, 2, &d) && lit(c, ' ') && num(c, 2, &h) &&
          num(c, 2, &mi) && num(c, 2, &s) && (c->i == c->n || c->s[c->i] == ' ')))
        return 0;
    return make(2000 + y, mo, d, h, mi, s, 0, out);
}

/* 17/06/09 20:10:40 (Spark) */
static int p_slash(struct cursor *c, int64_t now, int64_t *out)
{
    int y, mo, d, h, mi, s;
    (void)now;
    if (!(num(c, 2, &y) && lit(c, '/') && num(c, 2, &mo) && lit(c, '/') && num(c, 2, &d) &&
          lit(c, ' ') && num(c, 2, &h) && lit(c, ':') && num(c, 2, &mi) && lit(c, ':') &&
          num(c, 2, &s)))
        return 0;
    return make(2000 + y, mo, d, h, mi, s, 0, out);
}

/* Jun 14 15:16:01 / Jul  1 09:00:55 (syslog, no year) */
static int p_syslog(struct cursor *c, int64_t now, int64_t *out)
{
    int mo, d, h, mi, s;
    if (!(month_name(c, &mo) && lit(c, ' ') && num12(c, &d) && lit(c, ' ') && num(c, 2, &h) &&
          lit(c, ':') && num(c, 2, &mi) && lit(c, ':') && num(c, 2, &s)))
        return 0;
    return make(year_of(now), mo, d, h, mi, s, 0, out);
}

/* Sun Dec 04 04:47:44 2005 (Apache, after '[') */
static int p_ctime(struct cursor *c, int64_t now, int64_t *out)
{
    int mo, d, h, mi, s, y;
    (void)now;
    if (c->i + 4 > c->n || c->s[c->i + 3] != ' ')
        return 0;
    c->i += 4; /* day name */
    if (!(month_name(c, &mo) && lit(c, ' ') && num12(c, &d) && lit(c, ' ') && num(c, 2, &h) &&
          lit(c, ':') && num(c, 2, &mi) && lit(c, ':') && num(c, 2, &s) && lit(c, ' ') &&
          num(c, 4, &y)))
        return 0;
    return make(y, mo, d, h, mi, s, 0, out);
}

/* 03-17 16:13:38.811 (Android logcat, no year) */
static int p_logcat(struct cursor *c, int64_t now, int64_t *out)
{
    int mo, d, h, mi, s;
    if (!(num(c, 2, &mo) && lit(c, '-') && num(c, 2, &d) && lit(c, ' ') && num(c, 2, &h) &&
          lit(c, ':') && num(c, 2, &mi) && lit(c, ':') && num(c, 2, &s)))
        return 0;
    return make(year_of(now), mo, d, h, mi, s, frac_ms(c, '.'), out);
}

/* 20171223-22:15:29:606 (HealthApp) */
static int p_compact(struct cursor *c, int64_t now, int64_t *out)
{
    int y, mo, d, h, mi, s;
    (void)now;
    if (!(num(c, 4, &y) && num(c, 2, &mo) && num(c, 2, &d) && lit(c, '-') && num(c, 2, &h) &&
          lit(c, ':') && num(c, 2, &mi) && lit(c, ':') && num(c, 2, &s)))
        return 0;
    return make(y, mo, d, h, mi, s, frac_ms(c, ':'), out);
}

/* 10.30 16:49:06 (Proxifier, after '[', no year) */
static int p_dotted(struct cursor *c, int64_t now, int64_t *out)
{
    int mo, d, h, mi, s;
    if (!(num(c, 2, &mo) && lit(c, '.') && num(c, 2, &d) && lit(c, ' ') && num(c, 2, &h) &&
          lit(c, ':') && num(c, 2, &mi) && lit(c, ':') && num(c, 2, &s)))
        return 0;
    return make(year_of(now), mo, d, h, mi, s, 0, out);
}

/* 1117838570 (epoch seconds, 10 digits, as in BGL and Thunderbird after "- ") */
static int p_epoch(struct cursor *c, int64_t now, int64_t *out)
{
    int hi, lo;
    (void)now;
    if (!(num(c, 5, &hi) && num(c, 5, &lo)) || (c->i < c->n && c->s[c->i] != ' '))
        return 0;
    *out = ((int64_t)hi * 100000 + lo) * 1000;
    return 1;
}

static const struct {
    const char *name;
    int (*parse)(struct cursor *c, int64_t now, int64_t *out);
} formats[] = {
    {"iso8601", p_iso},     {"yymmdd", p_yymmdd}, {"yy/mm/dd", p_slash},
    {"syslog", p_syslog},   {"ctime", p_ctime},   {"logcat", p_logcat},
    {"yyyymmdd-hms", p_compact}, {"mm.dd", p_dotted}, {"epoch", p_epoch},
};

int owl_logtime_parse(const char *line, size_t n, int64_t now_ms, int64_t *ms)
{
    size_t start = 0;
    if (n >= 1 && line[0] == '[')
        start = 1;
    else if (n >= 2 && line[0] == '-' && line[1] == ' ')
        start = 2;
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        struct cursor c = {line, n, start};
        int64_t v;
        if (formats[k].parse(&c, now_ms, &v)) {
            *ms = v;
            return (int)k;
        }
    }
    return -1;
}

const char *owl_logtime_format_name(int i)
{
    if (i < 0 || (size_t)i >= sizeof formats / sizeof formats[0])
        return NULL;
    return formats[i].name;
}

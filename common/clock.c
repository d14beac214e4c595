/* clock.c — clock reads and RFC 3339 / AWS basic-format conversions (UTC, no locale). */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"

int64_t owl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t owl_now_ms(void)
{
    return owl_now_ns() / 1000000;
}

int64_t owl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Howard Hinnant's civil-from-days algorithm, rewritten for int64. */
int64_t owl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void owl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
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

size_t owl_time_format_rfc3339(int64_t ms, char *out, size_t outsz)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t frac = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    owl_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, outsz, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
    return n < 0 ? 0 : (size_t)n;
}

static int digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
    int v = 0;
    if (at + cnt > n)
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int parse_epoch_ms(const char *s, size_t n, int64_t *ms)
{
    size_t i = 0;
    int neg = 0;
    int64_t v = 0;
    if (n && s[0] == '-')
        neg = 1, i = 1;
    if (i == n || n - i > 18)
        return OWL_EINVAL;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return OWL_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *ms = neg ? -v : v;
    return OWL_OK;
}

int owl_time_parse(const char *s, size_t n, int64_t *ms)
{
    int Y, M, D, h, mi, sec;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return parse_epoch_ms(s, n, ms);
    if (digits(s, n, 0, 4, &Y) || digits(s, n, 5, 2, &M) || digits(s, n, 8, 2, &D) ||
        digits(s, n, 11, 2, &h) || digits(s, n, 14, 2, &mi) || digits(s, n, 17, 2, &sec))
        return OWL_EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return OWL_EINVAL;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < n && s[i] == '.') {
        int scale = 100, any = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, any = 1) {
            frac_ms += (s[i] - '0') * scale;
            scale /= 10;
        }
        if (!any)
            return OWL_EINVAL;
    }
    int64_t offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return OWL_EINVAL;
        offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return OWL_EINVAL;
    }
    if (i != n)
        return OWL_EINVAL;
    int64_t days = owl_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *ms = secs * 1000 + frac_ms;
    return OWL_OK;
}

int owl_time_parse_amz(const char *s, size_t n, int64_t *secs)
{
    int Y, M, D, h, mi, sec;
    if (n != 16 || s[8] != 'T' || s[15] != 'Z')
        return OWL_EINVAL;
    if (digits(s, n, 0, 4, &Y) || digits(s, n, 4, 2, &M) || digits(s, n, 6, 2, &D) ||
        digits(s, n, 9, 2, &h) || digits(s, n, 11, 2, &mi) || digits(s, n, 13, 2, &sec))
        return OWL_EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return OWL_EINVAL;
    *secs = owl_days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec;
    return OWL_OK;
}

/*
 * timefmt.c - formatting and strict parsing of the times in kumod's API
 * (contract in timefmt.h). Parsing never trusts the input's length or digits.
 */
#include "cloud/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *time_format(int64_t ms, char buf[TIME_STRLEN])
{
    if (ms < 0) ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* (the modulos only tell the compiler how wide each field can be) */
    snprintf(buf, TIME_STRLEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000));
    return buf;
}

/* Exactly n decimal digits at *p; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's
 * days_from_civil. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Fraction ".ddd..." (1 to 9 digits) as milliseconds (truncated). */
static bool fraction(const char **p, int *ms)
{
    *ms = 0;
    if (**p != '.') return true;
    (*p)++;
    int n = 0, v = 0;
    while (**p >= '0' && **p <= '9') {
        if (n < 3) v = v * 10 + (**p - '0');
        n++;
        (*p)++;
    }
    if (n == 0 || n > 9) return false;
    for (int i = n; i < 3; i++)
        v *= 10;
    *ms = v;
    return true;
}

static bool parse_epoch(const char *s, int64_t *out)
{
    const char *p = s;
    int64_t secs = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
        if (n++ >= 11) return false; /* up to year 5138 */
        secs = secs * 10 + (*p++ - '0');
    }
    if (n == 0) return false;
    int ms;
    if (!fraction(&p, &ms) || *p) return false;
    if (secs > 253402300799LL) return false; /* 9999-12-31T23:59:59Z */
    *out = secs * 1000 + ms;
    return true;
}

bool time_parse(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    if (!strchr(s, '-')) return parse_epoch(s, out);
    const char *p = s;
    int y, mo, d, h, mi, sec, ms;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ') return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return false;
    if (!fraction(&p, &ms)) return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1) return false;
    if (d > mdays[mo - 1] + (mo == 2 && leap(y))) return false;
    if (h > 23 || mi > 59 || sec > 60) return false; /* 60: leap second, read as :59 + 1 */
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om)) return false;
        if (oh > 23 || om > 59) return false;
        offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (*p) return false;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= (int64_t)offset_min * 60;
    if (t < 0) return false;
    *out = t * 1000 + ms;
    return true;
}

/*
 * date.c - dates as feeds write them, and as we write them (see date.h).
 *
 * RFC 3339 / ISO 8601 / W3CDTF are read by a small strict parser below
 * (date only, minutes without seconds, fractions, "Z", "+hh:mm", "+hhmm",
 * "+hh", a space instead of "T"); everything else is handed to libcurl's
 * curl_getdate(), which knows RFC 822 / RFC 1123 / RFC 850 / asctime and
 * their common broken variants.
 */
#include "date.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Read exactly n digits at *p into *v; advance *p.  Returns 0 or -1. */
static int read_digits(const char **p, int n, int *v)
{
    int x = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so that no time_t or TZ setting is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* RFC 3339 and its relatives.  Returns 0 and sets *out, or -1 when s is not
 * in that family (the caller then tries curl_getdate). */
static int parse_iso(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    int64_t t;

    if (read_digits(&p, 4, &y) < 0)
        return -1;
    if (*p == '-') {
        p++;
        if (read_digits(&p, 2, &mo) < 0)
            return -1;
        if (*p == '-') {
            p++;
            if (read_digits(&p, 2, &d) < 0)
                return -1;
        }
    } else if (isdigit((unsigned char)*p)) {
        /* basic format: YYYYMMDD */
        if (read_digits(&p, 2, &mo) < 0 || read_digits(&p, 2, &d) < 0)
            return -1;
    } else if (*p != '\0') {
        return -1;
    }
    if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        if (read_digits(&p, 2, &h) < 0)
            return -1;
        if (*p == ':')
            p++;
        if (read_digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec) < 0)
                return -1;
        } else if (isdigit((unsigned char)*p)) {
            if (read_digits(&p, 2, &sec) < 0)
                return -1;
        }
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++; /* fractions are dropped: we keep whole seconds */
        }
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '-' ? -1 : 1;
            p++;
            if (read_digits(&p, 2, &oh) < 0)
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && read_digits(&p, 2, &om) < 0)
                return -1;
        } else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
            p += 3;
        }
    }
    if (*p != '\0')
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 24 ||
        mi > 59 || sec > 60 || oh > 23 || om > 59 || (h == 24 && (mi != 0 || sec != 0)))
        return -1;
    if (sec == 60)
        sec = 59; /* a leap second: the nearest representable instant */
    t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec;
    t -= (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
    *out = t;
    return 0;
}

int date_parse(const char *s, int64_t *out)
{
    char buf[128];
    size_t len;
    time_t t;

    if (s == NULL)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (parse_iso(buf, out) == 0)
        return 0;
    /* curl_getdate wants a weekday or a month name somewhere: a bare
     * number such as "12" would otherwise be read as a time of day */
    {
        int alpha = 0;
        for (size_t i = 0; i < len; i++)
            if (isalpha((unsigned char)buf[i]))
                alpha = 1;
        if (!alpha)
            return -1;
    }
    t = curl_getdate(buf, NULL);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t;
    return 0;
}

char *date_format(int64_t t, char *buf)
{
    int64_t days = t / 86400, secs = t % 86400;
    int64_t z, era, doe, yoe, y, doy, mp, d, m;

    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* civil_from_days, the inverse of days_from_civil */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999) {
        /* out of RFC 3339's range: clamp rather than print garbage */
        snprintf(buf, DATE_RFC3339_SIZE, "%s", y < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
        return buf;
    }
    snprintf(buf, DATE_RFC3339_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return buf;
}

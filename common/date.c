/*
 * date.c - dates as feeds write them, and as we write them (see date.h).
 *
 * RFC 3339 / ISO 8601 / W3CDTF are read by a small strict parser below
 * (date only, minutes without seconds, fractions, "Z", "+hh:mm", "+hhmm",
 * "+hh", a space instead of "T"); everything else is handed to libcurl's
 * curl_getdate(), which knows RFC 822 / RFC 1123 / RFC 850 / asctime and
 * their common broken variants; what it refuses is retried once with full
 * month names, "+01:00" offsets and the zone names it lacks rewritten.
 */
#include "date.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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

/* The RFC 822 form nearly every RSS feed writes, read without curl (whose
 * general parser, sscanf included, cost a tenth of parsing a whole feed):
 * "[Ddd, ]D[D] Mon YYYY HH:MM[:SS] (GMT|UT|UTC|Z|+hhmm|-hhmm)", the names
 * in any case.  Returns 0 and sets *out; -2 when the form is right but the
 * date does not exist ("30 Feb"); -1 for anything else (curl then has its
 * go, so this only has to be right, not complete). */
static int parse_822_common(const char *s, int64_t *out)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    const char *p = s;
    int d, y, h, mi, sec = 0, mo = 0, sign = 1, oh = 0, om = 0;
    char mon[4];

    if (isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) &&
        isalpha((unsigned char)p[2]) && p[3] == ',') {
        p += 4; /* the weekday is not checked: curl does not either */
        while (*p == ' ')
            p++;
    }
    if (!isdigit((unsigned char)p[0]) || /* before looking at p[1] */
        read_digits(&p, isdigit((unsigned char)p[1]) ? 2 : 1, &d) < 0 || *p++ != ' ')
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!isalpha((unsigned char)p[i]))
            return -1;
        mon[i] = (char)tolower((unsigned char)p[i]);
    }
    mon[3] = '\0';
    for (int m = 0; m < 12; m++)
        if (memcmp(months + 3 * m, mon, 3) == 0)
            mo = m + 1;
    p += 3;
    if (mo == 0 || *p++ != ' ' || read_digits(&p, 4, &y) < 0 || *p++ != ' ' ||
        read_digits(&p, 2, &h) < 0 || *p++ != ':' || read_digits(&p, 2, &mi) < 0)
        return -1;
    if (*p == ':' && (p++, read_digits(&p, 2, &sec) < 0))
        return -1;
    if (*p++ != ' ')
        return -1;
    if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (read_digits(&p, 2, &oh) < 0 || read_digits(&p, 2, &om) < 0)
            return -1;
    } else if (strcasecmp(p, "GMT") == 0 || strcasecmp(p, "UTC") == 0) {
        p += 3;
    } else if (strcasecmp(p, "UT") == 0) {
        p += 2;
    } else if (strcasecmp(p, "Z") == 0) {
        p += 1;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (y < 1 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return -2; /* the form, but no such date: curl would roll 30 Feb over to March */
    if (sec == 60)
        sec = 59;
    *out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec -
           (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
    return 0;
}

/* Time-zone names feeds use that curl_getdate() does not know (it knows
 * GMT, UT(C), the US zones, the European ones: WET/CET/EET and their summer
 * forms, BST, JST and a few more).  Ambiguous names (IST: India, Ireland,
 * Israel) are read the way news feeds most often mean them. */
static const struct {
    const char *name;
    const char *offset;
} extra_zones[] = {
    {"AEST", "+1000"}, {"AEDT", "+1100"}, {"ACST", "+0930"}, {"ACDT", "+1030"},
    {"AWST", "+0800"}, {"NZST", "+1200"}, {"NZDT", "+1300"}, {"IST", "+0530"},
    {"MSK", "+0300"},  {"SGT", "+0800"},  {"HKT", "+0800"},  {"KST", "+0900"},
    {"PHT", "+0800"},  {"WIB", "+0700"},  {"ICT", "+0700"},  {"PKT", "+0500"},
    {"SAST", "+0200"}, {"EAT", "+0300"},  {"CAT", "+0200"},  {"WAT", "+0100"},
    {"BRT", "-0300"},  {"ART", "-0300"},  {"AKST", "-0900"}, {"AKDT", "-0800"},
    {"HST", "-1000"},  {"NST", "-0330"},  {"NDT", "-0230"},  {"ADT", "-0300"},
    {"AST", "-0400"},  {"CEST", "+0200"}, {"EEST", "+0300"}, {"WEST", "+0100"},
};

static const char *const month_names[12] = {"january", "february", "march",     "april",
                                            "may",     "june",     "july",      "august",
                                            "september", "october", "november", "december"};

/* Rewrite the broken RFC 822 forms curl_getdate() refuses into ones it
 * reads, in place (the text only shrinks or keeps its length, except for
 * zone names, written into a buffer of size bytes): full or 4-letter month
 * names ("February", "Sept") become "Feb", "Sep"; a "+01:00" offset
 * becomes "+0100"; the zone names above become offsets. */
static void normalise_822(char *buf, size_t size)
{
    char out[128];
    size_t w = 0, i = 0, len = strlen(buf);

    while (i < len && w < sizeof(out) - 8) {
        size_t j = i;

        if (!isalnum((unsigned char)buf[i]) && buf[i] != '+' && buf[i] != '-') {
            out[w++] = buf[i++];
            continue;
        }
        while (j < len && (isalnum((unsigned char)buf[j]) || buf[j] == ':' ||
                           ((buf[j] == '+' || buf[j] == '-') && j == i)))
            j++;
        if (j == i)
            j = i + 1;
        {
            size_t n = j - i;
            const char *rep = NULL;
            char tmp[8];

            if (n >= 4 && isalpha((unsigned char)buf[i])) {
                for (int m = 0; m < 12 && rep == NULL; m++)
                    if (n <= strlen(month_names[m]) &&
                        strncasecmp(buf + i, month_names[m], n) == 0) {
                        memcpy(tmp, month_names[m], 3);
                        tmp[3] = '\0';
                        rep = tmp;
                    }
                for (size_t z = 0; z < sizeof(extra_zones) / sizeof(extra_zones[0]) && !rep; z++)
                    if (strlen(extra_zones[z].name) == n &&
                        strncasecmp(buf + i, extra_zones[z].name, n) == 0)
                        rep = extra_zones[z].offset;
            } else if (n == 3 && isalpha((unsigned char)buf[i])) {
                for (size_t z = 0; z < sizeof(extra_zones) / sizeof(extra_zones[0]) && !rep; z++)
                    if (strlen(extra_zones[z].name) == 3 &&
                        strncasecmp(buf + i, extra_zones[z].name, 3) == 0)
                        rep = extra_zones[z].offset;
            } else if (n == 6 && (buf[i] == '+' || buf[i] == '-') &&
                       isdigit((unsigned char)buf[i + 1]) && isdigit((unsigned char)buf[i + 2]) &&
                       buf[i + 3] == ':' && isdigit((unsigned char)buf[i + 4]) &&
                       isdigit((unsigned char)buf[i + 5])) {
                tmp[0] = buf[i];
                memcpy(tmp + 1, buf + i + 1, 2);
                memcpy(tmp + 3, buf + i + 4, 2);
                tmp[5] = '\0';
                rep = tmp;
            }
            if (rep != NULL) {
                size_t rn = strlen(rep);

                memcpy(out + w, rep, rn);
                w += rn;
            } else {
                size_t k = n < sizeof(out) - 8 - w ? n : sizeof(out) - 8 - w;

                memcpy(out + w, buf + i, k);
                w += k;
            }
        }
        i = j;
    }
    out[w] = '\0';
    if (w < size)
        memcpy(buf, out, w + 1);
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
    switch (parse_822_common(buf, out)) {
    case 0:
        return 0;
    case -2:
        return -1;
    default:
        break;
    }
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
    if (t == (time_t)-1) {
        normalise_822(buf, sizeof(buf));
        t = curl_getdate(buf, NULL);
    }
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
    if (y < 1 || y > 9999) {
        /* out of the range date_parse reads back (years 1 to 9999): clamp
         * rather than print garbage, so that what is written reads back */
        snprintf(buf, DATE_RFC3339_SIZE, "%s", y < 1 ? "0001-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
        return buf;
    }
    snprintf(buf, DATE_RFC3339_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return buf;
}

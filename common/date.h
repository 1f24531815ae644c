/*
 * date.h - dates as feeds write them, and as we write them.
 *
 * Input: RFC 822 / RFC 1123 and their common broken variants (through
 * libcurl's curl_getdate, plus full month names, "+01:00" offsets and zone
 * names it lacks such as AEST, IST, MSK), RFC 3339 / ISO 8601 / W3CDTF
 * (with or without seconds, fractions, "Z" or numeric offsets).  Output:
 * RFC 3339 in UTC.
 */
#ifndef NEWSALERT_DATE_H
#define NEWSALERT_DATE_H

#include <stdint.h>

#define DATE_RFC3339_SIZE 32 /* enough for "YYYY-MM-DDTHH:MM:SSZ" and NUL */

/* Parse a date in any supported form.  Returns 0 and sets *out to seconds
 * since the epoch (UTC), or -1 when the text is not a date. */
int date_parse(const char *s, int64_t *out);

/* Format t as "2004-01-02T03:04:05Z" into buf (DATE_RFC3339_SIZE bytes).
 * A time before year 1 or after 9999 is written as the first or last
 * second of that range, so that date_parse always reads the text back.
 * Returns buf. */
char *date_format(int64_t t, char *buf);

#endif

/*
 * render.h - what the notifier's remote sinks send: webhook bodies for the
 * chat services, the HMAC signature, and e-mail messages.
 *
 * Everything here is a pure function of an alert body (untrusted JSON from
 * the wire) and the sink's configuration, so it is unit-tested without a
 * network.  Alert text is cleaned before it goes anywhere: invalid UTF-8
 * becomes U+FFFD, control characters (C0, DEL, C1, bidi overrides) are
 * removed and whitespace is folded, so a feed title can never inject a
 * header line, a terminal escape or a mention.
 */
#ifndef NEWSALERT_RENDER_H
#define NEWSALERT_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

#define RENDER_MAX_HEADERS 4
#define RENDER_DISCORD_MAX 2000 /* characters in a Discord message */

/* The fields of an alert, cleaned (see above); a missing field is "". */
struct render_alert {
    int64_t seq;
    char *rule_id;
    char *rule_name;  /* the rule id when the alert has no name */
    char *title;      /* "(no title)" when missing */
    char *link;       /* only http:// and https:// links, else "" */
    char *feed_title; /* or the feed URL */
    char *published;
    char *text;       /* matched.snippet when present, else item.summary */
};

/* Read an alert body.  Returns 0 and fills *out (clear it with
 * render_alert_clear), or -1 when the body is not a JSON object with an
 * integer seq (or memory ran out). */
int render_parse(const char *body, size_t len, struct render_alert *out);

void render_alert_clear(struct render_alert *a);

/* A webhook request body and the headers that go with it. */
struct render_http {
    char *body;
    size_t len;
    const char *content_type;
    char *headers[RENDER_MAX_HEADERS]; /* "Name: value" (ntfy: Title, Click, Tags) */
    size_t nheaders;
};

/* Build the request for template t: json sends `body` as it came; slack
 * {"text"}, discord {"content", "allowed_mentions" none}, matrix an
 * m.room.message m.text event with an HTML formatted_body, ntfy the text
 * as text/plain with Title/Click/Tags headers (RFC 2047 encoded when not
 * ASCII).  Returns 0, or -1 when out of memory (*out cleared). */
int render_webhook(enum sink_template t, const char *body, size_t len,
                   const struct render_alert *a, struct render_http *out);

void render_http_clear(struct render_http *h);

/* url with every "{seq}" replaced by seq.  Caller frees; NULL: ENOMEM. */
char *render_url(const char *url, int64_t seq);

/* Lower-case hex HMAC-SHA256 of data under key, into out (65 bytes).
 * Returns 0 or -1. */
int render_hmac_hex(const char *key, const void *data, size_t len, char out[65]);

/* The whole RFC 5322 message for an e-mail sink (CRLF line ends): Date
 * (from `now`), Message-ID <newsalert.SEQ@DOMAIN-OF-FROM> (the same for the
 * same alert, so a resent one can be recognised), From, To, Subject
 * "[newsalert] RULE: TITLE" (RFC 2047 when not ASCII), MIME-Version,
 * text/plain UTF-8 in quoted-printable; the body gives the title, link,
 * feed, date, snippet and rule.  Returns the message (caller frees, *len
 * set) or NULL when out of memory. */
char *render_email(const struct sink_conf *c, const struct render_alert *a, time_t now,
                   size_t *len);

#endif

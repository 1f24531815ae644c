/*
 * alert.c - the alert message body and its readable form (see alert.h).
 *
 * alert_build() turns a matched item into the JSON body the matcher
 * publishes; alert_render_text() turns such a body, received from the
 * network and so untrusted, back into a few readable lines for a terminal.
 * jansson stays inside this file.
 *
 * Text hygiene: every string put into a body is repaired to valid UTF-8
 * (bad bytes become U+FFFD) so a body can always be built; every string
 * rendered for a terminal is also stripped of control characters (C0, DEL,
 * C1 and the bidirectional overrides) so a hostile body cannot inject
 * terminal escape sequences, and its whitespace is folded to single spaces.
 */
#include "alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <utf8proc.h>

#include "date.h"
#include "strbuf.h"

#define ALERT_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define ALERT_ELLIPSIS_LEN 3
#define ALERT_RENDER_SUMMARY_CHARS 160
#define ALERT_INDENT "    "

static int alert_is_space(utf8proc_int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v';
}

/* Characters a terminal could act on: C0 controls, DEL, C1 controls and
 * the bidirectional embedding/override/isolate marks. */
static int alert_is_control(utf8proc_int32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Copy s[0..len) as valid UTF-8 (bad bytes become U+FFFD).  With `terminal`
 * also drop control characters, and with `fold` turn every run of
 * whitespace into one space and trim both ends.  Returns a string the
 * caller frees, or NULL when out of memory. */
static char *alert_clean(const char *s, size_t len, int terminal, int fold)
{
    struct strbuf b = {0};
    size_t i = 0;
    int pending_space = 0;

    strbuf_add(&b, "", 0);
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n;
        size_t run = i;

        /* fast path: a run of printable ASCII is copied as it is (every
         * rule below leaves such bytes alone), spaces included unless
         * folding, where a single space between two printable bytes is kept
         * (it is what folding would write) */
        while (run < len) {
            unsigned char c = (unsigned char)s[run];

            if (c > 0x20 && c < 0x7f)
                run++;
            else if (c == ' ' && (!fold || (run > i && run + 1 < len &&
                                            (unsigned char)s[run + 1] > 0x20 &&
                                            (unsigned char)s[run + 1] < 0x7f)))
                run++;
            else
                break;
        }
        if (run > i) {
            if (pending_space) {
                strbuf_add(&b, " ", 1);
                pending_space = 0;
            }
            strbuf_add(&b, s + i, run - i);
            i = run;
            continue;
        }
        if ((unsigned char)s[i] < 0x80) {
            /* other ASCII: no need to decode */
            unsigned char c = (unsigned char)s[i++];

            if (c == '\0')
                continue; /* NUL bytes are dropped, not replaced */
            if (fold && alert_is_space(c)) {
                pending_space = b.len > 0;
                continue;
            }
            if (terminal && alert_is_control(c))
                continue;
            if (pending_space) {
                strbuf_add(&b, " ", 1);
                pending_space = 0;
            }
            strbuf_add(&b, s + i - 1, 1);
            continue;
        }
        n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);

        if (n <= 0 || cp == 0) {
            n = n <= 0 ? 1 : n;
            cp = 0xfffd;
            if (s[i] == '\0') {
                i += (size_t)n;
                continue; /* NUL bytes are dropped, not replaced */
            }
        }
        if (fold && alert_is_space(cp)) {
            pending_space = b.len > 0;
            i += (size_t)n;
            continue;
        }
        if (terminal && alert_is_control(cp)) {
            i += (size_t)n;
            continue;
        }
        if (pending_space) {
            strbuf_add(&b, " ", 1);
            pending_space = 0;
        }
        if (cp == 0xfffd && (n == 1 || memcmp(s + i, "\xef\xbf\xbd", 3) != 0))
            strbuf_add(&b, "\xef\xbf\xbd", 3);
        else
            strbuf_add(&b, s + i, (size_t)n);
        i += (size_t)n;
    }
    return strbuf_take(&b);
}

/* Bytes in the UTF-8 sequence that starts with lead byte c (s is valid). */
static size_t alert_seqlen(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xf0)
        return 4;
    if (c >= 0xe0)
        return 3;
    return 2;
}

/* Cut valid UTF-8 text s so that it fits max_bytes bytes and max_chars
 * characters, ellipsis included: at a character boundary, preferably at the
 * last space in the final quarter, with "…" appended when anything was cut.
 * Returns a string the caller frees, or NULL when out of memory. */
static char *alert_cut(const char *s, size_t max_bytes, size_t max_chars)
{
    size_t len = strlen(s), i = 0, nchars = 0, cut, last_space = 0;
    char *out;

    while (i < len) {
        i += alert_seqlen((unsigned char)s[i]);
        nchars++;
    }
    if (len <= max_bytes && nchars <= max_chars)
        return strdup(s);
    i = 0;
    nchars = 0;
    while (i < len) {
        size_t n = alert_seqlen((unsigned char)s[i]);

        if (i + n > len || i + n + ALERT_ELLIPSIS_LEN > max_bytes || nchars + 2 > max_chars)
            break;
        if (s[i] == ' ')
            last_space = i;
        i += n;
        nchars++;
    }
    cut = i;
    if (!(cut < len && s[cut] == ' ') && last_space > 0 && last_space >= cut - cut / 4)
        cut = last_space;
    while (cut > 0 && s[cut - 1] == ' ')
        cut--;
    out = malloc(cut + ALERT_ELLIPSIS_LEN + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, s, cut);
    memcpy(out + cut, ALERT_ELLIPSIS, ALERT_ELLIPSIS_LEN + 1);
    return out;
}

/* obj[key] = a cleaned copy of value; a NULL value leaves the key out.
 * Returns 0 or -1 (out of memory). */
static int alert_set(json_t *obj, const char *key, const char *value)
{
    char *clean;
    json_t *str;

    if (value == NULL)
        return 0;
    clean = alert_clean(value, strlen(value), 0, 0);
    if (clean == NULL)
        return -1;
    str = json_string(clean);
    free(clean);
    return json_object_set_new(obj, key, str) == 0 ? 0 : -1;
}

static int alert_set_summary(json_t *obj, const struct item *it)
{
    const char *src = it->summary;
    char *clean, *cut;
    int rc;

    if (src == NULL || src[0] == '\0')
        src = it->content;
    if (src == NULL)
        return 0;
    clean = alert_clean(src, strlen(src), 0, 1);
    if (clean == NULL)
        return -1;
    cut = alert_cut(clean, ALERT_SUMMARY_MAX, (size_t)-1);
    free(clean);
    if (cut == NULL)
        return -1;
    rc = alert_set(obj, "summary", cut);
    free(cut);
    return rc;
}

char *alert_build_matched(const char *rule_id, const char *rule_name, const char *const *tags,
                          size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                          const struct alert_matched *m)
{
    char date[DATE_RFC3339_SIZE];
    json_t *root = json_object(), *rule = json_object(), *jit = json_object();
    json_t *jm = NULL;
    char *out = NULL;
    int rc = 0;

    if (root == NULL || rule == NULL || jit == NULL)
        goto out;
    rc |= json_object_set_new(root, "v", json_integer(1));
    rc |= json_object_set_new(root, "seq", json_integer(seq));
    rc |= alert_set(root, "ts", date_format(ts, date));
    rc |= alert_set(rule, "id", rule_id);
    rc |= alert_set(rule, "name", rule_name);
    if (ntags > 0) {
        json_t *jt = json_array();

        rc |= json_object_set_new(rule, "tags", jt);
        for (size_t i = 0; jt != NULL && i < ntags; i++) {
            char *clean = alert_clean(tags[i], strlen(tags[i]), 0, 0);

            rc |= clean == NULL ? -1 : json_array_append_new(jt, json_string(clean));
            free(clean);
        }
    }
    rc |= alert_set(jit, "id", it->id);
    rc |= alert_set(jit, "title", it->title);
    rc |= alert_set(jit, "link", it->link);
    rc |= alert_set(jit, "feed", it->feed);
    rc |= alert_set(jit, "feed_title", it->feed_title);
    if (it->published != ITEM_TIME_UNKNOWN)
        rc |= alert_set(jit, "published", date_format(it->published, date));
    rc |= alert_set_summary(jit, it);
    rc |= json_object_set(root, "rule", rule);
    rc |= json_object_set(root, "item", jit);
    if (m != NULL) {
        json_t *terms = json_array();

        jm = json_object();
        if (jm == NULL || terms == NULL) {
            json_decref(terms);
            rc = -1;
            goto out;
        }
        rc |= json_object_set_new(jm, "terms", terms);
        for (size_t i = 0; i < m->nterms; i++) {
            json_t *t = json_object();

            rc |= json_array_append_new(terms, t);
            rc |= alert_set(t, "term", m->terms[i]);
            rc |= alert_set(t, "field", m->fields[i]);
        }
        rc |= alert_set(jm, "snippet", m->snippet != NULL ? m->snippet : "");
        rc |= json_object_set(root, "matched", jm);
    }
    if (rc == 0)
        out = json_dumps(root, JSON_COMPACT);
out:
    json_decref(jm);
    json_decref(rule);
    json_decref(jit);
    json_decref(root);
    return out;
}

char *alert_build(const char *rule_id, const char *rule_name, const struct item *it,
                  int64_t seq, int64_t ts)
{
    return alert_build_matched(rule_id, rule_name, NULL, 0, it, seq, ts, NULL);
}

static char *alert_get_clean(json_t *obj, const char *key, int *oom)
{
    json_t *v = json_object_get(obj, key);
    char *s;

    if (!json_is_string(v))
        return NULL;
    s = alert_clean(json_string_value(v), json_string_length(v), 1, 1);
    if (s == NULL)
        *oom = 1;
    else if (s[0] == '\0') {
        free(s);
        s = NULL;
    }
    return s;
}

/* "2026-11-25 17:40 UTC" for an RFC 3339 date, the cleaned text otherwise. */
static void alert_add_date(struct strbuf *b, const char *published)
{
    int64_t t;
    time_t tt;
    struct tm tm;
    char buf[64];

    tt = 0;
    if (date_parse(published, &t) == 0) {
        tt = (time_t)t;
        if ((int64_t)tt == t && gmtime_r(&tt, &tm) != NULL &&
            strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm) > 0) {
            strbuf_adds(b, buf);
            return;
        }
    }
    strbuf_adds(b, published);
}

char *alert_render_text(const char *body, size_t len)
{
    json_t *root, *rule, *jit;
    char *rid = NULL, *title = NULL, *feed = NULL, *published = NULL, *link = NULL,
         *summary = NULL, *cut = NULL, *out = NULL;
    struct strbuf b = {0};
    int oom = 0, nparts = 0;

    root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    rule = json_object_get(root, "rule");
    jit = json_object_get(root, "item");
    rid = alert_get_clean(rule, "id", &oom);
    title = alert_get_clean(jit, "title", &oom);
    feed = alert_get_clean(jit, "feed_title", &oom);
    if (feed == NULL)
        feed = alert_get_clean(jit, "feed", &oom);
    published = alert_get_clean(jit, "published", &oom);
    link = alert_get_clean(jit, "link", &oom);
    summary = alert_get_clean(jit, "summary", &oom);
    if (oom)
        goto out;

    strbuf_adds(&b, "[");
    strbuf_adds(&b, rid != NULL ? rid : "?");
    strbuf_adds(&b, "] ");
    strbuf_adds(&b, title != NULL ? title : "(no title)");
    if (feed != NULL || published != NULL || link != NULL) {
        strbuf_adds(&b, "\n" ALERT_INDENT);
        if (feed != NULL) {
            strbuf_adds(&b, feed);
            nparts++;
        }
        if (published != NULL) {
            strbuf_adds(&b, nparts++ ? " \xc2\xb7 " : "");
            alert_add_date(&b, published);
        }
        if (link != NULL) {
            strbuf_adds(&b, nparts++ ? " \xc2\xb7 " : "");
            strbuf_adds(&b, link);
        }
    }
    if (summary != NULL) {
        cut = alert_cut(summary, (size_t)-1, ALERT_RENDER_SUMMARY_CHARS);
        if (cut == NULL)
            b.oom = 1;
        else {
            strbuf_adds(&b, "\n" ALERT_INDENT);
            strbuf_adds(&b, cut);
        }
    }
    out = strbuf_take(&b);
out:
    strbuf_release(&b);
    free(rid);
    free(title);
    free(feed);
    free(published);
    free(link);
    free(summary);
    free(cut);
    json_decref(root);
    return out;
}

int alert_seq(const char *body, size_t len, int64_t *seq)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *v = json_object_get(root, "seq");
    int rc = -1;

    if (json_is_integer(v)) {
        *seq = (int64_t)json_integer_value(v);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/*
 * alert.c - the alert message body and its readable form (see alert.h).
 *
 * alert_build() turns a matched item into the JSON body the matcher
 * publishes, through jansson (the matcher builds one body per alert, so
 * this is on its hot path: the item's part is built once per item and
 * shared by its alerts, see "The builder" below);
 * alert_render_text() turns such a body, received from the network and so
 * untrusted, back into a few readable lines for a terminal.  jansson stays
 * inside this file.
 *
 * Text hygiene: every string put into a body is repaired to valid UTF-8
 * (bad bytes become U+FFFD) so a body can always be built; every string
 * rendered for a terminal is also stripped of control characters (C0, DEL,
 * C1 and the bidirectional overrides) so a hostile body cannot inject
 * terminal escape sequences, and its whitespace is folded to single spaces.
 */
#include "alert.h"

#include <stdint.h>
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

/*
 * The builder.  A body is a jansson object dumped compactly; the work is
 * kept on jansson's fast paths:
 *   - a string is put in with json_stringn_nocheck() once it is known to
 *     be valid UTF-8 without NUL: plain ASCII as it is (alert_clean() would
 *     not change it), anything else after alert_clean() has repaired it;
 *   - the keys are our constants: json_object_set_new_nocheck();
 *   - the "item" object is built once per item (struct alert_item) and put
 *     into each alert of that item by reference (json_object_set_nocheck()
 *     only counts one more reference), so its strings are cleaned, cut and
 *     copied once per item, not once per alert;
 *   - json_dumpb() writes into one buffer sized from the strings' lengths
 *     (json_dumps() grows a buffer by doubling and copies it at the end);
 *     a body with more escapes than the slack allows is dumped again into
 *     the exact size.
 */

struct alert_item {
    json_t *obj;  /* the body's "item" object */
    size_t bytes; /* its compact text, escapes aside */
};

/* Is s[0..len) plain ASCII?  (It has no NUL: it comes from a C string.) */
static int alert_is_ascii(const char *s, size_t len)
{
    size_t i = 0;

    for (; len - i >= 8; i += 8) {
        uint64_t w;

        memcpy(&w, s + i, 8);
        if ((w & UINT64_C(0x8080808080808080)) != 0)
            return 0;
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* A jansson string of value, repaired to valid UTF-8 (see alert_clean);
 * *bytes grows by its length.  NULL when out of memory. */
static json_t *alert_jstring(const char *value, size_t *bytes)
{
    size_t len = strlen(value);
    char *clean;
    json_t *str;

    if (alert_is_ascii(value, len)) {
        *bytes += len;
        return json_stringn_nocheck(value, len);
    }
    if ((clean = alert_clean(value, len, 0, 0)) == NULL)
        return NULL;
    len = strlen(clean);
    *bytes += len;
    str = json_stringn_nocheck(clean, len);
    free(clean);
    return str;
}

/* obj[key] = value repaired (key: one of our constants); a NULL value
 * leaves the key out.  Returns 0 or -1 (out of memory). */
static int alert_set(json_t *obj, const char *key, const char *value, size_t *bytes)
{
    if (value == NULL)
        return 0;
    *bytes += strlen(key) + 6; /* "key":"", */
    return json_object_set_new_nocheck(obj, key, alert_jstring(value, bytes)) == 0 ? 0 : -1;
}

/* obj[key] = an integer (key: one of our constants).  Returns 0 or -1. */
static int alert_set_int(json_t *obj, const char *key, int64_t v, size_t *bytes)
{
    *bytes += strlen(key) + 4 + 20;
    return json_object_set_new_nocheck(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : -1;
}

/* The summary: the item's summary (its content when it has none), repaired,
 * whitespace folded, cut to ALERT_SUMMARY_MAX bytes.  Returns 0 or -1. */
static int alert_set_summary(json_t *obj, const struct item *it, size_t *bytes)
{
    const char *src = it->summary;
    char *clean, *cut;
    size_t len;
    int rc;

    if (src == NULL || src[0] == '\0')
        src = it->content;
    if (src == NULL)
        return 0;
    if ((clean = alert_clean(src, strlen(src), 0, 1)) == NULL)
        return -1;
    len = strlen(clean);
    if (len <= ALERT_SUMMARY_MAX) {
        cut = clean;
    } else {
        cut = alert_cut(clean, ALERT_SUMMARY_MAX, (size_t)-1);
        free(clean);
        if (cut == NULL)
            return -1;
        len = strlen(cut);
    }
    /* alert_clean's output is valid UTF-8 without NUL, and so is a cut of
     * it at a character boundary */
    *bytes += len + sizeof("\"summary\":\"\",") - 1;
    rc = json_object_set_new_nocheck(obj, "summary", json_stringn_nocheck(cut, len));
    free(cut);
    return rc == 0 ? 0 : -1;
}

struct alert_item *alert_item_new(const struct item *it)
{
    char date[DATE_RFC3339_SIZE];
    struct alert_item *ai = calloc(1, sizeof(*ai));
    int rc = 0;

    if (ai == NULL)
        return NULL;
    ai->bytes = 2;
    if ((ai->obj = json_object()) == NULL)
        goto err;
    rc |= alert_set(ai->obj, "id", it->id, &ai->bytes);
    rc |= alert_set(ai->obj, "title", it->title, &ai->bytes);
    rc |= alert_set(ai->obj, "link", it->link, &ai->bytes);
    rc |= alert_set(ai->obj, "feed", it->feed, &ai->bytes);
    rc |= alert_set(ai->obj, "feed_title", it->feed_title, &ai->bytes);
    if (it->published != ITEM_TIME_UNKNOWN)
        rc |= alert_set(ai->obj, "published", date_format(it->published, date), &ai->bytes);
    rc |= alert_set_summary(ai->obj, it, &ai->bytes);
    if (rc != 0)
        goto err;
    return ai;
err:
    alert_item_free(&ai);
    return NULL;
}

void alert_item_free(struct alert_item **pai)
{
    if (pai == NULL || *pai == NULL)
        return;
    json_decref((*pai)->obj);
    free(*pai);
    *pai = NULL;
}

/* The compact text of root in one malloc'd buffer sized from `bytes` (the
 * text's length, escapes aside); its length in *len.  NULL when out of
 * memory. */
static char *alert_dump(const json_t *root, size_t bytes, size_t *len)
{
    size_t cap = bytes + bytes / 8 + 64, n;
    char *out = malloc(cap), *grown;

    if (out == NULL)
        return NULL;
    n = json_dumpb(root, out, cap - 1, JSON_COMPACT);
    if (n >= cap) { /* more escapes than the slack: again, exactly */
        cap = n + 1;
        if ((grown = realloc(out, cap)) == NULL) {
            free(out);
            return NULL;
        }
        out = grown;
        n = json_dumpb(root, out, cap - 1, JSON_COMPACT);
    }
    if (n == 0 || n >= cap) { /* out of memory while dumping */
        free(out);
        return NULL;
    }
    out[n] = '\0';
    if (len != NULL)
        *len = n;
    return out;
}

char *alert_build_with_item(const char *rule_id, const char *rule_name, const char *const *tags,
                            size_t ntags, const struct alert_item *ai, int64_t seq, int64_t ts,
                            const struct alert_matched *m, size_t *len)
{
    char date[DATE_RFC3339_SIZE];
    json_t *root = json_object(), *rule = json_object();
    size_t bytes = ai->bytes + sizeof("{\"rule\":{},\"item\":,}");
    char *out = NULL;
    int rc = 0;

    if (root == NULL || rule == NULL) {
        json_decref(rule);
        goto out;
    }
    rc |= alert_set_int(root, "v", 1, &bytes);
    rc |= alert_set_int(root, "seq", seq, &bytes);
    rc |= alert_set(root, "ts", date_format(ts, date), &bytes);
    rc |= json_object_set_new_nocheck(root, "rule", rule);
    rc |= alert_set(rule, "id", rule_id, &bytes);
    rc |= alert_set(rule, "name", rule_name, &bytes);
    if (ntags > 0) {
        json_t *jt = json_array();

        rc |= json_object_set_new_nocheck(rule, "tags", jt);
        bytes += sizeof("\"tags\":[],");
        for (size_t i = 0; rc == 0 && i < ntags; i++) {
            bytes += 3; /* "", */
            rc |= json_array_append_new(jt, alert_jstring(tags[i], &bytes));
        }
    }
    rc |= json_object_set_nocheck(root, "item", ai->obj);
    if (rc == 0 && m != NULL) {
        json_t *jm = json_object(), *terms = json_array();

        if (jm == NULL || terms == NULL) {
            json_decref(jm);
            json_decref(terms);
            goto out;
        }
        rc |= json_object_set_new_nocheck(root, "matched", jm);
        rc |= json_object_set_new_nocheck(jm, "terms", terms);
        bytes += sizeof("\"matched\":{\"terms\":[],},");
        for (size_t i = 0; rc == 0 && i < m->nterms; i++) {
            json_t *t = json_object();

            bytes += 3; /* {}, */
            rc |= json_array_append_new(terms, t);
            rc |= t == NULL ? -1 : alert_set(t, "term", m->terms[i], &bytes);
            rc |= t == NULL ? -1 : alert_set(t, "field", m->fields[i], &bytes);
        }
        if (rc == 0)
            rc |= alert_set(jm, "snippet", m->snippet != NULL ? m->snippet : "", &bytes);
    }
    if (rc == 0)
        out = alert_dump(root, bytes, len);
out:
    json_decref(root);
    return out;
}

char *alert_build_matched(const char *rule_id, const char *rule_name, const char *const *tags,
                          size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                          const struct alert_matched *m)
{
    struct alert_item *ai = alert_item_new(it);
    char *out;

    if (ai == NULL)
        return NULL;
    out = alert_build_with_item(rule_id, rule_name, tags, ntags, ai, seq, ts, m, NULL);
    alert_item_free(&ai);
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

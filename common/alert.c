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

#include <pthread.h>
#include <stdatomic.h>
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
 * whitespace into one space and trim both ends.  Stop once more than
 * `limit` bytes were written (SIZE_MAX: never): the output only ever grows
 * at its end, so what is written by then is the first bytes of the whole
 * result (and longer than `limit` when the input was not all read).
 * Returns a string the caller frees, or NULL when out of memory. */
static char *alert_clean(const char *s, size_t len, int terminal, int fold, size_t limit)
{
    struct strbuf b = {0};
    size_t i = 0;
    int pending_space = 0;

    strbuf_add(&b, "", 0);
    while (i < len && b.len <= limit) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n;
        size_t run = i, stop = len;

        /* a run is not copied far past the limit (the next loop goes on
         * where this one stopped, writing what one longer run would) */
        if (limit != SIZE_MAX && len - i > limit - b.len + 1)
            stop = i + (limit - b.len + 1);
        /* fast path: a run of printable ASCII is copied as it is (every
         * rule below leaves such bytes alone), spaces included unless
         * folding, where a single space between two printable bytes is kept
         * (it is what folding would write) */
        while (run < stop) {
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
 * The builder.  A body is made of texts jansson wrote: every value (every
 * string, every integer) is dumped by json_dumpb(), and only the structure
 * around them is joined here: the constant keys with their quotes and
 * colons, the commas, braces and brackets.  No escaping is done here.
 *   - alert_build_matched() is the reference: the whole body as one jansson
 *     object, dumped at once.  tests/test_alert.c holds every other path to
 *     its bytes, on hostile input, parsing each body back with jansson.
 *   - parts that several alerts share are written once: the "item" object
 *     once per item (struct alert_item: strings repaired, the summary folded
 *     and cut, each value dumped by jansson), the "rule" object once per
 *     rule (struct alert_rule, dumped by jansson as one object; struct
 *     alert_rules keeps one per rule of a set, built when first asked for),
 *     and the text of ts once per thread and ts;
 *   - per alert, alert_build_parts() writes {"v":1,"seq": then jansson's
 *     text of seq, ,"ts": and the ts text, ,"rule": and the rule part,
 *     ,"item": and the item part, then ,"matched":{"terms":[{"term":…,
 *     "field":…},…],"snippet":…} with each string dumped by jansson, and
 *     '}'.  Dumping values rather than objects keeps jansson's per-container
 *     costs off the hot path (for each object or array it dumps, jansson
 *     formats a pointer and adds it to a hash table, to detect cycles), and
 *     a summary is escaped once per item, not once per alert;
 *   - a string is made with json_stringn_nocheck() once it is known to be
 *     valid UTF-8 without NUL: a string that is already valid as it is
 *     (alert_is_clean: alert_clean() would not change it), anything else
 *     after alert_clean() has repaired it;
 *   - json_dumpb() writes straight into the body's buffer, sized from the
 *     strings' lengths; a value with more escapes than the room left is
 *     dumped again once the buffer has grown to its exact size;
 *   - jansson's text of a short string (rule terms, field names, feed URL
 *     and title: the same few strings alert after alert) is kept in a
 *     per-thread memo and copied the next time (alert_append_string);
 *   - the item part's summary is cleaned only up to its cut
 *     (alert_summary_bounded), alert_build_matched() keeping the two-pass
 *     alert_summary() as the reference.
 */

/* Would alert_clean(s, len, 0, 0, SIZE_MAX) give s[0..len) back unchanged,
 * i.e. is it valid UTF-8 as utf8proc_iterate reads it?  (It has no NUL: it
 * comes from a C string.)  Runs of ASCII are skipped eight bytes at a time;
 * every other character is decoded by the same call alert_clean makes. */
static int alert_is_clean(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n;

        if (len - i >= 8) {
            uint64_t w;

            memcpy(&w, s + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || cp == 0)
            return 0;
        i += (size_t)n;
    }
    return 1;
}

/* A jansson string of value, repaired to valid UTF-8 (see alert_clean);
 * *bytes grows by its length.  NULL when out of memory. */
static json_t *alert_jstring(const char *value, size_t *bytes)
{
    size_t len = strlen(value);
    char *clean;
    json_t *str;

    if (alert_is_clean(value, len)) {
        *bytes += len;
        return json_stringn_nocheck(value, len);
    }
    if ((clean = alert_clean(value, len, 0, 0, SIZE_MAX)) == NULL)
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

/* The text an alert's summary is made of: the item's summary, or its
 * content when the summary is missing or empty; NULL when neither. */
static const char *alert_summary_source(const struct item *it)
{
    return it->summary != NULL && it->summary[0] != '\0' ? it->summary : it->content;
}

/* The summary: the item's summary (its content when it has none), repaired,
 * whitespace folded, cut to ALERT_SUMMARY_MAX bytes, as a string the
 * caller frees in *out (NULL when the item has neither) and its length in
 * *len.  Valid UTF-8 without NUL (alert_clean's output, or a cut of it at a
 * character boundary).  Returns 0 or -1 (out of memory). */
static int alert_summary(const struct item *it, char **out, size_t *len)
{
    const char *src = alert_summary_source(it);
    char *clean;

    *out = NULL;
    if (src == NULL)
        return 0;
    if ((clean = alert_clean(src, strlen(src), 0, 1, SIZE_MAX)) == NULL)
        return -1;
    *len = strlen(clean);
    if (*len <= ALERT_SUMMARY_MAX) {
        *out = clean;
        return 0;
    }
    *out = alert_cut(clean, ALERT_SUMMARY_MAX, (size_t)-1);
    free(clean);
    if (*out == NULL)
        return -1;
    *len = strlen(*out);
    return 0;
}

/* Where alert_cut(s, max_bytes, (size_t)-1) cuts valid UTF-8 text s of
 * more than max_bytes bytes (max_bytes > ALERT_ELLIPSIS_LEN), reading only
 * s[0..max_bytes): the last character boundary that leaves room for the
 * ellipsis, moved back to the last space in the final quarter unless a
 * space follows it, then before the spaces that end it. */
static size_t alert_cut_point(const char *s, size_t max_bytes)
{
    size_t cut = max_bytes - ALERT_ELLIPSIS_LEN, lo;

    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    if (s[cut] != ' ') {
        lo = cut - cut / 4;
        if (lo == 0)
            lo = 1; /* a space at 0 is not a place to cut */
        for (size_t k = cut; k-- > lo;)
            if (s[k] == ' ') {
                cut = k;
                break;
            }
    }
    while (cut > 0 && s[cut - 1] == ' ')
        cut--;
    return cut;
}

/* alert_summary() without reading all of a long text: the source is
 * cleaned only until more than ALERT_SUMMARY_MAX bytes are out (the first
 * bytes of the whole clean text, all a cut looks at), and cut in place
 * (alert_cut_point).  Gives the same string as alert_summary(), which
 * alert_build_matched() keeps as the reference (tests/test_alert.c holds
 * the spliced bodies that use this one to its bytes). */
static int alert_summary_bounded(const struct item *it, char **out, size_t *len)
{
    const char *src = alert_summary_source(it);
    char *clean;
    size_t cut;

    *out = NULL;
    if (src == NULL)
        return 0;
    if ((clean = alert_clean(src, strlen(src), 0, 1, ALERT_SUMMARY_MAX)) == NULL)
        return -1;
    *len = strlen(clean);
    if (*len > ALERT_SUMMARY_MAX) {
        /* clean holds more than ALERT_SUMMARY_MAX + 1 bytes: room enough */
        cut = alert_cut_point(clean, ALERT_SUMMARY_MAX);
        memcpy(clean + cut, ALERT_ELLIPSIS, ALERT_ELLIPSIS_LEN + 1);
        *len = cut + ALERT_ELLIPSIS_LEN;
    }
    *out = clean;
    return 0;
}

/* obj["summary"] = the summary (alert_summary), when there is one.
 * Returns 0 or -1. */
static int alert_set_summary(json_t *obj, const struct item *it, size_t *bytes)
{
    char *sum;
    size_t len;
    int rc;

    if (alert_summary(it, &sum, &len) != 0)
        return -1;
    if (sum == NULL)
        return 0;
    *bytes += len + sizeof("\"summary\":\"\",") - 1;
    rc = json_object_set_new_nocheck(obj, "summary", json_stringn_nocheck(sum, len));
    free(sum);
    return rc == 0 ? 0 : -1;
}

/* The body's "item" object; *bytes grows by the length of its compact
 * text, escapes aside.  NULL when out of memory. */
static json_t *alert_item_object(const struct item *it, size_t *bytes)
{
    char date[DATE_RFC3339_SIZE];
    json_t *obj = json_object();
    int rc = 0;

    if (obj == NULL)
        return NULL;
    *bytes += 2;
    rc |= alert_set(obj, "id", it->id, bytes);
    rc |= alert_set(obj, "title", it->title, bytes);
    rc |= alert_set(obj, "link", it->link, bytes);
    rc |= alert_set(obj, "feed", it->feed, bytes);
    rc |= alert_set(obj, "feed_title", it->feed_title, bytes);
    if (it->published != ITEM_TIME_UNKNOWN)
        rc |= alert_set(obj, "published", date_format(it->published, date), bytes);
    rc |= alert_set_summary(obj, it, bytes);
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* The body's "rule" object; *bytes grows by the length of its compact
 * text, escapes aside.  NULL when out of memory. */
static json_t *alert_rule_object(const char *rule_id, const char *rule_name,
                                 const char *const *tags, size_t ntags, size_t *bytes)
{
    json_t *rule = json_object();
    int rc = 0;

    if (rule == NULL)
        return NULL;
    *bytes += 2;
    rc |= alert_set(rule, "id", rule_id, bytes);
    rc |= alert_set(rule, "name", rule_name, bytes);
    if (rc == 0 && ntags > 0) {
        json_t *jt = json_array();

        /* json_object_set_new_nocheck() takes jt, even when it fails */
        rc |= json_object_set_new_nocheck(rule, "tags", jt);
        *bytes += sizeof("\"tags\":[],");
        for (size_t i = 0; rc == 0 && i < ntags; i++) {
            *bytes += 3; /* "", */
            rc |= json_array_append_new(jt, alert_jstring(tags[i], bytes));
        }
    }
    if (rc != 0) {
        json_decref(rule);
        return NULL;
    }
    return rule;
}

/* The body's head: an object {"v","seq","ts","rule"}; *bytes grows by the
 * length of its compact text, escapes aside.  NULL when out of memory. */
static json_t *alert_head(const char *rule_id, const char *rule_name, const char *const *tags,
                          size_t ntags, int64_t seq, int64_t ts, size_t *bytes)
{
    char date[DATE_RFC3339_SIZE];
    json_t *root = json_object();
    int rc = 0;

    if (root == NULL)
        return NULL;
    *bytes += sizeof("{\"rule\":}");
    rc |= alert_set_int(root, "v", 1, bytes);
    rc |= alert_set_int(root, "seq", seq, bytes);
    rc |= alert_set(root, "ts", date_format(ts, date), bytes);
    /* json_object_set_new_nocheck() takes the rule object, even when it
     * fails, and fails on NULL */
    if (rc == 0)
        rc |= json_object_set_new_nocheck(
            root, "rule", alert_rule_object(rule_id, rule_name, tags, ntags, bytes));
    if (rc != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The body's "matched" object for m; *bytes grows by the length of its
 * compact text, escapes aside.  NULL when out of memory. */
static json_t *alert_matched_object(const struct alert_matched *m, size_t *bytes)
{
    json_t *jm = json_object(), *terms = json_array();
    int rc = 0;

    if (jm == NULL || terms == NULL) {
        json_decref(jm);
        json_decref(terms);
        return NULL;
    }
    *bytes += sizeof("{\"terms\":[],}");
    if (json_object_set_new_nocheck(jm, "terms", terms) != 0) {
        json_decref(jm);
        return NULL;
    }
    for (size_t i = 0; rc == 0 && i < m->nterms; i++) {
        json_t *t = json_object();

        *bytes += 3; /* {}, */
        rc |= json_array_append_new(terms, t);
        rc |= rc != 0 ? -1 : alert_set(t, "term", m->terms[i], bytes);
        rc |= rc != 0 ? -1 : alert_set(t, "field", m->fields[i], bytes);
    }
    if (rc == 0)
        rc |= alert_set(jm, "snippet", m->snippet != NULL ? m->snippet : "", bytes);
    if (rc != 0) {
        json_decref(jm);
        return NULL;
    }
    return jm;
}

/* Make *buf (capacity *cap) hold at least need bytes, growing it by half
 * at least.  Returns 0 or -1. */
static int alert_reserve(char **buf, size_t *cap, size_t need)
{
    char *grown;

    if (need <= *cap)
        return 0;
    if (need < *cap + *cap / 2)
        need = *cap + *cap / 2;
    if ((grown = realloc(*buf, need)) == NULL)
        return -1;
    *buf = grown;
    *cap = need;
    return 0;
}

/* jansson's compact text of v (an object, or any value with
 * JSON_ENCODE_ANY in flags) at (*buf)[pos], growing *buf (capacity *cap)
 * when the text does not fit; its length in *n (it is not terminated).
 * Returns 0 or -1 (out of memory). */
static int alert_dump_at(const json_t *v, size_t flags, char **buf, size_t *cap, size_t pos,
                         size_t *n)
{
    size_t got = json_dumpb(v, *buf + pos, *cap - pos, JSON_COMPACT | flags);

    if (got > *cap - pos) { /* more escapes than the slack: again, exactly */
        if (alert_reserve(buf, cap, pos + got + 1) != 0)
            return -1;
        if (json_dumpb(v, *buf + pos, *cap - pos, JSON_COMPACT | flags) != got)
            return -1;
    }
    if (got == 0) /* out of memory while dumping */
        return -1;
    *n = got;
    return 0;
}

/* The compact text of root in one malloc'd buffer sized from `bytes` (the
 * text's length, escapes aside); its length in *len.  NULL when out of
 * memory. */
static char *alert_dump(const json_t *root, size_t bytes, size_t *len)
{
    size_t cap = bytes + bytes / 8 + 64, n;
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    if (alert_dump_at(root, 0, &out, &cap, 0, &n) != 0 || alert_reserve(&out, &cap, n + 1) != 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    if (len != NULL)
        *len = n;
    return out;
}

/* A part dumped once (struct alert_item, struct alert_rule). */
struct alert_part {
    char *text; /* jansson's compact text of an object */
    size_t len;
};

struct alert_item {
    struct alert_part part; /* the body's "item" object */
};

struct alert_rule {
    struct alert_part part; /* the body's "rule" object */
};

/* part = the text of obj (taken: decref'd).  Returns 0 or -1. */
static int alert_part_take(struct alert_part *part, json_t *obj, size_t bytes)
{
    if (obj == NULL)
        return -1;
    part->text = alert_dump(obj, bytes, &part->len);
    json_decref(obj);
    return part->text != NULL ? 0 : -1;
}

void alert_item_free(struct alert_item **pai)
{
    if (pai == NULL || *pai == NULL)
        return;
    free((*pai)->part.text);
    free(*pai);
    *pai = NULL;
}

struct alert_rule *alert_rule_new(const char *rule_id, const char *rule_name,
                                  const char *const *tags, size_t ntags)
{
    struct alert_rule *ar = calloc(1, sizeof(*ar));
    size_t bytes = 0;
    json_t *obj;

    if (ar == NULL)
        return NULL;
    obj = alert_rule_object(rule_id, rule_name, tags, ntags, &bytes);
    if (alert_part_take(&ar->part, obj, bytes) != 0)
        alert_rule_free(&ar);
    return ar;
}

void alert_rule_free(struct alert_rule **par)
{
    if (par == NULL || *par == NULL)
        return;
    free((*par)->part.text);
    free(*par);
    *par = NULL;
}

struct alert_rules {
    size_t n;
    _Atomic(struct alert_rule *) *parts;
};

struct alert_rules *alert_rules_new(size_t n)
{
    struct alert_rules *rs = calloc(1, sizeof(*rs));

    if (rs == NULL)
        return NULL;
    rs->n = n;
    if ((rs->parts = calloc(n > 0 ? n : 1, sizeof(*rs->parts))) == NULL) {
        free(rs);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        atomic_init(&rs->parts[i], NULL);
    return rs;
}

void alert_rules_free(struct alert_rules **prs)
{
    if (prs == NULL || *prs == NULL)
        return;
    for (size_t i = 0; i < (*prs)->n; i++) {
        struct alert_rule *ar = atomic_load_explicit(&(*prs)->parts[i], memory_order_relaxed);

        alert_rule_free(&ar);
    }
    free((*prs)->parts);
    free(*prs);
    *prs = NULL;
}

const struct alert_rule *alert_rules_get(struct alert_rules *rs, size_t i, const char *rule_id,
                                         const char *rule_name, const char *const *tags,
                                         size_t ntags)
{
    struct alert_rule *ar, *none = NULL;

    if (i >= rs->n)
        return NULL; /* not a rule of the set the table was made for */
    ar = atomic_load_explicit(&rs->parts[i], memory_order_acquire);
    if (ar != NULL)
        return ar;
    if ((ar = alert_rule_new(rule_id, rule_name, tags, ntags)) == NULL)
        return NULL;
    /* another thread may have built it meanwhile: then keep theirs */
    if (!atomic_compare_exchange_strong_explicit(&rs->parts[i], &none, ar, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        alert_rule_free(&ar);
        return none;
    }
    return ar;
}

/* out + pos = s[0..n), growing out.  Returns 0 or -1. */
static int alert_append(char **out, size_t *cap, size_t *pos, const char *s, size_t n)
{
    if (alert_reserve(out, cap, *pos + n + 1) != 0)
        return -1;
    memcpy(*out + *pos, s, n);
    *pos += n;
    return 0;
}

#define ALERT_LIT(s) s, sizeof(s) - 1

/* out + pos = jansson's text of v, a string or an integer (taken:
 * decref'd; NULL: out of memory).  Returns 0 or -1. */
static int alert_append_value(char **out, size_t *cap, size_t *pos, json_t *v)
{
    size_t n;
    int rc;

    if (v == NULL)
        return -1;
    rc = alert_dump_at(v, JSON_ENCODE_ANY, out, cap, *pos, &n);
    json_decref(v);
    if (rc != 0)
        return -1;
    *pos += n;
    return 0;
}

/*
 * A memo of jansson's text for short strings, one per thread.  The same few
 * short strings come back alert after alert: the rule terms and the field
 * names of "matched", an item's feed URL and feed title.  jansson's text of
 * a string (quotes and escapes, after the UTF-8 repair of alert_jstring)
 * depends on its bytes only, so the text it gave once is kept, keyed by
 * those bytes, and copied the next time: output of jansson, cached.  A
 * direct-mapped table of ALERT_MEMO_SLOTS strings of 1 to ALERT_MEMO_KEY
 * bytes; a slot is overwritten by the next string that maps to it.  Made
 * when a thread first needs it, freed when the thread ends.
 */
#define ALERT_MEMO_SLOTS 256
#define ALERT_MEMO_KEY 64
#define ALERT_MEMO_TEXT 136 /* longer texts (many escapes) are not kept */

struct alert_memo_slot {
    unsigned char klen; /* 0: empty */
    unsigned char tlen;
    char key[ALERT_MEMO_KEY];
    char text[ALERT_MEMO_TEXT];
};

static pthread_key_t alert_memo_key;
static int alert_memo_ok; /* the key was made */
static pthread_once_t alert_memo_once = PTHREAD_ONCE_INIT;
static _Thread_local struct alert_memo_slot *alert_memo; /* this thread's */
static _Thread_local int alert_memo_failed;              /* out of memory once */

static void alert_memo_init(void)
{
    alert_memo_ok = pthread_key_create(&alert_memo_key, free) == 0;
}

/* The slot of s[0..len) (1 <= len <= ALERT_MEMO_KEY) in this thread's memo,
 * or NULL when there is none (out of memory: jansson is simply called). */
static struct alert_memo_slot *alert_memo_slot(const char *s, size_t len)
{
    uint64_t h = UINT64_C(14695981039346656037);

    if (alert_memo == NULL) {
        if (alert_memo_failed)
            return NULL;
        pthread_once(&alert_memo_once, alert_memo_init);
        if (!alert_memo_ok ||
            (alert_memo = calloc(ALERT_MEMO_SLOTS, sizeof(*alert_memo))) == NULL) {
            alert_memo_failed = 1;
            return NULL;
        }
        if (pthread_setspecific(alert_memo_key, alert_memo) != 0) {
            free(alert_memo);
            alert_memo = NULL;
            alert_memo_failed = 1;
            return NULL;
        }
    }
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
    return &alert_memo[(h ^ (h >> 32)) % ALERT_MEMO_SLOTS];
}

/* out + pos = jansson's text of the string value, repaired to valid UTF-8
 * (alert_jstring); a short string's text comes from the memo when it is
 * there.  Returns 0 or -1. */
static int alert_append_string(char **out, size_t *cap, size_t *pos, const char *value)
{
    size_t len = strlen(value), bytes = 0, start = *pos;
    struct alert_memo_slot *slot = NULL;
    json_t *v;

    if (len > 0 && len <= ALERT_MEMO_KEY && (slot = alert_memo_slot(value, len)) != NULL &&
        slot->klen == len && memcmp(slot->key, value, len) == 0)
        return alert_append(out, cap, pos, slot->text, slot->tlen);
    v = alert_jstring(value, &bytes);
    if (v != NULL && alert_reserve(out, cap, *pos + bytes + bytes / 8 + 16) != 0) {
        json_decref(v);
        return -1;
    }
    if (alert_append_value(out, cap, pos, v) != 0)
        return -1;
    if (slot != NULL && *pos - start <= ALERT_MEMO_TEXT) {
        slot->klen = (unsigned char)len;
        slot->tlen = (unsigned char)(*pos - start);
        memcpy(slot->key, value, len);
        memcpy(slot->text, *out + start, *pos - start);
    }
    return 0;
}

/* The item part, {"id":…,"title":…,"link":…,"feed":…,"feed_title":…,
 * "published":…,"summary":…} (members without a value left out, as
 * alert_item_object does), each value dumped by jansson.  Returns 0 or
 * -1. */
static int alert_item_text(const struct item *it, char **out, size_t *cap, size_t *pos)
{
    char date[DATE_RFC3339_SIZE];
    const struct {
        const char *key; /* with its quotes and colon, after a comma */
        size_t keylen;
        const char *value;
    } f[] = {
        {ALERT_LIT(",\"id\":"), it->id},
        {ALERT_LIT(",\"title\":"), it->title},
        {ALERT_LIT(",\"link\":"), it->link},
        {ALERT_LIT(",\"feed\":"), it->feed},
        {ALERT_LIT(",\"feed_title\":"), it->feed_title},
        {ALERT_LIT(",\"published\":"),
         it->published != ITEM_TIME_UNKNOWN ? date_format(it->published, date) : NULL},
    };
    size_t start = *pos, len = 0;
    char *sum;
    int rc;

    if (alert_append(out, cap, pos, "{", 1) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].value == NULL)
            continue;
        /* the first member without its comma */
        if ((*pos == start + 1 ? alert_append(out, cap, pos, f[i].key + 1, f[i].keylen - 1)
                               : alert_append(out, cap, pos, f[i].key, f[i].keylen)) != 0 ||
            alert_append_string(out, cap, pos, f[i].value) != 0)
            return -1;
    }
    if (alert_summary_bounded(it, &sum, &len) != 0)
        return -1;
    if (sum != NULL) {
        rc = *pos == start + 1 ? alert_append(out, cap, pos, ALERT_LIT("\"summary\":"))
                               : alert_append(out, cap, pos, ALERT_LIT(",\"summary\":"));
        if (rc == 0)
            rc = alert_reserve(out, cap, *pos + len + len / 8 + 16);
        if (rc == 0)
            rc = alert_append_value(out, cap, pos, json_stringn_nocheck(sum, len));
        free(sum);
        if (rc != 0)
            return -1;
    }
    return alert_append(out, cap, pos, "}", 1);
}

struct alert_item *alert_item_new(const struct item *it)
{
    struct alert_item *ai = calloc(1, sizeof(*ai));
    size_t cap = 512, pos = 0;

    if (ai == NULL)
        return NULL;
    if ((ai->part.text = malloc(cap)) == NULL ||
        alert_item_text(it, &ai->part.text, &cap, &pos) != 0) {
        alert_item_free(&ai);
        return NULL;
    }
    ai->part.text[pos] = '\0';
    ai->part.len = pos;
    return ai;
}

/* jansson's text of ts as an RFC 3339 string (quotes included), its length
 * in *n; NULL when out of memory.  The alerts of a group share their ts,
 * so each thread keeps the last one. */
static const char *alert_ts_text(int64_t ts, size_t *n)
{
    static _Thread_local int64_t last_ts;
    static _Thread_local size_t last_len; /* 0: none yet */
    static _Thread_local char last[DATE_RFC3339_SIZE + 8];

    if (last_len == 0 || last_ts != ts) {
        char date[DATE_RFC3339_SIZE];
        json_t *v = json_string_nocheck(date_format(ts, date)); /* ASCII */
        size_t got = v != NULL ? json_dumpb(v, last, sizeof(last), JSON_ENCODE_ANY) : 0;

        json_decref(v);
        last_len = 0;
        if (got == 0 || got > sizeof(last))
            return NULL;
        last_len = got;
        last_ts = ts;
    }
    *n = last_len;
    return last;
}

/* out + pos = the "matched" member: ,"matched":{"terms":[{"term":…,
 * "field":…},…],"snippet":…} (a NULL term or field left out, as
 * alert_set does).  Returns 0 or -1. */
static int alert_append_matched(char **out, size_t *cap, size_t *pos,
                                const struct alert_matched *m)
{
    if (alert_append(out, cap, pos, ALERT_LIT(",\"matched\":{\"terms\":[")) != 0)
        return -1;
    for (size_t i = 0; i < m->nterms; i++) {
        int first = 1;

        if (alert_append(out, cap, pos, i > 0 ? ",{" : "{", i > 0 ? 2 : 1) != 0)
            return -1;
        if (m->terms[i] != NULL) {
            if (alert_append(out, cap, pos, ALERT_LIT("\"term\":")) != 0 ||
                alert_append_string(out, cap, pos, m->terms[i]) != 0)
                return -1;
            first = 0;
        }
        if (m->fields[i] != NULL) {
            if ((first ? alert_append(out, cap, pos, ALERT_LIT("\"field\":"))
                       : alert_append(out, cap, pos, ALERT_LIT(",\"field\":"))) != 0 ||
                alert_append_string(out, cap, pos, m->fields[i]) != 0)
                return -1;
        }
        if (alert_append(out, cap, pos, "}", 1) != 0)
            return -1;
    }
    if (alert_append(out, cap, pos, ALERT_LIT("],\"snippet\":")) != 0 ||
        alert_append_string(out, cap, pos, m->snippet != NULL ? m->snippet : "") != 0 ||
        alert_append(out, cap, pos, "}", 1) != 0)
        return -1;
    return 0;
}

char *alert_build_parts(const struct alert_rule *ar, const struct alert_item *ai, int64_t seq,
                        int64_t ts, const struct alert_matched *m, size_t *len)
{
    size_t cap = ar->part.len + ai->part.len + 128, pos = 0, tn;
    const char *tstext = alert_ts_text(ts, &tn);
    char *out;

    if (tstext == NULL)
        return NULL;
    if (m != NULL) {
        size_t more = m->snippet != NULL ? strlen(m->snippet) : 0;

        for (size_t i = 0; i < m->nterms; i++)
            more += 24 + (m->terms[i] != NULL ? strlen(m->terms[i]) : 0) +
                    (m->fields[i] != NULL ? strlen(m->fields[i]) : 0);
        cap += more + more / 8 + 48;
    }
    if ((out = malloc(cap)) == NULL)
        return NULL;
    /* {"v":1,"seq":N,"ts":"…","rule":{…},"item":{…} */
    if (alert_append(&out, &cap, &pos, ALERT_LIT("{\"v\":1,\"seq\":")) != 0 ||
        alert_append_value(&out, &cap, &pos, json_integer((json_int_t)seq)) != 0 ||
        alert_append(&out, &cap, &pos, ALERT_LIT(",\"ts\":")) != 0 ||
        alert_append(&out, &cap, &pos, tstext, tn) != 0 ||
        alert_append(&out, &cap, &pos, ALERT_LIT(",\"rule\":")) != 0 ||
        alert_append(&out, &cap, &pos, ar->part.text, ar->part.len) != 0 ||
        alert_append(&out, &cap, &pos, ALERT_LIT(",\"item\":")) != 0 ||
        alert_append(&out, &cap, &pos, ai->part.text, ai->part.len) != 0)
        goto err;
    /* ,"matched":{…} */
    if (m != NULL && alert_append_matched(&out, &cap, &pos, m) != 0)
        goto err;
    if (alert_append(&out, &cap, &pos, "}", 1) != 0)
        goto err;
    out[pos] = '\0';
    if (len != NULL)
        *len = pos;
    return out;
err:
    free(out);
    return NULL;
}

char *alert_build_with_item(const char *rule_id, const char *rule_name, const char *const *tags,
                            size_t ntags, const struct alert_item *ai, int64_t seq, int64_t ts,
                            const struct alert_matched *m, size_t *len)
{
    struct alert_rule *ar = alert_rule_new(rule_id, rule_name, tags, ntags);
    char *out;

    if (ar == NULL)
        return NULL;
    out = alert_build_parts(ar, ai, seq, ts, m, len);
    alert_rule_free(&ar);
    return out;
}

/* The reference the splicing above is held to (tests/test_alert.c): the
 * whole body as one jansson object, dumped at once. */
char *alert_build_matched(const char *rule_id, const char *rule_name, const char *const *tags,
                          size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                          const struct alert_matched *m)
{
    size_t bytes = 0;
    json_t *root = alert_head(rule_id, rule_name, tags, ntags, seq, ts, &bytes);
    char *out = NULL;

    if (root == NULL)
        return NULL;
    if (json_object_set_new_nocheck(root, "item", alert_item_object(it, &bytes)) == 0 &&
        (m == NULL ||
         json_object_set_new_nocheck(root, "matched", alert_matched_object(m, &bytes)) == 0))
        out = alert_dump(root, bytes, NULL);
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
    s = alert_clean(json_string_value(v), json_string_length(v), 1, 1, SIZE_MAX);
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

/*
 * test_alert.c - the alert body (alert_build) and its terminal rendering
 * (alert_render_text), including hostile bodies.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <utf8proc.h>

#include "alert.h"
#include "date.h"
#include "item.h"

static struct item *make_item(void)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "guid-1"), 0);
    assert_int_equal(item_set(&it->title, "Quake hits \"Tokyo\""), 0);
    assert_int_equal(item_set(&it->link, "https://example.org/a"), 0);
    assert_int_equal(item_set(&it->feed, "https://example.org/feed.xml"), 0);
    assert_int_equal(item_set(&it->feed_title, "Example News"), 0);
    assert_int_equal(item_set(&it->summary, "A strong quake shook the city."), 0);
    it->published = 1739374200; /* 2025-02-12T15:30:00Z */
    return it;
}

static const char *str_at(json_t *root, const char *obj, const char *key)
{
    json_t *o = obj != NULL ? json_object_get(root, obj) : root;
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is s well-formed UTF-8?  (jansson's decoder is strict.) */
static int valid_utf8(const char *s)
{
    json_t *str = json_string(s);
    int ok = str != NULL;

    json_decref(str);
    return ok;
}

static void test_build_fields(void **state)
{
    struct item *it = make_item();
    char *body = alert_build("quake", "Earthquakes", it, 42, 1739374500);
    json_t *root;

    (void)state;
    assert_non_null(body);
    assert_null(strchr(body, '\n'));
    root = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "v")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "seq")), 42);
    assert_string_equal(str_at(root, NULL, "ts"), "2025-02-12T15:35:00Z");
    assert_string_equal(str_at(root, "rule", "id"), "quake");
    assert_string_equal(str_at(root, "rule", "name"), "Earthquakes");
    assert_string_equal(str_at(root, "item", "id"), "guid-1");
    assert_string_equal(str_at(root, "item", "title"), "Quake hits \"Tokyo\"");
    assert_string_equal(str_at(root, "item", "link"), "https://example.org/a");
    assert_string_equal(str_at(root, "item", "feed"), "https://example.org/feed.xml");
    assert_string_equal(str_at(root, "item", "feed_title"), "Example News");
    assert_string_equal(str_at(root, "item", "published"), "2025-02-12T15:30:00Z");
    assert_string_equal(str_at(root, "item", "summary"), "A strong quake shook the city.");
    json_decref(root);
    free(body);
    item_free(&it);
}

static void test_build_published_unknown(void **state)
{
    struct item *it = make_item();
    char *body;
    json_t *root;

    (void)state;
    it->published = ITEM_TIME_UNKNOWN;
    free(it->summary);
    it->summary = NULL;
    assert_int_equal(item_set(&it->content, "Body  text\n\nwith   gaps"), 0);
    body = alert_build("quake", "Earthquakes", it, 1, 0);
    assert_non_null(body);
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    assert_null(json_object_get(json_object_get(root, "item"), "published"));
    /* no summary: the content stands in, whitespace folded */
    assert_string_equal(str_at(root, "item", "summary"), "Body text with gaps");
    assert_string_equal(str_at(root, NULL, "ts"), "1970-01-01T00:00:00Z");
    json_decref(root);
    free(body);
    item_free(&it);
}

static void test_build_repairs_utf8(void **state)
{
    struct item *it = make_item();
    char *body;
    json_t *root;

    (void)state;
    assert_int_equal(item_set(&it->title, "bad \xc3\x28 byte"), 0);
    body = alert_build("quake", NULL, it, 2, 0);
    assert_non_null(body);
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    assert_string_equal(str_at(root, "item", "title"), "bad \xef\xbf\xbd( byte");
    assert_null(json_object_get(json_object_get(root, "rule"), "name"));
    json_decref(root);
    free(body);
    item_free(&it);
}

/* Build an alert whose summary is `summary` and return the summary it got. */
static char *summary_of(const char *summary)
{
    struct item *it = make_item();
    char *body, *out;
    json_t *root;

    assert_int_equal(item_set(&it->summary, summary), 0);
    body = alert_build("r", "R", it, 1, 0);
    assert_non_null(body);
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    out = strdup(str_at(root, "item", "summary"));
    json_decref(root);
    free(body);
    item_free(&it);
    return out;
}

static int ends_with_ellipsis(const char *s)
{
    size_t n = strlen(s);

    return n >= 3 && memcmp(s + n - 3, "\xe2\x80\xa6", 3) == 0;
}

static void test_summary_cut_utf8(void **state)
{
    /* 600 euro signs: 1800 bytes, no spaces */
    char in[1801];
    char *out;
    size_t n;

    (void)state;
    for (int i = 0; i < 600; i++)
        memcpy(in + 3 * i, "\xe2\x82\xac", 3);
    in[1800] = '\0';
    out = summary_of(in);
    n = strlen(out);
    assert_true(n <= ALERT_SUMMARY_MAX);
    assert_true(n > ALERT_SUMMARY_MAX - 8);
    assert_true(ends_with_ellipsis(out));
    assert_true(valid_utf8(out));
    assert_int_equal((n - 3) % 3, 0); /* whole euro signs only */
    free(out);

    /* 2-byte characters: the cut may not split one */
    char in2[2001];
    for (int i = 0; i < 1000; i++)
        memcpy(in2 + 2 * i, "\xc3\xa9", 2);
    in2[2000] = '\0';
    out = summary_of(in2);
    assert_true(strlen(out) <= ALERT_SUMMARY_MAX);
    assert_true(valid_utf8(out));
    assert_true(ends_with_ellipsis(out));
    free(out);
}

static void test_summary_cut_word(void **state)
{
    char in[3000];
    char *out;
    size_t n, kept;

    (void)state;
    /* "wordNNN " repeated: the cut lands after a whole word */
    in[0] = '\0';
    for (int i = 0; strlen(in) < 2000; i++) {
        char w[16];

        int wn = snprintf(w, sizeof(w), "word%03d ", i);
        size_t at = strlen(in);

        memcpy(in + at, w, (size_t)wn + 1);
    }
    out = summary_of(in);
    n = strlen(out);
    assert_true(n <= ALERT_SUMMARY_MAX);
    assert_true(n > ALERT_SUMMARY_MAX * 3 / 4);
    assert_true(ends_with_ellipsis(out));
    kept = n - 3;
    assert_true(out[kept - 1] != ' ');
    assert_memory_equal(out, in, kept);
    assert_int_equal(in[kept], ' '); /* a whole word was kept */
    free(out);

    /* short summaries are left alone */
    out = summary_of("short one");
    assert_string_equal(out, "short one");
    free(out);
}

static void test_render_plain(void **state)
{
    struct item *it = make_item();
    char *body = alert_build("quake", "Earthquakes", it, 3, 0);
    char *text;

    (void)state;
    assert_non_null(body);
    text = alert_render_text(body, strlen(body));
    assert_non_null(text);
    assert_string_equal(text, "[quake] Quake hits \"Tokyo\"\n"
                              "    Example News \xc2\xb7 2025-02-12 15:30 UTC \xc2\xb7 "
                              "https://example.org/a\n"
                              "    A strong quake shook the city.");
    free(text);
    free(body);
    item_free(&it);
}

static void test_render_long_summary(void **state)
{
    char sum[1000];
    struct item *it = make_item();
    char *body, *text, *line3;

    (void)state;
    memset(sum, 'x', sizeof(sum) - 1);
    sum[sizeof(sum) - 1] = '\0';
    assert_int_equal(item_set(&it->summary, sum), 0);
    body = alert_build("quake", "Earthquakes", it, 3, 0);
    text = alert_render_text(body, strlen(body));
    assert_non_null(text);
    line3 = strrchr(text, '\n');
    assert_non_null(line3);
    /* newline + indent + 159 x + ellipsis */
    assert_int_equal(strlen(line3), 1 + 4 + 159 + 3);
    assert_true(ends_with_ellipsis(line3));
    free(text);
    free(body);
    item_free(&it);
}

static void test_render_strips_controls(void **state)
{
    const char *body =
        "{\"v\":1,\"seq\":1,\"rule\":{\"id\":\"r\\u001b]0;pwned\\u0007\"},"
        "\"item\":{\"title\":\"\\u001b[31mRed\\u001b[0m \\u009b2J\\u202eevil\","
        "\"feed_title\":\"F\\r\\nFake: line\",\"link\":\"https://x/\\u007f\","
        "\"published\":\"not a date\\u001b\",\"summary\":\"sum\\tmary\"}}";
    char *text;

    (void)state;
    text = alert_render_text(body, strlen(body));
    assert_non_null(text);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        assert_true(*p >= 0x20 || *p == '\n');
        assert_true(*p != 0x7f);
    }
    assert_null(strstr(text, "\xc2\x9b"));     /* C1 CSI */
    assert_null(strstr(text, "\xe2\x80\xae")); /* RLO */
    assert_string_equal(text, "[r]0;pwned] [31mRed[0m 2Jevil\n"
                              "    F Fake: line \xc2\xb7 not a date \xc2\xb7 https://x/\n"
                              "    sum mary");
    free(text);
}

static void test_render_partial_and_invalid(void **state)
{
    const char *minimal = "{\"v\":1,\"seq\":1}";
    char *text;

    (void)state;
    text = alert_render_text(minimal, strlen(minimal));
    assert_non_null(text);
    assert_string_equal(text, "[?] (no title)");
    free(text);
    assert_null(alert_render_text("{\"v\":1,", 7));
    assert_null(alert_render_text("[1,2]", 5));
}

static void test_seq(void **state)
{
    int64_t seq = -1;

    (void)state;
    assert_int_equal(alert_seq("{\"v\":1,\"seq\":9007199254740993}", 30, &seq), 0);
    assert_true(seq == INT64_C(9007199254740993));
    assert_int_equal(alert_seq("{\"v\":1,\"seq\":\"1\"}", 17, &seq), -1);
    assert_int_equal(alert_seq("nope", 4, &seq), -1);
}

/*
 * The builder on hostile strings in every field: each body must be valid
 * JSON with exactly the documented members in the documented order, each
 * string the input repaired to valid UTF-8 (unchanged when it was valid),
 * the summary folded and cut; and bodies built around one shared
 * alert_item must be those alert_build_matched gives.
 */

/* Pieces random strings are made of: ASCII, every escape JSON has, C0/DEL/
 * C1 controls, quotes and backslashes, slashes, valid multi-byte UTF-8
 * (accents, CJK, emoji, U+2028, bidi overrides, U+FFFD itself) and invalid
 * UTF-8 (lone lead and continuation bytes, overlong forms, surrogates, bytes
 * above U+10FFFF, truncated sequences). */
static const char *const hostile_pieces[] = {
    "a", "Zq", "word ", " ", "  ", "\t", "\n", "\r\n", "\b", "\f", "\x01", "\x1b[31m",
    "\x1f", "\x7f", "\"", "\\", "\\u0000", "/", "</script>", "{\"k\":[1]}", "\xc3\xa9",
    "\xe6\x9d\xb1\xe4\xba\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xe2\x80\xae",
    "\xef\xbf\xbd", "\xc2\x85", "\xc2\xa0", "\xc3", "\x80", "\xbf", "\xff", "\xfe",
    "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xf0\x9f",
    "\xe3\x80\x80", "%s%n", "\xe2\x80\xa6",
};

static unsigned long hostile_rand(unsigned long *st)
{
    *st = *st * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned long)(*st >> 33);
}

/* A random hostile string of up to `max` pieces (caller frees); NULL once
 * in a while when `may_null`. */
static char *hostile_string(unsigned long *st, size_t max, int may_null)
{
    size_t n, len = 0, cap = 64;
    char *s;

    if (may_null && hostile_rand(st) % 8 == 0)
        return NULL;
    n = max > 0 ? hostile_rand(st) % (max + 1) : 0;
    s = malloc(cap);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        const char *p =
            hostile_pieces[hostile_rand(st) % (sizeof(hostile_pieces) / sizeof(hostile_pieces[0]))];
        size_t pl = strlen(p);

        while (len + pl + 1 > cap) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
        memcpy(s + len, p, pl);
        len += pl;
    }
    s[len] = '\0';
    return s;
}

/* What a string must become in a body: each byte that does not start a
 * valid UTF-8 sequence replaced by U+FFFD; with `fold`, runs of ASCII
 * whitespace made one space and both ends trimmed.  Caller frees. */
static char *expect_text(const char *s, int fold)
{
    size_t len = strlen(s), i = 0, o = 0;
    char *out = malloc(3 * len + 1);
    int pending = 0;

    assert_non_null(out);
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);

        if (fold && n == 1 && strchr(" \t\n\r\f\v", s[i]) != NULL) {
            pending = o > 0;
            i++;
            continue;
        }
        if (pending) {
            out[o++] = ' ';
            pending = 0;
        }
        if (n <= 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        }
    }
    out[o] = '\0';
    return out;
}

/* obj's keys are exactly `keys` (NULL-terminated), in that order. */
static void assert_keys(json_t *obj, const char *const *keys)
{
    void *iter = json_object_iter(obj);
    size_t n = 0;

    assert_true(json_is_object(obj));
    for (; iter != NULL; iter = json_object_iter_next(obj, iter), n++) {
        assert_non_null(keys[n]);
        assert_string_equal(json_object_iter_key(iter), keys[n]);
    }
    assert_null(keys[n]);
}

/* obj[key] is `value` repaired, or absent when value is NULL; the key is
 * added to keys[*nk]. */
static void assert_text(json_t *obj, const char *key, const char *value, const char **keys,
                        size_t *nk)
{
    json_t *v = json_object_get(obj, key);
    char *want;

    if (value == NULL) {
        assert_null(v);
        return;
    }
    keys[(*nk)++] = key;
    assert_true(json_is_string(v));
    want = expect_text(value, 0);
    assert_string_equal(json_string_value(v), want);
    assert_int_equal(json_string_length(v), strlen(want));
    free(want);
}

static void assert_summary(json_t *jit, const struct item *it, const char **keys, size_t *nk)
{
    const char *src = it->summary != NULL && it->summary[0] != '\0' ? it->summary : it->content;
    json_t *v = json_object_get(jit, "summary");
    const char *got;
    char *want;
    size_t n;

    if (src == NULL) {
        assert_null(v);
        return;
    }
    keys[(*nk)++] = "summary";
    assert_true(json_is_string(v));
    got = json_string_value(v);
    n = strlen(got);
    want = expect_text(src, 1);
    if (strlen(want) <= ALERT_SUMMARY_MAX) {
        assert_string_equal(got, want);
    } else {
        /* cut at a character boundary, late, and marked */
        assert_true(n <= ALERT_SUMMARY_MAX);
        assert_true(n > 700);
        assert_true(ends_with_ellipsis(got));
        assert_memory_equal(got, want, n - 3);
    }
    free(want);
}

/* A spliced body: jansson reads it back as `want` (same value, members
 * in the documented order) and it is the reference's bytes. */
static void check_spliced(char *body, size_t len, json_t *want, const char *ref,
                          const struct alert_matched *m)
{
    json_error_t jerr;
    json_t *back;

    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    back = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (back == NULL)
        fail_msg("spliced body is not JSON (%s at %d): %.300s", jerr.text, jerr.position, body);
    assert_true(json_equal(back, want));
    assert_keys(back, (const char *const[]){"v", "seq", "ts", "rule", "item",
                                            m != NULL ? "matched" : NULL, NULL});
    json_decref(back);
    if (strcmp(body, ref) != 0)
        fail_msg("spliced body differs:\n%.300s\n%.300s", body, ref);
    free(body);
}

/* Build a body with alert_build_matched (one jansson object dumped at
 * once) and check every member; then the same through an alert_item (the
 * item's text spliced between the parts jansson dumps per alert), with the
 * rule given as strings (alert_build_with_item) and as an alert_rule
 * (alert_build_parts): `shared` when given (an alert_item of `it` other
 * bodies were built around), a fresh one otherwise; `shared_rule` when
 * given (an alert_rule of rid, rname and tags other bodies were built
 * around), a fresh one otherwise.  Each spliced body is read back by
 * jansson and must be the same value and the same bytes as the
 * reference. */
static void check_body_with(const char *rid, const char *rname, const char *const *tags,
                            size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                            const struct alert_matched *m, const struct alert_item *shared,
                            const struct alert_rule *shared_rule)
{
    char *body = alert_build_matched(rid, rname, tags, ntags, it, seq, ts, m), *again;
    char date[DATE_RFC3339_SIZE];
    const char *keys[16];
    struct alert_item *ai;
    struct alert_rule *ar;
    json_error_t jerr;
    json_t *root, *rule, *jit, *v;
    size_t nk, len;

    assert_non_null(body);
    root = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fail_msg("body is not JSON (%s): %s", jerr.text, body);
    assert_keys(root, (const char *const[]){"v", "seq", "ts", "rule", "item",
                                            m != NULL ? "matched" : NULL, NULL});
    assert_int_equal(json_integer_value(json_object_get(root, "v")), 1);
    assert_true(json_integer_value(json_object_get(root, "seq")) == seq);
    assert_string_equal(str_at(root, NULL, "ts"), date_format(ts, date));
    rule = json_object_get(root, "rule");
    nk = 0;
    assert_text(rule, "id", rid, keys, &nk);
    assert_text(rule, "name", rname, keys, &nk);
    if (ntags > 0) {
        keys[nk++] = "tags";
        v = json_object_get(rule, "tags");
        assert_int_equal(json_array_size(v), ntags);
        for (size_t i = 0; i < ntags; i++) {
            char *want = expect_text(tags[i], 0);

            assert_string_equal(json_string_value(json_array_get(v, i)), want);
            free(want);
        }
    }
    keys[nk] = NULL;
    assert_keys(rule, keys);
    jit = json_object_get(root, "item");
    nk = 0;
    assert_text(jit, "id", it->id, keys, &nk);
    assert_text(jit, "title", it->title, keys, &nk);
    assert_text(jit, "link", it->link, keys, &nk);
    assert_text(jit, "feed", it->feed, keys, &nk);
    assert_text(jit, "feed_title", it->feed_title, keys, &nk);
    assert_text(jit, "published",
                it->published != ITEM_TIME_UNKNOWN ? date_format(it->published, date) : NULL,
                keys, &nk);
    assert_summary(jit, it, keys, &nk);
    keys[nk] = NULL;
    assert_keys(jit, keys);
    if (m != NULL) {
        json_t *jm = json_object_get(root, "matched"), *terms = json_object_get(jm, "terms");

        assert_keys(jm, (const char *const[]){"terms", "snippet", NULL});
        assert_int_equal(json_array_size(terms), m->nterms);
        for (size_t i = 0; i < m->nterms; i++) {
            json_t *t = json_array_get(terms, i);

            nk = 0;
            assert_text(t, "term", m->terms[i], keys, &nk);
            assert_text(t, "field", m->fields[i], keys, &nk);
            keys[nk] = NULL;
            assert_keys(t, keys);
        }
        nk = 0;
        assert_text(jm, "snippet", m->snippet != NULL ? m->snippet : "", keys, &nk);
    }

    /* one alert_item (and one alert_rule), several bodies: each the same
     * value and bytes */
    ai = shared != NULL ? NULL : alert_item_new(it);
    assert_true(shared != NULL || ai != NULL);
    ar = shared_rule != NULL ? NULL : alert_rule_new(rid, rname, tags, ntags);
    assert_true(shared_rule != NULL || ar != NULL);
    for (int k = 0; k < 2; k++) {
        len = 0;
        again = alert_build_with_item(rid, rname, tags, ntags, shared != NULL ? shared : ai,
                                      seq, ts, m, &len);
        check_spliced(again, len, root, body, m);
        len = 0;
        again = alert_build_parts(shared_rule != NULL ? shared_rule : ar,
                                  shared != NULL ? shared : ai, seq, ts, m, &len);
        check_spliced(again, len, root, body, m);
    }
    json_decref(root);
    alert_item_free(&ai);
    assert_null(ai);
    alert_item_free(&ai); /* NULL-safe */
    alert_rule_free(&ar);
    assert_null(ar);
    alert_rule_free(&ar);
    free(body);
}

static void check_body(const char *rid, const char *rname, const char *const *tags,
                       size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                       const struct alert_matched *m)
{
    check_body_with(rid, rname, tags, ntags, it, seq, ts, m, NULL, NULL);
}

static void test_build_hostile(void **state)
{
    const char *const kept_tags[] = {"\xc0\xaf", "t\n"};
    struct alert_rule *kept;
    unsigned long st = 12345;

    (void)state;
    kept = alert_rule_new("r\x01\xff\"", "rule \xe2\x80\xa8 one", kept_tags, 2);
    assert_non_null(kept);
    for (int round = 0; round < 3000; round++) {
        struct item *it = item_new();
        char *rid = hostile_string(&st, 6, 1), *rname = hostile_string(&st, 10, 1);
        char *tags[3], *terms[4], *fields[4], *snippet = hostile_string(&st, 30, 1);
        char **slots[] = {&it->id, &it->title, &it->link, &it->feed, &it->feed_title,
                          &it->summary, &it->content};
        size_t ntags = hostile_rand(&st) % 4, nterms = hostile_rand(&st) % 5;
        struct alert_matched m;
        struct alert_item *ai;
        struct alert_rule *ar;

        assert_non_null(it);
        for (size_t k = 0; k < sizeof(slots) / sizeof(slots[0]); k++)
            *slots[k] = hostile_string(&st, k >= 5 ? 400 : 20, 1);
        it->published = hostile_rand(&st) % 3 == 0 ? ITEM_TIME_UNKNOWN
                                                    : (int64_t)(hostile_rand(&st) % 4000000000UL);
        for (size_t k = 0; k < ntags; k++)
            tags[k] = hostile_string(&st, 5, 0);
        for (size_t k = 0; k < nterms; k++) {
            terms[k] = hostile_string(&st, 4, 1);
            fields[k] = hostile_string(&st, 2, 1);
        }
        m.nterms = nterms;
        m.terms = (const char *const *)terms;
        m.fields = (const char *const *)fields;
        m.snippet = snippet;
        ai = alert_item_new(it);
        assert_non_null(ai);
        /* several rules' bodies around one item part, every mix of tags
         * and explanation */
        ar = alert_rule_new(rid, rname, (const char *const *)tags, ntags);
        assert_non_null(ar);
        check_body_with(rid, rname, (const char *const *)tags, ntags, it,
                        (int64_t)hostile_rand(&st) - 1000, (int64_t)hostile_rand(&st), &m, ai,
                        ar);
        check_body_with(rid, rname, NULL, 0, it, round, 0, NULL, ai, NULL);
        check_body_with(rname, rid, (const char *const *)tags, ntags, it, INT64_MAX, round,
                        NULL, ai, NULL);
        check_body_with(rid, NULL, NULL, 0, it, INT64_MIN, -1, &m, ai, NULL);
        check_body_with(rid, rname, (const char *const *)tags, ntags, it, round, round, NULL,
                        ai, ar);
        /* one rule part kept across all the items */
        check_body_with("r\x01\xff\"", "rule \xe2\x80\xa8 one", kept_tags, 2, it, round,
                        round, round % 2 ? &m : NULL, ai, kept);
        alert_item_free(&ai);
        alert_rule_free(&ar);
        for (size_t k = 0; k < ntags; k++)
            free(tags[k]);
        for (size_t k = 0; k < nterms; k++) {
            free(terms[k]);
            free(fields[k]);
        }
        free(rid);
        free(rname);
        free(snippet);
        item_free(&it);
    }
    alert_rule_free(&kept);
}

/* Every combination of the parts a body may have or lack: rule id and name
 * (absent, empty, with escapes), tags (none, one empty, two), `matched`
 * (absent, no terms and no snippet, terms with an absent field), the item's
 * strings (all absent: an empty "item" object, all empty, all set),
 * published (unknown, the epoch, a date) and the summary (none, empty with
 * the content standing in, set, only spaces, huge with escapes and
 * multi-byte characters around the cut).  Each spliced body must be the
 * reference's bytes (check_body_with). */
static void test_build_combinations(void **state)
{
    const char *const ids[] = {NULL, "", "r\"1\\"};
    const char *const names[] = {NULL, "", "Name \xe2\x80\xa8"};
    const char *const tags2[] = {"", "t\x01\xff"};
    const char *const terms[] = {"quake", "\"tokyo\""};
    const char *const fields[] = {"title", NULL};
    const struct alert_matched ms[] = {
        {0, NULL, NULL, NULL},
        {2, terms, fields, ""},
        {1, terms + 1, fields, "a [quake] \x7f"},
    };
    const char *const values[] = {NULL, "", "v\t\"\xc3\xa9"};
    char *huge = malloc(6001);
    struct item *it = item_new();
    int n = 0;

    (void)state;
    assert_non_null(huge);
    assert_non_null(it);
    for (size_t k = 0; k < 6000; k++)
        huge[k] = "ab\"\x01 \xc3\xa9 "[k % 8];
    huge[6000] = '\0';
    for (int id = 0; id < 3; id++)
        for (int nm = 0; nm < 3; nm++)
            for (int tg = 0; tg < 3; tg++)
                for (int mt = 0; mt < 4; mt++)
                    for (int iv = 0; iv < 3; iv++)
                        for (int pb = 0; pb < 3; pb++)
                            for (int sm = 0; sm < 5; sm++) {
                                char **slots[] = {&it->id, &it->title, &it->link, &it->feed,
                                                  &it->feed_title};
                                const char *summary =
                                    sm == 0 || sm == 1 ? (sm == 1 ? "" : NULL)
                                    : sm == 2          ? "A \"strong\" quake\n shook it."
                                    : sm == 3          ? "  \t "
                                                       : huge;

                                for (size_t k = 0; k < 5; k++)
                                    assert_int_equal(item_set(slots[k], values[iv]), 0);
                                assert_int_equal(item_set(&it->summary, summary), 0);
                                assert_int_equal(item_set(&it->content, sm == 1 ? "Body" : NULL),
                                                 0);
                                it->published = pb == 0   ? ITEM_TIME_UNKNOWN
                                                : pb == 1 ? 0
                                                          : 1739374200;
                                check_body(ids[id], names[nm], tg == 0 ? NULL : tags2,
                                           (size_t)tg, it, n, n, mt == 0 ? NULL : &ms[mt - 1]);
                                n++;
                            }
    assert_int_equal(n, 3 * 3 * 3 * 4 * 3 * 3 * 5);
    item_free(&it);
    free(huge);
}

/* Every byte value, one at a time and all together, and huge strings: long
 * runs of plain ASCII, of escapes (more than the builder's first buffer
 * allows for) and of multi-byte text, around the summary's cut. */
static void test_build_bytes_and_huge(void **state)
{
    struct item *it = make_item();
    const char *const tags[] = {"t\x01", "\xff"};
    char one[4], all[256];
    size_t sizes[] = {1023, 1024, 1025, 4096, 300000};
    const char *fills[] = {"a", " ", "\"", "\x01", "\xc3\xa9", "\xff", "ab \n"};

    (void)state;
    for (int c = 1; c < 256; c++) {
        one[0] = 'x';
        one[1] = (char)c;
        one[2] = 'y';
        one[3] = '\0';
        all[c - 1] = (char)c;
        assert_int_equal(item_set(&it->title, one), 0);
        assert_int_equal(item_set(&it->summary, one), 0);
        check_body(one, one, tags, 2, it, c, c, NULL);
    }
    all[255] = '\0';
    assert_int_equal(item_set(&it->title, all), 0);
    assert_int_equal(item_set(&it->summary, all), 0);
    check_body("r", all, tags, 2, it, 1, 0, NULL);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
            size_t fl = strlen(fills[f]), n = sizes[i] / fl;
            char *huge = malloc(n * fl + 1);

            assert_non_null(huge);
            for (size_t k = 0; k < n; k++)
                memcpy(huge + k * fl, fills[f], fl);
            huge[n * fl] = '\0';
            assert_int_equal(item_set(&it->title, huge), 0);
            assert_int_equal(item_set(&it->summary, huge), 0);
            check_body(huge, "name", NULL, 0, it, 5, 0, NULL);
            /* no summary: the content stands in */
            item_free(&it);
            it = make_item();
            free(it->summary);
            it->summary = NULL;
            assert_int_equal(item_set(&it->content, huge), 0);
            check_body("r", "n", NULL, 0, it, 6, 0, NULL);
            free(huge);
        }
    }
    item_free(&it);
}

/* The summary of a long text is cleaned only up to the cut and cut in
 * place (alert_summary_bounded): around the cut, every shape of text must
 * give the reference's bytes - hostile pieces in texts of 900 to 1300
 * bytes, a multi-byte character or a run of spaces at every offset near
 * byte 1024, exactly 1024 bytes followed by whitespace only, text that
 * folds down to the limit, and a summary or the content standing in. */
static void test_summary_bounded(void **state)
{
    const char *const marks[] = {"\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x98\x80", " ",
                                 "   ", "\t\n ", "\xff", "\xc3", "\xe2\x80\xa8"};
    struct item *it = make_item();
    unsigned long st = 777;
    char buf[4096];

    (void)state;
    for (int round = 0; round < 600; round++) {
        size_t target = 900 + hostile_rand(&st) % 400, len = 0;

        while (len < target) {
            const char *p = hostile_rand(&st) % 3 == 0
                                ? hostile_pieces[hostile_rand(&st) %
                                                 (sizeof(hostile_pieces) / sizeof(hostile_pieces[0]))]
                                : (hostile_rand(&st) % 2 ? "word " : "x");
            size_t pl = strlen(p);

            memcpy(buf + len, p, pl);
            len += pl;
        }
        buf[len] = '\0';
        assert_int_equal(item_set(&it->summary, round % 2 ? buf : NULL), 0);
        assert_int_equal(item_set(&it->content, buf), 0);
        check_body("r", "n", NULL, 0, it, round, 0, NULL);
    }
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
        size_t ml = strlen(marks[m]);

        for (size_t at = 1000; at < 1030; at++) {
            for (size_t k = 0; k < sizeof(buf) - 1; k++)
                buf[k] = (k % 7 == 6) ? ' ' : 'a';
            memcpy(buf + at, marks[m], ml);
            buf[at + ml + hostile_rand(&st) % 40] = '\0';
            assert_int_equal(item_set(&it->summary, buf), 0);
            check_body("r", "n", NULL, 0, it, (int64_t)at, 0, NULL);
            /* no space to cut at: one long word */
            for (size_t k = 0; k < at; k++)
                buf[k] = 'b';
            assert_int_equal(item_set(&it->summary, buf), 0);
            check_body("r", "n", NULL, 0, it, (int64_t)at, 0, NULL);
        }
    }
    /* one space (or two) anywhere before the cut: kept or not as the cut
     * point's rule says (in its final quarter) */
    for (size_t at = 0; at < 1100; at += 3) {
        memset(buf, 'e', 1500);
        buf[1500] = '\0';
        buf[at] = ' ';
        if (at % 2 == 0 && at > 10)
            buf[at - 9] = ' ';
        assert_int_equal(item_set(&it->summary, buf), 0);
        check_body("r", "n", NULL, 0, it, (int64_t)at, 0, NULL);
    }
    /* exactly ALERT_SUMMARY_MAX bytes, then only whitespace: not cut */
    memset(buf, 'c', ALERT_SUMMARY_MAX);
    memcpy(buf + ALERT_SUMMARY_MAX, " \t\n  \r\n ", 8);
    buf[ALERT_SUMMARY_MAX + 8] = '\0';
    assert_int_equal(item_set(&it->summary, buf), 0);
    check_body("r", "n", NULL, 0, it, 1, 0, NULL);
    /* 3000 bytes that fold to fewer than ALERT_SUMMARY_MAX */
    for (size_t k = 0; k < 3000; k++)
        buf[k] = k % 3 == 0 ? 'd' : ' ';
    buf[3000] = '\0';
    assert_int_equal(item_set(&it->summary, buf), 0);
    check_body("r", "n", NULL, 0, it, 2, 0, NULL);
    item_free(&it);
}

/* Short strings' texts are kept per thread and reused (the builder's
 * memo): strings that come back, in every field, in random order, many
 * more of them than the memo holds (so slots are taken over), pairs that
 * differ in one byte or only in length, 63 to 65 bytes, and strings whose
 * escapes make a text too long to keep - every body the reference's bytes. */
static void test_build_memo(void **state)
{
    enum { NSTR = 700 };
    char *strs[NSTR];
    unsigned long st = 4242;
    struct item *it = make_item();
    size_t k;

    (void)state;
    for (k = 0; k < NSTR; k++) {
        if (k < 400) {
            strs[k] = hostile_string(&st, 6, 0);
        } else if (k < 600) {
            /* pairs: a byte changed, a byte more */
            size_t n = 1 + hostile_rand(&st) % 64;

            strs[k] = malloc(n + 2);
            assert_non_null(strs[k]);
            for (size_t i = 0; i < n; i++)
                strs[k][i] = (char)(k % 2 == 0 ? 'a' + i % 26 : 'a' + (i + (i == n / 2)) % 26);
            strs[k][n] = k % 4 == 1 ? '\xff' : '\0';
            strs[k][n + 1] = '\0';
        } else {
            /* 63 to 65 bytes of escapes, of plain text, of both */
            size_t n = 63 + k % 3;

            strs[k] = malloc(n + 1);
            assert_non_null(strs[k]);
            for (size_t i = 0; i < n; i++)
                strs[k][i] = (k / 3) % 3 == 0 ? '\x01' : (k / 3) % 3 == 1 ? 'q' : "\"x\\"[i % 3];
            strs[k][n] = '\0';
        }
    }
    for (int round = 0; round < 3000; round++) {
        const char *terms[3], *fields[3];
        struct alert_matched m;

        for (int t = 0; t < 3; t++) {
            terms[t] = strs[hostile_rand(&st) % NSTR];
            fields[t] = strs[hostile_rand(&st) % NSTR];
        }
        m.nterms = 3;
        m.terms = terms;
        m.fields = fields;
        m.snippet = strs[hostile_rand(&st) % NSTR];
        assert_int_equal(item_set(&it->feed, strs[hostile_rand(&st) % NSTR]), 0);
        assert_int_equal(item_set(&it->feed_title, strs[hostile_rand(&st) % NSTR]), 0);
        assert_int_equal(item_set(&it->title, strs[hostile_rand(&st) % NSTR]), 0);
        check_body(strs[hostile_rand(&st) % NSTR], strs[hostile_rand(&st) % NSTR], NULL, 0, it,
                   round, 0, &m);
    }
    for (k = 0; k < NSTR; k++)
        free(strs[k]);
    item_free(&it);
}

/* A table of rule parts filled by several threads at once: each part is
 * built once (every thread gets the same one) and every body built around
 * it is the reference's bytes. */
#define RULES_N 40
#define RULES_THREADS 4

struct rules_run {
    struct alert_rules *table;
    char *ids[RULES_N];
    const struct alert_rule *got[RULES_N];
    const struct item *it;
    int start, failed;
};

static void *rules_thread(void *arg)
{
    struct rules_run *run = arg;
    struct alert_item *ai = alert_item_new(run->it);
    const char *const tags[] = {"t\x01", "\xff"};
    const char *const terms[] = {"quake"};
    const char *const fields[] = {"title"};
    const struct alert_matched m = {1, terms, fields, "[quake] \xc3"};

    if (ai == NULL) {
        run->failed = 1;
        return NULL;
    }
    for (int k = 0; k < RULES_N * 3; k++) {
        int i = (run->start + k * 7) % RULES_N;
        const struct alert_rule *ar =
            alert_rules_get(run->table, (size_t)i, run->ids[i], "name \"n\"", tags, (size_t)i % 3);
        char *body, *ref;
        size_t len = 0;

        if (ar == NULL) {
            run->failed = 1;
            break;
        }
        if (run->got[i] != NULL && run->got[i] != ar)
            run->failed = 1;
        run->got[i] = ar;
        body = alert_build_parts(ar, ai, k, 1000 + k, i % 2 ? &m : NULL, &len);
        ref = alert_build_matched(run->ids[i], "name \"n\"", tags, (size_t)i % 3, run->it, k,
                                  1000 + k, i % 2 ? &m : NULL);
        if (body == NULL || ref == NULL || len != strlen(ref) || strcmp(body, ref) != 0)
            run->failed = 1;
        free(body);
        free(ref);
    }
    alert_item_free(&ai);
    return NULL;
}

static void test_rules_table(void **state)
{
    struct rules_run runs[RULES_THREADS];
    pthread_t th[RULES_THREADS];
    struct alert_rules *table = alert_rules_new(RULES_N);
    struct item *it = make_item();
    char *ids[RULES_N];

    (void)state;
    assert_non_null(table);
    for (int i = 0; i < RULES_N; i++) {
        ids[i] = malloc(32);
        assert_non_null(ids[i]);
        snprintf(ids[i], 32, "rule-%d\t\xe2\x80\xa8", i);
    }
    for (int t = 0; t < RULES_THREADS; t++) {
        memset(&runs[t], 0, sizeof(runs[t]));
        runs[t].table = table;
        memcpy(runs[t].ids, ids, sizeof(ids));
        runs[t].it = it;
        runs[t].start = t * 11;
        assert_int_equal(pthread_create(&th[t], NULL, rules_thread, &runs[t]), 0);
    }
    for (int t = 0; t < RULES_THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_false(runs[t].failed);
    }
    /* one part per rule, whichever thread built it, and the same later */
    for (int i = 0; i < RULES_N; i++) {
        for (int t = 1; t < RULES_THREADS; t++)
            assert_ptr_equal(runs[t].got[i], runs[0].got[i]);
        assert_ptr_equal(alert_rules_get(table, (size_t)i, "other", "other", NULL, 0),
                         runs[0].got[i]);
        free(ids[i]);
    }
    /* an index past the table is refused, not read out of bounds */
    assert_null(alert_rules_get(table, RULES_N, "x", "x", NULL, 0));
    assert_null(alert_rules_get(table, SIZE_MAX, "x", "x", NULL, 0));
    alert_rules_free(&table);
    assert_null(table);
    alert_rules_free(&table); /* NULL-safe */
    /* an empty table */
    table = alert_rules_new(0);
    assert_non_null(table);
    assert_null(alert_rules_get(table, 0, "x", "x", NULL, 0));
    alert_rules_free(&table);
    item_free(&it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_fields),
        cmocka_unit_test(test_build_published_unknown),
        cmocka_unit_test(test_build_repairs_utf8),
        cmocka_unit_test(test_summary_cut_utf8),
        cmocka_unit_test(test_summary_cut_word),
        cmocka_unit_test(test_render_plain),
        cmocka_unit_test(test_render_long_summary),
        cmocka_unit_test(test_render_strips_controls),
        cmocka_unit_test(test_render_partial_and_invalid),
        cmocka_unit_test(test_seq),
        cmocka_unit_test(test_build_hostile),
        cmocka_unit_test(test_build_bytes_and_huge),
        cmocka_unit_test(test_build_combinations),
        cmocka_unit_test(test_summary_bounded),
        cmocka_unit_test(test_build_memo),
        cmocka_unit_test(test_rules_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

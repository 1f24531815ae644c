/*
 * test_alert.c - the alert body (alert_build) and its terminal rendering
 * (alert_render_text), including hostile bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert.h"
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

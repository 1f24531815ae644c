/*
 * test_item.c - unit tests for common/item.c: the item model and its JSON
 * form (the fetcher -> matcher wire payload and the ITEMS.jsonl line format).
 *
 * item_from_json reads untrusted input, so most tests feed it bad objects and
 * check the message and the line:column of the offending key or value.
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

#include "item.h"
#include "testutil.h"

#define T_2004 INT64_C(1073012645) /* 2004-01-02T03:04:05Z */

/* --- helpers ------------------------------------------------------------- */

static struct item *from_json_ok(const char *text)
{
    struct item *it = NULL;
    na_error err;

    na_error_clear(&err);
    if (item_from_json(text, strlen(text), &it, &err) != 0)
        fail_msg("item_from_json(%s): %s", text, err.msg);
    assert_non_null(it);
    return it;
}

/* `text` must be rejected with a message containing `needle`, at line:col
 * (0:0 when the position is not known). */
static void from_json_fails(const char *text, int line, int col, const char *needle)
{
    struct item *it = (struct item *)1;
    char prefix[32];
    na_error err;

    na_error_clear(&err);
    if (item_from_json(text, strlen(text), &it, &err) == 0)
        fail_msg("accepted: %s", text);
    assert_null(it);
    if (err.line != line || err.column != col)
        fail_msg("%s: position %d:%d, expected %d:%d (%s)", text, err.line, err.column, line,
                 col, err.msg);
    if (line > 0) {
        snprintf(prefix, sizeof(prefix), "%d:%d: ", line, col);
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
            fail_msg("'%s' does not start with '%s'", err.msg, prefix);
    }
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' does not say '%s'", err.msg, needle);
    /* a NULL error report is allowed */
    assert_int_equal(item_from_json(text, strlen(text), &it, NULL), -1);
    assert_null(it);
}

static struct item *full_item(void)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "tag:example.org,2004:story/1"), 0);
    assert_int_equal(item_set(&it->title, "Zelensky: \"no\" to concessions \\ ceasefire"), 0);
    assert_int_equal(item_set(&it->summary, "Kyiv says no — «никаких уступок».\nSecond line\t."), 0);
    assert_int_equal(item_set(&it->content, "Body with <not markup> & ünïcödé, emoji \xF0\x9F\x93\xB0"), 0);
    assert_int_equal(item_set(&it->link, "https://example.org/story/1?a=1&b=2"), 0);
    assert_int_equal(item_set(&it->feed, "https://example.org/feed.xml"), 0);
    assert_int_equal(item_set(&it->feed_title, "Example World"), 0);
    assert_int_equal(item_set(&it->author, "Jane O'Reilly"), 0);
    assert_int_equal(item_add_category(it, "Ukraine"), 0);
    assert_int_equal(item_add_category(it, "War in Europe"), 0);
    assert_int_equal(item_add_category(it, ""), 0);
    it->published = T_2004;
    return it;
}

/* --- the model --------------------------------------------------------------- */

static void test_new_free(void **state)
{
    struct item *it = item_new();

    (void)state;
    assert_non_null(it);
    assert_null(it->id);
    assert_null(it->title);
    assert_null(it->summary);
    assert_null(it->content);
    assert_null(it->link);
    assert_null(it->feed);
    assert_null(it->feed_title);
    assert_null(it->author);
    assert_null(it->categories);
    assert_int_equal(it->ncategories, 0);
    assert_true(it->published == ITEM_TIME_UNKNOWN);
    item_free(&it);
    assert_null(it);
    item_free(&it);
    item_free(NULL);
}

static void test_set_and_categories(void **state)
{
    struct item *it = item_new();
    char name[32];
    int i;

    (void)state;
    assert_int_equal(item_set(&it->title, "first"), 0);
    assert_string_equal(it->title, "first");
    assert_int_equal(item_set(&it->title, "second"), 0);
    assert_string_equal(it->title, "second");
    assert_int_equal(item_set(&it->title, it->title), 0); /* its own value */
    assert_string_equal(it->title, "second");
    assert_int_equal(item_set(&it->title, NULL), 0);
    assert_null(it->title);
    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "cat-%d", i);
        assert_int_equal(item_add_category(it, name), 0);
    }
    assert_int_equal(it->ncategories, 100);
    assert_string_equal(it->categories[0], "cat-0");
    assert_string_equal(it->categories[99], "cat-99");
    item_free(&it);
}

/* --- item_to_json ---------------------------------------------------------------- */

static void test_to_json_minimal(void **state)
{
    struct item *it = item_new();
    char *json;

    (void)state;
    assert_int_equal(item_set(&it->id, "a"), 0);
    json = item_to_json(it);
    assert_non_null(json);
    /* absent fields, no categories and an unknown date are left out */
    assert_string_equal(json, "{\"id\":\"a\"}");
    free(json);
    item_free(&it);
}

static void test_to_json_fields(void **state)
{
    struct item *it = full_item();
    json_t *root, *cats;
    char *json = item_to_json(it);

    (void)state;
    assert_non_null(json);
    assert_null(strchr(json, '\n')); /* compact: one line */
    root = json_loads(json, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "id")), it->id);
    assert_string_equal(json_string_value(json_object_get(root, "title")), it->title);
    assert_string_equal(json_string_value(json_object_get(root, "summary")), it->summary);
    assert_string_equal(json_string_value(json_object_get(root, "content")), it->content);
    assert_string_equal(json_string_value(json_object_get(root, "link")), it->link);
    assert_string_equal(json_string_value(json_object_get(root, "feed")), it->feed);
    assert_string_equal(json_string_value(json_object_get(root, "feed_title")), it->feed_title);
    assert_string_equal(json_string_value(json_object_get(root, "author")), it->author);
    assert_string_equal(json_string_value(json_object_get(root, "published")),
                        "2004-01-02T03:04:05Z");
    cats = json_object_get(root, "categories");
    assert_true(json_is_array(cats));
    assert_int_equal(json_array_size(cats), 3);
    assert_string_equal(json_string_value(json_array_get(cats, 1)), "War in Europe");
    assert_int_equal(json_object_size(root), 10);
    json_decref(root);
    free(json);
    item_free(&it);
}

/* --- round trips ------------------------------------------------------------------ */

static void test_round_trip_full(void **state)
{
    struct item *it = full_item(), *back = NULL;
    char *json = item_to_json(it), *again;
    na_error err;

    (void)state;
    assert_non_null(json);
    assert_int_equal(item_from_json(json, strlen(json), &back, &err), 0);
    testutil_assert_same_item(it, back);
    /* and the second trip gives the same bytes */
    again = item_to_json(back);
    assert_string_equal(again, json);
    free(again);
    free(json);
    item_free(&back);
    item_free(&it);
}

static void test_round_trip_sparse(void **state)
{
    static const int64_t times[] = {0, -1, T_2004, INT64_C(1709251199), INT64_C(253402300799)};
    struct item *it = item_new(), *back = NULL;
    na_error err;
    size_t i;
    char *json;

    (void)state;
    assert_int_equal(item_set(&it->id, "only-id"), 0);
    assert_int_equal(item_set(&it->link, "https://example.org/x"), 0);
    json = item_to_json(it);
    assert_int_equal(item_from_json(json, strlen(json), &back, &err), 0);
    testutil_assert_same_item(it, back);
    assert_true(back->published == ITEM_TIME_UNKNOWN);
    free(json);
    item_free(&back);
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        it->published = times[i];
        json = item_to_json(it);
        assert_non_null(json);
        assert_int_equal(item_from_json(json, strlen(json), &back, &err), 0);
        if (back->published != times[i])
            fail_msg("published %lld came back as %lld (%s)", (long long)times[i],
                     (long long)back->published, json);
        free(json);
        item_free(&back);
    }
    item_free(&it);
}

static void test_published_forms(void **state)
{
    struct item *it;

    (void)state;
    it = from_json_ok("{\"id\": \"a\", \"published\": 1073012645}");
    assert_true(it->published == T_2004);
    item_free(&it);
    it = from_json_ok("{\"id\": \"a\", \"published\": -86400}");
    assert_true(it->published == -86400);
    item_free(&it);
    it = from_json_ok("{\"id\": \"a\", \"published\": \"2004-01-02T03:04:05Z\"}");
    assert_true(it->published == T_2004);
    item_free(&it);
    it = from_json_ok("{\"id\": \"a\", \"published\": \"2024-03-01T01:00:00+02:00\"}");
    assert_true(it->published == INT64_C(1709247600));
    item_free(&it);
    it = from_json_ok("{\"id\": \"a\", \"published\": \"Fri, 02 Jan 2004 03:04:05 GMT\"}");
    assert_true(it->published == T_2004);
    item_free(&it);
    it = from_json_ok("{\"id\": \"a\", \"published\": null}");
    assert_true(it->published == ITEM_TIME_UNKNOWN);
    item_free(&it);
}

static void test_from_json_nulls_and_order(void **state)
{
    /* null text fields are absent; keys may come in any order */
    struct item *it = from_json_ok("{\"title\": null, \"categories\": [\"b\", \"a\"],\n"
                                   " \"author\": \"x\", \"id\": \"z\", \"summary\": null}");

    (void)state;
    assert_string_equal(it->id, "z");
    assert_null(it->title);
    assert_null(it->summary);
    assert_string_equal(it->author, "x");
    assert_int_equal(it->ncategories, 2);
    assert_string_equal(it->categories[0], "b");
    assert_string_equal(it->categories[1], "a");
    item_free(&it);
    it = from_json_ok("{\"id\": \"z\", \"categories\": []}");
    assert_int_equal(it->ncategories, 0);
    item_free(&it);
}

/* --- bad input ---------------------------------------------------------------- */

static void test_unknown_key(void **state)
{
    (void)state;
    from_json_fails("{\"id\": \"a\",\n  \"titel\": \"x\"}", 2, 3, "unknown item key 'titel'");
    from_json_fails("{\"id\": \"a\", \"Title\": \"x\"}", 1, 13, "unknown item key 'Title'");
    from_json_fails("{\"extra\": {}, \"id\": \"a\"}", 1, 2, "unknown item key 'extra'");
    /* a key the locator cannot address is still named */
    from_json_fails("{\"id\": \"a\", \"categories\": [\"x\"], \"categories[0]\": 1}", 0, 0,
                    "unknown item key 'categories[0]'");
    from_json_fails("{\"id\": \"a\", \"id.x\": 1}", 0, 0, "unknown item key 'id.x'");
}

static void test_missing_id(void **state)
{
    (void)state;
    from_json_fails("{\"title\": \"x\"}", 1, 1, "item has no 'id'");
    from_json_fails("  {}", 1, 3, "item has no 'id'");
    from_json_fails("{\"title\": \"x\", \"id\": null}", 1, 1, "item has no 'id'");
    from_json_fails("{\"title\": \"x\",\n \"id\": \"\"}", 2, 2, "item has no 'id'");
}

static void test_wrong_types(void **state)
{
    (void)state;
    from_json_fails("{\"id\": 5}", 1, 2, "item key 'id' must be a string");
    from_json_fails("{\"id\": \"a\", \"title\": [\"x\"]}", 1, 13, "item key 'title' must be a string");
    from_json_fails("{\"id\": \"a\", \"link\": true}", 1, 13, "item key 'link' must be a string");
    from_json_fails("{\"id\": \"a\", \"feed\": {}}", 1, 13, "item key 'feed' must be a string");
    from_json_fails("{\"id\": \"a\",\n\"author\": 1.5}", 2, 1, "item key 'author' must be a string");
    from_json_fails("{\"id\": \"a\", \"categories\": \"x\"}", 1, 13,
                    "item key 'categories' must be an array of strings");
    from_json_fails("{\"id\": \"a\", \"categories\": null}", 1, 13,
                    "item key 'categories' must be an array of strings");
    from_json_fails("{\"id\": \"a\", \"categories\": [\"x\", 2]}", 1, 33,
                    "item categories[1] must be a string");
    from_json_fails("{\"id\": \"a\", \"categories\": [[\"x\"]]}", 1, 28,
                    "item categories[0] must be a string");
    from_json_fails("{\"id\": \"a\", \"published\": true}", 1, 13,
                    "item key 'published' must be a date string or epoch seconds");
    from_json_fails("{\"id\": \"a\", \"published\": 1.5e9}", 1, 13,
                    "item key 'published' must be a date string or epoch seconds");
    from_json_fails("{\"id\": \"a\", \"published\": \"yesterday\"}", 1, 13,
                    "item key 'published' is not a date: 'yesterday'");
    from_json_fails("{\"id\": \"a\", \"published\": \"\"}", 1, 13,
                    "item key 'published' is not a date");
    from_json_fails("{\"id\": \"a\", \"published\": \"2024-02-30T00:00:00Z\"}", 1, 13,
                    "item key 'published' is not a date");
}

static void test_invalid_json(void **state)
{
    struct item *it = NULL;
    const char buf[] = "{\"id\": \"a\"}{\"id\": \"b\"}";
    na_error err;

    (void)state;
    from_json_fails("{\"id\": \"a\"", 1, 10, "invalid JSON");
    from_json_fails("{\"id\": \"a\",\n\n  ]", 3, 3, "invalid JSON");
    from_json_fails("", 1, 0, "invalid JSON");
    from_json_fails("\"id\"", 1, 4, "invalid JSON");
    from_json_fails("{\"id\": \"a\", \"id\": \"b\"}", 1, 16, "invalid JSON");
    from_json_fails("{\"id\": \"a\\u0000b\"}", 1, 17, "invalid JSON");
    from_json_fails("{\"id\": \"\xc3\x28\"}", 1, 8, "invalid JSON");
    from_json_fails("[{\"id\": \"a\"}]", 1, 1, "an item must be a JSON object");
    from_json_fails("\n [1]", 2, 2, "an item must be a JSON object");
    /* only len bytes are read: the first object alone is fine */
    assert_int_equal(item_from_json(buf, 11, &it, &err), 0);
    assert_string_equal(it->id, "a");
    item_free(&it);
    assert_int_equal(item_from_json(buf, strlen(buf), &it, &err), -1);
    assert_null(it);
    /* a buffer that is not NUL-terminated at len */
    assert_int_equal(item_from_json(buf, 10, &it, &err), -1);
    assert_null(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test(test_set_and_categories),
        cmocka_unit_test(test_to_json_minimal),
        cmocka_unit_test(test_to_json_fields),
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_round_trip_sparse),
        cmocka_unit_test(test_published_forms),
        cmocka_unit_test(test_from_json_nulls_and_order),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_missing_id),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_invalid_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

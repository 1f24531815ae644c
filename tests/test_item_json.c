/*
 * test_item_json.c - item_to_json (jansson on its fast paths: strings
 * checked as UTF-8 by item.c and handed over with json_stringn_nocheck,
 * constant keys with json_object_set_new_nocheck, one json_dumpb into a
 * buffer sized from the fields) against the plain jansson serialiser it
 * must equal (json_string per field, json_dumps with JSON_COMPACT), built
 * here.  On hostile strings - every control character, quotes and
 * backslashes, every UTF-8 length and its boundaries, invalid UTF-8 of
 * every kind (every two-byte pair, the three- and four-byte forms around
 * their limits), random bytes, fields of megabytes with and without
 * escapes - both must give the same bytes or both refuse (item_to_json's
 * own UTF-8 check must agree with json_string()'s), and what item_to_json
 * writes must read back through item_from_json unchanged.
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

#include "date.h"
#include "item.h"

/* --- the reference: plain jansson, as item.c serialised before ------------ */

static int ref_put(json_t *obj, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    return json_object_set_new(obj, key, json_string(value));
}

static char *ref_item_to_json(const struct item *it)
{
    char date[DATE_RFC3339_SIZE];
    json_t *obj, *cats;
    char *out = NULL;
    size_t i;
    int rc = 0;

    if ((obj = json_object()) == NULL)
        return NULL;
    rc |= ref_put(obj, "id", it->id);
    rc |= ref_put(obj, "title", it->title);
    rc |= ref_put(obj, "summary", it->summary);
    rc |= ref_put(obj, "content", it->content);
    rc |= ref_put(obj, "link", it->link);
    rc |= ref_put(obj, "feed", it->feed);
    rc |= ref_put(obj, "feed_title", it->feed_title);
    rc |= ref_put(obj, "author", it->author);
    if (it->ncategories > 0) {
        cats = json_array();
        rc |= json_object_set_new(obj, "categories", cats);
        for (i = 0; cats != NULL && i < it->ncategories; i++)
            rc |= json_array_append_new(cats, json_string(it->categories[i]));
    }
    if (it->published != ITEM_TIME_UNKNOWN)
        rc |= ref_put(obj, "published", date_format(it->published, date));
    if (rc == 0)
        out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return out;
}

/* --- helpers ---------------------------------------------------------------- */

static uint64_t rng = UINT64_C(0x2545F4914F6CDD1D);

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Compare both serialisers on it; when they succeed, read the output back
 * and compare every field.  Returns 1 when they succeeded, 0 when both
 * refused. */
static int check_same(const struct item *it)
{
    char *fast = item_to_json(it), *slow = ref_item_to_json(it);
    struct item *back = NULL;
    na_error err;
    size_t i;

    if ((fast == NULL) != (slow == NULL))
        fail_msg("item_to_json %s, plain jansson %s", fast != NULL ? fast : "refused",
                 slow != NULL ? slow : "refused");
    if (fast == NULL)
        return 0;
    if (strcmp(fast, slow) != 0)
        fail_msg("item_to_json and plain jansson differ:\n  %s\n  %s", fast, slow);
    na_error_clear(&err);
    if (item_from_json(fast, strlen(fast), &back, &err) != 0)
        fail_msg("item_from_json refused item_to_json's output: %s", err.msg);
#define SAME(f)                                                                         \
    do {                                                                                \
        if ((it->f == NULL) != (back->f == NULL) ||                                     \
            (it->f != NULL && strcmp(it->f, back->f) != 0))                             \
            fail_msg("field " #f " did not survive the round trip");                   \
    } while (0)
    SAME(id);
    SAME(title);
    SAME(summary);
    SAME(content);
    SAME(link);
    SAME(feed);
    SAME(feed_title);
    SAME(author);
#undef SAME
    assert_int_equal(back->ncategories, it->ncategories);
    for (i = 0; i < it->ncategories; i++)
        assert_string_equal(back->categories[i], it->categories[i]);
    assert_true(back->published == it->published);
    item_free(&back);
    free(fast);
    free(slow);
    return 1;
}

/* An item whose text fields (and one category) are all s. */
static struct item *item_all(const char *s)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "id-1"), 0);
    assert_int_equal(item_set(&it->title, s), 0);
    assert_int_equal(item_set(&it->summary, s), 0);
    assert_int_equal(item_set(&it->author, s), 0);
    assert_int_equal(item_add_category(it, "plain"), 0);
    assert_int_equal(item_add_category(it, s), 0);
    return it;
}

/* --- tests ------------------------------------------------------------------ */

static void test_every_ascii_byte(void **state)
{
    char s[130];
    struct item *it;
    int c;

    (void)state;
    for (c = 1; c < 128; c++)
        s[c - 1] = (char)c;
    s[127] = '\0';
    it = item_all(s);
    assert_int_equal(check_same(it), 1);
    item_free(&it);
    /* each one alone, first and last in the string */
    for (c = 1; c < 128; c++) {
        char one[4] = {(char)c, 'x', (char)c, '\0'};

        it = item_all(one);
        assert_int_equal(check_same(it), 1);
        item_free(&it);
    }
}

static void test_hostile_valid(void **state)
{
    static const char *const cases[] = {
        "",
        "\"quoted\" and \\backslashed\\ and /slashed/ </script>",
        "\\u0000 is not a NUL, \\\" neither",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cquotes\xe2\x80\x9d \xe2\x80\xa8 line sep",
        "\xef\xbf\xbf \xef\xbb\xbf BOM, U+FFFF, \xf0\x9f\x93\xb0 newspaper, \xf4\x8f\xbf\xbf max",
        "\xc2\x80 first 2-byte, \xe0\xa0\x80 first 3-byte, \xf0\x90\x80\x80 first 4-byte",
        "\xed\x9f\xbf before surrogates, \xee\x80\x80 after",
        "\x7f DEL stays as is",
        "tab\there\r\nnewline\fform\bback\x01\x1f\x1b[31m",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct item *it = item_all(cases[i]);

        it->published = INT64_C(1073012645);
        assert_int_equal(check_same(it), 1);
        item_free(&it);
    }
}

static void test_invalid_utf8(void **state)
{
    static const char *const cases[] = {
        "\x80 lone continuation",
        "\xbf",
        "\xc0\x80 overlong NUL",
        "\xc1\xbf overlong",
        "\xe0\x80\x80 overlong 3",
        "\xe0\x9f\xbf overlong 3",
        "\xf0\x80\x80\x80 overlong 4",
        "\xf0\x8f\xbf\xbf overlong 4",
        "\xed\xa0\x80 surrogate",
        "\xed\xbf\xbf surrogate",
        "\xf4\x90\x80\x80 beyond U+10FFFF",
        "\xf5\x80\x80\x80",
        "\xff",
        "\xfe\xff",
        "truncated at the end \xe2\x82",
        "truncated \xe2\x82 in the middle",
        "truncated 4 \xf0\x9f\x93",
        "\xc3 missing continuation",
        "windows-1252 \x93quotes\x94",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct item *it = item_all(cases[i]);

        assert_int_equal(check_same(it), 0);
        item_free(&it);
        /* only in a category */
        it = item_all("fine");
        assert_int_equal(item_add_category(it, cases[i]), 0);
        assert_int_equal(check_same(it), 0);
        item_free(&it);
    }
}

static void test_sparse_fields(void **state)
{
    struct item *it = item_new();
    int mask;

    (void)state;
    /* every subset of some fields present */
    for (mask = 0; mask < 64; mask++) {
        item_free(&it);
        it = item_new();
        assert_int_equal(item_set(&it->id, "x\"y"), 0);
        if (mask & 1)
            assert_int_equal(item_set(&it->title, "T"), 0);
        if (mask & 2)
            assert_int_equal(item_set(&it->link, "https://e.example/a?b=1&c=\"2\""), 0);
        if (mask & 4)
            assert_int_equal(item_set(&it->feed_title, ""), 0);
        if (mask & 8)
            assert_int_equal(item_add_category(it, "c1"), 0);
        if (mask & 16)
            it->published = -INT64_C(86400);
        if (mask & 32)
            assert_int_equal(item_set(&it->content, "\n"), 0);
        assert_int_equal(check_same(it), 1);
    }
    item_free(&it);
}

/* Random strings: random bytes (mostly invalid UTF-8) and random code
 * points (valid), of random lengths. */
static void test_random(void **state)
{
    char s[200];
    int round, valid = 0, refused = 0;

    (void)state;
    for (round = 0; round < 4000; round++) {
        size_t n = 0, len = rnd() % 60;
        struct item *it;

        while (n < len && n + 5 < sizeof(s)) {
            uint32_t r = rnd();

            if (round % 2 == 0) {
                s[n++] = (char)(1 + r % 255);
                continue;
            }
            switch (r % 5) {
            case 0: s[n++] = (char)(1 + (r >> 8) % 127); break;
            case 1: { unsigned cp = 0x80 + (r >> 8) % 0x780;
                s[n++] = (char)(0xC0 | cp >> 6); s[n++] = (char)(0x80 | (cp & 0x3F)); break; }
            case 2: { unsigned cp = 0x800 + (r >> 8) % 0xF800;
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
                s[n++] = (char)(0xE0 | cp >> 12); s[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                s[n++] = (char)(0x80 | (cp & 0x3F)); break; }
            case 3: { unsigned cp = 0x10000 + (r >> 8) % 0x100000;
                s[n++] = (char)(0xF0 | cp >> 18); s[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                s[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); s[n++] = (char)(0x80 | (cp & 0x3F));
                break; }
            default: s[n++] = "\"\\\n\t\x01/"[(r >> 8) % 6]; break;
            }
        }
        s[n] = '\0';
        it = item_all(s);
        if (check_same(it))
            valid++;
        else
            refused++;
        item_free(&it);
    }
    /* both kinds were exercised */
    assert_true(valid > 1000);
    assert_true(refused > 1000);
}

static void test_huge(void **state)
{
    size_t n = 3 * 1024 * 1024, i;
    char *s = malloc(n + 1);
    static const char *const pieces[] = {"abc ", "\xc3\xa9", "\"", "\\", "\n", "\x01",
                                         "\xf0\x9f\x93\xb0", "/"};
    struct item *it;

    (void)state;
    assert_non_null(s);
    for (i = 0; i < n;) {
        const char *p = pieces[rnd() % 8];
        size_t k = strlen(p);

        if (i + k > n)
            break;
        memcpy(s + i, p, k);
        i += k;
    }
    s[i] = '\0';
    it = item_all(s);
    assert_int_equal(item_set(&it->content, s), 0);
    assert_int_equal(check_same(it), 1);
    item_free(&it);
    free(s);
}

/* An item of id and title s: 1 when both serialisers took it, 0 when both
 * refused it. */
static int check_title(const char *s)
{
    struct item *it = item_new();
    int r;

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "id"), 0);
    assert_int_equal(item_set(&it->title, s), 0);
    r = check_same(it);
    item_free(&it);
    return r;
}

/* Every byte pair after a byte >= 0x80, a lead byte cut by the end, and the
 * three- and four-byte forms around each limit (overlong, surrogates,
 * U+10FFFF, lead bytes F5..F7). */
static void test_utf8_exhaustive(void **state)
{
    static const unsigned char tails[] = {0x00, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0};
    int ok = 0, refused = 0;
    unsigned a, b, c, d;

    (void)state;
    for (a = 0x80; a <= 0xFF; a++) {
        char cut[4] = {'x', (char)a, '\0'};

        for (b = 0x01; b <= 0xFF; b++) {
            char s[8] = {'<', (char)a, (char)b, '>', '\0'};

            if (check_title(s))
                ok++;
            else
                refused++;
        }
        assert_int_equal(check_title(cut), 0);
    }
    for (a = 0xE0; a <= 0xF7; a++)
        for (b = 0x70; b <= 0xC0; b++)
            for (c = 0; c < sizeof(tails); c++)
                for (d = 0; d < sizeof(tails); d++) {
                    char s[8] = {'"', (char)a, (char)b, (char)tails[c], (char)tails[d], '"', '\0'};

                    if (tails[c] == 0) /* the string ends after two bytes */
                        s[3] = '\0';
                    if (check_title(s))
                        ok++;
                    else
                        refused++;
                }
    /* U+0080 U+07FF U+0800 U+FFFF U+10000 U+10FFFF: the limits of each length */
    assert_int_equal(check_title("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80"
                                 "\xf4\x8f\xbf\xbf\x7f"),
                     1);
    /* both answers were exercised, many times */
    assert_true(ok > 2000);
    assert_true(refused > 20000);
}

/* Invalid UTF-8 in any one field makes the whole call fail. */
static void test_invalid_each_field(void **state)
{
    struct item *it;
    char **field;
    int f;

    (void)state;
    for (f = 0; f < 8; f++) {
        it = item_new();
        assert_non_null(it);
        assert_int_equal(item_set(&it->id, "id"), 0);
        assert_int_equal(item_set(&it->title, "t"), 0);
        field = f == 0   ? &it->id
                : f == 1 ? &it->title
                : f == 2 ? &it->summary
                : f == 3 ? &it->content
                : f == 4 ? &it->link
                : f == 5 ? &it->feed
                : f == 6 ? &it->feed_title
                         : &it->author;
        assert_int_equal(item_set(field, "ok \xed\xa0\x80 surrogate"), 0);
        assert_int_equal(check_same(it), 0);
        item_free(&it);
    }
}

/* Long fields without escapes (item_to_json's buffer, sized from the
 * fields, is trimmed) and of nothing but escapes (six bytes out per byte
 * in: beyond the slack, so it dumps a second time into the exact size). */
static void test_long_fields(void **state)
{
    size_t n = 1024 * 1024 + 7, i;
    char *s = malloc(n + 1);
    struct item *it;

    (void)state;
    assert_non_null(s);
    for (i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = '\0';
    it = item_all(s);
    it->published = 0;
    assert_int_equal(check_same(it), 1);
    item_free(&it);
    memset(s, 0x1f, n);
    it = item_all(s);
    assert_int_equal(check_same(it), 1);
    item_free(&it);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_ascii_byte), cmocka_unit_test(test_hostile_valid),
        cmocka_unit_test(test_invalid_utf8),     cmocka_unit_test(test_sparse_fields),
        cmocka_unit_test(test_random),           cmocka_unit_test(test_huge),
        cmocka_unit_test(test_utf8_exhaustive),  cmocka_unit_test(test_invalid_each_field),
        cmocka_unit_test(test_long_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_date.c - date parsing (RFC 3339 family by hand, RFC 822 family via
 * curl_getdate) and RFC 3339 formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"

#define T_2025_02_12_1530 INT64_C(1739374200) /* 2025-02-12T15:30:00Z */

static int64_t parse_ok(const char *s)
{
    int64_t t = 0;

    if (date_parse(s, &t) != 0)
        fail_msg("date_parse(\"%s\") failed", s);
    return t;
}

static void test_rfc3339_variants(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2025-02-12T15:30:00Z"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12t15:30:00z"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12T15:30:00.123456Z"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12T16:30:00+01:00"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12T10:30:00-0500"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12T15:30Z"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12 15:30:00"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("  2025-02-12T15:30:00Z\n"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("2025-02-12"), T_2025_02_12_1530 - 15 * 3600 - 30 * 60);
    assert_int_equal(parse_ok("2025-02"), parse_ok("2025-02-01T00:00:00Z"));
    assert_int_equal(parse_ok("20250212T153000Z"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), parse_ok("2024-03-01T00:00:00Z") - 86400);
}

static void test_rfc822_variants(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("Wed, 12 Feb 2025 15:30:00 GMT"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("Wed, 12 Feb 2025 15:30:00 +0000"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("Wed, 12 Feb 2025 10:30:00 -0500"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("12 Feb 2025 15:30:00 GMT"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("Wed, 12 Feb 2025 10:30:00 EST"), T_2025_02_12_1530);
    assert_int_equal(parse_ok("Wednesday, 12-Feb-25 15:30:00 GMT"), T_2025_02_12_1530);
}

static void test_invalid_dates(void **state)
{
    int64_t t = 42;

    (void)state;
    assert_int_equal(date_parse(NULL, &t), -1);
    assert_int_equal(date_parse("", &t), -1);
    assert_int_equal(date_parse("   ", &t), -1);
    assert_int_equal(date_parse("not a date", &t), -1);
    assert_int_equal(date_parse("12", &t), -1);
    assert_int_equal(date_parse("2023-02-29T00:00:00Z", &t), -1);
    assert_int_equal(date_parse("2025-13-01", &t), -1);
    assert_int_equal(date_parse("2025-02-12T25:00:00Z", &t), -1);
    assert_int_equal(date_parse("2025-02-12T15:61:00Z", &t), -1);
    assert_int_equal(date_parse("2025-02-12T15:30:00+25:00", &t), -1);
    assert_int_equal(date_parse("2025-02-12T15:30:00Zjunk", &t), -1);
    assert_int_equal(t, 42); /* untouched on failure */
}

static void test_format(void **state)
{
    char buf[DATE_RFC3339_SIZE];

    (void)state;
    assert_string_equal(date_format(T_2025_02_12_1530, buf), "2025-02-12T15:30:00Z");
    assert_string_equal(date_format(0, buf), "1970-01-01T00:00:00Z");
    assert_string_equal(date_format(-1, buf), "1969-12-31T23:59:59Z");
    assert_string_equal(date_format(951782400, buf), "2000-02-29T00:00:00Z");
    /* round trip */
    assert_int_equal(parse_ok(date_format(1234567890, buf)), 1234567890);
    /* out of range values are clamped, never garbage */
    assert_string_equal(date_format(INT64_C(400000000000), buf), "9999-12-31T23:59:59Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_variants),
        cmocka_unit_test(test_rfc822_variants),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

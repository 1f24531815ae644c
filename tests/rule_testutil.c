/*
 * rule_testutil.c - assertions shared by the rule-language unit tests
 * (see rule_testutil.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rule.h"
#include "rule_testutil.h"

void rule_assert_tree(const char *query, const char *want)
{
    struct rule_expr *e = NULL;
    na_error err;
    char *s;

    na_error_clear(&err);
    if (rule_compile(query, &e, &err) != 0)
        fail_msg("query '%s' rejected: %s", query, err.msg);
    s = rule_expr_format(e);
    assert_non_null(s);
    if (strcmp(s, want) != 0)
        fail_msg("query '%s': got %s, want %s", query, s, want);
    free(s);
    rule_expr_free(&e);
    assert_null(e);
}

void rule_assert_error(const char *query, int column, const char *problem)
{
    struct rule_expr *e = (struct rule_expr *)&e; /* must be reset to NULL */
    char want[256];
    na_error err;

    na_error_clear(&err);
    assert_int_equal(rule_compile(query, &e, &err), -1);
    assert_null(e);
    snprintf(want, sizeof(want), "col %d: %s", column, problem);
    if (err.column != column || strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("query '%s': got column %d \"%s\", want \"%s...\"", query, err.column,
                 err.msg, want);
    assert_int_equal(err.line, 0);
}

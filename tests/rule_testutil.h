/*
 * rule_testutil.h - assertions shared by the rule-language unit tests
 * (test_rule.c, test_rule_lang.c).
 */
#ifndef NA_RULE_TESTUTIL_H
#define NA_RULE_TESTUTIL_H

/* `query` compiles, and rule_expr_format() of it is exactly `want`. */
void rule_assert_tree(const char *query, const char *want);

/* `query` is rejected at 1-based `column` with a message that starts
 * "col COLUMN: PROBLEM"; no tree is returned. */
void rule_assert_error(const char *query, int column, const char *problem);

#endif

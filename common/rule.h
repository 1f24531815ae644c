/*
 * rule.h - the watch-rule language: parse a query, evaluate it on an item.
 *
 * A rule's query says which words a story must (or must not) contain:
 *
 *   Ukraine territorial concessions    every word must appear (implicit AND)
 *   a AND b                            the same, written out
 *   NATO OR EU                         either
 *   NOT Hegseth    -Hegseth            must not appear; NOT / - apply to a
 *                                      word, a phrase or a (group)
 *   "peace agreement"                  the words next to each other, in
 *                                      order, within one field
 *   (NATO OR EU) -Russia               parentheses group
 *
 * Precedence: NOT binds tightest, then OR, then AND; so `a b OR c` means
 * `a AND (b OR c)` and `-a OR b` means `(NOT a) OR b`.  AND, OR and NOT are
 * operators only when written in upper case; `and`, `or`, `not` are words.
 * A `-` is NOT only at the start of a term; inside one it separates words.
 *
 * Words are compared as text.h defines them: case-insensitive,
 * accent-insensitive, and stemmed on both sides (`concessions` matches
 * `concession`); there are no stop words.  Rules look at an item's title,
 * summary and content; a phrase never spans two fields.
 *
 * A term that splits into several words is matched as a phrase: an
 * apostrophe or a hyphen ends a word, so `NATO's` is the phrase "nato s"
 * (it matches "NATO's" and "NATO’s" but not "NATO" alone) and `COVID-19` is
 * the phrase "covid 19".  Write `NATO` to match the word in any form.
 *
 * Rejected, with the 1-based column (in characters of the query) of the
 * problem: an empty query, unbalanced quotes or parentheses, an operator
 * without its operand (`a OR`, `AND b`, `NOT`), an empty phrase or group, a
 * term without any letter or digit (`a , b`), and a query whose terms are
 * all negative at the top level (`-a`, `NOT a -b`), which would match
 * almost every story.
 *
 * The tree (struct rule_expr) is built to grow: the later language adds
 * prefix*, NEAR/n, field: prefixes, /regex/ and a per-rule language as new
 * node kinds or term flags without changing this interface.
 */
#ifndef NEWSALERT_RULE_H
#define NEWSALERT_RULE_H

#include <stddef.h>

#include "error.h"
#include "text.h"

/* Queries longer than this (in bytes) are rejected. */
#define RULE_QUERY_MAX 65536

enum rule_kind {
    RULE_TERM, /* one word, or several consecutive words (a phrase) */
    RULE_AND,
    RULE_OR,
    RULE_NOT   /* exactly one child */
};

/* A compiled query.  Read-only for users; build it with rule_compile(). */
struct rule_expr {
    enum rule_kind kind;
    int column;           /* 1-based column in the query where it starts */
    /* RULE_TERM */
    unsigned fields;      /* bit mask of (1 << TEXT_FIELD_*) it may match in */
    int phrase;           /* written in quotes */
    size_t nwords;        /* >= 1 */
    char **words;         /* folded and stemmed words, in order */
    /* RULE_AND, RULE_OR, RULE_NOT */
    size_t nkids;
    struct rule_expr **kids;
};

/* Compile `query` (UTF-8, NUL-terminated).  On success returns 0 and sets
 * *out (the caller frees it with rule_expr_free).  On a bad query returns -1
 * with err->column set (err->line 0) and err->msg "col C: problem", e.g.
 * "col 12: unbalanced quote"; always of that form, so callers may replace
 * the "col C: " prefix.  Out of memory is -1 with "out of memory". */
int rule_compile(const char *query, struct rule_expr **out, na_error *err);

/* Same, reusing the normaliser `norm` (faster when compiling many rules). */
int rule_compile_norm(struct text_norm *norm, const char *query, struct rule_expr **out,
                      na_error *err);

/* Whether the document matches the rule: 1 or 0. */
int rule_eval(const struct rule_expr *e, const struct text_doc *doc);

/* Free *pe and set it to NULL.  NULL-safe. */
void rule_expr_free(struct rule_expr **pe);

/* The tree in prefix form, for tests and diagnostics:
 *   `a b OR -"c d"` -> (AND a (OR b (NOT "c d")))
 * Words appear stemmed.  The caller frees the string; NULL when out of
 * memory. */
char *rule_expr_format(const struct rule_expr *e);

#endif

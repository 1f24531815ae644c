/*
 * test_rule.c - the watch-rule language: parsing and precedence (checked
 * on the tree), matching (seed story and decoys), folding and stemming on
 * both sides, phrases and field boundaries, and every error with its column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"
#include "rule_testutil.h"
#include "text.h"

/* ---- helpers --------------------------------------------------------------- */

/* Whether `query` matches an item with these fields (NULL: absent). */
static int matches3(const char *query, const char *title, const char *summary,
                    const char *content)
{
    struct text_doc *d = text_doc_new(NULL);
    struct rule_expr *e = NULL;
    na_error err;
    int r;

    assert_non_null(d);
    if (rule_compile(query, &e, &err) != 0)
        fail_msg("query '%s' rejected: %s", query, err.msg);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, title), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_SUMMARY, summary), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_CONTENT, content), 0);
    r = rule_eval(e, d);
    rule_expr_free(&e);
    text_doc_free(&d);
    return r;
}

static int matches(const char *query, const char *text)
{
    return matches3(query, NULL, text, NULL);
}

/* The seed story: title = first line, summary = the rest. */
static char *seed_title, *seed_summary;

static int load_seed(void **state)
{
    FILE *fp = fopen(NA_TEST_DATA "/rules/seed-story.txt", "rb");
    char *buf, *nl;
    long n;

    (void)state;
    if (fp == NULL)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    buf[n] = '\0';
    nl = strchr(buf, '\n');
    if (nl == NULL) {
        free(buf);
        return -1;
    }
    *nl = '\0';
    seed_title = buf;
    seed_summary = nl + 1;
    return 0;
}

static int free_seed(void **state)
{
    (void)state;
    free(seed_title);
    return 0;
}

static int seed(const char *query)
{
    return matches3(query, seed_title, seed_summary, NULL);
}

/* ---- parsing ------------------------------------------------------------------ */

static void test_precedence(void **state)
{
    (void)state;
    rule_assert_tree("a b OR c", "(AND a (OR b c))");
    rule_assert_tree("-a OR b", "(OR (NOT a) b)");
    rule_assert_tree("a AND b OR c d", "(AND a (OR b c) d)");
    rule_assert_tree("NOT a OR b c", "(AND (OR (NOT a) b) c)");
    rule_assert_tree("a OR b OR c", "(OR a b c)");
    rule_assert_tree("(a b) OR c", "(OR (AND a b) c)");
    rule_assert_tree("-(a OR b) c", "(AND (NOT (OR a b)) c)");
    rule_assert_tree("a NOT b", "(AND a (NOT b))");
    rule_assert_tree("a --b", "(AND a (NOT (NOT b)))");
    rule_assert_tree("((a))", "a");
    /* operators only in upper case */
    rule_assert_tree("cats and dogs or mice not", "(AND cat and dog or mice not)");
    rule_assert_tree("Or And", "(AND or and)");
}

static void test_terms(void **state)
{
    (void)state;
    rule_assert_tree("\"NATO membership\"", "\"nato membership\"");
    rule_assert_tree("\"Concessions\"", "\"concess\"");
    /* an apostrophe or hyphen inside a term makes it a phrase */
    rule_assert_tree("NATO's", "\"nato s\"");
    rule_assert_tree("NATO\xe2\x80\x99s", "\"nato s\"");
    rule_assert_tree("COVID-19 cases", "(AND \"covid 19\" case)");
    rule_assert_tree("a-", "a");
    /* quotes, parentheses and spaces end a bare term */
    rule_assert_tree("a\"b c\"d", "(AND a \"b c\" d)");
    rule_assert_tree("x(y)", "(AND x y)");
    /* unicode spaces separate too (no-break space) */
    rule_assert_tree("a\xc2\xa0" "b", "(AND a b)");
    rule_assert_tree("Z\xc3\xa9lenskyy CAF\xc3\x89", "(AND zelenskyy cafe)");
}

static void test_errors(void **state)
{
    (void)state;
    rule_assert_error("", 1, "empty query");
    rule_assert_error("   \t ", 1, "empty query");
    rule_assert_error("a \"b c", 3, "unbalanced quote");
    rule_assert_error("\"a\" \"", 5, "unbalanced quote");
    rule_assert_error("caf\xc3\xa9 \"x", 6, "unbalanced quote"); /* columns in characters */
    rule_assert_error("(a b", 1, "unbalanced parenthesis");
    rule_assert_error("((a) b", 1, "unbalanced parenthesis");
    rule_assert_error("(", 1, "unbalanced parenthesis");
    rule_assert_error("a b)", 4, "unbalanced parenthesis");
    rule_assert_error(")a", 1, "unbalanced parenthesis");
    rule_assert_error("a OR", 3, "missing operand after OR");
    rule_assert_error("a OR OR b", 3, "missing operand after OR");
    rule_assert_error("(a OR) b", 4, "missing operand after OR");
    rule_assert_error("AND b", 1, "missing operand before AND");
    rule_assert_error("OR b", 1, "missing operand before OR");
    rule_assert_error("a AND", 3, "missing operand after AND");
    rule_assert_error("a AND AND b", 3, "missing operand after AND");
    rule_assert_error("NOT", 1, "missing operand after NOT");
    rule_assert_error("a NOT", 3, "missing operand after NOT");
    rule_assert_error("a -", 3, "missing operand after '-'");
    rule_assert_error("a - b", 3, "missing operand after '-'");
    rule_assert_error("(a -)", 4, "missing operand after '-'");
    rule_assert_error("\"\"", 1, "empty phrase");
    rule_assert_error("a \" , \"", 3, "empty phrase");
    rule_assert_error("a ()", 3, "empty group");
    rule_assert_error("a ( )", 3, "empty group");
    rule_assert_error("-a", 1, "the query has only negative terms");
    rule_assert_error("NOT a -b", 1, "the query has only negative terms");
    rule_assert_error("-a OR -b", 1, "the query has only negative terms");
    rule_assert_error("(-a -b)", 2, "the query has only negative terms");
    rule_assert_error("a , b", 3, "term has no letters or digits");
    rule_assert_error("a ...", 3, "term has no letters or digits");
    rule_assert_error("-,", 2, "term has no letters or digits");
}

static void test_limits(void **state)
{
    char *q;
    size_t n = RULE_QUERY_MAX + 1;
    na_error err;
    struct rule_expr *e = NULL;

    (void)state;
    q = malloc(n + 1);
    assert_non_null(q);
    /* nesting beyond the bound is an error, not a stack overflow */
    memset(q, '(', 1000);
    q[1000] = 'a';
    memset(q + 1001, ')', 1000);
    q[2001] = '\0';
    rule_assert_error(q, 65, "too deeply nested");
    memset(q, '-', 1000);
    q[1000] = 'a';
    q[1001] = '\0';
    rule_assert_error(q, 65, "too deeply nested");
    /* but a reasonable depth is fine */
    memset(q, '(', 30);
    q[30] = 'a';
    memset(q + 31, ')', 30);
    q[61] = '\0';
    rule_assert_tree(q, "a");
    /* too long */
    memset(q, 'a', n);
    q[n] = '\0';
    assert_int_equal(rule_compile(q, &e, &err), -1);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.msg, "too long"));
    /* a long but acceptable query */
    for (size_t i = 0; i < 4000; i++)
        memcpy(q + 2 * i, i % 2 ? "b " : "a ", 2);
    q[8000] = '\0';
    assert_int_equal(rule_compile(q, &e, NULL), 0);
    rule_expr_free(&e);
    free(q);
}

/* Random strings over the language's alphabet: compile never crashes, and
 * a rejection always carries a column within the query. */
static void test_random_queries(void **state)
{
    static const char *const parts[] = {"a", "b", "OR", "AND", "NOT", "-", "(", ")", "\"",
                                        " ", " ", ",", "x-y", "\xc3\xa9", "'"};
    unsigned seed = 12345;
    char q[128];

    (void)state;
    for (int round = 0; round < 20000; round++) {
        struct rule_expr *e = NULL;
        size_t len = 0, nparts;
        na_error err;

        seed = seed * 1103515245u + 12345u;
        nparts = (seed >> 16) % 12;
        for (size_t k = 0; k < nparts; k++) {
            const char *p;

            seed = seed * 1103515245u + 12345u;
            p = parts[(seed >> 16) % (sizeof(parts) / sizeof(parts[0]))];
            if (len + strlen(p) + 1 >= sizeof(q))
                break;
            memcpy(q + len, p, strlen(p));
            len += strlen(p);
        }
        q[len] = '\0';
        na_error_clear(&err);
        if (rule_compile(q, &e, &err) == 0) {
            assert_non_null(e);
            rule_expr_free(&e);
        } else {
            assert_null(e);
            assert_true(err.column >= 1 && (size_t)err.column <= len + 1);
            assert_true(strncmp(err.msg, "col ", 4) == 0);
        }
    }
}

/* ---- matching ------------------------------------------------------------------ */

static void test_seed_story(void **state)
{
    (void)state;
    assert_true(seed("Ukraine territorial concessions"));
    assert_true(seed("NATO membership"));
    assert_false(seed("\"NATO membership\""));
    assert_false(seed("Hegseth -Ukraine"));
    /* more of the same story */
    assert_true(seed("\"territorial concession\""));
    assert_true(seed("\"Defense Secretary\" Hegseth"));
    assert_true(seed("Hegseth Putin Trump"));
    assert_true(seed("Rutte OR Stoltenberg"));
    assert_false(seed("Stoltenberg OR Biden"));
    assert_true(seed("Ukraine -Gaza"));
    assert_false(seed("Ukraine -Russia"));
    assert_true(seed("\"Ukraine's potential membership\""));
    assert_true(seed("NATO's"));
    /* words of the title and of the summary do not join into a phrase */
    assert_false(seed("\"concessions in\""));
    assert_true(seed("concessions in"));
}

static void test_decoys(void **state)
{
    static const char *const decoys[] = {
        "Premier League: Ukraine-born striker scores twice as Arsenal beat Chelsea",
        "NATO summit menu features Ukrainian borscht; membership of chefs' guild rises",
        "Local council debates territorial waters of the village pond",
        "Concession stands at the stadium will close early on Sunday",
        "Hegseth hosts a cooking show",
    };
    int hits[3] = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
        hits[0] += matches3("Ukraine territorial concessions", decoys[i], NULL, NULL);
        hits[1] += matches3("\"NATO membership\"", decoys[i], NULL, NULL);
        hits[2] += matches3("Hegseth -Ukraine", decoys[i], NULL, NULL);
    }
    assert_int_equal(hits[0], 0);
    assert_int_equal(hits[1], 0);
    assert_int_equal(hits[2], 1); /* only the cooking show */
    assert_true(matches("NATO membership", decoys[1]));
    assert_true(matches("Ukraine", decoys[0])); /* hyphen splits Ukraine-born */
    assert_false(matches("Ukrainian", decoys[0]));
}

static void test_eval_precedence(void **state)
{
    (void)state;
    /* a b OR c == a AND (b OR c), not (a AND b) OR c */
    assert_true(matches("alpha beta OR gamma", "alpha gamma"));
    assert_true(matches("alpha beta OR gamma", "beta alpha"));
    assert_false(matches("alpha beta OR gamma", "gamma"));
    assert_false(matches("alpha beta OR gamma", "beta gamma"));
    /* -a OR b == (NOT a) OR b, not NOT (a OR b) */
    assert_true(matches("-alpha OR beta", "alpha beta"));
    assert_true(matches("-alpha OR beta", "delta"));
    assert_false(matches("-alpha OR beta", "alpha"));
    /* NOT of a group */
    assert_true(matches("delta -(alpha OR beta)", "delta gamma"));
    assert_false(matches("delta -(alpha OR beta)", "delta beta"));
    assert_true(matches("delta NOT \"alpha beta\"", "delta beta alpha"));
    assert_false(matches("delta NOT \"alpha beta\"", "delta alpha beta"));
    /* explicit AND */
    assert_true(matches("alpha AND beta", "beta, alpha"));
    assert_false(matches("alpha AND beta", "alpha"));
    /* lower-case operators are words */
    assert_false(matches("cats or dogs", "cats"));
    assert_true(matches("cats or dogs", "cats or dogs"));
}

static void test_case_accents_stems(void **state)
{
    (void)state;
    assert_true(matches("Zelenskyy", "President Z\xc3\xa9lenskyy said"));
    assert_true(matches("Z\xc3\xa9lenskyy", "ZELENSKYY SAID"));
    assert_true(matches("Z\xc3\xa9lenskyy", "Ze\xcc\x81lenskyy")); /* decomposed */
    assert_true(matches("caf\xc3\xa9", "CAFE"));
    assert_true(matches("CAFE", "a caf\xc3\xa9 in Paris"));
    assert_true(matches("ukraine", "UKRAINE"));
    assert_true(matches("UKRAINE", "ukraine"));
    assert_true(matches("concessions", "a concession"));
    assert_true(matches("concession", "two concessions"));
    assert_true(matches("\"territorial concessions\"", "Territorial Concession"));
    assert_true(matches("negotiating", "negotiations"));
    assert_false(matches("cafe", "cafeteria"));
    assert_false(matches("nato", "senator"));
}

static void test_apostrophes(void **state)
{
    (void)state;
    assert_true(matches("Ukraine", "Ukraine's army"));
    assert_true(matches("Ukraine", "Ukraine\xe2\x80\x99s army"));
    assert_true(matches("Ukraine", "'Ukraine'"));
    assert_true(matches("NATO's", "NATO's support"));
    assert_true(matches("NATO's", "NATO\xe2\x80\x99s support"));
    assert_true(matches("NATO\xe2\x80\x99s", "NATO's support"));
    assert_false(matches("NATO's", "NATO support"));
    assert_false(matches("NATO's", "NATO support is"));
    assert_true(matches("s", "Ukraine's"));
}

static void test_phrases(void **state)
{
    (void)state;
    assert_true(matches("\"peace agreement\"", "a peace agreement was signed"));
    assert_true(matches("\"peace agreement\"", "Peace, agreement!")); /* punctuation is not a word */
    assert_false(matches("\"peace agreement\"", "agreement on peace"));
    assert_false(matches("\"peace agreement\"", "peace and agreement"));
    assert_true(matches("\"peace agreement\"", "peace peace agreement"));
    assert_true(matches("\"a a b\"", "a a a b"));
    assert_false(matches("\"a b c\"", "a b x a b"));
    /* never across fields */
    assert_false(matches3("\"peace agreement\"", "Talks on peace", "Agreement reached", NULL));
    assert_false(matches3("\"peace agreement\"", NULL, "Talks on peace", "agreement"));
    assert_true(matches3("peace agreement", "Talks on peace", "Agreement reached", NULL));
    assert_true(matches3("\"peace agreement\"", NULL, NULL, "the peace agreement"));
    /* a single-word phrase is a word */
    assert_true(matches("\"Concessions\"", "concession"));
    /* every word must be in the document */
    assert_false(matches("\"peace treaty\"", "peace talks"));
}

static void test_empty_doc(void **state)
{
    (void)state;
    assert_false(matches3("a", NULL, NULL, NULL));
    assert_true(matches3("-b OR a", "a", NULL, NULL));
    assert_false(matches3("\"a b\"", "a", NULL, NULL));
}

static void test_shared_norm(void **state)
{
    struct text_norm *n = text_norm_new();
    struct text_doc *d = text_doc_new(n);
    struct rule_expr *e[2] = {NULL, NULL};

    (void)state;
    assert_int_equal(rule_compile_norm(n, "concessions", &e[0], NULL), 0);
    assert_int_equal(rule_compile_norm(n, "territorial -sport", &e[1], NULL), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, seed_title), 0);
    assert_true(rule_eval(e[0], d));
    assert_true(rule_eval(e[1], d));
    assert_int_equal(e[1]->kind, RULE_AND);
    assert_int_equal(e[1]->column, 1);
    assert_int_equal(e[1]->kids[1]->column, 13);
    assert_int_equal(e[1]->kids[0]->fields, TEXT_FIELDS_ALL);
    rule_expr_free(&e[0]);
    rule_expr_free(&e[1]);
    rule_expr_free(&e[1]); /* NULL-safe */
    text_doc_free(&d);
    text_norm_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_random_queries),
        cmocka_unit_test(test_seed_story),
        cmocka_unit_test(test_decoys),
        cmocka_unit_test(test_eval_precedence),
        cmocka_unit_test(test_case_accents_stems),
        cmocka_unit_test(test_apostrophes),
        cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_empty_doc),
        cmocka_unit_test(test_shared_norm),
    };

    return cmocka_run_group_tests(tests, load_seed, free_seed);
}

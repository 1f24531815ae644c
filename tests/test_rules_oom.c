/*
 * test_rules_oom.c - allocation failures in the text, rule and ruleset
 * modules.  The test is linked with oomutil.c and -Wl,--wrap=malloc,
 * --wrap=calloc,--wrap=realloc,--wrap=strdup so that every allocation made
 * by our code, and jansson's (item.c routes them through malloc), can be
 * failed in turn (those inside utf8proc and libstemmer are not); each
 * failure must give a clean error return, and the sanitizer / valgrind runs
 * prove that nothing leaks on those paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "oomutil.h"
#include "rule.h"
#include "ruleset.h"
#include "text.h"

/* Run op with the k-th allocation failing, for k = 0, 1, ... until op
 * runs without any failure.  op returns 0 on success, -1 on a clean
 * failure, anything else for a wrong answer. */
static void fail_each(int (*op)(void), long *nruns)
{
    long k;

    for (k = 0; k < 100000; k++) {
        long before = oomutil_failures();
        int r;

        oomutil_fail_at(k);
        r = op();
        oomutil_off();
        assert_true(r == 0 || r == -1);
        if (oomutil_failures() == before) {
            assert_int_equal(r, 0);
            break;
        }
        /* r == 0 here: the module got by without that allocation (the stem
         * cache is optional); the answer was still checked by op. */
    }
    assert_true(k > 0);
    *nruns = k;
    print_message("%ld allocations failed in turn\n", k);
}

static int op_compile(void)
{
    struct rule_expr *e = NULL;
    na_error err;
    char *s;
    int r;

    r = rule_compile("alpha \"beta gamma\" OR (delta -epsilon) NATO's caf\xc3\xa9 x y z", &e,
                     &err);
    if (r < 0) {
        assert_null(e);
        assert_string_equal(err.msg, "out of memory");
        return -1;
    }
    s = rule_expr_format(e);
    rule_expr_free(&e);
    if (s == NULL)
        return -1;
    free(s);
    return 0;
}

static int op_compile_error(void)
{
    struct rule_expr *e = NULL;
    na_error err;

    /* a bad query must report the problem or out of memory, never succeed */
    assert_int_equal(rule_compile("alpha (beta OR gamma delta", &e, &err), -1);
    assert_null(e);
    return strcmp(err.msg, "out of memory") == 0 ? -1 : 0;
}

static int op_doc(void)
{
    struct text_doc *d = text_doc_new(NULL);
    int r;

    if (d == NULL)
        return -1;
    r = text_doc_add_field(d, TEXT_FIELD_TITLE, "Peace talks, peace agreements and Z\xc3\xa9lenskyy");
    if (r == 0)
        r = text_doc_add_field(d, TEXT_FIELD_CONTENT, "one two three four five six seven eight");
    if (r == 0 && text_doc_find(d, "peac", 4) != 0)
        r = 1; /* wrong answer: fails the assertion in fail_each */
    text_doc_free(&d);
    return r;
}

static const char rules_json[] =
    "{\"rules\": [\n"
    "  {\"id\": \"a\", \"name\": \"A\", \"query\": \"Ukraine territorial concessions\"},\n"
    "  {\"id\": \"b\", \"query\": \"\\\"NATO membership\\\" OR Hegseth\"},\n"
    "  {\"id\": \"c\", \"query\": \"peace -war\"}\n"
    "]}";

static int count_match(const struct rule_info *rule, const struct item *it, void *arg)
{
    (void)rule;
    (void)it;
    (*(int *)arg)++;
    return 0;
}

static int op_ruleset(void)
{
    struct ruleset *rs = NULL;
    struct item it = {0};
    na_error err;
    int n = 0, r;

    if (ruleset_load_buffer("mem.json", rules_json, strlen(rules_json), &rs, &err) < 0) {
        assert_null(rs);
        assert_non_null(strstr(err.msg, "out of memory"));
        return -1;
    }
    it.title = "Hegseth on territorial concessions";
    it.summary = "Ukraine, peace";
    r = ruleset_match(rs, &it, count_match, &n);
    ruleset_free(&rs);
    if (r < 0)
        return -1;
    assert_int_equal(n, 3);
    return 0;
}

static int op_check(void)
{
    size_t nrules = 0;
    int n = ruleset_check_buffer("mem.json", rules_json, strlen(rules_json), NULL, NULL, &nrules);

    if (n != 0)
        return -1;
    assert_int_equal(nrules, 3);
    return 0;
}

/* The full language, the index and explanations. */
static const char rules2_json[] =
    "{\"rules\": [\n"
    "  {\"id\": \"p\", \"query\": \"ukrain* NEAR/3 \\\"peace talks\\\"\", \"tags\": [\"t\"]},\n"
    "  {\"id\": \"f\", \"query\": \"title:(kyiv OR helsinki) -sport\", \"lang\": \"french\"},\n"
    "  {\"id\": \"r\", \"query\": \"/cease-?fire/ link:example\"},\n"
    "  {\"id\": \"n\", \"query\": \"talks OR -zzz\"}\n"
    "]}";

struct explain_run {
    struct ruleset *rs;
    int n, oom;
};

static int explain_match(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct explain_run *run = arg;
    struct rule_explanation *x = NULL;
    int r = ruleset_explain(run->rs, rule->index, &x);

    (void)it;
    if (r < 0) {
        run->oom = 1;
        return 1;
    }
    assert_int_equal(r, 1);
    assert_non_null(x->snippet);
    rule_explanation_free(&x);
    run->n++;
    return 0;
}

static int op_explain(void)
{
    struct explain_run run = {0};
    struct item it = {0};
    na_error err;
    int r;

    if (ruleset_load_buffer("mem.json", rules2_json, strlen(rules2_json), &run.rs, &err) < 0) {
        assert_null(run.rs);
        assert_non_null(strstr(err.msg, "out of memory"));
        return -1;
    }
    it.title = "Kyiv: Ukrainian peace talks and a ceasefire";
    it.summary = "More talks.";
    it.link = "https://example.com/x";
    r = ruleset_match(run.rs, &it, explain_match, &run);
    ruleset_free(&run.rs);
    if (r < 0 || run.oom)
        return -1;
    assert_int_equal(run.n, 4);
    return 0;
}

static void test_oom_compile(void **state)
{
    long runs;

    (void)state;
    fail_each(op_compile, &runs);
    fail_each(op_compile_error, &runs);
}

static void test_oom_doc(void **state)
{
    long runs;

    (void)state;
    fail_each(op_doc, &runs);
}

static void test_oom_ruleset(void **state)
{
    long runs;

    (void)state;
    fail_each(op_ruleset, &runs);
    fail_each(op_check, &runs);
    fail_each(op_explain, &runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_compile),
        cmocka_unit_test(test_oom_doc),
        cmocka_unit_test(test_oom_ruleset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

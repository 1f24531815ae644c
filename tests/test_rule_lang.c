/*
 * test_rule_lang.c - the full rule language: prefixes, NEAR, fields,
 * link: substrings, regexes, languages, warnings and explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alert.h"
#include "item.h"
#include "rule.h"
#include "rule_testutil.h"
#include "ruleset.h"
#include "text.h"

/* A test item: title, summary, content, plus the other fields. */
static struct item mk(const char *title, const char *summary, const char *content)
{
    struct item it = {0};

    it.id = "x";
    it.title = (char *)title;
    it.summary = (char *)summary;
    it.content = (char *)content;
    it.published = ITEM_TIME_UNKNOWN;
    return it;
}

static int match_item(const char *query, const struct item *it)
{
    struct text_doc *d = text_doc_new(NULL);
    struct rule_expr *e = NULL;
    na_error err;
    int r;

    assert_non_null(d);
    na_error_clear(&err);
    if (rule_compile(query, &e, &err) != 0)
        fail_msg("query '%s' rejected: %s", query, err.msg);
    assert_int_equal(text_doc_add_item(d, it), 0);
    r = rule_eval(e, d);
    rule_expr_free(&e);
    text_doc_free(&d);
    return r;
}

static int m3(const char *query, const char *title, const char *summary, const char *content)
{
    struct item it = mk(title, summary, content);

    return match_item(query, &it);
}

static void test_trees(void **state)
{
    (void)state;
    rule_assert_tree("ukrain*", "ukrain*");
    rule_assert_tree("\"peace agree*\"", "\"peac agree*\"");
    rule_assert_tree("a NEAR/3 b", "(NEAR/3 a b)");
    /* NOT > NEAR > OR > AND */
    rule_assert_tree("a NEAR/2 b OR c d", "(AND (OR (NEAR/2 a b) c) d)");
    rule_assert_tree("x OR a NEAR/2 \"b c\"", "(OR x (NEAR/2 a \"b c\"))");
    rule_assert_tree("title:(Finland OR Kyiv)", "(OR title:finland title:kyiv)");
    rule_assert_tree("title:(a OR content:b) c", "(AND (OR title:a content:b) c)");
    rule_assert_tree("-title:x y", "(AND (NOT title:x) y)");
    rule_assert_tree("author:\"Jane Doe\"", "author:\"jane doe\"");
    rule_assert_tree("link:Example.COM", "link:\"example.com\"");
    rule_assert_tree("title:/gaza\\s+truce/", "title:/gaza\\s+truce/");
    rule_assert_tree("category:sport feed:yle", "(AND category:sport feed:yle)");
    rule_assert_tree("summary:a NEAR/4 b", "(NEAR/4 summary:a b)");
    /* unknown or upper-case field names are words */
    rule_assert_tree("Title:x", "\"titl x\"");
    rule_assert_tree("10:30", "\"10 30\"");
    rule_assert_tree("near/3", "\"near 3\"");
}

static void test_errors(void **state)
{
    (void)state;
    rule_assert_error("a NEAR b", 3, "NEAR needs a distance");
    rule_assert_error("a NEAR/0 b", 3, "bad NEAR distance");
    rule_assert_error("a NEAR/x b", 3, "bad NEAR distance");
    rule_assert_error("a NEAR/1001 b", 3, "bad NEAR distance");
    rule_assert_error("a NEAR/2", 3, "missing operand after NEAR");
    rule_assert_error("NEAR/2 b", 1, "missing operand before NEAR");
    rule_assert_error("(a OR b) NEAR/2 c", 1, "NEAR needs a word, a prefix or a phrase");
    rule_assert_error("a NEAR/2 -b", 10, "NEAR needs a word, a prefix or a phrase");
    rule_assert_error("a NEAR/2 b NEAR/2 c", 12, "NEAR cannot be chained");
    rule_assert_error("title: x", 1, "missing term right after 'title:'");
    rule_assert_error("title:-x", 1, "missing term right after 'title:'");
    rule_assert_error("a title:", 3, "missing term right after 'title:'");
    rule_assert_error("x /abc", 3, "unbalanced '/'");
    rule_assert_error("x //", 3, "empty regex");
    rule_assert_error("x /a(b/", 7, "regex does not compile: ");
    rule_assert_error("/ab[/", 5, "regex does not compile: missing terminating ]");
    rule_assert_error("a*b", 2, "'*' must end a word");
    rule_assert_error("u*", 1, "prefix too short");
    rule_assert_error("\"x u*\"", 4, "prefix too short");
    rule_assert_error("-/x/", 1, "the query has only negative terms");
    rule_assert_error("(a \"b)", 4, "unbalanced quote");
    rule_assert_error("(a b", 1, "unbalanced parenthesis");
}

static void test_prefix(void **state)
{
    (void)state;
    assert_true(m3("ukrain*", "Ukraine says", NULL, NULL));
    assert_true(m3("ukrain*", "UKRAINIAN forces", NULL, NULL));
    assert_true(m3("ukrain*", "Ukraine's", NULL, NULL));
    assert_true(m3("ukrain*", "Ukrain", NULL, NULL));
    assert_false(m3("ukrain*", "krainian", NULL, NULL));
    assert_false(m3("ukrain*", "Ukra", NULL, NULL));
    /* folded, not stemmed: zelensk* matches Zélenskyy */
    assert_true(m3("zelensk*", NULL, NULL, "Z\xc3\xa9lenskyy spoke"));
    assert_true(m3("\"peace agree*\"", "A peace agreement", NULL, NULL));
    assert_false(m3("\"peace agree*\"", "peace and agreement", NULL, NULL));
    assert_true(m3("title:talk*", "Talks", "other", NULL));
    assert_false(m3("title:talk*", "Other", "talks", NULL));
}

static void test_near(void **state)
{
    (void)state;
    /* adjacent words are 1 apart, either order */
    assert_true(m3("putin NEAR/1 trump", "Putin Trump", NULL, NULL));
    assert_true(m3("putin NEAR/1 trump", "Trump Putin", NULL, NULL));
    assert_false(m3("putin NEAR/1 trump", "Putin meets Trump", NULL, NULL));
    assert_true(m3("putin NEAR/2 trump", "Putin meets Trump", NULL, NULL));
    assert_true(m3("putin NEAR/2 trump", "Trump meets Putin", NULL, NULL));
    /* phrases count from their nearer ends */
    assert_true(m3("\"peace talks\" NEAR/2 \"white house\"", "peace talks at the white house",
                   NULL, NULL) == 0);
    assert_true(m3("\"peace talks\" NEAR/3 \"white house\"", "peace talks at the white house",
                   NULL, NULL));
    assert_true(m3("\"white house\" NEAR/3 \"peace talks\"", "peace talks at the white house",
                   NULL, NULL));
    /* same field only */
    assert_false(m3("putin NEAR/5 trump", "Putin", "Trump", NULL));
    /* a field prefix on one side still needs both in one field */
    assert_true(m3("title:putin NEAR/3 trump", "Putin and Trump", "x", NULL));
    assert_false(m3("title:putin NEAR/3 trump", "Putin", "Putin and Trump", NULL));
    /* overlapping occurrences do not count; two occurrences of a word do */
    assert_false(m3("\"new york\" NEAR/3 \"york times\"", "new york times", NULL, NULL));
    assert_true(m3("peace NEAR/2 peace", "peace and peace", NULL, NULL));
    assert_false(m3("peace NEAR/2 peace", "peace", NULL, NULL));
    /* stems and prefixes */
    assert_true(m3("negotiations NEAR/4 ukrain*", "Ukrainian negotiation resumes", NULL, NULL));
    /* many occurrences: the window scan finds the one close pair */
    assert_true(m3("alpha NEAR/1 omega",
                   "alpha x x x alpha x x x alpha x x x alpha x x x x alpha omega", NULL, NULL));
    assert_false(m3("alpha NEAR/1 omega",
                    "alpha x x x alpha x x x alpha x x x alpha x x x x alpha x omega", NULL,
                    NULL));
}

static void test_fields(void **state)
{
    struct item it = mk("Storm warning", "heavy rain", "flooding in the south");
    char *cats[] = {"Weather", "Finland news"};

    (void)state;
    it.author = "Jane Doe";
    it.categories = cats;
    it.ncategories = 2;
    it.link = "https://YLE.fi/uutiset/3-123";
    it.feed = "https://yle.fi/rss";
    it.feed_title = "Yle News";
    assert_true(match_item("title:storm", &it));
    assert_false(match_item("summary:storm", &it));
    assert_true(match_item("content:flood", &it));
    assert_true(match_item("author:doe", &it));
    assert_false(match_item("doe", &it)); /* unscoped: title, summary, content only */
    assert_true(match_item("category:weather", &it));
    assert_true(match_item("category:\"finland news\"", &it));
    /* no phrase spans two categories */
    assert_false(match_item("category:\"weather finland\"", &it));
    assert_true(match_item("feed:yle", &it));
    assert_true(match_item("feed:\"yle news\"", &it));
    assert_true(match_item("link:yle.fi/uutiset", &it));
    assert_true(match_item("link:\"yle.fi/UUTISET\"", &it));
    assert_false(match_item("link:example.com", &it));
    assert_true(match_item("link:(example.com OR yle.fi)", &it));
    assert_true(match_item("title:(rain OR storm) -category:sport", &it));
    assert_false(match_item("title:(rain OR storm) -category:weather", &it));
    /* without a feed title, feed: searches the feed URL */
    it.feed_title = NULL;
    assert_true(match_item("feed:rss", &it));
}

static void test_regex(void **state)
{
    struct item it = mk("Gaza truce holds", "CEASE-FIRE talks", NULL);
    struct text_doc *d = text_doc_new(NULL);
    struct rule_ctx *ctx = rule_ctx_new();
    struct rule_expr *e = NULL;
    char *big;
    na_error err;
    clock_t t0;

    (void)state;
    assert_true(match_item("/gaza\\s+truce/", &it));
    assert_true(match_item("/cease-?fire/", &it));
    assert_false(match_item("title:/cease-?fire/", &it));
    assert_true(match_item("/\\bTRUCE\\b/ gaza", &it));
    assert_false(match_item("/^holds/", &it));
    it.link = "https://example.com/2025/11/story";
    assert_true(match_item("link:/\\/20\\d\\d\\//", &it));

    /* a catastrophic pattern on a long text stops at the limits, fast */
    big = malloc(30001);
    assert_non_null(big);
    memset(big, 'a', 30000);
    big[30000] = '\0';
    na_error_clear(&err);
    assert_int_equal(rule_compile("/(a+)+$b/ OR /(a|aa)+(b)/", &e, &err), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_CONTENT, big), 0);
    t0 = clock();
    assert_false(rule_eval_ctx(e, d, ctx));
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    rule_expr_free(&e);
    rule_ctx_free(&ctx);
    text_doc_free(&d);
    free(big);
}

static void test_languages(void **state)
{
    struct text_norm *fr = text_norm_new_lang("french");
    struct text_norm *en = text_norm_new();
    struct text_doc *d = text_doc_new(en);
    struct rule_expr *e = NULL;
    na_error err;
    int layer;

    (void)state;
    assert_non_null(fr);
    assert_true(text_lang_known("french"));
    assert_false(text_lang_known("klingon"));
    assert_null(text_norm_new_lang("klingon"));
    layer = text_doc_add_layer(d, fr);
    assert_int_equal(layer, 1);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, "Les négociations continuent"), 0);
    assert_int_equal(text_doc_add_layer(d, fr), -1); /* only while empty */
    na_error_clear(&err);
    assert_int_equal(rule_compile_norm(fr, "négociation", &e, &err), 0);
    rule_set_layer(e, 1);
    assert_true(rule_eval(e, d));
    rule_set_layer(e, 2); /* no such layer: no match, no crash */
    assert_false(rule_eval(e, d));
    rule_expr_free(&e);
    text_doc_free(&d);
    text_norm_free(&en);
    text_norm_free(&fr);
}

struct warns {
    int n;
    char msg[4][1024];
};

static void collect(const na_error *w, void *arg)
{
    struct warns *ws = arg;

    if (ws->n < 4)
        snprintf(ws->msg[ws->n], sizeof(ws->msg[0]), "%s", w->msg);
    ws->n++;
}

static int nwarnings(const char *query, struct warns *ws)
{
    struct rule_expr *e = NULL;
    na_error err;
    int n;

    memset(ws, 0, sizeof(*ws));
    na_error_clear(&err);
    if (rule_compile(query, &e, &err) != 0)
        fail_msg("query '%s' rejected: %s", query, err.msg);
    n = rule_warnings(e, collect, ws);
    assert_int_equal(n, ws->n);
    rule_expr_free(&e);
    return n;
}

static void test_warnings(void **state)
{
    struct warns ws;

    (void)state;
    assert_int_equal(nwarnings("a -a", &ws), 1);
    assert_string_equal(ws.msg[0], "col 3: can never match: 'a' is both required and excluded");
    assert_int_equal(nwarnings("title:(x) AND NOT title:(x)", &ws), 1);
    assert_int_equal(nwarnings("title:x -x", &ws), 1);       /* x anywhere excludes title:x */
    assert_int_equal(nwarnings("x -title:x", &ws), 0);       /* x may be in the summary */
    assert_int_equal(nwarnings("concessions -concession", &ws), 1); /* same stem */
    assert_int_equal(nwarnings("\"a b\" -\"a b\"", &ws), 1);
    assert_int_equal(nwarnings("(a OR b) -(a OR b)", &ws), 1);
    assert_int_equal(nwarnings("a -b", &ws), 0);
    assert_int_equal(nwarnings("a OR -b", &ws), 1);
    assert_non_null(strstr(ws.msg[0], "matches almost every story"));
    assert_int_equal(nwarnings("/x/ -/x/", &ws), 1);
}

static void test_explain(void **state)
{
    struct item it = mk("Kyiv says talks continue",
                        "Putin backs the peace talks, officials said on Monday.", NULL);
    struct text_doc *d = text_doc_new(NULL);
    struct rule_expr *e = NULL;
    struct rule_explanation *x = NULL;
    char longtext[2000];
    na_error err;

    (void)state;
    assert_int_equal(text_doc_add_item(d, &it), 0);
    na_error_clear(&err);
    assert_int_equal(rule_compile("summary:putin NEAR/4 \"peace talks\" -sport", &e, &err), 0);
    assert_int_equal(rule_explain(e, d, NULL, &x), 1);
    assert_int_equal(x->nterms, 2);
    assert_string_equal(x->terms[0], "putin");
    assert_string_equal(x->fields[0], "summary");
    assert_string_equal(x->terms[1], "\"peace talks\"");
    assert_string_equal(x->snippet,
                        "[Putin] backs the [peace talks], officials said on Monday.");
    rule_explanation_free(&x);
    assert_null(x);
    rule_expr_free(&e);

    /* OR: every branch that hit is listed; title hits come first */
    assert_int_equal(rule_compile("talks OR kyiv", &e, &err), 0);
    assert_int_equal(rule_explain(e, d, NULL, &x), 1);
    assert_int_equal(x->nterms, 3);
    assert_string_equal(x->terms[0], "talks");
    assert_string_equal(x->fields[0], "title");
    assert_string_equal(x->fields[1], "summary");
    assert_string_equal(x->terms[2], "kyiv");
    assert_string_equal(x->snippet, "[Kyiv] says [talks] continue");
    rule_explanation_free(&x);
    rule_expr_free(&e);

    /* no match: nothing */
    assert_int_equal(rule_compile("sport", &e, &err), 0);
    assert_int_equal(rule_explain(e, d, NULL, &x), 0);
    assert_null(x);
    rule_expr_free(&e);

    /* a long text is cut around the hit, at most ~240 characters */
    text_doc_reset(d);
    {
        size_t len = 0;

        for (int i = 0; i < 150; i++) {
            int n = snprintf(longtext + len, sizeof(longtext) - len, "%s",
                             i == 100 ? "needle " : "hay ");

            assert_true(n > 0 && (size_t)n < sizeof(longtext) - len);
            len += (size_t)n;
        }
    }
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_CONTENT, longtext), 0);
    assert_int_equal(rule_compile("needle", &e, &err), 0);
    assert_int_equal(rule_explain(e, d, NULL, &x), 1);
    assert_non_null(strstr(x->snippet, "[needle]"));
    assert_true(strncmp(x->snippet, "\xe2\x80\xa6", 3) == 0);
    assert_true(strlen(x->snippet) <= RULE_SNIPPET_CHARS + 2 * 3 + 2 * 1);
    rule_explanation_free(&x);
    rule_expr_free(&e);
    text_doc_free(&d);
}

/* Hostile queries: random pieces of the syntax glued together must compile
 * or fail with a column inside the query, never crash; what compiles must
 * evaluate and explain. */
static void test_random_syntax(void **state)
{
    static const char *const pieces[] = {
        "(", ")", "\"", "/", "\\", "*", "-", ":", " ", "  ", "a", "peace", "talk*", "NEAR/2",
        "NEAR", "NEAR/0", "AND", "OR", "NOT", "title:", "link:", "feed:", "category:", "x.y",
        "[", "]", "+", "?", "|", "\xc3\xa9", "\xff", "\xe2\x80\x99", "Z\xc3\xbcrich", "/a+/",
        "/(b|c)*d/", "\"peace talks\"", "10:30", "u*", "**", "(a OR b)", "-x", "NOT(y)",
    };
    struct item it = mk("Peace talks in Z\xc3\xbcrich", "a peace b talks (x.y) 10 30",
                        "talking about peace, NEAR the border");
    struct text_doc *d = text_doc_new(NULL);
    struct rule_ctx *ctx = rule_ctx_new();
    unsigned seed = 12345;
    int compiled = 0;

    (void)state;
    assert_int_equal(text_doc_add_item(d, &it), 0);
    for (int n = 0; n < 20000; n++) {
        char q[512];
        size_t len = 0;
        int np;
        struct rule_expr *e = NULL;
        na_error err;

        seed = seed * 1103515245u + 12345u;
        np = 1 + (int)((seed >> 16) % 9);
        for (int k = 0; k < np; k++) {
            const char *pc;
            size_t pl;

            seed = seed * 1103515245u + 12345u;
            pc = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
            pl = strlen(pc);
            if (len + pl + 1 >= sizeof(q))
                break;
            memcpy(q + len, pc, pl);
            len += pl;
        }
        q[len] = '\0';
        na_error_clear(&err);
        if (rule_compile(q, &e, &err) == 0) {
            struct rule_explanation *x = NULL;
            int m = rule_eval_ctx(e, d, ctx), r = rule_explain(e, d, ctx, &x);
            char *f = rule_expr_format(e);

            assert_non_null(f);
            free(f);
            assert_int_equal(r, m); /* explain agrees with eval */
            if (x != NULL)
                assert_true(x->nterms > 0 || strcmp(x->snippet, "") == 0);
            rule_explanation_free(&x);
            if (rule_expr_pack(&e) == 0)
                assert_int_equal(rule_eval_ctx(e, d, ctx), m); /* packed: same answer */
            rule_expr_free(&e);
            compiled++;
        } else {
            assert_null(e);
            if (err.column < 1 || err.column > (int)len + 1)
                fail_msg("query '%s': column %d out of range: %s", q, err.column, err.msg);
        }
    }
    /* the pieces make both outcomes common */
    assert_true(compiled > 1000);
    assert_true(compiled < 19000);
    rule_ctx_free(&ctx);
    text_doc_free(&d);
}

/* The alert body carries `matched` and the rule's tags. */
static void test_alert_matched(void **state)
{
    struct item it = mk("Title", "Summary", NULL);
    const char *terms[] = {"\"peace talks\"", "bad\x01term"};
    const char *fields[] = {"summary", "title"};
    const char *tags[] = {"team-a", "eu"};
    struct alert_matched m = {2, terms, fields, "[peace talks] in \xff Geneva"};
    json_error_t je;
    json_t *root, *jm, *t;
    char *body;

    (void)state;
    body = alert_build_matched("r1", "Rule one", tags, 2, &it, 7, 0, &m);
    assert_non_null(body);
    root = json_loads(body, 0, &je);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "seq")), 7);
    t = json_object_get(json_object_get(root, "rule"), "tags");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_array_get(t, 1)), "eu");
    jm = json_object_get(root, "matched");
    assert_non_null(jm);
    t = json_object_get(jm, "terms");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "term")),
                        "\"peace talks\"");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "field")),
                        "summary");
    /* invalid UTF-8 is repaired, never passed on */
    assert_string_equal(json_string_value(json_object_get(jm, "snippet")),
                        "[peace talks] in \xef\xbf\xbd Geneva");
    json_decref(root);
    free(body);
    /* without an explanation or tags: the first version's body */
    body = alert_build("r1", "Rule one", &it, 8, 0);
    root = json_loads(body, 0, &je);
    assert_null(json_object_get(root, "matched"));
    assert_null(json_object_get(json_object_get(root, "rule"), "tags"));
    json_decref(root);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trees),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_prefix),  cmocka_unit_test(test_near),
        cmocka_unit_test(test_fields),  cmocka_unit_test(test_regex),
        cmocka_unit_test(test_languages), cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_explain), cmocka_unit_test(test_alert_matched),
        cmocka_unit_test(test_random_syntax),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

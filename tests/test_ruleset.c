/*
 * test_ruleset.c - rules files: loading, every validation error with its
 * file:line:column, check mode reporting all problems, and matching items
 * (the seed story and decoys) against a whole ruleset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "item.h"
#include "ruleset.h"

#define RULES NA_TEST_DATA "/rules/"

/* ---- helpers --------------------------------------------------------------- */

static void assert_load_error(const char *file, int line, int col, const char *tail)
{
    struct ruleset *rs = (struct ruleset *)&rs;
    char want[512];
    na_error err;

    na_error_clear(&err);
    assert_int_equal(ruleset_load(file, &rs, &err), -1);
    assert_null(rs);
    snprintf(want, sizeof(want), "%s:%d:%d: %s", file, line, col, tail);
    if (strcmp(err.msg, want) != 0)
        fail_msg("got \"%s\"\nwant \"%s\"", err.msg, want);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, col);
}

static void assert_buffer_error(const char *json, const char *want_sub)
{
    struct ruleset *rs = NULL;
    na_error err;

    na_error_clear(&err);
    assert_int_equal(ruleset_load_buffer("mem.json", json, strlen(json), &rs, &err), -1);
    assert_null(rs);
    if (strncmp(err.msg, "mem.json:", 9) != 0 || strstr(err.msg, want_sub) == NULL)
        fail_msg("got \"%s\", want \"%s\"", err.msg, want_sub);
}

struct reports {
    char msg[16][1024];
    int line[16];
    int n;
};

static void collect_report(const na_error *e, void *arg)
{
    struct reports *r = arg;

    assert_true(r->n < 16);
    memcpy(r->msg[r->n], e->msg, sizeof(r->msg[0]));
    r->line[r->n] = e->line;
    r->n++;
}

struct matched {
    const char *ids[16];
    int n;
    int stop_at; /* return 7 on this match (1-based), 0: never */
    const struct item *seen;
};

static int collect_match(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct matched *m = arg;

    assert_true(m->n < 16);
    assert_ptr_equal(it, m->seen);
    m->ids[m->n++] = rule->id;
    return m->n == m->stop_at ? 7 : 0;
}

static struct item *seed_item(void)
{
    FILE *fp = fopen(RULES "seed-story.txt", "rb");
    char buf[8192], *nl;
    size_t n;
    struct item *it;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    nl = strchr(buf, '\n');
    assert_non_null(nl);
    *nl = '\0';
    it = item_new();
    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "seed"), 0);
    assert_int_equal(item_set(&it->title, buf), 0);
    assert_int_equal(item_set(&it->summary, nl + 1), 0);
    return it;
}

static struct item *text_item(const char *title, const char *summary, const char *content)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "x"), 0);
    assert_int_equal(item_set(&it->title, title), 0);
    assert_int_equal(item_set(&it->summary, summary), 0);
    assert_int_equal(item_set(&it->content, content), 0);
    return it;
}

/* ---- loading ----------------------------------------------------------------- */

static void test_load_good(void **state)
{
    struct ruleset *rs = NULL;
    const struct rule_info *ri;
    na_error err;

    (void)state;
    na_error_clear(&err);
    if (ruleset_load(RULES "good.json", &rs, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ruleset_count(rs), 6);
    ri = ruleset_rule(rs, 0);
    assert_string_equal(ri->id, "ukraine-concessions");
    assert_string_equal(ri->name, "Ukraine concessions");
    assert_string_equal(ri->query, "Ukraine territorial concessions");
    ri = ruleset_rule(rs, 1);
    assert_string_equal(ri->name, "nato-membership"); /* defaults to the id */
    ri = ruleset_rule(rs, 4);
    assert_string_equal(ri->id, "caf\xc3\xa9");
    assert_non_null(ruleset_expr(rs, 4));
    assert_int_equal(ruleset_expr(rs, 4)->kind, RULE_OR);
    ruleset_free(&rs);
    assert_null(rs);
    ruleset_free(&rs);
}

static void test_match_seed(void **state)
{
    struct ruleset *rs = NULL;
    struct item *it = seed_item();
    struct matched m = {0};

    (void)state;
    assert_int_equal(ruleset_load(RULES "good.json", &rs, NULL), 0);
    m.seen = it;
    assert_int_equal(ruleset_match(rs, it, collect_match, &m), 0);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.ids[0], "ukraine-concessions");
    assert_string_equal(m.ids[1], "nato-membership");
    assert_string_equal(m.ids[2], "peace");

    /* a non-zero return stops and is returned */
    memset(&m, 0, sizeof(m));
    m.seen = it;
    m.stop_at = 2;
    assert_int_equal(ruleset_match(rs, it, collect_match, &m), 7);
    assert_int_equal(m.n, 2);
    item_free(&it);

    /* the same ruleset is reused for the next item: nothing carries over */
    it = text_item("Caf\xc3\xa9 society", "Hegseth visits a caf\xc3\xa9", NULL);
    memset(&m, 0, sizeof(m));
    m.seen = it;
    assert_int_equal(ruleset_match(rs, it, collect_match, &m), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.ids[0], "hegseth-not-ukraine");
    assert_string_equal(m.ids[1], "caf\xc3\xa9");
    item_free(&it);

    /* decoys */
    it = text_item("Peace", "agreement troops", "Ukraine concessions at the stadium");
    memset(&m, 0, sizeof(m));
    m.seen = it;
    assert_int_equal(ruleset_match(rs, it, collect_match, &m), 0);
    assert_int_equal(m.n, 0);
    item_free(&it);

    it = text_item(NULL, NULL, NULL);
    memset(&m, 0, sizeof(m));
    m.seen = it;
    assert_int_equal(ruleset_match(rs, it, collect_match, &m), 0);
    assert_int_equal(m.n, 0);
    item_free(&it);
    ruleset_free(&rs);
}

static void test_bad_query(void **state)
{
    (void)state;
    assert_load_error(RULES "bad-query.json", 6, 7,
                      "rule 'broken': column 9: unbalanced quote");
}

static void test_duplicates(void **state)
{
    struct reports r = {0};
    size_t n = 0;

    (void)state;
    assert_load_error(RULES "dup-ids.json", 5, 6, "duplicate rule id 'a' (first used at line 3)");
    assert_int_equal(ruleset_check(RULES "dup-ids.json", collect_report, &r, &n), 2);
    assert_int_equal(n, 4);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.line[0], 5);
    assert_int_equal(r.line[1], 6);
    assert_non_null(strstr(r.msg[1], "duplicate rule id 'b' (first used at line 4)"));
}

static void test_unknown_keys(void **state)
{
    (void)state;
    assert_load_error(RULES "unknown-key.json", 4, 17, "unknown key 'qeury' in rules[1]");
    assert_load_error(RULES "unknown-top.json", 3, 3, "unknown key 'rule'");
}

/* check mode goes on past an unknown top-level key */
static void test_check_goes_on(void **state)
{
    static const char json[] = "{\"extra\": 1,\n \"rules\": [{\"id\": \"a\", \"query\": \"a OR\"}]}";
    struct reports r = {0};
    size_t n = 0;

    (void)state;
    assert_int_equal(ruleset_check_buffer("mem.json", json, strlen(json), collect_report, &r, &n), 2);
    assert_int_equal(n, 1);
    assert_string_equal(r.msg[0], "mem.json:1:2: unknown key 'extra'");
    assert_string_equal(r.msg[1], "mem.json:2:24: rule 'a': column 3: missing operand after OR");
}

static void test_wrong_types(void **state)
{
    struct reports r = {0};
    size_t n = 0;
    char prefix[256];

    (void)state;
    assert_load_error(RULES "wrong-types.json", 3, 6, "'rules[0].id' must be a string");
    assert_load_error(RULES "rules-not-array.json", 1, 2, "'rules' must be an array");

    assert_int_equal(ruleset_check(RULES "wrong-types.json", collect_report, &r, &n), 6);
    assert_int_equal(n, 7);
    assert_int_equal(r.n, 6);
    snprintf(prefix, sizeof(prefix), "%swrong-types.json:", RULES);
    for (int i = 0; i < r.n; i++)
        assert_true(strncmp(r.msg[i], prefix, strlen(prefix)) == 0);
    assert_int_equal(r.line[0], 3);
    assert_int_equal(r.line[1], 4);
    assert_non_null(strstr(r.msg[1], "'rules[1].query' must be a string"));
    assert_int_equal(r.line[2], 5);
    assert_non_null(strstr(r.msg[2], "a rule must be an object, not a string"));
    assert_int_equal(r.line[3], 6);
    assert_non_null(strstr(r.msg[3], "rule id must not be empty"));
    assert_int_equal(r.line[4], 7);
    assert_non_null(strstr(r.msg[4], "'rules[4].name' must be a string"));
    assert_int_equal(r.line[5], 9);
    assert_non_null(strstr(r.msg[5], "rule 'bad': column 3: missing operand after OR"));
}

static void test_file_errors(void **state)
{
    struct ruleset *rs = NULL;
    struct reports r = {0};
    size_t n = 99;
    na_error err;

    (void)state;
    na_error_clear(&err);
    assert_int_equal(ruleset_load(RULES "no-such-file.json", &rs, &err), -1);
    assert_null(rs);
    assert_non_null(strstr(err.msg, "no-such-file.json"));

    na_error_clear(&err);
    assert_int_equal(ruleset_load(RULES "syntax.json", &rs, &err), -1);
    assert_true(strncmp(err.msg, RULES "syntax.json:", strlen(RULES "syntax.json:")) == 0);
    assert_true(err.line >= 2);

    assert_int_equal(ruleset_check(RULES "no-such-file.json", collect_report, &r, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.msg[0], "no-such-file.json"));

    memset(&r, 0, sizeof(r));
    assert_int_equal(ruleset_check(RULES "good.json", collect_report, &r, &n), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(n, 6);
    /* the report callback may be NULL */
    assert_int_equal(ruleset_check(RULES "bad-query.json", NULL, NULL, NULL), 1);
}

static void test_buffer_errors(void **state)
{
    char json[1024], id[RULESET_ID_MAX + 2];
    struct ruleset *rs = NULL;
    struct reports r = {0};
    size_t n;

    (void)state;
    assert_buffer_error("[]", "the top level must be an object");
    assert_buffer_error("{}", "missing key 'rules'");
    assert_buffer_error("{\"rules\": [{\"query\": \"a\"}]}", "missing required key 'rules[0].id'");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\"}]}", "missing required key 'rules[0].query'");
    assert_buffer_error("{\"rules\": [[]]}", "a rule must be an object, not an array");
    assert_buffer_error("{\"rules\": [7]}", "a rule must be an object, not a scalar");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\\nb\", \"query\": \"a\"}]}",
                        "1:13: rule id must not contain control characters");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\", \"name\": \"x\\ty\", \"query\": \"a\"}]}",
                        "rule 'a': name must not contain control characters");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\", \"query\": \"\"}]}",
                        "1:24: rule 'a': column 1: empty query");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\", \"query\": \"-x\"}]}",
                        "rule 'a': column 1: the query has only negative terms");
    assert_buffer_error("{\"rules\": [{\"id\": \"a\", \"query\": \"a\"}], \"rules\": []}",
                        "duplicate");

    /* ids: at most RULESET_ID_MAX bytes */
    memset(id, 'i', RULESET_ID_MAX);
    id[RULESET_ID_MAX] = '\0';
    snprintf(json, sizeof(json), "{\"rules\": [{\"id\": \"%s\", \"query\": \"a\"}]}", id);
    assert_int_equal(ruleset_load_buffer("mem.json", json, strlen(json), &rs, NULL), 0);
    assert_int_equal(strlen(ruleset_rule(rs, 0)->id), RULESET_ID_MAX);
    ruleset_free(&rs);
    id[RULESET_ID_MAX] = 'i';
    id[RULESET_ID_MAX + 1] = '\0';
    snprintf(json, sizeof(json), "{\"rules\": [{\"id\": \"%s\", \"query\": \"a\"}]}", id);
    assert_buffer_error(json, "rule id is too long (201 bytes, at most 200)");

    /* an empty rules list is a valid (idle) ruleset */
    assert_int_equal(ruleset_load_buffer("mem.json", "{\"rules\": []}", 13, &rs, NULL), 0);
    assert_int_equal(ruleset_count(rs), 0);
    ruleset_free(&rs);

    /* a rule with a bad id still has its query checked, named by number */
    snprintf(json, sizeof(json), "{\"rules\": [{\"id\": 1, \"query\": \"(a\"}]}");
    n = 0;
    assert_int_equal(ruleset_check_buffer("mem.json", json, strlen(json), collect_report, &r, &n), 2);
    assert_int_equal(n, 1);
    assert_non_null(strstr(r.msg[1], "rule 1: column 1: unbalanced parenthesis"));
}

/* ---- the streamed load against the ordinary one ----------------------------- */

/* The body of a rules file: rules on lines 2.., so that a first line of
 * another length leaves every later position unchanged. */
static const char stream_body[] =
    "  {\"id\": \"r1\", \"query\": \"Ukraine talks\", \"name\": \"One\", \"tags\": [\"a\", \"b\"]},\r\n"
    "  {\"id\": \"r2\", \"query\": \"\\\"peace deal\\\" OR cease*\", \"enabled\": false},\n"
    "  {\"id\": \"r3\", \"query\": \"Zelensky -Putin -Zelensky\", \"lang\": \"english\"},\n"
    "  {\"id\": \"caf\\u00e9\", \"query\": \"negotiations NEAR/3 Kyiv\", \"lang\": \"french\"},\n"
    "  {\"id\": \"r5\", \"query\": \"talks OR -sport\"}\n"
    "]}\n";

struct warnings {
    char msg[8][1024];
    int n;
};

static void collect_warning(const na_error *w, void *arg)
{
    struct warnings *ws = arg;

    assert_true(ws->n < 8);
    memcpy(ws->msg[ws->n++], w->msg, sizeof(ws->msg[0]));
}

/* Load `first line` + body from a file; returns the set, fills *ws. */
static struct ruleset *load_text(const char *path, const char *text, struct warnings *ws,
                                 na_error *err)
{
    struct ruleset *rs = NULL;
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    fclose(fp);
    memset(ws, 0, sizeof(*ws));
    na_error_clear(err);
    if (ruleset_load_warn(path, collect_warning, ws, &rs, err) != 0)
        rs = NULL;
    remove(path);
    return rs;
}

/* A file laid out as {"rules": [...]} is read one rule at a time; one that
 * is not (here the key is written with an escape) is read whole.  Both must
 * give the same rules, the same warnings in the same order, and the same
 * matches; and a file with a bad rule AND a later syntax error must report
 * the syntax error, as a whole-file parse does, with no warning before. */
static void test_stream_same_as_tree(void **state)
{
    char path[64], a[2048], b[2048];
    struct warnings wa, wb;
    struct ruleset *ra, *rb;
    struct item *it;
    na_error err;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_ruleset_stream_%d.json", (int)getpid());
    snprintf(a, sizeof(a), "{\"rules\": [\n%s", stream_body);        /* streamed */
    snprintf(b, sizeof(b), "{\"rul\\u0065s\" : [\n%s", stream_body); /* read whole */
    ra = load_text(path, a, &wa, &err);
    if (ra == NULL)
        fail_msg("%s", err.msg);
    rb = load_text(path, b, &wb, &err);
    if (rb == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(ruleset_count(ra), 5);
    assert_int_equal(ruleset_count(rb), 5);
    for (size_t i = 0; i < 5; i++) {
        const struct rule_info *x = ruleset_rule(ra, i), *y = ruleset_rule(rb, i);

        assert_string_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->query, y->query);
        assert_string_equal(x->lang, y->lang);
        assert_int_equal(x->enabled, y->enabled);
        assert_int_equal(x->ntags, y->ntags);
        for (size_t t = 0; t < x->ntags; t++)
            assert_string_equal(x->tags[t], y->tags[t]);
        assert_int_equal(x->index, i);
    }
    assert_string_equal(ruleset_rule(ra, 0)->name, "One");
    assert_string_equal(ruleset_rule(ra, 1)->name, "r2");
    assert_string_equal(ruleset_rule(ra, 0)->tags[1], "b");
    assert_string_equal(ruleset_rule(ra, 3)->id, "caf\xc3\xa9");
    assert_string_equal(ruleset_rule(ra, 3)->lang, "french");
    /* r3 can never match, r5 has a purely negative branch */
    assert_int_equal(wa.n, 2);
    assert_int_equal(wb.n, 2);
    for (int i = 0; i < wa.n; i++)
        assert_string_equal(wa.msg[i], wb.msg[i]);
    assert_non_null(strstr(wa.msg[0], ":4:"));
    it = text_item("Ukraine talks", "ceasefire and negotiations in Kyiv", NULL);
    {
        struct matched ma = {.seen = it}, mb = {.seen = it};

        assert_int_equal(ruleset_match(ra, it, collect_match, &ma), 0);
        assert_int_equal(ruleset_match(rb, it, collect_match, &mb), 0);
        assert_int_equal(ma.n, 3); /* r1, café, r5 (r2 is disabled) */
        assert_int_equal(mb.n, ma.n);
        for (int i = 0; i < ma.n; i++)
            assert_string_equal(ma.ids[i], mb.ids[i]);
    }
    item_free(&it);
    ruleset_free(&ra);
    ruleset_free(&rb);

    /* a bad query on line 2, a syntax error on line 4: the syntax error */
    snprintf(a, sizeof(a), "{\"rules\": [\n{\"id\": \"w\", \"query\": \"a -a\"},\n"
                           "{\"id\": \"x\", \"query\": \"(a\"},\n{\"id\": }\n]}\n");
    assert_null(load_text(path, a, &wa, &err));
    assert_int_equal(err.line, 4);
    assert_int_equal(wa.n, 0);
    /* without the syntax error: the warning, then the bad query */
    snprintf(a, sizeof(a), "{\"rules\": [\n{\"id\": \"w\", \"query\": \"a -a\"},\n"
                           "{\"id\": \"x\", \"query\": \"(a\"}\n]}\n");
    assert_null(load_text(path, a, &wa, &err));
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.msg, "rule 'x': column 1: unbalanced parenthesis"));
    assert_int_equal(wa.n, 1);
    /* duplicate ids are found after a streamed read too */
    snprintf(a, sizeof(a), "{\"rules\": [\n{\"id\": \"d\", \"query\": \"a\"},\n"
                           "{\"id\": \"d\", \"query\": \"b\"}\n]}\n");
    assert_null(load_text(path, a, &wa, &err));
    assert_non_null(strstr(err.msg, ":3:2: duplicate rule id 'd' (first used at line 2)"));
    /* trailing garbage after the object, and an empty list */
    assert_null(load_text(path, "{\"rules\": []} x", &wa, &err));
    assert_int_equal(err.line, 1);
    ra = load_text(path, " \n{\"rules\":[ ]}\n", &wa, &err);
    assert_non_null(ra);
    assert_int_equal(ruleset_count(ra), 0);
    ruleset_free(&ra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_match_seed),
        cmocka_unit_test(test_bad_query),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_check_goes_on),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_buffer_errors),
        cmocka_unit_test(test_stream_same_as_tree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

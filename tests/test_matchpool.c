/*
 * test_matchpool.c - the matcher's thread pool gives, per item and in rule
 * order, exactly the matches one thread gives, with explanations; and it
 * survives a change of rule set (matchpool_forget).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "matchpool.h"
#include "ruleset.h"

static const char *const words[] = {"alpha", "beta", "gamma", "delta", "omega", "sigma",
                                    "kappa", "theta"};

static const char rules_json[] =
    "{\"rules\":[{\"id\":\"a\",\"query\":\"alpha\"},{\"id\":\"ab\",\"query\":\"alpha beta\"},"
    "{\"id\":\"g\",\"query\":\"gamma OR delta -omega\"},"
    "{\"id\":\"n\",\"query\":\"sigma NEAR/2 kappa\"},{\"id\":\"p\",\"query\":\"the*\"}]}";

struct seq {
    size_t idx[16];
    size_t n;
};

static int collect(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct seq *s = arg;

    (void)it;
    assert_true(s->n < 16);
    s->idx[s->n++] = rule->index;
    return 0;
}

static void run(struct matchpool *p, struct ruleset *rs, struct item **items, size_t n)
{
    assert_int_equal(matchpool_run(p, rs, items, n), 0);
    for (size_t i = 0; i < n; i++) {
        struct seq want = {0};

        if (items[i] == NULL) {
            assert_int_equal(matchpool_count(p, i), 0);
            continue;
        }
        assert_int_equal(ruleset_match(rs, items[i], collect, &want), 0);
        assert_int_equal(matchpool_count(p, i), want.n);
        for (size_t k = 0; k < want.n; k++) {
            const struct matchpool_match *m = matchpool_get(p, i, k);

            assert_int_equal(m->rule->index, want.idx[k]);
            assert_non_null(m->why);
            assert_true(m->why->nterms > 0);
            assert_non_null(strchr(m->why->snippet, '['));
        }
    }
}

static void test_pool(void **state)
{
    struct matchpool *p = NULL;
    struct ruleset *rs = NULL, *rs2 = NULL;
    struct item *items[300];
    unsigned seed = 7;
    na_error err;

    (void)state;
    assert_int_equal(matchpool_new(4, &p, &err), 0);
    assert_int_equal(ruleset_load_buffer("m.json", rules_json, strlen(rules_json), &rs, &err), 0);
    for (size_t i = 0; i < 300; i++) {
        char text[256], id[16];
        size_t len = 0;

        if (i % 37 == 5) {
            items[i] = NULL; /* a bad message in the group */
            continue;
        }
        for (int k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s ",
                                    words[(seed >> 16) % 8]);
        }
        items[i] = item_new();
        snprintf(id, sizeof(id), "i%zu", i);
        assert_int_equal(item_set(&items[i]->id, id), 0);
        assert_int_equal(item_set(&items[i]->title, text), 0);
    }
    run(p, rs, items, 300);
    run(p, rs, items, 300); /* again: the threads reuse their workers */
    /* a reload: forget, then another set */
    matchpool_forget(p);
    ruleset_free(&rs);
    assert_int_equal(ruleset_load_buffer("m2.json", rules_json, strlen(rules_json) - 2,
                                         &rs2, &err),
                     -1); /* truncated: bad JSON */
    {
        static const char two[] = "{\"rules\":[{\"id\":\"x\",\"query\":\"omega\"}]}";

        assert_int_equal(ruleset_load_buffer("m2.json", two, strlen(two), &rs2, &err), 0);
    }
    run(p, rs2, items, 300);
    run(p, rs2, items, 17); /* a smaller group */
    matchpool_free(&p);
    assert_null(p);
    matchpool_free(&p);
    ruleset_free(&rs2);
    for (size_t i = 0; i < 300; i++)
        item_free(&items[i]);
}

static void test_one_thread(void **state)
{
    struct matchpool *p = NULL;
    struct ruleset *rs = NULL;
    struct item *it = item_new();
    na_error err;

    (void)state;
    assert_int_equal(matchpool_new(1, &p, &err), 0);
    assert_int_equal(ruleset_load_buffer("m.json", rules_json, strlen(rules_json), &rs, &err), 0);
    assert_int_equal(item_set(&it->id, "x"), 0);
    assert_int_equal(item_set(&it->title, "alpha beta theory"), 0);
    run(p, rs, &it, 1);
    assert_int_equal(matchpool_count(p, 0), 3); /* a, ab, p */
    matchpool_free(&p);
    ruleset_free(&rs);
    item_free(&it);
}

/* matchpool_run_prep: items filled by the prepare step on the pool's
 * threads (a NULL one skipped, a failing one failing the run); then
 * matchpool_for runs each index exactly once and keeps the matches. */
struct prep_ctx {
    struct item **items;
    size_t fail_at; /* (size_t)-1: none */
    _Atomic unsigned long calls[300];
};

static int prep_item(void *arg, size_t i)
{
    struct prep_ctx *c = arg;
    char id[16];

    c->calls[i]++;
    if (i == c->fail_at)
        return -1;
    if (i % 11 == 3)
        return 0; /* stays NULL: nothing to match */
    c->items[i] = item_new();
    snprintf(id, sizeof(id), "i%zu", i);
    if (c->items[i] == NULL || item_set(&c->items[i]->id, id) != 0 ||
        item_set(&c->items[i]->title, i % 2 ? "alpha beta" : "gamma theory"))
        return -1;
    return 0;
}

static int count_call(void *arg, size_t i)
{
    struct prep_ctx *c = arg;

    c->calls[i]++;
    return i == c->fail_at ? -1 : 0;
}

static void test_prep_and_for(void **state)
{
    struct matchpool *p = NULL;
    struct ruleset *rs = NULL;
    struct item *items[300] = {0};
    static struct prep_ctx c;
    na_error err;

    (void)state;
    assert_int_equal(matchpool_new(3, &p, &err), 0);
    assert_int_equal(ruleset_load_buffer("m.json", rules_json, strlen(rules_json), &rs, &err), 0);
    memset(&c, 0, sizeof(c));
    c.items = items;
    c.fail_at = (size_t)-1;
    assert_int_equal(matchpool_run_prep(p, rs, items, 300, prep_item, &c), 0);
    for (size_t i = 0; i < 300; i++) {
        struct seq want = {0};

        assert_int_equal(c.calls[i], 1);
        if (i % 11 == 3) {
            assert_null(items[i]);
            assert_int_equal(matchpool_count(p, i), 0);
            continue;
        }
        assert_int_equal(ruleset_match(rs, items[i], collect, &want), 0);
        assert_true(want.n > 0);
        assert_int_equal(matchpool_count(p, i), want.n);
    }
    /* a parallel loop keeps the matches readable */
    memset((void *)c.calls, 0, sizeof(c.calls));
    assert_int_equal(matchpool_for(p, 300, count_call, &c), 0);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(c.calls[i], 1);
    assert_int_equal(matchpool_count(p, 1), 2); /* a, ab */
    c.fail_at = 150;
    memset((void *)c.calls, 0, sizeof(c.calls));
    assert_int_equal(matchpool_for(p, 300, count_call, &c), -1);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(c.calls[i], 1); /* every index still ran */
    /* a failing prepare step fails the run and keeps no result */
    for (size_t i = 0; i < 300; i++)
        item_free(&items[i]);
    memset((void *)c.calls, 0, sizeof(c.calls));
    c.fail_at = 77;
    assert_int_equal(matchpool_run_prep(p, rs, items, 300, prep_item, &c), -1);
    assert_int_equal(matchpool_count(p, 1), 0);
    matchpool_free(&p);
    ruleset_free(&rs);
    for (size_t i = 0; i < 300; i++)
        item_free(&items[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_one_thread),
        cmocka_unit_test(test_prep_and_for),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

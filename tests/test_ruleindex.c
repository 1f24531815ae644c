/*
 * test_ruleindex.c - the rule index against the naive oracle: thousands of
 * generated rules (words, phrases, prefixes, OR groups, NOTs, NEAR, fields,
 * regexes, link: substrings, two languages) and generated items must give
 * exactly the same matches, in the same order, with and without the index.
 * Also: rules files in a directory, worker API, disabled rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "item.h"
#include "ruleindex.h"
#include "ruleset.h"
#include "strbuf.h"
#include "text.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const vocab[] = {
    "peace",   "talks",     "ukraine",   "ukrainian", "russia",   "nato",    "finland",
    "kyiv",    "putin",     "trump",     "sanctions", "ceasefire", "gaza",   "israel",
    "storm",   "flooding",  "election",  "vote",      "minister", "market",  "shares",
    "oil",     "gas",       "energy",    "climate",   "summit",   "border",  "army",
    "missile", "drone",     "attack",    "strike",    "deal",     "agreement", "agreements",
    "report",  "reports",   "said",      "says",      "new",      "york",    "times",
    "white",   "house",     "bank",      "rates",     "inflation", "jobs",   "strike",
    "football", "sport",    "concessions", "territorial", "negotiations", "café", "Zürich",
};
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

/* Zipf-like: low indexes are much more common. */
static const char *word(void)
{
    uint32_t a = rnd((uint32_t)NVOCAB), b = rnd((uint32_t)NVOCAB);

    return vocab[a < b ? a : b];
}

static const char *const fields[] = {"title:", "summary:", "content:", "author:", "category:",
                                     "feed:"};

static void gen_term(struct strbuf *b)
{
    uint32_t k = rnd(20);

    if (k < 2)
        strbuf_adds(b, fields[rnd(6)]);
    if (k == 3) {
        const char *w = word();
        char p[16];
        size_t n = strlen(w) < 4 ? strlen(w) : 3 + rnd(2);

        if (((unsigned char)w[n - 1] & 0xc0) == 0xc0 || ((unsigned char)w[n] & 0xc0) == 0x80)
            n = 2; /* keep the prefix on a code point boundary (all vocab starts ASCII) */
        memcpy(p, w, n);
        p[n] = '\0';
        strbuf_adds(b, p);
        strbuf_adds(b, "*");
    } else if (k == 4 || k == 5) {
        strbuf_adds(b, "\"");
        strbuf_adds(b, word());
        strbuf_adds(b, " ");
        strbuf_adds(b, word());
        strbuf_adds(b, "\"");
    } else {
        strbuf_adds(b, word());
    }
}

static void gen_query(struct strbuf *b, int depth)
{
    uint32_t n = 1 + rnd(3);

    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = rnd(24);

        if (i > 0)
            strbuf_adds(b, rnd(4) == 0 ? " AND " : " ");
        if (k < 3 && i > 0) {
            strbuf_adds(b, "-");
            gen_term(b);
        } else if (k < 6 && depth < 2) {
            uint32_t m = 2 + rnd(2);

            if (rnd(3) == 0)
                strbuf_adds(b, fields[rnd(3)]);
            strbuf_adds(b, "(");
            for (uint32_t j = 0; j < m; j++) {
                if (j > 0)
                    strbuf_adds(b, " OR ");
                if (rnd(5) == 0 && depth < 1)
                    gen_query(b, depth + 1);
                else
                    gen_term(b);
            }
            strbuf_adds(b, ")");
        } else if (k < 8) {
            char d[16];

            gen_term(b);
            snprintf(d, sizeof(d), " NEAR/%u ", 1 + rnd(5));
            strbuf_adds(b, d);
            gen_term(b);
        } else if (k == 8) {
            strbuf_adds(b, rnd(2) ? "/(ceasefire|gaza)\\s\\w+/" : "link:example.org");
        } else if (k == 9 && i > 0) {
            strbuf_adds(b, word());
            strbuf_adds(b, " OR -");
            strbuf_adds(b, word());
        } else {
            gen_term(b);
        }
    }
}

static char *gen_text(uint32_t nwords)
{
    struct strbuf b = {0};

    for (uint32_t i = 0; i < nwords; i++) {
        if (i > 0)
            strbuf_adds(&b, rnd(10) == 0 ? ", " : " ");
        strbuf_adds(&b, rnd(7) == 0 ? "filler" : word());
    }
    strbuf_add(&b, "", 0);
    return strbuf_take(&b);
}

static struct item *gen_item(void)
{
    struct item *it = item_new();
    char *t;

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "id"), 0);
    t = gen_text(3 + rnd(8));
    assert_int_equal(item_set(&it->title, t), 0);
    free(t);
    t = gen_text(5 + rnd(30));
    assert_int_equal(item_set(&it->summary, t), 0);
    free(t);
    if (rnd(2)) {
        t = gen_text(rnd(60));
        assert_int_equal(item_set(&it->content, t), 0);
        free(t);
    }
    if (rnd(3) == 0)
        assert_int_equal(item_set(&it->author, word()), 0);
    if (rnd(3) == 0)
        assert_int_equal(item_add_category(it, word()), 0);
    assert_int_equal(item_set(&it->link, rnd(4) == 0 ? "https://Example.org/a" : "https://x.net/b"),
                     0);
    assert_int_equal(item_set(&it->feed_title, rnd(2) ? word() : NULL), 0);
    return it;
}

struct hits {
    size_t *idx;
    size_t n, cap;
};

static int collect(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct hits *h = arg;

    (void)it;
    if (h->n == h->cap) {
        h->cap = h->cap != 0 ? h->cap * 2 : 64;
        h->idx = realloc(h->idx, h->cap * sizeof(*h->idx));
        assert_non_null(h->idx);
    }
    h->idx[h->n++] = rule->index;
    return 0;
}

/* Append rule r<i> of a generated rules file: `opts` (members ending in a
 * comma, or "") and the query, as a JSON string written by jansson. */
static void append_rule(struct strbuf *b, size_t i, const char *opts, const char *query)
{
    json_t *q = json_string(query);
    char *text = q != NULL ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
    char head[160];

    assert_non_null(text);
    snprintf(head, sizeof(head), "%s{\"id\":\"r%zu\",%s\"query\":", i > 0 ? ",\n" : "", i, opts);
    strbuf_adds(b, head);
    strbuf_adds(b, text);
    strbuf_adds(b, "}");
    free(text);
    json_decref(q);
}

/* Load a generated rules file (json, taken and freed) as `name`; fails
 * the test when it does not load. */
static struct ruleset *load_generated(const char *name, char *json)
{
    struct ruleset *rs = NULL;
    na_error err;

    assert_non_null(json);
    na_error_clear(&err);
    if (ruleset_load_buffer(name, json, strlen(json), &rs, &err) != 0)
        fail_msg("%s", err.msg);
    free(json);
    return rs;
}

/* Match item k with the index (worker wi) and the naive mode (wn) of rs:
 * the same matches in the same order, or the test fails naming the first
 * rule where they differ.  Leaves rs indexed; returns the matches. */
static size_t match_both(struct ruleset *rs, struct ruleset_worker *wi,
                         struct ruleset_worker *wn, const struct item *it, size_t k)
{
    struct hits hi = {0}, hn = {0};
    size_t n;

    ruleset_set_naive(rs, 0);
    assert_int_equal(ruleset_worker_match(wi, it, collect, &hi), 0);
    ruleset_set_naive(rs, 1);
    assert_int_equal(ruleset_worker_match(wn, it, collect, &hn), 0);
    ruleset_set_naive(rs, 0);
    if (hi.n != hn.n || (hi.n > 0 && memcmp(hi.idx, hn.idx, hi.n * sizeof(*hi.idx)) != 0)) {
        size_t i = 0;

        while (i < hi.n && i < hn.n && hi.idx[i] == hn.idx[i])
            i++;
        fail_msg("item %zu (title '%s'): index found %zu matches, naive %zu; first "
                 "difference at rule %s",
                 k, it->title != NULL ? it->title : "", hi.n, hn.n,
                 ruleset_rule(rs, i < hn.n ? hn.idx[i] : hi.idx[i])->query);
    }
    n = hn.n;
    free(hi.idx);
    free(hn.idx);
    return n;
}

static void test_oracle(void **state)
{
    const size_t nrules = 4000, nitems = 400;
    struct strbuf b = {0};
    struct ruleset *rs;
    struct ruleset_worker *wi, *wn;
    unsigned long long cands = 0, total = 0;

    (void)state;
    strbuf_adds(&b, "{\"rules\":[\n");
    for (size_t i = 0; i < nrules; i++) {
        struct strbuf q = {0};
        char *qs, opts[64];

        gen_query(&q, 0);
        qs = strbuf_take(&q);
        assert_non_null(qs);
        snprintf(opts, sizeof(opts), "%s%s", rnd(10) == 0 ? "\"lang\":\"german\"," : "",
                 rnd(50) == 0 ? "\"enabled\":false," : "");
        append_rule(&b, i, opts, qs);
        free(qs);
    }
    strbuf_adds(&b, "\n]}\n");
    rs = load_generated("gen.json", strbuf_take(&b));
    assert_int_equal(ruleset_count(rs), nrules);

    /* two workers on one set: one indexed, one naive (set before each call) */
    wi = ruleset_worker_new(rs);
    wn = ruleset_worker_new(rs);
    assert_non_null(wi);
    assert_non_null(wn);
    for (size_t k = 0; k < nitems; k++) {
        struct item *it = gen_item();

        total += match_both(rs, wi, wn, it, k);
        item_free(&it);
    }
    ruleset_worker_stats(wi, NULL, &cands, NULL);
    /* the oracle is only worth something if rules do match... */
    assert_true(total > nitems);
    /* ...and the index must actually prune (the vocabulary is tiny here, so
     * most items hold the common words: only a modest cut is expected) */
    if (cands >= (unsigned long long)nitems * nrules * 6 / 10)
        fail_msg("%llu candidates for %zu items x %zu rules", cands, nitems, nrules);
    ruleset_worker_free(&wi);
    ruleset_worker_free(&wn);
    ruleset_set_naive(rs, 0);
    ruleset_free(&rs);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

struct msgs {
    int n;
    char m[8][1024];
};

static void report(const na_error *e, void *arg)
{
    struct msgs *ms = arg;

    if (ms->n < 8)
        snprintf(ms->m[ms->n], sizeof(ms->m[0]), "%s", e->msg);
    ms->n++;
}

static void test_directory(void **state)
{
    char dir[] = "/tmp/na-rules-XXXXXX", path[128];
    struct ruleset *rs = NULL;
    struct msgs ms = {0};
    struct item *it = item_new();
    struct hits h = {0};
    size_t nrules = 0;
    na_error err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/b.json", dir);
    write_file(path, "{\"rules\":[{\"id\":\"b1\",\"query\":\"beta\",\"tags\":[\"t\"]}]}\n");
    snprintf(path, sizeof(path), "%s/a.json", dir);
    write_file(path, "{\"rules\":[{\"id\":\"a1\",\"query\":\"alpha\"},\n"
                     "{\"id\":\"a2\",\"query\":\"beta\",\"enabled\":false}]}\n");
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    write_file(path, "not json");
    na_error_clear(&err);
    if (ruleset_load(dir, &rs, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ruleset_count(rs), 3);
    assert_string_equal(ruleset_rule(rs, 0)->id, "a1"); /* files in name order */
    assert_string_equal(ruleset_rule(rs, 2)->id, "b1");
    assert_int_equal(ruleset_rule(rs, 2)->ntags, 1);
    assert_string_equal(ruleset_rule(rs, 2)->tags[0], "t");
    assert_string_equal(ruleset_rule(rs, 0)->lang, "english");
    assert_int_equal(item_set(&it->id, "i"), 0);
    assert_int_equal(item_set(&it->title, "alpha beta"), 0);
    assert_int_equal(ruleset_match(rs, it, collect, &h), 0);
    assert_int_equal(h.n, 2); /* a2 is disabled */
    assert_int_equal(h.idx[0], 0);
    assert_int_equal(h.idx[1], 2);
    free(h.idx);
    ruleset_free(&rs);

    /* an id used in two files: the error names both */
    snprintf(path, sizeof(path), "%s/c.json", dir);
    write_file(path, "{\"rules\":[{\"id\":\"a1\",\"query\":\"x\",\"lang\":\"klingon\"},\n"
                     "{\"id\":\"b1\",\"query\":\"x -x\"}]}\n");
    assert_int_equal(ruleset_check(dir, report, &ms, &nrules), 3);
    assert_int_equal(nrules, 5);
    assert_int_equal(ms.n, 4);
    assert_non_null(strstr(ms.m[0], "c.json:1:"));
    assert_non_null(strstr(ms.m[0], "rule 'a1': unknown language 'klingon'"));
    assert_non_null(strstr(ms.m[1], "c.json:2:"));
    assert_non_null(strstr(ms.m[1], "warning: rule 'b1': column 3: can never match"));
    assert_non_null(strstr(ms.m[2], "c.json:1:"));
    assert_non_null(strstr(ms.m[2], "duplicate rule id 'a1' (first used at "));
    assert_non_null(strstr(ms.m[2], "a.json:1)"));
    assert_non_null(strstr(ms.m[3], "c.json:2:"));
    assert_non_null(strstr(ms.m[3], "duplicate rule id 'b1' (first used at "));
    assert_non_null(strstr(ms.m[3], "b.json:1)"));
    assert_int_equal(ruleset_load(dir, &rs, &err), -1);
    assert_non_null(strstr(err.msg, "c.json"));

    unlink(path);
    snprintf(path, sizeof(path), "%s/a.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    unlink(path);
    memset(&ms, 0, sizeof(ms));
    assert_int_equal(ruleset_check(dir, report, &ms, NULL), 1);
    assert_non_null(strstr(ms.m[0], "no *.json rules files"));
    rmdir(dir);
    item_free(&it);
}

/* Rules without a term to file under are still matched. */
static void test_always(void **state)
{
    static const char json[] =
        "{\"rules\":[{\"id\":\"neg\",\"query\":\"storm OR -calm\"},"
        "{\"id\":\"re\",\"query\":\"/st.rm/\"},"
        "{\"id\":\"link\",\"query\":\"link:example\"},"
        "{\"id\":\"pfx\",\"query\":\"sto* -calm\"}]}";
    struct ruleset *rs = NULL;
    struct item *it = item_new();
    struct ruleindex_stats st;
    const struct rule_expr *ex[4];
    struct ruleindex *ix;
    struct hits h = {0};
    na_error err;

    (void)state;
    assert_int_equal(ruleset_load_buffer("m.json", json, sizeof(json) - 1, &rs, &err), 0);
    for (size_t i = 0; i < 4; i++)
        ex[i] = ruleset_expr(rs, i);
    ix = ruleindex_build(ex, 4);
    assert_non_null(ix);
    ruleindex_get_stats(ix, &st);
    assert_int_equal(st.always, 3);
    assert_int_equal(st.postings, 1);
    ruleindex_free(&ix);
    assert_int_equal(item_set(&it->id, "i"), 0);
    assert_int_equal(item_set(&it->title, "nothing here"), 0);
    assert_int_equal(ruleset_match(rs, it, collect, &h), 0);
    assert_int_equal(h.n, 1); /* neg: no "calm" */
    assert_int_equal(h.idx[0], 0);
    h.n = 0;
    assert_int_equal(item_set(&it->title, "a stormy day, calm"), 0);
    assert_int_equal(item_set(&it->link, "http://EXAMPLE.com"), 0);
    assert_int_equal(ruleset_match(rs, it, collect, &h), 0);
    assert_int_equal(h.n, 2); /* re, link */
    assert_int_equal(h.idx[0], 1);
    assert_int_equal(h.idx[1], 2);
    free(h.idx);
    item_free(&it);
    ruleset_free(&rs);
}

/* Many candidates per item (the index sorts them by radix then, in one,
 * two or three byte passes by the size of the set): every rule that
 * matches must come out once and in rule order.  Rules are filed under
 * different words so that candidates arrive out of order. */
static void test_many_candidates(void **state)
{
    static const char *const words[] = {"storm", "flood", "wind", "rain", "snow"};
    const size_t sizes[] = {200, 3000, 70000};

    (void)state;
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        struct strbuf b = {0};
        struct ruleset *rs = NULL;
        struct item *it = item_new();
        struct hits h = {0};
        size_t n = sizes[z], want = 0;
        char *json;
        na_error err;

        strbuf_adds(&b, "{\"rules\":[");
        for (size_t i = 0; i < n; i++) {
            char one[160];

            /* every 7th rule cannot match the item below */
            snprintf(one, sizeof(one), "%s{\"id\":\"r%zu\",\"query\":\"%s %s\"}",
                     i > 0 ? "," : "", i, words[(i * 7919) % 5],
                     i % 7 == 3 ? "-rain" : "OR absent");
            strbuf_adds(&b, one);
            want += i % 7 != 3;
        }
        strbuf_adds(&b, "]}");
        json = strbuf_take(&b);
        assert_non_null(json);
        assert_int_equal(ruleset_load_buffer("many.json", json, strlen(json), &rs, &err), 0);
        assert_non_null(it);
        assert_int_equal(item_set(&it->id, "i"), 0);
        assert_int_equal(item_set(&it->title, "storm flood wind rain snow"), 0);
        assert_int_equal(ruleset_match(rs, it, collect, &h), 0);
        assert_int_equal(h.n, want);
        for (size_t k = 0, i = 0; i < n; i++)
            if (i % 7 != 3)
                assert_int_equal(h.idx[k++], i);
        free(h.idx);
        free(json);
        item_free(&it);
        ruleset_free(&rs);
    }
}


/* Index and naive mode give the same matches, each once and in rule order,
 * when rules are filed under several of a story's keys (OR groups whose
 * branches all occur: the candidate list holds copies that must be
 * dropped, with few candidates and with many) and under prefixes that
 * overlap (a word starting with one prefix key, with several, or none;
 * each item twice, so the second time comes from the worker's memo). */
static void test_candidates_listed_once(void **state)
{
    static const char *const rules[] = {
        "storm OR flood",        "storm OR flood OR wind", "(storm OR rain) (flood OR snow)",
        "ukr*",                  "ukra*",                  "ukrain*",
        "ukr* OR zel*",          "\"peace ukra*\"",        "ukrainian",
        "zelensk* -storm",       "ukr* ukra* ukrain*",     "title:ukr* OR wind",
        "zel* NEAR/3 peace",     "rain OR snow OR ukr*",   "storm flood -zeal",
    };
    static const char *const words[] = {"storm", "flood", "wind",      "rain",     "snow",
                                        "ukraine", "Ukrainian", "ukr", "UKRAINE's", "ukra",
                                        "uk",    "zelensky", "zeal",    "peace",    "filler",
                                        "zel",   "ukrainians"};
    const size_t copies[] = {1, 40};

    (void)state;
    for (size_t z = 0; z < sizeof(copies) / sizeof(copies[0]); z++) {
        struct strbuf b = {0};
        struct ruleset *rs = NULL;
        struct ruleset_worker *wi, *wn;
        const size_t nr = sizeof(rules) / sizeof(rules[0]);
        size_t total = 0, most = 0;
        char *json;
        na_error err;

        strbuf_adds(&b, "{\"rules\":[\n");
        for (size_t i = 0; i < nr * copies[z]; i++)
            append_rule(&b, i, "", rules[i % nr]);
        strbuf_adds(&b, "\n]}\n");
        json = strbuf_take(&b);
        assert_non_null(json);
        na_error_clear(&err);
        if (ruleset_load_buffer("once.json", json, strlen(json), &rs, &err) != 0)
            fail_msg("%s", err.msg);
        free(json);
        wi = ruleset_worker_new(rs);
        wn = ruleset_worker_new(rs);
        assert_non_null(wi);
        assert_non_null(wn);
        for (size_t k = 0; k < 300; k++) {
            struct item *it = item_new();
            struct strbuf tb = {0};
            struct hits hn = {0};
            char *t;

            assert_non_null(it);
            assert_int_equal(item_set(&it->id, "i"), 0);
            for (uint32_t j = 0, n = 1 + rnd(12); j < n; j++) {
                strbuf_adds(&tb, words[rnd(sizeof(words) / sizeof(words[0]))]);
                strbuf_adds(&tb, " ");
            }
            t = strbuf_take(&tb);
            assert_non_null(t);
            assert_int_equal(item_set(rnd(2) ? &it->title : &it->summary, t), 0);
            free(t);
            ruleset_set_naive(rs, 1);
            assert_int_equal(ruleset_worker_match(wn, it, collect, &hn), 0);
            ruleset_set_naive(rs, 0);
            for (int pass = 0; pass < 2; pass++) {
                struct hits hi = {0};

                assert_int_equal(ruleset_worker_match(wi, it, collect, &hi), 0);
                if (hi.n != hn.n ||
                    (hi.n > 0 && memcmp(hi.idx, hn.idx, hi.n * sizeof(*hi.idx)) != 0))
                    fail_msg("item %zu pass %d (title '%s', summary '%s'): index %zu matches, "
                             "naive %zu",
                             k, pass, it->title != NULL ? it->title : "",
                             it->summary != NULL ? it->summary : "", hi.n, hn.n);
                free(hi.idx);
            }
            for (size_t i = 1; i < hn.n; i++)
                assert_true(hn.idx[i - 1] < hn.idx[i]);
            total += hn.n;
            most = hn.n > most ? hn.n : most;
            free(hn.idx);
            item_free(&it);
        }
        /* rules did match, and (with 40 copies) more than 32 at once */
        assert_true(total > 300);
        assert_true(z == 0 || most > 32);
        ruleset_worker_free(&wi);
        ruleset_worker_free(&wn);
        ruleset_free(&rs);
    }
}

/* The worker of a one-language set keeps only the story's words some rule
 * names (text_norm_set_filter + ruleindex_keeps): matches AND explanations
 * must be exactly those of every rule evaluated on the whole, unfiltered
 * document (phrases, NEAR, prefixes, NOTs, fields, regexes, disabled rules;
 * the items hold many words no rule names). */
static void test_filter_oracle(void **state)
{
    const size_t nrules = 1500, nitems = 300;
    struct strbuf b = {0};
    struct ruleset *rs = NULL;
    struct ruleset_worker *w;
    struct text_doc *full = text_doc_new(NULL);
    struct rule_ctx *ctx = rule_ctx_new();
    unsigned long long total = 0;
    char *json;
    na_error err;

    (void)state;
    assert_non_null(full);
    assert_non_null(ctx);
    strbuf_adds(&b, "{\"rules\":[\n");
    for (size_t i = 0; i < nrules; i++) {
        struct strbuf q = {0};
        char *qs;

        /* half the vocabulary only, so that many story words are dropped */
        gen_query(&q, 0);
        qs = strbuf_take(&q);
        assert_non_null(qs);
        append_rule(&b, i, rnd(30) == 0 ? "\"enabled\":false," : "", qs);
        free(qs);
    }
    /* words some rules reach only through a prefix or inside a phrase */
    strbuf_adds(&b, ",\n{\"id\":\"p1\",\"query\":\"zyx*\"},\n"
                    "{\"id\":\"p2\",\"query\":\"\\\"alpha zyxwv\\\"\"},\n"
                    "{\"id\":\"p3\",\"query\":\"alpha NEAR/2 zyxabc\"},\n"
                    "{\"id\":\"p4\",\"query\":\"gam* -omega\"},\n"
                    "{\"id\":\"p5\",\"query\":\"\\\"beta gam*\\\"\"},\n"
                    "{\"id\":\"p6\",\"query\":\"title:(zyxq* OR omega) ukr*\"},\n"
                    "{\"id\":\"p7\",\"query\":\"\\\"peace zyxmm*\\\" NEAR/3 beta\"},\n"
                    "{\"id\":\"p8\",\"query\":\"\\\"omega deltaq\\\"\"}");
    strbuf_adds(&b, "\n]}\n");
    json = strbuf_take(&b);
    assert_non_null(json);
    na_error_clear(&err);
    if (ruleset_load_buffer("gen.json", json, strlen(json), &rs, &err) != 0)
        fail_msg("%s", err.msg);
    free(json);
    w = ruleset_worker_new(rs);
    assert_non_null(w);
    for (size_t k = 0; k < nitems; k++) {
        struct item *it = gen_item();
        struct hits h = {0};
        size_t n = 0;
        static const char *const extra[] = {"zyxwv", "zyxabc", "Zyxqr", "alpha", "beta",
                                            "gammaray", "GAMMA", "omega", "zyxmmm", "peace",
                                            "unnamed", "Zzyzx", "qwerty", "filler", "deltaq"};
        struct strbuf cb = {0};
        char *c;

        /* words no rule names, and words only prefixes and phrases reach,
         * around and between the others */
        for (int j = 0; j < 40; j++) {
            strbuf_adds(&cb, rnd(3) == 0 ? extra[rnd(15)] : word());
            strbuf_adds(&cb, rnd(8) == 0 ? ". " : " ");
        }
        c = strbuf_take(&cb);
        assert_non_null(c);
        assert_int_equal(item_set(&it->content, c), 0);
        if (rnd(2))
            assert_int_equal(item_set(&it->title, c + strlen(c) / 2), 0);
        free(c);
        assert_int_equal(ruleset_worker_match(w, it, collect, &h), 0);
        text_doc_reset(full);
        assert_int_equal(text_doc_add_item(full, it), 0);
        for (size_t i = 0; i < ruleset_count(rs); i++) {
            struct rule_explanation *xw = NULL, *xf = NULL;
            int m;

            if (!ruleset_rule(rs, i)->enabled)
                continue;
            m = rule_eval(ruleset_expr(rs, i), full);
            if (!m)
                continue;
            if (n >= h.n || h.idx[n] != i)
                fail_msg("item %zu: rule %s (%s) matches the whole document, not the worker's",
                         k, ruleset_rule(rs, i)->id, ruleset_rule(rs, i)->query);
            n++;
            /* the same explanation */
            assert_int_equal(rule_explain(ruleset_expr(rs, i), full, ctx, &xf), 1);
            assert_int_equal(ruleset_worker_explain(w, i, &xw), 1);
            assert_int_equal(xw->nterms, xf->nterms);
            for (size_t j = 0; j < xf->nterms; j++) {
                assert_string_equal(xw->terms[j], xf->terms[j]);
                assert_string_equal(xw->fields[j], xf->fields[j]);
            }
            assert_string_equal(xw->snippet, xf->snippet);
            rule_explanation_free(&xw);
            rule_explanation_free(&xf);
        }
        if (n != h.n)
            fail_msg("item %zu: the worker found %zu matches, the whole document %zu", k, h.n,
                     n);
        total += n;
        free(h.idx);
        item_free(&it);
    }
    /* the filter did drop words (else this proves nothing) */
    assert_true(text_doc_ntokens(full) > 0);
    assert_true(total > nitems);
    ruleset_worker_free(&w);
    ruleset_free(&rs);
    text_doc_free(&full);
    rule_ctx_free(&ctx);
}

/* ---- the second requirement (a candidate must also hold a second word) ---- */

/* A word of a larger made-up vocabulary (three syllables: 1 000 words), so
 * that most of a rule's words are absent from most stories. */
static const char *const sylls[] = {"ka", "lo", "mi", "ru", "te", "vo", "zan", "pel", "dor",
                                    "qui"};

static void big_word(char *out, size_t cap, uint32_t n)
{
    snprintf(out, cap, "%s%s%s", sylls[n % 10], sylls[n / 10 % 10], sylls[n / 100 % 10]);
}

/* Stories draw words Zipf-like from the first 300, rules from all 1 000. */
static void story_word(struct strbuf *b)
{
    char w[16];
    uint32_t a = rnd(300), c = rnd(300);

    big_word(w, sizeof(w), a < c ? a : c);
    strbuf_adds(b, w);
}

static void rule_word_of(struct strbuf *b)
{
    char w[16];

    big_word(w, sizeof(w), rnd(3) == 0 ? rnd(40) : rnd(600));
    strbuf_adds(b, w);
}

/* One part of an AND rule: a word, a phrase, an OR group, a prefix, a
 * fielded word, a NEAR, or (not first) a NOT. */
static void gen_part(struct strbuf *b, int first)
{
    uint32_t k = rnd(20);

    if (k < 7) {
        rule_word_of(b);
    } else if (k < 9) {
        strbuf_adds(b, "\"");
        rule_word_of(b);
        strbuf_adds(b, " ");
        rule_word_of(b);
        strbuf_adds(b, "\"");
    } else if (k < 12) {
        uint32_t m = 2 + rnd(3);

        strbuf_adds(b, "(");
        for (uint32_t j = 0; j < m; j++) {
            if (j > 0)
                strbuf_adds(b, " OR ");
            if (rnd(4) == 0) {
                strbuf_adds(b, "\"");
                rule_word_of(b);
                strbuf_adds(b, " ");
                rule_word_of(b);
                strbuf_adds(b, "\"");
            } else {
                rule_word_of(b);
            }
        }
        strbuf_adds(b, ")");
    } else if (k < 14) {
        char w[16];

        big_word(w, sizeof(w), rnd(300));
        w[4 + rnd((uint32_t)strlen(w) - 3)] = '\0'; /* 4 bytes to the whole word */
        strbuf_adds(b, w);
        strbuf_adds(b, "*");
    } else if (k < 15) {
        strbuf_adds(b, fields[rnd(3)]);
        rule_word_of(b);
    } else if (k < 17) {
        char d[24];

        rule_word_of(b);
        snprintf(d, sizeof(d), " NEAR/%u ", 1 + rnd(6));
        strbuf_adds(b, d);
        rule_word_of(b);
    } else if (!first) {
        strbuf_adds(b, "-");
        rule_word_of(b);
    } else {
        rule_word_of(b);
    }
}

/* Rules that are ANDs of 2-4 parts, filed under one word and listed only
 * when the story holds a second word (or one of an OR group's): the same
 * matches, in the same order, as the naive mode, and the second word does
 * cut the candidates (nearly to the matches). */
static void test_second_requirement(void **state)
{
    const size_t nrules = 6000, nitems = 300;
    struct strbuf b = {0};
    struct ruleset *rs;
    struct ruleset_worker *wi, *wn;
    unsigned long long cands = 0, total = 0;

    (void)state;
    strbuf_adds(&b, "{\"rules\":[\n");
    for (size_t i = 0; i < nrules; i++) {
        struct strbuf q = {0};
        uint32_t parts = 2 + rnd(3);
        char *qs;

        for (uint32_t p = 0; p < parts; p++) {
            if (p > 0)
                strbuf_adds(&q, rnd(3) == 0 ? " AND " : " ");
            gen_part(&q, p == 0);
        }
        qs = strbuf_take(&q);
        assert_non_null(qs);
        append_rule(&b, i, rnd(15) == 0 ? "\"lang\":\"german\"," : "", qs);
        free(qs);
    }
    strbuf_adds(&b, "\n]}\n");
    rs = load_generated("second.json", strbuf_take(&b));
    wi = ruleset_worker_new(rs);
    wn = ruleset_worker_new(rs);
    assert_non_null(wi);
    assert_non_null(wn);
    for (size_t k = 0; k < nitems; k++) {
        struct item *it = item_new();
        struct strbuf tb = {0}, cb = {0};
        char *t;

        assert_non_null(it);
        assert_int_equal(item_set(&it->id, "id"), 0);
        for (uint32_t j = 0, n = 4 + rnd(8); j < n; j++) {
            strbuf_adds(&tb, j > 0 ? " " : "");
            story_word(&tb);
        }
        t = strbuf_take(&tb);
        assert_non_null(t);
        assert_int_equal(item_set(&it->title, t), 0);
        free(t);
        for (uint32_t j = 0, n = 20 + rnd(80); j < n; j++) {
            strbuf_adds(&cb, j > 0 ? (rnd(9) == 0 ? ". " : " ") : "");
            story_word(&cb);
        }
        t = strbuf_take(&cb);
        assert_non_null(t);
        assert_int_equal(item_set(rnd(2) ? &it->content : &it->summary, t), 0);
        free(t);
        total += match_both(rs, wi, wn, it, k);
        item_free(&it);
    }
    ruleset_worker_stats(wi, NULL, &cands, NULL);
    ruleset_set_naive(rs, 0);
    /* rules do match (else the oracle proves nothing), and the second
     * requirement keeps the candidates near the matches (filed under one
     * word only, these rules give several times as many) */
    if (total < nitems)
        fail_msg("only %llu matches for %zu items", total, nitems);
    if (cands > total * 2)
        fail_msg("%llu candidates for %llu matches", cands, total);
    ruleset_worker_free(&wi);
    ruleset_worker_free(&wn);
    ruleset_free(&rs);
}

/* A second requirement that no rule is filed under: a prefix length and a
 * language (layer) the candidate loop would otherwise not look up. */
static void test_second_requirement_lookups(void **state)
{
    static const char *const json =
        "{\"rules\":[\n"
        "{\"id\":\"de\",\"lang\":\"german\",\"query\":\"(kaloka OR mirux*) kalokazan*\"},\n"
        "{\"id\":\"en\",\"query\":\"kaloka kalokazanpe*\"}\n]}\n";
    static const char *const titles[] = {"kaloka kalokazanpelx", "kalokazanpelx", "kaloka",
                                         "kalokazanx kaloka"};
    static const size_t want[][2] = {{2, 0}, {0, 0}, {0, 0}, {1, 0}};
    struct ruleset *rs = NULL;
    struct ruleset_worker *w;
    na_error err;

    (void)state;
    na_error_clear(&err);
    if (ruleset_load_buffer("lookups.json", json, strlen(json), &rs, &err) != 0)
        fail_msg("%s", err.msg);
    w = ruleset_worker_new(rs);
    assert_non_null(w);
    for (int naive = 0; naive < 2; naive++) {
        ruleset_set_naive(rs, naive);
        for (size_t k = 0; k < sizeof(titles) / sizeof(titles[0]); k++) {
            struct item *it = item_new();
            struct hits h = {0};

            assert_non_null(it);
            assert_int_equal(item_set(&it->id, "id"), 0);
            assert_int_equal(item_set(&it->title, titles[k]), 0);
            assert_int_equal(ruleset_worker_match(w, it, collect, &h), 0);
            if (h.n != want[k][0] || (h.n > 0 && h.idx[0] != want[k][1]))
                fail_msg("'%s' (naive %d): %zu matches, want %zu", titles[k], naive, h.n,
                         want[k][0]);
            if (h.n == 2)
                assert_int_equal(h.idx[1], 1);
            free(h.idx);
            item_free(&it);
        }
    }
    ruleset_set_naive(rs, 0);
    ruleset_worker_free(&w);
    ruleset_free(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_filter_oracle),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_always),
        cmocka_unit_test(test_many_candidates),
        cmocka_unit_test(test_candidates_listed_once),
        cmocka_unit_test(test_second_requirement),
        cmocka_unit_test(test_second_requirement_lookups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

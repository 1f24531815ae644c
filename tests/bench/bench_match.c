/*
 * bench_match.c - the matching benchmark of issue 4.
 *
 * Generates a reproducible rule set (N rules of 1 to 4 words: plain words,
 * phrases, OR groups, NOTs, prefixes; a Zipf-distributed vocabulary) and
 * reproducible items (a title and 40-220 words), loads the rules through
 * the real rules-file path (JSON -> ruleset, index), and measures on one
 * core, side by side on the same data:
 *
 *   - newsalert's matcher (the index): items/s, per-item latency p50/p99,
 *     resident memory;
 *   - newsalert's naive mode (every rule on every item), on a sample;
 *   - one PCRE2 regex per rule (lookaheads for AND, negative lookaheads for
 *     NOT, JIT), on a sample, extrapolated;
 *   - Hyperscan scanning every rule word as a literal (no boolean logic),
 *     when built with it (NA_HAVE_HYPERSCAN).
 *
 * Usage: bench_match [--rules N] [--items N] [--sample N] [--seed S]
 *                    [--vocab N] [--write-rules FILE] [--write-items FILE]
 *                    [--no-naive] [--no-pcre] [--no-hs] [--zipf-rules]
 *                    [--passes N]
 * --passes N repeats the measured (warm) pass N times and reports the one
 * that took the least CPU time (on a shared machine the others were slowed
 * by other processes); it also lets a profiler see mostly the steady state.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8

#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef NA_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif

#include "item.h"
#include "ruleset.h"
#include "strbuf.h"
#include "text.h"

/* ---- reproducible random numbers and a Zipf vocabulary -------------------- */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(rnd64() % n);
}

static double rndf(void)
{
    return (double)(rnd64() >> 11) / 9007199254740992.0;
}

struct vocab {
    char **words;
    double *cdf;
    size_t n;
};

static const char *const syl[] = {"ka", "ri", "to", "ne", "mu", "sa", "lo", "pe", "di", "vu",
                                  "ba", "ze", "fi", "go", "ha", "ju", "ly", "mo", "nu", "qa",
                                  "ro", "si", "te", "wa", "xi", "yo", "co", "de", "el", "an"};
#define NSYL (sizeof(syl) / sizeof(syl[0]))

static void vocab_make(struct vocab *v, size_t n)
{
    double sum = 0;

    v->n = n;
    v->words = calloc(n, sizeof(*v->words));
    v->cdf = calloc(n, sizeof(*v->cdf));
    if (v->words == NULL || v->cdf == NULL) {
        fprintf(stderr, "bench_match: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        char w[32];
        size_t len = 0, k = i + NSYL; /* at least two syllables */

        while (k > 0 && len + 3 < sizeof(w)) {
            memcpy(w + len, syl[k % NSYL], 2);
            len += 2;
            k /= NSYL;
        }
        w[len++] = 'r'; /* a consonant end: few stemmer collisions */
        w[len] = '\0';
        v->words[i] = strdup(w);
        sum += 1.0 / pow((double)(i + 1), 1.0);
        v->cdf[i] = sum;
    }
    for (size_t i = 0; i < n; i++)
        v->cdf[i] /= sum;
}

/* A word of Zipf rank >= lo. */
static const char *zipf(const struct vocab *v, size_t lo)
{
    double lo_p = lo > 0 ? v->cdf[lo - 1] : 0;
    double x = lo_p + rndf() * (1.0 - lo_p);
    size_t a = lo, b = v->n - 1;

    while (a < b) {
        size_t m = (a + b) / 2;

        if (v->cdf[m] < x)
            a = m + 1;
        else
            b = m;
    }
    return v->words[a];
}

/* ---- rules ------------------------------------------------------------------ */

/* One generated rule: the query, and the pieces for the comparators. */
struct grule {
    char *query;
    char *regex;            /* the PCRE2 equivalent */
    char *words[8];         /* every word it names (for Hyperscan) */
    int nwords;
};

/* Rules use words of rank >= RULE_RANK_MIN: nobody watches for "the".  By
 * default a rule word is drawn evenly from the long tail (names, places,
 * specific terms); with --zipf-rules from the same Zipf law as the text. */
#define RULE_RANK_MIN 2000
static int zipf_rules;

static const char *rule_word(const struct vocab *v)
{
    if (zipf_rules)
        return zipf(v, RULE_RANK_MIN);
    return v->words[RULE_RANK_MIN + rnd((uint32_t)(v->n - RULE_RANK_MIN))];
}

static void add_word(struct grule *r, const char *w)
{
    if (r->nwords < 8)
        r->words[r->nwords++] = strdup(w);
}

static void gen_rule(const struct vocab *v, struct grule *r)
{
    struct strbuf q = {0}, re = {0};
    uint32_t k = rnd(100), nparts = k < 25 ? 1 : k < 70 ? 2 : 3, kind;
    int words = 0;

    strbuf_adds(&re, "(?s)^");
    for (uint32_t p = 0; p < nparts && words < 4; p++) {
        const char *a = rule_word(v), *b = rule_word(v);

        kind = rnd(100);
        if (p > 0)
            strbuf_adds(&q, " ");
        if (kind < 55 || words >= 3) { /* a word */
            strbuf_adds(&q, a);
            strbuf_adds(&re, "(?=.*\\b");
            strbuf_adds(&re, a);
            strbuf_adds(&re, "\\b)");
            add_word(r, a);
            words++;
        } else if (kind < 70) { /* a phrase */
            strbuf_adds(&q, "\"");
            strbuf_adds(&q, a);
            strbuf_adds(&q, " ");
            strbuf_adds(&q, b);
            strbuf_adds(&q, "\"");
            strbuf_adds(&re, "(?=.*\\b");
            strbuf_adds(&re, a);
            strbuf_adds(&re, "\\s+");
            strbuf_adds(&re, b);
            strbuf_adds(&re, "\\b)");
            add_word(r, a);
            add_word(r, b);
            words += 2;
        } else if (kind < 85) { /* an OR group */
            strbuf_adds(&q, "(");
            strbuf_adds(&q, a);
            strbuf_adds(&q, " OR ");
            strbuf_adds(&q, b);
            strbuf_adds(&q, ")");
            strbuf_adds(&re, "(?=.*\\b(?:");
            strbuf_adds(&re, a);
            strbuf_adds(&re, "|");
            strbuf_adds(&re, b);
            strbuf_adds(&re, ")\\b)");
            add_word(r, a);
            add_word(r, b);
            words += 2;
        } else if (kind < 93 && p > 0) { /* a NOT */
            strbuf_adds(&q, "-");
            strbuf_adds(&q, a);
            strbuf_adds(&re, "(?!.*\\b");
            strbuf_adds(&re, a);
            strbuf_adds(&re, "\\b)");
            add_word(r, a);
            words++;
        } else { /* a prefix: the word less its last two letters */
            char pfx[32];
            size_t n = strlen(a) > 5 ? strlen(a) - 2 : strlen(a);

            memcpy(pfx, a, n);
            pfx[n] = '\0';
            strbuf_adds(&q, pfx);
            strbuf_adds(&q, "*");
            strbuf_adds(&re, "(?=.*\\b");
            strbuf_adds(&re, pfx);
            strbuf_adds(&re, ")");
            add_word(r, pfx);
            words++;
        }
    }
    r->query = strbuf_take(&q);
    r->regex = strbuf_take(&re);
}

/* ---- items --------------------------------------------------------------------- */

static char *gen_text(const struct vocab *v, uint32_t n, int sentence)
{
    struct strbuf b = {0};

    for (uint32_t i = 0; i < n; i++) {
        const char *w = zipf(v, 0);

        if (i > 0)
            strbuf_adds(&b, sentence && rnd(12) == 0 ? ". " : " ");
        if (i == 0 || (sentence && rnd(20) == 0)) {
            char cap[32];
            size_t len = strlen(w);

            memcpy(cap, w, len + 1);
            cap[0] = (char)(cap[0] - 32);
            strbuf_adds(&b, cap);
        } else {
            strbuf_adds(&b, w);
        }
    }
    if (sentence)
        strbuf_adds(&b, ".");
    return strbuf_take(&b);
}

static struct item *gen_item(const struct vocab *v, size_t i)
{
    struct item *it = item_new();
    char id[32];

    snprintf(id, sizeof(id), "item-%zu", i);
    item_set(&it->id, id);
    it->title = gen_text(v, 5 + rnd(8), 0);
    it->content = gen_text(v, 40 + rnd(181), 1);
    item_set(&it->link, "https://example.org/story");
    item_set(&it->feed, "https://example.org/feed.xml");
    return it;
}

/* ---- measuring ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine the wall clock also counts
 * the time other processes took the core. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp) != NULL)
        if (strncmp(line, key, strlen(key)) == 0)
            kb = strtol(line + strlen(key) + 1, NULL, 10);
    fclose(fp);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int count_cb(const struct rule_info *rule, const struct item *it, void *arg)
{
    (void)rule;
    (void)it;
    (*(unsigned long long *)arg)++;
    return 0;
}

/* The naive check: the matches, their rules and their order. */
struct seq {
    unsigned long long n;
    uint64_t h;
};

static int seq_cb(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct seq *q = arg;

    (void)it;
    q->n++;
    q->h = (q->h ^ ((uint64_t)rule->index + 1)) * 1099511628211ull;
    return 0;
}

#ifdef NA_HAVE_HYPERSCAN
static int hs_count(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(unsigned long long *)ctx)++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
#endif

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'}, {"items", required_argument, NULL, 'i'},
        {"sample", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'S'},
        {"vocab", required_argument, NULL, 'v'}, {"write-rules", required_argument, NULL, 'W'},
        {"write-items", required_argument, NULL, 'I'}, {"no-naive", no_argument, NULL, 'n'},
        {"no-pcre", no_argument, NULL, 'p'}, {"no-hs", no_argument, NULL, 'h'},
        {"passes", required_argument, NULL, 'P'},
        {"zipf-rules", no_argument, NULL, 'z'},
        {NULL, 0, NULL, 0}};
    size_t nrules = 10000, nitems = 20000, sample = 200, nvocab = 200000;
    const char *write_rules = NULL, *write_items = NULL;
    int do_naive = 1, do_pcre = 1, do_hs = 1, c;
    unsigned long passes = 1;
    uint64_t seed = 42;
    struct vocab v;
    struct grule *rules;
    struct item **items;
    struct strbuf json = {0};
    char *js;
    struct ruleset *rs = NULL;
    struct ruleset_worker *w;
    na_error err;
    double t0, t1, c0, c1, *lat, idx_rate, total_words = 0;
    unsigned long long matches = 0, cands = 0;
    long rss_before, rss_after, hwm;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': nrules = strtoul(optarg, NULL, 10); break;
        case 'i': nitems = strtoul(optarg, NULL, 10); break;
        case 's': sample = strtoul(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'v': nvocab = strtoul(optarg, NULL, 10); break;
        case 'W': write_rules = optarg; break;
        case 'I': write_items = optarg; break;
        case 'n': do_naive = 0; break;
        case 'p': do_pcre = 0; break;
        case 'h': do_hs = 0; break;
        case 'z': zipf_rules = 1; break;
        case 'P': passes = strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: bench_match [--rules N] [--items N] [--sample N] "
                            "[--seed S] [--vocab N] [--write-rules F] [--write-items F] "
                            "[--no-naive] [--no-pcre] [--no-hs] [--zipf-rules] "
                            "[--passes N]\n");
            return 2;
        }
    }
    if (passes == 0 || passes > 1000)
        return 2;
    if (nitems == 0 || sample == 0 || nrules == 0 || nvocab <= RULE_RANK_MIN + 10)
        return 2;
    if (sample > nitems)
        sample = nitems;
    rng_state = seed * 2654435761u + 1;
    vocab_make(&v, nvocab);

    rules = calloc(nrules, sizeof(*rules));
    items = calloc(nitems, sizeof(*items));
    lat = calloc(nitems, sizeof(*lat));
    if (rules == NULL || items == NULL || lat == NULL)
        return 1;
    strbuf_adds(&json, "{\"rules\":[\n");
    for (size_t i = 0; i < nrules; i++) {
        char head[64];

        gen_rule(&v, &rules[i]);
        snprintf(head, sizeof(head), "%s{\"id\":\"r%zu\",\"query\":\"", i > 0 ? ",\n" : "", i);
        strbuf_adds(&json, head);
        for (const char *p = rules[i].query; *p; p++) {
            if (*p == '"')
                strbuf_adds(&json, "\\");
            strbuf_add(&json, p, 1);
        }
        strbuf_adds(&json, "\"}");
    }
    strbuf_adds(&json, "\n]}\n");
    js = strbuf_take(&json);
    for (size_t i = 0; i < nitems; i++) {
        items[i] = gen_item(&v, i);
        total_words += 0; /* counted below from the text */
    }
    if (write_rules != NULL) {
        FILE *fp = fopen(write_rules, "w");

        if (fp == NULL || fputs(js, fp) < 0 || fclose(fp) != 0) {
            perror(write_rules);
            return 1;
        }
    }
    if (write_items != NULL) {
        FILE *fp = fopen(write_items, "w");

        if (fp == NULL) {
            perror(write_items);
            return 1;
        }
        for (size_t i = 0; i < nitems; i++) {
            char *line = item_to_json(items[i]);

            fprintf(fp, "%s\n", line);
            free(line);
        }
        fclose(fp);
    }

    printf("bench_match: %zu rules, %zu items (title + 40-220 words), vocabulary %zu words "
           "(Zipf s=1; rule words: ranks >= %d, %s), seed %llu\n",
           nrules, nitems, nvocab, RULE_RANK_MIN, zipf_rules ? "Zipf" : "evenly",
           (unsigned long long)seed);
    malloc_trim(0);
    rss_before = rss_kb("VmRSS:");
    t0 = now_s();
    if (ruleset_load_buffer("bench-rules.json", js, strlen(js), &rs, &err) != 0) {
        fprintf(stderr, "bench_match: %s\n", err.msg);
        return 1;
    }
    free(js);
    malloc_trim(0);
    t1 = now_s();
    rss_after = rss_kb("VmRSS:");
    printf("load: %.2f s (JSON parse, compile, index); resident after load: %.1f MB "
           "(rules alone %.1f MB)\n",
           t1 - t0, rss_after / 1024.0, (rss_after - rss_before) / 1024.0);

    /* newsalert, indexed */
    w = ruleset_worker_new(rs);
    if (w == NULL)
        return 1;
    /* a first pass, cold: every word is new to the worker's normaliser */
    c0 = cpu_s();
    for (size_t i = 0; i < nitems; i++)
        ruleset_worker_match(w, items[i], count_cb, &matches);
    c1 = cpu_s();
    printf("newsalert (index), first pass (cold word cache): %.0f items/s of CPU time\n",
           (double)nitems / (c1 - c0));
    /* then the measured pass: the steady state of a long-running matcher,
     * which has seen its feeds' vocabulary */
    {
        double *plat = malloc(nitems * sizeof(*plat)), best = 0;

        if (plat == NULL)
            return 1;
        for (unsigned long p = 0; p < passes; p++) {
            double pt0, pt1, pc0, pc1;

            matches = 0;
            pc0 = cpu_s();
            pt0 = now_s();
            for (size_t i = 0; i < nitems; i++) {
                double a = now_s();

                ruleset_worker_match(w, items[i], count_cb, &matches);
                plat[i] = now_s() - a;
            }
            pt1 = now_s();
            pc1 = cpu_s();
            if (p == 0 || pc1 - pc0 < best) {
                best = pc1 - pc0;
                c0 = pc0;
                c1 = pc1;
                t0 = pt0;
                t1 = pt1;
                memcpy(lat, plat, nitems * sizeof(*lat));
            }
        }
        free(plat);
        if (passes > 1)
            printf("measured pass: the least CPU time of %lu warm passes\n", passes);
    }
    idx_rate = (double)nitems / (t1 - t0);
    ruleset_worker_stats(w, NULL, &cands, NULL);
    cands /= passes + 1; /* the cold pass and the measured ones */
    qsort(lat, nitems, sizeof(*lat), cmp_double);
    hwm = rss_kb("VmHWM:");
    printf("newsalert (index):  %10.0f items/s   p50 %7.1f us   p99 %7.1f us   "
           "%.2f matches/item, %.0f candidates/item   RSS %.1f MB (peak %.1f MB)\n"
           "                    %10.0f items/s of CPU time (%.1f us/item; wall %.2f s, "
           "CPU %.2f s: the rest is other processes on this core)\n",
           idx_rate, lat[nitems / 2] * 1e6, lat[(size_t)((double)nitems * 0.99)] * 1e6,
           (double)matches / (double)nitems,
           (double)cands / (double)nitems,
           rss_kb("VmRSS:") / 1024.0, hwm / 1024.0, (double)nitems / (c1 - c0),
           (c1 - c0) / (double)nitems * 1e6, t1 - t0, c1 - c0);

    {
        /* tokenising, folding and stemming EVERY word of the items (a
         * document without the filter a worker gets from its rules, which
         * leaves out the words no rule names: an upper bound of that share) */
        struct text_doc *d = text_doc_new(NULL);

        for (size_t i = 0; i < nitems; i++) {
            text_doc_reset(d);
            text_doc_add_item(d, items[i]);
        }
        c0 = cpu_s();
        for (size_t i = 0; i < nitems; i++) {
            text_doc_reset(d);
            text_doc_add_item(d, items[i]);
            total_words += (double)text_doc_ntokens(d);
        }
        c1 = cpu_s();
        printf("  tokenising, folding, stemming every word (no rule filter): %.1f us/item "
               "(%.0f words/item, %.0f ns/word)\n",
               (c1 - c0) / (double)nitems * 1e6, total_words / (double)nitems,
               (c1 - c0) / total_words * 1e9);
        text_doc_free(&d);
    }
    if (do_naive) {
        struct seq nm = {0, 14695981039346656037ull}, im = nm;

        ruleset_set_naive(rs, 1);
        t0 = now_s();
        for (size_t i = 0; i < sample; i++)
            ruleset_worker_match(w, items[i], seq_cb, &nm);
        t1 = now_s();
        ruleset_set_naive(rs, 0);
        for (size_t i = 0; i < sample; i++)
            ruleset_worker_match(w, items[i], seq_cb, &im);
        printf("newsalert (naive):  %10.1f items/s   (%zu items; same matches as the index: "
               "%s, in the same order)   index/naive = %.0fx\n",
               (double)sample / (t1 - t0), sample,
               nm.n == im.n && nm.h == im.h ? "yes" : "NO",
               idx_rate / ((double)sample / (t1 - t0)));
    }
    ruleset_worker_free(&w);

    if (do_pcre) {
        pcre2_code **res = calloc(nrules, sizeof(*res));
        pcre2_match_data *md = pcre2_match_data_create(4, NULL);
        size_t psample = sample, nre = 0;
        unsigned long long pm = 0;
        double ct0 = now_s(), ct;

        for (size_t i = 0; i < nrules; i++) {
            int ec;
            PCRE2_SIZE eo;

            res[i] = pcre2_compile((PCRE2_SPTR)rules[i].regex, PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_UTF, &ec, &eo, NULL);
            if (res[i] != NULL) {
                pcre2_jit_compile(res[i], PCRE2_JIT_COMPLETE);
                nre++;
            }
        }
        ct = now_s() - ct0;
        /* the slow one: bounded by time, then extrapolated */
        t0 = now_s();
        for (psample = 0; psample < sample; psample++) {
            struct strbuf b = {0};
            char *text;

            strbuf_adds(&b, items[psample]->title);
            strbuf_adds(&b, "\n");
            strbuf_adds(&b, items[psample]->content);
            text = strbuf_take(&b);
            for (size_t k = 0; k < nrules; k++)
                if (res[k] != NULL && pcre2_match(res[k], (PCRE2_SPTR)text, strlen(text), 0, 0,
                                                  md, NULL) >= 0)
                    pm++;
            free(text);
            if (now_s() - t0 > 20.0 && psample >= 4) {
                psample++;
                break;
            }
        }
        t1 = now_s();
        printf("PCRE2 per rule:     %10.2f items/s   (%zu regexes JIT-compiled in %.1f s; "
               "measured on %zu items and extrapolated; %.2f matches/item)   "
               "newsalert/PCRE2 = %.0fx\n",
               (double)psample / (t1 - t0), nre, ct, psample, (double)pm / (double)psample,
               idx_rate / ((double)psample / (t1 - t0)));
        for (size_t i = 0; i < nrules; i++)
            pcre2_code_free(res[i]);
        free(res);
        pcre2_match_data_free(md);
    }

#ifdef NA_HAVE_HYPERSCAN
    if (do_hs) {
        char **lits = NULL;
        size_t nl = 0, ud = 0;
        hs_database_t *db = NULL;
        hs_scratch_t *scr = NULL;
        hs_compile_error_t *ce = NULL;
        unsigned int *flags, *ids;
        unsigned long long hits = 0;
        double ct0;

        for (size_t i = 0; i < nrules; i++)
            nl += (size_t)rules[i].nwords;
        lits = calloc(nl, sizeof(*lits));
        nl = 0;
        for (size_t i = 0; i < nrules; i++)
            for (int k = 0; k < rules[i].nwords; k++)
                lits[nl++] = rules[i].words[k];
        qsort(lits, nl, sizeof(*lits), cmp_str);
        for (size_t i = 0; i < nl; i++)
            if (ud == 0 || strcmp(lits[ud - 1], lits[i]) != 0)
                lits[ud++] = lits[i];
        flags = calloc(ud, sizeof(*flags));
        ids = calloc(ud, sizeof(*ids));
        for (size_t i = 0; i < ud; i++) {
            flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
            ids[i] = (unsigned int)i;
        }
        ct0 = now_s();
        if (hs_compile_multi((const char *const *)lits, flags, ids, (unsigned int)ud,
                             HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
            printf("Hyperscan: compile failed: %s\n", ce != NULL ? ce->message : "?");
            hs_free_compile_error(ce);
        } else if (hs_alloc_scratch(db, &scr) == HS_SUCCESS) {
            double ct = now_s() - ct0;
            char **texts = calloc(nitems, sizeof(*texts));

            for (size_t i = 0; i < nitems; i++) {
                struct strbuf b = {0};

                strbuf_adds(&b, items[i]->title);
                strbuf_adds(&b, "\n");
                strbuf_adds(&b, items[i]->content);
                texts[i] = strbuf_take(&b);
            }
            t0 = now_s();
            for (size_t i = 0; i < nitems; i++)
                hs_scan(db, texts[i], (unsigned int)strlen(texts[i]), 0, scr, hs_count, &hits);
            t1 = now_s();
            printf("Hyperscan literals: %10.0f items/s   (%zu distinct words as literals, "
                   "compiled in %.1f s; no boolean logic; %.1f word hits/item)   "
                   "newsalert/Hyperscan = %.2fx\n",
                   (double)nitems / (t1 - t0), ud, ct, (double)hits / (double)nitems,
                   idx_rate / ((double)nitems / (t1 - t0)));
            for (size_t i = 0; i < nitems; i++)
                free(texts[i]);
            free(texts);
            hs_free_scratch(scr);
        }
        hs_free_database(db);
        free(flags);
        free(ids);
        free(lits);
    }
#else
    (void)do_hs;
    printf("Hyperscan literals: not built (libhyperscan-dev not found; deploy/install-deps.sh "
           "--bench)\n");
#endif
    printf("peak resident memory of the whole run: %.1f MB\n", rss_kb("VmHWM:") / 1024.0);
    (void)total_words;
    ruleset_free(&rs);
    for (size_t i = 0; i < nrules; i++) {
        free(rules[i].query);
        free(rules[i].regex);
        for (int k = 0; k < rules[i].nwords; k++)
            free(rules[i].words[k]);
    }
    free(rules);
    for (size_t i = 0; i < nitems; i++)
        item_free(&items[i]);
    free(items);
    free(lat);
    for (size_t i = 0; i < v.n; i++)
        free(v.words[i]);
    free(v.words);
    free(v.cdf);
    return 0;
}

/*
 * cmd_match.c - `newsalert match --rules RULES [--items ITEMS.jsonl]
 * [--explain | --count] [--naive] [FEED...]`: offline matching.  Each
 * (rule, item) match prints one JSON line with the same body as a published
 * alert (alert.h); `seq` counts the matches of this run from 1.  With
 * --explain each line also carries `matched` (the terms that hit and a
 * snippet), exactly as the matcher daemon's alerts do; with --count only
 * the number of matches is printed.  --naive evaluates every rule on every
 * item instead of using the index (same output, slower: a check).  RULES
 * may be a file or a directory of *.json files; warnings go to stderr.  A bad line of ITEMS.jsonl or a feed that cannot be
 * parsed is reported ("file:line: problem") and skipped; the exit status is
 * then 1, after everything else was matched.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "cli.h"
#include "feed.h"
#include "item.h"
#include "ruleset.h"

#define MATCH_USAGE                                                                            \
    "usage: newsalert match --rules RULES [--items ITEMS.jsonl] [--explain | --count]\n"      \
    "                       [--naive] [FEED...]\n"

static void print_warning(const na_error *w, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s\n", w->msg);
}

struct match_run {
    struct ruleset *rules;
    int explain;
    int count;
    int64_t seq;
    int64_t now;
    int errors;
};

static int print_alert(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct match_run *run = arg;
    struct rule_explanation *x = NULL;
    struct alert_matched m = {0};
    char *body;

    ++run->seq;
    if (run->count)
        return 0;
    if (run->explain) {
        if (ruleset_explain(run->rules, rule->index, &x) < 0) {
            fprintf(stderr, "newsalert: out of memory\n");
            return -1;
        }
        if (x != NULL) {
            m.nterms = x->nterms;
            m.terms = (const char *const *)x->terms;
            m.fields = x->fields;
            m.snippet = x->snippet;
        }
    }
    body = alert_build_matched(rule->id, rule->name, rule->tags, rule->ntags, it, run->seq,
                               run->now, run->explain ? &m : NULL);
    rule_explanation_free(&x);
    if (body == NULL) {
        fprintf(stderr, "newsalert: out of memory\n");
        return -1;
    }
    puts(body);
    free(body);
    return 0;
}

static int match_item(struct match_run *run, const struct item *it)
{
    if (ruleset_match(run->rules, it, print_alert, run) != 0) {
        run->errors++;
        return -1;
    }
    return 0;
}

static void match_items_file(struct match_run *run, const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;

    if (fp == NULL) {
        perror(path);
        run->errors++;
        return;
    }
    while ((n = getline(&line, &cap, fp)) != -1) {
        struct item *it = NULL;
        na_error err;
        ssize_t i;

        lineno++;
        for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' ||
                              line[i] == '\r');
             i++)
            ;
        if (i == n)
            continue; /* blank line */
        na_error_clear(&err);
        if (item_from_json(line, (size_t)n, &it, &err) != 0) {
            fprintf(stderr, "%s:%ld: %s\n", path, lineno, err.msg);
            run->errors++;
            continue;
        }
        match_item(run, it);
        item_free(&it);
    }
    free(line);
    if (fp != stdin)
        fclose(fp);
}

static void match_feed_file(struct match_run *run, const char *path)
{
    struct feed_doc *doc = NULL;
    struct item **items = NULL;
    size_t n = 0, i;
    na_error err;

    na_error_clear(&err);
    if (feed_parse_file(path, &doc, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        run->errors++;
        return;
    }
    if (doc->bozo)
        fprintf(stderr, "%s: warning: ill-formed feed, using what could be recovered%s%s\n",
                path, doc->bozo_reason ? ": " : "", doc->bozo_reason ? doc->bozo_reason : "");
    if (feed_doc_to_items(doc, path, &items, &n) != 0) {
        fprintf(stderr, "newsalert: out of memory\n");
        run->errors++;
    }
    for (i = 0; i < n; i++) {
        match_item(run, items[i]);
        item_free(&items[i]);
    }
    free(items);
    feed_doc_free(&doc);
}

int cmd_match(int argc, char **argv)
{
    static const struct option longopts[] = {{"rules", required_argument, NULL, 'r'},
                                             {"items", required_argument, NULL, 'i'},
                                             {"explain", no_argument, NULL, 'e'},
                                             {"count", no_argument, NULL, 'c'},
                                             {"naive", no_argument, NULL, 'N'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *rules_path = NULL, *items_path = NULL;
    struct match_run run = {0};
    na_error err;
    int c, naive = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:i:ecNh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules_path = optarg;
            break;
        case 'i':
            items_path = optarg;
            break;
        case 'e':
            run.explain = 1;
            break;
        case 'c':
            run.count = 1;
            break;
        case 'N':
            naive = 1;
            break;
        case 'h':
            printf("%s", MATCH_USAGE);
            return 0;
        default:
            return 2;
        }
    }
    if (rules_path == NULL || (items_path == NULL && optind == argc) ||
        (run.explain && run.count)) {
        fprintf(stderr, "%s", MATCH_USAGE);
        return 2;
    }
    na_error_clear(&err);
    if (ruleset_load_warn(rules_path, print_warning, NULL, &run.rules, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ruleset_set_naive(run.rules, naive);
    run.now = (int64_t)time(NULL);
    if (items_path != NULL)
        match_items_file(&run, items_path);
    for (; optind < argc; optind++)
        match_feed_file(&run, argv[optind]);
    ruleset_free(&run.rules);
    if (run.count)
        printf("%lld\n", (long long)run.seq);
    if (fflush(stdout) != 0) {
        perror("newsalert: stdout");
        return 1;
    }
    return run.errors > 0 ? 1 : 0;
}

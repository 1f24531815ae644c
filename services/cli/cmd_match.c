/*
 * cmd_match.c - `newsalert match --rules RULES [--items ITEMS.jsonl] [FEED...]`:
 * offline matching.  Each (rule, item) match prints one JSON line with the
 * same body as a published alert (alert.h); `seq` counts the matches of
 * this run from 1.  A bad line of ITEMS.jsonl or a feed that cannot be
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

struct match_run {
    struct ruleset *rules;
    int64_t seq;
    int64_t now;
    int errors;
};

static int print_alert(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct match_run *run = arg;
    char *body = alert_build(rule->id, rule->name, it, ++run->seq, run->now);

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
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *rules_path = NULL, *items_path = NULL;
    struct match_run run = {0};
    na_error err;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules_path = optarg;
            break;
        case 'i':
            items_path = optarg;
            break;
        case 'h':
            printf("usage: newsalert match --rules RULES [--items ITEMS.jsonl] [FEED...]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (rules_path == NULL || (items_path == NULL && optind == argc)) {
        fprintf(stderr, "usage: newsalert match --rules RULES [--items ITEMS.jsonl] [FEED...]\n");
        return 2;
    }
    na_error_clear(&err);
    if (ruleset_load(rules_path, &run.rules, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    run.now = (int64_t)time(NULL);
    if (items_path != NULL)
        match_items_file(&run, items_path);
    for (; optind < argc; optind++)
        match_feed_file(&run, argv[optind]);
    ruleset_free(&run.rules);
    if (fflush(stdout) != 0) {
        perror("newsalert: stdout");
        return 1;
    }
    return run.errors > 0 ? 1 : 0;
}

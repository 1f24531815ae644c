/*
 * bench_alert_floor.c - the least CPU an alerting matcher spends per item,
 * on one core, apart from its sockets and its journal: the floor under
 * issue 4's "the matcher daemon sustains the same rate end to end".
 *
 * Reads a rules file and items (JSON lines), as bench_match writes them
 * (--write-rules, --write-items), and times on the calling thread, each
 * stage over every item, best of N warm passes (CPU time):
 *
 *   match     ruleset_worker_match, as bench_match times it (on items read
 *             from the file, laid out in memory otherwise: expect the two
 *             programs' figures to differ by some 10-20%);
 *   explain   ruleset_worker_explain for every match (the terms and the
 *             snippet every alert carries, issue 4 "Explanations");
 *   bodies    the alert bodies the daemon builds (alert_item_new once per
 *             item with alerts, alert_build_parts per alert: the matcher's
 *             build_bodies);
 *   escaping  only json_dumpb() of the strings an alert must carry that no
 *             cache can serve: per item with alerts its id, title, link and
 *             summary (the summary source cut to ALERT_SUMMARY_MAX bytes at
 *             a character boundary), per alert its snippet.  The json_t
 *             strings are made before the clock starts; the feed, the feed
 *             title, the terms and the field names are left out (the
 *             matcher's memo serves them).  The project writes JSON with
 *             jansson only, so no alerting matcher of this project can
 *             spend less on its bodies than this.
 *
 * and prints the floor of the daemon on one core, match + explain +
 * escaping, as items/s beside the index's rate.
 *
 * Usage: bench_alert_floor --rules FILE --items FILE.jsonl [--passes N]
 * Exit status 0, or 1 on bad input or when out of memory.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "error.h"
#include "item.h"
#include "rule.h"
#include "ruleset.h"

#define PROG "bench_alert_floor"

/* One match of an item: its rule and, once explained, why. */
struct floor_match {
    const struct rule_info *rule;
    struct rule_explanation *why;
};

struct floor_item {
    struct item *it;
    struct floor_match *m;
    size_t nm, cm;
};

struct floor_run {
    struct ruleset_worker *w;
    struct floor_item *items;
    size_t n;
    size_t cur;    /* the item being matched */
    int record;    /* keep the matches (else only count them) */
    size_t counted;
};

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    return q;
}

static int on_match(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct floor_run *r = arg;
    struct floor_item *fi = &r->items[r->cur];

    (void)it;
    r->counted++;
    if (!r->record)
        return 0;
    if (fi->nm == fi->cm) {
        fi->cm = fi->cm != 0 ? fi->cm * 2 : 4;
        fi->m = xrealloc(fi->m, fi->cm * sizeof(*fi->m));
    }
    fi->m[fi->nm].rule = rule;
    fi->m[fi->nm].why = NULL;
    fi->nm++;
    return 0;
}

static void forget_matches(struct floor_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->items[i].nm; k++)
            rule_explanation_free(&r->items[i].m[k].why);
        r->items[i].nm = 0;
    }
}

/* Match every item (recording the matches, explained when explain). */
static void pass_match(struct floor_run *r, int record, int explain)
{
    r->record = record;
    r->counted = 0;
    for (r->cur = 0; r->cur < r->n; r->cur++) {
        struct floor_item *fi = &r->items[r->cur];

        if (ruleset_worker_match(r->w, fi->it, on_match, r) != 0) {
            fprintf(stderr, PROG ": out of memory matching\n");
            exit(1);
        }
        for (size_t k = 0; explain && k < fi->nm; k++)
            if (ruleset_worker_explain(r->w, fi->m[k].rule->index, &fi->m[k].why) != 1) {
                fprintf(stderr, PROG ": rule %s matched but cannot be explained\n",
                        fi->m[k].rule->id);
                exit(1);
            }
    }
}

/* Build every alert body as the matcher does; returns their bytes. */
static size_t pass_bodies(struct floor_run *r, struct alert_rules *parts)
{
    size_t bytes = 0;
    int64_t seq = 0, ts = 1764000000;

    for (size_t i = 0; i < r->n; i++) {
        struct floor_item *fi = &r->items[i];
        struct alert_item *ai;

        if (fi->nm == 0)
            continue;
        if ((ai = alert_item_new(fi->it)) == NULL)
            goto oom;
        for (size_t k = 0; k < fi->nm; k++) {
            const struct rule_info *rule = fi->m[k].rule;
            const struct rule_explanation *x = fi->m[k].why;
            struct alert_matched am = {x->nterms, (const char *const *)x->terms, x->fields,
                                       x->snippet};
            const struct alert_rule *ar = alert_rules_get(parts, rule->index, rule->id,
                                                          rule->name, rule->tags, rule->ntags);
            size_t len = 0;
            char *body = ar != NULL ? alert_build_parts(ar, ai, ++seq, ts, &am, &len) : NULL;

            if (body == NULL)
                goto oom;
            bytes += len;
            free(body);
        }
        alert_item_free(&ai);
    }
    return bytes;
oom:
    fprintf(stderr, PROG ": out of memory building bodies\n");
    exit(1);
}

/* The longest prefix of s of at most max bytes that ends at a character
 * boundary. */
static size_t cut_at_char(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static json_t *jstr(const char *s, size_t len)
{
    json_t *v = json_stringn(s != NULL ? s : "", s != NULL ? len : 0);

    if (v == NULL) {
        fprintf(stderr, PROG ": a string jansson refuses (not UTF-8?)\n");
        exit(1);
    }
    return v;
}

/* The strings to escape (see the file comment), made before timing. */
static json_t **escape_set(const struct floor_run *r, size_t *count)
{
    json_t **v = NULL;
    size_t n = 0, cap = 0;

    for (size_t i = 0; i < r->n; i++) {
        const struct floor_item *fi = &r->items[i];
        const struct item *it = fi->it;
        const char *sum;

        if (fi->nm == 0)
            continue;
        if (n + 4 + fi->nm > cap) {
            cap = (cap + 4 + fi->nm) * 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        sum = it->summary != NULL && it->summary[0] != '\0' ? it->summary : it->content;
        v[n++] = jstr(it->id, it->id != NULL ? strlen(it->id) : 0);
        v[n++] = jstr(it->title, it->title != NULL ? strlen(it->title) : 0);
        v[n++] = jstr(it->link, it->link != NULL ? strlen(it->link) : 0);
        v[n++] = jstr(sum, sum != NULL ? cut_at_char(sum, strlen(sum), ALERT_SUMMARY_MAX) : 0);
        for (size_t k = 0; k < fi->nm; k++)
            v[n++] = jstr(fi->m[k].why->snippet, strlen(fi->m[k].why->snippet));
    }
    *count = n;
    return v;
}

static size_t pass_escape(json_t **v, size_t n, char *buf, size_t cap)
{
    size_t bytes = 0;

    for (size_t i = 0; i < n; i++) {
        size_t got = json_dumpb(v[i], buf, cap, JSON_ENCODE_ANY | JSON_COMPACT);

        if (got > cap) {
            fprintf(stderr, PROG ": a string longer than the buffer\n");
            exit(1);
        }
        bytes += got;
    }
    return bytes;
}

static int load_items(const char *path, struct floor_run *r)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0, allocated = 0;
    ssize_t len;

    if (fp == NULL) {
        perror(path);
        return -1;
    }
    while ((len = getline(&line, &cap, fp)) > 0) {
        struct item *it;
        na_error err;

        lineno++;
        if (len == 1)
            continue;
        na_error_clear(&err);
        if (item_from_json(line, (size_t)len, &it, &err) != 0) {
            fprintf(stderr, PROG ": %s:%zu: %s\n", path, lineno, err.msg);
            free(line);
            fclose(fp);
            return -1;
        }
        if (r->n == allocated) {
            allocated = allocated != 0 ? allocated * 2 : 1024;
            r->items = xrealloc(r->items, allocated * sizeof(*r->items));
        }
        memset(&r->items[r->n], 0, sizeof(r->items[r->n]));
        r->items[r->n++].it = it;
    }
    free(line);
    fclose(fp);
    return 0;
}

int main(int argc, char **argv)
{
    const char *rules_path = NULL, *items_path = NULL;
    struct ruleset *rs = NULL;
    struct floor_run r = {0};
    struct alert_rules *parts;
    na_error err;
    int passes = 5;
    double best_m = 1e9, best_x = 1e9, best_b = 1e9, best_e = 1e9, t;
    size_t nalerts = 0, nalerting = 0, body_bytes = 0, esc_bytes = 0, nesc = 0, bufcap;
    json_t **esc;
    char *buf;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            rules_path = argv[++i];
        else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc)
            items_path = argv[++i];
        else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
            passes = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: " PROG " --rules FILE --items FILE.jsonl [--passes N]\n");
            return 1;
        }
    }
    if (rules_path == NULL || items_path == NULL || passes < 1) {
        fprintf(stderr, "usage: " PROG " --rules FILE --items FILE.jsonl [--passes N]\n");
        return 1;
    }
    na_error_clear(&err);
    if (ruleset_load(rules_path, &rs, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    if (load_items(items_path, &r) != 0 || r.n == 0) {
        fprintf(stderr, PROG ": no items in %s\n", items_path);
        return 1;
    }
    if ((r.w = ruleset_worker_new(rs)) == NULL ||
        (parts = alert_rules_new(ruleset_count(rs))) == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    pass_match(&r, 0, 0); /* cold: the words of the items are new */
    for (int p = 0; p < passes; p++) {
        t = cpu_now();
        pass_match(&r, 0, 0);
        t = cpu_now() - t;
        best_m = t < best_m ? t : best_m;

        t = cpu_now();
        pass_match(&r, 1, 1);
        t = cpu_now() - t;
        best_x = t < best_x ? t : best_x;

        t = cpu_now();
        body_bytes = pass_bodies(&r, parts);
        t = cpu_now() - t;
        best_b = t < best_b ? t : best_b;
        if (p + 1 < passes)
            forget_matches(&r);
    }
    for (size_t i = 0; i < r.n; i++) {
        nalerts += r.items[i].nm;
        nalerting += r.items[i].nm != 0;
    }
    esc = escape_set(&r, &nesc);
    bufcap = 6 * ALERT_SUMMARY_MAX + 4096; /* \u00XX for every byte of the longest */
    for (size_t i = 0; i < r.n; i++)
        for (size_t k = 0; k < r.items[i].nm; k++) {
            size_t need = 6 * strlen(r.items[i].m[k].why->snippet) + 64;

            bufcap = need > bufcap ? need : bufcap;
        }
    for (size_t i = 0; i < r.n; i++) {
        const struct item *it = r.items[i].it;
        size_t need = 6 * ((it->id ? strlen(it->id) : 0) + (it->title ? strlen(it->title) : 0) +
                           (it->link ? strlen(it->link) : 0)) + 64;

        bufcap = need > bufcap ? need : bufcap;
    }
    buf = xrealloc(NULL, bufcap);
    for (int p = 0; p < passes; p++) {
        t = cpu_now();
        esc_bytes = pass_escape(esc, nesc, buf, bufcap);
        t = cpu_now() - t;
        best_e = t < best_e ? t : best_e;
    }

    {
        double n = (double)r.n, us_m = best_m / n * 1e6, us_x = best_x / n * 1e6;
        double us_b = best_b / n * 1e6, us_e = best_e / n * 1e6;
        double floor_us = us_x + us_e;

        printf("items: %zu, alerts: %zu (%.2f an item; %zu items with alerts), rules: %zu; "
               "CPU time on this thread, best of %d warm passes\n",
               r.n, nalerts, (double)nalerts / n, nalerting, ruleset_count(rs), passes);
        printf("%-44s %8.2f us/item %10.0f items/s\n", "match (the index, as bench_match times it)",
               us_m, 1e6 / us_m);
        printf("%-44s %8.2f us/item %10.0f items/s\n", "match + explain", us_x, 1e6 / us_x);
        printf("%-44s %8.2f us/item   (%zu bytes of bodies, %.0f an alert)\n",
               "alert bodies as the matcher builds them", us_b, body_bytes,
               nalerts ? (double)body_bytes / (double)nalerts : 0.0);
        printf("%-44s %8.2f us/item   (%zu strings, %zu bytes of JSON text)\n",
               "jansson escaping alone (json_dumpb)", us_e, nesc, esc_bytes);
        printf("floor of the daemon on one core (match + explain + escaping, no sockets, no "
               "journal): %.2f us/item = %.0f items/s = %.2fx the index's rate\n",
               floor_us, 1e6 / floor_us, us_m / floor_us);
    }

    for (size_t i = 0; i < nesc; i++)
        json_decref(esc[i]);
    free(esc);
    free(buf);
    forget_matches(&r);
    for (size_t i = 0; i < r.n; i++) {
        item_free(&r.items[i].it);
        free(r.items[i].m);
    }
    free(r.items);
    alert_rules_free(&parts);
    ruleset_worker_free(&r.w);
    ruleset_free(&rs);
    return 0;
}

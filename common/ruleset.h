/*
 * ruleset.h - rules files: load, validate, match an item against all rules.
 *
 * A rules file is JSON:
 *
 *   {"rules": [
 *     {"id": "ukraine-talks", "name": "Ukraine peace talks",
 *      "query": "Ukraine (talks OR negotiations) -sport",
 *      "lang": "english", "enabled": true, "tags": ["europe", "client-a"]}
 *   ]}
 *
 * `id` is required: non-empty, at most RULESET_ID_MAX bytes, no control
 * characters, unique (it becomes the alert's topic).  `query` is required
 * (the language is described in rule.h).  `name` is optional and defaults
 * to the id.  `lang` is a Snowball language libstemmer knows (default
 * "english"); the rule's words are stemmed with it, and so are the story's
 * words for that rule.  `enabled` (default true): a disabled rule is
 * checked but never matches.  `tags`: an array of non-empty strings, copied
 * into the rule's alerts.  Any other key, anywhere, is an error.
 *
 * The rules path may also be a directory: every `*.json` file directly in
 * it (not starting with '.') is a rules file, read in name order; ids must
 * be unique across all of them.
 *
 * Every problem names the file, line and column, git style:
 *
 *   rules.json:7:7: rule 'ukraine-talks': column 12: unbalanced quote
 *
 * where 7:7 locates the rule's "query" in the file and column 12 is the
 * position within the query.  Warnings (a rule part that can never match,
 * an OR branch that matches almost everything; see rule.h) look the same
 * with "warning: " after the location; they do not stop loading.
 */
#ifndef NEWSALERT_RULESET_H
#define NEWSALERT_RULESET_H

#include <stddef.h>

#include "error.h"
#include "rule.h"

struct item;

#define RULESET_ID_MAX 200
#define RULESET_TAGS_MAX 64

struct rule_info {
    const char *id;
    const char *name;  /* the id when the file gives none */
    const char *query;
    const char *lang;  /* "english" unless given */
    const char *const *tags;
    size_t ntags;
    int enabled;
    size_t index;      /* its number in the set (ruleset_rule(rs, index)) */
};

struct ruleset;

/* Called for each warning found while loading (may be NULL). */
typedef void (*ruleset_warn_fn)(const na_error *w, void *arg);

/* Load and compile every rule of the file or directory at `path`.  Returns
 * 0 and sets *out, or -1 with the first problem in *err (use
 * ruleset_check() to see them all). */
int ruleset_load(const char *path, struct ruleset **out, na_error *err);

/* Same, passing each warning to `warn`. */
int ruleset_load_warn(const char *path, ruleset_warn_fn warn, void *arg, struct ruleset **out,
                      na_error *err);

/* Same for JSON text in memory; `name` stands for the file in messages. */
int ruleset_load_buffer(const char *name, const char *json, size_t len, struct ruleset **out,
                        na_error *err);

/* Validate the file or directory at `path` and report every problem and
 * warning through `report` (one na_error each: per file in file order,
 * duplicate ids last; a warning's message has "warning: " after its
 * location).  Returns the number of errors (0: the rules are good) and
 * sets *nrules (may be NULL) to the number of rules read. */
int ruleset_check(const char *path, void (*report)(const na_error *e, void *arg), void *arg,
                  size_t *nrules);

/* Same for JSON text in memory. */
int ruleset_check_buffer(const char *name, const char *json, size_t len,
                         void (*report)(const na_error *e, void *arg), void *arg,
                         size_t *nrules);

/* Number of rules, and rule i (0 <= i < count), in file order (files in
 * name order).  The pointers live as long as the ruleset. */
size_t ruleset_count(const struct ruleset *rs);
const struct rule_info *ruleset_rule(const struct ruleset *rs, size_t i);

/* The compiled query of rule i. */
const struct rule_expr *ruleset_expr(const struct ruleset *rs, size_t i);

/* Match with the index (the default, 0) or evaluate every rule on every
 * item (naive = 1: for benchmarks and as a test oracle).  Only before
 * matching starts, and never while a worker is in use. */
void ruleset_set_naive(struct ruleset *rs, int naive);

/* Free *prs and set it to NULL.  NULL-safe.  Free its workers first. */
void ruleset_free(struct ruleset **prs);

/* Called for each rule that matches; a non-zero return stops the matching. */
typedef int (*ruleset_match_fn)(const struct rule_info *rule, const struct item *it, void *arg);

/* ---- matching ---------------------------------------------------------------
 *
 * A ruleset is immutable once loaded and may be shared by threads; each
 * thread matches through its own worker (normalisers, document, scratch). */

struct ruleset_worker;

/* A worker for rs (borrowed: rs must outlive it); NULL when out of memory. */
struct ruleset_worker *ruleset_worker_new(const struct ruleset *rs);
void ruleset_worker_free(struct ruleset_worker **pw);

/* Tokenise the item once and evaluate the rules that may match it (or
 * every rule, in naive mode), calling cb for each match in rule order.
 * Returns 0, -1 when out of memory, or the first non-zero value returned by
 * cb (so cb should not return -1 for its own reasons).  The item is
 * borrowed until the next call. */
int ruleset_worker_match(struct ruleset_worker *w, const struct item *it, ruleset_match_fn cb,
                         void *arg);

/* Inside the callback (or after the call, before the next one): why rule
 * `index` matched the item.  Returns 1 and *out (rule_explanation_free),
 * 0 when it does not match, -1 when out of memory. */
int ruleset_worker_explain(struct ruleset_worker *w, size_t index,
                           struct rule_explanation **out);

/* Candidates evaluated and matches found, over the worker's life. */
void ruleset_worker_stats(const struct ruleset_worker *w, unsigned long long *items,
                          unsigned long long *candidates, unsigned long long *matches);

/* ruleset_worker_match with a worker owned by the ruleset.  NOT
 * thread-safe; the worker is made on first use. */
int ruleset_match(struct ruleset *rs, const struct item *it, ruleset_match_fn cb, void *arg);

/* ruleset_worker_explain on that worker. */
int ruleset_explain(struct ruleset *rs, size_t index, struct rule_explanation **out);

#endif

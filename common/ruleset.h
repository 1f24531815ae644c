/*
 * ruleset.h - rules files: load, validate, match an item against all rules.
 *
 * A rules file is JSON:
 *
 *   {"rules": [
 *     {"id": "ukraine-talks", "name": "Ukraine peace talks",
 *      "query": "Ukraine (talks OR negotiations) -sport"}
 *   ]}
 *
 * `id` is required: non-empty, at most RULESET_ID_MAX bytes, no control
 * characters, unique within the file (it becomes the alert's topic).
 * `query` is required (the language is described in rule.h).  `name` is
 * optional and defaults to the id.  Any other key, anywhere, is an error.
 * Every error names the file, line and column, git style:
 *
 *   rules.json:7:7: rule 'ukraine-talks': column 12: unbalanced quote
 *
 * where 7:7 locates the rule's "query" in the file and column 12 is the
 * position within the query.
 */
#ifndef NEWSALERT_RULESET_H
#define NEWSALERT_RULESET_H

#include <stddef.h>

#include "error.h"
#include "rule.h"

struct item;

#define RULESET_ID_MAX 200

struct rule_info {
    const char *id;
    const char *name;  /* the id when the file gives none */
    const char *query;
};

struct ruleset;

/* Load and compile every rule of the file at `path`.  Returns 0 and sets
 * *out, or -1 with the first problem in *err (use ruleset_check() to see
 * them all). */
int ruleset_load(const char *path, struct ruleset **out, na_error *err);

/* Same for JSON text in memory; `name` stands for the file in messages. */
int ruleset_load_buffer(const char *name, const char *json, size_t len, struct ruleset **out,
                        na_error *err);

/* Validate the file at `path` and report every problem through `report`
 * (one na_error each, in file order, duplicate ids last).  Returns the number
 * of problems (0: the file is good) and sets *nrules (may be NULL) to the
 * number of rules read. */
int ruleset_check(const char *path, void (*report)(const na_error *e, void *arg), void *arg,
                  size_t *nrules);

/* Same for JSON text in memory. */
int ruleset_check_buffer(const char *name, const char *json, size_t len,
                         void (*report)(const na_error *e, void *arg), void *arg,
                         size_t *nrules);

/* Number of rules, and rule i (0 <= i < count), in file order.  The pointers
 * live as long as the ruleset. */
size_t ruleset_count(const struct ruleset *rs);
const struct rule_info *ruleset_rule(const struct ruleset *rs, size_t i);

/* The compiled query of rule i (for a match index). */
const struct rule_expr *ruleset_expr(const struct ruleset *rs, size_t i);

/* Free *prs and set it to NULL.  NULL-safe. */
void ruleset_free(struct ruleset **prs);

/* Called for each rule that matches; a non-zero return stops the matching. */
typedef int (*ruleset_match_fn)(const struct rule_info *rule, const struct item *it, void *arg);

/* Tokenise the item once (title, summary, content) and evaluate every rule
 * on it, calling cb for each match in file order.  Returns 0, -1 when out
 * of memory, or the first non-zero value returned by cb (so cb should not
 * return -1 for its own reasons).
 *
 * NOT thread-safe: a ruleset owns the normaliser and the document it uses
 * here; give each thread its own ruleset. */
int ruleset_match(struct ruleset *rs, const struct item *it, ruleset_match_fn cb, void *arg);

#endif

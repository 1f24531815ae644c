/*
 * alert.h - the alert message body.
 *
 * The JSON object published on alerts_endpoint and printed by
 * `newsalert match` (see README "Alert format"):
 *   {"v":1,"seq":N,"ts":"RFC 3339",
 *    "rule":{"id","name"},
 *    "item":{"id","title","link","feed","feed_title","published","summary"},
 *    "matched":{"terms":[{"term","field"}...],"snippet"}}
 * `rule.tags` is there when the rule has tags, `matched` when the builder
 * was given an explanation (the matcher and `newsalert match` always do).
 * `item.summary` is plain text cut at a UTF-8 boundary to at most
 * ALERT_SUMMARY_MAX bytes (an ellipsis marks a cut); `item.published` is
 * left out when unknown.
 */
#ifndef NEWSALERT_ALERT_H
#define NEWSALERT_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "item.h"

#define ALERT_SUMMARY_MAX 1024

/* Build the body.  ts is the publication time (epoch seconds).  NULL
 * strings are left out; text is repaired to valid UTF-8; the summary is the
 * item's summary (or its content when it has none) with whitespace folded.
 * Returns a compact JSON string the caller frees, or NULL when out of
 * memory. */
char *alert_build(const char *rule_id, const char *rule_name, const struct item *it,
                  int64_t seq, int64_t ts);

/* Why an item matched: the query terms that hit (as written in the rule)
 * with the field each hit in, and a snippet of the item's text around the
 * first hit with the hits in [ ]. */
struct alert_matched {
    size_t nterms;
    const char *const *terms;
    const char *const *fields;
    const char *snippet;
};

/* alert_build with the rule's tags (NULL/0: none) and, when m != NULL, a
 * `matched` object.  Returns a string the caller frees, or NULL when out of
 * memory. */
char *alert_build_matched(const char *rule_id, const char *rule_name, const char *const *tags,
                          size_t ntags, const struct item *it, int64_t seq, int64_t ts,
                          const struct alert_matched *m);

/* The same in two steps, for the alerts of one item: the body's "item"
 * part, built once (NULL when out of memory; alert_item_free() frees it and
 * NULLs the pointer), then each alert's body around it.  A body is what
 * alert_build_matched gives for the same arguments; its length goes to
 * *len when len is not NULL.  Returns a string the caller frees, or NULL
 * when out of memory.  An alert_item is used by one thread at a time. */
struct alert_item;
struct alert_item *alert_item_new(const struct item *it);
void alert_item_free(struct alert_item **pai);
char *alert_build_with_item(const char *rule_id, const char *rule_name, const char *const *tags,
                            size_t ntags, const struct alert_item *ai, int64_t seq, int64_t ts,
                            const struct alert_matched *m, size_t *len);

/* The body's "rule" part, built once for all the alerts of a rule (NULL
 * when out of memory; alert_rule_free() frees it and NULLs the pointer;
 * it copies what it needs: the arguments are not kept), and a body around
 * a rule part and an item part (neither NULL): what alert_build_matched
 * gives for the same arguments, its length in *len when len is not NULL.  Returns a
 * string the caller frees, or NULL when out of memory.  An alert_rule is
 * read-only once built: threads may share it. */
struct alert_rule;
struct alert_rule *alert_rule_new(const char *rule_id, const char *rule_name,
                                  const char *const *tags, size_t ntags);
void alert_rule_free(struct alert_rule **par);
char *alert_build_parts(const struct alert_rule *ar, const struct alert_item *ai, int64_t seq,
                        int64_t ts, const struct alert_matched *m, size_t *len);

/* The rule parts of a rule set of n rules, each built when first asked
 * for: alert_rules_get(rs, i, ...) (i < n) returns rule i's part, built
 * from the strings given the first time and valid until the table is
 * freed (NULL when out of memory, or when i >= n), and may be called by several threads
 * at once.  alert_rules_new returns NULL when
 * out of memory; alert_rules_free frees the table and its parts and NULLs
 * the pointer (no thread may be using it). */
struct alert_rules;
struct alert_rules *alert_rules_new(size_t n);
void alert_rules_free(struct alert_rules **prs);
const struct alert_rule *alert_rules_get(struct alert_rules *rs, size_t i, const char *rule_id,
                                         const char *rule_name, const char *const *tags,
                                         size_t ntags);

/* A readable rendering of an alert body for a terminal, without a final
 * newline:
 *   [rule-id] Title
 *       feed title · 2026-11-25 17:40 UTC · https://link
 *       the summary's first 160 characters…
 * (lines 2 and 3 only when there is something to show).  The body is
 * untrusted: control characters (C0, DEL, C1, bidi overrides) are removed
 * from every field and whitespace is folded.  Returns a string the caller
 * frees, or NULL when the body is not a JSON object. */
char *alert_render_text(const char *body, size_t len);

/* Read the `seq` of an alert body.  Returns 0 and sets *seq, or -1 when the
 * body is not a JSON object with an integer `seq`. */
int alert_seq(const char *body, size_t len, int64_t *seq);

#endif

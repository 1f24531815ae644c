/*
 * ruleindex.h - an index of rules by the terms they need (a presearcher).
 *
 * In the spirit of Lucene Monitor: each rule is filed under terms at least
 * one of which must occur in a story for the rule to match, so a story is
 * only checked against the rules filed under its own words.  For a rule
 *
 *   - a word files under its stem (in the rule's language); a phrase or a
 *     NEAR under its rarest word; a prefix under the prefix itself;
 *   - an AND files under its cheapest indexable part, a term's cost being
 *     (rules using it + 1) / length^2: words common in rules tend to be
 *     common in stories (Zipf), and long words are rarer than short ones;
 *   - an OR files under every branch (so it needs every branch indexable);
 *   - a NOT, a regex and a link: substring give no term.
 *
 * A rule with no indexable part (only negative terms at some level, a regex
 * or a link: alone, `a OR -b`) goes into an "always" list checked for every
 * story.  Candidates are only candidates: the caller evaluates the rule.
 *
 * The index is immutable once built and may be shared by threads; each
 * thread queries it with its own struct ruleindex_scratch.
 */
#ifndef NEWSALERT_RULEINDEX_H
#define NEWSALERT_RULEINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "rule.h"
#include "text.h"

struct ruleindex;
struct ruleindex_scratch;

/* Build the index of rules exprs[0..n) (exprs[i] NULL: rule i is left out,
 * e.g. disabled).  Terms are keyed by their layer (rule_expr.layer).
 * Returns NULL when out of memory. */
struct ruleindex *ruleindex_build(const struct rule_expr *const *exprs, size_t n);

/* Same, with the words of more[0..nmore) (rules left out of the index, such
 * as disabled ones) in its vocabulary too (see ruleindex_keeps). */
struct ruleindex *ruleindex_build_vocab(const struct rule_expr *const *exprs, size_t n,
                                        const struct rule_expr *const *more, size_t nmore);

void ruleindex_free(struct ruleindex **pix);

/* Per-thread scratch for ruleindex_candidates; NULL when out of memory. */
struct ruleindex_scratch *ruleindex_scratch_new(const struct ruleindex *ix);
void ruleindex_scratch_free(struct ruleindex_scratch **ps);

/* The rules that may match the document: sets *out to their numbers in
 * increasing order (valid until the next call with `s`) and returns how
 * many; -1 when out of memory. */
long ruleindex_candidates(const struct ruleindex *ix, const struct text_doc *d,
                          struct ruleindex_scratch *s, const uint32_t **out);

/* Whether a word may matter to some rule of the index: its stem (in
 * document layer `layer`) is a word of a rule, or its folded form starts
 * with a rule's prefix.  A word for which this is 0 can be left out of a
 * document without changing any rule's answer (positions aside: see
 * text_norm_set_filter). */
int ruleindex_keeps(const struct ruleindex *ix, size_t layer, const char *stem, size_t slen,
                    const char *folded, size_t flen);

struct ruleindex_stats {
    size_t rules;     /* rules filed (indexed + always) */
    size_t always;    /* rules checked for every story */
    size_t keys;      /* distinct terms */
    size_t postings;  /* (term, rule) entries */
    size_t bytes;     /* memory held, roughly */
};

void ruleindex_get_stats(const struct ruleindex *ix, struct ruleindex_stats *st);

#endif

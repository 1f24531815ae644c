/*
 * rule.h - the watch-rule language: parse a query, evaluate and explain it.
 *
 * A rule's query says which words a story must (or must not) contain:
 *
 *   Ukraine territorial concessions    every word must appear (implicit AND)
 *   a AND b                            the same, written out
 *   NATO OR EU                         either
 *   NOT Hegseth    -Hegseth            must not appear; NOT / - apply to a
 *                                      word, a phrase or a (group)
 *   "peace agreement"                  the words next to each other, in
 *                                      order, within one field
 *   (NATO OR EU) -Russia               parentheses group
 *   ukrain*                            a prefix of the folded, unstemmed
 *                                      word: Ukraine, Ukrainian, UKRAINE's
 *   Putin NEAR/5 "peace talks"         both, in the same field, at most 5
 *                                      word positions apart, either order
 *   title:(Finland OR Kyiv)            a field prefix scopes the one word,
 *                                      phrase or group that follows
 *   link:example.com                   a substring of the story's URL
 *   /Gaza\s+(truce|ceasefire)/         a PCRE2 regular expression (UTF,
 *                                      caseless) on the raw text
 *
 * Precedence: NOT binds tightest, then NEAR, then OR, then AND; so
 * `a b OR c` means `a AND (b OR c)` and `-a OR b` means `(NOT a) OR b`.
 * AND, OR, NOT and NEAR/n are operators only when written in upper case.
 * A `-` is NOT only at the start of a term; inside one it separates words.
 *
 * Fields: title, summary, content, author, category, feed (the feed's title,
 * else its URL) and link.  Unscoped words, phrases and regexes search the
 * title, summary and content.  Inside a group an inner field prefix wins:
 * `title:(a OR content:b)`.  A field name is recognised only in lower case
 * and only when followed directly by its term (`title: x` is an error).
 *
 * Words are compared as text.h defines them: case-insensitive,
 * accent-insensitive, and stemmed on both sides (`concessions` matches
 * `concession`) with the rule's language; there are no stop words.  A
 * phrase never spans two fields (nor two categories).
 *
 * A term that splits into several words is matched as a phrase: an
 * apostrophe or a hyphen ends a word, so `NATO's` is the phrase "nato s"
 * and `COVID-19` is the phrase "covid 19".
 *
 * NEAR/n (1 <= n <= RULE_NEAR_MAX) takes a word, a prefix or a phrase on
 * each side (each may carry a field prefix) and no chain (`a NEAR/2 b
 * NEAR/2 c` is rejected: write `(a NEAR/2 b) (b NEAR/2 c)`).  Adjacent words
 * are 1 apart; phrases count from their nearer ends; two occurrences that
 * overlap do not count.  A `*` ends a prefix word (in a phrase too:
 * "peace agree*"); a prefix needs at least RULE_PREFIX_MIN bytes once folded.
 *
 * Regexes: PCRE2, UTF and caseless, JIT-compiled; each match is bounded by a
 * match limit and a JIT stack (a pattern that hits a limit does not match).
 * A `/` inside the pattern is written `\/`.
 *
 * Rejected, with the 1-based column (in characters of the query) of the
 * problem: an empty query, unbalanced quotes, parentheses or regex slashes,
 * an operator without its operand (`a OR`, `AND b`, `NOT`), an empty phrase
 * or group, a term without any letter or digit (`a , b`), a regex that does
 * not compile (at the column of the problem), a bad NEAR, a field prefix
 * without its term, and a query whose terms are all negative at the top
 * level (`-a`, `NOT a -b`), which would match almost every story.
 *
 * Warnings (rule_warnings): a part that can never match because it both
 * requires and excludes the same term (`a -a`, `title:x AND NOT title:x`,
 * `title:x -x`), and an OR with a purely negative branch (`a OR -b`).
 */
#ifndef NEWSALERT_RULE_H
#define NEWSALERT_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "text.h"

/* Queries longer than this (in bytes) are rejected. */
#define RULE_QUERY_MAX 65536
/* Phrases of more words than this are rejected. */
#define RULE_PHRASE_MAX 32
/* The largest NEAR distance (smaller than TEXT_SOURCE_GAP). */
#define RULE_NEAR_MAX 1000
/* The shortest prefix, in bytes of its folded form. */
#define RULE_PREFIX_MIN 2

enum rule_kind {
    RULE_TERM,   /* one word, or several consecutive words (a phrase) */
    RULE_AND,
    RULE_OR,
    RULE_NOT,    /* exactly one child */
    RULE_NEAR,   /* exactly two RULE_TERM children */
    RULE_REGEX,  /* a PCRE2 pattern */
    RULE_SUBSTR  /* link: a case-insensitive substring of the URL */
};

/* A compiled query.  Read-only for users; build it with rule_compile().
 * Laid out in 96 bytes (a million rules hold a few million nodes). */
struct rule_expr {
    enum rule_kind kind;
    int column;           /* 1-based column in the query where it starts */
    unsigned fields;      /* TERM, REGEX, SUBSTR: (1 << TEXT_FIELD_*) it may match in */
    /* RULE_TERM */
    uint32_t nwords;      /* >= 1 */
    uint32_t layer;       /* the text_doc layer of the rule's language */
    /* RULE_NEAR */
    unsigned dist;
    /* RULE_AND, RULE_OR, RULE_NOT, RULE_NEAR */
    uint32_t nkids;
    unsigned char phrase; /* RULE_TERM: written in quotes */
    /* private: 1 for the root of a packed tree (rule_expr_pack), 2 inside */
    unsigned char packed;
    char *text;           /* TERM, REGEX, SUBSTR: the term as written */
    char **words;         /* folded and stemmed words (folded only for prefixes) */
    unsigned char *prefix; /* per word: 1 for a prefix; NULL when none is */
    size_t *lens;         /* per word: its length in bytes */
    uint64_t *hashes;     /* per word: its text_hash */
    /* RULE_REGEX (pcre2_code *), RULE_SUBSTR: the needle is words[0] */
    void *re;
    struct rule_expr **kids;
    /* private: one allocation holding a TERM's arrays and strings */
    void *block;
};

/* Compile `query` (UTF-8, NUL-terminated) with English stemming.  On
 * success returns 0 and sets *out (the caller frees it with
 * rule_expr_free).  On a bad query returns -1 with err->column set (err->line
 * 0) and err->msg "col C: problem", e.g. "col 12: unbalanced quote"; always
 * of that form, so callers may replace the "col C: " prefix.  Out of memory
 * is -1 with "out of memory". */
int rule_compile(const char *query, struct rule_expr **out, na_error *err);

/* Same, stemming with the normaliser `norm` (its language; faster when
 * compiling many rules).  Terms are evaluated against document layer 0;
 * see rule_set_layer. */
int rule_compile_norm(struct text_norm *norm, const char *query, struct rule_expr **out,
                      na_error *err);

/* Make every term of e look at document layer `layer` (the layer whose
 * normaliser has the language e was compiled with). */
void rule_set_layer(struct rule_expr *e, size_t layer);

/* Report, through `warn`, each part of e that can never match or that
 * matches almost everything (see the top of this file); each message is
 * "col C: problem" with err->column set.  Returns the number of warnings. */
int rule_warnings(const struct rule_expr *e, void (*warn)(const na_error *w, void *arg),
                  void *arg);

/* Per-thread scratch for evaluation: PCRE2 match data, match limits and a
 * JIT stack.  NULL when out of memory. */
struct rule_ctx;
struct rule_ctx *rule_ctx_new(void);
void rule_ctx_free(struct rule_ctx **pc);

/* Number of regex evaluations stopped by a match or JIT-stack limit. */
unsigned long rule_ctx_limit_hits(const struct rule_ctx *c);

/* Whether the document matches the rule: 1 or 0.  `ctx` may be NULL (a
 * temporary one is then made for regexes; out of memory is "no match"). */
int rule_eval_ctx(const struct rule_expr *e, const struct text_doc *doc, struct rule_ctx *ctx);
int rule_eval(const struct rule_expr *e, const struct text_doc *doc);

/* Why a document matched. */
struct rule_explanation {
    size_t nterms;
    char **terms;        /* the query terms that hit, as written */
    const char **fields; /* the field each hit in (static names, text.h) */
    char *snippet;       /* up to ~RULE_SNIPPET_CHARS characters around the
                            first hit, hits in [ ], "…" where cut; "" when
                            the first hit has no text */
};

#define RULE_SNIPPET_CHARS 240

/* Evaluate e on doc and, when it matches, explain why: returns 1 and sets
 * *out (free with rule_explanation_free); 0 when it does not match (*out
 * NULL); -1 when out of memory. */
int rule_explain(const struct rule_expr *e, const struct text_doc *doc, struct rule_ctx *ctx,
                 struct rule_explanation **out);

void rule_explanation_free(struct rule_explanation **px);

/* Free *pe and set it to NULL.  NULL-safe.  Only roots are freed. */
void rule_expr_free(struct rule_expr **pe);

/* Move the tree *pe into one contiguous allocation (a rule then costs one
 * or two cache misses to evaluate instead of one per node and array): on
 * success *pe is freed and replaced by the packed copy, which
 * rule_expr_free frees as usual.  Returns 0, or -1 when out of memory (*pe
 * unchanged). */
int rule_expr_pack(struct rule_expr **pe);

/* The tree in prefix form, for tests and diagnostics:
 *   `a b OR -"c d"` -> (AND a (OR b (NOT "c d")))
 *   `title:x* NEAR/3 y` -> (NEAR/3 title:x* y);  /re/, link:"sub"
 * Words appear stemmed; a field list other than the default is written as
 * "f1,f2:" before the term.  The caller frees the string; NULL when out of
 * memory. */
char *rule_expr_format(const struct rule_expr *e);

#endif

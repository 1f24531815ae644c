/*
 * text.h - tokenising, Unicode folding and stemming.
 *
 * Rules and items must be reduced to words the same way, or a rule could
 * never match the text it names.  This module is that one way:
 *
 *   - a word is a run of Unicode letters and digits (categories L* and N*);
 *     a combining mark (M*) that follows a letter or digit stays in the word.
 *     Everything else ends a word: spaces, punctuation, symbols, and both
 *     apostrophes (' and U+2019), so "Ukraine's" is the words "ukraine" "s";
 *   - a word is folded: case-folded, compatibility-decomposed, with its
 *     marks stripped ("Zélenskyy" -> "zelenskyy", "CAFÉ" -> "cafe",
 *     "Straße" -> "strasse"); ASCII words take a table fast path, other
 *     words go through utf8proc;
 *   - the folded word is stemmed with Snowball English ("concessions" ->
 *     "concess").  There are no stop words.
 *
 * A normaliser (struct text_norm) holds the stemmer and a cache of
 * word -> stem results.  It is NOT thread-safe: use one per thread.
 *
 * A document (struct text_doc) holds the words of one item once: per field,
 * in order, each with its stem, its position in the field and a term id
 * shared by all tokens with the same stem, so that rules can be evaluated
 * against it without looking at the text again.
 */
#ifndef NEWSALERT_TEXT_H
#define NEWSALERT_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct item;

/* The fields of an item that rules look at by default. */
enum text_field {
    TEXT_FIELD_TITLE = 0,
    TEXT_FIELD_SUMMARY = 1,
    TEXT_FIELD_CONTENT = 2,
    TEXT_FIELD_COUNT
};

/* Bit mask of every field, for rule terms that look at all of them. */
#define TEXT_FIELDS_ALL ((1u << TEXT_FIELD_COUNT) - 1u)

/* ---- the normaliser ---------------------------------------------------- */

struct text_norm;

/* A new normaliser (Snowball English stemmer + stem cache), or NULL when out
 * of memory. */
struct text_norm *text_norm_new(void);

/* Free *pn and set it to NULL.  NULL-safe. */
void text_norm_free(struct text_norm **pn);

/* Fold and stem one word.  `word`/`len` must be one word as defined above
 * (text_norm_split gives such words); other text is folded as one piece.
 * On success *stem points to `*stem_len` bytes (NUL-terminated) that stay
 * valid until the next call on `n`.  Returns 0, or -1 when out of memory. */
int text_norm_word(struct text_norm *n, const char *word, size_t len,
                   const char **stem, size_t *stem_len);

/* Called by text_norm_split for each word, in order.  `stem` is as for
 * text_norm_word; `off`/`wlen` locate the word's bytes in the input and
 * `column` is the 1-based character (code point) column of its first byte.
 * A non-zero return stops the split and is returned by it. */
typedef int (*text_word_fn)(void *arg, const char *stem, size_t stem_len,
                            size_t off, size_t wlen, size_t column);

/* Split `len` bytes of UTF-8 into words, fold and stem each, and call `cb`.
 * Invalid UTF-8 bytes are treated as separators (each counts as one column).
 * Returns 0, -1 when out of memory, or the callback's non-zero value. */
int text_norm_split(struct text_norm *n, const char *utf8, size_t len,
                    text_word_fn cb, void *arg);

/* Decode the code point at s[0..len); set *cp and return its length in
 * bytes (1..4), or return 1 with *cp = -1 for an invalid byte.  len > 0. */
size_t text_utf8_next(const char *s, size_t len, int32_t *cp);

/* Whether code point cp is a word character (L* or N*), and whether it is a
 * combining mark (M*), which continues a word but does not start one. */
int text_is_word_char(int32_t cp);
int text_is_mark(int32_t cp);

/* ---- documents ----------------------------------------------------------- */

struct text_doc;

/* One token of a document. */
struct text_token {
    const char *stem; /* folded and stemmed, NUL-terminated, owned by the doc */
    size_t stem_len;
    uint32_t term;    /* same value for every token with the same stem */
    uint32_t pos;     /* 0-based word position within its field */
    int field;        /* enum text_field */
};

/* A new, empty document that uses normaliser `norm` (borrowed: it must
 * outlive the document; the document is then as thread-unsafe as `norm`).
 * With norm == NULL the document makes and owns a normaliser of its own.
 * Returns NULL when out of memory. */
struct text_doc *text_doc_new(struct text_norm *norm);

/* Free *pd (and its own normaliser, if it made one), set *pd to NULL.
 * NULL-safe. */
void text_doc_free(struct text_doc **pd);

/* Forget all tokens so the document can be filled with the next item; the
 * memory is kept for reuse. */
void text_doc_reset(struct text_doc *d);

/* Tokenise `utf8` (NUL-terminated; NULL is an empty field) and append its
 * words to the document as field `field` (enum text_field).  A field may be
 * added more than once: positions go on from that field's previous call, so
 * a phrase may span two calls for the same field made one after the other.
 * Returns 0, or -1 when out of memory or for a field out of range. */
int text_doc_add_field(struct text_doc *d, int field, const char *utf8);

/* Same as text_doc_add_field() for `len` bytes that need no terminator. */
int text_doc_add_field_len(struct text_doc *d, int field, const char *utf8, size_t len);

/* Add the default fields of an item: title, summary and content.  Returns 0
 * or -1 when out of memory. */
int text_doc_add_item(struct text_doc *d, const struct item *it);

/* Number of tokens, over all fields, in the order they were added. */
size_t text_doc_ntokens(const struct text_doc *d);

/* Token i (0 <= i < text_doc_ntokens(d)); the pointer stays valid until
 * the document is changed. */
void text_doc_token(const struct text_doc *d, size_t i, struct text_token *out);

/* Index of the first token whose stem is `stem`/`len`, or -1 when there is
 * none.  `stem` must already be folded and stemmed (text_norm_word). */
long text_doc_find(const struct text_doc *d, const char *stem, size_t len);

/* Index of the next token after token `tok` with the same stem, or -1. */
long text_doc_next(const struct text_doc *d, long tok);

#endif

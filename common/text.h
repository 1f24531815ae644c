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
 *   - the folded word is stemmed with a Snowball stemmer (English unless
 *     another language is asked for: "concessions" -> "concess").  There
 *     are no stop words.
 *
 * A normaliser (struct text_norm) holds one language's stemmer and interns
 * every word it sees: raw word -> (folded form, stem).  It is NOT
 * thread-safe: use one per thread.  It forgets everything (to bound its
 * memory) only when a document that uses it is reset, so several documents
 * sharing one normaliser must be filled and used one at a time.
 *
 * A document (struct text_doc) holds the words of one item once: per source
 * text (title, summary, each category...), in order, each with its folded
 * form, its stem, its position in the field and its byte offsets, so that
 * rules can be evaluated and explained without tokenising the text again.
 * A document has one or more stem "layers": layer 0 uses the normaliser it
 * was made with, text_doc_add_layer() adds one per further language, and
 * every word is stemmed once per layer (once per distinct word, in fact).
 */
#ifndef NEWSALERT_TEXT_H
#define NEWSALERT_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct item;

/* The fields of an item that rules can name. */
enum text_field {
    TEXT_FIELD_TITLE = 0,
    TEXT_FIELD_SUMMARY = 1,
    TEXT_FIELD_CONTENT = 2,
    TEXT_FIELD_AUTHOR = 3,
    TEXT_FIELD_CATEGORY = 4,
    TEXT_FIELD_FEED = 5, /* the feed's title, else the feed's URL */
    TEXT_FIELD_LINK = 6, /* the story's URL: kept as text, not split into words */
    TEXT_FIELD_COUNT
};

/* The fields an unscoped rule term looks at: title, summary, content. */
#define TEXT_FIELDS_DEFAULT                                                                    \
    ((1u << TEXT_FIELD_TITLE) | (1u << TEXT_FIELD_SUMMARY) | (1u << TEXT_FIELD_CONTENT))
/* Kept for older callers: the same as TEXT_FIELDS_DEFAULT. */
#define TEXT_FIELDS_ALL TEXT_FIELDS_DEFAULT

/* The field's name as rules write it ("title"...), or NULL when out of range. */
const char *text_field_name(int field);

/* The field named by `name`/`len` (lower case), or -1. */
int text_field_lookup(const char *name, size_t len);

/* Positions of two category strings (and of two calls adding text to the
 * same field) are at least this far apart, so that no phrase and no NEAR
 * (whose distance is at most this) spans them. */
#define TEXT_SOURCE_GAP 1024

/* The hash used for words everywhere (64 bits; keys of up to 16 bytes are
 * hashed from two 8-byte loads, longer ones 8 bytes at a time).  Only for
 * in-memory tables: not stable across versions or byte orders. */
uint64_t text_hash(const char *s, size_t len);

/* ---- the normaliser ---------------------------------------------------- */

struct text_norm;

/* A new normaliser (Snowball English stemmer + stem cache), or NULL when out
 * of memory. */
struct text_norm *text_norm_new(void);

/* A normaliser for Snowball language `lang` ("english", "french", "fr"...,
 * any name sb_stemmer_list() knows).  NULL when the language is unknown
 * (check first with text_lang_known) or out of memory. */
struct text_norm *text_norm_new_lang(const char *lang);

/* Whether libstemmer has a stemmer called `lang` (UTF-8 encoding). */
int text_lang_known(const char *lang);

/* The names libstemmer knows, as one comma-separated string (static). */
const char *text_lang_list(void);

/* Free *pn and set it to NULL.  NULL-safe. */
void text_norm_free(struct text_norm **pn);

/* Whether a word matters (non-zero) given its stem and folded form. */
typedef int (*text_keep_fn)(void *arg, const char *stem, size_t stem_len, const char *folded,
                            size_t folded_len);

/* Give the normaliser a filter (NULL: none): a document with one layer
 * whose normaliser has a filter holds as tokens only the words the filter
 * keeps; the others still take their positions (so phrases and NEAR see
 * the same distances) but are not tokens, terms or folds of the document.
 * The filter is called once per distinct folded form (words are cached
 * with its answer).  The normaliser forgets what it knew (its ids change):
 * call it before use, between documents. */
void text_norm_set_filter(struct text_norm *n, text_keep_fn keep, void *arg);

/* Changes whenever the normaliser forgets its words (and so renumbers its
 * ids: see text_doc_layer_term_nid). */
unsigned text_norm_generation(const struct text_norm *n);

/* Fold and stem one word.  `word`/`len` must be one word as defined above
 * (text_norm_split gives such words); other text is folded as one piece.
 * On success *stem points to `*stem_len` bytes (NUL-terminated) that stay
 * valid until the next call on `n`.  Returns 0, or -1 when out of memory. */
int text_norm_word(struct text_norm *n, const char *word, size_t len,
                   const char **stem, size_t *stem_len);

/* Same, and also give the folded, unstemmed form (valid as long as *stem). */
int text_norm_word2(struct text_norm *n, const char *word, size_t len, const char **stem,
                    size_t *stem_len, const char **folded, size_t *folded_len);

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
    const char *stem;   /* layer 0 stem, NUL-terminated, owned by the doc */
    size_t stem_len;
    const char *folded; /* folded, unstemmed form, NUL-terminated */
    size_t folded_len;
    uint32_t term;      /* layer 0: same value for every token with the same stem */
    uint32_t fold;      /* same value for every token with the same folded form */
    uint32_t pos;       /* 0-based word position within its field */
    int field;          /* enum text_field */
    uint32_t src;       /* the source text it comes from (text_doc_source) */
    uint32_t off, len;  /* its bytes in that source */
};

/* A new, empty document whose layer 0 uses normaliser `norm` (borrowed: it
 * must outlive the document; the document is then as thread-unsafe as
 * `norm`).  With norm == NULL the document makes and owns an English
 * normaliser.  Returns NULL when out of memory. */
struct text_doc *text_doc_new(struct text_norm *norm);

/* Free *pd (and its own normaliser, if it made one), set *pd to NULL.
 * NULL-safe. */
void text_doc_free(struct text_doc **pd);

/* Add a stem layer using normaliser `norm` (borrowed, for another
 * language; not one the document already uses).  Only while the document is
 * empty.  Returns the layer's number (1, 2...), or -1 when out of memory or
 * refused. */
int text_doc_add_layer(struct text_doc *d, struct text_norm *norm);

/* Number of layers (>= 1). */
size_t text_doc_nlayers(const struct text_doc *d);

/* Forget all tokens so the document can be filled with the next item; the
 * memory is kept for reuse. */
void text_doc_reset(struct text_doc *d);

/* Tokenise `utf8` (NUL-terminated; NULL is an empty field) and append its
 * words to the document as field `field` (enum text_field).  The text is
 * BORROWED: it must stay unchanged while the document holds it (until
 * text_doc_reset or free), as explanations point into it.  A field may be
 * added more than once: positions go on from that field's previous call
 * plus TEXT_SOURCE_GAP, so no phrase spans two calls.  TEXT_FIELD_LINK text
 * is only kept (for substring and regex terms), not split.
 * Returns 0, or -1 when out of memory or for a field out of range. */
int text_doc_add_field(struct text_doc *d, int field, const char *utf8);

/* Same as text_doc_add_field() for `len` bytes that need no terminator. */
int text_doc_add_field_len(struct text_doc *d, int field, const char *utf8, size_t len);

/* Add every field of an item (borrowed as above): title, summary,
 * content, author, each category, the feed (feed_title, or the feed URL
 * when there is no title) and the link.  Returns 0 or -1 when out of
 * memory. */
int text_doc_add_item(struct text_doc *d, const struct item *it);

/* Number of tokens, over all fields, in the order they were added. */
size_t text_doc_ntokens(const struct text_doc *d);

/* Token i (0 <= i < text_doc_ntokens(d)); the pointers stay valid until
 * the document is changed. */
void text_doc_token(const struct text_doc *d, size_t i, struct text_token *out);

/* Number of source texts, and source i: its field and bytes. */
size_t text_doc_nsources(const struct text_doc *d);
void text_doc_source(const struct text_doc *d, size_t i, int *field, const char **text,
                     size_t *len);

/* Index of the first token whose layer-0 stem is `stem`/`len`, or -1 when
 * there is none.  `stem` must already be folded and stemmed (text_norm_word). */
long text_doc_find(const struct text_doc *d, const char *stem, size_t len);

/* Index of the next token after token `tok` with the same layer-0 stem, or -1. */
long text_doc_next(const struct text_doc *d, long tok);

/* The same for layer `layer`: the term id of `stem` (or -1 when absent), the
 * first token of a term and the next token after `tok` with the same term
 * (-1 at the end), and the term of token `tok`. */
long text_doc_layer_term(const struct text_doc *d, size_t layer, const char *stem, size_t len);
/* ... with h = text_hash(stem, len) computed by the caller (once). */
long text_doc_layer_term_h(const struct text_doc *d, size_t layer, const char *stem, size_t len,
                           uint64_t h);
long text_doc_layer_first(const struct text_doc *d, size_t layer, uint32_t term);
long text_doc_layer_next(const struct text_doc *d, size_t layer, long tok);
uint32_t text_doc_layer_tok_term(const struct text_doc *d, size_t layer, size_t tok);

/* Distinct stems of a layer: their number, and stem i (NUL-terminated;
 * *hash, when not NULL, is its text_hash). */
size_t text_doc_layer_nterms(const struct text_doc *d, size_t layer);
const char *text_doc_layer_stem(const struct text_doc *d, size_t layer, size_t i, size_t *len,
                                uint64_t *hash);

/* Token i's field and position, and its folded form (cheaper than
 * text_doc_token). */
void text_doc_tok_pos(const struct text_doc *d, size_t i, int *field, uint32_t *pos);
const char *text_doc_tok_folded(const struct text_doc *d, size_t i, size_t *len);

/* Distinct folded forms: their number, form i (NUL-terminated) and its first
 * token; the next token with the same form after `tok`, or -1. */
size_t text_doc_nfolds(const struct text_doc *d);
const char *text_doc_fold(const struct text_doc *d, size_t i, size_t *len, long *first);
/* The first token of distinct folded form i (as text_doc_fold gives it,
 * without reading the form itself from the normaliser's tables). */
long text_doc_fold_first(const struct text_doc *d, size_t i);
long text_doc_fold_next(const struct text_doc *d, long tok);

/* Whether distinct folded form i starts with the n bytes of pfx, and the
 * distinct folded form of token i: the document keeps each form's length
 * and first 8 bytes, so a prefix test rarely reads the normaliser's large
 * tables. */
int text_doc_fold_has_prefix(const struct text_doc *d, size_t i, const char *pfx, size_t n);
size_t text_doc_tok_fold(const struct text_doc *d, size_t i);
/* The first distinct folded form from `from` on that starts with pfx (n
 * bytes), or -1. */
long text_doc_fold_find_prefix(const struct text_doc *d, size_t from, const char *pfx, size_t n);

/* Stable ids, for callers that memoise work per word across documents:
 * the normaliser's id of a layer's term i and of fold i (valid while
 * text_norm_generation of that layer's normaliser is unchanged), and the
 * normaliser of a layer. */
uint32_t text_doc_layer_term_nid(const struct text_doc *d, size_t layer, size_t term);
uint32_t text_doc_fold_nid(const struct text_doc *d, size_t i);
const struct text_norm *text_doc_layer_norm(const struct text_doc *d, size_t layer);

#endif

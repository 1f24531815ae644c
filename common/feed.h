/*
 * feed.h - the feed parser: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, CDF and JSON
 * Feed 1.0/1.1 documents turned into one model.
 *
 * feed_parse() never trusts its input (tests/fuzz fuzzes it).  XML goes through libxml2 without
 * network access, without loading external DTDs or entities, with its
 * entity-amplification limits on; ill-formed documents are recovered as far
 * as libxml2 can and flagged `bozo`.  Character encodings are decided from
 * the BOM, the HTTP charset, the XML declaration (in that order) and
 * converted with iconv; undecodable bytes are recovered and flagged.
 *
 * Text fields of the document model keep (sanitised) markup, as the
 * conformance contract wants (/work/shared/conformance/feedparser/README.md);
 * feed_doc_to_items() turns them into plain-text items for the matcher.
 *
 * Ownership: a feed_doc owns every string and array inside it;
 * feed_doc_free() releases them all.
 */
#ifndef NEWSALERT_FEED_H
#define NEWSALERT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "item.h"

struct feed_link {
    char *href, *rel, *type;
};

struct feed_enclosure {
    char *href, *type, *length;
};

struct feed_entry { /* text fields keep (sanitised) markup; NULL when absent */
    char *id, *title, *link, *summary, *content, *author;
    int64_t published, updated; /* ITEM_TIME_UNKNOWN when absent */
    char **categories;
    size_t ncategories;
    struct feed_link *links;
    size_t nlinks;
    struct feed_enclosure *enclosures;
    size_t nenclosures;
};

struct feed_doc {
    char *version;     /* feedparser names: rss20, atom10, json11, ... "" unknown */
    int bozo;          /* 1 when the document was ill-formed but recovered */
    char *bozo_reason; /* the first problem found, or NULL */
    char *encoding;    /* the encoding used to decode, lower-case ("utf-8") */
    char *title, *link, *subtitle, *id, *author, *language, *rights, *generator;
    int64_t updated, published;
    int ttl;           /* RSS <ttl>: minutes the feed may be cached, 0 = absent */
    char **categories;
    size_t ncategories;
    struct feed_entry *entries;
    size_t nentries;
};

/* The most a feed document may weigh; feed_parse_file refuses bigger files. */
#define FEED_MAX_SIZE (64u * 1024u * 1024u)

/* The most entries a document gives: the rest are ignored and the document
 * is flagged bozo ("more than 10000 entries: the rest are ignored").  No
 * news feed comes near it (they carry 10 to a few hundred); it bounds the
 * memory and time a hostile or broken feed of a million tiny items costs
 * (an XML document is cut before the entry too many, so libxml2 does not
 * even build the tree of the rest). */
#define FEED_MAX_ENTRIES 10000u
/* A start tag with more attributes (namespace declarations included) makes
 * the document an error: libxml2 2.9 checks each attribute against the
 * others (80,000 on one element: 9 s of CPU), no feed needs so many. */
#define FEED_MAX_ATTRIBUTES 256u

/* Parse a feed document (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, CDF, JSON Feed
 * 1.0/1.1).  base_url (may be NULL) resolves relative links; content_type
 * (may be NULL) is the HTTP Content-Type (its charset counts).  Ill-formed
 * but recoverable => 0 with doc->bozo=1.  Returns -1 with *err ("not a feed:
 * ...", "empty document", ...) only when nothing usable was found (an HTML
 * page, binary garbage, JSON that is not a JSON Feed). */
/* Initialise the parsing libraries; call once, on one thread, before
 * several threads parse (libxml2 asks for xmlInitParser() so; one thread
 * alone needs no call).  Idempotent. */
void feed_init(void);

int feed_parse(const char *buf, size_t len, const char *base_url, const char *content_type,
               struct feed_doc **out, na_error *err);

/* Read the file at path (at most FEED_MAX_SIZE bytes) and feed_parse() it
 * with no base URL and no content type.  Errors are prefixed with the path. */
int feed_parse_file(const char *path, struct feed_doc **out, na_error *err);

/* Free *pdoc and everything it owns, set *pdoc to NULL.  NULL-safe. */
void feed_doc_free(struct feed_doc **pdoc);

/* The JSON of the conformance contract (see the README named above):
 * absent fields left out, dates as RFC 3339 UTC.  Returns a string the
 * caller frees, or NULL when out of memory. */
char *feed_doc_to_json(const struct feed_doc *doc);

/* Plain-text items for the matcher, one per entry: HTML removed, entities
 * decoded, scripts and styles dropped, whitespace folded (html_to_text).
 * Every text field is read as HTML, even one declared plain text: feeds
 * double-escape so often ("AT&amp;amp;T") that decoding once more is what a
 * reader sees; the price is that a literal "<word>" in a plain-text title
 * is taken for a tag.  Only the first FEED_MAX_ENTRIES entries exist.  item->feed = feed_url (may be NULL),
 * item->feed_title = the feed's title as text; item->id = the entry id
 * (guid / atom id / JSON Feed id), else its link, else
 * "fnv1a64:<16 hex digits>", the 64-bit FNV-1a hash of
 * "title|published|summary" (plain text, published as RFC 3339 or empty),
 * so that an item without identity keeps the same id across fetches.
 * published = the entry's published date, else its updated date.
 * *items is a malloc'd array (the caller frees each with item_free and the
 * array with free); it is NULL when there are no entries.
 * Returns 0, or -1 when out of memory (nothing is returned then). */
int feed_doc_to_items(const struct feed_doc *doc, const char *feed_url, struct item ***items,
                      size_t *nitems);

/* The 64-bit FNV-1a hash of n bytes, continuing from h (start with
 * FEED_FNV1A64_INIT). */
#define FEED_FNV1A64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t feed_fnv1a64(uint64_t h, const void *data, size_t n);

#endif

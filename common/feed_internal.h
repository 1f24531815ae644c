/*
 * feed_internal.h - what the feed parser's files share (not a public API).
 *
 * feed.c decides the format and the encoding and hands UTF-8 text to
 * feed_xml.c or feed_jsonfeed.c; both fill a struct feed_doc through the
 * helpers here; feed_out.c writes it out.
 */
#ifndef NEWSALERT_FEED_INTERNAL_H
#define NEWSALERT_FEED_INTERNAL_H

#include <stddef.h>

#include "feed.h"
#include "strbuf.h"


/* A new, empty document (dates unknown) or NULL. */
struct feed_doc *feed_doc_new(void);
/* Append an empty entry; returns it, or NULL when out of memory. */
struct feed_entry *feed_doc_add_entry(struct feed_doc *doc);
/* Does doc hold FEED_MAX_ENTRIES already?  Then it is flagged bozo (reason
 * "more than N entries: the rest are ignored" unless it had one).  Returns
 * 1 when full, 0 when not, -1 when out of memory. */
int feed_doc_full(struct feed_doc *doc);
/* Set doc->bozo, keeping the first reason.  Returns 0 or -1 (ENOMEM). */
int feed_doc_set_bozo(struct feed_doc *doc, const char *reason);
/* Replace *field with value (takes ownership of value; NULL allowed). */
void feed_set_take(char **field, char *value);
/* Set *field to a copy of value when *field is still NULL.  Returns 0 or -1. */
int feed_set_once(char **field, const char *value);
/* Append a copy of s to a string array.  Returns 0 or -1. */
int feed_add_string(char ***arr, size_t *n, const char *s);
/* Append a link / an enclosure (copies; NULL fields allowed).  0 or -1. */
int feed_add_link(struct feed_entry *e, const char *href, const char *rel, const char *type);
int feed_add_enclosure(struct feed_entry *e, const char *href, const char *type,
                       const char *length);
/* "Name (email)" as feedparser writes authors; NULL when both are NULL/empty. */
char *feed_author_string(const char *name, const char *email);

/* Parse UTF-8 XML (NUL-terminated, len bytes) into doc.  Returns 0, or -1
 * with *err when the document is not a feed at all. */
int feed_xml_parse(const char *utf8, size_t len, const char *base_url, struct feed_doc *doc,
                   na_error *err);

/* Parse a JSON Feed.  Returns 0, or -1 with *err when it is not one. */
int feed_jsonfeed_parse(const char *buf, size_t len, struct feed_doc *doc, na_error *err);

#endif

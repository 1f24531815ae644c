/*
 * item.h - the news item model.
 *
 * An item is one story as the matcher sees it: every text field is plain
 * UTF-8 text (HTML already removed, entities decoded), NULL when absent.
 * The fetcher builds items from parsed feeds and sends them to the matcher
 * as packed records (item_pack.h); the JSON form below (item_to_json /
 * item_from_json) is what `newsalert match --items` reads, and the matcher
 * still accepts it on the hand-off.  The matcher and `newsalert match`
 * evaluate rules against items.
 *
 * Ownership: an item owns all its strings; item_free() releases them.
 */
#ifndef NEWSALERT_ITEM_H
#define NEWSALERT_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ITEM_TIME_UNKNOWN INT64_MIN

struct item {
    char *id;          /* stable identity within its feed (guid, atom id, link...) */
    char *title;       /* plain text */
    char *summary;     /* plain text */
    char *content;     /* plain text */
    char *link;        /* URL of the story */
    char *feed;        /* URL of the feed it came from */
    char *feed_title;  /* the feed's title, plain text */
    char *author;      /* plain text */
    char **categories; /* plain text terms */
    size_t ncategories;
    int64_t published; /* seconds since the epoch (UTC), or ITEM_TIME_UNKNOWN */
};

/* A new, empty item (all NULL, published unknown), or NULL when out of memory. */
struct item *item_new(void);

/* Free *pitem and everything it owns, then set *pitem to NULL.  NULL-safe. */
void item_free(struct item **pitem);

/* Replace *field with a copy of value (NULL allowed).  Returns 0 or -1 (ENOMEM). */
int item_set(char **field, const char *value);

/* Append a copy of a category.  Returns 0 or -1. */
int item_add_category(struct item *it, const char *category);

/* Serialise to a compact JSON object (the JSON form of the hand-off, see README "Wire
 * protocol").  Returns a string the caller frees, or NULL when out of memory
 * or when a field is not valid UTF-8 (the parser never makes such items). */
char *item_to_json(const struct item *it);

/* What a decoder of items (item_from_json here, item_pack_decode in
 * item_pack.h) returns when it ran out of memory: the input may well be
 * good, so a receiver must not treat it as a bad message (acknowledge and
 * drop it) but leave it unacknowledged, to be sent again.  A bad input is
 * -1. */
#define ITEM_ENOMEM (-2)

/* Parse the JSON object produced by item_to_json(), or one line of an
 * ITEMS.jsonl file.  Untrusted input: wrong types, missing `id`, and unknown
 * keys are errors reported in *err with line/column.  `published` may be an
 * RFC 3339 string or an integer of epoch seconds.  Returns 0 and sets *out;
 * -1 for bad input; ITEM_ENOMEM (*err: "out of memory") when an allocation
 * failed, ours or one of jansson's (see item_json_alloc_failures).  *out is
 * NULL after a failure. */
int item_from_json(const char *buf, size_t len, struct item **out, na_error *err);

/* How many of jansson's allocations have failed on the calling thread.
 * jansson 2.14 does not report every allocation that fails inside
 * json_loadb(): most come back as a syntax error ("invalid token"), and a
 * string that could not grow loses a byte and the parse succeeds.  So
 * jansson's allocator is routed through item.c (json_set_alloc_funcs(),
 * installed before main() in every program linked with this module, so
 * before any thread uses jansson); it calls malloc() and free() and
 * counts each failure.  A parser of
 * untrusted JSON compares the count before and after json_loadb(): a
 * change means it ran out of memory, whatever jansson returned. */
unsigned long item_json_alloc_failures(void);

#endif

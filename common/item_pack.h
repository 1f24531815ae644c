/*
 * item_pack.h - the packed item: a binary record of one struct item.
 *
 * The fetcher hands items to the matcher in this form (wire.h: op
 * "packed_item") instead of JSON: packing is a length count and memcpy, and
 * unpacking is bounds checks, a UTF-8 check and one copy per field, several
 * times cheaper than a JSON dump and parse.  The layout is fixed (all
 * integers little-endian, no padding, no alignment):
 *
 *   offset  size  what
 *   0       4     magic "NAI1" (bytes 4E 41 49 31; a later layout gets
 *                 another magic)
 *   4       ...   8 strings in this order: id, title, summary, content,
 *                 link, feed, feed_title, author; each a u32 byte length
 *                 then that many bytes of UTF-8 (no terminating NUL);
 *                 length 0xFFFFFFFF: the field is absent (NULL, no bytes
 *                 follow); length 0: the empty string
 *   ...     4     u32 number of categories, then each category as a
 *                 string above (absent is not allowed)
 *   ...     8     published: int64 seconds since the epoch (UTC);
 *                 INT64_MIN (bytes 00..00 80) = unknown
 *   end           nothing may follow
 *
 * The smallest record (every field absent, no category) is
 * ITEM_PACK_MIN_SIZE = 48 bytes.  Strings must be well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)
 * without NUL bytes, and `id` must be present and non-empty: the rules
 * item_from_json() applies to the JSON form.  For every item that
 * item_to_json() accepts, item_pack_decode(item_pack_encode(it)) gives the
 * same struct item as item_from_json(item_to_json(it)), except that
 * `published` is carried exactly (the JSON form writes it as an RFC 3339
 * date, so it cannot carry a time before year 1 or after 9999).
 */
#ifndef NEWSALERT_ITEM_PACK_H
#define NEWSALERT_ITEM_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "item.h"

#define ITEM_PACK_MAGIC "NAI1"
#define ITEM_PACK_MAGIC_LEN 4
#define ITEM_PACK_ABSENT UINT32_MAX /* the length of an absent string */
#define ITEM_PACK_MIN_SIZE (ITEM_PACK_MAGIC_LEN + 8 * 4 + 4 + 8)

/* Pack `it` into one malloc'd buffer (the caller frees it) of *len bytes.
 * Returns NULL when out of memory or, as item_to_json() does, when a field
 * is not valid UTF-8 (the parser never makes such items); a field longer
 * than 4 GiB - 2 also makes it fail. */
unsigned char *item_pack_encode(const struct item *it, size_t *len);

/* The size item_pack_encode() would give `it` (strings counted by strlen,
 * not checked). */
size_t item_pack_size(const struct item *it);

/* Make `it` pack into at most `max` bytes by cutting its texts, for an
 * item a feed made too large for the hand-off (wire.h: WIRE_MAX_ITEM).
 * What matters least goes first: the longer of content and summary is
 * cut, again until the record fits or both are cut; then categories are
 * dropped from the last; then author and feed_title are cut, and last the
 * title.  Each cut is at a UTF-8 character boundary and ends with
 * "\u2026" (a horizontal ellipsis, 3 bytes).  id, link, feed and
 * published are never changed.  Returns 0 when the item fits (unchanged if
 * it already did), 1 when it was cut to fit, -1 when even with every cut it
 * would not (its id, link and feed alone are too long), -2 when out of
 * memory; after a negative return the item may be partly cut. */
int item_pack_fit(struct item *it, size_t max);

/* Unpack a record.  Untrusted input: every length is checked against what
 * is left, bytes after the record, bad UTF-8, NUL bytes, a missing or
 * empty `id` are errors in *err naming the field and the byte offset
 * ("packed item: field `title` at byte 212: ...").  Returns 0 and sets
 * *out (the caller frees it with item_free); -1 for a bad record, or
 * ITEM_ENOMEM (item.h; *err: "out of memory") when an allocation failed,
 * both with *out = NULL. */
int item_pack_decode(const void *buf, size_t len, struct item **out, na_error *err);

/* Whether buf[0..len) starts with the packed magic (a JSON item starts
 * with '{' or white space, so the two never mix). */
int item_pack_is_packed(const void *buf, size_t len);

#endif

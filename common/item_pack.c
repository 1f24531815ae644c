/*
 * item_pack.c - the packed item record (see item_pack.h for the layout).
 *
 * Encoding measures every field (strlen and the UTF-8 check item_to_json
 * makes), allocates the record once and copies the fields in.  Decoding
 * reads from untrusted bytes: each length is checked against the bytes
 * left before anything is allocated or copied, each string is checked as
 * UTF-8 without NUL (ASCII eight bytes at a time, the rest with
 * utf8proc_iterate(), which refuses overlong forms, surrogates and code
 * points above U+10FFFF, as jansson does for the JSON form), and every
 * error names the field and the byte offset where it starts.
 */
#include "item_pack.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The string fields in record order. */
#define ITEM_PACK_NSTRINGS 8

static const char *const item_pack_names[ITEM_PACK_NSTRINGS] = {
    "id", "title", "summary", "content", "link", "feed", "feed_title", "author",
};

/* The struct item field of string i (record order, as item_pack_names). */
static char **item_pack_field(struct item *it, int i)
{
    switch (i) {
    case 0:
        return &it->id;
    case 1:
        return &it->title;
    case 2:
        return &it->summary;
    case 3:
        return &it->content;
    case 4:
        return &it->link;
    case 5:
        return &it->feed;
    case 6:
        return &it->feed_title;
    default:
        return &it->author;
    }
}

static const char *item_pack_cfield(const struct item *it, int i)
{
    return *item_pack_field((struct item *)it, i);
}

/* The offset of the first byte of s[0..len) that is not part of
 * well-formed UTF-8 without NUL, or len when all is well. */
static size_t item_pack_utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n;

    while (i < len) {
        if (s[i] < 0x80) {
            uint64_t w;

            /* eight ASCII bytes without NUL at a time: no high bit, and no
             * zero byte (the classic has-zero-byte test) */
            while (len - i >= 8) {
                memcpy(&w, s + i, 8);
                if ((w & UINT64_C(0x8080808080808080)) != 0 ||
                    ((w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080)) != 0)
                    break;
                i += 8;
            }
            while (i < len && s[i] < 0x80) {
                if (s[i] == 0)
                    return i;
                i++;
            }
            continue;
        }
        n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || cp < 0)
            return i;
        i += (size_t)n;
    }
    return len;
}

static void item_pack_put32(unsigned char **p, uint32_t v)
{
    unsigned char *b = *p;

    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    *p = b + 4;
}

static uint32_t item_pack_get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Measure string s for the record: its length in *n, the record bytes it
 * takes added to *total.  Returns 0, or -1 when it is not valid UTF-8 or
 * too long for a u32 length. */
static int item_pack_measure(const char *s, size_t *n, size_t *total)
{
    *n = 0;
    *total += 4;
    if (s == NULL)
        return 0;
    *n = strlen(s);
    if (*n >= ITEM_PACK_ABSENT || item_pack_utf8_check((const unsigned char *)s, *n) != *n)
        return -1;
    *total += *n;
    return 0;
}

static void item_pack_put_string(unsigned char **p, const char *s, size_t n)
{
    if (s == NULL) {
        item_pack_put32(p, ITEM_PACK_ABSENT);
        return;
    }
    item_pack_put32(p, (uint32_t)n);
    if (n > 0)
        memcpy(*p, s, n);
    *p += n;
}

unsigned char *item_pack_encode(const struct item *it, size_t *len)
{
    size_t lens[ITEM_PACK_NSTRINGS], total = ITEM_PACK_MAGIC_LEN + 4 + 8, n, i;
    unsigned char *rec, *p;
    uint64_t published;

    *len = 0;
    for (i = 0; i < ITEM_PACK_NSTRINGS; i++)
        if (item_pack_measure(item_pack_cfield(it, (int)i), &lens[i], &total) != 0)
            return NULL;
    if (it->ncategories >= ITEM_PACK_ABSENT)
        return NULL;
    for (i = 0; i < it->ncategories; i++)
        if (it->categories[i] == NULL || item_pack_measure(it->categories[i], &n, &total) != 0)
            return NULL;
    if ((rec = malloc(total)) == NULL)
        return NULL;
    p = rec;
    memcpy(p, ITEM_PACK_MAGIC, ITEM_PACK_MAGIC_LEN);
    p += ITEM_PACK_MAGIC_LEN;
    for (i = 0; i < ITEM_PACK_NSTRINGS; i++)
        item_pack_put_string(&p, item_pack_cfield(it, (int)i), lens[i]);
    item_pack_put32(&p, (uint32_t)it->ncategories);
    for (i = 0; i < it->ncategories; i++)
        item_pack_put_string(&p, it->categories[i], strlen(it->categories[i]));
    published = (uint64_t)it->published;
    item_pack_put32(&p, (uint32_t)published);
    item_pack_put32(&p, (uint32_t)(published >> 32));
    *len = total;
    return rec;
}

size_t item_pack_size(const struct item *it)
{
    size_t total = ITEM_PACK_MAGIC_LEN + 4 + 8 + 4 * ITEM_PACK_NSTRINGS, i;

    for (i = 0; i < ITEM_PACK_NSTRINGS; i++) {
        const char *s = item_pack_cfield(it, (int)i);

        if (s != NULL)
            total += strlen(s);
    }
    for (i = 0; i < it->ncategories; i++)
        total += 4 + (it->categories[i] != NULL ? strlen(it->categories[i]) : 0);
    return total;
}

#define ITEM_PACK_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define ITEM_PACK_ELLIPSIS_LEN 3

/* Cut the string *field (of length len) to at most keep bytes, at a UTF-8
 * character boundary, and end it with the ellipsis.  Returns 0 or -1. */
static int item_pack_cut(char **field, size_t len, size_t keep)
{
    char *s = *field, *t;

    if (keep > len)
        keep = len;
    /* back up to the first byte of a character (never a continuation
     * byte 10xxxxxx); the field is valid UTF-8 or the record is refused
     * anyway, and the loop stops at 0 whatever it holds */
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    if ((t = malloc(keep + ITEM_PACK_ELLIPSIS_LEN + 1)) == NULL)
        return -1;
    memcpy(t, s, keep);
    memcpy(t + keep, ITEM_PACK_ELLIPSIS, ITEM_PACK_ELLIPSIS_LEN + 1);
    free(s);
    *field = t;
    return 0;
}

/* Cut the longest of the texts at record order indexes idx[0..n) until
 * *size is at most max or none is longer than the ellipsis.  Returns 1
 * when it cut, 0 when not, -2 out of memory. */
static int item_pack_cut_texts(struct item *it, const int *idx, size_t n, size_t max,
                               size_t *size)
{
    int cut = 0;

    while (*size > max) {
        size_t best_len = 0, len, excess = *size - max, keep;
        char **best = NULL;

        for (size_t k = 0; k < n; k++) {
            char **f = item_pack_field(it, idx[k]);

            /* a text no longer than the ellipsis gains nothing by a cut */
            if (*f != NULL && (len = strlen(*f)) > ITEM_PACK_ELLIPSIS_LEN && len > best_len) {
                best = f;
                best_len = len;
            }
        }
        if (best == NULL)
            break;
        /* what it must lose, and room for the ellipsis */
        keep = best_len > excess + ITEM_PACK_ELLIPSIS_LEN
                   ? best_len - excess - ITEM_PACK_ELLIPSIS_LEN
                   : 0;
        if (item_pack_cut(best, best_len, keep) != 0)
            return -2;
        *size = item_pack_size(it);
        cut = 1;
    }
    return cut;
}

int item_pack_fit(struct item *it, size_t max)
{
    /* record order indexes: what matters least goes first */
    static const int bodies[] = {3, 2}; /* content, summary */
    static const int names[] = {7, 6};  /* author, feed_title */
    static const int title[] = {1};
    size_t size = item_pack_size(it);
    int cut = 0, rc;

    if ((rc = item_pack_cut_texts(it, bodies, 2, max, &size)) < 0)
        return rc;
    cut |= rc;
    while (size > max && it->ncategories > 0) {
        char *c = it->categories[--it->ncategories];

        size -= 4 + strlen(c);
        free(c);
        it->categories[it->ncategories] = NULL;
        cut = 1;
    }
    if (it->ncategories == 0) { /* as item_pack_decode() leaves it */
        free(it->categories);
        it->categories = NULL;
    }
    if ((rc = item_pack_cut_texts(it, names, 2, max, &size)) < 0 ||
        (cut |= rc, rc = item_pack_cut_texts(it, title, 1, max, &size)) < 0)
        return rc;
    cut |= rc;
    return size <= max ? cut : -1;
}

int item_pack_is_packed(const void *buf, size_t len)
{
    return len >= ITEM_PACK_MAGIC_LEN && memcmp(buf, ITEM_PACK_MAGIC, ITEM_PACK_MAGIC_LEN) == 0;
}

/* Decoding state: the record and how far it has been read. */
struct item_pack_reader {
    const unsigned char *buf;
    size_t len, off;
    na_error *err;
};

/* Report a problem with the string of field `name` (`index` >= 0: element
 * `index` of it, the categories) that starts at byte `at`: "packed item:
 * field `title` at byte 12: " then the message.  Returns -1. */
static int item_pack_fail(struct item_pack_reader *r, const char *name, long index, size_t at,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int item_pack_fail(struct item_pack_reader *r, const char *name, long index, size_t at,
                          const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (index >= 0)
        return na_error_set(r->err, 0, 0, "packed item: field `%s[%ld]` at byte %zu: %s", name,
                            index, at, msg);
    return na_error_set(r->err, 0, 0, "packed item: field `%s` at byte %zu: %s", name, at, msg);
}

/* Read one string at r->off for field `name` (`index` as item_pack_fail).
 * Sets *out to a malloc'd copy, or NULL when absent and absent_ok.
 * Returns 0, -1 (a bad record) or ITEM_ENOMEM with r->err set. */
static int item_pack_read_string(struct item_pack_reader *r, const char *name, long index,
                                 int absent_ok, char **out)
{
    size_t at = r->off, left = r->len - r->off, bad;
    uint32_t n;

    *out = NULL;
    if (left < 4)
        return item_pack_fail(r, name, index, at,
                              "the record ends inside the length (%zu bytes)", r->len);
    n = item_pack_get32(r->buf + at);
    r->off += 4;
    left -= 4;
    if (n == ITEM_PACK_ABSENT) {
        if (absent_ok)
            return 0;
        return item_pack_fail(r, name, index, at, "absent, a string is required");
    }
    if (n > left)
        return item_pack_fail(r, name, index, at, "length %lu runs past the end (%zu bytes)",
                              (unsigned long)n, r->len);
    bad = item_pack_utf8_check(r->buf + r->off, n);
    if (bad < n)
        return item_pack_fail(r, name, index, at, "%s at byte %zu",
                              r->buf[r->off + bad] == 0 ? "NUL byte" : "invalid UTF-8",
                              r->off + bad);
    if ((*out = malloc((size_t)n + 1)) == NULL) {
        na_error_set(r->err, 0, 0, "out of memory");
        return ITEM_ENOMEM;
    }
    memcpy(*out, r->buf + r->off, n);
    (*out)[n] = '\0';
    r->off += n;
    return 0;
}

int item_pack_decode(const void *buf, size_t len, struct item **out, na_error *err)
{
    struct item_pack_reader r = {.buf = buf, .len = len, .off = 0, .err = err};
    struct item *it;
    size_t at;
    uint32_t count;
    uint64_t published;
    int i, rc = -1;

    *out = NULL;
    if (!item_pack_is_packed(buf, len))
        return na_error_set(err, 0, 0, "packed item: no \"%s\" magic at byte 0 (%zu bytes)",
                            ITEM_PACK_MAGIC, len);
    if ((it = item_new()) == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        return ITEM_ENOMEM;
    }
    r.off = ITEM_PACK_MAGIC_LEN;
    for (i = 0; i < ITEM_PACK_NSTRINGS; i++)
        if ((rc = item_pack_read_string(&r, item_pack_names[i], -1, 1,
                                        item_pack_field(it, i))) != 0)
            goto err;
    rc = -1;
    at = r.off;
    if (len - r.off < 4) {
        na_error_set(err, 0, 0,
                     "packed item: field `categories` at byte %zu: the record ends inside "
                     "the count (%zu bytes)", at, len);
        goto err;
    }
    count = item_pack_get32(r.buf + r.off);
    r.off += 4;
    /* each category takes 4 bytes at least: check before allocating */
    if (count > (len - r.off) / 4) {
        na_error_set(err, 0, 0,
                     "packed item: field `categories` at byte %zu: %lu categories cannot fit "
                     "in the %zu bytes left", at, (unsigned long)count, len - r.off);
        goto err;
    }
    if (count > 0) {
        if ((it->categories = calloc(count, sizeof(*it->categories))) == NULL) {
            na_error_set(err, 0, 0, "out of memory");
            rc = ITEM_ENOMEM;
            goto err;
        }
        for (; it->ncategories < count; it->ncategories++)
            if ((rc = item_pack_read_string(&r, "categories", (long)it->ncategories, 0,
                                            &it->categories[it->ncategories])) != 0)
                goto err;
        rc = -1;
    }
    if (len - r.off < 8) {
        na_error_set(err, 0, 0,
                     "packed item: field `published` at byte %zu: the record ends inside it "
                     "(%zu bytes)", r.off, len);
        goto err;
    }
    published = (uint64_t)item_pack_get32(r.buf + r.off) |
                (uint64_t)item_pack_get32(r.buf + r.off + 4) << 32;
    memcpy(&it->published, &published, sizeof(published)); /* two's complement */
    r.off += 8;
    if (r.off != len) {
        na_error_set(err, 0, 0, "packed item: %zu bytes after the end of the record at byte %zu",
                     len - r.off, r.off);
        goto err;
    }
    if (it->id == NULL || it->id[0] == '\0') {
        na_error_set(err, 0, 0, "packed item: field `id` at byte %d: %s, an item needs an id",
                     ITEM_PACK_MAGIC_LEN, it->id == NULL ? "absent" : "empty");
        goto err;
    }
    *out = it;
    return 0;
err:
    item_free(&it);
    return rc;
}

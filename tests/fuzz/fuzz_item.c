/*
 * fuzz_item.c - libFuzzer target for the two decoders of hand-off items.
 *
 * The matcher reads items from ZeroMQ and the fetcher from its SQLite
 * outbox, in two forms: the packed record (item_pack_decode) and the JSON
 * object (item_from_json).  Every input goes to both.  Besides crashes,
 * leaks and sanitizer reports, the target aborts when an invariant breaks:
 *
 *   - packed: a small byte-by-byte reference reader of the layout in
 *     item_pack.h (and an RFC 3629 check of its own) must agree with
 *     item_pack_decode on accept/reject, and on accept on every field;
 *     the format has one encoding per item, so item_pack_encode of the
 *     decoded item must give back the input byte for byte;
 *   - JSON: every string of the item must equal, byte for byte and by
 *     length (no NUL inside), the string jansson reads from the same input;
 *   - either form: every string is well-formed UTF-8 without NUL, `id` is
 *     non-empty; item_to_json() and item_pack_encode() accept the item, and
 *     what they write reads back as the same item (item_from_json:
 *     `published` only when RFC 3339 can carry it, years 1 to 9999);
 *   - on failure *out is NULL and the error message is not empty.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "item_pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what the JSON form carries */
#define FUZZ_TIME_MIN INT64_C(-62135596800)
#define FUZZ_TIME_MAX INT64_C(253402300799)

#define FUZZ_NSTRINGS 8

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_item: invariant broken: %s\n", what);
    abort();
}

#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond))                                                                            \
            fuzz_fail(#cond);                                                                   \
    } while (0)

/* The string fields of an item in packed record order. */
static const char *fuzz_field(const struct item *it, int i)
{
    const char *const f[FUZZ_NSTRINGS] = {it->id,   it->title, it->summary,    it->content,
                                          it->link, it->feed,  it->feed_title, it->author};
    return f[i];
}

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629, table 3-7 of Unicode)
 * without NUL: written byte by byte, independently of the decoders. */
static int fuzz_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0, k, need;
    unsigned char lo, hi;

    while (i < n) {
        unsigned char c = s[i];

        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        lo = 0x80;
        hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += need + 1;
    }
    return 1;
}

static int fuzz_str_ok(const char *s)
{
    return s == NULL || fuzz_utf8_ok((const unsigned char *)s, strlen(s));
}

static int fuzz_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The invariants every decoded item keeps, whichever form it came from. */
static void fuzz_check_item(const struct item *it)
{
    size_t i;

    FUZZ_CHECK(it->id != NULL && it->id[0] != '\0');
    for (i = 0; i < FUZZ_NSTRINGS; i++)
        FUZZ_CHECK(fuzz_str_ok(fuzz_field(it, (int)i)));
    FUZZ_CHECK(it->ncategories == 0 || it->categories != NULL);
    for (i = 0; i < it->ncategories; i++) {
        FUZZ_CHECK(it->categories[i] != NULL);
        FUZZ_CHECK(fuzz_str_ok(it->categories[i]));
    }
}

/* a and b hold the same strings and categories; the same `published` when
 * same_time. */
static void fuzz_check_equal(const struct item *a, const struct item *b, int same_time)
{
    size_t i;

    for (i = 0; i < FUZZ_NSTRINGS; i++)
        FUZZ_CHECK(fuzz_str_eq(fuzz_field(a, (int)i), fuzz_field(b, (int)i)));
    FUZZ_CHECK(a->ncategories == b->ncategories);
    for (i = 0; i < a->ncategories; i++)
        FUZZ_CHECK(fuzz_str_eq(a->categories[i], b->categories[i]));
    if (same_time)
        FUZZ_CHECK(a->published == b->published);
}

/* A failed decode leaves *out NULL and says why. */
static void fuzz_check_failure(const struct item *out, const na_error *err)
{
    FUZZ_CHECK(out == NULL);
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    FUZZ_CHECK(err->msg[0] != '\0');
}

/* Both re-encodings of a decoded item read back as the same item. */
static void fuzz_check_roundtrips(const struct item *it)
{
    struct item *back = NULL;
    unsigned char *rec;
    char *json;
    size_t len;
    na_error err;
    int exact;

    rec = item_pack_encode(it, &len);
    FUZZ_CHECK(rec != NULL);
    FUZZ_CHECK(item_pack_is_packed(rec, len));
    FUZZ_CHECK(item_pack_decode(rec, len, &back, &err) == 0);
    fuzz_check_equal(it, back, 1);
    item_free(&back);
    free(rec);

    json = item_to_json(it);
    FUZZ_CHECK(json != NULL);
    FUZZ_CHECK(!item_pack_is_packed(json, strlen(json)));
    FUZZ_CHECK(item_from_json(json, strlen(json), &back, &err) == 0);
    exact = it->published == ITEM_TIME_UNKNOWN ||
            (it->published >= FUZZ_TIME_MIN && it->published <= FUZZ_TIME_MAX);
    fuzz_check_equal(it, back, exact);
    if (!exact) /* clamped into the range RFC 3339 carries */
        FUZZ_CHECK(back->published >= FUZZ_TIME_MIN - 366 * 86400 &&
                   back->published <= FUZZ_TIME_MAX);
    item_free(&back);
    free(json);
}

/* The packed layout read byte by byte (item_pack.h): the reference the
 * decoder is compared with. */
struct fuzz_span {
    size_t off;
    uint32_t len; /* UINT32_MAX: absent */
};

struct fuzz_record {
    struct fuzz_span s[FUZZ_NSTRINGS];
    uint32_t ncat;
    size_t cat_at; /* offset of the first category */
    int64_t published;
};

static uint32_t fuzz_get32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Read one string at *off; 0 when it is well formed (absent allowed when
 * absent_ok), else -1. */
static int fuzz_ref_string(const uint8_t *d, size_t n, size_t *off, int absent_ok,
                           struct fuzz_span *sp)
{
    uint32_t len;

    if (n - *off < 4)
        return -1;
    len = fuzz_get32(d + *off);
    *off += 4;
    sp->off = *off;
    sp->len = len;
    if (len == UINT32_MAX)
        return absent_ok ? 0 : -1;
    if (len > n - *off || !fuzz_utf8_ok(d + *off, len))
        return -1;
    *off += len;
    return 0;
}

static int fuzz_ref_decode(const uint8_t *d, size_t n, struct fuzz_record *r)
{
    struct fuzz_span cat;
    size_t off = 4;
    uint64_t t;
    uint32_t i;

    if (n < 4 || memcmp(d, "NAI1", 4) != 0)
        return -1;
    for (i = 0; i < FUZZ_NSTRINGS; i++)
        if (fuzz_ref_string(d, n, &off, 1, &r->s[i]) != 0)
            return -1;
    if (n - off < 4)
        return -1;
    r->ncat = fuzz_get32(d + off);
    off += 4;
    r->cat_at = off;
    for (i = 0; i < r->ncat; i++)
        if (fuzz_ref_string(d, n, &off, 0, &cat) != 0)
            return -1;
    if (n - off != 8)
        return -1;
    t = (uint64_t)fuzz_get32(d + off) | (uint64_t)fuzz_get32(d + off + 4) << 32;
    memcpy(&r->published, &t, sizeof(t));
    if (r->s[0].len == UINT32_MAX || r->s[0].len == 0)
        return -1; /* an item needs an id */
    return 0;
}

/* The decoded string s is exactly the span sp of the input. */
static void fuzz_check_span(const uint8_t *d, const struct fuzz_span *sp, const char *s)
{
    if (sp->len == UINT32_MAX) {
        FUZZ_CHECK(s == NULL);
        return;
    }
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(strlen(s) == sp->len);
    FUZZ_CHECK(memcmp(s, d + sp->off, sp->len) == 0);
}

static void fuzz_packed(const uint8_t *data, size_t size)
{
    struct fuzz_record ref;
    struct fuzz_span cat;
    static struct item sentinel; /* the decoder must replace it, with NULL on failure */
    struct item *it = &sentinel;
    unsigned char *rec;
    size_t len, off, i;
    na_error err;
    int ok;

    memset(&err, 0, sizeof(err));
    ok = fuzz_ref_decode(data, size, &ref) == 0;
    if (item_pack_decode(data, size, &it, &err) != 0) {
        fuzz_check_failure(it, &err);
        FUZZ_CHECK(!ok);
        FUZZ_CHECK(strncmp(err.msg, "packed item: ", 13) == 0);
        return;
    }
    FUZZ_CHECK(ok);
    FUZZ_CHECK(it != NULL);
    FUZZ_CHECK(item_pack_is_packed(data, size));
    for (i = 0; i < FUZZ_NSTRINGS; i++)
        fuzz_check_span(data, &ref.s[i], fuzz_field(it, (int)i));
    FUZZ_CHECK(it->ncategories == ref.ncat);
    for (i = 0, off = ref.cat_at; i < ref.ncat; i++) {
        FUZZ_CHECK(fuzz_ref_string(data, size, &off, 0, &cat) == 0);
        fuzz_check_span(data, &cat, it->categories[i]);
    }
    FUZZ_CHECK(it->published == ref.published);
    fuzz_check_item(it);
    /* one encoding per item: re-encoding gives the input back */
    rec = item_pack_encode(it, &len);
    FUZZ_CHECK(rec != NULL);
    FUZZ_CHECK(len == size);
    FUZZ_CHECK(memcmp(rec, data, size) == 0);
    free(rec);
    fuzz_check_roundtrips(it);
    item_free(&it);
}

/* The item's string for key equals jansson's reading of the same value. */
static void fuzz_check_jstring(const json_t *root, const char *key, const char *s)
{
    const json_t *v = json_object_get(root, key);

    if (v == NULL || json_is_null(v)) {
        FUZZ_CHECK(s == NULL);
        return;
    }
    FUZZ_CHECK(json_is_string(v) && s != NULL);
    FUZZ_CHECK(strlen(s) == json_string_length(v));
    FUZZ_CHECK(memcmp(s, json_string_value(v), json_string_length(v)) == 0);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    static const char *const keys[FUZZ_NSTRINGS] = {
        "id", "title", "summary", "content", "link", "feed", "feed_title", "author",
    };
    struct item *it = NULL;
    json_t *root, *cats;
    na_error err;
    size_t i;

    memset(&err, 0, sizeof(err));
    if (item_from_json((const char *)data, size, &it, &err) != 0) {
        fuzz_check_failure(it, &err);
        return;
    }
    FUZZ_CHECK(it != NULL);
    fuzz_check_item(it);
    root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(root != NULL && json_is_object(root));
    for (i = 0; i < FUZZ_NSTRINGS; i++)
        fuzz_check_jstring(root, keys[i], fuzz_field(it, (int)i));
    cats = json_object_get(root, "categories");
    FUZZ_CHECK(it->ncategories == (cats == NULL ? 0 : json_array_size(cats)));
    for (i = 0; i < it->ncategories; i++) {
        const json_t *c = json_array_get(cats, i);

        FUZZ_CHECK(strlen(it->categories[i]) == json_string_length(c));
        FUZZ_CHECK(memcmp(it->categories[i], json_string_value(c), json_string_length(c)) == 0);
    }
    json_decref(root);
    fuzz_check_roundtrips(it);
    item_free(&it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_packed(data, size);
    fuzz_json(data, size);
    return 0;
}

/*
 * test_item_pack.c - the packed item record (item_pack.h) against the JSON
 * form it replaces on the hand-off.
 *
 * For thousands of random items with hostile strings (every byte value,
 * invalid UTF-8 of every kind, quotes, backslashes and control characters,
 * fields of hundreds of kilobytes, empty against absent fields, up to
 * thousands of categories, every kind of date), item_pack_encode must
 * refuse exactly the items item_to_json refuses, and
 * item_pack_decode(item_pack_encode(it)) must give the same struct item as
 * item_from_json(item_to_json(it)), or fail where it fails (no id).
 * Records built here byte by byte carry what the encoder never writes (NUL
 * bytes, invalid UTF-8, absent categories) and every kind of malformation
 * (cut at every byte, lengths past the end, wrong magic, trailing bytes,
 * counts that cannot fit); each must be refused with a message naming the
 * field and the byte offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "item.h"
#include "item_pack.h"
#include "testutil.h"

/* The range of `published` the JSON form carries (years 0001 to 9999). */
#define JSON_TIME_MIN INT64_C(-62135596800)
#define JSON_TIME_MAX INT64_C(253402300799)

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* --- hostile strings ------------------------------------------------------ */

/* Invalid (and borderline valid) UTF-8 pieces. */
static const char *const pieces[] = {
    "\xc0\x80",         /* overlong NUL */
    "\xc1\xbf",         /* overlong */
    "\xe0\x80\x80",     /* overlong */
    "\xe0\x9f\xbf",     /* overlong */
    "\xf0\x80\x80\x80", /* overlong */
    "\xf0\x8f\xbf\xbf", /* overlong */
    "\xed\xa0\x80",     /* surrogate */
    "\xed\xbf\xbf",     /* surrogate */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
    "\x80",             /* lone continuation */
    "\xbf",
    "\xc3",             /* cut short (at the end or before ASCII) */
    "\xe2\x82",
    "\xf0\x9f\x98",
    "\xc3\xa9",         /* valid: U+00E9 */
    "\xe2\x82\xac",     /* valid: U+20AC */
    "\xef\xbf\xbe",     /* valid: U+FFFE */
    "\xef\xbf\xbf",     /* valid: U+FFFF */
    "\xed\x9f\xbf",     /* valid: U+D7FF */
    "\xee\x80\x80",     /* valid: U+E000 */
    "\xf0\x90\x80\x80", /* valid: U+10000 */
    "\xf4\x8f\xbf\xbf", /* valid: U+10FFFF */
    "\xf0\x9f\x98\x80", /* valid: U+1F600 */
    "\"", "\\", "\\u0000", "\x01", "\x1f", "\x7f", "\n\t\r", "</script>", "{\"id\":1}",
};

/* Append one valid code point of random length, encoded. */
static size_t put_codepoint(char *p)
{
    uint32_t cp;

    switch (rnd_below(4)) {
    case 0:
        cp = 1 + (uint32_t)rnd_below(0x7f);
        p[0] = (char)cp;
        return 1;
    case 1:
        cp = 0x80 + (uint32_t)rnd_below(0x800 - 0x80);
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    case 2:
        do
            cp = 0x800 + (uint32_t)rnd_below(0x10000 - 0x800);
        while (cp >= 0xd800 && cp <= 0xdfff);
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    default:
        cp = 0x10000 + (uint32_t)rnd_below(0x110000 - 0x10000);
        p[0] = (char)(0xf0 | cp >> 18);
        p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
}

/* A random string, NUL-terminated, without NUL inside (a C string can hold
 * no other), or NULL (absent) now and then.  `mostly_valid`: invalid
 * pieces are rarer, so that most items get through. */
static char *random_string(int mostly_valid, int allow_huge)
{
    size_t cap, len = 0, target;
    char *s;
    int kind = (int)rnd_below(100);

    if (kind < 8)
        return NULL;
    if (kind < 14)
        return strdup("");
    if (kind < 15 && allow_huge)
        target = 64 * 1024 + rnd_below(100 * 1024); /* huge */
    else
        target = rnd_below(kind < 60 ? 40 : 600);
    cap = target + 16;
    s = malloc(cap);
    assert_non_null(s);
    while (len < target) {
        size_t r = rnd_below(100);

        if (r < 55) { /* ASCII runs (the fast path) */
            size_t n = 1 + rnd_below(24);

            for (size_t k = 0; k < n && len < target; k++)
                s[len++] = (char)(' ' + rnd_below(95));
        } else if (r < 80) {
            len += put_codepoint(s + len);
        } else if (r < (mostly_valid ? 99u : 90u)) {
            const char *pc = pieces[18 + rnd_below(sizeof(pieces) / sizeof(*pieces) - 18)];
            size_t n = strlen(pc);

            if (len + n >= cap)
                break;
            memcpy(s + len, pc, n);
            len += n;
        } else if (r < 95 || mostly_valid) {
            const char *pc = pieces[rnd_below(sizeof(pieces) / sizeof(*pieces))];
            size_t n = strlen(pc);

            if (len + n >= cap)
                break;
            memcpy(s + len, pc, n);
            len += n;
        } else { /* any byte but NUL */
            s[len++] = (char)(1 + rnd_below(255));
        }
        if (len + 8 >= cap)
            break;
    }
    s[len] = '\0';
    return s;
}

static struct item *random_item(void)
{
    struct item *it = item_new();
    char **fields[] = {&it->id, &it->title, &it->summary, &it->content, &it->link,
                       &it->feed, &it->feed_title, &it->author};
    int mostly_valid = rnd_below(4) != 0;
    size_t ncat, i;

    assert_non_null(it);
    for (i = 0; i < sizeof(fields) / sizeof(*fields); i++)
        *fields[i] = random_string(mostly_valid, 1);
    if (rnd_below(6) != 0 && (it->id == NULL || it->id[0] == '\0')) {
        free(it->id);
        it->id = strdup("urn:id:\xc3\xa9"); /* most items have an id */
    }
    switch (rnd_below(40)) {
    case 0:
        ncat = 200 + rnd_below(1500);
        break;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
        ncat = 0;
        break;
    default:
        ncat = rnd_below(8);
    }
    for (i = 0; i < ncat; i++) {
        char *c = random_string(mostly_valid || rnd_below(50) != 0, ncat < 10);

        assert_int_equal(item_add_category(it, c != NULL ? c : ""), 0);
        free(c);
    }
    switch (rnd_below(6)) {
    case 0:
        it->published = ITEM_TIME_UNKNOWN;
        break;
    case 1:
        it->published = rnd_below(2) ? JSON_TIME_MIN : JSON_TIME_MAX;
        break;
    case 2:
        it->published = -(int64_t)rnd_below(1000);
        break;
    default:
        it->published = JSON_TIME_MIN + (int64_t)(rnd() % (uint64_t)(JSON_TIME_MAX - JSON_TIME_MIN));
    }
    return it;
}

/* --- comparing items -------------------------------------------------------- */

/* --- random items: packed against JSON -------------------------------------- */

static void test_random_items_match_json(void **state)
{
    size_t accepted = 0, refused = 0, noid = 0;

    (void)state;
    for (int k = 0; k < 4000; k++) {
        struct item *it = random_item(), *from_json = NULL, *from_pack = NULL;
        char *json = item_to_json(it);
        size_t len = 0;
        unsigned char *rec = item_pack_encode(it, &len);
        na_error ej, ep;
        int rj, rp;

        /* refuses exactly what item_to_json refuses */
        assert_true((json == NULL) == (rec == NULL));
        if (json == NULL) {
            refused++;
            item_free(&it);
            continue;
        }
        assert_true(len >= ITEM_PACK_MIN_SIZE);
        assert_true(item_pack_is_packed(rec, len));
        assert_false(item_pack_is_packed(json, strlen(json)));
        rj = item_from_json(json, strlen(json), &from_json, &ej);
        rp = item_pack_decode(rec, len, &from_pack, &ep);
        assert_int_equal(rj, rp);
        if (rp == 0) {
            accepted++;
            testutil_assert_same_item(from_json, from_pack);
            testutil_assert_same_item(it, from_pack);
        } else {
            noid++;
            assert_null(from_pack);
            assert_true(it->id == NULL || it->id[0] == '\0');
            assert_non_null(strstr(ep.msg, "field `id` at byte 4"));
        }
        free(json);
        free(rec);
        item_free(&from_json);
        item_free(&from_pack);
        item_free(&it);
    }
    /* the generator reaches all three outcomes often */
    assert_true(accepted > 1000);
    assert_true(refused > 200);
    assert_true(noid > 20);
}

/* Every time the record can carry that JSON cannot (before year 1, after
 * 9999) comes back exactly. */
static void test_published_exact(void **state)
{
    const int64_t times[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, -1, 0, 1,
                             JSON_TIME_MIN - 1, JSON_TIME_MAX + 1, INT64_C(0x0123456789abcdef)};

    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++) {
        struct item *it = item_new(), *back = NULL;
        unsigned char *rec;
        size_t len;

        assert_int_equal(item_set(&it->id, "x"), 0);
        it->published = times[i];
        rec = item_pack_encode(it, &len);
        assert_non_null(rec);
        assert_int_equal(len, ITEM_PACK_MIN_SIZE + 1);
        assert_int_equal(item_pack_decode(rec, len, &back, NULL), 0);
        assert_true(back->published == times[i]);
        /* and the JSON form of an item taken in can always be read back:
         * clamped to years 1-9999 (fuzz_item found year 0 written, then
         * refused; tests/fuzz/regressions/item-packed-year0.bin) */
        {
            char *json = item_to_json(back);
            struct item *again = NULL;
            na_error err = {0};

            assert_non_null(json);
            if (item_from_json(json, strlen(json), &again, &err) != 0)
                fail_msg("%s: %s", json, err.msg);
            if (times[i] == ITEM_TIME_UNKNOWN)
                assert_true(again->published == ITEM_TIME_UNKNOWN);
            else
                assert_true(again->published >= JSON_TIME_MIN &&
                            again->published <= JSON_TIME_MAX);
            if (times[i] >= JSON_TIME_MIN && times[i] <= JSON_TIME_MAX)
                assert_true(again->published == times[i]);
            item_free(&again);
            free(json);
        }
        free(rec);
        item_free(&back);
        item_free(&it);
    }
}

/* An item JSON dated just before year 1 in UTC (accepted: date_parse reads
 * it) is written back clamped to year 1 and reads back
 * (tests/fuzz/regressions/item-json-year0.json). */
static void test_json_before_year_one(void **state)
{
    static const char text[] = "{\"id\":\"a\",\"published\":\"0001-01-01T00:00:00+01:00\"}";
    struct item *it = NULL, *back = NULL;
    na_error err = {0};
    char *json;

    (void)state;
    if (item_from_json(text, strlen(text), &it, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(it->published == JSON_TIME_MIN - 3600);
    json = item_to_json(it);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"0001-01-01T00:00:00Z\""));
    if (item_from_json(json, strlen(json), &back, &err) != 0)
        fail_msg("%s: %s", json, err.msg);
    assert_true(back->published == JSON_TIME_MIN);
    free(json);
    item_free(&back);
    item_free(&it);
}

/* --- records built byte by byte --------------------------------------------- */

struct rec {
    unsigned char buf[1 << 16];
    size_t len;
};

static void rec_u32(struct rec *r, uint32_t v)
{
    assert_true(r->len + 4 <= sizeof(r->buf));
    for (int i = 0; i < 4; i++)
        r->buf[r->len++] = (unsigned char)(v >> (8 * i));
}

static void rec_str(struct rec *r, const void *s, size_t n)
{
    rec_u32(r, (uint32_t)n);
    assert_true(r->len + n <= sizeof(r->buf));
    memcpy(r->buf + r->len, s, n);
    r->len += n;
}

static void rec_i64(struct rec *r, int64_t v)
{
    uint64_t u = (uint64_t)v;

    rec_u32(r, (uint32_t)u);
    rec_u32(r, (uint32_t)(u >> 32));
}

/* A record whose string field `bad` (0..7; 8: the first category; -1:
 * none) holds s[0..n); the others hold fixed valid strings. */
static void build(struct rec *r, int bad, const void *s, size_t n)
{
    static const char *const good[8] = {"id-1", "T\xc3\xaftle", "", "content", "http://x/",
                                        NULL, "Feed", "Au"};

    r->len = 0;
    memcpy(r->buf, ITEM_PACK_MAGIC, ITEM_PACK_MAGIC_LEN);
    r->len = ITEM_PACK_MAGIC_LEN;
    for (int i = 0; i < 8; i++) {
        if (i == bad)
            rec_str(r, s, n);
        else if (good[i] == NULL)
            rec_u32(r, ITEM_PACK_ABSENT);
        else
            rec_str(r, good[i], strlen(good[i]));
    }
    rec_u32(r, 2);
    if (bad == 8)
        rec_str(r, s, n);
    else
        rec_str(r, "c1", 2);
    rec_str(r, "c\xe2\x82\xac", 4);
    rec_i64(r, 1234567890);
}

static const char *const field_names[9] = {"id", "title", "summary", "content", "link",
                                           "feed", "feed_title", "author", "categories[0]"};

/* A string placed in any field decodes when, and only when, item_to_json
 * takes it (for strings without NUL), and a refusal names the field. */
static void test_strings_per_field(void **state)
{
    (void)state;
    for (int k = 0; k < 3000; k++) {
        int field = (int)rnd_below(9);
        char *s = random_string(0, 1);
        struct item *probe = item_new(), *out = NULL;
        struct rec *r = malloc(sizeof(*r));
        char *json, want[64];
        na_error err;
        int rc;

        assert_non_null(r);
        if (s == NULL)
            s = strdup("");
        if (strlen(s) > 60000)
            s[60000] = '\0'; /* fits struct rec; a cut may leave bad UTF-8 */
        char **pf[8] = {&probe->id, &probe->title, &probe->summary, &probe->content,
                        &probe->link, &probe->feed, &probe->feed_title, &probe->author};

        assert_int_equal(item_set(&probe->id, "x"), 0);
        if (field == 8)
            assert_int_equal(item_add_category(probe, s), 0);
        else
            assert_int_equal(item_set(pf[field], s), 0);
        json = item_to_json(probe);
        build(r, field, s, strlen(s));
        rc = item_pack_decode(r->buf, r->len, &out, &err);
        if (json == NULL) {
            assert_int_equal(rc, -1);
            snprintf(want, sizeof(want), "field `%s` at byte ", field_names[field]);
            assert_non_null(strstr(err.msg, want));
            assert_non_null(strstr(err.msg, "invalid UTF-8 at byte"));
        } else if (field == 0 && s[0] == '\0') {
            assert_int_equal(rc, -1); /* empty id */
            assert_non_null(strstr(err.msg, "field `id` at byte 4: empty"));
        } else {
            assert_int_equal(rc, 0);
            char **of[8] = {&out->id, &out->title, &out->summary, &out->content,
                            &out->link, &out->feed, &out->feed_title, &out->author};

            if (field == 8)
                assert_string_equal(out->categories[0], s);
            else
                assert_string_equal(*of[field], s);
        }
        item_free(&out);
        item_free(&probe);
        free(json);
        free(s);
        free(r);
    }
}

/* NUL bytes and invalid UTF-8 in each field: refused, the message naming
 * the field, where it starts, and the bad byte. */
static void test_bad_bytes_per_field(void **state)
{
    static const struct {
        const char *s;
        size_t n;
        const char *what;
    } bad[] = {
        {"ab\0cd", 5, "NUL byte at byte"}, {"\0", 1, "NUL byte at byte"},
        {"abcdefgh\0", 9, "NUL byte at byte"}, {"abc\0efghijklmnop", 16, "NUL byte at byte"},
        {"abcdefghijklmno\0", 16, "NUL byte at byte"}, {"\xc0\x80", 2, "invalid UTF-8 at byte"},
        {"ok\xed\xa0\x80", 5, "invalid UTF-8 at byte"}, {"\xf4\x90\x80\x80", 4, "invalid UTF-8"},
        {"abc\xc3", 4, "invalid UTF-8 at byte"}, {"\xff", 1, "invalid UTF-8 at byte"},
        {"0123456789\x80", 11, "invalid UTF-8 at byte"},
    };
    struct rec *r = malloc(sizeof(*r));

    (void)state;
    assert_non_null(r);
    for (int field = 0; field < 9; field++) {
        for (size_t b = 0; b < sizeof(bad) / sizeof(*bad); b++) {
            struct item *out = (struct item *)r; /* must come back NULL */
            char want[96];
            na_error err;

            build(r, field, bad[b].s, bad[b].n);
            assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
            assert_null(out);
            snprintf(want, sizeof(want), "packed item: field `%s` at byte ", field_names[field]);
            assert_non_null(strstr(err.msg, want));
            assert_non_null(strstr(err.msg, bad[b].what));
        }
    }
    free(r);
}

/* The message for a length past the end, exactly. */
static void test_length_past_end_message(void **state)
{
    struct rec *r = malloc(sizeof(*r));
    struct item *out = NULL;
    na_error err;
    char want[160];
    size_t at;

    (void)state;
    assert_non_null(r);
    build(r, -1, NULL, 0);
    /* title's length starts after the magic and id ("id-1": 4 + 4 bytes) */
    at = ITEM_PACK_MAGIC_LEN + 4 + 4;
    r->buf[at] = 0x00;
    r->buf[at + 1] = 0x09;
    r->buf[at + 2] = 0x3d;
    r->buf[at + 3] = 0x00; /* 4000000 */
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
    snprintf(want, sizeof(want),
             "packed item: field `title` at byte %zu: length 4000000 runs past the end "
             "(%zu bytes)", at, r->len);
    assert_string_equal(err.msg, want);
    free(r);
}

/* A valid record cut at every byte, and every length in it made one too
 * large: refused, never read past the end (ASan and valgrind watch). */
static void test_truncated_and_overlong(void **state)
{
    struct item *it = item_new(), *out = NULL;
    unsigned char *rec, *copy;
    size_t len, cut, pos, nlen = 0, lens[64];
    na_error err;

    (void)state;
    assert_int_equal(item_set(&it->id, "urn:x"), 0);
    assert_int_equal(item_set(&it->title, "T\xc3\xa9tle"), 0);
    assert_int_equal(item_set(&it->summary, ""), 0);
    assert_int_equal(item_set(&it->link, "http://l/"), 0);
    assert_int_equal(item_set(&it->feed, "http://f/"), 0);
    assert_int_equal(item_add_category(it, "a"), 0);
    assert_int_equal(item_add_category(it, ""), 0);
    assert_int_equal(item_add_category(it, "\xf0\x9f\x98\x80"), 0);
    it->published = 1700000000;
    assert_non_null(rec = item_pack_encode(it, &len));
    assert_int_equal(item_pack_decode(rec, len, &out, &err), 0);
    testutil_assert_same_item(it, out);
    item_free(&out);
    for (cut = 0; cut < len; cut++) {
        /* a copy of exactly `cut` bytes, so any over-read is caught */
        copy = malloc(cut > 0 ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, rec, cut);
        assert_int_equal(item_pack_decode(copy, cut, &out, &err), -1);
        assert_null(out);
        assert_non_null(strstr(err.msg, "packed item: "));
        free(copy);
    }
    /* where the lengths are: walk the record */
    pos = ITEM_PACK_MAGIC_LEN;
    for (int i = 0; i < 8; i++) {
        uint32_t n;

        memcpy(&n, rec + pos, 4); /* the test runs on little-endian hosts */
        lens[nlen++] = pos;
        pos += 4 + (n == ITEM_PACK_ABSENT ? 0 : n);
    }
    pos += 4; /* the count */
    for (int i = 0; i < 3; i++) {
        uint32_t n;

        memcpy(&n, rec + pos, 4);
        lens[nlen++] = pos;
        pos += 4 + n;
    }
    assert_int_equal(pos + 8, len);
    for (size_t i = 0; i < nlen; i++) {
        const uint32_t bigs[] = {(uint32_t)(len - lens[i] - 4 + 1), 0x7fffffffu, 0xfffffffeu};

        for (size_t b = 0; b < sizeof(bigs) / sizeof(*bigs); b++) {
            copy = malloc(len);
            assert_non_null(copy);
            memcpy(copy, rec, len);
            for (int k = 0; k < 4; k++)
                copy[lens[i] + k] = (unsigned char)(bigs[b] >> (8 * k));
            assert_int_equal(item_pack_decode(copy, len, &out, &err), -1);
            assert_null(out);
            assert_non_null(strstr(err.msg, "runs past the end"));
            free(copy);
        }
    }
    free(rec);
    item_free(&it);
}

static void test_malformed_records(void **state)
{
    struct rec *r = malloc(sizeof(*r));
    struct item *out = NULL;
    na_error err;
    size_t good;

    (void)state;
    assert_non_null(r);
    build(r, -1, NULL, 0);
    good = r->len;
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), 0);
    assert_string_equal(out->id, "id-1");
    assert_null(out->feed);
    assert_string_equal(out->summary, "");
    assert_int_equal(out->ncategories, 2);
    assert_string_equal(out->categories[1], "c\xe2\x82\xac");
    assert_true(out->published == 1234567890);
    item_free(&out);

    /* wrong magic, empty input, JSON */
    r->buf[3] = '2';
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
    assert_non_null(strstr(err.msg, "magic at byte 0"));
    r->buf[3] = '1';
    assert_int_equal(item_pack_decode(r->buf, 0, &out, &err), -1);
    assert_non_null(strstr(err.msg, "magic"));
    assert_int_equal(item_pack_decode("{\"id\":\"x\"}", 10, &out, &err), -1);
    assert_false(item_pack_is_packed("{\"id\":\"x\"}", 10));
    assert_false(item_pack_is_packed("NAI", 3));

    /* trailing bytes */
    r->buf[r->len++] = 0;
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
    assert_non_null(strstr(err.msg, "1 bytes after the end of the record"));
    assert_null(out);

    /* id absent, id empty */
    build(r, -1, NULL, 0);
    r->len = ITEM_PACK_MAGIC_LEN;
    rec_u32(r, ITEM_PACK_ABSENT);
    for (int i = 1; i < 8; i++)
        rec_u32(r, ITEM_PACK_ABSENT);
    rec_u32(r, 0);
    rec_i64(r, INT64_MIN);
    assert_int_equal(r->len, ITEM_PACK_MIN_SIZE);
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
    assert_string_equal(err.msg,
                        "packed item: field `id` at byte 4: absent, an item needs an id");
    build(r, 0, "", 0);
    assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
    assert_non_null(strstr(err.msg, "field `id` at byte 4: empty"));

    /* an absent category */
    build(r, 8, "x", 1);
    assert_true(r->len == good - 1);
    {
        size_t at = r->len - 8 - 8 - 5; /* first category: after the count */

        for (int k = 0; k < 4; k++)
            r->buf[at + k] = 0xff;
        /* now too short by the category's byte: drop it */
        memmove(r->buf + at + 4, r->buf + at + 5, r->len - at - 5);
        r->len--;
        assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
        assert_non_null(strstr(err.msg, "field `categories[0]` at byte"));
        assert_non_null(strstr(err.msg, "absent, a string is required"));
    }

    /* a count of categories that cannot fit (checked before allocating) */
    build(r, -1, NULL, 0);
    {
        size_t at = r->len - 8 - 6 - 8 - 4;

        for (int k = 0; k < 4; k++)
            r->buf[at + k] = 0xff;
        assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
        assert_non_null(strstr(err.msg, "field `categories` at byte"));
        assert_non_null(strstr(err.msg, "cannot fit"));
        r->buf[at] = 5; /* 5: fits the bytes left, but they are not 5 categories */
        r->buf[at + 1] = r->buf[at + 2] = r->buf[at + 3] = 0;
        assert_int_equal(item_pack_decode(r->buf, r->len, &out, &err), -1);
        assert_null(out);
    }
    free(r);
}

/* Many categories and a huge field round-trip. */
static void test_large(void **state)
{
    struct item *it = item_new(), *out = NULL;
    unsigned char *rec;
    size_t len, i, big = 900 * 1024;
    char name[32];

    (void)state;
    assert_int_equal(item_set(&it->id, "big"), 0);
    it->content = malloc(big + 1);
    assert_non_null(it->content);
    for (i = 0; i < big; i++)
        it->content[i] = (char)('a' + i % 26);
    it->content[big] = '\0';
    for (i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "c%zu", i);
        assert_int_equal(item_add_category(it, name), 0);
    }
    assert_non_null(rec = item_pack_encode(it, &len));
    assert_int_equal(item_pack_decode(rec, len, &out, NULL), 0);
    testutil_assert_same_item(it, out);
    free(rec);
    item_free(&out);
    item_free(&it);
}

/* --- fitting an item under a size limit -------------------------------------- */

/* A deep copy (through the record: the items here are valid). */
static struct item *copy_item(const struct item *it)
{
    struct item *out = NULL;
    unsigned char *rec;
    size_t len;

    assert_non_null(rec = item_pack_encode(it, &len));
    assert_int_equal(len, item_pack_size(it));
    assert_int_equal(item_pack_decode(rec, len, &out, NULL), 0);
    free(rec);
    return out;
}

/* A string of n bytes: `unit` repeated, then ASCII to make up the rest. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit), i = 0;
    char *s = malloc(n + 1);

    assert_non_null(s);
    for (; i + u <= n; i += u)
        memcpy(s + i, unit, u);
    for (; i < n; i++)
        s[i] = 'x';
    s[n] = '\0';
    return s;
}

/* What item_pack_fit may do to `orig`, giving `cut` (returned rc): texts
 * become a prefix of themselves ended by U+2026, categories are dropped
 * from the end, nothing else changes; the record fits and decodes. */
static void assert_fitted(const struct item *orig, const struct item *cut, size_t max, int rc)
{
    static const char ell[] = "\xe2\x80\xa6";
    const char *o[] = {orig->title, orig->summary, orig->content, orig->author, orig->feed_title};
    const char *c[] = {cut->title, cut->summary, cut->content, cut->author, cut->feed_title};
    struct item *back = NULL;
    unsigned char *rec;
    size_t len, i, changed = 0;

    assert_true(rc == 0 || rc == 1);
    assert_true(item_pack_size(cut) <= max);
    assert_string_equal(cut->id, orig->id);
    assert_true((cut->link == NULL) == (orig->link == NULL));
    if (orig->link != NULL)
        assert_string_equal(cut->link, orig->link);
    assert_true((cut->feed == NULL) == (orig->feed == NULL));
    if (orig->feed != NULL)
        assert_string_equal(cut->feed, orig->feed);
    assert_true(cut->published == orig->published);
    for (i = 0; i < 5; i++) {
        assert_true((o[i] == NULL) == (c[i] == NULL));
        if (o[i] == NULL || strcmp(o[i], c[i]) == 0)
            continue;
        changed++;
        len = strlen(c[i]);
        assert_true(len >= 3 && len < strlen(o[i]));
        assert_memory_equal(c[i] + len - 3, ell, 3);
        assert_memory_equal(c[i], o[i], len - 3);
        /* cut at a character boundary: what was kept ends a character */
        assert_true(((unsigned char)o[i][len - 3] & 0xC0) != 0x80);
    }
    assert_true(cut->ncategories <= orig->ncategories);
    for (i = 0; i < cut->ncategories; i++)
        assert_string_equal(cut->categories[i], orig->categories[i]);
    assert_int_equal(rc, changed > 0 || cut->ncategories < orig->ncategories);
    /* the record is valid: it decodes to the same item */
    assert_non_null(rec = item_pack_encode(cut, &len));
    assert_int_equal(len, item_pack_size(cut));
    assert_int_equal(item_pack_decode(rec, len, &back, NULL), 0);
    testutil_assert_same_item(cut, back);
    free(rec);
    item_free(&back);
}

static void test_fit(void **state)
{
    struct item *it = item_new(), *orig, *c;
    size_t max = 1024 * 1024, size;
    char name[32];
    int rc;

    (void)state;
    assert_int_equal(item_set(&it->id, "urn:big"), 0);
    assert_int_equal(item_set(&it->title, "Ukraine territorial concessions"), 0);
    assert_int_equal(item_set(&it->link, "https://example.org/big"), 0);
    assert_int_equal(item_set(&it->feed, "https://example.org/rss"), 0);
    it->published = 1700000000;
    /* 2 MB of content and 1.5 MB of summary, in 2-, 3- and 4-byte characters
     * whose boundaries fall anywhere */
    it->content = repeat("\xc3\xa9t\xe2\x82\xac\xf0\x9f\x93\xb0 ", 2000001);
    it->summary = repeat("\xd0\xb8\xe2\x80\x94", 1500000);

    /* already small enough: unchanged */
    orig = copy_item(it);
    size = item_pack_size(it);
    assert_int_equal(item_pack_fit(it, size), 0);
    testutil_assert_same_item(orig, it);

    /* one byte over: cut the longest text, by little */
    assert_int_equal(rc = item_pack_fit(it, size - 1), 1);
    assert_fitted(orig, it, size - 1, rc);
    assert_string_equal(it->summary, orig->summary);
    assert_true(strlen(it->content) + 8 >= strlen(orig->content));
    item_free(&it);

    /* to 1 MiB: the content goes first (longest), then the summary */
    it = copy_item(orig);
    assert_int_equal(rc = item_pack_fit(it, max), 1);
    assert_fitted(orig, it, max, rc);
    assert_true(item_pack_size(it) > max - 16); /* no more cut than needed */
    assert_string_equal(it->title, orig->title);
    item_free(&it);

    /* every limit from the floor up: fits, or -1 only below id+link+feed */
    free(orig->content);
    free(orig->summary);
    orig->content = repeat("\xc3\xa9t\xe2\x82\xac\xf0\x9f\x93\xb0 ", 301);
    orig->summary = repeat("\xd0\xb8\xe2\x80\x94", 200);
    assert_int_equal(item_add_category(orig, "one"), 0);
    assert_int_equal(item_add_category(orig, "two"), 0);
    assert_int_equal(item_set(&orig->author, "A. Writer"), 0);
    /* the least it can come to: id, link, feed, and each text that is
     * there cut to the ellipsis (or kept when not longer) */
    c = item_new();
    assert_non_null(c);
    c->id = strdup(orig->id);
    c->link = strdup(orig->link);
    c->feed = strdup(orig->feed);
    size = item_pack_size(c);
    item_free(&c);
    {
        const char *t[] = {orig->title, orig->summary, orig->content, orig->author,
                           orig->feed_title};

        for (size_t i = 0; i < 5; i++)
            if (t[i] != NULL)
                size += strlen(t[i]) < 3 ? strlen(t[i]) : 3;
    }
    for (size_t m = 40; m < 700; m++) {
        it = copy_item(orig);
        rc = item_pack_fit(it, m);
        if (m < size) {
            assert_int_equal(rc, -1);
        } else {
            assert_fitted(orig, it, m, rc);
        }
        item_free(&it);
    }
    item_free(&orig);

    /* categories are dropped from the last once the texts are cut */
    it = item_new();
    assert_int_equal(item_set(&it->id, "cats"), 0);
    assert_int_equal(item_set(&it->title, "short"), 0);
    for (int i = 0; i < 40000; i++) {
        snprintf(name, sizeof(name), "category %d", i);
        assert_int_equal(item_add_category(it, name), 0);
    }
    orig = copy_item(it);
    assert_int_equal(rc = item_pack_fit(it, 100000), 1);
    assert_fitted(orig, it, 100000, rc);
    assert_true(it->ncategories > 0 && it->ncategories < orig->ncategories);
    assert_string_equal(it->title, "short");
    item_free(&it);
    item_free(&orig);

    /* a link alone over the limit: cannot fit */
    it = item_new();
    assert_int_equal(item_set(&it->id, "long-link"), 0);
    it->link = repeat("https://example.org/", 2000000);
    it->summary = repeat("text ", 500000);
    assert_int_equal(item_pack_fit(it, max), -1);
    item_free(&it);
}

/* Random valid items and limits: whatever fits, fits as assert_fitted says. */
static void test_fit_random(void **state)
{
    (void)state;
    for (int n = 0; n < 3000; n++) {
        struct item *it = random_item(), *orig;
        unsigned char *rec;
        size_t len, max;
        int rc;

        if (it->id == NULL || it->id[0] == '\0' || /* the decoder refuses those */
            (rec = item_pack_encode(it, &len)) == NULL) { /* invalid UTF-8 */
            item_free(&it);
            continue;
        }
        free(rec);
        orig = copy_item(it);
        max = ITEM_PACK_MIN_SIZE + rnd_below(len + 64);
        rc = item_pack_fit(it, max);
        if (rc >= 0)
            assert_fitted(orig, it, max, rc);
        else
            assert_true(item_pack_size(it) > max);
        item_free(&it);
        item_free(&orig);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_items_match_json),
        cmocka_unit_test(test_published_exact),
        cmocka_unit_test(test_json_before_year_one),
        cmocka_unit_test(test_strings_per_field),
        cmocka_unit_test(test_bad_bytes_per_field),
        cmocka_unit_test(test_length_past_end_message),
        cmocka_unit_test(test_truncated_and_overlong),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_fit_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

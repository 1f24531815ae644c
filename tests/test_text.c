/*
 * test_text.c - the text normaliser: word splitting, Unicode folding,
 * stemming, the stem cache, and documents (tokens, fields, positions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "text.h"

struct words {
    char stem[32][64];
    size_t col[32];
    size_t off[32];
    size_t n;
};

static int collect(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                   size_t column)
{
    struct words *w = arg;

    (void)wlen;
    assert_true(w->n < 32);
    assert_true(slen < 64);
    assert_int_equal(strlen(stem), slen);
    memcpy(w->stem[w->n], stem, slen + 1);
    w->col[w->n] = column;
    w->off[w->n] = off;
    w->n++;
    return 0;
}

static void split(struct text_norm *n, const char *s, struct words *w)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(text_norm_split(n, s, strlen(s), collect, w), 0);
}

/* The stem of one word, copied. */
static void stem_of(struct text_norm *n, const char *word, char *out, size_t cap)
{
    const char *st;
    size_t len;

    assert_int_equal(text_norm_word(n, word, strlen(word), &st, &len), 0);
    assert_true(len < cap);
    memcpy(out, st, len);
    out[len] = '\0';
}

static void assert_same_stem(struct text_norm *n, const char *a, const char *b)
{
    char sa[300], sb[300];

    stem_of(n, a, sa, sizeof(sa));
    stem_of(n, b, sb, sizeof(sb));
    assert_string_equal(sa, sb);
}

static void test_split_words(void **state)
{
    struct text_norm *n = text_norm_new();
    struct words w;

    (void)state;
    assert_non_null(n);
    split(n, "Ukraine's NATO-membership, café Zélenskyy 2024!", &w);
    assert_int_equal(w.n, 7);
    assert_string_equal(w.stem[0], "ukrain");
    assert_string_equal(w.stem[1], "s");
    assert_string_equal(w.stem[2], "nato");
    assert_string_equal(w.stem[3], "membership");
    assert_string_equal(w.stem[4], "cafe");
    assert_string_equal(w.stem[5], "zelenskyy");
    assert_string_equal(w.stem[6], "2024");
    /* columns count characters, offsets count bytes */
    assert_int_equal(w.col[0], 1);
    assert_int_equal(w.col[1], 9);
    assert_int_equal(w.col[2], 11);
    assert_int_equal(w.col[4], 28);
    assert_int_equal(w.col[5], 33);
    assert_int_equal(w.col[6], 43);
    assert_int_equal(w.off[6], 44); /* two "é" of two bytes each */

    /* the typographic apostrophe ends a word as well */
    split(n, "Ukraine\xe2\x80\x99s", &w);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.stem[0], "ukrain");
    assert_string_equal(w.stem[1], "s");
    assert_int_equal(w.col[1], 9);

    /* nothing but separators */
    split(n, " \t,.;'\xe2\x80\x99 -- ", &w);
    assert_int_equal(w.n, 0);
    split(n, "", &w);
    assert_int_equal(w.n, 0);
    text_norm_free(&n);
    assert_null(n);
}

static void test_split_marks_and_scripts(void **state)
{
    struct text_norm *n = text_norm_new();
    struct words w;

    (void)state;
    /* decomposed e + U+0301: the mark stays in the word, then is stripped */
    split(n, "Ze\xcc\x81lenskyy", &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.stem[0], "zelenskyy");
    /* a mark that starts a word is a separator */
    split(n, "\xcc\x81" "abc", &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.stem[0], "abc");
    assert_int_equal(w.col[0], 2);
    /* non-Latin letters and digits are words too */
    split(n, "\xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2 \xe6\x9d\xb1\xe4\xba\xac \xd9\xa3", &w);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.stem[0], "\xd0\xba\xd0\xb8\xd1\x96\xd0\xb2"); /* folded */
    assert_int_equal(w.col[1], 6);
    /* invalid UTF-8 separates words and counts one column per byte */
    split(n, "ab\xff\xfe" "cd \xe2\x82", &w);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.stem[0], "ab");
    assert_string_equal(w.stem[1], "cd");
    assert_int_equal(w.col[1], 5);
    text_norm_free(&n);
}

static void test_fold(void **state)
{
    struct text_norm *n = text_norm_new();
    char s[300];

    (void)state;
    assert_same_stem(n, "CAFÉ", "cafe");
    assert_same_stem(n, "café", "CAFE");
    assert_same_stem(n, "Zélenskyy", "ZELENSKYY");
    assert_same_stem(n, "Straße", "STRASSE");
    assert_same_stem(n, "\xef\xac\x81nance", "finance"); /* the fi ligature */
    assert_same_stem(n, "ÅNGSTRÖM", "angstrom");
    stem_of(n, "MiXeD", s, sizeof(s));
    assert_string_equal(s, "mix");
    text_norm_free(&n);
}

static void test_stem(void **state)
{
    struct text_norm *n = text_norm_new();
    char s[300];

    (void)state;
    assert_same_stem(n, "concessions", "concession");
    assert_same_stem(n, "Territorial", "territory");
    assert_same_stem(n, "running", "runs");
    stem_of(n, "concessions", s, sizeof(s));
    assert_string_equal(s, "concess");
    /* no stop words: "the" is a word like any other */
    stem_of(n, "The", s, sizeof(s));
    assert_string_equal(s, "the");
    text_norm_free(&n);
}

static void test_long_word(void **state)
{
    struct text_norm *n = text_norm_new();
    char word[400], s[400];

    (void)state;
    memset(word, 'A', sizeof(word) - 2);
    word[sizeof(word) - 2] = 'S';
    word[sizeof(word) - 1] = '\0';
    stem_of(n, word, s, sizeof(s));
    /* too long to be an English word: folded, not stemmed */
    assert_int_equal(strlen(s), strlen(word));
    assert_int_equal(s[0], 'a');
    assert_int_equal(s[sizeof(word) - 2], 's');
    text_norm_free(&n);
}

/* The cache is flushed when full; answers must not change. */
static void test_cache(void **state)
{
    struct text_norm *n = text_norm_new();
    char before[64], after[64], w[32];

    (void)state;
    stem_of(n, "Concessions", before, sizeof(before));
    for (int i = 0; i < 70000; i++) {
        const char *st;
        size_t len;

        snprintf(w, sizeof(w), "word%dings", i);
        assert_int_equal(text_norm_word(n, w, strlen(w), &st, &len), 0);
        snprintf(w, sizeof(w), "word%d", i);
        assert_int_equal(len, strlen(w));
        assert_memory_equal(st, w, len);
    }
    stem_of(n, "Concessions", after, sizeof(after));
    assert_string_equal(before, after);
    assert_string_equal(after, "concess");
    text_norm_free(&n);
}

static void test_doc_tokens(void **state)
{
    struct text_norm *n = text_norm_new();
    struct text_doc *d = text_doc_new(n);
    struct text_token t;
    long i;
    int count;

    (void)state;
    assert_non_null(d);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, "Peace talks"), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_SUMMARY, "Talks on peace, more talks"), 0);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_CONTENT, NULL), 0);
    assert_int_equal(text_doc_ntokens(d), 7);

    text_doc_token(d, 0, &t);
    assert_string_equal(t.stem, "peac");
    assert_int_equal(t.field, TEXT_FIELD_TITLE);
    assert_int_equal(t.pos, 0);
    text_doc_token(d, 2, &t);
    assert_string_equal(t.stem, "talk");
    assert_int_equal(t.field, TEXT_FIELD_SUMMARY);
    assert_int_equal(t.pos, 0); /* positions restart in each field */
    text_doc_token(d, 6, &t);
    assert_int_equal(t.pos, 4);

    /* every occurrence of "talk", in order, with one term id */
    count = 0;
    for (i = text_doc_find(d, "talk", 4); i >= 0; i = text_doc_next(d, i)) {
        struct text_token first;

        text_doc_token(d, (size_t)i, &t);
        text_doc_token(d, 1, &first);
        assert_string_equal(t.stem, "talk");
        assert_int_equal(t.term, first.term);
        count++;
    }
    assert_int_equal(count, 3);
    assert_int_equal(text_doc_find(d, "talks", 5), -1);
    assert_int_equal(text_doc_find(d, "nothing", 7), -1);

    /* a field added again goes on from its last position, after a gap */
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, "again"), 0);
    text_doc_token(d, 7, &t);
    assert_int_equal(t.field, TEXT_FIELD_TITLE);
    assert_int_equal(t.pos, 2 + TEXT_SOURCE_GAP);
    assert_int_equal(t.src, 2); /* the third source text */
    assert_int_equal(t.off, 0);
    assert_int_equal(t.len, 5);

    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_COUNT, "x"), -1);
    assert_int_equal(text_doc_add_field(d, -1, "x"), -1);

    text_doc_reset(d);
    assert_int_equal(text_doc_ntokens(d), 0);
    assert_int_equal(text_doc_find(d, "talk", 4), -1);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_CONTENT, "talk"), 0);
    assert_int_equal(text_doc_find(d, "talk", 4), 0);
    text_doc_token(d, 0, &t);
    assert_int_equal(t.pos, 0);

    text_doc_free(&d);
    assert_null(d);
    text_doc_free(&d); /* NULL-safe */
    text_norm_free(&n);
}

static void test_doc_item_own_norm(void **state)
{
    struct text_doc *d = text_doc_new(NULL);
    struct item it = {0};
    struct text_token t;

    (void)state;
    assert_non_null(d);
    it.title = "Title words";
    it.summary = NULL;
    it.content = "Body";
    it.author = "Now Indexed";
    it.link = "https://example.com/Story";
    it.feed = "https://example.com/feed.xml";
    assert_int_equal(text_doc_add_item(d, &it), 0);
    /* title 2, content 1, author 2, feed URL 5 (no feed title); link kept, not split */
    assert_int_equal(text_doc_ntokens(d), 10);
    text_doc_token(d, 2, &t);
    assert_string_equal(t.stem, "bodi");
    assert_int_equal(t.field, TEXT_FIELD_CONTENT);
    text_doc_token(d, 4, &t);
    assert_string_equal(t.stem, "index");
    assert_string_equal(t.folded, "indexed");
    assert_int_equal(t.field, TEXT_FIELD_AUTHOR);
    text_doc_token(d, 5, &t);
    assert_string_equal(t.folded, "https");
    assert_int_equal(t.field, TEXT_FIELD_FEED);
    assert_int_equal(text_doc_find(d, "stori", 5), -1);
    assert_int_equal(text_doc_nsources(d), 5);
    {
        int field;
        const char *text;
        size_t len;

        text_doc_source(d, 4, &field, &text, &len);
        assert_int_equal(field, TEXT_FIELD_LINK);
        assert_ptr_equal(text, it.link);
    }
    /* the feed's title wins over its URL */
    text_doc_reset(d);
    it.feed_title = "Yle News";
    assert_int_equal(text_doc_add_item(d, &it), 0);
    assert_int_equal(text_doc_ntokens(d), 7);
    text_doc_token(d, 5, &t);
    assert_string_equal(t.folded, "yle");
    text_doc_free(&d);
}

/* Many distinct words: the document's tables grow and stay consistent. */
static void test_doc_large(void **state)
{
    struct text_doc *d = text_doc_new(NULL);
    size_t cap = 20000 * 12, len = 0;
    char *buf = malloc(cap);
    char w[32];

    (void)state;
    assert_non_null(buf);
    for (int i = 0; i < 20000; i++) {
        int m = snprintf(buf + len, cap - len, "x%d ", i % 5000);

        assert_true(m > 0 && (size_t)m < cap - len);
        len += (size_t)m;
    }
    assert_int_equal(text_doc_add_field_len(d, TEXT_FIELD_CONTENT, buf, len), 0);
    assert_int_equal(text_doc_ntokens(d), 20000);
    for (int i = 0; i < 5000; i += 777) {
        long t;
        int count = 0;

        snprintf(w, sizeof(w), "x%d", i);
        for (t = text_doc_find(d, w, strlen(w)); t >= 0; t = text_doc_next(d, t)) {
            struct text_token tok;

            text_doc_token(d, (size_t)t, &tok);
            assert_int_equal(tok.pos % 5000, (uint32_t)i);
            count++;
        }
        assert_int_equal(count, 4);
    }
    free(buf);
    text_doc_free(&d);
}

/* The document's prefix test (first 8 bytes kept per folded form) against
 * a plain comparison of every folded form, on ASCII, accented and
 * invalid-UTF-8 words, short and long prefixes, across documents. */
static void test_doc_fold_prefix(void **state)
{
    static const char *const texts[] = {
        "Ukraine UKRAINIAN ukrainskyi Ukr u Zélenskyy ZELENSKYY Straße strasse "
        "negotiations negotiate Negotiator abcdefgh abcdefghi ABCDEFGHIJ",
        "Öl ölpreis OLIVE \xff\xfe" "bad zzzzzzzzzzzzzzzzzzzz zzzzzzzz 12345678 123456789x",
    };
    static const char *const pfx[] = {"ukr", "ukrain", "ukrainskyi", "ukrainskyix", "zel",
                                      "zelenskyy", "stra", "negotiat", "negotiato",
                                      "abcdefgh", "abcdefghi", "abcdefghij", "abcdefghijk",
                                      "ol", "olp", "zzzzzzzz", "zzzzzzzzz", "12345678",
                                      "123456789", "123456789x", "x", "\xff", "u"};
    struct text_doc *d = text_doc_new(NULL);

    (void)state;
    assert_non_null(d);
    for (size_t ti = 0; ti < 2; ti++) {
        text_doc_reset(d);
        assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, texts[ti]), 0);
        for (size_t p = 0; p < sizeof(pfx) / sizeof(pfx[0]); p++) {
            size_t n = strlen(pfx[p]), nf = text_doc_nfolds(d);
            long want = -1, got = text_doc_fold_find_prefix(d, 0, pfx[p], n);
            int hits = 0;

            for (size_t i = 0; i < nf; i++) {
                size_t flen;
                long first;
                const char *f = text_doc_fold(d, i, &flen, &first);
                int is = flen >= n && memcmp(f, pfx[p], n) == 0;

                assert_int_equal(text_doc_fold_has_prefix(d, i, pfx[p], n), is);
                if (is && want < 0)
                    want = (long)i;
                hits += is;
                assert_int_equal(text_doc_tok_fold(d, (size_t)first), i);
            }
            assert_int_equal(got, want);
            for (long i = got; i >= 0; i = text_doc_fold_find_prefix(d, (size_t)i + 1, pfx[p], n))
                hits--;
            assert_int_equal(hits, 0);
        }
    }
    /* a few expected answers, so the loop above cannot pass vacuously */
    text_doc_reset(d);
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, texts[0]), 0);
    assert_true(text_doc_fold_find_prefix(d, 0, "zelensk", 7) >= 0);
    assert_true(text_doc_fold_find_prefix(d, 0, "abcdefghij", 10) >= 0);
    assert_int_equal(text_doc_fold_find_prefix(d, 0, "abcdefghijk", 11), -1);
    assert_int_equal(text_doc_fold_find_prefix(d, 0, "ukrainskyix", 11), -1);
    text_doc_free(&d);
}

/* ---- the document's tokeniser against text_norm_split -------------------- */

struct ref_word {
    size_t off, wlen;
    char stem[4100], folded[4100];
};

struct ref_words {
    struct text_norm *n;
    const char *text;
    struct ref_word w[400];
    size_t count;
};

static int ref_collect(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                       size_t column)
{
    struct ref_words *r = arg;
    struct ref_word *w;
    const char *st, *fo;
    size_t sl, fl;

    (void)column;
    assert_true(r->count < 400);
    w = &r->w[r->count++];
    w->off = off;
    w->wlen = wlen;
    assert_true(slen < sizeof(w->stem));
    memcpy(w->stem, stem, slen + 1);
    /* the folded form, through the one-word entry point */
    assert_int_equal(text_norm_word2(r->n, r->text + off, wlen, &st, &sl, &fo, &fl), 0);
    assert_true(fl < sizeof(w->folded));
    memcpy(w->folded, fo, fl + 1);
    return 0;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd32(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

/* A random text of ASCII words (all cases, short and long), separators,
 * accented, Cyrillic, Greek and CJK letters, combining marks, symbols and
 * invalid UTF-8 (stray continuation bytes, truncated sequences, 0xff). */
static size_t random_text(char *buf, size_t cap)
{
    static const char *const pieces[] = {
        "a", "Z", "q", "m", "ukraine", "Ukraine", "UKRAINE", "talks", "x1", "42", " ", " ",
        "  ", ", ", ".", "'", "-", "\n", "\t", "\xc3\xa9", "\xc3\x89", "caf\xc3\xa9", "Stra\xc3\x9f" "e",
        "\xd0\x96\xd0\xb8", "\xce\xa9", "\xe4\xb8\xad\xe6\x96\x87", "e\xcc\x81", "\xcc\x81",
        "\xe2\x80\x99", "\xf0\x9f\x98\x80", "\xff", "\x80", "\xc3", "\xe4\xb8", "\xef\xbb\xbf",
        "\xc2\xa0", "\xef\xbc\xa1", "abcdefgh", "abcdefghijklmno", "abcdefghijklmnop",
        "ABCDEFGHIJKLMNOPQ", "0123456789abcdefghij"};
    size_t len = 0;
    size_t npieces = 1 + rnd32(60);

    for (size_t i = 0; i < npieces; i++) {
        const char *p = pieces[rnd32(sizeof(pieces) / sizeof(pieces[0]))];
        size_t n = strlen(p);
        char longw[300];

        if (rnd32(40) == 0) {
            /* a very long word, sometimes with a non-ASCII letter inside */
            n = 17 + rnd32(280);
            for (size_t k = 0; k < n; k++)
                longw[k] = (char)(rnd32(2) ? 'a' + rnd32(26) : 'A' + rnd32(26));
            if (rnd32(3) == 0 && n > 4) {
                longw[n / 2] = '\xc3';
                longw[n / 2 + 1] = '\xa9';
            }
            p = longw;
        }
        if (len + n >= cap)
            break;
        memcpy(buf + len, p, n);
        len += n;
    }
    return len;
}

/* The document's tokeniser (a table-driven ASCII scanner that loads and
 * hashes each word once, an ASCII fold of the prefix bytes) must find the
 * same words, folds and stems as text_norm_split and text_norm_word2 (the
 * plain path), on texts of every kind, with the text ending exactly at the
 * end of its buffer (no terminator: the scanner must not read past it). */
static void test_doc_tokens_match_split(void **state)
{
    struct text_norm *dn = text_norm_new(), *rn = text_norm_new();
    struct text_doc *d = text_doc_new(dn);
    struct ref_words *ref = calloc(1, sizeof(*ref));
    char buf[4096];

    (void)state;
    assert_non_null(d);
    assert_non_null(ref);
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = random_text(buf, sizeof(buf));
        char *exact = malloc(len != 0 ? len : 1);

        assert_non_null(exact);
        memcpy(exact, buf, len);
        ref->n = rn;
        ref->text = exact;
        ref->count = 0;
        assert_int_equal(text_norm_split(rn, exact, len, ref_collect, ref), 0);
        /* twice: the second time every word comes from the caches */
        for (int pass = 0; pass < 2; pass++) {
            text_doc_reset(d);
            assert_int_equal(text_doc_add_field_len(d, TEXT_FIELD_CONTENT, exact, len), 0);
            assert_int_equal(text_doc_ntokens(d), ref->count);
            for (size_t i = 0; i < ref->count; i++) {
                struct text_token t;
                size_t fl = strlen(ref->w[i].folded);

                text_doc_token(d, i, &t);
                assert_int_equal(t.off, ref->w[i].off);
                assert_int_equal(t.len, ref->w[i].wlen);
                assert_int_equal(t.pos, i);
                assert_string_equal(t.stem, ref->w[i].stem);
                assert_string_equal(t.folded, ref->w[i].folded);
                /* the document's copy of the fold's first bytes */
                for (size_t k = 1; k <= fl && k <= 12; k++)
                    assert_int_equal(text_doc_fold_has_prefix(d, t.fold, t.folded, k), 1);
                assert_int_equal(text_doc_fold_has_prefix(d, t.fold, "\x01", 1), 0);
            }
        }
        free(exact);
    }
    /* the generator does make words of every kind */
    assert_int_equal(text_doc_add_field(d, TEXT_FIELD_TITLE, "Caf\xc3\xa9 \xff UKRAINE's"), 0);
    text_doc_free(&d);
    text_norm_free(&dn);
    text_norm_free(&rn);
    free(ref);
}

/* text_hash: keys of up to 16 bytes take the two-word path; the value must
 * depend on every byte and on the length (zero bytes included). */
static void test_hash(void **state)
{
    char a[40], b[40];

    (void)state;
    for (size_t len = 0; len <= 40; len++) {
        memset(a, 'k', sizeof(a));
        for (size_t i = 0; i < len; i++) {
            memcpy(b, a, sizeof(b));
            b[i] ^= 1;
            assert_true(text_hash(a, len) != text_hash(b, len));
        }
        if (len > 0) {
            memset(b, 0, sizeof(b));
            memset(a, 0, sizeof(a));
            assert_true(text_hash(a, len) != text_hash(b, len - 1));
        }
    }
    assert_true(text_hash("ukraine", 7) == text_hash("ukraine!", 7));
}


/* ---- a vocabulary that outgrows every cache --------------------------------- */

/* Vocabulary word i: base-26 letters of i (1 byte and up), some long (up
 * to 200 bytes, past the normaliser's key limits), some capitalised, some
 * with an accented letter or digits. */
static size_t vocab_word(uint32_t i, char *out)
{
    size_t n = 0;
    uint32_t k = i;

    do {
        out[n++] = (char)('a' + k % 26);
        k /= 26;
    } while (k != 0);
    if (i % 7 == 3) {
        size_t to = 17 + i % 184;

        for (; n < to; n++)
            out[n] = (char)('a' + (i + n) % 26);
    }
    if (i % 13 == 5) {
        memmove(out + 3, out + 1, n - 1);
        out[1] = '\xc3';
        out[2] = '\xa9';
        n += 2;
    }
    if (i % 17 == 2)
        out[n++] = (char)('0' + i % 10);
    if (i % 11 == 1 && out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
    return n;
}

struct split_check {
    struct text_doc *d;
    struct text_norm *rn;
    const char *text;
    size_t i;
};

/* text_norm_split's words, in order, must be the document's tokens, with
 * the stems and folds a second normaliser gives word by word. */
static int split_check_word(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                            size_t column)
{
    struct split_check *c = arg;
    struct text_token t;
    const char *st, *fo;
    size_t sl, fl;

    (void)column;
    assert_true(c->i < text_doc_ntokens(c->d));
    text_doc_token(c->d, c->i++, &t);
    assert_int_equal(t.off, off);
    assert_int_equal(t.len, wlen);
    assert_int_equal(t.stem_len, slen);
    assert_memory_equal(t.stem, stem, slen);
    assert_int_equal(text_norm_word2(c->rn, c->text + off, wlen, &st, &sl, &fo, &fl), 0);
    assert_int_equal(t.folded_len, fl);
    assert_memory_equal(t.folded, fo, fl);
    assert_int_equal(t.stem_len, sl);
    assert_memory_equal(t.stem, st, sl);
    return 0;
}

/* A map from a stem to the first token that has it (the test's own, plain
 * answer to text_doc_find). */
#define SMAP_CAP 16384
struct smap {
    const char *key[SMAP_CAP];
    size_t len[SMAP_CAP];
    long tok[SMAP_CAP];
    size_t count[SMAP_CAP]; /* tokens with that stem */
};

static long smap_get(const struct smap *m, const char *k, size_t len, int add, long tok)
{
    size_t i = (size_t)text_hash(k, len) & (SMAP_CAP - 1);

    for (; m->key[i] != NULL; i = (i + 1) & (SMAP_CAP - 1))
        if (m->len[i] == len && memcmp(m->key[i], k, len) == 0) {
            if (add)
                ((struct smap *)m)->count[i]++;
            return m->tok[i];
        }
    if (add) {
        ((struct smap *)m)->key[i] = k;
        ((struct smap *)m)->len[i] = len;
        ((struct smap *)m)->tok[i] = tok;
        ((struct smap *)m)->count[i] = 1;
        return tok;
    }
    return -1;
}

/* The number of tokens with stem k. */
static long smap_count(const struct smap *m, const char *k, size_t len)
{
    size_t i = (size_t)text_hash(k, len) & (SMAP_CAP - 1);

    for (; m->key[i] != NULL; i = (i + 1) & (SMAP_CAP - 1))
        if (m->len[i] == len && memcmp(m->key[i], k, len) == 0)
            return (long)m->count[i];
    return 0;
}

/* Documents whose words outgrow the normaliser's small cache, its word
 * tables (so that it forgets everything between two documents) and the
 * document's own maps: the two-pass interning (small cache first, then the
 * word table for the words it misses) must give every word the folds and
 * stems of the one-word path, and text_doc_find (which tells terms apart
 * by the document's copy of their first bytes) the first token of each
 * stem, and nothing for near misses (a byte more, less or changed). */
static void test_doc_vocab_outgrows_caches(void **state)
{
    static const char *const seps[] = {" ", " ", " ", ", ", "\n", "\xff", "\xe2\x80\x99",
                                       "\xc3", "-", "\0"};
    struct text_norm *dn = text_norm_new(), *rn = text_norm_new();
    struct text_doc *d = text_doc_new(dn);
    struct smap *m = malloc(sizeof(*m));
    size_t cap = 1u << 20;
    char *text = malloc(cap);
    unsigned gen0;
    uint32_t next = 0;
    int forgot = 0, ndocs = 0;

    (void)state;
    assert_non_null(d);
    assert_non_null(m);
    assert_non_null(text);
    gen0 = text_norm_generation(dn);
    while (forgot < 1 && ndocs < 600) {
        size_t len = 0, ntok;
        struct split_check c;

        for (int w = 0; w < 4000; w++) {
            uint32_t i;
            const char *sep = seps[rnd32(sizeof(seps) / sizeof(seps[0]))];
            size_t sl = sep[0] != '\0' ? strlen(sep) : 1;

            /* new words, recent ones, and a few very common ones */
            if (next == 0 || rnd32(4) != 0)
                i = next++;
            else if (rnd32(4) == 0)
                i = rnd32(next < 100 ? next : 100);
            else
                i = next - 1 - rnd32(next < 30000 ? next : 30000);
            len += vocab_word(i, text + len);
            memcpy(text + len, sep, sl);
            len += sl;
            assert_true(len + 512 < cap);
        }
        text_doc_reset(d);
        if (text_norm_generation(dn) != gen0) {
            gen0 = text_norm_generation(dn);
            forgot++;
        }
        assert_int_equal(text_doc_add_field_len(d, TEXT_FIELD_CONTENT, text, len), 0);
        c.d = d;
        c.rn = rn;
        c.text = text;
        c.i = 0;
        assert_int_equal(text_norm_split(rn, text, len, split_check_word, &c), 0);
        ntok = text_doc_ntokens(d);
        assert_int_equal(c.i, ntok);
        assert_true(ntok >= 4000);
        /* look every stem up, and near misses of it */
        memset(m->key, 0, sizeof(m->key));
        for (size_t i = 0; i < ntok; i++) {
            struct text_token t;

            text_doc_token(d, i, &t);
            (void)smap_get(m, t.stem, t.stem_len, 1, (long)i);
        }
        for (size_t i = 0; i < ntok; i += 1 + (ndocs % 3)) {
            struct text_token t;
            char v[512];
            size_t vl;

            text_doc_token(d, i, &t);
            assert_int_equal(text_doc_find(d, t.stem, t.stem_len),
                             smap_get(m, t.stem, t.stem_len, 0, 0));
            {
                /* the stem's chain holds all its tokens, in order */
                long n = 0, prev = -1;

                for (long j = text_doc_find(d, t.stem, t.stem_len); j >= 0;
                     j = text_doc_next(d, j)) {
                    struct text_token u;

                    assert_true(j > prev);
                    prev = j;
                    text_doc_token(d, (size_t)j, &u);
                    assert_int_equal(u.stem_len, t.stem_len);
                    assert_memory_equal(u.stem, t.stem, t.stem_len);
                    n++;
                }
                assert_int_equal(n, smap_count(m, t.stem, t.stem_len));
            }
            assert_true(t.stem_len + 1 < sizeof(v));
            memcpy(v, t.stem, t.stem_len);
            v[t.stem_len] = 'q';
            vl = t.stem_len + 1;
            assert_int_equal(text_doc_find(d, v, vl), smap_get(m, v, vl, 0, 0));
            assert_int_equal(text_doc_find(d, v, vl - 2), smap_get(m, v, vl - 2, 0, 0));
            v[vl - 2] ^= 0x01;
            assert_int_equal(text_doc_find(d, v, vl - 1), smap_get(m, v, vl - 1, 0, 0));
            v[0] ^= 0x02;
            assert_int_equal(text_doc_find(d, v, vl - 1), smap_get(m, v, vl - 1, 0, 0));
        }
        ndocs++;
    }
    /* the normaliser did outgrow its tables and forget (else the clearing
     * paths were not run) */
    assert_true(forgot >= 1);
    text_doc_free(&d);
    text_norm_free(&dn);
    text_norm_free(&rn);
    free(m);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_words),
        cmocka_unit_test(test_split_marks_and_scripts),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_stem),
        cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_doc_tokens),
        cmocka_unit_test(test_doc_item_own_norm),
        cmocka_unit_test(test_doc_large),
        cmocka_unit_test(test_doc_fold_prefix),
        cmocka_unit_test(test_doc_tokens_match_split),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_doc_vocab_outgrows_caches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

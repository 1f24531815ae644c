/*
 * test_snippet.c - the snippet of an explanation (rule_explain's `snippet`,
 * the alert's matched.snippet) against a byte-at-a-time reference of its
 * folding (whitespace runs made one space, control bytes dropped), on
 * hostile text: every control byte, DEL, whitespace runs, invalid and
 * multi-byte UTF-8, NULs given as "\u0000" text, and huge texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "item.h"
#include "rule.h"
#include "text.h"

static const char *const pieces[] = {
    "a",    "Zq",   "word",   " ",        "  ",       "\t",           "\n",       "\r\n",
    "\v\f", "\x01", "\x1b[m", "\x1f",     "\x7f",     "\"",           "\\u0000",  "\xc3\xa9",
    "\xc3", "\x80", "\xff",   "\xe2\x80", "\xc2\x85", "\xe6\x9d\xb1", "\xe2\x80\xa8", ",.",
};

static unsigned long snip_rand(unsigned long *st)
{
    *st = *st * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned long)(*st >> 33);
}

/* Append s to buf (length *len, capacity cap, NUL-terminated). */
static void add_str(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);

    assert_true(*len + n < cap);
    memcpy(buf + *len, s, n + 1);
    *len += n;
}

/* Append up to `max` random pieces to buf. */
static void add_pieces(char *buf, size_t *len, size_t cap, unsigned long *st, size_t max)
{
    size_t n = snip_rand(st) % (max + 1);

    for (size_t i = 0; i < n; i++)
        add_str(buf, len, cap, pieces[snip_rand(st) % (sizeof(pieces) / sizeof(pieces[0]))]);
}

/* The reference: s[from..to) a byte at a time, as the snippet must fold it. */
static void ref_fold(char *out, size_t *o, const char *s, size_t from, size_t to, int *space)
{
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            *space = 1;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            continue;
        if (*space && *o > 0)
            out[(*o)++] = ' ';
        *space = 0;
        out[(*o)++] = (char)c;
    }
}

/* Explain "zebra" on an item with this title; returns the explanation (NULL
 * when the title does not match) and the document (the caller frees
 * both). */
static struct rule_explanation *explain(const char *title, struct text_doc **pd)
{
    struct item it = {0};
    struct rule_expr *e = NULL;
    struct rule_explanation *x = NULL;
    na_error err;

    it.id = "x";
    it.title = (char *)title;
    it.published = ITEM_TIME_UNKNOWN;
    *pd = text_doc_new(NULL);
    assert_non_null(*pd);
    assert_int_equal(text_doc_add_item(*pd, &it), 0);
    na_error_clear(&err);
    assert_int_equal(rule_compile("zebra", &e, &err), 0);
    assert_true(rule_explain(e, *pd, NULL, &x) >= 0);
    rule_expr_free(&e);
    return x;
}

/* Short hostile titles, which the snippet's window holds whole: the
 * snippet is the reference's folding of the text before the hit, the hit
 * in [ ], and the text after it. */
static void test_snippet_hostile(void **state)
{
    unsigned long st = 4242;
    int checked = 0;

    (void)state;
    for (int round = 0; round < 4000; round++) {
        char title[256] = "", want[512];
        struct text_doc *d;
        struct rule_explanation *x;
        struct text_token tok;
        const char *text;
        size_t tl = 0, tlen, o = 0, nhits = 0, nlike = 0, hit = 0;
        int field, space = 0;

        add_pieces(title, &tl, sizeof(title), &st, 10); /* 10 pieces of 6 bytes: < 80 chars */
        add_str(title, &tl, sizeof(title), round % 3 == 0 ? "zebra" : " zebra ");
        add_pieces(title, &tl, sizeof(title), &st, 12);
        x = explain(title, &d);
        for (size_t i = 0; i < text_doc_ntokens(d); i++) {
            text_doc_token(d, i, &tok);
            if (strstr(tok.folded, "zebr") != NULL)
                nlike++;
            if (strcmp(tok.folded, "zebra") == 0) {
                nhits++;
                hit = i;
            }
        }
        /* checked when "zebra" is the only token like it (another, e.g.
         * "zebrae", may share its stem) */
        if (nhits == 1 && nlike == 1)
            assert_non_null(x);
        if (nhits == 1 && nlike == 1) {
            text_doc_token(d, hit, &tok);
            text_doc_source(d, tok.src, &field, &text, &tlen);
            ref_fold(want, &o, text, 0, tok.off, &space);
            if (space && o > 0)
                want[o++] = ' ';
            space = 0;
            want[o++] = '[';
            ref_fold(want, &o, text, tok.off, tok.off + tok.len, &space);
            space = 0;
            want[o++] = ']';
            ref_fold(want, &o, text, tok.off + tok.len, tlen, &space);
            want[o] = '\0';
            assert_string_equal(x->snippet, want);
            checked++;
        }
        rule_explanation_free(&x);
        text_doc_free(&d);
    }
    assert_true(checked > 3000);
}

/* Huge texts of every byte value around a hit: the snippet is cut (marked
 * with "…"), holds the hit, and has no control byte and no double space. */
static void test_snippet_huge(void **state)
{
    size_t sizes[] = {100, 1000, 100000};

    (void)state;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        char *title = malloc(2 * n + 16);
        struct text_doc *d;
        struct rule_explanation *x;

        assert_non_null(title);
        for (size_t i = 0; i < n; i++)
            title[i] = (char)(1 + i % 255);
        memcpy(title + n, " zebra ", 7);
        for (size_t i = 0; i < n; i++)
            title[n + 7 + i] = (char)(1 + (i * 7) % 255);
        title[2 * n + 7] = '\0';
        x = explain(title, &d);
        assert_non_null(x);
        assert_non_null(strstr(x->snippet, "[zebra]"));
        assert_null(strstr(x->snippet, "  "));
        for (const char *p = x->snippet; *p != '\0'; p++)
            assert_false((unsigned char)*p < 0x20 || *p == 0x7f);
        if (n >= 1000)
            assert_memory_equal(x->snippet, "\xe2\x80\xa6", 3);
        rule_explanation_free(&x);
        text_doc_free(&d);
        free(title);
    }
}

/* ASCII texts of words and whitespace runs, "zebra" anywhere, long enough
 * to be cut at either end or both: the snippet is the reference's window
 * (80 characters back from the hit, forward to the next whitespace when
 * that is before the hit; 240 characters on from there, back to just after
 * the last whitespace when that is after the hit), folded, "…" where cut. */
static void test_snippet_cut(void **state)
{
    static const char *const gaps[] = {" ", "  ", "\t", "\n", " \r\n ", "\x01 ", " \x7f"};
    unsigned long st = 777;
    int cut_front = 0, cut_back = 0;

    (void)state;
    for (int round = 0; round < 3000; round++) {
        char text[2048], want[2048];
        size_t len = 0, o = 0, off = 0, from, to, w;
        size_t before = snip_rand(&st) % 500, after = snip_rand(&st) % 500;
        int space = 0, placed = 0;
        struct text_doc *d;
        struct rule_explanation *x;

        /* words of 'a'..'y' (no other token like "zebra"), maybe a control
         * byte inside, until `before` bytes, then the hit, then `after` */
        while (len < before + after + 5) {
            if (!placed && len >= before) {
                placed = 1;
                off = len;
                memcpy(text + len, "zebra", 5);
                len += 5;
            } else {
                size_t wl = 1 + snip_rand(&st) % 12;

                for (size_t i = 0; i < wl; i++)
                    text[len++] = snip_rand(&st) % 40 == 0 ? '\x02' : (char)('a' + snip_rand(&st) % 25);
            }
            if (len < before + after + 5) {
                const char *g = gaps[snip_rand(&st) % (sizeof(gaps) / sizeof(gaps[0]))];

                memcpy(text + len, g, strlen(g));
                len += strlen(g);
            }
        }
        text[len] = '\0';
        if (!placed)
            continue; /* the text ended before the hit's place */
        /* the reference window (ASCII: a character is a byte) */
        from = off > RULE_SNIPPET_CHARS / 3 ? off - RULE_SNIPPET_CHARS / 3 : 0;
        if (from > 0) {
            for (w = from; w < off && strchr(" \t\n\r\f\v", text[w]) == NULL; w++)
                ;
            if (w < off)
                from = w;
        }
        to = from + RULE_SNIPPET_CHARS < len ? from + RULE_SNIPPET_CHARS : len;
        if (to < len) {
            for (w = to; w > off + 5 && strchr(" \t\n\r\f\v", text[w - 1]) == NULL; w--)
                ;
            if (w > off + 5)
                to = w;
        }
        if (from > 0) {
            memcpy(want, "\xe2\x80\xa6", 3);
            o = 3;
            cut_front++;
        }
        ref_fold(want, &o, text, from, off, &space);
        if (space && o > 0)
            want[o++] = ' ';
        space = 0;
        memcpy(want + o, "[zebra]", 7);
        o += 7;
        ref_fold(want, &o, text, off + 5, to, &space);
        if (to < len) {
            memcpy(want + o, "\xe2\x80\xa6", 3);
            o += 3;
            cut_back++;
        }
        want[o] = '\0';
        x = explain(text, &d);
        assert_non_null(x);
        assert_string_equal(x->snippet, want);
        rule_explanation_free(&x);
        text_doc_free(&d);
    }
    assert_true(cut_front > 1000 && cut_back > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snippet_hostile),
        cmocka_unit_test(test_snippet_huge),
        cmocka_unit_test(test_snippet_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

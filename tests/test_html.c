/*
 * test_html.c - HTML to plain text and the markup sanitiser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytescan.h"
#include "html.h"

static void check_text(const char *html, const char *want)
{
    char *got = html_to_text(html, strlen(html));

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void check_sanitize(const char *html, const char *base, const char *want)
{
    char *got = html_sanitize_base(html, strlen(html), base);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_to_text(void **state)
{
    (void)state;
    check_text("plain   text\n here ", "plain text here");
    check_text("", "");
    check_text("<p>One &amp; two</p><p>three</p>", "One & two three");
    check_text("a<br>b<br/>c", "a b c");
    check_text("<b>bold</b><i>italic</i>", "bolditalic");
    check_text("x<script>alert('no')</script>y<style>p{}</style>z", "xyz");
    check_text("caf&eacute; &#8217; &#x41; &nbsp;end", "caf\xc3\xa9 \xe2\x80\x99 A end");
    check_text("<ul><li>one</li><li>two</li></ul>", "one two");
    check_text("unclosed <b>tag and <a href='x'>link", "unclosed tag and link");
    check_text("1 < 2 & 3 > 2", "1 < 2 & 3 > 2");
    /* what a browser shows, no more */
    check_text("<img alt=\"a > b\" src='x'>after", "after");
    check_text("<p class=\"x\">in</p\n>out", "in out");
    check_text("a<!-- <p>hidden</p> -->b<!-- never closed", "ab");
    check_text("a<!DOCTYPE html>b<?php echo 1 ?>c<![CDATA[x]]>d", "abcd");
    check_text("<SCRIPT type=x>if (a < b) {}</SCRIPT >shown<style>", "shown");
    check_text("<title>t</title><noscript>n</noscript><iframe src=x>i</iframe>body",
               "body");
    check_text("<iframe src=x>no end tag, text kept", "no end tag, text kept");
    check_text("<textarea>raw <b>text</b></textarea>after", "after");
    check_text("a</ b>c</>d", "a</ b>c</>d");
    /* references: HTML 4 names, Windows-1252 in C1, bad numbers, unknowns */
    check_text("&mdash;&hellip;&copy;&Omega;", "\xe2\x80\x94\xe2\x80\xa6\xc2\xa9\xce\xa9");
    check_text("don&#146;t &#x93;q&#x94;", "don\xe2\x80\x99t \xe2\x80\x9cq\xe2\x80\x9d");
    check_text("&#0;&#xD800;&#x110000;&#99999999999;",
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd&#99999999999;");
    check_text("&bogus; &amp &#; &#x; &", "&bogus; &amp &#; &#x; &");
    check_text("AT&T <b>&lt;b&gt;</b>", "AT&T <b>");
}

/* Hostile markup costs time in proportion to its size. */
static void test_to_text_linear(void **state)
{
    const size_t n = 200000;
    char *buf = malloc(n * 8 + 1), *got;
    size_t len = 0;

    (void)state;
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) { /* unclosed hidden elements, each a search */
        memcpy(buf + len, "<iframe>", 8);
        len += 8;
    }
    buf[len] = '\0';
    got = html_to_text(buf, len);
    assert_non_null(got);
    assert_string_equal(got, "");
    free(got);
    /* a million bare ampersands and unknown entities, no '<' after them:
     * each text run ends at the next '&' without a search to the end */
    free(buf);
    buf = malloc(n * 30 + 1);
    assert_non_null(buf);
    len = 0;
    for (size_t i = 0; i < n * 5; i++) {
        memcpy(buf + len, i % 2 ? "&x; " : "a & ", 4);
        len += 4;
    }
    buf[len] = '\0';
    got = html_to_text(buf, len);
    assert_non_null(got);
    assert_int_equal(strncmp(got, "a & &x; a & &x;", 15), 0);
    free(got);
    for (size_t i = 0; i < n * 8; i++) /* one tag that never ends */
        buf[i] = i == 0 ? '<' : i % 2 ? 'a' : '"';
    got = html_to_text(buf, n * 8);
    assert_non_null(got);
    free(got);
    free(buf);
}

/* bytescan2 finds what two memchr calls find, at every distance and
 * window boundary, with the other byte absent, before or after. */
static void test_bytescan2(void **state)
{
    static char buf[5000];
    uint64_t x = 88172645463325252u;

    (void)state;
    assert_null(bytescan2(buf, 0, 'a', 'b'));
    for (int round = 0; round < 20000; round++) {
        size_t len, i;
        const char *want, *pa, *pb;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        len = (size_t)(x % sizeof(buf));
        memset(buf, '.', len);
        /* at most one of each, anywhere (or absent), sometimes the same place */
        if (len > 0 && (x >> 20) % 3 != 0)
            buf[(x >> 24) % len] = 'a';
        if (len > 0 && (x >> 40) % 3 != 0)
            buf[(x >> 44) % len] = 'b';
        pa = memchr(buf, 'a', len);
        pb = memchr(buf, 'b', len);
        want = pa == NULL ? pb : pb == NULL || pa < pb ? pa : pb;
        assert_ptr_equal(bytescan2(buf, len, 'a', 'b'), want);
        assert_ptr_equal(bytescan2(buf, len, 'b', 'a'), want);
        for (i = 0; i < len; i++) /* and the other byte everywhere after */
            if (want != NULL && buf + i > want)
                buf[i] = 'b';
        assert_ptr_equal(bytescan2(buf, len, 'a', 'b'), want);
    }
}

static void test_sanitize(void **state)
{
    (void)state;
    check_sanitize("<p>Hello <b>world</b></p>", NULL, "<p>Hello <b>world</b></p>");
    check_sanitize("a<script>alert(1)</script>b", NULL, "ab");
    check_sanitize("a<SCRIPT type=x>alert(1)</SCRIPT >b", NULL, "ab");
    check_sanitize("a<style>p{}</style><iframe src=x>in</iframe>b", NULL, "ab");
    check_sanitize("<object data=x><embed src=y></object>z", NULL, "z");
    check_sanitize("<img src=\"x.png\" onerror=\"alert(1)\" alt='a'>", NULL,
                   "<img src=\"x.png\" alt=\"a\">");
    check_sanitize("<a href=\"javascript:alert(1)\">x</a>", NULL, "<a>x</a>");
    check_sanitize("<a href=\" JaVaScRiPt:alert(1)\">x</a>", NULL, "<a>x</a>");
    check_sanitize("<a href=\"&#106;avascript:alert(1)\">x</a>", NULL, "<a>x</a>");
    check_sanitize("<a href=\"data:text/html,x\">x</a>", NULL, "<a>x</a>");
    check_sanitize("<p style=\"x\" class=c>t</p>", NULL, "<p class=\"c\">t</p>");
    check_sanitize("a<!-- hidden -->b", NULL, "ab");
    check_sanitize("Q&A &amp; &#x26; &#X26; &eacute;", NULL, "Q&amp;A &amp; &#x26; &#x26; &eacute;");
    check_sanitize("don&#146;t", NULL, "don&#x2019;t");
    check_sanitize("1 < 2", NULL, "1 &lt; 2");
    check_sanitize("<br/><hr />", NULL, "<br /><hr />");
    check_sanitize("<a href=\"rel/x.html\">x</a><img src=\"/i.png\">",
                   "http://example.com/dir/feed.xml",
                   "<a href=\"http://example.com/dir/rel/x.html\">x</a>"
                   "<img src=\"http://example.com/i.png\">");
    check_sanitize("<img alt=\"a<b\">", NULL, "<img alt=\"a&lt;b\">");
    check_sanitize("<script>never closed", NULL, "");
}

/* html_fold_space() as first written, one byte at a time: the reference
 * the run-at-a-time version must match. */
static char *fold_space_bytewise(char *s)
{
    char *r = s, *w = s;
    int space = 0;

    for (; *r != '\0'; r++) {
        unsigned char c = (unsigned char)*r;

        if (c == ' ' || (c >= '\t' && c <= '\r') ||
            (c == 0xC2 && (unsigned char)r[1] == 0xA0)) {
            space = 1;
            r += c == 0xC2;
            continue;
        }
        if (space && w != s)
            *w++ = ' ';
        space = 0;
        *w++ = (char)c;
    }
    *w = '\0';
    return s;
}

static void check_fold(const char *in, size_t len)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);

    assert_non_null(a);
    assert_non_null(b);
    memcpy(a, in, len);
    a[len] = '\0';
    memcpy(b, a, len + 1);
    assert_string_equal(html_fold_space(a), fold_space_bytewise(b));
    free(a);
    free(b);
}

static void test_fold_space(void **state)
{
    char s[] = "  a \t\n b\xc2\xa0\xc2\xa0" "c  ";
    static const char *const cases[] = {
        "", " ", "\xc2", "\xc2\xa0", "a\xc2", "\xc2" "a", "\xc2\xc2\xa0" "b", "a\xa0",
        "a  b", " a", "a ", "\t\v\f\r\n", "\xc2\xa0x\xc2\xa0", "x\xc2\xa0\xc2y",
        "\xff\xfe \x80\xc2\xa1 \x01\x1f\x7f", "word word  word\nword"};
    static const unsigned char alphabet[] = {' ', '\t', '\n', '\r', '\v', '\f', 0xC2,
                                             0xA0, 'a', 'b', 0x80, 0xFF, 0x01, '.'};
    unsigned seed = 12345;
    char buf[300];

    (void)state;
    assert_string_equal(html_fold_space(s), "a b c");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_fold(cases[i], strlen(cases[i]));
    /* every byte value alone and between words */
    for (int c = 1; c < 256; c++) {
        char one[8] = {'x', (char)c, 'y', ' ', (char)c, (char)c, '\0'};

        check_fold(one + 1, 1);
        check_fold(one, strlen(one));
        one[2] = (char)0xA0;
        check_fold(one, strlen(one));
    }
    /* random mixes of whitespace, no-break spaces, stray 0xC2 / 0xA0,
     * invalid UTF-8 and text */
    for (int n = 0; n < 20000; n++) {
        size_t len = (size_t)(n % 290);

        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (char)alphabet[(seed >> 16) % sizeof(alphabet)];
        }
        check_fold(buf, len);
    }
    /* a huge input: runs longer than any buffer the function could use */
    {
        size_t len = 3u << 20;
        char *big = malloc(len);

        assert_non_null(big);
        for (size_t k = 0; k < len; k++)
            big[k] = (k % 7919) < 3 ? ' ' : (k % 104729) == 5 ? '\xc2' : (char)('a' + k % 26);
        check_fold(big, len);
        free(big);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_text),
        cmocka_unit_test(test_to_text_linear),
        cmocka_unit_test(test_bytescan2),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_fold_space),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

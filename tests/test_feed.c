/*
 * test_feed.c - the feed parser: formats (RSS, Atom, JSON Feed) on the
 * seed-story fixtures, encodings, dates, hostile documents (billion laughs,
 * XXE, HTML, garbage, wrong JSON types, truncation, 100,000 items, deep
 * nesting, huge attributes, NUL bytes, cut UTF-16, bad dates, the inputs
 * the fuzzer found), the pre-scans reading markup as libxml2 does (tags in
 * comments, CDATA sections and processing instructions do not count;
 * sections never closed; bombs that try to hide), the contract JSON and the
 * plain-text items for the matcher.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "feed.h"
#include "item.h"

#define FEEDS NA_TEST_DATA "/feeds/"
#define SEED_LINK "https://news.example.org/2025/02/12/hegseth-ukraine-concessions"
#define SEED_TITLE "US Defense Secretary Urges Ukraine to Consider Territorial Concessions"
#define SEED_TIME INT64_C(1739374200) /* 2025-02-12T15:30:00Z */

static struct feed_doc *parse_file_ok(const char *name)
{
    struct feed_doc *doc = NULL;
    na_error err;
    char path[512];

    snprintf(path, sizeof(path), FEEDS "%s", name);
    if (feed_parse_file(path, &doc, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    assert_non_null(doc);
    return doc;
}

static struct feed_doc *parse_ok(const char *text, const char *content_type)
{
    struct feed_doc *doc = NULL;
    na_error err;

    if (feed_parse(text, strlen(text), NULL, content_type, &doc, &err) != 0)
        fail_msg("feed_parse: %s", err.msg);
    assert_non_null(doc);
    return doc;
}

static void parse_fails(const char *buf, size_t len, const char *want_prefix)
{
    struct feed_doc *doc = (struct feed_doc *)1;
    na_error err;

    assert_int_equal(feed_parse(buf, len, NULL, NULL, &doc, &err), -1);
    assert_null(doc);
    if (strncmp(err.msg, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err.msg, want_prefix);
}

/* The seed story, whatever the format. */
static void check_seed(struct feed_doc *doc, const char *version)
{
    const struct feed_entry *e;

    assert_string_equal(doc->version, version);
    assert_int_equal(doc->bozo, 0);
    assert_string_equal(doc->title, "Example News & Analysis");
    assert_int_equal(doc->nentries, 4);
    e = &doc->entries[0];
    assert_string_equal(e->title, SEED_TITLE);
    assert_string_equal(e->link, SEED_LINK);
    assert_int_equal(e->published, SEED_TIME);
    assert_non_null(e->content != NULL ? e->content : e->summary);
    assert_non_null(strstr(e->content != NULL ? e->content : e->summary, "<p>"));
    assert_int_equal(e->ncategories, 2);
    assert_string_equal(e->categories[1], "Ukraine");
    /* decoys have links of their own */
    for (size_t i = 1; i < doc->nentries; i++) {
        assert_non_null(doc->entries[i].link);
        assert_string_not_equal(doc->entries[i].link, SEED_LINK);
    }
}

static void test_seed_rss(void **state)
{
    struct feed_doc *doc = parse_file_ok("seed-story.rss");

    (void)state;
    check_seed(doc, "rss20");
    assert_string_equal(doc->title, "Example News & Analysis");
    assert_string_equal(doc->language, "en");
    assert_string_equal(doc->entries[0].id, SEED_LINK);
    assert_string_equal(doc->encoding, "utf-8");
    feed_doc_free(&doc);
    assert_null(doc);
    feed_doc_free(&doc); /* NULL-safe */
}

static void test_seed_atom(void **state)
{
    struct feed_doc *doc = parse_file_ok("seed-story.atom");

    (void)state;
    check_seed(doc, "atom10");
    assert_string_equal(doc->title, "Example News & Analysis");
    assert_string_equal(doc->link, "https://news.example.org/");
    assert_string_equal(doc->entries[0].author, "Example Newsroom (news@example.org)");
    assert_int_equal(doc->entries[0].updated, SEED_TIME + 1800);
    assert_string_equal(doc->entries[0].summary, doc->entries[0].content);
    assert_string_equal(doc->entries[1].id, "tag:news.example.org,2025:nato-summit-atom");
    feed_doc_free(&doc);
}

static void test_seed_json(void **state)
{
    struct feed_doc *doc = parse_file_ok("seed-story.json");

    (void)state;
    check_seed(doc, "json11");
    assert_string_equal(doc->title, "Example News & Analysis");
    assert_string_equal(doc->entries[0].author, "Example Newsroom");
    assert_string_equal(doc->entries[1].id, "nato-summit-json");
    feed_doc_free(&doc);
}

static void test_items_plain_text(void **state)
{
    const char *files[] = {"seed-story.rss", "seed-story.atom", "seed-story.json"};

    (void)state;
    for (size_t f = 0; f < 3; f++) {
        struct feed_doc *doc = parse_file_ok(files[f]);
        struct item **items = NULL;
        size_t n = 0;

        assert_int_equal(feed_doc_to_items(doc, "https://news.example.org/feed", &items, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(items[0]->id, SEED_LINK);
        assert_string_equal(items[0]->link, SEED_LINK);
        assert_string_equal(items[0]->title, SEED_TITLE);
        assert_string_equal(items[0]->feed, "https://news.example.org/feed");
        assert_string_equal(items[0]->feed_title, "Example News & Analysis");
        assert_int_equal(items[0]->published, SEED_TIME);
        assert_non_null(items[0]->summary);
        assert_null(strchr(items[0]->summary, '<'));
        assert_null(strstr(items[0]->summary, "&amp;"));
        assert_non_null(strstr(items[0]->summary, "Pete Hegseth remarked"));
        assert_null(strstr(items[0]->summary, "  "));
        assert_int_equal(items[0]->ncategories, 2);
        /* a decoy's entity-encoded ampersand becomes a plain '&' */
        assert_non_null(strstr(items[1]->summary, "supporters & families"));
        for (size_t i = 0; i < n; i++)
            item_free(&items[i]);
        free(items);
        feed_doc_free(&doc);
    }
}

/* HTML in titles, summaries and content becomes clean text for matching:
 * entities decoded, scripts and styles dropped, whitespace folded; an Atom
 * entry's content (copied into its missing summary) is text in both. */
static void test_items_clean_text(void **state)
{
    struct feed_doc *doc = parse_ok(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">A &amp;amp; B</title>"
        "<entry><id>e1</id><title type=\"html\">Rock &amp;amp; &lt;b&gt;roll&lt;/b&gt;</title>"
        "<content type=\"html\">&lt;p&gt;One\n\t &amp;eacute;l&amp;egrave;ve&lt;/p&gt;"
        "&lt;script&gt;var x = '&lt;p&gt;no';&lt;/script&gt;&lt;style&gt;p{}&lt;/style&gt;"
        "&lt;p&gt;two&amp;nbsp;&amp;mdash; three&lt;br/&gt;four&lt;/p&gt;</content></entry>"
        "<entry><id>e2</id><title type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
        "<b>X</b>&amp;<i>Y</i></div></title><summary>plain: 1 &lt; 2 &amp;&amp; 3 &gt; 2</summary>"
        "<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>para</p>"
        "<p>graph</p></div></content></entry></feed>",
        NULL);
    struct item **items = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(feed_doc_to_items(doc, NULL, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0]->feed_title, "A & B");
    assert_string_equal(items[0]->title, "Rock & roll");
    assert_string_equal(items[0]->summary,
                        "One \xc3\xa9l\xc3\xa8ve two \xe2\x80\x94 three four");
    assert_string_equal(items[0]->content, items[0]->summary);
    assert_string_equal(items[1]->title, "X&Y");
    assert_string_equal(items[1]->summary, "plain: 1 < 2 && 3 > 2");
    assert_string_equal(items[1]->content, "para graph");
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    feed_doc_free(&doc);
}

/* What real feeds get wrong, read as their authors meant it: an Atom link
 * with its URL as text, TypePad's escaped markup in an XHTML div under
 * type="html", RSS <tags>, UTF-8 written as Latin-1 character references. */
static void test_quirks(void **state)
{
    struct feed_doc *doc = parse_ok(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>"
        "<link rel=\"alternate\" type=\"text/html\">http://example.com/a</link>"
        "<content type=\"html\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
        "Example &lt;b&gt;Atom&lt;/b&gt;</div></content></entry></feed>",
        NULL);

    (void)state;
    assert_int_equal(doc->bozo, 0);
    assert_string_equal(doc->entries[0].link, "http://example.com/a");
    assert_string_equal(doc->entries[0].content, "Example <b>Atom</b>");
    feed_doc_free(&doc);

    doc = parse_ok("<rss version=\"2.0\"><channel><item><tags>one, two</tags>"
                   "<category>three</category><description>&#226;&#128;&#166; "
                   "&acirc;&#128;&brvbar;</description></item></channel></rss>",
                   NULL);
    assert_int_equal(doc->entries[0].ncategories, 3);
    assert_string_equal(doc->entries[0].categories[0], "one");
    assert_string_equal(doc->entries[0].categories[1], "two");
    assert_string_equal(doc->entries[0].categories[2], "three");
    assert_string_equal(doc->entries[0].summary, "\xe2\x80\xa6 \xe2\x80\xa6");
    assert_int_equal(doc->bozo, 1); /* &acirc; is HTML's, not XML's */
    feed_doc_free(&doc);
}

static void test_items_hash_id(void **state)
{
    const char *a = "<rss version=\"2.0\"><channel><title>T</title>"
                    "<item><title>No id &amp; no link</title><pubDate>Wed, 12 Feb 2025 15:30:00 "
                    "GMT</pubDate><description>Body</description></item>"
                    "<item><title>Other</title></item>"
                    "<item><title>Updated only</title><dc:date "
                    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">2025-02-12T15:30:00Z</dc:date></item>"
                    "</channel></rss>";
    struct feed_doc *d1 = parse_ok(a, NULL), *d2 = parse_ok(a, NULL);
    struct item **i1, **i2;
    size_t n1, n2;

    (void)state;
    assert_int_equal(feed_doc_to_items(d1, NULL, &i1, &n1), 0);
    assert_int_equal(feed_doc_to_items(d2, NULL, &i2, &n2), 0);
    assert_int_equal(n1, 3);
    assert_int_equal(strncmp(i1[0]->id, "fnv1a64:", 8), 0);
    assert_int_equal(strlen(i1[0]->id), 8 + 16);
    assert_string_equal(i1[0]->id, i2[0]->id);      /* stable */
    assert_string_not_equal(i1[0]->id, i1[1]->id); /* distinct */
    assert_string_equal(i1[0]->title, "No id & no link");
    assert_null(i1[0]->feed);
    /* published falls back to updated */
    assert_int_equal(i1[2]->published, SEED_TIME);
    assert_int_equal(i1[1]->published, ITEM_TIME_UNKNOWN);
    for (size_t i = 0; i < 3; i++) {
        item_free(&i1[i]);
        item_free(&i2[i]);
    }
    free(i1);
    free(i2);
    feed_doc_free(&d1);
    feed_doc_free(&d2);
    /* the hash is FNV-1a 64 (published test vectors) */
    assert_true(feed_fnv1a64(FEED_FNV1A64_INIT, "", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(feed_fnv1a64(FEED_FNV1A64_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
}

static void test_formats(void **state)
{
    struct feed_doc *doc;

    (void)state;
    doc = parse_ok("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
                   "xmlns=\"http://purl.org/rss/1.0/\"><channel><title>R</title></channel>"
                   "<item rdf:about=\"http://e/1\"><title>one</title><link>http://e/1</link></item>"
                   "</rdf:RDF>", NULL);
    assert_string_equal(doc->version, "rss10");
    assert_int_equal(doc->nentries, 1);
    assert_string_equal(doc->entries[0].id, "http://e/1");
    feed_doc_free(&doc);

    doc = parse_ok("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>A</title>"
                   "<entry><title mode=\"base64\" type=\"text/html\">PGI+aGk8L2I+</title>"
                   "<issued>2025-02-12T15:30:00Z</issued></entry></feed>", NULL);
    assert_string_equal(doc->version, "atom03");
    assert_string_equal(doc->entries[0].title, "<b>hi</b>");
    assert_int_equal(doc->entries[0].published, SEED_TIME);
    feed_doc_free(&doc);

    doc = parse_ok("<rss version=\"0.91\"><channel><title>old</title><item><title>x</title>"
                   "<enclosure url=\"http://e/a.mp3\" type=\"audio/mpeg\" length=\"123\"/>"
                   "</item></channel></rss>", NULL);
    assert_string_equal(doc->version, "rss091u");
    assert_int_equal(doc->entries[0].nenclosures, 1);
    assert_string_equal(doc->entries[0].enclosures[0].length, "123");
    feed_doc_free(&doc);

    doc = parse_ok("{\"version\":\"https://jsonfeed.org/version/1\",\"title\":\"J\",\"items\":[]}",
                   NULL);
    assert_string_equal(doc->version, "json1");
    assert_int_equal(doc->nentries, 0);
    feed_doc_free(&doc);
}

static void test_xml_base_and_sanitising(void **state)
{
    struct feed_doc *doc;
    const struct feed_entry *e;

    (void)state;
    doc = parse_ok("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://e.org/d/\">"
                   "<entry><link href=\"a.html\"/><content type=\"html\">&lt;p onclick=\"x()\"&gt;"
                   "hi&lt;script&gt;steal()&lt;/script&gt; &lt;a href=\"javascript:x()\"&gt;l"
                   "&lt;/a&gt;&lt;img src=\"i.png\"&gt;&lt;/p&gt;</content></entry></feed>",
                   NULL);
    e = &doc->entries[0];
    assert_string_equal(e->link, "http://e.org/d/a.html");
    assert_string_equal(e->content, "<p>hi <a>l</a><img src=\"http://e.org/d/i.png\"></p>");
    feed_doc_free(&doc);
}

static void test_encodings(void **state)
{
    struct feed_doc *doc;
    na_error err;
    /* ISO-8859-1 declared, with a Windows-1252 quote (0x92) and e-acute (0xE9) */
    const char latin[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\">"
                         "<channel><title>caf\xe9 don\x92t</title></channel></rss>";
    /* UTF-16LE with a BOM */
    const char *ascii = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><channel><title>wide"
                        "</title></channel></rss>";
    char wide[256];
    size_t wl = 2;

    (void)state;
    doc = parse_ok(latin, NULL);
    assert_string_equal(doc->encoding, "iso-8859-1");
    assert_string_equal(doc->title, "caf\xc3\xa9 don\xe2\x80\x99t");
    assert_int_equal(doc->bozo, 0);
    feed_doc_free(&doc);

    wide[0] = (char)0xFF;
    wide[1] = (char)0xFE;
    for (const char *p = ascii; *p != '\0'; p++) {
        wide[wl++] = *p;
        wide[wl++] = '\0';
    }
    assert_int_equal(feed_parse(wide, wl, NULL, NULL, &doc, &err), 0);
    assert_string_equal(doc->encoding, "utf-16le");
    assert_string_equal(doc->title, "wide");
    assert_int_equal(doc->bozo, 0);
    feed_doc_free(&doc);

    /* the HTTP charset wins over the declaration */
    doc = parse_ok("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><channel><title>\xe9t\xe9"
                   "</title></channel></rss>",
                   "application/rss+xml; charset=\"windows-1252\"");
    assert_string_equal(doc->encoding, "windows-1252");
    assert_string_equal(doc->title, "\xc3\xa9t\xc3\xa9");
    feed_doc_free(&doc);

    /* UTF-8 BOM */
    doc = parse_ok("\xef\xbb\xbf<rss><channel><title>bom</title></channel></rss>", NULL);
    assert_string_equal(doc->encoding, "utf-8");
    assert_string_equal(doc->title, "bom");
    feed_doc_free(&doc);

    /* invalid UTF-8 is recovered, not fatal */
    doc = parse_ok("<rss><channel><title>bad \xff\xfe bytes</title><item><title>kept</title>"
                   "</item></channel></rss>", NULL);
    assert_int_equal(doc->bozo, 1);
    assert_non_null(doc->bozo_reason);
    assert_non_null(strstr(doc->title, "bytes"));
    assert_int_equal(doc->nentries, 1);
    feed_doc_free(&doc);

    /* an unknown encoding name: read as UTF-8, flagged */
    doc = parse_ok("<?xml version=\"1.0\" encoding=\"bogus\"?><rss><channel><title>t</title>"
                   "</channel></rss>", NULL);
    assert_int_equal(doc->bozo, 1);
    assert_string_equal(doc->title, "t");
    feed_doc_free(&doc);
}

static void test_entities(void **state)
{
    struct feed_doc *doc = parse_ok("<rss><channel><title>caf&eacute; &mdash; &#x41;&#X42;</title>"
                                    "<link>http://e/?a=1&b=2</link></channel></rss>", NULL);

    (void)state;
    assert_string_equal(doc->title, "caf\xc3\xa9 \xe2\x80\x94 AB");
    assert_string_equal(doc->link, "http://e/?a=1&b=2");
    assert_int_equal(doc->bozo, 1); /* HTML entities are not XML */
    feed_doc_free(&doc);
}

static void test_dates(void **state)
{
    struct feed_doc *doc = parse_ok(
        "<rss version=\"2.0\"><channel><item><title>a</title><pubDate>yesterday-ish</pubDate>"
        "</item><item><title>b</title><pubDate>Wed, 12 Feb 2025 16:30:00 +0100</pubDate></item>"
        "</channel></rss>", NULL);
    char *json;

    (void)state;
    assert_int_equal(doc->nentries, 2);
    assert_int_equal(doc->entries[0].published, ITEM_TIME_UNKNOWN);
    assert_int_equal(doc->entries[1].published, SEED_TIME);
    json = feed_doc_to_json(doc);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"published\": \"2025-02-12T15:30:00Z\""));
    assert_null(strstr(json, "yesterday"));
    free(json);
    feed_doc_free(&doc);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_billion_laughs(void **state)
{
    double t0 = now();
    struct feed_doc *doc = parse_file_ok("billion-laughs.xml");
    char *json;

    (void)state;
    assert_true(now() - t0 < 2.0);
    assert_int_equal(doc->bozo, 1);
    json = feed_doc_to_json(doc);
    assert_non_null(json);
    assert_true(strlen(json) < 64 * 1024); /* never expanded */
    free(json);
    feed_doc_free(&doc);
}

static void test_xxe(void **state)
{
    char secret[] = "/tmp/na-feed-xxe-XXXXXX";
    char doc_text[1024];
    struct feed_doc *doc;
    char *json;
    int fd;

    (void)state;
    /* the fixture points at /etc/passwd */
    doc = parse_file_ok("xxe.xml");
    json = feed_doc_to_json(doc);
    assert_non_null(json);
    assert_null(strstr(json, "root:"));
    free(json);
    feed_doc_free(&doc);

    /* and a file of our own, with a marker we can look for */
    fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SECRET-MARKER-42", 16), 16);
    close(fd);
    snprintf(doc_text, sizeof(doc_text),
             "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY x SYSTEM \"file://%s\">]>"
             "<rss><channel><title>t &x;</title><item><title>&x;</title></item></channel></rss>",
             secret);
    doc = parse_ok(doc_text, NULL);
    json = feed_doc_to_json(doc);
    unlink(secret);
    assert_non_null(json);
    assert_null(strstr(json, "SECRET-MARKER"));
    free(json);
    feed_doc_free(&doc);

    /* an external DTD is not fetched and does not break the parse */
    doc = parse_file_ok("external-dtd.xml");
    assert_int_equal(doc->nentries, 1);
    assert_string_equal(doc->entries[0].title, "first");
    feed_doc_free(&doc);
}

static void test_not_feeds(void **state)
{
    FILE *fp;
    char buf[4096];
    size_t n;
    na_error err;
    struct feed_doc *doc = NULL;

    (void)state;
    fp = fopen(FEEDS "not-a-feed.html", "rb");
    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    parse_fails(buf, n, "not a feed");

    fp = fopen(FEEDS "garbage.bin", "rb");
    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    parse_fails(buf, n, "not a feed");
    parse_fails("\x00\x01\x02<rss>", 8, "not a feed");
    parse_fails("", 0, "empty document");
    parse_fails("  \n ", 4, "empty document");
    parse_fails("{\"hello\": 1}", 12, "not a feed");
    parse_fails("{\"version\": ", 12, "not a feed: invalid JSON");
    parse_fails("<html><body>x</body></html>", 27, "not a feed");
    parse_fails("<svg></svg>", 11, "not a feed");

    /* file errors name the file */
    assert_int_equal(feed_parse_file(FEEDS "does-not-exist.xml", &doc, &err), -1);
    assert_null(doc);
    assert_non_null(strstr(err.msg, "does-not-exist.xml: cannot open"));
    assert_int_equal(feed_parse_file(FEEDS "garbage.bin", &doc, &err), -1);
    assert_non_null(strstr(err.msg, "garbage.bin: not a feed"));
}

static void test_wrong_types_json(void **state)
{
    struct feed_doc *doc = parse_file_ok("wrong-types.json");

    (void)state;
    assert_int_equal(doc->bozo, 1);
    assert_null(doc->title);
    assert_string_equal(doc->link, "https://wrong.example.org/");
    assert_int_equal(doc->nentries, 3); /* the string item is skipped */
    assert_string_equal(doc->entries[0].title, "A good item");
    assert_int_equal(doc->entries[0].published, SEED_TIME - 5 * 3600 - 30 * 60);
    assert_null(doc->entries[1].id);
    assert_null(doc->entries[1].title);
    assert_string_equal(doc->entries[1].summary, "Kept summary");
    assert_int_equal(doc->entries[1].published, ITEM_TIME_UNKNOWN);
    assert_int_equal(doc->entries[1].ncategories, 0);
    assert_string_equal(doc->entries[2].id, "7");
    assert_int_equal(doc->entries[2].updated, ITEM_TIME_UNKNOWN);
    assert_int_equal(doc->entries[2].ncategories, 1);
    feed_doc_free(&doc);
}

static void test_malformed(void **state)
{
    struct feed_doc *doc = parse_file_ok("malformed.xml");

    (void)state;
    assert_int_equal(doc->bozo, 1);
    assert_true(doc->nentries >= 2);
    assert_string_equal(doc->title, "Broken & Co");
    assert_string_equal(doc->entries[0].title, "First item survives");
    assert_string_equal(doc->entries[0].link, "https://example.org/a?x=1&y=2");
    assert_string_equal(doc->entries[1].title, "Second item survives");
    feed_doc_free(&doc);

    doc = parse_ok("<!-- only a comment -->", NULL);
    assert_int_equal(doc->bozo, 1);
    assert_int_equal(doc->nentries, 0);
    feed_doc_free(&doc);
}

/* An RSS document of n items (the caller frees it). */
static char *rss_of_items(size_t n, size_t *len)
{
    size_t cap = n * 200 + 256;
    char *buf = malloc(cap);

    assert_non_null(buf);
    *len = (size_t)snprintf(buf, cap, "<rss version=\"2.0\"><channel><title>big</title>");
    for (size_t i = 0; i < n; i++)
        *len += (size_t)snprintf(buf + *len, cap - *len,
                                 "<item><guid>id-%zu</guid><title>t &amp; %zu</title>"
                                 "<description>&lt;p&gt;d %zu&lt;/p&gt;</description></item>",
                                 i, i, i);
    *len += (size_t)snprintf(buf + *len, cap - *len, "</channel></rss>");
    return buf;
}

/* Parse buf and make its items; returns the seconds it took. */
static double time_parse(const char *buf, struct feed_doc **doc, struct item ***items,
                         size_t *nitems)
{
    double t0 = now();

    *doc = parse_ok(buf, NULL);
    assert_int_equal(feed_doc_to_items(*doc, "http://big.example/", items, nitems), 0);
    return now() - t0;
}

/* 100,000 items: capped at FEED_MAX_ENTRIES with a bozo reason that says
 * so, the entries kept are the first ones, and the time grows no faster
 * than the document (checked against 10,000 items, so that valgrind or a
 * busy machine do not matter: about 1 s here). */
static void test_huge_input_capped(void **state)
{
    size_t len, nitems = 0;
    char *buf, last[32];
    struct feed_doc *doc;
    struct item **items = NULL;
    double t_small, t_big;

    (void)state;
    buf = rss_of_items(FEED_MAX_ENTRIES, &len);
    t_small = time_parse(buf, &doc, &items, &nitems);
    assert_int_equal(doc->nentries, FEED_MAX_ENTRIES);
    assert_int_equal(doc->bozo, 0);
    for (size_t i = 0; i < nitems; i++)
        item_free(&items[i]);
    free(items);
    feed_doc_free(&doc);
    free(buf);

    buf = rss_of_items(100000, &len);
    t_big = time_parse(buf, &doc, &items, &nitems);
    if (t_big > 20 * t_small + 1.0)
        fail_msg("100,000 items took %.2f s, 10,000 took %.2f s", t_big, t_small);
    assert_int_equal(doc->nentries, FEED_MAX_ENTRIES);
    assert_int_equal(nitems, FEED_MAX_ENTRIES);
    assert_int_equal(doc->bozo, 1);
    assert_string_equal(doc->bozo_reason, "more than 10000 entries: the rest are ignored");
    snprintf(last, sizeof(last), "id-%u", FEED_MAX_ENTRIES - 1);
    assert_string_equal(doc->entries[FEED_MAX_ENTRIES - 1].id, last);
    assert_string_equal(items[0]->summary, "d 0");
    for (size_t i = 0; i < nitems; i++)
        item_free(&items[i]);
    free(items);
    feed_doc_free(&doc);

    /* the same cap for a JSON Feed */
    len = (size_t)snprintf(buf, 128, "{\"version\": \"https://jsonfeed.org/version/1.1\", "
                                     "\"items\": [");
    for (size_t i = 0; i < 20000; i++)
        len += (size_t)snprintf(buf + len, 64, "%s{\"id\": \"j%zu\"}", i ? "," : "", i);
    snprintf(buf + len, 8, "]}");
    doc = parse_ok(buf, NULL);
    assert_int_equal(doc->nentries, FEED_MAX_ENTRIES);
    assert_int_equal(doc->bozo, 1);
    assert_non_null(strstr(doc->bozo_reason, "the rest are ignored"));
    feed_doc_free(&doc);
    free(buf);
}

/* Elements nested far deeper than any feed: libxml2 stops at its depth
 * limit (bozo, the reason names it), what came before is kept, nothing
 * recurses without bound. */
static void test_deep_nesting(void **state)
{
    const size_t depth = 100000;
    size_t cap = depth * 12 + 512, len = 0;
    char *buf = malloc(cap);
    struct feed_doc *doc;
    struct item **items = NULL;
    size_t nitems = 0;

    (void)state;
    assert_non_null(buf);
    /* nested XML elements inside an item */
    len = (size_t)snprintf(buf, cap, "<rss version=\"2.0\"><channel><title>deep</title>"
                                     "<item><title>kept</title><description>");
    for (size_t i = 0; i < depth; i++)
        len += (size_t)snprintf(buf + len, cap - len, "<div>");
    doc = parse_ok(buf, NULL);
    assert_int_equal(doc->bozo, 1);
    assert_non_null(strstr(doc->bozo_reason, "depth"));
    assert_int_equal(doc->nentries, 1);
    assert_string_equal(doc->entries[0].title, "kept");
    feed_doc_free(&doc);

    /* nested escaped HTML: plain text of it is empty, never a stack overflow */
    len = (size_t)snprintf(buf, cap, "<rss version=\"2.0\"><channel><title>deep</title>"
                                     "<item><title>t</title><description>");
    for (size_t i = 0; i < depth; i++)
        len += (size_t)snprintf(buf + len, cap - len, "&lt;b&gt;");
    len += (size_t)snprintf(buf + len, cap - len, "end</description></item></channel></rss>");
    doc = parse_ok(buf, NULL);
    assert_int_equal(doc->nentries, 1);
    assert_int_equal(feed_doc_to_items(doc, NULL, &items, &nitems), 0);
    assert_int_equal(nitems, 1);
    assert_string_equal(items[0]->summary, "end");
    item_free(&items[0]);
    free(items);
    feed_doc_free(&doc);
    free(buf);
}

/* An attribute value of 20 MB: past libxml2's limit, flagged, the rest of
 * the document recovered. */
static void test_huge_attribute(void **state)
{
    const size_t big = 20u * 1024u * 1024u;
    char *buf = malloc(big + 512);
    size_t len;
    struct feed_doc *doc;
    double t0;

    (void)state;
    assert_non_null(buf);
    len = (size_t)snprintf(buf, 512, "<rss version=\"2.0\"><channel><title>x</title>"
                                     "<item><title>big</title><enclosure url=\"");
    memset(buf + len, 'a', big);
    len += big;
    len += (size_t)snprintf(buf + len, 512, "\" type=\"audio/mpeg\"/></item></channel></rss>");
    t0 = now();
    doc = parse_ok(buf, NULL);
    assert_true(now() - t0 < 60.0); /* about 0.1 s; libxml2 stops at 10 MB */
    assert_int_equal(doc->bozo, 1);
    assert_non_null(doc->bozo_reason);
    assert_int_equal(doc->nentries, 1);
    assert_string_equal(doc->entries[0].title, "big");
    assert_int_equal(doc->entries[0].nenclosures, 0);
    feed_doc_free(&doc);
    free(buf);
}

/* NUL bytes: a few are dropped (bozo, the reason counts them), many make
 * the document binary data. */
/* Hostile documents that once cost time quadratic in their size (a search
 * to the end of the document for each of a million tokens): each now
 * parses in about a second at most. */
static void test_linear_hostile(void **state)
{
    const size_t n = 600000, size = n * 16 + 1024;
    char *buf = malloc(size);
    size_t len;
    struct feed_doc *doc;

    (void)state;
    assert_non_null(buf);
    /* a DOCTYPE repeated: each looked for its '[' or '>' */
    len = (size_t)snprintf(buf, size, "<?xml version=\"1.0\"?>");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, size - len, "<!DOCTYPE x>");
    len += (size_t)snprintf(buf + len, size - len,
                            "<rss version=\"2.0\"><channel><title>T</title>"
                            "<item><title>one</title></item></channel></rss>");
    doc = parse_ok(buf, NULL); /* not well-formed (one DOCTYPE at most): bozo */
    assert_int_equal(doc->bozo, 1);
    feed_doc_free(&doc);
    /* a description of bare ampersands and undefined entities */
    len = (size_t)snprintf(buf, size, "<rss version=\"2.0\"><channel><title>T</title><item>"
                                      "<title>amp</title><description>");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, size - len, i % 2 ? "&foo; " : "a & b ");
    len += (size_t)snprintf(buf + len, size - len, "</description></item></channel></rss>");
    doc = parse_ok(buf, NULL);
    assert_int_equal(doc->nentries, 1);
    assert_non_null(doc->entries[0].summary);
    assert_int_equal(strncmp(doc->entries[0].summary, "a &amp; b &foo; a &amp; b", 24), 0);
    feed_doc_free(&doc);
    free(buf);
}

/* A start tag with thousands of attributes (libxml2 2.9 compares each with
 * the others: 80,000 took 9 s) is refused before libxml2 sees it; up to
 * FEED_MAX_ATTRIBUTES is a feed like any other, and '=' in quoted values
 * does not count. */
static void test_attribute_bomb(void **state)
{
    size_t size = 64 + 80000 * 32 + 256, len, n;
    char *buf = malloc(size);
    struct feed_doc *doc = NULL;
    na_error err;

    (void)state;
    assert_non_null(buf);
    for (int k = 0; k < 4; k++) {
        /* besides `version`: 256 in all, 257, 80,001, 256 */
        static const size_t counts[] = {FEED_MAX_ATTRIBUTES - 1, FEED_MAX_ATTRIBUTES, 80000,
                                        FEED_MAX_ATTRIBUTES - 1};

        n = counts[k];
        len = (size_t)snprintf(buf, size, "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"\n%s",
                               k == 2 ? "" : " ");
        for (size_t i = 0; i < n; i++) {
            if (k == 2) /* namespace declarations, the case libxml2 is slowest at */
                len += (size_t)snprintf(buf + len, size - len, " xmlns:n%zu='u:%zu'", i, i);
            else if (k == 3) /* values full of '=' and '>' */
                len += (size_t)snprintf(buf + len, size - len, " a%zu=\"x=1&amp;y=>b>=\"", i);
            else
                len += (size_t)snprintf(buf + len, size - len, " a%zu=\"1\"", i);
        }
        len += (size_t)snprintf(buf + len, size - len,
                                "><channel><title>T</title><item><title>one</title></item>"
                                "</channel></rss>");
        assert_true(len < size);
        na_error_clear(&err);
        if (k == 0 || k == 3) {
            assert_int_equal(feed_parse(buf, len, NULL, NULL, &doc, &err), 0);
            assert_int_equal(doc->nentries, 1);
            assert_string_equal(doc->entries[0].title, "one");
            feed_doc_free(&doc);
        } else {
            assert_int_equal(feed_parse(buf, len, NULL, NULL, &doc, &err), -1);
            assert_null(doc);
            assert_int_equal(err.line, 2);
            assert_non_null(strstr(err.msg, "line 2 (byte 22): a start tag with more than 256 "
                                            "attributes: refused"));
        }
    }
    free(buf);
}

static void test_nul_bytes(void **state)
{
    static const char feed[] = "<rss version=\"2.0\"><channel><title>nu\0ll</title>"
                               "<item><title>a\0b</title></item></channel></rss>";
    char bin[256];
    struct feed_doc *doc = NULL;
    na_error err;

    (void)state;
    assert_int_equal(feed_parse(feed, sizeof(feed) - 1, NULL, NULL, &doc, &err), 0);
    assert_int_equal(doc->bozo, 1);
    assert_string_equal(doc->bozo_reason, "2 NUL bytes removed (the first at offset 37)");
    assert_string_equal(doc->title, "null");
    assert_string_equal(doc->entries[0].title, "ab");
    feed_doc_free(&doc);

    memset(bin, 0, sizeof(bin));
    memcpy(bin, "<rss>", 5);
    parse_fails(bin, sizeof(bin), "not a feed: binary data (251 NUL bytes, the first at offset 5)");
}

/* UTF-16 cut in the middle of a character (an odd byte count, half a
 * surrogate pair): decoded as far as it goes, flagged, entries kept. */
static void test_truncated_utf16(void **state)
{
    static const char text[] = "<rss version=\"2.0\"><channel><title>T</title><item>"
                               "<title>caf\xc3\xa9</title></item><item><title>cut";
    char buf[512];
    size_t len = 0;
    struct feed_doc *doc = NULL;
    na_error err;

    (void)state;
    buf[len++] = (char)0xFF;
    buf[len++] = (char)0xFE;
    for (size_t i = 0; i < sizeof(text) - 1; i++) {
        unsigned char ch = (unsigned char)text[i];

        if (ch == 0xC3) { /* U+00E9 */
            buf[len++] = (char)0xE9;
            buf[len++] = 0;
            i++;
            continue;
        }
        buf[len++] = (char)ch;
        buf[len++] = 0;
    }
    buf[len++] = 0x3D; /* the first half of a surrogate pair, cut */
    buf[len++] = (char)0xD8;
    buf[len++] = 0x41; /* and one odd byte */
    assert_int_equal(feed_parse(buf, len, NULL, NULL, &doc, &err), 0);
    assert_string_equal(doc->encoding, "utf-16le");
    assert_int_equal(doc->bozo, 1);
    assert_non_null(doc->bozo_reason);
    assert_true(doc->nentries >= 1);
    assert_string_equal(doc->entries[0].title, "caf\xc3\xa9");
    feed_doc_free(&doc);
}

/* Dates no parser can read leave the date unknown; they never fail the
 * feed or become a made-up time. */
static void test_invalid_dates(void **state)
{
    static const char *const bad[] = {
        "", "yesterday", "2025-13-45T99:99:99Z", "Mon, 32 Foo 2025 25:61:00 GMT",
        "99999999999999999999", "2025-02-30T10:00:00Z+", "\xff\xfe", "T", "-", "+0100"};
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct feed_doc *doc;

        snprintf(text, sizeof(text),
                 "<rss version=\"2.0\"><channel><item><title>a</title><pubDate>%s</pubDate>"
                 "</item></channel></rss>",
                 bad[i]);
        doc = parse_ok(text, NULL);
        assert_int_equal(doc->nentries, 1);
        if (doc->entries[0].published != ITEM_TIME_UNKNOWN)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)doc->entries[0].published);
        feed_doc_free(&doc);
    }
}

/* Every input the fuzzer found a bug with (tests/fuzz/regressions) parses
 * without a crash, a leak or a sanitizer report, in every mode. */
static void test_fuzz_regressions(void **state)
{
    static const char *const files[] = {
        "jsonfeed-short-version.json", /* read past a short "version" string */
    };
    static const char *const ctypes[] = {NULL, "text/xml; charset=iso-8859-1",
                                         "application/xml; charset=utf-16"};

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512], *buf;
        FILE *fp;
        long size;

        snprintf(path, sizeof(path), NA_SOURCE_DIR "/tests/fuzz/regressions/%s", files[i]);
        fp = fopen(path, "rb");
        if (fp == NULL)
            fail_msg("%s: cannot open", path);
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        size = ftell(fp);
        rewind(fp);
        buf = malloc((size_t)size + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
        fclose(fp);
        for (size_t k = 0; k < sizeof(ctypes) / sizeof(ctypes[0]); k++) {
            struct feed_doc *doc = NULL;
            struct item **items = NULL;
            size_t nitems = 0;
            na_error err;
            char *json;

            if (feed_parse(buf, (size_t)size, "http://x.example/", ctypes[k], &doc, &err) != 0)
                continue; /* an error is a fine answer; a crash is not */
            json = feed_doc_to_json(doc);
            assert_non_null(json);
            free(json);
            assert_int_equal(feed_doc_to_items(doc, NULL, &items, &nitems), 0);
            for (size_t j = 0; j < nitems; j++)
                item_free(&items[j]);
            free(items);
            feed_doc_free(&doc);
        }
        free(buf);
    }
    /* the first: a "version" that is no jsonfeed.org URL, items kept */
    {
        struct feed_doc *doc = parse_file_ok("../../fuzz/regressions/jsonfeed-short-version.json");

        assert_int_equal(doc->bozo, 1);
        assert_string_equal(doc->version, "");
        assert_true(doc->nentries >= 1);
        feed_doc_free(&doc);
    }
}

static void test_contract_json(void **state)
{
    struct feed_doc *doc = parse_file_ok("seed-story.atom");
    char *text = feed_doc_to_json(doc);
    json_error_t jerr;
    json_t *root, *e0;

    (void)state;
    assert_non_null(text);
    root = json_loads(text, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "version")), "atom10");
    assert_true(json_is_false(json_object_get(root, "bozo")));
    assert_string_equal(json_string_value(json_object_get(root, "encoding")), "utf-8");
    assert_int_equal(json_array_size(json_object_get(root, "entries")), 4);
    e0 = json_array_get(json_object_get(root, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "published")),
                        "2025-02-12T15:30:00Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(e0, "links"), 0), "rel")),
                        "alternate");
    assert_null(json_object_get(json_object_get(root, "feed"), "author")); /* absent: left out */
    json_decref(root);
    free(text);
    feed_doc_free(&doc);
}

/* ------------------------------------------------------------------------ */
/* The pre-scans read markup as libxml2 does: comments, CDATA sections and
 * processing instructions hold no tags (feed.c, next_start_tag). */

/* A growing text buffer for the documents below. */
struct tbuf {
    char *p;
    size_t len, cap;
};

static void tb_add(struct tbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;

        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_adds(struct tbuf *b, const char *s)
{
    tb_add(b, s, strlen(s));
}

static void tb_repeat(struct tbuf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        tb_adds(b, s);
}

/* A start tag with n attributes (quoted values). */
static void tb_big_tag(struct tbuf *b, const char *name, size_t n)
{
    char one[48];

    tb_adds(b, "<");
    tb_adds(b, name);
    for (size_t i = 0; i < n; i++) {
        snprintf(one, sizeof(one), " a%zu=\"%zu\"", i, i);
        tb_adds(b, one);
    }
    tb_adds(b, ">");
}

/* The document parses (not refused) and its entries have these titles. */
static void expect_titles(const struct tbuf *b, const char *const *titles, size_t n)
{
    struct feed_doc *doc = NULL;
    na_error err;

    if (feed_parse(b->p, b->len, NULL, NULL, &doc, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_int_equal(doc->nentries, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(doc->entries[i].title, titles[i]);
    feed_doc_free(&doc);
}

/* The document is refused for the start tag at offset `at` (line `line`),
 * with the message an attribute bomb always had. */
static void expect_bomb(const struct tbuf *b, size_t line, size_t at)
{
    struct feed_doc *doc = (struct feed_doc *)1;
    na_error err;
    char want[160];

    assert_int_equal(feed_parse(b->p, b->len, NULL, NULL, &doc, &err), -1);
    assert_null(doc);
    assert_int_equal(err.line, (int)line);
    snprintf(want, sizeof(want),
             "line %zu (byte %zu): a start tag with more than 256 attributes: refused (no feed "
             "needs so many; libxml2 takes time quadratic in their number)",
             line, at);
    assert_string_equal(err.msg, want);
}

#define RSS_HEAD "<rss version=\"2.0\"><channel><title>T</title>"
#define RSS_TAIL "</channel></rss>"

/* Valid feeds whose HTML (in CDATA sections, comments, processing
 * instructions) has a tag with 300 attributes keep all their items;
 * before, the whole feed was refused at every poll. */
static void test_sections_not_counted(void **state)
{
    static const char *const three[] = {"one", "two", "three"};
    static const char *const opens[] = {"<![CDATA[", "<!--", "<?php "};
    static const char *const closes[] = {"]]>", "-->", "?>"};
    struct feed_doc *doc;

    (void)state;
    doc = parse_file_ok("cdata-many-attributes.rss");
    assert_int_equal(doc->nentries, 3);
    assert_string_equal(doc->entries[2].title, "three");
    assert_int_equal(doc->bozo, 0);
    feed_doc_free(&doc);
    doc = parse_file_ok("cdata-many-attributes.atom");
    assert_int_equal(doc->nentries, 2);
    assert_string_equal(doc->entries[1].title, "two");
    assert_int_equal(doc->bozo, 0);
    feed_doc_free(&doc);

    for (size_t k = 0; k < 3; k++) {
        struct tbuf b = {0};

        /* in a description, and between items */
        tb_adds(&b, RSS_HEAD "<item><title>one</title><description>");
        tb_adds(&b, opens[k]);
        tb_big_tag(&b, "table", 300);
        tb_adds(&b, closes[k]);
        tb_adds(&b, "</description></item>");
        tb_adds(&b, opens[k]);
        tb_adds(&b, "<x ");
        tb_repeat(&b, "a=b ", 300);
        tb_adds(&b, closes[k]);
        tb_adds(&b, "<item><title>two</title></item><item><title>three</title></item>" RSS_TAIL);
        expect_titles(&b, three, 3);
        free(b.p);
    }
    /* after a DOCTYPE whose system literal holds '<' (text to libxml2) */
    {
        struct tbuf b = {0};

        tb_adds(&b, "<!DOCTYPE rss SYSTEM \"about:<legacy>\">" RSS_HEAD
                    "<item><title>one</title><description><![CDATA[");
        tb_big_tag(&b, "table", 300);
        tb_adds(&b, "]]></description></item><item><title>two</title></item>"
                    "<item><title>three</title></item>" RSS_TAIL);
        expect_titles(&b, three, 3);
        free(b.p);
    }
}

/* A section ends where libxml2 ends it, whatever its length (the scan
 * reads eight bytes at a time): at its terminator, or at the first
 * character XML does not allow, where libxml2 reads on as content. */
static void test_section_ends_every_offset(void **state)
{
    static const char *const bad[] = {"\x01", "\x1f", "\x0b", "\xef\xbf\xbe", "\xef\xbf\xbf"};

    (void)state;
    for (size_t pad = 0; pad < 40; pad++) {
        struct tbuf b = {0};
        static const char *const one[] = {"one"};
        size_t at;

        /* the terminator at every offset: the bomb inside is no tag */
        tb_adds(&b, RSS_HEAD "<item><title>one</title><description><!--");
        tb_big_tag(&b, "p", 300);
        tb_repeat(&b, pad % 3 ? "-" : "x", pad);
        tb_adds(&b, "--></description></item>" RSS_TAIL);
        expect_titles(&b, one, 1);
        b.len = 0;
        tb_adds(&b, RSS_HEAD "<item><title>one</title><description><![CDATA[");
        tb_repeat(&b, pad % 2 ? "]" : "\xef\xbf\xbd", pad);
        tb_big_tag(&b, "p", 300);
        tb_adds(&b, "]]></description></item>" RSS_TAIL);
        expect_titles(&b, one, 1);

        /* a character XML does not allow at every offset ends the section:
         * the bomb after it is a tag again */
        b.len = 0;
        tb_adds(&b, RSS_HEAD "<item><title>one</title><description><![CDATA[");
        tb_repeat(&b, "x", pad);
        tb_adds(&b, bad[pad % 5]);
        at = b.len;
        tb_big_tag(&b, "p", 300);
        tb_adds(&b, "]]></description></item>" RSS_TAIL);
        expect_bomb(&b, 1, at);
        free(b.p);
    }
}

/* A real attribute bomb is refused as before, with the same message,
 * wherever the text around it tries to hide it: after closed sections,
 * after a section a bad character ends, inside an attribute value that a
 * '<' ends (libxml2 reads a tag there), after a broken XML declaration, a
 * "<?" with no target, a DOCTYPE whose literals hold "<!--", a section
 * too long for libxml2. */
static void test_bomb_still_refused(void **state)
{
    static const char *const before[] = {
        /* sections that end: the bomb is after them */
        "<?xml version=\"1.0\"?>\n" RSS_HEAD "<item><description><![CDATA[<b a=1>]]>"
        "</description><!-- <c> --><?pi <d> ?></item>\n",
        /* a bad character ends the comment; libxml2 reads on as content */
        RSS_HEAD "<!-- \x02 ",
        RSS_HEAD "<?pi \xef\xbf\xbf ",
        /* '<' ends a quoted value (and the tag) for libxml2 */
        RSS_HEAD "<item><enclosure url=\"",
        /* the XML declaration ends at its first '>', not at a later "?>" */
        "<?xml version=\"1.0\" x>\n",
        /* "<?" and no target name: no processing instruction */
        RSS_HEAD "<? ",
        /* an internal subset: its literals may hold anything */
        "<!DOCTYPE rss [<!ENTITY x \"<!--\">]>\n",
        /* a DOCTYPE libxml2 gives up on (here at the 'x' after a literal
         * holding "<!--"): it reads a root element from the next '<' */
        "<!DOCTYPE rss SYSTEM \"<!--\"x",
        /* libxml2 takes "--" in pairs in an ASCII comment: "--->" does not
         * end it, the later "-->" does, and the CDATA "section" is text */
        RSS_HEAD "<!-- a ---><![CDATA[ --> ",
        /* a bad character in a DOCTYPE literal: libxml2 gives up on the
         * DOCTYPE there and reads a root element from the next '<' */
        "<!DOCTYPE rss SYSTEM \"a\x01",
    };
    static const char *const after[] = {
        "", " -->", " ?>", "\"/>", " ?>", " ?>", " -->", " -->", " ]]>", "\"> -->",
    };

    (void)state;
    for (size_t k = 0; k < sizeof(before) / sizeof(before[0]); k++) {
        struct tbuf b = {0};
        size_t line = 1, at;

        tb_adds(&b, before[k]);
        at = b.len;
        for (size_t i = 0; i < at; i++)
            line += b.p[i] == '\n';
        tb_big_tag(&b, k == 0 || k == 3 ? "item" : "rss", 300);
        tb_adds(&b, after[k]);
        tb_adds(&b, "<title>x</title>" RSS_TAIL);
        expect_bomb(&b, line, at);
        free(b.p);
    }
    /* a comment longer than libxml2 reads (10,000,000 bytes): libxml2 gives
     * up and reads on as content, so the tag inside counts */
    {
        struct tbuf b = {0};
        size_t at, fill = 10u * 1000u * 1000u + 100u;

        tb_adds(&b, RSS_HEAD "<!--");
        b.p = realloc(b.p, b.len + fill + 16384);
        assert_non_null(b.p);
        b.cap = b.len + fill + 16384;
        memset(b.p + b.len, 'x', fill);
        b.len += fill;
        at = b.len;
        tb_big_tag(&b, "item", 300);
        tb_adds(&b, "-->" RSS_TAIL);
        expect_bomb(&b, 1, at);
        free(b.p);
    }
}

/* A comment of many "--" (each one an error libxml2 raises with a copy of
 * the comment so far: 80,000 took 14 s) parses in time linear in its
 * length, ends where libxml2 ends it, and the document stays bozo. */
static void test_comment_double_hyphens(void **state)
{
    double t[2];

    (void)state;
    for (int k = 0; k < 2; k++) {
        struct tbuf b = {0};
        struct feed_doc *doc;
        double t0;

        tb_adds(&b, RSS_HEAD "<item><title>one</title><description><!--");
        tb_repeat(&b, "-- ", k == 0 ? 20000 : 80000);
        tb_adds(&b, "---><b>still a comment</b>--></description></item>"
                    "<item><title>two</title></item>" RSS_TAIL);
        t0 = now();
        doc = parse_ok(b.p, NULL);
        t[k] = now() - t0;
        assert_int_equal(doc->nentries, 2);
        assert_string_equal(doc->entries[1].title, "two");
        assert_true(doc->entries[0].summary == NULL ||
                    strstr(doc->entries[0].summary, "still") == NULL);
        assert_int_equal(doc->bozo, 1);
        assert_non_null(strstr(doc->bozo_reason, "Double hyphen"));
        feed_doc_free(&doc);
        free(b.p);
    }
    if (t[1] > 8 * t[0] + 0.5)
        fail_msg("4 times the double hyphens took %.2f s, once %.2f s", t[1], t[0]);
}

/* Items of a feed whose CDATA sections and comments hold thousands of
 * "<item>" strings are all kept (the cut before entry FEED_MAX_ENTRIES + 1
 * counted those and silently dropped the real items after them); more than
 * FEED_MAX_ENTRIES real items are still cut exactly there. */
static void test_entries_cut_sections(void **state)
{
    char one[160];

    (void)state;
    for (int k = 0; k < 2; k++) {
        struct tbuf b = {0};
        struct feed_doc *doc;

        tb_adds(&b, RSS_HEAD);
        for (size_t i = 0; i < 50; i++) {
            snprintf(one, sizeof(one), "<item><guid>g%zu</guid><title>t%zu</title>", i, i);
            tb_adds(&b, one);
            tb_adds(&b, k == 0 ? "<description><![CDATA[" : "</item><!--");
            tb_repeat(&b, "<item><p>x</p></item><entry/>", 400);
            tb_adds(&b, k == 0 ? "]]></description></item>" : "-->");
        }
        tb_adds(&b, RSS_TAIL);
        assert_true(b.len >= 100u * 1024u);
        doc = parse_ok(b.p, NULL);
        assert_int_equal(doc->nentries, 50);
        assert_string_equal(doc->entries[49].id, "g49");
        assert_int_equal(doc->bozo, 0);
        feed_doc_free(&doc);
        free(b.p);
    }
    /* FEED_MAX_ENTRIES + 50 real items, each with "<item>" in CDATA: the
     * cut is before the start tag of item FEED_MAX_ENTRIES + 1 (what is
     * just before it is read, what is just after it is not) */
    {
        struct tbuf b = {0};
        struct feed_doc *doc;

        tb_adds(&b, RSS_HEAD);
        for (size_t i = 0; i < FEED_MAX_ENTRIES + 50; i++) {
            if (i == FEED_MAX_ENTRIES)
                tb_adds(&b, "<description>before the cut</description>");
            snprintf(one, sizeof(one),
                     "<item><guid>id-%zu</guid><description><![CDATA[<item><entry>]]>"
                     "</description></item>",
                     i);
            tb_adds(&b, one);
            if (i == FEED_MAX_ENTRIES)
                tb_adds(&b, "<language>after-the-cut</language>");
        }
        tb_adds(&b, RSS_TAIL);
        doc = parse_ok(b.p, NULL);
        assert_int_equal(doc->nentries, FEED_MAX_ENTRIES);
        snprintf(one, sizeof(one), "id-%u", FEED_MAX_ENTRIES - 1);
        assert_string_equal(doc->entries[FEED_MAX_ENTRIES - 1].id, one);
        assert_string_equal(doc->subtitle, "before the cut");
        assert_null(doc->language);
        assert_int_equal(doc->bozo, 1);
        assert_string_equal(doc->bozo_reason, "more than 10000 entries: the rest are ignored");
        feed_doc_free(&doc);
        free(b.p);
    }
}

/* A section never closed (CDATA, comment, processing instruction), full of
 * what looks like markup (a bomb, "<item>", millions of "<!--" and
 * "<![CDATA[", "]]" with no '>'): quick, and the same result as the same
 * document with plain text in the section, which is what libxml2 gives
 * (it reads the rest as the section). */
static void test_unterminated_sections(void **state)
{
    static const char *const opens[] = {"<![CDATA[", "<!--", "<?pi "};
    static const char *const junk[] = {"<!--<![CDATA[<item>]]", "<![CDATA[<!--<item>--",
                                       "<?x <item>?"};

    (void)state;
    for (size_t k = 0; k < 3; k++) {
        struct tbuf hostile = {0}, plain = {0};
        struct feed_doc *a, *c;
        double t0;

        tb_adds(&hostile, RSS_HEAD "<item><title>one</title></item><item><title>two</title>"
                                   "<description>");
        tb_adds(&plain, hostile.p);
        tb_adds(&hostile, opens[k]);
        tb_adds(&plain, opens[k]);
        tb_big_tag(&hostile, "table", 300);
        tb_repeat(&hostile, junk[k], 400000);
        tb_adds(&plain, "text");
        t0 = now();
        a = parse_ok(hostile.p, NULL);
        assert_true(now() - t0 < 20.0); /* 0.1 s here; quadratic is hours */
        c = parse_ok(plain.p, NULL);
        assert_int_equal(a->nentries, c->nentries);
        assert_true(a->nentries >= 1);
        for (size_t i = 0; i < a->nentries; i++) {
            if (c->entries[i].title == NULL)
                assert_null(a->entries[i].title);
            else
                assert_string_equal(a->entries[i].title, c->entries[i].title);
        }
        assert_int_equal(a->bozo, c->bozo);
        feed_doc_free(&a);
        feed_doc_free(&c);
        free(hostile.p);
        free(plain.p);
    }
}

/* The DOCTYPE pass reads declarations only in the real DOCTYPE's internal
 * subset: an article quoting "<!ENTITY nbsp ...>" in a CDATA section does
 * not make &nbsp; declared (it lost the text around such references), and a
 * DOCTYPE in a comment is no external DTD. */
static void test_declarations_only_in_doctype(void **state)
{
    struct feed_doc *doc;

    (void)state;
    doc = parse_ok(RSS_HEAD "<item><title>caf&eacute;&nbsp;x</title><description><![CDATA["
                            "<p>A DTD says <!ENTITY nbsp \"&#160;\"> and <!ENTITY eacute "
                            "\"&#233;\">.</p>]]></description></item>" RSS_TAIL,
                   NULL);
    assert_int_equal(doc->nentries, 1);
    assert_string_equal(doc->entries[0].title, "caf\xc3\xa9\xc2\xa0x");
    feed_doc_free(&doc);

    /* HTML entities need a DTD that defines them: a commented-out one
     * does not, so the document is bozo like any other using them */
    doc = parse_ok("<!-- <!DOCTYPE rss SYSTEM \"rss.dtd\"> -->\n" RSS_HEAD
                   "<item><title>caf&eacute;</title></item>" RSS_TAIL,
                   NULL);
    assert_string_equal(doc->entries[0].title, "caf\xc3\xa9");
    assert_int_equal(doc->bozo, 1);
    assert_string_equal(doc->bozo_reason, "undefined entity or bare '&'");
    feed_doc_free(&doc);

    /* the real subset, with a ']' in a comment and in a literal: its
     * declarations count and it is passed to libxml2 whole */
    doc = parse_ok("<!DOCTYPE rss [<!-- ] --><!ENTITY br \"[x]\"><!ENTITY id \"tag:x,\">]>"
                   RSS_HEAD "<item><guid>&id;1</guid><title>&br;</title></item>" RSS_TAIL,
                   NULL);
    assert_string_equal(doc->entries[0].id, "tag:x,1");
    assert_string_equal(doc->entries[0].title, "[x]");
    assert_int_equal(doc->bozo, 0);
    feed_doc_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_rss),
        cmocka_unit_test(test_seed_atom),
        cmocka_unit_test(test_seed_json),
        cmocka_unit_test(test_items_plain_text),
        cmocka_unit_test(test_items_clean_text),
        cmocka_unit_test(test_quirks),
        cmocka_unit_test(test_items_hash_id),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_xml_base_and_sanitising),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_xxe),
        cmocka_unit_test(test_not_feeds),
        cmocka_unit_test(test_wrong_types_json),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_huge_input_capped),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_huge_attribute),
        cmocka_unit_test(test_linear_hostile),
        cmocka_unit_test(test_attribute_bomb),
        cmocka_unit_test(test_sections_not_counted),
        cmocka_unit_test(test_section_ends_every_offset),
        cmocka_unit_test(test_bomb_still_refused),
        cmocka_unit_test(test_comment_double_hyphens),
        cmocka_unit_test(test_entries_cut_sections),
        cmocka_unit_test(test_unterminated_sections),
        cmocka_unit_test(test_declarations_only_in_doctype),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_truncated_utf16),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_contract_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

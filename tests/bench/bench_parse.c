/*
 * bench_parse.c - the feed parser's speed, side by side with its floor and
 * with Python feedparser, on one generated corpus in one run.
 *
 * The corpus is reproducible (a fixed-seed generator): news feeds in RSS 2.0,
 * Atom 1.0 and JSON Feed 1.1 in turn, each with 50 items whose descriptions
 * are HTML (paragraphs, links, images, entities, now and then a script).  It
 * is written to a directory, read back into memory, and then, on the same
 * bytes:
 *   - newsalert: feed_parse() + feed_doc_to_items() + frees;
 *   - the bare parse: libxml2's xmlReadMemory() with the parser's options for
 *     the XML feeds (jansson's json_loadb() for the JSON Feeds), then free:
 *     the floor, what reading the document at all costs;
 *   - Python feedparser (bench_parse_feedparser.py, run with --python) on the
 *     same files.
 * The C parsers run --rounds times, in turn on each file (the machine may
 * be shared: both see the same load), and each one's best round counts;
 * feedparser
 * runs once (it is two orders of magnitude slower).  The table gives items/s,
 * MB/s and the ratios; the exit status is 0 whatever the figures (a
 * benchmark, not a test), 1 when something could not run.
 *
 * Usage: bench_parse [--feeds N] [--items N] [--rounds N] [--dir DIR]
 *                    [--only rss20|atom10|json11] [--python PYTHON]
 *                    [--no-python] [--script PATH]
 * (--only: every feed in that one format instead of the three in turn)
 */
#include <errno.h>
#include <stdarg.h>
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_bare.h"
#include "feed.h"
#include "item.h"

#ifndef NA_BENCH_SCRIPT
#define NA_BENCH_SCRIPT "bench_parse_feedparser.py"
#endif

enum bench_format { FMT_RSS, FMT_ATOM, FMT_JSON, FMT_COUNT };
static const char *const bench_format_names[FMT_COUNT] = {"rss20", "atom10", "json11"};
static const char *const bench_format_ext[FMT_COUNT] = {"rss", "atom", "json"};

struct bench_file {
    char *path;
    char *buf;
    size_t len;
    enum bench_format fmt;
};

/* ------------------------------------------------------------------------ */
/* A reproducible corpus */

static uint64_t bench_rng = UINT64_C(0x9e3779b97f4a7c15);

static uint32_t bench_rand(void)
{
    bench_rng = bench_rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(bench_rng >> 33);
}

static const char *const bench_words[] = {
    "government", "minister", "announced", "election", "market", "shares", "storm",
    "flooding", "police", "report", "president", "talks", "ceasefire", "energy",
    "prices", "inflation", "court", "ruling", "climate", "summit", "union", "strike",
    "hospital", "vaccine", "football", "championship", "budget", "tax", "railway",
    "airport", "technology", "company", "profits", "security", "border", "city",
    "council", "investigation", "scientists", "discovered", "the", "a", "of", "in",
    "and", "to", "after", "over", "new", "says", "record", "week", "Europe", "Ukraine",
    "Brussels", "Paris", "Berlin", "Tokyo", "Washington", "caf\xc3\xa9", "na\xc3\xafve",
};
#define NWORDS (sizeof bench_words / sizeof bench_words[0])

/* A growing output buffer for the generator; aborts when out of memory. */
struct bench_out {
    char *s;
    size_t len, cap;
};

static void out_add(struct bench_out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *p;

        while (cap < o->len + n + 1)
            cap *= 2;
        p = realloc(o->s, cap);
        if (p == NULL) {
            fprintf(stderr, "bench_parse: out of memory\n");
            exit(1);
        }
        o->s = p;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void out_str(struct bench_out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

static void out_fmt(struct bench_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_fmt(struct bench_out *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "bench_parse: generator line too long\n");
        exit(1);
    }
    out_add(o, tmp, (size_t)n);
}

/* n random words, separated by spaces, the first capitalised when cap. */
static void out_words(struct bench_out *o, int n)
{
    for (int i = 0; i < n; i++) {
        if (i > 0)
            out_str(o, " ");
        out_str(o, bench_words[bench_rand() % NWORDS]);
    }
}

/* An HTML description of a news story: a few paragraphs with links, an
 * image, entities (as they appear in the HTML itself), sometimes a script. */
static void gen_html(struct bench_out *o, int story)
{
    int paras = 1 + (int)(bench_rand() % 2);

    out_fmt(o, "<p><img src=\"https://img.example.net/%d.jpg\" alt=\"photo &amp; caption\" "
               "width=\"640\" height=\"360\"/></p>",
            story);
    for (int p = 0; p < paras; p++) {
        out_str(o, "<p>");
        out_words(o, 10 + (int)(bench_rand() % 8));
        out_fmt(o, " <a href=\"https://news.example.org/story/%d-%d\">", story, p);
        out_words(o, 3);
        out_str(o, "</a> &#8220;");
        out_words(o, 6);
        out_str(o, "&#8221; &amp; <b>");
        out_words(o, 2);
        out_str(o, "</b>&nbsp;&mdash; ");
        out_words(o, 4);
        out_str(o, ".</p>");
    }
    if (bench_rand() % 5 == 0)
        out_str(o, "<script type=\"text/javascript\">var ad = {slot: 'top', n: 3};</script>");
    out_str(o, "<p class=\"more\"><a href=\"https://news.example.org/\">Read more</a></p>");
}

/* The generated HTML escaped for XML character data (&, <, >). */
static void out_xml_escaped(struct bench_out *o, const char *s, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        const char *rep = s[i] == '&'   ? "&amp;"
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                                        : NULL;

        if (rep == NULL)
            continue;
        out_add(o, s + start, i - start);
        out_str(o, rep);
        start = i + 1;
    }
    out_add(o, s + start, n - start);
}

/* The generated HTML as a JSON string body (quotes and backslashes). */
static void out_json_escaped(struct bench_out *o, const char *s, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        out_add(o, s + start, i - start);
        out_str(o, s[i] == '"' ? "\\\"" : "\\\\");
        start = i + 1;
    }
    out_add(o, s + start, n - start);
}

static void gen_feed(struct bench_out *o, enum bench_format fmt, int feed, int nitems)
{
    struct bench_out html = {0}, title = {0};
    /* 2025-03-01T00:00:00Z minus a few minutes per item */
    time_t base = (time_t)1740787200 - (time_t)feed * 3600;

    if (fmt == FMT_RSS)
        out_fmt(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" "
                   "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                   "xmlns:media=\"http://search.yahoo.com/mrss/\">\n<channel>\n"
                   "<title>Example News %d</title>\n<link>https://news.example.org/%d/</link>\n"
                   "<description>Top stories</description>\n<language>en-gb</language>\n",
                feed, feed);
    else if (fmt == FMT_ATOM)
        out_fmt(o, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n"
                   "<title>Example News %d</title>\n<id>tag:news.example.org,2025:%d</id>\n"
                   "<link rel=\"alternate\" href=\"https://news.example.org/%d/\"/>\n"
                   "<updated>2025-03-01T00:00:00Z</updated>\n",
                feed, feed, feed);
    else
        out_fmt(o, "{\"version\": \"https://jsonfeed.org/version/1.1\", "
                   "\"title\": \"Example News %d\", \"home_page_url\": "
                   "\"https://news.example.org/%d/\", \"language\": \"en\", \"items\": [\n",
                feed, feed);
    for (int i = 0; i < nitems; i++) {
        int story = feed * 1000 + i;
        time_t t = base - (time_t)i * 420;
        struct tm tm;
        char rfc822[64], rfc3339[32];

        gmtime_r(&t, &tm);
        strftime(rfc822, sizeof rfc822, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        strftime(rfc3339, sizeof rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm);
        html.len = title.len = 0;
        gen_html(&html, story);
        out_words(&title, 6 + (int)(bench_rand() % 6));
        if (fmt == FMT_RSS) {
            out_fmt(o, "<item>\n<title>%s</title>\n"
                       "<link>https://news.example.org/story/%d</link>\n"
                       "<guid isPermaLink=\"false\">story-%d</guid>\n<pubDate>%s</pubDate>\n"
                       "<dc:creator>Reporter %d</dc:creator>\n<category>World</category>\n"
                       "<category>Politics</category>\n",
                    title.s, story, story, rfc822, story % 17);
            if (i % 2 == 0) {
                out_str(o, "<description><![CDATA[");
                out_add(o, html.s, html.len);
                out_str(o, "]]></description>\n");
            } else {
                out_str(o, "<description>");
                out_xml_escaped(o, html.s, html.len);
                out_str(o, "</description>\n");
            }
            out_fmt(o, "<media:content url=\"https://img.example.net/%d.jpg\" medium=\"image\" "
                       "width=\"640\"/>\n</item>\n",
                    story);
        } else if (fmt == FMT_ATOM) {
            out_fmt(o, "<entry>\n<title type=\"text\">%s</title>\n"
                       "<id>tag:news.example.org,2025:story-%d</id>\n"
                       "<link rel=\"alternate\" type=\"text/html\" "
                       "href=\"https://news.example.org/story/%d\"/>\n"
                       "<published>%s</published>\n<updated>%s</updated>\n"
                       "<author><name>Reporter %d</name></author>\n"
                       "<category term=\"World\"/>\n<content type=\"html\">",
                    title.s, story, story, rfc3339, rfc3339, story % 17);
            out_xml_escaped(o, html.s, html.len);
            out_str(o, "</content>\n</entry>\n");
        } else {
            out_fmt(o, "%s{\"id\": \"story-%d\", \"url\": \"https://news.example.org/story/%d\", "
                       "\"title\": \"%s\", \"date_published\": \"%s\", "
                       "\"authors\": [{\"name\": \"Reporter %d\"}], "
                       "\"tags\": [\"World\", \"Politics\"], \"content_html\": \"",
                    i > 0 ? ",\n" : "", story, story, title.s, rfc3339, story % 17);
            out_json_escaped(o, html.s, html.len);
            out_str(o, "\"}");
        }
    }
    if (fmt == FMT_RSS)
        out_str(o, "</channel>\n</rss>\n");
    else if (fmt == FMT_ATOM)
        out_str(o, "</feed>\n");
    else
        out_str(o, "\n]}\n");
    free(html.s);
    free(title.s);
}

/* Generate nfeeds feeds into dir and keep their bytes in files[]. */
static int gen_corpus(const char *dir, int nfeeds, int nitems, int only,
                      struct bench_file *files)
{
    char mpath[4096];
    FILE *manifest;
    int rc = -1;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_parse: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    /* files.txt names this run's files: the directory may hold older ones */
    snprintf(mpath, sizeof mpath, "%s/files.txt", dir);
    manifest = fopen(mpath, "w");
    if (manifest == NULL) {
        fprintf(stderr, "bench_parse: cannot write %s: %s\n", mpath, strerror(errno));
        return -1;
    }
    for (int f = 0; f < nfeeds; f++) {
        struct bench_out o = {0};
        enum bench_format fmt = (enum bench_format)(only >= 0 ? only : f % FMT_COUNT);
        char path[4096];
        FILE *fp;
        int n;

        n = snprintf(path, sizeof path, "%s/feed%04d.%s", dir, f, bench_format_ext[fmt]);
        if (n < 0 || (size_t)n >= sizeof path) {
            fprintf(stderr, "bench_parse: directory name too long\n");
            goto out;
        }
        gen_feed(&o, fmt, f, nitems);
        fp = fopen(path, "wb");
        if (fp == NULL || fwrite(o.s, 1, o.len, fp) != o.len || fclose(fp) != 0) {
            fprintf(stderr, "bench_parse: cannot write %s: %s\n", path, strerror(errno));
            free(o.s);
            goto out;
        }
        fprintf(manifest, "%s\n", strrchr(path, '/') + 1);
        files[f].path = strdup(path);
        files[f].buf = o.s;
        files[f].len = o.len;
        files[f].fmt = fmt;
        if (files[f].path == NULL) {
            fprintf(stderr, "bench_parse: out of memory\n");
            goto out;
        }
    }
    rc = 0;
out:
    if (fclose(manifest) != 0 && rc == 0) {
        fprintf(stderr, "bench_parse: cannot write %s\n", mpath);
        rc = -1;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The parsers */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* newsalert: parse, make the items, free.  Returns the items made, or -1. */
static long run_newsalert(const struct bench_file *f)
{
    struct feed_doc *doc = NULL;
    struct item **items = NULL;
    size_t nitems = 0;
    na_error err;

    if (feed_parse(f->buf, f->len, NULL, NULL, &doc, &err) != 0) {
        fprintf(stderr, "bench_parse: %s: %s\n", f->path, err.msg);
        return -1;
    }
    if (feed_doc_to_items(doc, f->path, &items, &nitems) != 0) {
        fprintf(stderr, "bench_parse: %s: out of memory\n", f->path);
        feed_doc_free(&doc);
        return -1;
    }
    for (size_t i = 0; i < nitems; i++)
        item_free(&items[i]);
    free(items);
    feed_doc_free(&doc);
    return (long)nitems;
}

/* The floor: libxml2 (XML) or jansson (JSON) reads the document, frees it
 * (bench_bare.c, shared with the fetch benchmark's floor). */
static long run_bare(const struct bench_file *f)
{
    return bench_bare_parse(f->buf, f->len, f->fmt == FMT_JSON, "bench_parse", f->path);
}

struct bench_result {
    double secs[FMT_COUNT + 1]; /* per format, then the total (best round) */
    long items;
};

/* Run the bare parse and newsalert over every file, rounds times, the two
 * in turn on each file so that both see the same machine load (it is
 * shared); keep each one's best round (per format and in total).  Returns
 * 0 or -1. */
static int bench(const struct bench_file *files, int nfiles, int rounds, struct bench_result *bare,
                 struct bench_result *na)
{
    long (*const fn[2])(const struct bench_file *) = {run_bare, run_newsalert};
    struct bench_result *res[2] = {bare, na};

    for (int p = 0; p < 2; p++)
        for (int k = 0; k <= FMT_COUNT; k++)
            res[p]->secs[k] = 1e300;
    for (int i = 0; i < nfiles; i++) /* warm up: libxml2's and iconv's first-use costs */
        for (int p = 0; p < 2; p++)
            if (fn[p](&files[i]) < 0)
                return -1;
    for (int round = 0; round < rounds; round++) {
        double per[2][FMT_COUNT] = {{0}}, total[2] = {0};
        long items[2] = {0};

        for (int i = 0; i < nfiles; i++) {
            for (int p = 0; p < 2; p++) {
                double t0 = now_s(), dt;
                long n = fn[p](&files[i]);

                dt = now_s() - t0;
                if (n < 0)
                    return -1;
                items[p] += n;
                per[p][files[i].fmt] += dt;
                total[p] += dt;
            }
        }
        for (int p = 0; p < 2; p++) {
            for (int k = 0; k < FMT_COUNT; k++)
                if (per[p][k] < res[p]->secs[k])
                    res[p]->secs[k] = per[p][k];
            if (total[p] < res[p]->secs[FMT_COUNT])
                res[p]->secs[FMT_COUNT] = total[p];
            res[p]->items = items[p];
        }
    }
    return 0;
}

/* Python feedparser over dir: the script prints "items seconds" on its last
 * line.  Returns 0 or -1. */
static int run_feedparser(const char *python, const char *script, const char *dir, long *items,
                          double *secs)
{
    char cmd[8192], line[512], last[512] = "";
    FILE *p;
    int n;

    n = snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", python, script, dir);
    if (n < 0 || (size_t)n >= sizeof cmd || strchr(python, '\'') || strchr(script, '\'') ||
        strchr(dir, '\'')) {
        fprintf(stderr, "bench_parse: unusable python, script or directory name\n");
        return -1;
    }
    p = popen(cmd, "r");
    if (p == NULL) {
        fprintf(stderr, "bench_parse: cannot run %s: %s\n", cmd, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, p) != NULL)
        memcpy(last, line, sizeof line);
    if (pclose(p) != 0 || sscanf(last, "%ld %lf", items, secs) != 2) {
        fprintf(stderr, "bench_parse: %s failed (is python3-feedparser installed?)\n", cmd);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *fp)
{
    fprintf(fp, "usage: bench_parse [--feeds N] [--items N] [--rounds N] [--dir DIR]\n"
                "                   [--only rss20|atom10|json11] [--python PYTHON]\n"
                "                   [--no-python] [--script PATH]\n");
}

static int int_arg(const char *name, const char *v, int lo, int hi, int *out)
{
    char *end;
    long n;

    errno = 0;
    n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || errno != 0 || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "bench_parse: %s wants a number from %d to %d\n", name, lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
}

int main(int argc, char **argv)
{
    int nfeeds = 120, nitems = 50, rounds = 5, use_python = 1, rc = 1, only = -1;
    const char *dir = "bench-parse-corpus", *python = "/usr/bin/python3", *script = NA_BENCH_SCRIPT;
    struct bench_result na = {0}, bare = {0};
    struct bench_file *files = NULL;
    size_t bytes = 0, fbytes[FMT_COUNT] = {0};
    double mb, fp_secs = 0;
    long fp_items = 0;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--feeds") == 0 && int_arg("--feeds", v, 1, 100000, &nfeeds) == 0)
            i++;
        else if (strcmp(argv[i], "--items") == 0 && int_arg("--items", v, 1, 1000000, &nitems) == 0)
            i++;
        else if (strcmp(argv[i], "--rounds") == 0 && int_arg("--rounds", v, 1, 1000, &rounds) == 0)
            i++;
        else if (strcmp(argv[i], "--dir") == 0 && v != NULL)
            dir = argv[++i];
        else if (strcmp(argv[i], "--python") == 0 && v != NULL)
            python = argv[++i];
        else if (strcmp(argv[i], "--script") == 0 && v != NULL)
            script = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && v != NULL) {
            for (int k = 0; k < FMT_COUNT; k++)
                if (strcmp(v, bench_format_names[k]) == 0)
                    only = k;
            if (only < 0) {
                usage(stderr);
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--no-python") == 0)
            use_python = 0;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    files = calloc((size_t)nfeeds, sizeof *files);
    if (files == NULL || gen_corpus(dir, nfeeds, nitems, only, files) != 0)
        goto out;
    for (int i = 0; i < nfeeds; i++) {
        bytes += files[i].len;
        fbytes[files[i].fmt] += files[i].len;
    }
    mb = (double)bytes / 1e6;
    xmlInitParser();
    if (bench(files, nfeeds, rounds, &bare, &na) != 0)
        goto out;
    if (na.items != (long)nfeeds * nitems) {
        fprintf(stderr, "bench_parse: newsalert made %ld items, the corpus has %ld\n", na.items,
                (long)nfeeds * nitems);
        goto out;
    }
    if (use_python && run_feedparser(python, script, dir, &fp_items, &fp_secs) != 0)
        goto out;

    printf("corpus: %s: %d feeds (%s) x %d items = %ld items, "
           "%.2f MB; C parsers: best of %d rounds\n\n",
           dir, nfeeds, only >= 0 ? bench_format_names[only] : "rss20, atom10, json11 in turn",
           nitems, na.items, mb, rounds);
    printf("%-34s %9s %11s %8s %9s %12s\n", "parser", "seconds", "items/s", "MB/s", "vs bare",
           "vs feedparser");
    printf("%-34s %9.4f %11.0f %8.1f %9s %12.1fx\n", "bare parse (libxml2; jansson)",
           bare.secs[FMT_COUNT], (double)na.items / bare.secs[FMT_COUNT],
           mb / bare.secs[FMT_COUNT], "1.00x",
           use_python ? fp_secs / bare.secs[FMT_COUNT] : 0.0);
    printf("%-34s %9.4f %11.0f %8.1f %8.2fx %12.1fx\n", "newsalert (feed_parse + items)",
           na.secs[FMT_COUNT], (double)na.items / na.secs[FMT_COUNT], mb / na.secs[FMT_COUNT],
           na.secs[FMT_COUNT] / bare.secs[FMT_COUNT],
           use_python ? fp_secs / na.secs[FMT_COUNT] : 0.0);
    if (use_python)
        printf("%-34s %9.4f %11.0f %8.1f %8.2fx %12s\n", "python3 feedparser", fp_secs,
               (double)fp_items / fp_secs, mb / fp_secs, fp_secs / bare.secs[FMT_COUNT],
               "1.0x");
    printf("\nper format (newsalert / bare):");
    for (int k = 0; k < FMT_COUNT; k++)
        printf("  %s %.2fx (%.1f MB/s)", bench_format_names[k], na.secs[k] / bare.secs[k],
               (double)fbytes[k] / 1e6 / na.secs[k]);
    printf("\ntargets: newsalert within 2x of the bare parse: %s (%.2fx)",
           na.secs[FMT_COUNT] <= 2 * bare.secs[FMT_COUNT] ? "yes" : "NO",
           na.secs[FMT_COUNT] / bare.secs[FMT_COUNT]);
    if (use_python)
        printf("; at least 25x feedparser: %s (%.1fx)",
               fp_secs >= 25 * na.secs[FMT_COUNT] ? "yes" : "NO", fp_secs / na.secs[FMT_COUNT]);
    printf("\n");
    rc = 0;
out:
    for (int i = 0; files != NULL && i < nfeeds; i++) {
        free(files[i].path);
        free(files[i].buf);
    }
    free(files);
    xmlCleanupParser();
    return rc;
}

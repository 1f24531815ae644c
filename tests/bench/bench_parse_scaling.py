#!/usr/bin/env python3
"""Parse-time scaling on hostile documents: is any input quadratic?

For each pattern below (markup a hostile or broken feed may hold: bare
ampersands, undefined entities, repeated DOCTYPEs, unclosed elements,
thousands of categories, links or enclosures, deep XHTML, bad dates,
JSON Feed arrays...) it writes one document with N repetitions and one
with 4N, runs `newsalert parse` on each (best of --rounds) and prints the
two times and their ratio.  Linear work gives a ratio near 4; a ratio
over 8 (with the larger run over 0.2 s) is flagged QUADRATIC?.  A
fetcher parses each document once per poll on its parsing threads, so a
quadratic path is a denial of service: an 8 MB feed (fetcher.max_bytes)
of bare ampersands took 20-30 s of CPU before bytescan2() (common/
bytescan.h).  Some of the cost is libxml2's own: it compares each
attribute of a start tag with the others (80,000 on one element: 9 s), so
feed_parse refuses a tag with more than FEED_MAX_ATTRIBUTES (256) first;
xml_attributes and namespaces show that guard.  The guard and the cut
before entry 10,001 read markup as libxml2 does (comments, CDATA sections
and processing instructions are passed over): the patterns from
cdata_unterminated to doctype_literals exercise that walk, and
comment_hyphens a cost of libxml2's own (an error, with a copy of the
comment so far, for each "--" in a comment) that feed.c now bounds.

Usage: bench_parse_scaling.py NEWSALERT [--n 50000] [--rounds 2] [--only NAME]
Exit status: 0, or 1 when a pattern was flagged (or timed out, 60 s).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

RSS = ('<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
       'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>F</title>')
ATOM = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>'
JSONF = '{"version":"https://jsonfeed.org/version/1.1","title":"F","items":['
XHTML = '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'


def item(inner, title="t"):
    return RSS + "<item><title>%s</title>%s</item></channel></rss>" % (title, inner)


def desc(text):
    return item("<description>%s</description>" % text)


def cdata(html):
    return item("<description><![CDATA[%s]]></description>" % html)


def entry(inner):
    return ATOM + "<entry><id>x</id><title>t</title>%s</entry></feed>" % inner


PATTERNS = {
    "amp_bare": lambda n: desc("a & b " * n),
    "amp_escaped": lambda n: desc("w&amp;rds " * n),
    "amp_in_html": lambda n: cdata("w&amp;rds " * n),
    "entity_undefined": lambda n: desc("&foo; " * n),
    "numeric_refs": lambda n: desc("&#226;&#128;&#166; " * n),
    "doctype_repeated": lambda n: '<?xml version="1.0"?>' + "<!DOCTYPE x>" * n + RSS
    + "</channel></rss>",
    "entity_decls": lambda n: '<?xml version="1.0"?><!DOCTYPE rss ['
    + "".join('<!ENTITY e%d "v">' % i for i in range(n // 10)) + "]>" + RSS
    + "<item><title>&e1;</title></item></channel></rss>",
    "comments_open": lambda n: cdata("<!-- x " * n),
    "comments": lambda n: item("<description>%s</description>" % ("<!-- c -->" * n)),
    "cdata_sections": lambda n: item("<description>%s</description>" % ("<![CDATA[x]]>" * n)),
    "processing_instr": lambda n: item("<description>%s</description>" % ("<?x y?>" * n)),
    "declarations": lambda n: cdata("<!x " * n),
    "lone_lt": lambda n: cdata("a < b " * n),
    "script_unclosed": lambda n: cdata("<script>x " * n),
    "iframe_unclosed": lambda n: cdata("<iframe>x " * n),
    "tags_unclosed": lambda n: cdata("<b>x " * n),
    "tags": lambda n: cdata("<b>x</b> " * n),
    "divs_nested": lambda n: cdata("<div>" * n),
    "quoted_attrs": lambda n: cdata('<a href="x>y">z</a> ' * n),
    "many_attrs": lambda n: cdata("<a " + 'x="1" ' * n + ">x</a>"),
    "relative_urls": lambda n: cdata('<a href="../a/./b/../c">x</a>' * (n // 4)),
    "long_word": lambda n: desc("a" * (n * 5)),
    "title_entities": lambda n: item("", title="a &amp; &lt;b&gt; " * n),
    "categories": lambda n: item("".join("<category>c%d</category>" % i for i in range(n // 4))),
    "categories_same": lambda n: item("<category>same</category>" * (n // 4)),
    "links": lambda n: item("<link>http://x/0</link>" * (n // 4)),
    "enclosures": lambda n: item("".join('<enclosure url="http://x/%d" type="audio/mpeg" '
                                         'length="1"/>' % i for i in range(n // 4))),
    "media_content": lambda n: item("".join('<media:content url="http://x/%d"/>' % i
                                            for i in range(n // 4))),
    "dc_creators": lambda n: item("".join("<dc:creator>a%d</dc:creator>" % i
                                          for i in range(n // 4))),
    "atom_links": lambda n: entry("".join('<link rel="alternate" href="http://x/%d"/>' % i
                                          for i in range(n // 4))),
    "atom_authors": lambda n: entry("".join("<author><name>a%d</name></author>" % i
                                            for i in range(n // 4))),
    "atom_xhtml": lambda n: entry(XHTML + "<b>x</b>&amp; " * n + "</div></content>"),
    "atom_xhtml_nested": lambda n: entry(XHTML + "<div>" * (n // 10) + "x" + "</div>" * (n // 10)
                                         + "</div></content>"),
    "items": lambda n: RSS + "".join("<item><title>t%d</title><description>d</description>"
                                     "</item>" % i for i in range(n // 10)) + "</channel></rss>",
    "guids_same": lambda n: RSS + "<item><guid>same</guid><title>t</title></item>" * (n // 20)
    + "</channel></rss>",
    "dates_bad": lambda n: RSS + "".join("<item><guid>%d</guid><pubDate>Mon, 99 Foo 20xx "
                                         "25:61:61 +9999 xxxxxxxx</pubDate></item>" % i
                                         for i in range(n // 20)) + "</channel></rss>",
    "xml_attributes": lambda n: RSS + "<item " + " ".join('a%d="1"' % i for i in range(n // 10))
    + "><title>t</title></item></channel></rss>",
    "namespaces": lambda n: RSS.replace("<channel>", "").replace(
        "<rss ", "<rss " + " ".join('xmlns:n%d="http://x/%d"' % (i, i)
                                    for i in range(n // 10)) + " ")
    + "<channel><title>F</title></channel></rss>",
    # what the pre-scans in common/feed.c pass over (next_start_tag): sections
    # never closed, many of them, bad characters that end them, "<item" in
    # CDATA (a document over 100 KB, so entries_cut runs), a '<' in a value
    "cdata_unterminated": lambda n: item("<description><![CDATA[" + "<x a=1 " * n),
    "comment_unterminated": lambda n: item("<description><!--" + "<x a=1 -" * n),
    "pi_unterminated": lambda n: item("<description><?pi " + "<x a=1 ?" * n),
    "cdata_open_many": lambda n: item("<description>" + "<![CDATA[" * n + "</description>"),
    "cdata_end_missing": lambda n: item("<description><![CDATA[" + "]] ]>" * n),
    "comments_open_many": lambda n: item("<description>" + "<!--" * n + "</description>"),
    "pis_no_target": lambda n: item("<description>" + "<? <x a=1>" * n + "</description>"),
    "comment_hyphens": lambda n: item("<description><!--" + "-- " * n + "--></description>"),
    "sections_bad_char": lambda n: item("<description>" + "<!-- \x01 <b a=1>]]><![CDATA[\x02"
                                        * n + "</description>"),
    "cdata_item_tags": lambda n: RSS + "".join("<item><title>t%d</title><description><![CDATA["
                                               "%s]]></description></item>" % (i, "<item>" * 20)
                                               for i in range(n // 20)) + "</channel></rss>",
    "quoted_lt": lambda n: item('<enclosure url="' + "<a b='1' " * n),
    "doctype_literals": lambda n: '<?xml version="1.0"?><!DOCTYPE rss ['
    + '<!ENTITY e "<!-- ]> ]]>">' * (n // 10) + "]>" + RSS + "</channel></rss>",
    "json_items": lambda n: JSONF + ",".join('{"id":"%d","content_html":"a &amp; <b>b</b>"}' % i
                                             for i in range(n // 10)) + "]}",
    "json_tags": lambda n: JSONF + '{"id":"1","tags":[' + ",".join('"t%d"' % i
                                                                  for i in range(n // 4))
    + "]}]}",
    "json_html_entities": lambda n: JSONF + '{"id":"1","content_html":"' + "a &amp; " * n
    + '"}]}',
}


def run(newsalert, path, rounds):
    best = None
    for _ in range(rounds):
        t0 = time.monotonic()
        try:
            subprocess.run([newsalert, "parse", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
        except subprocess.TimeoutExpired:
            return 60.0
        took = time.monotonic() - t0
        best = took if best is None else min(best, took)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("newsalert")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only")
    a = ap.parse_args()
    flagged = 0
    with tempfile.TemporaryDirectory(prefix="na-bench-scaling-") as tmp:
        print("%-20s %10s %10s %10s %7s" % ("pattern", "bytes 4N", "N (s)", "4N (s)", "ratio"))
        for name, make in PATTERNS.items():
            if a.only and name != a.only:
                continue
            times = []
            for n in (a.n, 4 * a.n):
                data = make(n)
                path = os.path.join(tmp, name + (".json" if data.startswith("{") else ".xml"))
                with open(path, "w") as f:
                    f.write(data)
                times.append(run(a.newsalert, path, a.rounds))
            ratio = times[1] / max(times[0], 1e-3)
            bad = times[1] >= 60 or (ratio > 8 and times[1] > 0.2)
            flagged += bad
            print("%-20s %10d %10.3f %10.3f %7.1f %s" % (name, len(data.encode()), times[0],
                                                         times[1], ratio,
                                                         "QUADRATIC?" if bad else ""))
    print("%d pattern(s) flagged" % flagged)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())

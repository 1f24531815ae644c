#!/usr/bin/python3
"""bench_parse_feedparser.py - Python feedparser on bench_parse's corpus.

Usage: bench_parse_feedparser.py DIR

Reads the files bench_parse wrote (DIR/files.txt names them) into memory, then times
feedparser.parse() on the bytes of each (the same work bench_parse times for
newsalert: parse the document and build its entries).  The last line of the
output is "ITEMS SECONDS".  Needs Debian's python3-feedparser.
"""
import os
import sys
import time

try:
    import feedparser
except ImportError:
    sys.exit("bench_parse_feedparser: no feedparser module (apt-get install python3-feedparser)")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_parse_feedparser.py DIR")
    folder = sys.argv[1]
    with open(os.path.join(folder, "files.txt"), encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        sys.exit("bench_parse_feedparser: no feed files in %s" % folder)
    blobs = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            blobs.append(f.read())
    items = 0
    t0 = time.perf_counter()
    for blob in blobs:
        items += len(feedparser.parse(blob).entries)
    secs = time.perf_counter() - t0
    print("feedparser %s: %d files, %d items" % (feedparser.__version__, len(blobs), items))
    print("%d %.6f" % (items, secs))


if __name__ == "__main__":
    main()

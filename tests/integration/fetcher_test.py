#!/usr/bin/env python3
"""Integration test of newsalert-fetcher against a loopback HTTP server.

Usage: fetcher_test.py FETCHER_BINARY HTTP_FIXTURES_DIR [NEWSALERT_CLI]

The test starts its own HTTP server on 127.0.0.1 (a random port) with good
and bad feeds, binds a PULL socket where the fetcher PUSHes items, and runs
the real daemon.  It checks that:
  - `-n` accepts a good configuration and rejects a bad one with its name;
  - each item arrives exactly once, old items (max_age_s) are not sent on
    the first poll, gzip, file: feeds and an ill-formed-but-recovered feed
    work;
  - each bad feed (404, redirect loop, redirect to file:, oversize with and
    without Content-Length, trickling body, HTML page, refused connection)
    gives exactly one warning naming the feed and the reason, and good feeds
    keep flowing;
  - the second poll is conditional (If-None-Match) and answered 304;
  - SIGHUP with an invalid feeds file keeps the old set, a valid one adds
    feeds; SIGTERM exits 0 quickly;
  - after a restart only the genuinely new item is sent;
  - a state file that is not a database stops the start with a clear error;
  - bad input (gzip bomb cut at max_bytes of decoded data, binary garbage,
    an endless trickling body, a JSON Feed with wrong types, invalid dates)
    gives one line naming the feed, good feeds keep flowing;
phase 2 (a second daemon with max_bytes 16 MiB, per_host 2):
  - a feed of 100,000 items is read and recorded (old items, not sent);
  - a feed that reissues every GUID on each fetch alerts only once;
  - 429 with Retry-After and 503 without are backed off, a feed failing
    STORE_FAILING_AFTER times is marked failing (error line);
  - Cache-Control max-age and RSS <ttl> longer than the interval win;
  - never more than per_host transfers to one host at once;
  - `newsalert feeds` (table and --json) shows it all while the daemon runs.
"""
import calendar
import email.utils
import gzip
import http.server
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import handoff_item  # noqa: E402

FETCHER, DATA = sys.argv[1], sys.argv[2]
CLI = sys.argv[3] if len(sys.argv) > 3 else None
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    else:
        print("ok:", what, flush=True)
    return cond


def fixture(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


class State:
    lock = threading.Lock()
    requests = []  # (path, headers dict, status)
    news_version = 1
    reissue = 0  # fetches of /reissue.rss so far
    slowish_now = 0  # /slowish/ requests being served
    slowish_max = 0


def rss(title, items, extra=""):
    """An RSS 2.0 document; items are (guid, title, link or None, pubDate or None)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
           "<title>%s</title>%s" % (title, extra)]
    for guid, t, link, date in items:
        out.append("<item><guid isPermaLink=\"false\">%s</guid><title>%s</title>%s%s</item>"
                   % (guid, t, "<link>%s</link>" % link if link else "",
                      "<pubDate>%s</pubDate>" % date if date else ""))
    out.append("</channel></rss>\n")
    return "".join(out).encode()


RECENT = email.utils.formatdate(time.time() - 3600, usegmt=True)
HUGE_ITEMS = 100000
MAX_ENTRIES = 10000  # FEED_MAX_ENTRIES in common/feed.h
_huge = None


def huge_feed():
    """100,000 items dated 2020 (older than max_age_s), gzip-compressed."""
    global _huge
    if _huge is None:
        _huge = gzip.compress(rss("Huge", [("huge-%d" % i, "Item %d" % i, None,
                                            "Wed, 01 Jan 2020 00:00:00 GMT")
                                           for i in range(HUGE_ITEMS)]), 1)
    return _huge


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output readable
        pass

    def record(self, status):
        with State.lock:
            State.requests.append((self.path, dict(self.headers), status))

    def send_body(self, status, body, ctype, extra=()):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location):
        self.record(302)
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self):
        p = self.path
        if p == "/news.rss":
            with State.lock:
                v = State.news_version
            etag = '"v%d"' % v
            if self.headers.get("If-None-Match") == etag:
                self.record(304)
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_body(200, fixture("news-v%d.rss" % v), "application/rss+xml",
                           [("ETag", etag), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])
        elif p == "/news.atom":
            body = fixture("news.atom")
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_body(200, gzip.compress(body), "application/atom+xml",
                               [("Content-Encoding", "gzip")])
            else:
                self.send_body(200, body, "application/atom+xml")
        elif p in ("/bozo.rss", "/added.rss"):
            self.send_body(200, fixture(p[1:]), "application/rss+xml")
        elif p == "/page.html":
            self.send_body(200, fixture("notafeed.html"), "text/html; charset=utf-8")
        elif p == "/missing.rss":
            self.send_body(404, b"not here\n", "text/plain")
        elif p == "/loop":
            self.redirect("/loop")
        elif p == "/tofile":
            self.redirect("file:///etc/passwd")
        elif p == "/big":
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "300000")
            self.end_headers()
            for _ in range(300):
                self.wfile.write(b"<" * 1000)
        elif p == "/bigchunked":
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(300):
                self.wfile.write(b"3e8\r\n" + b"<" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/latin1.rss":
            # no XML declaration: only the HTTP charset says ISO-8859-1
            body = ("<rss version=\"2.0\"><channel><title>Latin-1</title><item>"
                    "<guid>latin1-story-1</guid><title>Caf\u00e9 cr\u00e8me</title>"
                    "</item></channel></rss>").encode("iso-8859-1")
            self.send_body(200, body, "application/rss+xml; charset=ISO-8859-1")
        elif p == "/gzipbomb":
            # 8 MiB of spaces in 8 KiB: curl must stop at max_bytes of decoded data
            body = gzip.compress(b"<rss>" + b" " * (8 << 20), 9)
            self.send_body(200, body, "application/rss+xml", [("Content-Encoding", "gzip")])
        elif p == "/garbage":
            rnd = random.Random(42)
            self.send_body(200, bytes(rnd.randrange(256) for _ in range(4000)),
                           "application/octet-stream")
        elif p in ("/badtypes.json", "/baddates.rss"):
            self.send_body(200, fixture(p[1:]), "application/feed+json" if p.endswith(".json")
                           else "application/rss+xml")
        elif p == "/endless":
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(100):  # bounded: 20 s at most
                self.wfile.write(b"1\r\n<\r\n")
                self.wfile.flush()
                time.sleep(0.2)
        elif p == "/huge.rss":
            self.send_body(200, huge_feed(), "application/rss+xml",
                           [("Content-Encoding", "gzip")])
        elif p == "/reissue.rss":
            with State.lock:
                State.reissue += 1
                n = State.reissue
            # the same two stories under new GUIDs on every fetch; one has no link
            self.send_body(200, rss("Reissue", [
                ("r%d-a" % n, "Reissued story A", "http://example.invalid/a", RECENT),
                ("r%d-b" % n, "Reissued story B", None, None)]), "application/rss+xml")
        elif p == "/ratelimited":
            self.send_body(429, b"slow down\n", "text/plain", [("Retry-After", "7200")])
        elif p == "/unavailable":
            self.send_body(503, b"down\n", "text/plain")
        elif p == "/maxage.rss":
            self.send_body(200, rss("Max-age", [("maxage-1", "Cached story", None, None)]),
                           "application/rss+xml", [("Cache-Control", "public, max-age=7200")])
        elif p == "/ttl.rss":
            self.send_body(200, rss("TTL", [("ttl-1", "TTL story", None, None)],
                                    "<ttl>180</ttl>"), "application/rss+xml")
        elif p.startswith("/slowish/"):
            with State.lock:
                State.slowish_now += 1
                State.slowish_max = max(State.slowish_max, State.slowish_now)
            time.sleep(0.4)
            with State.lock:
                State.slowish_now -= 1
            self.send_body(200, rss("Slowish", [(p, "Slowish " + p, None, None)]),
                           "application/rss+xml")
        elif p == "/slow":
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(40):  # bounded: 20 s at most
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.5)
        else:
            self.send_body(404, b"unknown\n", "text/plain")


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # the fetcher hangs up on bodies it refuses (max_bytes, gzip bomb)
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def requests_for(path):
    with State.lock:
        return [r for r in State.requests if r[0] == path]


class Daemon:
    """The fetcher as a subprocess, its stderr collected line by line."""

    def __init__(self, config):
        self.lines = []
        self.lock = threading.Lock()
        env = dict(os.environ, NEWSALERT_LOG_LEVEL="info")
        self.proc = subprocess.Popen([FETCHER, "-c", config], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, env=env)
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sys.stdout.write("  | " + line + "\n")
            with self.lock:
                self.lines.append(line)

    def grep(self, text):
        with self.lock:
            return [l for l in self.lines if text in l]

    def stop(self):
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(timeout=5)
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class Receiver:
    def __init__(self):
        self.ctx = zmq.Context()
        # The matcher's side of the acknowledged hand-off (README "Durable
        # delivery"): [routing id, {"v":1,"op":"packed_item","tag":T},
        # packed item] (or {"v":1,"op":"item","tag":T} and item JSON),
        # acknowledged with {"v":1,"op":"ack","tags":[T]}.
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.items = []
        self.keys = set()

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            if self.sock.poll(int(left * 1000)):
                peer, header, body = self.sock.recv_multipart()
                tag, item = handoff_item(header, body)  # packed, or JSON
                self.sock.send_multipart(
                    [peer, json.dumps({"v": 1, "op": "ack", "tags": [tag]}).encode()])
                key = (item.get("feed"), item.get("id"))
                if key not in self.keys:  # a resend is not a new item
                    self.keys.add(key)
                    self.items.append(item)

    def ids(self):
        return [it["id"] for it in self.items]

    def wait_ids(self, wanted, timeout):
        end = time.monotonic() + timeout
        while not wanted <= set(self.ids()) and time.monotonic() < end:
            self.drain(0.1)
        return wanted <= set(self.ids())


def feeds_json(config):
    r = subprocess.run([CLI, "feeds", "-c", config, "--json"], capture_output=True,
                       text=True, timeout=20)
    if r.returncode != 0:
        print("newsalert feeds failed:", r.stderr)
        return {}
    return {f["url"]: f for f in json.loads(r.stdout)}


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def phase2(base, rx, tmp):
    """A second daemon: huge feed, reissued GUIDs, backoff, hints, per-host
    limit, and `newsalert feeds` reading its state while it runs."""
    config = os.path.join(tmp, "phase2.json")
    with open(config, "w") as f:
        json.dump({"state_dir": "var3", "feeds": "feeds2.json", "items_endpoint": rx.endpoint,
                   "fetcher": {"concurrency": 16, "per_host": 2, "interval_s": 3600,
                               "timeout_s": 10, "max_bytes": 16 << 20,
                               "max_age_s": 30 * 86400}}, f)
    feeds = [{"url": base + "/huge.rss", "name": "Huge"},
             {"url": base + "/reissue.rss", "name": "Reissue", "interval_s": 1},
             {"url": base + "/ratelimited", "name": "Rate limited"},
             {"url": base + "/unavailable", "name": "Unavailable", "interval_s": 1},
             {"url": base + "/maxage.rss", "interval_s": 1},
             {"url": base + "/ttl.rss", "interval_s": 1}]
    feeds += [{"url": base + "/slowish/%d" % i} for i in range(6)]
    with open(os.path.join(tmp, "feeds2.json"), "w") as f:
        json.dump({"feeds": feeds}, f)
    if CLI:
        before = feeds_json(config)
        check(len(before) == len(feeds)
              and all(v["status"] == "never polled" for v in before.values()),
              "newsalert feeds before the first run: every feed never polled")
    n0 = len(rx.items)
    t0 = time.time()
    d = Daemon(config)
    # the parser keeps the first FEED_MAX_ENTRIES (10,000) entries and says so
    check(wait_for(lambda: d.grep("feed 'Huge' (%s/huge.rss): 0 new items sent, %d older"
                                  % (base, MAX_ENTRIES)), 30),
          "a feed of 100,000 items is read, its first %d recorded, not sent" % MAX_ENTRIES)
    huge = [l for l in d.grep("'Huge'") if "WARN" in l]
    check(len(huge) == 1 and "more than %d entries" % MAX_ENTRIES in huge[0],
          "one warning says the huge feed was cut: %s" % huge)
    slowish = {"/slowish/%d" % i for i in range(6)}
    check(rx.wait_ids(slowish, 20), "good feeds keep flowing beside the huge one")
    check(State.slowish_max == 2,
          "at most per_host=2 transfers to one host at once (saw %d)" % State.slowish_max)
    check(wait_for(lambda: d.grep("now marked failing"), 20),
          "a feed failing 3 times in a row is marked failing")
    failing = d.grep("now marked failing")
    check(len(failing) == 1 and "ERROR" in failing[0] and "Unavailable" in failing[0]
          and "503" in failing[0], "the failing line is an error naming the feed: %s" % failing)
    check(wait_for(lambda: State.reissue >= 4, 15), "the reissuing feed is polled again")
    rx.drain(1.0)
    got = [it for it in rx.items[n0:] if it["feed"] == base + "/reissue.rss"]
    check(len(got) == 2, "a feed reissuing its GUIDs alerts once per story: %s"
          % [it["id"] for it in got])
    check(len(requests_for("/maxage.rss")) == 1 and len(requests_for("/ttl.rss")) == 1
          and len(requests_for("/ratelimited")) == 1,
          "max-age, ttl and Retry-After longer than the interval are honoured")
    # the unavailable feed backs off exponentially: 1 s, 2 s, 4 s ...
    # 1 s, 2 s, 4 s, 8 s...: after T seconds at most log2(T + 1) + 1 requests
    un = len(requests_for("/unavailable"))
    most = int(math.log2(time.time() - t0 + 1)) + 2
    check(3 <= un <= most, "503 without Retry-After backs off exponentially (%d requests in "
          "%.0f s, at most %d)" % (un, time.time() - t0, most))
    if CLI:
        state = feeds_json(config)
        now = time.time()
        rl = state.get(base + "/ratelimited", {})
        check(rl.get("status") == "retrying" and "429" in (rl.get("last_error") or "")
              and 7200 <= epoch(rl["next_poll"]) - t0 <= 7200 * 1.1 + 30,
              "newsalert feeds: 429 retried after Retry-After: %s" % rl)
        ma = state.get(base + "/maxage.rss", {})
        check(ma.get("status") == "ok" and 7200 <= epoch(ma["next_poll"]) - t0 <= 7200 * 1.1 + 30
              and ma.get("items_seen") == 1 and ma.get("last_error") is None,
              "newsalert feeds: max-age=7200 sets the next poll: %s" % ma)
        tt = state.get(base + "/ttl.rss", {})
        check(tt.get("status") == "ok" and 10800 <= epoch(tt["next_poll"]) - t0 <= 10800 * 1.1 + 30,
              "newsalert feeds: <ttl>180</ttl> sets the next poll: %s" % tt)
        hg = state.get(base + "/huge.rss", {})
        check(hg.get("items_seen") == MAX_ENTRIES and hg.get("name") == "Huge"
              and epoch(hg["last_success"]) <= now + 1,
              "newsalert feeds: items seen of the huge feed: %s" % hg.get("items_seen"))
        un = state.get(base + "/unavailable", {})
        check(un.get("status") == "failing" and un.get("failures", 0) >= 3
              and un.get("last_error_at") is not None,
              "newsalert feeds: the failing feed: %s" % un)
        r = subprocess.run([CLI, "feeds", "-c", config], capture_output=True, text=True,
                           timeout=20)
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and lines[0].startswith("STATUS")
              and any(l.startswith("failing") and "/unavailable" in l for l in lines)
              and any("last error" in l and "503" in l for l in lines)
              and "%d feeds:" % len(feeds) in lines[-1] and "1 failing" in lines[-1],
              "newsalert feeds prints a table:\n" + r.stdout)
        r = subprocess.run([CLI, "feeds", "-c", os.path.join(tmp, "nope.json")],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "nope.json" in r.stderr,
              "newsalert feeds names a missing config: " + r.stderr.strip())
    check(d.proc.poll() is None, "the daemon keeps running through all of it")
    rc, took = d.stop()
    check(rc == 0, "phase 2 daemon exits 0 (rc %s)" % rc)
    return d


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    refused = "http://127.0.0.1:%d/feed.rss" % s.getsockname()[1]
    s.close()  # nothing listens there any more

    rx = Receiver()
    tmp = tempfile.mkdtemp(prefix="na-fetcher-test-")
    config = os.path.join(tmp, "newsalert.json")
    feeds_path = os.path.join(tmp, "feeds.json")
    with open(config, "w") as f:
        json.dump({"state_dir": "var", "feeds": "feeds.json", "items_endpoint": rx.endpoint,
                   "fetcher": {"concurrency": 4, "interval_s": 3600, "timeout_s": 2,
                               "max_bytes": 65536, "max_age_s": 30 * 86400}}, f)
    with open(os.path.join(tmp, "local.rss"), "wb") as f:  # a file: feed, by relative path
        f.write(fixture("added.rss").replace(b"added-story-1", b"local-story-1"))
    good = [{"url": base + "/news.rss", "name": "Loopback News", "interval_s": 1},
            {"url": "local.rss", "name": "Local file"},
            {"url": base + "/news.atom"},
            {"url": base + "/bozo.rss", "name": "Bozo"},
            {"url": base + "/badtypes.json", "name": "Wrong types"},
            {"url": base + "/baddates.rss", "name": "Bad dates"},
            {"url": base + "/latin1.rss", "name": "Latin-1"}]
    bad = {  # url -> what its one log line must say
        base + "/missing.rss": "404",
        base + "/loop": "redirect",
        base + "/tofile": "file",
        base + "/big": "max_bytes",
        base + "/bigchunked": "max_bytes",
        base + "/slow": "timed out",
        base + "/page.html": "not a feed",
        refused: "connect",
        base + "/gzipbomb": "max_bytes",
        base + "/garbage": "not a feed",
        base + "/endless": "timed out",
    }
    feeds = good + [{"url": u} for u in bad]
    with open(feeds_path, "w") as f:
        json.dump({"feeds": feeds}, f)

    # -n: check only
    r = subprocess.run([FETCHER, "-n", "-c", config], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "configuration OK" in r.stdout, "-n accepts a good configuration")
    bad_config = os.path.join(tmp, "bad.json")
    with open(bad_config, "w") as f:
        f.write('{"fetcher": {"concurrency": 0}}\n')
    r = subprocess.run([FETCHER, "-n", "-c", bad_config], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 1 and "bad.json" in r.stderr and "concurrency" in r.stderr,
          "-n rejects a bad configuration naming the file and key: " + r.stderr.strip())
    r = subprocess.run([FETCHER, "--version"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and r.stdout.strip() != "", "--version")

    first_ids = {"loopback-story-1", "loopback-story-2", "urn:newsalert:test:atom:1",
                 "bozo-story-1", "local-story-1", "jsonfeed-ok-1", "7", "baddate-story-1",
                 "baddate-story-2", "latin1-story-1"}  # "7": a JSON Feed id as a number
    d = Daemon(config)
    try:
        check(rx.wait_ids(first_ids, 15), "first poll delivers the new items")
        check(wait_for(lambda: all(d.grep("feed " + u + ":") for u in bad), 15),
              "every bad feed is reported")
        # the good feed polls every second: wait for a conditional round
        check(wait_for(lambda: any(st == 304 for _, _, st in requests_for("/news.rss")), 10),
              "second poll of news.rss is answered 304")
        rx.drain(1.5)
        reqs = requests_for("/news.rss")
        check(len(reqs) >= 2 and reqs[0][1].get("If-None-Match") is None
              and reqs[1][1].get("If-None-Match") == '"v1"'
              and reqs[1][1].get("If-Modified-Since") == "Mon, 01 Jan 2024 00:00:00 GMT",
              "conditional GET sends the validators")
        ua = reqs[0][1].get("User-Agent", "")
        check(ua.startswith("newsalert/") and "(+https://github.com/newsalert)" in ua,
              "honest User-Agent: " + ua)
        atom = requests_for("/news.atom")
        check(atom and "gzip" in atom[0][1].get("Accept-Encoding", ""),
              "compressed responses are accepted")
        ids = rx.ids()
        check(sorted(ids) == sorted(first_ids), "each item arrives exactly once: %s" % ids)
        check("loopback-story-old" not in ids, "an item older than max_age_s is not sent")
        story = [it for it in rx.items if it["id"] == "loopback-story-2"][0]
        check(story.get("feed") == base + "/news.rss" and story.get("title") == "Second story",
              "item carries its feed and title")
        for u, reason in bad.items():
            lines = d.grep("feed " + u + ":")
            check(len(lines) == 1 and reason in lines[0].split(u + ":", 1)[1]
                  and "WARN" in lines[0],
                  "one warning for %s saying '%s': %s" % (u, reason, lines))
        check(len(d.grep("'Bozo'")) >= 1 and any("ill-formed" in l for l in d.grep("'Bozo'")),
              "a recovered ill-formed feed gives a warning")
        wrong = [l for l in d.grep("'Wrong types'") if "WARN" in l]
        check(len(wrong) == 1 and "ill-formed" in wrong[0] and "wrong type" in wrong[0],
              "a JSON Feed with wrong types gives one warning, its good item flows: %s" % wrong)
        latin = [it for it in rx.items if it["id"] == "latin1-story-1"]
        check(latin and latin[0].get("title") == "Caf\u00e9 cr\u00e8me",
              "the HTTP Content-Type charset decodes the feed: %s" % latin)
        dated = [it for it in rx.items if it["id"].startswith("baddate-")]
        check(len(dated) == 2 and all("published" not in it for it in dated),
              "items with invalid dates are sent without a date: %s" % dated)
        bomb = [r for r in requests_for("/gzipbomb")]
        check(len(bomb) == 1, "the gzip bomb is fetched once and cut at max_bytes")
        check(len(requests_for("/slow")) == 1 and len(requests_for("/missing.rss")) == 1,
              "failed feeds are not retried before their backoff")

        # SIGHUP with an invalid feeds file: the old set stays in force
        with open(feeds_path, "w") as f:
            f.write('{"feeds": [ {"url": 42} ]}\n')
        d.proc.send_signal(signal.SIGHUP)
        check(wait_for(lambda: d.grep("reload failed"), 5),
              "an invalid feeds file on reload is reported")
        check(any("feeds.json" in l for l in d.grep("reload failed")),
              "the reload error names the feeds file")
        n = len(requests_for("/news.rss"))
        check(wait_for(lambda: len(requests_for("/news.rss")) >= n + 2, 6)
              and d.proc.poll() is None, "the old feeds keep being polled after a bad reload")

        # SIGHUP with a valid file adding a feed
        with open(feeds_path, "w") as f:
            json.dump({"feeds": feeds + [{"url": base + "/added.rss"}]}, f)
        d.proc.send_signal(signal.SIGHUP)
        check(rx.wait_ids({"added-story-1"}, 8), "a feed added by reload is polled")
        check(len(d.grep("feed " + base + "/missing.rss:")) == 1,
              "a reload keeps the state (and backoff) of the feeds that stay")

        rc, took = d.stop()
        check(rc == 0 and took < 3.0, "SIGTERM exits 0 quickly (rc %s, %.2f s)" % (rc, took))
        rx.drain(0.5)
        before = list(rx.ids())

        # restart: the feed now has one more story; only that one is sent
        with State.lock:
            State.news_version = 2
        d = Daemon(config)
        check(rx.wait_ids({"loopback-story-3"}, 10), "the new story arrives after restart")
        rx.drain(2.0)
        after = rx.ids()[len(before):]
        check(after == ["loopback-story-3"], "a restart sends nothing twice: %s" % after)
        check(os.path.exists(os.path.join(tmp, "var", "fetcher.db")),
              "state is kept in state_dir/fetcher.db")
        rc, took = d.stop()
        check(rc == 0 and took < 3.0, "SIGTERM exits 0 quickly again (rc %s, %.2f s)" % (rc, took))

        # a state file that is not a database: refuse to start, say why
        os.makedirs(os.path.join(tmp, "var2"))
        with open(os.path.join(tmp, "var2", "fetcher.db"), "w") as f:
            f.write("not a database\n" * 300)
        corrupt = os.path.join(tmp, "corrupt.json")
        with open(corrupt, "w") as f:
            json.dump({"state_dir": "var2", "feeds": "feeds.json",
                       "items_endpoint": rx.endpoint}, f)
        r = subprocess.run([FETCHER, "-c", corrupt], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "var2/fetcher.db" in r.stderr
              and "not a database" in r.stderr,
              "a corrupt state file is refused: " + r.stderr.strip())
        d = phase2(base, rx, tmp)
    finally:
        d.kill()
        server.shutdown()
        rx.sock.close(0)
        rx.ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

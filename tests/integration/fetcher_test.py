#!/usr/bin/env python3
"""Integration test of newsalert-fetcher against a loopback HTTP server.

Usage: fetcher_test.py FETCHER_BINARY HTTP_FIXTURES_DIR

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
  - a state file that is not a database stops the start with a clear error.
"""
import gzip
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import zmq

FETCHER, DATA = sys.argv[1], sys.argv[2]
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
        self.sock = self.ctx.socket(zmq.PULL)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.items = []

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            if self.sock.poll(int(left * 1000)):
                self.items.append(json.loads(self.sock.recv()))

    def ids(self):
        return [it["id"] for it in self.items]

    def wait_ids(self, wanted, timeout):
        end = time.monotonic() + timeout
        while not wanted <= set(self.ids()) and time.monotonic() < end:
            self.drain(0.1)
        return wanted <= set(self.ids())


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
            {"url": base + "/bozo.rss", "name": "Bozo"}]
    bad = {  # url -> what its one log line must say
        base + "/missing.rss": "404",
        base + "/loop": "redirect",
        base + "/tofile": "file",
        base + "/big": "max_bytes",
        base + "/bigchunked": "max_bytes",
        base + "/slow": "timed out",
        base + "/page.html": "not a feed",
        refused: "connect",
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
                 "bozo-story-1", "local-story-1"}
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

#!/usr/bin/env python3
"""HTTPS and HTTP/2 test of newsalert-fetcher against a loopback nginx.

Usage: fetcher_http2_test.py FETCHER_BINARY

Everything runs on 127.0.0.1 in a temporary directory.  The test makes a
throwaway CA and a server certificate for 127.0.0.1/localhost signed by it,
plus a second ("rogue") CA and a certificate signed by that one, with the
`openssl` command; it starts Debian's nginx (private prefix, free ports)
with three servers:
  h2     `listen ... ssl http2`, the good certificate, NFEEDS feeds slowed
         down by limit_rate so that transfers overlap;
  rogue  `listen ... ssl http2`, the certificate of the untrusted CA;
  plain  cleartext HTTP/1.1;
and an access log with $server_protocol, $connection and
$connection_requests.  A ZeroMQ ROUTER stands in for the matcher (it keeps
the items and acknowledges them).  It checks that:
  - `-n` rejects a fetcher.ca_file that does not exist, naming the key;
  - `newsalert-fetcher --once` with fetcher.ca_file = the test CA and the
    default per_host (2) fetches every https feed over HTTP/2.0 (nginx's
    log; the fetcher's debug log says HTTP/2 too), the feeds of the h2 host
    share connections (fewer connections than requests, a connection
    serving several requests, two requests in progress at once on one
    connection: multiplexed streams), never more than 2 connections and
    never more than 2 requests in progress at once to that host (from each
    request's start and end in the log: limit_rate makes each transfer
    last over a second), and every item arrives once;
  - the rogue feed fails with exactly one log line naming it and the
    certificate problem, and is counted failed; the other feeds keep going;
  - the cleartext feed is fetched over HTTP/1.1 and its items arrive;
  - without fetcher.ca_file (libcurl's system bundle) the same https feed
    is refused: verification stays on, the CA file is what lets it through.
Exit status 77 (skipped) when nginx or openssl is missing
(deploy/install-deps.sh --test installs them).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (NGINX_PRIVATE_PATHS, check, finish, free_port, handoff_item,  # noqa: E402
                    start_nginx, write_json)

try:
    import zmq
except ImportError:
    sys.exit("fetcher_http2_test: python3-zmq is missing (deploy/install-deps.sh --test)")

NFEEDS = 8       # feeds on the h2 host
NITEMS = 3       # items per feed
PER_HOST = 2     # the documented default of fetcher.per_host
PAD = 24 * 1024  # bytes of padding per feed: with limit_rate 16k, over 1 s per transfer
SLACK = 0.3      # seconds: how late nginx may log a request's end (see main)

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    types {{ application/rss+xml rss; }}
    default_type application/octet-stream;
    log_format h2 '$server_port $server_protocol $connection $connection_requests '
                  '$msec $request_time $status $request_uri';
    access_log {tmp}/access.log h2;
{paths}    sendfile off;
    server {{
        listen 127.0.0.1:{h2_port} ssl http2;
        ssl_certificate {tmp}/pki/server.pem;
        ssl_certificate_key {tmp}/pki/server.key;
        root {tmp}/www;
        limit_rate_after 1k;
        limit_rate 16k;
    }}
    server {{
        listen 127.0.0.1:{rogue_port} ssl http2;
        ssl_certificate {tmp}/pki/rogue-server.pem;
        ssl_certificate_key {tmp}/pki/rogue-server.key;
        root {tmp}/www;
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        root {tmp}/www;
    }}
}}
"""


def run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), r.stdout.decode()))


def make_pki(pki):
    """ca.pem (trusted), server.pem/key signed by it for 127.0.0.1 and
    localhost; rogue-ca.pem and rogue-server.pem/key signed by the rogue CA
    for the same names.  EC P-256 keys: quick to make."""
    os.makedirs(pki)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(pki, "server.ext"), "w") as f:
        f.write("basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    for ca in ("ca", "rogue-ca"):
        run(["openssl", "req", "-x509"] + key +
            ["-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
             "-subj", "/CN=newsalert test %s" % ca,
             "-addext", "basicConstraints = critical, CA:TRUE",
             "-addext", "keyUsage = critical, keyCertSign, cRLSign"], pki)
    for srv, ca in (("server", "ca"), ("rogue-server", "rogue-ca")):
        run(["openssl", "req", "-new"] + key +
            ["-keyout", srv + ".key", "-out", srv + ".csr", "-subj", "/CN=localhost"], pki)
        run(["openssl", "x509", "-req", "-in", srv + ".csr", "-CA", ca + ".pem",
             "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2", "-sha256",
             "-extfile", "server.ext", "-out", srv + ".pem"], pki)


def rss(name, guids, now):
    items = "".join(
        "<item><guid isPermaLink=\"false\">%s</guid><title>story %s</title>"
        "<link>https://example.org/%s</link><pubDate>%s</pubDate>"
        "<description>about %s</description></item>"
        % (g, g, g, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now - 60)), g)
        for g in guids)
    return ("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>%s</title>"
            "<link>https://example.org/</link><description>test feed</description>%s"
            "</channel></rss>\n<!-- %s -->\n" % (name, items, "x" * PAD)).encode()


class Matcher:
    """The matcher's side of the hand-off (README "Durable delivery"): a
    ROUTER that keeps every item and acknowledges what it read."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.items = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            if not self.sock.poll(100):
                continue
            acks = {}
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(frames) != 3:
                    continue
                peer, header, body = frames
                tag, item = handoff_item(header, body)  # packed, or JSON
                acks.setdefault(peer, []).append(tag)
                with self.lock:
                    self.items.append(item)
                if len(acks[peer]) >= 1000:  # an ack carries at most 1024 tags
                    break
            for peer, tags in acks.items():
                self.sock.send_multipart(
                    [peer, json.dumps({"v": 1, "op": "ack", "tags": tags}).encode()])

    def got(self):
        with self.lock:
            return list(self.items)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close(0)
        self.ctx.term()


def run_once(fetcher, config, log):
    """`newsalert-fetcher --once` (debug log to `log`): (exit status, the
    round summary or None, the log text)."""
    env = dict(os.environ, NEWSALERT_LOG_LEVEL="debug")
    with open(log, "w") as err:
        try:
            r = subprocess.run([fetcher, "-c", config, "--once"], stdout=subprocess.PIPE,
                               stderr=err, env=env, timeout=90)
        except subprocess.TimeoutExpired:
            return None, None, ""
    with open(log, errors="replace") as f:
        text = f.read()
    lines = r.stdout.decode().strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else None
    except ValueError:
        summary = None
    return r.returncode, summary, text


def read_access_log(path):
    """[{port, proto, conn, conn_req, start, end, status, uri}] from the log."""
    out = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 8:
                continue
            end, took = float(p[4]), float(p[5])
            out.append({"port": int(p[0]), "proto": p[1], "conn": int(p[2]),
                        "conn_req": int(p[3]), "start": end - took, "end": end,
                        "status": int(p[6]), "uri": p[7]})
    return out


def max_overlap(intervals):
    """The most intervals (start, end) open at one instant; one that ends
    exactly when another starts does not overlap it."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda ev: (ev[0], ev[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def main():
    fetcher = os.path.abspath(sys.argv[1])
    for tool in ("nginx", "openssl"):
        if shutil.which(tool) is None:
            print("fetcher_http2_test: %s not found (deploy/install-deps.sh --test)" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="na-test-http2-")
    nginx = matcher = None
    try:
        os.chmod(tmp, 0o755)  # nginx started by root serves as an unprivileged worker
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        os.chmod(www, 0o755)
        make_pki(os.path.join(tmp, "pki"))
        ports = {"h2_port": free_port(), "rogue_port": free_port(), "plain_port": free_port()}
        h2 = "https://127.0.0.1:%d" % ports["h2_port"]
        now = int(time.time())
        want = {}  # feed URL -> set of guids
        feeds = []
        for i in range(NFEEDS):
            name = "feed-%d.rss" % i
            guids = ["h2-%d-%d" % (i, k) for k in range(NITEMS)]
            with open(os.path.join(www, name), "wb") as f:
                f.write(rss(name, guids, now))
            url = "%s/%s" % (h2, name)
            want[url] = set(guids)
            feeds.append({"url": url})
        with open(os.path.join(www, "plain.rss"), "wb") as f:
            f.write(rss("plain", ["plain-1", "plain-2"], now))
        with open(os.path.join(www, "rogue.rss"), "wb") as f:
            f.write(rss("rogue", ["rogue-1"], now))
        plain_url = "http://127.0.0.1:%d/plain.rss" % ports["plain_port"]
        rogue_url = "https://127.0.0.1:%d/rogue.rss" % ports["rogue_port"]
        want[plain_url] = {"plain-1", "plain-2"}
        feeds.append({"url": plain_url})
        feeds.append({"url": rogue_url, "name": "rogue feed"})
        write_json(os.path.join(tmp, "feeds.json"), {"feeds": feeds})
        conf = NGINX_CONF.format(tmp=tmp, paths=NGINX_PRIVATE_PATHS.format(tmp=tmp), **ports)
        nginx = start_nginx(tmp, conf, ports.values())
        matcher = Matcher()
        base = {"state_dir": "state", "feeds": "feeds.json", "items_endpoint": matcher.endpoint}
        fetch = {"concurrency": 16, "interval_s": 3600, "timeout_s": 30, "max_age_s": 0}

        # -n: a CA file that is not there is a configuration error
        cfg = write_json(os.path.join(tmp, "bad-ca.json"),
                         dict(base, fetcher=dict(fetch, ca_file="pki/missing.pem")))
        r = subprocess.run([fetcher, "-c", cfg, "-n"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        err = r.stderr.decode()
        check(r.returncode != 0 and "bad-ca.json:" in err and "fetcher.ca_file" in err
              and "missing.pem" in err,
              "-n rejects a missing fetcher.ca_file, naming the file and key: %s" % err.strip())

        # the round: per_host left at its default
        cfg = write_json(os.path.join(tmp, "newsalert.json"),
                         dict(base, fetcher=dict(fetch, ca_file="pki/ca.pem")))
        rc, summary, log = run_once(fetcher, cfg, os.path.join(tmp, "fetcher.log"))
        check(rc == 0, "--once exits 0 (rc %s)" % rc)
        check(summary is not None and summary.get("feeds") == NFEEDS + 2
              and summary.get("ok") == NFEEDS + 1 and summary.get("failed") == 1,
              "round: %d feeds ok, the rogue one failed: %s" % (NFEEDS + 1, summary))

        # the items
        got = {}
        ok = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            items = matcher.got()
            if len(items) >= sum(len(v) for v in want.values()):
                break
            time.sleep(0.1)
        for it in matcher.got():
            got.setdefault(it.get("feed"), []).append(it.get("id"))
        for url, guids in want.items():
            ids = got.get(url, [])
            if sorted(ids) != sorted(guids):
                ok = False
                print("  %s: got %s, want %s" % (url, sorted(ids), sorted(guids)))
        check(ok, "every item of the %d https feeds and the http feed arrives exactly once"
              % NFEEDS)
        check(rogue_url not in got, "nothing arrives from the rogue feed")

        # nginx's view
        time.sleep(0.2)
        reqs = read_access_log(os.path.join(tmp, "access.log"))
        on_h2 = [q for q in reqs if q["port"] == ports["h2_port"]]
        check(len(on_h2) == NFEEDS and all(q["status"] == 200 for q in on_h2),
              "nginx served %d requests with 200 on the h2 host (%d)" % (NFEEDS, len(on_h2)))
        check(all(q["proto"] == "HTTP/2.0" for q in on_h2),
              "every https request was HTTP/2.0: %s" % sorted({q["proto"] for q in on_h2}))
        conns = {}
        for q in on_h2:
            conns.setdefault(q["conn"], []).append(q)
        check(len(conns) <= PER_HOST and len(conns) < len(on_h2),
              "the %d feeds of one host shared %d connection(s) (at most per_host=%d)"
              % (len(on_h2), len(conns), PER_HOST))
        check(max((q["conn_req"] for q in on_h2), default=0) >= 2,
              "a connection served several requests ($connection_requests up to %d)"
              % max((q["conn_req"] for q in on_h2), default=0))
        # nginx logs a request when it has sent the last byte, which under
        # load can be a little after the client saw it end and started the
        # next one: each interval loses SLACK at its end.  A transfer takes
        # over a second (limit_rate), so a third one at once would still
        # overlap the other two by most of a second.
        overlap = max_overlap([(q["start"], max(q["start"], q["end"] - SLACK))
                               for q in on_h2])
        check(overlap == PER_HOST,
              "per_host=%d requests in progress at once on the h2 host, never more (saw %d)"
              % (PER_HOST, overlap))
        mux = max(max_overlap([(q["start"], q["end"]) for q in v]) for v in conns.values())
        check(mux >= 2, "streams were multiplexed: %d requests in progress at once on one "
              "connection" % mux)
        span = [(min(q["start"] for q in v),
                 max(min(q["start"] for q in v), max(q["end"] for q in v) - SLACK))
                for v in conns.values()]
        check(max_overlap(span) <= PER_HOST,
              "at most per_host=%d connections open at once to the h2 host (saw %d)"
              % (PER_HOST, max_overlap(span)))
        plain = [q for q in reqs if q["port"] == ports["plain_port"]]
        check(len(plain) == 1 and plain[0]["proto"] == "HTTP/1.1" and plain[0]["status"] == 200,
              "the http:// feed was fetched over HTTP/1.1: %s"
              % [(q["proto"], q["status"]) for q in plain])
        check(not any(q["port"] == ports["rogue_port"] for q in reqs),
              "no request reached the rogue server (the handshake was refused)")

        # the fetcher's view
        lines = log.splitlines()
        h2_lines = [l for l in lines if "HTTP/2" in l and "127.0.0.1:%d" % ports["h2_port"] in l]
        check(len(h2_lines) == NFEEDS,
              "the fetcher's debug log names HTTP/2 for each https feed (%d lines)"
              % len(h2_lines))
        rogue_lines = [l for l in lines if "rogue.rss" in l and " DEBUG " not in l]
        check(len(rogue_lines) == 1 and "rogue feed" in rogue_lines[0]
              and "certificate" in rogue_lines[0],
              "one log line names the rogue feed and the certificate problem: %s" % rogue_lines)

        # without the CA file the same host is refused (libcurl's bundle)
        write_json(os.path.join(tmp, "feeds-one.json"), {"feeds": [{"url": h2 + "/feed-0.rss"}]})
        cfg = write_json(os.path.join(tmp, "no-ca.json"),
                         dict(base, state_dir="state-no-ca", feeds="feeds-one.json",
                              fetcher=fetch))
        rc, summary, log = run_once(fetcher, cfg, os.path.join(tmp, "fetcher-no-ca.log"))
        bad = [l for l in log.splitlines() if "feed-0.rss" in l and " DEBUG " not in l]
        check(rc == 0 and summary is not None and summary.get("failed") == 1
              and summary.get("ok") == 0 and len(bad) == 1,
              "without fetcher.ca_file the test CA is not trusted: %s %s" % (summary, bad))
    finally:
        if matcher is not None:
            matcher.close()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        rc = finish()
        if rc == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s for a look" % tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())

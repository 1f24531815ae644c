"""Shared helpers for newsalert's Python integration tests and the e2e bench
(loopback only).  The scripts are run as `python3 path/to/script.py ...`; they
put this directory on sys.path and import what they need.

check, failures, checks,  the ok/FAIL report every script prints, the
finish                    failed checks it counts, its verdict and exit status
free_port, wait_for       a free loopback TCP port; polling a predicate
sigterm, Proc, stop_all   stopping a daemon with SIGTERM (exit status, time);
                          a restartable daemon logging to TMP/NAME.log
write_json, read_jsonl,   config files; JSON-lines output files (optionally
count_lines, read_lines   complete lines only: a writer may be mid-line)
tally                     a file of alerts against the expected ones
serve_directory           a quiet HTTP server for a directory
NGINX_PRIVATE_PATHS,      Debian's nginx run by an unprivileged test from a
start_nginx               private prefix (its temp paths under TMP), waited for
                          on every port it listens on
write_fault_feeds         the fault tests' feeds and expected alerts
Producer, Replayer        the fetcher's side of the matcher's item hand-off and
                          a replay client (README "Durable delivery")
pack_item, unpack_item,   the packed item record (common/item_pack.h) from and
handoff_item              to the item's JSON object; a received hand-off
                          message's tag and item, in either encoding
FakeMatcher  the matcher's side of the documented protocol (README "Durable
             delivery"): a PUB alerts_endpoint with heartbeats and a ROUTER
             replay_endpoint answering from an in-memory journal.  Alerts can
             be journaled without being published live, to force a replay.
HookServer   an HTTP server recording every request; its answers are
             scripted (status codes, Retry-After, delays); it can also be
             started late on a fixed port (a receiver that was down).
SmtpServer   a small SMTP responder (EHLO, MAIL, RCPT, DATA, RSET, NOOP,
             QUIT) recording messages; it can refuse the first ones (451).
"""
import functools
import http.server
import json
import os
import queue
import signal
import socket
import socketserver
import subprocess
import threading
import time
import types

try:
    import zmq
except ImportError:  # only the ZeroMQ helpers need it; their scripts check
    zmq = None

HEARTBEAT = b"\x01heartbeat"

failures = []   # what each failed check said
checks = [0]    # how many checks ran


def check(cond, what):
    """Print "ok   WHAT" or "FAIL WHAT"; a failure is kept in failures."""
    checks[0] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def finish():
    """Print the verdict line; the script's exit status (1 if a check failed)."""
    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# The temporary directories of an nginx run from the private prefix {tmp}
# (for an nginx.conf's http block; format it with tmp=...).
NGINX_PRIVATE_PATHS = """
    client_body_temp_path {tmp}/t-body;
    proxy_temp_path {tmp}/t-proxy;
    fastcgi_temp_path {tmp}/t-fcgi;
    uwsgi_temp_path {tmp}/t-uwsgi;
    scgi_temp_path {tmp}/t-scgi;
"""


def start_nginx(tmp, conf, ports):
    """Write conf to TMP/nginx.conf, start nginx in the foreground with the
    prefix TMP and wait (10 s at most) until each of ports accepts a
    connection.  Returns the process; raises RuntimeError with nginx's
    stderr when it exits or does not listen in time."""
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(tmp, "nginx-stderr.log"), "w") as errlog:
        proc = subprocess.Popen(["nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"),
                                 "-e", os.path.join(tmp, "nginx-error.log")],
                                stdout=subprocess.DEVNULL, stderr=errlog)
    end = time.monotonic() + 10
    while time.monotonic() < end and proc.poll() is None:
        try:
            for port in ports:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    with open(os.path.join(tmp, "nginx-stderr.log")) as f:
        raise RuntimeError("nginx did not start: %s" % f.read())


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def sigterm(proc, timeout):
    """SIGTERM proc and wait up to timeout seconds: (exit status, seconds);
    the status is None when it had to be SIGKILLed (proc.returncode then
    holds the kill's status)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    return rc, time.monotonic() - t0


class Proc:
    """A daemon run from argv, stderr (and stdout, unless a stdout path is
    given) appended to TMP/NAME.log; it can be killed and started again."""

    def __init__(self, name, argv, tmp, stdout=None):
        self.name, self.argv, self.tmp = name, argv, tmp
        self.log = open(os.path.join(tmp, name + ".log"), "a")
        self.out = stdout
        self.p = None
        self.start()

    def start(self):
        out = open(self.out, "a") if self.out else self.log
        self.p = subprocess.Popen(self.argv, stdout=out, stderr=self.log)
        if self.out:
            out.close()

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        """SIGCONT + SIGTERM it if it runs; its exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGCONT)
            rc, _ = sigterm(self.p, 20)
            return self.p.returncode if rc is None else rc
        return self.p.returncode

    def logtext(self):
        with open(os.path.join(self.tmp, self.name + ".log"), errors="replace") as f:
            return f.read()


def stop_all(procs, tail):
    """Stop every Proc whatever happens (a finally's clean-up); when a check
    failed, print the last tail lines of each one's log."""
    for p in procs:
        try:
            p.stop()
        except Exception:
            pass
    if failures:
        for p in procs:
            print("---- %s log (tail)" % p.name)
            print("".join(p.logtext().splitlines(True)[-tail:]))


def write_json(path, obj, indent=None):
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent)
    return path


def write_fault_feeds(tmp, nitems, nfeeds, rules, marks):
    """The fault-injection workload: nfeeds RSS files under TMP/feeds holding
    nitems items (item n's title: "story number N" plus each word of marks,
    [(word, modulus)], that divides n) and TMP/feeds.json listing them.
    rules is [(rule id, word)]; returns the expected {(rule id, guid)}."""
    os.makedirs(os.path.join(tmp, "feeds"))
    want = set()
    per = (nitems + nfeeds - 1) // nfeeds
    entries = []
    for f in range(nfeeds):
        items = []
        for k in range(per):
            n = f * per + k + 1
            if n > nitems:
                break
            guid = "s-%d" % n
            w = ["story", "number", str(n)] + [m for m, k in marks if n % k == 0]
            for rule, word in rules:
                if word in w:
                    want.add((rule, guid))
            items.append("<item><guid isPermaLink=\"false\">%s</guid><title>%s</title>"
                         "<link>http://example.org/%d</link></item>" % (guid, " ".join(w), n))
        name = "feeds/f%03d.rss" % f
        with open(os.path.join(tmp, name), "w") as fp:
            fp.write("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed %d"
                     "</title><link>http://example.org/</link><description>t</description>%s"
                     "</channel></rss>" % (f, "".join(items)))
        entries.append({"url": name, "interval_s": 3600})
    write_json(os.path.join(tmp, "feeds.json"), {"feeds": entries})
    return want


def read_jsonl(path, complete=True):
    """The JSON lines of path ([] if missing).  By default only the lines
    ending in a newline: a daemon may be writing the last one while a test
    polls the file (a torn line still shows, as a missing alert, in the
    counts the tests check); complete=False also parses a last line without
    its newline."""
    try:
        with open(path, encoding="utf-8") as f:
            if complete:
                return [json.loads(line) for line in f if line.endswith("\n")]
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def tally(path, want):
    """Check a JSON-lines file of alerts (its complete lines) against want,
    the expected {(rule id, item id)}: its alerts, how many expected ones are
    missing, duplicate seqs and duplicate alerts, whether the seqs are in
    order, and exact: every expected alert exactly once, nothing else, in
    seq order."""
    alerts = read_jsonl(path, complete=True)
    seqs = [a["seq"] for a in alerts]
    keys = [(a["rule"]["id"], a["item"]["id"]) for a in alerts]
    t = types.SimpleNamespace(alerts=alerts, missing=len(want - set(keys)),
                              dup_seq=len(seqs) - len(set(seqs)),
                              dup_key=len(keys) - len(set(keys)), in_order=seqs == sorted(seqs))
    t.exact = (t.missing == 0 and t.dup_seq == 0 and t.dup_key == 0
               and len(alerts) == len(want) and t.in_order)
    return t


def read_lines(path):
    """The non-blank lines of path, as text ([] if missing)."""
    try:
        with open(path) as f:
            return [l for l in f.read().splitlines() if l.strip()]
    except FileNotFoundError:
        return []


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"\n")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_directory(root):
    """Serve root over HTTP on a free loopback port, without logging; the
    server runs in a daemon thread.  Returns (server, base URL)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_Quiet, directory=root))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, "http://127.0.0.1:%d" % httpd.server_address[1]


def alert(rule, seq, title="A title", summary="text", snippet=None):
    a = {
        "v": 1, "seq": seq, "ts": "2025-02-12T15:35:00Z",
        "rule": {"id": rule, "name": rule.upper()},
        "item": {"id": "id-%d" % seq, "title": title, "link": "https://example.org/%d" % seq,
                 "feed": "https://example.org/feed", "feed_title": "Example",
                 "published": "2025-02-12T15:30:00Z", "summary": summary},
    }
    if snippet is not None:
        a["matched"] = {"snippet": snippet}
    return json.dumps(a, separators=(",", ":"))


PACK_MAGIC = b"NAI1"
PACK_STRINGS = ("id", "title", "summary", "content", "link", "feed", "feed_title", "author")
PACK_ABSENT = 0xFFFFFFFF
PACK_TIME_UNKNOWN = -(1 << 63)


def pack_item(it):
    """The packed record (common/item_pack.h) of an item's JSON object:
    absent or null strings are absent, `published` epoch seconds or an
    RFC 3339 UTC string ("...Z")."""
    import datetime
    import struct
    out = [PACK_MAGIC]

    def put(s):
        if s is None:
            out.append(struct.pack("<I", PACK_ABSENT))
        else:
            b = s.encode("utf-8")
            out.append(struct.pack("<I", len(b)) + b)

    for k in PACK_STRINGS:
        put(it.get(k))
    cats = it.get("categories") or []
    out.append(struct.pack("<I", len(cats)))
    for c in cats:
        put(c)
    pub = it.get("published")
    if pub is None:
        pub = PACK_TIME_UNKNOWN
    elif isinstance(pub, str):
        d = datetime.datetime.fromisoformat(pub.replace("Z", "+00:00"))
        pub = int(d.timestamp())
    out.append(struct.pack("<q", pub))
    return b"".join(out)


def unpack_item(rec):
    """The item's JSON object (as item_to_json writes it) of a packed
    record; raises ValueError when it is not a well-formed record."""
    import struct
    import time as _time
    if rec[:4] != PACK_MAGIC:
        raise ValueError("no packed magic")
    off = 4
    item = {}

    def get():
        nonlocal off
        (n,) = struct.unpack_from("<I", rec, off)
        off += 4
        if n == PACK_ABSENT:
            return None
        if off + n > len(rec):
            raise ValueError("length past the end")
        s = rec[off:off + n].decode("utf-8")
        off += n
        return s

    for k in PACK_STRINGS:
        v = get()
        if v is not None:
            item[k] = v
    (n,) = struct.unpack_from("<I", rec, off)
    off += 4
    cats = [get() for _ in range(n)]
    if cats:
        item["categories"] = cats
    (pub,) = struct.unpack_from("<q", rec, off)
    off += 8
    if off != len(rec):
        raise ValueError("trailing bytes")
    if pub != PACK_TIME_UNKNOWN:
        item["published"] = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(pub))
    return item


def handoff_item(header, body):
    """(tag, item object) of a received hand-off item message, JSON (op
    "item") or packed (op "packed_item")."""
    hdr = json.loads(header)
    if hdr.get("op") == "packed_item":
        return hdr["tag"], unpack_item(body)
    return hdr["tag"], json.loads(body)


class Producer:
    """The fetcher's side of the matcher's item hand-off, by hand."""

    def __init__(self, ctx, endpoint):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.tag = 0

    def send(self, items, packed=False):
        """Send item objects (as JSON, or packed records with op
        "packed_item"); returns their tags."""
        tags = set()
        for it in items:
            self.tag += 1
            tags.add(self.tag)
            hdr = {"v": 1, "op": "packed_item" if packed else "item", "tag": self.tag}
            self.sock.send_multipart([json.dumps(hdr).encode(),
                                      pack_item(it) if packed else json.dumps(it).encode()])
        return tags

    def wait_acks(self, tags, timeout=20):
        end = time.monotonic() + timeout
        left = set(tags)
        while left and time.monotonic() < end:
            if self.sock.poll(200):
                left -= set(json.loads(self.sock.recv())["tags"])
        return not left


class Replayer:
    def __init__(self, ctx, endpoint):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.id = 0

    def ask(self, req, timeout=10):
        """Send req; return (alerts [(seq, topic, body)], batch sizes, final header)."""
        self.id += 1
        req = dict(req, v=1, id=self.id)
        self.sock.send(json.dumps(req).encode())
        alerts, sizes = [], []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.sock.poll(200):
                continue
            frames = self.sock.recv_multipart()
            hdr = json.loads(frames[0])
            if hdr.get("id") != self.id:
                continue
            if hdr["type"] == "batch":
                sizes.append(hdr["count"])
                for k in range(1, len(frames), 2):
                    body = json.loads(frames[k + 1])
                    alerts.append((body["seq"], frames[k].decode(), body))
                continue
            return alerts, sizes, hdr
        return alerts, sizes, None

    def all_after(self, after, topics=None):
        """Replay until caught up (following 'last' when the server stops early)."""
        alerts, sizes = [], []
        while True:
            req = {"op": "replay", "after": after}
            if topics is not None:
                req["topics"] = topics
            got, sz, hdr = self.ask(req)
            alerts += got
            sizes += sz
            if hdr is None or hdr["type"] != "end" or hdr["last"] >= hdr["head"]:
                return alerts, sizes, hdr
            after = hdr["last"]



class FakeMatcher:
    """PUB + replay ROUTER in one thread; publish() from any thread."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.journal = []          # (seq, topic bytes, body bytes)
        self.cmds = queue.Queue()
        self.stop = False
        self.replays = 0
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.setsockopt(zmq.SNDHWM, 100000)
        self.pub_port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.replay_port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def alerts_endpoint(self):
        return "tcp://127.0.0.1:%d" % self.pub_port

    @property
    def replay_endpoint(self):
        return "tcp://127.0.0.1:%d" % self.replay_port

    def head(self):
        return self.journal[-1][0] if self.journal else 0

    def publish(self, topic, body, live=True):
        """Journal an alert (its body carries its seq) and publish it."""
        self.cmds.put(("alert", topic.encode() if isinstance(topic, str) else topic,
                       body.encode() if isinstance(body, str) else body, live))

    def send_raw(self, frames):
        """Publish raw frames (hostile messages), not journaled."""
        self.cmds.put(("raw", frames))

    def sync(self, timeout=5):
        ev = threading.Event()
        self.cmds.put(("sync", ev))
        return ev.wait(timeout)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.pub.close(0)
        self.router.close(0)
        self.ctx.term()

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        next_hb = 0
        while not self.stop:
            while True:
                try:
                    cmd = self.cmds.get_nowait()
                except queue.Empty:
                    break
                if cmd[0] == "alert":
                    _, topic, body, live = cmd
                    seq = json.loads(body)["seq"]
                    self.journal.append((seq, topic, body))
                    if live:
                        self.pub.send_multipart([topic, body])
                elif cmd[0] == "raw":
                    self.pub.send_multipart(cmd[1])
                else:
                    cmd[1].set()
            now = time.monotonic()
            if now >= next_hb:
                next_hb = now + 1.0
                oldest = self.journal[0][0] if self.journal else 1
                self.pub.send_multipart([HEARTBEAT, json.dumps(
                    {"v": 1, "head": self.head(), "oldest": oldest,
                     "ts": int(time.time())}).encode()])
            if dict(poller.poll(10)).get(self.router):
                self._replay()

    def _replay(self):
        frames = self.router.recv_multipart()
        peer, req = frames[0], frames[-1]
        self.replays += 1
        try:
            r = json.loads(req)
        except ValueError:
            return
        rid = r.get("id", -1)
        head = self.head()
        if r.get("op") == "head":
            self.router.send_multipart([peer, json.dumps(
                {"v": 1, "type": "end", "id": rid, "last": head, "head": head,
                 "oldest": 1}).encode()])
            return
        after = r.get("after", 0)
        topics = [t.encode() for t in r.get("topics") or []]
        batch = []
        for seq, topic, body in self.journal:
            if seq > after and (not topics or any(topic.startswith(t) for t in topics)):
                batch += [topic, body]
        for i in range(0, len(batch), 512):
            part = batch[i:i + 512]
            self.router.send_multipart([peer, json.dumps(
                {"v": 1, "type": "batch", "id": rid, "count": len(part) // 2}).encode()] + part)
        self.router.send_multipart([peer, json.dumps(
            {"v": 1, "type": "end", "id": rid, "last": head, "head": head,
             "oldest": 1}).encode()])


class _HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass  # the client was killed mid-request

    def _handle(self):
        srv = self.server.owner
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        status, headers, delay = srv.answer(self)
        with srv.lock:
            srv.requests.append({"path": self.path, "method": self.command,
                                 "headers": {k: v for k, v in self.headers.items()},
                                 "body": body, "status": status, "t": time.monotonic()})
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the client is gone (killed, or it timed out)

    do_POST = _handle
    do_PUT = _handle


class HookServer:
    """answer(handler) -> (status, headers, delay); default 200."""

    def __init__(self, port=None, answer=None):
        self.port = port or free_port()
        self.requests = []
        self.lock = threading.Lock()
        self.answer = answer or (lambda h: (200, {}, 0))
        self.httpd = None

    def start(self):
        socketserver.TCPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _HookHandler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def got(self, path=None, status=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"] == path)
                    and (status is None or r["status"] == status)]


class _SmtpHandler(socketserver.StreamRequestHandler):
    def _send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        srv = self.server.owner
        self._send("220 localhost test SMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.wfile.write(b"250-localhost\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                self.wfile.flush()
            elif up.startswith("HELO"):
                self._send("250 localhost")
            elif up.startswith("MAIL FROM:"):
                mail_from, rcpts = cmd[10:].strip(), []
                self._send("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self._send("250 OK")
            elif up == "DATA":
                self._send("354 go ahead")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    data.append(l[1:] if l.startswith(b"..") else l)
                with srv.lock:
                    refuse = srv.refuse > 0
                    if refuse:
                        srv.refuse -= 1
                    srv.messages.append({"from": mail_from, "rcpt": rcpts,
                                         "data": b"".join(data), "accepted": not refuse})
                self._send("451 try again later" if refuse else "250 queued")
            elif up in ("RSET", "NOOP"):
                self._send("250 OK")
            elif up == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")


class SmtpServer:
    def __init__(self, refuse=0):
        self.messages = []
        self.refuse = refuse
        self.lock = threading.Lock()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
        self.srv.daemon_threads = True
        self.srv.owner = self
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def accepted(self):
        with self.lock:
            return [m for m in self.messages if m["accepted"]]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def start_notifier(binary, cfg, tmp, tag, env=None):
    cfg_path = write_json(os.path.join(tmp, "notifier-%s.json" % tag), cfg)
    out = open(os.path.join(tmp, "stdout-%s" % tag), "ab")
    err = open(os.path.join(tmp, "stderr-%s" % tag), "ab")
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([binary, "-c", cfg_path], stdout=out, stderr=err, env=e)
    out.close()
    err.close()
    return p


def log_of(tmp, tag):
    try:
        with open(os.path.join(tmp, "stderr-%s" % tag), encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""

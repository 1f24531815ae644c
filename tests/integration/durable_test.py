#!/usr/bin/env python3
"""Durable delivery against a live matcher (README "Durable delivery").

A test producer speaks the hand-off protocol on items_endpoint; the test
checks, with counts printed:
  * every item is acknowledged, a resent item is acknowledged again and
    produces no second alert;
  * replay: everything after a seq, in order, in bounded batches, then an end
    marker with the head; topic prefixes; "future" for a seq beyond the head,
    "bad_request" for a negative seq; "truncated, oldest is N" once the
    retention pruned what was asked for;
  * a heartbeat with the head every second on the PUB socket;
  * hostile frames on the items and replay endpoints (thousands of parts,
    wrong version, truncated JSON, oversize frames; packed items cut short,
    with a length past the end, bad UTF-8, a NUL byte, the wrong magic,
    trailing bytes, a record sent as JSON) are logged, counted, acknowledged
    when their tag is readable, and dropped, and the matcher keeps serving;
    an unknown op is refused unacknowledged (what a matcher older than
    packed items does with one: the fetcher keeps it and sends it again);
  * items packed here with Python's struct (op "packed_item", the fetcher's
    form) are matched and acknowledged like JSON items (the other steps
    send JSON: the compatibility path);
  * `newsalert subscribe --since` and `--cursor` (the C client library), and
    the Python example client (deploy/examples/python), each get every alert
    once.
Usage: durable_test.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (Producer, Replayer, check, failures, finish, free_port,  # noqa: E402
                    pack_item, sigterm)

BUILD, SOURCE = sys.argv[1], sys.argv[2]
MATCHER = os.path.join(BUILD, "services/matcher/newsalert-matcher")
CLI = os.path.join(BUILD, "services/cli/newsalert")
PYCLIENT = os.path.join(SOURCE, "deploy/examples/python/newsalert_client.py")
FEED = "http://example.org/feed.xml"


def item(i):
    words = ["story", str(i)]
    if i % 2 == 0:
        words.append("alpha")
    if i % 5 == 0:
        words.append("beta")
    return {"id": "item-%d" % i, "feed": FEED, "title": " ".join(words),
            "link": "http://example.org/%d" % i}


def expected(items):
    want = set()
    for i in items:
        if i % 2 == 0:
            want.add(("alpha", "item-%d" % i))
        if i % 5 == 0:
            want.add(("beta", "item-%d" % i))
    return want


def start_matcher(config, log):
    return subprocess.Popen([MATCHER, "-c", config], stdout=log, stderr=subprocess.STDOUT)


def run_subscribe(config, args, seconds):
    """Run `newsalert subscribe` for a while (stdout to a file: a full pipe
    would stall it) and return (alerts, stderr, exit status)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([CLI, "subscribe", "-c", config] + args, stdout=out, stderr=err,
                             text=True)
        time.sleep(seconds)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)
        out.seek(0)
        err.seek(0)
        return ([json.loads(line) for line in out.read().splitlines() if line.strip()],
                err.read(), p.returncode)


def main():
    tmp = tempfile.mkdtemp(prefix="newsalert-durable-")
    ports = [free_port() for _ in range(3)]
    ep = ["tcp://127.0.0.1:%d" % p for p in ports]
    with open(os.path.join(tmp, "rules.json"), "w") as f:
        json.dump({"rules": [{"id": "alpha", "query": "alpha"},
                             {"id": "beta", "query": "beta"}]}, f)
    with open(os.path.join(tmp, "feeds.json"), "w") as f:
        json.dump({"feeds": []}, f)
    base = {"state_dir": "var", "rules": "rules.json", "feeds": "feeds.json",
            "items_endpoint": ep[0], "alerts_endpoint": ep[1], "replay_endpoint": ep[2]}
    config = os.path.join(tmp, "config.json")
    with open(config, "w") as f:
        json.dump(base, f)
    log = open(os.path.join(tmp, "matcher.log"), "w+")
    matcher = start_matcher(config, log)
    ctx = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"\x01heartbeat")
        sub.connect(ep[1])
        prod = Producer(ctx, ep[0])
        rep = Replayer(ctx, ep[2])

        # 1. hand-off: every item acknowledged; a resend alerts nothing.
        first = range(1, 601)
        check(prod.wait_acks(prod.send(map(item, first))), "600 items sent and acknowledged")
        want = expected(first)
        alerts, sizes, end = rep.all_after(0)
        got = [(a[1], a[2]["item"]["id"]) for a in alerts]
        print("     replay after 0: %d alerts in %d batches (largest %d), end %s"
              % (len(alerts), len(sizes), max(sizes or [0]), end))
        check(set(got) == want and len(got) == len(want),
              "replay after 0 gives every expected alert once (%d)" % len(want))
        check([a[0] for a in alerts] == list(range(1, len(want) + 1)),
              "seqs are 1..%d in order" % len(want))
        check(sizes and max(sizes) <= 256, "batches are bounded (at most 256 alerts)")
        check(end is not None and end["type"] == "end" and end["head"] == len(want),
              "the end marker carries the head")
        head = len(want)
        check(prod.wait_acks(prod.send(map(item, first))), "600 resent items acknowledged again")
        _, _, end = rep.ask({"op": "head"})
        check(end is not None and end["head"] == head,
              "resent items made no new alert (head still %d)" % head)

        # 2. replay by prefix, from the middle, and refusals.
        alerts, _, end = rep.all_after(100, ["bet"])
        check(alerts and all(a[1] == "beta" and a[0] > 100 for a in alerts) and
              len(alerts) == len([a for a in got[100:] if a[0] == "beta"]),
              "replay with a topic prefix gives only that topic, after the seq (%d)"
              % len(alerts))
        _, _, hdr = rep.ask({"op": "replay", "after": head + 100})
        check(hdr is not None and hdr["type"] == "error" and hdr["code"] == "future",
              "a future seq is refused: %s" % (hdr and hdr.get("message")))
        _, _, hdr = rep.ask({"op": "replay", "after": -3})
        check(hdr is not None and hdr["type"] == "error" and hdr["code"] == "bad_request",
              "a negative seq is refused: %s" % (hdr and hdr.get("message")))

        # 3. heartbeat
        t0 = time.monotonic()
        beats = []
        while time.monotonic() - t0 < 3.5:
            if sub.poll(200):
                topic, body = sub.recv_multipart()
                beats.append(json.loads(body))
        check(len(beats) >= 2 and beats[-1]["head"] == head,
              "heartbeats with the head (%d in 3.5 s, head %s)"
              % (len(beats), beats and beats[-1]["head"]))

        # 4. hostile frames on the items and replay endpoints.
        raw_items = ctx.socket(zmq.DEALER)
        raw_items.setsockopt(zmq.LINGER, 0)
        raw_items.connect(ep[0])
        raw_items.send_multipart([b"x"] * 3000)                       # thousands of parts
        raw_items.send_multipart([b'{"v":2,"op":"item","tag":1}', b"{}"])  # wrong version
        raw_items.send_multipart([b'{"v":1,"op":"item","tag":2}', b'{"id":"tr'])  # truncated
        raw_items.send_multipart([b'{"v":1,"op":"item","tag":3}', b" " * (2 * 1024 * 1024)])
        raw_items.send_multipart([b'{"v":1,"op":"item","tag":4}', b" " * (8 * 1024 * 1024)])
        # hostile packed items (tags 5..11), each of which would alert "alpha"
        good = pack_item({"id": "hostile", "feed": FEED, "title": "XX alpha"})
        hostile = [
            good[:30],                                         # cut short
            good[:4] + b"\xff\xff\xff\x7f" + good[8:],          # id length past the end
            good.replace(b"XX", b"\xc0\x80"),                   # bad UTF-8 in the title
            good.replace(b"hostile", b"host\0le"),              # NUL in the id
            b"NAI2" + good[4:],                                # wrong magic
            good + b"\0",                                      # trailing bytes
        ]
        for i, rec in enumerate(hostile):
            raw_items.send_multipart([b'{"v":1,"op":"packed_item","tag":%d}' % (5 + i), rec])
        raw_items.send_multipart([b'{"v":1,"op":"item","tag":11}', good])  # not JSON
        raw_items.send_multipart([b'{"v":1,"op":"zipped_item","tag":12}', good])  # unknown op
        raw_rep = ctx.socket(zmq.DEALER)
        raw_rep.setsockopt(zmq.LINGER, 0)
        raw_rep.connect(ep[2])
        raw_rep.send_multipart([b"y"] * 3000)
        raw_rep.send(b'{"v":7,"op":"replay","id":1,"after":0}')
        raw_rep.send(b'{"v":1,"op":"replay","id":2,"af')
        huge = ctx.socket(zmq.DEALER)  # beyond 4x the limit: ZeroMQ drops the connection
        huge.setsockopt(zmq.LINGER, 0)
        huge.connect(ep[2])
        huge.send(b"{" * 100000)
        time.sleep(1.0)
        check(matcher.poll() is None, "the matcher survives hostile frames")
        acked = set()
        while raw_items.poll(300):
            acked |= set(json.loads(raw_items.recv())["tags"])
        check(set(range(5, 12)) <= acked,
              "hostile packed items are acknowledged (dropped, not resent): %s" % sorted(acked))
        check(12 not in acked, "an item under an unknown op is not acknowledged (kept by "
              "its sender): %s" % sorted(acked))
        check(prod.wait_acks(prod.send(map(item, [601, 602]), packed=True)),
              "and still takes items, packed ones from Python included")
        alerts, _, end = rep.all_after(head)
        check(end is not None and end["head"] == head + 1,
              "and still answers replays (head %s)" % (end and end["head"]))
        check(len(alerts) == 1 and alerts[0][1] == "alpha" and
              {k: alerts[0][2]["item"].get(k) for k in ("id", "title", "link")} ==
              {"id": "item-602", "title": "story 602 alpha", "link": "http://example.org/602"},
              "a packed item is matched and its alert carries its fields")
        head += 1
        replies = 0
        while raw_rep.poll(300):
            hdr = json.loads(raw_rep.recv_multipart()[0])
            replies += hdr.get("code") == "bad_request"
        check(replies >= 3, "bad replay requests are answered bad_request (%d)" % replies)
        log.flush()
        log.seek(0)
        text = log.read()
        bad_items = text.count("dropped a bad item message")
        bad_reqs = text.count("dropped a bad replay request")
        print("     matcher log: %d bad item messages, %d bad replay requests logged"
              % (bad_items, bad_reqs))
        check(bad_items >= 4 + 7 and bad_reqs >= 3, "hostile frames are logged and counted")
        for what in ("item message: packed item: field `id` at byte 4: length",
                     "invalid UTF-8", "NUL byte", "no \"NAI1\" magic", "after the end of the record",
                     "item header needs \"op\": \"item\" or \"packed_item\""):
            check(what in text, "the log says why a packed item was dropped: %s" % what)

        # 5. the C client library through `newsalert subscribe`.
        out, err, rc = run_subscribe(config, ["--since", "0"], 3)
        seqs = [a["seq"] for a in out]
        check(rc == 0 and seqs == list(range(1, head + 1)),
              "subscribe --since 0 prints every alert once, in order (%d): %s"
              % (len(seqs), err.strip()))
        out, err, rc = run_subscribe(config, ["--since", str(head - 10), "beta"], 3)
        check(out and all(a["rule"]["id"] == "beta" and a["seq"] > head - 10 for a in out),
              "subscribe --since with a topic (%d alerts)" % len(out))
        cursor = os.path.join(tmp, "sub.cursor")
        with open(cursor, "w") as f:
            f.write("%d\n" % (head - 20))
        out, err, rc = run_subscribe(config, ["--cursor", cursor], 3)
        check([a["seq"] for a in out] == list(range(head - 19, head + 1)),
              "subscribe --cursor resumes after the saved seq (%d alerts)" % len(out))
        with open(cursor) as f:
            check(int(f.read()) == head, "the cursor file holds the head afterwards")
        sub_proc = subprocess.Popen([CLI, "subscribe", "-c", config, "--cursor", cursor],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        check(prod.wait_acks(prod.send(map(item, range(603, 651)))), "48 more items")
        more = expected(range(603, 651))
        time.sleep(2.0)
        sub_proc.send_signal(signal.SIGTERM)
        out, err = sub_proc.communicate(timeout=15)
        live = [json.loads(line) for line in out.splitlines() if line.strip()]
        check(sorted((a["rule"]["id"], a["item"]["id"]) for a in live) == sorted(more),
              "a running subscriber gets the new alerts once (%d)" % len(live))
        head += len(more)

        # 6. the Python example client, from the documented protocol only.
        py = subprocess.run([sys.executable, PYCLIENT, "--alerts", ep[1], "--replay", ep[2],
                             "--since", "0", "--idle", "3"], capture_output=True, text=True,
                            timeout=60)
        seqs = [json.loads(line)["seq"] for line in py.stdout.splitlines() if line.strip()]
        check(py.returncode == 0 and seqs == list(range(1, head + 1)),
              "the Python example client gets every alert once, in order (%d): %s"
              % (len(seqs), py.stderr.strip()[-300:]))
        py = subprocess.run([sys.executable, PYCLIENT, "--alerts", ep[1], "--replay", ep[2],
                             "--since", "0", "--idle", "3", "alp"], capture_output=True,
                            text=True, timeout=60)
        rules = {json.loads(line)["rule"]["id"] for line in py.stdout.splitlines() if line}
        check(py.returncode == 0 and rules == {"alpha"},
              "the Python example client filters by prefix")

        # 6b. a journal the matcher cannot write for a while (another process
        # holds its write lock past the 5 s busy timeout): the group fails,
        # nothing is acknowledged; sent again once the lock is gone, every
        # item alerts once and the seqs go on without a gap.
        db = sqlite3.connect(os.path.join(tmp, "var", "journal.db"), timeout=10,
                             isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        batch = list(range(800, 860))
        tags = prod.send(map(item, batch), packed=True)
        check(not prod.wait_acks(set(tags), timeout=6.5),
              "a group that cannot be journaled is not acknowledged")
        db.execute("ROLLBACK")
        db.close()
        acked = set()
        while prod.sock.poll(1000):
            acked |= set(json.loads(prod.sock.recv())["tags"])
        again = [i for i, t in zip(batch, sorted(tags)) if t not in acked]
        check(again and prod.wait_acks(prod.send(map(item, again), packed=True)),
              "sent again once the journal is free: acknowledged (%d of %d were not)"
              % (len(again), len(batch)))
        alerts, _, end = rep.all_after(head)
        got = sorted((a[1], a[2]["item"]["id"]) for a in alerts)
        check(got == sorted(expected(batch)) and
              [a[0] for a in alerts] == list(range(head + 1, head + 1 + len(got))),
              "every item alerted once, seqs without a gap (%d alerts)" % len(got))
        head += len(got)
        log.flush()
        log.seek(0)
        check("database is locked" in log.read(), "the log says why the group failed")

        # 7. retention: restart with max_alerts 50; old seqs are "truncated".
        matcher.send_signal(signal.SIGTERM)
        check(matcher.wait(timeout=15) == 0, "the matcher stops on SIGTERM")
        with open(config, "w") as f:
            json.dump(dict(base, journal={"max_alerts": 50}), f)
        matcher = start_matcher(config, log)
        _, _, hdr = rep.ask({"op": "replay", "after": 0})
        check(hdr is not None and hdr.get("code") == "truncated" and
              hdr["message"] == "truncated, oldest is %d" % (head - 49),
              "a replay older than the retention: %s" % (hdr and hdr.get("message")))
        alerts, _, end = rep.all_after(head - 50)
        check(len(alerts) == 50 and end["head"] == head, "what is kept replays (50)")
        check(prod.wait_acks(prod.send(map(item, [700]))), "items still flow after the restart")
        _, _, end = rep.ask({"op": "head"})
        check(end is not None and end["head"] == head + len(expected([700])),
              "seq goes on after the restart")
    finally:
        if matcher.poll() is None:
            sigterm(matcher, 15)
        ctx.destroy(linger=0)
        log.close()
        if failures:
            with open(os.path.join(tmp, "matcher.log")) as f:
                print("matcher log (tail):\n" + "".join(f.readlines()[-30:]))
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

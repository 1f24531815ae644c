#!/usr/bin/env python3
"""Rules hot reload and explanations against a live matcher (issue 4).

- every alert carries `matched` (terms with fields, a snippet with [hits])
  and the rule's tags;
- the rules directory is watched with inotify: a new file is picked up with
  no signal, a broken file is refused (the old set stays in force), SIGHUP
  reloads too;
- with 3 matching threads, the alerts of one item are consecutive and in
  rule order;
- while the rules are swapped under a continuous stream of items, every item
  is matched against exactly one set: a rule present in both sets alerts
  exactly once per item, nothing lost, nothing twice.

Usage: rules_reload_test.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import Producer, Replayer, check, failures, free_port, sigterm  # noqa: E402

BUILD, SOURCE = sys.argv[1], sys.argv[2]
MATCHER = os.path.join(BUILD, "services/matcher/newsalert-matcher")
FEED = "http://example.org/feed.xml"


def write_rules(path, rules):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"rules": rules}, f)
    os.rename(tmp, path)  # how deployment tools replace a file


def replay_all(rep):
    """Every journaled alert, as (topic, alert)."""
    return [(topic, body) for _, topic, body in rep.all_after(0)[0]]


def item(i, text):
    return {"id": "item-%d" % i, "feed": FEED, "title": "Story %d" % i, "summary": text,
            "link": "http://example.org/%d" % i}


def main():
    tmp = tempfile.mkdtemp(prefix="newsalert-rules-")
    rules_dir = os.path.join(tmp, "rules.d")
    os.mkdir(rules_dir)
    ports = [free_port() for _ in range(3)]
    ep = ["tcp://127.0.0.1:%d" % p for p in ports]
    write_rules(os.path.join(rules_dir, "a.json"),
                [{"id": "alpha", "query": "alpha NEAR/3 beta*", "tags": ["team-a"]}])
    with open(os.path.join(tmp, "feeds.json"), "w") as f:
        json.dump({"feeds": []}, f)
    config = os.path.join(tmp, "config.json")
    with open(config, "w") as f:
        json.dump({"state_dir": "var", "rules": "rules.d", "feeds": "feeds.json",
                   "items_endpoint": ep[0], "alerts_endpoint": ep[1],
                   "replay_endpoint": ep[2], "journal": {"sync": False},
                   "matcher": {"threads": 3}}, f)
    log = open(os.path.join(tmp, "matcher.log"), "w+")
    matcher = subprocess.Popen([MATCHER, "-c", config], stdout=log, stderr=subprocess.STDOUT)
    ctx = zmq.Context()
    text = "the alpha and the betamax gamma story, with more words after it"
    try:
        prod = Producer(ctx, ep[0])
        rep = Replayer(ctx, ep[2])
        check(prod.wait_acks(prod.send([item(i, text) for i in range(1, 11)]), 30),
              "10 items acknowledged")
        alerts = replay_all(rep)
        check(len(alerts) == 10 and all(t == "alpha" for t, _ in alerts),
              "one alpha alert per item (%d)" % len(alerts))
        body = alerts[0][1] if alerts else {}
        m = body.get("matched", {})
        check(m.get("terms") == [{"term": "alpha", "field": "summary"},
                                 {"term": "beta*", "field": "summary"}],
              "matched.terms names the terms and fields: %s" % m.get("terms"))
        check(m.get("snippet", "").startswith("the [alpha] and the [betamax] gamma"),
              "matched.snippet marks the hits: %r" % m.get("snippet"))
        check(body.get("rule", {}).get("tags") == ["team-a"], "the rule's tags are in the alert")

        # a new file in the directory: picked up by inotify, no signal
        write_rules(os.path.join(rules_dir, "b.json"), [{"id": "gamma", "query": "gamma"}])
        time.sleep(1.5)
        check(prod.wait_acks(prod.send([item(i, text) for i in range(11, 21)]), 30),
              "10 more items acknowledged")
        alerts = replay_all(rep)
        gam = sorted(int(b["item"]["id"].split("-")[1]) for t, b in alerts if t == "gamma")
        check(gam == list(range(11, 21)), "the new rule matches only items after the change")
        # three threads, yet the alerts of an item are together and in rule order
        seq = [(b["item"]["id"], t) for t, b in alerts]
        ok = True
        for i in range(11, 21):
            pos = [k for k, (iid, _) in enumerate(seq) if iid == "item-%d" % i]
            ok = ok and len(pos) == 2 and pos[1] == pos[0] + 1 and \
                [seq[k][1] for k in pos] == ["alpha", "gamma"]
        check(ok, "each item's alerts are consecutive and in rule order (3 threads)")

        # a broken file: refused, the old set stays in force
        with open(os.path.join(rules_dir, "c.json"), "w") as f:
            f.write('{"rules": [{"id": "bad", "query": "(unclosed"}]}')
        time.sleep(1.5)
        check(prod.wait_acks(prod.send([item(i, text) for i in range(21, 26)]), 30),
              "items acknowledged after a bad change")
        alerts = replay_all(rep)
        gam = [b for t, b in alerts if t == "gamma"]
        check(len(gam) == 15, "the old set stayed in force after a bad change")
        os.unlink(os.path.join(rules_dir, "c.json"))

        # swap rules repeatedly under a stream: alpha is in every set
        stream = []
        for k in range(8):
            batch = [item(1000 + k * 50 + j, text) for j in range(50)]
            stream += batch
            prod.send(batch)
            write_rules(os.path.join(rules_dir, "b.json"),
                        [{"id": "gamma", "query": "gamma"}] if k % 2 else
                        [{"id": "delta", "query": "story"}])
            if k == 4:
                matcher.send_signal(signal.SIGHUP)
            time.sleep(0.3)
        check(prod.wait_acks(set(range(prod.tag - len(stream) + 1, prod.tag + 1)), 30),
              "400 streamed items acknowledged")
        time.sleep(0.5)
        alerts = replay_all(rep)
        ids = [b["item"]["id"] for t, b in alerts if t == "alpha"]
        want = {"item-%d" % (1000 + j) for j in range(400)}
        streamed = [x for x in ids if x in want]
        check(len(streamed) == 400 and set(streamed) == want,
              "every streamed item alerted alpha exactly once across the swaps (%d)"
              % len(streamed))
        with open(os.path.join(tmp, "matcher.log")) as f:
            logtext = f.read()
        check(logtext.count("reloaded") >= 3, "the matcher logged its reloads")
        check("reload failed" in logtext and "unbalanced parenthesis" in logtext,
              "the bad change was logged with its problem")
        check(matcher.poll() is None, "the matcher is still running")
    finally:
        if matcher.poll() is None:
            sigterm(matcher, 15)
        ctx.destroy(linger=0)
        if failures:
            with open(os.path.join(tmp, "matcher.log")) as f:
                print("matcher log (tail):\n" + "".join(f.readlines()[-30:]))
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("all rules reload checks passed")


if __name__ == "__main__":
    main()

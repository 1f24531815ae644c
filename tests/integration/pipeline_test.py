#!/usr/bin/env python3
"""End-to-end test of the pipeline: fetcher -> matcher -> notifier over ZeroMQ.

Starts a local HTTP server on loopback serving the demo feeds (the seed story
in RSS 2.0, Atom 1.0 and JSON Feed 1.1, with decoys) and hostile feeds, then
the three real daemons and a `newsalert subscribe` client, and checks:
  * the expected alerts arrive exactly once, with the contract's fields,
    at the notifier's file sink and at the subscriber;
  * a malformed feed, a billion-laughs feed, an XXE feed, a 404, a refused
    port and an oversize feed are each reported in the fetcher's log with
    their URL, and every daemon keeps running;
  * a restart of the fetcher re-alerts nothing;
  * SIGTERM makes every daemon exit 0 promptly;
  * -n rejects bad configurations (syntax error, unknown key, missing file,
    bad rule) with exit status 1 and a message naming the file.
Usage: pipeline_test.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (check, failures, free_port, read_lines, serve_directory,  # noqa: E402
                    sigterm, wait_for)

BUILD, SOURCE = sys.argv[1], sys.argv[2]
BIN = {
    "fetcher": os.path.join(BUILD, "services/fetcher/newsalert-fetcher"),
    "matcher": os.path.join(BUILD, "services/matcher/newsalert-matcher"),
    "notifier": os.path.join(BUILD, "services/notifier/newsalert-notifier"),
    "cli": os.path.join(BUILD, "services/cli/newsalert"),
}
DEMO = os.path.join(SOURCE, "config/demo")
SEED = "https://news.example.org/2025/02/12/hegseth-ukraine-concessions"

# (feed file, rule id, item link): what the demo rules must find, each once.
EXPECTED = {
    ("world.rss", "ukraine-concessions", SEED),
    ("world.rss", "nato-membership", SEED),
    ("world.rss", "ceasefire", SEED),
    ("world.rss", "nato-membership", "https://news.example.org/2025/02/11/nato-spending"),
    ("world.rss", "hegseth-not-ukraine", "https://news.example.org/2025/02/10/hegseth-guantanamo"),
    ("europe.atom", "ukraine-concessions", SEED),
    ("europe.atom", "nato-membership", SEED),
    ("europe.atom", "ceasefire", SEED),
    ("europe.atom", "russia-sanctions", "https://news.example.org/2025/02/12/eu-sanctions"),
    ("europe.atom", "baltic-security", "https://news.example.org/2025/02/09/baltic-cables"),
    ("defence.json", "ukraine-concessions", SEED),
    ("defence.json", "nato-membership", SEED),
    ("defence.json", "ceasefire", SEED),
    ("defence.json", "ceasefire", "https://news.example.org/2025/02/13/peace-deal-explainer"),
    # The XXE feed is parsed with its external entity left unexpanded: the
    # item still matches, and must not carry the file's contents.
    ("xxe.xml", "ukraine-concessions", "https://news.example.org/xxe"),
}

def write_hostile(root, secret_path):
    with open(os.path.join(root, "malformed.xml"), "w") as f:
        f.write('<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>'
                '<item><title>Unclosed &amp; broken <b></title></item><item><title>x')
    lol = ['<?xml version="1.0"?>', '<!DOCTYPE lolz [', '<!ENTITY lol "lol">']
    prev = "lol"
    for i in range(1, 10):
        lol.append('<!ENTITY lol%d "%s">' % (i, ("&%s;" % prev) * 10))
        prev = "lol%d" % i
    lol += [']>', '<rss version="2.0"><channel><title>Laughs</title>',
            '<item><title>&lol9;</title><guid>lol</guid></item></channel></rss>']
    with open(os.path.join(root, "billion-laughs.xml"), "w") as f:
        f.write("\n".join(lol))
    with open(os.path.join(root, "xxe.xml"), "w") as f:
        f.write('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://%s">]>\n'
                '<rss version="2.0"><channel><title>XXE</title><item><title>Ukraine &xxe;</title>'
                '<description>territorial concessions &xxe;</description><guid>xxe-1</guid>'
                '<link>https://news.example.org/xxe</link>'
                '</item></channel></rss>\n' % secret_path)
    with open(os.path.join(root, "oversize.xml"), "w") as f:
        f.write('<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>')
        for i in range(4000):
            f.write('<item><title>Ukraine territorial concessions %d</title><guid>big-%d</guid>'
                    '</item>' % (i, i))
        f.write('</channel></rss>')


def start(name, cfg, log):
    return subprocess.Popen([BIN[name], "-c", cfg], stdout=subprocess.DEVNULL,
                            stderr=open(log, "a"), stdin=subprocess.DEVNULL)


def stop(proc, name, timeout=3.0):
    if proc.poll() is not None:
        return check(False, "%s was still running before SIGTERM (exit %s)" % (name, proc.returncode))
    rc, secs = sigterm(proc, timeout)
    if rc is None:
        return check(False, "%s exits within %.0f s of SIGTERM" % (name, timeout))
    return check(rc == 0, "%s exits 0 on SIGTERM (rc=%d, %.2f s)" % (name, rc, secs))


def key_of(alert, served):
    feed_file = served.get(alert["item"]["feed"], alert["item"]["feed"])
    return (feed_file, alert["rule"]["id"], alert["item"]["link"])


def check_alerts(lines, served, who):
    alerts = [json.loads(l) for l in lines]
    keys = [key_of(a, served) for a in alerts]
    check(len(keys) == len(set(keys)), "%s: no alert twice (%d alerts)" % (who, len(keys)))
    check(set(keys) == EXPECTED, "%s: exactly the expected alerts (missing %s, unexpected %s)" %
          (who, sorted(EXPECTED - set(keys)), sorted(set(keys) - EXPECTED)))
    seqs = [a["seq"] for a in alerts]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs),
          "%s: seq strictly increasing" % who)
    a = next((a for a in alerts if a["item"]["link"] == SEED), None)
    if check(a is not None, "%s: the seed story alerted" % who):
        check(a.get("v") == 1 and isinstance(a.get("seq"), int) and a["ts"].endswith("Z"),
              "%s: v, seq and ts present" % who)
        item = a["item"]
        check(item["title"].startswith("US Defense Secretary Urges Ukraine"), "%s: item.title" % who)
        check(item.get("published") == "2025-02-12T15:30:00Z", "%s: item.published in UTC" % who)
        check(item.get("feed_title", "").startswith("Example "), "%s: item.feed_title" % who)
        check("<p>" not in item["summary"] and "&amp;" not in item["summary"]
              and len(item["summary"].encode()) <= 1100 and "Brussels" in item["summary"],
              "%s: item.summary is plain text of at most ~1 KB" % who)
        check(a["rule"]["name"] != "", "%s: rule.name" % who)
    return alerts


def main():
    tmp = tempfile.mkdtemp(prefix="newsalert-pipeline-")
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    for f in ("world.rss", "europe.atom", "defence.json"):
        shutil.copy(os.path.join(DEMO, "feeds", f), www)
    secret = os.path.join(tmp, "secret.txt")
    marker = "SECRET-%d" % os.getpid()
    with open(secret, "w") as f:
        f.write(marker + "\n")
    write_hostile(www, secret)

    httpd, base = serve_directory(www)
    refused = "http://127.0.0.1:%d/feed.xml" % free_port()
    served = {base + "/" + f: f for f in ("world.rss", "europe.atom", "defence.json")}
    names = dict(served, **{base + "/xxe.xml": "xxe.xml"})
    bad = {
        "malformed": base + "/malformed.xml",
        "billion-laughs": base + "/billion-laughs.xml",
        "xxe": base + "/xxe.xml",
        "404": base + "/missing.xml",
        "refused": refused,
        "oversize": base + "/oversize.xml",
    }
    feeds = [{"url": u, "name": "good " + f, "interval_s": 2} for u, f in served.items()]
    feeds += [{"url": u, "name": "bad " + k, "interval_s": 2} for k, u in bad.items()]
    with open(os.path.join(tmp, "feeds.json"), "w") as f:
        json.dump({"feeds": feeds}, f, indent=1)
    shutil.copy(os.path.join(DEMO, "rules.json"), tmp)
    cfg = os.path.join(tmp, "newsalert.json")
    conf = {
        "state_dir": "var",
        "items_endpoint": "tcp://127.0.0.1:%d" % free_port(),
        "alerts_endpoint": "tcp://127.0.0.1:%d" % free_port(),
        "fetcher": {"concurrency": 4, "interval_s": 2, "timeout_s": 5, "max_bytes": 65536,
                    "max_age_s": 0},
        "notifier": {"sinks": [{"type": "file", "path": "alerts.jsonl"}]},
    }
    with open(cfg, "w") as f:
        json.dump(conf, f, indent=1)
    logs = {n: os.path.join(tmp, n + ".log") for n in ("fetcher", "matcher", "notifier")}
    sink = os.path.join(tmp, "alerts.jsonl")
    sub_out = os.path.join(tmp, "subscriber.jsonl")

    for n in ("fetcher", "matcher", "notifier"):
        r = subprocess.run([BIN[n], "-n", "-c", cfg], capture_output=True, text=True)
        check(r.returncode == 0 and "configuration OK" in r.stdout, "%s -n accepts the config" % n)

    matcher = start("matcher", cfg, logs["matcher"])
    notifier = start("notifier", cfg, logs["notifier"])
    subscriber = subprocess.Popen([BIN["cli"], "subscribe", "-c", cfg], stdout=open(sub_out, "w"),
                                  stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # subscriptions reach the matcher before the first item
    fetcher = start("fetcher", cfg, logs["fetcher"])

    wait_for(lambda: len(read_lines(sink)) >= len(EXPECTED) and
             len(read_lines(sub_out)) >= len(EXPECTED), 30)
    time.sleep(1)
    check_alerts(read_lines(sink), names, "file sink")
    check_alerts(read_lines(sub_out), names, "subscriber")

    def logged(url):
        with open(logs["fetcher"]) as f:
            return any(url in l and ("WARN" in l or "ERROR" in l) for l in f)
    for kind, url in bad.items():
        check(wait_for(lambda: logged(url), 15), "bad feed '%s' is reported with its URL" % kind)
    for name, p in (("fetcher", fetcher), ("matcher", matcher), ("notifier", notifier)):
        check(p.poll() is None, "%s still running after the bad feeds" % name)
    everything = "".join(read_lines(sink)) + "".join(read_lines(sub_out))
    check(marker not in everything and marker not in open(logs["fetcher"]).read(),
          "the XXE feed leaked no file contents")

    # A restart of the fetcher sends nothing twice.
    before = len(read_lines(sink))
    stop(fetcher, "fetcher")
    fetcher = start("fetcher", cfg, logs["fetcher"])
    time.sleep(7)  # at least two poll rounds at interval_s 2
    check(fetcher.poll() is None, "restarted fetcher keeps running")
    check(len(read_lines(sink)) == before,
          "a fetcher restart re-alerts nothing (%d -> %d alerts)" % (before, len(read_lines(sink))))

    # SIGHUP with a broken rules file keeps the old rules in force.
    rules = os.path.join(tmp, "rules.json")
    good_rules = open(rules).read()
    with open(rules, "w") as f:
        f.write('{"rules": [{"id": "x", "query": "(unbalanced"}]}')
    matcher.send_signal(signal.SIGHUP)
    time.sleep(1)
    check(matcher.poll() is None and "reload failed" in open(logs["matcher"]).read(),
          "matcher reports a bad rules file on SIGHUP and keeps running")
    with open(rules, "w") as f:
        f.write(good_rules)

    for name, p in (("fetcher", fetcher), ("matcher", matcher), ("notifier", notifier),
                    ("subscriber", subscriber)):
        stop(p, name)
    httpd.shutdown()

    # -n on bad configurations.
    def bad_config(name, text, daemons, expect):
        path = os.path.join(tmp, name)
        if text is not None:
            with open(path, "w") as f:
                f.write(text)
        for d in daemons:
            r = subprocess.run([BIN[d], "-n", "-c", path], capture_output=True, text=True)
            check(r.returncode == 1 and expect in r.stderr,
                  "%s -n rejects %s (rc=%d): %s" % (d, name, r.returncode, r.stderr.strip()[-160:]))
    all3 = ("fetcher", "matcher", "notifier")
    bad_config("syntax.json", '{"state_dir": "var",\n  "feeds": }\n', all3, "syntax.json:2:")
    bad_config("unknown.json", '{"state_dir": "var",\n "colour": "blue"}\n', all3,
               "unknown.json:2:2: unknown key 'colour'")
    bad_config("missing.json", None, all3, "missing.json")
    with open(os.path.join(tmp, "badrules.json"), "w") as f:
        f.write('{"rules": [\n  {"id": "broken", "query": "Ukraine \\"NATO membership"}\n]}\n')
    bad_config("badrule-config.json", '{"rules": "badrules.json", "feeds": "feeds.json"}', ("matcher",),
               "broken")

    if failures:
        print("\n%d check(s) failed; logs kept in %s" % (len(failures), tmp))
        for n, path in logs.items():
            print("---- %s log (tail) ----" % n)
            print("".join(open(path).readlines()[-25:]) if os.path.exists(path) else "(none)")
        return 1
    shutil.rmtree(tmp)
    print("all pipeline checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

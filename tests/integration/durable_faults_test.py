#!/usr/bin/env python3
"""Fault injection: no alert lost, none delivered twice (issue 5).

The real fetcher reads ITEMS items (default 10,000; env NA_FAULT_ITEMS) from
100 local feed files; they produce a known set of alerts through the real
matcher; subscribers (`newsalert subscribe`, the C client library) must each
end with every expected alert exactly once (by seq, and by rule + item),
while one fault is injected:

  matcher-kill   the matcher is killed with SIGKILL 3 times mid-stream and
                 restarted;
  fetcher-kill   the fetcher is killed with SIGKILL while items are not yet
                 acknowledged (the matcher is frozen meanwhile), then restarted;
  sigstop        one subscriber is frozen (SIGSTOP) well past the high-water
                 mark, then resumed: it catches up by replay, and the other
                 subscriber is not slowed;
  slow-joiner    a subscriber connects (--since 0) while alerts are flowing.

Each run prints its counts.  Usage:
  durable_faults_test.py BUILD_DIR SCENARIO
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (Proc, check, count_lines, finish, free_port, stop_all,  # noqa: E402
                    tally, wait_for, write_fault_feeds)

BUILD, SCENARIO = sys.argv[1], sys.argv[2]
FETCHER = os.path.join(BUILD, "services/fetcher/newsalert-fetcher")
MATCHER = os.path.join(BUILD, "services/matcher/newsalert-matcher")
CLI = os.path.join(BUILD, "services/cli/newsalert")
ITEMS = int(os.environ.get("NA_FAULT_ITEMS", "10000"))
FEEDS = 100
DEADLINE = float(os.environ.get("NA_FAULT_DEADLINE", "150"))
MARKS = [("alpha", 2), ("beta", 5), ("gamma", 3)]  # item n's title has WORD when MOD divides n
RULES = [("every", "story"), ("alpha", "alpha"), ("beta", "beta"), ("gamma", "gamma")]


def wait_until(pred, timeout, step=0.05):
    return wait_for(pred, timeout, step)


def verify(name, path, want):
    t = tally(path, want)
    print("     %s: %d alerts, %d expected, %d missing, %d duplicate seqs, %d duplicate "
          "alerts, in order: %s" % (name, len(t.alerts), len(want), t.missing, t.dup_seq,
                                    t.dup_key, t.in_order))
    check(t.exact, "%s got every expected alert exactly once, in seq order" % name)


def subscriber_stats(proc):
    for line in reversed(proc.logtext().splitlines()):
        if "replay requests" in line:
            return line.strip()
    return "(no stats)"


def main():
    tmp = tempfile.mkdtemp(prefix="newsalert-faults-")
    want = write_fault_feeds(tmp, ITEMS, FEEDS, RULES, MARKS)
    with open(os.path.join(tmp, "rules.json"), "w") as f:
        json.dump({"rules": [{"id": r, "query": w} for r, w in RULES]}, f)
    ep = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    config = os.path.join(tmp, "config.json")
    with open(config, "w") as f:
        json.dump({"state_dir": "var", "rules": "rules.json", "feeds": "feeds.json",
                   "items_endpoint": ep[0], "alerts_endpoint": ep[1], "replay_endpoint": ep[2],
                   "fetcher": {"concurrency": 4, "max_age_s": 0, "interval_s": 3600}}, f)
    total = len(want)
    print("     scenario %s: %d items in %d feeds, %d expected alerts"
          % (SCENARIO, ITEMS, FEEDS, total), flush=True)
    procs = []
    t0 = time.monotonic()
    try:
        matcher = Proc("matcher", [MATCHER, "-c", config], tmp)
        procs.append(matcher)
        a_out = os.path.join(tmp, "a.jsonl")
        sub_a = Proc("sub-a", [CLI, "subscribe", "-c", config, "--cursor",
                               os.path.join(tmp, "a.cursor")], tmp, a_out)
        procs.append(sub_a)
        subs = [("subscriber A", a_out)]
        b_out = os.path.join(tmp, "b.jsonl")
        sub_b = None
        if SCENARIO == "sigstop":
            sub_b = Proc("sub-b", [CLI, "subscribe", "-c", config, "--since", "0"], tmp, b_out)
            procs.append(sub_b)
            subs.append(("frozen subscriber B", b_out))
        time.sleep(0.5)
        fetcher = Proc("fetcher", [FETCHER, "-c", config], tmp)
        procs.append(fetcher)

        if SCENARIO == "matcher-kill":
            kills = 0
            for frac in (0.15, 0.4, 0.7):
                if not wait_until(lambda: count_lines(a_out) >= frac * total, DEADLINE / 3):
                    break
                matcher.kill9()
                kills += 1
                print("     SIGKILL matcher at %d alerts seen" % count_lines(a_out), flush=True)
                time.sleep(0.3)
                matcher.start()
            check(kills == 3, "the matcher was killed 3 times mid-stream (%d)" % kills)
        elif SCENARIO == "fetcher-kill":
            wait_until(lambda: count_lines(a_out) >= 1, DEADLINE / 3, 0.01)
            matcher.p.send_signal(signal.SIGSTOP)  # no acks from now on
            print("     SIGSTOP matcher at %d alerts seen" % count_lines(a_out), flush=True)
            time.sleep(1.5)                        # the fetcher queues and sends
            ob = os.path.join(tmp, "var/fetcher.db")  # the outbox is a table of it
            fetcher.kill9()
            import sqlite3
            con = sqlite3.connect(ob)
            unacked = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
            con.close()
            print("     SIGKILL fetcher with %d items unacknowledged in its outbox" % unacked,
                  flush=True)
            check(unacked > 0, "items were unacknowledged when the fetcher died (%d)" % unacked)
            matcher.p.send_signal(signal.SIGCONT)
            fetcher.start()
        elif SCENARIO == "sigstop":
            wait_until(lambda: count_lines(b_out) >= 0.05 * total, DEADLINE / 3)
            sub_b.p.send_signal(signal.SIGSTOP)
            frozen_at = count_lines(b_out)
            print("     SIGSTOP subscriber B at %d alerts" % frozen_at, flush=True)
            t_stop = time.monotonic()
            ok = wait_until(lambda: count_lines(a_out) >= total, DEADLINE / 2)
            a_time = time.monotonic() - t_stop
            check(ok, "subscriber A finished while B was frozen (%.1f s)" % a_time)
            time.sleep(2.0)
            print("     SIGCONT subscriber B, %d alerts behind" % (total - frozen_at), flush=True)
            sub_b.p.send_signal(signal.SIGCONT)
        elif SCENARIO == "slow-joiner":
            wait_until(lambda: count_lines(a_out) >= 0.3 * total, DEADLINE / 3)
            print("     subscriber C joins at %d alerts" % count_lines(a_out), flush=True)
            c_out = os.path.join(tmp, "c.jsonl")
            procs.append(Proc("sub-c", [CLI, "subscribe", "-c", config, "--since", "0"], tmp,
                              c_out))
            subs.append(("late subscriber C", c_out))
        else:
            print("unknown scenario " + SCENARIO)
            return 2

        for name, path in subs:
            wait_until(lambda: count_lines(path) >= total, max(5, DEADLINE - (time.monotonic() - t0)),
                       0.2)
        time.sleep(1.5)  # anything extra (a duplicate) would show up now
        elapsed = time.monotonic() - t0
        for p in procs:
            p.stop()
        print("     %.1f s from start to every subscriber done" % elapsed)
        for name, path in subs:
            verify(name, path, want)
        print("     subscriber A: " + subscriber_stats(sub_a))
        if sub_b is not None:
            st = subscriber_stats(sub_b)
            print("     subscriber B: " + st)
            check(" 0 replayed" not in st, "the frozen subscriber caught up by replay")
        log = matcher.logtext()
        resent = sum(int(l.split(" resent items ignored")[0].split(", ")[-1])
                     for l in log.splitlines() if "resent items ignored" in l)
        print("     matcher: %d resent items recognised and ignored (clean stops only)" % resent)
    finally:
        stop_all(procs, 15)
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Fault injection on the notifier side (issue 5, cases 3 and 5), with the
real daemons: the fetcher reads ITEMS items (default 10,000; env
NA_FAULT_ITEMS) from 100 local feed files, the matcher journals and
publishes the alerts they produce, and the notifier delivers them to

  all     a file sink taking every alert,
  alpha   a file sink with the topic filter ["alpha"],
  hook    a webhook (topics ["alpha"]) to a local HTTP receiver,
  run     an exec sink (topics ["beta"]) appending NEWSALERT_SEQ to a file;

at the end every sink must hold every expected alert exactly once: the file
sinks strictly (by seq, and by rule + item id, in seq order), the webhook
after de-duplication by its Idempotency-Key, the exec sink after
de-duplication by NEWSALERT_SEQ (at-least-once sinks: their duplicates are
counted and bounded), while

  notifier-kill    (case 3) the notifier is killed with SIGKILL 3 times
                   mid-delivery and restarted;
  webhook-outage   (case 5) the webhook receiver is down (connection
                   refused), then answers 500, then 429 with Retry-After,
                   then recovers; the other sinks are not held back.

Each run prints its counts.  Usage:
  notifier_faults_test.py BUILD_DIR SCENARIO
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (HookServer, Proc, check, count_lines, finish, free_port,  # noqa: E402
                    stop_all, tally, wait_for, write_fault_feeds)

BUILD, SCENARIO = sys.argv[1], sys.argv[2]
FETCHER = os.path.join(BUILD, "services/fetcher/newsalert-fetcher")
MATCHER = os.path.join(BUILD, "services/matcher/newsalert-matcher")
NOTIFIER = os.path.join(BUILD, "services/notifier/newsalert-notifier")
ITEMS = int(os.environ.get("NA_FAULT_ITEMS", "10000"))
FEEDS = 100
DEADLINE = float(os.environ.get("NA_FAULT_DEADLINE", "200"))
MARKS = [("alpha", 2), ("beta", 5)]  # item n's title has WORD when MOD divides n
RULES = [("every", "story"), ("alpha", "alpha"), ("beta", "beta")]


def wait_until(pred, timeout, step=0.1):
    return wait_for(pred, timeout, step)


def verify_file(name, path, want):
    t = tally(path, want)
    print("     %s: %d lines, %d expected, %d missing, %d duplicate seqs, %d duplicate alerts, "
          "in order: %s" % (name, len(t.alerts), len(want), t.missing, t.dup_seq, t.dup_key,
                            t.in_order))
    check(t.exact, "file sink %s: every expected alert exactly once, in seq order" % name)
    return {a["seq"]: (a["rule"]["id"], a["item"]["id"]) for a in t.alerts}


def main():
    tmp = tempfile.mkdtemp(prefix="newsalert-notifier-faults-")
    want = write_fault_feeds(tmp, ITEMS, FEEDS, RULES, MARKS)
    with open(os.path.join(tmp, "rules.json"), "w") as f:
        json.dump({"rules": [{"id": r, "query": w} for r, w in RULES]}, f)
    want_alpha = {k for k in want if k[0] == "alpha"}
    want_beta = {k for k in want if k[0] == "beta"}
    outage = SCENARIO == "webhook-outage"
    phase = {"name": "500"}
    lock = threading.Lock()

    def answer(h):
        with lock:
            if phase["name"] == "500":
                return 500, {}, 0
            if phase["name"] == "429":
                phase["name"] = "ok"
                return 429, {"Retry-After": "1"}, 0
            return 200, {}, 0

    hook = HookServer(answer=answer if outage else None)
    if not outage:
        hook.start()
    ep = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    all_f, alpha_f, run_f = (os.path.join(tmp, n) for n in ("all.jsonl", "alpha.jsonl",
                                                             "run.log"))
    config = os.path.join(tmp, "config.json")
    with open(config, "w") as f:
        json.dump({"state_dir": "var", "rules": "rules.json", "feeds": "feeds.json",
                   "items_endpoint": ep[0], "alerts_endpoint": ep[1], "replay_endpoint": ep[2],
                   "fetcher": {"concurrency": 4, "max_age_s": 0, "interval_s": 3600},
                   "notifier": {"sinks": [
                       {"type": "file", "name": "all", "path": all_f},
                       {"type": "file", "name": "alpha", "path": alpha_f, "topics": ["alpha"]},
                       {"type": "webhook", "name": "hook", "url": hook.url("/hook"),
                        "topics": ["alpha"], "retry_initial_ms": 100, "retry_max_s": 1},
                       {"type": "exec", "name": "run", "topics": ["beta"], "concurrency": 2,
                        "command": "cat >/dev/null; echo \"$NEWSALERT_SEQ\" >> '%s'" % run_f},
                   ]}}, f)
    total = len(want)
    print("     scenario %s: %d items in %d feeds, %d expected alerts (%d alpha, %d beta)"
          % (SCENARIO, ITEMS, FEEDS, total, len(want_alpha), len(want_beta)), flush=True)

    def hook_keys():
        return [int(r["headers"]["Idempotency-Key"]) for r in hook.got("/hook", status=200)]

    def run_seqs():
        try:
            with open(run_f) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    procs = []
    t0 = time.monotonic()
    try:
        matcher = Proc("matcher", [MATCHER, "-c", config], tmp)
        notifier = Proc("notifier", [NOTIFIER, "-c", config], tmp)
        procs += [matcher, notifier]
        time.sleep(0.5)
        procs.append(Proc("fetcher", [FETCHER, "-c", config], tmp))

        kills = 0
        if SCENARIO == "notifier-kill":
            for frac in (0.15, 0.4, 0.7):
                if not wait_until(lambda: count_lines(all_f) >= frac * total, DEADLINE / 3):
                    break
                notifier.kill9()
                kills += 1
                print("     SIGKILL notifier at %d alerts in the file sink" % count_lines(all_f),
                      flush=True)
                notifier.start()
            check(kills == 3, "the notifier was killed 3 times mid-delivery (%d)" % kills)
        elif outage:
            wait_until(lambda: count_lines(all_f) >= 0.3 * total, DEADLINE / 3)
            t_down = time.monotonic()
            # the other sinks finish while the receiver is still down
            full = wait_until(lambda: count_lines(all_f) >= total
                              and len(set(run_seqs())) >= len(want_beta), DEADLINE / 3)
            check(full and not hook.requests,
                  "file and exec sinks complete while the webhook receiver is down "
                  "(%.1f s after 30%%)" % (time.monotonic() - t_down))
            time.sleep(max(0.0, 6.0 - (time.monotonic() - t_down)))  # > ZMTP heartbeat timeout
            log = notifier.logtext()
            print("     receiver down %.1f s: %d attempts refused"
                  % (time.monotonic() - t_down, log.count("sink hook: alert ")), flush=True)
            check("Connection refused" in log or "Couldn't connect" in log,
                  "webhook: connection refused, retried")
            hook.start()
            wait_until(lambda: len(hook.got("/hook", status=500)) >= 3, 20)
            print("     receiver answered 500 %d times" % len(hook.got("/hook", status=500)),
                  flush=True)
            with lock:
                phase["name"] = "429"
        else:
            print("unknown scenario " + SCENARIO)
            return 2

        def done():
            return (count_lines(all_f) >= total and count_lines(alpha_f) >= len(want_alpha)
                    and len(set(hook_keys())) >= len(want_alpha)
                    and len(set(run_seqs())) >= len(want_beta))

        ok = wait_until(done, max(5, DEADLINE - (time.monotonic() - t0)), 0.3)
        check(ok, "every sink caught up")
        time.sleep(1.5)  # anything extra (a duplicate) would show up now
        elapsed = time.monotonic() - t0
        for p in procs:
            p.stop()
        print("     %.1f s from start to every sink done" % elapsed)
        by_seq = verify_file("all", all_f, want)
        verify_file("alpha", alpha_f, want_alpha)
        keys = hook_keys()
        got = {by_seq.get(k) for k in keys}
        dup = len(keys) - len(set(keys))
        attempts = len(hook.got("/hook"))
        print("     webhook: %d deliveries (%d requests in all), %d unique, %d expected, "
              "%d duplicates by Idempotency-Key" % (len(keys), attempts, len(set(keys)),
                                                     len(want_alpha), dup))
        check(got == want_alpha and (dup <= kills if not outage else dup == 0),
              "webhook: every expected alert exactly once after de-duplication "
              "(%d duplicates for %d kills)" % (dup, kills))
        if outage:
            check(keys == sorted(keys), "webhook: delivered in seq order")
        runs = run_seqs()
        dup_r = len(runs) - len(set(runs))
        print("     exec: %d runs, %d unique, %d expected, %d duplicates by NEWSALERT_SEQ"
              % (len(runs), len(set(runs)), len(want_beta), dup_r))
        check({by_seq.get(s) for s in runs} == want_beta and dup_r <= 4 * kills,
              "exec: every expected alert exactly once after de-duplication (%d duplicates "
              "for %d kills)" % (dup_r, kills))
        nlog = notifier.logtext()
        check("Assertion" not in nlog and "Sanitizer" not in nlog and "runtime error" not in nlog,
              "notifier: no assertion or sanitizer report")
    finally:
        stop_all(procs, 20)
        hook.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end matcher throughput: PULL (hand-off) -> match -> journal -> PUB.

Generates rules and items with bench_match (same generator, same seed),
starts newsalert-matcher on loopback with those rules, pushes every item
through the acknowledged hand-off as fast as the window allows, subscribes
to the alerts, and reports items/s from the first item sent to the last
acknowledgement, the alerts received, the matcher's CPU time (all its
threads, and its main thread alone: the one that receives, matches with
matcher.threads 1, journals and publishes) and this driver's, to show it
is not the bottleneck.

Like bench_match, it runs two passes over the same items: a first, cold one
(every word is new to the matcher) and the measured, warm one (the steady
state of a running matcher that has seen its feeds' vocabulary).  The cold
pass sends the items under other ids ("warm-" + id), so that the measured
pass is not taken for resends; both are printed.

The subscriber here is a plain ZeroMQ SUB drained by Python: at 100k rules
(11 alerts an item) it cannot keep up with the matcher, whose PUB then drops
what the SUB's queue cannot take (by design: a slow subscriber catches up
by replay), so "alerts received" may be a little under the alerts
published; the rate is taken from the acknowledgements.

Usage: bench_match_e2e.py BUILD_DIR [RULES] [ITEMS] [THREADS] [SYNC]
  RULES (default 10000), ITEMS (default 20000), THREADS (matcher.threads,
  default 1: always written to the config, where the default would be one
  per core), SYNC (journal.sync: 1 or 0, default 1).  NA_MATCHER_WRAP
  (e.g. "perf record -o F") runs the matcher under a profiler;
  NA_BENCH_PASS_HOOK (e.g. "callgrind_control -d") is run after each pass
  with the matcher's pid appended (so a profile of the warm pass alone can
  be dumped); NA_MATCHER_BIN runs another matcher binary (e.g. an old copy,
  for interleaved before/after runs) with BUILD_DIR's bench_match;
  NA_KEEP_TMP keeps the temporary directory (journal, log).

Items go over the hand-off packed (common/item_pack.h, op "packed_item",
packed here with Python's struct), as the fetcher sends them;
NA_BENCH_ITEM_ENC=json sends the same items as item JSON instead (the form
before packed items, still accepted by the matcher), for a before/after.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from natest import free_port, pack_item, sigterm, write_json  # noqa: E402


def drain(sub):
    """Receive every alert already waiting on sub; how many."""
    n = 0
    while True:
        try:
            sub.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return n
        n += 1


def matcher_cpu(pid, tid=None, field=0):
    """CPU seconds of a process (the sum over its threads), or of its thread
    tid, from /proc/PID/task/TID/schedstat (nanoseconds, where /proc/PID/stat
    counts 10 ms ticks: too coarse for a pass of a second); field 1: the
    seconds spent runnable but waiting for a CPU instead."""
    tids = [tid] if tid is not None else []
    if tid is None:
        try:
            tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
        except OSError:
            return 0.0
    total = 0
    for t in tids:
        try:
            with open("/proc/%d/task/%d/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[field])
        except (OSError, IndexError, ValueError):
            pass  # a thread that has just ended
    return total / 1e9


def run_pass(label, payloads, base, dealer, sub, matcher, nrules, threads, sync, packed):
    """Send payloads (tags after base), wait for every ack; print the figures.
    Returns the last tag used."""
    cpu0 = matcher_cpu(matcher.pid)
    main0 = matcher_cpu(matcher.pid, matcher.pid)
    wait0 = matcher_cpu(matcher.pid, matcher.pid, 1)
    acked, alerts, sent = 0, 0, 0
    window = 20000
    poller = zmq.Poller()
    poller.register(dealer, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)
    t0 = time.monotonic()
    self0 = os.times()
    while acked < len(payloads) and time.monotonic() - t0 < 600:
        while sent < len(payloads) and sent - acked < window:
            if packed:
                hdr = b'{"v":1,"op":"packed_item","tag":%d}' % (base + sent + 1)
            else:
                hdr = b'{"v":1,"op":"item","tag":%d}' % (base + sent + 1)
            dealer.send_multipart([hdr, payloads[sent]])
            sent += 1
        for sock, _ in poller.poll(100):
            if sock is dealer:
                while True:
                    try:
                        ack = json.loads(dealer.recv(zmq.NOBLOCK))
                    except zmq.Again:
                        break
                    acked += len(ack.get("tags", []))
            else:
                alerts += drain(sub)
    t1 = time.monotonic()
    self1 = os.times()
    cpu = matcher_cpu(matcher.pid) - cpu0
    main = matcher_cpu(matcher.pid, matcher.pid) - main0
    wait = matcher_cpu(matcher.pid, matcher.pid, 1) - wait0
    end = time.monotonic() + 5
    while time.monotonic() < end:
        if sub.poll(300):
            alerts += drain(sub)
        else:
            break
    drv = (self1.user - self0.user) + (self1.system - self0.system)
    print("e2e %s: %d rules, %d items %s, matcher.threads %d, journal.sync %s: %.0f items/s "
          "(%d acknowledged in %.2f s), %d alerts received (%.2f/item); the matcher used "
          "%.2f s of CPU: %.0f items per CPU-second (%.1f us/item; its main thread %.1f us/item, "
          "and %.1f us/item waiting for a CPU); this driver used %.2f s (%.1f us/item)"
          % (label, nrules, len(payloads), "packed" if packed else "as JSON", threads, sync,
             acked / (t1 - t0), acked, t1 - t0,
             alerts, alerts / max(1, acked), cpu, acked / max(cpu, 1e-9),
             1e6 * cpu / max(1, acked), 1e6 * main / max(1, acked),
             1e6 * wait / max(1, acked), drv,
             1e6 * drv / max(1, acked)), flush=True)
    return base + sent


def main():
    build = sys.argv[1]
    nrules = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    nitems = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    sync = (sys.argv[5] != "0") if len(sys.argv) > 5 else True
    enc = os.environ.get("NA_BENCH_ITEM_ENC", "packed") or "packed"
    if enc not in ("json", "packed"):
        sys.exit("bench_match_e2e: NA_BENCH_ITEM_ENC must be json or packed, not %r" % enc)
    packed = enc == "packed"
    tmp = tempfile.mkdtemp(prefix="newsalert-e2e-")
    rules = os.path.join(tmp, "rules.json")
    items = os.path.join(tmp, "items.jsonl")
    subprocess.run([os.path.join(build, "tests/bench_match"), "--rules", str(nrules),
                    "--items", str(nitems), "--sample", "1", "--no-naive", "--no-pcre",
                    "--no-hs", "--write-rules", rules, "--write-items", items],
                   check=True, stdout=subprocess.DEVNULL)
    with open(items) as f:
        payloads = [line.strip().encode() for line in f if line.strip()]
    warmup = []
    for i, p in enumerate(payloads):
        obj = json.loads(p)
        if packed:
            payloads[i] = pack_item(obj)
        obj["id"] = "warm-" + obj["id"]
        warmup.append(pack_item(obj) if packed else json.dumps(obj).encode())
    ep = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    write_json(os.path.join(tmp, "feeds.json"), {"feeds": []})
    cfg = {"state_dir": "var", "rules": "rules.json", "feeds": "feeds.json",
           "items_endpoint": ep[0], "alerts_endpoint": ep[1], "replay_endpoint": ep[2],
           "journal": {"sync": sync, "max_alerts": 0}}
    cfg["matcher"] = {"threads": threads}  # always: the default is one per core
    config = write_json(os.path.join(tmp, "config.json"), cfg)
    log = open(os.path.join(tmp, "matcher.log"), "w+")
    wrap = os.environ.get("NA_MATCHER_WRAP", "").split()  # e.g. "perf record -o F"
    binary = os.environ.get("NA_MATCHER_BIN") or os.path.join(
        build, "services/matcher/newsalert-matcher")
    hook = os.environ.get("NA_BENCH_PASS_HOOK", "").split()  # e.g. "callgrind_control -d"
    matcher = subprocess.Popen(wrap + [binary, "-c", config], stdout=log,
                               stderr=subprocess.STDOUT)
    ctx = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"r")
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect(ep[1])
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.SNDHWM, 0)
        dealer.connect(ep[0])
        time.sleep(1.0 + nrules / 100000.0)  # the matcher loads its rules
        base = 0
        for label, batch in (("cold pass", warmup), ("warm pass (measured)", payloads)):
            base = run_pass(label, batch, base, dealer, sub, matcher, nrules, threads, sync,
                            packed)
            if hook:
                subprocess.run(hook + [str(matcher.pid)], check=False,
                               stdout=subprocess.DEVNULL)
    finally:
        sigterm(matcher, 30)
        ctx.destroy(linger=0)
        log.close()
        if os.environ.get("NA_KEEP_TMP") is None:
            shutil.rmtree(tmp, ignore_errors=True)  # the journal is hundreds of MB


if __name__ == "__main__":
    main()

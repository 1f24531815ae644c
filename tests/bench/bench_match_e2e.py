#!/usr/bin/env python3
"""End-to-end matcher throughput: PULL (hand-off) -> match -> journal -> PUB.

Generates rules and items with bench_match (same generator, same seed),
starts newsalert-matcher on loopback with those rules, pushes every item
through the acknowledged hand-off as fast as the window allows, subscribes
to the alerts, and reports items/s from the first item sent to the last
acknowledgement, and the alerts received.

Usage: bench_match_e2e.py BUILD_DIR [RULES] [ITEMS] [THREADS] [SYNC]
  RULES (default 10000), ITEMS (default 20000), THREADS (matcher.threads,
  default 1), SYNC (journal.sync: 1 or 0, default 1).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from natest import free_port, sigterm, write_json  # noqa: E402


def drain(sub):
    """Receive every alert already waiting on sub; how many."""
    n = 0
    while True:
        try:
            sub.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return n
        n += 1


def matcher_cpu(pid):
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main():
    build = sys.argv[1]
    nrules = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    nitems = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    sync = (sys.argv[5] != "0") if len(sys.argv) > 5 else True
    tmp = tempfile.mkdtemp(prefix="newsalert-e2e-")
    rules = os.path.join(tmp, "rules.json")
    items = os.path.join(tmp, "items.jsonl")
    subprocess.run([os.path.join(build, "tests/bench_match"), "--rules", str(nrules),
                    "--items", str(nitems), "--sample", "1", "--no-naive", "--no-pcre",
                    "--no-hs", "--write-rules", rules, "--write-items", items],
                   check=True, stdout=subprocess.DEVNULL)
    with open(items) as f:
        payloads = [line.strip().encode() for line in f if line.strip()]
    ep = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    write_json(os.path.join(tmp, "feeds.json"), {"feeds": []})
    cfg = {"state_dir": "var", "rules": "rules.json", "feeds": "feeds.json",
           "items_endpoint": ep[0], "alerts_endpoint": ep[1], "replay_endpoint": ep[2],
           "journal": {"sync": sync, "max_alerts": 0}}
    if threads != 1:
        cfg["matcher"] = {"threads": threads}
    config = write_json(os.path.join(tmp, "config.json"), cfg)
    log = open(os.path.join(tmp, "matcher.log"), "w+")
    wrap = os.environ.get("NA_MATCHER_WRAP", "").split()  # e.g. "perf record -o F"
    matcher = subprocess.Popen(wrap + [os.path.join(build, "services/matcher/newsalert-matcher"),
                                       "-c", config], stdout=log, stderr=subprocess.STDOUT)
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
        cpu0 = matcher_cpu(matcher.pid)
        acked, alerts, sent = 0, 0, 0
        window = 20000
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(sub, zmq.POLLIN)
        t0 = time.monotonic()
        while acked < len(payloads) and time.monotonic() - t0 < 600:
            while sent < len(payloads) and sent - acked < window:
                hdr = b'{"v":1,"op":"item","tag":%d}' % (sent + 1)
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
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if sub.poll(300):
                alerts += drain(sub)
            else:
                break
        cpu = matcher_cpu(matcher.pid) - cpu0
        print("e2e: %d rules, %d items, matcher.threads %d, journal.sync %s: %.0f items/s "
              "(%d acknowledged in %.2f s), %d alerts received (%.1f/item); the matcher "
              "used %.2f s of CPU: %.0f items per CPU-second (the rest of the wall time it "
              "waited for this Python producer or for the disk)"
              % (nrules, len(payloads), threads, sync, acked / (t1 - t0), acked, t1 - t0,
                 alerts, alerts / max(1, acked), cpu, acked / max(cpu, 1e-9)))
    finally:
        sigterm(matcher, 30)
        ctx.destroy(linger=0)


if __name__ == "__main__":
    main()

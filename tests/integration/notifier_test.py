#!/usr/bin/python3
"""Integration test of newsalert-notifier: the real binary against a PUB
socket bound by this test on loopback.

Checks: -n on good and bad configurations; every alert reaches the file
sink exactly once as a JSON line (duplicated seq dropped); stdout gives JSON
lines when it is not a terminal; a sink's topic filter; the exec sink gets
the JSON on stdin with NEWSALERT_RULE_ID/NEWSALERT_SEQ, a failing command is
logged with its status, a hanging one is killed at its timeout without
delaying the other sinks; hostile frames are logged and dropped while later
alerts still arrive; SIGHUP reopens the file (rotation); SIGTERM exits 0
quickly.

usage: notifier_test.py NOTIFIER_BINARY
Exit 0 when all checks pass, 1 on failure (pyzmq missing included).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:
    print("FAIL: python3 zmq module missing (deploy/install-deps.sh --test installs python3-zmq)")
    sys.exit(1)

BIN = os.path.abspath(sys.argv[1])
failures = []
checks = [0]


def check(cond, what):
    checks[0] += 1
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def alert(rule, seq, title="A title"):
    return json.dumps({
        "v": 1, "seq": seq, "ts": "2025-02-12T15:35:00Z",
        "rule": {"id": rule, "name": rule.upper()},
        "item": {"id": "id-%d" % seq, "title": title, "link": "https://example.org/%d" % seq,
                 "feed": "https://example.org/feed", "feed_title": "Example",
                 "published": "2025-02-12T15:30:00Z", "summary": "text"},
    }, separators=(",", ":"))


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test_check_only(tmp):
    good = os.path.join(tmp, "good.json")
    with open(good, "w") as f:
        json.dump({"notifier": {"sinks": [{"type": "file", "path": "x.jsonl"}]}}, f)
    r = subprocess.run([BIN, "-n", "-c", good], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "configuration OK" in r.stdout, "-n on a good config exits 0")
    bad_configs = {
        "syntax": '{"notifier": {',
        "unknown_key": '{"notifier": {"sinkz": []}}',
        "bad_type": '{"notifier": {"sinks": [{"type": "pager"}]}}',
        "no_path": '{"notifier": {"sinks": [{"type": "file"}]}}',
        "bad_format": '{"notifier": {"sinks": [{"type": "stdout", "format": "xml"}]}}',
    }
    for name, text in bad_configs.items():
        p = os.path.join(tmp, "bad_%s.json" % name)
        with open(p, "w") as f:
            f.write(text)
        r = subprocess.run([BIN, "-n", "-c", p], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and r.stderr.strip() != "" and "OK" not in r.stdout,
              "-n on a bad config (%s) exits 1 with an error: %s" % (name, r.stderr.strip()))
    r = subprocess.run([BIN, "-n", "-c", os.path.join(tmp, "missing.json")],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 1, "-n on a missing file exits 1")


def test_daemon(tmp):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    out_file = os.path.join(tmp, "alerts.jsonl")
    keep_file = os.path.join(tmp, "keep.jsonl")
    exec_dir = os.path.join(tmp, "exec")
    os.mkdir(exec_dir)
    cfg = {
        "alerts_endpoint": "tcp://127.0.0.1:%d" % port,
        "state_dir": os.path.join(tmp, "var"),
        "notifier": {"sinks": [
            {"type": "stdout"},
            {"type": "file", "path": out_file},
            {"type": "file", "path": keep_file, "topics": ["keep"]},
            {"type": "exec", "topics": ["news", "keep"], "concurrency": 2, "timeout_s": 5,
             "command": 'cat > "%s/$NEWSALERT_SEQ.json"; '
                        'printf %%s "$NEWSALERT_RULE_ID" > "%s/$NEWSALERT_SEQ.rule"'
                        % (exec_dir, exec_dir)},
            {"type": "exec", "name": "slow", "topics": ["slow"], "timeout_s": 2,
             "command": 'echo $$ > "%s/slow.pid"; exec sleep 60' % exec_dir},
            {"type": "exec", "name": "failing", "topics": ["fail"], "command": "exit 3"},
            {"type": "exec", "name": "flood", "topics": ["flood"], "concurrency": 1,
             "timeout_s": 60, "command": "exec sleep 30"},
        ]},
    }
    cfg_path = os.path.join(tmp, "notifier.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    stdout = open(os.path.join(tmp, "stdout"), "wb")
    stderr = open(os.path.join(tmp, "stderr"), "wb")
    proc = subprocess.Popen([BIN, "-c", cfg_path], stdout=stdout, stderr=stderr)
    try:
        run_daemon_checks(tmp, pub, proc, out_file, keep_file, exec_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdout.close()
        stderr.close()
        pub.close(0)
        ctx.term()
    with open(os.path.join(tmp, "stderr"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    with open(os.path.join(tmp, "stdout"), encoding="utf-8") as f:
        out = [json.loads(line) for line in f if line.strip()]
    return log, out


def run_daemon_checks(tmp, pub, proc, out_file, keep_file, exec_dir):
    # Wait for the subscription: warm-up alerts until the file sink has one.
    seq = 1
    while not read_lines(out_file):
        if proc.poll() is not None or seq > 200:
            raise SystemExit("notifier did not come up")
        pub.send_multipart([b"warm", alert("warm", seq).encode()])
        seq += 1
        time.sleep(0.05)
    time.sleep(0.2)
    warm = len(read_lines(out_file))

    sent = {}

    def send(rule, s, title="A title"):
        body = alert(rule, s, title)
        sent[s] = json.loads(body)
        pub.send_multipart([rule.encode(), body.encode()])

    send("news", 100, "Quake \u00e9 \u2026")
    # hostile frames
    pub.send(b"news")                                            # 1 part
    pub.send_multipart([b"news", alert("news", 150).encode(), b"x"])  # 3 parts
    pub.send_multipart([b"news", b'{"v":1,"seq":151,"rule":{'])  # truncated JSON
    pub.send_multipart([b"ne\xffws", alert("ne", 152).encode()])  # invalid UTF-8 (prefix "ne")
    pub.send_multipart([b"news", alert("news", 153).replace('"v":1', '"v":2').encode()])
    pub.send_multipart([b"news", b"{" + b" " * (300 * 1024) + b"}"])  # oversize
    pub.send_multipart([b"news", alert("news", 100).encode()])   # duplicate seq
    send("slow", 101)
    t_slow = time.monotonic()
    send("fail", 102)
    send("keep-1", 103)

    check(wait_for(lambda: len(read_lines(out_file)) >= warm + 4, 3),
          "file sink gets the good alerts while the slow command hangs")
    check(time.monotonic() - t_slow < 1.5, "file sink not delayed by the hanging command")
    lines = read_lines(out_file)[warm:]
    check([l["seq"] for l in lines] == [100, 101, 102, 103],
          "file sink: each alert once, in order, bad ones dropped: %s"
          % [l["seq"] for l in lines])
    check(all(l == sent[l["seq"]] for l in lines), "file sink lines are the alert JSON")
    check([l["seq"] for l in read_lines(keep_file)] == [103], "topic filter of a file sink")

    ok = wait_for(lambda: os.path.exists(os.path.join(exec_dir, "103.rule")), 3)
    check(ok, "exec sink ran for news and keep alerts")
    for s, rule in ((100, "news"), (103, "keep-1")):
        try:
            with open(os.path.join(exec_dir, "%d.json" % s), encoding="utf-8") as f:
                got = json.loads(f.read())
            with open(os.path.join(exec_dir, "%d.rule" % s), encoding="utf-8") as f:
                got_rule = f.read()
        except (OSError, ValueError) as e:
            got, got_rule = str(e), None
        check(got == sent[s], "exec sink: alert %d JSON on stdin" % s)
        check(got_rule == rule, "exec sink: NEWSALERT_RULE_ID for alert %d" % s)
    check(not os.path.exists(os.path.join(exec_dir, "101.json")), "exec sink topic filter")

    # the hanging command: killed at its 2 s timeout
    check(wait_for(lambda: os.path.exists(os.path.join(exec_dir, "slow.pid")), 3),
          "slow command started")
    with open(os.path.join(exec_dir, "slow.pid")) as f:
        slow_pid = int(f.read().strip() or 0)

    def gone(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split()[2] == "Z"
        except FileNotFoundError:
            return True

    check(not gone(slow_pid), "hanging command still running before its timeout")
    check(wait_for(lambda: gone(slow_pid), 5), "hanging command killed at its timeout")
    elapsed = time.monotonic() - t_slow
    check(1.8 <= elapsed < 4.5, "killed at its 2 s timeout, not before (%.2f s)" % elapsed)

    # rotation: move the file away, SIGHUP, the next alert goes to a new file
    os.rename(out_file, out_file + ".1")
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    send("news", 104)
    check(wait_for(lambda: [l["seq"] for l in read_lines(out_file)] == [104], 3),
          "SIGHUP reopens the file sink")
    check(proc.poll() is None, "still running after bad frames and SIGHUP")

    # a flood for a busy exec sink: 1 running, 256 queued, the oldest dropped
    for s in range(200, 500):
        send("flood", s)
    check(wait_for(lambda: len(read_lines(out_file)) == 301, 5),
          "file sink keeps up with a flood while the exec sink is saturated")

    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM exits 0 (rc %s)" % rc)
    elapsed = time.monotonic() - t0
    check(elapsed < 3.0, "SIGTERM exits quickly, a busy command given ~1 s (%.2f s)" % elapsed)


def main():
    with tempfile.TemporaryDirectory(prefix="notifier-test-") as tmp:
        test_check_only(tmp)
        log, out = test_daemon(tmp)
        check(log.count("bad message dropped") == 6,
              "six bad messages logged (%d)" % log.count("bad message dropped"))
        for reason in ("1 part", "3 parts", "invalid JSON", "UTF-8", "\"v\"", "exceeds"):
            check(reason in log, "bad message reason logged: %s" % reason)
        check("duplicate" in log, "duplicate seq logged")
        check("exited with status 3" in log and "exit 3" in log,
              "failing command logged with command and status")
        check("timed out" in log, "timeout logged")
        check(log.count("queue full") == 300 - 1 - 256,
              "full exec queue drops the oldest with a warning (%d)" % log.count("queue full"))
        check("dropped alert 201 " in log and "dropped alert 243 " in log
              and "dropped alert 244 " not in log, "the oldest queued alerts are the dropped ones")
        check("256 queued alerts not run at shutdown" in log, "queued alerts reported at shutdown")
        check(all(l.get("v") == 1 for l in out) and 104 in [l["seq"] for l in out],
              "stdout sink writes JSON lines when not a terminal")
        check("runtime error" not in log and "Sanitizer" not in log,
              "no sanitizer reports")
        check(" INFO " in log and "notifier:" in log, "log lines carry level and name")
        if failures:
            sys.stderr.write("---- notifier log ----\n" + log)
    print("%d passed, %d failed" % (checks[0] - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

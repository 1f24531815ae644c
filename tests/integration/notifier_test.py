#!/usr/bin/python3
"""Integration test of newsalert-notifier: the real binary against the
matcher's side of the protocol played by this test on loopback (a PUB
alerts_endpoint with heartbeats and a replay ROUTER, see notifytest.py).

Checks: -n on good and bad configurations; every alert reaches the file
sink exactly once as a JSON line (duplicated seq dropped); stdout gives JSON
lines when it is not a terminal; a sink's topic filter; the exec sink gets
the JSON on stdin with NEWSALERT_RULE_ID/NEWSALERT_SEQ, a failing command is
logged with its status, a hanging one is killed at its timeout without
delaying the other sinks; hostile frames are counted and dropped while later
alerts still arrive; SIGHUP reopens the file (rotation); a saturated exec
sink holds back nobody and loses nothing: the command killed at shutdown
runs again after a restart, which resumes every sink at its cursor (alerts
published while the notifier was down come by replay); SIGTERM exits 0
quickly.

usage: notifier_test.py NOTIFIER_BINARY
Exit 0 when all checks pass, 1 on failure (pyzmq missing included).
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

try:
    import zmq  # noqa: F401 (natest needs it)
except ImportError:
    print("FAIL: python3 zmq module missing (deploy/install-deps.sh --test installs python3-zmq)")
    sys.exit(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (FakeMatcher, alert, check, checks, failures,  # noqa: E402
                    read_jsonl, sigterm, wait_for)

BIN = os.path.abspath(sys.argv[1])


def read_lines(path):
    return read_jsonl(path, complete=True)


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
    fm = FakeMatcher()
    out_file = os.path.join(tmp, "alerts.jsonl")
    keep_file = os.path.join(tmp, "keep.jsonl")
    exec_dir = os.path.join(tmp, "exec")
    os.mkdir(exec_dir)
    cfg = {
        "alerts_endpoint": fm.alerts_endpoint,
        "replay_endpoint": fm.replay_endpoint,
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
             "timeout_s": 60,
             "command": 'echo "$NEWSALERT_SEQ" >> "%s/flood.log"; exec sleep 30' % exec_dir},
        ]},
    }
    cfg_path = os.path.join(tmp, "notifier.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    stdout = open(os.path.join(tmp, "stdout"), "wb")
    stderr = open(os.path.join(tmp, "stderr"), "wb")
    proc = subprocess.Popen([BIN, "-c", cfg_path], stdout=stdout, stderr=stderr)
    try:
        run_daemon_checks(tmp, fm, proc, out_file, keep_file, exec_dir)
        # a crash between the write of line 600 and its cursor, and a torn
        # line 601 (no newline): the file sink must resume after 600 and
        # write 601 again, whole
        fm.publish("news", alert("news", 600))
        fm.publish("news", alert("news", 601))
        fm.sync()
        with open(out_file, "a") as f:
            f.write(alert("news", 600) + "\n" + alert("news", 601)[:40])
        # a restart: every sink resumes at its cursor
        proc = subprocess.Popen([BIN, "-c", cfg_path], stdout=stdout, stderr=stderr)
        run_restart_checks(tmp, fm, proc, out_file, exec_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdout.close()
        stderr.close()
        fm.close()
    with open(os.path.join(tmp, "stderr"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    with open(os.path.join(tmp, "stdout"), encoding="utf-8") as f:
        out = [json.loads(line) for line in f if line.strip()]
    return log, out


def run_daemon_checks(tmp, fm, proc, out_file, keep_file, exec_dir):
    # Warm-up alerts until the file sink has one.
    seq = 1
    while not read_lines(out_file):
        if proc.poll() is not None or seq > 200:
            raise SystemExit("notifier did not come up")
        fm.publish("warm", alert("warm", seq))
        seq += 1
        time.sleep(0.05)
    time.sleep(0.2)
    warm = len(read_lines(out_file))
    check(warm == seq - 1, "warm-up alerts all delivered once (%d of %d)" % (warm, seq - 1))

    sent = {}

    def send(rule, s, title="A title"):
        body = alert(rule, s, title)
        sent[s] = json.loads(body)
        fm.publish(rule, body)

    send("news", 100, "Quake \u00e9 \u2026")
    # hostile frames
    fm.send_raw([b"news"])                                            # 1 part
    fm.send_raw([b"news", alert("news", 150).encode(), b"x"])         # 3 parts
    fm.send_raw([b"news", b'{"v":1,"seq":151,"rule":{'])              # truncated JSON
    fm.send_raw([b"ne\xffws", alert("ne", 152).encode()])             # invalid UTF-8
    fm.send_raw([b"news", alert("news", 153).replace('"v":1', '"v":2').encode()])
    fm.send_raw([b"news", b"{" + b" " * (300 * 1024) + b"}"])         # oversize
    fm.send_raw([b"news", alert("news", 100).encode()])               # duplicate seq
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
    check(wait_for(lambda: [l["seq"] for l in read_lines(keep_file)] == [103], 3),
          "topic filter of a file sink")

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
    pid_file = os.path.join(exec_dir, "slow.pid")
    check(wait_for(lambda: os.path.exists(pid_file) and open(pid_file).read().endswith("\n"), 3),
          "slow command started")
    with open(os.path.join(exec_dir, "slow.pid")) as f:
        slow_pid = int(f.read().strip() or 0)

    def gone(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split()[2] == "Z"
        except FileNotFoundError:
            return True

    check(not gone(slow_pid), "hanging command %d still running before its timeout (%.2f s)"
          % (slow_pid, time.monotonic() - t_slow))
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
    # well-framed but bad alerts, journaled too (so they come by replay as
    # well): the notifier's own checks drop them
    fm.publish(b"ne\xffws", alert("news", 110))
    fm.publish("news", alert("news", 111).replace('"v":1', '"v":2'))
    fm.publish("news", alert("news", 112))
    check(wait_for(lambda: [l["seq"] for l in read_lines(out_file)] == [104, 112], 3),
          "alerts with a bad topic or version are dropped, the next one delivered")
    check(proc.poll() is None, "still running after bad frames and SIGHUP")

    # a flood for a busy exec sink (1 command at a time, each 30 s): the
    # others keep up, and nothing is dropped (the rest waits in its stream)
    for s in range(200, 500):
        send("flood", s)
    check(wait_for(lambda: len(read_lines(out_file)) == 302, 5),
          "file sink keeps up with a flood while the exec sink is saturated")
    check(wait_for(lambda: os.path.exists(os.path.join(exec_dir, "flood.log")), 3),
          "the flood's first command started")

    rc, elapsed = sigterm(proc, 5)
    check(rc == 0, "SIGTERM exits 0 (rc %s)" % rc)
    check(elapsed < 3.0, "SIGTERM exits quickly, a busy command given ~1 s (%.2f s)" % elapsed)


def run_restart_checks(tmp, fm, proc, out_file, exec_dir):
    # 600 and 601 were published while the notifier was down: by replay
    check(wait_for(lambda: [l["seq"] for l in read_lines(out_file)][-1:] == [601], 10),
          "after a restart the file sink gets the alerts published while it was down")
    got = [l["seq"] for l in read_lines(out_file)]
    want = [104, 112] + list(range(200, 500)) + [600, 601]
    check(got == want, "after a restart nothing is written twice or skipped (%d lines, "
          "first differences %s)" % (len(got), [(a, b) for a, b in zip(got, want) if a != b][:3]))
    with open(os.path.join(exec_dir, "flood.log")) as f:
        runs = f.read().split()
    check(wait_for(lambda: open(os.path.join(exec_dir, "flood.log")).read().split()
                   == ["200", "200"], 5),
          "the flood command killed at shutdown runs again after the restart: %s" % runs)
    check(not os.path.exists(os.path.join(exec_dir, "600.rule")) or
          wait_for(lambda: os.path.exists(os.path.join(exec_dir, "600.rule")), 3),
          "exec sink resumes too")
    check(wait_for(lambda: os.path.exists(os.path.join(exec_dir, "600.rule")), 5),
          "exec sink runs the alert published while the notifier was down")
    check(not os.path.exists(os.path.join(exec_dir, "199.json")), "exec sink topic filter kept")
    check(wait_for(lambda: os.path.exists(os.path.join(exec_dir, "601.rule")), 5),
          "exec sink runs both alerts published while the notifier was down")
    rc, _ = sigterm(proc, 5)
    check(rc == 0, "second run: SIGTERM exits 0 (rc %s)" % rc)


def main():
    with tempfile.TemporaryDirectory(prefix="notifier-test-") as tmp:
        test_check_only(tmp)
        log, out = test_daemon(tmp)
        m = re.search(r"duplicates skipped, (\d+) bad messages", log)
        check(m is not None and int(m.group(1)) >= 6,
              "bad messages counted and dropped (%s)" % (m.group(1) if m else None))
        check("bad messages dropped from its stream so far" in log,
              "bad messages reported as they come")
        check("alert 110 dropped: topic is not valid UTF-8" in log and
              "alert 111 dropped: body is not an alert object" in log,
              "bad alerts logged with the reason")
        check("exited with status 3" in log and "exit 3" in log,
              "failing command logged with command and status")
        check("timed out" in log, "timeout logged")
        check("ends with an incomplete line" in log and "already holds alert 600" in log,
              "file sink: the torn line is cut off, the line written before the crash kept")
        check("killing 1 commands still running at shutdown" in log,
              "the command killed at shutdown is reported")
        check(all(l.get("v") == 1 for l in out) and 104 in [l["seq"] for l in out]
              and [l["seq"] for l in out].count(104) == 1,
              "stdout sink writes JSON lines when not a terminal, once each")
        check("runtime error" not in log and "Sanitizer" not in log,
              "no sanitizer reports")
        check(" INFO " in log and "notifier:" in log, "log lines carry level and name")
        if failures:
            sys.stderr.write("---- notifier log ----\n" + log)
    print("%d passed, %d failed" % (checks[0] - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

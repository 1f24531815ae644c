#!/usr/bin/python3
"""Integration test of newsalert-notifier's webhook and e-mail sinks, its
cursors and its behaviour under faults: the real binary on loopback against
the matcher's side of the protocol played by notifytest.FakeMatcher, a local
HTTP receiver and a local SMTP responder.

1. templates: json (with an HMAC-SHA256 signature verified here), slack,
   discord, matrix (PUT, {seq} in the URL), ntfy (text, Title/Click/Tags);
   Idempotency-Key and X-Newsalert-Seq carry the seq.
2. e-mail: the message as received by SMTP (headers, quoted-printable body
   with title, link, snippet and rule), a 451 answer retried.
3. fault case 5: the receiver is down (connection refused), then answers
   500, then 429 with Retry-After, then recovers: every alert arrives,
   exactly once after de-duplication by Idempotency-Key (here: exactly once
   outright), in order, with growing backoff; a file sink is not delayed;
   a hanging receiver does not delay the file sink either.
4. fault case 3: the notifier is killed with SIGKILL several times while
   alerts flow and restarted: every sink ends with each expected alert
   exactly once by seq (file sinks strictly; webhook after de-duplication by
   Idempotency-Key; exec after de-duplication by NEWSALERT_SEQ), and the
   duplicate counts are reported.

usage: notifier_sinks_test.py NOTIFIER_BINARY
"""
import email
import email.header
import email.policy
import hashlib
import hmac
import json
import os
import random
import re
import sys
import tempfile
import threading
import time

try:
    import zmq  # noqa: F401
except ImportError:
    print("FAIL: python3 zmq module missing (deploy/install-deps.sh --test installs python3-zmq)")
    sys.exit(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natest import (FakeMatcher, HookServer, SmtpServer, alert, check, checks,  # noqa: E402
                    failures, log_of, read_jsonl, sigterm, start_notifier, wait_for)

BIN = os.path.abspath(sys.argv[1])
SECRET = "s3cret-\u00e9"


def stop(proc, what):
    if proc.poll() is None:
        rc, _ = sigterm(proc, 10)
        if rc is None:
            rc = proc.returncode
        check(rc == 0, "%s: SIGTERM exits 0 (rc %s)" % (what, rc))


def base_cfg(fm, tmp, state):
    return {"alerts_endpoint": fm.alerts_endpoint, "replay_endpoint": fm.replay_endpoint,
            "state_dir": os.path.join(tmp, state), "notifier": {"sinks": []}}


def test_templates(tmp):
    fm = FakeMatcher()
    hook = HookServer(answer=lambda h: (503, {}, 0) if h.path == "/capped"
                      else (200, {}, 0)).start()
    cfg = base_cfg(fm, tmp, "var-tpl")
    cfg["notifier"]["sinks"] = [
        {"type": "webhook", "name": "json", "url": hook.url("/json"), "secret": SECRET,
         "headers": {"X-Extra": "yes"}},
        {"type": "webhook", "name": "slack", "url": hook.url("/slack"), "template": "slack"},
        {"type": "webhook", "name": "discord", "url": hook.url("/discord"),
         "template": "discord", "topics": ["quake"]},
        {"type": "webhook", "name": "matrix", "template": "matrix",
         "url": hook.url("/_matrix/client/v3/rooms/!r:x/send/m.room.message/na-{seq}"),
         "headers": {"Authorization": "Bearer tok"}},
        {"type": "webhook", "name": "ntfy", "url": hook.url("/ntfy-topic"), "template": "ntfy"},
        {"type": "webhook", "name": "capped", "url": hook.url("/capped"), "max_attempts": 2,
         "retry_initial_ms": 50, "topics": ["other"]},
    ]
    proc = start_notifier(BIN, cfg, tmp, "tpl")
    try:
        b1 = alert("quake", 1, "Quake <M7> & \u00e9", snippet="a strong quake hit")
        b2 = alert("other", 2, "Plain title")
        fm.publish("quake", b1)
        fm.publish("other", b2)
        check(wait_for(lambda: len(hook.requests) >= 11, 10), "templates: 11 requests arrive")
        time.sleep(0.3)
        j = hook.got("/json")
        check([r["body"] for r in j] == [b1.encode(), b2.encode()],
              "json template posts the alert JSON as published")
        check(all(r["headers"].get("Content-Type") == "application/json" for r in j),
              "json: Content-Type application/json")
        check([r["headers"].get("Idempotency-Key") for r in j] == ["1", "2"] and
              [r["headers"].get("X-Newsalert-Seq") for r in j] == ["1", "2"],
              "Idempotency-Key and X-Newsalert-Seq carry the seq")
        sig_ok = all(r["headers"].get("X-Newsalert-Signature") == "sha256=" + hmac.new(
            SECRET.encode(), r["body"], hashlib.sha256).hexdigest() for r in j)
        check(len(j) == 2 and sig_ok, "HMAC-SHA256 signature verifies with the secret")
        check(all(r["headers"].get("X-Extra") == "yes" for r in j), "configured headers sent")
        check(all(r["headers"].get("X-Newsalert-Rule") in ("quake", "other") for r in j),
              "X-Newsalert-Rule sent")
        check(not any("X-Newsalert-Signature" in r["headers"] for r in hook.got("/slack")),
              "no signature without a secret")
        s = [json.loads(r["body"]) for r in hook.got("/slack")]
        check(len(s) == 2 and "<https://example.org/1|Quake &lt;M7&gt; &amp; \u00e9>"
              in s[0].get("text", ""), "slack: {\"text\"} with an escaped <link|title>: %s"
              % (s[0] if s else None))
        d = [json.loads(r["body"]) for r in hook.got("/discord")]
        check(len(d) == 1 and "Quake <M7> & \u00e9" in d[0].get("content", "")
              and d[0].get("allowed_mentions") == {"parse": []},
              "discord: {\"content\"}, mentions off, topic filter: %s" % d)
        m = [r for r in hook.requests if r["path"].startswith("/_matrix/")]
        check(sorted(r["path"].rsplit("/", 1)[1] for r in m) == ["na-1", "na-2"]
              and all(r["method"] == "PUT" for r in m),
              "matrix: PUT to a transaction URL with the seq")
        mb = [json.loads(r["body"]) for r in m]
        check(len(mb) == 2 and mb[0]["msgtype"] == "m.text"
              and mb[0]["format"] == "org.matrix.custom.html"
              and "Quake <M7>" in mb[0]["body"]
              and "Quake &lt;M7&gt; &amp;" in mb[0]["formatted_body"]
              and all(r["headers"].get("Authorization") == "Bearer tok" for r in m),
              "matrix: an m.text event with an escaped HTML body")
        n = hook.got("/ntfy-topic")
        title = str(email.header.make_header(email.header.decode_header(
            n[0]["headers"].get("Title", "")))) if n else ""
        check(len(n) == 2 and n[0]["body"].decode() == "a strong quake hit\nrule: QUAKE"
              and title == "Quake <M7> & \u00e9"
              and n[0]["headers"].get("Click") == "https://example.org/1"
              and n[0]["headers"].get("Tags") == "quake"
              and n[0]["headers"].get("Content-Type", "").startswith("text/plain"),
              "ntfy: plain text with Title (RFC 2047), Click and Tags headers: %s"
              % (n[0]["headers"] if n else None))
        # a 400 is not retried: the alert is given up, the next one goes
        check(len(hook.got("/capped")) == 2, "max_attempts 2: two attempts (%d)"
              % len(hook.got("/capped")))
        hook.answer = lambda h: (400, {}, 0) if "json" in h.path else (200, {}, 0)
        fm.publish("quake", alert("quake", 3))
        fm.publish("quake", alert("quake", 4))
        check(wait_for(lambda: len(hook.got("/json")) >= 4, 5) and
              [r["headers"]["X-Newsalert-Seq"] for r in hook.got("/json")][2:] == ["3", "4"],
              "HTTP 400: given up after one attempt, the next alert goes")
    finally:
        stop(proc, "templates")
        hook.stop()
        fm.close()
    log = log_of(tmp, "tpl")
    check("alert 3 for rule quake given up: HTTP 400" in log, "a refused alert is logged")
    check("sink capped: alert 2 for rule other given up after 2 attempts: HTTP 503" in log,
          "an alert given up after max_attempts is logged")


def test_email(tmp):
    fm = FakeMatcher()
    smtp = SmtpServer(refuse=1)
    cfg = base_cfg(fm, tmp, "var-mail")
    cfg["notifier"]["sinks"] = [
        {"type": "email", "url": "smtp://127.0.0.1:%d" % smtp.port, "starttls": "try",
         "from": "alerts@news.example", "to": ["a@example.org", "b@example.org"],
         "retry_initial_ms": 100, "retry_max_s": 1},
    ]
    proc = start_notifier(BIN, cfg, tmp, "mail")
    try:
        fm.publish("quake", alert("quake", 7, "S\u00e9isme \u2026 <b>", summary="summary text",
                                  snippet="the =matched= snippet \u00e9"))
        fm.publish("other", alert("other", 8, "Second"))
        check(wait_for(lambda: len(smtp.accepted()) >= 2, 10),
              "e-mail: both messages accepted (after one 451)")
        msgs = smtp.accepted()
        check(len(smtp.messages) == 3 and not smtp.messages[0]["accepted"],
              "e-mail: the 451 answer was retried (%d attempts)" % len(smtp.messages))
        if msgs:
            m0 = msgs[0]
            msg = email.message_from_bytes(m0["data"], policy=email.policy.default)
            body = msg.get_content()
            check(m0["from"].split()[0] == "<alerts@news.example>" and
                  m0["rcpt"] == ["<a@example.org>", "<b@example.org>"],
                  "e-mail: envelope from and recipients: %s %s" % (m0["from"], m0["rcpt"]))
            check(str(msg["Subject"]) == "[newsalert] QUAKE: S\u00e9isme \u2026 <b>",
                  "e-mail: subject with rule and title (%s)" % msg["Subject"])
            check(msg["Message-ID"] == "<newsalert.7@news.example>"
                  and msg["Date"] is not None and msg["Date"].datetime is not None
                  and [a.addr_spec for a in msg["From"].addresses] == ["alerts@news.example"]
                  and [a.addr_spec for a in msg["To"].addresses]
                  == ["a@example.org", "b@example.org"],
                  "e-mail: Date, Message-ID, From, To: %s" % [msg[k] for k in (
                      "Date", "Message-ID", "From", "To")])
            check(msg.get_content_type() == "text/plain" and
                  msg.get_content_charset() == "utf-8" and
                  msg["Content-Transfer-Encoding"] == "quoted-printable",
                  "e-mail: text/plain UTF-8 quoted-printable")
            check("S\u00e9isme \u2026 <b>" in body and "https://example.org/7" in body
                  and "the =matched= snippet \u00e9" in body and "summary text" not in body
                  and "Rule: QUAKE (quake)" in body,
                  "e-mail: title, link, snippet (not the summary) and rule in the body")
            check(b"\r\n" in m0["data"] and all(len(l) <= 78 for l in m0["data"].split(b"\r\n")),
                  "e-mail: CRLF lines of at most 78 characters")
    finally:
        stop(proc, "email")
        smtp.stop()
        fm.close()


def test_outage(tmp):
    """Fault case 5: receiver down, then 500, then 429, then fine."""
    fm = FakeMatcher()
    phase = {"name": "500"}
    lock = threading.Lock()

    def answer(h):
        with lock:
            if h.path == "/hang":
                return 200, {}, 30 if phase["name"] != "ok" else 0
            if phase["name"] == "500":
                return 500, {}, 0
            if phase["name"] == "429":
                phase["name"] = "ok"
                return 429, {"Retry-After": "1"}, 0
            return 200, {}, 0

    hook = HookServer(answer=answer)  # not started: connection refused
    out_file = os.path.join(tmp, "outage.jsonl")
    cfg = base_cfg(fm, tmp, "var-outage")
    cfg["notifier"]["sinks"] = [
        {"type": "webhook", "name": "hook", "url": hook.url("/hook"), "secret": SECRET,
         "retry_initial_ms": 100, "retry_max_s": 1},
        {"type": "webhook", "name": "hang", "url": hook.url("/hang"), "timeout_s": 2,
         "retry_initial_ms": 100, "retry_max_s": 1},
        {"type": "file", "path": out_file},
    ]
    proc = start_notifier(BIN, cfg, tmp, "outage")
    # more alerts than the stream's socket and the sink's queue hold, and
    # a longer outage than ZeroMQ's heartbeat timeout
    n = 3000
    try:
        fm.publish("r0", alert("r0", 1))
        check(wait_for(lambda: len(read_jsonl(out_file)) == 1, 10), "outage: notifier is up")
        t0 = time.monotonic()
        for s in range(2, n + 1):
            fm.publish("r%d" % (s % 3), alert("r%d" % (s % 3), s))
        check(wait_for(lambda: len(read_jsonl(out_file)) == n, 10),
              "outage: the file sink gets all %d alerts while the receiver is down" % n)
        check(time.monotonic() - t0 < 5, "outage: the file sink is not delayed (%.2f s)"
              % (time.monotonic() - t0))
        time.sleep(6.5 - (time.monotonic() - t0))
        log = log_of(tmp, "outage")
        nexts = [float(x) for x in re.findall(r"sink hook: alert 1: .*next in ([0-9.]+) s", log)]
        check(len(nexts) >= 6 and "onnect" in log and nexts[:5] == [0.1, 0.2, 0.4, 0.8, 1.0]
              and all(x == 1.0 for x in nexts[4:]),
              "outage: connection refused, retried with backoff doubling to its 1 s limit: %s"
              % nexts)
        hook.start()
        t_500 = time.monotonic()
        check(wait_for(lambda: len(hook.got("/hook")) >= 4, 8), "outage: the receiver answers 500")
        time.sleep(2.5)
        tries = [r["t"] for r in hook.got("/hook", status=500)]
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        check(len(tries) >= 3 and all(0.9 <= g <= 1.6 for g in gaps),
              "outage: 500 answers retried at the backoff limit: %s"
              % ["%.2f" % g for g in gaps])
        check(all(r["headers"].get("Idempotency-Key") == "1" for r in hook.got("/hook")),
              "outage: the failing alert is retried, the next ones wait (in order)")
        with lock:
            phase["name"] = "429"
        t_429 = time.monotonic()
        check(wait_for(lambda: len(hook.got("/hook", status=200)) >= n, 60),
              "outage: after recovery every alert arrives")
        ok = hook.got("/hook", status=200)
        first_ok = ok[0]["t"] if ok else 0
        r429 = hook.got("/hook", status=429)
        check(len(r429) == 1 and first_ok - r429[0]["t"] >= 0.9,
              "outage: Retry-After honoured (%.2f s)" % ((first_ok - r429[0]["t"]) if r429 and ok
                                                         else -1))
        keys = [int(r["headers"]["Idempotency-Key"]) for r in ok]
        check(keys == list(range(1, n + 1)),
              "outage: exactly once by Idempotency-Key, in order (%d unique of %d)"
              % (len(set(keys)), len(keys)))
        allkeys = [int(r["headers"]["Idempotency-Key"]) for r in hook.got("/hook")]
        print("     counts: %d requests (%d refused by 500/429), %d delivered, %d duplicates "
              "after dedupe, %.1f s in 500s" % (len(allkeys), len(allkeys) - len(ok), len(ok),
                                                len(keys) - len(set(keys)), t_429 - t_500))
        check(all(r["headers"].get("X-Newsalert-Signature") == "sha256=" + hmac.new(
            SECRET.encode(), r["body"], hashlib.sha256).hexdigest() for r in ok),
            "outage: every delivered body is signed")
        hang = hook.got("/hang")
        check(len(hang) >= 1, "hanging receiver was called (%d)" % len(hang))
    finally:
        stop(proc, "outage")
        hook.stop()
        fm.close()
    log = log_of(tmp, "outage")
    check("timed out" in log or "Timeout" in log, "hanging receiver: the request times out")


def test_kill9(tmp):
    """Fault case 3: SIGKILL mid-delivery, several times."""
    fm = FakeMatcher()
    hook = HookServer(answer=lambda h: (200, {}, 0.002)).start()
    all_file = os.path.join(tmp, "k-all.jsonl")
    a_file = os.path.join(tmp, "k-a.jsonl")
    exec_log = os.path.join(tmp, "k-exec.log")
    cfg = base_cfg(fm, tmp, "var-kill")
    cfg["notifier"]["sinks"] = [
        {"type": "file", "name": "all", "path": all_file},
        {"type": "file", "name": "a", "path": a_file, "topics": ["a-"]},
        {"type": "webhook", "name": "hook", "url": hook.url("/k"), "retry_initial_ms": 50,
         "retry_max_s": 1},
        {"type": "exec", "name": "run", "topics": ["b-"], "concurrency": 2,
         "command": "read -r line; printf '%%s\\n' \"$NEWSALERT_SEQ\" >> '%s'" % exec_log},
    ]
    total = 3000
    expected_all = list(range(1, total + 1))
    topic = {s: ("a-%d" if s % 3 == 0 else "b-%d" if s % 3 == 1 else "c-%d") % (s % 7)
             for s in expected_all}
    expected_a = [s for s in expected_all if topic[s].startswith("a-")]
    expected_b = [s for s in expected_all if topic[s].startswith("b-")]
    done = threading.Event()

    def publisher():
        for s in expected_all:
            fm.publish(topic[s], alert(topic[s], s))
            if s % 100 == 0:
                time.sleep(0.15)
        done.set()

    procs = [start_notifier(BIN, cfg, tmp, "kill")]
    kills = 0
    rnd = random.Random(5)
    threading.Thread(target=publisher, daemon=True).start()
    try:
        while not done.is_set() or kills < 3:
            time.sleep(rnd.uniform(0.8, 1.6))
            if kills >= 5:
                break
            procs[-1].kill()  # SIGKILL mid-delivery
            procs[-1].wait()
            kills += 1
            procs.append(start_notifier(BIN, cfg, tmp, "kill"))

        def exec_lines():
            try:
                with open(exec_log) as f:
                    return [int(x) for x in f.read().split()]
            except FileNotFoundError:
                return []

        def caught_up():
            return (len(read_jsonl(all_file)) >= total and len(read_jsonl(a_file)) >= len(expected_a)
                    and set(exec_lines()) >= set(expected_b)
                    and {int(r["headers"]["Idempotency-Key"]) for r in hook.got("/k")}
                    >= set(expected_all))

        check(wait_for(caught_up, 60, 0.2), "kill -9: every sink catches up after %d kills" % kills)
        got_all = [l["seq"] for l in read_jsonl(all_file)]
        got_a = [l["seq"] for l in read_jsonl(a_file)]
        check(got_all == expected_all,
              "kill -9: file sink has each of the %d alerts exactly once, in order "
              "(%d lines, %d unique)" % (total, len(got_all), len(set(got_all))))
        check(got_a == expected_a,
              "kill -9: filtered file sink has each of its %d alerts exactly once (%d lines)"
              % (len(expected_a), len(got_a)))
        keys = [int(r["headers"]["Idempotency-Key"]) for r in hook.got("/k")]
        dup_hook = len(keys) - len(set(keys))
        check(sorted(set(keys)) == expected_all and dup_hook <= kills,
              "kill -9: webhook got every alert, exactly once after dedupe by Idempotency-Key "
              "(%d duplicates for %d kills)" % (dup_hook, kills))
        ex = exec_lines()
        dup_exec = len(ex) - len(set(ex))
        check(sorted(set(ex)) == expected_b and dup_exec <= 4 * kills,
              "kill -9: exec sink ran every alert, exactly once after dedupe by NEWSALERT_SEQ "
              "(%d duplicates for %d kills)" % (dup_exec, kills))
        print("     counts: %d alerts, %d kills; file %d/%d lines, filtered file %d/%d, webhook "
              "%d requests (%d duplicates), exec %d runs (%d duplicates)"
              % (total, kills, len(got_all), total, len(got_a), len(expected_a), len(keys),
                 dup_hook, len(ex), dup_exec))
    finally:
        stop(procs[-1], "kill -9 test")
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        hook.stop()
        fm.close()
    log = log_of(tmp, "kill")
    check("Sanitizer" not in log and "runtime error" not in log, "kill -9: no sanitizer reports")


def main():
    with tempfile.TemporaryDirectory(prefix="notifier-sinks-") as tmp:
        for t in (test_templates, test_email, test_outage, test_kill9):
            n = len(failures)
            t0 = time.monotonic()
            t(tmp)
            print("---- %s: %.1f s" % (t.__name__, time.monotonic() - t0), flush=True)
            if len(failures) > n:
                for tag in ("tpl", "mail", "outage", "kill"):
                    log = log_of(tmp, tag)
                    if log:
                        sys.stderr.write("---- notifier log (%s) ----\n%s" % (tag, log[-6000:]))
        logs = "".join(log_of(tmp, tag) for tag in ("tpl", "mail", "outage", "kill"))
        check("Sanitizer" not in logs and "runtime error" not in logs
              and "Assertion" not in logs, "no sanitizer report or assertion in any run")
    print("%d passed, %d failed" % (checks[0] - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Fetch benchmark: newsalert-fetcher against `curl --parallel` on loopback.

Usage: bench_fetch.py --fetcher BUILD/services/fetcher/newsalert-fetcher
                      [--feeds 5000] [--items 20] [--parallel 64] [--keep]
                      [--floor BUILD/tests/bench_fetch_floor] [--parse-threads N]

NA_FETCHER_WRAP (e.g. "perf record -o F") runs round 1's fetcher under a
profiler.

What it does, in one run (everything under a private temporary directory,
nothing as root, nothing outside 127.0.0.1):
  1. generates N realistic RSS 2.0 feeds (ITEMS items each, HTML
     descriptions, categories, dates) as static files;
  2. starts nginx (Debian's, from deploy/install-deps.sh --bench) in the
     foreground with a private prefix and config on a free loopback port;
     nginx answers If-None-Match / If-Modified-Since of static files with
     304 by itself;
  3. warms nginx up with one curl pass (not measured), then measures
     (a) `curl --parallel --parallel-max P` downloading every URL to
         /dev/null: wall time;
     (b) `newsalert-fetcher --once` (concurrency P, per_host P: all feeds sit
         on one host here) polling every feed once, parsing, de-duplicating
         and handing each item off to a sink of this script that counts and
         acknowledges them (the round ends when all are acknowledged): wall
         time and peak RSS (/usr/bin/time -v when present, else getrusage of
         the child);
  4. rewrites half of the feeds (one new story each), runs the fetcher's
     second round (conditional GET: the other half answers 304) and
     compares the bytes nginx sent in both rounds (access log, $bytes_sent):
     for all feeds (at least 50% by construction: half of them changed and
     must be downloaded again, nginx has no delta encoding) and for the
     unchanged half (what conditional GET saves);
  5. a third round with nothing changed: every feed answers 304.

Beside curl it prints a floor (a comparator added in phase 3, not a target):
the bare parse of the same bytes (libxml2's xmlReadMemory with the feed
parser's options, then free; tests/bench/bench_fetch_floor.c, on one core,
best of 3 rounds over the round-1 files read into memory), and "curl + bare
parse", the wall time of downloading then merely reading the XML on one core.
The fetcher overlaps the two on two cores, so it can beat that sum, but not
max(curl, bare parse / 2).

Prints the figures beside the issue's targets; exits 1 when a target is
missed, 2 when the set-up fails.  With --smoke (the ctest bench_fetch_smoke)
only the item counts and the conditional-GET bytes count.
"""
import argparse
import email.utils
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from natest import NGINX_PRIVATE_PATHS, free_port, start_nginx  # noqa: E402

TARGET_WALL_RATIO = 1.5
TARGET_RSS_MB = 100
TARGET_BYTES_RATIO = 0.05

WORDS = ("government minister election storm market shares council budget court ruling "
         "energy prices climate summit football final strike union health service "
         "hospital school teachers police investigation report science space launch "
         "company profits bank rates inflation housing rail transport airport tech "
         "startup security breach water drought harvest festival museum").split()


def sentence(rnd, n):
    return " ".join(rnd.choice(WORDS) for _ in range(n)).capitalize()


def make_feed(i, items, version, now):
    """One feed document (bytes); `version` > 0 adds that many newer stories."""
    rnd = random.Random(i)
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
           "<title>Bench News %d</title>\n<link>https://news%d.example/</link>\n"
           "<description>Generated feed %d for the fetch benchmark</description>\n"
           "<language>en</language>\n" % (i, i, i)]
    stories = list(range(items + version))[::-1][:items]  # newest first
    for k in stories:
        t = now - 600 * (items + version - k)
        title = sentence(rnd, 7)
        out.append(
            "<item>\n<title>%s</title>\n<link>https://news%d.example/story/%d</link>\n"
            "<guid isPermaLink=\"true\">https://news%d.example/story/%d</guid>\n"
            "<pubDate>%s</pubDate>\n<dc:creator>Reporter %d</dc:creator>\n"
            "<category>%s</category><category>%s</category>\n"
            "<description><![CDATA[<p>%s. <b>%s</b> &mdash; %s.</p>"
            "<p><a href=\"https://news%d.example/story/%d\">Read more</a></p>]]></description>\n"
            "</item>\n" % (title, i, k, i, k, email.utils.formatdate(t, usegmt=True),
                           k % 17, rnd.choice(WORDS), rnd.choice(WORDS), sentence(rnd, 25),
                           sentence(rnd, 6), sentence(rnd, 30), i, k))
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode()


NGINX_CONF = """
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ application/rss+xml rss; }}
    default_type application/octet-stream;
    log_format bytes '$request_uri $status $bytes_sent';
    access_log {tmp}/access.log bytes buffer=64k flush=100ms;
{paths}    keepalive_requests 1000000;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""


def log_bytes(tmp, start_line):
    """(requests, statuses, bytes, {uri: (status, bytes)}) of the access log
    from start_line; and its length."""
    time.sleep(0.3)  # buffered log: flush=100ms
    with open(os.path.join(tmp, "access.log")) as f:
        lines = f.read().splitlines()
    statuses, total, per_uri = {}, 0, {}
    for line in lines[start_line:]:
        uri, status, sent = line.split()
        statuses[status] = statuses.get(status, 0) + 1
        total += int(sent)
        per_uri[uri] = (status, int(sent))
    return len(lines) - start_line, statuses, total, len(lines), per_uri


def log_len(tmp):
    time.sleep(0.3)
    with open(os.path.join(tmp, "access.log")) as f:
        return sum(1 for _ in f)


def nginx_cpu(master):
    """CPU time (user + system, s) its workers have used so far (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # ppid; utime, stime are fields 14, 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_curl(cfg, parallel):
    """Wall time and CPU time (user + system, s) of one curl round."""
    t0 = time.monotonic()
    p = subprocess.Popen(["curl", "--parallel", "--parallel-max", str(parallel), "-s", "-K",
                          cfg], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    took = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench: curl failed: %s" % err.decode()[-500:])
    return took, ru.ru_utime + ru.ru_stime


class Sink:
    """The matcher's side of the hand-off (README "Durable delivery"): a
    ROUTER that counts the items and acknowledges each batch it read."""

    def __init__(self):
        import zmq
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.count = 0
        self.cpu = 0.0  # the sink thread's CPU time so far (s)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            if self.sock.poll(100):
                tags = {}
                n = 0
                while n < 1000:  # an ack carries at most 1024 tags (wire.h)
                    try:
                        peer, header, _ = self.sock.recv_multipart(self.zmq.NOBLOCK)
                    except self.zmq.Again:
                        break
                    tags.setdefault(peer, []).append(json.loads(header)["tag"])
                    self.count += 1
                    n += 1
                for peer, t in tags.items():
                    self.sock.send_multipart(
                        [peer, json.dumps({"v": 1, "op": "ack", "tags": t}).encode()])
            self.cpu = time.thread_time()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close(0)
        self.ctx.term()


def run_floor(floor, www, sax=False):
    """The floor comparator's JSON line (bench_fetch_floor.c), or None;
    sax: libxml2's tokenizer alone, no tree."""
    if floor is None or not os.path.exists(floor):
        return None
    r = subprocess.run([floor, "--rounds", "3"] + (["--sax"] if sax else []) + [www],
                       stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("bench: %s failed: %s" % (floor, r.stderr.decode()[-500:]))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def run_fetcher(fetcher, config, log, wrap=False):
    """Wall time (s), peak RSS (KiB), the round summary of `--once` and the
    fetcher's CPU time (user + system, s; None without /usr/bin/time).
    wrap: run it under NA_FETCHER_WRAP (e.g. "perf record -o F"), if set."""
    timev = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    cmd = [fetcher, "-c", config, "--once"]
    if wrap and os.environ.get("NA_FETCHER_WRAP"):
        cmd = os.environ["NA_FETCHER_WRAP"].split() + cmd
    if timev:
        cmd = [timev, "-v"] + cmd
    env = dict(os.environ, NEWSALERT_LOG_LEVEL="info")
    t0 = time.monotonic()
    with open(log, "w") as err:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    took = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = ru.ru_maxrss
    cpu = None
    if timev:
        cpu = 0.0
        with open(log) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    rss = int(line.rsplit(":", 1)[1])
                elif "User time (seconds)" in line or "System time (seconds)" in line:
                    cpu += float(line.rsplit(":", 1)[1])
    if r.returncode != 0:
        sys.exit("bench: newsalert-fetcher failed (rc %d), see %s" % (r.returncode, log))
    return took, rss, json.loads(r.stdout.decode().strip().splitlines()[-1]), cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fetcher", required=True)
    ap.add_argument("--feeds", type=int, default=5000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=64)
    ap.add_argument("--parse-threads", type=int, default=0,
                    help="fetcher.parse_threads (default: not set, one per core)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--floor", help="the bare-parse floor tool (default: bench_fetch_floor "
                    "in the fetcher's build tree, tests/; skipped when missing)")
    ap.add_argument("--smoke", action="store_true",
                    help="a check that the benchmark runs (ctest): only the item counts and "
                         "bytes must be right; exit 77 (skipped) without nginx or curl")
    a = ap.parse_args()
    for tool in ("nginx", "curl"):
        if shutil.which(tool) is None:
            print("bench: %s not found (deploy/install-deps.sh --bench)" % tool, file=sys.stderr)
            return 77 if a.smoke else 2
    fetcher = os.path.abspath(a.fetcher)
    floor = os.path.abspath(a.floor) if a.floor else os.path.join(
        os.path.dirname(fetcher), "..", "..", "tests", "bench_fetch_floor")
    tmp = tempfile.mkdtemp(prefix="na-bench-fetch-")
    nginx = None
    sink = None
    try:
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        # nginx started by root serves as an unprivileged worker user
        os.chmod(tmp, 0o755)
        os.chmod(www, 0o755)
        now = int(time.time())
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        urls = []
        for i in range(a.feeds):
            name = "feed-%05d.rss" % i
            with open(os.path.join(www, name), "wb") as f:
                f.write(make_feed(i, a.items, 0, now))
            urls.append(base + "/" + name)
        total_size = sum(os.path.getsize(os.path.join(www, n)) for n in os.listdir(www))
        curl_cfg = os.path.join(tmp, "curl.cfg")
        with open(curl_cfg, "w") as f:
            for u in urls:
                f.write('url = "%s"\noutput = "/dev/null"\n' % u)
        sink = Sink()
        config = os.path.join(tmp, "newsalert.json")
        with open(config, "w") as f:
            json.dump({"state_dir": "state", "feeds": "feeds.json",
                       "items_endpoint": sink.endpoint,
                       "fetcher": {"concurrency": a.parallel, "per_host": a.parallel,
                                   "interval_s": 3600, "timeout_s": 60, "max_age_s": 0,
                                   **({"parse_threads": a.parse_threads}
                                      if a.parse_threads > 0 else {})}}, f)
        with open(os.path.join(tmp, "feeds.json"), "w") as f:
            json.dump({"feeds": [{"url": u} for u in urls]}, f)
        try:
            nginx = start_nginx(tmp, NGINX_CONF.format(tmp=tmp, port=port,
                                                       paths=NGINX_PRIVATE_PATHS.format(tmp=tmp)),
                                [port])
        except RuntimeError as e:
            sys.exit("bench: %s" % e)
        print("bench: %d feeds x %d items, %.1f MB, nginx on %s, %s"
              % (a.feeds, a.items, total_size / 1e6, base, tmp), flush=True)

        run_curl(curl_cfg, a.parallel)  # warm-up, not measured
        n0 = log_len(tmp)
        ng0 = nginx_cpu(nginx.pid)
        curl_s, curl_cpu = run_curl(curl_cfg, a.parallel)
        nginx_curl_cpu = nginx_cpu(nginx.pid) - ng0
        _, _, curl_bytes, n1, _ = log_bytes(tmp, n0)
        fl = run_floor(floor, www)
        fl_sax = run_floor(floor, www, sax=True)

        sink_cpu0 = sink.cpu
        ng0 = nginx_cpu(nginx.pid)
        f1_s, f1_rss, r1, f1_cpu = run_fetcher(fetcher, config, os.path.join(tmp, "round1.log"),
                                               wrap=True)
        nginx_f1_cpu = nginx_cpu(nginx.pid) - ng0
        _, _, bytes1, n2, uri1 = log_bytes(tmp, n1)
        deadline = time.monotonic() + 10
        while sink.count < r1["sent"] and time.monotonic() < deadline:
            time.sleep(0.05)
        items1 = sink.count
        sink_cpu1 = sink.cpu - sink_cpu0

        # half of the feeds get one new story (new size and mtime: new ETag)
        time.sleep(1.1)  # a new mtime second, so Last-Modified changes too
        for i in range(0, a.feeds, 2):
            with open(os.path.join(www, "feed-%05d.rss" % i), "wb") as f:
                f.write(make_feed(i, a.items, 1, now + 600))
        f2_s, f2_rss, r2, _ = run_fetcher(fetcher, config, os.path.join(tmp, "round2.log"))
        _, st2, bytes2, n3, uri2 = log_bytes(tmp, n2)
        deadline = time.monotonic() + 10
        while sink.count - items1 < r2["sent"] and time.monotonic() < deadline:
            time.sleep(0.05)
        items2 = sink.count - items1
        # round 3: nothing changed, every feed answers 304
        f3_s, f3_rss, r3, _ = run_fetcher(fetcher, config, os.path.join(tmp, "round3.log"))
        _, st3, bytes3, _, _ = log_bytes(tmp, n3)
        # what the unchanged (304) half of round 2 moved, against its first round
        same = [u for u, (status, _) in uri2.items() if status == "304"]
        same2 = sum(uri2[u][1] for u in same)
        same1 = sum(uri1[u][1] for u in same if u in uri1)
        ratio = f1_s / curl_s
        bratio = bytes2 / bytes1 if bytes1 else 1.0
        bratio3 = bytes3 / bytes1 if bytes1 else 1.0
        bratio_same = same2 / same1 if same1 else 1.0
        ok_wall = ratio <= TARGET_WALL_RATIO
        ok_rss = max(f1_rss, f2_rss, f3_rss) / 1024 < TARGET_RSS_MB
        ok_bytes = bratio_same < TARGET_BYTES_RATIO and bratio3 < TARGET_BYTES_RATIO
        ok_items = (items1 == a.feeds * a.items and r1["failed"] == 0 and
                    items2 == (a.feeds + 1) // 2 and r2["failed"] == 0 and
                    r3["not_modified"] == a.feeds)
        print()
        print("%-44s %12s %12s" % ("", "measured", "target"))
        print("%-44s %11.2fs %12s" % ("curl --parallel-max %d, one round" % a.parallel,
                                      curl_s, ""))
        print("  (CPU: curl %.2fs, nginx %.2fs)" % (curl_cpu, nginx_curl_cpu))
        if fl is not None:
            print("%-44s %11.2fs %12s" % ("bare parse of the same bytes (1 core)",
                                          fl["secs"], "(floor)"))
            print("  (%.1f MB at %.0f MB/s, CPU %.2fs, best of %d)" % (
                fl["bytes"] / 1e6, fl["bytes"] / 1e6 / fl["secs"], fl["cpu_secs"],
                fl["rounds"]))
            print("%-44s %11.2fs %12s" % ("curl + bare parse", curl_s + fl["secs"], "(floor)"))
            print("%-44s %11.2fx %12s" % ("  curl + bare parse vs curl",
                                          (curl_s + fl["secs"]) / curl_s, ""))
            print("%-44s %11.2fs %12s" % ("libxml2 tokenizer alone (SAX, no tree, 1 core)",
                                          fl_sax["secs"], ""))
            # Download and read every byte, on all cores at once, with no other
            # work: curl's and nginx's CPU plus the parse, spread evenly.
            cores = os.cpu_count() or 1
            for name, f in (("bare parse", fl), ("tokenizer", fl_sax)):
                bound = (curl_cpu + nginx_curl_cpu + f["cpu_secs"]) / cores
                print("%-44s %11.2fs %11.2fx curl" % (
                    "  (curl + nginx + %s CPU) / %d cores" % (name, cores), bound,
                    bound / curl_s))
        else:
            print("%-44s %12s" % ("bare parse of the same bytes (1 core)",
                                  "n/a (build bench_fetch_floor)"))
        print("%-44s %11.2fs %12s" % ("newsalert-fetcher --once, round 1", f1_s, ""))
        if f1_cpu is not None:
            print("%-44s %11.2fs %12s" % ("  its CPU time (user + system)", f1_cpu, ""))
        print("%-44s %11.2fs %12s" % ("  nginx's CPU time", nginx_f1_cpu, ""))
        print("%-44s %11.2fs %12s" % ("  the benchmark sink's CPU time (Python)", sink_cpu1, ""))
        print("%-44s %11.2fx %11.1fx %s" % ("  wall time vs curl", ratio, TARGET_WALL_RATIO,
                                           "ok" if ok_wall else "MISSED"))
        if fl is not None:
            print("%-44s %11.2fx %12s" % ("  wall time vs curl + bare parse",
                                          f1_s / (curl_s + fl["secs"]), ""))
        print("%-44s %10.1fMB %10dMB %s" % ("  peak RSS, round 1 / round 2 (max)",
                                           max(f1_rss, f2_rss, f3_rss) / 1024, TARGET_RSS_MB,
                                           "ok" if ok_rss else "MISSED"))
        print("%-44s %11.2fs %12s" % ("newsalert-fetcher --once, round 2", f2_s, ""))
        print("%-44s %12d" % ("  bytes sent by nginx, curl round", curl_bytes))
        print("%-44s %12d" % ("  bytes sent by nginx, fetcher round 1", bytes1))
        print("%-44s %12d" % ("  bytes sent by nginx, fetcher round 2", bytes2))
        print("%-44s %11.2f%% %12s" % ("  round 2 / round 1 bytes, all feeds",
                                         100 * bratio, "(50% changed)"))
        print("%-44s %11.2f%% %11.0f%% %s" % ("  round 2 / round 1 bytes, unchanged half",
                                             100 * bratio_same, 100 * TARGET_BYTES_RATIO,
                                             "ok" if bratio_same < TARGET_BYTES_RATIO
                                             else "MISSED"))
        print("%-44s %12s" % ("  round 2 statuses", " ".join("%s:%d" % kv for kv in
                                                                sorted(st2.items()))))
        print("%-44s %11.2fs %12s" % ("newsalert-fetcher --once, round 3 (no change)",
                                      f3_s, ""))
        print("%-44s %11.2f%% %11.0f%% %s" % ("  round 3 / round 1 bytes", 100 * bratio3,
                                             100 * TARGET_BYTES_RATIO,
                                             "ok" if bratio3 < TARGET_BYTES_RATIO
                                             else "MISSED"))
        print("%-44s %12s" % ("  round 3 statuses", " ".join("%s:%d" % kv for kv in
                                                                sorted(st3.items()))))
        print("%-44s %12d %12d %s" % ("  items pushed, round 1 (sink count)", items1,
                                      a.feeds * a.items, "ok" if items1 == a.feeds * a.items
                                      else "MISSED"))
        print("%-44s %12d %12d" % ("  items pushed, round 2 (sink count)", items2,
                                   (a.feeds + 1) // 2))
        print("round 1: %s" % json.dumps(r1))
        print("round 2: %s" % json.dumps(r2))
        print("round 3: %s" % json.dumps(r3))
        if fl is not None:
            print("floor: %s" % json.dumps(fl))
        if a.smoke:
            return 0 if ok_bytes and ok_items else 1
        return 0 if ok_wall and ok_rss and ok_bytes and ok_items else 1
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        if sink is not None:
            sink.close()
        if a.keep:
            print("bench: kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

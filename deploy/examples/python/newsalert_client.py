#!/usr/bin/env python3
"""A newsalert client in Python, written from the protocol in the README
("Durable delivery"), with Debian's python3-zmq only.

It prints every alert whose topic (rule id) starts with one of the given
prefixes exactly once, in seq order, as one JSON line each:

  * subscribe first (the prefixes and the heartbeat topic b"\\x01heartbeat"),
  * replay what was missed since --since SEQ (or the seq saved in --cursor),
  * take live alerts, dropping those at or below the position,
  * when a live alert jumps ahead, or a heartbeat's head is beyond the
    position, ask for a replay of the gap before going on.

Usage:
  newsalert_client.py --alerts tcp://127.0.0.1:5602 --replay tcp://127.0.0.1:5603
                      [--since SEQ] [--cursor FILE] [--count N] [--idle S] [PREFIX...]
--count N stops after N alerts, --idle S after S seconds without one.
"""
import argparse
import json
import os
import sys
import time

import zmq

HEARTBEAT = b"\x01heartbeat"
REPLAY_TIMEOUT = 3.0


class Client:
    def __init__(self, alerts, replay, prefixes, since, cursor_path=None):
        self.prefixes = [p for p in prefixes if p]  # "" means everything
        self.cursor_path = cursor_path
        if cursor_path and os.path.exists(cursor_path):
            with open(cursor_path) as f:
                since = int(f.read().strip())
        # position: every wanted alert with seq <= position was delivered
        # (None: "from now", fixed by the first heartbeat or head reply)
        self.position = since if since is not None and since >= 0 else None
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.dealer = self.ctx.socket(zmq.DEALER)
        for s in (self.sub, self.dealer):
            s.setsockopt(zmq.LINGER, 0)
        # ZMTP heartbeats on the DEALER only: libzmq 4.3.4 can abort a SUB
        # whose receive queue is full when a heartbeat write fails
        # (zeromq/libzmq#4364); the matcher's own heartbeat tells us the
        # stream is alive.
        self.dealer.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        self.dealer.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        self.dealer.setsockopt(zmq.HEARTBEAT_TTL, 5000)
        self.sub.setsockopt(zmq.SUBSCRIBE, HEARTBEAT)
        for p in self.prefixes or [""]:
            self.sub.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.sub.connect(alerts)       # subscribe first,
        self.dealer.connect(replay)    # then replay the gap
        self.req_id = 0
        self.req_sent = None           # time of the outstanding request, or None
        self.pending = []              # live alerts waiting for a replay: (seq, topic, body)
        self.ready = []                # to deliver, in seq order
        self.head = -1
        self.request()

    def request(self):
        self.req_id += 1
        if self.position is None:
            msg = {"v": 1, "op": "head", "id": self.req_id}
        else:
            msg = {"v": 1, "op": "replay", "id": self.req_id, "after": self.position,
                   "topics": self.prefixes}
        try:
            self.dealer.send(json.dumps(msg).encode(), zmq.NOBLOCK)
        except zmq.Again:
            pass  # not connected yet: the timeout asks again
        self.req_sent = time.monotonic()

    def accept(self, seq, topic, body):
        """A wanted alert that directly follows the position."""
        self.position = seq
        self.ready.append((seq, topic, body))

    def settle(self):
        self.pending.sort(key=lambda a: a[0])
        while self.pending and self.pending[0][0] <= self.position:
            self.pending.pop(0)                       # a duplicate
        while self.pending and self.pending[0][0] == self.position + 1:
            self.accept(*self.pending.pop(0))
        if self.req_sent is None and (self.pending or self.head > self.position):
            self.request()                            # a gap: replay it

    def on_live(self, topic, body):
        if topic == HEARTBEAT:
            self.head = max(self.head, json.loads(body)["head"])
            if self.position is None:
                self.position = self.head
        else:
            seq = json.loads(body)["seq"]
            self.head = max(self.head, seq)
            if self.position is None:
                self.position = seq - 1
            if seq <= self.position:
                return
            self.pending.append((seq, topic.decode(), body.decode()))
        if self.position is not None:
            self.settle()

    def on_reply(self, frames):
        hdr = json.loads(frames[0])
        if hdr.get("v") != 1 or hdr.get("id") != self.req_id or self.req_sent is None:
            return                                    # stale or foreign
        if hdr["type"] == "batch":
            for i in range(1, len(frames) - 1, 2):
                topic, body = frames[i].decode(), frames[i + 1].decode()
                seq = json.loads(body)["seq"]
                if seq > self.position:
                    self.accept(seq, topic, body)
            self.req_sent = time.monotonic()          # progress
        elif hdr["type"] == "end":
            self.req_sent = None
            self.head = max(self.head, hdr["head"])
            if self.position is None:
                self.position = hdr["head"]
            else:
                self.position = max(self.position, hdr["last"])
            self.settle()
        elif hdr["type"] == "error":
            self.req_sent = None
            print("replay: " + hdr["message"], file=sys.stderr)
            if hdr["code"] == "truncated":
                self.position = max(self.position, hdr["oldest"] - 1)
                self.settle()
            else:
                self.req_sent = time.monotonic()      # wait a timeout, ask again

    def save(self):
        if self.cursor_path and self.position is not None and not self.ready:
            tmp = self.cursor_path + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % self.position)
            os.replace(tmp, self.cursor_path)

    def next(self, timeout):
        """The next alert as (seq, topic, body), or None after timeout s."""
        end = time.monotonic() + timeout
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        poller.register(self.dealer, zmq.POLLIN)
        while not self.ready:
            now = time.monotonic()
            if self.req_sent is not None and now - self.req_sent > REPLAY_TIMEOUT:
                self.request()
            if now >= end:
                return None
            for sock, _ in poller.poll(max(1, int(min(end - now, 0.5) * 1000))):
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if sock is self.dealer:
                        self.on_reply(frames)
                    elif len(frames) == 2:
                        self.on_live(frames[0], frames[1])
        return self.ready.pop(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", required=True)
    ap.add_argument("--replay", required=True)
    ap.add_argument("--since", type=int, default=None)
    ap.add_argument("--cursor")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("prefixes", nargs="*")
    args = ap.parse_args()
    client = Client(args.alerts, args.replay, args.prefixes, args.since, args.cursor)
    got = 0
    while args.count == 0 or got < args.count:
        alert = client.next(args.idle if args.idle > 0 else 3600)
        if alert is None:
            if args.idle > 0:
                break
            continue
        print(alert[2], flush=True)
        got += 1
        client.save()
    client.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())

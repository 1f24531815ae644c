/*
 * wire.h - the ZeroMQ framing of items and alerts.
 *
 * An item on its own (wire_send_item / wire_recv_item): one frame, the
 *   item as JSON (item_to_json), at most WIRE_MAX_ITEM bytes.  The
 *   daemons no longer use it on items_endpoint, which carries the
 *   acknowledged hand-off (fetcher DEALER -> matcher ROUTER, below).
 * alerts_endpoint (matcher PUB -> SUB): two frames, the topic (the rule id,
 *   UTF-8) and the alert body (JSON, see alert.h), at most WIRE_MAX_ALERT.
 *
 * Receivers treat every frame as untrusted: a wrong number of parts, an
 * oversize part, invalid UTF-8 or JSON, or a body whose `v` is not 1 is an
 * error in *err; the message is consumed entirely (all parts drained) so the
 * socket stays usable.
 *
 * Receivers return 0 (a message), -1 (a bad message), -2 (nothing
 * received) or WIRE_ENOMEM: an allocation failed while the message was
 * read, copied or decoded (*err: "... out of memory").  That message is
 * consumed too but it was not judged: it may well be good, so it must not
 * be acknowledged or counted as bad; the hand-off's sender sends it again
 * when it gets no ack.
 */
#ifndef NEWSALERT_WIRE_H
#define NEWSALERT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "item.h"

#define WIRE_MAX_ITEM (1024 * 1024)
#define WIRE_ENOMEM (-3) /* a receiver ran out of memory (see above) */
#define WIRE_MAX_ALERT (256 * 1024)
#define WIRE_MAX_TOPIC 256

/* Send an item.  Returns 0, or -1 (errno from zmq_send, EAGAIN included
 * when `flags` has ZMQ_DONTWAIT). */
int wire_send_item(void *sock, const struct item *it, int flags);

/* Receive one item message (blocking unless flags has ZMQ_DONTWAIT).
 * Returns 0 and *out, -1 with *err set for a bad message (consumed),
 * -2 when nothing could be received (errno set: EAGAIN, EINTR, ETERM), or
 * WIRE_ENOMEM (consumed, not judged). */
int wire_recv_item(void *sock, int flags, struct item **out, na_error *err);

/* Send an alert: topic frame then body frame. */
int wire_send_alert(void *sock, const char *topic, const char *body, size_t len, int flags);

/* Receive an alert.  *topic and *body are NUL-terminated and the caller's
 * to free.  Return values as wire_recv_item (WIRE_ENOMEM included). */
int wire_recv_alert(void *sock, int flags, char **topic, char **body, na_error *err);

/* ---- durable delivery (issue 5): hand-off, heartbeat, replay ----
 *
 * Every JSON header below is an object with "v": WIRE_VERSION; a message
 * with another version, a wrong number of parts, oversize parts or bad
 * JSON is an error in *err, consumed entirely.  See README "Durable
 * delivery" for the protocol as a client sees it.
 *
 * items_endpoint (fetcher DEALER -> matcher ROUTER):
 *   item: [{"v":1,"op":"packed_item","tag":T}, packed item]
 *         T: the sender's key; the packed item is item_pack.h's binary
 *         record (what the fetcher sends);
 *         [{"v":1,"op":"item","tag":T}, item JSON]: the item as
 *         item_to_json() writes it, still accepted (older fetchers, other
 *         producers).  Either payload is at most WIRE_MAX_ITEM bytes.  The
 *         packed form has an op of its own so that a matcher older than
 *         it refuses it unacknowledged (it stays in the fetcher's outbox)
 *         instead of acknowledging it as a bad JSON item.
 *   ack:  [{"v":1,"op":"ack","tags":[T,...]}]        matcher -> fetcher
 *         (at most WIRE_MAX_ACKS tags; the frame may exceed WIRE_MAX_HEADER,
 *         up to WIRE_MAX_ACK_FRAME)
 * alerts_endpoint also carries heartbeats, once a second:
 *   [WIRE_HEARTBEAT_TOPIC, {"v":1,"head":H,"oldest":O,"ts":T}]
 * replay_endpoint (client DEALER -> matcher ROUTER): see wire_replay_req.
 */
#define WIRE_VERSION 1
#define WIRE_HEARTBEAT_TOPIC "\x01heartbeat" /* rule ids cannot hold control bytes */
#define WIRE_MAX_HEADER 4096                   /* a JSON header or a replay request */
#define WIRE_MAX_PEER 256                      /* a ROUTER routing id */
#define WIRE_MAX_ACKS 1024                     /* tags in one ack */
/* an ack frame: WIRE_MAX_ACKS tags of up to 20 characters and a comma each */
#define WIRE_MAX_ACK_FRAME (64 + WIRE_MAX_ACKS * 21)
#define WIRE_MAX_REPLAY_TOPICS 64
#define WIRE_HEARTBEAT_IVL_MS 1000  /* ZMQ_HEARTBEAT_IVL */
#define WIRE_HEARTBEAT_TIMEOUT_MS 5000 /* ZMQ_HEARTBEAT_TIMEOUT and _TTL */

/* A ROUTER peer: the routing id frame that came with a request. */
struct wire_peer {
    unsigned char id[WIRE_MAX_PEER];
    size_t len;
};

/* Set ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL on a socket (before connect/bind). */
void wire_set_heartbeat(void *sock);

/* The encodings of an item in the hand-off, named by the header's op. */
#define WIRE_OP_ITEM "item"               /* item JSON */
#define WIRE_OP_PACKED_ITEM "packed_item" /* a packed item */
enum wire_item_enc {
    WIRE_ENC_JSON = 0,   /* op "item": item_to_json()'s JSON */
    WIRE_ENC_PACKED = 1, /* op "packed_item": item_pack_encode()'s record */
};

/* Hand-off, sender side: [header with tag, json].  Returns 0 or -1 (errno
 * from zmq_send; EMSGSIZE when len > WIRE_MAX_ITEM). */
int wire_send_handoff(void *sock, int64_t tag, const char *json, size_t len, int flags);

/* The same with the payload's encoding (enum wire_item_enc): data[0..len)
 * is item JSON or a packed item. */
int wire_send_handoff_enc(void *sock, int64_t tag, int enc, const void *data, size_t len,
                          int flags);

/* Hand-off, ROUTER side: receive one item.  Returns 0 with *peer, *tag and
 * *out; -1 with *err for a bad message (consumed; *tag is set, and *peer,
 * when the header was readable so the sender may be told, else *tag = -1);
 * -2 when nothing could be received; WIRE_ENOMEM with *err when out of
 * memory (consumed; *peer and *tag set as for -1, but the item must NOT be
 * acknowledged: it was not kept, and its sender sends it again). */
int wire_recv_handoff(void *router, int flags, struct wire_peer *peer, int64_t *tag,
                      struct item **out, na_error *err);

/* wire_recv_handoff in two steps, so that a receiver can decode items on
 * other threads: receive and check the message, handing over the item
 * undecoded (*enc: its encoding, enum wire_item_enc; *data, *len: the
 * payload, the caller frees *data; the returns are wire_recv_handoff's),
 * then decode it (0 and *out; -1 with *err for a bad item; WIRE_ENOMEM
 * with *err when out of memory: not a verdict on the item, which must not
 * be acknowledged; the messages are wire_recv_handoff's).
 * wire_decode_item is thread-safe. */
int wire_recv_handoff_raw(void *router, int flags, struct wire_peer *peer, int64_t *tag,
                          int *enc, char **data, size_t *len, na_error *err);
int wire_decode_item(int enc, const char *data, size_t len, struct item **out, na_error *err);

/* Read a hand-off header frame (what wire_recv_handoff_raw does with it):
 * 0 with *enc and *tag, or -1 with *err, *enc = WIRE_ENC_JSON and
 * *tag = -1 (-1 too when the frame is not even a versioned JSON object),
 * or WIRE_ENOMEM likewise when jansson ran out of memory.
 * A frame that is byte for byte what jansson writes for
 * {"v":1,"op":OP,"tag":T} (T >= 0; the form senders write) is recognised
 * by comparing it with that text, built from jansson's output; any other
 * frame is parsed with jansson.  Both ways give the same answer for every
 * frame; `jansson_only` skips the comparison (tests hold the two to each
 * other).  Thread-safe. */
int wire_handoff_header(const void *data, size_t len, int jansson_only, int *enc, int64_t *tag,
                        na_error *err);

/* Send an ack for n tags (n <= WIRE_MAX_ACKS) to peer, never blocking.
 * Returns 0 or -1 (errno). */
int wire_send_acks(void *router, const struct wire_peer *peer, const int64_t *tags, size_t n);

/* Hand-off, DEALER side: receive an ack.  Returns 0 and *tags (caller
 * frees) with *n, -1 with *err (consumed), -2 when nothing came,
 * WIRE_ENOMEM (consumed: the acks are lost, their items are sent again). */
int wire_recv_acks(void *dealer, int flags, int64_t **tags, size_t *n, na_error *err);

/* Send a heartbeat on the PUB socket. */
int wire_send_heartbeat(void *pub, int64_t head, int64_t oldest, int64_t ts);

/* A replay request, one frame:
 *   {"v":1,"op":"replay","id":ID,"after":SEQ,"topics":["prefix",...]}
 *   {"v":1,"op":"head","id":ID}
 * ID and SEQ are integers >= 0; topics may be missing or empty (= all). */
struct wire_replay_req {
    int head_only;   /* op "head" */
    int64_t id;      /* echoed in every reply; -1 when unreadable */
    int64_t after;
    char **topics;
    size_t ntopics;
};

/* Receive a replay request on the ROUTER.  Returns 0 with *peer and *req
 * (clear it with wire_replay_req_clear), -1 with *err (consumed; *peer set
 * when a routing id came, req->id set when readable), -2 when nothing
 * came, WIRE_ENOMEM as -1 but out of memory (not the request's fault). */
int wire_recv_replay_req(void *router, int flags, struct wire_peer *peer,
                         struct wire_replay_req *req, na_error *err);

void wire_replay_req_clear(struct wire_replay_req *req);

/* Replies to a replay request (never blocking; -1 with errno when the peer
 * is gone or its queue is full):
 *   batch: [{"v":1,"type":"batch","id":ID,"count":K}, topic1, body1, ...]
 *   end:   [{"v":1,"type":"end","id":ID,"last":L,"head":H,"oldest":O}]
 *   error: [{"v":1,"type":"error","id":ID,"code":C,"message":M,
 *            "oldest":O,"head":H}]
 * wire_send_replay_batch sends n alerts (n >= 1). */
int wire_send_replay_batch(void *router, const struct wire_peer *peer, int64_t id,
                           const char *const *topics, const char *const *bodies,
                           const size_t *lens, size_t n);
int wire_send_replay_end(void *router, const struct wire_peer *peer, int64_t id, int64_t last,
                         int64_t head, int64_t oldest);
int wire_send_replay_error(void *router, const struct wire_peer *peer, int64_t id,
                           const char *code, const char *message, int64_t oldest,
                           int64_t head);

#endif

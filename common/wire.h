/*
 * wire.h - the ZeroMQ framing of items and alerts.
 *
 * items_endpoint (fetcher PUSH -> matcher PULL): one frame, the item as
 *   JSON (item_to_json), at most WIRE_MAX_ITEM bytes.
 * alerts_endpoint (matcher PUB -> SUB): two frames, the topic (the rule id,
 *   UTF-8) and the alert body (JSON, see alert.h), at most WIRE_MAX_ALERT.
 *
 * Receivers treat every frame as untrusted: a wrong number of parts, an
 * oversize part, invalid UTF-8 or JSON, or a body whose `v` is not 1 is an
 * error in *err; the message is consumed entirely (all parts drained) so the
 * socket stays usable.
 */
#ifndef NEWSALERT_WIRE_H
#define NEWSALERT_WIRE_H

#include <stddef.h>

#include "error.h"
#include "item.h"

#define WIRE_MAX_ITEM (1024 * 1024)
#define WIRE_MAX_ALERT (256 * 1024)
#define WIRE_MAX_TOPIC 256

/* Send an item.  Returns 0, or -1 (errno from zmq_send, EAGAIN included
 * when `flags` has ZMQ_DONTWAIT). */
int wire_send_item(void *sock, const struct item *it, int flags);

/* Receive one item message (blocking unless flags has ZMQ_DONTWAIT).
 * Returns 0 and *out, -1 with *err set for a bad message (consumed),
 * or -2 when nothing could be received (errno set: EAGAIN, EINTR, ETERM). */
int wire_recv_item(void *sock, int flags, struct item **out, na_error *err);

/* Send an alert: topic frame then body frame. */
int wire_send_alert(void *sock, const char *topic, const char *body, size_t len, int flags);

/* Receive an alert.  *topic and *body are NUL-terminated and the caller's
 * to free.  Return values as wire_recv_item. */
int wire_recv_alert(void *sock, int flags, char **topic, char **body, na_error *err);

#endif

/*
 * remote.h - one attempt to hand an alert to a webhook or an SMTP server.
 *
 * A sink worker calls remote_attempt() and decides from the outcome:
 * REMOTE_OK (delivered), REMOTE_RETRY (network error, HTTP 5xx/408/429, SMTP
 * 4xx: try again after a backoff, at least retry_after_s when the server
 * said so), REMOTE_FAIL (the server refused this alert for good: HTTP
 * 4xx, SMTP 5xx; retrying would not help) or REMOTE_ABORTED (the stop flag
 * was raised during the transfer).  Transfers are blocking in the calling
 * thread, bounded by the sink's timeout_s, and abort within ~100 ms of the
 * stop flag.
 *
 * Webhook requests carry Idempotency-Key and X-Newsalert-Seq (the alert's
 * seq: the same for every resend, so a receiver can drop duplicates),
 * X-Newsalert-Rule, the configured headers, and when a secret is set the
 * signature header "sha256=<hex HMAC-SHA256 of the body>".
 */
#ifndef NEWSALERT_REMOTE_H
#define NEWSALERT_REMOTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum remote_outcome { REMOTE_OK, REMOTE_RETRY, REMOTE_FAIL, REMOTE_ABORTED };

struct remote;

/* A connection cache for sink c (borrowed).  busy(arg) is called about
 * every 100 ms during a transfer (the sink keeps reading its stream).
 * NULL when out of memory. */
struct remote *remote_new(const struct sink_conf *c, const atomic_int *stop,
                          void (*busy)(void *), void *arg);

void remote_free(struct remote **pr);

/* One attempt to deliver the alert (topic, body[0..len), seq).  On
 * anything but REMOTE_OK, why[] says what happened (lower-case) and
 * *retry_after_s is what the server asked for (0 = nothing). */
enum remote_outcome remote_attempt(struct remote *r, const char *topic, const char *body,
                                   size_t len, int64_t seq, long *retry_after_s, char *why,
                                   size_t whysize);

#endif

/*
 * source.h - the stream of alerts one sink of the notifier reads.
 *
 * Each sink has its own stream, so a sink that is slow or down holds back
 * nobody else: it simply reads its stream later.  A stream yields alerts in
 * seq order, each once, starting after the seq the sink resumes from.
 *
 * A stream is a client of the durable client library (naclient.h): it
 * subscribes to alerts_endpoint with the sink's topic prefixes and fills
 * every gap from the matcher's replay_endpoint, starting after the sink's
 * cursor, so alerts published while the notifier was down or while the
 * sink was busy are replayed, not lost.  The library's own cursor file is
 * not used: the notifier keeps its cursors itself (cursor.h).
 */
#ifndef NEWSALERT_SOURCE_H
#define NEWSALERT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

struct source;

/* Open a stream for the sink called `name` on cfg's alerts_endpoint and
 * replay_endpoint: topic prefixes topics[0..ntopics) (none = every alert),
 * alerts with a seq above `after` (after < 0: from now on).  Returns 0 and
 * *out, or -1 with *err. */
int source_open(const struct config *cfg, const char *name, char *const *topics,
                size_t ntopics, int64_t after, struct source **out, na_error *err);

/* The next alert, waiting at most timeout_ms.  Returns 1 with *topic and
 * *body (NUL-terminated, the caller frees both; always a JSON object with
 * "v": 1: anything else is a bad message, dropped) and *seq; 0 when nothing
 * came in time (errors of the client, which keeps trying, are logged and
 * count as nothing); -1 when the stream is broken for good (logged). */
int source_next(struct source *s, int timeout_ms, char **topic, char **body, int64_t *seq);

/* Bad messages dropped so far. */
unsigned long source_bad(const struct source *s);

/* Where the stream stands: every matching alert up to it was handed out
 * (-1 while unknown: "from now on" before the first heartbeat). */
int64_t source_position(const struct source *s);

void source_free(struct source **ps);

#endif

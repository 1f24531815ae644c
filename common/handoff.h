/*
 * handoff.h - the fetcher's side of the acknowledged hand-off to the matcher.
 *
 * handoff_submit() puts an item in an outbox (an SQLite table, WAL mode,
 * one row per item, committed before the call returns), from which it is
 * sent on a DEALER socket connected to items_endpoint (wire.h: "item" with
 * the row's tag, packed; rows of item JSON that an older fetcher left in
 * the outbox go as JSON) and deleted only when the matcher acknowledges it, which it
 * does once the item's alerts are durably journaled.  At most `window` items
 * are in flight (sent, not acknowledged): a slow matcher is never flooded.
 * In-flight items are sent again after resend_ms without an ack, and at once
 * when the connection to the matcher is re-established; after a restart of
 * the fetcher every item left in the outbox is sent again.  The matcher
 * recognises items it has processed, so a resend never alerts twice: a
 * `kill -9` of either side loses nothing.
 *
 * The outbox survives a crash of the process (WAL commit, synchronous =
 * NORMAL); it is capped at max_pending items, beyond which handoff_submit
 * refuses new items (the caller defers them).
 *
 * Two ways to keep the outbox:
 * - handoff_new(): a database file of its own; each handoff_submit() is
 *   one autocommit transaction (and may send at once);
 * - handoff_new_store(): an `outbox` table in the store's database (the
 *   fetcher's fetcher.db), on the store's connection.  handoff_submit()
 *   then only inserts, inside the caller's open store transaction, so the
 *   outbox rows, the seen-set rows and the feed state of a document commit
 *   together (one commit, all or nothing); after store_commit() the caller
 *   calls handoff_committed(), after a rollback handoff_rolled_back().
 *   Nothing is sent before the commit.  With synchronous = NORMAL a power
 *   loss can undo the last commits; then the items are neither seen nor in
 *   the outbox, so the next poll fetches and queues them again (and an
 *   item the matcher had already processed is recognised there): nothing
 *   is lost.  The store must stay open until handoff_destroy().
 *
 * The caller's loop can sleep on handoff_fd() (with the socket's other
 * waits) to take acks the moment they arrive: it is ZeroMQ's ZMQ_FD, an
 * edge-triggered notification, so check handoff_readable() before each
 * wait (and do not wait when it says 1).
 *
 * Errors: handoff_new() fills a caller-owned na_error; other functions
 * return a negative value and handoff_errmsg() tells why.
 */
#ifndef NEWSALERT_HANDOFF_H
#define NEWSALERT_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "item.h"
#include "store.h"

#define HANDOFF_WINDOW 2048         /* default: items in flight */
#define HANDOFF_RESEND_MS 5000      /* default: resend after this long without ack */
#define HANDOFF_MAX_PENDING 1000000 /* default: outbox capacity */

struct handoff;

struct handoff_opts {
    int window;          /* 0: HANDOFF_WINDOW */
    int resend_ms;       /* 0: HANDOFF_RESEND_MS */
    int64_t max_pending; /* 0: HANDOFF_MAX_PENDING */
};

/* Open the outbox at db_path (created if needed; its directory must exist)
 * and connect a DEALER of zctx to endpoint.  opts may be NULL.  Returns 0
 * and *out, or -1 with *err. */
int handoff_new(void *zctx, const char *endpoint, const char *db_path,
                const struct handoff_opts *opts, struct handoff **out, na_error *err);

/* Like handoff_new(), with the outbox in st's database (borrowed: it must
 * outlive the handoff), see above.  old_outbox (NULL: none): the path of a
 * separate outbox file of an earlier version; when it exists its items
 * move into st's outbox and the file is deleted. */
int handoff_new_store(void *zctx, const char *endpoint, struct store *st,
                      const char *old_outbox, const struct handoff_opts *opts,
                      struct handoff **out, na_error *err);

/* Close the socket (nothing is lost: the outbox keeps what was not
 * acknowledged) and the outbox.  NULL-safe; sets *ph to NULL. */
void handoff_destroy(struct handoff **ph);

const char *handoff_errmsg(const struct handoff *h);

/* Queue item `it` of feed `feed` (the key is feed + it->id).  Returns 1
 * when queued, 0 when that key is already in the outbox, -2 when the
 * outbox is full (try later), -1 on error.  Sending happens in
 * handoff_poll() (and, with handoff_new(), a first attempt here); with
 * handoff_new_store() a store transaction must be open (else -1). */
int handoff_submit(struct handoff *h, const char *feed, const struct item *it);

/* handoff_submit() of an item already serialised: json[0..len) must be
 * item_to_json()'s output for an item whose id is `id`.  It is sent as
 * item JSON (wire.h, op "item").  Same results. */
int handoff_submit_json(struct handoff *h, const char *feed, const char *id, const char *json,
                        size_t len);

/* handoff_submit() of an item already packed: rec[0..len) must be
 * item_pack_encode()'s output for an item whose id is `id` (the fetcher
 * makes it on its parsing thread; handoff_submit packs too).  It is sent
 * with op "packed_item".  Same results (-1 when rec lacks the packed magic). */
int handoff_submit_packed(struct handoff *h, const char *feed, const char *id,
                          const void *rec, size_t len);

/* handoff_new_store() mode: the store transaction holding the items
 * submitted since the last call committed (they may now be sent) / was
 * rolled back (they are forgotten). */
void handoff_committed(struct handoff *h);
void handoff_rolled_back(struct handoff *h);

/* handoff_new_store() mode with store savepoints (store.h): the mark of
 * what is queued in the open transaction now; after store_rollback_to() of
 * a savepoint taken at mark m, handoff_rolled_back_to(h, m) forgets the
 * items queued since (the transaction's earlier items stay tentative). */
int64_t handoff_mark(const struct handoff *h);
void handoff_rolled_back_to(struct handoff *h, int64_t mark);

/* The DEALER's notification file descriptor (ZMQ_FD), -1 on error; and
 * whether an ack can be read now (ZMQ_EVENTS), which also re-arms it. */
int handoff_fd(const struct handoff *h);
int handoff_readable(const struct handoff *h);

/* Do the hand-off work: take acks, resend what timed out, send what the
 * window allows.  Waits up to timeout_ms for an ack or a connection when
 * the outbox is not empty (0: never waits).  Returns 0 or -1 on an outbox
 * error. */
int handoff_poll(struct handoff *h, int timeout_ms);

/* Items in the outbox (not acknowledged), and those of them in flight. */
int64_t handoff_pending(const struct handoff *h);
size_t handoff_in_flight(const struct handoff *h);

/* Counters: items acknowledged, items sent again, bad ack messages. */
struct handoff_stats {
    uint64_t submitted;
    uint64_t acked;
    uint64_t resent;
    uint64_t bad_acks;
};
void handoff_get_stats(const struct handoff *h, struct handoff_stats *out);

#endif

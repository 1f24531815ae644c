/*
 * fetcher.h - the fetcher daemon: feeds, transfers, state and the
 * hand-off to the matcher, tied together.
 *
 * fetcher_new() opens everything (state_dir/fetcher.db, creating the
 * directory; the acknowledged hand-off of handoff.h: a DEALER to the
 * matcher's ROUTER on items_endpoint, and an outbox table in fetcher.db
 * keeping the items the matcher has not acknowledged yet, written in the
 * same transaction as the seen set and the feed state), fetcher_run() polls
 * feeds until daemon_quit is set and reloads the feeds file when
 * daemon_reload is, fetcher_destroy() stops the transfers still running
 * (they count as never started: the next start polls those feeds again),
 * closes the hand-off (unacknowledged items wait in the outbox for the
 * next start) and the store.
 *
 * Admission: a due feed starts when fewer than fetcher.concurrency
 * transfers run in all and fewer than fetcher.per_host run to its host;
 * otherwise it waits its turn here (not inside curl), so one slow
 * publisher with many feeds cannot hold every slot.  The seen set is
 * pruned of entries older than fetcher.seen_retention_s at start and every
 * FETCHER_PRUNE_EVERY_S.
 *
 * Threads: the loop, and a parsing thread (parsework.h) that parses the
 * downloaded documents; everything else (store, hand-off, logs, feed
 * state) stays on the loop's thread, which ingests the results of one
 * turn in one store transaction (fetcher.c).
 */
#ifndef NEWSALERT_FETCHER_FETCHER_H
#define NEWSALERT_FETCHER_FETCHER_H

#include "config.h"
#include "error.h"
#include "store.h"

#define FETCHER_DB_NAME STORE_FETCHER_DB_NAME
#define FETCHER_TICK_MS 250    /* longest wait between looks at the signal flags */
#define FETCHER_PRUNE_EVERY_S 3600 /* seen-set retention is applied this often */
#define FETCHER_ONCE_DRAIN_S 30    /* --once: longest wait for the matcher's acks */
/* the separate outbox file of earlier versions, moved into fetcher.db */
#define FETCHER_OLD_OUTBOX_NAME "outbox.db"

/* What one round (fetcher_run_once) did. */
struct fetcher_round {
    size_t feeds, ok, not_modified, failed;
    size_t items, sent, deferred, cut, dropped;
};

struct fetcher;

/* Set up a fetcher for cfg (borrowed: it must outlive the fetcher) and
 * the feeds list *pfl (taken: *pfl is set to NULL).  Returns 0 and *out,
 * or -1 with *err. */
int fetcher_new(const struct config *cfg, struct feedlist **pfl, struct fetcher **out,
                na_error *err);

/* Replace the feeds with *pfl (taken).  Feeds that stay keep their state;
 * transfers of removed feeds are aborted.  Returns 0, or -1 with *err and
 * the old set still in force. */
int fetcher_reload(struct fetcher *f, struct feedlist **pfl, na_error *err);

/* One turn: start the transfers that are due, wait up to max_wait_ms for
 * activity, handle the finished ones. */
void fetcher_step(struct fetcher *f, int max_wait_ms);

/* Run until daemon_quit; on daemon_reload, load the feeds file again (an
 * invalid file is logged and the old set stays).  Returns 0. */
int fetcher_run(struct fetcher *f);

/* Poll every feed exactly once, now, whatever its schedule; return when
 * all have finished (or daemon_quit is set), with what happened in *out.
 * The state is saved as in a normal run, so a second round is conditional.
 * Then waits up to FETCHER_ONCE_DRAIN_S for the matcher to acknowledge the
 * items handed off.  Returns 0. */
int fetcher_run_once(struct fetcher *f, struct fetcher_round *out);

/* Shut down as described above and free *pf.  NULL-safe. */
void fetcher_destroy(struct fetcher **pf);

#endif

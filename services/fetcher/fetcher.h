/*
 * fetcher.h - the fetcher daemon: feeds, transfers, state and the PUSH
 * socket, tied together.
 *
 * fetcher_new() opens everything (state_dir/fetcher.db, creating the
 * directory; a PUSH socket connected to items_endpoint), fetcher_run()
 * polls feeds until daemon_quit is set and reloads the feeds file when
 * daemon_reload is, fetcher_destroy() stops the transfers still running
 * (they count as never started: the next start polls those feeds again),
 * flushes the socket for at most FETCHER_LINGER_MS and closes the store.
 */
#ifndef NEWSALERT_FETCHER_FETCHER_H
#define NEWSALERT_FETCHER_FETCHER_H

#include "config.h"
#include "error.h"

#define FETCHER_DB_NAME "fetcher.db"
#define FETCHER_SNDHWM 10000   /* items queued for the matcher before we defer */
#define FETCHER_LINGER_MS 1000 /* how long shutdown may spend flushing items */
#define FETCHER_TICK_MS 250    /* longest wait between looks at the signal flags */

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

/* Shut down as described above and free *pf.  NULL-safe. */
void fetcher_destroy(struct fetcher **pf);

#endif

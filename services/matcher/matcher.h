/*
 * matcher.h - the matcher daemon's work: PULL items, match, PUB alerts.
 *
 * One matcher owns the rule set, the alert journal (state_dir/journal.db,
 * journal.h: an alert's `seq` is its journal position) and three sockets:
 * ROUTER bound on items_endpoint (the acknowledged hand-off of wire.h),
 * PUB bound on alerts_endpoint (alerts and a heartbeat every second) and
 * ROUTER bound on replay_endpoint (replay from the journal).
 */
#ifndef NEWSALERT_MATCHER_H
#define NEWSALERT_MATCHER_H

#include "config.h"
#include "error.h"

struct matcher;

/* Load the rules named by cfg, open the state, bind the sockets.  Borrows
 * cfg for the matcher's lifetime.  Returns 0 and *out, or -1 with *err. */
int matcher_new(const struct config *cfg, struct matcher **out, na_error *err);

/* Serve until daemon_quit is set; reloads rules when daemon_reload is set
 * (a bad new rules file is logged and the old rules stay in force).
 * Returns 0 on an orderly stop, -1 on a fatal error. */
int matcher_run(struct matcher *m);

/* Close sockets (flushing queued alerts for a bounded time) and state. */
void matcher_destroy(struct matcher **pm);

#endif

/*
 * feedset.h - the feeds the fetcher polls, with their state and schedule.
 *
 * A feedset pairs each entry of the feeds file with its persistent state
 * (store.h: validators, failures, next poll...) and whether a transfer is
 * running for it.  Feeds are heap objects that keep their address for
 * their whole life, so a running transfer can point at its feed; a reload
 * moves the feeds that stay into the new set, keeping their state.
 *
 * Retry policy after a failure (feedset_backoff): the n-th consecutive
 * failure waits interval_s * 2^(n-1), never more than
 * max(interval_s, FEEDSET_MAX_BACKOFF_S).  So a transient error is retried
 * at the feed's normal pace, a feed that stays broken is asked ever less
 * often (6 hours at most unless its own interval is longer), and a
 * success resets the count.
 */
#ifndef NEWSALERT_FETCHER_FEEDSET_H
#define NEWSALERT_FETCHER_FEEDSET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "store.h"

#define FEEDSET_MAX_BACKOFF_S (6 * 3600)

struct fs_feed {
    char *url;
    char *name;
    int interval_s;
    int max_age_s;
    struct store_feed_state st; /* as last written to the store */
    int in_flight;              /* a transfer is running */
};

struct feedset {
    struct fs_feed **feeds;
    size_t nfeeds;
};

/* Build the set for feedlist fl.  Each feed found in *old (may be NULL)
 * is moved over with its state (and taken out of *old); the others load
 * their state from the store.  What remains in *old afterwards are the
 * feeds no longer wanted: the caller aborts their transfers and frees
 * *old.  Returns 0 and *out, or -1 with *err. */
int feedset_build(const struct feedlist *fl, struct feedset *old, struct store *store,
                  struct feedset **out, na_error *err);

/* Free *pset and its feeds, set it to NULL.  NULL-safe. */
void feedset_free(struct feedset **pset);

/* The delay in seconds before retrying a feed that failed `failures`
 * times in a row (>= 1). */
int64_t feedset_backoff(int interval_s, int failures);

/* "name (url)", or just the url when the name is the url, into buf. */
const char *feedset_label(const struct fs_feed *fd, char *buf, size_t size);

#endif

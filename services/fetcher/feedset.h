/*
 * feedset.h - the feeds the fetcher polls, with their state and schedule.
 *
 * A feedset pairs each entry of the feeds file with its persistent state
 * (store.h: validators, failures, next poll...), whether a transfer is
 * running for it, and its host (scheme://host:port, for the per-host
 * limit).  Feeds are heap objects that keep their address for their whole
 * life, so a running transfer can point at its feed; a reload moves the
 * feeds that stay into the new set, keeping their state.
 *
 * Schedule.  After a success the next poll comes after
 *     max(interval_s, min(longest publisher hint, max(interval_s, 1 day)))
 * plus a jitter of 0..10% of that delay.  Publisher hints are RSS <ttl>,
 * Cache-Control max-age, Expires and Retry-After: a hint longer than the
 * configured interval wins (the publisher asked us to come back later), a
 * shorter one never makes us poll more often than the configured interval,
 * and no hint postpones a feed by more than a day (or its own interval).
 * The jitter only lengthens delays, so the interval is a true minimum; it
 * is derived from the feed's URL and the time, so feeds added together
 * drift apart instead of polling in lock-step.
 *
 * After a failure (feedset_backoff): the n-th consecutive failure waits
 * interval_s * 2^(n-1), never more than max(interval_s, max_backoff_s);
 * a Retry-After (429/503) longer than that wins, within the same 1-day
 * hint cap.  So a transient error is retried at the feed's normal pace, a
 * feed that stays broken is asked ever less often, and a success resets
 * the count.  After STORE_FAILING_AFTER failures in a row a feed is
 * reported as failing.
 */
#ifndef NEWSALERT_FETCHER_FEEDSET_H
#define NEWSALERT_FETCHER_FEEDSET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "store.h"

#define FEEDSET_MAX_BACKOFF_S (6 * 3600) /* the default of fetcher.max_backoff_s */
#define FEEDSET_MAX_HINT_S (24 * 3600)   /* publisher hints are capped at this */
#define FEEDSET_HOST_MAX 300             /* longest host key kept */

/* A host (scheme://host:port) with the transfers running to it. */
struct fs_host {
    char *key;
    int in_flight;
};

struct fs_feed {
    char *url;
    char *name;
    int interval_s;
    int max_age_s;
    struct store_feed_state st; /* as last written to the store */
    int in_flight;              /* a transfer is running */
    int polled;                 /* a result came back since the start (--once) */
    struct fs_host *host;       /* owned by the set */
};

struct feedset {
    struct fs_feed **feeds;
    size_t nfeeds;
    struct fs_host **hosts;
    size_t nhosts;
};

/* Publisher hints of one response, seconds from now, -1 when absent. */
struct fs_hints {
    long ttl_s;         /* RSS <ttl> (given in minutes) */
    long max_age_s;     /* Cache-Control max-age */
    long expires_s;     /* Expires */
    long retry_after_s; /* Retry-After */
};

/* Build the set for feedlist fl.  Each feed found in *old (may be NULL)
 * is moved over with its state (and taken out of *old); the others load
 * their state from the store.  What remains in *old afterwards are the
 * feeds no longer wanted: the caller aborts their transfers and frees
 * *old.  Hosts are shared by the feeds of the new set, with their
 * running transfers counted.  Returns 0 and *out, or -1 with *err. */
int feedset_build(const struct feedlist *fl, struct feedset *old, struct store *store,
                  struct feedset **out, na_error *err);

/* Free *pset and its feeds, set it to NULL.  NULL-safe. */
void feedset_free(struct feedset **pset);

/* The delay in seconds before retrying a feed that failed `failures`
 * times in a row (>= 1), capped at max(interval_s, max_backoff_s). */
int64_t feedset_backoff(int interval_s, int failures, int max_backoff_s);

/* The delay before the next poll after a success (h may be NULL), or
 * after a failure when failures > 0; without jitter.  See above. */
int64_t feedset_delay(int interval_s, int failures, int max_backoff_s,
                      const struct fs_hints *h);

/* The jitter to add to `delay` for the feed with `url` at time now:
 * 0..delay/10, deterministic for (url, now). */
int64_t feedset_jitter(const char *url, int64_t now, int64_t delay);

/* The host key of url: "scheme://host[:port]" lower-cased without user
 * info, "file://" for file: URLs; at most size-1 bytes. */
const char *feedset_host_key(const char *url, char *buf, size_t size);

/* "name (url)", or just the url when the name is the url, into buf. */
const char *feedset_label(const struct fs_feed *fd, char *buf, size_t size);

/* After a rolled-back store transaction: make fd's state what the store
 * holds again (the failed attempt never happened: a new feed is still new,
 * its max_age_s cut-off still applies) and poll it again after its
 * interval.  When the store cannot be read either, only the validators are
 * forgotten, so that a 304 cannot hide what was not recorded. */
void feedset_restore(struct fs_feed *fd, struct store *store, int64_t now);

#endif

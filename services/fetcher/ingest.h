/*
 * ingest.h - what the fetcher does with a finished fetch.
 *
 * A usable response is parsed (feed.h), turned into items, and every item
 * not yet seen for that feed is sent to the matcher (wire.h) and then
 * recorded as seen, in one store transaction with the feed's new state.
 * A failure is logged once, with the feed and the reason, and the feed is
 * rescheduled with backoff (feedset.h).
 *
 * Delivery rules:
 * - an item is recorded as seen only after wire_send_item() accepted it;
 * - when the PUSH queue is full (the matcher is away and the high-water
 *   mark is reached) the remaining items are deferred: they stay unseen,
 *   the feed's validators are dropped so the next poll gets the whole
 *   document again, and that poll comes after INGEST_DEFER_RETRY_S at most;
 * - on a feed's first successful poll (last_ok == 0), items with a known
 *   published date older than now - max_age_s are recorded, not sent
 *   (max_age_s == 0: no limit).
 */
#ifndef NEWSALERT_FETCHER_INGEST_H
#define NEWSALERT_FETCHER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "feedset.h"
#include "poller.h"
#include "store.h"

#define INGEST_DEFER_RETRY_S 30

struct ingest_stats {
    size_t items;    /* in the document */
    size_t sent;     /* sent and recorded */
    size_t old;      /* first poll, older than max_age_s: recorded, not sent */
    size_t deferred; /* could not be sent now */
};

/* Handle the result of fetching fd at time now and persist fd->st.
 * Returns 0 when the feed was fetched and processed, -1 when the poll
 * counts as a failure (already logged). */
int ingest_result(struct store *store, void *push, struct fs_feed *fd,
                  const struct poller_result *r, int64_t now, struct ingest_stats *stats);

/* Record a failed poll of fd: log "feed X: reason", count it, reschedule
 * with backoff, persist.  Returns -1. */
int ingest_failure(struct store *store, struct fs_feed *fd, const char *reason, int64_t now);

#endif

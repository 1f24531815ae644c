/*
 * ingest.h - what the fetcher does with a finished fetch.
 *
 * A usable response is parsed (feed.h, with the HTTP Content-Type so its
 * charset counts), turned into items, and every item not yet seen for that
 * feed is sent to the matcher (ingest_send, the one place that hands an
 * item over) and then recorded as seen, in one store transaction with the
 * feed's new state (or, when the caller holds one open for a whole loop
 * turn, in a savepoint of it: ingest_ctx.in_turn); ingest_send puts the
 * item in the hand-off's outbox, a table of the same database, so that
 * transaction covers the outbox rows too (handoff.h: they leave only after
 * it commits).  The parsing (ingest_prepare) needs none of that and may
 * run on another thread (parsework.h).  A failure is logged once, with the
 * feed and the reason, and the feed is rescheduled with backoff
 * (feedset.h); the
 * failure that makes a feed "failing" (STORE_FAILING_AFTER in a row) is
 * logged as an error saying so, and the first success after it says the
 * feed recovered.
 *
 * Identity: an item is seen when its id (guid / Atom id / link / hash, see
 * feed_doc_to_items) or its content hash (ingest_content_hash) was
 * recorded for the feed, so a feed that reissues ids on every fetch does
 * not alert again.
 *
 * Delivery rules:
 * - an item is recorded as seen only after ingest_send() accepted it;
 * - when ingest_send() cannot take more (the hand-off's outbox is full:
 *   the matcher has been away long) the remaining items are deferred: they
 *   stay unseen,
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

#include "error.h"
#include "feedset.h"
#include "handoff.h"
#include "item.h"
#include "poller.h"
#include "store.h"

#define INGEST_DEFER_RETRY_S 30

/* What ingest works with (borrowed). */
struct ingest_ctx {
    struct store *store;
    struct handoff *handoff; /* the outbox items go to (handoff.h) */
    int max_backoff_s; /* config fetcher.max_backoff_s */
    int in_turn; /* 1: the caller holds a store transaction open around
                    ingest_result (one per loop turn): each document is a
                    savepoint of it, and the caller commits it and then
                    calls handoff_committed (or rolls back and calls
                    handoff_rolled_back); 0: one transaction per document */
};

struct ingest_stats {
    size_t items;    /* in the document */
    size_t sent;     /* sent and recorded */
    size_t old;      /* first poll, older than max_age_s: recorded, not sent */
    size_t deferred; /* could not be sent now */
    size_t cut;      /* over the hand-off's size limit: texts cut to fit, sent */
    size_t dropped;  /* too large even when cut: recorded, not sent */
    int fresh;       /* the document's seen set was kept in memory (a feed
                        the store knew nothing of: no look-up per item) */
    size_t reissued; /* known by content hash under a new id: not sent */
};

/* Handle the result of fetching fd at time now and persist fd->st.
 * Returns 0 when the feed was fetched and processed, -1 when the poll
 * counts as a failure (already logged).  = ingest_prepare() then
 * ingest_result_doc(). */
int ingest_result(const struct ingest_ctx *cx, struct fs_feed *fd,
                  const struct poller_result *r, int64_t now, struct ingest_stats *stats);

/* A downloaded document made ready for ingest_result_doc() by
 * ingest_prepare(): parsed, turned into items, each item's content hash
 * and packed wire record made.  Owns everything; ingest_doc_clear() frees it. */
struct ingest_doc {
    int ok;             /* 0: not usable, error says why */
    char error[sizeof(((na_error *)0)->msg)];
    int bozo;           /* ill-formed, recovered */
    char *bozo_reason;  /* NULL when !bozo (or out of memory) */
    int ttl;            /* RSS <ttl> in minutes, 0 = absent */
    struct item **items; /* once packed[i] is made, items[i] keeps only id, feed
                            and published (all ingest_result_doc needs) */
    size_t n;
    unsigned char **packed; /* packed[i]: items[i] packed (item_pack.h), the wire
                               payload; NULL when it could not be made */
    size_t *packed_len; /* packed_len[i]: its length in bytes */
    size_t *cut_from;   /* cut_from[i]: 0, or the packed size of items[i] as the
                           feed gave it, over WIRE_MAX_ITEM: its texts were cut to
                           fit (item_pack_fit), or, with packed[i] NULL, could not be */
    uint64_t *hash;     /* hash[i]: ingest_content_hash(items[i]) */
};

/* The part of ingesting a 2xx response that needs neither the store nor
 * the log nor the feed's state: safe on a worker thread (the fetcher
 * parses there while its loop keeps downloading; libxml2 must then be
 * used by that one thread only, or initialised before).  r->body is only
 * read.  Returns 0, or -1 with out->error (out is cleared either way
 * first). */
int ingest_prepare(const struct poller_result *r, const char *feed_url, struct ingest_doc *out);

/* Free what *d owns and zero it.  NULL-safe. */
void ingest_doc_clear(struct ingest_doc *d);

/* ingest_result() of a 2xx response prepared in *doc (borrowed; NULL, or
 * !doc->ok: the document was not usable).  Failed and 304 responses need
 * no doc (NULL). */
int ingest_result_doc(const struct ingest_ctx *cx, struct fs_feed *fd,
                      const struct poller_result *r, const struct ingest_doc *doc,
                      int64_t now, struct ingest_stats *stats);

/* Record a failed poll of fd: log "feed X: reason", count it, reschedule
 * with backoff (retry_after_s >= 0: the server's Retry-After), persist.
 * Returns -1. */
int ingest_failure(const struct ingest_ctx *cx, struct fs_feed *fd, const char *reason,
                   long retry_after_s, int64_t now);

/* Hand one item to the matcher without blocking.  Returns 0, or -1 with
 * errno (EAGAIN: the queue is full, try later). */
int ingest_send(const struct ingest_ctx *cx, const struct item *it);

/* The content hash of an item: FNV-1a 64 of title, link and published
 * date, or of title and summary when it has no link; 0 when it has none
 * of these (no content identity). */
uint64_t ingest_content_hash(const struct item *it);

#endif

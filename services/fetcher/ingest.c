/*
 * ingest.c - what the fetcher does with a finished fetch (see ingest.h).
 */
#include "ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "feed.h"
#include "item.h"
#include "log.h"
#include "wire.h"

/* Replace *field with a copy of value (NULL allowed).  On allocation
 * failure the field becomes NULL, which only costs a validator. */
static void ingest_set(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? strdup(value) : NULL;
}

/* Write fd->st; a store failure is logged (the daemon goes on: the state
 * in memory stays right, only a restart would lose it). */
static void ingest_persist(struct store *store, const struct fs_feed *fd)
{
    char label[600];

    if (store_feed_put(store, &fd->st) != 0)
        log_error("feed %s: cannot save state: %s", feedset_label(fd, label, sizeof(label)),
                  store_errmsg(store));
}

int ingest_failure(struct store *store, struct fs_feed *fd, const char *reason, int64_t now)
{
    char label[600];
    int64_t delay;

    if (fd->st.failures < 1000000)
        fd->st.failures++;
    delay = feedset_backoff(fd->interval_s, fd->st.failures);
    fd->st.next_poll = now + delay;
    ingest_set(&fd->st.last_error, reason);
    log_warn("feed %s: %s (failure %d, next try in %lld s)",
             feedset_label(fd, label, sizeof(label)), reason, fd->st.failures, (long long)delay);
    ingest_persist(store, fd);
    return -1;
}

/* Successful poll: reset the failure count and schedule the next one. */
static void ingest_success(struct fs_feed *fd, int64_t now, int deferred)
{
    fd->st.failures = 0;
    ingest_set(&fd->st.last_error, NULL);
    fd->st.last_ok = now;
    fd->st.next_poll = now + fd->interval_s;
    if (deferred && fd->interval_s > INGEST_DEFER_RETRY_S)
        fd->st.next_poll = now + INGEST_DEFER_RETRY_S;
}

/* Send the items not yet seen and record them; called inside a store
 * transaction.  Returns 0, or -1 on a store error (logged). */
static int ingest_items(struct store *store, void *push, struct fs_feed *fd,
                        struct item **items, size_t n, int64_t now,
                        struct ingest_stats *stats)
{
    int first = fd->st.last_ok == 0;
    int64_t cutoff = INT64_MIN;
    int blocked = 0;
    char label[600];
    size_t i;

    if (first && fd->max_age_s > 0)
        cutoff = now - fd->max_age_s;
    /* Feeds list the newest first: send oldest first so alerts come in
     * the order the stories appeared. */
    for (i = n; i-- > 0;) {
        const struct item *it = items[i];
        int seen, old;

        if (it->id == NULL || it->id[0] == '\0')
            continue; /* feed_doc_to_items always gives an id; be safe */
        seen = store_seen_has(store, fd->url, it->id);
        if (seen < 0)
            goto store_error;
        if (seen)
            continue;
        old = cutoff != INT64_MIN && it->published != ITEM_TIME_UNKNOWN &&
              it->published < cutoff;
        if (!old) {
            if (blocked) {
                stats->deferred++;
                continue;
            }
            if (wire_send_item(push, it, ZMQ_DONTWAIT) != 0) {
                if (errno != EAGAIN)
                    log_error("feed %s: cannot send item '%s': %s",
                              feedset_label(fd, label, sizeof(label)), it->id,
                              zmq_strerror(errno));
                blocked = 1;
                stats->deferred++;
                continue;
            }
        }
        if (store_seen_add(store, fd->url, it->id, now) < 0)
            goto store_error;
        fd->st.items_seen++;
        if (old)
            stats->old++;
        else
            stats->sent++;
    }
    return 0;

store_error:
    log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
    return -1;
}

int ingest_result(struct store *store, void *push, struct fs_feed *fd,
                  const struct poller_result *r, int64_t now, struct ingest_stats *stats)
{
    struct feed_doc *doc = NULL;
    struct item **items = NULL;
    size_t n = 0, i;
    char label[600];
    na_error err;
    int rc = -1;

    memset(stats, 0, sizeof(*stats));
    if (!r->ok)
        return ingest_failure(store, fd, r->error, now);
    if (r->not_modified) {
        if (r->etag != NULL)
            ingest_set(&fd->st.etag, r->etag);
        if (r->last_modified != NULL)
            ingest_set(&fd->st.last_modified, r->last_modified);
        ingest_success(fd, now, 0);
        log_debug("feed %s: not modified", feedset_label(fd, label, sizeof(label)));
        ingest_persist(store, fd);
        return 0;
    }
    na_error_clear(&err);
    if (feed_parse(r->body, r->len, r->effective_url != NULL ? r->effective_url : fd->url,
                   r->content_type, &doc, &err) != 0)
        return ingest_failure(store, fd, err.msg[0] != '\0' ? err.msg : "not a feed", now);
    if (doc->bozo)
        log_warn("feed %s: ill-formed document, recovered: %s",
                 feedset_label(fd, label, sizeof(label)),
                 doc->bozo_reason != NULL ? doc->bozo_reason : "unknown problem");
    if (feed_doc_to_items(doc, fd->url, &items, &n) != 0) {
        feed_doc_free(&doc);
        return ingest_failure(store, fd, "out of memory while converting items", now);
    }
    feed_doc_free(&doc);
    stats->items = n;

    if (store_begin(store) != 0) {
        log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
        goto done;
    }
    if (ingest_items(store, push, fd, items, n, now, stats) != 0) {
        store_rollback(store);
        /* Items sent in this batch were not recorded: a later poll may send
         * them again.  Better twice than never. */
        goto done;
    }
    if (stats->deferred > 0) {
        /* Unsent items must come back: forget the validators so the next
         * poll is not answered 304. */
        ingest_set(&fd->st.etag, NULL);
        ingest_set(&fd->st.last_modified, NULL);
        log_warn("feed %s: the matcher is not taking items, %zu deferred",
                 feedset_label(fd, label, sizeof(label)), stats->deferred);
    } else {
        ingest_set(&fd->st.etag, r->etag);
        ingest_set(&fd->st.last_modified, r->last_modified);
    }
    ingest_success(fd, now, stats->deferred > 0);
    if (store_feed_put(store, &fd->st) != 0 || store_commit(store) != 0) {
        log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
        store_rollback(store);
        goto done;
    }
    rc = 0;
    if (stats->old > 0)
        log_info("feed %s: %zu new item%s sent, %zu older than max_age_s recorded unsent",
                 feedset_label(fd, label, sizeof(label)), stats->sent,
                 stats->sent == 1 ? "" : "s", stats->old);
    else if (stats->sent > 0)
        log_info("feed %s: %zu new item%s sent", feedset_label(fd, label, sizeof(label)),
                 stats->sent, stats->sent == 1 ? "" : "s");
    else
        log_debug("feed %s: nothing new in %zu items", feedset_label(fd, label, sizeof(label)),
                  n);

done:
    for (i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    if (rc != 0) {
        /* A store failure is not the feed's fault: try again later, with
         * the whole document (what was not recorded must not hide behind
         * a 304). */
        ingest_set(&fd->st.etag, NULL);
        ingest_set(&fd->st.last_modified, NULL);
        fd->st.next_poll = now + fd->interval_s;
    }
    return rc;
}

/*
 * ingest.c - what the fetcher does with a finished fetch (see ingest.h).
 */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "feed.h"
#include "item.h"
#include "item_pack.h"
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

/* ingest_send() with the item already packed (rec NULL: pack it). */
static int ingest_send_packed(const struct ingest_ctx *cx, const struct item *it,
                              const unsigned char *rec, size_t len)
{
    /* Into the outbox (a table of the store, written in the caller's
     * transaction: handoff.h), from which handoff.c sends it after the
     * commit until the matcher acknowledges it: once queued, the item
     * counts as sent. */
    const char *feed = it->feed != NULL ? it->feed : "";
    int rc = rec != NULL ? handoff_submit_packed(cx->handoff, feed, it->id, rec, len)
                         : handoff_submit(cx->handoff, feed, it);

    if (rc >= 0)
        return 0;
    if (rc == -2) {
        errno = EAGAIN;
        return -1;
    }
    log_error("%s", handoff_errmsg(cx->handoff));
    errno = EIO;
    return -1;
}

int ingest_send(const struct ingest_ctx *cx, const struct item *it)
{
    return ingest_send_packed(cx, it, NULL, 0);
}

uint64_t ingest_content_hash(const struct item *it)
{
    static const char sep = '\x1f';
    uint64_t h = FEED_FNV1A64_INIT;
    const char *title = it->title != NULL ? it->title : "";

    if (it->link != NULL && it->link[0] != '\0') {
        char date[32] = "";

        if (it->published != ITEM_TIME_UNKNOWN)
            snprintf(date, sizeof(date), "%" PRId64, it->published);
        h = feed_fnv1a64(h, "L", 1);
        h = feed_fnv1a64(h, title, strlen(title));
        h = feed_fnv1a64(h, &sep, 1);
        h = feed_fnv1a64(h, it->link, strlen(it->link));
        h = feed_fnv1a64(h, &sep, 1);
        h = feed_fnv1a64(h, date, strlen(date));
    } else {
        const char *summary = it->summary != NULL ? it->summary : "";

        if (title[0] == '\0' && summary[0] == '\0')
            return 0;
        h = feed_fnv1a64(h, "S", 1);
        h = feed_fnv1a64(h, title, strlen(title));
        h = feed_fnv1a64(h, &sep, 1);
        h = feed_fnv1a64(h, summary, strlen(summary));
    }
    return h != 0 ? h : 1;
}

void ingest_doc_clear(struct ingest_doc *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++) {
        item_free(&d->items[i]);
        if (d->packed != NULL)
            free(d->packed[i]);
    }
    free(d->items);
    free(d->packed);
    free(d->packed_len);
    free(d->cut_from);
    free(d->hash);
    free(d->bozo_reason);
    memset(d, 0, sizeof(*d));
}

int ingest_prepare(const struct poller_result *r, const char *feed_url, struct ingest_doc *out)
{
    struct feed_doc *doc = NULL;
    na_error err;
    size_t i;

    memset(out, 0, sizeof(*out));
    na_error_clear(&err);
    if (feed_parse(r->body, r->len, r->effective_url != NULL ? r->effective_url : feed_url,
                   r->content_type, &doc, &err) != 0) {
        snprintf(out->error, sizeof(out->error), "%s",
                 err.msg[0] != '\0' ? err.msg : "not a feed");
        return -1;
    }
    out->bozo = doc->bozo;
    if (doc->bozo)
        out->bozo_reason = strdup(doc->bozo_reason != NULL ? doc->bozo_reason
                                                           : "unknown problem");
    out->ttl = doc->ttl;
    if (feed_doc_to_items(doc, feed_url, &out->items, &out->n) != 0) {
        feed_doc_free(&doc);
        snprintf(out->error, sizeof(out->error), "out of memory while converting items");
        return -1;
    }
    feed_doc_free(&doc);
    out->packed = calloc(out->n ? out->n : 1, sizeof(*out->packed));
    out->packed_len = calloc(out->n ? out->n : 1, sizeof(*out->packed_len));
    out->hash = calloc(out->n ? out->n : 1, sizeof(*out->hash));
    out->cut_from = calloc(out->n ? out->n : 1, sizeof(*out->cut_from));
    if (out->packed == NULL || out->packed_len == NULL || out->hash == NULL ||
        out->cut_from == NULL) {
        ingest_doc_clear(out);
        snprintf(out->error, sizeof(out->error), "out of memory while converting items");
        return -1;
    }
    for (i = 0; i < out->n; i++) {
        struct item *it = out->items[i];
        size_t k;

        out->hash[i] = ingest_content_hash(it);
        if ((out->packed[i] = item_pack_encode(it, &out->packed_len[i])) == NULL)
            continue; /* ingest_send says why, with the whole item */
        if (out->packed_len[i] > WIRE_MAX_ITEM) {
            /* the hand-off (and the matcher) refuse it as it is: send the
             * story with its texts cut rather than block the feed */
            int fit;

            out->cut_from[i] = out->packed_len[i];
            free(out->packed[i]);
            out->packed[i] = NULL;
            out->packed_len[i] = 0;
            if ((fit = item_pack_fit(it, WIRE_MAX_ITEM)) == -1)
                continue; /* cannot fit: ingest_items drops it */
            if (fit < 0 || (out->packed[i] = item_pack_encode(it, &out->packed_len[i])) == NULL) {
                /* out of memory: not dropped; ingest_send tries again (and
                 * fails, deferring the feed's items to the next poll) */
                out->cut_from[i] = 0;
                continue;
            }
        }
        /* what ingest_result_doc still needs: id, feed, published; the
         * rest is freed here, on the thread that made it */
        free(it->title);
        free(it->summary);
        free(it->content);
        free(it->link);
        free(it->feed_title);
        free(it->author);
        it->title = it->summary = it->content = it->link = it->feed_title = it->author = NULL;
        for (k = 0; k < it->ncategories; k++)
            free(it->categories[k]);
        free(it->categories);
        it->categories = NULL;
        it->ncategories = 0;
    }
    out->ok = 1;
    return 0;
}

/* Publisher hints of a response (and, when doc != NULL, its RSS <ttl>). */
static void ingest_hints(const struct poller_result *r, const struct ingest_doc *doc,
                         struct fs_hints *h)
{
    h->ttl_s = doc != NULL && doc->ttl > 0 ? (long)doc->ttl * 60 : -1;
    h->max_age_s = r->max_age_s;
    h->expires_s = r->expires_s;
    h->retry_after_s = r->retry_after_s;
}

int ingest_failure(const struct ingest_ctx *cx, struct fs_feed *fd, const char *reason,
                   long retry_after_s, int64_t now)
{
    struct fs_hints h = {-1, -1, -1, retry_after_s};
    char label[600];
    int64_t delay;

    if (fd->st.failures < 1000000)
        fd->st.failures++;
    delay = feedset_delay(fd->interval_s, fd->st.failures, cx->max_backoff_s, &h);
    delay += feedset_jitter(fd->url, now, delay);
    fd->st.next_poll = now + delay;
    fd->st.last_error_at = now;
    ingest_set(&fd->st.last_error, reason);
    if (fd->st.failures == STORE_FAILING_AFTER)
        log_error("feed %s: %s (failure %d in a row: now marked failing, next try in %lld s)",
                  feedset_label(fd, label, sizeof(label)), reason, fd->st.failures,
                  (long long)delay);
    else
        log_warn("feed %s: %s (failure %d, next try in %lld s)",
                 feedset_label(fd, label, sizeof(label)), reason, fd->st.failures,
                 (long long)delay);
    ingest_persist(cx->store, fd);
    return -1;
}

/* Successful poll: reset the failure count and schedule the next one. */
static void ingest_success(const struct ingest_ctx *cx, struct fs_feed *fd, int64_t now,
                           const struct fs_hints *h, int deferred)
{
    char label[600];
    int64_t delay;

    if (fd->st.failures >= STORE_FAILING_AFTER)
        log_info("feed %s: recovered after %d failures", feedset_label(fd, label, sizeof(label)),
                 fd->st.failures);
    fd->st.failures = 0;
    ingest_set(&fd->st.last_error, NULL);
    fd->st.last_ok = now;
    delay = feedset_delay(fd->interval_s, 0, cx->max_backoff_s, h);
    delay += feedset_jitter(fd->url, now, delay);
    fd->st.next_poll = now + delay;
    if (deferred && delay > INGEST_DEFER_RETRY_S)
        fd->st.next_poll = now + INGEST_DEFER_RETRY_S;
}

/* The document's transaction: a savepoint of the caller's per-turn
 * transaction (cx->in_turn: the caller commits it and calls
 * handoff_committed), or a transaction of its own.  *mark: the hand-off's
 * mark, for ingest_tx_rollback.  Returns 0 or -1 (store_errmsg). */
static int ingest_tx_begin(const struct ingest_ctx *cx, int64_t *mark)
{
    *mark = handoff_mark(cx->handoff);
    if (cx->in_turn)
        return store_savepoint(cx->store);
    return store_begin(cx->store);
}

/* Keep the document's writes; on its own transaction the items may leave. */
static int ingest_tx_commit(const struct ingest_ctx *cx)
{
    if (cx->in_turn)
        return store_release(cx->store);
    if (store_commit(cx->store) != 0)
        return -1;
    handoff_committed(cx->handoff); /* the items may leave now */
    return 0;
}

/* Undo the document's writes (the outbox rows go with the seen rows: the
 * next poll queues the items again). */
static void ingest_tx_rollback(const struct ingest_ctx *cx, int64_t mark)
{
    if (cx->in_turn) {
        store_rollback_to(cx->store); /* when it fails, so does the turn's commit */
        handoff_rolled_back_to(cx->handoff, mark);
    } else {
        store_rollback(cx->store);
        handoff_rolled_back(cx->handoff);
    }
}

/* The seen set of a feed the store holds nothing of (store_seen_known:
 * its first document, or every entry pruned): what this document recorded
 * so far, in memory.  store_seen_check() on such a feed could only find
 * these (at last_seen = now already), so asking this instead gives the
 * same answers without a store look-up per item, and the rows are written
 * at the end of the document, many to a statement (store_seen_record_many).
 * Open addressing over a power of two of slots, at least twice the
 * document's items, so it never fills. */
struct ingest_fresh {
    size_t mask;
    const char **ids;  /* recorded ids (the document's strings), NULL = free */
    uint64_t *hashes;  /* recorded content hashes, 0 = free */
    /* what to write to the store at the end, in one store_seen_record_many */
    const char **rec_ids;
    uint64_t *rec_hashes;
    size_t nrec;
};

static void fresh_free(struct ingest_fresh *fr)
{
    free(fr->ids);
    free(fr->hashes);
    free(fr->rec_ids);
    free(fr->rec_hashes);
    memset(fr, 0, sizeof(*fr));
}

/* Room for n items.  Returns 0, or -1 when out of memory. */
static int fresh_init(struct ingest_fresh *fr, size_t n)
{
    size_t cap = 16;

    memset(fr, 0, sizeof(*fr));
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2 / sizeof(uint64_t))
            return -1;
        cap *= 2;
    }
    fr->ids = calloc(cap, sizeof(*fr->ids));
    fr->hashes = calloc(cap, sizeof(*fr->hashes));
    fr->rec_ids = calloc(n, sizeof(*fr->rec_ids));
    fr->rec_hashes = calloc(n, sizeof(*fr->rec_hashes));
    if (fr->ids == NULL || fr->hashes == NULL || fr->rec_ids == NULL ||
        fr->rec_hashes == NULL) {
        fresh_free(fr);
        return -1;
    }
    fr->mask = cap - 1;
    return 0;
}

/* The slot that holds id, or the free one where it would go. */
static size_t fresh_id_slot(const struct ingest_fresh *fr, const char *id)
{
    size_t i = (size_t)feed_fnv1a64(FEED_FNV1A64_INIT, id, strlen(id)) & fr->mask;

    while (fr->ids[i] != NULL && strcmp(fr->ids[i], id) != 0)
        i = (i + 1) & fr->mask;
    return i;
}

/* The slot that holds hash (!= 0), or the free one where it would go. */
static size_t fresh_hash_slot(const struct ingest_fresh *fr, uint64_t hash)
{
    size_t i = (size_t)(hash ^ (hash >> 32)) & fr->mask;

    while (fr->hashes[i] != 0 && fr->hashes[i] != hash)
        i = (i + 1) & fr->mask;
    return i;
}

/* store_seen_check() of a fresh feed: 1 seen by id, 2 by content hash
 * only, 0 new. */
static int fresh_check(const struct ingest_fresh *fr, const char *id, uint64_t hash)
{
    if (fr->ids[fresh_id_slot(fr, id)] != NULL)
        return 1;
    if (hash != 0 && fr->hashes[fresh_hash_slot(fr, hash)] != 0)
        return 2;
    return 0;
}

/* Record an item as seen (in the store by fresh_flush); id must outlive
 * fr.  At most the n items of fresh_init. */
static void fresh_record(struct ingest_fresh *fr, const char *id, uint64_t hash)
{
    fr->ids[fresh_id_slot(fr, id)] = id;
    if (hash != 0)
        fr->hashes[fresh_hash_slot(fr, hash)] = hash;
    fr->rec_ids[fr->nrec] = id;
    fr->rec_hashes[fr->nrec++] = hash;
}

/* Write what fresh_record() recorded.  Returns 0 or -1 (store_errmsg). */
static int fresh_flush(struct ingest_fresh *fr, struct store *store, const char *feed_url,
                       int64_t now)
{
    if (fr->nrec == 0)
        return 0;
    return store_seen_record_many(store, feed_url, fr->rec_ids, fr->rec_hashes, fr->nrec, now);
}

/* Send the items not yet seen and record them; called inside a store
 * transaction.  Returns 0, or -1 on a store error (logged). */
static int ingest_items(const struct ingest_ctx *cx, struct fs_feed *fd,
                        const struct ingest_doc *doc, int64_t now, struct ingest_stats *stats)
{
    struct item *const *items = doc->items;
    struct store *store = cx->store;
    int first = fd->st.last_ok == 0;
    int64_t cutoff = INT64_MIN;
    int blocked = 0, fresh = 0;
    struct ingest_fresh fr = {0};
    char label[600];
    size_t i;

    if (first && fd->max_age_s > 0)
        cutoff = now - fd->max_age_s;
    /* a feed that never had an item recorded may have nothing in the seen
     * set: then look items up in memory (out of memory: in the store) */
    if (fd->st.items_seen == 0 && doc->n > 0) {
        int known = store_seen_known(store, fd->url);

        if (known < 0)
            goto store_error;
        fresh = known == 0 && fresh_init(&fr, doc->n) == 0;
        stats->fresh = fresh;
    }
    /* Feeds list the newest first: send oldest first so alerts come in
     * the order the stories appeared. */
    for (i = doc->n; i-- > 0;) {
        const struct item *it = items[i];
        uint64_t hash;
        int seen, old, drop = 0;

        if (it->id == NULL || it->id[0] == '\0')
            continue; /* feed_doc_to_items always gives an id; be safe */
        hash = doc->hash[i];
        seen = fresh ? fresh_check(&fr, it->id, hash)
                     : store_seen_check(store, fd->url, it->id, hash, now);
        if (seen < 0)
            goto store_error;
        if (seen == 2)
            stats->reissued++;
        if (seen)
            continue;
        old = cutoff != INT64_MIN && it->published != ITEM_TIME_UNKNOWN &&
              it->published < cutoff;
        if (!old && doc->cut_from[i] != 0 && doc->packed[i] == NULL) {
            /* too large even with its texts cut (its id or link): no
             * matcher would take it; record it, or it would block the
             * feed's newer items at every poll */
            log_error("feed %s: item '%.200s%s' dropped: %zu bytes packed, over the "
                      "hand-off's limit of %d even with its texts cut",
                      feedset_label(fd, label, sizeof(label)), it->id,
                      strlen(it->id) > 200 ? "..." : "", doc->cut_from[i], WIRE_MAX_ITEM);
            stats->dropped++;
            drop = 1; /* recorded, not sent */
        } else if (!old) {
            if (blocked) {
                stats->deferred++;
                continue;
            }
            if (ingest_send_packed(cx, it, doc->packed[i], doc->packed_len[i]) != 0) {
                if (errno != EAGAIN)
                    log_error("feed %s: cannot send item '%.200s': %s",
                              feedset_label(fd, label, sizeof(label)), it->id,
                              zmq_strerror(errno));
                blocked = 1;
                stats->deferred++;
                continue;
            }
            if (doc->cut_from[i] != 0) {
                log_warn("feed %s: item '%.200s%s' is %zu bytes packed, over the hand-off's "
                         "limit of %d: sent with its longest texts cut to %zu bytes",
                         feedset_label(fd, label, sizeof(label)), it->id,
                         strlen(it->id) > 200 ? "..." : "", doc->cut_from[i], WIRE_MAX_ITEM,
                         doc->packed_len[i]);
                stats->cut++;
            }
        }
        if (fresh)
            fresh_record(&fr, it->id, hash);
        else if (store_seen_record(store, fd->url, it->id, hash, now) < 0)
            goto store_error;
        fd->st.items_seen++;
        if (old)
            stats->old++;
        else if (!drop)
            stats->sent++;
    }
    if (fresh && fresh_flush(&fr, store, fd->url, now) != 0)
        goto store_error;
    fresh_free(&fr);
    return 0;

store_error:
    fresh_free(&fr);
    log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
    return -1;
}

int ingest_result(const struct ingest_ctx *cx, struct fs_feed *fd,
                  const struct poller_result *r, int64_t now, struct ingest_stats *stats)
{
    struct ingest_doc doc;
    int rc;

    if (!r->ok || r->not_modified)
        return ingest_result_doc(cx, fd, r, NULL, now, stats);
    ingest_prepare(r, fd->url, &doc);
    rc = ingest_result_doc(cx, fd, r, &doc, now, stats);
    ingest_doc_clear(&doc);
    return rc;
}

int ingest_result_doc(const struct ingest_ctx *cx, struct fs_feed *fd,
                      const struct poller_result *r, const struct ingest_doc *doc,
                      int64_t now, struct ingest_stats *stats)
{
    struct store *store = cx->store;
    struct fs_hints hints;
    char label[600];
    int64_t mark;
    int rc = -1;

    memset(stats, 0, sizeof(*stats));
    if (!r->ok)
        return ingest_failure(cx, fd, r->error, r->retry_after_s, now);
    if (r->not_modified) {
        if (r->etag != NULL)
            ingest_set(&fd->st.etag, r->etag);
        if (r->last_modified != NULL)
            ingest_set(&fd->st.last_modified, r->last_modified);
        ingest_hints(r, NULL, &hints);
        ingest_success(cx, fd, now, &hints, 0);
        log_debug("feed %s: not modified", feedset_label(fd, label, sizeof(label)));
        ingest_persist(store, fd);
        return 0;
    }
    if (doc == NULL || !doc->ok)
        return ingest_failure(cx, fd,
                              doc != NULL && doc->error[0] != '\0' ? doc->error : "not a feed",
                              -1, now);
    if (doc->bozo)
        log_warn("feed %s: ill-formed document, recovered: %s",
                 feedset_label(fd, label, sizeof(label)),
                 doc->bozo_reason != NULL ? doc->bozo_reason : "unknown problem");
    ingest_hints(r, doc, &hints);
    stats->items = doc->n;

    if (ingest_tx_begin(cx, &mark) != 0) {
        log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
        goto done;
    }
    if (ingest_items(cx, fd, doc, now, stats) != 0) {
        ingest_tx_rollback(cx, mark);
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
    ingest_success(cx, fd, now, &hints, stats->deferred > 0);
    fd->st.doc_at = now; /* every entry of this document was checked at `now` */
    if (store_feed_put(store, &fd->st) != 0 || ingest_tx_commit(cx) != 0) {
        log_error("feed %s: %s", feedset_label(fd, label, sizeof(label)), store_errmsg(store));
        ingest_tx_rollback(cx, mark);
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
                  doc->n);
    if (stats->reissued > 0)
        log_debug("feed %s: %zu item%s with a new id but known content not sent again",
                  feedset_label(fd, label, sizeof(label)), stats->reissued,
                  stats->reissued == 1 ? "" : "s");

done:
    if (rc != 0) {
        /* A store failure is not the feed's fault: try again later, with
         * the whole document, from the state the store still holds. */
        feedset_restore(fd, store, now);
    }
    return rc;
}

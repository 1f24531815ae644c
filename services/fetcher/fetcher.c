/*
 * fetcher.c - the fetcher daemon's loop (see fetcher.h).
 *
 * Feeds that are due are handed to the poller (at most
 * fetcher.concurrency at once), the poller waits on the network, and each
 * finished transfer goes through ingest: a 2xx document is parsed on the
 * parsing thread (parsework.h; at most fetcher.concurrency documents wait
 * there, so memory stays bounded) and comes back to this loop, which does
 * all the rest (store, hand-off, logs, the feed's state; the feed counts as
 * in flight until then).  The results that came back in
 * one loop turn share one store transaction (each document a savepoint of
 * it, ingest.h): one commit per turn instead of one per feed, and the
 * turn's items leave for the matcher after that commit.  Signals only set flags
 * (daemon.h); the loop never waits longer than FETCHER_TICK_MS before
 * looking at them.
 */
#include "fetcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "daemon.h"
#include "feedset.h"
#include "handoff.h"
#include "ingest.h"
#include "log.h"
#include "parsework.h"
#include "poller.h"
#include "store.h"

struct fetcher {
    const struct config *cfg;
    struct store *store;
    void *zctx;
    struct handoff *handoff; /* items to the matcher, acknowledged */
    struct poller *poller;
    struct parsework *work; /* the parsing thread */
    struct feedset *feeds;
    struct ingest_ctx ingest;
    int once;                   /* fetcher_run_once: each feed once, now */
    struct fetcher_round round; /* counts of the current run */
    int64_t next_prune;         /* when the seen set is pruned next */
    size_t cursor;              /* where the scan for due feeds starts */
    int dirty;                  /* results written since the last checkpoint */
    struct fs_feed **turn;      /* feeds whose results the open turn holds */
    size_t nturn, capturn;
};

/* The hand-off to the matcher (handoff.h): the outbox is a table of
 * fetcher.db, so the items of a document, their seen-set rows and the
 * feed's state commit together (ingest.c); a DEALER connected to
 * items_endpoint.  The separate state_dir/outbox.db of earlier versions is
 * moved in (and deleted) when found. */
static int fetcher_zmq(struct fetcher *f, na_error *err)
{
    char path[4096];
    int n;

    f->zctx = zmq_ctx_new();
    if (f->zctx == NULL)
        return na_error_set(err, 0, 0, "cannot create a zeromq context: %s",
                            zmq_strerror(errno));
    n = snprintf(path, sizeof(path), "%s/" FETCHER_OLD_OUTBOX_NAME, f->cfg->state_dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return na_error_set(err, 0, 0, "state directory path too long: '%s'",
                            f->cfg->state_dir);
    if (handoff_new_store(f->zctx, f->cfg->items_endpoint, f->store, path, NULL, &f->handoff,
                          err) != 0) {
        na_error_prefix(err, "%s", f->cfg->path);
        return -1;
    }
    return 0;
}

/* The parsing thread's wake-up: a document is ready (poller.h). */
static void fetcher_wake(void *arg)
{
    struct fetcher *f = arg;

    poller_wakeup(f->poller);
}

int fetcher_new(const struct config *cfg, struct feedlist **pfl, struct fetcher **out,
                na_error *err)
{
    struct poller_options popts;
    struct fetcher *f;
    char dbpath[4096];
    int n;

    *out = NULL;
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        feedlist_free(pfl);
        return na_error_set(err, 0, 0, "out of memory");
    }
    f->cfg = cfg;
    if (daemon_mkdirs(cfg->state_dir) != 0) {
        na_error_set(err, 0, 0, "cannot create state directory '%s': %s", cfg->state_dir,
                     strerror(errno));
        goto fail;
    }
    n = snprintf(dbpath, sizeof(dbpath), "%s/%s", cfg->state_dir, FETCHER_DB_NAME);
    if (n < 0 || (size_t)n >= sizeof(dbpath)) {
        na_error_set(err, 0, 0, "state directory path too long: '%s'", cfg->state_dir);
        goto fail;
    }
    popts.max_total = cfg->fetcher.concurrency;
    popts.per_host = cfg->fetcher.per_host;
    popts.ca_file = cfg->fetcher.ca_file;
    if (store_open(dbpath, &f->store, err) != 0 || fetcher_zmq(f, err) != 0 ||
        poller_new(&popts, &f->poller, err) != 0 ||
        parsework_new((size_t)cfg->fetcher.parse_threads, fetcher_wake, f, &f->work, err) != 0 ||
        feedset_build(*pfl, NULL, f->store, &f->feeds, err) != 0)
        goto fail;
    f->ingest.store = f->store;
    f->ingest.handoff = f->handoff;
    f->ingest.max_backoff_s = cfg->fetcher.max_backoff_s;
    log_info("started: %zu feeds, items to %s, state in %s, %d transfers at once, "
             "%d per host",
             f->feeds->nfeeds, cfg->items_endpoint, dbpath, cfg->fetcher.concurrency,
             cfg->fetcher.per_host);
    feedlist_free(pfl);
    *out = f;
    return 0;

fail:
    feedlist_free(pfl);
    fetcher_destroy(&f);
    return -1;
}

static void fetcher_collect(struct fetcher *f, int wait);

int fetcher_reload(struct fetcher *f, struct feedlist **pfl, na_error *err)
{
    struct feedset *old = f->feeds, *set = NULL;
    size_t i, removed = 0;
    int rc;

    /* the parsing thread's jobs point into the old set: finish them */
    fetcher_collect(f, 1);
    rc = feedset_build(*pfl, old, f->store, &set, err);
    feedlist_free(pfl);
    if (rc != 0)
        return -1;
    for (i = 0; i < old->nfeeds; i++) {
        struct fs_feed *fd = old->feeds[i];
        char label[600];

        if (fd == NULL)
            continue; /* moved to the new set */
        if (fd->in_flight && poller_abort(f->poller, fd))
            fd->in_flight = 0;
        log_info("feed %s: removed", feedset_label(fd, label, sizeof(label)));
        removed++;
    }
    feedset_free(&old);
    f->feeds = set;
    f->cursor = 0;
    log_info("feeds reloaded: %zu feeds, %zu removed", set->nfeeds, removed);
    return 0;
}

/* Whether fd may start now. */
static int fetcher_due(const struct fetcher *f, const struct fs_feed *fd, int64_t now)
{
    if (fd->in_flight)
        return 0;
    if (f->once)
        return !fd->polled;
    return fd->st.next_poll <= now;
}

/* Start the transfers that are due, within the global and per-host
 * limits; returns the seconds until the next feed not in flight is due
 * (INT64_MAX when none, 0 when some wait for a free slot).  The scan
 * starts where the last one stopped for lack of a slot, so every feed
 * gets its turn. */
static int64_t fetcher_start_due(struct fetcher *f, int64_t now)
{
    const struct config *cfg = f->cfg;
    size_t nfeeds = f->feeds->nfeeds, k;
    int64_t next = INT64_MAX;

    if (poller_active(f->poller) >= (size_t)cfg->fetcher.concurrency ||
        parsework_outstanding(f->work) >= (size_t)cfg->fetcher.concurrency)
        return 0; /* finishing transfers and parsed documents wake the loop */
    for (k = 0; k < nfeeds; k++) {
        size_t i = (f->cursor + k) % nfeeds;
        struct fs_feed *fd = f->feeds->feeds[i];
        struct poller_request req;
        na_error err;

        if (!fetcher_due(f, fd, now)) {
            if (!fd->in_flight && !f->once && fd->st.next_poll - now < next)
                next = fd->st.next_poll - now;
            continue;
        }
        if (fd->host->in_flight >= cfg->fetcher.per_host) {
            next = 0;
            continue;
        }
        if (poller_active(f->poller) >= (size_t)cfg->fetcher.concurrency ||
            parsework_outstanding(f->work) >= (size_t)cfg->fetcher.concurrency) {
            f->cursor = i;
            return 0;
        }
        memset(&req, 0, sizeof(req));
        req.url = fd->url;
        req.etag = fd->st.etag;
        req.last_modified = fd->st.last_modified;
        req.timeout_s = cfg->fetcher.timeout_s;
        req.max_bytes = cfg->fetcher.max_bytes;
        req.user = fd;
        na_error_clear(&err);
        if (poller_start(f->poller, &req, &err) != 0) {
            ingest_failure(&f->ingest, fd, err.msg, -1, now);
            fd->polled = 1;
            f->round.failed++;
            continue;
        }
        fd->in_flight = 1;
        fd->host->in_flight++;
        log_debug("feed %s: fetching%s", fd->url,
                  fd->st.etag != NULL || fd->st.last_modified != NULL ? " (conditional)" : "");
    }
    return next;
}

/* Apply the seen-set retention when it is time. */
static void fetcher_prune(struct fetcher *f, int64_t now)
{
    int64_t gone;

    if (now < f->next_prune)
        return;
    f->next_prune = now + FETCHER_PRUNE_EVERY_S;
    if (f->cfg->fetcher.seen_retention_s <= 0)
        return;
    gone = store_seen_prune(f->store, NULL, now - f->cfg->fetcher.seen_retention_s);
    if (gone < 0)
        log_error("cannot prune the seen set: %s", store_errmsg(f->store));
    else if (gone > 0)
        log_info("seen set: %lld entries older than %d s forgotten", (long long)gone,
                 f->cfg->fetcher.seen_retention_s);
}

/* Open the turn's transaction before its first result; returns whether
 * results now go into one (when it cannot begin, each document gets a
 * transaction of its own, as ingest does without a turn). */
static int fetcher_turn_begin(struct fetcher *f)
{
    if (f->ingest.in_turn)
        return 1;
    if (store_begin(f->store) != 0) {
        log_error("%s", store_errmsg(f->store));
        return 0;
    }
    f->ingest.in_turn = 1;
    f->nturn = 0;
    return 1;
}

/* Remember that fd's result is in the open turn.  Returns 0, or -1 when
 * there is no memory to remember it. */
static int fetcher_turn_add(struct fetcher *f, struct fs_feed *fd)
{
    if (f->nturn == f->capturn) {
        size_t cap = f->capturn ? f->capturn * 2 : 64;
        struct fs_feed **grown = realloc(f->turn, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        f->turn = grown;
        f->capturn = cap;
    }
    f->turn[f->nturn++] = fd;
    return 0;
}

/* Commit the turn's transaction: its items may leave.  When the commit
 * fails nothing of the turn was recorded: its feeds go back to the state
 * the store holds and come back after their interval, like a store
 * failure of one document (ingest.c). */
static void fetcher_turn_end(struct fetcher *f, int64_t now)
{
    size_t i;

    if (!f->ingest.in_turn)
        return;
    f->ingest.in_turn = 0;
    if (store_commit(f->store) == 0) {
        handoff_committed(f->handoff);
        return;
    }
    log_error("%s (the results of %zu feeds are dropped, fetched again later)",
              store_errmsg(f->store), f->nturn);
    store_rollback(f->store);
    handoff_rolled_back(f->handoff);
    for (i = 0; i < f->nturn; i++)
        feedset_restore(f->turn[i], f->store, now);
}

/* Ingest one result (doc: prepared by the parsing thread, or NULL) in the
 * loop turn's transaction and count it. */
static void fetcher_ingest(struct fetcher *f, struct fs_feed *fd, const struct poller_result *r,
                           const struct ingest_doc *doc)
{
    struct ingest_stats stats;
    int rc;

    fd->in_flight = 0;
    /* a result the turn cannot remember (no memory) could not be undone
     * if the turn's commit failed: close the turn, it goes alone */
    if (fetcher_turn_begin(f) && fetcher_turn_add(f, fd) != 0)
        fetcher_turn_end(f, (int64_t)time(NULL));
    if (doc != NULL)
        rc = ingest_result_doc(&f->ingest, fd, r, doc, (int64_t)time(NULL), &stats);
    else
        rc = ingest_result(&f->ingest, fd, r, (int64_t)time(NULL), &stats);
    if (rc != 0)
        f->round.failed++;
    else if (r->not_modified)
        f->round.not_modified++;
    else
        f->round.ok++;
    f->round.items += stats.items;
    f->round.sent += stats.sent;
    f->round.deferred += stats.deferred;
    f->round.cut += stats.cut;
    f->round.dropped += stats.dropped;
    f->dirty = 1;
}

/* Ingest the documents the parsing thread has ready (wait: all of them,
 * waiting for those still being parsed), then commit the turn. */
static void fetcher_collect(struct fetcher *f, int wait)
{
    struct parsework_job *job;

    while ((job = parsework_next_done(f->work, wait)) != NULL) {
        fetcher_ingest(f, job->fd, &job->r, &job->doc);
        parsework_job_free(&job);
    }
    if (f->ingest.in_turn) {
        fetcher_turn_end(f, (int64_t)time(NULL));
        /* send what the turn queued now, not after the next wait */
        if (handoff_poll(f->handoff, 0) != 0)
            log_error("%s", handoff_errmsg(f->handoff));
    }
}

void fetcher_step(struct fetcher *f, int max_wait_ms)
{
    struct poller_result r;
    int64_t now = (int64_t)time(NULL), next;
    int wait_ms = max_wait_ms;

    fetcher_prune(f, now);
    next = fetcher_start_due(f, now);
    /* (with the parsing thread's queue full, what waits is woken by it) */
    if (poller_active(f->poller) == 0 && next != INT64_MAX && next * 1000 < wait_ms &&
        parsework_outstanding(f->work) < (size_t)f->cfg->fetcher.concurrency)
        wait_ms = (int)(next * 1000);
    if (wait_ms < 1)
        wait_ms = 1;
    /* Items waiting in the outbox: wait on the matcher's acks when no
     * transfer runs, else look at them often. */
    if (poller_active(f->poller) == 0 && handoff_in_flight(f->handoff) > 0 &&
        parsework_outstanding(f->work) == 0) {
        handoff_poll(f->handoff, wait_ms);
    } else {
        int fd = -1;

        if (handoff_in_flight(f->handoff) > 0) {
            /* wake up for acks as they come (ZMQ_FD is edge-triggered:
             * only wait on it after ZMQ_EVENTS says nothing is there) */
            if (handoff_readable(f->handoff))
                wait_ms = 0;
            else
                fd = handoff_fd(f->handoff);
        } else if (handoff_pending(f->handoff) > 0 && wait_ms > 10) {
            wait_ms = 10; /* not connected yet (or full): try again soon */
        }
        poller_wait_fd(f->poller, wait_ms, fd);
    }
    if (handoff_poll(f->handoff, 0) != 0)
        log_error("%s", handoff_errmsg(f->handoff));
    while (poller_next_done(f->poller, &r)) {
        struct fs_feed *fd = r.user;

        fd->host->in_flight--;
        fd->polled = 1;
        /* a document goes to the parsing thread (fd stays in flight);
         * failures and 304s, or when that cannot take it, are done here */
        if (r.ok && !r.not_modified && parsework_submit(f->work, fd, &r) == 0)
            continue;
        fetcher_ingest(f, fd, &r, NULL);
        poller_result_clear(&r);
    }
    fetcher_collect(f, 0);
    /* the WAL is copied into the database when nothing runs (store.h) */
    if (f->dirty && poller_active(f->poller) == 0 && !f->once) {
        f->dirty = 0;
        if (store_checkpoint(f->store) != 0)
            log_warn("%s", store_errmsg(f->store));
    }
}

int fetcher_run_once(struct fetcher *f, struct fetcher_round *out)
{
    size_t i, done;
    time_t deadline;

    f->once = 1;
    memset(&f->round, 0, sizeof(f->round));
    for (i = 0; i < f->feeds->nfeeds; i++)
        f->feeds->feeds[i]->polled = 0;
    f->round.feeds = f->feeds->nfeeds;
    do {
        fetcher_step(f, FETCHER_TICK_MS);
        done = f->round.ok + f->round.not_modified + f->round.failed;
    } while (done < f->feeds->nfeeds && !daemon_quit);
    /* the round is over when the matcher has the items (or gives up
     * answering: what is left stays in the outbox for the next start) */
    deadline = time(NULL) + FETCHER_ONCE_DRAIN_S;
    while (handoff_pending(f->handoff) > 0 && !daemon_quit && time(NULL) < deadline)
        if (handoff_poll(f->handoff, FETCHER_TICK_MS) != 0) {
            log_error("%s", handoff_errmsg(f->handoff));
            break;
        }
    if (handoff_pending(f->handoff) > 0)
        log_warn("round done with %lld items not yet acknowledged by the matcher "
                 "(kept in the outbox)", (long long)handoff_pending(f->handoff));
    f->once = 0;
    *out = f->round;
    {
        struct handoff_stats hs;

        handoff_get_stats(f->handoff, &hs);
        log_info("hand-off: %llu items queued, %llu acknowledged, %llu sent again, "
                 "%llu bad acks",
                 (unsigned long long)hs.submitted, (unsigned long long)hs.acked,
                 (unsigned long long)hs.resent, (unsigned long long)hs.bad_acks);
    }
    log_info("round done: %zu feeds, %zu ok, %zu not modified, %zu failed; "
             "%zu items read, %zu sent (%zu cut to fit), %zu deferred, %zu dropped",
             out->feeds, out->ok, out->not_modified, out->failed, out->items, out->sent,
             out->cut, out->deferred, out->dropped);
    return 0;
}

int fetcher_run(struct fetcher *f)
{
    while (!daemon_quit) {
        if (daemon_reload) {
            struct feedlist *fl = NULL;
            na_error err;

            daemon_reload = 0;
            na_error_clear(&err);
            log_info("reloading %s", f->cfg->feeds_path);
            if (feedlist_load(f->cfg, &fl, &err) != 0 || fetcher_reload(f, &fl, &err) != 0)
                log_error("reload failed, keeping the previous %zu feeds: %s",
                          f->feeds->nfeeds, err.msg);
        }
        fetcher_step(f, FETCHER_TICK_MS);
    }
    log_info("stopping");
    return 0;
}

void fetcher_destroy(struct fetcher **pf)
{
    struct fetcher *f;

    if (pf == NULL || *pf == NULL)
        return;
    f = *pf;
    *pf = NULL;
    parsework_destroy(&f->work); /* documents not ingested are fetched again */
    poller_free(&f->poller);     /* aborts what is still running */
    handoff_destroy(&f->handoff); /* what is not acknowledged stays in the outbox */
    if (f->zctx != NULL)
        zmq_ctx_term(f->zctx);
    feedset_free(&f->feeds);
    store_close(&f->store);
    free(f->turn);
    free(f);
}

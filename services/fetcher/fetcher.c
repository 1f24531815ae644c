/*
 * fetcher.c - the fetcher daemon's loop (see fetcher.h).
 *
 * One thread: feeds that are due are handed to the poller (at most
 * fetcher.concurrency at once), the poller waits on the network, and each
 * finished transfer goes through ingest.  Signals only set flags
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
#include "ingest.h"
#include "log.h"
#include "poller.h"
#include "store.h"

struct fetcher {
    const struct config *cfg;
    struct store *store;
    void *zctx;
    void *push;
    struct poller *poller;
    struct feedset *feeds;
};

static int fetcher_zmq(struct fetcher *f, na_error *err)
{
    int hwm = FETCHER_SNDHWM, linger = FETCHER_LINGER_MS;

    f->zctx = zmq_ctx_new();
    if (f->zctx == NULL)
        return na_error_set(err, 0, 0, "cannot create a zeromq context: %s",
                            zmq_strerror(errno));
    f->push = zmq_socket(f->zctx, ZMQ_PUSH);
    if (f->push == NULL)
        return na_error_set(err, 0, 0, "cannot create a zeromq socket: %s",
                            zmq_strerror(errno));
    if (zmq_setsockopt(f->push, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(f->push, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
        return na_error_set(err, 0, 0, "cannot set socket options: %s", zmq_strerror(errno));
    if (zmq_connect(f->push, f->cfg->items_endpoint) != 0)
        return na_error_set(err, 0, 0, "%s: items_endpoint '%s': %s", f->cfg->path,
                            f->cfg->items_endpoint, zmq_strerror(errno));
    return 0;
}

int fetcher_new(const struct config *cfg, struct feedlist **pfl, struct fetcher **out,
                na_error *err)
{
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
    if (store_open(dbpath, &f->store, err) != 0 || fetcher_zmq(f, err) != 0 ||
        poller_new(&f->poller, err) != 0 ||
        feedset_build(*pfl, NULL, f->store, &f->feeds, err) != 0)
        goto fail;
    log_info("started: %zu feeds, items to %s, state in %s, %d transfers at once",
             f->feeds->nfeeds, cfg->items_endpoint, dbpath, cfg->fetcher.concurrency);
    feedlist_free(pfl);
    *out = f;
    return 0;

fail:
    feedlist_free(pfl);
    fetcher_destroy(&f);
    return -1;
}

int fetcher_reload(struct fetcher *f, struct feedlist **pfl, na_error *err)
{
    struct feedset *old = f->feeds, *set = NULL;
    size_t i, removed = 0;
    int rc;

    rc = feedset_build(*pfl, old, f->store, &set, err);
    feedlist_free(pfl);
    if (rc != 0)
        return -1;
    for (i = 0; i < old->nfeeds; i++) {
        struct fs_feed *fd = old->feeds[i];
        char label[600];

        if (fd == NULL)
            continue; /* moved to the new set */
        if (fd->in_flight)
            poller_abort(f->poller, fd);
        log_info("feed %s: removed", feedset_label(fd, label, sizeof(label)));
        removed++;
    }
    feedset_free(&old);
    f->feeds = set;
    log_info("feeds reloaded: %zu feeds, %zu removed", set->nfeeds, removed);
    return 0;
}

/* Start the transfers that are due; returns the seconds until the next
 * feed not in flight is due (INT64_MAX when none). */
static int64_t fetcher_start_due(struct fetcher *f, int64_t now)
{
    const struct config *cfg = f->cfg;
    int64_t next = INT64_MAX;
    size_t i;

    for (i = 0; i < f->feeds->nfeeds; i++) {
        struct fs_feed *fd = f->feeds->feeds[i];
        struct poller_request req;
        na_error err;

        if (fd->in_flight)
            continue;
        if (fd->st.next_poll > now) {
            if (fd->st.next_poll - now < next)
                next = fd->st.next_poll - now;
            continue;
        }
        if (poller_active(f->poller) >= (size_t)cfg->fetcher.concurrency) {
            next = 0;
            continue;
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
            ingest_failure(f->store, fd, err.msg, now);
            continue;
        }
        fd->in_flight = 1;
        log_debug("feed %s: fetching%s", fd->url,
                  fd->st.etag != NULL || fd->st.last_modified != NULL ? " (conditional)" : "");
    }
    return next;
}

void fetcher_step(struct fetcher *f, int max_wait_ms)
{
    struct poller_result r;
    int64_t now = (int64_t)time(NULL), next;
    int wait_ms = max_wait_ms;

    next = fetcher_start_due(f, now);
    if (poller_active(f->poller) == 0 && next != INT64_MAX && next * 1000 < wait_ms)
        wait_ms = (int)(next * 1000);
    if (wait_ms < 1)
        wait_ms = 1;
    poller_wait(f->poller, wait_ms);
    while (poller_next_done(f->poller, &r)) {
        struct fs_feed *fd = r.user;
        struct ingest_stats stats;

        fd->in_flight = 0;
        ingest_result(f->store, f->push, fd, &r, (int64_t)time(NULL), &stats);
        poller_result_clear(&r);
    }
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
    poller_free(&f->poller); /* aborts what is still running */
    if (f->push != NULL)
        zmq_close(f->push); /* queued items flush for FETCHER_LINGER_MS at most */
    if (f->zctx != NULL)
        zmq_ctx_term(f->zctx);
    feedset_free(&f->feeds);
    store_close(&f->store);
    free(f);
}

/*
 * handoff.c - the fetcher's side of the acknowledged hand-off (see
 * handoff.h).
 *
 * Outbox: outbox(tag INTEGER PRIMARY KEY AUTOINCREMENT, feed, id, json),
 * unique on (feed, id).  `json` holds the item as sent: a packed item
 * (item_pack.h, what handoff_submit writes) or, in rows an older fetcher
 * wrote (or handoff_submit_json), item JSON; the packed magic tells them
 * apart when a row is sent.  AUTOINCREMENT: a tag is never reused, so a late
 * ack can only ever delete the row it was meant for.  Rows are sent in tag
 * order; `inflight` holds the tags sent and not yet acknowledged (in tag
 * order, at most `window`), `next_tag` is the first tag not sent yet.  A
 * socket monitor reports (re)connections, after which everything in flight
 * is sent again.
 *
 * With the outbox in the store's database (handoff_new_store) the inserts
 * run in the caller's transaction and count as `tentative` until
 * handoff_committed(); nothing is read for sending before that, which is
 * also what keeps "a tag is never reused" true: SQLite may hand out the
 * tag of a rolled-back row again, but such a row was never sent.  Ack
 * deletes are transactions of their own on the same connection, so
 * handoff_poll() must not run while the caller's transaction is open.
 */
#include "handoff.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "item_pack.h"
#include "store.h"
#include "wire.h"

enum { HS_INSERT, HS_DELETE, HS_NEXT, HS_GET, HS_BEGIN, HS_COMMIT, HS_COUNT };

static const char *const handoff_sql[HS_COUNT] = {
    [HS_INSERT] = "INSERT OR IGNORE INTO outbox(feed, id, json) VALUES (?1, ?2, ?3)",
    [HS_DELETE] = "DELETE FROM outbox WHERE tag BETWEEN ?1 AND ?2",
    [HS_NEXT] = "SELECT tag, json FROM outbox WHERE tag >= ?1 ORDER BY tag LIMIT ?2",
    [HS_GET] = "SELECT json FROM outbox WHERE tag = ?1",
    [HS_BEGIN] = "BEGIN IMMEDIATE",
    [HS_COMMIT] = "COMMIT",
};

struct handoff_flight {
    int64_t tag;
    int64_t sent_ms;
    int acked; /* set while an ack batch is applied, then compacted away */
};

struct handoff {
    sqlite3 *db;
    int shared; /* db is the store's (handoff_new_store): borrowed */
    char *path;
    sqlite3_stmt *st[HS_COUNT];
    void *dealer;
    void *monitor;
    struct handoff_opts opts;
    struct handoff_flight *inflight;
    size_t ninflight;
    int64_t next_tag;
    int64_t pending;
    int64_t tentative; /* shared: queued in the store's open transaction */
    int resend_all;
    struct handoff_stats stats;
    char errmsg[512];
};

static int64_t handoff_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int handoff_fail(struct handoff *h, const char *what)
{
    snprintf(h->errmsg, sizeof(h->errmsg), "%s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
    return -1;
}

static int handoff_done(struct handoff *h, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : handoff_fail(h, what);
}

/* A handoff with its options, no outbox and no socket yet. */
static struct handoff *handoff_alloc(const char *path, const struct handoff_opts *opts)
{
    struct handoff *h;

    if ((h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    if (opts != NULL)
        h->opts = *opts;
    if (h->opts.window <= 0)
        h->opts.window = HANDOFF_WINDOW;
    if (h->opts.resend_ms <= 0)
        h->opts.resend_ms = HANDOFF_RESEND_MS;
    if (h->opts.max_pending <= 0)
        h->opts.max_pending = HANDOFF_MAX_PENDING;
    if ((h->path = strdup(path)) == NULL ||
        (h->inflight = calloc((size_t)h->opts.window, sizeof(*h->inflight))) == NULL) {
        free(h->path);
        free(h);
        return NULL;
    }
    return h;
}

/* Create the outbox table in h->db when missing, prepare the statements. */
static int handoff_setup_db(struct handoff *h, na_error *err)
{
    char *emsg = NULL;
    int i;

    if (sqlite3_exec(h->db,
                     "CREATE TABLE IF NOT EXISTS outbox(tag INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " feed TEXT NOT NULL, id TEXT NOT NULL, json BLOB NOT NULL,"
                     " UNIQUE(feed, id));",
                     NULL, NULL, &emsg) != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot set up the outbox: %s", h->path,
                     emsg != NULL ? emsg : sqlite3_errmsg(h->db));
        sqlite3_free(emsg);
        return -1;
    }
    for (i = 0; i < HS_COUNT; i++) {
        if (sqlite3_prepare_v3(h->db, handoff_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &h->st[i],
                               NULL) != SQLITE_OK)
            return na_error_set(err, 0, 0, "%s: cannot prepare statements: %s", h->path,
                                sqlite3_errmsg(h->db));
    }
    return 0;
}

/* How many items wait in the outbox, and where sending starts. */
static int handoff_count(struct handoff *h, na_error *err)
{
    sqlite3_stmt *s = NULL;

    if (sqlite3_prepare_v2(h->db, "SELECT count(*), coalesce(min(tag), 0) FROM outbox", -1, &s,
                           NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        na_error_set(err, 0, 0, "%s: cannot read the outbox: %s", h->path,
                     sqlite3_errmsg(h->db));
        sqlite3_finalize(s);
        return -1;
    }
    h->pending = sqlite3_column_int64(s, 0);
    h->next_tag = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    return 0;
}

/* The DEALER connected to endpoint, and its connection monitor. */
static int handoff_setup_socket(struct handoff *h, void *zctx, const char *endpoint,
                                na_error *err)
{
    char monaddr[64];
    int linger = 0, one = 1, hwm;

    if ((h->dealer = zmq_socket(zctx, ZMQ_DEALER)) == NULL)
        return na_error_set(err, 0, 0, "cannot create a zeromq socket: %s",
                            zmq_strerror(errno));
    hwm = h->opts.window * 2;
    zmq_setsockopt(h->dealer, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(h->dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(h->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
    wire_set_heartbeat(h->dealer);
    snprintf(monaddr, sizeof(monaddr), "inproc://handoff-monitor-%p", (void *)h);
    if (zmq_socket_monitor(h->dealer, monaddr, ZMQ_EVENT_CONNECTED) != 0 ||
        (h->monitor = zmq_socket(zctx, ZMQ_PAIR)) == NULL ||
        zmq_connect(h->monitor, monaddr) != 0)
        return na_error_set(err, 0, 0, "cannot monitor the items socket: %s",
                            zmq_strerror(errno));
    zmq_setsockopt(h->monitor, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(h->dealer, endpoint) != 0)
        return na_error_set(err, 0, 0, "items_endpoint '%s': %s", endpoint,
                            zmq_strerror(errno));
    return 0;
}

int handoff_new(void *zctx, const char *endpoint, const char *db_path,
                const struct handoff_opts *opts, struct handoff **out, na_error *err)
{
    struct handoff *h;
    char *emsg = NULL;

    *out = NULL;
    if ((h = handoff_alloc(db_path, opts)) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    if (sqlite3_open_v2(db_path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot open the outbox: %s", db_path,
                     h->db != NULL ? sqlite3_errmsg(h->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(h->db, 5000);
    if (sqlite3_exec(h->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &emsg) != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot set up the outbox: %s", db_path,
                     emsg != NULL ? emsg : sqlite3_errmsg(h->db));
        sqlite3_free(emsg);
        goto fail;
    }
    if (handoff_setup_db(h, err) != 0 || handoff_count(h, err) != 0 ||
        handoff_setup_socket(h, zctx, endpoint, err) != 0)
        goto fail;
    *out = h;
    return 0;
fail:
    handoff_destroy(&h);
    return -1;
}

/* Move the items of a separate outbox file (this module's layout before
 * the outbox joined the store) into h's outbox, then delete the file.  A
 * crash before the deletion imports them again: rows the matcher has
 * acknowledged meanwhile are sent once more, and the matcher recognises
 * them (it acknowledges a processed item without alerting again). */
static int handoff_import(struct handoff *h, const char *old_path, na_error *err)
{
    sqlite3_stmt *s = NULL;
    char *emsg = NULL, side[4200];
    int rc;

    if (access(old_path, F_OK) != 0)
        return 0;
    if (sqlite3_prepare_v2(h->db, "ATTACH ?1 AS old_outbox", -1, &s, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_text(s, 1, old_path, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto sqlfail;
    rc = sqlite3_exec(h->db,
                      "BEGIN IMMEDIATE;"
                      "CREATE TABLE IF NOT EXISTS old_outbox.outbox(tag INTEGER PRIMARY KEY,"
                      " feed TEXT NOT NULL, id TEXT NOT NULL, json BLOB NOT NULL);"
                      "INSERT OR IGNORE INTO main.outbox(feed, id, json)"
                      " SELECT feed, id, json FROM old_outbox.outbox ORDER BY tag;"
                      "COMMIT;",
                      NULL, NULL, &emsg);
    if (rc != SQLITE_OK)
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(h->db, "DETACH old_outbox", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot move its items into %s: %s", old_path, h->path,
                     emsg != NULL ? emsg : sqlite3_errmsg(h->db));
        sqlite3_free(emsg);
        return -1;
    }
    unlink(old_path);
    snprintf(side, sizeof(side), "%s-wal", old_path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", old_path);
    unlink(side);
    return 0;
sqlfail:
    return na_error_set(err, 0, 0, "%s: cannot open the old outbox: %s", old_path,
                        sqlite3_errmsg(h->db));
}

int handoff_new_store(void *zctx, const char *endpoint, struct store *st,
                      const char *old_outbox, const struct handoff_opts *opts,
                      struct handoff **out, na_error *err)
{
    struct handoff *h;
    const char *path = sqlite3_db_filename(store_sqlite(st), "main");

    *out = NULL;
    if ((h = handoff_alloc(path != NULL ? path : "state database", opts)) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    h->db = store_sqlite(st);
    h->shared = 1;
    if (handoff_setup_db(h, err) != 0 ||
        (old_outbox != NULL && handoff_import(h, old_outbox, err) != 0) ||
        handoff_count(h, err) != 0 || handoff_setup_socket(h, zctx, endpoint, err) != 0)
        goto fail;
    *out = h;
    return 0;
fail:
    handoff_destroy(&h);
    return -1;
}

void handoff_destroy(struct handoff **ph)
{
    struct handoff *h;
    int i;

    if (ph == NULL || *ph == NULL)
        return;
    h = *ph;
    *ph = NULL;
    if (h->dealer != NULL) {
        zmq_socket_monitor(h->dealer, NULL, 0);
        zmq_close(h->dealer);
    }
    if (h->monitor != NULL)
        zmq_close(h->monitor);
    for (i = 0; i < HS_COUNT; i++)
        sqlite3_finalize(h->st[i]);
    if (!h->shared)
        sqlite3_close(h->db);
    free(h->inflight);
    free(h->path);
    free(h);
}

const char *handoff_errmsg(const struct handoff *h)
{
    return h->errmsg;
}

int64_t handoff_pending(const struct handoff *h)
{
    return h->pending;
}

size_t handoff_in_flight(const struct handoff *h)
{
    return h->ninflight;
}

void handoff_get_stats(const struct handoff *h, struct handoff_stats *out)
{
    *out = h->stats;
}

/* Send row `tag`.  Returns 1 when sent, 0 when the socket would block (the
 * matcher is not connected or its queue is full), -1 on an error. */
static int handoff_send(struct handoff *h, int64_t tag, const void *json, size_t len)
{
    /* a row is a packed item (item_pack.h), or item JSON queued by an
     * older fetcher (or handoff_submit_json): each goes with its op */
    int enc = item_pack_is_packed(json, len) ? WIRE_ENC_PACKED : WIRE_ENC_JSON;

    if (wire_send_handoff_enc(h->dealer, tag, enc, json, len, ZMQ_DONTWAIT) == 0)
        return 1;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    snprintf(h->errmsg, sizeof(h->errmsg), "cannot send item %lld: %s", (long long)tag,
             zmq_strerror(errno));
    return -1;
}

/* Send the in-flight items again (their tags, in order). */
static int handoff_resend(struct handoff *h, int64_t now)
{
    sqlite3_stmt *s = h->st[HS_GET];
    size_t i;

    for (i = 0; i < h->ninflight; i++) {
        int rc = 0, step;

        sqlite3_bind_int64(s, 1, h->inflight[i].tag);
        step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            rc = handoff_send(h, h->inflight[i].tag, sqlite3_column_blob(s, 0),
                              (size_t)sqlite3_column_bytes(s, 0));
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            return handoff_fail(h, "cannot read the outbox");
        if (rc <= 0)
            return rc; /* blocked: the timer or the next connection retries */
        h->inflight[i].sent_ms = now;
        h->stats.resent++;
    }
    return 0;
}

/* Fill the window with rows not sent yet. */
static int handoff_fill(struct handoff *h, int64_t now)
{
    sqlite3_stmt *s = h->st[HS_NEXT];
    size_t room = (size_t)h->opts.window - h->ninflight;
    int step, rc = 0;

    if (room == 0)
        return 0;
    sqlite3_bind_int64(s, 1, h->next_tag);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)room);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t tag = sqlite3_column_int64(s, 0);

        rc = handoff_send(h, tag, sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1));
        if (rc <= 0)
            break;
        h->inflight[h->ninflight].tag = tag;
        h->inflight[h->ninflight].sent_ms = now;
        h->inflight[h->ninflight].acked = 0;
        h->ninflight++;
        h->next_tag = tag + 1;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return handoff_fail(h, "cannot read the outbox");
    return rc < 0 ? -1 : 0;
}

static int handoff_cmp_tag(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Delete acknowledged rows and drop them from the window: one transaction
 * for all the acks read in one handoff_poll(), one DELETE per run of
 * consecutive tags (the matcher acknowledges in batches, mostly in order).
 * Sorts tags. */
static int handoff_acked(struct handoff *h, int64_t *tags, size_t n)
{
    size_t i, j, k, w, lo, hi;
    int64_t deleted = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    qsort(tags, n, sizeof(*tags), handoff_cmp_tag);
    if (handoff_done(h, h->st[HS_BEGIN], "cannot begin") != 0)
        return -1;
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && (tags[j] == tags[j - 1] ||
                                  (tags[j - 1] < INT64_MAX && tags[j] == tags[j - 1] + 1));
             j++)
            ;
        sqlite3_bind_int64(h->st[HS_DELETE], 1, tags[i]);
        sqlite3_bind_int64(h->st[HS_DELETE], 2, tags[j - 1]);
        if (handoff_done(h, h->st[HS_DELETE], "cannot delete an acknowledged item") != 0) {
            rc = -1;
            break;
        }
        deleted += (int64_t)sqlite3_changes(h->db);
    }
    for (i = 0; rc == 0 && i < n; i++) {
        /* inflight is in increasing tag order */
        lo = 0;
        hi = h->ninflight;
        while (lo < hi) {
            k = lo + (hi - lo) / 2;
            if (h->inflight[k].tag < tags[i])
                lo = k + 1;
            else
                hi = k;
        }
        if (lo < h->ninflight && h->inflight[lo].tag == tags[i])
            h->inflight[lo].acked = 1;
    }
    if (rc == 0 && handoff_done(h, h->st[HS_COMMIT], "cannot commit") != 0)
        rc = -1;
    if (rc != 0) {
        /* the rows stay: so do their places in the window (resent later) */
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        for (k = 0; k < h->ninflight; k++)
            h->inflight[k].acked = 0;
        return rc;
    }
    h->pending -= deleted;
    h->stats.acked += (uint64_t)deleted;
    for (k = 0, w = 0; k < h->ninflight; k++)
        if (!h->inflight[k].acked)
            h->inflight[w++] = h->inflight[k];
    h->ninflight = w;
    return rc;
}

/* Whether an item may be queued now: 0, -1 (no transaction, with
 * handoff_new_store) or -2 (full), with errmsg. */
static int handoff_can_queue(struct handoff *h, const char *id)
{
    if (h->shared && sqlite3_get_autocommit(h->db)) {
        snprintf(h->errmsg, sizeof(h->errmsg),
                 "%s: item '%.200s' queued outside a store transaction", h->path, id);
        return -1;
    }
    if (h->pending + h->tentative >= h->opts.max_pending) {
        snprintf(h->errmsg, sizeof(h->errmsg), "%s: the outbox is full (%lld items)", h->path,
                 (long long)(h->pending + h->tentative));
        errno = EAGAIN;
        return -2;
    }
    return 0;
}

static int handoff_insert(struct handoff *h, const char *feed, const char *id, const void *data,
                          size_t len);

int handoff_submit(struct handoff *h, const char *feed, const struct item *it)
{
    unsigned char *rec;
    size_t len;
    int rc;

    if ((rc = handoff_can_queue(h, it->id)) != 0)
        return rc;
    if ((rec = item_pack_encode(it, &len)) == NULL) {
        snprintf(h->errmsg, sizeof(h->errmsg),
                 "item '%.200s' cannot be packed (a field is not valid UTF-8, or out of memory)",
                 it->id != NULL ? it->id : "");
        return -1;
    }
    rc = handoff_submit_packed(h, feed, it->id, rec, len);
    free(rec);
    return rc;
}

int handoff_submit_json(struct handoff *h, const char *feed, const char *id, const char *json,
                        size_t len)
{
    return handoff_insert(h, feed, id, json, len);
}

int handoff_submit_packed(struct handoff *h, const char *feed, const char *id,
                          const void *rec, size_t len)
{
    if (!item_pack_is_packed(rec, len)) {
        snprintf(h->errmsg, sizeof(h->errmsg), "item '%.200s' is not a packed item", id);
        return -1;
    }
    return handoff_insert(h, feed, id, rec, len);
}

/* Insert one outbox row (item JSON or a packed item) and, with
 * handoff_new(), try to send it. */
static int handoff_insert(struct handoff *h, const char *feed, const char *id, const void *data,
                          size_t len)
{
    sqlite3_stmt *s = h->st[HS_INSERT];
    int rc;

    if ((rc = handoff_can_queue(h, id)) != 0)
        return rc;
    if (len > WIRE_MAX_ITEM) {
        snprintf(h->errmsg, sizeof(h->errmsg), "item '%.200s' is larger than %d bytes", id,
                 WIRE_MAX_ITEM);
        return -1;
    }
    sqlite3_bind_text(s, 1, feed, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, data, (int)len, SQLITE_STATIC);
    rc = handoff_done(h, s, "cannot queue an item");
    if (rc != 0)
        return -1;
    if (sqlite3_changes(h->db) == 0)
        return 0;
    if (h->shared) {
        /* nothing leaves before the caller's commit: a rolled-back row
         * must never have been sent (its tag would be used again) */
        h->tentative++;
        return 1;
    }
    h->pending++;
    h->stats.submitted++;
    if (h->ninflight < (size_t)h->opts.window && handoff_fill(h, handoff_ms()) != 0)
        return -1;
    return 1;
}

void handoff_committed(struct handoff *h)
{
    h->pending += h->tentative;
    h->stats.submitted += (uint64_t)h->tentative;
    h->tentative = 0;
}

void handoff_rolled_back(struct handoff *h)
{
    h->tentative = 0;
}

int64_t handoff_mark(const struct handoff *h)
{
    return h->tentative;
}

void handoff_rolled_back_to(struct handoff *h, int64_t mark)
{
    if (mark >= 0 && mark < h->tentative)
        h->tentative = mark;
}

int handoff_fd(const struct handoff *h)
{
    int fd = -1;
    size_t len = sizeof(fd);

    if (zmq_getsockopt(h->dealer, ZMQ_FD, &fd, &len) != 0)
        return -1;
    return fd;
}

int handoff_readable(const struct handoff *h)
{
    int ev = 0;
    size_t len = sizeof(ev);

    if (zmq_getsockopt(h->dealer, ZMQ_EVENTS, &ev, &len) != 0)
        return 0;
    return (ev & ZMQ_POLLIN) != 0;
}

/* Read monitor events; a new connection means what was in flight on the
 * old one may be lost. */
static void handoff_monitor(struct handoff *h)
{
    zmq_msg_t msg;
    int more;
    size_t more_size;

    for (;;) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, h->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_size(&msg) >= 2) {
            uint16_t ev;

            memcpy(&ev, zmq_msg_data(&msg), sizeof(ev));
            if (ev == ZMQ_EVENT_CONNECTED)
                h->resend_all = 1;
        }
        zmq_msg_close(&msg);
        do { /* the endpoint frame */
            more = 0;
            more_size = sizeof(more);
            zmq_getsockopt(h->monitor, ZMQ_RCVMORE, &more, &more_size);
            if (more) {
                zmq_msg_init(&msg);
                zmq_msg_recv(&msg, h->monitor, 0);
                zmq_msg_close(&msg);
            }
        } while (more);
    }
}

int handoff_poll(struct handoff *h, int timeout_ms)
{
    zmq_pollitem_t pi[2] = {{h->dealer, 0, ZMQ_POLLIN, 0}, {h->monitor, 0, ZMQ_POLLIN, 0}};
    int64_t *all = NULL, now;
    size_t nall = 0, capall = 0;
    int k, rc = 0;

    /* Wait for an ack, or for the connection that lets queued items go. */
    if (timeout_ms > 0 && (h->ninflight > 0 || h->pending > 0))
        zmq_poll(pi, 2, timeout_ms);
    handoff_monitor(h);
    /* every ack waiting now, applied in one transaction */
    for (k = 0; k < 1000; k++) {
        int64_t *tags = NULL;
        size_t n = 0;
        na_error err;

        na_error_clear(&err);
        rc = wire_recv_acks(h->dealer, ZMQ_DONTWAIT, &tags, &n, &err);
        if (rc == -2) {
            rc = 0;
            break;
        }
        if (rc == -1) {
            h->stats.bad_acks++;
            rc = 0;
            continue;
        }
        if (rc == WIRE_ENOMEM) {
            /* the ack is lost, not its items: they stay in flight, go again
             * after resend_ms and are acknowledged again (the matcher
             * recognises them) */
            rc = 0;
            continue;
        }
        if (nall + n > capall) {
            size_t cap = capall ? capall : 1024;
            int64_t *grown;

            while (cap < nall + n)
                cap *= 2;
            if ((grown = realloc(all, cap * sizeof(*all))) == NULL) {
                free(tags);
                snprintf(h->errmsg, sizeof(h->errmsg), "out of memory");
                rc = -1;
                break;
            }
            all = grown;
            capall = cap;
        }
        if (n > 0)
            memcpy(all + nall, tags, n * sizeof(*tags));
        nall += n;
        free(tags);
    }
    /* acks read before an allocation failure still count */
    if (handoff_acked(h, all, nall) != 0)
        rc = -1;
    free(all);
    if (rc != 0)
        return -1;
    now = handoff_ms();
    if (h->ninflight > 0 &&
        (h->resend_all || now - h->inflight[0].sent_ms >= h->opts.resend_ms)) {
        h->resend_all = 0;
        if (handoff_resend(h, now) != 0)
            return -1;
    }
    h->resend_all = 0;
    return handoff_fill(h, now);
}
